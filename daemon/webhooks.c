/* webhooks.c: see webhooks.h
 *
 * Sections: the event list and field setters; the four parsers; the
 * signatures (libcrypto: EVP digests, HMAC(), CRYPTO_memcmp, base64); the
 * Messenger handshake; RSVP.
 *
 * Shapes that providers.md does not pin down and that are taken from public
 * integrations instead (UNVERIFIED against the vendors' current docs):
 *  - Zalo OA user_send_text: {"app_id", "sender":{"id":<uid>},
 *    "recipient":{"id":<oa id>}, "event_name":"user_send_text",
 *    "message":{"msg_id", "text"}, "timestamp"} (chatwoot's Zalo OA
 *    integration and its incoming-message service);
 *  - Zalo OA user_seen_message: sender = OA, recipient = the user,
 *    "message":{"msg_ids":[...]} (chatwoot delivery_status_service.rb);
 *  - eSMS reports SendStatus=5 with SendSuccess=0 SendFailed=1 for a failed
 *    ZNS, and error_info is Zalo's error JSON, sometimes percent-encoded
 *    twice and followed by "____<date>" (eSMS callback-url.md samples);
 *  - Twilio incoming messages carry SmsStatus=received, From, To, Body.
 */
#include "loaxa/webhooks.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <strings.h>

#include "loaxa/phone.h"
#include "loaxa/text.h"
#include "loaxa/util.h"

/* Year 9999 in ms: any later "timestamp" is garbage. */
#define WH_MS_MAX INT64_C(253402300799999)
/* Secrets, tokens and URLs longer than this are configuration errors. */
#define WH_SECRET_MAX 4096
#define WH_URL_MAX 8192

static int wh_fail(char *err, size_t errsz, const char *fmt, ...)
	_printf_(3, 4);
static int wh_fail(char *err, size_t errsz, const char *fmt, ...)
{
	if (err && errsz > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static void wh_json_decrefp(json_t **p)
{
	json_decref(*p);
}

const char *webhooks_kind_name(enum webhook_kind k)
{
	static const char *const names[WE_KIND_MAX] = {
		[WE_DELIVERED] = "delivered",
		[WE_READ] = "read",
		[WE_FAILED] = "failed",
		[WE_REPLY] = "reply",
	};
	if ((unsigned)k >= WE_KIND_MAX)
		return "?";
	return names[k];
}

/* ---- Event list and fields ---- */

void webhook_event_list_clear(struct webhook_event_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->events[i].text);
	free(l->events);
	*l = (struct webhook_event_list){ 0 };
}

/* Append a copy of *e; the list takes e->text in every case (it is freed
 * when the event is dropped past the cap, or on -ENOMEM). */
static int wh_list_push(struct webhook_event_list *l, struct webhook_event *e)
{
	if (l->n >= WEBHOOKS_EVENTS_MAX) {
		l->dropped++;
		free(e->text);
		e->text = NULL;
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		if (cap > WEBHOOKS_EVENTS_MAX)
			cap = WEBHOOKS_EVENTS_MAX;
		struct webhook_event *p =
			realloc(l->events, cap * sizeof(*p));
		if (!p) {
			free(e->text);
			e->text = NULL;
			return -ENOMEM;
		}
		l->events = p;
		l->cap = cap;
	}
	l->events[l->n++] = *e;
	e->text = NULL;
	return 0;
}

/* Printable ASCII without spaces: what every id we keep looks like. */
static bool wh_id_chars_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7E)
			return false;
	}
	return true;
}

/* Copy an id into dst[cap]; -EINVAL if it does not fit or has bytes
 * outside 0x21..0x7E. An empty id gives "". */
static int wh_set_id(char *dst, size_t cap, const char *s, size_t len)
{
	if (len >= cap || !wh_id_chars_ok(s, len))
		return -EINVAL;
	if (len)
		memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

/* A phone field: E.164 when it normalises, else kept as an id (foreign
 * numbers, "whatsapp:+..." addresses, ZNS hashed phones, Zalo uids that
 * eSMS reports in its phonenumber field). */
static int wh_set_phone(char *dst, size_t cap, const char *s, size_t len)
{
	char e164[PHONE_E164_MAX];

	if (len > 0 && len < 64 && phone_normalize(s, len, e164) == PHONE_OK)
		return wh_set_id(dst, cap, e164, strlen(e164));
	return wh_set_id(dst, cap, s, len);
}

static bool wh_all_digits(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* A decimal number of at most 15 digits in [0, max]. */
static int wh_parse_uint(const char *s, int64_t max, int64_t *ret)
{
	if (!s || strlen(s) > 15 || !wh_all_digits(s, strlen(s)))
		return -EINVAL;
	return util_parse_int64(s, 0, max, ret) < 0 ? -EINVAL : 0;
}

/* Lead byte -> sequence length (0 for a byte that cannot start one). */
static size_t wh_utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return 2;
	if (c >= 0xE0 && c <= 0xEF)
		return 3;
	if (c >= 0xF0 && c <= 0xF4)
		return 4;
	return 0;
}

/* Length of the well-formed code point at s[0..len), or 0. */
static size_t wh_utf8_seq(const char *s, size_t len)
{
	size_t n = wh_utf8_len((unsigned char)s[0]);
	if (n == 0 || n > len || !text_utf8_valid(s, n))
		return 0;
	return n;
}

/* A reply text as the header promises: trimmed, valid UTF-8 (U+FFFD for
 * each invalid byte), no control characters but \t and \n, at most
 * WEBHOOKS_TEXT_MAX code points. *ret is NULL when nothing is left. */
static int wh_text_dup(const char *s, size_t len, char **ret)
{
	static const char replacement[] = "\xEF\xBF\xBD";
	const char *start;
	struct buf b;
	size_t cps = 0;

	*ret = NULL;
	len = text_trim(s, len, &start);
	buf_init(&b, (size_t)WEBHOOKS_TEXT_MAX * 4);
	for (size_t i = 0; i < len && cps < WEBHOOKS_TEXT_MAX;) {
		const unsigned char *p = (const unsigned char *)start + i;
		size_t n = wh_utf8_seq(start + i, len - i);
		int r;

		if (n == 0) {
			r = buf_append(&b, replacement, 3);
			i++;
		} else if ((n == 1 && ((p[0] < 0x20 && p[0] != '\t' &&
					 p[0] != '\n') || p[0] == 0x7F)) ||
			   (n == 2 && p[0] == 0xC2 && p[1] <= 0x9F)) {
			i += n; /* C0 / C1 control */
			continue;
		} else {
			r = buf_append(&b, p, n);
			i += n;
		}
		if (r < 0) {
			buf_free(&b);
			return -ENOMEM; /* the cap fits 2000 x 4 bytes */
		}
		cps++;
	}
	if (b.len == 0) {
		buf_free(&b);
		return 0;
	}
	/* trim again: a cut or a dropped control may leave spaces behind */
	size_t n = text_trim(b.data, b.len, &start);
	if (n == 0) {
		buf_free(&b);
		return 0;
	}
	char *t = util_strndup(start, n);
	buf_free(&b);
	if (!t)
		return -ENOMEM;
	*ret = t;
	return 0;
}

/* ---- JSON helpers ---- */

static int wh_json_load(const char *body, size_t len, json_t **ret,
			char *err, size_t errsz)
{
	json_error_t jerr;

	if (!body || len == 0)
		return wh_fail(err, errsz, "empty body");
	if (len > WEBHOOKS_BODY_MAX)
		return wh_fail(err, errsz, "body too large (%zu bytes)", len);
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		/* jerr.text may quote the input: keep only the position */
		return wh_fail(err, errsz, "invalid JSON at line %d column %d",
			       jerr.line, jerr.column);
	if (!json_is_object(root)) {
		json_decref(root);
		return wh_fail(err, errsz, "JSON body is not an object");
	}
	*ret = root;
	return 0;
}

/* An id held as a JSON string or integer. -ENOENT when absent (or null),
 * -EINVAL when of another type, too long or with bad bytes. */
static int wh_json_id(const json_t *v, char *dst, size_t cap)
{
	char tmp[32];

	if (!v || json_is_null(v))
		return -ENOENT;
	if (json_is_string(v))
		return wh_set_id(dst, cap, json_string_value(v),
				 json_string_length(v));
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		int n = snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT,
				 json_integer_value(v));
		return wh_set_id(dst, cap, tmp, (size_t)n);
	}
	return -EINVAL;
}

static int wh_json_phone(const json_t *v, char *dst, size_t cap)
{
	if (json_is_string(v))
		return wh_set_phone(dst, cap, json_string_value(v),
				    json_string_length(v));
	return wh_json_id(v, dst, cap);
}

/* Epoch milliseconds as a JSON integer, an integral real, or a string of
 * digits. -ENOENT when absent (or null), -EINVAL otherwise. */
static int wh_json_ms(const json_t *v, int64_t *ret)
{
	if (!v || json_is_null(v))
		return -ENOENT;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0 || i > WH_MS_MAX)
			return -EINVAL;
		*ret = (int64_t)i;
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (!(d >= 0 && d <= (double)WH_MS_MAX) ||
		    d != (double)(int64_t)d)
			return -EINVAL;
		*ret = (int64_t)d;
		return 0;
	}
	if (json_is_string(v))
		return wh_parse_uint(json_string_value(v), WH_MS_MAX, ret);
	return -EINVAL;
}

/* obj.key.id, e.g. sender.id; NULL when any step is missing. */
static const json_t *wh_json_sub_id(const json_t *obj, const char *key)
{
	return json_object_get(json_object_get(obj, key), "id");
}

/* ---- Zalo (ZNS receipts and OA events) ---- */

static int wh_zalo_received(const json_t *root, const json_t *msg,
			    int64_t ts, struct webhook_event_list *l,
			    char *err, size_t errsz)
{
	struct webhook_event e = { .kind = WE_DELIVERED };
	const json_t *tid = json_object_get(msg, "tracking_id");
	const json_t *dtime = json_object_get(msg, "delivery_time");
	bool zns = tid || dtime;
	int r;

	e.provider = zns ? CHD_ZNS : CHD_ZALO_OA;
	r = wh_json_id(json_object_get(msg, "msg_id"), e.msg_id,
		       sizeof e.msg_id);
	if (r < 0 || !e.msg_id[0])
		return wh_fail(err, errsz, "message.msg_id %s",
			       r == -EINVAL ? "invalid" : "missing");
	r = wh_json_id(tid, e.tracking_id, sizeof e.tracking_id);
	if (r == -EINVAL)
		return wh_fail(err, errsz, "message.tracking_id invalid");
	const json_t *rcpt = wh_json_sub_id(root, "recipient");
	r = zns ? wh_json_phone(rcpt, e.sender, sizeof e.sender)
		: wh_json_id(rcpt, e.sender, sizeof e.sender);
	if (r == -EINVAL)
		return wh_fail(err, errsz, "recipient.id invalid");
	e.at_ms = ts;
	r = wh_json_ms(dtime, &e.at_ms);
	if (r == -EINVAL)
		return wh_fail(err, errsz, "message.delivery_time invalid");
	return wh_list_push(l, &e);
}

static int wh_zalo_seen(const json_t *root, const json_t *msg, int64_t ts,
			struct webhook_event_list *l, char *err, size_t errsz)
{
	struct webhook_event e = { .kind = WE_READ,
				   .provider = CHD_ZALO_OA,
				   .at_ms = ts };
	const json_t *ids = json_object_get(msg, "msg_ids");
	int r;

	r = wh_json_id(wh_json_sub_id(root, "recipient"), e.sender,
		       sizeof e.sender);
	if (r == -EINVAL)
		return wh_fail(err, errsz, "recipient.id invalid");
	if (!ids) {
		r = wh_json_id(json_object_get(msg, "msg_id"), e.msg_id,
			       sizeof e.msg_id);
		if (r < 0 || !e.msg_id[0])
			return wh_fail(err, errsz, "message.msg_ids missing");
		return wh_list_push(l, &e);
	}
	if (!json_is_array(ids))
		return wh_fail(err, errsz, "message.msg_ids is not an array");
	/* check them all first: a malformed body adds nothing */
	for (size_t i = 0; i < json_array_size(ids); i++)
		if (wh_json_id(json_array_get(ids, i), e.msg_id,
			       sizeof e.msg_id) < 0 || !e.msg_id[0])
			return wh_fail(err, errsz,
				       "message.msg_ids[%zu] invalid", i);
	for (size_t i = 0; i < json_array_size(ids); i++) {
		wh_json_id(json_array_get(ids, i), e.msg_id, sizeof e.msg_id);
		r = wh_list_push(l, &e);
		if (r < 0)
			return r;
	}
	return 0;
}

static int wh_zalo_text(const json_t *root, const json_t *msg, int64_t ts,
			struct webhook_event_list *l, char *err, size_t errsz)
{
	struct webhook_event e = { .kind = WE_REPLY,
				   .provider = CHD_ZALO_OA,
				   .at_ms = ts };
	const json_t *text = json_object_get(msg, "text");
	int r;

	r = wh_json_id(wh_json_sub_id(root, "sender"), e.sender,
		       sizeof e.sender);
	if (r < 0 || !e.sender[0])
		return wh_fail(err, errsz, "sender.id %s",
			       r == -EINVAL ? "invalid" : "missing");
	if (wh_json_id(json_object_get(msg, "msg_id"), e.msg_id,
		       sizeof e.msg_id) == -EINVAL)
		return wh_fail(err, errsz, "message.msg_id invalid");
	if (!json_is_string(text))
		return wh_fail(err, errsz, "message.text missing");
	r = wh_text_dup(json_string_value(text), json_string_length(text),
			&e.text);
	if (r < 0)
		return r;
	if (!e.text)
		return 0; /* blank: nothing to read */
	return wh_list_push(l, &e);
}

int webhooks_parse_zalo(const char *body, size_t len,
			struct webhook_event_list *ret, char *err,
			size_t errsz)
{
	_cleanup_(wh_json_decrefp) json_t *root = NULL;
	_cleanup_(webhook_event_list_clear) struct webhook_event_list l = { 0 };
	int64_t ts = 0;
	int r;

	if (!ret)
		return -EINVAL;
	r = wh_json_load(body, len, &root, err, errsz);
	if (r < 0)
		return r;
	const char *name = json_string_value(json_object_get(root,
							     "event_name"));
	if (!name)
		return wh_fail(err, errsz, "event_name missing");
	bool received = streq(name, "user_received_message");
	bool seen = streq(name, "user_seen_message");
	bool text = streq(name, "user_send_text");
	if (!received && !seen && !text)
		return -ENOMSG;

	const json_t *msg = json_object_get(root, "message");
	if (!json_is_object(msg))
		return wh_fail(err, errsz, "message missing");
	if (wh_json_ms(json_object_get(root, "timestamp"), &ts) == -EINVAL)
		return wh_fail(err, errsz, "timestamp invalid");

	if (received)
		r = wh_zalo_received(root, msg, ts, &l, err, errsz);
	else if (seen)
		r = wh_zalo_seen(root, msg, ts, &l, err, errsz);
	else
		r = wh_zalo_text(root, msg, ts, &l, err, errsz);
	if (r < 0)
		return r;
	if (l.n == 0 && l.dropped == 0)
		return -ENOMSG;
	*ret = l;
	l = (struct webhook_event_list){ 0 };
	return 0;
}

/* ---- Messenger ---- */

/* One messaging item. 0 (events added, or nothing we track), -EINVAL with
 * the reason in err (the item is skipped), -ENOMEM. */
static int wh_messenger_item(const json_t *item, struct webhook_event_list *l,
			     char *err, size_t errsz)
{
	struct webhook_event e = { .provider = CHD_MESSENGER };
	const json_t *delivery = json_object_get(item, "delivery");
	const json_t *rd = json_object_get(item, "read");
	const json_t *message = json_object_get(item, "message");
	int64_t ts = 0;
	bool has_ts;
	int r;

	if (!json_is_object(item))
		return wh_fail(err, errsz, "messaging item is not an object");
	r = wh_json_id(wh_json_sub_id(item, "sender"), e.sender,
		       sizeof e.sender);
	if (r < 0 || !e.sender[0])
		return wh_fail(err, errsz, "messaging sender.id %s",
			       r == -EINVAL ? "invalid" : "missing");
	r = wh_json_ms(json_object_get(item, "timestamp"), &ts);
	if (r == -EINVAL)
		return wh_fail(err, errsz, "messaging timestamp invalid");
	has_ts = r == 0;

	if (json_is_object(delivery) || json_is_object(rd)) {
		const json_t *obj = delivery ? delivery : rd;
		const json_t *mids = json_object_get(obj, "mids");
		const char *what = delivery ? "delivery" : "read";

		e.kind = delivery ? WE_DELIVERED : WE_READ;
		if (wh_json_ms(json_object_get(obj, "watermark"),
			       &e.watermark_ms) < 0)
			return wh_fail(err, errsz, "%s.watermark %s", what,
				       "missing or invalid");
		e.at_ms = has_ts ? ts : e.watermark_ms;
		if (mids && !json_is_null(mids) && !json_is_array(mids))
			return wh_fail(err, errsz, "%s.mids is not an array",
				       what);
		size_t n = delivery ? json_array_size(mids) : 0;
		for (size_t i = 0; i < n; i++)
			if (wh_json_id(json_array_get(mids, i), e.msg_id,
				       sizeof e.msg_id) < 0 || !e.msg_id[0])
				return wh_fail(err, errsz,
					       "delivery.mids[%zu] invalid", i);
		if (n == 0) {
			e.msg_id[0] = '\0';
			return wh_list_push(l, &e);
		}
		for (size_t i = 0; i < n; i++) {
			wh_json_id(json_array_get(mids, i), e.msg_id,
				   sizeof e.msg_id);
			r = wh_list_push(l, &e);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (delivery || rd)
		return wh_fail(err, errsz, "%s is not an object",
			       delivery ? "delivery" : "read");

	if (json_is_object(message)) {
		const json_t *text = json_object_get(message, "text");
		if (json_is_true(json_object_get(message, "is_echo")))
			return 0; /* our own page's message */
		if (!text || json_is_null(text))
			return 0; /* attachment, sticker...: no text */
		if (!json_is_string(text))
			return wh_fail(err, errsz, "message.text invalid");
		r = wh_json_id(json_object_get(message, "mid"), e.msg_id,
			       sizeof e.msg_id);
		if (r < 0 || !e.msg_id[0])
			return wh_fail(err, errsz, "message.mid %s",
				       r == -EINVAL ? "invalid" : "missing");
		e.kind = WE_REPLY;
		e.at_ms = ts;
		r = wh_text_dup(json_string_value(text),
				json_string_length(text), &e.text);
		if (r < 0 || !e.text)
			return r;
		return wh_list_push(l, &e);
	}
	return 0; /* postback, reaction, optin, referral...: not tracked */
}

int webhooks_parse_messenger(const char *body, size_t len,
			     struct webhook_event_list *ret, char *err,
			     size_t errsz)
{
	_cleanup_(wh_json_decrefp) json_t *root = NULL;
	_cleanup_(webhook_event_list_clear) struct webhook_event_list l = { 0 };
	char reason[200] = "";
	int r;

	if (!ret)
		return -EINVAL;
	r = wh_json_load(body, len, &root, err, errsz);
	if (r < 0)
		return r;
	const char *object = json_string_value(json_object_get(root,
							       "object"));
	if (!object)
		return wh_fail(err, errsz, "object missing");
	if (!streq(object, "page"))
		return -ENOMSG;
	const json_t *entries = json_object_get(root, "entry");
	if (!json_is_array(entries))
		return wh_fail(err, errsz, "entry is not an array");

	for (size_t i = 0; i < json_array_size(entries); i++) {
		const json_t *entry = json_array_get(entries, i);
		const json_t *items = json_object_get(entry, "messaging");
		char why[128];

		if (!json_is_object(entry) ||
		    (items && !json_is_array(items))) {
			if (l.skipped++ == 0)
				snprintf(reason, sizeof reason,
					 "entry[%zu] malformed", i);
			continue;
		}
		/* "changes" (feed), "standby" (handover): not ours */
		for (size_t j = 0; j < json_array_size(items); j++) {
			r = wh_messenger_item(json_array_get(items, j), &l,
					      why, sizeof why);
			if (r == -ENOMEM)
				return r;
			if (r < 0 && l.skipped++ == 0)
				snprintf(reason, sizeof reason,
					 "entry[%zu].messaging[%zu]: %s", i,
					 j, why);
		}
	}
	if (reason[0])
		wh_fail(err, errsz, "%s", reason);
	if (l.n == 0 && l.dropped == 0)
		return l.skipped > 0 ? -EINVAL : -ENOMSG;
	*ret = l;
	l = (struct webhook_event_list){ 0 };
	return 0;
}

/* ---- Query / form parameters ---- */

/* Find name among keys. 0 and *ret, -ENOENT, or -EINVAL when it is given
 * twice (which value would the provider have meant?). */
static int wh_param(const char *const *keys, const char *const *vals,
		    size_t n, const char *name, const char **ret)
{
	const char *found = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!streq(keys[i], name))
			continue;
		if (found)
			return -EINVAL;
		found = vals[i] ? vals[i] : "";
	}
	if (!found)
		return -ENOENT;
	*ret = found;
	return 0;
}

static int wh_params_check(const char *const *keys, const char *const *vals,
			   size_t n, char *err, size_t errsz)
{
	if (n > 0 && (!keys || !vals))
		return wh_fail(err, errsz, "no parameters");
	if (n > WEBHOOKS_PARAMS_MAX)
		return wh_fail(err, errsz, "too many parameters (%zu)", n);
	for (size_t i = 0; i < n; i++)
		if (!keys[i])
			return wh_fail(err, errsz, "parameter without name");
	return 0;
}

/* Optional parameter: NULL when absent; -EINVAL when repeated. */
static int wh_param_opt(const char *const *keys, const char *const *vals,
			size_t n, const char *name, const char **ret,
			char *err, size_t errsz)
{
	*ret = NULL;
	int r = wh_param(keys, vals, n, name, ret);
	if (r == -EINVAL)
		return wh_fail(err, errsz, "%s given twice", name);
	return 0;
}

/* Decode %XX escapes in place ("+" is left alone). True if any. */
static bool wh_percent_decode(char *s)
{
	static const char hex[] = "0123456789abcdef";
	bool any = false;
	char *w = s;

	for (const char *p = s; *p; p++) {
		const char *hi, *lo;
		if (p[0] == '%' && p[1] && p[2] &&
		    (hi = strchr(hex, p[1] | 0x20)) &&
		    (lo = strchr(hex, p[2] | 0x20))) {
			*w++ = (char)((hi - hex) << 4 | (lo - hex));
			p += 2;
			any = true;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
	return any;
}

/* The Zalo "error" number in eSMS's error_info (Zalo's error JSON, maybe
 * escaped, maybe percent-encoded twice): true and out = "-114" when a
 * non-zero one is found. */
static bool wh_esms_zalo_error(const char *info, char *out, size_t outsz)
{
	char buf[1024];

	snprintf(buf, sizeof buf, "%s", info);
	for (int i = 0; i < 3 && strchr(buf, '%'); i++)
		if (!wh_percent_decode(buf))
			break;
	for (const char *p = buf; (p = strstr(p, "error")); p += 5) {
		const char *q = p + 5;
		while (*q == '"' || *q == '\\' || *q == '\'' || *q == ' ')
			q++;
		if (*q++ != ':')
			continue;
		while (*q == ' ' || *q == '"' || *q == '\\')
			q++;
		size_t n = (*q == '-') ? 1 : 0;
		size_t d = 0;
		while (q[n + d] >= '0' && q[n + d] <= '9' && d < 10)
			d++;
		if (d == 0 || d >= 10 || (q[n + d] >= '0' && q[n + d] <= '9'))
			continue;
		if (d == 1 && q[n] == '0')
			return false; /* "error":0 is success */
		snprintf(out, outsz, "%.*s", (int)(n + d), q);
		return true;
	}
	return false;
}

int webhooks_parse_esms_query(const char *const *keys,
			      const char *const *vals, size_t n,
			      struct webhook_event_list *ret, char *err,
			      size_t errsz)
{
	struct webhook_event_list l = { 0 };
	struct webhook_event e = { .provider = CHD_ESMS };
	const char *smsid, *status, *reqid, *phone, *failed, *success, *info;
	int64_t st, nfail = 0, nok = 0;
	int r;

	if (!ret)
		return -EINVAL;
	r = wh_params_check(keys, vals, n, err, errsz);
	if (r < 0)
		return r;
	if ((r = wh_param_opt(keys, vals, n, "SMSID", &smsid, err, errsz)) ||
	    (r = wh_param_opt(keys, vals, n, "SendStatus", &status, err,
			      errsz)) ||
	    (r = wh_param_opt(keys, vals, n, "RequestId", &reqid, err,
			      errsz)) ||
	    (r = wh_param_opt(keys, vals, n, "phonenumber", &phone, err,
			      errsz)) ||
	    (r = wh_param_opt(keys, vals, n, "SendFailed", &failed, err,
			      errsz)) ||
	    (r = wh_param_opt(keys, vals, n, "SendSuccess", &success, err,
			      errsz)) ||
	    (r = wh_param_opt(keys, vals, n, "error_info", &info, err,
			      errsz)))
		return r;

	if (!smsid || !smsid[0])
		return wh_fail(err, errsz, "SMSID missing");
	if (wh_set_id(e.msg_id, sizeof e.msg_id, smsid, strlen(smsid)) < 0)
		return wh_fail(err, errsz, "SMSID invalid");
	if (!status)
		return wh_fail(err, errsz, "SendStatus missing");
	if (wh_parse_uint(status, 999, &st) < 0)
		return wh_fail(err, errsz, "SendStatus invalid");
	if (reqid && wh_set_id(e.tracking_id, sizeof e.tracking_id, reqid,
			       strlen(reqid)) < 0)
		return wh_fail(err, errsz, "RequestId invalid");
	if (phone && wh_set_phone(e.sender, sizeof e.sender, phone,
				  strlen(phone)) < 0)
		return wh_fail(err, errsz, "phonenumber invalid");
	if ((failed && failed[0] &&
	     wh_parse_uint(failed, INT32_MAX, &nfail) < 0) ||
	    (success && success[0] &&
	     wh_parse_uint(success, INT32_MAX, &nok) < 0))
		return wh_fail(err, errsz, "SendFailed/SendSuccess invalid");

	if (st == 4) {
		e.kind = WE_FAILED;
		snprintf(e.code, sizeof e.code, "SendStatus=4");
	} else if (st == 5 && nfail > 0 && nok == 0) {
		e.kind = WE_FAILED;
		if (!info || !wh_esms_zalo_error(info, e.code, sizeof e.code))
			snprintf(e.code, sizeof e.code, "SendFailed");
	} else if (st == 5) {
		e.kind = WE_DELIVERED;
	} else {
		return -ENOMSG; /* 1, 2, 7: pending; others unknown */
	}
	r = wh_list_push(&l, &e);
	if (r < 0)
		return r;
	*ret = l;
	return 0;
}

int webhooks_parse_twilio_form(const char *const *keys,
			       const char *const *vals, size_t n,
			       struct webhook_event_list *ret, char *err,
			       size_t errsz)
{
	static const char *const pending[] = {
		"queued", "sending", "sent", "accepted", "scheduled",
		"receiving", "partially_delivered",
	};
	struct webhook_event_list l = { 0 };
	struct webhook_event e = { .provider = CHD_TWILIO };
	const char *sid, *smssid, *status, *smsstatus, *to, *from, *body,
		*code;
	int r;

	if (!ret)
		return -EINVAL;
	r = wh_params_check(keys, vals, n, err, errsz);
	if (r < 0)
		return r;
	if ((r = wh_param_opt(keys, vals, n, "MessageSid", &sid, err,
			      errsz)) ||
	    (r = wh_param_opt(keys, vals, n, "SmsSid", &smssid, err,
			      errsz)) ||
	    (r = wh_param_opt(keys, vals, n, "MessageStatus", &status, err,
			      errsz)) ||
	    (r = wh_param_opt(keys, vals, n, "SmsStatus", &smsstatus, err,
			      errsz)) ||
	    (r = wh_param_opt(keys, vals, n, "To", &to, err, errsz)) ||
	    (r = wh_param_opt(keys, vals, n, "From", &from, err, errsz)) ||
	    (r = wh_param_opt(keys, vals, n, "Body", &body, err, errsz)) ||
	    (r = wh_param_opt(keys, vals, n, "ErrorCode", &code, err,
			      errsz)))
		return r;

	if (!sid || !sid[0])
		sid = smssid;
	if (!sid || !sid[0])
		return wh_fail(err, errsz, "MessageSid missing");
	if (wh_set_id(e.msg_id, sizeof e.msg_id, sid, strlen(sid)) < 0)
		return wh_fail(err, errsz, "MessageSid invalid");
	if (!status || !status[0])
		status = smsstatus;

	if ((!status || streq(status, "received")) && body) {
		e.kind = WE_REPLY;
		if (!from || !from[0])
			return wh_fail(err, errsz, "From missing");
		if (wh_set_phone(e.sender, sizeof e.sender, from,
				 strlen(from)) < 0)
			return wh_fail(err, errsz, "From invalid");
		r = wh_text_dup(body, strlen(body), &e.text);
		if (r < 0)
			return r;
		if (!e.text)
			return -ENOMSG; /* media only */
	} else if (!status || !status[0]) {
		return wh_fail(err, errsz, "MessageStatus missing");
	} else if (streq(status, "delivered") || streq(status, "read")) {
		e.kind = streq(status, "read") ? WE_READ : WE_DELIVERED;
	} else if (streq(status, "failed") || streq(status, "undelivered") ||
		   streq(status, "canceled")) {
		e.kind = WE_FAILED;
		const char *c = code && code[0] ? code : status;
		if (wh_set_id(e.code, sizeof e.code, c, strlen(c)) < 0)
			return wh_fail(err, errsz, "ErrorCode invalid");
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(pending); i++)
			if (streq(status, pending[i]))
				return -ENOMSG;
		if (status[0] && strlen(status) < 32 &&
		    wh_id_chars_ok(status, strlen(status)))
			return -ENOMSG; /* a status Twilio added later */
		return wh_fail(err, errsz, "MessageStatus invalid");
	}
	if (e.kind != WE_REPLY && to &&
	    wh_set_phone(e.sender, sizeof e.sender, to, strlen(to)) < 0) {
		free(e.text);
		return wh_fail(err, errsz, "To invalid");
	}
	r = wh_list_push(&l, &e);
	if (r < 0)
		return r;
	*ret = l;
	return 0;
}

/* ---- Signatures ---- */

static int wh_hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Exactly 2*n hex digits of s[0..len) into out[n]. */
static bool wh_hex_decode(const char *s, size_t len, unsigned char *out,
			  size_t n)
{
	if (len != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = wh_hex_val(s[2 * i]), lo = wh_hex_val(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

static bool wh_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* header = [spaces] [prefix [spaces] '=' [spaces]] hex [spaces]; the
 * prefix is matched case-insensitively and is optional unless required. */
static bool wh_header_digest(const char *header, const char *prefix,
			     bool required, unsigned char *out, size_t n)
{
	const char *p = header;
	size_t plen = strlen(prefix);

	if (!p)
		return false;
	while (wh_is_space(*p))
		p++;
	if (strncasecmp(p, prefix, plen) == 0) {
		p += plen;
		while (wh_is_space(*p))
			p++;
		if (*p++ != '=')
			return false;
		while (wh_is_space(*p))
			p++;
	} else if (required) {
		return false;
	}
	size_t len = strlen(p);
	while (len > 0 && wh_is_space(p[len - 1]))
		len--;
	return wh_hex_decode(p, len, out, n);
}

static bool wh_secret_ok(const char *s)
{
	return s && s[0] && strlen(s) <= WH_SECRET_MAX;
}

/* The raw text of a JSON string or integer member, as Zalo concatenates
 * it. */
static bool wh_json_raw(const json_t *v, char *out, size_t outsz)
{
	if (json_is_string(v)) {
		if (json_string_length(v) >= outsz)
			return false;
		memcpy(out, json_string_value(v), json_string_length(v) + 1);
		return true;
	}
	if (json_is_integer(v)) {
		int n = snprintf(out, outsz, "%" JSON_INTEGER_FORMAT,
				 json_integer_value(v));
		return n > 0 && (size_t)n < outsz;
	}
	return false;
}

bool webhooks_verify_zalo(const char *body, size_t len,
			  const char *oa_secret, const char *header)
{
	_cleanup_(wh_json_decrefp) json_t *root = NULL;
	unsigned char want[32], got[EVP_MAX_MD_SIZE];
	unsigned int got_len = 0;
	char app_id[128], ts[64];
	bool ok;

	if (!wh_secret_ok(oa_secret) ||
	    !wh_header_digest(header, "mac", false, want, sizeof want))
		return false;
	if (wh_json_load(body, len, &root, NULL, 0) < 0)
		return false;
	if (!wh_json_raw(json_object_get(root, "app_id"), app_id,
			 sizeof app_id) ||
	    !wh_json_raw(json_object_get(root, "timestamp"), ts, sizeof ts))
		return false;

	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return false;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, app_id, strlen(app_id)) == 1 &&
	     EVP_DigestUpdate(ctx, body, len) == 1 &&
	     EVP_DigestUpdate(ctx, ts, strlen(ts)) == 1 &&
	     EVP_DigestUpdate(ctx, oa_secret, strlen(oa_secret)) == 1 &&
	     EVP_DigestFinal_ex(ctx, got, &got_len) == 1 &&
	     got_len == sizeof want;
	EVP_MD_CTX_free(ctx);
	return ok && CRYPTO_memcmp(want, got, sizeof want) == 0;
}

bool webhooks_verify_messenger(const char *body, size_t len,
			       const char *app_secret, const char *header)
{
	unsigned char want[32], got[EVP_MAX_MD_SIZE];
	unsigned int got_len = 0;

	if (!wh_secret_ok(app_secret) || !body || len > WEBHOOKS_BODY_MAX ||
	    !wh_header_digest(header, "sha256", true, want, sizeof want))
		return false;
	if (!HMAC(EVP_sha256(), app_secret, (int)strlen(app_secret),
		  (const unsigned char *)body, len, got, &got_len) ||
	    got_len != sizeof want)
		return false;
	return CRYPTO_memcmp(want, got, sizeof want) == 0;
}

struct wh_pair {
	const char *k, *v;
};

static int wh_pair_cmp(const void *a, const void *b)
{
	const struct wh_pair *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

/* The URL as Twilio's libraries also try it (twilio-python validate()):
 * without its port when it has one, with the scheme's default port when it
 * has none. false for a URL that is neither http nor https. */
static bool wh_url_port_variant(const char *url, struct buf *out)
{
	const char *port, *host, *end, *colon = NULL;

	if (strncasecmp(url, "https://", 8) == 0) {
		port = "443";
		host = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		port = "80";
		host = url + 7;
	} else {
		return false;
	}
	end = host + strcspn(host, "/?#");
	for (const char *p = host; p < end; p++) {
		if (*p == ':')
			colon = p;
		else if (*p == ']' || *p == '@')
			colon = NULL; /* IPv6 literal or userinfo */
	}
	if (colon)
		return buf_append(out, url, (size_t)(colon - url)) == 0 &&
		       buf_append(out, end, strlen(end)) == 0;
	return buf_append(out, url, (size_t)(end - url)) == 0 &&
	       buf_printf(out, ":%s", port) == 0 &&
	       buf_append(out, end, strlen(end)) == 0;
}

static bool wh_twilio_check(const char *url, size_t url_len,
			    const struct wh_pair *pairs, size_t n,
			    const char *token, const char *header)
{
	struct buf data;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	bool ok = false;

	buf_init(&data, WEBHOOKS_BODY_MAX + WH_URL_MAX);
	if (buf_append(&data, url, url_len) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (buf_append(&data, pairs[i].k, strlen(pairs[i].k)) < 0 ||
		    buf_append(&data, pairs[i].v, strlen(pairs[i].v)) < 0)
			goto out;
	if (!HMAC(EVP_sha1(), token, (int)strlen(token),
		  (const unsigned char *)data.data, data.len, mac, &mac_len) ||
	    mac_len != 20)
		goto out;
	int b64_len = EVP_EncodeBlock(b64, mac, (int)mac_len);

	const char *h = header;
	while (wh_is_space(*h))
		h++;
	size_t hlen = strlen(h);
	while (hlen > 0 && wh_is_space(h[hlen - 1]))
		hlen--;
	ok = b64_len == 28 && hlen == 28 && CRYPTO_memcmp(h, b64, 28) == 0;
out:
	buf_free(&data);
	return ok;
}

bool webhooks_verify_twilio(const char *url, const char *const *keys,
			    const char *const *vals, size_t n,
			    const char *auth_token, const char *header)
{
	_cleanup_free_ struct wh_pair *pairs = NULL;
	struct buf alt;
	bool ok;

	if (!wh_secret_ok(auth_token) || !header || !header[0] || !url ||
	    !url[0] || strlen(url) > WH_URL_MAX || n > WEBHOOKS_PARAMS_MAX ||
	    (n > 0 && (!keys || !vals)))
		return false;
	if (n > 0) {
		pairs = calloc(n, sizeof(*pairs));
		if (!pairs)
			return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!keys[i])
			return false;
		pairs[i] = (struct wh_pair){ keys[i], vals[i] ? vals[i] : "" };
	}
	if (n > 1)
		qsort(pairs, n, sizeof(*pairs), wh_pair_cmp);

	if (wh_twilio_check(url, strlen(url), pairs, n, auth_token, header))
		return true;
	buf_init(&alt, WH_URL_MAX + 8);
	ok = wh_url_port_variant(url, &alt) &&
	     wh_twilio_check(alt.data, alt.len, pairs, n, auth_token, header);
	buf_free(&alt);
	return ok;
}

bool webhooks_verify_secret(const char *presented, const char *expected)
{
	unsigned char a[32], b[32];

	if (!presented || !wh_secret_ok(expected) ||
	    strlen(presented) > WH_SECRET_MAX)
		return false;
	/* Digests have one length: the comparison cannot stop early at the
	 * first difference nor at the end of the shorter string. */
	if (!EVP_Digest(presented, strlen(presented), a, NULL, EVP_sha256(),
			NULL) ||
	    !EVP_Digest(expected, strlen(expected), b, NULL, EVP_sha256(),
			NULL))
		return false;
	return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

int webhooks_messenger_handshake(const char *mode, const char *token,
				 const char *challenge,
				 const char *expected_token,
				 const char **ret_challenge)
{
	if (!streq(mode, "subscribe") ||
	    !webhooks_verify_secret(token, expected_token) || !challenge)
		return -EACCES;
	size_t n = strlen(challenge);
	if (n == 0 || n > 128)
		return -EACCES;
	for (size_t i = 0; i < n; i++) {
		char c = challenge[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == '~'))
			return -EACCES;
	}
	if (ret_challenge)
		*ret_challenge = challenge;
	return 0;
}

/* ---- RSVP ---- */

#define RSVP_WORD_BYTES 60     /* a word or entry longer than this never
				  matches */
#define RSVP_ENTRY_WORDS 4
#define RSVP_REPLY_WORDS 24    /* beyond that only the leading rule runs */

struct rsvp_word {
	char fold[RSVP_WORD_BYTES + 4];  /* text_fold_key */
	char lower[RSVP_WORD_BYTES + 4]; /* lowercase, marks kept */
	bool marked;                     /* not plain ASCII */
	bool numeric;                    /* digits only */
	bool symbols;                    /* emoji and pictographs only */
};

struct rsvp_entry {
	struct rsvp_word w[RSVP_ENTRY_WORDS];
	size_t n;
};

const char *rsvp_name(enum rsvp r)
{
	switch (r) {
	case RSVP_YES:
		return "yes";
	case RSVP_NO:
		return "no";
	case RSVP_NONE:
		break;
	}
	return "none";
}

/* Decode the well-formed code point at s[0..len): its length, or 0. */
static size_t rsvp_decode(const char *s, size_t len, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = wh_utf8_seq(s, len);

	if (n == 1)
		*cp = p[0];
	else if (n == 2)
		*cp = (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
	else if (n == 3)
		*cp = (uint32_t)(p[0] & 0x0F) << 12 |
		      (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
	else if (n == 4)
		*cp = (uint32_t)(p[0] & 0x07) << 18 |
		      (uint32_t)(p[1] & 0x3F) << 12 |
		      (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
	return n;
}

static size_t rsvp_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Lowercase for the letters Vietnamese uses (and their Latin neighbours):
 * ASCII, Latin-1, Latin Extended-A, Ơ Ư, and U+1EA0..U+1EF9. */
static uint32_t rsvp_lower_cp(uint32_t cp)
{
	if ((cp >= 'A' && cp <= 'Z') ||
	    (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7))
		return cp + 0x20;
	if (((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177) ||
	     (cp >= 0x1EA0 && cp <= 0x1EF9)) &&
	    cp % 2 == 0)
		return cp + 1;
	if (((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) &&
	    cp % 2 == 1)
		return cp + 1;
	if (cp == 0x1A0 || cp == 0x1AF)
		return cp + 1;
	return cp;
}

/* Separators end words: ASCII other than letters and digits, and what
 * text_fold_key drops except combining marks (which belong to their
 * letter). Invalid bytes separate too. */
static bool rsvp_is_separator(const char *s, size_t n, uint32_t cp)
{
	char tmp[8];

	if (cp < 0x80)
		return !((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
			 (cp >= '0' && cp <= '9'));
	if (cp >= 0x300 && cp <= 0x36F)
		return false;
	return text_fold_key(s, n, tmp, sizeof tmp) == 0;
}

/* Arrows, dingbats, emoji, their variation selectors and skin tones: a
 * "🙏" after "Có ạ" is courtesy, not a word of the answer. */
static bool rsvp_is_symbol(uint32_t cp)
{
	return (cp >= 0x2190 && cp <= 0x2BFF) ||
	       (cp >= 0xFE00 && cp <= 0xFE0F) ||
	       (cp >= 0x1F000 && cp <= 0x1FAFF);
}

/* Next word of s[*pos..len) into w. False at the end. A word too long to
 * hold gets an empty fold and never matches. */
static bool rsvp_next_word(const char *s, size_t len, size_t *pos,
			   struct rsvp_word *w)
{
	size_t i = *pos, start, lower_len = 0;
	uint32_t cp = 0;
	bool too_long = false;

	/* skip separators */
	while (i < len) {
		size_t n = rsvp_decode(s + i, len - i, &cp);
		if (n > 0 && !rsvp_is_separator(s + i, n, cp))
			break;
		i += n ? n : 1;
	}
	if (i >= len) {
		*pos = len;
		return false;
	}
	*w = (struct rsvp_word){ .numeric = true, .symbols = true };
	start = i;
	while (i < len) {
		char enc[4];
		size_t n = rsvp_decode(s + i, len - i, &cp);
		if (n == 0 || rsvp_is_separator(s + i, n, cp))
			break;
		if (cp >= 0x80)
			w->marked = true;
		if (cp < '0' || cp > '9')
			w->numeric = false;
		if (!rsvp_is_symbol(cp))
			w->symbols = false;
		size_t m = rsvp_encode(rsvp_lower_cp(cp), enc);
		if (lower_len + m > RSVP_WORD_BYTES)
			too_long = true;
		else
			memcpy(w->lower + lower_len, enc, m);
		lower_len += m;
		i += n;
	}
	*pos = i;
	if (too_long) {
		w->lower[0] = w->fold[0] = '\0';
		w->numeric = w->symbols = false;
		return true;
	}
	w->lower[lower_len] = '\0';
	text_fold_key(s + start, i - start, w->fold, sizeof w->fold);
	return true;
}

/* Next comma-separated entry of a list. False at the end. *bad is set
 * for an entry that can never match (too many words, a word too long, no
 * letters or digits at all); such entries come back with n == 0. */
static bool rsvp_next_entry(const char **list, struct rsvp_entry *e,
			    bool *bad)
{
	const char *p = *list;

	*bad = false;
	if (!p || !*p)
		return false;
	size_t len = strcspn(p, ",");
	*list = p[len] ? p + len + 1 : p + len;

	size_t pos = 0;
	struct rsvp_word w;
	e->n = 0;
	while (rsvp_next_word(p, len, &pos, &w)) {
		if (!w.fold[0] || e->n == RSVP_ENTRY_WORDS) {
			*bad = true;
			e->n = 0;
			return true;
		}
		e->w[e->n++] = w;
	}
	return true;
}

/* Does any entry word written with diacritics fold to key? Then a bare
 * ("vang") entry with that key is that word typed without its marks, and
 * a reply word with other marks ("vâng") is a different word. */
static bool rsvp_key_marked(const char *const lists[2], const char *key)
{
	for (int k = 0; k < 2; k++) {
		const char *p = lists[k];
		struct rsvp_entry e;
		bool bad;
		while (rsvp_next_entry(&p, &e, &bad))
			for (size_t i = 0; i < e.n; i++)
				if (e.w[i].marked && streq(e.w[i].fold, key))
					return true;
	}
	return false;
}

static bool rsvp_word_match(const struct rsvp_word *w,
			    const struct rsvp_word *e,
			    const char *const lists[2])
{
	if (!w->fold[0] || !streq(w->fold, e->fold))
		return false;
	if (!w->marked)
		return true; /* typed without marks: any spelling */
	if (e->marked)
		return streq(w->lower, e->lower);
	return !rsvp_key_marked(lists, w->fold);
}

/* Number of leading words of words[0..n) that entry e covers when it is
 * their prefix (whole: only when it covers all n), else 0. */
static size_t rsvp_entry_match(const struct rsvp_entry *e,
			       const struct rsvp_word *words, size_t n,
			       bool whole, const char *const lists[2])
{
	if (e->n == 0 || e->n > n || (whole && e->n != n))
		return 0;
	for (size_t i = 0; i < e->n; i++)
		if (!rsvp_word_match(&words[i], &e->w[i], lists))
			return 0;
	return e->n;
}

static bool rsvp_entry_numeric(const struct rsvp_entry *e)
{
	for (size_t i = 0; i < e->n; i++)
		if (!e->w[i].numeric)
			return false;
	return true;
}

/* Longest match of an entry of list against words (see above); with
 * skip_numeric, entries made only of numbers are left out. */
static size_t rsvp_list_match(const char *list, const struct rsvp_word *words,
			      size_t n, bool whole, bool skip_numeric,
			      const char *const lists[2])
{
	struct rsvp_entry e;
	size_t best = 0;
	bool bad;

	while (rsvp_next_entry(&list, &e, &bad)) {
		if (skip_numeric && rsvp_entry_numeric(&e))
			continue;
		size_t m = rsvp_entry_match(&e, words, n, whole, lists);
		if (m > best)
			best = m;
	}
	return best;
}

/* Courtesy words and forms of address around an answer ("Dạ có ạ",
 * "không nhé anh"), folded, and emoji. Not "vâng": it folds like "vắng"
 * (absent). */
static bool rsvp_is_courtesy(const struct rsvp_word *w)
{
	static const char *const words[] = {
		"a", "ah", "ak", "da", "nhe", "nha", "nhen", "oi", "em",
		"anh", "chi", "bac", "chu", "ong", "ba", "ok", "oke", "okay",
	};
	if (w->symbols)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (streq(w->fold, words[i]))
			return true;
	return false;
}

enum rsvp rsvp_parse(const char *text, size_t len, const char *yes_words,
		     const char *no_words)
{
	struct rsvp_word words[RSVP_REPLY_WORDS];
	const char *lists[2] = { yes_words ? yes_words : RSVP_YES_DEFAULT,
				 no_words ? no_words : RSVP_NO_DEFAULT };
	size_t n = 0, pos = 0;
	bool overflow = false;

	if (!text)
		return RSVP_NONE;
	struct rsvp_word w;
	while (rsvp_next_word(text, len, &pos, &w)) {
		if (n == RSVP_REPLY_WORDS) {
			overflow = true;
			break;
		}
		words[n++] = w;
	}

	/* drop courtesy words at both ends, unless one is itself an entry */
	size_t lo = 0, hi = n;
	while (lo < hi && rsvp_is_courtesy(&words[lo]) &&
	       !rsvp_list_match(lists[0], &words[lo], 1, true, false, lists) &&
	       !rsvp_list_match(lists[1], &words[lo], 1, true, false, lists))
		lo++;
	while (!overflow && hi > lo && rsvp_is_courtesy(&words[hi - 1]) &&
	       !rsvp_list_match(lists[0], &words[hi - 1], 1, true, false,
				lists) &&
	       !rsvp_list_match(lists[1], &words[hi - 1], 1, true, false,
				lists))
		hi--;
	if (lo == hi)
		return RSVP_NONE;

	/* 1. the whole answer is one entry */
	if (!overflow) {
		bool yes = rsvp_list_match(lists[0], words + lo, hi - lo, true,
					   false, lists) > 0;
		bool no = rsvp_list_match(lists[1], words + lo, hi - lo, true,
					  false, lists) > 0;
		if (yes != no)
			return yes ? RSVP_YES : RSVP_NO;
		if (yes)
			return RSVP_NONE;
	}
	/* 2. it starts with a no word (a longer yes entry there vetoes) */
	size_t no_len = rsvp_list_match(lists[1], words + lo, hi - lo, false,
					true, lists);
	size_t yes_len = rsvp_list_match(lists[0], words + lo, hi - lo, false,
					 true, lists);
	if (no_len > yes_len)
		return RSVP_NO;
	return RSVP_NONE;
}

int rsvp_words_check(const char *words, char *err, size_t errsz)
{
	const char *p = words;
	struct rsvp_entry e;
	size_t good = 0, i = 0;
	bool bad;

	if (!words || !words[0])
		return wh_fail(err, errsz, "empty word list");
	if (!text_utf8_valid(words, strlen(words)))
		return wh_fail(err, errsz, "word list is not valid UTF-8");
	while (rsvp_next_entry(&p, &e, &bad)) {
		i++;
		if (bad)
			return wh_fail(err, errsz,
				       "entry %zu: more than %d words or a "
				       "word longer than %d bytes",
				       i, RSVP_ENTRY_WORDS, RSVP_WORD_BYTES);
		if (e.n == 0)
			return wh_fail(err, errsz,
				       "entry %zu has no letters or digits", i);
		good++;
	}
	if (good == 0)
		return wh_fail(err, errsz, "empty word list");
	return 0;
}
