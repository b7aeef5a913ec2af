/* test-csv.c: unit tests for the CSV reader and writer (csv.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "loaxa/csv.h"
#include "loaxa/util.h"

/* A reader over a string literal (NULs inside allowed with an explicit
 * length). */
static struct csv *open_n(const char *s, size_t len, char sep)
{
	struct csv *c = csv_new(s, len, sep);
	assert_non_null(c);
	return c;
}

static struct csv *open_s(const char *s, char sep)
{
	return open_n(s, strlen(s), sep);
}

/* Expect a record at line `line` whose fields are the NULL-terminated
 * list of strings that follows. */
static void expect_rec(struct csv *c, size_t line, ...)
{
	struct csv_record rec;
	assert_int_equal(csv_next(c, &rec), CSV_RECORD);
	assert_int_equal(rec.line, line);

	va_list ap;
	va_start(ap, line);
	size_t i = 0;
	const char *want;
	while ((want = va_arg(ap, const char *))) {
		assert_true(i < rec.nfields);
		assert_int_equal(rec.f[i].len, strlen(want));
		assert_string_equal(rec.f[i].s, want);
		i++;
	}
	va_end(ap);
	assert_int_equal(rec.nfields, i);
}

static void expect_end(struct csv *c)
{
	struct csv_record rec;
	assert_int_equal(csv_next(c, &rec), CSV_END);
	assert_int_equal(csv_next(c, &rec), CSV_END);
}

static void expect_error(struct csv *c, size_t line, const char *msg)
{
	struct csv_record rec;
	assert_int_equal(csv_next(c, &rec), CSV_ERROR);
	size_t eline = 0;
	const char *e = csv_error(c, &eline);
	assert_non_null(e);
	assert_string_equal(e, msg);
	assert_int_equal(eline, line);
	assert_int_equal(rec.line, line);
	assert_int_equal(rec.nfields, 0);
}

static void test_bom(void **state)
{
	(void)state;
	struct csv *c = open_s("\xEF\xBB\xBFname;phone\nAn;0912345678\n", 0);
	assert_int_equal(csv_separator(c), ';');
	expect_rec(c, 1, "name", "phone", NULL);
	expect_rec(c, 2, "An", "0912345678", NULL);
	expect_end(c);
	csv_free(c);

	/* Only the leading BOM is skipped; a BOM alone is an empty file. */
	c = open_s("\xEF\xBB\xBF", 0);
	expect_end(c);
	csv_free(c);
	c = open_s("a\n\xEF\xBB\xBF" "b\n", 0);
	expect_rec(c, 1, "a", NULL);
	expect_rec(c, 2, "\xEF\xBB\xBF" "b", NULL);
	expect_end(c);
	csv_free(c);
}

static void test_detect_semicolon(void **state)
{
	(void)state;
	struct csv *c = open_s("ho_ten;so_dien_thoai;dia_chi\n"
			       "Trần Văn Bình;0912 345 678;"
			       "Tổ 3, thôn Đông\n", 0);
	assert_int_equal(csv_separator(c), ';');
	expect_rec(c, 1, "ho_ten", "so_dien_thoai", "dia_chi", NULL);
	expect_rec(c, 2, "Trần Văn Bình", "0912 345 678", "Tổ 3, thôn Đông",
		   NULL);
	expect_end(c);
	csv_free(c);

	/* Detection looks at the first non-blank line only. */
	c = open_s("\n\r\na;b\nc,d,e,f\n", 0);
	assert_int_equal(csv_separator(c), ';');
	expect_rec(c, 3, "a", "b", NULL);
	expect_rec(c, 4, "c,d,e,f", NULL);
	csv_free(c);

	/* Commas inside quotes do not count. */
	c = open_s("\"a,b,c\";d\n", 0);
	assert_int_equal(csv_separator(c), ';');
	expect_rec(c, 1, "a,b,c", "d", NULL);
	csv_free(c);

	/* ... even when the quoted header cell spans lines. */
	c = open_s("\"x,\ny,z\";w\n", 0);
	assert_int_equal(csv_separator(c), ';');
	expect_rec(c, 1, "x,\ny,z", "w", NULL);
	csv_free(c);
}

static void test_detect_comma_default(void **state)
{
	(void)state;
	struct csv *c = open_s("name,phone\n", 0);
	assert_int_equal(csv_separator(c), ',');
	csv_free(c);

	/* A tie goes to ','. */
	c = open_s("a;b,c\n", 0);
	assert_int_equal(csv_separator(c), ',');
	expect_rec(c, 1, "a;b", "c", NULL);
	csv_free(c);

	/* Neither: ','. */
	c = open_s("name\nAn\n", 0);
	assert_int_equal(csv_separator(c), ',');
	csv_free(c);
	c = open_s("", 0);
	assert_int_equal(csv_separator(c), ',');
	csv_free(c);

	/* Semicolons inside quotes do not count. */
	c = open_s("\"a;b;c\",d\n", 0);
	assert_int_equal(csv_separator(c), ',');
	csv_free(c);

	/* A forced separator wins over detection. */
	c = open_s("a,b,c;d\n", ';');
	assert_int_equal(csv_separator(c), ';');
	expect_rec(c, 1, "a,b,c", "d", NULL);
	csv_free(c);

	/* Tab works when forced; a quote or newline cannot separate. */
	c = open_s("a\tb\n", '\t');
	expect_rec(c, 1, "a", "b", NULL);
	csv_free(c);
	errno = 0;
	assert_null(csv_new("a", 1, '"'));
	assert_int_equal(errno, EINVAL);
	assert_null(csv_new("a", 1, '\n'));
}

static void test_quotes(void **state)
{
	(void)state;
	struct csv *c = open_s("\"a,b\",\"say \"\"hi\"\"\",\"line1\nline2\","
			       "\"\",\"\"\"\"\n", ',');
	expect_rec(c, 1, "a,b", "say \"hi\"", "line1\nline2", "", "\"", NULL);
	expect_end(c);
	csv_free(c);

	/* Lenient: a quote inside an unquoted field is literal; text after
	 * a closing quote is appended. */
	c = open_s("ab\"c,\"abc\"def,\"a\"b\"c\",x\"\n", ',');
	expect_rec(c, 1, "ab\"c", "abcdef", "ab\"c\"", "x\"", NULL);
	csv_free(c);

	/* A space before the quote makes it an ordinary field. */
	c = open_s(" \"a,b\"\n", ',');
	expect_rec(c, 1, " \"a", "b\"", NULL);
	csv_free(c);

	/* A quoted empty field alone is a record, not a blank line. */
	c = open_s("\"\"\nx\n", ',');
	expect_rec(c, 1, "", NULL);
	expect_rec(c, 2, "x", NULL);
	csv_free(c);
}

static void test_crlf(void **state)
{
	(void)state;
	struct csv *c = open_s("a,b\r\nc,\"d\r\ne\"\r\n\r\nf,g\r\n", 0);
	expect_rec(c, 1, "a", "b", NULL);
	expect_rec(c, 2, "c", "d\ne", NULL);
	expect_rec(c, 5, "f", "g", NULL);
	expect_end(c);
	csv_free(c);
}

static void test_cr_only(void **state)
{
	(void)state;
	/* Old Mac line ends; a CR inside quotes reads as LF. */
	struct csv *c = open_s("a,b\rc,\"d\re\"\r\rf,g", 0);
	expect_rec(c, 1, "a", "b", NULL);
	expect_rec(c, 2, "c", "d\ne", NULL);
	expect_rec(c, 5, "f", "g", NULL);
	expect_end(c);
	csv_free(c);

	/* CR CR LF inside quotes: two line breaks, not CR + LF. */
	c = open_s("\"a\r\r\nb\"\r\nz", 0);
	expect_rec(c, 1, "a\n\nb", NULL);
	expect_rec(c, 4, "z", NULL);
	expect_end(c);
	csv_free(c);

	/* Mixed: LF, CRLF, CR, then LF CR (two line ends). */
	c = open_s("1\n2\r\n3\r4\n\r5", 0);
	expect_rec(c, 1, "1", NULL);
	expect_rec(c, 2, "2", NULL);
	expect_rec(c, 3, "3", NULL);
	expect_rec(c, 4, "4", NULL);
	expect_rec(c, 6, "5", NULL);
	expect_end(c);
	csv_free(c);
}

static void test_ragged(void **state)
{
	(void)state;
	struct csv *c = open_s("a,b,c\n1\n1,2,3,4\n,,\n,\n  \n", 0);
	expect_rec(c, 1, "a", "b", "c", NULL);
	expect_rec(c, 2, "1", NULL);
	expect_rec(c, 3, "1", "2", "3", "4", NULL);
	/* A line of separators: empty fields, the caller decides. */
	expect_rec(c, 4, "", "", "", NULL);
	expect_rec(c, 5, "", "", NULL);
	/* Blanks are data: only zero-length lines are skipped. */
	expect_rec(c, 6, "  ", NULL);
	expect_end(c);
	csv_free(c);
}

static void test_empty(void **state)
{
	(void)state;
	struct csv *c = open_s("", 0);
	expect_end(c);
	assert_null(csv_error(c, NULL));
	csv_free(c);

	c = csv_new(NULL, 0, 0);
	assert_non_null(c);
	expect_end(c);
	csv_free(c);

	c = open_s("\n\r\n\r\n\n", 0);
	expect_end(c);
	csv_free(c);

	assert_null(csv_free(NULL));
}

static void test_header_only(void **state)
{
	(void)state;
	struct csv *c = open_s("name,phone,group", 0);
	expect_rec(c, 1, "name", "phone", "group", NULL);
	expect_end(c);
	csv_free(c);

	c = open_s("name,phone,group\r\n", 0);
	expect_rec(c, 1, "name", "phone", "group", NULL);
	expect_end(c);
	csv_free(c);
}

static void test_blank_lines(void **state)
{
	(void)state;
	struct csv *c = open_s("\n\nh1,h2\n\n\na,b\n\r\n\nc,d\n\n", 0);
	expect_rec(c, 3, "h1", "h2", NULL);
	expect_rec(c, 6, "a", "b", NULL);
	expect_rec(c, 9, "c", "d", NULL);
	expect_end(c);
	csv_free(c);
}

static void test_trailing_newline(void **state)
{
	(void)state;
	static const char *const inputs[] = {
		"h\na,b", "h\na,b\n", "h\na,b\r\n", "h\na,b\r", "h\na,b\n\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(inputs); i++) {
		struct csv *c = open_s(inputs[i], 0);
		expect_rec(c, 1, "h", NULL);
		expect_rec(c, 2, "a", "b", NULL);
		expect_end(c);
		csv_free(c);
	}

	/* A trailing separator is a trailing empty field. */
	struct csv *c = open_s("a,b,", 0);
	expect_rec(c, 1, "a", "b", "", NULL);
	expect_end(c);
	csv_free(c);
}

static void test_unterminated(void **state)
{
	(void)state;
	struct csv *c = open_s("a,b\nc,\"d\ne,f\ng\n", 0);
	expect_rec(c, 1, "a", "b", NULL);
	expect_error(c, 2, "unterminated quoted field (opened on line 2)");
	expect_end(c);
	/* The message stays available after the end. */
	assert_non_null(csv_error(c, NULL));
	csv_free(c);

	/* Opened on a later line than the record start. */
	c = open_s("\"x\ny\",\"z\n", 0);
	expect_error(c, 1, "unterminated quoted field (opened on line 2)");
	expect_end(c);
	csv_free(c);

	/* A lone quote. */
	c = open_s("\"", 0);
	expect_error(c, 1, "unterminated quoted field (opened on line 1)");
	expect_end(c);
	csv_free(c);
}

static void test_too_many_fields(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1 << 16);
	/* Line 1: exactly CSV_MAX_FIELDS fields; line 2: one more, with a
	 * multi-line quoted cell after the limit; then a good line. */
	for (int i = 0; i < CSV_MAX_FIELDS; i++)
		assert_int_equal(buf_printf(&b, "%s%d", i ? "," : "", i), 0);
	assert_int_equal(buf_printf(&b, "\n"), 0);
	for (int i = 0; i < CSV_MAX_FIELDS; i++)
		assert_int_equal(buf_printf(&b, "%d,", i), 0);
	assert_int_equal(buf_printf(&b, "\"p\nq\"\nx,y\n"), 0);

	struct csv *c = open_n(b.data, b.len, 0);
	struct csv_record rec;
	assert_int_equal(csv_next(c, &rec), CSV_RECORD);
	assert_int_equal(rec.line, 1);
	assert_int_equal(rec.nfields, CSV_MAX_FIELDS);
	assert_string_equal(rec.f[0].s, "0");
	assert_string_equal(rec.f[CSV_MAX_FIELDS - 1].s, "63");
	expect_error(c, 2, "more than 64 fields");
	expect_rec(c, 4, "x", "y", NULL);
	/* A good record clears the error. */
	assert_null(csv_error(c, NULL));
	expect_end(c);
	csv_free(c);
	buf_free(&b);
}

static void test_trailing_empty_fields(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1 << 16);
	/* A spreadsheet row padded with 200 empty columns, quoted or not. */
	assert_int_equal(buf_printf(&b, "a,b"), 0);
	for (int i = 0; i < 200; i++)
		assert_int_equal(buf_printf(&b, i % 2 ? ",\"\"" : ","), 0);
	assert_int_equal(buf_printf(&b, "\nc,d\n"), 0);
	struct csv *c = open_n(b.data, b.len, 0);
	struct csv_record rec;
	assert_int_equal(csv_next(c, &rec), CSV_RECORD);
	assert_int_equal(rec.nfields, CSV_MAX_FIELDS);
	assert_string_equal(rec.f[1].s, "b");
	expect_rec(c, 2, "c", "d", NULL);
	expect_end(c);
	csv_free(c);
	buf_free(&b);
}

static void test_too_long_field(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1 << 16);
	char big[CSV_MAX_FIELD_LEN + 1];
	memset(big, 'x', sizeof(big));

	/* Exactly the limit is fine, one more is not (unquoted). */
	assert_int_equal(buf_append(&b, big, CSV_MAX_FIELD_LEN), 0);
	assert_int_equal(buf_printf(&b, ",a\nb,"), 0);
	assert_int_equal(buf_append(&b, big, CSV_MAX_FIELD_LEN + 1), 0);
	/* A quoted one over the limit, spanning lines. */
	assert_int_equal(buf_printf(&b, "\n\"\n"), 0);
	assert_int_equal(buf_append(&b, big, CSV_MAX_FIELD_LEN), 0);
	assert_int_equal(buf_printf(&b, "\n\",z\nok\n"), 0);
	/* A quoted one at the limit once "" is unescaped. */
	assert_int_equal(buf_printf(&b, "\"\"\""), 0);
	assert_int_equal(buf_append(&b, big, CSV_MAX_FIELD_LEN - 1), 0);
	assert_int_equal(buf_printf(&b, "\"\n"), 0);

	struct csv *c = open_n(b.data, b.len, 0);
	struct csv_record rec;
	assert_int_equal(csv_next(c, &rec), CSV_RECORD);
	assert_int_equal(rec.nfields, 2);
	assert_int_equal(rec.f[0].len, CSV_MAX_FIELD_LEN);
	assert_int_equal(rec.f[0].s[CSV_MAX_FIELD_LEN], '\0');
	assert_string_equal(rec.f[1].s, "a");
	expect_error(c, 2, "field longer than 4096 bytes");
	expect_error(c, 3, "field longer than 4096 bytes");
	expect_rec(c, 6, "ok", NULL);
	assert_int_equal(csv_next(c, &rec), CSV_RECORD);
	assert_int_equal(rec.line, 7);
	assert_int_equal(rec.nfields, 1);
	assert_int_equal(rec.f[0].len, CSV_MAX_FIELD_LEN);
	assert_int_equal(rec.f[0].s[0], '"');
	assert_int_equal(rec.f[0].s[1], 'x');
	expect_end(c);
	csv_free(c);
	buf_free(&b);
}

static void test_line_numbers(void **state)
{
	(void)state;
	struct csv *c = open_s("h1,h2\n"
			       "\"a\nb\nc\",x\n"          /* lines 2-4 */
			       "next,\"\r\n\r\n\"\r\n"    /* lines 5-7 */
			       "\"\r\r\",y\n"             /* lines 8-10 */
			       "last\n", 0);              /* line 11 */
	expect_rec(c, 1, "h1", "h2", NULL);
	expect_rec(c, 2, "a\nb\nc", "x", NULL);
	expect_rec(c, 5, "next", "\n\n", NULL);
	expect_rec(c, 8, "\n\n", "y", NULL);
	expect_rec(c, 11, "last", NULL);
	expect_end(c);
	csv_free(c);
}

static void test_nul_byte(void **state)
{
	(void)state;
	static const char data[] = "a\0b,\"c\0\"\n\0\n";
	struct csv *c = open_n(data, sizeof(data) - 1, 0);
	struct csv_record rec;
	assert_int_equal(csv_next(c, &rec), CSV_RECORD);
	assert_int_equal(rec.nfields, 2);
	assert_int_equal(rec.f[0].len, 3);
	assert_memory_equal(rec.f[0].s, "a\0b", 4);
	assert_int_equal(rec.f[1].len, 2);
	assert_memory_equal(rec.f[1].s, "c\0", 3);
	assert_int_equal(csv_next(c, &rec), CSV_RECORD);
	assert_int_equal(rec.line, 2);
	assert_int_equal(rec.nfields, 1);
	assert_int_equal(rec.f[0].len, 1);
	expect_end(c);
	csv_free(c);
}

static void expect_written(const char *in, char sep, const char *want)
{
	struct buf b;
	buf_init(&b, 1024);
	assert_int_equal(csv_write_field(&b, in, strlen(in), sep), 0);
	assert_string_equal(b.data ? b.data : "", want);
	buf_free(&b);
}

static void test_write_field(void **state)
{
	(void)state;
	expect_written("", ',', "");
	expect_written("abc", ',', "abc");
	expect_written("Nguyễn Thị Hoa", ',', "Nguyễn Thị Hoa");
	expect_written("a;b", ',', "a;b");
	expect_written("a;b", ';', "\"a;b\"");
	expect_written("a,b", ',', "\"a,b\"");
	expect_written("a,b", ';', "a,b");
	expect_written("say \"hi\"", ',', "\"say \"\"hi\"\"\"");
	expect_written("\"", ',', "\"\"\"\"");
	expect_written("a\nb", ',', "\"a\nb\"");
	expect_written("a\rb", ',', "\"a\rb\"");
	expect_written(" lead", ',', "\" lead\"");
	expect_written("trail ", ',', "\"trail \"");
	expect_written("\ttab", ',', "\"\ttab\"");
	expect_written("in side", ',', "in side");
	expect_written("\xEF\xBB\xBFx", ',', "\"\xEF\xBB\xBFx\"");

	/* Appends, NUL bytes are data. */
	struct buf b;
	buf_init(&b, 16);
	assert_int_equal(csv_write_field(&b, "a", 1, ','), 0);
	assert_int_equal(csv_write_field(&b, "\0,", 2, ','), 0);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "a\"\0,\"", 6);

	/* Too big: -E2BIG and the buffer is unchanged. */
	assert_int_equal(csv_write_field(&b, "x\"x\"x\"x\"x\"x\"", 12, ','),
			 -E2BIG);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "a\"\0,\"", 6);
	assert_int_equal(csv_write_field(&b, "0123456789ab", 12, ','),
			 -E2BIG);
	assert_int_equal(b.len, 5);
	assert_int_equal(csv_write_field(&b, NULL, 1, ','), -EINVAL);
	assert_int_equal(csv_write_field(&b, NULL, 0, ','), 0);
	assert_int_equal(csv_write_field(&b, "a", 1, '"'), -EINVAL);
	buf_free(&b);
}

static void roundtrip(const char *const *fields, size_t n, char sep)
{
	struct buf b;
	buf_init(&b, 1 << 16);
	for (int row = 0; row < 3; row++) {
		for (size_t i = 0; i < n; i++) {
			if (i)
				assert_int_equal(buf_append(&b, &sep, 1), 0);
			assert_int_equal(csv_write_field(&b, fields[i],
							 strlen(fields[i]),
							 sep), 0);
		}
		assert_int_equal(buf_append(&b, row == 1 ? "\r\n" : "\n",
					    row == 1 ? 2 : 1), 0);
	}

	struct csv *c = open_n(b.data, b.len, sep);
	struct csv_record rec;
	for (int row = 0; row < 3; row++) {
		assert_int_equal(csv_next(c, &rec), CSV_RECORD);
		assert_int_equal(rec.nfields, n);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(rec.f[i].len, strlen(fields[i]));
			assert_string_equal(rec.f[i].s, fields[i]);
		}
	}
	expect_end(c);
	csv_free(c);

	/* Detection finds the separator again (tricky cells are quoted). */
	c = open_n(b.data, b.len, 0);
	assert_int_equal(csv_separator(c), sep);
	csv_free(c);
	buf_free(&b);
}

static void test_roundtrip(void **state)
{
	(void)state;
	static const char *const fields[] = {
		"Nguyễn Văn An",
		"Tổ 2A; thôn Đông, xã Hòa Bình",
		"0912 345 678 / 0987.654.321",
		"say \"xin chào\"",
		"",
		"\"",
		"\"\"",
		"dòng 1\ndòng 2\n",
		"\n",
		" khoảng trắng ",
		",;,;",
		"Ghi chú: \"ông Ba\", hẻm 3",
		"ạ",
	};
	roundtrip(fields, ARRAY_SIZE(fields), ',');
	roundtrip(fields, ARRAY_SIZE(fields), ';');

	/* A lone empty field is written as "" by the caller, else the line
	 * would be blank and skipped (see the fuzz target). */
	struct csv *c = open_s("\"\"\n", ',');
	expect_rec(c, 1, "", NULL);
	csv_free(c);

	/* CR is quoted on write but, like every line break inside quotes,
	 * read back as LF (the reader never returns CR). */
	struct buf b;
	buf_init(&b, 64);
	assert_int_equal(csv_write_field(&b, "a\rb\r\nc\r\r\n", 9, ','), 0);
	assert_string_equal(b.data, "\"a\rb\r\nc\r\r\n\"");
	c = open_n(b.data, b.len, ',');
	expect_rec(c, 1, "a\nb\nc\n\n", NULL);
	expect_end(c);
	csv_free(c);
	buf_free(&b);
}

static void test_record_limits_roundtrip(void **state)
{
	(void)state;
	/* CSV_MAX_FIELDS fields of CSV_MAX_FIELD_LEN quotes each: the worst
	 * case for the field buffer. */
	static char big[CSV_MAX_FIELD_LEN];
	memset(big, '"', sizeof(big));
	struct buf b;
	buf_init(&b, 1 << 20);
	for (int i = 0; i < CSV_MAX_FIELDS; i++) {
		if (i)
			assert_int_equal(buf_append(&b, ",", 1), 0);
		assert_int_equal(csv_write_field(&b, big, sizeof(big), ','),
				 0);
	}
	struct csv *c = open_n(b.data, b.len, 0);
	struct csv_record rec;
	assert_int_equal(csv_next(c, &rec), CSV_RECORD);
	assert_int_equal(rec.nfields, CSV_MAX_FIELDS);
	for (int i = 0; i < CSV_MAX_FIELDS; i++) {
		assert_int_equal(rec.f[i].len, sizeof(big));
		assert_memory_equal(rec.f[i].s, big, sizeof(big));
		assert_int_equal(rec.f[i].s[sizeof(big)], '\0');
	}
	expect_end(c);
	csv_free(c);
	buf_free(&b);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_speed(void **state)
{
	(void)state;
	enum { ROWS = 50000 };
	struct buf b;
	buf_init(&b, 64 << 20);
	assert_int_equal(buf_printf(&b, "\xEF\xBB\xBFnhom;ho_ten;so_dien_thoai;"
				    "dia_chi;ghi_chu\r\n"), 0);
	for (int i = 0; i < ROWS; i++)
		assert_int_equal(buf_printf(&b, "%d;Nguyễn Văn %d;09%08d;"
					    "\"Tổ %d; thôn Đông\";\"ghi "
					    "\"\"chú\"\"\"\r\n", i % 12, i,
					    i, i % 7), 0);

	double t0 = now_ms();
	struct csv *c = open_n(b.data, b.len, 0);
	struct csv_record rec;
	size_t n = 0, bytes = 0;
	enum csv_status st;
	while ((st = csv_next(c, &rec)) == CSV_RECORD) {
		n++;
		bytes += rec.f[3].len;
	}
	double dt = now_ms() - t0;
	assert_int_equal(st, CSV_END);
	assert_int_equal(n, ROWS + 1);
	assert_true(bytes > 0);
	assert_int_equal(rec.line, ROWS + 1);
	csv_free(c);
	buf_free(&b);
	print_message("parsed %d rows in %.1f ms\n", ROWS, dt);
	/* Generous: sanitizers and valgrind are slow; the target is well
	 * under 100 ms in a normal build. This catches quadratic mistakes. */
	assert_true(dt < 2000.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_detect_semicolon),
		cmocka_unit_test(test_detect_comma_default),
		cmocka_unit_test(test_quotes),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_cr_only),
		cmocka_unit_test(test_ragged),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_header_only),
		cmocka_unit_test(test_blank_lines),
		cmocka_unit_test(test_trailing_newline),
		cmocka_unit_test(test_unterminated),
		cmocka_unit_test(test_too_many_fields),
		cmocka_unit_test(test_trailing_empty_fields),
		cmocka_unit_test(test_too_long_field),
		cmocka_unit_test(test_line_numbers),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_write_field),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_record_limits_roundtrip),
		cmocka_unit_test(test_speed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
