/* fuzz-phone.c: phone normalisation, masking and cell splitting, and the
 * text helpers they stand on (fold, strip, UTF-8 validation, trim).
 *
 * Beyond "no crash, no leak", each call's contract is checked:
 *  - a normalised number matches ^\+84[35789][0-9]{8}$, normalising it (or
 *    its national, 84- and 0084- forms) again yields itself, and its mask is
 *    "+84" + 2 digits + "***" + the last 3 digits;
 *  - a failed normalisation leaves out untouched and has a code and message;
 *  - split pieces are non-empty, trimmed, in order, inside the cell;
 *  - text_utf8_valid agrees with an independent reference decoder;
 *  - fold output is [a-z0-9] or valid non-ASCII UTF-8, is idempotent, and a
 *    truncated fold is a prefix of the full one;
 *  - strip output is valid UTF-8, never longer than its input, idempotent,
 *    identity on ASCII, and folds like its input.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loaxa/phone.h"
#include "loaxa/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(expr)                                                        \
	do {                                                               \
		if (!(expr)) {                                             \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",   \
				__FILE__, __LINE__, #expr);                \
			abort();                                           \
		}                                                          \
	} while (0)

/* Longer inputs add nothing but time. */
#define FUZZ_MAX_INPUT 4096

static bool is_mobile_e164(const char *s)
{
	if (strncmp(s, "+84", 3) != 0 || !strchr("35789", s[3]) || !s[3])
		return false;
	for (size_t i = 3; i < 12; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return s[12] == '\0';
}

/* Reference UTF-8 check written differently from text.c: decode greedily,
 * then reject by value (overlong for its length, surrogate, too large). */
static bool ref_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		size_t n;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			n = 2, cp = c & 0x1F, min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			n = 3, cp = c & 0x0F, min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			n = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (len - i < n)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n;
	}
	return true;
}

static void check_normalize(const char *s, size_t size)
{
	char out[PHONE_E164_MAX + 4];
	char again[PHONE_E164_MAX];
	char mask[PHONE_MASK_MAX];

	memset(out, 0x5A, sizeof out);
	enum phone_error e = phone_normalize(s, size, out);
	CHECK(phone_error_code(e) != NULL && phone_error_message(e) != NULL);
	CHECK(strlen(phone_error_message(e)) > 0);
	if (e != PHONE_OK) {
		CHECK(strcmp(phone_error_code(e), "ok") != 0);
		for (size_t i = 0; i < sizeof out; i++)
			CHECK(out[i] == 0x5A);
		return;
	}
	CHECK(is_mobile_e164(out));
	CHECK((uint8_t)out[PHONE_E164_MAX] == 0x5A);

	/* idempotent, in every accepted spelling of the same number */
	const char *nsn = out + 3;
	char form[32];
	static const char *const fmts[] = { "%s", "0%s", "84%s", "0084%s",
					    "+84 0%s", "%s" };
	for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
		const char *arg = i == 0 ? out : nsn;
		int n = snprintf(form, sizeof form, fmts[i], arg);
		CHECK(n > 0 && (size_t)n < sizeof form);
		CHECK(phone_normalize(form, (size_t)n, again) == PHONE_OK);
		CHECK(strcmp(again, out) == 0);
	}

	phone_mask(out, mask);
	CHECK(strlen(mask) == 11);
	CHECK(memcmp(mask, out, 5) == 0);
	CHECK(memcmp(mask + 5, "***", 3) == 0);
	CHECK(memcmp(mask + 8, out + 9, 4) == 0);
}

static void check_mask(const char *cstr)
{
	char mask[PHONE_MASK_MAX];
	phone_mask(cstr, mask);
	size_t n = strnlen(mask, sizeof mask);
	CHECK(n < sizeof mask);
	CHECK(strcmp(mask, "***") == 0 || n == 11);
	/* never more than 5 digits of a number show through */
	size_t digits = 0;
	for (size_t i = 0; i < n; i++)
		digits += mask[i] >= '0' && mask[i] <= '9';
	CHECK(digits <= 7);
}

struct split_ctx {
	const char *cell;
	size_t len;
	const char *prev_end;
	size_t count;
};

static bool is_trim_space(const char *p, size_t n, bool at_end)
{
	if (n == 0)
		return false;
	char c = at_end ? p[n - 1] : p[0];
	if (strchr(" \t\n\r\v\f", c) && c != '\0')
		return true;
	if (n < 2)
		return false;
	const char *q = at_end ? p + n - 2 : p;
	return (uint8_t)q[0] == 0xC2 && (uint8_t)q[1] == 0xA0;
}

static void split_cb(const char *p, size_t n, void *ud)
{
	struct split_ctx *ctx = ud;
	const char *start;

	CHECK(n > 0);
	CHECK(p >= ctx->prev_end);
	CHECK(p + n <= ctx->cell + ctx->len);
	CHECK(text_trim(p, n, &start) == n && start == p);
	CHECK(!is_trim_space(p, n, false) && !is_trim_space(p, n, true));
	ctx->prev_end = p + n;
	ctx->count++;
	check_normalize(p, n);
}

static void check_split(const char *s, size_t size)
{
	struct split_ctx ctx = { .cell = s, .len = size, .prev_end = s };
	size_t n = phone_split_cell(s, size, split_cb, &ctx);
	CHECK(n == ctx.count);
	CHECK(phone_split_cell(s, size, NULL, NULL) == n);
}

static bool is_fold_output(const char *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)o[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c >= 0x80))
			return false;
	}
	return text_utf8_valid(o, n);
}

static void check_text(const char *s, size_t size)
{
	size_t cap = size + 1;
	char *fold = malloc(cap), *fold2 = malloc(cap), *strip = malloc(cap),
	     *strip2 = malloc(cap), *part = malloc(cap);
	CHECK(fold && fold2 && strip && strip2 && part);

	bool valid = text_utf8_valid(s, size);
	CHECK(valid == ref_utf8_valid((const uint8_t *)s, size));

	size_t nf = text_fold_key(s, size, fold, cap);
	CHECK(nf <= size && fold[nf] == '\0');
	CHECK(is_fold_output(fold, nf));
	CHECK(text_fold_key(fold, nf, fold2, cap) == nf);
	CHECK(memcmp(fold, fold2, nf) == 0);

	/* a smaller buffer gives a prefix, never a split code point */
	size_t sz = size ? (uint8_t)s[0] % cap : 0;
	size_t np = text_fold_key(s, size, part, sz);
	if (sz == 0) {
		CHECK(np == 0);
	} else {
		CHECK(np < sz && part[np] == '\0' && np <= nf);
		CHECK(memcmp(part, fold, np) == 0);
		CHECK(text_utf8_valid(part, np));
	}

	size_t ns = text_strip_diacritics(s, size, strip, cap);
	CHECK(ns <= size && strip[ns] == '\0');
	CHECK(text_utf8_valid(strip, ns));
	CHECK(text_strip_diacritics(strip, ns, strip2, cap) == ns);
	CHECK(memcmp(strip, strip2, ns) == 0);
	CHECK(text_fold_key(strip, ns, fold2, cap) == nf);
	CHECK(memcmp(fold, fold2, nf) == 0);
	bool ascii = true;
	for (size_t i = 0; i < size; i++)
		ascii = ascii && (uint8_t)s[i] < 0x80;
	if (ascii)
		CHECK(ns == size && memcmp(strip, s, size) == 0);

	const char *start;
	size_t nt = text_trim(s, size, &start);
	CHECK(start >= s && start + nt <= s + size);
	CHECK(!is_trim_space(start, nt, false) &&
	      !is_trim_space(start, nt, true));

	free(fold);
	free(fold2);
	free(strip);
	free(strip2);
	free(part);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	/* an exact-size heap copy, so ASan sees any read past len */
	char *s = malloc(size ? size : 1);
	char *cstr = malloc(size + 1);
	CHECK(s && cstr);
	if (size)
		memcpy(s, data, size);
	memcpy(cstr, data, size);
	cstr[size] = '\0';

	check_normalize(s, size);
	check_mask(cstr);
	check_split(s, size);
	check_text(s, size);

	free(s);
	free(cstr);
	return 0;
}
