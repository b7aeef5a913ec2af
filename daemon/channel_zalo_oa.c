/* channel_zalo_oa.c: Zalo OA consultation text to a follower (providers.md
 * §3).
 *
 * POST <url> (…/v3.0/oa/message/cs) with headers "access_token: <token>"
 * and "Content-Type: application/json", body {"recipient": {"user_id"},
 * "message": {"text"}}; text at most 2,000 characters. The reply has ZNS's
 * shape with the id in data.message_id.
 */
#include "channel-internal.h"

#include <errno.h>

/* providers.md §3.1, §3.3, §3.4. */
static const struct channel_code oa_codes[] = {
	{ -32, 0, 0, CHO_RATE_LIMITED, "OA or app reached its API call limit" },
	{ -201, 0, 0, CHO_CONFIG, "a request field is invalid" },
	{ -204, 0, 0, CHO_CONFIG, "OA disabled" },
	{ -205, 0, 0, CHO_CONFIG, "OA does not exist" },
	{ -209, 0, 0, CHO_CONFIG, "API not supported (app not active)" },
	{ -211, 0, 0, CHO_TRANSIENT, "out of quota: retry later" },
	{ -213, 0, 0, CHO_PERMANENT, "user does not follow the OA" },
	{ -216, 0, 0, CHO_AUTH, "access token invalid" },
	{ -217, 0, 0, CHO_PERMANENT, "user blocked messages from the OA" },
	{ -218, 0, 0, CHO_TRANSIENT, "user's receive quota exhausted" },
	{ -220, 0, 0, CHO_AUTH, "access token expired or removed" },
	{ -221, 0, 0, CHO_CONFIG, "OA needs to be verified" },
	{ -224, 0, 0, CHO_CONFIG, "OA tier package needed" },
	{ -227, 0, 0, CHO_PERMANENT, "user banned or inactive" },
	{ -230, 0, 0, CHO_PERMANENT,
	  "user has not interacted with the OA in 7 days" },
	{ -232, 0, 0, CHO_PERMANENT,
	  "user has not interacted with the OA recently" },
	{ -233, 0, 0, CHO_CONFIG, "message type invalid" },
	{ -234, 0, 0, CHO_TRANSIENT,
	  "cannot be sent at night (22:00-06:00): retry after 06:00" },
	{ -240, 0, 0, CHO_CONFIG, "message API v2 shut down: use v3" },
	{ -242, 0, 0, CHO_CONFIG, "appsecret_proof invalid" },
	{ -244, 0, 0, CHO_PERMANENT, "user restricted this message type" },
	{ -248, 0, 0, CHO_CONFIG, "violates platform standards" },
	{ -249, 0, 0, CHO_CONFIG, "template does not support sending by uid" },
	/* legacy SDK codes (§3.3) */
	{ -305, 0, 0, CHO_PERMANENT, "reply window of 48 hours passed" },
	{ -311, 0, 0, CHO_PERMANENT, "out of quota for replying to this user" },
	{ -320, 0, 0, CHO_CONFIG, "app not linked to a ZCA account" },
	{ -321, 0, 0, CHO_CONFIG, "ZCA balance too low" },
};

static int oa_build(const struct channel_settings *s,
		    const struct channel_message *m,
		    struct channel_request *req, char *err, size_t errsz)
{
	_cleanup_(channel__json_decrefp) json_t *root = NULL;
	int r;

	r = channel__check_setting("zalo_oa", "access_token", s->access_token,
				   true, err, errsz);
	if (r < 0)
		return r;
	r = channel__check_text("zalo_oa", m->text, CHANNEL_OA_TEXT_MAX, err,
				errsz);
	if (r < 0)
		return r;

	root = json_pack("{s:{s:s},s:{s:s}}", "recipient", "user_id",
			 m->recipient, "message", "text", m->text);
	if (!root)
		return -ENOMEM;
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

static bool oa_classify(int http_status, const json_t *root,
			struct channel_result *ret)
{
	(void)http_status;
	return channel__zalo_classify(root, oa_codes, ARRAY_SIZE(oa_codes),
				      "message_id", ret);
}

const struct channel_driver_ops channel__zalo_oa_ops = {
	.name = "zalo_oa",
	.address = CHA_ZALO_UID,
	.sms = false,
	.build = oa_build,
	.classify = oa_classify,
};
