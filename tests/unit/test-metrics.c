/* test-metrics: the Prometheus exposition over a real SQLite store — exact
 * lines for known broadcasts, deliveries, attempts and receipts, the
 * engine's families from a given status, label escaping, the cap on error
 * codes, incremental counters (and their reset when rows vanish), the
 * deliveries cache, a buffer too small, the shape of every line, and the
 * cost of a scrape on a bulk-loaded database (LOAXA_METRICS_ROWS rows,
 * default 20000; the 1,000,000-row figure of the report comes from
 * LOAXA_METRICS_ROWS=1000000). */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "config-build.h"
#include "loaxa/channel.h"
#include "loaxa/log.h"
#include "loaxa/metrics.h"
#include "loaxa/store.h"

struct fx {
	char dir[64], db[128];
	struct store *s;
	struct metrics *m;
	struct buf out;
	int64_t g1, g2;
	int64_t hh[8];
};

static int64_t add_hh(struct store *s, int64_t g, const char *name,
		      const char *phone, bool opted_out)
{
	struct household h = { .group_id = g, .opted_out = opted_out,
			       .created_ms = 1, .updated_ms = 1, .nphones = 1 };
	h.name = strdup(name);
	snprintf(h.phones[0], sizeof h.phones[0], "%.*s",
		 (int)sizeof h.phones[0] - 1, phone);
	assert_int_equal(store_household_insert(s, &h), 0);
	int64_t id = h.id;
	household_clear(&h);
	return id;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/loaxa-test-metrics.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof f->db, "%s/loaxa.db", f->dir);
	char err[256];
	assert_int_equal(store_open(f->db, &f->s, err, sizeof err), 0);
	assert_int_equal(metrics_new(&f->m), 0);
	buf_init(&f->out, METRICS_BUF_MAX);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	buf_free(&f->out);
	metrics_free(f->m);
	store_close(f->s);
	char cmd[160];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Render afresh into f->out; the text. */
static const char *render(struct fx *f, const struct engine_status *es,
			  int64_t now_ms)
{
	f->out.len = 0;
	if (f->out.data)
		f->out.data[0] = '\0';
	assert_int_equal(metrics_render_status(f->m, f->s, es, now_ms,
					       &f->out), 0);
	assert_non_null(f->out.data);
	return f->out.data;
}

/* The value of the sample "name{labels}" (exactly that text before the
 * space), or -1 when there is no such line. */
static double value_of(const char *text, const char *sample)
{
	size_t n = strlen(sample);
	for (const char *p = text; p && *p; ) {
		const char *nl = strchr(p, '\n');
		if (strncmp(p, sample, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p = nl ? nl + 1 : NULL;
	}
	return -1;
}

static void assert_line(const char *text, const char *line)
{
	char want[512];
	snprintf(want, sizeof want, "\n%s\n", line);
	if (!strstr(text, want)) {
		fprintf(stderr, "missing line: %s\n--- in ---\n%s", line, text);
		fail();
	}
}

static void assert_no_line(const char *text, const char *prefix)
{
	char want[512];
	snprintf(want, sizeof want, "\n%s", prefix);
	if (strstr(text, want)) {
		fprintf(stderr, "unexpected line: %s\n", prefix);
		fail();
	}
}

/* Every line is a HELP, a TYPE or a sample of the text format, every
 * sample follows its family's TYPE, no family comes twice. */
static void assert_well_formed(const char *text)
{
	regex_t help, type, smpl;
	assert_int_equal(regcomp(&help, "^# HELP (loaxa_[a-z_]+) [^\n]+$",
				 REG_EXTENDED), 0);
	assert_int_equal(regcomp(&type, "^# TYPE (loaxa_[a-z_]+) "
				 "(gauge|counter|histogram)$",
				 REG_EXTENDED), 0);
	assert_int_equal(regcomp(&smpl, "^(loaxa_[a-z_]+)"
				 "(\\{[a-z_]+=\"([^\"\\\\\n]|\\\\.)*\""
				 "(,[a-z_]+=\"([^\"\\\\\n]|\\\\.)*\")*\\})?"
				 " -?[0-9]+(\\.[0-9]+)?$", REG_EXTENDED), 0);
	char fam[128] = "", seen[8192] = " ";
	size_t nlines = 0;
	const char *p = text;
	assert_true(*p);
	while (*p) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);       /* every line ends with \n */
		char line[1024];
		size_t n = (size_t)(nl - p);
		assert_true(n < sizeof line);
		memcpy(line, p, n);
		line[n] = '\0';
		regmatch_t mt[3];
		if (regexec(&help, line, 3, mt, 0) == 0) {
			snprintf(fam, sizeof fam, "%.*s",
				 (int)(mt[1].rm_eo - mt[1].rm_so),
				 line + mt[1].rm_so);
			char key[140];
			snprintf(key, sizeof key, " %s ", fam);
			if (strstr(seen, key)) {
				fprintf(stderr, "family twice: %s\n", fam);
				fail();
			}
			strncat(seen, key + 1, sizeof seen - strlen(seen) - 1);
		} else if (regexec(&type, line, 3, mt, 0) == 0) {
			assert_int_equal((int)(mt[1].rm_eo - mt[1].rm_so),
					 (int)strlen(fam));
			assert_memory_equal(line + mt[1].rm_so, fam,
					    strlen(fam));
		} else if (regexec(&smpl, line, 3, mt, 0) == 0) {
			size_t k = (size_t)(mt[1].rm_eo - mt[1].rm_so);
			/* name is the family, or family_bucket/_sum/_count */
			if (!(k >= strlen(fam) &&
			      strncmp(line, fam, strlen(fam)) == 0)) {
				fprintf(stderr, "sample %s outside its family "
					"%s\n", line, fam);
				fail();
			}
		} else {
			fprintf(stderr, "malformed line: %s\n", line);
			fail();
		}
		nlines++;
		p = nl + 1;
	}
	assert_true(nlines > 20);
	regfree(&help);
	regfree(&type);
	regfree(&smpl);
}

/* ---- an empty database ---- */

static const char empty_text[] =
	"# HELP loaxa_up 1: loaxad is running.\n"
	"# TYPE loaxa_up gauge\n"
	"loaxa_up 1\n"
	"# HELP loaxa_build_info The version of loaxad.\n"
	"# TYPE loaxa_build_info gauge\n"
	"loaxa_build_info{version=\"" LOAXA_VERSION "\"} 1\n"
	"# HELP loaxa_households Households in the directory.\n"
	"# TYPE loaxa_households gauge\n"
	"loaxa_households 0\n"
	"# HELP loaxa_households_opted_out Households that asked to receive "
	"nothing.\n"
	"# TYPE loaxa_households_opted_out gauge\n"
	"loaxa_households_opted_out 0\n"
	"# HELP loaxa_broadcasts Broadcasts by state.\n"
	"# TYPE loaxa_broadcasts gauge\n"
	"loaxa_broadcasts{state=\"scheduled\"} 0\n"
	"loaxa_broadcasts{state=\"active\"} 0\n"
	"loaxa_broadcasts{state=\"paused\"} 0\n"
	"loaxa_broadcasts{state=\"cancelled\"} 0\n"
	"loaxa_broadcasts{state=\"done\"} 0\n"
	"loaxa_broadcasts{state=\"awaiting_approval\"} 0\n"
	"# HELP loaxa_deliveries Deliveries by status and by the channel of "
	"their last attempt (none: not tried yet).\n"
	"# TYPE loaxa_deliveries gauge\n"
	"loaxa_deliveries{status=\"queued\",channel=\"none\"} 0\n"
	"loaxa_deliveries{status=\"sending\",channel=\"none\"} 0\n"
	"loaxa_deliveries{status=\"sent\",channel=\"none\"} 0\n"
	"loaxa_deliveries{status=\"delivered\",channel=\"none\"} 0\n"
	"loaxa_deliveries{status=\"read\",channel=\"none\"} 0\n"
	"loaxa_deliveries{status=\"failed\",channel=\"none\"} 0\n"
	"loaxa_deliveries{status=\"expired\",channel=\"none\"} 0\n"
	"loaxa_deliveries{status=\"cancelled\",channel=\"none\"} 0\n"
	"loaxa_deliveries{status=\"skipped\",channel=\"none\"} 0\n"
	"# HELP loaxa_receipt_latency_seconds Time from the provider "
	"accepting a message to its delivery receipt.\n"
	"# TYPE loaxa_receipt_latency_seconds histogram\n"
	"loaxa_receipt_latency_seconds_bucket{le=\"1\"} 0\n"
	"loaxa_receipt_latency_seconds_bucket{le=\"5\"} 0\n"
	"loaxa_receipt_latency_seconds_bucket{le=\"15\"} 0\n"
	"loaxa_receipt_latency_seconds_bucket{le=\"60\"} 0\n"
	"loaxa_receipt_latency_seconds_bucket{le=\"300\"} 0\n"
	"loaxa_receipt_latency_seconds_bucket{le=\"900\"} 0\n"
	"loaxa_receipt_latency_seconds_bucket{le=\"3600\"} 0\n"
	"loaxa_receipt_latency_seconds_bucket{le=\"+Inf\"} 0\n"
	"loaxa_receipt_latency_seconds_sum 0.000\n"
	"loaxa_receipt_latency_seconds_count 0\n"
	"# HELP loaxa_attempts_total Requests to providers by channel and "
	"outcome (none: failed before any request).\n"
	"# TYPE loaxa_attempts_total counter\n"
	"loaxa_attempts_total{channel=\"none\",outcome=\"accepted\"} 0\n"
	"loaxa_attempts_total{channel=\"none\",outcome=\"transient\"} 0\n"
	"loaxa_attempts_total{channel=\"none\",outcome=\"rate_limited\"} 0\n"
	"loaxa_attempts_total{channel=\"none\",outcome=\"permanent\"} 0\n"
	"loaxa_attempts_total{channel=\"none\",outcome=\"auth\"} 0\n"
	"loaxa_attempts_total{channel=\"none\",outcome=\"config\"} 0\n"
	"loaxa_attempts_total{channel=\"none\",outcome=\"none\"} 0\n"
	"# HELP loaxa_attempt_errors_total Attempts not accepted, by channel "
	"and provider code (the first 50 codes of a channel, then other).\n"
	"# TYPE loaxa_attempt_errors_total counter\n"
	"# HELP loaxa_receipts_total Receipts from providers by provider, "
	"kind and what they did (unknown: matched no delivery).\n"
	"# TYPE loaxa_receipts_total counter\n"
	"# HELP loaxa_queue_depth Deliveries waiting to be sent, by "
	"priority.\n"
	"# TYPE loaxa_queue_depth gauge\n"
	"loaxa_queue_depth{priority=\"urgent\"} 0\n"
	"loaxa_queue_depth{priority=\"normal\"} 0\n"
	"# HELP loaxa_oldest_queued_seconds Age of the oldest delivery "
	"waiting to be sent (0: none).\n"
	"# TYPE loaxa_oldest_queued_seconds gauge\n"
	"loaxa_oldest_queued_seconds 0.000\n"
	"# HELP loaxa_metrics_scan_seconds ";

static void test_empty(void **state)
{
	struct fx *f = *state;
	const char *t = render(f, NULL, 1000);
	/* everything up to the scan's timing, which varies */
	assert_true(strlen(t) > sizeof empty_text);
	if (strncmp(t, empty_text, sizeof empty_text - 1) != 0) {
		fprintf(stderr, "--- got ---\n%s", t);
		fail();
	}
	assert_true(value_of(t, "loaxa_metrics_scan_seconds") >= 0);
	assert_true(value_of(t, "loaxa_metrics_scan_age_seconds") >= 0);
	assert_well_formed(t);
	/* no engine: no engine families */
	assert_no_line(t, "# HELP loaxa_channel_state");
	/* byte-equal again */
	char *first = strndup(t, strstr(t, "# HELP loaxa_metrics_scan") - t);
	t = render(f, NULL, 1000);
	assert_int_equal(strncmp(t, first, strlen(first)), 0);
	free(first);
}

/* ---- known rows ---- */

static int64_t make_broadcast(struct fx *f, int64_t group, bool urgent,
			      enum bcast_state st, struct wave *w, size_t nw)
{
	struct broadcast b = { .kind = BK_NOTICE, .state = st,
			       .urgent = urgent, .send_at_ms = 100,
			       .expires_ms = 1000000, .created_ms = 1 };
	b.title = strdup("Cúp điện");
	b.group_ids[b.ngroups++] = group;
	assert_int_equal(store_broadcast_insert(f->s, &b, w, nw, NULL), 0);
	int64_t id = b.id;
	broadcast_clear(&b);
	return id;
}

struct due_ctx {
	int64_t ids[16];
	size_t n;
};

static int due_cb(const struct delivery *d, void *ud)
{
	struct due_ctx *c = ud;
	if (c->n < ARRAY_SIZE(c->ids))
		c->ids[c->n++] = d->id;
	return 0;
}

static void attempt(struct fx *f, int64_t id, enum delivery_status st,
		    int chain_pos, const char *channel, int outcome,
		    const char *code, const char *msg_id, int64_t now)
{
	struct delivery_update u = {
		.id = id, .status = st, .chain_pos = chain_pos,
		.attempts = 1, .next_at_ms = now + 1000, .msg_id = msg_id,
		.code = code, .message = "m", .sms_encoding = -1,
		.now_ms = now, .channel = channel,
		.http_status = outcome == CHO_TRANSIENT ? 503 : 200,
		.outcome = outcome, .latency_ms = 20,
	};
	assert_int_equal(store_delivery_update(f->s, &u), 0);
}

static void receipt(struct fx *f, enum receipt_kind kind, int provider,
		    const char *msg_id, int64_t at, enum receipt_outcome want)
{
	struct receipt_in in = { .kind = kind, .provider = provider,
				 .msg_id = msg_id, .at_ms = at,
				 .now_ms = at + 100 };
	enum receipt_outcome o;
	assert_int_equal(store_receipt_apply(f->s, &in, &o, NULL), 0);
	assert_int_equal(o, want);
}

/* Broadcast A (normal, active) to group 1: 6 households, one opted out;
 * B (urgent, scheduled) to group 2: one household; C cancelled, empty.
 *   d0: zns accepted at 1000, delivered at 3500 (2.5 s)
 *   d1: zns -118 (permanent), then esms accepted at 2000, read at 102000
 *   d2: zns HTTP 503 (transient): queued again, channel zns
 *   d3: failed without a request (outcome none, code no_address)
 *   d4: queued, untouched; the opted-out one skipped. */
static void load_known(struct fx *f)
{
	assert_int_equal(store_group_insert(f->s, "2A", "Nhóm 2A", false,
					    &f->g1), 0);
	assert_int_equal(store_group_insert(f->s, "2B", "Nhóm 2B", false,
					    &f->g2), 0);
	for (unsigned i = 0; i < 7; i++) {
		char name[32], phone[32];
		snprintf(name, sizeof name, "Hộ %u", i % 10);
		snprintf(phone, sizeof phone, "+8491200000%u", i % 10);
		f->hh[i] = add_hh(f->s, i < 6 ? f->g1 : f->g2, name, phone,
				  i == 5);
	}
	struct wave wa[1] = { { .seq = 0, .send_at_ms = 100,
				.expires_ms = 1000000 } };
	struct wave wb[1] = { { .seq = 0, .send_at_ms = 100,
				.expires_ms = 1000000 } };
	make_broadcast(f, f->g1, false, BS_ACTIVE, wa, 1);
	make_broadcast(f, f->g2, true, BS_SCHEDULED, wb, 1);
	make_broadcast(f, f->g1, false, BS_CANCELLED, NULL, 0);
	bool done;
	assert_int_equal(store_wave_materialise(f->s, &wa[0], false, false,
						100, 500, &done), 0);
	assert_true(done);
	assert_int_equal(store_wave_materialise(f->s, &wb[0], false, true,
						100, 600, &done), 0);
	struct due_ctx dc = { 0 };
	assert_int_equal(store_delivery_due(f->s, wa[0].id, 5000, 16, due_cb,
					    &dc), 0);
	assert_int_equal(dc.n, 5);
	int64_t *d = dc.ids;

	assert_int_equal(store_delivery_mark_sending(f->s, d[0], 0, "zns",
						     "+84912000000", 900), 0);
	attempt(f, d[0], DS_SENT, 0, "zns", CHO_ACCEPTED, "0", "m0", 1000);

	assert_int_equal(store_delivery_mark_sending(f->s, d[1], 0, "zns",
						     "+84912000001", 950), 0);
	attempt(f, d[1], DS_QUEUED, 1, "zns", CHO_PERMANENT, "-118", NULL,
		1100);
	assert_int_equal(store_delivery_mark_sending(f->s, d[1], 1, "esms",
						     "+84912000001", 1900), 0);
	attempt(f, d[1], DS_SENT, 1, "esms", CHO_ACCEPTED, "100", "m1", 2000);

	assert_int_equal(store_delivery_mark_sending(f->s, d[2], 0, "zns",
						     "+84912000002", 1150), 0);
	attempt(f, d[2], DS_QUEUED, 0, "zns", CHO_TRANSIENT, "HTTP 503", NULL,
		1200);

	attempt(f, d[3], DS_FAILED, 0, "zns", -1, "no_address", NULL, 1300);

	receipt(f, RK_DELIVERED, CHD_ZNS, "m0", 3500, RO_APPLIED);
	receipt(f, RK_DELIVERED, CHD_ZNS, "m0", 3600, RO_DUPLICATE);
	receipt(f, RK_READ, CHD_ESMS, "m1", 102000, RO_APPLIED);
	receipt(f, RK_DELIVERED, CHD_ESMS, "nope", 4000, RO_UNKNOWN);
}

static const char *const known_lines[] = {
	"loaxa_households 7",
	"loaxa_households_opted_out 1",
	"loaxa_broadcasts{state=\"scheduled\"} 1",
	"loaxa_broadcasts{state=\"active\"} 1",
	"loaxa_broadcasts{state=\"paused\"} 0",
	"loaxa_broadcasts{state=\"cancelled\"} 1",
	"loaxa_broadcasts{state=\"done\"} 0",
	"loaxa_broadcasts{state=\"awaiting_approval\"} 0",
	/* channels sorted: esms, none, zns */
	"# TYPE loaxa_deliveries gauge\n"
	"loaxa_deliveries{status=\"queued\",channel=\"esms\"} 0\n"
	"loaxa_deliveries{status=\"sending\",channel=\"esms\"} 0\n"
	"loaxa_deliveries{status=\"sent\",channel=\"esms\"} 0\n"
	"loaxa_deliveries{status=\"delivered\",channel=\"esms\"} 0\n"
	"loaxa_deliveries{status=\"read\",channel=\"esms\"} 1\n"
	"loaxa_deliveries{status=\"failed\",channel=\"esms\"} 0\n"
	"loaxa_deliveries{status=\"expired\",channel=\"esms\"} 0\n"
	"loaxa_deliveries{status=\"cancelled\",channel=\"esms\"} 0\n"
	"loaxa_deliveries{status=\"skipped\",channel=\"esms\"} 0\n"
	"loaxa_deliveries{status=\"queued\",channel=\"none\"} 2\n"
	"loaxa_deliveries{status=\"sending\",channel=\"none\"} 0\n"
	"loaxa_deliveries{status=\"sent\",channel=\"none\"} 0\n"
	"loaxa_deliveries{status=\"delivered\",channel=\"none\"} 0\n"
	"loaxa_deliveries{status=\"read\",channel=\"none\"} 0\n"
	"loaxa_deliveries{status=\"failed\",channel=\"none\"} 1\n"
	"loaxa_deliveries{status=\"expired\",channel=\"none\"} 0\n"
	"loaxa_deliveries{status=\"cancelled\",channel=\"none\"} 0\n"
	"loaxa_deliveries{status=\"skipped\",channel=\"none\"} 1\n"
	"loaxa_deliveries{status=\"queued\",channel=\"zns\"} 1\n"
	"loaxa_deliveries{status=\"sending\",channel=\"zns\"} 0\n"
	"loaxa_deliveries{status=\"sent\",channel=\"zns\"} 0\n"
	"loaxa_deliveries{status=\"delivered\",channel=\"zns\"} 1\n"
	"loaxa_deliveries{status=\"read\",channel=\"zns\"} 0\n"
	"loaxa_deliveries{status=\"failed\",channel=\"zns\"} 0\n"
	"loaxa_deliveries{status=\"expired\",channel=\"zns\"} 0\n"
	"loaxa_deliveries{status=\"cancelled\",channel=\"zns\"} 0\n"
	"loaxa_deliveries{status=\"skipped\",channel=\"zns\"} 0",
	/* 2.5 s and 100 s */
	"loaxa_receipt_latency_seconds_bucket{le=\"1\"} 0\n"
	"loaxa_receipt_latency_seconds_bucket{le=\"5\"} 1\n"
	"loaxa_receipt_latency_seconds_bucket{le=\"15\"} 1\n"
	"loaxa_receipt_latency_seconds_bucket{le=\"60\"} 1\n"
	"loaxa_receipt_latency_seconds_bucket{le=\"300\"} 2\n"
	"loaxa_receipt_latency_seconds_bucket{le=\"900\"} 2\n"
	"loaxa_receipt_latency_seconds_bucket{le=\"3600\"} 2\n"
	"loaxa_receipt_latency_seconds_bucket{le=\"+Inf\"} 2\n"
	"loaxa_receipt_latency_seconds_sum 102.500\n"
	"loaxa_receipt_latency_seconds_count 2",
	"# TYPE loaxa_attempts_total counter\n"
	"loaxa_attempts_total{channel=\"esms\",outcome=\"accepted\"} 1\n"
	"loaxa_attempts_total{channel=\"esms\",outcome=\"transient\"} 0\n"
	"loaxa_attempts_total{channel=\"esms\",outcome=\"rate_limited\"} 0\n"
	"loaxa_attempts_total{channel=\"esms\",outcome=\"permanent\"} 0\n"
	"loaxa_attempts_total{channel=\"esms\",outcome=\"auth\"} 0\n"
	"loaxa_attempts_total{channel=\"esms\",outcome=\"config\"} 0\n"
	"loaxa_attempts_total{channel=\"esms\",outcome=\"none\"} 0\n"
	"loaxa_attempts_total{channel=\"none\",outcome=\"accepted\"} 0\n"
	"loaxa_attempts_total{channel=\"none\",outcome=\"transient\"} 0\n"
	"loaxa_attempts_total{channel=\"none\",outcome=\"rate_limited\"} 0\n"
	"loaxa_attempts_total{channel=\"none\",outcome=\"permanent\"} 0\n"
	"loaxa_attempts_total{channel=\"none\",outcome=\"auth\"} 0\n"
	"loaxa_attempts_total{channel=\"none\",outcome=\"config\"} 0\n"
	"loaxa_attempts_total{channel=\"none\",outcome=\"none\"} 0\n"
	"loaxa_attempts_total{channel=\"zns\",outcome=\"accepted\"} 1\n"
	"loaxa_attempts_total{channel=\"zns\",outcome=\"transient\"} 1\n"
	"loaxa_attempts_total{channel=\"zns\",outcome=\"rate_limited\"} 0\n"
	"loaxa_attempts_total{channel=\"zns\",outcome=\"permanent\"} 1\n"
	"loaxa_attempts_total{channel=\"zns\",outcome=\"auth\"} 0\n"
	"loaxa_attempts_total{channel=\"zns\",outcome=\"config\"} 0\n"
	"loaxa_attempts_total{channel=\"zns\",outcome=\"none\"} 1",
	/* in the order first seen */
	"# TYPE loaxa_attempt_errors_total counter\n"
	"loaxa_attempt_errors_total{channel=\"zns\",code=\"-118\"} 1\n"
	"loaxa_attempt_errors_total{channel=\"zns\",code=\"HTTP 503\"} 1\n"
	"loaxa_attempt_errors_total{channel=\"zns\",code=\"no_address\"} 1\n"
	"# HELP loaxa_receipts_total Receipts from providers by provider, "
	"kind and what they did (unknown: matched no delivery).",
	"# TYPE loaxa_receipts_total counter\n"
	"loaxa_receipts_total{provider=\"zns\",kind=\"delivered\","
	"outcome=\"applied\"} 1\n"
	"loaxa_receipts_total{provider=\"zns\",kind=\"delivered\","
	"outcome=\"duplicate\"} 1\n"
	"loaxa_receipts_total{provider=\"esms\",kind=\"delivered\","
	"outcome=\"unknown\"} 1\n"
	"loaxa_receipts_total{provider=\"esms\",kind=\"read\","
	"outcome=\"applied\"} 1\n"
	"# HELP loaxa_queue_depth Deliveries waiting to be sent, by "
	"priority.",
	"loaxa_queue_depth{priority=\"urgent\"} 1",
	"loaxa_queue_depth{priority=\"normal\"} 2",
	/* d4's row was written at 500 */
	"loaxa_oldest_queued_seconds 10.000",
};

struct status_sum {
	int64_t n[DS_MAX];
};

static int sum_cb(const char *key, enum delivery_status st, int64_t n,
		  void *ud)
{
	(void)key;
	((struct status_sum *)ud)->n[st] += n;
	return 0;
}

static void test_known_rows(void **state)
{
	struct fx *f = *state;
	load_known(f);
	const char *t = render(f, NULL, 10500);
	for (size_t i = 0; i < ARRAY_SIZE(known_lines); i++)
		assert_line(t, known_lines[i]);
	assert_well_formed(t);

	/* the gauges add up to the store's own counts of each broadcast */
	struct status_sum sum = { 0 };
	for (int64_t id = 1; id <= 3; id++)
		assert_int_equal(store_broadcast_counts(f->s, id,
							COUNT_BY_STATUS,
							sum_cb, &sum), 0);
	for (int st = 0; st < DS_MAX; st++) {
		double total = 0;
		const char *chans[] = { "esms", "none", "zns" };
		for (size_t c = 0; c < 3; c++) {
			char smp[128];
			snprintf(smp, sizeof smp, "loaxa_deliveries{status="
				 "\"%s\",channel=\"%s\"}",
				 delivery_status_name((enum delivery_status)st),
				 chans[c]);
			double v = value_of(t, smp);
			assert_true(v >= 0);
			total += v;
		}
		assert_int_equal((int64_t)total, sum.n[st]);
	}
}

/* ---- the engine's families ---- */

static void test_engine(void **state)
{
	struct fx *f = *state;
	struct engine_status es = {
		.queue_urgent = 4, .queue_normal = 9, .oldest_ms = 7000,
		.nchannels = 2,
		.chans = {
			{ .name = "zns", .driver = "zns",
			  .state = CS_CIRCUIT_OPEN, .message = "HTTP 503",
			  .in_flight = 3, .rate_waits = 7,
			  .token_expires_ms = 10000 + 90500 },
			{ .name = "sms", .driver = "esms", .state = CS_OK,
			  .message = "" },
		},
	};
	const char *t = render(f, &es, 10000);
	assert_line(t, "loaxa_queue_depth{priority=\"urgent\"} 4");
	assert_line(t, "loaxa_queue_depth{priority=\"normal\"} 9");
	assert_line(t, "loaxa_oldest_queued_seconds 3.000");
#define CS "loaxa_channel_state{channel="
	assert_line(t,
		CS "\"zns\",state=\"ok\"} 0\n"
		CS "\"zns\",state=\"rate_limited\"} 0\n"
		CS "\"zns\",state=\"circuit_open\"} 1\n"
		CS "\"zns\",state=\"auth_failed\"} 0\n"
		CS "\"zns\",state=\"config_error\"} 0\n"
		CS "\"zns\",state=\"refreshing_token\"} 0\n"
		CS "\"sms\",state=\"ok\"} 1\n"
		CS "\"sms\",state=\"rate_limited\"} 0");
#undef CS
	assert_line(t, "loaxa_circuit_open{channel=\"zns\"} 1\n"
		       "loaxa_circuit_open{channel=\"sms\"} 0");
	assert_line(t, "loaxa_in_flight{channel=\"zns\"} 3\n"
		       "loaxa_in_flight{channel=\"sms\"} 0");
	assert_line(t, "# TYPE loaxa_rate_limit_waits_total counter\n"
		       "loaxa_rate_limit_waits_total{channel=\"zns\"} 7\n"
		       "loaxa_rate_limit_waits_total{channel=\"sms\"} 0");
	/* only the OAuth channel */
	assert_line(t, "# TYPE loaxa_token_expiry_seconds gauge\n"
		       "loaxa_token_expiry_seconds{channel=\"zns\"} 90.500\n"
		       "# HELP loaxa_metrics_scan_seconds Time the last "
		       "count of the deliveries took (it is reused for 20 "
		       "times as long, at most 30 s).");
	/* the configured channels have their zeros before any row */
	assert_line(t, "loaxa_attempts_total{channel=\"sms\","
		       "outcome=\"accepted\"} 0");
	assert_line(t, "loaxa_deliveries{status=\"sent\",channel=\"zns\"} 0");
	assert_well_formed(t);

	/* an expired token is negative */
	es.chans[0].token_expires_ms = 8766;
	t = render(f, &es, 10000);
	assert_line(t, "loaxa_token_expiry_seconds{channel=\"zns\"} -1.234");
}

/* ---- label values ---- */

static void test_escaping(void **state)
{
	struct fx *f = *state;
	char longname[200];
	/* 63 ASCII bytes and a 2-byte letter: cut before the letter */
	memset(longname, 'x', 63);
	strcpy(longname + 63, "ế-and-more");
	struct engine_status es = {
		.nchannels = 3,
		.chans = {
			{ .name = "a\"b\\c\nd", .driver = "zns" },
			{ .name = "bad\xff\x01utf8-\xc3\xa9", .driver = "zns" },
			{ .name = longname, .driver = "zns" },
		},
	};
	const char *t = render(f, &es, 1000);
	assert_line(t, "loaxa_in_flight{channel=\"a\\\"b\\\\c\\nd\"} 0");
	assert_line(t, "loaxa_in_flight{channel=\"bad??utf8-\xc3\xa9\"} 0");
	char want[160];
	snprintf(want, sizeof want, "loaxa_in_flight{channel=\"%.63s\"} 0",
		 longname);
	assert_line(t, want);
	/* the same names in the table-driven families */
	assert_line(t, "loaxa_attempts_total{channel=\"a\\\"b\\\\c\\nd\","
		       "outcome=\"none\"} 0");
	assert_well_formed(t);
}

/* ---- error codes: the first 50 of a channel, then "other" ---- */

static void test_code_cap(void **state)
{
	struct fx *f = *state;
	load_known(f);
	/* d2 is queued on zns: retry it with 55 new codes, twice each for
	 * the first */
	struct due_ctx dc = { 0 };
	assert_int_equal(store_delivery_due(f->s, 1, 1000000, 16, due_cb,
					    &dc), 0);
	assert_true(dc.n >= 1);
	int64_t id = dc.ids[0];
	for (int i = 0; i < 55; i++) {
		char code[16];
		snprintf(code, sizeof code, "E%02d", i);
		attempt(f, id, DS_QUEUED, 0, "zns", CHO_TRANSIENT, code, NULL,
			5000 + i);
	}
	const char *t = render(f, NULL, 10500);
	/* 3 codes from load_known, then E00..E46 make 50; E47..E54 other */
	assert_line(t, "loaxa_attempt_errors_total{channel=\"zns\","
		       "code=\"E46\"} 1\n"
		       "loaxa_attempt_errors_total{channel=\"zns\","
		       "code=\"other\"} 8");
	assert_no_line(t, "loaxa_attempt_errors_total{channel=\"zns\","
		       "code=\"E47\"}");
	assert_line(t, "loaxa_attempts_total{channel=\"zns\","
		       "outcome=\"transient\"} 56");
	/* a known code still counts as itself, a new one as other */
	attempt(f, id, DS_QUEUED, 0, "zns", CHO_TRANSIENT, "E00", NULL, 6000);
	attempt(f, id, DS_QUEUED, 0, "zns", CHO_TRANSIENT, "E99", NULL, 6001);
	t = render(f, NULL, 10500);
	assert_line(t, "loaxa_attempt_errors_total{channel=\"zns\","
		       "code=\"E00\"} 2");
	assert_line(t, "loaxa_attempt_errors_total{channel=\"zns\","
		       "code=\"other\"} 9");
}

/* ---- counters read incrementally; rows removed behind our back ---- */

static void exec_sql(struct fx *f, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 2000);
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK)
		fprintf(stderr, "%s: %s\n", sql, err);
	sqlite3_free(err);
	assert_int_equal(rc, SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void test_incremental(void **state)
{
	struct fx *f = *state;
	load_known(f);
	const char *t = render(f, NULL, 10500);
	assert_line(t, "loaxa_attempts_total{channel=\"zns\","
		       "outcome=\"accepted\"} 1");
	/* rows added: counted once, on top */
	exec_sql(f, "INSERT INTO attempts(delivery_id, at_ms, channel,"
		 " outcome, code) VALUES (1, 1, 'zns', 0, NULL),"
		 " (1, 2, 'twilio', 3, '21211');"
		 "INSERT INTO receipts(received_ms, provider, kind, outcome)"
		 " VALUES (1, 4, 2, 3);");
	t = render(f, NULL, 10500);
	assert_line(t, "loaxa_attempts_total{channel=\"zns\","
		       "outcome=\"accepted\"} 2");
	assert_line(t, "loaxa_attempts_total{channel=\"twilio\","
		       "outcome=\"permanent\"} 1");
	assert_line(t, "loaxa_attempt_errors_total{channel=\"twilio\","
		       "code=\"21211\"} 1");
	assert_line(t, "loaxa_receipts_total{provider=\"twilio\","
		       "kind=\"failed\",outcome=\"unknown\"} 1");
	t = render(f, NULL, 10500);
	assert_line(t, "loaxa_attempts_total{channel=\"zns\","
		       "outcome=\"accepted\"} 2");
	/* every row removed and one added: the counters start over */
	exec_sql(f, "DELETE FROM attempts; DELETE FROM receipts;"
		 "INSERT INTO attempts(delivery_id, at_ms, channel, outcome)"
		 " VALUES (1, 1, 'esms', 0);");
	t = render(f, NULL, 10500);
	assert_line(t, "loaxa_attempts_total{channel=\"zns\","
		       "outcome=\"accepted\"} 0");
	assert_line(t, "loaxa_attempts_total{channel=\"esms\","
		       "outcome=\"accepted\"} 1");
	assert_no_line(t, "loaxa_attempt_errors_total{");
	assert_no_line(t, "loaxa_receipts_total{");
	/* a new store through the same metrics: nothing carried over */
	struct store *s2;
	char dir[64] = "/tmp/loaxa-test-metrics2.XXXXXX", db[128], err[256];
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof db, "%s/loaxa.db", dir);
	assert_int_equal(store_open(db, &s2, err, sizeof err), 0);
	f->out.len = 0;
	assert_int_equal(metrics_render_status(f->m, s2, NULL, 10500,
					       &f->out), 0);
	assert_no_line(f->out.data, "loaxa_attempts_total{channel=\"esms\"");
	store_close(s2);
	char cmd[160];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- the deliveries count is reused while it is fresh ---- */

static void test_cache(void **state)
{
	struct fx *f = *state;
	load_known(f);
	metrics_set_cache(f->m, 60000, 60000);
	const char *t = render(f, NULL, 10500);
	assert_line(t, "loaxa_deliveries{status=\"skipped\",channel=\"none\"} "
		       "1");
	exec_sql(f, "UPDATE deliveries SET status = 8 WHERE status = 0;"
		 "INSERT INTO attempts(delivery_id, at_ms, channel, outcome)"
		 " VALUES (1, 1, 'zns', 0);");
	t = render(f, NULL, 10500);
	/* deliveries: as before; attempts: read anyway (cheap) */
	assert_line(t, "loaxa_deliveries{status=\"skipped\",channel=\"none\"} "
		       "1");
	assert_line(t, "loaxa_attempts_total{channel=\"zns\","
		       "outcome=\"accepted\"} 2");
	assert_true(value_of(t, "loaxa_metrics_scan_age_seconds") >= 0);
	metrics_set_cache(f->m, 0, 0);
	t = render(f, NULL, 10500);
	assert_line(t, "loaxa_deliveries{status=\"skipped\",channel=\"none\"} "
		       "3");
	assert_line(t, "loaxa_deliveries{status=\"queued\",channel=\"zns\"} "
		       "0");
}

/* ---- a buffer too small: an error, and the buffer as it was ---- */

static void test_small_buffer(void **state)
{
	struct fx *f = *state;
	load_known(f);
	struct buf b;
	buf_init(&b, 2000);
	assert_int_equal(buf_append(&b, "head\n", 5), 0);
	assert_int_equal(metrics_render_status(f->m, f->s, NULL, 1, &b),
			 -E2BIG);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "head\n");
	buf_free(&b);
	/* and the counters were not counted twice by the failed attempt */
	const char *t = render(f, NULL, 10500);
	assert_line(t, "loaxa_attempts_total{channel=\"zns\","
		       "outcome=\"accepted\"} 1");
	assert_int_equal(metrics_render_status(NULL, f->s, NULL, 1, &f->out),
			 -EINVAL);
	assert_null(metrics_free(NULL));
}

/* ---- the cost on a bulk-loaded database ---- */

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void test_bulk(void **state)
{
	struct fx *f = *state;
	const char *env = getenv("LOAXA_METRICS_ROWS");
	long rows = env ? strtol(env, NULL, 10) : 20000;
	if (rows < 100)
		rows = 100;
	char sql[2048];
	/* deliveries: status = x % 9, channel zns/esms/oa/none by x % 4,
	 * sent for 2..4, delivered for 3..4 after (x % 4000) s; one attempt
	 * per delivery with outcome x % 6 and 70 codes; half as many
	 * receipts */
	snprintf(sql, sizeof sql,
		 "BEGIN;"
		 "INSERT INTO broadcasts(kind, urgent, state, title,"
		 " send_at_ms, expires_ms, created_ms, updated_ms)"
		 " VALUES (1, 0, 1, 't', 1, 2, 1, 1);"
		 "INSERT INTO waves(broadcast_id, seq, send_at_ms, expires_ms,"
		 " state) VALUES (1, 0, 1, 2, 2);"
		 "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1"
		 " FROM c WHERE x < %ld)"
		 " INSERT INTO deliveries(wave_id, broadcast_id, household_id,"
		 " group_id, status, next_at_ms, channel, updated_ms, sent_ms,"
		 " delivered_ms) SELECT 1, 1, x, 1, x %% 9, 1000,"
		 " CASE x %% 4 WHEN 0 THEN NULL WHEN 1 THEN 'zns'"
		 " WHEN 2 THEN 'esms' ELSE 'oa' END, 5000,"
		 " CASE WHEN x %% 9 IN (2, 3, 4) THEN 1000 END,"
		 " CASE WHEN x %% 9 IN (3, 4) THEN 1000 + (x %% 4000) * 1000"
		 " END FROM c;"
		 "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1"
		 " FROM c WHERE x < %ld)"
		 " INSERT INTO attempts(delivery_id, at_ms, channel,"
		 " http_status, outcome, code, latency_ms)"
		 " SELECT x, 1000, CASE x %% 3 WHEN 1 THEN 'zns' WHEN 2"
		 " THEN 'esms' ELSE 'oa' END, 200, x %% 6,"
		 " CASE WHEN x %% 6 = 0 THEN NULL ELSE '-' || (x %% 70) END,"
		 " 100 FROM c;"
		 "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1"
		 " FROM c WHERE x < %ld)"
		 " INSERT INTO receipts(received_ms, provider, kind, msg_id,"
		 " at_ms, delivery_id, outcome, changed)"
		 " SELECT 1, x %% 5, x %% 3, 'm' || x, 1, x, x %% 4, 1 FROM c;"
		 "COMMIT;", rows, rows, rows / 2);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	exec_sql(f, sql);
	double load = ms_since(&t0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	const char *t = render(f, NULL, 10500);
	double first = ms_since(&t0);
	double scan = value_of(t, "loaxa_metrics_scan_seconds") * 1000;

	/* the figures match the rows */
	double total = 0;
	for (int st = 0; st < DS_MAX; st++) {
		const char *chans[] = { "esms", "none", "oa", "zns" };
		for (size_t c = 0; c < 4; c++) {
			char smp[128];
			snprintf(smp, sizeof smp, "loaxa_deliveries{status="
				 "\"%s\",channel=\"%s\"}",
				 delivery_status_name((enum delivery_status)st),
				 chans[c]);
			total += value_of(t, smp);
		}
	}
	assert_int_equal((long)total, rows);
	long delivered = 0;
	for (long x = 1; x <= rows; x++)
		delivered += x % 9 == 3 || x % 9 == 4;
	assert_int_equal((long)value_of(t, "loaxa_receipt_latency_seconds_"
					"count"), delivered);
	double att = 0;
	for (size_t o = 0; o < CHO_MAX; o++) {
		const char *chans[] = { "esms", "oa", "zns" };
		for (size_t c = 0; c < 3; c++) {
			char smp[128];
			snprintf(smp, sizeof smp, "loaxa_attempts_total{"
				 "channel=\"%s\",outcome=\"%s\"}", chans[c],
				 channel_outcome_name((enum channel_outcome)o));
			att += value_of(t, smp);
		}
	}
	assert_int_equal((long)att, rows);
	assert_well_formed(t);

	/* the next scrape: the deliveries scan again, no new attempts */
	metrics_set_cache(f->m, 0, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	t = render(f, NULL, 10500);
	double again = ms_since(&t0);
	double scan2 = value_of(t, "loaxa_metrics_scan_seconds") * 1000;
	fprintf(stderr, "[ metrics ] %ld deliveries, %ld attempts, %ld "
		"receipts: bulk load %.0f ms; first scrape %.1f ms (deliveries "
		"scan %.1f ms); next scrape %.1f ms (scan %.1f ms); answer "
		"%zu bytes\n", rows, rows, rows / 2, load, first, scan,
		again, scan2, f->out.len);
}

int main(void)
{
	log_set_level(LOG_LVL_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_known_rows, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_engine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escaping, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_code_cap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_incremental, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_buffer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bulk, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
