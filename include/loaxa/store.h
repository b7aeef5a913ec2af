/* store.h: every SQL statement of loaxad lives behind this header.
 *
 * One SQLite file in WAL mode, opened by one loaxad at a time (an exclusive
 * flock on "<db>.lock" refuses a second daemon), numbered migrations in
 * PRAGMA user_version, prepared statements kept for the life of the store.
 * Callers see typed functions and -errno results, never SQL, so another
 * backend (PostgreSQL) can be added behind the same functions.
 *
 * Errors: -ENOENT no such row, -EEXIST uniqueness violated, -EINVAL bad
 * argument (a NULL name, more than HOUSEHOLD_MAX_PHONES phones, a phone
 * listed twice, a group_id naming no group), -ENOSPC disk full, -EROFS
 * read-only, -EBUSY locked by another program (after 250 ms; never spins),
 * -EBADMSG corrupt or not a database, -ESTALE database newer than this
 * binary, -ENOMEM, -EIO other; store_errmsg() has SQLite's own words (or
 * ours, e.g. "phones[1] belongs to household 17") for the log; it never
 * holds a phone number.
 *
 * Not re-entrant from list callbacks: a callback may read (store_*_get) but
 * must not start the same list again (-EINVAL) and should not write.
 */
#ifndef LOAXA_STORE_H
#define LOAXA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loaxa/model.h"

/* Schema version this binary writes (PRAGMA user_version).
 * 1: groups, households, phones; 2: their indexes and the meta table;
 * 3: broadcasts; 4: receipts and replies; 5: the event hook's outbox. */
#define STORE_SCHEMA_VERSION 8

struct store;

/* Open (creating if needed) and migrate. On failure returns -errno, leaves
 * *ret alone and writes a one-line explanation for a person into err
 * (err may be NULL), e.g.
 * -EBUSY "database /x/loaxa.db is in use by another loaxad (pid 1234)",
 * -EACCES "cannot create database /x/loaxa.db: directory /x is not
 *   writable: Permission denied", -ENOENT "... directory /x does not exist",
 * -EROFS "database /x/loaxa.db is read-only (...)",
 * -EBADMSG "/x/loaxa.db is not a loaxa database or is corrupt (file is not
 *   a database)", -ESTALE "database /x/loaxa.db has schema version 3,
 *   newer than this loaxad (2): upgrade loaxad". A failed migration leaves
 * the file at its old version. The lock file stays after close. */
int store_open(const char *path, struct store **ret, char *err, size_t errsz);
struct store *store_close(struct store *s);
const char *store_errmsg(const struct store *s);
const char *store_path(const struct store *s);
int store_schema_version(struct store *s);

/* Explicit transactions. They nest: the outermost begin/commit/rollback is
 * BEGIN IMMEDIATE/COMMIT/ROLLBACK; inner levels are savepoints, so an inner
 * rollback undoes only that level's writes. After a failure between begin
 * and commit the caller calls store_rollback. store_commit either commits
 * its level or, failing, rolls it back and closes it itself (do not roll
 * back again). store_rollback always closes its level. commit/rollback
 * without a begin are -EINVAL. If SQLite rolls the whole transaction back
 * by itself (disk full, I/O error), every call fails with that error until
 * the caller has unwound to the outermost level. Functions that write
 * several rows use a level of their own, so they are atomic alone and
 * compose inside a caller's transaction. */
int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);

/* Groups. list calls cb once per group ordered by code (case-insensitive),
 * with households counted; cb returning non-zero stops and is returned.
 * Codes are unique regardless of case (-EEXIST); get_by_code ignores case.
 * insert/update stamp created_ms/updated_ms with the current time. */
int store_group_list(struct store *s,
		     int (*cb)(const struct group_rec *g, void *ud), void *ud);
int store_group_get(struct store *s, int64_t id, struct group_rec *ret);
int store_group_get_by_code(struct store *s, const char *code,
			    struct group_rec *ret);
int store_group_insert(struct store *s, const char *code, const char *name,
		       bool from_config, int64_t *ret_id);
int store_group_update(struct store *s, int64_t id, const char *name,
		       bool from_config);
/* Deletes the group; with force also its households. -ENOTEMPTY when it has
 * households and !force. */
int store_group_delete(struct store *s, int64_t id, bool force);

/* Households. insert/update write the record and replace its phones
 * (h->phones in order); -EEXIST if a phone belongs to another household
 * (nothing written; store_phone_owner names it). insert sets h->id (only on
 * success). Times are set by the caller: insert writes created_ms and
 * updated_ms, update writes updated_ms and keeps created_ms. get/list fill
 * group_code and the phones in order; a row breaking the model's limits
 * (written behind our back) is -EBADMSG. */
int store_household_insert(struct store *s, struct household *h);
int store_household_update(struct store *s, const struct household *h);
int store_household_get(struct store *s, int64_t id, struct household *ret);
int store_household_delete(struct store *s, int64_t id);
int store_household_set_opted_out(struct store *s, int64_t id, bool opted_out,
				  int64_t now_ms);
/* Ordered by id; see struct household_filter (NULL = all). q matches
 * name or address as a substring, ignoring ASCII case only (SQLite's
 * lower()), or, when q has digits, a phone containing those digits (a
 * leading 0 also matches as 84: "0912 345" finds +84912345...). */
int store_household_list(struct store *s, const struct household_filter *f,
			 int (*cb)(const struct household *h, void *ud),
			 void *ud);
/* The household owning e164, or -ENOENT. */
int store_phone_owner(struct store *s, const char *e164, int64_t *ret_id);

/* Copy the WAL into the database and truncate it (after a full disk, to
 * give its space back). -EBUSY inside a transaction. */
int store_checkpoint(struct store *s);

/* A consistent copy of the whole database into dest (a new file), made
 * with SQLite's online backup API while the store stays in use. Returns 0,
 * or -errno with a reason in err. */
int store_backup(struct store *s, const char *dest, char *err, size_t errsz);

struct store_counts {
	int64_t groups, households, phones, opted_out;
};
int store_counts(struct store *s, struct store_counts *ret);

/* ---- broadcasts, waves, deliveries (store-broadcast.c) ----------------
 *
 * A broadcast has waves (the first send, then one per meeting reminder);
 * a wave has one delivery per household. Deliveries move only forward:
 *   queued -> sending -> sent -> delivered -> read
 *   queued -> failed | expired | cancelled | skipped
 * (sending -> queued only at recovery after a crash, flagged as a
 * possible duplicate; failed -> queued only by an explicit retry). */

enum bcast_kind { BK_MEETING = 0, BK_NOTICE = 1 };
enum bcast_state { BS_SCHEDULED = 0, BS_ACTIVE = 1, BS_PAUSED = 2,
		   BS_CANCELLED = 3, BS_DONE = 4,
		   BS_AWAITING = 5 /* a second official must approve */,
		   BS_MAX };
enum wave_state { WS_PENDING = 0, WS_MATERIALISING = 1, WS_READY = 2,
		  WS_DONE = 3 };
enum delivery_status {
	DS_QUEUED = 0, DS_SENDING = 1, DS_SENT = 2, DS_DELIVERED = 3,
	DS_READ = 4, DS_FAILED = 5, DS_EXPIRED = 6, DS_CANCELLED = 7,
	DS_SKIPPED = 8, DS_MAX
};
const char *delivery_status_name(enum delivery_status s);
int delivery_status_parse(const char *s, enum delivery_status *ret);
const char *bcast_state_name(enum bcast_state s);
const char *bcast_kind_name(enum bcast_kind k);

#define BCAST_MAX_GROUPS 64
#define BCAST_MAX_REMINDERS 4

struct broadcast {
	int64_t id;
	enum bcast_kind kind;
	bool urgent;
	enum bcast_state state;
	char *title, *body, *place, *agenda;    /* NULL when not set */
	char *idem_key;                         /* NULL when none */
	int64_t starts_ms;      /* meeting start; 0 for a notice */
	int64_t send_at_ms, expires_ms;
	int64_t created_ms, updated_ms, finished_ms;
	bool all_groups;
	size_t ngroups;
	int64_t group_ids[BCAST_MAX_GROUPS];
	size_t nreminders;
	int64_t reminder_ms[BCAST_MAX_REMINDERS];  /* offsets before start */
	char *requested_by;     /* the asker's user name; NULL: unknown */
	char *approved_by;      /* the second official; NULL: none */
	int64_t approved_ms;    /* 0: not approved */
	int64_t pruned_ms;      /* 0: details kept (retention) */
};
void broadcast_clear(struct broadcast *b);

struct wave {
	int64_t id, broadcast_id;
	int seq;                /* 0 = first send, 1.. = reminders */
	int64_t send_at_ms, expires_ms;
	enum wave_state state;
	int64_t cursor;         /* last household id materialised */
	int64_t total;          /* deliveries materialised */
};

/* Insert a broadcast with its waves (b->id and each wave id are set). With
 * an idempotency key already used: -EEXIST and *ret_existing = its id. */
int store_broadcast_insert(struct store *s, struct broadcast *b,
			   struct wave *waves, size_t nwaves,
			   int64_t *ret_existing);
int store_broadcast_get(struct store *s, int64_t id, struct broadcast *ret);
int store_broadcast_set_state(struct store *s, int64_t id,
			      enum bcast_state st, int64_t now_ms);
/* awaiting_approval -> scheduled, recording who approved and when.
 * -ENOENT; -EALREADY when the broadcast is not awaiting approval. */
int store_broadcast_approve(struct store *s, int64_t id,
			    const char *approved_by, int64_t now_ms);
struct broadcast_filter {
	int state;              /* -1 any */
	int64_t before_id;      /* newest first: ids < before_id; 0 = none */
	uint32_t limit;
};
int store_broadcast_list(struct store *s, const struct broadcast_filter *f,
			 int (*cb)(const struct broadcast *b, void *ud),
			 void *ud);
/* Waves of broadcasts that are neither cancelled nor done, by id. */
int store_wave_list_open(struct store *s,
			 int (*cb)(const struct wave *w, void *ud), void *ud);
int store_wave_list(struct store *s, int64_t broadcast_id,
		    int (*cb)(const struct wave *w, void *ud), void *ud);
int store_wave_set_state(struct store *s, int64_t id, enum wave_state st);

/* Materialise up to chunk deliveries of wave w after w->cursor (updates
 * w->cursor, w->total, and the wave row). The first wave takes the
 * broadcast's groups' households (opted-out ones are recorded as skipped);
 * a reminder takes the households of the first wave. *ret_done when the
 * wave is complete. */
int store_wave_materialise(struct store *s, struct wave *w, bool all_groups,
			   bool urgent, uint32_t chunk, int64_t now_ms,
			   bool *ret_done);

/* A delivery as the dispatcher needs it. */
struct delivery {
	int64_t id, wave_id, broadcast_id, household_id, group_id;
	enum delivery_status status;
	int chain_pos;
	int attempts;           /* on the current channel */
	int total_attempts;
	bool possible_dup;
	int64_t next_at_ms;
	int phone_pos;          /* the phone tried at chain_pos (0 = first) */
	int nphones;            /* the household's phones */
	/* household, at the time of the query (NULL if since removed):
	 * phone is the first phone, cur_phone the one at phone_pos (NULL
	 * when there is none: the phones were edited since) */
	char *name, *group_name, *phone, *cur_phone, *zalo_user_id,
	     *messenger_psid;
};
void delivery_clear(struct delivery *d);

/* Due deliveries of a wave (queued, next_at <= now), oldest first. */
int store_delivery_due(struct store *s, int64_t wave_id, int64_t now_ms,
		       uint32_t limit,
		       int (*cb)(const struct delivery *d, void *ud), void *ud);
/* Earliest next_at of a queued delivery of the wave; -ENOENT if none. */
int store_wave_next_due(struct store *s, int64_t wave_id, int64_t *ret_ms);
/* True while the wave has queued or sending deliveries. */
int store_wave_busy(struct store *s, int64_t wave_id, bool *ret);

/* queued -> sending, before the request leaves. -ESTALE when the delivery
 * is no longer queued (cancelled meanwhile). */
int store_delivery_mark_sending(struct store *s, int64_t id, int chain_pos,
				const char *channel, const char *recipient,
				int64_t now_ms);

/* The outcome of an attempt, and the attempt itself, in one call. */
struct delivery_update {
	int64_t id;
	enum delivery_status status;  /* new status */
	int chain_pos, attempts;
	int phone_pos;                /* the phone to try at chain_pos */
	int64_t next_at_ms;           /* for queued */
	const char *msg_id, *code, *message;
	int sms_encoding, sms_segments;   /* -1 = not SMS */
	int64_t now_ms;
	int64_t sent_ms;              /* when the request left (for "sent");
					 0 = now_ms. Messenger watermarks are
					 compared with it. */
	bool possible_dup;            /* set the flag (never cleared) */
	/* the attempt row */
	const char *channel;
	int http_status;              /* 0 = none */
	int outcome;                  /* enum channel_outcome, -1 none */
	int64_t latency_ms;
};
int store_delivery_update(struct store *s, const struct delivery_update *u);

/* After a crash: every delivery left "sending" goes back to the queue,
 * flagged as a possible duplicate. Returns the count. */
int store_delivery_recover(struct store *s, int64_t now_ms);
/* queued -> expired for a wave; queued -> cancelled for a broadcast;
 * failed -> queued (retry; only in waves whose deadline has not passed).
 * Return the number of deliveries changed. */
int store_wave_expire(struct store *s, int64_t wave_id, int64_t now_ms);
int store_broadcast_cancel_queued(struct store *s, int64_t id, int64_t now_ms);
int store_broadcast_requeue_failed(struct store *s, int64_t id,
				   int64_t now_ms);

/* Counts for reports: cb(key, status, count) per non-empty cell; key is
 * "" for by-status, the group code for by-group, the channel name (or ""
 * before any attempt) for by-channel. */
enum count_by { COUNT_BY_STATUS, COUNT_BY_GROUP, COUNT_BY_CHANNEL };
int store_broadcast_counts(struct store *s, int64_t id, enum count_by by,
			   int (*cb)(const char *key, enum delivery_status st,
				     int64_t n, void *ud), void *ud);

/* Per-household list of a broadcast (reports). */
struct delivery_row {
	int64_t id, wave_id, household_id;
	int seq;
	enum delivery_status status;
	const char *name, *group_code, *address, *phone, *channel, *recipient,
		*msg_id, *code, *message;
	int attempts;
	bool possible_dup;
	int sms_segments;             /* -1 unknown */
	int64_t updated_ms, sent_ms, final_ms;
};
struct delivery_filter {
	int64_t broadcast_id;
	int status;             /* -1 any */
	int64_t group_id;       /* 0 any */
	const char *channel;    /* NULL any */
	int64_t after_id;
	uint32_t limit;
	int64_t sent_before_ms; /* 0 any; else sent_ms < this */
};
int store_delivery_list(struct store *s, const struct delivery_filter *f,
			int (*cb)(const struct delivery_row *r, void *ud),
			void *ud);

/* Queue depth by priority (queued deliveries of open waves). */
int store_queue_depth(struct store *s, int64_t *ret_urgent,
		      int64_t *ret_normal, int64_t *ret_oldest_ms);

/* OAuth tokens of a channel (Zalo), rotated by loaxad. -ENOENT if none. */
struct token_rec {
	char *access_token, *refresh_token;
	int64_t expires_ms, updated_ms;
};
void token_rec_clear(struct token_rec *t);
int store_token_get(struct store *s, const char *channel,
		    struct token_rec *ret);
int store_token_put(struct store *s, const char *channel,
		    const struct token_rec *t);

/* ---- the event hook's outbox (store-broadcast.c) ----
 *
 * With the hook enabled, each change of a delivery to sent, delivered,
 * read, failed, expired, cancelled or skipped by store_delivery_update()
 * or store_receipt_apply() adds an event to the outbox in the same
 * transaction as the change:
 *   {"event":"delivery.status","delivery_id":1,"broadcast_id":2,
 *    "household_id":3,"status":"sent","channel":"zns","code":null,
 *    "at_ms":1700000000000}
 * and store_wave_expire/store_broadcast_cancel_queued/
 * store_broadcast_requeue_failed add one summary event for the rows they
 * changed: {"event":"delivery.status","broadcast_id":2,"status":"expired",
 * "count":40,"at_ms":...} ("queued" for a requeue). No phone, no name, no
 * text. Off by default (nothing recorded). */
void store_set_hook_enabled(struct store *s, bool on);
struct hook_event_row {
	int64_t id;
	const char *body;       /* JSON object; valid during the callback */
	int attempts;
	int64_t created_ms, next_at_ms;
};
/* Add an event (body: a JSON object) due now. */
int store_hook_outbox_add(struct store *s, const char *body, int64_t now_ms,
			  int64_t *ret_id);
/* The oldest limit events (0 = all), by id, due or not; cb returning
 * non-zero stops and is returned. */
int store_hook_outbox_head(struct store *s, uint32_t limit,
			   int (*cb)(const struct hook_event_row *e,
				     void *ud), void *ud);
/* next_at of the oldest event; -ENOENT when the outbox is empty. */
int store_hook_outbox_next(struct store *s, int64_t *ret_ms);
/* Delete the events first_id..last_id (sent); or count an attempt and set
 * their next_at (failed). Return the number of rows. */
int store_hook_outbox_delete(struct store *s, int64_t first_id,
			     int64_t last_id);
int store_hook_outbox_retry(struct store *s, int64_t first_id,
			    int64_t last_id, int64_t next_at_ms);
int store_hook_outbox_count(struct store *s, int64_t *ret);

/* ---- receipts and replies (store-broadcast.c) ---- */

enum receipt_kind { RK_DELIVERED = 0, RK_READ = 1, RK_FAILED = 2 };
enum receipt_outcome {
	RO_APPLIED = 0,   /* moved one or more deliveries forward */
	RO_DUPLICATE = 1, /* the delivery was already there */
	RO_LATE = 2,      /* would move a delivery back, or it is final */
	RO_UNKNOWN = 3,   /* no delivery matches: kept for audit */
};
const char *receipt_outcome_name(enum receipt_outcome o);

struct receipt_in {
	enum receipt_kind kind;
	int provider;                /* enum channel_driver */
	const char *msg_id;          /* "" or NULL when none */
	const char *tracking_id;     /* "loaxa-<delivery id>", or "" */
	const char *sender;          /* household address (E.164, uid, PSID) */
	const char *code;            /* failures: the provider's code */
	int64_t at_ms;               /* when, on the provider's side */
	int64_t watermark_ms;        /* Messenger: all sent up to it */
	int64_t now_ms;
};
/* Record a receipt and move the matching deliveries forward only:
 * queued/sending/sent -> delivered -> read; sending/sent -> failed. A
 * delivery re-queued after a crash that a receipt shows delivered is not
 * sent again. Matching: tracking id, else provider message id, else (with a
 * watermark) every delivery sent to that recipient up to the watermark. */
int store_receipt_apply(struct store *s, const struct receipt_in *r,
			enum receipt_outcome *ret_outcome,
			int64_t *ret_changed);

struct reply_in {
	int provider;
	const char *sender, *msg_id, *text;
	int rsvp;                    /* 0 none, 1 yes, 2 no */
	int64_t now_ms;
};
/* Store a household's reply: the household found from the sender (Zalo
 * uid, PSID or phone), the broadcast it answers (the latest meeting sent
 * to that household). A repeated provider message id is ignored
 * (*ret_id = 0). */
int store_reply_add(struct store *s, const struct reply_in *r,
		    int64_t *ret_id, int64_t *ret_household,
		    int64_t *ret_broadcast);
struct reply_row {
	int64_t id, household_id, broadcast_id, received_ms;
	int provider, rsvp;
	const char *sender, *text, *name, *group_code;
};
struct reply_filter {
	int64_t broadcast_id;   /* 0 any */
	int64_t household_id;   /* 0 any */
	int rsvp;               /* -1 any */
	int64_t after_id;
	uint32_t limit;
	int64_t group_id;       /* 0 any: the household's group now */
};
int store_reply_list(struct store *s, const struct reply_filter *f,
		     int (*cb)(const struct reply_row *r, void *ud), void *ud);
/* Deliveries of a broadcast sent before before_ms with no receipt yet
 * ("sent, unconfirmed"). */
int store_broadcast_unconfirmed(struct store *s, int64_t id, int64_t before_ms,
				int64_t *ret);
/* The first sent_ms of a broadcast's deliveries; 0 when none was sent. */
int store_broadcast_started(struct store *s, int64_t id, int64_t *ret_ms);
/* Deliveries of a broadcast that became final (neither queued nor sending)
 * at or after since_ms. */
int store_broadcast_final_since(struct store *s, int64_t id, int64_t since_ms,
				int64_t *ret);
/* RSVP of a meeting: the latest answer of each household counts. */
int store_rsvp_counts(struct store *s, int64_t broadcast_id,
		      int64_t *ret_yes, int64_t *ret_no);

/* A household's history: every delivery it was sent and every reply it
 * sent, newest first. An entry's time (at_ms) is its wave's send_at for a
 * delivery (it never changes, so pages stay stable while deliveries move
 * on) and received_ms for a reply; entries at the same time come replies
 * first, then by id, highest first. A page continues after the entry
 * *after (NULL: from the newest); limit 0 = no limit. Works for a removed
 * household too (its deliveries and replies are kept). */
enum history_kind { HK_DELIVERY = 0, HK_REPLY = 1 };
struct history_key {
	int64_t at_ms;
	enum history_kind kind;
	int64_t id;
};
struct history_row {
	struct history_key key;       /* id: of the delivery or reply */
	int64_t broadcast_id;         /* 0: a reply matching no broadcast */
	/* deliveries (NULL/0 for a reply) */
	const char *title;            /* the broadcast's */
	enum bcast_kind bcast_kind;
	int seq;                      /* wave */
	enum delivery_status status;
	const char *channel, *recipient, *code, *message;
	int64_t sent_ms, delivered_ms, read_ms, updated_ms;  /* 0 unset */
	/* replies (NULL/0 for a delivery) */
	const char *text;
	int rsvp;                     /* 0 none, 1 yes, 2 no */
	int provider;                 /* enum channel_driver */
	int64_t received_ms;
};
int store_household_history(struct store *s, int64_t household_id,
			    const struct history_key *after, uint32_t limit,
			    int (*cb)(const struct history_row *r, void *ud),
			    void *ud);

/* ---- metrics (store-metrics.c) ----
 *
 * The scans behind /metrics (metrics.h). They hand rows over one by one
 * and leave the counting to the caller: SQLite's GROUP BY sorts the rows
 * in a temporary b-tree first, three times slower on a million rows than
 * one pass that counts into a small table. A callback returning non-zero
 * stops the scan and is returned.
 *
 * Attempts and receipts are only ever inserted, so a caller keeps counters
 * and reads only the rows added since its last call: rows with
 * after_id < id <= *ret_last_id, in id order, where *ret_last_id is the
 * largest id at the start of the call (0 for an empty table). A
 * *ret_last_id below after_id means rows were removed behind our back:
 * the caller starts again from 0. */

/* Every delivery (a full scan: 150-300 ms per million rows on a small
 * server): its channel (NULL before any attempt), status, and sent_ms and
 * delivered_ms (0 when not set). */
int store_metrics_deliveries(struct store *s,
			     int (*cb)(const char *channel,
				       enum delivery_status st,
				       int64_t sent_ms, int64_t delivered_ms,
				       void *ud),
			     void *ud);
/* Attempts: channel, outcome (enum channel_outcome, -1 none: no request
 * was made) and code (NULL when none). */
int store_metrics_attempts(struct store *s, int64_t after_id,
			   int64_t *ret_last_id,
			   int (*cb)(const char *channel, int outcome,
				     const char *code, void *ud),
			   void *ud);
/* Receipts: provider (enum channel_driver), kind and outcome. */
int store_metrics_receipts(struct store *s, int64_t after_id,
			   int64_t *ret_last_id,
			   int (*cb)(int provider, enum receipt_kind kind,
				     enum receipt_outcome outcome, void *ud),
			   void *ud);
/* Broadcasts by state: ret[state] (states out of range are not counted). */
int store_metrics_broadcasts(struct store *s, int64_t ret[BS_MAX]);

#endif
