/* fuzz-auth.c: arbitrary bytes as a password, a role, a user name, a
 * password hash, a token and a limiter key.
 *
 * Beyond "no crash, no leak", each call's contract is checked:
 *  - auth_password_check accepts only 10..1024 bytes of valid UTF-8 and
 *    gives a reason whenever it refuses;
 *  - auth_role_parse accepts exactly the three role names (any case), and
 *    the name of what it parsed is the input, case aside;
 *  - user_name_valid agrees with an independent reference;
 *  - auth_password_verify never accepts the input as the hash of a
 *    password it was not made from;
 *  - digests are stable 64-hex strings; a string equals itself in
 *    constant time and differs from itself plus one byte.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loaxa/auth.h"
#include "loaxa/text.h"
#include "loaxa/users.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(expr)                                                        \
	do {                                                               \
		if (!(expr)) {                                             \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",   \
				__FILE__, __LINE__, #expr);                \
			abort();                                           \
		}                                                          \
	} while (0)

#define FUZZ_MAX_INPUT 2048

static bool ref_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 64 || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz0123456789._-", s[i]))
			return false;
	return true;
}

/* The decimal after key= in s, or 0 when absent. */
static unsigned long param(const char *s, const char *key)
{
	const char *p = strstr(s, key);
	return p ? strtoul(p + strlen(key), NULL, 10) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool inited;
	if (!inited) {
		CHECK(auth_init() == 0);
		inited = true;
	}
	if (size > FUZZ_MAX_INPUT)
		return 0;
	char *s = malloc(size + 2);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	size_t len = strlen(s);         /* up to the first NUL */

	char why[128] = "";
	int r = auth_password_check(s, why, sizeof why);
	if (r == 0) {
		CHECK(len >= 10 && len <= 1024);
		CHECK(text_utf8_valid(s, len));
	} else {
		CHECK(r == -EINVAL);
		CHECK(why[0] != 0);
	}

	enum role role = ROLE_NONE;
	if (auth_role_parse(s, &role) == 0) {
		CHECK(role >= ROLE_MANAGER && role <= ROLE_ADMIN);
		CHECK(strcasecmp(s, auth_role_name(role)) == 0);
	} else {
		CHECK(role == ROLE_NONE);
	}

	CHECK(user_name_valid(s) == ref_name_valid(s));

	/* as a hash: never the hash of a password it was not made from.
	 * Hashes that ask for more than a few MiB would only slow the
	 * fuzzer down (auth.c refuses the really costly ones itself). */
	if (param(s, "m=") <= 4096 && param(s, "t=") <= 3)
		CHECK(!auth_password_verify(s, "fuzz: not the password"));

	char d1[AUTH_DIGEST_HEX], d2[AUTH_DIGEST_HEX];
	auth_token_digest(s, d1);
	auth_token_digest(s, d2);
	CHECK(strlen(d1) == 64 && strcmp(d1, d2) == 0);
	CHECK(auth_streq_ct(s, s));
	s[len] = 'x';
	s[len + 1] = 0;
	char *t = strdup(s);
	if (t) {
		t[len] = 0;
		CHECK(!auth_streq_ct(s, t));
		free(t);
	}
	s[len] = 0;

	/* as a limiter key: two failures with max 2 hold the pair only */
	struct login_limiter *l = login_limiter_new(2, 1000);
	if (l) {
		login_limiter_fail(l, s, "o", 10);
		CHECK(login_limiter_check(l, s, "o", 10) == 0);
		login_limiter_fail(l, s, "o", 20);
		CHECK(login_limiter_check(l, s, "o", 20) == 990);
		CHECK(login_limiter_check(l, s, "o2", 20) == 0);
		CHECK(login_limiter_check(l, s, "o", 1010) == 0);
		login_limiter_free(l);
	}
	free(s);
	return 0;
}
