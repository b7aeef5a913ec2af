/* when.c: see when.h
 *
 * Absolute times. The input is cut into words at whitespace (ASCII or
 * U+00A0); each word is one of
 *   a date   "05/12/2026" "5/12/2026" "5/12" "05-12-2026" "2026-12-05"
 *   a time   "19:30" "19:30:00" "19h30" "19h" ("H" too)
 *   both     "2026-12-05T19:30" (ISO only)
 *   filler   "lúc" just before a time, "ngày" just before a date (matched
 *            without diacritics, so "luc"/"ngay" and decomposed text work)
 * One date is required and one time is optional, in either order. Day and
 * month come day first except in ISO yyyy-mm-dd. Years have 4 digits
 * (1970 or later). The format is settled first ("unknown time format"),
 * then the values ("cannot read '...' as a date: <why>").
 *
 * An omitted year ("19:30 5/12") is now's year, or the first later year in
 * which that date exists and is not already past (29/02 waits for a leap
 * year). For a date without a time only the day is compared: "5/12" typed on
 * 5 December means today.
 *
 * Durations: parts of <number><unit>, spaces optional ("1 day 2 hours",
 * "1d2h", "1 ngày 2 giờ"), then optionally "before"/"trước". Units are
 * matched without diacritics or case. Whole numbers only.
 *
 * Calendar arithmetic uses H. Hinnant's days_from_civil/civil_from_days, so
 * nothing here reads TZ or calls mktime.
 */
#include "loaxa/when.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>

#include "loaxa/text.h"
#include "loaxa/util.h"

#define WHEN_MS_DAY INT64_C(86400000)
#define WHEN_DURATION_MAX (366 * WHEN_MS_DAY)
#define WHEN_FORMAT_HELP "unknown time format: write it like 19:30 05/12/2026"

static const char *const when_months[12] = {
	"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December",
};

static int64_t when_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t when_floor_mod(int64_t a, int64_t b)
{
	int64_t r = a % b;
	return r != 0 && (r < 0) != (b < 0) ? r + b : r;
}

/* Days since 1970-01-01 of y-m-d, m in 1..12, d counted linearly. */
static int64_t when_days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = when_floor_div(y, 400);
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void when_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = when_floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool when_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int when_month_days(int64_t y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30,
				      31, 31, 30, 31, 30, 31 };
	return m == 2 && when_leap(y) ? 29 : days[m - 1];
}

/* Saturating int64 arithmetic: absurd struct tm values give INT64_MIN/MAX
 * rather than undefined behaviour. */
static int64_t when_sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int64_t when_sat_mul(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_mul_overflow(a, b, &r))
		return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
	return r;
}

int64_t when_local_to_ms(const struct tm *local, int utc_offset_min)
{
	if (!local)
		return 0;
	int64_t mon = local->tm_mon;
	int64_t y = (int64_t)local->tm_year + 1900 + when_floor_div(mon, 12);
	int64_t days = when_days_from_civil(y, when_floor_mod(mon, 12) + 1, 1);
	days += (int64_t)local->tm_mday - 1;
	int64_t ms = when_sat_mul(days, WHEN_MS_DAY);
	ms = when_sat_add(ms, (int64_t)local->tm_hour * 3600000);
	ms = when_sat_add(ms, (int64_t)local->tm_min * 60000);
	ms = when_sat_add(ms, (int64_t)local->tm_sec * 1000);
	return when_sat_add(ms, -(int64_t)utc_offset_min * 60000);
}

void when_ms_to_local(int64_t ms, int utc_offset_min, struct tm *ret)
{
	if (!ret)
		return;
	int64_t t = when_sat_add(ms, (int64_t)utc_offset_min * 60000);
	int64_t days = when_floor_div(t, WHEN_MS_DAY);
	int64_t rem = when_floor_mod(t, WHEN_MS_DAY); /* 0 .. one day - 1 */
	int64_t y;
	int m, d;

	when_civil_from_days(days, &y, &m, &d);
	memset(ret, 0, sizeof *ret);
	ret->tm_year = (int)(y - 1900);
	ret->tm_mon = m - 1;
	ret->tm_mday = d;
	ret->tm_hour = (int)(rem / 3600000);
	ret->tm_min = (int)(rem / 60000 % 60);
	ret->tm_sec = (int)(rem / 1000 % 60);
	ret->tm_wday = (int)when_floor_mod(days + 4, 7); /* 1970-01-01: Thu */
	ret->tm_yday = (int)(days - when_days_from_civil(y, 1, 1));
	ret->tm_isdst = 0; /* a fixed offset has no daylight saving */
}

/* After a truncating snprintf into s[0..len], drop a code point that lost
 * its tail, so messages stay valid UTF-8. */
static void when_utf8_cut(char *s, size_t len)
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

static int when_err(char *err, size_t errsz, const char *fmt, ...)
	_printf_(3, 4);
static int when_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (!err || errsz == 0)
		return -EINVAL;
	va_start(ap, fmt);
	int n = vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	if (n < 0)
		err[0] = '\0';
	else if ((size_t)n >= errsz)
		when_utf8_cut(err, errsz - 1);
	return -EINVAL;
}

/* Length of the well-formed code point at s[0..len), or 0. */
static size_t when_utf8_len(const char *s, size_t len)
{
	for (size_t k = 1; k <= 4 && k <= len; k++)
		if (text_utf8_valid(s, k))
			return k;
	return 0;
}

/* Copy user input for a message: valid UTF-8, control characters and bad
 * bytes shown as '?', cut with "..." after about 48 bytes. */
static void when_quote(const char *s, size_t len, char *out, size_t outsz)
{
	size_t i = 0, o = 0;

	while (i < len) {
		size_t n = when_utf8_len(s + i, len - i);
		const char *src = s + i;
		unsigned char c = (unsigned char)s[i];
		if (n == 0 || c < 0x20 || c == 0x7F) {
			src = "?";
			i++;
			n = 1;
		} else {
			i += n;
		}
		if (o + n + 4 > outsz || o >= 48) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, src, n);
		o += n;
	}
	out[o] = '\0';
}

/* Whitespace at s[0..len): its length in bytes, or 0. */
static size_t when_space(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	if (strchr(" \t\n\r\v\f", s[0]) && s[0] != '\0')
		return 1;
	if (len >= 2 && (unsigned char)s[0] == 0xC2 &&
	    (unsigned char)s[1] == 0xA0)
		return 2;
	return 0;
}

static bool when_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Fold a word for matching: diacritics off, lowercase. Only letters are
 * allowed in it (ASCII ones, or well-formed UTF-8 ones), so "h-o-u-r-s" or
 * "gi\xffo" never match; returns false if the word is no such thing. */
static bool when_word_fold(const char *s, size_t n, char *f, size_t fsz)
{
	if (n >= fsz || !text_utf8_valid(s, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80 && !((c >= 'a' && c <= 'z') ||
				  (c >= 'A' && c <= 'Z')))
			return false;
	}
	text_fold_key(s, n, f, fsz);
	return true;
}

static bool when_word_is(const char *s, size_t n, const char *folded)
{
	char f[32];
	return when_word_fold(s, n, f, sizeof f) && strcmp(f, folded) == 0;
}

/* Read digits at s[*i..len) into *ret (the first 9 count); returns how
 * many there were, 0 if none. */
static size_t when_num(const char *s, size_t len, size_t *i, int *ret)
{
	size_t k = 0;
	int v = 0;
	while (*i < len && when_is_digit(s[*i])) {
		if (k < 9)
			v = v * 10 + (s[*i] - '0');
		k++;
		(*i)++;
	}
	*ret = v;
	return k;
}

struct when_date {
	int y, m, d;
	bool has_year;
	bool bad_year; /* a year not written with 4 digits */
};

struct when_time {
	int h, min, sec;
};

/* Parse a whole date word at s[0..len). On an ISO date followed by 'T' the
 * rest is returned in *rest (else *rest_len = 0). Returns 0 or -EINVAL. */
static int when_parse_date_word(const char *s, size_t len,
				struct when_date *ret, const char **rest,
				size_t *rest_len)
{
	size_t i = 0, k;
	int a, b, c;

	*rest_len = 0;
	*ret = (struct when_date){ 0 };
	k = when_num(s, len, &i, &a);
	if (k == 4 && i < len && s[i] == '-') {
		/* ISO yyyy-mm-dd */
		i++;
		if (!(k = when_num(s, len, &i, &b)) || k > 2 || i >= len ||
		    s[i] != '-')
			return -EINVAL;
		i++;
		if (!(k = when_num(s, len, &i, &c)) || k > 2)
			return -EINVAL;
		if (i < len) {
			if (s[i] != 'T' && s[i] != 't')
				return -EINVAL;
			*rest = s + i + 1;
			*rest_len = len - i - 1;
			if (*rest_len == 0)
				return -EINVAL;
		}
		*ret = (struct when_date){ .y = a, .m = b, .d = c,
					   .has_year = true };
		return 0;
	}
	if (k == 0 || k > 2 || i >= len || (s[i] != '/' && s[i] != '-'))
		return -EINVAL;
	char sep = s[i++];
	if (!(k = when_num(s, len, &i, &b)) || k > 2)
		return -EINVAL;
	ret->d = a;
	ret->m = b;
	if (i == len) {
		/* "5/12": year omitted (not "5-12", which reads as a range) */
		return sep == '/' ? 0 : -EINVAL;
	}
	if (s[i] != sep)
		return -EINVAL;
	i++;
	k = when_num(s, len, &i, &c);
	if (k == 0 || i != len)
		return -EINVAL;
	ret->has_year = true;
	ret->bad_year = k != 4;
	ret->y = c;
	return 0;
}

/* Parse a whole time word: H:MM, H:MM:SS, HhMM, Hh. */
static int when_parse_time_word(const char *s, size_t len,
				struct when_time *ret)
{
	size_t i = 0, k;
	int h, mi = 0, sec = 0;

	k = when_num(s, len, &i, &h);
	if (k == 0 || k > 2 || i >= len)
		return -EINVAL;
	if (s[i] == ':') {
		i++;
		if (when_num(s, len, &i, &mi) != 2)
			return -EINVAL;
		if (i < len) {
			if (s[i] != ':')
				return -EINVAL;
			i++;
			if (when_num(s, len, &i, &sec) != 2)
				return -EINVAL;
		}
	} else if (s[i] == 'h' || s[i] == 'H') {
		i++;
		if (i < len && when_num(s, len, &i, &mi) != 2)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (i != len)
		return -EINVAL;
	*ret = (struct when_time){ .h = h, .min = mi, .sec = sec };
	return 0;
}

/* Whether month-day(-time) comes before now in the year. */
static bool when_before_now(const struct when_date *d,
			    const struct when_time *t, bool has_time,
			    const struct tm *now)
{
	int a[5] = { d->m, d->d, t->h, t->min, t->sec };
	int b[5] = { 0, now->tm_mday, now->tm_hour, now->tm_min,
		     now->tm_sec };
	b[0] = now->tm_mon < 12 ? now->tm_mon + 1 : 13;
	size_t n = has_time ? 5 : 2;
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return a[i] < b[i];
	return false;
}

int when_parse_local(const char *s, size_t len, const struct tm *now,
		     struct tm *ret, bool *ret_has_time, char *err,
		     size_t errsz)
{
	struct when_date date = { 0 };
	struct when_time tim = { 0 };
	bool have_date = false, have_time = false;
	bool want_date = false, want_time = false; /* after ngày / lúc */
	size_t i = 0;
	char q[64];

	if (!s)
		s = "", len = 0;
	if (!ret)
		return -EINVAL;

	while (i < len) {
		size_t w, sp;
		if ((sp = when_space(s + i, len - i))) {
			i += sp;
			continue;
		}
		for (w = i; w < len && !when_space(s + w, len - w); w++)
			;
		const char *word = s + i;
		size_t n = w - i;
		i = w;

		bool digits = false;
		for (size_t k = 0; k < n; k++)
			digits = digits || when_is_digit(word[k]);
		if (!digits && !want_date && !want_time &&
		    when_word_is(word, n, "luc")) {
			if (have_time)
				return when_err(err, errsz, WHEN_FORMAT_HELP);
			want_time = true;
			continue;
		}
		if (!digits && !want_date && !want_time &&
		    when_word_is(word, n, "ngay")) {
			if (have_date)
				return when_err(err, errsz, WHEN_FORMAT_HELP);
			want_date = true;
			continue;
		}

		struct when_date d;
		struct when_time t;
		const char *rest = NULL;
		size_t rest_len;
		if (!have_time && !want_date &&
		    when_parse_time_word(word, n, &t) == 0) {
			tim = t;
			have_time = true;
			want_time = false;
		} else if (!have_date && !want_time &&
			   when_parse_date_word(word, n, &d, &rest,
						&rest_len) == 0) {
			if (rest_len > 0) {
				if (have_time || want_date ||
				    when_parse_time_word(rest, rest_len,
							 &t) < 0)
					return when_err(err, errsz,
							WHEN_FORMAT_HELP);
				tim = t;
				have_time = true;
			}
			date = d;
			have_date = true;
			want_date = false;
		} else {
			return when_err(err, errsz, WHEN_FORMAT_HELP);
		}
	}
	if (!have_date || want_date || want_time)
		return when_err(err, errsz, WHEN_FORMAT_HELP);

	/* The format is right; now the values. */
	const char *start;
	size_t tlen = text_trim(s, len, &start);
	when_quote(start, tlen, q, sizeof q);
#define WHEN_BAD(...) \
	when_err(err, errsz, "cannot read '%s' as a date: %s", q, __VA_ARGS__)

	if (date.has_year && date.bad_year)
		return WHEN_BAD("write the year with 4 digits, like 2026");
	if (date.has_year && date.y < 1970)
		return WHEN_BAD("the year must be 1970 or later");
	if (date.m < 1 || date.m > 12) {
		char why[48];
		snprintf(why, sizeof why, "there is no month %d", date.m);
		return WHEN_BAD(why);
	}
	if (date.d < 1)
		return WHEN_BAD("there is no day 0");
	if (date.has_year && date.d > when_month_days(date.y, date.m)) {
		char why[64];
		if (date.m == 2)
			snprintf(why, sizeof why, "February has %d days in %d",
				 when_month_days(date.y, 2), date.y);
		else
			snprintf(why, sizeof why, "%s has %d days",
				 when_months[date.m - 1],
				 when_month_days(date.y, date.m));
		return WHEN_BAD(why);
	}
	if (!date.has_year && date.d > when_month_days(2000, date.m)) {
		char why[64];
		snprintf(why, sizeof why, "%s has %s%d days",
			 when_months[date.m - 1], date.m == 2 ? "at most " : "",
			 when_month_days(2000, date.m));
		return WHEN_BAD(why);
	}
	if (tim.h > 23)
		return WHEN_BAD("hours go from 0 to 23");
	if (tim.min > 59)
		return WHEN_BAD("minutes go from 0 to 59");
	if (tim.sec > 59)
		return WHEN_BAD("seconds go from 0 to 59");

	if (!date.has_year) {
		if (!now || now->tm_year < 70 || now->tm_year > 9999 - 1900)
			return WHEN_BAD("write the year too, like 05/12/2026");
		int y0 = now->tm_year + 1900;
		/* at most 8 years to the next 29 February (2096 -> 2104) */
		for (date.y = y0; date.y <= y0 + 8; date.y++) {
			if (date.d > when_month_days(date.y, date.m))
				continue;
			if (date.y > y0 ||
			    !when_before_now(&date, &tim, have_time, now))
				break;
		}
	}
#undef WHEN_BAD

	memset(ret, 0, sizeof *ret);
	ret->tm_year = date.y - 1900;
	ret->tm_mon = date.m - 1;
	ret->tm_mday = date.d;
	ret->tm_hour = tim.h;
	ret->tm_min = tim.min;
	ret->tm_sec = tim.sec;
	int64_t days = when_days_from_civil(date.y, date.m, date.d);
	ret->tm_wday = (int)when_floor_mod(days + 4, 7);
	ret->tm_yday = (int)(days - when_days_from_civil(date.y, 1, 1));
	ret->tm_isdst = -1;
	if (ret_has_time)
		*ret_has_time = have_time;
	return 0;
}

/* Milliseconds per unit, by folded name; 0 if unknown. */
static int64_t when_unit_ms(const char *s, size_t n)
{
	static const struct {
		const char *name;
		int64_t ms;
	} units[] = {
		{ "w", 7 * WHEN_MS_DAY },  { "week", 7 * WHEN_MS_DAY },
		{ "weeks", 7 * WHEN_MS_DAY }, { "tuan", 7 * WHEN_MS_DAY },
		{ "d", WHEN_MS_DAY },      { "day", WHEN_MS_DAY },
		{ "days", WHEN_MS_DAY },   { "ngay", WHEN_MS_DAY },
		{ "h", 3600000 },          { "hour", 3600000 },
		{ "hours", 3600000 },      { "gio", 3600000 },
		{ "tieng", 3600000 },      { "m", 60000 },
		{ "min", 60000 },          { "mins", 60000 },
		{ "minute", 60000 },       { "minutes", 60000 },
		{ "phut", 60000 },         { "s", 1000 },
		{ "sec", 1000 },           { "secs", 1000 },
		{ "second", 1000 },        { "seconds", 1000 },
		{ "giay", 1000 },
	};
	char f[32];

	if (!when_word_fold(s, n, f, sizeof f))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (strcmp(f, units[i].name) == 0)
			return units[i].ms;
	return 0;
}

int when_parse_duration(const char *s, size_t len, int64_t *ret_ms, char *err,
			size_t errsz)
{
	static const char help[] = "unknown duration format: write it like "
				   "2 hours before, 30 phút trước or 1d";
	int64_t total = 0;
	size_t i = 0, parts = 0;
	bool before = false;
	char q[64];

	if (!s)
		s = "", len = 0;
	for (;;) {
		size_t sp;
		/* parts may be separated by spaces and commas */
		while ((sp = when_space(s + i, len - i)) ||
		       (parts > 0 && !before && i < len && s[i] == ','))
			i += sp ? sp : 1;
		if (i == len)
			break;
		if (before)
			return when_err(err, errsz, "%s", help);

		if (!when_is_digit(s[i])) {
			/* only the final "before" stands without a number */
			size_t w = i;
			while (w < len && s[w] != ',' &&
			       !when_space(s + w, len - w))
				w++;
			if (parts == 0 || !(when_word_is(s + i, w - i,
							 "before") ||
					    when_word_is(s + i, w - i,
							 "truoc")))
				return when_err(err, errsz, "%s", help);
			before = true;
			i = w;
			continue;
		}

		size_t nstart = i;
		int64_t num = 0;
		while (i < len && when_is_digit(s[i])) {
			if (num <= WHEN_DURATION_MAX)
				num = num * 10 + (s[i] - '0');
			i++;
		}
		size_t nlen = i - nstart;
		if (i + 1 < len && (s[i] == '.' || s[i] == ',') &&
		    when_is_digit(s[i + 1]))
			return when_err(err, errsz, "use whole numbers: write "
					"90 minutes instead of 1.5 hours");
		while ((sp = when_space(s + i, len - i)))
			i += sp;
		size_t u = i;
		while (i < len && !when_is_digit(s[i]) && s[i] != ',' &&
		       !when_space(s + i, len - i))
			i++;
		when_quote(s + nstart, nlen, q, sizeof q);
		if (i == u)
			return when_err(err, errsz, "missing unit after %s: "
					"write it like %s minutes or %s phút",
					q, q, q);
		int64_t unit = when_unit_ms(s + u, i - u);
		if (unit == 0) {
			when_quote(s + u, i - u, q, sizeof q);
			return when_err(err, errsz, "unknown unit '%s': use "
					"days, hours, minutes or seconds "
					"(ngày, giờ, phút, giây)", q);
		}
		total = when_sat_add(total, when_sat_mul(num, unit));
		if (total > WHEN_DURATION_MAX)
			total = WHEN_DURATION_MAX + 1;
		parts++;
	}
	if (parts == 0)
		return when_err(err, errsz, "%s", help);
	if (total == 0)
		return when_err(err, errsz, "the duration must be more than 0");
	if (total > WHEN_DURATION_MAX)
		return when_err(err, errsz,
				"the duration must be at most 366 days");
	if (ret_ms)
		*ret_ms = total;
	return 0;
}
