/* fuzz-webhooks.c: every webhook parser and verifier, and RSVP, on
 * arbitrary bytes.
 *
 * Input layout: byte 0 picks the target (low 3 bits), the rest is its
 * input:
 *  0 Zalo body: parse; verify with a MAC computed here when the body has
 *    app_id and timestamp (must pass), and with a wrong one (must fail);
 *  1 Messenger body: parse; verify with the right HMAC (must pass unless
 *    oversized) and a wrong one;
 *  2 eSMS query "k=v&k=v..." (not percent-decoded): parse;
 *  3 Twilio form "k=v&k=v...": parse; verify with the last value as header;
 *  4 RSVP: "yes|no\nreply": rsvp_parse with those lists and the defaults,
 *    rsvp_words_check on both lists;
 *  5 verify_secret "a\nb": true exactly when equal and b is non-empty;
 *  6 Messenger handshake "mode\ntoken\nchallenge\nexpected";
 *  7 signature headers "header\nbody" against fixed secrets.
 *
 * Beyond "no crash, no leak", each parser's contract is checked: the
 * return is 0, -EINVAL, -ENOMSG or -ENOMEM; the list is untouched unless 0;
 * on 0 there is at least one event (or one dropped) and at most
 * WEBHOOKS_EVENTS_MAX; every id is NUL-terminated printable ASCII without
 * spaces; text is present exactly on replies, non-empty, valid UTF-8, at
 * most WEBHOOKS_TEXT_MAX code points, without control characters but \t
 * and \n; the reason is NUL-terminated; the same input parses the same way
 * twice.
 */
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loaxa/text.h"
#include "loaxa/util.h"
#include "loaxa/webhooks.h"

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
#define FUZZ_MAX_INPUT 65536
#define FUZZ_MAX_PARAMS 200

static bool fuzz_id_ok(const char *s, size_t cap)
{
	const char *nul = memchr(s, '\0', cap);
	if (!nul)
		return false;
	for (const char *p = s; p < nul; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7E)
			return false;
	return true;
}

static bool fuzz_text_ok(const char *t)
{
	size_t len = strlen(t), cps = 0;
	if (len == 0 || !text_utf8_valid(t, len))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];
		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F)
			return false;
		if ((c & 0xC0) != 0x80)
			cps++;
	}
	return cps <= WEBHOOKS_TEXT_MAX;
}

static void fuzz_check_list(int r, const struct webhook_event_list *l,
			    const char *err, size_t errsz)
{
	CHECK(r == 0 || r == -EINVAL || r == -ENOMSG || r == -ENOMEM);
	CHECK(memchr(err, '\0', errsz));
	if (r != 0) {
		CHECK(l->n == 0 && l->events == NULL && l->skipped == 0 &&
		      l->dropped == 0);
		if (r == -EINVAL)
			CHECK(err[0] != '\0');
		return;
	}
	CHECK(l->n + l->dropped >= 1);
	CHECK(l->n <= WEBHOOKS_EVENTS_MAX && l->n <= l->cap);
	for (size_t i = 0; i < l->n; i++) {
		const struct webhook_event *e = &l->events[i];
		CHECK((unsigned)e->kind < WE_KIND_MAX);
		CHECK(e->provider == CHD_ZNS || e->provider == CHD_ZALO_OA ||
		      e->provider == CHD_MESSENGER || e->provider == CHD_ESMS ||
		      e->provider == CHD_TWILIO);
		CHECK(fuzz_id_ok(e->msg_id, sizeof e->msg_id));
		CHECK(fuzz_id_ok(e->tracking_id, sizeof e->tracking_id));
		CHECK(fuzz_id_ok(e->sender, sizeof e->sender));
		CHECK(fuzz_id_ok(e->code, sizeof e->code));
		CHECK((e->kind == WE_FAILED) == (e->code[0] != '\0'));
		CHECK((e->kind == WE_REPLY) == (e->text != NULL));
		if (e->text)
			CHECK(fuzz_text_ok(e->text));
		CHECK(e->at_ms >= 0 && e->watermark_ms >= 0);
	}
}

typedef int (*fuzz_body_parser)(const char *, size_t,
				struct webhook_event_list *, char *, size_t);
typedef int (*fuzz_param_parser)(const char *const *, const char *const *,
				 size_t, struct webhook_event_list *, char *,
				 size_t);

static void fuzz_body(fuzz_body_parser parse, const char *s, size_t n)
{
	struct webhook_event_list l = { 0 }, l2 = { 0 };
	char err[256] = "", err2[256] = "";

	int r = parse(s, n, &l, err, sizeof err);
	fuzz_check_list(r, &l, err, sizeof err);
	int r2 = parse(s, n, &l2, err2, sizeof err2);
	if (r != -ENOMEM && r2 != -ENOMEM) {
		CHECK(r == r2 && l.n == l2.n && l.skipped == l2.skipped &&
		      l.dropped == l2.dropped);
		for (size_t i = 0; i < l.n; i++)
			CHECK(streq(l.events[i].msg_id, l2.events[i].msg_id));
	}
	/* a tiny reason buffer, and none at all */
	webhook_event_list_clear(&l2);
	r2 = parse(s, n, &l2, err2, 1);
	CHECK(err2[0] == '\0');
	webhook_event_list_clear(&l2);
	r2 = parse(s, n, &l2, NULL, 0);
	webhook_event_list_clear(&l2);
	webhook_event_list_clear(&l);
	CHECK(l.n == 0 && l.events == NULL);
}

static void fuzz_hex(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* app_id / timestamp as Zalo concatenates them, or false. */
static bool fuzz_zalo_field(json_t *v, char *out, size_t outsz)
{
	if (json_is_string(v) && json_string_length(v) < outsz &&
	    !memchr(json_string_value(v), '\0', json_string_length(v))) {
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

static void fuzz_zalo(const char *s, size_t n)
{
	fuzz_body(webhooks_parse_zalo, s, n);

	json_t *root = json_loadb(s, n, JSON_REJECT_DUPLICATES, NULL);
	char app_id[128], ts[64];
	bool expect = json_is_object(root) &&
		      fuzz_zalo_field(json_object_get(root, "app_id"), app_id,
				      sizeof app_id) &&
		      fuzz_zalo_field(json_object_get(root, "timestamp"), ts,
				      sizeof ts);
	json_decref(root);
	if (!expect)
		app_id[0] = ts[0] = '\0';

	unsigned char md[32];
	char mac[80];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return;
	bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		  EVP_DigestUpdate(ctx, app_id, strlen(app_id)) == 1 &&
		  EVP_DigestUpdate(ctx, s, n) == 1 &&
		  EVP_DigestUpdate(ctx, ts, strlen(ts)) == 1 &&
		  EVP_DigestUpdate(ctx, "oa-key", 6) == 1 &&
		  EVP_DigestFinal_ex(ctx, md, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return;
	memcpy(mac, "mac=", 4);
	fuzz_hex(md, 32, mac + 4);
	CHECK(webhooks_verify_zalo(s, n, "oa-key", mac) == expect);
	CHECK(webhooks_verify_zalo(s, n, "oa-key", mac + 4) == expect);
	CHECK(!webhooks_verify_zalo(s, n, "oa-kez", mac));
	mac[4] = mac[4] == '0' ? '1' : '0';
	CHECK(!webhooks_verify_zalo(s, n, "oa-key", mac));
}

static void fuzz_messenger(const char *s, size_t n)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char h[80];

	fuzz_body(webhooks_parse_messenger, s, n);
	if (!HMAC(EVP_sha256(), "app", 3, (const unsigned char *)s, n, md,
		  &mdlen))
		return;
	memcpy(h, "sha256=", 7);
	fuzz_hex(md, 32, h + 7);
	CHECK(webhooks_verify_messenger(s, n, "app", h));
	CHECK(!webhooks_verify_messenger(s, n, "apq", h));
	CHECK(!webhooks_verify_messenger(s, n, "app", h + 7));
}

/* Split "k=v&k=v" in place (s is a writable copy). */
static size_t fuzz_split_params(char *s, const char **keys,
				const char **vals)
{
	size_t n = 0;
	char *save = NULL;
	for (char *tok = strtok_r(s, "&", &save); tok && n < FUZZ_MAX_PARAMS;
	     tok = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(tok, '=');
		if (eq)
			*eq++ = '\0';
		keys[n] = tok;
		vals[n] = eq ? eq : "";
		n++;
	}
	return n;
}

static void fuzz_params(fuzz_param_parser parse, char *s, bool twilio)
{
	const char *keys[FUZZ_MAX_PARAMS], *vals[FUZZ_MAX_PARAMS];
	struct webhook_event_list l = { 0 }, l2 = { 0 };
	char err[256] = "";

	size_t n = fuzz_split_params(s, keys, vals);
	int r = parse(keys, vals, n, &l, err, sizeof err);
	fuzz_check_list(r, &l, err, sizeof err);
	int r2 = parse(keys, vals, n, &l2, NULL, 0);
	if (r != -ENOMEM && r2 != -ENOMEM)
		CHECK(r == r2 && l.n == l2.n);
	webhook_event_list_clear(&l);
	webhook_event_list_clear(&l2);
	if (twilio && n > 0)
		(void)webhooks_verify_twilio("https://x.example/cb?a=1", keys,
					     vals, n - 1, "tok", vals[n - 1]);
}

static void fuzz_rsvp(const char *s, size_t n)
{
	char lists[512] = "";
	const char *nl = memchr(s, '\n', n);
	const char *reply = s;
	size_t reply_len = n;

	if (nl && (size_t)(nl - s) < sizeof lists) {
		memcpy(lists, s, (size_t)(nl - s));
		lists[nl - s] = '\0';
		reply = nl + 1;
		reply_len = n - (size_t)(nl - s) - 1;
	}
	char *bar = strchr(lists, '|');
	const char *yes = lists, *no = "";
	if (bar) {
		*bar = '\0';
		no = bar + 1;
	}
	enum rsvp a = rsvp_parse(reply, reply_len, yes, no);
	CHECK(a == RSVP_NONE || a == RSVP_YES || a == RSVP_NO);
	CHECK(rsvp_parse(reply, reply_len, yes, no) == a);
	enum rsvp b = rsvp_parse(reply, reply_len, NULL, NULL);
	CHECK(b == RSVP_NONE || b == RSVP_YES || b == RSVP_NO);
	/* swapping the lists swaps the answer */
	enum rsvp c = rsvp_parse(reply, reply_len, no, yes);
	if (a == RSVP_YES)
		CHECK(c == RSVP_NO || c == RSVP_NONE);
	char err[128];
	int r = rsvp_words_check(yes, err, sizeof err);
	CHECK(r == 0 || r == -EINVAL);
	r = rsvp_words_check(no, NULL, 0);
	CHECK(r == 0 || r == -EINVAL);
	(void)rsvp_name(a);
}

/* Split s (writable) on '\n' into at most max fields. */
static size_t fuzz_lines(char *s, char **f, size_t max)
{
	size_t n = 0;
	while (n < max) {
		f[n++] = s;
		char *nl = strchr(s, '\n');
		if (!nl)
			break;
		*nl = '\0';
		s = nl + 1;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	unsigned sel = data[0] & 7;
	size_t n = size - 1;
	/* NUL-terminated copy; its own allocation so ASan sees overruns */
	char *s = malloc(n + 1);
	if (!s)
		return 0;
	memcpy(s, data + 1, n);
	s[n] = '\0';

	switch (sel) {
	case 0:
		fuzz_zalo(s, n);
		break;
	case 1:
		fuzz_messenger(s, n);
		break;
	case 2:
		fuzz_params(webhooks_parse_esms_query, s, false);
		break;
	case 3:
		fuzz_params(webhooks_parse_twilio_form, s, true);
		break;
	case 4:
		fuzz_rsvp(s, n);
		break;
	case 5: {
		char *f[2] = { s, NULL };
		if (fuzz_lines(s, f, 2) == 2) {
			bool eq = strcmp(f[0], f[1]) == 0 && f[1][0] &&
				  strlen(f[1]) <= 4096;
			CHECK(webhooks_verify_secret(f[0], f[1]) == eq);
		}
		break;
	}
	case 6: {
		char *f[4] = { NULL, NULL, NULL, NULL };
		fuzz_lines(s, f, 4);
		const char *ch = NULL;
		int r = webhooks_messenger_handshake(f[0], f[1], f[2], f[3],
						     &ch);
		CHECK(r == 0 || r == -EACCES);
		CHECK((r == 0) == (ch != NULL));
		if (r == 0)
			CHECK(ch == f[2] && streq(f[0], "subscribe"));
		break;
	}
	case 7: {
		char *f[2] = { s, NULL };
		if (fuzz_lines(s, f, 2) == 2) {
			const char *body = f[1];
			(void)webhooks_verify_zalo(body, strlen(body), "k",
						   f[0]);
			(void)webhooks_verify_messenger(body, strlen(body),
							"k", f[0]);
			const char *k[] = { "A" }, *v[] = { body };
			(void)webhooks_verify_twilio(f[0], k, v, 1, "k", f[0]);
		}
		break;
	}
	}
	free(s);
	return 0;
}
