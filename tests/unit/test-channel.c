/* test-channel.c: the provider drivers (providers.md §1, §3, §4, §5.1,
 * §5.4): the exact request each one builds, recipients and limits, and the
 * classification of every code in every table, of HTTP statuses, transport
 * errors and replies that are nobody's (empty, HTML, garbage, huge). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <limits.h>

#include "loaxa/channel.h"
#include "loaxa/text.h"
#include "loaxa/util.h"

#define PHONE "+84912345678"

/* ---- helpers ---- */

static struct channel_settings zns_settings(void)
{
	return (struct channel_settings){
		.driver = CHD_ZNS,
		.url = "https://business.openapi.zalo.me/message/template",
		.access_token = "zns-token-1",
		.template_id = "123456",
	};
}

static struct channel_settings oa_settings(void)
{
	return (struct channel_settings){
		.driver = CHD_ZALO_OA,
		.url = "https://openapi.zalo.me/v3.0/oa/message/cs",
		.access_token = "oa-token-1",
	};
}

static struct channel_settings messenger_settings(void)
{
	return (struct channel_settings){
		.driver = CHD_MESSENGER,
		.url = "https://graph.facebook.com/v19.0/me/messages",
		.access_token = "EAAB1",
	};
}

static struct channel_settings esms_settings(void)
{
	return (struct channel_settings){
		.driver = CHD_ESMS,
		.url = "https://rest.esms.vn/MainService.svc/json/"
		       "SendMultipleMessage_V4_post_json/",
		.api_key = "KEY1",
		.secret_key = "SECRET1",
		.brandname = "XaDongTan",
	};
}

static struct channel_settings twilio_settings(void)
{
	return (struct channel_settings){
		.driver = CHD_TWILIO,
		.url = "https://api.twilio.com/2010-04-01/Accounts/AC123/"
		       "Messages.json",
		.account_sid = "AC123",
		.auth_token = "tok456",
		.from = "+15005550006",
	};
}

static void build_ok(const struct channel_settings *s,
		     const struct channel_message *m,
		     struct channel_request *req)
{
	char err[256] = "untouched";
	int r = channel_build(s, m, req, err, sizeof err);
	if (r != 0)
		fail_msg("channel_build: %d: %s", r, err);
	assert_string_equal(err, "");
	assert_non_null(req->method);
	assert_string_equal(req->method, "POST");
	assert_non_null(req->url);
	assert_non_null(req->body);
	assert_int_equal(strlen(req->body), req->body_len);
}

/* channel_build must fail with -EINVAL, a reason containing want, and leave
 * ret alone. Returns nothing; the reason must never quote a phone. */
static void build_fails(const struct channel_settings *s,
			const struct channel_message *m, const char *want)
{
	struct channel_request req;
	char err[256] = "";
	memset(&req, 0x5A, sizeof req);
	int r = channel_build(s, m, &req, err, sizeof err);
	assert_int_equal(r, -EINVAL);
	if (!strstr(err, want))
		fail_msg("reason \"%s\" lacks \"%s\"", err, want);
	assert_null(strstr(err, "912345678"));
	for (size_t i = 0; i < sizeof req; i++)
		assert_int_equal(((unsigned char *)&req)[i], 0x5A);
}

static void assert_headers(const struct channel_request *req, size_t n, ...)
{
	va_list ap;
	assert_int_equal(req->nheaders, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(req->headers[i], va_arg(ap, const char *));
	va_end(ap);
}

static json_t *body_json(const struct channel_request *req)
{
	json_error_t e;
	json_t *j = json_loadb(req->body, req->body_len, 0, &e);
	if (!j)
		fail_msg("body is not JSON: %s: %s", e.text, req->body);
	assert_true(json_is_object(j));
	return j;
}

static const char *jstr(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_string(v))
		fail_msg("%s is not a string", key);
	return json_string_value(v);
}

/* Decode application/x-www-form-urlencoded into name/value pairs. */
struct form {
	size_t n;
	char name[8][64];
	char value[8][8192];
};

static void form_decode_into(char *dst, size_t dsz, const char *s, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		assert_true(o + 1 < dsz);
		char c = s[i];
		if (c == '+') {
			dst[o++] = ' ';
		} else if (c == '%') {
			assert_true(i + 2 < len);
			char hex[3] = { s[i + 1], s[i + 2], 0 };
			dst[o++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			/* only unreserved characters travel unencoded */
			assert_true((c >= 'A' && c <= 'Z') ||
				    (c >= 'a' && c <= 'z') ||
				    (c >= '0' && c <= '9') || c == '-' ||
				    c == '.' || c == '_' || c == '~');
			dst[o++] = c;
		}
	}
	dst[o] = '\0';
}

static void form_parse(const char *body, struct form *f)
{
	memset(f, 0, sizeof *f);
	const char *p = body;
	while (*p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		assert_non_null(eq);
		assert_true(f->n < 8);
		form_decode_into(f->name[f->n], sizeof f->name[0], p,
				 (size_t)(eq - p));
		form_decode_into(f->value[f->n], sizeof f->value[0], eq + 1,
				 len - (size_t)(eq - p) - 1);
		f->n++;
		p += len + (amp ? 1 : 0);
	}
}

static const char *form_get(const struct form *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->name[i], name) == 0)
			return f->value[i];
	return NULL;
}

/* A string of n copies of the UTF-8 sequence u (caller frees). */
static char *repeat(const char *u, size_t n)
{
	size_t ul = strlen(u);
	char *s = malloc(ul * n + 1);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * ul, u, ul);
	s[ul * n] = '\0';
	return s;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* 9 digits, with single ' ', '.' or '-' allowed between them */
static bool has_long_digit_run(const char *s)
{
	size_t run = 0;
	for (size_t i = 0; s[i]; i++) {
		if (is_digit(s[i])) {
			if (++run >= 9)
				return true;
		} else if (!((s[i] == ' ' || s[i] == '.' || s[i] == '-') &&
			     i > 0 && is_digit(s[i - 1]) &&
			     is_digit(s[i + 1]))) {
			run = 0;
		}
	}
	return false;
}

/* Classify, and check what must hold of every result. */
static struct channel_result classify_full(enum channel_driver d, int terr,
					   int status, const char *body,
					   size_t len, int64_t retry_after)
{
	struct channel_result r;
	if (len == SIZE_MAX) /* a C string */
		len = strlen(body);
	memset(&r, 0x5A, sizeof r);
	channel_classify(d, terr, status, body, len, retry_after, &r);
	assert_true((unsigned)r.outcome < CHO_MAX);
	assert_non_null(memchr(r.code, 0, sizeof r.code));
	assert_non_null(memchr(r.message, 0, sizeof r.message));
	assert_non_null(memchr(r.msg_id, 0, sizeof r.msg_id));
	assert_true(text_utf8_valid(r.code, strlen(r.code)));
	assert_true(text_utf8_valid(r.message, strlen(r.message)));
	assert_true(strlen(r.code) > 0);
	assert_true(strlen(r.message) > 0);
	for (const char *p = r.message; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && *p != 0x7F);
	assert_false(has_long_digit_run(r.message));
	assert_true(r.segments >= 0);
	if (r.outcome != CHO_ACCEPTED) {
		assert_string_equal(r.msg_id, "");
		assert_int_equal(r.segments, 0);
	}
	if (r.outcome != CHO_RATE_LIMITED && r.outcome != CHO_TRANSIENT)
		assert_int_equal(r.retry_after_ms, -1);
	return r;
}

static struct channel_result classify(enum channel_driver d, int status,
				      const char *body)
{
	return classify_full(d, 0, status, body, body ? strlen(body) : 0,
			     -1);
}

static void expect(enum channel_driver d, int status, const char *body,
		   enum channel_outcome want, const char *want_code)
{
	struct channel_result r = classify(d, status, body);
	if (r.outcome != want || strcmp(r.code, want_code) != 0)
		fail_msg("%s HTTP %d %s: got %s %s (%s), want %s %s",
			 channel_driver_name(d), status, body,
			 channel_outcome_name(r.outcome), r.code, r.message,
			 channel_outcome_name(want), want_code);
}

/* ---- names ---- */

static void test_names(void **state)
{
	static const char *const names[CHD_MAX] = {
		"zns", "zalo_oa", "messenger", "esms", "twilio",
	};
	enum channel_driver d;
	(void)state;

	for (int i = 0; i < CHD_MAX; i++) {
		assert_string_equal(channel_driver_name(i), names[i]);
		d = CHD_MAX;
		assert_int_equal(channel_driver_parse(names[i], &d), 0);
		assert_int_equal(d, i);
	}
	assert_int_equal(channel_driver_parse("ZNS", &d), 0);
	assert_int_equal(d, CHD_ZNS);
	d = CHD_TWILIO;
	assert_int_equal(channel_driver_parse("sms", &d), -EINVAL);
	assert_int_equal(channel_driver_parse("", &d), -EINVAL);
	assert_int_equal(channel_driver_parse(NULL, &d), -EINVAL);
	assert_int_equal(channel_driver_parse("zns ", &d), -EINVAL);
	assert_int_equal(d, CHD_TWILIO);
	assert_string_equal(channel_driver_name(CHD_MAX), "unknown");
	assert_string_equal(channel_driver_name(-1), "unknown");

	assert_int_equal(channel_driver_address(CHD_ZNS), CHA_PHONE);
	assert_int_equal(channel_driver_address(CHD_ZALO_OA), CHA_ZALO_UID);
	assert_int_equal(channel_driver_address(CHD_MESSENGER), CHA_PSID);
	assert_int_equal(channel_driver_address(CHD_ESMS), CHA_PHONE);
	assert_int_equal(channel_driver_address(CHD_TWILIO), CHA_PHONE);
	assert_false(channel_driver_is_sms(CHD_ZNS));
	assert_false(channel_driver_is_sms(CHD_ZALO_OA));
	assert_false(channel_driver_is_sms(CHD_MESSENGER));
	assert_true(channel_driver_is_sms(CHD_ESMS));
	assert_true(channel_driver_is_sms(CHD_TWILIO));
	assert_false(channel_driver_is_sms(CHD_MAX));

	assert_string_equal(channel_outcome_name(CHO_ACCEPTED), "accepted");
	assert_string_equal(channel_outcome_name(CHO_TRANSIENT), "transient");
	assert_string_equal(channel_outcome_name(CHO_RATE_LIMITED),
			    "rate_limited");
	assert_string_equal(channel_outcome_name(CHO_PERMANENT), "permanent");
	assert_string_equal(channel_outcome_name(CHO_AUTH), "auth");
	assert_string_equal(channel_outcome_name(CHO_CONFIG), "config");
	assert_string_equal(channel_outcome_name(CHO_MAX), "unknown");
}

/* ---- build: ZNS ---- */

static void test_zns_build(void **state)
{
	static const char *const keys[] = { "customer_name", "meeting_time" };
	static const char *const vals[] = { "Nguyễn Văn A", "19:30 20/06" };
	struct channel_settings s = zns_settings();
	struct channel_message m = {
		.recipient = "+84987654321",
		.text = "not used by ZNS",
		.tracking_id = "notice-42-household-17",
		.tdata_keys = keys, .tdata_vals = vals, .ntdata = 2,
	};
	struct channel_request req = { 0 };
	(void)state;

	build_ok(&s, &m, &req);
	assert_string_equal(req.url,
		"https://business.openapi.zalo.me/message/template");
	assert_headers(&req, 2, "access_token: zns-token-1",
		       "Content-Type: application/json");
	assert_null(req.userpwd);
	/* compact, in the documented order */
	assert_string_equal(req.body,
		"{\"phone\":\"84987654321\",\"template_id\":\"123456\","
		"\"template_data\":{\"customer_name\":\"Nguyễn Văn A\","
		"\"meeting_time\":\"19:30 20/06\"},"
		"\"tracking_id\":\"notice-42-household-17\"}");

	json_t *j = body_json(&req);
	assert_int_equal(json_object_size(j), 4);
	assert_string_equal(jstr(j, "phone"), "84987654321");
	assert_string_equal(jstr(j, "template_id"), "123456");
	assert_string_equal(jstr(j, "tracking_id"), "notice-42-household-17");
	json_t *td = json_object_get(j, "template_data");
	assert_true(json_is_object(td));
	assert_int_equal(json_object_size(td), 2);
	assert_string_equal(jstr(td, "customer_name"), "Nguyễn Văn A");
	assert_string_equal(jstr(td, "meeting_time"), "19:30 20/06");
	json_decref(j);
	channel_request_clear(&req);
	assert_null(req.url);
	assert_int_equal(req.nheaders, 0);

	/* no template parameters: an empty object */
	m.ntdata = 0;
	m.tdata_keys = m.tdata_vals = NULL;
	build_ok(&s, &m, &req);
	j = body_json(&req);
	assert_true(json_is_object(json_object_get(j, "template_data")));
	assert_int_equal(json_object_size(json_object_get(j, "template_data")),
			 0);
	json_decref(j);
	channel_request_clear(&req);
}

static void test_zns_build_errors(void **state)
{
	static const char *const keys[] = { "a", "a" };
	static const char *const vals[] = { "1", "2" };
	static const char *const nullv[] = { "1", NULL };
	static const char *const badv[] = { "\xC3\x28", "x" };
	static const char *const emptyk[] = { "", "x" };
	struct channel_settings s = zns_settings();
	struct channel_message m = {
		.recipient = PHONE, .tracking_id = "t1",
		.tdata_keys = keys, .tdata_vals = vals, .ntdata = 1,
	};
	(void)state;

	s.access_token = NULL;
	build_fails(&s, &m, "zns: access_token is not set");
	s.access_token = "";
	build_fails(&s, &m, "access_token is not set");
	s.access_token = "tok\r\nX-Evil: 1";
	build_fails(&s, &m, "access_token contains control characters");
	s = zns_settings();
	s.template_id = NULL;
	build_fails(&s, &m, "template_id is not set");
	s = zns_settings();

	m.tracking_id = NULL;
	build_fails(&s, &m, "tracking_id is required");
	m.tracking_id = "t1";
	m.ntdata = 2;
	build_fails(&s, &m, "repeats a name");
	m.tdata_vals = nullv;
	build_fails(&s, &m, "parameter 2 has no valid UTF-8 value");
	m.tdata_vals = badv;
	build_fails(&s, &m, "parameter 1 has no valid UTF-8 value");
	m.tdata_keys = emptyk;
	m.tdata_vals = vals;
	build_fails(&s, &m, "parameter 1 has no valid name");
	m.tdata_keys = NULL;
	build_fails(&s, &m, "template data is missing");
}

static void test_recipients(void **state)
{
	static const char *const bad_phones[] = {
		"0912345678", "84912345678", "+8491234567", "+849123456789",
		"+84 912345678", "+84912 45678", "+14155550100", "+8491234567a",
		"", "+84", "912345678",
	};
	static const enum channel_driver phone_drivers[] = {
		CHD_ZNS, CHD_ESMS, CHD_TWILIO,
	};
	struct channel_message m = { .recipient = NULL, .text = "Hop thon",
				     .tracking_id = "t1" };
	struct channel_settings s;
	(void)state;

	for (size_t d = 0; d < ARRAY_SIZE(phone_drivers); d++) {
		s = phone_drivers[d] == CHD_ZNS ? zns_settings()
		  : phone_drivers[d] == CHD_ESMS ? esms_settings()
						  : twilio_settings();
		m.recipient = NULL;
		build_fails(&s, &m, "recipient is not a Vietnamese mobile");
		for (size_t i = 0; i < ARRAY_SIZE(bad_phones); i++) {
			m.recipient = bad_phones[i];
			build_fails(&s, &m, "+84 and 9 digits");
		}
	}

	/* Zalo uid and PSID: 1..64 digits */
	char *d64 = repeat("7", 64), *d65 = repeat("7", 65);
	static const char *const bad_ids[] = { "", "12a", "-1", " 12", "1.5",
					       "+84912345678" };
	struct channel_settings ids[] = { oa_settings(), messenger_settings() };
	const char *want[] = { "not a Zalo user id", "not a Messenger PSID" };
	for (size_t k = 0; k < 2; k++) {
		struct channel_request req = { 0 };
		for (size_t i = 0; i < ARRAY_SIZE(bad_ids); i++) {
			m.recipient = bad_ids[i];
			build_fails(&ids[k], &m, want[k]);
		}
		m.recipient = d65;
		build_fails(&ids[k], &m, want[k]);
		m.recipient = NULL;
		build_fails(&ids[k], &m, want[k]);
		m.recipient = d64;
		build_ok(&ids[k], &m, &req);
		channel_request_clear(&req);
		m.recipient = "1";
		build_ok(&ids[k], &m, &req);
		channel_request_clear(&req);
	}
	free(d64);
	free(d65);
}

/* ---- build: common checks ---- */

static void test_build_common(void **state)
{
	struct channel_settings s = oa_settings();
	struct channel_message m = { .recipient = "2512523625412515",
				     .text = "Hop thon", .tracking_id = NULL };
	struct channel_request req = { 0 };
	char err[128];
	(void)state;

	s.url = NULL;
	build_fails(&s, &m, "zalo_oa: url is not set");
	s.url = "";
	build_fails(&s, &m, "url is not set");
	s.url = "ftp://openapi.zalo.me/x";
	build_fails(&s, &m, "http:// or https://");
	s.url = "https://openapi.zalo.me/a b";
	build_fails(&s, &m, "http:// or https://");
	s.url = "https://openapi.zalo.me/\r\nX: y";
	build_fails(&s, &m, "http:// or https://");
	s.url = "HTTP://127.0.0.1:8080/oa";
	build_ok(&s, &m, &req);
	assert_string_equal(req.url, "HTTP://127.0.0.1:8080/oa");
	channel_request_clear(&req);
	s = oa_settings();

	/* tracking ids: at most 48 of [A-Za-z0-9_-] */
	char *t48 = repeat("a", 48), *t49 = repeat("a", 49);
	m.tracking_id = t48;
	build_ok(&s, &m, &req);
	channel_request_clear(&req);
	m.tracking_id = t49;
	build_fails(&s, &m, "tracking_id");
	m.tracking_id = "notice 42";
	build_fails(&s, &m, "tracking_id");
	m.tracking_id = "notice/42";
	build_fails(&s, &m, "tracking_id");
	free(t48);
	free(t49);
	m.tracking_id = NULL;

	s.driver = CHD_MAX;
	build_fails(&s, &m, "unknown driver");
	s.driver = (enum channel_driver)-3;
	build_fails(&s, &m, "unknown driver");
	s = oa_settings();

	/* NULL arguments and NULL err */
	assert_int_equal(channel_build(NULL, &m, &req, err, sizeof err),
			 -EINVAL);
	assert_int_equal(channel_build(&s, NULL, &req, err, sizeof err),
			 -EINVAL);
	assert_int_equal(channel_build(&s, &m, NULL, err, sizeof err),
			 -EINVAL);
	assert_int_equal(channel_build(&s, &m, &req, NULL, 0), 0);
	channel_request_clear(&req);
	m.text = NULL;
	assert_int_equal(channel_build(&s, &m, &req, NULL, 0), -EINVAL);
	assert_int_equal(channel_build(&s, &m, &req, err, 1), -EINVAL);
	assert_string_equal(err, "");

	/* clearing is idempotent and NULL-safe */
	channel_request_clear(&req);
	channel_request_clear(&req);
	channel_request_clear(NULL);
}

/* ---- build: OA ---- */

static void test_oa_build(void **state)
{
	struct channel_settings s = oa_settings();
	struct channel_message m = {
		.recipient = "2512523625412515",
		.text = "Họp thôn lúc 19h30 tối nay \"ở nhà văn hoá\"",
		.tracking_id = "t-1",
	};
	struct channel_request req = { 0 };
	(void)state;

	build_ok(&s, &m, &req);
	assert_string_equal(req.url,
			    "https://openapi.zalo.me/v3.0/oa/message/cs");
	assert_headers(&req, 2, "access_token: oa-token-1",
		       "Content-Type: application/json");
	assert_null(req.userpwd);
	assert_string_equal(req.body,
		"{\"recipient\":{\"user_id\":\"2512523625412515\"},"
		"\"message\":{\"text\":\"Họp thôn lúc 19h30 tối nay "
		"\\\"ở nhà văn hoá\\\"\"}}");
	json_t *j = body_json(&req);
	assert_int_equal(json_object_size(j), 2);
	json_t *rc = json_object_get(j, "recipient");
	assert_int_equal(json_object_size(rc), 1);
	assert_string_equal(jstr(rc, "user_id"), "2512523625412515");
	json_t *msg = json_object_get(j, "message");
	assert_int_equal(json_object_size(msg), 1);
	assert_string_equal(jstr(msg, "text"), m.text);
	json_decref(j);
	channel_request_clear(&req);

	/* 2,000 characters (code points, not bytes) */
	char *t2000 = repeat("ệ", 2000), *t2001 = repeat("ệ", 2001);
	m.text = t2000;
	build_ok(&s, &m, &req);
	j = body_json(&req);
	assert_string_equal(jstr(json_object_get(j, "message"), "text"), t2000);
	json_decref(j);
	channel_request_clear(&req);
	m.text = t2001;
	build_fails(&s, &m, "2001 characters, more than the 2000 allowed");
	free(t2000);
	free(t2001);

	m.text = "";
	build_fails(&s, &m, "message text is empty");
	m.text = NULL;
	build_fails(&s, &m, "message text is empty");
	m.text = "bad \xFF byte";
	build_fails(&s, &m, "not valid UTF-8");
	m.text = "ok";
	s.access_token = NULL;
	build_fails(&s, &m, "zalo_oa: access_token is not set");
}

/* ---- build: Messenger ---- */

static void test_messenger_build(void **state)
{
	struct channel_settings s = messenger_settings();
	struct channel_message m = {
		.recipient = "1254459154682919",
		.text = "Hop to dan pho 19h30 thu Sau tai nha van hoa",
	};
	struct channel_request req = { 0 };
	(void)state;

	build_ok(&s, &m, &req);
	assert_string_equal(req.url, "https://graph.facebook.com/v19.0/me/"
				     "messages?access_token=EAAB1");
	/* the token travels only in the query */
	assert_headers(&req, 1, "Content-Type: application/json");
	assert_null(req.userpwd);
	assert_string_equal(req.body,
		"{\"recipient\":{\"id\":\"1254459154682919\"},"
		"\"messaging_type\":\"MESSAGE_TAG\","
		"\"tag\":\"CONFIRMED_EVENT_UPDATE\","
		"\"message\":{\"text\":\"Hop to dan pho 19h30 thu Sau tai nha "
		"van hoa\"}}");
	json_t *j = body_json(&req);
	assert_int_equal(json_object_size(j), 4);
	assert_string_equal(jstr(json_object_get(j, "recipient"), "id"),
			    "1254459154682919");
	assert_string_equal(jstr(j, "messaging_type"), "MESSAGE_TAG");
	assert_string_equal(jstr(j, "tag"), "CONFIRMED_EVENT_UPDATE");
	assert_string_equal(jstr(json_object_get(j, "message"), "text"),
			    m.text);
	json_decref(j);
	channel_request_clear(&req);

	/* a token needing encoding, and a url with a query already */
	s.access_token = "EA+b/c=d&e f%~._-";
	s.url = "https://graph.facebook.com/v19.0/123/messages?debug=all";
	build_ok(&s, &m, &req);
	assert_string_equal(req.url,
		"https://graph.facebook.com/v19.0/123/messages?debug=all"
		"&access_token=EA%2Bb%2Fc%3Dd%26e%20f%25~._-");
	channel_request_clear(&req);
	s.url = "http://127.0.0.1:9000/messages?";
	build_ok(&s, &m, &req);
	assert_string_equal(req.url,
			    "http://127.0.0.1:9000/messages?"
			    "access_token=EA%2Bb%2Fc%3Dd%26e%20f%25~._-");
	channel_request_clear(&req);
	s.url = "http://127.0.0.1:9000/messages?x=1&";
	build_ok(&s, &m, &req);
	assert_string_equal(req.url,
			    "http://127.0.0.1:9000/messages?x=1&"
			    "access_token=EA%2Bb%2Fc%3Dd%26e%20f%25~._-");
	channel_request_clear(&req);
	s = messenger_settings();

	/* RESPONSE and UPDATE carry no tag, even when one is configured */
	static const char *const types[] = { "RESPONSE", "UPDATE" };
	for (size_t i = 0; i < 2; i++) {
		s.messaging_type = types[i];
		s.tag = "ACCOUNT_UPDATE";
		build_ok(&s, &m, &req);
		j = body_json(&req);
		assert_int_equal(json_object_size(j), 3);
		assert_string_equal(jstr(j, "messaging_type"), types[i]);
		assert_null(json_object_get(j, "tag"));
		json_decref(j);
		channel_request_clear(&req);
	}
	s.messaging_type = "MESSAGE_TAG";
	s.tag = "ACCOUNT_UPDATE";
	build_ok(&s, &m, &req);
	j = body_json(&req);
	assert_string_equal(jstr(j, "tag"), "ACCOUNT_UPDATE");
	json_decref(j);
	channel_request_clear(&req);

	s.messaging_type = "NON_PROMOTIONAL";
	build_fails(&s, &m, "messaging_type must be");
	s.messaging_type = NULL;

	char *t2000 = repeat("đ", 2000), *t2001 = repeat("a", 2001);
	m.text = t2000;
	build_ok(&s, &m, &req);
	channel_request_clear(&req);
	m.text = t2001;
	build_fails(&s, &m, "more than the 2000 allowed");
	free(t2000);
	free(t2001);
	m.text = "x";
	s.access_token = "a\nb";
	build_fails(&s, &m, "access_token contains control characters");
}

/* ---- build: eSMS ---- */

static void test_esms_build(void **state)
{
	struct channel_settings s = esms_settings();
	struct channel_message m = {
		.recipient = PHONE,
		.text = "Họp thôn Đông Tân lúc 19h30, nhà văn hoá",
		.tracking_id = "notice-42-household-17",
	};
	struct channel_request req = { 0 };
	(void)state;

	build_ok(&s, &m, &req);
	assert_string_equal(req.url, "https://rest.esms.vn/MainService.svc/"
				     "json/SendMultipleMessage_V4_post_json/");
	assert_headers(&req, 1, "Content-Type: application/json");
	assert_null(req.userpwd);
	assert_string_equal(req.body,
		"{\"ApiKey\":\"KEY1\",\"SecretKey\":\"SECRET1\","
		"\"Phone\":\"0912345678\","
		"\"Content\":\"Hop thon Dong Tan luc 19h30, nha van hoa\","
		"\"Brandname\":\"XaDongTan\",\"SmsType\":\"2\","
		"\"IsUnicode\":\"0\","
		"\"RequestId\":\"notice-42-household-17\"}");
	json_t *j = body_json(&req);
	assert_int_equal(json_object_size(j), 8);
	assert_string_equal(jstr(j, "ApiKey"), "KEY1");
	assert_string_equal(jstr(j, "SecretKey"), "SECRET1");
	assert_string_equal(jstr(j, "Phone"), "0912345678");
	assert_string_equal(jstr(j, "Content"),
			    "Hop thon Dong Tan luc 19h30, nha van hoa");
	assert_string_equal(jstr(j, "Brandname"), "XaDongTan");
	assert_string_equal(jstr(j, "SmsType"), "2");
	assert_string_equal(jstr(j, "IsUnicode"), "0");
	assert_string_equal(jstr(j, "RequestId"), "notice-42-household-17");
	assert_null(json_object_get(j, "CallbackUrl"));
	json_decref(j);
	channel_request_clear(&req);

	/* unicode keeps the text; SmsType and CallbackUrl as configured */
	s.unicode = true;
	s.sms_type = "8";
	s.callback_url = "https://loaxa.example/hooks/esms?k=s3cret";
	build_ok(&s, &m, &req);
	j = body_json(&req);
	assert_int_equal(json_object_size(j), 9);
	assert_string_equal(jstr(j, "Content"), m.text);
	assert_string_equal(jstr(j, "IsUnicode"), "1");
	assert_string_equal(jstr(j, "SmsType"), "8");
	assert_string_equal(jstr(j, "CallbackUrl"),
			    "https://loaxa.example/hooks/esms?k=s3cret");
	json_decref(j);
	channel_request_clear(&req);

	/* without unicode nothing but ASCII is left */
	s = esms_settings();
	m.text = "“Mời” ông bà – đúng giờ… 20°C \xF0\x9F\x93\xA2 ĐỦ";
	m.tracking_id = NULL;
	build_ok(&s, &m, &req);
	j = body_json(&req);
	assert_int_equal(json_object_size(j), 7);
	assert_null(json_object_get(j, "RequestId"));
	assert_string_equal(jstr(j, "Content"),
			    "\"Moi\" ong ba - dung gio... 20oC ? DU");
	json_decref(j);
	channel_request_clear(&req);

	m.text = "x";
	s.api_key = NULL;
	build_fails(&s, &m, "esms: api_key is not set");
	s = esms_settings();
	s.secret_key = "";
	build_fails(&s, &m, "esms: secret_key is not set");
	s = esms_settings();
	s.brandname = NULL;
	build_fails(&s, &m, "esms: brandname is not set");
	s = esms_settings();
	m.text = "";
	build_fails(&s, &m, "esms: message text is empty");
	/* nothing but combining marks: nothing left to send unaccented */
	m.text = "\xCC\x81\xCC\x83";
	build_fails(&s, &m, "empty without diacritics");
	s.unicode = true;
	build_ok(&s, &m, &req);
	channel_request_clear(&req);
}

/* ---- build: Twilio ---- */

static void test_twilio_build(void **state)
{
	struct channel_settings s = twilio_settings();
	struct channel_message m = {
		.recipient = PHONE,
		.text = "Họp thôn 19h30 & bầu cử: a+b=c 100%",
		.tracking_id = "t1",
	};
	struct channel_request req = { 0 };
	struct form f;
	(void)state;

	build_ok(&s, &m, &req);
	assert_string_equal(req.url, "https://api.twilio.com/2010-04-01/"
				     "Accounts/AC123/Messages.json");
	assert_headers(&req, 1,
		       "Content-Type: application/x-www-form-urlencoded");
	assert_string_equal(req.userpwd, "AC123:tok456");
	assert_string_equal(req.body,
		"To=%2B84912345678&From=%2B15005550006&Body=H%E1%BB%8Dp%20th"
		"%C3%B4n%2019h30%20%26%20b%E1%BA%A7u%20c%E1%BB%AD%3A%20a%2Bb"
		"%3Dc%20100%25");
	form_parse(req.body, &f);
	assert_int_equal(f.n, 3);
	assert_string_equal(form_get(&f, "To"), PHONE);
	assert_string_equal(form_get(&f, "From"), "+15005550006");
	assert_string_equal(form_get(&f, "Body"), m.text);
	assert_null(form_get(&f, "StatusCallback"));
	channel_request_clear(&req);
	assert_null(req.userpwd);

	s.callback_url = "https://loaxa.example/hooks/twilio?x=1&y=2";
	s.from = "MG Xa Dong Tan";
	build_ok(&s, &m, &req);
	form_parse(req.body, &f);
	assert_int_equal(f.n, 4);
	assert_string_equal(form_get(&f, "From"), "MG Xa Dong Tan");
	assert_string_equal(form_get(&f, "StatusCallback"),
			    "https://loaxa.example/hooks/twilio?x=1&y=2");
	assert_string_equal(f.name[3], "StatusCallback");
	channel_request_clear(&req);

	char *t1600 = repeat("ư", 1600), *t1601 = repeat("ư", 1601);
	m.text = t1600;
	build_ok(&s, &m, &req);
	form_parse(req.body, &f);
	assert_string_equal(form_get(&f, "Body"), t1600);
	channel_request_clear(&req);
	m.text = t1601;
	build_fails(&s, &m, "more than the 1600 allowed");
	free(t1600);
	free(t1601);
	m.text = "x";

	s = twilio_settings();
	s.account_sid = "AC:1";
	build_fails(&s, &m, "account_sid contains ':'");
	s = twilio_settings();
	s.account_sid = NULL;
	build_fails(&s, &m, "twilio: account_sid is not set");
	s = twilio_settings();
	s.auth_token = "";
	build_fails(&s, &m, "twilio: auth_token is not set");
	s = twilio_settings();
	s.from = NULL;
	build_fails(&s, &m, "twilio: from is not set");
}

/* ---- classify: common rules ---- */

static void test_classify_transport(void **state)
{
	static const struct {
		int err;
		const char *code;
	} rows[] = {
		{ -ETIMEDOUT, "timeout" },
		{ -ECONNREFUSED, "connection refused" },
		{ -ECONNRESET, "connection reset" },
		{ -EHOSTUNREACH, "host unreachable" },
		{ -E2BIG, "reply too large" },
		{ -ECANCELED, "cancelled" },
		{ -EPROTO, "protocol error" },
		{ -EIO, "I/O error" },
		{ ETIMEDOUT, "timeout" },
		{ -ENOEXEC, "transport error" },
		{ INT_MIN, "transport error" },
		{ INT_MAX, "transport error" },
	};
	(void)state;

	for (int d = 0; d < CHD_MAX; d++) {
		for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
			/* a body that would say "accepted" is ignored */
			const char *ok = "{\"error\":0,\"CodeResult\":\"100\"}";
			struct channel_result r = classify_full(
				d, rows[i].err, 200, ok, strlen(ok), 5000);
			assert_int_equal(r.outcome, CHO_TRANSIENT);
			assert_string_equal(r.code, rows[i].code);
			assert_int_equal(r.retry_after_ms, 5000);
			assert_string_equal(r.msg_id, "");
		}
	}
	struct channel_result r = classify_full(CHD_ZNS, -ETIMEDOUT, 0, NULL,
						0, -7);
	assert_int_equal(r.retry_after_ms, -1);
	assert_string_equal(r.message, "transport: no reply in time");
}

static void test_classify_status(void **state)
{
	static const char *const html =
		"<html><head><title>502 Bad Gateway</title></head>\r\n<body>"
		"<center><h1>502 Bad Gateway</h1></center><hr>"
		"<center>nginx</center></body></html>";
	(void)state;

	for (int d = 0; d < CHD_MAX; d++) {
		struct channel_result r;

		r = classify_full(d, 0, 429, "", 0, 30000);
		assert_int_equal(r.outcome, CHO_RATE_LIMITED);
		assert_string_equal(r.code, "HTTP 429");
		assert_int_equal(r.retry_after_ms, 30000);
		r = classify_full(d, 0, 429, NULL, 0, -1);
		assert_int_equal(r.outcome, CHO_RATE_LIMITED);
		assert_int_equal(r.retry_after_ms, -1);

		r = classify_full(d, 0, 502, html, strlen(html), -1);
		assert_int_equal(r.outcome, CHO_TRANSIENT);
		assert_string_equal(r.code, "HTTP 502");
		assert_string_equal(r.message,
				    "provider error (HTTP 502): 502 Bad "
				    "Gateway 502 Bad Gateway nginx");
		r = classify_full(d, 0, 503, "", 0, 2000);
		assert_int_equal(r.outcome, CHO_TRANSIENT);
		assert_int_equal(r.retry_after_ms, 2000);
		assert_string_equal(r.code, "HTTP 503");
		expect(d, 500, "Internal Server Error", CHO_TRANSIENT,
		       "HTTP 500");
		expect(d, 599, "{}", CHO_TRANSIENT, "HTTP 599");

		expect(d, 401, "", CHO_AUTH, "HTTP 401");
		expect(d, 403, html, CHO_AUTH, "HTTP 403");
		expect(d, 401, "{\"unrelated\":true}", CHO_AUTH, "HTTP 401");
		expect(d, 404, "Not Found", CHO_CONFIG, "HTTP 404");
		expect(d, 405, "", CHO_CONFIG, "HTTP 405");
		expect(d, 410, "", CHO_CONFIG, "HTTP 410");
		expect(d, 301, "", CHO_CONFIG, "HTTP 301");
		expect(d, 413, "", CHO_PERMANENT, "HTTP 413");
		expect(d, 400, "garbage", CHO_TRANSIENT, "HTTP 400");
		expect(d, 408, "", CHO_TRANSIENT, "HTTP 408");
		expect(d, 200, "", CHO_TRANSIENT, "HTTP 200");
		expect(d, 200, "   ", CHO_TRANSIENT, "HTTP 200");
		expect(d, 200, "<html>ok</html>", CHO_TRANSIENT, "HTTP 200");
		expect(d, 200, "{\"error\":", CHO_TRANSIENT, "HTTP 200");
		expect(d, 200, "[1,2,3]", CHO_TRANSIENT, "HTTP 200");
		expect(d, 200, "\"string\"", CHO_TRANSIENT, "HTTP 200");
		expect(d, 200, "null", CHO_TRANSIENT, "HTTP 200");
		expect(d, 200, "{}", CHO_TRANSIENT, "HTTP 200");
		expect(d, 204, "", CHO_TRANSIENT, "HTTP 204");
		expect(d, 0, "", CHO_TRANSIENT, "HTTP 0");
		expect(d, -1, "{}", CHO_TRANSIENT, "HTTP -1");
		expect(d, 100, "", CHO_TRANSIENT, "HTTP 100");
		expect(d, 999, "", CHO_TRANSIENT, "HTTP 999");

		/* permanent and config outcomes carry no retry_after,
		 * whatever the header said */
		r = classify_full(d, 0, 404, "", 0, 1000);
		assert_int_equal(r.retry_after_ms, -1);
	}

	struct channel_result r = classify(CHD_ZNS, 200, "");
	assert_string_equal(r.message, "empty reply (HTTP 200)");
	r = classify(CHD_ZNS, 200, "not json at all");
	assert_string_equal(r.message,
			    "reply is not JSON (HTTP 200): not json at all");
	r = classify(CHD_ZNS, 200, "[1]");
	assert_string_equal(r.message,
			    "reply is not a JSON object (HTTP 200): [1]");
	r = classify(CHD_ZNS, 200, "{\"a\":1}");
	assert_string_equal(r.message,
			    "unrecognised reply (HTTP 200): {\"a\":1}");

	/* unknown driver */
	r = classify_full(CHD_MAX, 0, 200, "{}", 2, -1);
	assert_int_equal(r.outcome, CHO_CONFIG);
	channel_classify(CHD_ZNS, 0, 200, "{}", 2, -1, NULL);
}

/* ---- classify: ZNS ---- */

struct code_row {
	long long code;
	enum channel_outcome outcome;
};

static void test_zns_classify(void **state)
{
	static const struct code_row rows[] = {
		{ -100, CHO_TRANSIENT }, { -101, CHO_CONFIG },
		{ -102, CHO_CONFIG }, { -103, CHO_CONFIG },
		{ -104, CHO_CONFIG }, { -105, CHO_CONFIG },
		{ -106, CHO_CONFIG }, { -107, CHO_CONFIG },
		{ -108, CHO_PERMANENT }, { -109, CHO_CONFIG },
		{ -110, CHO_PERMANENT }, { -111, CHO_CONFIG },
		{ -112, CHO_CONFIG }, { -114, CHO_PERMANENT },
		{ -118, CHO_PERMANENT }, { -124, CHO_AUTH },
		{ -234, CHO_TRANSIENT },
		/* unknown negative: permanent for this message */
		{ -113, CHO_PERMANENT }, { -119, CHO_PERMANENT },
		{ -1, CHO_PERMANENT }, { -99999, CHO_PERMANENT },
		/* unknown positive: not Zalo's convention; retry */
		{ 7, CHO_TRANSIENT },
	};
	char body[256], code[32];
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		snprintf(body, sizeof body,
			 "{\"error\":%lld,\"message\":\"Zalo says %lld\"}",
			 rows[i].code, rows[i].code);
		snprintf(code, sizeof code, "%lld", rows[i].code);
		/* HTTP 200 and a 4xx alike: branch on error */
		expect(CHD_ZNS, 200, body, rows[i].outcome, code);
		expect(CHD_ZNS, 400, body, rows[i].outcome, code);
		struct channel_result r = classify(CHD_ZNS, 200, body);
		char want[64];
		snprintf(want, sizeof want, "Zalo says %lld", rows[i].code);
		assert_string_equal(r.message, want);
	}

	struct channel_result r = classify(CHD_ZNS, 200,
		"{\"error\":0,\"message\":\"Success\",\"data\":{\"msg_id\":"
		"\"a4d0243feee163bd3af2\",\"sent_time\":\"1626926349402\","
		"\"sending_mode\":\"1\",\"quota\":{\"dailyQuota\":\"500\","
		"\"remainingQuota\":\"499\"}}}");
	assert_int_equal(r.outcome, CHO_ACCEPTED);
	assert_string_equal(r.msg_id, "a4d0243feee163bd3af2");
	assert_string_equal(r.code, "0");
	assert_string_equal(r.message, "Success");
	assert_int_equal(r.retry_after_ms, -1);
	assert_int_equal(r.segments, 0);

	/* the success marker without an id: accepted, id empty */
	r = classify(CHD_ZNS, 200, "{\"error\":0,\"message\":\"Success\"}");
	assert_int_equal(r.outcome, CHO_ACCEPTED);
	assert_string_equal(r.msg_id, "");
	assert_string_equal(r.message,
			    "accepted, but the reply has no usable msg_id");
	r = classify(CHD_ZNS, 200, "{\"error\":0,\"data\":{\"msg_id\":[]}}");
	assert_int_equal(r.outcome, CHO_ACCEPTED);
	assert_string_equal(r.msg_id, "");
	r = classify(CHD_ZNS, 200,
		     "{\"error\":0,\"data\":{\"msg_id\":\"a b\"}}");
	assert_string_equal(r.msg_id, "");
	r = classify(CHD_ZNS, 200, "{\"error\":0,\"data\":{\"msg_id\":12345}}");
	assert_string_equal(r.msg_id, "12345");
	char *long_id = repeat("a", 128);
	char body2[300];
	snprintf(body2, sizeof body2,
		 "{\"error\":0,\"data\":{\"msg_id\":\"%s\"}}", long_id);
	r = classify(CHD_ZNS, 200, body2);
	assert_int_equal(r.outcome, CHO_ACCEPTED);
	assert_string_equal(r.msg_id, "");
	long_id[127] = '\0';
	snprintf(body2, sizeof body2,
		 "{\"error\":0,\"data\":{\"msg_id\":\"%s\"}}", long_id);
	r = classify(CHD_ZNS, 200, body2);
	assert_string_equal(r.msg_id, long_id);
	free(long_id);

	/* unknown code about quota: retry later */
	expect(CHD_ZNS, 200, "{\"error\":-115,\"message\":\"Out of quota\"}",
	       CHO_TRANSIENT, "-115");
	expect(CHD_ZNS, 200,
	       "{\"error\":-150,\"message\":\"daily QUOTA exhausted\"}",
	       CHO_TRANSIENT, "-150");
	/* a known code keeps its class even when the text says quota */
	expect(CHD_ZNS, 200, "{\"error\":-118,\"message\":\"quota\"}",
	       CHO_PERMANENT, "-118");

	/* error spelt as a string or an integral real is still read */
	expect(CHD_ZNS, 200, "{\"error\":\"-118\"}", CHO_PERMANENT, "-118");
	expect(CHD_ZNS, 200, "{\"error\":-124.0}", CHO_AUTH, "-124");
	r = classify(CHD_ZNS, 200, "{\"error\":-118}");
	assert_string_equal(r.message, "Zalo account does not exist");

	/* wrong types: not Zalo's reply */
	expect(CHD_ZNS, 200, "{\"error\":\"abc\"}", CHO_TRANSIENT, "HTTP 200");
	expect(CHD_ZNS, 200, "{\"error\":-1.5}", CHO_TRANSIENT, "HTTP 200");
	expect(CHD_ZNS, 200, "{\"error\":null}", CHO_TRANSIENT, "HTTP 200");
	expect(CHD_ZNS, 200, "{\"error\":true}", CHO_TRANSIENT, "HTTP 200");
	expect(CHD_ZNS, 200, "{\"error\":{}}", CHO_TRANSIENT, "HTTP 200");
	expect(CHD_ZNS, 200, "{\"error\":\"\"}", CHO_TRANSIENT, "HTTP 200");
	expect(CHD_ZNS, 200, "{\"error\":\"-\"}", CHO_TRANSIENT, "HTTP 200");
	expect(CHD_ZNS, 200, "{\"error\":1e300}", CHO_TRANSIENT, "HTTP 200");
	expect(CHD_ZNS, 200, "{\"error\":99999999999999999999}",
	       CHO_TRANSIENT, "HTTP 200");
	expect(CHD_ZNS, 401, "{\"error\":\"abc\"}", CHO_AUTH, "HTTP 401");
	/* a message of the wrong type falls back to the table's note */
	r = classify(CHD_ZNS, 200, "{\"error\":-108,\"message\":5}");
	assert_string_equal(r.message, "phone number invalid");

	/* 429 and 5xx decide, the provider's code is still reported */
	r = classify_full(CHD_ZNS, 0, 429,
			  "{\"error\":-118,\"message\":\"x\"}", SIZE_MAX, 1500);
	assert_int_equal(r.outcome, CHO_RATE_LIMITED);
	assert_string_equal(r.code, "-118");
	assert_int_equal(r.retry_after_ms, 1500);
	r = classify(CHD_ZNS, 503, "{\"error\":0,\"data\":{\"msg_id\":\"m\"}}");
	assert_int_equal(r.outcome, CHO_TRANSIENT);
	assert_string_equal(r.msg_id, "");
	assert_string_equal(r.code, "0");
}

/* ---- classify: OA ---- */

static void test_oa_classify(void **state)
{
	static const struct code_row rows[] = {
		{ -32, CHO_RATE_LIMITED }, { -201, CHO_CONFIG },
		{ -204, CHO_CONFIG }, { -205, CHO_CONFIG },
		{ -209, CHO_CONFIG }, { -211, CHO_TRANSIENT },
		{ -213, CHO_PERMANENT }, { -216, CHO_AUTH },
		{ -217, CHO_PERMANENT }, { -218, CHO_TRANSIENT },
		{ -220, CHO_AUTH }, { -221, CHO_CONFIG },
		{ -224, CHO_CONFIG }, { -227, CHO_PERMANENT },
		{ -230, CHO_PERMANENT }, { -232, CHO_PERMANENT },
		{ -233, CHO_CONFIG }, { -234, CHO_TRANSIENT },
		{ -240, CHO_CONFIG }, { -242, CHO_CONFIG },
		{ -244, CHO_PERMANENT }, { -248, CHO_CONFIG },
		{ -249, CHO_CONFIG }, { -305, CHO_PERMANENT },
		{ -311, CHO_PERMANENT }, { -320, CHO_CONFIG },
		{ -321, CHO_CONFIG },
		{ -100, CHO_PERMANENT }, { -999, CHO_PERMANENT },
	};
	char body[256], code[32];
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		snprintf(body, sizeof body,
			 "{\"error\":%lld,\"message\":\"oa %lld\"}",
			 rows[i].code, rows[i].code);
		snprintf(code, sizeof code, "%lld", rows[i].code);
		expect(CHD_ZALO_OA, 200, body, rows[i].outcome, code);
	}
	struct channel_result r = classify_full(CHD_ZALO_OA, 0, 200,
		"{\"error\":-32,\"message\":\"Your application/OA reached "
		"limit call api\"}", SIZE_MAX, 60000);
	assert_int_equal(r.outcome, CHO_RATE_LIMITED);
	assert_int_equal(r.retry_after_ms, 60000);

	r = classify(CHD_ZALO_OA, 200,
		"{\"data\":{\"message_id\":\"63ecf43f0df7dba892e6\","
		"\"user_id\":\"2512523625412515\",\"sent_time\":"
		"\"1626926349402\",\"quota\":{\"quota_type\":\"reply\","
		"\"remain\":\"8\",\"total\":\"8\"}},\"error\":0,"
		"\"message\":\"Success\"}");
	assert_int_equal(r.outcome, CHO_ACCEPTED);
	assert_string_equal(r.msg_id, "63ecf43f0df7dba892e6");
	assert_string_equal(r.code, "0");
	/* OA's id is message_id, not msg_id */
	r = classify(CHD_ZALO_OA, 200,
		     "{\"error\":0,\"data\":{\"msg_id\":\"x1\"}}");
	assert_int_equal(r.outcome, CHO_ACCEPTED);
	assert_string_equal(r.msg_id, "");
	assert_string_equal(r.message,
			    "accepted, but the reply has no usable message_id");
	expect(CHD_ZALO_OA, 200, "{\"error\":-999,\"message\":\"Out of quota "
	       "for this\"}", CHO_TRANSIENT, "-999");
	expect(CHD_ZALO_OA, 200, "{\"error\":\"x\"}", CHO_TRANSIENT,
	       "HTTP 200");
}

/* ---- classify: Messenger ---- */

static void test_messenger_classify(void **state)
{
	static const struct {
		long long code, sub; /* sub < 0: no error_subcode */
		enum channel_outcome outcome;
		const char *text;
	} rows[] = {
		{ 1, -1, CHO_TRANSIENT, "1" },
		{ 2, -1, CHO_TRANSIENT, "2" },
		{ 2, 2018344, CHO_TRANSIENT, "2/2018344" },
		{ 4, -1, CHO_RATE_LIMITED, "4" },
		{ 17, -1, CHO_RATE_LIMITED, "17" },
		{ 32, -1, CHO_RATE_LIMITED, "32" },
		{ 341, -1, CHO_RATE_LIMITED, "341" },
		{ 613, -1, CHO_RATE_LIMITED, "613" },
		{ 368, -1, CHO_CONFIG, "368" },
		{ 10, 2018278, CHO_PERMANENT, "10/2018278" },
		{ 10, 2534022, CHO_PERMANENT, "10/2534022" },
		{ 10, 2018108, CHO_PERMANENT, "10/2018108" },
		{ 10, 1893063, CHO_CONFIG, "10/1893063" },
		{ 10, -1, CHO_CONFIG, "10" },
		{ 10, 1234, CHO_CONFIG, "10/1234" },
		{ 190, -1, CHO_AUTH, "190" },
		{ 190, 463, CHO_AUTH, "190/463" },
		{ 102, -1, CHO_AUTH, "102" },
		{ 200, -1, CHO_CONFIG, "200" },
		{ 230, -1, CHO_CONFIG, "230" },
		{ 299, -1, CHO_CONFIG, "299" },
		{ 551, -1, CHO_PERMANENT, "551" },
		{ 551, 1545041, CHO_PERMANENT, "551/1545041" },
		{ 100, -1, CHO_PERMANENT, "100" },
		{ 100, 2018001, CHO_PERMANENT, "100/2018001" },
		{ 199, -1, CHO_CONFIG, "199" },
		/* unknown, no is_transient: permanent */
		{ 300, -1, CHO_PERMANENT, "300" },
		{ 9, -1, CHO_PERMANENT, "9" },
		{ 199999, 5, CHO_PERMANENT, "199999/5" },
	};
	char body[512];
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		char sub[48] = "";
		if (rows[i].sub >= 0)
			snprintf(sub, sizeof sub, ",\"error_subcode\":%lld",
				 rows[i].sub);
		snprintf(body, sizeof body,
			 "{\"error\":{\"message\":\"(#%lld) graph\","
			 "\"type\":\"OAuthException\",\"code\":%lld%s,"
			 "\"fbtrace_id\":\"BLBz/WZt8dN\"}}",
			 rows[i].code, rows[i].code, sub);
		expect(CHD_MESSENGER, 400, body, rows[i].outcome,
		       rows[i].text);
		expect(CHD_MESSENGER, 403, body, rows[i].outcome,
		       rows[i].text);
		expect(CHD_MESSENGER, 200, body, rows[i].outcome,
		       rows[i].text);
	}

	/* unknown codes honour is_transient */
	expect(CHD_MESSENGER, 400,
	       "{\"error\":{\"message\":\"x\",\"code\":777,"
	       "\"is_transient\":true}}", CHO_TRANSIENT, "777");
	expect(CHD_MESSENGER, 400,
	       "{\"error\":{\"message\":\"x\",\"code\":777,"
	       "\"is_transient\":false}}", CHO_PERMANENT, "777");
	expect(CHD_MESSENGER, 400,
	       "{\"error\":{\"message\":\"x\",\"code\":777,"
	       "\"is_transient\":\"true\"}}", CHO_PERMANENT, "777");
	/* ... but a known code keeps its class */
	expect(CHD_MESSENGER, 400,
	       "{\"error\":{\"code\":190,\"is_transient\":true}}", CHO_AUTH,
	       "190");

	struct channel_result r = classify(CHD_MESSENGER, 400,
		"{\"error\":{\"message\":\"Invalid OAuth access token.\","
		"\"type\":\"OAuthException\",\"code\":190,"
		"\"error_subcode\":1234567,\"error_user_title\":\"t\","
		"\"error_user_msg\":\"u\",\"fbtrace_id\":\"BLBz/WZt8dN\"}}");
	assert_int_equal(r.outcome, CHO_AUTH);
	assert_string_equal(r.code, "190/1234567");
	assert_string_equal(r.message, "Invalid OAuth access token.");

	r = classify(CHD_MESSENGER, 200,
		     "{\"recipient_id\":\"1254459154682919\",\"message_id\":"
		     "\"mid.1458668856218:ed81099e15d3f4f233\"}");
	assert_int_equal(r.outcome, CHO_ACCEPTED);
	assert_string_equal(r.msg_id, "mid.1458668856218:ed81099e15d3f4f233");
	assert_string_equal(r.code, "HTTP 200");
	/* no recipient_id (user_ref sends) is still a success */
	r = classify(CHD_MESSENGER, 200, "{\"message_id\":\"m_AG5Hz2\"}");
	assert_int_equal(r.outcome, CHO_ACCEPTED);
	assert_string_equal(r.msg_id, "m_AG5Hz2");

	/* no success marker: not proof of anything */
	expect(CHD_MESSENGER, 200, "{\"recipient_id\":\"125\"}",
	       CHO_TRANSIENT, "HTTP 200");
	expect(CHD_MESSENGER, 200, "{\"message_id\":\"\"}", CHO_TRANSIENT,
	       "HTTP 200");
	expect(CHD_MESSENGER, 400, "{\"message_id\":\"m\"}", CHO_TRANSIENT,
	       "HTTP 400");
	/* wrong types */
	expect(CHD_MESSENGER, 400, "{\"error\":\"bad\"}", CHO_TRANSIENT,
	       "HTTP 400");
	expect(CHD_MESSENGER, 400, "{\"error\":{\"code\":\"abc\"}}",
	       CHO_TRANSIENT, "HTTP 400");
	expect(CHD_MESSENGER, 403, "{\"error\":{\"message\":\"no code\"}}",
	       CHO_AUTH, "HTTP 403");
	expect(CHD_MESSENGER, 400,
	       "{\"error\":{\"code\":10,\"error_subcode\":\"x\"}}",
	       CHO_CONFIG, "10");
	expect(CHD_MESSENGER, 400,
	       "{\"error\":{\"code\":\"10\",\"error_subcode\":\"2018278\"}}",
	       CHO_PERMANENT, "10/2018278");

	/* HTTP 500 with Graph's code 2 */
	r = classify_full(CHD_MESSENGER, 0, 500,
			  "{\"error\":{\"message\":\"An unexpected error has "
			  "occurred.\",\"code\":2,\"is_transient\":true}}",
			  SIZE_MAX, 4000);
	assert_int_equal(r.outcome, CHO_TRANSIENT);
	assert_string_equal(r.code, "2");
	assert_int_equal(r.retry_after_ms, 4000);
}

/* ---- classify: eSMS ---- */

static void test_esms_classify(void **state)
{
	static const struct code_row rows[] = {
		{ 99, CHO_PERMANENT }, { 101, CHO_CONFIG },
		{ 102, CHO_CONFIG }, { 103, CHO_CONFIG },
		{ 104, CHO_CONFIG }, { 108, CHO_PERMANENT },
		{ 118, CHO_CONFIG }, { 140, CHO_CONFIG },
		{ 146, CHO_CONFIG }, { 160, CHO_RATE_LIMITED },
		{ 177, CHO_PERMANENT },
		/* unknown: transient */
		{ 105, CHO_TRANSIENT }, { 0, CHO_TRANSIENT },
		{ -1, CHO_TRANSIENT }, { 555, CHO_TRANSIENT },
	};
	char body[256], code[32];
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		snprintf(body, sizeof body,
			 "{\"CodeResult\":\"%lld\",\"ErrorMessage\":\"e%lld\"}",
			 rows[i].code, rows[i].code);
		snprintf(code, sizeof code, "%lld", rows[i].code);
		expect(CHD_ESMS, 200, body, rows[i].outcome, code);
		/* a number instead of a string reads the same */
		snprintf(body, sizeof body, "{\"CodeResult\":%lld}",
			 rows[i].code);
		expect(CHD_ESMS, 200, body, rows[i].outcome, code);
	}
	struct channel_result r = classify(CHD_ESMS, 200,
		"{\"CodeResult\":\"101\",\"ErrorMessage\":"
		"\"Authorize Failed\"}");
	assert_string_equal(r.message, "Authorize Failed");
	r = classify(CHD_ESMS, 200, "{\"CodeResult\":\"103\"}");
	assert_string_equal(r.message, "insufficient balance");

	r = classify(CHD_ESMS, 200,
		     "{\"CodeResult\":\"100\",\"CountRegenerate\":0,"
		     "\"SMSID\":\"9b6a4c0e-1f2b-4a7d-8a3e-2f1d8b7c6a51\"}");
	assert_int_equal(r.outcome, CHO_ACCEPTED);
	assert_string_equal(r.msg_id, "9b6a4c0e-1f2b-4a7d-8a3e-2f1d8b7c6a51");
	assert_string_equal(r.code, "100");
	assert_int_equal(r.retry_after_ms, -1);
	r = classify(CHD_ESMS, 200, "{\"CodeResult\":100,\"SMSID\":123456}");
	assert_int_equal(r.outcome, CHO_ACCEPTED);
	assert_string_equal(r.msg_id, "123456");
	r = classify(CHD_ESMS, 200, "{\"CodeResult\":\"100\"}");
	assert_int_equal(r.outcome, CHO_ACCEPTED);
	assert_string_equal(r.msg_id, "");
	assert_string_equal(r.message,
			    "accepted, but the reply has no usable SMSID");

	/* duplicate RequestId: the first send went through */
	r = classify(CHD_ESMS, 200,
		     "{\"CodeResult\":\"124\",\"ErrorMessage\":\"Duplicate "
		     "RequestId\"}");
	assert_int_equal(r.outcome, CHO_ACCEPTED);
	assert_string_equal(r.code, "124");
	assert_string_equal(r.msg_id, "");
	assert_non_null(strstr(r.message, "duplicate"));
	r = classify(CHD_ESMS, 200,
		     "{\"CodeResult\":\"124\",\"SMSID\":\"s1\"}");
	assert_int_equal(r.outcome, CHO_ACCEPTED);
	assert_string_equal(r.msg_id, "s1");

	/* a CodeResult that is not a number is eSMS's, but unknown */
	expect(CHD_ESMS, 200, "{\"CodeResult\":\"abc\"}", CHO_TRANSIENT,
	       "abc");
	expect(CHD_ESMS, 200, "{\"CodeResult\":\"\"}", CHO_TRANSIENT,
	       "HTTP 200");
	expect(CHD_ESMS, 200, "{\"CodeResult\":null}", CHO_TRANSIENT,
	       "HTTP 200");
	expect(CHD_ESMS, 200, "{\"codeResult\":\"100\"}", CHO_TRANSIENT,
	       "HTTP 200");
	expect(CHD_ESMS, 401, "{\"CodeResult\":[]}", CHO_AUTH, "HTTP 401");
}

/* ---- classify: Twilio ---- */

static void test_twilio_classify(void **state)
{
	static const struct code_row rows[] = {
		{ 20003, CHO_AUTH }, { 20429, CHO_RATE_LIMITED },
		{ 21211, CHO_PERMANENT }, { 21608, CHO_CONFIG },
		{ 21610, CHO_PERMANENT }, { 21612, CHO_PERMANENT },
		{ 21614, CHO_PERMANENT }, { 21635, CHO_PERMANENT },
		{ 30003, CHO_TRANSIENT }, { 30005, CHO_PERMANENT },
		{ 30006, CHO_PERMANENT }, { 30007, CHO_CONFIG },
		{ 30008, CHO_TRANSIENT },
		/* unknown 4xx: permanent */
		{ 21606, CHO_PERMANENT }, { 12345, CHO_PERMANENT },
	};
	char body[512], code[32];
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		snprintf(body, sizeof body,
			 "{\"code\":%lld,\"message\":\"twilio %lld\","
			 "\"more_info\":\"https://www.twilio.com/docs/errors/"
			 "%lld\",\"status\":400}",
			 rows[i].code, rows[i].code, rows[i].code);
		snprintf(code, sizeof code, "%lld", rows[i].code);
		expect(CHD_TWILIO, 400, body, rows[i].outcome, code);
	}
	/* an unknown code outside 4xx: transient */
	expect(CHD_TWILIO, 200, "{\"code\":12345,\"message\":\"x\"}",
	       CHO_TRANSIENT, "12345");
	expect(CHD_TWILIO, 500, "{\"code\":21211,\"message\":\"x\"}",
	       CHO_TRANSIENT, "21211");
	expect(CHD_TWILIO, 401,
	       "{\"code\":20003,\"message\":\"Authenticate\",\"more_info\":"
	       "\"https://www.twilio.com/docs/errors/20003\",\"status\":401}",
	       CHO_AUTH, "20003");
	struct channel_result r = classify_full(CHD_TWILIO, 0, 429,
		"{\"code\":20429,\"message\":\"Too Many Requests\"}", SIZE_MAX,
		1000);
	assert_int_equal(r.outcome, CHO_RATE_LIMITED);
	assert_string_equal(r.code, "20429");
	assert_string_equal(r.message, "Too Many Requests");
	assert_int_equal(r.retry_after_ms, 1000);

	/* Twilio quotes the number: it must not reach the message */
	r = classify(CHD_TWILIO, 400,
		     "{\"code\":21211,\"message\":\"The 'To' number "
		     "+84912345678 is not a valid phone number.\","
		     "\"status\":400}");
	assert_int_equal(r.outcome, CHO_PERMANENT);
	assert_string_equal(r.message,
			    "The 'To' number +*** is not a valid phone "
			    "number.");

	r = classify(CHD_TWILIO, 201,
		     "{\"account_sid\":\"AC123\","
		     "\"api_version\":\"2010-04-01\","
		     "\"body\":\"Hop thon\","
		     "\"date_created\":\"Thu, 24 Aug 2023 "
		     "05:01:45 +0000\",\"direction\":\"outbound-api\","
		     "\"error_code\":null,\"error_message\":null,\"from\":"
		     "\"+15005550006\",\"num_media\":\"0\","
		     "\"num_segments\":\"2\",\"price\":null,"
		     "\"sid\":\"SM1f0e8ae6ade43cb3c0ce4525424e404f\","
		     "\"status\":\"queued\",\"to\":\"+84912345678\"}");
	assert_int_equal(r.outcome, CHO_ACCEPTED);
	assert_string_equal(r.msg_id, "SM1f0e8ae6ade43cb3c0ce4525424e404f");
	assert_int_equal(r.segments, 2);
	assert_string_equal(r.code, "HTTP 201");
	assert_string_equal(r.message, "queued");
	r = classify(CHD_TWILIO, 200, "{\"sid\":\"SM1\",\"num_segments\":3}");
	assert_int_equal(r.outcome, CHO_ACCEPTED);
	assert_int_equal(r.segments, 3);
	r = classify(CHD_TWILIO, 201,
		     "{\"sid\":\"SM1\",\"num_segments\":\"x\"}");
	assert_int_equal(r.outcome, CHO_ACCEPTED);
	assert_int_equal(r.segments, 0);
	r = classify(CHD_TWILIO, 201, "{\"sid\":\"SM1\",\"num_segments\":-4}");
	assert_int_equal(r.segments, 0);

	/* no sid: not a success */
	expect(CHD_TWILIO, 201, "{\"status\":\"queued\"}", CHO_TRANSIENT,
	       "HTTP 201");
	expect(CHD_TWILIO, 201, "{\"sid\":7.5}", CHO_TRANSIENT, "HTTP 201");
	expect(CHD_TWILIO, 400, "{\"sid\":\"SM1\"}", CHO_TRANSIENT,
	       "HTTP 400");
	expect(CHD_TWILIO, 400, "{\"code\":\"abc\"}", CHO_TRANSIENT,
	       "HTTP 400");
}

/* ---- classify: texts are safe to store and log ---- */

static void test_classify_sanitize(void **state)
{
	struct channel_result r;
	(void)state;

	/* invalid UTF-8 and control characters in a proxy's page */
	static const char bad[] = "bad \xFF\xC3( gateway\x01\x7F\tend";
	r = classify_full(CHD_ESMS, 0, 502, bad, sizeof bad - 1, -1);
	assert_string_equal(r.message, "provider error (HTTP 502): bad "
				       "\xEF\xBF\xBD\xEF\xBF\xBD( gateway   "
				       "end");

	/* tokens echoed back are redacted */
	r = classify(CHD_MESSENGER, 400,
		     "{\"error\":{\"message\":\"Bad token EAAGm0PX4ZCpsBAHZC2"
		     "kZAZD8ZCnZB4ZBZAZCXYZ123abc used\",\"code\":190}}");
	assert_string_equal(r.message, "Bad token [redacted] used");

	/* numbers, however spaced, are masked; short ones stay */
	r = classify(CHD_ESMS, 200,
		     "{\"CodeResult\":\"99\",\"ErrorMessage\":\"Phone 0912 345 "
		     "678 blocked, 84.912.345.678 too; code 12345678 kept\"}");
	assert_string_equal(r.message, "Phone *** blocked, *** too; code "
				       "12345678 kept");

	/* long messages are cut on a code point */
	char *longmsg = repeat("ệ", 400);
	char *body = malloc(strlen(longmsg) + 64);
	assert_non_null(body);
	sprintf(body, "{\"error\":-118,\"message\":\"%s\"}", longmsg);
	r = classify(CHD_ZNS, 200, body);
	assert_int_equal(strlen(r.message), 255);
	assert_int_equal(strncmp(r.message, longmsg, 255), 0);
	free(body);
	free(longmsg);

	/* a newline in the provider's message becomes a space */
	r = classify(CHD_ZNS, 200,
		     "{\"error\":-118,\"message\":\"line1\\nline2\\u2028x\"}");
	assert_string_equal(r.message, "line1 line2 x");

	/* the code is bounded as well */
	char *longcode = repeat("x", 200);
	body = malloc(300);
	assert_non_null(body);
	snprintf(body, 300, "{\"CodeResult\":\"%s\"}", longcode);
	r = classify(CHD_ESMS, 200, body);
	assert_int_equal(r.outcome, CHO_TRANSIENT);
	assert_int_equal(strlen(r.code), sizeof r.code - 1);
	free(body);
	free(longcode);
}

static void test_classify_huge(void **state)
{
	struct channel_result r;
	(void)state;

	/* 2 MiB of JSON: parsed, the message cut */
	size_t n = 2 * 1024 * 1024;
	char *body = malloc(n + 64);
	assert_non_null(body);
	size_t pos = (size_t)sprintf(body, "{\"error\":-124,\"message\":\"");
	memset(body + pos, 'a', n);
	pos += n;
	pos += (size_t)sprintf(body + pos, "\"}");
	r = classify_full(CHD_ZNS, 0, 200, body, pos, -1);
	assert_int_equal(r.outcome, CHO_AUTH);
	assert_int_equal(strlen(r.message), 255);
	free(body);

	/* 5 MiB: not even parsed */
	n = 5 * 1024 * 1024;
	body = malloc(n);
	assert_non_null(body);
	memset(body, ' ', n);
	memcpy(body, "{\"error\":0}", 11);
	r = classify_full(CHD_ZNS, 0, 200, body, n, -1);
	assert_int_equal(r.outcome, CHO_TRANSIENT);
	assert_string_equal(r.code, "HTTP 200");
	assert_non_null(strstr(r.message, "too large"));

	/* deep nesting */
	memset(body, '[', n);
	r = classify_full(CHD_MESSENGER, 0, 200, body, 100000, -1);
	assert_int_equal(r.outcome, CHO_TRANSIENT);
	/* NUL bytes inside the body */
	memcpy(body, "{\"error\":\"\\u0000\"}\0trailing", 27);
	r = classify_full(CHD_ZNS, 0, 200, body, 27, -1);
	assert_int_equal(r.outcome, CHO_TRANSIENT);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_zns_build),
		cmocka_unit_test(test_zns_build_errors),
		cmocka_unit_test(test_recipients),
		cmocka_unit_test(test_build_common),
		cmocka_unit_test(test_oa_build),
		cmocka_unit_test(test_messenger_build),
		cmocka_unit_test(test_esms_build),
		cmocka_unit_test(test_twilio_build),
		cmocka_unit_test(test_classify_transport),
		cmocka_unit_test(test_classify_status),
		cmocka_unit_test(test_zns_classify),
		cmocka_unit_test(test_oa_classify),
		cmocka_unit_test(test_messenger_classify),
		cmocka_unit_test(test_esms_classify),
		cmocka_unit_test(test_twilio_classify),
		cmocka_unit_test(test_classify_sanitize),
		cmocka_unit_test(test_classify_huge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
