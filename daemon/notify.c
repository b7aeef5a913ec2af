/* notify.c: sd_notify READY/STATUS/RELOADING/STOPPING and the watchdog. */
#include "loaxa/notify.h"

#include <errno.h>
#include <inttypes.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "loaxa/log.h"
#include "loaxa/util.h"

struct notify {
	uv_timer_t watchdog;
	uint64_t period_ms;
};

static void watchdog_cb(uv_timer_t *t)
{
	(void)t;
	sd_notify(0, "WATCHDOG=1");
}

int notify_new(uv_loop_t *loop, struct notify **ret)
{
	struct notify *n = calloc(1, sizeof *n);
	if (!n)
		return -ENOMEM;
	uv_timer_init(loop, &n->watchdog);
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		n->period_ms = usec / 2000;
		if (n->period_ms == 0)
			n->period_ms = 1;
		uv_timer_start(&n->watchdog, watchdog_cb, n->period_ms,
			       n->period_ms);
		log_info(LOG_MAIN, "watchdog enabled: pinging every %" PRIu64
			 " ms", n->period_ms);
	}
	*ret = n;
	return 0;
}

void notify_ready(struct notify *n, const char *status)
{
	(void)n;
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void notify_status(struct notify *n, const char *status)
{
	(void)n;
	sd_notifyf(0, "STATUS=%s", status);
}

void notify_reloading(struct notify *n)
{
	(void)n;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
		   (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

void notify_stopping(struct notify *n)
{
	(void)n;
	sd_notify(0, "STOPPING=1");
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
