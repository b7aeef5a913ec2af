/* store-metrics.c: the scans behind /metrics (see store.h, "metrics").
 * Part of the store module. Its statements are prepared on first use, not
 * at open: a daemon nobody scrapes never pays for them; they are finalized
 * by store__metrics_close() from store__bcast_close().
 *
 * Cost on 1,000,000 deliveries (tests/unit/test-metrics.c measures it):
 * the deliveries scan reads every row once in rowid order, no temporary
 * b-tree. Attempts and receipts are read from a rowid range, so after the
 * first call only the rows added since cost anything. */
#include <errno.h>

#include "store-internal.h"

enum {
	MS_DELIVERIES,
	MS_ATTEMPTS_LAST,
	MS_ATTEMPTS,
	MS_RECEIPTS_LAST,
	MS_RECEIPTS,
	MS_BROADCASTS,
	MS_MAX
};

static const char *const ms_sql[MS_MAX] = {
	[MS_DELIVERIES] =
		"SELECT channel, status, sent_ms, delivered_ms FROM deliveries",
	[MS_ATTEMPTS_LAST] = "SELECT coalesce(max(id), 0) FROM attempts",
	[MS_ATTEMPTS] =
		"SELECT channel, outcome, code FROM attempts"
		" WHERE id > ?1 AND id <= ?2 ORDER BY id",
	[MS_RECEIPTS_LAST] = "SELECT coalesce(max(id), 0) FROM receipts",
	[MS_RECEIPTS] =
		"SELECT provider, kind, outcome FROM receipts"
		" WHERE id > ?1 AND id <= ?2 ORDER BY id",
	[MS_BROADCASTS] =
		"SELECT state, count(*) FROM broadcasts GROUP BY state",
};

struct store_metrics {
	sqlite3_stmt *st[MS_MAX];
};

void store__metrics_close(struct store *s)
{
	if (!s->metrics)
		return;
	for (size_t i = 0; i < MS_MAX; i++)
		sqlite3_finalize(s->metrics->st[i]);
	free(s->metrics);
	s->metrics = NULL;
}

/* The statement, prepared on first use. */
static int ms_stmt(struct store *s, int which, sqlite3_stmt **ret)
{
	if (!s->metrics) {
		s->metrics = calloc(1, sizeof *s->metrics);
		if (!s->metrics)
			return -ENOMEM;
	}
	sqlite3_stmt **st = &s->metrics->st[which];
	if (!*st) {
		int rc = sqlite3_prepare_v3(s->db, ms_sql[which], -1,
					    SQLITE_PREPARE_PERSISTENT, st,
					    NULL);
		if (rc != SQLITE_OK) {
			*st = NULL;
			return store__fail(s, NULL, rc);
		}
	}
	*ret = *st;
	return 0;
}

static int64_t col_i64(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 :
	       sqlite3_column_int64(st, i);
}

int store_metrics_deliveries(struct store *s,
			     int (*cb)(const char *channel,
				       enum delivery_status st,
				       int64_t sent_ms, int64_t delivered_ms,
				       void *ud),
			     void *ud)
{
	sqlite3_stmt *raw;
	int r = ms_stmt(s, MS_DELIVERIES, &raw);
	if (r < 0)
		return r;
	_cleanup_stmt_ sqlite3_stmt *st = raw;
	while ((r = store__step(s, st)) > 0) {
		r = cb((const char *)sqlite3_column_text(st, 0),
		       (enum delivery_status)sqlite3_column_int(st, 1),
		       col_i64(st, 2), col_i64(st, 3), ud);
		if (r)
			return r;
	}
	return r;
}

/* The largest id of a table now (0 when empty). */
static int last_id(struct store *s, int which, int64_t *ret)
{
	sqlite3_stmt *raw;
	int r = ms_stmt(s, which, &raw);
	if (r < 0)
		return r;
	_cleanup_stmt_ sqlite3_stmt *st = raw;
	r = store__step(s, st);
	if (r < 0)
		return r;
	*ret = r > 0 ? sqlite3_column_int64(st, 0) : 0;
	return 0;
}

/* Prepare and bind a range scan (after_id, *ret_last_id]; *ret_st is NULL
 * when there is nothing to read. */
static int range_open(struct store *s, int which_last, int which,
		      int64_t after_id, int64_t *ret_last_id,
		      sqlite3_stmt **ret_st)
{
	int64_t last;
	int r = last_id(s, which_last, &last);
	if (r < 0)
		return r;
	*ret_last_id = last;
	*ret_st = NULL;
	if (last <= after_id)
		return 0;
	sqlite3_stmt *st;
	r = ms_stmt(s, which, &st);
	if (r < 0)
		return r;
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, after_id, &rc);
	store__bind_i64(st, 2, last, &rc);
	r = store__bind_check(s, st, rc);
	if (r < 0) {
		store__stmt_donep(&st);
		return r;
	}
	*ret_st = st;
	return 0;
}

int store_metrics_attempts(struct store *s, int64_t after_id,
			   int64_t *ret_last_id,
			   int (*cb)(const char *channel, int outcome,
				     const char *code, void *ud),
			   void *ud)
{
	sqlite3_stmt *raw;
	int64_t last;
	int r = range_open(s, MS_ATTEMPTS_LAST, MS_ATTEMPTS, after_id, &last,
			   &raw);
	if (r < 0)
		return r;
	_cleanup_stmt_ sqlite3_stmt *st = raw;
	while (st && (r = store__step(s, st)) > 0) {
		const char *ch = (const char *)sqlite3_column_text(st, 0);
		int outcome = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 :
			      sqlite3_column_int(st, 1);
		r = cb(ch ? ch : "", outcome,
		       (const char *)sqlite3_column_text(st, 2), ud);
		if (r)
			return r;
	}
	if (r < 0)
		return r;
	*ret_last_id = last;
	return 0;
}

int store_metrics_receipts(struct store *s, int64_t after_id,
			   int64_t *ret_last_id,
			   int (*cb)(int provider, enum receipt_kind kind,
				     enum receipt_outcome outcome, void *ud),
			   void *ud)
{
	sqlite3_stmt *raw;
	int64_t last;
	int r = range_open(s, MS_RECEIPTS_LAST, MS_RECEIPTS, after_id, &last,
			   &raw);
	if (r < 0)
		return r;
	_cleanup_stmt_ sqlite3_stmt *st = raw;
	while (st && (r = store__step(s, st)) > 0) {
		r = cb(sqlite3_column_int(st, 0),
		       (enum receipt_kind)sqlite3_column_int(st, 1),
		       (enum receipt_outcome)sqlite3_column_int(st, 2), ud);
		if (r)
			return r;
	}
	if (r < 0)
		return r;
	*ret_last_id = last;
	return 0;
}

int store_metrics_broadcasts(struct store *s, int64_t ret[BS_MAX])
{
	sqlite3_stmt *raw;
	int r = ms_stmt(s, MS_BROADCASTS, &raw);
	if (r < 0)
		return r;
	_cleanup_stmt_ sqlite3_stmt *st = raw;
	int64_t n[BS_MAX] = { 0 };
	while ((r = store__step(s, st)) > 0) {
		int64_t state = sqlite3_column_int64(st, 0);
		if (state >= 0 && state < BS_MAX)
			n[state] = sqlite3_column_int64(st, 1);
	}
	if (r < 0)
		return r;
	memcpy(ret, n, sizeof n);
	return 0;
}
