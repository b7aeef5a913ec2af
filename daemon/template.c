/* template.c: see template.h
 *
 * Templates: one walker serves template_check and template_render, so the
 * two agree on every input (check is a render that writes nothing). The
 * grammar is deliberately small and unambiguous:
 *   {{  a literal '{'          }}  a literal '}'
 *   {name}  a placeholder (exact, case-sensitive names from template.h)
 * A lone '}', an unclosed '{', an empty or unknown placeholder and invalid
 * UTF-8 are errors. Character positions in messages count code points from
 * 1, as a person counts letters in an editor. Values are inserted verbatim:
 * a value containing "{name}" is not expanded again.
 *
 * SMS: GSM 03.38 basic table (1 septet) and extension table (2 septets); any
 * other code point, or any invalid UTF-8 byte (counted as one U+FFFD), makes
 * the whole message UCS-2, measured in UTF-16 code units. Empty text is
 * 0 units and 0 segments: there is nothing to send.
 * Segments follow the header's arithmetic (ceil(units / 153 or 67)); a real
 * SMSC never splits an escape pair or a surrogate pair across two parts, so
 * for rare texts at a boundary the true count can be one higher.
 */
#include "loaxa/template.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>

static const char *const tmpl_var_names[TV_MAX] = {
	[TV_NAME] = "name",
	[TV_GROUP] = "group",
	[TV_TITLE] = "title",
	[TV_TIME] = "time",
	[TV_PLACE] = "place",
	[TV_AGENDA] = "agenda",
	[TV_BODY] = "body",
};

const char *template_var_name(enum tmpl_var v)
{
	if ((unsigned)v >= TV_MAX)
		return NULL;
	return tmpl_var_names[v];
}

int template_var_parse(const char *s, size_t n, enum tmpl_var *ret)
{
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < TV_MAX; i++) {
		const char *name = tmpl_var_names[i];
		if (strlen(name) == n && memcmp(name, s, n) == 0) {
			if (ret)
				*ret = (enum tmpl_var)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Decode one code point at s[0..len) (len >= 1), strictly (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF). Returns its length in
 * bytes (1..4) and sets *ret_cp, or 0 if the bytes are not well-formed. */
static size_t tmpl_utf8_decode(const unsigned char *s, size_t len,
			       uint32_t *ret_cp)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t n;
	uint32_t cp;

	if (c < 0x80) {
		*ret_cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	cp = (cp << 6) | (s[1] & 0x3F);
	for (size_t i = 2; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	*ret_cp = cp;
	return n;
}

/* After a truncating snprintf into s[0..len], drop a code point that lost
 * its tail, so messages stay valid UTF-8 (they end up in JSON). */
static void tmpl_utf8_cut(char *s, size_t len)
{
	size_t i = len;
	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i == 0)
		return;
	unsigned char c = (unsigned char)s[i - 1];
	size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	if (i - 1 + need > len)
		s[i - 1] = '\0';
}

static void tmpl_err(char *err, size_t errsz, const char *fmt, ...)
	_printf_(3, 4);
static void tmpl_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (!err || errsz == 0)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	if (n < 0)
		err[0] = '\0';
	else if ((size_t)n >= errsz)
		tmpl_utf8_cut(err, errsz - 1);
}

/* Copy the bytes of a bad placeholder name for a message: at most 24 code
 * points, control characters and invalid bytes shown as '?'. */
static void tmpl_quote(const char *s, size_t len, char *out, size_t outsz)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, chars = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = tmpl_utf8_decode(p + i, len - i, &cp);
		const char *src = s + i;
		if (n == 0 || cp < 0x20 || cp == 0x7F) {
			src = "?";
			i += n ? n : 1;
			n = 1;
		} else {
			i += n;
		}
		if (++chars > 24 || o + n + 4 > outsz) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, src, n);
		o += n;
	}
	out[o] = '\0';
}

/* Code points in s[0..n), which is known to be valid UTF-8. */
static size_t tmpl_count_chars(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

/* The walker. out == NULL checks only. Returns 0, -EINVAL (message in err),
 * or a buf_append error. */
static int tmpl_walk(const char *tmpl, const struct tmpl_vars *vars,
		     struct buf *out, char *err, size_t errsz)
{
	const unsigned char *p = (const unsigned char *)tmpl;
	size_t len = strlen(tmpl);
	size_t i = 0, lit = 0; /* lit: start of the pending literal run */
	size_t chr = 1;        /* 1-based character number of p[i] */
	int r;

#define TMPL_FLUSH(end)                                                     \
	do {                                                                \
		if (out && (end) > lit &&                                   \
		    (r = buf_append(out, tmpl + lit, (end) - lit)) < 0)     \
			return r;                                           \
	} while (0)

	while (p[i]) {
		if (p[i] == '{' && p[i + 1] == '{') {
			TMPL_FLUSH(i + 1); /* keep one brace */
			i += 2;
			chr += 2;
			lit = i;
		} else if (p[i] == '}' && p[i + 1] == '}') {
			TMPL_FLUSH(i + 1);
			i += 2;
			chr += 2;
			lit = i;
		} else if (p[i] == '}') {
			tmpl_err(err, errsz, "unmatched '}' at character %zu "
				 "(write }} for a literal brace)", chr);
			return -EINVAL;
		} else if (p[i] == '{') {
			size_t j = i + 1;
			while (p[j] && p[j] != '{' && p[j] != '}')
				j++;
			if (p[j] != '}') {
				tmpl_err(err, errsz, "unclosed '{' at "
					 "character %zu (write {{ for a "
					 "literal brace)", chr);
				return -EINVAL;
			}
			const char *name = tmpl + i + 1;
			size_t n = j - i - 1;
			enum tmpl_var v;
			if (n == 0) {
				tmpl_err(err, errsz, "empty placeholder {} at "
					 "character %zu", chr);
				return -EINVAL;
			}
			if (template_var_parse(name, n, &v) < 0) {
				char q[128];
				tmpl_quote(name, n, q, sizeof q);
				tmpl_err(err, errsz, "unknown placeholder {%s} "
					 "at character %zu", q, chr);
				return -EINVAL;
			}
			TMPL_FLUSH(i);
			const char *val = vars ? vars->v[v] : NULL;
			if (out && val && (r = buf_append(out, val,
							  strlen(val))) < 0)
				return r;
			chr += tmpl_count_chars(tmpl + i, j + 1 - i);
			i = j + 1;
			lit = i;
		} else {
			uint32_t cp;
			size_t n = tmpl_utf8_decode(p + i, len - i, &cp);
			if (n == 0) {
				tmpl_err(err, errsz, "invalid UTF-8 at "
					 "character %zu (save the text as "
					 "UTF-8)", chr);
				return -EINVAL;
			}
			i += n;
			chr++;
		}
	}
	TMPL_FLUSH(i);
#undef TMPL_FLUSH
	return 0;
}

int template_check(const char *tmpl, char *err, size_t errsz)
{
	if (!tmpl) {
		tmpl_err(err, errsz, "no template");
		return -EINVAL;
	}
	return tmpl_walk(tmpl, NULL, NULL, err, errsz);
}

int template_render(const char *tmpl, const struct tmpl_vars *vars,
		    struct buf *out)
{
	if (!tmpl || !out)
		return -EINVAL;
	/* Validate first, so a bad template is -EINVAL whatever out's room
	 * (a long literal before the error must not turn it into -E2BIG). */
	int r = tmpl_walk(tmpl, NULL, NULL, NULL, 0);
	if (r < 0)
		return r;
	size_t start = out->len;
	r = tmpl_walk(tmpl, vars, out, NULL, 0);
	if (r < 0) {
		/* never leave half a message behind */
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return r;
}

static const char *const tmpl_vn_weekdays[7] = {
	"Chủ nhật", "thứ Hai", "thứ Ba", "thứ Tư",
	"thứ Năm", "thứ Sáu", "thứ Bảy",
};

const char *template_vn_weekday(int wday)
{
	if (wday < 0 || wday > 6)
		return NULL;
	return tmpl_vn_weekdays[wday];
}

static int64_t tmpl_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Day of the week of a civil date (0 = Sunday), for any int fields: the
 * month is normalised into the year and the day counts on linearly
 * (H. Hinnant's days_from_civil). */
static int tmpl_weekday(int64_t y, int64_t mon0, int64_t mday)
{
	y += tmpl_floor_div(mon0, 12);
	int64_t m = mon0 - tmpl_floor_div(mon0, 12) * 12 + 1; /* 1..12 */
	y -= m <= 2;
	int64_t era = tmpl_floor_div(y, 400);
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468 + (mday - 1);
	/* 1970-01-01 was a Thursday */
	return (int)(days + 4 - tmpl_floor_div(days + 4, 7) * 7);
}

/* The weekday is computed from the date, not read from tm_wday: a struct tm
 * filled by hand or by a parser need not carry it. */
size_t template_vn_datetime(const struct tm *tm, char *out, size_t outsz)
{
	char tmp[160];
	int n;

	if (!out || outsz == 0)
		return 0;
	if (!tm) {
		out[0] = '\0';
		return 0;
	}
	int64_t year = (int64_t)tm->tm_year + 1900;
	int64_t mon = (int64_t)tm->tm_mon + 1;
	const char *wd = tmpl_vn_weekdays[tmpl_weekday(year, tm->tm_mon,
							tm->tm_mday)];
	if (tm->tm_min == 0)
		n = snprintf(tmp, sizeof tmp, "%dh %s, %02d/%02" PRId64
			     "/%04" PRId64, tm->tm_hour, wd, tm->tm_mday, mon,
			     year);
	else
		n = snprintf(tmp, sizeof tmp, "%dh%02d %s, %02d/%02" PRId64
			     "/%04" PRId64, tm->tm_hour, tm->tm_min, wd,
			     tm->tm_mday, mon, year);
	if (n < 0) {
		out[0] = '\0';
		return 0;
	}
	size_t len = (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1;
	if (len > outsz - 1) {
		len = outsz - 1;
		memcpy(out, tmp, len);
		out[len] = '\0';
		tmpl_utf8_cut(out, len);
		return strlen(out);
	}
	memcpy(out, tmp, len + 1);
	return len;
}

/* Septets for a code point in GSM 03.38: 1 (basic table), 2 (extension
 * table, written as ESC + char), or 0 (not representable). */
static int sms_gsm7_septets(uint32_t cp)
{
	static const uint16_t basic[] = {
		0x00A1, 0x00A3, 0x00A4, 0x00A5, 0x00A7, 0x00BF, 0x00C4,
		0x00C5, 0x00C6, 0x00C7, 0x00C9, 0x00D1, 0x00D6, 0x00D8,
		0x00DC, 0x00DF, 0x00E0, 0x00E4, 0x00E5, 0x00E6, 0x00E8,
		0x00E9, 0x00EC, 0x00F1, 0x00F2, 0x00F6, 0x00F8, 0x00F9,
		0x00FC, 0x0393, 0x0394, 0x0398, 0x039B, 0x039E, 0x03A0,
		0x03A3, 0x03A6, 0x03A8, 0x03A9,
	};

	if (cp < 0x80) {
		if (cp == '\n' || cp == '\r' || cp == 0x1B)
			return 1;
		if (cp == '\f')
			return 2;
		if (cp < 0x20 || cp == 0x7F || cp == '`')
			return 0;
		return strchr("^{}\\[~]|", (int)cp) ? 2 : 1;
	}
	if (cp == 0x20AC) /* € */
		return 2;
	for (size_t i = 0; i < ARRAY_SIZE(basic); i++)
		if (basic[i] == cp)
			return 1;
	return 0;
}

void sms_measure(const char *utf8, size_t len, struct sms_info *ret)
{
	const unsigned char *p = (const unsigned char *)utf8;
	size_t i = 0, septets = 0, u16 = 0;
	bool gsm = true;

	if (!ret)
		return;
	if (!utf8)
		len = 0;
	while (i < len) {
		uint32_t cp;
		size_t n = tmpl_utf8_decode(p + i, len - i, &cp);
		if (n == 0) {
			/* one invalid byte: sent as U+FFFD */
			gsm = false;
			u16++;
			i++;
			continue;
		}
		i += n;
		u16 += cp > 0xFFFF ? 2 : 1;
		if (gsm) {
			int s = sms_gsm7_septets(cp);
			if (s == 0)
				gsm = false;
			septets += (size_t)s;
		}
	}

	ret->encoding = gsm ? SMS_GSM7 : SMS_UCS2;
	ret->units = gsm ? septets : u16;
	size_t single = gsm ? 160 : 70, part = gsm ? 153 : 67;
	if (ret->units == 0)
		ret->segments = 0;
	else if (ret->units <= single)
		ret->segments = 1;
	else
		ret->segments = (ret->units + part - 1) / part;
}

const char *sms_encoding_name(enum sms_encoding e)
{
	switch (e) {
	case SMS_GSM7:
		return "GSM-7";
	case SMS_UCS2:
		return "UCS-2";
	}
	return NULL;
}
