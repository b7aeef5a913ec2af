/* config.h: loaxa.ini, table-driven over inih.
 *
 * One static table lists every (section, key) with its type, bounds,
 * default, whether SIGHUP may change it, and a one-line doc. The parser
 * reports every problem as "file:line: message" (unknown section or key,
 * bad value, duplicate key or section, line too long) and keeps going, so
 * one run shows them all. Cross-field checks run afterwards.
 *
 * The [groups] section is free-form: each line "CODE = Display name"
 * declares one village group; order is kept.
 */
#ifndef LOAXA_CONFIG_H
#define LOAXA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loaxa/log.h"

/* The installed configuration: <sysconfdir>/loaxa/loaxa.ini, /etc/loaxa/
 * for a /usr install or a Debian package. */
#ifdef LOAXA_SYSCONFDIR
#define CONFIG_DEFAULT_PATH LOAXA_SYSCONFDIR "/loaxa/loaxa.ini"
#else
#define CONFIG_DEFAULT_PATH "/etc/loaxa/loaxa.ini"
#endif
#define CONFIG_GROUP_CODE_MAX 32
#define CONFIG_GROUP_NAME_MAX 120   /* bytes of UTF-8 */

struct config_group {
	char *code;   /* [A-Za-z0-9_-]{1,32} */
	char *name;   /* valid UTF-8, 1..120 bytes */
	int line;
};

/* One [channel.NAME] section: an instance of a provider driver. Secrets
 * are never in the file itself: *_file keys name a file (or
 * "credential:NAME" for $CREDENTIALS_DIRECTORY/NAME, systemd's
 * LoadCredential=); the daemon reads them with config_read_secret(). */
struct config_channel {
	char *name;               /* NAME: [A-Za-z0-9_-]{1,32} */
	int line;                 /* of the section header */
	int driver;               /* enum channel_driver (channel.h) */
	char *url;                /* endpoint URL; required */
	bool allow_http;          /* plain http:// allowed (sandbox), default no */
	char *access_token_file;  /* static token (ZNS/OA access token,
				     Messenger page token) */
	/* Zalo OAuth v4 (zns, zalo_oa): when oauth_url is set the access
	 * token is refreshed and rotated by loaxad */
	char *oauth_url;
	char *app_id;
	char *app_secret_file;
	char *refresh_token_file; /* the first refresh token; later ones are
				     kept in the database */
	/* zns */
	char *template_id;
	char *template_data;      /* "key={placeholder}, key2=text {x}" */
	/* esms */
	char *api_key_file, *secret_key_file, *brandname;
	char *sms_type;           /* default "2" */
	bool unicode;             /* keep diacritics (UCS-2), default no */
	/* twilio */
	char *account_sid, *auth_token_file, *from;
	/* messenger */
	char *messaging_type;     /* default MESSAGE_TAG */
	char *tag;                /* default CONFIRMED_EVENT_UPDATE */
	char *callback_url;       /* delivery reports (esms, twilio) */
	/* limits (reloadable) */
	double rate;              /* messages/s, 0 = unlimited; default 10 */
	double segment_rate;      /* SMS segments/s, 0 = unlimited */
	uint32_t max_in_flight;   /* default 8 */
	uint64_t timeout_ms;      /* default 15s */
	uint64_t connect_timeout_ms; /* default 5s */
	uint32_t max_attempts;    /* 0 = [broadcast] max_attempts */
	uint32_t breaker_failures;   /* consecutive transient failures that
					open the breaker; default 5 */
	uint64_t breaker_cooldown_ms; /* default 30s */
};

/* [broadcast] approval: which broadcasts wait for a second official. */
enum approval_mode { APPROVAL_OFF, APPROVAL_URGENT_ALL /* urgent notices
		     to every group */, APPROVAL_URGENT, APPROVAL_ALL };
const char *config_approval_name(enum approval_mode m);

struct config {
	char *path;

	/* [daemon] */
	char *state_dir;          /* path; default /var/lib/loaxa */
	char *database;           /* path; default "" = <state_dir>/loaxa.db */
	enum log_level log_level; /* enum; reloadable */
	char *log_debug;          /* comma list of subsystems; reloadable */
	uint64_t retention_ms;    /* duration; default 365d; reloadable:
				     details of broadcasts finished longer
				     ago are pruned, counts kept */

	/* [api] */
	char *api_socket;         /* path; default /run/loaxa/api.sock */
	uint32_t api_socket_mode; /* octal, 0600..0666; default 0660 */
	char *api_listen;         /* "" = off, else HOST:PORT (TCP) */
	char *api_token_file;     /* optional: a token that acts as admin */
	uint64_t api_max_body;    /* size; default 64M */
	uint32_t api_max_connections; /* default 64 */
	uint64_t api_timeout_ms;  /* duration; default 30s */

	/* [broadcast] */
	uint64_t notice_ttl_ms;   /* duration; default 24h; reloadable */
	int quiet_start_min;      /* minutes after local midnight, -1 = no
				     quiet hours; "21:00-06:00" default */
	int quiet_end_min;
	char *timezone;           /* "Asia/Ho_Chi_Minh" (default), "UTC",
				     or a fixed offset "+07:00" */
	int utc_offset_min;       /* derived from timezone: +420 */
	uint64_t retry_initial_ms;/* duration; default 30s; reloadable */
	uint64_t retry_max_ms;    /* duration; default 30m; reloadable */
	uint32_t max_attempts;    /* per channel, 1..100, default 5 */
	uint32_t fanout_chunk;    /* households per chunk, 100..100000,
				     default 5000 */
	uint32_t sms_warn_segments; /* CLI warns above this, default 3 */
	enum approval_mode approval; /* default urgent-all; reloadable */

	/* [templates] (validated with template_check; reloadable) */
	char *tmpl_meeting;
	char *tmpl_notice;
	char *tmpl_reminder;

	/* [webhooks]: receipts and replies from providers, on their own TCP
	 * address (behind a TLS reverse proxy in production) */
	char *wh_listen;          /* "" = off, else HOST:PORT; not reloadable */
	uint64_t wh_max_body;     /* size, default 1M (64K..16M); reloadable */
	uint32_t wh_max_connections; /* default 64 (1..10000); not reloadable */
	char *wh_zalo_oa_secret_file;  /* secret ref: Zalo OA secret key for
					  X-ZEvent-Signature */
	char *wh_messenger_app_secret_file; /* secret ref: X-Hub-Signature-256 */
	char *wh_messenger_verify_token_file; /* secret ref: hub.verify_token */
	char *wh_esms_secret_file; /* secret ref: the path secret of
				      /webhooks/esms/<secret> */
	char *wh_public_url;      /* the URL providers use to reach this
				     listener, e.g. https://loaxa.example.vn
				     (Twilio signs the full URL); "" = derive
				     http://<listen> */
	bool wh_metrics;          /* also serve /metrics here; default no */
	uint64_t unconfirmed_after_ms; /* a sent delivery with no receipt
					  after this is "unconfirmed";
					  default 1h (1m..7d); reloadable */
	char *rsvp_yes;           /* comma list; default "1,có,co,yes,dự,du" */
	char *rsvp_no;            /* default "2,không,khong,no,vắng,vang" */
	/* [hooks] outbound event hook: POST each status change */
	char *hook_url;           /* "" = off */
	char *hook_secret_file;   /* secret ref: HMAC-SHA256 of the body in
				     X-Loaxa-Signature: sha256=<hex> */
	bool hook_allow_http;     /* default no */

	/* [console]: the web console on [api] listen */
	bool console_enabled;     /* default yes; not reloadable */
	uint64_t session_lifetime_ms; /* idle lifetime, default 12h */
	bool secure_cookie;       /* default no */
	uint32_t login_attempts;  /* per name+address per 15 min, default 5 */

	/* [route] chain = names of [channel.NAME] sections, in order */
	char **route;
	size_t nroute;

	struct config_channel *channels;
	size_t nchannels;

	struct config_group *groups;
	size_t ngroups;
};

/* Diagnostics collected while loading: each a full line
 * "path:line: message" (or "path: message" when no line applies). */
struct config_diag {
	char **msgs;
	size_t n;
};
void config_diag_free(struct config_diag *d);

/* Load and validate path. On success returns 0 and *ret; otherwise a
 * negative errno (-EINVAL for content errors, -ENOENT/-EACCES for the file,
 * -EFBIG above 1 MiB) with every problem appended to diag. ret may be NULL
 * (check only); diag may be NULL. Lines hold at most 198 characters
 * (inih's buffer); comment lines may be longer. */
int config_load(const char *path, struct config **ret, struct config_diag *diag);

/* Same from memory; name is used in messages (fuzzing, tests). */
int config_load_buffer(const char *name, const char *data, size_t len,
		       struct config **ret, struct config_diag *diag);

/* All defaults (no file). */
struct config *config_new_default(void);

struct config *config_free(struct config *c);

/* For a reload: appends one warning per changed key that is not reloadable
 * ("[api] socket changed: takes effect after a restart"). Returns the count. */
size_t config_diff_nonreloadable(const struct config *old,
				 const struct config *new_,
				 struct config_diag *diag);

/* Read a secret named by a *_file key: a path, or "credential:NAME" read
 * from $CREDENTIALS_DIRECTORY/NAME. Trailing whitespace is removed. Warns
 * (log) when the file is readable by others. Returns 0 and a malloc'd
 * string, or -errno with a reason in err (never the secret itself). */
int config_read_secret(const char *ref, char **ret, char *err, size_t errsz);

/* The channel named name, or NULL. */
const struct config_channel *config_channel_find(const struct config *c,
						 const char *name);

/* The effective database path (database, or state_dir + "/loaxa.db");
 * caller frees. */
char *config_database_path(const struct config *c);

/* The key table, for the man page check and --dump-config. */
enum config_type { CFG_STRING, CFG_PATH, CFG_BOOL, CFG_UINT, CFG_SIZE,
		   CFG_DURATION, CFG_OCTAL, CFG_ENUM_LOGLEVEL, CFG_LISTEN,
		   CFG_DECIMAL /* "number": 0.5, at most 3 decimals */ };
struct config_key_info {
	const char *section, *key;
	enum config_type type;
	const char *def;        /* default as written in loaxa.ini */
	uint64_t min, max;      /* for numeric types */
	bool reloadable;
	const char *doc;
};
size_t config_keys(const struct config_key_info **ret);
const char *config_type_name(enum config_type t);

/* Check one value as the loader would for key k (an entry of the table, or
 * any key info: min/max bound integer, size, duration and octal values).
 * On success returns 0 and, if ret, stores the number: bool 0/1, the
 * enum log_level, bytes, milliseconds, the mode, thousandths for a decimal
 * (text types store 0).
 * Otherwise -EINVAL or -ERANGE, with the reason (no key, no value) written
 * to why when why is not NULL. */
int config_value_parse(const struct config_key_info *k, const char *value,
		       uint64_t *ret, char *why, size_t whysz);

#endif
