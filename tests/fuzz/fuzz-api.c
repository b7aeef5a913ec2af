/* fuzz-api.c: the control API's JSON request bodies (api-body.h).
 *
 * The input is a request body. It is loaded as the handlers load it
 * (api_body_load: UTF-8, jansson with duplicates refused and NULs let
 * through) and, when it is an object, given to every converter: group,
 * household, broadcast (with and without an Idempotency-Key header),
 * login, user (added, changed by an admin, changed by oneself, with group
 * names resolved by a fake directory), password, token, reject, log.
 *
 * Beyond "no crash, no leak", each contract is checked:
 *  - api_body_load returns 0 with an object, or -ENODATA, -EILSEQ or
 *    -EINVAL with a message that is valid UTF-8 and no longer than the
 *    input allows (never a piece of the body after "near");
 *  - every field error has a field, a code and a message, each valid
 *    UTF-8, so that the 422 answer can be built (json_pack succeeds);
 *  - strings handed out are NUL-free (their length is their JSON
 *    length) and lists stay within their bounds;
 *  - a user's name, display name and groups are what the store takes.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loaxa/api-body.h"
#include "loaxa/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(expr)                                                        \
	do {                                                               \
		if (!(expr)) {                                             \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",   \
				__FILE__, __LINE__, #expr);                \
			abort();                                           \
		}                                                          \
	} while (0)

/* [api] max_body is larger, but longer inputs add nothing but time. */
#define FUZZ_MAX_INPUT 65536

static bool utf8(const char *s)
{
	return s && text_utf8_valid(s, strlen(s));
}

/* The errors as the API answers them, then cleared. */
static void check_errors(struct verrors *ve)
{
	json_t *a = json_array();
	CHECK(a);
	for (size_t i = 0; i < ve->n; i++) {
		CHECK(utf8(ve->v[i].field));
		CHECK(utf8(ve->v[i].code) && ve->v[i].code[0]);
		CHECK(utf8(ve->v[i].message) && ve->v[i].message[0]);
		json_t *e = json_pack("{s:s,s:s,s:s}", "field", ve->v[i].field,
				      "code", ve->v[i].code, "message",
				      ve->v[i].message);
		CHECK(e);
		CHECK(json_array_append_new(a, e) == 0);
	}
	json_decref(a);
	verrors_clear(ve);
}

/* A string handed out: NULL, or text without a NUL inside. */
static void check_str(const char *s)
{
	if (s)
		CHECK(utf8(s));
}

/* A fake directory: "x..." unknown, "y..." ambiguous, "z..." a store
 * error; others an id from their first byte and length (repeats). */
static int fake_resolve(void *ud, const char *name, int64_t *ret_id)
{
	unsigned *calls = ud;
	(*calls)++;
	*ret_id = 0;
	if (!name[0] || name[0] == 'x')
		return -ENOENT;
	if (name[0] == 'y')
		return -ENOTUNIQ;
	if (name[0] == 'z')
		return -EIO;
	*ret_id = (int64_t)(((unsigned char)name[0] + strlen(name)) % 40) + 1;
	return 0;
}

static void fuzz_group(json_t *o)
{
	struct verrors ve = { 0 };
	const char *code = "", *name = "";
	api_body_group(o, true, &code, &name, &ve);
	check_str(code);
	check_str(name);
	check_errors(&ve);
	api_body_group(o, false, NULL, &name, &ve);
	check_str(name);
	check_errors(&ve);
}

static void fuzz_household(json_t *o)
{
	struct verrors ve = { 0 };
	struct household_patch p = { 0 };
	const char *storage[HOUSEHOLD_MAX_PHONES] = { 0 };
	api_body_household(o, &p, storage, &ve);
	check_str(p.group);
	check_str(p.name);
	check_str(p.address);
	check_str(p.zalo_user_id);
	check_str(p.messenger_psid);
	check_str(p.note);
	CHECK(p.nphones <= HOUSEHOLD_MAX_PHONES + 1);
	CHECK(!p.nphones || (p.set & HP_PHONES));
	/* the directory reads the phones when they are not too many */
	for (size_t i = 0; i < p.nphones && i < HOUSEHOLD_MAX_PHONES; i++)
		CHECK(p.phones[i] != NULL);
	if (!ve.n)
		for (size_t i = 0; i < p.nphones && i < HOUSEHOLD_MAX_PHONES;
		     i++)
			check_str(p.phones[i]);
	check_errors(&ve);
}

static void fuzz_broadcast(json_t *o, const char *header)
{
	struct verrors ve = { 0 };
	struct broadcast_req req;
	struct api_breq_storage st;
	api_body_broadcast(o, header, &req, &st, &ve);
	check_str(req.kind);
	check_str(req.priority);
	check_str(req.title);
	check_str(req.body);
	check_str(req.place);
	check_str(req.agenda);
	check_str(req.idem_key);
	if (header && *header)
		CHECK(req.idem_key == header);
	check_str(req.starts_at.text);
	check_str(req.send_at.text);
	check_str(req.expires_at.text);
	CHECK(req.ngroups <= API_BODY_MAX_LIST);
	CHECK(req.nreminders <= API_BODY_MAX_LIST);
	if (req.groups)
		for (size_t i = 0; i < req.ngroups; i++)
			check_str(req.groups[i]);
	if (req.reminders)
		for (size_t i = 0; i < req.nreminders; i++)
			check_str(req.reminders[i]);
	CHECK(!req.all_groups || !req.ngroups);
	check_errors(&ve);
}

static void fuzz_login(json_t *o)
{
	struct verrors ve = { 0 };
	const char *user = NULL, *pw = NULL;
	api_body_login(o, &user, &pw, &ve);
	if (!ve.n)
		CHECK(user && pw);
	check_str(user);
	check_str(pw);
	check_errors(&ve);
}

static void check_user(const struct user *u)
{
	CHECK(memchr(u->name, '\0', sizeof u->name));
	CHECK(!u->name[0] || user_name_valid(u->name));
	CHECK(memchr(u->display_name, '\0', sizeof u->display_name));
	CHECK(utf8(u->display_name));
	CHECK(u->ngroups <= AUTH_MAX_GROUPS);
	if (u->role != ROLE_MANAGER)
		CHECK(u->ngroups == 0);
	for (size_t i = 0; i < u->ngroups; i++) {
		CHECK(u->group_ids[i] > 0);
		for (size_t k = 0; k < i; k++)
			CHECK(u->group_ids[k] != u->group_ids[i]);
	}
	CHECK(u->unix_uid >= -1 && u->unix_uid <= 4294967294LL);
}

static void fuzz_user(json_t *o)
{
	struct verrors ve = { 0 };
	unsigned calls = 0;
	const char *pw;

	struct user u = { .unix_uid = -1 };
	int r = api_body_user(o, API_USER_ADD, &u, fake_resolve, &calls,
			      NULL, &ve);
	CHECK(r == 0 || r == -EIO);
	check_user(&u);
	if (r == 0 && !ve.n) {
		CHECK(u.name[0]);
		CHECK(u.role != ROLE_NONE);
		CHECK(u.role != ROLE_MANAGER || u.ngroups > 0);
		api_body_password(o, &pw, &ve);
		CHECK(!pw || !ve.n);
		check_str(pw);
	}
	check_errors(&ve);

	/* an admin's change of an existing manager */
	u = (struct user){ .id = 7, .name = "an", .role = ROLE_MANAGER,
			   .unix_uid = 1000, .ngroups = 1,
			   .group_ids = { 3 } };
	r = api_body_user(o, API_USER_PATCH, &u, fake_resolve, &calls, NULL,
			  &ve);
	CHECK(r == 0 || r == -EIO);
	check_user(&u);
	CHECK(u.id == 7 && !strcmp(u.name, "an"));
	check_errors(&ve);

	struct api_user_self self;
	u = (struct user){ .id = 7, .name = "an", .role = ROLE_OFFICIAL };
	calls = 0;
	r = api_body_user(o, API_USER_SELF, &u, fake_resolve, &calls, &self,
			  &ve);
	CHECK(r == 0 && calls == 0);
	CHECK(memchr(self.field, '\0', sizeof self.field));
	if (self.forbidden) {
		CHECK(utf8(self.field));
		CHECK(self.old_password == NULL && ve.n == 0);
	}
	check_str(self.old_password);
	check_errors(&ve);

	api_body_password(o, &pw, &ve);
	CHECK(!pw || pw[0]);
	check_errors(&ve);
}

static void fuzz_token(json_t *o)
{
	struct verrors ve = { 0 };
	const char *label;
	size_t n;
	api_body_token(o, &label, &n, &ve);
	CHECK(label);
	if (!ve.n) {
		CHECK(n <= 120);
		CHECK(!memchr(label, '\0', n));
		CHECK(text_utf8_valid(label, n));
	}
	check_errors(&ve);
}

static void fuzz_reject(json_t *o)
{
	struct verrors ve = { 0 };
	const char *reason = NULL;
	api_body_reject(o, &reason, &ve);
	check_str(reason);
	check_errors(&ve);
}

static void fuzz_log(json_t *o)
{
	struct verrors ve = { 0 };
	struct api_log_body lb = { .level = LOG_LVL_INFO };
	api_body_log(o, &lb, &ve);
	CHECK(lb.level >= LOG_LVL_ERR && lb.level <= LOG_LVL_DEBUG);
	CHECK(lb.debug_set == (json_object_get(o, "debug") != NULL));
	check_errors(&ve);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	/* its own allocation, unterminated, so ASan sees overruns */
	char *body = malloc(size ? size : 1);
	if (!body)
		return 0;
	memcpy(body, data, size);
	json_t *o = NULL;
	char msg[256];
	memset(msg, 'x', sizeof msg);
	int r = api_body_load(body, size, &o, msg, sizeof msg);
	if (r < 0) {
		CHECK(r == -ENODATA || r == -EILSEQ || r == -EINVAL);
		CHECK(o == NULL);
		CHECK(memchr(msg, '\0', sizeof msg));
		CHECK(utf8(msg) && msg[0]);
		CHECK(!strstr(msg, " near "));
		CHECK((r == -ENODATA) == (size == 0));
		free(body);
		return 0;
	}
	CHECK(r == 0 && json_is_object(o));
	fuzz_group(o);
	fuzz_household(o);
	fuzz_broadcast(o, NULL);
	fuzz_broadcast(o, "key-1");
	fuzz_login(o);
	fuzz_user(o);
	fuzz_token(o);
	fuzz_reject(o);
	fuzz_log(o);
	json_decref(o);
	free(body);
	return 0;
}
