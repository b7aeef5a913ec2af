/* test-notify.c: notify.c against a real AF_UNIX datagram socket standing
 * in for systemd's $NOTIFY_SOCKET: the exact datagrams, the watchdog's
 * period and its WATCHDOG_PID check, and a clean loop at the end.
 *
 * Every test runs twice: with libsystemd (when built with it) and with
 * the built-in client loaxad uses without it (-Dsystemd=disabled), which
 * must behave the same. Then the built-in parsing alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "config-build.h"
#include "loaxa/log.h"
#include "loaxa/notify.h"
#include "loaxa/util.h"

struct fixture {
	char dir[64];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;
	uv_loop_t loop;
	int pings;
};

static void clear_env(void)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/loaxa-notify-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/notify.sock", f->dir);
	assert_true(strlen(f->path) < sizeof f->path - 1);
	f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(f->fd >= 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->path);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	clear_env();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	clear_env();
	/* every test closes what it opened: the loop must be empty */
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	close(f->fd);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The next datagram within timeout_ms, NUL-terminated in buf; false if
 * none came. */
static bool recv_msg(struct fixture *f, char *buf, size_t n, int timeout_ms)
{
	struct pollfd p = { .fd = f->fd, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) <= 0)
		return false;
	ssize_t r = recv(f->fd, buf, n - 1, MSG_DONTWAIT);
	assert_true(r >= 0);
	buf[r] = '\0';
	return true;
}

static void expect_msg(struct fixture *f, const char *want)
{
	char buf[1024];
	if (!recv_msg(f, buf, sizeof buf, 1000))
		fail_msg("no datagram; expected \"%s\"", want);
	assert_string_equal(buf, want);
}

static void expect_none(struct fixture *f)
{
	char buf[1024];
	if (recv_msg(f, buf, sizeof buf, 0))
		fail_msg("unexpected datagram \"%s\"", buf);
}

static uint64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void count_active_cb(uv_handle_t *h, void *arg)
{
	if (h->type == UV_TIMER && uv_is_active(h))
		(*(int *)arg)++;
}

/* Active timers in the loop: the watchdog is the only one notify has. */
static int active_timers(uv_loop_t *loop)
{
	int n = 0;
	uv_walk(loop, count_active_cb, &n);
	return n;
}

static void stop_cb(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Count the datagrams as they come: the kernel queues only
 * net.unix.max_dgram_qlen of them (10 without systemd's sysctl), and then
 * the sender blocks, as systemd's own reader would not let happen. */
static void drain_cb(uv_poll_t *p, int status, int events)
{
	struct fixture *f = p->data;
	char buf[256];
	(void)events;
	assert_int_equal(status, 0);
	for (;;) {
		ssize_t r = recv(f->fd, buf, sizeof buf - 1, MSG_DONTWAIT);
		if (r < 0) {
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
			return;
		}
		buf[r] = '\0';
		assert_string_equal(buf, "WATCHDOG=1");
		f->pings++;
	}
}

/* Run the loop for about ms milliseconds, counting WATCHDOG=1 datagrams
 * in f->pings (any other datagram fails the test). */
static void run_for(struct fixture *f, uint64_t ms)
{
	uv_timer_t t;
	uv_poll_t p;
	uv_timer_init(&f->loop, &t);
	uv_timer_start(&t, stop_cb, ms, 0);
	assert_int_equal(uv_poll_init(&f->loop, &p, f->fd), 0);
	p.data = f;
	uv_poll_start(&p, UV_READABLE, drain_cb);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&t, NULL);
	uv_close((uv_handle_t *)&p, NULL);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	drain_cb(&p, 0, 0);
}

/* ---- tests ---- */

static void test_messages(void **state)
{
	struct fixture *f = *state;
	struct notify *n = NULL;
	setenv("NOTIFY_SOCKET", f->path, 1);
	assert_int_equal(notify_new(&f->loop, &n), 0);
	assert_non_null(n);
	assert_int_equal(active_timers(&f->loop), 0); /* no watchdog asked */

	notify_ready(n, "serving 3 households in 4 groups");
	expect_msg(f, "READY=1\nSTATUS=serving 3 households in 4 groups");
	notify_status(n, "importing");
	expect_msg(f, "STATUS=importing");

	uint64_t before = now_usec();
	notify_reloading(n);
	uint64_t after = now_usec();
	char buf[256];
	assert_true(recv_msg(f, buf, sizeof buf, 1000));
	uint64_t mono = 0;
	assert_int_equal(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%" SCNu64,
				&mono), 1);
	assert_true(mono >= before && mono <= after);
	char again[256];
	snprintf(again, sizeof again, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
		 mono);
	assert_string_equal(buf, again); /* nothing else in it */

	notify_ready(n, "reloaded");
	expect_msg(f, "READY=1\nSTATUS=reloaded");
	notify_stopping(n);
	expect_msg(f, "STOPPING=1");
	expect_none(f);

	/* The environment stays for later messages (unset_environment 0). */
	assert_string_equal(getenv("NOTIFY_SOCKET"), f->path);
	notify_close(n);
}

static void test_status_cannot_inject(void **state)
{
	struct fixture *f = *state;
	struct notify *n = NULL;
	setenv("NOTIFY_SOCKET", f->path, 1);
	assert_int_equal(notify_new(&f->loop, &n), 0);
	notify_ready(n, "ok\nREADY=1\nMAINPID=1");
	expect_msg(f, "READY=1\nSTATUS=ok");
	notify_status(n, "x\nSTOPPING=1");
	expect_msg(f, "STATUS=x");
	notify_ready(n, NULL);
	expect_msg(f, "READY=1");
	notify_status(n, NULL); /* nothing to say: nothing sent */
	expect_none(f);
	notify_close(n);
}

static void test_without_struct(void **state)
{
	struct fixture *f = *state;
	setenv("NOTIFY_SOCKET", f->path, 1);
	/* notify_new failed for memory: the messages still go out */
	notify_ready(NULL, "degraded");
	expect_msg(f, "READY=1\nSTATUS=degraded");
	notify_stopping(NULL);
	expect_msg(f, "STOPPING=1");
	notify_close(NULL);
}

static void test_no_socket_is_silent(void **state)
{
	struct fixture *f = *state;
	struct notify *n = NULL;
	setenv("WATCHDOG_USEC", "40000", 1);
	/* no NOTIFY_SOCKET: sd_watchdog_enabled still reads WATCHDOG_USEC,
	 * and every message is a successful no-op */
	char *logbuf = NULL;
	size_t loglen = 0;
	FILE *log = open_memstream(&logbuf, &loglen);
	assert_non_null(log);
	log_set_stream(log);
	assert_int_equal(notify_new(&f->loop, &n), 0);
	notify_ready(n, "x");
	notify_reloading(n);
	notify_stopping(n);
	run_for(f, 50);
	assert_int_equal(f->pings, 0);
	notify_close(n);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	log_set_stream(NULL);
	fclose(log);
	expect_none(f);
	assert_null(strstr(logbuf, "cannot notify"));
	free(logbuf);
}

static void test_send_failure_warned_once(void **state)
{
	struct fixture *f = *state;
	struct notify *n = NULL;
	char missing[256];
	snprintf(missing, sizeof missing, "%s/nobody-listens", f->dir);
	setenv("NOTIFY_SOCKET", missing, 1);
	char *logbuf = NULL;
	size_t loglen = 0;
	FILE *log = open_memstream(&logbuf, &loglen);
	assert_non_null(log);
	log_set_stream(log);
	assert_int_equal(notify_new(&f->loop, &n), 0);
	notify_ready(n, "a");
	notify_ready(n, "b");
	notify_stopping(n);
	log_set_stream(NULL);
	fclose(log);
	const char *p = strstr(logbuf, "cannot notify systemd");
	assert_non_null(p);
	assert_null(strstr(p + 1, "cannot notify systemd"));
	assert_non_null(strstr(logbuf, "No such file or directory"));
	free(logbuf);
	notify_close(n);
}

static void test_watchdog_pings_at_half_period(void **state)
{
	struct fixture *f = *state;
	struct notify *n = NULL;
	char pid[32];
	setenv("NOTIFY_SOCKET", f->path, 1);
	setenv("WATCHDOG_USEC", "60000", 1); /* 60 ms: a ping every 30 ms */
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(notify_new(&f->loop, &n), 0);
	assert_int_equal(active_timers(&f->loop), 1);

	uint64_t t0 = now_usec();
	run_for(f, 200);
	uint64_t elapsed_ms = (now_usec() - t0) / 1000;
	int pings = f->pings;
	/* About elapsed/30 pings (never more): a loaded machine may delay
	 * one, but a period of the full WATCHDOG_USEC, too late for
	 * systemd, would give at most elapsed/60. */
	int most = (int)(elapsed_ms / 30), least = (int)(elapsed_ms / 60) + 1;
	if (pings < least || pings > most)
		fail_msg("%d pings in %" PRIu64 " ms, expected %d to %d",
			 pings, elapsed_ms, least, most);

	notify_close(n);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(active_timers(&f->loop), 0);
	/* closed: no more pings */
	run_for(f, 70);
	assert_int_equal(f->pings, pings);
}

static void test_watchdog_for_another_pid(void **state)
{
	struct fixture *f = *state;
	struct notify *n = NULL;
	char pid[32];
	setenv("NOTIFY_SOCKET", f->path, 1);
	setenv("WATCHDOG_USEC", "20000", 1);
	/* systemd sets WATCHDOG_PID to the main process: a child that
	 * inherited it must not ping in its parent's name */
	snprintf(pid, sizeof pid, "%d", (int)getppid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(notify_new(&f->loop, &n), 0);
	assert_int_equal(active_timers(&f->loop), 0);
	run_for(f, 60);
	assert_int_equal(f->pings, 0);
	notify_close(n);
}

static void test_watchdog_bad_usec(void **state)
{
	struct fixture *f = *state;
	struct notify *n = NULL;
	setenv("NOTIFY_SOCKET", f->path, 1);
	setenv("WATCHDOG_USEC", "soon", 1);
	assert_int_equal(notify_new(&f->loop, &n), 0);
	assert_int_equal(active_timers(&f->loop), 0);
	notify_close(n);
	uv_run(&f->loop, UV_RUN_DEFAULT);

	/* 1 µs: the period rounds up to 1 ms, never 0 (a busy loop) */
	setenv("WATCHDOG_USEC", "1", 1);
	unsetenv("WATCHDOG_PID");
	assert_int_equal(notify_new(&f->loop, &n), 0);
	assert_int_equal(active_timers(&f->loop), 1);
	run_for(f, 20);
	assert_true(f->pings >= 2 && f->pings <= 21);
	notify_close(n);
}

static void test_watchdog_does_not_hold_loop(void **state)
{
	struct fixture *f = *state;
	struct notify *n = NULL;
	setenv("NOTIFY_SOCKET", f->path, 1);
	setenv("WATCHDOG_USEC", "2000000", 1);
	assert_int_equal(notify_new(&f->loop, &n), 0);
	assert_int_equal(active_timers(&f->loop), 1);
	/* only the watchdog is active: uv_run returns at once */
	uint64_t t0 = now_usec();
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_true(now_usec() - t0 < 500000);
	notify_close(n);
}

/* An abstract socket ("@name"): no file, the name starts with a NUL. */
static void test_abstract_socket(void **state)
{
	struct fixture *f = *state;
	char name[64];
	snprintf(name, sizeof name, "loaxa-notify-test-%d", (int)getpid());
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	memcpy(sa.sun_path + 1, name, n);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un,
						   sun_path) + 1 + n)), 0);
	char env[80];
	snprintf(env, sizeof env, "@%s", name);
	setenv("NOTIFY_SOCKET", env, 1);
	struct notify *nt = NULL;
	assert_int_equal(notify_new(&f->loop, &nt), 0);
	notify_ready(nt, "abstract");
	/* read it from the abstract socket, not the fixture's */
	int save = f->fd;
	f->fd = fd;
	expect_msg(f, "READY=1\nSTATUS=abstract");
	f->fd = save;
	expect_none(f);
	notify_close(nt);
	close(fd);
}

/* ---- the built-in client alone ---- */

static void test_builtin_socket_values(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(notify__send("READY=1"), 0);   /* unset */
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(notify__send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "run/notify", 1);        /* relative */
	assert_int_equal(notify__send("READY=1"), -EAFNOSUPPORT);
	setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
	assert_int_equal(notify__send("READY=1"), -EAFNOSUPPORT);
	setenv("NOTIFY_SOCKET", "@", 1);
	assert_int_equal(notify__send("READY=1"), -EINVAL);
	char longp[200];
	memset(longp, 'x', sizeof longp - 1);
	longp[0] = '/';
	longp[sizeof longp - 1] = '\0';
	setenv("NOTIFY_SOCKET", longp, 1);
	assert_int_equal(notify__send("READY=1"), -EINVAL);
	/* 108 bytes do not fit sun_path with their NUL: refused, not cut;
	 * 107 do (and name no socket) */
	longp[sizeof ((struct sockaddr_un *)0)->sun_path] = '\0';
	assert_int_equal(strlen(longp), 108);
	setenv("NOTIFY_SOCKET", longp, 1);
	assert_int_equal(notify__send("READY=1"), -EINVAL);
	longp[107] = '\0';
	setenv("NOTIFY_SOCKET", longp, 1);
	assert_int_equal(notify__send("READY=1"), -ENOENT);
	setenv("NOTIFY_SOCKET", f->path, 1);
	assert_int_equal(notify__send("STATUS=x"), 1);
	expect_msg(f, "STATUS=x");
	assert_int_equal(notify__send(NULL), -EINVAL);
	char missing[256];
	snprintf(missing, sizeof missing, "%s/gone", f->dir);
	setenv("NOTIFY_SOCKET", missing, 1);
	assert_int_equal(notify__send("READY=1"), -ENOENT);
	expect_none(f);
}

static void test_builtin_watchdog_values(void **state)
{
	(void)state;
	uint64_t usec = 7;
	char pid[32];
	assert_int_equal(notify__watchdog(&usec), 0);   /* unset */
	assert_int_equal(usec, 7);
	static const char *const bad[] = { "", "0", "-5", " 5", "5 ", "12abc",
					   "0x10", "18446744073709551615",
					   "99999999999999999999" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		setenv("WATCHDOG_USEC", bad[i], 1);
		if (notify__watchdog(&usec) >= 0)
			fail_msg("WATCHDOG_USEC=\"%s\" accepted", bad[i]);
		assert_int_equal(usec, 7);   /* untouched on failure */
	}
	setenv("WATCHDOG_USEC", "18446744073709551614", 1);
	assert_int_equal(notify__watchdog(&usec), 1);
	assert_true(usec == UINT64_MAX - 1);
	setenv("WATCHDOG_USEC", "30000000", 1);
	assert_int_equal(notify__watchdog(&usec), 1);
	assert_int_equal(usec, 30000000);
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	usec = 7;
	assert_int_equal(notify__watchdog(&usec), 1);
	assert_int_equal(usec, 30000000);
	snprintf(pid, sizeof pid, "%d", (int)getppid());
	setenv("WATCHDOG_PID", pid, 1);
	usec = 7;
	assert_int_equal(notify__watchdog(&usec), 0);
	assert_int_equal(usec, 7);
	setenv("WATCHDOG_PID", "me", 1);
	assert_true(notify__watchdog(&usec) < 0);
	setenv("WATCHDOG_PID", "99999999999", 1);
	assert_true(notify__watchdog(&usec) < 0);
}

static int use_libsystemd(void **state)
{
	(void)state;
	notify__use_builtin(false);
	return 0;
}

static int use_builtin(void **state)
{
	(void)state;
	notify__use_builtin(true);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_messages, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_status_cannot_inject,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_struct, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_socket_is_silent,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_failure_warned_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_watchdog_pings_at_half_period, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog_for_another_pid,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog_bad_usec, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_watchdog_does_not_hold_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abstract_socket, setup,
						teardown),
	};
	const struct CMUnitTest builtin[] = {
		cmocka_unit_test_setup_teardown(test_builtin_socket_values,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_builtin_watchdog_values,
						setup, teardown),
	};
	int failed = 0;
	if (HAVE_LIBSYSTEMD)
		failed += cmocka_run_group_tests_name("libsystemd", tests,
						      use_libsystemd, NULL);
	else
		printf("built without libsystemd: the built-in client only\n");
	failed += cmocka_run_group_tests_name("built-in", tests, use_builtin,
					      NULL);
	failed += cmocka_run_group_tests_name("built-in values", builtin,
					      use_builtin, NULL);
	return failed;
}
