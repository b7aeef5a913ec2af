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
 * Channels. Each [channel.NAME] section is one struct config_channel; its
 * keys are a second part of the same table (section "channel.NAME"), with
 * one more column: the drivers a key applies to. A key set for a driver
 * that does not use it is an error, as is a driver's missing key; both are
 * cross-field checks, run when the whole file has been read (the driver
 * line may come last).
 *
 * Every problem is collected as "path:line: message" and parsing goes on,
 * so one run shows them all; cross-field checks run afterwards. The
 * caller decides what to log (this is a leaf module: it does not log,
 * except config_read_secret's warning about a file others can read).
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

#include "loaxa/channel.h"
#include "loaxa/template.h"
#include "loaxa/text.h"
#include "loaxa/webhooks.h" /* RSVP_YES_DEFAULT, RSVP_NO_DEFAULT */

#define CFG_LINE_MAX 198          /* inih's buffer: text + '\n' + NUL */
#define CFG_FILE_MAX (1024 * 1024)
#define CFG_PATH_MAX 4095         /* PATH_MAX including the NUL */
#define CFG_SUN_PATH_MAX 107      /* sizeof(sun_path) including the NUL */
#define CFG_GROUPS_MAX 1000
#define CFG_CHANNELS_MAX 32
#define CFG_NAME_MAX 32           /* group codes and channel names */
#define CFG_ERRORS_MAX 100        /* messages kept; the rest are counted */
#define CFG_ESC_MAX 800           /* an escaped line: 4 * 198 + NUL fits */
#define CFG_REASON_MAX 512
#define CFG_URL_MAX 2048
#define CFG_TOKEN_MAX 128         /* app_id, template_id, account_sid */
#define CFG_PARAM_MAX 64          /* a ZNS template parameter name */
#define CFG_SECRET_MAX (64 * 1024)
#define CHANNEL_SECTION "channel.NAME"

#define TMPL_MEETING_DEFAULT                                                \
	"Kính mời ông/bà {name} ({group}) dự họp: {title}. Thời gian: "     \
	"{time}. Địa điểm: {place}. Nội dung: {agenda}"
#define TMPL_NOTICE_DEFAULT "Thông báo: {title}. {body}"
#define TMPL_REMINDER_DEFAULT "Nhắc lịch họp: {title}, {time}, tại {place}."

/* ---- the key table ---- */

typedef int check_fn(const char *v, struct buf *norm, char *why,
		     size_t whysz);
typedef int set_fn(void *obj, const char *v);

static check_fn check_subsys_list, check_quiet_hours, check_timezone,
	check_template, check_chain, check_driver, check_url,
	check_secret_ref, check_token, check_template_data, check_brandname,
	check_sms_type, check_e164, check_messaging_type, check_tag,
	check_public_url, check_rsvp_words, check_approval;
static set_fn set_quiet_hours, set_chain, set_driver, set_approval;

/* X(section, key, type, default, min, max, reloadable, field, check, set,
 *   doc).
 * The doc is the one-line comment shown above the key in etc/loaxa.ini
 * (the unit test holds them equal), so it stays within 78 columns. A path
 * key whose default is "" may be set to "" (meaning "not set"). check
 * validates (and may normalise) a text value after its type's own rules;
 * set, when not NULL, stores the value itself instead of the field getting
 * it by its type (field then names the first field set writes). */
#define CONFIG_KEYS(X)                                                      \
	X("daemon", "state_dir", CFG_PATH, "/var/lib/loaxa", 0, 0, false,   \
	  state_dir, NULL, NULL,                                            \
	  "Directory for loaxad's state; holds the database unless "        \
	  "database is set.")                                               \
	X("daemon", "database", CFG_PATH, "", 0, 0, false, database, NULL, \
	  NULL, "SQLite database file; empty means loaxa.db in state_dir.") \
	X("daemon", "log_level", CFG_ENUM_LOGLEVEL, "info", 0, 0, true,     \
	  log_level, NULL, NULL,                                            \
	  "Least severe messages logged: err, warning, notice, info or "    \
	  "debug.")                                                         \
	X("daemon", "debug", CFG_STRING, "", 0, 0, true, log_debug,         \
	  check_subsys_list, NULL,                                          \
	  "Subsystems logged at debug level anyway, comma-separated, e.g. " \
	  "store,http.")                                                    \
	X("daemon", "retention", CFG_DURATION, "365d", 86400 * 1000,        \
	  UINT64_C(3650) * 86400 * 1000, true, retention_ms, NULL, NULL,    \
	  "Delivery details of broadcasts finished longer ago are pruned; " \
	  "counts stay.")                                                   \
	X("api", "socket", CFG_PATH, "/run/loaxa/api.sock", 0, 0, false,    \
	  api_socket, NULL, NULL,                                           \
	  "Unix socket of the HTTP API, used by the loaxa command (max 107 "\
	  "bytes).")                                                        \
	X("api", "socket_mode", CFG_OCTAL, "0660", 0600, 0666, false,       \
	  api_socket_mode, NULL, NULL,                                      \
	  "Permission bits of the API socket (0600..0666).")                \
	X("api", "listen", CFG_LISTEN, "", 0, 0, false, api_listen, NULL,   \
	  NULL,                                                             \
	  "Also serve the API on TCP at HOST:PORT, e.g. 127.0.0.1:8080; "   \
	  "empty = off.")                                                   \
	X("api", "token_file", CFG_PATH, "", 0, 0, false, api_token_file,   \
	  NULL, NULL,                                                       \
	  "File with a bearer token that acts as an admin; empty = personal "\
	  "tokens only.")                                                   \
	X("api", "max_body", CFG_SIZE, "64M", 1024, 1024 * 1024 * 1024,     \
	  true, api_max_body, NULL, NULL,                                   \
	  "Largest request body the API accepts (a number with K, M or G).")\
	X("api", "max_connections", CFG_UINT, "64", 1, 10000, false,        \
	  api_max_connections, NULL, NULL,                                  \
	  "Most API connections open at the same time (1..10000).")         \
	X("api", "timeout", CFG_DURATION, "30s", 1000, 3600 * 1000, false,  \
	  api_timeout_ms, NULL, NULL,                                       \
	  "Idle API connections are closed after this long (1s..1h).")      \
	X("broadcast", "notice_ttl", CFG_DURATION, "24h", 60 * 1000,        \
	  UINT64_C(30) * 86400 * 1000, true, notice_ttl_ms, NULL, NULL,     \
	  "A notice not delivered within this long is dropped (1m..30d).")  \
	X("broadcast", "quiet_hours", CFG_STRING, "21:00-06:00", 0, 0,      \
	  true, quiet_start_min, check_quiet_hours, set_quiet_hours,        \
	  "Local times with no sending, HH:MM-HH:MM (may span midnight); "  \
	  "empty = none.")                                                  \
	X("broadcast", "timezone", CFG_STRING, "Asia/Ho_Chi_Minh", 0, 0,    \
	  false, timezone, check_timezone, NULL,                            \
	  "Local time of quiet hours and dates: Asia/Ho_Chi_Minh, UTC or "  \
	  "+07:00.")                                                        \
	X("broadcast", "retry_initial", CFG_DURATION, "30s", 1000,          \
	  3600 * 1000, true, retry_initial_ms, NULL, NULL,                  \
	  "First wait before a failed message is tried again (1s..1h).")    \
	X("broadcast", "retry_max", CFG_DURATION, "30m", 1000,              \
	  86400 * 1000, true, retry_max_ms, NULL, NULL,                     \
	  "Longest wait between tries, at least retry_initial (1s..1d).")   \
	X("broadcast", "max_attempts", CFG_UINT, "5", 1, 100, true,         \
	  max_attempts, NULL, NULL,                                         \
	  "Tries of a message on one channel before the next one (1..100).")\
	X("broadcast", "fanout_chunk", CFG_UINT, "5000", 100, 100000, true, \
	  fanout_chunk, NULL, NULL,                                         \
	  "Households turned into deliveries per step (100..100000).")      \
	X("broadcast", "sms_warn_segments", CFG_UINT, "3", 1, 20, true,     \
	  sms_warn_segments, NULL, NULL,                                    \
	  "The loaxa command warns when an SMS needs more parts (1..20).")  \
	X("broadcast", "approval", CFG_STRING, "urgent-all", 0, 0, true,    \
	  approval, check_approval, set_approval,                           \
	  "Sends a second official must approve: off, urgent-all, urgent "  \
	  "or all.")                                                        \
	X("templates", "meeting", CFG_STRING, TMPL_MEETING_DEFAULT, 0, 0,   \
	  true, tmpl_meeting, check_template, NULL,                         \
	  "Meeting invitation; {name} {group} {title} {time} {place} "      \
	  "{agenda}.")                                                      \
	X("templates", "notice", CFG_STRING, TMPL_NOTICE_DEFAULT, 0, 0,     \
	  true, tmpl_notice, check_template, NULL,                          \
	  "Notice; {name} {group} {title} {body}.")                         \
	X("templates", "reminder", CFG_STRING, TMPL_REMINDER_DEFAULT, 0, 0, \
	  true, tmpl_reminder, check_template, NULL,                        \
	  "Reminder of a meeting; the same placeholders as meeting.")       \
	X("webhooks", "listen", CFG_LISTEN, "", 0, 0, false, wh_listen,     \
	  NULL, NULL,                                                       \
	  "Take provider webhooks on TCP at HOST:PORT, e.g. 127.0.0.1:8081; "\
	  "empty = off.")                                                   \
	X("webhooks", "max_body", CFG_SIZE, "1M", 64 * 1024,                \
	  1024 * 1024, true, wh_max_body, NULL, NULL,                       \
	  "Largest webhook request body accepted (64K..1M).")               \
	X("webhooks", "max_connections", CFG_UINT, "64", 1, 10000, false,   \
	  wh_max_connections, NULL, NULL,                                   \
	  "Most webhook connections open at the same time (1..10000).")     \
	X("webhooks", "zalo_oa_secret_file", CFG_STRING, "", 0, 0, true,    \
	  wh_zalo_oa_secret_file, check_secret_ref, NULL,                   \
	  "Zalo OA secret key, checks X-ZEvent-Signature: a file or "       \
	  "credential:NAME.")                                               \
	X("webhooks", "messenger_app_secret_file", CFG_STRING, "", 0, 0,    \
	  true, wh_messenger_app_secret_file, check_secret_ref, NULL,       \
	  "Facebook app secret, checks X-Hub-Signature-256: a file or "     \
	  "credential:NAME.")                                               \
	X("webhooks", "messenger_verify_token_file", CFG_STRING, "", 0, 0,  \
	  true, wh_messenger_verify_token_file, check_secret_ref, NULL,     \
	  "Verify token typed in Messenger's webhook setup: a file or "     \
	  "credential:NAME.")                                               \
	X("webhooks", "esms_secret_file", CFG_STRING, "", 0, 0, true,       \
	  wh_esms_secret_file, check_secret_ref, NULL,                      \
	  "Last part of the eSMS CallbackUrl path: a file or "              \
	  "credential:NAME.")                                               \
	X("webhooks", "public_url", CFG_STRING, "", 0, 0, true,             \
	  wh_public_url, check_public_url, NULL,                            \
	  "URL providers reach this listener at, no trailing '/'; empty = " \
	  "http://listen.")                                                 \
	X("webhooks", "metrics", CFG_BOOL, "no", 0, 0, false, wh_metrics,   \
	  NULL, NULL, "Also serve Prometheus metrics at /metrics here.")    \
	X("webhooks", "unconfirmed_after", CFG_DURATION, "1h", 60 * 1000,   \
	  UINT64_C(7) * 86400 * 1000, true, unconfirmed_after_ms, NULL,     \
	  NULL,                                                             \
	  "A sent message with no receipt after this is unconfirmed "       \
	  "(1m..7d).")                                                      \
	X("webhooks", "rsvp_yes", CFG_STRING, RSVP_YES_DEFAULT, 0, 0, true, \
	  rsvp_yes, check_rsvp_words, NULL,                                 \
	  "Replies meaning \"I will come\", comma-separated; case and "     \
	  "diacritics aside.")                                              \
	X("webhooks", "rsvp_no", CFG_STRING, RSVP_NO_DEFAULT, 0, 0, true,   \
	  rsvp_no, check_rsvp_words, NULL,                                  \
	  "Replies meaning \"I will not come\", comma-separated; no word "  \
	  "of rsvp_yes.")                                                   \
	X("hooks", "url", CFG_STRING, "", 0, 0, true, hook_url, check_url,  \
	  NULL, "POST every delivery status change here (https://); empty = "\
	  "off.")                                                           \
	X("hooks", "secret_file", CFG_STRING, "", 0, 0, true,               \
	  hook_secret_file, check_secret_ref, NULL,                         \
	  "Key of X-Loaxa-Signature (required with url): a file or "        \
	  "credential:NAME.")                                               \
	X("hooks", "allow_http", CFG_BOOL, "no", 0, 0, true,                \
	  hook_allow_http, NULL, NULL,                                      \
	  "Allow a plain http:// url: for a receiver on this machine.")     \
	X("console", "enabled", CFG_BOOL, "yes", 0, 0, false,               \
	  console_enabled, NULL, NULL,                                      \
	  "Serve the web console at / on the [api] listen address.")        \
	X("console", "session_lifetime", CFG_DURATION, "12h", 5 * 60 * 1000,\
	  UINT64_C(30) * 86400 * 1000, true, session_lifetime_ms, NULL,     \
	  NULL, "A console login lasts this long without use (5m..30d).")  \
	X("console", "secure_cookie", CFG_BOOL, "no", 0, 0, true,           \
	  secure_cookie, NULL, NULL,                                        \
	  "Mark the session cookie Secure: yes behind a TLS reverse proxy.")\
	X("console", "login_attempts", CFG_UINT, "5", 1, 1000, true,        \
	  login_attempts, NULL, NULL,                                       \
	  "Failed logins per name and address in 15 minutes before a wait.")\
	X("route", "chain", CFG_STRING, "", 0, 0, true, route, check_chain, \
	  set_chain,                                                        \
	  "Channels to try in turn: [channel.NAME] names, comma-separated.")

/* Drivers a channel key applies to (bits 1 << enum channel_driver). */
#define D_(d) (1u << (d))
#define D_ALL 0u
#define D_ZNS D_(CHD_ZNS)
#define D_ZALO (D_(CHD_ZNS) | D_(CHD_ZALO_OA))
#define D_TOKEN (D_ZALO | D_(CHD_MESSENGER))
#define D_MESSENGER D_(CHD_MESSENGER)
#define D_ESMS D_(CHD_ESMS)
#define D_TWILIO D_(CHD_TWILIO)
#define D_SMS (D_(CHD_ESMS) | D_(CHD_TWILIO))

/* Y(key, type, default, min, max, field, check, set, drivers, doc): the
 * keys of a [channel.NAME] section (struct config_channel), all
 * reloadable (loaxad rebuilds a changed channel). */
#define CHANNEL_KEYS(Y)                                                     \
	Y("driver", CFG_STRING, "", 0, 0, driver, check_driver, set_driver, \
	  D_ALL,                                                            \
	  "Provider: zns, zalo_oa, messenger, esms or twilio (required).")  \
	Y("url", CFG_STRING, "", 0, 0, url, check_url, NULL, D_ALL,         \
	  "The provider's send endpoint, https:// (required).")             \
	Y("allow_http", CFG_BOOL, "no", 0, 0, allow_http, NULL, NULL,       \
	  D_ALL, "Allow a plain http:// url: for a local sandbox only.")    \
	Y("access_token_file", CFG_STRING, "", 0, 0, access_token_file,     \
	  check_secret_ref, NULL, D_TOKEN,                                  \
	  "Access token: a file, or credential:NAME (LoadCredential=).")    \
	Y("oauth_url", CFG_STRING, "", 0, 0, oauth_url, check_url, NULL,    \
	  D_ZALO, "Zalo OAuth v4 endpoint; set, loaxad refreshes the token.")\
	Y("app_id", CFG_STRING, "", 0, 0, app_id, check_token, NULL,        \
	  D_ZALO, "Zalo app id (OAuth).")                                   \
	Y("app_secret_file", CFG_STRING, "", 0, 0, app_secret_file,         \
	  check_secret_ref, NULL, D_ZALO,                                   \
	  "Zalo app secret key (OAuth): a file or credential:NAME.")        \
	Y("refresh_token_file", CFG_STRING, "", 0, 0, refresh_token_file,   \
	  check_secret_ref, NULL, D_ZALO,                                   \
	  "First Zalo refresh token (OAuth): a file or credential:NAME.")   \
	Y("template_id", CFG_STRING, "", 0, 0, template_id, check_token,    \
	  NULL, D_ZNS, "Id of the approved ZNS template.")                  \
	Y("template_data", CFG_STRING, "", 0, 0, template_data,             \
	  check_template_data, NULL, D_ZNS,                                 \
	  "ZNS parameters: param={placeholder}, param2=text {time}, ...")   \
	Y("api_key_file", CFG_STRING, "", 0, 0, api_key_file,               \
	  check_secret_ref, NULL, D_ESMS,                                   \
	  "eSMS ApiKey: a file or credential:NAME.")                        \
	Y("secret_key_file", CFG_STRING, "", 0, 0, secret_key_file,         \
	  check_secret_ref, NULL, D_ESMS,                                   \
	  "eSMS SecretKey: a file or credential:NAME.")                     \
	Y("brandname", CFG_STRING, "", 0, 0, brandname, check_brandname,    \
	  NULL, D_ESMS,                                                     \
	  "Registered sender name: up to 11 letters, digits, ' ', '.', '-'.")\
	Y("sms_type", CFG_STRING, "2", 0, 0, sms_type, check_sms_type,      \
	  NULL, D_ESMS, "eSMS SmsType: 2 is customer care by brandname.")   \
	Y("unicode", CFG_BOOL, "no", 0, 0, unicode, NULL, NULL, D_SMS,      \
	  "Keep diacritics: UCS-2, 70 characters per SMS instead of 160.")  \
	Y("account_sid", CFG_STRING, "", 0, 0, account_sid, check_token,    \
	  NULL, D_TWILIO, "Twilio account SID (AC...).")                    \
	Y("auth_token_file", CFG_STRING, "", 0, 0, auth_token_file,         \
	  check_secret_ref, NULL, D_TWILIO,                                 \
	  "Twilio auth token: a file or credential:NAME.")                  \
	Y("from", CFG_STRING, "", 0, 0, from, check_e164, NULL, D_TWILIO,   \
	  "Twilio sender number in E.164 form, e.g. +15005550006.")         \
	Y("messaging_type", CFG_STRING, "MESSAGE_TAG", 0, 0,                \
	  messaging_type, check_messaging_type, NULL, D_MESSENGER,          \
	  "Messenger messaging_type: MESSAGE_TAG, RESPONSE or UPDATE.")     \
	Y("tag", CFG_STRING, "CONFIRMED_EVENT_UPDATE", 0, 0, tag,           \
	  check_tag, NULL, D_MESSENGER,                                     \
	  "Messenger message tag, needed with MESSAGE_TAG.")                \
	Y("callback_url", CFG_STRING, "", 0, 0, callback_url, check_url,    \
	  NULL, D_SMS, "Where the provider posts delivery reports; empty = "\
	  "none.")                                                          \
	Y("rate", CFG_DECIMAL, "10", 0, 100000, rate, NULL, NULL, D_ALL,    \
	  "Most messages per second; 0 = no limit (0..100000).")            \
	Y("segment_rate", CFG_DECIMAL, "0", 0, 100000, segment_rate, NULL,  \
	  NULL, D_SMS, "Most SMS parts per second; 0 = no limit (0..100000).")\
	Y("max_in_flight", CFG_UINT, "8", 1, 1024, max_in_flight, NULL,     \
	  NULL, D_ALL,                                                      \
	  "Most requests awaiting the provider at once (1..1024).")         \
	Y("timeout", CFG_DURATION, "15s", 1000, 5 * 60 * 1000, timeout_ms,  \
	  NULL, NULL, D_ALL,                                                \
	  "A request not answered within this long has failed (1s..5m).")   \
	Y("connect_timeout", CFG_DURATION, "5s", 1000, 60 * 1000,           \
	  connect_timeout_ms, NULL, NULL, D_ALL,                            \
	  "Longest time to connect to the provider (1s..1m).")              \
	Y("max_attempts", CFG_UINT, "0", 0, 100, max_attempts, NULL, NULL,  \
	  D_ALL, "Tries of a message here; 0 = [broadcast] max_attempts.")  \
	Y("breaker_failures", CFG_UINT, "5", 1, 1000, breaker_failures,     \
	  NULL, NULL, D_ALL,                                                \
	  "Failures in a row that pause the channel (1..1000).")            \
	Y("breaker_cooldown", CFG_DURATION, "30s", 1000, 3600 * 1000,       \
	  breaker_cooldown_ms, NULL, NULL, D_ALL,                           \
	  "How long a paused channel rests before a trial message (1s..1h).")

#define KEY_INFO(s, k, t, d, lo, hi, rel, f, chk, set, text)                \
	{ .section = s, .key = k, .type = t, .def = d, .min = lo, .max = hi,  \
	  .reloadable = rel, .doc = text },
#define CH_KEY_INFO(k, t, d, lo, hi, f, chk, set, drv, text) \
	KEY_INFO(CHANNEL_SECTION, k, t, d, lo, hi, true, f, chk, set, text)
static const struct config_key_info keys[] = {
	CONFIG_KEYS(KEY_INFO) CHANNEL_KEYS(CH_KEY_INFO)
};

/* What the public table does not show: where the value goes, and what
 * else checks or stores it. */
struct key_impl {
	bool channel;    /* a field of struct config_channel, else config */
	size_t offset;
	check_fn *check; /* returns 1 when it wrote a normalised value */
	set_fn *set;
	unsigned drivers; /* channel keys: D_ALL or the drivers using it */
};
#define KEY_IMPL(s, k, t, d, lo, hi, rel, f, chk, set_, text) \
	{ false, offsetof(struct config, f), chk, set_, D_ALL },
#define CH_KEY_IMPL(k, t, d, lo, hi, f, chk, set_, drv, text) \
	{ true, offsetof(struct config_channel, f), chk, set_, drv },
static const struct key_impl impls[] = {
	CONFIG_KEYS(KEY_IMPL) CHANNEL_KEYS(CH_KEY_IMPL)
};

/* Indices in keys[] by field: KC_state_dir, ..., KCH_driver, ... */
#define KEY_ENUM(s, k, t, d, lo, hi, rel, f, chk, set, text) KC_##f,
#define CH_KEY_ENUM(k, t, d, lo, hi, f, chk, set, drv, text) KCH_##f,
enum { CONFIG_KEYS(KEY_ENUM) CHANNEL_KEYS(CH_KEY_ENUM) NKEYS_ENUM };

#define COUNT_KEY(...) +1
#define NCONFIGKEYS (0 CONFIG_KEYS(COUNT_KEY)) /* then channel keys */
#define NKEYS ARRAY_SIZE(keys)
_Static_assert(ARRAY_SIZE(impls) == NKEYS && NKEYS == NKEYS_ENUM,
	       "one impl and one index per key");

/* Each field's C type must fit its key's type: char * for text, double for
 * decimals, else a number of the size field_set() writes. A key with a set
 * function stores its own fields; it must be reloadable, because
 * config_diff_nonreloadable compares fields by the key's type. (NULL is
 * ((void *)0) in C, so _Generic tells it from a function.) */
#define TYPE_IS_TEXT(t) \
	((t) == CFG_PATH || (t) == CFG_STRING || (t) == CFG_LISTEN)
#define TYPE_NUM_SIZE(t)                                                 \
	((t) == CFG_BOOL ? sizeof(bool)                                  \
	 : (t) == CFG_SIZE || (t) == CFG_DURATION ? sizeof(uint64_t)     \
	 : (t) == CFG_ENUM_LOGLEVEL ? sizeof(enum log_level)             \
	 : (t) == CFG_DECIMAL ? sizeof(double)                           \
	 : sizeof(uint32_t))
#define FIELD(T, f) (((T *)0)->f)
#define HAS_SET(set) _Generic((set), void *: 0, default: 1)
#define FIELD_FITS(T, t, f)                                              \
	(TYPE_IS_TEXT(t) ? _Generic(FIELD(T, f), char *: 1, default: 0)  \
	 : (t) == CFG_DECIMAL                                            \
		 ? _Generic(FIELD(T, f), double: 1, default: 0)          \
		 : _Generic(FIELD(T, f), char *: 0, double: 0,           \
			    default: 1) &&                               \
			   sizeof(FIELD(T, f)) == TYPE_NUM_SIZE(t))
#define KEY_ASSERT(s, k, t, d, lo, hi, rel, f, chk, set, text)               \
	_Static_assert(HAS_SET(set) || FIELD_FITS(struct config, t, f),      \
		       "[" s "] " k ": field type does not match key type"); \
	_Static_assert(!HAS_SET(set) || (rel),                               \
		       "[" s "] " k ": a key with a set function must be "   \
		       "reloadable");
#define CH_KEY_ASSERT(k, t, d, lo, hi, f, chk, set, drv, text)              \
	_Static_assert(HAS_SET(set) ||                                       \
			       FIELD_FITS(struct config_channel, t, f),      \
		       "[channel] " k ": field type does not match key type");
CONFIG_KEYS(KEY_ASSERT)
CHANNEL_KEYS(CH_KEY_ASSERT)

enum { SECT_DAEMON, SECT_API, SECT_BROADCAST, SECT_TEMPLATES,
       SECT_WEBHOOKS, SECT_HOOKS, SECT_CONSOLE, SECT_ROUTE, SECT_GROUPS,
       NSECT };
enum { SECT_NONE = -1, SECT_SKIP = -2, SECT_CHANNEL = -3 };
static const char *const sections[NSECT] = {
	[SECT_DAEMON] = "daemon",       [SECT_API] = "api",
	[SECT_BROADCAST] = "broadcast", [SECT_TEMPLATES] = "templates",
	[SECT_WEBHOOKS] = "webhooks",   [SECT_HOOKS] = "hooks",
	[SECT_CONSOLE] = "console",
	[SECT_ROUTE] = "route",         [SECT_GROUPS] = "groups",
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

/* Time zones by name. loaxa keeps a fixed UTC offset, not a tz database:
 * Vietnam and its +07:00 neighbours keep no daylight saving time, so a
 * name is only a friendlier way to write the offset. */
static const struct {
	const char *name;
	int offset_min;
} tz_names[] = {
	{ "Asia/Ho_Chi_Minh", 420 }, { "Asia/Saigon", 420 },
	{ "Asia/Bangkok", 420 },     { "Asia/Jakarta", 420 },
	{ "UTC", 0 },                { "Etc/UTC", 0 },
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
	case CFG_DECIMAL: return "number";
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
	return 1; /* norm holds the list */
}

/* "10", "0.5", "2.125": whole part and at most 3 decimals, in thousandths. */
static int parse_decimal(const char *v, uint64_t *ret, char *why,
			 size_t whysz)
{
	const char *p = v;
	uint64_t whole = 0, frac = 0;
	int r = parse_digits(&p, &whole);
	if (r == -EINVAL)
		goto bad;
	bool over = r == -ERANGE;
	if (*p == '.') {
		unsigned nd = 0;
		p++;
		if (*p < '0' || *p > '9')
			goto bad;
		for (; *p >= '0' && *p <= '9'; p++, nd++) {
			if (nd < 3)
				frac = frac * 10 + (uint64_t)(*p - '0');
			else if (*p != '0')
				return reason(-EINVAL, why, whysz,
					      "too many decimals (at most 3)");
		}
		for (; nd < 3; nd++)
			frac *= 10;
	}
	if (*p == ',')
		return reason(-EINVAL, why, whysz,
			      "not a number (write decimals with '.', e.g. "
			      "0.5)");
	if (*p)
		goto bad;
	if (over || whole > (UINT64_MAX - frac) / 1000)
		return -ERANGE;
	*ret = whole * 1000 + frac;
	return 0;
bad:
	return reason(-EINVAL, why, whysz, "not a number (e.g. 10 or 0.5)");
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool is_alnum(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z');
}

/* [A-Za-z0-9_-]{1,32}: group codes and channel names. */
static bool name_valid(const char *s, size_t n)
{
	if (n < 1 || n > CFG_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

static void skip_spaces(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/* "H:MM" or "HH:MM" at *p, as minutes after midnight. */
static bool parse_hhmm(const char **p, int *ret)
{
	const char *s = *p;
	int h = 0;
	if (!is_digit(s[0]))
		return false;
	h = s[0] - '0';
	s++;
	if (is_digit(s[0])) {
		h = h * 10 + (s[0] - '0');
		s++;
	}
	if (s[0] != ':' || !is_digit(s[1]) || !is_digit(s[2]) ||
	    is_digit(s[3]))
		return false;
	int m = (s[1] - '0') * 10 + (s[2] - '0');
	if (h > 23 || m > 59)
		return false;
	*ret = h * 60 + m;
	*p = s + 3;
	return true;
}

/* "" (none) or "HH:MM-HH:MM", start != end; may span midnight. */
static int quiet_parse(const char *v, int *ret_start, int *ret_end,
		       char *why, size_t whysz)
{
	const char *p = v;
	int s, e;
	if (!*v) {
		*ret_start = *ret_end = -1;
		return 0;
	}
	if (!parse_hhmm(&p, &s))
		goto bad;
	skip_spaces(&p);
	if (*p++ != '-')
		goto bad;
	skip_spaces(&p);
	if (!parse_hhmm(&p, &e) || *p)
		goto bad;
	if (s == e)
		return reason(-EINVAL, why, whysz,
			      "start and end are the same (leave the value "
			      "empty for no quiet hours)");
	*ret_start = s;
	*ret_end = e;
	return 0;
bad:
	return reason(-EINVAL, why, whysz,
		      "not a time range (use HH:MM-HH:MM in 24-hour time, "
		      "e.g. 21:00-06:00, or nothing for none)");
}

static int check_quiet_hours(const char *v, struct buf *norm, char *why,
			     size_t whysz)
{
	int s = -1, e = -1;
	int r = quiet_parse(v, &s, &e, why, whysz);
	if (r < 0 || !norm || s < 0)
		return r;
	if (buf_printf(norm, "%02d:%02d-%02d:%02d", s / 60, s % 60, e / 60,
		       e % 60) < 0)
		return -ENOMEM;
	return 1;
}

static int set_quiet_hours(void *obj, const char *v)
{
	struct config *c = obj;
	int s = -1, e = -1;
	(void)quiet_parse(v, &s, &e, NULL, 0); /* checked already */
	c->quiet_start_min = s;
	c->quiet_end_min = e;
	return 0;
}

/* A time zone name of tz_names (case ignored: *ret_name is the usual
 * spelling), or a fixed offset "+07:00", "-03:30" (-12:00..+14:00). */
static int tz_parse(const char *v, int *ret_off, const char **ret_name,
		    char *why, size_t whysz)
{
	for (size_t i = 0; i < ARRAY_SIZE(tz_names); i++)
		if (strcasecmp(v, tz_names[i].name) == 0) {
			*ret_off = tz_names[i].offset_min;
			*ret_name = tz_names[i].name;
			return 0;
		}
	if ((v[0] == '+' || v[0] == '-') && is_digit(v[1]) && is_digit(v[2]) &&
	    v[3] == ':' && is_digit(v[4]) && is_digit(v[5]) && !v[6]) {
		int h = (v[1] - '0') * 10 + (v[2] - '0');
		int m = (v[4] - '0') * 10 + (v[5] - '0');
		int off = h * 60 + m;
		if (m > 59 || (v[0] == '+' && off > 14 * 60) ||
		    (v[0] == '-' && off > 12 * 60))
			return reason(-ERANGE, why, whysz,
				      "offset out of range (-12:00..+14:00)");
		*ret_off = v[0] == '-' ? -off : off;
		*ret_name = NULL;
		return 0;
	}
	return reason(-EINVAL, why, whysz,
		      "unknown time zone (use Asia/Ho_Chi_Minh, Asia/Saigon, "
		      "Asia/Bangkok, Asia/Jakarta, UTC, Etc/UTC or a fixed "
		      "offset such as +07:00: loaxa keeps a fixed offset, "
		      "which suits Vietnam, where clocks never change)");
}

static int check_timezone(const char *v, struct buf *norm, char *why,
			  size_t whysz)
{
	const char *name = NULL;
	int off;
	int r = tz_parse(v, &off, &name, why, whysz);
	if (r < 0)
		return r;
	if (!norm || !name)
		return 0;
	return buf_append(norm, name, strlen(name)) < 0 ? -ENOMEM : 1;
}

static const char *const approval_names[] = {
	[APPROVAL_OFF] = "off", [APPROVAL_URGENT_ALL] = "urgent-all",
	[APPROVAL_URGENT] = "urgent", [APPROVAL_ALL] = "all",
};

const char *config_approval_name(enum approval_mode m)
{
	return (unsigned)m < ARRAY_SIZE(approval_names) ? approval_names[m]
							: "?";
}

static int check_approval(const char *v, struct buf *norm, char *why,
			  size_t whysz)
{
	(void)norm;
	for (size_t i = 0; i < ARRAY_SIZE(approval_names); i++)
		if (strcasecmp(v, approval_names[i]) == 0)
			return 0;
	return reason(-EINVAL, why, whysz,
		      "expected off, urgent-all, urgent or all");
}

static int set_approval(void *obj, const char *v)
{
	struct config *c = obj;
	for (size_t i = 0; i < ARRAY_SIZE(approval_names); i++)
		if (strcasecmp(v, approval_names[i]) == 0)
			c->approval = (enum approval_mode)i;
	return 0;
}

static int check_template(const char *v, struct buf *norm, char *why,
			  size_t whysz)
{
	(void)norm;
	if (!*v)
		return reason(-EINVAL, why, whysz, "must not be empty");
	return template_check(v, why, whysz) < 0 ? -EINVAL : 0;
}

/* Split a comma-separated list: calls fn for each item, trimmed, with its
 * 1-based position. Stops at the first error fn returns. */
static int list_walk(const char *v,
		     int (*fn)(const char *s, size_t n, size_t pos, void *u),
		     void *u)
{
	const char *p = v;
	for (size_t pos = 1;; pos++) {
		const char *comma = strchr(p, ',');
		const char *s = p, *e = comma ? comma : p + strlen(p);
		while (s < e && is_space(*s))
			s++;
		while (e > s && is_space(e[-1]))
			e--;
		int r = fn(s, (size_t)(e - s), pos, u);
		if (r < 0)
			return r;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

struct chain_walk {
	struct buf *norm;
	char *why;
	size_t whysz;
	char names[CFG_CHANNELS_MAX][CFG_NAME_MAX + 1];
	size_t n;
};

static int chain_item(const char *s, size_t n, size_t pos, void *u)
{
	struct chain_walk *w = u;
	char e[CFG_ESC_MAX], tmp[CFG_ESC_MAX];
	(void)pos;
	if (n == 0)
		return reason(-EINVAL, w->why, w->whysz,
			      "empty name in the list");
	if (!name_valid(s, n)) {
		snprintf(tmp, sizeof tmp, "%.*s", (int)(n < 200 ? n : 200), s);
		return reason(-EINVAL, w->why, w->whysz,
			      "'%s' is not a channel name (1 to 32 letters, "
			      "digits, '-' or '_')",
			      escape(tmp, e, sizeof e));
	}
	for (size_t i = 0; i < w->n; i++)
		if (strlen(w->names[i]) == n && memcmp(w->names[i], s, n) == 0)
			return reason(-EINVAL, w->why, w->whysz,
				      "'%s' is named twice", w->names[i]);
	if (w->n >= CFG_CHANNELS_MAX)
		return reason(-EINVAL, w->why, w->whysz,
			      "too many channels (max %d)", CFG_CHANNELS_MAX);
	memcpy(w->names[w->n], s, n);
	w->names[w->n++][n] = '\0';
	if (w->norm && buf_printf(w->norm, "%s%.*s", w->norm->len ? "," : "",
				  (int)n, s) < 0)
		return -ENOMEM;
	return 0;
}

/* [route] chain: "zalo_oa, zns, sms" -> "zalo_oa,zns,sms"; "" = none.
 * Whether each names a [channel.NAME] is checked once the file is read. */
static int check_chain(const char *v, struct buf *norm, char *why,
		       size_t whysz)
{
	struct chain_walk w = { .norm = norm, .why = why, .whysz = whysz };
	if (!*v)
		return 0;
	int r = list_walk(v, chain_item, &w);
	return r < 0 ? r : norm ? 1 : 0;
}

static int set_chain_item(const char *s, size_t n, size_t pos, void *u)
{
	struct config *c = u;
	(void)pos;
	char *name = util_strndup(s, n);
	if (!name)
		return -ENOMEM;
	c->route[c->nroute++] = name;
	return 0;
}

static void route_clear(struct config *c)
{
	for (size_t i = 0; i < c->nroute; i++)
		free(c->route[i]);
	free(c->route);
	c->route = NULL;
	c->nroute = 0;
}

static int set_chain(void *obj, const char *v)
{
	struct config *c = obj;
	size_t n = 1;
	route_clear(c);
	if (!*v)
		return 0;
	for (const char *p = v; *p; p++)
		n += *p == ',';
	c->route = calloc(n, sizeof *c->route);
	if (!c->route)
		return -ENOMEM;
	return list_walk(v, set_chain_item, c); /* checked already */
}

static int check_driver(const char *v, struct buf *norm, char *why,
			size_t whysz)
{
	enum channel_driver d;
	if (!*v)
		return 0; /* not set: a cross-field check asks for it */
	if (channel_driver_parse(v, &d) < 0) {
		char known[128] = "";
		size_t o = 0;
		for (int i = 0; i < CHD_MAX && o < sizeof known; i++)
			o += (size_t)snprintf(
				known + o, sizeof known - o, "%s%s",
				i == 0 ? "" : i == CHD_MAX - 1 ? " or " : ", ",
				channel_driver_name((enum channel_driver)i));
		return reason(-EINVAL, why, whysz, "unknown driver (use %s)",
			      known);
	}
	if (!norm)
		return 0;
	const char *name = channel_driver_name(d);
	return buf_append(norm, name, strlen(name)) < 0 ? -ENOMEM : 1;
}

static int set_driver(void *obj, const char *v)
{
	struct config_channel *ch = obj;
	enum channel_driver d;
	ch->driver = *v && channel_driver_parse(v, &d) == 0 ? (int)d : -1;
	return 0;
}

/* "" (not set) or an http:// or https:// URL with a host. Whether plain
 * http is allowed is a cross-field check (allow_http). */
static int check_url(const char *v, struct buf *norm, char *why,
		     size_t whysz)
{
	const char *host;
	(void)norm;
	if (!*v)
		return 0;
	if (strncasecmp(v, "https://", 8) == 0)
		host = v + 8;
	else if (strncasecmp(v, "http://", 7) == 0)
		host = v + 7;
	else
		return reason(-EINVAL, why, whysz,
			      "not a web address (it must start with "
			      "https://)");
	if (!*host || *host == '/' || *host == '?' || *host == '#' ||
	    *host == ':')
		return reason(-EINVAL, why, whysz, "missing host after //");
	if (strpbrk(v, " \t"))
		return reason(-EINVAL, why, whysz,
			      "contains a space (write it as %%20)");
	if (strlen(v) > CFG_URL_MAX)
		return reason(-EINVAL, why, whysz,
			      "too long (max %d bytes)", CFG_URL_MAX);
	return 0;
}

/* "credential:NAME": a file of $CREDENTIALS_DIRECTORY; NAME is what
 * systemd allows in LoadCredential= (no '/', not "." or ".."). */
static bool credential_name_valid(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 255 && !strchr(s, '/') && strcmp(s, ".") != 0 &&
	       strcmp(s, "..") != 0;
}

#define CREDENTIAL_PREFIX "credential:"

/* "" (not set), an absolute path, or credential:NAME. */
static int check_secret_ref(const char *v, struct buf *norm, char *why,
			    size_t whysz)
{
	(void)norm;
	if (!*v)
		return 0;
	if (strncmp(v, CREDENTIAL_PREFIX, strlen(CREDENTIAL_PREFIX)) == 0) {
		if (!credential_name_valid(v + strlen(CREDENTIAL_PREFIX)))
			return reason(-EINVAL, why, whysz,
				      "not a credential name (credential:"
				      "NAME, NAME without '/')");
		return 0;
	}
	if (v[0] != '/')
		return reason(-EINVAL, why, whysz,
			      "not a secret file (use an absolute path or "
			      "credential:NAME; the secret itself never goes "
			      "in loaxa.ini)");
	if (strlen(v) > CFG_PATH_MAX)
		return reason(-EINVAL, why, whysz,
			      "path too long (%zu bytes, max %d)", strlen(v),
			      CFG_PATH_MAX);
	return 0;
}

/* An identifier given by a provider: printable ASCII, no spaces. */
static int check_token(const char *v, struct buf *norm, char *why,
		       size_t whysz)
{
	(void)norm;
	size_t n = strlen(v);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f)
			return reason(-EINVAL, why, whysz,
				      "must be printable ASCII without "
				      "spaces");
	if (n > CFG_TOKEN_MAX)
		return reason(-EINVAL, why, whysz, "too long (max %d bytes)",
			      CFG_TOKEN_MAX);
	return 0;
}

/* Length of the parameter name at s, [A-Za-z0-9_]*. */
static size_t param_len(const char *s)
{
	size_t n = 0;
	while (is_alnum(s[n]) || s[n] == '_')
		n++;
	return n;
}

/* Does an item "param = ..." start right after the ',' at s? Any other
 * ',' belongs to the value it is in. */
static bool tdata_boundary(const char *s)
{
	s++;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = param_len(s);
	if (n == 0)
		return false;
	s += n;
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '=';
}

/* ZNS template_data: "param={placeholder}, param2=text, {x}" ->
 * "param={placeholder},param2=text, {x}". An item ends where
 * ", name =" starts the next one, so a value may hold other commas;
 * the stored form has no blanks around '=' and the separating ','. */
static int check_template_data(const char *v, struct buf *norm, char *why,
			       size_t whysz)
{
	char keys_seen[64][CFG_PARAM_MAX + 1], val[CFG_LINE_MAX + 1];
	char err[256];
	size_t nkeys = 0;
	const char *p = v;
	if (!*v)
		return 0;
	for (size_t item = 1;; item++) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *k = p;
		size_t kn = param_len(k);
		p += kn;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=')
			return reason(-EINVAL, why, whysz,
				      "item %zu is not param=value (write "
				      "param={placeholder}, ...)",
				      item);
		if (kn == 0)
			return reason(-EINVAL, why, whysz,
				      "item %zu has no parameter name before "
				      "'='",
				      item);
		if (kn > CFG_PARAM_MAX)
			return reason(-EINVAL, why, whysz,
				      "item %zu: a parameter name is at most "
				      "%d letters, digits or '_'",
				      item, CFG_PARAM_MAX);
		char key[CFG_PARAM_MAX + 1];
		memcpy(key, k, kn);
		key[kn] = '\0';

		const char *vs = p + 1, *ve = vs;
		while (*ve && !(*ve == ',' && tdata_boundary(ve)))
			ve++;
		const char *next = *ve ? ve + 1 : NULL;
		while (vs < ve && is_space(*vs))
			vs++;
		while (ve > vs && is_space(ve[-1]))
			ve--;
		size_t vn = (size_t)(ve - vs);

		for (size_t i = 0; i < nkeys; i++)
			if (strcmp(keys_seen[i], key) == 0)
				return reason(-EINVAL, why, whysz,
					      "parameter %s is given twice",
					      key);
		if (nkeys >= ARRAY_SIZE(keys_seen))
			return reason(-EINVAL, why, whysz,
				      "too many parameters (max %zu)",
				      ARRAY_SIZE(keys_seen));
		memcpy(keys_seen[nkeys++], key, kn + 1);
		if (vn == 0)
			return reason(-EINVAL, why, whysz,
				      "parameter %s has no value", key);
		/* A line is at most CFG_LINE_MAX bytes, so is a value in it;
		 * a longer one only comes through config_value_parse. */
		if (vn > CFG_LINE_MAX)
			return reason(-EINVAL, why, whysz,
				      "parameter %s: value too long", key);
		memcpy(val, vs, vn);
		val[vn] = '\0';
		if (template_check(val, err, sizeof err) < 0)
			return reason(-EINVAL, why, whysz, "parameter %s: %s",
				      key, err);
		if (norm && buf_printf(norm, "%s%s=%s", norm->len ? "," : "",
				       key, val) < 0)
			return -ENOMEM;
		if (!next)
			break;
		p = next;
	}
	return norm ? 1 : 0;
}

/* The sender name of a brandname SMS: carriers take up to 11 characters,
 * letters, digits and a few marks. */
static int check_brandname(const char *v, struct buf *norm, char *why,
			   size_t whysz)
{
	(void)norm;
	size_t n = strlen(v);
	bool ok = n <= 11;
	for (size_t i = 0; ok && i < n; i++)
		ok = is_alnum(v[i]) || v[i] == ' ' || v[i] == '.' ||
		     v[i] == '-';
	if (!ok)
		return reason(-EINVAL, why, whysz,
			      "not a brandname (up to 11 letters without "
			      "diacritics, digits, spaces, '.' or '-')");
	return 0;
}

static int check_sms_type(const char *v, struct buf *norm, char *why,
			  size_t whysz)
{
	(void)norm;
	size_t n = strlen(v);
	bool ok = n >= 1 && n <= 2;
	for (size_t i = 0; ok && i < n; i++)
		ok = is_digit(v[i]);
	if (!ok)
		return reason(-EINVAL, why, whysz,
			      "not an SMS type (a number, e.g. 2)");
	return 0;
}

/* "" or +CC...: a leading '+', then 8 to 15 digits, the first not 0. */
static int check_e164(const char *v, struct buf *norm, char *why,
		      size_t whysz)
{
	(void)norm;
	size_t n = strlen(v);
	bool ok = n == 0 || (n >= 9 && n <= 16 && v[0] == '+' &&
			     v[1] >= '1' && v[1] <= '9');
	for (size_t i = 1; ok && i < n; i++)
		ok = is_digit(v[i]);
	if (!ok)
		return reason(-EINVAL, why, whysz,
			      "not an E.164 number (write '+', the country "
			      "code and the number, e.g. +15005550006)");
	return 0;
}

/* Upper-case v into norm. */
static int norm_upper(const char *v, struct buf *norm)
{
	if (!norm)
		return 0;
	for (const char *p = v; *p; p++) {
		char ch = *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
		if (buf_append(norm, &ch, 1) < 0)
			return -ENOMEM;
	}
	return 1;
}

static int check_messaging_type(const char *v, struct buf *norm, char *why,
				size_t whysz)
{
	static const char *const types[] = { "MESSAGE_TAG", "RESPONSE",
					     "UPDATE" };
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (strcasecmp(v, types[i]) == 0)
			return norm_upper(v, norm);
	return reason(-EINVAL, why, whysz,
		      "not a messaging type (use MESSAGE_TAG, RESPONSE or "
		      "UPDATE)");
}

static int check_tag(const char *v, struct buf *norm, char *why,
		     size_t whysz)
{
	size_t n = strlen(v);
	bool ok = n <= 64;
	for (size_t i = 0; ok && i < n; i++)
		ok = is_alnum(v[i]) || v[i] == '_';
	if (!ok)
		return reason(-EINVAL, why, whysz,
			      "not a message tag (letters, digits and '_', "
			      "e.g. CONFIRMED_EVENT_UPDATE)");
	return norm_upper(v, norm);
}

/* [webhooks] public_url: "" or an http(s) URL to which the listener's
 * paths are appended ("/webhooks/zalo"), so no trailing '/', query or
 * fragment. */
static int check_public_url(const char *v, struct buf *norm, char *why,
			    size_t whysz)
{
	int r = check_url(v, norm, why, whysz);
	size_t n = strlen(v);
	if (r < 0 || !*v)
		return r;
	if (strpbrk(v, "?#"))
		return reason(-EINVAL, why, whysz,
			      "must not hold a query or fragment ('?' or "
			      "'#'): paths such as /webhooks/zalo are added "
			      "to it");
	if (v[n - 1] == '/')
		return reason(-EINVAL, why, whysz,
			      "remove the trailing '/' (paths such as "
			      "/webhooks/zalo are added to it)");
	return 0;
}

/* RSVP word lists, as webhooks.c reads them (rsvp_words_check): an entry
 * is 1 to RSVP_ENTRY_WORDS words of at most RSVP_WORD_BYTES bytes each;
 * words are split at ASCII other than letters and digits and at the code
 * points text_fold_key drops (combining marks excepted: they belong to
 * their letter). */
#define RSVP_ENTRY_WORDS 4
#define RSVP_WORD_BYTES 60

/* Length of the UTF-8 sequence led by c (the text is valid UTF-8). */
static size_t utf8_seq_len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

static bool rsvp_is_separator(const char *s, size_t n)
{
	char tmp[8];
	unsigned char c = (unsigned char)s[0];
	if (n == 1)
		return !is_alnum((char)c);
	/* U+0300..U+036F: 0xcc 0x80 .. 0xcd 0xaf */
	if (n == 2 && (c == 0xcc || (c == 0xcd && (unsigned char)s[1] <= 0xaf)))
		return false;
	return text_fold_key(s, n, tmp, sizeof tmp) == 0;
}

struct rsvp_walk {
	struct buf *norm;
	char *why;
	size_t whysz;
};

static int rsvp_item(const char *s, size_t n, size_t pos, void *u)
{
	struct rsvp_walk *w = u;
	char tmp[CFG_ESC_MAX], e[CFG_ESC_MAX], key[CFG_ESC_MAX];
	size_t words = 0, wlen = 0;
	bool long_word = false;
	if (n == 0)
		return reason(-EINVAL, w->why, w->whysz,
			      "word %zu of the list is empty", pos);
	snprintf(tmp, sizeof tmp, "%.*s", (int)(n < 200 ? n : 200), s);
	escape(tmp, e, sizeof e);
	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq_len((unsigned char)s[i]);
		if (l > n - i)
			l = n - i;
		if (rsvp_is_separator(s + i, l)) {
			wlen = 0;
		} else {
			words += wlen == 0;
			wlen += l;
			long_word = long_word || wlen > RSVP_WORD_BYTES;
		}
		i += l;
	}
	if (text_fold_key(s, n, key, sizeof key) == 0)
		return reason(-EINVAL, w->why, w->whysz,
			      "'%s' has no letters or digits", e);
	if (words > RSVP_ENTRY_WORDS)
		return reason(-EINVAL, w->why, w->whysz,
			      "'%s' has more than %d words", e,
			      RSVP_ENTRY_WORDS);
	if (long_word)
		return reason(-EINVAL, w->why, w->whysz,
			      "'%s' has a word longer than %d bytes", e,
			      RSVP_WORD_BYTES);
	if (w->norm && buf_printf(w->norm, "%s%.*s", w->norm->len ? "," : "",
				  (int)n, s) < 0)
		return -ENOMEM;
	return 0;
}

/* [webhooks] rsvp_yes, rsvp_no: "1, có ,co" -> "1,có,co". Whether the two
 * lists share a word is checked once the file is read. */
static int check_rsvp_words(const char *v, struct buf *norm, char *why,
			    size_t whysz)
{
	struct rsvp_walk w = { .norm = norm, .why = why, .whysz = whysz };
	if (!*v)
		return reason(-EINVAL, why, whysz,
			      "must not be empty (give at least one word)");
	int r = list_walk(v, rsvp_item, &w);
	return r < 0 ? r : norm ? 1 : 0;
}

/* Parse v for key k. Numbers (bool 0/1, the log level, bytes, ms, mode,
 * thousandths) go to *ret_num; text types get an allocated (maybe
 * normalised) copy in *ret_text when asked. */
static int value_parse(const struct config_key_info *k,
		       const struct key_impl *impl, const char *v,
		       uint64_t *ret_num, char **ret_text, char *why,
		       size_t whysz)
{
	size_t len = strlen(v);
	uint64_t num = 0, lo = k->min, hi = k->max;
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
	case CFG_DECIMAL:
		r = parse_decimal(v, &num, why, whysz);
		ranged = true;
		lo = lo > UINT64_MAX / 1000 ? UINT64_MAX : lo * 1000;
		hi = hi > UINT64_MAX / 1000 ? UINT64_MAX : hi * 1000;
		break;
	default:
		return reason(-EINVAL, why, whysz, "unknown key type");
	}
	if (r == 0 && ranged && (num < lo || num > hi))
		r = -ERANGE;
	if (r == -ERANGE) {
		char slo[32], shi[32];
		fmt_value(k->type, k->min, slo, sizeof slo);
		fmt_value(k->type, k->max, shi, sizeof shi);
		return reason(-ERANGE, why, whysz, "out of range (%s..%s)",
			      slo, shi);
	}
	if (r < 0)
		return r;

	struct buf norm;
	buf_init(&norm, 4096);
	bool want_text = ret_text && TYPE_IS_TEXT(k->type);
	bool normalised = false;
	if (impl && impl->check) {
		r = impl->check(v, want_text ? &norm : NULL, why, whysz);
		if (r < 0) {
			buf_free(&norm);
			return r;
		}
		normalised = r > 0;
	}
	if (want_text) {
		char *t = normalised ? buf_steal(&norm) : strdup(v);
		if (!t) {
			buf_free(&norm);
			return -ENOMEM;
		}
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

/* Key i's field in obj: a struct config_channel for channel keys, else a
 * struct config. */
static void *field_ptr(void *obj, size_t i)
{
	return (char *)obj + impls[i].offset;
}

static const void *field_cptr(const void *obj, size_t i)
{
	return (const char *)obj + impls[i].offset;
}

/* Store a parsed value; takes ownership of text. */
static int field_set(void *obj, size_t i, uint64_t num, char *text)
{
	void *p = field_ptr(obj, i);
	if (impls[i].set) {
		int r = impls[i].set(obj, text ? text : "");
		free(text);
		return r;
	}
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
	case CFG_DECIMAL:
		*(double *)p = (double)num / 1000.0;
		break;
	}
	return 0;
}

/* Only for keys without a set function (see KEY_ASSERT). */
static bool field_equal(const void *a, const void *b, size_t i)
{
	const void *pa = field_cptr(a, i), *pb = field_cptr(b, i);
	if (fails_assert(!impls[i].set))
		return true;
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
	case CFG_DECIMAL:
		return *(const double *)pa == *(const double *)pb;
	}
	return true;
}

/* The text fields of obj (a config or a channel): those of its keys
 * stored by type. */
static void fields_free(void *obj, bool channel)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (impls[i].channel == channel && !impls[i].set &&
		    TYPE_IS_TEXT(keys[i].type))
			free(*(char **)field_ptr(obj, i));
}

struct config *config_free(struct config *c)
{
	if (!c)
		return NULL;
	fields_free(c, false);
	route_clear(c);
	for (size_t i = 0; i < c->nchannels; i++) {
		fields_free(&c->channels[i], true);
		free(c->channels[i].name);
	}
	free(c->channels);
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

/* Set obj's keys (config or channel ones) to their defaults, parsed from
 * the table's text. */
static int fields_default(void *obj, bool channel)
{
	for (size_t i = 0; i < NKEYS; i++) {
		char why[CFG_REASON_MAX];
		uint64_t num = 0;
		char *text = NULL;
		int r;
		if (impls[i].channel != channel)
			continue;
		r = value_parse(&keys[i], &impls[i], keys[i].def, &num, &text,
				why, sizeof why);
		if (r < 0) {
			(void)fails_assert(r == -ENOMEM);
			return -ENOMEM;
		}
		r = field_set(obj, i, num, text);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Append a channel named name (valid), every key at its default. */
static int channels_append(struct config *c, const char *name, int line)
{
	struct config_channel *ch = realloc(c->channels,
					    (c->nchannels + 1) * sizeof *ch);
	if (!ch)
		return -ENOMEM;
	c->channels = ch;
	ch = &c->channels[c->nchannels];
	*ch = (struct config_channel){ .line = line, .driver = -1 };
	ch->name = strdup(name);
	c->nchannels++; /* so that config_free frees what follows */
	if (!ch->name)
		return -ENOMEM;
	return fields_default(ch, true);
}

/* Fields derived from others once all are set. */
static void config_derive(struct config *c)
{
	const char *name;
	int off = 0;
	if (c->timezone && tz_parse(c->timezone, &off, &name, NULL, 0) == 0)
		c->utc_offset_min = off;
}

/* Every key at its default. */
static struct config *config_alloc(bool with_groups)
{
	struct config *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	if (fields_default(c, false) < 0)
		return config_free(c);
	if (with_groups && groups_add_defaults(c) < 0)
		return config_free(c);
	config_derive(c);
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

const struct config_channel *config_channel_find(const struct config *c,
						 const char *name)
{
	if (!c || !name)
		return NULL;
	for (size_t i = 0; i < c->nchannels; i++)
		if (streq(c->channels[i].name, name))
			return &c->channels[i];
	return NULL;
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
		if (keys[i].reloadable || impls[i].channel ||
		    field_equal(old, new_, i))
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

/* Where each key of one channel was set, or 0, and which were bad. */
struct chan_parse {
	int key_line[NKEYS];
	bool key_bad[NKEYS];
};

struct parser {
	const char *name;
	const char *p, *end;  /* input not yet handed to inih */
	int line;             /* line last handed to inih */
	int sect;             /* index in sections[], SECT_NONE, SECT_SKIP,
				 SECT_CHANNEL */
	size_t chan;          /* with SECT_CHANNEL: index in c->channels */
	int sect_line[NSECT]; /* where each section was first seen, or 0 */
	int key_line[NKEYS];  /* where each key was set, or 0 */
	bool key_bad[NKEYS];  /* set to a bad value */
	struct chan_parse chans[CFG_CHANNELS_MAX];
	bool too_many_groups;
	bool too_many_channels;
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

/* Templates are long and their reasons point into them ("at character
 * 12"): their messages leave the value out. */
static bool value_shown(size_t i)
{
	return impls[i].check != check_template &&
	       impls[i].check != check_template_data;
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

/* "a", "a and b", "a, b and c" (conj "and"). */
static void join_names(char *out, size_t outsz, const char *const *names,
		       size_t n, const char *conj)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && o < outsz; i++)
		o += (size_t)snprintf(out + o, outsz - o, "%s%s%s%s",
				      i == 0 ? "" : i == n - 1 ? " " : ", ",
				      i && i == n - 1 ? conj : "",
				      i && i == n - 1 ? " " : "", names[i]);
}

/* The sections other than sect that have a key named key, as "[a]",
 * "[a] or [b]", "[a], [b] or [c]" in out; NULL when there are none. */
static const char *key_home(const char *sect, const char *key, char *out,
			    size_t outsz)
{
	const char *names[8];
	char brk[8][CFG_NAME_MAX + 16];
	size_t n = 0;
	for (size_t i = 0; i < NKEYS && n < ARRAY_SIZE(names); i++) {
		bool dup = false;
		if (!streq(keys[i].key, key) || streq(keys[i].section, sect))
			continue;
		for (size_t j = 0; j < n && !dup; j++)
			dup = streq(names[j], keys[i].section);
		if (!dup)
			names[n++] = keys[i].section;
	}
	if (n == 0)
		return NULL;
	for (size_t j = 0; j < n; j++) {
		snprintf(brk[j], sizeof brk[j], "[%s]", names[j]);
		names[j] = brk[j];
	}
	join_names(out, outsz, names, n, "or");
	return out;
}

/* tsect is the section in the table ("channel.NAME"), dsect the one shown
 * ("channel.zns"). */
static void perr_unknown_key(struct parser *ps, const char *tsect,
			     const char *dsect, const char *name)
{
	char en[CFG_ESC_MAX], homes[256];
	const char *home = key_home(tsect, name, homes, sizeof homes);
	const char *near = NULL;
	size_t best = 3;
	escape(name, en, sizeof en);
	if (home) {
		perr(ps, ps->line,
		     "unknown key '%s' in [%s]; it belongs in %s", en, dsect,
		     home);
		return;
	}
	for (size_t i = 0; i < NKEYS; i++) {
		size_t d;
		if (!streq(keys[i].section, tsect))
			continue;
		d = edit_distance(name, keys[i].key);
		if (d < best) {
			best = d;
			near = keys[i].key;
		}
	}
	if (near)
		perr(ps, ps->line,
		     "unknown key '%s' in [%s]; did you mean '%s'?", en, dsect,
		     near);
	else
		perr(ps, ps->line, "unknown key '%s' in [%s]", en, dsect);
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

	if (!name_valid(code, strlen(code))) {
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
	char en[CFG_ESC_MAX], dsect[64];
	const char *tsect;
	void *obj;
	int *lines;
	bool *bad;

	if (ps->sect == SECT_SKIP)
		return; /* under a bad section header, already reported */
	if (!*name) {
		perr(ps, ps->line, "missing key name before '='");
		return;
	}
	if (ps->sect == SECT_NONE) {
		char homes[256];
		const char *home = key_home("", name, homes, sizeof homes);
		escape(name, en, sizeof en);
		if (home)
			perr(ps, ps->line,
			     "key '%s' outside any section (it belongs in "
			     "%s)",
			     en, home);
		else
			perr(ps, ps->line, "key '%s' outside any section", en);
		return;
	}
	if (ps->sect == SECT_GROUPS) {
		group_line(ps, name, value);
		return;
	}
	if (ps->sect == SECT_CHANNEL) {
		struct config_channel *ch = &ps->c->channels[ps->chan];
		snprintf(dsect, sizeof dsect, "channel.%s", ch->name);
		tsect = CHANNEL_SECTION;
		obj = ch;
		lines = ps->chans[ps->chan].key_line;
		bad = ps->chans[ps->chan].key_bad;
	} else {
		tsect = sections[ps->sect];
		snprintf(dsect, sizeof dsect, "%s", tsect);
		obj = ps->c;
		lines = ps->key_line;
		bad = ps->key_bad;
	}

	size_t i = key_find(tsect, name);
	if (i == SIZE_MAX) {
		perr_unknown_key(ps, tsect, dsect, name);
		return;
	}
	if (lines[i]) {
		perr(ps, ps->line,
		     "duplicate key '%s' in [%s] (first set on line %d)",
		     keys[i].key, dsect, lines[i]);
		return;
	}
	lines[i] = ps->line;

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
		bad[i] = true;
		if (value_shown(i))
			perr_value(ps, ps->line, dsect, keys[i].key, value,
				   why);
		else
			perr(ps, ps->line, "[%s] %s: %s", dsect, keys[i].key,
			     why);
		return;
	}
	if (field_set(obj, i, num, text) < 0)
		ps->oom = true;
}

/* [channel.NAME]: a new channel, or back to one seen before (an error,
 * but its keys still count, like those of any repeated section). */
static bool channel_section(struct parser *ps, const char *name)
{
	struct config *c = ps->c;
	char en[CFG_ESC_MAX];
	if (!name_valid(name, strlen(name))) {
		perr(ps, ps->line,
		     "invalid channel name in [channel.%s] (use 1 to 32 "
		     "letters, digits, '-' or '_')",
		     escape(name, en, sizeof en));
		return false;
	}
	for (size_t i = 0; i < c->nchannels; i++) {
		const struct config_channel *ch = &c->channels[i];
		if (strcmp(ch->name, name) == 0)
			perr(ps, ps->line,
			     "duplicate section [channel.%s] (first on line "
			     "%d)",
			     name, ch->line);
		else if (strcasecmp(ch->name, name) == 0)
			perr(ps, ps->line,
			     "duplicate channel [channel.%s] (first on line %d "
			     "as [channel.%s]; names differing only in case "
			     "are too alike)",
			     name, ch->line, ch->name);
		else
			continue;
		ps->chan = i;
		return true;
	}
	if (c->nchannels >= CFG_CHANNELS_MAX) {
		if (!ps->too_many_channels)
			perr(ps, ps->line, "too many channels (max %d)",
			     CFG_CHANNELS_MAX);
		ps->too_many_channels = true;
		return false;
	}
	if (channels_append(c, name, ps->line) < 0) {
		ps->oom = true;
		return false;
	}
	ps->chan = c->nchannels - 1;
	return true;
}

static void section_line(struct parser *ps, const char *s, size_t len)
{
	char en[CFG_ESC_MAX], name[CFG_LINE_MAX + 1];
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
		nlen = sizeof name - 1; /* the reader keeps lines shorter */
	memcpy(name, n, nlen);
	name[nlen] = '\0';

	int idx = SECT_SKIP;
	for (int i = 0; i < NSECT; i++)
		if (streq(sections[i], name))
			idx = i;
	if (idx == SECT_SKIP && strncmp(name, "channel.", 8) == 0) {
		if (!channel_section(ps, name + 8))
			return;
		idx = SECT_CHANNEL;
	} else if (idx == SECT_SKIP) {
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
		else if (strncasecmp(name, "channel", 7) == 0)
			perr(ps, ps->line,
			     "unknown section [%s]; a channel is declared as "
			     "[channel.NAME]",
			     en);
		else
			perr(ps, ps->line, "unknown section [%s]", en);
		return;
	}

	rest = close + 1;
	while (rest < s + len && is_space(*rest))
		rest++;
	if (rest < s + len && *rest != ';' && *rest != '#')
		perr(ps, ps->line, "unexpected text after [%s]", name);
	if (idx >= 0) {
		if (ps->sect_line[idx])
			perr(ps, ps->line,
			     "duplicate section [%s] (first on line %d)", name,
			     ps->sect_line[idx]);
		else
			ps->sect_line[idx] = ps->line;
	}
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


static const char *driver_name(int d)
{
	return channel_driver_name((enum channel_driver)d);
}

/* The names of the drivers in mask. */
static void join_drivers(char *out, size_t outsz, unsigned mask,
			 const char *conj)
{
	const char *names[CHD_MAX];
	size_t n = 0;
	for (int d = 0; d < CHD_MAX; d++)
		if (mask & D_(d))
			names[n++] = driver_name(d);
	join_names(out, outsz, names, n, conj);
}

/* Is channel key i of ch given? A bad value counts (it was reported). */
static bool chan_has(const struct config_channel *ch,
		     const struct chan_parse *cp, size_t i)
{
	if (cp->key_bad[i])
		return true;
	if (i == KCH_driver)
		return ch->driver >= 0;
	if (fails_assert(TYPE_IS_TEXT(keys[i].type) && !impls[i].set))
		return true;
	const char *v = *(char *const *)field_cptr(ch, i);
	return v && *v;
}

/* Of the keys in want, those ch lacks, joined; false if none. */
static bool chan_missing(const struct config_channel *ch,
			 const struct chan_parse *cp, const size_t *want,
			 size_t nwant, char *out, size_t outsz, size_t *ret_n)
{
	const char *names[8];
	size_t n = 0;
	for (size_t i = 0; i < nwant && n < ARRAY_SIZE(names); i++)
		if (!chan_has(ch, cp, want[i]))
			names[n++] = keys[want[i]].key;
	join_names(out, outsz, names, n, "and");
	if (ret_n)
		*ret_n = n;
	return n > 0;
}

static void cross_check_http(struct parser *ps, size_t j, const char *sect)
{
	const struct config_channel *ch = &ps->c->channels[j];
	const struct chan_parse *cp = &ps->chans[j];
	static const size_t urls[] = { KCH_url, KCH_oauth_url };
	char ev[CFG_ESC_MAX];
	if (ch->allow_http || cp->key_bad[KCH_allow_http])
		return;
	for (size_t i = 0; i < ARRAY_SIZE(urls); i++) {
		size_t k = urls[i];
		const char *v = *(char *const *)field_cptr(ch, k);
		if (cp->key_bad[k] || !v || strncasecmp(v, "http://", 7) != 0)
			continue;
		perr(ps, cp->key_line[k],
		     "[%s] %s = %s: plain http is only for the sandbox: set "
		     "allow_http = yes",
		     sect, keys[k].key, escape(v, ev, sizeof ev));
	}
}

/* Zalo (zns, zalo_oa): a static token, or all four keys of OAuth v4. */
static void cross_check_zalo_token(struct parser *ps, size_t j,
				   const char *sect, int line)
{
	const struct config_channel *ch = &ps->c->channels[j];
	const struct chan_parse *cp = &ps->chans[j];
	static const size_t oauth[] = { KCH_oauth_url, KCH_app_id,
					KCH_app_secret_file,
					KCH_refresh_token_file };
	char list[256];
	size_t n = 0;
	chan_missing(ch, cp, oauth, ARRAY_SIZE(oauth), list, sizeof list, &n);
	if (n > 0 && n < ARRAY_SIZE(oauth))
		perr(ps, line,
		     "[%s] Zalo OAuth needs oauth_url, app_id, app_secret_file "
		     "and refresh_token_file: %s %s not set",
		     sect, list, n > 1 ? "are" : "is");
	else if (n == ARRAY_SIZE(oauth) &&
		 !chan_has(ch, cp, KCH_access_token_file))
		perr(ps, line,
		     "[%s] driver = %s needs a token: access_token_file, or "
		     "oauth_url, app_id, app_secret_file and "
		     "refresh_token_file for loaxad to refresh it",
		     sect, driver_name(ch->driver));
}

static void cross_check_channel(struct parser *ps, size_t j)
{
	const struct config_channel *ch = &ps->c->channels[j];
	const struct chan_parse *cp = &ps->chans[j];
	char sect[64], list[256], users[128];
	int dline = cp->key_line[KCH_driver] ? cp->key_line[KCH_driver]
					     : ch->line;
	snprintf(sect, sizeof sect, "channel.%s", ch->name);

	if (!chan_has(ch, cp, KCH_driver)) {
		join_drivers(users, sizeof users, (1u << CHD_MAX) - 1, "or");
		perr(ps, dline, "[%s] driver is not set (use %s)", sect,
		     users);
	}
	if (!chan_has(ch, cp, KCH_url))
		perr(ps, cp->key_line[KCH_url] ? cp->key_line[KCH_url]
					       : ch->line,
		     "[%s] url is not set", sect);
	cross_check_http(ps, j, sect);
	if (ch->driver < 0)
		return;

	/* Keys the driver does not use, in the order of their lines. */
	const char *dname = driver_name(ch->driver);
	size_t foreign[NKEYS], nforeign = 0;
	for (size_t i = NCONFIGKEYS; i < NKEYS; i++) {
		unsigned m = impls[i].drivers;
		size_t at = nforeign;
		if (!cp->key_line[i] || cp->key_bad[i] || m == D_ALL ||
		    (m & D_((unsigned)ch->driver)))
			continue;
		for (; at > 0 && cp->key_line[foreign[at - 1]] >
					 cp->key_line[i];
		     at--)
			foreign[at] = foreign[at - 1];
		foreign[at] = i;
		nforeign++;
	}
	for (size_t f = 0; f < nforeign; f++) {
		size_t i = foreign[f];
		join_drivers(users, sizeof users, impls[i].drivers, "and");
		perr(ps, cp->key_line[i],
		     "[%s] %s is not used by driver %s (only by %s)", sect,
		     keys[i].key, dname, users);
	}

	static const size_t zns[] = { KCH_template_id };
	static const size_t messenger[] = { KCH_access_token_file };
	static const size_t esms[] = { KCH_api_key_file, KCH_secret_key_file,
				       KCH_brandname };
	static const size_t twilio[] = { KCH_account_sid, KCH_auth_token_file,
					 KCH_from };
	const size_t *want = NULL;
	size_t nwant = 0;
	switch ((enum channel_driver)ch->driver) {
	case CHD_ZNS:
		want = zns;
		nwant = ARRAY_SIZE(zns);
		cross_check_zalo_token(ps, j, sect, dline);
		break;
	case CHD_ZALO_OA:
		cross_check_zalo_token(ps, j, sect, dline);
		break;
	case CHD_MESSENGER:
		want = messenger;
		nwant = ARRAY_SIZE(messenger);
		if (!cp->key_bad[KCH_messaging_type] &&
		    streq(ch->messaging_type, "MESSAGE_TAG") &&
		    !chan_has(ch, cp, KCH_tag))
			perr(ps, cp->key_line[KCH_tag] ? cp->key_line[KCH_tag]
						       : dline,
			     "[%s] messaging_type = MESSAGE_TAG needs a tag, "
			     "e.g. CONFIRMED_EVENT_UPDATE",
			     sect);
		break;
	case CHD_ESMS:
		want = esms;
		nwant = ARRAY_SIZE(esms);
		break;
	case CHD_TWILIO:
		want = twilio;
		nwant = ARRAY_SIZE(twilio);
		break;
	case CHD_MAX:
		break;
	}
	if (want && chan_missing(ch, cp, want, nwant, list, sizeof list, NULL))
		perr(ps, dline, "[%s] driver = %s needs %s", sect, dname, list);
}

static void cross_check_route(struct parser *ps)
{
	const struct config *c = ps->c;
	int line = ps->key_line[KC_route];
	if (ps->key_bad[KC_route])
		return;
	for (size_t i = 0; i < c->nroute; i++) {
		const char *name = c->route[i], *near = NULL;
		size_t best = 3;
		char list[512];
		size_t o = 0;
		if (config_channel_find(c, name))
			continue;
		list[0] = '\0';
		for (size_t j = 0; j < c->nchannels; j++) {
			size_t d = edit_distance(name, c->channels[j].name);
			if (d < best && d * 3 <= strlen(name)) {
				best = d;
				near = c->channels[j].name;
			}
			if (o < sizeof list)
				o += (size_t)snprintf(list + o, sizeof list - o,
						      "%s%s", j ? ", " : "",
						      c->channels[j].name);
		}
		if (near)
			perr(ps, line,
			     "[route] chain: no section [channel.%s]; did you "
			     "mean %s?",
			     name, near);
		else if (c->nchannels)
			perr(ps, line,
			     "[route] chain: no section [channel.%s] (the "
			     "channels are %s)",
			     name, list);
		else
			perr(ps, line,
			     "[route] chain: no section [channel.%s] (no "
			     "channel is declared)",
			     name);
	}
}

/* Split a valid CFG_LISTEN value: host (without brackets) and port. */
static void listen_split(const char *v, char *host, size_t hostsz,
			 unsigned *port)
{
	const char *colon = strrchr(v, ':');
	const char *h = v, *he = colon ? colon : v;
	if (*h == '[') {
		h++;
		if (he > h && he[-1] == ']')
			he--;
	}
	snprintf(host, hostsz, "%.*s", (int)(he - h), h);
	*port = colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
}

/* "0.0.0.0", "::", "127.0.0.1", "::1", "localhost" as one of: */
enum host_kind { HOST_ANY, HOST_LOOPBACK, HOST_OTHER };

static enum host_kind host_kind(const char *h)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (strcasecmp(h, "localhost") == 0)
		return HOST_LOOPBACK;
	if (inet_pton(AF_INET, h, &a4) == 1) {
		uint32_t a = ntohl(a4.s_addr);
		return a == 0 ? HOST_ANY
		       : (a >> 24) == 127 ? HOST_LOOPBACK
					  : HOST_OTHER;
	}
	if (inet_pton(AF_INET6, h, &a6) == 1) {
		if (IN6_IS_ADDR_UNSPECIFIED(&a6))
			return HOST_ANY;
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return HOST_LOOPBACK;
	}
	return HOST_OTHER;
}

/* Would two listeners on a and b (valid, not empty) take the same socket?
 * The same port on the same address, on a wildcard address, or on the
 * loopback under two names (localhost resolves to 127.0.0.1 and ::1). */
static bool listen_clash(const char *a, const char *b)
{
	char ha[64], hb[64];
	unsigned pa, pb;
	unsigned char na[sizeof(struct in6_addr)], nb[sizeof na];
	listen_split(a, ha, sizeof ha, &pa);
	listen_split(b, hb, sizeof hb, &pb);
	if (pa != pb)
		return false;
	enum host_kind ka = host_kind(ha), kb = host_kind(hb);
	if (ka == HOST_ANY || kb == HOST_ANY || strcasecmp(ha, hb) == 0)
		return true;
	if (ka == HOST_LOOPBACK && kb == HOST_LOOPBACK &&
	    (strcasecmp(ha, "localhost") == 0 ||
	     strcasecmp(hb, "localhost") == 0))
		return true;
	/* The same address written two ways: ::1 and 0:0:0:0:0:0:0:1 */
	for (int af = 0; af < 2; af++) {
		int fam = af ? AF_INET6 : AF_INET;
		size_t len = af ? 16 : 4;
		if (inet_pton(fam, ha, na) == 1 && inet_pton(fam, hb, nb) == 1)
			return memcmp(na, nb, len) == 0;
	}
	return false;
}

/* Is config key i given (or given a bad value, already reported)? */
static bool key_given(const struct parser *ps, size_t i)
{
	if (ps->key_bad[i])
		return true;
	if (fails_assert(TYPE_IS_TEXT(keys[i].type) && !impls[i].set))
		return true;
	const char *v = *(char *const *)field_cptr(ps->c, i);
	return v && *v;
}

/* A twilio channel with its auth token: Twilio signs its callbacks with
 * that token, so the listener can check them with no key of its own. */
static bool twilio_verifiable(const struct config *c)
{
	for (size_t j = 0; j < c->nchannels; j++)
		if (c->channels[j].driver == CHD_TWILIO &&
		    c->channels[j].auth_token_file &&
		    *c->channels[j].auth_token_file)
			return true;
	return false;
}

/* An entry of rsvp_yes that folds like one of rsvp_no: a reply of that
 * word could mean either answer. One message per entry of rsvp_yes. */
struct rsvp_overlap {
	struct parser *ps;
	const char *other;   /* the rsvp_no list */
	int line;
	const char *needle;  /* the rsvp_yes entry, folded */
	const char *yes;     /* the rsvp_yes entry, as written */
	size_t yes_len;
	bool found;
};

static int rsvp_overlap_no(const char *s, size_t n, size_t pos, void *u)
{
	struct rsvp_overlap *o = u;
	char key[CFG_ESC_MAX], ey[CFG_ESC_MAX], en[CFG_ESC_MAX];
	char ty[CFG_ESC_MAX], tn[CFG_ESC_MAX];
	(void)pos;
	if (o->found)
		return 0;
	text_fold_key(s, n, key, sizeof key);
	if (!*key || strcmp(key, o->needle) != 0)
		return 0;
	o->found = true;
	snprintf(ty, sizeof ty, "%.*s", (int)(o->yes_len < 200 ? o->yes_len
							       : 200),
		 o->yes);
	snprintf(tn, sizeof tn, "%.*s", (int)(n < 200 ? n : 200), s);
	escape(ty, ey, sizeof ey);
	escape(tn, en, sizeof en);
	if (strcmp(ty, tn) == 0)
		perr(o->ps, o->line,
		     "[webhooks] '%s' is in both rsvp_yes and rsvp_no: a "
		     "reply must mean one answer",
		     ey);
	else
		perr(o->ps, o->line,
		     "[webhooks] '%s' in rsvp_yes and '%s' in rsvp_no are "
		     "the same word without case and diacritics: a reply "
		     "must mean one answer",
		     ey, en);
	return 0;
}

static int rsvp_overlap_yes(const char *s, size_t n, size_t pos, void *u)
{
	struct rsvp_overlap *o = u;
	char key[CFG_ESC_MAX];
	(void)pos;
	text_fold_key(s, n, key, sizeof key);
	if (!*key)
		return 0;
	o->needle = key;
	o->yes = s;
	o->yes_len = n;
	o->found = false;
	return list_walk(o->other, rsvp_overlap_no, o);
}

static void cross_check_webhooks(struct parser *ps)
{
	const struct config *c = ps->c;
	char ev[CFG_ESC_MAX], ea[CFG_ESC_MAX];
	static const size_t secrets[] = {
		KC_wh_zalo_oa_secret_file, KC_wh_messenger_app_secret_file,
		KC_wh_messenger_verify_token_file, KC_wh_esms_secret_file
	};
	int lline = ps->key_line[KC_wh_listen];

	if (!ps->key_bad[KC_wh_listen] && *c->wh_listen) {
		bool any = twilio_verifiable(c);
		for (size_t i = 0; i < ARRAY_SIZE(secrets) && !any; i++)
			any = key_given(ps, secrets[i]);
		if (!any)
			perr(ps, lline,
			     "[webhooks] listen is set but no provider secret "
			     "is configured: set zalo_oa_secret_file, "
			     "messenger_app_secret_file or esms_secret_file, "
			     "or declare a twilio channel (else no request "
			     "could be verified)");
		if (!ps->key_bad[KC_api_listen] && *c->api_listen &&
		    listen_clash(c->wh_listen, c->api_listen))
			perr(ps, lline,
			     "[webhooks] listen = %s: must differ from [api] "
			     "listen = %s (the webhooks need a port of their "
			     "own)",
			     escape(c->wh_listen, ev, sizeof ev),
			     escape(c->api_listen, ea, sizeof ea));
	}

	/* A verify token alone lets Messenger subscribe, but then nothing it
	 * posts could be checked. */
	if (key_given(ps, KC_wh_messenger_verify_token_file) &&
	    !key_given(ps, KC_wh_messenger_app_secret_file))
		perr(ps, ps->key_line[KC_wh_messenger_verify_token_file],
		     "[webhooks] messenger_verify_token_file is set but "
		     "messenger_app_secret_file is not (Messenger's posts "
		     "are checked with the app secret)");

	if (!ps->key_bad[KC_rsvp_yes] && !ps->key_bad[KC_rsvp_no]) {
		int ly = ps->key_line[KC_rsvp_yes];
		int ln = ps->key_line[KC_rsvp_no];
		struct rsvp_overlap o = { .ps = ps, .other = c->rsvp_no,
					  .line = ly > ln ? ly : ln };
		(void)list_walk(c->rsvp_yes, rsvp_overlap_yes, &o);
	}
}

static void cross_check_hooks(struct parser *ps)
{
	const struct config *c = ps->c;
	char ev[CFG_ESC_MAX];
	int line = ps->key_line[KC_hook_url];
	if (ps->key_bad[KC_hook_url] || !*c->hook_url)
		return;
	if (!key_given(ps, KC_hook_secret_file))
		perr(ps, line,
		     "[hooks] url = %s: secret_file must be set too (the "
		     "receiver checks X-Loaxa-Signature with it)",
		     escape(c->hook_url, ev, sizeof ev));
	if (!c->hook_allow_http && !ps->key_bad[KC_hook_allow_http] &&
	    strncasecmp(c->hook_url, "http://", 7) == 0)
		perr(ps, line,
		     "[hooks] url = %s: plain http sends the events "
		     "unencrypted: set allow_http = yes to allow it",
		     escape(c->hook_url, ev, sizeof ev));
}

static void cross_check(struct parser *ps)
{
	const struct config *c = ps->c;
	char ev[CFG_ESC_MAX];

	if (!ps->key_bad[KC_api_socket] &&
	    strlen(c->api_socket) > CFG_SUN_PATH_MAX)
		perr(ps, ps->key_line[KC_api_socket],
		     "[api] socket = %s: too long for a unix socket (%zu "
		     "bytes, max %d)",
		     escape(c->api_socket, ev, sizeof ev),
		     strlen(c->api_socket), CFG_SUN_PATH_MAX);

	if (!ps->key_bad[KC_state_dir] && !*c->database &&
	    strlen(c->state_dir) + strlen("/loaxa.db") > CFG_PATH_MAX)
		perr(ps, ps->key_line[KC_state_dir],
		     "[daemon] state_dir = %s: too long to hold loaxa.db "
		     "(max %d bytes in all)",
		     escape(c->state_dir, ev, sizeof ev), CFG_PATH_MAX);

	if (!ps->key_bad[KC_retry_initial_ms] &&
	    !ps->key_bad[KC_retry_max_ms] &&
	    c->retry_max_ms < c->retry_initial_ms) {
		char a[32], b[32];
		fmt_value(CFG_DURATION, c->retry_max_ms, a, sizeof a);
		fmt_value(CFG_DURATION, c->retry_initial_ms, b, sizeof b);
		perr(ps,
		     ps->key_line[KC_retry_max_ms]
			     ? ps->key_line[KC_retry_max_ms]
			     : ps->key_line[KC_retry_initial_ms],
		     "[broadcast] retry_max (%s) is shorter than "
		     "retry_initial (%s)",
		     a, b);
	}

	cross_check_webhooks(ps);
	cross_check_hooks(ps);
	for (size_t j = 0; j < c->nchannels; j++)
		cross_check_channel(ps, j);
	cross_check_route(ps);
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
	if (!ps.oom) /* else a channel may be half built */
		cross_check(&ps);
	config_derive(ps.c);

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

/* ---- secrets ---- */

int config_read_secret(const char *ref, char **ret, char *err, size_t errsz)
{
	_cleanup_close_ int fd = -1;
	char path[CFG_PATH_MAX + 1], ep[CFG_ESC_MAX];
	struct stat st;
	size_t len = 0;
	char *data, *s;
	int r;

	if (!ref || !*ref)
		return reason(-EINVAL, err, errsz, "no secret file is set");
	if (!ret)
		return reason(-EINVAL, err, errsz, "nowhere to put the secret");
	if (strncmp(ref, CREDENTIAL_PREFIX, strlen(CREDENTIAL_PREFIX)) == 0) {
		const char *name = ref + strlen(CREDENTIAL_PREFIX);
		const char *dir = getenv("CREDENTIALS_DIRECTORY");
		escape(ref, ep, sizeof ep);
		if (!credential_name_valid(name))
			return reason(-EINVAL, err, errsz,
				      "%s: not a credential name (NAME "
				      "without '/')",
				      ep);
		if (!dir || !*dir)
			return reason(-ENOENT, err, errsz,
				      "%s needs systemd's LoadCredential= "
				      "($CREDENTIALS_DIRECTORY is not set)",
				      ep);
		int n = snprintf(path, sizeof path, "%s/%s", dir, name);
		if (n < 0 || (size_t)n >= sizeof path)
			return reason(-ENAMETOOLONG, err, errsz,
				      "%s: path too long", ep);
	} else if (ref[0] == '/' && strlen(ref) < sizeof path) {
		memcpy(path, ref, strlen(ref) + 1);
	} else {
		return reason(-EINVAL, err, errsz,
			      "%s: not an absolute path or credential:NAME",
			      escape(ref, ep, sizeof ep));
	}
	escape(path, ep, sizeof ep);

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		return reason(r, err, errsz, "cannot read secret file %s: %s",
			      ep, strerror(-r));
	}
	if (!S_ISREG(st.st_mode))
		return reason(-EINVAL, err, errsz,
			      "secret file %s is not a regular file", ep);
	if (st.st_mode & S_IROTH)
		log_warn(LOG_CFG,
			 "secret file %s is readable by every user: chmod o-r "
			 "it",
			 ep);

	/* One byte more than allowed tells a file that is too large. */
	data = malloc(CFG_SECRET_MAX + 1);
	if (!data)
		return reason(-ENOMEM, err, errsz, "out of memory");
	while (len <= CFG_SECRET_MAX) {
		ssize_t n = read(fd, data + len, CFG_SECRET_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			reason(r, err, errsz, "cannot read secret file %s: %s",
			       ep, strerror(-r));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CFG_SECRET_MAX) {
		r = reason(-EFBIG, err, errsz,
			   "secret file %s is larger than %d KiB", ep,
			   CFG_SECRET_MAX / 1024);
		goto fail;
	}
	while (len > 0 && is_space(data[len - 1]))
		len--;
	if (len == 0) {
		r = reason(-EINVAL, err, errsz, "secret file %s is empty", ep);
		goto fail;
	}
	if (memchr(data, '\0', len)) {
		r = reason(-EINVAL, err, errsz,
			   "secret file %s contains a NUL byte", ep);
		goto fail;
	}
	s = util_strndup(data, len);
	if (!s) {
		r = reason(-ENOMEM, err, errsz, "out of memory");
		goto fail;
	}
	explicit_bzero(data, CFG_SECRET_MAX + 1);
	free(data);
	*ret = s;
	return 0;
fail:
	explicit_bzero(data, CFG_SECRET_MAX + 1);
	free(data);
	return r;
}
