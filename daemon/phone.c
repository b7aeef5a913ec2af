/* phone.c: see phone.h
 *
 * The recipe is providers.md §6.2. Deliberate choices beyond it:
 *  - any national 10-digit number 03/05/07/08/09 is a mobile: prefixes
 *    allocated after libphonenumber's 2018 data (087x, 055x, ...) exist and
 *    the provider is the one to reject a number that is not in service;
 *  - a 0 after the country code ("+84 0912 345 678", "840912345678") is a
 *    common mistake and is dropped;
 *  - a bare leading 84 is a country code only when what follows it is a
 *    whole national significant number (9 digits, or 10 for an old 01xx or a
 *    landline), so "84x xxx xxx" with a dropped 0 (VinaPhone 084) stays
 *    national;
 *  - a '+' before a 0 ("+0912...") is ignored: country codes never start
 *    with 0.
 */
#include "loaxa/phone.h"

#include <stdbool.h>
#include <stdint.h>

#include "loaxa/text.h"
#include "loaxa/util.h"

/* More digits than any number we could accept ("0084" + 0 + 10). */
#define PHONE_DIGITS_MAX 20

/* The 2018 renumbering: old 11-digit 01xx prefixes (without the 0) to the
 * new 10-digit 0xx prefixes (without the 0); the last 7 digits are kept. */
static const struct {
	char old_prefix[4];
	char new_prefix[3];
} phone_renumbering[] = {
	/* Viettel */
	{ "162", "32" }, { "163", "33" }, { "164", "34" }, { "165", "35" },
	{ "166", "36" }, { "167", "37" }, { "168", "38" }, { "169", "39" },
	/* MobiFone */
	{ "120", "70" }, { "121", "79" }, { "122", "77" }, { "126", "76" },
	{ "128", "78" },
	/* VinaPhone */
	{ "123", "83" }, { "124", "84" }, { "125", "85" }, { "127", "81" },
	{ "129", "82" },
	/* Vietnamobile */
	{ "186", "56" }, { "188", "58" },
	/* Gmobile (Gtel) */
	{ "199", "59" },
};

static const struct {
	const char *code;
	const char *message;
} phone_errors[] = {
	[PHONE_OK] = { "ok", "valid Vietnamese mobile number" },
	[PHONE_EMPTY] = { "empty", "no phone number given" },
	[PHONE_BAD_CHAR] = { "bad_char",
		"contains letters or symbols that are not part of a phone "
		"number (write only digits, spaces, dots or dashes)" },
	[PHONE_TOO_SHORT] = { "too_short",
		"too few digits for a Vietnamese mobile number (needs 10, "
		"like 0912 345 678)" },
	[PHONE_TOO_LONG] = { "too_long",
		"too many digits for a Vietnamese mobile number (needs 10, "
		"like 0912 345 678; put several numbers apart with / or ,)" },
	[PHONE_FOREIGN] = { "foreign",
		"foreign number (country code is not +84): only Vietnamese "
		"mobile numbers can be used" },
	[PHONE_LANDLINE] = { "landline",
		"landline number (starts 02): cannot receive SMS or Zalo" },
	[PHONE_OLD_UNKNOWN] = { "old_unknown",
		"old 11-digit number (01xx) whose prefix was not in the 2018 "
		"change to 10 digits: ask the household for the new number" },
	[PHONE_NOT_MOBILE] = { "not_mobile",
		"not a mobile number (Vietnamese mobile numbers start 03, 05, "
		"07, 08 or 09)" },
};

const char *phone_error_message(enum phone_error e)
{
	if ((size_t)e >= ARRAY_SIZE(phone_errors))
		return "invalid phone number";
	return phone_errors[e].message;
}

const char *phone_error_code(enum phone_error e)
{
	if ((size_t)e >= ARRAY_SIZE(phone_errors))
		return "invalid";
	return phone_errors[e].code;
}

static bool phone_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Bytes dropped between digits (U+00A0 is handled by the caller). */
static bool phone_is_separator(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f' || c == '.' || c == '-' || c == '(' || c == ')';
}

static bool phone_starts(const char *p, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(p, prefix, k) == 0;
}

/* Classify a national significant number (the digits after +84 or the
 * trunk 0) and on success write its E.164 form. */
static enum phone_error phone_classify_nsn(const char *p, size_t n,
					   char out[static PHONE_E164_MAX])
{
	char nsn[9];

	if (n >= 9 && n <= 10 && p[0] == '2')
		return PHONE_LANDLINE;
	if (n < 9)
		return PHONE_TOO_SHORT;
	if (n == 10 && p[0] == '1') {
		size_t i;
		for (i = 0; i < ARRAY_SIZE(phone_renumbering); i++)
			if (memcmp(p, phone_renumbering[i].old_prefix, 3) == 0)
				break;
		if (i == ARRAY_SIZE(phone_renumbering))
			return PHONE_OLD_UNKNOWN;
		memcpy(nsn, phone_renumbering[i].new_prefix, 2);
		memcpy(nsn + 2, p + 3, 7);
	} else if (n > 9) {
		return PHONE_TOO_LONG;
	} else {
		memcpy(nsn, p, 9);
	}
	switch (nsn[0]) {
	case '3': case '5': case '7': case '8': case '9':
		break;
	default:
		return PHONE_NOT_MOBILE;
	}
	memcpy(out, "+84", 3);
	memcpy(out + 3, nsn, 9);
	out[12] = '\0';
	return PHONE_OK;
}

enum phone_error phone_normalize(const char *in, size_t len,
				 char out[static PHONE_E164_MAX])
{
	const unsigned char *s = (const unsigned char *)in;
	char digits[PHONE_DIGITS_MAX];
	size_t nd = 0, total = 0;
	bool plus = false;

	if (!in)
		len = 0;
	for (size_t i = 0; i < len; i++) {
		if (phone_is_digit(s[i])) {
			if (nd < sizeof digits)
				digits[nd++] = (char)s[i];
			total++;
		} else if (s[i] == '+') {
			/* one '+', before every digit ("(+84)" is fine) */
			if (plus || total > 0)
				return PHONE_BAD_CHAR;
			plus = true;
		} else if (phone_is_separator(s[i])) {
			continue;
		} else if (s[i] == 0xC2 && i + 1 < len && s[i + 1] == 0xA0) {
			i++; /* U+00A0, a spreadsheet's no-break space */
		} else {
			return PHONE_BAD_CHAR;
		}
	}
	if (total == 0)
		return plus ? PHONE_TOO_SHORT : PHONE_EMPTY;
	if (total > nd)
		return PHONE_TOO_LONG;

	const char *p = digits;
	size_t n = nd;
	bool intl = false;

	if (plus && p[0] == '0')
		plus = false;
	if (plus) {
		if (n < 2)
			return PHONE_TOO_SHORT;
		if (!phone_starts(p, n, "84"))
			return PHONE_FOREIGN;
		p += 2, n -= 2, intl = true;
	} else if (n >= 3 && p[0] == '0' && p[1] == '0' && p[2] != '0') {
		/* 00 is the international prefix; 000... is just zeros */
		if (n < 4)
			return PHONE_TOO_SHORT;
		if (!phone_starts(p, n, "0084"))
			return PHONE_FOREIGN;
		p += 4, n -= 4, intl = true;
	} else if (phone_starts(p, n, "84")) {
		size_t rest = n - 2;
		if (rest > 0 && p[2] == '0')
			rest--;
		if (rest == 9 || rest == 10)
			p += 2, n -= 2, intl = true;
	} else if (p[0] == '0') {
		p++, n--; /* the national trunk prefix */
	}
	if (intl && n > 0 && p[0] == '0')
		p++, n--; /* "+84 0912...": the 0 does not belong there */
	return phone_classify_nsn(p, n, out);
}

void phone_mask(const char *e164, char out[static PHONE_MASK_MAX])
{
	size_t i;

	if (!e164 || e164[0] != '+' || e164[1] != '8' || e164[2] != '4')
		goto fail;
	for (i = 3; i < 12; i++)
		if (!phone_is_digit((unsigned char)e164[i]))
			goto fail;
	if (e164[12] != '\0')
		goto fail;
	memcpy(out, e164, 5);           /* "+84" and 2 NSN digits */
	memcpy(out + 5, "***", 3);
	memcpy(out + 8, e164 + 9, 3);   /* last 3 digits */
	out[11] = '\0';
	return;
fail:
	memcpy(out, "***", 4);
}

/* ---- splitting a spreadsheet cell ---- */

enum phone_unit {
	PHONE_UNIT_DELIM,  /* / , ; | & newline */
	PHONE_UNIT_SPACE,  /* ASCII whitespace, U+00A0 */
	PHONE_UNIT_LETTER, /* ASCII letter, or a non-ASCII letter or mark */
	PHONE_UNIT_OTHER,  /* digits, + . - ( ), other symbols, bad bytes */
};

/* Classify the code point at s[i..len); sets *ret_n to its length. */
static enum phone_unit phone_unit_at(const char *s, size_t len, size_t i,
				     size_t *ret_n)
{
	unsigned char c = (unsigned char)s[i];

	*ret_n = 1;
	if (c < 0x80) {
		if (c == '/' || c == ',' || c == ';' || c == '|' || c == '&' ||
		    c == '\n' || c == '\r')
			return PHONE_UNIT_DELIM;
		if (c == ' ' || c == '\t' || c == '\v' || c == '\f')
			return PHONE_UNIT_SPACE;
		if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
			return PHONE_UNIT_LETTER;
		return PHONE_UNIT_OTHER;
	}
	size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	if (n == 1 || n > len - i || !text_utf8_valid(s + i, n))
		return PHONE_UNIT_OTHER;
	uint32_t cp = c & (0x7F >> n);
	for (size_t k = 1; k < n; k++)
		cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3F);
	*ret_n = n;
	if (cp == 0x00A0)
		return PHONE_UNIT_SPACE;
	/* Latin-1 symbols, general punctuation, CJK punctuation, BOM. */
	if ((cp >= 0x00A1 && cp <= 0x00BF) || cp == 0x00D7 || cp == 0x00F7 ||
	    (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x3000 && cp <= 0x303F) ||
	    cp == 0xFEFF)
		return PHONE_UNIT_OTHER;
	return PHONE_UNIT_LETTER;
}

/* Is s[0..n) the word "or" or "hoặc" (any case, with or without marks)? */
static bool phone_is_or_word(const char *s, size_t n)
{
	char key[16];

	if (n > 24)
		return false;
	text_fold_key(s, n, key, sizeof key);
	return streq(key, "or") || streq(key, "hoac");
}

struct phone_split {
	void (*cb)(const char *p, size_t n, void *ud);
	void *ud;
	size_t count;
};

static void phone_split_emit(struct phone_split *ps, const char *p, size_t n)
{
	const char *start = p;
	size_t m = text_trim(p, n, &start);
	/* pass p + off, not start: gcc 12 at -O2 wrongly reports start as
	 * a dangling pointer (-Wdangling-pointer) at the callback */
	size_t off = (size_t)(start - p);

	if (m == 0)
		return;
	if (ps->cb)
		ps->cb(p + off, m, ps->ud);
	ps->count++;
}

/* Walk the whitespace-separated tokens of s[0..len). For each token, call
 * fn(token, n, arg); stops early if fn returns false. */
static bool phone_tokens_each(const char *s, size_t len,
			      bool (*fn)(const char *t, size_t n, void *arg),
			      void *arg)
{
	size_t i = 0;

	while (i < len) {
		size_t k;
		if (phone_unit_at(s, len, i, &k) == PHONE_UNIT_SPACE) {
			i += k;
			continue;
		}
		size_t start = i;
		while (i < len && phone_unit_at(s, len, i, &k) !=
				  PHONE_UNIT_SPACE)
			i += k;
		if (!fn(s + start, i - start, arg))
			return false;
	}
	return true;
}

/* A token made only of dashes ("0912345678 - 0987654321") joins nothing. */
static bool phone_token_is_dash(const char *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (t[i] != '-')
			return false;
	return true;
}

struct phone_token_check {
	size_t numbers;
};

static bool phone_token_check_cb(const char *t, size_t n, void *arg)
{
	struct phone_token_check *tc = arg;
	size_t digits = 0;

	if (phone_token_is_dash(t, n))
		return true;
	for (size_t i = 0; i < n; i++)
		digits += phone_is_digit((unsigned char)t[i]);
	if (digits < 9)
		return false;
	tc->numbers++;
	return true;
}

static bool phone_token_emit_cb(const char *t, size_t n, void *arg)
{
	if (!phone_token_is_dash(t, n))
		phone_split_emit(arg, t, n);
	return true;
}

/* One piece between delimiters: several numbers if every token is a whole
 * number ("+84912345678 +84987654321"), else one ("0912 345 678"). */
static void phone_split_segment(struct phone_split *ps, const char *s,
				size_t len)
{
	struct phone_token_check tc = { 0 };

	if (phone_tokens_each(s, len, phone_token_check_cb, &tc) &&
	    tc.numbers >= 2)
		phone_tokens_each(s, len, phone_token_emit_cb, ps);
	else
		phone_split_emit(ps, s, len);
}

size_t phone_split_cell(const char *cell, size_t len,
			void (*cb)(const char *p, size_t n, void *ud), void *ud)
{
	struct phone_split ps = { .cb = cb, .ud = ud };
	size_t i = 0, seg = 0;

	if (!cell)
		return 0;
	while (i < len) {
		size_t k;
		enum phone_unit u = phone_unit_at(cell, len, i, &k);
		if (u == PHONE_UNIT_DELIM) {
			phone_split_segment(&ps, cell + seg, i - seg);
			i += k;
			seg = i;
		} else if (u == PHONE_UNIT_LETTER) {
			/* a whole word: the loop only lands on word starts */
			size_t w = i;
			while (i < len && phone_unit_at(cell, len, i, &k) ==
					  PHONE_UNIT_LETTER)
				i += k;
			if (phone_is_or_word(cell + w, i - w)) {
				phone_split_segment(&ps, cell + seg, w - seg);
				seg = i;
			}
		} else {
			i += k;
		}
	}
	phone_split_segment(&ps, cell + seg, len - seg);
	return ps.count;
}
