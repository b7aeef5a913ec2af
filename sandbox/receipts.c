/* receipts.c: the webhooks loaxa-sandbox sends back to loaxad, like the
 * real providers do (docs/sandbox.md, "Receipts and replies").
 *
 * After an accepted message a worker calls receipts_schedule(): it builds
 * the provider's receipt requests (body, signature) at once and puts them
 * in a min-heap by due time. One sender thread takes them when due and
 * sends them with a libcurl easy handle (kept-alive connections), one at a
 * time, and counts the HTTP status loaxad answered. A worker never waits
 * on the network. Replies (POST /_sandbox/reply) go through the same
 * queue with no delay.
 *
 * Wire formats (providers.md): Zalo user_received_message (ZNS, with
 * tracking_id and delivery_time, X-ZEvent-Server: ZNS; OA with msg_id
 * only), user_seen_message and user_send_text, signed X-ZEvent-Signature:
 * mac=sha256(app_id + body + timestamp + OA secret) (§1.4-1.5, §3);
 * Messenger deliveries / reads / messages, X-Hub-Signature-256 (§4.4-4.5);
 * eSMS delivery report, a GET on CallbackUrl (§5.1); Twilio status
 * callbacks and incoming messages, X-Twilio-Signature (§5.4).
 *
 * The randomness (delays, duplicates, reordering, mids left out) has its
 * own PRNG seeded from --seed, so the ids of the messages themselves do
 * not depend on whether receipts are on.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sandbox.h"

#define WH_QUEUE_MAX 1000000    /* queued webhooks before new ones drop */
#define WH_LOG_MAX 10000        /* sent webhooks kept for /_sandbox/webhooks */
#define WH_TIMEOUT_MS 10000
#define WH_URL_MAX 2048
#define MESSENGER_NO_MIDS_RATE 0.25
#define ZALO_OA_ID "4318520716395210581"

enum wh_kind {
	WK_DELIVERED,   /* ZNS/OA user_received_message, Messenger delivery,
			   eSMS report, Twilio delivered */
	WK_READ,        /* OA user_seen_message, Messenger read */
	WK_SENT,        /* Twilio "sent" */
	WK_FAILED,      /* Twilio undelivered */
	WK_REPLY,
	WK__N,
};

static const char *const kind_names[WK__N] = {
	[WK_DELIVERED] = "delivered", [WK_READ] = "read", [WK_SENT] = "sent",
	[WK_FAILED] = "undelivered", [WK_REPLY] = "reply",
};

struct whook {
	int64_t due;            /* monotonic ms */
	uint64_t order;         /* FIFO among equal due times */
	enum provider prov;
	enum wh_kind kind;
	bool duplicate;         /* a resend of an earlier one */
	char *url;
	char *body;             /* NULL: GET */
	const char *ctype;
	char *hdr[3];           /* "Name: value" */
	char *to;
	char *msg_id;
};

struct pstats {
	uint64_t queued, sent, failed, dropped;
	uint64_t by_status[600];
	uint64_t other_status;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started, stopping;
	struct whook **heap;
	size_t len, cap;
	uint64_t order, rng;
	struct pstats p[PROV__N];
	uint64_t replies, refused;
	json_t *log;            /* array, oldest first */
	size_t log_head;        /* ring start once full */
	bool busy;              /* the thread is sending one */
} W = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* ---- small helpers ---- */

static uint64_t rng_next_locked(void)
{
	uint64_t z = (W.rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_unit_locked(void)
{
	return (double)(rng_next_locked() >> 11) * 0x1.0p-53;
}

static int64_t rng_between_locked(int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)(rng_next_locked() % (uint64_t)(hi - lo + 1));
}

static void whook_free(struct whook *w)
{
	size_t i;

	if (!w)
		return;
	free(w->url);
	free(w->body);
	for (i = 0; i < ARRAY_SIZE(w->hdr); i++)
		free(w->hdr[i]);
	free(w->to);
	free(w->msg_id);
	free(w);
}

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* "http://HOST[:PORT]/..." with HOST loopback (or anything with
 * --allow-remote, https too). */
static bool url_allowed(const char *url)
{
	const char *h, *end;
	char host[256];
	size_t n;

	if (!url || strlen(url) >= WH_URL_MAX)
		return false;
	if (strncasecmp(url, "http://", 7) == 0)
		h = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		h = url + 8;
	else
		return false;
	for (end = url; *end; end++)
		if ((unsigned char)*end <= 0x20 || (unsigned char)*end >= 0x7f)
			return false;
	if (the_config.allow_remote)
		return *h && *h != '/';
	if (*h == '[') {
		end = strchr(h, ']');
		if (!end)
			return false;
		n = (size_t)(end - h - 1);
		if (n >= sizeof(host))
			return false;
		memcpy(host, h + 1, n);
		host[n] = '\0';
		return streq(host, "::1");
	}
	n = strcspn(h, ":/?#@");
	if (n == 0 || n >= sizeof(host) || h[n] == '@')
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	if (streq(host, "localhost"))
		return true;
	return strncmp(host, "127.", 4) == 0 &&
	       strspn(host, "0123456789.") == n;
}

int receipts_check_config(void)
{
	const struct sb_config *c = &the_config;

	if (c->webhook_url && !url_allowed(c->webhook_url)) {
		fprintf(stderr, "loaxa-sandbox: --webhook-url %s: expected "
			"http://HOST:PORT with a loopback HOST (add "
			"--allow-remote for another host)\n", c->webhook_url);
		return -EINVAL;
	}
	if (c->esms_callback && !url_allowed(c->esms_callback)) {
		fprintf(stderr, "loaxa-sandbox: --esms-callback %s: expected "
			"an http:// URL on a loopback host (add "
			"--allow-remote for another host)\n", c->esms_callback);
		return -EINVAL;
	}
	return 0;
}

/* base + path, without a doubled slash. */
static char *url_join(const char *base, const char *path)
{
	size_t n = strlen(base);
	char *s;

	while (n && base[n - 1] == '/')
		n--;
	if (asprintf(&s, "%.*s%s", (int)n, base, path) < 0)
		return NULL;
	return s;
}

static void url_escape(struct sbuf *b, const char *s)
{
	static const char digits[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c)) {
			sbuf_add(b, s, 1);
		} else {
			char e[3] = { '%', digits[c >> 4], digits[c & 15] };

			sbuf_add(b, e, 3);
		}
	}
}

/* ---- signatures ---- */

static char *zalo_signature(const char *app_id, const char *body,
			    const char *ts, const char *secret)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char hx[2 * EVP_MAX_MD_SIZE + 1], *s = NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok;

	if (!ctx)
		return NULL;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, app_id, strlen(app_id)) == 1 &&
	     EVP_DigestUpdate(ctx, body, strlen(body)) == 1 &&
	     EVP_DigestUpdate(ctx, ts, strlen(ts)) == 1 &&
	     EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
	     EVP_DigestFinal_ex(ctx, md, &md_len) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return NULL;
	hex(md, md_len, hx);
	if (asprintf(&s, "X-ZEvent-Signature: mac=%s", hx) < 0)
		return NULL;
	return s;
}

static char *messenger_signature(const char *body, const char *secret)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char hx[2 * EVP_MAX_MD_SIZE + 1], *s = NULL;

	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret),
		  (const unsigned char *)body, strlen(body), md, &md_len))
		return NULL;
	hex(md, md_len, hx);
	if (asprintf(&s, "X-Hub-Signature-256: sha256=%s", hx) < 0)
		return NULL;
	return s;
}

struct kv {
	const char *k, *v;
};

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c ? c : strcmp(x->v, y->v);
}

/* The form body of kv[0..n) (sorted in place) and its Twilio signature. */
static char *twilio_form(struct kv *kv, size_t n, const char *url,
			 char **ret_sig)
{
	unsigned char md[EVP_MAX_MD_SIZE], b64[64];
	unsigned int md_len = 0;
	struct sbuf data = { 0 }, form = { 0 };
	size_t i;
	char *body;

	*ret_sig = NULL;
	qsort(kv, n, sizeof(*kv), kv_cmp);
	sbuf_adds(&data, url);
	for (i = 0; i < n; i++) {
		sbuf_adds(&data, kv[i].k);
		sbuf_adds(&data, kv[i].v);
		if (i)
			sbuf_add(&form, "&", 1);
		url_escape(&form, kv[i].k);
		sbuf_add(&form, "=", 1);
		url_escape(&form, kv[i].v);
	}
	body = sbuf_steal(&form, NULL);
	if (!data.oom && data.data && body &&
	    HMAC(EVP_sha1(), the_config.twilio_token,
		 (int)strlen(the_config.twilio_token),
		 (const unsigned char *)data.data, data.len, md, &md_len) &&
	    md_len == 20) {
		EVP_EncodeBlock(b64, md, (int)md_len);
		if (asprintf(ret_sig, "X-Twilio-Signature: %s", b64) < 0)
			*ret_sig = NULL;
	}
	sbuf_free(&data);
	if (!*ret_sig) {
		free(body);
		return NULL;
	}
	return body;
}

/* ---- the queue ---- */

static bool later(const struct whook *a, const struct whook *b)
{
	return a->due > b->due || (a->due == b->due && a->order > b->order);
}

static void heap_up(size_t i)
{
	while (i > 0 && later(W.heap[(i - 1) / 2], W.heap[i])) {
		struct whook *t = W.heap[i];

		W.heap[i] = W.heap[(i - 1) / 2];
		W.heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct whook *heap_pop(void)
{
	struct whook *top = W.heap[0];
	size_t i = 0;

	W.heap[0] = W.heap[--W.len];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct whook *t;

		if (l < W.len && later(W.heap[m], W.heap[l]))
			m = l;
		if (r < W.len && later(W.heap[m], W.heap[r]))
			m = r;
		if (m == i)
			break;
		t = W.heap[i];
		W.heap[i] = W.heap[m];
		W.heap[m] = t;
		i = m;
	}
	return top;
}

/* Queue w (taken in every case) delay ms from now. Lock held. */
static void enqueue_locked(struct whook *w, int64_t delay)
{
	if (!w->url || (!w->body && w->ctype) || W.stopping ||
	    W.len >= WH_QUEUE_MAX) {
		W.p[w->prov].dropped++;
		whook_free(w);
		return;
	}
	if (W.len == W.cap) {
		size_t cap = W.cap ? W.cap * 2 : 256;
		struct whook **h = realloc(W.heap, cap * sizeof(*h));

		if (!h) {
			W.p[w->prov].dropped++;
			whook_free(w);
			return;
		}
		W.heap = h;
		W.cap = cap;
	}
	w->due = sb_mono_ms() + delay;
	w->order = W.order++;
	W.heap[W.len++] = w;
	heap_up(W.len - 1);
	W.p[w->prov].queued++;
	pthread_cond_signal(&W.cond);
}

static struct whook *whook_new(enum provider p, enum wh_kind k,
			       const char *to, const char *msg_id)
{
	struct whook *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->prov = p;
	w->kind = k;
	w->to = strdup(to ? to : "");
	w->msg_id = strdup(msg_id ? msg_id : "");
	if (!w->to || !w->msg_id) {
		whook_free(w);
		return NULL;
	}
	return w;
}

/* A copy for a duplicate send. */
static struct whook *whook_dup(const struct whook *w)
{
	struct whook *d = whook_new(w->prov, w->kind, w->to, w->msg_id);
	size_t i;

	if (!d)
		return NULL;
	d->duplicate = true;
	d->ctype = w->ctype;
	d->url = w->url ? strdup(w->url) : NULL;
	d->body = w->body ? strdup(w->body) : NULL;
	for (i = 0; i < ARRAY_SIZE(w->hdr); i++)
		d->hdr[i] = w->hdr[i] ? strdup(w->hdr[i]) : NULL;
	if (!d->url || (w->body && !d->body)) {
		whook_free(d);
		return NULL;
	}
	return d;
}

/* ---- building the webhooks ---- */

static void ms_string(int64_t ms, char out[static 24])
{
	snprintf(out, 24, "%" PRId64, ms);
}

/* A Zalo webhook: body fields in the order Zalo's samples have them. */
static struct whook *zalo_hook(enum provider p, enum wh_kind k,
			       const char *to, const char *msg_id, json_t *o)
{
	struct whook *w = whook_new(p, k, to, msg_id);
	char ts[24];

	if (!w || !o || !the_config.webhook_url) {
		json_decref(o);
		whook_free(w);
		return NULL;
	}
	ms_string(sb_now_ms(), ts);
	json_object_set_new(o, "app_id", json_string(the_config.zalo_app_id));
	json_object_set_new(o, "timestamp", json_string(ts));
	w->body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	w->url = url_join(the_config.webhook_url, "/webhooks/zalo");
	w->ctype = "application/json";
	if (w->body && the_config.zalo_oa_secret)
		w->hdr[0] = zalo_signature(the_config.zalo_app_id, w->body, ts,
					   the_config.zalo_oa_secret);
	if (p == PROV_ZNS)
		w->hdr[1] = strdup("X-ZEvent-Server: ZNS");
	return w;
}

static struct whook *messenger_hook(enum wh_kind k, const char *psid,
				    const char *mid, json_t *item)
{
	struct whook *w = whook_new(PROV_MESSENGER, k, psid, mid);
	json_t *o;

	if (!w || !item || !the_config.webhook_url) {
		json_decref(item);
		whook_free(w);
		return NULL;
	}
	o = json_pack("{s:s,s:[{s:s,s:I,s:[o]}]}", "object", "page", "entry",
		      "id", the_config.page_id, "time",
		      (json_int_t)sb_now_ms(), "messaging", item);
	w->body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	w->url = url_join(the_config.webhook_url, "/webhooks/messenger");
	w->ctype = "application/json";
	if (w->body && the_config.messenger_app_secret)
		w->hdr[0] = messenger_signature(w->body,
						the_config.messenger_app_secret);
	return w;
}

static struct whook *twilio_hook(enum wh_kind k, const char *url,
				 const char *to, const char *sid,
				 struct kv *kv, size_t n)
{
	struct whook *w = whook_new(PROV_TWILIO, k, to, sid);

	if (!w)
		return NULL;
	w->url = strdup(url);
	w->ctype = "application/x-www-form-urlencoded";
	if (w->url)
		w->body = twilio_form(kv, n, url, &w->hdr[0]);
	if (!w->body) {
		whook_free(w);
		return NULL;
	}
	return w;
}

static struct whook *twilio_status(enum wh_kind k, const char *url,
				   const struct receipt_msg *m)
{
	char code[16];
	struct kv kv[10];
	size_t n = 0;
	const char *st = k == WK_SENT ? "sent" :
			 k == WK_FAILED ? "undelivered" : "delivered";

	kv[n++] = (struct kv){ "AccountSid", the_config.twilio_sid };
	kv[n++] = (struct kv){ "ApiVersion", "2010-04-01" };
	kv[n++] = (struct kv){ "From", m->from ? m->from : "" };
	kv[n++] = (struct kv){ "MessageSid", m->msg_id };
	kv[n++] = (struct kv){ "MessageStatus", st };
	kv[n++] = (struct kv){ "SmsSid", m->msg_id };
	kv[n++] = (struct kv){ "SmsStatus", st };
	kv[n++] = (struct kv){ "To", m->to };
	if (k == WK_FAILED) {
		snprintf(code, sizeof(code), "%d", m->error_code);
		kv[n++] = (struct kv){ "ErrorCode", code };
	}
	return twilio_hook(k, url, m->to, m->msg_id, kv, n);
}

static struct whook *esms_report(const char *url, const struct receipt_msg *m)
{
	struct whook *w = whook_new(PROV_ESMS, WK_DELIVERED, m->to, m->msg_id);
	struct sbuf b = { 0 };

	if (!w)
		return NULL;
	sbuf_adds(&b, url);
	sbuf_adds(&b, strchr(url, '?') ? "&" : "?");
	sbuf_adds(&b, "SMSID=");
	url_escape(&b, m->msg_id);
	sbuf_adds(&b, "&SendFailed=0&SendStatus=5&SendSuccess=1"
		      "&TotalPrice=750&TotalReceiver=1&TotalSent=1");
	if (m->tracking_id) {
		sbuf_adds(&b, "&RequestId=");
		url_escape(&b, m->tracking_id);
	}
	sbuf_adds(&b, "&TypeId=2&telcoid=1&phonenumber=");
	url_escape(&b, m->to);
	w->url = sbuf_steal(&b, NULL);
	if (!w->url) {
		whook_free(w);
		return NULL;
	}
	return w;
}

/* ---- scheduling ---- */

struct plan {
	struct whook *w[2];     /* first, second (delivered, read) */
	size_t n;
};

void receipts_schedule(const struct sreq *r, const struct receipt_msg *m)
{
	const struct action *a = &r->act;
	struct plan pl = { .n = 0 };
	int64_t d[2];
	bool reorder, dup[2], no_mids;
	size_t i;
	char ts[24];

	if (!a->receipts || !m->msg_id || !*m->msg_id || !m->to)
		return;
	if ((r->prov == PROV_ZNS || r->prov == PROV_OA ||
	     r->prov == PROV_MESSENGER) && !the_config.webhook_url)
		return;
	pthread_mutex_lock(&W.lock);
	no_mids = rng_unit_locked() < MESSENGER_NO_MIDS_RATE;
	pthread_mutex_unlock(&W.lock);
	switch (r->prov) {
	case PROV_ZNS:
		ms_string(sb_now_ms(), ts);
		pl.w[pl.n++] = zalo_hook(PROV_ZNS, WK_DELIVERED, m->to,
			m->msg_id, json_pack("{s:{s:s},s:{s:s},s:s,s:{s:s,s:s,"
			"s:s}}", "sender", "id", ZALO_OA_ID, "recipient", "id",
			m->to, "event_name", "user_received_message",
			"message", "delivery_time", ts, "msg_id", m->msg_id,
			"tracking_id", m->tracking_id ? m->tracking_id : ""));
		break;
	case PROV_OA:
		pl.w[pl.n++] = zalo_hook(PROV_OA, WK_DELIVERED, m->to,
			m->msg_id, json_pack("{s:{s:s},s:{s:s},s:s,s:{s:s}}",
			"sender", "id", ZALO_OA_ID, "recipient", "id", m->to,
			"event_name", "user_received_message", "message",
			"msg_id", m->msg_id));
		pl.w[pl.n++] = zalo_hook(PROV_OA, WK_READ, m->to, m->msg_id,
			json_pack("{s:{s:s},s:{s:s},s:s,s:{s:[s]}}", "sender",
			"id", ZALO_OA_ID, "recipient", "id", m->to,
			"event_name", "user_seen_message", "message",
			"msg_ids", m->msg_id));
		break;
	case PROV_MESSENGER: {
		/* Watermark: the message's own timestamp. */
		json_t *dl = json_pack("{s:I}", "watermark",
				       (json_int_t)m->sent_ms);

		if (dl && !no_mids)
			json_object_set_new(dl, "mids",
					    json_pack("[s]", m->msg_id));
		pl.w[pl.n++] = messenger_hook(WK_DELIVERED, m->to,
			no_mids ? "" : m->msg_id,
			json_pack("{s:{s:s},s:{s:s},s:o}", "sender", "id",
				  m->to, "recipient", "id", the_config.page_id,
				  "delivery", dl));
		pl.w[pl.n++] = messenger_hook(WK_READ, m->to, "",
			json_pack("{s:{s:s},s:{s:s},s:I,s:{s:I}}", "sender",
				  "id", m->to, "recipient", "id",
				  the_config.page_id, "timestamp",
				  (json_int_t)sb_now_ms(), "read",
				  "watermark", (json_int_t)m->sent_ms));
		break;
	}
	case PROV_ESMS: {
		const char *url = m->callback && *m->callback ? m->callback :
				  the_config.esms_callback;

		if (!url)
			return;
		if (!url_allowed(url)) {
			pthread_mutex_lock(&W.lock);
			W.refused++;
			pthread_mutex_unlock(&W.lock);
			return;
		}
		pl.w[pl.n++] = esms_report(url, m);
		break;
	}
	case PROV_TWILIO:
		if (!m->callback || !*m->callback)
			return;
		if (!url_allowed(m->callback)) {
			pthread_mutex_lock(&W.lock);
			W.refused++;
			pthread_mutex_unlock(&W.lock);
			return;
		}
		pl.w[pl.n++] = twilio_status(WK_SENT, m->callback, m);
		pl.w[pl.n++] = twilio_status(m->error_code ? WK_FAILED :
					     WK_DELIVERED, m->callback, m);
		break;
	case PROV_OAUTH:
	default:
		return;
	}

	pthread_mutex_lock(&W.lock);
	d[0] = rng_between_locked(a->receipt_delay_min, a->receipt_delay_max);
	d[1] = d[0] + rng_between_locked(a->receipt_delay_min,
					 a->receipt_delay_max);
	reorder = pl.n == 2 && rng_unit_locked() < a->receipt_reorder_rate;
	if (reorder) {
		int64_t t = d[0];

		d[0] = d[1];
		d[1] = t;
	}
	for (i = 0; i < pl.n; i++)
		dup[i] = rng_unit_locked() < a->receipt_duplicate_rate;
	for (i = 0; i < pl.n; i++) {
		struct whook *copy;

		if (!pl.w[i]) {
			W.p[r->prov].dropped++;
			continue;
		}
		copy = dup[i] ? whook_dup(pl.w[i]) : NULL;
		enqueue_locked(pl.w[i], d[i]);
		if (copy)
			enqueue_locked(copy, d[i] + rng_between_locked(
				a->receipt_delay_min, a->receipt_delay_max));
	}
	pthread_mutex_unlock(&W.lock);
}

/* ---- replies ---- */

int receipts_reply(json_t *body, json_t **ret, char *err, size_t errlen)
{
	const char *prov = json_string_value(json_object_get(body, "provider"));
	const char *from = json_string_value(json_object_get(body, "from"));
	const char *text = json_string_value(json_object_get(body, "text"));
	const char *to = json_string_value(json_object_get(body, "to"));
	const char *k;
	char id[48], sid[40], ts[24];
	struct whook *w = NULL;
	json_t *v;

	if (!json_is_object(body)) {
		snprintf(err, errlen, "expected a JSON object {\"provider\","
			 "\"from\",\"text\"}");
		return -EINVAL;
	}
	json_object_foreach(body, k, v) {
		if (!streq(k, "provider") && !streq(k, "from") &&
		    !streq(k, "text") && !streq(k, "to")) {
			snprintf(err, errlen, "unknown key \"%s\" (expected "
				 "provider, from, text, to)", k);
			return -EINVAL;
		}
	}
	if (!prov || !(streq(prov, "zalo_oa") || streq(prov, "oa") ||
		       streq(prov, "messenger") || streq(prov, "twilio"))) {
		snprintf(err, errlen, "provider: expected zalo_oa, messenger "
			 "or twilio");
		return -EINVAL;
	}
	if (!from || !*from || strlen(from) > 64) {
		snprintf(err, errlen, "from: expected a Zalo user_id, a PSID "
			 "or a phone number (1 to 64 characters)");
		return -EINVAL;
	}
	if (!text || strlen(text) > 8000) {
		snprintf(err, errlen, "text: expected a string (at most 8000 "
			 "bytes)");
		return -EINVAL;
	}
	if (json_object_get(body, "to") && (!to || strlen(to) > 64)) {
		snprintf(err, errlen, "to: expected a string");
		return -EINVAL;
	}
	if (!streq(prov, "twilio") && !the_config.webhook_url) {
		snprintf(err, errlen, "no --webhook-url: nowhere to send it");
		return -EINVAL;
	}
	if (streq(prov, "twilio") && !the_config.webhook_url) {
		snprintf(err, errlen, "no --webhook-url: nowhere to send it");
		return -EINVAL;
	}
	ms_string(sb_now_ms(), ts);
	if (streq(prov, "messenger")) {
		memcpy(id, "m_", 2);
		state_random_alnum(id + 2, 40);
		w = messenger_hook(WK_REPLY, from, id,
			json_pack("{s:{s:s},s:{s:s},s:I,s:{s:s,s:s}}",
				  "sender", "id", from, "recipient", "id",
				  to ? to : the_config.page_id, "timestamp",
				  (json_int_t)sb_now_ms(), "message", "mid",
				  id, "text", text));
	} else if (streq(prov, "twilio")) {
		struct kv kv[11];
		size_t n = 0;
		_cleanup_free_ char *url = NULL;

		memcpy(sid, "SM", 2);
		state_random_hex(sid + 2, 32);
		snprintf(id, sizeof(id), "%s", sid);
		url = url_join(the_config.webhook_url, "/webhooks/twilio");
		if (!url) {
			snprintf(err, errlen, "out of memory");
			return -EINVAL;
		}
		kv[n++] = (struct kv){ "AccountSid", the_config.twilio_sid };
		kv[n++] = (struct kv){ "ApiVersion", "2010-04-01" };
		kv[n++] = (struct kv){ "Body", text };
		kv[n++] = (struct kv){ "From", from };
		kv[n++] = (struct kv){ "MessageSid", sid };
		kv[n++] = (struct kv){ "NumMedia", "0" };
		kv[n++] = (struct kv){ "NumSegments", "1" };
		kv[n++] = (struct kv){ "SmsMessageSid", sid };
		kv[n++] = (struct kv){ "SmsSid", sid };
		kv[n++] = (struct kv){ "SmsStatus", "received" };
		kv[n++] = (struct kv){ "To", to ? to : "+15005550006" };
		w = twilio_hook(WK_REPLY, url, from, sid, kv, n);
	} else {
		state_random_hex(id, 20);
		w = zalo_hook(PROV_OA, WK_REPLY, from, id,
			json_pack("{s:{s:s},s:s,s:{s:s},s:s,s:{s:s,s:s}}",
				  "sender", "id", from, "user_id_by_app",
				  from, "recipient", "id",
				  to ? to : ZALO_OA_ID, "event_name",
				  "user_send_text", "message", "msg_id", id,
				  "text", text));
	}
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -EINVAL;
	}
	pthread_mutex_lock(&W.lock);
	W.replies++;
	enqueue_locked(w, 0);
	pthread_mutex_unlock(&W.lock);
	*ret = json_pack("{s:b,s:s,s:s}", "queued", 1, "provider",
			 streq(prov, "oa") ? "zalo_oa" : prov, "msg_id", id);
	return 0;
}

/* ---- the sender thread ---- */

static size_t discard_cb(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

static int progress_cb(void *ud, curl_off_t a, curl_off_t b, curl_off_t c,
		       curl_off_t d)
{
	(void)ud;
	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return __atomic_load_n(&W.stopping, __ATOMIC_RELAXED) ? 1 : 0;
}

static void log_add_locked(const struct whook *w, long status)
{
	json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:b,s:I}",
		"provider", provider_name(w->prov), "kind", kind_names[w->kind],
		"to", w->to, "msg_id", w->msg_id, "method",
		w->body ? "POST" : "GET", "status", (json_int_t)status,
		"duplicate", w->duplicate, "sent_ms", (json_int_t)sb_now_ms());

	if (!e || !W.log)
		return;
	if (w->body)
		json_object_set_new(e, "body", json_string(w->body));
	else
		json_object_set_new(e, "url", json_string(w->url));
	if (json_array_size(W.log) < WH_LOG_MAX) {
		json_array_append_new(W.log, e);
	} else {
		json_array_set_new(W.log, W.log_head, e);
		W.log_head = (W.log_head + 1) % WH_LOG_MAX;
	}
}

static void send_one(CURL *c, struct whook *w)
{
	struct curl_slist *h = NULL;
	long status = 0;
	CURLcode rc;
	size_t i;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, w->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)WH_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "loaxa-sandbox");
	if (w->body) {
		char ct[96];

		snprintf(ct, sizeof(ct), "Content-Type: %s", w->ctype);
		h = curl_slist_append(h, ct);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, w->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(w->body));
	}
	h = curl_slist_append(h, "Expect:");
	for (i = 0; i < ARRAY_SIZE(w->hdr); i++)
		if (w->hdr[i])
			h = curl_slist_append(h, w->hdr[i]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);

	pthread_mutex_lock(&W.lock);
	if (rc == CURLE_OK && status > 0) {
		W.p[w->prov].sent++;
		if (status < 600)
			W.p[w->prov].by_status[status]++;
		else
			W.p[w->prov].other_status++;
	} else {
		W.p[w->prov].failed++;
	}
	log_add_locked(w, rc == CURLE_OK ? status : 0);
	W.busy = false;
	pthread_mutex_unlock(&W.lock);
}

static void *sender_main(void *arg)
{
	CURL *c = curl_easy_init();

	(void)arg;
	pthread_mutex_lock(&W.lock);
	while (!W.stopping) {
		int64_t now = sb_mono_ms();
		struct timespec ts;
		struct whook *w;

		if (W.len && W.heap[0]->due <= now && c) {
			w = heap_pop();
			W.busy = true;
			pthread_mutex_unlock(&W.lock);
			send_one(c, w);
			whook_free(w);
			pthread_mutex_lock(&W.lock);
			continue;
		}
		if (W.len) {
			int64_t wake = W.heap[0]->due;

			ts.tv_sec = (time_t)(wake / 1000);
			ts.tv_nsec = (long)(wake % 1000) * 1000000;
			pthread_cond_timedwait(&W.cond, &W.lock, &ts);
		} else {
			pthread_cond_wait(&W.cond, &W.lock);
		}
	}
	pthread_mutex_unlock(&W.lock);
	if (c)
		curl_easy_cleanup(c);
	return NULL;
}

int receipts_start(void)
{
	pthread_condattr_t ca;
	int r;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -ENOMEM;
	W.rng = the_config.seed ^ 0x5265636569707473ull;    /* "Receipts" */
	W.log = json_array();
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	r = pthread_cond_init(&W.cond, &ca);
	pthread_condattr_destroy(&ca);
	if (r)
		return -r;
	r = pthread_create(&W.thread, NULL, sender_main, NULL);
	if (r) {
		pthread_cond_destroy(&W.cond);
		return -r;
	}
	W.started = true;
	return 0;
}

static void queue_clear_locked(void)
{
	while (W.len)
		whook_free(W.heap[--W.len]);
}

void receipts_stop(void)
{
	if (!W.started)
		return;
	pthread_mutex_lock(&W.lock);
	__atomic_store_n(&W.stopping, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&W.cond);
	pthread_mutex_unlock(&W.lock);
	pthread_join(W.thread, NULL);
	pthread_cond_destroy(&W.cond);
	queue_clear_locked();
	free(W.heap);
	W.heap = NULL;
	W.cap = 0;
	json_decref(W.log);
	W.log = NULL;
	W.started = false;
	curl_global_cleanup();
}

void receipts_reset(void)
{
	pthread_mutex_lock(&W.lock);
	queue_clear_locked();
	memset(W.p, 0, sizeof(W.p));
	W.replies = W.refused = 0;
	W.rng = the_config.seed ^ 0x5265636569707473ull;
	if (W.log)
		json_array_clear(W.log);
	W.log_head = 0;
	pthread_mutex_unlock(&W.lock);
}

/* ---- reporting ---- */

json_t *receipts_stats_json(void)
{
	json_t *o = json_object(), *prov = json_object();
	size_t i, j;
	uint64_t pending;

	pthread_mutex_lock(&W.lock);
	pending = W.len + (W.busy ? 1 : 0);
	for (i = 0; i < PROV__N; i++) {
		const struct pstats *p = &W.p[i];
		json_t *bs;
		char key[16];

		if (i == PROV_OAUTH)
			continue;
		bs = json_object();
		for (j = 0; j < ARRAY_SIZE(p->by_status); j++) {
			if (!p->by_status[j])
				continue;
			snprintf(key, sizeof(key), "%zu", j);
			json_object_set_new(bs, key, json_integer(
				(json_int_t)p->by_status[j]));
		}
		if (p->other_status)
			json_object_set_new(bs, "other", json_integer(
				(json_int_t)p->other_status));
		json_object_set_new(prov, provider_name((enum provider)i),
			json_pack("{s:I,s:I,s:I,s:I,s:o}",
				  "queued", (json_int_t)p->queued,
				  "sent", (json_int_t)p->sent,
				  "failed", (json_int_t)p->failed,
				  "dropped", (json_int_t)p->dropped,
				  "by_status", bs));
	}
	json_object_set_new(o, "providers", prov);
	json_object_set_new(o, "pending", json_integer((json_int_t)pending));
	json_object_set_new(o, "replies", json_integer((json_int_t)W.replies));
	json_object_set_new(o, "refused", json_integer((json_int_t)W.refused));
	pthread_mutex_unlock(&W.lock);
	return o;
}

json_t *receipts_log_json(size_t limit)
{
	json_t *a = json_array();
	size_t n, i, skip;

	pthread_mutex_lock(&W.lock);
	n = W.log ? json_array_size(W.log) : 0;
	skip = n > limit ? n - limit : 0;
	for (i = skip; i < n; i++)
		json_array_append(a, json_array_get(W.log,
						    (W.log_head + i) % n));
	pthread_mutex_unlock(&W.lock);
	return a;
}

json_t *receipts_config_json(void)
{
	const struct sb_config *c = &the_config;

	return json_pack("{s:s?,s:s,s:s?,s:s?,s:s?,s:[I,I],s:f,s:f}",
		"webhook_url", c->webhook_url, "zalo_app_id", c->zalo_app_id,
		"zalo_oa_secret", c->zalo_oa_secret, "messenger_app_secret",
		c->messenger_app_secret, "esms_callback", c->esms_callback,
		"receipt_delay_ms", (json_int_t)RECEIPT_DELAY_MIN,
		(json_int_t)RECEIPT_DELAY_MAX, "receipt_duplicate_rate",
		RECEIPT_DUPLICATE_RATE, "receipt_reorder_rate",
		RECEIPT_REORDER_RATE);
}
