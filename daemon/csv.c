/* csv.c: see csv.h
 *
 * One pass over the caller's buffer, no allocation per record or field:
 * csv_new() allocates the one field buffer, sized so that it can never
 * overflow. A record's stored bytes are its unescaped fields (each at most
 * CSV_MAX_FIELD_LEN and never longer than their raw bytes, since unescaping
 * only shrinks) plus one NUL per field, for at most CSV_MAX_FIELDS fields:
 * min(len, CSV_MAX_FIELDS * CSV_MAX_FIELD_LEN) + CSV_MAX_FIELDS + 1 bytes.
 *
 * Leniency (like spreadsheets): a quote opens a quoted field only as the
 * first byte of a field; elsewhere it is kept literally. Text between a
 * closing quote and the separator is appended to the field. Nothing is
 * trimmed.
 *
 * Line breaks inside quotes (CR, LF or CRLF, the same three that end a
 * record and count as lines) are all returned as LF. Folding only CRLF and
 * keeping a lone CR would not be idempotent: raw CR CR LF would read as
 * CR LF, which written back and read again becomes LF. So no field the
 * reader returns contains CR, and reading what csv_write_field() wrote
 * gives back the same bytes.
 *
 * Errors: a record with too many fields or a too-long field is scanned to
 * its end (quotes respected, so a multi-line quoted cell does not turn into
 * garbage records) and reported as one CSV_ERROR; reading resumes on the
 * line after it. An unterminated quote runs to the end of the input, so it
 * ends the reader.
 */
#include "loaxa/csv.h"

#include <errno.h>

#include "loaxa/util.h"

#define CSV_BOM "\xEF\xBB\xBF"

enum csv_err {
	CSV_ERR_NONE,
	CSV_ERR_FIELDS,
	CSV_ERR_LONG,
};

struct csv {
	const char *p, *end;  /* unread input */
	size_t line;          /* physical line of *p, 1-based */
	char sep;
	bool done;
	char *buf;            /* the current record's unescaped fields */
	size_t err_line;
	char err[80];
};

/* Separator of the first non-blank line: the one of ',' and ';' that occurs
 * more often outside quotes; ',' on a tie or when neither occurs. Both count
 * as field boundaries here, so a quote after either opens a quoted field. */
static char csv_detect(const char *p, const char *end)
{
	size_t commas = 0, semis = 0;
	bool quoted = false, fstart = true;

	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	for (; p < end; p++) {
		char ch = *p;
		if (quoted) {
			if (ch != '"')
				continue;
			if (p + 1 < end && p[1] == '"')
				p++;
			else
				quoted = false;
			continue;
		}
		if (ch == '\r' || ch == '\n')
			break;
		if (ch == ',' || ch == ';') {
			if (ch == ',')
				commas++;
			else
				semis++;
			fstart = true;
			continue;
		}
		if (ch == '"' && fstart)
			quoted = true;
		fstart = false;
	}
	return semis > commas ? ';' : ',';
}

struct csv *csv_new(const char *data, size_t len, char sep)
{
	if (sep == '"' || sep == '\r' || sep == '\n' || (!data && len)) {
		errno = EINVAL;
		return NULL;
	}
	struct csv *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	size_t cap = len < (size_t)CSV_MAX_FIELDS * CSV_MAX_FIELD_LEN
		? len : (size_t)CSV_MAX_FIELDS * CSV_MAX_FIELD_LEN;
	c->buf = malloc(cap + CSV_MAX_FIELDS + 1);
	if (!c->buf)
		return csv_free(c);

	if (!data)
		data = "";
	c->p = data;
	c->end = data + len;
	if (len >= 3 && memcmp(data, CSV_BOM, 3) == 0)
		c->p += 3;
	c->line = 1;
	c->sep = sep ? sep : csv_detect(c->p, c->end);
	return c;
}

struct csv *csv_free(struct csv *c)
{
	if (!c)
		return NULL;
	free(c->buf);
	free(c);
	return NULL;
}

char csv_separator(const struct csv *c)
{
	return c ? c->sep : ',';
}

const char *csv_error(const struct csv *c, size_t *ret_line)
{
	if (!c)
		return NULL;
	if (ret_line)
		*ret_line = c->err_line;
	return c->err[0] ? c->err : NULL;
}

/* Consume one newline (CR, LF or CRLF) at p, counting one line. */
static const char *csv_newline(struct csv *c, const char *p, const char *end)
{
	if (*p == '\r' && p + 1 < end && p[1] == '\n')
		p++;
	c->line++;
	return p + 1;
}

/* The field being unescaped into c->buf. */
struct csv_out {
	char *w;              /* write position */
	size_t flen;          /* bytes of the current field so far */
	bool keep;            /* still storing (no error in this record) */
	bool overflow;        /* past CSV_MAX_FIELDS: only empty fields allowed */
	enum csv_err err;
};

static inline void csv_put(struct csv_out *o, const char *s, size_t n)
{
	if (!o->keep || n == 0)
		return;
	if (o->overflow) {
		o->err = CSV_ERR_FIELDS;
		o->keep = false;
		return;
	}
	if (n > CSV_MAX_FIELD_LEN - o->flen) {
		o->err = CSV_ERR_LONG;
		o->keep = false;
		return;
	}
	memcpy(o->w, s, n);
	o->w += n;
	o->flen += n;
}

static enum csv_status csv_fail(struct csv *c, struct csv_record *rec,
				enum csv_err err)
{
	c->err_line = rec->line;
	if (err == CSV_ERR_FIELDS)
		snprintf(c->err, sizeof(c->err), "more than %d fields",
			 CSV_MAX_FIELDS);
	else
		snprintf(c->err, sizeof(c->err),
			 "field longer than %d bytes", CSV_MAX_FIELD_LEN);
	rec->nfields = 0;
	return CSV_ERROR;
}

enum csv_status csv_next(struct csv *c, struct csv_record *rec)
{
	if (fails_assert(c && rec))
		return CSV_END;
	if (c->done)
		return CSV_END;

	const char *p = c->p, *end = c->end;
	const char sep = c->sep;

	/* Blank (zero-length) lines. */
	while (p < end && (*p == '\r' || *p == '\n'))
		p = csv_newline(c, p, end);
	if (p == end) {
		c->p = p;
		c->done = true;
		return CSV_END;
	}

	rec->line = c->line;
	rec->nfields = 0;
	c->err[0] = '\0';
	c->err_line = 0;

	struct csv_out o = { .w = c->buf, .keep = true };
	size_t nf = 0;
	for (;;) {
		char *fs = o.w;
		o.flen = 0;
		/* Spreadsheets export rows padded with empty columns: empty
		 * fields past the limit are dropped, a non-empty one is an
		 * error. */
		if (nf == CSV_MAX_FIELDS)
			o.overflow = true;

		if (p < end && *p == '"') {
			size_t qline = c->line;
			p++;
			for (;;) {
				const char *run = p;
				while (p < end && *p != '"' && *p != '\r' &&
				       *p != '\n')
					p++;
				csv_put(&o, run, (size_t)(p - run));
				if (p == end) {
					c->p = end;
					c->done = true;
					c->err_line = rec->line;
					snprintf(c->err, sizeof(c->err),
						 "unterminated quoted field "
						 "(opened on line %zu)", qline);
					rec->nfields = 0;
					return CSV_ERROR;
				}
				if (*p == '"') {
					if (p + 1 < end && p[1] == '"') {
						csv_put(&o, p, 1);
						p += 2;
						continue;
					}
					p++;
					break;
				}
				/* A line break inside quotes (CR, LF or
				 * CRLF, as counted in c->line) reads as LF. */
				csv_put(&o, "\n", 1);
				p = csv_newline(c, p, end);
			}
		}

		/* An unquoted field, or what follows a closing quote. */
		const char *run = p;
		while (p < end && *p != sep && *p != '\r' && *p != '\n')
			p++;
		csv_put(&o, run, (size_t)(p - run));

		if (o.keep && !o.overflow) {
			*o.w++ = '\0';
			rec->f[nf].s = fs;
			rec->f[nf].len = o.flen;
			nf++;
		}
		if (p < end && *p == sep) {
			p++;
			continue;
		}
		if (p < end)
			p = csv_newline(c, p, end);
		break;
	}
	c->p = p;
	if (o.err != CSV_ERR_NONE)
		return csv_fail(c, rec, o.err);
	rec->nfields = nf;
	return CSV_RECORD;
}

static bool csv_is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

int csv_write_field(struct buf *b, const char *s, size_t len, char sep)
{
	if (!b || (!s && len) || sep == '"' || sep == '\r' || sep == '\n')
		return -EINVAL;
	if (sep == '\0')
		sep = ',';
	if (len == 0)
		return 0;

	/* Quote what the reader would otherwise split or alter, leading or
	 * trailing blanks (spreadsheets may trim them), and a leading BOM
	 * (the reader skips one at the very start of the input). */
	bool quote = csv_is_blank(s[0]) || csv_is_blank(s[len - 1]) ||
		(len >= 3 && memcmp(s, CSV_BOM, 3) == 0);
	for (size_t i = 0; i < len && !quote; i++)
		quote = s[i] == sep || s[i] == '"' || s[i] == '\r' ||
			s[i] == '\n';
	if (!quote)
		return buf_append(b, s, len);

	/* On failure, leave b as it was. */
	size_t old = b->len;
	int r = buf_append(b, "\"", 1);
	const char *p = s, *end = s + len;
	while (r >= 0 && p < end) {
		const char *q = memchr(p, '"', (size_t)(end - p));
		if (!q) {
			r = buf_append(b, p, (size_t)(end - p));
			break;
		}
		/* Up to and including the quote, then its double. */
		r = buf_append(b, p, (size_t)(q - p) + 1);
		if (r >= 0)
			r = buf_append(b, "\"", 1);
		p = q + 1;
	}
	if (r >= 0)
		r = buf_append(b, "\"", 1);
	if (r < 0 && b->data) {
		b->len = old;
		b->data[old] = '\0';
	}
	return r < 0 ? r : 0;
}
