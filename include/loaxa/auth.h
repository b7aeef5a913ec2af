/* auth.h: who is asking, and whether they may.
 *
 * Roles: an admin may do everything (accounts, backups, the audit log); an
 * official sends notices and meetings to any group, urgent notices too; a
 * manager keeps the households of named groups and sends (not urgent) to
 * those groups only. The rules are pure functions of a principal, so the
 * control API, the console and the CLI (which speaks the API) share them.
 *
 * Secrets: passwords are hashed with Argon2id (libsodium's crypto_pwhash_str);
 * personal API tokens and session ids are random and only their BLAKE2b
 * hashes are stored. The login limiter is in memory: a restart forgets it.
 *
 * Storage of users, tokens, sessions and the audit log: users.h.
 */
#ifndef LOAXA_AUTH_H
#define LOAXA_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loaxa/config.h"

enum role { ROLE_NONE = 0, ROLE_MANAGER = 1, ROLE_OFFICIAL = 2,
	    ROLE_ADMIN = 3 };
const char *auth_role_name(enum role r);        /* "manager", ... */
int auth_role_parse(const char *s, enum role *ret);  /* -EINVAL */

#define AUTH_NAME_MAX 64          /* bytes of a user name */
#define AUTH_MAX_GROUPS 64        /* groups one manager keeps */
#define AUTH_HASH_MAX 128         /* crypto_pwhash_STRBYTES */
#define AUTH_TOKEN_MAX 64         /* "lxa_" + 43 base64url chars + NUL */
#define AUTH_DIGEST_HEX 65        /* 32-byte BLAKE2b as hex + NUL */
#define AUTH_SESSION_COOKIE "loaxa_session"
#define AUTH_CSRF_HEADER "X-CSRF-Token"

/* The one asking, resolved by the API for each request. */
struct principal {
	int64_t user_id;          /* 0: the system (root or loaxad's own uid
				     on the unix socket; the [api]
				     token_file token) */
	char name[AUTH_NAME_MAX + 1];
	enum role role;
	size_t ngroups;
	int64_t group_ids[AUTH_MAX_GROUPS];   /* a manager's groups */
	bool session;             /* by console cookie: writes need CSRF */
	char origin[96];          /* "unix uid 1000", "127.0.0.1" */
};

/* What a request wants to do, for auth_may(). Reads and writes of
 * households and broadcasts are also checked group by group with
 * auth_group_ok() / auth_groups_ok(). */
enum auth_action {
	AA_READ,             /* status, groups, households, broadcasts */
	AA_EDIT_HOUSEHOLDS,  /* add, edit, delete, opt-out, import */
	AA_MANAGE_GROUPS,    /* add, rename, delete a group */
	AA_SEND,             /* a meeting or a notice */
	AA_SEND_URGENT,      /* an urgent notice */
	AA_APPROVE,          /* approve or reject another's broadcast */
	AA_MANAGE_USERS,     /* users of others, their tokens */
	AA_READ_AUDIT,
	AA_BACKUP,
	AA_METRICS,
	AA_SET_LOG,          /* debug per subsystem at run time */
	AA_MAX
};
bool auth_may(const struct principal *p, enum auth_action a);

/* Admins and officials: any group; managers: their own. */
bool auth_group_ok(const struct principal *p, int64_t group_id);
/* Every id in ids is allowed; all_groups (a broadcast to every group) is
 * allowed to admins and officials only. */
bool auth_groups_ok(const struct principal *p, const int64_t *ids, size_t n,
		    bool all_groups);

/* Whether a new broadcast waits for a second official under mode. */
bool auth_needs_approval(enum approval_mode mode, bool urgent,
			 bool all_groups);
/* An official or admin who is not the one who asked. requested_by is the
 * requester's user name (NULL: unknown, then only an admin may). */
bool auth_may_approve(const struct principal *p, const char *requested_by);

/* Call once before the rest (sodium_init); -EIO on failure. */
int auth_init(void);

/* A password acceptable to store: 10..1024 bytes of valid UTF-8, not all
 * one character. -EINVAL with the reason in why. */
int auth_password_check(const char *pw, char *why, size_t whysz);
/* Argon2id hash in crypto_pwhash_str format (t=2, m=19 MiB: about 50 ms
 * here). -ENOMEM when the memory cannot be had. */
int auth_password_hash(const char *pw, char out[AUTH_HASH_MAX]);
/* Constant-time against the hash; false for a malformed hash. */
bool auth_password_verify(const char *hash, const char *pw);

/* prefix + 43 base64url characters of 32 random bytes ("lxa_..."). */
void auth_random_token(const char *prefix, char out[AUTH_TOKEN_MAX]);
/* Hex BLAKE2b-256 of a token: what the database keeps. */
void auth_token_digest(const char *token, char out[AUTH_DIGEST_HEX]);
/* Constant-time string equality (length leaks only). */
bool auth_streq_ct(const char *a, const char *b);

/* Failed logins per (name, origin): at most max in window_ms, then the
 * pair must wait until the oldest failure leaves the window. Bounded
 * memory: the oldest entries are dropped first. */
struct login_limiter;
struct login_limiter *login_limiter_new(uint32_t max, uint64_t window_ms);
void login_limiter_set_max(struct login_limiter *l, uint32_t max);
/* 0: may try now; otherwise milliseconds to wait. */
uint64_t login_limiter_check(struct login_limiter *l, const char *name,
			     const char *origin, uint64_t now_ms);
void login_limiter_fail(struct login_limiter *l, const char *name,
			const char *origin, uint64_t now_ms);
void login_limiter_success(struct login_limiter *l, const char *name,
			   const char *origin);
struct login_limiter *login_limiter_free(struct login_limiter *l);

#endif
