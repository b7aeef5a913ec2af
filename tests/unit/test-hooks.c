/* test-hooks: the event hook's outbox in the store (events written with
 * the changes they report, only when enabled; summaries for bulk changes;
 * head/next/retry/delete), the signature and the backoff. */
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

#include "loaxa/hooks.h"
#include "loaxa/log.h"
#include "loaxa/store.h"

struct fx {
	char dir[64], db[128];
	struct store *s;
	int64_t g, bid, hh[4];
	struct wave w;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/loaxa-test-hooks.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof f->db, "%s/loaxa.db", f->dir);
	char err[256];
	assert_int_equal(store_open(f->db, &f->s, err, sizeof err), 0);
	assert_int_equal(store_group_insert(f->s, "2A", "Nhóm 2A", false,
					    &f->g), 0);
	for (int i = 0; i < 4; i++) {
		struct household h = { .group_id = f->g, .created_ms = 1,
				       .updated_ms = 1, .nphones = 1 };
		h.name = strdup("Hộ");
		snprintf(h.phones[0], sizeof h.phones[0], "+8491200000%d", i);
		assert_int_equal(store_household_insert(f->s, &h), 0);
		f->hh[i] = h.id;
		household_clear(&h);
	}
	struct broadcast b = { .kind = BK_NOTICE, .state = BS_ACTIVE,
			       .send_at_ms = 1000, .expires_ms = 10000,
			       .created_ms = 1, .all_groups = true };
	b.title = strdup("Thông báo");
	f->w = (struct wave){ .seq = 0, .send_at_ms = 1000,
			      .expires_ms = 10000 };
	int64_t existing;
	assert_int_equal(store_broadcast_insert(f->s, &b, &f->w, 1,
						&existing), 0);
	f->bid = b.id;
	broadcast_clear(&b);
	bool done;
	assert_int_equal(store_wave_materialise(f->s, &f->w, true, false, 100,
						50, &done), 0);
	assert_int_equal(f->w.total, 4);
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

struct ids {
	size_t n;
	int64_t id[16];
};

static int ids_cb(const struct delivery *d, void *ud)
{
	struct ids *x = ud;
	if (x->n < 16)
		x->id[x->n++] = d->id;
	return 0;
}

static void send_one(struct fx *f, int64_t id, enum delivery_status st,
		     int64_t now)
{
	assert_int_equal(store_delivery_mark_sending(f->s, id, 0, "zns",
						     "+84912000000", now), 0);
	struct delivery_update u = { .id = id, .status = st, .attempts = 1,
				     .msg_id = "m", .code = "0",
				     .sms_encoding = -1, .now_ms = now,
				     .channel = "zns", .outcome = 0 };
	assert_int_equal(store_delivery_update(f->s, &u), 0);
}

struct evs {
	size_t n;
	int64_t id[32];
	json_t *ev[32];
	int attempts[32];
	int64_t next_at[32];
};

static int ev_cb(const struct hook_event_row *e, void *ud)
{
	struct evs *x = ud;
	assert_true(x->n < 32);
	x->id[x->n] = e->id;
	x->attempts[x->n] = e->attempts;
	x->next_at[x->n] = e->next_at_ms;
	x->ev[x->n] = json_loads(e->body, 0, NULL);
	assert_non_null(x->ev[x->n]);
	x->n++;
	return 0;
}

static void evs_free(struct evs *x)
{
	for (size_t i = 0; i < x->n; i++)
		json_decref(x->ev[i]);
	x->n = 0;
}

static const char *ev_str(json_t *e, const char *k)
{
	json_t *v = json_object_get(e, k);
	return json_is_string(v) ? json_string_value(v) : "(none)";
}

static int64_t ev_int(json_t *e, const char *k)
{
	json_t *v = json_object_get(e, k);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

static void test_off_by_default(void **state)
{
	struct fx *f = *state;
	struct ids d = { 0 };
	assert_int_equal(store_delivery_due(f->s, f->w.id, 2000, 16, ids_cb,
					    &d), 0);
	send_one(f, d.id[0], DS_SENT, 2000);
	int64_t n = -1;
	assert_int_equal(store_hook_outbox_count(f->s, &n), 0);
	assert_int_equal(n, 0);
	int64_t next;
	assert_int_equal(store_hook_outbox_next(f->s, &next), -ENOENT);
	assert_int_equal(store_broadcast_cancel_queued(f->s, f->bid, 2100), 3);
	assert_int_equal(store_hook_outbox_count(f->s, &n), 0);
	assert_int_equal(n, 0);
}

static void test_events(void **state)
{
	struct fx *f = *state;
	store_set_hook_enabled(f->s, true);
	struct ids d = { 0 };
	assert_int_equal(store_delivery_due(f->s, f->w.id, 2000, 16, ids_cb,
					    &d), 0);
	assert_int_equal(d.n, 4);
	send_one(f, d.id[0], DS_SENT, 2000);
	send_one(f, d.id[1], DS_FAILED, 2001);
	/* a retry back to the queue is not reported */
	assert_int_equal(store_delivery_mark_sending(f->s, d.id[2], 0, "zns",
						     "x", 2002), 0);
	struct delivery_update u = { .id = d.id[2], .status = DS_QUEUED,
				     .next_at_ms = 3000, .sms_encoding = -1,
				     .now_ms = 2002, .outcome = -1 };
	assert_int_equal(store_delivery_update(f->s, &u), 0);
	/* a receipt: sent -> delivered, then a duplicate (no event) */
	char tr[32];
	snprintf(tr, sizeof tr, "loaxa-%lld", (long long)d.id[0]);
	struct receipt_in rc = { .kind = RK_DELIVERED, .tracking_id = tr,
				 .now_ms = 2500 };
	enum receipt_outcome o;
	assert_int_equal(store_receipt_apply(f->s, &rc, &o, NULL), 0);
	assert_int_equal(o, RO_APPLIED);
	assert_int_equal(store_receipt_apply(f->s, &rc, &o, NULL), 0);
	assert_int_equal(o, RO_DUPLICATE);
	/* bulk: one summary */
	assert_int_equal(store_broadcast_cancel_queued(f->s, f->bid, 2600), 2);
	assert_int_equal(store_broadcast_requeue_failed(f->s, f->bid, 2700),
			 1);
	assert_int_equal(store_wave_expire(f->s, f->w.id, 2800), 1);
	assert_int_equal(store_wave_expire(f->s, f->w.id, 2900), 0);

	struct evs e = { 0 };
	assert_int_equal(store_hook_outbox_head(f->s, 0, ev_cb, &e), 0);
	assert_int_equal(e.n, 6);
	for (size_t i = 0; i < e.n; i++) {
		assert_string_equal(ev_str(e.ev[i], "event"),
				    "delivery.status");
		assert_int_equal(ev_int(e.ev[i], "broadcast_id"), f->bid);
		assert_null(json_object_get(e.ev[i], "phone"));
		assert_null(json_object_get(e.ev[i], "recipient"));
		assert_int_equal(e.attempts[i], 0);
		if (i)
			assert_true(e.id[i] > e.id[i - 1]);
	}
	assert_string_equal(ev_str(e.ev[0], "status"), "sent");
	assert_int_equal(ev_int(e.ev[0], "delivery_id"), d.id[0]);
	assert_string_equal(ev_str(e.ev[0], "channel"), "zns");
	assert_string_equal(ev_str(e.ev[0], "code"), "0");
	assert_int_equal(ev_int(e.ev[0], "at_ms"), 2000);
	assert_true(ev_int(e.ev[0], "household_id") > 0);
	assert_int_equal(e.next_at[0], 2000);
	assert_string_equal(ev_str(e.ev[1], "status"), "failed");
	assert_int_equal(ev_int(e.ev[1], "delivery_id"), d.id[1]);
	assert_string_equal(ev_str(e.ev[2], "status"), "delivered");
	assert_int_equal(ev_int(e.ev[2], "delivery_id"), d.id[0]);
	assert_string_equal(ev_str(e.ev[3], "status"), "cancelled");
	assert_int_equal(ev_int(e.ev[3], "count"), 2);
	assert_null(json_object_get(e.ev[3], "delivery_id"));
	assert_string_equal(ev_str(e.ev[4], "status"), "queued");
	assert_int_equal(ev_int(e.ev[4], "count"), 1);
	assert_string_equal(ev_str(e.ev[5], "status"), "expired");
	assert_int_equal(ev_int(e.ev[5], "count"), 1);
	assert_int_equal(ev_int(e.ev[5], "at_ms"), 2800);
	int64_t first = e.id[0], last = e.id[5];
	evs_free(&e);

	/* a failed batch: attempts counted, next_at moved; then sent */
	int64_t next;
	assert_int_equal(store_hook_outbox_next(f->s, &next), 0);
	assert_int_equal(next, 2000);
	assert_int_equal(store_hook_outbox_retry(f->s, first, first + 1,
						 9000), 2);
	assert_int_equal(store_hook_outbox_next(f->s, &next), 0);
	assert_int_equal(next, 9000);
	assert_int_equal(store_hook_outbox_head(f->s, 2, ev_cb, &e), 0);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.attempts[0], 1);
	assert_int_equal(e.attempts[1], 1);
	evs_free(&e);
	assert_int_equal(store_hook_outbox_delete(f->s, first, first + 2), 3);
	int64_t n;
	assert_int_equal(store_hook_outbox_count(f->s, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_hook_outbox_delete(f->s, first, last), 3);
	assert_int_equal(store_hook_outbox_next(f->s, &next), -ENOENT);
	/* ids are never reused, even once the outbox is empty */
	int64_t id;
	assert_int_equal(store_hook_outbox_add(f->s, "{\"event\":\"x\"}",
					       5000, &id), 0);
	assert_true(id > last);
	assert_int_equal(store_hook_outbox_add(f->s, NULL, 5000, &id),
			 -EINVAL);

	/* off again: nothing more recorded */
	store_set_hook_enabled(f->s, false);
	rc.kind = RK_READ;
	assert_int_equal(store_receipt_apply(f->s, &rc, &o, NULL), 0);
	assert_int_equal(o, RO_APPLIED);
	assert_int_equal(store_hook_outbox_count(f->s, &n), 0);
	assert_int_equal(n, 1);
}

/* An event is part of the change's transaction: rolled back with it. */
static void test_atomic(void **state)
{
	struct fx *f = *state;
	store_set_hook_enabled(f->s, true);
	struct ids d = { 0 };
	assert_int_equal(store_delivery_due(f->s, f->w.id, 2000, 16, ids_cb,
					    &d), 0);
	assert_int_equal(store_begin(f->s), 0);
	send_one(f, d.id[0], DS_SENT, 2000);
	int64_t n;
	assert_int_equal(store_hook_outbox_count(f->s, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_rollback(f->s), 0);
	assert_int_equal(store_hook_outbox_count(f->s, &n), 0);
	assert_int_equal(n, 0);
	/* and it survives a reopen */
	send_one(f, d.id[0], DS_SENT, 2000);
	store_close(f->s);
	char err[256];
	assert_int_equal(store_open(f->db, &f->s, err, sizeof err), 0);
	assert_int_equal(store_hook_outbox_count(f->s, &n), 0);
	assert_int_equal(n, 1);
}

/* Opted-out households are "skipped" when a wave is materialised: one
 * event each, whatever the chunks. */
static void test_skipped(void **state)
{
	struct fx *f = *state;
	assert_int_equal(store_household_set_opted_out(f->s, f->hh[1], true,
						       5), 0);
	assert_int_equal(store_household_set_opted_out(f->s, f->hh[2], true,
						       5), 0);
	store_set_hook_enabled(f->s, true);
	struct broadcast b = { .kind = BK_NOTICE, .state = BS_ACTIVE,
			       .send_at_ms = 1000, .expires_ms = 10000,
			       .created_ms = 1, .all_groups = true };
	b.title = strdup("Lần 2");
	struct wave w = { .seq = 0, .send_at_ms = 1000, .expires_ms = 10000 };
	int64_t existing;
	assert_int_equal(store_broadcast_insert(f->s, &b, &w, 1, &existing),
			 0);
	bool done = false;
	while (!done)
		assert_int_equal(store_wave_materialise(f->s, &w, true, false,
							2, 60, &done), 0);
	assert_int_equal(w.total, 4);
	struct evs e = { 0 };
	assert_int_equal(store_hook_outbox_head(f->s, 0, ev_cb, &e), 0);
	assert_int_equal(e.n, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(ev_str(e.ev[i], "status"), "skipped");
		assert_string_equal(ev_str(e.ev[i], "code"), "opted_out");
		assert_int_equal(ev_int(e.ev[i], "broadcast_id"), b.id);
		assert_int_equal(ev_int(e.ev[i], "household_id"), f->hh[1 + i]);
		assert_int_equal(ev_int(e.ev[i], "at_ms"), 60);
	}
	evs_free(&e);
	broadcast_clear(&b);
}

static void test_sign_backoff(void **state)
{
	(void)state;
	char sig[65];
	/* RFC 4231 test case 2 */
	const char *data = "what do ya want for nothing?";
	hooks_sign("Jefe", data, strlen(data), sig);
	assert_string_equal(sig, "5bdcc146bf60754e6a042426089575c75a003f08"
			    "9d2739839dec58b964ec3843");
	hooks_sign("Jefe", "", 0, sig);
	assert_int_equal(strlen(sig), 64);
	assert_int_equal(hooks_backoff_ms(0), 1000);
	assert_int_equal(hooks_backoff_ms(1), 2000);
	assert_int_equal(hooks_backoff_ms(5), 32000);
	assert_int_equal(hooks_backoff_ms(9), 512000);
	assert_int_equal(hooks_backoff_ms(10), 600000);
	assert_int_equal(hooks_backoff_ms(1000000), 600000);
}

int main(void)
{
	log_set_level(LOG_LVL_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_off_by_default, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skipped, setup, teardown),
		cmocka_unit_test(test_sign_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
