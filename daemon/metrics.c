/* metrics.c: the Prometheus text exposition of loaxad (see metrics.h).
 *
 * State kept between scrapes, per store:
 *  - a table of channel names (at most METRICS_MAX_CHANNELS, then "other")
 *    holding each channel's attempt counters, its error codes (the first
 *    METRICS_MAX_CODES seen, then "other") and its delivery counts from the
 *    last scan;
 *  - the id of the last attempt and receipt counted, so that a scrape
 *    reads only the rows added since (both tables are insert-only);
 *  - the result of the last deliveries scan, its time and duration.
 *
 * The exposition is written family by family in a fixed order, channels
 * sorted by name, so that equal state gives byte-equal output.
 */
#include "loaxa/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "loaxa/channel.h"

#if defined(__has_include)
#if __has_include("config-build.h")
#include "config-build.h"
#endif
#endif
#ifndef LOAXA_VERSION
#define LOAXA_VERSION "unknown"
#endif

#define METRICS_MAX_CHANNELS 64
#define METRICS_MAX_CODES 50
#define METRICS_LABEL_MAX 64
/* The outcomes of attempts, and one more for "none" (no request made). */
#define METRICS_NOUTCOMES (CHO_MAX + 1)
/* A deliveries scan is reused for this many times its duration. */
#define METRICS_CACHE_FACTOR 20
#define METRICS_CACHE_MAX_MS 30000

/* Upper bounds of the receipt latency buckets; the last bucket is +Inf. */
static const int64_t latency_le_ms[] = {
	1000, 5000, 15000, 60000, 300000, 900000, 3600000,
};
#define NBUCKETS (ARRAY_SIZE(latency_le_ms) + 1)

#define NKINDS (RK_FAILED + 1)
#define NROUTCOMES (RO_UNKNOWN + 1)

struct mcode {
	char *code;
	int64_t n;
};

struct mchan {
	char *name;
	int64_t deliveries[DS_MAX];        /* from the last scan */
	int64_t attempts[METRICS_NOUTCOMES];
	struct mcode codes[METRICS_MAX_CODES];
	size_t ncodes;
	int64_t other_codes;
};

struct metrics {
	struct store *store;    /* the counters below are this store's */
	struct mchan chans[METRICS_MAX_CHANNELS + 1];   /* + "other" */
	size_t nchans;
	size_t hint;            /* the channel found last */
	int64_t attempts_after, receipts_after;
	/* [provider; CHD_MAX = unknown][kind][outcome] */
	int64_t receipts[CHD_MAX + 1][NKINDS][NROUTCOMES];
	/* the deliveries scan */
	bool scanned;
	uint64_t scan_at_us, scan_took_us;     /* monotonic */
	int64_t buckets[NBUCKETS];              /* not cumulative */
	int64_t latency_count, latency_sum_ms;
	uint32_t cache_min_ms, cache_max_ms;
};

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int metrics_new(struct metrics **ret)
{
	struct metrics *m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	m->cache_max_ms = METRICS_CACHE_MAX_MS;
	*ret = m;
	return 0;
}

static void codes_clear(struct mchan *c)
{
	for (size_t i = 0; i < c->ncodes; i++)
		free(c->codes[i].code);
	c->ncodes = 0;
	c->other_codes = 0;
}

/* Forget everything read from the database. */
static void metrics_clear(struct metrics *m)
{
	for (size_t i = 0; i < m->nchans; i++) {
		codes_clear(&m->chans[i]);
		free(m->chans[i].name);
		m->chans[i] = (struct mchan){ 0 };
	}
	m->nchans = m->hint = 0;
	m->attempts_after = m->receipts_after = 0;
	memset(m->receipts, 0, sizeof m->receipts);
	m->scanned = false;
}

struct metrics *metrics_free(struct metrics *m)
{
	if (!m)
		return NULL;
	metrics_clear(m);
	free(m);
	return NULL;
}

void metrics_set_cache(struct metrics *m, uint32_t min_ms, uint32_t max_ms)
{
	m->cache_min_ms = min_ms;
	m->cache_max_ms = max_ms < min_ms ? min_ms : max_ms;
}

/* ---- label values ---- */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	if (c < 0x80)
		return 1;
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* Copy s into out (METRICS_LABEL_MAX + 1 bytes): at most METRICS_LABEL_MAX
 * bytes cut at a character boundary, control characters (but newline,
 * which label() escapes) and bytes that are not UTF-8 replaced by '?'. */
static void label_clean(const char *s, char *out)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t k = 0;
	while (*p && k < METRICS_LABEL_MAX) {
		size_t n = utf8_len(p);
		if (n == 0 || (n == 1 && ((*p < 0x20 && *p != '\n') ||
					  *p == 0x7f))) {
			out[k++] = '?';
			p++;
			continue;
		}
		if (k + n > METRICS_LABEL_MAX)
			break;
		memcpy(out + k, p, n);
		k += n;
		p += n;
	}
	out[k] = '\0';
}

/* ---- the channel table ---- */

/* The entry named name, or NULL; the hint first (rows come in runs). */
static struct mchan *chan_find(struct metrics *m, const char *name)
{
	if (m->nchans && strcmp(m->chans[m->hint].name, name) == 0)
		return &m->chans[m->hint];
	for (size_t i = 0; i < m->nchans; i++)
		if (strcmp(m->chans[i].name, name) == 0) {
			m->hint = i;
			return &m->chans[i];
		}
	return NULL;
}

static int chan_get(struct metrics *m, const char *raw, struct mchan **ret)
{
	if (!raw || !*raw)
		raw = "none";
	/* a clean name is its own label: clean only what is not found */
	if ((*ret = chan_find(m, raw)))
		return 0;
	char name[METRICS_LABEL_MAX + 1];
	label_clean(raw, name);
	if ((*ret = chan_find(m, name)))
		return 0;
	if (m->nchans >= METRICS_MAX_CHANNELS && strcmp(name, "other") != 0)
		return chan_get(m, "other", ret);
	if (fails_assert(m->nchans < ARRAY_SIZE(m->chans)))
		return -ENOSPC;
	char *copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	struct mchan *c = &m->chans[m->nchans];
	*c = (struct mchan){ .name = copy };
	m->hint = m->nchans++;
	*ret = c;
	return 0;
}

/* Count an error code of a channel: one of the first METRICS_MAX_CODES
 * seen, or "other". */
static struct mcode *code_find(struct mchan *c, const char *code)
{
	for (size_t i = 0; i < c->ncodes; i++)
		if (strcmp(c->codes[i].code, code) == 0)
			return &c->codes[i];
	return NULL;
}

static int code_count(struct mchan *c, const char *raw)
{
	if (!raw || !*raw)
		raw = "none";
	struct mcode *k = code_find(c, raw);
	char code[METRICS_LABEL_MAX + 1];
	if (!k) {
		label_clean(raw, code);
		k = code_find(c, code);
	}
	if (k) {
		k->n++;
		return 0;
	}
	if (c->ncodes == METRICS_MAX_CODES) {
		c->other_codes++;
		return 0;
	}
	char *copy = strdup(code);
	if (!copy)
		return -ENOMEM;
	c->codes[c->ncodes++] = (struct mcode){ .code = copy, .n = 1 };
	return 0;
}

/* ---- reading the database ---- */

static int attempt_cb(const char *channel, int outcome, const char *code,
		      void *ud)
{
	struct metrics *m = ud;
	struct mchan *c;
	int r = chan_get(m, channel, &c);
	if (r < 0)
		return r;
	size_t o = outcome >= 0 && outcome < CHO_MAX ? (size_t)outcome :
						       CHO_MAX;
	c->attempts[o]++;
	return o == CHO_ACCEPTED ? 0 : code_count(c, code);
}

static void attempts_clear(struct metrics *m)
{
	for (size_t i = 0; i < m->nchans; i++) {
		memset(m->chans[i].attempts, 0, sizeof m->chans[i].attempts);
		codes_clear(&m->chans[i]);
	}
	m->attempts_after = 0;
}

static int receipt_cb(int provider, enum receipt_kind kind,
		      enum receipt_outcome outcome, void *ud)
{
	struct metrics *m = ud;
	size_t p = provider >= 0 && provider < CHD_MAX ? (size_t)provider :
							 CHD_MAX;
	if ((unsigned)kind < NKINDS && (unsigned)outcome < NROUTCOMES)
		m->receipts[p][kind][outcome]++;
	return 0;
}

/* Bring the attempt and receipt counters up to date. A failure half-way
 * leaves rows counted that the next call would count again: the counters
 * start over instead (a counter reset, which Prometheus understands). */
static int read_appended(struct metrics *m, struct store *s)
{
	int64_t last = 0;
	int r = store_metrics_attempts(s, m->attempts_after, &last,
				       attempt_cb, m);
	if (r == 0 && last < m->attempts_after) {
		attempts_clear(m);
		r = store_metrics_attempts(s, 0, &last, attempt_cb, m);
	}
	if (r != 0) {
		attempts_clear(m);
		return r < 0 ? r : -EIO;
	}
	m->attempts_after = last;

	r = store_metrics_receipts(s, m->receipts_after, &last, receipt_cb,
				   m);
	if (r == 0 && last < m->receipts_after) {
		memset(m->receipts, 0, sizeof m->receipts);
		r = store_metrics_receipts(s, 0, &last, receipt_cb, m);
	}
	if (r != 0) {
		memset(m->receipts, 0, sizeof m->receipts);
		m->receipts_after = 0;
		return r < 0 ? r : -EIO;
	}
	m->receipts_after = last;
	return 0;
}

static int delivery_cb(const char *channel, enum delivery_status st,
		       int64_t sent_ms, int64_t delivered_ms, void *ud)
{
	struct metrics *m = ud;
	struct mchan *c;
	int r = chan_get(m, channel, &c);
	if (r < 0)
		return r;
	if ((unsigned)st < DS_MAX)
		c->deliveries[st]++;
	if (sent_ms > 0 && delivered_ms > 0) {
		int64_t ms = delivered_ms > sent_ms ? delivered_ms - sent_ms
						    : 0;
		size_t b = 0;
		while (b < ARRAY_SIZE(latency_le_ms) && ms > latency_le_ms[b])
			b++;
		m->buckets[b]++;
		m->latency_count++;
		m->latency_sum_ms += ms;
	}
	return 0;
}

/* Count the deliveries again unless the last count is recent enough. */
static int scan_deliveries(struct metrics *m, struct store *s)
{
	uint64_t now = mono_us();
	if (m->scanned) {
		uint64_t ttl = m->scan_took_us / 1000 * METRICS_CACHE_FACTOR;
		if (ttl < m->cache_min_ms)
			ttl = m->cache_min_ms;
		if (ttl > m->cache_max_ms)
			ttl = m->cache_max_ms;
		if (now - m->scan_at_us < ttl * 1000)
			return 0;
	}
	m->scanned = false;
	for (size_t i = 0; i < m->nchans; i++)
		memset(m->chans[i].deliveries, 0,
		       sizeof m->chans[i].deliveries);
	memset(m->buckets, 0, sizeof m->buckets);
	m->latency_count = m->latency_sum_ms = 0;
	int r = store_metrics_deliveries(s, delivery_cb, m);
	if (r != 0)
		return r < 0 ? r : -EIO;
	m->scanned = true;
	m->scan_at_us = mono_us();
	m->scan_took_us = m->scan_at_us - now;
	return 0;
}

/* ---- writing ---- */

/* A writer with a sticky error. */
struct w {
	struct buf *b;
	int r;
	unsigned nlabels;       /* of the sample being written */
};

static void put(struct w *w, const char *s)
{
	if (w->r == 0)
		w->r = buf_append(w->b, s, strlen(s));
}

static void family(struct w *w, const char *name, const char *type,
		   const char *help)
{
	put(w, "# HELP ");
	put(w, name);
	put(w, " ");
	put(w, help);
	put(w, "\n# TYPE ");
	put(w, name);
	put(w, " ");
	put(w, type);
	put(w, "\n");
}

static void sample(struct w *w, const char *name)
{
	put(w, name);
	w->nlabels = 0;
}

/* A label; the value escaped as the format wants (\\, \", \n). */
static void label(struct w *w, const char *key, const char *value)
{
	put(w, w->nlabels++ ? "," : "{");
	put(w, key);
	put(w, "=\"");
	const char *p = value, *run = value;
	for (; *p; p++) {
		const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" :
				  *p == '\n' ? "\\n" : NULL;
		if (!esc)
			continue;
		if (w->r == 0)
			w->r = buf_append(w->b, run, (size_t)(p - run));
		put(w, esc);
		run = p + 1;
	}
	if (w->r == 0)
		w->r = buf_append(w->b, run, (size_t)(p - run));
	put(w, "\"");
}

static void value_i64(struct w *w, int64_t v)
{
	put(w, w->nlabels ? "} " : " ");
	if (w->r == 0)
		w->r = buf_printf(w->b, "%" PRId64 "\n", v);
}

/* Milliseconds written as seconds, exactly. */
static void value_ms(struct w *w, int64_t ms)
{
	put(w, w->nlabels ? "} " : " ");
	uint64_t a = ms < 0 ? -(uint64_t)ms : (uint64_t)ms;
	if (w->r == 0)
		w->r = buf_printf(w->b, "%s%" PRIu64 ".%03" PRIu64 "\n",
				  ms < 0 ? "-" : "", a / 1000, a % 1000);
}

static const char *outcome_label(size_t o)
{
	return o < CHO_MAX ? channel_outcome_name((enum channel_outcome)o) :
			     "none";
}

static const char *provider_label(size_t p)
{
	return p < CHD_MAX ? channel_driver_name((enum channel_driver)p) :
			     "unknown";
}

static const char *const kind_names[NKINDS] = {
	[RK_DELIVERED] = "delivered", [RK_READ] = "read",
	[RK_FAILED] = "failed",
};

static int by_name(const void *a, const void *b, void *ud)
{
	const struct metrics *m = ud;
	return strcmp(m->chans[*(const size_t *)a].name,
		      m->chans[*(const size_t *)b].name);
}

struct db_figures {
	struct store_counts counts;
	int64_t broadcasts[BS_MAX];
	int64_t queue_urgent, queue_normal, oldest_ms;
};

static void write_db(struct w *w, const struct metrics *m,
		     const struct db_figures *f, const size_t *order)
{
	family(w, "loaxa_households", "gauge", "Households in the directory.");
	sample(w, "loaxa_households");
	value_i64(w, f->counts.households);
	family(w, "loaxa_households_opted_out", "gauge",
	       "Households that asked to receive nothing.");
	sample(w, "loaxa_households_opted_out");
	value_i64(w, f->counts.opted_out);

	family(w, "loaxa_broadcasts", "gauge", "Broadcasts by state.");
	for (int st = 0; st < BS_MAX; st++) {
		sample(w, "loaxa_broadcasts");
		label(w, "state", bcast_state_name((enum bcast_state)st));
		value_i64(w, f->broadcasts[st]);
	}

	family(w, "loaxa_deliveries", "gauge", "Deliveries by status and by "
	       "the channel of their last attempt (none: not tried yet).");
	for (size_t i = 0; i < m->nchans; i++) {
		const struct mchan *c = &m->chans[order[i]];
		for (int st = 0; st < DS_MAX; st++) {
			sample(w, "loaxa_deliveries");
			label(w, "status",
			      delivery_status_name((enum delivery_status)st));
			label(w, "channel", c->name);
			value_i64(w, c->deliveries[st]);
		}
	}

	family(w, "loaxa_receipt_latency_seconds", "histogram",
	       "Time from the provider accepting a message to its delivery "
	       "receipt.");
	int64_t cum = 0;
	for (size_t b = 0; b < NBUCKETS; b++) {
		char le[24];
		if (b < ARRAY_SIZE(latency_le_ms))
			snprintf(le, sizeof le, "%" PRId64,
				 latency_le_ms[b] / 1000);
		else
			snprintf(le, sizeof le, "+Inf");
		cum += m->buckets[b];
		sample(w, "loaxa_receipt_latency_seconds_bucket");
		label(w, "le", le);
		value_i64(w, cum);
	}
	sample(w, "loaxa_receipt_latency_seconds_sum");
	value_ms(w, m->latency_sum_ms);
	sample(w, "loaxa_receipt_latency_seconds_count");
	value_i64(w, m->latency_count);

	family(w, "loaxa_attempts_total", "counter", "Requests to providers "
	       "by channel and outcome (none: failed before any request).");
	for (size_t i = 0; i < m->nchans; i++) {
		const struct mchan *c = &m->chans[order[i]];
		for (size_t o = 0; o < METRICS_NOUTCOMES; o++) {
			sample(w, "loaxa_attempts_total");
			label(w, "channel", c->name);
			label(w, "outcome", outcome_label(o));
			value_i64(w, c->attempts[o]);
		}
	}

	family(w, "loaxa_attempt_errors_total", "counter", "Attempts not "
	       "accepted, by channel and provider code (the first 50 codes "
	       "of a channel, then other).");
	for (size_t i = 0; i < m->nchans; i++) {
		const struct mchan *c = &m->chans[order[i]];
		for (size_t k = 0; k < c->ncodes; k++) {
			sample(w, "loaxa_attempt_errors_total");
			label(w, "channel", c->name);
			label(w, "code", c->codes[k].code);
			value_i64(w, c->codes[k].n);
		}
		if (c->other_codes) {
			sample(w, "loaxa_attempt_errors_total");
			label(w, "channel", c->name);
			label(w, "code", "other");
			value_i64(w, c->other_codes);
		}
	}

	family(w, "loaxa_receipts_total", "counter", "Receipts from providers "
	       "by provider, kind and what they did (unknown: matched no "
	       "delivery).");
	for (size_t p = 0; p <= CHD_MAX; p++)
		for (size_t k = 0; k < NKINDS; k++)
			for (size_t o = 0; o < NROUTCOMES; o++) {
				if (!m->receipts[p][k][o])
					continue;
				sample(w, "loaxa_receipts_total");
				label(w, "provider", provider_label(p));
				label(w, "kind", kind_names[k]);
				label(w, "outcome", receipt_outcome_name(
					      (enum receipt_outcome)o));
				value_i64(w, m->receipts[p][k][o]);
			}
}

static void write_queue(struct w *w, const struct db_figures *f,
			int64_t now_ms)
{
	family(w, "loaxa_queue_depth", "gauge",
	       "Deliveries waiting to be sent, by priority.");
	sample(w, "loaxa_queue_depth");
	label(w, "priority", "urgent");
	value_i64(w, f->queue_urgent);
	sample(w, "loaxa_queue_depth");
	label(w, "priority", "normal");
	value_i64(w, f->queue_normal);
	family(w, "loaxa_oldest_queued_seconds", "gauge",
	       "Age of the oldest delivery waiting to be sent (0: none).");
	sample(w, "loaxa_oldest_queued_seconds");
	value_ms(w, f->oldest_ms > 0 && now_ms > f->oldest_ms ?
		 now_ms - f->oldest_ms : 0);
}

static void write_engine(struct w *w, const struct engine_status *es,
			 int64_t now_ms)
{
	char name[METRICS_LABEL_MAX + 1];

	family(w, "loaxa_channel_state", "gauge",
	       "State of each channel: 1 for the current one.");
	for (size_t i = 0; i < es->nchannels; i++) {
		label_clean(es->chans[i].name, name);
		for (int st = CS_OK; st <= CS_REFRESHING; st++) {
			sample(w, "loaxa_channel_state");
			label(w, "channel", name);
			label(w, "state", chan_state_name((enum chan_state)st));
			value_i64(w, es->chans[i].state == (enum chan_state)st);
		}
	}
	family(w, "loaxa_circuit_open", "gauge",
	       "1 while a channel's circuit breaker is open.");
	for (size_t i = 0; i < es->nchannels; i++) {
		label_clean(es->chans[i].name, name);
		sample(w, "loaxa_circuit_open");
		label(w, "channel", name);
		value_i64(w, es->chans[i].state == CS_CIRCUIT_OPEN);
	}
	family(w, "loaxa_in_flight", "gauge",
	       "Requests sent to a channel and not answered yet.");
	for (size_t i = 0; i < es->nchannels; i++) {
		label_clean(es->chans[i].name, name);
		sample(w, "loaxa_in_flight");
		label(w, "channel", name);
		value_i64(w, es->chans[i].in_flight);
	}
	family(w, "loaxa_rate_limit_waits_total", "counter", "Times a channel "
	       "held a message back for its rate limit, since loaxad "
	       "started.");
	for (size_t i = 0; i < es->nchannels; i++) {
		label_clean(es->chans[i].name, name);
		sample(w, "loaxa_rate_limit_waits_total");
		label(w, "channel", name);
		value_i64(w, (int64_t)es->chans[i].rate_waits);
	}
	family(w, "loaxa_token_expiry_seconds", "gauge", "Seconds until the "
	       "Zalo OAuth access token of a channel expires (negative: "
	       "expired).");
	for (size_t i = 0; i < es->nchannels; i++) {
		if (!es->chans[i].token_expires_ms)
			continue;
		label_clean(es->chans[i].name, name);
		sample(w, "loaxa_token_expiry_seconds");
		label(w, "channel", name);
		value_ms(w, es->chans[i].token_expires_ms - now_ms);
	}
}

int metrics_render_status(struct metrics *m, struct store *s,
			  const struct engine_status *es, int64_t now_ms,
			  struct buf *out)
{
	if (!m || !s || !out)
		return -EINVAL;
	if (m->store != s) {
		metrics_clear(m);
		m->store = s;
	}
	struct db_figures f = { 0 };
	struct mchan *c;
	int r = 0;
	/* the configured channels, so that their zeros are there too */
	for (size_t i = 0; es && r == 0 && i < es->nchannels; i++)
		r = chan_get(m, es->chans[i].name, &c);
	if (r == 0)
		r = chan_get(m, "none", &c);
	if (r == 0)
		r = read_appended(m, s);
	if (r == 0)
		r = scan_deliveries(m, s);
	if (r == 0)
		r = store_counts(s, &f.counts);
	if (r == 0)
		r = store_metrics_broadcasts(s, f.broadcasts);
	if (r == 0 && es) {
		f.queue_urgent = es->queue_urgent;
		f.queue_normal = es->queue_normal;
		f.oldest_ms = es->oldest_ms;
	} else if (r == 0) {
		r = store_queue_depth(s, &f.queue_urgent, &f.queue_normal,
				      &f.oldest_ms);
	}
	if (r < 0)
		return r;

	size_t order[ARRAY_SIZE(m->chans)];
	for (size_t i = 0; i < m->nchans; i++)
		order[i] = i;
	qsort_r(order, m->nchans, sizeof order[0], by_name, m);

	size_t start = out->len;
	struct w w = { .b = out };
	family(&w, "loaxa_up", "gauge", "1: loaxad is running.");
	sample(&w, "loaxa_up");
	value_i64(&w, 1);
	family(&w, "loaxa_build_info", "gauge", "The version of loaxad.");
	sample(&w, "loaxa_build_info");
	label(&w, "version", LOAXA_VERSION);
	value_i64(&w, 1);
	write_db(&w, m, &f, order);
	write_queue(&w, &f, now_ms);
	if (es)
		write_engine(&w, es, now_ms);
	family(&w, "loaxa_metrics_scan_seconds", "gauge", "Time the last "
	       "count of the deliveries took (it is reused for 20 times as "
	       "long, at most 30 s).");
	sample(&w, "loaxa_metrics_scan_seconds");
	value_ms(&w, (int64_t)(m->scan_took_us / 1000));
	family(&w, "loaxa_metrics_scan_age_seconds", "gauge",
	       "Age of the deliveries count in this answer.");
	sample(&w, "loaxa_metrics_scan_age_seconds");
	value_ms(&w, (int64_t)((mono_us() - m->scan_at_us) / 1000));
	if (w.r < 0) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return w.r;
}

int metrics_render(struct metrics *m, struct store *s, struct engine *e,
		   struct buf *out)
{
	if (!e)
		return metrics_render_status(m, s, NULL, util_now_ms(), out);
	struct engine_status es;
	engine_status(e, &es);
	return metrics_render_status(m, s, &es, util_now_ms(), out);
}
