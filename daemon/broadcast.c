/* broadcast.c: creating and steering broadcasts. See broadcast.h. */
#include "loaxa/broadcast.h"

#include <errno.h>
#include <inttypes.h>
#include <strings.h>

#include "loaxa/log.h"
#include "loaxa/prune.h"
#include "loaxa/template.h"
#include "loaxa/text.h"
#include "loaxa/when.h"

#define TITLE_MAX 200
#define BODY_MAX_CHARS 2000
#define IDEM_MAX 128
#define BCAST_TIME_MAX_MS 253402300799999LL  /* 9999-12-31 23:59:59.999 */

struct broadcaster {
	struct store *store;
	struct directory *dir;
	struct engine *engine;
	const struct config *cfg;
};

int broadcaster_new(struct store *s, struct directory *d, struct engine *e,
		    struct broadcaster **ret)
{
	struct broadcaster *b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	b->store = s;
	b->dir = d;
	b->engine = e;
	*ret = b;
	return 0;
}

struct broadcaster *broadcaster_free(struct broadcaster *b)
{
	free(b);
	return NULL;
}

void broadcaster_set_config(struct broadcaster *b, const struct config *c)
{
	b->cfg = c;
}

void broadcast_time_text(const struct broadcaster *bc, int64_t ms, char *out,
			 size_t n)
{
	struct tm tm;
	when_ms_to_local(ms, bc->cfg->utc_offset_min, &tm);
	template_vn_datetime(&tm, out, n);
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* Copy a text field: trimmed, valid UTF-8, no control characters except
 * newlines where allowed, at most max bytes. NULL or empty -> *ret NULL. */
static int take_text(struct verrors *ve, const char *field, const char *v,
		     size_t max, bool multiline, char **ret)
{
	*ret = NULL;
	if (!v)
		return 0;
	const char *s;
	size_t n = text_trim(v, strlen(v), &s);
	if (n == 0)
		return 0;
	if (!text_utf8_valid(s, n))
		return verrors_add(ve, field, "invalid_utf8",
				   "%s is not valid UTF-8", field) ?: -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && !(multiline && (c == '\n' || c == '\t'))) ||
		    c == 0x7f)
			return verrors_add(ve, field, "control_chars",
					   "%s contains control characters",
					   field) ?: -EINVAL;
	}
	if (n > max)
		return verrors_add(ve, field, "too_long", "%s is too long (%zu "
				   "bytes, at most %zu)", field, n, max)
			       ?: -EINVAL;
	*ret = util_strndup(s, n);
	return *ret ? 0 : -ENOMEM;
}

/* Resolve a time field. *ret_ms = 0 when not given. */
static int take_time(const struct broadcaster *bc, struct verrors *ve,
		     const char *field, const struct btime *t, int64_t now_ms,
		     int64_t *ret_ms)
{
	*ret_ms = 0;
	if (!t->text) {
		/* 1970 .. 9999: beyond that it is a typo, and sums overflow */
		if (t->ms < 0 || t->ms > BCAST_TIME_MAX_MS)
			return verrors_add(ve, field, "invalid", "%s must be a "
					   "time in milliseconds between 1970 "
					   "and 9999", field) ?: -EINVAL;
		*ret_ms = t->ms;
		return 0;
	}
	struct tm now, tm;
	when_ms_to_local(now_ms, bc->cfg->utc_offset_min, &now);
	bool has_time;
	char err[160];
	if (when_parse_local(t->text, strlen(t->text), &now, &tm, &has_time,
			     err, sizeof err) < 0)
		return verrors_add(ve, field, "bad_time", "%s", err) ?: -EINVAL;
	if (!has_time)
		return verrors_add(ve, field, "bad_time", "%s needs a time of "
				   "day too, like 19:30 05/12/2026", field)
			       ?: -EINVAL;
	*ret_ms = when_local_to_ms(&tm, bc->cfg->utc_offset_min);
	return 0;
}

static int take_groups(struct broadcaster *bc,
		       const struct broadcast_req *req, struct verrors *ve,
		       struct broadcast *b)
{
	if (req->all_groups) {
		b->all_groups = true;
		return 0;
	}
	if (req->ngroups == 0)
		return verrors_add(ve, "groups", "required", "choose one or "
				   "more groups, or \"all\"") ?: -EINVAL;
	if (req->ngroups > BCAST_MAX_GROUPS)
		return verrors_add(ve, "groups", "too_many", "at most %d groups;"
				   " use \"all\"", BCAST_MAX_GROUPS) ?: -EINVAL;
	int r = 0;
	for (size_t i = 0; i < req->ngroups; i++) {
		struct group_rec g = { 0 };
		char field[48];
		snprintf(field, sizeof field, "groups[%zu]", i);
		int q = directory_group_resolve(bc->dir, req->groups[i], &g);
		if (q == -ENOENT || q == -ENOTUNIQ) {
			q = verrors_add(ve, field, q == -ENOENT ?
					"unknown_group" : "ambiguous_group",
					q == -ENOENT ? "no group named '%.64s'"
					: "'%.64s' names more than one group",
					req->groups[i] ? req->groups[i] : "")
				    ?: -EINVAL;
		} else if (q == 0) {
			bool dup = false;
			for (size_t j = 0; j < b->ngroups; j++)
				dup |= b->group_ids[j] == g.id;
			if (!dup)
				b->group_ids[b->ngroups++] = g.id;
		}
		group_rec_clear(&g);
		if (q < 0 && q != -EINVAL)
			return q;
		r = r ?: q;
	}
	return r;
}

int broadcast_build(struct broadcaster *bc, const struct broadcast_req *req,
		    int64_t now_ms, struct verrors *ve, struct broadcast *ret)
{
	struct broadcast b = { .created_ms = now_ms, .state = BS_SCHEDULED };
	int r = 0, q;

	if (req->kind && strcasecmp(req->kind, "meeting") == 0)
		b.kind = BK_MEETING;
	else if (req->kind && strcasecmp(req->kind, "notice") == 0)
		b.kind = BK_NOTICE;
	else
		r = verrors_add(ve, "kind", req->kind ? "invalid" : "required",
				"kind must be \"meeting\" or \"notice\"")
			    ?: -EINVAL;
	if (!req->priority || strcasecmp(req->priority, "normal") == 0)
		b.urgent = false;
	else if (strcasecmp(req->priority, "urgent") == 0)
		b.urgent = true;
	else
		r = verrors_add(ve, "priority", "invalid", "priority must be "
				"\"normal\" or \"urgent\"") ?: -EINVAL;

	q = take_text(ve, "title", req->title, TITLE_MAX, false, &b.title);
	if (q == 0 && !b.title)
		q = verrors_add(ve, "title", "required", "title is required")
			    ?: -EINVAL;
	r = r ?: q;
	q = take_text(ve, "body", req->body, BODY_MAX_CHARS * 4, true,
		      &b.body);
	if (q == 0 && b.body && utf8_chars(b.body) > BODY_MAX_CHARS)
		q = verrors_add(ve, "body", "too_long", "body is too long "
				"(%zu characters, at most %d)",
				utf8_chars(b.body), BODY_MAX_CHARS) ?: -EINVAL;
	r = r ?: q;
	q = take_text(ve, "place", req->place, TITLE_MAX, false, &b.place);
	r = r ?: q;
	q = take_text(ve, "agenda", req->agenda, BODY_MAX_CHARS, true,
		      &b.agenda);
	r = r ?: q;
	if (req->idem_key) {
		size_t n = strlen(req->idem_key);
		if (n == 0 || n > IDEM_MAX ||
		    !text_utf8_valid(req->idem_key, n))
			q = verrors_add(ve, "idempotency_key", "invalid",
					"the idempotency key must be 1-%d "
					"bytes of text", IDEM_MAX) ?: -EINVAL;
		else if (!(b.idem_key = strdup(req->idem_key)))
			q = -ENOMEM;
		r = r ?: q;
	}
	q = take_groups(bc, req, ve, &b);
	if (q < 0 && q != -EINVAL) {
		broadcast_clear(&b);
		return q;
	}
	r = r ?: q;

	int64_t starts = 0, send_at = 0, expires = 0;
	q = take_time(bc, ve, "starts_at", &req->starts_at, now_ms, &starts);
	r = r ?: q;
	q = take_time(bc, ve, "send_at", &req->send_at, now_ms, &send_at);
	r = r ?: q;
	q = take_time(bc, ve, "expires_at", &req->expires_at, now_ms,
		      &expires);
	r = r ?: q;
	if (send_at == 0 || send_at < now_ms)
		send_at = now_ms;  /* a send time in the past means now */

	if (b.kind == BK_MEETING && ve->n == 0) {
		if (!starts)
			r = verrors_add(ve, "starts_at", "required", "a meeting"
					" needs its start time") ?: -EINVAL;
		else if (starts <= now_ms)
			r = verrors_add(ve, "starts_at", "in_past", "the "
					"meeting's start time has passed")
				    ?: -EINVAL;
		if (!b.place)
			r = verrors_add(ve, "place", "required", "a meeting "
					"needs a place") ?: -EINVAL;
		expires = starts;
	} else if (b.kind == BK_NOTICE && ve->n == 0) {
		if (!b.body)
			r = verrors_add(ve, "body", "required", "a notice "
					"needs a body") ?: -EINVAL;
		if (!expires)
			expires = send_at + (int64_t)bc->cfg->notice_ttl_ms;
		if (req->nreminders)
			r = verrors_add(ve, "reminders", "invalid",
					"reminders are for meetings") ?: -EINVAL;
	}
	if (ve->n == 0 && send_at >= expires)
		r = verrors_add(ve, "send_at", "too_late", b.kind == BK_MEETING
				? "the invitation would be sent after the "
				"meeting starts" : "the notice would expire "
				"before it is sent") ?: -EINVAL;
	b.starts_ms = b.kind == BK_MEETING ? starts : 0;
	b.send_at_ms = send_at;
	b.expires_ms = expires;

	if (req->nreminders > BCAST_MAX_REMINDERS)
		r = verrors_add(ve, "reminders", "too_many", "at most %d "
				"reminders", BCAST_MAX_REMINDERS) ?: -EINVAL;
	for (size_t i = 0; b.kind == BK_MEETING && i < req->nreminders &&
			   i < BCAST_MAX_REMINDERS; i++) {
		char field[48], err[160];
		int64_t off;
		snprintf(field, sizeof field, "reminders[%zu]", i);
		const char *t = req->reminders[i] ? req->reminders[i] : "";
		if (when_parse_duration(t, strlen(t), &off, err, sizeof err) <
		    0) {
			r = verrors_add(ve, field, "bad_duration", "%s", err)
				    ?: -EINVAL;
			continue;
		}
		if (ve->n == 0 && starts - off <= send_at) {
			r = verrors_add(ve, field, "too_early", "this reminder"
					" would come before the invitation "
					"itself") ?: -EINVAL;
			continue;
		}
		bool dup = false;
		for (size_t j = 0; j < b.nreminders; j++)
			dup |= b.reminder_ms[j] == off;
		if (!dup)
			b.reminder_ms[b.nreminders++] = off;
	}
	if (r < 0 || ve->n) {
		broadcast_clear(&b);
		return r < 0 ? r : -EINVAL;
	}
	*ret = b;
	return 0;
}

int broadcast_create(struct broadcaster *bc, const struct broadcast_req *req,
		     struct verrors *ve, struct broadcast *ret,
		     bool *ret_existing)
{
	*ret_existing = false;
	int64_t now = util_now_ms();
	/* The same key answers the same broadcast, even before validation:
	 * a retried request must never create a second one. */
	struct broadcast b = { 0 };
	int r = broadcast_build(bc, req, now, ve, &b);
	if (r < 0)
		return r;
	if (!engine_has_route(bc->engine)) {
		broadcast_clear(&b);
		return -ENODEV;
	}
	if (req->requested_by &&
	    !(b.requested_by = strdup(req->requested_by))) {
		broadcast_clear(&b);
		return -ENOMEM;
	}
	if (req->awaiting_approval)
		b.state = BS_AWAITING;
	struct wave waves[1 + BCAST_MAX_REMINDERS];
	size_t nw = 0;
	waves[nw++] = (struct wave){ .seq = 0, .send_at_ms = b.send_at_ms,
				     .expires_ms = b.expires_ms,
				     .state = WS_PENDING };
	for (size_t i = 0; i < b.nreminders; i++)
		waves[nw++] = (struct wave){
			.seq = (int)i + 1,
			.send_at_ms = b.starts_ms - b.reminder_ms[i],
			.expires_ms = b.starts_ms, .state = WS_PENDING };
	int64_t existing = 0;
	r = store_broadcast_insert(bc->store, &b, waves, nw, &existing);
	if (r == -EEXIST && existing) {
		broadcast_clear(&b);
		*ret_existing = true;
		return store_broadcast_get(bc->store, existing, ret);
	}
	if (r < 0) {
		broadcast_clear(&b);
		return r;
	}
	log_info(LOG_DISPATCH, "broadcast %" PRId64 " created: %s, %s, %zu "
		 "wave(s)%s", b.id, bcast_kind_name(b.kind),
		 b.urgent ? "urgent" : "normal", nw,
		 b.state == BS_AWAITING ? ", awaiting approval" : "");
	engine_kick(bc->engine);
	broadcast_clear(&b);
	return store_broadcast_get(bc->store, waves[0].broadcast_id, ret);
}

static int set_state(struct broadcaster *bc, int64_t id,
		     enum bcast_state want)
{
	struct broadcast b = { 0 };
	int r = store_broadcast_get(bc->store, id, &b);
	if (r < 0)
		return r;
	enum bcast_state cur = b.state;
	broadcast_clear(&b);
	int64_t now = util_now_ms();
	switch (want) {
	case BS_CANCELLED:
		if (cur == BS_CANCELLED || cur == BS_DONE)
			return -EALREADY;
		r = store_begin(bc->store);
		if (r == 0)
			r = store_broadcast_set_state(bc->store, id, want, now);
		if (r == 0)
			r = store_broadcast_cancel_queued(bc->store, id, now);
		if (r >= 0)
			r = store_commit(bc->store);
		else
			store_rollback(bc->store);
		break;
	case BS_PAUSED:
		if (cur != BS_ACTIVE && cur != BS_SCHEDULED)
			return -EALREADY;
		r = store_broadcast_set_state(bc->store, id, want, now);
		break;
	case BS_AWAITING:  /* reject: cancel what still awaits approval */
		if (cur != BS_AWAITING)
			return -EALREADY;
		r = store_begin(bc->store);
		if (r == 0)
			r = store_broadcast_set_state(bc->store, id,
						      BS_CANCELLED, now);
		if (r == 0)
			r = store_broadcast_cancel_queued(bc->store, id, now);
		if (r >= 0)
			r = store_commit(bc->store);
		else
			store_rollback(bc->store);
		break;
	default: /* resume */
		if (cur != BS_PAUSED)
			return -EALREADY;
		r = store_broadcast_set_state(bc->store, id, BS_ACTIVE, now);
		break;
	}
	if (r >= 0) {
		log_info(LOG_DISPATCH, "broadcast %" PRId64 " %s", id,
			 want == BS_CANCELLED ? "cancelled" :
			 want == BS_PAUSED ? "paused" :
			 want == BS_AWAITING ? "rejected (cancelled)" :
			 "resumed");
		engine_kick(bc->engine);
	}
	return r < 0 ? r : 0;
}

int broadcast_cancel(struct broadcaster *bc, int64_t id)
{
	return set_state(bc, id, BS_CANCELLED);
}

int broadcast_pause(struct broadcaster *bc, int64_t id)
{
	return set_state(bc, id, BS_PAUSED);
}

int broadcast_resume(struct broadcaster *bc, int64_t id)
{
	return set_state(bc, id, BS_ACTIVE);
}

int broadcast_approve(struct broadcaster *bc, int64_t id,
		      const char *approved_by)
{
	int r = store_broadcast_approve(bc->store, id, approved_by,
					util_now_ms());
	if (r < 0)
		return r;
	log_info(LOG_DISPATCH, "broadcast %" PRId64 " approved", id);
	/* As for a resume: the engine reloads and starts its waves. */
	engine_kick(bc->engine);
	return 0;
}

int broadcast_reject(struct broadcaster *bc, int64_t id)
{
	return set_state(bc, id, BS_AWAITING);
}

struct reopen_ctx {
	struct store *s;
	int64_t now;
	int r;
};

static int reopen_cb(const struct wave *w, void *ud)
{
	struct reopen_ctx *c = ud;
	if (w->state == WS_DONE && w->expires_ms > c->now)
		return store_wave_set_state(c->s, w->id, WS_READY);
	return 0;
}

int broadcast_retry(struct broadcaster *bc, int64_t id)
{
	struct broadcast b = { 0 };
	int r = store_broadcast_get(bc->store, id, &b);
	if (r < 0)
		return r;
	enum bcast_state cur = b.state;
	bool pruned = b.pruned_ms > 0;
	broadcast_clear(&b);
	if (cur == BS_CANCELLED)
		return -EALREADY;
	/* Retention removed (or is removing) its deliveries: reopening it
	 * would send some again and show counts that no longer add up.
	 * Retention and this run on the same loop: no step comes between
	 * the check and the requeue. */
	if (!pruned) {
		char *sum = NULL;
		r = store_prune_summary(bc->store, id, &sum);
		free(sum);
		if (r == 0)
			pruned = true;
		else if (r != -ENOENT)
			return r;
	}
	if (pruned)
		return -EIDRM;
	int64_t now = util_now_ms();
	r = store_begin(bc->store);
	if (r < 0)
		return r;
	int n = store_broadcast_requeue_failed(bc->store, id, now);
	r = n < 0 ? n : 0;
	if (r == 0 && n > 0) {
		struct reopen_ctx c = { .s = bc->store, .now = now };
		r = store_wave_list(bc->store, id, reopen_cb, &c);
		if (r == 0 && cur == BS_DONE)
			r = store_broadcast_set_state(bc->store, id, BS_ACTIVE,
						      now);
	}
	if (r < 0) {
		store_rollback(bc->store);
		return r;
	}
	r = store_commit(bc->store);
	if (r < 0)
		return r;
	if (n > 0) {
		log_info(LOG_DISPATCH, "broadcast %" PRId64 ": %d failed "
			 "deliveries requeued", id, n);
		engine_kick(bc->engine);
	}
	return n;
}
