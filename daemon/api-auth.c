/* api-auth.c: who is asking, and the endpoints of accounts, sessions,
 * approval, the audit log and run-time logging (docs/api.md,
 * "Accounts and roles").
 *
 * Every control-API request is resolved to a principal before its body is
 * read: a Bearer token (the [api] token_file token is the system admin, a
 * personal token its user), a console session cookie on TCP (writes need
 * the X-CSRF-Token header), or the unix socket's peer credentials (root
 * and loaxad's own uid are the system admin; another uid must be mapped
 * to a user). The handlers then check the role and the groups with
 * auth.h's rules, and every change is audited after it is answered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loaxa/api-body.h"
#include "loaxa/text.h"
#include "loaxa/users.h"
#include "api-internal.h"

#define LOGIN_WINDOW_MS (15 * 60 * 1000)
#define SESSION_DEFAULT_MS (12 * 3600 * 1000)

/* ---- settings ---- */

static char *read_token(const char *path, char *err, size_t errsz)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errsz, "cannot read token file %s: %s", path,
			 strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0007))
		log_warn(LOG_API, "token file %s is readable by other users: "
			 "chmod o-rwx it", path);
	char line[512];
	if (!fgets(line, sizeof line, f)) {
		snprintf(err, errsz, "token file %s is empty", path);
		return NULL;
	}
	const char *s;
	size_t n = text_trim(line, strlen(line), &s);
	char *tok = NULL;
	if (n < 16)
		snprintf(err, errsz, "token in %s is too short (at least 16 "
			 "characters)", path);
	else
		tok = util_strndup(s, n);
	explicit_bzero(line, sizeof line);
	return tok;
}

static void shared_settings(struct api_shared *sh, const struct config *cfg)
{
	sh->approval = cfg->approval;
	sh->session_ms = cfg->session_lifetime_ms ? cfg->session_lifetime_ms :
						    SESSION_DEFAULT_MS;
	sh->secure_cookie = cfg->secure_cookie;
	sh->log_level = cfg->log_level;
	if (sh->limiter)
		login_limiter_set_max(sh->limiter, cfg->login_attempts ?
					      cfg->login_attempts : 5);
}

int api__shared_init(struct api_shared *sh, const struct config *cfg,
		     char *err, size_t errsz)
{
	sh->console = cfg->console_enabled;
	if (cfg->api_token_file && *cfg->api_token_file) {
		sh->token = read_token(cfg->api_token_file, err, errsz);
		if (!sh->token)
			return -EINVAL;
	}
	sh->limiter = login_limiter_new(cfg->login_attempts ?
					cfg->login_attempts : 5,
					LOGIN_WINDOW_MS);
	if (!sh->limiter) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	shared_settings(sh, cfg);
	return 0;
}

void api__shared_reload(struct api_shared *sh, const struct config *cfg)
{
	shared_settings(sh, cfg);
}

void api__shared_clear(struct api_shared *sh)
{
	if (sh->token) {
		explicit_bzero(sh->token, strlen(sh->token));
		free(sh->token);
	}
	sh->token = NULL;
	sh->limiter = login_limiter_free(sh->limiter);
	free(sh->dummy_hash);
	sh->dummy_hash = NULL;
}

/* ---- who is asking ---- */

static int peer_uid(struct MHD_Connection *conn, uid_t *ret)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return -EIO;
	struct ucred cr;
	socklen_t len = sizeof cr;
	if (getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return -errno;
	*ret = cr.uid;
	return 0;
}

void api__origin(struct MHD_Connection *conn, bool tcp, char *out, size_t n)
{
	snprintf(out, n, "?");
	if (!tcp) {
		uid_t uid;
		if (peer_uid(conn, &uid) == 0)
			snprintf(out, n, "unix uid %u", (unsigned)uid);
		else
			snprintf(out, n, "unix");
		return;
	}
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	char buf[INET6_ADDRSTRLEN] = "?";
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)
				     sa)->sin_addr, buf, sizeof buf);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
				      (const void *)sa)->sin6_addr, buf,
			  sizeof buf);
	snprintf(out, n, "%s", buf);
}

static void principal_system(struct principal *p, const char *name)
{
	p->user_id = 0;
	snprintf(p->name, sizeof p->name, "%s", name);
	p->role = ROLE_ADMIN;
	p->ngroups = 0;
}

static void principal_user(struct principal *p, const struct user *u)
{
	p->user_id = u->id;
	snprintf(p->name, sizeof p->name, "%s", u->name);
	p->role = u->role;
	p->ngroups = 0;
	if (u->role == ROLE_MANAGER)
		for (size_t i = 0; i < u->ngroups && i < AUTH_MAX_GROUPS; i++)
			p->group_ids[p->ngroups++] = u->group_ids[i];
}

static int deny(struct api_denial *d, unsigned status, const char *code,
		const char *fmt, ...) _printf_(4, 5);

static int deny(struct api_denial *d, unsigned status, const char *code,
		const char *fmt, ...)
{
	d->status = status;
	d->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof d->msg, fmt, ap);
	va_end(ap);
	return -EACCES;
}

static int deny_store(struct api_denial *d, struct store *s, int r)
{
	log_err(LOG_API, "cannot check who is asking: %s (%s)", strerror(-r),
		store_errmsg(s));
	return deny(d, 503, "unavailable", "cannot check who is asking: the "
		    "database is not available");
}

int api__resolve(struct api_shared *sh, struct MHD_Connection *conn,
		 bool tcp, const char *method, struct principal *p,
		 char csrf[AUTH_TOKEN_MAX], struct api_denial *d)
{
	memset(p, 0, sizeof *p);
	csrf[0] = '\0';
	api__origin(conn, tcp, p->origin, sizeof p->origin);
	int64_t now = util_now_ms();
	struct user u;

	/* 1. A bearer token. */
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						       "Authorization");
	if (auth && strncmp(auth, "Bearer ", 7) == 0) {
		const char *t = auth + 7;
		if (sh->token && auth_streq_ct(t, sh->token)) {
			principal_system(p, "admin-token");
			return 0;
		}
		char dg[AUTH_DIGEST_HEX];
		auth_token_digest(t, dg);
		int r = store_token_user(sh->store, dg, now, &u);
		if (r == 0) {
			principal_user(p, &u);
			return 0;
		}
		if (r != -ENOENT)
			return deny_store(d, sh->store, r);
		return deny(d, 401, "unauthorized", "the bearer token is not "
			    "valid: unknown, deleted, or its user is "
			    "disabled");
	}
	if (auth && tcp)
		return deny(d, 401, "unauthorized", "only 'Authorization: "
			    "Bearer TOKEN' is accepted");

	/* 2. A console session (TCP only). */
	const char *cookie = tcp ? MHD_lookup_connection_value(
		conn, MHD_COOKIE_KIND, AUTH_SESSION_COOKIE) : NULL;
	if (cookie && *cookie) {
		char dg[AUTH_DIGEST_HEX];
		auth_token_digest(cookie, dg);
		int r = store_session_user(sh->store, dg, now,
					   (int64_t)sh->session_ms, &u, csrf);
		if (r == -ENOENT) {
			d->clear_cookie = true;
			return deny(d, 401, "unauthorized", "the session has "
				    "ended: log in again");
		}
		if (r < 0)
			return deny_store(d, sh->store, r);
		principal_user(p, &u);
		p->session = true;
		if (!streq(method, "GET") && !streq(method, "HEAD")) {
			const char *h = MHD_lookup_connection_value(
				conn, MHD_HEADER_KIND, AUTH_CSRF_HEADER);
			if (!h || !auth_streq_ct(h, csrf))
				return deny(d, 403, "csrf", "the %s header is "
					    "missing or wrong: reload the "
					    "page", AUTH_CSRF_HEADER);
		}
		return 0;
	}
	if (tcp)
		return deny(d, 401, "unauthorized", "who is asking? log in to "
			    "the console, or send a token (Authorization: "
			    "Bearer TOKEN)");

	/* 3. The unix socket's peer. */
	uid_t uid;
	int r = peer_uid(conn, &uid);
	if (r < 0)
		return deny(d, 403, "forbidden", "cannot tell who is asking on "
			    "the socket: %s", strerror(-r));
	if (uid == 0 || uid == geteuid()) {
		char buf[1024], name[AUTH_NAME_MAX + 1];
		struct passwd pw, *res = NULL;
		if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
			snprintf(name, sizeof name, "%s", res->pw_name);
		else
			snprintf(name, sizeof name, "uid-%u", (unsigned)uid);
		principal_system(p, name);
		return 0;
	}
	r = store_user_get_by_uid(sh->store, (int64_t)uid, &u);
	if (r == -ENOENT)
		return deny(d, 403, "forbidden", "uid %u is not a loaxa user "
			    "(an admin can run: loaxa user add NAME --role ... "
			    "--unix-user LOGIN)", (unsigned)uid);
	if (r < 0)
		return deny_store(d, sh->store, r);
	if (u.disabled)
		return deny(d, 403, "forbidden", "uid %u is user %s, who is "
			    "disabled", (unsigned)uid, u.name);
	principal_user(p, &u);
	return 0;
}

/* ---- checks ---- */

static void group_code(struct api_shared *sh, int64_t id, char *out, size_t n)
{
	struct group_rec g = { 0 };
	if (store_group_get(sh->store, id, &g) == 0)
		snprintf(out, n, "%s", g.code);
	else
		snprintf(out, n, "#%" PRId64, id);
	group_rec_clear(&g);
}

/* "manager lan of 2A, 2C" */
static void who_text(struct rctx *rc, char *out, size_t n)
{
	const struct principal *p = rc->p;
	size_t k = (size_t)snprintf(out, n, "%s %s", auth_role_name(p->role),
				    p->name);
	for (size_t i = 0; p->role == ROLE_MANAGER && i < p->ngroups && k < n;
	     i++) {
		char code[64];
		group_code(rc->sh, p->group_ids[i], code, sizeof code);
		k += (size_t)snprintf(out + k, n - k, "%s%s", i ? ", " : " of ",
				      code);
	}
}

static bool no_principal(struct rctx *rc)
{
	if (rc->p)
		return false;
	api__reply_error(rc, 401, "unauthorized", "log in first");
	return true;
}

bool api__may(struct rctx *rc, enum auth_action a, const char *what)
{
	if (no_principal(rc))
		return false;
	if (auth_may(rc->p, a))
		return true;
	api__reply_error(rc, 403, "forbidden", "%s %s may not %s",
			 auth_role_name(rc->p->role), rc->p->name, what);
	return false;
}

bool api__group_allowed(const struct rctx *rc, int64_t group_id)
{
	return rc->p && auth_group_ok(rc->p, group_id);
}

bool api__filtered(const struct rctx *rc)
{
	return rc->p && rc->p->role == ROLE_MANAGER;
}

bool api__group_code_allowed(struct rctx *rc, const char *code)
{
	if (!api__filtered(rc))
		return true;
	if (!code)
		return false;
	struct group_rec g = { 0 };
	bool ok = store_group_get_by_code(rc->sh->store, code, &g) == 0 &&
		  auth_group_ok(rc->p, g.id);
	group_rec_clear(&g);
	return ok;
}

bool api__group_ok(struct rctx *rc, int64_t group_id, const char *verb)
{
	if (no_principal(rc))
		return false;
	if (auth_group_ok(rc->p, group_id))
		return true;
	char who[400], code[64];
	who_text(rc, who, sizeof who);
	group_code(rc->sh, group_id, code, sizeof code);
	api__reply_error(rc, 403, "forbidden", "%s may not %s group %s", who,
			 verb, code);
	return false;
}

bool api__broadcast_allowed(const struct rctx *rc, const struct broadcast *b)
{
	return rc->p && auth_groups_ok(rc->p, b->group_ids, b->ngroups,
				       b->all_groups);
}

bool api__broadcast_ok(struct rctx *rc, const struct broadcast *b,
		       const char *verb)
{
	if (no_principal(rc))
		return false;
	if (api__broadcast_allowed(rc, b))
		return true;
	char who[400];
	who_text(rc, who, sizeof who);
	if (b->all_groups) {
		api__reply_error(rc, 403, "forbidden", "%s may not %s all "
				 "groups", who, verb);
		return false;
	}
	for (size_t i = 0; i < b->ngroups; i++) {
		if (auth_group_ok(rc->p, b->group_ids[i]))
			continue;
		char code[64];
		group_code(rc->sh, b->group_ids[i], code, sizeof code);
		api__reply_error(rc, 403, "forbidden", "%s may not %s group %s",
				 who, verb, code);
		return false;
	}
	api__reply_error(rc, 403, "forbidden", "%s may not %s this broadcast",
			 who, verb);
	return false;
}

/* ---- the audit log ---- */

/* Text from a request for a message or the audit: api_body_clip. */

/* A rejection reason for the audit: short, every digit masked. */
static void audit_text(const char *in, char *out, size_t n)
{
	api_body_clip(in, out, n, 1);
}

/* A name or id from a request for the audit (a user name, a path
 * segment): as given, unless it holds enough digits to be a phone
 * number (household and broadcast ids of a commune are far shorter). */
#define AUDIT_PHONE_DIGITS 7

static const char *audit_name(const char *in, char *out, size_t n)
{
	return api_body_clip(in, out, n, AUDIT_PHONE_DIGITS);
}

/* A value from a request quoted in an error message: short and whole. */
static const char *quote(const char *in, char *out, size_t n)
{
	return api_body_clip(in, out, n, 0);
}

static void audit_write(struct api_shared *sh, const char *user,
			enum role role, const char *origin,
			const char *action, const char *target, int status,
			const char *detail)
{
	struct audit_entry e = {
		.at_ms = util_now_ms(), .user_name = user ? user : "-",
		.role = role, .origin = origin ? origin : "?",
		.action = action, .target = target ? target : "",
		.status = status, .detail = detail ? detail : "",
	};
	int r = store_audit_add(sh->store, &e);
	if (r < 0)
		log_err(LOG_API, "cannot write the audit record of %s (%d): "
			"%s (%s)", action, status, strerror(-r),
			store_errmsg(sh->store));
}

static const char *singular(const char *seg)
{
	static const char *const map[][2] = {
		{ "groups", "group" }, { "households", "household" },
		{ "broadcasts", "broadcast" }, { "users", "user" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (streq(seg, map[i][0]))
			return map[i][1];
	return seg;
}

void api__audit_target(struct rctx *rc)
{
	if (rc->audit_target[0] || !rc->pattern[0])
		return;
	const char *slash = strchr(rc->pattern, '/');
	char *t = rc->audit_target;
	size_t n = sizeof rc->audit_target;
	if (rc->nseg >= 2 && slash && strncmp(slash, "/*", 2) == 0) {
		char a[72], b[24];
		snprintf(t, n, "%.16s %s", singular(rc->seg[0]),
			 audit_name(rc->seg[1], a, sizeof a));
		if (rc->nseg >= 4 && streq(rc->seg[2], "tokens"))
			snprintf(t + strlen(t), n - strlen(t), " token %s",
				 audit_name(rc->seg[3], b, sizeof b));
	} else if (rc->nseg == 1 && rc->status == 201 && rc->json) {
		json_t *id = json_object_get(rc->json, "id");
		json_t *nm = json_object_get(rc->json, "name");
		json_t *code = json_object_get(rc->json, "code");
		char a[72];
		if (streq(rc->seg[0], "users") && json_is_string(nm))
			snprintf(t, n, "user %s", audit_name(
				json_string_value(nm), a, sizeof a));
		else if (json_is_integer(id))
			snprintf(t, n, "%s %" JSON_INTEGER_FORMAT,
				 singular(rc->seg[0]), json_integer_value(id));
		else if (json_is_string(code))
			snprintf(t, n, "%.16s %s", singular(rc->seg[0]),
				 audit_name(json_string_value(code), a,
					    sizeof a));
	}
}

void api__audit(struct api_shared *sh, struct rctx *rc,
		const struct principal *p, const char *origin)
{
	char action[160], detail[200];
	snprintf(action, sizeof action, "%s %s%s", rc->method ? rc->method :
		 "?", rc->pattern[0] ? "/v1/" : "", rc->pattern[0] ?
		 rc->pattern : "(no such endpoint)");
	/* The detail: what the handler said, else the error's code only
	 * (messages may quote what was sent, a phone number among it). */
	detail[0] = '\0';
	if (rc->audit_detail[0]) {
		snprintf(detail, sizeof detail, "%s", rc->audit_detail);
	} else if (rc->status >= 400 && rc->json) {
		json_t *c = json_object_get(json_object_get(rc->json, "error"),
					    "code");
		if (json_is_string(c))
			snprintf(detail, sizeof detail, "%s",
				 json_string_value(c));
	}
	audit_write(sh, p ? p->name : "-", p ? p->role : ROLE_NONE, origin,
		    action, rc->audit_target, (int)rc->status, detail);
}

const char *api__cookie_clear(const struct api_shared *sh)
{
	return sh->secure_cookie ?
		AUTH_SESSION_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; "
		"Max-Age=0; Secure" :
		AUTH_SESSION_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; "
		"Max-Age=0";
}

/* ---- JSON ---- */

static json_t *iso_time(int64_t ms)
{
	if (ms <= 0)
		return json_null();
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[32];
	if (!gmtime_r(&t, &tm) ||
	    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return json_null();
	return json_string(buf);
}

static json_t *user_json(struct api_shared *sh, const struct user *u)
{
	json_t *groups = json_array();
	for (size_t i = 0; groups && i < u->ngroups; i++) {
		char code[64];
		group_code(sh, u->group_ids[i], code, sizeof code);
		json_array_append_new(groups, json_string(code));
	}
	return json_pack("{s:I,s:s,s:s,s:s,s:o,s:o,s:b,s:b,s:o}",
			 "id", (json_int_t)u->id, "name", u->name,
			 "display_name", u->display_name,
			 "role", auth_role_name(u->role), "groups", groups,
			 "unix_uid", u->unix_uid >= 0 ?
				 json_integer(u->unix_uid) : json_null(),
			 "disabled", u->disabled,
			 "has_password", u->pw_hash[0] != '\0',
			 "created", iso_time(u->created_ms));
}

/* The system admin as a USER object. */
static json_t *system_json(const struct principal *p)
{
	return json_pack("{s:i,s:s,s:s,s:s,s:[],s:n,s:b,s:b,s:n,s:b}",
			 "id", 0, "name", p->name, "display_name", "",
			 "role", "admin", "groups", "unix_uid",
			 "disabled", 0, "has_password", 0, "created",
			 "system", 1);
}

static bool user_lookup(struct rctx *rc, const char *name, struct user *u)
{
	int r = store_user_get_by_name(rc->sh->store, name, u);
	if (r == -ENOENT) {
		char q[72];
		api__reply_error(rc, 404, "not_found", "no user named '%s'",
				 quote(name, q, sizeof q));
		return false;
	}
	if (r < 0) {
		api__reply_errno(rc, r, NULL, "user");
		return false;
	}
	return true;
}

/* The user of the path, when the principal is an admin or that user. */
static bool user_of_path(struct rctx *rc, struct user *u, bool *ret_admin)
{
	if (no_principal(rc))
		return false;
	char a[72];
	snprintf(rc->audit_target, sizeof rc->audit_target, "user %s",
		 audit_name(rc->seg[1], a, sizeof a));
	bool admin = auth_may(rc->p, AA_MANAGE_USERS);
	if (!admin && strcasecmp(rc->p->name, rc->seg[1]) != 0) {
		api__reply_error(rc, 403, "forbidden", "%s %s may not manage "
				 "other users", auth_role_name(rc->p->role),
				 rc->p->name);
		return false;
	}
	if (!user_lookup(rc, rc->seg[1], u))
		return false;
	if (!admin && u->id != rc->p->user_id) {
		api__reply_error(rc, 403, "forbidden", "%s %s may not manage "
				 "other users", auth_role_name(rc->p->role),
				 rc->p->name);
		return false;
	}
	*ret_admin = admin;
	return true;
}

/* ---- login, logout, me ---- */

static void cookie_set(struct rctx *rc, const char *sid)
{
	snprintf(rc->cookie_buf, sizeof rc->cookie_buf,
		 "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%" PRIu64
		 "%s", AUTH_SESSION_COOKIE, sid, rc->sh->session_ms / 1000,
		 rc->sh->secure_cookie ? "; Secure" : "");
	api__add_header(rc, "Set-Cookie", rc->cookie_buf);
}

/* Sessions that could not be ended: a busy or full database says so as
 * everywhere (503); anything else is the store's failure, not the
 * request's (500, never a 422 for a constraint the request did not
 * break). */
static void reply_sessions_stay(struct rctx *rc, int r, const char *name,
				const char *what)
{
	if (r == -EBUSY || r == -ENOSPC || r == -EROFS || r == -ENOMEM)
		return api__reply_errno(rc, r, NULL, "session");
	api__reply_error(rc, 500, "internal", "cannot end the sessions of "
			 "%s (database error): %s", name, what);
}

void api__session_refresh(struct rctx *rc)
{
	if (!rc->p || !rc->p->session || !rc->tcp || rc->cookie_buf[0])
		return;
	for (size_t i = 0; i < rc->nheaders; i++)
		if (strcasecmp(rc->headers[i][0], "Set-Cookie") == 0)
			return;   /* logout clears it */
	const char *sid = MHD_lookup_connection_value(rc->conn,
						      MHD_COOKIE_KIND,
						      AUTH_SESSION_COOKIE);
	/* it matched a session: one of our tokens, safe to send back */
	if (sid && *sid && strlen(sid) < AUTH_TOKEN_MAX &&
	    strspn(sid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "0123456789_-") == strlen(sid))
		cookie_set(rc, sid);
}

void api__h_login(struct rctx *rc)
{
	struct api_shared *sh = rc->sh;
	if (!rc->tcp)
		return api__reply_error(rc, 404, "not_found", "no such "
					"endpoint: the console's login is on "
					"the TCP listener");
	rc->audited = true;
	/* Only JSON: a form on another site can post urlencoded, multipart
	 * or text/plain bodies without asking, and could log a victim's
	 * browser in to the attacker's account (login CSRF). JSON needs a
	 * CORS preflight, which loaxad never grants. */
	const char *ct = MHD_lookup_connection_value(rc->conn, MHD_HEADER_KIND,
						     "Content-Type");
	size_t ctn = ct ? strcspn(ct, "; \t") : 0;
	if (!ct || ctn != 16 || strncasecmp(ct, "application/json", 16) != 0) {
		api__reply_error(rc, 415, "unsupported_media_type", "a login "
				 "must be sent as Content-Type: "
				 "application/json");
		audit_write(sh, "-", ROLE_NONE, rc->origin, "login_failed", "",
			    415, "not JSON");
		return;
	}
	json_t *o = api__body_object(rc);
	if (!o) {
		audit_write(sh, "-", ROLE_NONE, rc->origin, "login_failed", "",
			    (int)rc->status, "bad request");
		return;
	}
	struct verrors ve = { 0 };
	const char *name = NULL, *pw = NULL;
	api_body_login(o, &name, &pw, &ve);
	if (ve.n) {
		api__reply_fields(rc, 422, "invalid", &ve);
		audit_write(sh, "-", ROLE_NONE, rc->origin, "login_failed", "",
			    422, "invalid");
		verrors_clear(&ve);
		json_decref(o);
		return;
	}
	/* The tried name on the record: only a valid user name, and not
	 * a phone number typed in the name's place. */
	char tried[AUTH_NAME_MAX + 1], shown[AUTH_NAME_MAX + 1];
	snprintf(tried, sizeof tried, "%s", user_name_valid(name) ? name :
		 "(invalid name)");
	audit_name(tried, shown, sizeof shown);
	char target[AUTH_NAME_MAX + 8];
	snprintf(target, sizeof target, "user %s", shown);
	/* names are one user whatever their case: so is the limit */
	for (char *c = tried; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	audit_name(tried, shown, sizeof shown);
	uint64_t now = (uint64_t)util_now_ms();
	uint64_t wait = login_limiter_check(sh->limiter, tried, rc->origin,
					    now);
	if (wait) {
		uint64_t s = (wait + 999) / 1000;
		snprintf(rc->retry_buf, sizeof rc->retry_buf, "%" PRIu64, s);
		api__add_header(rc, "Retry-After", rc->retry_buf);
		api__reply_error(rc, 429, "too_many_attempts", "too many "
				 "failed logins: try again in %" PRIu64
				 " minute%s",
				 (s + 59) / 60, (s + 59) / 60 == 1 ? "" : "s");
		audit_write(sh, shown, ROLE_NONE, rc->origin, "login_failed",
			    target, 429, "too many attempts");
		json_decref(o);
		return;
	}
	struct user u = { 0 };
	int r = user_name_valid(name) ?
		store_user_get_by_name(sh->store, name, &u) : -ENOENT;
	if (r < 0 && r != -ENOENT) {
		api__reply_errno(rc, r, NULL, "user");
		audit_write(sh, shown, ROLE_NONE, rc->origin, "login_failed",
			    target, (int)rc->status, "database");
		json_decref(o);
		return;
	}
	bool ok;
	if (r == 0 && u.pw_hash[0] && !u.disabled) {
		ok = auth_password_verify(u.pw_hash, pw);
	} else {
		/* as slow as a real check: no hint that the name is wrong */
		if (!sh->dummy_hash) {
			char h[AUTH_HASH_MAX];
			if (auth_password_hash("not a password, only time",
					       h) == 0)
				sh->dummy_hash = strdup(h);
		}
		if (sh->dummy_hash)
			auth_password_verify(sh->dummy_hash, pw);
		ok = false;
	}
	json_decref(o);   /* pw pointed into it */
	if (!ok) {
		login_limiter_fail(sh->limiter, tried, rc->origin, now);
		api__reply_error(rc, 401, "bad_login", "wrong user name or "
				 "password");
		audit_write(sh, shown, r == 0 ? u.role : ROLE_NONE, rc->origin,
			    "login_failed", target, 401,
			    r == 0 && u.disabled ? "disabled" : "");
		return;
	}
	login_limiter_success(sh->limiter, tried, rc->origin);
	char sid[AUTH_TOKEN_MAX], csrf[AUTH_TOKEN_MAX], dg[AUTH_DIGEST_HEX];
	auth_random_token("lxs_", sid);
	auth_random_token("lxc_", csrf);
	auth_token_digest(sid, dg);
	r = store_session_add(sh->store, dg, u.id, csrf, rc->origin,
			      (int64_t)now, (int64_t)(now + sh->session_ms));
	if (r < 0) {
		api__reply_errno(rc, r, NULL, "session");
	} else {
		cookie_set(rc, sid);
		api__reply_json(rc, 200, json_pack("{s:o,s:s}", "user",
						   user_json(sh, &u), "csrf",
						   csrf));
		log_info(LOG_API, "user %s logged in from %s", u.name,
			 rc->origin);
	}
	audit_write(sh, u.name, u.role, rc->origin, "login", target,
		    (int)rc->status, r < 0 ? "database" : "");
	explicit_bzero(sid, sizeof sid);
	explicit_bzero(csrf, sizeof csrf);
}

void api__h_logout(struct rctx *rc)
{
	if (no_principal(rc))
		return;
	rc->audited = true;
	const char *cookie = rc->tcp ? MHD_lookup_connection_value(
		rc->conn, MHD_COOKIE_KIND, AUTH_SESSION_COOKIE) : NULL;
	char target[AUTH_NAME_MAX + 8];
	snprintf(target, sizeof target, "user %s", rc->p->name);
	if (rc->p->session && cookie && *cookie) {
		char dg[AUTH_DIGEST_HEX];
		auth_token_digest(cookie, dg);
		int r = store_session_delete(rc->sh->store, dg);
		if (r < 0 && r != -ENOENT) {
			/* The session still works: say so, and keep the
			 * cookie, so that logging out can be tried again. */
			log_err(LOG_API, "cannot end a session of %s: %s",
				rc->p->name, store_errmsg(rc->sh->store));
			reply_sessions_stay(rc, r, rc->p->name, "you are "
					    "still logged in: try again");
			audit_write(rc->sh, rc->p->name, rc->p->role,
				    rc->origin, "logout", target,
				    (int)rc->status, "database");
			return;
		}
	}
	api__add_header(rc, "Set-Cookie", api__cookie_clear(rc->sh));
	rc->status = 204;
	audit_write(rc->sh, rc->p->name, rc->p->role, rc->origin, "logout",
		    target, 204, rc->p->session ? "" : "no session");
}

void api__h_me(struct rctx *rc)
{
	if (no_principal(rc))
		return;
	json_t *uj;
	if (rc->p->user_id == 0) {
		uj = system_json(rc->p);
	} else {
		struct user u = { 0 };
		int r = store_user_get(rc->sh->store, rc->p->user_id, &u);
		if (r < 0)
			return api__reply_errno(rc, r, NULL, "user");
		uj = user_json(rc->sh, &u);
	}
	api__reply_json(rc, 200, json_pack(
		"{s:o,s:o,s:s}", "user", uj, "csrf",
		rc->csrf ? json_string(rc->csrf) : json_null(), "approval",
		config_approval_name(rc->sh->approval)));
}

/* ---- users ---- */

struct ulist_ctx {
	struct api_shared *sh;
	json_t *a;
	int admins;    /* enabled admins */
};

static int ulist_cb(const struct user *u, void *ud)
{
	struct ulist_ctx *c = ud;
	if (u->role == ROLE_ADMIN && !u->disabled)
		c->admins++;
	if (!c->a)
		return 0;
	return json_array_append_new(c->a, user_json(c->sh, u)) ? -ENOMEM : 0;
}

void api__h_users_list(struct rctx *rc)
{
	if (!api__may(rc, AA_MANAGE_USERS, "manage users"))
		return;
	struct ulist_ctx c = { .sh = rc->sh, .a = json_array() };
	int r = c.a ? store_user_list(rc->sh->store, ulist_cb, &c) : -ENOMEM;
	if (r < 0) {
		json_decref(c.a);
		return api__reply_errno(rc, r, NULL, "users");
	}
	api__reply_json(rc, 200, json_pack("{s:o}", "users", c.a));
}

/* A user's groups by name or code, for api_body_user. */
static int resolve_group(void *ud, const char *name, int64_t *ret_id)
{
	struct group_rec g = { 0 };
	int r = directory_group_resolve(ud, name, &g);
	*ret_id = g.id;
	group_rec_clear(&g);
	return r;
}

/* A new password: checked and hashed into u. */
static int take_password(json_t *o, struct user *u, bool *ret_set,
			 struct verrors *ve)
{
	const char *pw = NULL;
	*ret_set = false;
	api_body_password(o, &pw, ve);
	if (!pw)
		return 0;
	int r = auth_password_hash(pw, u->pw_hash);
	if (r == 0)
		*ret_set = true;
	return r;
}

static void reply_user_errno(struct rctx *rc, int r, const struct verrors *ve,
			     const struct user *u)
{
	if (r == -EINVAL && ve && ve->n)
		return api__reply_fields(rc, 422, "invalid", ve);
	if (r == -EEXIST) {
		/* the name, or the unix uid: say which */
		struct user other = { 0 };
		if (u->unix_uid >= 0 &&
		    store_user_get_by_uid(rc->sh->store, u->unix_uid,
					  &other) == 0 && other.id != u->id)
			return api__reply_error(rc, 409, "exists", "unix uid "
						"%" PRId64 " is already user "
						"%s's", u->unix_uid,
						other.name);
		return api__reply_error(rc, 409, "exists", "a user named "
					"'%s' already exists (names are "
					"unique ignoring case)", u->name);
	}
	api__reply_errno(rc, r, ve, "user");
}

void api__h_user_add(struct rctx *rc)
{
	if (!api__may(rc, AA_MANAGE_USERS, "manage users"))
		return;
	json_t *o = api__body_object(rc);
	if (!o)
		return;
	struct verrors ve = { 0 };
	struct user u = { .unix_uid = -1 };
	int r = api_body_user(o, API_USER_ADD, &u, resolve_group, rc->sh->dir,
			      NULL, &ve);
	bool pw_set = false;
	if (r == 0 && !ve.n)
		r = take_password(o, &u, &pw_set, &ve);
	int64_t id = 0;
	if (r == 0 && !ve.n)
		r = store_user_add(rc->sh->store, &u, util_now_ms(), &id);
	else if (r == 0)
		r = -EINVAL;
	if (u.name[0])
		snprintf(rc->audit_target, sizeof rc->audit_target, "user %s",
			 u.name);
	if (r == 0) {
		struct user got = { 0 };
		r = store_user_get(rc->sh->store, id, &got);
		if (r == 0) {
			api__reply_json(rc, 201, user_json(rc->sh, &got));
			snprintf(rc->audit_detail, sizeof rc->audit_detail,
				 "role %s", auth_role_name(got.role));
			log_info(LOG_API, "user %s (%s) added by %s", got.name,
				 auth_role_name(got.role), rc->p->name);
		}
	}
	if (r < 0)
		reply_user_errno(rc, r, &ve, &u);
	explicit_bzero(u.pw_hash, sizeof u.pw_hash);
	verrors_clear(&ve);
	json_decref(o);
}

void api__h_user_get(struct rctx *rc)
{
	struct user u = { 0 };
	bool admin;
	if (user_of_path(rc, &u, &admin))
		api__reply_json(rc, 200, user_json(rc->sh, &u));
}

static int enabled_admins(struct api_shared *sh, int *ret)
{
	struct ulist_ctx c = { .sh = sh };
	int r = store_user_list(sh->store, ulist_cb, &c);
	*ret = c.admins;
	return r;
}

void api__h_user_patch(struct rctx *rc)
{
	struct user u = { 0 };
	bool admin;
	if (!user_of_path(rc, &u, &admin))
		return;
	json_t *o = api__body_object(rc);
	if (!o)
		return;
	struct verrors ve = { 0 };
	struct user was = u;
	struct api_user_self self;
	int r = api_body_user(o, admin ? API_USER_PATCH : API_USER_SELF, &u,
			      resolve_group, rc->sh->dir, &self, &ve);
	if (!admin && self.forbidden) {
		api__reply_error(rc, 403, "forbidden", "you may change only "
				 "your password (with old_password), not "
				 "'%s': ask an admin", self.field);
		json_decref(o);
		return;
	}
	/* The old password is a login: the same limit on guessing it. */
	uint64_t now = (uint64_t)util_now_ms();
	if (!admin && !ve.n) {
		uint64_t wait = login_limiter_check(rc->sh->limiter, u.name,
						    rc->origin, now);
		if (wait) {
			uint64_t s = (wait + 999) / 1000;
			snprintf(rc->retry_buf, sizeof rc->retry_buf,
				 "%" PRIu64, s);
			api__add_header(rc, "Retry-After", rc->retry_buf);
			api__reply_error(rc, 429, "too_many_attempts", "too "
					 "many wrong passwords: try again in "
					 "%" PRIu64 " minute%s", (s + 59) / 60,
					 (s + 59) / 60 == 1 ? "" : "s");
			verrors_clear(&ve);
			json_decref(o);
			return;
		}
		if (!self.old_password || !u.pw_hash[0] ||
		    !auth_password_verify(u.pw_hash, self.old_password)) {
			login_limiter_fail(rc->sh->limiter, u.name, rc->origin,
					   now);
			verrors_add(&ve, "old_password", "wrong", "old_password "
				    "is not your present password");
		} else {
			login_limiter_success(rc->sh->limiter, u.name,
					      rc->origin);
		}
	}
	bool pw_set = false;
	if (r == 0 && !ve.n)
		r = take_password(o, &u, &pw_set, &ve);
	if (r == 0 && ve.n)
		r = -EINVAL;
	/* the last enabled admin stays */
	if (r == 0 && was.role == ROLE_ADMIN && !was.disabled &&
	    (u.role != ROLE_ADMIN || u.disabled)) {
		int n = 0;
		r = enabled_admins(rc->sh, &n);
		if (r == 0 && n <= 1) {
			api__reply_error(rc, 409, "last_admin", "%s is the "
					 "last enabled admin: make another "
					 "admin first", u.name);
			verrors_clear(&ve);
			json_decref(o);
			return;
		}
	}
	/* The change and the end of the user's sessions, or neither: a
	 * new password must not leave the old sessions working. */
	bool sessions_stay = false;
	if (r == 0)
		r = store_begin(rc->sh->store);
	if (r == 0) {
		r = store_user_update(rc->sh->store, &u, util_now_ms());
		if (r == 0 && (pw_set || (u.disabled && !was.disabled))) {
			r = store_session_delete_user(rc->sh->store, u.id);
			if (r == -ENOENT)
				r = 0;
			sessions_stay = r < 0;
			if (r < 0)
				log_err(LOG_API, "cannot end the sessions of "
					"%s: %s: nothing changed", u.name,
					store_errmsg(rc->sh->store));
		}
		if (r == 0)
			r = store_commit(rc->sh->store);
		else
			store_rollback(rc->sh->store);
	}
	if (sessions_stay) {
		reply_sessions_stay(rc, r, u.name, "nothing was changed");
	} else if (r == 0) {
		bool groups = u.ngroups != was.ngroups;
		for (size_t i = 0; !groups && i < u.ngroups; i++)
			groups = u.group_ids[i] != was.group_ids[i];
		struct user got = { 0 };
		r = store_user_get(rc->sh->store, u.id, &got);
		if (r == 0)
			api__reply_json(rc, 200, user_json(rc->sh, &got));
		snprintf(rc->audit_detail, sizeof rc->audit_detail, "%s%s%s%s",
			 pw_set ? "password " : "",
			 u.role != was.role ? "role " : "",
			 u.disabled != was.disabled ? (u.disabled ? "disabled "
						       : "enabled ") : "",
			 groups ? "groups" : "");
	}
	if (r < 0 && !sessions_stay)
		reply_user_errno(rc, r, &ve, &u);
	explicit_bzero(u.pw_hash, sizeof u.pw_hash);
	explicit_bzero(was.pw_hash, sizeof was.pw_hash);
	verrors_clear(&ve);
	json_decref(o);
}

/* ---- personal tokens ---- */

struct tlist_ctx {
	json_t *a;
};

static int tlist_cb(const struct api_token *t, void *ud)
{
	struct tlist_ctx *c = ud;
	return json_array_append_new(c->a, json_pack(
		"{s:I,s:s,s:o,s:o}", "id", (json_int_t)t->id, "label",
		t->label, "created", iso_time(t->created_ms), "last_used",
		iso_time(t->last_used_ms))) ? -ENOMEM : 0;
}

void api__h_tokens_list(struct rctx *rc)
{
	struct user u = { 0 };
	bool admin;
	if (!user_of_path(rc, &u, &admin))
		return;
	struct tlist_ctx c = { .a = json_array() };
	int r = c.a ? store_token_list(rc->sh->store, u.id, tlist_cb, &c) :
		      -ENOMEM;
	if (r < 0) {
		json_decref(c.a);
		return api__reply_errno(rc, r, NULL, "tokens");
	}
	api__reply_json(rc, 200, json_pack("{s:o}", "tokens", c.a));
}

void api__h_token_add(struct rctx *rc)
{
	struct user u = { 0 };
	bool admin;
	if (!user_of_path(rc, &u, &admin))
		return;
	json_t *o = rc->body_len ? api__body_object(rc) : json_object();
	if (!o)
		return;
	struct verrors ve = { 0 };
	const char *s;
	size_t n;
	api_body_token(o, &s, &n, &ve);
	if (ve.n) {
		api__reply_fields(rc, 422, "invalid", &ve);
		verrors_clear(&ve);
		json_decref(o);
		return;
	}
	_cleanup_free_ char *lab = util_strndup(s, n);
	json_decref(o);
	if (!lab)
		return api__reply_error(rc, 500, "internal", "out of memory");
	char tok[AUTH_TOKEN_MAX], dg[AUTH_DIGEST_HEX];
	auth_random_token("lxa_", tok);
	auth_token_digest(tok, dg);
	int64_t id = 0;
	int r = store_token_add(rc->sh->store, u.id, dg, lab, util_now_ms(),
				&id);
	if (r < 0) {
		explicit_bzero(tok, sizeof tok);
		return api__reply_errno(rc, r, NULL, "token");
	}
	api__reply_json(rc, 201, json_pack("{s:I,s:s,s:s}", "id",
					   (json_int_t)id, "label", lab,
					   "token", tok));
	explicit_bzero(tok, sizeof tok);
	snprintf(rc->audit_target, sizeof rc->audit_target,
		 "user %s token %" PRId64, u.name, id);
	log_info(LOG_API, "a token for %s was made by %s", u.name,
		 rc->p->name);
}

void api__h_token_delete(struct rctx *rc)
{
	struct user u = { 0 };
	bool admin;
	if (!user_of_path(rc, &u, &admin))
		return;
	int64_t id;
	if (util_parse_int64(rc->seg[3], 1, INT64_MAX, &id) < 0)
		return api__reply_error(rc, 404, "not_found", "a token id is "
					"a number (see the list of tokens)");
	int r = store_token_delete(rc->sh->store, u.id, id);
	if (r == -ENOENT)
		return api__reply_error(rc, 404, "not_found", "user %s has no "
					"token %" PRId64, u.name, id);
	if (r < 0)
		return api__reply_errno(rc, r, NULL, "token");
	rc->status = 204;
}

/* ---- the audit log ---- */

struct alist_ctx {
	json_t *a;
	int64_t last;
};

static int alist_cb(const struct audit_entry *e, void *ud)
{
	struct alist_ctx *c = ud;
	c->last = e->id;
	return json_array_append_new(c->a, json_pack(
		"{s:I,s:o,s:I,s:s,s:o,s:s,s:s,s:s,s:i,s:s}",
		"id", (json_int_t)e->id, "at", iso_time(e->at_ms),
		"at_ms", (json_int_t)e->at_ms,
		"user", e->user_name ? e->user_name : "-",
		"role", e->role != ROLE_NONE ? json_string(auth_role_name(
			e->role)) : json_null(),
		"origin", e->origin ? e->origin : "",
		"action", e->action ? e->action : "",
		"target", e->target ? e->target : "",
		"status", e->status, "detail",
		e->detail ? e->detail : "")) ? -ENOMEM : 0;
}

void api__h_audit(struct rctx *rc)
{
	int64_t limit, before;
	if (!api__may(rc, AA_READ_AUDIT, "read the audit log") ||
	    api__query_int(rc, "limit", 1, 1000, 100, &limit) < 0 ||
	    api__query_int(rc, "before", 0, INT64_MAX, 0, &before) < 0)
		return;
	struct alist_ctx c = { .a = json_array() };
	bool more = false;
	int r = c.a ? store_audit_list(rc->sh->store, before, (int)limit,
				       alist_cb, &c, &more) : -ENOMEM;
	if (r < 0) {
		json_decref(c.a);
		return api__reply_errno(rc, r, NULL, "audit");
	}
	api__reply_json(rc, 200, json_pack("{s:o,s:o}", "entries", c.a,
					   "next_before", more && c.last ?
					   json_integer(c.last) :
					   json_null()));
}

/* ---- approval ---- */

/* The awaiting broadcast of the path, for an official who did not ask
 * for it. Answers itself when not. */
static int approvable(struct rctx *rc, int64_t *ret_id)
{
	if (util_parse_int64(rc->seg[1], 1, INT64_MAX, ret_id) < 0) {
		api__reply_error(rc, 404, "not_found", "no such broadcast");
		return -EINVAL;
	}
	snprintf(rc->audit_target, sizeof rc->audit_target,
		 "broadcast %" PRId64, *ret_id);
	if (!api__may(rc, AA_APPROVE, "approve or reject broadcasts"))
		return -EACCES;
	struct broadcast b = { 0 };
	int r = store_broadcast_get(rc->sh->store, *ret_id, &b);
	if (r < 0) {
		api__reply_errno(rc, r, NULL, "broadcast");
		return r;
	}
	if (!api__broadcast_ok(rc, &b, "approve")) {
		r = -EACCES;
	} else if (b.state != BS_AWAITING) {
		api__reply_error(rc, 409, "state", "broadcast %" PRId64 " is "
				 "not awaiting approval (it is %s)", b.id,
				 bcast_state_name(b.state));
		r = -EALREADY;
	} else if (!auth_may_approve(rc->p, b.requested_by)) {
		api__reply_error(rc, 403, "same_person", "a second official "
				 "must approve: %s asked for this broadcast",
				 b.requested_by ? b.requested_by : "someone");
		r = -EACCES;
	}
	broadcast_clear(&b);
	return r;
}

void api__h_approve(struct rctx *rc)
{
	int64_t id;
	if (approvable(rc, &id) < 0)
		return;
	int r = broadcast_approve(rc->sh->bc, id, rc->p->name);
	if (r == -EALREADY)
		return api__reply_error(rc, 409, "state", "broadcast %" PRId64
					" is not awaiting approval", id);
	if (r < 0)
		return api__reply_errno(rc, r, NULL, "broadcast");
	snprintf(rc->audit_detail, sizeof rc->audit_detail, "approved");
	api__reply_broadcast(rc, id, 200);
}

void api__h_reject(struct rctx *rc)
{
	int64_t id;
	json_t *o = NULL;
	const char *reason = NULL;
	if (rc->body_len) {
		o = api__body_object(rc);
		if (!o)
			return;
		struct verrors ve = { 0 };
		api_body_reject(o, &reason, &ve);
		if (ve.n) {
			api__reply_fields(rc, 422, "invalid", &ve);
			verrors_clear(&ve);
			json_decref(o);
			return;
		}
	}
	if (approvable(rc, &id) < 0) {
		json_decref(o);
		return;
	}
	int r = broadcast_reject(rc->sh->bc, id);
	if (r == -EALREADY) {
		json_decref(o);
		return api__reply_error(rc, 409, "state", "broadcast %" PRId64
					" is not awaiting approval", id);
	}
	if (r < 0) {
		json_decref(o);
		return api__reply_errno(rc, r, NULL, "broadcast");
	}
	char why[120] = "";
	if (reason)
		audit_text(reason, why, sizeof why);
	snprintf(rc->audit_detail, sizeof rc->audit_detail, "rejected%s%s",
		 why[0] ? ": " : "", why);
	json_decref(o);
	api__reply_broadcast(rc, id, 200);
}

/* ---- logging at run time ---- */

static const char *level_name(enum log_level l)
{
	switch (l) {
	case LOG_LVL_ERR: return "err";
	case LOG_LVL_WARN: return "warning";
	case LOG_LVL_NOTICE: return "notice";
	case LOG_LVL_INFO: return "info";
	case LOG_LVL_DEBUG: return "debug";
	}
	return "info";
}

static json_t *log_json(const struct api_shared *sh)
{
	json_t *dbg = json_array();
	for (int s = 0; dbg && s < LOG_SUBSYS_MAX; s++)
		if (sh->log_level < LOG_LVL_DEBUG &&
		    log_enabled((enum log_subsys)s, LOG_LVL_DEBUG))
			json_array_append_new(dbg, json_string(
				log_subsys_name((enum log_subsys)s)));
	return json_pack("{s:s,s:o}", "level", level_name(sh->log_level),
			 "debug", dbg);
}

void api__h_log_get(struct rctx *rc)
{
	if (api__may(rc, AA_SET_LOG, "see the log settings"))
		api__reply_json(rc, 200, log_json(rc->sh));
}

void api__h_log_put(struct rctx *rc)
{
	if (!api__may(rc, AA_SET_LOG, "change the log settings"))
		return;
	json_t *o = api__body_object(rc);
	if (!o)
		return;
	struct verrors ve = { 0 };
	struct api_log_body lb = { .level = rc->sh->log_level };
	api_body_log(o, &lb, &ve);
	if (ve.n) {
		api__reply_fields(rc, 422, "invalid", &ve);
		verrors_clear(&ve);
		json_decref(o);
		return;
	}
	enum log_level level = lb.level;
	log_set_level(level);
	rc->sh->log_level = level;
	if (lb.debug_set)
		for (int s = 0; s < LOG_SUBSYS_MAX; s++)
			log_set_debug((enum log_subsys)s, lb.debug[s]);
	json_decref(o);
	api__reply_json(rc, 200, log_json(rc->sh));
	char list[160] = "";
	json_t *dj = json_object_get(rc->json, "debug");
	size_t i, k = 0;
	json_t *e;
	json_array_foreach(dj, i, e)
		k += (size_t)snprintf(list + (k < sizeof list ? k :
					      sizeof list - 1),
				      k < sizeof list ? sizeof list - k : 0,
				      "%s%s", i ? "," : "",
				      json_string_value(e));
	snprintf(rc->audit_detail, sizeof rc->audit_detail, "level %s%s%s",
		 level_name(level), list[0] ? ", debug " : "", list);
	log_notice(LOG_MAIN, "log settings changed by %s: %s", rc->p->name,
		   rc->audit_detail);
}
