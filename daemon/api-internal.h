/* api-internal.h: what the API's files share (api.c: the listeners, the
 * control routes; api-auth.c: who is asking, accounts, sessions, approval,
 * the audit log; api-console.c: the console's files; api-webhooks.c: the
 * providers' webhooks). */
#ifndef LOAXA_API_INTERNAL_H
#define LOAXA_API_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>

#include "loaxa/auth.h"
#include "loaxa/broadcast.h"
#include "loaxa/config.h"
#include "loaxa/directory.h"
#include "loaxa/engine.h"
#include "loaxa/log.h"
#include "loaxa/store.h"
#include "loaxa/util.h"

#define API_MAX_SEGMENTS 8

struct api;

/* What the handlers of every file need of the api: set at start, the
 * reloadable values updated by api_reload. */
struct api_shared {
	struct store *store;
	struct directory *dir;
	struct broadcaster *bc;
	struct engine *engine;
	char *token;                 /* [api] token_file; NULL: none */
	struct login_limiter *limiter;
	enum approval_mode approval;
	uint64_t session_ms;
	bool secure_cookie;
	bool console;                /* [console] enabled */
	enum log_level log_level;    /* as last set (config or PUT /v1/log) */
	char *dummy_hash;            /* verified against for unknown users */
};

/* What a handler sees and fills. */
struct rctx {
	struct api *api;
	struct api_shared *sh;
	struct MHD_Connection *conn;
	const char *method;
	const char *seg[API_MAX_SEGMENTS];  /* path segments after /v1 */
	size_t nseg;
	const char *body;
	size_t body_len;
	bool tcp;                   /* on the TCP listener */
	const struct principal *p;  /* who asks; NULL: nobody (login) */
	const char *csrf;           /* the session's CSRF token, or NULL */
	const char *origin;         /* "unix uid 1000", "127.0.0.1" */
	char pattern[96];           /* the matched route: "broadcasts/ * /x" */
	/* audit: handlers may name the target and a detail, or write their
	 * own entry (login) and set audited */
	char audit_target[128];
	char audit_detail[160];
	bool audited;
	/* response */
	unsigned status;
	json_t *json;       /* owned */
	char *raw;          /* owned; used when json is NULL */
	size_t raw_len;
	const char *ctype;
	const char *disposition;
	int fd;             /* owned; a file to send when >= 0 */
	uint64_t fd_size;
	/* extra response headers (name, value): static strings or strings
	 * that live as long as the rctx (Set-Cookie, ETag, ...) */
	const char *headers[8][2];
	size_t nheaders;
	char cookie_buf[256];       /* a Set-Cookie value */
	char retry_buf[24];         /* a Retry-After value */
};

void api__reply_json(struct rctx *rc, unsigned status, json_t *j);
void api__reply_error(struct rctx *rc, unsigned status, const char *code,
		      const char *fmt, ...) _printf_(4, 5);
/* Map a -errno of the directory or store to an answer (ve may be NULL). */
void api__reply_errno(struct rctx *rc, int r, const struct verrors *ve,
		      const char *what);
/* 422 with the fields of ve, under code. */
void api__reply_fields(struct rctx *rc, unsigned status, const char *code,
		       const struct verrors *ve);
/* The body as a JSON object; NULL when it is not (answered). */
json_t *api__body_object(struct rctx *rc);
/* A query parameter, decoded; NULL when absent. */
const char *api__query(struct rctx *rc, const char *key);
/* An integer query parameter; -EINVAL (answered) when bad. */
int api__query_int(struct rctx *rc, const char *key, int64_t min,
		   int64_t max, int64_t def, int64_t *ret);
/* Answer 200 (or status) with broadcast id in full. */
void api__reply_broadcast(struct rctx *rc, int64_t id, unsigned status);
void api__add_header(struct rctx *rc, const char *name, const char *value);

/* ---- api-auth.c ---- */

/* Why a request was refused before its handler. */
struct api_denial {
	unsigned status;           /* 401 or 403 */
	const char *code;
	char msg[200];
	bool clear_cookie;         /* a stale session cookie */
};
/* Who is asking: Bearer token, session cookie (tcp only), peer
 * credentials (unix only). 0, or -EACCES with d filled. csrf receives the
 * session's CSRF token (empty when not a session). */
int api__resolve(struct api_shared *sh, struct MHD_Connection *conn,
		 bool tcp, const char *method, struct principal *p,
		 char csrf[AUTH_TOKEN_MAX], struct api_denial *d);
/* The peer's address as the audit and the limiter name it. */
void api__origin(struct MHD_Connection *conn, bool tcp, char *out,
		 size_t n);
/* The audit entry of an answered request (non-GET, not yet audited). p
 * may be NULL (refused before a principal was known). */
void api__audit(struct api_shared *sh, struct rctx *rc,
		const struct principal *p, const char *origin);
/* Name the audit's target from the path ("broadcast 12") unless the
 * handler did: while rc->seg is valid (in dispatch, after the handler). */
void api__audit_target(struct rctx *rc);
/* A console session's request: the cookie again, with a fresh Max-Age,
 * as the session's idle lifetime slides on the server. */
void api__session_refresh(struct rctx *rc);
/* The Set-Cookie value that clears the session cookie. */
const char *api__cookie_clear(const struct api_shared *sh);

/* Checks that answer 403 themselves and return false. */
bool api__may(struct rctx *rc, enum auth_action a, const char *what);
/* verb: "read", "edit", "send to" ... */
bool api__group_ok(struct rctx *rc, int64_t group_id, const char *verb);
bool api__broadcast_ok(struct rctx *rc, const struct broadcast *b,
		       const char *verb);
/* Whether the principal may see b (no answer). */
bool api__broadcast_allowed(const struct rctx *rc, const struct broadcast *b);
/* Whether the principal keeps group_id (no answer). */
bool api__group_allowed(const struct rctx *rc, int64_t group_id);
/* Managers' list filtering: true when p is a manager. */
bool api__filtered(const struct rctx *rc);
/* Whether a group code (as a reply row names it) is the principal's. */
bool api__group_code_allowed(struct rctx *rc, const char *code);

/* Handlers (routed by api.c). */
void api__h_login(struct rctx *rc);
void api__h_logout(struct rctx *rc);
void api__h_me(struct rctx *rc);
void api__h_users_list(struct rctx *rc);
void api__h_user_add(struct rctx *rc);
void api__h_user_get(struct rctx *rc);
void api__h_user_patch(struct rctx *rc);
void api__h_tokens_list(struct rctx *rc);
void api__h_token_add(struct rctx *rc);
void api__h_token_delete(struct rctx *rc);
void api__h_audit(struct rctx *rc);
void api__h_approve(struct rctx *rc);
void api__h_reject(struct rctx *rc);
void api__h_log_get(struct rctx *rc);
void api__h_log_put(struct rctx *rc);

int api__shared_init(struct api_shared *sh, const struct config *cfg,
		     char *err, size_t errsz);
void api__shared_reload(struct api_shared *sh, const struct config *cfg);
void api__shared_clear(struct api_shared *sh);

/* ---- api-console.c ---- */

/* The web console's files (api-console.c): answers a GET or HEAD of a
 * console path and returns true; false when url is not the console's. */
bool api__console_serve(struct rctx *rc, const char *url,
			const char *if_none_match);

/* ---- api-webhooks.c ---- */

/* The webhook side: secrets read from the config, routes under
 * /webhooks/. */
struct api_webhooks;
int api__webhooks_new(struct store *s, const struct config *cfg,
		      struct api_webhooks **ret, char *err, size_t errsz);
struct api_webhooks *api__webhooks_free(struct api_webhooks *w);
void api__webhooks_dispatch(struct api_webhooks *w, struct rctx *rc,
			    const char *url);

#endif
