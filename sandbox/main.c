/* main.c: loaxa-sandbox's process: options, the listening socket, the
 * libmicrohttpd thread pool, signals and an orderly stop.
 *
 * Startup: parse options (a --config file is applied where it appears, so
 * later options override it), bind the socket ourselves (so port 0 can be
 * reported and non-loopback addresses refused), start the timer thread and
 * MHD, print "listening on HOST:PORT" and wait for a signal in sigwait().
 * Stop: resume every suspended connection (they close unanswered), stop
 * MHD (which closes the listening socket), flush the record file, exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

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

struct sb_config the_config;

static void config_defaults(void)
{
	the_config = (struct sb_config){
		.seed = 1,
		.token_ttl_s = 90000,
		.zns_quota = 1000000,
		.oa_limit_per_minute = 4000,
		.messenger_limit_per_second = 300,
		.max_records = 100000,
		.hang_max_ms = 300000,
		.threads = 2,
		.max_connections = 4096,
	};
	the_config.listen = strdup("127.0.0.1:0");
	the_config.access_token = strdup("sandbox-access-token");
	the_config.refresh_token = strdup("sandbox-refresh-token-0");
	the_config.app_id = strdup("sandbox-app-id");
	the_config.app_secret = strdup("sandbox-app-secret");
	the_config.page_id = strdup("1234567890");
	the_config.page_token = strdup("sandbox-page-token");
	the_config.esms_api_key = strdup("sandbox-key");
	the_config.esms_secret_key = strdup("sandbox-secret");
	the_config.twilio_sid = strdup("ACsandbox");
	the_config.twilio_token = strdup("sandbox-twilio-token");
	the_config.zalo_app_id = strdup("sandbox-app-id");
}

static void strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void config_free(void)
{
	struct sb_config *c = &the_config;

	free(c->listen);
	free(c->port_file);
	free(c->record_path);
	free(c->access_token);
	free(c->refresh_token);
	free(c->app_id);
	free(c->app_secret);
	free(c->page_id);
	free(c->page_token);
	free(c->esms_api_key);
	free(c->esms_secret_key);
	strv_free(c->esms_brandnames, c->n_esms_brandnames);
	strv_free(c->zns_templates, c->n_zns_templates);
	free(c->twilio_sid);
	free(c->twilio_token);
	free(c->webhook_url);
	free(c->zalo_oa_secret);
	free(c->zalo_app_id);
	free(c->messenger_app_secret);
	free(c->esms_callback);
	*c = (struct sb_config){ 0 };
}

/* ---- options (shared by the command line and --config) ---- */

enum opt_type { OPT_STR, OPT_INT, OPT_LIST, OPT_FLAG, OPT_CONFIG };

struct option_def {
	const char *name;
	enum opt_type type;
	size_t off;             /* into struct sb_config */
	size_t count_off;       /* OPT_LIST: the size_t count */
	int64_t min, max;
	const char *arg, *help;
};

#define C(f) offsetof(struct sb_config, f)
static const struct option_def options[] = {
	{ "listen", OPT_STR, C(listen), 0, 0, 0, "HOST:PORT",
	  "address to listen on (default 127.0.0.1:0 = a free port)" },
	{ "port-file", OPT_STR, C(port_file), 0, 0, 0, "FILE",
	  "write the chosen port to FILE" },
	{ "record", OPT_STR, C(record_path), 0, 0, 0, "FILE",
	  "append one JSON line per received message to FILE" },
	{ "seed", OPT_INT, C(seed), 0, 0, INT64_MAX, "N",
	  "seed of the ids and error_rate draws (default 1)" },
	{ "latency", OPT_INT, C(latency_ms), 0, 0, 3600000, "MS",
	  "answer every provider request after MS milliseconds" },
	{ "token-ttl", OPT_INT, C(token_ttl_s), 0, 1, 100000000, "SECONDS",
	  "lifetime of Zalo access tokens (default 90000)" },
	{ "access-token", OPT_STR, C(access_token), 0, 0, 0, "TOKEN",
	  "initial Zalo access token (default sandbox-access-token)" },
	{ "refresh-token", OPT_STR, C(refresh_token), 0, 0, 0, "TOKEN",
	  "initial Zalo refresh token (default sandbox-refresh-token-0)" },
	{ "app-id", OPT_STR, C(app_id), 0, 0, 0, "ID",
	  "Zalo app id (default sandbox-app-id)" },
	{ "app-secret", OPT_STR, C(app_secret), 0, 0, 0, "SECRET",
	  "Zalo app secret (default sandbox-app-secret)" },
	{ "page-id", OPT_STR, C(page_id), 0, 0, 0, "ID",
	  "Messenger page id (default 1234567890)" },
	{ "page-token", OPT_STR, C(page_token), 0, 0, 0, "TOKEN",
	  "Messenger page access token (default sandbox-page-token)" },
	{ "esms-api-key", OPT_STR, C(esms_api_key), 0, 0, 0, "KEY",
	  "eSMS ApiKey (default sandbox-key)" },
	{ "esms-secret-key", OPT_STR, C(esms_secret_key), 0, 0, 0, "KEY",
	  "eSMS SecretKey (default sandbox-secret)" },
	{ "esms-brandname", OPT_LIST, C(esms_brandnames), C(n_esms_brandnames),
	  0, 0, "NAME",
	  "accept only this Brandname (repeatable; default any)" },
	{ "twilio-sid", OPT_STR, C(twilio_sid), 0, 0, 0, "SID",
	  "Twilio AccountSid (default ACsandbox)" },
	{ "twilio-token", OPT_STR, C(twilio_token), 0, 0, 0, "TOKEN",
	  "Twilio AuthToken (default sandbox-twilio-token)" },
	{ "zns-quota", OPT_INT, C(zns_quota), 0, 0, INT64_MAX / 2, "N",
	  "ZNS daily quota (default 1000000)" },
	{ "zns-template", OPT_LIST, C(zns_templates), C(n_zns_templates), 0, 0,
	  "ID", "accept only this ZNS template_id (repeatable; default any)" },
	{ "oa-limit-per-minute", OPT_INT, C(oa_limit_per_minute), 0, 0,
	  100000000, "N",
	  "Zalo OA calls per minute before -32 (default 4000, 0 off)" },
	{ "messenger-limit-per-second", OPT_INT, C(messenger_limit_per_second),
	  0, 0, 100000000, "N",
	  "Messenger calls per 1000 ms before 613 (default 300, 0 off)" },
	{ "max-records", OPT_INT, C(max_records), 0, 0, 10000000, "N",
	  "messages kept for /_sandbox/messages (default 100000)" },
	{ "hang-max", OPT_INT, C(hang_max_ms), 0, 1, 86400000, "MS",
	  "close hanging requests unanswered after MS (default 300000)" },
	{ "threads", OPT_INT, C(threads), 0, 1, 64, "N",
	  "HTTP worker threads (default 2)" },
	{ "max-connections", OPT_INT, C(max_connections), 0, 16, 1000000, "N",
	  "simultaneous connections (default 4096)" },
	{ "webhook-url", OPT_STR, C(webhook_url), 0, 0, 0, "URL",
	  "send receipts and replies to loaxad's webhook listener at URL" },
	{ "zalo-oa-secret", OPT_STR, C(zalo_oa_secret), 0, 0, 0, "SECRET",
	  "sign Zalo webhooks with this OA secret key" },
	{ "zalo-app-id", OPT_STR, C(zalo_app_id), 0, 0, 0, "ID",
	  "app_id of Zalo webhooks (default sandbox-app-id)" },
	{ "messenger-app-secret", OPT_STR, C(messenger_app_secret), 0, 0, 0,
	  "SECRET", "sign Messenger webhooks with this app secret" },
	{ "esms-callback", OPT_STR, C(esms_callback), 0, 0, 0, "URL",
	  "eSMS delivery reports go here when a request has no CallbackUrl" },
	{ "allow-remote", OPT_FLAG, C(allow_remote), 0, 0, 0, NULL,
	  "allow a non-loopback --listen address and webhook URLs" },
	{ "verbose", OPT_FLAG, C(verbose), 0, 0, 0, NULL,
	  "log libmicrohttpd's messages to stderr" },
	{ "config", OPT_CONFIG, 0, 0, 0, 0, "FILE",
	  "read NAME = VALUE lines (option names without --) from FILE" },
};
#undef C

static int config_load(const char *path, int depth);

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: loaxa-sandbox [OPTIONS]\n"
		   "A fake Zalo ZNS/OA/OAuth, Messenger, eSMS and Twilio for "
		   "loaxa.\n\n");
	for (i = 0; i < ARRAY_SIZE(options); i++) {
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", options[i].name,
			 options[i].arg ? " " : "",
			 options[i].arg ? options[i].arg : "");
		fprintf(f, "  %-34s %s\n", left, options[i].help);
	}
	fprintf(f, "  %-34s %s\n  %-34s %s\n\nSee loaxa-sandbox(1) and "
		"docs/sandbox.md.\n", "--help", "show this help",
		"--version", "show the version");
}

/* Apply one option; where is "" for the command line or "file:line". */
static int option_apply(const struct option_def *o, const char *value,
			const char *where, int depth)
{
	char *base = (char *)&the_config;
	int64_t v;
	char *end;

	switch (o->type) {
	case OPT_STR: {
		char **p = (char **)(void *)(base + o->off);
		char *s;

		if (!value || !*value || strlen(value) >= SB_TOKEN_MAX) {
			fprintf(stderr,
				"loaxa-sandbox: %s--%s: expected a value of "
				"1 to %d characters\n",
				where, o->name, SB_TOKEN_MAX - 1);
			return -EINVAL;
		}
		s = strdup(value);
		if (!s)
			return -ENOMEM;
		free(*p);
		*p = s;
		return 0;
	}
	case OPT_LIST: {
		char ***p = (char ***)(void *)(base + o->off);
		size_t *n = (size_t *)(void *)(base + o->count_off);
		char **nv;

		if (!value || !*value || strlen(value) >= SB_TOKEN_MAX) {
			fprintf(stderr,
				"loaxa-sandbox: %s--%s: expected a value\n",
				where, o->name);
			return -EINVAL;
		}
		nv = realloc(*p, (*n + 1) * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		*p = nv;
		nv[*n] = strdup(value);
		if (!nv[*n])
			return -ENOMEM;
		(*n)++;
		return 0;
	}
	case OPT_INT:
		errno = 0;
		v = value ? strtoll(value, &end, 10) : 0;
		if (!value || !*value || *end || errno || v < o->min ||
		    v > o->max) {
			fprintf(stderr,
				"loaxa-sandbox: %s--%s: expected an integer "
				"in [%" PRId64 ", %" PRId64 "], got \"%s\"\n",
				where, o->name, o->min, o->max,
				value ? value : "");
			return -EINVAL;
		}
		if (o->off == offsetof(struct sb_config, seed))
			the_config.seed = (uint64_t)v;
		else
			*(int64_t *)(void *)(base + o->off) = v;
		return 0;
	case OPT_FLAG:
		if (value && !streq(value, "true") && !streq(value, "yes") &&
		    !streq(value, "1") && !streq(value, "false") &&
		    !streq(value, "no") && !streq(value, "0")) {
			fprintf(stderr,
				"loaxa-sandbox: %s%s: expected true or false\n",
				where, o->name);
			return -EINVAL;
		}
		*(bool *)(void *)(base + o->off) =
			!value || streq(value, "true") || streq(value, "yes") ||
			streq(value, "1");
		return 0;
	case OPT_CONFIG:
	default:
		return config_load(value, depth + 1);
	}
}

static const struct option_def *option_find(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(options); i++)
		if (streq(options[i].name, name))
			return &options[i];
	return NULL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && strchr(" \t\r\n", e[-1]))
		*--e = '\0';
	return s;
}

static int config_load(const char *path, int depth)
{
	_cleanup_fclose_ FILE *f = NULL;
	char line[512], where[300];
	unsigned lineno = 0;
	int errors = 0;

	if (depth > 4) {
		fprintf(stderr,
			"loaxa-sandbox: %s: config files nest too deep\n",
			path);
		return -ELOOP;
	}
	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "loaxa-sandbox: %s: %m\n", path);
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		const struct option_def *o;
		char *k, *v, *eq;

		lineno++;
		snprintf(where, sizeof(where), "%s:%u: ", path, lineno);
		if (!strchr(line, '\n') && !feof(f)) {
			fprintf(stderr, "loaxa-sandbox: %sline too long\n",
				where);
			return -EINVAL;
		}
		k = trim(line);
		if (!*k || *k == '#' || *k == ';')
			continue;
		eq = strchr(k, '=');
		v = NULL;
		if (eq) {
			*eq = '\0';
			v = trim(eq + 1);
			k = trim(k);
		}
		o = option_find(k);
		if (!o) {
			fprintf(stderr,
				"loaxa-sandbox: %sunknown option \"%s\"\n",
				where, k);
			errors++;
			continue;
		}
		if (o->type != OPT_FLAG && !v) {
			fprintf(stderr,
				"loaxa-sandbox: %s%s: expected NAME = VALUE\n",
				where, k);
			errors++;
			continue;
		}
		if (option_apply(o, v, where, depth) < 0)
			errors++;
	}
	return errors ? -EINVAL : 0;
}

/* 0, 1 (exit 0: --help/--version) or -EINVAL (exit 2). */
static int parse_args(int argc, char **argv)
{
	struct option longopts[ARRAY_SIZE(options) + 3];
	size_t i;
	int c, idx;

	for (i = 0; i < ARRAY_SIZE(options); i++)
		longopts[i] = (struct option){
			options[i].name,
			options[i].type == OPT_FLAG ? no_argument
						    : required_argument,
			NULL,
			1000 + (int)i,
		};
	longopts[i++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[i++] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[i] = (struct option){ 0 };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", longopts, &idx)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("loaxa-sandbox %s\n", LOAXA_VERSION);
			return 1;
		case ':':
			fprintf(stderr, "loaxa-sandbox: %s: missing value\n",
				argv[optind - 1]);
			return -EINVAL;
		case '?':
			fprintf(stderr, "loaxa-sandbox: unknown option %s "
				"(see --help)\n", argv[optind - 1]);
			return -EINVAL;
		default:
			if (c < 1000 || c >= 1000 + (int)ARRAY_SIZE(options))
				return -EINVAL;
			if (option_apply(&options[c - 1000], optarg, "", 0) < 0)
				return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "loaxa-sandbox: unexpected argument \"%s\"\n",
			argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* ---- listening socket ---- */

struct listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool loopback;
	char host[64];
};

static int parse_listen(const char *s, struct listen_addr *ret)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ret->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ret->ss;
	char host[64];
	const char *port_s, *colon;
	long port;
	char *end;

	*ret = (struct listen_addr){ 0 };
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':' ||
		    (size_t)(close - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		port_s = close + 2;
	} else if ((colon = strrchr(s, ':'))) {
		if ((size_t)(colon - s) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		port_s = colon + 1;
	} else {
		snprintf(host, sizeof(host), "127.0.0.1");
		port_s = s;
	}
	errno = 0;
	port = strtol(port_s, &end, 10);
	if (!*port_s || *end || errno || port < 0 || port > 65535)
		return -EINVAL;
	if (!*host || streq(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		ret->len = sizeof(*in4);
		ret->loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		ret->len = sizeof(*in6);
		ret->loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	} else {
		return -EINVAL;
	}
	snprintf(ret->host, sizeof(ret->host), "%s", host);
	return 0;
}

static int listen_socket(struct listen_addr *a, uint16_t *ret_port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd, one = 1;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a->ss, a->len) < 0 ||
	    listen(fd, 1024) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	*ret_port = ntohs(ss.ss_family == AF_INET6 ?
			  ((struct sockaddr_in6 *)&ss)->sin6_port :
			  ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static int write_port_file(const char *path, uint16_t port)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		int e = -errno;

		unlink(tmp);
		return e;
	}
	return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	if (!the_config.verbose)
		return;
	fputs("loaxa-sandbox: mhd: ", stderr);
	vfprintf(stderr, fmt, ap);
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct MHD_Daemon *d = NULL;
	struct listen_addr la;
	sigset_t sigs;
	uint16_t port = 0;
	int fd = -1, r, sig, ret = 1;

	config_defaults();
	r = parse_args(argc, argv);
	if (r != 0) {
		config_free();
		return r > 0 ? 0 : 2;
	}
	if (parse_listen(the_config.listen, &la) < 0) {
		fprintf(stderr,
			"loaxa-sandbox: --listen %s: expected HOST:PORT "
			"(IPv4, [IPv6] or localhost)\n",
			the_config.listen);
		config_free();
		return 2;
	}
	if (receipts_check_config() < 0) {
		config_free();
		return 2;
	}
	if (!la.loopback && !the_config.allow_remote) {
		fprintf(stderr, "loaxa-sandbox: --listen %s is not a loopback "
			"address; add --allow-remote to listen there anyway\n",
			the_config.listen);
		config_free();
		return 2;
	}

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);    /* inherited by threads */
	raise_fd_limit();

	if (state_init() < 0) {
		fprintf(stderr, "loaxa-sandbox: out of memory\n");
		goto out;
	}
	if (the_config.record_path &&
	    (r = state_record_open(the_config.record_path)) < 0) {
		fprintf(stderr, "loaxa-sandbox: --record %s: %s\n",
			the_config.record_path, strerror(-r));
		goto out;
	}
	fd = listen_socket(&la, &port);
	if (fd < 0) {
		fprintf(stderr, "loaxa-sandbox: cannot listen on %s: %s\n",
			the_config.listen, strerror(-fd));
		goto out;
	}
	free(the_config.listen);
	if (asprintf(&the_config.listen, la.ss.ss_family == AF_INET6 ?
		     "[%s]:%u" : "%s:%u", la.host, port) < 0) {
		the_config.listen = NULL;
		goto out;
	}
	if ((r = receipts_start()) < 0) {
		fprintf(stderr,
			"loaxa-sandbox: cannot start the webhook sender: %s\n",
			strerror(-r));
		goto out;
	}
	if ((r = timer_start()) < 0) {
		fprintf(stderr,
			"loaxa-sandbox: cannot start the timer thread: %s\n",
			strerror(-r));
		goto out;
	}
	d = MHD_start_daemon(
		/* poll(), not epoll: with libmicrohttpd 0.9.75's epoll thread
		 * pool, a request arriving on a kept-alive connection right
		 * after the previous answer was sometimes never read (seen as
		 * bytes stuck in the socket's receive queue until the client
		 * timed out, about one run in four of 20,000 requests at 128
		 * in flight). poll() showed no stall in the same runs. */
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
		0, NULL, NULL, http_access_cb, NULL, MHD_OPTION_LISTEN_SOCKET,
		fd, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)the_config.threads,
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)the_config.max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
		MHD_OPTION_NOTIFY_COMPLETED, http_completed_cb, NULL,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "loaxa-sandbox: cannot start the HTTP "
				"server\n");
		goto out;
	}
	if (the_config.port_file &&
	    (r = write_port_file(the_config.port_file, port)) < 0) {
		fprintf(stderr, "loaxa-sandbox: --port-file %s: %s\n",
			the_config.port_file, strerror(-r));
		goto out;
	}
	printf("listening on %s\n", the_config.listen);
	fflush(stdout);

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			state_record_reopen();
			continue;
		}
		break;
	}
	ret = 0;
out:
	if (d) {
		/* No MHD_quiesce_daemon(): in 0.9.75 it takes the listening
		 * socket out of each pool worker's epoll set from this thread
		 * while that worker may do the same in MHD_epoll(); whoever
		 * loses gets ENOENT and MHD_PANIC()s ("Failed to remove listen
		 * FD from epoll set", SIGABRT). MHD_stop_daemon() stops the
		 * workers first and then closes the socket itself.
		 *
		 * timer_stop() only queues the resumptions and refuses new
		 * suspensions; that is enough: each worker resumes the queued
		 * ones in close_all_connections() before it checks that none
		 * is left suspended. */
		timer_stop();
		MHD_stop_daemon(d);
		fd = -1;                /* MHD closed it */
	}
	timer_stop();
	/* After MHD: no worker schedules receipts any more. */
	receipts_stop();
	if (fd >= 0)
		close(fd);
	state_free();
	config_free();
	return ret;
}
