/* util.h: small helpers shared by every module of loaxad (and the CLI).
 *
 * Cleanup attributes (systemd style), container_of, a bounded growable
 * buffer, and the one time unit of the project: int64_t milliseconds since
 * the Unix epoch (wall clock, for anything persisted) — see util_now_ms().
 */
#ifndef LOAXA_UTIL_H
#define LOAXA_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _warn_unused_ __attribute__((warn_unused_result))

static inline void freep(void *p) { free(*(void **)p); }
static inline void fclosep(FILE **f) { if (*f) fclose(*f); }
void closep(int *fd);

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_close_ _cleanup_(closep)

/* Hand ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p) ({ __typeof__(p) _p_ = (p); (p) = NULL; _p_; })

/* Recoverable assertion (Knot's kr_fails_assert): logs file:line and
 * evaluates to true when the invariant is violated, so callers can bail. */
#define fails_assert(expr) \
	((expr) ? false : (util_assert_failed(#expr, __FILE__, __LINE__), true))
void util_assert_failed(const char *expr, const char *file, int line);

static inline bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* Wall-clock milliseconds since the epoch. */
int64_t util_now_ms(void);

/* Parse a decimal integer occupying all of s, within [min, max].
 * Returns 0, or -EINVAL (not a number) / -ERANGE (out of bounds). */
int util_parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret);

/* The value of a hexadecimal digit, or -1. */
static inline int util_hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* strdup that never returns NULL on non-NULL input unless out of memory. */
char *util_strndup(const char *s, size_t n);

/* Growable byte buffer with a mandatory maximum (curl's dynbuf). The data
 * is always NUL-terminated (the NUL is not counted in len). */
struct buf {
	char *data;
	size_t len, cap, max;
};
void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
/* Returns 0, -ENOMEM, or -E2BIG when max would be exceeded. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...) _printf_(2, 3);
/* Take the data out (caller frees); the buffer is left empty. */
char *buf_steal(struct buf *b);

#endif
