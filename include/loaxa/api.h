/* api.h: the control API — libmicrohttpd in external-epoll mode on our
 * libuv loop, a routing table of method + path -> handler, JSON in and out.
 *
 * Listens on a unix socket (always) and optionally on TCP, where a bearer
 * token is required. Holds no business rules: handlers translate between
 * JSON and the directory module. See docs/api.md for the contract.
 */
#ifndef LOAXA_API_H
#define LOAXA_API_H

#include <uv.h>

#include "loaxa/broadcast.h"
#include "loaxa/config.h"
#include "loaxa/directory.h"
#include "loaxa/engine.h"
#include "loaxa/store.h"

struct api;

struct api_deps {
	uv_loop_t *loop;
	struct store *store;
	struct directory *dir;
	struct engine *engine;
	struct broadcaster *bc;
	int64_t started_ms;
};

/* Bind the listeners. On failure returns -errno with a line for a person
 * in err ("cannot bind /run/loaxa/api.sock: Permission denied"). */
int api_start(const struct api_deps *deps, const struct config *cfg,
	      struct api **ret, char *err, size_t errsz);

/* Apply the reloadable settings of a new config (body limit). */
void api_reload(struct api *a, const struct config *cfg);

/* Graceful stop: stop accepting, let in-flight requests finish (at most
 * timeout_ms), then close everything and call cb once. */
void api_stop(struct api *a, uint64_t timeout_ms, void (*cb)(void *ud),
	      void *ud);

/* Free after api_stop's callback (or if never started). */
struct api *api_free(struct api *a);

/* Number of connections open now (for status and tests). */
unsigned api_connections(const struct api *a);

#endif
