/* hooks.c: the outbound event hook (hooks.h). One uv timer drives it: it
 * reads the oldest events of the store's outbox and, when the first is
 * due, POSTs up to HOOKS_BATCH of them; one request at a time, so the
 * receiver sees them in order. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "loaxa/hooks.h"
#include "loaxa/http_client.h"
#include "loaxa/log.h"
#include "loaxa/util.h"

#define HOOKS_MAX_BODY (1024 * 1024)
#define HOOKS_WARN_EVERY_MS (60 * 60 * 1000)

struct hooks {
	uv_loop_t *loop;
	struct store *store;
	struct http_client *http;
	uv_timer_t timer;
	char *url, *secret;
	bool allow_http;
	struct http_job *job;   /* the request in flight */
	int64_t first, last;    /* its events */
	int attempts;           /* of its first event, before this one */
	bool closing;
	unsigned pending_closes;
	int64_t failing_since;  /* 0 when the last batch went through */
	int64_t warned_ms;
	void (*close_cb)(void *ud);
	void *close_ud;
};

void hooks_sign(const char *key, const char *body, size_t len,
		char out[static 65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (!HMAC(EVP_sha256(), key, (int)strlen(key),
		  (const unsigned char *)body, len, md, &mdlen))
		mdlen = 0;
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < mdlen && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * (mdlen < 32 ? mdlen : 32)] = '\0';
	OPENSSL_cleanse(md, sizeof md);
}

uint64_t hooks_backoff_ms(int attempts)
{
	uint64_t d = HOOKS_BACKOFF_INITIAL_MS;
	for (int i = 0; i < attempts && d < HOOKS_BACKOFF_MAX_MS; i++)
		d *= 2;
	return d < HOOKS_BACKOFF_MAX_MS ? d : HOOKS_BACKOFF_MAX_MS;
}

static void tick_cb(uv_timer_t *t);

static void schedule(struct hooks *h, uint64_t delay_ms)
{
	if (!h->closing)
		uv_timer_start(&h->timer, tick_cb, delay_ms, 0);
}

struct batch {
	struct buf body;
	int64_t first, last;
	int attempts;
	int64_t next_at;
	size_t n;
};

static int batch_add(const struct hook_event_row *e, void *ud)
{
	struct batch *b = ud;
	if (b->n == 0) {
		b->first = e->id;
		b->attempts = e->attempts;
		b->next_at = e->next_at_ms;
	} else if (b->body.len + strlen(e->body) + 2 > HOOKS_MAX_BODY / 2) {
		return 1;       /* enough for one request */
	}
	int r = buf_append(&b->body, b->n ? "," : "[", 1);
	if (r == 0)
		r = buf_append(&b->body, e->body, strlen(e->body));
	if (r < 0)
		return r;
	b->last = e->id;
	b->n++;
	return 0;
}

static void failed(struct hooks *h, const char *why)
{
	int64_t now = util_now_ms();
	uint64_t delay = hooks_backoff_ms(h->attempts);
	int r = store_hook_outbox_retry(h->store, h->first, h->last,
					now + (int64_t)delay);
	if (r < 0)
		log_err(LOG_WEBHOOK, "event hook: cannot record the failed "
			"attempt: %s (%s)", strerror(-r),
			store_errmsg(h->store));
	if (!h->failing_since)
		h->failing_since = now;
	if (!h->warned_ms || now - h->warned_ms >= HOOKS_WARN_EVERY_MS) {
		int64_t n = 0;
		store_hook_outbox_count(h->store, &n);
		log_warn(LOG_WEBHOOK, "event hook: %s; %" PRId64 " event(s) "
			 "waiting, next try in %" PRIu64 " ms", why, n, delay);
		h->warned_ms = now;
	}
	schedule(h, delay);
}

static void done_cb(void *ud, const struct http_response *resp)
{
	struct hooks *h = ud;
	h->job = NULL;
	if (resp->error == -ECANCELED || h->closing)
		return;         /* the events stay for the next start */
	char why[160];
	if (resp->error == 0 && resp->status >= 200 && resp->status < 300) {
		int r = store_hook_outbox_delete(h->store, h->first, h->last);
		if (r < 0) {
			log_err(LOG_WEBHOOK, "event hook: cannot delete sent "
				"events: %s (%s)", strerror(-r),
				store_errmsg(h->store));
			schedule(h, HOOKS_POLL_MS);
			return;
		}
		log_debug(LOG_WEBHOOK, "event hook: events %" PRId64 "-%"
			  PRId64 " sent (HTTP %d)", h->first, h->last,
			  resp->status);
		if (h->failing_since)
			log_notice(LOG_WEBHOOK, "event hook: delivering "
				   "again after %" PRId64 " s",
				   (util_now_ms() - h->failing_since) / 1000);
		h->failing_since = 0;
		h->warned_ms = 0;
		schedule(h, 0);
		return;
	}
	if (resp->error)
		snprintf(why, sizeof why, "no answer: %s", resp->errmsg &&
			 *resp->errmsg ? resp->errmsg : strerror(-resp->error));
	else
		snprintf(why, sizeof why, "the receiver answered HTTP %d",
			 resp->status);
	failed(h, why);
}

static void send_due(struct hooks *h)
{
	int64_t next;
	int r = store_hook_outbox_next(h->store, &next);
	if (r == -ENOENT) {
		schedule(h, HOOKS_POLL_MS);
		return;
	}
	if (r < 0) {
		log_err(LOG_WEBHOOK, "event hook: cannot read the outbox: %s "
			"(%s)", strerror(-r), store_errmsg(h->store));
		schedule(h, HOOKS_POLL_MS);
		return;
	}
	int64_t now = util_now_ms();
	if (next > now) {
		schedule(h, (uint64_t)(next - now));
		return;
	}
	struct batch b = { 0 };
	buf_init(&b.body, HOOKS_MAX_BODY);
	r = store_hook_outbox_head(h->store, HOOKS_BATCH, batch_add, &b);
	if (r == 0 || r == 1)
		r = b.n ? buf_append(&b.body, "]", 1) : -ENOENT;
	if (r < 0) {
		if (r != -ENOENT)
			log_err(LOG_WEBHOOK, "event hook: cannot read the "
				"outbox: %s", strerror(-r));
		buf_free(&b.body);
		schedule(h, HOOKS_POLL_MS);
		return;
	}
	char sig[65], sig_h[96], id_h[80];
	hooks_sign(h->secret, b.body.data, b.body.len, sig);
	snprintf(sig_h, sizeof sig_h, "X-Loaxa-Signature: sha256=%s", sig);
	snprintf(id_h, sizeof id_h, "X-Loaxa-Delivery: %" PRId64 "-%" PRId64,
		 b.first, b.last);
	const char *headers[] = { "Content-Type: application/json", sig_h,
				  id_h };
	struct http_request req = {
		.method = "POST",
		.url = h->url,
		.headers = headers,
		.nheaders = ARRAY_SIZE(headers),
		.body = b.body.data,
		.body_len = b.body.len,
		.connect_timeout_ms = HOOKS_TIMEOUT_MS,
		.timeout_ms = HOOKS_TIMEOUT_MS,
		.max_response = 64 * 1024,
	};
	h->first = b.first;
	h->last = b.last;
	h->attempts = b.attempts;
	r = http_client_start(h->http, &req, done_cb, h, &h->job);
	buf_free(&b.body);
	if (r < 0) {
		h->job = NULL;
		char why[96];
		snprintf(why, sizeof why, "cannot send: %s", strerror(-r));
		failed(h, why);
	}
}

static void tick_cb(uv_timer_t *t)
{
	struct hooks *h = t->data;
	if (h->closing || h->job)
		return;
	send_due(h);
}

int hooks_new(uv_loop_t *loop, struct store *s, const struct config *cfg,
	      struct hooks **ret, char *err, size_t errsz)
{
	if (!cfg->hook_url || !*cfg->hook_url) {
		snprintf(err, errsz, "[hooks] url is not set");
		return -EINVAL;
	}
	struct hooks *h = calloc(1, sizeof *h);
	if (!h) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	h->loop = loop;
	h->store = s;
	h->allow_http = cfg->hook_allow_http;
	h->url = strdup(cfg->hook_url);
	char why[256] = "";
	int r = h->url ? 0 : -ENOMEM;
	if (r == 0)
		r = config_read_secret(cfg->hook_secret_file, &h->secret, why,
				       sizeof why);
	if (r == 0 && !*h->secret) {
		r = -EINVAL;
		snprintf(why, sizeof why, "the secret is empty");
	}
	if (r < 0) {
		snprintf(err, errsz, "[hooks] secret_file: %s",
			 *why ? why : strerror(-r));
		goto fail;
	}
	struct http_client_opts o = {
		.max_connections = 2,
		.max_host_connections = 1,
		.allow_http = cfg->hook_allow_http,
	};
	r = http_client_new(loop, &o, &h->http);
	if (r < 0) {
		snprintf(err, errsz, "event hook: cannot make the HTTP client:"
			 " %s", strerror(-r));
		goto fail;
	}
	uv_timer_init(loop, &h->timer);
	h->timer.data = h;
	store_set_hook_enabled(s, true);
	schedule(h, 0);
	*ret = h;
	return 0;
fail:
	if (h->secret)
		OPENSSL_cleanse(h->secret, strlen(h->secret));
	free(h->secret);
	free(h->url);
	free(h);
	return r;
}

static void hooks_free(struct hooks *h)
{
	void (*cb)(void *ud) = h->close_cb;
	void *ud = h->close_ud;
	OPENSSL_cleanse(h->secret, strlen(h->secret));
	free(h->secret);
	free(h->url);
	free(h);
	if (cb)
		cb(ud);
}

static void closed_one(struct hooks *h)
{
	if (--h->pending_closes == 0)
		hooks_free(h);
}

static void http_closed_cb(void *ud)
{
	closed_one(ud);
}

static void timer_closed_cb(uv_handle_t *t)
{
	closed_one(t->data);
}

void hooks_close(struct hooks *h, void (*cb)(void *ud), void *ud)
{
	if (!h) {
		if (cb)
			cb(ud);
		return;
	}
	if (h->closing)
		return;
	h->closing = true;
	h->close_cb = cb;
	h->close_ud = ud;
	h->pending_closes = 2;
	uv_timer_stop(&h->timer);
	uv_close((uv_handle_t *)&h->timer, timer_closed_cb);
	http_client_close(h->http, http_closed_cb, h);
}

int hooks_reload(struct hooks **hp, uv_loop_t *loop, struct store *s,
		 const struct config *nc, char *err, size_t errsz)
{
	struct hooks *h = *hp;
	if (!nc->hook_url || !*nc->hook_url) {
		if (h)
			log_info(LOG_WEBHOOK, "event hook: off");
		hooks_close(h, NULL, NULL);
		*hp = NULL;
		store_set_hook_enabled(s, false);
		return 0;
	}
	if (h && streq(h->url, nc->hook_url) &&
	    h->allow_http == nc->hook_allow_http) {
		_cleanup_free_ char *secret = NULL;
		char why[256];
		if (config_read_secret(nc->hook_secret_file, &secret, why,
				       sizeof why) == 0 &&
		    streq(secret, h->secret)) {
			OPENSSL_cleanse(secret, strlen(secret));
			return 0;
		}
		if (secret)
			OPENSSL_cleanse(secret, strlen(secret));
	}
	hooks_close(h, NULL, NULL);
	*hp = NULL;
	int r = hooks_new(loop, s, nc, hp, err, errsz);
	if (r == 0)
		log_info(LOG_WEBHOOK, "event hook: new settings in use");
	return r;
}
