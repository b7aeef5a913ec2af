/* users.h: the store's people tables (schema 6): users and the groups a
 * manager keeps, personal API tokens, console sessions, the audit log.
 * Implemented in daemon/store-auth.c; these calls are rare (a login, a
 * request with a token), so each prepares its statement when called. Errors as in store.h: -ENOENT no such row, -EEXIST a
 * name or unix uid already taken, -EINVAL bad argument.
 *
 * Only digests of tokens and session ids are stored (auth_token_digest). */
#ifndef LOAXA_USERS_H
#define LOAXA_USERS_H

#include <stdbool.h>
#include <stdint.h>

#include "loaxa/auth.h"
#include "loaxa/store.h"

struct user {
	int64_t id;
	char name[AUTH_NAME_MAX + 1];      /* [A-Za-z0-9._-], 1..64 */
	char display_name[121];            /* UTF-8, may be empty */
	enum role role;
	char pw_hash[AUTH_HASH_MAX];       /* "" = no password (tokens or
					      the unix socket only) */
	int64_t unix_uid;                  /* -1 = none */
	bool disabled;
	int64_t created_ms, updated_ms;
	size_t ngroups;
	int64_t group_ids[AUTH_MAX_GROUPS]; /* kept for managers only */
};

/* A user name: 1..64 of [A-Za-z0-9._-], not starting with '-' or '.'. */
bool user_name_valid(const char *name);

/* Insert u (id, created/updated set from now_ms; *ret_id the new id). */
int store_user_add(struct store *s, const struct user *u, int64_t now_ms,
		   int64_t *ret_id);
/* Replace every field but id, name and created_ms; groups replaced. */
int store_user_update(struct store *s, const struct user *u,
		      int64_t now_ms);
int store_user_get(struct store *s, int64_t id, struct user *ret);
int store_user_get_by_name(struct store *s, const char *name,
			   struct user *ret);        /* case ignored */
int store_user_get_by_uid(struct store *s, int64_t uid, struct user *ret);
/* In name order; cb returns nonzero to stop (that value is returned). */
int store_user_list(struct store *s,
		    int (*cb)(const struct user *u, void *ud), void *ud);

/* Personal API tokens: digest of the token, a label. */
struct api_token {
	int64_t id, user_id;
	char label[121];
	int64_t created_ms, last_used_ms;
};
int store_token_add(struct store *s, int64_t user_id, const char *digest,
		    const char *label, int64_t now_ms, int64_t *ret_id);
/* The enabled user owning the token with this digest; records last use
 * (at most once a minute). -ENOENT when none or disabled. */
int store_token_user(struct store *s, const char *digest, int64_t now_ms,
		     struct user *ret);
int store_token_list(struct store *s, int64_t user_id,
		     int (*cb)(const struct api_token *t, void *ud), void *ud);
/* -ENOENT unless the token exists and belongs to user_id. */
int store_token_delete(struct store *s, int64_t user_id, int64_t token_id);

/* Console sessions. lookup slides expires to now + lifetime (written at
 * most once a minute) and returns the user (enabled) and the CSRF token. */
int store_session_add(struct store *s, const char *digest, int64_t user_id,
		      const char *csrf, const char *origin, int64_t now_ms,
		      int64_t expires_ms);
int store_session_user(struct store *s, const char *digest, int64_t now_ms,
		       int64_t lifetime_ms, struct user *ret,
		       char csrf[AUTH_TOKEN_MAX]);
int store_session_delete(struct store *s, const char *digest);
/* Every session of a user (password change, disable). */
int store_session_delete_user(struct store *s, int64_t user_id);
/* Delete expired sessions; *ret_n how many (may be NULL). */
int store_session_prune(struct store *s, int64_t now_ms, int64_t *ret_n);

/* The audit log: who (name, role), from where, what, to what, the HTTP
 * status, and a short detail. Never a secret, never a phone number. */
struct audit_entry {
	int64_t id;
	int64_t at_ms;
	const char *user_name;
	enum role role;
	const char *origin;
	const char *action;        /* "POST /v1/broadcasts", "login", ... */
	const char *target;        /* "broadcast 12", "user lan", "" */
	int status;
	const char *detail;
};
int store_audit_add(struct store *s, const struct audit_entry *e);
/* Newest first, ids below before_id (0 = from the newest), at most limit;
 * *ret_more when older entries remain. */
int store_audit_list(struct store *s, int64_t before_id, int limit,
		     int (*cb)(const struct audit_entry *e, void *ud),
		     void *ud, bool *ret_more);

#endif
