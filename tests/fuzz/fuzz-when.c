/* fuzz-when.c: when_parse_local and when_parse_duration on arbitrary bytes.
 *
 * Beyond "no crash, no leak", each call's contract is checked:
 *  - a failed parse returns -EINVAL, leaves the outputs untouched and
 *    writes a non-empty, NUL-terminated, valid UTF-8 reason (also into small
 *    buffers);
 *  - a parsed time has every field in range (the day within its month),
 *    tm_isdst = -1, 00:00:00 when there was no time, and survives
 *    when_local_to_ms/when_ms_to_local at several UTC offsets;
 *  - a parsed time written back in ISO and Vietnamese form parses to itself;
 *  - a parsed duration is in (0, 366 days], in whole seconds, and "<n>s"
 *    parses to the same value.
 * Each input is tried against a fixed "now" and one derived from its bytes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loaxa/text.h"
#include "loaxa/when.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(expr)                                                        \
	do {                                                               \
		if (!(expr)) {                                             \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",   \
				__FILE__, __LINE__, #expr);                \
			abort();                                           \
		}                                                          \
	} while (0)

#define FUZZ_MAX_INPUT 1024
#define DAY_MS INT64_C(86400000)

static int month_days(int y, int m0)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30,
				      31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m0 == 1 && leap ? 29 : days[m0];
}

static void check_err(const char *err, size_t errsz)
{
	size_t n = strnlen(err, errsz);
	CHECK(n < errsz);
	CHECK(errsz == 1 || n > 0);
	CHECK(text_utf8_valid(err, n));
}

static bool same_time(const struct tm *a, const struct tm *b)
{
	return a->tm_year == b->tm_year && a->tm_mon == b->tm_mon &&
	       a->tm_mday == b->tm_mday && a->tm_hour == b->tm_hour &&
	       a->tm_min == b->tm_min && a->tm_sec == b->tm_sec;
}

static void check_reparse(const char *text, const struct tm *want,
			  const struct tm *now)
{
	struct tm tm;
	bool has_time = false;
	char err[128];
	int r = when_parse_local(text, strlen(text), now, &tm, &has_time, err,
				 sizeof err);
	if (r != 0)
		fprintf(stderr, "'%s': %s\n", text, err);
	CHECK(r == 0);
	CHECK(has_time);
	CHECK(same_time(&tm, want));
}

static void check_local(const char *s, size_t size, const struct tm *now,
			int offset)
{
	struct tm tm, canary;
	bool has_time = true;
	char err[160];

	memset(&tm, 0x5A, sizeof tm);
	memset(&canary, 0x5A, sizeof canary);
	memset(err, 0x5A, sizeof err);
	int r = when_parse_local(s, size, now, &tm, &has_time, err,
				 sizeof err);
	if (r < 0) {
		CHECK(r == -EINVAL);
		CHECK(memcmp(&tm, &canary, sizeof tm) == 0);
		CHECK(has_time);
		check_err(err, sizeof err);
		/* the same answer with a small buffer, still a string */
		size_t small = 1 + size % 24;
		memset(err, 0x5A, sizeof err);
		CHECK(when_parse_local(s, size, now, &tm, NULL, err, small) ==
		      -EINVAL);
		check_err(err, small);
		CHECK(when_parse_local(s, size, now, &tm, NULL, NULL, 0) ==
		      -EINVAL);
		return;
	}
	CHECK(r == 0);
	int y = tm.tm_year + 1900;
	CHECK(y >= 1970 && y <= 9999 + 8);
	CHECK(tm.tm_mon >= 0 && tm.tm_mon <= 11);
	CHECK(tm.tm_mday >= 1 && tm.tm_mday <= month_days(y, tm.tm_mon));
	CHECK(tm.tm_hour >= 0 && tm.tm_hour <= 23);
	CHECK(tm.tm_min >= 0 && tm.tm_min <= 59);
	CHECK(tm.tm_sec >= 0 && tm.tm_sec <= 59);
	CHECK(tm.tm_wday >= 0 && tm.tm_wday <= 6);
	CHECK(tm.tm_yday >= 0 && tm.tm_yday <= 365);
	CHECK(tm.tm_isdst == -1);
	if (!has_time)
		CHECK(tm.tm_hour == 0 && tm.tm_min == 0 && tm.tm_sec == 0);

	/* local -> ms -> local, at several offsets */
	const int offsets[] = { 420, 0, -720, 840, offset };
	for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
		struct tm back;
		int64_t ms = when_local_to_ms(&tm, offsets[i]);
		when_ms_to_local(ms, offsets[i], &back);
		CHECK(same_time(&back, &tm));
		CHECK(back.tm_wday == tm.tm_wday);
		CHECK(back.tm_yday == tm.tm_yday);
		CHECK(when_local_to_ms(&back, offsets[i]) == ms);
		/* the offset only shifts the instant */
		CHECK(ms == when_local_to_ms(&tm, 0) -
				    (int64_t)offsets[i] * 60000);
	}

	/* written back, it reads the same */
	if (y <= 9999) {
		char text[96];
		snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d", y,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec);
		check_reparse(text, &tm, now);
		if (tm.tm_sec == 0) {
			snprintf(text, sizeof text,
				 "lúc %dh%02d ngày %d/%d/%d", tm.tm_hour,
				 tm.tm_min, tm.tm_mday, tm.tm_mon + 1, y);
			check_reparse(text, &tm, now);
		}
	}
}

static void check_duration(const char *s, size_t size)
{
	int64_t ms = -42;
	char err[160];

	memset(err, 0x5A, sizeof err);
	int r = when_parse_duration(s, size, &ms, err, sizeof err);
	if (r < 0) {
		CHECK(r == -EINVAL);
		CHECK(ms == -42);
		check_err(err, sizeof err);
		size_t small = 1 + size % 24;
		memset(err, 0x5A, sizeof err);
		CHECK(when_parse_duration(s, size, &ms, err, small) ==
		      -EINVAL);
		check_err(err, small);
		CHECK(ms == -42);
		return;
	}
	CHECK(r == 0);
	CHECK(ms > 0 && ms <= 366 * DAY_MS);
	CHECK(ms % 1000 == 0);
	char text[64];
	int64_t again = 0;
	snprintf(text, sizeof text, "%llds trước", (long long)(ms / 1000));
	CHECK(when_parse_duration(text, strlen(text), &again, NULL, 0) == 0);
	CHECK(again == ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	/* an exact-size heap copy, so ASan sees any read past len */
	char *s = malloc(size ? size : 1);
	CHECK(s);
	if (size)
		memcpy(s, data, size);

	/* a "now" from the bytes: any instant from 1970 to 9999 */
	uint64_t h = 14695981039346656037u;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211u;
	int64_t now_ms = (int64_t)(h % UINT64_C(253402300799000));
	int offset = (int)(h >> 48) % (14 * 60 + 1) - 12 * 60;
	struct tm now;
	when_ms_to_local(now_ms, offset, &now);
	const struct tm fixed = { .tm_year = 126, .tm_mon = 11, .tm_mday = 5,
				  .tm_hour = 19, .tm_min = 30 };

	check_local(s, size, &fixed, offset);
	check_local(s, size, &now, offset);
	check_local(s, size, NULL, offset);
	check_duration(s, size);

	free(s);
	return 0;
}
