/* test-store-auth.c: users, tokens, sessions and the audit log in a real
 * SQLite file in a temp dir (users.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loaxa/auth.h"
#include "loaxa/store.h"
#include "loaxa/users.h"
#include "loaxa/util.h"

#define T0 INT64_C(1700000000000)
#define MIN INT64_C(60000)

struct fx {
	char dir[256];
	char path[300];
	struct store *s;
	int64_t g2a, g2b, g3;
};

static int rm_cb(const char *p, const struct stat *st _unused_,
		 int flag _unused_, struct FTW *ftw _unused_)
{
	return remove(p);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp || strlen(tmp) > 200)
		tmp = "/tmp";
	snprintf(f->dir, sizeof f->dir, "%s/test-store-auth-XXXXXX", tmp);
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof f->path, "%s/loaxa.db", f->dir);
	*state = f;
	char err[512];
	if (store_open(f->path, &f->s, err, sizeof err) < 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	if (store_group_insert(f->s, "2A", "Nhóm 2A", false, &f->g2a) < 0 ||
	    store_group_insert(f->s, "2B", "Nhóm 2B", false, &f->g2b) < 0 ||
	    store_group_insert(f->s, "3", "Nhóm 3", false, &f->g3) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	f->s = store_close(f->s);
	nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct user mkuser(const char *name, enum role r)
{
	struct user u = { .role = r, .unix_uid = -1 };
	snprintf(u.name, sizeof u.name, "%s", name);
	return u;
}

static int64_t add(struct fx *f, struct user *u)
{
	int64_t id = 0;
	int r = store_user_add(f->s, u, T0, &id);
	if (r < 0)
		fail_msg("store_user_add %s: %d %s", u->name, r,
			 store_errmsg(f->s));
	assert_true(id > 0);
	u->id = id;
	return id;
}

/* ---- users -------------------------------------------------------------- */

static void test_name_valid(void **state _unused_)
{
	static const char *const good[] = { "lan", "Lan.Nguyen", "u_1",
					    "a-b", "0", "x.", "a..b" };
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (!user_name_valid(good[i]))
			fail_msg("%s should be valid", good[i]);
	static const char *const bad[] = { "", "-lan", ".lan", "la n",
					   "lan/x", "lân", "a@b", "a:b",
					   "lan\n", "a\"b" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (user_name_valid(bad[i]))
			fail_msg("\"%s\" should be invalid", bad[i]);
	assert_false(user_name_valid(NULL));
	char n[80];
	memset(n, 'a', 64);
	n[64] = 0;
	assert_true(user_name_valid(n));
	n[64] = 'a';
	n[65] = 0;
	assert_false(user_name_valid(n));
}

static void test_user_add_get(void **state)
{
	struct fx *f = *state;
	struct user u = mkuser("Lan", ROLE_MANAGER), g;
	snprintf(u.display_name, sizeof u.display_name, "Nguyễn Thị Lan");
	u.unix_uid = 1001;
	u.ngroups = 3;
	u.group_ids[0] = f->g2b;
	u.group_ids[1] = f->g2a;
	u.group_ids[2] = f->g2a;              /* repeated: kept once */
	assert_int_equal(auth_password_hash("correct horse", u.pw_hash), 0);
	int64_t id = add(f, &u);

	assert_int_equal(store_user_get(f->s, id, &g), 0);
	assert_int_equal(g.id, id);
	assert_string_equal(g.name, "Lan");
	assert_string_equal(g.display_name, "Nguyễn Thị Lan");
	assert_int_equal(g.role, ROLE_MANAGER);
	assert_string_equal(g.pw_hash, u.pw_hash);
	assert_true(auth_password_verify(g.pw_hash, "correct horse"));
	assert_int_equal(g.unix_uid, 1001);
	assert_false(g.disabled);
	assert_int_equal(g.created_ms, T0);
	assert_int_equal(g.updated_ms, T0);
	assert_int_equal(g.ngroups, 2);
	assert_int_equal(g.group_ids[0], f->g2a < f->g2b ? f->g2a : f->g2b);
	assert_int_equal(g.group_ids[1], f->g2a < f->g2b ? f->g2b : f->g2a);

	/* by name, any case; by uid */
	memset(&g, 0, sizeof g);
	assert_int_equal(store_user_get_by_name(f->s, "lAN", &g), 0);
	assert_int_equal(g.id, id);
	assert_int_equal(g.ngroups, 2);
	memset(&g, 0, sizeof g);
	assert_int_equal(store_user_get_by_uid(f->s, 1001, &g), 0);
	assert_int_equal(g.id, id);
	assert_int_equal(store_user_get_by_uid(f->s, 1002, &g), -ENOENT);
	assert_int_equal(store_user_get_by_uid(f->s, -1, &g), -ENOENT);
	assert_int_equal(store_user_get_by_name(f->s, "hoa", &g), -ENOENT);
	assert_int_equal(store_user_get_by_name(f->s, "bad name", &g),
			 -ENOENT);
	assert_int_equal(store_user_get_by_name(f->s, NULL, &g), -EINVAL);
	assert_int_equal(store_user_get(f->s, id + 100, &g), -ENOENT);
	assert_int_equal(store_user_get(f->s, id, NULL), 0);

	/* no password, no uid: stored as NULLs, read back as "" and -1 */
	struct user o = mkuser("hoa", ROLE_OFFICIAL);
	o.ngroups = 1;                        /* not kept for officials */
	o.group_ids[0] = f->g3;
	add(f, &o);
	assert_int_equal(store_user_get(f->s, o.id, &g), 0);
	assert_string_equal(g.pw_hash, "");
	assert_int_equal(g.unix_uid, -1);
	assert_int_equal(g.ngroups, 0);
	assert_int_equal(g.role, ROLE_OFFICIAL);
	assert_int_equal(store_user_get_by_uid(f->s, -1, &g), -ENOENT);
}

static void test_user_add_refused(void **state)
{
	struct fx *f = *state;
	struct user u = mkuser("lan", ROLE_MANAGER);
	u.unix_uid = 1001;
	add(f, &u);
	int64_t id = 0;

	/* the same name in another case */
	struct user d = mkuser("LAN", ROLE_ADMIN);
	assert_int_equal(store_user_add(f->s, &d, T0, &id), -EEXIST);
	/* the same unix uid */
	d = mkuser("hoa", ROLE_ADMIN);
	d.unix_uid = 1001;
	assert_int_equal(store_user_add(f->s, &d, T0, &id), -EEXIST);
	/* bad name, role, uid, group count */
	d = mkuser("-x", ROLE_ADMIN);
	assert_int_equal(store_user_add(f->s, &d, T0, &id), -EINVAL);
	d = mkuser("x", ROLE_NONE);
	assert_int_equal(store_user_add(f->s, &d, T0, &id), -EINVAL);
	d = mkuser("x", (enum role)7);
	assert_int_equal(store_user_add(f->s, &d, T0, &id), -EINVAL);
	d = mkuser("x", ROLE_ADMIN);
	d.unix_uid = -5;
	assert_int_equal(store_user_add(f->s, &d, T0, &id), -EINVAL);
	d = mkuser("x", ROLE_MANAGER);
	d.ngroups = AUTH_MAX_GROUPS + 1;
	assert_int_equal(store_user_add(f->s, &d, T0, &id), -EINVAL);
	d = mkuser("x", ROLE_ADMIN);
	memset(d.display_name, 'a', sizeof d.display_name);   /* no NUL */
	assert_int_equal(store_user_add(f->s, &d, T0, &id), -EINVAL);
	d = mkuser("x", ROLE_ADMIN);
	snprintf(d.display_name, sizeof d.display_name, "bad \xff");
	assert_int_equal(store_user_add(f->s, &d, T0, &id), -EINVAL);
	assert_int_equal(store_user_add(f->s, NULL, T0, &id), -EINVAL);
	/* an unknown group: refused, and nothing of the user is left */
	d = mkuser("x", ROLE_MANAGER);
	d.ngroups = 2;
	d.group_ids[0] = f->g2a;
	d.group_ids[1] = 999;
	assert_int_equal(store_user_add(f->s, &d, T0, &id), -EINVAL);
	assert_non_null(strstr(store_errmsg(f->s), "999"));
	struct user g;
	assert_int_equal(store_user_get_by_name(f->s, "x", &g), -ENOENT);
	/* and the name is then free */
	d.ngroups = 1;
	add(f, &d);
}

static void test_user_update(void **state)
{
	struct fx *f = *state;
	struct user u = mkuser("lan", ROLE_MANAGER), g;
	u.ngroups = 1;
	u.group_ids[0] = f->g2a;
	add(f, &u);
	struct user v = mkuser("binh", ROLE_OFFICIAL);
	v.unix_uid = 1002;
	add(f, &v);

	u.ngroups = 2;
	u.group_ids[0] = f->g2b;
	u.group_ids[1] = f->g3;
	snprintf(u.display_name, sizeof u.display_name, "Lan");
	assert_int_equal(auth_password_hash("another one", u.pw_hash), 0);
	u.unix_uid = 1003;
	u.disabled = true;
	snprintf(u.name, sizeof u.name, "renamed");     /* name is kept */
	assert_int_equal(store_user_update(f->s, &u, T0 + MIN), 0);
	assert_int_equal(store_user_get(f->s, u.id, &g), 0);
	assert_string_equal(g.name, "lan");
	assert_string_equal(g.display_name, "Lan");
	assert_true(g.disabled);
	assert_int_equal(g.unix_uid, 1003);
	assert_int_equal(g.created_ms, T0);
	assert_int_equal(g.updated_ms, T0 + MIN);
	assert_true(auth_password_verify(g.pw_hash, "another one"));
	assert_int_equal(g.ngroups, 2);

	/* promoted: groups dropped, uid cleared, password removed */
	u.role = ROLE_OFFICIAL;
	u.unix_uid = -1;
	u.pw_hash[0] = 0;
	u.disabled = false;
	assert_int_equal(store_user_update(f->s, &u, T0 + 2 * MIN), 0);
	assert_int_equal(store_user_get(f->s, u.id, &g), 0);
	assert_int_equal(g.ngroups, 0);
	assert_int_equal(g.unix_uid, -1);
	assert_string_equal(g.pw_hash, "");
	assert_false(g.disabled);
	assert_int_equal(store_user_get_by_uid(f->s, 1003, &g), -ENOENT);

	/* another's uid: refused, nothing changed */
	u.role = ROLE_MANAGER;
	u.ngroups = 1;
	u.group_ids[0] = f->g2a;
	u.unix_uid = 1002;
	assert_int_equal(store_user_update(f->s, &u, T0 + 3 * MIN), -EEXIST);
	/* an unknown group: refused atomically */
	u.unix_uid = 1004;
	u.group_ids[0] = 999;
	assert_int_equal(store_user_update(f->s, &u, T0 + 3 * MIN), -EINVAL);
	assert_int_equal(store_user_get(f->s, u.id, &g), 0);
	assert_int_equal(g.role, ROLE_OFFICIAL);
	assert_int_equal(g.unix_uid, -1);
	assert_int_equal(g.updated_ms, T0 + 2 * MIN);
	/* no such user */
	u.id = 999;
	u.group_ids[0] = f->g2a;
	assert_int_equal(store_user_update(f->s, &u, T0), -ENOENT);
	u.role = ROLE_NONE;
	assert_int_equal(store_user_update(f->s, &u, T0), -EINVAL);
}

struct names {
	char buf[256];
	int n, stop_at;
};

static int list_cb(const struct user *u, void *ud)
{
	struct names *nm = ud;
	size_t l = strlen(nm->buf);
	snprintf(nm->buf + l, sizeof nm->buf - l, "%s%s:%zu", l ? " " : "",
		 u->name, u->ngroups);
	return ++nm->n == nm->stop_at ? 42 : 0;
}

static void test_user_list(void **state)
{
	struct fx *f = *state;
	struct names nm = { .stop_at = -1 };
	assert_int_equal(store_user_list(f->s, list_cb, &nm), 0);
	assert_int_equal(nm.n, 0);

	static const char *const names[] = { "binh", "Anh", "chi", "Bao" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct user u = mkuser(names[i], i % 2 ? ROLE_MANAGER :
					ROLE_ADMIN);
		u.ngroups = 1;
		u.group_ids[0] = f->g2a;
		add(f, &u);
	}
	assert_int_equal(store_user_list(f->s, list_cb, &nm), 0);
	assert_string_equal(nm.buf, "Anh:1 Bao:1 binh:0 chi:0");
	memset(&nm, 0, sizeof nm);
	nm.stop_at = 2;
	assert_int_equal(store_user_list(f->s, list_cb, &nm), 42);
	assert_string_equal(nm.buf, "Anh:1 Bao:1");
	assert_int_equal(store_user_list(f->s, NULL, NULL), -EINVAL);

	/* deleting a group takes it out of the managers' lists */
	assert_int_equal(store_group_delete(f->s, f->g2a, true), 0);
	struct user g;
	assert_int_equal(store_user_get_by_name(f->s, "anh", &g), 0);
	assert_int_equal(g.ngroups, 0);
}

/* Users compose inside a caller's transaction. */
static void test_user_txn(void **state)
{
	struct fx *f = *state;
	struct user u = mkuser("lan", ROLE_MANAGER), g;
	u.ngroups = 1;
	u.group_ids[0] = f->g2a;
	assert_int_equal(store_begin(f->s), 0);
	int64_t id;
	assert_int_equal(store_user_add(f->s, &u, T0, &id), 0);
	assert_int_equal(store_user_get(f->s, id, &g), 0);
	assert_int_equal(store_rollback(f->s), 0);
	assert_int_equal(store_user_get(f->s, id, &g), -ENOENT);
	/* a failed inner add leaves the outer transaction usable */
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_user_add(f->s, &u, T0, &id), 0);
	struct user d = mkuser("LAN", ROLE_ADMIN);
	assert_int_equal(store_user_add(f->s, &d, T0, NULL), -EEXIST);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_user_get_by_name(f->s, "lan", &g), 0);
	assert_int_equal(g.ngroups, 1);
}

/* ---- tokens ------------------------------------------------------------- */

struct toks {
	int n;
	struct api_token last;
};

static int tok_cb(const struct api_token *t, void *ud)
{
	struct toks *k = ud;
	k->n++;
	k->last = *t;
	return 0;
}

static void test_tokens(void **state)
{
	struct fx *f = *state;
	struct user u = mkuser("lan", ROLE_MANAGER), g;
	u.ngroups = 1;
	u.group_ids[0] = f->g2b;
	add(f, &u);
	struct user o = mkuser("hoa", ROLE_OFFICIAL);
	add(f, &o);

	char tok[AUTH_TOKEN_MAX], dig[AUTH_DIGEST_HEX], dig2[AUTH_DIGEST_HEX];
	auth_random_token("lxa_", tok);
	auth_token_digest(tok, dig);
	int64_t tid = 0, tid2 = 0;
	assert_int_equal(store_token_add(f->s, u.id, dig, "laptop", T0, &tid),
			 0);
	assert_true(tid > 0);
	auth_random_token("lxa_", tok);
	auth_token_digest(tok, dig2);
	assert_int_equal(store_token_add(f->s, o.id, dig2, NULL, T0, &tid2),
			 0);
	/* the same digest twice, a bad digest, a bad label, no user */
	assert_int_equal(store_token_add(f->s, o.id, dig, "x", T0, NULL),
			 -EEXIST);
	assert_int_equal(store_token_add(f->s, o.id, "abc", "x", T0, NULL),
			 -EINVAL);
	assert_int_equal(store_token_add(f->s, o.id, tok, "x", T0, NULL),
			 -EINVAL);
	assert_int_equal(store_token_add(f->s, o.id, NULL, "x", T0, NULL),
			 -EINVAL);
	char label[200];
	memset(label, 'l', sizeof label - 1);
	label[sizeof label - 1] = 0;
	assert_int_equal(store_token_add(f->s, o.id, dig2, label, T0, NULL),
			 -EINVAL);
	assert_int_equal(store_token_add(f->s, 999, dig2, "x", T0, NULL),
			 -ENOENT);

	/* lookup: the user with groups; last use written at most a minute */
	assert_int_equal(store_token_user(f->s, dig, T0 + 5, &g), 0);
	assert_int_equal(g.id, u.id);
	assert_int_equal(g.ngroups, 1);
	assert_int_equal(g.group_ids[0], f->g2b);
	struct toks k = { 0 };
	assert_int_equal(store_token_list(f->s, u.id, tok_cb, &k), 0);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.last.id, tid);
	assert_int_equal(k.last.user_id, u.id);
	assert_string_equal(k.last.label, "laptop");
	assert_int_equal(k.last.created_ms, T0);
	assert_int_equal(k.last.last_used_ms, T0 + 5);
	assert_int_equal(store_token_user(f->s, dig, T0 + 30000, &g), 0);
	memset(&k, 0, sizeof k);
	assert_int_equal(store_token_list(f->s, u.id, tok_cb, &k), 0);
	assert_int_equal(k.last.last_used_ms, T0 + 5);
	assert_int_equal(store_token_user(f->s, dig, T0 + 5 + MIN, NULL), 0);
	memset(&k, 0, sizeof k);
	assert_int_equal(store_token_list(f->s, u.id, tok_cb, &k), 0);
	assert_int_equal(k.last.last_used_ms, T0 + 5 + MIN);

	/* unknown and malformed digests */
	char other[AUTH_DIGEST_HEX];
	auth_token_digest("lxa_nope", other);
	assert_int_equal(store_token_user(f->s, other, T0, &g), -ENOENT);
	assert_int_equal(store_token_user(f->s, "zz", T0, &g), -ENOENT);
	assert_int_equal(store_token_user(f->s, NULL, T0, &g), -ENOENT);

	/* a disabled user's tokens stop at once */
	u.disabled = true;
	assert_int_equal(store_user_update(f->s, &u, T0), 0);
	assert_int_equal(store_token_user(f->s, dig, T0 + 10 * MIN, &g),
			 -ENOENT);
	u.disabled = false;
	assert_int_equal(store_user_update(f->s, &u, T0), 0);
	assert_int_equal(store_token_user(f->s, dig, T0 + 10 * MIN, &g), 0);

	/* delete: only the owner's */
	assert_int_equal(store_token_delete(f->s, o.id, tid), -ENOENT);
	assert_int_equal(store_token_user(f->s, dig, T0, &g), 0);
	assert_int_equal(store_token_delete(f->s, u.id, tid), 0);
	assert_int_equal(store_token_delete(f->s, u.id, tid), -ENOENT);
	assert_int_equal(store_token_user(f->s, dig, T0, &g), -ENOENT);
	memset(&k, 0, sizeof k);
	assert_int_equal(store_token_list(f->s, u.id, tok_cb, &k), 0);
	assert_int_equal(k.n, 0);
	memset(&k, 0, sizeof k);
	assert_int_equal(store_token_list(f->s, o.id, tok_cb, &k), 0);
	assert_int_equal(k.n, 1);
	assert_string_equal(k.last.label, "");
}

/* ---- sessions ----------------------------------------------------------- */

static void test_sessions(void **state)
{
	struct fx *f = *state;
	struct user u = mkuser("lan", ROLE_MANAGER), g;
	u.ngroups = 1;
	u.group_ids[0] = f->g2a;
	add(f, &u);
	struct user o = mkuser("hoa", ROLE_OFFICIAL);
	add(f, &o);

	char sid[AUTH_TOKEN_MAX], dig[AUTH_DIGEST_HEX], csrf[AUTH_TOKEN_MAX];
	char got[AUTH_TOKEN_MAX];
	auth_random_token("", sid);
	auth_token_digest(sid, dig);
	auth_random_token("", csrf);
	const int64_t life = 30 * MIN;
	assert_int_equal(store_session_add(f->s, dig, u.id, csrf, "127.0.0.1",
					   T0, T0 + life), 0);
	assert_int_equal(store_session_add(f->s, dig, u.id, csrf, NULL, T0,
					   T0 + life), -EEXIST);
	assert_int_equal(store_session_add(f->s, dig, 999, csrf, NULL, T0,
					   T0 + life), -ENOENT);
	char d2[AUTH_DIGEST_HEX];
	auth_token_digest("other", d2);
	assert_int_equal(store_session_add(f->s, d2, 999, csrf, NULL, T0,
					   T0 + life), -ENOENT);
	assert_int_equal(store_session_add(f->s, d2, u.id, NULL, NULL, T0,
					   T0 + life), -EINVAL);
	assert_int_equal(store_session_add(f->s, "xyz", u.id, csrf, NULL, T0,
					   T0 + life), -EINVAL);

	/* lookup returns the user and the csrf */
	assert_int_equal(store_session_user(f->s, dig, T0 + 1000, life, &g,
					    got), 0);
	assert_int_equal(g.id, u.id);
	assert_int_equal(g.ngroups, 1);
	assert_string_equal(got, csrf);
	assert_int_equal(store_session_user(f->s, d2, T0, life, &g, got),
			 -ENOENT);
	assert_int_equal(store_session_user(f->s, NULL, T0, life, &g, got),
			 -ENOENT);

	/* sliding: used every 20 minutes, it lives on past its first end */
	int64_t t = T0;
	for (int i = 0; i < 6; i++) {
		t += 20 * MIN;
		assert_int_equal(store_session_user(f->s, dig, t, life, NULL,
						    NULL), 0);
	}
	/* within a minute of the last write nothing moves ... */
	assert_int_equal(store_session_user(f->s, dig, t + 30 * 1000, life,
					    &g, NULL), 0);
	/* ... so it ends life after the last write */
	assert_int_equal(store_session_user(f->s, dig, t + life - 1, life,
					    &g, NULL), 0);
	assert_int_equal(store_session_user(f->s, dig, t + 2 * life, life,
					    &g, NULL), -ENOENT);
	/* an expired session is gone, not just refused */
	assert_int_equal(store_session_delete(f->s, dig), -ENOENT);

	/* a disabled user's session stops; enabled again, it works */
	assert_int_equal(store_session_add(f->s, dig, u.id, csrf, "x", t,
					   t + life), 0);
	u.disabled = true;
	assert_int_equal(store_user_update(f->s, &u, t), 0);
	assert_int_equal(store_session_user(f->s, dig, t, life, &g, got),
			 -ENOENT);
	u.disabled = false;
	assert_int_equal(store_user_update(f->s, &u, t), 0);
	assert_int_equal(store_session_user(f->s, dig, t, life, &g, got), 0);

	/* delete one; delete a user's all */
	assert_int_equal(store_session_delete(f->s, dig), 0);
	assert_int_equal(store_session_user(f->s, dig, t, life, &g, got),
			 -ENOENT);
	char d[4][AUTH_DIGEST_HEX];
	for (int i = 0; i < 4; i++) {
		char name[8];
		snprintf(name, sizeof name, "s%d", i);
		auth_token_digest(name, d[i]);
		assert_int_equal(store_session_add(f->s, d[i],
						   i < 3 ? u.id : o.id, csrf,
						   "", t, t + life), 0);
	}
	assert_int_equal(store_session_delete_user(f->s, u.id), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_session_user(f->s, d[i], t, life, &g,
						    NULL), -ENOENT);
	assert_int_equal(store_session_user(f->s, d[3], t, life, &g, NULL), 0);
	assert_int_equal(g.id, o.id);
	assert_int_equal(store_session_delete_user(f->s, u.id), 0);

	/* prune: only the expired */
	int64_t n = -1;
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_session_add(f->s, d[i], u.id, csrf, "",
						   t, t + (i + 1) * MIN), 0);
	assert_int_equal(store_session_prune(f->s, t + 2 * MIN, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_session_prune(f->s, t + 2 * MIN, NULL), 0);
	assert_int_equal(store_session_user(f->s, d[2], t + MIN, life, &g,
					    NULL), 0);
	assert_int_equal(store_session_prune(f->s, t + 100 * MIN, &n), 0);
	assert_int_equal(n, 2);                   /* d[2] and d[3] */
}

/* ---- audit -------------------------------------------------------------- */

struct aud {
	int n;
	int64_t ids[16];
	char last[512];
	int stop_at;
};

static int aud_cb(const struct audit_entry *e, void *ud)
{
	struct aud *a = ud;
	if (a->n < 16)
		a->ids[a->n] = e->id;
	snprintf(a->last, sizeof a->last, "%lld|%s|%s|%s|%s|%s|%d|%s",
		 (long long)e->at_ms, e->user_name, auth_role_name(e->role),
		 e->origin, e->action, e->target, e->status, e->detail);
	return ++a->n == a->stop_at ? 7 : 0;
}

static void test_audit(void **state)
{
	struct fx *f = *state;
	struct aud a = { 0 };
	bool more = true;
	assert_int_equal(store_audit_list(f->s, 0, 10, aud_cb, &a, &more), 0);
	assert_int_equal(a.n, 0);
	assert_false(more);

	for (int i = 1; i <= 7; i++) {
		char target[32];
		snprintf(target, sizeof target, "broadcast %d", i);
		struct audit_entry e = {
			.at_ms = T0 + i, .user_name = "lan",
			.role = ROLE_MANAGER, .origin = "127.0.0.1",
			.action = "POST /v1/broadcasts/*/approve",
			.target = target, .status = 200, .detail = "ok",
		};
		assert_int_equal(store_audit_add(f->s, &e), 0);
	}
	/* defaults for missing texts */
	struct audit_entry e = { .at_ms = T0 + 8, .action = "login_failed",
				 .status = 401 };
	assert_int_equal(store_audit_add(f->s, &e), 0);
	e.action = NULL;
	assert_int_equal(store_audit_add(f->s, &e), -EINVAL);
	e.action = "";
	assert_int_equal(store_audit_add(f->s, &e), -EINVAL);
	assert_int_equal(store_audit_add(f->s, NULL), -EINVAL);

	/* newest first, paged */
	assert_int_equal(store_audit_list(f->s, 0, 3, aud_cb, &a, &more), 0);
	assert_int_equal(a.n, 3);
	assert_true(more);
	assert_true(a.ids[0] > a.ids[1] && a.ids[1] > a.ids[2]);
	assert_string_equal(a.last, "1700000000006|lan|manager|127.0.0.1|"
			    "POST /v1/broadcasts/*/approve|broadcast 6|200|"
			    "ok");
	int64_t before = a.ids[2];
	memset(&a, 0, sizeof a);
	assert_int_equal(store_audit_list(f->s, 0, 1, aud_cb, &a, &more), 0);
	assert_string_equal(a.last, "1700000000008|-|none||login_failed||"
			    "401|");
	memset(&a, 0, sizeof a);
	assert_int_equal(store_audit_list(f->s, before, 3, aud_cb, &a, &more),
			 0);
	assert_int_equal(a.n, 3);
	assert_true(more);
	assert_int_equal(a.ids[0], before - 1);
	before = a.ids[2];
	memset(&a, 0, sizeof a);
	assert_int_equal(store_audit_list(f->s, before, 3, aud_cb, &a, &more),
			 0);
	assert_int_equal(a.n, 2);                 /* the last page */
	assert_false(more);
	memset(&a, 0, sizeof a);
	assert_int_equal(store_audit_list(f->s, before, 2, aud_cb, &a, &more),
			 0);
	assert_int_equal(a.n, 2);                 /* exactly the rest */
	assert_false(more);
	memset(&a, 0, sizeof a);
	a.stop_at = 2;
	assert_int_equal(store_audit_list(f->s, 0, 5, aud_cb, &a, NULL), 7);
	assert_int_equal(store_audit_list(f->s, 0, 0, aud_cb, &a, NULL),
			 -EINVAL);
	assert_int_equal(store_audit_list(f->s, 0, 5, NULL, NULL, NULL),
			 -EINVAL);

	/* long texts are cut at a character boundary; bad UTF-8 is "?" */
	char detail[3000] = "";
	for (size_t i = 0; i + 2 < sizeof detail; i += 2)
		memcpy(detail + i, "\xc3\xa1", 2);    /* "á" */
	detail[sizeof detail - 1] = 0;
	e = (struct audit_entry){ .at_ms = T0, .action = "x",
				  .detail = detail, .target = "bad \xff" };
	assert_int_equal(store_audit_add(f->s, &e), 0);
	memset(&a, 0, sizeof a);
	assert_int_equal(store_audit_list(f->s, 0, 1, aud_cb, &a, NULL), 0);
	assert_non_null(strstr(a.last, "|x|?|0|\xc3\xa1"));
}

int main(void)
{
	if (auth_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test_setup_teardown(test_user_add_get, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_user_add_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_user_update, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_user_list, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_user_txn, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sessions, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
