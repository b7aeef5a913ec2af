/* cmd-user.c: user accounts and their API tokens (user ...), whoami, the
 * second official's approve/reject, the audit log, and the log level.
 *
 * Passwords come from the first line of stdin (--password-stdin) or from
 * the terminal with echo off (--password-prompt; /dev/tty, so a pipe on
 * stdin does not matter). They are read byte by byte with read(2), so
 * nothing is left in stdio buffers or read past the line, and every copy
 * this file holds is wiped before it is freed. A new token is printed
 * alone on stdout (to be redirected into a --token-file) and the note that
 * it cannot be shown again goes to stderr.
 *
 * A unix user is sent to loaxad as a uid: --unix-user LOGIN is looked up
 * in this machine's passwd, and uids are shown with their login name only
 * over the unix socket (over --url the machine may be another).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <strings.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define PASSWORD_MAX 4096         /* bytes read; loaxad takes <= 1024 */

static int oom(void)
{
	return cli_fail(CLI_EXIT_ERROR, "out of memory");
}

static const char *member(const json_t *o, const char *key,
			  const char *fallback)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : fallback;
}

/* ---- secrets ---- */

static void secret_freep(char **p)
{
	if (*p) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
	}
}
#define _cleanup_secret_ _cleanup_(secret_freep)

/* One line from fd, without its "\n" (and a "\r" before it). Returns 0,
 * -ENODATA at end of input before anything was read, -E2BIG for a line
 * longer than PASSWORD_MAX, -ENOMEM, or -errno of read. */
static int line_read(int fd, char **ret)
{
	char *buf = malloc(PASSWORD_MAX + 1);
	size_t n = 0;
	bool eof = false;
	ssize_t k;
	char ch;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		k = read(fd, &ch, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int r = -errno;

			explicit_bzero(buf, PASSWORD_MAX + 1);
			free(buf);
			return r;
		}
		if (k == 0) {
			eof = true;
			break;
		}
		if (ch == '\n')
			break;
		if (n == PASSWORD_MAX) {
			explicit_bzero(buf, PASSWORD_MAX + 1);
			free(buf);
			return -E2BIG;
		}
		buf[n++] = ch;
	}
	if (eof && n == 0) {
		free(buf);
		return -ENODATA;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*ret = buf;
	return 0;
}

static int stdin_password(const char *what, char **ret)
{
	int r = line_read(STDIN_FILENO, ret);

	if (r == -ENODATA)
		return cli_fail(CLI_EXIT_USAGE, "--password-stdin: no %s on "
				"standard input", what);
	if (r == -E2BIG)
		return cli_fail(CLI_EXIT_USAGE, "--password-stdin: the %s is "
				"longer than %d bytes", what, PASSWORD_MAX);
	if (r == -ENOMEM)
		return oom();
	if (r < 0) {
		errno = -r;
		return cli_fail(CLI_EXIT_USAGE, "--password-stdin: cannot "
				"read standard input: %m");
	}
	if (!(*ret)[0]) {
		secret_freep(ret);
		*ret = NULL;
		return cli_fail(CLI_EXIT_USAGE, "--password-stdin: the %s on "
				"standard input is empty", what);
	}
	return 0;
}

/* The terminal while echo is off, for the signal handler to restore. */
static volatile sig_atomic_t tty_saved_fd = -1;
static struct termios tty_saved;
static const int tty_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT,
				   SIGTSTP };

static void tty_signal_cb(int sig)
{
	int saved = errno;

	if (tty_saved_fd >= 0)
		tcsetattr(tty_saved_fd, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved;
}

/* Ask one line on the terminal fd with echo off. */
static int tty_ask(int fd, const char *prompt, char **ret)
{
	struct sigaction sa = { .sa_handler = tty_signal_cb }, old[5];
	struct termios quiet;
	size_t i;
	int r;

	_Static_assert(ARRAY_SIZE(old) == ARRAY_SIZE(tty_signals),
		       "one saved action per signal");
	if (tcgetattr(fd, &tty_saved) < 0)
		return -errno;
	quiet = tty_saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	quiet.c_lflag |= ECHONL | ICANON;

	sigemptyset(&sa.sa_mask);
	for (i = 0; i < ARRAY_SIZE(tty_signals); i++)
		sigaction(tty_signals[i], &sa, &old[i]);
	tty_saved_fd = fd;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0) {
		r = -errno;
	} else {
		if (write(fd, prompt, strlen(prompt)) < 0)
			r = -errno;
		else
			r = line_read(fd, ret);
		tcsetattr(fd, TCSAFLUSH, &tty_saved);
	}
	tty_saved_fd = -1;
	for (i = 0; i < ARRAY_SIZE(tty_signals); i++)
		sigaction(tty_signals[i], &old[i], NULL);
	return r;
}

/* Ask for a password on /dev/tty; twice when confirm. */
static int prompt_password(const char *prompt, bool confirm, char **ret)
{
	_cleanup_secret_ char *first = NULL, *again = NULL;
	int fd, r;

	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return cli_fail(CLI_EXIT_USAGE, "cannot ask for the password: "
				"no terminal (%m); use --password-stdin");
	r = tty_ask(fd, prompt, &first);
	if (r == 0 && confirm && first[0])
		r = tty_ask(fd, "Again: ", &again);
	close(fd);
	if (r == -ENODATA)
		return cli_fail(CLI_EXIT_USAGE, "no password given");
	if (r == -E2BIG)
		return cli_fail(CLI_EXIT_USAGE, "the password is longer than "
				"%d bytes", PASSWORD_MAX);
	if (r == -ENOMEM)
		return oom();
	if (r < 0) {
		errno = -r;
		return cli_fail(CLI_EXIT_USAGE, "cannot ask for the password "
				"on the terminal: %m; use --password-stdin");
	}
	if (!first[0])
		return cli_fail(CLI_EXIT_USAGE, "empty password: nothing "
				"done");
	if (confirm && !streq(first, again))
		return cli_fail(CLI_EXIT_USAGE, "the two passwords differ: "
				"nothing done");
	*ret = TAKE_PTR(first);
	return 0;
}

/* Send body (which may hold a password) and wipe its text afterwards. */
static int call_secret(struct cli *c, const char *method, const char *path,
		       const json_t *body, json_t **ret_root)
{
	_cleanup_answer_ struct client_answer a = { 0 };
	char *text;
	size_t len;
	int r;

	text = json_dumps(body, JSON_COMPACT);
	if (!text)
		return oom();
	len = strlen(text);
	r = client_request(c, method, path, "application/json", text, len,
			   CLI_TIMEOUT_MS, &a);
	explicit_bzero(text, len);
	free(text);
	if (r)
		return r;
	return client_answer_json(c, &a, true, ret_root);
}

/* ---- arguments ---- */

/* The rule of users.h: 1..64 of [A-Za-z0-9._-], not starting with '-' or
 * '.'. loaxad checks it too; here it gives a usage error before asking
 * for a password. */
static bool name_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64 || s[0] == '-' || s[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._-", s[i])))
			return false;
	return true;
}

static int role_check(const struct cli *c, const char *role)
{
	if (streq(role, "admin") || streq(role, "official") ||
	    streq(role, "manager"))
		return 0;
	return cli_usage(c, "unknown role '%s': expected admin, official or "
			 "manager", role);
}

/* "/v1/users/<name>" */
static int user_path(struct cli *c, struct sbuf *path, const char *name)
{
	if (sbuf_printf(path, "/v1/users") < 0)
		return oom();
	return client_path_add(c, path, name);
}

/* Put "groups" (every --group, in order) into body when any is given. */
static int set_groups(const struct cli_args *a, json_t *body)
{
	json_t *list;
	size_t i;

	if (!cli_args_count(a, OPT_USER_GROUP))
		return 0;
	list = json_array();
	if (!list || json_object_set_new(body, "groups", list) < 0)
		return oom();
	for (i = 0; i < a->nopts; i++)
		if (a->opts[i].id == OPT_USER_GROUP &&
		    json_array_append_new(list,
					  json_string(a->opts[i].value)) < 0)
			return cli_fail(CLI_EXIT_USAGE, "--group '%s' is not "
					"valid UTF-8", a->opts[i].value);
	return 0;
}

/* --unix-user LOGIN, --uid N or --no-unix-user into "unix_uid". */
static int set_unix_uid(const struct cli *c, const struct cli_args *a,
			json_t *body)
{
	const char *login = cli_args_get(a, OPT_UNIX_USER);
	const char *uid = cli_args_get(a, OPT_UID);
	bool none = cli_args_get(a, OPT_NO_UNIX_USER);
	uint64_t v;
	json_t *j;

	if ((login != NULL) + (uid != NULL) + none > 1)
		return cli_usage(c, "--unix-user, --uid and --no-unix-user "
				 "exclude each other");
	if (none) {
		j = json_null();
	} else if (login) {
		struct passwd *pw;

		errno = 0;
		pw = getpwnam(login);
		if (!pw)
			return cli_usage(c, "no unix user '%s' on this machine "
					 "(give its number with --uid N)",
					 login);
		j = json_integer((json_int_t)pw->pw_uid);
	} else if (uid) {
		if (!cli_parse_u64(uid, UINT32_MAX - 1, &v))
			return cli_usage(c, "invalid --uid '%s' (expected a "
					 "number, as shown by 'id -u LOGIN')",
					 uid);
		j = json_integer((json_int_t)v);
	} else {
		return 0;
	}
	if (!j || json_object_set_new(body, "unix_uid", j) < 0)
		return oom();
	return 0;
}

static int set_string(const struct cli *c, json_t *body, const char *key,
		      const char *value, const char *option)
{
	json_t *j;

	if (!value)
		return 0;
	j = json_string(value);
	if (!j)
		return cli_usage(c, "%s must be valid UTF-8", option);
	if (json_object_set_new(body, key, j) < 0)
		return oom();
	return 0;
}

/* ---- display ---- */

/* "2025-11-28T10:00:00Z" (fraction and +hh:mm allowed) as local time;
 * anything else as it is. */
static char *iso_local(const char *s)
{
	int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0;
	struct tm tm = { 0 };
	const char *p;
	char text[64];
	long off = 0;
	time_t t;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
		   &n) != 6 || n == 0)
		return strdup(s);
	p = s + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z' && !p[1]) {
		off = 0;
	} else if ((*p == '+' || *p == '-') &&
		   (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) == 2 ||
		    sscanf(p + 1, "%2d%2d%n", &oh, &om, &n) == 2) &&
		   !p[1 + n]) {
		off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
	} else {
		return strdup(s);
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return strdup(s);
	t -= off;
	if (!localtime_r(&t, &tm) ||
	    strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return strdup(s);
	return strdup(text);
}

/* A time member: "<key>_ms" or "<key>" as milliseconds, or "<key>" as an
 * ISO 8601 string; null_text when absent or null. */
static char *time_cell(const json_t *o, const char *key, const char *null_text)
{
	char k[64];
	const json_t *v;

	snprintf(k, sizeof(k), "%s_ms", key);
	v = json_object_get(o, k);
	if (!json_is_integer(v))
		v = json_object_get(o, key);
	if (json_is_string(v))
		return iso_local(json_string_value(v));
	return out_time_ms(v, null_text);
}

static char *unix_cell(const struct cli *c, const json_t *u)
{
	const json_t *v = json_object_get(u, "unix_uid");
	struct passwd *pw = NULL;
	json_int_t uid;
	char *s;

	if (!json_is_integer(v))
		return strdup("-");
	uid = json_integer_value(v);
	if (c->socket_path && uid >= 0 && uid < (json_int_t)UINT32_MAX)
		pw = getpwuid((uid_t)uid);
	if (pw && asprintf(&s, "%s (%" JSON_INTEGER_FORMAT ")", pw->pw_name,
			   uid) >= 0)
		return s;
	if (!pw && asprintf(&s, "uid %" JSON_INTEGER_FORMAT, uid) >= 0)
		return s;
	return NULL;
}

/* A manager's groups; "all" for the roles that act on every group. */
static char *groups_cell(const json_t *u)
{
	const json_t *g = json_object_get(u, "groups");
	const char *role = member(u, "role", "");

	if ((streq(role, "admin") || streq(role, "official")) &&
	    (!json_is_array(g) || json_array_size(g) == 0))
		return strdup("all");
	if (json_is_array(g) && json_array_size(g) == 0)
		return strdup("-");
	return out_value(g, "-");
}

static const char *yes_no(const json_t *u, const char *key)
{
	const json_t *v = json_object_get(u, key);

	return json_is_boolean(v) ? (json_is_true(v) ? "yes" : "no") : "?";
}

static int print_user(const struct cli *c, const json_t *u)
{
	_cleanup_table_ struct out_table *t = out_table_new(2, NULL);
	_cleanup_free_ char *name = NULL, *display = NULL, *role = NULL,
			    *groups = NULL, *unix_user = NULL, *created = NULL;

	name = out_value(json_object_get(u, "name"), "?");
	display = out_value(json_object_get(u, "display_name"), "");
	role = out_value(json_object_get(u, "role"), "?");
	groups = groups_cell(u);
	unix_user = unix_cell(c, u);
	created = time_cell(u, "created", "-");
	if (!t || !name || !display || !role || !groups || !unix_user ||
	    !created ||
	    out_table_add(t, (const char *[]){ "name:", name }) < 0 ||
	    out_table_add(t, (const char *[]){ "display name:",
					       display }) < 0 ||
	    out_table_add(t, (const char *[]){ "role:", role }) < 0 ||
	    out_table_add(t, (const char *[]){ "groups:", groups }) < 0 ||
	    out_table_add(t, (const char *[]){ "unix user:", unix_user }) < 0 ||
	    out_table_add(t, (const char *[]){
		    "password:", yes_no(u, "has_password") }) < 0 ||
	    out_table_add(t, (const char *[]){
		    "disabled:", yes_no(u, "disabled") }) < 0 ||
	    out_table_add(t, (const char *[]){ "created:", created }) < 0)
		return oom();
	out_table_print(t, stdout);
	return CLI_EXIT_OK;
}

/* ---- user list, show ---- */

int cmd_user_list(struct cli *c, _unused_ const struct cli_args *a)
{
	static const char *const headers[] = {
		"NAME", "ROLE", "GROUPS", "UNIX USER", "DISABLED", "PASSWORD",
	};
	_cleanup_json_ json_t *root = NULL;
	_cleanup_table_ struct out_table *t = NULL;
	json_t *users;
	const json_t *u;
	size_t i;
	int r;

	r = client_get_list(c, "/v1/users", "users", &root, &users);
	if (r)
		return r;
	if (c->json)
		return cli_print_json(root);

	t = out_table_new(ARRAY_SIZE(headers), headers);
	if (!t)
		return oom();
	json_array_foreach(users, i, u) {
		_cleanup_free_ char *name = NULL, *role = NULL, *groups = NULL,
				    *unix_user = NULL;

		name = out_value(json_object_get(u, "name"), "?");
		role = out_value(json_object_get(u, "role"), "?");
		groups = groups_cell(u);
		unix_user = unix_cell(c, u);
		if (!name || !role || !groups || !unix_user ||
		    out_table_add(t, (const char *[]){
			    name, role, groups, unix_user,
			    yes_no(u, "disabled"),
			    yes_no(u, "has_password") }) < 0)
			return oom();
	}
	if (out_table_rows(t) == 0) {
		fprintf(stderr, "No user accounts yet: add one with 'loaxa "
				"user add NAME --role admin|official|"
				"manager'.\n");
		return CLI_EXIT_OK;
	}
	out_table_print(t, stdout);
	return CLI_EXIT_OK;
}

int cmd_user_show(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(64 * 1024);
	_cleanup_json_ json_t *root = NULL;
	int r;

	r = user_path(c, &path, a->pos[0]);
	r = r ? r : client_call(c, "GET", sbuf_str(&path), NULL, &root);
	if (r)
		return r;
	if (c->json)
		return cli_print_json(root);
	return print_user(c, root);
}

int cmd_whoami(struct cli *c, _unused_ const struct cli_args *a)
{
	_cleanup_json_ json_t *root = NULL;
	_cleanup_free_ char *approval = NULL;
	const json_t *u;
	int r;

	r = client_call(c, "GET", "/v1/me", NULL, &root);
	if (r)
		return r;
	u = json_object_get(root, "user");
	if (!json_is_object(u))
		return client_unexpected(200, "no \"user\" object");
	if (c->json)
		return cli_print_json(root);
	r = print_user(c, u);
	if (r)
		return r;
	approval = out_value(json_object_get(root, "approval"), "");
	if (!approval)
		return oom();
	if (approval[0]) {
		fputs("\nBroadcasts that wait for a second official: ", stdout);
		out_put_clean(stdout,
			      streq(approval, "off") ? "none (approval off)"
			      : streq(approval, "urgent-all")
				      ? "urgent notices to every group"
			      : streq(approval, "urgent") ? "urgent notices"
			      : streq(approval, "all") ? "all of them"
			      : approval);
		fputc('\n', stdout);
	}
	return CLI_EXIT_OK;
}

/* ---- user add, set ---- */

int cmd_user_add(struct cli *c, const struct cli_args *a)
{
	_cleanup_json_ json_t *body = NULL, *root = NULL;
	_cleanup_secret_ char *pw = NULL;
	const char *name = a->pos[0];
	const char *role = cli_args_get(a, OPT_ROLE);
	bool from_stdin = cli_args_get(a, OPT_PASSWORD_STDIN);
	bool prompt = cli_args_get(a, OPT_PASSWORD_PROMPT);
	size_t ngroups = cli_args_count(a, OPT_USER_GROUP);
	char text[128];
	int r;

	if (!name_valid(name))
		return cli_usage(c, "invalid user name '%s': use 1 to 64 "
				 "letters (a-z, A-Z), digits, '.', '_' or "
				 "'-', not starting with '.' or '-'", name);
	if (!role)
		return cli_usage(c, "missing --role admin|official|manager");
	r = role_check(c, role);
	if (r)
		return r;
	if (streq(role, "manager") && ngroups == 0)
		return cli_usage(c, "a manager needs at least one --group CODE "
				 "(the groups they keep)");
	if (!streq(role, "manager") && ngroups > 0)
		return cli_usage(c, "--group is for managers only: an %s acts "
				 "on every group", role);
	if (from_stdin && prompt)
		return cli_usage(c, "--password-stdin and --password-prompt "
				 "exclude each other");

	body = json_pack("{s:s, s:s}", "name", name, "role", role);
	if (!body)
		return oom();
	r = set_string(c, body, "display_name",
		       cli_args_get(a, OPT_DISPLAY_NAME), "--display-name");
	r = r ? r : set_groups(a, body);
	r = r ? r : set_unix_uid(c, a, body);
	if (r)
		return r;
	if (from_stdin) {
		r = stdin_password("password", &pw);
	} else if (prompt) {
		snprintf(text, sizeof(text), "Password for %s: ", name);
		r = prompt_password(text, true, &pw);
	}
	if (r)
		return r;
	if (pw && json_object_set_new(body, "password", json_string(pw)) < 0)
		return cli_usage(c, "the password must be valid UTF-8");

	r = pw ? call_secret(c, "POST", "/v1/users", body, &root)
	       : client_call(c, "POST", "/v1/users", body, &root);
	if (r)
		return r;
	if (c->json)
		return cli_print_json(root);
	fputs("created user ", stdout);
	out_put_clean(stdout, member(root, "name", name));
	fputc('\n', stdout);
	r = print_user(c, root);
	if (r)
		return r;
	if (!pw && !json_is_integer(json_object_get(root, "unix_uid"))) {
		fputs("\nNo password and no unix user: give them a token with "
		      "'loaxa user token ", stdout);
		out_put_clean(stdout, member(root, "name", name));
		fputs("' or a password with 'loaxa user passwd ", stdout);
		out_put_clean(stdout, member(root, "name", name));
		fputs("'.\n", stdout);
	}
	return CLI_EXIT_OK;
}

int cmd_user_set(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(64 * 1024);
	_cleanup_json_ json_t *body = NULL, *root = NULL;
	const char *role = cli_args_get(a, OPT_ROLE);
	int r;

	if (role) {
		r = role_check(c, role);
		if (r)
			return r;
		if (!streq(role, "manager") &&
		    cli_args_count(a, OPT_USER_GROUP) > 0)
			return cli_usage(c, "--group is for managers only: an "
					 "%s acts on every group", role);
	}
	body = json_object();
	if (!body)
		return oom();
	r = set_string(c, body, "role", role, "--role");
	r = r ? r : set_string(c, body, "display_name",
			       cli_args_get(a, OPT_DISPLAY_NAME),
			       "--display-name");
	r = r ? r : set_groups(a, body);
	r = r ? r : set_unix_uid(c, a, body);
	if (r)
		return r;
	if (json_object_size(body) == 0)
		return cli_usage(c, "nothing to change: give --role, --group, "
				 "--display-name, --unix-user, --uid or "
				 "--no-unix-user");
	r = user_path(c, &path, a->pos[0]);
	r = r ? r : client_call(c, "PATCH", sbuf_str(&path), body, &root);
	if (r)
		return r;
	if (c->json)
		return cli_print_json(root);
	fputs("changed user ", stdout);
	out_put_clean(stdout, member(root, "name", a->pos[0]));
	fputc('\n', stdout);
	return print_user(c, root);
}

/* ---- user passwd, disable, enable ---- */

/* Whether NAME is the one asking: a user of its own (not the system admin
 * of the socket or the [api] token), for the old password. */
static int is_self(struct cli *c, const char *name, bool *ret)
{
	_cleanup_json_ json_t *me = NULL;
	const json_t *u, *id;
	const char *mine;
	int r;

	r = client_call(c, "GET", "/v1/me", NULL, &me);
	if (r)
		return r;
	u = json_object_get(me, "user");
	mine = json_string_value(json_object_get(u, "name"));
	id = json_object_get(u, "id");
	if (!mine)
		return client_unexpected(200, "GET /v1/me: no user name");
	*ret = strcasecmp(mine, name) == 0 &&
	       !(json_is_integer(id) && json_integer_value(id) == 0);
	return 0;
}

int cmd_user_passwd(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(64 * 1024);
	_cleanup_json_ json_t *body = NULL, *root = NULL;
	_cleanup_secret_ char *old = NULL, *pw = NULL;
	bool from_stdin = cli_args_get(a, OPT_PASSWORD_STDIN), self = false;
	const char *name = a->pos[0];
	char text[128];
	int r;

	r = is_self(c, name, &self);
	if (r)
		return r;
	if (self && from_stdin) {
		r = stdin_password("old password (first line)", &old);
		r = r ? r : stdin_password("new password (second line)", &pw);
	} else if (from_stdin) {
		r = stdin_password("password", &pw);
	} else {
		if (self)
			r = prompt_password("Current password: ", false, &old);
		snprintf(text, sizeof(text), "New password for %s: ", name);
		r = r ? r : prompt_password(text, true, &pw);
	}
	if (r)
		return r;

	body = json_object();
	if (!body)
		return oom();
	if (json_object_set_new(body, "password", json_string(pw)) < 0 ||
	    (old && json_object_set_new(body, "old_password",
					json_string(old)) < 0))
		return cli_usage(c, "passwords must be valid UTF-8");
	r = user_path(c, &path, name);
	r = r ? r : call_secret(c, "PATCH", sbuf_str(&path), body, &root);
	if (r)
		return r;
	if (c->json)
		return cli_print_json(root);
	fputs("changed the password of ", stdout);
	out_put_clean(stdout, member(root, "name", name));
	fputs(" (their console sessions were ended)\n", stdout);
	return CLI_EXIT_OK;
}

static int set_disabled(struct cli *c, const struct cli_args *a,
			bool disabled)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(64 * 1024);
	_cleanup_json_ json_t *body = NULL, *root = NULL;
	int r;

	body = json_pack("{s:b}", "disabled", disabled);
	if (!body)
		return oom();
	r = user_path(c, &path, a->pos[0]);
	r = r ? r : client_call(c, "PATCH", sbuf_str(&path), body, &root);
	if (r)
		return r;
	if (c->json)
		return cli_print_json(root);
	fputs("user ", stdout);
	out_put_clean(stdout, member(root, "name", a->pos[0]));
	fputs(disabled ? " is disabled: their tokens and console sessions "
			 "stopped working\n"
		       : " is enabled again\n", stdout);
	return CLI_EXIT_OK;
}

int cmd_user_disable(struct cli *c, const struct cli_args *a)
{
	return set_disabled(c, a, true);
}

int cmd_user_enable(struct cli *c, const struct cli_args *a)
{
	return set_disabled(c, a, false);
}

/* ---- user token, tokens, revoke ---- */

int cmd_user_token(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(64 * 1024);
	_cleanup_json_ json_t *body = NULL, *root = NULL;
	const char *label = cli_args_get(a, OPT_LABEL);
	const char *token;
	_cleanup_free_ char *id = NULL;
	int r;

	body = json_pack("{s:s}", "label", label ? label : "");
	if (!body)
		return cli_usage(c, "--label must be valid UTF-8");
	r = user_path(c, &path, a->pos[0]);
	r = r ? r : (sbuf_printf(&path, "/tokens") < 0 ? oom() : 0);
	r = r ? r : client_call(c, "POST", sbuf_str(&path), body, &root);
	if (r)
		return r;
	token = json_string_value(json_object_get(root, "token"));
	if (!token)
		return client_unexpected(201, "no \"token\"");
	if (c->json)
		return cli_print_json(root);
	id = out_value(json_object_get(root, "id"), "?");
	if (!id)
		return oom();
	/* The token alone on stdout, so that "> FILE" makes a token file;
	 * a token is printable ASCII, put_clean keeps it as is. */
	out_put_clean(stdout, token);
	fputc('\n', stdout);
	fflush(stdout);
	fputs("loaxa: this is token ", stderr);
	out_put_clean(stderr, id);
	fputs(" of ", stderr);
	out_put_clean(stderr, a->pos[0]);
	fputs(": keep it now, it cannot be shown again.\n"
	      "loaxa: use it with LOAXA_TOKEN=... or --token-file FILE; "
	      "revoke it with 'loaxa user revoke ", stderr);
	out_put_clean(stderr, a->pos[0]);
	fputc(' ', stderr);
	out_put_clean(stderr, id);
	fputs("'\n", stderr);
	return CLI_EXIT_OK;
}

int cmd_user_tokens(struct cli *c, const struct cli_args *a)
{
	static const char *const headers[] = {
		"ID", "LABEL", "CREATED", "LAST USED",
	};
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(64 * 1024);
	_cleanup_json_ json_t *root = NULL;
	_cleanup_table_ struct out_table *t = NULL;
	json_t *tokens;
	const json_t *tk;
	size_t i;
	int r;

	r = user_path(c, &path, a->pos[0]);
	r = r ? r : (sbuf_printf(&path, "/tokens") < 0 ? oom() : 0);
	r = r ? r : client_get_list(c, sbuf_str(&path), "tokens", &root,
				    &tokens);
	if (r)
		return r;
	if (c->json)
		return cli_print_json(root);
	t = out_table_new(ARRAY_SIZE(headers), headers);
	if (!t)
		return oom();
	out_table_align_right(t, 0);
	json_array_foreach(tokens, i, tk) {
		_cleanup_free_ char *id = NULL, *label = NULL, *created = NULL,
				    *used = NULL;

		id = out_value(json_object_get(tk, "id"), "?");
		label = out_value(json_object_get(tk, "label"), "");
		created = time_cell(tk, "created", "-");
		used = time_cell(tk, "last_used", "never");
		if (!id || !label || !created || !used ||
		    out_table_add(t, (const char *[]){ id, label, created,
						       used }) < 0)
			return oom();
	}
	if (out_table_rows(t) == 0) {
		fputs("No API tokens: create one with 'loaxa user token ",
		      stderr);
		out_put_clean(stderr, a->pos[0]);
		fputs("'.\n", stderr);
		return CLI_EXIT_OK;
	}
	out_table_print(t, stdout);
	return CLI_EXIT_OK;
}

int cmd_user_revoke(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(64 * 1024);
	_cleanup_json_ json_t *root = NULL;
	uint64_t id;
	int r;

	if (!cli_parse_u64(a->pos[1], INT64_MAX, &id) || id == 0)
		return cli_usage(c, "invalid token id '%s' (expected a "
				 "positive number, as shown by 'loaxa user "
				 "tokens NAME')", a->pos[1]);
	r = user_path(c, &path, a->pos[0]);
	r = r ? r : (sbuf_printf(&path, "/tokens/%" PRIu64, id) < 0 ? oom()
								    : 0);
	r = r ? r : client_call(c, "DELETE", sbuf_str(&path), NULL, &root);
	if (r)
		return r;
	if (c->json)
		return root ? cli_print_json(root) : CLI_EXIT_OK;
	printf("revoked token %" PRIu64 " of ", id);
	out_put_clean(stdout, a->pos[0]);
	fputc('\n', stdout);
	return CLI_EXIT_OK;
}

/* ---- approve, reject ---- */

static int decide(struct cli *c, const struct cli_args *a, const char *verb)
{
	_cleanup_json_ json_t *body = NULL, *root = NULL;
	_cleanup_free_ char *state = NULL;
	const char *reason = cli_args_get(a, OPT_REASON);
	char path[96];
	int64_t id;
	int r;

	r = broadcast_parse_id(c, a->pos[0], &id);
	if (r)
		return r;
	snprintf(path, sizeof(path), "/v1/broadcasts/%" PRId64 "/%s", id,
		 verb);
	if (reason) {
		body = json_pack("{s:s}", "reason", reason);
		if (!body)
			return cli_usage(c, "--reason must be valid UTF-8");
	}
	r = client_call(c, "POST", path, body, &root);
	if (r) {
		if (streq(c->error_code, "same_person"))
			fprintf(stderr, "loaxa: hint: another official or an "
					"admin must run 'loaxa %s %" PRId64
					"'\n", verb, id);
		else if (streq(c->error_code, "state"))
			fprintf(stderr, "loaxa: hint: only a broadcast in "
					"state awaiting_approval can be "
					"%sed: see 'loaxa show %" PRId64
					"'\n", streq(verb, "approve")
						? "approv" : verb, id);
		return r;
	}
	if (c->json)
		return cli_print_json(root);
	state = out_value(json_object_get(root, "state"), "?");
	if (!state)
		return oom();
	printf("broadcast %" PRId64 " %s, now ", id,
	       streq(verb, "approve") ? "approved" : "rejected");
	out_put_clean(stdout, state);
	fputc('\n', stdout);
	return CLI_EXIT_OK;
}

int cmd_approve(struct cli *c, const struct cli_args *a)
{
	return decide(c, a, "approve");
}

int cmd_reject(struct cli *c, const struct cli_args *a)
{
	return decide(c, a, "reject");
}

/* ---- audit ---- */

static int audit_rows(struct out_table *t, const json_t *entries)
{
	const json_t *e;
	size_t i;

	json_array_foreach(entries, i, e) {
		_cleanup_free_ char *at = NULL, *user = NULL, *origin = NULL,
				    *action = NULL, *target = NULL,
				    *status = NULL, *detail = NULL;

		at = time_cell(e, "at", "-");
		user = out_value(json_object_get(e, "user"), "-");
		origin = out_value(json_object_get(e, "origin"), "-");
		action = out_value(json_object_get(e, "action"), "-");
		target = out_value(json_object_get(e, "target"), "");
		status = out_value(json_object_get(e, "status"), "-");
		detail = out_value(json_object_get(e, "detail"), "");
		if (!at || !user || !origin || !action || !target ||
		    !status || !detail ||
		    out_table_add(t, (const char *[]){ at, user, origin,
						       action, target, status,
						       detail }) < 0)
			return oom();
	}
	return 0;
}

int cmd_audit(struct cli *c, const struct cli_args *a)
{
	static const char *const headers[] = {
		"TIME", "USER", "ORIGIN", "ACTION", "TARGET", "STATUS",
		"DETAIL",
	};
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(1024);
	_cleanup_table_ struct out_table *t = NULL;
	_cleanup_json_ json_t *root = NULL, *all = NULL;
	const char *limit = cli_args_get(a, OPT_AUDIT_LIMIT);
	bool every = cli_args_get(a, OPT_AUDIT_ALL);
	bool more = false;
	uint64_t n;
	int r;

	if (limit && (!cli_parse_u64(limit, INT32_MAX, &n) || n == 0))
		return cli_usage(c, "invalid --limit '%s' (expected a positive "
				 "number)", limit);
	t = out_table_new(ARRAY_SIZE(headers), headers);
	if (!t || sbuf_printf(&path, "/v1/audit") < 0)
		return oom();
	out_table_align_right(t, 5);
	r = limit ? client_query_add(c, &path, "limit", limit) : 0;
	if (r)
		return r;
	/* Newest first: --all follows the cursor down. */
	if (every)
		r = client_get_all(c, sbuf_str(&path), "entries",
				   CLIENT_BEFORE_ID, &all, NULL);
	else
		r = client_get_page(c, sbuf_str(&path), "entries",
				    CLIENT_BEFORE_ID, &root, &more);
	if (r)
		return r;
	if (c->json && !every)
		return cli_print_json(root);
	if (c->json) {
		_cleanup_json_ json_t *out = json_pack("{s:O, s:n}",
						       "entries", all,
						       "next_before");

		return out ? cli_print_json(out) : oom();
	}
	r = audit_rows(t, every ? all : json_object_get(root, "entries"));
	if (r)
		return r;
	if (out_table_rows(t) == 0) {
		fprintf(stderr, "The audit log is empty.\n");
		return CLI_EXIT_OK;
	}
	out_table_print(t, stdout);
	if (more)
		fprintf(stderr, "(older entries left out: 'loaxa audit --all' "
				"lists every one)\n");
	return CLI_EXIT_OK;
}

/* ---- log ---- */

/* Every --debug value, split at commas, blanks trimmed; "none" (or an
 * empty value) alone means no subsystem. */
static int debug_list(const struct cli *c, const struct cli_args *a,
		      json_t **ret)
{
	_cleanup_json_ json_t *list = json_array();
	size_t i;

	if (!list)
		return oom();
	for (i = 0; i < a->nopts; i++) {
		const char *p = a->opts[i].value, *end;

		if (a->opts[i].id != OPT_DEBUG)
			continue;
		while (*p) {
			size_t len;

			end = strchr(p, ',');
			if (!end)
				end = p + strlen(p);
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			len = (size_t)(end - p);
			while (len > 0 && (p[len - 1] == ' ' ||
					   p[len - 1] == '\t'))
				len--;
			if (len > 0 && !(len == 4 && !strncmp(p, "none", 4))) {
				json_t *s = json_stringn(p, len);

				if (!s)
					return cli_usage(c, "--debug '%s' is "
							 "not valid UTF-8",
							 a->opts[i].value);
				if (json_array_append_new(list, s) < 0)
					return oom();
			}
			p = *end ? end + 1 : end;
		}
	}
	*ret = TAKE_PTR(list);
	return 0;
}

int cmd_log(struct cli *c, const struct cli_args *a)
{
	_cleanup_json_ json_t *body = NULL, *root = NULL, *debug = NULL;
	_cleanup_table_ struct out_table *t = NULL;
	_cleanup_free_ char *level = NULL, *subsys = NULL;
	const char *lvl = cli_args_get(a, OPT_LEVEL);
	const json_t *d;
	int r;

	if (lvl || cli_args_count(a, OPT_DEBUG)) {
		body = json_object();
		if (!body)
			return oom();
		r = set_string(c, body, "level", lvl, "--level");
		if (!r && cli_args_count(a, OPT_DEBUG)) {
			r = debug_list(c, a, &debug);
			if (!r && json_object_set(body, "debug", debug) < 0)
				r = oom();
		}
		if (r)
			return r;
	}
	r = client_call(c, body ? "PUT" : "GET", "/v1/log", body, &root);
	if (r)
		return r;
	if (c->json)
		return cli_print_json(root);
	level = out_value(json_object_get(root, "level"), "?");
	d = json_object_get(root, "debug");
	subsys = json_is_array(d) && json_array_size(d) == 0
			 ? strdup("none") : out_value(d, "none");
	t = out_table_new(2, NULL);
	if (!t || !level || !subsys ||
	    out_table_add(t, (const char *[]){ "level:", level }) < 0 ||
	    out_table_add(t, (const char *[]){ "debug:", subsys }) < 0)
		return oom();
	out_table_print(t, stdout);
	if (body)
		printf("(until loaxad reloads or restarts; loaxa.ini keeps "
		       "the lasting setting)\n");
	return CLI_EXIT_OK;
}
