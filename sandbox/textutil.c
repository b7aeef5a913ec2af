/* textutil.c: strings, UTF-8, SMS segment counting, form decoding and
 * phone-number shapes for loaxa-sandbox. No shared state. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

/* ---- growable string ---- */

static bool sbuf_reserve(struct sbuf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->oom)
		return false;
	if (extra > SIZE_MAX / 2 - b->len) {
		b->oom = true;
		return false;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void sbuf_add(struct sbuf *b, const void *p, size_t n)
{
	if (!sbuf_reserve(b, n))
		return;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void sbuf_adds(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !sbuf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void sbuf_add_json_string(struct sbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;

	sbuf_add(b, "\"", 1);
	for (; *p; p++) {
		char esc[7];

		switch (*p) {
		case '"':
			sbuf_add(b, "\\\"", 2);
			break;
		case '\\':
			sbuf_add(b, "\\\\", 2);
			break;
		case '\n':
			sbuf_add(b, "\\n", 2);
			break;
		case '\r':
			sbuf_add(b, "\\r", 2);
			break;
		case '\t':
			sbuf_add(b, "\\t", 2);
			break;
		default:
			if (*p < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[*p >> 4];
				esc[5] = hex[*p & 15];
				sbuf_add(b, esc, 6);
			} else {
				sbuf_add(b, p, 1);
			}
		}
	}
	sbuf_add(b, "\"", 1);
}

char *sbuf_steal(struct sbuf *b, size_t *ret_len)
{
	char *p;

	if (b->oom) {
		sbuf_free(b);
		return NULL;
	}
	if (!b->data && !sbuf_reserve(b, 0))
		return NULL;
	p = b->data;
	if (ret_len)
		*ret_len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void sbuf_free(struct sbuf *b)
{
	free(b->data);
	*b = (struct sbuf){ 0 };
}

/* ---- UTF-8 ---- */

/* Decode one code point; returns its length (1-4) or 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret)
{
	uint32_t cp;
	size_t len, i;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*ret = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		cp = s[0] & 0x1f;
		len = 2;
	} else if ((s[0] & 0xf0) == 0xe0) {
		cp = s[0] & 0x0f;
		len = 3;
	} else if ((s[0] & 0xf8) == 0xf0) {
		cp = s[0] & 0x07;
		len = 4;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates, beyond U+10FFFF. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret = cp;
	return len;
}

char *text_sanitize(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	struct sbuf b = { 0 };
	size_t i = 0;

	sbuf_reserve(&b, n);
	while (i < n) {
		uint32_t cp;
		size_t len = utf8_decode(p + i, n - i, &cp);

		if (len == 0 || cp == 0) {
			sbuf_add(&b, "\xef\xbf\xbd", 3);
			i += len ? len : 1;
		} else {
			sbuf_add(&b, p + i, len);
			i += len;
		}
	}
	return sbuf_steal(&b, NULL);
}

size_t text_utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

bool text_is_digits(const char *s, size_t min, size_t max)
{
	size_t n;

	if (!s)
		return false;
	for (n = 0; s[n]; n++)
		if (s[n] < '0' || s[n] > '9')
			return false;
	return n >= min && n <= max;
}

bool text_ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* ---- SMS segments (GSM 03.38 default alphabet) ---- */

/* Septets a code point takes in GSM-7: 1 (basic table), 2 (extension
 * table, escaped), or 0 (not representable: the text goes UCS-2). */
static unsigned gsm7_septets(uint32_t cp)
{
	static const uint32_t basic[] = {
		0x00a3, 0x00a5, 0x00e8, 0x00e9, 0x00f9, 0x00ec, 0x00f2,
		0x00c7, 0x00d8, 0x00f8, 0x00c5, 0x00e5, 0x0394, 0x03a6,
		0x0393, 0x039b, 0x03a9, 0x03a0, 0x03a8, 0x03a3, 0x0398,
		0x039e, 0x00c6, 0x00e6, 0x00df, 0x00c9, 0x00a4, 0x00a1,
		0x00c4, 0x00d6, 0x00d1, 0x00dc, 0x00a7, 0x00bf, 0x00e4,
		0x00f6, 0x00f1, 0x00fc, 0x00e0,
	};
	size_t i;

	if (cp < 0x80) {
		if (cp == '\n' || cp == '\r')
			return 1;
		if (cp == '\f' || (cp && strchr("[\\]^{|}~", (int)cp)))
			return 2;
		if (cp >= 0x20 && cp < 0x7f && cp != '`')
			return 1;
		return 0;
	}
	if (cp == 0x20ac)       /* euro sign: extension table */
		return 2;
	for (i = 0; i < ARRAY_SIZE(basic); i++)
		if (basic[i] == cp)
			return 1;
	return 0;
}

void text_sms_info(const char *s, struct sms_info *ret)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, septets = 0, utf16 = 0;
	bool gsm = true;

	while (i < n) {
		uint32_t cp;
		size_t len = utf8_decode(p + i, n - i, &cp);
		unsigned sep;

		if (len == 0) {         /* cannot happen on sanitized text */
			cp = 0xfffd;
			len = 1;
		}
		i += len;
		sep = gsm7_septets(cp);
		if (sep == 0)
			gsm = false;
		septets += sep;
		utf16 += cp > 0xffff ? 2 : 1;
	}
	ret->ucs2 = !gsm;
	if (gsm) {
		ret->units = septets;
		ret->segments = septets <= 160 ? 1 :
			(unsigned)((septets + 152) / 153);
	} else {
		ret->units = utf16;
		ret->segments = utf16 <= 70 ? 1 :
			(unsigned)((utf16 + 66) / 67);
	}
}

/* ---- application/x-www-form-urlencoded ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..n) ('+' is a space) into a valid UTF-8 string. */
static char *form_decode(const char *s, size_t n)
{
	_cleanup_free_ char *raw = malloc(n + 1);
	size_t i, o = 0;

	if (!raw)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '+') {
			raw[o++] = ' ';
		} else if (s[i] == '%' && i + 2 < n &&
			   hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			raw[o++] = (char)(hexval(s[i + 1]) * 16 +
					  hexval(s[i + 2]));
			i += 2;
		} else {
			raw[o++] = s[i];
		}
	}
	return text_sanitize(raw, o);
}

int form_parse(struct form *f, const char *s, size_t n)
{
	size_t i = 0;

	f->n = 0;
	while (i < n) {
		size_t end = i, eq;
		char *k, *v;

		while (end < n && s[end] != '&')
			end++;
		if (end > i) {
			if (f->n == FORM_MAX_FIELDS)
				return -E2BIG;
			for (eq = i; eq < end && s[eq] != '='; eq++)
				;
			k = form_decode(s + i, eq - i);
			v = form_decode(s + (eq < end ? eq + 1 : end),
					eq < end ? end - eq - 1 : 0);
			if (!k || !v) {
				free(k);
				free(v);
				return -ENOMEM;
			}
			f->f[f->n].key = k;
			f->f[f->n].val = v;
			f->n++;
		}
		i = end + 1;
	}
	return 0;
}

const char *form_get(const struct form *f, const char *key)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->f[i].key, key) == 0)
			return f->f[i].val;
	return NULL;
}

void form_free(struct form *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->f[i].key);
		free(f->f[i].val);
	}
	f->n = 0;
}

/* ---- base64 ---- */

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int text_base64_decode(const char *in, char *out, size_t outsz)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (; *in && *in != '='; in++) {
		int v = b64val(*in);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= outsz)
				return -EINVAL;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	for (; *in == '='; in++)
		;
	if (*in)
		return -EINVAL;
	out[o] = '\0';
	if (memchr(out, '\0', o))
		return -EINVAL;
	return 0;
}

/* ---- phone numbers (providers.md §6.2) ---- */

/* A Vietnamese mobile NSN: 9 digits, first one 3, 5, 7, 8 or 9. */
static bool vn_mobile_nsn(const char *nsn)
{
	return text_is_digits(nsn, 9, 9) && strchr("35789", nsn[0]);
}

int phone_zns(const char *s, char nsn[static 16])
{
	if (s[0] == '+')
		s++;
	if (strncmp(s, "84", 2) != 0 || !vn_mobile_nsn(s + 2))
		return -EINVAL;
	memcpy(nsn, s + 2, 10);
	return 0;
}

int phone_esms(const char *s, char nsn[static 16])
{
	if (s[0] != '0' || !vn_mobile_nsn(s + 1))
		return -EINVAL;
	memcpy(nsn, s + 1, 10);
	return 0;
}

int phone_e164(const char *s, char nsn[static 16])
{
	if (s[0] != '+' || s[1] < '1' || s[1] > '9' ||
	    !text_is_digits(s + 1, 8, 15))
		return -EINVAL;
	if (strncmp(s + 1, "84", 2) == 0) {
		if (!vn_mobile_nsn(s + 3))
			return -EINVAL;
		memcpy(nsn, s + 3, 10);
		return 0;
	}
	snprintf(nsn, 16, "%s", s + 1);
	return 0;
}

void phone_norm(const char *s, char *out, size_t outsz)
{
	char d[64];
	size_t n = 0;

	if (outsz == 0)
		return;
	for (; *s && n + 1 < sizeof(d); s++)
		if (*s >= '0' && *s <= '9')
			d[n++] = *s;
	d[n] = '\0';
	if (n == 11 && strncmp(d, "84", 2) == 0)
		snprintf(out, outsz, "%s", d + 2);
	else if (n == 10 && d[0] == '0')
		snprintf(out, outsz, "%s", d + 1);
	else
		snprintf(out, outsz, "%s", d);
}
