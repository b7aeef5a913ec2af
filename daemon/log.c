/* log.c: see log.h */
#include "loaxa/log.h"

#include <errno.h>
#include <stdarg.h>
#include <strings.h>

static enum log_level the_level = LOG_LVL_INFO;
static bool the_debug[LOG_SUBSYS_MAX];
static FILE *the_stream;

static const char *const subsys_names[LOG_SUBSYS_MAX] = {
	[LOG_MAIN] = "main",   [LOG_CFG] = "cfg",      [LOG_STORE] = "store",
	[LOG_API] = "api",     [LOG_DIR] = "dir",      [LOG_HTTP] = "http",
	[LOG_DISPATCH] = "dispatch", [LOG_WEBHOOK] = "webhook",
};

static const struct {
	const char *name;
	enum log_level lvl;
} level_names[] = {
	{ "err", LOG_LVL_ERR },       { "error", LOG_LVL_ERR },
	{ "warning", LOG_LVL_WARN },  { "warn", LOG_LVL_WARN },
	{ "notice", LOG_LVL_NOTICE }, { "info", LOG_LVL_INFO },
	{ "debug", LOG_LVL_DEBUG },
};

void log_set_level(enum log_level lvl) { the_level = lvl; }

void log_set_debug(enum log_subsys s, bool on)
{
	if (s < LOG_SUBSYS_MAX)
		the_debug[s] = on;
}

void log_set_stream(FILE *f) { the_stream = f; }

int log_level_parse(const char *s, enum log_level *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
		if (strcasecmp(s, level_names[i].name) == 0) {
			*ret = level_names[i].lvl;
			return 0;
		}
	return -EINVAL;
}

int log_subsys_parse(const char *s, enum log_subsys *ret)
{
	for (int i = 0; i < LOG_SUBSYS_MAX; i++)
		if (strcasecmp(s, subsys_names[i]) == 0) {
			*ret = (enum log_subsys)i;
			return 0;
		}
	return -EINVAL;
}

const char *log_subsys_name(enum log_subsys s)
{
	return s < LOG_SUBSYS_MAX ? subsys_names[s] : "?";
}

bool log_enabled(enum log_subsys s, enum log_level lvl)
{
	if (lvl <= the_level)
		return true;
	return lvl == LOG_LVL_DEBUG && s < LOG_SUBSYS_MAX && the_debug[s];
}

void log_msg(enum log_subsys s, enum log_level lvl, const char *fmt, ...)
{
	if (!log_enabled(s, lvl))
		return;
	FILE *f = the_stream ? the_stream : stderr;
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* One write per line so concurrent writers do not interleave; newlines
	 * inside a message would split it into several journal entries. */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(f, "<%d>[%s] %s\n", (int)lvl, log_subsys_name(s), line);
	fflush(f);
}
