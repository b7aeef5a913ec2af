/* template.h: message text (pure; no I/O).
 *
 * Renders the per-kind templates of loaxa.ini with placeholders, writes
 * dates the Vietnamese way ("19h30 thứ Bảy, 05/12/2026"), and measures SMS
 * (GSM-7 or UCS-2, units and segments: 160/153 and 70/67).
 *
 * Placeholders: {name} {group} {title} {time} {place} {agenda} {body}
 * ({{ and }} write literal braces). Unknown placeholders are an error found
 * by template_check when the config is loaded, never at send time.
 */
#ifndef LOAXA_TEMPLATE_H
#define LOAXA_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "loaxa/util.h"

enum tmpl_var {
	TV_NAME, TV_GROUP, TV_TITLE, TV_TIME, TV_PLACE, TV_AGENDA, TV_BODY,
	TV_MAX
};

struct tmpl_vars {
	const char *v[TV_MAX];  /* NULL renders as "" */
};

/* Name of a placeholder ("name"), or NULL. */
const char *template_var_name(enum tmpl_var v);
/* Look a placeholder name up; -EINVAL if unknown. */
int template_var_parse(const char *s, size_t n, enum tmpl_var *ret);

/* Validate a template. On error returns -EINVAL and writes a message like
 * "unknown placeholder {nmae} at character 12" (or "unclosed '{' at
 * character 3") into err. */
int template_check(const char *tmpl, char *err, size_t errsz);

/* Render into out (appended). Returns 0, -EINVAL (bad template), -E2BIG
 * (out's max), -ENOMEM. */
int template_render(const char *tmpl, const struct tmpl_vars *vars,
		    struct buf *out);

/* "19h30 thứ Bảy, 05/12/2026" (minutes 00 written "19h"; e.g. "7h thứ Hai,
 * 07/12/2026"). tm is local time already. Returns the length written
 * (truncated to outsz-1, always NUL-terminated). */
size_t template_vn_datetime(const struct tm *tm, char *out, size_t outsz);
/* "thứ Hai" ... "Chủ nhật" for tm_wday 0..6 (0 = Chủ nhật). */
const char *template_vn_weekday(int wday);

/* SMS measurement of UTF-8 text. */
enum sms_encoding { SMS_GSM7, SMS_UCS2 };
struct sms_info {
	enum sms_encoding encoding;
	size_t units;      /* GSM-7 septets (extension chars count 2) or
			      UTF-16 code units (non-BMP count 2) */
	size_t segments;   /* 1 if units <= 160/70, else ceil(units/153 or 67) */
};
void sms_measure(const char *utf8, size_t len, struct sms_info *ret);
const char *sms_encoding_name(enum sms_encoding e);  /* "GSM-7", "UCS-2" */

#endif
