/* directory.c: groups and households — validation, lookup, CSV import and
 * export. See directory.h. */
#include "loaxa/directory.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <strings.h>

#include "loaxa/csv.h"
#include "loaxa/log.h"
#include "loaxa/phone.h"
#include "loaxa/text.h"

#define FOLD_MAX 256

struct directory {
	struct store *store;
};

int directory_new(struct store *s, struct directory **ret)
{
	struct directory *d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->store = s;
	*ret = d;
	return 0;
}

struct directory *directory_free(struct directory *d)
{
	free(d);
	return NULL;
}

/* ---- validation helpers ---- */

static bool has_control_chars(const char *s, size_t n, bool allow_newline)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0x7f || (c < 0x20 && !(allow_newline &&
						 (c == '\n' || c == '\t'))))
			return true;
	}
	return false;
}

/* Validate a free-text field; on success *ret is a trimmed copy, or NULL
 * for an empty value when !required. Returns 0, -EINVAL (ve filled) or
 * -ENOMEM. */
static int check_text(struct verrors *ve, const char *field, const char *v,
		      size_t max, bool required, bool multiline, char **ret)
{
	*ret = NULL;
	const char *start = v ? v : "";
	size_t n = text_trim(start, strlen(start), &start);
	if (n == 0) {
		if (required)
			return verrors_add(ve, field, "required",
					   "%s is required", field) ?: -EINVAL;
		return 0;
	}
	if (!text_utf8_valid(start, n))
		return verrors_add(ve, field, "invalid_utf8",
				   "%s is not valid UTF-8 text", field)
			       ?: -EINVAL;
	if (has_control_chars(start, n, multiline))
		return verrors_add(ve, field, "control_chars",
				   "%s contains control characters", field)
			       ?: -EINVAL;
	if (n > max)
		return verrors_add(ve, field, "too_long",
				   "%s is too long (%zu bytes, at most %zu)",
				   field, n, max) ?: -EINVAL;
	*ret = util_strndup(start, n);
	return *ret ? 0 : -ENOMEM;
}

static bool valid_group_code(const char *c)
{
	size_t n = c ? strlen(c) : 0;
	if (n == 0 || n > CONFIG_GROUP_CODE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = c[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

static bool valid_external_id(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return false;
	return true;
}

/* ---- groups ---- */

struct resolve_ctx {
	char key[FOLD_MAX];
	struct group_rec *found;
	size_t matches;
	int r;
};

static int resolve_cb(const struct group_rec *g, void *ud)
{
	struct resolve_ctx *c = ud;
	char kc[FOLD_MAX], kn[FOLD_MAX];
	text_fold_key(g->code, strlen(g->code), kc, sizeof kc);
	text_fold_key(g->name, strlen(g->name), kn, sizeof kn);
	bool exact = strcasecmp(g->code, c->key) == 0;
	if (!exact && !streq(kc, c->key) && !streq(kn, c->key))
		return 0;
	if (c->found->code && streq(c->found->code, g->code))
		return 0;
	c->matches++;
	group_rec_clear(c->found);
	c->found->id = g->id;
	c->found->code = strdup(g->code);
	c->found->name = strdup(g->name);
	c->found->from_config = g->from_config;
	c->found->households = g->households;
	if (!c->found->code || !c->found->name)
		return -ENOMEM;
	return 0;
}

int directory_group_resolve(struct directory *d, const char *ident,
			    struct group_rec *ret)
{
	if (!ident || !*ident)
		return -ENOENT;
	/* An exact code match wins over folded matches. */
	struct group_rec g = { 0 };
	int r = store_group_get_by_code(d->store, ident, &g);
	if (r == 0) {
		*ret = g;
		return 0;
	}
	if (r != -ENOENT)
		return r;
	struct resolve_ctx c = { .found = ret };
	*ret = (struct group_rec){ 0 };
	text_fold_key(ident, strlen(ident), c.key, sizeof c.key);
	if (!c.key[0])
		return -ENOENT;
	r = store_group_list(d->store, resolve_cb, &c);
	if (r < 0) {
		group_rec_clear(ret);
		return r;
	}
	if (c.matches == 0)
		return -ENOENT;
	if (c.matches > 1) {
		group_rec_clear(ret);
		return -ENOTUNIQ;
	}
	return 0;
}

static int check_group_name(struct verrors *ve, const char *name, char **ret)
{
	return check_text(ve, "name", name, CONFIG_GROUP_NAME_MAX, true, false,
			  ret);
}

int directory_group_add(struct directory *d, const char *code,
			const char *name, struct verrors *ve,
			struct group_rec *ret)
{
	_cleanup_free_ char *n = NULL;
	int r = 0;
	if (!valid_group_code(code))
		r = verrors_add(ve, "code", code && *code ? "invalid" : "required",
				"code must be 1-32 letters, digits, '-' or '_'")
			    ?: -EINVAL;
	int r2 = check_group_name(ve, name, &n);
	if (r < 0 || r2 < 0)
		return r < 0 ? r : r2;
	int64_t id;
	r = store_group_insert(d->store, code, n, false, &id);
	if (r == -EEXIST) {
		verrors_add(ve, "code", "exists", "group %s already exists",
			    code);
		return r;
	}
	if (r < 0)
		return r;
	log_info(LOG_DIR, "group %s added", code);
	return store_group_get(d->store, id, ret);
}

int directory_group_rename(struct directory *d, const char *ident,
			   const char *name, struct verrors *ve,
			   struct group_rec *ret)
{
	struct group_rec g = { 0 };
	_cleanup_free_ char *n = NULL;
	int r = directory_group_resolve(d, ident, &g);
	if (r < 0)
		return r;
	if (g.from_config) {
		group_rec_clear(&g);
		return -EPERM;
	}
	r = check_group_name(ve, name, &n);
	if (r == 0)
		r = store_group_update(d->store, g.id, n, false);
	if (r == 0)
		r = store_group_get(d->store, g.id, ret);
	if (r == 0)
		log_info(LOG_DIR, "group %s renamed", g.code);
	group_rec_clear(&g);
	return r;
}

int directory_group_remove(struct directory *d, const char *ident, bool force)
{
	struct group_rec g = { 0 };
	int r = directory_group_resolve(d, ident, &g);
	if (r < 0)
		return r;
	if (g.from_config)
		r = -EPERM;
	else
		r = store_group_delete(d->store, g.id, force);
	if (r == 0)
		log_info(LOG_DIR, "group %s removed%s", g.code,
			 force ? " with its households" : "");
	group_rec_clear(&g);
	return r;
}

struct group_vec {
	struct group_rec *v;
	size_t n;
};

static int collect_cb(const struct group_rec *g, void *ud)
{
	struct group_vec *gv = ud;
	struct group_rec *nv = realloc(gv->v, (gv->n + 1) * sizeof *nv);
	if (!nv)
		return -ENOMEM;
	gv->v = nv;
	nv[gv->n] = (struct group_rec){ .id = g->id, .code = strdup(g->code),
		.name = strdup(g->name), .from_config = g->from_config };
	gv->n++;
	return nv[gv->n - 1].code && nv[gv->n - 1].name ? 0 : -ENOMEM;
}

static void group_vec_clear(struct group_vec *gv)
{
	for (size_t i = 0; i < gv->n; i++)
		group_rec_clear(&gv->v[i]);
	free(gv->v);
	*gv = (struct group_vec){ 0 };
}

static bool config_has_group(const struct config_group *g, size_t n,
			     const char *code)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(g[i].code, code) == 0)
			return true;
	return false;
}

int directory_sync_groups(struct directory *d, const struct config_group *g,
			  size_t n)
{
	struct group_vec have = { 0 };
	int r = store_begin(d->store);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct group_rec cur = { 0 };
		r = store_group_get_by_code(d->store, g[i].code, &cur);
		if (r == -ENOENT) {
			int64_t id;
			r = store_group_insert(d->store, g[i].code, g[i].name,
					       true, &id);
			if (r == 0)
				log_info(LOG_DIR, "group %s created from the "
					 "config", g[i].code);
		} else if (r == 0 && (!cur.from_config ||
				      !streq(cur.name, g[i].name))) {
			r = store_group_update(d->store, cur.id, g[i].name,
					       true);
		}
		group_rec_clear(&cur);
	}
	/* Groups dropped from the config stay, with their households, and
	 * become API-managed. Collected first: no writes while listing. */
	if (r == 0)
		r = store_group_list(d->store, collect_cb, &have);
	for (size_t i = 0; i < have.n && r == 0; i++) {
		if (!have.v[i].from_config ||
		    config_has_group(g, n, have.v[i].code))
			continue;
		log_notice(LOG_DIR, "group %s is no longer in the config; it "
			   "is now managed through the API", have.v[i].code);
		r = store_group_update(d->store, have.v[i].id,
				       have.v[i].name, false);
	}
	group_vec_clear(&have);
	if (r < 0) {
		store_rollback(d->store);
		return r;
	}
	return store_commit(d->store);
}

/* ---- households ---- */

/* Normalise a list of raw phone strings into h->phones (deduplicated).
 * Every bad one is a field error "phones[i]" (or `field` when given). */
static int normalize_phones(struct verrors *ve, const char *const *raw,
			    size_t n, struct household *h)
{
	int r = 0;
	h->nphones = 0;
	if (n == 0)
		return verrors_add(ve, "phones", "required",
				   "at least one phone number is required")
			       ?: -EINVAL;
	if (n > HOUSEHOLD_MAX_PHONES)
		return verrors_add(ve, "phones", "too_many",
				   "at most %d phone numbers per household",
				   HOUSEHOLD_MAX_PHONES) ?: -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char e164[PHONE_E164_MAX], field[32];
		const char *p = raw[i] ? raw[i] : "";
		enum phone_error pe = phone_normalize(p, strlen(p), e164);
		snprintf(field, sizeof field, "phones[%zu]", i);
		if (pe != PHONE_OK) {
			r = verrors_add(ve, field, phone_error_code(pe), "%s",
					phone_error_message(pe)) ?: -EINVAL;
			continue;
		}
		bool dup = false;
		for (size_t j = 0; j < h->nphones; j++)
			dup |= streq(h->phones[j], e164);
		if (!dup)
			memcpy(h->phones[h->nphones++], e164, sizeof e164);
	}
	return r;
}

/* -EEXIST with a field error when a phone of h belongs to another
 * household. */
static int check_phone_owners(struct directory *d, struct verrors *ve,
			      const struct household *h)
{
	int r = 0;
	for (size_t i = 0; i < h->nphones; i++) {
		int64_t owner;
		int q = store_phone_owner(d->store, h->phones[i], &owner);
		if (q == -ENOENT || (q == 0 && owner == h->id))
			continue;
		if (q < 0)
			return q;
		char field[32];
		snprintf(field, sizeof field, "phones[%zu]", i);
		r = verrors_add(ve, field, "phone_taken",
				"%s already belongs to household %" PRId64,
				h->phones[i], owner) ?: -EEXIST;
	}
	return r;
}

static int set_opt(char **dst, struct verrors *ve, const char *field,
		   const char *v, size_t max, bool multiline)
{
	char *n = NULL;
	int r = check_text(ve, field, v, max, false, multiline, &n);
	if (r < 0)
		return r;
	free(*dst);
	*dst = n;
	return 0;
}

static int set_external_id(char **dst, struct verrors *ve, const char *field,
			   const char *v)
{
	int r = set_opt(dst, ve, field, v, HOUSEHOLD_ID_MAX, false);
	if (r == 0 && *dst && !valid_external_id(*dst)) {
		free(*dst);
		*dst = NULL;
		r = verrors_add(ve, field, "invalid",
				"%s may hold only letters, digits, '.', '-' "
				"and '_'", field) ?: -EINVAL;
	}
	return r;
}

/* Apply the patch to h, validating every set field. */
static int apply_patch(struct directory *d, struct household *h,
		       const struct household_patch *p, struct verrors *ve)
{
	int r = 0, q;
	if ((p->set & HP_GROUP) && (!p->group || !*p->group)) {
		r = verrors_add(ve, "group", "required", "group is required")
			    ?: -EINVAL;
	} else if (p->set & HP_GROUP) {
		struct group_rec g = { 0 };
		q = directory_group_resolve(d, p->group, &g);
		if (q == -ENOENT || q == -ENOTUNIQ)
			q = verrors_add(ve, "group", q == -ENOENT ?
					"unknown_group" : "ambiguous_group",
					q == -ENOENT ? "no group named '%s'" :
					"'%s' names more than one group",
					p->group ? p->group : "") ?: -EINVAL;
		else if (q == 0) {
			h->group_id = g.id;
			free(h->group_code);
			h->group_code = TAKE_PTR(g.code);
		}
		group_rec_clear(&g);
		if (q < 0 && q != -EINVAL)
			return q;
		r = r ?: q;
	}
	if (p->set & HP_NAME) {
		char *n = NULL;
		q = check_text(ve, "name", p->name, HOUSEHOLD_NAME_MAX, true,
			       false, &n);
		if (q == 0) {
			free(h->name);
			h->name = n;
		}
		r = r ?: q;
	}
	if (p->set & HP_PHONES)
		q = normalize_phones(ve, p->phones, p->nphones, h), r = r ?: q;
	if (p->set & HP_ADDRESS)
		q = set_opt(&h->address, ve, "address", p->address,
			    HOUSEHOLD_TEXT_MAX, false), r = r ?: q;
	if (p->set & HP_NOTE)
		q = set_opt(&h->note, ve, "note", p->note, HOUSEHOLD_TEXT_MAX,
			    true), r = r ?: q;
	if (p->set & HP_ZALO)
		q = set_external_id(&h->zalo_user_id, ve, "zalo_user_id",
				    p->zalo_user_id), r = r ?: q;
	if (p->set & HP_PSID)
		q = set_external_id(&h->messenger_psid, ve, "messenger_psid",
				    p->messenger_psid), r = r ?: q;
	if (p->set & HP_OPTED_OUT)
		h->opted_out = p->opted_out;
	/* Report every invalid field, not only the first. */
	return ve->n ? -EINVAL : r;
}

int directory_household_add(struct directory *d,
			    const struct household_patch *p,
			    struct verrors *ve, struct household *ret)
{
	struct household h = { 0 };
	struct household_patch full = *p;
	full.set |= HP_GROUP | HP_NAME | HP_PHONES;
	int r = apply_patch(d, &h, &full, ve);
	if (r == 0)
		r = check_phone_owners(d, ve, &h);
	if (r == 0) {
		h.created_ms = h.updated_ms = util_now_ms();
		r = store_household_insert(d->store, &h);
	}
	if (r == 0) {
		log_info(LOG_DIR, "household %" PRId64 " added to group %s",
			 h.id, h.group_code);
		r = store_household_get(d->store, h.id, ret);
	}
	household_clear(&h);
	return r;
}

int directory_household_update(struct directory *d, int64_t id,
			       const struct household_patch *p,
			       struct verrors *ve, struct household *ret)
{
	struct household h = { 0 };
	int r = store_household_get(d->store, id, &h);
	if (r == 0)
		r = apply_patch(d, &h, p, ve);
	if (r == 0)
		r = check_phone_owners(d, ve, &h);
	if (r == 0) {
		h.updated_ms = util_now_ms();
		r = store_household_update(d->store, &h);
	}
	if (r == 0)
		r = store_household_get(d->store, id, ret);
	household_clear(&h);
	return r;
}

/* ---- CSV import ---- */

enum col {
	COL_IGNORE, COL_PHONE, COL_NAME, COL_GROUP, COL_ADDRESS, COL_NOTE,
	COL_ZALO, COL_PSID, COL_OPTED_OUT,
};

static const char *const col_names[] = {
	[COL_IGNORE] = "", [COL_PHONE] = "phone", [COL_NAME] = "name",
	[COL_GROUP] = "group", [COL_ADDRESS] = "address", [COL_NOTE] = "note",
	[COL_ZALO] = "zalo_user_id", [COL_PSID] = "messenger_psid",
	[COL_OPTED_OUT] = "opted_out",
};

/* Header aliases, compared after text_fold_key (so "Số điện thoại",
 * "so_dien_thoai" and "SO DIEN THOAI" are one). */
static const struct {
	const char *alias;
	enum col col;
} col_aliases[] = {
	{ "phone", COL_PHONE },        { "phones", COL_PHONE },
	{ "sodienthoai", COL_PHONE },  { "sdt", COL_PHONE },
	{ "dienthoai", COL_PHONE },    { "sodt", COL_PHONE },
	{ "mobile", COL_PHONE },       { "tel", COL_PHONE },
	{ "phonenumber", COL_PHONE },  { "didong", COL_PHONE },
	{ "name", COL_NAME },          { "hoten", COL_NAME },
	{ "hovaten", COL_NAME },       { "chuho", COL_NAME },
	{ "ten", COL_NAME },           { "tenchuho", COL_NAME },
	{ "head", COL_NAME },          { "hotenchuho", COL_NAME },
	{ "group", COL_GROUP },        { "nhom", COL_GROUP },
	{ "nhomdancu", COL_GROUP },    { "to", COL_GROUP },
	{ "thon", COL_GROUP },         { "todanpho", COL_GROUP },
	{ "address", COL_ADDRESS },    { "diachi", COL_ADDRESS },
	{ "note", COL_NOTE },          { "ghichu", COL_NOTE },
	{ "notes", COL_NOTE },
	{ "zalouserid", COL_ZALO },    { "zaloid", COL_ZALO },
	{ "zalo", COL_ZALO },
	{ "messengerpsid", COL_PSID }, { "psid", COL_PSID },
	{ "messenger", COL_PSID },
	{ "optedout", COL_OPTED_OUT }, { "tuchoi", COL_OPTED_OUT },
	{ "stt", COL_IGNORE },         { "id", COL_IGNORE },
};

static enum col header_column(const char *cell, size_t len, bool *known)
{
	char key[FOLD_MAX];
	size_t n = text_fold_key(cell, len, key, sizeof key);
	*known = true;
	for (size_t i = 0; i < ARRAY_SIZE(col_aliases); i++)
		if (streq(key, col_aliases[i].alias))
			return col_aliases[i].col;
	/* "phone2", "sdt 2", "so dien thoai 1": extra phone columns. */
	while (n > 0 && key[n - 1] >= '0' && key[n - 1] <= '9')
		key[--n] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(col_aliases); i++)
		if (col_aliases[i].col == COL_PHONE &&
		    streq(key, col_aliases[i].alias))
			return COL_PHONE;
	*known = false;
	return COL_IGNORE;
}

/* Phone number -> line it was first seen on, for duplicates within one
 * file. Open addressing; keys are E.164 strings. */
struct phone_set {
	struct phone_slot {
		char key[PHONE_E164_MAX];
		size_t line;
	} *slots;
	size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int phone_set_grow(struct phone_set *ps)
{
	size_t ncap = ps->cap ? ps->cap * 2 : 1024;
	struct phone_slot *ns = calloc(ncap, sizeof *ns);
	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < ps->cap; i++) {
		if (!ps->slots[i].key[0])
			continue;
		size_t j = hash_str(ps->slots[i].key) & (ncap - 1);
		while (ns[j].key[0])
			j = (j + 1) & (ncap - 1);
		ns[j] = ps->slots[i];
	}
	free(ps->slots);
	ps->slots = ns;
	ps->cap = ncap;
	return 0;
}

/* Returns the line a phone was first seen on, or 0 after recording it. */
static int phone_set_add(struct phone_set *ps, const char *key, size_t line,
			 size_t *ret_prev)
{
	if ((ps->n + 1) * 2 > ps->cap) {
		int r = phone_set_grow(ps);
		if (r < 0)
			return r;
	}
	size_t j = hash_str(key) & (ps->cap - 1);
	while (ps->slots[j].key[0]) {
		if (streq(ps->slots[j].key, key)) {
			*ret_prev = ps->slots[j].line;
			return 0;
		}
		j = (j + 1) & (ps->cap - 1);
	}
	memcpy(ps->slots[j].key, key, PHONE_E164_MAX);
	ps->slots[j].line = line;
	ps->n++;
	*ret_prev = 0;
	return 0;
}

/* Group lookups during one import: resolved once per distinct cell. */
struct group_cache {
	struct group_cache_entry {
		char *cell;
		int64_t id;  /* 0 = unknown, -1 = ambiguous */
		char *code;
	} *v;
	size_t n;
};

static void group_cache_clear(struct group_cache *gc)
{
	for (size_t i = 0; i < gc->n; i++) {
		free(gc->v[i].cell);
		free(gc->v[i].code);
	}
	free(gc->v);
	*gc = (struct group_cache){ 0 };
}

static int group_cache_get(struct directory *d, struct group_cache *gc,
			   const char *cell, struct group_cache_entry **ret)
{
	for (size_t i = 0; i < gc->n; i++)
		if (streq(gc->v[i].cell, cell)) {
			*ret = &gc->v[i];
			return 0;
		}
	struct group_cache_entry *nv = realloc(gc->v, (gc->n + 1) * sizeof *nv);
	if (!nv)
		return -ENOMEM;
	gc->v = nv;
	struct group_cache_entry *e = &gc->v[gc->n];
	*e = (struct group_cache_entry){ .cell = strdup(cell) };
	if (!e->cell)
		return -ENOMEM;
	struct group_rec g = { 0 };
	int r = directory_group_resolve(d, cell, &g);
	if (r == 0) {
		e->id = g.id;
		e->code = TAKE_PTR(g.code);
	} else if (r == -ENOTUNIQ) {
		e->id = -1;
	} else if (r != -ENOENT) {
		free(e->cell);
		return r;
	}
	group_rec_clear(&g);
	gc->n++;
	*ret = e;
	return 0;
}

struct import {
	struct directory *d;
	struct import_report *rep;
	enum col cols[CSV_MAX_FIELDS];
	size_t ncols;
	struct phone_set seen;
	struct group_cache groups;
	const char *default_group;
	const struct import_filter *filter;   /* NULL: every group */
	int64_t now;
};

static int issue_add(struct import_issue **v, size_t *n, size_t line,
		     const char *column, const char *value, size_t vlen,
		     const char *code, const char *fmt, ...)
	_printf_(8, 9);

static int issue_add(struct import_issue **v, size_t *n, size_t line,
		     const char *column, const char *value, size_t vlen,
		     const char *code, const char *fmt, ...)
{
	struct import_issue *nv = realloc(*v, (*n + 1) * sizeof *nv);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	struct import_issue *is = &nv[*n];
	*is = (struct import_issue){ .line = line };
	va_list ap;
	va_start(ap, fmt);
	int k = vasprintf(&is->message, fmt, ap);
	va_end(ap);
	if (k < 0)
		is->message = NULL;
	/* Show at most 200 bytes of the offending value, and only if it is
	 * text: the report is JSON. */
	if (vlen > 200)
		vlen = 200;
	if (value && !text_utf8_valid(value, vlen))
		vlen = 0;
	is->column = strdup(column ? column : "");
	is->value = util_strndup(value ? value : "", value ? vlen : 0);
	is->code = strdup(code);
	if (!is->message || !is->column || !is->value || !is->code) {
		free(is->message);
		free(is->column);
		free(is->value);
		free(is->code);
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

#define REJECT(im, line, col, val, vlen, code, ...) \
	issue_add(&(im)->rep->rejected, &(im)->rep->nrejected, line, col, val, \
		  vlen, code, __VA_ARGS__)
#define WARN(im, line, col, val, vlen, code, ...) \
	issue_add(&(im)->rep->warnings, &(im)->rep->nwarnings, line, col, val, \
		  vlen, code, __VA_ARGS__)

struct split_ctx {
	const char *pieces[HOUSEHOLD_MAX_PHONES * 2];
	size_t lens[HOUSEHOLD_MAX_PHONES * 2];
	size_t n, dropped;
};

static void split_cb(const char *p, size_t n, void *ud)
{
	struct split_ctx *c = ud;
	if (c->n < ARRAY_SIZE(c->pieces)) {
		c->pieces[c->n] = p;
		c->lens[c->n++] = n;
	} else {
		c->dropped++;
	}
}

static bool parse_bool_cell(const char *s, size_t n, bool *ret)
{
	static const char *const yes[] = { "1", "yes", "y", "x", "co", "true" };
	static const char *const no[] = { "0", "no", "n", "khong", "false" };
	char key[32];
	text_fold_key(s, n, key, sizeof key);
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		if (streq(key, yes[i]))
			return *ret = true, true;
	for (size_t i = 0; i < ARRAY_SIZE(no); i++)
		if (streq(key, no[i]))
			return *ret = false, true;
	return false;
}

static bool same_opt(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Merge a row into the household that owns its numbers (or a new one). */
static int import_apply(struct import *im, size_t line, struct household *row,
			unsigned set)
{
	struct directory *d = im->d;
	int64_t owner = 0;
	for (size_t i = 0; i < row->nphones; i++) {
		int64_t o;
		int r = store_phone_owner(d->store, row->phones[i], &o);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		if (owner && o != owner)
			return REJECT(im, line, "phone", row->phones[i],
				      strlen(row->phones[i]), "phone_conflict",
				      "the numbers on this row belong to two "
				      "different households (%" PRId64 " and %"
				      PRId64 "); fix one of them first",
				      owner, o);
		owner = o;
	}
	if (owner && im->filter) {
		/* A number of another group's household: not this
		 * importer's to move or change. */
		struct household h = { 0 };
		int r = store_household_get(d->store, owner, &h);
		if (r < 0)
			return r;
		bool ok = im->filter->group_ok(h.group_id, im->filter->ud);
		int q = ok ? 0 : REJECT(im, line, "phone", NULL, 0, "not_yours",
					"the numbers on this row belong to a "
					"household of group %s, which is not "
					"yours", h.group_code ? h.group_code
					: "?");
		household_clear(&h);
		if (!ok)
			return q;
	}
	if (!owner) {
		row->created_ms = row->updated_ms = im->now;
		int r = store_household_insert(d->store, row);
		if (r == 0)
			im->rep->created++;
		return r;
	}
	struct household cur = { 0 };
	int r = store_household_get(d->store, owner, &cur);
	if (r < 0)
		return r;
	bool changed = false;
	if (cur.group_id != row->group_id)
		cur.group_id = row->group_id, changed = true;
	if (!streq(cur.name, row->name)) {
		free(cur.name);
		cur.name = TAKE_PTR(row->name);
		changed = true;
	}
	/* Optional fields: an empty cell or a missing column keeps the value
	 * on record; an import never erases what a manager typed before. */
	char **fields[][2] = {
		{ &cur.address, &row->address }, { &cur.note, &row->note },
		{ &cur.zalo_user_id, &row->zalo_user_id },
		{ &cur.messenger_psid, &row->messenger_psid },
	};
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		if (*fields[i][1] && !same_opt(*fields[i][0], *fields[i][1])) {
			free(*fields[i][0]);
			*fields[i][0] = TAKE_PTR(*fields[i][1]);
			changed = true;
		}
	}
	if ((set & HP_OPTED_OUT) && cur.opted_out != row->opted_out)
		cur.opted_out = row->opted_out, changed = true;
	/* Phones: the union, numbers on record first (an import adds numbers,
	 * it never drops one). */
	for (size_t i = 0; i < row->nphones; i++) {
		bool have = false;
		for (size_t j = 0; j < cur.nphones; j++)
			have |= streq(cur.phones[j], row->phones[i]);
		if (have)
			continue;
		if (cur.nphones == HOUSEHOLD_MAX_PHONES) {
			r = WARN(im, line, "phone", row->phones[i],
				 strlen(row->phones[i]), "too_many",
				 "household %" PRId64 " already has %d numbers;"
				 " this one was not added", owner,
				 HOUSEHOLD_MAX_PHONES);
			if (r < 0)
				break;
			continue;
		}
		memcpy(cur.phones[cur.nphones++], row->phones[i],
		       PHONE_E164_MAX);
		changed = true;
	}
	if (r == 0 && changed) {
		cur.updated_ms = im->now;
		r = store_household_update(d->store, &cur);
		if (r == 0)
			im->rep->updated++;
	} else if (r == 0) {
		im->rep->unchanged++;
	}
	household_clear(&cur);
	return r;
}

static int import_row(struct import *im, const struct csv_record *rec)
{
	struct import_report *rep = im->rep;
	size_t line = rec->line;
	bool any = false;
	for (size_t i = 0; i < rec->nfields; i++) {
		const char *s;
		if (text_trim(rec->f[i].s, rec->f[i].len, &s))
			any = true;
	}
	if (!any)
		return 0;  /* a row of empty cells: spreadsheets leave these */
	rep->rows++;

	struct household row = { 0 };
	struct verrors ve = { 0 };
	unsigned set = 0;
	const char *group_cell = NULL;
	struct split_ctx sp = { 0 };
	char *gtrim = NULL;
	int r = 0;
	bool reject = false;

	for (size_t i = 0; i < rec->nfields && i < im->ncols && r == 0; i++) {
		const char *v = rec->f[i].s;
		size_t n = text_trim(v, rec->f[i].len, &v);
		if (n == 0)
			continue;
		if (!text_utf8_valid(v, n) || memchr(v, '\0', n)) {
			bool nul = text_utf8_valid(v, n);
			r = REJECT(im, line, col_names[im->cols[i]], NULL, 0,
				   nul ? "control_chars" : "invalid_utf8",
				   nul ? "this cell contains a NUL byte" :
				   "this cell is not valid UTF-8 text");
			reject = true;
			break;
		}
		switch (im->cols[i]) {
		case COL_PHONE:
			phone_split_cell(v, n, split_cb, &sp);
			break;
		case COL_NAME:
			r = check_text(&ve, "name", rec->f[i].s,
				       HOUSEHOLD_NAME_MAX, true, false,
				       &row.name);
			break;
		case COL_GROUP:
			group_cell = rec->f[i].s;
			break;
		case COL_ADDRESS:
			r = set_opt(&row.address, &ve, "address", rec->f[i].s,
				    HOUSEHOLD_TEXT_MAX, false);
			break;
		case COL_NOTE:
			r = set_opt(&row.note, &ve, "note", rec->f[i].s,
				    HOUSEHOLD_TEXT_MAX, true);
			break;
		case COL_ZALO:
			r = set_external_id(&row.zalo_user_id, &ve,
					    "zalo_user_id", rec->f[i].s);
			break;
		case COL_PSID:
			r = set_external_id(&row.messenger_psid, &ve,
					    "messenger_psid", rec->f[i].s);
			break;
		case COL_OPTED_OUT:
			if (parse_bool_cell(v, n, &row.opted_out))
				set |= HP_OPTED_OUT;
			else
				r = WARN(im, line, "opted_out", v, n,
					 "invalid", "not a yes/no value; "
					 "ignored");
			break;
		case COL_IGNORE:
			break;
		}
		if (r == -EINVAL)
			r = 0;  /* collected in ve */
	}
	if (r < 0)
		goto out;
	for (size_t i = 0; i < ve.n && r == 0; i++) {
		r = REJECT(im, line, ve.v[i].field, NULL, 0, ve.v[i].code, "%s",
			   ve.v[i].message);
		reject = true;
	}
	if (r < 0 || reject)
		goto out;
	if (!row.name) {
		r = REJECT(im, line, "name", NULL, 0, "required",
			   "the head of household's name is empty");
		goto out;
	}

	/* Group: the row's cell, else the import's default. */
	const char *gname = group_cell ? group_cell : im->default_group;
	const char *gs = gname ? gname : "";
	size_t gl = text_trim(gs, strlen(gs), &gs);
	if (gl == 0) {
		r = REJECT(im, line, "group", NULL, 0, "required",
			   "no group on this row, and none chosen for the "
			   "import");
		goto out;
	}
	struct group_cache_entry *ge = NULL;
	gtrim = util_strndup(gs, gl);
	if (!gtrim) {
		r = -ENOMEM;
		goto out;
	}
	r = group_cache_get(im->d, &im->groups, gtrim, &ge);
	if (r < 0)
		goto out;
	if (ge->id <= 0) {
		r = REJECT(im, line, "group", gs, gl, ge->id ? "ambiguous_group"
			   : "unknown_group", ge->id ? "'%s' names more than "
			   "one group" : "no group named '%s' (see loaxa "
			   "groups)", gtrim);
		goto out;
	}
	if (im->filter && !im->filter->group_ok(ge->id, im->filter->ud)) {
		r = REJECT(im, line, "group", gs, gl, "not_yours",
			   "group %s is not yours",
			   ge->code ? ge->code : gtrim);
		goto out;
	}
	row.group_id = ge->id;

	/* Phones: every piece normalised; bad ones rejected, or, when the row
	 * has a good number too, dropped with a warning. */
	size_t bad = 0;
	if (sp.dropped)
		r = WARN(im, line, "phone", NULL, 0, "too_many",
			 "more than %zu numbers in the cell; the rest were "
			 "ignored", ARRAY_SIZE(sp.pieces));
	enum phone_error errs[ARRAY_SIZE(sp.pieces)];
	size_t src[HOUSEHOLD_MAX_PHONES];  /* piece each number came from */
	for (size_t i = 0; i < sp.n && r == 0; i++) {
		char e164[PHONE_E164_MAX];
		errs[i] = phone_normalize(sp.pieces[i], sp.lens[i], e164);
		if (errs[i] != PHONE_OK) {
			bad++;
			continue;
		}
		bool dup = false;
		for (size_t j = 0; j < row.nphones; j++)
			dup |= streq(row.phones[j], e164);
		if (dup)
			continue;
		if (row.nphones == HOUSEHOLD_MAX_PHONES) {
			r = WARN(im, line, "phone", sp.pieces[i], sp.lens[i],
				 "too_many", "at most %d numbers per "
				 "household; this one was not added",
				 HOUSEHOLD_MAX_PHONES);
			continue;
		}
		src[row.nphones] = i;
		memcpy(row.phones[row.nphones++], e164, PHONE_E164_MAX);
	}
	if (r < 0)
		goto out;
	if (sp.n == 0) {
		r = REJECT(im, line, "phone", NULL, 0, "required",
			   "no phone number on this row");
		goto out;
	}
	for (size_t i = 0; i < sp.n && r == 0; i++) {
		if (errs[i] == PHONE_OK)
			continue;
		if (row.nphones == 0)
			r = REJECT(im, line, "phone", sp.pieces[i], sp.lens[i],
				   phone_error_code(errs[i]), "%s",
				   phone_error_message(errs[i]));
		else
			r = WARN(im, line, "phone", sp.pieces[i], sp.lens[i],
				 phone_error_code(errs[i]),
				 "%s (the other numbers on the row were kept)",
				 phone_error_message(errs[i]));
	}
	if (r < 0 || row.nphones == 0)
		goto out;

	/* One number, one household: a number seen earlier in this file. */
	for (size_t i = 0; i < row.nphones; i++) {
		size_t prev;
		r = phone_set_add(&im->seen, row.phones[i], line, &prev);
		if (r < 0)
			goto out;
		if (prev) {
			r = REJECT(im, line, "phone", sp.pieces[src[i]],
				   sp.lens[src[i]], "duplicate",
				   "this number is already on line %zu of "
				   "the file", prev);
			goto out;
		}
	}
	r = import_apply(im, line, &row, set);
out:
	free(gtrim);
	household_clear(&row);
	verrors_clear(&ve);
	return r;
}

void import_report_clear(struct import_report *r)
{
	struct import_issue *lists[] = { r->rejected, r->warnings };
	size_t ns[] = { r->nrejected, r->nwarnings };
	for (size_t l = 0; l < 2; l++) {
		for (size_t i = 0; i < ns[l]; i++) {
			free(lists[l][i].column);
			free(lists[l][i].value);
			free(lists[l][i].code);
			free(lists[l][i].message);
		}
		free(lists[l]);
	}
	*r = (struct import_report){ 0 };
}

/* UTF-16 (what some spreadsheets call "Unicode text"): a byte-order mark,
 * or NUL bytes between the characters of the header. */
static bool looks_utf16(const char *data, size_t len)
{
	if (len >= 2 && (((unsigned char)data[0] == 0xFF &&
			  (unsigned char)data[1] == 0xFE) ||
			 ((unsigned char)data[0] == 0xFE &&
			  (unsigned char)data[1] == 0xFF)))
		return true;
	size_t n = len < 256 ? len : 256, nul = 0;
	for (size_t i = 0; i < n; i++)
		nul += data[i] == '\0';
	return n >= 8 && nul * 4 >= n;
}

/* Find the first invalid UTF-8 byte and its line. */
static size_t utf8_bad_line(const char *data, size_t len)
{
	size_t line = 1, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || data[i] == '\n') {
			if (!text_utf8_valid(data + start, i - start))
				return line;
			line++;
			start = i + 1;
		}
	}
	return 0;
}

static int import_header(struct import *im, const struct csv_record *rec,
			 struct verrors *ve)
{
	bool have_phone = false, have_name = false, have_group = false;
	im->ncols = rec->nfields;
	for (size_t i = 0; i < rec->nfields; i++) {
		bool known;
		im->cols[i] = header_column(rec->f[i].s, rec->f[i].len, &known);
		have_phone |= im->cols[i] == COL_PHONE;
		have_name |= im->cols[i] == COL_NAME;
		have_group |= im->cols[i] == COL_GROUP;
		if (!known && rec->f[i].len) {
			int r = WARN(im, rec->line, rec->f[i].s, NULL, 0,
				     "unknown_column", "column '%s' is not "
				     "known and was ignored", rec->f[i].s);
			if (r < 0)
				return r;
		}
		for (size_t j = 0; j < i; j++)
			if (im->cols[j] == im->cols[i] &&
			    im->cols[i] != COL_IGNORE &&
			    im->cols[i] != COL_PHONE)
				verrors_add(ve, "header", "duplicate_column",
					    "line %zu: two columns mean '%s' "
					    "('%s' and '%s')", rec->line,
					    col_names[im->cols[i]],
					    rec->f[j].s, rec->f[i].s);
	}
	if (!have_phone)
		verrors_add(ve, "header", "no_phone_column",
			    "line %zu: no phone column (name it phone, sdt or "
			    "so_dien_thoai)", rec->line);
	if (!have_name)
		verrors_add(ve, "header", "no_name_column",
			    "line %zu: no name column (name it name, ho_ten or "
			    "chu_ho)", rec->line);
	if (!have_group && !im->default_group)
		verrors_add(ve, "group", "required",
			    "the file has no group column: choose the group "
			    "for the import");
	return ve->n ? -EINVAL : 0;
}

int directory_import(struct directory *d, const char *data, size_t len,
		     const char *default_group, bool dry_run,
		     struct import_report *rep, struct verrors *ve)
{
	return directory_import_filtered(d, data, len, default_group, dry_run,
					 NULL, rep, ve);
}

int directory_import_filtered(struct directory *d, const char *data,
			      size_t len, const char *default_group,
			      bool dry_run, const struct import_filter *f,
			      struct import_report *rep, struct verrors *ve)
{
	struct import im = { .d = d, .rep = rep, .filter = f,
			     .now = util_now_ms() };
	*rep = (struct import_report){ .dry_run = dry_run };
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
		data += 3;
		len -= 3;
	}
	if (looks_utf16(data, len)) {
		verrors_add(ve, "body", "invalid_utf8", "the file is UTF-16 "
			    "(\"Unicode text\"): save it as \"CSV UTF-8\"");
		return -EINVAL;
	}
	if (!text_utf8_valid(data, len)) {
		verrors_add(ve, "body", "invalid_utf8",
			    "line %zu is not valid UTF-8: save the file as "
			    "\"CSV UTF-8\"", utf8_bad_line(data, len));
		return -EINVAL;
	}
	struct group_rec dg = { 0 };
	if (default_group && *default_group) {
		int q = directory_group_resolve(d, default_group, &dg);
		if (q == -ENOENT || q == -ENOTUNIQ) {
			verrors_add(ve, "group", q == -ENOENT ? "unknown_group"
				    : "ambiguous_group", "no single group "
				    "named '%s'", default_group);
			return -EINVAL;
		}
		if (q < 0)
			return q;
		im.default_group = dg.code;
	}
	struct csv *c = csv_new(data, len, 0);
	if (!c) {
		group_rec_clear(&dg);
		return -ENOMEM;
	}
	struct csv_record *rec = malloc(sizeof *rec);
	int r = rec ? 0 : -ENOMEM;
	bool header = false, began = false;
	while (r == 0) {
		enum csv_status st = csv_next(c, rec);
		if (st == CSV_END)
			break;
		if (st == CSV_ERROR) {
			size_t line;
			const char *msg = csv_error(c, &line);
			if (!header) {
				verrors_add(ve, "body", "bad_csv",
					    "line %zu: %s", line, msg);
				r = -EINVAL;
				break;
			}
			rep->rows++;
			r = REJECT(&im, line, "", NULL, 0, "bad_csv", "%s", msg);
			continue;
		}
		if (!header) {
			header = true;
			r = import_header(&im, rec, ve);
			if (r == 0) {
				r = store_begin(d->store);
				began = r == 0;
			}
			continue;
		}
		r = import_row(&im, rec);
	}
	if (r == 0 && !header) {
		verrors_add(ve, "body", "empty", "the file is empty");
		r = -EINVAL;
	} else if (r == 0 && rep->rows == 0) {
		verrors_add(ve, "body", "no_rows",
			    "the file has a header but no households");
		r = -EINVAL;
	}
	if (began) {
		if (r == 0 && !dry_run)
			r = store_commit(d->store);
		else
			store_rollback(d->store);
	}
	if (r == 0)
		log_info(LOG_DIR, "import%s: %zu rows, %zu created, %zu updated,"
			 " %zu unchanged, %zu rejected",
			 dry_run ? " (dry run)" : "", rep->rows, rep->created,
			 rep->updated, rep->unchanged, rep->nrejected);
	free(rec);
	csv_free(c);
	free(im.seen.slots);
	group_cache_clear(&im.groups);
	group_rec_clear(&dg);
	return r;
}

/* ---- export ---- */

struct export_ctx {
	struct buf *out;
	char sep;
};

static int export_cb(const struct household *h, void *ud)
{
	struct export_ctx *c = ud;
	char phones[HOUSEHOLD_MAX_PHONES * PHONE_E164_MAX + 8] = "";
	for (size_t i = 0; i < h->nphones; i++) {
		if (i)
			strcat(phones, " ");
		strcat(phones, h->phones[i]);
	}
	const char *cells[] = {
		h->group_code, h->name, phones, h->address, h->zalo_user_id,
		h->messenger_psid, h->note, h->opted_out ? "1" : "0",
	};
	int r = 0;
	for (size_t i = 0; i < ARRAY_SIZE(cells) && r == 0; i++) {
		const char *s = cells[i] ? cells[i] : "";
		if (i)
			r = buf_append(c->out, ",", 1);
		if (r == 0)
			r = csv_write_field(c->out, s, strlen(s), c->sep);
	}
	return r ?: buf_append(c->out, "\n", 1);
}

int directory_export(struct directory *d, const char *ident, struct buf *out)
{
	struct household_filter f = { .opted_out = -1 };
	if (ident) {
		struct group_rec g = { 0 };
		int r = directory_group_resolve(d, ident, &g);
		if (r < 0)
			return r;
		f.group_id = g.id;
		group_rec_clear(&g);
	}
	static const char header[] = "group,name,phones,address,zalo_user_id,"
				     "messenger_psid,note,opted_out\n";
	int r = buf_append(out, header, sizeof header - 1);
	struct export_ctx c = { .out = out, .sep = ',' };
	return r ?: store_household_list(d->store, &f, export_cb, &c);
}
