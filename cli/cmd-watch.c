/* cmd-watch.c: `loaxa watch ID`, a broadcast's progress as it goes.
 *
 * watch asks loaxad for the broadcast (GET /v1/broadcasts/{id}) every
 * interval until nothing of it is left to send now: no delivery queued or
 * sending, no wave being materialised and no wave whose send time has come
 * (or the broadcast is done or cancelled). Waves still pending for later
 * (a meeting's reminders, a notice sent at --send-at) do not keep it
 * running: the summary says when the next one goes.
 *
 * On a terminal it redraws one block of lines in place (carriage return,
 * cursor up, clear line) with a bar; otherwise it prints one plain line
 * whenever the counts change, for logs and pipes. The rate is the number
 * of deliveries that reached a final status per second over the last
 * RATE_WINDOW_MS; the ETA is what is queued or sending divided by it,
 * or, before watch has seen the pace, loaxad's own estimate ("eta_ms").
 *
 * A broadcast awaiting a second official's approval sends nothing until
 * approved: watch says so and keeps watching (an approval starts it, a
 * rejection cancels it and ends watch).
 *
 * Ctrl-C (SIGINT) stops watching, never the broadcast: exit 130. Errors
 * answered by loaxad end watch with their usual exit status.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define RATE_WINDOW_MS 10000      /* the rate is averaged over this */
#define MAX_SAMPLES 256           /* > RATE_WINDOW_MS / min interval */
#define BAR_COLUMNS 40
#define BLOCK_LINES 4             /* lines of the terminal block */
#define INTERVAL_MIN 0.2
#define INTERVAL_MAX 3600.0
#define INTERVAL_TTY 0.5
#define INTERVAL_PIPE 1.0
#define EXIT_INTERRUPTED 128      /* + the signal number */

#define BAR_FULL "\xe2\x96\x88"   /* U+2588 FULL BLOCK */
#define BAR_EMPTY "\xe2\x96\x91"  /* U+2591 LIGHT SHADE */
#define DASH "\xe2\x80\x94"       /* U+2014 EM DASH: unknown */

static volatile sig_atomic_t watch_signal;

static void watch_signal_cb(int sig)
{
	watch_signal = sig;
}

/* One look at the broadcast, as watch needs it. */
struct watch_view {
	json_int_t sent, delivered, read, failed, expired, cancelled, skipped;
	json_int_t queued, sending;
	json_int_t total, final;
	char state[32];
	bool materialising;       /* a wave being turned into deliveries */
	bool due;                 /* a pending wave whose time has come */
	bool next;                /* a pending wave for later: */
	json_int_t next_ms;       /*   its send time */
	json_int_t next_seq;      /*   and number (0: the first wave) */
	json_int_t eta_ms;        /* loaxad's expected finish, 0 unknown */
	int64_t now_ms;           /* when it was read (real time) */
};

struct watch_sample {
	int64_t t_ms;             /* monotonic */
	json_int_t final;
};

struct watch {
	struct cli *c;
	int64_t id;
	char path[64];
	bool tty;
	long interval_ms;
	struct watch_sample samples[MAX_SAMPLES];
	size_t first, n;          /* ring of samples, oldest at first */
	bool drawn;               /* the terminal block is on screen */
	char *last_key;           /* pipe and --json: what was printed last */
	char *title;              /* cleaned */
};

static int oom(void)
{
	return cli_fail(CLI_EXIT_ERROR, "out of memory");
}

static int64_t now_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --interval SECS: a decimal number of seconds ("0.5", "0,5", "2"). */
static int parse_interval(const struct cli *c, const char *arg, bool tty,
			  long *ret_ms)
{
	char buf[32], *end = NULL, *p;
	double v;

	if (!arg) {
		*ret_ms = (long)((tty ? INTERVAL_TTY : INTERVAL_PIPE) * 1000);
		return 0;
	}
	if (strlen(arg) >= sizeof(buf))
		goto bad;
	snprintf(buf, sizeof(buf), "%s", arg);
	for (p = buf; *p; p++) {
		if (*p == ',')
			*p = '.';
		else if (!(*p >= '0' && *p <= '9') && *p != '.')
			goto bad;
	}
	errno = 0;
	v = strtod(buf, &end);
	if (end == buf || *end || errno || !(v >= INTERVAL_MIN &&
					     v <= INTERVAL_MAX))
		goto bad;
	*ret_ms = (long)(v * 1000 + 0.5);
	return 0;
bad:
	return cli_usage(c, "--interval must be a number of seconds from "
			 "%.1f to %.0f (got '%s')", INTERVAL_MIN, INTERVAL_MAX,
			 arg);
}

/* ---- reading the answer ---- */

static json_int_t count_of(const json_t *counts, const char *key)
{
	const json_t *v = json_object_get(counts, key);
	json_int_t n = json_integer_value(v);

	/* Bounded, so that sums cannot overflow on a silly answer. */
	return json_is_integer(v) && n > 0 ? (n > INT32_MAX ? INT32_MAX : n)
					   : 0;
}

static int view_read(const json_t *b, int64_t now_ms, long interval_ms,
		     struct watch_view *v)
{
	const json_t *counts = json_object_get(b, "counts");
	const json_t *waves = json_object_get(b, "waves"), *w, *p;
	const char *state = json_string_value(json_object_get(b, "state"));
	size_t i;

	if (!json_is_object(counts))
		return client_unexpected(200, "no \"counts\" in the "
					 "broadcast");
	*v = (struct watch_view){ .next_ms = 0 };
	v->sent = count_of(counts, "sent");
	v->delivered = count_of(counts, "delivered");
	v->read = count_of(counts, "read");
	v->failed = count_of(counts, "failed");
	v->expired = count_of(counts, "expired");
	v->cancelled = count_of(counts, "cancelled");
	v->skipped = count_of(counts, "skipped");
	v->queued = count_of(counts, "queued");
	v->sending = count_of(counts, "sending");
	p = json_object_get(b, "progress");
	if (json_is_integer(json_object_get(p, "total")) &&
	    json_is_integer(json_object_get(p, "final"))) {
		v->total = count_of(p, "total");
		v->final = count_of(p, "final");
	} else {
		v->final = v->sent + v->delivered + v->read + v->failed +
			   v->expired + v->cancelled + v->skipped;
		v->total = v->final + v->queued + v->sending;
	}
	if (v->final > v->total)
		v->final = v->total;
	snprintf(v->state, sizeof(v->state), "%s", state ? state : "?");
	v->now_ms = now_ms;
	if (json_is_integer(json_object_get(b, "eta_ms")))
		v->eta_ms = json_integer_value(json_object_get(b, "eta_ms"));

	json_array_foreach(waves, i, w) {
		const char *ws = json_string_value(json_object_get(w,
								   "state"));
		const json_t *at = json_object_get(w, "send_at_ms");
		const json_t *exp = json_object_get(w, "expires_ms");

		if (!ws)
			continue;
		if (streq(ws, "materialising")) {
			v->materialising = true;
			continue;
		}
		if (!streq(ws, "pending") || !json_is_integer(at))
			continue;
		/* Expired before it was sent: loaxad closes it, nothing to
		 * wait for. */
		if (json_is_integer(exp) && json_integer_value(exp) <= now_ms)
			continue;
		/* Its time has come (give loaxad an interval to start it,
		 * and allow for a clock a little off): wait for it. */
		if (json_integer_value(at) <= now_ms + interval_ms) {
			v->due = true;
			continue;
		}
		if (!v->next || json_integer_value(at) < v->next_ms) {
			v->next = true;
			v->next_ms = json_integer_value(at);
			v->next_seq = json_integer_value(
				json_object_get(w, "seq"));
		}
	}
	return 0;
}

static bool view_awaiting(const struct watch_view *v)
{
	return streq(v->state, "awaiting_approval");
}

static bool view_finished(const struct watch_view *v)
{
	if (streq(v->state, "done") || streq(v->state, "cancelled"))
		return true;
	if (view_awaiting(v))
		return false;
	return v->queued + v->sending == 0 && !v->materialising && !v->due;
}

/* ---- rate and ETA ---- */

static void rate_add(struct watch *w, int64_t t_ms, json_int_t final)
{
	struct watch_sample *last;

	if (w->n > 0) {
		last = &w->samples[(w->first + w->n - 1) % MAX_SAMPLES];
		/* Fewer final than before (a retry requeued failed ones):
		 * the old samples say nothing about the new pace. */
		if (final < last->final)
			w->n = 0;
	}
	/* Keep one sample older than the window, so that the rate spans
	 * the whole window. */
	while (w->n >= 2 &&
	       w->samples[(w->first + 1) % MAX_SAMPLES].t_ms <=
		       t_ms - RATE_WINDOW_MS) {
		w->first = (w->first + 1) % MAX_SAMPLES;
		w->n--;
	}
	if (w->n == MAX_SAMPLES) {
		w->first = (w->first + 1) % MAX_SAMPLES;
		w->n--;
	}
	w->samples[(w->first + w->n) % MAX_SAMPLES] =
		(struct watch_sample){ .t_ms = t_ms, .final = final };
	w->n++;
}

/* Deliveries per second, or a negative number when unknown. */
static double rate_get(const struct watch *w)
{
	const struct watch_sample *a, *z;

	if (w->n < 2)
		return -1;
	a = &w->samples[w->first];
	z = &w->samples[(w->first + w->n - 1) % MAX_SAMPLES];
	if (z->t_ms - a->t_ms < 500)
		return -1;
	return (double)(z->final - a->final) * 1000.0 /
	       (double)(z->t_ms - a->t_ms);
}

static void format_rate(double rate, char *out, size_t outsz)
{
	if (rate < 0)
		snprintf(out, outsz, DASH);
	else
		snprintf(out, outsz, "%.1f/s", rate);
}

static void format_duration(double s, char *out, size_t outsz)
{
	long long n;

	if (!(s >= 0) || s > 360000.0 * 24) {
		snprintf(out, outsz, DASH);
		return;
	}
	n = (long long)s;
	if ((double)n < s)
		n++;                      /* rounded up */
	if (n < 60)
		snprintf(out, outsz, "%llds", n);
	else if (n < 3600)
		snprintf(out, outsz, "%lldm %02llds", n / 60, n % 60);
	else
		snprintf(out, outsz, "%lldh %02lldm", n / 3600,
			 n % 3600 / 60);
}

static void format_eta(const struct watch_view *v, double rate, char *out,
		       size_t outsz)
{
	json_int_t left = v->queued + v->sending;

	if (left == 0)
		snprintf(out, outsz, "0s");
	else if (rate > 0)
		format_duration((double)left / rate, out, outsz);
	else if (v->eta_ms > v->now_ms)
		format_duration((double)(v->eta_ms - v->now_ms) / 1000.0, out,
				outsz);
	else
		snprintf(out, outsz, DASH);
}

static int percent_of(const struct watch_view *v)
{
	if (v->total <= 0)
		return 0;
	/* Rounded down: 100% only when every delivery is final. */
	return (int)(v->final * 100 / v->total);
}

/* ---- output ---- */

/* The counts and state, to tell a change. */
static char *view_key(const struct watch_view *v)
{
	char *s;

	if (asprintf(&s, "%s %" JSON_INTEGER_FORMAT " %" JSON_INTEGER_FORMAT
		     " %" JSON_INTEGER_FORMAT " %" JSON_INTEGER_FORMAT " %"
		     JSON_INTEGER_FORMAT " %" JSON_INTEGER_FORMAT " %"
		     JSON_INTEGER_FORMAT " %" JSON_INTEGER_FORMAT " %"
		     JSON_INTEGER_FORMAT " %" JSON_INTEGER_FORMAT " %d %d",
		     v->state, v->sent, v->delivered, v->read, v->failed,
		     v->expired, v->cancelled, v->skipped, v->queued,
		     v->sending, v->total, v->materialising, v->due) < 0)
		return NULL;
	return s;
}

/* "sent 30  failed 1 ..." with sep between the pairs. block: the terminal
 * block, which always shows the six usual statuses; a line leaves out the
 * zeros but of sent, queued and sending. */
static int counts_text(struct sbuf *s, const struct watch_view *v,
		       const char *sep, bool block)
{
	const struct {
		const char *name;
		json_int_t n;
		bool in_block, in_line;   /* shown even when 0 */
	} items[] = {
		{ "sent", v->sent, true, true },
		{ "delivered", v->delivered, false, false },
		{ "read", v->read, false, false },
		{ "failed", v->failed, true, false },
		{ "expired", v->expired, true, false },
		{ "cancelled", v->cancelled, false, false },
		{ "skipped", v->skipped, true, false },
		{ "queued", v->queued, true, true },
		{ "sending", v->sending, true, true },
	};
	bool first = true;
	size_t i;
	int r = 0;

	for (i = 0; i < ARRAY_SIZE(items) && r == 0; i++) {
		if (items[i].n == 0 &&
		    !(block ? items[i].in_block : items[i].in_line))
			continue;
		r = sbuf_printf(s, "%s%s %" JSON_INTEGER_FORMAT,
				first ? "" : sep, items[i].name, items[i].n);
		first = false;
	}
	return r;
}

/* Pipe mode: one line when something changed. */
static int print_line(struct watch *w, const struct watch_view *v,
		      double rate)
{
	_cleanup_sbuf_ struct sbuf s = SBUF_INIT(4096);
	_cleanup_free_ char *key = view_key(v);
	char stamp[32], rate_s[32], eta_s[32];
	struct tm tm;
	time_t t = time(NULL);
	int r;

	if (!key)
		return oom();
	if (w->last_key && streq(w->last_key, key))
		return 0;
	if (!localtime_r(&t, &tm) ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(stamp, sizeof(stamp), "%lld", (long long)t);
	format_rate(rate, rate_s, sizeof(rate_s));
	format_eta(v, rate, eta_s, sizeof(eta_s));
	r = sbuf_printf(&s, "%s broadcast %" PRId64, stamp, w->id);
	if (!r && !streq(v->state, "active"))
		r = sbuf_printf(&s, " [%s]", v->state);
	if (view_awaiting(v)) {
		r = r ? r : sbuf_printf(&s, ": nothing is sent: waiting for "
					"a second official's approval: loaxa "
					"approve %" PRId64, w->id);
	} else {
		r = r ? r : sbuf_printf(&s, ": %" JSON_INTEGER_FORMAT "/%"
					JSON_INTEGER_FORMAT " (%d%%) ",
					v->final, v->total, percent_of(v));
		r = r ? r : counts_text(&s, v, " ", false);
		r = r ? r : sbuf_printf(&s, " rate %s eta %s", rate_s, eta_s);
	}
	if (r)
		return oom();
	fputs(sbuf_str(&s), stdout);
	fputc('\n', stdout);
	fflush(stdout);
	free(w->last_key);
	w->last_key = TAKE_PTR(key);
	return 0;
}

static size_t terminal_columns(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

static int bar_text(struct sbuf *s, const struct watch_view *v,
		    size_t columns)
{
	size_t full = 0, i;
	int r = 0;

	if (v->total > 0)
		full = (size_t)(v->final * (json_int_t)columns / v->total);
	for (i = 0; i < columns && r == 0; i++)
		r = sbuf_append(s, i < full ? BAR_FULL : BAR_EMPTY,
				sizeof(BAR_FULL) - 1);
	return r;
}

/* Terminal mode: redraw the block in place. Each line is cut to the
 * terminal's width, so that none wraps and the block keeps its height. */
static int draw_block(struct watch *w, const struct watch_view *v,
		      double rate)
{
	_cleanup_sbuf_ struct sbuf l0 = SBUF_INIT(64 * 1024),
				   l1 = SBUF_INIT(4096), l2 = SBUF_INIT(4096),
				   l3 = SBUF_INIT(4096);
	const struct sbuf *lines[BLOCK_LINES] = { &l0, &l1, &l2, &l3 };
	size_t cols = terminal_columns(), bar, i;
	char rate_s[32], eta_s[32];
	int r;

	bar = cols >= BAR_COLUMNS + 24 ? BAR_COLUMNS
	      : cols > 34 ? cols - 24 : 10;
	format_rate(rate, rate_s, sizeof(rate_s));
	format_eta(v, rate, eta_s, sizeof(eta_s));
	r = sbuf_printf(&l0, "broadcast %" PRId64 ": %s (%s)", w->id,
			w->title, v->state);
	r = r ? r : bar_text(&l1, v, bar);
	r = r ? r : sbuf_printf(&l1, "  %" JSON_INTEGER_FORMAT "/%"
				JSON_INTEGER_FORMAT "  %d%%", v->final,
				v->total, percent_of(v));
	r = r ? r : counts_text(&l2, v, "  ", true);
	if (view_awaiting(v))
		r = r ? r : sbuf_printf(&l3, "waiting for a second official's "
					"approval: loaxa approve %" PRId64
					"   (Ctrl-C stops watching)", w->id);
	else
		r = r ? r : sbuf_printf(&l3, "rate %s  eta %s   (Ctrl-C stops "
					"watching, not the broadcast)",
					rate_s, eta_s);
	if (r)
		return oom();

	if (w->drawn)
		printf("\r\033[%dA", BLOCK_LINES);
	for (i = 0; i < BLOCK_LINES; i++) {
		_cleanup_free_ char *cut = out_truncate(sbuf_str(lines[i]),
							cols - 1);

		if (!cut)
			return oom();
		fputs("\r\033[2K", stdout);
		fputs(cut, stdout);
		fputc('\n', stdout);
	}
	fflush(stdout);
	w->drawn = true;
	return 0;
}

/* --json: each answer that differs, compact, one per line. */
static int print_json_line(struct watch *w, const json_t *root,
			   const struct watch_view *v)
{
	_cleanup_free_ char *key = view_key(v), *text = NULL;

	if (!key)
		return oom();
	if (w->last_key && streq(w->last_key, key))
		return 0;
	text = json_dumps(root, JSON_COMPACT);
	if (!text)
		return oom();
	puts(text);
	fflush(stdout);
	free(w->last_key);
	w->last_key = TAKE_PTR(key);
	return 0;
}

static int print_summary(const struct watch *w, const json_t *b,
			 const struct watch_view *v)
{
	json_int_t missed = v->failed + v->expired + v->skipped +
			    v->cancelled;
	int r;

	printf("%sbroadcast %" PRId64 ": %s (%s): %" JSON_INTEGER_FORMAT
	       " of %" JSON_INTEGER_FORMAT " deliveries final\n",
	       w->tty ? "\n" : "", w->id, w->title, v->state, v->final,
	       v->total);
	r = broadcast_print_counts(b);
	if (!r)
		r = broadcast_print_breakdown(b, "by_group", "By group",
					      "GROUP");
	if (r)
		return r;
	if (v->next && !streq(v->state, "cancelled") &&
	    !streq(v->state, "done")) {
		_cleanup_json_ json_t *ms = json_integer(v->next_ms);
		_cleanup_free_ char *at = ms ? out_time_ms(ms, "?") : NULL;

		if (!at)
			return oom();
		printf("\nnext wave%s at %s\n",
		       v->next_seq > 0 ? " (reminder)" : "", at);
	}
	if (missed > 0)
		printf("\n%" JSON_INTEGER_FORMAT " deliver%s did not reach "
		       "their household: list them with 'loaxa report %"
		       PRId64 " --not-reached'\n", missed,
		       missed == 1 ? "y" : "ies", w->id);
	if (v->failed > 0)
		printf("send the %" JSON_INTEGER_FORMAT " failed one%s again "
		       "with 'loaxa retry %" PRId64 "'\n", v->failed,
		       v->failed == 1 ? "" : "s", w->id);
	return 0;
}

/* ---- the loop ---- */

static int watch_fetch(struct watch *w, json_t **ret_root,
		       struct watch_view *v)
{
	_cleanup_json_ json_t *root = NULL;
	int r;

	r = client_call(w->c, "GET", w->path, NULL, &root);
	if (r)
		return r;
	r = view_read(root, now_real_ms(), w->interval_ms, v);
	if (r)
		return r;
	*ret_root = TAKE_PTR(root);
	return 0;
}

/* Sleep until deadline (monotonic ms) or a signal. */
static void watch_sleep(int64_t deadline)
{
	int64_t left;
	struct timespec ts;

	while (!watch_signal && (left = deadline - now_monotonic_ms()) > 0) {
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000;
		nanosleep(&ts, NULL);
	}
}

static void watch_signals(bool on)
{
	struct sigaction sa = { .sa_handler = on ? watch_signal_cb : SIG_DFL };
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	size_t i;

	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a sleep ends at once. */
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
}

static int watch_loop(struct watch *w)
{
	int64_t next = now_monotonic_ms();
	int r;

	for (;;) {
		_cleanup_json_ json_t *root = NULL;
		struct watch_view v;
		bool finished;
		double rate;

		r = watch_fetch(w, &root, &v);
		if (r)
			return r;
		if (watch_signal)
			return 0;
		if (!w->title) {
			const char *t = json_string_value(
				json_object_get(root, "title"));

			w->title = out_clean(t ? t : "");
			if (!w->title)
				return oom();
		}
		rate_add(w, now_monotonic_ms(), v.final);
		rate = rate_get(w);
		finished = view_finished(&v);
		if (w->c->json)
			r = print_json_line(w, root, &v);
		else if (w->tty)
			r = draw_block(w, &v, rate);
		else
			r = print_line(w, &v, rate);
		if (r)
			return r;
		if (finished)
			return w->c->json ? 0 : print_summary(w, root, &v);
		/* The same pace whatever a request took; after a slow one,
		 * a whole interval rather than a burst to catch up. */
		next += w->interval_ms;
		if (next < now_monotonic_ms())
			next = now_monotonic_ms() + w->interval_ms;
		watch_sleep(next);
		if (watch_signal)
			return 0;
	}
}

int cmd_watch(struct cli *c, const struct cli_args *a)
{
	struct watch w = { .c = c };
	const char *term = getenv("TERM");
	int r;

	r = broadcast_parse_id(c, a->pos[0], &w.id);
	if (r)
		return r;
	w.tty = !c->json && isatty(STDOUT_FILENO) &&
		!(term && streq(term, "dumb"));
	r = parse_interval(c, cli_args_get(a, OPT_INTERVAL), w.tty,
			   &w.interval_ms);
	if (r)
		return r;
	snprintf(w.path, sizeof(w.path), "/v1/broadcasts/%" PRId64, w.id);

	watch_signal = 0;
	watch_signals(true);
	if (w.tty) {
		fputs("\033[?25l", stdout);       /* hide the cursor */
		fflush(stdout);
	}
	r = watch_loop(&w);
	if (w.tty) {
		fputs("\033[?25h", stdout);
		fflush(stdout);
	}
	watch_signals(false);
	if (watch_signal) {
		if (w.tty)
			fputs("\r\033[2K", stdout);   /* the echoed ^C */
		fflush(stdout);
		fprintf(stderr, "loaxa: stopped watching; broadcast %" PRId64
			" goes on (loaxa show %" PRId64 ")\n", w.id, w.id);
		r = EXIT_INTERRUPTED + watch_signal;
	}
	free(w.last_key);
	free(w.title);
	return r;
}
