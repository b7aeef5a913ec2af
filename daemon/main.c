/* main.c: loaxad — arguments, wiring in order, the loop, teardown in
 * reverse. No business rules live here. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <uv.h>

#include "config-build.h"
#include "loaxa/api.h"
#include "loaxa/broadcast.h"
#include "loaxa/config.h"
#include "loaxa/directory.h"
#include "loaxa/engine.h"
#include "loaxa/hooks.h"
#include "loaxa/log.h"
#include "loaxa/notify.h"
#include "loaxa/prune.h"
#include "loaxa/store.h"

#define SHUTDOWN_GRACE_MS 5000
/* Retention: the first run a minute after start (LOAXA_PRUNE_DELAY_MS, a
 * test hook, changes it), then hourly; each run in steps of at most
 * PRUNE_STEP_ROWS deletes, one per loop iteration (a uv_idle_t, not a
 * 0 ms timer: libuv 1.44 runs a timer re-armed for 0 ms again in the
 * same iteration, before any I/O). */
#define PRUNE_FIRST_MS (60 * 1000)
#define PRUNE_EVERY_MS (60 * 60 * 1000)
#define PRUNE_STEP_ROWS 2000

static struct daemon {
	uv_loop_t loop;
	uv_signal_t sigterm, sigint, sighup;
	const char *config_path;
	struct config *cfg;
	struct store *store;
	struct directory *dir;
	struct engine *engine;
	struct broadcaster *bc;
	struct hooks *hooks;
	struct api *api;
	struct notify *notify;
	uv_timer_t status_tick;
	char last_status[512];
	/* the directory's counts for STATUS=, as last counted: counting a
	 * million households holds the loop ~50 ms, too long every tick */
	struct store_counts counts;
	uint64_t counts_at;       /* uv_now then; 0: never counted */
	uv_timer_t prune_tick;
	uv_idle_t prune_idle;
	uint64_t prune_first_ms;  /* PRUNE_FIRST_MS or $LOAXA_PRUNE_DELAY_MS */
	struct prune_stats prune;
	bool stopping;
} the_daemon;

/* The installed configuration (meson's sysconfdir, /etc in a package). */
#define DEFAULT_CONFIG LOAXA_SYSCONFDIR "/loaxa/loaxa.ini"
static const char *arg_config = DEFAULT_CONFIG;
static bool arg_check;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: loaxad [--config PATH] [--check-config]\n"
		"\n"
		"The loaxa daemon: keeps the commune's village groups and\n"
		"households, and serves them on the control API.\n"
		"\n"
		"  -c, --config PATH   configuration file (default %s)\n"
		"  -n, --check-config  validate the configuration and exit\n"
		"  -V, --version       print the version and exit\n"
		"  -h, --help          print this help and exit\n"
		"\n"
		"See loaxad(8) and loaxa.ini(5).\n",
		DEFAULT_CONFIG);
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "c:nVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			arg_config = optarg;
			break;
		case 'n':
			arg_check = true;
			break;
		case 'V':
			printf("loaxad %s\n", LOAXA_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'loaxad --help'.\n");
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "loaxad: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	return 1;
}

static void print_diag(const struct config_diag *d, enum log_level lvl)
{
	for (size_t i = 0; i < d->n; i++) {
		if (arg_check)
			fprintf(stderr, "%s\n", d->msgs[i]);
		else
			log_msg(LOG_CFG, lvl, "%s", d->msgs[i]);
	}
}

static void apply_logging(const struct config *c)
{
	log_set_level(c->log_level);
	for (int s = 0; s < LOG_SUBSYS_MAX; s++)
		log_set_debug((enum log_subsys)s, false);
	_cleanup_free_ char *list = strdup(c->log_debug ? c->log_debug : "");
	char *save = NULL;
	for (char *t = list ? strtok_r(list, ", ", &save) : NULL; t;
	     t = strtok_r(NULL, ", ", &save)) {
		enum log_subsys s;
		if (log_subsys_parse(t, &s) == 0)
			log_set_debug(s, true);
	}
}

/* How old the directory's counts in STATUS= may be at a tick. */
#define STATUS_COUNTS_MAX_AGE_MS 60000

/* One line for systemctl status: the directory, the queue, and every
 * channel that is not simply working. The directory is counted afresh
 * when fresh, else when its last count is older than a minute. */
static void status_line(char *buf, size_t n, bool fresh)
{
	struct daemon *d = &the_daemon;
	uint64_t now = uv_now(&d->loop);
	if (fresh || !d->counts_at ||
	    now - d->counts_at >= STATUS_COUNTS_MAX_AGE_MS) {
		struct store_counts c = { 0 };
		if (store_counts(d->store, &c) == 0) {
			d->counts = c;
			d->counts_at = now ? now : 1;
		}
	}
	const struct store_counts c = d->counts;
	size_t k = (size_t)snprintf(buf, n, "serving %" PRId64 " households "
				    "in %" PRId64 " groups", c.households,
				    c.groups);
	if (!the_daemon.engine || k >= n)
		return;
	struct engine_status es;
	engine_status(the_daemon.engine, &es);
	k += (size_t)snprintf(buf + k, n - k, "; queue %" PRId64 " urgent, %"
			      PRId64 " normal", es.queue_urgent,
			      es.queue_normal);
	for (size_t i = 0; i < es.nchannels && k < n; i++)
		if (es.chans[i].state != CS_OK)
			k += (size_t)snprintf(buf + k, n - k, "; %s %s",
					      es.chans[i].name,
					      chan_state_name(
						      es.chans[i].state));
}

static void status_tick_cb(uv_timer_t *t)
{
	(void)t;
	struct daemon *d = &the_daemon;
	char status[512];
	status_line(status, sizeof status, false);
	if (!streq(status, d->last_status)) {
		notify_status(d->notify, status);
		snprintf(d->last_status, sizeof d->last_status, "%s", status);
	}
}

/* ---- retention ---- */

/* 4213 -> "4,213", as the log line shows counts. */
static const char *thousands(int64_t v, char buf[32])
{
	char digits[24];
	int n = snprintf(digits, sizeof digits, "%" PRId64, v < 0 ? -v : v);
	size_t k = 0;
	if (v < 0)
		buf[k++] = '-';
	for (int i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[k++] = ',';
		buf[k++] = digits[i];
	}
	buf[k] = '\0';
	return buf;
}

static void prune_idle_cb(uv_idle_t *h)
{
	struct daemon *d = container_of(h, struct daemon, prune_idle);
	int64_t now = util_now_ms();
	/* read at every step: a reload (SIGHUP) applies at once */
	int64_t cutoff = now - (int64_t)d->cfg->retention_ms;
	bool more = false;
	int r = store_prune_step(d->store, cutoff, PRUNE_STEP_ROWS, now,
				 &d->prune, &more);
	if (r < 0) {
		log_err(LOG_STORE, "retention: cannot prune: %s (%s); trying "
			"again in an hour", strerror(-r),
			store_errmsg(d->store));
		uv_idle_stop(h);
		return;
	}
	struct prune_stats *st = &d->prune;
	if (st->broadcast_done) {
		char a[32], b[32], c[32];
		log_info(LOG_STORE, "pruned broadcast %" PRId64 ": %s "
			 "deliveries, %s attempts, %s receipts",
			 st->broadcast_id, thousands(st->deliveries, a),
			 thousands(st->attempts, b),
			 thousands(st->receipts, c));
	}
	if (more)
		return;
	uv_idle_stop(h);
	if (st->unmatched_receipts > 0)
		log_info(LOG_STORE, "retention: deleted %" PRId64 " receipts "
			 "that matched no delivery", st->unmatched_receipts);
	log_debug(LOG_STORE, "retention: done, %" PRId64 " broadcasts "
		  "pruned, %" PRId64 " expired sessions deleted",
		  st->broadcasts, st->sessions);
}

static void prune_tick_cb(uv_timer_t *t)
{
	struct daemon *d = container_of(t, struct daemon, prune_tick);
	if (d->stopping || uv_is_active((uv_handle_t *)&d->prune_idle))
		return;
	d->prune = (struct prune_stats){ 0 };
	uv_idle_start(&d->prune_idle, prune_idle_cb);
}

/* The first run after PRUNE_FIRST_MS, or $LOAXA_PRUNE_DELAY_MS (a test
 * hook, loaxad(8)); the same delay after a reload shortens retention. */
static void prune_start(void)
{
	struct daemon *d = &the_daemon;
	int64_t first = PRUNE_FIRST_MS;
	const char *env = getenv("LOAXA_PRUNE_DELAY_MS");
	if (env && *env && util_parse_int64(env, 0, PRUNE_EVERY_MS,
					    &first) < 0) {
		log_warn(LOG_MAIN, "LOAXA_PRUNE_DELAY_MS=%.20s is not a "
			 "number of milliseconds (0..%d): ignored", env,
			 PRUNE_EVERY_MS);
		first = PRUNE_FIRST_MS;
	}
	d->prune_first_ms = (uint64_t)first;
	uv_timer_start(&d->prune_tick, prune_tick_cb, d->prune_first_ms,
		       PRUNE_EVERY_MS);
	/* the hourly run alone does not keep loaxad running */
	uv_unref((uv_handle_t *)&d->prune_tick);
}

static void reload(void)
{
	struct daemon *d = &the_daemon;
	char status[512];
	notify_reloading(d->notify);
	log_info(LOG_CFG, "reloading %s", d->config_path);
	struct config *nc = NULL;
	struct config_diag diag = { 0 };
	int r = config_load(d->config_path, &nc, &diag);
	if (r < 0) {
		print_diag(&diag, LOG_LVL_ERR);
		log_err(LOG_CFG, "reload failed with %zu error(s): keeping the "
			"running configuration", diag.n);
		config_diag_free(&diag);
		status_line(status, sizeof status, true);
		notify_ready(d->notify, status);
		return;
	}
	config_diag_free(&diag);
	config_diff_nonreloadable(d->cfg, nc, &diag);
	print_diag(&diag, LOG_LVL_WARN);
	config_diag_free(&diag);
	apply_logging(nc);
	r = directory_sync_groups(d->dir, nc->groups, nc->ngroups);
	if (r < 0)
		log_err(LOG_CFG, "cannot apply [groups]: %s (%s)",
			strerror(-r), store_errmsg(d->store));
	char err[256];
	r = engine_reload(d->engine, nc, err, sizeof err);
	if (r < 0) {
		log_err(LOG_CFG, "cannot apply the channels: %s; keeping the "
			"running configuration", err);
		config_free(nc);
		status_line(status, sizeof status, true);
		notify_ready(d->notify, status);
		return;
	}
	broadcaster_set_config(d->bc, nc);
	if (!d->stopping && hooks_reload(&d->hooks, &d->loop, d->store, nc,
					 err, sizeof err) < 0)
		log_err(LOG_CFG, "%s: events wait in the outbox", err);
	api_reload(d->api, nc);
	/* a shorter retention takes effect at the next run: bring it near */
	if (nc->retention_ms < d->cfg->retention_ms &&
	    uv_is_active((uv_handle_t *)&d->prune_tick) &&
	    uv_timer_get_due_in(&d->prune_tick) > d->prune_first_ms)
		uv_timer_start(&d->prune_tick, prune_tick_cb,
			       d->prune_first_ms, PRUNE_EVERY_MS);
	config_free(d->cfg);
	d->cfg = nc;
	log_info(LOG_CFG, "configuration reloaded");
	status_line(status, sizeof status, true);
	notify_ready(d->notify, status);
}

static void signals_close(void)
{
	struct daemon *d = &the_daemon;
	uv_signal_t *sigs[] = { &d->sigterm, &d->sigint, &d->sighup };
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		if (!uv_is_closing((uv_handle_t *)sigs[i]))
			uv_close((uv_handle_t *)sigs[i], NULL);
	uv_handle_t *hs[] = { (uv_handle_t *)&d->status_tick,
			      (uv_handle_t *)&d->prune_tick,
			      (uv_handle_t *)&d->prune_idle };
	for (size_t i = 0; i < ARRAY_SIZE(hs); i++)
		if (!uv_is_closing(hs[i]))
			uv_close(hs[i], NULL);
}

static void engine_stopped_cb(void *ud)
{
	(void)ud;
	struct daemon *d = &the_daemon;
	signals_close();
	notify_close(d->notify);
	d->notify = NULL;
}

static void hooks_stopped_cb(void *ud)
{
	(void)ud;
	struct daemon *d = &the_daemon;
	if (d->engine)
		engine_stop(d->engine, SHUTDOWN_GRACE_MS, engine_stopped_cb,
			    NULL);
	else
		engine_stopped_cb(NULL);
}

static void api_stopped_cb(void *ud)
{
	(void)ud;
	struct daemon *d = &the_daemon;
	struct hooks *h = d->hooks;
	d->hooks = NULL;
	hooks_close(h, hooks_stopped_cb, NULL);
}

static void shutdown_begin(const char *why)
{
	struct daemon *d = &the_daemon;
	if (d->stopping)
		return;
	d->stopping = true;
	log_info(LOG_MAIN, "%s: stopping", why);
	uv_timer_stop(&d->prune_tick);
	uv_idle_stop(&d->prune_idle);
	notify_stopping(d->notify);
	if (d->api)
		api_stop(d->api, SHUTDOWN_GRACE_MS, api_stopped_cb, NULL);
	else
		api_stopped_cb(NULL);
}

static void signal_cb(uv_signal_t *s, int signum)
{
	(void)s;
	if (signum == SIGHUP)
		reload();
	else
		shutdown_begin(signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static int ensure_dir(const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	if (errno != ENOENT)
		return -errno;
	return mkdir(path, 0750) < 0 ? -errno : 0;
}

int main(int argc, char **argv)
{
	struct daemon *d = &the_daemon;
	struct config_diag diag = { 0 };
	char err[512] = "";
	int r, ret = EXIT_FAILURE;

	r = parse_args(argc, argv);
	if (r <= 0)
		return r == 0 ? EXIT_SUCCESS : 2;
	d->config_path = arg_config;

	r = config_load(arg_config, &d->cfg, &diag);
	print_diag(&diag, LOG_LVL_ERR);
	config_diag_free(&diag);
	if (arg_check) {
		if (r == 0)
			printf("configuration OK\n");
		config_free(d->cfg);
		return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	if (r < 0) {
		log_err(LOG_CFG, "invalid configuration %s: not starting",
			arg_config);
		return EXIT_FAILURE;
	}
	apply_logging(d->cfg);
	signal(SIGPIPE, SIG_IGN);
	log_info(LOG_MAIN, "loaxad %s starting with %s", LOAXA_VERSION,
		 arg_config);

	_cleanup_free_ char *db = config_database_path(d->cfg);
	if (!db) {
		log_err(LOG_MAIN, "out of memory");
		goto out_config;
	}
	r = ensure_dir(d->cfg->state_dir);
	if (r < 0) {
		log_err(LOG_STORE, "state directory %s: %s", d->cfg->state_dir,
			strerror(-r));
		goto out_config;
	}
	r = store_open(db, &d->store, err, sizeof err);
	if (r < 0) {
		log_err(LOG_STORE, "%s", err);
		goto out_config;
	}
	log_info(LOG_STORE, "database %s, schema version %d", db,
		 store_schema_version(d->store));
	r = directory_new(d->store, &d->dir);
	if (r == 0)
		r = directory_sync_groups(d->dir, d->cfg->groups,
					  d->cfg->ngroups);
	if (r < 0) {
		log_err(LOG_DIR, "cannot set up the village groups: %s (%s)",
			strerror(-r), store_errmsg(d->store));
		goto out_store;
	}

	uv_loop_init(&d->loop);
	notify_new(&d->loop, &d->notify);
	r = engine_new(&d->loop, d->store, d->cfg, &d->engine, err,
		       sizeof err);
	if (r == 0)
		r = broadcaster_new(d->store, d->dir, d->engine, &d->bc);
	if (r == 0 && *d->cfg->hook_url)
		r = hooks_new(&d->loop, d->store, d->cfg, &d->hooks, err,
			      sizeof err);
	if (r == 0) {
		broadcaster_set_config(d->bc, d->cfg);
		r = engine_start(d->engine);
		if (r < 0)
			snprintf(err, sizeof err, "cannot start the broadcast "
				 "engine: %s (%s)", strerror(-r),
				 store_errmsg(d->store));
	}
	uv_signal_init(&d->loop, &d->sigterm);
	uv_signal_init(&d->loop, &d->sigint);
	uv_signal_init(&d->loop, &d->sighup);
	uv_signal_start(&d->sigterm, signal_cb, SIGTERM);
	uv_signal_start(&d->sigint, signal_cb, SIGINT);
	uv_signal_start(&d->sighup, signal_cb, SIGHUP);
	uv_timer_init(&d->loop, &d->status_tick);
	uv_timer_start(&d->status_tick, status_tick_cb, 10000, 10000);
	uv_timer_init(&d->loop, &d->prune_tick);
	uv_idle_init(&d->loop, &d->prune_idle);

	struct api_deps deps = { .loop = &d->loop, .store = d->store,
				 .dir = d->dir, .engine = d->engine,
				 .bc = d->bc, .started_ms = util_now_ms() };
	if (r == 0)
		r = api_start(&deps, d->cfg, &d->api, err, sizeof err);
	if (r < 0) {
		log_err(LOG_MAIN, "%s", err);
		shutdown_begin("startup failed");
	} else {
		char status[512];
		status_line(status, sizeof status, true);
		log_info(LOG_MAIN, "ready: %s", status);
		notify_ready(d->notify, status);
		snprintf(d->last_status, sizeof d->last_status, "%s", status);
		prune_start();
		ret = EXIT_SUCCESS;
	}

	uv_run(&d->loop, UV_RUN_DEFAULT);
	/* Shutdown is a proof: every handle closed, the loop empty. */
	d->api = api_free(d->api);
	d->bc = broadcaster_free(d->bc);
	d->engine = engine_free(d->engine);
	if (uv_loop_close(&d->loop) != 0) {
		log_err(LOG_MAIN, "event loop still has handles at exit");
		ret = EXIT_FAILURE;
	}
out_store:
	d->dir = directory_free(d->dir);
	d->store = store_close(d->store);
	if (ret == EXIT_SUCCESS)
		log_info(LOG_MAIN, "stopped");
out_config:
	d->cfg = config_free(d->cfg);
	return ret;
}
