/* output.c: what loaxa prints, and a bounded string buffer.
 *
 * Tables are aligned by display width: Vietnamese text is UTF-8, mostly
 * precomposed (one column per code point) but sometimes decomposed, with
 * combining marks U+0300..U+036F that take no column. Everything that came
 * from loaxad is cleaned before it reaches the terminal, so a name holding
 * an escape sequence or a newline cannot garble the screen.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <time.h>

#include "cli.h"

/* ---- sbuf ---- */

void sbuf_init(struct sbuf *b, size_t max)
{
	*b = (struct sbuf){ .max = max };
}

void sbuf_free(struct sbuf *b)
{
	if (!b)
		return;
	free(b->data);
	sbuf_init(b, b->max);
}

static int sbuf_reserve(struct sbuf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > b->max || b->len > b->max - n)
		return -E2BIG;
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int sbuf_append(struct sbuf *b, const void *p, size_t n)
{
	int r = sbuf_reserve(b, n);

	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	r = sbuf_reserve(b, (size_t)n);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *sbuf_str(const struct sbuf *b)
{
	return b->data ? b->data : "";
}

char *sbuf_steal(struct sbuf *b)
{
	char *p;

	if (!b->data && sbuf_reserve(b, 0) < 0)
		return NULL;
	if (b->len == 0)
		b->data[0] = '\0';
	p = b->data;
	sbuf_init(b, b->max);
	return p;
}

/* ---- UTF-8 ---- */

/* Decode one code point at s[0..len). Returns its length in bytes, or 0 if
 * the bytes there are not well-formed UTF-8 (overlong, surrogate, beyond
 * U+10FFFF, truncated). */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c;
	size_t n, i;

	if (len == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

size_t out_utf8_decode(const char *s, size_t len, uint32_t *ret_cp)
{
	return utf8_decode((const unsigned char *)s, len, ret_cp);
}

bool out_utf8_valid(const char *s, size_t len, size_t *ret_bad)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		n = utf8_decode(u + i, len - i, &cp);
		if (n == 0) {
			if (ret_bad)
				*ret_bad = i;
			return false;
		}
		i += n;
	}
	return true;
}

static bool is_zero_width(uint32_t cp)
{
	return cp >= 0x300 && cp <= 0x36f;
}

size_t out_width(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, n, w = 0;
	uint32_t cp;

	while (i < len) {
		n = utf8_decode(u + i, len - i, &cp);
		if (n == 0) {
			w++;
			i++;
			continue;
		}
		if (!is_zero_width(cp))
			w++;
		i += n;
	}
	return w;
}

/* Code points that must not reach a terminal raw: C0 and C1 controls, DEL,
 * and the bidirectional overrides/isolates that can make text display in
 * an order other than the one it is stored in. */
static bool is_unsafe(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
	       (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

char *out_clean(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, n;
	_cleanup_sbuf_ struct sbuf b = SBUF_INIT(SIZE_MAX / 2);
	uint32_t cp;
	int r = 0;

	while (i < len && r == 0) {
		n = utf8_decode(u + i, len - i, &cp);
		if (n == 0) {
			r = sbuf_append(&b, "?", 1);
			i++;
		} else if (cp == '\t' || cp == '\n' || cp == '\r') {
			r = sbuf_append(&b, " ", 1);
			i += n;
		} else if (is_unsafe(cp)) {
			r = sbuf_append(&b, "?", 1);
			i += n;
		} else {
			r = sbuf_append(&b, u + i, n);
			i += n;
		}
	}
	if (r < 0)
		return NULL;
	return sbuf_steal(&b);
}

void out_put_clean(FILE *f, const char *s)
{
	_cleanup_free_ char *clean = out_clean(s ? s : "");

	fputs(clean ? clean : "?", f);
}

/* ---- values ---- */

static bool is_scalar(const json_t *v)
{
	return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

static int value_append(struct sbuf *b, const json_t *v,
			const char *null_text)
{
	char *dump;
	int r;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return sbuf_append(b, json_string_value(v),
				   json_string_length(v));
	case JSON_INTEGER:
		return sbuf_printf(b, "%" JSON_INTEGER_FORMAT,
				   json_integer_value(v));
	case JSON_REAL:
		return sbuf_printf(b, "%g", json_real_value(v));
	case JSON_TRUE:
		return sbuf_append(b, "yes", 3);
	case JSON_FALSE:
		return sbuf_append(b, "no", 2);
	case JSON_NULL:
		return sbuf_append(b, null_text, strlen(null_text));
	case JSON_OBJECT:
	case JSON_ARRAY:
	default:
		dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!dump)
			return -ENOMEM;
		r = sbuf_append(b, dump, strlen(dump));
		free(dump);
		return r;
	}
}

char *out_value(const json_t *v, const char *null_text)
{
	_cleanup_sbuf_ struct sbuf b = SBUF_INIT(SIZE_MAX / 2);
	bool scalars = true;
	const json_t *e;
	size_t i;
	int r = 0;

	if (!v)
		return strdup(null_text);
	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			scalars = scalars && is_scalar(e);
	}
	if (json_is_array(v) && scalars && json_array_size(v) > 0) {
		json_array_foreach(v, i, e) {
			if (i > 0 && r == 0)
				r = sbuf_append(&b, ", ", 2);
			if (r == 0)
				r = value_append(&b, e, null_text);
		}
	} else if (json_is_array(v) && json_array_size(v) == 0) {
		r = sbuf_append(&b, null_text, strlen(null_text));
	} else {
		r = value_append(&b, v, null_text);
	}
	if (r < 0)
		return NULL;
	return sbuf_steal(&b);
}

char *out_time_ms(const json_t *v, const char *null_text)
{
	char text[64];
	json_int_t ms;
	struct tm tm;
	time_t t;

	if (!json_is_integer(v))
		return out_value(v, null_text);
	ms = json_integer_value(v);
	/* Years 1..9999 only: anything else is not a meaningful time. */
	if (ms < -62135596800000LL || ms > 253402300799000LL)
		return out_value(v, null_text);
	t = (time_t)(ms / 1000);
	if (!localtime_r(&t, &tm) ||
	    strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return out_value(v, null_text);
	return strdup(text);
}

#define ELLIPSIS "\xe2\x80\xa6"    /* U+2026, one column */

char *out_truncate(const char *s, size_t width)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, n, w = 0, cut = 0;
	char *p;
	uint32_t cp;

	if (width == 0)
		return NULL;
	if (out_width(s) <= width)
		return strdup(s);
	/* Keep width - 1 columns, then the ellipsis. cut ends after the
	 * last kept letter and the combining marks that follow it. */
	while (i < len) {
		n = utf8_decode(u + i, len - i, &cp);
		if (n == 0) {
			n = 1;
			cp = '?';
		}
		if (!is_zero_width(cp)) {
			if (w + 1 > width - 1)
				break;
			w++;
		}
		i += n;
		cut = i;
	}
	p = malloc(cut + sizeof(ELLIPSIS));
	if (!p)
		return NULL;
	memcpy(p, s, cut);
	memcpy(p + cut, ELLIPSIS, sizeof(ELLIPSIS));
	return p;
}

/* ---- tables ---- */

struct out_table {
	size_t ncols;
	bool header;
	bool *right;
	char **cells;             /* rows * ncols, row 0 the header if any */
	size_t nrows, caprows;
};

struct out_table *out_table_free(struct out_table *t)
{
	size_t i;

	if (!t)
		return NULL;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->right);
	free(t);
	return NULL;
}

struct out_table *out_table_new(size_t ncols, const char *const *headers)
{
	struct out_table *t;

	if (ncols == 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ncols = ncols;
	t->right = calloc(ncols, sizeof(*t->right));
	if (!t->right)
		return out_table_free(t);
	if (headers) {
		if (out_table_add(t, headers) < 0)
			return out_table_free(t);
		t->header = true;
	}
	return t;
}

void out_table_align_right(struct out_table *t, size_t col)
{
	if (t && col < t->ncols)
		t->right[col] = true;
}

int out_table_add(struct out_table *t, const char *const *cells)
{
	size_t i, base;

	if (t->nrows == t->caprows) {
		size_t cap = t->caprows ? t->caprows * 2 : 16;
		char **p;

		if (cap > SIZE_MAX / sizeof(char *) / t->ncols)
			return -ENOMEM;
		p = realloc(t->cells, cap * t->ncols * sizeof(char *));
		if (!p)
			return -ENOMEM;
		t->cells = p;
		t->caprows = cap;
	}
	base = t->nrows * t->ncols;
	for (i = 0; i < t->ncols; i++) {
		t->cells[base + i] = out_clean(cells[i] ? cells[i] : "");
		if (!t->cells[base + i]) {
			while (i-- > 0)
				free(t->cells[base + i]);
			return -ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

size_t out_table_rows(const struct out_table *t)
{
	return t->nrows - (t->header ? 1 : 0);
}

static void pad(FILE *f, size_t n)
{
	while (n-- > 0)
		fputc(' ', f);
}

void out_table_print(const struct out_table *t, FILE *f)
{
	_cleanup_free_ size_t *width = NULL;
	size_t r, i, w;

	width = calloc(t->ncols, sizeof(*width));
	if (!width)
		return;
	for (r = 0; r < t->nrows; r++)
		for (i = 0; i < t->ncols; i++) {
			w = out_width(t->cells[r * t->ncols + i]);
			if (w > width[i])
				width[i] = w;
		}
	for (r = 0; r < t->nrows; r++) {
		size_t end = t->ncols;

		/* No trailing blanks: stop after the last non-empty cell. */
		while (end > 1 && !t->cells[r * t->ncols + end - 1][0])
			end--;
		for (i = 0; i < end; i++) {
			const char *cell = t->cells[r * t->ncols + i];
			bool last = i + 1 == end;

			w = out_width(cell);
			if (i > 0)
				fputs("  ", f);
			if (t->right[i])
				pad(f, width[i] - w);
			fputs(cell, f);
			if (!t->right[i] && !last)
				pad(f, width[i] - w);
		}
		fputc('\n', f);
	}
}
