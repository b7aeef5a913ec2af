/* control.c: loaxa-sandbox's own API under /_sandbox/ (docs/sandbox.md).
 *
 *   GET    /_sandbox/            version, address, uptime
 *   GET    /_sandbox/stats       counters, per-second history, maxima
 *   GET    /_sandbox/messages    recorded messages (?provider=&to=&limit=
 *                                &since=&status=ok|error)
 *   POST   /_sandbox/reset       back to the startup state
 *   GET    /_sandbox/behaviour   current rules ("behavior" also accepted)
 *   POST   /_sandbox/behaviour   add/replace rules (object or array)
 *   DELETE /_sandbox/behaviour   drop every rule
 *   GET    /_sandbox/tokens      Zalo access/refresh tokens
 *   GET    /_sandbox/config      credentials and limits in force
 *   POST   /_sandbox/reply       send a household's reply to loaxad
 *   GET    /_sandbox/webhooks    webhooks sent to loaxad (?limit=)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

#ifndef LOAXA_VERSION
#  if defined(__has_include)
#    if __has_include("config-build.h")
#      include "config-build.h"
#    endif
#  endif
#endif
#ifndef LOAXA_VERSION
#  define LOAXA_VERSION "0.1.0"
#endif

static void bad_request(struct sreq *r, const char *msg)
{
	reply_json(&r->reply, 400, json_pack("{s:s}", "error", msg));
}

static void bad_method(struct sreq *r, const char *allowed)
{
	reply_json(&r->reply, 405,
		   json_pack("{s:s,s:s}", "error", "method not allowed",
			     "allowed", allowed));
	reply_header(&r->reply, "Allow", "%s", allowed);
}

/* Parse the listing filter from the query; false (and a 400) if bad. */
static bool messages_filter(struct sreq *r, struct msg_filter *f)
{
	const char *prov = sreq_query(r, "provider");
	const char *limit = sreq_query(r, "limit");
	const char *since = sreq_query(r, "since");
	const char *status = sreq_query(r, "status");
	int p;

	*f = (struct msg_filter){ .provider = -1, .status = -1, .limit = 1000 };
	if (prov && *prov) {
		p = provider_from_name(prov);
		if (p < 0) {
			bad_request(r, "provider: expected one of zns, oa, "
				       "oauth, "
				       "messenger, esms, twilio");
			return false;
		}
		f->provider = p == PROV_ALL ? -1 : p;
	}
	if (limit) {
		if (!text_is_digits(limit, 1, 9)) {
			bad_request(r, "limit: expected an integer");
			return false;
		}
		f->limit = strtoul(limit, NULL, 10);
	}
	if (since) {
		if (!text_is_digits(since, 1, 19)) {
			bad_request(r, "since: expected an integer");
			return false;
		}
		f->since = strtoull(since, NULL, 10);
	}
	if (status && *status) {
		if (streq(status, "ok") || streq(status, "accepted")) {
			f->status = 1;
		} else if (streq(status, "error")) {
			f->status = 0;
		} else if (!streq(status, "all")) {
			bad_request(r, "status: expected ok, error or all");
			return false;
		}
	}
	f->to = sreq_query(r, "to");
	if (f->to && !*f->to)
		f->to = NULL;
	return true;
}

static void control_messages(struct sreq *r)
{
	struct msg_filter f;
	char *body;
	size_t len;

	if (!messages_filter(r, &f))
		return;
	body = state_messages_json(&f, &len);
	if (!body) {
		reply_text(&r->reply, 500, "text/plain", "out of memory\n");
		return;
	}
	free(r->reply.body);
	r->reply.body = body;
	r->reply.len = len;
	r->reply.status = 200;
	r->reply.ctype = "application/json; charset=utf-8";
}

static void control_behaviour(struct sreq *r)
{
	json_auto_t *body = NULL;
	json_error_t jerr;
	char err[256];

	if (streq(r->method, "GET")) {
		reply_json(&r->reply, 200, state_rules_json());
	} else if (streq(r->method, "DELETE")) {
		state_rules_clear();
		reply_json(&r->reply, 200, state_rules_json());
	} else if (streq(r->method, "POST") || streq(r->method, "PUT")) {
		body = r->body_len ? json_loadb(r->body, r->body_len, 0, &jerr)
				   : NULL;
		if (!body) {
			snprintf(err, sizeof(err), "body: expected JSON (%s)",
				 r->body_len ? jerr.text : "empty body");
			bad_request(r, err);
		} else if (state_rules_apply(body, err, sizeof(err)) < 0) {
			bad_request(r, err);
		} else {
			reply_json(&r->reply, 200, state_rules_json());
		}
	} else {
		bad_method(r, "GET, POST, DELETE");
	}
}

static json_t *string_list(char **v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *config_json(void)
{
	const struct sb_config *c = &the_config;

	return json_pack(
		"{s:s,s:{s:s,s:s,s:s,s:s,s:I},s:{s:s,s:s},"
		"s:{s:s,s:s,s:o},s:{s:s,s:s},s:{s:I,s:o},"
		"s:{s:I,s:I},s:I,s:I,s:I,s:I}",
		"listen", c->listen, "zalo", "access_token", c->access_token,
		"refresh_token", c->refresh_token, "app_id", c->app_id,
		"app_secret", c->app_secret, "token_ttl_s",
		(json_int_t)c->token_ttl_s, "messenger", "page_id", c->page_id,
		"page_token", c->page_token, "esms", "api_key", c->esms_api_key,
		"secret_key", c->esms_secret_key, "brandnames",
		string_list(c->esms_brandnames, c->n_esms_brandnames), "twilio",
		"account_sid", c->twilio_sid, "auth_token", c->twilio_token,
		"zns", "daily_quota", (json_int_t)c->zns_quota, "templates",
		string_list(c->zns_templates, c->n_zns_templates), "limits",
		"oa_per_minute", (json_int_t)c->oa_limit_per_minute,
		"messenger_per_second",
		(json_int_t)c->messenger_limit_per_second, "latency_ms",
		(json_int_t)c->latency_ms, "hang_max_ms",
		(json_int_t)c->hang_max_ms, "max_records",
		(json_int_t)c->max_records, "seed", (json_int_t)c->seed);
}

static void control_reply(struct sreq *r)
{
	json_auto_t *body = NULL;
	json_t *ret = NULL;
	json_error_t jerr;
	char err[256];

	body = r->body_len ? json_loadb(r->body, r->body_len, 0, &jerr) : NULL;
	if (!body) {
		snprintf(err, sizeof(err), "body: expected JSON (%s)",
			 r->body_len ? jerr.text : "empty body");
		bad_request(r, err);
	} else if (receipts_reply(body, &ret, err, sizeof(err)) < 0) {
		bad_request(r, err);
	} else {
		reply_json(&r->reply, 202, ret);
	}
}

static void control_webhooks(struct sreq *r)
{
	const char *limit = sreq_query(r, "limit");
	size_t n = 1000;

	if (limit) {
		if (!text_is_digits(limit, 1, 9)) {
			bad_request(r, "limit: expected an integer");
			return;
		}
		n = strtoul(limit, NULL, 10);
	}
	reply_json(&r->reply, 200,
		   json_pack("{s:o}", "webhooks", receipts_log_json(n)));
}

/* true if r uses method (GET also allows HEAD); else answers 405. */
static bool want(struct sreq *r, const char *method)
{
	if (streq(r->method, method) ||
	    (streq(method, "GET") && streq(r->method, "HEAD")))
		return true;
	bad_method(r, method);
	return false;
}

void control_handle(struct sreq *r)
{
	const char *path = r->url + strlen("/_sandbox");

	if (streq(path, "") || streq(path, "/")) {
		if (want(r, "GET"))
			reply_json(&r->reply, 200,
				   json_pack("{s:s,s:s,s:s}", "name",
					     "loaxa-sandbox", "version",
					     LOAXA_VERSION, "listen",
					     the_config.listen));
	} else if (streq(path, "/stats")) {
		if (want(r, "GET")) {
			json_t *o = state_stats_json();

			json_object_set_new(o, "webhooks",
					    receipts_stats_json());
			reply_json(&r->reply, 200, o);
		}
	} else if (streq(path, "/reply")) {
		if (want(r, "POST"))
			control_reply(r);
	} else if (streq(path, "/webhooks")) {
		if (want(r, "GET"))
			control_webhooks(r);
	} else if (streq(path, "/messages")) {
		if (want(r, "GET"))
			control_messages(r);
	} else if (streq(path, "/reset")) {
		if (want(r, "POST")) {
			state_reset();
			receipts_reset();
			reply_json(&r->reply, 200, json_pack("{s:b}", "ok", 1));
		}
	} else if (streq(path, "/behaviour") || streq(path, "/behavior")) {
		control_behaviour(r);
	} else if (streq(path, "/tokens")) {
		if (want(r, "GET"))
			reply_json(&r->reply, 200, state_tokens_json());
	} else if (streq(path, "/config")) {
		if (want(r, "GET")) {
			json_t *o = config_json();

			json_object_set_new(o, "webhooks",
					    receipts_config_json());
			reply_json(&r->reply, 200, o);
		}
	} else {
		reply_json(&r->reply, 404, json_pack("{s:s,s:s}", "error",
			"no such control endpoint", "path", r->url));
	}
}
