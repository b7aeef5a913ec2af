/* api-webhooks.c: the providers' webhooks, on their own listener.
 *
 *   POST /webhooks/zalo             ZNS receipts, OA follower events
 *   GET  /webhooks/messenger        the subscribe handshake
 *   POST /webhooks/messenger        deliveries, reads, messages
 *   GET  /webhooks/esms/<secret>    eSMS delivery reports
 *   POST /webhooks/twilio           Twilio status callbacks, incoming SMS
 *
 * Every request is authenticated before anything is parsed or stored
 * (signature, or the secret in the URL); a bad one gets 403 and changes
 * nothing. Receipts move deliveries forward only; unknown or late ones are
 * kept for audit and still answered 200, so a provider never retries them
 * forever. A store failure is a 503: the provider retries later.
 */
#include <errno.h>
#include <inttypes.h>

#include "api-internal.h"
#include "loaxa/channel.h"
#include "loaxa/log.h"
#include "loaxa/text.h"
#include "loaxa/webhooks.h"

#define FORM_MAX_PARAMS WEBHOOKS_PARAMS_MAX

struct api_webhooks {
	struct store *store;
	char *zalo_secret, *messenger_secret, *messenger_token, *esms_secret;
	char *twilio_tokens[8];
	size_t ntwilio;
	char *public_url;
	char *rsvp_yes, *rsvp_no;
};

static void secret_drop(char **p)
{
	if (*p) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

struct api_webhooks *api__webhooks_free(struct api_webhooks *w)
{
	if (!w)
		return NULL;
	secret_drop(&w->zalo_secret);
	secret_drop(&w->messenger_secret);
	secret_drop(&w->messenger_token);
	secret_drop(&w->esms_secret);
	for (size_t i = 0; i < w->ntwilio; i++)
		secret_drop(&w->twilio_tokens[i]);
	free(w->public_url);
	free(w->rsvp_yes);
	free(w->rsvp_no);
	free(w);
	return NULL;
}

static int load_secret(const char *ref, char **dst, const char *key,
		       char *err, size_t errsz)
{
	if (!ref || !*ref)
		return 0;
	char why[256];
	int r = config_read_secret(ref, dst, why, sizeof why);
	if (r < 0)
		snprintf(err, errsz, "[webhooks] %s: %s", key, why);
	return r;
}

int api__webhooks_new(struct store *s, const struct config *cfg,
		      struct api_webhooks **ret, char *err, size_t errsz)
{
	struct api_webhooks *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->store = s;
	int r;
	if ((r = load_secret(cfg->wh_zalo_oa_secret_file, &w->zalo_secret,
			     "zalo_oa_secret_file", err, errsz)) < 0 ||
	    (r = load_secret(cfg->wh_messenger_app_secret_file,
			     &w->messenger_secret, "messenger_app_secret_file",
			     err, errsz)) < 0 ||
	    (r = load_secret(cfg->wh_messenger_verify_token_file,
			     &w->messenger_token,
			     "messenger_verify_token_file", err, errsz)) < 0 ||
	    (r = load_secret(cfg->wh_esms_secret_file, &w->esms_secret,
			     "esms_secret_file", err, errsz)) < 0)
		goto fail;
	/* Twilio signs with the account's auth token: any Twilio channel's. */
	for (size_t i = 0; i < cfg->nchannels &&
			   w->ntwilio < ARRAY_SIZE(w->twilio_tokens); i++) {
		const struct config_channel *c = &cfg->channels[i];
		if (c->driver != CHD_TWILIO || !c->auth_token_file)
			continue;
		r = load_secret(c->auth_token_file,
				&w->twilio_tokens[w->ntwilio],
				"twilio auth_token_file", err, errsz);
		if (r < 0)
			goto fail;
		w->ntwilio++;
	}
	if (cfg->wh_public_url && *cfg->wh_public_url)
		w->public_url = strdup(cfg->wh_public_url);
	else if (cfg->wh_listen && *cfg->wh_listen &&
		 asprintf(&w->public_url, "http://%s", cfg->wh_listen) < 0)
		w->public_url = NULL;
	w->rsvp_yes = cfg->rsvp_yes ? strdup(cfg->rsvp_yes) : NULL;
	w->rsvp_no = cfg->rsvp_no ? strdup(cfg->rsvp_no) : NULL;
	*ret = w;
	return 0;
fail:
	api__webhooks_free(w);
	return r;
}

/* ---- applying events ---- */

struct applied {
	size_t receipts, replies, unknown;
};

static int apply_events(struct api_webhooks *w,
			const struct webhook_event_list *l, struct applied *a)
{
	int64_t now = util_now_ms();
	for (size_t i = 0; i < l->n; i++) {
		const struct webhook_event *ev = &l->events[i];
		int r;
		if (ev->kind == WE_REPLY) {
			size_t n = strlen(ev->text);
			enum rsvp rv = rsvp_parse(ev->text, n, w->rsvp_yes,
						  w->rsvp_no);
			struct reply_in in = {
				.provider = (int)ev->provider,
				.sender = ev->sender, .msg_id = ev->msg_id,
				.text = ev->text, .rsvp = (int)rv,
				.now_ms = now,
			};
			int64_t id, hh, bc;
			r = store_reply_add(w->store, &in, &id, &hh, &bc);
			if (r == 0 && id) {
				a->replies++;
				log_info(LOG_WEBHOOK, "reply %" PRId64 " from "
					 "%s (household %" PRId64 "%s%s)", id,
					 channel_driver_name(ev->provider), hh,
					 rv ? ", RSVP " : "",
					 rv ? rsvp_name(rv) : "");
			}
		} else {
			struct receipt_in in = {
				.kind = ev->kind == WE_READ ? RK_READ :
					ev->kind == WE_FAILED ? RK_FAILED :
					RK_DELIVERED,
				.provider = (int)ev->provider,
				.msg_id = ev->msg_id,
				.tracking_id = ev->tracking_id,
				.sender = ev->sender, .code = ev->code,
				.at_ms = ev->at_ms,
				.watermark_ms = ev->watermark_ms,
				.now_ms = now,
			};
			enum receipt_outcome o;
			int64_t changed;
			r = store_receipt_apply(w->store, &in, &o, &changed);
			if (r == 0) {
				a->receipts++;
				if (o == RO_UNKNOWN)
					a->unknown++;
				log_debug(LOG_WEBHOOK, "%s receipt (%s): %s, %"
					  PRId64 " deliveries",
					  channel_driver_name(ev->provider),
					  webhooks_kind_name(ev->kind),
					  receipt_outcome_name(o), changed);
			}
		}
		if (r < 0) {
			log_err(LOG_WEBHOOK, "cannot record a %s event: %s "
				"(%s)", channel_driver_name(ev->provider),
				strerror(-r), store_errmsg(w->store));
			return r;
		}
	}
	return 0;
}

static void answer_parsed(struct api_webhooks *w, struct rctx *rc, int r,
			  struct webhook_event_list *l, const char *err,
			  const char *provider)
{
	if (r == -ENOMSG) {
		api__reply_json(rc, 200, json_pack("{s:b,s:i}", "ok", 1,
						   "events", 0));
		return;
	}
	if (r == -EINVAL) {
		log_warn(LOG_WEBHOOK, "%s: malformed webhook: %s", provider,
			 err);
		api__reply_error(rc, 400, "bad_request", "%s", err);
		return;
	}
	if (r < 0) {
		api__reply_error(rc, 500, "internal", "out of memory");
		return;
	}
	struct applied a = { 0 };
	r = apply_events(w, l, &a);
	if (r < 0) {
		api__reply_error(rc, 503, "unavailable", "cannot record the "
				 "events now: try again later");
		return;
	}
	api__reply_json(rc, 200, json_pack("{s:b,s:I,s:I,s:I,s:I}", "ok", 1,
					   "events", (json_int_t)l->n,
					   "receipts", (json_int_t)a.receipts,
					   "replies", (json_int_t)a.replies,
					   "unknown", (json_int_t)a.unknown));
}

static const char *header(struct rctx *rc, const char *name)
{
	return MHD_lookup_connection_value(rc->conn, MHD_HEADER_KIND, name);
}

static void forbidden(struct rctx *rc, const char *provider)
{
	log_warn(LOG_WEBHOOK, "%s webhook with a bad or missing signature: "
		 "refused", provider);
	api__reply_error(rc, 403, "forbidden", "signature check failed");
}

static void h_zalo(struct api_webhooks *w, struct rctx *rc)
{
	if (!w->zalo_secret)
		return api__reply_error(rc, 404, "not_found", "the Zalo "
					"webhook is not configured");
	if (!webhooks_verify_zalo(rc->body, rc->body_len, w->zalo_secret,
				  header(rc, "X-ZEvent-Signature")))
		return forbidden(rc, "zalo");
	struct webhook_event_list l = { 0 };
	char err[200] = "";
	int r = webhooks_parse_zalo(rc->body, rc->body_len, &l, err,
				    sizeof err);
	answer_parsed(w, rc, r, &l, err, "zalo");
	webhook_event_list_clear(&l);
}

static void h_messenger(struct api_webhooks *w, struct rctx *rc)
{
	if (streq(rc->method, "GET")) {
		const char *challenge;
		if (!w->messenger_token ||
		    webhooks_messenger_handshake(
			    api__query(rc, "hub.mode"),
			    api__query(rc, "hub.verify_token"),
			    api__query(rc, "hub.challenge"),
			    w->messenger_token, &challenge) < 0)
			return forbidden(rc, "messenger handshake");
		rc->status = 200;
		rc->raw = strdup(challenge);
		rc->raw_len = rc->raw ? strlen(rc->raw) : 0;
		rc->ctype = "text/plain";
		return;
	}
	if (!w->messenger_secret)
		return api__reply_error(rc, 404, "not_found", "the Messenger "
					"webhook is not configured");
	if (!webhooks_verify_messenger(rc->body, rc->body_len,
				       w->messenger_secret,
				       header(rc, "X-Hub-Signature-256")))
		return forbidden(rc, "messenger");
	struct webhook_event_list l = { 0 };
	char err[200] = "";
	int r = webhooks_parse_messenger(rc->body, rc->body_len, &l, err,
					 sizeof err);
	answer_parsed(w, rc, r, &l, err, "messenger");
	webhook_event_list_clear(&l);
}

struct params {
	const char *keys[FORM_MAX_PARAMS];
	const char *vals[FORM_MAX_PARAMS];
	size_t n;
	bool overflow;
};

static enum MHD_Result param_cb(void *cls, enum MHD_ValueKind kind,
				const char *key, const char *value)
{
	struct params *p = cls;
	(void)kind;
	if (p->n == FORM_MAX_PARAMS) {
		p->overflow = true;
		return MHD_NO;
	}
	p->keys[p->n] = key;
	p->vals[p->n++] = value ? value : "";
	return MHD_YES;
}

static void h_esms(struct api_webhooks *w, struct rctx *rc)
{
	if (!w->esms_secret)
		return api__reply_error(rc, 404, "not_found", "the eSMS "
					"webhook is not configured");
	if (rc->nseg != 3 || !webhooks_verify_secret(rc->seg[2],
						     w->esms_secret))
		return forbidden(rc, "esms");
	struct params p = { 0 };
	MHD_get_connection_values(rc->conn, MHD_GET_ARGUMENT_KIND, param_cb,
				  &p);
	if (p.overflow)
		return api__reply_error(rc, 400, "bad_request", "too many "
					"parameters");
	struct webhook_event_list l = { 0 };
	char err[200] = "";
	int r = webhooks_parse_esms_query(p.keys, p.vals, p.n, &l, err,
					  sizeof err);
	answer_parsed(w, rc, r, &l, err, "esms");
	webhook_event_list_clear(&l);
}

/* Decode application/x-www-form-urlencoded in place into p (pointers into
 * buf). -EINVAL on a bad escape or too many parameters. */
static int form_decode(char *buf, struct params *p)
{
	char *s = buf;
	while (*s) {
		if (p->n == FORM_MAX_PARAMS)
			return -EINVAL;
		char *amp = strchr(s, '&');
		if (amp)
			*amp = '\0';
		char *eq = strchr(s, '=');
		char *k = s, *v = eq ? eq + 1 : s + strlen(s);
		if (eq)
			*eq = '\0';
		char *fields[2] = { k, v };
		for (int f = 0; f < 2; f++) {
			char *in = fields[f], *out = fields[f];
			for (; *in; in++, out++) {
				if (*in == '+') {
					*out = ' ';
				} else if (*in == '%') {
					int hi = util_hexdigit(in[1]);
					int lo = hi < 0 ? -1 :
						util_hexdigit(in[2]);
					if (lo < 0)
						return -EINVAL;
					*out = (char)(hi * 16 + lo);
					in += 2;
				} else {
					*out = *in;
				}
			}
			*out = '\0';
		}
		if (*k) {
			p->keys[p->n] = k;
			p->vals[p->n++] = eq ? v : "";
		}
		if (!amp)
			break;
		s = amp + 1;
	}
	return 0;
}

static void h_twilio(struct api_webhooks *w, struct rctx *rc, const char *url)
{
	if (w->ntwilio == 0)
		return api__reply_error(rc, 404, "not_found", "no Twilio "
					"channel is configured");
	_cleanup_free_ char *body = util_strndup(rc->body, rc->body_len);
	if (!body)
		return api__reply_error(rc, 500, "internal", "out of memory");
	struct params p = { 0 };
	if (memchr(rc->body, '\0', rc->body_len) || form_decode(body, &p) < 0)
		return api__reply_error(rc, 400, "bad_request", "the form body "
					"cannot be decoded");
	for (size_t i = 0; i < p.n; i++)
		if (!text_utf8_valid(p.keys[i], strlen(p.keys[i])) ||
		    !text_utf8_valid(p.vals[i], strlen(p.vals[i])))
			return api__reply_error(rc, 400, "bad_request",
						"a form field is not UTF-8");
	/* Twilio signs the URL it called: our public URL + the path (a
	 * StatusCallback with a query string is not supported). */
	(void)url;
	char full[1024];
	snprintf(full, sizeof full, "%s/webhooks/twilio",
		 w->public_url ? w->public_url : "");
	const char *sig = header(rc, "X-Twilio-Signature");
	bool ok = false;
	for (size_t i = 0; i < w->ntwilio && !ok; i++)
		ok = webhooks_verify_twilio(full, p.keys, p.vals, p.n,
					    w->twilio_tokens[i], sig);
	if (!ok)
		return forbidden(rc, "twilio");
	struct webhook_event_list l = { 0 };
	char err[200] = "";
	int r = webhooks_parse_twilio_form(p.keys, p.vals, p.n, &l, err,
					   sizeof err);
	answer_parsed(w, rc, r, &l, err, "twilio");
	webhook_event_list_clear(&l);
}

void api__webhooks_dispatch(struct api_webhooks *w, struct rctx *rc,
			    const char *url)
{
	/* /webhooks/<provider>[/<secret>] */
	char path[512];
	snprintf(path, sizeof path, "%s", url);
	char *q = strchr(path, '?');
	if (q)
		*q = '\0';
	rc->nseg = 0;
	char *save = NULL;
	for (char *t = strtok_r(path, "/", &save);
	     t && rc->nseg < API_MAX_SEGMENTS; t = strtok_r(NULL, "/", &save))
		rc->seg[rc->nseg++] = t;
	if (rc->nseg < 2 || !streq(rc->seg[0], "webhooks"))
		return api__reply_error(rc, 404, "not_found", "no such "
					"endpoint");
	const char *prov = rc->seg[1];
	bool post = streq(rc->method, "POST"), get = streq(rc->method, "GET");
	if (streq(prov, "zalo") && rc->nseg == 2 && post)
		return h_zalo(w, rc);
	if (streq(prov, "messenger") && rc->nseg == 2 && (post || get))
		return h_messenger(w, rc);
	if (streq(prov, "esms") && get)
		return h_esms(w, rc);
	if (streq(prov, "twilio") && rc->nseg == 2 && post)
		return h_twilio(w, rc, url);
	if (rc->nseg == 2 && (streq(prov, "zalo") ||
			      streq(prov, "messenger") ||
			      streq(prov, "twilio")))
		return api__reply_error(rc, 405, "method_not_allowed",
					"%s is not allowed here", rc->method);
	api__reply_error(rc, 404, "not_found", "no such endpoint");
}
