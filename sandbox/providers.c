/* providers.c: the six fake provider endpoints of loaxa-sandbox.
 *
 * Written from /work/shared/providers.md §1-§6 only. Each handler checks
 * what the real API checks (auth, required fields, phone shapes), then the
 * recipient triggers (docs/sandbox.md), then answers with the documented
 * success shape. Every message that got far enough to have a recipient is
 * recorded (state_record) with its outcome.
 *
 * Codes that the reference marks UNVERIFIED or does not give (ZNS quota
 * exhausted, OAuth refresh errors, malformed ZNS bodies) follow fake-only
 * conventions listed in docs/sandbox.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sandbox.h"

#define ZALO_LIMIT_MESSAGE "Your application/OA reached limit call api"

static const char html_503[] =
	"<html>\r\n<head><title>503 Service Temporarily Unavailable</title>"
	"</head>\r\n<body>\r\n<center><h1>503 Service Temporarily "
	"Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n"
	"</body>\r\n</html>\r\n";
static const char html_502[] =
	"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
	"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx"
	"</center>\r\n</body>\r\n</html>\r\n";

/* ---- routing ---- */

static bool path_segment(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= SB_TOKEN_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c == '_' || c == '-' ||
		      c == '.'))
			return false;
	}
	return true;
}

/* "/v19.0/{page}/messages", "/{page}/messages" (unversioned Graph). */
static bool route_messenger(struct sreq *r, const char *u)
{
	const char *seg, *slash;

	if (u[0] == '/' && u[1] == 'v' && u[2] >= '0' && u[2] <= '9') {
		const char *p = u + 2;

		while (*p >= '0' && *p <= '9')
			p++;
		if (*p != '.' || p[1] < '0' || p[1] > '9')
			return false;
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
		u = p;
	}
	if (u[0] != '/')
		return false;
	seg = u + 1;
	slash = strchr(seg, '/');
	if (!slash || strcmp(slash, "/messages") != 0 ||
	    !path_segment(seg, (size_t)(slash - seg)))
		return false;
	memcpy(r->path_arg, seg, (size_t)(slash - seg));
	r->path_arg[slash - seg] = '\0';
	return true;
}

void prov_route(struct sreq *r)
{
	static const char twilio_prefix[] = "/2010-04-01/Accounts/";
	static const char oa_prefix[] = "/v3.0/oa/message/";
	const char *u = r->url;

	r->route = ROUTE_PROVIDER;
	if (strncmp(u, "/_sandbox", 9) == 0 && (u[9] == '\0' || u[9] == '/')) {
		r->route = ROUTE_CONTROL;
	} else if (streq(u, "/message/template")) {
		r->prov = PROV_ZNS;
	} else if (strncmp(u, oa_prefix, sizeof(oa_prefix) - 1) == 0 &&
		   (streq(u + sizeof(oa_prefix) - 1, "cs") ||
		    streq(u + sizeof(oa_prefix) - 1, "transaction") ||
		    streq(u + sizeof(oa_prefix) - 1, "promotion"))) {
		r->prov = PROV_OA;
		snprintf(r->path_kind, sizeof(r->path_kind), "%s",
			 u + sizeof(oa_prefix) - 1);
	} else if (streq(u, "/v4/oa/access_token")) {
		r->prov = PROV_OAUTH;
	} else if (streq(u, "/MainService.svc/json/"
			    "SendMultipleMessage_V4_post_json/") ||
		   streq(u, "/MainService.svc/json/"
			    "SendMultipleMessage_V4_post_json")) {
		r->prov = PROV_ESMS;
	} else if (strncmp(u, twilio_prefix, sizeof(twilio_prefix) - 1) == 0) {
		const char *sid = u + sizeof(twilio_prefix) - 1;
		const char *slash = strchr(sid, '/');

		if (slash && streq(slash, "/Messages.json") &&
		    path_segment(sid, (size_t)(slash - sid))) {
			r->prov = PROV_TWILIO;
			memcpy(r->path_arg, sid, (size_t)(slash - sid));
			r->path_arg[slash - sid] = '\0';
		} else {
			r->route = ROUTE_UNKNOWN;
		}
	} else if (route_messenger(r, u)) {
		r->prov = PROV_MESSENGER;
	} else {
		r->route = ROUTE_UNKNOWN;
	}
}

/* ---- helpers ---- */

static json_t *parse_json_body(struct sreq *r)
{
	if (!r->body_len)
		return NULL;
	return json_loadb(r->body, r->body_len, 0, NULL);
}

static bool content_type_is(struct sreq *r, const char *type)
{
	const char *ct = sreq_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = strlen(type);

	return ct && strncasecmp(ct, type, n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The common triggers: 000429, 000503, 000999 (docs/sandbox.md). */
enum common_trigger { TRIG_NONE, TRIG_429, TRIG_503, TRIG_HANG };

static enum common_trigger common_trigger(const char *digits)
{
	if (text_ends_with(digits, "000429"))
		return TRIG_429;
	if (text_ends_with(digits, "000503"))
		return TRIG_503;
	if (text_ends_with(digits, "000999"))
		return TRIG_HANG;
	return TRIG_NONE;
}

struct trigger {
	const char *suffix;
	int code;
	int subcode;
	const char *message;
};

static const struct trigger *trigger_find(const struct trigger *t, size_t n,
					  const char *digits)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (text_ends_with(digits, t[i].suffix))
			return &t[i];
	return NULL;
}

/* Store a received message: rec gets the common fields and is consumed. */
static void record(struct sreq *r, const char *to, const char *to_norm,
		   const char *extra, size_t extra_len, json_t *rec,
		   bool accepted)
{
	char iso[48];
	char *s;
	size_t len;
	uint64_t key;

	sb_iso_time(r->arrival_ms, iso);
	json_object_set_new(rec, "provider",
			    json_string(provider_name(r->prov)));
	json_object_set_new(rec, "to", json_string(to));
	json_object_set_new(rec, "received_ms", json_integer(r->arrival_ms));
	json_object_set_new(rec, "time", json_string(iso));
	json_object_set_new(rec, "status", json_integer(r->reply.status));
	json_object_set_new(rec, "result", json_string(r->reply.result));
	json_object_set_new(rec, "accepted", json_boolean(accepted));
	s = json_dumps(rec, JSON_COMPACT);
	json_decref(rec);
	if (!s)
		return;
	len = strlen(s);
	key = state_key_hash(r->prov, to_norm, extra, extra_len);
	state_record(r->prov, r->arrival_ms, to_norm, key, accepted, s, len);
}

static void warn(json_t **warnings, const char *text)
{
	if (!*warnings)
		*warnings = json_array();
	json_array_append_new(*warnings, json_string(text));
}

static void set_warnings(json_t *rec, json_t *warnings)
{
	if (warnings)
		json_object_set_new(rec, "warnings", warnings);
}

/* ---- per-provider error shapes ---- */

static void zalo_error(struct sreq *r, int code, const char *msg)
{
	reply_json(&r->reply, 200, json_pack("{s:i,s:s}", "error", code,
					     "message", msg));
	reply_result(&r->reply, "%d", code);
}

static void graph_error(struct sreq *r, unsigned status, int code,
			int subcode, const char *type, const char *msg,
			int transient)
{
	char trace[12];
	json_t *e;

	state_random_alnum(trace, 11);
	e = json_pack("{s:s,s:s,s:i}", "message", msg, "type", type,
		      "code", code);
	if (subcode)
		json_object_set_new(e, "error_subcode", json_integer(subcode));
	if (transient >= 0)
		json_object_set_new(e, "is_transient", json_boolean(transient));
	json_object_set_new(e, "fbtrace_id", json_string(trace));
	reply_json(&r->reply, status, json_pack("{s:o}", "error", e));
	if (subcode)
		reply_result(&r->reply, "%d/%d", code, subcode);
	else
		reply_result(&r->reply, "%d", code);
}

static void esms_error(struct sreq *r, int code, const char *msg)
{
	char c[16];

	snprintf(c, sizeof(c), "%d", code);
	reply_json(&r->reply, 200, json_pack("{s:s,s:s}", "CodeResult", c,
					     "ErrorMessage", msg));
	reply_result(&r->reply, "%d", code);
}

static void twilio_error(struct sreq *r, unsigned status, int code,
			 const char *msg)
{
	char info[64];

	snprintf(info, sizeof(info), "https://www.twilio.com/docs/errors/%d",
		 code);
	reply_json(&r->reply, status, json_pack("{s:i,s:s,s:s,s:i}",
		"code", code, "message", msg, "more_info", info,
		"status", (int)status));
	reply_result(&r->reply, "%d", code);
}

/* HTTP 429 with Retry-After, in the provider's own error shape. */
static void answer_429(struct sreq *r)
{
	switch (r->prov) {
	case PROV_ZNS:
	case PROV_OA:
	case PROV_OAUTH:
		reply_json(&r->reply, 429,
			   json_pack("{s:i,s:s}", "error", -32, "message",
				     ZALO_LIMIT_MESSAGE));
		break;
	case PROV_MESSENGER:
		graph_error(r, 429, 4, 0, "OAuthException",
			    "(#4) Application request limit reached", 1);
		break;
	case PROV_ESMS:
		reply_json(&r->reply, 429, json_pack("{s:s,s:s}",
			"CodeResult", "160", "ErrorMessage",
			"Exceeded the allowed requests per second"));
		break;
	case PROV_TWILIO:
	default:
		twilio_error(r, 429, 20429, "Too Many Requests");
		break;
	}
	reply_header(&r->reply, "Retry-After", "%d", r->act.retry_after);
	reply_result(&r->reply, "http_429");
}

static void answer_503(struct sreq *r, bool retry_after)
{
	reply_text(&r->reply, 503, "text/html", html_503);
	if (retry_after)
		reply_header(&r->reply, "Retry-After", "%d",
			     r->act.retry_after);
	reply_result(&r->reply, "http_503");
}

static void answer_hang(struct sreq *r)
{
	r->reply.hang = true;
	reply_result(&r->reply, "hang");
}

/* The error a rule's error_rate injects when it gives no "error". */
static void answer_injected(struct sreq *r)
{
	struct action *a = &r->act;

	if (a->error_body || a->error_status) {
		unsigned st = a->error_status ? a->error_status : 200;

		if (a->error_body) {
			free(r->reply.body);
			r->reply.body = a->error_body;
			r->reply.len = strlen(a->error_body);
			r->reply.status = st;
			r->reply.ctype = a->error_ctype;
			a->error_body = NULL;
		} else {
			reply_text(&r->reply, st, "text/plain",
				   "injected error\n");
		}
		if (st == 429 || st == 503)
			reply_header(&r->reply, "Retry-After", "%d",
				     a->retry_after);
		reply_result(&r->reply, "injected");
		return;
	}
	switch (r->prov) {
	case PROV_ZNS:
		zalo_error(r, -100, "Unknown error");
		break;
	case PROV_MESSENGER:
		graph_error(r, 500, 2, 0, "OAuthException",
			    "(#2) Service temporarily unavailable", 1);
		break;
	case PROV_TWILIO:
		twilio_error(r, 500, 20500, "Internal Server Error");
		break;
	case PROV_OA:
	case PROV_OAUTH:
	case PROV_ESMS:
	default:
		reply_text(&r->reply, 502, "text/html", html_502);
		break;
	}
	reply_result(&r->reply, "injected");
}

/* Shared trigger handling; true if it answered. */
static bool answer_common_trigger(struct sreq *r, const char *digits)
{
	switch (common_trigger(digits)) {
	case TRIG_429:
		answer_429(r);
		return true;
	case TRIG_503:
		answer_503(r, false);
		return true;
	case TRIG_HANG:
		answer_hang(r);
		return true;
	case TRIG_NONE:
	default:
		return false;
	}
}

/* ---- Zalo ZNS: POST /message/template (providers.md §1) ---- */

static const struct trigger zns_triggers[] = {
	{ "000118", -118, 0, "Zalo account not existed" },
	{ "000114", -114, 0,
	  "User is inactive, or reject the message, or using "
	  "an outdated Zalo version, or other internal errors" },
	{ "000108", -108, 0, "Phone number invalid" },
	{ "000100", -100, 0, "Unknown error" },
	{ "000110", -110, 0, "Zalo version unsupported" },
	{ "000115", -115, 0, "Out of quota" },
	{ "000124", -124, 0, "Access token is invalid" },
	{ "000234", -234, 0,
	  "This message cannot be sent at night "
	  "(10:00PM - 6:00AM)" },
};

static void zns_send(struct sreq *r)
{
	_cleanup_(json_decrefp) json_t *body = NULL;
	json_t *data, *warnings = NULL, *rec, *v;
	const char *phone, *template_id, *tracking_id, *mode, *sending_mode;
	const struct trigger *t;
	char nsn[16], msg_id[24], sent[24], dq[24], rq[24];
	int64_t daily, remaining;
	const char *k;
	size_t i;

	if (state_token_check(sreq_header(r, "access_token")) != TOKEN_OK) {
		zalo_error(r, -124, "Access token is invalid");
		return;
	}
	if (!streq(r->method, "POST")) {
		zalo_error(r, -106, "Method unsupported");
		return;
	}
	body = parse_json_body(r);
	if (!json_is_object(body)) {
		zalo_error(r, -201,
			   "body is invalid! (expected a JSON object)");
		return;
	}
	phone = jstr(body, "phone");
	template_id = jstr(body, "template_id");
	data = json_object_get(body, "template_data");
	tracking_id = jstr(body, "tracking_id");
	sending_mode = jstr(body, "sending_mode");
	mode = jstr(body, "mode");
	if (!phone || phone_zns(phone, nsn) < 0) {
		zalo_error(r, -108, "Phone number invalid");
		return;
	}
	if (!template_id || !text_is_digits(template_id, 1, 32)) {
		zalo_error(r, -109, "Template ID invalid");
		return;
	}
	if (the_config.n_zns_templates) {
		for (i = 0; i < the_config.n_zns_templates; i++)
			if (streq(the_config.zns_templates[i], template_id))
				break;
		if (i == the_config.n_zns_templates) {
			zalo_error(r, -109, "Template ID invalid");
			return;
		}
	}
	if (!data || (json_is_object(data) && json_object_size(data) == 0)) {
		zalo_error(r, -111, "Template data empty");
		return;
	}
	if (!json_is_object(data)) {
		zalo_error(r, -112, "Template data invalid");
		return;
	}
	json_object_foreach(data, k, v) {
		if (!json_is_string(v) ||
		    text_utf8_chars(json_string_value(v)) > 400) {
			zalo_error(r, -112, "Template data invalid");
			return;
		}
	}
	if (!tracking_id || !*tracking_id) {
		zalo_error(r, -201, "tracking_id is invalid!");
		return;
	}
	if ((json_object_get(body, "sending_mode") && !sending_mode) ||
	    (sending_mode && !streq(sending_mode, "1") &&
	     !streq(sending_mode, "3"))) {
		zalo_error(r, -201, "sending_mode is invalid!");
		return;
	}
	if (json_object_get(body, "mode") && !mode) {
		zalo_error(r, -201, "mode is invalid!");
		return;
	}
	if (text_utf8_chars(tracking_id) > 48)
		warn(&warnings, "tracking_id is longer than 48 characters");
	for (k = tracking_id; *k; k++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
			    "YZ"
			    "0123456789_-.:",
			    *k)) {
			warn(&warnings, "tracking_id has special characters");
			break;
		}

	/* A well-formed message: outcome, then record. */
	msg_id[0] = '\0';
	if (answer_common_trigger(r, nsn)) {
		/* answered */
	} else if ((t = trigger_find(zns_triggers, ARRAY_SIZE(zns_triggers),
				     nsn))) {
		zalo_error(r, t->code, t->message);
	} else if (!state_zns_quota_take(&daily, &remaining)) {
		zalo_error(r, -115,
			   "Out of quota: the ZNS daily quota is used up");
	} else {
		state_random_hex(msg_id, 20);
		snprintf(sent, sizeof(sent), "%" PRId64, sb_now_ms());
		snprintf(dq, sizeof(dq), "%" PRId64, daily);
		snprintf(rq, sizeof(rq), "%" PRId64, remaining);
		reply_json(&r->reply, 200, json_pack(
			"{s:i,s:s,s:{s:s,s:s,s:s,s:{s:s,s:s}}}",
			"error", 0, "message", "Success", "data",
			"msg_id", msg_id, "sent_time", sent,
			"sending_mode", sending_mode ? sending_mode : "1",
			"quota", "dailyQuota", dq, "remainingQuota", rq));
		reply_result(&r->reply, "ok");
	}
	rec = json_pack("{s:s,s:O,s:s}", "template_id", template_id,
			"template_data", data, "tracking_id", tracking_id);
	if (sending_mode)
		json_object_set_new(rec, "sending_mode",
				    json_string(sending_mode));
	if (mode)
		json_object_set_new(rec, "mode", json_string(mode));
	if (msg_id[0])
		json_object_set_new(rec, "msg_id", json_string(msg_id));
	set_warnings(rec, warnings);
	if (msg_id[0])
		receipts_schedule(r, &(struct receipt_msg){
			.to = phone, .msg_id = msg_id,
			.tracking_id = tracking_id, .sent_ms = sb_now_ms() });
	record(r, phone, nsn, tracking_id, strlen(tracking_id), rec,
	       streq(r->reply.result, "ok"));
}

/* ---- Zalo OA: POST /v3.0/oa/message/{cs,transaction,promotion} (§3) ---- */

static const struct trigger oa_triggers[] = {
	{ "000213", -213, 0, "User has not followed OA" },
	{ "000217", -217, 0, "User blocked invitation from OA" },
	{ "000227", -227, 0, "User is banned or inactive more than 45 days" },
	{ "000230", -230, 0,
	  "User has not interacted with the OA in the past 7 days" },
	{ "000232", -232, 0,
	  "User has not interacted with the OA, or the last "
	  "interaction has expired" },
	{ "000234", -234, 0,
	  "This message cannot be sent at night "
	  "(10:00PM - 6:00AM)" },
	{ "000244", -244, 0,
	  "User has restricted this message type from your OA" },
	{ "000211", -211, 0, "Out of quota" },
	{ "000218", -218, 0, "Out of quota receive" },
	{ "000032", -32, 0, ZALO_LIMIT_MESSAGE },
};

static void oa_send(struct sreq *r)
{
	_cleanup_(json_decrefp) json_t *body = NULL;
	json_t *recipient, *message, *attachment, *rec, *payload;
	const struct trigger *t;
	const char *user_id, *text;
	char msg_id[24], sent[24];
	_cleanup_free_ char *extra = NULL;
	enum token_state ts;
	bool cs = streq(r->path_kind, "cs");

	if (r->act.rl_limit >= 0) {
		reply_header(&r->reply, "X-RateLimit-Limit", "%" PRId64,
			     r->act.rl_limit);
		reply_header(&r->reply, "X-RateLimit-Remain", "%" PRId64,
			     r->act.rl_remain);
	}
	if (r->act.limited == LIMIT_BUILTIN) {
		zalo_error(r, -32,
			   ZALO_LIMIT_MESSAGE);
		return;
	}
	ts = state_token_check(sreq_header(r, "access_token"));
	if (ts == TOKEN_EXPIRED) {
		zalo_error(r, -220, "access_token is expired or removed");
		return;
	} else if (ts != TOKEN_OK) {
		zalo_error(r, -216, "Access token is invalid");
		return;
	}
	if (!streq(r->method, "POST")) {
		zalo_error(r, -209, "Not supported this api");
		return;
	}
	body = parse_json_body(r);
	if (!json_is_object(body)) {
		zalo_error(r, -201, "body is invalid!");
		return;
	}
	recipient = json_object_get(body, "recipient");
	user_id = jstr(recipient, "user_id");
	if (!text_is_digits(user_id, 1, 32)) {
		zalo_error(r, -201, "user_id is invalid!");
		return;
	}
	message = json_object_get(body, "message");
	if (!json_is_object(message)) {
		zalo_error(r, -201, "message is invalid!");
		return;
	}
	text = jstr(message, "text");
	attachment = json_object_get(message, "attachment");
	if (cs) {
		if (!attachment &&
		    (!text || !*text || text_utf8_chars(text) > 2000)) {
			zalo_error(r, -201, "text is invalid!");
			return;
		}
		if (attachment && !json_is_object(attachment)) {
			zalo_error(r, -201, "attachment is invalid!");
			return;
		}
	} else {
		payload = json_object_get(attachment, "payload");
		if (!json_is_object(attachment) ||
		    !streq(jstr(attachment, "type"), "template") ||
		    !json_is_object(payload) ||
		    !jstr(payload, "template_type")) {
			zalo_error(r, -201, "attachment is invalid!");
			return;
		}
	}

	msg_id[0] = '\0';
	if (answer_common_trigger(r, user_id)) {
		/* answered */
	} else if ((t = trigger_find(oa_triggers, ARRAY_SIZE(oa_triggers),
				     user_id))) {
		zalo_error(r, t->code, t->message);
	} else {
		json_t *d;

		state_random_hex(msg_id, 20);
		snprintf(sent, sizeof(sent), "%" PRId64, sb_now_ms());
		d = json_pack("{s:s,s:s,s:s}", "message_id", msg_id,
			      "user_id", user_id, "sent_time", sent);
		if (cs)
			json_object_set_new(d, "quota",
					    json_pack("{s:s,s:s,s:s}",
						      "quota_type", "reply",
						      "remain", "8", "total",
						      "8"));
		reply_json(&r->reply, 200, json_pack("{s:o,s:i,s:s}", "data", d,
			"error", 0, "message", "Success"));
		reply_result(&r->reply, "ok");
	}
	rec = json_pack("{s:s}", "endpoint", r->path_kind);
	if (text && !attachment)
		json_object_set_new(rec, "text", json_string(text));
	if (attachment)
		json_object_set(rec, "attachment", attachment);
	if (msg_id[0])
		json_object_set_new(rec, "message_id", json_string(msg_id));
	extra = text && !attachment ? strdup(text) :
		json_dumps(attachment, JSON_COMPACT | JSON_SORT_KEYS);
	if (msg_id[0])
		receipts_schedule(r, &(struct receipt_msg){
			.to = user_id, .msg_id = msg_id,
			.sent_ms = sb_now_ms() });
	record(r, user_id, user_id, extra ? extra : "",
	       extra ? strlen(extra) : 0, rec, streq(r->reply.result, "ok"));
}

/* ---- Zalo OAuth v4: POST /v4/oa/access_token (§2) ---- */

static void oauth_error(struct sreq *r, int code, const char *name,
			const char *desc)
{
	reply_json(&r->reply, 200, json_pack("{s:i,s:s,s:s,s:s}",
		"error", code, "error_name", name, "error_description", desc,
		"message", desc));
	reply_result(&r->reply, "%d", code);
}

static void oauth_token(struct sreq *r)
{
	struct form f = { 0 };
	const char *secret, *grant, *app_id, *refresh;
	char access[SB_TOKEN_MAX], next[SB_TOKEN_MAX], ttl[24];
	int ret;

	if (!streq(r->method, "POST")) {
		oauth_error(r, -14001, "Invalid parameter",
			    "method must be POST");
		return;
	}
	secret = sreq_header(r, "secret_key");
	if (!secret || !streq(secret, the_config.app_secret)) {
		oauth_error(r, -14003, "Invalid secret key",
			    "header secret_key is missing or does not match "
			    "the app secret");
		return;
	}
	if (!content_type_is(r, "application/x-www-form-urlencoded")) {
		oauth_error(r, -14001, "Invalid parameter",
			    "expected Content-Type: "
			    "application/x-www-form-urlencoded");
		return;
	}
	if (form_parse(&f, r->body ? r->body : "", r->body_len) < 0) {
		form_free(&f);
		oauth_error(r, -14001, "Invalid parameter",
			    "malformed form body");
		return;
	}
	app_id = form_get(&f, "app_id");
	grant = form_get(&f, "grant_type");
	refresh = form_get(&f, "refresh_token");
	if (!app_id || !streq(app_id, the_config.app_id)) {
		oauth_error(r, -14002, "Invalid app_id",
			    "app_id is missing or unknown");
	} else if (!grant || !streq(grant, "refresh_token")) {
		oauth_error(r, -14004, "Unsupported grant_type",
			    "the sandbox supports grant_type=refresh_token "
			    "only");
	} else if (!refresh || !*refresh) {
		oauth_error(r, -14001, "Invalid parameter",
			    "refresh_token is missing");
	} else if ((ret = state_token_refresh(refresh, access, next)) ==
		   -EALREADY) {
		oauth_error(r, -14015, "Refresh token already used",
			    "this refresh token was already exchanged; refresh "
			    "tokens are single use");
	} else if (ret < 0) {
		oauth_error(r, -14014, "Invalid refresh token",
			    "the refresh token is invalid or expired");
	} else {
		snprintf(ttl, sizeof(ttl), "%" PRId64, the_config.token_ttl_s);
		reply_json(&r->reply, 200, json_pack("{s:s,s:s,s:s}",
			"access_token", access, "refresh_token", next,
			"expires_in", ttl));
		reply_result(&r->reply, "ok");
	}
	form_free(&f);
}

/* ---- Facebook Messenger Send API (§4) ---- */

static const struct trigger messenger_triggers[] = {
	{ "000551", 551, 1545041, "This person isn't available right now." },
	{ "000010", 10, 2018278, "(#10) This message is sent outside of "
	  "allowed window." },
	{ "000534", 10, 2534022, "(#10) This message is sent outside of "
	  "allowed window." },
	{ "000108", 10, 2018108, "(#10) This person cannot receive messages "
	  "right now." },
	{ "000100", 100, 2018001, "(#100) No matching user found" },
	{ "000190", 190, 0, "Error validating access token: The session has "
	  "been invalidated." },
	{ "000613", 613, 0, "(#613) Calls to this api have exceeded the rate "
	  "limit." },
	{ "000002", 2, 0, "(#2) Service temporarily unavailable" },
	{ "000063", 10, 1893063, "(#10) This Page is temporarily restricted "
	  "from sending messages." },
};

static const char *const messenger_tags[] = {
	"CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE",
	"HUMAN_AGENT",
};

/* A Graph parameter from the JSON body, the form body or the query. */
static json_t *graph_param(struct sreq *r, json_t *jbody,
			   const struct form *f, const char *name, bool object)
{
	const char *s;

	if (jbody) {
		json_t *v = json_object_get(jbody, name);

		if (v)
			return json_incref(v);
	}
	s = f ? form_get(f, name) : NULL;
	if (!s)
		s = sreq_query(r, name);
	if (!s)
		return NULL;
	if (object)
		return json_loads(s, 0, NULL);
	return json_string(s);
}

static void messenger_send(struct sreq *r)
{
	_cleanup_(json_decrefp) json_t *jbody = NULL, *recipient = NULL,
		*message = NULL, *mtype = NULL, *tag = NULL, *token = NULL;
	struct form f = { 0 };
	bool have_form = false, transient;
	const struct trigger *t;
	const char *psid, *text, *type, *tagv;
	json_t *attachment, *rec;
	char mid[48], ebuf[256];
	_cleanup_free_ char *extra = NULL;
	int64_t sent_ms;
	size_t i;

	if (r->act.limited == LIMIT_BUILTIN) {
		graph_error(r, 400, 613, 0, "OAuthException",
			    "(#613) Calls to this api have exceeded the rate "
			    "limit.",
			    1);
		return;
	}
	if (content_type_is(r, "application/x-www-form-urlencoded")) {
		if (form_parse(&f, r->body ? r->body : "", r->body_len) < 0) {
			form_free(&f);
			graph_error(r, 400, 100, 0, "OAuthException",
				    "(#100) Malformed form body", 0);
			return;
		}
		have_form = true;
	} else if (r->body_len) {
		jbody = parse_json_body(r);
		if (!json_is_object(jbody)) {
			graph_error(r, 400, 100, 0, "OAuthException",
				    "(#100) The request body is not valid JSON",
				    0);
			return;
		}
	}
	token = graph_param(r, jbody, have_form ? &f : NULL, "access_token",
			    false);
	recipient =
		graph_param(r, jbody, have_form ? &f : NULL, "recipient", true);
	message = graph_param(r, jbody, have_form ? &f : NULL, "message", true);
	mtype = graph_param(r, jbody, have_form ? &f : NULL, "messaging_type",
			    false);
	tag = graph_param(r, jbody, have_form ? &f : NULL, "tag", false);
	form_free(&f);

	if (!json_string_value(token)) {
		graph_error(r, 400, 190, 0, "OAuthException",
			    "An access token is required to request this "
			    "resource.",
			    0);
		return;
	}
	if (!streq(json_string_value(token), the_config.page_token)) {
		graph_error(r, 400, 190, 0, "OAuthException",
			    "Invalid OAuth access token - Cannot parse access "
			    "token",
			    0);
		return;
	}
	if (!streq(r->path_arg, "me") &&
	    !streq(r->path_arg, the_config.page_id)) {
		snprintf(ebuf, sizeof(ebuf),
			 "Unsupported post request. Object with "
			 "ID '%.40s' does not exist, cannot be loaded due to "
			 "missing "
			 "permissions, or does not support this operation",
			 r->path_arg);
		graph_error(r, 400, 100, 33, "GraphMethodException", ebuf, 0);
		return;
	}
	if (!streq(r->method, "POST")) {
		graph_error(r, 400, 100, 0, "OAuthException",
			    "(#100) Unsupported method: use POST", 0);
		return;
	}
	if (!json_is_object(recipient)) {
		graph_error(r, 400, 100, 0, "OAuthException",
			    "(#100) The parameter recipient is required", 0);
		return;
	}
	psid = jstr(recipient, "id");
	if (!psid) {
		graph_error(r, 400, 100, 0, "OAuthException",
			    "(#100) param recipient[id] must be a string", 0);
		return;
	}
	if (!text_is_digits(psid, 1, 32)) {
		graph_error(r, 400, 100, 2018001, "OAuthException",
			    "(#100) No matching user found", 0);
		return;
	}
	if (!json_is_object(message)) {
		graph_error(r, 400, 100, 0, "OAuthException",
			    "(#100) The parameter message is required", 0);
		return;
	}
	text = jstr(message, "text");
	attachment = json_object_get(message, "attachment");
	if (json_object_get(message, "text") && !text) {
		graph_error(r, 400, 100, 0, "OAuthException",
			    "(#100) param message[text] must be a string", 0);
		return;
	}
	if (text && text_utf8_chars(text) > 2000) {
		graph_error(r, 400, 100, 0, "OAuthException",
			    "(#100) Length of param message[text] must be less "
			    "than or equal to 2000", 0);
		return;
	}
	if ((!text || !*text) && !json_is_object(attachment)) {
		graph_error(r, 400, 100, 0, "OAuthException",
			    "(#100) Must send either message[text] or "
			    "message[attachment]", 0);
		return;
	}
	type = json_string_value(mtype);
	if (!type || !(streq(type, "RESPONSE") || streq(type, "UPDATE") ||
		       streq(type, "MESSAGE_TAG"))) {
		graph_error(r, 400, 100, 0, "OAuthException",
			    "(#100) param messaging_type must be one of "
			    "{RESPONSE, UPDATE, MESSAGE_TAG}", 0);
		return;
	}
	tagv = json_string_value(tag);
	if (streq(type, "MESSAGE_TAG")) {
		for (i = 0; tagv && i < ARRAY_SIZE(messenger_tags); i++)
			if (streq(tagv, messenger_tags[i]))
				break;
		if (!tagv || i == ARRAY_SIZE(messenger_tags)) {
			graph_error(r, 400, 100, 0, "OAuthException",
				    "(#100) Param tag must be one of "
				    "{CONFIRMED_EVENT_UPDATE, "
				    "POST_PURCHASE_UPDATE, ACCOUNT_UPDATE, "
				    "HUMAN_AGENT}",
				    0);
			return;
		}
	}

	mid[0] = '\0';
	sent_ms = 0;
	if (answer_common_trigger(r, psid)) {
		/* answered */
	} else if ((t = trigger_find(messenger_triggers,
				     ARRAY_SIZE(messenger_triggers), psid))) {
		transient = t->code == 2 || t->code == 613;
		graph_error(r, t->code == 2 ? 500 : 400, t->code, t->subcode,
			    "OAuthException", t->message, transient);
	} else {
		memcpy(mid, "m_", 2);
		state_random_alnum(mid + 2, 40);
		sent_ms = sb_now_ms();
		reply_json(&r->reply, 200, json_pack("{s:s,s:s}",
			"recipient_id", psid, "message_id", mid));
		reply_result(&r->reply, "ok");
	}
	rec = json_pack("{s:s,s:s}", "page_id", r->path_arg,
			"messaging_type", type);
	if (tagv)
		json_object_set_new(rec, "tag", json_string(tagv));
	if (text)
		json_object_set_new(rec, "text", json_string(text));
	if (attachment)
		json_object_set(rec, "attachment", attachment);
	if (mid[0])
		json_object_set_new(rec, "message_id", json_string(mid));
	extra = text ? strdup(text) :
		json_dumps(attachment, JSON_COMPACT | JSON_SORT_KEYS);
	if (mid[0])
		receipts_schedule(r, &(struct receipt_msg){
			.to = psid, .msg_id = mid, .sent_ms = sent_ms });
	record(r, psid, psid, extra ? extra : "", extra ? strlen(extra) : 0,
	       rec, streq(r->reply.result, "ok"));
}

/* ---- eSMS.vn: SendMultipleMessage_V4_post_json (§5.1) ---- */

static const struct trigger esms_triggers[] = {
	{ "000099", 99, 0, "Phone number is blocked" },
	{ "000103", 103, 0, "Balance not enough" },
	{ "000108", 108, 0, "Phone number is invalid" },
	{ "000146", 146, 0, "Content does not match the registered "
	  "customer-care template" },
	{ "000177", 177, 0, "The network of this number is not registered "
	  "for the brandname" },
};

/* A field that eSMS samples send as a string but might be a number. */
static bool esms_flag(json_t *body, const char *key, char *out, size_t n)
{
	json_t *v = json_object_get(body, key);

	if (!v) {
		out[0] = '\0';
		return true;
	}
	if (json_is_string(v))
		snprintf(out, n, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, n, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
	else
		return false;
	return true;
}

static bool esms_send_date_ok(const char *s)
{
	static const char shape[] = "dddd-dd-dd dd:dd:dd";
	size_t i;

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9')
				    : s[i] != shape[i])
			return false;
	return true;
}

static void esms_send(struct sreq *r)
{
	_cleanup_(json_decrefp) json_t *body = NULL;
	const char *key, *secret, *phone, *content, *brand, *request_id,
		*send_date, *callback;
	char sms_type[16], unicode[16], sandbox[16], nsn[16], smsid[40],
		hex[33];
	const struct trigger *t;
	json_t *warnings = NULL, *rec;
	struct sms_info info;
	bool accepted;
	size_t i;

	if (!streq(r->method, "POST")) {
		reply_text(&r->reply, 405, "text/html",
			   "<html><body>Method not allowed</body></html>");
		reply_result(&r->reply, "http_405");
		return;
	}
	body = parse_json_body(r);
	if (!json_is_object(body)) {
		esms_error(r, 99,
			   "Request is invalid (expected a JSON object)");
		return;
	}
	key = jstr(body, "ApiKey");
	secret = jstr(body, "SecretKey");
	if (!key || !secret || !streq(key, the_config.esms_api_key) ||
	    !streq(secret, the_config.esms_secret_key)) {
		esms_error(r, 101, "Authorize Failed");
		return;
	}
	phone = jstr(body, "Phone");
	content = jstr(body, "Content");
	brand = jstr(body, "Brandname");
	request_id = jstr(body, "RequestId");
	send_date = jstr(body, "SendDate");
	callback = jstr(body, "CallbackUrl");
	if (!phone || !*phone) {
		esms_error(r, 99, "Phone is required");
		return;
	}
	if (phone_esms(phone, nsn) < 0) {
		esms_error(r, 108, "Phone number is invalid");
		return;
	}
	if (!content || !*content) {
		esms_error(r, 99, "Content is required");
		return;
	}
	if (!esms_flag(body, "SmsType", sms_type, sizeof(sms_type)) ||
	    !(streq(sms_type, "2") || streq(sms_type, "8"))) {
		esms_error(r, 118, "Message type is not supported");
		return;
	}
	if (streq(sms_type, "2")) {
		bool ok = brand && *brand && strlen(brand) <= 11;

		for (i = 0; ok && brand[i]; i++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
				    "QRSTUVWXYZ"
				    "0123456789 .-_",
				    brand[i]))
				ok = false;
		if (ok && the_config.n_esms_brandnames) {
			for (i = 0; i < the_config.n_esms_brandnames; i++)
				if (streq(the_config.esms_brandnames[i], brand))
					break;
			ok = i < the_config.n_esms_brandnames;
		}
		if (!ok) {
			esms_error(r, 104, "Brandname does not exist");
			return;
		}
	}
	if (!esms_flag(body, "IsUnicode", unicode, sizeof(unicode)) ||
	    !(streq(unicode, "") || streq(unicode, "0") ||
	      streq(unicode, "1"))) {
		esms_error(r, 99, "IsUnicode must be \"0\" or \"1\"");
		return;
	}
	if (!esms_flag(body, "Sandbox", sandbox, sizeof(sandbox)) ||
	    !(streq(sandbox, "") || streq(sandbox, "0") ||
	      streq(sandbox, "1"))) {
		esms_error(r, 99, "Sandbox must be \"0\" or \"1\"");
		return;
	}
	if ((json_object_get(body, "RequestId") && !request_id) ||
	    (request_id && (!*request_id || strlen(request_id) > 50))) {
		esms_error(r, 99,
			   "RequestId must be a string of 1 to 50 characters");
		return;
	}
	if ((json_object_get(body, "SendDate") && !send_date) ||
	    (send_date && *send_date && !esms_send_date_ok(send_date))) {
		esms_error(r, 99, "SendDate must be yyyy-mm-dd hh:MM:ss");
		return;
	}
	text_sms_info(content, &info);
	if (info.ucs2 && !streq(unicode, "1"))
		warn(&warnings, "IsUnicode is not 1 but Content has characters "
		     "outside GSM-7 (accented Vietnamese?)");

	smsid[0] = '\0';
	accepted = false;
	if (answer_common_trigger(r, nsn)) {
		/* answered */
	} else if ((t = trigger_find(esms_triggers, ARRAY_SIZE(esms_triggers),
				     nsn))) {
		esms_error(r, t->code, t->message);
	} else if (request_id && !state_esms_request_id_claim(request_id)) {
		esms_error(r, 124, "RequestId is duplicated");
	} else {
		state_random_hex(hex, 32);
		snprintf(smsid, sizeof(smsid), "%.8s-%.4s-4%.3s-a%.3s-%.12s",
			 hex, hex + 8, hex + 12, hex + 15, hex + 18);
		reply_json(&r->reply, 200,
			   json_pack("{s:s,s:i,s:s}", "CodeResult", "100",
				     "CountRegenerate", 0, "SMSID", smsid));
		reply_result(&r->reply, streq(sandbox, "1") ? "sandbox" : "ok");
		accepted = !streq(sandbox, "1");
	}
	rec = json_pack("{s:s,s:s,s:i,s:s}", "text", content,
			"sms_type", sms_type, "segments", (int)info.segments,
			"encoding", info.ucs2 ? "UCS-2" : "GSM-7");
	if (brand)
		json_object_set_new(rec, "brandname", json_string(brand));
	if (unicode[0])
		json_object_set_new(rec, "is_unicode", json_string(unicode));
	if (streq(sandbox, "1"))
		json_object_set_new(rec, "sandbox", json_true());
	if (request_id)
		json_object_set_new(rec, "request_id", json_string(request_id));
	if (send_date && *send_date)
		json_object_set_new(rec, "send_date", json_string(send_date));
	if (smsid[0])
		json_object_set_new(rec, "smsid", json_string(smsid));
	if (callback)
		json_object_set_new(rec, "callback_url", json_string(callback));
	set_warnings(rec, warnings);
	if (accepted)
		receipts_schedule(r, &(struct receipt_msg){
			.to = phone, .msg_id = smsid,
			.tracking_id = request_id, .callback = callback,
			.sent_ms = sb_now_ms() });
	record(r, phone, nsn, content, strlen(content), rec, accepted);
}

/* ---- Twilio: POST /2010-04-01/Accounts/{sid}/Messages.json (§5.4) ---- */

static const struct trigger twilio_triggers[] = {
	{ "021211", 21211, 0, NULL },
	{ "021610", 21610, 0, "Attempt to send to unsubscribed recipient" },
	{ "021612", 21612, 0,
	  "The 'To' phone number is not currently reachable "
	  "using the 'From' phone number via SMS." },
	{ "021614", 21614, 0, "'To' number is not a valid mobile number" },
	{ "021608", 21608, 0,
	  "The number is unverified. Trial accounts cannot "
	  "send messages to unverified numbers." },
	{ "021635", 21635, 0, "'To' number cannot be a landline" },
	{ "020429", 20429, 0, "Too Many Requests" },
};

/* Accepted (201) but reported undelivered later: kept in the record. */
static const struct trigger twilio_async[] = {
	{ "030003", 30003, 0, "Unreachable destination handset" },
	{ "030005", 30005, 0, "Unknown destination handset" },
	{ "030006", 30006, 0, "Landline or unreachable carrier" },
	{ "030007", 30007, 0, "Message filtered" },
	{ "030008", 30008, 0, "Unknown error" },
};

static bool twilio_auth(struct sreq *r)
{
	const char *h = sreq_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	char dec[2 * SB_TOKEN_MAX + 2], *colon;

	if (!h || strncasecmp(h, "Basic ", 6) != 0 ||
	    strlen(h + 6) > 4 * sizeof(dec) / 3 - 4 ||
	    text_base64_decode(h + 6, dec, sizeof(dec)) < 0)
		return false;
	colon = strchr(dec, ':');
	if (!colon)
		return false;
	*colon = '\0';
	return streq(dec, the_config.twilio_sid) &&
	       streq(colon + 1, the_config.twilio_token);
}

static void rfc2822(int64_t ms, char out[static 40])
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
					    "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
					      "Jun", "Jul", "Aug", "Sep", "Oct",
					      "Nov", "Dec" };
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000",
		 days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void twilio_send(struct sreq *r)
{
	struct form f = { 0 };
	const char *to, *from, *mss, *text, *callback;
	const struct trigger *t, *async = NULL;
	char nsn[16], sid[40], ebuf[200], date[40], uri[200], segs[16];
	json_t *rec, *o;
	struct sms_info info;

	if (!twilio_auth(r)) {
		twilio_error(r, 401, 20003, "Authenticate");
		reply_header(&r->reply, "WWW-Authenticate",
			     "Basic realm=\"Twilio API\"");
		return;
	}
	if (!streq(r->path_arg, the_config.twilio_sid)) {
		snprintf(ebuf, sizeof(ebuf),
			 "The requested resource "
			 "/2010-04-01/Accounts/%.40s/Messages.json was not "
			 "found",
			 r->path_arg);
		twilio_error(r, 404, 20404, ebuf);
		return;
	}
	if (!streq(r->method, "POST")) {
		twilio_error(r, 405, 20004, "Method not allowed");
		return;
	}
	/* Twilio reads form parameters only: any other body is no body. */
	if (content_type_is(r, "application/x-www-form-urlencoded") &&
	    form_parse(&f, r->body ? r->body : "", r->body_len) < 0) {
		form_free(&f);
		twilio_error(r, 400, 21602, "Message body is required.");
		return;
	}
	to = form_get(&f, "To");
	from = form_get(&f, "From");
	mss = form_get(&f, "MessagingServiceSid");
	text = form_get(&f, "Body");
	callback = form_get(&f, "StatusCallback");
	if (!to || !*to) {
		twilio_error(r, 400, 21604, "A 'To' phone number is required.");
		goto out;
	}
	if (phone_e164(to, nsn) < 0) {
		snprintf(ebuf, sizeof(ebuf), "The 'To' number %.40s is not a "
			 "valid phone number.", to);
		twilio_error(r, 400, 21211, ebuf);
		goto out;
	}
	if ((!from || !*from) && (!mss || !*mss)) {
		twilio_error(r, 400, 21603,
			     "A 'From' phone number is required.");
		goto out;
	}
	if (!text || !*text) {
		twilio_error(r, 400, 21602, "Message body is required.");
		goto out;
	}
	if (text_utf8_chars(text) > 1600) {
		twilio_error(r, 400, 21617,
			     "The concatenated message body exceeds "
			     "the 1600 character limit.");
		goto out;
	}
	text_sms_info(text, &info);

	sid[0] = '\0';
	if (answer_common_trigger(r, nsn)) {
		/* answered */
	} else if ((t = trigger_find(twilio_triggers,
				     ARRAY_SIZE(twilio_triggers), nsn))) {
		if (t->code == 21211) {
			snprintf(ebuf, sizeof(ebuf),
				 "The 'To' number %.40s is not "
				 "a valid phone number.",
				 to);
			twilio_error(r, 400, 21211, ebuf);
		} else if (t->code == 20429) {
			twilio_error(r, 429, 20429, t->message);
			reply_header(&r->reply, "Retry-After", "%d",
				     r->act.retry_after);
		} else {
			twilio_error(r, 400, t->code, t->message);
		}
	} else {
		async = trigger_find(twilio_async, ARRAY_SIZE(twilio_async),
				     nsn);
		memcpy(sid, "SM", 2);
		state_random_hex(sid + 2, 32);
		rfc2822(r->arrival_ms, date);
		snprintf(uri, sizeof(uri),
			 "/2010-04-01/Accounts/%s/Messages/%s.json",
			 the_config.twilio_sid, sid);
		snprintf(segs, sizeof(segs), "%u", info.segments);
		o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:n,s:s,s:s,s:n,s:n,s:s,s:"
			      "s,"
			      "s:n,s:s,s:s,s:s,s:s,s:s,s:{s:s}}",
			      "account_sid", the_config.twilio_sid,
			      "api_version", "2010-04-01", "body", text,
			      "date_created", date, "date_updated", date,
			      "date_sent", "direction", "outbound-api", "from",
			      from && *from ? from : "", "error_code",
			      "error_message", "num_media", "0", "num_segments",
			      segs, "price", "price_unit", "USD", "sid", sid,
			      "status", mss && *mss ? "accepted" : "queued",
			      "to", to, "uri", uri, "subresource_uris", "media",
			      "");
		if (o) {
			char media[240];

			snprintf(media, sizeof(media),
				 "/2010-04-01/Accounts/%s/"
				 "Messages/%s/Media.json",
				 the_config.twilio_sid, sid);
			json_object_set_new(json_object_get(o, "subresource_"
							       "uris"),
					    "media", json_string(media));
			if (!from || !*from)
				json_object_set_new(o, "from", json_null());
			json_object_set_new(o, "messaging_service_sid",
					    mss && *mss ? json_string(mss)
							: json_null());
		}
		reply_json(&r->reply, 201, o);
		reply_result(&r->reply, "ok");
	}
	rec = json_pack("{s:s,s:i,s:s}", "text", text,
			"num_segments", (int)info.segments,
			"encoding", info.ucs2 ? "UCS-2" : "GSM-7");
	if (from && *from)
		json_object_set_new(rec, "from", json_string(from));
	if (mss && *mss)
		json_object_set_new(rec, "messaging_service_sid",
				    json_string(mss));
	if (callback)
		json_object_set_new(rec, "status_callback",
				    json_string(callback));
	if (sid[0]) {
		json_object_set_new(rec, "sid", json_string(sid));
		json_object_set_new(rec, "delivery", json_string(async ?
			"undelivered" : "delivered"));
		if (async) {
			json_object_set_new(rec, "error_code",
					    json_integer(async->code));
			json_object_set_new(rec, "error_message",
					    json_string(async->message));
		}
	}
	if (sid[0])
		receipts_schedule(r, &(struct receipt_msg){
			.to = to, .msg_id = sid, .callback = callback,
			.from = from && *from ? from : NULL,
			.error_code = async ? async->code : 0,
			.sent_ms = sb_now_ms() });
	record(r, to, nsn, text, strlen(text), rec,
	       streq(r->reply.result, "ok"));
out:
	form_free(&f);
}

/* ---- dispatch ---- */

void prov_handle(struct sreq *r)
{
	struct action *a = &r->act;

	switch (a->mode) {
	case MODE_HANG:
		answer_hang(r);
		return;
	case MODE_503:
		answer_503(r, true);
		return;
	case MODE_429:
		answer_429(r);
		return;
	case MODE_REFUSE:       /* handled on arrival */
	case MODE_OK:
	default:
		break;
	}
	if (a->limited == LIMIT_RULE) {
		answer_429(r);
		return;
	}
	if (a->inject) {
		answer_injected(r);
		return;
	}
	switch (r->prov) {
	case PROV_ZNS:
		zns_send(r);
		break;
	case PROV_OA:
		oa_send(r);
		break;
	case PROV_OAUTH:
		oauth_token(r);
		break;
	case PROV_MESSENGER:
		messenger_send(r);
		break;
	case PROV_ESMS:
		esms_send(r);
		break;
	case PROV_TWILIO:
	default:
		twilio_send(r);
		break;
	}
}
