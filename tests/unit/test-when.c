/* test-when.c: absolute times and durations as people type them, and the
 * TZ-free conversion between local broken-down time and epoch ms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <time.h>

#include "loaxa/text.h"
#include "loaxa/util.h"
#include "loaxa/when.h"

#define VN 420 /* Vietnam: UTC+7 */

static struct tm mk(int y, int mo, int d, int h, int mi, int s)
{
	return (struct tm){ .tm_year = y - 1900, .tm_mon = mo - 1,
			    .tm_mday = d, .tm_hour = h, .tm_min = mi,
			    .tm_sec = s, .tm_isdst = -1 };
}

/* Parse a C string; "YYYY-MM-DD HH:MM:SS" (+ " date-only") on success,
 * else "ERR: <message>". Checks what must hold either way. */
static const char *parse_at(const char *in, const struct tm *now)
{
	static char res[512];
	char err[256];
	struct tm tm, canary;
	bool has_time = true;

	memset(&tm, 0x5A, sizeof tm);
	memset(&canary, 0x5A, sizeof canary);
	memset(err, 0, sizeof err);
	int r = when_parse_local(in, strlen(in), now, &tm, &has_time, err,
				 sizeof err);
	if (r < 0) {
		assert_int_equal(r, -EINVAL);
		/* ret is not clobbered on failure */
		assert_memory_equal(&tm, &canary, sizeof tm);
		assert_true(strlen(err) > 0);
		assert_true(text_utf8_valid(err, strlen(err)));
		snprintf(res, sizeof res, "ERR: %s", err);
		return res;
	}
	assert_int_equal(r, 0);
	assert_string_equal(err, "");
	assert_int_equal(tm.tm_isdst, -1);
	/* the weekday and day of the year agree with the ms round trip */
	struct tm back;
	when_ms_to_local(when_local_to_ms(&tm, VN), VN, &back);
	assert_int_equal(back.tm_year, tm.tm_year);
	assert_int_equal(back.tm_mon, tm.tm_mon);
	assert_int_equal(back.tm_mday, tm.tm_mday);
	assert_int_equal(back.tm_hour, tm.tm_hour);
	assert_int_equal(back.tm_min, tm.tm_min);
	assert_int_equal(back.tm_sec, tm.tm_sec);
	assert_int_equal(back.tm_wday, tm.tm_wday);
	assert_int_equal(back.tm_yday, tm.tm_yday);
	snprintf(res, sizeof res, "%04d-%02d-%02d %02d:%02d:%02d%s",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, has_time ? "" : " date-only");
	return res;
}

static const char *parse(const char *in)
{
	static const struct tm now = { .tm_year = 2026 - 1900, .tm_mon = 5,
				       .tm_mday = 15, .tm_hour = 10 };
	return parse_at(in, &now);
}

static void test_formats(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} rows[] = {
		{ "2026-12-05 19:30", "2026-12-05 19:30:00" },
		{ "2026-12-05T19:30", "2026-12-05 19:30:00" },
		{ "2026-12-05 19:30:00", "2026-12-05 19:30:00" },
		{ "2026-12-05 19:30:45", "2026-12-05 19:30:45" },
		{ "2026-12-05T19:30:45", "2026-12-05 19:30:45" },
		{ "19:30 05/12/2026", "2026-12-05 19:30:00" },
		{ "19h30 05/12/2026", "2026-12-05 19:30:00" },
		{ "19h 05/12/2026", "2026-12-05 19:00:00" },
		{ "19H30 05/12/2026", "2026-12-05 19:30:00" },
		{ "05/12/2026 19:30", "2026-12-05 19:30:00" },
		{ "05/12/2026 19h30", "2026-12-05 19:30:00" },
		{ "5/12/2026 7h30", "2026-12-05 07:30:00" },
		{ "5/1/2027 7:05", "2027-01-05 07:05:00" },
		{ "19:30 5/12", "2026-12-05 19:30:00" },
		{ "19h30 ngày 05/12/2026", "2026-12-05 19:30:00" },
		{ "lúc 19h30 ngày 05/12/2026", "2026-12-05 19:30:00" },
		{ "ngày 05/12/2026 lúc 19h30", "2026-12-05 19:30:00" },
		{ "luc 19h30 ngay 05/12/2026", "2026-12-05 19:30:00" },
		{ "Lúc 19h30 Ngày 05/12/2026", "2026-12-05 19:30:00" },
		/* decomposed (NFD) "lúc" and "ngày", as some phones send */
		{ "lu\xcc\x81" "c 19h30 nga\xcc\x80y 05/12/2026",
		  "2026-12-05 19:30:00" },
		{ "05-12-2026 19:30", "2026-12-05 19:30:00" },
		{ "0:00 01/01/2027", "2027-01-01 00:00:00" },
		{ "23:59:59 31/12/2026", "2026-12-31 23:59:59" },
		{ "2026-12-05", "2026-12-05 00:00:00 date-only" },
		{ "05/12/2026", "2026-12-05 00:00:00 date-only" },
		{ "ngày 05/12/2026", "2026-12-05 00:00:00 date-only" },
		/* surrounding whitespace, tabs, newlines, NBSP */
		{ "  19:30 05/12/2026 \t\n", "2026-12-05 19:30:00" },
		{ "\xc2\xa0" "19:30\xc2\xa0" "05/12/2026\xc2\xa0",
		  "2026-12-05 19:30:00" },
		{ "19:30   05/12/2026", "2026-12-05 19:30:00" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		assert_string_equal(parse(rows[i].in), rows[i].want);
}

static void test_fields(void **state)
{
	(void)state;
	struct tm now = mk(2026, 6, 15, 10, 0, 0), tm;
	bool has_time = false;
	char err[128];
	const char *in = "19:30 05/12/2026";

	assert_int_equal(when_parse_local(in, strlen(in), &now, &tm,
					  &has_time, err, sizeof err), 0);
	assert_true(has_time);
	assert_int_equal(tm.tm_year, 126);
	assert_int_equal(tm.tm_mon, 11);
	assert_int_equal(tm.tm_mday, 5);
	assert_int_equal(tm.tm_hour, 19);
	assert_int_equal(tm.tm_min, 30);
	assert_int_equal(tm.tm_sec, 0);
	assert_int_equal(tm.tm_isdst, -1);
	assert_int_equal(tm.tm_wday, 6); /* Saturday */
	assert_int_equal(tm.tm_yday, 338);
	assert_int_equal(when_local_to_ms(&tm, VN), INT64_C(1796473800000));

	/* len bounds the input: nothing is read past it */
	assert_int_equal(when_parse_local("19:30 05/12/2026junk", 16, &now,
					  &tm, NULL, err, sizeof err), 0);
	assert_int_equal(tm.tm_mday, 5);
	/* an embedded NUL is just a bad byte */
	assert_int_equal(when_parse_local("19:30\0 05/12/2026", 17, &now,
					  &tm, NULL, err, sizeof err),
			 -EINVAL);
	/* NULL input, NULL err */
	assert_int_equal(when_parse_local(NULL, 0, &now, &tm, NULL, err,
					  sizeof err), -EINVAL);
	assert_string_equal(err, "unknown time format: write it like "
				 "19:30 05/12/2026");
	assert_int_equal(when_parse_local("x", 1, &now, &tm, NULL, NULL, 0),
			 -EINVAL);
	assert_int_equal(when_parse_local(in, strlen(in), &now, NULL, NULL,
					  NULL, 0), -EINVAL);
}

static void test_invalid_dates(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} rows[] = {
		{ "31/02/2026 19:30", "cannot read '31/02/2026 19:30' as a "
		  "date: February has 28 days in 2026" },
		{ "30/02/2028 19:30", "cannot read '30/02/2028 19:30' as a "
		  "date: February has 29 days in 2028" },
		{ "29/02/2100 8h", "cannot read '29/02/2100 8h' as a date: "
		  "February has 28 days in 2100" },
		{ "29/02/2027", "cannot read '29/02/2027' as a date: "
		  "February has 28 days in 2027" },
		{ "31/04/2026 8h", "cannot read '31/04/2026 8h' as a date: "
		  "April has 30 days" },
		{ "2026-06-31", "cannot read '2026-06-31' as a date: "
		  "June has 30 days" },
		{ "32/12/2026 8h", "cannot read '32/12/2026 8h' as a date: "
		  "December has 31 days" },
		{ "0/12/2026 8h", "cannot read '0/12/2026 8h' as a date: "
		  "there is no day 0" },
		{ "05/13/2026 8h", "cannot read '05/13/2026 8h' as a date: "
		  "there is no month 13" },
		{ "05/00/2026", "cannot read '05/00/2026' as a date: "
		  "there is no month 0" },
		{ "2026-12-05 24:00", "cannot read '2026-12-05 24:00' as a "
		  "date: hours go from 0 to 23" },
		{ "25h 05/12/2026", "cannot read '25h 05/12/2026' as a date: "
		  "hours go from 0 to 23" },
		{ "19:60 05/12/2026", "cannot read '19:60 05/12/2026' as a "
		  "date: minutes go from 0 to 59" },
		{ "19h75 05/12/2026", "cannot read '19h75 05/12/2026' as a "
		  "date: minutes go from 0 to 59" },
		{ "19:30:60 05/12/2026", "cannot read '19:30:60 05/12/2026' "
		  "as a date: seconds go from 0 to 59" },
		{ "19:30 05/12/26", "cannot read '19:30 05/12/26' as a date: "
		  "write the year with 4 digits, like 2026" },
		{ "19:30 05/12/20266", "cannot read '19:30 05/12/20266' as a "
		  "date: write the year with 4 digits, like 2026" },
		{ "19:30 05/12/1969", "cannot read '19:30 05/12/1969' as a "
		  "date: the year must be 1970 or later" },
		{ "  31/02/2026 19:30\t", "cannot read '31/02/2026 19:30' as "
		  "a date: February has 28 days in 2026" },
		{ "30/02 19:30", "cannot read '30/02 19:30' as a date: "
		  "February has at most 29 days" },
		{ "31/11", "cannot read '31/11' as a date: "
		  "November has 30 days" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		char want[256];
		snprintf(want, sizeof want, "ERR: %s", rows[i].want);
		assert_string_equal(parse(rows[i].in), want);
	}
}

static void test_unknown_formats(void **state)
{
	(void)state;
	static const char *const rows[] = {
		"", "   ", "tomorrow", "19:30", "19h30", "lúc 19h30",
		"19.30 05/12/2026", "7h5 05/12/2026", "19:3 05/12/2026",
		"123:00 05/12/2026", "19:30:5 05/12/2026", "19h30m 05/12/2026",
		"05/12/2026 19:30 extra", "19:30 20:00 05/12/2026",
		"19:30 05/12/2026 06/12/2026", "2026/12/05", "5-12 19:30",
		"5/12/ 19:30", "5//2026", "05/12-2026", "05.12.2026 19:30",
		"lúc 05/12/2026", "ngày 19:30 05/12/2026", "05/12/2026 lúc",
		"ngày", "lúc lúc 19:30 05/12/2026", "2026-12-05T",
		"2026-12-05T19:30 20:00", "19:30 2026-12-05T19:30",
		"2026-12-5x", "2026-123-05", "19:30 -5/12/2026",
		"19:30 05/12/2026,", "thứ Bảy 19:30 05/12/2026",
		"19:30\x01 05/12/2026", "\xff", "-1:30 05/12/2026",
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		assert_string_equal(parse(rows[i]),
				    "ERR: unknown time format: write it like "
				    "19:30 05/12/2026");
}

static void test_leap_years(void **state)
{
	(void)state;
	assert_string_equal(parse("29/02/2028 8h"), "2028-02-29 08:00:00");
	assert_string_equal(parse("29/02/2000 8h"), "2000-02-29 08:00:00");
	assert_string_equal(parse("29/02/2024 8h"), "2024-02-29 08:00:00");
	assert_string_equal(parse("2400-02-29"),
			    "2400-02-29 00:00:00 date-only");
	assert_string_equal(parse("29/02/1900 8h"),
			    "ERR: cannot read '29/02/1900 8h' as a date: "
			    "the year must be 1970 or later");
	assert_string_equal(parse("29/02/2200"),
			    "ERR: cannot read '29/02/2200' as a date: "
			    "February has 28 days in 2200");
	assert_string_equal(parse("28/02/2026 8h"), "2026-02-28 08:00:00");
	assert_string_equal(parse("31/12/2028 8h"), "2028-12-31 08:00:00");
}

static void test_year_omitted(void **state)
{
	(void)state;
	struct tm now;

	/* later this year */
	now = mk(2026, 6, 15, 10, 0, 0);
	assert_string_equal(parse_at("19:30 5/12", &now),
			    "2026-12-05 19:30:00");
	/* already past: next year */
	now = mk(2026, 12, 20, 10, 0, 0);
	assert_string_equal(parse_at("19:30 5/12", &now),
			    "2027-12-05 19:30:00");
	/* the same day: the time decides, to the second */
	now = mk(2026, 12, 5, 19, 29, 0);
	assert_string_equal(parse_at("19:30 5/12", &now),
			    "2026-12-05 19:30:00");
	now = mk(2026, 12, 5, 19, 30, 0);
	assert_string_equal(parse_at("19:30 5/12", &now),
			    "2026-12-05 19:30:00");
	now = mk(2026, 12, 5, 19, 30, 1);
	assert_string_equal(parse_at("19:30 5/12", &now),
			    "2027-12-05 19:30:00");
	now = mk(2026, 12, 5, 20, 0, 0);
	assert_string_equal(parse_at("5/12 7h30", &now),
			    "2027-12-05 07:30:00");
	/* New Year's Eve */
	now = mk(2026, 12, 31, 23, 59, 0);
	assert_string_equal(parse_at("08:00 1/1", &now),
			    "2027-01-01 08:00:00");
	assert_string_equal(parse_at("23:59 31/12", &now),
			    "2026-12-31 23:59:00");
	/* a date without a time means that day: today is not past */
	now = mk(2026, 12, 5, 10, 0, 0);
	assert_string_equal(parse_at("5/12", &now),
			    "2026-12-05 00:00:00 date-only");
	assert_string_equal(parse_at("4/12", &now),
			    "2027-12-04 00:00:00 date-only");
	/* 29 February waits for the next leap year */
	now = mk(2026, 3, 1, 0, 0, 0);
	assert_string_equal(parse_at("8h 29/02", &now),
			    "2028-02-29 08:00:00");
	now = mk(2028, 1, 10, 0, 0, 0);
	assert_string_equal(parse_at("8h 29/02", &now),
			    "2028-02-29 08:00:00");
	now = mk(2028, 3, 1, 0, 0, 0);
	assert_string_equal(parse_at("8h 29/02", &now),
			    "2032-02-29 08:00:00");
	now = mk(2097, 1, 1, 0, 0, 0);
	assert_string_equal(parse_at("8h 29/02", &now),
			    "2104-02-29 08:00:00");
	/* no usable now */
	assert_string_equal(parse_at("19:30 5/12", NULL),
			    "ERR: cannot read '19:30 5/12' as a date: write "
			    "the year too, like 05/12/2026");
	/* a written year ignores now */
	now = mk(2030, 1, 1, 0, 0, 0);
	assert_string_equal(parse_at("19:30 5/12/2026", &now),
			    "2026-12-05 19:30:00");
	assert_string_equal(parse_at("19:30 5/12/2026", NULL),
			    "2026-12-05 19:30:00");
}

static void test_error_text(void **state)
{
	(void)state;
	char err[16];
	struct tm tm;
	const char *in = "31/02/2026 19:30";

	/* control characters and bad bytes are never echoed */
	assert_string_equal(parse("31/02/2026\t19:30"),
			    "ERR: cannot read '31/02/2026?19:30' as a date: "
			    "February has 28 days in 2026");
	/* a small buffer truncates and stays NUL-terminated */
	memset(err, 'X', sizeof err);
	assert_int_equal(when_parse_local(in, strlen(in), NULL, &tm, NULL,
					  err, sizeof err), -EINVAL);
	assert_string_equal(err, "cannot read '31");
	assert_int_equal(when_parse_local(in, strlen(in), NULL, &tm, NULL,
					  err, 1), -EINVAL);
	assert_string_equal(err, "");

	/* never a split code point: "phút" has a 2-byte ú at bytes 63-64 */
	char big[128];
	int64_t ms;
	const char *d = "x";
	assert_int_equal(when_parse_duration(d, 1, &ms, big, sizeof big),
			 -EINVAL);
	const char *u = strstr(big, "phút");
	assert_non_null(u);
	size_t cut = (size_t)(u - big) + 3; /* inside ú */
	assert_int_equal(when_parse_duration(d, 1, &ms, big, cut + 1),
			 -EINVAL);
	assert_int_equal(strlen(big), cut - 1);
	assert_true(text_utf8_valid(big, strlen(big)));
}

static void test_long_input(void **state)
{
	(void)state;
	char in[400];
	/* an impossible date quoted only in part */
	snprintf(in, sizeof in, "%s", "31/02/2026");
	for (size_t i = 0; i < 100; i++)
		strcat(in, " ");
	strcat(in, "19:30");
	/* 100 spaces inside are fine: words are what count */
	const char *r = parse(in);
	assert_true(strncmp(r, "ERR: cannot read '31/02/2026 ", 29) == 0);
	assert_non_null(strstr(r, "...' as a date: February has 28 days"));
	assert_true(strlen(r) < 200);
}

static int64_t dur(const char *in)
{
	char err[256];
	int64_t ms = -42;
	int r = when_parse_duration(in, strlen(in), &ms, err, sizeof err);
	if (r < 0) {
		assert_int_equal(r, -EINVAL);
		assert_int_equal(ms, -42);
		return -1;
	}
	assert_true(ms > 0);
	return ms;
}

static const char *dur_err(const char *in)
{
	static char err[256];
	int64_t ms = -42;
	err[0] = '\0';
	if (when_parse_duration(in, strlen(in), &ms, err, sizeof err) !=
	    -EINVAL)
		fail_msg("'%s' was accepted as %lld ms", in, (long long)ms);
	assert_int_equal(ms, -42);
	assert_true(text_utf8_valid(err, strlen(err)));
	return err;
}

#define S 1000
#define MIN (60 * S)
#define H (60 * MIN)
#define D (INT64_C(24) * H)

static void test_durations(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int64_t want;
	} rows[] = {
		{ "1 day before", D },
		{ "2 hours before", 2 * H },
		{ "30 minutes before", 30 * MIN },
		{ "1 ngày trước", D },
		{ "2 giờ trước", 2 * H },
		{ "30 phút trước", 30 * MIN },
		{ "1d", D },
		{ "2h", 2 * H },
		{ "30m", 30 * MIN },
		{ "90s", 90 * S },
		/* without diacritics, or decomposed */
		{ "1 ngay truoc", D },
		{ "2 gio truoc", 2 * H },
		{ "30 phut truoc", 30 * MIN },
		{ "10 giay truoc", 10 * S },
		{ "2 gio\xcc\x80 tru\xcc\x9bo\xcc\x9b\xcc\x81" "c", 2 * H },
		{ "2 GIỜ TRƯỚC", 2 * H },
		{ "2 tiếng trước", 2 * H },
		{ "2 tieng", 2 * H },
		{ "10 giây", 10 * S },
		/* every English spelling */
		{ "1 day", D }, { "3 days", 3 * D }, { "1 hour", H },
		{ "5 hours", 5 * H }, { "1 min", MIN }, { "5 mins", 5 * MIN },
		{ "1 minute", MIN }, { "5 minutes", 5 * MIN },
		{ "1 sec", S }, { "5 secs", 5 * S }, { "1 second", S },
		{ "5 seconds", 5 * S }, { "5 s", 5 * S },
		{ "2 HOURS BEFORE", 2 * H }, { "2 Hours Before", 2 * H },
		/* several parts */
		{ "1 day 2 hours before", D + 2 * H },
		{ "1d2h", D + 2 * H },
		{ "1d 2h 30m 15s", D + 2 * H + 30 * MIN + 15 * S },
		{ "1 ngày 2 giờ trước", D + 2 * H },
		{ "1 giờ 30 phút trước", H + 30 * MIN },
		{ "1h, 30m", H + 30 * MIN },
		{ "1 ngày, 2 giờ, trước", D + 2 * H },
		{ "1h,30m", H + 30 * MIN },
		/* weeks */
		{ "1 week before", 7 * D }, { "2 tuần trước", 14 * D },
		{ "1w", 7 * D },
		/* spacing */
		{ "  2h  ", 2 * H }, { "2\thours\nbefore", 2 * H },
		{ "2\xc2\xa0giờ\xc2\xa0trước", 2 * H },
		{ "007m", 7 * MIN },
		/* bounds */
		{ "366 days", 366 * D }, { "366d", 366 * D },
		{ "1s", S }, { "8784h", 366 * D },
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		int64_t got = dur(rows[i].in);
		if (got != rows[i].want)
			fail_msg("'%s': got %lld, want %lld", rows[i].in,
				 (long long)got, (long long)rows[i].want);
	}
}

static void test_duration_errors(void **state)
{
	(void)state;
	static const char help[] = "unknown duration format: write it like "
				   "2 hours before, 30 phút trước or 1d";
	static const char units[] = "': use days, hours, minutes or seconds "
				    "(ngày, giờ, phút, giây)";
	char want[256];

	assert_string_equal(dur_err(""), help);
	assert_string_equal(dur_err("   "), help);
	assert_string_equal(dur_err("before"), help);
	assert_string_equal(dur_err("trước"), help);
	assert_string_equal(dur_err("trước 2 giờ"), help);
	assert_string_equal(dur_err("2 hours before before"), help);
	assert_string_equal(dur_err("2 hours before 1m"), help);
	assert_string_equal(dur_err("2 hours after"), help);
	assert_string_equal(dur_err("2 giờ sau"), help);
	assert_string_equal(dur_err("-2h"), help);
	assert_string_equal(dur_err("soon"), help);
	assert_string_equal(dur_err(",2h"), help);
	assert_string_equal(dur_err("2h before,"), help);
	assert_string_equal(dur_err("30"),
			    "missing unit after 30: write it like 30 minutes "
			    "or 30 phút");
	assert_string_equal(dur_err("1h30"),
			    "missing unit after 30: write it like 30 minutes "
			    "or 30 phút");
	snprintf(want, sizeof want, "unknown unit 'months%s", units);
	assert_string_equal(dur_err("2 months"), want);
	snprintf(want, sizeof want, "unknown unit 'tháng%s", units);
	assert_string_equal(dur_err("1 tháng trước"), want);
	snprintf(want, sizeof want, "unknown unit 'x%s", units);
	assert_string_equal(dur_err("2x"), want);
	snprintf(want, sizeof want, "unknown unit 'hours-%s", units);
	assert_string_equal(dur_err("2 hours-"), want);
	snprintf(want, sizeof want, "unknown unit '?%s", units);
	assert_string_equal(dur_err("2\x01"), want);
	snprintf(want, sizeof want, "unknown unit '?h%s", units);
	assert_string_equal(dur_err("2\xffh"), want);
	assert_string_equal(dur_err("1.5 hours"), "use whole numbers: write "
			    "90 minutes instead of 1.5 hours");
	assert_string_equal(dur_err("1,5 giờ"), "use whole numbers: write "
			    "90 minutes instead of 1.5 hours");
	assert_string_equal(dur_err("0 minutes"),
			    "the duration must be more than 0");
	assert_string_equal(dur_err("0h 0m before"),
			    "the duration must be more than 0");
	assert_string_equal(dur_err("367 days"),
			    "the duration must be at most 366 days");
	assert_string_equal(dur_err("366d 1s"),
			    "the duration must be at most 366 days");
	assert_string_equal(dur_err("53 weeks"),
			    "the duration must be at most 366 days");
	assert_string_equal(dur_err("99999999999999999999999 days"),
			    "the duration must be at most 366 days");
	assert_string_equal(dur_err("9223372036854775807s 1s"),
			    "the duration must be at most 366 days");
	/* NULL input and NULL err */
	int64_t ms = 7;
	assert_int_equal(when_parse_duration(NULL, 0, &ms, NULL, 0),
			 -EINVAL);
	assert_int_equal(ms, 7);
	/* len bounds the input */
	assert_int_equal(when_parse_duration("2h30", 2, &ms, NULL, 0), 0);
	assert_int_equal(ms, 2 * H);
}

static void test_local_ms(void **state)
{
	(void)state;
	struct tm tm = mk(2026, 12, 5, 19, 30, 0), back;

	assert_int_equal(when_local_to_ms(&tm, VN), INT64_C(1796473800000));
	assert_int_equal(when_local_to_ms(&tm, 0),
			 INT64_C(1796473800000) + 7 * H);
	tm = mk(1970, 1, 1, 7, 0, 0);
	assert_int_equal(when_local_to_ms(&tm, VN), 0);
	tm = mk(1969, 12, 31, 23, 59, 59);
	assert_int_equal(when_local_to_ms(&tm, 0), -1000);
	tm = mk(2028, 2, 29, 0, 0, 0);
	assert_int_equal(when_local_to_ms(&tm, 0), INT64_C(1835395200000));

	when_ms_to_local(0, VN, &back);
	assert_int_equal(back.tm_year, 70);
	assert_int_equal(back.tm_mon, 0);
	assert_int_equal(back.tm_mday, 1);
	assert_int_equal(back.tm_hour, 7);
	assert_int_equal(back.tm_wday, 4);
	assert_int_equal(back.tm_yday, 0);
	when_ms_to_local(-1, 0, &back);
	assert_int_equal(back.tm_year, 69);
	assert_int_equal(back.tm_mon, 11);
	assert_int_equal(back.tm_mday, 31);
	assert_int_equal(back.tm_hour, 23);
	assert_int_equal(back.tm_min, 59);
	assert_int_equal(back.tm_sec, 59);
	when_ms_to_local(INT64_C(1796473800000), VN, &back);
	assert_int_equal(back.tm_year, 126);
	assert_int_equal(back.tm_mon, 11);
	assert_int_equal(back.tm_mday, 5);
	assert_int_equal(back.tm_hour, 19);
	assert_int_equal(back.tm_min, 30);
	assert_int_equal(back.tm_wday, 6);
	assert_int_equal(back.tm_yday, 338);

	/* out-of-range fields normalise like timegm */
	tm = mk(2026, 13, 1, 0, 0, 0); /* month 13 = January 2027 */
	assert_int_equal(when_local_to_ms(&tm, 0),
			 when_local_to_ms(&(struct tm){ .tm_year = 127,
							.tm_mday = 1 }, 0));
	tm = mk(2026, 3, 0, 24, 0, 0); /* 0 March 24:00 = 1 March */
	struct tm mar1 = mk(2026, 3, 1, 0, 0, 0);
	assert_int_equal(when_local_to_ms(&tm, 0), when_local_to_ms(&mar1, 0));
	tm = mk(2026, 1, 1, 0, 0, 0);
	tm.tm_mon = -1; /* December 2025 */
	struct tm dec = mk(2025, 12, 1, 0, 0, 0);
	assert_int_equal(when_local_to_ms(&tm, 0), when_local_to_ms(&dec, 0));
	/* absurd values saturate instead of overflowing */
	tm = (struct tm){ .tm_year = INT32_MAX, .tm_mon = INT32_MAX,
			  .tm_mday = INT32_MAX, .tm_hour = INT32_MAX,
			  .tm_min = INT32_MAX, .tm_sec = INT32_MAX };
	assert_true(when_local_to_ms(&tm, INT32_MIN) > 0);
	tm = (struct tm){ .tm_year = INT32_MIN, .tm_mon = INT32_MIN,
			  .tm_mday = INT32_MIN, .tm_hour = INT32_MIN,
			  .tm_min = INT32_MIN, .tm_sec = INT32_MIN };
	assert_true(when_local_to_ms(&tm, INT32_MAX) < 0);
	when_ms_to_local(INT64_MAX, INT32_MAX, &back);
	when_ms_to_local(INT64_MIN, INT32_MIN, &back);
	assert_int_equal(when_local_to_ms(NULL, 0), 0);
	when_ms_to_local(0, 0, NULL);
}

/* Against the C library's UTC conversions, which do not read TZ either. */
static void test_against_libc(void **state)
{
	(void)state;
	/* 1900 .. 2400 in steps that hit every hour, minute and second */
	const int64_t lo = INT64_C(-2208988800000);
	const int64_t hi = INT64_C(13569465600000);
	const int64_t step = INT64_C(3) * D + 7 * H + 13 * MIN + 17 * S + 1;
	for (int64_t ms = lo; ms < hi; ms += step) {
		time_t t = (time_t)(ms >= 0 ? ms / 1000
					    : -((-ms + 999) / 1000));
		struct tm ref, got;
		assert_non_null(gmtime_r(&t, &ref));
		when_ms_to_local(ms, 0, &got);
		assert_int_equal(got.tm_year, ref.tm_year);
		assert_int_equal(got.tm_mon, ref.tm_mon);
		assert_int_equal(got.tm_mday, ref.tm_mday);
		assert_int_equal(got.tm_hour, ref.tm_hour);
		assert_int_equal(got.tm_min, ref.tm_min);
		assert_int_equal(got.tm_sec, ref.tm_sec);
		assert_int_equal(got.tm_wday, ref.tm_wday);
		assert_int_equal(got.tm_yday, ref.tm_yday);
		assert_int_equal(when_local_to_ms(&got, 0),
				 (int64_t)t * 1000);
		assert_int_equal(when_local_to_ms(&ref, 0), (int64_t)t * 1000);
		/* the local fields are the UTC ones shifted by the offset */
		struct tm vn;
		when_ms_to_local(ms, VN, &vn);
		assert_int_equal(when_local_to_ms(&vn, VN), (int64_t)t * 1000);
	}
}

static void test_tz_independent(void **state)
{
	(void)state;
	struct tm tm = mk(2026, 12, 5, 19, 30, 0), back;
	const char *saved = getenv("TZ");
	char *old = saved ? strdup(saved) : NULL;

	static const char *const zones[] = { "America/New_York",
					     "Asia/Ho_Chi_Minh", "UTC",
					     "Australia/Lord_Howe" };
	for (size_t i = 0; i < ARRAY_SIZE(zones); i++) {
		setenv("TZ", zones[i], 1);
		tzset();
		assert_int_equal(when_local_to_ms(&tm, VN),
				 INT64_C(1796473800000));
		when_ms_to_local(INT64_C(1796473800000), VN, &back);
		assert_int_equal(back.tm_hour, 19);
		assert_int_equal(back.tm_mday, 5);
	}
	if (old)
		setenv("TZ", old, 1);
	else
		unsetenv("TZ");
	tzset();
	free(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_invalid_dates),
		cmocka_unit_test(test_unknown_formats),
		cmocka_unit_test(test_leap_years),
		cmocka_unit_test(test_year_omitted),
		cmocka_unit_test(test_error_text),
		cmocka_unit_test(test_long_input),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_duration_errors),
		cmocka_unit_test(test_local_ms),
		cmocka_unit_test(test_against_libc),
		cmocka_unit_test(test_tz_independent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
