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

#include "loaxa/config.h"

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
	assert_default_groups(c);
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
	assert_int_equal(n, 11);
	assert_non_null(k);
	for (size_t i = 0; i < n; i++) {
		char why[256] = "";
		uint64_t v;
		assert_true(strcmp(k[i].section, "daemon") == 0 ||
			    strcmp(k[i].section, "api") == 0);
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
	/* No key of the table is a bool yet: test the parser directly. */
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
	load_errors("[api]\nlisten = 127.0.0.1:8080\n",
		    "loaxa.ini:2: [api] listen = 127.0.0.1:8080: token_file "
		    "must be set too (TCP clients authenticate with the token "
		    "in it)",
		    NULL);
	load_errors("[api]\nlisten = [::1]:80\ntoken_file =\n",
		    "loaxa.ini:2: [api] listen = [::1]:80: token_file must be "
		    "set too (TCP clients authenticate with the token in it)",
		    NULL);
	/* A bad token_file is reported once, not again as missing. */
	load_errors("[api]\nlisten = [::1]:80\ntoken_file = token\n",
		    "loaxa.ini:3: [api] token_file = token: not an absolute "
		    "path (it must start with '/')",
		    NULL);
	struct config *c = load_ok("[api]\nlisten = localhost:8080\n"
				   "token_file = /etc/loaxa/token\n");
	assert_string_equal(c->api_listen, "localhost:8080");
	config_free(c);
	/* A token file without listen is harmless. */
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
	 * "; <doc>"; reloadable keys are named in the header. */
	char *data = read_all(path);
	char *lines[512];
	size_t n = 0;
	for (char *s = data, *nl; s && *s && n < 512; s = nl ? nl + 1 : NULL) {
		nl = strchr(s, '\n');
		if (nl)
			*nl = '\0';
		rtrim(s);
		lines[n++] = s;
	}
	size_t first_section = n;
	for (size_t i = 0; i < n; i++)
		if (lines[i][0] == '[') {
			first_section = i;
			break;
		}

	const struct config_key_info *k;
	size_t nk = config_keys(&k);
	for (size_t i = 0; i < nk; i++) {
		char want[256], sect[64], doc[128];
		snprintf(want, sizeof want, ";%s = %s", k[i].key, k[i].def);
		rtrim(want);
		snprintf(doc, sizeof doc, "; %s", k[i].doc);
		const char *in = NULL;
		size_t found = 0, at = 0;
		for (size_t j = 0; j < n; j++) {
			if (lines[j][0] == '[') {
				snprintf(sect, sizeof sect, "%s", lines[j]);
				in = sect;
			}
			if (strcmp(lines[j], want) == 0) {
				found++;
				at = j;
				char expect[64];
				snprintf(expect, sizeof expect, "[%s]",
					 k[i].section);
				if (!in || strcmp(in, expect) != 0)
					fail_msg("'%s' is in %s, not %s", want,
						 in ? in : "no section",
						 expect);
			}
		}
		if (found != 1)
			fail_msg("'%s' appears %zu times in %s", want, found,
				 path);
		if (at == 0 || strcmp(lines[at - 1], doc) != 0)
			fail_msg("line above '%s' is not '%s'", want, doc);

		if (k[i].reloadable) {
			bool named = false;
			for (size_t j = 0; j < first_section; j++)
				named = named || strstr(lines[j], k[i].key);
			if (!named)
				fail_msg("reloadable key '%s' not named in the "
					 "header of %s", k[i].key, path);
		}
	}
	for (size_t i = 0; i < n; i++)
		assert_true(strlen(lines[i]) <= 80 + 20); /* UTF-8 slack */
	free(data);
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
		cmocka_unit_test(test_diff_nonreloadable),
		cmocka_unit_test(test_database_path),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_shipped_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
