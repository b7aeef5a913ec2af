/* fuzz-csv.c: the CSV reader on arbitrary bytes, with separator detection
 * and with ',' and ';' forced.
 *
 * Besides "no crash, no leak", each good record must satisfy the reader's
 * contract (1..CSV_MAX_FIELDS fields, each at most CSV_MAX_FIELD_LEN bytes
 * and NUL-terminated, start lines strictly increasing and within the
 * input) and must survive a round trip: its fields written back with
 * csv_write_field() and joined with the same separator parse as exactly one
 * record with identical fields (byte for byte, NULs included).
 *
 * Why the round trip is sound without exceptions:
 *  - the reader trims nothing, so blanks need no special care (the writer
 *    quotes leading or trailing blanks anyway; the quotes come off);
 *  - NUL is an ordinary byte for both sides (fields carry their length);
 *  - line breaks inside quotes all read as LF, so no parsed field holds
 *    a CR, and an LF written inside quotes reads back as itself (this is
 *    also checked: no field may contain CR);
 *  - a leading BOM in the first field would be skipped on re-read, so the
 *    writer quotes fields that start with one;
 *  - the one encoding that needs the caller: a record of a single empty
 *    field would be written as an empty line, which the reader skips as
 *    blank; like any exporter, this target writes it as "".
 * Records with errors are only checked for a message and a line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loaxa/csv.h"
#include "loaxa/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                          \
	do {                                                              \
		if (!(x)) {                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n",      \
				__FILE__, __LINE__, #x);                  \
			abort();                                          \
		}                                                         \
	} while (0)

static void check_roundtrip(const struct csv_record *rec, char sep)
{
	struct buf b;
	buf_init(&b, 4u << 20);
	if (rec->nfields == 1 && rec->f[0].len == 0) {
		CHECK(buf_append(&b, "\"\"", 2) == 0);
	} else {
		for (size_t i = 0; i < rec->nfields; i++) {
			if (i)
				CHECK(buf_append(&b, &sep, 1) == 0);
			CHECK(csv_write_field(&b, rec->f[i].s, rec->f[i].len,
					      sep) == 0);
		}
	}
	/* Alternate the line end: none, LF, CRLF. */
	size_t kind = rec->line % 3;
	if (kind == 1)
		CHECK(buf_append(&b, "\n", 1) == 0);
	else if (kind == 2)
		CHECK(buf_append(&b, "\r\n", 2) == 0);

	struct csv *c = csv_new(b.data ? b.data : "", b.len, sep);
	CHECK(c);
	CHECK(csv_separator(c) == sep);
	struct csv_record back;
	CHECK(csv_next(c, &back) == CSV_RECORD);
	CHECK(back.line == 1);
	CHECK(back.nfields == rec->nfields);
	for (size_t i = 0; i < rec->nfields; i++) {
		CHECK(back.f[i].len == rec->f[i].len);
		CHECK(memcmp(back.f[i].s, rec->f[i].s, rec->f[i].len) == 0);
	}
	CHECK(csv_next(c, &back) == CSV_END);
	csv_free(c);
	buf_free(&b);
}

static void run(const char *data, size_t size, char sep, size_t max_line)
{
	struct csv *c = csv_new(data, size, sep);
	if (!c)
		return;
	char used = csv_separator(c);
	CHECK(sep ? used == sep : (used == ',' || used == ';'));

	struct csv_record rec;
	size_t prev_line = 0, calls = 0;
	for (;;) {
		/* Every call but the last consumes at least one byte. */
		CHECK(++calls <= size + 2);
		enum csv_status st = csv_next(c, &rec);
		if (st == CSV_END)
			break;
		CHECK(rec.line > prev_line && rec.line <= max_line);
		prev_line = rec.line;
		if (st == CSV_ERROR) {
			size_t line = 0;
			CHECK(csv_error(c, &line) != NULL);
			CHECK(line == rec.line);
			continue;
		}
		CHECK(st == CSV_RECORD);
		CHECK(rec.nfields >= 1 && rec.nfields <= CSV_MAX_FIELDS);
		for (size_t i = 0; i < rec.nfields; i++) {
			CHECK(rec.f[i].len <= CSV_MAX_FIELD_LEN);
			CHECK(rec.f[i].s[rec.f[i].len] == '\0');
			CHECK(!memchr(rec.f[i].s, '\r', rec.f[i].len));
		}
		check_roundtrip(&rec, used);
	}
	CHECK(csv_next(c, &rec) == CSV_END);
	csv_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	/* Physical lines: LF, CR and CRLF each end one. */
	size_t lines = 1;
	for (size_t i = 0; i < size; i++)
		if (s[i] == '\n' || (s[i] == '\r' &&
				     !(i + 1 < size && s[i + 1] == '\n')))
			lines++;

	run(s, size, 0, lines);
	run(s, size, ',', lines);
	run(s, size, ';', lines);
	return 0;
}
