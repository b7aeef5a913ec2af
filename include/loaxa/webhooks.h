/* webhooks.h: provider webhooks and households' replies — pure functions,
 * no I/O, no store, no logging.
 *
 * The HTTP listener hands over what arrived (raw body, or decoded query /
 * form parameters, plus the signature header); this module says whether it
 * is authentic and turns it into normalised events the engine applies to
 * deliveries. Wire formats follow ../shared/providers.md: §1.4-1.5 (ZNS
 * receipts), §3 (Zalo OA follower messages), §4.4-4.5 (Messenger), §5.1
 * (eSMS delivery reports), §5.4 (Twilio status callbacks).
 *
 * Order for a POST: verify the signature on the raw bytes first, then parse.
 * Answer 403 when verification fails, 400 on -EINVAL (with the reason), 200
 * on 0 and on -ENOMSG, 500 on -ENOMEM (the provider retries).
 *
 * Glossary:
 *  - household address ("sender"): who the event is about, whichever
 *    direction the provider's own sender/recipient fields point: the phone
 *    a ZNS/SMS went to, the Zalo uid or Messenger PSID that received or
 *    wrote a message.
 *  - watermark (Messenger): every message sent to that PSID at or before
 *    this time is delivered / read; individual mids may be absent.
 *  - tracking id: our own correlation id echoed back (ZNS tracking_id,
 *    eSMS RequestId).
 */
#ifndef LOAXA_WEBHOOKS_H
#define LOAXA_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loaxa/channel.h" /* enum channel_driver */

/* Bodies longer than this are refused (-EINVAL; verifiers return false). */
#define WEBHOOKS_BODY_MAX (1024 * 1024)
/* Events kept per body; more are counted in webhook_event_list.dropped. */
#define WEBHOOKS_EVENTS_MAX 1000
/* Query / form parameters accepted per request. */
#define WEBHOOKS_PARAMS_MAX 128
/* Reply text is cut to this many code points. */
#define WEBHOOKS_TEXT_MAX 2000

enum webhook_kind {
	WE_DELIVERED, /* reached the handset / app */
	WE_READ,      /* seen by the household */
	WE_FAILED,    /* provider gave up; code says why */
	WE_REPLY,     /* the household wrote to us; text holds it */
	WE_KIND_MAX
};
/* "delivered", "read", "failed", "reply"; "?" when out of range. */
const char *webhooks_kind_name(enum webhook_kind k);

/* One normalised event. Strings are NUL-terminated printable ASCII
 * (0x21..0x7E) except text, and empty when the provider gave none. */
struct webhook_event {
	enum webhook_kind kind;
	enum channel_driver provider; /* CHD_ZNS, CHD_ZALO_OA, CHD_MESSENGER,
					 CHD_ESMS, CHD_TWILIO */
	char msg_id[128];      /* provider message id: ZNS/OA msg_id,
				  Messenger mid, eSMS SMSID, Twilio
				  MessageSid; for a reply, the reply's own id;
				  empty for a Messenger watermark without
				  mids */
	char tracking_id[64];  /* ZNS tracking_id, eSMS RequestId */
	char sender[72];       /* household address: E.164 phone when the
				  field is a phone that normalises (ZNS
				  recipient, eSMS phonenumber, Twilio To /
				  From), else the provider's id as given
				  (Zalo uid, PSID, ZNS hashed phone) */
	int64_t at_ms;         /* when it happened on the provider's side,
				  ms since the epoch: ZNS delivery_time, else
				  the event timestamp (Zalo, Messenger; for a
				  Messenger delivery without timestamp, the
				  watermark); 0 when the provider gives none
				  (eSMS, Twilio): use the time of receipt */
	int64_t watermark_ms;  /* Messenger delivery/read watermark, else 0 */
	char *text;            /* WE_REPLY only (NULL otherwise): malloc'd,
				  valid UTF-8, trimmed, control characters
				  other than \t \n removed, invalid bytes
				  replaced by U+FFFD, at most
				  WEBHOOKS_TEXT_MAX code points, never
				  empty */
	char code[32];         /* WE_FAILED: provider error code as text
				  ("30003", "-114", "SendStatus=4",
				  "undelivered"); else empty */
};

/* Events of one request, in body order. Zero-initialise before use. */
struct webhook_event_list {
	struct webhook_event *events;
	size_t n;
	size_t cap;
	size_t skipped; /* malformed items of a batch that were left out */
	size_t dropped; /* events past WEBHOOKS_EVENTS_MAX, left out */
};
/* Free the events and texts and zero the list; NULL and zeroed lists are
 * fine. Usable as _cleanup_(webhook_event_list_clear). */
void webhook_event_list_clear(struct webhook_event_list *l);

/* ---- Parsers ----
 *
 * Common contract:
 *  - 0: at least one event; *ret (which must be empty: zeroed or cleared)
 *    receives them and the caller clears it. err may still hold the reason
 *    of the first skipped item when ret->skipped > 0.
 *  - -ENOMSG: well-formed but nothing we track (another event type, a
 *    pending status, a message without text): answer 200. *ret untouched.
 *  - -EINVAL: malformed; a one-line reason (no personal data: no phone
 *    numbers, no message text) in err: answer 400. *ret untouched.
 *  - -ENOMEM. *ret untouched.
 * err may be NULL or errsz 0. Ids longer than their field or with bytes
 * outside 0x21..0x7E are malformed. A single-event body with a malformed
 * event is -EINVAL; inside a batch (Messenger) a malformed item is skipped
 * and counted, and the body is -EINVAL only when nothing came out of it and
 * at least one item was malformed.
 * Timestamps may be JSON numbers or strings of digits.
 */

/* Zalo webhook POST body (one event per request).
 *  - user_received_message: WE_DELIVERED. CHD_ZNS when message carries
 *    tracking_id or delivery_time (a ZNS receipt, X-ZEvent-Server: ZNS),
 *    else CHD_ZALO_OA. sender = recipient.id (phone normalised to E.164
 *    for ZNS when it is one), at_ms = delivery_time, else timestamp.
 *  - user_seen_message (OA): WE_READ per message.msg_ids[] (or msg_id),
 *    sender = recipient.id, at_ms = timestamp.
 *  - user_send_text (OA): WE_REPLY, sender = sender.id, text =
 *    message.text, msg_id = message.msg_id, at_ms = timestamp.
 *  - any other event_name (follow, user_send_image, template status...):
 *    -ENOMSG. */
int webhooks_parse_zalo(const char *body, size_t len,
			struct webhook_event_list *ret, char *err,
			size_t errsz);

/* Messenger webhook POST body {"object":"page","entry":[{"messaging":[..]}]}
 * (another object: -ENOMSG). Per messaging item, sender = sender.id (PSID):
 *  - delivery {mids?, watermark}: one WE_DELIVERED per mid, or one with an
 *    empty msg_id when mids is absent or empty; watermark_ms = watermark;
 *    at_ms = timestamp, else watermark.
 *  - read {watermark}: one WE_READ, msg_id empty, watermark_ms = watermark,
 *    at_ms = timestamp, else watermark.
 *  - message {mid, text} not is_echo: WE_REPLY (message without text:
 *    ignored).
 *  - anything else (postback, reaction, standby, changes): ignored. */
int webhooks_parse_messenger(const char *body, size_t len,
			     struct webhook_event_list *ret, char *err,
			     size_t errsz);

/* eSMS delivery report: the decoded query parameters of the GET (keys and
 * values NUL-terminated; names are case-sensitive as eSMS sends them; a
 * parameter we read that appears twice is -EINVAL). Required: SMSID,
 * SendStatus. msg_id = SMSID, tracking_id = RequestId, sender =
 * phonenumber.
 *  - SendStatus 4 (rejected): WE_FAILED, code "SendStatus=4".
 *  - SendStatus 5 (sent): WE_FAILED when SendFailed > 0 and SendSuccess is
 *    0 (code = the Zalo "error" in error_info when present, else
 *    "SendFailed"), else WE_DELIVERED. (eSMS's own samples send status 5
 *    with SendSuccess=0 SendFailed=1 for a failed ZNS.)
 *  - 1, 2, 7 (pending) and any other number: -ENOMSG.
 * The request's authenticity is the secret in its URL: check it with
 * webhooks_verify_secret() first. */
int webhooks_parse_esms_query(const char *const *keys,
			      const char *const *vals, size_t n,
			      struct webhook_event_list *ret, char *err,
			      size_t errsz);

/* Twilio status callback (or incoming message) form POST, decoded.
 * MessageSid (else SmsSid) is required, status = MessageStatus, else
 * SmsStatus.
 *  - delivered: WE_DELIVERED; read: WE_READ (sender = To).
 *  - failed, undelivered, canceled: WE_FAILED, code = ErrorCode, else the
 *    status (sender = To).
 *  - received (or no status) with a Body: WE_REPLY from From (an incoming
 *    SMS to our number; shape UNVERIFIED against a live account).
 *  - queued, sending, sent, accepted, scheduled, ...: -ENOMSG. */
int webhooks_parse_twilio_form(const char *const *keys,
			       const char *const *vals, size_t n,
			       struct webhook_event_list *ret, char *err,
			       size_t errsz);

/* ---- Authenticity ----
 *
 * All comparisons are constant time (CRYPTO_memcmp). A NULL or empty secret
 * or header, or an oversized body, is never authentic. Hex digests are
 * accepted in either case. */

/* Zalo X-ZEvent-Signature: lowercase hex SHA-256 of app_id + raw body +
 * timestamp + OA secret key, where app_id and timestamp are read from the
 * body itself (JSON strings, or integers as written). header is the
 * header's value, "mac=<hex>" or the bare hex (spaces around tolerated). */
bool webhooks_verify_zalo(const char *body, size_t len,
			  const char *oa_secret, const char *header);

/* Messenger X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256(app secret,
 * raw body). The legacy SHA-1 X-Hub-Signature is not accepted. */
bool webhooks_verify_messenger(const char *body, size_t len,
			       const char *app_secret, const char *header);

/* Twilio X-Twilio-Signature: base64 HMAC-SHA1(auth token, url + for each
 * POST parameter sorted by name (then value) name + value). url is the
 * full URL Twilio requested, query string included, exactly as configured
 * in StatusCallback (behind a proxy: the public URL, not the local one).
 * A URL with a port is also tried without it, and one without a port with
 * the scheme's default (443, 80), as Twilio's own libraries do. The
 * SHA-256 "Webhooks Rule" variant is not supported. */
bool webhooks_verify_twilio(const char *url, const char *const *keys,
			    const char *const *vals, size_t n,
			    const char *auth_token, const char *header);

/* A shared secret presented in a URL (eSMS callback path) or a
 * verify_token: equal to expected, which must be non-empty. Both are
 * hashed (SHA-256) and the digests compared, so the time taken does not
 * depend on where they differ nor stop at the shorter one. */
bool webhooks_verify_secret(const char *presented, const char *expected);

/* Messenger subscribe handshake (GET with hub.mode, hub.verify_token,
 * hub.challenge). Returns 0 and points *ret_challenge at challenge (answer
 * 200 with it as text/plain) when mode is "subscribe", the token matches
 * expected_token and the challenge is 1..128 URL-unreserved characters;
 * -EACCES otherwise (answer 403; *ret_challenge untouched). */
int webhooks_messenger_handshake(const char *mode, const char *token,
				 const char *challenge,
				 const char *expected_token,
				 const char **ret_challenge);

/* ---- RSVP: a household's answer to "will you come?" ----
 *
 * Word lists are comma-separated config strings; an entry may be several
 * words ("có mặt"). Words are split on spaces and punctuation and compared
 * case-insensitively, without diacritics (text_fold_key), so "CO", "có",
 * "Có" all match the entry "có" and "1." matches "1". A word typed WITH
 * diacritics only matches an entry written with the same diacritics, or a
 * bare entry no marked entry shares: "Vâng" (yes, polite) does not match
 * "vắng"/"vang" (absent). (Decomposed, NFD, text has no such exact match.)
 *
 * The rule, on the reply's words after dropping courtesy words at both
 * ends (ạ, dạ, nhé, nha, ơi, em, anh, chị, bác, ok, ..., and emoji; never
 * a word that is itself an entry):
 *  1. the words are exactly one entry of one list: that answer ("Có ạ",
 *     "Dạ không ạ", "1.", "yes!");
 *  2. else, if they start with a no entry that is not a number: RSVP_NO
 *     ("Không đi được", "vắng mặt ạ");
 *  3. else RSVP_NONE: a human reads it ("Có việc bận" is a no in Vietnamese,
 *     "có lẽ" a maybe, "1 người" a count; "12" is not "1").
 * An entry in both lists, or a reply matching both, is RSVP_NONE. */
enum rsvp { RSVP_NONE, RSVP_YES, RSVP_NO };

#define RSVP_YES_DEFAULT "1,có,co,yes,dự,du"
#define RSVP_NO_DEFAULT "2,không,khong,no,vắng,vang"

/* "none", "yes", "no". */
const char *rsvp_name(enum rsvp r);

/* Classify text[0..len) (need not be NUL-terminated). yes_words/no_words
 * NULL mean the defaults above. Invalid UTF-8 bytes separate words. */
enum rsvp rsvp_parse(const char *text, size_t len, const char *yes_words,
		     const char *no_words);

/* Check a word list for the config loader: -EINVAL with the reason in err
 * for an empty list, an entry longer than 60 bytes or 4 words, an entry
 * made only of punctuation, or invalid UTF-8. */
int rsvp_words_check(const char *words, char *err, size_t errsz);

#endif
