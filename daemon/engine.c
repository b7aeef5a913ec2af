/* engine.c: fan-out, scheduling and dispatch of broadcasts. See engine.h.
 *
 * One pump, run at most once per loop iteration (a uv_idle_t while there
 * is news, and one uv_timer_t for the next thing due), does in order:
 *   1. commit the outcomes of finished requests (one transaction);
 *   2. refresh the list of open waves when asked (a kick);
 *   3. start waves whose time has come, expire waves whose deadline passed,
 *      close waves with nothing left;
 *   4. materialise one chunk of one wave;
 *   5. pick due deliveries (urgent waves first, round robin), choose each
 *      one's channel, check the channel's limits, mark them "sending" (one
 *      transaction), and only then start their requests;
 *   6. arm the timer for the earliest of: next due retry, next wave, end of
 *      quiet hours, rate-limit refill, breaker probe, token refresh.
 * Step 1 before step 5 is what makes "every state change is committed
 * before the next network step" true.
 */
#include "loaxa/engine.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>

#include "loaxa/channel.h"
#include "loaxa/http_client.h"
#include "loaxa/log.h"
#include "loaxa/phone.h"
#include "loaxa/template.h"
#include "loaxa/text.h"
#include "loaxa/when.h"

#define PUMP_BATCH 256           /* deliveries considered per pump */
#define IDLE_WAKE_MS 60000       /* safety wake-up */
#define PROBE_AFTER_MS 300000    /* re-try a paused channel after 5 min */
#define TOKEN_MARGIN_MS 3600000  /* refresh a Zalo token 1 h early */
#define MAX_TDATA 16
#define WINDOW_MS 1005          /* the rate window, with a margin */
/* No request starts this close to a deadline: picking, committing and
 * sending take time, and a message must never arrive late. */
#define DEADLINE_MARGIN_MS 1000

struct engine;

/* A sliding-window + token-bucket limiter: at most `rate` events in any
 * window of 1000 ms, spread out (the bucket holds at most a tenth of a
 * second's worth), so a provider counting per second never sees more. */
struct limiter {
	double rate;            /* per second; 0 = unlimited */
	double tokens, burst;
	uint64_t last_ms;
	uint64_t *ring;         /* times of the last `cap` events */
	size_t cap, head, n;
	size_t pending;         /* picked, not yet stamped (in flight to
				   curl within this pump) */
};

enum breaker { BR_CLOSED, BR_OPEN, BR_HALF_OPEN };

struct chan {
	struct engine *e;
	char name[40];
	enum channel_driver driver;
	const struct config_channel *cfg;   /* of the config in force */
	struct channel_settings set;
	char *access_token, *app_secret, *api_key, *secret_key, *auth_token,
		*refresh_token;
	/* ZNS template_data: keys and value templates */
	size_t ntdata;
	char *tkeys[MAX_TDATA], *tvals[MAX_TDATA];

	struct limiter msgs, segs;
	unsigned in_flight;
	bool retired;          /* dropped from the config: freed when idle */

	enum chan_state state;
	char message[256];
	uint64_t paused_until;  /* auth/config errors: probe after */
	enum breaker br;
	unsigned failures;      /* consecutive transient failures */
	uint64_t br_until, br_cooldown;
	/* 429: the provider's limit is the account's, not one message's.
	 * Nothing starts before hold_until; then one probe at a time until
	 * a message is accepted. */
	uint64_t hold_until;
	bool hold_probe;

	/* Zalo OAuth */
	bool oauth, refreshing, token_dirty;
	int64_t token_expires_ms;
	uint64_t last_refresh, next_refresh_try;

	uint64_t sent, failed, attempts, rate_waits;
	struct chan *next;
};

struct ebcast {
	struct broadcast b;
	char starts_text[64];
};

struct ewave {
	struct wave w;
	struct ebcast *b;
	unsigned in_flight;
	bool exhausted;        /* last fetch found nothing due */
	int64_t next_due;      /* cached, 0 = unknown */
};

struct job {
	struct engine *e;
	struct chan *ch;
	int64_t delivery_id, wave_id, expires_ms;
	int chain_pos, attempts;
	int phone_pos, nphones;  /* the phone tried, of the household's */
	int sms_encoding, sms_segments;
	bool possible_dup, refresh;
	struct channel_request req;
	char recipient[72];
	uint64_t started;
};

struct result {
	struct delivery_update u;
	char *msg_id, *code, *message, *channel;
	int64_t wave_id;
};

struct engine {
	uv_loop_t *loop;
	struct store *store;
	const struct config *cfg;
	struct http_client *http;
	uv_idle_t idle;
	uv_timer_t timer, grace;
	bool idle_on, stopping, waves_dirty, store_broken, wave_closed;
	int closing;
	void (*stop_cb)(void *ud);
	void *stop_ud;

	struct chan *chans;
	struct chan *route[16];
	size_t nroute;

	struct ewave *waves;
	size_t nwaves;
	struct ebcast **bcasts;
	size_t nbcasts;
	size_t rr;              /* round-robin start */

	struct result *results;
	size_t nresults, cresults;

	int64_t depth_urgent, depth_normal, depth_oldest;
	uint64_t depth_at;
	uint64_t store_retry_at;
};

static void pump(struct engine *e);
static void kick(struct engine *e);

const char *chan_state_name(enum chan_state s)
{
	static const char *const n[] = {
		"ok", "rate_limited", "circuit_open", "auth_failed",
		"config_error", "refreshing_token",
	};
	return (unsigned)s < ARRAY_SIZE(n) ? n[s] : "unknown";
}

/* ---- limiter ---- */

static int limiter_init(struct limiter *l, double rate)
{
	free(l->ring);
	*l = (struct limiter){ .rate = rate };
	if (rate <= 0)
		return 0;
	l->burst = fmax(1.0, rate / 10.0);
	l->tokens = l->burst;
	l->cap = (size_t)ceil(rate);
	if (l->cap > 1000000)
		l->cap = 1000000;
	l->ring = calloc(l->cap, sizeof *l->ring);
	return l->ring ? 0 : -ENOMEM;
}

static void limiter_refill(struct limiter *l, uint64_t now)
{
	if (now > l->last_ms) {
		l->tokens = fmin(l->burst, l->tokens + (double)(now -
						l->last_ms) * l->rate / 1000.0);
		l->last_ms = now;
	}
}

/* 0 if n events may happen now, else ms to wait. */
static uint64_t limiter_wait(struct limiter *l, uint64_t now, double n)
{
	if (l->rate <= 0)
		return 0;
	limiter_refill(l, now);
	uint64_t wait = 0;
	double need = fmin(n, l->burst);
	if (l->tokens < need)
		wait = (uint64_t)ceil((need - l->tokens) * 1000.0 / l->rate);
	/* One more now would make n + pending + 1 messages in the window
	 * (picked ones count before they are stamped): the k-th oldest
	 * stamp must then have left it, a few ms more than a second ago so
	 * that jitter between our clock and the provider's fits no more. */
	size_t total = l->n + l->pending + 1;
	if (l->cap && total > l->cap) {
		size_t k = total - l->cap - 1;  /* 0 = the oldest */
		if (k >= l->n)
			return wait > WINDOW_MS ? wait : WINDOW_MS;
		size_t idx = (l->head + l->cap - l->n + k) % l->cap;
		uint64_t leaves = l->ring[idx] + WINDOW_MS;
		if (leaves > now && leaves - now > wait)
			wait = leaves - now;
	}
	return wait;
}

/* Reserve n tokens when a message is picked; a message (not segments)
 * also holds a place in the window until it is stamped or dropped. */
static void limiter_take(struct limiter *l, uint64_t now, double n,
			 bool message)
{
	(void)now;
	if (l->rate <= 0)
		return;
	l->tokens -= n;
	if (message && l->cap)
		l->pending++;
}

/* A picked message that will not be sent after all. */
static void limiter_unpick(struct limiter *l)
{
	if (l->pending)
		l->pending--;
}

/* Record a message in the window when its request actually leaves (after
 * the commit that precedes it): the provider counts arrivals, and a
 * message stamped earlier than it left would let the next ones in too
 * soon. The window counts messages; segments use only the bucket. */
static void limiter_stamp(struct limiter *l, uint64_t now)
{
	if (l->rate <= 0 || !l->cap)
		return;
	limiter_unpick(l);
	l->ring[l->head] = now;
	l->head = (l->head + 1) % l->cap;
	if (l->n < l->cap)
		l->n++;
}

/* ---- channels ---- */

static void secret_free(char **p)
{
	if (*p) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

static void chan_free(struct chan *c)
{
	if (!c)
		return;
	secret_free(&c->access_token);
	secret_free(&c->app_secret);
	secret_free(&c->api_key);
	secret_free(&c->secret_key);
	secret_free(&c->auth_token);
	secret_free(&c->refresh_token);
	for (size_t i = 0; i < c->ntdata; i++) {
		free(c->tkeys[i]);
		free(c->tvals[i]);
	}
	free(c->msgs.ring);
	free(c->segs.ring);
	free(c);
}

static int read_secret(const char *ref, char **dst, const char *what,
		       char *err, size_t errsz)
{
	if (!ref || !*ref)
		return 0;
	char why[256];
	char *v = NULL;
	int r = config_read_secret(ref, &v, why, sizeof why);
	if (r < 0) {
		snprintf(err, errsz, "%s: %s", what, why);
		return r;
	}
	secret_free(dst);
	*dst = v;
	return 0;
}

/* "key={placeholder}, key2=text {x}" -> keys and value templates. */
static int parse_tdata(struct chan *c, const char *map)
{
	for (size_t i = 0; i < c->ntdata; i++) {
		free(c->tkeys[i]);
		free(c->tvals[i]);
	}
	c->ntdata = 0;
	const char *p = map ? map : "";
	while (*p && c->ntdata < MAX_TDATA) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		const char *k = p;
		while (*p && *p != '=')
			p++;
		if (!*p)
			break;
		const char *ke = p++;
		/* the value runs to the next ", ident=" or the end */
		const char *v = p, *ve = p + strlen(p);
		for (const char *q = p; *q; q++) {
			if (*q != ',')
				continue;
			const char *id = q + 1;
			while (*id == ' ')
				id++;
			const char *idend = id;
			while ((*idend >= 'a' && *idend <= 'z') ||
			       (*idend >= 'A' && *idend <= 'Z') ||
			       (*idend >= '0' && *idend <= '9') ||
			       *idend == '_')
				idend++;
			if (idend > id && *idend == '=') {
				ve = q;
				break;
			}
		}
		const char *ks;
		size_t kn = text_trim(k, (size_t)(ke - k), &ks);
		const char *vs;
		size_t vn = text_trim(v, (size_t)(ve - v), &vs);
		c->tkeys[c->ntdata] = util_strndup(ks, kn);
		c->tvals[c->ntdata] = util_strndup(vs, vn);
		if (!c->tkeys[c->ntdata] || !c->tvals[c->ntdata])
			return -ENOMEM;
		c->ntdata++;
		p = ve;
	}
	return 0;
}

/* (Re)build a channel from its config section; secrets read now. */
static int chan_setup(struct chan *c, const struct config_channel *cc,
		      char *err, size_t errsz)
{
	int r;
	c->cfg = cc;
	snprintf(c->name, sizeof c->name, "%s", cc->name);
	c->driver = (enum channel_driver)cc->driver;
	if ((r = read_secret(cc->access_token_file, &c->access_token,
			     "access_token_file", err, errsz)) < 0 ||
	    (r = read_secret(cc->app_secret_file, &c->app_secret,
			     "app_secret_file", err, errsz)) < 0 ||
	    (r = read_secret(cc->api_key_file, &c->api_key, "api_key_file",
			     err, errsz)) < 0 ||
	    (r = read_secret(cc->secret_key_file, &c->secret_key,
			     "secret_key_file", err, errsz)) < 0 ||
	    (r = read_secret(cc->auth_token_file, &c->auth_token,
			     "auth_token_file", err, errsz)) < 0)
		return r;
	c->oauth = cc->oauth_url && *cc->oauth_url;
	if (c->oauth) {
		/* tokens rotated earlier win over the file's first one */
		struct token_rec t = { 0 };
		r = store_token_get(c->e->store, c->name, &t);
		if (r == 0 && t.refresh_token) {
			secret_free(&c->refresh_token);
			secret_free(&c->access_token);
			c->refresh_token = TAKE_PTR(t.refresh_token);
			c->access_token = TAKE_PTR(t.access_token);
			c->token_expires_ms = t.expires_ms;
		} else if (r == -ENOENT || r == 0) {
			r = read_secret(cc->refresh_token_file,
					&c->refresh_token,
					"refresh_token_file", err, errsz);
		}
		token_rec_clear(&t);
		if (r < 0)
			return r;
	}
	r = parse_tdata(c, cc->template_data);
	if (r < 0)
		return r;
	c->set = (struct channel_settings){
		.driver = c->driver, .url = cc->url,
		.access_token = c->access_token,
		.template_id = cc->template_id, .api_key = c->api_key,
		.secret_key = c->secret_key, .brandname = cc->brandname,
		.sms_type = cc->sms_type, .unicode = cc->unicode,
		.account_sid = cc->account_sid, .auth_token = c->auth_token,
		.from = cc->from, .messaging_type = cc->messaging_type,
		.tag = cc->tag, .callback_url = cc->callback_url,
	};
	if (c->msgs.rate != cc->rate)
		r = limiter_init(&c->msgs, cc->rate);
	if (r == 0 && c->segs.rate != cc->segment_rate)
		r = limiter_init(&c->segs, cc->segment_rate);
	c->br_cooldown = cc->breaker_cooldown_ms;
	/* A reload is the operator's answer to a paused channel. */
	if (c->state == CS_AUTH_FAILED || c->state == CS_CONFIG_ERROR) {
		c->state = CS_OK;
		c->message[0] = '\0';
		c->paused_until = 0;
	}
	return r;
}

static void chan_set_state(struct chan *c, enum chan_state st,
			   const char *fmt, ...) _printf_(3, 4);

static void chan_set_state(struct chan *c, enum chan_state st,
			   const char *fmt, ...)
{
	char msg[sizeof c->message];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c->state != st) {
		enum log_level lvl = st == CS_OK ? LOG_LVL_NOTICE :
				     st == CS_RATE_LIMITED ? LOG_LVL_INFO :
				     LOG_LVL_WARN;
		log_msg(LOG_DISPATCH, lvl, "channel %s: %s -> %s%s%s", c->name,
			chan_state_name(c->state), chan_state_name(st),
			*msg ? ": " : "", msg);
	}
	c->state = st;
	memcpy(c->message, msg, sizeof msg);
}

static int build_channels(struct engine *e, const struct config *cfg,
			  char *err, size_t errsz)
{
	struct chan *keep = NULL;
	/* Every configured channel: the existing one updated, or new. */
	for (size_t i = 0; i < cfg->nchannels; i++) {
		const struct config_channel *cc = &cfg->channels[i];
		struct chan **pp = &e->chans, *c = NULL;
		for (; *pp; pp = &(*pp)->next)
			if (streq((*pp)->name, cc->name) &&
			    !(*pp)->retired) {
				c = *pp;
				*pp = c->next;
				break;
			}
		if (!c) {
			c = calloc(1, sizeof *c);
			if (!c)
				return -ENOMEM;
			c->e = e;
		}
		int r = chan_setup(c, cc, err, errsz);
		c->next = keep;
		keep = c;
		if (r < 0) {
			char tmp[256];
			snprintf(tmp, sizeof tmp, "%s", err);
			snprintf(err, errsz, "[channel.%s] %s", cc->name, tmp);
			/* put back what remains so nothing leaks */
			struct chan *last = keep;
			while (last->next)
				last = last->next;
			last->next = e->chans;
			e->chans = keep;
			return r;
		}
	}
	/* Channels gone from the config: retired, freed when idle. */
	while (e->chans) {
		struct chan *c = e->chans;
		e->chans = c->next;
		if (c->in_flight) {
			c->retired = true;
			c->next = keep;
			keep = c;
		} else {
			chan_free(c);
		}
	}
	e->chans = keep;
	e->nroute = 0;
	for (size_t i = 0; i < cfg->nroute && e->nroute < ARRAY_SIZE(e->route);
	     i++)
		for (struct chan *c = e->chans; c; c = c->next)
			if (!c->retired && streq(c->name, cfg->route[i]))
				e->route[e->nroute++] = c;
	return 0;
}

/* ---- waves ---- */

static void waves_clear(struct engine *e)
{
	for (size_t i = 0; i < e->nbcasts; i++) {
		broadcast_clear(&e->bcasts[i]->b);
		free(e->bcasts[i]);
	}
	free(e->bcasts);
	free(e->waves);
	e->bcasts = NULL;
	e->waves = NULL;
	e->nbcasts = e->nwaves = 0;
}

struct load_ctx {
	struct engine *e;
	struct ewave *old;
	size_t nold;
	int r;
};

static struct ebcast *bcast_find(struct engine *e, int64_t id)
{
	for (size_t i = 0; i < e->nbcasts; i++)
		if (e->bcasts[i]->b.id == id)
			return e->bcasts[i];
	return NULL;
}

static int load_wave_cb(const struct wave *w, void *ud)
{
	struct load_ctx *c = ud;
	struct engine *e = c->e;
	struct ebcast *b = bcast_find(e, w->broadcast_id);
	if (!b) {
		b = calloc(1, sizeof *b);
		if (!b)
			return -ENOMEM;
		int r = store_broadcast_get(e->store, w->broadcast_id, &b->b);
		if (r < 0) {
			free(b);
			return r;
		}
		if (b->b.kind == BK_MEETING) {
			struct tm tm;
			when_ms_to_local(b->b.starts_ms,
					 e->cfg->utc_offset_min, &tm);
			template_vn_datetime(&tm, b->starts_text,
					     sizeof b->starts_text);
		}
		struct ebcast **nb = realloc(e->bcasts, (e->nbcasts + 1) *
					     sizeof *nb);
		if (!nb) {
			broadcast_clear(&b->b);
			free(b);
			return -ENOMEM;
		}
		e->bcasts = nb;
		e->bcasts[e->nbcasts++] = b;
	}
	struct ewave *nw = realloc(e->waves, (e->nwaves + 1) * sizeof *nw);
	if (!nw)
		return -ENOMEM;
	e->waves = nw;
	struct ewave *ew = &e->waves[e->nwaves++];
	*ew = (struct ewave){ .w = *w, .b = b };
	for (size_t i = 0; i < c->nold; i++)
		if (c->old[i].w.id == w->id)
			ew->in_flight = c->old[i].in_flight;
	return 0;
}

static int waves_load(struct engine *e)
{
	/* Keep the in-flight counts across the reload. */
	struct load_ctx c = { .e = e, .old = e->waves, .nold = e->nwaves };
	for (size_t i = 0; i < e->nbcasts; i++) {
		broadcast_clear(&e->bcasts[i]->b);
		free(e->bcasts[i]);
	}
	free(e->bcasts);
	e->bcasts = NULL;
	e->nbcasts = 0;
	e->waves = NULL;
	e->nwaves = 0;
	int r = store_wave_list_open(e->store, load_wave_cb, &c);
	free(c.old);
	return r;
}

static struct ewave *wave_find(struct engine *e, int64_t id)
{
	for (size_t i = 0; i < e->nwaves; i++)
		if (e->waves[i].w.id == id)
			return &e->waves[i];
	return NULL;
}

/* ---- time ---- */

static int local_minute(const struct engine *e, uint64_t now)
{
	int64_t m = ((int64_t)(now / 60000) + e->cfg->utc_offset_min) % 1440;
	return (int)(m < 0 ? m + 1440 : m);
}

/* 0 if outside the quiet hours, else ms until they end. */
static uint64_t quiet_wait(const struct engine *e, uint64_t now)
{
	int s = e->cfg->quiet_start_min, t = e->cfg->quiet_end_min;
	if (s < 0 || s == t)
		return 0;
	int m = local_minute(e, now);
	bool quiet = s < t ? (m >= s && m < t) : (m >= s || m < t);
	if (!quiet)
		return 0;
	int left = (t - m + 1440) % 1440;
	uint64_t into = now % 60000;
	return (uint64_t)left * 60000 - into;
}

/* ---- results ---- */

static int result_push(struct engine *e, const struct delivery_update *u,
		       int64_t wave_id)
{
	if (e->nresults == e->cresults) {
		size_t n = e->cresults ? e->cresults * 2 : 64;
		struct result *nr = realloc(e->results, n * sizeof *nr);
		if (!nr)
			return -ENOMEM;
		e->results = nr;
		e->cresults = n;
	}
	struct result *r = &e->results[e->nresults];
	*r = (struct result){ .u = *u, .wave_id = wave_id };
	r->msg_id = u->msg_id ? strdup(u->msg_id) : NULL;
	r->code = u->code ? strdup(u->code) : NULL;
	r->message = u->message ? strdup(u->message) : NULL;
	r->channel = u->channel ? strdup(u->channel) : NULL;
	r->u.msg_id = r->msg_id;
	r->u.code = r->code;
	r->u.message = r->message;
	r->u.channel = r->channel;
	e->nresults++;
	return 0;
}

static void result_free(struct result *r)
{
	free(r->msg_id);
	free(r->code);
	free(r->message);
	free(r->channel);
}

/* Write every buffered outcome, in the caller's transaction. */
static int results_write(struct engine *e)
{
	int r = 0;
	for (size_t i = 0; i < e->nresults && r == 0; i++)
		r = store_delivery_update(e->store, &e->results[i].u);
	return r;
}

/* After the outcomes committed: forget them; a re-queued one makes its
 * wave worth another look. */
static void results_committed(struct engine *e)
{
	if (e->store_broken)
		log_notice(LOG_DISPATCH, "the database accepts writes again: "
			   "sending resumes");
	e->store_broken = false;
	for (size_t i = 0; i < e->nresults; i++) {
		struct ewave *w = wave_find(e, e->results[i].wave_id);
		if (w && e->results[i].u.status == DS_QUEUED)
			w->exhausted = false, w->next_due = 0;
		result_free(&e->results[i]);
	}
	e->nresults = 0;
}

static void results_failed(struct engine *e, int r)
{
	if (!e->store_broken)
		log_err(LOG_DISPATCH, "cannot record %zu delivery outcomes: %s "
			"(%s); sending is held until the database accepts "
			"them", e->nresults, strerror(-r),
			store_errmsg(e->store));
	e->store_broken = true;
	e->store_retry_at = util_now_ms() + 1000;
}

/* Commit every buffered outcome in one transaction. On failure the buffer
 * is kept and nothing new is sent until it commits. (While sending, the
 * outcomes share start_jobs' transaction: one fsync per pump.) */
static int flush_results(struct engine *e)
{
	if (e->nresults == 0)
		return 0;
	/* After a full disk the WAL may hold all the free space: copy it
	 * into the database and cut it back before writing again. */
	if (e->store_broken)
		store_checkpoint(e->store);
	int r = store_begin(e->store);
	if (r == 0)
		r = results_write(e);
	if (r == 0)
		r = store_commit(e->store);
	else
		store_rollback(e->store);
	if (r < 0) {
		results_failed(e, r);
		return r;
	}
	results_committed(e);
	return 0;
}

/* ---- choosing a channel ---- */

/* The recipient on channel c; a phone-addressed channel at the delivery's
 * route position uses the phone at its phone_pos, one further on the
 * route starts from the first phone. */
static const char *recipient_of(const struct chan *c,
				const struct delivery *d, bool here)
{
	switch (channel_driver_address(c->driver)) {
	case CHA_PHONE:
		return here ? d->cur_phone : d->phone;
	case CHA_ZALO_UID:
		return d->zalo_user_id;
	case CHA_PSID:
		return d->messenger_psid;
	}
	return NULL;
}

static bool chan_paused(struct chan *c, uint64_t now)
{
	if ((c->state == CS_AUTH_FAILED || c->state == CS_CONFIG_ERROR) &&
	    now < c->paused_until)
		return true;
	return false;
}

/* Ms until the channel may take one more message of `segs` segments, 0 if
 * now; UINT64_MAX when it is paused or busy until a completion. */
static uint64_t chan_wait(struct chan *c, uint64_t now, int segs)
{
	if (c->retired)
		return UINT64_MAX;
	if (c->state == CS_AUTH_FAILED || c->state == CS_CONFIG_ERROR) {
		/* paused: one probe at a time once the pause is over */
		if (now < c->paused_until)
			return c->paused_until - now;
		if (c->in_flight > 0)
			return UINT64_MAX;
	}
	if (c->oauth && (c->refreshing || c->token_dirty || !c->access_token))
		return UINT64_MAX;
	if (c->in_flight >= c->cfg->max_in_flight)
		return UINT64_MAX;
	if (now < c->hold_until)
		return c->hold_until - now;
	if (c->hold_probe && c->in_flight > 0)
		return UINT64_MAX;
	if (c->br == BR_OPEN) {
		if (now < c->br_until)
			return c->br_until - now;
		c->br = BR_HALF_OPEN;
		log_info(LOG_DISPATCH, "channel %s: probing after the breaker "
			 "cooldown", c->name);
	}
	if (c->br == BR_HALF_OPEN && c->in_flight > 0)
		return UINT64_MAX;  /* one probe at a time */
	uint64_t w = limiter_wait(&c->msgs, now, 1);
	if (segs > 0) {
		uint64_t ws = limiter_wait(&c->segs, now, segs);
		if (ws > w)
			w = ws;
	}
	return w;
}

/* ---- rendering ---- */

static const char *wave_template(const struct engine *e, const struct ewave *w)
{
	if (w->b->b.kind == BK_NOTICE)
		return e->cfg->tmpl_notice;
	return w->w.seq > 0 ? e->cfg->tmpl_reminder : e->cfg->tmpl_meeting;
}

static void vars_for(const struct ebcast *b, const char *name,
		     const char *group, struct tmpl_vars *v)
{
	*v = (struct tmpl_vars){ 0 };
	v->v[TV_NAME] = name;
	v->v[TV_GROUP] = group;
	v->v[TV_TITLE] = b->b.title;
	v->v[TV_TIME] = b->b.kind == BK_MEETING ? b->starts_text : "";
	v->v[TV_PLACE] = b->b.place;
	v->v[TV_AGENDA] = b->b.agenda;
	v->v[TV_BODY] = b->b.body;
}

/* The text for one channel, diacritics stripped for SMS routes that do not
 * take Unicode; SMS measured. */
static char *render_text(const struct chan *c, const char *tmpl,
			 const struct tmpl_vars *v, struct sms_info *sms)
{
	struct buf b;
	buf_init(&b, 64 * 1024);
	if (template_render(tmpl, v, &b) < 0) {
		buf_free(&b);
		return NULL;
	}
	char *text = buf_steal(&b);
	if (text && channel_driver_is_sms(c->driver) && !c->set.unicode) {
		size_t n = strlen(text);
		char *s = malloc(n + 1);
		if (s) {
			text_strip_diacritics(text, n, s, n + 1);
			free(text);
			text = s;
		}
	}
	if (text && sms)
		sms_measure(text, strlen(text), sms);
	return text;
}

/* Build the request for one delivery on one channel. -EINVAL (reason in
 * err) when the message cannot be expressed on this channel. */
static int build_job(struct engine *e, struct chan *c, struct ewave *w,
		     const struct delivery *d, const char *rcpt,
		     struct job *j, char *err, size_t errsz)
{
	struct tmpl_vars v;
	vars_for(w->b, d->name ? d->name : "", d->group_name ? d->group_name
		 : "", &v);
	struct sms_info sms = { 0 };
	_cleanup_free_ char *text = render_text(c, wave_template(e, w), &v,
						&sms);
	if (!text) {
		snprintf(err, errsz, "the message template cannot be rendered");
		return -EINVAL;
	}
	char *vals[MAX_TDATA] = { 0 };
	int r = 0;
	for (size_t i = 0; i < c->ntdata && r == 0; i++) {
		vals[i] = render_text(c, c->tvals[i], &v, NULL);
		if (!vals[i])
			r = -ENOMEM;
	}
	char tracking[32];
	snprintf(tracking, sizeof tracking, "loaxa-%" PRId64, d->id);
	struct channel_message m = {
		.recipient = rcpt, .text = text, .tracking_id = tracking,
		.tdata_keys = (const char *const *)c->tkeys,
		.tdata_vals = (const char *const *)vals, .ntdata = c->ntdata,
	};
	if (r == 0)
		r = channel_build(&c->set, &m, &j->req, err, errsz);
	for (size_t i = 0; i < c->ntdata; i++)
		free(vals[i]);
	if (r < 0)
		return r;
	bool is_sms = channel_driver_is_sms(c->driver);
	j->sms_encoding = is_sms ? (int)sms.encoding : -1;
	j->sms_segments = is_sms ? (int)sms.segments : -1;
	return 0;
}

/* ---- outcomes ---- */

static uint64_t backoff_ms(const struct engine *e, int attempts)
{
	uint64_t d = e->cfg->retry_initial_ms;
	for (int i = 1; i < attempts && d < e->cfg->retry_max_ms; i++)
		d *= 2;
	if (d > e->cfg->retry_max_ms)
		d = e->cfg->retry_max_ms;
	/* jitter: a random point in [d/2, d] spreads the retries of a list */
	uint64_t half = d / 2;
	return half + (half ? (uint64_t)random() % (half + 1) : 0);
}

static void token_refresh_start(struct chan *c);

static void job_done_cb(void *ud, const struct http_response *resp)
{
	struct job *j = ud;
	struct engine *e = j->e;
	struct chan *c = j->ch;
	struct ewave *w = wave_find(e, j->wave_id);
	if (c->in_flight)
		c->in_flight--;
	if (w && w->in_flight)
		w->in_flight--;
	uint64_t now = util_now_ms();

	if (resp->error == -ECANCELED) {
		/* Shutdown: left "sending", re-queued as a possible
		 * duplicate at the next start. */
		channel_request_clear(&j->req);
		free(j);
		kick(e);
		return;
	}
	struct channel_result cr;
	channel_classify(c->driver, resp->error, resp->status, resp->body,
			 resp->body_len, resp->retry_after_ms, &cr);
	c->attempts++;
	log_debug(LOG_DISPATCH, "delivery %" PRId64 " via %s: %s (%s) in %"
		  PRIu64 " ms", j->delivery_id, c->name,
		  channel_outcome_name(cr.outcome), cr.code, resp->latency_ms);

	struct delivery_update u = {
		.id = j->delivery_id, .chain_pos = j->chain_pos,
		.phone_pos = j->phone_pos,
		.attempts = j->attempts + 1, .code = cr.code,
		.message = cr.message, .sms_encoding = j->sms_encoding,
		.sms_segments = cr.segments > 0 ? cr.segments :
				j->sms_segments,
		.now_ms = (int64_t)now, .sent_ms = (int64_t)j->started,
		.channel = c->name,
		.http_status = resp->status, .outcome = (int)cr.outcome,
		.latency_ms = (int64_t)resp->latency_ms,
	};
	/* A request that may have reached the provider and whose answer we
	 * did not get could have been accepted: a resend may duplicate. */
	bool ambiguous = resp->sent && resp->error != 0;
	bool dup = ambiguous;
	switch (cr.outcome) {
	case CHO_ACCEPTED:
		u.status = DS_SENT;
		u.msg_id = cr.msg_id;
		c->sent++;
		c->failures = 0;
		c->hold_probe = false;
		if (c->br != BR_CLOSED) {
			c->br = BR_CLOSED;
			c->br_cooldown = c->cfg->breaker_cooldown_ms;
			chan_set_state(c, CS_OK, "%s", "");
		} else if (c->state != CS_OK) {
			chan_set_state(c, CS_OK, "%s", "");
		}
		break;
	case CHO_AUTH:
		/* Not the household's fault: the attempt does not count. */
		u.status = DS_QUEUED;
		u.attempts = j->attempts;
		u.next_at_ms = (int64_t)now + 1000;
		if (c->oauth && now - c->last_refresh > 60000) {
			c->token_expires_ms = 1;  /* refresh now */
			token_refresh_start(c);
		} else {
			chan_set_state(c, CS_AUTH_FAILED, "%s: %s", cr.code,
				       cr.message);
			c->paused_until = now + PROBE_AFTER_MS;
		}
		break;
	case CHO_CONFIG:
		u.status = DS_QUEUED;
		u.attempts = j->attempts;
		u.next_at_ms = (int64_t)now + 1000;
		chan_set_state(c, CS_CONFIG_ERROR, "%s: %s", cr.code,
			       cr.message);
		c->paused_until = now + PROBE_AFTER_MS;
		break;
	case CHO_PERMANENT: {
		/* A phone the channel refuses: the household's next phone
		 * on the same channel, at once. Then move along the route
		 * (decided at the next pick, which skips channels that
		 * cannot reach the household), from the first phone. */
		if (channel_driver_address(c->driver) == CHA_PHONE &&
		    j->phone_pos + 1 < j->nphones) {
			u.status = DS_QUEUED;
			u.phone_pos = j->phone_pos + 1;
			u.attempts = 0;
			u.next_at_ms = (int64_t)now;
		} else if (j->chain_pos + 1 < (int)e->nroute) {
			u.status = DS_QUEUED;
			u.chain_pos = j->chain_pos + 1;
			u.phone_pos = 0;
			u.attempts = 0;
			u.next_at_ms = (int64_t)now;
		} else {
			u.status = DS_FAILED;
			c->failed++;
		}
		dup = false;
		break;
	}
	case CHO_RATE_LIMITED:
	case CHO_TRANSIENT:
	default: {
		if (cr.outcome == CHO_RATE_LIMITED) {
			/* the whole channel waits: Retry-After, else a
			 * second, doubling while the probes are refused */
			uint64_t hold = cr.retry_after_ms > 0 ?
				(uint64_t)cr.retry_after_ms : 1000;
			if (cr.retry_after_ms <= 0 && c->hold_probe &&
			    c->hold_until) {
				uint64_t prev = c->hold_until > j->started ?
					c->hold_until - j->started : 0;
				if (prev * 2 > hold)
					hold = prev * 2;
			}
			if (hold > e->cfg->retry_max_ms)
				hold = e->cfg->retry_max_ms;
			if (now + hold > c->hold_until)
				c->hold_until = now + hold;
			c->hold_probe = true;
			c->rate_waits++;
			chan_set_state(c, CS_RATE_LIMITED, "%s: %s", cr.code,
				       cr.message);
		} else if (++c->failures >= c->cfg->breaker_failures ||
			   c->br == BR_HALF_OPEN) {
			/* doubling while probes fail, up to five minutes
			 * (or the configured cooldown, when longer): a
			 * provider back after a long outage is found soon */
			uint64_t cap = c->cfg->breaker_cooldown_ms > 300000 ?
				       c->cfg->breaker_cooldown_ms : 300000;
			if (c->br == BR_HALF_OPEN)
				c->br_cooldown = c->br_cooldown * 2 > cap ?
						 cap : c->br_cooldown * 2;
			c->br = BR_OPEN;
			c->br_until = now + c->br_cooldown;
			chan_set_state(c, CS_CIRCUIT_OPEN, "%u failures in a "
				       "row, last %s: %s; next probe in %"
				       PRIu64 " s", c->failures, cr.code,
				       cr.message, c->br_cooldown / 1000);
		}
		uint32_t max = c->cfg->max_attempts ? c->cfg->max_attempts :
			       e->cfg->max_attempts;
		uint64_t delay = backoff_ms(e, u.attempts);
		if (cr.retry_after_ms > 0 && (uint64_t)cr.retry_after_ms >
					     delay)
			delay = (uint64_t)cr.retry_after_ms;
		u.status = DS_QUEUED;
		if ((uint32_t)u.attempts >= max &&
		    j->chain_pos + 1 < (int)e->nroute) {
			u.chain_pos = j->chain_pos + 1;
			u.phone_pos = 0;
			u.attempts = 0;
			delay = 0;
		} else if ((uint32_t)u.attempts >= max) {
			/* The last channel: keep trying, slowly, until the
			 * deadline; expiry records the outcome. */
			delay = e->cfg->retry_max_ms;
		}
		/* A retry due after the last moment a request may start is
		 * moved to that moment; past it, the delivery waits and the
		 * wave's expiry records it at the deadline, never early. */
		u.next_at_ms = (int64_t)(now + delay);
		int64_t last = j->expires_ms - DEADLINE_MARGIN_MS;
		if (u.next_at_ms > last)
			u.next_at_ms = last > (int64_t)now ? last : (int64_t)now;
		break;
	}
	}
	u.possible_dup = dup;
	if (result_push(e, &u, j->wave_id) < 0)
		log_err(LOG_DISPATCH, "out of memory recording delivery %"
			PRId64, j->delivery_id);
	channel_request_clear(&j->req);
	free(j);
	if (c->retired && c->in_flight == 0) {
		struct chan **pp = &e->chans;
		for (; *pp && *pp != c; pp = &(*pp)->next)
			;
		if (*pp)
			*pp = c->next;
		chan_free(c);
	}
	kick(e);
}

/* ---- Zalo OAuth v4 ---- */

static void token_done_cb(void *ud, const struct http_response *resp)
{
	struct chan *c = ud;
	struct engine *e = c->e;
	uint64_t now = util_now_ms();
	c->refreshing = false;
	c->last_refresh = now;
	if (resp->error == -ECANCELED) {
		kick(e);
		return;
	}
	json_error_t jerr;
	json_t *j = resp->body_len ? json_loadb(resp->body, resp->body_len, 0,
						&jerr) : NULL;
	const char *at = json_string_value(json_object_get(j, "access_token"));
	const char *rt = json_string_value(json_object_get(j, "refresh_token"));
	json_t *ex = json_object_get(j, "expires_in");
	int64_t expires_in = json_is_integer(ex) ? json_integer_value(ex) :
			     json_is_string(ex) ? strtoll(json_string_value(ex),
							  NULL, 10) : 0;
	if (!at || !rt || !*at || !*rt) {
		const char *msg = json_string_value(json_object_get(j,
								   "message"));
		json_t *errj = json_object_get(j, "error");
		chan_set_state(c, CS_AUTH_FAILED, "token refresh failed: %s%s%s",
			       resp->error ? strerror(-resp->error) : "",
			       resp->error ? "" : errj ? "provider error " :
			       "HTTP ", msg ? msg : "no token in the answer");
		c->next_refresh_try = now + PROBE_AFTER_MS;
		c->paused_until = now + PROBE_AFTER_MS;
		json_decref(j);
		kick(e);
		return;
	}
	secret_free(&c->access_token);
	secret_free(&c->refresh_token);
	c->access_token = strdup(at);
	c->refresh_token = strdup(rt);
	c->set.access_token = c->access_token;
	c->token_expires_ms = (int64_t)now + (expires_in > 0 ? expires_in :
					      3600) * 1000;
	json_decref(j);
	c->token_dirty = true;  /* committed before first use, in pump */
	log_info(LOG_DISPATCH, "channel %s: access token refreshed, valid for "
		 "%" PRId64 " s", c->name, expires_in);
	kick(e);
}

static void token_refresh_start(struct chan *c)
{
	struct engine *e = c->e;
	if (c->refreshing || !c->refresh_token || !c->app_secret)
		return;
	struct buf body;
	buf_init(&body, 8192);
	int r = channel_form_add(&body, "app_id",
				 c->cfg->app_id ? c->cfg->app_id : "");
	r = r ?: channel_form_add(&body, "grant_type", "refresh_token");
	r = r ?: channel_form_add(&body, "refresh_token", c->refresh_token);
	char hdr[600];
	snprintf(hdr, sizeof hdr, "secret_key: %s", c->app_secret);
	const char *headers[] = {
		"Content-Type: application/x-www-form-urlencoded", hdr,
	};
	struct http_request req = {
		.method = "POST", .url = c->cfg->oauth_url, .headers = headers,
		.nheaders = 2, .body = body.data, .body_len = body.len,
		.connect_timeout_ms = (uint32_t)c->cfg->connect_timeout_ms,
		.timeout_ms = (uint32_t)c->cfg->timeout_ms,
	};
	if (r == 0)
		r = http_client_start(e->http, &req, token_done_cb, c, NULL);
	explicit_bzero(hdr, sizeof hdr);
	if (body.data)
		explicit_bzero(body.data, body.len);
	buf_free(&body);
	if (r < 0) {
		chan_set_state(c, CS_AUTH_FAILED, "cannot start the token "
			       "refresh: %s", strerror(-r));
		c->next_refresh_try = util_now_ms() + PROBE_AFTER_MS;
		return;
	}
	c->refreshing = true;
	chan_set_state(c, CS_REFRESHING, "%s", "");
}

/* Persist a new token pair (committed) before it is used. */
static void tokens_persist(struct engine *e)
{
	for (struct chan *c = e->chans; c; c = c->next) {
		if (!c->token_dirty)
			continue;
		struct token_rec t = {
			.access_token = c->access_token,
			.refresh_token = c->refresh_token,
			.expires_ms = c->token_expires_ms,
			.updated_ms = util_now_ms(),
		};
		int r = store_token_put(e->store, c->name, &t);
		if (r < 0) {
			log_err(LOG_DISPATCH, "channel %s: cannot store the new "
				"token pair: %s (%s); not using it until it is "
				"stored", c->name, strerror(-r),
				store_errmsg(e->store));
			continue;
		}
		c->token_dirty = false;
		chan_set_state(c, CS_OK, "%s", "");
	}
}

static uint64_t tokens_tick(struct engine *e, uint64_t now)
{
	uint64_t wake = UINT64_MAX;
	for (struct chan *c = e->chans; c; c = c->next) {
		if (!c->oauth || c->retired || c->refreshing)
			continue;
		bool need = !c->access_token ||
			    (c->token_expires_ms &&
			     (uint64_t)c->token_expires_ms < now +
			     TOKEN_MARGIN_MS);
		if (!need) {
			if (c->token_expires_ms) {
				uint64_t at = (uint64_t)c->token_expires_ms -
					      TOKEN_MARGIN_MS;
				if (at < wake)
					wake = at;
			}
			continue;
		}
		if (now < c->next_refresh_try) {
			if (c->next_refresh_try < wake)
				wake = c->next_refresh_try;
			continue;
		}
		token_refresh_start(c);
	}
	return wake;
}

/* ---- the pump ---- */

struct pick {
	struct engine *e;
	struct ewave *w;
	uint64_t now;
	struct job **jobs;
	size_t njobs, maxjobs;
	uint64_t wake;          /* earliest capacity */
	size_t seen;
	int r;
};

static void record_now(struct engine *e, const struct delivery *d,
		       enum delivery_status st, int chain_pos,
		       const char *channel, const char *code,
		       const char *message, uint64_t now, int64_t wave_id)
{
	struct delivery_update u = {
		.id = d->id, .status = st, .chain_pos = chain_pos,
		.phone_pos = chain_pos == d->chain_pos ? d->phone_pos : 0,
		.attempts = d->attempts, .next_at_ms = (int64_t)now,
		.code = code, .message = message, .sms_encoding = -1,
		.now_ms = (int64_t)now, .channel = channel, .outcome = -1,
	};
	result_push(e, &u, wave_id);
}

static int pick_cb(const struct delivery *d, void *ud)
{
	struct pick *p = ud;
	struct engine *e = p->e;
	p->seen++;
	if (p->njobs == p->maxjobs)
		return 0;
	if ((int64_t)p->now + DEADLINE_MARGIN_MS >= p->w->w.expires_ms)
		return 0;  /* the wave's expiry handles it */
	/* Walk the route from the delivery's position: skip channels that
	 * cannot reach this household; wait for busy ones. */
	int pos = d->chain_pos;
	bool any_reachable = false;
	for (; pos < (int)e->nroute; pos++) {
		struct chan *c = e->route[pos];
		const char *rcpt = recipient_of(c, d, pos == d->chain_pos);
		if (!rcpt || !*rcpt)
			continue;
		any_reachable = true;
		if (chan_paused(c, p->now) && pos + 1 < (int)e->nroute)
			continue;  /* fall back while the channel is paused */
		/* segments unknown until rendered: check messages first */
		uint64_t wait = chan_wait(c, p->now, 0);
		if (wait) {
			if (wait != UINT64_MAX && p->now + wait < p->wake)
				p->wake = p->now + wait;
			return 0;
		}
		struct job *j = calloc(1, sizeof *j);
		if (!j)
			return -ENOMEM;
		*j = (struct job){ .e = e, .ch = c, .delivery_id = d->id,
				   .wave_id = d->wave_id,
				   .expires_ms = p->w->w.expires_ms,
				   .chain_pos = pos,
				   .attempts = pos == d->chain_pos ?
					       d->attempts : 0,
				   .phone_pos = pos == d->chain_pos ?
						d->phone_pos : 0,
				   .nphones = d->nphones,
				   .possible_dup = d->possible_dup };
		snprintf(j->recipient, sizeof j->recipient, "%s", rcpt);
		char err[200];
		if (build_job(e, c, p->w, d, rcpt, j, err, sizeof err) < 0) {
			/* Cannot be said on this channel: the next one. */
			log_debug(LOG_DISPATCH, "delivery %" PRId64 " cannot go"
				  " via %s: %s", d->id, c->name, err);
			free(j);
			if (pos + 1 < (int)e->nroute) {
				record_now(e, d, DS_QUEUED, pos + 1, c->name,
					   "not_expressible", err, p->now,
					   d->wave_id);
			} else {
				record_now(e, d, DS_FAILED, pos, c->name,
					   "not_expressible", err, p->now,
					   d->wave_id);
			}
			return 0;
		}
		uint64_t w = j->sms_segments > 0 ?
			limiter_wait(&c->segs, p->now, j->sms_segments) : 0;
		if (w) {
			if (p->now + w < p->wake)
				p->wake = p->now + w;
			channel_request_clear(&j->req);
			free(j);
			return 0;
		}
		limiter_take(&c->msgs, p->now, 1, true);
		if (j->sms_segments > 0)
			limiter_take(&c->segs, p->now, j->sms_segments, false);
		c->in_flight++;
		p->w->in_flight++;
		p->jobs[p->njobs++] = j;
		return 0;
	}
	/* No channel of the route can reach this household. */
	record_now(e, d, DS_FAILED, d->chain_pos, NULL, any_reachable ?
		   "no_channel" : "no_address", any_reachable ?
		   "no channel of the route is left for this household" :
		   "the household has no phone number, Zalo id or Messenger "
		   "id that a configured channel can use", p->now, d->wave_id);
	return 0;
}

/* Mark the jobs "sending" and start them, after committing the buffered
 * outcomes in the same transaction (one fsync, not two). */
static void start_jobs(struct engine *e, struct job **jobs, size_t n)
{
	if (n == 0)
		return;
	uint64_t now = util_now_ms();
	if (e->store_broken)
		store_checkpoint(e->store);
	size_t nres = e->nresults;
	int r = store_begin(e->store);
	int rres = r == 0 ? results_write(e) : r;
	if (rres < 0)
		r = rres;
	for (size_t i = 0; i < n && r == 0; i++) {
		int q = store_delivery_mark_sending(e->store,
						    jobs[i]->delivery_id,
						    jobs[i]->chain_pos,
						    jobs[i]->ch->name,
						    jobs[i]->recipient,
						    (int64_t)now);
		if (q == -ESTALE) {
			/* cancelled meanwhile: do not send */
			jobs[i]->refresh = true;
			continue;
		}
		r = q;
	}
	if (r == 0)
		r = store_commit(e->store);
	else
		store_rollback(e->store);
	if (r == 0 && nres)
		results_committed(e);
	else if (r < 0 && nres)
		results_failed(e, r);
	if (r < 0 && !e->store_broken) {
		log_err(LOG_DISPATCH, "cannot mark %zu deliveries as sending: "
			"%s (%s); holding", n, strerror(-r),
			store_errmsg(e->store));
		e->store_broken = true;
		e->store_retry_at = now + 1000;
	}
	for (size_t i = 0; i < n; i++) {
		struct job *j = jobs[i];
		struct ewave *w = wave_find(e, j->wave_id);
		if (r < 0 || j->refresh) {
			limiter_unpick(&j->ch->msgs);
			j->ch->in_flight--;
			if (w && w->in_flight)
				w->in_flight--;
			channel_request_clear(&j->req);
			free(j);
			continue;
		}
		struct http_request req = {
			.method = j->req.method, .url = j->req.url,
			.headers = (const char *const *)j->req.headers,
			.nheaders = j->req.nheaders, .body = j->req.body,
			.body_len = j->req.body_len, .userpwd = j->req.userpwd,
			.connect_timeout_ms =
				(uint32_t)j->ch->cfg->connect_timeout_ms,
			.timeout_ms = (uint32_t)j->ch->cfg->timeout_ms,
		};
		j->started = util_now_ms();
		limiter_stamp(&j->ch->msgs, j->started);
		int q = http_client_start(e->http, &req, job_done_cb, j, NULL);
		if (q < 0) {
			struct http_response fake = { .error = q,
				.errmsg = strerror(-q), .body = "",
				.retry_after_ms = -1 };
			job_done_cb(j, &fake);
		}
	}
}

static int wave_cmp(const void *a, const void *b)
{
	const struct ewave *x = *(struct ewave *const *)a,
			   *y = *(struct ewave *const *)b;
	if (x->b->b.urgent != y->b->b.urgent)
		return x->b->b.urgent ? -1 : 1;
	return 0;
}

/* Start, expire and close waves; materialise one chunk. Returns the
 * earliest time something is due. */
static uint64_t waves_tick(struct engine *e, uint64_t now, bool *more)
{
	uint64_t wake = UINT64_MAX;
	bool chunked = false;
	*more = false;
	for (size_t i = 0; i < e->nwaves; i++) {
		struct ewave *w = &e->waves[i];
		struct ebcast *b = w->b;
		if (b->b.state == BS_CANCELLED || b->b.state == BS_DONE ||
		    w->w.state == WS_DONE)
			continue;
		if ((int64_t)now >= w->w.expires_ms &&
		    (w->w.state == WS_PENDING ||
		     w->w.state == WS_MATERIALISING)) {
			/* Never sent (paused, quiet hours, a long list):
			 * every household is still recorded, as expired. */
			if (!chunked) {
				bool done = false;
				int r = store_wave_materialise(
					e->store, &w->w, b->b.all_groups,
					b->b.urgent, e->cfg->fanout_chunk,
					(int64_t)now, &done);
				chunked = true;
				if (r < 0 && now + 1000 < wake)
					wake = now + 1000;
			}
			*more = true;
			continue;
		}
		if ((int64_t)now >= w->w.expires_ms) {
			int n = store_wave_expire(e->store, w->w.id,
						  (int64_t)now);
			if (n > 0)
				log_info(LOG_DISPATCH, "broadcast %" PRId64
					 " wave %d: %d deliveries expired",
					 b->b.id, w->w.seq, n);
			/* in-flight ones finish; then the wave closes */
			if (n >= 0 && w->in_flight == 0) {
				w->w.state = WS_DONE;
				store_wave_set_state(e->store, w->w.id,
						     WS_DONE);
				e->wave_closed = true;
			}
			continue;
		}
		if ((uint64_t)w->w.expires_ms < wake)
			wake = (uint64_t)w->w.expires_ms;
		/* Paused, or awaiting a second official's approval: nothing
		 * starts or is sent, but the deadlines above still apply. */
		if (b->b.state == BS_PAUSED || b->b.state == BS_AWAITING)
			continue;
		if (w->w.state == WS_PENDING) {
			if ((int64_t)now < w->w.send_at_ms) {
				if ((uint64_t)w->w.send_at_ms < wake)
					wake = (uint64_t)w->w.send_at_ms;
				continue;
			}
			w->w.state = WS_MATERIALISING;
			store_wave_set_state(e->store, w->w.id,
					     WS_MATERIALISING);
			if (b->b.state == BS_SCHEDULED) {
				b->b.state = BS_ACTIVE;
				store_broadcast_set_state(e->store, b->b.id,
							  BS_ACTIVE,
							  (int64_t)now);
			}
		}
		if (w->w.state == WS_MATERIALISING && !chunked) {
			bool done = false;
			int r = store_wave_materialise(e->store, &w->w,
						       b->b.all_groups,
						       b->b.urgent,
						       e->cfg->fanout_chunk,
						       (int64_t)now, &done);
			if (r < 0) {
				log_err(LOG_DISPATCH, "broadcast %" PRId64
					": cannot materialise deliveries: %s "
					"(%s)", b->b.id, strerror(-r),
					store_errmsg(e->store));
				if (now + 1000 < wake)
					wake = now + 1000;
			} else {
				w->exhausted = false;
				w->next_due = 0;
				if (done)
					log_info(LOG_DISPATCH, "broadcast %"
						 PRId64 " wave %d: %" PRId64
						 " deliveries", b->b.id,
						 w->w.seq, w->w.total);
				else
					*more = true;
			}
			chunked = true;
		} else if (w->w.state == WS_MATERIALISING) {
			*more = true;
		}
	}
	return wake;
}

/* Close waves with nothing queued or sending; close broadcasts whose waves
 * are all done. */
static void waves_close(struct engine *e, uint64_t now)
{
	bool any = e->wave_closed;
	e->wave_closed = false;
	for (size_t i = 0; i < e->nwaves; i++) {
		struct ewave *w = &e->waves[i];
		if (w->w.state != WS_READY || !w->exhausted || w->in_flight)
			continue;
		bool busy = true;
		if (store_wave_busy(e->store, w->w.id, &busy) < 0 || busy)
			continue;
		w->w.state = WS_DONE;
		store_wave_set_state(e->store, w->w.id, WS_DONE);
		any = true;
	}
	for (size_t i = 0; any && i < e->nbcasts; i++) {
		struct ebcast *b = e->bcasts[i];
		if (b->b.state == BS_DONE || b->b.state == BS_CANCELLED)
			continue;
		bool open = false;
		for (size_t k = 0; k < e->nwaves; k++)
			if (e->waves[k].b == b &&
			    e->waves[k].w.state != WS_DONE)
				open = true;
		if (open)
			continue;
		b->b.state = BS_DONE;
		store_broadcast_set_state(e->store, b->b.id, BS_DONE,
					  (int64_t)now);
		log_info(LOG_DISPATCH, "broadcast %" PRId64 " done", b->b.id);
		e->waves_dirty = true;
	}
}

static void timer_cb(uv_timer_t *t)
{
	pump(container_of(t, struct engine, timer));
}

static void arm_timer(struct engine *e, uint64_t wake, uint64_t now)
{
	uint64_t delay = wake == UINT64_MAX ? IDLE_WAKE_MS :
			 wake > now ? wake - now : 0;
	if (delay > IDLE_WAKE_MS)
		delay = IDLE_WAKE_MS;
	if (delay == 0)
		delay = 1;
	uv_timer_start(&e->timer, timer_cb, delay, 0);
}

/* A wave still open is past its deadline: waves_tick expires it. */
static bool expiry_due(const struct engine *e, uint64_t now)
{
	for (size_t i = 0; i < e->nwaves; i++) {
		const struct ewave *w = &e->waves[i];
		if (w->w.state != WS_DONE && (int64_t)now >= w->w.expires_ms)
			return true;
	}
	return false;
}

/* Requests the route's channels may still start: no more due deliveries
 * than that are worth reading (each costs a few lookups). */
static size_t route_room(const struct engine *e)
{
	size_t room = 0;
	for (size_t i = 0; i < e->nroute; i++) {
		const struct chan *c = e->route[i];
		if (c->in_flight < c->cfg->max_in_flight)
			room += c->cfg->max_in_flight - c->in_flight;
	}
	return room;
}

static void pump(struct engine *e)
{
	if (e->stopping && e->closing)
		return;
	uint64_t now = util_now_ms();
	if (e->store_broken && now < e->store_retry_at) {
		arm_timer(e, e->store_retry_at, now);
		return;
	}
	/* The outcomes are written with the next "sending" marks (below),
	 * or alone: when stopping, after a database error, when nothing is
	 * started, and before a wave's expiry, which must see re-queued
	 * ones as queued. */
	if ((e->stopping || e->store_broken || expiry_due(e, now)) &&
	    flush_results(e) < 0) {
		arm_timer(e, e->store_retry_at, now);
		return;
	}
	if (e->stopping)
		return;
	if (e->waves_dirty) {
		e->waves_dirty = false;
		int r = waves_load(e);
		if (r < 0) {
			log_err(LOG_DISPATCH, "cannot load the open broadcasts:"
				" %s (%s)", strerror(-r),
				store_errmsg(e->store));
			e->waves_dirty = true;
			arm_timer(e, now + 1000, now);
			return;
		}
	}
	tokens_persist(e);
	uint64_t wake = tokens_tick(e, now);
	bool more = false;
	uint64_t w2 = waves_tick(e, now, &more);
	if (w2 < wake)
		wake = w2;

	/* Sendable waves, urgent first, round robin among equals. */
	struct ewave *order[256];
	size_t n = 0;
	uint64_t quiet = quiet_wait(e, now);
	for (size_t k = 0; k < e->nwaves && n < ARRAY_SIZE(order); k++) {
		struct ewave *w = &e->waves[(k + e->rr) % e->nwaves];
		if (w->b->b.state != BS_ACTIVE ||
		    (w->w.state != WS_READY && w->w.state != WS_MATERIALISING))
			continue;
		if (!w->b->b.urgent && quiet) {
			if (now + quiet < wake)
				wake = now + quiet;
			continue;
		}
		order[n++] = w;
	}
	e->rr++;
	qsort(order, n, sizeof *order, wave_cmp);

	struct job *jobs[PUMP_BATCH];
	struct pick p = { .e = e, .now = now, .jobs = jobs,
			  .maxjobs = PUMP_BATCH, .wake = UINT64_MAX };
	bool full = false;
	for (size_t k = 0; k < n && p.njobs < PUMP_BATCH; k++) {
		struct ewave *w = order[k];
		if (w->exhausted && w->next_due > (int64_t)now) {
			if ((uint64_t)w->next_due < wake)
				wake = (uint64_t)w->next_due;
			continue;
		}
		size_t share = (PUMP_BATCH - p.njobs) / (n - k);
		if (share < 16)
			share = 16;
		/* no room: a completion kicks the next pump */
		size_t room = route_room(e);
		if (room == 0)
			break;
		if (share > room)
			share = room;
		size_t before = p.njobs;
		p.w = w;
		p.seen = 0;
		int r = store_delivery_due(e->store, w->w.id, (int64_t)now,
					   (uint32_t)share, pick_cb, &p);
		if (r < 0) {
			log_err(LOG_DISPATCH, "cannot read due deliveries: %s "
				"(%s)", strerror(-r), store_errmsg(e->store));
			if (now + 1000 < wake)
				wake = now + 1000;
			break;
		}
		if (p.seen == share && p.njobs > before)
			full = true;  /* more may be due right away */
		if (p.seen == 0) {
			w->exhausted = true;
			int64_t next;
			if (store_wave_next_due(e->store, w->w.id, &next) == 0)
				w->next_due = next;
			else
				w->next_due = INT64_MAX;
			if (w->next_due != INT64_MAX &&
			    (uint64_t)w->next_due < wake)
				wake = (uint64_t)w->next_due;
		}
	}
	size_t nres = e->nresults;
	start_jobs(e, jobs, p.njobs);
	if (e->nresults && !e->store_broken && flush_results(e) < 0 &&
	    e->store_retry_at < wake)
		wake = e->store_retry_at;
	if (nres && !e->nresults)
		more = true;   /* re-queued ones; waves to close */
	if (p.wake < wake)
		wake = p.wake;
	waves_close(e, now);
	for (struct chan *c = e->chans; c; c = c->next)
		if (c->br == BR_OPEN && c->br_until < wake)
			wake = c->br_until;
	if (full || more || e->nresults || e->waves_dirty)
		kick(e);
	arm_timer(e, wake, now);
}

static void idle_cb(uv_idle_t *h)
{
	struct engine *e = container_of(h, struct engine, idle);
	uv_idle_stop(h);
	e->idle_on = false;
	pump(e);
	if (e->stopping)
		engine_stop(e, 0, e->stop_cb, e->stop_ud);
}

static void kick(struct engine *e)
{
	if (!e->idle_on && !e->closing) {
		e->idle_on = true;
		uv_idle_start(&e->idle, idle_cb);
	}
}

void engine_kick(struct engine *e)
{
	e->waves_dirty = true;
	kick(e);
}

/* ---- life cycle ---- */

int engine_new(uv_loop_t *loop, struct store *s, const struct config *cfg,
	       struct engine **ret, char *err, size_t errsz)
{
	struct engine *e = calloc(1, sizeof *e);
	if (!e)
		return -ENOMEM;
	e->loop = loop;
	e->store = s;
	e->cfg = cfg;
	struct http_client_opts o = { .max_connections = 256,
				      .allow_http = false };
	for (size_t i = 0; i < cfg->nchannels; i++)
		o.allow_http |= cfg->channels[i].allow_http;
	int r = http_client_new(loop, &o, &e->http);
	if (r < 0) {
		snprintf(err, errsz, "cannot start the HTTP client: %s",
			 strerror(-r));
		free(e);
		return r;
	}
	uv_idle_init(loop, &e->idle);
	uv_timer_init(loop, &e->timer);
	uv_timer_init(loop, &e->grace);
	srandom((unsigned)util_now_ms());
	r = build_channels(e, cfg, err, errsz);
	*ret = e;
	return r;
}

int engine_start(struct engine *e)
{
	int n = store_delivery_recover(e->store, util_now_ms());
	if (n < 0)
		return n;
	if (n > 0)
		log_warn(LOG_DISPATCH, "%d deliveries were being sent when "
			 "loaxad stopped: they are queued again and marked as "
			 "possible duplicates", n);
	int r = waves_load(e);
	if (r < 0)
		return r;
	kick(e);
	return 0;
}

int engine_reload(struct engine *e, const struct config *cfg, char *err,
		  size_t errsz)
{
	const struct config *old = e->cfg;
	e->cfg = cfg;
	int r = build_channels(e, cfg, err, errsz);
	if (r < 0) {
		e->cfg = old;
		build_channels(e, old, err, errsz);
		return r;
	}
	e->waves_dirty = true;  /* starts_text: the time zone may change */
	kick(e);
	return 0;
}

bool engine_has_route(const struct engine *e)
{
	return e->nroute > 0;
}

static unsigned jobs_in_flight(const struct engine *e)
{
	unsigned n = 0;
	for (const struct chan *c = e->chans; c; c = c->next)
		n += c->in_flight;
	return n;
}

static void closed_cb(uv_handle_t *h)
{
	struct engine *e = h->data;
	if (--e->closing == 0 && e->stop_cb)
		e->stop_cb(e->stop_ud);
}

static void http_closed_cb(void *ud)
{
	struct engine *e = ud;
	e->http = NULL;
	uv_handle_t *hs[] = { (uv_handle_t *)&e->idle,
			      (uv_handle_t *)&e->timer,
			      (uv_handle_t *)&e->grace };
	for (size_t i = 0; i < ARRAY_SIZE(hs); i++) {
		hs[i]->data = e;
		uv_close(hs[i], closed_cb);
	}
}

static void grace_cb(uv_timer_t *t)
{
	struct engine *e = container_of(t, struct engine, grace);
	unsigned n = jobs_in_flight(e);
	if (n)
		log_warn(LOG_DISPATCH, "%u requests still in flight at stop: "
			 "they will be re-sent at the next start, marked as "
			 "possible duplicates", n);
	if (e->http && !e->closing) {
		flush_results(e);
		e->closing = 3;
		uv_idle_stop(&e->idle);
		uv_timer_stop(&e->timer);
		http_client_close(e->http, http_closed_cb, e);
	}
}

void engine_stop(struct engine *e, uint64_t grace_ms, void (*cb)(void *ud),
		 void *ud)
{
	if (e->closing)
		return;
	if (!e->stopping) {
		e->stopping = true;
		e->stop_cb = cb;
		e->stop_ud = ud;
		uv_timer_stop(&e->timer);
		uv_timer_start(&e->grace, grace_cb, grace_ms, 0);
	}
	/* Finished requests record their outcome; then close. */
	if (jobs_in_flight(e) == 0) {
		uv_timer_stop(&e->grace);
		grace_cb(&e->grace);
	}
}

struct engine *engine_free(struct engine *e)
{
	if (!e)
		return NULL;
	while (e->chans) {
		struct chan *c = e->chans;
		e->chans = c->next;
		chan_free(c);
	}
	for (size_t i = 0; i < e->nresults; i++)
		result_free(&e->results[i]);
	free(e->results);
	waves_clear(e);
	free(e);
	return NULL;
}

void engine_status(struct engine *e, struct engine_status *ret)
{
	uint64_t now = util_now_ms();
	*ret = (struct engine_status){ 0 };
	if (now - e->depth_at >= 1000) {
		if (store_queue_depth(e->store, &e->depth_urgent,
				      &e->depth_normal, &e->depth_oldest) == 0)
			e->depth_at = now;
	}
	ret->queue_urgent = e->depth_urgent;
	ret->queue_normal = e->depth_normal;
	ret->oldest_ms = e->depth_oldest;
	for (struct chan *c = e->chans; c && ret->nchannels <
	     ARRAY_SIZE(ret->chans); c = c->next) {
		if (c->retired)
			continue;
		struct engine_chan_status *s = &ret->chans[ret->nchannels++];
		enum chan_state st = c->state;
		/* rate_limited is the provider's word (429, throttling codes),
		 * shown until the channel accepts again; our own pacing is
		 * the normal state of a busy channel, not a problem. */
		*s = (struct engine_chan_status){
			.name = c->name, .driver = channel_driver_name(c->driver),
			.state = st, .message = c->message,
			.in_flight = c->in_flight, .sent = c->sent,
			.failed = c->failed, .attempts = c->attempts,
			.rate_waits = c->rate_waits, .rate = c->msgs.rate,
			.token_expires_ms = c->oauth ? c->token_expires_ms : 0,
		};
	}
}

int engine_preview(struct engine *e, const struct broadcast *b,
		   const char *name, const char *group_name,
		   struct engine_preview *ret)
{
	*ret = (struct engine_preview){ 0 };
	struct ebcast eb = { .b = *b };
	if (b->kind == BK_MEETING) {
		struct tm tm;
		when_ms_to_local(b->starts_ms, e->cfg->utc_offset_min, &tm);
		template_vn_datetime(&tm, eb.starts_text, sizeof eb.starts_text);
	}
	struct ewave w = { .b = &eb };
	struct tmpl_vars v;
	vars_for(&eb, name, group_name, &v);
	for (size_t i = 0; i < e->nroute && ret->n < ARRAY_SIZE(ret->m); i++) {
		struct chan *c = e->route[i];
		struct sms_info sms = { 0 };
		char *t = render_text(c, wave_template(e, &w), &v, &sms);
		if (!t) {
			engine_preview_clear(ret);
			return -EINVAL;
		}
		snprintf(ret->m[ret->n].channel, sizeof ret->m[0].channel,
			 "%s", c->name);
		snprintf(ret->m[ret->n].driver, sizeof ret->m[0].driver, "%s",
			 channel_driver_name(c->driver));
		ret->m[ret->n].text = t;
		bool is_sms = channel_driver_is_sms(c->driver);
		ret->m[ret->n].encoding = is_sms ? (int)sms.encoding : -1;
		ret->m[ret->n].segments = is_sms ? (int)sms.segments : -1;
		ret->m[ret->n].units = sms.units;
		ret->n++;
	}
	return 0;
}

void engine_preview_clear(struct engine_preview *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->m[i].text);
	p->n = 0;
}
