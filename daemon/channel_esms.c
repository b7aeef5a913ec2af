/* channel_esms.c: eSMS.vn brandname SMS (providers.md §5.1).
 *
 * POST <url> (…/SendMultipleMessage_V4_post_json/) with "Content-Type:
 * application/json", body {"ApiKey", "SecretKey", "Phone": "0<NSN>",
 * "Content", "Brandname", "SmsType", "IsUnicode": "0"/"1", "RequestId":
 * tracking_id (when given), "CallbackUrl" (when set)}. Without unicode the
 * content is stripped of diacritics (đ -> d), and what is still not ASCII
 * becomes its nearest ASCII ("“" -> '"', "…" -> "...") or '?': an
 * unaccented route cannot carry it. The reply is {"CodeResult": "100",
 * "SMSID"} or {"CodeResult": "<code>", "ErrorMessage"}, codes as strings.
 */
#include "channel-internal.h"

#include <errno.h>
#include <string.h>

#include "loaxa/text.h"

/* providers.md §5.1; 100 and 124 are handled before the table. */
static const struct channel_code esms_codes[] = {
	{ 99, 0, 0, CHO_PERMANENT, "phone number blocked or request invalid" },
	{ 101, 0, 0, CHO_CONFIG, "wrong ApiKey or SecretKey" },
	{ 102, 0, 0, CHO_CONFIG, "no price list for the account" },
	{ 103, 0, 0, CHO_CONFIG, "insufficient balance" },
	{ 104, 0, 0, CHO_CONFIG, "brandname does not exist" },
	{ 108, 0, 0, CHO_PERMANENT, "phone number format wrong" },
	{ 118, 0, 0, CHO_CONFIG, "unsupported message type (SmsType)" },
	{ 140, 0, 0, CHO_CONFIG, "IP address not whitelisted" },
	{ 146, 0, 0, CHO_CONFIG,
	  "content does not match a registered customer-care template" },
	{ 160, 0, 0, CHO_RATE_LIMITED, "too many requests per second" },
	{ 177, 0, 0, CHO_PERMANENT,
	  "the carrier is not registered for the brandname" },
};

/* Replace what text_strip_diacritics left outside ASCII, in place (the
 * output is never longer). */
static void esms_ascii(char *s)
{
	static const struct {
		const char *from, *to;
	} map[] = {
		{ "\u2018", "'" }, { "\u2019", "'" }, { "\u201A", "'" },
		{ "\u201C", "\"" }, { "\u201D", "\"" }, { "\u201E", "\"" },
		{ "\u2013", "-" }, { "\u2014", "-" }, { "\u2212", "-" },
		{ "\u2026", "..." }, { "\u00AB", "\"" }, { "\u00BB", "\"" },
		{ "\u00B0", "o" }, { "\u00D7", "x" },
	};
	char *w = s;

	for (const char *p = s; *p;) {
		if ((unsigned char)*p < 0x80) {
			*w++ = *p++;
			continue;
		}
		size_t n = 1;
		while (((unsigned char)p[n] & 0xC0) == 0x80)
			n++;
		const char *to = "?";
		for (size_t i = 0; i < ARRAY_SIZE(map); i++)
			if (strlen(map[i].from) == n &&
			    memcmp(p, map[i].from, n) == 0)
				to = map[i].to;
		size_t tn = strlen(to);
		memmove(w, to, tn);
		w += tn;
		p += n;
	}
	*w = '\0';
}

static int esms_build(const struct channel_settings *s,
		      const struct channel_message *m,
		      struct channel_request *req, char *err, size_t errsz)
{
	_cleanup_(channel__json_decrefp) json_t *root = NULL;
	_cleanup_free_ char *content = NULL;
	const char *sms_type = channel__set(s->sms_type) ? s->sms_type : "2";
	char phone[16];
	int r;

	r = channel__check_setting("esms", "api_key", s->api_key, false, err,
				   errsz);
	if (r >= 0)
		r = channel__check_setting("esms", "secret_key", s->secret_key,
					   false, err, errsz);
	if (r >= 0)
		r = channel__check_setting("esms", "brandname", s->brandname,
					   false, err, errsz);
	if (r >= 0)
		r = channel__check_setting("esms", "sms_type", sms_type, false,
					   err, errsz);
	if (r >= 0 && channel__set(s->callback_url))
		r = channel__check_setting("esms", "callback_url",
					   s->callback_url, false, err, errsz);
	if (r >= 0)
		r = channel__check_text("esms", m->text, 0, err, errsz);
	if (r < 0)
		return r;

	size_t len = strlen(m->text);
	content = malloc(len + 1);
	if (!content)
		return -ENOMEM;
	if (s->unicode) {
		memcpy(content, m->text, len + 1);
	} else {
		text_strip_diacritics(m->text, len, content, len + 1);
		esms_ascii(content);
		if (!content[0])
			return channel__error(err, errsz, -EINVAL,
					      "esms: message text is empty "
					      "without diacritics");
	}

	/* providers.md §6.2 step 6: eSMS wants the national 0 + NSN */
	snprintf(phone, sizeof phone, "0%s", m->recipient + 3);
	root = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ApiKey",
			 s->api_key, "SecretKey", s->secret_key, "Phone",
			 phone, "Content", content, "Brandname",
			 s->brandname, "SmsType", sms_type, "IsUnicode",
			 s->unicode ? "1" : "0");
	if (!root)
		return -ENOMEM;
	if (channel__set(m->tracking_id))
		r = channel__json_set_str(root, "RequestId", m->tracking_id);
	if (r >= 0 && channel__set(s->callback_url))
		r = channel__json_set_str(root, "CallbackUrl", s->callback_url);
	if (r >= 0)
		r = channel__request_init(req, s->url);
	if (r >= 0)
		r = channel__request_add_header(req, "Content-Type",
						"application/json");
	if (r >= 0)
		r = channel__request_set_json(req, root);
	return r;
}

static bool esms_classify(int http_status, const json_t *root,
			  struct channel_result *ret)
{
	const json_t *cr = json_object_get(root, "CodeResult");
	const json_t *msg = json_object_get(root, "ErrorMessage");
	long long code;

	(void)http_status;
	if (!channel__json_int(cr, &code)) {
		/* a CodeResult we cannot read is still eSMS's answer */
		if (!json_is_string(cr) || json_string_length(cr) == 0)
			return false;
		ret->outcome = CHO_TRANSIENT;
		channel__result_code(ret, "%s", json_string_value(cr));
		channel__result_message(ret, msg, "unknown result code");
		return true;
	}
	channel__result_code(ret, "%lld", code);

	if (code == 100 || code == 124) {
		/* 124: this RequestId was accepted before (eSMS blocks
		 * duplicates for 24 h), so the message is already sent */
		ret->outcome = CHO_ACCEPTED;
		const json_t *smsid = json_object_get(root, "SMSID");
		bool id = channel__result_msg_id(ret, smsid);
		if (code == 124)
			snprintf(ret->message, sizeof ret->message,
				 "duplicate RequestId: already accepted");
		else if (!id)
			snprintf(ret->message, sizeof ret->message,
				 "accepted, but the reply has no usable SMSID");
		else
			channel__result_message(ret, msg, "accepted");
		return true;
	}

	const struct channel_code *c = channel__code_find(
		esms_codes, ARRAY_SIZE(esms_codes), code, false, 0);
	ret->outcome = c ? c->outcome : CHO_TRANSIENT;
	channel__result_message(ret, msg, c ? c->note : "unknown result code");
	return true;
}

const struct channel_driver_ops channel__esms_ops = {
	.name = "esms",
	.address = CHA_PHONE,
	.sms = true,
	.build = esms_build,
	.classify = esms_classify,
};
