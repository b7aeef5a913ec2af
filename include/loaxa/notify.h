/* notify.h: tell systemd the truth about our state (sd_notify(3)).
 * Every function is a no-op without $NOTIFY_SOCKET. */
#ifndef LOAXA_NOTIFY_H
#define LOAXA_NOTIFY_H

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

#endif
