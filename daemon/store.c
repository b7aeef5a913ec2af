/* store.c: see store.h. The only file of loaxad that speaks SQL.
 *
 * Layout of one store:
 *  - "<db>.lock": an exclusive flock held for the life of the store, with our
 *    pid in it, so a second loaxad on the same file is refused with a clear
 *    message (SQLite's own locks would only make it stall or fail later);
 *  - the database in WAL mode with synchronous=FULL (an acknowledged write
 *    survives a power cut), foreign keys on, and a short busy timeout: we
 *    are the only writer, so a lock held by someone else (a sqlite3 shell)
 *    becomes -EBUSY after 250 ms instead of stalling the event loop;
 *  - numbered migrations in PRAGMA user_version, each in one transaction;
 *  - every statement prepared once at open (SQLITE_PREPARE_PERSISTENT),
 *    reset and cleared after each use by a _cleanup_ helper.
 *
 * Transactions nest: the outermost store_begin() issues BEGIN IMMEDIATE and
 * its store_commit()/store_rollback() COMMIT/ROLLBACK; inner levels use a
 * SAVEPOINT, so rolling back an inner level undoes exactly that level's
 * writes and the caller's outer transaction stays usable.
 *
 * When SQLite rolls a whole transaction back by itself (disk full, I/O
 * error), the store is "aborted": every statement fails with that error
 * until the caller unwinds to the outermost store_rollback(), so no stray
 * write can slip out in autocommit mode while the caller still believes it
 * is inside a transaction.
 */
#include "loaxa/store.h"
#include "loaxa/text.h"
#include "store-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loaxa/log.h"
#include "loaxa/util.h"

#if defined(__has_include)
#if __has_include("config-build.h")
#include "config-build.h"
#endif
#endif
#ifdef LOAXA_VERSION
#define STORE_CREATED_BY "loaxad " LOAXA_VERSION
#else
#define STORE_CREATED_BY "loaxad"
#endif

/* Milliseconds SQLite waits for a lock held by another connection. */
#define STORE_BUSY_TIMEOUT_MS 250

/* ---- migrations ---------------------------------------------------------
 * migrations[i] brings user_version from i to i + 1. Never edit a released
 * entry: add a new one and raise STORE_SCHEMA_VERSION. */
static const char *const migrations[] = {
	/* 1: the directory */
	"CREATE TABLE groups ("
	" id INTEGER PRIMARY KEY,"
	" code TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	" name TEXT NOT NULL,"
	" from_config INTEGER NOT NULL DEFAULT 0,"
	" created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL);"
	"CREATE TABLE households ("
	" id INTEGER PRIMARY KEY,"
	" group_id INTEGER NOT NULL REFERENCES groups(id),"
	" name TEXT NOT NULL,"
	" address TEXT,"
	" zalo_user_id TEXT,"
	" messenger_psid TEXT,"
	" note TEXT,"
	" opted_out INTEGER NOT NULL DEFAULT 0,"
	" created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL);"
	"CREATE TABLE phones ("
	" e164 TEXT PRIMARY KEY,"
	" household_id INTEGER NOT NULL"
	"  REFERENCES households(id) ON DELETE CASCADE,"
	" position INTEGER NOT NULL) WITHOUT ROWID;",

	/* 2: indexes for listing by group and for the phone cascade; meta */
	"CREATE INDEX households_group ON households(group_id, id);"
	"CREATE INDEX phones_household ON phones(household_id, position);"
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
	"INSERT INTO meta(key, value) VALUES"
	" ('created_by', '" STORE_CREATED_BY "'),"
	" ('instance_id', lower(hex(randomblob(16))));",

	/* 3: broadcasts. Household ids are never reused (history points at
	 * them): household_seq remembers the highest id ever given. */
	"INSERT INTO meta(key, value) VALUES ('household_seq',"
	" (SELECT coalesce(max(id), 0) FROM households));"
	"CREATE TRIGGER households_seq AFTER INSERT ON households BEGIN"
	" UPDATE meta SET value = NEW.id WHERE key = 'household_seq'"
	"  AND CAST(value AS INTEGER) < NEW.id; END;"
	"CREATE TABLE broadcasts ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" kind INTEGER NOT NULL,"
	" urgent INTEGER NOT NULL DEFAULT 0,"
	" state INTEGER NOT NULL,"
	" title TEXT NOT NULL, body TEXT, place TEXT, agenda TEXT,"
	" starts_ms INTEGER NOT NULL DEFAULT 0,"
	" send_at_ms INTEGER NOT NULL,"
	" expires_ms INTEGER NOT NULL,"
	" all_groups INTEGER NOT NULL DEFAULT 0,"
	" reminders TEXT NOT NULL DEFAULT '',"
	" idem_key TEXT UNIQUE,"
	" created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL,"
	" finished_ms INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE broadcast_groups ("
	" broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id),"
	" group_id INTEGER NOT NULL,"
	" PRIMARY KEY (broadcast_id, group_id)) WITHOUT ROWID;"
	"CREATE TABLE waves ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id),"
	" seq INTEGER NOT NULL,"
	" send_at_ms INTEGER NOT NULL,"
	" expires_ms INTEGER NOT NULL,"
	" state INTEGER NOT NULL,"
	" cursor INTEGER NOT NULL DEFAULT 0,"
	" total INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE (broadcast_id, seq));"
	"CREATE TABLE deliveries ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" wave_id INTEGER NOT NULL,"
	" broadcast_id INTEGER NOT NULL,"
	" household_id INTEGER NOT NULL,"
	" group_id INTEGER NOT NULL,"
	" status INTEGER NOT NULL,"
	" next_at_ms INTEGER NOT NULL,"
	" chain_pos INTEGER NOT NULL DEFAULT 0,"
	" channel TEXT,"
	" recipient TEXT,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" total_attempts INTEGER NOT NULL DEFAULT 0,"
	" msg_id TEXT, code TEXT, message TEXT,"
	" possible_dup INTEGER NOT NULL DEFAULT 0,"
	" sms_encoding INTEGER, sms_segments INTEGER,"
	" sent_ms INTEGER, final_ms INTEGER,"
	" updated_ms INTEGER NOT NULL,"
	" UNIQUE (wave_id, household_id));"
	"CREATE INDEX deliveries_due ON deliveries(wave_id, next_at_ms)"
	" WHERE status = 0;"
	"CREATE INDEX deliveries_sending ON deliveries(status)"
	" WHERE status = 1;"
	"CREATE INDEX deliveries_broadcast ON deliveries(broadcast_id, status);"
	"CREATE INDEX deliveries_msg ON deliveries(msg_id)"
	" WHERE msg_id IS NOT NULL;"
	"CREATE TABLE attempts ("
	" id INTEGER PRIMARY KEY,"
	" delivery_id INTEGER NOT NULL,"
	" at_ms INTEGER NOT NULL,"
	" channel TEXT NOT NULL,"
	" http_status INTEGER, outcome INTEGER, code TEXT, message TEXT,"
	" latency_ms INTEGER);"
	"CREATE INDEX attempts_delivery ON attempts(delivery_id);"
	"CREATE TABLE tokens ("
	" channel TEXT PRIMARY KEY,"
	" access_token TEXT, refresh_token TEXT,"
	" expires_ms INTEGER NOT NULL DEFAULT 0,"
	" updated_ms INTEGER NOT NULL) WITHOUT ROWID;",

	/* 4: delivery tracking: receipts (kept for audit, matched or not)
	 * and replies (feedback, RSVPs) */
	"ALTER TABLE deliveries ADD COLUMN delivered_ms INTEGER;"
	"ALTER TABLE deliveries ADD COLUMN read_ms INTEGER;"
	"CREATE INDEX deliveries_recipient ON deliveries(recipient, sent_ms)"
	" WHERE status IN (2, 3);"
	"CREATE INDEX households_zalo ON households(zalo_user_id)"
	" WHERE zalo_user_id IS NOT NULL;"
	"CREATE INDEX households_psid ON households(messenger_psid)"
	" WHERE messenger_psid IS NOT NULL;"
	"CREATE TABLE receipts ("
	" id INTEGER PRIMARY KEY,"
	" received_ms INTEGER NOT NULL,"
	" provider INTEGER NOT NULL,"
	" kind INTEGER NOT NULL,"
	" msg_id TEXT, tracking_id TEXT, sender TEXT,"
	" at_ms INTEGER, watermark_ms INTEGER, code TEXT,"
	" delivery_id INTEGER,"
	" outcome INTEGER NOT NULL,"
	" changed INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX receipts_delivery ON receipts(delivery_id)"
	" WHERE delivery_id IS NOT NULL;"
	"CREATE TABLE replies ("
	" id INTEGER PRIMARY KEY,"
	" received_ms INTEGER NOT NULL,"
	" provider INTEGER NOT NULL,"
	" sender TEXT NOT NULL,"
	" msg_id TEXT,"
	" household_id INTEGER,"
	" broadcast_id INTEGER,"
	" text TEXT NOT NULL,"
	" rsvp INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE (provider, msg_id));"
	"CREATE INDEX replies_broadcast ON replies(broadcast_id, household_id);"
	"CREATE INDEX replies_household ON replies(household_id);",

	/* 5: the outbound event hook's outbox, written in the transaction of
	 * the change it reports (hooks.c sends and deletes its rows) */
	"CREATE TABLE hook_outbox ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"  /* never reused */
	" created_ms INTEGER NOT NULL,"
	" body TEXT NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" next_at_ms INTEGER NOT NULL);",

	/* 6: people. Users with a role (1 manager, 2 official, 3 admin),
	 * the groups a manager keeps, personal API tokens and console
	 * sessions (only hashes of their secrets), the audit log, and who
	 * asked for and approved a broadcast. */
	"CREATE TABLE users ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	" display_name TEXT NOT NULL DEFAULT '',"
	" role INTEGER NOT NULL,"
	" pw_hash TEXT,"
	" unix_uid INTEGER UNIQUE,"
	" disabled INTEGER NOT NULL DEFAULT 0,"
	" created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL);"
	"CREATE TABLE user_groups ("
	" user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	" group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
	" PRIMARY KEY (user_id, group_id)) WITHOUT ROWID;"
	"CREATE INDEX user_groups_group ON user_groups(group_id);"
	"CREATE TABLE api_tokens ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	" hash TEXT NOT NULL UNIQUE,"
	" label TEXT NOT NULL DEFAULT '',"
	" created_ms INTEGER NOT NULL,"
	" last_used_ms INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE sessions ("
	" hash TEXT PRIMARY KEY,"
	" user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	" csrf TEXT NOT NULL,"
	" origin TEXT NOT NULL DEFAULT '',"
	" created_ms INTEGER NOT NULL,"
	" seen_ms INTEGER NOT NULL,"
	" expires_ms INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX sessions_user ON sessions(user_id);"
	"CREATE TABLE audit ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" at_ms INTEGER NOT NULL,"
	" user_name TEXT NOT NULL,"
	" role INTEGER NOT NULL DEFAULT 0,"
	" origin TEXT NOT NULL,"
	" action TEXT NOT NULL,"
	" target TEXT NOT NULL DEFAULT '',"
	" status INTEGER NOT NULL DEFAULT 0,"
	" detail TEXT NOT NULL DEFAULT '');"
	"ALTER TABLE broadcasts ADD COLUMN requested_by TEXT;"
	"ALTER TABLE broadcasts ADD COLUMN approved_by TEXT;"
	"ALTER TABLE broadcasts ADD COLUMN approved_ms INTEGER;",

	/* 7: retention. A pruned broadcast keeps its counts in summary (the
	 * JSON of its per-status, group, channel and RSVP counts). */
	"ALTER TABLE broadcasts ADD COLUMN pruned_ms INTEGER;"
	"ALTER TABLE broadcasts ADD COLUMN summary TEXT;"
	"CREATE INDEX broadcasts_finished ON broadcasts(finished_ms)"
	" WHERE finished_ms > 0 AND pruned_ms IS NULL;",

	/* 8: which of the household's phones (by position, 0 the first) a
	 * phone-addressed channel is trying: a number that channel refuses
	 * for good moves to the next phone before the next channel */
	("ALTER TABLE deliveries ADD COLUMN phone_pos INTEGER NOT NULL"
	 " DEFAULT 0;"),
};

_Static_assert(ARRAY_SIZE(migrations) == STORE_SCHEMA_VERSION,
	       "one migration per schema version");

/* ---- prepared statements ------------------------------------------------ */


#define GROUP_COLS \
	"g.id, g.code, g.name, g.from_config," \
	" (SELECT count(*) FROM households h WHERE h.group_id = g.id)" \
	" FROM groups g"

#define HH_COLS \
	"h.id, h.group_id, g.code, h.name, h.address, h.zalo_user_id," \
	" h.messenger_psid, h.note, h.opted_out, h.created_ms, h.updated_ms" \
	" FROM households h JOIN groups g ON g.id = h.group_id"

static const char *const stmt_sql[ST_MAX] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT nest",
	[ST_RELEASE] = "RELEASE nest",
	[ST_ROLLBACK_TO] = "ROLLBACK TO nest",
	[ST_USER_VERSION] = "PRAGMA user_version",

	[ST_GROUP_LIST] = "SELECT " GROUP_COLS " ORDER BY g.code, g.id",
	[ST_GROUP_GET] = "SELECT " GROUP_COLS " WHERE g.id = ?1",
	[ST_GROUP_GET_BY_CODE] = "SELECT " GROUP_COLS " WHERE g.code = ?1",
	[ST_GROUP_INSERT] =
		"INSERT INTO groups(code, name, from_config, created_ms,"
		" updated_ms) VALUES (?1, ?2, ?3, ?4, ?4)",
	[ST_GROUP_UPDATE] =
		"UPDATE groups SET name = ?2, from_config = ?3,"
		" updated_ms = ?4 WHERE id = ?1",
	[ST_GROUP_DELETE] = "DELETE FROM groups WHERE id = ?1",
	[ST_GROUP_HAS_HOUSEHOLDS] =
		"SELECT EXISTS (SELECT 1 FROM households WHERE group_id = ?1)",
	[ST_GROUP_DELETE_HOUSEHOLDS] =
		"DELETE FROM households WHERE group_id = ?1",

	[ST_HH_INSERT] =
		"INSERT INTO households(id, group_id, name, address,"
		" zalo_user_id, messenger_psid, note, opted_out, created_ms,"
		" updated_ms) VALUES ((SELECT max((SELECT coalesce(max(id), 0)"
		" FROM households), (SELECT CAST(value AS INTEGER) FROM meta"
		" WHERE key = 'household_seq')) + 1),"
		" ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_HH_UPDATE] =
		"UPDATE households SET group_id = ?1, name = ?2, address = ?3,"
		" zalo_user_id = ?4, messenger_psid = ?5, note = ?6,"
		" opted_out = ?7, updated_ms = ?8 WHERE id = ?9",
	[ST_HH_GET] = "SELECT " HH_COLS " WHERE h.id = ?1",
	[ST_HH_DELETE] = "DELETE FROM households WHERE id = ?1",
	[ST_HH_SET_OPTED_OUT] =
		"UPDATE households SET opted_out = ?2, updated_ms = ?3"
		" WHERE id = ?1",
	/* ?1 after_id, ?2 group (0 all), ?3 opted_out (-1 any), ?4 q or
	 * NULL, ?5 digits of q or NULL, ?6 "84..." form of a 0-led ?5 or
	 * NULL, ?7 limit (-1 none). loaxa_fold() is text_fold_key: "nguyen
	 * van an" finds "Nguyễn Văn An". */
	[ST_HH_LIST] =
		"SELECT " HH_COLS
		" WHERE h.id > ?1"
		" AND (?2 = 0 OR h.group_id = ?2)"
		" AND (?3 < 0 OR h.opted_out = ?3)"
		" AND (?4 IS NULL"
		"  OR (loaxa_fold(?4) <> ''"
		"   AND (instr(loaxa_fold(h.name), loaxa_fold(?4)) > 0"
		"    OR instr(loaxa_fold(h.address), loaxa_fold(?4)) > 0))"
		"  OR (?5 IS NOT NULL AND EXISTS (SELECT 1 FROM phones p"
		"      WHERE p.household_id = h.id"
		"      AND (instr(p.e164, ?5) > 0"
		"       OR (?6 IS NOT NULL AND instr(p.e164, ?6) > 0)))))"
		" ORDER BY h.id LIMIT ?7",

	[ST_PHONES_OF] =
		"SELECT e164 FROM phones WHERE household_id = ?1"
		" ORDER BY position",
	[ST_PHONE_OWNER] = "SELECT household_id FROM phones WHERE e164 = ?1",
	[ST_PHONES_DELETE] = "DELETE FROM phones WHERE household_id = ?1",
	[ST_PHONE_INSERT] =
		"INSERT INTO phones(e164, household_id, position)"
		" VALUES (?1, ?2, ?3)",
	[ST_COUNTS] =
		"SELECT (SELECT count(*) FROM groups),"
		" (SELECT count(*) FROM households),"
		" (SELECT count(*) FROM phones),"
		" (SELECT count(*) FROM households WHERE opted_out != 0)",
};


/* ---- helpers ------------------------------------------------------------ */


static void seterr(char *err, size_t errsz, const char *fmt, ...)
	_printf_(3, 4);
static void seterr(char *err, size_t errsz, const char *fmt, ...)
{
	if (!err || errsz == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

void store__seterr(struct store *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
	va_end(ap);
}

/* SQLite result code -> -errno (see store.h). */
static int store_errno(sqlite3 *db, int rc)
{
	int e;

	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_UNIQUE ||
		    rc == SQLITE_CONSTRAINT_PRIMARYKEY ||
		    rc == SQLITE_CONSTRAINT_ROWID)
			return -EEXIST;
		/* NOT NULL, CHECK, FOREIGN KEY: a bad value from the caller */
		return -EINVAL;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return -EBADMSG;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_RANGE:
	case SQLITE_MISMATCH:
	case SQLITE_MISUSE:
		return -EINVAL;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		e = db ? sqlite3_system_errno(db) : 0;
		/* EFBIG: RLIMIT_FSIZE or the file system's size limit; the
		 * file cannot grow, which is "full" for whoever runs us */
		if (e == ENOSPC || e == EDQUOT || e == EFBIG)
			return -ENOSPC;
		if (e == EROFS)
			return -EROFS;
		if ((rc & 0xff) == SQLITE_IOERR)
			return -EIO;
		if (e == ENOENT || e == ENOTDIR)
			return -ENOENT;
		return -EACCES;
	default:
		return -EIO;
	}
}

/* Record a failed SQLite call: keep its message, reset the statement, and
 * notice when SQLite rolled our transaction back behind our back. */
int store__fail(struct store *s, sqlite3_stmt *st, int rc)
{
	int r = store_errno(s->db, rc);
	if (r == 0)
		r = -EIO;
	snprintf(s->errmsg, sizeof s->errmsg, "%s", sqlite3_errmsg(s->db));
	if (st)
		sqlite3_reset(st);
	if (s->depth > 0 && !s->aborted && sqlite3_get_autocommit(s->db)) {
		s->aborted = r;
		log_debug(LOG_STORE, "transaction rolled back by SQLite: %s",
			  s->errmsg);
	}
	return r;
}

/* Step once: 1 = a row, 0 = done, -errno = failed (recorded). */
int store__step(struct store *s, sqlite3_stmt *st)
{
	if (s->aborted) {
		sqlite3_reset(st);
		return s->aborted;
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return store__fail(s, st, rc);
}

/* Step a statement that returns no rows. */
int store__exec(struct store *s, sqlite3_stmt *st)
{
	int r = store__step(s, st);
	return r > 0 ? 0 : r;
}

/* Binding helpers: chain them, the first failure sticks in *rc. */
void store__bind_i64(sqlite3_stmt *st, int i, int64_t v, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = sqlite3_bind_int64(st, i, v);
}

/* The text must outlive the step: statements are reset and cleared before
 * the functions binding them return. NULL binds SQL NULL. */
void store__bind_str(sqlite3_stmt *st, int i, const char *v, int *rc)
{
	if (*rc != SQLITE_OK)
		return;
	if (v)
		*rc = sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		*rc = sqlite3_bind_null(st, i);
}

int store__bind_check(struct store *s, sqlite3_stmt *st, int rc)
{
	return rc == SQLITE_OK ? 0 : store__fail(s, st, rc);
}

/* Copy a text column; NULL stays NULL. */
int store__col_str(sqlite3_stmt *st, int i, char **ret)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL) {
		*ret = NULL;
		return 0;
	}
	const unsigned char *t = sqlite3_column_text(st, i);
	if (!t)
		return -ENOMEM;
	char *p = util_strndup((const char *)t,
			       (size_t)sqlite3_column_bytes(st, i));
	if (!p)
		return -ENOMEM;
	*ret = p;
	return 0;
}

static char *path_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return util_strndup(path, (size_t)(slash - path));
}

/* ---- open and close ----------------------------------------------------- */

static int store_lock(struct store *s, char *err, size_t errsz)
{
	_cleanup_free_ char *lock_path = NULL;
	_cleanup_free_ char *dir = NULL;
	struct stat st;
	int e;

	if (asprintf(&lock_path, "%s.lock", s->path) < 0) {
		lock_path = NULL;
		return -ENOMEM;
	}
	dir = path_dir(s->path);
	if (!dir)
		return -ENOMEM;

	s->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY,
			  0600);
	if (s->lock_fd < 0) {
		e = errno;
		bool db_exists = stat(s->path, &st) == 0;
		bool lock_exists = stat(lock_path, &st) == 0;
		if (e == ENOENT || e == ENOTDIR) {
			seterr(err, errsz,
			       "cannot create database %s: directory %s does "
			       "not exist", s->path, dir);
			return -ENOENT;
		}
		if (e == EROFS) {
			seterr(err, errsz,
			       "database %s is read-only: cannot create %s: %s",
			       s->path, lock_path, strerror(e));
			return -EROFS;
		}
		if ((e == EACCES || e == EPERM) && !lock_exists) {
			if (db_exists)
				seterr(err, errsz,
				       "cannot create lock file %s: directory "
				       "%s is not writable: %s",
				       lock_path, dir, strerror(e));
			else
				seterr(err, errsz,
				       "cannot create database %s: directory "
				       "%s is not writable: %s",
				       s->path, dir, strerror(e));
			return -EACCES;
		}
		seterr(err, errsz, "cannot open lock file %s: %s", lock_path,
		       strerror(e));
		return -e;
	}

	for (;;) {
		if (flock(s->lock_fd, LOCK_EX | LOCK_NB) == 0)
			break;
		e = errno;
		if (e == EINTR)
			continue;
		if (e == EWOULDBLOCK) {
			char buf[32];
			int64_t pid = 0;
			ssize_t n = pread(s->lock_fd, buf, sizeof buf - 1, 0);
			if (n > 0) {
				buf[n] = '\0';
				buf[strcspn(buf, "\n")] = '\0';
				if (util_parse_int64(buf, 1, INT32_MAX,
						     &pid) < 0)
					pid = 0;
			}
			if (pid > 0)
				seterr(err, errsz,
				       "database %s is in use by another "
				       "loaxad (pid %lld)", s->path,
				       (long long)pid);
			else
				seterr(err, errsz,
				       "database %s is in use by another "
				       "loaxad", s->path);
			return -EBUSY;
		}
		seterr(err, errsz, "cannot lock %s: %s", lock_path,
		       strerror(e));
		return -e;
	}

	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(s->lock_fd, 0) < 0 ||
	    pwrite(s->lock_fd, buf, (size_t)n, 0) != n) {
		e = errno ? errno : EIO;
		seterr(err, errsz, "cannot write lock file %s: %s", lock_path,
		       strerror(e));
		return -e;
	}
	return 0;
}

/* A failure while opening: a sentence for a person, from SQLite's code. */
static int store_open_fail(struct store *s, int rc, char *err, size_t errsz)
{
	int r = store__fail(s, NULL, rc);

	switch (r) {
	case -EBADMSG:
		seterr(err, errsz,
		       "%s is not a loaxa database or is corrupt (%s)",
		       s->path, s->errmsg);
		break;
	case -EROFS:
		seterr(err, errsz, "database %s is read-only (%s)", s->path,
		       s->errmsg);
		break;
	case -ENOSPC:
		seterr(err, errsz, "cannot write database %s: disk full (%s)",
		       s->path, s->errmsg);
		break;
	case -EBUSY:
		seterr(err, errsz,
		       "database %s is locked by another program (%s)",
		       s->path, s->errmsg);
		break;
	default:
		seterr(err, errsz, "cannot open database %s: %s", s->path,
		       s->errmsg);
		break;
	}
	return r;
}

/* Run one statement at open that yields at most one value. */
static int open_query(struct store *s, const char *sql, char *buf,
		      size_t bufsz, int64_t *ret_int, char *err, size_t errsz)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_open_fail(s, rc, err, errsz);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (buf && bufsz) {
			const unsigned char *t = sqlite3_column_text(st, 0);
			snprintf(buf, bufsz, "%s", t ? (const char *)t : "");
		}
		if (ret_int)
			*ret_int = sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE) {
		sqlite3_finalize(st);
		return store_open_fail(s, rc, err, errsz);
	}
	sqlite3_finalize(st);
	return 0;
}

static int store_migrate(struct store *s, int from, char *err, size_t errsz)
{
	for (int v = from + 1; v <= STORE_SCHEMA_VERSION; v++) {
		char setver[64];
		int rc;

		snprintf(setver, sizeof setver, "PRAGMA user_version = %d", v);
		rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->db, migrations[v - 1], NULL, NULL,
					  NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->db, setver, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			int r = store__fail(s, NULL, rc);
			if (!sqlite3_get_autocommit(s->db))
				sqlite3_exec(s->db, "ROLLBACK", NULL, NULL,
					     NULL);
			seterr(err, errsz,
			       "cannot upgrade database %s to schema version "
			       "%d (it stays at version %d): %s",
			       s->path, v, v - 1, s->errmsg);
			return r;
		}
		log_debug(LOG_STORE, "%s: migrated to schema version %d",
			  s->path, v);
	}
	return 0;
}

/* SQL loaxa_fold(text): the lookup key of text.h, for searches that
 * ignore case, diacritics and separators. */
static void sql_fold(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	const char *in = (const char *)sqlite3_value_text(argv[0]);
	if (!in) {
		sqlite3_result_null(ctx);
		return;
	}
	size_t n = (size_t)sqlite3_value_bytes(argv[0]);
	char small[256];
	char *out = n < sizeof small ? small : malloc(n + 1);
	if (!out) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	size_t k = text_fold_key(in, n, out, n + 1);
	sqlite3_result_text(ctx, out, (int)k, SQLITE_TRANSIENT);
	if (out != small)
		free(out);
}

static int store_open_db(struct store *s, char *err, size_t errsz)
{
	char mode[32];
	int64_t v = 0, ntables = 0;
	int rc, r;

	rc = sqlite3_open_v2(s->path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (!s->db) {
		seterr(err, errsz, "cannot open database %s: out of memory",
		       s->path);
		return -ENOMEM;
	}
	sqlite3_extended_result_codes(s->db, 1);
	if (rc != SQLITE_OK)
		return store_open_fail(s, rc, err, errsz);

	/* A file we may not write is opened read-only without a word. */
	if (sqlite3_db_readonly(s->db, "main") == 1) {
		store__seterr(s, "attempt to write a readonly database");
		seterr(err, errsz,
		       "database %s is read-only (check the permissions and "
		       "owner of the file)", s->path);
		return -EROFS;
	}
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	rc = sqlite3_create_function(s->db, "loaxa_fold", 1,
				     SQLITE_UTF8 | SQLITE_DETERMINISTIC |
					     SQLITE_INNOCUOUS,
				     NULL, sql_fold, NULL, NULL);
	if (rc != SQLITE_OK)
		return store_open_fail(s, rc, err, errsz);

	/* The first read of the file: a garbage file fails here. */
	r = open_query(s, "PRAGMA journal_mode = WAL", mode, sizeof mode, NULL,
		       err, errsz);
	if (r < 0)
		return r;
	if (strcasecmp(mode, "wal") != 0) {
		store__seterr(s, "journal_mode is %s", mode);
		seterr(err, errsz,
		       "cannot switch database %s to WAL mode (it stays in "
		       "\"%s\" mode)", s->path, mode);
		return -EIO;
	}
	rc = sqlite3_exec(s->db,
			  "PRAGMA synchronous = FULL;"
			  "PRAGMA foreign_keys = ON;"
			  "PRAGMA trusted_schema = OFF;"
			  /* Checkpoint at 1 MiB of WAL (not SQLite's 4 MiB)
			   * and cut the file back to 8 MiB after: on a small
			   * or nearly full disk the WAL must not eat it. */
			  "PRAGMA wal_autocheckpoint = 256;"
			  "PRAGMA journal_size_limit = 8388608;",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return store_open_fail(s, rc, err, errsz);

	r = open_query(s, "PRAGMA user_version", NULL, 0, &v, err, errsz);
	if (r < 0)
		return r;
	if (v > STORE_SCHEMA_VERSION) {
		store__seterr(s, "user_version %lld", (long long)v);
		seterr(err, errsz,
		       "database %s has schema version %lld, newer than this "
		       "loaxad (%d): upgrade loaxad",
		       s->path, (long long)v, STORE_SCHEMA_VERSION);
		return -ESTALE;
	}
	if (v < 0) {
		store__seterr(s, "user_version %lld", (long long)v);
		seterr(err, errsz,
		       "%s is not a loaxa database or is corrupt (schema "
		       "version %lld)", s->path, (long long)v);
		return -EBADMSG;
	}
	if (v == 0) {
		/* Version 0 is a new, empty file; tables there belong to
		 * another program, and we will not add ours beside them. */
		r = open_query(s, "SELECT count(*) FROM sqlite_schema", NULL,
			       0, &ntables, err, errsz);
		if (r < 0)
			return r;
		if (ntables > 0) {
			store__seterr(s, "%lld tables, user_version 0",
				     (long long)ntables);
			seterr(err, errsz,
			       "%s is not a loaxa database or is corrupt (it "
			       "holds another program's tables)", s->path);
			return -EBADMSG;
		}
	}
	r = store_migrate(s, (int)v, err, errsz);
	if (r < 0)
		return r;

	for (size_t i = 0; i < ST_MAX; i++) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1,
					SQLITE_PREPARE_PERSISTENT, &s->st[i],
					NULL);
		if (rc != SQLITE_OK) {
			r = store__fail(s, NULL, rc);
			/* e.g. "no such table": the schema is not ours */
			if (r == -EIO || r == -EINVAL)
				r = -EBADMSG;
			if (r == -EBADMSG)
				seterr(err, errsz,
				       "%s is not a loaxa database or is "
				       "corrupt (%s)", s->path, s->errmsg);
			else
				store_open_fail(s, rc, err, errsz);
			return r;
		}
	}
	r = store__bcast_open(s);
	if (r < 0)
		seterr(err, errsz, "cannot prepare the broadcast queries of %s:"
		       " %s", s->path, s->errmsg);
	return r;
}

int store_open(const char *path, struct store **ret, char *err, size_t errsz)
{
	struct store *s;
	int r;

	seterr(err, errsz, "%s", "");
	if (!path || !*path || !ret) {
		seterr(err, errsz, "no database path given");
		return -EINVAL;
	}
	s = calloc(1, sizeof *s);
	if (!s) {
		seterr(err, errsz, "out of memory");
		return -ENOMEM;
	}
	s->lock_fd = -1;
	s->path = strdup(path);
	if (!s->path) {
		seterr(err, errsz, "out of memory");
		store_close(s);
		return -ENOMEM;
	}

	/* before the lock file, which would be created beside a directory */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		seterr(err, errsz, "database %s is not a regular file", path);
		store_close(s);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}

	r = store_lock(s, err, errsz);
	if (r == 0)
		r = store_open_db(s, err, errsz);
	if (r < 0) {
		if (r == -ENOMEM && err && errsz && !*err)
			seterr(err, errsz, "out of memory");
		store_close(s);
		return r;
	}
	s->ready = true;
	*ret = s;
	return 0;
}

struct store *store_close(struct store *s)
{
	if (!s)
		return NULL;
	if (s->db) {
		if (s->ready && s->depth == 0)
			sqlite3_exec(s->db, "PRAGMA optimize", NULL, NULL,
				     NULL);
		store__bcast_close(s);
		for (size_t i = 0; i < ST_MAX; i++)
			sqlite3_finalize(s->st[i]);
		/* an open transaction is rolled back by the close */
		sqlite3_close_v2(s->db);
		s->db = NULL;
	}
	if (s->lock_fd >= 0) {
		flock(s->lock_fd, LOCK_UN);
		close(s->lock_fd);
	}
	free(s->path);
	free(s);
	return NULL;
}

const char *store_errmsg(const struct store *s)
{
	if (!s)
		return "no store";
	return s->errmsg[0] ? s->errmsg : "not an error";
}

const char *store_path(const struct store *s)
{
	return s ? s->path : NULL;
}

int store_schema_version(struct store *s)
{
	if (fails_assert(s))
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_USER_VERSION];
	int r = store__step(s, st);
	if (r < 0)
		return r;
	if (r == 0) {
		store__seterr(s, "PRAGMA user_version returned nothing");
		return -EIO;
	}
	return sqlite3_column_int(st, 0);
}

/* ---- transactions ------------------------------------------------------- */

int store_begin(struct store *s)
{
	if (fails_assert(s))
		return -EINVAL;
	if (s->aborted)
		return s->aborted;
	if (s->depth >= 1000) {
		store__seterr(s, "transactions nested too deep");
		return -EINVAL;
	}
	_cleanup_stmt_ sqlite3_stmt *st =
		s->st[s->depth == 0 ? ST_BEGIN : ST_SAVEPOINT];
	int r = store__exec(s, st);
	if (r < 0)
		return r;
	s->depth++;
	return 0;
}

int store_rollback(struct store *s)
{
	int r = 0;

	if (fails_assert(s) || fails_assert(s->depth > 0))
		return -EINVAL;
	if (!s->aborted) {
		if (s->depth == 1) {
			_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_ROLLBACK];
			r = store__exec(s, st);
		} else {
			_cleanup_stmt_ sqlite3_stmt *st =
				s->st[ST_ROLLBACK_TO];
			r = store__exec(s, st);
			if (r == 0) {
				_cleanup_stmt_ sqlite3_stmt *rel =
					s->st[ST_RELEASE];
				r = store__exec(s, rel);
			}
		}
	}
	/* The level is closed whatever happened. (A failed ROLLBACK would
	 * need a pending write statement; ours are always reset.) When
	 * SQLite already rolled everything back, this only unwinds. */
	if (--s->depth == 0)
		s->aborted = 0;
	return r;
}

/* Keep the first failure's message across the rollback that follows. */
static int store_undo(struct store *s, int r)
{
	char keep[sizeof s->errmsg];
	memcpy(keep, s->errmsg, sizeof keep);
	(void)store_rollback(s);
	memcpy(s->errmsg, keep, sizeof keep);
	return r;
}

int store_commit(struct store *s)
{
	if (fails_assert(s) || fails_assert(s->depth > 0))
		return -EINVAL;
	int r = s->aborted;
	if (r == 0) {
		_cleanup_stmt_ sqlite3_stmt *st =
			s->st[s->depth == 1 ? ST_COMMIT : ST_RELEASE];
		r = store__exec(s, st);
		if (r == 0) {
			s->depth--;
			return 0;
		}
	}
	/* Nothing of this level is kept, and the level is closed: the
	 * caller must not roll it back again. */
	return store_undo(s, r);
}

/* ---- groups ------------------------------------------------------------- */

static int group_from_row(sqlite3_stmt *st, struct group_rec *ret)
{
	struct group_rec g = {
		.id = sqlite3_column_int64(st, 0),
		.from_config = sqlite3_column_int64(st, 3) != 0,
		.households = sqlite3_column_int64(st, 4),
	};
	if (store__col_str(st, 1, &g.code) < 0 || store__col_str(st, 2, &g.name) < 0) {
		group_rec_clear(&g);
		return -ENOMEM;
	}
	if (!g.code || !g.name) { /* NOT NULL columns: never */
		group_rec_clear(&g);
		return -EBADMSG;
	}
	*ret = g;
	return 0;
}

int store_group_list(struct store *s,
		     int (*cb)(const struct group_rec *g, void *ud), void *ud)
{
	if (fails_assert(s) || fails_assert(cb) ||
	    fails_assert(!s->in_group_list))
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_GROUP_LIST];
	int r;

	s->in_group_list = true;
	while ((r = store__step(s, st)) > 0) {
		struct group_rec g;
		r = group_from_row(st, &g);
		if (r < 0) {
			store__seterr(s, "%s", r == -ENOMEM ? "out of memory" :
				     "group with no code or name");
			break;
		}
		r = cb(&g, ud);
		group_rec_clear(&g);
		if (r != 0)
			break;
	}
	s->in_group_list = false;
	return r;
}

static int group_get(struct store *s, sqlite3_stmt *st, struct group_rec *ret)
{
	int r = store__step(s, st);
	if (r < 0)
		return r;
	if (r == 0) {
		store__seterr(s, "no such group");
		return -ENOENT;
	}
	r = group_from_row(st, ret);
	if (r < 0)
		store__seterr(s, "%s", r == -ENOMEM ? "out of memory" :
			     "group with no code or name");
	return r;
}

int store_group_get(struct store *s, int64_t id, struct group_rec *ret)
{
	if (fails_assert(s) || fails_assert(ret))
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_GROUP_GET];
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, id, &rc);
	int r = store__bind_check(s, st, rc);
	return r < 0 ? r : group_get(s, st, ret);
}

int store_group_get_by_code(struct store *s, const char *code,
			    struct group_rec *ret)
{
	if (fails_assert(s) || fails_assert(ret))
		return -EINVAL;
	if (!code)
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_GROUP_GET_BY_CODE];
	int rc = SQLITE_OK;
	store__bind_str(st, 1, code, &rc);
	int r = store__bind_check(s, st, rc);
	return r < 0 ? r : group_get(s, st, ret);
}

int store_group_insert(struct store *s, const char *code, const char *name,
		       bool from_config, int64_t *ret_id)
{
	if (fails_assert(s))
		return -EINVAL;
	if (!code || !name) {
		store__seterr(s, "group code and name are required");
		return -EINVAL;
	}
	_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_GROUP_INSERT];
	int rc = SQLITE_OK;
	store__bind_str(st, 1, code, &rc);
	store__bind_str(st, 2, name, &rc);
	store__bind_i64(st, 3, from_config, &rc);
	store__bind_i64(st, 4, util_now_ms(), &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__exec(s, st);
	if (r < 0)
		return r;
	if (ret_id)
		*ret_id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int store_group_update(struct store *s, int64_t id, const char *name,
		       bool from_config)
{
	if (fails_assert(s))
		return -EINVAL;
	if (!name) {
		store__seterr(s, "group name is required");
		return -EINVAL;
	}
	_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_GROUP_UPDATE];
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, id, &rc);
	store__bind_str(st, 2, name, &rc);
	store__bind_i64(st, 3, from_config, &rc);
	store__bind_i64(st, 4, util_now_ms(), &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__exec(s, st);
	if (r < 0)
		return r;
	if (sqlite3_changes(s->db) == 0) {
		store__seterr(s, "no such group");
		return -ENOENT;
	}
	return 0;
}

static int group_delete_locked(struct store *s, int64_t id, bool force)
{
	int rc = SQLITE_OK, r;

	if (!force) {
		_cleanup_stmt_ sqlite3_stmt *st =
			s->st[ST_GROUP_HAS_HOUSEHOLDS];
		store__bind_i64(st, 1, id, &rc);
		r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__step(s, st);
		if (r < 0)
			return r;
		if (r > 0 && sqlite3_column_int(st, 0)) {
			store__seterr(s, "group %lld has households",
				     (long long)id);
			return -ENOTEMPTY;
		}
	} else {
		_cleanup_stmt_ sqlite3_stmt *st =
			s->st[ST_GROUP_DELETE_HOUSEHOLDS];
		store__bind_i64(st, 1, id, &rc);
		r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__exec(s, st);
		if (r < 0)
			return r;
	}

	_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_GROUP_DELETE];
	store__bind_i64(st, 1, id, &rc);
	r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__exec(s, st);
	if (r < 0)
		return r;
	if (sqlite3_changes(s->db) == 0) {
		store__seterr(s, "no such group");
		return -ENOENT;
	}
	return 0;
}

int store_group_delete(struct store *s, int64_t id, bool force)
{
	if (fails_assert(s))
		return -EINVAL;
	int r = store_begin(s);
	if (r < 0)
		return r;
	r = group_delete_locked(s, id, force);
	if (r < 0)
		return store_undo(s, r);
	r = store_commit(s);
	if (r < 0)
		return r;
	return 0;
}

/* ---- households --------------------------------------------------------- */

static int household_validate(struct store *s, const struct household *h)
{
	if (!h->name) {
		store__seterr(s, "household name is required");
		return -EINVAL;
	}
	if (h->nphones > HOUSEHOLD_MAX_PHONES) {
		store__seterr(s, "%zu phones, at most %d", h->nphones,
			     HOUSEHOLD_MAX_PHONES);
		return -EINVAL;
	}
	for (size_t i = 0; i < h->nphones; i++) {
		size_t n = strnlen(h->phones[i], PHONE_E164_MAX);
		if (n == 0 || n == PHONE_E164_MAX) {
			store__seterr(s, "phones[%zu] is empty or too long", i);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (streq(h->phones[i], h->phones[j])) {
				store__seterr(s, "phones[%zu] repeats "
					     "phones[%zu]", i, j);
				return -EINVAL;
			}
	}
	return 0;
}

/* -EEXIST if one of h's phones belongs to a household other than self. */
static int phones_check_owner(struct store *s, const struct household *h,
			      int64_t self)
{
	for (size_t i = 0; i < h->nphones; i++) {
		_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_PHONE_OWNER];
		int rc = SQLITE_OK;
		store__bind_str(st, 1, h->phones[i], &rc);
		int r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__step(s, st);
		if (r < 0)
			return r;
		if (r > 0) {
			int64_t owner = sqlite3_column_int64(st, 0);
			if (owner != self) {
				/* no number here: errmsg may be logged */
				store__seterr(s, "phones[%zu] belongs to "
					     "household %lld", i,
					     (long long)owner);
				return -EEXIST;
			}
		}
	}
	return 0;
}

static int phones_replace(struct store *s, const struct household *h,
			  int64_t id)
{
	int rc = SQLITE_OK, r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_PHONES_DELETE];
		store__bind_i64(st, 1, id, &rc);
		r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__exec(s, st);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < h->nphones; i++) {
		_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_PHONE_INSERT];
		store__bind_str(st, 1, h->phones[i], &rc);
		store__bind_i64(st, 2, id, &rc);
		store__bind_i64(st, 3, (int64_t)i, &rc);
		r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__exec(s, st);
		if (r < 0)
			return r;
	}
	return 0;
}

static void bind_household(sqlite3_stmt *st, const struct household *h,
			   int *rc)
{
	store__bind_i64(st, 1, h->group_id, rc);
	store__bind_str(st, 2, h->name, rc);
	store__bind_str(st, 3, h->address, rc);
	store__bind_str(st, 4, h->zalo_user_id, rc);
	store__bind_str(st, 5, h->messenger_psid, rc);
	store__bind_str(st, 6, h->note, rc);
	store__bind_i64(st, 7, h->opted_out, rc);
}

static int household_insert_locked(struct store *s, const struct household *h,
				   int64_t *ret_id)
{
	int r = phones_check_owner(s, h, 0);
	if (r < 0)
		return r;

	int64_t id;
	{
		_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_HH_INSERT];
		int rc = SQLITE_OK;
		bind_household(st, h, &rc);
		store__bind_i64(st, 8, h->created_ms, &rc);
		store__bind_i64(st, 9, h->updated_ms, &rc);
		r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__exec(s, st);
		if (r < 0)
			return r;
		id = sqlite3_last_insert_rowid(s->db);
	}
	r = phones_replace(s, h, id);
	if (r < 0)
		return r;
	*ret_id = id;
	return 0;
}

int store_household_insert(struct store *s, struct household *h)
{
	if (fails_assert(s) || fails_assert(h))
		return -EINVAL;
	int64_t id = 0;
	int r = household_validate(s, h);
	if (r < 0)
		return r;
	r = store_begin(s);
	if (r < 0)
		return r;
	r = household_insert_locked(s, h, &id);
	if (r < 0)
		return store_undo(s, r);
	r = store_commit(s);
	if (r < 0)
		return r;
	h->id = id;
	return 0;
}

static int household_update_locked(struct store *s, const struct household *h)
{
	int r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_HH_UPDATE];
		int rc = SQLITE_OK;
		bind_household(st, h, &rc);
		store__bind_i64(st, 8, h->updated_ms, &rc);
		store__bind_i64(st, 9, h->id, &rc);
		r = store__bind_check(s, st, rc);
		if (r == 0)
			r = store__exec(s, st);
		if (r < 0)
			return r;
		if (sqlite3_changes(s->db) == 0) {
			store__seterr(s, "no such household");
			return -ENOENT;
		}
	}
	r = phones_check_owner(s, h, h->id);
	if (r < 0)
		return r;
	return phones_replace(s, h, h->id);
}

int store_household_update(struct store *s, const struct household *h)
{
	if (fails_assert(s) || fails_assert(h))
		return -EINVAL;
	int r = household_validate(s, h);
	if (r < 0)
		return r;
	r = store_begin(s);
	if (r < 0)
		return r;
	r = household_update_locked(s, h);
	if (r < 0)
		return store_undo(s, r);
	r = store_commit(s);
	if (r < 0)
		return r;
	return 0;
}

/* Fill ret from a row of HH_COLS and its phones. */
static int household_from_row(struct store *s, sqlite3_stmt *row,
			      struct household *ret)
{
	struct household h = {
		.id = sqlite3_column_int64(row, 0),
		.group_id = sqlite3_column_int64(row, 1),
		.opted_out = sqlite3_column_int64(row, 8) != 0,
		.created_ms = sqlite3_column_int64(row, 9),
		.updated_ms = sqlite3_column_int64(row, 10),
	};
	int r = 0;

	if (store__col_str(row, 2, &h.group_code) < 0 ||
	    store__col_str(row, 3, &h.name) < 0 || store__col_str(row, 4, &h.address) < 0 ||
	    store__col_str(row, 5, &h.zalo_user_id) < 0 ||
	    store__col_str(row, 6, &h.messenger_psid) < 0 ||
	    store__col_str(row, 7, &h.note) < 0) {
		store__seterr(s, "out of memory");
		household_clear(&h);
		return -ENOMEM;
	}
	if (!h.group_code || !h.name) { /* NOT NULL columns: never */
		store__seterr(s, "household %lld has no name or group",
			     (long long)h.id);
		household_clear(&h);
		return -EBADMSG;
	}

	_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_PHONES_OF];
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, h.id, &rc);
	r = store__bind_check(s, st, rc);
	while (r == 0 && (r = store__step(s, st)) > 0) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		int n = sqlite3_column_bytes(st, 0);
		if (!t || n <= 0 || n >= PHONE_E164_MAX ||
		    h.nphones >= HOUSEHOLD_MAX_PHONES) {
			store__seterr(s, "household %lld has a malformed phone "
				     "or more than %d phones",
				     (long long)h.id, HOUSEHOLD_MAX_PHONES);
			r = -EBADMSG;
			break;
		}
		memcpy(h.phones[h.nphones], t, (size_t)n);
		h.phones[h.nphones][n] = '\0';
		h.nphones++;
		r = 0;
	}
	if (r < 0) {
		household_clear(&h);
		return r;
	}
	*ret = h;
	return 0;
}

int store_household_get(struct store *s, int64_t id, struct household *ret)
{
	if (fails_assert(s) || fails_assert(ret))
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_HH_GET];
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, id, &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__step(s, st);
	if (r < 0)
		return r;
	if (r == 0) {
		store__seterr(s, "no such household");
		return -ENOENT;
	}
	return household_from_row(s, st, ret);
}

int store_household_delete(struct store *s, int64_t id)
{
	if (fails_assert(s))
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_HH_DELETE];
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, id, &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__exec(s, st);
	if (r < 0)
		return r;
	if (sqlite3_changes(s->db) == 0) {
		store__seterr(s, "no such household");
		return -ENOENT;
	}
	return 0;
}

int store_household_set_opted_out(struct store *s, int64_t id, bool opted_out,
				  int64_t now_ms)
{
	if (fails_assert(s))
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_HH_SET_OPTED_OUT];
	int rc = SQLITE_OK;
	store__bind_i64(st, 1, id, &rc);
	store__bind_i64(st, 2, opted_out, &rc);
	store__bind_i64(st, 3, now_ms, &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__exec(s, st);
	if (r < 0)
		return r;
	if (sqlite3_changes(s->db) == 0) {
		store__seterr(s, "no such household");
		return -ENOENT;
	}
	return 0;
}

int store_household_list(struct store *s, const struct household_filter *f,
			 int (*cb)(const struct household *h, void *ud),
			 void *ud)
{
	static const struct household_filter all = { .opted_out = -1 };
	_cleanup_free_ char *digits = NULL, *digits84 = NULL;
	const char *q = NULL;
	int rc = SQLITE_OK, r;

	if (fails_assert(s) || fails_assert(cb) ||
	    fails_assert(!s->in_household_list))
		return -EINVAL;
	if (!f)
		f = &all;

	if (f->q && *f->q) {
		size_t len = strlen(f->q), n = 0;
		q = f->q;
		digits = malloc(len + 1);
		if (!digits) {
			store__seterr(s, "out of memory");
			return -ENOMEM;
		}
		for (size_t i = 0; i < len; i++)
			if (q[i] >= '0' && q[i] <= '9')
				digits[n++] = q[i];
		digits[n] = '\0';
		if (n == 0) {
			free(digits);
			digits = NULL;
		} else if (digits[0] == '0') {
			/* 0912... is stored as +84912... */
			digits84 = malloc(n + 2);
			if (!digits84) {
				store__seterr(s, "out of memory");
				return -ENOMEM;
			}
			memcpy(digits84, "84", 2);
			memcpy(digits84 + 2, digits + 1, n);
		}
	}

	_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_HH_LIST];
	store__bind_i64(st, 1, f->after_id, &rc);
	store__bind_i64(st, 2, f->group_id, &rc);
	store__bind_i64(st, 3, f->opted_out < 0 ? -1 : f->opted_out ? 1 : 0, &rc);
	store__bind_str(st, 4, q, &rc);
	store__bind_str(st, 5, digits, &rc);
	store__bind_str(st, 6, digits84, &rc);
	store__bind_i64(st, 7, f->limit ? (int64_t)f->limit : -1, &rc);
	r = store__bind_check(s, st, rc);
	if (r < 0)
		return r;

	s->in_household_list = true;
	while ((r = store__step(s, st)) > 0) {
		struct household h;
		r = household_from_row(s, st, &h);
		if (r < 0)
			break;
		r = cb(&h, ud);
		household_clear(&h);
		if (r != 0)
			break;
	}
	s->in_household_list = false;
	return r;
}

int store_phone_owner(struct store *s, const char *e164, int64_t *ret_id)
{
	if (fails_assert(s) || fails_assert(ret_id))
		return -EINVAL;
	if (!e164)
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_PHONE_OWNER];
	int rc = SQLITE_OK;
	store__bind_str(st, 1, e164, &rc);
	int r = store__bind_check(s, st, rc);
	if (r == 0)
		r = store__step(s, st);
	if (r < 0)
		return r;
	if (r == 0) {
		store__seterr(s, "no household has this phone");
		return -ENOENT;
	}
	*ret_id = sqlite3_column_int64(st, 0);
	return 0;
}

int store_counts(struct store *s, struct store_counts *ret)
{
	if (fails_assert(s) || fails_assert(ret))
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = s->st[ST_COUNTS];
	int r = store__step(s, st);
	if (r < 0)
		return r;
	if (r == 0) {
		store__seterr(s, "counts returned nothing");
		return -EIO;
	}
	*ret = (struct store_counts){
		.groups = sqlite3_column_int64(st, 0),
		.households = sqlite3_column_int64(st, 1),
		.phones = sqlite3_column_int64(st, 2),
		.opted_out = sqlite3_column_int64(st, 3),
	};
	return 0;
}

int store_backup(struct store *s, const char *dest, char *err, size_t errsz)
{
	sqlite3 *out = NULL;
	int rc = sqlite3_open_v2(dest, &out, SQLITE_OPEN_READWRITE |
				 SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK) {
		seterr(err, errsz, "cannot create %s: %s", dest,
		       out ? sqlite3_errmsg(out) : "out of memory");
		sqlite3_close_v2(out);
		return -EIO;
	}
	sqlite3_backup *b = sqlite3_backup_init(out, "main", s->db, "main");
	if (!b) {
		seterr(err, errsz, "cannot start the backup: %s",
		       sqlite3_errmsg(out));
		sqlite3_close_v2(out);
		return -EIO;
	}
	/* All pages in one step: the loop thread is the only writer, so the
	 * copy is consistent and never restarts. */
	rc = sqlite3_backup_step(b, -1);
	int frc = sqlite3_backup_finish(b);
	if (rc == SQLITE_DONE)
		rc = frc;
	int r = rc == SQLITE_OK ? 0 : store_errno(out, rc);
	if (r < 0)
		seterr(err, errsz, "backup to %s failed: %s", dest,
		       sqlite3_errmsg(out));
	if (sqlite3_close_v2(out) != SQLITE_OK && r == 0) {
		seterr(err, errsz, "cannot close %s", dest);
		r = -EIO;
	}
	return r;
}

int store_checkpoint(struct store *s)
{
	if (s->depth > 0)
		return -EBUSY;
	int rc = sqlite3_wal_checkpoint_v2(s->db, NULL,
					   SQLITE_CHECKPOINT_TRUNCATE, NULL,
					   NULL);
	return rc == SQLITE_OK ? 0 : store__fail(s, NULL, rc);
}
