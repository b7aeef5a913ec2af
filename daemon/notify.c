/* notify.c: sd_notify READY/STATUS/RELOADING/STOPPING and the watchdog.
 *
 * Every message is one datagram to $NOTIFY_SOCKET (libsystemd's
 * sd_notify); without it they are no-ops. The functions work with a NULL
 * struct notify too (notify_new may have failed for memory): only the
 * watchdog needs the struct. The first failure to send is logged once, as
 * a warning: systemd would then kill a Type=notify service that never got
 * READY=1, and the log should say why.
 */
#include "loaxa/notify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "loaxa/log.h"
#include "loaxa/util.h"

struct notify {
	uv_timer_t watchdog;
	uint64_t period_ms;
	bool warned;
};

static bool send_warned; /* for calls without a struct notify */

static void send_msg(struct notify *n, const char *msg)
{
	int r = sd_notify(0, msg);
	bool *warned = n ? &n->warned : &send_warned;
	if (r < 0 && !*warned) {
		*warned = true;
		log_warn(LOG_MAIN, "cannot notify systemd on $NOTIFY_SOCKET: "
			 "%s", strerror(-r));
	}
}

/* "READY=1\nSTATUS=..." with the status cut at a newline, so that a
 * status can never add another assignment. */
static void send_with_status(struct notify *n, const char *head,
			     const char *status)
{
	char msg[512];
	if (!status) {
		send_msg(n, head);
		return;
	}
	snprintf(msg, sizeof msg, "%s%sSTATUS=%.*s", head, *head ? "\n" : "",
		 (int)strcspn(status, "\n"), status);
	send_msg(n, msg);
}

static void watchdog_cb(uv_timer_t *t)
{
	send_msg(container_of(t, struct notify, watchdog), "WATCHDOG=1");
}

int notify_new(uv_loop_t *loop, struct notify **ret)
{
	struct notify *n = calloc(1, sizeof *n);
	if (!n)
		return -ENOMEM;
	int r = uv_timer_init(loop, &n->watchdog);
	if (r < 0) {
		free(n);
		return r;
	}
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		n->period_ms = usec / 2000;
		if (n->period_ms == 0)
			n->period_ms = 1;
		uv_timer_start(&n->watchdog, watchdog_cb, n->period_ms,
			       n->period_ms);
		/* The pings must not keep the loop alive on their own: a
		 * shutdown that forgets notify_close ends with handles left
		 * (main reports it) instead of pinging for ever. */
		uv_unref((uv_handle_t *)&n->watchdog);
		log_info(LOG_MAIN, "watchdog enabled: pinging every %" PRIu64
			 " ms", n->period_ms);
	}
	*ret = n;
	return 0;
}

void notify_ready(struct notify *n, const char *status)
{
	send_with_status(n, "READY=1", status);
}

void notify_status(struct notify *n, const char *status)
{
	if (status)
		send_with_status(n, "", status);
}

void notify_reloading(struct notify *n)
{
	struct timespec ts;
	char msg[64];
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
		 (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
	send_msg(n, msg);
}

void notify_stopping(struct notify *n)
{
	send_msg(n, "STOPPING=1");
}

static void close_cb(uv_handle_t *h)
{
	free(container_of((uv_timer_t *)h, struct notify, watchdog));
}

void notify_close(struct notify *n)
{
	if (!n)
		return;
	uv_timer_stop(&n->watchdog);
	uv_close((uv_handle_t *)&n->watchdog, close_cb);
}
