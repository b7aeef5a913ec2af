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
 * 1: groups, households, phones; 2: their indexes and the meta table. */
#define STORE_SCHEMA_VERSION 2

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

struct store_counts {
	int64_t groups, households, phones, opted_out;
};
int store_counts(struct store *s, struct store_counts *ret);

#endif
