/* directory.h: the commune's village groups and households — the rules.
 *
 * Sits between the API and the store: validates and normalises input
 * (phone numbers to E.164, group names resolved by code or name with or
 * without diacritics), enforces "one number, one household", imports and
 * exports CSV. Knows no SQL (asks store) and no HTTP (api translates).
 *
 * Errors: -EINVAL with field errors in *ve; -ENOENT no such group or
 * household; -ENOTUNIQ ambiguous group name; -EEXIST code or phone taken
 * (field error says by whom); -EPERM group declared in the config;
 * -ENOTEMPTY group has households; store errors as store.h.
 */
#ifndef LOAXA_DIRECTORY_H
#define LOAXA_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loaxa/config.h"
#include "loaxa/model.h"
#include "loaxa/store.h"

struct directory;

int directory_new(struct store *s, struct directory **ret);
struct directory *directory_free(struct directory *d);

/* Make the store's groups match the config's [groups]: create missing ones,
 * rename to the config's name, mark them config-managed; groups no longer
 * in the config become API-managed (never deleted: households stay). */
int directory_sync_groups(struct directory *d, const struct config_group *g,
			  size_t n);

/* Resolve a group by code or display name, case-insensitively, with or
 * without diacritics and separators ("dong tan", "Đông Tân", "DONG-TAN"). */
int directory_group_resolve(struct directory *d, const char *ident,
			    struct group_rec *ret);
int directory_group_add(struct directory *d, const char *code,
			const char *name, struct verrors *ve,
			struct group_rec *ret);
int directory_group_rename(struct directory *d, const char *ident,
			   const char *name, struct verrors *ve,
			   struct group_rec *ret);
int directory_group_remove(struct directory *d, const char *ident, bool force);

/* A household to add, or the fields to change. Optional strings set to
 * NULL with their bit set clear the field. */
enum {
	HP_GROUP = 1 << 0, HP_NAME = 1 << 1, HP_PHONES = 1 << 2,
	HP_ADDRESS = 1 << 3, HP_ZALO = 1 << 4, HP_PSID = 1 << 5,
	HP_NOTE = 1 << 6, HP_OPTED_OUT = 1 << 7,
};
struct household_patch {
	unsigned set;
	const char *group, *name, *address, *zalo_user_id, *messenger_psid,
		*note;
	const char *const *phones;
	size_t nphones;
	bool opted_out;
};
int directory_household_add(struct directory *d,
			    const struct household_patch *p,
			    struct verrors *ve, struct household *ret);
int directory_household_update(struct directory *d, int64_t id,
			       const struct household_patch *p,
			       struct verrors *ve, struct household *ret);

/* CSV import (see docs/api.md): one transaction; dry_run rolls it back. */
struct import_issue {
	size_t line;
	char *column, *value, *code, *message;
};
struct import_report {
	bool dry_run;
	size_t rows, created, updated, unchanged;
	struct import_issue *rejected, *warnings;
	size_t nrejected, nwarnings;
};
void import_report_clear(struct import_report *r);
/* -EINVAL with *ve for file-level problems (no header, no phone or name
 * column, invalid UTF-8); store errors abort and write nothing. */
int directory_import(struct directory *d, const char *data, size_t len,
		     const char *default_group, bool dry_run,
		     struct import_report *rep, struct verrors *ve);

/* Optional for an import: the groups it may write to (a manager's). A
 * row for another group, or whose numbers belong to a household of
 * another group, is rejected on its own ("group 2B is not yours"); the
 * other rows are imported. */
struct import_filter {
	bool (*group_ok)(int64_t group_id, void *ud);
	void *ud;
};
/* directory_import with a filter (NULL: every group). */
int directory_import_filtered(struct directory *d, const char *data,
			      size_t len, const char *default_group,
			      bool dry_run, const struct import_filter *f,
			      struct import_report *rep, struct verrors *ve);

/* CSV export of one group (ident) or all (NULL) into out. */
int directory_export(struct directory *d, const char *ident, struct buf *out);

#endif
