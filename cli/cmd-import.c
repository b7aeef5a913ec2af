/* cmd-import.c: import (CSV in) and export (CSV out).
 *
 * The CSV is read whole (bounded) and sent as the request body; loaxad
 * parses it (docs/api.md "Import and export"). Before sending, the file is
 * checked to be UTF-8: spreadsheets often save UTF-16 or a Windows code
 * page, and a local message naming the line helps more than a 400.
 */
#include <errno.h>
#include <unistd.h>

#include "cli.h"

static int oom(void)
{
	return cli_fail(CLI_EXIT_ERROR, "out of memory");
}

static int read_input(const char *file, struct sbuf *b)
{
	_cleanup_fclose_ FILE *owned = NULL;
	const char *name = streq(file, "-") ? "standard input" : file;
	char chunk[65536];
	FILE *f = stdin;
	size_t n;
	int r;

	if (!streq(file, "-")) {
		owned = fopen(file, "re");
		if (!owned)
			return cli_fail(CLI_EXIT_USAGE, "cannot open %s: %m",
					file);
		f = owned;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		r = sbuf_append(b, chunk, n);
		if (r == -E2BIG)
			return cli_fail(CLI_EXIT_USAGE,
					"%s is larger than %u MiB", name,
					CLI_MAX_ANSWER / 1024 / 1024);
		if (r < 0)
			return oom();
	}
	if (ferror(f))
		return cli_fail(CLI_EXIT_USAGE, "cannot read %s: %m", name);
	return 0;
}

static int check_utf8(const char *name, const struct sbuf *b)
{
	const unsigned char *u = (const unsigned char *)sbuf_str(b);
	size_t bad, line = 1, i;

	if (b->len >= 2 && ((u[0] == 0xff && u[1] == 0xfe) ||
			    (u[0] == 0xfe && u[1] == 0xff)))
		return cli_fail(CLI_EXIT_USAGE,
				"%s is UTF-16 text: save it as \"CSV UTF-8\" "
				"and import that", name);
	if (out_utf8_valid(sbuf_str(b), b->len, &bad))
		return 0;
	for (i = 0; i < bad; i++)
		line += u[i] == '\n';
	return cli_fail(CLI_EXIT_USAGE,
			"%s:%zu: not UTF-8 text: save the file as \"CSV "
			"UTF-8\" and import that", name, line);
}

/* "line 7, phone '028 3829 1234': message" */
static void print_row(const char *prefix, const json_t *e)
{
	const json_t *line = json_object_get(e, "line");
	const char *column = json_string_value(json_object_get(e, "column"));
	const json_t *value = json_object_get(e, "value");
	const char *message = json_string_value(json_object_get(e, "message"));
	_cleanup_free_ char *clean = NULL, *v = NULL, *l = NULL;
	_cleanup_sbuf_ struct sbuf b = SBUF_INIT(SIZE_MAX / 2);
	int r;

	if (!message)
		message = json_string_value(json_object_get(e, "code"));
	l = out_value(line, "?");
	v = value && !json_is_null(value) ? out_value(value, "") : NULL;
	r = sbuf_printf(&b, "%sline %s", prefix, l ? l : "?");
	if (r == 0 && column)
		r = sbuf_printf(&b, ", %s", column);
	if (r == 0 && v)
		r = sbuf_printf(&b, " '%s'", v);
	if (r == 0)
		r = sbuf_printf(&b, ": %s", message ? message : "rejected");
	clean = r == 0 ? out_clean(sbuf_str(&b)) : NULL;
	puts(clean ? clean : "?");
}

int cmd_import(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf csv = SBUF_INIT(CLI_MAX_ANSWER);
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(64 * 1024);
	_cleanup_answer_ struct client_answer ans = { 0 };
	_cleanup_json_ json_t *root = NULL;
	_cleanup_free_ char *created = NULL, *updated = NULL,
			    *unchanged = NULL;
	const char *file = a->pos[0];
	const char *group = cli_args_get(a, OPT_GROUP);
	bool dry_run = cli_args_get(a, OPT_DRY_RUN);
	const json_t *rejected, *warnings, *e;
	size_t i;
	int r = 0;

	if (streq(file, "-") && isatty(STDIN_FILENO))
		fprintf(stderr, "loaxa: reading CSV from the terminal; end "
				"with Ctrl-D\n");
	r = read_input(file, &csv);
	if (r)
		return r;
	r = check_utf8(streq(file, "-") ? "standard input" : file, &csv);
	if (r)
		return r;

	if (sbuf_printf(&path, "/v1/import") < 0)
		return oom();
	if (group)
		r = client_query_add(c, &path, "group", group);
	if (!r && dry_run)
		r = client_query_add(c, &path, "dry_run", "1");
	if (r)
		return r;
	r = client_request(c, "POST", sbuf_str(&path),
			   "text/csv; charset=utf-8", sbuf_str(&csv), csv.len,
			   CLI_TIMEOUT_LONG_MS, &ans);
	if (r)
		return r;
	r = client_answer_json(c, &ans, true, &root);
	if (r)
		return r;

	/* The counters and the list of rejected rows are the answer: without
	 * them, printing zeros would hide a problem. */
	rejected = json_object_get(root, "rejected");
	warnings = json_object_get(root, "warnings");
	if (!json_is_integer(json_object_get(root, "created")) ||
	    !json_is_integer(json_object_get(root, "updated")) ||
	    !json_is_integer(json_object_get(root, "unchanged")) ||
	    !json_is_array(rejected) ||
	    (warnings && !json_is_array(warnings)))
		return client_unexpected(ans.status, "no import counts");
	if (c->json) {
		r = cli_print_json(root);
		if (r)
			return r;
		return json_array_size(rejected) > 0 ? CLI_EXIT_REJECTED
						     : CLI_EXIT_OK;
	}

	created = out_value(json_object_get(root, "created"), "0");
	updated = out_value(json_object_get(root, "updated"), "0");
	unchanged = out_value(json_object_get(root, "unchanged"), "0");
	if (!created || !updated || !unchanged)
		return oom();
	printf("created %s, updated %s, unchanged %s, rejected %zu\n",
	       created, updated, unchanged, json_array_size(rejected));
	json_array_foreach(rejected, i, e)
		print_row("", e);
	json_array_foreach(warnings, i, e)
		print_row("warning: ", e);
	if (json_is_true(json_object_get(root, "dry_run")) || dry_run)
		printf("(dry run: nothing was written)\n");
	return json_array_size(rejected) > 0 ? CLI_EXIT_REJECTED
					     : CLI_EXIT_OK;
}

static int write_all(FILE *f, const char *name, const char *data,
		     size_t len)
{
	if (fwrite(data, 1, len, f) != len || fflush(f) != 0)
		return cli_fail(CLI_EXIT_ERROR, "cannot write %s: %m", name);
	return 0;
}

int cmd_export(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(64 * 1024);
	_cleanup_answer_ struct client_answer ans = { 0 };
	const char *group = cli_args_get(a, OPT_GROUP);
	const char *out = cli_args_get(a, OPT_OUTPUT);
	FILE *f;
	int r = 0;

	if (out && !out[0])
		return cli_usage(c, "-o needs a file name");
	if (sbuf_printf(&path, "/v1/export") < 0)
		return oom();
	if (group)
		r = client_query_add(c, &path, "group", group);
	if (r)
		return r;
	r = client_request(c, "GET", sbuf_str(&path), NULL, NULL, 0,
			   CLI_TIMEOUT_LONG_MS, &ans);
	if (r)
		return r;
	if (ans.status >= 400)
		return client_report_error(c, &ans);
	if (ans.status < 200 || ans.status >= 300)
		return client_unexpected(ans.status, NULL);

	/* The file is opened only now, so a failed request never truncates
	 * an earlier export. */
	if (!out || streq(out, "-"))
		return write_all(stdout, "standard output", ans.body, ans.len);
	f = fopen(out, "we");
	if (!f)
		return cli_fail(CLI_EXIT_ERROR, "cannot create %s: %m", out);
	r = write_all(f, out, ans.body, ans.len);
	if (fclose(f) != 0 && r == 0)
		r = cli_fail(CLI_EXIT_ERROR, "cannot write %s: %m", out);
	return r;
}

/* backup FILE: a consistent copy of loaxad's database, written to FILE.tmp
 * then renamed, so FILE is either the old file or the whole new copy. */
int cmd_backup(struct cli *c, const struct cli_args *a)
{
	_cleanup_answer_ struct client_answer ans = { 0 };
	const char *out = a->npos > 0 ? a->pos[0] : NULL;
	if (!out || !out[0])
		return cli_usage(c, "backup needs a file name");
	int r = client_request(c, "POST", "/v1/backup", NULL, NULL, 0,
			       CLI_TIMEOUT_LONG_MS, &ans);
	if (r)
		return r;
	if (ans.status >= 400)
		return client_report_error(c, &ans);
	if (ans.status != 200 || ans.len < 100 ||
	    memcmp(ans.body, "SQLite format 3", 16) != 0)
		return client_unexpected(ans.status, "backup");
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", out) >= (int)sizeof tmp)
		return cli_usage(c, "file name too long");
	FILE *f = fopen(tmp, "wxe");
	if (!f)
		return cli_fail(CLI_EXIT_ERROR, "cannot create %s: %m", tmp);
	r = write_all(f, tmp, ans.body, ans.len);
	if (r == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		r = cli_fail(CLI_EXIT_ERROR, "cannot write %s: %m", tmp);
	if (fclose(f) != 0 && r == 0)
		r = cli_fail(CLI_EXIT_ERROR, "cannot write %s: %m", tmp);
	if (r == 0 && rename(tmp, out) != 0)
		r = cli_fail(CLI_EXIT_ERROR, "cannot rename %s to %s: %m", tmp,
			     out);
	if (r) {
		unlink(tmp);
		return r;
	}
	if (!c->json)
		printf("backup written to %s (%zu bytes)\n", out, ans.len);
	return 0;
}
