/* csv.h: a CSV reader over an in-memory buffer (pure; RFC 4180 plus what
 * spreadsheets export).
 *
 *  - UTF-8 with or without BOM (the BOM is skipped).
 *  - Separator ',' or ';', detected from the header line (the one that
 *    occurs more often outside quotes; ',' on a tie); or forced.
 *  - Quoted fields with embedded separators, "" quotes, CR/LF/CRLF newlines.
 *  - Records may be ragged (the caller decides what a short row means).
 *  - Blank lines are skipped.
 * Line numbers are 1-based physical lines of the input where the record
 * starts, so errors can name them.
 */
#ifndef LOAXA_CSV_H
#define LOAXA_CSV_H

#include <stddef.h>

#define CSV_MAX_FIELDS 64
#define CSV_MAX_FIELD_LEN 4096

struct csv;

struct csv_field {
	const char *s;   /* unescaped, NUL-terminated, valid until next call */
	size_t len;
};

struct csv_record {
	size_t line;                 /* physical line where the record starts */
	size_t nfields;
	struct csv_field f[CSV_MAX_FIELDS];
};

enum csv_status {
	CSV_RECORD = 1,   /* *rec filled */
	CSV_END = 0,      /* no more input */
	CSV_ERROR = -1,   /* see csv_error(); the reader resynchronises at the
			     next line, so the caller may continue */
};

/* sep: ',' or ';', or 0 to detect from the first line. Returns NULL on OOM.
 * The reader does not copy data: it must outlive the reader. */
struct csv *csv_new(const char *data, size_t len, char sep);
struct csv *csv_free(struct csv *c);
char csv_separator(const struct csv *c);
enum csv_status csv_next(struct csv *c, struct csv_record *rec);
/* For CSV_ERROR: message ("unterminated quoted field", "more than 64
 * fields", "field longer than 4096 bytes") and the line it started on. */
const char *csv_error(const struct csv *c, size_t *ret_line);

/* Append one field to buf, quoting when needed (for export). */
struct buf;
int csv_write_field(struct buf *b, const char *s, size_t len, char sep);

#endif
