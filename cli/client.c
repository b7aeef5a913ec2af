/* client.c: loaxa's HTTP client for loaxad's control API (libcurl easy).
 *
 * One easy handle per run, reset before each request so that paging reuses
 * the connection. By default it talks over the unix socket (the URL's host
 * is then only the Host header); with --url over TCP. A token (--token-file,
 * else LOAXA_TOKEN, else LOAXA_TOKEN_FILE) is sent as a bearer token on
 * either: on the socket it makes loaxad act for the token's user instead of
 * the caller's unix uid. Proxies are never used: the token must not leave
 * for a proxy, and the daemon is local or on a trusted network.
 *
 * Every failure is printed here, once, as "loaxa: ...", and turned into the
 * exit status of loaxa(1).
 */
#include <curl/curl.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>

#include "cli.h"

#define TOKEN_MAX 4096

struct client {
	CURL *curl;
	char *token;              /* NULL when none was given */
	char errbuf[CURL_ERROR_SIZE];
};

/* What the write callback collected, and why it stopped. */
struct sink {
	struct sbuf body;
	int error;                /* -E2BIG or -ENOMEM */
};

struct client *client_free(struct client *cl)
{
	if (!cl)
		return NULL;
	if (cl->curl) {
		curl_easy_cleanup(cl->curl);
		curl_global_cleanup();
	}
	if (cl->token) {
		explicit_bzero(cl->token, strlen(cl->token));
		free(cl->token);
	}
	free(cl);
	return NULL;
}

void client_answer_clear(struct client_answer *a)
{
	if (!a)
		return;
	free(a->body);
	free(a->content_type);
	*a = (struct client_answer){ 0 };
}

/* A token goes into a header: only printable ASCII without spaces. where
 * names its source for the error message. */
static int token_check(const char *tok, size_t len, const char *where)
{
	size_t i;

	if (len == 0)
		return cli_fail(CLI_EXIT_USAGE, "%s: the token is empty",
				where);
	if (len > TOKEN_MAX)
		return cli_fail(CLI_EXIT_USAGE, "%s: the token is too long",
				where);
	for (i = 0; i < len; i++)
		if (tok[i] <= ' ' || tok[i] > '~')
			return cli_fail(CLI_EXIT_USAGE,
					"%s: the token may only hold printable "
					"ASCII without spaces", where);
	return 0;
}

/* The token is the file's first line without surrounding blanks. */
static int token_read(const char *path, char **ret)
{
	_cleanup_fclose_ FILE *f = NULL;
	char buf[TOKEN_MAX + 2], where[PATH_MAX + 16];
	size_t n, start, end;
	char *nl;
	int r;

	snprintf(where, sizeof(where), "token file %s", path);
	f = fopen(path, "re");
	if (!f)
		return cli_fail(CLI_EXIT_USAGE, "cannot read token file %s: %m",
				path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	if (ferror(f))
		return cli_fail(CLI_EXIT_USAGE, "cannot read token file %s: %m",
				path);
	buf[n] = '\0';
	nl = memchr(buf, '\n', n);
	if (nl)
		n = (size_t)(nl - buf);
	else if (n > TOKEN_MAX)
		return cli_fail(CLI_EXIT_USAGE,
				"token file %s: first line is too long", path);
	start = 0;
	end = n;
	while (start < end && strchr(" \t\r\v\f", buf[start]))
		start++;
	while (end > start && strchr(" \t\r\v\f", buf[end - 1]))
		end--;
	if (start == end) {
		explicit_bzero(buf, sizeof(buf));
		return cli_fail(CLI_EXIT_USAGE,
				"token file %s: first line is empty", path);
	}
	r = token_check(buf + start, end - start, where);
	if (r) {
		explicit_bzero(buf, sizeof(buf));
		return r;
	}
	*ret = strndup(buf + start, end - start);
	explicit_bzero(buf, sizeof(buf));
	if (!*ret)
		return cli_fail(CLI_EXIT_ERROR, "out of memory");
	return 0;
}

/* The token of LOAXA_TOKEN, as given (no blanks trimmed). */
static int token_env(char **ret)
{
	const char *v = getenv("LOAXA_TOKEN");
	int r;

	r = token_check(v ? v : "", v ? strlen(v) : 0, "LOAXA_TOKEN");
	if (r)
		return r;
	*ret = strdup(v);
	if (!*ret)
		return cli_fail(CLI_EXIT_ERROR, "out of memory");
	return 0;
}

static int client_get(struct cli *c, struct client **ret)
{
	struct client *cl;
	int r;

	if (c->client) {
		*ret = c->client;
		return 0;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return cli_fail(CLI_EXIT_ERROR, "out of memory");
	r = 0;
	if (c->token_file)
		r = token_read(c->token_file, &cl->token);
	else if (c->token_env)
		r = token_env(&cl->token);
	if (r) {
		client_free(cl);
		return r;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		client_free(cl);
		return cli_fail(CLI_EXIT_ERROR, "cannot initialise libcurl");
	}
	cl->curl = curl_easy_init();
	if (!cl->curl) {
		curl_global_cleanup();
		client_free(cl);
		return cli_fail(CLI_EXIT_ERROR, "cannot initialise libcurl");
	}
	c->client = cl;
	*ret = cl;
	return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t n = size * nmemb;
	int r;

	r = sbuf_append(&s->body, ptr, n);
	if (r < 0) {
		s->error = r;
		return 0;         /* makes curl fail with CURLE_WRITE_ERROR */
	}
	return n;
}

/* " (hint)" for a unix socket we may not open: name the group to join. */
static void permission_hint(const char *path, char *out, size_t outsz)
{
	_cleanup_free_ char *copy = strdup(path);
	const char *dir = copy ? dirname(copy) : NULL;
	const char *paths[2] = { path, dir };
	struct group *g;
	struct stat st;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(paths); i++) {
		if (!paths[i] || stat(paths[i], &st) < 0)
			continue;
		g = getgrgid(st.st_gid);
		if (!g)
			continue;
		snprintf(out, outsz,
			 " (only members of group '%s' may use %s: add your "
			 "user to it and log in again, or use sudo)",
			 g->gr_name, paths[i]);
		return;
	}
	snprintf(out, outsz,
		 " (you need to be in the group that owns the socket and its "
		 "directory, or use sudo)");
}

static int report_transport(struct cli *c, struct client *cl, CURLcode code,
			    long timeout_ms)
{
	const char *where = c->socket_path ? c->socket_path : c->url;
	const char *why = cl->errbuf[0] ? cl->errbuf : curl_easy_strerror(code);
	curl_off_t connected = 0;
	char hint[512] = "";
	long oserr = 0, sent = 0;

	curl_easy_getinfo(cl->curl, CURLINFO_OS_ERRNO, &oserr);
	curl_easy_getinfo(cl->curl, CURLINFO_CONNECT_TIME_T, &connected);
	/* A reused connection has no connect time: what tells that loaxad
	 * was reached is that the request went out. */
	curl_easy_getinfo(cl->curl, CURLINFO_REQUEST_SIZE, &sent);
	switch (code) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		if (oserr > 0)
			why = strerror((int)oserr);
		if (oserr == EACCES || oserr == EPERM) {
			if (c->socket_path)
				permission_hint(c->socket_path, hint,
						sizeof(hint));
		} else if (code == CURLE_COULDNT_CONNECT) {
			snprintf(hint, sizeof(hint), " (is loaxad running?)");
		}
		return cli_fail(CLI_EXIT_UNREACHABLE,
				"cannot connect to loaxad at %s: %s%s", where,
				why, hint);
	case CURLE_OPERATION_TIMEDOUT:
		if (connected == 0 && sent == 0)
			return cli_fail(CLI_EXIT_UNREACHABLE,
					"cannot connect to loaxad at %s: timed "
					"out (is loaxad running?)", where);
		return cli_fail(CLI_EXIT_UNREACHABLE,
				"loaxad at %s did not answer within %ld s",
				where, timeout_ms / 1000);
	case CURLE_GOT_NOTHING:
		return cli_fail(CLI_EXIT_UNREACHABLE,
				"loaxad at %s closed the connection without "
				"answering", where);
	default:
		return cli_fail(CLI_EXIT_UNREACHABLE,
				"request to loaxad at %s failed: %s", where,
				why);
	}
}

int client_request(struct cli *c, const char *method, const char *path,
		   const char *content_type, const void *body, size_t len,
		   long timeout_ms, struct client_answer *ret)
{
	return client_request_hdr(c, method, path, NULL, content_type, body,
				  len, timeout_ms, ret);
}

int client_request_hdr(struct cli *c, const char *method, const char *path,
		       const char *header, const char *content_type,
		       const void *body, size_t len, long timeout_ms,
		       struct client_answer *ret)
{
	struct curl_slist *headers = NULL, *h;
	_cleanup_sbuf_ struct sbuf url = SBUF_INIT(64 * 1024);
	_cleanup_sbuf_ struct sbuf auth = SBUF_INIT(TOKEN_MAX + 64);
	_cleanup_sbuf_ struct sbuf ctype = SBUF_INIT(1024);
	struct sink sink = { .body = SBUF_INIT(CLI_MAX_ANSWER) };
	struct client *cl;
	char *type = NULL;
	CURLcode code;
	long status = 0;
	int r;

	r = client_get(c, &cl);
	if (r)
		return r;

	if (sbuf_printf(&url, "%s%s",
			c->url ? c->url : "http://localhost", path) < 0)
		return cli_fail(CLI_EXIT_USAGE, "URL too long");

	curl_easy_reset(cl->curl);
	cl->errbuf[0] = '\0';
	curl_easy_setopt(cl->curl, CURLOPT_ERRORBUFFER, cl->errbuf);
	curl_easy_setopt(cl->curl, CURLOPT_URL, sbuf_str(&url));
	if (c->socket_path)
		curl_easy_setopt(cl->curl, CURLOPT_UNIX_SOCKET_PATH,
				 c->socket_path);
	curl_easy_setopt(cl->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(cl->curl, CURLOPT_PROXY, "");
	curl_easy_setopt(cl->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cl->curl, CURLOPT_CONNECTTIMEOUT_MS,
			 CLI_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(cl->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(cl->curl, CURLOPT_USERAGENT, "loaxa/" LOAXA_VERSION);
	curl_easy_setopt(cl->curl, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)CLI_MAX_ANSWER);
	curl_easy_setopt(cl->curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(cl->curl, CURLOPT_WRITEDATA, &sink);

	if (streq(method, "GET")) {
		curl_easy_setopt(cl->curl, CURLOPT_HTTPGET, 1L);
	} else if (streq(method, "DELETE") && !body) {
		curl_easy_setopt(cl->curl, CURLOPT_CUSTOMREQUEST, method);
	} else {
		curl_easy_setopt(cl->curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(body ? len : 0));
		curl_easy_setopt(cl->curl, CURLOPT_POSTFIELDS,
				 body ? body : "");
		if (!streq(method, "POST"))
			curl_easy_setopt(cl->curl, CURLOPT_CUSTOMREQUEST,
					 method);
	}

	/* "Expect:" off: no 1 s wait for a 100-continue on large imports. */
	h = curl_slist_append(headers, "Expect:");
	if (h)
		headers = h;
	if (h && body) {
		if (sbuf_printf(&ctype, "Content-Type: %s",
				content_type ? content_type
					     : "application/json") < 0)
			h = NULL;
		else
			h = curl_slist_append(headers, sbuf_str(&ctype));
		if (h)
			headers = h;
	} else if (h && !streq(method, "GET")) {
		/* An empty POST would otherwise claim a form body. */
		h = curl_slist_append(headers, "Content-Type:");
		if (h)
			headers = h;
	}
	if (h && header) {
		h = curl_slist_append(headers, header);
		if (h)
			headers = h;
	}
	if (h && cl->token) {
		if (sbuf_printf(&auth, "Authorization: Bearer %s",
				cl->token) < 0)
			h = NULL;
		else
			h = curl_slist_append(headers, sbuf_str(&auth));
		if (h)
			headers = h;
	}
	if (!h) {
		curl_slist_free_all(headers);
		return cli_fail(CLI_EXIT_ERROR, "out of memory");
	}
	curl_easy_setopt(cl->curl, CURLOPT_HTTPHEADER, headers);

	code = curl_easy_perform(cl->curl);
	curl_slist_free_all(headers);
	if (auth.data)
		explicit_bzero(auth.data, auth.len);
	if (code != CURLE_OK) {
		curl_easy_getinfo(cl->curl, CURLINFO_RESPONSE_CODE, &status);
		if (code == CURLE_FILESIZE_EXCEEDED ||
		    (code == CURLE_WRITE_ERROR && sink.error == -E2BIG))
			r = cli_fail(CLI_EXIT_ERROR,
				     "answer from loaxad (HTTP %ld) is larger "
				     "than %u MiB", status,
				     CLI_MAX_ANSWER / 1024 / 1024);
		else if (code == CURLE_WRITE_ERROR && sink.error)
			r = cli_fail(CLI_EXIT_ERROR, "out of memory");
		else
			r = report_transport(c, cl, code, timeout_ms);
		sbuf_free(&sink.body);
		return r;
	}
	curl_easy_getinfo(cl->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(cl->curl, CURLINFO_CONTENT_TYPE, &type);

	*ret = (struct client_answer){ .status = status };
	ret->len = sink.body.len;
	ret->body = sbuf_steal(&sink.body);
	ret->content_type = type ? strdup(type) : NULL;
	if (!ret->body || (type && !ret->content_type)) {
		client_answer_clear(ret);
		return cli_fail(CLI_EXIT_ERROR, "out of memory");
	}
	return 0;
}

static const char *status_phrase(long status)
{
	static const struct {
		long status;
		const char *phrase;
	} phrases[] = {
		{ 400, "Bad Request" },
		{ 401, "Unauthorized" },
		{ 403, "Forbidden" },
		{ 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 409, "Conflict" },
		{ 413, "Content Too Large" },
		{ 414, "URI Too Long" },
		{ 422, "Unprocessable Content" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" },
		{ 502, "Bad Gateway" },
		{ 503, "Service Unavailable" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(phrases); i++)
		if (phrases[i].status == status)
			return phrases[i].phrase;
	return NULL;
}

int client_unexpected(long status, const char *what)
{
	const char *phrase = status_phrase(status);

	return cli_fail(CLI_EXIT_ERROR,
			"unexpected answer from loaxad (HTTP %ld%s%s)%s%s",
			status, phrase ? " " : "", phrase ? phrase : "",
			what ? ": " : "", what ? what : "");
}

int client_report_error(struct cli *c, const struct client_answer *a)
{
	_cleanup_json_ json_t *root = NULL;
	const char *message, *code;
	const json_t *err, *fields, *fe;
	size_t i;

	c->error_code[0] = '\0';
	if (a->len > 0)
		root = json_loadb(a->body, a->len, 0, NULL);
	err = json_object_get(root, "error");
	if (!json_is_object(err))
		return client_unexpected(a->status, NULL);
	if (c->json)
		cli_print_json(root);

	code = json_string_value(json_object_get(err, "code"));
	message = json_string_value(json_object_get(err, "message"));
	if (code)
		snprintf(c->error_code, sizeof(c->error_code), "%s", code);
	if (!message || !message[0])
		message = code && code[0] ? code : "error";
	fputs("loaxa: ", stderr);
	out_put_clean(stderr, message);
	fputc('\n', stderr);

	fields = json_object_get(err, "fields");
	json_array_foreach(fields, i, fe) {
		const char *field = json_string_value(
			json_object_get(fe, "field"));
		const char *msg = json_string_value(
			json_object_get(fe, "message"));

		if (!msg)
			msg = json_string_value(json_object_get(fe, "code"));
		fputs("  ", stderr);
		if (field) {
			out_put_clean(stderr, field);
			fputs(": ", stderr);
		}
		out_put_clean(stderr, msg ? msg : "invalid");
		fputc('\n', stderr);
	}

	if (a->status == 401 && c->client && c->client->token)
		fprintf(stderr, "loaxa: hint: loaxad refused the token of "
			"%s\n", c->token_file ? c->token_file : "LOAXA_TOKEN");
	else if (a->status == 401)
		fprintf(stderr, "loaxa: hint: loaxad over TCP needs a token: "
			"use --token-file FILE, LOAXA_TOKEN_FILE or "
			"LOAXA_TOKEN\n");
	return CLI_EXIT_ERROR;
}

int client_answer_json(struct cli *c, const struct client_answer *a,
		       bool want_object, json_t **ret_root)
{
	json_error_t jerr;
	json_t *root;

	*ret_root = NULL;
	if (a->status >= 400)
		return client_report_error(c, a);
	if (a->status < 200 || a->status >= 300)
		return client_unexpected(a->status, NULL);
	if (a->len == 0) {
		if (want_object)
			return client_unexpected(a->status, "empty body");
		return 0;
	}
	root = json_loadb(a->body, a->len, 0, &jerr);
	if (!root)
		return client_unexpected(a->status, "not JSON");
	if (!json_is_object(root)) {
		json_decref(root);
		return client_unexpected(a->status, "not a JSON object");
	}
	*ret_root = root;
	return 0;
}

int client_call(struct cli *c, const char *method, const char *path,
		const json_t *body, json_t **ret_root)
{
	_cleanup_answer_ struct client_answer a = { 0 };
	_cleanup_free_ char *text = NULL;
	int r;

	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text)
			return cli_fail(CLI_EXIT_ERROR, "out of memory");
	}
	r = client_request(c, method, path, "application/json", text,
			   text ? strlen(text) : 0, CLI_TIMEOUT_MS, &a);
	if (r)
		return r;
	return client_answer_json(c, &a, !streq(method, "DELETE"), ret_root);
}

static int escape_append(struct cli *c, struct sbuf *b, const char *s)
{
	struct client *cl;
	char *e;
	int r;

	r = client_get(c, &cl);
	if (r)
		return r;
	if (strlen(s) > INT32_MAX)
		return cli_fail(CLI_EXIT_USAGE, "argument too long");
	e = curl_easy_escape(cl->curl, s, (int)strlen(s));
	if (!e)
		return cli_fail(CLI_EXIT_ERROR, "out of memory");
	r = sbuf_append(b, e, strlen(e));
	curl_free(e);
	if (r == -E2BIG)
		return cli_fail(CLI_EXIT_USAGE, "argument too long");
	if (r < 0)
		return cli_fail(CLI_EXIT_ERROR, "out of memory");
	return 0;
}

int client_query_add(struct cli *c, struct sbuf *path, const char *key,
		     const char *value)
{
	bool first = !memchr(sbuf_str(path), '?', path->len);

	if (sbuf_printf(path, "%c%s=", first ? '?' : '&', key) < 0)
		return cli_fail(CLI_EXIT_USAGE, "argument too long");
	return escape_append(c, path, value);
}

int client_id_path(const struct cli *c, const char *arg, const char *what,
		   const char *suffix, struct sbuf *path)
{
	int64_t id = 0;
	int r;

	r = cli_parse_id_of(c, arg, what, &id);
	if (r)
		return r;
	if (sbuf_printf(path, "/v1/%ss/%" PRId64 "%s", what, id, suffix) < 0)
		return cli_fail(CLI_EXIT_ERROR, "out of memory");
	return 0;
}

int client_path_add(struct cli *c, struct sbuf *path, const char *segment)
{
	if (sbuf_append(path, "/", 1) < 0)
		return cli_fail(CLI_EXIT_USAGE, "argument too long");
	return escape_append(c, path, segment);
}

/* ---- keyset paging ---- */

static const struct {
	const char *next;         /* the answer's member */
	const char *param;        /* the query parameter that sends it back */
	const char *fault;        /* what is wrong when it does not move */
} cursors[] = {
	[CLIENT_AFTER_ID] = { "next_after", "after", "move forward" },
	[CLIENT_BEFORE_ID] = { "next_before", "before", "move back" },
	[CLIENT_AFTER_KEY] = { "next_after", "after", "move on" },
};

int client_get_list(struct cli *c, const char *path, const char *list_key,
		    json_t **ret_root, json_t **ret_list)
{
	_cleanup_json_ json_t *root = NULL;
	char what[128];
	json_t *list;
	int r;

	r = client_call(c, "GET", path, NULL, &root);
	if (r)
		return r;
	list = json_object_get(root, list_key);
	if (!json_is_array(list)) {
		snprintf(what, sizeof(what), "no \"%s\" list", list_key);
		return client_unexpected(200, what);
	}
	if (ret_list)
		*ret_list = list;
	*ret_root = TAKE_PTR(root);
	return 0;
}

static bool page_more(enum client_cursor cursor, const json_t *next)
{
	return cursor == CLIENT_AFTER_KEY ? json_is_string(next)
					  : json_is_integer(next);
}

int client_get_page(struct cli *c, const char *path, const char *list_key,
		    enum client_cursor cursor, json_t **ret_root,
		    bool *ret_more)
{
	int r;

	r = client_get_list(c, path, list_key, ret_root, NULL);
	if (r == 0 && ret_more)
		*ret_more = page_more(cursor, json_object_get(
				*ret_root, cursors[cursor].next));
	return r;
}

/* Whether next, a cursor that is not null, moves on from the last one
 * (prev, prev_key; none before the second page). Keyset paging that does
 * not move would ask for the same page for ever. */
static bool page_moves(enum client_cursor cursor, const json_t *next,
		       bool first, json_int_t prev, const char *prev_key)
{
	json_int_t v = json_integer_value(next);

	switch (cursor) {
	case CLIENT_AFTER_ID:
		return json_is_integer(next) && v > prev;
	case CLIENT_BEFORE_ID:
		return json_is_integer(next) && v > 0 && (first || v < prev);
	case CLIENT_AFTER_KEY:
		return json_is_string(next) &&
		       (first || !streq(prev_key, json_string_value(next)));
	}
	return false;
}

int client_get_all(struct cli *c, const char *path, const char *list_key,
		   enum client_cursor cursor, json_t **ret_list,
		   json_t **ret_last)
{
	_cleanup_json_ json_t *all = json_array(), *root = NULL;
	_cleanup_sbuf_ struct sbuf p = SBUF_INIT(64 * 1024);
	_cleanup_free_ char *key = NULL;
	const char *value = NULL;
	json_int_t prev = 0;
	char num[32], what[64];
	size_t page;
	int r;

	if (!all)
		return cli_fail(CLI_EXIT_ERROR, "out of memory");
	for (page = 0; page < CLIENT_MAX_PAGES; page++) {
		json_t *list, *next;

		/* The first page at path, the next ones with the cursor. */
		p.len = 0;
		if (sbuf_append(&p, path, strlen(path)) < 0)
			return cli_fail(CLI_EXIT_ERROR, "out of memory");
		r = value ? client_query_add(c, &p, cursors[cursor].param,
					     value) : 0;
		if (r)
			return r;
		json_decref(root);
		root = NULL;
		r = client_get_list(c, sbuf_str(&p), list_key, &root, &list);
		if (r)
			return r;
		if (json_array_extend(all, list) < 0)
			return cli_fail(CLI_EXIT_ERROR, "out of memory");
		next = json_object_get(root, cursors[cursor].next);
		if (!next || json_is_null(next)) {
			*ret_list = TAKE_PTR(all);
			if (ret_last)
				*ret_last = TAKE_PTR(root);
			return 0;
		}
		if (!page_moves(cursor, next, page == 0, prev, key)) {
			snprintf(what, sizeof(what), "\"%s\" does not %s",
				 cursors[cursor].next, cursors[cursor].fault);
			return client_unexpected(200, what);
		}
		if (cursor == CLIENT_AFTER_KEY) {
			free(key);
			key = strdup(json_string_value(next));
			if (!key)
				return cli_fail(CLI_EXIT_ERROR,
						"out of memory");
			value = key;
		} else {
			prev = json_integer_value(next);
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
				 prev);
			value = num;
		}
	}
	return cli_fail(CLI_EXIT_ERROR, "loaxad's \"%s\" list goes on for more "
			"than %d pages: stopped", list_key, CLIENT_MAX_PAGES);
}

void client_more_hint(const char *list_key)
{
	fprintf(stderr, "(more %s: raise --limit, or leave it out to list "
		"all)\n", list_key);
}

int client_show_list(struct cli *c, const char *path, const char *list_key,
		     enum client_cursor cursor, bool one_page,
		     int (*print)(const json_t *list))
{
	_cleanup_json_ json_t *root = NULL, *all = NULL;
	bool more = false;
	int r;

	if (one_page) {
		r = client_get_page(c, path, list_key, cursor, &root, &more);
		if (r)
			return r;
		if (c->json)
			return cli_print_json(root);
		r = print(json_object_get(root, list_key));
		if (r == 0 && more)
			client_more_hint(list_key);
		return r;
	}
	r = client_get_all(c, path, list_key, cursor, &all, NULL);
	if (r)
		return r;
	if (c->json)
		return cli_print_list(list_key, all);
	return print(all);
}
