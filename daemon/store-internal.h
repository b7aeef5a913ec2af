/* store-internal.h: what the store module's files share (store.c: the
 * connection, migrations and the directory; store-broadcast.c: broadcasts,
 * waves and deliveries). Nothing outside the store includes this. */
#ifndef LOAXA_STORE_INTERNAL_H
#define LOAXA_STORE_INTERNAL_H

#include <sqlite3.h>

#include "loaxa/store.h"
#include "loaxa/util.h"

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_USER_VERSION,
	ST_GROUP_LIST,
	ST_GROUP_GET,
	ST_GROUP_GET_BY_CODE,
	ST_GROUP_INSERT,
	ST_GROUP_UPDATE,
	ST_GROUP_DELETE,
	ST_GROUP_HAS_HOUSEHOLDS,
	ST_GROUP_DELETE_HOUSEHOLDS,
	ST_HH_INSERT,
	ST_HH_UPDATE,
	ST_HH_GET,
	ST_HH_DELETE,
	ST_HH_SET_OPTED_OUT,
	ST_HH_LIST,
	ST_PHONES_OF,
	ST_PHONE_OWNER,
	ST_PHONES_DELETE,
	ST_PHONE_INSERT,
	ST_COUNTS,
	ST_MAX
};

struct store_bcast;

struct store {
	sqlite3 *db;
	char *path;
	int lock_fd;
	unsigned depth;      /* store_begin nesting; 0 = autocommit */
	int aborted;         /* -errno: SQLite rolled the transaction back */
	bool in_group_list, in_household_list;
	bool ready;          /* fully opened */
	char errmsg[256];    /* SQLite's (or our) words for the last failure */
	sqlite3_stmt *st[ST_MAX];
	struct store_bcast *bcast;  /* store-broadcast.c */
	struct store_metrics *metrics;  /* store-metrics.c, prepared lazily */
};

/* Reset and clear a statement when it goes out of scope. */
static inline void store__stmt_donep(sqlite3_stmt **st)
{
	if (*st) {
		sqlite3_reset(*st);
		sqlite3_clear_bindings(*st);
	}
}
#define _cleanup_stmt_ _cleanup_(store__stmt_donep)

void store__seterr(struct store *s, const char *fmt, ...) _printf_(2, 3);
/* Record a failed SQLite call (message kept, statement reset); -errno. */
int store__fail(struct store *s, sqlite3_stmt *st, int rc);
/* Step once: 1 = a row, 0 = done, -errno = failed (recorded). */
int store__step(struct store *s, sqlite3_stmt *st);
/* Step a statement that returns no rows. */
int store__exec(struct store *s, sqlite3_stmt *st);
/* Binding helpers: chain them, the first failure sticks in *rc. The text
 * must outlive the step. NULL binds SQL NULL. */
void store__bind_i64(sqlite3_stmt *st, int i, int64_t v, int *rc);
void store__bind_str(sqlite3_stmt *st, int i, const char *v, int *rc);
int store__bind_check(struct store *s, sqlite3_stmt *st, int rc);
/* Copy a text column; NULL stays NULL. */
int store__col_str(sqlite3_stmt *st, int i, char **ret);

/* store-broadcast.c: prepare its statements after migrations, finalize
 * them before close. */
int store__bcast_open(struct store *s);
void store__bcast_close(struct store *s);
/* store-metrics.c: finalize its statements (called from the above). */
void store__metrics_close(struct store *s);

#endif
