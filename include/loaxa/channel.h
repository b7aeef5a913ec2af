/* channel.h: the provider drivers — pure functions, no I/O, no store.
 *
 * Each driver builds the HTTP request a provider expects for one message,
 * and classifies the provider's reply into what loaxad must do next.
 * Wire formats and codes follow ../shared/providers.md; every provider
 * code lives in one table row per driver, so an UNVERIFIED code is one
 * entry to change. Adding a provider is one new file and one table row.
 */
#ifndef LOAXA_CHANNEL_H
#define LOAXA_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum channel_driver {
	CHD_ZNS,        /* Zalo ZNS template message to a phone */
	CHD_ZALO_OA,    /* Zalo OA consultation message to a follower uid */
	CHD_MESSENGER,  /* Facebook Messenger Send API to a PSID */
	CHD_ESMS,       /* eSMS.vn brandname SMS */
	CHD_TWILIO,     /* Twilio Programmable Messaging SMS */
	CHD_MAX
};
const char *channel_driver_name(enum channel_driver d);   /* "zns", ... */
int channel_driver_parse(const char *s, enum channel_driver *ret);

/* What a recipient must have for a driver. */
enum channel_address { CHA_PHONE, CHA_ZALO_UID, CHA_PSID };
enum channel_address channel_driver_address(enum channel_driver d);
bool channel_driver_is_sms(enum channel_driver d);

/* Settings of one configured channel instance (strings borrowed). */
struct channel_settings {
	enum channel_driver driver;
	const char *url;            /* full endpoint URL */
	const char *access_token;   /* ZNS/OA access token; Messenger page
				       token */
	const char *template_id;    /* ZNS */
	const char *api_key, *secret_key, *brandname;   /* eSMS */
	const char *sms_type;       /* eSMS SmsType, default "2" */
	bool unicode;               /* eSMS IsUnicode / keep diacritics */
	const char *account_sid, *auth_token, *from;    /* Twilio */
	const char *messaging_type; /* Messenger: "MESSAGE_TAG" (default),
				       "RESPONSE", "UPDATE" */
	const char *tag;            /* Messenger tag, default
				       "CONFIRMED_EVENT_UPDATE" */
	const char *callback_url;   /* eSMS CallbackUrl / Twilio
				       StatusCallback, or NULL */
};

struct channel_message {
	const char *recipient;      /* E.164 phone, Zalo uid or PSID */
	const char *text;           /* rendered text (not used by ZNS) */
	const char *tracking_id;    /* <= 48 chars, [A-Za-z0-9_-] */
	/* ZNS template_data: keys and values (strings) */
	const char *const *tdata_keys;
	const char *const *tdata_vals;
	size_t ntdata;
};

/* A built request: everything owned by it; free with channel_request_clear. */
struct channel_request {
	char *method;
	char *url;
	char **headers;             /* "Name: value" */
	size_t nheaders;
	char *body;
	size_t body_len;
	char *userpwd;              /* HTTP Basic, or NULL */
};
void channel_request_clear(struct channel_request *r);

struct buf;
/* Append "name=value" to an application/x-www-form-urlencoded body, with
 * '&' first unless b is empty: [A-Za-z0-9-._~] as is, every other byte
 * %XX (space is %20). The drivers' bodies and the engine's token
 * refresh. */
int channel_form_add(struct buf *b, const char *name, const char *value);

/* -EINVAL with a reason in err when the message cannot be expressed (bad
 * recipient for this driver, missing setting). */
int channel_build(const struct channel_settings *s,
		  const struct channel_message *m,
		  struct channel_request *ret, char *err, size_t errsz);

enum channel_outcome {
	CHO_ACCEPTED,     /* provider took it; msg_id kept */
	CHO_TRANSIENT,    /* retry later on the same channel (5xx, timeout,
			     unknown error, quota that refills) */
	CHO_RATE_LIMITED, /* slow down; retry_after_ms when given */
	CHO_PERMANENT,    /* this recipient cannot get it on this channel:
			     the household's next phone (phone channels),
			     else the next channel, at once */
	CHO_AUTH,         /* token invalid or expired: refresh, then retry */
	CHO_CONFIG,       /* channel misconfigured or account blocked: pause
			     the channel, alert the operator */
	CHO_MAX
};
const char *channel_outcome_name(enum channel_outcome o);

struct channel_result {
	enum channel_outcome outcome;
	char msg_id[128];           /* provider message id when accepted */
	char code[48];              /* provider code as text: "-118",
				       "551/1545041", "21211", "HTTP 503" */
	char message[256];          /* provider message (UTF-8, truncated) */
	int64_t retry_after_ms;     /* -1 when none */
	int segments;               /* SMS parts the provider reported, or 0 */
};

/* Classify a reply. transport_error is http_response.error (0 when an HTTP
 * answer arrived). Never fails: unknown shapes are CHO_TRANSIENT with the
 * reason in message (a garbled reply is not proof the message was lost). */
void channel_classify(enum channel_driver d, int transport_error,
		      int http_status, const char *body, size_t body_len,
		      int64_t retry_after_ms, struct channel_result *ret);

#endif
