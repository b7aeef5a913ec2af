/* metrics.h: loaxad's figures in the Prometheus text exposition format
 * (version 0.0.4), for GET /metrics on the control API (and, with
 * [webhooks] metrics = yes, on the webhook listener).
 *
 * Two sources:
 *  - the database: deliveries by status and channel, attempts by outcome,
 *    errors by provider code, receipts, broadcasts by state, households,
 *    and the receipt latency histogram (delivered_ms - sent_ms);
 *  - the engine's memory: channel states, requests in flight, rate-limit
 *    waits (since start), queue depth by priority, token expiry.
 *
 * Every family is prefixed loaxa_ and has HELP and TYPE lines. Label
 * values are escaped (backslash, quote, newline), cut to 64 bytes and made
 * valid UTF-8. "none" labels deliveries not yet tried on any channel and
 * attempts or errors without an outcome or code; beyond 64 channels the
 * rest count as channel "other", beyond 50 distinct error codes on a
 * channel (the first 50 seen, so that no series ever moves) as code
 * "other".
 *
 * Cost: attempts and receipts are only ever inserted, so their counters
 * live in struct metrics and each scrape reads only the rows added since
 * the previous one. Deliveries change in place and are counted by a full
 * scan (150-300 ms per million rows). Its result is reused for 20 times
 * as long as the scan took, at most 30 s (metrics_set_cache), so scrapes
 * never take more than about 5% of the loop, and a small database is
 * always exact. loaxa_metrics_scan_seconds and
 * loaxa_metrics_scan_age_seconds show what a scrape got.
 */
#ifndef LOAXA_METRICS_H
#define LOAXA_METRICS_H

#include <stdint.h>

#include "loaxa/engine.h"
#include "loaxa/store.h"
#include "loaxa/util.h"

/* The Content-Type of what metrics_render writes. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* A struct buf maximum that holds the largest possible answer. */
#define METRICS_BUF_MAX (4u << 20)

/* Counters and the cached scan; one per store, used on the loop only. */
struct metrics;

int metrics_new(struct metrics **ret);
struct metrics *metrics_free(struct metrics *m);

/* Append the exposition for store s and engine e (NULL: no engine
 * families; the queue depth then comes from the store) to out. Returns 0,
 * or -errno (a store error, or -E2BIG when out's maximum is too small):
 * then out is left as it was. */
int metrics_render(struct metrics *m, struct store *s, struct engine *e,
		   struct buf *out);

/* The same with the engine's status given (NULL: none) and the wall
 * clock now_ms, for tests. */
int metrics_render_status(struct metrics *m, struct store *s,
			  const struct engine_status *es, int64_t now_ms,
			  struct buf *out);

/* Reuse the deliveries scan for clamp(20 x its duration, min_ms, max_ms)
 * (default 0 and 30000). */
void metrics_set_cache(struct metrics *m, uint32_t min_ms, uint32_t max_ms);

#endif
