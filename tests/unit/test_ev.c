/*
 * test_ev.c - connections end to end inside one process: a line server
 * and an outbound client (conn_connect) on one loop, STARTTLS on both
 * sides, certificate verification results, conn_timer, and a refused
 * connection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/tls.h"
#include "testutil.h"

/* What the client saw; written on the loop, read by the test thread. */
static struct {
	atomic_int	 done;		/* 1 = finished, 2 = failed */
	atomic_int	 refused_err;	/* errno of the refused connect */
	atomic_int	 timer_fired;
	atomic_bool	 tls_on_server;
	atomic_bool	 verified;	/* client's verification result */
	char		 why[128];	/* and its reason */
	char		 pong[64];	/* the reply to PING over TLS */
} seen;

static struct ev_service srv_svc, cli_svc, refused_svc;
static struct sockaddr_in srv_addr;

/* srv_open - greeting */
static void
srv_open(struct conn *c)
{
	conn_printf(c, "220 hello\r\n");
}

/* srv_line - STARTTLS, PING, QUIT; STARTTLS injection is pipelined */
static void
srv_line(struct conn *c, char *line, size_t len)
{
	(void)len;
	if (strcmp(line, "STARTTLS") == 0) {
		conn_printf(c, "220 go\r\n");
		if (conn_starttls(c) == -1)
			conn_close(c);
	} else if (strcmp(line, "PING") == 0) {
		conn_printf(c, "250 PONG %s\r\n", conn_is_tls(c) ? "tls" :
		    "clear");
	} else if (strcmp(line, "QUIT") == 0) {
		conn_printf(c, "221 bye\r\n");
		conn_close(c);
	} else {
		conn_printf(c, "500 %s\r\n", line);
	}
}

/* srv_tls - handshake done on the server side */
static void
srv_tls(struct conn *c)
{
	(void)c;
	seen.tls_on_server = true;
}

static const struct conn_handler srv_handler = {
	.on_open = srv_open,
	.on_line = srv_line,
	.on_tls = srv_tls,
};

/* cli_timer - conn_timer fired: say PING */
static void
cli_timer(struct conn *c)
{
	seen.timer_fired++;
	conn_printf(c, "PING\r\n");
}

/* cli_open - connected; wait for the greeting */
static void
cli_open(struct conn *c)
{
	(void)c;
}

/* cli_line - drive the dialogue */
static void
cli_line(struct conn *c, char *line, size_t len)
{
	(void)len;
	if (strcmp(line, "220 hello") == 0) {
		/* The "PING" after STARTTLS must be dropped by the server. */
		conn_printf(c, "STARTTLS\r\nPING\r\n");
	} else if (strcmp(line, "220 go") == 0) {
		if (conn_starttls_client(c, "localhost") == -1) {
			seen.done = 2;
			conn_close(c);
		}
	} else if (strncmp(line, "250 PONG", 8) == 0) {
		snprintf(seen.pong, sizeof(seen.pong), "%s", line);
		conn_printf(c, "QUIT\r\n");
	} else if (strcmp(line, "221 bye") == 0) {
		seen.done = 1;
		conn_close(c);
	} else {
		snprintf(seen.pong, sizeof(seen.pong), "unexpected %s", line);
		seen.done = 2;
		conn_close(c);
	}
}

/* cli_tls - handshake done: record the verification, PING after 50 ms */
static void
cli_tls(struct conn *c)
{
	const char *why;

	seen.verified = conn_tls_verified(c, &why);
	snprintf(seen.why, sizeof(seen.why), "%s", why);
	if (conn_timer(c, 50, cli_timer) == -1) {
		seen.done = 2;
		conn_close(c);
	}
}

/* cli_event - a failure ends the test */
static void
cli_event(struct conn *c, enum conn_event ev)
{
	(void)c;
	if (ev != CONN_CLOSED && seen.done == 0)
		seen.done = 2;
}

static const struct conn_handler cli_handler = {
	.on_open = cli_open,
	.on_line = cli_line,
	.on_event = cli_event,
	.on_tls = cli_tls,
};

/* refused_event - the connect to a closed port failed */
static void
refused_event(struct conn *c, enum conn_event ev)
{
	if (ev == CONN_CONNECT_FAILED)
		seen.refused_err = conn_error(c);
}

/* refused_open - must not happen */
static void
refused_open(struct conn *c)
{
	seen.refused_err = -1;
	conn_close(c);
}

static const struct conn_handler refused_handler = {
	.on_open = refused_open,
	.on_line = srv_line,
	.on_event = refused_event,
};

/* start_clients - on the loop: the real client and the refused one */
static void
start_clients(void *arg)
{
	struct sockaddr_in closed = *(struct sockaddr_in *)arg;
	struct ev_loop *l = ev_loop_at(0);

	if (conn_connect(l, &cli_svc, (struct sockaddr *)&srv_addr,
	    sizeof(srv_addr), NULL, 0, 5, NULL) == NULL)
		seen.done = 2;
	if (conn_connect(l, &refused_svc, (struct sockaddr *)&closed,
	    sizeof(closed), NULL, 0, 5, NULL) == NULL)
		seen.refused_err = -2;
}

/* free_port - a loopback port nobody listens on now */
static struct sockaddr_in
free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_not_equal(fd, -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return sin;
}

/* service - fill in a test service */
static void
service(struct ev_service *svc, const char *name,
    const struct conn_handler *h)
{
	svc->name = name;
	svc->handler = h;
	svc->line_max = 512;
	svc->timeout = 10;
	svc->max_sessions = 16;
}

/* test_connect_starttls - the whole dialogue */
static void
test_connect_starttls(void **state)
{
	struct sockaddr_in closed;
	struct config *cfg;
	char cert[PATH_MAX], key[PATH_MAX];
	int i;

	snprintf(cert, sizeof(cert), "%s", tu_path(state, "server.cert"));
	snprintf(key, sizeof(key), "%s", tu_path(state, "server.key"));
	assert_int_equal(tls_selfsigned_create(cert, key, "test.invalid", 2),
	    0);
	assert_int_equal(config_init(*state), 0);
	cfg = config_acquire();
	assert_int_equal(tls_server_load(cfg), 0);
	config_release(cfg);
	assert_true(tls_server_available());

	service(&srv_svc, "srv", &srv_handler);
	service(&cli_svc, "cli", &cli_handler);
	service(&refused_svc, "refused", &refused_handler);
	srv_addr = free_port();
	closed = free_port();
	assert_int_equal(ev_init(1), 0);
	assert_int_equal(ev_listen(&srv_svc, (struct sockaddr *)&srv_addr,
	    sizeof(srv_addr)), 0);
	assert_int_equal(ev_start(), 0);
	assert_int_equal(ev_run_in_loop(ev_loop_at(0), start_clients,
	    &closed), 0);
	for (i = 0; i < 1000 && (seen.done == 0 || seen.refused_err == 0);
	    i++)
		usleep(10000);
	ev_stop_accepting();
	for (i = 0; i < 300 && ev_sessions() > 0; i++)
		usleep(10000);
	ev_stop();
	tls_server_free();
	config_shutdown();

	assert_int_equal(seen.done, 1);
	assert_true(seen.tls_on_server);
	/* The PING pipelined after STARTTLS was dropped: one PONG, in TLS. */
	assert_string_equal(seen.pong, "250 PONG tls");
	assert_int_equal(seen.timer_fired, 1);
	/* Self-signed for test.invalid, asked for localhost. */
	assert_false(seen.verified);
	assert_string_not_equal(seen.why, "ok");
	assert_int_equal(seen.refused_err, ECONNREFUSED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_connect_starttls,
		    tu_setup, tu_teardown),
	};

	log_init("test_ev", false, getenv("TEST_LOG") != NULL,
	    getenv("TEST_LOG") != NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
