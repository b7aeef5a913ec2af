/* state.c: everything loaxa-sandbox remembers, behind one mutex.
 *
 * Counters (per provider, per wall-clock second, per sliding 1000 ms
 * window), the ring of received messages, the duplicate counts, the
 * behaviour rules, the Zalo tokens, the ZNS quota and the PRNG. Every
 * public function takes the lock for as little work as it can: JSON is
 * built outside it wherever the data allows.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sandbox.h"

#define SECS 120                        /* per-second history */
#define RESULT_KEYS 48                  /* distinct results per provider */
#define WINDOW_MAX ((size_t)1 << 22)    /* sliding-window timestamps */
#define DEDUP_MAX ((size_t)2 << 20)     /* distinct message keys tracked */
#define REQUEST_IDS_MAX ((size_t)1 << 20)
#define ACCESS_TOKENS 16
#define USED_REFRESH 32

struct sec_slot {
	int64_t t;
	uint32_t n, ok;
};

/* Arrival times (monotonic microseconds) of the requests in the last
 * 1000 ms: the sliding window behind max_per_1000ms. */
struct window {
	int64_t *ts;
	size_t cap, head, len;
};

struct pstat {
	uint64_t requests, messages;
	struct sec_slot secs[SECS];
	uint32_t max_per_second, max_per_1000ms;
	struct window win;
	int64_t minute;
	uint32_t minute_n;
	struct {
		char key[32];
		uint64_t n;
	} results[RESULT_KEYS];
	unsigned n_results;
	uint64_t results_other;
};

/* uint64 -> uint64, open addressing; key 0 marks an empty slot. */
struct u64map {
	uint64_t *k, *v;
	size_t cap, len, max;
};

struct record {
	uint64_t seq, key;
	enum provider prov;
	bool accepted, duplicate;
	char *to_norm;
	char *json;             /* object text without seq/count/duplicate */
	size_t json_len;
};

struct rule {
	bool set;
	enum mode mode;
	int64_t latency_ms;     /* -1: the global --latency */
	int64_t jitter_ms;
	double error_rate;
	unsigned error_status;
	char *error_body;       /* text to send */
	char *error_ctype;
	json_t *error_json;     /* for GET */
	int retry_after;
	int64_t until_ms;       /* 0: none */
	int64_t remaining;      /* -1: unlimited */
	int64_t max_per_second; /* 0: none */
	int receipts;           /* -1: default (on), 0 off, 1 on */
	int64_t receipt_delay_min, receipt_delay_max;   /* -1: default */
	double receipt_duplicate_rate, receipt_reorder_rate; /* <0: default */
};

struct atoken {
	char tok[SB_TOKEN_MAX];
	int64_t issued_ms, expires_ms;
};

static struct {
	pthread_mutex_t lock;
	struct pstat p[PROV__N];
	uint64_t control_requests, unknown_requests, duplicates, seq;
	uint64_t http[600];
	uint64_t hung, refused;
	struct u64map dedup, request_ids;
	struct record *ring;
	size_t ring_cap, ring_head, ring_len;
	struct rule rules[PROV__N + 1];
	uint64_t rng;
	struct atoken access[ACCESS_TOKENS];
	size_t n_access;
	char refresh[SB_TOKEN_MAX];
	char used[USED_REFRESH][SB_TOKEN_MAX];
	size_t n_used, used_head;
	uint64_t token_gen, refreshes, refresh_reused, refresh_unknown;
	int64_t quota_daily, quota_remaining, quota_day;
	int64_t started_ms;
	/* --record */
	pthread_mutex_t file_lock;
	FILE *file;
	char *file_path;
} S = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.file_lock = PTHREAD_MUTEX_INITIALIZER,
};

static const char *const provider_names[PROV__N] = {
	[PROV_ZNS] = "zns",
	[PROV_OA] = "oa",
	[PROV_OAUTH] = "oauth",
	[PROV_MESSENGER] = "messenger",
	[PROV_ESMS] = "esms",
	[PROV_TWILIO] = "twilio",
};

static const char *const mode_names[] = {
	[MODE_OK] = "ok",
	[MODE_REFUSE] = "refuse",
	[MODE_503] = "503",
	[MODE_429] = "429",
	[MODE_HANG] = "hang",
};

const char *provider_name(enum provider p)
{
	return p < PROV__N ? provider_names[p] : "*";
}

int provider_from_name(const char *s)
{
	int i;

	if (!s)
		return -1;
	if (streq(s, "*") || streq(s, "all"))
		return PROV_ALL;
	for (i = 0; i < PROV__N; i++)
		if (streq(s, provider_names[i]))
			return i;
	return -1;
}

int64_t sb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sb_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void sb_iso_time(int64_t ms, char out[static 48])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 48, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* ---- small containers (called with the lock held) ---- */

static size_t u64map_find(const struct u64map *m, uint64_t key)
{
	size_t mask = m->cap - 1, i = (size_t)(key ^ (key >> 29)) & mask;

	while (m->k[i] && m->k[i] != key)
		i = (i + 1) & mask;
	return i;
}

static int u64map_grow(struct u64map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024, i;
	struct u64map n = { .cap = cap, .len = m->len, .max = m->max };

	n.k = calloc(cap, sizeof(*n.k));
	n.v = calloc(cap, sizeof(*n.v));
	if (!n.k || !n.v) {
		free(n.k);
		free(n.v);
		return -ENOMEM;
	}
	for (i = 0; i < m->cap; i++) {
		if (m->k[i]) {
			size_t j = u64map_find(&n, m->k[i]);

			n.k[j] = m->k[i];
			n.v[j] = m->v[i];
		}
	}
	free(m->k);
	free(m->v);
	*m = n;
	return 0;
}

/* The value for key (inserting 0 if insert), or NULL. */
static uint64_t *u64map_get(struct u64map *m, uint64_t key, bool insert)
{
	size_t i;

	key |= !key;
	if (m->cap) {
		i = u64map_find(m, key);
		if (m->k[i] == key)
			return &m->v[i];
	}
	if (!insert || m->len >= m->max)
		return NULL;
	if ((m->len + 1) * 2 > m->cap && u64map_grow(m) < 0)
		return NULL;
	i = u64map_find(m, key);
	m->k[i] = key;
	m->v[i] = 0;
	m->len++;
	return &m->v[i];
}

static void u64map_free(struct u64map *m)
{
	free(m->k);
	free(m->v);
	m->k = m->v = NULL;
	m->cap = m->len = 0;
}

static uint32_t window_push(struct window *w, int64_t now)
{
	while (w->len && w->ts[w->head] <= now - 1000000) {
		w->head = (w->head + 1) % w->cap;
		w->len--;
	}
	if (w->len == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 1024, i;
		int64_t *ts;

		if (cap > WINDOW_MAX || !(ts = malloc(cap * sizeof(*ts)))) {
			/* Saturated: forget the oldest (count stays at cap). */
			w->head = (w->head + 1) % w->cap;
			w->len--;
		} else {
			for (i = 0; i < w->len; i++)
				ts[i] = w->ts[(w->head + i) % w->cap];
			free(w->ts);
			w->ts = ts;
			w->cap = cap;
			w->head = 0;
		}
	}
	w->ts[(w->head + w->len) % w->cap] = now;
	w->len++;
	return (uint32_t)w->len;
}

/* Arrivals in the 1000 ms up to now (without dropping any). */
static size_t window_count(const struct window *w, int64_t now)
{
	size_t i, c = 0;

	for (i = 0; i < w->len; i++)
		c += w->ts[(w->head + i) % w->cap] > now - 1000000;
	return c;
}

static void rule_clear(struct rule *r)
{
	free(r->error_body);
	free(r->error_ctype);
	json_decref(r->error_json);
	*r = (struct rule){ 0 };
}

static void record_clear(struct record *rec)
{
	free(rec->to_norm);
	free(rec->json);
	*rec = (struct record){ 0 };
}

static uint64_t rng_next(void)
{
	/* splitmix64 */
	uint64_t z = (S.rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Local day in Vietnam (UTC+7), for the ZNS daily quota. */
static int64_t vn_day(int64_t now_ms)
{
	return (now_ms / 1000 + 7 * 3600) / 86400;
}

static void tokens_init(int64_t now)
{
	S.n_access = 1;
	snprintf(S.access[0].tok, SB_TOKEN_MAX, "%s", the_config.access_token);
	S.access[0].issued_ms = now;
	S.access[0].expires_ms = now + the_config.token_ttl_s * 1000;
	snprintf(S.refresh, SB_TOKEN_MAX, "%s", the_config.refresh_token);
	S.n_used = S.used_head = 0;
	S.token_gen = 0;
	S.refreshes = S.refresh_reused = S.refresh_unknown = 0;
}

/* Everything but the file: called with the lock held. */
static void reset_locked(void)
{
	int64_t now = sb_now_ms();
	size_t i;

	for (i = 0; i < PROV__N; i++) {
		struct window w = S.p[i].win;

		w.head = w.len = 0;
		S.p[i] = (struct pstat){ .win = w };
	}
	S.control_requests = S.unknown_requests = S.duplicates = 0;
	S.hung = S.refused = 0;
	memset(S.http, 0, sizeof(S.http));
	u64map_free(&S.dedup);
	u64map_free(&S.request_ids);
	S.dedup.max = DEDUP_MAX;
	S.request_ids.max = REQUEST_IDS_MAX;
	for (i = 0; i < S.ring_len; i++)
		record_clear(&S.ring[(S.ring_head + i) % S.ring_cap]);
	S.ring_head = S.ring_len = 0;
	for (i = 0; i <= PROV__N; i++)
		rule_clear(&S.rules[i]);
	S.rng = the_config.seed;
	tokens_init(now);
	S.quota_daily = S.quota_remaining = the_config.zns_quota;
	S.quota_day = vn_day(now);
	S.started_ms = now;
}

int state_init(void)
{
	S.ring_cap = (size_t)the_config.max_records;
	if (S.ring_cap) {
		S.ring = calloc(S.ring_cap, sizeof(*S.ring));
		if (!S.ring)
			return -ENOMEM;
	}
	pthread_mutex_lock(&S.lock);
	reset_locked();
	pthread_mutex_unlock(&S.lock);
	return 0;
}

void state_free(void)
{
	size_t i;

	pthread_mutex_lock(&S.lock);
	reset_locked();
	for (i = 0; i < PROV__N; i++) {
		free(S.p[i].win.ts);
		S.p[i].win = (struct window){ 0 };
	}
	free(S.ring);
	S.ring = NULL;
	S.ring_cap = 0;
	pthread_mutex_unlock(&S.lock);
	pthread_mutex_lock(&S.file_lock);
	if (S.file)
		fclose(S.file);
	S.file = NULL;
	free(S.file_path);
	S.file_path = NULL;
	pthread_mutex_unlock(&S.file_lock);
}

void state_reset(void)
{
	pthread_mutex_lock(&S.lock);
	reset_locked();
	pthread_mutex_unlock(&S.lock);
}

/* ---- arrival and outcome ---- */

/* The rule that applies to provider p now, dropping expired ones. */
static struct rule *rule_pick(enum provider p, int64_t now)
{
	struct rule *r;

	for (;;) {
		r = S.rules[p].set ? &S.rules[p] :
		    S.rules[PROV_ALL].set ? &S.rules[PROV_ALL] : NULL;
		if (!r || !r->until_ms || now < r->until_ms)
			return r;
		rule_clear(r);
	}
}

void state_arrive(struct sreq *r)
{
	struct action *a = &r->act;
	struct pstat *ps;
	struct sec_slot *slot;
	struct rule *rule;
	int64_t now, mono, t;
	uint32_t in_window;

	a->latency_ms = the_config.latency_ms;
	a->retry_after = 2;
	a->rl_limit = a->rl_remain = -1;
	a->receipts = true;
	a->receipt_delay_min = RECEIPT_DELAY_MIN;
	a->receipt_delay_max = RECEIPT_DELAY_MAX;
	a->receipt_duplicate_rate = RECEIPT_DUPLICATE_RATE;
	a->receipt_reorder_rate = RECEIPT_REORDER_RATE;
	pthread_mutex_lock(&S.lock);
	now = sb_now_ms();
	r->arrival_ms = now;
	if (r->route == ROUTE_CONTROL) {
		S.control_requests++;
		goto out;
	}
	if (r->route != ROUTE_PROVIDER) {
		S.unknown_requests++;
		goto out;
	}
	mono = mono_us();
	ps = &S.p[r->prov];
	ps->requests++;
	t = now / 1000;
	slot = &ps->secs[t % SECS];
	if (slot->t != t)
		*slot = (struct sec_slot){ .t = t };
	slot->n++;
	if (slot->n > ps->max_per_second)
		ps->max_per_second = slot->n;
	in_window = window_push(&ps->win, mono);
	if (in_window > ps->max_per_1000ms)
		ps->max_per_1000ms = in_window;

	/* The providers' own documented limits (providers.md §3.4, §4.2). */
	if (r->prov == PROV_OA && the_config.oa_limit_per_minute > 0) {
		if (ps->minute != now / 60000) {
			ps->minute = now / 60000;
			ps->minute_n = 0;
		}
		ps->minute_n++;
		a->rl_limit = the_config.oa_limit_per_minute;
		a->rl_remain = a->rl_limit - ps->minute_n;
		if (a->rl_remain < 0) {
			a->rl_remain = 0;
			a->limited = LIMIT_BUILTIN;
		}
	}
	if (r->prov == PROV_MESSENGER &&
	    the_config.messenger_limit_per_second > 0 &&
	    in_window > the_config.messenger_limit_per_second)
		a->limited = LIMIT_BUILTIN;

	rule = rule_pick(r->prov, now);
	if (!rule)
		goto out;
	a->mode = rule->mode;
	if (rule->latency_ms >= 0)
		a->latency_ms = rule->latency_ms;
	if (rule->jitter_ms > 0)
		a->latency_ms += (int64_t)(rng_next() %
					   (uint64_t)(rule->jitter_ms + 1));
	if (rule->retry_after >= 0)
		a->retry_after = rule->retry_after;
	if (rule->max_per_second > 0 && in_window > rule->max_per_second)
		a->limited = LIMIT_RULE;
	if (rule->receipts >= 0)
		a->receipts = rule->receipts;
	if (rule->receipt_delay_min >= 0) {
		a->receipt_delay_min = rule->receipt_delay_min;
		a->receipt_delay_max = rule->receipt_delay_max;
	}
	if (rule->receipt_duplicate_rate >= 0)
		a->receipt_duplicate_rate = rule->receipt_duplicate_rate;
	if (rule->receipt_reorder_rate >= 0)
		a->receipt_reorder_rate = rule->receipt_reorder_rate;
	if (rule->error_rate > 0 &&
	    (double)(rng_next() >> 11) * 0x1.0p-53 < rule->error_rate) {
		a->inject = true;
		a->error_status = rule->error_status;
		if (rule->error_body) {
			a->error_body = strdup(rule->error_body);
			a->error_ctype = strdup(rule->error_ctype ?
						rule->error_ctype :
						"application/json");
		}
	}
	if (rule->remaining > 0 && --rule->remaining == 0)
		rule_clear(rule);
out:
	pthread_mutex_unlock(&S.lock);
}

static void result_count(struct pstat *ps, const char *key)
{
	unsigned i;

	for (i = 0; i < ps->n_results; i++) {
		if (strcmp(ps->results[i].key, key) == 0) {
			ps->results[i].n++;
			return;
		}
	}
	if (ps->n_results == RESULT_KEYS) {
		ps->results_other++;
		return;
	}
	snprintf(ps->results[i].key, sizeof(ps->results[i].key), "%s", key);
	ps->results[i].n = 1;
	ps->n_results++;
}

void state_finish(struct sreq *r)
{
	const struct reply *rp = &r->reply;

	pthread_mutex_lock(&S.lock);
	if (rp->drop && !rp->hang)
		S.refused += r->route == ROUTE_PROVIDER;
	else if (rp->hang)
		S.hung++;
	else if (rp->status < ARRAY_SIZE(S.http))
		S.http[rp->status]++;
	if (r->route == ROUTE_PROVIDER && rp->result[0])
		result_count(&S.p[r->prov], rp->result);
	pthread_mutex_unlock(&S.lock);
}

/* ---- messages ---- */

uint64_t state_key_hash(enum provider p, const char *to_norm,
			const char *extra, size_t extra_len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	h = (h ^ (uint64_t)p) * 0x100000001b3ull;
	for (; *to_norm; to_norm++)
		h = (h ^ (unsigned char)*to_norm) * 0x100000001b3ull;
	h = (h ^ 0xff) * 0x100000001b3ull;
	for (i = 0; i < extra_len; i++)
		h = (h ^ (unsigned char)extra[i]) * 0x100000001b3ull;
	return h;
}

uint64_t state_record(enum provider p, int64_t received_ms,
		      const char *to_norm, uint64_t key, bool accepted,
		      char *json, size_t json_len)
{
	struct record rec = {
		.key = key, .prov = p, .accepted = accepted,
		.to_norm = strdup(to_norm), .json = json, .json_len = json_len,
	};
	uint64_t count = 0, *v;

	if (!rec.to_norm || json_len < 2 || json[json_len - 1] != '}') {
		record_clear(&rec);
		return 0;
	}
	pthread_mutex_lock(&S.lock);
	rec.seq = ++S.seq;
	if (accepted) {
		struct sec_slot *slot =
			&S.p[p].secs[(received_ms / 1000) % SECS];

		v = u64map_get(&S.dedup, key, true);
		count = v ? ++*v : 1;
		rec.duplicate = count > 1;
		S.duplicates += rec.duplicate;
		S.p[p].messages++;
		if (slot->t == received_ms / 1000)
			slot->ok++;
	} else {
		v = u64map_get(&S.dedup, key, false);
		count = v ? *v : 0;
	}
	pthread_mutex_lock(&S.file_lock);
	if (S.file)
		fprintf(S.file, "%.*s,\"seq\":%" PRIu64 ",\"count\":%" PRIu64
			",\"duplicate\":%s}\n", (int)(json_len - 1), json,
			rec.seq, count, rec.duplicate ? "true" : "false");
	pthread_mutex_unlock(&S.file_lock);
	if (S.ring_cap == 0) {
		record_clear(&rec);
	} else if (S.ring_len == S.ring_cap) {
		record_clear(&S.ring[S.ring_head]);
		S.ring[S.ring_head] = rec;
		S.ring_head = (S.ring_head + 1) % S.ring_cap;
	} else {
		S.ring[(S.ring_head + S.ring_len) % S.ring_cap] = rec;
		S.ring_len++;
	}
	pthread_mutex_unlock(&S.lock);
	return count;
}

static bool record_matches(const struct record *rec,
			   const struct msg_filter *f, const char *to_norm)
{
	if (f->provider >= 0 && rec->prov != (enum provider)f->provider)
		return false;
	if (rec->seq <= f->since)
		return false;
	if (f->status >= 0 && rec->accepted != (f->status == 1))
		return false;
	return !to_norm || strcmp(rec->to_norm, to_norm) == 0;
}

char *state_messages_json(const struct msg_filter *f, size_t *ret_len)
{
	struct sbuf b = { 0 };
	char to_norm[64];
	size_t i, matched = 0, skip, emitted = 0;

	if (f->to)
		phone_norm(f->to, to_norm, sizeof(to_norm));
	/* PSIDs and Zalo user ids are compared as digits too; a recipient
	 * with no digits at all is compared as given. */
	if (f->to && !to_norm[0])
		snprintf(to_norm, sizeof(to_norm), "%s", f->to);
	pthread_mutex_lock(&S.lock);
	for (i = 0; i < S.ring_len; i++)
		matched +=
			record_matches(&S.ring[(S.ring_head + i) % S.ring_cap],
				       f, f->to ? to_norm : NULL);
	skip = matched > f->limit ? matched - f->limit : 0;
	sbuf_addf(&b, "{\"matched\":%zu,\"returned\":%zu,\"last_seq\":%" PRIu64
		  ",\"messages\":[", matched, matched - skip, S.seq);
	for (i = 0; i < S.ring_len; i++) {
		const struct record *rec =
			&S.ring[(S.ring_head + i) % S.ring_cap];
		uint64_t *v, count;

		if (!record_matches(rec, f, f->to ? to_norm : NULL))
			continue;
		if (skip) {
			skip--;
			continue;
		}
		v = u64map_get(&S.dedup, rec->key, false);
		count = v ? *v : 0;
		if (emitted++)
			sbuf_add(&b, ",", 1);
		sbuf_add(&b, rec->json, rec->json_len - 1);
		sbuf_addf(&b, ",\"seq\":%" PRIu64 ",\"count\":%" PRIu64
			  ",\"duplicate\":%s}", rec->seq, count,
			  rec->duplicate ? "true" : "false");
	}
	pthread_mutex_unlock(&S.lock);
	sbuf_adds(&b, "]}");
	return sbuf_steal(&b, ret_len);
}

/* ---- stats ---- */

static void jset_int(json_t *o, const char *key, int64_t v)
{
	json_object_set_new(o, key, json_integer((json_int_t)v));
}

struct ps_entry {
	int64_t t;
	int prov;
	uint32_t n, ok;
};

static int ps_entry_cmp(const void *a, const void *b)
{
	const struct ps_entry *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->prov - y->prov;
}

json_t *state_stats_json(void)
{
	json_t *o = json_object(), *req = json_object(), *msg = json_object();
	json_t *bys = json_object(), *http = json_object();
	json_t *mps = json_object(), *mw = json_object(), *cur = json_object();
	json_t *persec = json_array();
	struct ps_entry ent[PROV__N * SECS];
	size_t n_ent = 0, i, j;
	int64_t now, now_s;
	char key[16];

	pthread_mutex_lock(&S.lock);
	now = sb_now_ms();
	now_s = now / 1000;
	for (i = 0; i < PROV__N; i++) {
		struct pstat *ps = &S.p[i];
		json_t *rs = json_object();
		const char *name = provider_names[i];

		jset_int(req, name, ps->requests);
		jset_int(msg, name, ps->messages);
		for (j = 0; j < ps->n_results; j++)
			jset_int(rs, ps->results[j].key, ps->results[j].n);
		if (ps->results_other)
			jset_int(rs, "other", ps->results_other);
		json_object_set_new(bys, name, rs);
		jset_int(mps, name, ps->max_per_second);
		jset_int(mw, name, ps->max_per_1000ms);
		jset_int(cur, name, window_count(&ps->win, mono_us()));
		for (j = 0; j < SECS; j++) {
			struct sec_slot *s = &ps->secs[j];

			if (s->n && s->t > now_s - SECS)
				ent[n_ent++] = (struct ps_entry){
					.t = s->t, .prov = (int)i,
					.n = s->n, .ok = s->ok,
				};
		}
	}
	jset_int(req, "control", S.control_requests);
	jset_int(req, "unknown", S.unknown_requests);
	for (i = 0; i < ARRAY_SIZE(S.http); i++) {
		if (!S.http[i])
			continue;
		snprintf(key, sizeof(key), "%zu", i);
		jset_int(http, key, S.http[i]);
	}
	jset_int(o, "duplicates", S.duplicates);
	jset_int(o, "hung", S.hung);
	jset_int(o, "refused", S.refused);
	jset_int(o, "last_seq", S.seq);
	json_object_set_new(o, "zns_quota", json_pack("{s:I,s:I}",
		"daily", (json_int_t)S.quota_daily,
		"remaining", (json_int_t)S.quota_remaining));
	jset_int(o, "started_ms", S.started_ms);
	pthread_mutex_unlock(&S.lock);

	qsort(ent, n_ent, sizeof(ent[0]), ps_entry_cmp);
	for (i = 0; i < n_ent; i++)
		json_array_append_new(persec, json_pack("{s:I,s:s,s:i,s:i}",
			"t", (json_int_t)ent[i].t,
			"provider", provider_names[ent[i].prov],
			"n", (int)ent[i].n, "ok", (int)ent[i].ok));
	json_object_set_new(o, "requests", req);
	json_object_set_new(o, "messages", msg);
	json_object_set_new(o, "by_status", bys);
	json_object_set_new(o, "http", http);
	json_object_set_new(o, "max_per_second", mps);
	json_object_set_new(o, "max_per_1000ms", mw);
	json_object_set_new(o, "last_1000ms", cur);
	json_object_set_new(o, "per_second", persec);
	jset_int(o, "now_ms", now);
	return o;
}

/* ---- Zalo tokens ---- */

enum token_state state_token_check(const char *tok)
{
	enum token_state st = TOKEN_UNKNOWN;
	int64_t now;
	size_t i;

	if (!tok || !*tok)
		return TOKEN_UNKNOWN;
	pthread_mutex_lock(&S.lock);
	now = sb_now_ms();
	for (i = 0; i < S.n_access; i++) {
		if (strcmp(S.access[i].tok, tok) == 0) {
			st = now < S.access[i].expires_ms ? TOKEN_OK :
			     TOKEN_EXPIRED;
			break;
		}
	}
	pthread_mutex_unlock(&S.lock);
	return st;
}

int state_token_refresh(const char *refresh,
			char ret_access[static SB_TOKEN_MAX],
			char ret_refresh[static SB_TOKEN_MAX])
{
	int64_t now;
	size_t i;
	int r = -ENOENT;

	pthread_mutex_lock(&S.lock);
	now = sb_now_ms();
	if (refresh && strcmp(refresh, S.refresh) == 0) {
		S.token_gen++;
		snprintf(S.used[S.used_head], SB_TOKEN_MAX, "%s", S.refresh);
		S.used_head = (S.used_head + 1) % USED_REFRESH;
		if (S.n_used < USED_REFRESH)
			S.n_used++;
		snprintf(S.refresh, SB_TOKEN_MAX,
			 "sandbox-refresh-token-%" PRIu64, S.token_gen);
		if (S.n_access == ACCESS_TOKENS) {
			memmove(&S.access[0], &S.access[1],
				(ACCESS_TOKENS - 1) * sizeof(S.access[0]));
			S.n_access--;
		}
		snprintf(S.access[S.n_access].tok, SB_TOKEN_MAX,
			 "sandbox-access-token-%" PRIu64, S.token_gen);
		S.access[S.n_access].issued_ms = now;
		S.access[S.n_access].expires_ms =
			now + the_config.token_ttl_s * 1000;
		memcpy(ret_access, S.access[S.n_access].tok, SB_TOKEN_MAX);
		memcpy(ret_refresh, S.refresh, SB_TOKEN_MAX);
		S.n_access++;
		S.refreshes++;
		r = 0;
	} else if (refresh) {
		for (i = 0; i < S.n_used; i++)
			if (strcmp(S.used[i], refresh) == 0)
				r = -EALREADY;
		if (r == -EALREADY)
			S.refresh_reused++;
		else
			S.refresh_unknown++;
	}
	pthread_mutex_unlock(&S.lock);
	return r;
}

void state_tokens_expire(void)
{
	int64_t now;
	size_t i;

	pthread_mutex_lock(&S.lock);
	now = sb_now_ms();
	for (i = 0; i < S.n_access; i++)
		if (S.access[i].expires_ms > now)
			S.access[i].expires_ms = now;
	pthread_mutex_unlock(&S.lock);
}

json_t *state_tokens_json(void)
{
	json_t *o = json_object(), *a = json_array();
	int64_t now;
	size_t i;

	pthread_mutex_lock(&S.lock);
	now = sb_now_ms();
	for (i = 0; i < S.n_access; i++)
		json_array_append_new(a, json_pack("{s:s,s:I,s:I,s:b}",
			"token", S.access[i].tok,
			"issued_ms", (json_int_t)S.access[i].issued_ms,
			"expires_ms", (json_int_t)S.access[i].expires_ms,
			"valid", now < S.access[i].expires_ms));
	json_object_set_new(o, "access_tokens", a);
	json_object_set_new(o, "refresh_token", json_string(S.refresh));
	jset_int(o, "refreshes", S.refreshes);
	jset_int(o, "refresh_reused", S.refresh_reused);
	jset_int(o, "refresh_unknown", S.refresh_unknown);
	jset_int(o, "token_ttl_s", the_config.token_ttl_s);
	pthread_mutex_unlock(&S.lock);
	return o;
}

/* ---- quota, RequestId, randomness ---- */

bool state_zns_quota_take(int64_t *ret_daily, int64_t *ret_remaining)
{
	bool ok = false;
	int64_t day;

	pthread_mutex_lock(&S.lock);
	day = vn_day(sb_now_ms());
	if (day != S.quota_day) {
		S.quota_day = day;
		S.quota_remaining = S.quota_daily;
	}
	if (S.quota_remaining > 0) {
		S.quota_remaining--;
		ok = true;
	}
	*ret_daily = S.quota_daily;
	*ret_remaining = S.quota_remaining;
	pthread_mutex_unlock(&S.lock);
	return ok;
}

bool state_esms_request_id_claim(const char *id)
{
	uint64_t key = state_key_hash(PROV_ESMS, "", id, strlen(id)), *v;
	int64_t now;
	bool fresh = true;

	pthread_mutex_lock(&S.lock);
	now = sb_now_ms();
	v = u64map_get(&S.request_ids, key, true);
	if (v) {
		if (*v && now - (int64_t)*v < 24 * 3600 * 1000)
			fresh = false;
		else
			*v = (uint64_t)now;
	}
	pthread_mutex_unlock(&S.lock);
	return fresh;
}

uint64_t state_random(void)
{
	uint64_t v;

	pthread_mutex_lock(&S.lock);
	v = rng_next();
	pthread_mutex_unlock(&S.lock);
	return v;
}

static void random_from(char *out, size_t n, const char *alphabet, size_t k)
{
	uint64_t v = 0;
	size_t i, left = 0;

	pthread_mutex_lock(&S.lock);
	for (i = 0; i < n; i++) {
		if (left == 0) {
			v = rng_next();
			left = 10;      /* 10 draws of 6 bits from 64 */
		}
		out[i] = alphabet[(v & 63) % k];
		v >>= 6;
		left--;
	}
	pthread_mutex_unlock(&S.lock);
	out[n] = '\0';
}

void state_random_hex(char *out, size_t n)
{
	random_from(out, n, "0123456789abcdef", 16);
}

void state_random_alnum(char *out, size_t n)
{
	random_from(out, n,
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_-",
		    64);
}

/* ---- behaviour rules ---- */

/* Report a rule error and fail (err/errlen are in scope). */
#define RULE_FAIL(...) \
	do { \
		snprintf(err, errlen, __VA_ARGS__); \
		return -EINVAL; \
	} while (0)

static int int_member(json_t *v, const char *name, int64_t min, int64_t max,
		      int64_t *ret, char *err, size_t errlen)
{
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max)
		RULE_FAIL("%s: expected an integer in [%" PRId64 ", %" PRId64
			  "]", name, min, max);
	*ret = json_integer_value(v);
	return 0;
}

static int bool_member(json_t *v, const char *name, bool *ret, char *err,
		       size_t errlen)
{
	if (!json_is_boolean(v))
		RULE_FAIL("%s: expected true or false", name);
	*ret = json_is_true(v);
	return 0;
}

struct rule_in {
	int prov;
	bool has_rule, clear, expire_tokens;
	int64_t zns_quota;      /* -1: unchanged */
	struct rule r;
};

/* "error": {"status": N, "body": any, "content_type": "..."} */
static int rule_parse_error(json_t *v, struct rule *r, char *err,
			    size_t errlen)
{
	json_t *st, *body, *ct, *ev;
	const char *ek, *type;
	int64_t n;

	if (!json_is_object(v))
		RULE_FAIL("error: expected an object "
			  "{\"status\":N,\"body\":...}");
	json_object_foreach(v, ek, ev) {
		if (!streq(ek, "status") && !streq(ek, "body") &&
		    !streq(ek, "content_type"))
			RULE_FAIL("error: unknown key \"%s\" (expected status, "
				  "body, content_type)", ek);
	}
	st = json_object_get(v, "status");
	body = json_object_get(v, "body");
	ct = json_object_get(v, "content_type");
	if (st) {
		if (int_member(st, "error.status", 100, 599, &n, err, errlen))
			return -EINVAL;
		r->error_status = (unsigned)n;
	}
	if (ct && !json_is_string(ct))
		RULE_FAIL("error.content_type: expected a string");
	if (!body)
		return 0;
	if (json_is_string(body)) {
		r->error_body = strdup(json_string_value(body));
		type = "text/plain; charset=utf-8";
	} else {
		r->error_body =
			json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		type = "application/json; charset=utf-8";
	}
	r->error_ctype = strdup(ct ? json_string_value(ct) : type);
	r->error_json = json_incref(body);
	if (!r->error_body || !r->error_ctype)
		RULE_FAIL("out of memory");
	return 0;
}

static int rule_parse_key(struct rule_in *in, const char *k, json_t *v,
			  char *err, size_t errlen)
{
	struct rule *r = &in->r;
	int64_t n;
	size_t i;

	in->has_rule = true;
	if (streq(k, "mode")) {
		const char *m = json_string_value(v);

		for (i = 0; m && i < ARRAY_SIZE(mode_names); i++)
			if (streq(m, mode_names[i]))
				break;
		if (!m || i == ARRAY_SIZE(mode_names))
			RULE_FAIL("mode: expected one of ok, refuse, 503, 429, "
				  "hang");
		r->mode = (enum mode)i;
		return 0;
	}
	if (streq(k, "latency_ms"))
		return int_member(v, k, 0, 3600000, &r->latency_ms, err,
				  errlen);
	if (streq(k, "jitter_ms"))
		return int_member(v, k, 0, 3600000, &r->jitter_ms, err, errlen);
	if (streq(k, "error_rate")) {
		if (!json_is_number(v) || json_number_value(v) < 0 ||
		    json_number_value(v) > 1)
			RULE_FAIL("error_rate: expected a number in [0, 1]");
		r->error_rate = json_number_value(v);
		return 0;
	}
	if (streq(k, "error"))
		return rule_parse_error(v, r, err, errlen);
	if (streq(k, "retry_after")) {
		if (int_member(v, k, 0, 86400, &n, err, errlen))
			return -EINVAL;
		r->retry_after = (int)n;
		return 0;
	}
	if (streq(k, "until_ms"))
		return int_member(v, k, 0, INT64_MAX / 2, &r->until_ms, err,
				  errlen);
	if (streq(k, "for_ms")) {
		if (int_member(v, k, 1, INT64_MAX / 4, &n, err, errlen))
			return -EINVAL;
		r->until_ms = sb_now_ms() + n;
		return 0;
	}
	if (streq(k, "count"))
		return int_member(v, k, 1, INT64_MAX / 2, &r->remaining, err,
				  errlen);
	if (streq(k, "max_per_second"))
		return int_member(v, k, 1, 100000000, &r->max_per_second, err,
				  errlen);
	if (streq(k, "receipts")) {
		bool b;

		if (bool_member(v, k, &b, err, errlen))
			return -EINVAL;
		r->receipts = b;
		return 0;
	}
	if (streq(k, "receipt_delay_ms")) {
		/* N, or [MIN, MAX]: a uniform draw in [MIN, MAX] */
		if (json_is_array(v) && json_array_size(v) == 2) {
			if (int_member(json_array_get(v, 0), "receipt_delay_ms[0]",
				       0, 3600000, &r->receipt_delay_min, err,
				       errlen) ||
			    int_member(json_array_get(v, 1), "receipt_delay_ms[1]",
				       0, 3600000, &r->receipt_delay_max, err,
				       errlen))
				return -EINVAL;
			if (r->receipt_delay_max < r->receipt_delay_min)
				RULE_FAIL("receipt_delay_ms: expected [MIN, MAX] "
					  "with MIN <= MAX");
			return 0;
		}
		if (!json_is_integer(v))
			RULE_FAIL("receipt_delay_ms: expected an integer or "
				  "[MIN, MAX] in [0, 3600000]");
		if (int_member(v, k, 0, 3600000, &r->receipt_delay_min, err,
			       errlen))
			return -EINVAL;
		r->receipt_delay_max = r->receipt_delay_min;
		return 0;
	}
	if (streq(k, "receipt_duplicate_rate") ||
	    streq(k, "receipt_reorder_rate")) {
		if (!json_is_number(v) || json_number_value(v) < 0 ||
		    json_number_value(v) > 1)
			RULE_FAIL("%s: expected a number in [0, 1]", k);
		if (streq(k, "receipt_duplicate_rate"))
			r->receipt_duplicate_rate = json_number_value(v);
		else
			r->receipt_reorder_rate = json_number_value(v);
		return 0;
	}

	/* Not rule fields. */
	in->has_rule = false;
	if (streq(k, "provider")) {
		in->prov = provider_from_name(json_string_value(v));
		if (in->prov < 0)
			RULE_FAIL("provider: expected one of zns, oa, oauth, "
				  "messenger, esms, twilio, *");
		return 0;
	}
	if (streq(k, "expire_tokens"))
		return bool_member(v, k, &in->expire_tokens, err, errlen);
	if (streq(k, "zns_quota"))
		return int_member(v, k, 0, INT64_MAX / 2, &in->zns_quota, err,
				  errlen);
	if (streq(k, "clear"))
		return bool_member(v, k, &in->clear, err, errlen);
	if (streq(k, "comment"))        /* for whoever reads GET behaviour */
		return 0;
	RULE_FAIL("unknown key \"%s\"", k);
}

static int rule_parse(json_t *o, struct rule_in *in, char *err, size_t errlen)
{
	bool has_rule = false;
	const char *k;
	json_t *v;

	*in = (struct rule_in){
		.prov = PROV_ALL, .zns_quota = -1,
		.r = { .set = true, .latency_ms = -1, .retry_after = -1,
		       .remaining = -1, .receipts = -1,
		       .receipt_delay_min = -1, .receipt_delay_max = -1,
		       .receipt_duplicate_rate = -1,
		       .receipt_reorder_rate = -1 },
	};
	if (!json_is_object(o))
		RULE_FAIL("a rule must be a JSON object");
	json_object_foreach(o, k, v) {
		if (rule_parse_key(in, k, v, err, errlen) < 0)
			return -EINVAL;
		has_rule |= in->has_rule;
	}
	in->has_rule = has_rule;
	if (in->clear && in->has_rule)
		RULE_FAIL("clear cannot be combined with rule fields");
	return 0;
}

int state_rules_apply(json_t *body, char *err, size_t errlen)
{
	struct rule_in *in;
	size_t n, i;
	int r = 0;

	n = json_is_array(body) ? json_array_size(body) : 1;
	if (n == 0 || n > 64) {
		snprintf(err, errlen,
			 "expected a rule object or an array of 1 to 64");
		return -EINVAL;
	}
	in = calloc(n, sizeof(*in));
	if (!in) {
		snprintf(err, errlen, "out of memory");
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		r = rule_parse(json_is_array(body) ? json_array_get(body, i)
						   : body,
			       &in[i], err, errlen);
		if (r < 0) {
			if (json_is_array(body)) {
				size_t l = strlen(err);

				snprintf(err + l, errlen - l, " (rule %zu)", i);
			}
			rule_clear(&in[i].r);
			break;
		}
	}
	if (r < 0) {
		while (i-- > 0)
			rule_clear(&in[i].r);
		free(in);
		return r;
	}
	pthread_mutex_lock(&S.lock);
	for (i = 0; i < n; i++) {
		struct rule *slot = &S.rules[in[i].prov];

		if (in[i].clear) {
			rule_clear(slot);
		} else if (in[i].has_rule) {
			rule_clear(slot);
			*slot = in[i].r;
			in[i].r = (struct rule){ 0 };
		}
		rule_clear(&in[i].r);
		if (in[i].expire_tokens) {
			int64_t now = sb_now_ms();
			size_t j;

			for (j = 0; j < S.n_access; j++)
				if (S.access[j].expires_ms > now)
					S.access[j].expires_ms = now;
		}
		if (in[i].zns_quota >= 0) {
			S.quota_remaining = in[i].zns_quota;
			S.quota_day = vn_day(sb_now_ms());
		}
	}
	pthread_mutex_unlock(&S.lock);
	free(in);
	return 0;
}

void state_rules_clear(void)
{
	size_t i;

	pthread_mutex_lock(&S.lock);
	for (i = 0; i <= PROV__N; i++)
		rule_clear(&S.rules[i]);
	pthread_mutex_unlock(&S.lock);
}

json_t *state_rules_json(void)
{
	json_t *a = json_array();
	int64_t now;
	size_t i;

	pthread_mutex_lock(&S.lock);
	now = sb_now_ms();
	for (i = 0; i <= PROV__N; i++) {
		struct rule *r = &S.rules[i];
		json_t *o;

		if (!r->set || (r->until_ms && now >= r->until_ms))
			continue;
		o = json_pack("{s:s,s:s}", "provider",
			      provider_name((enum provider)i), "mode",
			      mode_names[r->mode]);
		if (r->latency_ms >= 0)
			jset_int(o, "latency_ms", r->latency_ms);
		if (r->jitter_ms)
			jset_int(o, "jitter_ms", r->jitter_ms);
		if (r->error_rate > 0)
			json_object_set_new(o, "error_rate",
					    json_real(r->error_rate));
		if (r->error_status || r->error_json) {
			json_t *e = json_object();

			if (r->error_status)
				jset_int(e, "status", r->error_status);
			if (r->error_json)
				json_object_set(e, "body", r->error_json);
			if (r->error_ctype)
				json_object_set_new(
					e, "content_type",
					json_string(r->error_ctype));
			json_object_set_new(o, "error", e);
		}
		if (r->retry_after >= 0)
			jset_int(o, "retry_after", r->retry_after);
		if (r->until_ms)
			jset_int(o, "until_ms", r->until_ms);
		if (r->remaining >= 0)
			jset_int(o, "count", r->remaining);
		if (r->max_per_second)
			jset_int(o, "max_per_second", r->max_per_second);
		if (r->receipts >= 0)
			json_object_set_new(o, "receipts",
					    json_boolean(r->receipts));
		if (r->receipt_delay_min >= 0)
			json_object_set_new(o, "receipt_delay_ms",
				json_pack("[I,I]",
					  (json_int_t)r->receipt_delay_min,
					  (json_int_t)r->receipt_delay_max));
		if (r->receipt_duplicate_rate >= 0)
			json_object_set_new(o, "receipt_duplicate_rate",
				json_real(r->receipt_duplicate_rate));
		if (r->receipt_reorder_rate >= 0)
			json_object_set_new(o, "receipt_reorder_rate",
				json_real(r->receipt_reorder_rate));
		json_array_append_new(a, o);
	}
	pthread_mutex_unlock(&S.lock);
	return json_pack("{s:o,s:I}", "rules", a, "now_ms", (json_int_t)now);
}

/* ---- --record FILE ---- */

int state_record_open(const char *path)
{
	FILE *f = fopen(path, "ae");

	if (!f)
		return -errno;
	pthread_mutex_lock(&S.file_lock);
	if (S.file)
		fclose(S.file);
	S.file = f;
	if (!S.file_path || strcmp(S.file_path, path) != 0) {
		free(S.file_path);
		S.file_path = strdup(path);
	}
	pthread_mutex_unlock(&S.file_lock);
	return 0;
}

void state_record_flush(void)
{
	pthread_mutex_lock(&S.file_lock);
	if (S.file)
		fflush(S.file);
	pthread_mutex_unlock(&S.file_lock);
}

void state_record_reopen(void)
{
	_cleanup_free_ char *path = NULL;

	pthread_mutex_lock(&S.file_lock);
	if (S.file_path)
		path = strdup(S.file_path);
	pthread_mutex_unlock(&S.file_lock);
	if (path && state_record_open(path) < 0)
		fprintf(stderr, "loaxa-sandbox: cannot reopen --record file: "
				"%m\n");
}
