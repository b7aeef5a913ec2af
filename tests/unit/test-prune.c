/* test-prune: retention over a real SQLite file. A finished broadcast with
 * deliveries, attempts, receipts and replies is pruned in small steps:
 * its summary holds the counts it had, its rows are gone, the replies and
 * the hook outbox stay, newer and unfinished broadcasts are untouched, old
 * unmatched receipts and expired sessions go, and running it again
 * changes nothing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "loaxa/auth.h"
#include "loaxa/prune.h"
#include "loaxa/store.h"
#include "loaxa/users.h"

#define CUTOFF 5000
#define NOW 10000

struct fx {
	char dir[64], db[128];
	struct store *s;
	sqlite3 *raw;           /* a second connection, to count rows */
	int64_t g1, g2;
	int64_t hh[10];
	int64_t b1, b2, b3;     /* old finished, new finished, unfinished */
};

static int64_t add_hh(struct store *s, int64_t g, const char *name,
		      const char *phone, bool opted_out)
{
	struct household h = { .group_id = g, .opted_out = opted_out,
			       .created_ms = 1, .updated_ms = 1, .nphones = 1 };
	h.name = strdup(name);
	snprintf(h.phones[0], sizeof h.phones[0], "%.12s", phone);
	assert_int_equal(store_household_insert(s, &h), 0);
	int64_t id = h.id;
	household_clear(&h);
	return id;
}

static int64_t count(struct fx *f, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(f->raw, sql, -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static int64_t countf(struct fx *f, const char *fmt, int64_t id)
{
	char sql[512];
	snprintf(sql, sizeof sql, fmt, (long long)id);
	return count(f, sql);
}

struct due_ctx {
	int64_t ids[32];
	size_t n;
};

static int due_cb(const struct delivery *d, void *ud)
{
	struct due_ctx *c = ud;
	if (c->n < 32)
		c->ids[c->n++] = d->id;
	return 0;
}

static struct due_ctx due(struct fx *f, int64_t wave_id)
{
	struct due_ctx dc = { 0 };
	assert_int_equal(store_delivery_due(f->s, wave_id, 100000, 32, due_cb,
					    &dc), 0);
	return dc;
}

/* One attempt of delivery id on channel ch ending in status st. */
static void attempt(struct fx *f, int64_t id, const char *ch,
		    enum delivery_status st, const char *msg_id, int64_t now)
{
	assert_int_equal(store_delivery_mark_sending(f->s, id, 0, ch, "rcpt",
						     now), 0);
	struct delivery_update u = { .id = id, .status = st, .attempts = 1,
				     .msg_id = msg_id, .sms_encoding = -1,
				     .sms_segments = -1, .now_ms = now + 10,
				     .next_at_ms = now + 20, .channel = ch,
				     .outcome = 0 };
	if (st == DS_FAILED)
		u.code = "-108";
	assert_int_equal(store_delivery_update(f->s, &u), 0);
}

static void receipt(struct fx *f, enum receipt_kind k, const char *msg_id,
		    const char *tracking, int64_t now)
{
	struct receipt_in rc = { .kind = k, .provider = 1, .msg_id = msg_id,
				 .tracking_id = tracking, .now_ms = now };
	enum receipt_outcome o;
	int64_t n;
	assert_int_equal(store_receipt_apply(f->s, &rc, &o, &n), 0);
}

static void reply(struct fx *f, int i, const char *msg_id, const char *text,
		  int rsvp, int64_t now)
{
	char phone[16];
	snprintf(phone, sizeof phone, "+8491200000%d", i);
	struct reply_in r = { .provider = 3, .sender = phone,
			      .msg_id = msg_id, .text = text, .rsvp = rsvp,
			      .now_ms = now };
	int64_t id, hh, b;
	assert_int_equal(store_reply_add(f->s, &r, &id, &hh, &b), 0);
	assert_true(id > 0);
}

static int64_t make_broadcast(struct fx *f, enum bcast_kind kind, bool all,
			      int64_t group, int64_t send_at,
			      struct wave *w)
{
	struct broadcast b = { .kind = kind, .state = BS_ACTIVE,
			       .starts_ms = kind == BK_MEETING ? 50000 : 0,
			       .send_at_ms = send_at, .expires_ms = 50000,
			       .created_ms = send_at, .all_groups = all };
	b.title = strdup("Họp tổ");
	if (!all)
		b.group_ids[b.ngroups++] = group;
	*w = (struct wave){ .seq = 0, .send_at_ms = send_at,
			    .expires_ms = 50000 };
	int64_t existing = 0;
	assert_int_equal(store_broadcast_insert(f->s, &b, w, 1, &existing),
			 0);
	int64_t id = b.id;
	broadcast_clear(&b);
	bool done = false;
	assert_int_equal(store_wave_materialise(f->s, w, all, false, 100,
						send_at, &done), 0);
	assert_true(done);
	return id;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	strcpy(f->dir, "/tmp/loaxa-test-prune.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof f->db, "%s/loaxa.db", f->dir);
	char err[256];
	assert_int_equal(store_open(f->db, &f->s, err, sizeof err), 0);
	assert_int_equal(sqlite3_open_v2(f->db, &f->raw, SQLITE_OPEN_READONLY,
					 NULL), SQLITE_OK);
	store_set_hook_enabled(f->s, true);
	assert_int_equal(store_group_insert(f->s, "2A", "Nhóm 2A", false,
					    &f->g1), 0);
	assert_int_equal(store_group_insert(f->s, "2B", "Nhóm 2B", false,
					    &f->g2), 0);
	for (int i = 0; i < 10; i++) {
		char name[16], phone[16];
		snprintf(name, sizeof name, "Hộ %d", i);
		snprintf(phone, sizeof phone, "+8491200000%d", i);
		/* 0-5 in 2A (3 opted out), 6-9 in 2B */
		f->hh[i] = add_hh(f->s, i < 6 ? f->g1 : f->g2, name, phone,
				  i == 3);
	}

	/* b1: a meeting to every group, finished at 2000. Its deliveries
	 * in household order: hh 0 1 2 4 5 6 7 8 9 (3 skipped). */
	struct wave w;
	f->b1 = make_broadcast(f, BK_MEETING, true, 0, 1000, &w);
	struct due_ctx dc = due(f, w.id);
	assert_int_equal(dc.n, 9);
	attempt(f, dc.ids[0], "zns", DS_SENT, "m0", 1100);
	receipt(f, RK_DELIVERED, "m0", NULL, 1200);
	receipt(f, RK_READ, "m0", NULL, 1250);
	attempt(f, dc.ids[1], "zns", DS_QUEUED, NULL, 1100);  /* retried */
	attempt(f, dc.ids[1], "esms", DS_SENT, "m1", 1150);
	char tr[32];
	snprintf(tr, sizeof tr, "loaxa-%lld", (long long)dc.ids[1]);
	receipt(f, RK_DELIVERED, NULL, tr, 1300);
	attempt(f, dc.ids[2], "zns", DS_FAILED, NULL, 1100);
	attempt(f, dc.ids[3], "zns", DS_SENT, "m3", 1100); /* unconfirmed */
	attempt(f, dc.ids[4], "esms", DS_SENT, "m4", 1100);
	receipt(f, RK_DELIVERED, "m4", NULL, 1300);
	attempt(f, dc.ids[5], "zns", DS_SENT, "m5", 1100);  /* hh 6, 2B */
	/* the rest never went: cancelled */
	assert_int_equal(store_broadcast_cancel_queued(f->s, f->b1, 1900), 3);
	assert_int_equal(store_broadcast_set_state(f->s, f->b1, BS_DONE,
						   2000), 0);
	/* replies: yes from hh 0, no from hh 6, a word from hh 1 */
	reply(f, 0, "r0", "Có", 1, 1400);
	reply(f, 5, "r1", "2", 2, 1400);
	reply(f, 1, "r2", "đường hỏng", 0, 1450);
	/* receipts matching nothing: an old one and a new one */
	receipt(f, RK_DELIVERED, "nope-old", NULL, 1500);
	receipt(f, RK_DELIVERED, "nope-new", NULL, 8000);

	/* b2: a notice to 2B finished at 9000, after the cutoff */
	f->b2 = make_broadcast(f, BK_NOTICE, false, f->g2, 3000, &w);
	dc = due(f, w.id);
	assert_int_equal(dc.n, 4);
	attempt(f, dc.ids[0], "zns", DS_SENT, "n0", 3100);
	receipt(f, RK_DELIVERED, "n0", NULL, 3200);
	assert_int_equal(store_broadcast_cancel_queued(f->s, f->b2, 8900), 3);
	assert_int_equal(store_broadcast_set_state(f->s, f->b2, BS_DONE,
						   9000), 0);

	/* b3: sent long ago and still active (never finished) */
	f->b3 = make_broadcast(f, BK_NOTICE, false, f->g1, 500, &w);
	dc = due(f, w.id);
	attempt(f, dc.ids[0], "zns", DS_SENT, "o0", 600);
	receipt(f, RK_READ, "o0", NULL, 700);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	sqlite3_close(f->raw);
	store_close(f->s);
	char cmd[160];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* ---- the counts the API shows, read before pruning ---- */

struct cnt_ctx {
	json_t *o;
	bool nested;
};

static int cnt_cb(const char *key, enum delivery_status st, int64_t n,
		  void *ud)
{
	struct cnt_ctx *c = ud;
	json_t *o = c->o;
	if (c->nested) {
		o = json_object_get(c->o, key);
		if (!o) {
			o = json_object();
			json_object_set_new(c->o, key, o);
		}
	}
	json_object_set_new(o, delivery_status_name(st), json_integer(n));
	return 0;
}

static json_t *live_counts(struct fx *f, int64_t id, enum count_by by)
{
	struct cnt_ctx c = { .o = json_object(),
			     .nested = by != COUNT_BY_STATUS };
	assert_int_equal(store_broadcast_counts(f->s, id, by, cnt_cb, &c), 0);
	return c.o;
}

static json_t *summary_of(struct fx *f, int64_t id)
{
	char *text = NULL;
	assert_int_equal(store_prune_summary(f->s, id, &text), 0);
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		fail_msg("summary is not JSON: %s: %s", e.text, text);
	free(text);
	return j;
}

static int64_t member(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);
	if (path2)
		v = json_object_get(v, path2);
	if (!json_is_integer(v))
		fail_msg("%s.%s missing", path1, path2 ? path2 : "");
	return json_integer_value(v);
}

/* Prune to the end in steps of max_rows; returns the number of steps and
 * checks that none deleted more than max_rows rows. */
static int prune_all(struct fx *f, unsigned max_rows, struct prune_stats *st)
{
	bool more = true;
	int steps = 0;
	while (more) {
		struct prune_stats before = *st;
		assert_int_equal(store_prune_step(f->s, CUTOFF, max_rows, NOW,
						  st, &more), 0);
		int64_t n = st->unmatched_receipts - before.unmatched_receipts;
		if (st->broadcast_id && st->broadcast_id == before.broadcast_id)
			n += st->deliveries - before.deliveries +
			     st->attempts - before.attempts +
			     st->receipts - before.receipts;
		else if (st->broadcast_id)
			n += st->deliveries + st->attempts + st->receipts;
		assert_true(n >= 0 && n <= (int64_t)max_rows);
		assert_true(++steps < 1000);
	}
	return steps;
}

/* ---- tests ---- */

static void test_prune_in_small_steps(void **state)
{
	struct fx *f = *state;
	/* what the API showed for b1 */
	json_t *counts = live_counts(f, f->b1, COUNT_BY_STATUS);
	json_t *bg = live_counts(f, f->b1, COUNT_BY_GROUP);
	json_t *bch = live_counts(f, f->b1, COUNT_BY_CHANNEL);
	int64_t unc = 0, yes = 0, no = 0, started = 0;
	assert_int_equal(store_broadcast_unconfirmed(f->s, f->b1, NOW, &unc),
			 0);
	assert_int_equal(store_rsvp_counts(f->s, f->b1, &yes, &no), 0);
	assert_int_equal(store_broadcast_started(f->s, f->b1, &started), 0);
	/* the figures themselves, so that the test is not circular */
	assert_int_equal(member(counts, "read", NULL), 1);
	assert_int_equal(member(counts, "delivered", NULL), 2);
	assert_int_equal(member(counts, "sent", NULL), 2);
	assert_int_equal(member(counts, "failed", NULL), 1);
	assert_int_equal(member(counts, "cancelled", NULL), 3);
	assert_int_equal(member(counts, "skipped", NULL), 1);
	assert_int_equal(unc, 2);
	assert_int_equal(yes, 1);
	assert_int_equal(no, 1);

	const char *other_attempts =
		"SELECT count(*) FROM attempts a JOIN deliveries d"
		" ON d.id = a.delivery_id WHERE d.broadcast_id != %lld";
	const char *other_receipts =
		"SELECT count(*) FROM receipts r JOIN deliveries d"
		" ON d.id = r.delivery_id WHERE d.broadcast_id != %lld";
	int64_t keep_attempts = countf(f, other_attempts, f->b1);
	int64_t keep_receipts = countf(f, other_receipts, f->b1);
	int64_t b1_attempts = count(f, "SELECT count(*) FROM attempts") -
			      keep_attempts;
	int64_t b1_receipts = countf(f, "SELECT count(*) FROM receipts r"
				     " JOIN deliveries d ON d.id ="
				     " r.delivery_id WHERE d.broadcast_id ="
				     " %lld", f->b1);
	assert_int_equal(b1_attempts, 7);
	assert_int_equal(b1_receipts, 4);
	int64_t outbox = count(f, "SELECT count(*) FROM hook_outbox");
	int64_t replies = count(f, "SELECT count(*) FROM replies");
	assert_true(outbox > 0);
	assert_int_equal(replies, 3);
	int64_t b2_rows = countf(f, "SELECT count(*) FROM deliveries"
				 " WHERE broadcast_id = %lld", f->b2);
	int64_t b3_rows = countf(f, "SELECT count(*) FROM deliveries"
				 " WHERE broadcast_id = %lld", f->b3);

	/* no summary before */
	char *text = NULL;
	assert_int_equal(store_prune_summary(f->s, f->b1, &text), -ENOENT);
	assert_int_equal(store_prune_summary(f->s, 9999, &text), -ENOENT);
	assert_null(text);

	/* first step: the summary only */
	struct prune_stats st = { 0 };
	bool more = false;
	assert_int_equal(store_prune_step(f->s, CUTOFF, 3, NOW, &st, &more),
			 0);
	assert_true(more);
	assert_int_equal(st.broadcast_id, f->b1);
	assert_int_equal(st.deliveries + st.attempts + st.receipts, 0);
	assert_int_equal(countf(f, "SELECT count(*) FROM deliveries WHERE"
				" broadcast_id = %lld", f->b1), 10);
	json_t *early = summary_of(f, f->b1);   /* shown while pruning */

	int steps = prune_all(f, 3, &st) + 1;
	/* 10 deliveries + 7 attempts + 4 receipts = 21 rows in steps of 3,
	 * the summary, 1 unmatched receipt, and the last look */
	assert_true(steps >= 9);
	assert_int_equal(st.broadcasts, 1);
	assert_int_equal(st.unmatched_receipts, 1);
	assert_int_equal(st.broadcast_id, 0);

	/* rows gone, the rest kept */
	assert_int_equal(countf(f, "SELECT count(*) FROM deliveries WHERE"
				" broadcast_id = %lld", f->b1), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM attempts"),
			 keep_attempts);
	assert_int_equal(count(f, "SELECT count(*) FROM receipts WHERE"
			       " delivery_id IS NOT NULL"), keep_receipts);
	assert_int_equal(count(f, "SELECT count(*) FROM receipts WHERE"
			       " delivery_id IS NULL"), 1);   /* the new one */
	assert_int_equal(count(f, "SELECT count(*) FROM hook_outbox"),
			 outbox);
	assert_int_equal(count(f, "SELECT count(*) FROM replies"), replies);
	assert_int_equal(countf(f, "SELECT count(*) FROM deliveries WHERE"
				" broadcast_id = %lld", f->b2), b2_rows);
	assert_int_equal(countf(f, "SELECT count(*) FROM deliveries WHERE"
				" broadcast_id = %lld", f->b3), b3_rows);
	assert_int_equal(countf(f, "SELECT count(*) FROM waves WHERE"
				" broadcast_id = %lld", f->b1), 1);
	assert_int_equal(countf(f, "SELECT pruned_ms FROM broadcasts WHERE"
				" id = %lld", f->b1), NOW);
	assert_int_equal(countf(f, "SELECT pruned_ms IS NULL FROM broadcasts"
				" WHERE id = %lld", f->b2), 1);
	assert_int_equal(store_prune_summary(f->s, f->b2, &text), -ENOENT);
	assert_int_equal(store_prune_summary(f->s, f->b3, &text), -ENOENT);
	/* the replies still count */
	int64_t y2 = 0, n2 = 0;
	assert_int_equal(store_rsvp_counts(f->s, f->b1, &y2, &n2), 0);
	assert_int_equal(y2, 1);
	assert_int_equal(n2, 1);

	/* the summary holds what the API showed */
	json_t *sum = summary_of(f, f->b1);
	assert_true(json_equal(sum, early));
	json_t *zero = json_object();
	for (int k = 0; k < DS_MAX; k++)
		json_object_set_new(zero, delivery_status_name(k),
				    json_integer(0));
	json_object_update(zero, counts);
	assert_true(json_equal(json_object_get(sum, "counts"), zero));
	assert_true(json_equal(json_object_get(sum, "by_group"), bg));
	assert_true(json_equal(json_object_get(sum, "by_channel"), bch));
	assert_int_equal(member(json_object_get(sum, "by_group"), "2B",
				"sent"), 1);
	assert_int_equal(member(sum, "unconfirmed", NULL), unc);
	assert_int_equal(member(sum, "rsvp", "yes"), 1);
	assert_int_equal(member(sum, "rsvp", "no"), 1);
	assert_int_equal(member(sum, "started_ms", NULL), started);
	assert_int_equal(member(sum, "progress", "total"), 10);
	assert_int_equal(member(sum, "progress", "final"), 10);
	assert_true(json_real_value(json_object_get(
		json_object_get(sum, "progress"), "percent")) == 100.0);
	assert_int_equal(member(sum, "pruned_ms", NULL), NOW);

	/* again: nothing to do, nothing changes */
	struct prune_stats st2 = { 0 };
	assert_int_equal(store_prune_step(f->s, CUTOFF, 3, NOW, &st2, &more),
			 0);
	assert_false(more);
	assert_int_equal(st2.broadcasts + st2.unmatched_receipts +
			 st2.sessions + st2.deliveries, 0);
	json_t *again = summary_of(f, f->b1);
	assert_true(json_equal(again, sum));

	/* later, b2's turn comes; b3 (unfinished) never */
	struct prune_stats st3 = { 0 };
	more = true;
	while (more)
		assert_int_equal(store_prune_step(f->s, 100000, 1000, 100000,
						  &st3, &more), 0);
	assert_int_equal(st3.broadcasts, 1);
	assert_int_equal(countf(f, "SELECT count(*) FROM deliveries WHERE"
				" broadcast_id = %lld", f->b2), 0);
	assert_int_equal(countf(f, "SELECT count(*) FROM deliveries WHERE"
				" broadcast_id = %lld", f->b3), b3_rows);
	json_t *s2 = summary_of(f, f->b2);
	assert_null(json_object_get(s2, "rsvp"));  /* a notice */
	assert_int_equal(member(s2, "counts", "delivered"), 1);
	assert_int_equal(member(s2, "counts", "cancelled"), 3);
	assert_int_equal(member(s2, "unconfirmed", NULL), 0);

	json_decref(s2);
	json_decref(again);
	json_decref(zero);
	json_decref(sum);
	json_decref(early);
	json_decref(counts);
	json_decref(bg);
	json_decref(bch);
}

/* Stopped half way (a restart): the summary is not made again from what
 * is left, and the next run finishes the job. */
static void test_interrupted(void **state)
{
	struct fx *f = *state;
	struct prune_stats st = { 0 };
	bool more;
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_prune_step(f->s, CUTOFF, 2, NOW, &st,
						  &more), 0);
	assert_true(more);
	assert_int_equal(st.deliveries + st.attempts + st.receipts, 4);
	json_t *first = summary_of(f, f->b1);
	assert_int_equal(countf(f, "SELECT pruned_ms IS NULL FROM broadcasts"
				" WHERE id = %lld", f->b1), 1);

	struct prune_stats st2 = { 0 };
	prune_all(f, 2000, &st2);
	assert_int_equal(st2.broadcasts, 1);
	assert_int_equal(st2.broadcast_id, 0);
	json_t *after = summary_of(f, f->b1);
	assert_true(json_equal(first, after));
	assert_int_equal(member(after, "counts", "cancelled"), 3);
	assert_int_equal(countf(f, "SELECT count(*) FROM deliveries WHERE"
				" broadcast_id = %lld", f->b1), 0);
	json_decref(first);
	json_decref(after);
}

/* A broadcast retried after it finished is active again: left alone. */
static void test_reopened_left_alone(void **state)
{
	struct fx *f = *state;
	assert_int_equal(store_broadcast_set_state(f->s, f->b1, BS_ACTIVE,
						   2500), 0);
	struct prune_stats st = { 0 };
	prune_all(f, 100, &st);
	assert_int_equal(st.broadcasts, 0);
	assert_int_equal(countf(f, "SELECT count(*) FROM deliveries WHERE"
				" broadcast_id = %lld", f->b1), 10);
	char *text = NULL;
	assert_int_equal(store_prune_summary(f->s, f->b1, &text), -ENOENT);
}

static void test_sessions(void **state)
{
	struct fx *f = *state;
	struct user u = { .role = ROLE_ADMIN, .unix_uid = -1 };
	snprintf(u.name, sizeof u.name, "lan");
	int64_t uid = 0;
	assert_int_equal(store_user_add(f->s, &u, 1, &uid), 0);
	char d1[AUTH_DIGEST_HEX], d2[AUTH_DIGEST_HEX];
	memset(d1, 'a', sizeof d1 - 1);
	d1[sizeof d1 - 1] = '\0';
	memset(d2, 'b', sizeof d2 - 1);
	d2[sizeof d2 - 1] = '\0';
	assert_int_equal(store_session_add(f->s, d1, uid, "c1", "127.0.0.1",
					   1, NOW - 1), 0);
	assert_int_equal(store_session_add(f->s, d2, uid, "c2", "127.0.0.1",
					   1, NOW + 1000), 0);
	struct prune_stats st = { 0 };
	prune_all(f, 2000, &st);
	assert_int_equal(st.sessions, 1);
	assert_int_equal(count(f, "SELECT count(*) FROM sessions"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM sessions WHERE hash"
			       " LIKE 'b%'"), 1);
}

/* The oldest finished broadcast is found through the partial index, not
 * by reading every broadcast. */
static void test_query_plan(void **state)
{
	struct fx *f = *state;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(f->raw,
		"EXPLAIN QUERY PLAN SELECT id, summary IS NOT NULL FROM"
		" broadcasts WHERE finished_ms > 0 AND pruned_ms IS NULL"
		" AND finished_ms < 5000 AND state IN (3, 4)"
		" ORDER BY finished_ms, id LIMIT 1", -1, &st, NULL),
		SQLITE_OK);
	bool index = false;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 3);
		if (d && strstr(d, "broadcasts_finished"))
			index = true;
	}
	sqlite3_finalize(st);
	assert_true(index);
}

static void test_bad_args(void **state)
{
	struct fx *f = *state;
	bool more = true;
	struct prune_stats st = { 0 };
	/* max_rows 0 still moves on */
	assert_int_equal(store_prune_step(f->s, CUTOFF, 0, NOW, &st, &more),
			 0);
	assert_true(more);
	assert_int_equal(store_prune_step(f->s, CUTOFF, 0, NOW, &st, &more),
			 0);
	assert_int_equal(st.deliveries + st.attempts + st.receipts, 1);
	/* inside a caller's transaction it composes (a savepoint) */
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_prune_step(f->s, CUTOFF, 5, NOW, &st, &more),
			 0);
	assert_int_equal(store_rollback(f->s), 0);
	/* 20 deliveries and 9 attempts, less the one deleted: the
	 * rollback undid the other 5 */
	assert_int_equal(count(f, "SELECT count(*) FROM attempts") +
			 count(f, "SELECT count(*) FROM deliveries"), 28);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prune_in_small_steps,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reopened_left_alone,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sessions, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_query_plan, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
