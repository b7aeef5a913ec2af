/* channel_messenger.c: Facebook Messenger Send API to a PSID (providers.md
 * §4).
 *
 * POST <url>?access_token=<page token> (appended with '&' when the url
 * already has a query) with "Content-Type: application/json", body
 * {"recipient": {"id"}, "messaging_type", "tag" (only with MESSAGE_TAG),
 * "message": {"text"}}; text at most 2,000 characters. Success is 2xx
 * {"recipient_id", "message_id"}; errors are Graph error objects
 * {"error": {"message", "type", "code", "error_subcode", "is_transient",
 * "fbtrace_id"}}.
 */
#include "channel-internal.h"

#include <errno.h>
#include <string.h>

/* providers.md §4.3. Rows with a subcode win over the code's own row. */
static const struct channel_code messenger_codes[] = {
	{ 1, 0, 0, CHO_TRANSIENT, "unknown API error: retry later" },
	{ 2, 0, 0, CHO_TRANSIENT, "service temporarily unavailable" },
	{ 4, 0, 0, CHO_RATE_LIMITED, "application request limit reached" },
	{ 17, 0, 0, CHO_RATE_LIMITED, "user request limit reached" },
	{ 32, 0, 0, CHO_RATE_LIMITED, "page request limit reached" },
	{ 341, 0, 0, CHO_RATE_LIMITED, "application limit reached" },
	{ 613, 0, 0, CHO_RATE_LIMITED, "calls exceeded the rate limit" },
	{ 368, 0, 0, CHO_CONFIG, "temporarily blocked for policy violations" },
	{ 10, 0, 2018278, CHO_PERMANENT,
	  "outside the allowed messaging window" },
	{ 10, 0, 2534022, CHO_PERMANENT,
	  "outside the allowed messaging window" },
	{ 10, 0, 2018108, CHO_PERMANENT, "person cannot receive messages" },
	{ 10, 0, 1893063, CHO_CONFIG,
	  "page temporarily restricted from sending" },
	{ 10, 0, 0, CHO_CONFIG, "permission denied" },
	{ 190, 0, 0, CHO_AUTH, "access token invalid or expired" },
	{ 102, 0, 0, CHO_AUTH, "session invalid or expired" },
	{ 200, 299, 0, CHO_CONFIG, "permission missing" },
	{ 551, 0, 0, CHO_PERMANENT, "person is not available" },
	{ 100, 0, 0, CHO_PERMANENT, "invalid parameter" },
	{ 199, 0, 0, CHO_CONFIG, "unknown error (often missing permissions)" },
};

static const char *const messenger_types[] = {
	"MESSAGE_TAG", "RESPONSE", "UPDATE",
};

static int messenger_build(const struct channel_settings *s,
			   const struct channel_message *m,
			   struct channel_request *req, char *err,
			   size_t errsz)
{
	_cleanup_(channel__json_decrefp) json_t *root = NULL;
	_cleanup_(buf_free) struct buf url;
	const char *type = channel__set(s->messaging_type) ? s->messaging_type
							   : "MESSAGE_TAG";
	const char *tag = channel__set(s->tag) ? s->tag
					       : "CONFIRMED_EVENT_UPDATE";
	bool with_tag, known = false;
	int r;

	buf_init(&url, CHANNEL_BODY_MAX);
	r = channel__check_setting("messenger", "access_token",
				   s->access_token, true, err, errsz);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(messenger_types); i++)
		known = known || strcmp(type, messenger_types[i]) == 0;
	if (!known)
		return channel__error(err, errsz, -EINVAL,
				      "messenger: messaging_type must be "
				      "MESSAGE_TAG, RESPONSE or UPDATE");
	with_tag = strcmp(type, "MESSAGE_TAG") == 0;
	if (with_tag) {
		r = channel__check_setting("messenger", "tag", tag, true, err,
					   errsz);
		if (r < 0)
			return r;
	}
	r = channel__check_text("messenger", m->text,
				CHANNEL_MESSENGER_TEXT_MAX, err, errsz);
	if (r < 0)
		return r;

	/* the page token goes in the query string */
	size_t ulen = strlen(s->url);
	char last = s->url[ulen - 1];
	r = buf_append(&url, s->url, ulen);
	if (r >= 0 && last != '?' && last != '&')
		r = buf_append(&url, strchr(s->url, '?') ? "&" : "?", 1);
	if (r >= 0)
		r = buf_append(&url, "access_token=", 13);
	if (r >= 0)
		r = channel__urlencode_append(&url, s->access_token);
	if (r < 0)
		return r == -E2BIG ? channel__error(err, errsz, -EINVAL,
						    "messenger: url too long")
				   : r;

	if (with_tag)
		root = json_pack("{s:{s:s},s:s,s:s,s:{s:s}}", "recipient", "id",
				 m->recipient, "messaging_type", type, "tag",
				 tag, "message", "text", m->text);
	else
		root = json_pack("{s:{s:s},s:s,s:{s:s}}", "recipient", "id",
				 m->recipient, "messaging_type", type,
				 "message", "text", m->text);
	if (!root)
		return -ENOMEM;
	r = channel__request_init(req, url.data);
	if (r >= 0)
		r = channel__request_add_header(req, "Content-Type",
						"application/json");
	if (r >= 0)
		r = channel__request_set_json(req, root);
	if (url.data)
		explicit_bzero(url.data, url.len);
	return r;
}

static bool messenger_classify(int http_status, const json_t *root,
			       struct channel_result *ret)
{
	const json_t *e = json_object_get(root, "error");
	long long code, sub = 0;

	if (json_is_object(e)) {
		if (!channel__json_int(json_object_get(e, "code"), &code))
			return false;
		bool has_sub = channel__json_int(
			json_object_get(e, "error_subcode"), &sub);
		if (has_sub)
			channel__result_code(ret, "%lld/%lld", code, sub);
		else
			channel__result_code(ret, "%lld", code);
		const struct channel_code *c = channel__code_find(
			messenger_codes, ARRAY_SIZE(messenger_codes), code,
			has_sub, sub);
		const char *note;
		if (c) {
			ret->outcome = c->outcome;
			note = c->note;
		} else if (json_is_true(json_object_get(e, "is_transient"))) {
			ret->outcome = CHO_TRANSIENT;
			note = "unknown error marked transient";
		} else {
			ret->outcome = CHO_PERMANENT;
			note = "unknown error";
		}
		channel__result_message(ret, json_object_get(e, "message"),
					note);
		return true;
	}

	if (http_status >= 200 && http_status <= 299 &&
	    channel__result_msg_id(ret, json_object_get(root, "message_id"))) {
		ret->outcome = CHO_ACCEPTED;
		channel__result_code(ret, "HTTP %d", http_status);
		channel__result_message(ret, NULL, "sent");
		return true;
	}
	ret->msg_id[0] = '\0';
	return false;
}

const struct channel_driver_ops channel__messenger_ops = {
	.name = "messenger",
	.address = CHA_PSID,
	.sms = false,
	.build = messenger_build,
	.classify = messenger_classify,
};
