/* api.c: the control API over libmicrohttpd on the libuv loop.
 *
 * Each listener (unix socket; optional TCP) is one MHD daemon in external
 * epoll mode: its epoll fd is watched by a uv_poll_t and MHD's own timeout
 * drives a uv_timer_t (the recipe of ../shared/DEPS.md). We bind the
 * listening sockets ourselves (clear errors, socket mode, stale socket
 * files) and hand them to MHD.
 *
 * Requests follow the MHD idiom: the first call only allocates the
 * per-request state (answering there would force Connection: close), body
 * chunks are collected up to [api] max_body, and the final call routes.
 */
#include "loaxa/api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config-build.h"
#include "loaxa/api-body.h"
#include "loaxa/channel.h"
#include "loaxa/console.h"
#include "loaxa/log.h"
#include "loaxa/metrics.h"
#include "loaxa/prune.h"
#include "loaxa/template.h"
#include "loaxa/text.h"
#include "loaxa/users.h"
#include "api-internal.h"

/* Request headers above API_MAX_HEADERS get 431. libmicrohttpd parses
 * them (and then the cookies, again) in one per-connection pool, so the
 * pool is larger than the limit we enforce ourselves. */
#define API_MAX_HEADERS (16 * 1024)
#define API_HEADER_MEMORY (48 * 1024)

struct api;

/* A connection, tracked so that one that never completes a request head
 * (slowloris) is cut after [api] timeout: libmicrohttpd's own timeout only
 * counts idle time, and a byte every second is not idle. */
struct conn_track {
	struct conn_track *next, *prev;
	int fd;
	uint64_t since;     /* connected, or the last request completed */
	bool in_request;    /* headers complete: a handler has it */
	bool cut;
};

struct listener {
	struct api *api;
	struct MHD_Daemon *mhd;
	uv_poll_t poll;
	uv_timer_t timer;
	int fd;             /* listening socket, until handed back */
	bool tcp;
	bool webhook;       /* the providers' listener, not the control API */
	bool started;
	unsigned conns;     /* connections after the last MHD_run */
	struct conn_track *tracked;
	char name[128];     /* for logs: socket path or address */
};

struct api {
	struct api_deps deps;
	struct listener unix_l, tcp_l, wh_l;
	struct api_webhooks *wh;
	struct metrics *metrics;     /* GET /metrics */
	bool wh_metrics;            /* also on the webhook listener */
	char *sock_path;
	struct api_shared sh;       /* token, limiter, settings */
	size_t max_body, wh_max_body;
	uint64_t unconfirmed_ms;
	struct store_counts counts;   /* /v1/status: reset by every write
					 to the directory, and at most
					 counts_life ms old */
	int64_t counts_at, counts_life;
	uint32_t sms_warn;
	uint64_t header_timeout_ms;
	uv_timer_t sweep;
	/* stopping */
	uv_timer_t drain;
	uint64_t drain_deadline;
	int pending_closes;
	void (*stop_cb)(void *ud);
	void *stop_ud;
	bool stopping;
};

/* Per-request state, set on the first handler call and freed in
 * MHD_OPTION_NOTIFY_COMPLETED. */
struct req {
	struct buf body;
	bool answered;      /* a response was queued early (401, 413) */
	bool too_large;     /* body over the limit: discard, answer 413 */
	bool have_p;        /* p is who asks */
	struct principal p;
	char csrf[AUTH_TOKEN_MAX];
	char origin[96];
};


/* ---- responses ---- */

void api__reply_json(struct rctx *rc, unsigned status, json_t *j)
{
	json_decref(rc->json);
	rc->status = status;
	rc->json = j;
}

void api__reply_error(struct rctx *rc, unsigned status, const char *code,
		      const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	api__reply_json(rc, status, json_pack("{s:{s:s,s:s}}", "error", "code",
					 code, "message", msg));
}

static json_t *verrors_json(const struct verrors *ve)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < ve->n; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "field",
						   ve->v[i].field, "code",
						   ve->v[i].code, "message",
						   ve->v[i].message));
	return a;
}

static void reply_fields(struct rctx *rc, unsigned status, const char *code,
			 const struct verrors *ve)
{
	/* A summary only: each field's line is in "fields", and clients
	 * print both (a single field's line would show twice). */
	char msg[64];
	if (status == 409)
		snprintf(msg, sizeof msg, "%zu field%s with existing "
			 "records", ve->n, ve->n == 1 ? " conflicts" :
			 "s conflict");
	else
		snprintf(msg, sizeof msg, "%zu field%s invalid", ve->n,
			 ve->n == 1 ? " is" : "s are");
	api__reply_json(rc, status, json_pack("{s:{s:s,s:s,s:o}}", "error", "code",
					 code, "message", msg, "fields",
					 verrors_json(ve)));
}

/* Map a -errno from directory/store to an HTTP answer. */
static void reply_errno(struct rctx *rc, int r, const struct verrors *ve,
			const char *what)
{
	struct store *s = rc->api->deps.store;
	switch (r) {
	case -EINVAL:
		if (ve && ve->n)
			reply_fields(rc, 422, "validation_failed", ve);
		else
			api__reply_error(rc, 422, "validation_failed", "invalid %s",
				    what);
		break;
	case -ENOENT:
		api__reply_error(rc, 404, "not_found", "no such %s", what);
		break;
	case -ENOTUNIQ:
		api__reply_error(rc, 409, "ambiguous_group",
			    "the name matches more than one group: use its code");
		break;
	case -EEXIST:
		if (ve && ve->n)
			reply_fields(rc, 409, streq(ve->v[0].code,
				"phone_taken") ? "phone_taken" : "conflict", ve);
		else
			api__reply_error(rc, 409, "conflict", "%s already exists",
				    what);
		break;
	case -EPERM:
		api__reply_error(rc, 409, "group_in_config", "this group is "
			    "declared in loaxa.ini: change it there and reload");
		break;
	case -EIDRM:    /* broadcast.h: retention pruned its details */
		api__reply_error(rc, 409, "pruned", "the deliveries of this %s "
			    "were removed by retention ([daemon] retention): "
			    "only its counts are kept, so nothing can be "
			    "retried or sent again", what);
		break;
	case -ENOTEMPTY:
		api__reply_error(rc, 409, "group_not_empty", "the group still has "
			    "households: move them first, or remove with "
			    "force=1");
		break;
	case -ENOSPC:
		log_err(LOG_API, "store: disk full: %s", store_errmsg(s));
		api__reply_error(rc, 503, "unavailable", "the disk is full: nothing "
			    "was written");
		break;
	case -EROFS:
		log_err(LOG_API, "store: read-only: %s", store_errmsg(s));
		api__reply_error(rc, 503, "unavailable", "the database is read-only:"
			    " nothing was written");
		break;
	case -EBUSY:
		log_err(LOG_API, "store: locked: %s", store_errmsg(s));
		api__reply_error(rc, 503, "unavailable", "the database is locked by "
			    "another program: try again");
		break;
	case -ENOMEM:
		api__reply_error(rc, 500, "internal", "out of memory");
		break;
	default:
		log_err(LOG_API, "store error on %s: %s (%s)", what,
			strerror(-r), store_errmsg(s));
		api__reply_error(rc, 500, "internal", "database error: %s",
			    store_errmsg(s));
		break;
	}
}

void api__reply_errno(struct rctx *rc, int r, const struct verrors *ve,
		      const char *what)
{
	reply_errno(rc, r, ve, what);
}

void api__reply_fields(struct rctx *rc, unsigned status, const char *code,
		       const struct verrors *ve)
{
	reply_fields(rc, status, code, ve);
}

void api__add_header(struct rctx *rc, const char *name, const char *value)
{
	if (rc->nheaders < ARRAY_SIZE(rc->headers)) {
		rc->headers[rc->nheaders][0] = name;
		rc->headers[rc->nheaders][1] = value;
		rc->nheaders++;
	}
}

/* ---- JSON helpers ---- */

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *group_json(const struct group_rec *g)
{
	return json_pack("{s:s,s:s,s:I,s:b}", "code", g->code, "name", g->name,
			 "households", (json_int_t)g->households,
			 "from_config", g->from_config);
}

static json_t *household_json(const struct household *h)
{
	json_t *phones = json_array();
	for (size_t i = 0; phones && i < h->nphones; i++)
		json_array_append_new(phones, json_string(h->phones[i]));
	return json_pack("{s:I,s:o,s:s,s:o,s:o,s:o,s:o,s:o,s:b,s:I,s:I}",
			 "id", (json_int_t)h->id,
			 "group", jstr_or_null(h->group_code),
			 "name", h->name ? h->name : "",
			 "phones", phones,
			 "address", jstr_or_null(h->address),
			 "zalo_user_id", jstr_or_null(h->zalo_user_id),
			 "messenger_psid", jstr_or_null(h->messenger_psid),
			 "note", jstr_or_null(h->note),
			 "opted_out", h->opted_out,
			 "created_ms", (json_int_t)h->created_ms,
			 "updated_ms", (json_int_t)h->updated_ms);
}

/* Parse the body as a JSON object; answers 400 itself on failure. */
static json_t *body_object(struct rctx *rc)
{
	json_t *j;
	char msg[256];
	int r = api_body_load(rc->body, rc->body_len, &j, msg, sizeof msg);
	if (r < 0) {
		api__reply_error(rc, 400, r == -EILSEQ ? "bad_request" :
				 "bad_json", "%s", msg);
		return NULL;
	}
	return j;
}

json_t *api__body_object(struct rctx *rc)
{
	return body_object(rc);
}

/* ---- query parameters ---- */

const char *api__query(struct rctx *rc, const char *key)
{
	return MHD_lookup_connection_value(rc->conn, MHD_GET_ARGUMENT_KIND,
					   key);
}

/* Boolean query flag: absent = false. Returns -EINVAL (answered) if bad. */
static int query_bool(struct rctx *rc, const char *key, bool *ret)
{
	const char *v = api__query(rc, key);
	*ret = false;
	if (!v)
		return 0;
	if (!*v || streq(v, "1") || streq(v, "true") || streq(v, "yes")) {
		*ret = true;
		return 0;
	}
	if (streq(v, "0") || streq(v, "false") || streq(v, "no"))
		return 0;
	api__reply_error(rc, 400, "bad_request", "parameter %s must be 1 or 0", key);
	return -EINVAL;
}

static int query_int(struct rctx *rc, const char *key, int64_t min,
		     int64_t max, int64_t def, int64_t *ret)
{
	const char *v = api__query(rc, key);
	*ret = def;
	if (!v)
		return 0;
	if (util_parse_int64(v, min, max, ret) < 0) {
		api__reply_error(rc, 400, "bad_request", "parameter %s must be a "
			    "whole number from %" PRId64 " to %" PRId64, key,
			    min, max);
		return -EINVAL;
	}
	return 0;
}

int api__query_int(struct rctx *rc, const char *key, int64_t min,
		   int64_t max, int64_t def, int64_t *ret)
{
	return query_int(rc, key, min, max, def, ret);
}

static int path_id(struct rctx *rc, size_t i, int64_t *ret)
{
	if (util_parse_int64(rc->seg[i], 1, INT64_MAX, ret) < 0) {
		api__reply_error(rc, 404, "not_found", "no such household");
		return -EINVAL;
	}
	return 0;
}

/* ---- handlers ---- */

static void h_status(struct rctx *rc)
{
	/* Counting a million households takes tens of milliseconds: a
	 * monitor polling status must not hold the loop that long each time.
	 * The counts change only through the directory's write requests
	 * (which drop them) and reloads; they are also counted again after
	 * a second, or after a hundred times what counting took. */
	struct api *a = rc->api;
	int64_t now = util_now_ms();
	if (!a->counts_at || now - a->counts_at >= a->counts_life ||
	    now < a->counts_at) {
		uint64_t t0 = uv_hrtime();
		int r = store_counts(a->deps.store, &a->counts);
		if (r < 0)
			return reply_errno(rc, r, NULL, "status");
		a->counts_at = now;
		a->counts_life = (int64_t)((uv_hrtime() - t0) / 10000);
		if (a->counts_life < 1000)
			a->counts_life = 1000;
	}
	struct store_counts c = a->counts;
	int64_t up = (util_now_ms() - rc->api->deps.started_ms) / 1000;
	struct engine_status es;
	engine_status(rc->api->deps.engine, &es);
	json_t *chans = json_array();
	for (size_t i = 0; chans && i < es.nchannels; i++) {
		const struct engine_chan_status *ch = &es.chans[i];
		json_array_append_new(chans, json_pack(
			"{s:s,s:s,s:s,s:s,s:i,s:I,s:I,s:I,s:I,s:f,s:o}",
			"name", ch->name, "driver", ch->driver,
			"state", chan_state_name(ch->state),
			"message", ch->message, "in_flight", (int)ch->in_flight,
			"sent", (json_int_t)ch->sent,
			"failed", (json_int_t)ch->failed,
			"attempts", (json_int_t)ch->attempts,
			"rate_limit_waits", (json_int_t)ch->rate_waits,
			"rate", ch->rate, "token_expires_ms",
			ch->token_expires_ms ? json_integer(ch->token_expires_ms)
					    : json_null()));
	}
	json_t *queue = json_pack("{s:I,s:I,s:o}", "urgent",
				  (json_int_t)es.queue_urgent, "normal",
				  (json_int_t)es.queue_normal, "oldest_ms",
				  es.oldest_ms ? json_integer(es.oldest_ms) :
						 json_null());
	api__reply_json(rc, 200, json_pack(
		"{s:s,s:I,s:s,s:i,s:I,s:I,s:I,s:I}",
		"version", LOAXA_VERSION, "uptime_s", (json_int_t)up,
		"database", store_path(rc->api->deps.store),
		"schema_version", store_schema_version(rc->api->deps.store),
		"groups", (json_int_t)c.groups,
		"households", (json_int_t)c.households,
		"phones", (json_int_t)c.phones,
		"opted_out", (json_int_t)c.opted_out));
	if (rc->json) {
		json_object_set_new(rc->json, "queue", queue);
		json_object_set_new(rc->json, "channels", chans);
	} else {
		json_decref(queue);
		json_decref(chans);
	}
}

struct glist_ctx {
	struct rctx *rc;
	json_t *a;
};

static int list_groups_cb(const struct group_rec *g, void *ud)
{
	struct glist_ctx *c = ud;
	if (!api__group_allowed(c->rc, g->id))
		return 0;   /* a manager sees their own groups */
	return json_array_append_new(c->a, group_json(g)) ? -ENOMEM : 0;
}

static void h_groups_list(struct rctx *rc)
{
	if (!api__may(rc, AA_READ, "read groups"))
		return;
	json_t *a = json_array();
	struct glist_ctx c = { .rc = rc, .a = a };
	int r = a ? store_group_list(rc->api->deps.store, list_groups_cb, &c)
		  : -ENOMEM;
	if (r < 0) {
		json_decref(a);
		return reply_errno(rc, r, NULL, "groups");
	}
	api__reply_json(rc, 200, json_pack("{s:o}", "groups", a));
}

static void h_group_get(struct rctx *rc)
{
	struct group_rec g = { 0 };
	int r = directory_group_resolve(rc->api->deps.dir, rc->seg[1], &g);
	if (r == 0 && !api__group_ok(rc, g.id, "read")) {
		group_rec_clear(&g);
		return;
	}
	if (r == 0) {
		/* resolve does not count households; get does */
		struct group_rec full = { 0 };
		r = store_group_get(rc->api->deps.store, g.id, &full);
		if (r == 0)
			api__reply_json(rc, 200, group_json(&full));
		group_rec_clear(&full);
	}
	if (r < 0)
		reply_errno(rc, r, NULL, "group");
	group_rec_clear(&g);
}

static void h_group_add(struct rctx *rc)
{
	if (!api__may(rc, AA_MANAGE_GROUPS, "add groups"))
		return;
	json_t *o = body_object(rc);
	if (!o)
		return;
	struct verrors ve = { 0 };
	const char *code = NULL, *name = NULL;
	api_body_group(o, true, &code, &name, &ve);
	struct group_rec g = { 0 };
	int r = ve.n ? -EINVAL : directory_group_add(rc->api->deps.dir, code,
						     name, &ve, &g);
	if (r == 0)
		api__reply_json(rc, 201, group_json(&g));
	else
		reply_errno(rc, r, &ve, "group");
	group_rec_clear(&g);
	verrors_clear(&ve);
	json_decref(o);
}

static void h_group_rename(struct rctx *rc)
{
	if (!api__may(rc, AA_MANAGE_GROUPS, "rename groups"))
		return;
	json_t *o = body_object(rc);
	if (!o)
		return;
	struct verrors ve = { 0 };
	const char *name = NULL;
	api_body_group(o, false, NULL, &name, &ve);
	struct group_rec g = { 0 };
	int r = ve.n ? -EINVAL : directory_group_rename(rc->api->deps.dir,
							rc->seg[1], name, &ve,
							&g);
	if (r == 0)
		api__reply_json(rc, 200, group_json(&g));
	else
		reply_errno(rc, r, &ve, "group");
	group_rec_clear(&g);
	verrors_clear(&ve);
	json_decref(o);
}

static void h_group_delete(struct rctx *rc)
{
	if (!api__may(rc, AA_MANAGE_GROUPS, "remove groups"))
		return;
	bool force;
	if (query_bool(rc, "force", &force) < 0)
		return;
	int r = directory_group_remove(rc->api->deps.dir, rc->seg[1], force);
	if (r == -ENOTEMPTY) {
		struct group_rec g = { 0 }, full = { 0 };
		if (directory_group_resolve(rc->api->deps.dir, rc->seg[1],
					    &g) == 0 &&
		    store_group_get(rc->api->deps.store, g.id, &full) == 0)
			api__reply_error(rc, 409, "group_not_empty", "group %s "
				    "still has %" PRId64 " households: move "
				    "them first, or remove with force=1",
				    full.code, full.households);
		group_rec_clear(&g);
		group_rec_clear(&full);
		if (rc->json)
			return;
	}
	if (r < 0)
		return reply_errno(rc, r, NULL, "group");
	rc->status = 204;
}

/* A page of a list. The store is asked for limit + 1 rows: the one past
 * the page says there is more, and the page's last id is the next
 * cursor. A manager's page is filtered: the store is read on, a chunk at
 * a time, past the other groups' rows until the page is full. */
struct page {
	struct rctx *rc;
	bool filter;        /* rows the principal may not see are skipped */
	json_t *a;
	uint32_t limit, n;
	int64_t last;       /* the id of the page's last row */
	bool more;
	uint32_t seen;      /* rows the store gave, allowed or not */
	int64_t seen_id;    /* the last of them */
	/* the read of one chunk, for page_read */
	int (*read)(struct page *pg, void *filter);
};

static void page_init(struct page *pg, struct rctx *rc, bool filter,
		      int64_t limit)
{
	*pg = (struct page){ .rc = rc, .filter = filter, .a = json_array(),
			     .limit = (uint32_t)limit };
}

/* A row the store gave (allowed: the principal may see it). Whether it
 * goes on the page; when not, the row callback returns pg->more (1 stops
 * the store's read: the page is full). */
static bool page_take(struct page *pg, int64_t id, bool allowed)
{
	pg->seen++;
	pg->seen_id = id;
	if (!allowed)
		return false;
	if (pg->n == pg->limit) {
		pg->more = true;
		return false;
	}
	pg->n++;
	pg->last = id;
	return true;
}

static int page_add(struct page *pg, json_t *row)
{
	return json_array_append_new(pg->a, row) ? -ENOMEM : 0;
}

/* Fill the page through pg->read(pg, filter). Filtered, the filter's
 * limit becomes chunk and its cursor moves past each chunk read, until
 * the page is full, a chunk comes short, or the cursor reaches stop. */
static int page_read(struct page *pg, void *filter, uint32_t *limit,
		     int64_t *cursor, uint32_t chunk, int64_t stop)
{
	int r;
	if (!pg->a)
		return -ENOMEM;
	if (!pg->filter)
		return pg->read(pg, filter);
	*limit = chunk;
	do {
		pg->seen = 0;
		r = pg->read(pg, filter);
		*cursor = pg->seen_id;
	} while (r >= 0 && !pg->more && pg->seen == chunk &&
		 pg->seen_id > stop);
	return r > 0 ? 0 : r;
}

/* The answer: {"<name>": [...], "<next>": last id or null}. */
static void page_reply(struct page *pg, const char *name, const char *next)
{
	api__reply_json(pg->rc, 200, json_pack("{s:o,s:o}", name, pg->a,
					       next, pg->more ?
					       json_integer(pg->last) :
					       json_null()));
}

static int list_households_cb(const struct household *h, void *ud)
{
	struct page *pg = ud;
	/* a manager's groups only */
	if (!page_take(pg, h->id, !pg->filter ||
		       api__group_allowed(pg->rc, h->group_id)))
		return pg->more;
	return page_add(pg, household_json(h));
}

static int households_read(struct page *pg, void *f)
{
	return store_household_list(pg->rc->api->deps.store, f,
				    list_households_cb, pg);
}

static void h_households_list(struct rctx *rc)
{
	struct household_filter f = { .opted_out = -1 };
	int64_t limit, after, oo;
	if (query_int(rc, "limit", 1, 1000, 100, &limit) < 0 ||
	    query_int(rc, "after", 0, INT64_MAX, 0, &after) < 0 ||
	    query_int(rc, "opted_out", 0, 1, -1, &oo) < 0)
		return;
	f.after_id = after;
	f.limit = (uint32_t)limit + 1;
	f.opted_out = (int)oo;
	f.q = api__query(rc, "q");
	if (f.q && !*f.q)
		f.q = NULL;
	const char *gname = api__query(rc, "group");
	if (gname && *gname) {
		struct group_rec g = { 0 };
		int r = directory_group_resolve(rc->api->deps.dir, gname, &g);
		if (r < 0)
			return reply_errno(rc, r, NULL, "group");
		f.group_id = g.id;
		group_rec_clear(&g);
		if (!api__group_ok(rc, f.group_id, "read"))
			return;
	}
	struct page pg;
	page_init(&pg, rc, api__filtered(rc) && !f.group_id, limit);
	pg.read = households_read;
	int r = page_read(&pg, &f, &f.limit, &f.after_id, 1000, 0);
	if (r < 0) {
		json_decref(pg.a);
		return reply_errno(rc, r, NULL, "households");
	}
	page_reply(&pg, "households", "next_after");
}

static void h_household_get(struct rctx *rc)
{
	int64_t id;
	if (path_id(rc, 1, &id) < 0)
		return;
	struct household h = { 0 };
	int r = store_household_get(rc->api->deps.store, id, &h);
	if (r == 0 && api__group_ok(rc, h.group_id, "read"))
		api__reply_json(rc, 200, household_json(&h));
	else if (r < 0)
		reply_errno(rc, r, NULL, "household");
	household_clear(&h);
}

/* A manager may change a household of their groups only, and move it
 * to their groups only. Answers itself when not. */
static bool household_write_ok(struct rctx *rc, int64_t id,
			       const struct household_patch *p)
{
	if (!api__may(rc, AA_EDIT_HOUSEHOLDS, "change households"))
		return false;
	if (!api__filtered(rc))
		return true;
	if (id) {
		struct household h = { 0 };
		int r = store_household_get(rc->api->deps.store, id, &h);
		bool ok = r == 0 && api__group_ok(rc, h.group_id, "edit");
		household_clear(&h);
		if (r < 0) {
			reply_errno(rc, r, NULL, "household");
			return false;
		}
		if (!ok)
			return false;
	}
	if (p && (p->set & HP_GROUP) && p->group) {
		struct group_rec g = { 0 };
		int r = directory_group_resolve(rc->api->deps.dir, p->group,
						&g);
		int64_t gid = g.id;
		group_rec_clear(&g);
		/* an unknown group is the directory's to report */
		if (r == 0 && !api__group_ok(rc, gid, "edit"))
			return false;
	}
	return true;
}

static void household_write(struct rctx *rc, int64_t id)
{
	json_t *o = body_object(rc);
	if (!o)
		return;
	struct verrors ve = { 0 };
	struct household_patch p = { 0 };
	const char *storage[HOUSEHOLD_MAX_PHONES] = { 0 };
	api_body_household(o, &p, storage, &ve);
	if (ve.n == 0 && !household_write_ok(rc, id, &p)) {
		verrors_clear(&ve);
		json_decref(o);
		return;
	}
	struct household h = { 0 };
	int r = -EINVAL;
	if (ve.n == 0)
		r = id ? directory_household_update(rc->api->deps.dir, id, &p,
						    &ve, &h)
		       : directory_household_add(rc->api->deps.dir, &p, &ve,
						 &h);
	/* A manager learns that a number is taken, not which household of
	 * which group has it. */
	for (size_t i = 0; r < 0 && api__filtered(rc) && i < ve.n; i++) {
		char *m = strstr(ve.v[i].message, " already belongs to "
				 "household ");
		if (streq(ve.v[i].code, "phone_taken") && m)
			snprintf(m, strlen(m) + 1, " is another household's");
	}
	if (r == 0)
		api__reply_json(rc, id ? 200 : 201, household_json(&h));
	else
		reply_errno(rc, r, &ve, "household");
	household_clear(&h);
	verrors_clear(&ve);
	json_decref(o);
}

static void h_household_add(struct rctx *rc) { household_write(rc, 0); }

static void h_household_edit(struct rctx *rc)
{
	int64_t id;
	if (path_id(rc, 1, &id) == 0)
		household_write(rc, id);
}

static void h_household_delete(struct rctx *rc)
{
	int64_t id;
	if (path_id(rc, 1, &id) < 0 || !household_write_ok(rc, id, NULL))
		return;
	int r = store_household_delete(rc->api->deps.store, id);
	if (r < 0)
		return reply_errno(rc, r, NULL, "household");
	log_info(LOG_DIR, "household %" PRId64 " removed", id);
	rc->status = 204;
}

static void household_opt(struct rctx *rc, bool out)
{
	int64_t id;
	if (path_id(rc, 1, &id) < 0 || !household_write_ok(rc, id, NULL))
		return;
	struct household h = { 0 };
	int r = store_household_set_opted_out(rc->api->deps.store, id, out,
					      util_now_ms());
	if (r == 0)
		r = store_household_get(rc->api->deps.store, id, &h);
	if (r == 0) {
		log_info(LOG_DIR, "household %" PRId64 " opted %s", id,
			 out ? "out" : "in");
		api__reply_json(rc, 200, household_json(&h));
	} else {
		reply_errno(rc, r, NULL, "household");
	}
	household_clear(&h);
}

static void h_opt_out(struct rctx *rc) { household_opt(rc, true); }
static void h_opt_in(struct rctx *rc) { household_opt(rc, false); }

static json_t *issues_json(const struct import_issue *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_pack(
			"{s:I,s:s,s:s,s:s,s:s}", "line", (json_int_t)v[i].line,
			"column", v[i].column, "value", v[i].value,
			"code", v[i].code, "message", v[i].message));
	return a;
}

static bool import_group_ok(int64_t group_id, void *ud)
{
	return api__group_allowed(ud, group_id);
}

static void h_import(struct rctx *rc)
{
	bool dry;
	if (!api__may(rc, AA_EDIT_HOUSEHOLDS, "import households") ||
	    query_bool(rc, "dry_run", &dry) < 0)
		return;
	const char *group = api__query(rc, "group");
	if (group && !*group)
		group = NULL;
	if (group && api__filtered(rc)) {
		struct group_rec g = { 0 };
		int q = directory_group_resolve(rc->api->deps.dir, group, &g);
		int64_t gid = g.id;
		group_rec_clear(&g);
		if (q == 0 && !api__group_ok(rc, gid, "import into"))
			return;
	}
	struct import_filter flt = { .group_ok = import_group_ok, .ud = rc };
	struct import_report rep = { 0 };
	struct verrors ve = { 0 };
	int r = directory_import_filtered(rc->api->deps.dir, rc->body,
					  rc->body_len, group, dry,
					  api__filtered(rc) ? &flt : NULL,
					  &rep, &ve);
	if (r == 0)
		api__reply_json(rc, 200, json_pack(
			"{s:b,s:I,s:I,s:I,s:I,s:o,s:o}", "dry_run", dry,
			"rows", (json_int_t)rep.rows,
			"created", (json_int_t)rep.created,
			"updated", (json_int_t)rep.updated,
			"unchanged", (json_int_t)rep.unchanged,
			"rejected", issues_json(rep.rejected, rep.nrejected),
			"warnings", issues_json(rep.warnings, rep.nwarnings)));
	else if (r == -EINVAL && ve.n == 1 &&
		 streq(ve.v[0].code, "invalid_utf8"))
		api__reply_error(rc, 400, "bad_request", "%s", ve.v[0].message);
	else
		reply_errno(rc, r, &ve, "import");
	import_report_clear(&rep);
	verrors_clear(&ve);
}

/* A manager's export: each of their groups, one header. */
static int export_own(struct rctx *rc, struct buf *out)
{
	const struct principal *p = rc->p;
	int r = 0;
	for (size_t i = 0; r == 0 && i < p->ngroups; i++) {
		struct group_rec g = { 0 };
		r = store_group_get(rc->api->deps.store, p->group_ids[i], &g);
		if (r == -ENOENT) {
			r = 0;   /* removed since */
			continue;
		}
		struct buf one;
		buf_init(&one, (size_t)1 << 30);
		if (r == 0)
			r = directory_export(rc->api->deps.dir, g.code, &one);
		group_rec_clear(&g);
		const char *d = one.data ? one.data : "";
		size_t n = one.len, skip = 0;
		if (r == 0 && out->len) {   /* the header once only */
			const char *nl = memchr(d, '\n', n);
			skip = nl ? (size_t)(nl - d) + 1 : n;
		}
		if (r == 0 && n > skip)
			r = buf_append(out, d + skip, n - skip);
		buf_free(&one);
	}
	return r;
}

static void h_export(struct rctx *rc)
{
	const char *group = api__query(rc, "group");
	if (!api__may(rc, AA_READ, "export households"))
		return;
	if (group && !*group)
		group = NULL;
	struct buf out;
	buf_init(&out, (size_t)1 << 30);
	int r;
	if (group && api__filtered(rc)) {
		struct group_rec g = { 0 };
		r = directory_group_resolve(rc->api->deps.dir, group, &g);
		int64_t gid = g.id;
		group_rec_clear(&g);
		if (r == 0 && !api__group_ok(rc, gid, "export")) {
			buf_free(&out);
			return;
		}
	}
	if (!group && api__filtered(rc))
		r = export_own(rc, &out);
	else
		r = directory_export(rc->api->deps.dir, group, &out);
	if (r < 0) {
		buf_free(&out);
		return reply_errno(rc, r, NULL, group ? "group" : "export");
	}
	rc->status = 200;
	rc->raw_len = out.len;
	rc->raw = buf_steal(&out);
	rc->ctype = "text/csv; charset=utf-8";
	rc->disposition = "attachment; filename=\"households.csv\"";
}


/* ---- broadcasts ---- */

static json_t *jtime(int64_t ms)
{
	return ms ? json_integer(ms) : json_null();
}

struct counts_ctx {
	json_t *o;
	bool nested;
};

static int counts_cb(const char *key, enum delivery_status st, int64_t n,
		     void *ud)
{
	struct counts_ctx *c = ud;
	json_t *o = c->o;
	if (c->nested) {
		o = json_object_get(c->o, key);
		if (!o) {
			o = json_object();
			if (!o || json_object_set_new(c->o, key, o) < 0)
				return -ENOMEM;
		}
	}
	return json_object_set_new(o, delivery_status_name(st),
				   json_integer(n)) < 0 ? -ENOMEM : 0;
}

/* "started_ms": the first delivery sent (null if none yet); "eta_ms":
 * when what is queued or sending should be final, at the pace of the last
 * ETA_WINDOW_MS (or since the first send, when that is more recent; null
 * when nothing is left or nothing moved lately). */
#define ETA_WINDOW_MS 60000
static void broadcast_eta_json(struct store *s, int64_t id, json_t *o,
			       const json_t *counts)
{
	int64_t started = 0, done = 0, now = util_now_ms();
	int64_t left = json_integer_value(json_object_get(counts, "queued")) +
		       json_integer_value(json_object_get(counts, "sending"));
	if (store_broadcast_started(s, id, &started) < 0)
		started = 0;
	json_object_set_new(o, "started_ms", jtime(started));
	int64_t since = now - ETA_WINDOW_MS;
	if (started > since)
		since = started;
	int64_t window = now - since < 1000 ? 1000 : now - since;
	if (left > 0 && started > 0 &&
	    store_broadcast_final_since(s, id, since, &done) == 0 && done > 0)
		json_object_set_new(o, "eta_ms", json_integer(
			now + (int64_t)((double)left * (double)window /
					(double)done)));
	else
		json_object_set_new(o, "eta_ms", json_null());
}

/* The summary retention kept of a finished broadcast whose details are
 * pruned (or being pruned); NULL when its details are all there. */
static json_t *prune_summary(struct store *s, const struct broadcast *b)
{
	if (b->state != BS_DONE && b->state != BS_CANCELLED)
		return NULL;
	char *text = NULL;
	if (store_prune_summary(s, b->id, &text) < 0 || !text)
		return NULL;
	json_t *j = json_loads(text, 0, NULL);
	free(text);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

static json_t *summary_member(json_t *sum, const char *key)
{
	json_t *v = json_object_get(sum, key);
	return v ? json_deep_copy(v) : json_null();
}

/* ---- the counts of a broadcast, cached ----
 *
 * The counts of a broadcast (by status, group and channel, unconfirmed,
 * started, ETA, RSVP) are computed by scanning its deliveries: about a
 * second of the loop at 1,000,000 deliveries, and the console polls a
 * live broadcast every 2 s. The block is kept and reused while it is
 * younger than BCACHE_TIMES times what computing it took, so a large
 * broadcast costs the loop at most about 1/BCACHE_TIMES of its time, and
 * a small one (under BCACHE_MIN_ROWS deliveries, or BCACHE_MIN_NS to
 * compute) is never cached: exact.
 * A block is dropped when the broadcast's state, its updated_ms or a
 * wave's state changes, and every block by any write request of the
 * control API (cancel, pause, resume, retry, approve, reject...): an
 * operator reads their own writes. Receipts and replies (webhooks) are
 * news like the sending itself: a large block may be that late. */
#define BCACHE_MAX 64
#define BCACHE_TIMES 10
#define BCACHE_MIN_NS (5 * 1000000ULL)
#define BCACHE_MIN_ROWS 20000

struct bcache {
	int64_t id;             /* 0: free */
	uint64_t sig;           /* the state it was computed in */
	uint64_t at_ns, until_ns;
	uint64_t used;          /* LRU tick */
	bool details;           /* by_group and by_channel too */
	json_t *block;
};

static struct bcache bcache[BCACHE_MAX];
static uint64_t bcache_tick;

static void bcache_drop_all(void)
{
	for (size_t i = 0; i < BCACHE_MAX; i++) {
		json_decref(bcache[i].block);
		bcache[i] = (struct bcache){ 0 };
	}
}

static uint64_t sig_mix(uint64_t h, uint64_t v)
{
	/* FNV-1a over the 8 bytes of v */
	for (int i = 0; i < 8; i++, v >>= 8)
		h = (h ^ (v & 0xff)) * 0x100000001b3ULL;
	return h;
}

struct waves_ctx {
	struct rctx *rc;
	json_t *a;              /* NULL: the signature only */
	uint64_t sig;
};

static int wave_json_cb(const struct wave *w, void *ud)
{
	static const char *const names[] = { "pending", "materialising",
					     "ready", "done" };
	struct waves_ctx *c = ud;
	c->sig = sig_mix(sig_mix(c->sig, (uint64_t)w->id), (uint64_t)w->state);
	if (!c->a)
		return 0;
	char when[64];
	broadcast_time_text(c->rc->api->deps.bc, w->send_at_ms, when,
			    sizeof when);
	return json_array_append_new(c->a, json_pack(
		"{s:i,s:I,s:s,s:I,s:s,s:I}", "seq", w->seq,
		"send_at_ms", (json_int_t)w->send_at_ms, "send_at_text", when,
		"expires_ms", (json_int_t)w->expires_ms,
		"state", (unsigned)w->state < 4 ? names[w->state] : "?",
		"total", (json_int_t)w->total)) ? -ENOMEM : 0;
}

/* The counts block of a broadcast whose details are all there: "counts",
 * "unconfirmed", "started_ms", "eta_ms", "rsvp" (meetings) and, with
 * details, "by_group" and "by_channel". */
static json_t *count_block_compute(struct rctx *rc, const struct broadcast *b,
				   bool details)
{
	struct store *s = rc->api->deps.store;
	json_t *o = json_object();
	json_t *counts = json_object();
	if (!o || !counts || json_object_set_new(o, "counts", counts) < 0) {
		json_decref(o);
		return NULL;
	}
	for (int st = 0; st < DS_MAX; st++)
		json_object_set_new(counts, delivery_status_name(st),
				    json_integer(0));
	/* by group first: one pass over the deliveries, kept by the store
	 * for the counts by status and channel */
	json_t *bg = details ? json_object() : NULL;
	struct counts_ctx cc = { .o = bg, .nested = true };
	if (bg) {
		store_broadcast_counts(s, b->id, COUNT_BY_GROUP, counts_cb,
				       &cc);
		json_object_set_new(o, "by_group", bg);
	}
	cc = (struct counts_ctx){ .o = counts };
	store_broadcast_counts(s, b->id, COUNT_BY_STATUS, counts_cb, &cc);
	int64_t unc = 0, yes = 0, no = 0;
	store_broadcast_unconfirmed(s, b->id, util_now_ms() -
				    (int64_t)rc->api->unconfirmed_ms, &unc);
	json_object_set_new(o, "unconfirmed", json_integer(unc));
	broadcast_eta_json(s, b->id, o, counts);
	if (b->kind == BK_MEETING &&
	    store_rsvp_counts(s, b->id, &yes, &no) == 0)
		json_object_set_new(o, "rsvp", json_pack(
			"{s:I,s:I}", "yes", (json_int_t)yes, "no",
			(json_int_t)no));
	if (details) {
		json_t *bch = json_object();
		cc = (struct counts_ctx){ .o = bch, .nested = true };
		store_broadcast_counts(s, b->id, COUNT_BY_CHANNEL, counts_cb,
				       &cc);
		json_object_set_new(o, "by_channel", bch);
	}
	return o;
}

/* The block from the cache or computed (a new reference). sig: the
 * broadcast's state and its waves', or 0 when not known yet (then the
 * waves are read here, and only when a cached block may be used). */
static json_t *count_block(struct rctx *rc, const struct broadcast *b,
			   bool details, uint64_t sig)
{
	uint64_t now = uv_hrtime();
	struct bcache *hit = NULL, *victim = &bcache[0];
	for (size_t i = 0; i < BCACHE_MAX; i++) {
		struct bcache *e = &bcache[i];
		if (e->id == b->id)
			hit = e;
		if (!e->id ? victim->id != 0 : (victim->id &&
						e->used < victim->used))
			victim = e;
	}
	uint64_t bsig = sig_mix(sig_mix(sig_mix(0xcbf29ce484222325ULL,
						(uint64_t)b->state),
					(uint64_t)b->updated_ms),
				(uint64_t)b->finished_ms);
	if (hit && !sig) {
		struct waves_ctx wc = { .rc = rc, .sig = bsig };
		store_wave_list(rc->api->deps.store, b->id, wave_json_cb, &wc);
		sig = wc.sig;
	}
	if (hit && hit->sig == sig && now >= hit->at_ns &&
	    now < hit->until_ns && (hit->details || !details)) {
		hit->used = ++bcache_tick;
		json_t *o = json_deep_copy(hit->block);
		if (o && !details) {
			json_object_del(o, "by_group");
			json_object_del(o, "by_channel");
		}
		if (o)
			return o;
	}
	json_t *o = count_block_compute(rc, b, details);
	uint64_t end = uv_hrtime(), cost = end - now;
	int64_t rows = 0;
	const char *key;
	json_t *v;
	json_object_foreach(json_object_get(o, "counts"), key, v)
		rows += json_integer_value(v);
	bool keep = o && cost >= BCACHE_MIN_NS && rows >= BCACHE_MIN_ROWS;
	struct bcache *e = hit ? hit : victim;
	if (hit || keep) {
		json_decref(e->block);
		*e = (struct bcache){ 0 };
	}
	if (keep) {
		if (!sig) {
			struct waves_ctx wc = { .rc = rc, .sig = bsig };
			store_wave_list(rc->api->deps.store, b->id,
					wave_json_cb, &wc);
			sig = wc.sig;
		}
		*e = (struct bcache){ .id = b->id, .sig = sig, .at_ns = end,
				      .until_ns = end + BCACHE_TIMES * cost,
				      .used = ++bcache_tick,
				      .details = details,
				      .block = json_deep_copy(o) };
		if (!e->block)
			e->id = 0;
	}
	return o;
}

/* A broadcast as JSON; with details, the counts by group and channel and
 * the waves. */
static json_t *broadcast_json(struct rctx *rc, const struct broadcast *b,
			      bool details)
{
	struct store *s = rc->api->deps.store;
	_cleanup_(json_decrefp) json_t *sum = prune_summary(s, b);
	json_t *groups = json_array();
	for (size_t i = 0; groups && i < b->ngroups; i++) {
		struct group_rec g = { 0 };
		if (store_group_get(s, b->group_ids[i], &g) == 0)
			json_array_append_new(groups, json_string(g.code));
		group_rec_clear(&g);
	}
	json_t *rem = json_array();
	for (size_t i = 0; rem && i < b->nreminders; i++)
		json_array_append_new(rem, json_integer(b->reminder_ms[i]));
	char when[64] = "";
	if (b->kind == BK_MEETING)
		broadcast_time_text(rc->api->deps.bc, b->starts_ms, when,
				    sizeof when);
	char send_text[64];
	broadcast_time_text(rc->api->deps.bc, b->send_at_ms, send_text,
			    sizeof send_text);
	_cleanup_(json_decrefp) json_t *waves = NULL;
	uint64_t sig = 0;
	if (details) {
		waves = json_array();
		struct waves_ctx wc = {
			.rc = rc, .a = waves,
			.sig = sig_mix(sig_mix(sig_mix(0xcbf29ce484222325ULL,
						       (uint64_t)b->state),
					       (uint64_t)b->updated_ms),
				       (uint64_t)b->finished_ms) };
		store_wave_list(s, b->id, wave_json_cb, &wc);
		sig = wc.sig;
	}
	_cleanup_(json_decrefp) json_t *block = NULL;
	json_t *counts = json_object();
	for (int st = 0; counts && st < DS_MAX; st++)
		json_object_set_new(counts, delivery_status_name(st),
				    json_integer(0));
	if (sum && json_is_object(json_object_get(sum, "counts"))) {
		json_object_update(counts, json_object_get(sum, "counts"));
	} else if (!sum) {
		block = count_block(rc, b, details, sig);
		json_object_update(counts, json_object_get(block, "counts"));
	}
	int64_t total = 0, fin = 0;
	const char *key;
	json_t *v;
	json_object_foreach(counts, key, v) {
		total += json_integer_value(v);
		if (!streq(key, "queued") && !streq(key, "sending"))
			fin += json_integer_value(v);
	}
	json_t *o = json_pack(
		"{s:I,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:s,s:I,s:s,s:I,"
		"s:o,s:b,s:o,s:o,s:I,s:I,s:o,s:o,s:{s:I,s:I,s:f}}",
		"id", (json_int_t)b->id, "kind", bcast_kind_name(b->kind),
		"priority", b->urgent ? "urgent" : "normal",
		"state", bcast_state_name(b->state), "title", b->title,
		"body", jstr_or_null(b->body), "place", jstr_or_null(b->place),
		"agenda", jstr_or_null(b->agenda),
		"starts_ms", jtime(b->starts_ms),
		"starts_text", b->kind == BK_MEETING ? json_string(when) :
							json_null(),
		"send_at_text", send_text,
		"send_at_ms", (json_int_t)b->send_at_ms,
		"expires_text", "",
		"expires_ms", (json_int_t)b->expires_ms,
		"groups", groups, "all_groups", b->all_groups,
		"reminders_ms", rem,
		"idempotency_key", jstr_or_null(b->idem_key),
		"created_ms", (json_int_t)b->created_ms,
		"updated_ms", (json_int_t)b->updated_ms,
		"finished_ms", jtime(b->finished_ms),
		"counts", counts,
		"progress", "total", (json_int_t)total, "final",
		(json_int_t)fin, "percent",
		total ? (double)fin * 100.0 / (double)total : 0.0);
	if (o && sum) {
		/* retention kept these figures, not the rows behind them */
		json_object_set_new(o, "unconfirmed",
				    summary_member(sum, "unconfirmed"));
		json_object_set_new(o, "started_ms",
				    summary_member(sum, "started_ms"));
		json_object_set_new(o, "eta_ms", json_null());
		if (json_object_get(sum, "rsvp"))
			json_object_set_new(o, "rsvp",
					    summary_member(sum, "rsvp"));
	} else if (o) {
		static const char *const keys[] = { "unconfirmed",
						    "started_ms", "eta_ms",
						    "rsvp" };
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
			json_t *m = json_object_get(block, keys[i]);
			if (m)
				json_object_set(o, keys[i], m);
			else if (i < 3)
				json_object_set_new(o, keys[i], i == 0 ?
						    json_integer(0) :
						    json_null());
		}
	}
	if (o) {
		char exp[64];
		broadcast_time_text(rc->api->deps.bc, b->expires_ms, exp,
				    sizeof exp);
		json_object_set_new(o, "expires_text", json_string(exp));
		json_object_set_new(o, "requested_by",
				    jstr_or_null(b->requested_by));
		json_object_set_new(o, "approved_by",
				    jstr_or_null(b->approved_by));
		json_object_set_new(o, "approved_at", jtime(b->approved_ms));
		json_int_t pruned = b->pruned_ms;
		if (sum && json_is_integer(json_object_get(sum, "pruned_ms")))
			pruned = json_integer_value(json_object_get(
				sum, "pruned_ms"));
		json_object_set_new(o, "pruned_at", jtime(pruned));
	}
	if (o && details) {
		json_t *bg = json_object(), *bch = json_object();
		if (sum) {
			json_object_update(bg, json_object_get(sum,
							       "by_group"));
			json_object_update(bch, json_object_get(sum,
								"by_channel"));
		} else {
			json_object_update(bg, json_object_get(block,
							       "by_group"));
			json_object_update(bch, json_object_get(block,
								"by_channel"));
		}
		json_object_set_new(o, "waves", waves ? json_incref(waves) :
							json_array());
		json_object_set_new(o, "by_group", bg);
		json_object_set_new(o, "by_channel", bch);
	}
	return o;
}

/* The body of a broadcast: the Idempotency-Key header wins. */
static void breq_from_json(struct rctx *rc, json_t *o,
			   struct broadcast_req *req,
			   struct api_breq_storage *st, struct verrors *ve)
{
	api_body_broadcast(o, MHD_lookup_connection_value(
				   rc->conn, MHD_HEADER_KIND,
				   "Idempotency-Key"), req, st, ve);
}

static void h_broadcast_create(struct rctx *rc)
{
	json_t *o = body_object(rc);
	if (!o)
		return;
	struct verrors ve = { 0 };
	struct broadcast_req req;
	struct api_breq_storage st;
	breq_from_json(rc, o, &req, &st, &ve);
	struct broadcast b = { 0 };
	bool existing = false;
	int r = ve.n ? -EINVAL : broadcast_build(rc->api->deps.bc, &req,
						 util_now_ms(), &ve, &b);
	if (r == 0) {
		/* Who may send this, and whether it waits for a second
		 * official: decided on what the request means. */
		bool ok = api__may(rc, b.urgent ? AA_SEND_URGENT : AA_SEND,
				   b.urgent ? "send urgent notices" :
				   "send broadcasts") &&
			  api__broadcast_ok(rc, &b, "send to");
		req.requested_by = rc->p ? rc->p->name : NULL;
		req.awaiting_approval = auth_needs_approval(
			rc->sh->approval, b.urgent, b.all_groups);
		broadcast_clear(&b);
		if (!ok) {
			verrors_clear(&ve);
			json_decref(o);
			return;
		}
		r = broadcast_create(rc->api->deps.bc, &req, &ve, &b,
				     &existing);
	}
	if (r == 0 && (!existing || api__broadcast_ok(rc, &b, "read")))
		api__reply_json(rc, existing ? 200 : 201,
			   broadcast_json(rc, &b, true));
	else if (r == -ENODEV)
		api__reply_error(rc, 409, "no_route", "no channel is configured: add "
			    "[channel.NAME] sections and a [route] chain to "
			    "loaxa.ini, then reload");
	else if (r < 0)
		reply_errno(rc, r, &ve, "broadcast");
	broadcast_clear(&b);
	verrors_clear(&ve);
	json_decref(o);
}

static void h_broadcast_preview(struct rctx *rc)
{
	if (!api__may(rc, AA_SEND, "preview broadcasts"))
		return;
	json_t *o = body_object(rc);
	if (!o)
		return;
	struct verrors ve = { 0 };
	struct broadcast_req req;
	struct api_breq_storage st;
	breq_from_json(rc, o, &req, &st, &ve);
	struct broadcast b = { 0 };
	int r = ve.n ? -EINVAL : broadcast_build(rc->api->deps.bc, &req,
						 util_now_ms(), &ve, &b);
	struct engine_preview p = { 0 };
	if (r == 0)
		r = engine_preview(rc->api->deps.engine, &b,
				   "Nguyễn Văn An", "Nhóm dân cư 2A", &p);
	if (r == 0) {
		json_t *a = json_array();
		for (size_t i = 0; a && i < p.n; i++) {
			json_t *m = json_pack("{s:s,s:s,s:s}", "channel",
					      p.m[i].channel, "driver",
					      p.m[i].driver, "text",
					      p.m[i].text);
			if (m && p.m[i].segments >= 0)
				json_object_set_new(m, "sms", json_pack(
					"{s:s,s:i,s:I}", "encoding",
					sms_encoding_name(p.m[i].encoding),
					"segments", p.m[i].segments, "units",
					(json_int_t)p.m[i].units));
			json_array_append_new(a, m);
		}
		api__reply_json(rc, 200, json_pack("{s:o,s:i}", "messages", a,
					      "sms_warn_segments",
					      (int)rc->api->sms_warn));
	} else {
		reply_errno(rc, r, &ve, "broadcast");
	}
	engine_preview_clear(&p);
	broadcast_clear(&b);
	verrors_clear(&ve);
	json_decref(o);
}

static int blist_cb(const struct broadcast *b, void *ud)
{
	struct page *pg = ud;
	if (!page_take(pg, b->id, !pg->filter ||
		       api__broadcast_allowed(pg->rc, b)))
		return pg->more;
	return page_add(pg, broadcast_json(pg->rc, b, false));
}

static int broadcasts_read(struct page *pg, void *f)
{
	return store_broadcast_list(pg->rc->api->deps.store, f, blist_cb, pg);
}

static void h_broadcasts_list(struct rctx *rc)
{
	int64_t limit, before;
	if (query_int(rc, "limit", 1, 200, 50, &limit) < 0 ||
	    query_int(rc, "before", 0, INT64_MAX, 0, &before) < 0)
		return;
	struct broadcast_filter f = { .state = -1, .before_id = before,
				      .limit = (uint32_t)limit + 1 };
	const char *st = api__query(rc, "state");
	if (st && *st) {
		for (int i = 0; i < BS_MAX; i++)
			if (streq(st, bcast_state_name(i)))
				f.state = i;
		if (f.state < 0)
			return api__reply_error(rc, 400, "bad_request", "state must "
					   "be scheduled, active, paused, "
					   "cancelled, done or "
					   "awaiting_approval");
	}
	if (!api__may(rc, AA_READ, "read broadcasts"))
		return;
	/* a manager's broadcasts only: newest first, down to id 1 */
	struct page pg;
	page_init(&pg, rc, api__filtered(rc), limit);
	pg.read = broadcasts_read;
	int r = page_read(&pg, &f, &f.limit, &f.before_id, 500, 1);
	if (r < 0) {
		json_decref(pg.a);
		return reply_errno(rc, r, NULL, "broadcasts");
	}
	page_reply(&pg, "broadcasts", "next_before");
}

static int broadcast_id(struct rctx *rc, int64_t *ret)
{
	if (util_parse_int64(rc->seg[1], 1, INT64_MAX, ret) < 0) {
		api__reply_error(rc, 404, "not_found", "no such broadcast");
		return -EINVAL;
	}
	return 0;
}

static void reply_broadcast(struct rctx *rc, int64_t id, unsigned status)
{
	struct broadcast b = { 0 };
	int r = store_broadcast_get(rc->api->deps.store, id, &b);
	if (r == 0)
		api__reply_json(rc, status, broadcast_json(rc, &b, true));
	else
		reply_errno(rc, r, NULL, "broadcast");
	broadcast_clear(&b);
}

void api__reply_broadcast(struct rctx *rc, int64_t id, unsigned status)
{
	reply_broadcast(rc, id, status);
}

/* The broadcast of the path, when the principal may see it (and, with
 * steer, send it: cancel, pause, resume, retry). Answers itself when
 * not; *ret is cleared by the caller. */
static int broadcast_checked(struct rctx *rc, bool steer, int64_t *ret_id)
{
	if (broadcast_id(rc, ret_id) < 0)
		return -EINVAL;
	snprintf(rc->audit_target, sizeof rc->audit_target,
		 "broadcast %" PRId64, *ret_id);
	struct broadcast b = { 0 };
	int r = store_broadcast_get(rc->api->deps.store, *ret_id, &b);
	if (r < 0) {
		reply_errno(rc, r, NULL, "broadcast");
		return r;
	}
	bool ok = api__broadcast_ok(rc, &b, steer ? "steer" : "read") &&
		  (!steer || api__may(rc, b.urgent ? AA_SEND_URGENT : AA_SEND,
				      b.urgent ? "steer urgent notices" :
				      "steer broadcasts"));
	broadcast_clear(&b);
	return ok ? 0 : -EACCES;
}

static void h_broadcast_get(struct rctx *rc)
{
	int64_t id;
	if (broadcast_checked(rc, false, &id) == 0)
		reply_broadcast(rc, id, 200);
}

static void broadcast_action(struct rctx *rc,
			     int (*fn)(struct broadcaster *, int64_t),
			     const char *what)
{
	int64_t id;
	if (broadcast_checked(rc, true, &id) < 0)
		return;
	int r = fn(rc->api->deps.bc, id);
	if (r == -EALREADY)
		return api__reply_error(rc, 409, "wrong_state", "the broadcast "
				   "cannot be %s in its present state", what);
	if (r < 0)
		return reply_errno(rc, r, NULL, "broadcast");
	reply_broadcast(rc, id, 200);
}

static void h_broadcast_cancel(struct rctx *rc)
{
	broadcast_action(rc, broadcast_cancel, "cancelled");
}

static void h_broadcast_pause(struct rctx *rc)
{
	broadcast_action(rc, broadcast_pause, "paused");
}

static void h_broadcast_resume(struct rctx *rc)
{
	broadcast_action(rc, broadcast_resume, "resumed");
}

static void h_broadcast_retry(struct rctx *rc)
{
	int64_t id;
	if (broadcast_checked(rc, true, &id) < 0)
		return;
	int n = broadcast_retry(rc->api->deps.bc, id);
	if (n == -EALREADY)
		return api__reply_error(rc, 409, "wrong_state", "a cancelled "
				   "broadcast cannot be retried");
	if (n < 0)
		return reply_errno(rc, n, NULL, "broadcast");
	struct broadcast b = { 0 };
	int r = store_broadcast_get(rc->api->deps.store, id, &b);
	if (r == 0)
		api__reply_json(rc, 200, json_pack("{s:i,s:o}", "requeued", n,
					      "broadcast",
					      broadcast_json(rc, &b, false)));
	else
		reply_errno(rc, r, NULL, "broadcast");
	broadcast_clear(&b);
}

struct dlist_ctx {
	struct page pg;
	int64_t unconfirmed_before;   /* sent before this: unconfirmed */
};

static int dlist_cb(const struct delivery_row *d, void *ud)
{
	struct dlist_ctx *c = ud;
	if (!page_take(&c->pg, d->id, true))
		return c->pg.more;
	json_t *o = json_pack(
		"{s:I,s:i,s:I,s:o,s:o,s:o,s:o,s:s,s:o,s:o,s:i,s:b,s:o,s:o,"
		"s:o,s:o,s:I,s:o,s:o}",
		"id", (json_int_t)d->id, "wave", d->seq,
		"household_id", (json_int_t)d->household_id,
		"name", jstr_or_null(d->name),
		"group", jstr_or_null(d->group_code),
		"address", jstr_or_null(d->address),
		"phone", jstr_or_null(d->phone),
		"status", delivery_status_name(d->status),
		"channel", jstr_or_null(d->channel),
		"recipient", jstr_or_null(d->recipient),
		"attempts", d->attempts, "possible_duplicate", d->possible_dup,
		"msg_id", jstr_or_null(d->msg_id),
		"code", jstr_or_null(d->code),
		"message", jstr_or_null(d->message),
		"sms_segments", d->sms_segments >= 0 ?
			json_integer(d->sms_segments) : json_null(),
		"updated_ms", (json_int_t)d->updated_ms,
		"sent_ms", jtime(d->sent_ms), "final_ms", jtime(d->final_ms));
	if (o)
		json_object_set_new(o, "unconfirmed", json_boolean(
			d->status == DS_SENT && d->sent_ms > 0 &&
			d->sent_ms < c->unconfirmed_before));
	return page_add(&c->pg, o);
}

static int deliveries_read(struct page *pg, void *f)
{
	return store_delivery_list(pg->rc->api->deps.store, f, dlist_cb, pg);
}

static void h_deliveries(struct rctx *rc)
{
	int64_t id, limit, after;
	if (broadcast_checked(rc, false, &id) < 0 ||
	    query_int(rc, "limit", 1, 1000, 100, &limit) < 0 ||
	    query_int(rc, "after", 0, INT64_MAX, 0, &after) < 0)
		return;
	struct delivery_filter f = { .broadcast_id = id, .status = -1,
				     .after_id = after,
				     .limit = (uint32_t)limit + 1 };
	int64_t unc_before = util_now_ms() - (int64_t)rc->api->unconfirmed_ms;
	const char *st = api__query(rc, "status");
	if (st && streq(st, "unconfirmed")) {
		/* Sent, and no receipt since unconfirmed_after. */
		f.status = DS_SENT;
		f.sent_before_ms = unc_before > 0 ? unc_before : 1;
	} else if (st && *st) {
		enum delivery_status ds;
		if (delivery_status_parse(st, &ds) < 0)
			return api__reply_error(rc, 400, "bad_request", "unknown "
					   "status '%.32s'", st);
		f.status = (int)ds;
	}
	const char *ch = api__query(rc, "channel");
	f.channel = ch && *ch ? ch : NULL;
	const char *gname = api__query(rc, "group");
	if (gname && *gname) {
		struct group_rec g = { 0 };
		int r = directory_group_resolve(rc->api->deps.dir, gname, &g);
		if (r < 0)
			return reply_errno(rc, r, NULL, "group");
		f.group_id = g.id;
		group_rec_clear(&g);
	}
	struct broadcast b = { 0 };
	int r = store_broadcast_get(rc->api->deps.store, id, &b);
	json_t *sum = r == 0 ? prune_summary(rc->api->deps.store, &b) : NULL;
	bool pruned = b.pruned_ms || sum;
	json_decref(sum);
	broadcast_clear(&b);
	if (r < 0)
		return reply_errno(rc, r, NULL, "broadcast");
	if (pruned)   /* retention kept the counts only */
		return api__reply_json(rc, 200, json_pack(
			"{s:[],s:n,s:b}", "deliveries", "next_after",
			"pruned", 1));
	struct dlist_ctx c = { .unconfirmed_before = unc_before };
	page_init(&c.pg, rc, false, limit);
	c.pg.read = deliveries_read;
	r = page_read(&c.pg, &f, &f.limit, &f.after_id, 0, 0);
	if (r < 0) {
		json_decref(c.pg.a);
		return reply_errno(rc, r, NULL, "deliveries");
	}
	page_reply(&c.pg, "deliveries", "next_after");
}

/* ---- a household's history; replies ---- */

static json_t *rsvp_json(int rsvp)
{
	return rsvp == 1 ? json_string("yes") :
	       rsvp == 2 ? json_string("no") : json_null();
}

static json_t *id_or_null(int64_t id)
{
	return id ? json_integer(id) : json_null();
}

static const char *provider_name(int provider)
{
	return provider >= 0 && provider < CHD_MAX ?
		       channel_driver_name((enum channel_driver)provider) :
		       "unknown";
}

/* The history's paging key as text: "<at_ms>.d<id>" for a delivery,
 * "<at_ms>.r<id>" for a reply. */
static json_t *history_key_json(const struct history_key *k)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%" PRId64 ".%c%" PRId64, k->at_ms,
		 k->kind == HK_REPLY ? 'r' : 'd', k->id);
	return json_string(buf);
}

static int history_key_parse(const char *v, struct history_key *ret)
{
	char num[24];
	const char *dot = strchr(v, '.');
	if (!dot || (size_t)(dot - v) >= sizeof num ||
	    (dot[1] != 'd' && dot[1] != 'r'))
		return -EINVAL;
	memcpy(num, v, (size_t)(dot - v));
	num[dot - v] = '\0';
	if (util_parse_int64(num, 0, INT64_MAX, &ret->at_ms) < 0 ||
	    util_parse_int64(dot + 2, 1, INT64_MAX, &ret->id) < 0)
		return -EINVAL;
	ret->kind = dot[1] == 'r' ? HK_REPLY : HK_DELIVERY;
	return 0;
}

struct hist_ctx {
	struct page pg;
	struct history_key last;
};

static json_t *history_entry_json(const struct history_row *h)
{
	if (h->key.kind == HK_REPLY)
		return json_pack(
			"{s:s,s:I,s:I,s:o,s:s,s:I,s:o,s:s}",
			"type", "reply", "at_ms", (json_int_t)h->key.at_ms,
			"id", (json_int_t)h->key.id,
			"broadcast_id", id_or_null(h->broadcast_id),
			"text", h->text ? h->text : "",
			"received_ms", (json_int_t)h->received_ms,
			"rsvp", rsvp_json(h->rsvp),
			"provider", provider_name(h->provider));
	return json_pack(
		"{s:s,s:I,s:I,s:I,s:o,s:s,s:i,s:s,s:o,s:o,s:o,s:o,s:o,s:o,"
		"s:o,s:I}",
		"type", "delivery", "at_ms", (json_int_t)h->key.at_ms,
		"id", (json_int_t)h->key.id,
		"broadcast_id", (json_int_t)h->broadcast_id,
		"title", jstr_or_null(h->title),
		"kind", bcast_kind_name(h->bcast_kind), "wave", h->seq,
		"status", delivery_status_name(h->status),
		"channel", jstr_or_null(h->channel),
		"recipient", jstr_or_null(h->recipient),
		"code", jstr_or_null(h->code),
		"message", jstr_or_null(h->message),
		"sent_ms", jtime(h->sent_ms),
		"delivered_ms", jtime(h->delivered_ms),
		"read_ms", jtime(h->read_ms),
		"updated_ms", (json_int_t)h->updated_ms);
}

static int history_cb(const struct history_row *h, void *ud)
{
	struct hist_ctx *c = ud;
	if (!page_take(&c->pg, h->key.id, true))
		return c->pg.more;
	c->last = h->key;
	return page_add(&c->pg, history_entry_json(h));
}

static void h_household_history(struct rctx *rc)
{
	struct store *s = rc->api->deps.store;
	int64_t id, limit;
	if (path_id(rc, 1, &id) < 0 ||
	    query_int(rc, "limit", 1, 1000, 100, &limit) < 0)
		return;
	struct history_key after = { 0 };
	const char *av = api__query(rc, "after");
	bool paged = av && *av;
	if (paged && history_key_parse(av, &after) < 0)
		return api__reply_error(rc, 400, "bad_request", "parameter "
					"after must be a next_after of this "
					"list");
	struct household h = { 0 };
	json_t *hj = NULL;
	int r = store_household_get(s, id, &h);
	/* a removed household's history: for those who see every group */
	bool ok = r == 0 ? api__group_ok(rc, h.group_id, "read") :
		  r != -ENOENT || api__may(rc, AA_APPROVE,
					   "read removed households");
	if (r == 0 && ok)
		hj = household_json(&h);
	household_clear(&h);
	if (!ok)
		return;
	if (r < 0 && r != -ENOENT)
		return reply_errno(rc, r, NULL, "household");
	struct hist_ctx c;
	page_init(&c.pg, rc, false, limit);
	r = c.pg.a ? store_household_history(s, id, paged ? &after : NULL,
					     (uint32_t)limit + 1, history_cb,
					     &c) : -ENOMEM;
	if (r == 0 && !hj && !paged && c.pg.n == 0)
		r = -ENOENT;   /* no household, and nothing it left behind */
	if (r < 0) {
		json_decref(hj);
		json_decref(c.pg.a);
		return reply_errno(rc, r, NULL, "household");
	}
	api__reply_json(rc, 200, json_pack(
		"{s:I,s:o,s:o,s:o}", "household_id", (json_int_t)id,
		"household", hj ? hj : json_null(), "entries", c.pg.a,
		"next_after", c.pg.more ? history_key_json(&c.last) :
					  json_null()));
}

static int rlist_cb(const struct reply_row *p, void *ud)
{
	struct page *pg = ud;
	if (!page_take(pg, p->id, !pg->filter ||
		       api__group_code_allowed(pg->rc, p->group_code)))
		return pg->more;
	return page_add(pg, json_pack(
		"{s:I,s:I,s:o,s:o,s:o,s:s,s:o,s:o,s:s,s:s}",
		"id", (json_int_t)p->id,
		"received_ms", (json_int_t)p->received_ms,
		"household_id", id_or_null(p->household_id),
		"name", jstr_or_null(p->name),
		"group", jstr_or_null(p->group_code),
		"text", p->text ? p->text : "",
		"rsvp", rsvp_json(p->rsvp),
		"broadcast_id", id_or_null(p->broadcast_id),
		"provider", provider_name(p->provider),
		"sender", p->sender ? p->sender : ""));
}

static int replies_read(struct page *pg, void *f)
{
	return store_reply_list(pg->rc->api->deps.store, f, rlist_cb, pg);
}

static void h_replies(struct rctx *rc)
{
	int64_t limit, after, bid;
	if (query_int(rc, "limit", 1, 1000, 100, &limit) < 0 ||
	    query_int(rc, "after", 0, INT64_MAX, 0, &after) < 0 ||
	    query_int(rc, "broadcast", 1, INT64_MAX, 0, &bid) < 0)
		return;
	struct reply_filter f = { .broadcast_id = bid, .rsvp = -1,
				  .after_id = after,
				  .limit = (uint32_t)limit + 1 };
	const char *rsvp = api__query(rc, "rsvp");
	if (rsvp && *rsvp) {
		if (streq(rsvp, "yes"))
			f.rsvp = 1;
		else if (streq(rsvp, "no"))
			f.rsvp = 2;
		else if (streq(rsvp, "none"))
			f.rsvp = 0;
		else
			return api__reply_error(rc, 400, "bad_request", "rsvp "
						"must be yes, no or none");
	}
	const char *gname = api__query(rc, "group");
	if (gname && *gname) {
		struct group_rec g = { 0 };
		int r = directory_group_resolve(rc->api->deps.dir, gname, &g);
		if (r < 0)
			return reply_errno(rc, r, NULL, "group");
		f.group_id = g.id;
		group_rec_clear(&g);
		if (!api__group_ok(rc, f.group_id, "read"))
			return;
	}
	if (bid) {
		struct broadcast b = { 0 };
		int r = store_broadcast_get(rc->api->deps.store, bid, &b);
		bool ok = r == 0 && api__broadcast_ok(rc, &b, "read");
		broadcast_clear(&b);
		if (r < 0)
			return reply_errno(rc, r, NULL, "broadcast");
		if (!ok)
			return;
	}
	if (!api__may(rc, AA_READ, "read replies"))
		return;
	struct page pg;
	page_init(&pg, rc, api__filtered(rc) && !f.group_id, limit);
	pg.read = replies_read;
	int r = page_read(&pg, &f, &f.limit, &f.after_id, 1000, 0);
	if (r < 0) {
		json_decref(pg.a);
		return reply_errno(rc, r, NULL, "replies");
	}
	page_reply(&pg, "replies", "next_after");
}

/* A consistent copy of the database, streamed back: written next to the
 * database (same file system, same owner), opened, unlinked, then sent
 * from the open file. */
static void h_backup(struct rctx *rc)
{
	if (!api__may(rc, AA_BACKUP, "make backups"))
		return;
	struct store *s = rc->api->deps.store;
	char tmp[4200], err[512];
	snprintf(tmp, sizeof tmp, "%s.backup-%d-%" PRId64, store_path(s),
		 (int)getpid(), util_now_ms());
	int r = store_backup(s, tmp, err, sizeof err);
	if (r < 0) {
		unlink(tmp);
		log_err(LOG_API, "%s", err);
		return api__reply_error(rc, r == -ENOSPC ? 503 : 500,
					r == -ENOSPC ? "unavailable" :
					"internal", "%s", err);
	}
	int fd = open(tmp, O_RDONLY | O_CLOEXEC);
	unlink(tmp);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return api__reply_error(rc, 500, "internal", "cannot read the "
					"backup: %s", strerror(errno));
	}
	rc->fd = fd;
	rc->fd_size = (uint64_t)st.st_size;
	rc->status = 200;
	rc->ctype = "application/vnd.sqlite3";
	rc->disposition = "attachment; filename=\"loaxa-backup.db\"";
	log_info(LOG_API, "backup: %" PRIu64 " bytes", rc->fd_size);
}

/* GET /metrics: the Prometheus text exposition (metrics.h). */
static void h_metrics(struct rctx *rc)
{
	struct buf out;
	buf_init(&out, METRICS_BUF_MAX);
	int r = metrics_render(rc->api->metrics, rc->api->deps.store,
			       rc->api->deps.engine, &out);
	if (r < 0) {
		buf_free(&out);
		return reply_errno(rc, r, NULL, "metrics");
	}
	rc->status = 200;
	rc->raw_len = out.len;
	rc->raw = buf_steal(&out);
	rc->ctype = METRICS_CONTENT_TYPE;
}

/* ---- routing ---- */

/* Patterns are path segments after "/v1"; "*" matches one segment. */
static const struct route {
	const char *method;
	const char *path[4];
	void (*handler)(struct rctx *rc);
} routes[] = {
	{ "GET", { "status" }, h_status },
	{ "GET", { "groups" }, h_groups_list },
	{ "POST", { "groups" }, h_group_add },
	{ "GET", { "groups", "*" }, h_group_get },
	{ "PATCH", { "groups", "*" }, h_group_rename },
	{ "DELETE", { "groups", "*" }, h_group_delete },
	{ "GET", { "households" }, h_households_list },
	{ "POST", { "households" }, h_household_add },
	{ "GET", { "households", "*" }, h_household_get },
	{ "PATCH", { "households", "*" }, h_household_edit },
	{ "DELETE", { "households", "*" }, h_household_delete },
	{ "POST", { "households", "*", "opt-out" }, h_opt_out },
	{ "POST", { "households", "*", "opt-in" }, h_opt_in },
	{ "POST", { "import" }, h_import },
	{ "GET", { "export" }, h_export },
	{ "GET", { "broadcasts" }, h_broadcasts_list },
	{ "POST", { "broadcasts" }, h_broadcast_create },
	{ "POST", { "broadcasts", "preview" }, h_broadcast_preview },
	{ "GET", { "broadcasts", "*" }, h_broadcast_get },
	{ "POST", { "broadcasts", "*", "cancel" }, h_broadcast_cancel },
	{ "POST", { "broadcasts", "*", "pause" }, h_broadcast_pause },
	{ "POST", { "broadcasts", "*", "resume" }, h_broadcast_resume },
	{ "POST", { "broadcasts", "*", "retry" }, h_broadcast_retry },
	{ "GET", { "broadcasts", "*", "deliveries" }, h_deliveries },
	{ "POST", { "backup" }, h_backup },
	{ "GET", { "households", "*", "history" }, h_household_history },
	{ "GET", { "replies" }, h_replies },
	/* accounts, sessions, approval, audit, logs: api-auth.c */
	{ "POST", { "login" }, api__h_login },
	{ "POST", { "logout" }, api__h_logout },
	{ "GET", { "me" }, api__h_me },
	{ "GET", { "users" }, api__h_users_list },
	{ "POST", { "users" }, api__h_user_add },
	{ "GET", { "users", "*" }, api__h_user_get },
	{ "PATCH", { "users", "*" }, api__h_user_patch },
	{ "GET", { "users", "*", "tokens" }, api__h_tokens_list },
	{ "POST", { "users", "*", "tokens" }, api__h_token_add },
	{ "DELETE", { "users", "*", "tokens", "*" }, api__h_token_delete },
	{ "GET", { "audit" }, api__h_audit },
	{ "POST", { "broadcasts", "*", "approve" }, api__h_approve },
	{ "POST", { "broadcasts", "*", "reject" }, api__h_reject },
	{ "GET", { "log" }, api__h_log_get },
	{ "PUT", { "log" }, api__h_log_put },
};

static bool route_matches(const struct route *rt, const struct rctx *rc)
{
	size_t n = 0;
	while (n < ARRAY_SIZE(rt->path) && rt->path[n])
		n++;
	if (n != rc->nseg)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!streq(rt->path[i], "*") && !streq(rt->path[i], rc->seg[i]))
			return false;
	return true;
}

/* Split "/v1/a/b" into segments in a scratch copy. */
static bool split_path(char *path, struct rctx *rc)
{
	if (strncmp(path, "/v1/", 4) != 0)
		return false;
	char *p = path + 4;
	while (*p) {
		if (rc->nseg == API_MAX_SEGMENTS)
			return false;
		rc->seg[rc->nseg++] = p;
		char *slash = strchr(p, '/');
		if (!slash)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	for (size_t i = 0; i < rc->nseg; i++)
		if (!*rc->seg[i])
			return false;
	return rc->nseg > 0;
}

/* Query parameters must be UTF-8 text. */
static enum MHD_Result query_utf8_cb(void *cls, enum MHD_ValueKind kind,
				     const char *key, const char *value)
{
	bool *bad = cls;
	(void)kind;
	if (!text_utf8_valid(key, strlen(key)) ||
	    (value && !text_utf8_valid(value, strlen(value)))) {
		*bad = true;
		return MHD_NO;
	}
	return MHD_YES;
}

static bool query_bad_utf8(struct MHD_Connection *conn)
{
	bool bad = false;
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_utf8_cb,
				  &bad);
	return bad;
}

static void route_pattern(struct rctx *rc, const struct route *rt)
{
	size_t k = 0;
	rc->pattern[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(rt->path) && rt->path[i]; i++)
		k += (size_t)snprintf(rc->pattern + (k < sizeof rc->pattern ?
						     k : sizeof rc->pattern - 1),
				      k < sizeof rc->pattern ?
				      sizeof rc->pattern - k : 0, "%s%s",
				      i ? "/" : "", rt->path[i]);
}

/* The route of a request (for the audit of one refused early). */
static void find_pattern(struct rctx *rc, const char *url)
{
	_cleanup_free_ char *path = strdup(url);
	if (!path || !split_path(path, rc)) {
		rc->nseg = 0;
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++)
		if (route_matches(&routes[i], rc) &&
		    streq(routes[i].method, rc->method))
			route_pattern(rc, &routes[i]);
	rc->nseg = 0;   /* the segments pointed into path */
}

/* Whether a request needs nobody: the login, and the console's files. */
static bool needs_no_principal(const struct api *a, const char *url,
			       const char *method)
{
	if (streq(url, "/v1/login"))
		return true;
	if (!a->sh.console || (!streq(method, "GET") && !streq(method, "HEAD")))
		return false;
	if (streq(url, "/"))
		return true;
	for (size_t i = 0; i < console_nassets; i++)
		if (streq(console_assets[i].path, url))
			return true;
	return false;
}

static void dispatch(struct rctx *rc, const char *url)
{
	_cleanup_free_ char *path = strdup(url);
	if (!path)
		return api__reply_error(rc, 500, "internal", "out of memory");
	if (!text_utf8_valid(path, strlen(path)))
		return api__reply_error(rc, 400, "bad_request",
				   "the path is not valid UTF-8");
	if (query_bad_utf8(rc->conn))
		return api__reply_error(rc, 400, "bad_request", "a query parameter "
				   "is not valid UTF-8");
	if (streq(path, "/metrics")) {
		if (!streq(rc->method, "GET"))
			return api__reply_error(rc, 405, "method_not_allowed",
						"%s is not allowed here",
						rc->method);
		if (!api__may(rc, AA_METRICS, "read metrics"))
			return;
		return h_metrics(rc);
	}
	if (rc->tcp && rc->sh->console && strncmp(path, "/v1/", 4) != 0 &&
	    (streq(rc->method, "GET") || streq(rc->method, "HEAD")) &&
	    api__console_serve(rc, path, MHD_lookup_connection_value(
				       rc->conn, MHD_HEADER_KIND,
				       "If-None-Match")))
		return;
	if (!split_path(path, rc))
		return api__reply_error(rc, 404, "not_found", "no such endpoint: %s",
				   "see docs/api.md");
	bool path_found = false;
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		if (!route_matches(&routes[i], rc))
			continue;
		path_found = true;
		if (streq(routes[i].method, rc->method)) {
			route_pattern(rc, &routes[i]);
			routes[i].handler(rc);
			/* the segments point into path, freed on return */
			api__audit_target(rc);
			rc->nseg = 0;
			return;
		}
	}
	if (path_found)
		return api__reply_error(rc, 405, "method_not_allowed",
				   "%s is not allowed here", rc->method);
	api__reply_error(rc, 404, "not_found", "no such endpoint");
}

static enum MHD_Result queue(struct MHD_Connection *conn, struct rctx *rc)
{
	struct MHD_Response *resp;
	if (rc->json) {
		char *s = json_dumps(rc->json, JSON_COMPACT);
		if (!s)
			return MHD_NO;
		size_t n = strlen(s);
		s[n] = '\0';
		resp = MHD_create_response_from_buffer(n, s,
						       MHD_RESPMEM_MUST_FREE);
		if (!resp) {
			free(s);
			return MHD_NO;
		}
		MHD_add_response_header(resp, "Content-Type",
					"application/json");
	} else if (rc->fd >= 0) {
		resp = MHD_create_response_from_fd(rc->fd_size, rc->fd);
		if (!resp) {
			close(rc->fd);
			return MHD_NO;
		}
		rc->fd = -1;  /* libmicrohttpd closes it */
		MHD_add_response_header(resp, "Content-Type", rc->ctype);
		if (rc->disposition)
			MHD_add_response_header(resp, "Content-Disposition",
						rc->disposition);
	} else if (rc->raw) {
		resp = MHD_create_response_from_buffer(rc->raw_len, rc->raw,
						       MHD_RESPMEM_MUST_FREE);
		if (!resp)
			return MHD_NO;
		rc->raw = NULL;
		MHD_add_response_header(resp, "Content-Type", rc->ctype);
		if (rc->disposition)
			MHD_add_response_header(resp, "Content-Disposition",
						rc->disposition);
	} else {
		resp = MHD_create_response_from_buffer(0, NULL,
						       MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
	}
	for (size_t i = 0; i < rc->nheaders; i++)
		MHD_add_response_header(resp, rc->headers[i][0],
					rc->headers[i][1]);
	enum MHD_Result ret = MHD_queue_response(conn, rc->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* An answer before the handler (refused, too large); audited as any
 * other on the control API. */
static enum MHD_Result answer_now(struct MHD_Connection *conn,
				  struct listener *l, struct req *rq,
				  const char *url, const char *method,
				  unsigned status, const char *code,
				  const char *msg, bool clear_cookie)
{
	struct api *a = l->api;
	struct rctx rc = { .api = a, .sh = &a->sh, .conn = conn, .fd = -1,
			   .method = method, .tcp = l->tcp,
			   .origin = rq->origin };
	api__reply_error(&rc, status, code, "%s", msg);
	if (clear_cookie)
		api__add_header(&rc, "Set-Cookie", api__cookie_clear(&a->sh));
	enum MHD_Result r = queue(conn, &rc);
	if (!l->webhook && !streq(method, "GET") && !streq(method, "HEAD")) {
		find_pattern(&rc, url);
		api__audit(&a->sh, &rc, rq->have_p ? &rq->p : NULL,
			   rq->origin);
	}
	json_decref(rc.json);
	return r;
}

static enum MHD_Result header_size_cb(void *cls, enum MHD_ValueKind kind,
				      const char *key, const char *value)
{
	size_t *n = cls;
	(void)kind;
	*n += strlen(key) + (value ? strlen(value) : 0) + 4;  /* ": ", CRLF */
	return MHD_YES;
}

static size_t headers_size(struct MHD_Connection *conn)
{
	size_t n = 0;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, header_size_cb, &n);
	return n;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn,
				 const char *url, const char *method,
				 const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	struct listener *l = cls;
	struct api *a = l->api;
	struct req *rq = *con_cls;
	(void)version;

	if (!rq) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
			conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		if (ci && ci->socket_context)
			((struct conn_track *)ci->socket_context)->in_request =
				true;
		rq = calloc(1, sizeof *rq);
		if (!rq)
			return MHD_NO;
		size_t max = l->webhook ? a->wh_max_body : a->max_body;
		buf_init(&rq->body, max);
		*con_cls = rq;
		if (headers_size(conn) > API_MAX_HEADERS) {
			rq->answered = true;
			return answer_now(conn, l, rq, url, method, 431,
					  "headers_too_large", "the request "
					  "headers are larger than 16 KiB",
					  false);
		}
		if (!l->webhook) {
			/* Who asks, before the body is read. */
			api__origin(conn, l->tcp, rq->origin,
				    sizeof rq->origin);
			struct api_denial d = { 0 };
			if (!needs_no_principal(a, url, method)) {
				if (api__resolve(&a->sh, conn, l->tcp, method,
						 &rq->p, rq->csrf, &d) < 0) {
					rq->answered = true;
					return answer_now(conn, l, rq, url,
							  method, d.status,
							  d.code, d.msg,
							  d.clear_cookie);
				}
				rq->have_p = true;
			}
		}
		const char *cl = MHD_lookup_connection_value(
			conn, MHD_HEADER_KIND, "Content-Length");
		int64_t n;
		if (cl && util_parse_int64(cl, 0, INT64_MAX, &n) == 0 &&
		    (uint64_t)n > max) {
			rq->answered = true;
			return answer_now(conn, l, rq, url, method, 413,
					  "too_large", "the request body is "
					  "too large", false);
		}
		return MHD_YES;
	}
	if (rq->answered) {
		*upload_data_size = 0;  /* discard the rest */
		return MHD_YES;
	}
	if (*upload_data_size) {
		/* libmicrohttpd cannot answer while a body is still coming:
		 * past the limit, drop the rest and answer 413 at the end. */
		int r = rq->too_large ? 0 : buf_append(&rq->body, upload_data,
						       *upload_data_size);
		*upload_data_size = 0;
		if (r < 0) {
			rq->too_large = true;
			buf_free(&rq->body);
		}
		return MHD_YES;
	}
	if (rq->too_large) {
		rq->answered = true;
		return answer_now(conn, l, rq, url, method, 413, "too_large",
				  "the request body is too large", false);
	}

	struct rctx rc = { .api = a, .sh = &a->sh, .conn = conn,
			   .method = method, .tcp = l->tcp,
			   .p = rq->have_p ? &rq->p : NULL,
			   .csrf = rq->csrf[0] ? rq->csrf : NULL,
			   .origin = rq->origin,
			   .body = rq->body.data ? rq->body.data : "",
			   .body_len = rq->body.len, .status = 500, .fd = -1 };
	if (l->webhook && a->wh_metrics && streq(url, "/metrics") &&
	    streq(method, "GET"))
		h_metrics(&rc);
	else if (l->webhook)
		api__webhooks_dispatch(a->wh, &rc, url);
	else
		dispatch(&rc, url);
	/* The directory's counts change only through writes here (and
	 * reloads): status reads its own writes. */
	if (!streq(method, "GET") && !streq(method, "HEAD")) {
		/* broadcasts and receipts leave the directory as it was */
		if (!l->webhook && strncmp(url, "/v1/broadcasts", 14) != 0)
			a->counts_at = 0;
		if (!l->webhook)
			bcache_drop_all();   /* broadcast counts: the same */
	}
	if (rc.status >= 500 && !rc.json && !rc.raw)
		api__reply_error(&rc, 500, "internal", "no answer");
	if (!l->webhook)
		api__session_refresh(&rc);
	/* A webhook path may carry a secret (the eSMS callback): log the
	 * listener and the provider only. */
	if (l->webhook) {
		const char *p = strncmp(url, "/webhooks/", 10) == 0 ? url + 10
								    : "";
		int n = (int)strcspn(p, "/?");
		log_debug(LOG_WEBHOOK, "%s /webhooks/%.*s -> %u", method,
			  n > 16 ? 16 : n, p, rc.status);
	} else
		log_debug(LOG_API, "%s %s -> %u", method, url, rc.status);
	enum MHD_Result ret = queue(conn, &rc);
	/* Every change asked of the control API is on the record, after
	 * the answer (a failed write of the record fails nothing). */
	if (!l->webhook && !rc.audited && !streq(method, "GET") &&
	    !streq(method, "HEAD"))
		api__audit(&a->sh, &rc, rc.p, rq->origin);
	json_decref(rc.json);
	free(rc.raw);
	if (rc.fd >= 0)
		close(rc.fd);
	rq->answered = true;
	return ret;
}

/* Percent-decoding of paths and query values, except that "%00" stays as
 * it is: a NUL would silently cut "13%00junk" to "13". */
static size_t unescape_cb(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	char *w = s;
	for (const char *r = s; *r; r++) {
		int hi, lo;
		if (*r == '%' && (hi = util_hexdigit(r[1])) >= 0 &&
		    (lo = util_hexdigit(r[2])) >= 0 && (hi | lo)) {
			*w++ = (char)(hi * 16 + lo);
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static void completed_cb(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)toe;
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci && ci->socket_context) {
		struct conn_track *t = ci->socket_context;
		t->in_request = false;
		t->since = util_now_ms();
	}
	struct req *rq = *con_cls;
	if (rq) {
		buf_free(&rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

static void sweep_cb(uv_timer_t *t)
{
	struct api *a = container_of(t, struct api, sweep);
	uint64_t now = util_now_ms();
	struct listener *ls[] = { &a->unix_l, &a->tcp_l, &a->wh_l };
	for (size_t i = 0; i < ARRAY_SIZE(ls); i++)
		for (struct conn_track *c = ls[i]->tracked; c; c = c->next) {
			if (c->in_request || c->cut ||
			    now - c->since < a->header_timeout_ms)
				continue;
			/* libmicrohttpd sees the end of the stream and
			 * closes the connection itself */
			shutdown(c->fd, SHUT_RDWR);
			c->cut = true;
			log_debug(LOG_API, "%s: cut a connection that sent no "
				  "complete request in %" PRIu64 " ms",
				  ls[i]->name, now - c->since);
		}
}

static void notify_conn_cb(void *cls, struct MHD_Connection *conn,
			   void **socket_context,
			   enum MHD_ConnectionNotificationCode code)
{
	struct listener *l = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		struct conn_track *t = calloc(1, sizeof *t);
		if (!t)
			return;
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
			conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		t->fd = ci ? ci->connect_fd : -1;
		t->since = util_now_ms();
		t->next = l->tracked;
		if (l->tracked)
			l->tracked->prev = t;
		l->tracked = t;
		*socket_context = t;
		return;
	}
	struct conn_track *t = *socket_context;
	if (!t)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		l->tracked = t->next;
	if (t->next)
		t->next->prev = t->prev;
	free(t);
	*socket_context = NULL;
}

static void mhd_log_cb(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char line[512];
	vsnprintf(line, sizeof line, fmt, ap);
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_debug(LOG_HTTP, "libmicrohttpd: %s", line);
}

/* ---- the loop glue ---- */


static void listener_run(struct listener *l);

static void listener_timer_cb(uv_timer_t *t)
{
	listener_run(container_of(t, struct listener, timer));
}

static void listener_poll_cb(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	listener_run(container_of(p, struct listener, poll));
}

static unsigned listener_connections(const struct listener *l)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(
		l->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return info ? info->num_connections : 0;
}

static void listener_run(struct listener *l)
{
	MHD_run(l->mhd);
	/* At the connection limit libmicrohttpd takes the listening socket
	 * out of its epoll set, and puts it back only in a later MHD_run:
	 * when connections have closed, run again at once, or new clients
	 * would wait in the backlog with nothing to wake us. */
	unsigned now = listener_connections(l);
	bool freed = now < l->conns;
	l->conns = now;
	MHD_UNSIGNED_LONG_LONG to;
	if (freed)
		uv_timer_start(&l->timer, listener_timer_cb, 0, 0);
	else if (MHD_get_timeout(l->mhd, &to) == MHD_YES)
		uv_timer_start(&l->timer, listener_timer_cb, (uint64_t)to, 0);
	else
		uv_timer_stop(&l->timer);
}

static int bind_unix(const char *path, unsigned mode, char *err, size_t errsz)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (!path || !*path) {
		snprintf(err, errsz, "no socket path configured");
		return -EINVAL;
	}
	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, errsz, "socket path %s is too long (max %zu "
			 "bytes)", path, sizeof sa.sun_path - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errsz, "socket: %s", strerror(errno));
		return -errno;
	}
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errsz, "%s exists and is not a socket: "
				 "refusing to replace it", path);
			close(fd);
			return -EEXIST;
		}
		/* A live daemon answers; a stale file from a crash does not. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa,
					  sizeof sa) == 0) {
			close(probe);
			close(fd);
			snprintf(err, errsz, "another process is listening on "
				 "%s", path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	/* Create the socket file 0600 and widen it after: never a moment
	 * where others can connect. */
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	int e = errno;
	umask(old);
	if (r < 0) {
		snprintf(err, errsz, "cannot bind %s: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	if (chmod(path, mode) < 0 || listen(fd, 128) < 0) {
		e = errno;
		snprintf(err, errsz, "cannot listen on %s: %s", path,
			 strerror(e));
		close(fd);
		unlink(path);
		return -e;
	}
	return fd;
}

static int bind_tcp(const char *listen_addr, char *err, size_t errsz)
{
	_cleanup_free_ char *host = strdup(listen_addr);
	if (!host)
		return -ENOMEM;
	char *colon = strrchr(host, ':');
	if (!colon) {
		snprintf(err, errsz, "bad listen address %s", listen_addr);
		return -EINVAL;
	}
	*colon = '\0';
	const char *port = colon + 1, *h = host;
	if (*h == '[') {
		h++;
		size_t n = strlen(h);
		if (n && h[n - 1] == ']')
			((char *)h)[n - 1] = '\0';
	}
	if (streq(h, "localhost"))
		h = "127.0.0.1";
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
					      AI_PASSIVE };
	struct addrinfo *ai;
	int g = getaddrinfo(h, port, &hints, &ai);
	if (g != 0) {
		snprintf(err, errsz, "bad listen address %s: %s", listen_addr,
			 gai_strerror(g));
		return -EINVAL;
	}
	int fd = socket(ai->ai_family,
			SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1, e = 0;
	if (fd < 0)
		e = errno;
	else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) <
			 0 ||
		 (ai->ai_family == AF_INET6 &&
		  setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) <
			  0) ||
		 bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		 listen(fd, 128) < 0)
		e = errno;
	freeaddrinfo(ai);
	if (e) {
		snprintf(err, errsz, "cannot listen on %s: %s", listen_addr,
			 strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	return fd;
}

static int listener_start(struct api *a, struct listener *l, int fd,
			  const struct config *cfg, bool tcp, char *err,
			  size_t errsz)
{
	l->api = a;
	l->fd = fd;
	l->tcp = tcp;
	unsigned limit = l->webhook ? cfg->wh_max_connections :
				      cfg->api_max_connections;
	l->mhd = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, access_cb, l,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_CONNECTION_LIMIT, limit ? limit : 64,
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)((cfg->api_timeout_ms + 999) / 1000),
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_HEADER_MEMORY,
		MHD_OPTION_NOTIFY_COMPLETED, completed_cb, NULL,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape_cb, NULL,
		MHD_OPTION_NOTIFY_CONNECTION, notify_conn_cb, l,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log_cb, NULL,
		MHD_OPTION_END);
	if (!l->mhd) {
		snprintf(err, errsz, "cannot start the HTTP server on %s",
			 l->name);
		return -EIO;
	}
	l->fd = -1;  /* MHD owns the listening socket now */
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		snprintf(err, errsz, "libmicrohttpd has no epoll fd");
		return -EIO;
	}
	uv_poll_init(a->deps.loop, &l->poll, info->epoll_fd);
	uv_timer_init(a->deps.loop, &l->timer);
	uv_poll_start(&l->poll, UV_READABLE, listener_poll_cb);
	l->started = true;
	listener_run(l);
	return 0;
}

int api_start(const struct api_deps *deps, const struct config *cfg,
	      struct api **ret, char *err, size_t errsz)
{
	struct api *a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	a->deps = *deps;
	a->wh_metrics = cfg->wh_metrics;
	if (metrics_new(&a->metrics) < 0) {
		free(a);
		return -ENOMEM;
	}
	a->max_body = cfg->api_max_body;
	a->wh_max_body = cfg->wh_max_body ? cfg->wh_max_body : 1 << 20;
	a->sms_warn = cfg->sms_warn_segments;
	a->unconfirmed_ms = cfg->unconfirmed_after_ms ?
			    cfg->unconfirmed_after_ms : 3600000;
	a->wh_l.fd = -1;
	a->unix_l.fd = a->tcp_l.fd = -1;
	uv_timer_init(deps->loop, &a->drain);
	uv_timer_init(deps->loop, &a->sweep);
	a->header_timeout_ms = cfg->api_timeout_ms ? cfg->api_timeout_ms :
						     30000;
	uint64_t every = a->header_timeout_ms / 4 ? a->header_timeout_ms / 4 : 1;
	uv_timer_start(&a->sweep, sweep_cb, every, every);
	a->sh.store = deps->store;
	a->sh.dir = deps->dir;
	a->sh.bc = deps->bc;
	a->sh.engine = deps->engine;
	int r = api__shared_init(&a->sh, cfg, err, errsz);
	if (r < 0)
		goto fail;
	a->sock_path = strdup(cfg->api_socket);
	if (!a->sock_path) {
		r = -ENOMEM;
		goto fail;
	}
	snprintf(a->unix_l.name, sizeof a->unix_l.name, "%s", cfg->api_socket);
	int fd = bind_unix(cfg->api_socket, cfg->api_socket_mode, err, errsz);
	if (fd < 0) {
		r = fd;
		goto fail;
	}
	r = listener_start(a, &a->unix_l, fd, cfg, false, err, errsz);
	if (r < 0)
		goto fail;
	log_info(LOG_API, "listening on %s (mode %04o)", cfg->api_socket,
		 cfg->api_socket_mode);
	if (cfg->api_listen && *cfg->api_listen) {
		snprintf(a->tcp_l.name, sizeof a->tcp_l.name, "%s",
			 cfg->api_listen);
		fd = bind_tcp(cfg->api_listen, err, errsz);
		if (fd < 0) {
			r = fd;
			goto fail;
		}
		r = listener_start(a, &a->tcp_l, fd, cfg, true, err, errsz);
		if (r < 0)
			goto fail;
		log_info(LOG_API, "listening on %s (TCP: %s%s)",
			 cfg->api_listen, a->sh.token ? "bearer token, " : "",
			 a->sh.console ? "console and sessions" :
			 "personal tokens and sessions");
	}
	if (cfg->wh_listen && *cfg->wh_listen) {
		r = api__webhooks_new(deps->store, cfg, &a->wh, err, errsz);
		if (r < 0)
			goto fail;
		a->wh_l.webhook = true;
		snprintf(a->wh_l.name, sizeof a->wh_l.name, "%s",
			 cfg->wh_listen);
		fd = bind_tcp(cfg->wh_listen, err, errsz);
		if (fd < 0) {
			r = fd;
			goto fail;
		}
		r = listener_start(a, &a->wh_l, fd, cfg, true, err, errsz);
		if (r < 0)
			goto fail;
		log_info(LOG_WEBHOOK, "listening for provider webhooks on %s",
			 cfg->wh_listen);
	}
	*ret = a;
	return 0;
fail:
	/* Synchronous teardown of a half-started api: handles that were
	 * initialised are closed by api_stop, so route through it. */
	*ret = a;
	return r;
}

void api_reload(struct api *a, const struct config *cfg)
{
	a->counts_at = 0;  /* [groups] may have changed */
	if (a->wh) {
		char err[300];
		struct api_webhooks *nw;
		if (api__webhooks_new(a->deps.store, cfg, &nw, err,
				      sizeof err) == 0) {
			api__webhooks_free(a->wh);
			a->wh = nw;
		} else {
			log_err(LOG_WEBHOOK, "%s: keeping the webhook secrets "
				"in force", err);
		}
		a->wh_max_body = cfg->wh_max_body ? cfg->wh_max_body :
						    1 << 20;
	}
	a->max_body = cfg->api_max_body;
	a->sms_warn = cfg->sms_warn_segments;
	a->unconfirmed_ms = cfg->unconfirmed_after_ms ?
			    cfg->unconfirmed_after_ms : 3600000;
	api__shared_reload(&a->sh, cfg);
}

unsigned api_connections(const struct api *a)
{
	unsigned n = 0;
	const struct listener *ls[] = { &a->unix_l, &a->tcp_l, &a->wh_l };
	for (size_t i = 0; i < ARRAY_SIZE(ls); i++) {
		if (!ls[i]->mhd)
			continue;
		const union MHD_DaemonInfo *info = MHD_get_daemon_info(
			ls[i]->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if (info)
			n += info->num_connections;
	}
	return n;
}

static void close_cb(uv_handle_t *h)
{
	struct api *a = h->data;
	if (--a->pending_closes == 0 && a->stop_cb)
		a->stop_cb(a->stop_ud);
}

static void close_handle(struct api *a, uv_handle_t *h)
{
	h->data = a;
	a->pending_closes++;
	uv_close(h, close_cb);
}

static void api_finish(struct api *a)
{
	uv_timer_stop(&a->drain);
	struct listener *ls[] = { &a->unix_l, &a->tcp_l, &a->wh_l };
	a->pending_closes++;  /* hold: no callback before all are queued */
	for (size_t i = 0; i < ARRAY_SIZE(ls); i++) {
		struct listener *l = ls[i];
		if (l->started) {
			uv_poll_stop(&l->poll);
			close_handle(a, (uv_handle_t *)&l->poll);
			close_handle(a, (uv_handle_t *)&l->timer);
			l->started = false;
		}
		if (l->mhd) {
			MHD_stop_daemon(l->mhd);
			l->mhd = NULL;
		}
		if (l->fd >= 0) {
			close(l->fd);
			l->fd = -1;
		}
	}
	uv_timer_stop(&a->sweep);
	close_handle(a, (uv_handle_t *)&a->drain);
	close_handle(a, (uv_handle_t *)&a->sweep);
	a->pending_closes--;
}

static void drain_cb(uv_timer_t *t)
{
	struct api *a = container_of(t, struct api, drain);
	if (api_connections(a) == 0 || uv_now(t->loop) >= a->drain_deadline) {
		if (api_connections(a))
			log_warn(LOG_API, "closing %u connections still open",
				 api_connections(a));
		api_finish(a);
	}
}

void api_stop(struct api *a, uint64_t timeout_ms, void (*cb)(void *ud),
	      void *ud)
{
	if (a->stopping)
		return;
	a->stopping = true;
	a->stop_cb = cb;
	a->stop_ud = ud;
	struct listener *ls[] = { &a->unix_l, &a->tcp_l, &a->wh_l };
	for (size_t i = 0; i < ARRAY_SIZE(ls); i++) {
		struct listener *l = ls[i];
		if (!l->mhd)
			continue;
		/* Stop accepting; MHD hands the listening socket back. */
		MHD_socket s = MHD_quiesce_daemon(l->mhd);
		if (s != MHD_INVALID_SOCKET)
			close(s);
	}
	if (a->sock_path && a->unix_l.mhd)
		unlink(a->sock_path);
	a->drain_deadline = uv_now(a->deps.loop) + timeout_ms;
	uv_timer_start(&a->drain, drain_cb, 0, 20);
}

struct api *api_free(struct api *a)
{
	if (!a)
		return NULL;
	free(a->sock_path);
	bcache_drop_all();
	a->wh = api__webhooks_free(a->wh);
	a->metrics = metrics_free(a->metrics);
	api__shared_clear(&a->sh);
	free(a);
	return NULL;
}
