/* cli.h: the loaxa command-line client, shared between its files.
 *
 * loaxa is a client of loaxad's control API only (docs/api.md); it never
 * opens the database. Each command is one entry of the table in loaxa.c
 * (words, handler, help) and sends one HTTP request, except the lists
 * (`households`, `broadcasts`, `deliveries`, `report`, `history`,
 * `replies`, `audit --all`), which follow the
 * API's keyset paging, `invite`/`notify`, which ask for a preview first,
 * `user passwd`, which asks who you are first (GET /v1/me), and `watch`,
 * which asks again every interval.
 *
 *   loaxa.c           arguments, the command table, help, `status`
 *   client.c          the HTTP client (libcurl easy) and error reporting
 *   output.c          a bounded string buffer, display width, tables
 *   cmd-groups.c      groups, group show/add/rename/remove
 *   cmd-households.c  households, household show/add/edit/remove, opt-out/in
 *   cmd-import.c      import, export
 *   cmd-broadcasts.c  invite, notify, broadcasts, show, cancel, pause,
 *                     resume, retry, deliveries
 *   cmd-watch.c       watch: a broadcast's progress, live, until it is done
 *   cmd-report.c      report: the per-household list of a broadcast
 *   cmd-history.c     history: what a household was sent and answered;
 *                     replies: the households' feedback and RSVPs
 *   cmd-user.c        user add/list/show/set/passwd/disable/enable/token/
 *                     tokens/revoke, whoami, approve, reject, audit, log
 *
 * Glossary: an "answer" is loaxad's HTTP response; "--json mode" prints the
 * answer's JSON as-is (pretty-printed) instead of human tables.
 */
#ifndef LOAXA_CLI_H
#define LOAXA_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "loaxa/util.h"

#ifdef __has_include
#if __has_include("config-build.h")
#include "config-build.h"
#endif
#endif
#ifndef LOAXA_VERSION
#define LOAXA_VERSION "unknown"
#endif

#define CLI_DEFAULT_SOCKET "/run/loaxa/api.sock"
/* Bound on any answer, on an import file and on an export. */
#define CLI_MAX_ANSWER (256u * 1024u * 1024u)
#define CLI_TIMEOUT_MS 30000L          /* ordinary requests */
#define CLI_TIMEOUT_LONG_MS 120000L    /* import and export */
#define CLI_CONNECT_TIMEOUT_MS 5000L
#define CLI_MAX_POS 4                  /* positional arguments */

/* Exit status (documented in loaxa(1)). */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_ERROR = 1,       /* loaxad answered an error (or a local
				     write failed) */
	CLI_EXIT_USAGE = 2,       /* bad arguments, unreadable input file */
	CLI_EXIT_UNREACHABLE = 3, /* cannot reach loaxad */
	CLI_EXIT_REJECTED = 4,    /* import done, some rows rejected */
};

/* Command options (global options are handled in loaxa.c alone). */
enum cli_opt {
	OPT_GROUP,
	OPT_SEARCH,
	OPT_OPTED_OUT,
	OPT_ACTIVE,
	OPT_LIMIT,
	OPT_NAME,
	OPT_PHONE,
	OPT_ADDRESS,
	OPT_ZALO_ID,
	OPT_PSID,
	OPT_NOTE,
	OPT_CLEAR,
	OPT_FORCE,
	OPT_DRY_RUN,
	OPT_OUTPUT,
	OPT_TITLE,
	OPT_AT,
	OPT_PLACE,
	OPT_AGENDA,
	OPT_BODY,
	OPT_BODY_FILE,
	OPT_ALL,
	OPT_REMIND,
	OPT_SEND_AT,
	OPT_EXPIRES,
	OPT_URGENT,
	OPT_KEY,
	OPT_YES,
	OPT_PREVIEW,
	OPT_STATE,
	OPT_STATUS,
	OPT_CHANNEL,
	OPT_INTERVAL,
	OPT_NOT_REACHED,
	OPT_CSV,
	OPT_BROADCAST,
	OPT_RSVP,
	/* user, approve, reject, audit, log */
	OPT_ROLE,
	OPT_USER_GROUP,           /* "--group" of a manager: a group code */
	OPT_DISPLAY_NAME,
	OPT_UNIX_USER,
	OPT_UID,
	OPT_NO_UNIX_USER,
	OPT_PASSWORD_STDIN,
	OPT_PASSWORD_PROMPT,
	OPT_LABEL,
	OPT_REASON,
	OPT_AUDIT_LIMIT,          /* "--limit" of audit */
	OPT_AUDIT_ALL,            /* "--all" of audit */
	OPT_LEVEL,
	OPT_DEBUG,
	_OPT_MAX,
};
#define OPT(o) (UINT64_C(1) << (o))
_Static_assert(_OPT_MAX <= 64, "option masks are uint64_t");

struct cli_optval {
	enum cli_opt id;
	const char *value;        /* "" for a flag */
};

/* A command's parsed arguments, in command-line order. */
struct cli_args {
	const char *pos[CLI_MAX_POS];
	size_t npos;
	struct cli_optval *opts;
	size_t nopts;
};

/* The last value given for an option, or NULL. */
const char *cli_args_get(const struct cli_args *a, enum cli_opt id);
size_t cli_args_count(const struct cli_args *a, enum cli_opt id);

struct cli;
struct client;
struct sbuf;

struct cli_command {
	const char *words[2];     /* words[1] NULL for one-word commands */
	const char *args;         /* positional arguments, for the overview */
	const char *synopsis;     /* all arguments, for the usage line */
	const char *summary;
	const char *request;      /* "METHOD /path", shown in help */
	unsigned min_pos, max_pos;
	uint64_t opts;            /* OPT() mask of accepted options */
	uint64_t repeat;          /* OPT() mask of options that may be given
				     more than once here (besides those
				     repeatable everywhere) */
	int (*run)(struct cli *c, const struct cli_args *a);
};

/* The invocation: global options resolved against the environment. */
struct cli {
	const char *socket_path;  /* NULL when url is used */
	char *url;                /* base URL, no trailing '/'; or NULL */
	const char *token_file;   /* --token-file or LOAXA_TOKEN_FILE */
	bool token_env;           /* the token is LOAXA_TOKEN's value */
	bool json;
	const struct cli_command *cmd;
	struct client *client;    /* created on the first request */
	char error_code[64];      /* code of the last error answer, or "" */
};

/* Print "loaxa: <message>" to stderr and return code. */
int cli_fail(int code, const char *fmt, ...) _printf_(2, 3);
/* A usage error of the current command: specific message plus a one-line
 * pointer to its --help. Returns CLI_EXIT_USAGE. */
int cli_usage(const struct cli *c, const char *fmt, ...) _printf_(2, 3);
/* A decimal number up to max, digits only (no sign, no blanks). */
bool cli_parse_u64(const char *s, uint64_t max, uint64_t *ret);
/* A household id argument: a positive decimal integer. Returns 0 or prints
 * a usage error and returns CLI_EXIT_USAGE. */
int cli_parse_id(const struct cli *c, const char *s, int64_t *ret);
/* The same for the id of a what ("broadcast": "invalid broadcast id ...,
 * as shown by 'loaxa broadcasts'"). */
int cli_parse_id_of(const struct cli *c, const char *s, const char *what,
		    int64_t *ret);
/* --limit N within 1..max; 0 in *ret when not given. Returns 0 or prints a
 * usage error and returns CLI_EXIT_USAGE. */
int cli_parse_limit(const struct cli *c, const struct cli_args *a,
		    int64_t max, int64_t *ret);
/* body[key] = value (nothing when value is NULL); a value that is not
 * UTF-8 is a usage error naming option. Returns 0 or an exit code. */
int cli_set_string(const struct cli *c, json_t *body, const char *key,
		   const char *value, const char *option);
/* body[key] = every value of the repeatable option id, in order (an
 * empty array when none); as cli_set_string. */
int cli_set_list(const struct cli *c, const struct cli_args *a,
		 json_t *body, const char *key, enum cli_opt id,
		 const char *option);
/* Print the answer's JSON for --json mode; returns an exit code. */
int cli_print_json(const json_t *root);
/* Print {"key": list} for --json mode; returns an exit code. */
int cli_print_list(const char *key, json_t *list);
/* True if the command table has "w0 [w1]" (w1 NULL: a one-word command). */
bool cli_command_exists(const char *w0, const char *w1);

/* ---- client.c ---- */

struct client_answer {
	long status;
	char *body;               /* NUL-terminated (not counted in len) */
	size_t len;
	char *content_type;       /* or NULL */
};
void client_answer_clear(struct client_answer *a);

struct client *client_free(struct client *cl);

/* Send one request to loaxad; path starts with "/v1/" and carries the
 * already-escaped query. body may be NULL. On success (any HTTP status)
 * fills *ret and returns 0; otherwise prints why and returns
 * CLI_EXIT_UNREACHABLE (no answer) or CLI_EXIT_ERROR (answer too large,
 * out of memory). */
int client_request(struct cli *c, const char *method, const char *path,
		   const char *content_type, const void *body, size_t len,
		   long timeout_ms, struct client_answer *ret);
/* The same with one more request header, "Name: value" (or NULL); the
 * caller makes sure it holds no line break. */
int client_request_hdr(struct cli *c, const char *method, const char *path,
		       const char *header, const char *content_type,
		       const void *body, size_t len, long timeout_ms,
		       struct client_answer *ret);

/* Parse a 2xx answer into its JSON object (*ret_root NULL for an empty
 * body unless want_object), or report an error answer. Returns an exit
 * code; on an error answer, c->error_code holds the API's code. */
int client_answer_json(struct cli *c, const struct client_answer *a,
		       bool want_object, json_t **ret_root);

/* client_request + client_answer_json with a JSON request body (or NULL),
 * the ordinary timeout, and an object expected unless the method is
 * DELETE. */
int client_call(struct cli *c, const char *method, const char *path,
		const json_t *body, json_t **ret_root);

/* Print the error carried by an answer with status >= 400 ("loaxa:
 * message" plus one line per field error; the answer's JSON on stdout in
 * --json mode). Returns CLI_EXIT_ERROR. */
int client_report_error(struct cli *c, const struct client_answer *a);
/* "loaxa: unexpected answer from loaxad (HTTP n): what"; returns
 * CLI_EXIT_ERROR. */
int client_unexpected(long status, const char *what);

/* The cursor by which a list answer names its next page (docs/api.md:
 * keyset paging). */
enum client_cursor {
	CLIENT_AFTER_ID,          /* "next_after", sent back as "after": an
				     id, larger on each page */
	CLIENT_BEFORE_ID,         /* "next_before", sent back as "before":
				     an id, smaller on each page */
	CLIENT_AFTER_KEY,         /* "next_after", sent back as "after": an
				     opaque text, another on each page */
};
#define CLIENT_MAX_PAGES 100000   /* a bound on a looping server */

/* GET path, which must answer an object holding the array list_key:
 * *ret_root is the answer, *ret_list (unless NULL) its list. Returns 0 or
 * an exit code. */
int client_get_list(struct cli *c, const char *path, const char *list_key,
		    json_t **ret_root, json_t **ret_list);
/* client_get_list for one page of a paged list (path holds its query
 * without the cursor); *ret_more (unless NULL) tells whether the answer
 * names a next page. */
int client_get_page(struct cli *c, const char *path, const char *list_key,
		    enum client_cursor cursor, json_t **ret_root,
		    bool *ret_more);
/* GET every page of a list, from path on, following the cursor until it is
 * null: *ret_list holds the items of all pages in order and *ret_last
 * (unless NULL) the last answer. A cursor that does not move on, or more
 * than CLIENT_MAX_PAGES pages, is an error. Returns 0 or an exit code. */
int client_get_all(struct cli *c, const char *path, const char *list_key,
		   enum client_cursor cursor, json_t **ret_list,
		   json_t **ret_last);

/* Show a list: one page (--limit) as the answer came in --json mode, else
 * print(list) and, when it names a next page, client_more_hint; or every
 * page, as {list_key: [...]} in --json mode, else print(list). Returns an
 * exit code. */
int client_show_list(struct cli *c, const char *path, const char *list_key,
		     enum client_cursor cursor, bool one_page,
		     int (*print)(const json_t *list));
/* "(more <list_key>: raise --limit, ...)" on stderr. */
void client_more_hint(const char *list_key);

/* Append "?key=value" or "&key=value" to path, the value URL-encoded.
 * Returns 0 or an exit code. */
int client_query_add(struct cli *c, struct sbuf *path, const char *key,
		     const char *value);
/* path = "/v1/<what>s/<id><suffix>", the id parsed from arg as
 * cli_parse_id_of does. Returns 0 or an exit code. */
int client_id_path(const struct cli *c, const char *arg, const char *what,
		   const char *suffix, struct sbuf *path);
/* Append one URL-encoded path segment. Returns 0 or an exit code. */
int client_path_add(struct cli *c, struct sbuf *path, const char *segment);

/* ---- output.c ---- */

/* Growable string with a mandatory maximum; data is always NUL-terminated
 * once anything was appended (sbuf_str() is never NULL). */
struct sbuf {
	char *data;
	size_t len, cap, max;
};
#define SBUF_INIT(m) { .data = NULL, .len = 0, .cap = 0, .max = (m) }
void sbuf_init(struct sbuf *b, size_t max);
void sbuf_free(struct sbuf *b);
/* Returns 0, -ENOMEM, or -E2BIG when max would be exceeded. */
int sbuf_append(struct sbuf *b, const void *p, size_t n);
int sbuf_printf(struct sbuf *b, const char *fmt, ...) _printf_(2, 3);
const char *sbuf_str(const struct sbuf *b);
/* Take the data out (caller frees; never NULL unless out of memory). */
char *sbuf_steal(struct sbuf *b);

/* Decode the code point at s[0..len): its length in bytes, or 0 when the
 * bytes there are not well-formed UTF-8 (or len is 0). */
size_t out_utf8_decode(const char *s, size_t len, uint32_t *ret_cp);
/* True if s[0..len) is well-formed UTF-8; else *ret_bad is the offset of
 * the first bad byte. */
bool out_utf8_valid(const char *s, size_t len, size_t *ret_bad);
/* Terminal columns of s: code points, with combining marks U+0300..U+036F
 * zero wide; each invalid byte counts one. */
size_t out_width(const char *s);
/* Copy of s safe for a terminal: tabs and line breaks become spaces, other
 * control characters, bidi overrides and invalid bytes become '?'. NULL
 * only when out of memory. */
char *out_clean(const char *s);
/* Print s (NULL: "") cleaned by out_clean, or "?" when out of memory. */
void out_put_clean(FILE *f, const char *s);
/* A JSON value as display text: strings as-is, numbers in decimal, true and
 * false as yes/no, null (or a missing value) as null_text, arrays of
 * scalars joined with ", ", anything else as compact JSON. NULL only when
 * out of memory. */
char *out_value(const json_t *v, const char *null_text);
/* A *_ms timestamp as local "YYYY-MM-DD HH:MM:SS"; otherwise as
 * out_value. */
char *out_time_ms(const json_t *v, const char *null_text);
/* Copy of s cut to at most width columns (out_width), ending in "…" when
 * cut; combining marks stay with their letter. NULL only when out of
 * memory or width is 0. */
char *out_truncate(const char *s, size_t width);

/* An aligned text table: columns separated by two spaces, padded by
 * display width, the last column unpadded. Cells are cleaned copies. */
struct out_table;
/* headers may be NULL (no header line, e.g. "key:  value" blocks). */
struct out_table *out_table_new(size_t ncols, const char *const *headers);
struct out_table *out_table_free(struct out_table *t);
void out_table_align_right(struct out_table *t, size_t col);
/* cells: ncols strings (NULL prints as empty). Returns 0 or -ENOMEM. */
int out_table_add(struct out_table *t, const char *const *cells);
size_t out_table_rows(const struct out_table *t);
void out_table_print(const struct out_table *t, FILE *f);

static inline void out_table_freep(struct out_table **t)
{
	out_table_free(*t);
}
#define _cleanup_table_ _cleanup_(out_table_freep)
#define _cleanup_json_ _cleanup_(json_decrefp)

static inline void sbuf_freep(struct sbuf *b)
{
	sbuf_free(b);
}
#define _cleanup_sbuf_ _cleanup_(sbuf_freep)

static inline void client_answer_clearp(struct client_answer *a)
{
	client_answer_clear(a);
}
#define _cleanup_answer_ _cleanup_(client_answer_clearp)

/* ---- cmd-broadcasts.c, shared with watch and report ---- */

/* A broadcast id argument: a positive decimal integer. Returns 0 or prints
 * a usage error and returns CLI_EXIT_USAGE. */
int broadcast_parse_id(const struct cli *c, const char *s, int64_t *ret);
/* The path of a broadcast's deliveries, limit a page, filtered by
 * --status, --group and --channel. Returns 0 or an exit code. */
int broadcast_deliveries_path(struct cli *c, const struct cli_args *a,
			      int64_t id, int64_t limit, struct sbuf *path);
/* Print a broadcast's "counts" as a table of every status, zeros
 * included, under "Deliveries by status:". Returns 0 or an exit code. */
int broadcast_print_counts(const json_t *b);
/* Print its member "by_group" or "by_channel" as a table titled title,
 * first column first. Returns 0 or an exit code. */
int broadcast_print_breakdown(const json_t *b, const char *member,
			      const char *title, const char *first);

/* ---- command handlers ---- */

int cmd_status(struct cli *c, const struct cli_args *a);
int cmd_groups(struct cli *c, const struct cli_args *a);
int cmd_group_show(struct cli *c, const struct cli_args *a);
int cmd_group_add(struct cli *c, const struct cli_args *a);
int cmd_group_rename(struct cli *c, const struct cli_args *a);
int cmd_group_remove(struct cli *c, const struct cli_args *a);
int cmd_households(struct cli *c, const struct cli_args *a);
int cmd_household_show(struct cli *c, const struct cli_args *a);
int cmd_household_add(struct cli *c, const struct cli_args *a);
int cmd_household_edit(struct cli *c, const struct cli_args *a);
int cmd_household_remove(struct cli *c, const struct cli_args *a);
int cmd_opt_out(struct cli *c, const struct cli_args *a);
int cmd_opt_in(struct cli *c, const struct cli_args *a);
int cmd_import(struct cli *c, const struct cli_args *a);
int cmd_export(struct cli *c, const struct cli_args *a);
int cmd_backup(struct cli *c, const struct cli_args *a);
int cmd_invite(struct cli *c, const struct cli_args *a);
int cmd_notify(struct cli *c, const struct cli_args *a);
int cmd_broadcasts(struct cli *c, const struct cli_args *a);
int cmd_broadcast_show(struct cli *c, const struct cli_args *a);
int cmd_broadcast_cancel(struct cli *c, const struct cli_args *a);
int cmd_broadcast_pause(struct cli *c, const struct cli_args *a);
int cmd_broadcast_resume(struct cli *c, const struct cli_args *a);
int cmd_broadcast_retry(struct cli *c, const struct cli_args *a);
int cmd_deliveries(struct cli *c, const struct cli_args *a);
int cmd_watch(struct cli *c, const struct cli_args *a);
int cmd_report(struct cli *c, const struct cli_args *a);
int cmd_history(struct cli *c, const struct cli_args *a);
int cmd_replies(struct cli *c, const struct cli_args *a);
int cmd_user_add(struct cli *c, const struct cli_args *a);
int cmd_user_list(struct cli *c, const struct cli_args *a);
int cmd_user_show(struct cli *c, const struct cli_args *a);
int cmd_user_set(struct cli *c, const struct cli_args *a);
int cmd_user_passwd(struct cli *c, const struct cli_args *a);
int cmd_user_disable(struct cli *c, const struct cli_args *a);
int cmd_user_enable(struct cli *c, const struct cli_args *a);
int cmd_user_token(struct cli *c, const struct cli_args *a);
int cmd_user_tokens(struct cli *c, const struct cli_args *a);
int cmd_user_revoke(struct cli *c, const struct cli_args *a);
int cmd_whoami(struct cli *c, const struct cli_args *a);
int cmd_approve(struct cli *c, const struct cli_args *a);
int cmd_reject(struct cli *c, const struct cli_args *a);
int cmd_audit(struct cli *c, const struct cli_args *a);
int cmd_log(struct cli *c, const struct cli_args *a);

#endif
