/* http_client.h: outbound HTTP — the single CURLM of loaxad, driven by the
 * libuv loop (curl's multi_socket API: uv_poll_t per socket, one uv_timer_t
 * for curl's timeout). The only module that includes <curl/curl.h>.
 *
 * Contract (libuv's): if http_client_start() returns an error, the callback
 * is never called; otherwise it is called exactly once, with -ECANCELED
 * when the job is cancelled or the client closed. Callbacks run from a
 * deferred step of the loop, never inside a curl callback, so they may
 * start new requests or cancel others.
 */
#ifndef LOAXA_HTTP_CLIENT_H
#define LOAXA_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct http_client;
struct http_job;

struct http_client_opts {
	unsigned max_connections;   /* total, CURLMOPT_MAX_TOTAL_CONNECTIONS */
	unsigned max_host_connections;
	bool allow_http;            /* plain http:// (tests, sandbox); else
				       https only */
	const char *user_agent;     /* default "loaxa/<version>" */
};

struct http_request {
	const char *method;         /* "GET", "POST" */
	const char *url;
	const char *const *headers; /* "Name: value" lines */
	size_t nheaders;
	const char *body;           /* copied by start */
	size_t body_len;
	const char *userpwd;        /* HTTP Basic "user:password", or NULL */
	uint32_t connect_timeout_ms;/* 0 = 5000 */
	uint32_t timeout_ms;        /* total; 0 = 30000 */
	size_t max_response;        /* 0 = 1 MiB; larger -> error -E2BIG */
};

struct http_response {
	int status;                 /* HTTP status, 0 when none was received */
	int error;                  /* 0, or -ETIMEDOUT, -ECONNREFUSED,
				       -ECONNRESET, -EHOSTUNREACH, -E2BIG,
				       -ECANCELED, -EPROTO, -EIO */
	const char *errmsg;         /* curl's error text ("" if none) */
	const char *body;           /* NUL-terminated, body_len bytes */
	size_t body_len;
	int64_t retry_after_ms;     /* Retry-After (seconds or HTTP-date),
				       -1 when absent */
	uint64_t latency_ms;        /* start to completion */
	bool sent;                  /* the request may have reached the peer
				       (connected and started sending) */
};

typedef void (*http_done_cb)(void *ud, const struct http_response *resp);

int http_client_new(uv_loop_t *loop, const struct http_client_opts *opts,
		    struct http_client **ret);
/* ret_job may be NULL. */
int http_client_start(struct http_client *c, const struct http_request *req,
		      http_done_cb cb, void *ud, struct http_job **ret_job);
void http_job_cancel(struct http_job *j);
unsigned http_client_inflight(const struct http_client *c);
/* Cancel every job (their callbacks run with -ECANCELED), close every
 * handle, then call cb once; the client is freed after cb returns. */
void http_client_close(struct http_client *c, void (*cb)(void *ud), void *ud);

#endif
