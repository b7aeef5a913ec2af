/* store-broadcast.c: broadcasts, waves, deliveries, attempts and tokens.
 * Part of the store module: all of its SQL, behind the typed functions of
 * store.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "loaxa/channel.h"
#include "loaxa/log.h"
#include "store-internal.h"

enum {
	BS_INSERT,
	BS_INSERT_GROUP,
	BS_FIND_IDEM,
	BS_GET,
	BS_GROUPS_OF,
	BS_SET_STATE,
	BS_LIST,
	BS_APPROVE,
	WV_INSERT,
	WV_LIST_OPEN,
	WV_LIST,
	WV_SET_STATE,
	WV_SAVE,
	WV_FILL_GROUPS,
	WV_FILL_ALL,
	WV_FILL_FROM,
	WV_FIRST_OF,
	WV_CURSOR,
	DL_DUE,
	DL_NEXT_DUE,
	DL_BUSY,
	DL_MARK_SENDING,
	DL_UPDATE,
	AT_INSERT,
	DL_RECOVER,
	DL_EXPIRE,
	DL_CANCEL,
	DL_REQUEUE,
	DL_COUNT_STATUS,
	DL_TALLY,
	GR_CODE_OF,
	DL_LIST,
	DL_DEPTH,
	TK_GET,
	TK_PUT,
	DL_UPDATE_LATE,
	DL_CANCEL_REQUEUED,
	RC_INSERT,
	DL_STATUS_OF,
	DL_BY_MSG,
	DL_RC_DELIVERED,
	DL_RC_READ,
	DL_RC_FAILED,
	DL_WM_DELIVERED,
	DL_WM_READ,
	RP_HH_ZALO,
	RP_HH_PSID,
	RP_HH_PHONE,
	RP_MEETING_OF,
	RP_INSERT,
	RP_LIST,
	RP_RSVP,
	DL_UNCONFIRMED,
	DL_STARTED,
	DL_FINAL_SINCE,
	HH_HISTORY,
	OB_EVENT_ONE,
	OB_EVENT_WM,
	OB_EVENT_SUM,
	OB_EVENT_SKIPPED,
	OB_ADD,
	OB_HEAD,
	OB_NEXT,
	OB_DELETE,
	OB_RETRY,
	OB_COUNT,
	QD_VERSION,
	QD_CLEAR,
	QD_FILL,
	DL_OLDEST,
	BST_MAX
};

#define BCAST_COLS \
	"id, kind, urgent, state, title, body, place, agenda, idem_key," \
	" starts_ms, send_at_ms, expires_ms, created_ms, updated_ms," \
	" finished_ms, all_groups, reminders, requested_by, approved_by," \
	" approved_ms, pruned_ms FROM broadcasts"

/* The event hook's record of a delivery (hooks.h): no phone, no name, no
 * text. ?2 is the time of the change. */
#define HOOK_EVENT_COLS \
	"?2, json_object('event', 'delivery.status', 'delivery_id', id," \
	" 'broadcast_id', broadcast_id, 'household_id', household_id," \
	" 'status', CASE status WHEN 2 THEN 'sent' WHEN 3 THEN 'delivered'" \
	" WHEN 4 THEN 'read' WHEN 5 THEN 'failed' WHEN 6 THEN 'expired'" \
	" WHEN 7 THEN 'cancelled' WHEN 8 THEN 'skipped' END," \
	" 'channel', channel, 'code', code, 'at_ms', ?2), ?2 FROM deliveries"

#define WAVE_COLS \
	"id, broadcast_id, seq, send_at_ms, expires_ms, state, cursor, total" \
	" FROM waves"

/* Columns written when a wave is filled: ?1 wave, ?2 broadcast,
 * ?3 next_at, ?4 now. Opted-out households are skipped, on the record. */
#define FILL_INSERT \
	"INSERT INTO deliveries(wave_id, broadcast_id, household_id, group_id," \
	" status, next_at_ms, code, final_ms, updated_ms)"


/* A delivery of a cancelled broadcast (for recovery after a crash). */
#define RECOVER_CANCELLED \
	"broadcast_id IN (SELECT id FROM broadcasts WHERE state = 3)"
static const char *const bst_sql[BST_MAX] = {
	[BS_INSERT] =
		"INSERT INTO broadcasts(kind, urgent, state, title, body, place,"
		" agenda, idem_key, starts_ms, send_at_ms, expires_ms,"
		" all_groups, reminders, created_ms, updated_ms, requested_by)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
		" ?13, ?14, ?14, ?15)",
	[BS_INSERT_GROUP] =
		"INSERT OR IGNORE INTO broadcast_groups(broadcast_id, group_id)"
		" VALUES (?1, ?2)",
	[BS_FIND_IDEM] = "SELECT id FROM broadcasts WHERE idem_key = ?1",
	[BS_GET] = "SELECT " BCAST_COLS " WHERE id = ?1",
	[BS_GROUPS_OF] =
		"SELECT group_id FROM broadcast_groups WHERE broadcast_id = ?1"
		" ORDER BY group_id",
	[BS_SET_STATE] =
		"UPDATE broadcasts SET state = ?2, updated_ms = ?3,"
		" finished_ms = CASE WHEN ?2 IN (3, 4) THEN ?3 ELSE"
		" finished_ms END WHERE id = ?1",
	[BS_LIST] =
		"SELECT " BCAST_COLS " WHERE (?1 < 0 OR state = ?1)"
		" AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3",
	[BS_APPROVE] =
		"UPDATE broadcasts SET state = 0, approved_by = ?2,"
		" approved_ms = ?3, updated_ms = ?3"
		" WHERE id = ?1 AND state = 5",
	[WV_INSERT] =
		"INSERT INTO waves(broadcast_id, seq, send_at_ms, expires_ms,"
		" state) VALUES (?1, ?2, ?3, ?4, ?5)",
	[WV_LIST_OPEN] =
		"SELECT w.id, w.broadcast_id, w.seq, w.send_at_ms, w.expires_ms,"
		" w.state, w.cursor, w.total FROM waves w JOIN broadcasts b"
		" ON b.id = w.broadcast_id WHERE b.state NOT IN (3, 4)"
		" AND w.state != 3 ORDER BY w.id",
	[WV_LIST] =
		"SELECT " WAVE_COLS " WHERE broadcast_id = ?1 ORDER BY seq",
	[WV_SET_STATE] = "UPDATE waves SET state = ?2 WHERE id = ?1",
	[WV_SAVE] =
		"UPDATE waves SET state = ?2, cursor = ?3, total = ?4"
		" WHERE id = ?1",
	[WV_FILL_GROUPS] =
		FILL_INSERT
		" SELECT ?1, ?2, h.id, h.group_id,"
		"  CASE WHEN h.opted_out THEN 8 ELSE 0 END, ?3,"
		"  CASE WHEN h.opted_out THEN 'opted_out' END,"
		"  CASE WHEN h.opted_out THEN ?4 END, ?4"
		" FROM households h WHERE h.id > ?5 AND h.group_id IN"
		" (SELECT group_id FROM broadcast_groups WHERE broadcast_id = ?2)"
		" ORDER BY h.id LIMIT ?6",
	[WV_FILL_ALL] =
		FILL_INSERT
		" SELECT ?1, ?2, h.id, h.group_id,"
		"  CASE WHEN h.opted_out THEN 8 ELSE 0 END, ?3,"
		"  CASE WHEN h.opted_out THEN 'opted_out' END,"
		"  CASE WHEN h.opted_out THEN ?4 END, ?4"
		" FROM households h WHERE h.id > ?5 ORDER BY h.id LIMIT ?6",
	/* A reminder goes to the households of the first wave (?7), as they
	 * are now: opted out since, or removed, is skipped. */
	[WV_FILL_FROM] =
		FILL_INSERT
		" SELECT ?1, ?2, d.household_id, d.group_id,"
		"  CASE WHEN h.id IS NULL OR h.opted_out THEN 8 ELSE 0 END, ?3,"
		"  CASE WHEN h.id IS NULL THEN 'removed'"
		"   WHEN h.opted_out THEN 'opted_out' END,"
		"  CASE WHEN h.id IS NULL OR h.opted_out THEN ?4 END, ?4"
		" FROM deliveries d LEFT JOIN households h"
		"  ON h.id = d.household_id"
		" WHERE d.wave_id = ?7 AND d.household_id > ?5"
		" ORDER BY d.household_id LIMIT ?6",
	[WV_FIRST_OF] =
		"SELECT id FROM waves WHERE broadcast_id = ?1 AND seq = 0",
	[WV_CURSOR] =
		"SELECT max(household_id) FROM deliveries WHERE wave_id = ?1",
	[DL_DUE] =
		"SELECT d.id, d.wave_id, d.broadcast_id, d.household_id,"
		" d.group_id, d.status, d.chain_pos, d.attempts,"
		" d.total_attempts, d.possible_dup, d.next_at_ms, h.name,"
		" g.name, (SELECT e164 FROM phones p WHERE p.household_id ="
		" d.household_id ORDER BY p.position LIMIT 1),"
		" h.zalo_user_id, h.messenger_psid, d.phone_pos,"
		/* the phone of rank phone_pos (OFFSET cannot be
		 * correlated) */
		" (SELECT e164 FROM phones p WHERE p.household_id ="
		" d.household_id AND (SELECT count(*) FROM phones q"
		"  WHERE q.household_id = p.household_id"
		"  AND q.position < p.position) = d.phone_pos),"
		" (SELECT count(*) FROM phones p WHERE p.household_id ="
		" d.household_id)"
		" FROM deliveries d LEFT JOIN households h"
		"  ON h.id = d.household_id"
		" LEFT JOIN groups g ON g.id = d.group_id"
		" WHERE d.wave_id = ?1 AND d.status = 0 AND d.next_at_ms <= ?2"
		" ORDER BY d.next_at_ms, d.id LIMIT ?3",
	[DL_NEXT_DUE] =
		"SELECT min(next_at_ms) FROM deliveries WHERE wave_id = ?1"
		" AND status = 0",
	[DL_BUSY] =
		"SELECT EXISTS (SELECT 1 FROM deliveries WHERE wave_id = ?1"
		" AND status = 0) OR EXISTS (SELECT 1 FROM deliveries"
		" WHERE status = 1 AND wave_id = ?1)",
	/* a channel further on the route starts from the first phone */
	[DL_MARK_SENDING] =
		"UPDATE deliveries SET status = 1, chain_pos = ?2, channel = ?3,"
		" phone_pos = CASE WHEN chain_pos = ?2 THEN phone_pos ELSE 0"
		"  END,"
		" recipient = ?4, total_attempts = total_attempts + 1,"
		" updated_ms = ?5 WHERE id = ?1 AND status = 0",
	[DL_UPDATE] =
		"UPDATE deliveries SET status = ?2, chain_pos = ?3,"
		" attempts = ?4, next_at_ms = ?5, phone_pos = ?14,"
		" msg_id = coalesce(?6, msg_id), code = ?7, message = ?8,"
		" sms_encoding = coalesce(?9, sms_encoding),"
		" sms_segments = coalesce(?10, sms_segments),"
		" possible_dup = possible_dup OR ?12,"
		" sent_ms = CASE WHEN ?2 = 2 THEN ?13 ELSE sent_ms END,"
		" final_ms = CASE WHEN ?2 IN (2, 5, 6, 7, 8) THEN ?11"
		"  ELSE NULL END,"
		" updated_ms = ?11 WHERE id = ?1 AND status IN (0, 1)",
	/* A try that ends "queued again" while its broadcast was cancelled
	 * (the request was in flight at the cancel): nothing will send it,
	 * so it ends cancelled. */
	[DL_CANCEL_REQUEUED] =
		"UPDATE deliveries SET status = 7, code = 'cancelled',"
		" final_ms = ?2, updated_ms = ?2 WHERE id = ?1 AND status = 0"
		" AND broadcast_id IN (SELECT id FROM broadcasts"
		"  WHERE state = 3)",
	[AT_INSERT] =
		"INSERT INTO attempts(delivery_id, at_ms, channel, http_status,"
		" outcome, code, message, latency_ms)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	/* In flight at a crash: back to the queue, flagged; but a cancelled
	 * broadcast sends nothing more, so its one ends cancelled (flagged:
	 * the provider may have had it). */
	[DL_RECOVER] =
		"UPDATE deliveries SET possible_dup = 1, next_at_ms = ?1,"
		" updated_ms = ?1,"
		" status = CASE WHEN " RECOVER_CANCELLED " THEN 7 ELSE 0 END,"
		" code = CASE WHEN " RECOVER_CANCELLED " THEN 'cancelled'"
		"  ELSE code END,"
		" final_ms = CASE WHEN " RECOVER_CANCELLED " THEN ?1"
		"  ELSE NULL END"
		" WHERE status = 1",
	[DL_EXPIRE] =
		"UPDATE deliveries SET status = 6, code = 'expired',"
		" final_ms = ?2, updated_ms = ?2 WHERE wave_id = ?1"
		" AND status = 0",
	[DL_CANCEL] =
		"UPDATE deliveries SET status = 7, code = 'cancelled',"
		" final_ms = ?2, updated_ms = ?2 WHERE broadcast_id = ?1"
		" AND status = 0",
	[DL_REQUEUE] =
		"UPDATE deliveries SET status = 0, chain_pos = 0, attempts = 0,"
		" phone_pos = 0, next_at_ms = ?2, final_ms = NULL,"
		" updated_ms = ?2"
		" WHERE broadcast_id = ?1 AND status = 5"
		/* never past a deadline: nothing would send or expire it */
		" AND wave_id IN (SELECT id FROM waves WHERE broadcast_id = ?1"
		"  AND expires_ms > ?2)",
	[DL_COUNT_STATUS] =
		"SELECT '', status, count(*) FROM deliveries"
		" WHERE broadcast_id = ?1 GROUP BY status",
	/* one pass for the counts by group, channel and status (see
	 * struct tally): GROUP BY would sort every row, twice */
	[DL_TALLY] =
		"SELECT group_id, channel, status FROM deliveries"
		" WHERE broadcast_id = ?1",
	[GR_CODE_OF] = "SELECT code FROM groups WHERE id = ?1",
	[DL_LIST] =
		"SELECT d.id, d.wave_id, d.household_id, w.seq, d.status,"
		" h.name, g.code, h.address,"
		" (SELECT e164 FROM phones p WHERE p.household_id ="
		"  d.household_id ORDER BY p.position LIMIT 1),"
		" d.channel, d.recipient, d.msg_id, d.code, d.message,"
		" d.total_attempts, d.possible_dup, d.sms_segments,"
		" d.updated_ms, d.sent_ms, d.final_ms"
		" FROM deliveries d JOIN waves w ON w.id = d.wave_id"
		" LEFT JOIN households h ON h.id = d.household_id"
		" LEFT JOIN groups g ON g.id = d.group_id"
		" WHERE d.broadcast_id = ?1 AND d.id > ?2"
		" AND (?3 < 0 OR d.status = ?3) AND (?4 = 0 OR d.group_id = ?4)"
		" AND (?5 IS NULL OR d.channel = ?5)"
		" AND (?7 = 0 OR d.sent_ms < ?7)"
		" ORDER BY d.id LIMIT ?6",
	/* from the counters the triggers below keep (see qdepth_sql) */
	[DL_DEPTH] =
		"SELECT b.urgent, sum(q.n) FROM lx_qdepth q"
		" JOIN broadcasts b ON b.id = q.broadcast_id"
		" WHERE q.n > 0 GROUP BY b.urgent",
	/* since when the queued delivery due first in each wave waits (the
	 * oldest: materialised first; a retry is due after its delivery's
	 * first try), through deliveries_due, not a scan */
	[DL_OLDEST] =
		"SELECT min((SELECT d.updated_ms FROM deliveries d"
		" WHERE d.wave_id = w.id AND d.status = 0"
		" ORDER BY d.next_at_ms, d.id LIMIT 1)) FROM waves w"
		" WHERE w.broadcast_id IN"
		" (SELECT broadcast_id FROM lx_qdepth WHERE n > 0)",
	[TK_GET] =
		"SELECT access_token, refresh_token, expires_ms, updated_ms"
		" FROM tokens WHERE channel = ?1",
	[TK_PUT] =
		"INSERT INTO tokens(channel, access_token, refresh_token,"
		" expires_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)"
		" ON CONFLICT(channel) DO UPDATE SET access_token = ?2,"
		" refresh_token = ?3, expires_ms = ?4, updated_ms = ?5",
	/* A receipt got there first: keep its status, add what we know. */
	[DL_UPDATE_LATE] =
		"UPDATE deliveries SET msg_id = coalesce(msg_id, ?6),"
		" sms_encoding = coalesce(sms_encoding, ?9),"
		" sms_segments = coalesce(sms_segments, ?10),"
		" possible_dup = possible_dup OR ?12,"
		" sent_ms = coalesce(sent_ms, CASE WHEN ?2 = 2 THEN ?13 END),"
		" updated_ms = ?11 WHERE id = ?1",
	[RC_INSERT] =
		"INSERT INTO receipts(received_ms, provider, kind, msg_id,"
		" tracking_id, sender, at_ms, watermark_ms, code, delivery_id,"
		" outcome, changed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
		" ?10, ?11, ?12)",
	[DL_STATUS_OF] = "SELECT status FROM deliveries WHERE id = ?1",
	[DL_BY_MSG] =
		"SELECT id, status FROM deliveries WHERE msg_id = ?1"
		" ORDER BY id DESC LIMIT 1",
	[DL_RC_DELIVERED] =
		"UPDATE deliveries SET status = 3,"
		" delivered_ms = coalesce(delivered_ms, ?2),"
		" final_ms = coalesce(final_ms, ?3), updated_ms = ?3"
		" WHERE id = ?1 AND status IN (0, 1, 2)",
	[DL_RC_READ] =
		"UPDATE deliveries SET status = 4, read_ms = ?2,"
		" delivered_ms = coalesce(delivered_ms, ?2),"
		" final_ms = coalesce(final_ms, ?3), updated_ms = ?3"
		" WHERE id = ?1 AND status IN (0, 1, 2, 3)",
	[DL_RC_FAILED] =
		"UPDATE deliveries SET status = 5, code = ?2,"
		" message = 'the provider reported it undelivered',"
		" final_ms = ?3, updated_ms = ?3 WHERE id = ?1"
		" AND status IN (1, 2)",
	[DL_WM_DELIVERED] =
		"UPDATE deliveries SET status = 3,"
		" delivered_ms = coalesce(delivered_ms, ?2), updated_ms = ?3"
		" WHERE recipient = ?1 AND status = 2 AND sent_ms <= ?2",
	[DL_WM_READ] =
		"UPDATE deliveries SET status = 4, read_ms = ?2,"
		" delivered_ms = coalesce(delivered_ms, ?2), updated_ms = ?3"
		" WHERE recipient = ?1 AND status IN (2, 3) AND sent_ms <= ?2",
	[RP_HH_ZALO] =
		"SELECT id FROM households WHERE zalo_user_id = ?1 LIMIT 1",
	[RP_HH_PSID] =
		"SELECT id FROM households WHERE messenger_psid = ?1 LIMIT 1",
	[RP_HH_PHONE] = "SELECT household_id FROM phones WHERE e164 = ?1",
	[RP_MEETING_OF] =
		"SELECT d.broadcast_id FROM deliveries d JOIN broadcasts b"
		" ON b.id = d.broadcast_id WHERE d.household_id = ?1"
		" AND b.kind = 0 AND d.status IN (2, 3, 4)"
		" ORDER BY d.id DESC LIMIT 1",
	[RP_INSERT] =
		"INSERT OR IGNORE INTO replies(received_ms, provider, sender,"
		" msg_id, household_id, broadcast_id, text, rsvp)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[RP_LIST] =
		"SELECT r.id, r.household_id, r.broadcast_id, r.received_ms,"
		" r.provider, r.rsvp, r.sender, r.text, h.name, g.code"
		" FROM replies r LEFT JOIN households h ON h.id = r.household_id"
		" LEFT JOIN groups g ON g.id = h.group_id"
		" WHERE r.id > ?1 AND (?2 = 0 OR r.broadcast_id = ?2)"
		" AND (?3 = 0 OR r.household_id = ?3)"
		" AND (?4 < 0 OR r.rsvp = ?4) AND (?6 = 0 OR h.group_id = ?6)"
		" ORDER BY r.id LIMIT ?5",
	[RP_RSVP] =
		"SELECT r.rsvp, count(*) FROM replies r WHERE r.broadcast_id = ?1"
		" AND r.rsvp > 0 AND r.id = (SELECT max(id) FROM replies r2"
		" WHERE r2.broadcast_id = r.broadcast_id"
		" AND r2.household_id = r.household_id AND r2.rsvp > 0)"
		" GROUP BY r.rsvp",
	[DL_UNCONFIRMED] =
		"SELECT count(*) FROM deliveries WHERE broadcast_id = ?1"
		" AND status = 2 AND sent_ms < ?2",
	[DL_STARTED] =
		"SELECT min(sent_ms) FROM deliveries WHERE broadcast_id = ?1"
		" AND sent_ms > 0",
	/* Finished: neither queued (0) nor sending (1). */
	[DL_FINAL_SINCE] =
		"SELECT count(*) FROM deliveries WHERE broadcast_id = ?1"
		" AND status > 1 AND final_ms >= ?2",
	/* ?1 household; a page after the key (?2 time, ?3 kind, ?4 id), or
	 * from the newest when ?2 is NULL; ?5 limit. The deliveries are
	 * found wave by wave through UNIQUE (wave_id, household_id): there
	 * are few waves, and no index on household_id. */
	[HH_HISTORY] =
		"SELECT k, t, id, bid, title, bkind, seq, status, channel,"
		" recipient, code, message, sent_ms, delivered_ms, read_ms,"
		" updated_ms, text, rsvp, provider FROM ("
		" SELECT 0 AS k, w.send_at_ms AS t, d.id AS id,"
		"  d.broadcast_id AS bid, b.title AS title, b.kind AS bkind,"
		"  w.seq AS seq, d.status AS status, d.channel AS channel,"
		"  d.recipient AS recipient, d.code AS code,"
		"  d.message AS message, d.sent_ms AS sent_ms,"
		"  d.delivered_ms AS delivered_ms, d.read_ms AS read_ms,"
		"  d.updated_ms AS updated_ms, NULL AS text, 0 AS rsvp,"
		"  0 AS provider"
		" FROM waves w CROSS JOIN deliveries d ON d.wave_id = w.id"
		"  AND d.household_id = ?1"
		" LEFT JOIN broadcasts b ON b.id = d.broadcast_id"
		" UNION ALL"
		" SELECT 1, r.received_ms, r.id, r.broadcast_id, NULL, 0, 0, 0,"
		"  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, r.text,"
		"  r.rsvp, r.provider FROM replies r WHERE r.household_id = ?1)"
		" WHERE ?2 IS NULL OR (t, k, id) < (?2, ?3, ?4)"
		" ORDER BY t DESC, k DESC, id DESC LIMIT ?5",
	[OB_EVENT_ONE] =
		"INSERT INTO hook_outbox(created_ms, body, next_at_ms) SELECT "
		HOOK_EVENT_COLS " WHERE id = ?1 AND status BETWEEN 2 AND 8",
	/* the deliveries a watermark just moved (?3 status, ?4 watermark) */
	[OB_EVENT_WM] =
		"INSERT INTO hook_outbox(created_ms, body, next_at_ms) SELECT "
		HOOK_EVENT_COLS " WHERE recipient = ?1 AND status = ?3"
		" AND updated_ms = ?2 AND sent_ms <= ?4 ORDER BY id",
	/* the opted-out households of a chunk (?3 < household id <= ?4) */
	[OB_EVENT_SKIPPED] =
		"INSERT INTO hook_outbox(created_ms, body, next_at_ms) SELECT "
		HOOK_EVENT_COLS " WHERE wave_id = ?1 AND household_id > ?3"
		" AND household_id <= ?4 AND status = 8 ORDER BY household_id",
	/* one event for many deliveries: ?2 broadcast, or ?5 its wave */
	[OB_EVENT_SUM] =
		"INSERT INTO hook_outbox(created_ms, body, next_at_ms) VALUES"
		" (?1, json_object('event', 'delivery.status', 'broadcast_id',"
		" coalesce(?2, (SELECT broadcast_id FROM waves WHERE id = ?5)),"
		" 'status', ?3, 'count', ?4, 'at_ms', ?1), ?1)",
	[OB_ADD] =
		"INSERT INTO hook_outbox(created_ms, body, next_at_ms)"
		" VALUES (?1, ?2, ?1)",
	[OB_HEAD] =
		"SELECT id, body, attempts, created_ms, next_at_ms"
		" FROM hook_outbox ORDER BY id LIMIT ?1",
	[OB_NEXT] =
		"SELECT next_at_ms FROM hook_outbox ORDER BY id LIMIT 1",
	[OB_DELETE] = "DELETE FROM hook_outbox WHERE id BETWEEN ?1 AND ?2",
	[OB_RETRY] =
		"UPDATE hook_outbox SET attempts = attempts + 1,"
		" next_at_ms = ?3 WHERE id BETWEEN ?1 AND ?2",
	[OB_COUNT] = "SELECT count(*) FROM hook_outbox",
	[QD_VERSION] = "PRAGMA data_version",
	[QD_CLEAR] = "DELETE FROM lx_qdepth",
	[QD_FILL] =
		"INSERT INTO lx_qdepth(broadcast_id, n) SELECT b.id,"
		" (SELECT count(*) FROM deliveries d"
		" WHERE d.broadcast_id = b.id AND d.status = 0)"
		" FROM broadcasts b",
};

/* The queue depth (GET /v1/status, STATUS=, /metrics) is read every
 * second, and counting a million queued deliveries holds the loop for
 * tens of milliseconds. Temporary triggers (of this connection only, not
 * in the file) keep the number of queued deliveries of each broadcast in
 * a temporary table, in the same transaction as the change: a rollback
 * undoes both. It is counted afresh on first use and after another
 * connection wrote to the database (PRAGMA data_version moved). */
static const char qdepth_sql[] =
	"CREATE TEMP TABLE IF NOT EXISTS lx_qdepth ("
	" broadcast_id INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
	"CREATE TEMP TRIGGER IF NOT EXISTS lx_qdepth_ins"
	" AFTER INSERT ON main.deliveries WHEN new.status = 0 BEGIN"
	" INSERT INTO lx_qdepth(broadcast_id, n) VALUES (new.broadcast_id, 1)"
	" ON CONFLICT(broadcast_id) DO UPDATE SET n = n + 1; END;"
	"CREATE TEMP TRIGGER IF NOT EXISTS lx_qdepth_upd"
	" AFTER UPDATE OF status ON main.deliveries"
	" WHEN (old.status = 0) != (new.status = 0) BEGIN"
	" INSERT INTO lx_qdepth(broadcast_id, n)"
	" VALUES (new.broadcast_id, iif(new.status = 0, 1, -1))"
	" ON CONFLICT(broadcast_id) DO UPDATE SET n = n + excluded.n; END;"
	"CREATE TEMP TRIGGER IF NOT EXISTS lx_qdepth_del"
	" AFTER DELETE ON main.deliveries WHEN old.status = 0 BEGIN"
	" INSERT INTO lx_qdepth(broadcast_id, n) VALUES (old.broadcast_id, -1)"
	" ON CONFLICT(broadcast_id) DO UPDATE SET n = n - 1; END;";

/* The counts of one broadcast by (group, channel, status), from one pass
 * over its deliveries, kept while nothing was written to the database:
 * GET /v1/broadcasts/ID asks for them by status, group and channel in a
 * row, and the later two cost nothing. */
struct tally_ent {
	int64_t group_id;
	int chan;               /* index in chans, -1: none */
	int status;
	int64_t n;              /* 0: free slot */
};

struct tally {
	int64_t id;             /* broadcast; 0: nothing kept */
	int64_t changes;        /* sqlite3_total_changes64 then; -1:
				   counted inside a transaction, which a
				   rollback may undo without changing it */
	int64_t version;        /* PRAGMA data_version then */
	char **chans;
	size_t nchans;
	struct tally_ent *ents; /* open addressing, cap a power of two */
	size_t nents, cap;
};

struct store_bcast {
	sqlite3_stmt *st[BST_MAX];
	bool hook;              /* record status changes in hook_outbox */
	struct tally tally;
	bool qd_counted;        /* lx_qdepth holds the counts of ... */
	int64_t qd_version;     /* ... this PRAGMA data_version */
};

int store__bcast_open(struct store *s)
{
	s->bcast = calloc(1, sizeof *s->bcast);
	if (!s->bcast)
		return -ENOMEM;
	int qrc = sqlite3_exec(s->db, qdepth_sql, NULL, NULL, NULL);
	if (qrc != SQLITE_OK) {
		log_err(LOG_STORE, "creating the queue counters: %s",
			sqlite3_errmsg(s->db));
		return store__fail(s, NULL, qrc);
	}
	for (size_t i = 0; i < BST_MAX; i++) {
		int rc = sqlite3_prepare_v3(s->db, bst_sql[i], -1,
					    SQLITE_PREPARE_PERSISTENT,
					    &s->bcast->st[i], NULL);
		if (rc != SQLITE_OK) {
			log_err(LOG_STORE, "preparing broadcast statement %zu:"
				" %s", i, sqlite3_errmsg(s->db));
			return store__fail(s, NULL, rc);
		}
	}
	return 0;
}

static void tally_clear(struct tally *t)
{
	for (size_t i = 0; i < t->nchans; i++)
		free(t->chans[i]);
	free(t->chans);
	free(t->ents);
	*t = (struct tally){ 0 };
}

void store__bcast_close(struct store *s)
{
	store__metrics_close(s);
	if (!s->bcast)
		return;
	tally_clear(&s->bcast->tally);
	for (size_t i = 0; i < BST_MAX; i++)
		sqlite3_finalize(s->bcast->st[i]);
	free(s->bcast);
	s->bcast = NULL;
}

#define STMT(s, i) ((s)->bcast->st[i])

/* ---- names ---- */

static const char *const status_names[DS_MAX] = {
	[DS_QUEUED] = "queued",       [DS_SENDING] = "sending",
	[DS_SENT] = "sent",           [DS_DELIVERED] = "delivered",
	[DS_READ] = "read",           [DS_FAILED] = "failed",
	[DS_EXPIRED] = "expired",     [DS_CANCELLED] = "cancelled",
	[DS_SKIPPED] = "skipped",
};

const char *delivery_status_name(enum delivery_status s)
{
	return (unsigned)s < DS_MAX ? status_names[s] : "unknown";
}

int delivery_status_parse(const char *s, enum delivery_status *ret)
{
	for (int i = 0; i < DS_MAX; i++)
		if (strcasecmp(s, status_names[i]) == 0) {
			*ret = (enum delivery_status)i;
			return 0;
		}
	return -EINVAL;
}

const char *bcast_state_name(enum bcast_state s)
{
	static const char *const n[] = { "scheduled", "active", "paused",
					 "cancelled", "done",
					 "awaiting_approval" };
	return (unsigned)s < ARRAY_SIZE(n) ? n[s] : "unknown";
}

const char *bcast_kind_name(enum bcast_kind k)
{
	return k == BK_MEETING ? "meeting" : "notice";
}

void broadcast_clear(struct broadcast *b)
{
	free(b->title);
	free(b->body);
	free(b->place);
	free(b->agenda);
	free(b->idem_key);
	free(b->requested_by);
	free(b->approved_by);
	*b = (struct broadcast){ 0 };
}

void delivery_clear(struct delivery *d)
{
	free(d->name);
	free(d->group_name);
	free(d->phone);
	free(d->cur_phone);
	free(d->zalo_user_id);
	free(d->messenger_psid);
	*d = (struct delivery){ 0 };
}

void token_rec_clear(struct token_rec *t)
{
	if (t->access_token)
		explicit_bzero(t->access_token, strlen(t->access_token));
	if (t->refresh_token)
		explicit_bzero(t->refresh_token, strlen(t->refresh_token));
	free(t->access_token);
	free(t->refresh_token);
	*t = (struct token_rec){ 0 };
}

/* ---- broadcasts ---- */

static void reminders_text(const struct broadcast *b, char *out, size_t n)
{
	size_t k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < b->nreminders && k < n; i++)
		k += (size_t)snprintf(out + k, n - k, "%s%" PRId64,
				      i ? "," : "", b->reminder_ms[i]);
}

static void reminders_parse(struct broadcast *b, const char *txt)
{
	b->nreminders = 0;
	while (txt && *txt && b->nreminders < BCAST_MAX_REMINDERS) {
		char *end;
		long long v = strtoll(txt, &end, 10);
		if (end == txt)
			break;
		b->reminder_ms[b->nreminders++] = v;
		txt = *end == ',' ? end + 1 : end;
	}
}

int store_broadcast_insert(struct store *s, struct broadcast *b,
			   struct wave *waves, size_t nwaves,
			   int64_t *ret_existing)
{
	int r = store_begin(s);
	if (r < 0)
		return r;
	if (b->idem_key) {
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, BS_FIND_IDEM);
		int rc = SQLITE_OK;
		store__bind_str(st, 1, b->idem_key, &rc);
		r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__step(s, st);
		if (r > 0) {
			if (ret_existing)
				*ret_existing = sqlite3_column_int64(st, 0);
			store_rollback(s);
			return -EEXIST;
		}
		if (r < 0)
			goto fail;
	}
	{
		char rem[128];
		reminders_text(b, rem, sizeof rem);
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, BS_INSERT);
		int rc = SQLITE_OK;
		store__bind_i64(st, 1, b->kind, &rc);
		store__bind_i64(st, 2, b->urgent, &rc);
		store__bind_i64(st, 3, b->state, &rc);
		store__bind_str(st, 4, b->title, &rc);
		store__bind_str(st, 5, b->body, &rc);
		store__bind_str(st, 6, b->place, &rc);
		store__bind_str(st, 7, b->agenda, &rc);
		store__bind_str(st, 8, b->idem_key, &rc);
		store__bind_i64(st, 9, b->starts_ms, &rc);
		store__bind_i64(st, 10, b->send_at_ms, &rc);
		store__bind_i64(st, 11, b->expires_ms, &rc);
		store__bind_i64(st, 12, b->all_groups, &rc);
		store__bind_str(st, 13, rem, &rc);
		store__bind_i64(st, 14, b->created_ms, &rc);
		store__bind_str(st, 15, b->requested_by, &rc);
		r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__exec(s, st);
		if (r < 0)
			goto fail;
		b->id = sqlite3_last_insert_rowid(s->db);
		b->updated_ms = b->created_ms;
	}
	for (size_t i = 0; i < b->ngroups; i++) {
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, BS_INSERT_GROUP);
		int rc = SQLITE_OK;
		store__bind_i64(st, 1, b->id, &rc);
		store__bind_i64(st, 2, b->group_ids[i], &rc);
		r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__exec(s, st);
		if (r < 0)
			goto fail;
	}
	for (size_t i = 0; i < nwaves; i++) {
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, WV_INSERT);
		int rc = SQLITE_OK;
		waves[i].broadcast_id = b->id;
		store__bind_i64(st, 1, b->id, &rc);
		store__bind_i64(st, 2, waves[i].seq, &rc);
		store__bind_i64(st, 3, waves[i].send_at_ms, &rc);
		store__bind_i64(st, 4, waves[i].expires_ms, &rc);
		store__bind_i64(st, 5, waves[i].state, &rc);
		r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__exec(s, st);
		if (r < 0)
			goto fail;
		waves[i].id = sqlite3_last_insert_rowid(s->db);
	}
	return store_commit(s);
fail:
	store_rollback(s);
	return r;
}

static int broadcast_from_row(sqlite3_stmt *st, struct broadcast *b)
{
	*b = (struct broadcast){ 0 };
	b->id = sqlite3_column_int64(st, 0);
	b->kind = (enum bcast_kind)sqlite3_column_int(st, 1);
	b->urgent = sqlite3_column_int(st, 2) != 0;
	b->state = (enum bcast_state)sqlite3_column_int(st, 3);
	int r = store__col_str(st, 4, &b->title);
	if (r == 0)
		r = store__col_str(st, 5, &b->body);
	if (r == 0)
		r = store__col_str(st, 6, &b->place);
	if (r == 0)
		r = store__col_str(st, 7, &b->agenda);
	if (r == 0)
		r = store__col_str(st, 8, &b->idem_key);
	b->starts_ms = sqlite3_column_int64(st, 9);
	b->send_at_ms = sqlite3_column_int64(st, 10);
	b->expires_ms = sqlite3_column_int64(st, 11);
	b->created_ms = sqlite3_column_int64(st, 12);
	b->updated_ms = sqlite3_column_int64(st, 13);
	b->finished_ms = sqlite3_column_int64(st, 14);
	b->all_groups = sqlite3_column_int(st, 15) != 0;
	reminders_parse(b, (const char *)sqlite3_column_text(st, 16));
	if (r == 0)
		r = store__col_str(st, 17, &b->requested_by);
	if (r == 0)
		r = store__col_str(st, 18, &b->approved_by);
	b->approved_ms = sqlite3_column_int64(st, 19);
	b->pruned_ms = sqlite3_column_int64(st, 20);
	if (r < 0)
		broadcast_clear(b);
	return r;
}

static int broadcast_groups(struct store *s, struct broadcast *b)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, BS_GROUPS_OF);
	int rc = SQLITE_OK, r;
	store__bind_i64(st, 1, b->id, &rc);
	r = store__bind_check(s, st, rc);
	b->ngroups = 0;
	while (r == 0 && (r = store__step(s, st)) > 0) {
		if (b->ngroups < BCAST_MAX_GROUPS)
			b->group_ids[b->ngroups++] =
				sqlite3_column_int64(st, 0);
		r = 0;
	}
	return r;
}

int store_broadcast_get(struct store *s, int64_t id, struct broadcast *ret)
{
	struct broadcast b;
	{
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, BS_GET);
		int rc = SQLITE_OK;
		store__bind_i64(st, 1, id, &rc);
		int r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__step(s, st);
		if (r == 0)
			return -ENOENT;
		if (r < 0)
			return r;
		r = broadcast_from_row(st, &b);
		if (r < 0)
			return r;
	}
	int r = broadcast_groups(s, &b);
	if (r < 0) {
		broadcast_clear(&b);
		return r;
	}
	*ret = b;
	return 0;
}

int store_broadcast_set_state(struct store *s, int64_t id,
			      enum bcast_state state, int64_t now_ms)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, BS_SET_STATE);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, id, &rc);
	store__bind_i64(st, 2, state, &rc);
	store__bind_i64(st, 3, now_ms, &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__exec(s, st);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	return r;
}

int store_broadcast_approve(struct store *s, int64_t id,
			    const char *approved_by, int64_t now_ms)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, BS_APPROVE);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, id, &rc);
	store__bind_str(st, 2, approved_by, &rc);
	store__bind_i64(st, 3, now_ms, &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__exec(s, st);
	if (r == 0 && sqlite3_changes(s->db) == 0) {
		struct broadcast b;
		r = store_broadcast_get(s, id, &b);
		if (r == 0) {
			broadcast_clear(&b);
			r = -EALREADY;
		}
	}
	return r;
}

int store_broadcast_list(struct store *s, const struct broadcast_filter *f,
			 int (*cb)(const struct broadcast *b, void *ud),
			 void *ud)
{
	/* Rows are copied out first: the callback may query the store. */
	struct broadcast *v = NULL;
	size_t n = 0;
	int r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, BS_LIST);
		int rc = SQLITE_OK;
		store__bind_i64(st, 1, f->state, &rc);
		store__bind_i64(st, 2, f->before_id, &rc);
		store__bind_i64(st, 3, f->limit ? (int64_t)f->limit : -1, &rc);
		r = store__bind_check(s, st, rc);
		while (r == 0 && (r = store__step(s, st)) > 0) {
			struct broadcast *nv = realloc(v, (n + 1) * sizeof *v);
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
			r = broadcast_from_row(st, &v[n]);
			if (r == 0)
				n++;
		}
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		r = broadcast_groups(s, &v[i]);
		if (r == 0)
			r = cb(&v[i], ud);
	}
	for (size_t i = 0; i < n; i++)
		broadcast_clear(&v[i]);
	free(v);
	return r;
}

/* ---- waves ---- */

static void wave_from_row(sqlite3_stmt *st, struct wave *w)
{
	w->id = sqlite3_column_int64(st, 0);
	w->broadcast_id = sqlite3_column_int64(st, 1);
	w->seq = sqlite3_column_int(st, 2);
	w->send_at_ms = sqlite3_column_int64(st, 3);
	w->expires_ms = sqlite3_column_int64(st, 4);
	w->state = (enum wave_state)sqlite3_column_int(st, 5);
	w->cursor = sqlite3_column_int64(st, 6);
	w->total = sqlite3_column_int64(st, 7);
}

static int wave_list(struct store *s, sqlite3_stmt *st,
		     int (*cb)(const struct wave *w, void *ud), void *ud)
{
	struct wave *v = NULL;
	size_t n = 0;
	int r;
	while ((r = store__step(s, st)) > 0) {
		struct wave *nv = realloc(v, (n + 1) * sizeof *v);
		if (!nv) {
			r = -ENOMEM;
			break;
		}
		v = nv;
		wave_from_row(st, &v[n++]);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	for (size_t i = 0; i < n && r == 0; i++)
		r = cb(&v[i], ud);
	free(v);
	return r;
}

int store_wave_list_open(struct store *s,
			 int (*cb)(const struct wave *w, void *ud), void *ud)
{
	return wave_list(s, STMT(s, WV_LIST_OPEN), cb, ud);
}

int store_wave_list(struct store *s, int64_t broadcast_id,
		    int (*cb)(const struct wave *w, void *ud), void *ud)
{
	sqlite3_stmt *st = STMT(s, WV_LIST);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, broadcast_id, &rc);
	int r = store__bind_check(s, st, rc);
	return r ?: wave_list(s, st, cb, ud);
}

int store_wave_set_state(struct store *s, int64_t id, enum wave_state state)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, WV_SET_STATE);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, id, &rc);
	store__bind_i64(st, 2, state, &rc);
	int r = store__bind_check(s, st, rc);
	return r ?: store__exec(s, st);
}

static int query_i64(struct store *s, sqlite3_stmt *st, int64_t id,
		     int64_t *ret, bool *ret_null)
{
	_cleanup_stmt_ sqlite3_stmt *q = st;
	int rc = SQLITE_OK;
	store__bind_i64(q, 1, id, &rc);
	int r = store__bind_check(s, q, rc);
	if (r == 0)
		r = store__step(s, q);
	if (r == 0)
		return -ENOENT;
	if (r < 0)
		return r;
	if (ret_null)
		*ret_null = sqlite3_column_type(q, 0) == SQLITE_NULL;
	*ret = sqlite3_column_int64(q, 0);
	return 0;
}

int store_wave_materialise(struct store *s, struct wave *w, bool all_groups,
			   bool urgent, uint32_t chunk, int64_t now_ms,
			   bool *ret_done)
{
	(void)urgent;
	int64_t first = 0;
	int r;
	if (w->seq > 0) {
		r = query_i64(s, STMT(s, WV_FIRST_OF), w->broadcast_id, &first,
			      NULL);
		if (r < 0)
			return r;
	}
	r = store_begin(s);
	if (r < 0)
		return r;
	int changes = 0;
	{
		sqlite3_stmt *st = STMT(s, w->seq > 0 ? WV_FILL_FROM :
					all_groups ? WV_FILL_ALL :
					WV_FILL_GROUPS);
		_cleanup_stmt_ sqlite3_stmt *q = st;
		int rc = SQLITE_OK;
		store__bind_i64(q, 1, w->id, &rc);
		store__bind_i64(q, 2, w->broadcast_id, &rc);
		store__bind_i64(q, 3, w->send_at_ms, &rc);
		store__bind_i64(q, 4, now_ms, &rc);
		store__bind_i64(q, 5, w->cursor, &rc);
		store__bind_i64(q, 6, chunk, &rc);
		if (w->seq > 0)
			store__bind_i64(q, 7, first, &rc);
		r = store__bind_check(s, q, rc);
		if (r == 0)
			r = store__exec(s, q);
		if (r == 0)
			changes = sqlite3_changes(s->db);
	}
	int64_t cursor0 = w->cursor;
	if (r == 0 && changes > 0) {
		bool null;
		r = query_i64(s, STMT(s, WV_CURSOR), w->id, &w->cursor, &null);
	}
	if (r == 0 && changes > 0 && s->bcast->hook) {
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, OB_EVENT_SKIPPED);
		int rc = SQLITE_OK;
		store__bind_i64(st, 1, w->id, &rc);
		store__bind_i64(st, 2, now_ms, &rc);
		store__bind_i64(st, 3, cursor0, &rc);
		store__bind_i64(st, 4, w->cursor, &rc);
		r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__exec(s, st);
	}
	bool done = r == 0 && (uint32_t)changes < chunk;
	if (r == 0) {
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, WV_SAVE);
		int rc = SQLITE_OK;
		store__bind_i64(st, 1, w->id, &rc);
		store__bind_i64(st, 2, done ? WS_READY : WS_MATERIALISING, &rc);
		store__bind_i64(st, 3, w->cursor, &rc);
		store__bind_i64(st, 4, w->total + changes, &rc);
		r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__exec(s, st);
	}
	if (r < 0) {
		store_rollback(s);
		return r;
	}
	r = store_commit(s);
	if (r < 0)
		return r;
	w->total += changes;
	w->state = done ? WS_READY : WS_MATERIALISING;
	*ret_done = done;
	return 0;
}

/* ---- deliveries ---- */

static int delivery_from_row(sqlite3_stmt *st, struct delivery *d)
{
	*d = (struct delivery){ 0 };
	d->id = sqlite3_column_int64(st, 0);
	d->wave_id = sqlite3_column_int64(st, 1);
	d->broadcast_id = sqlite3_column_int64(st, 2);
	d->household_id = sqlite3_column_int64(st, 3);
	d->group_id = sqlite3_column_int64(st, 4);
	d->status = (enum delivery_status)sqlite3_column_int(st, 5);
	d->chain_pos = sqlite3_column_int(st, 6);
	d->attempts = sqlite3_column_int(st, 7);
	d->total_attempts = sqlite3_column_int(st, 8);
	d->possible_dup = sqlite3_column_int(st, 9) != 0;
	d->next_at_ms = sqlite3_column_int64(st, 10);
	int r = store__col_str(st, 11, &d->name);
	if (r == 0)
		r = store__col_str(st, 12, &d->group_name);
	if (r == 0)
		r = store__col_str(st, 13, &d->phone);
	if (r == 0)
		r = store__col_str(st, 14, &d->zalo_user_id);
	if (r == 0)
		r = store__col_str(st, 15, &d->messenger_psid);
	d->phone_pos = sqlite3_column_int(st, 16);
	if (r == 0)
		r = store__col_str(st, 17, &d->cur_phone);
	d->nphones = sqlite3_column_int(st, 18);
	if (r < 0)
		delivery_clear(d);
	return r;
}

int store_delivery_due(struct store *s, int64_t wave_id, int64_t now_ms,
		       uint32_t limit,
		       int (*cb)(const struct delivery *d, void *ud), void *ud)
{
	struct delivery *v = calloc(limit ? limit : 1, sizeof *v);
	if (!v)
		return -ENOMEM;
	size_t n = 0;
	int r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, DL_DUE);
		int rc = SQLITE_OK;
		store__bind_i64(st, 1, wave_id, &rc);
		store__bind_i64(st, 2, now_ms, &rc);
		store__bind_i64(st, 3, limit, &rc);
		r = store__bind_check(s, st, rc);
		while (r == 0 && n < limit && (r = store__step(s, st)) > 0) {
			r = delivery_from_row(st, &v[n]);
			if (r == 0)
				n++;
		}
	}
	for (size_t i = 0; i < n && r == 0; i++)
		r = cb(&v[i], ud);
	for (size_t i = 0; i < n; i++)
		delivery_clear(&v[i]);
	free(v);
	return r;
}

int store_wave_next_due(struct store *s, int64_t wave_id, int64_t *ret_ms)
{
	bool null = true;
	int r = query_i64(s, STMT(s, DL_NEXT_DUE), wave_id, ret_ms, &null);
	if (r == 0 && null)
		r = -ENOENT;
	return r;
}

int store_wave_busy(struct store *s, int64_t wave_id, bool *ret)
{
	int64_t v = 0;
	int r = query_i64(s, STMT(s, DL_BUSY), wave_id, &v, NULL);
	if (r == 0)
		*ret = v != 0;
	return r;
}

int store_delivery_mark_sending(struct store *s, int64_t id, int chain_pos,
				const char *channel, const char *recipient,
				int64_t now_ms)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, DL_MARK_SENDING);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, id, &rc);
	store__bind_i64(st, 2, chain_pos, &rc);
	store__bind_str(st, 3, channel, &rc);
	store__bind_str(st, 4, recipient, &rc);
	store__bind_i64(st, 5, now_ms, &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__exec(s, st);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		r = -ESTALE;
	return r;
}

/* ---- the event hook's outbox ---- */

void store_set_hook_enabled(struct store *s, bool on)
{
	if (s && s->bcast)
		s->bcast->hook = on;
}

/* One event for delivery id, if its status is one the hook reports. */
static int hook_one(struct store *s, int64_t id, int64_t now_ms)
{
	if (!s->bcast->hook)
		return 0;
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, OB_EVENT_ONE);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, id, &rc);
	store__bind_i64(st, 2, now_ms, &rc);
	int r = store__bind_check(s, st, rc);
	return r ?: store__exec(s, st);
}

static int hook_watermark(struct store *s, const struct receipt_in *in,
			  enum delivery_status status)
{
	if (!s->bcast->hook)
		return 0;
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, OB_EVENT_WM);
	int rc = SQLITE_OK;
	store__bind_str(st, 1, in->sender, &rc);
	store__bind_i64(st, 2, in->now_ms, &rc);
	store__bind_i64(st, 3, status, &rc);
	store__bind_i64(st, 4, in->watermark_ms, &rc);
	int r = store__bind_check(s, st, rc);
	return r ?: store__exec(s, st);
}

/* One event for count deliveries of a broadcast (or of a wave's). */
static int hook_summary(struct store *s, int64_t broadcast_id,
			int64_t wave_id, enum delivery_status status,
			int64_t count, int64_t now_ms)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, OB_EVENT_SUM);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, now_ms, &rc);
	if (broadcast_id)
		store__bind_i64(st, 2, broadcast_id, &rc);
	store__bind_str(st, 3, delivery_status_name(status), &rc);
	store__bind_i64(st, 4, count, &rc);
	store__bind_i64(st, 5, wave_id, &rc);
	int r = store__bind_check(s, st, rc);
	return r ?: store__exec(s, st);
}

int store_hook_outbox_add(struct store *s, const char *body, int64_t now_ms,
			  int64_t *ret_id)
{
	if (!body)
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, OB_ADD);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, now_ms, &rc);
	store__bind_str(st, 2, body, &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__exec(s, st);
	if (r == 0 && ret_id)
		*ret_id = sqlite3_last_insert_rowid(s->db);
	return r;
}

int store_hook_outbox_head(struct store *s, uint32_t limit,
			   int (*cb)(const struct hook_event_row *e,
				     void *ud), void *ud)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, OB_HEAD);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, limit ? (int64_t)limit : -1, &rc);
	int r = store__bind_check(s, st, rc);
	while (r == 0 && (r = store__step(s, st)) == 1) {
		struct hook_event_row e = {
			.id = sqlite3_column_int64(st, 0),
			.body = (const char *)sqlite3_column_text(st, 1),
			.attempts = sqlite3_column_int(st, 2),
			.created_ms = sqlite3_column_int64(st, 3),
			.next_at_ms = sqlite3_column_int64(st, 4),
		};
		if (!e.body)
			e.body = "";
		r = cb(&e, ud);
	}
	return r;
}

int store_hook_outbox_next(struct store *s, int64_t *ret_ms)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, OB_NEXT);
	int r = store__step(s, st);
	if (r == 0)
		return -ENOENT;
	if (r < 0)
		return r;
	*ret_ms = sqlite3_column_int64(st, 0);
	return 0;
}

static int outbox_range(struct store *s, int which, int64_t first,
			int64_t last, int64_t next_at_ms)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, which);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, first, &rc);
	store__bind_i64(st, 2, last, &rc);
	if (which == OB_RETRY)
		store__bind_i64(st, 3, next_at_ms, &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__exec(s, st);
	return r < 0 ? r : sqlite3_changes(s->db);
}

int store_hook_outbox_delete(struct store *s, int64_t first_id,
			     int64_t last_id)
{
	return outbox_range(s, OB_DELETE, first_id, last_id, 0);
}

int store_hook_outbox_retry(struct store *s, int64_t first_id,
			    int64_t last_id, int64_t next_at_ms)
{
	return outbox_range(s, OB_RETRY, first_id, last_id, next_at_ms);
}

int store_hook_outbox_count(struct store *s, int64_t *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, OB_COUNT);
	int r = store__step(s, st);
	if (r < 0)
		return r;
	*ret = r == 1 ? sqlite3_column_int64(st, 0) : 0;
	return 0;
}

int store_delivery_update(struct store *s, const struct delivery_update *u)
{
	int r = store_begin(s);
	if (r < 0)
		return r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, DL_UPDATE);
		int rc = SQLITE_OK;
		store__bind_i64(st, 1, u->id, &rc);
		store__bind_i64(st, 2, u->status, &rc);
		store__bind_i64(st, 3, u->chain_pos, &rc);
		store__bind_i64(st, 4, u->attempts, &rc);
		store__bind_i64(st, 5, u->next_at_ms, &rc);
		store__bind_str(st, 6, u->msg_id && *u->msg_id ? u->msg_id
							      : NULL, &rc);
		store__bind_str(st, 7, u->code, &rc);
		store__bind_str(st, 8, u->message, &rc);
		if (u->sms_encoding >= 0) {
			store__bind_i64(st, 9, u->sms_encoding, &rc);
			store__bind_i64(st, 10, u->sms_segments, &rc);
		}
		store__bind_i64(st, 11, u->now_ms, &rc);
		store__bind_i64(st, 12, u->possible_dup, &rc);
		store__bind_i64(st, 13, u->sent_ms ? u->sent_ms : u->now_ms,
				&rc);
		store__bind_i64(st, 14, u->phone_pos, &rc);
		r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__exec(s, st);
	}
	bool moved = r == 0 && sqlite3_changes(s->db) > 0;
	if (r == 0 && !moved) {
		/* A receipt moved it on already: never back to "sent". */
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, DL_UPDATE_LATE);
		int rc = SQLITE_OK;
		store__bind_i64(st, 1, u->id, &rc);
		store__bind_i64(st, 2, u->status, &rc);
		store__bind_str(st, 6, u->msg_id && *u->msg_id ? u->msg_id
							      : NULL, &rc);
		if (u->sms_encoding >= 0) {
			store__bind_i64(st, 9, u->sms_encoding, &rc);
			store__bind_i64(st, 10, u->sms_segments, &rc);
		}
		store__bind_i64(st, 11, u->now_ms, &rc);
		store__bind_i64(st, 12, u->possible_dup, &rc);
		store__bind_i64(st, 13, u->sent_ms ? u->sent_ms : u->now_ms,
				&rc);
		r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__exec(s, st);
	}
	if (r == 0 && u->channel) {
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, AT_INSERT);
		int rc = SQLITE_OK;
		store__bind_i64(st, 1, u->id, &rc);
		store__bind_i64(st, 2, u->now_ms, &rc);
		store__bind_str(st, 3, u->channel, &rc);
		if (u->http_status)
			store__bind_i64(st, 4, u->http_status, &rc);
		if (u->outcome >= 0)
			store__bind_i64(st, 5, u->outcome, &rc);
		store__bind_str(st, 6, u->code, &rc);
		store__bind_str(st, 7, u->message, &rc);
		store__bind_i64(st, 8, u->latency_ms, &rc);
		r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__exec(s, st);
	}
	if (r == 0 && moved && u->status == DS_QUEUED) {
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, DL_CANCEL_REQUEUED);
		int rc = SQLITE_OK;
		store__bind_i64(st, 1, u->id, &rc);
		store__bind_i64(st, 2, u->now_ms, &rc);
		r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__exec(s, st);
	}
	if (r == 0 && moved && u->status >= DS_SENT)
		r = hook_one(s, u->id, u->now_ms);
	if (r < 0) {
		store_rollback(s);
		return r;
	}
	return store_commit(s);
}

static int exec_changes(struct store *s, int which, int64_t a, int64_t b)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, which);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, a, &rc);
	if (which != DL_RECOVER)
		store__bind_i64(st, 2, b, &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__exec(s, st);
	return r < 0 ? r : sqlite3_changes(s->db);
}

int store_delivery_recover(struct store *s, int64_t now_ms)
{
	return exec_changes(s, DL_RECOVER, now_ms, 0);
}

/* A bulk change, and with the hook one summary event, atomically. */
static int exec_bulk(struct store *s, int which, int64_t broadcast_id,
		     int64_t wave_id, enum delivery_status status,
		     int64_t now_ms)
{
	if (!s->bcast->hook)
		return exec_changes(s, which, broadcast_id ?: wave_id, now_ms);
	int r = store_begin(s);
	if (r < 0)
		return r;
	int n = exec_changes(s, which, broadcast_id ?: wave_id, now_ms);
	r = n;
	if (n > 0)
		r = hook_summary(s, broadcast_id, wave_id, status, n, now_ms);
	if (r < 0) {
		store_rollback(s);
		return r;
	}
	r = store_commit(s);
	return r < 0 ? r : n;
}

int store_wave_expire(struct store *s, int64_t wave_id, int64_t now_ms)
{
	return exec_bulk(s, DL_EXPIRE, 0, wave_id, DS_EXPIRED, now_ms);
}

int store_broadcast_cancel_queued(struct store *s, int64_t id, int64_t now_ms)
{
	return exec_bulk(s, DL_CANCEL, id, 0, DS_CANCELLED, now_ms);
}

int store_broadcast_requeue_failed(struct store *s, int64_t id,
				   int64_t now_ms)
{
	return exec_bulk(s, DL_REQUEUE, id, 0, DS_QUEUED, now_ms);
}

static int data_version(struct store *s, int64_t *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, QD_VERSION);
	int r = store__step(s, st);
	if (r < 0)
		return r;
	*ret = sqlite3_column_int64(st, 0);
	return 0;
}

static uint64_t tally_hash(int64_t g, int chan, int status)
{
	uint64_t h = (uint64_t)g * 0x9e3779b97f4a7c15ULL;
	h ^= (uint64_t)(chan + 1) * 0xc2b2ae3d27d4eb4fULL;
	h ^= (uint64_t)status * 0x165667b19e3779f9ULL;
	return h ^ (h >> 29);
}

static int tally_grow(struct tally *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64;
	struct tally_ent *e = calloc(cap, sizeof *e);
	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		struct tally_ent *o = &t->ents[i];
		if (!o->n)
			continue;
		size_t k = tally_hash(o->group_id, o->chan, o->status) &
			   (cap - 1);
		while (e[k].n)
			k = (k + 1) & (cap - 1);
		e[k] = *o;
	}
	free(t->ents);
	t->ents = e;
	t->cap = cap;
	return 0;
}

static int tally_add(struct tally *t, int64_t g, int chan, int status)
{
	if ((t->nents + 1) * 2 > t->cap) {
		int r = tally_grow(t);
		if (r < 0)
			return r;
	}
	size_t k = tally_hash(g, chan, status) & (t->cap - 1);
	for (;; k = (k + 1) & (t->cap - 1)) {
		struct tally_ent *e = &t->ents[k];
		if (!e->n) {
			*e = (struct tally_ent){ .group_id = g, .chan = chan,
						 .status = status, .n = 1 };
			t->nents++;
			return 0;
		}
		if (e->group_id == g && e->chan == chan &&
		    e->status == status) {
			e->n++;
			return 0;
		}
	}
}

static int tally_chan(struct tally *t, const char *name, int len)
{
	if (!name)
		return -1;
	for (size_t i = t->nchans; i-- > 0;)
		if (strncmp(t->chans[i], name, (size_t)len) == 0 &&
		    t->chans[i][len] == '\0')
			return (int)i;
	if (t->nchans >= INT32_MAX)
		return -ENOMEM;
	char **a = realloc(t->chans, (t->nchans + 1) * sizeof *a);
	if (!a)
		return -ENOMEM;
	t->chans = a;
	if (!(a[t->nchans] = strndup(name, (size_t)len)))
		return -ENOMEM;
	return (int)t->nchans++;
}

/* The tally of broadcast id, counted unless the one kept is still true. */
static int tally_get(struct store *s, int64_t id, struct tally **ret)
{
	struct tally *t = &s->bcast->tally;
	int64_t v = 0;
	int r = data_version(s, &v);
	if (r < 0)
		return r;
	int64_t ch = sqlite3_total_changes64(s->db);
	if (t->id == id && t->changes == ch && t->version == v) {
		*ret = t;
		return 0;
	}
	tally_clear(t);
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, DL_TALLY);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, id, &rc);
	r = store__bind_check(s, st, rc);
	int last = -1;
	const char *last_name = NULL;
	while (r == 0 && (r = store__step(s, st)) > 0) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		int len = sqlite3_column_bytes(st, 1);
		int chan = last;
		/* the channel of the row before, most often */
		if (!name)
			chan = -1;
		else if (!last_name || last < 0 ||
			 strncmp(last_name, name, (size_t)len) != 0 ||
			 last_name[len] != '\0')
			chan = tally_chan(t, name, len);
		if (chan < -1) {
			r = chan;
			break;
		}
		last = chan;
		last_name = chan >= 0 ? t->chans[chan] : NULL;
		r = tally_add(t, sqlite3_column_int64(st, 0), chan,
			      sqlite3_column_int(st, 2));
	}
	if (r < 0) {
		tally_clear(t);
		return r;
	}
	t->id = id;
	t->changes = sqlite3_get_autocommit(s->db) ? ch : -1;
	t->version = v;
	*ret = t;
	return 0;
}

struct tally_sum {
	int64_t key;            /* group id, or channel index (-1 none) */
	int status;
	int64_t n;
};

static int tally_sum_cmp(const void *a, const void *b)
{
	const struct tally_sum *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->status > y->status) - (x->status < y->status);
}

/* The tally summed by status, group or channel (and status), in order. */
static int tally_sums(const struct tally *t, enum count_by by,
		      struct tally_sum **ret, size_t *ret_n)
{
	struct tally_sum *a = calloc(t->nents ? t->nents : 1, sizeof *a);
	if (!a)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < t->cap; i++) {
		const struct tally_ent *e = &t->ents[i];
		if (e->n)
			a[n++] = (struct tally_sum){
				.key = by == COUNT_BY_GROUP ? e->group_id :
				       by == COUNT_BY_CHANNEL ? e->chan : 0,
				.status = e->status, .n = e->n };
	}
	qsort(a, n, sizeof *a, tally_sum_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && a[m - 1].key == a[i].key &&
		    a[m - 1].status == a[i].status)
			a[m - 1].n += a[i].n;
		else
			a[m++] = a[i];
	}
	*ret = a;
	*ret_n = m;
	return 0;
}

static int group_code(struct store *s, int64_t id, char *buf, size_t n)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, GR_CODE_OF);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, id, &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__step(s, st);
	const char *code = r > 0 ? (const char *)sqlite3_column_text(st, 0)
				 : NULL;
	snprintf(buf, n, "%s", code ? code : "?");
	return r < 0 ? r : 0;
}

int store_broadcast_counts(struct store *s, int64_t id, enum count_by by,
			   int (*cb)(const char *key, enum delivery_status st,
				     int64_t n, void *ud), void *ud)
{
	struct tally *t = &s->bcast->tally;
	int r;
	if (by == COUNT_BY_STATUS && t->id != id) {
		/* from the index (broadcast_id, status) alone */
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, DL_COUNT_STATUS);
		int rc = SQLITE_OK;
		store__bind_i64(st, 1, id, &rc);
		r = store__bind_check(s, st, rc);
		while (r == 0 && (r = store__step(s, st)) > 0)
			r = cb("", (enum delivery_status)sqlite3_column_int(
				       st, 1), sqlite3_column_int64(st, 2), ud);
		return r;
	}
	r = tally_get(s, id, &t);
	if (r < 0)
		return r;
	_cleanup_free_ struct tally_sum *a = NULL;
	size_t n = 0;
	r = tally_sums(t, by, &a, &n);
	char code[128] = "";
	int64_t code_of = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		const char *key = "";
		if (by == COUNT_BY_GROUP) {
			if (i == 0 || a[i].key != code_of)
				r = group_code(s, a[i].key, code,
					       sizeof code);
			code_of = a[i].key;
			key = code;
		} else if (by == COUNT_BY_CHANNEL && a[i].key >= 0) {
			key = t->chans[a[i].key];
		}
		if (r == 0)
			r = cb(key, (enum delivery_status)a[i].status,
			       a[i].n, ud);
	}
	return r;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

int store_delivery_list(struct store *s, const struct delivery_filter *f,
			int (*cb)(const struct delivery_row *r, void *ud),
			void *ud)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, DL_LIST);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, f->broadcast_id, &rc);
	store__bind_i64(st, 2, f->after_id, &rc);
	store__bind_i64(st, 3, f->status, &rc);
	store__bind_i64(st, 4, f->group_id, &rc);
	store__bind_str(st, 5, f->channel, &rc);
	store__bind_i64(st, 6, f->limit ? (int64_t)f->limit : -1, &rc);
	store__bind_i64(st, 7, f->sent_before_ms, &rc);
	int r = store__bind_check(s, st, rc);
	while (r == 0 && (r = store__step(s, st)) > 0) {
		struct delivery_row d = {
			.id = sqlite3_column_int64(st, 0),
			.wave_id = sqlite3_column_int64(st, 1),
			.household_id = sqlite3_column_int64(st, 2),
			.seq = sqlite3_column_int(st, 3),
			.status = (enum delivery_status)
				sqlite3_column_int(st, 4),
			.name = col_text(st, 5),
			.group_code = col_text(st, 6),
			.address = col_text(st, 7),
			.phone = col_text(st, 8),
			.channel = col_text(st, 9),
			.recipient = col_text(st, 10),
			.msg_id = col_text(st, 11),
			.code = col_text(st, 12),
			.message = col_text(st, 13),
			.attempts = sqlite3_column_int(st, 14),
			.possible_dup = sqlite3_column_int(st, 15) != 0,
			.sms_segments = sqlite3_column_type(st, 16) ==
						SQLITE_NULL ? -1 :
					sqlite3_column_int(st, 16),
			.updated_ms = sqlite3_column_int64(st, 17),
			.sent_ms = sqlite3_column_int64(st, 18),
			.final_ms = sqlite3_column_int64(st, 19),
		};
		r = cb(&d, ud);
	}
	return r;
}

/* Count the queued deliveries afresh when lx_qdepth may be wrong. */
static int qdepth_check(struct store *s)
{
	struct store_bcast *b = s->bcast;
	int64_t v = 0;
	{
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, QD_VERSION);
		int r = store__step(s, st);
		if (r < 0)
			return r;
		v = sqlite3_column_int64(st, 0);
	}
	if (b->qd_counted && v == b->qd_version)
		return 0;
	b->qd_counted = false;
	/* one statement at a time, each atomic; with a transaction of
	 * its own unless the caller has one */
	int r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, QD_CLEAR);
		r = store__exec(s, st);
	}
	if (r == 0) {
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, QD_FILL);
		r = store__exec(s, st);
	}
	if (r < 0)
		return r;
	/* Counted inside a transaction, the counts go if it is rolled
	 * back (lx_qdepth with it): count again next time. */
	b->qd_counted = sqlite3_get_autocommit(s->db) != 0;
	b->qd_version = v;
	return 0;
}

int store_queue_depth(struct store *s, int64_t *ret_urgent,
		      int64_t *ret_normal, int64_t *ret_oldest_ms)
{
	*ret_urgent = *ret_normal = 0;
	*ret_oldest_ms = 0;
	int r = qdepth_check(s);
	if (r < 0)
		return r;
	bool any = false;
	{
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, DL_DEPTH);
		while ((r = store__step(s, st)) > 0) {
			int64_t n = sqlite3_column_int64(st, 1);
			if (sqlite3_column_int(st, 0))
				*ret_urgent = n;
			else
				*ret_normal = n;
			any = any || n > 0;
		}
		if (r < 0)
			return r;
	}
	if (!any)
		return 0;
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, DL_OLDEST);
	r = store__step(s, st);
	if (r > 0)
		*ret_oldest_ms = sqlite3_column_int64(st, 0);
	return r < 0 ? r : 0;
}

int store_token_get(struct store *s, const char *channel,
		    struct token_rec *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, TK_GET);
	int rc = SQLITE_OK;
	store__bind_str(st, 1, channel, &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__step(s, st);
	if (r == 0)
		return -ENOENT;
	if (r < 0)
		return r;
	struct token_rec t = { 0 };
	r = store__col_str(st, 0, &t.access_token);
	if (r == 0)
		r = store__col_str(st, 1, &t.refresh_token);
	t.expires_ms = sqlite3_column_int64(st, 2);
	t.updated_ms = sqlite3_column_int64(st, 3);
	if (r < 0) {
		token_rec_clear(&t);
		return r;
	}
	*ret = t;
	return 0;
}

int store_token_put(struct store *s, const char *channel,
		    const struct token_rec *t)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, TK_PUT);
	int rc = SQLITE_OK;
	store__bind_str(st, 1, channel, &rc);
	store__bind_str(st, 2, t->access_token, &rc);
	store__bind_str(st, 3, t->refresh_token, &rc);
	store__bind_i64(st, 4, t->expires_ms, &rc);
	store__bind_i64(st, 5, t->updated_ms, &rc);
	int r = store__bind_check(s, st, rc);
	return r ?: store__exec(s, st);
}

/* ---- receipts and replies ---- */

const char *receipt_outcome_name(enum receipt_outcome o)
{
	static const char *const n[] = { "applied", "duplicate", "late",
					 "unknown" };
	return (unsigned)o < ARRAY_SIZE(n) ? n[o] : "?";
}

static int64_t tracking_delivery(const char *t)
{
	if (!t || strncmp(t, "loaxa-", 6) != 0)
		return 0;
	int64_t id;
	return util_parse_int64(t + 6, 1, INT64_MAX, &id) == 0 ? id : 0;
}

/* Find the delivery of a receipt: id and current status. */
static int receipt_match(struct store *s, const struct receipt_in *in,
			 int64_t *ret_id, int *ret_status)
{
	int64_t id = tracking_delivery(in->tracking_id);
	int r;
	if (id) {
		int64_t st;
		r = query_i64(s, STMT(s, DL_STATUS_OF), id, &st, NULL);
		if (r == 0) {
			*ret_id = id;
			*ret_status = (int)st;
			return 0;
		}
		if (r != -ENOENT)
			return r;
	}
	if (!in->msg_id || !*in->msg_id)
		return -ENOENT;
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, DL_BY_MSG);
	int rc = SQLITE_OK;
	store__bind_str(st, 1, in->msg_id, &rc);
	r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__step(s, st);
	if (r == 0)
		return -ENOENT;
	if (r < 0)
		return r;
	*ret_id = sqlite3_column_int64(st, 0);
	*ret_status = sqlite3_column_int(st, 1);
	return 0;
}

static int exec3(struct store *s, int which, int64_t id, int64_t a,
		 const char *text, int64_t now, int *ret_changes)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, which);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, id, &rc);
	if (text)
		store__bind_str(st, 2, text, &rc);
	else
		store__bind_i64(st, 2, a, &rc);
	store__bind_i64(st, 3, now, &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__exec(s, st);
	if (r == 0)
		*ret_changes = sqlite3_changes(s->db);
	return r;
}

static int watermark_apply(struct store *s, const struct receipt_in *in,
			   int *ret_changes)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, in->kind == RK_READ ?
					       DL_WM_READ : DL_WM_DELIVERED);
	int rc = SQLITE_OK;
	store__bind_str(st, 1, in->sender, &rc);
	store__bind_i64(st, 2, in->watermark_ms, &rc);
	store__bind_i64(st, 3, in->now_ms, &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__exec(s, st);
	if (r == 0)
		*ret_changes = sqlite3_changes(s->db);
	return r;
}

int store_receipt_apply(struct store *s, const struct receipt_in *in,
			enum receipt_outcome *ret_outcome,
			int64_t *ret_changed)
{
	int r = store_begin(s);
	if (r < 0)
		return r;
	enum receipt_outcome out = RO_UNKNOWN;
	int changes = 0;
	int64_t id = 0;
	int status = -1;
	int64_t at = in->at_ms ? in->at_ms : in->now_ms;
	r = receipt_match(s, in, &id, &status);
	if (r == 0) {
		switch (in->kind) {
		case RK_DELIVERED:
			r = exec3(s, DL_RC_DELIVERED, id, at, NULL,
				  in->now_ms, &changes);
			break;
		case RK_READ:
			r = exec3(s, DL_RC_READ, id, at, NULL, in->now_ms,
				  &changes);
			break;
		case RK_FAILED:
			r = exec3(s, DL_RC_FAILED, id, 0,
				  in->code && *in->code ? in->code :
				  "undelivered", in->now_ms, &changes);
			break;
		}
		if (r == 0 && changes)
			r = hook_one(s, id, in->now_ms);
		if (r == 0)
			out = changes ? RO_APPLIED :
			      (in->kind == RK_DELIVERED && status == DS_DELIVERED)
			      || (in->kind == RK_READ && status == DS_READ) ||
			      (in->kind == RK_FAILED && status == DS_FAILED)
				      ? RO_DUPLICATE : RO_LATE;
	} else if (r == -ENOENT && in->watermark_ms > 0 && in->sender &&
		   *in->sender && in->kind != RK_FAILED) {
		r = watermark_apply(s, in, &changes);
		if (r == 0 && changes)
			r = hook_watermark(s, in, in->kind == RK_READ ?
					   DS_READ : DS_DELIVERED);
		if (r == 0)
			out = changes ? RO_APPLIED : RO_DUPLICATE;
	} else if (r == -ENOENT) {
		r = 0;
	}
	if (r == 0) {
		_cleanup_stmt_ sqlite3_stmt *st = STMT(s, RC_INSERT);
		int rc = SQLITE_OK;
		store__bind_i64(st, 1, in->now_ms, &rc);
		store__bind_i64(st, 2, in->provider, &rc);
		store__bind_i64(st, 3, in->kind, &rc);
		store__bind_str(st, 4, in->msg_id && *in->msg_id ? in->msg_id
				: NULL, &rc);
		store__bind_str(st, 5, in->tracking_id && *in->tracking_id ?
				in->tracking_id : NULL, &rc);
		store__bind_str(st, 6, in->sender && *in->sender ? in->sender
				: NULL, &rc);
		store__bind_i64(st, 7, in->at_ms, &rc);
		store__bind_i64(st, 8, in->watermark_ms, &rc);
		store__bind_str(st, 9, in->code && *in->code ? in->code : NULL,
				&rc);
		if (id)
			store__bind_i64(st, 10, id, &rc);
		store__bind_i64(st, 11, out, &rc);
		store__bind_i64(st, 12, changes, &rc);
		r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__exec(s, st);
	}
	if (r < 0) {
		store_rollback(s);
		return r;
	}
	r = store_commit(s);
	if (r < 0)
		return r;
	*ret_outcome = out;
	if (ret_changed)
		*ret_changed = changes;
	return 0;
}

static int find_by_str(struct store *s, int which, const char *v,
		       int64_t *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, which);
	int rc = SQLITE_OK;
	store__bind_str(st, 1, v, &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__step(s, st);
	if (r == 0)
		return -ENOENT;
	if (r < 0)
		return r;
	*ret = sqlite3_column_int64(st, 0);
	return 0;
}

int store_reply_add(struct store *s, const struct reply_in *in,
		    int64_t *ret_id, int64_t *ret_household,
		    int64_t *ret_broadcast)
{
	int64_t hh = 0, bc = 0;
	int r = 0;
	if (in->sender && *in->sender) {
		int which = in->sender[0] == '+' ? RP_HH_PHONE :
			    in->provider == CHD_MESSENGER ? RP_HH_PSID :
								RP_HH_ZALO;
		r = find_by_str(s, which, in->sender, &hh);
		if (r == -ENOENT)
			r = 0, hh = 0;
	}
	if (r == 0 && hh) {
		r = query_i64(s, STMT(s, RP_MEETING_OF), hh, &bc, NULL);
		if (r == -ENOENT)
			r = 0, bc = 0;
	}
	if (r < 0)
		return r;
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, RP_INSERT);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, in->now_ms, &rc);
	store__bind_i64(st, 2, in->provider, &rc);
	store__bind_str(st, 3, in->sender ? in->sender : "", &rc);
	store__bind_str(st, 4, in->msg_id && *in->msg_id ? in->msg_id : NULL,
			&rc);
	if (hh)
		store__bind_i64(st, 5, hh, &rc);
	if (bc)
		store__bind_i64(st, 6, bc, &rc);
	store__bind_str(st, 7, in->text ? in->text : "", &rc);
	store__bind_i64(st, 8, in->rsvp, &rc);
	r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__exec(s, st);
	if (r < 0)
		return r;
	*ret_id = sqlite3_changes(s->db) ? sqlite3_last_insert_rowid(s->db) : 0;
	if (ret_household)
		*ret_household = hh;
	if (ret_broadcast)
		*ret_broadcast = bc;
	return 0;
}

int store_reply_list(struct store *s, const struct reply_filter *f,
		     int (*cb)(const struct reply_row *r, void *ud), void *ud)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, RP_LIST);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, f->after_id, &rc);
	store__bind_i64(st, 2, f->broadcast_id, &rc);
	store__bind_i64(st, 3, f->household_id, &rc);
	store__bind_i64(st, 4, f->rsvp, &rc);
	store__bind_i64(st, 5, f->limit ? (int64_t)f->limit : -1, &rc);
	store__bind_i64(st, 6, f->group_id, &rc);
	int r = store__bind_check(s, st, rc);
	while (r == 0 && (r = store__step(s, st)) > 0) {
		struct reply_row row = {
			.id = sqlite3_column_int64(st, 0),
			.household_id = sqlite3_column_int64(st, 1),
			.broadcast_id = sqlite3_column_int64(st, 2),
			.received_ms = sqlite3_column_int64(st, 3),
			.provider = sqlite3_column_int(st, 4),
			.rsvp = sqlite3_column_int(st, 5),
			.sender = col_text(st, 6),
			.text = col_text(st, 7),
			.name = col_text(st, 8),
			.group_code = col_text(st, 9),
		};
		r = cb(&row, ud);
	}
	return r;
}

int store_rsvp_counts(struct store *s, int64_t broadcast_id,
		      int64_t *ret_yes, int64_t *ret_no)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, RP_RSVP);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, broadcast_id, &rc);
	int r = store__bind_check(s, st, rc);
	*ret_yes = *ret_no = 0;
	while (r == 0 && (r = store__step(s, st)) > 0) {
		if (sqlite3_column_int(st, 0) == 1)
			*ret_yes = sqlite3_column_int64(st, 1);
		else if (sqlite3_column_int(st, 0) == 2)
			*ret_no = sqlite3_column_int64(st, 1);
		r = 0;
	}
	return r;
}

/* One statement with up to two integer parameters whose first row's first
 * column is the answer (0 when there is no row). */
static int scalar_i64(struct store *s, int which, int nargs, int64_t a,
		      int64_t b, int64_t *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, which);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, a, &rc);
	if (nargs > 1)
		store__bind_i64(st, 2, b, &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__step(s, st);
	if (r < 0)
		return r;
	*ret = r > 0 ? sqlite3_column_int64(st, 0) : 0;
	return 0;
}

int store_broadcast_unconfirmed(struct store *s, int64_t id, int64_t before_ms,
				int64_t *ret)
{
	return scalar_i64(s, DL_UNCONFIRMED, 2, id, before_ms, ret);
}

int store_household_history(struct store *s, int64_t household_id,
			    const struct history_key *after, uint32_t limit,
			    int (*cb)(const struct history_row *r, void *ud),
			    void *ud)
{
	_cleanup_stmt_ sqlite3_stmt *st = STMT(s, HH_HISTORY);
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, household_id, &rc);
	if (after) {
		store__bind_i64(st, 2, after->at_ms, &rc);
		store__bind_i64(st, 3, after->kind, &rc);
		store__bind_i64(st, 4, after->id, &rc);
	}
	store__bind_i64(st, 5, limit ? (int64_t)limit : -1, &rc);
	int r = store__bind_check(s, st, rc);
	while (r == 0 && (r = store__step(s, st)) > 0) {
		struct history_row h = {
			.key = {
				.kind = sqlite3_column_int(st, 0) ?
					HK_REPLY : HK_DELIVERY,
				.at_ms = sqlite3_column_int64(st, 1),
				.id = sqlite3_column_int64(st, 2),
			},
			.broadcast_id = sqlite3_column_int64(st, 3),
			.title = col_text(st, 4),
			.bcast_kind = sqlite3_column_int(st, 5) ? BK_NOTICE :
								   BK_MEETING,
			.seq = sqlite3_column_int(st, 6),
			.status = (enum delivery_status)
				sqlite3_column_int(st, 7),
			.channel = col_text(st, 8),
			.recipient = col_text(st, 9),
			.code = col_text(st, 10),
			.message = col_text(st, 11),
			.sent_ms = sqlite3_column_int64(st, 12),
			.delivered_ms = sqlite3_column_int64(st, 13),
			.read_ms = sqlite3_column_int64(st, 14),
			.updated_ms = sqlite3_column_int64(st, 15),
			.text = col_text(st, 16),
			.rsvp = sqlite3_column_int(st, 17),
			.provider = sqlite3_column_int(st, 18),
		};
		if (h.key.kind == HK_REPLY)
			h.received_ms = h.key.at_ms;
		r = cb(&h, ud);
	}
	return r;
}

int store_broadcast_started(struct store *s, int64_t id, int64_t *ret_ms)
{
	return scalar_i64(s, DL_STARTED, 1, id, 0, ret_ms);
}

int store_broadcast_final_since(struct store *s, int64_t id, int64_t since_ms,
				int64_t *ret)
{
	return scalar_i64(s, DL_FINAL_SINCE, 2, id, since_ms, ret);
}
