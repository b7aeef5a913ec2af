/* channel_zns.c: Zalo ZNS template message to a phone (providers.md §1).
 *
 * POST <url> with headers "access_token: <token>" and "Content-Type:
 * application/json", body {"phone": "84<NSN>", "template_id", "template_data":
 * {<key>: "<value>", ...}, "tracking_id"}. The reply is Zalo's {"error",
 * "message", "data": {"msg_id", ...}}, usually with HTTP 200 whatever the
 * outcome, so the driver branches on "error".
 */
#include "channel-internal.h"

#include <errno.h>
#include <string.h>

#include "loaxa/text.h"

/* providers.md §1.3; codes not listed are handled by
 * channel__zalo_classify (unknown negative: permanent, unless about
 * quota). */
static const struct channel_code zns_codes[] = {
	{ -100, 0, 0, CHO_TRANSIENT, "unknown error at Zalo: retry later" },
	{ -101, 0, 0, CHO_CONFIG, "application invalid" },
	{ -102, 0, 0, CHO_CONFIG, "application does not exist" },
	{ -103, 0, 0, CHO_CONFIG, "application not activated" },
	{ -104, 0, 0, CHO_CONFIG, "app secret key invalid" },
	{ -105, 0, 0, CHO_CONFIG, "application not linked to any OA" },
	{ -106, 0, 0, CHO_CONFIG, "method unsupported" },
	{ -107, 0, 0, CHO_CONFIG, "message id invalid" },
	{ -108, 0, 0, CHO_PERMANENT, "phone number invalid" },
	{ -109, 0, 0, CHO_CONFIG, "template id invalid" },
	{ -110, 0, 0, CHO_PERMANENT,
	  "recipient's Zalo version unsupported" },
	/* a bug in our template mapping: pause rather than burn the list */
	{ -111, 0, 0, CHO_CONFIG, "template data empty" },
	{ -112, 0, 0, CHO_CONFIG, "template data invalid" },
	{ -114, 0, 0, CHO_PERMANENT,
	  "user inactive, refused the message or outdated Zalo" },
	{ -118, 0, 0, CHO_PERMANENT, "Zalo account does not exist" },
	{ -124, 0, 0, CHO_AUTH, "access token invalid" },
	/* the OA code for night sending (§3.4); UNVERIFIED for ZNS, but
	 * if it comes, retrying after 06:00 is what it asks for */
	{ -234, 0, 0, CHO_TRANSIENT, "cannot be sent at night" },
};

static int zns_build(const struct channel_settings *s,
		     const struct channel_message *m,
		     struct channel_request *req, char *err, size_t errsz)
{
	_cleanup_(channel__json_decrefp) json_t *root = NULL;
	_cleanup_(channel__json_decrefp) json_t *tdata = NULL;
	char phone[16];
	int r;

	r = channel__check_setting("zns", "access_token", s->access_token,
				   true, err, errsz);
	if (r < 0)
		return r;
	r = channel__check_setting("zns", "template_id", s->template_id, true,
				   err, errsz);
	if (r < 0)
		return r;
	if (!channel__set(m->tracking_id))
		return channel__error(err, errsz, -EINVAL,
				      "zns: tracking_id is required");
	if (m->ntdata && (!m->tdata_keys || !m->tdata_vals))
		return channel__error(err, errsz, -EINVAL,
				      "zns: template data is missing");

	tdata = json_object();
	if (!tdata)
		return -ENOMEM;
	for (size_t i = 0; i < m->ntdata; i++) {
		const char *k = m->tdata_keys[i], *v = m->tdata_vals[i];
		if (!channel__set(k) || !text_utf8_valid(k, strlen(k)))
			return channel__error(err, errsz, -EINVAL,
					      "zns: template parameter %zu "
					      "has no valid name", i + 1);
		if (!v || !text_utf8_valid(v, strlen(v)))
			return channel__error(err, errsz, -EINVAL,
					      "zns: template parameter %zu "
					      "has no valid UTF-8 value",
					      i + 1);
		if (json_object_get(tdata, k))
			return channel__error(err, errsz, -EINVAL,
					      "zns: template parameter %zu "
					      "repeats a name", i + 1);
		r = channel__json_set_str(tdata, k, v);
		if (r < 0)
			return r;
	}

	/* providers.md §6.2 step 6: ZNS wants 84 + NSN */
	snprintf(phone, sizeof phone, "84%s", m->recipient + 3);
	root = json_object();
	if (!root)
		return -ENOMEM;
	r = channel__json_set_str(root, "phone", phone);
	if (r >= 0)
		r = channel__json_set_str(root, "template_id", s->template_id);
	if (r >= 0 && json_object_set(root, "template_data", tdata) < 0)
		r = -ENOMEM;
	if (r >= 0)
		r = channel__json_set_str(root, "tracking_id", m->tracking_id);
	if (r >= 0)
		r = channel__request_init(req, s->url);
	if (r >= 0)
		r = channel__request_add_header(req, "access_token",
						s->access_token);
	if (r >= 0)
		r = channel__request_add_header(req, "Content-Type",
						"application/json");
	if (r >= 0)
		r = channel__request_set_json(req, root);
	return r;
}

static bool zns_classify(int http_status, const json_t *root,
			 struct channel_result *ret)
{
	(void)http_status;
	return channel__zalo_classify(root, zns_codes, ARRAY_SIZE(zns_codes),
				      "msg_id", ret);
}

const struct channel_driver_ops channel__zns_ops = {
	.name = "zns",
	.address = CHA_PHONE,
	.sms = false,
	.build = zns_build,
	.classify = zns_classify,
};
