/* api-body.c: the control API's JSON bodies into structs (api-body.h).
 * Nothing here knows the connection or the store: the handlers in api.c
 * and api-auth.c call these, then decide. */
#include "loaxa/api-body.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "loaxa/auth.h"
#include "loaxa/text.h"
#include "loaxa/util.h"

int api_body_load(const char *data, size_t n, json_t **ret, char *msg,
		  size_t msgsz)
{
	*ret = NULL;
	if (n == 0) {
		snprintf(msg, msgsz, "a JSON object body is required");
		return -ENODATA;
	}
	if (!text_utf8_valid(data, n)) {
		snprintf(msg, msgsz, "the body is not valid UTF-8");
		return -EILSEQ;
	}
	json_error_t err;
	/* NULs are let through so that the field checks can name the
	 * field that holds one. */
	json_t *j = json_loadb(data, n, JSON_REJECT_DUPLICATES |
			       JSON_ALLOW_NUL, &err);
	if (!j) {
		/* jansson quotes the text "near" the error: that may be a
		 * piece of a password. Say where, not what. */
		char *near = strstr(err.text, " near ");
		if (near)
			*near = '\0';
		snprintf(msg, msgsz, "invalid JSON at line %d, column %d: %s",
			 err.line, err.column, err.text);
		return -EINVAL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(msg, msgsz, "the body must be a JSON object");
		return -EINVAL;
	}
	*ret = j;
	return 0;
}

int api_body_str(json_t *o, const char *key, const char **ret,
		 struct verrors *ve)
{
	json_t *v = json_object_get(o, key);
	*ret = NULL;
	if (!v)
		return 0;
	if (json_is_null(v))
		return 1;
	if (!json_is_string(v)) {
		verrors_add(ve, key, "wrong_type", "%s must be a string", key);
		return 0;
	}
	*ret = json_string_value(v);
	if (strlen(*ret) != json_string_length(v)) {
		verrors_add(ve, key, "invalid", "%s contains a NUL byte", key);
		*ret = NULL;
		return 0;
	}
	return 1;
}

/* How many bytes of s to show in at most max: never a UTF-8 sequence cut
 * in two (the message would not be JSON text, and the 422 not built). */
static int utf8_prefix(const char *s, size_t max)
{
	size_t k = strnlen(s, max);
	if (s[k]) {
		size_t j = k;
		while (j > 0 && ((unsigned char)s[j - 1] & 0xC0) == 0x80)
			j--;
		if (j > 0 && ((unsigned char)s[j - 1] & 0xC0) == 0xC0) {
			unsigned char lead = (unsigned char)s[j - 1];
			size_t len = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
			if (k - (j - 1) < len)
				k = j - 1;
		}
	}
	return (int)k;
}

const char *api_body_clip(const char *in, char *out, size_t n,
			  size_t mask_from)
{
	size_t digits = 0, k = 0;
	if (n == 0)
		return out;
	in = in ? in : "";
	for (const char *s = in; *s; s++)
		digits += *s >= '0' && *s <= '9';
	bool mask = mask_from > 0 && digits >= mask_from;
	for (const char *s = in; *s && k + 1 < n; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			c = ' ';
		else if (mask && c >= '0' && c <= '9')
			c = '#';
		out[k++] = (char)c;
	}
	out[utf8_prefix(in, k)] = '\0';   /* no sequence cut in two */
	return out;
}

/* A value from a request quoted in an error message: short and whole. */
static const char *quote(const char *in, char *out, size_t n)
{
	return api_body_clip(in, out, n, 0);
}

static bool key_known(const char *key, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (streq(key, keys[i]))
			return true;
	return false;
}

void api_body_check_keys(json_t *o, const char *const *keys, size_t n,
			 struct verrors *ve)
{
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v) {
		if (key_known(key, keys, n))
			continue;
		char list[256], q[72];
		size_t k = 0;
		list[0] = '\0';
		for (size_t i = 0; i < n && k < sizeof list; i++)
			k += (size_t)snprintf(list + k, sizeof list - k,
					      "%s%s", i ? ", " : "", keys[i]);
		quote(key, q, sizeof q);
		verrors_add(ve, q, "unknown_field", "unknown field '%s' (the "
			    "fields are %s)", q, list);
	}
}

/* The households' and broadcasts' check: a shorter message. */
static void known_keys(json_t *o, const char *const *keys, size_t n,
		       struct verrors *ve)
{
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v)
		if (!key_known(key, keys, n))
			verrors_add(ve, key, "unknown_field",
				    "unknown field '%.*s'",
				    utf8_prefix(key, 64), key);
}

/* ---- groups, households ---- */

void api_body_group(json_t *o, bool with_code, const char **ret_code,
		    const char **ret_name, struct verrors *ve)
{
	if (ret_code)
		*ret_code = NULL;
	if (with_code)
		api_body_str(o, "code", ret_code, ve);
	api_body_str(o, "name", ret_name, ve);
}

static const char *const household_keys[] = {
	"group", "name", "phones", "address", "zalo_user_id",
	"messenger_psid", "note", "opted_out",
	/* read-only, ignored so that a fetched object can be sent back */
	"id", "created_ms", "updated_ms",
};

/* phones[i] as text: "" (and a field error) when not a string. */
static const char *phone_at(json_t *e, size_t i, struct verrors *ve)
{
	char f[32];
	snprintf(f, sizeof f, "phones[%zu]", i);
	if (!json_is_string(e)) {
		verrors_add(ve, f, "wrong_type", "%s must be a string", f);
		return "";
	}
	if (strlen(json_string_value(e)) != json_string_length(e)) {
		verrors_add(ve, f, "invalid", "%s contains a NUL byte", f);
		return "";
	}
	return json_string_value(e);
}

void api_body_household(json_t *o, struct household_patch *p,
			const char *storage[HOUSEHOLD_MAX_PHONES],
			struct verrors *ve)
{
	known_keys(o, household_keys, ARRAY_SIZE(household_keys), ve);
	static const struct {
		const char *key;
		unsigned bit;
		size_t off;
	} strs[] = {
		{ "group", HP_GROUP, offsetof(struct household_patch, group) },
		{ "name", HP_NAME, offsetof(struct household_patch, name) },
		{ "address", HP_ADDRESS,
		  offsetof(struct household_patch, address) },
		{ "zalo_user_id", HP_ZALO,
		  offsetof(struct household_patch, zalo_user_id) },
		{ "messenger_psid", HP_PSID,
		  offsetof(struct household_patch, messenger_psid) },
		{ "note", HP_NOTE, offsetof(struct household_patch, note) },
	};
	for (size_t i = 0; i < ARRAY_SIZE(strs); i++) {
		const char **dst = (const char **)(void *)((char *)p +
							    strs[i].off);
		if (api_body_str(o, strs[i].key, dst, ve))
			p->set |= strs[i].bit;
	}
	json_t *ph = json_object_get(o, "phones");
	if (ph) {
		p->set |= HP_PHONES;
		p->phones = storage;
		if (json_is_string(ph)) {
			storage[0] = json_string_value(ph);
			p->nphones = 1;
			if (strlen(storage[0]) != json_string_length(ph))
				verrors_add(ve, "phones", "invalid",
					    "phones contains a NUL byte");
		} else if (json_is_array(ph)) {
			size_t i;
			json_t *e;
			json_array_foreach(ph, i, e) {
				if (i >= HOUSEHOLD_MAX_PHONES) {
					p->nphones = i + 1;  /* "too many" */
					break;
				}
				storage[i] = phone_at(e, i, ve);
				p->nphones = i + 1;
			}
		} else if (!json_is_null(ph)) {
			verrors_add(ve, "phones", "wrong_type", "phones must be "
				    "an array of strings");
		}
	}
	json_t *oo = json_object_get(o, "opted_out");
	if (oo) {
		if (json_is_boolean(oo)) {
			p->set |= HP_OPTED_OUT;
			p->opted_out = json_is_true(oo);
		} else {
			verrors_add(ve, "opted_out", "wrong_type",
				    "opted_out must be true or false");
		}
	}
}

/* ---- broadcasts ---- */

/* A time member: a string as typed, or an integer of ms. */
static void member_time(json_t *o, const char *key, struct btime *t,
			struct verrors *ve)
{
	json_t *v = json_object_get(o, key);
	*t = (struct btime){ 0 };
	if (!v || json_is_null(v))
		return;
	if (json_is_string(v))
		t->text = json_string_value(v);
	else if (json_is_integer(v))
		t->ms = json_integer_value(v);
	else
		verrors_add(ve, key, "wrong_type", "%s must be a time like "
			    "\"19:30 05/12/2026\" or milliseconds", key);
}

static const char *const broadcast_keys[] = {
	"kind", "priority", "title", "body", "place", "agenda", "starts_at",
	"send_at", "expires_at", "groups", "reminders", "idempotency_key",
};

static int string_list(json_t *o, const char *key, const char **dst,
		       size_t *n, struct verrors *ve)
{
	json_t *v = json_object_get(o, key);
	*n = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		dst[(*n)++] = json_string_value(v);
		return 0;
	}
	if (!json_is_array(v)) {
		verrors_add(ve, key, "wrong_type", "%s must be a list of "
			    "strings", key);
		return -EINVAL;
	}
	if (json_array_size(v) > API_BODY_MAX_LIST) {
		verrors_add(ve, key, "too_many", "%s has %zu entries, at most "
			    "%d", key, json_array_size(v), API_BODY_MAX_LIST);
		return -EINVAL;
	}
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || strlen(json_string_value(e)) !=
					  json_string_length(e)) {
			char f[48];
			snprintf(f, sizeof f, "%s[%zu]", key, i);
			verrors_add(ve, f, json_is_string(e) ? "invalid" :
				    "wrong_type", json_is_string(e) ?
				    "%s contains a NUL byte" :
				    "%s must be a string", f);
			return -EINVAL;
		}
		dst[(*n)++] = json_string_value(e);
	}
	return 0;
}

void api_body_broadcast(json_t *o, const char *idem_header,
			struct broadcast_req *req,
			struct api_breq_storage *st, struct verrors *ve)
{
	known_keys(o, broadcast_keys, ARRAY_SIZE(broadcast_keys), ve);
	*req = (struct broadcast_req){ 0 };
	api_body_str(o, "kind", &req->kind, ve);
	api_body_str(o, "priority", &req->priority, ve);
	api_body_str(o, "title", &req->title, ve);
	api_body_str(o, "body", &req->body, ve);
	api_body_str(o, "place", &req->place, ve);
	api_body_str(o, "agenda", &req->agenda, ve);
	api_body_str(o, "idempotency_key", &req->idem_key, ve);
	if (idem_header && *idem_header)
		req->idem_key = idem_header;
	member_time(o, "starts_at", &req->starts_at, ve);
	member_time(o, "send_at", &req->send_at, ve);
	member_time(o, "expires_at", &req->expires_at, ve);
	json_t *g = json_object_get(o, "groups");
	if (json_is_string(g) && streq(json_string_value(g), "all"))
		req->all_groups = true;
	else if (string_list(o, "groups", st->groups, &req->ngroups, ve) == 0)
		req->groups = st->groups;
	if (string_list(o, "reminders", st->reminders, &req->nreminders,
			ve) == 0)
		req->reminders = st->reminders;
}

/* ---- accounts ---- */

void api_body_login(json_t *o, const char **ret_user,
		    const char **ret_password, struct verrors *ve)
{
	api_body_str(o, "user", ret_user, ve);
	api_body_str(o, "password", ret_password, ve);
	if (!ve->n && !*ret_user)
		verrors_add(ve, "user", "required", "user is required");
	if (!ve->n && !*ret_password)
		verrors_add(ve, "password", "required",
			    "password is required");
}

static void take_display_name(json_t *o, struct user *u, struct verrors *ve)
{
	const char *dn = NULL;
	if (api_body_str(o, "display_name", &dn, ve) <= 0)
		return;
	dn = dn ? dn : "";
	const char *s;
	size_t n = text_trim(dn, strlen(dn), &s);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return (void)verrors_add(
				ve, "display_name", "control_chars",
				"display_name contains control characters");
	if (n >= sizeof u->display_name)
		return (void)verrors_add(ve, "display_name", "too_long",
					 "display_name is too long (at most "
					 "%zu bytes)",
					 sizeof u->display_name - 1);
	memcpy(u->display_name, s, n);
	u->display_name[n] = '\0';
}

static void take_role(json_t *o, struct user *u, bool required,
		      struct verrors *ve)
{
	const char *role = NULL;
	int has = api_body_str(o, "role", &role, ve);
	if (has <= 0 || !role) {
		if (required && !ve->n)
			verrors_add(ve, "role", "required", "role is required: "
				    "admin, official or manager");
		return;
	}
	enum role r;
	if (auth_role_parse(role, &r) < 0 || r == ROLE_NONE)
		verrors_add(ve, "role", "invalid", "role must be admin, "
			    "official or manager");
	else
		u->role = r;
}

static int take_groups(json_t *o, struct user *u,
		       int (*resolve)(void *ud, const char *name,
				      int64_t *ret_id),
		       void *ud, struct verrors *ve)
{
	json_t *g = json_object_get(o, "groups");
	if (!g)
		return 0;
	u->ngroups = 0;
	if (json_is_null(g))
		return 0;
	if (!json_is_array(g)) {
		verrors_add(ve, "groups", "wrong_type", "groups must be a list "
			    "of group codes");
		return 0;
	}
	size_t i;
	json_t *e;
	json_array_foreach(g, i, e) {
		char field[32];
		snprintf(field, sizeof field, "groups[%zu]", i);
		if (!json_is_string(e) || strlen(json_string_value(e)) !=
					  json_string_length(e)) {
			verrors_add(ve, field, "wrong_type", "%s must be a "
				    "group code", field);
			continue;
		}
		if (u->ngroups == AUTH_MAX_GROUPS) {
			verrors_add(ve, "groups", "too_many", "at most %d "
				    "groups", AUTH_MAX_GROUPS);
			break;
		}
		int64_t id = 0;
		int r = resolve(ud, json_string_value(e), &id);
		char q[72];
		if (r == -ENOENT) {
			verrors_add(ve, field, "unknown_group", "no group "
				    "named '%s'", quote(json_string_value(e),
							q, sizeof q));
			continue;
		}
		if (r == -ENOTUNIQ) {
			verrors_add(ve, field, "ambiguous_group", "'%s' "
				    "names more than one group: use its code",
				    quote(json_string_value(e), q, sizeof q));
			continue;
		}
		if (r < 0)
			return r;
		bool dup = false;
		for (size_t k = 0; k < u->ngroups; k++)
			dup |= u->group_ids[k] == id;
		if (!dup)
			u->group_ids[u->ngroups++] = id;
	}
	return 0;
}

static void take_uid(json_t *o, struct user *u, struct verrors *ve)
{
	json_t *v = json_object_get(o, "unix_uid");
	if (!v)
		return;
	if (json_is_null(v))
		u->unix_uid = -1;
	else if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		 json_integer_value(v) > 4294967294LL)
		verrors_add(ve, "unix_uid", "invalid", "unix_uid must be a uid "
			    "(0..4294967294) or null");
	else
		u->unix_uid = json_integer_value(v);
}

static void user_self(json_t *o, struct api_user_self *self,
		      struct verrors *ve)
{
	static const char *const self_keys[] = { "password", "old_password" };
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v) {
		if (!key_known(key, self_keys, ARRAY_SIZE(self_keys))) {
			self->forbidden = true;
			quote(key, self->field, sizeof self->field);
			return;
		}
	}
	api_body_str(o, "old_password", &self->old_password, ve);
}

static void user_add(json_t *o, struct user *u, struct verrors *ve)
{
	static const char *const keys[] = { "name", "role", "display_name",
		"groups", "password", "unix_uid" };
	api_body_check_keys(o, keys, ARRAY_SIZE(keys), ve);
	const char *name = NULL;
	api_body_str(o, "name", &name, ve);
	if (!name)
		verrors_add(ve, "name", "required", "name is required");
	else if (!user_name_valid(name))
		verrors_add(ve, "name", "invalid", "a user name is 1-64 of "
			    "A-Z a-z 0-9 . _ - and does not start with - or .");
	else
		snprintf(u->name, sizeof u->name, "%s", name);
}

int api_body_user(json_t *o, enum api_user_body kind, struct user *u,
		  int (*resolve)(void *ud, const char *name, int64_t *ret_id),
		  void *ud, struct api_user_self *self, struct verrors *ve)
{
	static const char *const admin_keys[] = { "display_name", "role",
		"groups", "password", "old_password", "unix_uid", "disabled",
		/* read-only, ignored: a fetched USER may be sent back */
		"id", "name", "has_password", "created" };
	if (kind == API_USER_SELF) {
		*self = (struct api_user_self){ 0 };
		user_self(o, self, ve);
		return 0;
	}
	int r;
	if (kind == API_USER_ADD) {
		user_add(o, u, ve);
		take_role(o, u, true, ve);
		take_display_name(o, u, ve);
		r = take_groups(o, u, resolve, ud, ve);
		take_uid(o, u, ve);
	} else {
		api_body_check_keys(o, admin_keys, ARRAY_SIZE(admin_keys), ve);
		take_display_name(o, u, ve);
		take_role(o, u, false, ve);
		r = take_groups(o, u, resolve, ud, ve);
		take_uid(o, u, ve);
		json_t *d = json_object_get(o, "disabled");
		if (d && !json_is_boolean(d))
			verrors_add(ve, "disabled", "wrong_type", "disabled "
				    "must be true or false");
		else if (d)
			u->disabled = json_is_true(d);
	}
	if (u->role == ROLE_MANAGER && u->ngroups == 0 && !ve->n)
		verrors_add(ve, "groups", "required", "a manager needs one or "
			    "more groups%s", kind == API_USER_ADD ?
			    " (\"groups\": [\"2A\"])" : "");
	if (u->role != ROLE_MANAGER)
		u->ngroups = 0;
	return r;
}

void api_body_password(json_t *o, const char **ret, struct verrors *ve)
{
	const char *pw = NULL;
	*ret = NULL;
	if (api_body_str(o, "password", &pw, ve) <= 0 || !pw)
		return;
	char why[160];
	if (auth_password_check(pw, why, sizeof why) < 0) {
		verrors_add(ve, "password", "weak", "%s", why);
		return;
	}
	*ret = pw;
}

void api_body_token(json_t *o, const char **ret_label, size_t *ret_n,
		    struct verrors *ve)
{
	static const char *const keys[] = { "label" };
	api_body_check_keys(o, keys, ARRAY_SIZE(keys), ve);
	const char *label = NULL;
	api_body_str(o, "label", &label, ve);
	label = label ? label : "";
	const char *s;
	size_t n = text_trim(label, strlen(label), &s);
	for (size_t i = 0; i < n && !ve->n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			verrors_add(ve, "label", "control_chars", "label "
				    "contains control characters");
	if (n > 120 && !ve->n)
		verrors_add(ve, "label", "too_long", "label is too long (at "
			    "most 120 bytes)");
	*ret_label = s;
	*ret_n = n;
}

void api_body_reject(json_t *o, const char **ret_reason,
		     struct verrors *ve)
{
	static const char *const keys[] = { "reason" };
	api_body_check_keys(o, keys, ARRAY_SIZE(keys), ve);
	api_body_str(o, "reason", ret_reason, ve);
}

/* ---- PUT /v1/log ---- */

/* "main, cfg, store, ..., webhook": every subsystem, from log.c. */
static void subsys_list(char *out, size_t n)
{
	size_t k = 0;
	out[0] = '\0';
	for (int s = 0; s < LOG_SUBSYS_MAX && k < n; s++)
		k += (size_t)snprintf(out + k, n - k, "%s%s", s ? ", " : "",
				      log_subsys_name((enum log_subsys)s));
}

void api_body_log(json_t *o, struct api_log_body *ret, struct verrors *ve)
{
	static const char *const keys[] = { "level", "debug" };
	api_body_check_keys(o, keys, ARRAY_SIZE(keys), ve);
	const char *lv = NULL;
	if (api_body_str(o, "level", &lv, ve) > 0 && lv &&
	    log_level_parse(lv, &ret->level) < 0) {
		char q[72];
		verrors_add(ve, "level", "invalid", "'%s' is not a level: "
			    "the levels are err, warning, notice, info and "
			    "debug", quote(lv, q, sizeof q));
	}
	memset(ret->debug, 0, sizeof ret->debug);
	json_t *d = json_object_get(o, "debug");
	ret->debug_set = d != NULL;
	if (d && !json_is_array(d) && !json_is_null(d)) {
		verrors_add(ve, "debug", "wrong_type", "debug must be a list "
			    "of subsystems");
	} else if (json_is_array(d)) {
		char known[160];
		subsys_list(known, sizeof known);
		size_t i;
		json_t *e;
		json_array_foreach(d, i, e) {
			enum log_subsys s;
			char field[32], val[64];
			snprintf(field, sizeof field, "debug[%zu]", i);
			if (!json_is_string(e))
				verrors_add(ve, field, "wrong_type", "%s must "
					    "be a subsystem's name, one of %s",
					    field, known);
			else if (log_subsys_parse(json_string_value(e),
						  &s) < 0) {
				quote(json_string_value(e), val, sizeof val);
				verrors_add(ve, field, "invalid", "'%s' is "
					    "not a subsystem: the subsystems "
					    "are %s", val, known);
			} else {
				ret->debug[s] = true;
			}
		}
	}
}
