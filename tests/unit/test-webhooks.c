/* test-webhooks.c: provider webhooks and RSVP replies (providers.md §1.4-1.5,
 * §3, §4.4-4.5, §5.1, §5.4).
 *
 * Signatures are checked against vectors computed outside the module: with
 * `openssl dgst` (pasted as constants), Twilio's own library test vectors
 * (twilio-python tests/unit/test_request_validator.py), and libcrypto
 * one-shot calls made here on buffers the test concatenates itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "loaxa/text.h"
#include "loaxa/util.h"
#include "loaxa/webhooks.h"

/* ---- samples ---- */

/* providers.md §1.4, on one line. */
#define ZNS_BODY                                                             \
	"{\"sender\":{\"id\":\"2893352839501541173\"},"                      \
	"\"recipient\":{\"id\":\"84123456789\"},"                            \
	"\"event_name\":\"user_received_message\","                          \
	"\"message\":{\"delivery_time\":\"1602960467432\","                  \
	"\"msg_id\":\"15a0cc0bbb13bd4ce403\","                               \
	"\"tracking_id\":\"tracking_id\"},"                                  \
	"\"app_id\":\"2074138120372622546\",\"timestamp\":\"1602560967477\"}"
#define ZNS_SECRET "oa-Secret-Key-9x"
/* printf '%s%s%s%s' 2074138120372622546 "$ZNS_BODY" 1602560967477
 *   oa-Secret-Key-9x | openssl dgst -sha256 */
#define ZNS_MAC \
	"fb46110191d7ffa20cc74cf5f7ba1d67364952c5b64b8c6602f09d82abb80ada"

/* providers.md §4.4 message_deliveries in the page envelope. */
#define FB_BODY                                                              \
	"{\"object\":\"page\",\"entry\":[{\"id\":\"682498171943165\","       \
	"\"time\":1458692752478,\"messaging\":[{\"sender\":{\"id\":"         \
	"\"1254459154682919\"},\"recipient\":{\"id\":\"682498171943165\"},"  \
	"\"delivery\":{\"mids\":[\"mid.1458668856218:ed81099e15d3f4f233\"]," \
	"\"watermark\":1458668856253}}]}]}"
#define FB_SECRET "fb-app-secret-1"
/* printf '%s' "$FB_BODY" | openssl dgst -sha256 -hmac fb-app-secret-1 */
#define FB_MAC \
	"1541ba55c9293f667e86de3561e83c7f8d8e53c43917d0f2219c99987f9bbbc9"

static char err[256];

static void upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

static void hex(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* The Zalo MAC computed here: one buffer, one EVP_Digest call. */
static void zalo_mac(const char *app_id, const char *body, const char *ts,
		     const char *secret, char out[65])
{
	char buf[8192];
	unsigned char md[32];
	int n = snprintf(buf, sizeof buf, "%s%s%s%s", app_id, body, ts, secret);
	assert_true(n > 0 && (size_t)n < sizeof buf);
	assert_int_equal(EVP_Digest(buf, (size_t)n, md, NULL, EVP_sha256(),
				    NULL), 1);
	hex(md, 32, out);
}

static int zalo(const char *body, struct webhook_event_list *l)
{
	err[0] = '\0';
	return webhooks_parse_zalo(body, strlen(body), l, err, sizeof err);
}

static int fb(const char *body, struct webhook_event_list *l)
{
	err[0] = '\0';
	return webhooks_parse_messenger(body, strlen(body), l, err, sizeof err);
}

#define NPARAMS(k) (sizeof(k) / sizeof((k)[0]))

static bool is_empty(const struct webhook_event_list *l)
{
	return l->n == 0 && l->events == NULL && l->skipped == 0 &&
	       l->dropped == 0;
}

/* ---- signatures ---- */

static void test_zalo_signature_vector(void **state)
{
	(void)state;
	const char *b = ZNS_BODY;
	size_t n = strlen(b);
	char h[128];

	assert_true(webhooks_verify_zalo(b, n, ZNS_SECRET, "mac=" ZNS_MAC));
	assert_true(webhooks_verify_zalo(b, n, ZNS_SECRET, ZNS_MAC));
	assert_true(webhooks_verify_zalo(b, n, ZNS_SECRET,
					 " mac = " ZNS_MAC " "));
	snprintf(h, sizeof h, "mac=%s", ZNS_MAC);
	upper(h); /* "MAC=FB46..." */
	assert_true(webhooks_verify_zalo(b, n, ZNS_SECRET, h));

	/* the module agrees with the digest computed here */
	char mac[65];
	zalo_mac("2074138120372622546", b, "1602560967477", ZNS_SECRET, mac);
	assert_string_equal(mac, ZNS_MAC);
}

static void test_zalo_signature_rejects(void **state)
{
	(void)state;
	const char *b = ZNS_BODY;
	size_t n = strlen(b);
	char copy[sizeof ZNS_BODY], h[80];

	assert_false(webhooks_verify_zalo(b, n, "oa-Secret-Key-9X",
					  "mac=" ZNS_MAC));
	assert_false(webhooks_verify_zalo(b, n, "", "mac=" ZNS_MAC));
	assert_false(webhooks_verify_zalo(b, n, NULL, "mac=" ZNS_MAC));
	assert_false(webhooks_verify_zalo(b, n, ZNS_SECRET, NULL));
	assert_false(webhooks_verify_zalo(b, n, ZNS_SECRET, ""));
	assert_false(webhooks_verify_zalo(b, n, ZNS_SECRET, "mac="));
	/* one hex digit short, one too many, one wrong, not hex */
	snprintf(h, sizeof h, "mac=%.63s", ZNS_MAC);
	assert_false(webhooks_verify_zalo(b, n, ZNS_SECRET, h));
	snprintf(h, sizeof h, "mac=%s0", ZNS_MAC);
	assert_false(webhooks_verify_zalo(b, n, ZNS_SECRET, h));
	snprintf(h, sizeof h, "mac=%s", ZNS_MAC);
	h[10] = h[10] == '0' ? '1' : '0';
	assert_false(webhooks_verify_zalo(b, n, ZNS_SECRET, h));
	snprintf(h, sizeof h, "mac=%s", ZNS_MAC);
	h[20] = 'g';
	assert_false(webhooks_verify_zalo(b, n, ZNS_SECRET, h));
	assert_false(webhooks_verify_zalo(b, n, ZNS_SECRET, "sha256=" ZNS_MAC));
	/* a forged MAC: the digest without the secret */
	char forged[65];
	zalo_mac("2074138120372622546", b, "1602560967477", "", forged);
	assert_false(webhooks_verify_zalo(b, n, ZNS_SECRET, forged));
	/* every single byte of the body matters */
	for (size_t i = 0; i < n; i++) {
		memcpy(copy, b, n + 1);
		copy[i] ^= 0x01;
		assert_false(webhooks_verify_zalo(copy, n, ZNS_SECRET,
						  "mac=" ZNS_MAC));
	}
	/* the body cut short by one byte */
	assert_false(webhooks_verify_zalo(b, n - 1, ZNS_SECRET,
					  "mac=" ZNS_MAC));
	assert_false(webhooks_verify_zalo(NULL, 0, ZNS_SECRET, "mac=" ZNS_MAC));
}

static void test_zalo_signature_computed(void **state)
{
	(void)state;
	char mac[65], h[80];
	/* numbers for app_id and timestamp are concatenated as written */
	const char *b1 = "{\"app_id\":123456789,\"timestamp\":1700000000123,"
			 "\"event_name\":\"follow\"}";
	zalo_mac("123456789", b1, "1700000000123", "s3cr3t", mac);
	snprintf(h, sizeof h, "mac=%s", mac);
	assert_true(webhooks_verify_zalo(b1, strlen(b1), "s3cr3t", h));
	assert_false(webhooks_verify_zalo(b1, strlen(b1), "s3cr3", h));

	/* Vietnamese text in the body: raw bytes, not re-serialised */
	const char *b2 = "{ \"app_id\" : \"42\",\n \"event_name\": "
			 "\"user_send_text\", \"message\": {\"text\": "
			 "\"C\\u00f3 \xe1\xba\xa1\"}, \"timestamp\": \"5\" }";
	zalo_mac("42", b2, "5", "k", mac);
	assert_true(webhooks_verify_zalo(b2, strlen(b2), "k", mac));

	/* no app_id or no timestamp in the body: cannot be verified */
	const char *b3 = "{\"timestamp\":\"5\"}";
	zalo_mac("", b3, "5", "k", mac);
	assert_false(webhooks_verify_zalo(b3, strlen(b3), "k", mac));
	const char *b4 = "{\"app_id\":\"1\"}";
	zalo_mac("1", b4, "", "k", mac);
	assert_false(webhooks_verify_zalo(b4, strlen(b4), "k", mac));
	/* a real number is not an id */
	const char *b5 = "{\"app_id\":1.5,\"timestamp\":\"5\"}";
	zalo_mac("1.5", b5, "5", "k", mac);
	assert_false(webhooks_verify_zalo(b5, strlen(b5), "k", mac));
	/* not JSON at all */
	zalo_mac("", "garbage", "", "k", mac);
	assert_false(webhooks_verify_zalo("garbage", 7, "k", mac));
}

static void test_messenger_signature(void **state)
{
	(void)state;
	const char *b = FB_BODY;
	size_t n = strlen(b);
	char h[96], copy[sizeof FB_BODY];

	assert_true(webhooks_verify_messenger(b, n, FB_SECRET,
					      "sha256=" FB_MAC));
	snprintf(h, sizeof h, "sha256=%s", FB_MAC);
	upper(h);
	assert_true(webhooks_verify_messenger(b, n, FB_SECRET, h));

	assert_false(webhooks_verify_messenger(b, n, FB_SECRET, FB_MAC));
	assert_false(webhooks_verify_messenger(b, n, FB_SECRET,
					       "sha1=" FB_MAC));
	assert_false(webhooks_verify_messenger(b, n, "fb-app-secret-2",
					       "sha256=" FB_MAC));
	assert_false(webhooks_verify_messenger(b, n, "", "sha256=" FB_MAC));
	assert_false(webhooks_verify_messenger(b, n, FB_SECRET, NULL));
	assert_false(webhooks_verify_messenger(b, n, FB_SECRET, ""));
	assert_false(webhooks_verify_messenger(b, n, FB_SECRET, "sha256="));
	for (size_t i = 0; i < n; i += 7) {
		memcpy(copy, b, n + 1);
		copy[i] = copy[i] == 'x' ? 'y' : 'x';
		assert_false(webhooks_verify_messenger(copy, n, FB_SECRET,
						       "sha256=" FB_MAC));
	}
	assert_false(webhooks_verify_messenger(b, n + 0 - 1, FB_SECRET,
					       "sha256=" FB_MAC));

	/* an HMAC computed here with the one-shot API */
	const char *b2 = "{\"object\":\"page\",\"entry\":[]}";
	unsigned char md[32];
	unsigned int mdlen = 0;
	char hx[65];
	assert_non_null(HMAC(EVP_sha256(), "k2", 2, (const unsigned char *)b2,
			     strlen(b2), md, &mdlen));
	hex(md, 32, hx);
	snprintf(h, sizeof h, "sha256=%s", hx);
	assert_true(webhooks_verify_messenger(b2, strlen(b2), "k2", h));

	/* the limit is inclusive; one byte more is refused even with a
	 * correct signature */
	size_t big = WEBHOOKS_BODY_MAX + 1;
	char *p = malloc(big);
	assert_non_null(p);
	memset(p, ' ', big);
	assert_non_null(HMAC(EVP_sha256(), "k2", 2, (unsigned char *)p,
			     big - 1, md, &mdlen));
	hex(md, 32, hx);
	snprintf(h, sizeof h, "sha256=%s", hx);
	assert_true(webhooks_verify_messenger(p, big - 1, "k2", h));
	assert_non_null(HMAC(EVP_sha256(), "k2", 2, (unsigned char *)p, big,
			     md, &mdlen));
	hex(md, 32, hx);
	snprintf(h, sizeof h, "sha256=%s", hx);
	assert_false(webhooks_verify_messenger(p, big, "k2", h));
	free(p);
}

/* twilio-python tests/unit/test_request_validator.py */
static const char *const tw_keys[] = { "CallSid", "Digits", "From", "To",
				       "Caller" };
static const char *const tw_vals[] = { "CA1234567890ABCDE", "1234",
				       "+14158675309", "+18005551212",
				       "+14158675309" };
#define TW_URI "https://mycompany.com/myapp.php?foo=1&bar=2"

static void test_twilio_signature_library_vectors(void **state)
{
	(void)state;
	size_t n = NPARAMS(tw_keys);

	assert_true(webhooks_verify_twilio(TW_URI, tw_keys, tw_vals, n, "12345",
					   "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
	/* signed with ":443" added; with a port that is removed */
	assert_true(webhooks_verify_twilio(TW_URI, tw_keys, tw_vals, n, "12345",
					   "kvajT1Ptam85bY51eRf/AJRuM3w="));
	assert_true(webhooks_verify_twilio(
		"https://mycompany.com:1234/myapp.php?foo=1&bar=2", tw_keys,
		tw_vals, n, "12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
	assert_true(webhooks_verify_twilio(
		"http://mycompany.com:1234/myapp.php?foo=1&bar=2", tw_keys,
		tw_vals, n, "12345", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="));
	assert_true(webhooks_verify_twilio(
		"http://mycompany.com/myapp.php?foo=1&bar=2", tw_keys, tw_vals,
		n, "12345", "0ZXoZLH/DfblKGATFgpif+LLRf4="));
	/* a repeated name: its values sorted too */
	const char *const dk[] = { "Sid", "SidAccount", "Digits", "Digits" };
	const char *const dv[] = { "CA123", "AC123", "5678", "1234" };
	assert_true(webhooks_verify_twilio(TW_URI, dk, dv, 4, "12345",
					   "IK+Dwps556ElfBT0I3Rgjkr1wJU="));

	/* wrong token, changed value, extra or missing parameter */
	assert_false(webhooks_verify_twilio(TW_URI, tw_keys, tw_vals, n,
					    "12346",
					    "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
	const char *const v2[] = { "CA1234567890ABCDE", "1235", "+14158675309",
				   "+18005551212", "+14158675309" };
	assert_false(webhooks_verify_twilio(TW_URI, tw_keys, v2, n, "12345",
					    "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
	assert_false(webhooks_verify_twilio(TW_URI, tw_keys, tw_vals, n - 1,
					    "12345",
					    "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
	/* another path, another query */
	assert_false(webhooks_verify_twilio(
		"https://mycompany.com/myapp.php?foo=1&bar=3", tw_keys, tw_vals,
		n, "12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
	/* base64 is case-sensitive; no header; empty token */
	assert_false(webhooks_verify_twilio(TW_URI, tw_keys, tw_vals, n,
					    "12345",
					    "rsoydt4t1cutdk1pdd93/vvr8b8="));
	assert_false(webhooks_verify_twilio(TW_URI, tw_keys, tw_vals, n,
					    "12345", NULL));
	assert_false(webhooks_verify_twilio(TW_URI, tw_keys, tw_vals, n,
					    "12345", ""));
	assert_false(webhooks_verify_twilio(TW_URI, tw_keys, tw_vals, n, "",
					    "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
	assert_false(webhooks_verify_twilio(NULL, tw_keys, tw_vals, n, "12345",
					    "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
}

static void test_twilio_signature_status_callback(void **state)
{
	(void)state;
	/* given unsorted, as a form arrives; the URL has a query string.
	 * printf '%s' '<url>AccountSidAC..ApiVersion2010-04-01ErrorCode30003
	 * From+15005550006MessageSidSM..MessageStatusundeliveredTo+84912345678'
	 * | openssl dgst -sha1 -hmac tw-auth-token-1 -binary | base64 */
	const char *const k[] = { "To", "MessageStatus", "MessageSid",
				  "From", "ErrorCode", "ApiVersion",
				  "AccountSid" };
	const char *const v[] = { "+84912345678", "undelivered",
				  "SM0123456789abcdef0123456789abcdef",
				  "+15005550006", "30003", "2010-04-01",
				  "AC0123456789abcdef0123456789abcdef" };
	const char *url =
		"https://loaxa.example.vn/webhooks/twilio?ch=sms1&x=1";

	assert_true(webhooks_verify_twilio(url, k, v, NPARAMS(k),
					   "tw-auth-token-1",
					   "7seyyYq1CBKRT85UpIEJs5GAUrE="));
	assert_true(webhooks_verify_twilio(url, k, v, NPARAMS(k),
					   "tw-auth-token-1",
					   " 7seyyYq1CBKRT85UpIEJs5GAUrE= "));
	assert_false(webhooks_verify_twilio(
		"https://loaxa.example.vn/webhooks/twilio?ch=sms1", k, v,
		NPARAMS(k), "tw-auth-token-1", "7seyyYq1CBKRT85UpIEJs5GAUrE="));
	assert_false(webhooks_verify_twilio(url, k, v, NPARAMS(k),
					    "tw-auth-token-2",
					    "7seyyYq1CBKRT85UpIEJs5GAUrE="));
	assert_false(webhooks_verify_twilio(url, k, v, NPARAMS(k),
					    "tw-auth-token-1",
					    "7seyyYq1CBKRT85UpIEJs5GAUrE"));
	/* no parameters at all: the URL alone is signed */
	unsigned char md[20];
	unsigned int mdlen = 0;
	unsigned char b64[40];
	assert_non_null(HMAC(EVP_sha1(), "tok", 3, (const unsigned char *)url,
			     strlen(url), md, &mdlen));
	assert_int_equal(EVP_EncodeBlock(b64, md, 20), 28);
	assert_true(webhooks_verify_twilio(url, NULL, NULL, 0, "tok",
					   (const char *)b64));
}

static void test_verify_secret(void **state)
{
	(void)state;
	const char *want = "Zx8-long-random";

	assert_true(webhooks_verify_secret("Zx8-long-random", want));
	assert_false(webhooks_verify_secret("Zx8-long-randoM", want));
	assert_false(webhooks_verify_secret("Zx8-long-rando", want));
	assert_false(webhooks_verify_secret("Zx8-long-random1", want));
	assert_false(webhooks_verify_secret("", want));
	assert_false(webhooks_verify_secret(NULL, want));
	assert_false(webhooks_verify_secret("", ""));
	assert_false(webhooks_verify_secret("x", NULL));
}

static void test_messenger_handshake(void **state)
{
	(void)state;
	const char *ch = "untouched";

	assert_int_equal(webhooks_messenger_handshake("subscribe", "vt-1",
						      "1158201444", "vt-1",
						      &ch), 0);
	assert_string_equal(ch, "1158201444");
	ch = "untouched";
	assert_int_equal(webhooks_messenger_handshake("subscribe", "vt-2",
						      "1158201444", "vt-1",
						      &ch), -EACCES);
	assert_int_equal(webhooks_messenger_handshake("unsubscribe", "vt-1",
						      "1158201444", "vt-1",
						      &ch), -EACCES);
	assert_int_equal(webhooks_messenger_handshake(NULL, "vt-1", "1",
						      "vt-1", &ch), -EACCES);
	assert_int_equal(webhooks_messenger_handshake("subscribe", NULL, "1",
						      "vt-1", &ch), -EACCES);
	assert_int_equal(webhooks_messenger_handshake("subscribe", "", "1", "",
						      &ch), -EACCES);
	assert_int_equal(webhooks_messenger_handshake("subscribe", "vt-1",
						      NULL, "vt-1", &ch),
			 -EACCES);
	assert_int_equal(webhooks_messenger_handshake("subscribe", "vt-1", "",
						      "vt-1", &ch), -EACCES);
	assert_int_equal(webhooks_messenger_handshake(
				 "subscribe", "vt-1", "<script>", "vt-1", &ch),
			 -EACCES);
	char longc[200];
	memset(longc, '7', sizeof longc - 1);
	longc[sizeof longc - 1] = '\0';
	assert_int_equal(webhooks_messenger_handshake("subscribe", "vt-1",
						      longc, "vt-1", &ch),
			 -EACCES);
	assert_string_equal(ch, "untouched");
}

/* ---- Zalo ---- */

static void test_zalo_zns_receipt(void **state)
{
	(void)state;
	_cleanup_(webhook_event_list_clear) struct webhook_event_list l = { 0 };

	assert_int_equal(zalo(ZNS_BODY, &l), 0);
	assert_int_equal(l.n, 1);
	const struct webhook_event *e = &l.events[0];
	assert_int_equal(e->kind, WE_DELIVERED);
	assert_int_equal(e->provider, CHD_ZNS);
	assert_string_equal(e->msg_id, "15a0cc0bbb13bd4ce403");
	assert_string_equal(e->tracking_id, "tracking_id");
	/* 84 + 123456789 is no Vietnamese mobile: kept as given */
	assert_string_equal(e->sender, "84123456789");
	assert_int_equal(e->at_ms, 1602960467432);
	assert_int_equal(e->watermark_ms, 0);
	assert_null(e->text);
	assert_string_equal(e->code, "");
	webhook_event_list_clear(&l);

	/* numbers instead of strings; a phone that normalises */
	assert_int_equal(
		zalo("{\"sender\":{\"id\":\"1\"},\"recipient\":{\"id\":"
		     "\"84912345678\"},"
		     "\"event_name\":\"user_received_message\","
		     "\"message\":{\"delivery_time\":1602960467432,\"msg_id\":"
		     "\"abc\",\"tracking_id\":\"b12-h0045\"},\"app_id\":"
		     "2074138120372622546,\"timestamp\":1602560967477}", &l),
		0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.events[0].sender, "+84912345678");
	assert_string_equal(l.events[0].tracking_id, "b12-h0045");
	assert_int_equal(l.events[0].at_ms, 1602960467432);
	webhook_event_list_clear(&l);

	/* without delivery_time the event timestamp is used */
	assert_int_equal(
		zalo("{\"event_name\":\"user_received_message\",\"message\":"
		     "{\"msg_id\":\"abc\",\"tracking_id\":\"t1\"},"
		     "\"timestamp\":\"1602560967477\"}", &l),
		0);
	assert_int_equal(l.events[0].provider, CHD_ZNS);
	assert_int_equal(l.events[0].at_ms, 1602560967477);
	assert_string_equal(l.events[0].sender, "");
}

static void test_zalo_oa_events(void **state)
{
	(void)state;
	_cleanup_(webhook_event_list_clear) struct webhook_event_list l = { 0 };

	/* OA chat receipt: only msg_id, sender is the OA */
	assert_int_equal(
		zalo("{\"app_id\":\"1\","
		     "\"sender\":{\"id\":\"579745863508352884\"},"
		     "\"recipient\":{\"id\":\"2512523625412515\"},"
		     "\"event_name\":\"user_received_message\","
		     "\"message\":{\"msg_id\":\"63ecf43f0df7dba892e6\"},"
		     "\"timestamp\":\"1677721300000\"}",
		     &l),
		0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.events[0].kind, WE_DELIVERED);
	assert_int_equal(l.events[0].provider, CHD_ZALO_OA);
	assert_string_equal(l.events[0].sender, "2512523625412515");
	assert_string_equal(l.events[0].msg_id, "63ecf43f0df7dba892e6");
	assert_int_equal(l.events[0].at_ms, 1677721300000);
	webhook_event_list_clear(&l);

	/* seen: one event per id */
	assert_int_equal(
		zalo("{\"app_id\":\"1\",\"sender\":{\"id\":\"5797\"},"
		     "\"recipient\":{\"id\":\"2512523625412515\"},"
		     "\"event_name\":\"user_seen_message\","
		     "\"message\":{\"msg_ids\":[\"a1\",\"b2\",\"c3\"]},"
		     "\"timestamp\":\"1677721400000\"}", &l),
		0);
	assert_int_equal(l.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(l.events[i].kind, WE_READ);
		assert_int_equal(l.events[i].provider, CHD_ZALO_OA);
		assert_string_equal(l.events[i].sender, "2512523625412515");
		assert_int_equal(l.events[i].at_ms, 1677721400000);
	}
	assert_string_equal(l.events[0].msg_id, "a1");
	assert_string_equal(l.events[2].msg_id, "c3");
	webhook_event_list_clear(&l);

	/* a follower writes */
	assert_int_equal(
		zalo("{\"app_id\":\"1\","
		     "\"sender\":{\"id\":\"2512523625412515\"},"
		     "\"user_id_by_app\":\"552177279717587730\","
		     "\"recipient\":{\"id\":\"5797\"},\"event_name\":"
		     "\"user_send_text\",\"message\":{\"text\":\"  Có ạ \","
		     "\"msg_id\":\"96d3cdf3af150460909\"},\"timestamp\":"
		     "\"1677721200000\"}", &l),
		0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.events[0].kind, WE_REPLY);
	assert_int_equal(l.events[0].provider, CHD_ZALO_OA);
	assert_string_equal(l.events[0].sender, "2512523625412515");
	assert_string_equal(l.events[0].msg_id, "96d3cdf3af150460909");
	assert_string_equal(l.events[0].text, "Có ạ");
	assert_int_equal(l.events[0].at_ms, 1677721200000);
	webhook_event_list_clear(&l);

	/* not ours: answered 200, nothing kept */
	assert_int_equal(zalo("{\"app_id\":\"1\",\"follower\":{\"id\":\"9\"},"
			      "\"event_name\":\"follow\",\"timestamp\":\"1\"}",
			      &l), -ENOMSG);
	assert_int_equal(zalo("{\"event_name\":\"user_send_image\",\"sender\":"
			      "{\"id\":\"9\"},\"message\":{\"msg_id\":\"x\","
			      "\"attachments\":[]}}", &l), -ENOMSG);
	assert_int_equal(zalo("{\"event_name\":\"change_template_status\"}",
			      &l), -ENOMSG);
	assert_int_equal(zalo("{\"event_name\":\"user_send_text\",\"sender\":"
			      "{\"id\":\"9\"},\"message\":{\"msg_id\":\"x\","
			      "\"text\":\" \\n\\t \"}}", &l), -ENOMSG);
	assert_int_equal(zalo("{\"event_name\":\"user_seen_message\","
			      "\"message\":{\"msg_ids\":[]}}", &l), -ENOMSG);
	assert_true(is_empty(&l));
}

static void test_zalo_invalid(void **state)
{
	(void)state;
	struct webhook_event_list l = { 0 };
	static const char *const bad[] = {
		"",
		"not json",
		"[1,2]",
		"{\"event_name\":5}",
		"{\"message\":{}}",
		"{\"event_name\":\"user_received_message\"}",
		"{\"event_name\":\"user_received_message\",\"message\":[]}",
		"{\"event_name\":\"user_received_message\",\"message\":{}}",
		"{\"event_name\":\"user_received_message\",\"message\":"
		"{\"msg_id\":\"\"}}",
		"{\"event_name\":\"user_received_message\",\"message\":"
		"{\"msg_id\":\"has space\"}}",
		"{\"event_name\":\"user_received_message\",\"message\":"
		"{\"msg_id\":1.5}}",
		"{\"event_name\":\"user_received_message\",\"message\":"
		"{\"msg_id\":\"a\",\"delivery_time\":\"soon\"}}",
		"{\"event_name\":\"user_received_message\",\"message\":"
		"{\"msg_id\":\"a\",\"delivery_time\":-5}}",
		"{\"event_name\":\"user_received_message\",\"message\":"
		"{\"msg_id\":\"a\"},\"timestamp\":\"12x\"}",
		"{\"event_name\":\"user_received_message\",\"message\":"
		"{\"msg_id\":\"a\"},\"timestamp\":\"99999999999999999999\"}",
		"{\"event_name\":\"user_received_message\",\"message\":"
		"{\"msg_id\":\"a\",\"tracking_id\":{}}}",
		"{\"event_name\":\"user_seen_message\",\"message\":"
		"{\"msg_ids\":[\"a\",7.5]}}",
		"{\"event_name\":\"user_seen_message\",\"message\":"
		"{\"msg_ids\":\"a\"}}",
		"{\"event_name\":\"user_send_text\","
		"\"message\":{\"text\":\"x\"}}",
		"{\"event_name\":\"user_send_text\",\"sender\":{\"id\":\"9\"},"
		"\"message\":{\"text\":5}}",
		"{\"event_name\":\"user_send_text\",\"sender\":{\"id\":\"9\"},"
		"\"message\":{}}",
		/* duplicate keys are refused */
		"{\"event_name\":\"follow\",\"event_name\":\"user_send_text\"}",
		/* NUL inside a string */
		"{\"event_name\":\"user_send_text\",\"sender\":{\"id\":\"9\"},"
		"\"message\":{\"text\":\"a\\u0000b\"}}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		int r = zalo(bad[i], &l);
		if (r != -EINVAL)
			fail_msg("case %zu: %d", i, r);
		assert_true(err[0] != '\0');
		assert_true(is_empty(&l));
	}

	/* an id longer than its field */
	char body[1024], id[200];
	memset(id, 'a', sizeof id - 1);
	id[sizeof id - 1] = '\0';
	snprintf(body, sizeof body,
		 "{\"event_name\":\"user_received_message\",\"message\":"
		 "{\"msg_id\":\"%s\"}}", id);
	assert_int_equal(zalo(body, &l), -EINVAL);
	snprintf(body, sizeof body,
		 "{\"event_name\":\"user_received_message\",\"message\":"
		 "{\"msg_id\":\"a\",\"tracking_id\":\"%.64s\"}}", id);
	assert_int_equal(zalo(body, &l), -EINVAL);
	snprintf(body, sizeof body,
		 "{\"event_name\":\"user_received_message\",\"message\":"
		 "{\"msg_id\":\"a\",\"tracking_id\":\"%.63s\"}}", id);
	assert_int_equal(zalo(body, &l), 0);
	assert_int_equal(strlen(l.events[0].tracking_id), 63);
	webhook_event_list_clear(&l);

	/* the reason never quotes the body (a phone number in it) */
	assert_int_equal(zalo("{\"recipient\":{\"id\":0912345678}}", &l),
			 -EINVAL);
	assert_null(strstr(err, "0912345678"));
	assert_non_null(strstr(err, "invalid JSON"));

	/* oversized */
	size_t big = WEBHOOKS_BODY_MAX + 1;
	char *p = malloc(big);
	assert_non_null(p);
	memset(p, ' ', big);
	p[0] = '{';
	p[big - 1] = '}';
	assert_int_equal(webhooks_parse_zalo(p, big, &l, err, sizeof err),
			 -EINVAL);
	assert_non_null(strstr(err, "too large"));
	assert_int_equal(webhooks_parse_zalo(p, big - 1, &l, NULL, 0),
			 -EINVAL); /* no closing brace: still invalid */
	free(p);
	assert_true(is_empty(&l));
}

/* ---- Messenger ---- */

static void test_messenger_delivery_read(void **state)
{
	(void)state;
	_cleanup_(webhook_event_list_clear) struct webhook_event_list l = { 0 };

	assert_int_equal(fb(FB_BODY, &l), 0);
	assert_int_equal(l.n, 1);
	const struct webhook_event *e = &l.events[0];
	assert_int_equal(e->kind, WE_DELIVERED);
	assert_int_equal(e->provider, CHD_MESSENGER);
	assert_string_equal(e->msg_id, "mid.1458668856218:ed81099e15d3f4f233");
	assert_string_equal(e->sender, "1254459154682919");
	assert_int_equal(e->watermark_ms, 1458668856253);
	assert_int_equal(e->at_ms, 1458668856253);
	webhook_event_list_clear(&l);

	/* watermark without mids */
	assert_int_equal(
		fb("{\"object\":\"page\",\"entry\":[{\"messaging\":["
		   "{\"sender\":{\"id\":\"1254459154682919\"},"
		   "\"recipient\":{\"id\":\"6\"},\"timestamp\":1458668856300,"
		   "\"delivery\":{\"watermark\":\"1458668856253\"}}]}]}", &l),
		0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.events[0].kind, WE_DELIVERED);
	assert_string_equal(l.events[0].msg_id, "");
	assert_int_equal(l.events[0].watermark_ms, 1458668856253);
	assert_int_equal(l.events[0].at_ms, 1458668856300);
	webhook_event_list_clear(&l);

	/* message_reads (providers.md §4.4) */
	assert_int_equal(
		fb("{\"object\":\"page\",\"entry\":[{\"messaging\":["
		   "{\"sender\":{\"id\":\"1254459154682919\"},"
		   "\"recipient\":{\"id\":\"682498171943165\"},"
		   "\"timestamp\":1458668856463,\"read\":"
		   "{\"watermark\":1458668856253}}]}]}", &l),
		0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.events[0].kind, WE_READ);
	assert_string_equal(l.events[0].msg_id, "");
	assert_int_equal(l.events[0].watermark_ms, 1458668856253);
	assert_int_equal(l.events[0].at_ms, 1458668856463);
	webhook_event_list_clear(&l);

	/* several mids: one event each, same watermark */
	assert_int_equal(
		fb("{\"object\":\"page\",\"entry\":[{\"messaging\":["
		   "{\"sender\":{\"id\":\"77\"},"
		   "\"delivery\":{\"mids\":[\"m_1\",\"m_2\",\"m_3\"],"
		   "\"watermark\":1000}}]}]}", &l),
		0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.events[1].msg_id, "m_2");
	assert_int_equal(l.events[2].watermark_ms, 1000);
	assert_string_equal(l.events[2].sender, "77");
}

static void test_messenger_batch(void **state)
{
	(void)state;
	_cleanup_(webhook_event_list_clear) struct webhook_event_list l = { 0 };
	const char *b =
		"{\"object\":\"page\",\"entry\":["
		"{\"id\":\"P\",\"time\":1,\"messaging\":["
		"{\"sender\":{\"id\":\"A\"},\"recipient\":{\"id\":\"P\"},"
		"\"delivery\":{\"mids\":[\"m_a1\"],\"watermark\":100}},"
		"{\"sender\":{\"id\":\"A\"},\"recipient\":{\"id\":\"P\"},"
		"\"timestamp\":250,\"read\":{\"watermark\":200}}]},"
		"{\"id\":\"P\",\"time\":2,\"messaging\":["
		"{\"sender\":{\"id\":\"B\"},\"recipient\":{\"id\":\"P\"},"
		"\"timestamp\":300,\"message\":{\"mid\":\"m_b1\",\"text\":"
		"\"Không đi được ạ\"}},"
		"{\"sender\":{\"id\":\"P\"},\"recipient\":{\"id\":\"B\"},"
		"\"timestamp\":301,\"message\":{\"mid\":\"m_echo\",\"is_echo\":"
		"true,\"text\":\"Họp thôn 19h30\"}},"
		"{\"sender\":{\"id\":\"B\"},\"recipient\":{\"id\":\"P\"},"
		"\"timestamp\":302,\"postback\":{\"payload\":\"X\"}},"
		"{\"sender\":{\"id\":\"B\"},\"recipient\":{\"id\":\"P\"},"
		"\"timestamp\":303,\"message\":{\"mid\":\"m_sticker\","
		"\"attachments\":[{\"type\":\"image\"}]}}]},"
		"{\"id\":\"P\",\"time\":3,\"changes\":[{\"field\":\"feed\"}]},"
		"{\"id\":\"P\",\"time\":4,"
		"\"standby\":[{\"sender\":{\"id\":\"C\"}}]},"
		"{\"id\":\"P\",\"time\":5,\"messaging\":["
		"{\"sender\":{\"id\":\"C\"},\"delivery\":{\"watermark\":400}}]}"
		"]}";

	assert_int_equal(fb(b, &l), 0);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.skipped, 0);
	assert_int_equal(l.dropped, 0);
	assert_int_equal(l.events[0].kind, WE_DELIVERED);
	assert_string_equal(l.events[0].sender, "A");
	assert_string_equal(l.events[0].msg_id, "m_a1");
	assert_int_equal(l.events[1].kind, WE_READ);
	assert_int_equal(l.events[1].at_ms, 250);
	assert_int_equal(l.events[1].watermark_ms, 200);
	assert_int_equal(l.events[2].kind, WE_REPLY);
	assert_string_equal(l.events[2].sender, "B");
	assert_string_equal(l.events[2].msg_id, "m_b1");
	assert_string_equal(l.events[2].text, "Không đi được ạ");
	assert_int_equal(l.events[2].at_ms, 300);
	assert_int_equal(l.events[3].kind, WE_DELIVERED);
	assert_string_equal(l.events[3].sender, "C");
	assert_string_equal(l.events[3].msg_id, "");
	assert_int_equal(l.events[3].watermark_ms, 400);
	for (size_t i = 0; i < l.n; i++)
		if (l.events[i].kind != WE_REPLY)
			assert_null(l.events[i].text);
}

static void test_messenger_malformed_items(void **state)
{
	(void)state;
	_cleanup_(webhook_event_list_clear) struct webhook_event_list l = { 0 };
	char mid[300];
	memset(mid, 'm', sizeof mid - 1);
	mid[sizeof mid - 1] = '\0';
	char b[2048];

	/* one good item, a malformed one, one with a huge mid */
	snprintf(b, sizeof b,
		 "{\"object\":\"page\",\"entry\":[{\"messaging\":["
		 "{\"sender\":{\"id\":\"A\"},\"delivery\":{\"watermark\":1}},"
		 "{\"sender\":{},\"delivery\":{\"watermark\":1}},"
		 "{\"sender\":{\"id\":\"A\"},\"delivery\":{\"mids\":[\"%s\"],"
		 "\"watermark\":1}},"
		 "{\"sender\":{\"id\":\"A\"},\"read\":{}},"
		 "7]},5]}", mid);
	assert_int_equal(fb(b, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.skipped, 5);
	assert_non_null(strstr(err, "sender.id"));
	webhook_event_list_clear(&l);

	/* nothing but malformed items */
	assert_int_equal(fb("{\"object\":\"page\",\"entry\":[{\"messaging\":"
			    "[{\"delivery\":{\"watermark\":1}}]}]}", &l),
			 -EINVAL);
	assert_true(is_empty(&l));
	assert_int_equal(fb("{\"object\":\"page\",\"entry\":[{\"messaging\":"
			    "[{\"sender\":{\"id\":\"A\"},\"delivery\":"
			    "{\"watermark\":\"x\"}}]}]}", &l), -EINVAL);
	assert_int_equal(fb("{\"object\":\"page\",\"entry\":[{\"messaging\":"
			    "[{\"sender\":{\"id\":\"A\"},\"delivery\":"
			    "{\"mids\":\"m_1\",\"watermark\":1}}]}]}", &l),
			 -EINVAL);
	assert_int_equal(fb("{\"object\":\"page\",\"entry\":[{\"messaging\":"
			    "[{\"sender\":{\"id\":\"A\"},\"message\":"
			    "{\"text\":\"hi\"}}]}]}", &l), -EINVAL);
	assert_int_equal(fb("{\"object\":\"page\",\"entry\":[{\"messaging\":"
			    "{}}]}", &l), -EINVAL);
	/* envelope */
	assert_int_equal(fb("{\"entry\":[]}", &l), -EINVAL);
	assert_int_equal(fb("{\"object\":\"page\"}", &l), -EINVAL);
	assert_int_equal(fb("{\"object\":\"page\",\"entry\":{}}", &l), -EINVAL);
	assert_int_equal(fb("[]", &l), -EINVAL);
	/* well-formed, nothing tracked */
	assert_int_equal(fb("{\"object\":\"instagram\",\"entry\":[]}", &l),
			 -ENOMSG);
	assert_int_equal(fb("{\"object\":\"page\",\"entry\":[]}", &l), -ENOMSG);
	assert_int_equal(fb("{\"object\":\"page\",\"entry\":[{\"messaging\":"
			    "[{\"sender\":{\"id\":\"A\"},\"postback\":{}}]}]}",
			    &l), -ENOMSG);
	assert_true(is_empty(&l));
}

static void test_messenger_cap(void **state)
{
	(void)state;
	_cleanup_(webhook_event_list_clear) struct webhook_event_list l = { 0 };
	struct buf b;

	buf_init(&b, 1 << 20);
	assert_int_equal(buf_printf(&b, "{\"object\":\"page\",\"entry\":[{"
				    "\"messaging\":[{\"sender\":{\"id\":\"A\"},"
				    "\"delivery\":{\"watermark\":9,\"mids\":["),
			 0);
	for (int i = 0; i < 1500; i++)
		assert_int_equal(buf_printf(&b, "%s\"m_%d\"", i ? "," : "", i),
				 0);
	assert_int_equal(buf_printf(&b, "]}},{\"sender\":{\"id\":\"B\"},"
				    "\"message\":{\"mid\":\"x\",\"text\":"
				    "\"late\"}}]}]}"), 0);
	assert_int_equal(webhooks_parse_messenger(b.data, b.len, &l, err,
						  sizeof err), 0);
	assert_int_equal(l.n, WEBHOOKS_EVENTS_MAX);
	assert_int_equal(l.dropped, 501); /* 500 mids + the reply */
	assert_string_equal(l.events[999].msg_id, "m_999");
	buf_free(&b);
}

static void test_reply_text_sanitised(void **state)
{
	(void)state;
	_cleanup_(webhook_event_list_clear) struct webhook_event_list l = { 0 };
	struct buf b;

	/* controls dropped (\t and \n kept), ends trimmed */
	assert_int_equal(
		fb("{\"object\":\"page\",\"entry\":[{\"messaging\":["
		   "{\"sender\":{\"id\":\"A\"},"
		   "\"message\":{\"mid\":\"m\",\"text\":"
		   "\"\\r\\n Dạ\\u0007 có\\r\\n\\tạ\\u001b\\u0085 \"}}]}]}",
		   &l),
		0);
	assert_string_equal(l.events[0].text, "Dạ có\n\tạ");
	webhook_event_list_clear(&l);

	/* 2,500 two-byte letters: cut at 2,000 code points */
	buf_init(&b, 1 << 16);
	assert_int_equal(buf_printf(&b, "{\"object\":\"page\",\"entry\":[{"
				    "\"messaging\":[{\"sender\":{\"id\":\"A\"},"
				    "\"message\":{\"mid\":\"m\",\"text\":\""),
			 0);
	for (int i = 0; i < 2500; i++)
		assert_int_equal(buf_append(&b, "đ", 2), 0);
	assert_int_equal(buf_printf(&b, "\"}}]}]}"), 0);
	assert_int_equal(webhooks_parse_messenger(b.data, b.len, &l, err,
						  sizeof err), 0);
	assert_int_equal(strlen(l.events[0].text), 2 * WEBHOOKS_TEXT_MAX);
	assert_true(text_utf8_valid(l.events[0].text,
				    strlen(l.events[0].text)));
	buf_free(&b);
	webhook_event_list_clear(&l);

	/* only blanks: no reply */
	assert_int_equal(
		fb("{\"object\":\"page\",\"entry\":[{\"messaging\":["
		   "{\"sender\":{\"id\":\"A\"},"
		   "\"message\":{\"mid\":\"m\",\"text\":"
		   "\" \\u00a0\\r\\n\"}}]}]}", &l),
		-ENOMSG);
}

/* ---- eSMS ---- */

static int esms(const char *const *k, const char *const *v, size_t n,
		struct webhook_event_list *l)
{
	err[0] = '\0';
	return webhooks_parse_esms_query(k, v, n, l, err, sizeof err);
}

static void test_esms_reports(void **state)
{
	(void)state;
	_cleanup_(webhook_event_list_clear) struct webhook_event_list l = { 0 };

	/* eSMS callback-url.md, Viber sample: one success */
	const char *const k1[] = { "SMSID", "SendFailed", "SendStatus",
				   "SendSuccess", "TotalPrice",
				   "TotalReceiver", "TotalSent", "RequestId",
				   "TypeId", "telcoid", "phonenumber" };
	const char *const v1[] = { "849fe08c19294b02857cf91687021a50250", "0",
				   "5", "1", "470.0000", "1", "1",
				   "b12-h0045", "23", "2", "0901888484" };
	assert_int_equal(esms(k1, v1, NPARAMS(k1), &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.events[0].kind, WE_DELIVERED);
	assert_int_equal(l.events[0].provider, CHD_ESMS);
	assert_string_equal(l.events[0].msg_id,
			    "849fe08c19294b02857cf91687021a50250");
	assert_string_equal(l.events[0].tracking_id, "b12-h0045");
	assert_string_equal(l.events[0].sender, "+84901888484");
	assert_int_equal(l.events[0].at_ms, 0);
	webhook_event_list_clear(&l);

	/* customer-care sample: status 5 but every part failed */
	const char *const k2[] = { "SMSID", "SendFailed", "SendStatus",
				   "SendSuccess", "RequestId", "TypeId",
				   "phonenumber", "switchsmsid" };
	const char *const v2[] = { "dc712784-9c5f-4c69-b9a8-ea69d56adc9a87",
				   "2", "5", "0", "", "2", "0901888484", "" };
	assert_int_equal(esms(k2, v2, NPARAMS(k2), &l), 0);
	assert_int_equal(l.events[0].kind, WE_FAILED);
	assert_string_equal(l.events[0].code, "SendFailed");
	assert_string_equal(l.events[0].tracking_id, "");
	webhook_event_list_clear(&l);

	/* ZNS sample: error_info as MHD decodes it once */
	const char *const k3[] = { "SMSID", "SendFailed", "SendStatus",
				   "SendSuccess", "TypeId", "phonenumber",
				   "partnerids", "error_info", "oaid",
				   "tempid" };
	const char *const v3[] = {
		"f66545d2-c7e2-4603-984e-d2238c363c8292", "1", "5", "0", "25",
		"0901888484", "",
		("\"{\\\"error\\\":-114,"
		 "\\\"message\\\":\\\"User is inactive, or "
		 "reject the message\\\"}\""),
		"1397492183140006179", "2056446"
	};
	assert_int_equal(esms(k3, v3, NPARAMS(k3), &l), 0);
	assert_int_equal(l.events[0].kind, WE_FAILED);
	assert_string_equal(l.events[0].code, "-114");
	webhook_event_list_clear(&l);

	/* consulting sample: error_info still percent-encoded, success */
	const char *const k4[] = { "SMSID", "SendFailed", "SendStatus",
				   "SendSuccess", "phonenumber", "error_info" };
	const char *const v4[] = {
		"7d11c87a22934df390f73ec59d8defd6205", "0", "5", "1",
		"312158068343230",
		("%7B%22data%22%3A%7B%22message_id%22%3A%22e1a60e8890be9de4c4ab"
		 "%22%7D%2C%22error%22%3A0%2C%22message%22%3A%22Success%22%7D"
		 "____24/04/2024%2016:58:01")
	};
	assert_int_equal(esms(k4, v4, NPARAMS(k4), &l), 0);
	assert_int_equal(l.events[0].kind, WE_DELIVERED);
	/* a Zalo uid in phonenumber is kept as it is */
	assert_string_equal(l.events[0].sender, "312158068343230");
	webhook_event_list_clear(&l);

	/* the same encoding with a failure */
	const char *const v5[] = {
		"7d11", "1", "5", "0", "0901888484",
		("%257B%2522error%2522%253A-118%257D____24%2F04%2F2024")
	};
	assert_int_equal(esms(k4, v5, NPARAMS(k4), &l), 0);
	assert_int_equal(l.events[0].kind, WE_FAILED);
	assert_string_equal(l.events[0].code, "-118");
	webhook_event_list_clear(&l);

	/* rejected */
	const char *const k6[] = { "SMSID", "SendStatus" };
	const char *const v6[] = { "abc", "4" };
	assert_int_equal(esms(k6, v6, 2, &l), 0);
	assert_int_equal(l.events[0].kind, WE_FAILED);
	assert_string_equal(l.events[0].code, "SendStatus=4");
	assert_string_equal(l.events[0].sender, "");
	webhook_event_list_clear(&l);
	/* status 5 with no counts: sent */
	const char *const v7[] = { "abc", "5" };
	assert_int_equal(esms(k6, v7, 2, &l), 0);
	assert_int_equal(l.events[0].kind, WE_DELIVERED);
	webhook_event_list_clear(&l);

	/* pending and unknown statuses */
	static const char *const pend[] = { "1", "2", "7", "3", "0", "99" };
	for (size_t i = 0; i < ARRAY_SIZE(pend); i++) {
		const char *const v[] = { "abc", pend[i] };
		assert_int_equal(esms(k6, v, 2, &l), -ENOMSG);
	}
	assert_true(is_empty(&l));
}

static void test_esms_invalid(void **state)
{
	(void)state;
	struct webhook_event_list l = { 0 };
	const char *const k[] = { "SMSID", "SendStatus", "phonenumber",
				  "RequestId", "SendFailed" };
	static const char *const cases[][5] = {
		{ "", "5", "0901888484", "r", "0" },
		{ "a b", "5", "0901888484", "r", "0" },
		{ "a", "", "0901888484", "r", "0" },
		{ "a", "5x", "0901888484", "r", "0" },
		{ "a", "-5", "0901888484", "r", "0" },
		{ "a", " 5", "0901888484", "r", "0" },
		{ "a", "5", "0901 888 484x", "r", "0" },
		{ "a", "5", "0901888484", "r r", "0" },
		{ "a", "5", "0901888484", "r", "two" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r = esms(k, cases[i], 5, &l);
		if (r != -EINVAL)
			fail_msg("case %zu: %d", i, r);
		assert_true(err[0] != '\0');
		/* no phone number in the reason */
		assert_null(strstr(err, "0901"));
	}
	/* missing, repeated */
	const char *const k2[] = { "SendStatus" };
	const char *const v2[] = { "5" };
	assert_int_equal(esms(k2, v2, 1, &l), -EINVAL);
	assert_non_null(strstr(err, "SMSID"));
	const char *const k3[] = { "SMSID" };
	const char *const v3[] = { "a" };
	assert_int_equal(esms(k3, v3, 1, &l), -EINVAL);
	const char *const k4[] = { "SMSID", "SendStatus", "SMSID" };
	const char *const v4[] = { "a", "5", "b" };
	assert_int_equal(esms(k4, v4, 3, &l), -EINVAL);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(esms(NULL, NULL, 0, &l), -EINVAL);
	assert_int_equal(esms(NULL, NULL, 3, &l), -EINVAL);
	/* too many parameters */
	const char *many_k[WEBHOOKS_PARAMS_MAX + 1];
	const char *many_v[WEBHOOKS_PARAMS_MAX + 1];
	for (size_t i = 0; i < ARRAY_SIZE(many_k); i++) {
		many_k[i] = "x";
		many_v[i] = "y";
	}
	many_k[0] = "SMSID";
	many_k[1] = "SendStatus";
	many_v[1] = "5";
	assert_int_equal(esms(many_k, many_v, ARRAY_SIZE(many_k), &l), -EINVAL);
	assert_int_equal(esms(many_k, many_v, ARRAY_SIZE(many_k) - 1, &l), 0);
	webhook_event_list_clear(&l);
	assert_true(is_empty(&l));
}

/* ---- Twilio ---- */

static int twilio(const char *const *k, const char *const *v, size_t n,
		  struct webhook_event_list *l)
{
	err[0] = '\0';
	return webhooks_parse_twilio_form(k, v, n, l, err, sizeof err);
}

static void test_twilio_status(void **state)
{
	(void)state;
	_cleanup_(webhook_event_list_clear) struct webhook_event_list l = { 0 };
	const char *const k[] = { "AccountSid", "ApiVersion", "From",
				  "MessageSid", "MessageStatus", "SmsSid",
				  "SmsStatus", "To", "ErrorCode" };
	const char *v[] = { "AC0123", "2010-04-01", "+15005550006",
			    "SM0123456789abcdef0123456789abcdef", "delivered",
			    "SM0123456789abcdef0123456789abcdef", "delivered",
			    "+84912345678", "" };

	assert_int_equal(twilio(k, v, NPARAMS(k), &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.events[0].kind, WE_DELIVERED);
	assert_int_equal(l.events[0].provider, CHD_TWILIO);
	assert_string_equal(l.events[0].msg_id,
			    "SM0123456789abcdef0123456789abcdef");
	assert_string_equal(l.events[0].sender, "+84912345678");
	assert_string_equal(l.events[0].code, "");
	webhook_event_list_clear(&l);

	v[4] = "undelivered";
	v[8] = "30003";
	assert_int_equal(twilio(k, v, NPARAMS(k), &l), 0);
	assert_int_equal(l.events[0].kind, WE_FAILED);
	assert_string_equal(l.events[0].code, "30003");
	webhook_event_list_clear(&l);

	v[4] = "failed";
	v[8] = "";
	assert_int_equal(twilio(k, v, NPARAMS(k), &l), 0);
	assert_int_equal(l.events[0].kind, WE_FAILED);
	assert_string_equal(l.events[0].code, "failed");
	webhook_event_list_clear(&l);

	v[4] = "read";
	assert_int_equal(twilio(k, v, NPARAMS(k), &l), 0);
	assert_int_equal(l.events[0].kind, WE_READ);
	webhook_event_list_clear(&l);

	/* a foreign number stays E.164 as given */
	v[4] = "delivered";
	v[7] = "+14155550100";
	assert_int_equal(twilio(k, v, NPARAMS(k), &l), 0);
	assert_string_equal(l.events[0].sender, "+14155550100");
	webhook_event_list_clear(&l);

	static const char *const pend[] = { "queued", "sending", "sent",
					    "accepted", "scheduled",
					    "partially_delivered", "receiving",
					    "received", "some_new_status" };
	for (size_t i = 0; i < ARRAY_SIZE(pend); i++) {
		v[4] = pend[i];
		assert_int_equal(twilio(k, v, NPARAMS(k), &l), -ENOMSG);
	}
	/* MessageStatus absent: SmsStatus is used */
	const char *const k2[] = { "SmsSid", "SmsStatus", "To" };
	const char *const v2[] = { "SM1", "delivered", "0912345678" };
	assert_int_equal(twilio(k2, v2, 3, &l), 0);
	assert_string_equal(l.events[0].msg_id, "SM1");
	assert_string_equal(l.events[0].sender, "+84912345678");
}

static void test_twilio_incoming_and_invalid(void **state)
{
	(void)state;
	_cleanup_(webhook_event_list_clear) struct webhook_event_list l = { 0 };

	const char *const k[] = { "MessageSid", "SmsStatus", "From", "To",
				  "Body", "NumMedia" };
	const char *const v[] = { "SMaaa", "received", "+84912345678",
				  "+15005550006", "Có ạ", "0" };
	assert_int_equal(twilio(k, v, NPARAMS(k), &l), 0);
	assert_int_equal(l.events[0].kind, WE_REPLY);
	assert_string_equal(l.events[0].sender, "+84912345678");
	assert_string_equal(l.events[0].text, "Có ạ");
	assert_string_equal(l.events[0].msg_id, "SMaaa");
	webhook_event_list_clear(&l);

	/* invalid UTF-8 in the Body: each bad byte becomes U+FFFD */
	const char *const v2[] = { "SMaaa", "received", "0912345678", "x",
				   ("a\xff" "b\xc0\xaf" "c\xed\xa0\x80"
				    "d\xe1\xba"),
				   "0" };
	assert_int_equal(twilio(k, v2, NPARAMS(k), &l), 0);
	const char *t = l.events[0].text;
	assert_true(text_utf8_valid(t, strlen(t)));
	assert_string_equal(t, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD"
			       "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
			       "d\xEF\xBF\xBD\xEF\xBF\xBD");
	webhook_event_list_clear(&l);

	/* media only */
	const char *const v3[] = { "SMaaa", "received", "+84912345678", "x",
				   "", "1" };
	assert_int_equal(twilio(k, v3, NPARAMS(k), &l), -ENOMSG);

	const char *const kb[] = { "MessageSid", "MessageStatus", "To",
				   "ErrorCode" };
	static const char *const bad[][4] = {
		{ "", "delivered", "+84912345678", "" },
		{ "SM 1", "delivered", "+84912345678", "" },
		{ "SM1", "", "+84912345678", "" },
		{ "SM1", "not a status", "+84912345678", "" },
		{ "SM1", "delivered", "+84 91 234 x", "" },
		{ "SM1", "failed", "+84912345678", "30 003" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int r = twilio(kb, bad[i], 4, &l);
		if (r != -EINVAL)
			fail_msg("case %zu: %d", i, r);
		assert_true(err[0] != '\0');
	}
	/* incoming without From */
	const char *const k4[] = { "MessageSid", "Body" };
	const char *const v4[] = { "SM1", "hi" };
	assert_int_equal(twilio(k4, v4, 2, &l), -EINVAL);
	assert_true(is_empty(&l));
}

/* ---- RSVP ---- */

static enum rsvp rs(const char *s)
{
	return rsvp_parse(s, strlen(s), NULL, NULL);
}

static void test_rsvp_yes(void **state)
{
	(void)state;
	static const char *const yes[] = {
		"Có ạ", "CO", "co", "1.", "1", "Dạ có ạ", "YES!!!", "Có",
		"có.", "  có  ", "dự", "Du", "Dạ, em dự ạ", "CÓ", "Yes",
		"có nhé", "Có ạ 🙏", "1 ạ", "(1)", "có\u00a0ạ", "👍 có 👍",
	};
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		if (rs(yes[i]) != RSVP_YES)
			fail_msg("\"%s\" -> %s", yes[i], rsvp_name(rs(yes[i])));
	/* the same through the explicit default lists */
	assert_int_equal(rsvp_parse("Có ạ", strlen("Có ạ"), RSVP_YES_DEFAULT,
				    RSVP_NO_DEFAULT), RSVP_YES);
	/* not NUL-terminated */
	assert_int_equal(rsvp_parse("1xyz", 1, NULL, NULL), RSVP_YES);
}

static void test_rsvp_no(void **state)
{
	(void)state;
	static const char *const no[] = {
		"không đi được", "Không", "KHONG", "khong", "2", "2.", "no",
		"No.", "vắng", "Vang", "Dạ không ạ", "vắng mặt ạ",
		"không, có việc bận", "KHÔNG ĐI", "Dạ, không tham gia được ạ",
		"no way", "Không có",
	};
	for (size_t i = 0; i < ARRAY_SIZE(no); i++)
		if (rs(no[i]) != RSVP_NO)
			fail_msg("\"%s\" -> %s", no[i], rsvp_name(rs(no[i])));
}

static void test_rsvp_none(void **state)
{
	(void)state;
	static const char *const none[] = {
		"", "   ", "ạ", "?!", "Có việc bận", "có lẽ", "1 người", "12",
		"Có, tôi sẽ đi", "Cô", "có không", "ok", "2 người", "21",
		"Vâng",             /* not "vắng": not in the default lists */
		"Vâng ạ",
		"Hỏi: họp ở đâu?", "1 2", "yes no", "có 2",
		"Tôi không biết",   /* "không" not first */
		"🙏", "cóc",
	};
	for (size_t i = 0; i < ARRAY_SIZE(none); i++)
		if (rs(none[i]) != RSVP_NONE)
			fail_msg("\"%s\" -> %s", none[i],
				 rsvp_name(rs(none[i])));
	assert_int_equal(rsvp_parse(NULL, 0, NULL, NULL), RSVP_NONE);
	/* invalid UTF-8 separates words, never matches */
	assert_int_equal(rs("\xff\xfe"), RSVP_NONE);
	assert_int_equal(rs("c\xffo"), RSVP_NONE);
	assert_int_equal(rs("\xffkhông"), RSVP_NO);
	/* a word too long to be an entry */
	char longw[300];
	memset(longw, 'k', sizeof longw - 1);
	longw[sizeof longw - 1] = '\0';
	assert_int_equal(rs(longw), RSVP_NONE);
	/* many words: only the leading rule applies */
	assert_int_equal(rs("không a a a a a a a a a a a a a a a a a a a a a a "
			    "a a a a a a a a a a"), RSVP_NO);
	assert_int_equal(rs("có a a a a a a a a a a a a a a a a a a a a a a a "
			    "a a a a a a a a a"), RSVP_NONE);
}

static void test_rsvp_custom_lists(void **state)
{
	(void)state;
	const char *yes = "vâng,có mặt,ok,👍,Đồng ý";
	const char *no = "không,vắng,bận";
#define R(s) rsvp_parse(s, strlen(s), yes, no)
	assert_int_equal(R("Vâng"), RSVP_YES);
	assert_int_equal(R("VÂNG ạ"), RSVP_YES);
	assert_int_equal(R("vắng"), RSVP_NO);
	/* typed without marks: both lists -> nobody can tell */
	assert_int_equal(R("vang"), RSVP_NONE);
	assert_int_equal(R("Có mặt ạ"), RSVP_YES);
	assert_int_equal(R("co mat"), RSVP_YES);
	assert_int_equal(R("có"), RSVP_NONE); /* not in this list */
	assert_int_equal(R("ok"), RSVP_YES);  /* an entry, not courtesy */
	assert_int_equal(R("ok ạ"), RSVP_YES);
	assert_int_equal(R("👍"), RSVP_YES);
	assert_int_equal(R("👍👍"), RSVP_NONE);
	assert_int_equal(R("đồng ý"), RSVP_YES);
	assert_int_equal(R("dong y"), RSVP_YES);
	assert_int_equal(R("bận rồi"), RSVP_NO);
	assert_int_equal(R("1"), RSVP_NONE);
#undef R
	/* an entry in both lists */
	assert_int_equal(rsvp_parse("ok", 2, "ok,1", "ok,2"), RSVP_NONE);
	/* a longer yes entry at the start vetoes the no word */
	assert_int_equal(rsvp_parse("không sao đâu", strlen("không sao đâu"),
				    "có,không sao", "không"), RSVP_NONE);
	assert_int_equal(rsvp_parse("không sao", strlen("không sao"),
				    "có,không sao", "không"), RSVP_YES);
	assert_int_equal(rsvp_parse("không đi", strlen("không đi"),
				    "có,không sao", "không"), RSVP_NO);
	/* a numeric no entry never starts a sentence */
	assert_int_equal(rsvp_parse("2 người", strlen("2 người"), "1", "2"),
			 RSVP_NONE);
	/* broken entries are ignored */
	assert_int_equal(rsvp_parse("có", strlen("có"), ",,!!,có", ""),
			 RSVP_YES);
	assert_int_equal(rsvp_parse("có", strlen("có"), "", ""), RSVP_NONE);
}

static void test_rsvp_words_check(void **state)
{
	(void)state;
	assert_int_equal(rsvp_words_check(RSVP_YES_DEFAULT, err, sizeof err),
			 0);
	assert_int_equal(rsvp_words_check(RSVP_NO_DEFAULT, err, sizeof err),
			 0);
	assert_int_equal(rsvp_words_check("có mặt, vâng ,👍,1,", err,
					  sizeof err), 0);
	static const char *const bad[] = {
		"", "1,,2", " , ", "!!", "a b c d e", "có,\xff",
		("kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
		 "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"), /* 63 bytes */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		if (rsvp_words_check(bad[i], err, sizeof err) != -EINVAL)
			fail_msg("case %zu accepted", i);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(rsvp_words_check(NULL, NULL, 0), -EINVAL);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(webhooks_kind_name(WE_DELIVERED), "delivered");
	assert_string_equal(webhooks_kind_name(WE_READ), "read");
	assert_string_equal(webhooks_kind_name(WE_FAILED), "failed");
	assert_string_equal(webhooks_kind_name(WE_REPLY), "reply");
	assert_string_equal(webhooks_kind_name(WE_KIND_MAX), "?");
	assert_string_equal(rsvp_name(RSVP_YES), "yes");
	assert_string_equal(rsvp_name(RSVP_NO), "no");
	assert_string_equal(rsvp_name(RSVP_NONE), "none");
	webhook_event_list_clear(NULL);
	struct webhook_event_list l = { 0 };
	webhook_event_list_clear(&l);
	assert_true(is_empty(&l));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zalo_signature_vector),
		cmocka_unit_test(test_zalo_signature_rejects),
		cmocka_unit_test(test_zalo_signature_computed),
		cmocka_unit_test(test_messenger_signature),
		cmocka_unit_test(test_twilio_signature_library_vectors),
		cmocka_unit_test(test_twilio_signature_status_callback),
		cmocka_unit_test(test_verify_secret),
		cmocka_unit_test(test_messenger_handshake),
		cmocka_unit_test(test_zalo_zns_receipt),
		cmocka_unit_test(test_zalo_oa_events),
		cmocka_unit_test(test_zalo_invalid),
		cmocka_unit_test(test_messenger_delivery_read),
		cmocka_unit_test(test_messenger_batch),
		cmocka_unit_test(test_messenger_malformed_items),
		cmocka_unit_test(test_messenger_cap),
		cmocka_unit_test(test_reply_text_sanitised),
		cmocka_unit_test(test_esms_reports),
		cmocka_unit_test(test_esms_invalid),
		cmocka_unit_test(test_twilio_status),
		cmocka_unit_test(test_twilio_incoming_and_invalid),
		cmocka_unit_test(test_rsvp_yes),
		cmocka_unit_test(test_rsvp_no),
		cmocka_unit_test(test_rsvp_none),
		cmocka_unit_test(test_rsvp_custom_lists),
		cmocka_unit_test(test_rsvp_words_check),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
