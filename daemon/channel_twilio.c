/* channel_twilio.c: Twilio Programmable Messaging SMS (providers.md §5.4).
 *
 * POST <url> (the full …/Accounts/<sid>/Messages.json URL) with HTTP Basic
 * "<account_sid>:<auth_token>" and "Content-Type:
 * application/x-www-form-urlencoded", form To=+84<NSN>, From, Body (at most
 * 1,600 characters), StatusCallback (when set). Success is 2xx with a
 * Message resource {"sid", "status", "num_segments", ...}; errors are
 * {"code", "message", "more_info", "status"}.
 */
#include "channel-internal.h"

#include <errno.h>
#include <string.h>

/* providers.md §5.4 (30005/30007/30008 UNVERIFIED there). */
static const struct channel_code twilio_codes[] = {
	{ 20003, 0, 0, CHO_AUTH, "authentication failed" },
	{ 20429, 0, 0, CHO_RATE_LIMITED, "too many requests" },
	{ 21211, 0, 0, CHO_PERMANENT, "invalid To number" },
	{ 21608, 0, 0, CHO_CONFIG, "To number unverified (trial account)" },
	{ 21610, 0, 0, CHO_PERMANENT, "recipient unsubscribed (STOP)" },
	{ 21612, 0, 0, CHO_PERMANENT, "To number unroutable" },
	{ 21614, 0, 0, CHO_PERMANENT, "To number not SMS-capable" },
	{ 21635, 0, 0, CHO_PERMANENT, "To number is a landline" },
	{ 30003, 0, 0, CHO_TRANSIENT, "handset unreachable" },
	{ 30005, 0, 0, CHO_PERMANENT, "unknown destination handset" },
	{ 30006, 0, 0, CHO_PERMANENT, "landline or unreachable carrier" },
	{ 30007, 0, 0, CHO_CONFIG, "message filtered by the carrier" },
	{ 30008, 0, 0, CHO_TRANSIENT, "unknown delivery error" },
};

static int twilio_build(const struct channel_settings *s,
			const struct channel_message *m,
			struct channel_request *req, char *err, size_t errsz)
{
	_cleanup_(buf_free) struct buf form;
	size_t up_len;
	int r;

	buf_init(&form, CHANNEL_BODY_MAX);
	r = channel__check_setting("twilio", "account_sid", s->account_sid,
				   true, err, errsz);
	if (r >= 0 && strchr(s->account_sid, ':'))
		r = channel__error(err, errsz, -EINVAL,
				   "twilio: account_sid contains ':'");
	if (r >= 0)
		r = channel__check_setting("twilio", "auth_token",
					   s->auth_token, true, err, errsz);
	if (r >= 0)
		r = channel__check_setting("twilio", "from", s->from, false,
					   err, errsz);
	if (r >= 0 && channel__set(s->callback_url))
		r = channel__check_setting("twilio", "callback_url",
					   s->callback_url, false, err, errsz);
	if (r >= 0)
		r = channel__check_text("twilio", m->text,
					CHANNEL_TWILIO_TEXT_MAX, err, errsz);
	if (r < 0)
		return r;

	/* providers.md §6.2 step 6: Twilio wants E.164, as we keep it */
	r = channel__form_add(&form, "To", m->recipient);
	if (r >= 0)
		r = channel__form_add(&form, "From", s->from);
	if (r >= 0)
		r = channel__form_add(&form, "Body", m->text);
	if (r >= 0 && channel__set(s->callback_url))
		r = channel__form_add(&form, "StatusCallback", s->callback_url);
	if (r == -E2BIG)
		return channel__error(err, errsz, -EINVAL,
				      "twilio: request too large");
	if (r >= 0)
		r = channel__request_init(req, s->url);
	if (r >= 0)
		r = channel__request_add_header(
			req, "Content-Type",
			"application/x-www-form-urlencoded");
	if (r < 0)
		return r;

	up_len = strlen(s->account_sid) + 1 + strlen(s->auth_token) + 1;
	req->userpwd = malloc(up_len);
	if (!req->userpwd)
		return -ENOMEM;
	snprintf(req->userpwd, up_len, "%s:%s", s->account_sid,
		 s->auth_token);
	req->body_len = form.len;
	req->body = buf_steal(&form);
	return req->body ? 0 : -ENOMEM;
}

static bool twilio_classify(int http_status, const json_t *root,
			    struct channel_result *ret)
{
	long long code, segs;

	if (http_status >= 200 && http_status <= 299 &&
	    channel__result_msg_id(ret, json_object_get(root, "sid"))) {
		ret->outcome = CHO_ACCEPTED;
		if (channel__json_int(json_object_get(root, "num_segments"),
				      &segs) && segs > 0 && segs <= 1000)
			ret->segments = (int)segs;
		channel__result_code(ret, "HTTP %d", http_status);
		channel__result_message(ret, json_object_get(root, "status"),
					"accepted");
		return true;
	}
	ret->msg_id[0] = '\0';

	if (!channel__json_int(json_object_get(root, "code"), &code))
		return false;
	channel__result_code(ret, "%lld", code);
	const struct channel_code *c = channel__code_find(
		twilio_codes, ARRAY_SIZE(twilio_codes), code, false, 0);
	const char *note;
	if (c) {
		ret->outcome = c->outcome;
		note = c->note;
	} else if (http_status >= 400 && http_status <= 499) {
		ret->outcome = CHO_PERMANENT;
		note = "unknown error";
	} else {
		ret->outcome = CHO_TRANSIENT;
		note = "unknown error";
	}
	channel__result_message(ret, json_object_get(root, "message"), note);
	return true;
}

const struct channel_driver_ops channel__twilio_ops = {
	.name = "twilio",
	.address = CHA_PHONE,
	.sms = true,
	.build = twilio_build,
	.classify = twilio_classify,
};
