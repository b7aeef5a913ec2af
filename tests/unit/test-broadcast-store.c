/* test-broadcast-store: broadcasts, waves and deliveries over a real SQLite
 * file: materialisation in chunks, skipped opt-outs, reminder waves, the
 * due queue, crash recovery, cancel, requeue, counts, tokens. */
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
	/* filter by group and paging */
	fl = (struct delivery_filter){ .broadcast_id = id, .status = -1,
				       .group_id = f->g2, .limit = 3 };
	rc = (struct row_ctx){ 0 };
	assert_int_equal(store_delivery_list(f->s, &fl, row_cb, &rc), 0);
	assert_int_equal(rc.n, 3);
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
		cmocka_unit_test_setup_teardown(test_requeue_and_list, setup,
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
