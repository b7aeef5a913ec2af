/* config.c: loaxa.ini over inih, table-driven (see config.h).
 *
 * How inih is used. Debian's libinih 55 is built without
 * INI_HANDLER_LINENO, so we parse with ini_parse_stream() and our own reader
 * over the file's bytes in memory. inih asks the reader for one line at a
 * time and calls the handler for that line before asking for the next, so
 * the reader's line counter is the handler's line number. The reader also
 * screens every line first, so that inih's quirks cannot bite silently:
 *
 *  - Section headers are parsed here and handed to inih as blank lines:
 *    inih never tells the handler about a section, so it could not report
 *    an unknown, duplicate, malformed or empty section.
 *  - Leading whitespace is removed. inih takes an indented line as the
 *    continuation of the previous key's value (Python's multi-line
 *    values): "  socket_mode = 0600" under "socket = ..." would arrive as a
 *    second "socket" whose value is "socket_mode = 0600".
 *  - Comment lines (';' or '#' first) and blank lines become blank lines,
 *    so a long comment is never an error.
 *  - A line without '=' or ':' is reported here, each one (inih never calls
 *    the handler for it and returns only the first such line).
 *  - A line too long for inih's 200-byte buffer (which must also hold the
 *    '\n' and the NUL, so 198 bytes of text) would be cut, the rest parsed
 *    as another line; a NUL byte would cut it silently. Both are reported
 *    and the line replaced by a blank one.
 *
 * What inih still does: split "key = value" at the first '=' or ':', strip
 * the whitespace around both, and cut an inline comment (';' after
 * whitespace). It keeps quotes, and keeps a '#' after the value ("30s #
 * old" is the value); both are diagnosed with a hint. Duplicate keys reach
 * the handler twice; we report the second.
 *
 * Every problem is collected as "path:line: message" and parsing goes on,
 * so one run shows them all; cross-field checks run afterwards. The
 * caller decides what to log (this is a leaf module: it does not log).
 */
#include "loaxa/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFG_LINE_MAX 198          /* inih's buffer: text + '\n' + NUL */
#define CFG_FILE_MAX (1024 * 1024)
#define CFG_PATH_MAX 4095         /* PATH_MAX including the NUL */
#define CFG_SUN_PATH_MAX 107      /* sizeof(sun_path) including the NUL */
#define CFG_GROUPS_MAX 1000
#define CFG_ERRORS_MAX 100        /* messages kept; the rest are counted */
#define CFG_ESC_MAX 800           /* an escaped line: 4 * 198 + NUL fits */
#define CFG_REASON_MAX 512

/* ---- the key table ---- */

static int check_subsys_list(const char *v, struct buf *norm, char *why,
			     size_t whysz);

/* X(section, key, type, default, min, max, reloadable, field, check, doc).
 * The doc is the one-line comment shown above the key in etc/loaxa.ini
 * (the unit test holds them equal), so it stays within 78 columns. A path
 * key whose default is "" may be set to "" (meaning "not set"). */
#define CONFIG_KEYS(X)                                                      \
	X("daemon", "state_dir", CFG_PATH, "/var/lib/loaxa", 0, 0, false,   \
	  state_dir, NULL,                                                  \
	  "Directory for loaxad's state; holds the database unless "        \
	  "database is set.")                                               \
	X("daemon", "database", CFG_PATH, "", 0, 0, false, database, NULL, \
	  "SQLite database file; empty means loaxa.db in state_dir.")       \
	X("daemon", "log_level", CFG_ENUM_LOGLEVEL, "info", 0, 0, true,     \
	  log_level, NULL,                                                  \
	  "Least severe messages logged: err, warning, notice, info or "    \
	  "debug.")                                                         \
	X("daemon", "debug", CFG_STRING, "", 0, 0, true, log_debug,         \
	  check_subsys_list,                                                \
	  "Subsystems logged at debug level anyway, comma-separated, e.g. " \
	  "store,http.")                                                    \
	X("api", "socket", CFG_PATH, "/run/loaxa/api.sock", 0, 0, false,    \
	  api_socket, NULL,                                                 \
	  "Unix socket of the HTTP API, used by the loaxa command (max 107 "\
	  "bytes).")                                                        \
	X("api", "socket_mode", CFG_OCTAL, "0660", 0600, 0666, false,       \
	  api_socket_mode, NULL,                                            \
	  "Permission bits of the API socket (0600..0666).")                \
	X("api", "listen", CFG_LISTEN, "", 0, 0, false, api_listen, NULL,   \
	  "Also serve the API on TCP at HOST:PORT, e.g. 127.0.0.1:8080; "   \
	  "empty = off.")                                                   \
	X("api", "token_file", CFG_PATH, "", 0, 0, false, api_token_file,   \
	  NULL,                                                             \
	  "File with the bearer token TCP clients must send; required with "\
	  "listen.")                                                        \
	X("api", "max_body", CFG_SIZE, "64M", 1024, 1024 * 1024 * 1024,     \
	  true, api_max_body, NULL,                                         \
	  "Largest request body the API accepts (a number with K, M or G).")\
	X("api", "max_connections", CFG_UINT, "64", 1, 10000, false,        \
	  api_max_connections, NULL,                                        \
	  "Most API connections open at the same time (1..10000).")         \
	X("api", "timeout", CFG_DURATION, "30s", 1000, 3600 * 1000, false,  \
	  api_timeout_ms, NULL,                                             \
	  "Idle API connections are closed after this long (1s..1h).")

#define KEY_INFO(s, k, t, d, lo, hi, rel, f, chk, text)                     \
	{ .section = s, .key = k, .type = t, .def = d, .min = lo, .max = hi,  \
	  .reloadable = rel, .doc = text },
static const struct config_key_info keys[] = { CONFIG_KEYS(KEY_INFO) };

/* What the public table does not show: where the value goes, and an extra
 * check (which may also normalise a text value). */
struct key_impl {
	size_t offset;
	int (*check)(const char *v, struct buf *norm, char *why,
		     size_t whysz);
};
#define KEY_IMPL(s, k, t, d, lo, hi, rel, f, chk, text) \
	{ offsetof(struct config, f), chk },
static const struct key_impl impls[] = { CONFIG_KEYS(KEY_IMPL) };

#define NKEYS ARRAY_SIZE(keys)

/* Each field's C type must fit its key's type: char * for text, else a
 * number of the size field_set() writes. */
#define FIELD(f) (((struct config *)0)->f)
#define TYPE_IS_TEXT(t) \
	((t) == CFG_PATH || (t) == CFG_STRING || (t) == CFG_LISTEN)
#define TYPE_NUM_SIZE(t)                                                 \
	((t) == CFG_BOOL ? sizeof(bool)                                  \
	 : (t) == CFG_SIZE || (t) == CFG_DURATION ? sizeof(uint64_t)     \
	 : (t) == CFG_ENUM_LOGLEVEL ? sizeof(enum log_level)             \
	 : sizeof(uint32_t))
#define KEY_ASSERT(s, k, t, d, lo, hi, rel, f, chk, text)                    \
	_Static_assert(TYPE_IS_TEXT(t)                                       \
		       ? _Generic(FIELD(f), char *: 1, default: 0)           \
		       : _Generic(FIELD(f), char *: 0, default: 1) &&        \
			 sizeof(FIELD(f)) == TYPE_NUM_SIZE(t),               \
		       "[" s "] " k ": field type does not match key type");
CONFIG_KEYS(KEY_ASSERT)

enum { SECT_DAEMON, SECT_API, SECT_GROUPS, NSECT };
enum { SECT_NONE = -1, SECT_SKIP = -2 };
static const char *const sections[NSECT] = {
	[SECT_DAEMON] = "daemon", [SECT_API] = "api", [SECT_GROUPS] = "groups",
};

/* Đông Hà commune's village groups: used when the file has no [groups]. */
static const struct {
	const char *code, *name;
} default_groups[] = {
	{ "2A", "Nhóm dân cư 2A" },
	{ "2B", "Nhóm dân cư 2B" },
	{ "dong-tan", "Nhóm dân cư Đông Tân" },
	{ "nam-ha", "Nhóm dân cư Nam Hà" },
};

size_t config_keys(const struct config_key_info **ret)
{
	if (ret)
		*ret = keys;
	return NKEYS;
}

const char *config_type_name(enum config_type t)
{
	switch (t) {
	case CFG_STRING: return "string";
	case CFG_PATH: return "path";
	case CFG_BOOL: return "bool";
	case CFG_UINT: return "integer";
	case CFG_SIZE: return "size";
	case CFG_DURATION: return "duration";
	case CFG_OCTAL: return "octal";
	case CFG_ENUM_LOGLEVEL: return "enum";
	case CFG_LISTEN: return "address";
	}
	return "?";
}

/* ---- small text helpers ---- */

/* The characters inih (isspace in the C locale) strips. */
static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' ||
	       ch == '\f' || ch == '\r';
}

static int tolower_ascii(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : (unsigned char)ch;
}

static bool is_ctrl(unsigned char ch)
{
	return ch < 0x20 || ch == 0x7f;
}

/* Well-formed UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xbf;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += n + 1;
	}
	return true;
}

/* Copy s into out (size n, >= 8) for a message: control bytes (and every
 * byte >= 0x80 when s is not valid UTF-8) as \xNN; cut with "..." when it
 * does not fit. Returns out. */
static char *escape(const char *s, char *out, size_t n)
{
	size_t len = strlen(s), o = 0;
	bool utf8 = utf8_valid(s, len);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool hex = is_ctrl(ch) || (!utf8 && ch >= 0x80);
		size_t need = hex ? 4 : 1;
		if (o + need + 4 > n) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (hex) {
			snprintf(out + o, 5, "\\x%02x", ch);
			o += 4;
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
	return out;
}

/* Optimal string alignment distance, ASCII case-insensitive; strings of
 * more than 32 bytes count as far away. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 32 || lb > 32)
		return SIZE_MAX;
	size_t d[33][33];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int ca = tolower_ascii(a[i - 1]);
			int cb = tolower_ascii(b[j - 1]);
			size_t cost = ca != cb;
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 &&
			    ca == tolower_ascii(b[j - 2]) &&
			    tolower_ascii(a[i - 2]) == cb &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/* ---- values ---- */

static int reason(int r, char *why, size_t whysz, const char *fmt, ...)
	_printf_(4, 5);
static int reason(int r, char *why, size_t whysz, const char *fmt, ...)
{
	if (why && whysz) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whysz, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* Decimal digits at *p, advancing *p past all of them. -EINVAL if there
 * are none, -ERANGE if they do not fit in 64 bits. */
static int parse_digits(const char **p, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;
	bool over = false;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			over = true;
		else
			v = v * 10 + d;
	}
	*p = s;
	if (over)
		return -ERANGE;
	*ret = v;
	return 0;
}

static const struct {
	char suffix;
	uint64_t mul;
} size_units[] = {
	{ 'G', UINT64_C(1) << 30 }, { 'M', UINT64_C(1) << 20 },
	{ 'K', UINT64_C(1) << 10 },
};

static const struct {
	const char *name;
	uint64_t ms;
} duration_units[] = {
	{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 },
	{ "ms", 1 },
};

static void fmt_value(enum config_type t, uint64_t v, char *out, size_t n)
{
	switch (t) {
	case CFG_SIZE:
		for (size_t i = 0; i < ARRAY_SIZE(size_units); i++)
			if (v && v % size_units[i].mul == 0) {
				snprintf(out, n, "%" PRIu64 "%c",
					 v / size_units[i].mul,
					 size_units[i].suffix);
				return;
			}
		break;
	case CFG_DURATION:
		for (size_t i = 0; i < ARRAY_SIZE(duration_units); i++)
			if (v && v % duration_units[i].ms == 0) {
				snprintf(out, n, "%" PRIu64 "%s",
					 v / duration_units[i].ms,
					 duration_units[i].name);
				return;
			}
		break;
	case CFG_OCTAL:
		snprintf(out, n, "%04" PRIo64, v);
		return;
	default:
		break;
	}
	snprintf(out, n, "%" PRIu64, v);
}

/* Rules every value follows, whatever its type. */
static int check_text(const char *v, size_t len, char *why, size_t whysz)
{
	if (!utf8_valid(v, len))
		return reason(-EINVAL, why, whysz, "not valid UTF-8");
	for (size_t i = 0; i < len; i++)
		if (is_ctrl((unsigned char)v[i]))
			return reason(-EINVAL, why, whysz,
				      "contains a control character");
	if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0])
		return reason(-EINVAL, why, whysz,
			      "quotes are not removed: write the value "
			      "without them");
	return 0;
}

static int parse_path(const struct config_key_info *k, const char *v,
		      size_t len, char *why, size_t whysz)
{
	if (len == 0) {
		if (k->def && !*k->def)
			return 0; /* "not set" */
		return reason(-EINVAL, why, whysz, "must not be empty");
	}
	if (v[0] != '/')
		return reason(-EINVAL, why, whysz,
			      "not an absolute path (it must start with '/')");
	if (len > CFG_PATH_MAX)
		return reason(-EINVAL, why, whysz,
			      "path too long (%zu bytes, max %d)", len,
			      CFG_PATH_MAX);
	return 0;
}

static int parse_bool(const char *v, uint64_t *ret, char *why, size_t whysz)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*ret = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*ret = 0;
			return 0;
		}
	}
	return reason(-EINVAL, why, whysz, "not a boolean (use yes or no)");
}

static int parse_uint(const char *v, uint64_t *ret, char *why, size_t whysz)
{
	const char *p = v;
	int r = parse_digits(&p, ret);
	if (r == -EINVAL || *p)
		return reason(-EINVAL, why, whysz, "not a whole number");
	return r;
}

static int parse_size(const char *v, uint64_t *ret, char *why, size_t whysz)
{
	const char *p = v;
	uint64_t n = 0, mul = 1;
	int r = parse_digits(&p, &n);
	if (r == -EINVAL)
		goto bad;
	for (size_t i = 0; i < ARRAY_SIZE(size_units); i++)
		if (tolower_ascii(*p) == tolower_ascii(size_units[i].suffix)) {
			mul = size_units[i].mul;
			p++;
			break;
		}
	if (*p)
		goto bad;
	if (r == -ERANGE || n > UINT64_MAX / mul)
		return -ERANGE;
	*ret = n * mul;
	return 0;
bad:
	return reason(-EINVAL, why, whysz,
		      "not a size (use a number with K, M or G)");
}

/* "30s", "1h", "1h30m", "250ms"; a bare number only for 0. */
static int parse_duration(const char *v, uint64_t *ret, char *why,
			  size_t whysz)
{
	const char *p = v;
	uint64_t total = 0;
	bool over = false;
	if (strcmp(v, "0") == 0) {
		*ret = 0;
		return 0;
	}
	do {
		uint64_t n = 0, mul = 0;
		int r = parse_digits(&p, &n);
		if (r == -EINVAL)
			goto bad;
		over = over || r == -ERANGE;
		const char *u = p;
		while (*p >= 'a' && *p <= 'z')
			p++;
		size_t ulen = (size_t)(p - u);
		if (ulen == 0 && !*p)
			return reason(-EINVAL, why, whysz,
				      "missing unit (ms, s, m, h or d), "
				      "e.g. 30s");
		for (size_t i = 0; i < ARRAY_SIZE(duration_units); i++)
			if (strlen(duration_units[i].name) == ulen &&
			    memcmp(duration_units[i].name, u, ulen) == 0)
				mul = duration_units[i].ms;
		if (!mul)
			goto bad;
		if (n > UINT64_MAX / mul || n * mul > UINT64_MAX - total)
			over = true;
		else
			total += n * mul;
	} while (*p);
	if (over)
		return -ERANGE;
	*ret = total;
	return 0;
bad:
	return reason(-EINVAL, why, whysz,
		      "not a duration (use a number with ms, s, m, h or d, "
		      "e.g. 30s)");
}

static int parse_octal(const char *v, uint64_t *ret, char *why, size_t whysz)
{
	uint64_t n = 0;
	size_t len = strlen(v);
	if (len == 0)
		goto bad;
	for (size_t i = 0; i < len; i++)
		if (v[i] < '0' || v[i] > '7')
			goto bad;
	if (len > 12)
		return -ERANGE;
	for (size_t i = 0; i < len; i++)
		n = n * 8 + (uint64_t)(v[i] - '0');
	*ret = n;
	return 0;
bad:
	return reason(-EINVAL, why, whysz,
		      "not an octal mode (digits 0 to 7, e.g. 0660)");
}

static int parse_loglevel(const char *v, uint64_t *ret, char *why,
			  size_t whysz)
{
	enum log_level lvl;
	if (log_level_parse(v, &lvl) < 0)
		return reason(-EINVAL, why, whysz,
			      "not a log level (use err, warning, notice, "
			      "info or debug)");
	*ret = (uint64_t)lvl;
	return 0;
}

/* "" (off), or HOST:PORT with an IPv4 literal, [IPv6] or localhost. */
static int parse_listen(const char *v, char *why, size_t whysz)
{
	char host[64];
	const char *port;
	size_t hlen;
	if (!*v)
		return 0;
	if (v[0] == '[') {
		struct in6_addr a6;
		const char *close = strchr(v, ']');
		if (!close)
			return reason(-EINVAL, why, whysz,
				      "missing ']' after the IPv6 address");
		hlen = (size_t)(close - v - 1);
		if (hlen == 0 || hlen >= sizeof host)
			goto bad_v6;
		memcpy(host, v + 1, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			goto bad_v6;
		if (close[1] != ':')
			return reason(-EINVAL, why, whysz,
				      "missing port (use [IPv6]:PORT, e.g. "
				      "[::1]:8080)");
		port = close + 2;
	} else {
		struct in_addr a4;
		const char *colon = strrchr(v, ':');
		if (!colon)
			return reason(-EINVAL, why, whysz,
				      "missing port (use HOST:PORT, e.g. "
				      "127.0.0.1:8080)");
		hlen = (size_t)(colon - v);
		if (memchr(v, ':', hlen))
			return reason(-EINVAL, why, whysz,
				      "an IPv6 address needs brackets, e.g. "
				      "[::1]:8080");
		if (hlen == 0)
			return reason(-EINVAL, why, whysz,
				      "missing host (use HOST:PORT, e.g. "
				      "127.0.0.1:8080)");
		if (hlen >= sizeof host)
			goto bad_host;
		memcpy(host, v, hlen);
		host[hlen] = '\0';
		if (strcasecmp(host, "localhost") != 0 &&
		    inet_pton(AF_INET, host, &a4) != 1)
			goto bad_host;
		port = colon + 1;
	}
	uint64_t pn = 0;
	const char *p = port;
	int r = parse_digits(&p, &pn);
	if (r == -EINVAL || *p)
		return reason(-EINVAL, why, whysz, "port is not a number");
	if (r == -ERANGE || pn < 1 || pn > 65535)
		return reason(-EINVAL, why, whysz,
			      "port out of range (1..65535)");
	return 0;
bad_v6:
	return reason(-EINVAL, why, whysz,
		      "not an IPv6 address between '[' and ']'");
bad_host:
	return reason(-EINVAL, why, whysz,
		      "host must be an IPv4 address, an [IPv6] address or "
		      "localhost (names are not resolved)");
}

/* [daemon] debug: "store, http" -> "store,http" (known names, each once). */
static int check_subsys_list(const char *v, struct buf *norm, char *why,
			     size_t whysz)
{
	bool seen[LOG_SUBSYS_MAX] = { false };
	const char *p = v;
	if (!*v)
		return 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		const char *s = p, *e = comma ? comma : p + strlen(p);
		char name[32];
		enum log_subsys sub;
		while (s < e && is_space(*s))
			s++;
		while (e > s && is_space(e[-1]))
			e--;
		size_t n = (size_t)(e - s);
		if (n == 0)
			return reason(-EINVAL, why, whysz,
				      "empty name in the list");
		if (n < sizeof name) {
			memcpy(name, s, n);
			name[n] = '\0';
		}
		if (n >= sizeof name || log_subsys_parse(name, &sub) < 0) {
			char known[256] = "";
			size_t o = 0;
			for (int i = 0; i < LOG_SUBSYS_MAX && o < sizeof known;
			     i++)
				o += (size_t)snprintf(
					known + o, sizeof known - o, "%s%s",
					i ? ", " : "",
					log_subsys_name((enum log_subsys)i));
			if (n >= sizeof name)
				return reason(-EINVAL, why, whysz,
					      "unknown subsystem (known: %s)",
					      known);
			return reason(-EINVAL, why, whysz,
				      "unknown subsystem '%s' (known: %s)",
				      name, known);
		}
		if (norm && !seen[sub]) {
			seen[sub] = true;
			if (buf_printf(norm, "%s%s", norm->len ? "," : "",
				       log_subsys_name(sub)) < 0)
				return -ENOMEM;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	return 0;
}

/* Parse v for key k. Numbers (bool 0/1, the log level, bytes, ms, mode)
 * go to *ret_num; text types get an allocated (maybe normalised) copy in
 * *ret_text when asked. */
static int value_parse(const struct config_key_info *k,
		       const struct key_impl *impl, const char *v,
		       uint64_t *ret_num, char **ret_text, char *why,
		       size_t whysz)
{
	size_t len = strlen(v);
	uint64_t num = 0;
	bool ranged = false;
	int r = check_text(v, len, why, whysz);
	if (r < 0)
		return r;
	switch (k->type) {
	case CFG_STRING:
		break;
	case CFG_PATH:
		r = parse_path(k, v, len, why, whysz);
		break;
	case CFG_LISTEN:
		r = parse_listen(v, why, whysz);
		break;
	case CFG_BOOL:
		r = parse_bool(v, &num, why, whysz);
		break;
	case CFG_ENUM_LOGLEVEL:
		r = parse_loglevel(v, &num, why, whysz);
		break;
	case CFG_UINT:
		r = parse_uint(v, &num, why, whysz);
		ranged = true;
		break;
	case CFG_SIZE:
		r = parse_size(v, &num, why, whysz);
		ranged = true;
		break;
	case CFG_DURATION:
		r = parse_duration(v, &num, why, whysz);
		ranged = true;
		break;
	case CFG_OCTAL:
		r = parse_octal(v, &num, why, whysz);
		ranged = true;
		break;
	default:
		return reason(-EINVAL, why, whysz, "unknown key type");
	}
	if (r == 0 && ranged && (num < k->min || num > k->max))
		r = -ERANGE;
	if (r == -ERANGE) {
		char lo[32], hi[32];
		fmt_value(k->type, k->min, lo, sizeof lo);
		fmt_value(k->type, k->max, hi, sizeof hi);
		return reason(-ERANGE, why, whysz, "out of range (%s..%s)", lo,
			      hi);
	}
	if (r < 0)
		return r;

	struct buf norm;
	buf_init(&norm, 4096);
	bool want_text = ret_text && TYPE_IS_TEXT(k->type);
	if (impl && impl->check) {
		r = impl->check(v, want_text ? &norm : NULL, why, whysz);
		if (r < 0) {
			buf_free(&norm);
			return r;
		}
	}
	if (want_text) {
		char *t = impl && impl->check ? buf_steal(&norm) : strdup(v);
		if (!t)
			return -ENOMEM;
		*ret_text = t;
	}
	buf_free(&norm);
	if (ret_num)
		*ret_num = num;
	return 0;
}

int config_value_parse(const struct config_key_info *k, const char *value,
		       uint64_t *ret, char *why, size_t whysz)
{
	const struct key_impl *impl = NULL;
	if (!k || !value)
		return -EINVAL;
	for (size_t i = 0; i < NKEYS; i++)
		if (k == &keys[i])
			impl = &impls[i];
	return value_parse(k, impl, value, ret, NULL, why, whysz);
}

/* ---- struct config ---- */

static void *field_ptr(struct config *c, size_t i)
{
	return (char *)c + impls[i].offset;
}

static const void *field_cptr(const struct config *c, size_t i)
{
	return (const char *)c + impls[i].offset;
}

/* Store a parsed value; takes ownership of text. */
static void field_set(struct config *c, size_t i, uint64_t num, char *text)
{
	void *p = field_ptr(c, i);
	switch (keys[i].type) {
	case CFG_STRING:
	case CFG_PATH:
	case CFG_LISTEN:
		free(*(char **)p);
		*(char **)p = text;
		break;
	case CFG_BOOL:
		*(bool *)p = num != 0;
		break;
	case CFG_UINT:
	case CFG_OCTAL:
		*(uint32_t *)p = (uint32_t)num;
		break;
	case CFG_SIZE:
	case CFG_DURATION:
		*(uint64_t *)p = num;
		break;
	case CFG_ENUM_LOGLEVEL:
		*(enum log_level *)p = (enum log_level)num;
		break;
	}
}

static bool field_equal(const struct config *a, const struct config *b,
			size_t i)
{
	const void *pa = field_cptr(a, i), *pb = field_cptr(b, i);
	switch (keys[i].type) {
	case CFG_STRING:
	case CFG_PATH:
	case CFG_LISTEN: {
		const char *sa = *(char *const *)pa, *sb = *(char *const *)pb;
		return strcmp(sa ? sa : "", sb ? sb : "") == 0;
	}
	case CFG_BOOL:
		return *(const bool *)pa == *(const bool *)pb;
	case CFG_UINT:
	case CFG_OCTAL:
		return *(const uint32_t *)pa == *(const uint32_t *)pb;
	case CFG_SIZE:
	case CFG_DURATION:
		return *(const uint64_t *)pa == *(const uint64_t *)pb;
	case CFG_ENUM_LOGLEVEL:
		return *(const enum log_level *)pa ==
		       *(const enum log_level *)pb;
	}
	return true;
}

struct config *config_free(struct config *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < NKEYS; i++)
		if (TYPE_IS_TEXT(keys[i].type))
			free(*(char **)field_ptr(c, i));
	for (size_t i = 0; i < c->ngroups; i++) {
		free(c->groups[i].code);
		free(c->groups[i].name);
	}
	free(c->groups);
	free(c->path);
	free(c);
	return NULL;
}

static int groups_append(struct config *c, const char *code, size_t clen,
			 const char *name, size_t nlen, int line)
{
	struct config_group *g = realloc(c->groups,
					 (c->ngroups + 1) * sizeof *g);
	if (!g)
		return -ENOMEM;
	c->groups = g;
	g = &c->groups[c->ngroups];
	*g = (struct config_group){ .line = line };
	g->code = util_strndup(code, clen);
	g->name = util_strndup(name, nlen);
	if (!g->code || !g->name) {
		free(g->code);
		free(g->name);
		return -ENOMEM;
	}
	c->ngroups++;
	return 0;
}

static int groups_add_defaults(struct config *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(default_groups); i++) {
		int r = groups_append(c, default_groups[i].code,
				      strlen(default_groups[i].code),
				      default_groups[i].name,
				      strlen(default_groups[i].name), 0);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Every key at its default, parsed from the table's text. */
static struct config *config_alloc(bool with_groups)
{
	struct config *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	for (size_t i = 0; i < NKEYS; i++) {
		char why[CFG_REASON_MAX];
		uint64_t num = 0;
		char *text = NULL;
		int r = value_parse(&keys[i], &impls[i], keys[i].def, &num,
				    &text, why, sizeof why);
		if (r < 0) {
			(void)fails_assert(r == -ENOMEM);
			return config_free(c);
		}
		field_set(c, i, num, text);
	}
	if (with_groups && groups_add_defaults(c) < 0)
		return config_free(c);
	return c;
}

struct config *config_new_default(void)
{
	return config_alloc(true);
}

char *config_database_path(const struct config *c)
{
	char *p = NULL;
	if (!c)
		return NULL;
	if (c->database && *c->database)
		return strdup(c->database);
	const char *dir = c->state_dir ? c->state_dir : "";
	size_t n = strlen(dir);
	while (n > 0 && dir[n - 1] == '/')
		n--;
	if (n > INT32_MAX || asprintf(&p, "%.*s/loaxa.db", (int)n, dir) < 0)
		return NULL;
	return p;
}

/* ---- diagnostics ---- */

void config_diag_free(struct config_diag *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	d->msgs = NULL;
	d->n = 0;
}

/* Append "name:line: msg" ("name: msg" for line 0, msg alone without a
 * name). A NULL diag swallows it. */
static int diag_add(struct config_diag *d, const char *name, int line,
		    const char *msg)
{
	char *s = NULL;
	int n;
	if (!d)
		return 0;
	if (name && line > 0)
		n = asprintf(&s, "%s:%d: %s", name, line, msg);
	else if (name)
		n = asprintf(&s, "%s: %s", name, msg);
	else
		n = asprintf(&s, "%s", msg);
	if (n < 0)
		return -ENOMEM;
	char **m = realloc(d->msgs, (d->n + 1) * sizeof *m);
	if (!m) {
		free(s);
		return -ENOMEM;
	}
	d->msgs = m;
	d->msgs[d->n++] = s;
	return 0;
}

size_t config_diff_nonreloadable(const struct config *old,
				 const struct config *new_,
				 struct config_diag *diag)
{
	size_t n = 0;
	if (!old || !new_)
		return 0;
	for (size_t i = 0; i < NKEYS; i++) {
		char msg[128];
		if (keys[i].reloadable || field_equal(old, new_, i))
			continue;
		n++;
		snprintf(msg, sizeof msg,
			 "[%s] %s changed: takes effect after a restart",
			 keys[i].section, keys[i].key);
		(void)diag_add(diag, new_->path, 0, msg);
	}
	return n;
}

/* ---- the parser ---- */

struct parser {
	const char *name;
	const char *p, *end;  /* input not yet handed to inih */
	int line;             /* line last handed to inih */
	int sect;             /* index in sections[], SECT_NONE, SECT_SKIP */
	int sect_line[NSECT]; /* where each section was first seen, or 0 */
	int key_line[NKEYS];  /* where each key was set, or 0 */
	bool key_bad[NKEYS];  /* set to a bad value */
	bool too_many_groups;
	bool oom;
	size_t nerrors;
	struct config *c;
	struct config_diag *diag;
};

static void perr(struct parser *ps, int line, const char *fmt, ...)
	_printf_(3, 4);
static void perr(struct parser *ps, int line, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	ps->nerrors++;
	if (ps->nerrors > CFG_ERRORS_MAX || !ps->diag)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (diag_add(ps->diag, ps->name, line, msg) < 0)
		ps->oom = true;
}

/* A '#' after whitespace: meant as a comment, but inih keeps it. */
static bool has_hash_comment(const char *v)
{
	for (const char *h = strchr(v, '#'); h; h = strchr(h + 1, '#'))
		if (h > v && (h[-1] == ' ' || h[-1] == '\t'))
			return true;
	return false;
}

static void perr_value(struct parser *ps, int line, const char *sect,
		       const char *key, const char *value, const char *why)
{
	char ek[CFG_ESC_MAX], ev[CFG_ESC_MAX];
	perr(ps, line, "[%s] %s = %s: %s%s", sect,
	     escape(key, ek, sizeof ek), escape(value, ev, sizeof ev), why,
	     has_hash_comment(value)
		     ? " (note: '#' starts a comment only at the beginning "
		       "of a line; use ';')"
		     : "");
}

static size_t key_find(const char *sect, const char *key)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (streq(keys[i].section, sect) && streq(keys[i].key, key))
			return i;
	return SIZE_MAX;
}

/* The section a key name belongs to, other than sect (NULL: none). */
static const char *key_home(const char *sect, const char *key)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (streq(keys[i].key, key) && !streq(keys[i].section, sect))
			return keys[i].section;
	return NULL;
}

static void perr_unknown_key(struct parser *ps, const char *sect,
			     const char *name)
{
	char en[CFG_ESC_MAX];
	const char *home = key_home(sect, name), *near = NULL;
	size_t best = 3;
	escape(name, en, sizeof en);
	if (home) {
		perr(ps, ps->line,
		     "unknown key '%s' in [%s]; it belongs in [%s]", en, sect,
		     home);
		return;
	}
	for (size_t i = 0; i < NKEYS; i++) {
		size_t d;
		if (!streq(keys[i].section, sect))
			continue;
		d = edit_distance(name, keys[i].key);
		if (d < best) {
			best = d;
			near = keys[i].key;
		}
	}
	if (near)
		perr(ps, ps->line,
		     "unknown key '%s' in [%s]; did you mean '%s'?", en, sect,
		     near);
	else
		perr(ps, ps->line, "unknown key '%s' in [%s]", en, sect);
}

static bool group_code_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > CONFIG_GROUP_CODE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

/* Trim ASCII whitespace and U+00A0 (no-break space) from both ends. */
static void trim_name(const char **s, size_t *n)
{
	const char *p = *s;
	size_t len = *n;
	for (;;) {
		if (len && is_space(*p)) {
			p++;
			len--;
		} else if (len >= 2 && (unsigned char)p[0] == 0xc2 &&
			   (unsigned char)p[1] == 0xa0) {
			p += 2;
			len -= 2;
		} else if (len && is_space(p[len - 1])) {
			len--;
		} else if (len >= 2 && (unsigned char)p[len - 2] == 0xc2 &&
			   (unsigned char)p[len - 1] == 0xa0) {
			len -= 2;
		} else {
			break;
		}
	}
	*s = p;
	*n = len;
}

static void group_line(struct parser *ps, const char *code,
		       const char *value)
{
	struct config *c = ps->c;
	char why[CFG_REASON_MAX];
	const char *name = value;
	size_t nlen = strlen(value);

	if (!group_code_valid(code)) {
		perr_value(ps, ps->line, "groups", code, value,
			   "not a valid group code (use 1 to 32 letters, "
			   "digits, '-' or '_')");
		return;
	}
	if (check_text(value, nlen, why, sizeof why) < 0) {
		perr_value(ps, ps->line, "groups", code, value, why);
		return;
	}
	trim_name(&name, &nlen);
	if (nlen == 0) {
		perr_value(ps, ps->line, "groups", code, value,
			   "missing display name");
		return;
	}
	if (nlen > CONFIG_GROUP_NAME_MAX) {
		snprintf(why, sizeof why,
			 "display name too long (%zu bytes, max %d)", nlen,
			 CONFIG_GROUP_NAME_MAX);
		perr_value(ps, ps->line, "groups", code, value, why);
		return;
	}
	for (size_t i = 0; i < c->ngroups; i++) {
		const struct config_group *g = &c->groups[i];
		if (strcasecmp(g->code, code) == 0) {
			perr(ps, ps->line,
			     "[groups] duplicate group code '%s' (first on "
			     "line %d as '%s')",
			     code, g->line, g->code);
			return;
		}
		if (strlen(g->name) == nlen &&
		    strncasecmp(g->name, name, nlen) == 0) {
			snprintf(why, sizeof why,
				 "same display name as group '%s' on line %d",
				 g->code, g->line);
			perr_value(ps, ps->line, "groups", code, value, why);
			return;
		}
	}
	if (c->ngroups >= CFG_GROUPS_MAX) {
		if (!ps->too_many_groups)
			perr(ps, ps->line, "[groups] too many groups (max %d)",
			     CFG_GROUPS_MAX);
		ps->too_many_groups = true;
		return;
	}
	if (groups_append(c, code, strlen(code), name, nlen, ps->line) < 0)
		ps->oom = true;
}

static void key_line(struct parser *ps, const char *name, const char *value)
{
	char en[CFG_ESC_MAX];
	if (ps->sect == SECT_SKIP)
		return; /* under a bad section header, already reported */
	if (!*name) {
		perr(ps, ps->line, "missing key name before '='");
		return;
	}
	if (ps->sect == SECT_NONE) {
		const char *home = key_home("", name);
		escape(name, en, sizeof en);
		if (home)
			perr(ps, ps->line,
			     "key '%s' outside any section (it belongs in "
			     "[%s])",
			     en, home);
		else
			perr(ps, ps->line, "key '%s' outside any section", en);
		return;
	}
	if (ps->sect == SECT_GROUPS) {
		group_line(ps, name, value);
		return;
	}

	const char *sect = sections[ps->sect];
	size_t i = key_find(sect, name);
	if (i == SIZE_MAX) {
		perr_unknown_key(ps, sect, name);
		return;
	}
	if (ps->key_line[i]) {
		perr(ps, ps->line,
		     "duplicate key '%s' in [%s] (first set on line %d)",
		     keys[i].key, sect, ps->key_line[i]);
		return;
	}
	ps->key_line[i] = ps->line;

	char why[CFG_REASON_MAX];
	uint64_t num = 0;
	char *text = NULL;
	int r = value_parse(&keys[i], &impls[i], value, &num, &text, why,
			    sizeof why);
	if (r == -ENOMEM) {
		ps->oom = true;
		return;
	}
	if (r < 0) {
		ps->key_bad[i] = true;
		perr_value(ps, ps->line, sect, keys[i].key, value, why);
		return;
	}
	field_set(ps->c, i, num, text);
}

static void section_line(struct parser *ps, const char *s, size_t len)
{
	char en[CFG_ESC_MAX], name[64];
	const char *close = memchr(s, ']', len), *n, *e, *rest;
	ps->sect = SECT_SKIP;
	if (!close) {
		perr(ps, ps->line, "missing ']' in section header");
		return;
	}
	n = s + 1;
	e = close;
	while (n < e && is_space(*n))
		n++;
	while (e > n && is_space(e[-1]))
		e--;
	size_t nlen = (size_t)(e - n);
	if (nlen == 0) {
		perr(ps, ps->line, "empty section name []");
		return;
	}
	if (nlen >= sizeof name)
		nlen = sizeof name - 1; /* long enough to be unknown */
	memcpy(name, n, nlen);
	name[nlen] = '\0';

	int idx = SECT_SKIP;
	for (int i = 0; i < NSECT; i++)
		if (streq(sections[i], name))
			idx = i;
	if (idx == SECT_SKIP) {
		const char *near = NULL;
		size_t best = 3;
		for (int i = 0; i < NSECT; i++) {
			size_t d = edit_distance(name, sections[i]);
			if (d < best) {
				best = d;
				near = sections[i];
			}
		}
		escape(name, en, sizeof en);
		if (near)
			perr(ps, ps->line,
			     "unknown section [%s]; did you mean [%s]?", en,
			     near);
		else
			perr(ps, ps->line, "unknown section [%s]", en);
		return;
	}

	rest = close + 1;
	while (rest < s + len && is_space(*rest))
		rest++;
	if (rest < s + len && *rest != ';' && *rest != '#')
		perr(ps, ps->line, "unexpected text after [%s]", name);
	if (ps->sect_line[idx])
		perr(ps, ps->line, "duplicate section [%s] (first on line %d)",
		     name, ps->sect_line[idx]);
	else
		ps->sect_line[idx] = ps->line;
	ps->sect = idx;
}

/* Does inih see "name = value" here? Its own scan: the first '=' or ':',
 * unless an inline comment (';' after whitespace) comes first. */
static bool has_delimiter(const char *s, size_t len)
{
	bool was_space = false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '=' || s[i] == ':')
			return true;
		if (was_space && s[i] == ';')
			return false;
		was_space = is_space(s[i]);
	}
	return false;
}

/* The ini_reader: hands inih the next line, screened (see the top). */
static char *reader(char *str, int num, void *stream)
{
	struct parser *ps = stream;
	if (ps->p == ps->end || num < 3)
		return NULL;
	const char *s = ps->p;
	const char *nl = memchr(s, '\n', (size_t)(ps->end - s));
	const char *e = nl ? nl : ps->end;
	ps->p = nl ? nl + 1 : ps->end;
	ps->line++;

	if (ps->line == 1 && e - s >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3; /* UTF-8 byte order mark */
	while (s < e && is_space(*s))
		s++;
	while (e > s && is_space(e[-1]))
		e--;
	size_t len = (size_t)(e - s);
	size_t max = (size_t)num - 2;
	if (max > CFG_LINE_MAX)
		max = CFG_LINE_MAX;

	str[0] = '\n'; /* what inih gets for anything handled here */
	str[1] = '\0';
	if (len == 0 || *s == ';' || *s == '#')
		return str;
	if (memchr(s, '\0', len)) {
		perr(ps, ps->line, "line contains a NUL byte");
		return str;
	}
	if (len > max) {
		perr(ps, ps->line, "line too long (max %zu characters)", max);
		return str;
	}
	if (*s == '[') {
		section_line(ps, s, len);
		return str;
	}
	if (!has_delimiter(s, len)) {
		perr(ps, ps->line, "expected 'key = value'");
		return str;
	}
	memcpy(str, s, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

#if INI_HANDLER_LINENO
static int handler(void *user, const char *section, const char *name,
		   const char *value, int lineno)
#else
static int handler(void *user, const char *section, const char *name,
		   const char *value)
#endif
{
	struct parser *ps = user;
	(void)section; /* the reader tracks sections (inih never sees one) */
#if INI_HANDLER_LINENO
	(void)lineno;
#endif
	if (name && value)
		key_line(ps, name, value);
	return 1; /* errors are ours to count; inih would keep only one */
}

static void cross_check(struct parser *ps)
{
	const struct config *c = ps->c;
	char ev[CFG_ESC_MAX];
	size_t listen = key_find("api", "listen");
	size_t token = key_find("api", "token_file");
	size_t sock = key_find("api", "socket");
	size_t state = key_find("daemon", "state_dir");

	if (listen != SIZE_MAX && token != SIZE_MAX && !ps->key_bad[listen] &&
	    !ps->key_bad[token] && *c->api_listen && !*c->api_token_file)
		perr(ps, ps->key_line[listen],
		     "[api] listen = %s: token_file must be set too (TCP "
		     "clients authenticate with the token in it)",
		     escape(c->api_listen, ev, sizeof ev));

	if (sock != SIZE_MAX && !ps->key_bad[sock] &&
	    strlen(c->api_socket) > CFG_SUN_PATH_MAX)
		perr(ps, ps->key_line[sock],
		     "[api] socket = %s: too long for a unix socket (%zu "
		     "bytes, max %d)",
		     escape(c->api_socket, ev, sizeof ev),
		     strlen(c->api_socket), CFG_SUN_PATH_MAX);

	if (state != SIZE_MAX && !ps->key_bad[state] && !*c->database &&
	    strlen(c->state_dir) + strlen("/loaxa.db") > CFG_PATH_MAX)
		perr(ps, ps->key_line[state],
		     "[daemon] state_dir = %s: too long to hold loaxa.db "
		     "(max %d bytes in all)",
		     escape(c->state_dir, ev, sizeof ev), CFG_PATH_MAX);
}

int config_load_buffer(const char *name, const char *data, size_t len,
		       struct config **ret, struct config_diag *diag)
{
	struct parser ps = {
		.name = name ? name : "<input>",
		.p = data,
		.end = data ? data + len : data,
		.sect = SECT_NONE,
		.diag = diag,
	};
	int r;

	if (!data && len)
		return -EINVAL;
	ps.c = config_alloc(false);
	if (!ps.c)
		return -ENOMEM;
	ps.c->path = strdup(ps.name);
	if (!ps.c->path) {
		config_free(ps.c);
		return -ENOMEM;
	}

	r = ini_parse_stream(reader, &ps, handler, &ps);
	if (r < 0)
		ps.oom = true;          /* -2: inih could not allocate */
	else if (r > 0 && ps.nerrors == 0)
		perr(&ps, r, "syntax error"); /* the reader should prevent it */

	if (!ps.sect_line[SECT_GROUPS] && groups_add_defaults(ps.c) < 0)
		ps.oom = true;
	cross_check(&ps);

	if (ps.nerrors > CFG_ERRORS_MAX) {
		char msg[96];
		snprintf(msg, sizeof msg, "%zu more errors not shown",
			 ps.nerrors - CFG_ERRORS_MAX);
		if (diag_add(diag, ps.name, 0, msg) < 0)
			ps.oom = true;
	}
	if (ps.oom || ps.nerrors) {
		config_free(ps.c);
		return ps.oom ? -ENOMEM : -EINVAL;
	}
	if (ret)
		*ret = ps.c;
	else
		config_free(ps.c);
	return 0;
}

int config_load(const char *path, struct config **ret,
		struct config_diag *diag)
{
	_cleanup_close_ int fd = -1;
	struct buf b;
	char chunk[16384], msg[256];
	int r;

	if (!path)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		goto fail_errno;
	}
	buf_init(&b, CFG_FILE_MAX);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			buf_free(&b);
			goto fail_errno;
		}
		if (n == 0)
			break;
		r = buf_append(&b, chunk, (size_t)n);
		if (r == -E2BIG) {
			buf_free(&b);
			snprintf(msg, sizeof msg, "file too large (max %d MiB)",
				 CFG_FILE_MAX / (1024 * 1024));
			(void)diag_add(diag, path, 0, msg);
			return -EFBIG;
		}
		if (r < 0) {
			buf_free(&b);
			return r;
		}
	}
	r = config_load_buffer(path, b.data, b.len, ret, diag);
	buf_free(&b);
	return r;

fail_errno:
	snprintf(msg, sizeof msg, "cannot read: %s", strerror(-r));
	(void)diag_add(diag, path, 0, msg);
	return r;
}
