/* test-template.c: placeholders and escapes, check/render agreement,
 * Vietnamese dates, and SMS measurement (GSM-7/UCS-2 units and segments). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "loaxa/template.h"
#include "loaxa/text.h"
#include "loaxa/util.h"

static void test_var_names(void **state)
{
	(void)state;
	static const char *const names[TV_MAX] = {
		"name", "group", "title", "time", "place", "agenda", "body",
	};
	enum tmpl_var v;

	for (int i = 0; i < TV_MAX; i++) {
		assert_string_equal(template_var_name((enum tmpl_var)i),
				    names[i]);
		v = TV_MAX;
		assert_int_equal(template_var_parse(names[i],
						    strlen(names[i]), &v), 0);
		assert_int_equal(v, i);
	}
	assert_null(template_var_name(TV_MAX));
	assert_null(template_var_name((enum tmpl_var)-1));
	v = TV_BODY;
	assert_int_equal(template_var_parse("nam", 3, &v), -EINVAL);
	assert_int_equal(template_var_parse("Name", 4, &v), -EINVAL);
	assert_int_equal(template_var_parse("names", 5, &v), -EINVAL);
	assert_int_equal(template_var_parse("", 0, &v), -EINVAL);
	assert_int_equal(template_var_parse(NULL, 0, &v), -EINVAL);
	assert_int_equal(v, TV_BODY); /* untouched on failure */
	/* n bounds the name */
	assert_int_equal(template_var_parse("timeout", 4, &v), 0);
	assert_int_equal(v, TV_TIME);
}

/* Render with the usual values; "ERR" if it fails. Checks that template_check
 * agrees and that a failed render leaves the buffer as it was. */
static const char *render(const char *tmpl, const struct tmpl_vars *vars)
{
	static char res[1024];
	struct buf b;
	char err[256];

	buf_init(&b, 4096);
	assert_int_equal(buf_append(&b, "<", 1), 0);
	int rc = template_check(tmpl, err, sizeof err);
	int rr = template_render(tmpl, vars, &b);
	assert_int_equal(rc, rr);
	if (rr < 0) {
		assert_int_equal(rr, -EINVAL);
		assert_int_equal(b.len, 1);
		assert_string_equal(b.data, "<");
		buf_free(&b);
		return "ERR";
	}
	assert_int_equal(strlen(b.data), b.len);
	snprintf(res, sizeof res, "%s", b.data + 1);
	buf_free(&b);
	return res;
}

static const char *check(const char *tmpl)
{
	static char err[256];
	memset(err, 0, sizeof err);
	int r = template_check(tmpl, err, sizeof err);
	if (r == 0) {
		assert_string_equal(err, ""); /* untouched */
		return "OK";
	}
	assert_int_equal(r, -EINVAL);
	assert_true(text_utf8_valid(err, strlen(err)));
	return err;
}

static const struct tmpl_vars vars = { .v = {
	[TV_NAME] = "Nguyễn Văn An",
	[TV_GROUP] = "Thôn Đông",
	[TV_TITLE] = "Họp dân",
	[TV_TIME] = "19h30 thứ Bảy, 05/12/2026",
	[TV_PLACE] = "Nhà văn hoá",
	[TV_AGENDA] = "Làm đường",
	[TV_BODY] = NULL,
} };

static void test_render(void **state)
{
	(void)state;
	assert_string_equal(render("", &vars), "");
	assert_string_equal(render("Kính mời", &vars), "Kính mời");
	assert_string_equal(render("Kính mời {name}", &vars),
			    "Kính mời Nguyễn Văn An");
	assert_string_equal(render("{title} {group} lúc {time} tại {place}: "
				   "{agenda}.", &vars),
			    "Họp dân Thôn Đông lúc 19h30 thứ Bảy, 05/12/2026 "
			    "tại Nhà văn hoá: Làm đường.");
	/* NULL values and NULL vars render as "" */
	assert_string_equal(render("[{body}]", &vars), "[]");
	assert_string_equal(render("[{name}|{body}]", NULL), "[|]");
	/* repeated and adjacent placeholders */
	assert_string_equal(render("{name}{name}", &vars),
			    "Nguyễn Văn AnNguyễn Văn An");
	/* escapes */
	assert_string_equal(render("{{", &vars), "{");
	assert_string_equal(render("}}", &vars), "}");
	assert_string_equal(render("{{name}}", &vars), "{name}");
	assert_string_equal(render("{{{name}}}", &vars), "{Nguyễn Văn An}");
	assert_string_equal(render("a {{ b }} c", &vars), "a { b } c");
	assert_string_equal(render("{{}}", &vars), "{}");
	assert_string_equal(render("{{{{", &vars), "{{");
	/* values are inserted verbatim, never expanded again */
	struct tmpl_vars tricky = { .v = { [TV_NAME] = "{title} }{ {{",
					   [TV_TITLE] = "X" } };
	assert_string_equal(render("{name}/{title}", &tricky),
			    "{title} }{ {{/X");
	/* newlines and other text pass through */
	assert_string_equal(render("a\nb\t{name}\r\n", &tricky),
			    "a\nb\t{title} }{ {{\r\n");
	/* bad templates fail render too */
	assert_string_equal(render("{nmae}", &vars), "ERR");
	assert_string_equal(render("ok {name} then }", &vars), "ERR");
}

static void test_render_limits(void **state)
{
	(void)state;
	struct buf b;

	/* out's max: -E2BIG and the buffer is left as it was */
	buf_init(&b, 20);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	assert_int_equal(template_render("Kính mời {name} họp", &vars, &b),
			 -E2BIG);
	assert_int_equal(b.len, 3);
	assert_string_equal(b.data, "abc");
	assert_int_equal(template_render("{name}", &vars, &b), 0);
	assert_int_equal(b.len, 3 + strlen("Nguyễn Văn An"));
	assert_int_equal(template_render("x", &vars, &b), 0);
	assert_int_equal(b.len, 20);
	assert_int_equal(template_render("", &vars, &b), 0);
	assert_int_equal(template_render("y", &vars, &b), -E2BIG);
	assert_int_equal(b.len, 20);
	buf_free(&b);

	/* a bad template is -EINVAL even when its text would not fit */
	buf_init(&b, 4);
	assert_int_equal(template_render("0123456789 {nmae}", &vars, &b),
			 -EINVAL);
	assert_int_equal(template_render("0123456789 }", &vars, &b),
			 -EINVAL);
	assert_int_equal(b.len, 0);
	buf_free(&b);

	/* literal text alone can overflow as well */
	buf_init(&b, 4);
	assert_int_equal(template_render("hello", NULL, &b), -E2BIG);
	assert_int_equal(b.len, 0);
	assert_int_equal(template_render("{{}}", NULL, &b), 0);
	assert_string_equal(b.data, "{}");
	buf_free(&b);

	/* bad arguments */
	buf_init(&b, 16);
	assert_int_equal(template_render(NULL, &vars, &b), -EINVAL);
	assert_int_equal(template_render("x", &vars, NULL), -EINVAL);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void test_check_errors(void **state)
{
	(void)state;
	assert_string_equal(check(""), "OK");
	assert_string_equal(check("{name}{group}{title}{time}{place}"
				  "{agenda}{body}"), "OK");
	assert_string_equal(check("{{ }} {{name}}"), "OK");

	assert_string_equal(check("Kính mời {nmae} họp"),
			    "unknown placeholder {nmae} at character 10");
	assert_string_equal(check("{Name}"),
			    "unknown placeholder {Name} at character 1");
	assert_string_equal(check("{ name }"),
			    "unknown placeholder { name } at character 1");
	assert_string_equal(check("Họp dân {ngày}"),
			    "unknown placeholder {ngày} at character 9");
	assert_string_equal(check("abc {"),
			    "unclosed '{' at character 5 (write {{ for a "
			    "literal brace)");
	assert_string_equal(check("{name"),
			    "unclosed '{' at character 1 (write {{ for a "
			    "literal brace)");
	assert_string_equal(check("{na{me}"),
			    "unclosed '{' at character 1 (write {{ for a "
			    "literal brace)");
	assert_string_equal(check("a}b"),
			    "unmatched '}' at character 2 (write }} for a "
			    "literal brace)");
	assert_string_equal(check("{name}}"),
			    "unmatched '}' at character 7 (write }} for a "
			    "literal brace)");
	assert_string_equal(check("}}}"),
			    "unmatched '}' at character 3 (write }} for a "
			    "literal brace)");
	assert_string_equal(check("Đông {{x}} {name} {}"),
			    "empty placeholder {} at character 19");
	assert_string_equal(check("ab\xff"),
			    "invalid UTF-8 at character 3 (save the text as "
			    "UTF-8)");
	assert_string_equal(check("Đ\xc4"),
			    "invalid UTF-8 at character 2 (save the text as "
			    "UTF-8)");
	assert_string_equal(check("\xed\xa0\x80"), /* a surrogate */
			    "invalid UTF-8 at character 1 (save the text as "
			    "UTF-8)");
	/* the first error wins */
	assert_string_equal(check("} {nmae}"),
			    "unmatched '}' at character 1 (write }} for a "
			    "literal brace)");
	/* odd names are shown safely: controls and bad bytes as '?', long
	 * names cut */
	assert_string_equal(check("{a\nb\xff}"),
			    "unknown placeholder {a?b?} at character 1");
	assert_string_equal(check("{abcdefghijklmnopqrstuvwxyz0123}"),
			    "unknown placeholder {abcdefghijklmnopqrstuvwx...}"
			    " at character 1");
	assert_string_equal(check(NULL), "no template");

	/* small and missing err buffers */
	char err[12];
	memset(err, 'X', sizeof err);
	assert_int_equal(template_check("{x}", err, sizeof err), -EINVAL);
	assert_string_equal(err, "unknown pla");
	assert_int_equal(template_check("{x}", NULL, 0), -EINVAL);
	assert_int_equal(template_check("{x}", err, 0), -EINVAL);
	/* no split code point: "{ngày}" cut inside the à */
	char small[32];
	const char *full = "unknown placeholder {ngà";
	size_t cut = strlen(full) - 1; /* keeps only the first byte of à */
	assert_int_equal(template_check("{ngày}", small, cut + 1), -EINVAL);
	assert_string_equal(small, "unknown placeholder {ng");
}

static void test_check_render_agree(void **state)
{
	(void)state;
	static const char *const rows[] = {
		"", "{", "}", "{{", "}}", "{}", "{{}", "{}}", "{{}}", "{name",
		"name}", "{name}", "{{name}", "{name}}", "{{name}}",
		"{{{name}}}", "{ {name} }", "x{body}y", "{nope}", "\xff",
		"{\xff}", "Thôn {group}", "}{", "{{{", "}}}", "{name}{",
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		const char *c = check(rows[i]);
		const char *r = render(rows[i], &vars); /* asserts agreement */
		assert_int_equal(strcmp(c, "OK") == 0, strcmp(r, "ERR") != 0);
	}
}

static struct tm day(int y, int mo, int d, int h, int mi)
{
	/* tm_wday deliberately wrong: the date decides the weekday */
	return (struct tm){ .tm_year = y - 1900, .tm_mon = mo - 1,
			    .tm_mday = d, .tm_hour = h, .tm_min = mi,
			    .tm_wday = 3 };
}

static const char *vn(struct tm tm)
{
	static char out[64];
	size_t n = template_vn_datetime(&tm, out, sizeof out);
	assert_int_equal(n, strlen(out));
	return out;
}

static void test_vn_datetime(void **state)
{
	(void)state;
	assert_string_equal(vn(day(2026, 12, 5, 19, 30)),
			    "19h30 thứ Bảy, 05/12/2026");
	assert_string_equal(vn(day(2026, 12, 5, 19, 0)),
			    "19h thứ Bảy, 05/12/2026");
	assert_string_equal(vn(day(2026, 12, 7, 7, 0)),
			    "7h thứ Hai, 07/12/2026");
	assert_string_equal(vn(day(2026, 12, 7, 7, 5)),
			    "7h05 thứ Hai, 07/12/2026");
	assert_string_equal(vn(day(2027, 1, 1, 0, 0)),
			    "0h thứ Sáu, 01/01/2027");
	assert_string_equal(vn(day(2028, 2, 29, 23, 59)),
			    "23h59 thứ Ba, 29/02/2028");

	/* each weekday, Sunday 6 Dec 2026 to Saturday 12 Dec 2026 */
	static const char *const want[7] = {
		"8h Chủ nhật, 06/12/2026", "8h thứ Hai, 07/12/2026",
		"8h thứ Ba, 08/12/2026",   "8h thứ Tư, 09/12/2026",
		"8h thứ Năm, 10/12/2026",  "8h thứ Sáu, 11/12/2026",
		"8h thứ Bảy, 12/12/2026",
	};
	for (int i = 0; i < 7; i++)
		assert_string_equal(vn(day(2026, 12, 6 + i, 8, 0)), want[i]);
	/* the names, precomposed UTF-8 */
	assert_string_equal(template_vn_weekday(0), "Ch\xe1\xbb\xa7 nh\xe1"
			    "\xba\xadt");
	assert_string_equal(template_vn_weekday(1), "th\xe1\xbb\xa9 Hai");
	assert_string_equal(template_vn_weekday(3), "th\xe1\xbb\xa9 T\xc6"
			    "\xb0");
	assert_string_equal(template_vn_weekday(4), "th\xe1\xbb\xa9 N\xc4"
			    "\x83m");
	assert_string_equal(template_vn_weekday(5), "th\xe1\xbb\xa9 S\xc3"
			    "\xa1u");
	assert_string_equal(template_vn_weekday(6), "th\xe1\xbb\xa9 B\xe1"
			    "\xba\xa3y");
	assert_null(template_vn_weekday(-1));
	assert_null(template_vn_weekday(7));
}

static void test_vn_datetime_bounds(void **state)
{
	(void)state;
	struct tm tm = day(2026, 12, 5, 19, 30);
	char out[64];
	const char *full = "19h30 thứ Bảy, 05/12/2026";

	/* every buffer size gives a prefix, never half a letter */
	for (size_t sz = 1; sz <= strlen(full) + 1; sz++) {
		memset(out, 'X', sizeof out);
		size_t n = template_vn_datetime(&tm, out, sz);
		assert_true(n < sz);
		assert_int_equal(n, strlen(out));
		assert_memory_equal(out, full, n);
		assert_true(text_utf8_valid(out, n));
		assert_true(n + 3 >= sz - 1); /* at most one letter dropped */
	}
	assert_int_equal(template_vn_datetime(&tm, out, 0), 0);
	assert_int_equal(template_vn_datetime(&tm, NULL, 10), 0);
	assert_int_equal(template_vn_datetime(NULL, out, sizeof out), 0);
	assert_string_equal(out, "");
	/* nonsense fields: no crash, still a string */
	tm = (struct tm){ .tm_year = INT32_MAX, .tm_mon = INT32_MIN,
			  .tm_mday = INT32_MIN, .tm_hour = -1, .tm_min = 99 };
	assert_true(template_vn_datetime(&tm, out, sizeof out) > 0);
	tm = (struct tm){ .tm_year = INT32_MIN, .tm_mon = INT32_MAX,
			  .tm_mday = INT32_MAX };
	assert_true(template_vn_datetime(&tm, out, sizeof out) > 0);
	/* a month out of range moves into the next year */
	tm = day(2026, 13, 1, 8, 0); /* = 1 January 2027, a Friday */
	assert_string_equal(vn(tm), "8h thứ Sáu, 01/13/2026");
}

static struct sms_info measure(const char *s)
{
	struct sms_info i;
	memset(&i, 0x5A, sizeof i);
	sms_measure(s, strlen(s), &i);
	return i;
}

static char *repeat(const char *unit, size_t n)
{
	size_t len = strlen(unit);
	char *s = malloc(len * n + 1);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * len, unit, len);
	s[len * n] = '\0';
	return s;
}

static void expect(const char *unit, size_t n, enum sms_encoding enc,
		   size_t units, size_t segments)
{
	char *s = repeat(unit, n);
	struct sms_info i = measure(s);
	free(s);
	if (i.encoding != enc || i.units != units || i.segments != segments)
		fail_msg("%zu x '%s': got %s %zu units %zu segments, want %s "
			 "%zu %zu", n, unit, sms_encoding_name(i.encoding),
			 i.units, i.segments, sms_encoding_name(enc), units,
			 segments);
}

static void test_sms_segments(void **state)
{
	(void)state;
	/* GSM-7 */
	expect("a", 0, SMS_GSM7, 0, 0); /* nothing to send */
	expect("a", 1, SMS_GSM7, 1, 1);
	expect("a", 160, SMS_GSM7, 160, 1);
	expect("a", 161, SMS_GSM7, 161, 2);
	expect("a", 306, SMS_GSM7, 306, 2);
	expect("a", 307, SMS_GSM7, 307, 3);
	expect("a", 459, SMS_GSM7, 459, 3);
	expect("a", 460, SMS_GSM7, 460, 4);
	/* UCS-2 */
	expect("ọ", 1, SMS_UCS2, 1, 1);
	expect("ọ", 70, SMS_UCS2, 70, 1);
	expect("ọ", 71, SMS_UCS2, 71, 2);
	expect("ọ", 134, SMS_UCS2, 134, 2);
	expect("ọ", 135, SMS_UCS2, 135, 3);
	expect("ọ", 201, SMS_UCS2, 201, 3);
	expect("ọ", 202, SMS_UCS2, 202, 4);
	/* extension characters count 2 */
	expect("€", 1, SMS_GSM7, 2, 1);
	expect("[", 80, SMS_GSM7, 160, 1);
	expect("[", 81, SMS_GSM7, 162, 2);
	expect("{}", 1, SMS_GSM7, 4, 1);
	/* an emoji is a surrogate pair: 2 units */
	expect("😀", 1, SMS_UCS2, 2, 1);
	expect("😀", 35, SMS_UCS2, 70, 1);
	expect("😀", 36, SMS_UCS2, 72, 2);
	/* one non-GSM letter makes the whole text UCS-2 */
	char *s = repeat("a", 100);
	char *t = malloc(200);
	assert_non_null(t);
	snprintf(t, 200, "%sọ", s);
	struct sms_info i = measure(t);
	assert_int_equal(i.encoding, SMS_UCS2);
	assert_int_equal(i.units, 101);
	assert_int_equal(i.segments, 2);
	snprintf(t, 200, "%s€", s);
	i = measure(t);
	assert_int_equal(i.encoding, SMS_GSM7);
	assert_int_equal(i.units, 102);
	/* in UCS-2, € is one unit */
	snprintf(t, 200, "ọ€[😀");
	i = measure(t);
	assert_int_equal(i.encoding, SMS_UCS2);
	assert_int_equal(i.units, 5);
	free(s);
	free(t);
}

static void test_sms_tables(void **state)
{
	(void)state;
	/* the whole GSM 03.38 basic table (ESC included), 128 characters */
	static const char basic[] =
		"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1b" "ÆæßÉ !\"#¤%&'()*+,-./"
		"0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
		"abcdefghijklmnopqrstuvwxyzäöñüà";
	struct sms_info i = measure(basic);
	assert_int_equal(i.encoding, SMS_GSM7);
	assert_int_equal(i.units, 128);
	assert_int_equal(i.segments, 1);
	/* each alone is 1 septet */
	for (size_t k = 0; k < sizeof basic - 1;) {
		size_t n = 1;
		while (k + n < sizeof basic - 1 &&
		       ((unsigned char)basic[k + n] & 0xC0) == 0x80)
			n++;
		struct sms_info one;
		sms_measure(basic + k, n, &one);
		assert_int_equal(one.encoding, SMS_GSM7);
		assert_int_equal(one.units, 1);
		k += n;
	}
	/* the extension table: 2 septets each */
	static const char ext[] = "^{}\\[~]|€\f";
	i = measure(ext);
	assert_int_equal(i.encoding, SMS_GSM7);
	assert_int_equal(i.units, 20);
	/* close but not GSM: backtick, tab, DEL, NUL, NBSP, ç, á, ả, Đ, ư */
	static const char *const not_gsm[] = {
		"`", "\t", "\x7f", "\xc2\xa0", "ç", "á", "ả", "Đ", "ư", "ơ",
		"ẫ", "«", "’", "\x01",
	};
	for (size_t k = 0; k < ARRAY_SIZE(not_gsm); k++) {
		i = measure(not_gsm[k]);
		assert_int_equal(i.encoding, SMS_UCS2);
		assert_int_equal(i.units, 1);
	}
	struct sms_info z;
	sms_measure("a\0b", 3, &z);
	assert_int_equal(z.encoding, SMS_UCS2);
	assert_int_equal(z.units, 3);
	assert_string_equal(sms_encoding_name(SMS_GSM7), "GSM-7");
	assert_string_equal(sms_encoding_name(SMS_UCS2), "UCS-2");
}

static void test_sms_invalid_utf8(void **state)
{
	(void)state;
	struct sms_info i;

	/* each bad byte is one U+FFFD */
	i = measure("ab\xff");
	assert_int_equal(i.encoding, SMS_UCS2);
	assert_int_equal(i.units, 3);
	i = measure("\xe1\xbb"); /* a truncated ọ */
	assert_int_equal(i.encoding, SMS_UCS2);
	assert_int_equal(i.units, 2);
	i = measure("\xc0\xaf"); /* overlong '/' */
	assert_int_equal(i.units, 2);
	i = measure("\xed\xa0\x80"); /* surrogate */
	assert_int_equal(i.units, 3);
	i = measure("\xf4\x90\x80\x80"); /* above U+10FFFF */
	assert_int_equal(i.units, 4);
	/* len bounds the text; a code point cut by len is invalid */
	sms_measure("ọ", 2, &i);
	assert_int_equal(i.encoding, SMS_UCS2);
	assert_int_equal(i.units, 2);
	sms_measure("abc", 2, &i);
	assert_int_equal(i.encoding, SMS_GSM7);
	assert_int_equal(i.units, 2);
	sms_measure(NULL, 5, &i);
	assert_int_equal(i.units, 0);
	assert_int_equal(i.segments, 0);
	sms_measure("x", 1, NULL);
}

static void test_sms_vietnamese(void **state)
{
	(void)state;
	static const char *const texts[] = {
		"Họp dân",
		"Kính mời ông/bà Nguyễn Văn An dự họp dân Thôn Đông lúc 19h30 "
		"thứ Bảy, 05/12/2026 tại Nhà văn hoá. Nội dung: làm đường "
		"bê tông, thu quỹ khuyến học. Trân trọng cảm ơn!",
		"ĐÔNG TÂN: Thông báo cắt điện 7h-11h Chủ nhật 06/12",
		/* decomposed (NFD) marks */
		"Ho\xcc\xa3p da\xcc\x82n",
	};
	for (size_t k = 0; k < ARRAY_SIZE(texts); k++) {
		const char *s = texts[k];
		struct sms_info i = measure(s);
		assert_int_equal(i.encoding, SMS_UCS2);

		char out[512];
		size_t n = text_strip_diacritics(s, strlen(s), out,
						 sizeof out);
		struct sms_info j;
		sms_measure(out, n, &j);
		if (j.encoding != SMS_GSM7)
			fail_msg("stripped text is not GSM-7: %s", out);
		assert_int_equal(j.units, n); /* all plain letters */
	}
	struct sms_info i = measure("Họp dân");
	assert_int_equal(i.units, 7);
	assert_int_equal(i.segments, 1);
	char out[512];
	size_t n = text_strip_diacritics("Họp dân", strlen("Họp dân"), out,
					 sizeof out);
	assert_string_equal(out, "Hop dan");
	sms_measure(out, n, &i);
	assert_int_equal(i.encoding, SMS_GSM7);
	assert_int_equal(i.units, 7);
	assert_int_equal(i.segments, 1);

	/* the long invitation: 3 UCS-2 parts, 2 GSM-7 parts once stripped */
	const char *s = texts[1];
	i = measure(s);
	assert_int_equal(i.units, 165);
	assert_int_equal(i.segments, 3);
	n = text_strip_diacritics(s, strlen(s), out, sizeof out);
	sms_measure(out, n, &i);
	assert_int_equal(i.units, 165);
	assert_int_equal(i.segments, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_var_names),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_render_limits),
		cmocka_unit_test(test_check_errors),
		cmocka_unit_test(test_check_render_agree),
		cmocka_unit_test(test_vn_datetime),
		cmocka_unit_test(test_vn_datetime_bounds),
		cmocka_unit_test(test_sms_segments),
		cmocka_unit_test(test_sms_tables),
		cmocka_unit_test(test_sms_invalid_utf8),
		cmocka_unit_test(test_sms_vietnamese),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
