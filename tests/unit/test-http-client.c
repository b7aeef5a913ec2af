/* test-http-client.c: unit tests for the libcurl multi client on libuv
 * (http_client.h).
 *
 * The peer is a libmicrohttpd daemon on 127.0.0.1 (ephemeral port) in its
 * own internal polling thread, so the client's loop is the only thing on
 * the test's uv loop. Two raw sockets stand in for broken servers: one bound
 * but not listening (connection refused) and one listening but never
 * accepting (the kernel completes the handshake and buffers the request:
 * a server that never answers). Every test ends with http_client_close()
 * and uv_loop_close() == 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <microhttpd.h>
#include <uv.h>

#include "loaxa/http_client.h"
#include "loaxa/log.h"
#include "loaxa/util.h"

/* ---- the test server (MHD thread) --------------------------------------- */

struct srv_req {
	struct buf body;
};

static struct MHD_Daemon *the_mhd;
static uint16_t the_port;
static atomic_uint the_accepts; /* TCP connections accepted by MHD */

static const char *hdr(struct MHD_Connection *conn, const char *name)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						    name);
	return v ? v : "-";
}

static const char *arg(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

static ssize_t big_reader(void *cls, uint64_t pos, char *b, size_t max)
{
	uint64_t n = (uint64_t)(uintptr_t)cls;
	if (pos >= n)
		return MHD_CONTENT_READER_END_OF_STREAM;
	size_t k = (size_t)(n - pos) < max ? (size_t)(n - pos) : max;
	memset(b, 'y', k);
	return (ssize_t)k;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
			     const char *body, size_t len,
			     const char *retry_after)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	if (retry_after)
		MHD_add_response_header(r, "Retry-After", retry_after);
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result srv_answer(struct MHD_Connection *conn,
				  const char *url, const char *method,
				  struct srv_req *st)
{
	if (strcmp(url, "/echo") == 0) {
		struct buf b;
		buf_init(&b, 5 << 20);
		buf_printf(&b, "method=%s\nx-test=%s\ncontent-type=%s\n"
			   "authorization=%s\nuser-agent=%s\nexpect=%s\n"
			   "body=", method, hdr(conn, "X-Test"),
			   hdr(conn, "Content-Type"),
			   hdr(conn, "Authorization"),
			   hdr(conn, "User-Agent"), hdr(conn, "Expect"));
		buf_append(&b, st->body.data ? st->body.data : "",
			   st->body.len);
		enum MHD_Result ret = reply(conn, 200, b.data, b.len, NULL);
		buf_free(&b);
		return ret;
	}
	if (strcmp(url, "/status") == 0) {
		const char *code = arg(conn, "code");
		int64_t c = 200;
		if (code)
			util_parse_int64(code, 100, 599, &c);
		return reply(conn, (unsigned)c, "status", 6,
			     arg(conn, "retry"));
	}
	if (strcmp(url, "/retry-date") == 0) {
		char date[64];
		time_t t = time(NULL) + 10;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		return reply(conn, 503, "later", 5, date);
	}
	if (strcmp(url, "/big") == 0) {
		const char *n = arg(conn, "n");
		int64_t len = 0;
		if (n)
			util_parse_int64(n, 0, 10 << 20, &len);
		if (arg(conn, "chunked")) {
			struct MHD_Response *r =
				MHD_create_response_from_callback(
					MHD_SIZE_UNKNOWN, 4096, big_reader,
					(void *)(uintptr_t)len, NULL);
			if (!r)
				return MHD_NO;
			enum MHD_Result ret = MHD_queue_response(conn, 200, r);
			MHD_destroy_response(r);
			return ret;
		}
		char *b = malloc((size_t)len + 1);
		if (!b)
			return MHD_NO;
		memset(b, 'x', (size_t)len);
		enum MHD_Result ret = reply(conn, 200, b, (size_t)len, NULL);
		free(b);
		return ret;
	}
	return reply(conn, 404, "not found", 9, NULL);
}

static enum MHD_Result srv_handler(void *cls, struct MHD_Connection *conn,
				   const char *url, const char *method,
				   const char *version,
				   const char *upload_data,
				   size_t *upload_size, void **con_cls)
{
	(void)cls;
	(void)version;
	struct srv_req *st = *con_cls;

	/* Answer on the second call at the earliest: a response queued
	 * on the first one makes MHD close the connection (DEPS.md). */
	if (!st) {
		st = calloc(1, sizeof *st);
		if (!st)
			return MHD_NO;
		buf_init(&st->body, 4 << 20);
		*con_cls = st;
		return MHD_YES;
	}
	if (*upload_size) {
		if (buf_append(&st->body, upload_data, *upload_size) < 0)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	return srv_answer(conn, url, method, st);
}

static void srv_completed(void *cls, struct MHD_Connection *conn,
			  void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	struct srv_req *st = *con_cls;
	if (st) {
		buf_free(&st->body);
		free(st);
		*con_cls = NULL;
	}
}

static void srv_notify(void *cls, struct MHD_Connection *conn,
		       void **socket_context,
		       enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)conn;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&the_accepts, 1);
}

static int group_setup(void **state)
{
	(void)state;
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	the_mhd = MHD_start_daemon(
		MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
		NULL, srv_handler, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_NOTIFY_COMPLETED, srv_completed, NULL,
		MHD_OPTION_NOTIFY_CONNECTION, srv_notify, NULL,
		MHD_OPTION_END);
	if (!the_mhd)
		return -1;
	const union MHD_DaemonInfo *i =
		MHD_get_daemon_info(the_mhd, MHD_DAEMON_INFO_BIND_PORT);
	if (!i || !i->port)
		return -1;
	the_port = i->port;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	MHD_stop_daemon(the_mhd);
	the_mhd = NULL;
	return 0;
}

/* A bound TCP socket on 127.0.0.1; listening (backlog only, never
 * accepted) or not (connection refused). */
static int raw_socket(bool listening, uint16_t *ret_port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	if (listening)
		assert_int_equal(listen(fd, 64), 0);
	socklen_t len = sizeof sa;
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*ret_port = ntohs(sa.sin_port);
	return fd;
}

/* ---- the client side --------------------------------------------------- */

struct tctx;

/* One request's outcome. */
struct slot {
	struct tctx *x;
	unsigned calls;
	unsigned inflight_in_cb;
	int status, error;
	bool sent;
	int64_t retry_after_ms;
	uint64_t latency_ms;
	char *body;
	size_t body_len;
	char *errmsg;
	void (*then)(struct slot *s); /* run at the end of the callback */
	struct http_job *job;
};

struct tctx {
	uv_loop_t loop;
	struct http_client *c;
	unsigned ncalls;
	bool close_called;
	bool closed;
	unsigned calls_at_close;
	/* test_many */
	unsigned started, done, ok, max_inflight, total;
	/* test_chain */
	unsigned chain_left;
	/* misc */
	struct slot *other;
	int start_in_cb;
};

static char *url(const char *path)
{
	static char u[256];
	snprintf(u, sizeof u, "http://127.0.0.1:%u%s", (unsigned)the_port,
		 path);
	return u;
}

static void slot_done_cb(void *ud, const struct http_response *r)
{
	struct slot *s = ud;
	s->calls++;
	s->x->ncalls++;
	s->inflight_in_cb = http_client_inflight(s->x->c);
	s->status = r->status;
	s->error = r->error;
	s->sent = r->sent;
	s->retry_after_ms = r->retry_after_ms;
	s->latency_ms = r->latency_ms;
	assert_non_null(r->body);
	assert_non_null(r->errmsg);
	assert_int_equal(r->body[r->body_len], '\0');
	free(s->body);
	free(s->errmsg);
	s->body = util_strndup(r->body, r->body_len);
	s->body_len = r->body_len;
	s->errmsg = strdup(r->errmsg);
	s->job = NULL;
	if (s->then)
		s->then(s);
}

static void slot_clear(struct slot *s)
{
	free(s->body);
	free(s->errmsg);
	s->body = s->errmsg = NULL;
}

static void ctx_init(struct tctx *x, const struct http_client_opts *o)
{
	memset(x, 0, sizeof *x);
	assert_int_equal(uv_loop_init(&x->loop), 0);
	assert_int_equal(http_client_new(&x->loop, o, &x->c), 0);
	assert_non_null(x->c);
}

static void close_cb(void *ud)
{
	struct tctx *x = ud;
	assert_false(x->closed);
	x->closed = true;
	x->calls_at_close = x->ncalls;
}

/* Close the client (if not yet), drain the loop, prove it is empty. */
static void ctx_finish(struct tctx *x)
{
	if (!x->close_called) {
		x->close_called = true;
		http_client_close(x->c, close_cb, x);
		assert_false(x->closed); /* never synchronous */
	}
	assert_int_equal(uv_run(&x->loop, UV_RUN_DEFAULT), 0);
	assert_true(x->closed);
	x->c = NULL;
	assert_int_equal(uv_loop_close(&x->loop), 0);
}

static struct http_request get_req(const char *u)
{
	return (struct http_request){ .method = "GET", .url = u };
}

static void start(struct tctx *x, const struct http_request *r,
		  struct slot *s)
{
	s->x = x;
	assert_int_equal(http_client_start(x->c, r, slot_done_cb, s, &s->job),
			 0);
	assert_non_null(s->job);
}

static const struct http_client_opts http_ok = { .allow_http = true };

/* ---- tests -------------------------------------------------------------- */

static void test_get(void **state)
{
	(void)state;
	struct tctx x;
	ctx_init(&x, &http_ok);
	const char *h[] = { "X-Test: hello" };
	struct http_request r = get_req(url("/echo"));
	r.headers = h;
	r.nheaders = 1;
	struct slot s = { 0 };
	start(&x, &r, &s);
	assert_int_equal(http_client_inflight(x.c), 1);
	assert_int_equal(s.calls, 0);

	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.status, 200);
	assert_int_equal(s.error, 0);
	assert_string_equal(s.errmsg, "");
	assert_true(s.sent);
	assert_int_equal(s.retry_after_ms, -1);
	assert_int_equal(s.inflight_in_cb, 0);
	assert_int_equal(http_client_inflight(x.c), 0);
	assert_non_null(strstr(s.body, "method=GET\n"));
	assert_non_null(strstr(s.body, "x-test=hello\n"));
	assert_non_null(strstr(s.body, "user-agent=loaxa/"));
	assert_non_null(strstr(s.body, "authorization=-\n"));
	assert_non_null(strstr(s.body, "expect=-\n"));
	assert_true(s.latency_ms < 5000);

	/* HEAD: no body expected, no hang. */
	struct slot s2 = { 0 };
	r = (struct http_request){ .method = "HEAD", .url = url("/echo") };
	start(&x, &r, &s2);
	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(s2.calls, 1);
	assert_int_equal(s2.error, 0);
	assert_int_equal(s2.status, 200);
	assert_int_equal(s2.body_len, 0);

	ctx_finish(&x);
	slot_clear(&s);
	slot_clear(&s2);
}

static void test_user_agent(void **state)
{
	(void)state;
	struct tctx x;
	struct http_client_opts o = { .allow_http = true,
				      .user_agent = "custom/1" };
	ctx_init(&x, &o);
	struct http_request r = get_req(url("/echo"));
	struct slot s = { 0 };
	start(&x, &r, &s);
	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(s.calls, 1);
	assert_non_null(strstr(s.body, "user-agent=custom/1\n"));
	ctx_finish(&x);
	slot_clear(&s);
}

static void test_post(void **state)
{
	(void)state;
	struct tctx x;
	ctx_init(&x, &http_ok);

	/* 2 KB with a NUL inside: copied by start, sent with its size. */
	char body[2048];
	for (size_t i = 0; i < sizeof body; i++)
		body[i] = (char)('a' + i % 26);
	body[100] = '\0';
	const char *h[] = { "Content-Type: application/json",
			    "X-Test: post" };
	struct http_request r = {
		.method = "POST", .url = url("/echo"), .headers = h,
		.nheaders = 2, .body = body, .body_len = sizeof body,
	};
	struct slot s = { 0 };
	start(&x, &r, &s);
	memset(body, 0, sizeof body); /* start copied it */
	for (size_t i = 0; i < sizeof body; i++)
		body[i] = (char)('a' + i % 26);
	body[100] = '\0';

	/* PUT with a body, DELETE without, POST with none. */
	struct slot s2 = { 0 }, s3 = { 0 }, s4 = { 0 };
	struct http_request r2 = { .method = "PUT", .url = url("/echo"),
				   .body = "{\"a\":1}", .body_len = 7 };
	start(&x, &r2, &s2);
	struct http_request r3 = { .method = "DELETE", .url = url("/echo") };
	start(&x, &r3, &s3);
	struct http_request r4 = { .method = "POST", .url = url("/echo") };
	start(&x, &r4, &s4);
	assert_int_equal(http_client_inflight(x.c), 4);

	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.status, 200);
	assert_int_equal(s.error, 0);
	assert_non_null(strstr(s.body, "method=POST\n"));
	assert_non_null(strstr(s.body, "x-test=post\n"));
	assert_non_null(strstr(s.body, "content-type=application/json\n"));
	assert_non_null(strstr(s.body, "expect=-\n"));
	const char *b = strstr(s.body, "body=");
	assert_non_null(b);
	b += 5;
	assert_int_equal(s.body_len - (size_t)(b - s.body), sizeof body);
	assert_memory_equal(b, body, sizeof body);

	assert_int_equal(s2.calls, 1);
	assert_non_null(strstr(s2.body, "method=PUT\n"));
	assert_non_null(strstr(s2.body, "body={\"a\":1}"));
	assert_int_equal(s3.calls, 1);
	assert_non_null(strstr(s3.body, "method=DELETE\n"));
	assert_int_equal(s4.calls, 1);
	assert_non_null(strstr(s4.body, "method=POST\n"));
	assert_int_equal(s4.status, 200);

	/* Above 1 MB curl 7.88 would add "Expect: 100-continue". */
	size_t big_len = (size_t)3 << 19;
	char *big = malloc(big_len);
	assert_non_null(big);
	memset(big, 'z', big_len);
	struct slot s5 = { 0 };
	struct http_request r5 = { .method = "POST", .url = url("/echo"),
				   .body = big, .body_len = big_len,
				   .max_response = (size_t)4 << 20 };
	start(&x, &r5, &s5);
	free(big);
	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(s5.calls, 1);
	assert_int_equal(s5.status, 200);
	assert_non_null(strstr(s5.body, "expect=-\n"));
	assert_true(s5.body_len > big_len);
	slot_clear(&s5);

	ctx_finish(&x);
	slot_clear(&s);
	slot_clear(&s2);
	slot_clear(&s3);
	slot_clear(&s4);
}

static void test_basic_auth(void **state)
{
	(void)state;
	struct tctx x;
	ctx_init(&x, &http_ok);
	struct http_request r = get_req(url("/echo"));
	r.userpwd = "user:pass";
	struct slot s = { 0 };
	start(&x, &r, &s);
	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.status, 200);
	assert_non_null(strstr(s.body, "authorization=Basic dXNlcjpwYXNz\n"));
	ctx_finish(&x);
	slot_clear(&s);
}

static void test_status(void **state)
{
	(void)state;
	struct tctx x;
	ctx_init(&x, &http_ok);
	struct slot s[5] = { 0 };
	const char *paths[5] = {
		"/status?code=200", "/status?code=429&retry=3",
		"/status?code=503", "/retry-date", "/nowhere",
	};
	for (int i = 0; i < 5; i++) {
		struct http_request r = get_req(url(paths[i]));
		start(&x, &r, &s[i]);
	}
	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(s[i].calls, 1);
		assert_int_equal(s[i].error, 0); /* HTTP errors are results */
		assert_true(s[i].sent);
	}
	assert_int_equal(s[0].status, 200);
	assert_int_equal(s[0].retry_after_ms, -1);
	assert_string_equal(s[0].body, "status");
	assert_int_equal(s[1].status, 429);
	assert_int_equal(s[1].retry_after_ms, 3000);
	assert_int_equal(s[2].status, 503);
	assert_int_equal(s[2].retry_after_ms, -1);
	assert_int_equal(s[3].status, 503);
	assert_in_range(s[3].retry_after_ms, 7000, 11000);
	assert_int_equal(s[4].status, 404);
	ctx_finish(&x);
	for (int i = 0; i < 5; i++)
		slot_clear(&s[i]);
}

static void test_refused(void **state)
{
	(void)state;
	uint16_t port;
	int fd = raw_socket(false, &port);
	char u[64];
	snprintf(u, sizeof u, "http://127.0.0.1:%u/x", (unsigned)port);

	struct tctx x;
	ctx_init(&x, &http_ok);
	struct http_request r = get_req(u);
	struct slot s = { 0 };
	start(&x, &r, &s);
	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.error, -ECONNREFUSED);
	assert_false(s.sent);
	assert_int_equal(s.status, 0);
	assert_string_not_equal(s.errmsg, "");
	ctx_finish(&x);
	slot_clear(&s);
	close(fd);
}

static void test_timeout(void **state)
{
	(void)state;
	uint16_t port;
	int fd = raw_socket(true, &port);
	char u[64];
	snprintf(u, sizeof u, "http://127.0.0.1:%u/x", (unsigned)port);

	struct tctx x;
	ctx_init(&x, &http_ok);
	struct http_request r = { .method = "POST", .url = u, .body = "{}",
				  .body_len = 2, .timeout_ms = 300 };
	struct slot s = { 0 };
	start(&x, &r, &s);
	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.error, -ETIMEDOUT);
	assert_true(s.sent); /* it may have reached the peer */
	assert_int_equal(s.status, 0);
	assert_in_range(s.latency_ms, 250, 5000);
	ctx_finish(&x);
	slot_clear(&s);
	close(fd);
}

static void test_too_big(void **state)
{
	(void)state;
	struct tctx x;
	ctx_init(&x, &http_ok);
	struct slot s[5] = { 0 };
	struct http_request r;
	/* Content-Length above the cap, chunked above the cap, exactly the
	 * cap, and the 1 MiB default. */
	r = get_req(url("/big?n=5000"));
	r.max_response = 1000;
	start(&x, &r, &s[0]);
	r = get_req(url("/big?n=50000&chunked=1"));
	r.max_response = 1000;
	start(&x, &r, &s[1]);
	r = get_req(url("/big?n=1000&chunked=1"));
	r.max_response = 1000;
	start(&x, &r, &s[2]);
	r = get_req(url("/big?n=1048576"));
	start(&x, &r, &s[3]);
	r = get_req(url("/big?n=1048577&chunked=1"));
	start(&x, &r, &s[4]);
	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(s[i].calls, 1);
	assert_int_equal(s[0].error, -E2BIG);
	assert_string_equal(s[0].errmsg, "response larger than 1000 bytes");
	assert_int_equal(s[1].error, -E2BIG);
	assert_string_equal(s[1].errmsg, "response larger than 1000 bytes");
	assert_true(s[1].body_len <= 1000);
	assert_int_equal(s[2].error, 0);
	assert_int_equal(s[2].body_len, 1000);
	assert_int_equal(s[3].error, 0);
	assert_int_equal(s[3].body_len, 1048576);
	assert_int_equal(s[4].error, -E2BIG);
	ctx_finish(&x);
	for (int i = 0; i < 5; i++)
		slot_clear(&s[i]);
}

static void cancel_timer_cb(uv_timer_t *t)
{
	struct slot *s = t->data;
	http_job_cancel(s->job);
	http_job_cancel(s->job); /* twice: still one callback */
	assert_int_equal(s->calls, 0); /* deferred */
	uv_close((uv_handle_t *)t, NULL);
}

static void cancel_other(struct slot *s)
{
	struct slot *o = s->x->other;
	assert_int_equal(o->calls, 0);
	http_job_cancel(o->job);
	assert_int_equal(o->calls, 0);
}

static void test_cancel(void **state)
{
	(void)state;
	uint16_t port;
	int fd = raw_socket(true, &port);
	char u[64];
	snprintf(u, sizeof u, "http://127.0.0.1:%u/x", (unsigned)port);

	struct tctx x;
	ctx_init(&x, &http_ok);

	/* Before the loop ran: nothing sent. */
	struct http_request r = get_req(u);
	struct slot s1 = { 0 };
	start(&x, &r, &s1);
	http_job_cancel(s1.job);
	http_job_cancel(s1.job);
	assert_int_equal(s1.calls, 0);
	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(s1.calls, 1);
	assert_int_equal(s1.error, -ECANCELED);
	assert_false(s1.sent);
	assert_int_equal(http_client_inflight(x.c), 0);

	/* While waiting for the answer (from a timer): sent. */
	struct slot s2 = { 0 };
	start(&x, &r, &s2);
	uv_timer_t t;
	uv_timer_init(&x.loop, &t);
	t.data = &s2;
	uv_timer_start(&t, cancel_timer_cb, 100, 0);
	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(s2.calls, 1);
	assert_int_equal(s2.error, -ECANCELED);
	assert_true(s2.sent);

	/* From another job's callback. */
	struct slot s3 = { 0 }, s4 = { 0 };
	x.other = &s4;
	start(&x, &r, &s4); /* never answered */
	struct http_request r3 = get_req(url("/echo"));
	s3.then = cancel_other;
	start(&x, &r3, &s3);
	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(s3.calls, 1);
	assert_int_equal(s3.status, 200);
	assert_int_equal(s4.calls, 1);
	assert_int_equal(s4.error, -ECANCELED);

	ctx_finish(&x);
	assert_int_equal(x.ncalls, 4);
	slot_clear(&s1);
	slot_clear(&s2);
	slot_clear(&s3);
	slot_clear(&s4);
	close(fd);
}

/* Many callbacks due at once are delivered over several loop iterations,
 * each exactly once. */
static void test_cancel_many(void **state)
{
	(void)state;
	enum { N = 1000 };
	struct tctx x;
	ctx_init(&x, &http_ok);
	struct slot *s = calloc(N, sizeof *s);
	assert_non_null(s);
	struct http_request r = get_req(url("/echo"));
	for (int i = 0; i < N; i++)
		start(&x, &r, &s[i]);
	assert_int_equal(http_client_inflight(x.c), N);
	for (int i = 0; i < N; i++)
		http_job_cancel(s[i].job);
	assert_int_equal(x.ncalls, 0);
	assert_int_equal(http_client_inflight(x.c), N);
	uv_run(&x.loop, UV_RUN_NOWAIT);
	assert_true(x.ncalls > 0);
	assert_true(x.ncalls < N); /* bounded per iteration */
	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.ncalls, N);
	assert_int_equal(http_client_inflight(x.c), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(s[i].calls, 1);
		assert_int_equal(s[i].error, -ECANCELED);
		assert_false(s[i].sent);
		slot_clear(&s[i]);
	}
	free(s);
	ctx_finish(&x);
}

static void chain_next(struct slot *s)
{
	struct tctx *x = s->x;
	assert_int_equal(s->error, 0);
	assert_int_equal(s->status, 200);
	if (--x->chain_left == 0) {
		/* Close from inside a callback. */
		x->close_called = true;
		http_client_close(x->c, close_cb, x);
		assert_false(x->closed);
		struct http_request r = get_req(url("/echo"));
		struct slot dummy = { .x = x };
		assert_int_equal(http_client_start(x->c, &r, slot_done_cb,
						   &dummy, NULL),
				 -ESHUTDOWN);
		return;
	}
	struct http_request r = get_req(url("/echo"));
	assert_int_equal(http_client_start(x->c, &r, slot_done_cb, s, NULL),
			 0);
}

static void test_chain(void **state)
{
	(void)state;
	struct tctx x;
	ctx_init(&x, &http_ok);
	x.chain_left = 5;
	struct slot s = { .then = chain_next };
	struct http_request r = get_req(url("/echo"));
	start(&x, &r, &s);
	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	assert_true(x.closed);
	ctx_finish(&x);
	assert_int_equal(s.calls, 5);
	assert_int_equal(x.calls_at_close, 5);
	slot_clear(&s);
}

/* 2000 requests, a window of 64: each completion starts the next. */
#define MANY_TOTAL 2000u
#define MANY_WINDOW 64u

static void many_cb(void *ud, const struct http_response *r);

static void many_start(struct tctx *x)
{
	struct http_request req = get_req(url("/status?code=200"));
	assert_int_equal(http_client_start(x->c, &req, many_cb, x, NULL), 0);
	x->started++;
	unsigned n = http_client_inflight(x->c);
	if (n > x->max_inflight)
		x->max_inflight = n;
}

static void many_cb(void *ud, const struct http_response *r)
{
	struct tctx *x = ud;
	x->done++;
	if (r->error == 0 && r->status == 200 && r->body_len == 6)
		x->ok++;
	if (x->started < x->total)
		many_start(x);
}

static void test_many(void **state)
{
	(void)state;
	struct tctx x;
	struct http_client_opts o = { .allow_http = true,
				      .max_connections = MANY_WINDOW,
				      .max_host_connections = MANY_WINDOW };
	ctx_init(&x, &o);
	x.total = MANY_TOTAL;
	unsigned accepts0 = atomic_load(&the_accepts);
	uint64_t t0 = uv_hrtime();
	for (unsigned i = 0; i < MANY_WINDOW; i++)
		many_start(&x);
	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	uint64_t dt = uv_hrtime() - t0;
	unsigned accepts = atomic_load(&the_accepts) - accepts0;

	assert_int_equal(x.started, MANY_TOTAL);
	assert_int_equal(x.done, MANY_TOTAL);
	assert_int_equal(x.ok, MANY_TOTAL);
	assert_true(x.max_inflight <= MANY_WINDOW);
	/* Keep-alive: connections are reused. */
	assert_true(accepts >= 1);
	assert_true(accepts <= 2 * MANY_WINDOW);
	print_message("[ info     ] %u requests, %u in flight, %u connections,"
		      " %.0f requests/s\n", MANY_TOTAL, MANY_WINDOW, accepts,
		      MANY_TOTAL / ((double)dt / 1e9));
	ctx_finish(&x);
}

static void not_called_cb(void *ud, const struct http_response *r)
{
	(void)ud;
	(void)r;
	fail_msg("callback of a request that failed to start");
}

/* Refusals are synchronous: start returns the error and the callback is
 * never called. */
static void test_refuse_start(void **state)
{
	(void)state;
	struct tctx x;
	ctx_init(&x, NULL); /* https only */
	struct http_request r = get_req(url("/echo"));
	assert_int_equal(http_client_start(x.c, &r, not_called_cb, NULL,
					   NULL), -EPROTO);
	r.url = "HTTP://127.0.0.1:1/";
	assert_int_equal(http_client_start(x.c, &r, not_called_cb, NULL,
					   NULL), -EPROTO);
	r.url = "ftp://127.0.0.1:1/";
	assert_int_equal(http_client_start(x.c, &r, not_called_cb, NULL,
					   NULL), -EPROTO);
	r.url = "127.0.0.1:1/x"; /* no scheme: curl would guess http:// */
	assert_int_equal(http_client_start(x.c, &r, not_called_cb, NULL,
					   NULL), -EINVAL);
	r.url = "https://[::1";
	assert_int_equal(http_client_start(x.c, &r, not_called_cb, NULL,
					   NULL), -EINVAL);
	r.url = NULL;
	assert_int_equal(http_client_start(x.c, &r, not_called_cb, NULL,
					   NULL), -EINVAL);

	r.url = "https://127.0.0.1:1/";
	r.method = "GE T";
	assert_int_equal(http_client_start(x.c, &r, not_called_cb, NULL,
					   NULL), -EINVAL);
	r.method = "get";
	assert_int_equal(http_client_start(x.c, &r, not_called_cb, NULL,
					   NULL), -EINVAL);
	r.method = "GET";
	const char *bad[] = { "X-A: b\r\nX-Evil: 1" };
	r.headers = bad;
	r.nheaders = 1;
	assert_int_equal(http_client_start(x.c, &r, not_called_cb, NULL,
					   NULL), -EINVAL);
	const char *noname[] = { "no colon" };
	r.headers = noname;
	assert_int_equal(http_client_start(x.c, &r, not_called_cb, NULL,
					   NULL), -EINVAL);
	r.headers = NULL;
	assert_int_equal(http_client_start(x.c, &r, not_called_cb, NULL,
					   NULL), -EINVAL);
	r.nheaders = 0;
	r.body = "x";
	r.body_len = 1;
	assert_int_equal(http_client_start(x.c, &r, not_called_cb, NULL,
					   NULL), -EINVAL); /* GET with body */
	r.body = NULL;
	assert_int_equal(http_client_start(x.c, &r, not_called_cb, NULL,
					   NULL), -EINVAL); /* len, no body */
	r.body_len = 0;
	r.userpwd = "a:b\r\nX: y";
	assert_int_equal(http_client_start(x.c, &r, not_called_cb, NULL,
					   NULL), -EINVAL);
	r.userpwd = NULL;
	assert_int_equal(http_client_start(x.c, &r, NULL, NULL, NULL),
			 -EINVAL);
	assert_int_equal(http_client_start(NULL, &r, not_called_cb, NULL,
					   NULL), -EINVAL);
	assert_int_equal(http_client_inflight(x.c), 0);

	assert_int_equal(http_client_new(NULL, NULL, &x.c), -EINVAL);
	http_job_cancel(NULL);
	http_client_close(NULL, NULL, NULL);
	assert_int_equal(http_client_inflight(NULL), 0);

	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.ncalls, 0);
	ctx_finish(&x);
}

/* https:// to a plain-HTTP port: the TLS handshake fails; the callback
 * path, not a start error. (MHD logs "Request malformed" for the
 * ClientHello: expected.) */
static void test_tls_fail(void **state)
{
	(void)state;
	struct tctx x;
	ctx_init(&x, NULL);
	char u[64];
	snprintf(u, sizeof u, "https://127.0.0.1:%u/echo", (unsigned)the_port);
	struct http_request r = get_req(u);
	struct slot s = { 0 };
	start(&x, &r, &s);
	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(s.calls, 1);
	assert_true(s.error < 0);
	assert_int_not_equal(s.error, -ECANCELED);
	assert_false(s.sent);
	assert_string_not_equal(s.errmsg, "");
	ctx_finish(&x);
	slot_clear(&s);
}

static void start_in_cancel(struct slot *s)
{
	struct tctx *x = s->x;
	assert_int_equal(s->error, -ECANCELED);
	assert_false(x->closed); /* callbacks first, then close_cb */
	struct http_request r = get_req(url("/echo"));
	x->start_in_cb = http_client_start(x->c, &r, not_called_cb, NULL,
					   NULL);
}

static void close_timer_cb(uv_timer_t *t)
{
	struct tctx *x = t->data;
	x->close_called = true;
	http_client_close(x->c, close_cb, x);
	assert_int_equal(x->ncalls, 1); /* only the first one so far */
	uv_close((uv_handle_t *)t, NULL);
}

static void test_close_inflight(void **state)
{
	(void)state;
	uint16_t port;
	int fd = raw_socket(true, &port);
	char u[64];
	snprintf(u, sizeof u, "http://127.0.0.1:%u/x", (unsigned)port);

	struct tctx x;
	ctx_init(&x, &http_ok);
	/* One finished request leaves a pooled keep-alive connection. */
	struct slot s0 = { 0 };
	struct http_request r0 = get_req(url("/echo"));
	start(&x, &r0, &s0);
	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(s0.calls, 1);
	assert_int_equal(s0.status, 200);

	struct slot s[5] = { 0 };
	struct http_request r = get_req(u);
	for (int i = 0; i < 5; i++) {
		s[i].then = start_in_cancel;
		start(&x, &r, &s[i]);
	}
	assert_int_equal(http_client_inflight(x.c), 5);
	uv_timer_t t;
	uv_timer_init(&x.loop, &t);
	t.data = &x;
	uv_timer_start(&t, close_timer_cb, 50, 0);
	assert_int_equal(uv_run(&x.loop, UV_RUN_DEFAULT), 0);
	assert_true(x.closed);
	assert_int_equal(x.calls_at_close, 6);
	assert_int_equal(x.start_in_cb, -ESHUTDOWN);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(s[i].calls, 1);
		assert_int_equal(s[i].error, -ECANCELED);
		assert_true(s[i].sent);
		slot_clear(&s[i]);
	}
	ctx_finish(&x);
	slot_clear(&s0);
	close(fd);
}

static void test_close_idle(void **state)
{
	(void)state;
	struct tctx x;
	ctx_init(&x, NULL);
	ctx_finish(&x);
	assert_int_equal(x.calls_at_close, 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	alarm(120); /* a hung loop fails instead of blocking the suite */
	log_set_level(LOG_LVL_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_user_agent),
		cmocka_unit_test(test_post),
		cmocka_unit_test(test_basic_auth),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_cancel_many),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_refuse_start),
		cmocka_unit_test(test_tls_fail),
		cmocka_unit_test(test_close_inflight),
		cmocka_unit_test(test_close_idle),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
