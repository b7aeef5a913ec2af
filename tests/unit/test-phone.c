/* test-phone.c: normalisation (providers.md §6.2), messages, masking and
 * splitting spreadsheet cells. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "loaxa/phone.h"
#include "loaxa/util.h"

/* Normalise a C string; on success return the E.164 form, else the code. */
static const char *norm(const char *in)
{
	static char out[PHONE_E164_MAX + 8];
	memset(out, 'X', sizeof out);
	enum phone_error e = phone_normalize(in, strlen(in), out);
	if (e != PHONE_OK) {
		/* out is written only on success */
		assert_int_equal(out[0], 'X');
		return phone_error_code(e);
	}
	assert_int_equal(strlen(out), 12);
	assert_int_equal(out[13], 'X');
	return out;
}

static void test_renumbering_2018(void **state)
{
	static const struct {
		const char *old_prefix, *new_prefix;
	} rows[] = {
		/* Viettel */
		{ "0162", "032" }, { "0163", "033" }, { "0164", "034" },
		{ "0165", "035" }, { "0166", "036" }, { "0167", "037" },
		{ "0168", "038" }, { "0169", "039" },
		/* MobiFone */
		{ "0120", "070" }, { "0121", "079" }, { "0122", "077" },
		{ "0126", "076" }, { "0128", "078" },
		/* VinaPhone */
		{ "0123", "083" }, { "0124", "084" }, { "0125", "085" },
		{ "0127", "081" }, { "0129", "082" },
		/* Vietnamobile */
		{ "0186", "056" }, { "0188", "058" },
		/* Gmobile */
		{ "0199", "059" },
	};
	(void)state;

	assert_int_equal(ARRAY_SIZE(rows), 21);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		char in[64], want[16];
		const char *o = rows[i].old_prefix;
		snprintf(want, sizeof want, "+84%s2345678",
			 rows[i].new_prefix + 1);
		/* national, spaced, international, dropped-0 forms */
		snprintf(in, sizeof in, "%s2345678", o);
		assert_string_equal(norm(in), want);
		snprintf(in, sizeof in, "%s 234 5678", o);
		assert_string_equal(norm(in), want);
		snprintf(in, sizeof in, "+84%s2345678", o + 1);
		assert_string_equal(norm(in), want);
		snprintf(in, sizeof in, "84%s2345678", o + 1);
		assert_string_equal(norm(in), want);
		snprintf(in, sizeof in, "0084 %s2345678", o + 1);
		assert_string_equal(norm(in), want);
		snprintf(in, sizeof in, "+84 %s2345678", o);
		assert_string_equal(norm(in), want);
		snprintf(in, sizeof in, "%s2345678", o + 1);
		assert_string_equal(norm(in), want);
		/* the new number is itself valid and unchanged */
		snprintf(in, sizeof in, "%s2345678", rows[i].new_prefix);
		assert_string_equal(norm(in), want);
	}
	/* the last 7 digits are carried over exactly */
	assert_string_equal(norm("0168 987 6543"), "+84389876543");
	assert_string_equal(norm("01990000001"), "+84590000001");
}

static void test_accept(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "0912345678", "+84912345678" },
		{ "0912 345 678", "+84912345678" },
		{ "091.234.5678", "+84912345678" },
		{ "0912-345-678", "+84912345678" },
		{ "(+84) 912-345-678", "+84912345678" },
		{ "+84912345678", "+84912345678" },
		{ "+84 912 345 678", "+84912345678" },
		{ "84912345678", "+84912345678" },
		{ "0084912345678", "+84912345678" },
		{ "00 84 912 345 678", "+84912345678" },
		{ "+84 0912345678", "+84912345678" },
		{ "+84 (0) 912 345 678", "+84912345678" },
		{ "840912345678", "+84912345678" },
		{ "912345678", "+84912345678" },          /* Excel dropped 0 */
		{ "01662345678", "+84362345678" },
		{ "+841662345678", "+84362345678" },
		{ "1662345678", "+84362345678" },         /* Excel, old */
		{ "0912\xc2\xa0" "345\xc2\xa0" "678", "+84912345678" },
		{ "\xc2\xa0 0912345678 \xc2\xa0", "+84912345678" },
		{ " \t0912345678\r\n", "+84912345678" },
		{ "0912.345.678.", "+84912345678" },
		{ "+0912345678", "+84912345678" },         /* stray + */
		/* every mobile range, including ones newer than 2018 data */
		{ "0321234567", "+84321234567" },
		{ "0301234567", "+84301234567" },
		{ "0521234567", "+84521234567" },
		{ "0551234567", "+84551234567" },
		{ "0591234567", "+84591234567" },
		{ "0701234567", "+84701234567" },
		{ "0711234567", "+84711234567" },
		{ "0791234567", "+84791234567" },
		{ "0812345678", "+84812345678" },
		{ "0841234567", "+84841234567" },
		{ "841234567", "+84841234567" },            /* 084, dropped 0 */
		{ "0871234567", "+84871234567" },
		{ "0888888888", "+84888888888" },
		{ "0961234567", "+84961234567" },
		{ "0999999999", "+84999999999" },
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *got = norm(cases[i].in);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu \"%s\": got %s, want %s", i,
				 cases[i].in, got, cases[i].want);
	}
}

static void test_reject(void **state)
{
	static const struct {
		const char *in;
		enum phone_error want;
	} cases[] = {
		{ "", PHONE_EMPTY },
		{ "   ", PHONE_EMPTY },
		{ " - . ( ) ", PHONE_EMPTY },
		{ "\xc2\xa0", PHONE_EMPTY },
		{ "0912abc678", PHONE_BAD_CHAR },
		{ "0912345678 (Lan)", PHONE_BAD_CHAR },
		{ "Tel: 0912345678", PHONE_BAD_CHAR },
		{ "0912345678/0987654321", PHONE_BAD_CHAR },
		{ "0912,345,678", PHONE_BAD_CHAR },
		{ "84+912345678", PHONE_BAD_CHAR },
		{ "++84912345678", PHONE_BAD_CHAR },
		{ "0912345678#", PHONE_BAD_CHAR },
		{ "\xef\xbc\x90\xef\xbc\x99", PHONE_BAD_CHAR }, /* full-width */
		{ "0912\xc2", PHONE_BAD_CHAR },
		{ "0912\xa0", PHONE_BAD_CHAR },
		{ "091234567", PHONE_TOO_SHORT },
		{ "0912 345 67", PHONE_TOO_SHORT },
		{ "12345", PHONE_TOO_SHORT },
		{ "0", PHONE_TOO_SHORT },
		{ "+", PHONE_TOO_SHORT },
		{ "+8", PHONE_TOO_SHORT },
		{ "+84", PHONE_TOO_SHORT },
		{ "+84 0", PHONE_TOO_SHORT },
		{ "+84 91234567", PHONE_TOO_SHORT },
		{ "0084", PHONE_TOO_SHORT },
		{ "113", PHONE_TOO_SHORT },
		{ "09123456789", PHONE_TOO_LONG },
		{ "0912345678 0987654321", PHONE_TOO_LONG },
		{ "+849123456789", PHONE_TOO_LONG },
		{ "123456789012345678901234567890", PHONE_TOO_LONG },
		{ "+1 202 555 0123", PHONE_FOREIGN },
		{ "+65 9123 4567", PHONE_FOREIGN },
		{ "+44 20 7946 0958", PHONE_FOREIGN },
		{ "0044 20 7946 0958", PHONE_FOREIGN },
		{ "001 202 555 0123", PHONE_FOREIGN },
		{ "+855 12 345 678", PHONE_FOREIGN },
		{ "028 3829 1234", PHONE_LANDLINE },
		{ "0243 123 4567", PHONE_LANDLINE },
		{ "02838291234", PHONE_LANDLINE },
		{ "+84 28 3829 1234", PHONE_LANDLINE },
		{ "+842438291234", PHONE_LANDLINE },
		{ "842838291234", PHONE_LANDLINE },
		{ "2838291234", PHONE_LANDLINE },       /* Excel dropped 0 */
		{ "0283829123", PHONE_LANDLINE },           /* 10 digits, 02 */
		{ "01302345678", PHONE_OLD_UNKNOWN },
		{ "01002345678", PHONE_OLD_UNKNOWN },
		{ "01612345678", PHONE_OLD_UNKNOWN },
		{ "01982345678", PHONE_OLD_UNKNOWN },
		{ "+841302345678", PHONE_OLD_UNKNOWN },
		{ "0123456789", PHONE_NOT_MOBILE },
		{ "0412345678", PHONE_NOT_MOBILE },
		{ "0612345678", PHONE_NOT_MOBILE },
		{ "0000000000", PHONE_NOT_MOBILE },
		{ "+84 612345678", PHONE_NOT_MOBILE },
		{ "412345678", PHONE_NOT_MOBILE },
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char out[PHONE_E164_MAX] = "untouched";
		enum phone_error e = phone_normalize(
			cases[i].in, strlen(cases[i].in), out);
		if (e != cases[i].want)
			fail_msg("case %zu \"%s\": got %s, want %s", i,
				 cases[i].in, phone_error_code(e),
				 phone_error_code(cases[i].want));
		assert_string_equal(out, "untouched");
	}
	char out[PHONE_E164_MAX];
	assert_int_equal(phone_normalize(NULL, 0, out), PHONE_EMPTY);
}

/* The input need not be NUL-terminated: len ends it. */
static void test_length_bounded(void **state)
{
	char out[PHONE_E164_MAX];
	const char buf[] = { '0', '9', '1', '2', '3', '4', '5', '6', '7', '8',
			     '9', '9' };
	(void)state;

	assert_int_equal(phone_normalize(buf, 10, out), PHONE_OK);
	assert_string_equal(out, "+84912345678");
	assert_int_equal(phone_normalize(buf, 9, out), PHONE_TOO_SHORT);
	assert_int_equal(phone_normalize(buf, 11, out), PHONE_TOO_LONG);
	assert_int_equal(phone_normalize("0912345678xyz", 10, out), PHONE_OK);
	/* an embedded NUL is not a separator */
	assert_int_equal(phone_normalize("0912\0" "345678", 11, out),
			 PHONE_BAD_CHAR);
}

static void test_messages(void **state)
{
	static const struct {
		enum phone_error e;
		const char *code;
	} codes[] = {
		{ PHONE_OK, "ok" },
		{ PHONE_EMPTY, "empty" },
		{ PHONE_BAD_CHAR, "bad_char" },
		{ PHONE_TOO_SHORT, "too_short" },
		{ PHONE_TOO_LONG, "too_long" },
		{ PHONE_FOREIGN, "foreign" },
		{ PHONE_LANDLINE, "landline" },
		{ PHONE_OLD_UNKNOWN, "old_unknown" },
		{ PHONE_NOT_MOBILE, "not_mobile" },
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
		assert_string_equal(phone_error_code(codes[i].e),
				    codes[i].code);
		const char *m = phone_error_message(codes[i].e);
		assert_non_null(m);
		assert_true(strlen(m) > 10);
	}
	assert_string_equal(phone_error_message(PHONE_LANDLINE),
			    "landline number (starts 02): cannot receive SMS "
			    "or Zalo");
	assert_non_null(strstr(phone_error_message(PHONE_TOO_SHORT),
			       "too few digits"));
	assert_non_null(strstr(phone_error_message(PHONE_TOO_SHORT),
			       "0912 345 678"));
	assert_non_null(strstr(phone_error_message(PHONE_OLD_UNKNOWN),
			       "old 11-digit"));
	assert_non_null(phone_error_message((enum phone_error)99));
	assert_string_equal(phone_error_code((enum phone_error)99), "invalid");
	assert_string_equal(phone_error_code((enum phone_error)-1), "invalid");
}

static void test_mask(void **state)
{
	char out[PHONE_MASK_MAX];
	(void)state;

	phone_mask("+84912345678", out);
	assert_string_equal(out, "+8491***678");
	phone_mask("+84362345678", out);
	assert_string_equal(out, "+8436***678");
	static const char *const bad[] = {
		NULL, "", "+", "+84", "0912345678", "+8491234567",
		"+849123456789", "+85912345678", "+84912a45678",
		"84912345678 ", "+84 912345678",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(out, 'X', sizeof out);
		phone_mask(bad[i], out);
		assert_string_equal(out, "***");
	}
}

/* ---- split ---- */

struct pieces {
	size_t n;
	char p[8][64];
};

static void collect_cb(const char *p, size_t n, void *ud)
{
	struct pieces *ps = ud;
	assert_true(n > 0);
	assert_true(n < sizeof ps->p[0]);
	assert_true(ps->n < ARRAY_SIZE(ps->p));
	memcpy(ps->p[ps->n], p, n);
	ps->p[ps->n][n] = '\0';
	ps->n++;
}

/* want: pieces joined by '|' */
static void check_split(const char *cell, const char *want)
{
	struct pieces ps = { 0 };
	char got[512] = "";
	size_t n = phone_split_cell(cell, strlen(cell), collect_cb, &ps);
	size_t len = 0;

	assert_int_equal(n, ps.n);
	for (size_t i = 0; i < ps.n; i++)
		len += (size_t)snprintf(got + len, sizeof got - len, "%s%s",
					i ? "|" : "", ps.p[i]);
	if (strcmp(got, want) != 0)
		fail_msg("split \"%s\": got \"%s\", want \"%s\"", cell, got,
			 want);
}

static void test_split(void **state)
{
	(void)state;
	check_split("0912345678", "0912345678");
	check_split("0912 345 678", "0912 345 678");
	check_split("  0912 345 678  ", "0912 345 678");
	check_split("0912 345 678 / 0987.654.321",
		    "0912 345 678|0987.654.321");
	check_split("0912345678, 0987654321", "0912345678|0987654321");
	check_split("0912345678;0987654321", "0912345678|0987654321");
	check_split("0912345678 | 0987654321", "0912345678|0987654321");
	check_split("0912345678 & 0987654321", "0912345678|0987654321");
	check_split("0912345678\n0987654321\r\n0911111111",
		    "0912345678|0987654321|0911111111");
	check_split("0912345678 hoặc 0987654321", "0912345678|0987654321");
	check_split("0912345678 HOẶC 0987654321", "0912345678|0987654321");
	check_split("0912345678 hoac 0987654321", "0912345678|0987654321");
	check_split("0912345678 ho\x61\xcc\xa3\xcc\x86" "c 0987654321",
		    "0912345678|0987654321"); /* NFD "hoặc" */
	check_split("0912345678 or 0987654321", "0912345678|0987654321");
	check_split("0912345678 OR 0987654321", "0912345678|0987654321");
	check_split("0912345678\xc2\xa0hoặc\xc2\xa0" "0987654321",
		    "0912345678|0987654321");
	/* whole words only */
	check_split("0912345678 order", "0912345678 order");
	check_split("0912345678 hoacx", "0912345678 hoacx");
	check_split("0912345678 floor", "0912345678 floor");
	/* space-separated whole numbers (our own export format) */
	check_split("+84912345678 +84987654321", "+84912345678|+84987654321");
	check_split("0912345678 0987654321", "0912345678|0987654321");
	check_split("0912.345.678 0987-654-321",
		    "0912.345.678|0987-654-321");
	check_split("0912345678 - 0987654321", "0912345678|0987654321");
	check_split("+84 912345678", "+84 912345678");
	check_split("0912345678 098765", "0912345678 098765");
	check_split("0912345678 (Lan)", "0912345678 (Lan)");
	/* empty pieces are skipped */
	check_split("", "");
	check_split(" , ;; / \n ", "");
	check_split("0912345678,,", "0912345678");
	check_split("or", "");
	check_split("/0912345678 /", "0912345678");
	check_split("\xc2\xa0" "0912345678\xc2\xa0,", "0912345678");

	/* NULL callback only counts */
	const char *c = "0912345678/0987654321 hoặc 0911111111";
	assert_int_equal(phone_split_cell(c, strlen(c), NULL, NULL), 3);
	assert_int_equal(phone_split_cell(NULL, 0, NULL, NULL), 0);
	/* len ends the cell */
	assert_int_equal(phone_split_cell(c, 10, NULL, NULL), 1);
}

/* The whole path: split a cell, normalise each piece. */
static void test_split_then_normalize(void **state)
{
	struct pieces ps = { 0 };
	const char *cell = "0912 345 678 / 01662345678 hoặc 028 3829 1234";
	char out[PHONE_E164_MAX];
	(void)state;

	assert_int_equal(phone_split_cell(cell, strlen(cell), collect_cb, &ps),
			 3);
	assert_int_equal(phone_normalize(ps.p[0], strlen(ps.p[0]), out),
			 PHONE_OK);
	assert_string_equal(out, "+84912345678");
	assert_int_equal(phone_normalize(ps.p[1], strlen(ps.p[1]), out),
			 PHONE_OK);
	assert_string_equal(out, "+84362345678");
	assert_int_equal(phone_normalize(ps.p[2], strlen(ps.p[2]), out),
			 PHONE_LANDLINE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_renumbering_2018),
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_length_bounded),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_then_normalize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
