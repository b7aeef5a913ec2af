/* log.h: syslog-levelled logging to stderr for journald.
 *
 * Every line is "<P>[subsys] message" where <P> is the syslog priority
 * prefix journald understands (sd-daemon(3)). Subsystems are the short tags
 * below. Leaf modules log at debug at most; the caller that decides logs once.
 *
 * Personal data: never pass a phone number to these functions unmasked; use
 * phone_mask() (phone.h). Never pass secrets or message bodies.
 */
#ifndef LOAXA_LOG_H
#define LOAXA_LOG_H

#include "loaxa/util.h"

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_NOTICE = 5,
		 LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

/* Subsystem tags; debug can be enabled per subsystem. */
enum log_subsys { LOG_MAIN, LOG_CFG, LOG_STORE, LOG_API, LOG_DIR,
		  LOG_HTTP, LOG_DISPATCH, LOG_WEBHOOK, LOG_SUBSYS_MAX };

/* Set the minimum level printed (default info). */
void log_set_level(enum log_level lvl);
/* Enable or disable debug for one subsystem regardless of the level. */
void log_set_debug(enum log_subsys s, bool on);
/* Parse "info", "debug", ...; -EINVAL if unknown. */
int log_level_parse(const char *s, enum log_level *ret);
/* Parse a subsystem name ("store"); -EINVAL if unknown. */
int log_subsys_parse(const char *s, enum log_subsys *ret);
const char *log_subsys_name(enum log_subsys s);
bool log_enabled(enum log_subsys s, enum log_level lvl);
/* Redirect output (tests); NULL restores stderr. */
void log_set_stream(FILE *f);

void log_msg(enum log_subsys s, enum log_level lvl, const char *fmt, ...)
	_printf_(3, 4);

#define log_err(s, ...) log_msg(s, LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(s, ...) log_msg(s, LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(s, ...) log_msg(s, LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(s, ...) log_msg(s, LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(s, ...) \
	do { if (log_enabled(s, LOG_LVL_DEBUG)) \
		log_msg(s, LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

#endif
