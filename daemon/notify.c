/* notify.c: sd_notify READY/STATUS/RELOADING/STOPPING and the watchdog.
 *
 * Every message is one datagram to $NOTIFY_SOCKET; without it they are
 * no-ops. Built with libsystemd (HAVE_LIBSYSTEMD), sd_notify() and
 * sd_watchdog_enabled() do the work; without it, the few lines below speak
 * the same protocol (sd_notify(3), "Notify socket"): a path or, after an
 * '@', an abstract name, one datagram per message; WATCHDOG_USEC (and
 * WATCHDOG_PID, when set, naming us) for the watchdog. vsock: addresses
 * (systemd 253, for virtual machines) are not supported by the built-in
 * client: -EAFNOSUPPORT, logged. The functions work with a NULL
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
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config-build.h"
#if HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "loaxa/log.h"
#include "loaxa/util.h"

struct notify {
	uv_timer_t watchdog;
	uint64_t period_ms;
	bool warned;
};

static bool send_warned; /* for calls without a struct notify */

/* ---- the protocol without libsystemd ---- */

static bool use_builtin = !HAVE_LIBSYSTEMD;

void notify__use_builtin(bool on)
{
	use_builtin = on || !HAVE_LIBSYSTEMD;
}

int notify__send(const char *msg)
{
	const char *e = getenv("NOTIFY_SOCKET");
	if (!e || !*e)
		return 0;
	if (!msg)
		return -EINVAL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(e);
	if (e[0] != '/' && e[0] != '@')
		return -EAFNOSUPPORT;
	if (n >= sizeof sa.sun_path || (e[0] == '@' && n < 2))
		return -EINVAL;
	memcpy(sa.sun_path, e, n);
	/* a path counts its NUL; an abstract name starts with one and
	 * counts no other */
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				    n + (e[0] == '/'));
	if (e[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* never wait: a notify socket nobody reads must not stall the loop
	 * (the message is dropped, and a warning logged once) */
	ssize_t r = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
			   (struct sockaddr *)&sa, len);
	int err = errno;
	close(fd);
	return r < 0 ? -err : 1;
}

/* A decimal number, all of s, within 1..max. */
static int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		unsigned d = (unsigned)(*s - '0');
		if (v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v == 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

int notify__watchdog(uint64_t *ret_usec)
{
	const char *e = getenv("WATCHDOG_USEC");
	if (!e)
		return 0;
	uint64_t usec, pid;
	/* UINT64_MAX is systemd's "infinity", not a period */
	int r = parse_u64(e, UINT64_MAX - 1, &usec);
	if (r < 0)
		return r;
	const char *p = getenv("WATCHDOG_PID");
	if (p) {
		r = parse_u64(p, INT32_MAX, &pid);
		if (r < 0)
			return r;
		if ((pid_t)pid != getpid())
			return 0;
	}
	*ret_usec = usec;
	return 1;
}

static int watchdog_enabled(uint64_t *ret_usec)
{
#if HAVE_LIBSYSTEMD
	if (!use_builtin)
		return sd_watchdog_enabled(0, ret_usec);
#endif
	return notify__watchdog(ret_usec);
}

static void send_msg(struct notify *n, const char *msg)
{
	int r;
#if HAVE_LIBSYSTEMD
	if (!use_builtin)
		r = sd_notify(0, msg);
	else
#endif
		r = notify__send(msg);
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
	if (watchdog_enabled(&usec) > 0 && usec > 0) {
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
