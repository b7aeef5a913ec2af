/* text.c: see text.h
 *
 * One strict UTF-8 decoder (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF) and one compact table from precomposed Latin letters to
 * their base ASCII letter. The table covers every Vietnamese letter (Latin-1,
 * ă/đ/ĩ/ũ in Latin Extended-A, ơ/ư in Latin Extended-B and U+1EA0..U+1EF9)
 * and, because it costs nothing, the rest of Latin-1 and Latin Extended-A.
 * Decomposed text (macOS, some phones) carries its marks as combining code
 * points U+0300..U+036F, which are dropped.
 *
 * Ð U+00D0 (Icelandic eth) looks exactly like Đ U+0110 and is what text
 * converted from the old Windows-1258 code page often contains, so it folds
 * to d as well.
 */
#include "loaxa/text.h"

#include <stdint.h>

#include "loaxa/util.h"

/* One row per contiguous block: code points first..first+strlen(base)-1
 * map to the letters of base; '_' means "no base letter, keep". */
static const struct {
	uint32_t first;
	const char *base;
} fold_blocks[] = {
	/* U+00C0..U+00FF Latin-1 letters (× ÷ Æ æ Þ þ ß kept). */
	{ 0x00C0, "AAAAAA_CEEEEIIII" "DNOOOOO_OUUUUY__"
		  "aaaaaa_ceeeeiiii" "dnooooo_ouuuuy_y" },
	/* U+0100..U+017F Latin Extended-A: Ă ă Đ đ Ĩ ĩ Ũ ũ and neighbours. */
	{ 0x0100, "AaAaAaCcCcCcCcDd" "DdEeEeEeEeEeGgGg"
		  "GgGgHhHhIiIiIiIi" "Ii__JjKk_LlLlLlL"
		  "lLlNnNnNn___OoOo" "Oo__RrRrRrSsSsSs"
		  "SsTtTtTtUuUuUuUu" "UuUuWwYyYZzZzZz_" },
	/* U+01A0..U+01A1 Ơ ơ, U+01AF..U+01B0 Ư ư (Latin Extended-B). */
	{ 0x01A0, "Oo" },
	{ 0x01AF, "Uu" },
	/* U+1EA0..U+1EF9 Latin Extended Additional: the tone-marked letters. */
	{ 0x1EA0, "AaAaAaAaAaAaAaAa" "AaAaAaAaEeEeEeEe"
		  "EeEeEeEeIiIiOoOo" "OoOoOoOoOoOoOoOo"
		  "OoOoUuUuUuUuUuUu" "UuYyYyYyYy" },
};

/* The base ASCII letter of a precomposed letter, or 0. */
static char text_base_letter(uint32_t cp)
{
	for (size_t i = 0; i < ARRAY_SIZE(fold_blocks); i++) {
		uint32_t first = fold_blocks[i].first;
		const char *base = fold_blocks[i].base;
		if (cp < first || cp - first >= strlen(base))
			continue;
		char c = base[cp - first];
		return c == '_' ? 0 : c;
	}
	return 0;
}

static bool text_is_combining(uint32_t cp)
{
	return cp >= 0x0300 && cp <= 0x036F;
}

/* Code points that separate words but are not ASCII: a lookup key drops
 * them like ASCII spaces and punctuation (a spreadsheet's NBSP in
 * "Đông Tân" must not make a second key). */
static bool text_is_fold_separator(uint32_t cp)
{
	return cp == 0x00A0 ||                   /* no-break space */
	       cp == 0x00AD ||                   /* soft hyphen */
	       (cp >= 0x2000 && cp <= 0x206F) || /* general punctuation */
	       cp == 0x3000 ||                   /* ideographic space */
	       cp == 0xFEFF;                     /* BOM / zero-width nbsp */
}

/* Decode one code point at s[0..len) (len >= 1). Returns its length in
 * bytes (1..4) and sets *ret_cp, or 0 if the bytes are not well-formed. */
static size_t text_utf8_decode(const unsigned char *s, size_t len,
			       uint32_t *ret_cp)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;
	unsigned char lo = 0x80, hi = 0xBF; /* bounds of the second byte */

	if (c < 0x80) {
		*ret_cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* surrogates D800..DFFF */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		return 0; /* continuation byte, C0/C1 overlong, F5..FF */
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	cp = (cp << 6) | (s[1] & 0x3F);
	for (size_t i = 2; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	*ret_cp = cp;
	return n;
}

bool text_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	uint32_t cp;

	if (!s)
		return len == 0;
	while (i < len) {
		size_t n = text_utf8_decode(p + i, len - i, &cp);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* Append n bytes if they fit with room for the NUL; false once full. */
static bool text_emit(char *out, size_t outsz, size_t *pos, const void *p,
		      size_t n)
{
	if (outsz == 0 || n > outsz - 1 - *pos)
		return false;
	memcpy(out + *pos, p, n);
	*pos += n;
	return true;
}

static char text_ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Shared walk for both transforms; fold selects the lookup-key rules. */
static size_t text_transform(const char *s, size_t len, char *out,
			     size_t outsz, bool fold)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, pos = 0;

	if (!out || outsz == 0)
		return 0;
	if (!s)
		len = 0;
	while (i < len) {
		uint32_t cp;
		size_t n = text_utf8_decode(p + i, len - i, &cp);
		if (n == 0) {
			i++; /* skip one invalid byte and resynchronise */
			continue;
		}
		const char *src = s + i;
		i += n;

		char c = 0;
		if (cp < 0x80) {
			c = (char)cp;
			if (fold) {
				c = text_ascii_lower(c);
				if (!((c >= 'a' && c <= 'z') ||
				      (c >= '0' && c <= '9')))
					continue;
			}
		} else if (text_is_combining(cp)) {
			continue;
		} else if ((c = text_base_letter(cp))) {
			if (fold)
				c = text_ascii_lower(c);
		} else if (fold && text_is_fold_separator(cp)) {
			continue;
		} else if (!fold && cp == 0x00A0) {
			c = ' '; /* NBSP is a space, and GSM-7 has none */
		}

		bool ok = c ? text_emit(out, outsz, &pos, &c, 1)
			    : text_emit(out, outsz, &pos, src, n);
		if (!ok)
			break; /* full: never split a code point */
	}
	out[pos] = '\0';
	return pos;
}

size_t text_fold_key(const char *s, size_t len, char *out, size_t outsz)
{
	return text_transform(s, len, out, outsz, true);
}

size_t text_strip_diacritics(const char *s, size_t len, char *out,
			     size_t outsz)
{
	return text_transform(s, len, out, outsz, false);
}

static bool text_is_ascii_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static bool text_is_nbsp(const char *p)
{
	return (unsigned char)p[0] == 0xC2 && (unsigned char)p[1] == 0xA0;
}

size_t text_trim(const char *s, size_t len, const char **start)
{
	size_t b = 0, e = len;

	if (!s) {
		if (start)
			*start = s;
		return 0;
	}
	while (b < e) {
		if (text_is_ascii_space(s[b]))
			b++;
		else if (e - b >= 2 && text_is_nbsp(s + b))
			b += 2;
		else
			break;
	}
	while (e > b) {
		if (text_is_ascii_space(s[e - 1]))
			e--;
		else if (e - b >= 2 && text_is_nbsp(s + e - 2))
			e -= 2;
		else
			break;
	}
	if (start)
		*start = s + b;
	return e - b;
}
