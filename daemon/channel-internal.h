/* channel-internal.h: what the provider drivers (daemon/channel_*.c) share
 * with daemon/channel.c. Not part of the project's public headers.
 *
 * A driver is one struct channel_driver_ops: its name, the kind of address
 * it sends to, a build function and a classify function, plus one static
 * table of the provider's codes (struct channel_code). channel.c does what
 * every driver needs: argument and recipient checks before build, and
 * transport errors, JSON parsing, HTTP status rules and the fallback for
 * unrecognised replies around classify.
 */
#ifndef LOAXA_CHANNEL_INTERNAL_H
#define LOAXA_CHANNEL_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "loaxa/channel.h"
#include "loaxa/util.h"

/* Longest request body a driver builds (form bodies; JSON is bounded by
 * the inputs it is made of). */
#define CHANNEL_BODY_MAX (1024 * 1024)

/* Text limits, in code points (providers.md §3.2, §4.1, §5.4). */
#define CHANNEL_OA_TEXT_MAX 2000
#define CHANNEL_MESSENGER_TEXT_MAX 2000
#define CHANNEL_TWILIO_TEXT_MAX 1600

struct channel_driver_ops {
	const char *name;
	enum channel_address address;
	bool sms;
	/* Called with settings, message, recipient and tracking_id already
	 * checked by channel_build (url set and well-formed; recipient of
	 * the driver's address kind; tracking_id NULL or well-formed).
	 * Fills req (owned, zeroed on entry; channel_build clears it on
	 * failure) or returns -EINVAL with a reason in err, or -ENOMEM. */
	int (*build)(const struct channel_settings *s,
		     const struct channel_message *m,
		     struct channel_request *req, char *err, size_t errsz);
	/* Reads a parsed reply (a JSON object). Returns true when the reply
	 * is the provider's own (a success or an error it documents), after
	 * setting ret->outcome, code, message and, on success, msg_id and
	 * segments. False leaves ret alone and lets channel.c decide from the
	 * HTTP status. */
	bool (*classify)(int http_status, const json_t *root,
			 struct channel_result *ret);
};

extern const struct channel_driver_ops channel__zns_ops;
extern const struct channel_driver_ops channel__zalo_oa_ops;
extern const struct channel_driver_ops channel__messenger_ops;
extern const struct channel_driver_ops channel__esms_ops;
extern const struct channel_driver_ops channel__twilio_ops;

/* One row of a provider's code table: code (or codes code..code_max when
 * code_max is not 0), an optional subcode (Messenger error_subcode; 0 = any
 * subcode) and what the code means for loaxad. */
struct channel_code {
	long long code;
	long long code_max;
	long long subcode;
	enum channel_outcome outcome;
	const char *note;
};

/* The row for (code, subcode): a row naming the subcode wins over one for
 * any subcode, and a single code over a range; NULL when none. */
const struct channel_code *channel__code_find(const struct channel_code *t,
					      size_t n, long long code,
					      bool has_subcode,
					      long long subcode);

/* ---- build helpers ---- */

static inline void channel__json_decrefp(json_t **j)
{
	json_decref(*j);
}

/* Write a reason to err (if any) and return r. */
int channel__error(char *err, size_t errsz, int r, const char *fmt, ...)
	_printf_(4, 5);

/* A setting is present: non-NULL and non-empty. */
static inline bool channel__set(const char *s)
{
	return s && *s;
}

/* Checks a required setting: present, valid UTF-8 and, when header is
 * true, free of control characters (it goes into an HTTP header, a URL or
 * "user:password"). -EINVAL with "<driver>: <name> is not set" etc. */
int channel__check_setting(const char *driver, const char *name,
			   const char *v, bool header, char *err,
			   size_t errsz);

/* Checks message text: present, valid UTF-8, at most max code points
 * (0 = no limit). */
int channel__check_text(const char *driver, const char *text, size_t max,
			char *err, size_t errsz);

/* Number of code points of valid UTF-8. */
size_t channel__utf8_count(const char *s, size_t len);

/* req->method = "POST", req->url = a copy of url. */
int channel__request_init(struct channel_request *req, const char *url);
/* Append "name: value". */
int channel__request_add_header(struct channel_request *req,
				const char *name, const char *value);
/* Serialise root compactly into req->body. */
int channel__request_set_json(struct channel_request *req, const json_t *root);

/* obj[key] = string value (valid UTF-8 checked by the caller); -ENOMEM. */
int channel__json_set_str(json_t *obj, const char *key, const char *value);

/* Percent-encode for application/x-www-form-urlencoded and URL queries:
 * [A-Za-z0-9-._~] as is, everything else %XX (space is %20). */
int channel__urlencode_append(struct buf *b, const char *s);
/* The drivers' name for channel_form_add (channel.h). */
static inline int channel__form_add(struct buf *b, const char *name,
				    const char *value)
{
	return channel_form_add(b, name, value);
}

/* ---- classify helpers ---- */

/* An integer from a JSON integer, an integral real or a string of an
 * optional '-' and 1..18 digits. */
bool channel__json_int(const json_t *v, long long *ret);

/* ret->code = printf(fmt, ...), sanitised like channel__text_copy. */
void channel__result_code(struct channel_result *ret, const char *fmt, ...)
	_printf_(2, 3);
/* ret->message = the provider's message v when it is a non-empty string,
 * else fallback (may be NULL). */
void channel__result_message(struct channel_result *ret, const json_t *v,
			     const char *fallback);
/* ret->msg_id from a JSON string of printable ASCII shorter than
 * sizeof msg_id, or an integer; false (msg_id empty) otherwise. */
bool channel__result_msg_id(struct channel_result *ret, const json_t *v);

/* Copy text for a result field, safe to log and store: at most dsz - 1
 * bytes plus NUL, cut at a code point boundary; invalid UTF-8 becomes
 * U+FFFD, control characters spaces; long token-like words (32 or more
 * of [A-Za-z0-9+/=_.~-]) become "[redacted]" and runs of 9 or more digits
 * (allowing single ' ', '.' or '-' between them: phone numbers) "***". */
void channel__text_copy(char *dst, size_t dsz, const char *src, size_t len);

/* ASCII case-insensitive substring test. */
bool channel__contains_ci(const char *haystack, const char *needle);

/* Zalo's reply shape, shared by ZNS and OA: {"error": <int>, "message":
 * "...", "data": {<id_key>: "..."}}. error 0 is accepted (with an empty
 * msg_id if data lacks it); a code in the table gives its outcome; an
 * unknown negative code is permanent for this message unless the message
 * mentions quota (transient); an unknown positive code is transient. */
bool channel__zalo_classify(const json_t *root, const struct channel_code *t,
			    size_t n, const char *id_key,
			    struct channel_result *ret);

#endif
