/* store-auth.c: users and the groups a manager keeps, personal API tokens,
 * console sessions and the audit log (see users.h). Part of the store
 * module.
 *
 * These calls are rare (a login, a token's first use in a minute, one
 * audit row per write request), so each prepares its statement when called
 * and finalizes it on return: nothing to keep in struct store, nothing for
 * store_close() to know about. Only digests of secrets are handled here. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "loaxa/log.h"
#include "loaxa/text.h"
#include "loaxa/users.h"
#include "store-internal.h"

/* A token's last use and a session's expiry are written at most this
 * often: reads stay reads. */
#define TOUCH_EVERY_MS 60000
/* Audit texts are short; longer ones are cut at a character boundary. */
#define AUDIT_TEXT_MAX 1000
#define AUDIT_LIST_MAX 1000

static void finalizep(sqlite3_stmt **st)
{
	sqlite3_finalize(*st);
}
#define _cleanup_finalize_ _cleanup_(finalizep)

static int prep(struct store *s, const char *sql, sqlite3_stmt **ret)
{
	*ret = NULL;
	if (s->aborted)
		return s->aborted;
	int rc = sqlite3_prepare_v3(s->db, sql, -1, 0, ret, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(*ret);
		*ret = NULL;
		return store__fail(s, NULL, rc);
	}
	return 0;
}

/* A parameter to bind: an integer, a text (len -1: up to its NUL; NULL
 * binds SQL NULL) or SQL NULL. Texts must outlive the step: statements
 * here are finalized before the functions binding them return. */
struct sql_arg {
	enum { SQL_ARG_END, SQL_ARG_I64, SQL_ARG_TEXT, SQL_ARG_NULL } type;
	int64_t i;
	const char *s;
	int len;
};
#define SQL_I64(v) ((struct sql_arg){ SQL_ARG_I64, (v), NULL, 0 })
#define SQL_TEXT(v) ((struct sql_arg){ SQL_ARG_TEXT, 0, (v), -1 })
#define SQL_NULL ((struct sql_arg){ SQL_ARG_NULL, 0, NULL, 0 })
#define SQL_END ((struct sql_arg){ SQL_ARG_END, 0, NULL, 0 })
/* The values of ?1, ?2, ... in order. */
#define SQL_ARGS(...) ((const struct sql_arg[]){ __VA_ARGS__, SQL_END })

static int bind_args(struct store *s, sqlite3_stmt *st,
		     const struct sql_arg *a)
{
	int rc = SQLITE_OK;
	for (int i = 1; a->type != SQL_ARG_END && rc == SQLITE_OK; a++, i++) {
		if (a->type == SQL_ARG_I64)
			rc = sqlite3_bind_int64(st, i, a->i);
		else if (a->type == SQL_ARG_TEXT && a->s)
			rc = sqlite3_bind_text(st, i, a->s, a->len,
					       SQLITE_STATIC);
		else
			rc = sqlite3_bind_null(st, i);
	}
	return store__bind_check(s, st, rc);
}

/* Prepare sql and bind its parameters. */
static int prep_args(struct store *s, const char *sql,
		     const struct sql_arg *a, sqlite3_stmt **ret)
{
	int r = prep(s, sql, ret);
	return r < 0 ? r : bind_args(s, *ret, a);
}

/* Prepare, bind and step once: 1 = a row, 0 = none, -errno = failed. */
static int prep_step(struct store *s, const char *sql,
		     const struct sql_arg *a, sqlite3_stmt **ret)
{
	int r = prep_args(s, sql, a, ret);
	return r < 0 ? r : store__step(s, *ret);
}

/* Run a statement that returns no rows; sqlite3_changes() and
 * sqlite3_last_insert_rowid() tell the rest. */
static int run(struct store *s, const char *sql, const struct sql_arg *a)
{
	_cleanup_finalize_ sqlite3_stmt *st = NULL;
	int r = prep_args(s, sql, a, &st);
	return r < 0 ? r : store__exec(s, st);
}

static int64_t col_i64(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 :
	       sqlite3_column_int64(st, i);
}

/* Copy a text column into a fixed buffer ("" for NULL). */
static void col_copy(sqlite3_stmt *st, int i, char *dst, size_t dstsz)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(dst, dstsz, "%s", t ? (const char *)t : "");
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? (const char *)t : "";
}

static bool digest_valid(const char *d)
{
	if (!d)
		return false;
	size_t n = 0;
	for (; d[n]; n++)
		if (n >= AUTH_DIGEST_HEX - 1 || util_hexdigit(d[n]) < 0)
			return false;
	return n == AUTH_DIGEST_HEX - 1;
}

/* ---- users -------------------------------------------------------------- */

bool user_name_valid(const char *name)
{
	if (!name || !name[0] || name[0] == '-' || name[0] == '.')
		return false;
	size_t n = 0;
	for (; name[n]; n++) {
		char c = name[n];
		if (n >= AUTH_NAME_MAX)
			return false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

#define USER_COLS \
	"u.id, u.name, u.display_name, u.role, u.pw_hash, u.unix_uid," \
	" u.disabled, u.created_ms, u.updated_ms"
#define USER_NCOLS 9

static void user_from_row(sqlite3_stmt *st, int c, struct user *u)
{
	memset(u, 0, sizeof *u);
	u->id = sqlite3_column_int64(st, c + 0);
	col_copy(st, c + 1, u->name, sizeof u->name);
	col_copy(st, c + 2, u->display_name, sizeof u->display_name);
	u->role = (enum role)sqlite3_column_int(st, c + 3);
	if (u->role < ROLE_NONE || u->role > ROLE_ADMIN)
		u->role = ROLE_NONE;
	col_copy(st, c + 4, u->pw_hash, sizeof u->pw_hash);
	u->unix_uid = sqlite3_column_type(st, c + 5) == SQLITE_NULL ? -1 :
		      sqlite3_column_int64(st, c + 5);
	u->disabled = sqlite3_column_int(st, c + 6) != 0;
	u->created_ms = col_i64(st, c + 7);
	u->updated_ms = col_i64(st, c + 8);
}

/* A manager's groups, in id order. */
static int user_load_groups(struct store *s, struct user *u)
{
	u->ngroups = 0;
	if (u->role != ROLE_MANAGER)
		return 0;
	_cleanup_finalize_ sqlite3_stmt *st = NULL;
	int r = prep_args(s, "SELECT group_id FROM user_groups"
			  " WHERE user_id = ?1 ORDER BY group_id LIMIT ?2",
			  SQL_ARGS(SQL_I64(u->id), SQL_I64(AUTH_MAX_GROUPS)),
			  &st);
	if (r < 0)
		return r;
	while ((r = store__step(s, st)) > 0 && u->ngroups < AUTH_MAX_GROUPS)
		u->group_ids[u->ngroups++] = sqlite3_column_int64(st, 0);
	return r < 0 ? r : 0;
}

/* Load a manager's groups into u, then copy it to ret (if any). */
static int user_return(struct store *s, struct user *u, struct user *ret)
{
	int r = user_load_groups(s, u);
	if (r < 0)
		return r;
	if (ret)
		*ret = *u;
	return 0;
}

/* Run a query returning one user row: -ENOENT when none. */
static int user_query_one(struct store *s, const char *sql,
			  const struct sql_arg *a, struct user *ret)
{
	_cleanup_finalize_ sqlite3_stmt *st = NULL;
	int r = prep_step(s, sql, a, &st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	struct user u;
	user_from_row(st, 0, &u);
	return user_return(s, &u, ret);
}

static int user_check(struct store *s, const struct user *u, bool name)
{
	const char *what = NULL;
	if (!u)
		what = "no user";
	else if (name && !user_name_valid(u->name))
		what = "bad user name";
	else if (u->role != ROLE_MANAGER && u->role != ROLE_OFFICIAL &&
		 u->role != ROLE_ADMIN)
		what = "bad role";
	else if (strnlen(u->display_name, sizeof u->display_name) >=
		 sizeof u->display_name ||
		 !text_utf8_valid(u->display_name, strlen(u->display_name)))
		what = "bad display name";
	else if (strnlen(u->pw_hash, sizeof u->pw_hash) >= sizeof u->pw_hash)
		what = "bad password hash";
	else if (u->unix_uid < -1 || u->unix_uid > UINT32_MAX)
		what = "bad unix uid";
	else if (u->ngroups > AUTH_MAX_GROUPS)
		what = "too many groups";
	if (!what)
		return 0;
	store__seterr(s, "%s", what);
	return -EINVAL;
}

/* Check u, then begin the transaction that in_txn() ends. */
static int user_begin(struct store *s, const struct user *u, bool name)
{
	int r = user_check(s, u, name);
	return r < 0 ? r : store_begin(s);
}

/* The values of ?2 display_name, ?3 role, ?4 pw_hash, ?5 unix_uid and
 * ?6 disabled. */
#define USER_FIELDS(u) \
	SQL_TEXT((u)->display_name), SQL_I64((u)->role), \
	SQL_TEXT((u)->pw_hash[0] ? (u)->pw_hash : NULL), \
	(u)->unix_uid < 0 ? SQL_NULL : SQL_I64((u)->unix_uid), \
	SQL_I64((u)->disabled ? 1 : 0)

/* Replace the user's groups (kept for managers only). */
static int user_put_groups(struct store *s, const struct user *u,
			   int64_t id)
{
	int r = run(s, "DELETE FROM user_groups WHERE user_id = ?1",
		    SQL_ARGS(SQL_I64(id)));
	if (r < 0 || u->role != ROLE_MANAGER || u->ngroups == 0)
		return r;
	_cleanup_finalize_ sqlite3_stmt *ins = NULL;
	r = prep(s, "INSERT OR IGNORE INTO user_groups (user_id, group_id)"
		 " VALUES (?1, ?2)", &ins);
	if (r < 0)
		return r;
	for (size_t i = 0; i < u->ngroups; i++) {
		if ((r = bind_args(s, ins, SQL_ARGS(SQL_I64(id),
				   SQL_I64(u->group_ids[i])))) < 0 ||
		    (r = store__exec(s, ins)) < 0) {
			if (r == -EINVAL)
				store__seterr(s, "no group with id %" PRId64,
					      u->group_ids[i]);
			return r;
		}
		sqlite3_reset(ins);
	}
	return 0;
}

/* End the transaction level begun by the caller: commit when r is fine,
 * else roll back and return r. */
static int in_txn(struct store *s, int r)
{
	if (r < 0) {
		store_rollback(s);
		return r;
	}
	return store_commit(s);
}

int store_user_add(struct store *s, const struct user *u, int64_t now_ms,
		   int64_t *ret_id)
{
	if (fails_assert(s))
		return -EINVAL;
	int r = user_begin(s, u, true);
	if (r < 0)
		return r;
	int64_t id = 0;
	r = run(s, "INSERT INTO users (name, display_name, role, pw_hash,"
		" unix_uid, disabled, created_ms, updated_ms)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
		SQL_ARGS(SQL_TEXT(u->name), USER_FIELDS(u), SQL_I64(now_ms)));
	if (r == -EEXIST)
		store__seterr(s, "user %s or unix uid %" PRId64
			      " already exists", u->name, u->unix_uid);
	if (r >= 0) {
		id = sqlite3_last_insert_rowid(s->db);
		r = user_put_groups(s, u, id);
	}
	r = in_txn(s, r);
	if (r < 0)
		return r;
	if (ret_id)
		*ret_id = id;
	return 0;
}

int store_user_update(struct store *s, const struct user *u,
		      int64_t now_ms)
{
	if (fails_assert(s))
		return -EINVAL;
	int r = user_begin(s, u, false);
	if (r < 0)
		return r;
	r = run(s, "UPDATE users SET display_name = ?2, role = ?3,"
		" pw_hash = ?4, unix_uid = ?5, disabled = ?6, updated_ms = ?7"
		" WHERE id = ?1",
		SQL_ARGS(SQL_I64(u->id), USER_FIELDS(u), SQL_I64(now_ms)));
	if (r == -EEXIST)
		store__seterr(s, "unix uid %" PRId64
			      " already belongs to a user", u->unix_uid);
	else if (r >= 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	if (r >= 0)
		r = user_put_groups(s, u, u->id);
	return in_txn(s, r);
}

int store_user_get(struct store *s, int64_t id, struct user *ret)
{
	if (fails_assert(s))
		return -EINVAL;
	return user_query_one(s, "SELECT " USER_COLS " FROM users u"
			      " WHERE u.id = ?1", SQL_ARGS(SQL_I64(id)), ret);
}

int store_user_get_by_name(struct store *s, const char *name,
			   struct user *ret)
{
	if (fails_assert(s) || !name)
		return -EINVAL;
	if (!user_name_valid(name))
		return -ENOENT;
	return user_query_one(s, "SELECT " USER_COLS " FROM users u"
			      " WHERE u.name = ?1 COLLATE NOCASE",
			      SQL_ARGS(SQL_TEXT(name)), ret);
}

int store_user_get_by_uid(struct store *s, int64_t uid, struct user *ret)
{
	if (fails_assert(s))
		return -EINVAL;
	if (uid < 0)
		return -ENOENT;
	return user_query_one(s, "SELECT " USER_COLS " FROM users u"
			      " WHERE u.unix_uid = ?1", SQL_ARGS(SQL_I64(uid)),
			      ret);
}

int store_user_list(struct store *s,
		    int (*cb)(const struct user *u, void *ud), void *ud)
{
	if (fails_assert(s) || !cb)
		return -EINVAL;
	_cleanup_finalize_ sqlite3_stmt *st = NULL;
	int r = prep(s, "SELECT " USER_COLS " FROM users u"
		     " ORDER BY u.name COLLATE NOCASE, u.id", &st);
	if (r < 0)
		return r;
	while ((r = store__step(s, st)) > 0) {
		struct user u;
		user_from_row(st, 0, &u);
		r = user_return(s, &u, NULL);
		if (r < 0)
			return r;
		r = cb(&u, ud);
		if (r)
			return r;
	}
	return r;
}

/* 0 when the user exists, -ENOENT when not. */
static int user_exists(struct store *s, int64_t id)
{
	_cleanup_finalize_ sqlite3_stmt *st = NULL;
	int r = prep_step(s, "SELECT 1 FROM users WHERE id = ?1",
			  SQL_ARGS(SQL_I64(id)), &st);
	if (r < 0)
		return r;
	if (r == 0) {
		store__seterr(s, "no user with id %" PRId64, id);
		return -ENOENT;
	}
	return 0;
}

/* A write that only refreshes a time: failing it must not refuse the
 * request, unless SQLite rolled the caller's transaction back. */
static int touch(struct store *s, const char *sql, const struct sql_arg *a)
{
	int r = run(s, sql, a);
	if (r < 0) {
		log_debug(LOG_STORE, "could not record last use: %s",
			  s->errmsg);
		return s->aborted ? s->aborted : 0;
	}
	return 0;
}

/* Find by its digest a token's or session's row that starts with the
 * user's columns; st stays on the row for the columns after them. */
static int user_by_digest(struct store *s, const char *sql,
			  const char *digest, sqlite3_stmt **st,
			  struct user *ret)
{
	if (!digest_valid(digest))
		return -ENOENT;
	int r = prep_step(s, sql, SQL_ARGS(SQL_TEXT(digest)), st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	user_from_row(*st, 0, ret);
	return 0;
}

/* ---- tokens ------------------------------------------------------------- */

int store_token_add(struct store *s, int64_t user_id, const char *digest,
		    const char *label, int64_t now_ms, int64_t *ret_id)
{
	if (fails_assert(s))
		return -EINVAL;
	if (!label)
		label = "";
	if (!digest_valid(digest)) {
		store__seterr(s, "bad token digest");
		return -EINVAL;
	}
	size_t ll = strnlen(label, sizeof ((struct api_token *)0)->label);
	if (ll >= sizeof ((struct api_token *)0)->label ||
	    !text_utf8_valid(label, ll)) {
		store__seterr(s, "bad token label: up to 120 bytes of text");
		return -EINVAL;
	}
	int r = user_exists(s, user_id);
	if (r < 0)
		return r;
	r = run(s, "INSERT INTO api_tokens (user_id, hash, label, created_ms)"
		" VALUES (?1, ?2, ?3, ?4)",
		SQL_ARGS(SQL_I64(user_id), SQL_TEXT(digest), SQL_TEXT(label),
			 SQL_I64(now_ms)));
	if (r < 0)
		return r;
	if (ret_id)
		*ret_id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int store_token_user(struct store *s, const char *digest, int64_t now_ms,
		     struct user *ret)
{
	if (fails_assert(s))
		return -EINVAL;
	_cleanup_finalize_ sqlite3_stmt *st = NULL;
	struct user u;
	int r = user_by_digest(s, "SELECT " USER_COLS ", t.id,"
			       " t.last_used_ms FROM api_tokens t"
			       " JOIN users u ON u.id = t.user_id"
			       " WHERE t.hash = ?1 AND u.disabled = 0",
			       digest, &st, &u);
	if (r < 0)
		return r;
	int64_t tid = sqlite3_column_int64(st, USER_NCOLS);
	int64_t last = col_i64(st, USER_NCOLS + 1);
	sqlite3_reset(st);
	if (now_ms - last >= TOUCH_EVERY_MS || now_ms < last) {
		r = touch(s, "UPDATE api_tokens SET last_used_ms = ?2"
			  " WHERE id = ?1",
			  SQL_ARGS(SQL_I64(tid), SQL_I64(now_ms)));
		if (r < 0)
			return r;
	}
	return user_return(s, &u, ret);
}

int store_token_list(struct store *s, int64_t user_id,
		     int (*cb)(const struct api_token *t, void *ud), void *ud)
{
	if (fails_assert(s) || !cb)
		return -EINVAL;
	_cleanup_finalize_ sqlite3_stmt *st = NULL;
	int r = prep_args(s, "SELECT id, user_id, label, created_ms,"
			  " last_used_ms FROM api_tokens WHERE user_id = ?1"
			  " ORDER BY id", SQL_ARGS(SQL_I64(user_id)), &st);
	if (r < 0)
		return r;
	while ((r = store__step(s, st)) > 0) {
		struct api_token t = {
			.id = sqlite3_column_int64(st, 0),
			.user_id = sqlite3_column_int64(st, 1),
			.created_ms = col_i64(st, 3),
			.last_used_ms = col_i64(st, 4),
		};
		col_copy(st, 2, t.label, sizeof t.label);
		r = cb(&t, ud);
		if (r)
			return r;
	}
	return r;
}

int store_token_delete(struct store *s, int64_t user_id, int64_t token_id)
{
	if (fails_assert(s))
		return -EINVAL;
	int r = run(s, "DELETE FROM api_tokens WHERE id = ?1 AND user_id = ?2",
		    SQL_ARGS(SQL_I64(token_id), SQL_I64(user_id)));
	if (r < 0)
		return r;
	return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

/* ---- sessions ----------------------------------------------------------- */

int store_session_add(struct store *s, const char *digest, int64_t user_id,
		      const char *csrf, const char *origin, int64_t now_ms,
		      int64_t expires_ms)
{
	if (fails_assert(s))
		return -EINVAL;
	if (!digest_valid(digest) || !csrf || !csrf[0] ||
	    strnlen(csrf, AUTH_TOKEN_MAX) >= AUTH_TOKEN_MAX) {
		store__seterr(s, "bad session digest or csrf token");
		return -EINVAL;
	}
	int r = user_exists(s, user_id);
	if (r < 0)
		return r;
	return run(s, "INSERT INTO sessions (hash, user_id, csrf, origin,"
		   " created_ms, seen_ms, expires_ms)"
		   " VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
		   SQL_ARGS(SQL_TEXT(digest), SQL_I64(user_id), SQL_TEXT(csrf),
			    SQL_TEXT(origin ? origin : ""), SQL_I64(now_ms),
			    SQL_I64(expires_ms)));
}

int store_session_user(struct store *s, const char *digest, int64_t now_ms,
		       int64_t lifetime_ms, struct user *ret,
		       char csrf[AUTH_TOKEN_MAX])
{
	if (fails_assert(s))
		return -EINVAL;
	_cleanup_finalize_ sqlite3_stmt *st = NULL;
	struct user u;
	int r = user_by_digest(s, "SELECT " USER_COLS ", s.csrf, s.seen_ms,"
			       " s.expires_ms FROM sessions s"
			       " JOIN users u ON u.id = s.user_id"
			       " WHERE s.hash = ?1", digest, &st, &u);
	if (r < 0)
		return r;
	char tok[AUTH_TOKEN_MAX];
	col_copy(st, USER_NCOLS, tok, sizeof tok);
	int64_t seen = col_i64(st, USER_NCOLS + 1);
	int64_t expires = col_i64(st, USER_NCOLS + 2);
	sqlite3_reset(st);
	if (expires <= now_ms) {
		/* gone: forget it now rather than at the next prune */
		r = touch(s, "DELETE FROM sessions WHERE hash = ?1",
			  SQL_ARGS(SQL_TEXT(digest)));
		return r < 0 ? r : -ENOENT;
	}
	if (u.disabled)
		return -ENOENT;
	if (lifetime_ms > 0 &&
	    (now_ms - seen >= TOUCH_EVERY_MS || now_ms < seen)) {
		r = touch(s, "UPDATE sessions SET seen_ms = ?1,"
			  " expires_ms = ?2 WHERE hash = ?3",
			  SQL_ARGS(SQL_I64(now_ms),
				   SQL_I64(now_ms + lifetime_ms),
				   SQL_TEXT(digest)));
		if (r < 0)
			return r;
	}
	r = user_return(s, &u, ret);
	if (r < 0)
		return r;
	if (csrf)
		memcpy(csrf, tok, sizeof tok);
	return 0;
}

int store_session_delete(struct store *s, const char *digest)
{
	if (fails_assert(s))
		return -EINVAL;
	if (!digest_valid(digest))
		return -ENOENT;
	int r = run(s, "DELETE FROM sessions WHERE hash = ?1",
		    SQL_ARGS(SQL_TEXT(digest)));
	if (r < 0)
		return r;
	return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

int store_session_delete_user(struct store *s, int64_t user_id)
{
	if (fails_assert(s))
		return -EINVAL;
	return run(s, "DELETE FROM sessions WHERE user_id = ?1",
		   SQL_ARGS(SQL_I64(user_id)));
}

int store_session_prune(struct store *s, int64_t now_ms, int64_t *ret_n)
{
	if (fails_assert(s))
		return -EINVAL;
	int r = run(s, "DELETE FROM sessions WHERE expires_ms <= ?1",
		    SQL_ARGS(SQL_I64(now_ms)));
	if (r < 0)
		return r;
	if (ret_n)
		*ret_n = sqlite3_changes(s->db);
	return 0;
}

/* ---- audit -------------------------------------------------------------- */

/* Text cut to AUDIT_TEXT_MAX bytes at a character boundary; invalid
 * UTF-8 is stored as "?" rather than refused: the row must be written. */
static struct sql_arg audit_text(const char *v, const char *dflt)
{
	if (!v)
		v = dflt;
	size_t n = strnlen(v, AUDIT_TEXT_MAX + 1);
	if (n > AUDIT_TEXT_MAX) {
		n = AUDIT_TEXT_MAX;
		while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80)
			n--;
	}
	if (!text_utf8_valid(v, n)) {
		v = "?";
		n = 1;
	}
	return (struct sql_arg){ SQL_ARG_TEXT, 0, v, (int)n };
}

int store_audit_add(struct store *s, const struct audit_entry *e)
{
	if (fails_assert(s))
		return -EINVAL;
	if (!e || !e->action || !e->action[0]) {
		store__seterr(s, "audit entry without an action");
		return -EINVAL;
	}
	return run(s, "INSERT INTO audit (at_ms, user_name, role, origin,"
		   " action, target, status, detail)"
		   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
		   SQL_ARGS(SQL_I64(e->at_ms > 0 ? e->at_ms : util_now_ms()),
			    audit_text(e->user_name, "-"), SQL_I64(e->role),
			    audit_text(e->origin, ""),
			    audit_text(e->action, ""),
			    audit_text(e->target, ""), SQL_I64(e->status),
			    audit_text(e->detail, "")));
}

int store_audit_list(struct store *s, int64_t before_id, int limit,
		     int (*cb)(const struct audit_entry *e, void *ud),
		     void *ud, bool *ret_more)
{
	if (fails_assert(s) || !cb || limit <= 0)
		return -EINVAL;
	if (limit > AUDIT_LIST_MAX)
		limit = AUDIT_LIST_MAX;
	if (ret_more)
		*ret_more = false;
	_cleanup_finalize_ sqlite3_stmt *st = NULL;
	int r = prep_args(s, "SELECT id, at_ms, user_name, role, origin,"
			  " action, target, status, detail FROM audit"
			  " WHERE ?1 <= 0 OR id < ?1 ORDER BY id DESC LIMIT ?2",
			  SQL_ARGS(SQL_I64(before_id),
				   SQL_I64((int64_t)limit + 1)), &st);
	if (r < 0)
		return r;
	int n = 0;
	while ((r = store__step(s, st)) > 0) {
		if (n++ == limit) {
			if (ret_more)
				*ret_more = true;
			return 0;
		}
		int role = sqlite3_column_int(st, 3);
		struct audit_entry e = {
			.id = sqlite3_column_int64(st, 0),
			.at_ms = col_i64(st, 1),
			.user_name = col_text(st, 2),
			.role = role >= ROLE_NONE && role <= ROLE_ADMIN ?
				(enum role)role : ROLE_NONE,
			.origin = col_text(st, 4),
			.action = col_text(st, 5),
			.target = col_text(st, 6),
			.status = sqlite3_column_int(st, 7),
			.detail = col_text(st, 8),
		};
		r = cb(&e, ud);
		if (r)
			return r;
	}
	return r;
}
