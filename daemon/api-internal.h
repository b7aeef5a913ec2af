/* api-internal.h: what the API's files share (api.c: the listeners, the
 * control routes; api-webhooks.c: the providers' webhooks). */
#ifndef LOAXA_API_INTERNAL_H
#define LOAXA_API_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>

#include "loaxa/config.h"
#include "loaxa/store.h"
#include "loaxa/util.h"

#define API_MAX_SEGMENTS 8

struct api;

/* What a handler sees and fills. */
struct rctx {
	struct api *api;
	struct MHD_Connection *conn;
	const char *method;
	const char *seg[API_MAX_SEGMENTS];  /* path segments after /v1 */
	size_t nseg;
	const char *body;
	size_t body_len;
	/* response */
	unsigned status;
	json_t *json;       /* owned */
	char *raw;          /* owned; used when json is NULL */
	size_t raw_len;
	const char *ctype;
	const char *disposition;
	int fd;             /* owned; a file to send when >= 0 */
	uint64_t fd_size;
};

void api__reply_json(struct rctx *rc, unsigned status, json_t *j);
void api__reply_error(struct rctx *rc, unsigned status, const char *code,
		      const char *fmt, ...) _printf_(4, 5);
/* A query parameter, decoded; NULL when absent. */
const char *api__query(struct rctx *rc, const char *key);

/* The webhook side: secrets read from the config, routes under
 * /webhooks/. */
struct api_webhooks;
int api__webhooks_new(struct store *s, const struct config *cfg,
		      struct api_webhooks **ret, char *err, size_t errsz);
struct api_webhooks *api__webhooks_free(struct api_webhooks *w);
void api__webhooks_dispatch(struct api_webhooks *w, struct rctx *rc,
			    const char *url);

#endif
