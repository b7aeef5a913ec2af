/* text.h: UTF-8 text helpers for Vietnamese (pure).
 *
 * Folding for lookups ("Đông Tân", "dong tan", "DONG-TAN" all fold to
 * "dongtan"), diacritics stripping for SMS brandname routes (đ->d), and
 * UTF-8 validation.
 */
#ifndef LOAXA_TEXT_H
#define LOAXA_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* True if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool text_utf8_valid(const char *s, size_t len);

/* Lookup key: Vietnamese diacritics removed (all precomposed Latin letters
 * with marks used in Vietnamese, and combining marks U+0300..U+036F
 * dropped), đ/Đ -> d, ASCII lowercased, and only [a-z0-9] kept.
 * Other non-ASCII code points are kept as their UTF-8 bytes.
 * Writes at most outsz-1 bytes plus NUL; returns the length written.
 * Invalid UTF-8 bytes are skipped. */
size_t text_fold_key(const char *s, size_t len, char *out, size_t outsz);

/* Strip diacritics keeping case, spaces and punctuation ("Đông Tân, 19h30"
 * -> "Dong Tan, 19h30"). Same output contract as text_fold_key; the output is
 * never longer than the input. */
size_t text_strip_diacritics(const char *s, size_t len, char *out,
			     size_t outsz);

/* Trim ASCII whitespace and U+00A0 from both ends; returns new length and
 * sets *start to the first kept byte. */
size_t text_trim(const char *s, size_t len, const char **start);

#endif
