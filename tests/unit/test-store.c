/* test-store.c: the SQLite store against real files in a temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ftw.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loaxa/log.h"
#include "loaxa/store.h"
#include "loaxa/util.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

#define NOBODY 65534

struct fx {
	char dir[256];
	char path[300];
	struct store *s;
};

/* ---- fixtures ----------------------------------------------------------- */

static int rm_cb(const char *p, const struct stat *st _unused_,
		 int flag _unused_, struct FTW *ftw _unused_)
{
	return remove(p);
}

static int setup_dir(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp || strlen(tmp) > 200)
		tmp = "/tmp";
	snprintf(f->dir, sizeof f->dir, "%s/test-store-XXXXXX", tmp);
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof f->path, "%s/loaxa.db", f->dir);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	if (setup_dir(state) < 0)
		return -1;
	struct fx *f = *state;
	char err[512];
	int r = store_open(f->path, &f->s, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
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

/* ---- helpers ------------------------------------------------------------ */

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fprintf(stderr, "raw_exec: %s\n", msg);
	sqlite3_free(msg);
	sqlite3_close(db);
	assert_int_equal(rc, SQLITE_OK);
}

/* First column of the first row as text, in buf ("" if no row). */
static const char *raw_query(const char *path, const char *sql, char *buf,
			     size_t bufsz)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
			 SQLITE_OK);
	buf[0] = '\0';
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(buf, bufsz, "%s", t ? (const char *)t : "(null)");
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return buf;
}

static int64_t add_group(struct store *s, const char *code)
{
	int64_t id = 0;
	char name[64];
	snprintf(name, sizeof name, "Nhóm dân cư %s", code);
	assert_int_equal(store_group_insert(s, code, name, false, &id), 0);
	assert_true(id > 0);
	return id;
}

static void hh_init(struct household *h, int64_t group_id, const char *name,
		    const char *address, ...)
{
	*h = (struct household){ .group_id = group_id,
				 .name = (char *)name,
				 .address = (char *)address,
				 .created_ms = 1000,
				 .updated_ms = 2000 };
	va_list ap;
	va_start(ap, address);
	const char *p;
	while ((p = va_arg(ap, const char *)) != NULL) {
		assert_true(h->nphones < HOUSEHOLD_MAX_PHONES);
		snprintf(h->phones[h->nphones++], PHONE_E164_MAX, "%s", p);
	}
	va_end(ap);
}

static int64_t add_household(struct store *s, int64_t group_id,
			     const char *name, const char *address,
			     const char *phone)
{
	struct household h;
	hh_init(&h, group_id, name, address, phone, NULL);
	assert_int_equal(store_household_insert(s, &h), 0);
	assert_true(h.id > 0);
	return h.id;
}

static void counts_equal(struct store *s, int64_t groups, int64_t hh,
			 int64_t phones, int64_t opted_out)
{
	struct store_counts c;
	assert_int_equal(store_counts(s, &c), 0);
	assert_int_equal(c.groups, groups);
	assert_int_equal(c.households, hh);
	assert_int_equal(c.phones, phones);
	assert_int_equal(c.opted_out, opted_out);
}

struct collect {
	size_t n;
	int64_t ids[64];
	char codes[64][16];
	char first_phone[64][PHONE_E164_MAX];
	size_t nphones[64];
	size_t stop_after; /* 0 = never */
};

static int collect_cb(const struct household *h, void *ud)
{
	struct collect *c = ud;
	if (c->n < ARRAY_SIZE(c->ids)) {
		c->ids[c->n] = h->id;
		snprintf(c->codes[c->n], sizeof c->codes[0], "%s",
			 h->group_code);
		snprintf(c->first_phone[c->n], PHONE_E164_MAX, "%s",
			 h->nphones ? h->phones[0] : "");
		c->nphones[c->n] = h->nphones;
	}
	c->n++;
	if (c->stop_after && c->n == c->stop_after)
		return 42;
	return 0;
}

static size_t list(struct store *s, struct household_filter f,
		   struct collect *c)
{
	memset(c, 0, sizeof *c);
	assert_int_equal(store_household_list(s, &f, collect_cb, c), 0);
	return c->n;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- open, schema ------------------------------------------------------- */

static void test_open_fresh(void **state)
{
	struct fx *f = *state;
	char buf[256], lockpath[PATH_MAX + 8], want[32];

	assert_int_equal(store_schema_version(f->s), STORE_SCHEMA_VERSION);
	assert_int_equal(STORE_SCHEMA_VERSION, 8);
	assert_string_equal(store_path(f->s), f->path);
	counts_equal(f->s, 0, 0, 0, 0);

	/* the lock file holds our pid */
	snprintf(lockpath, sizeof lockpath, "%s.lock", f->path);
	FILE *fp = fopen(lockpath, "r");
	assert_non_null(fp);
	assert_non_null(fgets(buf, sizeof buf, fp));
	fclose(fp);
	snprintf(want, sizeof want, "%ld\n", (long)getpid());
	assert_string_equal(buf, want);
	struct stat st;
	assert_int_equal(stat(lockpath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	f->s = store_close(f->s);
	assert_null(f->s);
	/* the lock file stays after close */
	assert_int_equal(access(lockpath, F_OK), 0);

	assert_string_equal(raw_query(f->path, "PRAGMA journal_mode", buf,
				      sizeof buf), "wal");
	assert_string_equal(raw_query(f->path, "PRAGMA user_version", buf,
				      sizeof buf), "8");
	raw_query(f->path, "SELECT value FROM meta WHERE key='created_by'",
		  buf, sizeof buf);
	assert_memory_equal(buf, "loaxad", 6);
	raw_query(f->path, "SELECT value FROM meta WHERE key='instance_id'",
		  buf, sizeof buf);
	assert_int_equal(strlen(buf), 32);
	assert_int_equal(strspn(buf, "0123456789abcdef"), 32);
	raw_query(f->path,
		  "SELECT count(*) FROM sqlite_schema WHERE type='index'"
		  " AND name IN ('households_group','phones_household')",
		  buf, sizeof buf);
	assert_string_equal(buf, "2");
}

static void test_reopen_persists(void **state)
{
	struct fx *f = *state;
	char err[512];
	int64_t g = add_group(f->s, "2A");
	int64_t h = add_household(f->s, g, "Trần Thị Bình", NULL,
				  "+84912345678");
	f->s = store_close(f->s);
	assert_int_equal(store_open(f->path, &f->s, err, sizeof err), 0);
	assert_string_equal(err, "");
	counts_equal(f->s, 1, 1, 1, 0);
	struct household got;
	assert_int_equal(store_household_get(f->s, h, &got), 0);
	assert_string_equal(got.name, "Trần Thị Bình");
	assert_string_equal(got.phones[0], "+84912345678");
	household_clear(&got);
}

/* ---- groups ------------------------------------------------------------- */

static void test_group_crud(void **state)
{
	struct fx *f = *state;
	struct group_rec g;
	int64_t id = 0, id2 = 0;

	assert_int_equal(store_group_insert(f->s, "2A", "Nhóm 2A", true, &id),
			 0);
	assert_true(id > 0);
	/* codes are unique without regard to case */
	assert_int_equal(store_group_insert(f->s, "2a", "x", false, &id2),
			 -EEXIST);
	assert_non_null(strstr(store_errmsg(f->s), "UNIQUE constraint"));
	assert_int_equal(id2, 0);
	assert_int_equal(store_group_insert(f->s, NULL, "x", false, NULL),
			 -EINVAL);

	assert_int_equal(store_group_get(f->s, id, &g), 0);
	assert_int_equal(g.id, id);
	assert_string_equal(g.code, "2A");
	assert_string_equal(g.name, "Nhóm 2A");
	assert_true(g.from_config);
	assert_int_equal(g.households, 0);
	group_rec_clear(&g);

	assert_int_equal(store_group_get_by_code(f->s, "2a", &g), 0);
	assert_int_equal(g.id, id);
	group_rec_clear(&g);
	assert_int_equal(store_group_get_by_code(f->s, "3C", &g), -ENOENT);
	assert_int_equal(store_group_get(f->s, id + 100, &g), -ENOENT);

	assert_int_equal(store_group_update(f->s, id, "Nhóm dân cư 2A", false),
			 0);
	assert_int_equal(store_group_get(f->s, id, &g), 0);
	assert_string_equal(g.name, "Nhóm dân cư 2A");
	assert_false(g.from_config);
	group_rec_clear(&g);
	assert_int_equal(store_group_update(f->s, id + 100, "x", false),
			 -ENOENT);
}

struct glist {
	size_t n;
	char codes[8][16];
	int64_t households[8];
};

static int glist_cb(const struct group_rec *g, void *ud)
{
	struct glist *l = ud;
	if (l->n < ARRAY_SIZE(l->codes)) {
		snprintf(l->codes[l->n], sizeof l->codes[0], "%s", g->code);
		l->households[l->n] = g->households;
	}
	l->n++;
	return 0;
}

static int gstop_cb(const struct group_rec *g _unused_, void *ud)
{
	(*(int *)ud)++;
	return 7;
}

static void test_group_list(void **state)
{
	struct fx *f = *state;
	int64_t b = add_group(f->s, "3B");
	add_group(f->s, "1A");
	int64_t c = add_group(f->s, "2c");
	add_household(f->s, b, "A", NULL, "+84912000001");
	add_household(f->s, b, "B", NULL, "+84912000002");
	add_household(f->s, c, "C", NULL, "+84912000003");

	struct glist l = { 0 };
	assert_int_equal(store_group_list(f->s, glist_cb, &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.codes[0], "1A");
	assert_string_equal(l.codes[1], "2c");
	assert_string_equal(l.codes[2], "3B");
	assert_int_equal(l.households[0], 0);
	assert_int_equal(l.households[1], 1);
	assert_int_equal(l.households[2], 2);

	int calls = 0;
	assert_int_equal(store_group_list(f->s, gstop_cb, &calls), 7);
	assert_int_equal(calls, 1);
	/* the statement was reset: a second run starts over */
	memset(&l, 0, sizeof l);
	assert_int_equal(store_group_list(f->s, glist_cb, &l), 0);
	assert_int_equal(l.n, 3);
}

static void test_group_delete(void **state)
{
	struct fx *f = *state;
	int64_t empty = add_group(f->s, "E");
	int64_t full = add_group(f->s, "F");
	int64_t other = add_group(f->s, "O");
	struct household h;
	hh_init(&h, full, "Lê Văn Cường", NULL, "+84912000001",
		"+84912000002", NULL);
	assert_int_equal(store_household_insert(f->s, &h), 0);
	add_household(f->s, full, "Phạm Thị Dung", NULL, "+84912000003");
	int64_t keep = add_household(f->s, other, "Keep", NULL,
				     "+84912000004");
	counts_equal(f->s, 3, 3, 4, 0);

	assert_int_equal(store_group_delete(f->s, empty, false), 0);
	assert_int_equal(store_group_delete(f->s, empty, false), -ENOENT);
	assert_int_equal(store_group_delete(f->s, empty, true), -ENOENT);

	assert_int_equal(store_group_delete(f->s, full, false), -ENOTEMPTY);
	counts_equal(f->s, 2, 3, 4, 0);

	assert_int_equal(store_group_delete(f->s, full, true), 0);
	counts_equal(f->s, 1, 1, 1, 0); /* phones cascaded */
	int64_t owner = 0;
	assert_int_equal(store_phone_owner(f->s, "+84912000001", &owner),
			 -ENOENT);
	assert_int_equal(store_phone_owner(f->s, "+84912000004", &owner), 0);
	assert_int_equal(owner, keep);
	struct group_rec g;
	assert_int_equal(store_group_get(f->s, full, &g), -ENOENT);
}

/* ---- households --------------------------------------------------------- */

static void test_household_crud(void **state)
{
	struct fx *f = *state;
	int64_t g = add_group(f->s, "2A");
	struct household h, got;

	hh_init(&h, g, "Nguyễn Văn An", "12 Lê Lợi", "+84987654321",
		"+84912345678", "+84333000111", NULL);
	h.zalo_user_id = "z123";
	h.note = "chủ hộ";
	h.opted_out = false;
	assert_int_equal(store_household_insert(f->s, &h), 0);
	assert_true(h.id > 0);

	assert_int_equal(store_household_get(f->s, h.id, &got), 0);
	assert_int_equal(got.id, h.id);
	assert_int_equal(got.group_id, g);
	assert_string_equal(got.group_code, "2A");
	assert_string_equal(got.name, "Nguyễn Văn An");
	assert_string_equal(got.address, "12 Lê Lợi");
	assert_string_equal(got.zalo_user_id, "z123");
	assert_null(got.messenger_psid);
	assert_string_equal(got.note, "chủ hộ");
	assert_false(got.opted_out);
	assert_int_equal(got.created_ms, 1000);
	assert_int_equal(got.updated_ms, 2000);
	/* phones come back in the order given, not sorted */
	assert_int_equal(got.nphones, 3);
	assert_string_equal(got.phones[0], "+84987654321");
	assert_string_equal(got.phones[1], "+84912345678");
	assert_string_equal(got.phones[2], "+84333000111");
	household_clear(&got);

	int64_t owner = 0;
	assert_int_equal(store_phone_owner(f->s, "+84912345678", &owner), 0);
	assert_int_equal(owner, h.id);
	assert_int_equal(store_phone_owner(f->s, "+84900000000", &owner),
			 -ENOENT);

	assert_int_equal(store_household_set_opted_out(f->s, h.id, true, 5000),
			 0);
	assert_int_equal(store_household_get(f->s, h.id, &got), 0);
	assert_true(got.opted_out);
	assert_int_equal(got.updated_ms, 5000);
	household_clear(&got);
	counts_equal(f->s, 1, 1, 3, 1);
	assert_int_equal(store_household_set_opted_out(f->s, h.id + 9, true,
						       1), -ENOENT);

	assert_int_equal(store_household_get(f->s, h.id + 9, &got), -ENOENT);
}

static void test_household_phone_conflict(void **state)
{
	struct fx *f = *state;
	int64_t g = add_group(f->s, "2A");
	int64_t a = add_household(f->s, g, "A", NULL, "+84912345678");
	struct household h;

	/* the second phone is taken: nothing of b is written */
	hh_init(&h, g, "B", NULL, "+84900000001", "+84912345678", NULL);
	assert_int_equal(store_household_insert(f->s, &h), -EEXIST);
	assert_int_equal(h.id, 0);
	char want[64];
	snprintf(want, sizeof want, "phones[1] belongs to household %lld",
		 (long long)a);
	assert_string_equal(store_errmsg(f->s), want);
	counts_equal(f->s, 1, 1, 1, 0);
	int64_t owner;
	assert_int_equal(store_phone_owner(f->s, "+84900000001", &owner),
			 -ENOENT);

	/* the same conflict inside a caller's transaction leaves the
	 * transaction usable, with only the caller's writes in it */
	assert_int_equal(store_begin(f->s), 0);
	add_group(f->s, "3B");
	assert_int_equal(store_household_insert(f->s, &h), -EEXIST);
	assert_int_equal(store_commit(f->s), 0);
	counts_equal(f->s, 2, 1, 1, 0);
}

static void test_household_update(void **state)
{
	struct fx *f = *state;
	int64_t g = add_group(f->s, "2A");
	int64_t g2 = add_group(f->s, "3B");
	struct household h, got;
	hh_init(&h, g, "A", "addr", "+84911111111", "+84922222222", NULL);
	assert_int_equal(store_household_insert(f->s, &h), 0);
	int64_t other = add_household(f->s, g, "Other", NULL, "+84933333333");

	/* reorder, drop one, add one, move group, clear address */
	struct household u;
	hh_init(&u, g2, "A renamed", NULL, "+84922222222", "+84944444444",
		NULL);
	u.id = h.id;
	u.created_ms = 999999; /* ignored: update keeps created_ms */
	u.updated_ms = 3000;
	assert_int_equal(store_household_update(f->s, &u), 0);
	assert_int_equal(store_household_get(f->s, h.id, &got), 0);
	assert_string_equal(got.name, "A renamed");
	assert_null(got.address);
	assert_int_equal(got.group_id, g2);
	assert_string_equal(got.group_code, "3B");
	assert_int_equal(got.created_ms, 1000);
	assert_int_equal(got.updated_ms, 3000);
	assert_int_equal(got.nphones, 2);
	assert_string_equal(got.phones[0], "+84922222222");
	assert_string_equal(got.phones[1], "+84944444444");
	household_clear(&got);
	int64_t owner;
	assert_int_equal(store_phone_owner(f->s, "+84911111111", &owner),
			 -ENOENT);
	counts_equal(f->s, 2, 2, 3, 0);

	/* a phone of another household: -EEXIST, nothing changed */
	hh_init(&u, g, "B", "x", "+84955555555", "+84933333333", NULL);
	u.id = h.id;
	assert_int_equal(store_household_update(f->s, &u), -EEXIST);
	assert_int_equal(store_household_get(f->s, h.id, &got), 0);
	assert_string_equal(got.name, "A renamed");
	assert_int_equal(got.nphones, 2);
	assert_string_equal(got.phones[0], "+84922222222");
	household_clear(&got);
	assert_int_equal(store_phone_owner(f->s, "+84933333333", &owner), 0);
	assert_int_equal(owner, other);
	assert_int_equal(store_phone_owner(f->s, "+84955555555", &owner),
			 -ENOENT);

	/* no such household */
	hh_init(&u, g, "B", NULL, "+84966666666", NULL);
	u.id = h.id + 100;
	assert_int_equal(store_household_update(f->s, &u), -ENOENT);
	assert_int_equal(store_phone_owner(f->s, "+84966666666", &owner),
			 -ENOENT);

	/* to no phones at all */
	hh_init(&u, g, "A", NULL, NULL);
	u.id = h.id;
	assert_int_equal(store_household_update(f->s, &u), 0);
	counts_equal(f->s, 2, 2, 1, 0);
}

static void test_household_delete(void **state)
{
	struct fx *f = *state;
	int64_t g = add_group(f->s, "2A");
	struct household h;
	hh_init(&h, g, "A", NULL, "+84911111111", "+84922222222", NULL);
	assert_int_equal(store_household_insert(f->s, &h), 0);
	counts_equal(f->s, 1, 1, 2, 0);
	assert_int_equal(store_household_delete(f->s, h.id), 0);
	counts_equal(f->s, 1, 0, 0, 0);
	assert_int_equal(store_household_delete(f->s, h.id), -ENOENT);
	/* the phone is free again */
	hh_init(&h, g, "B", NULL, "+84922222222", NULL);
	assert_int_equal(store_household_insert(f->s, &h), 0);
}

static void test_household_invalid(void **state)
{
	struct fx *f = *state;
	int64_t g = add_group(f->s, "2A");
	struct household h;

	hh_init(&h, g, "A", NULL, "+84911111111", "+84911111111", NULL);
	assert_int_equal(store_household_insert(f->s, &h), -EINVAL);
	assert_string_equal(store_errmsg(f->s), "phones[1] repeats phones[0]");

	hh_init(&h, g, NULL, NULL, "+84911111111", NULL);
	assert_int_equal(store_household_insert(f->s, &h), -EINVAL);

	hh_init(&h, g, "A", NULL, NULL);
	h.nphones = HOUSEHOLD_MAX_PHONES + 1;
	assert_int_equal(store_household_insert(f->s, &h), -EINVAL);

	hh_init(&h, g, "A", NULL, NULL);
	h.nphones = 1;
	memset(h.phones[0], '9', PHONE_E164_MAX); /* not terminated */
	assert_int_equal(store_household_insert(f->s, &h), -EINVAL);

	/* a group that does not exist (foreign key) */
	hh_init(&h, g + 50, "A", NULL, "+84911111111", NULL);
	assert_int_equal(store_household_insert(f->s, &h), -EINVAL);
	assert_non_null(strstr(store_errmsg(f->s), "FOREIGN KEY"));

	counts_equal(f->s, 1, 0, 0, 0);

	/* the maximum is fine */
	hh_init(&h, g, "A", NULL, NULL);
	for (size_t i = 0; i < HOUSEHOLD_MAX_PHONES; i++)
		snprintf(h.phones[h.nphones++], PHONE_E164_MAX,
			 "+8491000000%zu", i);
	assert_int_equal(store_household_insert(f->s, &h), 0);
	struct household got;
	assert_int_equal(store_household_get(f->s, h.id, &got), 0);
	assert_int_equal(got.nphones, HOUSEHOLD_MAX_PHONES);
	assert_string_equal(got.phones[7], "+84910000007");
	household_clear(&got);
}

/* ---- listing ------------------------------------------------------------ */

static void make_village(struct store *s, int64_t *ga, int64_t *gb,
			 int64_t ids[6])
{
	*ga = add_group(s, "2A");
	*gb = add_group(s, "3B");
	ids[0] = add_household(s, *ga, "Nguyễn Văn An", "12 Lê Lợi",
			       "+84912345678");
	ids[1] = add_household(s, *gb, "Trần Thị Bình", "5 Hùng Vương",
			       "+84987654321");
	ids[2] = add_household(s, *ga, "NGUYEN THI HOA", "Xóm Đông",
			       "+84333111000");
	ids[3] = add_household(s, *gb, "Lê Văn Cường", NULL, "+84912000999");
	ids[4] = add_household(s, *ga, "Phạm Minh", "Ngõ 3", "+84777666555");
	ids[5] = add_household(s, *gb, "Võ Thị Em", "Hẻm 12", "+84555444333");
	assert_int_equal(store_household_set_opted_out(s, ids[2], true, 1),
			 0);
	assert_int_equal(store_household_set_opted_out(s, ids[5], true, 1),
			 0);
}

static void test_list_filters(void **state)
{
	struct fx *f = *state;
	int64_t ga, gb, ids[6];
	struct collect c;
	make_village(f->s, &ga, &gb, ids);

	/* NULL filter: everything, ordered by id, with codes and phones */
	memset(&c, 0, sizeof c);
	assert_int_equal(store_household_list(f->s, NULL, collect_cb, &c), 0);
	assert_int_equal(c.n, 6);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(c.ids[i], ids[i]);
	assert_string_equal(c.codes[0], "2A");
	assert_string_equal(c.codes[1], "3B");
	assert_string_equal(c.first_phone[1], "+84987654321");
	assert_int_equal(c.nphones[1], 1);

	assert_int_equal(list(f->s, (struct household_filter){
		.group_id = ga, .opted_out = -1 }, &c), 3);
	assert_int_equal(c.ids[0], ids[0]);
	assert_int_equal(c.ids[1], ids[2]);
	assert_int_equal(c.ids[2], ids[4]);

	assert_int_equal(list(f->s, (struct household_filter){
		.opted_out = 1 }, &c), 2);
	assert_int_equal(c.ids[0], ids[2]);
	assert_int_equal(c.ids[1], ids[5]);

	assert_int_equal(list(f->s, (struct household_filter){
		.opted_out = 0 }, &c), 4);

	assert_int_equal(list(f->s, (struct household_filter){
		.group_id = gb, .opted_out = 0 }, &c), 2);
	assert_int_equal(c.ids[0], ids[1]);
	assert_int_equal(c.ids[1], ids[3]);

	assert_int_equal(list(f->s, (struct household_filter){
		.group_id = gb + 10, .opted_out = -1 }, &c), 0);
}

static void test_list_q(void **state)
{
	struct fx *f = *state;
	int64_t ga, gb, ids[6];
	struct collect c;
	make_village(f->s, &ga, &gb, ids);
	struct household_filter q = { .opted_out = -1 };

	/* name: case, diacritics and spaces ignored (loaxa_fold) */
	q.q = "nguyen";
	assert_int_equal(list(f->s, q, &c), 2);
	assert_int_equal(c.ids[0], ids[0]);
	assert_int_equal(c.ids[1], ids[2]);
	q.q = "NGUYỄN";
	assert_int_equal(list(f->s, q, &c), 2);
	q.q = "nguyễn văn";
	assert_int_equal(list(f->s, q, &c), 1);
	assert_int_equal(c.ids[0], ids[0]);
	q.q = "văn";
	assert_int_equal(list(f->s, q, &c), 2);
	/* address */
	q.q = "lê lợi";
	assert_int_equal(list(f->s, q, &c), 1);
	assert_int_equal(c.ids[0], ids[0]);
	q.q = "xÓm";
	assert_int_equal(list(f->s, q, &c), 1);
	assert_int_equal(c.ids[0], ids[2]);
	q.q = "XóM";
	assert_int_equal(list(f->s, q, &c), 1);
	/* phone digits, as a person types them */
	q.q = "0912 345";
	assert_int_equal(list(f->s, q, &c), 1);
	assert_int_equal(c.ids[0], ids[0]);
	q.q = "0912";
	assert_int_equal(list(f->s, q, &c), 2);
	assert_int_equal(c.ids[0], ids[0]);
	assert_int_equal(c.ids[1], ids[3]);
	q.q = "+84 98765";
	assert_int_equal(list(f->s, q, &c), 1);
	assert_int_equal(c.ids[0], ids[1]);
	q.q = "654.321";
	assert_int_equal(list(f->s, q, &c), 1);
	assert_int_equal(c.ids[0], ids[1]);
	/* digits also match an address: "12" is in "12 Lê Lợi", "Hẻm 12"
	 * and in the phones +84912345678 and +84912000999 */
	q.q = "12";
	assert_int_equal(list(f->s, q, &c), 3);
	assert_int_equal(c.ids[0], ids[0]);
	assert_int_equal(c.ids[1], ids[3]);
	assert_int_equal(c.ids[2], ids[5]);
	/* combined with other filters */
	q.q = "12";
	q.opted_out = 0;
	assert_int_equal(list(f->s, q, &c), 2);
	q.group_id = gb;
	assert_int_equal(list(f->s, q, &c), 1);
	assert_int_equal(c.ids[0], ids[3]);
	/* no match; empty q is no filter */
	q = (struct household_filter){ .opted_out = -1, .q = "zzz" };
	assert_int_equal(list(f->s, q, &c), 0);
	q.q = "";
	assert_int_equal(list(f->s, q, &c), 6);
	/* SQL and LIKE metacharacters are plain text */
	q.q = "%";
	assert_int_equal(list(f->s, q, &c), 0);
	q.q = "'; DROP TABLE households; --";
	assert_int_equal(list(f->s, q, &c), 0);
	counts_equal(f->s, 2, 6, 6, 2);
}

static void test_list_paging(void **state)
{
	struct fx *f = *state;
	int64_t g = add_group(f->s, "2A");
	int64_t ids[25];
	for (unsigned i = 0; i < 25; i++) {
		char name[32], phone[PHONE_E164_MAX];
		snprintf(name, sizeof name, "Hộ %u", i);
		snprintf(phone, sizeof phone, "+849120000%02u", i);
		ids[i] = add_household(f->s, g, name, NULL, phone);
	}
	/* pages of 10 by after_id: 10 + 10 + 5, then empty */
	struct household_filter q = { .opted_out = -1, .limit = 10 };
	struct collect c;
	size_t seen = 0;
	for (int page = 0; page < 4; page++) {
		size_t n = list(f->s, q, &c);
		assert_int_equal(n, page < 2 ? 10 : page == 2 ? 5 : 0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(c.ids[i], ids[seen + i]);
		seen += n;
		if (n)
			q.after_id = c.ids[n - 1];
	}
	assert_int_equal(seen, 25);

	/* a deleted row does not disturb keyset paging */
	q = (struct household_filter){ .opted_out = -1, .limit = 3,
				       .after_id = ids[4] };
	assert_int_equal(store_household_delete(f->s, ids[6]), 0);
	assert_int_equal(list(f->s, q, &c), 3);
	assert_int_equal(c.ids[0], ids[5]);
	assert_int_equal(c.ids[1], ids[7]);
	assert_int_equal(c.ids[2], ids[8]);

	/* the callback's non-zero return stops the list and is returned */
	memset(&c, 0, sizeof c);
	c.stop_after = 2;
	assert_int_equal(store_household_list(f->s, NULL, collect_cb, &c), 42);
	assert_int_equal(c.n, 2);
}

static int nested_list_cb(const struct household *h, void *ud)
{
	struct store *s = ud;
	struct household got;
	/* reading inside the callback is fine */
	int r = store_household_get(s, h->id, &got);
	if (r < 0)
		return r;
	household_clear(&got);
	/* listing again from inside is refused */
	struct collect c = { 0 };
	r = store_household_list(s, NULL, collect_cb, &c);
	return r == -EINVAL ? 0 : -1000;
}

static void test_list_reentry(void **state)
{
	struct fx *f = *state;
	int64_t g = add_group(f->s, "2A");
	add_household(f->s, g, "A", NULL, "+84911111111");
	add_household(f->s, g, "B", NULL, "+84922222222");
	FILE *devnull = fopen("/dev/null", "w");
	log_set_stream(devnull);
	assert_int_equal(store_household_list(f->s, NULL, nested_list_cb,
					      f->s), 0);
	log_set_stream(NULL);
	fclose(devnull);
	struct collect c;
	assert_int_equal(list(f->s, (struct household_filter){
		.opted_out = -1 }, &c), 2);
}

/* A 50,000-household village lists in well under a second. The rows are
 * written by another connection (a sqlite3 shell would do the same) so the
 * test stays fast under sanitizers; store inserts are tested above. */
static void test_list_large(void **state)
{
	struct fx *f = *state;
	const unsigned n = 50000;
	const char *preload = getenv("LD_PRELOAD");
	if (preload && strstr(preload, "vgpreload"))
		skip(); /* a timing test means nothing under valgrind */
	int64_t g = add_group(f->s, "2A");
	int64_t g2 = add_group(f->s, "3B");
	char sql[2048];

	double t0 = now_s();
	snprintf(sql, sizeof sql,
		 "BEGIN;"
		 "WITH RECURSIVE i(x) AS (SELECT 0 UNION ALL SELECT x + 1 "
		 " FROM i WHERE x + 1 < %u)"
		 "INSERT INTO households(id, group_id, name, address,"
		 " created_ms, updated_ms)"
		 " SELECT x + 1, CASE x %% 2 WHEN 1 THEN %lld ELSE %lld END,"
		 " 'Hộ số ' || x, 'Xóm Bắc', 1, 2 FROM i;"
		 "INSERT INTO phones SELECT printf('+849%%08d', id - 1), id, 0"
		 " FROM households;"
		 "INSERT INTO phones SELECT printf('+843%%08d', id - 1), id, 1"
		 " FROM households;"
		 "COMMIT;",
		 n, (long long)g2, (long long)g);
	raw_exec(f->path, sql);
	double t1 = now_s();
	counts_equal(f->s, 2, n, 2 * n, 0);

	struct collect c;
	assert_int_equal(list(f->s, (struct household_filter){
		.opted_out = -1 }, &c), n);
	assert_int_equal(c.nphones[0], 2);
	assert_string_equal(c.first_phone[1], "+84900000001");
	double t2 = now_s();
	/* +849000412xx: i = 41200..41299, the odd ones in g2 */
	assert_int_equal(list(f->s, (struct household_filter){
		.opted_out = -1, .group_id = g2, .q = "09000412" }, &c), 50);
	assert_int_equal(c.ids[0], 41201 + 1); /* ids start at 1 */
	double t3 = now_s();
	double limit = UNDER_SANITIZER ? 4.0 : 1.0;
	print_message("50k: insert %.2fs, list all %.2fs, list q %.2fs\n",
		      t1 - t0, t2 - t1, t3 - t2);
	assert_true(t2 - t1 < limit);
	assert_true(t3 - t2 < limit);
}

/* Rows written behind our back (a sqlite3 shell) that break the model's
 * limits are reported, never overflow a buffer. */
static void test_bad_rows(void **state)
{
	struct fx *f = *state;
	int64_t g = add_group(f->s, "2A");
	int64_t a = add_household(f->s, g, "A", NULL, "+84911111111");
	int64_t b = add_household(f->s, g, "B", NULL, "+84922222222");
	char sql[512];
	snprintf(sql, sizeof sql,
		 "INSERT INTO phones VALUES ('+8491234567890123456789', %lld,"
		 " 5);", (long long)a);
	raw_exec(f->path, sql);
	snprintf(sql, sizeof sql,
		 "WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1"
		 " FROM i WHERE x < 9) INSERT INTO phones SELECT"
		 " '+8493333333' || x, %lld, x FROM i;", (long long)b);
	raw_exec(f->path, sql);

	struct household h;
	assert_int_equal(store_household_get(f->s, a, &h), -EBADMSG);
	assert_int_equal(store_household_get(f->s, b, &h), -EBADMSG);
	char want[96];
	snprintf(want, sizeof want, "household %lld has a malformed phone or "
		 "more than 8 phones", (long long)b);
	assert_string_equal(store_errmsg(f->s), want);
	struct collect c = { 0 };
	assert_int_equal(store_household_list(f->s, NULL, collect_cb, &c),
			 -EBADMSG);
	assert_int_equal(c.n, 0);
	/* the store is fine otherwise */
	counts_equal(f->s, 1, 2, 12, 0);
	assert_int_equal(store_household_delete(f->s, a), 0);
	assert_int_equal(store_household_delete(f->s, b), 0);
	counts_equal(f->s, 1, 0, 0, 0);
}

/* ---- transactions ------------------------------------------------------- */

static void test_tx_nested(void **state)
{
	struct fx *f = *state;
	struct group_rec g;

	assert_int_equal(store_begin(f->s), 0);
	add_group(f->s, "A");
	assert_int_equal(store_begin(f->s), 0);
	add_group(f->s, "B");
	assert_int_equal(store_begin(f->s), 0);
	add_group(f->s, "C");
	assert_int_equal(store_commit(f->s), 0);   /* C into B's level */
	assert_int_equal(store_rollback(f->s), 0); /* undoes B and C */
	counts_equal(f->s, 1, 0, 0, 0);
	assert_int_equal(store_begin(f->s), 0);
	add_group(f->s, "D");
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_commit(f->s), 0);   /* outermost */

	/* committed: visible to another connection */
	char buf[64];
	assert_string_equal(raw_query(f->path,
				      "SELECT group_concat(code, ',') FROM "
				      "(SELECT code FROM groups ORDER BY code)",
				      buf, sizeof buf), "A,D");
	assert_int_equal(store_group_get_by_code(f->s, "B", &g), -ENOENT);
	assert_int_equal(store_group_get_by_code(f->s, "C", &g), -ENOENT);

	/* outer rollback undoes what inner levels committed */
	assert_int_equal(store_begin(f->s), 0);
	int64_t e = add_group(f->s, "E");
	assert_int_equal(store_begin(f->s), 0);
	add_household(f->s, e, "Hộ E", NULL, "+84911111111");
	assert_int_equal(store_commit(f->s), 0);
	counts_equal(f->s, 3, 1, 1, 0);
	/* uncommitted: another connection does not see it */
	assert_string_equal(raw_query(f->path, "SELECT count(*) FROM groups",
				      buf, sizeof buf), "2");
	assert_int_equal(store_rollback(f->s), 0);
	counts_equal(f->s, 2, 0, 0, 0);

	/* unbalanced calls are refused, not obeyed */
	FILE *devnull = fopen("/dev/null", "w");
	log_set_stream(devnull);
	assert_int_equal(store_commit(f->s), -EINVAL);
	assert_int_equal(store_rollback(f->s), -EINVAL);
	log_set_stream(NULL);
	fclose(devnull);

	/* the store still works in autocommit mode afterwards */
	add_group(f->s, "F");
	counts_equal(f->s, 3, 0, 0, 0);
}

/* A sqlite3 shell holding the write lock: -EBUSY quickly, no stall. */
static void test_busy(void **state)
{
	struct fx *f = *state;
	int64_t g = add_group(f->s, "2A");
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
			 SQLITE_OK);

	double t0 = now_s();
	assert_int_equal(store_group_insert(f->s, "3B", "x", false, NULL),
			 -EBUSY);
	assert_non_null(strstr(store_errmsg(f->s), "locked"));
	struct household h;
	hh_init(&h, g, "A", NULL, "+84911111111", NULL);
	assert_int_equal(store_household_insert(f->s, &h), -EBUSY);
	assert_int_equal(store_begin(f->s), -EBUSY);
	double t1 = now_s();
	assert_true(t1 - t0 < 2.5);
	/* readers are not blocked in WAL mode */
	counts_equal(f->s, 1, 0, 0, 0);

	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	/* the failed begin left no level open */
	assert_int_equal(store_household_insert(f->s, &h), 0);
	char buf[16];
	assert_string_equal(raw_query(f->path,
				      "SELECT count(*) FROM households", buf,
				      sizeof buf), "1");
}

/* The disk fills up during a caller's transaction (simulated with
 * RLIMIT_FSIZE in a child, so nothing else is affected). Either in the
 * middle (SQLite spills its cache and fails, rolling the whole transaction
 * back: until the caller unwinds with store_rollback nothing, not even a
 * lone write, reaches the file) or at COMMIT (store_commit rolls back and
 * closes the level). Both leave the file as it was. */
struct full_result {
	int open, fail, at_commit, stray, rollback, extra_rollback;
	int counts, after, closed_ok;
	int64_t groups, households;
	unsigned inserted;
};

static void full_child(const char *path, unsigned n, struct full_result *res)
{
	struct store *s = NULL;
	char err[512], note[4000];
	int64_t g = 0;

	signal(SIGXFSZ, SIG_IGN);
	log_set_stream(fopen("/dev/null", "w"));
	res->open = store_open(path, &s, err, sizeof err);
	if (res->open < 0)
		return;
	if (store_group_insert(s, "2A", "Nhóm 2A", false, &g) < 0)
		return;
	struct rlimit rl = { .rlim_cur = 64 * 1024,
			     .rlim_max = RLIM_INFINITY };
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		return;
	memset(note, 'x', sizeof note - 1);
	note[sizeof note - 1] = '\0';
	int r = store_begin(s);
	for (unsigned i = 0; r == 0 && i < n; i++) {
		struct household h = { .group_id = g, .name = "A",
				       .note = note };
		r = store_household_insert(s, &h);
		if (r == 0)
			res->inserted++;
	}
	if (r == 0) {
		res->at_commit = 1;
		res->fail = store_commit(s);
	} else {
		res->fail = r;
		/* inside the dead transaction: must not autocommit */
		res->stray = store_group_insert(s, "3B", "x", false, NULL);
		res->rollback = store_rollback(s);
	}
	/* the level is closed now either way */
	res->extra_rollback = store_rollback(s);
	struct store_counts c = { 0 };
	res->counts = store_counts(s, &c);
	res->groups = c.groups;
	res->households = c.households;
	rl.rlim_cur = RLIM_INFINITY;
	setrlimit(RLIMIT_FSIZE, &rl);
	struct household h = { .group_id = g, .name = "B" };
	res->after = store_household_insert(s, &h);
	store_close(s);
	res->closed_ok = 1;
}

static void disk_full(const char *path, unsigned n, struct full_result *res)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		full_child(path, n, res);
		ssize_t w = write(fds[1], res, sizeof *res);
		_exit(w == (ssize_t)sizeof *res ? 0 : 1);
	}
	close(fds[1]);
	ssize_t got = read(fds[0], res, sizeof *res);
	close(fds[0]);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(got, sizeof *res);

	assert_int_equal(res->open, 0);
	/* A real full disk is SQLITE_FULL (-ENOSPC). RLIMIT_FSIZE makes
	 * write() fail with EFBIG, which SQLite reports as an I/O error; we
	 * map it to -ENOSPC when SQLite still has the errno, but at COMMIT
	 * it has lost it by then (-EIO). */
	assert_true(res->fail == -ENOSPC || res->fail == -EIO);
	assert_int_equal(res->extra_rollback, -EINVAL);
	assert_int_equal(res->counts, 0);
	assert_int_equal(res->groups, 1);
	assert_int_equal(res->households, 0);
	assert_int_equal(res->after, 0);
	assert_true(res->closed_ok);

	/* the file holds exactly what was committed */
	char buf[32];
	assert_string_equal(raw_query(path,
				      "SELECT group_concat(name) FROM "
				      "households", buf, sizeof buf), "B");
	assert_string_equal(raw_query(path, "PRAGMA integrity_check", buf,
				      sizeof buf), "ok");
}

static void test_disk_full_mid_tx(void **state)
{
	struct fx *f = *state;
	struct full_result res = { 0 };
	disk_full(f->path, 5000, &res);
	assert_false(res.at_commit);
	assert_true(res.inserted > 0);
	assert_int_equal(res.stray, res.fail);
	assert_int_equal(res.rollback, 0);
}

static void test_disk_full_at_commit(void **state)
{
	struct fx *f = *state;
	struct full_result res = { 0 };
	disk_full(f->path, 50, &res);
	assert_true(res.at_commit);
	assert_int_equal(res.inserted, 50);
}

/* ---- migrations and errors at open -------------------------------------- */

/* The schema of version 1, exactly as loaxad 1 created it. */
static const char v1_ddl[] =
	"CREATE TABLE groups (id INTEGER PRIMARY KEY, code TEXT NOT NULL "
	"UNIQUE COLLATE NOCASE, name TEXT NOT NULL, from_config INTEGER NOT "
	"NULL DEFAULT 0, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT "
	"NULL);"
	"CREATE TABLE households (id INTEGER PRIMARY KEY, group_id INTEGER "
	"NOT NULL REFERENCES groups(id), name TEXT NOT NULL, address TEXT, "
	"zalo_user_id TEXT, messenger_psid TEXT, note TEXT, opted_out INTEGER "
	"NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL, updated_ms INTEGER "
	"NOT NULL);"
	"CREATE TABLE phones (e164 TEXT PRIMARY KEY, household_id INTEGER NOT "
	"NULL REFERENCES households(id) ON DELETE CASCADE, position INTEGER "
	"NOT NULL) WITHOUT ROWID;";

static const char v1_rows[] =
	"INSERT INTO groups VALUES (7, '2A', 'Nhóm 2A', 1, 10, 20);"
	"INSERT INTO households VALUES (17, 7, 'Nguyễn Văn An', '12 Lê Lợi', "
	"'z1', NULL, 'ghi chú', 0, 100, 200);"
	"INSERT INTO phones VALUES ('+84987654321', 17, 1);"
	"INSERT INTO phones VALUES ('+84912345678', 17, 0);"
	"PRAGMA user_version = 1;";

static void test_migrate_v1(void **state)
{
	struct fx *f = *state;
	char err[512], buf[64];
	raw_exec(f->path, v1_ddl);
	raw_exec(f->path, v1_rows);

	assert_int_equal(store_open(f->path, &f->s, err, sizeof err), 0);
	assert_int_equal(store_schema_version(f->s), STORE_SCHEMA_VERSION);
	counts_equal(f->s, 1, 1, 2, 0);

	struct group_rec g;
	assert_int_equal(store_group_get_by_code(f->s, "2a", &g), 0);
	assert_int_equal(g.id, 7);
	assert_string_equal(g.name, "Nhóm 2A");
	assert_true(g.from_config);
	assert_int_equal(g.households, 1);
	group_rec_clear(&g);

	struct household h;
	assert_int_equal(store_household_get(f->s, 17, &h), 0);
	assert_string_equal(h.group_code, "2A");
	assert_string_equal(h.name, "Nguyễn Văn An");
	assert_string_equal(h.address, "12 Lê Lợi");
	assert_string_equal(h.zalo_user_id, "z1");
	assert_null(h.messenger_psid);
	assert_string_equal(h.note, "ghi chú");
	assert_int_equal(h.created_ms, 100);
	assert_int_equal(h.updated_ms, 200);
	assert_int_equal(h.nphones, 2);
	assert_string_equal(h.phones[0], "+84912345678");
	assert_string_equal(h.phones[1], "+84987654321");
	household_clear(&h);

	struct collect c;
	assert_int_equal(list(f->s, (struct household_filter){
		.opted_out = -1, .q = "0987" }, &c), 1);
	assert_int_equal(c.ids[0], 17);

	/* new rows get fresh ids */
	struct household n;
	hh_init(&n, 7, "B", NULL, "+84911111111", NULL);
	assert_int_equal(store_household_insert(f->s, &n), 0);
	assert_int_equal(n.id, 18);

	f->s = store_close(f->s);
	assert_string_equal(raw_query(f->path, "PRAGMA journal_mode", buf,
				      sizeof buf), "wal");
	raw_query(f->path, "SELECT value FROM meta WHERE key='created_by'",
		  buf, sizeof buf);
	assert_memory_equal(buf, "loaxad", 6);
}

/* A migration that fails leaves the older database as it was. */
static void test_migrate_failure_keeps_old(void **state)
{
	struct fx *f = *state;
	char err[512], buf[64];
	raw_exec(f->path, v1_ddl);
	raw_exec(f->path, v1_rows);
	/* a stray table in the way of migration 2 */
	raw_exec(f->path, "CREATE TABLE meta (x);");

	assert_int_equal(store_open(f->path, &f->s, err, sizeof err), -EIO);
	assert_null(f->s);
	char want[PATH_MAX + 128];
	snprintf(want, sizeof want,
		 "cannot upgrade database %s to schema version 2 (it stays at "
		 "version 1): table meta already exists", f->path);
	assert_string_equal(err, want);
	assert_string_equal(raw_query(f->path, "PRAGMA user_version", buf,
				      sizeof buf), "1");
	raw_query(f->path,
		  "SELECT count(*) FROM sqlite_schema WHERE type='index'"
		  " AND name='households_group'", buf, sizeof buf);
	assert_string_equal(buf, "0");
	assert_string_equal(raw_query(f->path,
				      "SELECT count(*) FROM phones", buf,
				      sizeof buf), "2");
	/* and the lock was released: fixing the file makes it open */
	raw_exec(f->path, "DROP TABLE meta;");
	assert_int_equal(store_open(f->path, &f->s, err, sizeof err), 0);
	assert_int_equal(store_schema_version(f->s), STORE_SCHEMA_VERSION);
}

static void test_open_stale(void **state)
{
	struct fx *f = *state;
	char err[512], want[PATH_MAX + 128];
	raw_exec(f->path, "CREATE TABLE future (x); PRAGMA user_version = 99;");
	f->s = (struct store *)&err; /* must stay untouched */
	assert_int_equal(store_open(f->path, &f->s, err, sizeof err), -ESTALE);
	assert_ptr_equal(f->s, (struct store *)&err);
	f->s = NULL;
	snprintf(want, sizeof want,
		 "database %s has schema version 99, newer than this loaxad "
		 "(%d): upgrade loaxad", f->path, STORE_SCHEMA_VERSION);
	assert_string_equal(err, want);
}

static void test_open_garbage(void **state)
{
	struct fx *f = *state;
	char err[512], want[PATH_MAX + 128], junk[4096];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (char)(i * 7 + 3);
	FILE *fp = fopen(f->path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(junk, 1, sizeof junk, fp), sizeof junk);
	fclose(fp);

	assert_int_equal(store_open(f->path, &f->s, err, sizeof err),
			 -EBADMSG);
	assert_null(f->s);
	snprintf(want, sizeof want,
		 "%s is not a loaxa database or is corrupt (file is not a "
		 "database)", f->path);
	assert_string_equal(err, want);

	/* a text file that happens to be short */
	fp = fopen(f->path, "w");
	assert_non_null(fp);
	fputs("[groups]\n2A = Nhóm 2A\n", fp);
	fclose(fp);
	assert_int_equal(store_open(f->path, &f->s, err, sizeof err),
			 -EBADMSG);
	assert_string_equal(err, want);
}

static void test_open_foreign(void **state)
{
	struct fx *f = *state;
	char err[512], want[PATH_MAX + 128];
	raw_exec(f->path, "CREATE TABLE contacts (name TEXT);");
	assert_int_equal(store_open(f->path, &f->s, err, sizeof err),
			 -EBADMSG);
	snprintf(want, sizeof want,
		 "%s is not a loaxa database or is corrupt (it holds another "
		 "program's tables)", f->path);
	assert_string_equal(err, want);
	char buf[16];
	assert_string_equal(raw_query(f->path,
				      "SELECT count(*) FROM sqlite_schema",
				      buf, sizeof buf), "1");
}

static void test_open_lock(void **state)
{
	struct fx *f = *state;
	char err[512], want[PATH_MAX + 128];
	struct store *s2 = NULL;

	assert_int_equal(store_open(f->path, &s2, err, sizeof err), -EBUSY);
	assert_null(s2);
	snprintf(want, sizeof want,
		 "database %s is in use by another loaxad (pid %ld)", f->path,
		 (long)getpid());
	assert_string_equal(err, want);
	/* the refused open did not disturb the first store */
	add_group(f->s, "2A");

	f->s = store_close(f->s);
	assert_int_equal(store_open(f->path, &s2, err, sizeof err), 0);
	counts_equal(s2, 1, 0, 0, 0);
	store_close(s2);

	/* a NULL or zero-sized err buffer is fine */
	assert_int_equal(store_open(f->path, &f->s, NULL, 0), 0);
	assert_int_equal(store_open(f->path, &s2, err, 0), -EBUSY);
}

static void test_open_missing_dir(void **state)
{
	struct fx *f = *state;
	char err[512], path[PATH_MAX + 32], want[2 * PATH_MAX + 128];
	snprintf(path, sizeof path, "%s/nope/loaxa.db", f->dir);
	assert_int_equal(store_open(path, &f->s, err, sizeof err), -ENOENT);
	snprintf(want, sizeof want,
		 "cannot create database %s: directory %s/nope does not exist",
		 path, f->dir);
	assert_string_equal(err, want);

	assert_int_equal(store_open("", &f->s, err, sizeof err), -EINVAL);
	assert_int_equal(store_open(NULL, &f->s, err, sizeof err), -EINVAL);
	/* a directory where the file should be */
	assert_int_equal(store_open(f->dir, &f->s, err, sizeof err), -EISDIR);
	assert_null(f->s);
	char lock[sizeof f->dir + 8];
	snprintf(lock, sizeof lock, "%s.lock", f->dir);
	assert_int_equal(access(lock, F_OK), -1);
}

struct open_result {
	int r;
	char err[1024];
};

/* store_open as a user that permissions apply to. Root bypasses file
 * permissions, so as root a child drops to nobody first; returns false
 * when that is impossible (the caller skips). */
static bool open_unprivileged(const char *path, struct open_result *res)
{
	struct store *s = NULL;
	if (geteuid() != 0) {
		res->r = store_open(path, &s, res->err, sizeof res->err);
		store_close(s);
		return true;
	}
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 ||
		    setuid(NOBODY) < 0)
			_exit(77);
		struct open_result cr = { 0 };
		cr.r = store_open(path, &s, cr.err, sizeof cr.err);
		store_close(s);
		ssize_t n = write(fds[1], &cr, sizeof cr);
		_exit(n == (ssize_t)sizeof cr ? 0 : 1);
	}
	close(fds[1]);
	ssize_t n = read(fds[0], res, sizeof *res);
	close(fds[0]);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		return false;
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(n, sizeof *res);
	return true;
}

static void test_open_unwritable_dir(void **state)
{
	struct fx *f = *state;
	char dir[PATH_MAX + 8], path[PATH_MAX + 32], want[2 * PATH_MAX + 128];
	struct open_result res;

	snprintf(dir, sizeof dir, "%s/ro", f->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(chmod(f->dir, 0755), 0);
	if (geteuid() != 0)
		assert_int_equal(chmod(dir, 0555), 0);
	snprintf(path, sizeof path, "%s/loaxa.db", dir);

	if (!open_unprivileged(path, &res))
		skip();
	assert_int_equal(res.r, -EACCES);
	snprintf(want, sizeof want,
		 "cannot create database %s: directory %s is not writable: "
		 "Permission denied", path, dir);
	assert_string_equal(res.err, want);
	chmod(dir, 0755);
}

static void test_open_readonly_file(void **state)
{
	struct fx *f = *state;
	char dir[PATH_MAX + 8], path[PATH_MAX + 32], lock[PATH_MAX + 40];
	char err[512], want[PATH_MAX + 128];
	struct open_result res;

	/* a writable directory (ours, or nobody's when we are root) holding
	 * a good database that only its owner (root) may write */
	snprintf(dir, sizeof dir, "%s/rw", f->dir);
	snprintf(path, sizeof path, "%s/loaxa.db", dir);
	snprintf(lock, sizeof lock, "%s.lock", path);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(store_open(path, &f->s, err, sizeof err), 0);
	add_group(f->s, "2A");
	f->s = store_close(f->s);
	assert_int_equal(chmod(path, 0444), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(dir, NOBODY, NOBODY), 0);
		assert_int_equal(chown(lock, NOBODY, NOBODY), 0);
	}

	if (!open_unprivileged(path, &res))
		skip();
	assert_int_equal(res.r, -EROFS);
	snprintf(want, sizeof want,
		 "database %s is read-only (check the permissions and owner "
		 "of the file)", path);
	assert_string_equal(res.err, want);
	chmod(path, 0644);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_fresh, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reopen_persists, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_group_crud, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_group_list, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_group_delete, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_household_crud, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_household_phone_conflict,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_household_update, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_household_delete, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_household_invalid, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_list_filters, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_list_q, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_paging, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_list_reentry, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_list_large, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_rows, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tx_nested, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full_mid_tx,
						setup_dir, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full_at_commit,
						setup_dir, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v1, setup_dir,
						teardown),
		cmocka_unit_test_setup_teardown(test_migrate_failure_keeps_old,
						setup_dir, teardown),
		cmocka_unit_test_setup_teardown(test_open_stale, setup_dir,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_garbage, setup_dir,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_foreign, setup_dir,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_lock, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_missing_dir,
						setup_dir, teardown),
		cmocka_unit_test_setup_teardown(test_open_unwritable_dir,
						setup_dir, teardown),
		cmocka_unit_test_setup_teardown(test_open_readonly_file,
						setup_dir, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
