/* fuzz-channel.c: every driver's reply classification, and its request
 * building, on arbitrary bytes.
 *
 * Input layout: byte 0 picks the driver, byte 1 the HTTP status (from a
 * list of interesting ones), byte 2 the transport error and Retry-After;
 * the rest is the reply body (and, for build, the message text).
 *
 * Beyond "no crash, no leak", each call's contract is checked:
 *  - classify: the outcome is valid; code, message and msg_id are
 *    NUL-terminated in their arrays, valid UTF-8 without control
 *    characters and without phone-number-like digit runs; code and message
 *    are never empty; msg_id and segments only come with CHO_ACCEPTED;
 *    retry_after_ms is -1 unless rate limited or transient; a transport
 *    error is always transient; 429 always rate limited; 5xx transient;
 *    the same input classifies the same way twice;
 *  - build: returns 0 or -EINVAL (with a reason); a built request is a
 *    POST whose JSON body parses back to the text sent (or whose form body
 *    has only unreserved characters and %XX escapes).
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loaxa/channel.h"
#include "loaxa/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(expr)                                                        \
	do {                                                               \
		if (!(expr)) {                                             \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",   \
				__FILE__, __LINE__, #expr);                \
			abort();                                           \
		}                                                          \
	} while (0)

/* Longer inputs add nothing but time. */
#define FUZZ_MAX_INPUT 16384

static const int fuzz_statuses[] = {
	200, 201, 400, 401, 403, 404, 429, 500, 502, 503,
	301, 413, 204, 0, -1, 999,
};

static const int fuzz_transport[] = {
	-ETIMEDOUT, -ECONNREFUSED, -ECONNRESET, -E2BIG, -EPROTO, -ECANCELED,
	INT_MIN, INT_MAX, 12345,
};

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static bool fuzz_field_ok(const char *s, size_t cap, bool nonempty)
{
	const char *nul = memchr(s, '\0', cap);
	if (!nul)
		return false;
	size_t len = (size_t)(nul - s);
	if (nonempty && len == 0)
		return false;
	if (!text_utf8_valid(s, len))
		return false;
	/* 9 digits, single ' ', '.' or '-' allowed between them */
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7F)
			return false;
		if (c >= '0' && c <= '9') {
			if (++run >= 9)
				return false;
		} else if (!((c == ' ' || c == '.' || c == '-') && i > 0 &&
			     i + 1 < len && s[i - 1] >= '0' &&
			     s[i - 1] <= '9' && s[i + 1] >= '0' &&
			     s[i + 1] <= '9')) {
			run = 0;
		}
	}
	return true;
}

static void fuzz_classify(enum channel_driver d, int terr, int status,
			  const char *body, size_t len, int64_t ra)
{
	struct channel_result r, again;

	memset(&r, 0x5A, sizeof r);
	channel_classify(d, terr, status, body, len, ra, &r);
	CHECK((unsigned)r.outcome < CHO_MAX);
	CHECK(fuzz_field_ok(r.code, sizeof r.code, true));
	CHECK(fuzz_field_ok(r.message, sizeof r.message, true));
	CHECK(memchr(r.msg_id, '\0', sizeof r.msg_id) != NULL);
	for (const char *p = r.msg_id; *p; p++)
		CHECK((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7F);
	CHECK(r.segments >= 0 && r.segments <= 1000);
	if (r.outcome != CHO_ACCEPTED)
		CHECK(r.msg_id[0] == '\0' && r.segments == 0);
	if (r.outcome == CHO_RATE_LIMITED || r.outcome == CHO_TRANSIENT)
		CHECK(r.retry_after_ms == (ra >= 0 ? ra : -1));
	else
		CHECK(r.retry_after_ms == -1);
	if (terr != 0)
		CHECK(r.outcome == CHO_TRANSIENT);
	else if (status == 429)
		CHECK(r.outcome == CHO_RATE_LIMITED);
	else if (status >= 500 && status <= 599)
		CHECK(r.outcome == CHO_TRANSIENT);

	memset(&again, 0, sizeof again);
	channel_classify(d, terr, status, body, len, ra, &again);
	CHECK(again.outcome == r.outcome);
	CHECK(strcmp(again.code, r.code) == 0);
	CHECK(strcmp(again.message, r.message) == 0);
	CHECK(strcmp(again.msg_id, r.msg_id) == 0);
}

static void fuzz_build(enum channel_driver d, const char *text)
{
	static const char *const keys[] = { "name", "time" };
	const char *vals[] = { text, "19:30" };
	struct channel_settings s = {
		.driver = d,
		.url = "http://127.0.0.1:1/send?x=1",
		.access_token = "tok+/=",
		.template_id = "1",
		.api_key = "k", .secret_key = "s", .brandname = "B",
		.account_sid = "AC1", .auth_token = "t", .from = "+1500",
		.callback_url = text,
		.unicode = text[0] & 1,
		.messaging_type = (text[0] & 2) ? "RESPONSE" : NULL,
	};
	struct channel_message m = {
		.recipient = channel_driver_address(d) == CHA_PHONE
				     ? "+84912345678" : "1254459154682919",
		.text = text,
		.tracking_id = "t-1",
		.tdata_keys = keys, .tdata_vals = vals, .ntdata = 2,
	};
	struct channel_request req = { 0 };
	char err[256] = "";

	int r = channel_build(&s, &m, &req, err, sizeof err);
	CHECK(r == 0 || r == -EINVAL);
	if (r < 0) {
		CHECK(err[0] != '\0');
		CHECK(req.url == NULL && req.body == NULL);
		return;
	}
	CHECK(req.method && strcmp(req.method, "POST") == 0);
	CHECK(req.url && req.body && strlen(req.body) == req.body_len);
	for (size_t i = 0; i < req.nheaders; i++)
		for (const char *p = req.headers[i]; *p; p++)
			CHECK((unsigned char)*p >= 0x20);
	for (const char *p = req.url; *p; p++)
		CHECK((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7F);
	if (d == CHD_TWILIO) {
		for (const char *p = req.body; *p; p++)
			CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
				     "nopqrstuvwxyz0123456789-._~%&=", *p));
		CHECK(req.userpwd && strcmp(req.userpwd, "AC1:t") == 0);
	} else {
		json_error_t e;
		json_t *j = json_loadb(req.body, req.body_len, 0, &e);
		CHECK(json_is_object(j));
		json_t *msg = json_object_get(j, "message");
		if (d == CHD_ZALO_OA || d == CHD_MESSENGER)
			CHECK(streq(json_string_value(
				      json_object_get(msg, "text")), text));
		if (d == CHD_ZNS)
			CHECK(streq(json_string_value(json_object_get(
				      json_object_get(j, "template_data"),
				      "name")), text));
		if (d == CHD_ESMS) {
			const char *c = json_string_value(
				json_object_get(j, "Content"));
			CHECK(c && strlen(c) <= strlen(text));
			if (!s.unicode)
				for (const char *p = c; *p; p++)
					CHECK((unsigned char)*p < 0x80);
		}
		json_decref(j);
	}
	channel_request_clear(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3 || size > FUZZ_MAX_INPUT)
		return 0;
	enum channel_driver d = (enum channel_driver)(data[0] % CHD_MAX);
	int status = fuzz_statuses[data[1] % (sizeof fuzz_statuses /
					      sizeof fuzz_statuses[0])];
	unsigned t = data[2] & 0x0F;
	int terr = t < sizeof fuzz_transport / sizeof fuzz_transport[0]
			   ? fuzz_transport[t] : 0;
	/* the high nibble: no Retry-After, or some seconds of it */
	int64_t ra = (data[2] >> 4) == 0 ? -1 : (int64_t)(data[2] >> 4) * 1000;
	size_t len = size - 3;

	/* an exact-size heap copy, so ASan sees any read past len */
	char *body = malloc(len ? len : 1);
	char *text = malloc(len + 1);
	CHECK(body && text);
	memcpy(body, data + 3, len);
	memcpy(text, data + 3, len);
	text[len] = '\0';

	fuzz_classify(d, terr, status, body, len, ra);
	/* the same body as the reply of every other driver, with no error */
	for (int o = 0; o < CHD_MAX; o++)
		fuzz_classify((enum channel_driver)o, 0, status, body, len, ra);
	if (len)
		fuzz_build(d, text);

	free(body);
	free(text);
	return 0;
}
