/* when.h: times and durations as people type them in Vietnam (pure).
 *
 * Absolute times, in the commune's local time:
 *   "2026-12-05 19:30", "2026-12-05T19:30", "2026-12-05 19:30:00",
 *   "19:30 05/12/2026", "19h30 05/12/2026", "19h 05/12/2026",
 *   "05/12/2026 19:30", "05/12/2026 19h30", "5/12/2026 7h30",
 *   "19:30 5/12" (year omitted: the next such date from now),
 *   "19h30 ngày 05/12/2026", "05-12-2026 19:30", "2026-12-05" (date only:
 *   00:00 — callers that need a time reject date-only input by checking
 *   ret_has_time).
 * Day/month order is always day first (Vietnamese), except ISO yyyy-mm-dd.
 * Relative durations (reminders): "1 day before", "2 hours before",
 * "30 minutes before", "1 ngày trước", "2 giờ trước", "30 phút trước",
 * "1d", "2h", "30m", "90s" (the words "before"/"trước" optional).
 */
#ifndef LOAXA_WHEN_H
#define LOAXA_WHEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Parse s[0..len) as a local date and time. now is the current local time
 * (for an omitted year). On success fills *ret (tm_year, tm_mon, tm_mday,
 * tm_hour, tm_min, tm_sec; tm_isdst = -1) and *ret_has_time, returns 0.
 * Returns -EINVAL for anything else, including impossible dates
 * (31/02/2026, 25:00), with a reason in err. */
int when_parse_local(const char *s, size_t len, const struct tm *now,
		     struct tm *ret, bool *ret_has_time, char *err,
		     size_t errsz);

/* Parse a relative duration into milliseconds (> 0, at most 366 days).
 * Returns 0 or -EINVAL with a reason in err. */
int when_parse_duration(const char *s, size_t len, int64_t *ret_ms, char *err,
			size_t errsz);

/* Convert local broken-down time to epoch ms for a fixed UTC offset in
 * minutes (Vietnam: +420, no daylight saving). Pure: no TZ environment. */
int64_t when_local_to_ms(const struct tm *local, int utc_offset_min);
/* And back. */
void when_ms_to_local(int64_t ms, int utc_offset_min, struct tm *ret);

#endif
