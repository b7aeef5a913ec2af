/* test-auth.c: roles and their rules, passwords, tokens, the limiter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "loaxa/auth.h"
#include "loaxa/util.h"

static struct principal mk(enum role r, const char *name)
{
	struct principal p = { .user_id = 7, .role = r };
	snprintf(p.name, sizeof p.name, "%s", name);
	snprintf(p.origin, sizeof p.origin, "127.0.0.1");
	return p;
}

/* ---- roles -------------------------------------------------------------- */

static void test_role_names(void **state _unused_)
{
	static const struct { const char *s; enum role r; } ok[] = {
		{ "manager", ROLE_MANAGER }, { "official", ROLE_OFFICIAL },
		{ "admin", ROLE_ADMIN }, { "Admin", ROLE_ADMIN },
		{ "MANAGER", ROLE_MANAGER },
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		enum role r = ROLE_NONE;
		assert_int_equal(auth_role_parse(ok[i].s, &r), 0);
		assert_int_equal(r, ok[i].r);
	}
	static const char *const bad[] = { "", "none", "root", "admins",
					   "adm", " admin", "admin " };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		enum role r = ROLE_ADMIN;
		assert_int_equal(auth_role_parse(bad[i], &r), -EINVAL);
		assert_int_equal(r, ROLE_ADMIN);       /* untouched */
	}
	assert_int_equal(auth_role_parse(NULL, NULL), -EINVAL);
	assert_string_equal(auth_role_name(ROLE_MANAGER), "manager");
	assert_string_equal(auth_role_name(ROLE_OFFICIAL), "official");
	assert_string_equal(auth_role_name(ROLE_ADMIN), "admin");
	assert_string_equal(auth_role_name(ROLE_NONE), "none");
	assert_string_equal(auth_role_name((enum role)99), "none");
	/* names round-trip */
	for (enum role r = ROLE_MANAGER; r <= ROLE_ADMIN; r++) {
		enum role back;
		assert_int_equal(auth_role_parse(auth_role_name(r), &back), 0);
		assert_int_equal(back, r);
	}
}

/* Every role against every action. */
static void test_may_table(void **state _unused_)
{
	/* columns: none, manager, official, admin */
	static const bool table[AA_MAX][4] = {
		[AA_READ] =            { 0, 1, 1, 1 },
		[AA_EDIT_HOUSEHOLDS] = { 0, 1, 1, 1 },
		[AA_MANAGE_GROUPS] =   { 0, 0, 0, 1 },
		[AA_SEND] =            { 0, 1, 1, 1 },
		[AA_SEND_URGENT] =     { 0, 0, 1, 1 },
		[AA_APPROVE] =         { 0, 0, 1, 1 },
		[AA_MANAGE_USERS] =    { 0, 0, 0, 1 },
		[AA_READ_AUDIT] =      { 0, 0, 0, 1 },
		[AA_BACKUP] =          { 0, 0, 0, 1 },
		[AA_METRICS] =         { 0, 0, 0, 1 },
		[AA_SET_LOG] =         { 0, 0, 0, 1 },
	};
	static const enum role roles[4] = { ROLE_NONE, ROLE_MANAGER,
					    ROLE_OFFICIAL, ROLE_ADMIN };
	for (int a = 0; a < AA_MAX; a++)
		for (int j = 0; j < 4; j++) {
			struct principal p = mk(roles[j], "x");
			if (auth_may(&p, (enum auth_action)a) != table[a][j])
				fail_msg("role %s action %d: expected %d",
					 auth_role_name(roles[j]), a,
					 table[a][j]);
		}
	struct principal p = mk(ROLE_ADMIN, "x");
	assert_false(auth_may(NULL, AA_READ));
	assert_false(auth_may(&p, AA_MAX));
	assert_false(auth_may(&p, (enum auth_action)-1));
	p.role = (enum role)42;
	assert_false(auth_may(&p, AA_READ));
}

static void test_groups(void **state _unused_)
{
	struct principal m = mk(ROLE_MANAGER, "lan");
	m.ngroups = 2;
	m.group_ids[0] = 3;
	m.group_ids[1] = 5;
	struct principal o = mk(ROLE_OFFICIAL, "hoa");
	struct principal a = mk(ROLE_ADMIN, "root");
	struct principal n = mk(ROLE_NONE, "nobody");

	assert_true(auth_group_ok(&m, 3));
	assert_true(auth_group_ok(&m, 5));
	assert_false(auth_group_ok(&m, 4));
	assert_false(auth_group_ok(&m, 0));
	assert_true(auth_group_ok(&o, 4));
	assert_true(auth_group_ok(&a, 4));
	assert_false(auth_group_ok(&n, 3));
	assert_false(auth_group_ok(NULL, 3));

	int64_t mine[] = { 3, 5, 3 }, mixed[] = { 3, 4 }, other[] = { 9 };
	assert_true(auth_groups_ok(&m, mine, 3, false));
	assert_false(auth_groups_ok(&m, mixed, 2, false));
	assert_false(auth_groups_ok(&m, other, 1, false));
	assert_false(auth_groups_ok(&m, mine, 2, true));   /* all groups */
	assert_false(auth_groups_ok(&m, NULL, 0, true));
	assert_false(auth_groups_ok(&m, NULL, 0, false));  /* none named */
	assert_false(auth_groups_ok(&m, NULL, 2, false));
	for (int i = 0; i < 2; i++) {
		const struct principal *p = i ? &a : &o;
		assert_true(auth_groups_ok(p, mixed, 2, false));
		assert_true(auth_groups_ok(p, NULL, 0, true));
		assert_true(auth_groups_ok(p, other, 1, true));
	}
	assert_false(auth_groups_ok(&n, mine, 1, false));
	assert_false(auth_groups_ok(NULL, mine, 1, false));

	/* a corrupt count never reads past the array */
	m.ngroups = SIZE_MAX;
	assert_false(auth_group_ok(&m, 12345));
}

static void test_approval(void **state _unused_)
{
	static const struct {
		enum approval_mode m;
		bool urgent, all, want;
	} t[] = {
		{ APPROVAL_OFF, false, false, false },
		{ APPROVAL_OFF, true, true, false },
		{ APPROVAL_OFF, true, false, false },
		{ APPROVAL_OFF, false, true, false },
		{ APPROVAL_URGENT_ALL, true, true, true },
		{ APPROVAL_URGENT_ALL, true, false, false },
		{ APPROVAL_URGENT_ALL, false, true, false },
		{ APPROVAL_URGENT_ALL, false, false, false },
		{ APPROVAL_URGENT, true, true, true },
		{ APPROVAL_URGENT, true, false, true },
		{ APPROVAL_URGENT, false, true, false },
		{ APPROVAL_URGENT, false, false, false },
		{ APPROVAL_ALL, true, true, true },
		{ APPROVAL_ALL, true, false, true },
		{ APPROVAL_ALL, false, true, true },
		{ APPROVAL_ALL, false, false, true },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		if (auth_needs_approval(t[i].m, t[i].urgent, t[i].all) !=
		    t[i].want)
			fail_msg("row %zu", i);

	struct principal m = mk(ROLE_MANAGER, "lan");
	struct principal o = mk(ROLE_OFFICIAL, "hoa");
	struct principal a = mk(ROLE_ADMIN, "root");
	assert_true(auth_may_approve(&o, "lan"));
	assert_true(auth_may_approve(&a, "lan"));
	assert_false(auth_may_approve(&m, "hoa"));
	/* nobody approves their own, whatever the case */
	assert_false(auth_may_approve(&o, "hoa"));
	assert_false(auth_may_approve(&o, "HOA"));
	assert_false(auth_may_approve(&a, "Root"));
	/* unknown requester: admins only */
	assert_false(auth_may_approve(&o, NULL));
	assert_true(auth_may_approve(&a, NULL));
	assert_false(auth_may_approve(&m, NULL));
	assert_false(auth_may_approve(NULL, "lan"));
}

/* ---- secrets ------------------------------------------------------------ */

static void test_password_check(void **state _unused_)
{
	char why[128];
	static const char *const good[] = {
		"correct horse", "0123456789", "mật khẩu tốt lắm",
		"aaaaaaaaab", "ababababab",
	};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		why[0] = 0;
		assert_int_equal(auth_password_check(good[i], why,
						     sizeof why), 0);
	}
	static const struct { const char *pw, *why; } bad[] = {
		{ "", "too short" },
		{ "short", "too short" },
		{ "123456789", "too short" },
		/* characters, not bytes: 9 of them in 18 bytes */
		{ "ăăăăăbăăă", "too short" },
		{ "aaaaaaaaaa", "one character" },
		{ "ááááááááááá", "one character" },
		{ "abcdefghi\xff", "UTF-8" },
		{ "abcdefghij\xc3", "UTF-8" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		why[0] = 0;
		assert_int_equal(auth_password_check(bad[i].pw, why,
						     sizeof why), -EINVAL);
		if (!strstr(why, bad[i].why))
			fail_msg("%zu: reason \"%s\"", i, why);
	}
	char big[1100];
	for (size_t i = 0; i < sizeof big - 1; i++)
		big[i] = (char)('a' + i % 26);
	big[1024] = 0;
	assert_int_equal(auth_password_check(big, why, sizeof why), 0);
	big[1024] = 'x';
	big[1025] = 0;
	assert_int_equal(auth_password_check(big, why, sizeof why), -EINVAL);
	assert_non_null(strstr(why, "too long"));
	assert_int_equal(auth_password_check(NULL, why, sizeof why), -EINVAL);
	assert_int_equal(auth_password_check("short", NULL, 0), -EINVAL);
	/* a small buffer is cut, not overrun */
	char tiny[4] = "xyz";
	assert_int_equal(auth_password_check("short", tiny, sizeof tiny),
			 -EINVAL);
	assert_int_equal(strlen(tiny), 3);
}

static void test_password_hash(void **state _unused_)
{
	char h[AUTH_HASH_MAX], h2[AUTH_HASH_MAX];
	assert_int_equal(auth_password_hash("correct horse", h), 0);
	assert_true(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
	assert_true(auth_password_verify(h, "correct horse"));
	assert_false(auth_password_verify(h, "correct horsE"));
	assert_false(auth_password_verify(h, "correct horse "));
	assert_false(auth_password_verify(h, ""));
	assert_false(auth_password_verify(h, NULL));
	assert_false(auth_password_verify(NULL, "correct horse"));
	/* salted: the same password hashes differently */
	assert_int_equal(auth_password_hash("correct horse", h2), 0);
	assert_string_not_equal(h, h2);
	assert_true(auth_password_verify(h2, "correct horse"));
	assert_int_equal(auth_password_hash(NULL, h2), -EINVAL);

	/* malformed hashes are false, never a crash */
	char m[AUTH_HASH_MAX + 8];
	assert_false(auth_password_verify("", "correct horse"));
	assert_false(auth_password_verify("$argon2id$", "correct horse"));
	assert_false(auth_password_verify("not a hash", "correct horse"));
	snprintf(m, sizeof m, "%s", h);
	m[strlen(m) - 3] = 0;                       /* truncated */
	assert_false(auth_password_verify(m, "correct horse"));
	snprintf(m, sizeof m, "%s", h);
	m[20] = '9';                                /* cost changed */
	assert_false(auth_password_verify(m, "correct horse"));
	/* costlier than we ever write: refused without computing */
	assert_false(auth_password_verify(
		"$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$"
		"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"correct horse"));
	assert_false(auth_password_verify(
		"$argon2id$v=19$m=19456,t=99999,p=1$c2FsdHNhbHRzYWx0$"
		"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"correct horse"));
	/* no NUL within AUTH_HASH_MAX */
	memset(m, 'a', sizeof m - 1);
	m[sizeof m - 1] = 0;
	assert_false(auth_password_verify(m, "correct horse"));
}

static bool b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static void test_tokens(void **state _unused_)
{
	char t1[AUTH_TOKEN_MAX], t2[AUTH_TOKEN_MAX];
	auth_random_token("lxa_", t1);
	auth_random_token("lxa_", t2);
	assert_int_equal(strlen(t1), 4 + 43);
	assert_true(strncmp(t1, "lxa_", 4) == 0);
	for (size_t i = 4; t1[i]; i++)
		assert_true(b64url(t1[i]));
	assert_string_not_equal(t1, t2);
	auth_random_token("", t2);
	assert_int_equal(strlen(t2), 43);
	auth_random_token(NULL, t2);
	assert_int_equal(strlen(t2), 43);
	/* an over-long prefix is cut to fit */
	auth_random_token("0123456789012345678901234567890123456789", t2);
	assert_int_equal(strlen(t2), AUTH_TOKEN_MAX - 1);

	char d1[AUTH_DIGEST_HEX], d2[AUTH_DIGEST_HEX];
	auth_token_digest(t1, d1);
	auth_token_digest(t1, d2);
	assert_int_equal(strlen(d1), 64);
	assert_string_equal(d1, d2);
	for (size_t i = 0; d1[i]; i++)
		assert_non_null(strchr("0123456789abcdef", d1[i]));
	auth_token_digest("lxa_other", d2);
	assert_string_not_equal(d1, d2);
	/* BLAKE2b-256 of "abc": a stable, known value */
	auth_token_digest("abc", d1);
	assert_string_equal(d1, "bddd813c634239723171ef3fee98579b"
				"94964e3bb1cb3e427262c8c068d52319");
	auth_token_digest(NULL, d2);
	auth_token_digest("", d1);
	assert_string_equal(d1, d2);

	assert_true(auth_streq_ct("abc", "abc"));
	assert_true(auth_streq_ct("", ""));
	assert_false(auth_streq_ct("abc", "abd"));
	assert_false(auth_streq_ct("abc", "abcd"));
	assert_false(auth_streq_ct("abc", NULL));
	assert_false(auth_streq_ct(NULL, NULL));
}

/* ---- the login limiter -------------------------------------------------- */

#define WIN 900000u   /* 15 minutes */

static void test_limiter(void **state _unused_)
{
	struct login_limiter *l = login_limiter_new(3, WIN);
	assert_non_null(l);
	uint64_t t = 1000000;

	assert_int_equal(login_limiter_check(l, "lan", "10.0.0.1", t), 0);
	login_limiter_fail(l, "lan", "10.0.0.1", t);
	login_limiter_fail(l, "LAN", "10.0.0.1", t + 1000);   /* same pair */
	assert_int_equal(login_limiter_check(l, "lan", "10.0.0.1", t + 2000),
			 0);
	login_limiter_fail(l, "Lan", "10.0.0.1", t + 2000);
	/* three inside the window: wait until the first leaves it */
	assert_int_equal(login_limiter_check(l, "lan", "10.0.0.1", t + 3000),
			 WIN - 3000);
	assert_int_equal(login_limiter_check(l, "lan", "10.0.0.1",
					     t + WIN - 1), 1);
	/* other names and other addresses are not held */
	assert_int_equal(login_limiter_check(l, "hoa", "10.0.0.1", t + 3000),
			 0);
	assert_int_equal(login_limiter_check(l, "lan", "10.0.0.2", t + 3000),
			 0);
	/* the first failure leaves the window: one more try */
	assert_int_equal(login_limiter_check(l, "lan", "10.0.0.1", t + WIN),
			 0);
	login_limiter_fail(l, "lan", "10.0.0.1", t + WIN);
	assert_int_equal(login_limiter_check(l, "lan", "10.0.0.1", t + WIN),
			 1000);
	/* after the whole window, free again */
	assert_int_equal(login_limiter_check(l, "lan", "10.0.0.1",
					     t + 3 * WIN), 0);

	/* a success forgets the pair's failures */
	login_limiter_fail(l, "hoa", "x", t);
	login_limiter_fail(l, "hoa", "x", t);
	login_limiter_fail(l, "hoa", "x", t);
	assert_true(login_limiter_check(l, "hoa", "x", t) > 0);
	login_limiter_success(l, "HOA", "x");
	assert_int_equal(login_limiter_check(l, "hoa", "x", t), 0);

	/* lowering max holds sooner; raising it lets through */
	login_limiter_fail(l, "binh", "x", t);
	login_limiter_fail(l, "binh", "x", t + 10);
	assert_int_equal(login_limiter_check(l, "binh", "x", t + 20), 0);
	login_limiter_set_max(l, 2);
	assert_int_equal(login_limiter_check(l, "binh", "x", t + 20),
			 WIN - 20);
	login_limiter_set_max(l, 1);
	assert_int_equal(login_limiter_check(l, "binh", "x", t + 20),
			 WIN - 10);
	login_limiter_set_max(l, 5);
	assert_int_equal(login_limiter_check(l, "binh", "x", t + 20), 0);
	login_limiter_set_max(l, 0);            /* clamped to 1 */
	login_limiter_fail(l, "z", "x", t);
	assert_true(login_limiter_check(l, "z", "x", t) > 0);

	/* many failures keep memory bounded and the answer right */
	login_limiter_set_max(l, 3);
	for (int i = 0; i < 10000; i++)
		login_limiter_fail(l, "flood", "x", t + (uint64_t)i);
	assert_int_equal(login_limiter_check(l, "flood", "x", t + 10000),
			 WIN - 10000 + 9997);

	/* NULLs are harmless */
	assert_int_equal(login_limiter_check(NULL, "a", "b", t), 0);
	login_limiter_fail(NULL, "a", "b", t);
	login_limiter_success(NULL, "a", "b");
	login_limiter_set_max(NULL, 3);
	login_limiter_fail(l, NULL, NULL, t);
	assert_int_equal(login_limiter_check(l, NULL, NULL, t), 0);
	assert_null(login_limiter_free(l));
	assert_null(login_limiter_free(NULL));
}

/* One address may fail max x 20 times per window, whatever the names;
 * and a flood of new pairs never pushes a blocked pair out. */
static void test_limiter_origin(void **state _unused_)
{
	struct login_limiter *l = login_limiter_new(5, WIN);
	assert_non_null(l);
	uint64_t t = 1000;
	char name[32];
	for (int i = 0; i < 99; i++) {
		snprintf(name, sizeof name, "guess%d", i);
		login_limiter_fail(l, name, "10.0.0.9", t);
	}
	assert_int_equal(login_limiter_check(l, "fresh", "10.0.0.9", t), 0);
	login_limiter_fail(l, "guess99", "10.0.0.9", t + 5);
	assert_int_equal(login_limiter_check(l, "fresh", "10.0.0.9", t + 10),
			 WIN - 10);
	assert_int_equal(login_limiter_check(l, "fresh", "10.0.0.8", t + 10), 0);
	/* the window passes: the address may try again */
	assert_int_equal(login_limiter_check(l, "fresh", "10.0.0.9", t + WIN),
			 0);

	/* a blocked pair survives 5000 new pairs that are not blocked */
	for (int i = 0; i < 5; i++)
		login_limiter_fail(l, "target", "a", t + WIN);
	assert_true(login_limiter_check(l, "target", "a", t + WIN) > 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof name, "n%d", i);
		char origin[32];
		snprintf(origin, sizeof origin, "o%d", i);
		login_limiter_fail(l, name, origin, t + WIN);
	}
	assert_true(login_limiter_check(l, "target", "a", t + WIN) > 0);
	login_limiter_free(l);
}

/* The table is bounded: the least recently used pairs go first. */
static void test_limiter_eviction(void **state _unused_)
{
	struct login_limiter *l = login_limiter_new(1, WIN);
	assert_non_null(l);
	uint64_t t = 5000;
	char name[32];

	login_limiter_fail(l, "keep", "keep", t);
	login_limiter_fail(l, "victim", "victim", t);
	for (int i = 0; i < 1022; i++) {
		snprintf(name, sizeof name, "u%d", i);
		login_limiter_fail(l, name, name, t);
	}
	/* the table is full: 1024 pairs (each from its own address), all
	 * held */
	assert_true(login_limiter_check(l, "keep", "keep", t) > 0);  /* touch */
	assert_true(login_limiter_check(l, "u0", "u0", t) > 0);
	/* a new pair pushes out the least recently used: "victim" */
	login_limiter_fail(l, "newcomer", "newcomer", t);
	assert_true(login_limiter_check(l, "newcomer", "newcomer", t) > 0);
	assert_int_equal(login_limiter_check(l, "victim", "victim", t), 0);
	assert_true(login_limiter_check(l, "keep", "keep", t) > 0);
	/* thousands more stay within the table */
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof name, "w%d", i);
		login_limiter_fail(l, name, name, t);
	}
	assert_true(login_limiter_check(l, "w4999", "w4999", t) > 0);
	assert_int_equal(login_limiter_check(l, "w0", "w0", t), 0);
	/* long names are whole keys, not cut prefixes */
	char a[300], b[300];
	memset(a, 'n', sizeof a - 1);
	a[sizeof a - 1] = 0;
	memcpy(b, a, sizeof b);
	b[sizeof b - 2] = 'm';
	login_limiter_fail(l, a, "o", t);
	assert_true(login_limiter_check(l, a, "o", t) > 0);
	assert_int_equal(login_limiter_check(l, b, "o", t), 0);
	/* name and origin do not run together */
	login_limiter_fail(l, "ab", "c", t);
	assert_int_equal(login_limiter_check(l, "a", "bc", t), 0);
	login_limiter_free(l);
}

int main(void)
{
	if (auth_init() < 0) {
		fprintf(stderr, "auth_init failed\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_role_names),
		cmocka_unit_test(test_may_table),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_approval),
		cmocka_unit_test(test_password_check),
		cmocka_unit_test(test_password_hash),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_limiter),
		cmocka_unit_test(test_limiter_eviction),
		cmocka_unit_test(test_limiter_origin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
