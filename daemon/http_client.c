/* http_client.c: see http_client.h
 *
 * Glue between one CURLM and the libuv loop (curl's multi_socket API, as in
 * curl's docs/examples/multi-uv.c and systemd's curl-util.c):
 *
 *   - curl's socket callback keeps one struct http_sock (embedding a
 *     uv_poll_t) per socket, attached with curl_multi_assign(). On
 *     CURL_POLL_REMOVE the poll is stopped and closed; the struct is freed
 *     in the close callback. curl removes a socket whenever its connection
 *     goes back to the pool, so a reused connection gets a fresh poll.
 *   - curl's timer callback drives one uv_timer_t. -1 stops it; 0 is never
 *     acted on inside the callback: it sets a "kick" that the deferred step
 *     below turns into curl_multi_socket_action(CURL_SOCKET_TIMEOUT).
 *   - After every curl_multi_socket_action() the finished transfers are
 *     taken out of the multi (curl_multi_info_read) and queued. The user
 *     callbacks run later from a uv_check_t, at most DELIVER_BATCH per loop
 *     iteration, never inside a curl callback; a uv_idle_t is active while
 *     work is queued so the loop does not block in poll meanwhile.
 *
 * Lifetime: a job lives from http_client_start() until its callback
 * returns. The client counts its open uv handles (timer, check, idle, one
 * per socket) and frees itself when the last close callback has run after
 * http_client_close().
 */
#include "loaxa/http_client.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <strings.h>

#include <curl/curl.h>

#include "loaxa/log.h"
#include "loaxa/util.h"

#if defined(__has_include)
#if __has_include("config-build.h")
#include "config-build.h"
#endif
#endif

#ifdef LOAXA_VERSION
#define HTTP_DEFAULT_UA "loaxa/" LOAXA_VERSION
#else
#define HTTP_DEFAULT_UA "loaxa"
#endif

#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 5000u
#define HTTP_DEFAULT_TIMEOUT_MS 30000u
#define HTTP_DEFAULT_MAX_RESPONSE ((size_t)1 << 20)
#define HTTP_DEFAULT_MAX_CONNECTIONS 64u
/* User callbacks run per loop iteration before I/O is polled again. */
#define DELIVER_BATCH 256
/* Retry-After delta-seconds above this are clamped (about 68 years). */
#define RETRY_AFTER_MAX_S ((int64_t)INT32_MAX)

enum job_state {
	JOB_ACTIVE,     /* in the multi handle */
	JOB_DONE,       /* finished, queued for its callback */
	JOB_DELIVERING, /* its callback is running */
};

struct job_list {
	struct http_job *head, *tail;
};

struct http_job {
	struct http_client *client;
	struct http_job *prev, *next; /* in client->active or client->done */
	enum job_state state;

	CURL *easy;
	struct curl_slist *headers;
	http_done_cb cb;
	void *ud;

	uint64_t start_ms;
	struct buf body;
	bool too_big; /* the write callback refused more than max_response */
	bool nomem;   /* the write callback could not grow the buffer */
	int64_t retry_after_ms;
	struct http_response resp;
	char errmsg[CURL_ERROR_SIZE]; /* curl's CURLOPT_ERRORBUFFER, or ours */
};

struct http_sock {
	uv_poll_t poll;
	struct http_client *client;
	struct http_sock *prev, *next; /* in client->socks while open */
	curl_socket_t fd;
};

struct http_client {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;  /* curl's timeout */
	uv_check_t check;  /* deferred step: kicks and user callbacks */
	uv_idle_t idle;    /* keeps poll from blocking while work is queued */
	bool kick;         /* curl asked for a 0 ms timeout */

	struct job_list active;
	struct job_list done;
	struct http_sock *socks;
	unsigned inflight; /* started, callback not yet run */
	unsigned nhandles; /* uv handles not yet closed */

	bool allow_http;
	char *user_agent;

	bool closing;
	bool closing_handles; /* check and idle closed */
	void (*close_cb)(void *ud);
	void *close_ud;
};

static void list_push(struct job_list *l, struct http_job *j)
{
	j->next = NULL;
	j->prev = l->tail;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static void list_remove(struct job_list *l, struct http_job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		l->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		l->tail = j->prev;
	j->prev = j->next = NULL;
}

/* ---- curl global state ---------------------------------------------- */

static bool the_curl_initialized;

static int http_global_init(void)
{
	if (the_curl_initialized)
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	the_curl_initialized = true;

	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	if (!v || !(v->features & CURL_VERSION_ASYNCHDNS))
		log_warn(LOG_HTTP, "libcurl %s has no asynchronous DNS: "
			 "resolving host names will block the event loop",
			 v ? v->version : "?");
	return 0;
}

/* ---- errors ----------------------------------------------------------- */

static int http_curl_error(CURLcode rc, const struct http_job *j)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_FILESIZE_EXCEEDED:
		return -E2BIG;
	case CURLE_WRITE_ERROR:
		if (j->too_big)
			return -E2BIG;
		if (j->nomem)
			return -ENOMEM;
		return -EIO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EPROTO;
	default:
		return -EIO;
	}
}

/* ---- deferred step ---------------------------------------------------- */

static void client_check_cb(uv_check_t *h);

static void idle_cb(uv_idle_t *h)
{
	(void)h; /* only there to make the loop poll without blocking */
}

/* Run the deferred step while there is queued work, and only then. */
static void client_arm(struct http_client *c)
{
	if (c->closing_handles)
		return;
	if (c->done.head || c->kick) {
		uv_check_start(&c->check, client_check_cb);
		uv_idle_start(&c->idle, idle_cb);
	} else {
		uv_check_stop(&c->check);
		uv_idle_stop(&c->idle);
	}
}

static void job_free(struct http_job *j)
{
	if (!j)
		return;
	if (j->easy)
		curl_easy_cleanup(j->easy);
	curl_slist_free_all(j->headers);
	buf_free(&j->body);
	free(j);
}

/* Take a job out of the multi and queue its callback. err overrides the
 * result mapped from rc (used for -ECANCELED). */
static void job_complete(struct http_job *j, CURLcode rc, int err)
{
	struct http_client *c = j->client;
	struct http_response *r = &j->resp;

	long status = 0;
	curl_off_t req_size = 0, pretransfer = 0;
	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(j->easy, CURLINFO_REQUEST_SIZE, &req_size);
	curl_easy_getinfo(j->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);

	curl_multi_remove_handle(c->multi, j->easy);
	curl_easy_cleanup(j->easy);
	j->easy = NULL;
	curl_slist_free_all(j->headers);
	j->headers = NULL;

	r->error = err ? err : http_curl_error(rc, j);
	r->status = (int)status;
	r->sent = req_size > 0 || pretransfer > 0;
	r->retry_after_ms = j->retry_after_ms;
	uint64_t now = uv_now(c->loop);
	r->latency_ms = now > j->start_ms ? now - j->start_ms : 0;

	if (r->error == -ECANCELED)
		snprintf(j->errmsg, sizeof j->errmsg, "cancelled");
	else if (r->error == -E2BIG) /* curl's text names no limit */
		snprintf(j->errmsg, sizeof j->errmsg,
			 "response larger than %zu bytes", j->body.max);
	else if (r->error && !j->errmsg[0])
		snprintf(j->errmsg, sizeof j->errmsg, "%s",
			 curl_easy_strerror(rc));
	else if (!r->error)
		j->errmsg[0] = '\0';
	r->errmsg = j->errmsg;
	r->body = j->body.data ? j->body.data : "";
	r->body_len = j->body.len;

	log_debug(LOG_HTTP, "job %p: done, status %d, error %d (%s), "
		  "%" PRIu64 " ms", (void *)j, r->status, r->error,
		  r->errmsg, r->latency_ms);

	list_remove(&c->active, j);
	j->state = JOB_DONE;
	list_push(&c->done, j);
	client_arm(c);
}

/* Take finished transfers out of the multi; called after every
 * curl_multi_socket_action(), never from inside a curl callback. */
static void client_collect(struct http_client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		/* m is invalid once the handle is removed: copy first. */
		CURL *e = m->easy_handle;
		CURLcode rc = m->data.result;
		char *p = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, &p);
		struct http_job *j = (struct http_job *)(void *)p;
		if (fails_assert(j && j->easy == e))
			continue;
		job_complete(j, rc, 0);
	}
}

static void client_socket_action(struct http_client *c, curl_socket_t fd,
				 int flags)
{
	int running = 0;
	CURLMcode mc = curl_multi_socket_action(c->multi, fd, flags, &running);
	if (mc != CURLM_OK)
		log_debug(LOG_HTTP, "curl_multi_socket_action: %s",
			  curl_multi_strerror(mc));
	client_collect(c);
}

static void client_maybe_finish(struct http_client *c);

static void client_check_cb(uv_check_t *h)
{
	struct http_client *c = container_of(h, struct http_client, check);

	/* Deliver what was queued before this pass; callbacks may queue
	 * more (start, cancel), which waits for the next iteration. */
	struct http_job *last = c->done.tail;
	for (unsigned n = 0; n < DELIVER_BATCH && c->done.head; n++) {
		struct http_job *j = c->done.head;
		list_remove(&c->done, j);
		bool was_last = j == last;
		j->state = JOB_DELIVERING;
		c->inflight--;
		j->cb(j->ud, &j->resp);
		job_free(j);
		if (was_last)
			break;
	}

	if (c->kick && c->multi) {
		c->kick = false;
		client_socket_action(c, CURL_SOCKET_TIMEOUT, 0);
	}

	client_arm(c);
	client_maybe_finish(c);
}

/* ---- curl <-> uv glue ------------------------------------------------- */

static void timer_cb(uv_timer_t *t)
{
	struct http_client *c = container_of(t, struct http_client, timer);
	client_socket_action(c, CURL_SOCKET_TIMEOUT, 0);
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *c = userp;
	(void)multi;

	if (c->closing)
		return 0;
	if (timeout_ms < 0) {
		uv_timer_stop(&c->timer);
	} else if (timeout_ms == 0) {
		/* Not from here: curl may be in the middle of a call. */
		uv_timer_stop(&c->timer);
		c->kick = true;
		client_arm(c);
	} else {
		uv_timer_start(&c->timer, timer_cb, (uint64_t)timeout_ms, 0);
	}
	return 0;
}

static void handle_close_cb(uv_handle_t *h)
{
	struct http_client *c = h->data;
	if (fails_assert(c->nhandles > 0))
		return;
	c->nhandles--;
	client_maybe_finish(c);
}

static void sock_close_cb(uv_handle_t *h)
{
	struct http_sock *s = container_of(h, struct http_sock, poll);
	struct http_client *c = s->client;
	free(s);
	if (fails_assert(c->nhandles > 0))
		return;
	c->nhandles--;
	client_maybe_finish(c);
}

static void sock_close(struct http_sock *s)
{
	struct http_client *c = s->client;

	if (s->prev)
		s->prev->next = s->next;
	else
		c->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;

	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, sock_close_cb);
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
	struct http_sock *s = container_of(p, struct http_sock, poll);
	int flags = 0;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	else {
		if (events & UV_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events & UV_WRITABLE)
			flags |= CURL_CSELECT_OUT;
	}
	/* s may be closed by the socket callback during this call. */
	client_socket_action(s->client, s->fd, flags);
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
			  void *socketp)
{
	struct http_client *c = userp;
	struct http_sock *s = socketp;
	(void)easy;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			sock_close(s);
			curl_multi_assign(c->multi, fd, NULL);
		}
		return 0;
	}
	if (c->closing)
		return -1;

	if (!s) {
		s = calloc(1, sizeof *s);
		if (!s)
			return -1;
		s->client = c;
		s->fd = fd;
		if (uv_poll_init_socket(c->loop, &s->poll, fd) < 0) {
			free(s);
			return -1;
		}
		c->nhandles++;
		s->next = c->socks;
		if (c->socks)
			c->socks->prev = s;
		c->socks = s;
		if (curl_multi_assign(c->multi, fd, s) != CURLM_OK) {
			sock_close(s);
			return -1;
		}
	}

	int events = 0;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= UV_WRITABLE;
	if (uv_poll_start(&s->poll, events, poll_cb) < 0)
		return -1;
	return 0;
}

/* ---- easy handle callbacks --------------------------------------------- */

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_job *j = userdata;
	size_t n = size * nmemb;

	int r = buf_append(&j->body, ptr, n);
	if (r == -E2BIG) {
		j->too_big = true;
		return 0; /* CURLE_WRITE_ERROR */
	}
	if (r < 0) {
		j->nomem = true;
		return 0;
	}
	return n;
}

/* Parse a Retry-After value: delta-seconds or an HTTP-date. -1 if
 * invalid. */
static int64_t retry_after_parse(const char *v)
{
	if (*v >= '0' && *v <= '9') {
		int64_t s;
		int r = util_parse_int64(v, 0, RETRY_AFTER_MAX_S, &s);
		if (r == -ERANGE)
			s = RETRY_AFTER_MAX_S;
		else if (r < 0)
			return -1;
		return s * 1000;
	}
	time_t t = curl_getdate(v, NULL);
	if (t == (time_t)-1)
		return -1;
	int64_t d = (int64_t)t * 1000 - util_now_ms();
	return d > 0 ? d : 0;
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_job *j = userdata;
	size_t n = size * nmemb;
	static const char name[] = "Retry-After:";
	const size_t nlen = sizeof name - 1;

	/* A new status line starts a new response (e.g. after a 1xx). */
	if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
		j->retry_after_ms = -1;
		return n;
	}
	if (n <= nlen || strncasecmp(ptr, name, nlen) != 0)
		return n;

	const char *v = ptr + nlen, *end = ptr + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
			   end[-1] == ' ' || end[-1] == '\t'))
		end--;
	char val[64];
	if (end == v || (size_t)(end - v) >= sizeof val)
		return n;
	memcpy(val, v, (size_t)(end - v));
	val[end - v] = '\0';
	j->retry_after_ms = retry_after_parse(val);
	return n;
}

/* ---- public API --------------------------------------------------------- */

int http_client_new(uv_loop_t *loop, const struct http_client_opts *opts,
		    struct http_client **ret)
{
	if (!loop || !ret)
		return -EINVAL;
	int r = http_global_init();
	if (r < 0)
		return r;

	struct http_client_opts o = opts ? *opts : (struct http_client_opts){0};
	if (!o.max_connections)
		o.max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
	if (o.max_connections > INT_MAX || o.max_host_connections > INT_MAX)
		return -EINVAL;

	_cleanup_free_ struct http_client *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->allow_http = o.allow_http;
	const char *ua = o.user_agent ? o.user_agent : HTTP_DEFAULT_UA;
	c->user_agent = strdup(ua);
	if (!c->user_agent)
		return -ENOMEM;

	c->multi = curl_multi_init();
	if (!c->multi) {
		free(c->user_agent);
		return -ENOMEM;
	}
	CURLM *m = c->multi;
	CURLMcode mc = CURLM_OK;
	if (!mc)
		mc = curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION,
				       curl_socket_cb);
	if (!mc)
		mc = curl_multi_setopt(m, CURLMOPT_SOCKETDATA, c);
	if (!mc)
		mc = curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION,
				       curl_timer_cb);
	if (!mc)
		mc = curl_multi_setopt(m, CURLMOPT_TIMERDATA, c);
	if (!mc)
		mc = curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS,
				       (long)o.max_connections);
	if (!mc)
		mc = curl_multi_setopt(m, CURLMOPT_MAXCONNECTS,
				       (long)o.max_connections);
	if (!mc)
		mc = curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS,
				       (long)o.max_host_connections);
	if (mc != CURLM_OK) {
		curl_multi_cleanup(m);
		free(c->user_agent);
		return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
	}

	/* Nothing below can fail: once a handle is initialized, freeing
	 * the client takes a trip through the loop. */
	uv_timer_init(loop, &c->timer);
	uv_check_init(loop, &c->check);
	uv_idle_init(loop, &c->idle);
	c->timer.data = c->check.data = c->idle.data = c;
	c->nhandles = 3;

	log_debug(LOG_HTTP, "client %p: new, %u connections (%u per host)%s",
		  (void *)c, o.max_connections, o.max_host_connections,
		  o.allow_http ? ", http allowed" : "");
	*ret = TAKE_PTR(c);
	return 0;
}

/* Methods are HTTP tokens; we accept upper-case letters only. */
static bool method_valid(const char *m)
{
	size_t n = strlen(m);
	if (n == 0 || n > 16)
		return false;
	for (size_t i = 0; i < n; i++)
		if (m[i] < 'A' || m[i] > 'Z')
			return false;
	return true;
}

static bool header_valid(const char *h)
{
	const char *colon = strchr(h, ':');
	return colon && colon != h && !strpbrk(h, "\r\n");
}

/* Only https:// (and http:// when allowed). curl enforces the same with
 * CURLOPT_PROTOCOLS_STR; this check makes the refusal synchronous. */
static int url_check(const struct http_client *c, const char *url)
{
	CURLU *u = curl_url();
	if (!u)
		return -ENOMEM;
	char *scheme = NULL;
	int r = 0;
	CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (uc == CURLUE_OUT_OF_MEMORY)
		r = -ENOMEM;
	else if (uc != CURLUE_OK)
		r = -EINVAL;
	else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		r = -EINVAL;
	else if (strcasecmp(scheme, "https") == 0)
		r = 0;
	else if (strcasecmp(scheme, "http") == 0 && c->allow_http)
		r = 0;
	else
		r = -EPROTO;
	curl_free(scheme);
	curl_url_cleanup(u);
	return r;
}

static int job_setup(struct http_job *j, const struct http_request *req)
{
	struct http_client *c = j->client;
	CURL *e = j->easy;
	const char *protos = c->allow_http ? "http,https" : "https";
	uint32_t cto = req->connect_timeout_ms;
	if (!cto)
		cto = HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
	uint32_t to = req->timeout_ms ? req->timeout_ms
				      : HTTP_DEFAULT_TIMEOUT_MS;
	long low_speed_s = (long)((to + 999) / 1000);
	bool is_get = strcmp(req->method, "GET") == 0;
	bool is_post = strcmp(req->method, "POST") == 0;
	bool is_head = strcmp(req->method, "HEAD") == 0;
	bool has_body = req->body || is_post;
	CURLcode rc = CURLE_OK;

	if (has_body && (is_get || is_head))
		return -EINVAL;

	for (size_t i = 0; i < req->nheaders; i++) {
		struct curl_slist *l = curl_slist_append(j->headers,
							 req->headers[i]);
		if (!l)
			return -ENOMEM;
		j->headers = l;
	}
	/* No "Expect: 100-continue" round trip. */
	struct curl_slist *l = curl_slist_append(j->headers, "Expect:");
	if (!l)
		return -ENOMEM;
	j->headers = l;

#define SET(opt, val) do { if (rc == CURLE_OK) \
		rc = curl_easy_setopt(e, opt, val); } while (0)
	SET(CURLOPT_PRIVATE, (void *)j);
	SET(CURLOPT_ERRORBUFFER, j->errmsg);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PROTOCOLS_STR, protos);
	SET(CURLOPT_REDIR_PROTOCOLS_STR, protos);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)cto);
	SET(CURLOPT_TIMEOUT_MS, (long)to);
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, low_speed_s);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_KEEPIDLE, 60L);
	SET(CURLOPT_TCP_KEEPINTVL, 30L);
	SET(CURLOPT_USERAGENT, c->user_agent);
	SET(CURLOPT_HTTPHEADER, j->headers);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, (void *)j);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, (void *)j);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)j->body.max);
	if (req->userpwd) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERPWD, req->userpwd);
	}
	if (has_body) {
		/* The size first: COPYPOSTFIELDS then copies that many bytes,
		 * NULs included. */
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SET(CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
	}
	if (is_head)
		SET(CURLOPT_NOBODY, 1L);
	else if (!is_get && !is_post)
		SET(CURLOPT_CUSTOMREQUEST, req->method);
#undef SET

	if (rc == CURLE_OUT_OF_MEMORY)
		return -ENOMEM;
	if (rc == CURLE_UNSUPPORTED_PROTOCOL)
		return -EPROTO;
	return rc == CURLE_OK ? 0 : -EINVAL;
}

int http_client_start(struct http_client *c, const struct http_request *req,
		      http_done_cb cb, void *ud, struct http_job **ret_job)
{
	if (!c || !req || !cb || !req->url || !req->method)
		return -EINVAL;
	if (c->closing)
		return -ESHUTDOWN;
	if (!method_valid(req->method) || (req->nheaders && !req->headers) ||
	    (req->body_len && !req->body))
		return -EINVAL;
	for (size_t i = 0; i < req->nheaders; i++)
		if (!req->headers[i] || !header_valid(req->headers[i]))
			return -EINVAL;
	if (req->userpwd && strpbrk(req->userpwd, "\r\n"))
		return -EINVAL;
	int r = url_check(c, req->url);
	if (r < 0)
		return r;

	struct http_job *j = calloc(1, sizeof *j);
	if (!j)
		return -ENOMEM;
	j->client = c;
	j->cb = cb;
	j->ud = ud;
	j->retry_after_ms = -1;
	buf_init(&j->body, req->max_response ? req->max_response
					      : HTTP_DEFAULT_MAX_RESPONSE);
	j->easy = curl_easy_init();
	if (!j->easy) {
		job_free(j);
		return -ENOMEM;
	}
	r = job_setup(j, req);
	if (r < 0) {
		job_free(j);
		return r;
	}

	j->start_ms = uv_now(c->loop);
	j->state = JOB_ACTIVE;
	list_push(&c->active, j);
	c->inflight++;
	/* May call the timer callback (a 0 ms kick). */
	CURLMcode mc = curl_multi_add_handle(c->multi, j->easy);
	if (mc != CURLM_OK) {
		list_remove(&c->active, j);
		c->inflight--;
		job_free(j);
		return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
	}

	log_debug(LOG_HTTP, "job %p: %s started", (void *)j, req->method);
	if (ret_job)
		*ret_job = j;
	return 0;
}

void http_job_cancel(struct http_job *j)
{
	/* A finished job keeps its real result, like uv_cancel() on a
	 * request that already ran. */
	if (!j || j->state != JOB_ACTIVE)
		return;
	log_debug(LOG_HTTP, "job %p: cancelled", (void *)j);
	job_complete(j, CURLE_OK, -ECANCELED);
}

unsigned http_client_inflight(const struct http_client *c)
{
	return c ? c->inflight : 0;
}

static void client_free(struct http_client *c)
{
	free(c->user_agent);
	free(c);
}

/* Close the last handles once every callback has been delivered; call the
 * user's close callback once every handle is closed. */
static void client_maybe_finish(struct http_client *c)
{
	if (!c->closing)
		return;
	if (!c->closing_handles && !c->done.head) {
		c->closing_handles = true;
		uv_close((uv_handle_t *)&c->check, handle_close_cb);
		uv_close((uv_handle_t *)&c->idle, handle_close_cb);
		return; /* nhandles >= 2 until those close callbacks */
	}
	if (c->closing_handles && c->nhandles == 0) {
		void (*cb)(void *) = c->close_cb;
		void *ud = c->close_ud;
		log_debug(LOG_HTTP, "client %p: closed", (void *)c);
		if (cb)
			cb(ud);
		client_free(c);
	}
}

void http_client_close(struct http_client *c, void (*cb)(void *ud), void *ud)
{
	if (!c || fails_assert(!c->closing))
		return;
	log_debug(LOG_HTTP, "client %p: closing, %u in flight", (void *)c,
		  c->inflight);

	while (c->active.head)
		http_job_cancel(c->active.head);
	c->closing = true;
	c->close_cb = cb;
	c->close_ud = ud;
	c->kick = false;

	/* May still call the socket callback for pooled connections. */
	curl_multi_cleanup(c->multi);
	c->multi = NULL;
	while (c->socks)
		sock_close(c->socks);
	uv_close((uv_handle_t *)&c->timer, handle_close_cb);

	/* The cancelled jobs' callbacks still run from the check handle;
	 * it is closed once they all have. */
	client_arm(c);
	client_maybe_finish(c);
}
