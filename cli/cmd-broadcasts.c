/* cmd-broadcasts.c: invite, notify, broadcasts, show, cancel, pause, resume,
 * retry and deliveries (docs/api.md "Broadcasts").
 *
 * invite and notify turn their options into one create body, passing times
 * and reminders through as typed: loaxad reads "19:30 05/12/2026" and "1 day
 * before" in the commune's time zone, so the CLI never guesses at dates.
 * The body goes to the preview endpoint first: an SMS longer than loaxad's
 * sms_warn_segments costs every household several messages, so sending it
 * takes --yes. The create request carries an Idempotency-Key (--key, or 16
 * random bytes in hex): the same command sent again with the same key
 * (after a timeout, say) gets back the broadcast made the first time
 * instead of making a second one.
 *
 * The lists (`broadcasts`, `deliveries`) follow the API's keyset paging to
 * the end unless --limit is given, as `households` does.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>

#include "cli.h"

#define BROADCAST_PAGE 200        /* the API's maximum limits */
#define DELIVERY_PAGE 1000
#define BODY_FILE_MAX (1024u * 1024u)
#define KEY_MAX 200               /* bytes of an idempotency key */
#define TITLE_COLUMNS 40          /* title width in the list */
#define DEFAULT_WARN_SEGMENTS 3   /* loaxad's default sms_warn_segments */

/* Delivery statuses, in the order of their life (docs/api.md). */
static const char *const statuses[] = {
	"queued", "sending", "sent", "delivered", "read",
	"failed", "expired", "cancelled", "skipped",
};

static int oom(void)
{
	return cli_fail(CLI_EXIT_ERROR, "out of memory");
}

/* ---- arguments ---- */

int broadcast_parse_id(const struct cli *c, const char *s, int64_t *ret)
{
	return cli_parse_id_of(c, s, "broadcast", ret);
}

/* "groups": the --group values, or "all". */
static int set_groups(const struct cli *c, const struct cli_args *a,
		      json_t *body)
{
	bool all = cli_args_get(a, OPT_ALL);
	size_t n = cli_args_count(a, OPT_GROUP);

	if (all && n)
		return cli_usage(c, "--group and --all exclude each other");
	if (!all && !n)
		return cli_usage(c, "missing --group G (repeat it for more "
				 "groups) or --all");
	if (all) {
		if (json_object_set_new(body, "groups",
					json_string("all")) < 0)
			return oom();
		return 0;
	}
	return cli_set_list(c, a, body, "groups", OPT_GROUP, "--group");
}

static int set_priority(const struct cli_args *a, json_t *body)
{
	const char *p = cli_args_get(a, OPT_URGENT) ? "urgent" : "normal";

	if (json_object_set_new(body, "priority", json_string(p)) < 0)
		return oom();
	return 0;
}

/* Read the text of --body-file (bounded, UTF-8, without the final line
 * breaks a file usually ends with). */
static int read_body_file(const char *file, struct sbuf *b)
{
	_cleanup_fclose_ FILE *owned = NULL;
	const char *name = streq(file, "-") ? "standard input" : file;
	char chunk[65536];
	FILE *f = stdin;
	size_t n, bad;
	int r;

	if (!streq(file, "-")) {
		owned = fopen(file, "re");
		if (!owned)
			return cli_fail(CLI_EXIT_USAGE, "cannot open %s: %m",
					file);
		f = owned;
	} else if (isatty(STDIN_FILENO)) {
		fprintf(stderr, "loaxa: reading the notice from the "
				"terminal; end with Ctrl-D\n");
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		r = sbuf_append(b, chunk, n);
		if (r == -E2BIG)
			return cli_fail(CLI_EXIT_USAGE,
					"%s is larger than %u KiB", name,
					BODY_FILE_MAX / 1024);
		if (r < 0)
			return oom();
	}
	if (ferror(f))
		return cli_fail(CLI_EXIT_USAGE, "cannot read %s: %m", name);
	if (memchr(sbuf_str(b), '\0', b->len) ||
	    !out_utf8_valid(sbuf_str(b), b->len, &bad))
		return cli_fail(CLI_EXIT_USAGE, "%s is not UTF-8 text", name);
	while (b->len > 0 && (b->data[b->len - 1] == '\n' ||
			      b->data[b->len - 1] == '\r'))
		b->data[--b->len] = '\0';
	if (b->len == 0)
		return cli_fail(CLI_EXIT_USAGE, "%s is empty", name);
	return 0;
}

/* ---- idempotency key ---- */

static int key_random(char *out, size_t outsz)
{
	unsigned char raw[16];
	size_t got = 0, i;
	ssize_t n = 0;
	int fd;

	if (outsz < 2 * sizeof(raw) + 1)
		return cli_fail(CLI_EXIT_ERROR, "key buffer too small");
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return cli_fail(CLI_EXIT_ERROR, "cannot open /dev/urandom: %m "
				"(give an idempotency key with --key)");
	while (got < sizeof(raw)) {
		n = read(fd, raw + got, sizeof(raw) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < sizeof(raw)) {
		if (n == 0)
			errno = EIO;
		cli_fail(CLI_EXIT_ERROR, "cannot read /dev/urandom: %m (give "
			 "an idempotency key with --key)");
		close(fd);
		return CLI_EXIT_ERROR;
	}
	close(fd);
	for (i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/* A key goes into a header: printable ASCII without spaces only. */
static int key_check(const struct cli *c, const char *key)
{
	size_t len = strlen(key), i;

	if (len == 0 || len > KEY_MAX)
		return cli_usage(c, "--key must be 1 to %d characters long",
				 KEY_MAX);
	for (i = 0; i < len; i++)
		if (key[i] <= ' ' || key[i] > '~')
			return cli_usage(c, "--key may only hold printable "
					 "ASCII without spaces (letters, "
					 "digits, '-', '_', ...)");
	return 0;
}

/* ---- formatting pieces ---- */

/* A time of an answer by its prefix: "<p>_text" when loaxad gave one,
 * else "<p>_ms" as local time. NULL only when out of memory. */
static char *time_text(const json_t *o, const char *prefix,
		       const char *null_text)
{
	char key[64];
	const json_t *v;

	snprintf(key, sizeof(key), "%s_text", prefix);
	v = json_object_get(o, key);
	if (json_is_string(v) && json_string_length(v) > 0)
		return strdup(json_string_value(v));
	snprintf(key, sizeof(key), "%s_ms", prefix);
	v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return strdup(null_text);
	return out_time_ms(v, null_text);
}

/* When a broadcast happens: a meeting's start, else its first send. */
static char *when_text(const json_t *b)
{
	const json_t *starts = json_object_get(b, "starts_ms");

	if (json_is_string(json_object_get(b, "starts_text")) ||
	    (starts && !json_is_null(starts) &&
	     !(json_is_integer(starts) && json_integer_value(starts) == 0)))
		return time_text(b, "starts", "-");
	return time_text(b, "send_at", "-");
}

static char *groups_text(const json_t *b)
{
	if (json_is_true(json_object_get(b, "all_groups")))
		return strdup("all");
	return out_value(json_object_get(b, "groups"), "-");
}

/* A count member as an integer (0 when missing or not a number >= 0). */
static json_int_t count_of(const json_t *counts, const char *key)
{
	const json_t *v = json_object_get(counts, key);

	return json_is_integer(v) && json_integer_value(v) > 0
		       ? json_integer_value(v) : 0;
}

static bool percent_value(const json_t *v, double *ret)
{
	double p;

	if (!json_is_number(v))
		return false;
	p = json_number_value(v);
	if (!(p >= 0 && p <= 100000))    /* also false for NaN */
		return false;
	*ret = p;
	return true;
}

/* Progress as final, total and percent: from "progress", or else counted
 * from "counts" (final = neither queued nor sending). */
static bool progress_of(const json_t *b, json_int_t *ret_final,
			json_int_t *ret_total, double *ret_percent)
{
	const json_t *p = json_object_get(b, "progress");
	const json_t *counts = json_object_get(b, "counts");
	json_int_t total = 0, final = 0, v;
	const char *key;
	json_t *e;

	if (json_is_integer(json_object_get(p, "total")) &&
	    json_is_integer(json_object_get(p, "final"))) {
		total = json_integer_value(json_object_get(p, "total"));
		final = json_integer_value(json_object_get(p, "final"));
		if (!percent_value(json_object_get(p, "percent"),
				   ret_percent))
			*ret_percent = total > 0 && final >= 0 &&
				       final <= total
				? (double)final * 100.0 / (double)total : 0;
		*ret_final = final;
		*ret_total = total;
		return true;
	}
	if (!json_is_object(counts))
		return false;
	json_object_foreach((json_t *)counts, key, e) {
		v = count_of(counts, key);
		if (v > INT32_MAX)
			v = INT32_MAX;    /* no overflow on silly answers */
		total += v;
		if (!streq(key, "queued") && !streq(key, "sending"))
			final += v;
	}
	*ret_final = final;
	*ret_total = total;
	*ret_percent = total > 0 ? (double)final * 100.0 / (double)total : 0;
	return true;
}

/* "34/46 73%" for the list. */
static char *progress_short(const json_t *b)
{
	json_int_t final, total;
	double pct;
	char *s;

	if (!progress_of(b, &final, &total, &pct))
		return strdup("-");
	if (asprintf(&s, "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
		     " %d%%", final, total, (int)pct) < 0)
		return NULL;
	return s;
}

/* "34 of 46 deliveries final (73.9%)" for show. */
static char *progress_long(const json_t *b)
{
	json_int_t final, total;
	double pct;
	char *s;

	if (!progress_of(b, &final, &total, &pct))
		return strdup("-");
	if (asprintf(&s, "%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT
		     " deliveries final (%.1f%%)", final, total, pct) < 0)
		return NULL;
	return s;
}

/* Reminder offsets ("reminders_ms") as "1 day, 2 hours before". */
static char *reminders_text(const json_t *b)
{
	const json_t *list = json_object_get(b, "reminders_ms"), *e;
	_cleanup_sbuf_ struct sbuf s = SBUF_INIT(64 * 1024);
	static const struct {
		int64_t ms;
		const char *unit;
	} units[] = {
		{ 86400000, "day" }, { 3600000, "hour" }, { 60000, "minute" },
		{ 1000, "second" },
	};
	size_t i, u;
	int r = 0;

	if (!json_is_array(list) || json_array_size(list) == 0)
		return out_value(list, "none");
	json_array_foreach(list, i, e) {
		json_int_t ms = json_integer_value(e);
		bool any = false;

		if (i > 0)
			r = r ? r : sbuf_append(&s, "; ", 2);
		if (!json_is_integer(e) || ms <= 0 || ms > INT64_MAX / 2) {
			_cleanup_free_ char *v = out_value(e, "null");

			r = r ? r : v ? sbuf_printf(&s, "%s", v) : -ENOMEM;
			continue;
		}
		for (u = 0; u < ARRAY_SIZE(units); u++) {
			int64_t n = ms / units[u].ms;

			if (n == 0)
				continue;
			ms -= n * units[u].ms;
			if (!r)
				r = sbuf_printf(&s, "%s%" PRId64 " %s%s",
						any ? ", " : "", n,
						units[u].unit,
						n > 1 ? "s" : "");
			any = true;
		}
		if (!r && ms > 0)
			r = sbuf_printf(&s, "%s%" JSON_INTEGER_FORMAT " ms",
					any ? ", " : "", ms);
		if (!r)
			r = sbuf_append(&s, " before", 7);
	}
	if (r < 0)
		return NULL;
	return sbuf_steal(&s);
}

/* ---- printing a broadcast ---- */

static int add_row(struct out_table *t, const char *label, const char *value)
{
	if (!value || out_table_add(t, (const char *[]){ label, value }) < 0)
		return -ENOMEM;
	return 0;
}

/* Add "label: value" when the member is a non-empty string. */
static int add_text_row(struct out_table *t, const json_t *b,
			const char *key, const char *label)
{
	const json_t *v = json_object_get(b, key);
	_cleanup_free_ char *s = NULL;

	if (!v || json_is_null(v) ||
	    (json_is_string(v) && json_string_length(v) == 0))
		return 0;
	s = out_value(v, "-");
	return add_row(t, label, s);
}

/* Add "label: time" when the member (ms since the epoch) is set. */
static int add_time_row(struct out_table *t, const json_t *b,
			const char *key, const char *label)
{
	const json_t *v = json_object_get(b, key);
	_cleanup_free_ char *s = NULL;

	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return 0;
	s = out_time_ms(v, "-");
	return add_row(t, label, s);
}

static bool is_awaiting(const json_t *b)
{
	return streq(json_string_value(json_object_get(b, "state")),
		     "awaiting_approval");
}

/* Nothing of an awaiting broadcast is sent: say so, and who can help. */
static void print_awaiting(const json_t *b)
{
	const json_t *id = json_object_get(b, "id");
	const char *who = json_string_value(json_object_get(b,
							    "requested_by"));

	printf("\nNothing is sent yet: waiting for a second official's "
	       "approval: loaxa approve %" JSON_INTEGER_FORMAT "\n",
	       json_integer_value(id));
	fputs("(an official or admin other than ", stdout);
	out_put_clean(stdout, who ? who : "the requester");
	printf(" approves it; 'loaxa reject %" JSON_INTEGER_FORMAT "' "
	       "cancels it)\n", json_integer_value(id));
}

static int print_waves(const json_t *b)
{
	static const char *const headers[] = {
		"SEQ", "SEND AT", "STATE", "TOTAL",
	};
	const json_t *waves = json_object_get(b, "waves"), *w;
	_cleanup_table_ struct out_table *t = NULL;
	size_t i;

	if (!json_is_array(waves) || json_array_size(waves) == 0)
		return 0;
	t = out_table_new(ARRAY_SIZE(headers), headers);
	if (!t)
		return oom();
	out_table_align_right(t, 0);
	out_table_align_right(t, 3);
	json_array_foreach(waves, i, w) {
		_cleanup_free_ char *seq = NULL, *at = NULL, *state = NULL,
				    *total = NULL;

		seq = out_value(json_object_get(w, "seq"), "?");
		at = time_text(w, "send_at", "-");
		state = out_value(json_object_get(w, "state"), "?");
		total = out_value(json_object_get(w, "total"), "-");
		if (!seq || !at || !state || !total ||
		    out_table_add(t, (const char *[]){ seq, at, state,
						       total }) < 0)
			return oom();
	}
	printf("\nWaves:\n");
	out_table_print(t, stdout);
	return 0;
}

/* A list of owned strings, for the cells of a row. */
struct strv {
	char **v;
	size_t n, cap;
};

static void strv_clear(struct strv *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct strv){ 0 };
}
#define _cleanup_strv_ _cleanup_(strv_clear)

/* Append (and own) str; a NULL str (a failed allocation) is -ENOMEM. */
static int strv_add(struct strv *s, char *str)
{
	char **p;

	if (!str)
		return -ENOMEM;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;

		p = reallocarray(s->v, cap, sizeof(*p));
		if (!p) {
			free(str);
			return -ENOMEM;
		}
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = str;
	return 0;
}

static char *upper_dup(const char *s)
{
	char *u = strdup(s), *p;

	for (p = u; p && *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return u;
}

static char *count_dup(json_int_t n)
{
	char *s;

	if (asprintf(&s, "%" JSON_INTEGER_FORMAT, n) < 0)
		return NULL;
	return s;
}

static bool is_status(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(statuses); i++)
		if (streq(key, statuses[i]))
			return true;
	return false;
}

/* Every status, zeros included, as a header line and a line of counts;
 * statuses this version does not know come last. */
int broadcast_print_counts(const json_t *b)
{
	const json_t *counts = json_object_get(b, "counts");
	_cleanup_strv_ struct strv heads = { 0 }, nums = { 0 };
	_cleanup_table_ struct out_table *t = NULL;
	const char *key;
	json_t *v;
	size_t i;
	int r = 0;

	if (!json_is_object(counts))
		return 0;
	for (i = 0; i < ARRAY_SIZE(statuses) && !r; i++) {
		r = strv_add(&heads, upper_dup(statuses[i]));
		r = r ? r : strv_add(&nums, count_dup(count_of(counts,
							       statuses[i])));
	}
	json_object_foreach((json_t *)counts, key, v) {
		if (r || is_status(key))
			continue;
		r = strv_add(&heads, upper_dup(key));
		r = r ? r : strv_add(&nums, count_dup(count_of(counts, key)));
	}
	if (r)
		return oom();
	t = out_table_new(heads.n, (const char *const *)heads.v);
	if (!t || out_table_add(t, (const char *const *)nums.v) < 0)
		return oom();
	for (i = 0; i < heads.n; i++)
		out_table_align_right(t, i);
	printf("\nDeliveries by status:\n");
	out_table_print(t, stdout);
	return 0;
}

/* by_group or by_channel: one row per key, a column per status that is
 * not zero in some row (known ones in their order, then the others), and
 * the row's total. */
int broadcast_print_breakdown(const json_t *b, const char *member,
			      const char *title, const char *first)
{
	const json_t *by = json_object_get(b, member);
	_cleanup_strv_ struct strv heads = { 0 };
	_cleanup_table_ struct out_table *t = NULL;
	_cleanup_free_ const char **cols = NULL;
	size_t ncols = 0, maxcols, i;
	const char *key, *k2;
	json_t *row, *v;
	int r;

	if (!json_is_object(by) || json_object_size(by) == 0)
		return 0;
	/* At most every known status plus every key of every row. */
	maxcols = ARRAY_SIZE(statuses);
	json_object_foreach((json_t *)by, key, row)
		maxcols += json_is_object(row) ? json_object_size(row) : 0;
	cols = calloc(maxcols, sizeof(*cols));
	if (!cols)
		return oom();
	for (i = 0; i < ARRAY_SIZE(statuses); i++) {
		bool used = false;

		json_object_foreach((json_t *)by, key, row)
			used = used || count_of(row, statuses[i]) > 0;
		if (used)
			cols[ncols++] = statuses[i];
	}
	json_object_foreach((json_t *)by, key, row) {
		if (!json_is_object(row))
			continue;
		json_object_foreach(row, k2, v) {
			bool seen = is_status(k2);

			for (i = 0; i < ncols; i++)
				seen = seen || streq(k2, cols[i]);
			if (!seen && count_of(row, k2) > 0 && ncols < maxcols)
				cols[ncols++] = k2;
		}
	}

	r = strv_add(&heads, strdup(first));
	for (i = 0; i < ncols && !r; i++)
		r = strv_add(&heads, upper_dup(cols[i]));
	r = r ? r : strv_add(&heads, strdup("TOTAL"));
	if (r)
		return oom();
	t = out_table_new(heads.n, (const char *const *)heads.v);
	if (!t)
		return oom();
	for (i = 1; i < heads.n; i++)
		out_table_align_right(t, i);
	json_object_foreach((json_t *)by, key, row) {
		_cleanup_strv_ struct strv cells = { 0 };
		json_int_t total = 0, n;

		r = strv_add(&cells, strdup(key));
		for (i = 0; i < ncols && !r; i++)
			r = strv_add(&cells, count_dup(count_of(row,
								cols[i])));
		if (json_is_object(row)) {
			json_object_foreach(row, k2, v) {
				n = count_of(row, k2);
				total += n > INT32_MAX ? INT32_MAX : n;
			}
			r = r ? r : strv_add(&cells, count_dup(total));
		} else {
			r = r ? r : strv_add(&cells, strdup("?"));
		}
		if (r || out_table_add(t, (const char *const *)cells.v) < 0)
			return oom();
	}
	printf("\n%s:\n", title);
	out_table_print(t, stdout);
	return 0;
}

/* The "label: value" block of a broadcast; full for show, the essentials
 * after create. */
static int print_broadcast(const json_t *b, bool full)
{
	_cleanup_table_ struct out_table *t = out_table_new(2, NULL);
	_cleanup_free_ char *id = NULL, *kind = NULL, *prio = NULL,
			    *state = NULL, *when = NULL, *groups = NULL,
			    *send_at = NULL, *expires = NULL, *rem = NULL,
			    *created = NULL, *finished = NULL, *prog = NULL,
			    *started = NULL, *eta = NULL;
	const json_t *fin = json_object_get(b, "finished_ms");
	const json_t *start = json_object_get(b, "started_ms");
	const json_t *eta_ms = json_object_get(b, "eta_ms");
	bool meeting = streq(json_string_value(json_object_get(b, "kind")),
			     "meeting");
	int r = 0;

	if (!t)
		return oom();
	id = out_value(json_object_get(b, "id"), "?");
	kind = out_value(json_object_get(b, "kind"), "?");
	prio = out_value(json_object_get(b, "priority"), "normal");
	state = out_value(json_object_get(b, "state"), "?");
	when = when_text(b);
	groups = groups_text(b);
	send_at = time_text(b, "send_at", "-");
	expires = time_text(b, "expires", "-");
	if (full) {
		r = add_row(t, "id:", id);
		r = r ? r : add_text_row(t, b, "title", "title:");
		r = r ? r : add_row(t, "kind:", kind);
		r = r ? r : add_row(t, "priority:", prio);
		r = r ? r : add_row(t, "state:", state);
	} else {
		r = add_text_row(t, b, "title", "title:");
		r = r ? r : add_row(t, "state:", state);
	}
	if (meeting)
		r = r ? r : add_row(t, "when:", when);
	r = r ? r : add_text_row(t, b, "place", "place:");
	if (full) {
		r = r ? r : add_text_row(t, b, "agenda", "agenda:");
		r = r ? r : add_text_row(t, b, "body", "body:");
	}
	r = r ? r : add_row(t, "groups:", groups);
	r = r ? r : add_row(t, "send at:", send_at);
	if (meeting && json_is_array(json_object_get(b, "reminders_ms"))) {
		rem = reminders_text(b);
		r = r ? r : add_row(t, "reminders:", rem);
	}
	r = r ? r : add_row(t, "expires:", expires);
	if (full) {
		created = time_text(b, "created", "-");
		r = r ? r : add_row(t, "created:", created);
		if (json_is_integer(start)) {
			started = time_text(b, "started", "-");
			r = r ? r : add_row(t, "started:", started);
		}
		if (fin && !json_is_null(fin)) {
			finished = time_text(b, "finished", "-");
			r = r ? r : add_row(t, "finished:", finished);
		}
		r = r ? r : add_text_row(t, b, "requested_by",
					 "requested by:");
		r = r ? r : add_text_row(t, b, "approved_by", "approved by:");
		r = r ? r : add_time_row(t, b, "approved_at", "approved at:");
		r = r ? r : add_time_row(t, b, "pruned_at", "pruned at:");
		prog = progress_long(b);
		r = r ? r : add_row(t, "progress:", prog);
		if (count_of(b, "unconfirmed") > 0) {
			char unc[64];

			snprintf(unc, sizeof(unc), "%" JSON_INTEGER_FORMAT
				 " sent, no receipt yet",
				 count_of(b, "unconfirmed"));
			r = r ? r : add_row(t, "unconfirmed:", unc);
		}
		if (json_is_integer(eta_ms) && (!fin || json_is_null(fin))) {
			eta = time_text(b, "eta", "-");
			r = r ? r : add_row(t, "expected finish:", eta);
		}
	}
	if (r < 0 || !id || !kind || !prio || !state || !when || !groups ||
	    !send_at || !expires)
		return oom();
	out_table_print(t, stdout);
	if (full && is_awaiting(b))
		print_awaiting(b);
	if (full && json_is_integer(json_object_get(b, "pruned_at")))
		printf("\nRetention removed its deliveries: the counts below "
		       "are those kept when it was pruned.\n");

	r = print_waves(b);
	if (!r && full)
		r = broadcast_print_counts(b);
	if (!r && full)
		r = broadcast_print_breakdown(b, "by_group", "By group",
					      "GROUP");
	if (!r && full)
		r = broadcast_print_breakdown(b, "by_channel", "By channel",
					      "CHANNEL");
	return r;
}

/* ---- preview ---- */

/* Print a message text indented, line by line, each line cleaned. */
static void print_text(const char *text)
{
	const char *p = text, *nl;

	do {
		_cleanup_free_ char *line = NULL;

		nl = strchr(p, '\n');
		line = strndup(p, nl ? (size_t)(nl - p) : strlen(p));
		fputs("    ", stdout);
		out_put_clean(stdout, line ? line : "?");
		fputc('\n', stdout);
		p = nl ? nl + 1 : NULL;
	} while (p);
}

static void print_preview(const json_t *messages)
{
	const json_t *m;
	size_t i;

	if (json_array_size(messages) == 0) {
		printf("No message would be sent.\n");
		return;
	}
	printf("Messages for one sample household (names and groups differ "
	       "per household):\n");
	json_array_foreach(messages, i, m) {
		const char *channel = json_string_value(
			json_object_get(m, "channel"));
		const char *driver = json_string_value(
			json_object_get(m, "driver"));
		const char *text = json_string_value(
			json_object_get(m, "text"));
		const json_t *sms = json_object_get(m, "sms");

		printf("\n%zu. channel ", i + 1);
		out_put_clean(stdout, channel ? channel : "?");
		if (driver) {
			fputs(" (", stdout);
			out_put_clean(stdout, driver);
			fputc(')', stdout);
		}
		if (json_is_object(sms)) {
			_cleanup_free_ char *seg = NULL, *enc = NULL,
					    *units = NULL;

			seg = out_value(json_object_get(sms, "segments"), "?");
			enc = out_value(json_object_get(sms, "encoding"), "?");
			units = out_value(json_object_get(sms, "units"), "?");
			fputs(", SMS: ", stdout);
			out_put_clean(stdout, seg);
			fputs(" segment(s), ", stdout);
			out_put_clean(stdout, enc);
			fputs(", ", stdout);
			out_put_clean(stdout, units);
			fputs(" characters", stdout);
		}
		fputs(":\n", stdout);
		print_text(text ? text : "");
	}
}

static void hint_no_route(const struct cli *c)
{
	if (streq(c->error_code, "no_route"))
		fprintf(stderr, "loaxa: hint: list channels in 'chain' of "
				"[route] in loaxa.ini, each with its "
				"[channel.NAME] section, and reload loaxad\n");
}

/* Ask loaxad what the body would send. Sets *ret_stop when the command
 * is done (--preview). Returns 0 to go on creating, or an exit code. */
static int preview(struct cli *c, const struct cli_args *a, const char *text,
		   bool *ret_stop)
{
	_cleanup_answer_ struct client_answer ans = { 0 };
	_cleanup_json_ json_t *root = NULL;
	bool only = cli_args_get(a, OPT_PREVIEW);
	const json_t *messages, *m, *warn_v, *worst = NULL;
	json_int_t warn = DEFAULT_WARN_SEGMENTS, seg, max = 0;
	size_t i;
	int r;

	*ret_stop = false;
	r = client_request(c, "POST", "/v1/broadcasts/preview",
			   "application/json", text, strlen(text),
			   CLI_TIMEOUT_MS, &ans);
	if (r)
		return r;
	/* An older loaxad has no preview: create without the check. */
	if ((ans.status == 404 || ans.status == 405) && !only) {
		fprintf(stderr, "loaxa: note: loaxad cannot preview "
				"broadcasts (HTTP %ld); the SMS length was "
				"not checked\n", ans.status);
		return 0;
	}
	r = client_answer_json(c, &ans, true, &root);
	if (r) {
		hint_no_route(c);
		return r;
	}
	messages = json_object_get(root, "messages");
	if (!json_is_array(messages))
		return client_unexpected(ans.status, "no \"messages\" list");
	warn_v = json_object_get(root, "sms_warn_segments");
	if (json_is_integer(warn_v) && json_integer_value(warn_v) > 0)
		warn = json_integer_value(warn_v);
	json_array_foreach(messages, i, m) {
		const json_t *sms = json_object_get(m, "sms");

		seg = json_integer_value(json_object_get(sms, "segments"));
		if (json_is_integer(json_object_get(sms, "segments")) &&
		    seg > max) {
			max = seg;
			worst = sms;
		}
	}

	if (only) {
		r = c->json ? cli_print_json(root) : CLI_EXIT_OK;
		if (!c->json)
			print_preview(messages);
		*ret_stop = true;
	}
	if (max > warn) {
		_cleanup_free_ char *enc = NULL, *units = NULL;

		enc = out_value(json_object_get(worst, "encoding"), "?");
		units = out_value(json_object_get(worst, "units"), "?");
		if (!enc || !units)
			return oom();
		fflush(stdout);
		fprintf(stderr, "loaxa: warning: the SMS text needs %"
			JSON_INTEGER_FORMAT " segments (", max);
		out_put_clean(stderr, enc);
		fputs(", ", stderr);
		out_put_clean(stderr, units);
		fprintf(stderr, " characters): each household is charged %"
			JSON_INTEGER_FORMAT " messages\n", max);
		if (!only && !cli_args_get(a, OPT_YES))
			return cli_fail(CLI_EXIT_USAGE,
					"not sent: add --yes to send it "
					"anyway, or shorten the text (see it "
					"with --preview)");
	}
	return r;
}

/* ---- invite, notify ---- */

static int print_created(struct cli *c, const json_t *b, long status)
{
	_cleanup_json_ json_t *full = NULL;
	const json_t *id = json_object_get(b, "id");
	char path[64];
	int r;

	if (status == 200) {
		printf("broadcast %" JSON_INTEGER_FORMAT " already exists "
		       "with this key: nothing new was created\n",
		       json_integer_value(id));
	} else {
		_cleanup_free_ char *kind = NULL, *prio = NULL;

		kind = out_value(json_object_get(b, "kind"), "broadcast");
		prio = out_value(json_object_get(b, "priority"), "normal");
		if (!kind || !prio)
			return oom();
		fputs("created ", stdout);
		if (streq(prio, "urgent"))
			fputs("urgent ", stdout);
		out_put_clean(stdout, kind);
		printf(" %" JSON_INTEGER_FORMAT "\n", json_integer_value(id));
	}
	/* The create answer may leave out the waves: ask for them. */
	if (!json_is_array(json_object_get(b, "waves"))) {
		snprintf(path, sizeof(path), "/v1/broadcasts/%"
			 JSON_INTEGER_FORMAT, json_integer_value(id));
		if (client_call(c, "GET", path, NULL, &full) == 0 &&
		    json_is_array(json_object_get(full, "waves")))
			b = full;
	}
	r = print_broadcast(b, false);
	if (r)
		return r;
	if (is_awaiting(b))
		print_awaiting(b);
	if (cli_command_exists("watch", NULL))
		printf("\nFollow it: loaxa watch %" JSON_INTEGER_FORMAT
		       "   details: loaxa show %" JSON_INTEGER_FORMAT "\n",
		       json_integer_value(id), json_integer_value(id));
	else
		printf("\nFollow it: loaxa show %" JSON_INTEGER_FORMAT
		       "   recipients: loaxa deliveries %"
		       JSON_INTEGER_FORMAT "\n", json_integer_value(id),
		       json_integer_value(id));
	return CLI_EXIT_OK;
}

static int broadcast_send(struct cli *c, const struct cli_args *a,
			  const json_t *body)
{
	_cleanup_answer_ struct client_answer ans = { 0 };
	_cleanup_json_ json_t *root = NULL;
	_cleanup_free_ char *text = NULL;
	const char *key = cli_args_get(a, OPT_KEY);
	char random_key[64], header[KEY_MAX + 32];
	bool stop;
	int r;

	if (key) {
		r = key_check(c, key);
		if (r)
			return r;
	}
	text = json_dumps(body, JSON_COMPACT);
	if (!text)
		return oom();
	r = preview(c, a, text, &stop);
	if (r || stop)
		return r;
	if (!key) {
		r = key_random(random_key, sizeof(random_key));
		if (r)
			return r;
		key = random_key;
	}
	snprintf(header, sizeof(header), "Idempotency-Key: %s", key);

	r = client_request_hdr(c, "POST", "/v1/broadcasts", header,
			       "application/json", text, strlen(text),
			       CLI_TIMEOUT_MS, &ans);
	if (r == CLI_EXIT_UNREACHABLE || (r == 0 && ans.status >= 500)) {
		if (r == 0)
			r = client_answer_json(c, &ans, true, &root);
		fprintf(stderr, "loaxa: the broadcast may or may not have "
				"been created: to try again without sending "
				"it twice, run the same command with --key "
				"%s\n", key);
		return r;
	}
	if (r)
		return r;
	r = client_answer_json(c, &ans, true, &root);
	if (r) {
		hint_no_route(c);
		return r;
	}
	if (!json_is_integer(json_object_get(root, "id")))
		return client_unexpected(ans.status, "no broadcast \"id\"");
	if (c->json)
		return cli_print_json(root);
	return print_created(c, root, ans.status);
}

int cmd_invite(struct cli *c, const struct cli_args *a)
{
	_cleanup_json_ json_t *body = NULL;
	int r;

	if (!cli_args_get(a, OPT_TITLE))
		return cli_usage(c, "missing --title T");
	if (!cli_args_get(a, OPT_AT))
		return cli_usage(c, "missing --at WHEN (e.g. --at '19:30 "
				 "05/12/2026')");
	if (!cli_args_get(a, OPT_PLACE))
		return cli_usage(c, "missing --place P");
	body = json_pack("{s:s}", "kind", "meeting");
	if (!body)
		return oom();
	r = set_priority(a, body);
	r = r ? r : cli_set_string(c, body, "title",
				   cli_args_get(a, OPT_TITLE), "--title");
	r = r ? r : cli_set_string(c, body, "starts_at",
				   cli_args_get(a, OPT_AT), "--at");
	r = r ? r : cli_set_string(c, body, "place",
				   cli_args_get(a, OPT_PLACE), "--place");
	r = r ? r : cli_set_string(c, body, "agenda",
				   cli_args_get(a, OPT_AGENDA), "--agenda");
	r = r ? r : set_groups(c, a, body);
	if (!r && cli_args_count(a, OPT_REMIND) > 0)
		r = cli_set_list(c, a, body, "reminders", OPT_REMIND,
				 "--remind");
	r = r ? r : cli_set_string(c, body, "send_at",
				   cli_args_get(a, OPT_SEND_AT), "--send-at");
	if (r)
		return r;
	return broadcast_send(c, a, body);
}

int cmd_notify(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf file = SBUF_INIT(BODY_FILE_MAX);
	_cleanup_json_ json_t *body = NULL;
	const char *text = cli_args_get(a, OPT_BODY);
	const char *path = cli_args_get(a, OPT_BODY_FILE);
	int r;

	if (!cli_args_get(a, OPT_TITLE))
		return cli_usage(c, "missing --title T");
	if (text && path)
		return cli_usage(c, "--body and --body-file exclude each "
				 "other");
	if (!text && !path)
		return cli_usage(c, "missing --body B or --body-file FILE");
	body = json_pack("{s:s}", "kind", "notice");
	if (!body)
		return oom();
	r = set_priority(a, body);
	r = r ? r : cli_set_string(c, body, "title",
				   cli_args_get(a, OPT_TITLE), "--title");
	r = r ? r : set_groups(c, a, body);
	r = r ? r : cli_set_string(c, body, "send_at",
				   cli_args_get(a, OPT_SEND_AT), "--send-at");
	r = r ? r : cli_set_string(c, body, "expires_at",
				   cli_args_get(a, OPT_EXPIRES), "--expires");
	if (!r && path) {
		r = read_body_file(path, &file);
		text = sbuf_str(&file);
	}
	r = r ? r : cli_set_string(c, body, "body", text, "--body");
	if (r)
		return r;
	return broadcast_send(c, a, body);
}

/* ---- broadcasts ---- */

static int print_broadcasts(const json_t *list)
{
	static const char *const headers[] = {
		"ID", "KIND", "PRIORITY", "STATE", "TITLE", "WHEN",
		"PROGRESS",
	};
	_cleanup_table_ struct out_table *t = NULL;
	const json_t *b;
	size_t i;

	t = out_table_new(ARRAY_SIZE(headers), headers);
	if (!t)
		return oom();
	out_table_align_right(t, 0);
	json_array_foreach(list, i, b) {
		_cleanup_free_ char *id = NULL, *kind = NULL, *prio = NULL,
				    *state = NULL, *title = NULL,
				    *title_cut = NULL, *when = NULL,
				    *prog = NULL;

		id = out_value(json_object_get(b, "id"), "?");
		kind = out_value(json_object_get(b, "kind"), "?");
		prio = out_value(json_object_get(b, "priority"), "normal");
		state = out_value(json_object_get(b, "state"), "?");
		title = out_value(json_object_get(b, "title"), "");
		title_cut = title ? out_truncate(title, TITLE_COLUMNS) : NULL;
		when = when_text(b);
		prog = progress_short(b);
		if (!id || !kind || !prio || !state || !title_cut || !when ||
		    !prog)
			return oom();
		if (out_table_add(t, (const char *[]){
				id, kind, prio, state, title_cut, when,
				prog }) < 0)
			return oom();
	}
	if (out_table_rows(t) == 0) {
		fprintf(stderr, "No broadcasts found.\n");
		return CLI_EXIT_OK;
	}
	out_table_print(t, stdout);
	return CLI_EXIT_OK;
}

int cmd_broadcasts(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(64 * 1024);
	const char *state = cli_args_get(a, OPT_STATE);
	int64_t limit;
	int r;

	r = cli_parse_limit(c, a, BROADCAST_PAGE, &limit);
	if (r)
		return r;
	if (sbuf_printf(&path, "/v1/broadcasts?limit=%" PRId64,
			limit ? limit : BROADCAST_PAGE) < 0)
		return oom();
	r = state ? client_query_add(c, &path, "state", state) : 0;
	if (r)
		return r;
	/* Newest first: the cursor goes down. */
	return client_show_list(c, sbuf_str(&path), "broadcasts",
				CLIENT_BEFORE_ID, limit > 0, print_broadcasts);
}

/* ---- one broadcast ---- */

static int broadcast_path(const struct cli *c, const char *arg,
			  const char *suffix, struct sbuf *path)
{
	return client_id_path(c, arg, "broadcast", suffix, path);
}

int cmd_broadcast_show(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(1024);
	_cleanup_json_ json_t *root = NULL;
	int r;

	r = broadcast_path(c, a->pos[0], "", &path);
	if (r)
		return r;
	r = client_call(c, "GET", sbuf_str(&path), NULL, &root);
	if (r)
		return r;
	if (c->json)
		return cli_print_json(root);
	return print_broadcast(root, true);
}

/* cancel, pause, resume: POST and print the new state. */
static int steer(struct cli *c, const struct cli_args *a, const char *verb)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(1024);
	_cleanup_json_ json_t *root = NULL;
	_cleanup_free_ char *id = NULL, *state = NULL;
	char suffix[32];
	int r;

	snprintf(suffix, sizeof(suffix), "/%s", verb);
	r = broadcast_path(c, a->pos[0], suffix, &path);
	if (r)
		return r;
	r = client_call(c, "POST", sbuf_str(&path), NULL, &root);
	if (r)
		return r;
	if (c->json)
		return cli_print_json(root);
	id = out_value(json_object_get(root, "id"), a->pos[0]);
	state = out_value(json_object_get(root, "state"), "?");
	if (!id || !state)
		return oom();
	fputs("broadcast ", stdout);
	out_put_clean(stdout, id);
	fputs(" is now ", stdout);
	out_put_clean(stdout, state);
	fputc('\n', stdout);
	if (streq(verb, "cancel"))
		printf("(deliveries already being sent finish; the queued "
		       "ones are cancelled)\n");
	return CLI_EXIT_OK;
}

int cmd_broadcast_cancel(struct cli *c, const struct cli_args *a)
{
	return steer(c, a, "cancel");
}

int cmd_broadcast_pause(struct cli *c, const struct cli_args *a)
{
	return steer(c, a, "pause");
}

int cmd_broadcast_resume(struct cli *c, const struct cli_args *a)
{
	return steer(c, a, "resume");
}

int cmd_broadcast_retry(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(1024);
	_cleanup_json_ json_t *root = NULL;
	_cleanup_free_ char *state = NULL;
	const json_t *n, *b;
	int r;

	r = broadcast_path(c, a->pos[0], "/retry", &path);
	if (r)
		return r;
	r = client_call(c, "POST", sbuf_str(&path), NULL, &root);
	if (r)
		return r;
	n = json_object_get(root, "requeued");
	if (!json_is_integer(n))
		return client_unexpected(200, "no \"requeued\" count");
	if (c->json)
		return cli_print_json(root);
	b = json_object_get(root, "broadcast");
	state = out_value(json_object_get(b, "state"), "?");
	if (!state)
		return oom();
	printf("requeued %" JSON_INTEGER_FORMAT " deliver%s of broadcast ",
	       json_integer_value(n),
	       json_integer_value(n) == 1 ? "y" : "ies");
	out_put_clean(stdout, a->pos[0]);
	fputs(" (now ", stdout);
	out_put_clean(stdout, state);
	fputs(")\n", stdout);
	return CLI_EXIT_OK;
}

/* ---- deliveries ---- */

static int print_deliveries(const json_t *list)
{
	static const char *const headers[] = {
		"ID", "WAVE", "NAME", "GROUP", "PHONE", "STATUS", "CHANNEL",
		"ATTEMPTS", "CODE",
	};
	_cleanup_table_ struct out_table *t = NULL;
	const json_t *d, *first_wave = NULL;
	bool waves = false, dups = false;
	size_t i, col;

	/* WAVE only when the list holds more than one wave. */
	json_array_foreach(list, i, d) {
		const json_t *w = json_object_get(d, "wave");

		if (!first_wave)
			first_wave = w ? w : json_null();
		else if (!json_equal(first_wave, w ? w : json_null()))
			waves = true;
	}
	{
		const char *h[ARRAY_SIZE(headers)];

		for (i = 0, col = 0; i < ARRAY_SIZE(headers); i++)
			if (i != 1 || waves)
				h[col++] = headers[i];
		t = out_table_new(col, h);
	}
	if (!t)
		return oom();
	out_table_align_right(t, 0);
	if (waves)
		out_table_align_right(t, 1);
	out_table_align_right(t, waves ? 7 : 6);
	json_array_foreach(list, i, d) {
		_cleanup_free_ char *id = NULL, *wave = NULL, *name = NULL,
				    *group = NULL, *phone = NULL,
				    *status = NULL, *channel = NULL,
				    *attempts = NULL, *code = NULL,
				    *marked = NULL;
		const char *cells[ARRAY_SIZE(headers)];
		bool dup = json_is_true(json_object_get(d,
							"possible_duplicate"));

		id = out_value(json_object_get(d, "id"), "?");
		wave = out_value(json_object_get(d, "wave"), "");
		name = out_value(json_object_get(d, "name"), "");
		group = out_value(json_object_get(d, "group"), "");
		phone = out_value(json_object_get(d, "phone"), "");
		status = out_value(json_object_get(d, "status"), "?");
		channel = out_value(json_object_get(d, "channel"), "");
		attempts = out_value(json_object_get(d, "attempts"), "");
		code = out_value(json_object_get(d, "code"), "");
		if (!id || !wave || !name || !group || !phone || !status ||
		    !channel || !attempts || !code)
			return oom();
		if (dup && asprintf(&marked, "%s dup?", status) < 0) {
			marked = NULL;
			return oom();
		}
		dups = dups || dup;
		col = 0;
		cells[col++] = id;
		if (waves)
			cells[col++] = wave;
		cells[col++] = name;
		cells[col++] = group;
		cells[col++] = phone;
		cells[col++] = marked ? marked : status;
		cells[col++] = channel;
		cells[col++] = attempts;
		cells[col++] = code;
		if (out_table_add(t, cells) < 0)
			return oom();
	}
	if (out_table_rows(t) == 0) {
		fprintf(stderr, "No deliveries found.\n");
		return CLI_EXIT_OK;
	}
	out_table_print(t, stdout);
	if (dups)
		printf("(dup?: the household may have received this message "
		       "twice)\n");
	return CLI_EXIT_OK;
}

static int print_pruned(const char *id)
{
	fputs("Broadcast ", stderr);
	out_put_clean(stderr, id);
	fputs(" has no deliveries to list: retention ([daemon] retention) "
	      "removed them; its counts are kept (loaxa show ", stderr);
	out_put_clean(stderr, id);
	fputs(").\n", stderr);
	return CLI_EXIT_OK;
}

int broadcast_deliveries_path(struct cli *c, const struct cli_args *a,
			      int64_t id, int64_t limit, struct sbuf *path)
{
	static const struct {
		enum cli_opt opt;
		const char *key;
	} filters[] = {
		{ OPT_STATUS, "status" },
		{ OPT_GROUP, "group" },
		{ OPT_CHANNEL, "channel" },
	};
	size_t i;
	int r = 0;

	if (sbuf_printf(path, "/v1/broadcasts/%" PRId64
			"/deliveries?limit=%" PRId64, id, limit) < 0)
		return oom();
	for (i = 0; i < ARRAY_SIZE(filters) && !r; i++) {
		const char *v = cli_args_get(a, filters[i].opt);

		if (v)
			r = client_query_add(c, path, filters[i].key, v);
	}
	return r;
}

int cmd_deliveries(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(64 * 1024);
	_cleanup_json_ json_t *all = NULL, *last = NULL;
	int64_t id, limit;
	bool pruned, more = false;
	int r;

	r = broadcast_parse_id(c, a->pos[0], &id);
	if (r)
		return r;
	r = cli_parse_limit(c, a, DELIVERY_PAGE, &limit);
	if (r)
		return r;
	r = broadcast_deliveries_path(c, a, id, limit ? limit : DELIVERY_PAGE,
				      &path);
	if (r)
		return r;
	if (limit)
		r = client_get_page(c, sbuf_str(&path), "deliveries",
				    CLIENT_AFTER_ID, &last, &more);
	else
		r = client_get_all(c, sbuf_str(&path), "deliveries",
				   CLIENT_AFTER_ID, &all, &last);
	if (r)
		return r;
	/* A pruned broadcast answers one empty page. */
	pruned = json_is_true(json_object_get(last, "pruned"));
	if (pruned && !c->json &&
	    json_array_size(json_object_get(last, "deliveries")) == 0)
		return print_pruned(a->pos[0]);
	if (limit) {
		if (c->json)
			return cli_print_json(last);
		r = print_deliveries(json_object_get(last, "deliveries"));
		if (r == 0 && more)
			client_more_hint("deliveries");
		return r;
	}
	if (c->json) {
		_cleanup_json_ json_t *out = json_pack("{s:O}", "deliveries",
						       all);

		if (!out || (pruned && json_object_set_new(
				      out, "pruned", json_true()) < 0))
			return oom();
		return cli_print_json(out);
	}
	return print_deliveries(all);
}
