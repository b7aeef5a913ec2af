/* http.c: the request lifecycle of loaxa-sandbox on libmicrohttpd.
 *
 * MHD calls http_access_cb several times per request: once with the
 * headers (we route, count the arrival and let the rules decide), once per
 * body chunk (collected up to SB_BODY_MAX), and once more at the end (we
 * build the reply). A reply is queued on that last call, never on the
 * first, so keep-alive survives (DEPS.md).
 *
 * Latency without blocking: a reply that must wait is built at once, the
 * connection is suspended (MHD_suspend_connection) and put in a min-heap
 * by deadline; the timer thread resumes it when the deadline passes and
 * MHD calls us again to queue the stored reply. A worker thread never
 * sleeps. The limit is the connection limit (--max-connections): every
 * delayed or hanging request holds one connection and one fd.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sandbox.h"

#define SB_DRAIN_MAX ((uint64_t)16 << 20)

/* ---- reply builders ---- */

void reply_json(struct reply *rp, unsigned status, json_t *o)
{
	free(rp->body);
	rp->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	rp->status = status;
	rp->ctype = "application/json; charset=utf-8";
	rp->len = rp->body ? strlen(rp->body) : 0;
	if (!rp->body) {        /* out of memory: still answer something */
		rp->status = 500;
		rp->ctype = "text/plain";
	}
}

void reply_text(struct reply *rp, unsigned status, const char *ctype,
		const char *text)
{
	free(rp->body);
	rp->body = strdup(text);
	rp->len = rp->body ? strlen(rp->body) : 0;
	rp->status = status;
	rp->ctype = ctype;
}

void reply_header(struct reply *rp, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (rp->n_hdr == REPLY_MAX_HEADERS)
		return;
	rp->hdr[rp->n_hdr].name = name;
	va_start(ap, fmt);
	vsnprintf(rp->hdr[rp->n_hdr].value, sizeof(rp->hdr[0].value), fmt, ap);
	va_end(ap);
	rp->n_hdr++;
}

void reply_result(struct reply *rp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rp->result, sizeof(rp->result), fmt, ap);
	va_end(ap);
}

const char *sreq_header(struct sreq *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *sreq_query(struct sreq *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND,
					   name);
}

/* ---- timer thread and heap of delayed replies ---- */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started, stopping;
	struct sreq **heap;
	size_t len, cap;
} T = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static void heap_swap(size_t a, size_t b)
{
	struct sreq *t = T.heap[a];

	T.heap[a] = T.heap[b];
	T.heap[b] = t;
	T.heap[a]->heap_idx = a;
	T.heap[b]->heap_idx = b;
}

static void heap_up(size_t i)
{
	while (i > 0 && T.heap[(i - 1) / 2]->deadline > T.heap[i]->deadline) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < T.len && T.heap[l]->deadline < T.heap[m]->deadline)
			m = l;
		if (r < T.len && T.heap[r]->deadline < T.heap[m]->deadline)
			m = r;
		if (m == i)
			return;
		heap_swap(i, m);
		i = m;
	}
}

static void heap_remove(size_t i)
{
	struct sreq *r = T.heap[i];

	T.len--;
	if (i != T.len) {
		T.heap[i] = T.heap[T.len];
		T.heap[i]->heap_idx = i;
		heap_down(i);
		heap_up(i);
	}
	r->heap_idx = SIZE_MAX;
}

/* Queue r for resumption at r->deadline. -ECANCELED when stopping. */
static int timer_add(struct sreq *r)
{
	int ret = 0;

	pthread_mutex_lock(&T.lock);
	if (T.stopping) {
		ret = -ECANCELED;
	} else if (T.len == T.cap) {
		size_t cap = T.cap ? T.cap * 2 : 256;
		struct sreq **h = realloc(T.heap, cap * sizeof(*h));

		if (!h)
			ret = -ENOMEM;
		else {
			T.heap = h;
			T.cap = cap;
		}
	}
	if (ret == 0) {
		T.heap[T.len] = r;
		r->heap_idx = T.len++;
		heap_up(r->heap_idx);
		if (r->heap_idx == 0)
			pthread_cond_signal(&T.cond);
	}
	pthread_mutex_unlock(&T.lock);
	return ret;
}

/* Resume the request at the top of the heap (lock held). r must not be
 * touched after MHD_resume_connection: a worker may complete it. */
static void resume_top(bool abort)
{
	struct sreq *r = T.heap[0];

	heap_remove(0);
	r->resumed = true;
	if (abort || r->reply.hang)
		r->abort = true;
	MHD_resume_connection(r->conn);
}

static void *timer_main(void *arg)
{
	int64_t next_flush = sb_mono_ms() + 100;

	(void)arg;
	pthread_mutex_lock(&T.lock);
	while (!T.stopping) {
		int64_t now = sb_mono_ms(), wake;
		struct timespec ts;

		while (T.len && T.heap[0]->deadline <= now)
			resume_top(false);
		if (now >= next_flush) {
			pthread_mutex_unlock(&T.lock);
			state_record_flush();
			pthread_mutex_lock(&T.lock);
			next_flush = now + 100;
			continue;
		}
		wake = next_flush;
		if (T.len && T.heap[0]->deadline < wake)
			wake = T.heap[0]->deadline;
		ts.tv_sec = (time_t)(wake / 1000);
		ts.tv_nsec = (long)(wake % 1000) * 1000000;
		pthread_cond_timedwait(&T.cond, &T.lock, &ts);
	}
	while (T.len)
		resume_top(true);
	pthread_mutex_unlock(&T.lock);
	state_record_flush();
	return NULL;
}

int timer_start(void)
{
	pthread_condattr_t ca;
	int r;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	r = pthread_cond_init(&T.cond, &ca);
	pthread_condattr_destroy(&ca);
	if (r)
		return -r;
	r = pthread_create(&T.thread, NULL, timer_main, NULL);
	if (r) {
		pthread_cond_destroy(&T.cond);
		return -r;
	}
	T.started = true;
	return 0;
}

/* Resume every suspended connection (they close without an answer) and
 * refuse new suspensions. MHD_resume_connection() only marks a connection;
 * its worker moves it back at its next turn or, at the latest, in
 * MHD_stop_daemon() before that checks for suspended ones. */
void timer_stop(void)
{
	if (!T.started)
		return;
	pthread_mutex_lock(&T.lock);
	T.stopping = true;
	pthread_cond_signal(&T.cond);
	pthread_mutex_unlock(&T.lock);
	pthread_join(T.thread, NULL);
	pthread_cond_destroy(&T.cond);
	free(T.heap);
	T.heap = NULL;
	T.len = T.cap = 0;
	T.started = false;
}

/* ---- the request lifecycle ---- */

static struct sreq *sreq_new(struct MHD_Connection *conn, const char *url,
			     const char *method)
{
	struct sreq *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->conn = conn;
	r->heap_idx = SIZE_MAX;
	snprintf(r->method, sizeof(r->method), "%s", method ? method : "");
	r->url = text_sanitize(url ? url : "", url ? strlen(url) : 0);
	if (!r->url) {
		free(r);
		return NULL;
	}
	prov_route(r);
	return r;
}

static void sreq_free(struct sreq *r)
{
	if (!r)
		return;
	free(r->url);
	free(r->body);
	free(r->reply.body);
	free(r->act.error_body);
	free(r->act.error_ctype);
	free(r);
}

static enum MHD_Result send_reply(struct sreq *r)
{
	struct reply *rp = &r->reply;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned i;

	if (rp->body) {
		resp = MHD_create_response_from_buffer(rp->len, rp->body,
						       MHD_RESPMEM_MUST_FREE);
		if (resp)
			rp->body = NULL;
	} else {
		resp = MHD_create_response_from_buffer(0, (void *)"",
						       MHD_RESPMEM_PERSISTENT);
	}
	if (!resp)
		return MHD_NO;
	if (rp->ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					rp->ctype);
	for (i = 0; i < rp->n_hdr; i++)
		MHD_add_response_header(resp, rp->hdr[i].name,
					rp->hdr[i].value);
	ret = MHD_queue_response(r->conn, rp->status ? rp->status : 500, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void body_append(struct sreq *r, const char *data, size_t n)
{
	if (r->too_big)
		return;
	if (n > SB_BODY_MAX - r->body_len) {
		r->too_big = true;
		free(r->body);
		r->body = NULL;
		r->body_len = r->body_cap = 0;
		return;
	}
	if (r->body_len + n + 1 > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 1024;
		char *p;

		while (cap < r->body_len + n + 1)
			cap *= 2;
		p = realloc(r->body, cap);
		if (!p) {
			r->too_big = true;
			return;
		}
		r->body = p;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
}

static void reply_too_big(struct sreq *r)
{
	json_t *o = json_pack("{s:s,s:I}", "error", "request body too large",
			      "max_bytes", (json_int_t)SB_BODY_MAX);

	reply_json(&r->reply, 413, o);
	reply_result(&r->reply, "http_413");
}

static void handle(struct sreq *r)
{
	switch (r->route) {
	case ROUTE_CONTROL:
		control_handle(r);
		break;
	case ROUTE_PROVIDER:
		prov_handle(r);
		break;
	case ROUTE_UNKNOWN:
	default:
		reply_json(&r->reply, 404,
			   json_pack("{s:s,s:s,s:s}", "error", "not found",
				     "method", r->method, "path", r->url));
		reply_result(&r->reply, "http_404");
		break;
	}
}

enum MHD_Result http_access_cb(void *cls, struct MHD_Connection *conn,
			       const char *url, const char *method,
			       const char *version, const char *upload_data,
			       size_t *upload_size, void **con_cls)
{
	struct sreq *r = *con_cls;
	int64_t delay;

	(void)cls;
	(void)version;
	if (!r) {
		const char *cl;

		r = sreq_new(conn, url, method);
		if (!r)
			return MHD_NO;
		*con_cls = r;
		state_arrive(r);
		if (r->route == ROUTE_PROVIDER && r->act.mode == MODE_REFUSE) {
			r->reply.drop = true;
			reply_result(&r->reply, "refused");
			state_finish(r);
			return MHD_NO;
		}
		/* Bodies over SB_BODY_MAX are read and thrown away, then
		 * answered 413, so a client that writes its whole body before
		 * reading still gets the answer. Beyond SB_DRAIN_MAX declared
		 * bytes we answer at once and MHD closes the connection. */
		cl = MHD_lookup_connection_value(
			conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && (!text_is_digits(cl, 1, 12) ||
			   strtoull(cl, NULL, 10) > SB_DRAIN_MAX)) {
			r->too_big = true;
			reply_too_big(r);
			state_finish(r);
			return send_reply(r);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		body_append(r, upload_data, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->waiting) {
		if (r->abort)
			return MHD_NO;
		if (!r->resumed)
			return MHD_YES;
		r->waiting = false;
		return send_reply(r);
	}
	if (r->too_big && r->reply.status)
		return MHD_YES;         /* 413 already queued */
	if (r->too_big)
		reply_too_big(r);
	else
		handle(r);
	state_finish(r);
	if (r->reply.drop)
		return MHD_NO;
	delay = r->route == ROUTE_PROVIDER ? r->act.latency_ms : 0;
	if (r->reply.hang)
		delay = the_config.hang_max_ms;
	if (delay > 0) {
		r->deadline = sb_mono_ms() + delay;
		r->waiting = true;
		MHD_suspend_connection(conn);
		if (timer_add(r) < 0) {
			/* Shutting down (or out of memory): close. */
			r->abort = true;
			MHD_resume_connection(conn);
		}
		return MHD_YES;
	}
	if (r->reply.hang)
		return MHD_NO;
	return send_reply(r);
}

void http_completed_cb(void *cls, struct MHD_Connection *conn,
		       void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct sreq *r = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!r)
		return;
	if (r->heap_idx != SIZE_MAX) {
		/* Only if MHD closed a connection we still had queued. */
		pthread_mutex_lock(&T.lock);
		if (r->heap_idx != SIZE_MAX)
			heap_remove(r->heap_idx);
		pthread_mutex_unlock(&T.lock);
	}
	sreq_free(r);
	*con_cls = NULL;
}
