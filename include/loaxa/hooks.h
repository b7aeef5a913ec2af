/* hooks.h: the outbound event hook. With [hooks] url set, loaxad POSTs
 * the delivery status changes recorded in the store's outbox (store.h,
 * "the event hook's outbox") to that URL, oldest first, in batches of up
 * to 100 events as a JSON array, with the headers
 *   Content-Type: application/json
 *   X-Loaxa-Signature: sha256=<hex HMAC-SHA256(secret, body)>
 *   X-Loaxa-Delivery: <first outbox id>-<last outbox id>
 * A 2xx answer deletes the batch; anything else (or no answer in 10 s)
 * keeps it and tries again after 1 s, doubling up to 10 min: events are
 * never dropped, and a batch may arrive twice (the receiver deduplicates
 * on X-Loaxa-Delivery). While failing, a warning is logged at the first
 * failure and then at most once an hour.
 */
#ifndef LOAXA_HOOKS_H
#define LOAXA_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "loaxa/config.h"
#include "loaxa/store.h"

#define HOOKS_BATCH 100
#define HOOKS_TIMEOUT_MS 10000
#define HOOKS_BACKOFF_INITIAL_MS 1000
#define HOOKS_BACKOFF_MAX_MS (10 * 60 * 1000)
#define HOOKS_POLL_MS 1000

struct hooks;

/* Read the secret of cfg (hook_url must be set), make the HTTP client,
 * enable the store's outbox and start sending. -errno with a reason in
 * err; then nothing was started. */
int hooks_new(uv_loop_t *loop, struct store *s, const struct config *cfg,
	      struct hooks **ret, char *err, size_t errsz);
/* Stop: cancel the request in flight (its events stay in the outbox),
 * close every handle, free h, then call cb (may be NULL). The store's
 * outbox stays enabled, so changes made until the exit are kept for the
 * next start. h NULL: cb is called at once. */
void hooks_close(struct hooks *h, void (*cb)(void *ud), void *ud);
/* SIGHUP: with the url, allow_http or the secret's content changed,
 * replace *hp (closing the old one); without a url, close it and stop
 * recording events. Returns 0 (also when nothing changed), or -errno
 * with a reason in err, *hp then NULL (and the outbox still enabled:
 * events are kept until a working configuration). */
int hooks_reload(struct hooks **hp, uv_loop_t *loop, struct store *s,
		 const struct config *nc, char *err, size_t errsz);
/* Hex HMAC-SHA256 of body with key, into out (65 bytes). */
void hooks_sign(const char *key, const char *body, size_t len,
		char out[static 65]);
/* Delay before the next try of a batch that failed `attempts` times
 * before this failure (0 for the first): 1 s doubling, at most 10 min. */
uint64_t hooks_backoff_ms(int attempts);

#endif
