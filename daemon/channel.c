/* channel.c: see channel.h and channel-internal.h
 *
 * The driver table, the dispatch of channel_build and channel_classify, and
 * what every driver shares. Choices beyond providers.md:
 *  - classify decides in this order: a transport error is transient; HTTP
 *    429 is rate limited and 5xx transient whatever the body says (the
 *    provider's code and message are still reported); then the provider's
 *    own reply (success or a documented error shape) through the driver's
 *    table; then, for a reply the driver does not recognise, the HTTP
 *    status alone: 401/403 auth, 3xx/404/405/410 config (the url is
 *    wrong), 413/414 permanent, anything else transient;
 *  - a success needs the provider's success marker (ZNS/OA "error": 0,
 *    eSMS CodeResult 100 or 124, Messenger message_id, Twilio sid); when the
 *    marker is there but the id is not, the message is accepted with an
 *    empty msg_id (re-sending it would duplicate it);
 *  - result texts are scrubbed (invalid UTF-8, control characters,
 *    token-like words and phone-number-like digit runs) because providers
 *    and proxies echo parts of the request (Twilio: "The 'To' number
 *    +84... is not valid").
 */
#include "channel-internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "loaxa/text.h"

/* A reply larger than this is not parsed (http_client caps at 1 MiB). */
#define CHANNEL_REPLY_MAX (4 * 1024 * 1024)
/* Bytes of input channel__text_copy looks at: results are 255 bytes. */
#define CHANNEL_TEXT_IN_MAX 1024
/* Bytes of an unrecognised reply quoted in the result message. */
#define CHANNEL_SNIPPET_MAX 600
/* A token-like word this long is redacted. */
#define CHANNEL_TOKEN_MIN 32
/* A run of this many digits is taken for a phone number and masked. */
#define CHANNEL_DIGITS_MIN 9

static const struct channel_driver_ops *const channel_drivers[CHD_MAX] = {
	[CHD_ZNS] = &channel__zns_ops,
	[CHD_ZALO_OA] = &channel__zalo_oa_ops,
	[CHD_MESSENGER] = &channel__messenger_ops,
	[CHD_ESMS] = &channel__esms_ops,
	[CHD_TWILIO] = &channel__twilio_ops,
};

static const char *const channel_outcomes[CHO_MAX] = {
	[CHO_ACCEPTED] = "accepted",
	[CHO_TRANSIENT] = "transient",
	[CHO_RATE_LIMITED] = "rate_limited",
	[CHO_PERMANENT] = "permanent",
	[CHO_AUTH] = "auth",
	[CHO_CONFIG] = "config",
};

static const struct channel_driver_ops *channel_ops(enum channel_driver d)
{
	if ((unsigned)d >= CHD_MAX)
		return NULL;
	return channel_drivers[d];
}

const char *channel_driver_name(enum channel_driver d)
{
	const struct channel_driver_ops *ops = channel_ops(d);
	return ops ? ops->name : "unknown";
}

int channel_driver_parse(const char *s, enum channel_driver *ret)
{
	if (!s)
		return -EINVAL;
	for (unsigned i = 0; i < CHD_MAX; i++) {
		if (strcasecmp(s, channel_drivers[i]->name) == 0) {
			if (ret)
				*ret = (enum channel_driver)i;
			return 0;
		}
	}
	return -EINVAL;
}

enum channel_address channel_driver_address(enum channel_driver d)
{
	const struct channel_driver_ops *ops = channel_ops(d);
	return ops ? ops->address : CHA_PHONE;
}

bool channel_driver_is_sms(enum channel_driver d)
{
	const struct channel_driver_ops *ops = channel_ops(d);
	return ops && ops->sms;
}

const char *channel_outcome_name(enum channel_outcome o)
{
	if ((unsigned)o >= CHO_MAX)
		return "unknown";
	return channel_outcomes[o];
}

void channel_request_clear(struct channel_request *r)
{
	if (!r)
		return;
	free(r->method);
	free(r->url);
	for (size_t i = 0; i < r->nheaders; i++)
		free(r->headers[i]);
	free(r->headers);
	free(r->body);
	if (r->userpwd) {
		/* "sid:token": do not leave the secret in freed memory */
		explicit_bzero(r->userpwd, strlen(r->userpwd));
		free(r->userpwd);
	}
	*r = (struct channel_request){ 0 };
}

/* ---- code tables ---- */

const struct channel_code *channel__code_find(const struct channel_code *t,
					      size_t n, long long code,
					      bool has_subcode,
					      long long subcode)
{
	const struct channel_code *best = NULL;
	int best_rank = 0;

	for (size_t i = 0; i < n; i++) {
		const struct channel_code *c = &t[i];
		bool range = c->code_max != 0 && c->code_max > c->code;
		int rank;

		if (range ? code < c->code || code > c->code_max
			  : code != c->code)
			continue;
		if (c->subcode) {
			if (!has_subcode || subcode != c->subcode)
				continue;
			rank = 3;
		} else {
			rank = range ? 1 : 2;
		}
		if (rank > best_rank) {
			best = c;
			best_rank = rank;
		}
	}
	return best;
}

/* ---- build ---- */

int channel__error(char *err, size_t errsz, int r, const char *fmt, ...)
{
	if (err && errsz) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return r;
}

static bool channel_has_ctl(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7F)
			return true;
	return false;
}

int channel__check_setting(const char *driver, const char *name,
			   const char *v, bool header, char *err,
			   size_t errsz)
{
	if (!channel__set(v))
		return channel__error(err, errsz, -EINVAL, "%s: %s is not set",
				      driver, name);
	if (!text_utf8_valid(v, strlen(v)))
		return channel__error(err, errsz, -EINVAL,
				      "%s: %s is not valid UTF-8", driver,
				      name);
	if (header && channel_has_ctl(v))
		return channel__error(err, errsz, -EINVAL,
				      "%s: %s contains control characters",
				      driver, name);
	return 0;
}

size_t channel__utf8_count(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xC0) != 0x80;
	return n;
}

int channel__check_text(const char *driver, const char *text, size_t max,
			char *err, size_t errsz)
{
	if (!channel__set(text))
		return channel__error(err, errsz, -EINVAL,
				      "%s: message text is empty", driver);
	size_t len = strlen(text);
	if (!text_utf8_valid(text, len))
		return channel__error(err, errsz, -EINVAL,
				      "%s: message text is not valid UTF-8",
				      driver);
	size_t n = channel__utf8_count(text, len);
	if (max && n > max)
		return channel__error(err, errsz, -EINVAL,
				      "%s: message text has %zu characters, "
				      "more than the %zu allowed", driver, n,
				      max);
	return 0;
}

int channel__request_init(struct channel_request *req, const char *url)
{
	req->method = strdup("POST");
	req->url = strdup(url);
	if (!req->method || !req->url)
		return -ENOMEM;
	return 0;
}

int channel__request_add_header(struct channel_request *req,
				const char *name, const char *value)
{
	size_t len = strlen(name) + 2 + strlen(value) + 1;
	char *h = malloc(len);
	if (!h)
		return -ENOMEM;
	snprintf(h, len, "%s: %s", name, value);
	char **v = realloc(req->headers, (req->nheaders + 1) * sizeof *v);
	if (!v) {
		explicit_bzero(h, len);
		free(h);
		return -ENOMEM;
	}
	req->headers = v;
	req->headers[req->nheaders++] = h;
	return 0;
}

int channel__request_set_json(struct channel_request *req, const json_t *root)
{
	char *s = json_dumps(root, JSON_COMPACT);
	if (!s)
		return -ENOMEM;
	free(req->body);
	req->body = s;
	req->body_len = strlen(s);
	return 0;
}

int channel__json_set_str(json_t *obj, const char *key, const char *value)
{
	/* set_new consumes a NULL value too and reports the failure */
	return json_object_set_new(obj, key, json_string(value)) < 0 ? -ENOMEM
								      : 0;
}

int channel__urlencode_append(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		char enc[3] = { (char)c };
		size_t n = 1;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_' || c == '~')) {
			enc[0] = '%';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 0xF];
			n = 3;
		}
		int r = buf_append(b, enc, n);
		if (r < 0)
			return r;
	}
	return 0;
}

int channel_form_add(struct buf *b, const char *name, const char *value)
{
	int r = 0;
	if (b->len)
		r = buf_append(b, "&", 1);
	if (r >= 0)
		r = channel__urlencode_append(b, name);
	if (r >= 0)
		r = buf_append(b, "=", 1);
	if (r >= 0)
		r = channel__urlencode_append(b, value);
	return r;
}

static bool channel_url_ok(const char *url)
{
	if (strncasecmp(url, "https://", 8) != 0 &&
	    strncasecmp(url, "http://", 7) != 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= 0x20 || *p >= 0x7F)
			return false;
	return true;
}

static bool channel_all_digits(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int channel_check_recipient(const struct channel_driver_ops *ops,
				   const char *rcpt, char *err, size_t errsz)
{
	/* never quote the recipient: it is personal data */
	switch (ops->address) {
	case CHA_PHONE:
		if (rcpt && strncmp(rcpt, "+84", 3) == 0 &&
		    channel_all_digits(rcpt + 3, 9, 9))
			return 0;
		return channel__error(err, errsz, -EINVAL,
				      "%s: recipient is not a Vietnamese "
				      "mobile number in E.164 form (+84 and "
				      "9 digits)", ops->name);
	case CHA_ZALO_UID:
		if (rcpt && channel_all_digits(rcpt, 1, 64))
			return 0;
		return channel__error(err, errsz, -EINVAL,
				      "%s: recipient is not a Zalo user id "
				      "(1 to 64 digits)", ops->name);
	case CHA_PSID:
		if (rcpt && channel_all_digits(rcpt, 1, 64))
			return 0;
		return channel__error(err, errsz, -EINVAL,
				      "%s: recipient is not a Messenger PSID "
				      "(1 to 64 digits)", ops->name);
	}
	return channel__error(err, errsz, -EINVAL, "%s: unknown address kind",
			      ops->name);
}

static int channel_check_tracking_id(const struct channel_driver_ops *ops,
				     const char *id, char *err, size_t errsz)
{
	size_t n = id ? strlen(id) : 0;
	bool ok = n <= 48;
	for (size_t i = 0; ok && i < n; i++) {
		char c = id[i];
		ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		     (c >= '0' && c <= '9') || c == '_' || c == '-';
	}
	if (ok)
		return 0;
	return channel__error(err, errsz, -EINVAL,
			      "%s: tracking_id must be at most 48 of "
			      "[A-Za-z0-9_-]", ops->name);
}

int channel_build(const struct channel_settings *s,
		  const struct channel_message *m,
		  struct channel_request *ret, char *err, size_t errsz)
{
	struct channel_request req = { 0 };
	const struct channel_driver_ops *ops;
	int r;

	if (err && errsz)
		err[0] = '\0';
	if (!s || !m || !ret)
		return channel__error(err, errsz, -EINVAL,
				      "channel: missing argument");
	ops = channel_ops(s->driver);
	if (!ops)
		return channel__error(err, errsz, -EINVAL,
				      "channel: unknown driver %d",
				      (int)s->driver);
	if (!channel__set(s->url))
		return channel__error(err, errsz, -EINVAL,
				      "%s: url is not set", ops->name);
	if (!channel_url_ok(s->url))
		return channel__error(err, errsz, -EINVAL,
				      "%s: url must be an http:// or https:// "
				      "URL of printable ASCII", ops->name);
	r = channel_check_recipient(ops, m->recipient, err, errsz);
	if (r < 0)
		return r;
	r = channel_check_tracking_id(ops, m->tracking_id, err, errsz);
	if (r < 0)
		return r;

	r = ops->build(s, m, &req, err, errsz);
	if (r < 0) {
		if (r == -ENOMEM && err && errsz && !err[0])
			channel__error(err, errsz, r, "%s: out of memory",
				       ops->name);
		channel_request_clear(&req);
		return r;
	}
	*ret = req;
	return 0;
}

/* ---- classify ---- */

bool channel__json_int(const json_t *v, long long *ret)
{
	if (json_is_integer(v)) {
		*ret = json_integer_value(v);
		return true;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d != d || d < -1e15 || d > 1e15 ||
		    d != (double)(long long)d)
			return false;
		*ret = (long long)d;
		return true;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v), i = 0;
		long long x = 0;
		bool neg = len > 0 && s[0] == '-';
		i = neg;
		if (len == i || len - i > 18)
			return false;
		for (; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				return false;
			x = x * 10 + (s[i] - '0');
		}
		*ret = neg ? -x : x;
		return true;
	}
	return false;
}

static bool channel_is_token_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=' ||
	       c == '_' || c == '.' || c == '~' || c == '-';
}

static bool channel_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Length of the UTF-8 sequence at s (at most len bytes), 0 if invalid. */
static size_t channel_utf8_seq(const unsigned char *s, size_t len)
{
	size_t n;
	if (s[0] < 0x80)
		n = 1;
	else if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4;
	else
		return 0;
	if (n > len || !text_utf8_valid((const char *)s, n))
		return 0;
	return n;
}

/* Code points shown as a space: C1 controls, line/paragraph separators
 * and bidi controls (they garble log lines). */
static bool channel_is_ctl_seq(const unsigned char *s, size_t n)
{
	if (n == 2)
		return s[0] == 0xC2 && s[1] < 0xA0;
	if (n == 3 && s[0] == 0xE2 && s[1] == 0x80)
		return s[2] >= 0xA8 && s[2] <= 0xAE;
	if (n == 3 && s[0] == 0xE2 && s[1] == 0x81)
		return s[2] >= 0xA6 && s[2] <= 0xA9;
	return false;
}

void channel__text_copy(char *dst, size_t dsz, const char *src, size_t len)
{
	/* three passes, each no longer than the one before */
	char a[3 * CHANNEL_TEXT_IN_MAX + 1], b[3 * CHANNEL_TEXT_IN_MAX + 1];
	const unsigned char *s = (const unsigned char *)src;
	size_t na = 0, nb = 0, i;

	if (!dst || dsz == 0)
		return;
	dst[0] = '\0';
	if (!src)
		return;
	if (len > CHANNEL_TEXT_IN_MAX)
		len = CHANNEL_TEXT_IN_MAX;

	/* 1: valid UTF-8 without control characters */
	for (i = 0; i < len;) {
		size_t n = channel_utf8_seq(s + i, len - i);
		if (n == 0) {
			memcpy(a + na, "\xEF\xBF\xBD", 3);
			na += 3;
			i++;
		} else if ((n == 1 && (s[i] < 0x20 || s[i] == 0x7F)) ||
			   channel_is_ctl_seq(s + i, n)) {
			a[na++] = ' ';
			i += n;
		} else {
			memcpy(a + na, s + i, n);
			na += n;
			i += n;
		}
	}

	/* 2: token-like words (access tokens, signatures) */
	for (i = 0; i < na;) {
		size_t j = i, letters = 0, digits = 0;
		while (j < na && channel_is_token_char((unsigned char)a[j])) {
			digits += channel_is_digit((unsigned char)a[j]);
			letters += ((unsigned char)a[j] | 0x20) >= 'a' &&
				   ((unsigned char)a[j] | 0x20) <= 'z';
			j++;
		}
		if (j == i) {
			b[nb++] = a[i++];
		} else if (j - i >= CHANNEL_TOKEN_MIN && letters && digits) {
			memcpy(b + nb, "[redacted]", 10);
			nb += 10;
			i = j;
		} else {
			memcpy(b + nb, a + i, j - i);
			nb += j - i;
			i = j;
		}
	}

	/* 3: phone-number-like digit runs, into a */
	na = 0;
	for (i = 0; i < nb;) {
		if (!channel_is_digit((unsigned char)b[i])) {
			a[na++] = b[i++];
			continue;
		}
		size_t j = i, digits = 0;
		while (j < nb) {
			if (channel_is_digit((unsigned char)b[j])) {
				digits++;
				j++;
			} else if ((b[j] == ' ' || b[j] == '.' ||
				    b[j] == '-') && j + 1 < nb &&
				   channel_is_digit((unsigned char)b[j + 1])) {
				j++;
			} else {
				break;
			}
		}
		if (digits >= CHANNEL_DIGITS_MIN) {
			memcpy(a + na, "***", 3);
			na += 3;
		} else {
			memcpy(a + na, b + i, j - i);
			na += j - i;
		}
		i = j;
	}

	/* cut at a code point boundary */
	if (na > dsz - 1) {
		na = dsz - 1;
		while (na > 0 && ((unsigned char)a[na] & 0xC0) == 0x80)
			na--;
	}
	memcpy(dst, a, na);
	dst[na] = '\0';
}

void channel__result_code(struct channel_result *ret, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	channel__text_copy(ret->code, sizeof ret->code, tmp,
			   (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void channel__result_message(struct channel_result *ret, const json_t *v,
			     const char *fallback)
{
	if (json_is_string(v) && json_string_length(v) > 0)
		channel__text_copy(ret->message, sizeof ret->message,
				   json_string_value(v), json_string_length(v));
	else if (fallback)
		channel__text_copy(ret->message, sizeof ret->message,
				   fallback, strlen(fallback));
	else
		ret->message[0] = '\0';
}

bool channel__result_msg_id(struct channel_result *ret, const json_t *v)
{
	ret->msg_id[0] = '\0';
	if (json_is_integer(v)) {
		snprintf(ret->msg_id, sizeof ret->msg_id, "%lld",
			 (long long)json_integer_value(v));
		return true;
	}
	if (!json_is_string(v))
		return false;
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (len == 0 || len >= sizeof ret->msg_id)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7F)
			return false;
	memcpy(ret->msg_id, s, len);
	ret->msg_id[len] = '\0';
	return true;
}

bool channel__contains_ci(const char *haystack, const char *needle)
{
	return haystack && needle && strcasestr(haystack, needle);
}

bool channel__zalo_classify(const json_t *root, const struct channel_code *t,
			    size_t n, const char *id_key,
			    struct channel_result *ret)
{
	const json_t *msg = json_object_get(root, "message");
	long long e;

	if (!channel__json_int(json_object_get(root, "error"), &e))
		return false;
	channel__result_code(ret, "%lld", e);
	if (e == 0) {
		const json_t *data = json_object_get(root, "data");
		ret->outcome = CHO_ACCEPTED;
		if (channel__result_msg_id(ret, json_object_get(data, id_key)))
			channel__result_message(ret, msg, "Success");
		else
			snprintf(ret->message, sizeof ret->message,
				 "accepted, but the reply has no usable %s",
				 id_key);
		return true;
	}

	const struct channel_code *c = channel__code_find(t, n, e, false, 0);
	const char *note;
	if (c) {
		ret->outcome = c->outcome;
		note = c->note;
	} else if (e < 0 && channel__contains_ci(json_string_value(msg),
						 "quota")) {
		ret->outcome = CHO_TRANSIENT;
		note = "unknown error about quota: retry later";
	} else if (e < 0) {
		ret->outcome = CHO_PERMANENT;
		note = "unknown error code";
	} else {
		ret->outcome = CHO_TRANSIENT;
		note = "unknown error code";
	}
	channel__result_message(ret, msg, note);
	return true;
}

static void channel_classify_transport(int e, struct channel_result *ret)
{
	static const struct {
		int err;
		const char *code, *message;
	} map[] = {
		{ -ETIMEDOUT, "timeout", "no reply in time" },
		{ -ECONNREFUSED, "connection refused", "connection refused" },
		{ -ECONNRESET, "connection reset", "connection reset" },
		{ -EHOSTUNREACH, "host unreachable", "host unreachable" },
		{ -ENETUNREACH, "network unreachable", "network unreachable" },
		{ -E2BIG, "reply too large", "the reply was too large" },
		{ -ECANCELED, "cancelled", "the request was cancelled" },
		{ -EPROTO, "protocol error", "HTTP or TLS protocol error" },
		{ -EIO, "I/O error", "I/O error" },
	};

	if (e > 0)
		e = -e;
	ret->outcome = CHO_TRANSIENT;
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		if (map[i].err == e) {
			snprintf(ret->code, sizeof ret->code, "%s",
				 map[i].code);
			snprintf(ret->message, sizeof ret->message,
				 "transport: %s", map[i].message);
			return;
		}
	}
	snprintf(ret->code, sizeof ret->code, "transport error");
	if (e > -4096 && e < 0)
		snprintf(ret->message, sizeof ret->message, "transport: %s",
			 strerror(-e));
	else
		snprintf(ret->message, sizeof ret->message,
			 "transport: invalid error value");
}

/* "<what> (HTTP <status>): <readable start of the body>" */
static void channel_unrecognised_message(struct channel_result *ret,
					 const char *what, int status,
					 const char *body, size_t len)
{
	char tmp[CHANNEL_SNIPPET_MAX + 128];
	int n = snprintf(tmp, sizeof tmp, "%s (HTTP %d)", what, status);
	size_t pos = n > 0 ? (size_t)n : 0, start = 0;

	while (start < len && (body[start] == ' ' || body[start] == '\t' ||
			       body[start] == '\r' || body[start] == '\n'))
		start++;
	if (body && start < len) {
		bool html = body[start] == '<', in_tag = false, space = false;
		memcpy(tmp + pos, ": ", 2);
		pos += 2;
		for (size_t i = start; i < len && pos < sizeof tmp - 1 &&
				       i - start < CHANNEL_SNIPPET_MAX; i++) {
			char c = body[i];
			if (html && (c == '<' || in_tag)) {
				in_tag = c != '>';
				space = true;
				continue;
			}
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
				space = true;
				continue;
			}
			if (space && pos < sizeof tmp - 2 &&
			    tmp[pos - 1] != ' ')
				tmp[pos++] = ' ';
			space = false;
			tmp[pos++] = c;
		}
	}
	channel__text_copy(ret->message, sizeof ret->message, tmp, pos);
}

/* The reply is not the provider's own: decide from the HTTP status. */
static void channel_classify_status(int status, const char *why,
				    const char *body, size_t len,
				    struct channel_result *ret)
{
	const char *what = why;

	if (status >= 300 && status <= 399) {
		ret->outcome = CHO_CONFIG;
		what = "redirected: check the channel url";
	} else if (status == 401 || status == 403) {
		ret->outcome = CHO_AUTH;
		what = "credentials refused";
	} else if (status == 404 || status == 405 || status == 410) {
		ret->outcome = CHO_CONFIG;
		what = "no such endpoint: check the channel url";
	} else if (status == 413 || status == 414) {
		ret->outcome = CHO_PERMANENT;
		what = "request too large for the provider";
	} else {
		ret->outcome = CHO_TRANSIENT;
	}
	channel__result_code(ret, "HTTP %d", status);
	channel_unrecognised_message(ret, what, status, body, len);
}

void channel_classify(enum channel_driver d, int transport_error,
		      int http_status, const char *body, size_t body_len,
		      int64_t retry_after_ms, struct channel_result *ret)
{
	const struct channel_driver_ops *ops = channel_ops(d);
	const char *why = "unrecognised reply";
	bool known = false;

	if (!ret)
		return;
	*ret = (struct channel_result){ .outcome = CHO_TRANSIENT,
					.retry_after_ms = -1 };
	if (!body)
		body_len = 0;

	if (transport_error != 0) {
		channel_classify_transport(transport_error, ret);
		ret->retry_after_ms = retry_after_ms >= 0 ? retry_after_ms : -1;
		return;
	}
	if (!ops) {
		ret->outcome = CHO_CONFIG;
		snprintf(ret->code, sizeof ret->code, "driver");
		snprintf(ret->message, sizeof ret->message,
			 "unknown channel driver %d", (int)d);
		return;
	}

	if (body_len == 0) {
		why = "empty reply";
	} else if (body_len > CHANNEL_REPLY_MAX) {
		why = "reply too large to read";
	} else {
		json_error_t jerr;
		json_t *root = json_loadb(body, body_len, 0, &jerr);
		if (!root)
			why = "reply is not JSON";
		else if (!json_is_object(root))
			why = "reply is not a JSON object";
		else
			known = ops->classify(http_status, root, ret);
		json_decref(root);
	}

	if (http_status == 429) {
		ret->outcome = CHO_RATE_LIMITED;
		if (!known) {
			channel__result_code(ret, "HTTP %d", http_status);
			channel_unrecognised_message(ret, "rate limited",
						     http_status, body,
						     body_len);
		}
	} else if (http_status >= 500 && http_status <= 599) {
		ret->outcome = CHO_TRANSIENT;
		if (!known) {
			channel__result_code(ret, "HTTP %d", http_status);
			channel_unrecognised_message(ret, "provider error",
						     http_status, body,
						     body_len);
		}
	} else if (!known) {
		channel_classify_status(http_status, why, body, body_len, ret);
	}

	if (ret->outcome != CHO_ACCEPTED) {
		ret->msg_id[0] = '\0';
		ret->segments = 0;
	}
	if ((ret->outcome == CHO_RATE_LIMITED ||
	     ret->outcome == CHO_TRANSIENT) && retry_after_ms >= 0)
		ret->retry_after_ms = retry_after_ms;
	else
		ret->retry_after_ms = -1;
}
