/* test-broadcast-store: broadcasts, waves and deliveries over a real SQLite
 * file: materialisation in chunks, skipped opt-outs, reminder waves, the
 * due queue, crash recovery, cancel, requeue, counts, tokens; the queue
 * depth and oldest_ms, and the counts by group and channel, kept right
 * across rollbacks and other connections' writes. */
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
#include <sqlite3.h>

#include "loaxa/channel.h"
#include "loaxa/log.h"
#include "loaxa/store.h"

struct fx {
	char dir[64], db[128];
	struct store *s;
	int64_t g1, g2;
	int64_t hh[10];
};

static int64_t add_hh(struct store *s, int64_t g, const char *name,
		      const char *phone, bool opted_out)
{
	struct household h = { .group_id = g, .opted_out = opted_out,
			       .created_ms = 1, .updated_ms = 1, .nphones = 1 };
	h.name = strdup(name);
	snprintf(h.phones[0], sizeof h.phones[0], "%s", phone);
	assert_int_equal(store_household_insert(s, &h), 0);
	int64_t id = h.id;
	household_clear(&h);
	return id;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/loaxa-test-bs.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof f->db, "%s/loaxa.db", f->dir);
	char err[256];
	assert_int_equal(store_open(f->db, &f->s, err, sizeof err), 0);
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
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->s);
	char cmd[160];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static int64_t make_broadcast(struct fx *f, bool all, const char *key,
			      struct wave *waves, size_t nwaves)
{
	struct broadcast b = { .kind = BK_MEETING, .state = BS_SCHEDULED,
			       .starts_ms = 10000, .send_at_ms = 1000,
			       .expires_ms = 10000, .created_ms = 1,
			       .all_groups = all };
	b.title = strdup("Họp");
	if (key)
		b.idem_key = strdup(key);
	if (!all) {
		b.group_ids[b.ngroups++] = f->g1;
	}
	b.nreminders = nwaves - 1;
	for (size_t i = 1; i < nwaves; i++)
		b.reminder_ms[i - 1] = 1000 * (int64_t)i;
	int64_t existing = 0;
	int r = store_broadcast_insert(f->s, &b, waves, nwaves, &existing);
	int64_t id = r == 0 ? b.id : -existing;
	broadcast_clear(&b);
	return id;
}

struct cnt {
	int64_t n[DS_MAX];
};

static int cnt_cb(const char *key, enum delivery_status st, int64_t n,
		  void *ud)
{
	(void)key;
	((struct cnt *)ud)->n[st] += n;
	return 0;
}

static struct cnt counts(struct fx *f, int64_t id)
{
	struct cnt c = { 0 };
	assert_int_equal(store_broadcast_counts(f->s, id, COUNT_BY_STATUS,
						cnt_cb, &c), 0);
	return c;
}

static void test_insert_get_idem(void **state)
{
	struct fx *f = *state;
	struct wave w[2] = { { .seq = 0, .send_at_ms = 1000,
			       .expires_ms = 10000 },
			     { .seq = 1, .send_at_ms = 9000,
			       .expires_ms = 10000 } };
	int64_t id = make_broadcast(f, false, "k1", w, 2);
	assert_true(id > 0);
	assert_true(w[0].id > 0 && w[1].id > w[0].id);
	struct broadcast b = { 0 };
	assert_int_equal(store_broadcast_get(f->s, id, &b), 0);
	assert_string_equal(b.title, "Họp");
	assert_int_equal(b.ngroups, 1);
	assert_int_equal(b.group_ids[0], f->g1);
	assert_int_equal(b.nreminders, 1);
	assert_int_equal(b.reminder_ms[0], 1000);
	assert_string_equal(b.idem_key, "k1");
	broadcast_clear(&b);
	/* the same key: -EEXIST with the first id */
	struct wave w2[1] = { { .seq = 0, .send_at_ms = 1000,
				.expires_ms = 10000 } };
	assert_int_equal(make_broadcast(f, false, "k1", w2, 1), -id);
	assert_int_equal(store_broadcast_get(f->s, id + 1, &b), -ENOENT);
}

static void test_materialise_chunks(void **state)
{
	struct fx *f = *state;
	struct wave w[1] = { { .seq = 0, .send_at_ms = 1000,
			       .expires_ms = 10000 } };
	int64_t id = make_broadcast(f, true, NULL, w, 1);
	bool done = false;
	int rounds = 0;
	while (!done) {
		assert_int_equal(store_wave_materialise(f->s, &w[0], true,
							false, 3, 50, &done),
				 0);
		rounds++;
		assert_true(rounds < 10);
	}
	assert_int_equal(rounds, 4);  /* 3+3+3+1 */
	assert_int_equal(w[0].total, 10);
	assert_int_equal(w[0].state, WS_READY);
	struct cnt c = counts(f, id);
	assert_int_equal(c.n[DS_QUEUED], 9);
	assert_int_equal(c.n[DS_SKIPPED], 1);  /* the opted-out one */
	/* again: nothing more */
	assert_int_equal(store_wave_materialise(f->s, &w[0], true, false, 3,
						50, &done), 0);
	assert_true(done);
	assert_int_equal(w[0].total, 10);
}

struct due_ctx {
	int64_t ids[32];
	char phones[32][16];
	size_t n;
};

static int due_cb(const struct delivery *d, void *ud)
{
	struct due_ctx *c = ud;
	c->ids[c->n] = d->id;
	snprintf(c->phones[c->n], sizeof c->phones[0], "%s",
		 d->phone ? d->phone : "");
	c->n++;
	return 0;
}

static void test_groups_reminder_due_recover(void **state)
{
	struct fx *f = *state;
	struct wave w[2] = { { .seq = 0, .send_at_ms = 1000,
			       .expires_ms = 10000 },
			     { .seq = 1, .send_at_ms = 9000,
			       .expires_ms = 10000 } };
	int64_t id = make_broadcast(f, false, NULL, w, 2);
	bool done;
	assert_int_equal(store_wave_materialise(f->s, &w[0], false, false,
						100, 50, &done), 0);
	assert_true(done);
	assert_int_equal(w[0].total, 6);  /* group 2A only */

	struct due_ctx dc = { 0 };
	assert_int_equal(store_delivery_due(f->s, w[0].id, 500, 32, due_cb,
					    &dc), 0);
	assert_int_equal(dc.n, 0);  /* not yet due: next_at = send_at */
	assert_int_equal(store_delivery_due(f->s, w[0].id, 1000, 32, due_cb,
					    &dc), 0);
	assert_int_equal(dc.n, 5);  /* the opted-out one is skipped */
	assert_string_equal(dc.phones[0], "+84912000000");

	/* one sent, one sending when the "crash" comes */
	assert_int_equal(store_delivery_mark_sending(f->s, dc.ids[0], 0, "zns",
						     "+84912000000", 1100), 0);
	struct delivery_update u = { .id = dc.ids[0], .status = DS_SENT,
				     .attempts = 1, .msg_id = "m1",
				     .code = "0", .message = "Success",
				     .sms_encoding = -1, .now_ms = 1200,
				     .channel = "zns", .http_status = 200,
				     .outcome = 0, .latency_ms = 5 };
	assert_int_equal(store_delivery_update(f->s, &u), 0);
	assert_int_equal(store_delivery_mark_sending(f->s, dc.ids[1], 0, "zns",
						     "+84912000001", 1100), 0);
	/* a delivery no longer queued cannot be marked again */
	assert_int_equal(store_delivery_mark_sending(f->s, dc.ids[0], 0, "zns",
						     "x", 1100), -ESTALE);
	bool busy;
	assert_int_equal(store_wave_busy(f->s, w[0].id, &busy), 0);
	assert_true(busy);

	assert_int_equal(store_delivery_recover(f->s, 2000), 1);
	struct cnt c = counts(f, id);
	assert_int_equal(c.n[DS_SENT], 1);
	assert_int_equal(c.n[DS_SENDING], 0);
	assert_int_equal(c.n[DS_QUEUED], 4);

	/* the reminder goes to the first wave's households, as they are now:
	 * opt one more out first */
	assert_int_equal(store_household_set_opted_out(f->s, f->hh[5], true,
						       3), 0);
	assert_int_equal(store_wave_materialise(f->s, &w[1], false, false,
						100, 50, &done), 0);
	assert_int_equal(w[1].total, 6);
	c = counts(f, id);
	assert_int_equal(c.n[DS_SKIPPED], 1 + 2);

	/* expiry and cancel */
	assert_int_equal(store_wave_expire(f->s, w[1].id, 10000), 4);
	assert_int_equal(store_broadcast_cancel_queued(f->s, id, 10001), 4);
	c = counts(f, id);
	assert_int_equal(c.n[DS_EXPIRED], 4);
	assert_int_equal(c.n[DS_CANCELLED], 4);
	assert_int_equal(c.n[DS_QUEUED], 0);
	assert_int_equal(store_wave_busy(f->s, w[0].id, &busy), 0);
	assert_false(busy);
}

struct row_ctx {
	int n;
	bool dup;
	char code[16];
	enum delivery_status status;
};

static int row_cb(const struct delivery_row *r, void *ud)
{
	struct row_ctx *c = ud;
	c->n++;
	c->dup |= r->possible_dup;
	c->status = r->status;
	snprintf(c->code, sizeof c->code, "%s", r->code ? r->code : "");
	return 0;
}

/* The due query gives the phone at the delivery's phone_pos and the count
 * of phones; an update moves phone_pos; a send further on the route and a
 * requeue start again from the first phone. */
struct phone_ctx {
	int64_t id;
	int phone_pos, nphones, chain_pos;
	char phone[24], cur[24];
	bool cur_null;
};

static int phone_cb(const struct delivery *d, void *ud)
{
	struct phone_ctx *c = ud;
	c->id = d->id;
	c->phone_pos = d->phone_pos;
	c->nphones = d->nphones;
	c->chain_pos = d->chain_pos;
	snprintf(c->phone, sizeof c->phone, "%s", d->phone ? d->phone : "");
	snprintf(c->cur, sizeof c->cur, "%s",
		 d->cur_phone ? d->cur_phone : "");
	c->cur_null = d->cur_phone == NULL;
	return 0;
}

static struct phone_ctx due_one(struct fx *f, int64_t wave_id, int64_t now)
{
	struct phone_ctx c = { .id = 0 };
	assert_int_equal(store_delivery_due(f->s, wave_id, now, 1, phone_cb,
					    &c), 0);
	assert_true(c.id > 0);
	return c;
}

static void test_due_phone_pos(void **state)
{
	struct fx *f = *state;
	int64_t g3;
	assert_int_equal(store_group_insert(f->s, "2C", "Nhóm 2C", false,
					    &g3), 0);
	struct household h = { .group_id = g3, .created_ms = 1,
			       .updated_ms = 1, .nphones = 3 };
	h.name = strdup("Ba số");
	strcpy(h.phones[0], "+84912000118");
	strcpy(h.phones[1], "+84912000201");
	strcpy(h.phones[2], "+84912000202");
	assert_int_equal(store_household_insert(f->s, &h), 0);
	household_clear(&h);

	struct broadcast b = { .kind = BK_NOTICE, .state = BS_SCHEDULED,
			       .send_at_ms = 1000, .expires_ms = 100000,
			       .created_ms = 1 };
	b.title = strdup("Cúp điện");
	b.group_ids[b.ngroups++] = g3;
	struct wave w = { .seq = 0, .send_at_ms = 1000,
			  .expires_ms = 100000 };
	int64_t existing = 0;
	assert_int_equal(store_broadcast_insert(f->s, &b, &w, 1, &existing),
			 0);
	int64_t bid = b.id;
	broadcast_clear(&b);
	bool done;
	assert_int_equal(store_wave_materialise(f->s, &w, false, false, 100,
						50, &done), 0);
	assert_int_equal(w.total, 1);

	/* first: the first phone */
	struct phone_ctx c = due_one(f, w.id, 1000);
	assert_int_equal(c.phone_pos, 0);
	assert_int_equal(c.nphones, 3);
	assert_string_equal(c.phone, "+84912000118");
	assert_string_equal(c.cur, "+84912000118");

	/* refused for good on that phone: the next phone, same channel */
	assert_int_equal(store_delivery_mark_sending(f->s, c.id, 0, "zns",
						     c.cur, 1000), 0);
	struct delivery_update u = { .id = c.id, .status = DS_QUEUED,
				     .chain_pos = 0, .phone_pos = 1,
				     .next_at_ms = 1100, .code = "-118",
				     .sms_encoding = -1, .now_ms = 1050,
				     .channel = "zns",
				     .outcome = CHO_PERMANENT };
	assert_int_equal(store_delivery_update(f->s, &u), 0);
	c = due_one(f, w.id, 1100);
	assert_int_equal(c.phone_pos, 1);
	assert_int_equal(c.chain_pos, 0);
	assert_string_equal(c.phone, "+84912000118");
	assert_string_equal(c.cur, "+84912000201");

	/* sending on the same route position keeps the phone ... */
	assert_int_equal(store_delivery_mark_sending(f->s, c.id, 0, "zns",
						     c.cur, 1100), 0);
	assert_int_equal(store_delivery_recover(f->s, 1200), 1);
	c = due_one(f, w.id, 1200);
	assert_int_equal(c.phone_pos, 1);
	assert_string_equal(c.cur, "+84912000201");
	/* ... one further on the route starts from the first phone */
	assert_int_equal(store_delivery_mark_sending(f->s, c.id, 1, "sms",
						     c.phone, 1200), 0);
	assert_int_equal(store_delivery_recover(f->s, 1300), 1);
	c = due_one(f, w.id, 1300);
	assert_int_equal(c.chain_pos, 1);
	assert_int_equal(c.phone_pos, 0);
	assert_string_equal(c.cur, "+84912000118");

	/* the third phone; past the last one there is none (the phones
	 * changed since) */
	u.chain_pos = 1;
	u.phone_pos = 2;
	u.next_at_ms = 1400;
	u.now_ms = 1350;
	assert_int_equal(store_delivery_mark_sending(f->s, c.id, 1, "sms",
						     c.cur, 1300), 0);
	assert_int_equal(store_delivery_update(f->s, &u), 0);
	c = due_one(f, w.id, 1400);
	assert_string_equal(c.cur, "+84912000202");
	u.phone_pos = 3;
	u.next_at_ms = 1500;
	assert_int_equal(store_delivery_mark_sending(f->s, c.id, 1, "sms",
						     c.cur, 1400), 0);
	assert_int_equal(store_delivery_update(f->s, &u), 0);
	c = due_one(f, w.id, 1500);
	assert_int_equal(c.phone_pos, 3);
	assert_true(c.cur_null);
	assert_string_equal(c.phone, "+84912000118");

	/* failed, then retried: from the first channel and phone */
	u.status = DS_FAILED;
	u.now_ms = 1600;
	assert_int_equal(store_delivery_mark_sending(f->s, c.id, 1, "sms",
						     c.phone, 1500), 0);
	assert_int_equal(store_delivery_update(f->s, &u), 0);
	assert_int_equal(store_broadcast_requeue_failed(f->s, bid, 1700), 1);
	c = due_one(f, w.id, 1700);
	assert_int_equal(c.chain_pos, 0);
	assert_int_equal(c.phone_pos, 0);
	assert_string_equal(c.cur, "+84912000118");
}

static void test_requeue_and_list(void **state)
{
	struct fx *f = *state;
	struct wave w[1] = { { .seq = 0, .send_at_ms = 1000,
			       .expires_ms = 10000 } };
	int64_t id = make_broadcast(f, true, NULL, w, 1);
	bool done;
	assert_int_equal(store_wave_materialise(f->s, &w[0], true, false, 100,
						50, &done), 0);
	struct due_ctx dc = { 0 };
	assert_int_equal(store_delivery_due(f->s, w[0].id, 2000, 2, due_cb,
					    &dc), 0);
	assert_int_equal(dc.n, 2);
	struct delivery_update u = { .id = dc.ids[0], .status = DS_FAILED,
				     .code = "-108", .message = "bad",
				     .sms_encoding = -1, .now_ms = 1500,
				     .channel = "zns", .outcome = 3,
				     .possible_dup = true };
	assert_int_equal(store_delivery_update(f->s, &u), 0);
	struct row_ctx rc = { 0 };
	struct delivery_filter fl = { .broadcast_id = id,
				      .status = DS_FAILED };
	assert_int_equal(store_delivery_list(f->s, &fl, row_cb, &rc), 0);
	assert_int_equal(rc.n, 1);
	assert_true(rc.dup);
	assert_string_equal(rc.code, "-108");
	assert_int_equal(store_broadcast_requeue_failed(f->s, id, 3000), 1);
	rc = (struct row_ctx){ 0 };
	assert_int_equal(store_delivery_list(f->s, &fl, row_cb, &rc), 0);
	assert_int_equal(rc.n, 0);
	/* past the wave's deadline nothing is queued again: nothing would
	 * ever send or expire it */
	u.id = dc.ids[1];
	assert_int_equal(store_delivery_update(f->s, &u), 0);
	assert_int_equal(store_broadcast_requeue_failed(f->s, id, 10000), 0);
	assert_int_equal(store_broadcast_requeue_failed(f->s, id, 9999), 1);
	/* filter by group and paging */
	fl = (struct delivery_filter){ .broadcast_id = id, .status = -1,
				       .group_id = f->g2, .limit = 3 };
	rc = (struct row_ctx){ 0 };
	assert_int_equal(store_delivery_list(f->s, &fl, row_cb, &rc), 0);
	assert_int_equal(rc.n, 3);
}

/* In flight when its broadcast was cancelled and loaxad crashed: the
 * delivery ends cancelled and flagged (the provider may have had it),
 * never queued again, which nothing would ever send or expire. Another
 * broadcast's one goes back to the queue as usual. */
static void test_recover_cancelled(void **state)
{
	struct fx *f = *state;
	struct wave w1[1] = { { .seq = 0, .send_at_ms = 1000,
				.expires_ms = 10000 } };
	struct wave w2[1] = { { .seq = 0, .send_at_ms = 1000,
				.expires_ms = 10000 } };
	int64_t cancelled = make_broadcast(f, false, NULL, w1, 1);
	int64_t live = make_broadcast(f, false, "k2", w2, 1);
	bool done;
	assert_int_equal(store_wave_materialise(f->s, &w1[0], false, false,
						100, 50, &done), 0);
	assert_int_equal(store_wave_materialise(f->s, &w2[0], false, false,
						100, 50, &done), 0);
	struct due_ctx d1 = { 0 }, d2 = { 0 };
	assert_int_equal(store_delivery_due(f->s, w1[0].id, 2000, 1, due_cb,
					    &d1), 0);
	assert_int_equal(store_delivery_due(f->s, w2[0].id, 2000, 1, due_cb,
					    &d2), 0);
	assert_int_equal(d1.n, 1);
	assert_int_equal(d2.n, 1);
	assert_int_equal(store_delivery_mark_sending(f->s, d1.ids[0], 0, "zns",
						     "+84912000000", 2000), 0);
	assert_int_equal(store_delivery_mark_sending(f->s, d2.ids[0], 0, "zns",
						     "+84912000000", 2000), 0);
	assert_int_equal(store_broadcast_set_state(f->s, cancelled,
						   BS_CANCELLED, 2100), 0);
	assert_int_equal(store_broadcast_cancel_queued(f->s, cancelled, 2100),
			 4);

	assert_int_equal(store_delivery_recover(f->s, 3000), 2);
	struct cnt c = counts(f, cancelled);
	assert_int_equal(c.n[DS_SENDING], 0);
	assert_int_equal(c.n[DS_QUEUED], 0);
	assert_int_equal(c.n[DS_CANCELLED], 5);
	struct row_ctx rc = { 0 };
	struct delivery_filter fl = { .broadcast_id = cancelled,
				      .status = DS_CANCELLED };
	assert_int_equal(store_delivery_list(f->s, &fl, row_cb, &rc), 0);
	assert_int_equal(rc.n, 5);
	assert_true(rc.dup);            /* the one in flight is flagged */
	assert_string_equal(rc.code, "cancelled");
	c = counts(f, live);
	assert_int_equal(c.n[DS_SENDING], 0);
	assert_int_equal(c.n[DS_QUEUED], 5);

	/* in flight when its broadcast is cancelled, then a transient
	 * failure would queue it again: it ends cancelled instead */
	struct due_ctx d3 = { 0 };
	assert_int_equal(store_delivery_due(f->s, w2[0].id, 4000, 1, due_cb,
					    &d3), 0);
	assert_int_equal(d3.n, 1);
	assert_int_equal(store_delivery_mark_sending(f->s, d3.ids[0], 0, "zns",
						     "+84912000000", 4000), 0);
	assert_int_equal(store_broadcast_set_state(f->s, live, BS_CANCELLED,
						   4100), 0);
	assert_int_equal(store_broadcast_cancel_queued(f->s, live, 4100), 4);
	struct delivery_update u = { .id = d3.ids[0], .status = DS_QUEUED,
				     .attempts = 1, .next_at_ms = 9000,
				     .code = "503", .message = "busy",
				     .sms_encoding = -1, .now_ms = 4200,
				     .channel = "zns", .http_status = 503,
				     .outcome = 4 };
	assert_int_equal(store_delivery_update(f->s, &u), 0);
	c = counts(f, live);
	assert_int_equal(c.n[DS_QUEUED], 0);
	assert_int_equal(c.n[DS_SENDING], 0);
	assert_int_equal(c.n[DS_CANCELLED], 5);
}

static void test_tokens(void **state)
{
	struct fx *f = *state;
	struct token_rec t = { 0 };
	assert_int_equal(store_token_get(f->s, "zns", &t), -ENOENT);
	struct token_rec in = { .access_token = "a1", .refresh_token = "r1",
				.expires_ms = 5, .updated_ms = 6 };
	assert_int_equal(store_token_put(f->s, "zns", &in), 0);
	in.refresh_token = "r2";
	assert_int_equal(store_token_put(f->s, "zns", &in), 0);
	assert_int_equal(store_token_get(f->s, "zns", &t), 0);
	assert_string_equal(t.refresh_token, "r2");
	assert_string_equal(t.access_token, "a1");
	token_rec_clear(&t);
}

static void test_household_ids_not_reused(void **state)
{
	struct fx *f = *state;
	int64_t last = f->hh[9];
	assert_int_equal(store_household_delete(f->s, last), 0);
	int64_t again = add_hh(f->s, f->g1, "Mới", "+84987000000", false);
	assert_int_equal(again, last + 1);
}

static int64_t sent_delivery(struct fx *f, struct wave *w, int k,
			     const char *msg_id, const char *rcpt)
{
	struct due_ctx dc = { 0 };
	assert_int_equal(store_delivery_due(f->s, w->id, 5000, 32, due_cb,
					    &dc), 0);
	assert_true((size_t)k < dc.n);
	int64_t id = dc.ids[k];
	assert_int_equal(store_delivery_mark_sending(f->s, id, 0, "m", rcpt,
						     1100), 0);
	struct delivery_update u = { .id = id, .status = DS_SENT,
				     .attempts = 1, .msg_id = msg_id,
				     .sms_encoding = -1, .now_ms = 1200,
				     .channel = "m", .outcome = 0 };
	assert_int_equal(store_delivery_update(f->s, &u), 0);
	return id;
}

static enum delivery_status status_of(struct fx *f, int64_t bid, int64_t id)
{
	struct delivery_filter fl = { .broadcast_id = bid, .status = -1,
				      .after_id = id - 1, .limit = 1 };
	struct row_ctx rc = { 0 };
	assert_int_equal(store_delivery_list(f->s, &fl, row_cb, &rc), 0);
	assert_int_equal(rc.n, 1);
	return rc.status;
}

static void test_receipts(void **state)
{
	struct fx *f = *state;
	struct wave w[1] = { { .seq = 0, .send_at_ms = 1000,
			       .expires_ms = 10000 } };
	int64_t bid = make_broadcast(f, true, NULL, w, 1);
	bool done;
	assert_int_equal(store_wave_materialise(f->s, &w[0], true, false, 100,
						50, &done), 0);
	int64_t d1 = sent_delivery(f, &w[0], 0, "mid-1", "111");
	enum receipt_outcome o;
	int64_t n;
	/* by message id: sent -> delivered -> read; never back */
	struct receipt_in rc = { .kind = RK_DELIVERED, .msg_id = "mid-1",
				 .at_ms = 1300, .now_ms = 1400 };
	assert_int_equal(store_receipt_apply(f->s, &rc, &o, &n), 0);
	assert_int_equal(o, RO_APPLIED);
	assert_int_equal(status_of(f, bid, d1), DS_DELIVERED);
	assert_int_equal(store_receipt_apply(f->s, &rc, &o, &n), 0);
	assert_int_equal(o, RO_DUPLICATE);
	rc.kind = RK_READ;
	assert_int_equal(store_receipt_apply(f->s, &rc, &o, &n), 0);
	assert_int_equal(o, RO_APPLIED);
	rc.kind = RK_DELIVERED;
	assert_int_equal(store_receipt_apply(f->s, &rc, &o, &n), 0);
	assert_int_equal(o, RO_LATE);
	assert_int_equal(status_of(f, bid, d1), DS_READ);
	/* unknown: kept, no change */
	rc = (struct receipt_in){ .kind = RK_DELIVERED, .msg_id = "nope",
				  .now_ms = 1500 };
	assert_int_equal(store_receipt_apply(f->s, &rc, &o, &n), 0);
	assert_int_equal(o, RO_UNKNOWN);

	/* a receipt before our own outcome is committed: the outcome does
	 * not take the delivery back to "sent" */
	struct due_ctx dc = { 0 };
	assert_int_equal(store_delivery_due(f->s, w[0].id, 5000, 32, due_cb,
					    &dc), 0);
	int64_t d2 = dc.ids[0];
	assert_int_equal(store_delivery_mark_sending(f->s, d2, 0, "m", "222",
						     1100), 0);
	char tr[32];
	snprintf(tr, sizeof tr, "loaxa-%lld", (long long)d2);
	rc = (struct receipt_in){ .kind = RK_DELIVERED, .tracking_id = tr,
				  .now_ms = 1500 };
	assert_int_equal(store_receipt_apply(f->s, &rc, &o, &n), 0);
	assert_int_equal(o, RO_APPLIED);
	struct delivery_update u = { .id = d2, .status = DS_SENT,
				     .attempts = 1, .msg_id = "mid-2",
				     .sms_encoding = -1, .now_ms = 1600,
				     .channel = "m", .outcome = 0 };
	assert_int_equal(store_delivery_update(f->s, &u), 0);
	assert_int_equal(status_of(f, bid, d2), DS_DELIVERED);

	/* watermark: every delivery sent to the PSID up to it */
	int64_t d3 = sent_delivery(f, &w[0], 0, "mid-3", "psid-9");
	int64_t d4 = sent_delivery(f, &w[0], 0, "mid-4", "psid-9");
	rc = (struct receipt_in){ .kind = RK_READ, .sender = "psid-9",
				  .watermark_ms = 1250, .now_ms = 1700 };
	assert_int_equal(store_receipt_apply(f->s, &rc, &o, &n), 0);
	assert_int_equal(o, RO_APPLIED);
	assert_int_equal(n, 2);
	assert_int_equal(status_of(f, bid, d3), DS_READ);
	assert_int_equal(status_of(f, bid, d4), DS_READ);
	/* a failure report for a sent delivery */
	int64_t d5 = sent_delivery(f, &w[0], 0, "mid-5", "555");
	rc = (struct receipt_in){ .kind = RK_FAILED, .msg_id = "mid-5",
				  .code = "30003", .now_ms = 1800 };
	assert_int_equal(store_receipt_apply(f->s, &rc, &o, &n), 0);
	assert_int_equal(o, RO_APPLIED);
	assert_int_equal(status_of(f, bid, d5), DS_FAILED);
}

static void test_replies_rsvp(void **state)
{
	struct fx *f = *state;
	struct wave w[1] = { { .seq = 0, .send_at_ms = 1000,
			       .expires_ms = 10000 } };
	int64_t bid = make_broadcast(f, true, NULL, w, 1);
	bool done;
	assert_int_equal(store_wave_materialise(f->s, &w[0], true, false, 100,
						50, &done), 0);
	sent_delivery(f, &w[0], 0, "m0", "+84912000000");
	sent_delivery(f, &w[0], 0, "m1", "+84912000001");
	int64_t id, hh, b;
	struct reply_in r = { .provider = 3, .sender = "+84912000000",
			      .msg_id = "r1", .text = "Có", .rsvp = 1,
			      .now_ms = 2000 };
	assert_int_equal(store_reply_add(f->s, &r, &id, &hh, &b), 0);
	assert_true(id > 0);
	assert_int_equal(hh, f->hh[0]);
	assert_int_equal(b, bid);
	/* the same provider message again: ignored */
	assert_int_equal(store_reply_add(f->s, &r, &id, &hh, &b), 0);
	assert_int_equal(id, 0);
	/* a change of mind: the latest answer counts */
	r = (struct reply_in){ .provider = 3, .sender = "+84912000000",
			       .msg_id = "r2", .text = "2", .rsvp = 2,
			       .now_ms = 2100 };
	assert_int_equal(store_reply_add(f->s, &r, &id, &hh, &b), 0);
	r = (struct reply_in){ .provider = 3, .sender = "+84912000001",
			       .msg_id = "r3", .text = "1", .rsvp = 1,
			       .now_ms = 2200 };
	assert_int_equal(store_reply_add(f->s, &r, &id, &hh, &b), 0);
	/* feedback from someone unknown: kept, no household */
	r = (struct reply_in){ .provider = 3, .sender = "+84999999999",
			       .msg_id = "r4", .text = "rác chưa thu",
			       .now_ms = 2300 };
	assert_int_equal(store_reply_add(f->s, &r, &id, &hh, &b), 0);
	assert_int_equal(hh, 0);
	int64_t yes, no;
	assert_int_equal(store_rsvp_counts(f->s, bid, &yes, &no), 0);
	assert_int_equal(yes, 1);
	assert_int_equal(no, 1);
}

struct hist_ctx {
	size_t n;
	struct history_key keys[16];
	enum delivery_status status[16];
	int seq[16], rsvp[16];
	char text[16][32];
};

static int hist_cb(const struct history_row *r, void *ud)
{
	struct hist_ctx *c = ud;
	assert_true(c->n < 16);
	c->keys[c->n] = r->key;
	c->status[c->n] = r->status;
	c->seq[c->n] = r->seq;
	c->rsvp[c->n] = r->rsvp;
	snprintf(c->text[c->n], sizeof c->text[0], "%s",
		 r->key.kind == HK_REPLY ? r->text : r->title);
	c->n++;
	return 0;
}

static int reply_cb(const struct reply_row *r, void *ud)
{
	struct hist_ctx *c = ud;
	assert_true(c->n < 16);
	c->keys[c->n].id = r->household_id;
	c->rsvp[c->n] = r->rsvp;
	c->n++;
	return 0;
}

static void test_household_history(void **state)
{
	struct fx *f = *state;
	struct wave w[2] = { { .seq = 0, .send_at_ms = 1000,
			       .expires_ms = 10000 },
			     { .seq = 1, .send_at_ms = 2000,
			       .expires_ms = 10000 } };
	int64_t bid = make_broadcast(f, true, NULL, w, 2);
	assert_true(bid > 0);
	bool done;
	assert_int_equal(store_wave_materialise(f->s, &w[0], true, false, 100,
						50, &done), 0);
	assert_true(done);
	int64_t d0 = sent_delivery(f, &w[0], 0, "m0", "+84912000000");
	sent_delivery(f, &w[0], 0, "m6", "+84912000006");
	assert_int_equal(store_wave_materialise(f->s, &w[1], true, false, 100,
						60, &done), 0);
	int64_t id, hh, b;
	struct reply_in r = { .provider = 3, .sender = "+84912000000",
			      .msg_id = "h1", .text = "Có", .rsvp = 1,
			      .now_ms = 1500 };
	assert_int_equal(store_reply_add(f->s, &r, &id, &hh, &b), 0);
	int64_t r1 = id;
	/* at the same time as the reminder wave: the reply comes first */
	r = (struct reply_in){ .provider = 3, .sender = "+84912000000",
			       .msg_id = "h2", .text = "bận", .now_ms = 2000 };
	assert_int_equal(store_reply_add(f->s, &r, &id, &hh, &b), 0);
	int64_t r2 = id;
	r = (struct reply_in){ .provider = 3, .sender = "+84912000006",
			       .msg_id = "h3", .text = "2", .rsvp = 2,
			       .now_ms = 2100 };
	assert_int_equal(store_reply_add(f->s, &r, &id, &hh, &b), 0);

	struct hist_ctx c = { 0 };
	assert_int_equal(store_household_history(f->s, f->hh[0], NULL, 0,
						 hist_cb, &c), 0);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.keys[0].kind, HK_REPLY);
	assert_int_equal(c.keys[0].id, r2);
	assert_int_equal(c.keys[0].at_ms, 2000);
	assert_string_equal(c.text[0], "bận");
	assert_int_equal(c.keys[1].kind, HK_DELIVERY);
	assert_int_equal(c.seq[1], 1);
	assert_int_equal(c.status[1], DS_QUEUED);
	assert_string_equal(c.text[1], "Họp");
	assert_int_equal(c.keys[2].kind, HK_REPLY);
	assert_int_equal(c.keys[2].id, r1);
	assert_int_equal(c.rsvp[2], 1);
	assert_int_equal(c.keys[3].kind, HK_DELIVERY);
	assert_int_equal(c.keys[3].id, d0);
	assert_int_equal(c.status[3], DS_SENT);
	assert_int_equal(c.seq[3], 0);

	/* one by one, each page after the last key: the same entries */
	struct history_key after;
	for (size_t i = 0; i < 4; i++) {
		struct hist_ctx p = { 0 };
		assert_int_equal(store_household_history(
			f->s, f->hh[0], i ? &after : NULL, 1, hist_cb, &p), 0);
		assert_int_equal(p.n, 1);
		assert_int_equal(p.keys[0].kind, c.keys[i].kind);
		assert_int_equal(p.keys[0].id, c.keys[i].id);
		after = p.keys[0];
	}
	struct hist_ctx p = { 0 };
	assert_int_equal(store_household_history(f->s, f->hh[0], &after, 1,
						 hist_cb, &p), 0);
	assert_int_equal(p.n, 0);
	/* a household never sent anything, and one that does not exist */
	p = (struct hist_ctx){ 0 };
	assert_int_equal(store_household_history(f->s, f->hh[3], NULL, 0,
						 hist_cb, &p), 0);
	assert_int_equal(p.n, 2);   /* opted out: skipped, both waves */
	assert_int_equal(p.status[0], DS_SKIPPED);
	p = (struct hist_ctx){ 0 };
	assert_int_equal(store_household_history(f->s, 999999, NULL, 0,
						 hist_cb, &p), 0);
	assert_int_equal(p.n, 0);

	/* replies by group (hh 6 is in 2B) and by RSVP */
	struct reply_filter rf = { .rsvp = -1, .group_id = f->g2 };
	p = (struct hist_ctx){ 0 };
	assert_int_equal(store_reply_list(f->s, &rf, reply_cb, &p), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.keys[0].id, f->hh[6]);
	rf = (struct reply_filter){ .rsvp = 0, .group_id = f->g1,
				    .broadcast_id = bid };
	p = (struct hist_ctx){ 0 };
	assert_int_equal(store_reply_list(f->s, &rf, reply_cb, &p), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.rsvp[0], 0);
	rf = (struct reply_filter){ .rsvp = -1 };
	p = (struct hist_ctx){ 0 };
	assert_int_equal(store_reply_list(f->s, &rf, reply_cb, &p), 0);
	assert_int_equal(p.n, 3);
}

/* ---- queue depth, counts by group and channel, oldest_ms -------------- */

/* A broadcast with one wave: to group 2A (hh 0-5, hh 3 opted out) or to
 * every group (hh 0-9). */
static int64_t new_bcast(struct fx *f, bool all, bool urgent,
			 enum bcast_state state, struct wave *w)
{
	struct broadcast b = { .kind = BK_NOTICE, .state = state,
			       .urgent = urgent, .send_at_ms = 1000,
			       .expires_ms = 100000, .created_ms = 1,
			       .all_groups = all };
	b.title = strdup("Thông báo");
	if (!all)
		b.group_ids[b.ngroups++] = f->g1;
	*w = (struct wave){ .seq = 0, .send_at_ms = 1000,
			    .expires_ms = 100000 };
	int64_t existing = 0;
	assert_int_equal(store_broadcast_insert(f->s, &b, w, 1, &existing),
			 0);
	int64_t id = b.id;
	broadcast_clear(&b);
	return id;
}

static void fill(struct fx *f, struct wave *w, bool all, int64_t now_ms)
{
	bool done = false;
	assert_int_equal(store_wave_materialise(f->s, w, all, false, 100,
						now_ms, &done), 0);
	assert_true(done);
}

/* The queued deliveries of wave w, due first first. */
static struct due_ctx due_of(struct fx *f, const struct wave *w)
{
	struct due_ctx dc = { 0 };
	assert_int_equal(store_delivery_due(f->s, w->id, INT64_MAX / 2, 32,
					    due_cb, &dc), 0);
	return dc;
}

static sqlite3 *other_open(struct fx *f)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 2000);
	return db;
}

/* A write by another connection (another process, for loaxad). */
static void other_exec(struct fx *f, const char *sql)
{
	sqlite3 *db = other_open(f);
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK)
		print_error("%s: %s\n", sql, err ? err : "?");
	sqlite3_free(err);
	assert_int_equal(rc, SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* What a plain count over the committed file says. */
static void oracle(struct fx *f, int64_t *u, int64_t *n, int64_t *oldest)
{
	sqlite3 *db = other_open(f);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db,
		"SELECT coalesce(sum(b.urgent != 0), 0),"
		" coalesce(sum(b.urgent = 0), 0),"
		" coalesce(min(d.updated_ms), 0)"
		" FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id"
		" WHERE d.status = 0", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	*u = sqlite3_column_int64(st, 0);
	*n = sqlite3_column_int64(st, 1);
	*oldest = sqlite3_column_int64(st, 2);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* store_queue_depth says urgent and normal (and, with check_file, so does
 * the file); returns oldest_ms. */
static int64_t depth_at(struct fx *f, int64_t urgent, int64_t normal,
			bool check_file, int line)
{
	int64_t u = -1, n = -1, o = -1;
	int r = store_queue_depth(f->s, &u, &n, &o);
	int64_t fu = urgent, fn = normal, fo = 0;
	if (check_file)
		oracle(f, &fu, &fn, &fo);
	if (r != 0 || u != urgent || n != normal || fu != urgent ||
	    fn != normal || (n + u == 0) != (o == 0)) {
		print_error("line %d: queue depth %d: urgent %lld normal %lld "
			    "oldest %lld; wanted %lld %lld; the file has %lld "
			    "%lld\n", line, r, (long long)u, (long long)n,
			    (long long)o, (long long)urgent,
			    (long long)normal, (long long)fu, (long long)fn);
		fail();
	}
	return o;
}
#define DEPTH(f, u, n) depth_at(f, u, n, true, __LINE__)
#define DEPTH_IN_TX(f, u, n) depth_at(f, u, n, false, __LINE__)

static void reopen(struct fx *f)
{
	store_close(f->s);
	char err[256];
	assert_int_equal(store_open(f->db, &f->s, err, sizeof err), 0);
}

static void sending(struct fx *f, int64_t id, const char *channel,
		    int64_t now_ms)
{
	assert_int_equal(store_delivery_mark_sending(f->s, id, 0, channel,
						     "r", now_ms), 0);
}

static void outcome(struct fx *f, int64_t id, enum delivery_status st,
		    int64_t next_at_ms, int64_t now_ms)
{
	struct delivery_update u = { .id = id, .status = st, .attempts = 1,
				     .next_at_ms = next_at_ms,
				     .sms_encoding = -1, .now_ms = now_ms,
				     .channel = "zns", .outcome = 0 };
	assert_int_equal(store_delivery_update(f->s, &u), 0);
}

static void test_depth_follows_changes(void **state)
{
	struct fx *f = *state;
	struct wave wn, wu;
	int64_t nb = new_bcast(f, false, false, BS_ACTIVE, &wn);
	int64_t ub = new_bcast(f, true, true, BS_ACTIVE, &wu);
	assert_int_equal(DEPTH(f, 0, 0), 0);
	/* a wave materialised in chunks: each chunk counts at once */
	bool done = false;
	int64_t want[] = { 2, 3, 5, 5 };   /* hh 3 is skipped */
	for (int i = 0; !done; i++) {
		assert_true(i < 4);
		assert_int_equal(store_wave_materialise(f->s, &wn, false,
							false, 2, 50 + i,
							&done), 0);
		assert_int_equal(DEPTH(f, 0, want[i]), 50);
	}
	fill(f, &wu, true, 60);
	DEPTH(f, 9, 5);
	/* counted afresh when the store is opened again */
	reopen(f);
	assert_int_equal(DEPTH(f, 9, 5), 50);

	struct due_ctx n = due_of(f, &wn);
	assert_int_equal(n.n, 5);
	sending(f, n.ids[0], "zns", 100);
	DEPTH(f, 9, 4);
	outcome(f, n.ids[0], DS_SENT, 0, 110);
	DEPTH(f, 9, 4);
	sending(f, n.ids[1], "zns", 120);
	outcome(f, n.ids[1], DS_FAILED, 0, 130);
	DEPTH(f, 9, 3);
	/* a retry: sending -> queued */
	sending(f, n.ids[2], "zns", 140);
	DEPTH(f, 9, 2);
	outcome(f, n.ids[2], DS_QUEUED, 9000, 150);
	DEPTH(f, 9, 3);
	/* queued -> queued (the next channel at once): no change */
	outcome(f, n.ids[4], DS_QUEUED, 160, 160);
	DEPTH(f, 9, 3);
	/* a crash while sending, then recovery */
	sending(f, n.ids[3], "zns", 170);
	DEPTH(f, 9, 2);
	assert_int_equal(store_delivery_recover(f->s, 180), 1);
	DEPTH(f, 9, 3);
	/* failed -> queued by an explicit retry */
	assert_int_equal(store_broadcast_requeue_failed(f->s, nb, 190), 1);
	DEPTH(f, 9, 4);

	/* many at once: the urgent broadcast cancelled with one in flight */
	struct due_ctx u = due_of(f, &wu);
	assert_int_equal(u.n, 9);
	sending(f, u.ids[0], "zns", 200);
	DEPTH(f, 8, 4);
	assert_int_equal(store_broadcast_cancel_queued(f->s, ub, 210), 8);
	DEPTH(f, 0, 4);
	assert_int_equal(store_delivery_recover(f->s, 220), 1);
	DEPTH(f, 1, 4);
	assert_int_equal(store_wave_expire(f->s, wn.id, 230), 4);
	DEPTH(f, 1, 0);
	assert_int_equal(store_wave_expire(f->s, wu.id, 240), 1);
	assert_int_equal(DEPTH(f, 0, 0), 0);
	reopen(f);
	DEPTH(f, 0, 0);
}

static void test_depth_rollback(void **state)
{
	struct fx *f = *state;
	struct wave wn, wu;
	int64_t nb = new_bcast(f, false, false, BS_ACTIVE, &wn);
	new_bcast(f, true, true, BS_ACTIVE, &wu);
	fill(f, &wn, false, 50);
	DEPTH(f, 0, 5);
	struct due_ctx n = due_of(f, &wn);

	/* a whole transaction rolled back: materialise, send, cancel */
	assert_int_equal(store_begin(f->s), 0);
	fill(f, &wu, true, 60);
	sending(f, n.ids[0], "zns", 70);
	DEPTH_IN_TX(f, 9, 4);
	assert_int_equal(store_broadcast_cancel_queued(f->s, nb, 80), 4);
	DEPTH_IN_TX(f, 9, 0);
	assert_int_equal(store_rollback(f->s), 0);
	DEPTH(f, 0, 5);
	/* (the wave as it is in the file again) */
	wu.cursor = wu.total = 0;
	wu.state = WS_PENDING;

	/* an inner level rolled back, the outer committed */
	assert_int_equal(store_begin(f->s), 0);
	sending(f, n.ids[0], "zns", 90);
	assert_int_equal(store_begin(f->s), 0);
	sending(f, n.ids[1], "zns", 91);
	DEPTH_IN_TX(f, 0, 3);
	assert_int_equal(store_rollback(f->s), 0);
	DEPTH_IN_TX(f, 0, 4);
	assert_int_equal(store_commit(f->s), 0);
	DEPTH(f, 0, 4);

	/* counted afresh for the first time inside a transaction that is
	 * then rolled back */
	reopen(f);
	assert_int_equal(store_begin(f->s), 0);
	fill(f, &wu, true, 100);
	DEPTH_IN_TX(f, 9, 4);
	assert_int_equal(store_rollback(f->s), 0);
	DEPTH(f, 0, 4);
	/* and counted afresh after another connection wrote, inside a
	 * transaction rolled back */
	other_exec(f, "UPDATE deliveries SET status = 7 WHERE status = 0"
		      " AND id = (SELECT min(id) FROM deliveries"
		      " WHERE status = 0)");
	assert_int_equal(store_begin(f->s), 0);
	sending(f, n.ids[4], "zns", 110);
	DEPTH_IN_TX(f, 0, 2);
	assert_int_equal(store_rollback(f->s), 0);
	DEPTH(f, 0, 3);
}

static void test_depth_other_connection(void **state)
{
	struct fx *f = *state;
	char sql[256];
	struct wave wn, wu;
	int64_t nb = new_bcast(f, false, false, BS_ACTIVE, &wn);
	int64_t ub = new_bcast(f, true, true, BS_ACTIVE, &wu);
	fill(f, &wn, false, 50);
	fill(f, &wu, true, 60);
	DEPTH(f, 9, 5);
	/* cancelled by hand, put back, deleted */
	snprintf(sql, sizeof sql, "UPDATE deliveries SET status = 7 WHERE"
		 " broadcast_id = %lld AND status = 0 AND household_id IN"
		 " (%lld, %lld)", (long long)nb, (long long)f->hh[0],
		 (long long)f->hh[1]);
	other_exec(f, sql);
	DEPTH(f, 9, 3);
	DEPTH(f, 9, 3);
	other_exec(f, "UPDATE deliveries SET status = 0 WHERE status = 7");
	DEPTH(f, 9, 5);
	snprintf(sql, sizeof sql, "DELETE FROM deliveries WHERE"
		 " broadcast_id = %lld AND household_id = %lld",
		 (long long)ub, (long long)f->hh[0]);
	other_exec(f, sql);
	DEPTH(f, 8, 5);
	/* the priority is the broadcast's, as it is now */
	snprintf(sql, sizeof sql, "UPDATE broadcasts SET urgent = 1 WHERE"
		 " id = %lld", (long long)nb);
	other_exec(f, sql);
	DEPTH(f, 13, 0);
	snprintf(sql, sizeof sql, "UPDATE broadcasts SET urgent = 0 WHERE"
		 " id = %lld", (long long)nb);
	other_exec(f, sql);
	DEPTH(f, 8, 5);
	/* another connection, then this one, before the next look */
	snprintf(sql, sizeof sql, "UPDATE deliveries SET status = 6 WHERE"
		 " broadcast_id = %lld AND household_id IN (%lld, %lld, %lld)",
		 (long long)ub, (long long)f->hh[1], (long long)f->hh[2],
		 (long long)f->hh[4]);
	other_exec(f, sql);
	struct due_ctx u = due_of(f, &wu);
	assert_int_equal(u.n, 5);
	sending(f, u.ids[0], "zns", 70);
	DEPTH(f, 4, 5);
	/* a delivery inserted by hand, queued */
	snprintf(sql, sizeof sql, "INSERT INTO deliveries(wave_id,"
		 " broadcast_id, household_id, group_id, status, next_at_ms,"
		 " updated_ms) VALUES (%lld, %lld, 999, %lld, 0, 1000, 80)",
		 (long long)wn.id, (long long)nb, (long long)f->g1);
	other_exec(f, sql);
	DEPTH(f, 4, 6);
	/* and our own writes after all that still count */
	assert_int_equal(store_broadcast_cancel_queued(f->s, nb, 90), 6);
	DEPTH(f, 4, 0);
}

struct kcnt {
	size_t n;
	struct { char key[32]; enum delivery_status st; int64_t n; } e[64];
};

static int kcnt_cb(const char *key, enum delivery_status st, int64_t n,
		   void *ud)
{
	struct kcnt *c = ud;
	assert_true(c->n < 64);
	assert_true(n > 0);
	for (size_t i = 0; i < c->n; i++)   /* each cell once */
		assert_false(strcmp(c->e[i].key, key) == 0 &&
			     c->e[i].st == st);
	snprintf(c->e[c->n].key, sizeof c->e[0].key, "%s", key);
	c->e[c->n].st = st;
	c->e[c->n].n = n;
	c->n++;
	return 0;
}

static struct kcnt kcounts(struct fx *f, int64_t id, enum count_by by)
{
	struct kcnt c = { 0 };
	assert_int_equal(store_broadcast_counts(f->s, id, by, kcnt_cb, &c),
			 0);
	return c;
}

static int64_t kget(const struct kcnt *c, const char *key,
		    enum delivery_status st)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->e[i].key, key) == 0 && c->e[i].st == st)
			return c->e[i].n;
	return 0;
}

static int64_t ktotal(const struct kcnt *c)
{
	int64_t t = 0;
	for (size_t i = 0; i < c->n; i++)
		t += c->e[i].n;
	return t;
}

static void test_counts_group_channel(void **state)
{
	struct fx *f = *state;
	struct wave w, w2;
	int64_t b = new_bcast(f, true, false, BS_ACTIVE, &w);
	int64_t b2 = new_bcast(f, false, false, BS_ACTIVE, &w2);
	fill(f, &w, true, 50);
	fill(f, &w2, false, 50);

	struct kcnt g = kcounts(f, b, COUNT_BY_GROUP);
	assert_int_equal(g.n, 3);
	assert_int_equal(kget(&g, "2A", DS_QUEUED), 5);
	assert_int_equal(kget(&g, "2A", DS_SKIPPED), 1);
	assert_int_equal(kget(&g, "2B", DS_QUEUED), 4);
	/* no attempt yet: no channel */
	struct kcnt c = kcounts(f, b, COUNT_BY_CHANNEL);
	assert_int_equal(c.n, 2);
	assert_int_equal(kget(&c, "", DS_QUEUED), 9);
	assert_int_equal(kget(&c, "", DS_SKIPPED), 1);
	struct kcnt s = kcounts(f, b, COUNT_BY_STATUS);
	assert_int_equal(s.n, 2);
	assert_int_equal(kget(&s, "", DS_QUEUED), 9);

	/* written after the counts were kept: counted again */
	struct due_ctx d = due_of(f, &w);
	assert_int_equal(d.n, 9);      /* hh 0 1 2 4 5 6 7 8 9 */
	sending(f, d.ids[0], "zns", 100);
	outcome(f, d.ids[0], DS_SENT, 0, 110);
	sending(f, d.ids[6], "sms", 120);      /* hh 7, group 2B */
	c = kcounts(f, b, COUNT_BY_CHANNEL);
	assert_int_equal(c.n, 4);
	assert_int_equal(kget(&c, "zns", DS_SENT), 1);
	assert_int_equal(kget(&c, "sms", DS_SENDING), 1);
	assert_int_equal(kget(&c, "", DS_QUEUED), 7);
	assert_int_equal(kget(&c, "", DS_SKIPPED), 1);
	g = kcounts(f, b, COUNT_BY_GROUP);
	assert_int_equal(kget(&g, "2A", DS_SENT), 1);
	assert_int_equal(kget(&g, "2A", DS_QUEUED), 4);
	assert_int_equal(kget(&g, "2B", DS_SENDING), 1);
	assert_int_equal(kget(&g, "2B", DS_QUEUED), 3);
	s = kcounts(f, b, COUNT_BY_STATUS);
	assert_int_equal(kget(&s, "", DS_SENDING), 1);
	assert_int_equal(kget(&s, "", DS_QUEUED), 7);
	assert_int_equal(ktotal(&s), 10);

	/* another broadcast's counts in between */
	g = kcounts(f, b2, COUNT_BY_GROUP);
	assert_int_equal(g.n, 2);
	assert_int_equal(kget(&g, "2A", DS_QUEUED), 5);
	g = kcounts(f, b, COUNT_BY_GROUP);
	assert_int_equal(kget(&g, "2B", DS_QUEUED), 3);

	/* the group deleted since (with its households): "?" */
	assert_int_equal(store_group_delete(f->s, f->g2, true), 0);
	g = kcounts(f, b, COUNT_BY_GROUP);
	assert_int_equal(kget(&g, "?", DS_QUEUED), 3);
	assert_int_equal(kget(&g, "?", DS_SENDING), 1);
	assert_int_equal(kget(&g, "2A", DS_QUEUED), 4);
	assert_int_equal(kget(&g, "2B", DS_QUEUED), 0);
	assert_int_equal(ktotal(&g), 10);
	/* a group renamed (its code changed) since */
	char sql[256];
	snprintf(sql, sizeof sql, "UPDATE groups SET code = '2C' WHERE"
		 " id = %lld", (long long)f->g1);
	other_exec(f, sql);
	g = kcounts(f, b, COUNT_BY_GROUP);
	assert_int_equal(kget(&g, "2C", DS_QUEUED), 4);
	assert_int_equal(kget(&g, "2A", DS_QUEUED), 0);

	/* written by another connection */
	snprintf(sql, sizeof sql, "UPDATE deliveries SET status = 5,"
		 " channel = 'esms' WHERE id = %lld", (long long)d.ids[1]);
	other_exec(f, sql);
	c = kcounts(f, b, COUNT_BY_CHANNEL);
	assert_int_equal(kget(&c, "esms", DS_FAILED), 1);
	assert_int_equal(kget(&c, "", DS_QUEUED), 6);
	s = kcounts(f, b, COUNT_BY_STATUS);
	assert_int_equal(kget(&s, "", DS_FAILED), 1);

	/* counted inside a transaction that is rolled back */
	assert_int_equal(store_begin(f->s), 0);
	sending(f, d.ids[2], "zalo", 130);
	c = kcounts(f, b, COUNT_BY_CHANNEL);
	assert_int_equal(kget(&c, "zalo", DS_SENDING), 1);
	g = kcounts(f, b, COUNT_BY_GROUP);
	assert_int_equal(kget(&g, "2C", DS_SENDING), 1);
	assert_int_equal(store_rollback(f->s), 0);
	c = kcounts(f, b, COUNT_BY_CHANNEL);
	assert_int_equal(kget(&c, "zalo", DS_SENDING), 0);
	assert_int_equal(kget(&c, "", DS_QUEUED), 6);
	g = kcounts(f, b, COUNT_BY_GROUP);
	assert_int_equal(kget(&g, "2C", DS_SENDING), 0);
	s = kcounts(f, b, COUNT_BY_STATUS);
	assert_int_equal(kget(&s, "", DS_SENDING), 1);
	assert_int_equal(kget(&s, "", DS_QUEUED), 6);
}

/* oldest_ms: since when the delivery waiting longest has waited (its
 * updated_ms), over the same deliveries as the depth: every queued one,
 * whatever its broadcast's state (docs/api.md, GET /v1/status "queue"). */
static void test_oldest(void **state)
{
	struct fx *f = *state;
	struct wave w, wp, wa;
	int64_t b = new_bcast(f, true, false, BS_ACTIVE, &w);
	fill(f, &w, true, 50);
	assert_int_equal(DEPTH(f, 0, 9), 50);
	struct due_ctx d = due_of(f, &w);
	/* the first one fails and is tried again later: the others still
	 * wait since 50 */
	sending(f, d.ids[0], "zns", 100);
	outcome(f, d.ids[0], DS_FAILED, 0, 200);
	assert_int_equal(store_broadcast_requeue_failed(f->s, b, 3000), 1);
	assert_int_equal(DEPTH(f, 0, 9), 50);
	/* the others sent: only the re-queued one is left */
	for (size_t i = 1; i < d.n; i++) {
		sending(f, d.ids[i], "zns", 3100);
		outcome(f, d.ids[i], DS_SENT, 0, 3200);
	}
	assert_int_equal(DEPTH(f, 0, 1), 3000);
	/* in flight: nothing waits; after a crash, from the recovery */
	sending(f, d.ids[0], "zns", 3300);
	assert_int_equal(DEPTH(f, 0, 0), 0);
	assert_int_equal(store_delivery_recover(f->s, 4000), 1);
	assert_int_equal(DEPTH(f, 0, 1), 4000);
	/* a retry due later: waiting since the attempt */
	sending(f, d.ids[0], "zns", 4100);
	outcome(f, d.ids[0], DS_QUEUED, 60000, 4200);
	assert_int_equal(DEPTH(f, 0, 1), 4200);

	/* a paused broadcast's deliveries stay queued: they count, in the
	 * depth and in oldest_ms alike */
	int64_t p = new_bcast(f, false, false, BS_ACTIVE, &wp);
	fill(f, &wp, false, 1000);
	assert_int_equal(store_broadcast_set_state(f->s, p, BS_PAUSED, 1100),
			 0);
	assert_int_equal(DEPTH(f, 0, 6), 1000);
	/* so do those of one awaiting approval (urgent) */
	int64_t a = new_bcast(f, true, true, BS_AWAITING, &wa);
	fill(f, &wa, true, 500);
	assert_int_equal(DEPTH(f, 9, 6), 500);
	assert_int_equal(store_broadcast_cancel_queued(f->s, a, 5000), 9);
	assert_int_equal(DEPTH(f, 0, 6), 1000);
	assert_int_equal(store_broadcast_cancel_queued(f->s, p, 5100), 5);
	assert_int_equal(DEPTH(f, 0, 1), 4200);
}

int main(void)
{
	log_set_level(LOG_LVL_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_insert_get_idem, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_materialise_chunks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_groups_reminder_due_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_due_phone_pos, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_requeue_and_list, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_recover_cancelled, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_household_ids_not_reused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_receipts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_replies_rsvp, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_household_history, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_depth_follows_changes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_depth_rollback, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_depth_other_connection,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_group_channel,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_oldest, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
