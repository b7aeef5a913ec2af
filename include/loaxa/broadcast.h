/* broadcast.h: creating and steering broadcasts — the rules.
 *
 * Validates a request (times as people type them, groups by name or code,
 * reminders, expiry), honours idempotency keys, and turns cancel, pause,
 * resume and retry into store changes plus a kick to the engine. Knows no
 * HTTP (api translates) and sends nothing (engine does).
 */
#ifndef LOAXA_BROADCAST_H
#define LOAXA_BROADCAST_H

#include "loaxa/config.h"
#include "loaxa/directory.h"
#include "loaxa/engine.h"
#include "loaxa/model.h"
#include "loaxa/store.h"

/* A time given either as text (as typed) or as epoch ms. */
struct btime {
	const char *text;   /* NULL when not given as text */
	int64_t ms;         /* used when text is NULL; 0 = not given */
};

struct broadcast_req {
	const char *kind;           /* "meeting" | "notice" */
	const char *priority;       /* NULL/"normal" | "urgent" */
	const char *title, *body, *place, *agenda;
	struct btime starts_at, send_at, expires_at;
	bool all_groups;
	const char *const *groups;
	size_t ngroups;
	const char *const *reminders;
	size_t nreminders;
	const char *idem_key;
	/* for broadcast_create: the asker's user name (stored), and whether
	 * the broadcast must wait for a second official's approval (the
	 * caller decides, with auth_needs_approval) */
	const char *requested_by;
	bool awaiting_approval;
};

struct broadcaster;

int broadcaster_new(struct store *s, struct directory *d, struct engine *e,
		    struct broadcaster **ret);
struct broadcaster *broadcaster_free(struct broadcaster *b);
/* The config in force (time zone, TTL, templates). Borrowed. */
void broadcaster_set_config(struct broadcaster *b, const struct config *c);

/* Validate into a broadcast (not stored): field errors in ve. */
int broadcast_build(struct broadcaster *bc, const struct broadcast_req *req,
		    int64_t now_ms, struct verrors *ve, struct broadcast *ret);

/* Create. -EINVAL with ve; -ENODEV when no route is configured. When the
 * idempotency key was used before, returns 0 with *ret_existing true and
 * the earlier broadcast in *ret. */
int broadcast_create(struct broadcaster *bc, const struct broadcast_req *req,
		     struct verrors *ve, struct broadcast *ret,
		     bool *ret_existing);

/* -ENOENT; -EALREADY when the state does not allow it (cancel a done
 * broadcast, resume one that is not paused). */
int broadcast_cancel(struct broadcaster *bc, int64_t id);
int broadcast_pause(struct broadcaster *bc, int64_t id);
int broadcast_resume(struct broadcaster *bc, int64_t id);
/* A broadcast awaiting approval: approve makes it scheduled (the engine
 * then starts it as for a resume); reject cancels it. -ENOENT;
 * -EALREADY when it is not awaiting approval. */
int broadcast_approve(struct broadcaster *bc, int64_t id,
		      const char *approved_by);
int broadcast_reject(struct broadcaster *bc, int64_t id);
/* Returns the number of deliveries requeued (>= 0); -EALREADY for a
 * cancelled broadcast; -EIDRM when retention pruned its details (or is
 * pruning them: prune.h), which it never reopens. */
int broadcast_retry(struct broadcaster *bc, int64_t id);

/* "19h30 thứ Bảy, 05/12/2026" in the configured time zone. */
void broadcast_time_text(const struct broadcaster *bc, int64_t ms, char *out,
			 size_t n);

#endif
