/* notify.h: tell systemd the truth about our state (sd_notify(3)).
 * Every function is a no-op without $NOTIFY_SOCKET. */
#ifndef LOAXA_NOTIFY_H
#define LOAXA_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct notify;

/* Starts the watchdog timer (at half of $WATCHDOG_USEC) when enabled. */
int notify_new(uv_loop_t *loop, struct notify **ret);
void notify_ready(struct notify *n, const char *status);
void notify_status(struct notify *n, const char *status);
void notify_reloading(struct notify *n);
void notify_stopping(struct notify *n);
/* Stop the watchdog timer and free (in the close callback). */
void notify_close(struct notify *n);

/* Internal (notify.c and its test): the protocol as loaxad speaks it
 * without libsystemd, compiled in every build so that both are tested.
 * notify__send: sd_notify(0, msg)'s contract: 0 without $NOTIFY_SOCKET, 1
 * sent, -errno. notify__watchdog: sd_watchdog_enabled(0, ret_usec)'s: 1
 * and the period, 0 when off (no WATCHDOG_USEC, or WATCHDOG_PID names
 * another process), -EINVAL/-ERANGE for a bad value.
 * notify__use_builtin(true) makes the functions above use them even when
 * libsystemd is linked (false: libsystemd again, when built with it). */
int notify__send(const char *msg);
int notify__watchdog(uint64_t *ret_usec);
void notify__use_builtin(bool on);

#endif
