/* test-text.c: folding, diacritics stripping, UTF-8 validation, trim. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "loaxa/text.h"
#include "loaxa/util.h"

static char *fold(const char *s)
{
	static char out[256];
	size_t n = text_fold_key(s, strlen(s), out, sizeof out);
	assert_int_equal(n, strlen(out));
	return out;
}

static char *strip(const char *s)
{
	static char out[256];
	size_t n = text_strip_diacritics(s, strlen(s), out, sizeof out);
	assert_int_equal(n, strlen(out));
	assert_true(n <= strlen(s));
	return out;
}

static void test_fold_examples(void **state)
{
	(void)state;
	assert_string_equal(fold("Đông Tân"), "dongtan");
	assert_string_equal(fold("DONG-TAN"), "dongtan");
	assert_string_equal(fold("dong tan"), "dongtan");
	assert_string_equal(fold("Nhóm dân cư 2A"), "nhomdancu2a");
	assert_string_equal(fold("Thôn Đông Hà, xã Ia Pếch"),
			    "thondonghaxaiapech");
	assert_string_equal(fold("so_dien_thoai"), "sodienthoai");
	assert_string_equal(fold("Số điện thoại"), "sodienthoai");
	assert_string_equal(fold("NGUYỄN VĂN AN"), "nguyenvanan");
	assert_string_equal(fold(""), "");
	assert_string_equal(fold(" -_.,;!?@#$%^&*()[]{}<>'\"`~/\\|+=:\t\n"),
			    "");
	assert_string_equal(fold("0123456789"), "0123456789");
	assert_string_equal(fold("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
			    "abcdefghijklmnopqrstuvwxyz");
}

/* Every Vietnamese vowel with every tone, precomposed, both cases. */
static const struct {
	const char *letters;
	char base;
	size_t count;
} vn_vowels[] = {
	{ "aàáảãạăằắẳẵặâầấẩẫậ", 'a', 18 },
	{ "AÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ", 'A', 18 },
	{ "eèéẻẽẹêềếểễệ", 'e', 12 },
	{ "EÈÉẺẼẸÊỀẾỂỄỆ", 'E', 12 },
	{ "iìíỉĩị", 'i', 6 },
	{ "IÌÍỈĨỊ", 'I', 6 },
	{ "oòóỏõọôồốổỗộơờớởỡợ", 'o', 18 },
	{ "OÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢ", 'O', 18 },
	{ "uùúủũụưừứửữự", 'u', 12 },
	{ "UÙÚỦŨỤƯỪỨỬỮỰ", 'U', 12 },
	{ "yỳýỷỹỵ", 'y', 6 },
	{ "YỲÝỶỸỴ", 'Y', 6 },
	{ "đĐÐð", 'd', 4 }, /* Ð U+00D0 stands in for Đ in CP1258 text */
};

static void test_fold_all_vietnamese_letters(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(vn_vowels); i++) {
		char want_fold[32], want_strip[32];
		char lower = (char)(vn_vowels[i].base | 0x20);
		memset(want_fold, lower, vn_vowels[i].count);
		want_fold[vn_vowels[i].count] = '\0';
		memset(want_strip, vn_vowels[i].base, vn_vowels[i].count);
		want_strip[vn_vowels[i].count] = '\0';
		assert_string_equal(fold(vn_vowels[i].letters), want_fold);
		if (vn_vowels[i].base != 'd')
			assert_string_equal(strip(vn_vowels[i].letters),
					    want_strip);
	}
	assert_string_equal(strip("đĐÐð"), "dDDd");
}

/* Decomposed input (NFD, as macOS produces): base + marks U+0300..U+036F. */
static void test_fold_decomposed(void **state)
{
	static const char *const shape[] = { "", "\xcc\x86" /* breve */,
		"\xcc\x82" /* circumflex */, "\xcc\x9b" /* horn */ };
	static const char *const tone[] = { "", "\xcc\x80", "\xcc\x81",
		"\xcc\x89", "\xcc\x83", "\xcc\xa3" };
	static const char bases[] = "aAeEiIoOuUyY";
	(void)state;

	for (size_t b = 0; b < sizeof bases - 1; b++)
		for (size_t s = 0; s < ARRAY_SIZE(shape); s++)
			for (size_t t = 0; t < ARRAY_SIZE(tone); t++) {
				char in[16], want[2] = { bases[b], 0 };
				snprintf(in, sizeof in, "%c%s%s", bases[b],
					 shape[s], tone[t]);
				assert_string_equal(strip(in), want);
				want[0] = (char)(want[0] | 0x20);
				assert_string_equal(fold(in), want);
			}
	/* "Đông Tân", "Họp dân Đông Tân 19h30", "Nhóm dân cư 2A" in NFD */
	assert_string_equal(fold("\xc4\x90o\xcc\x82ng Ta\xcc\x82n"), "dongtan");
	assert_string_equal(
		strip("Ho\xcc\xa3p da\xcc\x82n \xc4\x90o\xcc\x82ng "
		      "Ta\xcc\x82n 19h30"),
		"Hop dan Dong Tan 19h30");
	assert_string_equal(fold("Nho\xcc\x81m da\xcc\x82n cu\xcc\x9b 2A"),
			    "nhomdancu2a");
	/* a combining mark alone, or at the start, is just dropped */
	assert_string_equal(fold("\xcc\x81"), "");
	assert_string_equal(strip("\xcc\x81x"), "x");
}

static void test_fold_other_code_points(void **state)
{
	(void)state;
	/* non-Vietnamese, non-separator code points are kept as bytes */
	assert_string_equal(fold("Tokyo 東京"), "tokyo東京");
	assert_string_equal(fold("Straße"), "straße");
	assert_string_equal(fold("ÆØ"), "Æo"); /* Æ has no base letter */
	/* Latin-1 / Latin Extended-A accents fold too */
	assert_string_equal(fold("Çà Ñoño Łódź"), "canonolodz");
	/* NBSP, soft hyphen, en dash, zero-width space, BOM: separators */
	assert_string_equal(fold("Đông\xc2\xa0Tân"), "dongtan");
	assert_string_equal(fold("Đông\xc2\xadTân"), "dongtan");
	assert_string_equal(fold("Đông – Tân"), "dongtan");
	assert_string_equal(fold("\xef\xbb\xbf" "Đông\xe2\x80\x8bTân"),
			    "dongtan");
}

static void test_fold_invalid_utf8(void **state)
{
	(void)state;
	assert_string_equal(fold("a\xff" "b"), "ab");
	assert_string_equal(fold("a\xc3"), "a");             /* truncated */
	assert_string_equal(fold("\xe1\xba" "b"), "b");      /* truncated */
	assert_string_equal(fold("\xc0\xaf" "c"), "c");      /* overlong '/' */
	assert_string_equal(fold("\xe0\x80\xaf" "c"), "c");  /* overlong */
	assert_string_equal(fold("\xed\xa0\x80" "d"), "d");  /* surrogate */
	assert_string_equal(fold("\xf4\x90\x80\x80" "e"), "e"); /* >10FFFF */
	assert_string_equal(fold("\x80\xbf" "f"), "f");      /* lone conts */
	assert_string_equal(fold("\xc3(\xc3\xa0"), "a");     /* bad cont */
	assert_string_equal(strip("x\xf8\x88\x80\x80\x80y"), "xy");
	assert_string_equal(strip("T\xe1\xba\xa0n\xe1"), "TAn");
	/* output of invalid input is always valid UTF-8 */
	const char junk[] = "\xe1\xba\xa1\xe1\xba\xff\xc4\x90\xf0\x9f\x98";
	char out[64];
	size_t n = text_strip_diacritics(junk, sizeof junk - 1, out,
					 sizeof out);
	assert_true(text_utf8_valid(out, n));
	assert_string_equal(out, "aD");
}

static void test_fold_bounds(void **state)
{
	char out[8];
	(void)state;

	memset(out, 'X', sizeof out);
	assert_int_equal(text_fold_key("Đông Tân", strlen("Đông Tân"), out, 4),
			 3);
	assert_string_equal(out, "don");
	assert_int_equal(out[4], 'X');

	/* a kept multi-byte code point is never split */
	assert_int_equal(text_fold_key("a東", strlen("a東"), out, 3), 1);
	assert_string_equal(out, "a");
	assert_int_equal(text_fold_key("a東", strlen("a東"), out, 5), 4);
	assert_string_equal(out, "a東");

	assert_int_equal(text_fold_key("abc", 3, out, 1), 0);
	assert_string_equal(out, "");
	memset(out, 'X', sizeof out);
	assert_int_equal(text_fold_key("abc", 3, out, 0), 0);
	assert_int_equal(out[0], 'X');
	assert_int_equal(text_fold_key(NULL, 0, out, sizeof out), 0);
	assert_string_equal(out, "");

	/* len, not the NUL, ends the input */
	assert_int_equal(text_fold_key("abcdef", 2, out, sizeof out), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(text_strip_diacritics("Đông", 2, out, sizeof out), 1);
	assert_string_equal(out, "D");
	/* an embedded NUL is ASCII: dropped by fold, kept by strip */
	assert_int_equal(text_fold_key("a\0b", 3, out, sizeof out), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(text_strip_diacritics("a\0b", 3, out, sizeof out), 3);
	assert_memory_equal(out, "a\0b", 4);
}

static void test_strip_examples(void **state)
{
	(void)state;
	assert_string_equal(strip("Họp dân Đông Tân 19h30"),
			    "Hop dan Dong Tan 19h30");
	assert_string_equal(strip("Đông Tân, 19h30"), "Dong Tan, 19h30");
	assert_string_equal(strip("Kính mời ông/bà dự họp lúc 19h30 tại "
				  "nhà văn hóa thôn!"),
			    "Kinh moi ong/ba du hop luc 19h30 tai "
			    "nha van hoa thon!");
	assert_string_equal(strip("TRƯỜNG HỌC: (1) ĐỦ; [2] Ổn?"),
			    "TRUONG HOC: (1) DU; [2] On?");
	assert_string_equal(strip(""), "");
	/* NBSP becomes a plain space; other code points are kept */
	assert_string_equal(strip("19h30\xc2\xa0ngày 5"), "19h30 ngay 5");
	assert_string_equal(strip("Giá 10€ – 東京"), "Gia 10€ – 東京");
	assert_string_equal(strip("\tA  b\r\n"), "\tA  b\r\n");
}

static void test_utf8_valid(void **state)
{
	static const struct {
		const char *s;
		bool valid;
	} cases[] = {
		{ "", true },
		{ "plain ascii \x7f", true },
		{ "Đông Tân 東京 😀", true },
		{ "\xc2\x80", true },             /* U+0080 */
		{ "\xdf\xbf", true },             /* U+07FF */
		{ "\xe0\xa0\x80", true },         /* U+0800 */
		{ "\xed\x9f\xbf", true },         /* U+D7FF */
		{ "\xee\x80\x80", true },         /* U+E000 */
		{ "\xef\xbf\xbf", true },         /* U+FFFF */
		{ "\xf0\x90\x80\x80", true },     /* U+10000 */
		{ "\xf4\x8f\xbf\xbf", true },     /* U+10FFFF */
		/* overlongs */
		{ "\xc0\x80", false },
		{ "\xc0\xaf", false },
		{ "\xc1\xbf", false },
		{ "\xe0\x80\x80", false },
		{ "\xe0\x9f\xbf", false },
		{ "\xf0\x80\x80\x80", false },
		{ "\xf0\x8f\xbf\xbf", false },
		/* surrogates */
		{ "\xed\xa0\x80", false },
		{ "\xed\xbf\xbf", false },
		{ "\xed\xa0\xbd\xed\xb8\x80", false }, /* CESU-8 pair */
		/* above U+10FFFF */
		{ "\xf4\x90\x80\x80", false },
		{ "\xf5\x80\x80\x80", false },
		{ "\xf7\xbf\xbf\xbf", false },
		{ "\xf8\x88\x80\x80\x80", false },
		{ "\xfe", false },
		{ "\xff", false },
		/* truncated sequences */
		{ "\xc3", false },
		{ "\xe1\xba", false },
		{ "\xf0\x9f\x98", false },
		{ "ok\xc3", false },
		{ "\xe1\xba" "a", false },
		/* lone or bad continuation bytes */
		{ "\x80", false },
		{ "\xbf", false },
		{ "a\x80" "b", false },
		{ "\xc3(", false },
		{ "\xe1\xba\xc3\xa0", false },
		{ "\xf0\x9f\x98\x28", false },
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (text_utf8_valid(cases[i].s, strlen(cases[i].s)) !=
		    cases[i].valid)
			fail_msg("case %zu: expected %s", i,
				 cases[i].valid ? "valid" : "invalid");
	}
	assert_true(text_utf8_valid(NULL, 0));
	assert_true(text_utf8_valid("a\0b", 3));      /* NUL is U+0000 */
	assert_true(text_utf8_valid("\xc3\xa0", 2));
	assert_false(text_utf8_valid("\xc3\xa0", 1)); /* len cuts it */
	assert_true(text_utf8_valid("\xc3\xa0", 0));
}

static void test_trim(void **state)
{
	const char *start;
	const char *s;
	(void)state;

	s = "  abc \t";
	assert_int_equal(text_trim(s, strlen(s), &start), 3);
	assert_ptr_equal(start, s + 2);

	s = "\xc2\xa0 0912 345 678\xc2\xa0\r\n";
	assert_int_equal(text_trim(s, strlen(s), &start), 12);
	assert_memory_equal(start, "0912 345 678", 12);

	s = "a\xc2\xa0" "b";
	assert_int_equal(text_trim(s, strlen(s), &start), 4);
	assert_ptr_equal(start, s);

	s = " \xc2\xa0\t\n\v\f\r ";
	assert_int_equal(text_trim(s, strlen(s), &start), 0);

	s = "\xc2\xa0";
	assert_int_equal(text_trim(s, 1, &start), 1); /* half an NBSP */
	assert_ptr_equal(start, s);

	assert_int_equal(text_trim("", 0, &start), 0);
	assert_int_equal(text_trim(NULL, 0, &start), 0);

	s = "x   ";
	assert_int_equal(text_trim(s, 2, &start), 1);
	assert_ptr_equal(start, s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold_examples),
		cmocka_unit_test(test_fold_all_vietnamese_letters),
		cmocka_unit_test(test_fold_decomposed),
		cmocka_unit_test(test_fold_other_code_points),
		cmocka_unit_test(test_fold_invalid_utf8),
		cmocka_unit_test(test_fold_bounds),
		cmocka_unit_test(test_strip_examples),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_trim),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
