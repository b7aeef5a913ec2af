/* api-body.h: the control API's JSON request bodies turned into what the
 * modules take (a household patch, a broadcast request, a user ...).
 *
 * Pure: no HTTP connection and no store (a user's groups are resolved
 * through the caller's callback), so that each converter can be fuzzed on
 * its own (tests/fuzz/fuzz-api.c). Strings put in the outputs point into
 * the JSON object and live as long as it does. Field errors are added to
 * ve in the order the API has always listed them; the messages are the
 * API's (docs/api.md). */
#ifndef LOAXA_API_BODY_H
#define LOAXA_API_BODY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loaxa/broadcast.h"
#include "loaxa/directory.h"
#include "loaxa/log.h"
#include "loaxa/model.h"
#include "loaxa/users.h"

/* Parse a request body as a JSON object (jansson, duplicates refused,
 * NULs let through for the field checks to name). 0 with *ret; or, with
 * msg filled (never a piece of the body): -ENODATA when empty, -EILSEQ
 * when not UTF-8 (a "bad_request"), -EINVAL when not JSON or not an
 * object (both "bad_json"). */
int api_body_load(const char *data, size_t n, json_t **ret, char *msg,
		  size_t msgsz);

/* A string member: absent (0), null (1, *ret NULL) or string (1). Any
 * other type, or a NUL inside, is a field error (0, *ret NULL). */
int api_body_str(json_t *o, const char *key, const char **ret,
		 struct verrors *ve);

/* Text from a request, for a message or the audit: at most n - 1 bytes,
 * never a UTF-8 sequence cut in two, control characters as spaces. With
 * mask_from > 0, every ASCII digit becomes '#' when the text holds
 * mask_from digits or more (a phone number is never recorded). Returns
 * out. */
const char *api_body_clip(const char *in, char *out, size_t n,
			  size_t mask_from);

/* Every member of o not in keys[n] is an "unknown_field" error that lists
 * the fields. */
void api_body_check_keys(json_t *o, const char *const *keys, size_t n,
			 struct verrors *ve);

/* POST /v1/groups (with_code) and PATCH /v1/groups/G (name only). */
void api_body_group(json_t *o, bool with_code, const char **ret_code,
		    const char **ret_name, struct verrors *ve);

/* POST /v1/households, PATCH /v1/households/ID: p->phones points into
 * storage. */
void api_body_household(json_t *o, struct household_patch *p,
			const char *storage[HOUSEHOLD_MAX_PHONES],
			struct verrors *ve);

/* POST /v1/broadcasts and /v1/broadcasts/preview. idem_header: the
 * Idempotency-Key header (NULL or "" when absent), which wins over the
 * body's key. req's lists point into st. */
#define API_BODY_MAX_LIST 64
struct api_breq_storage {
	const char *groups[API_BODY_MAX_LIST];
	const char *reminders[API_BODY_MAX_LIST];
};
void api_body_broadcast(json_t *o, const char *idem_header,
			struct broadcast_req *req,
			struct api_breq_storage *st, struct verrors *ve);

/* POST /v1/login: both required. */
void api_body_login(json_t *o, const char **ret_user,
		    const char **ret_password, struct verrors *ve);

/* The users' bodies. u holds the user as it is (PATCH) or as it starts
 * (POST: unix_uid -1) and is changed in place. resolve names a group by
 * name or code: 0 with *ret_id, -ENOENT, -ENOTUNIQ, or another -errno
 * that ends the conversion's group part and is returned. */
enum api_user_body {
	API_USER_ADD,      /* POST /v1/users */
	API_USER_PATCH,    /* PATCH /v1/users/NAME by an admin */
	API_USER_SELF,     /* PATCH /v1/users/NAME of oneself */
};
struct api_user_self {
	bool forbidden;            /* a field other than the passwords:
				      a 403, nothing else read */
	char field[72];            /* that field, quoted */
	const char *old_password;  /* to verify, when ve is still empty */
};
int api_body_user(json_t *o, enum api_user_body kind, struct user *u,
		  int (*resolve)(void *ud, const char *name, int64_t *ret_id),
		  void *ud, struct api_user_self *self, struct verrors *ve);
/* The new password of a user's body, checked (auth_password_check): NULL
 * when none or refused. Read last, once every other field is fine. */
void api_body_password(json_t *o, const char **ret, struct verrors *ve);

/* POST /v1/users/NAME/tokens: the label, trimmed (*ret_label, *ret_n). */
void api_body_token(json_t *o, const char **ret_label, size_t *ret_n,
		    struct verrors *ve);

/* POST /v1/broadcasts/ID/reject: an optional reason. */
void api_body_reject(json_t *o, const char **ret_reason,
		     struct verrors *ve);

/* PUT /v1/log. level starts as the level in force. debug_set: the body
 * names "debug" (null or a list): then debug[s] is the new set. */
struct api_log_body {
	enum log_level level;
	bool debug_set;
	bool debug[LOG_SUBSYS_MAX];
};
void api_body_log(json_t *o, struct api_log_body *ret, struct verrors *ve);

#endif
