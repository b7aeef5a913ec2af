/* test-config.c: loaxa.ini parsing, validation, messages, the shipped file.
 *
 * Messages are compared whole: they are the user interface of this
 * module, line numbers included. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "loaxa/channel.h"
#include "loaxa/config.h"
#include "loaxa/log.h"
#include "loaxa/webhooks.h" /* RSVP_YES_DEFAULT, RSVP_NO_DEFAULT */

#define MEETING_DEFAULT                                                     \
	"Kính mời ông/bà {name} ({group}) dự họp: {title}. Thời gian: "     \
	"{time}. Địa điểm: {place}. Nội dung: {agenda}"

/* A minimal valid channel of each driver, to add keys to. */
#define ZNS_CHANNEL                                                         \
	"[channel.zns]\n"                                                   \
	"driver = zns\n"                                                    \
	"url = https://business.openapi.zalo.me/message/template\n"         \
	"access_token_file = /etc/loaxa/zns.token\n"                        \
	"template_id = 123\n"

/* ---- helpers ---- */

static void dump(const struct config_diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "  diag[%zu]: %s\n", i, d->msgs[i]);
}

static int load(const char *text, struct config **c, struct config_diag *d)
{
	return config_load_buffer("loaxa.ini", text, strlen(text), c, d);
}

/* Loads text, which must be valid. */
static struct config *load_ok(const char *text)
{
	struct config_diag d = { 0 };
	struct config *c = NULL;
	int r = load(text, &c, &d);
	if (r != 0 || d.n)
		dump(&d);
	assert_int_equal(r, 0);
	assert_int_equal(d.n, 0);
	assert_non_null(c);
	config_diag_free(&d);
	return c;
}

/* Loads text, which must fail with exactly the messages given (NULL-ended). */
static void load_errors(const char *text, ...)
{
	struct config_diag d = { 0 };
	struct config *c = NULL;
	const char *want[16];
	size_t n = 0;
	va_list ap;
	va_start(ap, text);
	for (const char *m; (m = va_arg(ap, const char *)) && n < 16;)
		want[n++] = m;
	va_end(ap);

	int r = load(text, &c, &d);
	if (d.n != n)
		dump(&d);
	assert_int_equal(r, -EINVAL);
	assert_null(c);
	assert_int_equal(d.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(d.msgs[i], want[i]);
	config_diag_free(&d);
}

static const struct config_key_info *key(const char *sect, const char *name)
{
	const struct config_key_info *k;
	size_t n = config_keys(&k);
	for (size_t i = 0; i < n; i++)
		if (strcmp(k[i].section, sect) == 0 &&
		    strcmp(k[i].key, name) == 0)
			return &k[i];
	fail_msg("no key [%s] %s", sect, name);
	return NULL;
}

static void assert_default_groups(const struct config *c)
{
	assert_int_equal(c->ngroups, 4);
	assert_string_equal(c->groups[0].code, "2A");
	assert_string_equal(c->groups[0].name, "Nhóm dân cư 2A");
	assert_string_equal(c->groups[1].code, "2B");
	assert_string_equal(c->groups[1].name, "Nhóm dân cư 2B");
	assert_string_equal(c->groups[2].code, "dong-tan");
	assert_string_equal(c->groups[2].name, "Nhóm dân cư Đông Tân");
	assert_string_equal(c->groups[3].code, "nam-ha");
	assert_string_equal(c->groups[3].name, "Nhóm dân cư Nam Hà");
}

static void assert_defaults(const struct config *c)
{
	assert_string_equal(c->state_dir, "/var/lib/loaxa");
	assert_string_equal(c->database, "");
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_string_equal(c->log_debug, "");
	assert_string_equal(c->api_socket, "/run/loaxa/api.sock");
	assert_int_equal(c->api_socket_mode, 0660);
	assert_string_equal(c->api_listen, "");
	assert_string_equal(c->api_token_file, "");
	assert_int_equal(c->api_max_body, 64 * 1024 * 1024);
	assert_int_equal(c->api_max_connections, 64);
	assert_int_equal(c->api_timeout_ms, 30000);
	assert_int_equal(c->notice_ttl_ms, 24 * 3600 * 1000);
	assert_int_equal(c->quiet_start_min, 21 * 60);
	assert_int_equal(c->quiet_end_min, 6 * 60);
	assert_string_equal(c->timezone, "Asia/Ho_Chi_Minh");
	assert_int_equal(c->utc_offset_min, 420);
	assert_int_equal(c->retry_initial_ms, 30000);
	assert_int_equal(c->retry_max_ms, 30 * 60000);
	assert_int_equal(c->max_attempts, 5);
	assert_int_equal(c->fanout_chunk, 5000);
	assert_int_equal(c->sms_warn_segments, 3);
	assert_string_equal(c->tmpl_meeting, MEETING_DEFAULT);
	assert_string_equal(c->tmpl_notice, "Thông báo: {title}. {body}");
	assert_string_equal(c->tmpl_reminder,
			    "Nhắc lịch họp: {title}, {time}, tại {place}.");
	assert_string_equal(c->wh_listen, "");
	assert_int_equal(c->wh_max_body, 1024 * 1024);
	assert_int_equal(c->wh_max_connections, 64);
	assert_string_equal(c->wh_zalo_oa_secret_file, "");
	assert_string_equal(c->wh_messenger_app_secret_file, "");
	assert_string_equal(c->wh_messenger_verify_token_file, "");
	assert_string_equal(c->wh_esms_secret_file, "");
	assert_string_equal(c->wh_public_url, "");
	assert_false(c->wh_metrics);
	assert_int_equal(c->unconfirmed_after_ms, 3600 * 1000);
	assert_string_equal(c->rsvp_yes, "1,có,co,yes,dự,du");
	assert_string_equal(c->rsvp_no, "2,không,khong,no,vắng,vang");
	assert_string_equal(c->hook_url, "");
	assert_string_equal(c->hook_secret_file, "");
	assert_false(c->hook_allow_http);
	assert_int_equal(c->nroute, 0);
	assert_null(c->route);
	assert_int_equal(c->nchannels, 0);
	assert_null(c->channels);
	assert_default_groups(c);
}

/* A channel's limits not given are at their defaults. */
static void assert_channel_limits(const struct config_channel *ch)
{
	assert_false(ch->allow_http);
	assert_false(ch->unicode);
	assert_true(ch->rate == 10.0);
	assert_true(ch->segment_rate == 0.0);
	assert_int_equal(ch->max_in_flight, 8);
	assert_int_equal(ch->timeout_ms, 15000);
	assert_int_equal(ch->connect_timeout_ms, 5000);
	assert_int_equal(ch->max_attempts, 0);
	assert_int_equal(ch->breaker_failures, 5);
	assert_int_equal(ch->breaker_cooldown_ms, 30000);
}

/* A channel's keys not given are at their defaults. */
static void assert_channel_defaults(const struct config_channel *ch)
{
	assert_channel_limits(ch);
	assert_string_equal(ch->access_token_file, "");
	assert_string_equal(ch->oauth_url, "");
	assert_string_equal(ch->sms_type, "2");
	assert_string_equal(ch->messaging_type, "MESSAGE_TAG");
	assert_string_equal(ch->tag, "CONFIRMED_EVENT_UPDATE");
	assert_string_equal(ch->callback_url, "");
}

/* ---- defaults and the table ---- */

static void test_defaults(void **state)
{
	(void)state;
	struct config *c = config_new_default();
	assert_non_null(c);
	assert_defaults(c);
	assert_null(c->path);
	assert_null(config_free(c));
	assert_null(config_free(NULL));
}

static void test_empty_file(void **state)
{
	(void)state;
	struct config *c = load_ok("");
	assert_defaults(c);
	assert_string_equal(c->path, "loaxa.ini");
	config_free(c);

	/* Only comments and blank lines. */
	c = load_ok("; nothing\n\n# here\n   \n\t; either\n");
	assert_defaults(c);
	config_free(c);

	/* No data at all. */
	struct config_diag d = { 0 };
	assert_int_equal(config_load_buffer("x", NULL, 0, &c, &d), 0);
	assert_int_equal(d.n, 0);
	assert_defaults(c);
	config_free(c);

	/* Sections present, all keys left out. */
	c = load_ok("[daemon]\n[api]\n");
	assert_defaults(c);
	config_free(c);
}

static void test_key_table(void **state)
{
	(void)state;
	const struct config_key_info *k = NULL;
	size_t n = config_keys(&k);
	assert_int_equal(n, 12 + 8 + 3 + 13 + 3 + 4 + 1 + 29);
	assert_non_null(k);
	for (size_t i = 0; i < n; i++) {
		char why[256] = "";
		uint64_t v;
		assert_true(strcmp(k[i].section, "daemon") == 0 ||
			    strcmp(k[i].section, "api") == 0 ||
			    strcmp(k[i].section, "broadcast") == 0 ||
			    strcmp(k[i].section, "templates") == 0 ||
			    strcmp(k[i].section, "webhooks") == 0 ||
			    strcmp(k[i].section, "hooks") == 0 ||
			    strcmp(k[i].section, "console") == 0 ||
			    strcmp(k[i].section, "route") == 0 ||
			    strcmp(k[i].section, "channel.NAME") == 0);
		/* Besides [daemon] and [api], only these need a restart. */
		bool restart = strcmp(k[i].section, "daemon") == 0 ||
			       strcmp(k[i].section, "api") == 0 ||
			       strcmp(k[i].key, "timezone") == 0 ||
			       (strcmp(k[i].section, "console") == 0 &&
				strcmp(k[i].key, "enabled") == 0) ||
			       (strcmp(k[i].section, "webhooks") == 0 &&
				(strcmp(k[i].key, "listen") == 0 ||
				 strcmp(k[i].key, "max_connections") == 0 ||
				 strcmp(k[i].key, "metrics") == 0));
		if (!restart)
			assert_true(k[i].reloadable);
		if (strcmp(k[i].section, "webhooks") == 0 ||
		    strcmp(k[i].section, "hooks") == 0)
			assert_int_equal(k[i].reloadable, !restart);
		assert_non_null(k[i].doc);
		/* Shown as "; doc" in loaxa.ini: at most 80 columns. */
		assert_in_range(strlen(k[i].doc), 10, 78);
		if (config_value_parse(&k[i], k[i].def, &v, why, sizeof why))
			fail_msg("default of %s: %s", k[i].key, why);
		for (size_t j = 0; j < i; j++)
			assert_false(strcmp(k[i].section, k[j].section) == 0 &&
				     strcmp(k[i].key, k[j].key) == 0);
	}
	assert_false(key("daemon", "state_dir")->reloadable);
	assert_true(key("daemon", "log_level")->reloadable);
	assert_true(key("daemon", "debug")->reloadable);
	assert_true(key("api", "max_body")->reloadable);
	assert_false(key("api", "timeout")->reloadable);
	assert_int_equal(key("api", "socket_mode")->min, 0600);
	assert_int_equal(key("api", "socket_mode")->max, 0666);
	assert_int_equal(key("api", "max_body")->min, 1024);
	assert_int_equal(key("api", "max_body")->max, 1024 * 1024 * 1024);
	assert_int_equal(key("api", "timeout")->min, 1000);
	assert_int_equal(key("api", "timeout")->max, 3600 * 1000);
	assert_false(key("broadcast", "timezone")->reloadable);
	assert_int_equal(key("broadcast", "notice_ttl")->min, 60000);
	assert_int_equal(key("broadcast", "notice_ttl")->max,
			 30ULL * 86400 * 1000);
	assert_int_equal(key("channel.NAME", "rate")->type, CFG_DECIMAL);
	assert_int_equal(key("channel.NAME", "rate")->max, 100000);
	assert_int_equal(key("channel.NAME", "timeout")->max, 300000);
	assert_string_equal(key("channel.NAME", "tag")->def,
			    "CONFIRMED_EVENT_UPDATE");
	assert_string_equal(key("templates", "meeting")->def, MEETING_DEFAULT);
	assert_int_equal(key("webhooks", "listen")->type, CFG_LISTEN);
	assert_int_equal(key("webhooks", "max_body")->min, 64 * 1024);
	assert_int_equal(key("webhooks", "max_body")->max, 1024 * 1024);
	assert_int_equal(key("webhooks", "max_connections")->max, 10000);
	assert_int_equal(key("webhooks", "unconfirmed_after")->min, 60000);
	assert_int_equal(key("webhooks", "unconfirmed_after")->max,
			 7ULL * 86400 * 1000);
	assert_int_equal(key("webhooks", "metrics")->type, CFG_BOOL);
	/* The lists webhooks.c falls back on are the loader's defaults. */
	assert_string_equal(key("webhooks", "rsvp_yes")->def,
			    RSVP_YES_DEFAULT);
	assert_string_equal(key("webhooks", "rsvp_no")->def, RSVP_NO_DEFAULT);
	assert_string_equal(key("hooks", "allow_http")->def, "no");
	/* inih: "meeting = <default>" must fit on one line. */
	assert_true(strlen("meeting = ") + strlen(MEETING_DEFAULT) <= 198);
}

static void test_type_names(void **state)
{
	(void)state;
	assert_string_equal(config_type_name(CFG_PATH), "path");
	assert_string_equal(config_type_name(CFG_STRING), "string");
	assert_string_equal(config_type_name(CFG_BOOL), "bool");
	assert_string_equal(config_type_name(CFG_UINT), "integer");
	assert_string_equal(config_type_name(CFG_SIZE), "size");
	assert_string_equal(config_type_name(CFG_DURATION), "duration");
	assert_string_equal(config_type_name(CFG_OCTAL), "octal");
	assert_string_equal(config_type_name(CFG_ENUM_LOGLEVEL), "enum");
	assert_string_equal(config_type_name(CFG_LISTEN), "address");
	assert_string_equal(config_type_name(CFG_DECIMAL), "number");
	assert_string_equal(config_type_name((enum config_type)99), "?");
}

/* ---- values, type by type ---- */

static void test_path(void **state)
{
	(void)state;
	struct config *c = load_ok("[daemon]\n"
				   "state_dir = /srv/loaxa state\n"
				   "database = /srv/db/x.db\n"
				   "[api]\n"
				   "token_file = /etc/loaxa/token\n");
	assert_string_equal(c->state_dir, "/srv/loaxa state");
	assert_string_equal(c->database, "/srv/db/x.db");
	assert_string_equal(c->api_token_file, "/etc/loaxa/token");
	config_free(c);

	load_errors("[daemon]\n\nstate_dir = var/lib/loaxa\n",
		    "loaxa.ini:3: [daemon] state_dir = var/lib/loaxa: not an "
		    "absolute path (it must start with '/')",
		    NULL);
	/* Empty is "not set" only where the default is empty. */
	load_errors("[daemon]\nstate_dir =\n",
		    "loaxa.ini:2: [daemon] state_dir = : must not be empty",
		    NULL);
	c = load_ok("[daemon]\ndatabase =\n");
	assert_string_equal(c->database, "");
	config_free(c);

	/* Longer than any line can hold: through the value checker. */
	char why[128];
	char *p = malloc(4097);
	assert_non_null(p);
	p[0] = '/';
	memset(p + 1, 'a', 4095);
	p[4096] = '\0';
	assert_int_equal(config_value_parse(key("daemon", "state_dir"), p,
					    NULL, why, sizeof why),
			 -EINVAL);
	assert_string_equal(why, "path too long (4096 bytes, max 4095)");
	p[4095] = '\0';
	assert_int_equal(config_value_parse(key("daemon", "state_dir"), p,
					    NULL, why, sizeof why),
			 0);
	free(p);
}

static void test_bool(void **state)
{
	(void)state;
	/* The parser directly (allow_http and unicode are bools). */
	const struct config_key_info k = { .section = "t", .key = "flag",
					   .type = CFG_BOOL, .def = "no" };
	const char *yes[] = { "yes", "true", "on", "1", "YES", "True" };
	const char *no[] = { "no", "false", "off", "0", "No", "OFF" };
	char why[128];
	uint64_t v;
	for (size_t i = 0; i < 6; i++) {
		v = 7;
		assert_int_equal(config_value_parse(&k, yes[i], &v, why,
						    sizeof why), 0);
		assert_int_equal(v, 1);
		assert_int_equal(config_value_parse(&k, no[i], &v, why,
						    sizeof why), 0);
		assert_int_equal(v, 0);
	}
	const char *bad[] = { "", "y", "2", "enabled", "yes please" };
	for (size_t i = 0; i < 5; i++) {
		v = 7;
		assert_int_equal(config_value_parse(&k, bad[i], &v, why,
						    sizeof why), -EINVAL);
		assert_string_equal(why, "not a boolean (use yes or no)");
		assert_int_equal(v, 7); /* not clobbered */
	}
	assert_int_equal(config_value_parse(&k, "yes", NULL, NULL, 0), 0);
	assert_int_equal(config_value_parse(&k, "x", NULL, NULL, 0), -EINVAL);
	assert_int_equal(config_value_parse(NULL, "x", NULL, NULL, 0),
			 -EINVAL);
}

static void test_uint(void **state)
{
	(void)state;
	struct config *c = load_ok("[api]\nmax_connections = 10000\n");
	assert_int_equal(c->api_max_connections, 10000);
	config_free(c);
	c = load_ok("[api]\nmax_connections = 1\n");
	assert_int_equal(c->api_max_connections, 1);
	config_free(c);

	load_errors("[api]\nmax_connections = 10001\n",
		    "loaxa.ini:2: [api] max_connections = 10001: out of range "
		    "(1..10000)",
		    NULL);
	load_errors("[api]\n\n\nmax_connections = 0\n",
		    "loaxa.ini:4: [api] max_connections = 0: out of range "
		    "(1..10000)",
		    NULL);
	load_errors("[api]\nmax_connections = -5\n",
		    "loaxa.ini:2: [api] max_connections = -5: not a whole "
		    "number",
		    NULL);
	load_errors("[api]\nmax_connections = 12abc\n",
		    "loaxa.ini:2: [api] max_connections = 12abc: not a whole "
		    "number",
		    NULL);
	load_errors("[api]\nmax_connections = 99999999999999999999999\n",
		    "loaxa.ini:2: [api] max_connections = "
		    "99999999999999999999999: out of range (1..10000)",
		    NULL);
}

static void test_size(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		uint64_t bytes;
	} good[] = {
		{ "1K", 1024 },         { "1k", 1024 },
		{ "1536", 1536 },       { "512K", 512 * 1024 },
		{ "64M", 64 << 20 },    { "1G", 1 << 30 },
		{ "1048576", 1 << 20 }, { "3m", 3 << 20 },
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char text[64];
		snprintf(text, sizeof text, "[api]\nmax_body = %s\n",
			 good[i].text);
		struct config *c = load_ok(text);
		assert_int_equal(c->api_max_body, good[i].bytes);
		config_free(c);
	}
	load_errors("[api]\n; a comment\n; another\n; more\n; and more\n"
		    "; x\n; y\n; z\n; w\n; v\n; u\n"
		    "max_body = 12Q\n",
		    "loaxa.ini:12: [api] max_body = 12Q: not a size (use a "
		    "number with K, M or G)",
		    NULL);
	load_errors("[api]\nmax_body = 1023\n",
		    "loaxa.ini:2: [api] max_body = 1023: out of range (1K..1G)",
		    NULL);
	load_errors("[api]\nmax_body = 2G\n",
		    "loaxa.ini:2: [api] max_body = 2G: out of range (1K..1G)",
		    NULL);
	load_errors("[api]\nmax_body = 64 M\n",
		    "loaxa.ini:2: [api] max_body = 64 M: not a size (use a "
		    "number with K, M or G)",
		    NULL);
	load_errors("[api]\nmax_body = 64MB\n",
		    "loaxa.ini:2: [api] max_body = 64MB: not a size (use a "
		    "number with K, M or G)",
		    NULL);
	load_errors("[api]\nmax_body = M\n",
		    "loaxa.ini:2: [api] max_body = M: not a size (use a "
		    "number with K, M or G)",
		    NULL);
	load_errors("[api]\nmax_body = 99999999999999999G\n",
		    "loaxa.ini:2: [api] max_body = 99999999999999999G: out of "
		    "range (1K..1G)",
		    NULL);
}

static void test_duration(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		uint64_t ms;
	} good[] = {
		{ "1s", 1000 },       { "30s", 30000 },
		{ "1m", 60000 },      { "1h", 3600000 },
		{ "1500ms", 1500 },   { "1m30s", 90000 },
		{ "59m60s", 3600000 },
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char text[64];
		snprintf(text, sizeof text, "[api]\ntimeout = %s\n",
			 good[i].text);
		struct config *c = load_ok(text);
		assert_int_equal(c->api_timeout_ms, good[i].ms);
		config_free(c);
	}
	load_errors("[api]\ntimeout = 30\n",
		    "loaxa.ini:2: [api] timeout = 30: missing unit (ms, s, m, "
		    "h or d), e.g. 30s",
		    NULL);
	load_errors("[api]\ntimeout = 999ms\n",
		    "loaxa.ini:2: [api] timeout = 999ms: out of range (1s..1h)",
		    NULL);
	load_errors("[api]\ntimeout = 1d\n",
		    "loaxa.ini:2: [api] timeout = 1d: out of range (1s..1h)",
		    NULL);
	load_errors("[api]\ntimeout = 0\n",
		    "loaxa.ini:2: [api] timeout = 0: out of range (1s..1h)",
		    NULL);
	const char *bad[] = { "30 s", "1.5s", "30sec", "30S", "s", "-1s",
			      "1h30" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[64], msg[160];
		snprintf(text, sizeof text, "[api]\ntimeout = %s\n", bad[i]);
		snprintf(msg, sizeof msg,
			 "loaxa.ini:2: [api] timeout = %s: %s", bad[i],
			 strcmp(bad[i], "1h30") == 0
				 ? "missing unit (ms, s, m, h or d), e.g. 30s"
				 : "not a duration (use a number with ms, s, "
				   "m, h or d, e.g. 30s)");
		load_errors(text, msg, NULL);
	}

	/* 0 and d through the value checker, with wide bounds. */
	const struct config_key_info k = { .section = "t", .key = "d",
					   .type = CFG_DURATION, .def = "0",
					   .min = 0, .max = UINT64_MAX };
	uint64_t v = 1;
	char why[128];
	assert_int_equal(config_value_parse(&k, "0", &v, why, sizeof why), 0);
	assert_int_equal(v, 0);
	assert_int_equal(config_value_parse(&k, "2d", &v, why, sizeof why), 0);
	assert_int_equal(v, 2 * 86400000ULL);
	assert_int_equal(config_value_parse(&k, "99999999999999999999d", &v,
					    why, sizeof why), -ERANGE);
	assert_int_equal(config_value_parse(&k, "213503982336d", &v, why,
					    sizeof why), -ERANGE);
}

static void test_octal(void **state)
{
	(void)state;
	struct config *c = load_ok("[api]\nsocket_mode = 0600\n");
	assert_int_equal(c->api_socket_mode, 0600);
	config_free(c);
	c = load_ok("[api]\nsocket_mode = 666\n");
	assert_int_equal(c->api_socket_mode, 0666);
	config_free(c);
	c = load_ok("[api]\nsocket_mode = 0640\n");
	assert_int_equal(c->api_socket_mode, 0640);
	config_free(c);

	load_errors("[api]\nsocket_mode = 0700\n",
		    "loaxa.ini:2: [api] socket_mode = 0700: out of range "
		    "(0600..0666)",
		    NULL);
	load_errors("[api]\nsocket_mode = 0777\n",
		    "loaxa.ini:2: [api] socket_mode = 0777: out of range "
		    "(0600..0666)",
		    NULL);
	load_errors("[api]\nsocket_mode = 0680\n",
		    "loaxa.ini:2: [api] socket_mode = 0680: not an octal mode "
		    "(digits 0 to 7, e.g. 0660)",
		    NULL);
	load_errors("[api]\nsocket_mode = rw-rw----\n",
		    "loaxa.ini:2: [api] socket_mode = rw-rw----: not an octal "
		    "mode (digits 0 to 7, e.g. 0660)",
		    NULL);
	load_errors("[api]\nsocket_mode = 00000000000000660\n",
		    "loaxa.ini:2: [api] socket_mode = 00000000000000660: out "
		    "of range (0600..0666)",
		    NULL);
}

static void test_log_level(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		enum log_level lvl;
	} good[] = {
		{ "err", LOG_LVL_ERR },       { "warning", LOG_LVL_WARN },
		{ "notice", LOG_LVL_NOTICE }, { "info", LOG_LVL_INFO },
		{ "debug", LOG_LVL_DEBUG },   { "DEBUG", LOG_LVL_DEBUG },
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char text[64];
		snprintf(text, sizeof text, "[daemon]\nlog_level = %s\n",
			 good[i].text);
		struct config *c = load_ok(text);
		assert_int_equal(c->log_level, good[i].lvl);
		config_free(c);
	}
	load_errors("[daemon]\nlog_level = loud\n",
		    "loaxa.ini:2: [daemon] log_level = loud: not a log level "
		    "(use err, warning, notice, info or debug)",
		    NULL);
	load_errors("[daemon]\nlog_level =\n",
		    "loaxa.ini:2: [daemon] log_level = : not a log level "
		    "(use err, warning, notice, info or debug)",
		    NULL);
}

static void test_debug_list(void **state)
{
	(void)state;
	struct config *c = load_ok("[daemon]\ndebug = store, HTTP,store\n");
	assert_string_equal(c->log_debug, "store,http");
	config_free(c);
	c = load_ok("[daemon]\ndebug = cfg\n");
	assert_string_equal(c->log_debug, "cfg");
	config_free(c);

	load_errors("[daemon]\ndebug = store,bogus\n",
		    "loaxa.ini:2: [daemon] debug = store,bogus: unknown "
		    "subsystem 'bogus' (known: main, cfg, store, api, dir, "
		    "http, dispatch, webhook)",
		    NULL);
	load_errors("[daemon]\ndebug = store,,api\n",
		    "loaxa.ini:2: [daemon] debug = store,,api: empty name in "
		    "the list",
		    NULL);
	load_errors("[daemon]\ndebug = store,\n",
		    "loaxa.ini:2: [daemon] debug = store,: empty name in the "
		    "list",
		    NULL);
}

static void test_listen(void **state)
{
	(void)state;
	const char *good[] = { "127.0.0.1:8080", "0.0.0.0:1", "[::1]:8080",
			       "[::]:65535", "localhost:80",
			       "[2001:db8::1]:443" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char text[128];
		snprintf(text, sizeof text,
			 "[api]\nlisten = %s\ntoken_file = /etc/t\n", good[i]);
		struct config *c = load_ok(text);
		assert_string_equal(c->api_listen, good[i]);
		config_free(c);
	}
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "example.com:80", "host must be an IPv4 address, an [IPv6] "
				    "address or localhost (names are not "
				    "resolved)" },
		{ "1.2.3:80", "host must be an IPv4 address, an [IPv6] "
			      "address or localhost (names are not "
			      "resolved)" },
		{ "::1:80", "an IPv6 address needs brackets, e.g. [::1]:8080" },
		{ "127.0.0.1", "missing port (use HOST:PORT, e.g. "
			       "127.0.0.1:8080)" },
		{ ":8080", "missing host (use HOST:PORT, e.g. "
			   "127.0.0.1:8080)" },
		{ "127.0.0.1:0", "port out of range (1..65535)" },
		{ "127.0.0.1:65536", "port out of range (1..65535)" },
		{ "127.0.0.1:http", "port is not a number" },
		{ "127.0.0.1:", "port is not a number" },
		{ "[::1]", "missing port (use [IPv6]:PORT, e.g. [::1]:8080)" },
		{ "[::1:80", "missing ']' after the IPv6 address" },
		{ "[1.2.3.4]:80", "not an IPv6 address between '[' and ']'" },
		{ "[]:80", "not an IPv6 address between '[' and ']'" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[128], msg[256];
		snprintf(text, sizeof text,
			 "[api]\ntoken_file = /t\nlisten = %s\n", bad[i].text);
		snprintf(msg, sizeof msg, "loaxa.ini:3: [api] listen = %s: %s",
			 bad[i].text, bad[i].why);
		load_errors(text, msg, NULL);
	}
}

static void test_text_rules(void **state)
{
	(void)state;
	/* Quotes are not stripped by inih: say so. */
	load_errors("[api]\nsocket = \"/run/x.sock\"\n",
		    "loaxa.ini:2: [api] socket = \"/run/x.sock\": quotes are "
		    "not removed: write the value without them",
		    NULL);
	load_errors("[daemon]\ndebug = 'store'\n",
		    "loaxa.ini:2: [daemon] debug = 'store': quotes are not "
		    "removed: write the value without them",
		    NULL);
	/* A lone CR inside a line is a control character, shown escaped. */
	load_errors("[daemon]\nstate_dir = /a\rb\n",
		    "loaxa.ini:2: [daemon] state_dir = /a\\x0db: contains a "
		    "control character",
		    NULL);
	/* Invalid UTF-8 is shown as hex. */
	load_errors("[daemon]\nstate_dir = /caf\xe9\n",
		    "loaxa.ini:2: [daemon] state_dir = /caf\\xe9: not valid "
		    "UTF-8",
		    NULL);
	struct config *c = load_ok("[daemon]\nstate_dir = /srv/Đông Hà\n");
	assert_string_equal(c->state_dir, "/srv/Đông Hà");
	config_free(c);
}

/* ---- structure: sections, keys, lines ---- */

static void test_unknown_section(void **state)
{
	(void)state;
	load_errors("[apii]\nsocket = /x\n",
		    "loaxa.ini:1: unknown section [apii]; did you mean [api]?",
		    NULL);
	/* Keys under it are not reported again, but parsing goes on. */
	load_errors("[network]\nfoo = 1\nbar = 2\n[api]\nfoo = 1\n",
		    "loaxa.ini:1: unknown section [network]",
		    "loaxa.ini:5: unknown key 'foo' in [api]", NULL);
	load_errors("[API]\n",
		    "loaxa.ini:1: unknown section [API]; did you mean [api]?",
		    NULL);
	load_errors("[api\n", "loaxa.ini:1: missing ']' in section header",
		    NULL);
	load_errors("[]\n", "loaxa.ini:1: empty section name []", NULL);
	load_errors("[api] x\n", "loaxa.ini:1: unexpected text after [api]",
		    NULL);
	struct config *c = load_ok("[ api ] ; the API\n[daemon]# x\n");
	config_free(c);
}

static void test_unknown_key(void **state)
{
	(void)state;
	load_errors("[api]\nsokcet = /run/x.sock\n",
		    "loaxa.ini:2: unknown key 'sokcet' in [api]; did you mean "
		    "'socket'?",
		    NULL);
	load_errors("[api]\nmax body = 1M\n",
		    "loaxa.ini:2: unknown key 'max body' in [api]; did you "
		    "mean 'max_body'?",
		    NULL);
	load_errors("[api]\nSocket = /x\n",
		    "loaxa.ini:2: unknown key 'Socket' in [api]; did you mean "
		    "'socket'?",
		    NULL);
	load_errors("[api]\nfrobnicate = 1\n",
		    "loaxa.ini:2: unknown key 'frobnicate' in [api]", NULL);
	load_errors("[daemon]\nsocket = /x\n",
		    "loaxa.ini:2: unknown key 'socket' in [daemon]; it belongs "
		    "in [api]",
		    NULL);
	load_errors("[daemon]\n= 1\n",
		    "loaxa.ini:2: missing key name before '='", NULL);
}

static void test_duplicates(void **state)
{
	(void)state;
	load_errors("[api]\n\nsocket = /a\nsocket = /b\n",
		    "loaxa.ini:4: duplicate key 'socket' in [api] (first set "
		    "on line 3)",
		    NULL);
	load_errors("[daemon]\n[api]\ntimeout = 1s\n[daemon]\n[api]\n"
		    "timeout = 2s\n",
		    "loaxa.ini:4: duplicate section [daemon] (first on line 1)",
		    "loaxa.ini:5: duplicate section [api] (first on line 2)",
		    "loaxa.ini:6: duplicate key 'timeout' in [api] (first set "
		    "on line 3)",
		    NULL);
	/* A duplicate is reported even when the first value was bad. */
	load_errors("[api]\ntimeout = x\ntimeout = 1s\n",
		    "loaxa.ini:2: [api] timeout = x: not a duration (use a "
		    "number with ms, s, m, h or d, e.g. 30s)",
		    "loaxa.ini:3: duplicate key 'timeout' in [api] (first set "
		    "on line 2)",
		    NULL);
}

static void test_outside_section(void **state)
{
	(void)state;
	load_errors("socket = /x\nfoo = 1\n[api]\n",
		    "loaxa.ini:1: key 'socket' outside any section (it "
		    "belongs in [api])",
		    "loaxa.ini:2: key 'foo' outside any section", NULL);
}

static void test_long_line(void **state)
{
	(void)state;
	char text[1024];
	/* "state_dir = /" is 13 bytes: pad the path to a given line length. */
	for (size_t len = 196; len <= 201; len++) {
		int n = snprintf(text, sizeof text, "[daemon]\nstate_dir = /");
		memset(text + n, 'a', len - 13);
		snprintf(text + n + len - 13, 32, "\n[api]\ntimeout = 1s\n");
		if (len <= 198) {
			struct config *c = load_ok(text);
			assert_int_equal(strlen(c->state_dir), len - 12);
			config_free(c);
		} else {
			load_errors(text,
				    "loaxa.ini:2: line too long (max 198 "
				    "characters)",
				    NULL);
		}
	}
	/* Indentation and trailing blanks do not count. */
	int n = snprintf(text, sizeof text, "[daemon]\n    state_dir = /");
	memset(text + n, 'a', 198 - 13);
	snprintf(text + n + 198 - 13, 8, "   \r\n");
	struct config *c = load_ok(text);
	config_free(c);
	/* A long comment is fine; a long line elsewhere keeps the numbers. */
	memset(text, 'x', 600);
	text[0] = ';';
	snprintf(text + 600, 32, "\n[api]\ntimeout = 5s\n");
	c = load_ok(text);
	assert_int_equal(c->api_timeout_ms, 5000);
	config_free(c);
	memcpy(text, "[api]\nlisten = ", 15);
	memset(text + 15, '1', 585);
	snprintf(text + 600, 32, "\ntimeout = 5\n");
	load_errors(text, "loaxa.ini:2: line too long (max 198 characters)",
		    "loaxa.ini:3: [api] timeout = 5: missing unit (ms, s, m, "
		    "h or d), e.g. 30s",
		    NULL);
}

static void test_inih_quirks(void **state)
{
	(void)state;
	/* Inline ';' comment after whitespace is cut; without, it stays. */
	struct config *c = load_ok("[api] ; api\n"
				   "timeout = 10s ; ten seconds\n"
				   "socket = /run/a;b.sock\n");
	assert_int_equal(c->api_timeout_ms, 10000);
	assert_string_equal(c->api_socket, "/run/a;b.sock");
	config_free(c);

	/* '#' after the value is part of it: a hint says why. */
	load_errors("[api]\ntimeout = 10s # ten seconds\n",
		    "loaxa.ini:2: [api] timeout = 10s # ten seconds: not a "
		    "duration (use a number with ms, s, m, h or d, e.g. 30s) "
		    "(note: '#' starts a comment only at the beginning of a "
		    "line; use ';')",
		    NULL);

	/* An indented key is a key, not a continuation of the previous one
	 * (inih would hand it over as a second value of 'socket'). */
	c = load_ok("[api]\nsocket = /run/x.sock\n  socket_mode = 0600\n"
		    "\ttimeout = 2s\n");
	assert_string_equal(c->api_socket, "/run/x.sock");
	assert_int_equal(c->api_socket_mode, 0600);
	assert_int_equal(c->api_timeout_ms, 2000);
	config_free(c);

	/* ':' is a delimiter too; CRLF line ends; a byte order mark. */
	c = load_ok("\xef\xbb\xbf[api]\r\nsocket: /run/y.sock\r\n"
		    "max_body=1K\r\n");
	assert_string_equal(c->api_socket, "/run/y.sock");
	assert_int_equal(c->api_max_body, 1024);
	config_free(c);

	/* Lines without a delimiter: each one is reported (inih: the first). */
	load_errors("[api]\nsocket /x\n[daemon]\njunk\nstate_dir ; = /x\n",
		    "loaxa.ini:2: expected 'key = value'",
		    "loaxa.ini:4: expected 'key = value'",
		    "loaxa.ini:5: expected 'key = value'", NULL);

	/* A NUL byte. */
	static const char nul[] = "[api]\nsocket = /a\0b\ntimeout = 1\n";
	struct config_diag d = { 0 };
	c = NULL;
	assert_int_equal(config_load_buffer("loaxa.ini", nul, sizeof nul - 1,
					    &c, &d),
			 -EINVAL);
	assert_null(c);
	assert_int_equal(d.n, 2);
	assert_string_equal(d.msgs[0], "loaxa.ini:2: line contains a NUL byte");
	assert_string_equal(d.msgs[1], "loaxa.ini:3: [api] timeout = 1: "
				       "missing unit (ms, s, m, h or d), "
				       "e.g. 30s");
	config_diag_free(&d);

	/* Last line without '\n'. */
	c = load_ok("[api]\ntimeout = 3s");
	assert_int_equal(c->api_timeout_ms, 3000);
	config_free(c);
}

static void test_continues_after_errors(void **state)
{
	(void)state;
	load_errors("[daemon]\n"
		    "log_level = chatty\n"
		    "state_dir = /srv/loaxa\n"
		    "[api]\n"
		    "max_body = 12Q\n"
		    "max_connections = 64\n"
		    "timeot = 1s\n",
		    "loaxa.ini:2: [daemon] log_level = chatty: not a log level "
		    "(use err, warning, notice, info or debug)",
		    "loaxa.ini:5: [api] max_body = 12Q: not a size (use a "
		    "number with K, M or G)",
		    "loaxa.ini:7: unknown key 'timeot' in [api]; did you mean "
		    "'timeout'?",
		    NULL);
}

static void test_error_cap(void **state)
{
	(void)state;
	struct config_diag d = { 0 };
	struct config *c = NULL;
	size_t cap = 300 * 8 + 8, o;
	char *text = malloc(cap);
	assert_non_null(text);
	o = (size_t)snprintf(text, cap, "[api]\n");
	for (int i = 0; i < 300; i++)
		o += (size_t)snprintf(text + o, cap - o, "x = 1\n");
	assert_int_equal(load(text, &c, &d), -EINVAL);
	assert_int_equal(d.n, 101);
	assert_string_equal(d.msgs[0], "loaxa.ini:2: unknown key 'x' in [api]");
	assert_string_equal(d.msgs[99],
			    "loaxa.ini:101: unknown key 'x' in [api]");
	assert_string_equal(d.msgs[100],
			    "loaxa.ini: 200 more errors not shown");
	config_diag_free(&d);
	free(text);

	/* Without a diag the result is the same. */
	assert_int_equal(load("[api]\nx = 1\n", &c, NULL), -EINVAL);
	assert_null(c);
	/* Validation only. */
	assert_int_equal(load("[api]\ntimeout = 1s\n", NULL, NULL), 0);
	config_diag_free(NULL);
}

/* ---- [groups] ---- */

static void test_groups(void **state)
{
	(void)state;
	struct config *c = load_ok("[groups]\n"
				   "; north to south\n"
				   "3C = Nhóm dân cư 3C\n"
				   "Khu_1 =   Khu phố 1   \n"
				   "x-9 = \xc2\xa0Tổ 9\xc2\xa0\n");
	assert_int_equal(c->ngroups, 3);
	assert_string_equal(c->groups[0].code, "3C");
	assert_string_equal(c->groups[0].name, "Nhóm dân cư 3C");
	assert_int_equal(c->groups[0].line, 3);
	assert_string_equal(c->groups[1].code, "Khu_1");
	assert_string_equal(c->groups[1].name, "Khu phố 1");
	assert_int_equal(c->groups[1].line, 4);
	assert_string_equal(c->groups[2].name, "Tổ 9");
	config_free(c);

	/* An empty [groups] section means no groups. */
	c = load_ok("[daemon]\n[groups]\n; none yet\n");
	assert_int_equal(c->ngroups, 0);
	assert_null(c->groups);
	config_free(c);

	/* No [groups] at all: Đông Hà's four. */
	c = load_ok("[daemon]\nlog_level = debug\n");
	assert_default_groups(c);
	config_free(c);

	/* Limits: 32-byte code and 120-byte name are fine. */
	char text[512], name[160];
	memset(name, 'n', 120);
	name[120] = '\0';
	snprintf(text, sizeof text,
		 "[groups]\nabcdefghijklmnopqrstuvwxyz012345 = %s\n", name);
	c = load_ok(text);
	assert_int_equal(strlen(c->groups[0].name), 120);
	config_free(c);

	name[120] = 'n';
	name[121] = '\0';
	snprintf(text, sizeof text, "[groups]\nA = %s\n", name);
	char msg[512];
	snprintf(msg, sizeof msg,
		 "loaxa.ini:2: [groups] A = %s: display name too long (121 "
		 "bytes, max 120)",
		 name);
	load_errors(text, msg, NULL);

	load_errors("[groups]\nabcdefghijklmnopqrstuvwxyz0123456 = X\n",
		    "loaxa.ini:2: [groups] abcdefghijklmnopqrstuvwxyz0123456 "
		    "= X: not a valid group code (use 1 to 32 letters, digits, "
		    "'-' or '_')",
		    NULL);
	load_errors("[groups]\nĐông Tân = Nhóm dân cư Đông Tân\n",
		    "loaxa.ini:2: [groups] Đông Tân = Nhóm dân cư Đông Tân: "
		    "not a valid group code (use 1 to 32 letters, digits, '-' "
		    "or '_')",
		    NULL);
	load_errors("[groups]\n2A =\n",
		    "loaxa.ini:2: [groups] 2A = : missing display name", NULL);
	load_errors("[groups]\n2A = \xc2\xa0\n",
		    "loaxa.ini:2: [groups] 2A = \xc2\xa0: missing display name",
		    NULL);
	load_errors("[groups]\n2A = Nh\xf3m\n",
		    "loaxa.ini:2: [groups] 2A = Nh\\xf3m: not valid UTF-8",
		    NULL);
	load_errors("[groups]\n2A = \"Nhóm 2A\"\n",
		    "loaxa.ini:2: [groups] 2A = \"Nhóm 2A\": quotes are not "
		    "removed: write the value without them",
		    NULL);
}

static void test_groups_duplicates(void **state)
{
	(void)state;
	load_errors("[groups]\n"
		    "2A = Nhóm dân cư 2A\n"
		    "2B = Nhóm dân cư 2B\n"
		    "2a = Nhóm 2a\n"
		    "Dong-Tan = Đông Tân\n"
		    "dong-tan = Nhóm dân cư Đông Tân\n"
		    "3C = Nhóm dân cư 2B\n",
		    "loaxa.ini:4: [groups] duplicate group code '2a' (first on "
		    "line 2 as '2A')",
		    "loaxa.ini:6: [groups] duplicate group code 'dong-tan' "
		    "(first on line 5 as 'Dong-Tan')",
		    "loaxa.ini:7: [groups] 3C = Nhóm dân cư 2B: same display "
		    "name as group '2B' on line 3",
		    NULL);
	/* A second [groups] section is an error, and its groups still count. */
	load_errors("[groups]\n2A = A\n[api]\n[groups]\n2a = B\n",
		    "loaxa.ini:4: duplicate section [groups] (first on line 1)",
		    "loaxa.ini:5: [groups] duplicate group code '2a' (first on "
		    "line 2 as '2A')",
		    NULL);
}

static void test_groups_too_many(void **state)
{
	(void)state;
	struct config_diag d = { 0 };
	struct config *c = NULL;
	size_t cap = 1001 * 20 + 16;
	char *text = malloc(cap);
	assert_non_null(text);
	size_t o = (size_t)snprintf(text, cap, "[groups]\n");
	for (int i = 0; i < 1001; i++)
		o += (size_t)snprintf(text + o, cap - o, "g%d = G %d\n", i, i);
	assert_int_equal(load(text, &c, &d), -EINVAL);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0],
			    "loaxa.ini:1002: [groups] too many groups "
			    "(max 1000)");
	config_diag_free(&d);
	free(text);
}

/* ---- cross-field checks ---- */

static void test_cross_listen_token(void **state)
{
	(void)state;
	/* TCP needs no token file any more: users log in or bring personal
	 * tokens; a token file adds a token that acts as an admin. */
	struct config *c = load_ok("[api]\nlisten = 127.0.0.1:8080\n");
	assert_string_equal(c->api_listen, "127.0.0.1:8080");
	assert_string_equal(c->api_token_file, "");
	config_free(c);
	/* A bad token_file is reported. */
	load_errors("[api]\nlisten = [::1]:80\ntoken_file = token\n",
		    "loaxa.ini:3: [api] token_file = token: not an absolute "
		    "path (it must start with '/')",
		    NULL);
	c = load_ok("[api]\nlisten = localhost:8080\n"
		    "token_file = /etc/loaxa/token\n");
	assert_string_equal(c->api_listen, "localhost:8080");
	config_free(c);
	c = load_ok("[api]\ntoken_file = /etc/loaxa/token\n");
	config_free(c);
}

static void test_cross_socket_length(void **state)
{
	(void)state;
	char text[256], path[160], msg[512];
	/* 107 bytes fit in sun_path with its NUL; 108 do not. */
	memset(path, 'a', sizeof path);
	path[0] = '/';
	path[107] = '\0';
	snprintf(text, sizeof text, "[api]\nsocket = %s\n", path);
	struct config *c = load_ok(text);
	assert_int_equal(strlen(c->api_socket), 107);
	config_free(c);

	path[107] = 'a';
	path[108] = '\0';
	snprintf(text, sizeof text, "[daemon]\n[api]\nsocket = %s\n", path);
	snprintf(msg, sizeof msg,
		 "loaxa.ini:3: [api] socket = %s: too long for a unix socket "
		 "(108 bytes, max 107)",
		 path);
	load_errors(text, msg, NULL);
}

/* ---- [broadcast] ---- */

static void test_approval_and_console(void **state)
{
	(void)state;
	struct config *c = load_ok("");
	assert_int_equal(c->approval, APPROVAL_URGENT_ALL);
	assert_true(c->console_enabled);
	assert_int_equal(c->session_lifetime_ms, 12 * 3600 * 1000);
	assert_int_equal(c->login_attempts, 5);
	assert_int_equal(c->retention_ms, UINT64_C(365) * 86400 * 1000);
	assert_string_equal(config_approval_name(c->approval), "urgent-all");
	config_free(c);
	static const struct {
		const char *v;
		enum approval_mode m;
	} ok[] = { { "off", APPROVAL_OFF }, { "URGENT", APPROVAL_URGENT },
		   { "all", APPROVAL_ALL }, { "urgent-all", APPROVAL_URGENT_ALL } };
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char text[128];
		snprintf(text, sizeof text, "[broadcast]\napproval = %s\n",
			 ok[i].v);
		c = load_ok(text);
		assert_int_equal(c->approval, ok[i].m);
		config_free(c);
	}
	load_errors("[broadcast]\napproval = sometimes\n",
		    "loaxa.ini:2: [broadcast] approval = sometimes: expected "
		    "off, urgent-all, urgent or all",
		    NULL);
	load_errors("[console]\nsession_lifetime = 1m\nlogin_attempts = 0\n",
		    "loaxa.ini:2: [console] session_lifetime = 1m: out of "
		    "range (5m..30d)",
		    "loaxa.ini:3: [console] login_attempts = 0: out of range "
		    "(1..1000)",
		    NULL);
	c = load_ok("[daemon]\nretention = 30d\n[console]\nenabled = no\n"
		    "secure_cookie = yes\n");
	assert_int_equal(c->retention_ms, UINT64_C(30) * 86400 * 1000);
	assert_false(c->console_enabled);
	assert_true(c->secure_cookie);
	config_free(c);
}

static void test_broadcast_values(void **state)
{
	(void)state;
	struct config *c = load_ok("[broadcast]\n"
				   "notice_ttl = 30d\n"
				   "retry_initial = 1h\n"
				   "retry_max = 1d\n"
				   "max_attempts = 100\n"
				   "fanout_chunk = 100000\n"
				   "sms_warn_segments = 20\n");
	assert_int_equal(c->notice_ttl_ms, 30ULL * 86400 * 1000);
	assert_int_equal(c->retry_initial_ms, 3600 * 1000);
	assert_int_equal(c->retry_max_ms, 86400 * 1000);
	assert_int_equal(c->max_attempts, 100);
	assert_int_equal(c->fanout_chunk, 100000);
	assert_int_equal(c->sms_warn_segments, 20);
	config_free(c);
	c = load_ok("[broadcast]\nnotice_ttl = 1m\nretry_initial = 1s\n"
		    "retry_max = 1s\nmax_attempts = 1\nfanout_chunk = 100\n"
		    "sms_warn_segments = 1\n");
	assert_int_equal(c->notice_ttl_ms, 60000);
	assert_int_equal(c->retry_max_ms, 1000);
	assert_int_equal(c->max_attempts, 1);
	config_free(c);

	load_errors("[broadcast]\n"
		    "notice_ttl = 59s\n"
		    "retry_initial = 2h\n"
		    "retry_max = 2d\n"
		    "max_attempts = 0\n"
		    "fanout_chunk = 99\n"
		    "sms_warn_segments = 21\n"
		    "notice_ttl = 31d\n",
		    "loaxa.ini:2: [broadcast] notice_ttl = 59s: out of range "
		    "(1m..30d)",
		    "loaxa.ini:3: [broadcast] retry_initial = 2h: out of range "
		    "(1s..1h)",
		    "loaxa.ini:4: [broadcast] retry_max = 2d: out of range "
		    "(1s..1d)",
		    "loaxa.ini:5: [broadcast] max_attempts = 0: out of range "
		    "(1..100)",
		    "loaxa.ini:6: [broadcast] fanout_chunk = 99: out of range "
		    "(100..100000)",
		    "loaxa.ini:7: [broadcast] sms_warn_segments = 21: out of "
		    "range (1..20)",
		    "loaxa.ini:8: duplicate key 'notice_ttl' in [broadcast] "
		    "(first set on line 2)",
		    NULL);
	load_errors("[broadcast]\nnotice_ttl = 31d\nmax_attempts = 101\n"
		    "fanout_chunk = 100001\nsms_warn_segments = 0\n"
		    "notice_ttl2 = 1\n",
		    "loaxa.ini:2: [broadcast] notice_ttl = 31d: out of range "
		    "(1m..30d)",
		    "loaxa.ini:3: [broadcast] max_attempts = 101: out of range "
		    "(1..100)",
		    "loaxa.ini:4: [broadcast] fanout_chunk = 100001: out of "
		    "range (100..100000)",
		    "loaxa.ini:5: [broadcast] sms_warn_segments = 0: out of "
		    "range (1..20)",
		    "loaxa.ini:6: unknown key 'notice_ttl2' in [broadcast]; "
		    "did you mean 'notice_ttl'?",
		    NULL);
	load_errors("[broadcast]\nretry_initial = 30\nmax_attempts = five\n",
		    "loaxa.ini:2: [broadcast] retry_initial = 30: missing unit "
		    "(ms, s, m, h or d), e.g. 30s",
		    "loaxa.ini:3: [broadcast] max_attempts = five: not a whole "
		    "number",
		    NULL);
	load_errors("[broadcaste]\n",
		    "loaxa.ini:1: unknown section [broadcaste]; did you mean "
		    "[broadcast]?",
		    NULL);
}

static void test_retry_cross(void **state)
{
	(void)state;
	/* retry_max below retry_initial: reported on retry_max's line, or
	 * on retry_initial's when retry_max is left at its default. */
	load_errors("[broadcast]\nretry_initial = 1m\nretry_max = 59s\n",
		    "loaxa.ini:3: [broadcast] retry_max (59s) is shorter than "
		    "retry_initial (1m)",
		    NULL);
	load_errors("[broadcast]\nretry_max = 10s\n\n",
		    "loaxa.ini:2: [broadcast] retry_max (10s) is shorter than "
		    "retry_initial (30s)",
		    NULL);
	load_errors("[broadcast]\n\nretry_initial = 1h\n",
		    "loaxa.ini:3: [broadcast] retry_max (30m) is shorter than "
		    "retry_initial (1h)",
		    NULL);
	/* A bad value is reported once, not compared. */
	load_errors("[broadcast]\nretry_initial = 1h\nretry_max = 1x\n",
		    "loaxa.ini:3: [broadcast] retry_max = 1x: not a duration "
		    "(use a number with ms, s, m, h or d, e.g. 30s)",
		    NULL);
	struct config *c = load_ok("[broadcast]\nretry_initial = 1m\n"
				   "retry_max = 1m\n");
	assert_int_equal(c->retry_max_ms, c->retry_initial_ms);
	config_free(c);
}

static void test_quiet_hours(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		int start, end;
	} good[] = {
		{ "21:00-06:00", 21 * 60, 6 * 60 },  /* across midnight */
		{ "22:30-23:45", 22 * 60 + 30, 23 * 60 + 45 },
		{ "00:00-23:59", 0, 23 * 60 + 59 },
		{ "23:59-00:00", 23 * 60 + 59, 0 },
		{ "9:05-17:00", 9 * 60 + 5, 17 * 60 },
		{ "21:00 - 6:00", 21 * 60, 6 * 60 },
		{ "", -1, -1 },
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char text[64];
		snprintf(text, sizeof text, "[broadcast]\nquiet_hours = %s\n",
			 good[i].text);
		struct config *c = load_ok(text);
		assert_int_equal(c->quiet_start_min, good[i].start);
		assert_int_equal(c->quiet_end_min, good[i].end);
		config_free(c);
	}
	const char *bad[] = { "21:00", "21-06", "24:00-06:00", "21:60-06:00",
			      "21:00-06:00-07:00", "21h-6h", "-06:00",
			      "21:00 06:00", "21:0-06:00", "121:00-06:00",
			      "21:00-06:000", "any" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[64], msg[256];
		snprintf(text, sizeof text, "[broadcast]\n\nquiet_hours = %s\n",
			 bad[i]);
		snprintf(msg, sizeof msg,
			 "loaxa.ini:3: [broadcast] quiet_hours = %s: not a "
			 "time range (use HH:MM-HH:MM in 24-hour time, e.g. "
			 "21:00-06:00, or nothing for none)",
			 bad[i]);
		load_errors(text, msg, NULL);
	}
	load_errors("[broadcast]\nquiet_hours = 06:00-6:00\n",
		    "loaxa.ini:2: [broadcast] quiet_hours = 06:00-6:00: start "
		    "and end are the same (leave the value empty for no quiet "
		    "hours)",
		    NULL);
	/* Normalised for the value checker too. */
	uint64_t v = 7;
	assert_int_equal(config_value_parse(key("broadcast", "quiet_hours"),
					    "6:00-7:00", &v, NULL, 0),
			 0);
	assert_int_equal(v, 0);
}

static void test_timezone(void **state)
{
	(void)state;
	static const struct {
		const char *text, *stored;
		int offset;
	} good[] = {
		{ "Asia/Ho_Chi_Minh", "Asia/Ho_Chi_Minh", 420 },
		{ "asia/ho_chi_minh", "Asia/Ho_Chi_Minh", 420 },
		{ "Asia/Saigon", "Asia/Saigon", 420 },
		{ "Asia/Bangkok", "Asia/Bangkok", 420 },
		{ "Asia/Jakarta", "Asia/Jakarta", 420 },
		{ "UTC", "UTC", 0 },
		{ "Etc/UTC", "Etc/UTC", 0 },
		{ "+07:00", "+07:00", 420 },
		{ "-03:30", "-03:30", -210 },
		{ "+05:45", "+05:45", 345 },
		{ "+00:00", "+00:00", 0 },
		{ "+14:00", "+14:00", 840 },
		{ "-12:00", "-12:00", -720 },
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char text[64];
		snprintf(text, sizeof text, "[broadcast]\ntimezone = %s\n",
			 good[i].text);
		struct config *c = load_ok(text);
		assert_string_equal(c->timezone, good[i].stored);
		assert_int_equal(c->utc_offset_min, good[i].offset);
		config_free(c);
	}
	const char *bad[] = { "Europe/Berlin", "ICT", "GMT+7", "+7",
			      "+0700", "07:00", "+07:00:00", "UTC+07:00", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[64], msg[512];
		snprintf(text, sizeof text, "[broadcast]\ntimezone = %s\n",
			 bad[i]);
		snprintf(msg, sizeof msg,
			 "loaxa.ini:2: [broadcast] timezone = %s: unknown "
			 "time zone (use Asia/Ho_Chi_Minh, Asia/Saigon, "
			 "Asia/Bangkok, Asia/Jakarta, UTC, Etc/UTC or a fixed "
			 "offset such as +07:00: loaxa keeps a fixed offset, "
			 "which suits Vietnam, where clocks never change)",
			 bad[i]);
		load_errors(text, msg, NULL);
	}
	const char *range[] = { "+14:15", "-12:30", "+07:60", "+99:00" };
	for (size_t i = 0; i < sizeof range / sizeof range[0]; i++) {
		char text[64], msg[256];
		snprintf(text, sizeof text, "[broadcast]\ntimezone = %s\n",
			 range[i]);
		snprintf(msg, sizeof msg,
			 "loaxa.ini:2: [broadcast] timezone = %s: offset out "
			 "of range (-12:00..+14:00)",
			 range[i]);
		load_errors(text, msg, NULL);
	}
}

/* ---- [templates] ---- */

static void test_templates(void **state)
{
	(void)state;
	struct config *c = load_ok(
		"[templates]\n"
		"meeting = Mời {name} họp {title} lúc {time} tại {place}\n"
		"notice = {{Thông báo}} {body}\n"
		"reminder = Nhắc: {title}\n");
	assert_string_equal(c->tmpl_meeting,
			    "Mời {name} họp {title} lúc {time} tại {place}");
	assert_string_equal(c->tmpl_notice, "{{Thông báo}} {body}");
	assert_string_equal(c->tmpl_reminder, "Nhắc: {title}");
	config_free(c);

	/* The default meeting text, written out, is one valid line. */
	c = load_ok("[templates]\nmeeting = " MEETING_DEFAULT "\n");
	assert_string_equal(c->tmpl_meeting, MEETING_DEFAULT);
	config_free(c);

	/* Errors name the key and the place, not the (long) value. */
	load_errors("[templates]\n"
		    "meeting = Kính {nmae}\n"
		    "notice = Thông báo {title\n"
		    "reminder = }\n",
		    "loaxa.ini:2: [templates] meeting: unknown placeholder "
		    "{nmae} at character 6",
		    "loaxa.ini:3: [templates] notice: unclosed '{' at "
		    "character 11 (write {{ for a literal brace)",
		    "loaxa.ini:4: [templates] reminder: unmatched '}' at "
		    "character 1 (write }} for a literal brace)",
		    NULL);
	load_errors("[templates]\n\nnotice =\n",
		    "loaxa.ini:3: [templates] notice: must not be empty", NULL);
	load_errors("[templates]\nmeeting = Mời {Name}\n",
		    "loaxa.ini:2: [templates] meeting: unknown placeholder "
		    "{Name} at character 5",
		    NULL);
	/* The text rules still apply first. */
	load_errors("[templates]\nnotice = \"{body}\"\n",
		    "loaxa.ini:2: [templates] notice: quotes are not removed: "
		    "write the value without them",
		    NULL);
}

/* ---- [route] ---- */

static void test_route(void **state)
{
	(void)state;
	struct config *c = load_ok("[route]\n"
				   "chain = zalo_oa, zns ,sms\n"
				   "[channel.zalo_oa]\n"
				   "driver = zalo_oa\n"
				   "url = https://openapi.zalo.me/v3.0/oa/"
				   "message/cs\n"
				   "access_token_file = credential:oa\n"
				   "[channel.sms]\n"
				   "driver = twilio\n"
				   "url = https://api.twilio.com/x\n"
				   "account_sid = AC1\n"
				   "auth_token_file = /t\n"
				   "from = +15005550006\n" ZNS_CHANNEL);
	assert_int_equal(c->nroute, 3);
	assert_string_equal(c->route[0], "zalo_oa");
	assert_string_equal(c->route[1], "zns");
	assert_string_equal(c->route[2], "sms");
	assert_int_equal(c->nchannels, 3);
	for (size_t i = 0; i < c->nroute; i++)
		assert_non_null(config_channel_find(c, c->route[i]));
	config_free(c);

	c = load_ok("[route]\nchain =\n");
	assert_int_equal(c->nroute, 0);
	assert_null(c->route);
	config_free(c);

	/* Every name must be a [channel.NAME], wherever the section is. */
	load_errors("[route]\n"
		    "chain = zns, sms, zalo_o\n" ZNS_CHANNEL
		    "[channel.Zalo_oa]\n"
		    "driver = zalo_oa\n"
		    "url = https://openapi.zalo.me/v3.0/oa/message/cs\n"
		    "access_token_file = /oa\n",
		    "loaxa.ini:2: [route] chain: no section [channel.sms] (the "
		    "channels are zns, Zalo_oa)",
		    "loaxa.ini:2: [route] chain: no section [channel.zalo_o]; "
		    "did you mean Zalo_oa?",
		    NULL);
	load_errors("[route]\nchain = zns\n",
		    "loaxa.ini:2: [route] chain: no section [channel.zns] (no "
		    "channel is declared)",
		    NULL);
	load_errors("[route]\nchain = ZNS\n" ZNS_CHANNEL,
		    "loaxa.ini:2: [route] chain: no section [channel.ZNS]; did "
		    "you mean zns?",
		    NULL);

	/* The list itself. */
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "zns,,sms", "empty name in the list" },
		{ "zns,", "empty name in the list" },
		{ "zns, zns", "'zns' is named twice" },
		{ "zns sms", "'zns sms' is not a channel name (1 to 32 "
			     "letters, digits, '-' or '_')" },
		{ "[channel.zns]", "'[channel.zns]' is not a channel name (1 "
				   "to 32 letters, digits, '-' or '_')" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[128], msg[256];
		snprintf(text, sizeof text, "[route]\nchain = %s\n",
			 bad[i].text);
		snprintf(msg, sizeof msg, "loaxa.ini:2: [route] chain = %s: %s",
			 bad[i].text, bad[i].why);
		load_errors(text, msg, NULL);
	}
	/* More names than channels can exist. */
	char text[256] = "[route]\nchain = ";
	for (int i = 0; i < 33; i++)
		snprintf(text + strlen(text), sizeof text - strlen(text),
			 "%sc%d", i ? "," : "", i);
	snprintf(text + strlen(text), sizeof text - strlen(text), "\n");
	struct config_diag d = { 0 };
	assert_int_equal(load(text, &c, &d), -EINVAL);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.msgs[0], ": too many channels (max 32)"));
	config_diag_free(&d);
}

/* ---- [channel.NAME] ---- */

static void test_channel_sections(void **state)
{
	(void)state;
	struct config *c = load_ok(
		"[channel.sms-1]\n"
		"driver = esms\n"
		"url = https://rest.esms.vn/x\n"
		"api_key_file = /k\nsecret_key_file = credential:esms\n"
		"brandname = UBND\n"
		"[channel.A_b-9xyzxyzxyzxyzxyzxyzxyzxyzxyz]\n"
		"driver = messenger\n"
		"url = https://graph.facebook.com/v21.0/me/messages\n"
		"access_token_file = /p\n");
	assert_int_equal(c->nchannels, 2);
	assert_string_equal(c->channels[0].name, "sms-1");
	assert_int_equal(c->channels[0].line, 1);
	assert_int_equal(c->channels[0].driver, CHD_ESMS);
	assert_string_equal(c->channels[0].brandname, "UBND");
	assert_channel_defaults(&c->channels[0]);
	assert_string_equal(c->channels[1].name,
			    "A_b-9xyzxyzxyzxyzxyzxyzxyzxyzxyz");
	assert_int_equal(c->channels[1].line, 7);
	assert_int_equal(c->channels[1].driver, CHD_MESSENGER);
	assert_string_equal(c->channels[1].access_token_file, "/p");
	assert_channel_limits(&c->channels[1]);
	assert_ptr_equal(config_channel_find(c, "sms-1"), &c->channels[0]);
	assert_null(config_channel_find(c, "SMS-1"));
	assert_null(config_channel_find(c, "sms"));
	assert_null(config_channel_find(c, NULL));
	assert_null(config_channel_find(NULL, "sms-1"));
	config_free(c);

	/* Bad names; keys under them are not reported again. */
	load_errors("[channel.]\ndriver = zns\n"
		    "[channel.zns sms]\n"
		    "[channel.abcdefghijklmnopqrstuvwxyz0123456]\n"
		    "[channel.Đông]\n"
		    "[channel]\n"
		    "[channels.zns]\n"
		    "[Channel.zns]\n"
		    "[chanel.zns]\n",
		    "loaxa.ini:1: invalid channel name in [channel.] (use 1 "
		    "to 32 letters, digits, '-' or '_')",
		    "loaxa.ini:3: invalid channel name in [channel.zns sms] "
		    "(use 1 to 32 letters, digits, '-' or '_')",
		    "loaxa.ini:4: invalid channel name in "
		    "[channel.abcdefghijklmnopqrstuvwxyz0123456] (use 1 to 32 "
		    "letters, digits, '-' or '_')",
		    "loaxa.ini:5: invalid channel name in [channel.Đông] (use "
		    "1 to 32 letters, digits, '-' or '_')",
		    "loaxa.ini:6: unknown section [channel]; a channel is "
		    "declared as [channel.NAME]",
		    "loaxa.ini:7: unknown section [channels.zns]; a channel is "
		    "declared as [channel.NAME]",
		    "loaxa.ini:8: unknown section [Channel.zns]; a channel is "
		    "declared as [channel.NAME]",
		    "loaxa.ini:9: unknown section [chanel.zns]", NULL);

	/* A repeated channel is an error; its keys go to the first one. */
	load_errors(ZNS_CHANNEL "[api]\n" ZNS_CHANNEL "[channel.ZNS]\n"
				"rate = 2\n",
		    "loaxa.ini:7: duplicate section [channel.zns] (first on "
		    "line 1)",
		    "loaxa.ini:8: duplicate key 'driver' in [channel.zns] "
		    "(first set on line 2)",
		    "loaxa.ini:9: duplicate key 'url' in [channel.zns] (first "
		    "set on line 3)",
		    "loaxa.ini:10: duplicate key 'access_token_file' in "
		    "[channel.zns] (first set on line 4)",
		    "loaxa.ini:11: duplicate key 'template_id' in "
		    "[channel.zns] (first set on line 5)",
		    "loaxa.ini:12: duplicate channel [channel.ZNS] (first on "
		    "line 1 as [channel.zns]; names differing only in case are "
		    "too alike)",
		    NULL);

	/* Keys: unknown, misplaced, outside; trailing text after header. */
	load_errors(ZNS_CHANNEL "urll = https://x\nsocket = /x\n"
				"[api]\nbrandname = X\n[channel.b] x\n",
		    "loaxa.ini:6: unknown key 'urll' in [channel.zns]; did you "
		    "mean 'url'?",
		    "loaxa.ini:7: unknown key 'socket' in [channel.zns]; it "
		    "belongs in [api]",
		    "loaxa.ini:9: unknown key 'brandname' in [api]; it belongs "
		    "in [channel.NAME]",
		    "loaxa.ini:10: unexpected text after [channel.b]",
		    "loaxa.ini:10: [channel.b] driver is not set (use zns, "
		    "zalo_oa, messenger, esms or twilio)",
		    "loaxa.ini:10: [channel.b] url is not set", NULL);

	/* At most 32 channels: the 33rd is reported once. */
	size_t cap = 40 * 64;
	char *text = malloc(cap);
	assert_non_null(text);
	text[0] = '\0';
	for (int i = 0; i < 34; i++)
		snprintf(text + strlen(text), cap - strlen(text),
			 "[channel.c%d]\ndriver = messenger\nurl = https://m\n"
			 "access_token_file = /t\n",
			 i);
	struct config_diag d = { 0 };
	assert_int_equal(load(text, &c, &d), -EINVAL);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0],
			    "loaxa.ini:129: too many channels (max 32)");
	config_diag_free(&d);
	/* 32 are fine. */
	char *cut = strstr(text, "[channel.c32]");
	assert_non_null(cut);
	*cut = '\0';
	c = load_ok(text);
	assert_int_equal(c->nchannels, 32);
	config_free(c);
	free(text);
}

static void test_channel_values(void **state)
{
	(void)state;
	struct config *c = load_ok(
		"[channel.t]\n"
		"driver = TWILIO\n"
		"url = HTTPS://api.twilio.com/2010-04-01/Accounts/AC1/"
		"Messages.json\n"
		"account_sid = AC0123456789abcdef0123456789abcdef\n"
		"auth_token_file = credential:twilio.token\n"
		"from = +15005550006\n"
		"unicode = yes\n"
		"callback_url = https://loaxa.example.vn/hooks/twilio?a=1\n"
		"rate = 0.5\n"
		"segment_rate = 100000\n"
		"max_in_flight = 1024\n"
		"timeout = 5m\n"
		"connect_timeout = 1m\n"
		"max_attempts = 100\n"
		"breaker_failures = 1000\n"
		"breaker_cooldown = 1h\n");
	const struct config_channel *ch = &c->channels[0];
	assert_int_equal(ch->driver, CHD_TWILIO);
	assert_string_equal(ch->url, "HTTPS://api.twilio.com/2010-04-01/"
				     "Accounts/AC1/Messages.json");
	assert_string_equal(ch->auth_token_file, "credential:twilio.token");
	assert_string_equal(ch->from, "+15005550006");
	assert_true(ch->unicode);
	assert_true(ch->rate == 0.5);
	assert_true(ch->segment_rate == 100000.0);
	assert_int_equal(ch->max_in_flight, 1024);
	assert_int_equal(ch->timeout_ms, 300000);
	assert_int_equal(ch->connect_timeout_ms, 60000);
	assert_int_equal(ch->max_attempts, 100);
	assert_int_equal(ch->breaker_failures, 1000);
	assert_int_equal(ch->breaker_cooldown_ms, 3600000);
	config_free(c);

	c = load_ok("[channel.m]\ndriver = messenger\n"
		    "url = http://127.0.0.1:8081/me/messages\n"
		    "allow_http = yes\naccess_token_file = /p\n"
		    "messaging_type = response\ntag = confirmed_event_update\n"
		    "rate = 0\nmax_in_flight = 1\ntimeout = 1s\n"
		    "connect_timeout = 1s\nmax_attempts = 0\n"
		    "breaker_failures = 1\nbreaker_cooldown = 1s\n");
	ch = &c->channels[0];
	assert_true(ch->allow_http);
	assert_string_equal(ch->messaging_type, "RESPONSE");
	assert_string_equal(ch->tag, "CONFIRMED_EVENT_UPDATE");
	assert_true(ch->rate == 0.0);
	config_free(c);

	/* Bad values, each on its line. */
	load_errors(ZNS_CHANNEL
		    "driver = sms\n"
		    "allow_http = maybe\n"
		    "oauth_url = ftp://oauth.zaloapp.com/\n"
		    "app_id = 12 34\n"
		    "app_secret_file = secret\n"
		    "refresh_token_file = credential:a/b\n"
		    "rate = -1\n"
		    "max_in_flight = 1025\n"
		    "timeout = 6m\n"
		    "connect_timeout = 0\n"
		    "max_attempts = 101\n"
		    "breaker_failures = 0\n"
		    "breaker_cooldown = 2h\n",
		    "loaxa.ini:6: duplicate key 'driver' in [channel.zns] "
		    "(first set on line 2)",
		    "loaxa.ini:7: [channel.zns] allow_http = maybe: not a "
		    "boolean (use yes or no)",
		    "loaxa.ini:8: [channel.zns] oauth_url = "
		    "ftp://oauth.zaloapp.com/: not a web address (it must "
		    "start with https://)",
		    "loaxa.ini:9: [channel.zns] app_id = 12 34: must be "
		    "printable ASCII without spaces",
		    "loaxa.ini:10: [channel.zns] app_secret_file = secret: not "
		    "a secret file (use an absolute path or credential:NAME; "
		    "the secret itself never goes in loaxa.ini)",
		    "loaxa.ini:11: [channel.zns] refresh_token_file = "
		    "credential:a/b: not a credential name (credential:NAME, "
		    "NAME without '/')",
		    "loaxa.ini:12: [channel.zns] rate = -1: not a number (e.g. "
		    "10 or 0.5)",
		    "loaxa.ini:13: [channel.zns] max_in_flight = 1025: out of "
		    "range (1..1024)",
		    "loaxa.ini:14: [channel.zns] timeout = 6m: out of range "
		    "(1s..5m)",
		    "loaxa.ini:15: [channel.zns] connect_timeout = 0: out of "
		    "range (1s..1m)",
		    "loaxa.ini:16: [channel.zns] max_attempts = 101: out of "
		    "range (0..100)",
		    "loaxa.ini:17: [channel.zns] breaker_failures = 0: out of "
		    "range (1..1000)",
		    "loaxa.ini:18: [channel.zns] breaker_cooldown = 2h: out of "
		    "range (1s..1h)",
		    NULL);

	load_errors("[channel.x]\ndriver = sms\nurl = https://x\n",
		    "loaxa.ini:2: [channel.x] driver = sms: unknown driver "
		    "(use zns, zalo_oa, messenger, esms or twilio)",
		    NULL);

	static const struct {
		const char *key, *value, *why;
	} bad[] = {
		{ "url", "rest.esms.vn/x", "not a web address (it must start "
					   "with https://)" },
		{ "url", "https://", "missing host after //" },
		{ "url", "https:///path", "missing host after //" },
		{ "url", "https://a b", "contains a space (write it as %20)" },
		{ "brandname", "UBND DONG HA", "not a brandname (up to 11 "
			"letters without diacritics, digits, spaces, '.' or "
			"'-')" },
		{ "brandname", "UBND_HA", "not a brandname (up to 11 letters "
			"without diacritics, digits, spaces, '.' or '-')" },
		{ "brandname", "Đông Hà", "not a brandname (up to 11 letters "
			"without diacritics, digits, spaces, '.' or '-')" },
		{ "sms_type", "", "not an SMS type (a number, e.g. 2)" },
		{ "sms_type", "CSKH", "not an SMS type (a number, e.g. 2)" },
		{ "sms_type", "123", "not an SMS type (a number, e.g. 2)" },
		{ "api_key_file", "./key", "not a secret file (use an absolute "
			"path or credential:NAME; the secret itself never goes "
			"in loaxa.ini)" },
		{ "secret_key_file", "credential:", "not a credential name "
			"(credential:NAME, NAME without '/')" },
		{ "secret_key_file", "credential:..", "not a credential name "
			"(credential:NAME, NAME without '/')" },
		{ "callback_url", "/hooks/esms", "not a web address (it must "
			"start with https://)" },
		{ "rate", "1,5", "not a number (write decimals with '.', e.g. "
				 "0.5)" },
		{ "rate", "1.", "not a number (e.g. 10 or 0.5)" },
		{ "rate", ".5", "not a number (e.g. 10 or 0.5)" },
		{ "rate", "1e3", "not a number (e.g. 10 or 0.5)" },
		{ "rate", "0.0001", "too many decimals (at most 3)" },
		{ "rate", "100000.001", "out of range (0..100000)" },
		{ "rate", "99999999999999999999", "out of range (0..100000)" },
		{ "segment_rate", "100001", "out of range (0..100000)" },
		{ "unicode", "có", "not a boolean (use yes or no)" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[256], msg[512];
		snprintf(text, sizeof text,
			 "[channel.e]\ndriver = esms\nurl = https://e\n"
			 "api_key_file = /k\nsecret_key_file = /s\n"
			 "brandname = B\n%s = %s\n",
			 bad[i].key, bad[i].value);
		snprintf(msg, sizeof msg,
			 "loaxa.ini:7: [channel.e] %s = %s: %s", bad[i].key,
			 bad[i].value, bad[i].why);
		if (strcmp(bad[i].key, "url") == 0 ||
		    strcmp(bad[i].key, "brandname") == 0 ||
		    strcmp(bad[i].key, "api_key_file") == 0 ||
		    strcmp(bad[i].key, "secret_key_file") == 0) {
			/* Replace the good line of the same key. */
			char good[64];
			snprintf(good, sizeof good, "%s = ", bad[i].key);
			char *at = strstr(text, good);
			assert_non_null(at);
			char *eol = strchr(at, '\n');
			memmove(at, eol + 1, strlen(eol + 1) + 1);
			snprintf(msg, sizeof msg,
				 "loaxa.ini:6: [channel.e] %s = %s: %s",
				 bad[i].key, bad[i].value, bad[i].why);
		}
		load_errors(text, msg, NULL);
	}

	static const struct {
		const char *key, *value, *why;
	} tbad[] = {
		{ "from", "0912345678", "not an E.164 number (write '+', the "
			"country code and the number, e.g. +15005550006)" },
		{ "from", "+0912345678", "not an E.164 number (write '+', the "
			"country code and the number, e.g. +15005550006)" },
		{ "from", "+8412345", "not an E.164 number (write '+', the "
			"country code and the number, e.g. +15005550006)" },
		{ "from", "+8491234567890123", "not an E.164 number (write "
			"'+', the country code and the number, e.g. "
			"+15005550006)" },
		{ "from", "+84 912 345 678", "not an E.164 number (write '+', "
			"the country code and the number, e.g. "
			"+15005550006)" },
		{ "account_sid", "AC\xc3\xa9", "must be printable ASCII "
			"without spaces" },
	};
	for (size_t i = 0; i < sizeof tbad / sizeof tbad[0]; i++) {
		char text[256], msg[512];
		snprintf(text, sizeof text,
			 "[channel.t]\ndriver = twilio\nurl = https://t\n"
			 "auth_token_file = /a\n%s = %s\n%s\n",
			 tbad[i].key, tbad[i].value,
			 strcmp(tbad[i].key, "from") == 0
				 ? "account_sid = AC1"
				 : "from = +15005550006");
		snprintf(msg, sizeof msg,
			 "loaxa.ini:5: [channel.t] %s = %s: %s", tbad[i].key,
			 tbad[i].value, tbad[i].why);
		load_errors(text, msg, NULL);
	}

	load_errors("[channel.m]\ndriver = messenger\nurl = https://m\n"
		    "access_token_file = /t\nmessaging_type = TAG\n"
		    "tag = CONFIRMED EVENT\n",
		    "loaxa.ini:5: [channel.m] messaging_type = TAG: not a "
		    "messaging type (use MESSAGE_TAG, RESPONSE or UPDATE)",
		    "loaxa.ini:6: [channel.m] tag = CONFIRMED EVENT: not a "
		    "message tag (letters, digits and '_', e.g. "
		    "CONFIRMED_EVENT_UPDATE)",
		    NULL);

	/* Decimals through the value checker: thousandths. */
	uint64_t v = 0;
	char why[128];
	const struct config_key_info *rate = key("channel.NAME", "rate");
	assert_int_equal(config_value_parse(rate, "2.125", &v, why,
					    sizeof why), 0);
	assert_int_equal(v, 2125);
	assert_int_equal(config_value_parse(rate, "0.5000", &v, why,
					    sizeof why), 0);
	assert_int_equal(v, 500);
	assert_int_equal(config_value_parse(rate, "100000", &v, why,
					    sizeof why), 0);
	assert_int_equal(v, 100000000);
	assert_int_equal(config_value_parse(rate, "100000.0001", &v, why,
					    sizeof why), -EINVAL);
	assert_int_equal(config_value_parse(rate, "100000.5", &v, why,
					    sizeof why), -ERANGE);
	assert_string_equal(why, "out of range (0..100000)");
	const struct config_key_info wide = { .section = "t", .key = "n",
					      .type = CFG_DECIMAL, .def = "0",
					      .min = 0, .max = UINT64_MAX };
	assert_int_equal(config_value_parse(&wide, "18446744073709551", &v,
					    why, sizeof why), 0);
	assert_int_equal(v, 18446744073709551000ULL);
	assert_int_equal(config_value_parse(&wide, "18446744073709552", &v,
					    why, sizeof why), -ERANGE);
}

static void test_channel_http(void **state)
{
	(void)state;
	load_errors("[channel.s]\ndriver = zns\n"
		    "url = http://127.0.0.1:8081/message/template\n"
		    "oauth_url = http://127.0.0.1:8081/v4/oa/access_token\n"
		    "app_id = 1\napp_secret_file = /s\n"
		    "refresh_token_file = /r\ntemplate_id = 7\n",
		    "loaxa.ini:3: [channel.s] url = "
		    "http://127.0.0.1:8081/message/template: plain http is "
		    "only for the sandbox: set allow_http = yes",
		    "loaxa.ini:4: [channel.s] oauth_url = "
		    "http://127.0.0.1:8081/v4/oa/access_token: plain http is "
		    "only for the sandbox: set allow_http = yes",
		    NULL);
	load_errors("[channel.s]\ndriver = messenger\nurl = HTTP://m\n"
		    "access_token_file = /t\nallow_http = no\n",
		    "loaxa.ini:3: [channel.s] url = HTTP://m: plain http is "
		    "only for the sandbox: set allow_http = yes",
		    NULL);
	/* A bad allow_http is reported alone. */
	load_errors("[channel.s]\ndriver = messenger\nurl = http://m\n"
		    "access_token_file = /t\nallow_http = ja\n",
		    "loaxa.ini:5: [channel.s] allow_http = ja: not a boolean "
		    "(use yes or no)",
		    NULL);
	struct config *c = load_ok("[channel.s]\nallow_http = yes\n"
				   "driver = messenger\nurl = http://m\n"
				   "access_token_file = /t\n");
	assert_string_equal(c->channels[0].url, "http://m");
	config_free(c);
	/* callback_url is ours, not the provider's: http is allowed. */
	c = load_ok("[channel.e]\ndriver = esms\nurl = https://e\n"
		    "api_key_file = /k\nsecret_key_file = /s\n"
		    "brandname = B\ncallback_url = http://gw.local/esms\n");
	assert_string_equal(c->channels[0].callback_url,
			    "http://gw.local/esms");
	config_free(c);
}

static void test_channel_drivers(void **state)
{
	(void)state;
	/* Each driver's required keys, named in one message on the driver
	 * line; driver and url on the section line when missing. */
	load_errors("[channel.a]\n"
		    "[channel.b]\nurl = https://b\n\ndriver = zns\n"
		    "[channel.c]\ndriver = zalo_oa\nurl = https://c\n"
		    "[channel.d]\nurl = https://d\ndriver = messenger\n"
		    "[channel.e]\ndriver = esms\nurl = https://e\n"
		    "brandname = X\n"
		    "[channel.f]\ndriver = twilio\nurl = https://f\n",
		    "loaxa.ini:1: [channel.a] driver is not set (use zns, "
		    "zalo_oa, messenger, esms or twilio)",
		    "loaxa.ini:1: [channel.a] url is not set",
		    "loaxa.ini:5: [channel.b] driver = zns needs a token: "
		    "access_token_file, or oauth_url, app_id, app_secret_file "
		    "and refresh_token_file for loaxad to refresh it",
		    "loaxa.ini:5: [channel.b] driver = zns needs template_id",
		    "loaxa.ini:7: [channel.c] driver = zalo_oa needs a token: "
		    "access_token_file, or oauth_url, app_id, app_secret_file "
		    "and refresh_token_file for loaxad to refresh it",
		    "loaxa.ini:11: [channel.d] driver = messenger needs "
		    "access_token_file",
		    "loaxa.ini:13: [channel.e] driver = esms needs "
		    "api_key_file and secret_key_file",
		    "loaxa.ini:17: [channel.f] driver = twilio needs "
		    "account_sid, auth_token_file and from",
		    NULL);
	/* An empty value is not set. */
	load_errors("[channel.x]\ndriver =\nurl =\n",
		    "loaxa.ini:2: [channel.x] driver is not set (use zns, "
		    "zalo_oa, messenger, esms or twilio)",
		    "loaxa.ini:3: [channel.x] url is not set", NULL);
	/* A bad value counts as given: reported once. */
	load_errors("[channel.e]\ndriver = esms\nurl = https://e\n"
		    "api_key_file = key\nsecret_key_file = /s\n"
		    "brandname = Đ\n",
		    "loaxa.ini:4: [channel.e] api_key_file = key: not a secret "
		    "file (use an absolute path or credential:NAME; the secret "
		    "itself never goes in loaxa.ini)",
		    "loaxa.ini:6: [channel.e] brandname = Đ: not a brandname "
		    "(up to 11 letters without diacritics, digits, spaces, '.' "
		    "or '-')",
		    NULL);

	/* Zalo OAuth: all four keys or none. */
	load_errors("[channel.z]\ndriver = zalo_oa\nurl = https://z\n"
		    "oauth_url = https://oauth.zaloapp.com/v4/oa/access_token\n"
		    "app_id = 1\n",
		    "loaxa.ini:2: [channel.z] Zalo OAuth needs oauth_url, "
		    "app_id, app_secret_file and refresh_token_file: "
		    "app_secret_file and refresh_token_file are not set",
		    NULL);
	load_errors("[channel.z]\ndriver = zalo_oa\nurl = https://z\n"
		    "access_token_file = /t\nrefresh_token_file = /r\n"
		    "app_id = 1\napp_secret_file = /s\n",
		    "loaxa.ini:2: [channel.z] Zalo OAuth needs oauth_url, "
		    "app_id, app_secret_file and refresh_token_file: oauth_url "
		    "is not set",
		    NULL);
	struct config *c = load_ok(
		"[channel.z]\ndriver = zns\nurl = https://z\n"
		"oauth_url = https://oauth.zaloapp.com/v4/oa/access_token\n"
		"app_id = 2074138120372622546\n"
		"app_secret_file = credential:zalo-secret\n"
		"refresh_token_file = /var/lib/loaxa/zalo-refresh\n"
		"template_id = 2345\n"
		"template_data = customer_name={name}, meeting_time={time}\n");
	const struct config_channel *ch = &c->channels[0];
	assert_int_equal(ch->driver, CHD_ZNS);
	assert_string_equal(ch->access_token_file, "");
	assert_string_equal(ch->app_id, "2074138120372622546");
	assert_string_equal(ch->template_data,
			    "customer_name={name},meeting_time={time}");
	config_free(c);

	/* Keys of other drivers are errors, named with their drivers. */
	load_errors(ZNS_CHANNEL
		    "brandname = UBND\n"
		    "unicode = yes\n"
		    "tag = ACCOUNT_UPDATE\n"
		    "segment_rate = 1\n"
		    "rate = 5\n",
		    "loaxa.ini:6: [channel.zns] brandname is not used by "
		    "driver zns (only by esms)",
		    "loaxa.ini:7: [channel.zns] unicode is not used by driver "
		    "zns (only by esms and twilio)",
		    "loaxa.ini:8: [channel.zns] tag is not used by driver zns "
		    "(only by messenger)",
		    "loaxa.ini:9: [channel.zns] segment_rate is not used by "
		    "driver zns (only by esms and twilio)",
		    NULL);
	load_errors("[channel.t]\ndriver = twilio\nurl = https://t\n"
		    "account_sid = AC1\nauth_token_file = /a\n"
		    "from = +15005550006\ntemplate_id = 1\n"
		    "access_token_file = /x\napp_id = 1\n",
		    "loaxa.ini:7: [channel.t] template_id is not used by "
		    "driver twilio (only by zns)",
		    "loaxa.ini:8: [channel.t] access_token_file is not used by "
		    "driver twilio (only by zns, zalo_oa and messenger)",
		    "loaxa.ini:9: [channel.t] app_id is not used by driver "
		    "twilio (only by zns and zalo_oa)",
		    NULL);
	/* A bad driver: the rest is not checked against it. */
	load_errors("[channel.t]\ndriver = twillio\nurl = https://t\n"
		    "brandname = X\n",
		    "loaxa.ini:2: [channel.t] driver = twillio: unknown driver "
		    "(use zns, zalo_oa, messenger, esms or twilio)",
		    NULL);

	/* Messenger: MESSAGE_TAG needs a tag. */
	load_errors("[channel.m]\ndriver = messenger\nurl = https://m\n"
		    "access_token_file = /t\ntag =\n",
		    "loaxa.ini:5: [channel.m] messaging_type = MESSAGE_TAG "
		    "needs a tag, e.g. CONFIRMED_EVENT_UPDATE",
		    NULL);
	c = load_ok("[channel.m]\ndriver = messenger\nurl = https://m\n"
		    "access_token_file = /t\ntag =\nmessaging_type = UPDATE\n");
	assert_string_equal(c->channels[0].tag, "");
	config_free(c);
}

static void test_template_data(void **state)
{
	(void)state;
	static const struct {
		const char *text, *stored;
	} good[] = {
		{ "a={name}", "a={name}" },
		{ " customer_name = {name} , time={time},x=Họp {title} {{1}}",
		  "customer_name={name},time={time},x=Họp {title} {{1}}" },
		{ "code=2A", "code=2A" },
		/* A ',' not followed by "name =" is part of the value. */
		{ "x=Họp {title}, lúc {time}, y = {name}",
		  "x=Họp {title}, lúc {time},y={name}" },
		{ "a={name},,b=1", "a={name},,b=1" },
		{ "a=1, =2, b c", "a=1, =2, b c" },
		{ "a={name},", "a={name}," },
		{ "", "" },
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char text[256];
		snprintf(text, sizeof text, ZNS_CHANNEL "template_data = %s\n",
			 good[i].text);
		struct config *c = load_ok(text);
		assert_string_equal(c->channels[0].template_data,
				    good[i].stored);
		config_free(c);
	}
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "a={nmae}", "parameter a: unknown placeholder {nmae} at "
			      "character 1" },
		{ "a={name}, b=x {time", "parameter b: unclosed '{' at "
					 "character 3 (write {{ for a literal "
					 "brace)" },
		{ "a={}", "parameter a: empty placeholder {} at character "
			  "1" },
		{ "{name}", "item 1 is not param=value (write "
			    "param={placeholder}, ...)" },
		{ "=2", "item 1 has no parameter name before '='" },
		{ "a b=1", "item 1 is not param=value (write "
			   "param={placeholder}, ...)" },
		{ "tên=1", "item 1 is not param=value (write "
			   "param={placeholder}, ...)" },
		{ "a=1, a={name}", "parameter a is given twice" },
		{ "a=", "parameter a has no value" },
		{ "a=, b=1", "parameter a has no value" },
		{ "a=1, b= ", "parameter b has no value" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[256], msg[512];
		snprintf(text, sizeof text, ZNS_CHANNEL "template_data = %s\n",
			 bad[i].text);
		snprintf(msg, sizeof msg,
			 "loaxa.ini:6: [channel.zns] template_data: %s",
			 bad[i].why);
		load_errors(text, msg, NULL);
	}
	/* Limits, through the value checker. */
	const struct config_key_info *k = key("channel.NAME", "template_data");
	char why[256], v[1024];
	size_t o = 0;
	for (int i = 0; i < 64; i++)
		o += (size_t)snprintf(v + o, sizeof v - o, "%sp%d=1",
				      i ? "," : "", i);
	assert_int_equal(config_value_parse(k, v, NULL, why, sizeof why), 0);
	snprintf(v + o, sizeof v - o, ",p64=1");
	assert_int_equal(config_value_parse(k, v, NULL, why, sizeof why),
			 -EINVAL);
	assert_string_equal(why, "too many parameters (max 64)");
	/* A 64-character name is the longest. */
	memset(v, 'k', 64);
	snprintf(v + 64, sizeof v - 64, "=1");
	assert_int_equal(config_value_parse(k, v, NULL, why, sizeof why), 0);
	memset(v, 'k', 65);
	snprintf(v + 65, sizeof v - 65, "=1");
	assert_int_equal(config_value_parse(k, v, NULL, why, sizeof why),
			 -EINVAL);
	assert_string_equal(why, "item 1: a parameter name is at most 64 "
				 "letters, digits or '_'");
}

/* ---- secrets ---- */

static void write_mode(const char *path, const char *data, size_t len,
		       mode_t mode)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* Runs config_read_secret with the log captured; returns what was
 * logged (caller frees). */
static char *read_secret_logged(const char *ref, int *r, char **ret,
				char *err, size_t errsz)
{
	char *logbuf = NULL;
	size_t loglen = 0;
	FILE *f = open_memstream(&logbuf, &loglen);
	assert_non_null(f);
	log_set_stream(f);
	*r = config_read_secret(ref, ret, err, errsz);
	log_set_stream(NULL);
	assert_int_equal(fclose(f), 0);
	return logbuf;
}

static void test_secrets(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-config-secret-XXXXXX", path[128], ref[160];
	char err[512], want[512], *s = NULL, *logged;
	int r;
	assert_non_null(mkdtemp(dir));

	/* A file: trailing whitespace removed, nothing logged. */
	snprintf(path, sizeof path, "%s/token", dir);
	static const char tok[] = "  s3cr3t-T0ken value\r\n\n \t";
	write_mode(path, tok, sizeof tok - 1, 0600);
	logged = read_secret_logged(path, &r, &s, err, sizeof err);
	assert_int_equal(r, 0);
	assert_string_equal(s, "  s3cr3t-T0ken value");
	assert_string_equal(logged, "");
	free(logged);
	free(s);
	s = NULL;

	/* Readable by every user: a warning naming the file, not the
	 * secret. */
	assert_int_equal(chmod(path, 0644), 0);
	logged = read_secret_logged(path, &r, &s, err, sizeof err);
	assert_int_equal(r, 0);
	assert_string_equal(s, "  s3cr3t-T0ken value");
	snprintf(want, sizeof want,
		 "<4>[cfg] secret file %s is readable by every user: chmod "
		 "o-r it\n",
		 path);
	assert_string_equal(logged, want);
	assert_null(strstr(logged, "s3cr3t"));
	free(logged);
	free(s);
	s = NULL;
	/* Group-readable is the admin's choice: no warning. */
	assert_int_equal(chmod(path, 0640), 0);
	logged = read_secret_logged(path, &r, &s, err, sizeof err);
	assert_int_equal(r, 0);
	assert_string_equal(logged, "");
	free(logged);
	free(s);
	s = NULL;

	/* credential:NAME, with and without $CREDENTIALS_DIRECTORY. */
	char *saved = getenv("CREDENTIALS_DIRECTORY");
	saved = saved ? strdup(saved) : NULL;
	assert_int_equal(unsetenv("CREDENTIALS_DIRECTORY"), 0);
	assert_int_equal(config_read_secret("credential:token", &s, err,
					    sizeof err),
			 -ENOENT);
	assert_null(s);
	assert_string_equal(err, "credential:token needs systemd's "
				 "LoadCredential= ($CREDENTIALS_DIRECTORY is "
				 "not set)");
	assert_int_equal(setenv("CREDENTIALS_DIRECTORY", "", 1), 0);
	assert_int_equal(config_read_secret("credential:token", &s, err,
					    sizeof err),
			 -ENOENT);
	assert_int_equal(setenv("CREDENTIALS_DIRECTORY", dir, 1), 0);
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(config_read_secret("credential:token", &s, err,
					    sizeof err),
			 0);
	assert_string_equal(s, "  s3cr3t-T0ken value");
	free(s);
	s = NULL;
	assert_int_equal(config_read_secret("credential:nope", &s, err,
					    sizeof err),
			 -ENOENT);
	snprintf(want, sizeof want,
		 "cannot read secret file %s/nope: No such file or directory",
		 dir);
	assert_string_equal(err, want);
	assert_int_equal(config_read_secret("credential:../token", &s, err,
					    sizeof err),
			 -EINVAL);
	assert_string_equal(err, "credential:../token: not a credential name "
				 "(NAME without '/')");
	assert_int_equal(config_read_secret("credential:", &s, err,
					    sizeof err),
			 -EINVAL);
	if (saved) {
		setenv("CREDENTIALS_DIRECTORY", saved, 1);
		free(saved);
	} else {
		unsetenv("CREDENTIALS_DIRECTORY");
	}

	/* Empty, or only whitespace. */
	snprintf(path, sizeof path, "%s/empty", dir);
	write_mode(path, " \n\t\r\n", 5, 0600);
	assert_int_equal(config_read_secret(path, &s, err, sizeof err),
			 -EINVAL);
	snprintf(want, sizeof want, "secret file %s is empty", path);
	assert_string_equal(err, want);
	write_mode(path, "", 0, 0600);
	assert_int_equal(config_read_secret(path, &s, err, sizeof err),
			 -EINVAL);
	assert_string_equal(err, want);
	assert_null(s);

	/* A NUL byte would cut the secret short. */
	write_mode(path, "ab\0cd", 5, 0600);
	assert_int_equal(config_read_secret(path, &s, err, sizeof err),
			 -EINVAL);
	snprintf(want, sizeof want, "secret file %s contains a NUL byte",
		 path);
	assert_string_equal(err, want);

	/* 64 KiB is the most. */
	char *big = malloc(65537);
	assert_non_null(big);
	memset(big, 'x', 65537);
	write_mode(path, big, 65536, 0600);
	assert_int_equal(config_read_secret(path, &s, err, sizeof err), 0);
	assert_int_equal(strlen(s), 65536);
	free(s);
	s = NULL;
	write_mode(path, big, 65537, 0600);
	free(big);
	assert_int_equal(config_read_secret(path, &s, err, sizeof err),
			 -EFBIG);
	snprintf(want, sizeof want, "secret file %s is larger than 64 KiB",
		 path);
	assert_string_equal(err, want);
	assert_null(s);
	assert_int_equal(unlink(path), 0);

	/* Missing file, a directory, not a reference. */
	snprintf(path, sizeof path, "%s/missing", dir);
	assert_int_equal(config_read_secret(path, &s, err, sizeof err),
			 -ENOENT);
	snprintf(want, sizeof want,
		 "cannot read secret file %s: No such file or directory", path);
	assert_string_equal(err, want);
	assert_int_equal(config_read_secret(dir, &s, err, sizeof err),
			 -EINVAL);
	snprintf(want, sizeof want, "secret file %s is not a regular file",
		 dir);
	assert_string_equal(err, want);
	assert_int_equal(config_read_secret("token", &s, err, sizeof err),
			 -EINVAL);
	assert_string_equal(err, "token: not an absolute path or "
				 "credential:NAME");
	assert_int_equal(config_read_secret("", &s, err, sizeof err),
			 -EINVAL);
	assert_string_equal(err, "no secret file is set");
	assert_int_equal(config_read_secret(NULL, &s, NULL, 0), -EINVAL);
	snprintf(ref, sizeof ref, "%s/token", dir);
	assert_int_equal(config_read_secret(ref, NULL, err, sizeof err),
			 -EINVAL);
	assert_null(s);

	assert_int_equal(unlink(ref), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- [webhooks] and [hooks] ---- */

/* Enough for [webhooks] listen to be accepted. */
#define WH_SECRET "zalo_oa_secret_file = /etc/loaxa/oa-secret\n"

static void test_webhooks_values(void **state)
{
	(void)state;
	struct config *c = load_ok(
		"[webhooks]\n"
		"listen = 127.0.0.1:8081\n"
		"max_body = 64K\n"
		"max_connections = 10000\n"
		"zalo_oa_secret_file = /etc/loaxa/oa-secret\n"
		"messenger_app_secret_file = credential:fb-app-secret\n"
		"messenger_verify_token_file = /etc/loaxa/fb-verify\n"
		"esms_secret_file = credential:esms-path\n"
		"public_url = https://loaxa.example.vn/hooks-in\n"
		"metrics = yes\n"
		"unconfirmed_after = 7d\n");
	assert_string_equal(c->wh_listen, "127.0.0.1:8081");
	assert_int_equal(c->wh_max_body, 64 * 1024);
	assert_int_equal(c->wh_max_connections, 10000);
	assert_string_equal(c->wh_zalo_oa_secret_file, "/etc/loaxa/oa-secret");
	assert_string_equal(c->wh_messenger_app_secret_file,
			    "credential:fb-app-secret");
	assert_string_equal(c->wh_messenger_verify_token_file,
			    "/etc/loaxa/fb-verify");
	assert_string_equal(c->wh_esms_secret_file, "credential:esms-path");
	assert_string_equal(c->wh_public_url,
			    "https://loaxa.example.vn/hooks-in");
	assert_true(c->wh_metrics);
	assert_int_equal(c->unconfirmed_after_ms, 7ULL * 86400 * 1000);
	/* The rest stays at its defaults. */
	assert_string_equal(c->rsvp_yes, RSVP_YES_DEFAULT);
	assert_string_equal(c->hook_url, "");
	config_free(c);

	/* The other ends of the ranges; IPv6; plain http for a public URL
	 * (a proxy on the same LAN). */
	c = load_ok("[webhooks]\nmax_body = 1M\nmax_connections = 1\n"
		    "unconfirmed_after = 1m\nlisten = [::1]:9000\n"
		    "esms_secret_file = /s\n"
		    "public_url = http://10.0.0.5:8081\n");
	assert_int_equal(c->wh_max_body, 1024 * 1024);
	assert_int_equal(c->wh_max_connections, 1);
	assert_int_equal(c->unconfirmed_after_ms, 60000);
	assert_string_equal(c->wh_listen, "[::1]:9000");
	assert_string_equal(c->wh_public_url, "http://10.0.0.5:8081");
	config_free(c);

	/* Each bad value on its line; every one is reported. */
	load_errors("[webhooks]\n"
		    "listen = loaxa.example.vn:443\n"
		    "max_body = 63K\n"
		    "max_connections = 0\n"
		    "zalo_oa_secret_file = oa-secret\n"
		    "messenger_app_secret_file = credential:a/b\n"
		    "messenger_verify_token_file = credential:\n"
		    "esms_secret_file = s3cr3t\n"
		    "public_url = ftp://x\n"
		    "metrics = maybe\n"
		    "unconfirmed_after = 59s\n",
		    "loaxa.ini:2: [webhooks] listen = loaxa.example.vn:443: "
		    "host must be an IPv4 address, an [IPv6] address or "
		    "localhost (names are not resolved)",
		    "loaxa.ini:3: [webhooks] max_body = 63K: out of range "
		    "(64K..1M)",
		    "loaxa.ini:4: [webhooks] max_connections = 0: out of range "
		    "(1..10000)",
		    "loaxa.ini:5: [webhooks] zalo_oa_secret_file = oa-secret: "
		    "not a secret file (use an absolute path or "
		    "credential:NAME; the secret itself never goes in "
		    "loaxa.ini)",
		    "loaxa.ini:6: [webhooks] messenger_app_secret_file = "
		    "credential:a/b: not a credential name (credential:NAME, "
		    "NAME without '/')",
		    "loaxa.ini:7: [webhooks] messenger_verify_token_file = "
		    "credential:: not a credential name (credential:NAME, "
		    "NAME without '/')",
		    "loaxa.ini:8: [webhooks] esms_secret_file = s3cr3t: not a "
		    "secret file (use an absolute path or credential:NAME; the "
		    "secret itself never goes in loaxa.ini)",
		    "loaxa.ini:9: [webhooks] public_url = ftp://x: not a web "
		    "address (it must start with https://)",
		    "loaxa.ini:10: [webhooks] metrics = maybe: not a boolean "
		    "(use yes or no)",
		    "loaxa.ini:11: [webhooks] unconfirmed_after = 59s: out of "
		    "range (1m..7d)",
		    NULL);
	load_errors("[webhooks]\nmax_body = 2M\nmax_connections = 10001\n"
		    "unconfirmed_after = 8d\nlisten = 127.0.0.1\n",
		    "loaxa.ini:2: [webhooks] max_body = 2M: out of range "
		    "(64K..1M)",
		    "loaxa.ini:3: [webhooks] max_connections = 10001: out of "
		    "range (1..10000)",
		    "loaxa.ini:4: [webhooks] unconfirmed_after = 8d: out of "
		    "range (1m..7d)",
		    "loaxa.ini:5: [webhooks] listen = 127.0.0.1: missing port "
		    "(use HOST:PORT, e.g. 127.0.0.1:8080)",
		    NULL);

	/* public_url: the listener's paths are appended to it. */
	static const struct {
		const char *url, *why;
	} bad_url[] = {
		{ "https://loaxa.example.vn/", "remove the trailing '/' "
		  "(paths such as /webhooks/zalo are added to it)" },
		{ "https://loaxa.example.vn/in/", "remove the trailing '/' "
		  "(paths such as /webhooks/zalo are added to it)" },
		{ "https://x.vn/?a=1", "must not hold a query or fragment "
		  "('?' or '#'): paths such as /webhooks/zalo are added to "
		  "it" },
		{ "https://x.vn#top", "must not hold a query or fragment "
		  "('?' or '#'): paths such as /webhooks/zalo are added to "
		  "it" },
		{ "https://", "missing host after //" },
		{ "loaxa.example.vn", "not a web address (it must start with "
		  "https://)" },
		{ "https://a b.vn", "contains a space (write it as %20)" },
	};
	for (size_t i = 0; i < sizeof bad_url / sizeof bad_url[0]; i++) {
		char text[256], msg[512];
		snprintf(text, sizeof text, "[hooks]\n[webhooks]\n"
			 "public_url = %s\n", bad_url[i].url);
		snprintf(msg, sizeof msg,
			 "loaxa.ini:3: [webhooks] public_url = %s: %s",
			 bad_url[i].url, bad_url[i].why);
		load_errors(text, msg, NULL);
	}

	/* Misplaced and mistyped keys. */
	load_errors("[webhooks]\npublic_ulr = https://x\nurl = https://y\n"
		    "[hooks]\nlisten = 127.0.0.1:1\n",
		    "loaxa.ini:2: unknown key 'public_ulr' in [webhooks]; did "
		    "you mean 'public_url'?",
		    "loaxa.ini:3: unknown key 'url' in [webhooks]; it belongs "
		    "in [hooks] or [channel.NAME]",
		    "loaxa.ini:5: unknown key 'listen' in [hooks]; it belongs "
		    "in [api] or [webhooks]",
		    NULL);
	load_errors("rsvp_yes = 1\n[webhook]\n[hook]\n[webhooks]\n[webhooks]\n",
		    "loaxa.ini:1: key 'rsvp_yes' outside any section (it "
		    "belongs in [webhooks])",
		    "loaxa.ini:2: unknown section [webhook]; did you mean "
		    "[webhooks]?",
		    "loaxa.ini:3: unknown section [hook]; did you mean "
		    "[hooks]?",
		    "loaxa.ini:5: duplicate section [webhooks] (first on line "
		    "4)",
		    NULL);
}

static void test_webhooks_cross(void **state)
{
	(void)state;
	/* listen needs a secret to check requests with. */
	load_errors("[webhooks]\n\nlisten = 127.0.0.1:8081\n",
		    "loaxa.ini:3: [webhooks] listen is set but no provider "
		    "secret is configured: set zalo_oa_secret_file, "
		    "messenger_app_secret_file or esms_secret_file, or "
		    "declare a twilio channel (else no request could be "
		    "verified)",
		    NULL);
	/* Any one will do, wherever it is in the section. */
	static const char *const one[] = {
		"zalo_oa_secret_file = /a", "messenger_app_secret_file = /b",
		"esms_secret_file = credential:c",
		("messenger_app_secret_file = /b\n"
		 "messenger_verify_token_file = /d"),
	};
	for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
		char text[256];
		snprintf(text, sizeof text,
			 "[webhooks]\n%s\nlisten = 127.0.0.1:8081\n", one[i]);
		struct config *c = load_ok(text);
		config_free(c);
	}
	/* A secret without listen is kept for later. */
	struct config *c = load_ok("[webhooks]\nesms_secret_file = /s\n");
	assert_string_equal(c->wh_listen, "");
	config_free(c);
	/* A bad secret counts as given: reported once. */
	load_errors("[webhooks]\nlisten = 127.0.0.1:8081\n"
		    "esms_secret_file = s\n",
		    "loaxa.ini:3: [webhooks] esms_secret_file = s: not a "
		    "secret file (use an absolute path or credential:NAME; the "
		    "secret itself never goes in loaxa.ini)",
		    NULL);
	/* A bad listen is reported alone. */
	load_errors("[webhooks]\nlisten = 127.0.0.1:0\n",
		    "loaxa.ini:2: [webhooks] listen = 127.0.0.1:0: port out "
		    "of range (1..65535)",
		    NULL);
	/* A twilio channel's auth token checks Twilio's callbacks. */
	c = load_ok("[webhooks]\nlisten = 127.0.0.1:8081\n"
		    "[channel.t]\ndriver = twilio\nurl = https://t\n"
		    "account_sid = AC1\nauth_token_file = /t\n"
		    "from = +15005550006\n");
	config_free(c);

	/* The verify token alone: Messenger's posts could not be checked. */
	load_errors("[webhooks]\nlisten = 127.0.0.1:8081\n" WH_SECRET
		    "messenger_verify_token_file = /v\n",
		    "loaxa.ini:4: [webhooks] messenger_verify_token_file is "
		    "set but messenger_app_secret_file is not (Messenger's "
		    "posts are checked with the app secret)",
		    NULL);
	/* ... with or without listen. */
	load_errors("[webhooks]\nmessenger_verify_token_file = /v\n",
		    "loaxa.ini:2: [webhooks] messenger_verify_token_file is "
		    "set but messenger_app_secret_file is not (Messenger's "
		    "posts are checked with the app secret)",
		    NULL);

	/* listen must not take [api] listen's socket. */
	static const struct {
		const char *api, *wh;
		bool clash;
	} pairs[] = {
		{ "127.0.0.1:8080", "127.0.0.1:8080", true },
		{ "localhost:8080", "127.0.0.1:8080", true },
		{ "127.0.0.1:8080", "LOCALHOST:8080", true },
		{ "[::1]:8080", "localhost:8080", true },
		{ "0.0.0.0:8080", "10.0.0.5:8080", true },
		{ "10.0.0.5:8080", "[::]:8080", true },
		{ "[::1]:8080", "[0:0:0:0:0:0:0:1]:8080", true },
		{ "127.0.0.1:8080", "127.0.0.1:8081", false },
		{ "10.0.0.5:8080", "127.0.0.1:8080", false },
		{ "127.0.0.1:8080", "127.0.0.2:8080", false },
		{ "[::1]:8080", "127.0.0.1:8080", false },
	};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		char text[256], msg[512];
		snprintf(text, sizeof text,
			 "[api]\nlisten = %s\ntoken_file = /t\n"
			 "[webhooks]\n" WH_SECRET "listen = %s\n",
			 pairs[i].api, pairs[i].wh);
		if (!pairs[i].clash) {
			c = load_ok(text);
			config_free(c);
			continue;
		}
		snprintf(msg, sizeof msg,
			 "loaxa.ini:6: [webhooks] listen = %s: must differ "
			 "from [api] listen = %s (the webhooks need a port of "
			 "their own)",
			 pairs[i].wh, pairs[i].api);
		load_errors(text, msg, NULL);
	}
	/* Both errors of listen at once. */
	load_errors("[webhooks]\nlisten = 127.0.0.1:8080\n"
		    "[api]\nlisten = 127.0.0.1:8080\n",
		    "loaxa.ini:2: [webhooks] listen is set but no provider "
		    "secret is configured: set zalo_oa_secret_file, "
		    "messenger_app_secret_file or esms_secret_file, or "
		    "declare a twilio channel (else no request could be "
		    "verified)",
		    "loaxa.ini:2: [webhooks] listen = 127.0.0.1:8080: must "
		    "differ from [api] listen = 127.0.0.1:8080 (the webhooks "
		    "need a port of their own)",
		    NULL);
	/* A bad [api] listen is not compared. */
	load_errors("[api]\nlisten = 127.0.0.1:x\ntoken_file = /t\n"
		    "[webhooks]\n" WH_SECRET "listen = 127.0.0.1:8080\n",
		    "loaxa.ini:2: [api] listen = 127.0.0.1:x: port is not a "
		    "number",
		    NULL);
}

static void test_rsvp(void **state)
{
	(void)state;
	/* Blanks around the commas go; entries of several words stay. */
	struct config *c = load_ok("[webhooks]\n"
				   "rsvp_yes = 1 , có ,  có mặt,Yes!, ok\n"
				   "rsvp_no = 2, không đi, vắng mặt, x-y\n");
	assert_string_equal(c->rsvp_yes, "1,có,có mặt,Yes!,ok");
	assert_string_equal(c->rsvp_no, "2,không đi,vắng mặt,x-y");
	config_free(c);
	/* The same word twice in one list is harmless. */
	c = load_ok("[webhooks]\nrsvp_yes = có,co,CÓ\n");
	assert_string_equal(c->rsvp_yes, "có,co,CÓ");
	config_free(c);

	/* Each entry: not empty, a letter or digit, at most 4 words of at
	 * most 60 bytes (as webhooks.c reads them). */
	char long_word[128], text[512], msg[768];
	memset(long_word, 'a', 61);
	long_word[61] = '\0';
	static const struct {
		const char *list, *why;
	} bad[] = {
		{ "1,,co", "word 2 of the list is empty" },
		{ "1, ,co", "word 2 of the list is empty" },
		{ "1,co,", "word 3 of the list is empty" },
		{ ",", "word 1 of the list is empty" },
		{ "1,?!,co", "'?!' has no letters or digits" },
		{ "1,…,co", "'…' has no letters or digits" },
		{ "có mặt đầy đủ ạ", "'có mặt đầy đủ ạ' has more than 4 "
		  "words" },
		{ "a.b.c.d.e", "'a.b.c.d.e' has more than 4 words" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "[webhooks]\n\nrsvp_yes = %s\n",
			 bad[i].list);
		snprintf(msg, sizeof msg,
			 "loaxa.ini:3: [webhooks] rsvp_yes = %s: %s",
			 bad[i].list, bad[i].why);
		load_errors(text, msg, NULL);
		snprintf(text, sizeof text, "[webhooks]\nrsvp_no = %s\n",
			 bad[i].list);
		snprintf(msg, sizeof msg,
			 "loaxa.ini:2: [webhooks] rsvp_no = %s: %s",
			 bad[i].list, bad[i].why);
		load_errors(text, msg, NULL);
	}
	snprintf(text, sizeof text, "[webhooks]\nrsvp_yes = co, %s\n",
		 long_word);
	snprintf(msg, sizeof msg,
		 "loaxa.ini:2: [webhooks] rsvp_yes = co, %s: '%s' has a word "
		 "longer than 60 bytes",
		 long_word, long_word);
	load_errors(text, msg, NULL);
	long_word[60] = '\0'; /* 60 bytes is fine, 4 words too */
	snprintf(text, sizeof text, "[webhooks]\nrsvp_yes = %s, a b c d\n",
		 long_word);
	c = load_ok(text);
	config_free(c);
	/* Combining marks (decomposed text) belong to their letter. */
	c = load_ok("[webhooks]\nrsvp_yes = co\xcc\x81\n");
	config_free(c);
	load_errors("[webhooks]\nrsvp_no =\n",
		    "loaxa.ini:2: [webhooks] rsvp_no = : must not be empty "
		    "(give at least one word)",
		    NULL);
	load_errors("[webhooks]\nrsvp_yes = c\xf3\n",
		    "loaxa.ini:2: [webhooks] rsvp_yes = c\\xf3: not valid "
		    "UTF-8",
		    NULL);

	/* No word in both lists, compared like text_fold_key: case and
	 * diacritics aside. One message per rsvp_yes entry, on the line of
	 * the list given last. */
	load_errors("[webhooks]\nrsvp_yes = 1, vâng, no\n",
		    "loaxa.ini:2: [webhooks] 'vâng' in rsvp_yes and 'vắng' in "
		    "rsvp_no are the same word without case and diacritics: "
		    "a reply must mean one answer",
		    "loaxa.ini:2: [webhooks] 'no' is in both rsvp_yes and "
		    "rsvp_no: a reply must mean one answer",
		    NULL);
	load_errors("[webhooks]\nrsvp_no = KHÔNG, Có!, 1\n",
		    "loaxa.ini:2: [webhooks] '1' is in both rsvp_yes and "
		    "rsvp_no: a reply must mean one answer",
		    "loaxa.ini:2: [webhooks] 'có' in rsvp_yes and 'Có!' in "
		    "rsvp_no are the same word without case and diacritics: "
		    "a reply must mean one answer",
		    "loaxa.ini:2: [webhooks] 'co' in rsvp_yes and 'Có!' in "
		    "rsvp_no are the same word without case and diacritics: "
		    "a reply must mean one answer",
		    NULL);
	load_errors("[webhooks]\nrsvp_no = 2,no\n\nrsvp_yes = yes, có mặt\n"
		    "[hooks]\n[webhooks]\n",
		    "loaxa.ini:6: duplicate section [webhooks] (first on line "
		    "1)",
		    NULL);
	load_errors("[webhooks]\nrsvp_no = 2, co mat\n\n"
		    "rsvp_yes = yes, có mặt\n",
		    "loaxa.ini:4: [webhooks] 'có mặt' in rsvp_yes and 'co mat' "
		    "in rsvp_no are the same word without case and "
		    "diacritics: a reply must mean one answer",
		    NULL);
	/* Both lists replaced: no overlap with the defaults matters. */
	c = load_ok("[webhooks]\nrsvp_yes = vâng, yes\nrsvp_no = không\n");
	assert_string_equal(c->rsvp_yes, "vâng,yes");
	config_free(c);
	/* A bad list is not compared. */
	load_errors("[webhooks]\nrsvp_yes = 2,,\n",
		    "loaxa.ini:2: [webhooks] rsvp_yes = 2,,: word 2 of the "
		    "list is empty",
		    NULL);

	/* config_value_parse checks one list alone. */
	char why[256] = "";
	uint64_t v = 1;
	assert_int_equal(config_value_parse(key("webhooks", "rsvp_yes"),
					    "có, vâng", &v, why, sizeof why),
			 0);
	assert_int_equal(v, 0);
	assert_int_equal(config_value_parse(key("webhooks", "rsvp_no"), "a,,b",
					    &v, why, sizeof why),
			 -EINVAL);
	assert_string_equal(why, "word 2 of the list is empty");
}

static void test_hooks(void **state)
{
	(void)state;
	struct config *c = load_ok("[hooks]\nurl = https://crm.example.vn/in\n"
				   "secret_file = credential:hook-key\n");
	assert_string_equal(c->hook_url, "https://crm.example.vn/in");
	assert_string_equal(c->hook_secret_file, "credential:hook-key");
	assert_false(c->hook_allow_http);
	config_free(c);
	c = load_ok("[hooks]\nallow_http = yes\nurl = http://127.0.0.1:9/e\n"
		    "secret_file = /etc/loaxa/hook-key\n");
	assert_true(c->hook_allow_http);
	assert_string_equal(c->hook_url, "http://127.0.0.1:9/e");
	config_free(c);
	/* A key without url is kept for later. */
	c = load_ok("[hooks]\nsecret_file = /k\nallow_http = on\n");
	assert_string_equal(c->hook_url, "");
	config_free(c);

	load_errors("[hooks]\n\nurl = https://crm.example.vn/in\n",
		    "loaxa.ini:3: [hooks] url = https://crm.example.vn/in: "
		    "secret_file must be set too (the receiver checks "
		    "X-Loaxa-Signature with it)",
		    NULL);
	load_errors("[hooks]\nurl = http://crm.example.vn/in\n"
		    "secret_file = /k\n",
		    "loaxa.ini:2: [hooks] url = http://crm.example.vn/in: "
		    "plain http sends the events unencrypted: set allow_http "
		    "= yes to allow it",
		    NULL);
	load_errors("[hooks]\nurl = HTTP://crm\nallow_http = no\n",
		    "loaxa.ini:2: [hooks] url = HTTP://crm: secret_file must "
		    "be set too (the receiver checks X-Loaxa-Signature with "
		    "it)",
		    "loaxa.ini:2: [hooks] url = HTTP://crm: plain http sends "
		    "the events unencrypted: set allow_http = yes to allow it",
		    NULL);
	/* Bad values are reported once, not again by the cross checks. */
	load_errors("[hooks]\nurl = http://crm\nsecret_file = key.txt\n"
		    "allow_http = si\n",
		    "loaxa.ini:3: [hooks] secret_file = key.txt: not a secret "
		    "file (use an absolute path or credential:NAME; the secret "
		    "itself never goes in loaxa.ini)",
		    "loaxa.ini:4: [hooks] allow_http = si: not a boolean (use "
		    "yes or no)",
		    NULL);
	load_errors("[hooks]\nurl = crm.example.vn\n",
		    "loaxa.ini:2: [hooks] url = crm.example.vn: not a web "
		    "address (it must start with https://)",
		    NULL);
	load_errors("[hooks]\nurl = https://\nsecret_file = /k\n",
		    "loaxa.ini:2: [hooks] url = https://: missing host after "
		    "//",
		    NULL);
}

/* ---- reload, derived values, files ---- */

static void test_diff_nonreloadable(void **state)
{
	(void)state;
	struct config *a = config_new_default();
	struct config *b = load_ok("[daemon]\nlog_level = debug\n"
				   "debug = store\n"
				   "[api]\nmax_body = 1M\n"
				   "[groups]\nX = Y\n");
	struct config_diag d = { 0 };
	/* Only reloadable keys (and groups) changed. */
	assert_int_equal(config_diff_nonreloadable(a, b, &d), 0);
	assert_int_equal(d.n, 0);
	config_free(b);

	b = NULL;
	assert_int_equal(load("[api]\nsocket = /run/other.sock\n"
			      "timeout = 31s\nmax_body = 2M\n",
			      &b, NULL),
			 0);
	assert_int_equal(config_diff_nonreloadable(a, b, &d), 2);
	assert_int_equal(d.n, 2);
	assert_string_equal(d.msgs[0], "loaxa.ini: [api] socket changed: takes "
				       "effect after a restart");
	assert_string_equal(d.msgs[1], "loaxa.ini: [api] timeout changed: "
				       "takes effect after a restart");
	config_diag_free(&d);
	/* Appends to what is there; works without a diag. */
	assert_int_equal(config_diff_nonreloadable(b, a, NULL), 2);
	assert_int_equal(config_diff_nonreloadable(a, a, &d), 0);
	assert_int_equal(config_diff_nonreloadable(NULL, a, &d), 0);
	config_free(b);

	/* Every non-reloadable key is compared. */
	b = load_ok("[daemon]\nstate_dir = /s\ndatabase = /d\n"
		    "[api]\nsocket = /k\nsocket_mode = 0600\n"
		    "listen = 127.0.0.1:1\ntoken_file = /t\n"
		    "max_connections = 5\ntimeout = 5s\n");
	assert_int_equal(config_diff_nonreloadable(a, b, &d), 8);
	assert_string_equal(d.msgs[0], "loaxa.ini: [daemon] state_dir changed: "
				       "takes effect after a restart");
	assert_string_equal(d.msgs[3], "loaxa.ini: [api] socket_mode changed: "
				       "takes effect after a restart");
	config_diag_free(&d);
	config_free(b);

	/* [broadcast], [templates], [route] and channels reload, except
	 * timezone; the same offset written another way is a change too. */
	b = load_ok("[broadcast]\nnotice_ttl = 1h\nquiet_hours =\n"
		    "retry_initial = 1s\nretry_max = 1m\nmax_attempts = 9\n"
		    "fanout_chunk = 100\nsms_warn_segments = 1\n"
		    "[templates]\nnotice = {body}\n"
		    "[route]\nchain = zns\n" ZNS_CHANNEL);
	assert_int_equal(config_diff_nonreloadable(a, b, &d), 0);
	assert_int_equal(config_diff_nonreloadable(b, a, &d), 0);
	assert_int_equal(d.n, 0);
	config_free(b);
	/* [webhooks]: listen, max_connections and metrics need a restart;
	 * the rest of it and [hooks] reload. */
	b = load_ok("[webhooks]\nmax_connections = 5\nmetrics = yes\n"
		    WH_SECRET "listen = 127.0.0.1:8081\n");
	assert_int_equal(config_diff_nonreloadable(a, b, &d), 3);
	assert_int_equal(d.n, 3);
	assert_string_equal(d.msgs[0], "loaxa.ini: [webhooks] listen changed: "
				       "takes effect after a restart");
	assert_string_equal(d.msgs[1], "loaxa.ini: [webhooks] max_connections "
				       "changed: takes effect after a restart");
	assert_string_equal(d.msgs[2], "loaxa.ini: [webhooks] metrics changed: "
				       "takes effect after a restart");
	config_diag_free(&d);
	assert_int_equal(config_diff_nonreloadable(b, a, NULL), 3);
	config_free(b);
	b = load_ok("[webhooks]\nmax_body = 512K\n"
		    "zalo_oa_secret_file = /a\n"
		    "messenger_app_secret_file = /b\n"
		    "messenger_verify_token_file = /c\n"
		    "esms_secret_file = /d\npublic_url = https://x\n"
		    "unconfirmed_after = 2h\nrsvp_yes = ok\nrsvp_no = ko\n"
		    "[hooks]\nurl = http://h\nsecret_file = /k\n"
		    "allow_http = yes\n");
	assert_int_equal(config_diff_nonreloadable(a, b, &d), 0);
	assert_int_equal(d.n, 0);
	config_free(b);
	b = load_ok("[broadcast]\ntimezone = +07:00\n");
	assert_int_equal(b->utc_offset_min, a->utc_offset_min);
	assert_int_equal(config_diff_nonreloadable(a, b, &d), 1);
	assert_string_equal(d.msgs[0], "loaxa.ini: [broadcast] timezone "
				       "changed: takes effect after a restart");
	config_diag_free(&d);
	config_free(b);
	config_free(a);
}

static void test_database_path(void **state)
{
	(void)state;
	struct config *c = config_new_default();
	char *p = config_database_path(c);
	assert_string_equal(p, "/var/lib/loaxa/loaxa.db");
	free(p);
	config_free(c);

	c = load_ok("[daemon]\nstate_dir = /srv/loaxa/\n");
	p = config_database_path(c);
	assert_string_equal(p, "/srv/loaxa/loaxa.db");
	free(p);
	config_free(c);

	c = load_ok("[daemon]\nstate_dir = /\n");
	p = config_database_path(c);
	assert_string_equal(p, "/loaxa.db");
	free(p);
	config_free(c);

	c = load_ok("[daemon]\nstate_dir = /srv\ndatabase = /data/x.db\n");
	p = config_database_path(c);
	assert_string_equal(p, "/data/x.db");
	free(p);
	config_free(c);
	assert_null(config_database_path(NULL));
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_load_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-config-XXXXXX", path[64], msg[128];
	struct config_diag d = { 0 };
	struct config *c = NULL;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/loaxa.ini", dir);

	static const char ok[] = "[api]\ntimeout = 2s\n";
	write_file(path, ok, sizeof ok - 1);
	assert_int_equal(config_load(path, &c, &d), 0);
	assert_int_equal(d.n, 0);
	assert_string_equal(c->path, path);
	assert_int_equal(c->api_timeout_ms, 2000);
	config_free(c);
	c = NULL;

	static const char bad[] = "[api]\ntimeout = 2\n";
	write_file(path, bad, sizeof bad - 1);
	assert_int_equal(config_load(path, &c, &d), -EINVAL);
	assert_null(c);
	assert_int_equal(d.n, 1);
	snprintf(msg, sizeof msg,
		 "%s:2: [api] timeout = 2: missing unit (ms, s, m, h or d), "
		 "e.g. 30s",
		 path);
	assert_string_equal(d.msgs[0], msg);
	config_diag_free(&d);

	/* 1 MiB is the most; one byte more is refused. */
	size_t big = 1024 * 1024;
	char *data = malloc(big + 1);
	assert_non_null(data);
	memset(data, '\n', big + 1);
	write_file(path, data, big);
	assert_int_equal(config_load(path, &c, &d), 0);
	config_free(c);
	c = NULL;
	write_file(path, data, big + 1);
	free(data);
	assert_int_equal(config_load(path, &c, &d), -EFBIG);
	assert_null(c);
	assert_int_equal(d.n, 1);
	snprintf(msg, sizeof msg, "%s: file too large (max 1 MiB)", path);
	assert_string_equal(d.msgs[0], msg);
	config_diag_free(&d);
	assert_int_equal(unlink(path), 0);

	assert_int_equal(config_load(path, &c, &d), -ENOENT);
	assert_null(c);
	assert_int_equal(d.n, 1);
	snprintf(msg, sizeof msg, "%s: cannot read: No such file or directory",
		 path);
	assert_string_equal(d.msgs[0], msg);
	config_diag_free(&d);

	assert_int_equal(config_load(dir, &c, &d), -EISDIR);
	assert_int_equal(d.n, 1);
	snprintf(msg, sizeof msg, "%s: cannot read: Is a directory", dir);
	assert_string_equal(d.msgs[0], msg);
	config_diag_free(&d);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- the shipped etc/loaxa.ini ---- */

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (set LOAXA_SRCDIR)", path);
	char *data = calloc(1, 65536);
	assert_non_null(data);
	size_t n = fread(data, 1, 65535, f);
	fclose(f);
	assert_true(n > 0 && n < 65535);
	return data;
}

static void rtrim(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* The keys each driver's example block must show, and nothing else. */
static const struct {
	const char *driver;
	const char *keys[20];
} example_keys[] = {
	{ "zns", { "access_token_file", "oauth_url", "app_id",
		   "app_secret_file", "refresh_token_file", "template_id",
		   "template_data" } },
	{ "zalo_oa", { "access_token_file", "oauth_url", "app_id",
		       "app_secret_file", "refresh_token_file" } },
	{ "messenger", { "access_token_file", "messaging_type", "tag" } },
	{ "esms", { "api_key_file", "secret_key_file", "brandname",
		    "sms_type", "unicode", "callback_url", "segment_rate" } },
	{ "twilio", { "account_sid", "auth_token_file", "from", "unicode",
		      "callback_url", "segment_rate" } },
};
static const char *const common_keys[] = {
	"driver", "url", "allow_http", "rate", "max_in_flight", "timeout",
	"connect_timeout", "max_attempts", "breaker_failures",
	"breaker_cooldown",
};

static bool example_has(size_t d, const char *k)
{
	for (size_t i = 0; i < sizeof common_keys / sizeof common_keys[0];
	     i++)
		if (strcmp(common_keys[i], k) == 0)
			return true;
	for (size_t i = 0; example_keys[d].keys[i]; i++)
		if (strcmp(example_keys[d].keys[i], k) == 0)
			return true;
	return false;
}

/* ";key = value" (or ";[section]"): a commented-out line to uncomment. */
static bool is_commented_setting(const char *line)
{
	return line[0] == ';' && line[1] && line[1] != ' ' && line[1] != ';';
}

static size_t code_points(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* The example channel blocks: ";[channel.DRIVER]" up to the next section
 * or example; each shows every key of its driver once, under its doc. */
static void check_examples(char **lines, size_t n, const char *path)
{
	const struct config_key_info *k;
	size_t nk = config_keys(&k);
	size_t nex = sizeof example_keys / sizeof example_keys[0];
	bool seen_block[8] = { false };
	bool key_shown[128] = { false };
	assert_true(nk <= 128);

	for (size_t i = 0; i < n; i++) {
		if (strncmp(lines[i], ";[channel.", 10) != 0)
			continue;
		size_t d = nex;
		for (size_t j = 0; j < nex; j++) {
			char want[64];
			snprintf(want, sizeof want, ";[channel.%s]",
				 example_keys[j].driver);
			if (strcmp(lines[i], want) == 0)
				d = j;
		}
		if (d == nex)
			fail_msg("%s: example %s is for no driver", path,
				 lines[i]);
		assert_false(seen_block[d]);
		seen_block[d] = true;
		int count[128] = { 0 };
		size_t j = i + 1;
		for (; j < n && lines[j][0] != '[' &&
		       strncmp(lines[j], ";[", 2) != 0;
		     j++) {
			if (!is_commented_setting(lines[j]))
				continue;
			size_t ki = nk;
			for (size_t m = 0; m < nk; m++) {
				size_t kl = strlen(k[m].key);
				if (strcmp(k[m].section, "channel.NAME") == 0 &&
				    strncmp(lines[j] + 1, k[m].key, kl) == 0 &&
				    strncmp(lines[j] + 1 + kl, " =", 2) == 0)
					ki = m;
			}
			if (ki == nk)
				fail_msg("%s: '%s' in the %s example is not a "
					 "channel key", path, lines[j],
					 example_keys[d].driver);
			if (!example_has(d, k[ki].key))
				fail_msg("%s: the %s example shows %s, which "
					 "it does not use", path,
					 example_keys[d].driver, k[ki].key);
			char doc[128];
			snprintf(doc, sizeof doc, "; %s", k[ki].doc);
			if (strcmp(lines[j - 1], doc) != 0)
				fail_msg("line above '%s' is not '%s'",
					 lines[j], doc);
			count[ki]++;
			key_shown[ki] = true;
		}
		for (size_t m = 0; m < nk; m++)
			if (strcmp(k[m].section, "channel.NAME") == 0 &&
			    count[m] != (example_has(d, k[m].key) ? 1 : 0))
				fail_msg("%s: the %s example shows %s %d "
					 "times", path, example_keys[d].driver,
					 k[m].key, count[m]);
		char first[64];
		snprintf(first, sizeof first, ";driver = %s",
			 example_keys[d].driver);
		size_t f = i + 1;
		while (f < j && !is_commented_setting(lines[f]))
			f++;
		assert_true(f < j);
		assert_string_equal(lines[f], first);
	}
	for (size_t d = 0; d < nex; d++)
		if (!seen_block[d])
			fail_msg("%s: no example for driver %s", path,
				 example_keys[d].driver);
	for (size_t m = 0; m < nk; m++)
		if (strcmp(k[m].section, "channel.NAME") == 0 && !key_shown[m])
			fail_msg("%s: no example shows %s", path, k[m].key);
}

/* ";key = default", as the shipped file shows a key. */
static void default_line(const struct config_key_info *k, char *out,
			 size_t outsz)
{
	snprintf(out, outsz, ";%s = %s", k->key, k->def);
	rtrim(out);
}

/* Does section head ("[api]") have a key shown as line? */
static bool section_shows(const char *head, const char *line)
{
	const struct config_key_info *k;
	size_t nk = config_keys(&k);
	char want[256], h[64];
	if (!head)
		return false;
	for (size_t i = 0; i < nk; i++) {
		snprintf(h, sizeof h, "[%s]", k[i].section);
		default_line(&k[i], want, sizeof want);
		if (strcmp(h, head) == 0 && strcmp(want, line) == 0)
			return true;
	}
	return false;
}

static void test_shipped_file(void **state)
{
	(void)state;
	const char *srcdir = getenv("LOAXA_SRCDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/etc/loaxa.ini",
		 srcdir && *srcdir ? srcdir : ".");

	/* It loads, and gives exactly the built-in defaults. */
	struct config_diag d = { 0 };
	struct config *c = NULL;
	int r = config_load(path, &c, &d);
	if (r)
		dump(&d);
	assert_int_equal(r, 0);
	assert_int_equal(d.n, 0);
	assert_defaults(c);
	config_free(c);

	/* Each key appears as ";key = default" in its section, right below
	 * "; <doc>"; reloadable keys (or their sections) are named in the
	 * header. Channel keys are shown in the examples instead. */
	char *data = read_all(path);
	char *copy = strdup(data);
	assert_non_null(copy);
	char *lines[1024];
	size_t n = 0;
	for (char *s = data, *nl; s && *s && n < 1024; s = nl ? nl + 1 : NULL) {
		nl = strchr(s, '\n');
		if (nl)
			*nl = '\0';
		rtrim(s);
		lines[n++] = s;
	}
	assert_true(n < 1024);
	size_t first_section = n;
	for (size_t i = 0; i < n; i++)
		if (lines[i][0] == '[') {
			first_section = i;
			break;
		}

	const struct config_key_info *k;
	size_t nk = config_keys(&k);
	for (size_t i = 0; i < nk; i++) {
		char want[256], sect[64], doc[128], head[64];
		snprintf(head, sizeof head, "[%s]", k[i].section);
		bool named = false, sect_named = false;
		for (size_t j = 0; j < first_section; j++) {
			named = named || strstr(lines[j], k[i].key);
			sect_named = sect_named || strstr(lines[j], head);
		}
		if (k[i].reloadable && !named && !sect_named)
			fail_msg("reloadable key '%s' not named in the header "
				 "of %s", k[i].key, path);
		if (!k[i].reloadable && sect_named && !named)
			fail_msg("[%s] is said to reload, but not '%s'",
				 k[i].section, k[i].key);
		if (strcmp(k[i].section, "channel.NAME") == 0)
			continue;

		default_line(&k[i], want, sizeof want);
		snprintf(doc, sizeof doc, "; %s", k[i].doc);
		const char *in = NULL;
		size_t found = 0, at = 0;
		for (size_t j = 0; j < n; j++) {
			if (lines[j][0] == '[') {
				snprintf(sect, sizeof sect, "%s", lines[j]);
				in = sect;
			} else if (strncmp(lines[j], ";[channel.", 10) == 0) {
				in = "[channel.NAME]"; /* an example */
			}
			if (strcmp(lines[j], want) != 0)
				continue;
			/* Keys of the same name and default in several
			 * sections ([api] and [webhooks] listen) are counted
			 * in their own section each. */
			if (in && strcmp(in, head) == 0) {
				found++;
				at = j;
			} else if (!section_shows(in, want)) {
				fail_msg("'%s' is in %s, not %s", want,
					 in ? in : "no section", head);
			}
		}
		if (found != 1)
			fail_msg("'%s' appears %zu times in %s of %s", want,
				 found, head, path);
		if (at == 0 || strcmp(lines[at - 1], doc) != 0)
			fail_msg("line above '%s' is not '%s'", want, doc);
	}
	check_examples(lines, n, path);

	/* 80 columns, but a setting cannot be wrapped: it only has to fit
	 * inih's line once uncommented. */
	for (size_t i = 0; i < n; i++) {
		if (is_commented_setting(lines[i]))
			assert_true(strlen(lines[i]) <= 1 + 198);
		else if (code_points(lines[i]) > 80)
			fail_msg("%s:%zu is longer than 80 columns", path,
				 i + 1);
	}
	free(data);

	/* Every example uncommented: five channels, all else default. */
	size_t len = strlen(copy), o = 0;
	char *un = malloc(len + 1);
	assert_non_null(un);
	for (char *s = copy, *nl; s && *s; s = nl ? nl + 1 : NULL) {
		nl = strchr(s, '\n');
		size_t l = nl ? (size_t)(nl - s + 1) : strlen(s);
		size_t skip = is_commented_setting(s) ? 1 : 0;
		memcpy(un + o, s + skip, l - skip);
		o += l - skip;
	}
	un[o] = '\0';
	free(copy);
	c = NULL;
	r = config_load_buffer(path, un, o, &c, &d);
	if (r)
		dump(&d);
	assert_int_equal(r, 0);
	free(un);
	assert_int_equal(c->nchannels, 5);
	for (size_t i = 0; i < 5; i++) {
		const struct config_channel *ch = &c->channels[i];
		assert_string_equal(ch->name, example_keys[i].driver);
		assert_string_equal(channel_driver_name(
					    (enum channel_driver)ch->driver),
				    ch->name);
		assert_channel_limits(ch);
	}
	struct config_channel *chs = c->channels;
	c->channels = NULL; /* the rest must be the defaults */
	c->nchannels = 0;
	assert_defaults(c);
	c->channels = chs;
	c->nchannels = 5;
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_key_table),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_octal),
		cmocka_unit_test(test_log_level),
		cmocka_unit_test(test_debug_list),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_text_rules),
		cmocka_unit_test(test_unknown_section),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_outside_section),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_inih_quirks),
		cmocka_unit_test(test_continues_after_errors),
		cmocka_unit_test(test_error_cap),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_groups_duplicates),
		cmocka_unit_test(test_groups_too_many),
		cmocka_unit_test(test_cross_listen_token),
		cmocka_unit_test(test_cross_socket_length),
		cmocka_unit_test(test_broadcast_values),
		cmocka_unit_test(test_approval_and_console),
		cmocka_unit_test(test_retry_cross),
		cmocka_unit_test(test_quiet_hours),
		cmocka_unit_test(test_timezone),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_channel_sections),
		cmocka_unit_test(test_channel_values),
		cmocka_unit_test(test_channel_http),
		cmocka_unit_test(test_channel_drivers),
		cmocka_unit_test(test_template_data),
		cmocka_unit_test(test_webhooks_values),
		cmocka_unit_test(test_webhooks_cross),
		cmocka_unit_test(test_rsvp),
		cmocka_unit_test(test_hooks),
		cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_diff_nonreloadable),
		cmocka_unit_test(test_database_path),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_shipped_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
