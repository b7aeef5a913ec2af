/* engine.h: the broadcast engine — fan-out, scheduling and dispatch, on
 * the loop.
 *
 *  - Fan-out: a wave whose send time has come is materialised in chunks of
 *    [broadcast] fanout_chunk households, one chunk per loop iteration, so
 *    the API keeps answering during a million-household broadcast.
 *  - Scheduling: one timer wakes the engine for the next send time, retry,
 *    token refill, breaker probe or expiry; quiet hours hold normal
 *    priority; expired deliveries are recorded as expired.
 *  - Dispatch: urgent waves before normal, round robin between waves of the
 *    same priority; per channel a sliding-window rate limit (messages and
 *    SMS segments per second), a cap on requests in flight and a circuit
 *    breaker; retries with capped exponential backoff and jitter; fallback
 *    along the configured route; Zalo OAuth tokens refreshed and rotated
 *    (the new pair committed before use).
 *
 * Crash safety: a delivery is marked "sending" (committed) before its
 * request leaves; outcomes are committed before any further request for
 * the same delivery. At start, deliveries left "sending" are re-queued and
 * flagged as possible duplicates.
 */
#ifndef LOAXA_ENGINE_H
#define LOAXA_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "loaxa/config.h"
#include "loaxa/store.h"

struct engine;

int engine_new(uv_loop_t *loop, struct store *s, const struct config *cfg,
	       struct engine **ret, char *err, size_t errsz);
/* Recover after a crash, load the open waves and start working. */
int engine_start(struct engine *e);
/* Apply a new configuration (channels, limits, templates). */
int engine_reload(struct engine *e, const struct config *cfg, char *err,
		  size_t errsz);
/* New or changed work: a broadcast created, resumed, retried, cancelled. */
void engine_kick(struct engine *e);
/* Let in-flight requests finish (at most grace_ms; then they are cancelled
 * and left "sending", to be recovered at the next start), commit their
 * outcomes, close every handle, then call cb. */
void engine_stop(struct engine *e, uint64_t grace_ms, void (*cb)(void *ud),
		 void *ud);
struct engine *engine_free(struct engine *e);

/* Is a route configured at all? */
bool engine_has_route(const struct engine *e);

enum chan_state { CS_OK, CS_RATE_LIMITED, CS_CIRCUIT_OPEN, CS_AUTH_FAILED,
		  CS_CONFIG_ERROR, CS_REFRESHING };
const char *chan_state_name(enum chan_state s);

struct engine_chan_status {
	const char *name, *driver;
	enum chan_state state;
	const char *message;        /* last problem, "" if none */
	unsigned in_flight;
	uint64_t sent, failed, attempts, rate_waits;
	double rate;
	int64_t token_expires_ms;   /* Zalo OAuth, 0 = n/a */
};
struct engine_status {
	int64_t queue_urgent, queue_normal, oldest_ms;
	size_t nchannels;
	struct engine_chan_status chans[32];
};
/* Queue figures are refreshed at most once a second. */
void engine_status(struct engine *e, struct engine_status *ret);

/* Render the message each channel of the route would send for a broadcast
 * and one sample household (preview, and the CLI's SMS warning). */
struct engine_preview {
	size_t n;
	struct {
		char channel[40];
		char driver[16];
		char *text;
		int encoding, segments;  /* -1 when not SMS */
		size_t units;
	} m[32];
};
int engine_preview(struct engine *e, const struct broadcast *b,
		   const char *name, const char *group_name,
		   struct engine_preview *ret);
void engine_preview_clear(struct engine_preview *p);

#endif
