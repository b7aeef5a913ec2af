/* store-prune.c: retention (prune.h). Part of the store module.
 *
 * Each step is one short transaction: the summary of a broadcast, or at
 * most max_rows deletes, so that the loop (and every other writer) never
 * waits long behind it. The statements run an hour apart, a few hundred
 * times at most: they are prepared per step, not kept for the life of the
 * store (tens of microseconds each).
 *
 * Which broadcast: the partial index broadcasts_finished (finished_ms,
 * WHERE finished_ms > 0 AND pruned_ms IS NULL; schema 7) gives the oldest
 * finished one not pruned yet without reading the others. Its deliveries
 * come one by one from deliveries_broadcast, their attempts and receipts
 * from attempts_delivery and receipts_delivery: every delete is an index
 * lookup, whatever the size of the tables.
 */
#include <errno.h>
#include <jansson.h>

#include "loaxa/prune.h"
#include "loaxa/users.h"
#include "store-internal.h"

enum {
	PR_NEXT,
	PR_SUMMARY_SET,
	PR_SUMMARY_GET,
	PR_DL_NEXT,
	PR_AT_DEL,
	PR_RC_DEL,
	PR_DL_DEL,
	PR_DONE,
	PR_RC_BOUND,
	PR_RC_UNMATCHED,
	PR_MAX
};

static const char *const pr_sql[PR_MAX] = {
	/* done (4) or cancelled (3): a broadcast retried after it finished
	 * is active again, and waits for its new end */
	[PR_NEXT] =
		"SELECT id, summary IS NOT NULL FROM broadcasts"
		" WHERE finished_ms > 0 AND pruned_ms IS NULL"
		" AND finished_ms < ?1 AND state IN (3, 4)"
		" ORDER BY finished_ms, id LIMIT 1",
	[PR_SUMMARY_SET] =
		"UPDATE broadcasts SET summary = ?2"
		" WHERE id = ?1 AND summary IS NULL",
	[PR_SUMMARY_GET] = "SELECT summary FROM broadcasts WHERE id = ?1",
	[PR_DL_NEXT] = "SELECT id FROM deliveries WHERE broadcast_id = ?1"
		       " LIMIT 1",
	[PR_AT_DEL] =
		"DELETE FROM attempts WHERE id IN (SELECT id FROM attempts"
		" WHERE delivery_id = ?1 LIMIT ?2)",
	[PR_RC_DEL] =
		"DELETE FROM receipts WHERE id IN (SELECT id FROM receipts"
		" WHERE delivery_id = ?1 LIMIT ?2)",
	[PR_DL_DEL] = "DELETE FROM deliveries WHERE id = ?1",
	[PR_DONE] = "UPDATE broadcasts SET pruned_ms = ?2 WHERE id = ?1",
	/* Receipts are inserted with received_ms = now, so ids grow with
	 * time: the first one received at or after the cutoff bounds the
	 * scan for old unmatched ones to the old rows. */
	[PR_RC_BOUND] =
		"SELECT id FROM receipts WHERE received_ms >= ?1"
		" ORDER BY id LIMIT 1",
	[PR_RC_UNMATCHED] =
		"DELETE FROM receipts WHERE id IN (SELECT id FROM receipts"
		" WHERE id < ?2 AND delivery_id IS NULL AND received_ms < ?1"
		" ORDER BY id LIMIT ?3)",
};

struct pr {
	struct store *s;
	sqlite3_stmt *st[PR_MAX];
};

static void pr_done(struct pr *p)
{
	for (size_t i = 0; i < PR_MAX; i++)
		sqlite3_finalize(p->st[i]);
}

/* The statement, prepared on first use in this step, reset. */
static int pr_stmt(struct pr *p, int which, sqlite3_stmt **ret)
{
	sqlite3_stmt **st = &p->st[which];
	if (!*st) {
		int rc = sqlite3_prepare_v3(p->s->db, pr_sql[which], -1, 0,
					    st, NULL);
		if (rc != SQLITE_OK) {
			*st = NULL;
			return store__fail(p->s, NULL, rc);
		}
	} else {
		sqlite3_reset(*st);
		sqlite3_clear_bindings(*st);
	}
	*ret = *st;
	return 0;
}

/* Run a statement binding integers; 1 = a row, 0 = done, -errno. */
static int pr_run(struct pr *p, int which, sqlite3_stmt **ret, int n,
		  const int64_t *args)
{
	sqlite3_stmt *st;
	int r = pr_stmt(p, which, &st);
	if (r < 0)
		return r;
	int rc = SQLITE_OK;
	for (int i = 0; i < n; i++)
		store__bind_i64(st, i + 1, args[i], &rc);
	r = store__bind_check(p->s, st, rc);
	if (r == 0)
		r = store__step(p->s, st);
	if (ret)
		*ret = st;
	return r;
}

/* A delete: the number of rows it removed, or -errno. */
static int64_t pr_delete(struct pr *p, int which, int n, const int64_t *args)
{
	int r = pr_run(p, which, NULL, n, args);
	if (r < 0)
		return r;
	return sqlite3_changes64(p->s->db);
}

/* ---- the summary ---- */

struct counts_ctx {
	json_t *o;
	bool nested;
};

/* As the API counts (api.c): {"sent":3,...}, or by key when nested. */
static int counts_cb(const char *key, enum delivery_status st, int64_t n,
		     void *ud)
{
	struct counts_ctx *c = ud;
	json_t *o = c->o;
	if (c->nested) {
		o = json_object_get(c->o, key);
		if (!o) {
			o = json_object();
			if (!o || json_object_set_new(c->o, key, o) < 0)
				return -ENOMEM;
		}
	}
	return json_object_set_new(o, delivery_status_name(st),
				   json_integer(n)) < 0 ? -ENOMEM : 0;
}

static int set_new(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v) < 0 ? -ENOMEM : 0;
}

static int summary_build(struct store *s, int64_t id, int64_t now_ms,
			 char **ret)
{
	struct broadcast b = { 0 };
	int r = store_broadcast_get(s, id, &b);
	if (r < 0)
		return r;
	enum bcast_kind kind = b.kind;
	broadcast_clear(&b);

	json_t *o = json_object(), *counts = json_object(),
	       *bg = json_object(), *bch = json_object();
	r = o && counts && bg && bch ? 0 : -ENOMEM;
	for (int k = 0; r == 0 && k < DS_MAX; k++)
		r = set_new(counts, delivery_status_name(k), json_integer(0));
	struct counts_ctx cc = { .o = counts };
	if (r == 0)
		r = store_broadcast_counts(s, id, COUNT_BY_STATUS, counts_cb,
					   &cc);
	cc = (struct counts_ctx){ .o = bg, .nested = true };
	if (r == 0)
		r = store_broadcast_counts(s, id, COUNT_BY_GROUP, counts_cb,
					   &cc);
	cc = (struct counts_ctx){ .o = bch, .nested = true };
	if (r == 0)
		r = store_broadcast_counts(s, id, COUNT_BY_CHANNEL, counts_cb,
					   &cc);
	int64_t total = 0, fin = 0, unc = 0, started = 0, yes = 0, no = 0;
	const char *key;
	json_t *v;
	json_object_foreach(counts, key, v) {
		total += json_integer_value(v);
		if (!streq(key, "queued") && !streq(key, "sending"))
			fin += json_integer_value(v);
	}
	/* Every send is older than the cutoff, so older than the API's
	 * "unconfirmed after" too: no receipt now means none ever. */
	if (r == 0)
		r = store_broadcast_unconfirmed(s, id, now_ms, &unc);
	if (r == 0)
		r = store_broadcast_started(s, id, &started);
	if (r == 0 && kind == BK_MEETING)
		r = store_rsvp_counts(s, id, &yes, &no);
	if (r == 0)
		r = set_new(o, "counts", json_incref(counts));
	if (r == 0)
		r = set_new(o, "progress", json_pack(
			"{s:I,s:I,s:f}", "total", (json_int_t)total, "final",
			(json_int_t)fin, "percent", total ? (double)fin *
			100.0 / (double)total : 0.0));
	if (r == 0)
		r = set_new(o, "unconfirmed", json_integer(unc));
	if (r == 0)
		r = set_new(o, "started_ms", started ? json_integer(started) :
						      json_null());
	if (r == 0 && kind == BK_MEETING)
		r = set_new(o, "rsvp", json_pack("{s:I,s:I}", "yes",
						 (json_int_t)yes, "no",
						 (json_int_t)no));
	if (r == 0)
		r = set_new(o, "by_group", json_incref(bg));
	if (r == 0)
		r = set_new(o, "by_channel", json_incref(bch));
	if (r == 0)
		r = set_new(o, "pruned_ms", json_integer(now_ms));
	char *text = NULL;
	if (r == 0) {
		text = json_dumps(o, JSON_COMPACT);
		if (!text)
			r = -ENOMEM;
	}
	json_decref(o);
	json_decref(counts);
	json_decref(bg);
	json_decref(bch);
	if (r == 0)
		*ret = text;
	return r;
}

static int summary_store(struct pr *p, int64_t id, int64_t now_ms)
{
	_cleanup_free_ char *json = NULL;
	int r = summary_build(p->s, id, now_ms, &json);
	if (r < 0)
		return r;
	sqlite3_stmt *st;
	r = pr_stmt(p, PR_SUMMARY_SET, &st);
	if (r < 0)
		return r;
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, id, &rc);
	store__bind_str(st, 2, json, &rc);
	r = store__bind_check(p->s, st, rc);
	if (r == 0)
		r = store__exec(p->s, st);
	sqlite3_reset(st);  /* json goes out of scope */
	return r;
}

/* ---- deleting ---- */

struct step_out {
	int64_t deliveries, attempts, receipts, unmatched, sessions;
	bool done;
};

/* Up to max_rows rows of broadcast id, delivery by delivery: its attempts,
 * its receipts, itself. A delivery cut short by the limit keeps its row
 * and the rest of its attempts or receipts for the next step. */
static int delete_rows(struct pr *p, int64_t id, unsigned max_rows,
		       int64_t now_ms, struct step_out *out)
{
	int64_t budget = max_rows;
	for (;;) {
		sqlite3_stmt *st;
		int64_t bid = id;
		int r = pr_run(p, PR_DL_NEXT, &st, 1, &bid);
		if (r < 0)
			return r;
		if (r == 0) {
			int64_t args[] = { id, now_ms };
			r = pr_run(p, PR_DONE, NULL, 2, args);
			if (r < 0)
				return r;
			out->done = true;
			return 0;
		}
		int64_t did = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (budget <= 0)
			return 0;
		int64_t args[] = { did, budget };
		int64_t n = pr_delete(p, PR_AT_DEL, 2, args);
		if (n < 0)
			return (int)n;
		out->attempts += n;
		budget -= n;
		if (budget <= 0)
			return 0;
		args[1] = budget;
		n = pr_delete(p, PR_RC_DEL, 2, args);
		if (n < 0)
			return (int)n;
		out->receipts += n;
		budget -= n;
		if (budget <= 0)
			return 0;
		n = pr_delete(p, PR_DL_DEL, 1, &did);
		if (n < 0)
			return (int)n;
		out->deliveries += n;
		budget -= n;
	}
}

static int delete_unmatched(struct pr *p, int64_t cutoff_ms,
			    unsigned max_rows, struct step_out *out)
{
	sqlite3_stmt *st;
	int r = pr_run(p, PR_RC_BOUND, &st, 1, &cutoff_ms);
	if (r < 0)
		return r;
	int64_t bound = r > 0 ? sqlite3_column_int64(st, 0) : INT64_MAX;
	sqlite3_reset(st);
	int64_t args[] = { cutoff_ms, bound, max_rows };
	int64_t n = pr_delete(p, PR_RC_UNMATCHED, 3, args);
	if (n < 0)
		return (int)n;
	out->unmatched = n;
	return 0;
}

static int step(struct pr *p, int64_t cutoff_ms, unsigned max_rows,
		int64_t now_ms, int64_t *ret_id, struct step_out *out,
		bool *ret_more)
{
	sqlite3_stmt *st;
	int r = pr_run(p, PR_NEXT, &st, 1, &cutoff_ms);
	if (r < 0)
		return r;
	if (r > 0) {
		int64_t id = sqlite3_column_int64(st, 0);
		bool has_summary = sqlite3_column_int(st, 1) != 0;
		sqlite3_reset(st);
		*ret_id = id;
		*ret_more = true;
		/* the summary first, from every row, in a step of its own */
		if (!has_summary)
			return summary_store(p, id, now_ms);
		return delete_rows(p, id, max_rows, now_ms, out);
	}
	*ret_id = 0;
	r = delete_unmatched(p, cutoff_ms, max_rows, out);
	if (r < 0)
		return r;
	if (out->unmatched >= max_rows) {
		*ret_more = true;
		return 0;
	}
	*ret_more = false;
	return store_session_prune(p->s, now_ms, &out->sessions);
}

int store_prune_step(struct store *s, int64_t cutoff_ms, unsigned max_rows,
		     int64_t now_ms, struct prune_stats *st, bool *ret_more)
{
	if (fails_assert(s && st && ret_more))
		return -EINVAL;
	if (max_rows == 0)
		max_rows = 1;
	int r = store_begin(s);
	if (r < 0)
		return r;
	struct pr p = { .s = s };
	struct step_out out = { 0 };
	int64_t id = 0;
	bool more = false;
	r = step(&p, cutoff_ms, max_rows, now_ms, &id, &out, &more);
	pr_done(&p);
	if (r < 0) {
		store_rollback(s);
		return r;
	}
	r = store_commit(s);
	if (r < 0)
		return r;
	if (id != st->broadcast_id) {
		st->broadcast_id = id;
		st->deliveries = st->attempts = st->receipts = 0;
	}
	st->deliveries += out.deliveries;
	st->attempts += out.attempts;
	st->receipts += out.receipts;
	st->broadcast_done = out.done;
	st->broadcasts += out.done;
	st->unmatched_receipts += out.unmatched;
	st->sessions += out.sessions;
	*ret_more = more;
	return 0;
}

int store_prune_summary(struct store *s, int64_t id, char **ret_json)
{
	if (fails_assert(s && ret_json))
		return -EINVAL;
	struct pr p = { .s = s };
	sqlite3_stmt *st;
	int r = pr_run(&p, PR_SUMMARY_GET, &st, 1, &id);
	if (r > 0) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		if (!text) {
			r = -ENOENT;
		} else {
			char *copy = strdup(text);
			r = copy ? 0 : -ENOMEM;
			if (copy)
				*ret_json = copy;
		}
	} else if (r == 0) {
		r = -ENOENT;
	}
	pr_done(&p);
	return r;
}
