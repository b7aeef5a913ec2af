/* phone.h: Vietnamese mobile numbers (pure; no I/O, no allocation).
 *
 * Normalises what village managers type or paste from spreadsheets into
 * E.164 ("+84" + 9-digit national significant number, NSN), following
 * ../shared/providers.md §6.2:
 *  - separators dropped: spaces (incl. U+00A0), dots, dashes, parentheses,
 *    slashes are NOT separators (they split numbers, see phone_split_cell);
 *  - prefixes +84, 84, 0084 and (+84) accepted; a leading 0 dropped by a
 *    spreadsheet (9 digits) restored;
 *  - old 11-digit mobiles 01xx-xxx-xxxx mapped to their 2018 10-digit form;
 *  - any 10-digit national number starting 03/05/07/08/09 accepted;
 *  - landlines (02x...), short codes and everything else rejected with a
 *    reason a village manager understands.
 */
#ifndef LOAXA_PHONE_H
#define LOAXA_PHONE_H

#include <stddef.h>

/* "+84" + 9 digits + NUL */
#define PHONE_E164_MAX 13
/* masked form "+8491***678" + NUL */
#define PHONE_MASK_MAX 16

enum phone_error {
	PHONE_OK = 0,
	PHONE_EMPTY,          /* nothing but separators */
	PHONE_BAD_CHAR,       /* letters or other symbols */
	PHONE_TOO_SHORT,
	PHONE_TOO_LONG,
	PHONE_FOREIGN,        /* another country code (+1..., 00xx) */
	PHONE_LANDLINE,       /* 02x fixed line: cannot receive SMS/Zalo */
	PHONE_OLD_UNKNOWN,    /* 11-digit 01xx with a prefix not in the 2018 table */
	PHONE_NOT_MOBILE,     /* 10 digits but not 03/05/07/08/09 */
};

/* Normalise in[0..len) (need not be NUL-terminated) into out as E.164.
 * Returns PHONE_OK or the reason; out is written only on success. */
enum phone_error phone_normalize(const char *in, size_t len,
				 char out[static PHONE_E164_MAX]);

/* A one-line reason in Vietnamese-friendly English for a village manager,
 * e.g. "landline number (starts 02): cannot receive SMS or Zalo". */
const char *phone_error_message(enum phone_error e);
/* A stable machine code, e.g. "landline". */
const char *phone_error_code(enum phone_error e);

/* Mask an E.164 number for logs: "+84912345678" -> "+8491***678".
 * Any other input yields "***". */
void phone_mask(const char *e164, char out[static PHONE_MASK_MAX]);

/* Split a spreadsheet cell that may hold several numbers ("0912 345 678 /
 * 0987.654.321", "0912345678, 0987654321", one per line, "hoặc"/"or").
 * Calls cb(piece, piece_len, ud) for each candidate piece (trimmed, not yet
 * validated), in order. A cell holding one number with internal spaces
 * yields one piece. Returns the number of pieces. */
size_t phone_split_cell(const char *cell, size_t len,
			void (*cb)(const char *p, size_t n, void *ud), void *ud);

#endif
