/* model.h: the directory's records as they travel between store,
 * directory and api. Plain data; strings are heap-allocated and owned by
 * the record (free with *_clear). */
#ifndef LOAXA_MODEL_H
#define LOAXA_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loaxa/phone.h"

#define HOUSEHOLD_MAX_PHONES 8
#define HOUSEHOLD_NAME_MAX 200     /* bytes of UTF-8 */
#define HOUSEHOLD_TEXT_MAX 1000    /* address, note */
#define HOUSEHOLD_ID_MAX 64        /* zalo user id, messenger psid */

struct group_rec {
	int64_t id;
	char *code;
	char *name;
	bool from_config;      /* declared in loaxa.ini: managed there */
	int64_t households;    /* count, filled by list/get */
};
void group_rec_clear(struct group_rec *g);

struct household {
	int64_t id;
	int64_t group_id;
	char *group_code;      /* filled by get/list */
	char *name;
	char *address;         /* NULL = none */
	char *zalo_user_id;    /* NULL = none */
	char *messenger_psid;  /* NULL = none */
	char *note;            /* NULL = none */
	bool opted_out;
	int64_t created_ms, updated_ms;
	size_t nphones;
	char phones[HOUSEHOLD_MAX_PHONES][PHONE_E164_MAX];  /* E.164 */
};
void household_clear(struct household *h);

struct household_filter {
	int64_t group_id;      /* 0 = all groups */
	const char *q;         /* NULL, or case-insensitive substring of name,
				  address, or digits of a phone */
	int opted_out;         /* -1 any, 0 only active, 1 only opted out */
	int64_t after_id;      /* keyset paging: ids > after_id */
	uint32_t limit;        /* 0 = no limit */
};

/* Validation errors: every failing field with a stable code and a human
 * message, e.g. {"phones[1]", "landline", "landline number (starts 02)..."}. */
struct verror {
	char *field;
	char *code;
	char *message;
};
struct verrors {
	struct verror *v;
	size_t n;
};
int verrors_add(struct verrors *e, const char *field, const char *code,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void verrors_clear(struct verrors *e);

#endif
