/* prune.h: retention ([daemon] retention). Part of the store module
 * (daemon/store-prune.c); loaxad's main.c runs it an hour apart, in small
 * steps on the loop.
 *
 * A broadcast finished (done or cancelled) longer than the retention ago
 * loses its details: the deliveries (one row per household and wave),
 * their attempts and the receipts matched to them. What it keeps: the
 * broadcast itself, its groups and waves, the households' replies (their
 * own words and RSVPs), the event hook's outbox, and a summary of its
 * counts written before the first row goes, so the API shows the same
 * figures afterwards (store_prune_summary). Receipts that matched no
 * delivery and are older than the retention go too, and so do expired
 * console sessions.
 *
 * Glossary: "cutoff" = now - retention; a broadcast is "pruned" once
 * broadcasts.pruned_ms is set (all its details gone); "pruning" while its
 * summary is stored but rows remain.
 *
 * SQLite reuses the pages freed by the deletes for later rows; the file
 * does not shrink (the database is not in auto_vacuum mode; VACUUM by
 * hand, with loaxad stopped, gives the space back to the file system).
 */
#ifndef LOAXA_PRUNE_H
#define LOAXA_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "loaxa/store.h"

/* What steps did. broadcast_id and its three counts describe the
 * broadcast being pruned: a step working on another broadcast than the
 * previous one starts them again from 0; the others add up over the steps
 * given the same struct (start with it zeroed). */
struct prune_stats {
	int64_t broadcast_id;   /* worked on by the last step; 0 = none */
	int64_t deliveries, attempts, receipts;  /* its rows deleted */
	bool broadcast_done;    /* the last step finished it (pruned_ms) */
	int64_t broadcasts;     /* broadcasts finished, in all */
	int64_t unmatched_receipts;  /* unmatched receipts deleted */
	int64_t sessions;       /* expired console sessions deleted */
};

/* One short step of pruning, in one transaction of its own (call it
 * outside any transaction): the oldest broadcast that finished before
 * cutoff_ms and is not pruned yet gets its summary stored (a step of its
 * own, once), then loses at most max_rows rows (attempts, matched
 * receipts, deliveries, delivery by delivery); the step that finds none
 * left sets its pruned_ms. When no such broadcast is left, a step deletes
 * at most max_rows unmatched receipts received before cutoff_ms, and the
 * last one the sessions expired at now_ms. *ret_more is true while there
 * is more to do: call again (later, to let the loop run between).
 * max_rows 0 counts as 1. Returns 0 or -errno (store.h; nothing of the
 * failed step is kept). */
int store_prune_step(struct store *s, int64_t cutoff_ms, unsigned max_rows,
		     int64_t now_ms, struct prune_stats *st, bool *ret_more);

/* The summary of a broadcast whose details are pruned, or being pruned
 * (from the step that stored it): a JSON object (malloc'd, caller frees)
 * with the members the API shows for a broadcast, in the same shape:
 *   "counts": {"queued":0,"sending":0,"sent":3,...every status},
 *   "progress": {"total":N,"final":N,"percent":100.0},
 *   "unconfirmed": N (sent, no receipt, when pruning began),
 *   "started_ms": first send or null,
 *   "rsvp": {"yes":N,"no":N} (meetings only),
 *   "by_group": {"2A":{"sent":3,...}}, "by_channel": {"zns":{...}},
 * plus "pruned_ms": when pruning began (the API's "pruned_at").
 * -ENOENT when the broadcast does not exist or is not pruned. */
int store_prune_summary(struct store *s, int64_t id, char **ret_json);

#endif
