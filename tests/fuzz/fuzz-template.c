/* fuzz-template.c: template_check, template_render, sms_measure and
 * template_vn_datetime on arbitrary bytes.
 *
 * Input: the template, then up to TV_MAX placeholder values, separated by
 * NUL bytes. Beyond "no crash, no leak":
 *  - check and render agree: render succeeds iff check does, and a failed
 *    check writes a non-empty, valid UTF-8 message (also into small buffers);
 *  - a successful render equals an independent reference renderer, and
 *    appends to what was already in the buffer;
 *  - with a small maximum, render either succeeds with the same text or
 *    fails with -E2BIG leaving the buffer exactly as it was;
 *  - sms_measure agrees with a reference count: valid UTF-8 made only of
 *    GSM characters is GSM-7 (units between the code points and twice
 *    that), anything else is UCS-2 with units = UTF-16 code units (bad bytes
 *    one each); segments follow units (0 for empty text);
 *  - stripping diacritics never makes a message need more units;
 *  - template_vn_datetime on arbitrary fields returns a valid UTF-8 string
 *    that fits, and a prefix of it with smaller buffers.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loaxa/template.h"
#include "loaxa/text.h"
#include "loaxa/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(expr)                                                        \
	do {                                                               \
		if (!(expr)) {                                             \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",   \
				__FILE__, __LINE__, #expr);                \
			abort();                                           \
		}                                                          \
	} while (0)

#define FUZZ_MAX_INPUT 4096

/* Reference renderer, written as a tokenizer rather than a walker: returns
 * the output (malloc'd) or NULL for a template it rejects. */
static char *ref_render(const char *t, const struct tmpl_vars *vars,
			size_t *ret_len)
{
	static const char *const names[TV_MAX] = {
		"name", "group", "title", "time", "place", "agenda", "body",
	};
	size_t longest = 0, braces = 0;
	for (size_t k = 0; k < TV_MAX; k++)
		if (vars->v[k] && strlen(vars->v[k]) > longest)
			longest = strlen(vars->v[k]);
	for (const char *c = t; *c; c++)
		braces += *c == '{';
	size_t cap = strlen(t) + 1 + braces * longest;
	char *out = malloc(cap);
	size_t o = 0;
	CHECK(out);

	if (!text_utf8_valid(t, strlen(t)))
		goto bad;
	while (*t) {
		if (!strncmp(t, "{{", 2) || !strncmp(t, "}}", 2)) {
			out[o++] = *t;
			t += 2;
			continue;
		}
		if (*t == '}')
			goto bad;
		if (*t != '{') {
			out[o++] = *t++;
			continue;
		}
		size_t n = strcspn(t + 1, "{}");
		if (t[1 + n] != '}')
			goto bad;
		size_t k = 0;
		while (k < TV_MAX && !(strlen(names[k]) == n &&
				       !strncmp(t + 1, names[k], n)))
			k++;
		if (k == TV_MAX)
			goto bad;
		if (vars->v[k]) {
			size_t vl = strlen(vars->v[k]);
			CHECK(o + vl < cap);
			memcpy(out + o, vars->v[k], vl);
			o += vl;
		}
		t += n + 2;
	}
	out[o] = '\0';
	*ret_len = o;
	return out;
bad:
	free(out);
	return NULL;
}

static void check_err(const char *err, size_t errsz)
{
	size_t n = strnlen(err, errsz);
	CHECK(n < errsz);
	CHECK(errsz == 1 || n > 0);
	CHECK(text_utf8_valid(err, n));
}

static void check_template(const char *t, const struct tmpl_vars *vars,
			   size_t seed)
{
	char err[256];
	struct buf b;

	memset(err, 0x5A, sizeof err);
	int rc = template_check(t, err, sizeof err);
	CHECK(rc == 0 || rc == -EINVAL);
	if (rc < 0) {
		check_err(err, sizeof err);
		size_t small = 1 + seed % 40;
		memset(err, 0x5A, sizeof err);
		CHECK(template_check(t, err, small) == -EINVAL);
		check_err(err, small);
	} else {
		CHECK((unsigned char)err[0] == 0x5A); /* untouched */
	}

	size_t ref_len = 0;
	char *ref = ref_render(t, vars, &ref_len);
	CHECK((ref != NULL) == (rc == 0));

	buf_init(&b, 1 << 24);
	CHECK(buf_append(&b, "pre", 3) == 0);
	int rr = template_render(t, vars, &b);
	if (rr == -ENOMEM) {
		buf_free(&b);
		free(ref);
		return;
	}
	CHECK(rr == rc);
	if (rr < 0) {
		CHECK(b.len == 3 && strcmp(b.data, "pre") == 0);
	} else {
		CHECK(b.len == 3 + ref_len);
		CHECK(memcmp(b.data, "pre", 3) == 0);
		CHECK(memcmp(b.data + 3, ref, ref_len) == 0);
		CHECK(b.data[b.len] == '\0');
	}
	buf_free(&b);

	/* a tight maximum: all or nothing */
	buf_init(&b, seed % 64 + 3);
	CHECK(buf_append(&b, "pre", 3) == 0);
	rr = template_render(t, vars, &b);
	CHECK(rr == rc || (rc == 0 && (rr == -E2BIG || rr == -ENOMEM)));
	if (rr == 0)
		CHECK(b.len == 3 + ref_len &&
		      memcmp(b.data + 3, ref, ref_len) == 0);
	else
		CHECK(b.len == 3 && strcmp(b.data, "pre") == 0);
	buf_free(&b);
	free(ref);
}

static bool ref_gsm(uint32_t cp, size_t *septets)
{
	static const char *const basic =
		"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1b" "ÆæßÉ !\"#¤%&'()*+,-./"
		"0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
		"abcdefghijklmnopqrstuvwxyzäöñüà";
	static const char *const ext = "^{}\\[~]|€\f";
	char u[5] = { 0 };
	if (cp == 0)
		return false;
	if (cp < 0x80) {
		u[0] = (char)cp;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
	} else {
		return false;
	}
	if (strstr(basic, u)) {
		*septets += 1;
		return true;
	}
	if (strstr(ext, u)) {
		*septets += 2;
		return true;
	}
	return false;
}

static void check_sms(const char *s, size_t len)
{
	struct sms_info info;
	memset(&info, 0x5A, sizeof info);
	sms_measure(s, len, &info);
	CHECK(sms_encoding_name(info.encoding) != NULL);

	/* reference: decode with the (independent) validator, byte by byte */
	size_t i = 0, u16 = 0, septets = 0, cps = 0;
	bool gsm = true;
	while (i < len) {
		size_t n = 0;
		for (size_t k = 1; k <= 4 && i + k <= len; k++)
			if (text_utf8_valid(s + i, k)) {
				n = k;
				break;
			}
		if (n == 0) {
			gsm = false;
			u16++;
			i++;
			cps++;
			continue;
		}
		const unsigned char *p = (const unsigned char *)s + i;
		uint32_t cp = n == 1 ? p[0]
			      : n == 2 ? (uint32_t)(p[0] & 0x1F) << 6 |
					 (p[1] & 0x3F)
			      : n == 3 ? (uint32_t)(p[0] & 0x0F) << 12 |
					 (uint32_t)(p[1] & 0x3F) << 6 |
					 (p[2] & 0x3F)
				       : 0x10000;
		u16 += n == 4 ? 2 : 1;
		cps++;
		if (gsm && !ref_gsm(cp, &septets))
			gsm = false;
		i += n;
	}
	CHECK(info.encoding == (gsm ? SMS_GSM7 : SMS_UCS2));
	if (gsm) {
		CHECK(info.units == septets);
		CHECK(info.units >= cps && info.units <= 2 * cps);
	} else {
		CHECK(info.units == u16);
		CHECK(info.units >= cps && info.units <= 2 * cps);
	}
	CHECK((info.units == 0) == (len == 0));
	size_t single = gsm ? 160 : 70, part = gsm ? 153 : 67;
	if (info.units == 0)
		CHECK(info.segments == 0);
	else if (info.units <= single)
		CHECK(info.segments == 1);
	else
		CHECK(info.segments > 1 &&
		      (info.segments - 1) * part < info.units &&
		      info.units <= info.segments * part);

	/* stripping diacritics only ever helps */
	char *strip = malloc(len + 1);
	CHECK(strip);
	size_t ns = text_strip_diacritics(s, len, strip, len + 1);
	struct sms_info si;
	sms_measure(strip, ns, &si);
	if (info.encoding == SMS_GSM7 && text_utf8_valid(s, len))
		CHECK(si.encoding == SMS_GSM7);
	if (si.encoding == info.encoding)
		CHECK(si.segments <= info.segments);
	free(strip);
}

static void check_datetime(const uint8_t *data, size_t size)
{
	int f[6] = { 0 };
	for (size_t i = 0; i < 6 && (i + 1) * 4 <= size; i++)
		memcpy(&f[i], data + i * 4, 4);
	struct tm tm = { .tm_year = f[0], .tm_mon = f[1], .tm_mday = f[2],
			 .tm_hour = f[3], .tm_min = f[4], .tm_wday = f[5] };
	char full[256], part[256];

	size_t n = template_vn_datetime(&tm, full, sizeof full);
	CHECK(n > 0 && n < sizeof full && strlen(full) == n);
	CHECK(text_utf8_valid(full, n));
	size_t sz = size % (n + 2);
	memset(part, 0x5A, sizeof part);
	size_t m = template_vn_datetime(&tm, part, sz);
	if (sz == 0) {
		CHECK(m == 0 && (unsigned char)part[0] == 0x5A);
	} else {
		CHECK(m < sz && strlen(part) == m && m <= n);
		CHECK(memcmp(part, full, m) == 0);
		CHECK(text_utf8_valid(part, m));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	/* one copy for the NUL-separated strings, one exact-size for sms */
	char *cstr = malloc(size + 1);
	char *exact = malloc(size ? size : 1);
	CHECK(cstr && exact);
	memcpy(cstr, data, size);
	cstr[size] = '\0';
	if (size)
		memcpy(exact, data, size);

	struct tmpl_vars vars = { 0 };
	const char *tmpl = cstr;
	size_t off = strlen(cstr) + 1;
	for (size_t k = 0; k < TV_MAX && off <= size; k++) {
		vars.v[k] = cstr + off;
		off += strlen(cstr + off) + 1;
	}
	/* an empty value stands for NULL in odd slots */
	for (size_t k = 1; k < TV_MAX; k += 2)
		if (vars.v[k] && !*vars.v[k])
			vars.v[k] = NULL;

	check_template(tmpl, &vars, size);
	check_sms(exact, size);

	/* and the rendered message, as it would be sent */
	struct buf b;
	buf_init(&b, 1 << 24);
	if (template_render(tmpl, &vars, &b) == 0)
		check_sms(b.data, b.len);
	buf_free(&b);

	check_datetime(data, size);

	free(cstr);
	free(exact);
	return 0;
}
