/* sandbox.h: internals of loaxa-sandbox, the fake messaging provider.
 *
 * loaxa-sandbox answers the wire formats of Zalo ZNS, Zalo OA, Zalo OAuth v4,
 * Facebook Messenger's Send API, eSMS.vn and Twilio on one loopback port,
 * records what it receives and can be told to misbehave (docs/sandbox.md).
 *
 * Threads: libmicrohttpd runs its own epoll thread pool (the "workers");
 * one timer thread resumes suspended connections when their artificial
 * latency is over. Everything shared lives in state.c behind one mutex.
 *
 * Glossary:
 *   sreq     one HTTP request, from its first header call to completion.
 *   action   what the behaviour rules decided for a request on arrival.
 *   reply    the answer a handler built (status, body, headers, result key).
 *   result   the stats key of an outcome: "ok", a provider error code such
 *            as "-118" or "21211", or "http_503", "hang", "refused", ...
 *   trigger  a recipient suffix that forces an outcome (docs/sandbox.md).
 */
#ifndef LOAXA_SANDBOX_H
#define LOAXA_SANDBOX_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include <loaxa/util.h>

#define SB_BODY_MAX ((size_t)1 << 20)   /* request bodies: 1 MiB */
#define SB_TOKEN_MAX 128                /* tokens, keys, path arguments */

enum provider {
	PROV_ZNS,
	PROV_OA,
	PROV_OAUTH,
	PROV_MESSENGER,
	PROV_ESMS,
	PROV_TWILIO,
	PROV__N,
};
#define PROV_ALL PROV__N        /* the "*" rule slot */

enum route {
	ROUTE_UNKNOWN,
	ROUTE_PROVIDER,
	ROUTE_CONTROL,
};

enum mode {
	MODE_OK,
	MODE_REFUSE,
	MODE_503,
	MODE_429,
	MODE_HANG,
};

enum limit_kind {
	LIMIT_NONE,
	LIMIT_RULE,     /* over a rule's max_per_second: answer like mode 429 */
	LIMIT_BUILTIN,  /* over the provider's own documented limit */
};

/* What the behaviour rules decided for one provider request on arrival. */
struct action {
	enum mode mode;
	int64_t latency_ms;
	bool inject;            /* error_rate fired */
	unsigned error_status;  /* 0: the provider's default injected error */
	char *error_body;       /* owned; NULL: the provider's default */
	char *error_ctype;      /* owned */
	int retry_after;        /* seconds */
	enum limit_kind limited;
	int64_t rl_limit;       /* OA X-RateLimit-* headers; -1: none */
	int64_t rl_remain;
	/* Receipts (webhooks to loaxad) of an accepted message. */
	bool receipts;
	int64_t receipt_delay_min, receipt_delay_max;   /* ms */
	double receipt_duplicate_rate, receipt_reorder_rate;
};

#define REPLY_MAX_HEADERS 4
struct reply {
	unsigned status;
	char *body;             /* malloc'd; handed to MHD */
	size_t len;
	const char *ctype;
	struct {
		const char *name;
		char value[160];
	} hdr[REPLY_MAX_HEADERS];
	unsigned n_hdr;
	bool drop;              /* close the connection without answering */
	bool hang;              /* hold the request, then drop it */
	char result[32];
};

struct sreq {
	struct MHD_Connection *conn;
	enum route route;
	enum provider prov;
	char method[16];
	char *url;
	char path_arg[SB_TOKEN_MAX];    /* Messenger page id, Twilio sid */
	char path_kind[16];             /* OA: cs, transaction, promotion */
	char *body;
	size_t body_len, body_cap;
	bool too_big;
	int64_t arrival_ms;             /* wall clock */
	struct action act;
	struct reply reply;
	int64_t deadline;               /* monotonic ms, delayed replies */
	size_t heap_idx;                /* SIZE_MAX when not in the heap */
	bool waiting, resumed, abort;
};

/* Configuration: parsed once in main.c, read-only afterwards. */
struct sb_config {
	char *listen;           /* as given, for the "listening on" line */
	char *port_file;
	char *record_path;
	uint64_t seed;
	int64_t latency_ms;
	int64_t token_ttl_s;
	char *access_token;
	char *refresh_token;
	char *app_id;
	char *app_secret;
	char *page_id;
	char *page_token;
	char *esms_api_key;
	char *esms_secret_key;
	char **esms_brandnames;
	size_t n_esms_brandnames;
	char **zns_templates;
	size_t n_zns_templates;
	char *twilio_sid;
	char *twilio_token;
	int64_t zns_quota;
	int64_t oa_limit_per_minute;
	int64_t messenger_limit_per_second;
	int64_t max_records;
	int64_t hang_max_ms;
	int64_t threads;
	int64_t max_connections;
	bool allow_remote;
	bool verbose;
	/* Webhooks (receipts.c) */
	char *webhook_url;      /* loaxad's webhook listener base URL */
	char *zalo_oa_secret;   /* signs Zalo webhooks */
	char *zalo_app_id;      /* "app_id" of Zalo webhooks */
	char *messenger_app_secret;
	char *esms_callback;    /* when a request has no CallbackUrl */
};
extern struct sb_config the_config;

/* ---- textutil.c ---- */

/* Growable string; on allocation failure it sets oom and stops growing. */
struct sbuf {
	char *data;
	size_t len, cap;
	bool oom;
};
void sbuf_add(struct sbuf *b, const void *p, size_t n);
void sbuf_adds(struct sbuf *b, const char *s);
void sbuf_addf(struct sbuf *b, const char *fmt, ...) _printf_(2, 3);
/* Append s as a JSON string literal (quotes included). */
void sbuf_add_json_string(struct sbuf *b, const char *s);
/* Take the data (NUL-terminated; NULL if out of memory). */
char *sbuf_steal(struct sbuf *b, size_t *ret_len);
void sbuf_free(struct sbuf *b);

/* A valid UTF-8 copy of s[0..n): invalid bytes and NULs become U+FFFD. */
char *text_sanitize(const char *s, size_t n);
/* Code points of a valid UTF-8 string. */
size_t text_utf8_chars(const char *s);
bool text_is_digits(const char *s, size_t min, size_t max);
bool text_ends_with(const char *s, const char *suffix);

struct sms_info {
	size_t units;           /* septets (GSM-7) or UTF-16 units (UCS-2) */
	unsigned segments;
	bool ucs2;
};
/* How many SMS parts a valid UTF-8 text needs: GSM-7 160/153 (extension
 * characters count 2), else UCS-2 70/67 (astral characters count 2). */
void text_sms_info(const char *s, struct sms_info *ret);

#define FORM_MAX_FIELDS 128
struct form {
	size_t n;
	struct {
		char *key, *val;
	} f[FORM_MAX_FIELDS];
};
/* Parse application/x-www-form-urlencoded. Values are valid UTF-8. The
 * first occurrence of a key wins. Returns 0, -ENOMEM or -E2BIG. */
int form_parse(struct form *f, const char *s, size_t n);
const char *form_get(const struct form *f, const char *key);
void form_free(struct form *f);

/* Decode standard base64 into out (NUL-terminated). -EINVAL if malformed
 * or too long. */
int text_base64_decode(const char *in, char *out, size_t outsz);

/* Phone checks. Each returns 0 and the 9-digit Vietnamese NSN (or, for
 * E.164 outside +84, the digits) in nsn, or -EINVAL. */
int phone_zns(const char *s, char nsn[static 16]);
int phone_esms(const char *s, char nsn[static 16]);
int phone_e164(const char *s, char nsn[static 16]);
/* Normalise for matching: digits only; 84+NSN and 0+NSN become NSN. */
void phone_norm(const char *s, char *out, size_t outsz);

/* ---- state.c ---- */

int64_t sb_now_ms(void);
int64_t sb_mono_ms(void);
/* Format wall-clock ms as 2025-11-29T03:45:12.345Z. */
void sb_iso_time(int64_t ms, char out[static 48]);

const char *provider_name(enum provider p);
/* Returns the provider, PROV_ALL for "*" / "all", or -1. */
int provider_from_name(const char *s);

int state_init(void);
void state_free(void);
/* Forget stats, records, rules, tokens and quota: back to startup state. */
void state_reset(void);

/* Count the request's arrival and decide its action from the rules. */
void state_arrive(struct sreq *r);
/* Count the outcome (HTTP status, result key). */
void state_finish(struct sreq *r);

/* Store a received message. json is a malloc'd JSON object text (owned);
 * key identifies "the same message to the same recipient". Returns how
 * many accepted messages had this key so far (including this one). */
uint64_t state_record(enum provider p, int64_t received_ms,
		      const char *to_norm, uint64_t key, bool accepted,
		      char *json, size_t json_len);
uint64_t state_key_hash(enum provider p, const char *to_norm,
			const char *extra, size_t extra_len);

struct msg_filter {
	int provider;           /* -1: any */
	const char *to;         /* NULL: any */
	uint64_t since;         /* seq > since */
	int status;             /* -1 any, 1 accepted, 0 not accepted */
	size_t limit;
};
char *state_messages_json(const struct msg_filter *f, size_t *ret_len);
json_t *state_stats_json(void);

enum token_state { TOKEN_OK, TOKEN_EXPIRED, TOKEN_UNKNOWN };
enum token_state state_token_check(const char *tok);
/* Rotate: 0 and the new pair, -ENOENT unknown, -EALREADY reused. */
int state_token_refresh(const char *refresh,
			char ret_access[static SB_TOKEN_MAX],
			char ret_refresh[static SB_TOKEN_MAX]);
void state_tokens_expire(void);
json_t *state_tokens_json(void);

/* Take one unit of ZNS daily quota: true and the quota after taking it,
 * or false when none is left. */
bool state_zns_quota_take(int64_t *ret_daily, int64_t *ret_remaining);
/* true if this eSMS RequestId was not accepted in the last 24 h (and
 * remember it now). */
bool state_esms_request_id_claim(const char *id);

uint64_t state_random(void);
void state_random_hex(char *out, size_t n);     /* n chars + NUL */
void state_random_alnum(char *out, size_t n);   /* n chars + NUL */

/* Behaviour rules: apply a JSON object or array of objects (all or
 * nothing). Returns 0 or -EINVAL with a message in err. */
int state_rules_apply(json_t *body, char *err, size_t errlen);
void state_rules_clear(void);
json_t *state_rules_json(void);

int state_record_open(const char *path);
void state_record_flush(void);
void state_record_reopen(void);

/* ---- http.c ---- */

enum MHD_Result http_access_cb(void *cls, struct MHD_Connection *conn,
			       const char *url, const char *method,
			       const char *version, const char *upload_data,
			       size_t *upload_size, void **con_cls);
void http_completed_cb(void *cls, struct MHD_Connection *conn,
		       void **con_cls, enum MHD_RequestTerminationCode toe);
int timer_start(void);
void timer_stop(void);

/* Reply builders (steal body / json). */
void reply_json(struct reply *rp, unsigned status, json_t *o);
void reply_text(struct reply *rp, unsigned status, const char *ctype,
		const char *text);
void reply_header(struct reply *rp, const char *name, const char *fmt, ...)
	_printf_(3, 4);
void reply_result(struct reply *rp, const char *fmt, ...) _printf_(2, 3);
const char *sreq_header(struct sreq *r, const char *name);
const char *sreq_query(struct sreq *r, const char *name);

/* ---- providers.c ---- */

/* Classify r->url (fills r->route, r->prov and the path arguments). */
void prov_route(struct sreq *r);
/* Answer a provider request (rules first, then the provider itself). */
void prov_handle(struct sreq *r);

/* ---- receipts.c ---- */

/* Defaults of the receipt behaviour (a rule's receipt_* fields override). */
#define RECEIPT_DELAY_MIN 200
#define RECEIPT_DELAY_MAX 2000
#define RECEIPT_DUPLICATE_RATE 0.05
#define RECEIPT_REORDER_RATE 0.1

/* An accepted message, as the receipts need it. */
struct receipt_msg {
	const char *to;          /* phone, Zalo user_id or PSID as sent */
	const char *msg_id;      /* msg_id, message_id, mid, SMSID, sid */
	const char *tracking_id; /* ZNS tracking_id, eSMS RequestId */
	const char *callback;    /* eSMS CallbackUrl, Twilio StatusCallback */
	const char *from;        /* Twilio From */
	int error_code;          /* Twilio 30xxx: reported undelivered */
	int64_t sent_ms;         /* the provider's timestamp of the message */
};

/* Check the webhook options (exit 2 on -EINVAL, message printed). */
int receipts_check_config(void);
/* Start / stop the sender thread (stop drops what is still queued). */
int receipts_start(void);
void receipts_stop(void);
/* Schedule the receipts of an accepted message of r->prov (r->act says
 * whether, when and how messily). Never blocks on the network. */
void receipts_schedule(const struct sreq *r, const struct receipt_msg *m);
/* POST /_sandbox/reply: queue a household's reply. 0, or -EINVAL with a
 * message in err. ret gets {"queued":true,...}. */
int receipts_reply(json_t *body, json_t **ret, char *err, size_t errlen);
json_t *receipts_stats_json(void);
/* Recently sent webhooks, oldest first (at most limit). */
json_t *receipts_log_json(size_t limit);
json_t *receipts_config_json(void);
void receipts_reset(void);

/* ---- control.c ---- */

void control_handle(struct sreq *r);

#endif
