/*
 * test_ev.c - connections end to end inside one process: a line server
 * and an outbound client (conn_connect) on one loop, STARTTLS on both
 * sides, implicit TLS from the client's on_open, certificate
 * verification results with the system store or a CA file (host names,
 * address literals), conn_timer, and a refused connection.
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

#include <openssl/ssl.h>

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

static struct ev_service srv_svc, srv_tls_svc, cli_svc, refused_svc,
    vcli_svc;
static struct sockaddr_in srv_addr, srv_tls_addr;

/* Clients that check certificates: one per case. */
static struct vcase {
	const char	*name;		/* servername */
	bool		 ca;		/* the CA file's context, else NULL */
	bool		 implicit;	/* TLS from on_open (SMTPS-like) */
	bool		 want;		/* conn_tls_verified */
	const char	*want_why;	/* and its reason */
	atomic_int	 done;		/* 1 = finished, 2 = failed */
	atomic_bool	 verified;
	atomic_bool	 greeted_tls;	/* implicit: greeting read in TLS */
	char		 why[128];
} vcases[] = {
	{ "test.invalid", true, false, true, "ok" },
	{ "TEST.INVALID", true, false, true, "ok" },
	{ NULL, true, false, true, "ok" },
	{ "test.invalid", false, false, false, "self-signed certificate" },
	{ "localhost", true, false, false, "hostname mismatch" },
	{ "[127.0.0.1]", true, false, false, "IP address mismatch" },
	{ "[IPv6:::1]", true, false, false, "IP address mismatch" },
	{ "test.invalid", true, true, true, "ok" },
	{ "localhost", true, true, false, "hostname mismatch" },
};
static SSL_CTX *ca_ctx;			/* trusts the server's cert */

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

/* vcli_start - begin TLS as the case says */
static void
vcli_start(struct conn *c, struct vcase *vc)
{
	if (conn_starttls_client_ctx(c, vc->name, vc->ca ? ca_ctx : NULL) ==
	    -1) {
		vc->done = 2;
		conn_close(c);
	}
}

/* vcli_open - implicit TLS starts here */
static void
vcli_open(struct conn *c)
{
	struct vcase *vc = conn_data(c);

	if (vc->implicit)
		vcli_start(c, vc);
}

/* vcli_line - greeting, STARTTLS, QUIT */
static void
vcli_line(struct conn *c, char *line, size_t len)
{
	struct vcase *vc = conn_data(c);

	(void)len;
	if (strcmp(line, "220 hello") == 0 && vc->implicit) {
		vc->greeted_tls = conn_is_tls(c);
		conn_printf(c, "QUIT\r\n");
	} else if (strcmp(line, "220 hello") == 0) {
		conn_printf(c, "STARTTLS\r\n");
	} else if (strcmp(line, "220 go") == 0) {
		vcli_start(c, vc);
	} else if (strcmp(line, "221 bye") == 0) {
		vc->done = 1;
		conn_close(c);
	} else {
		vc->done = 2;
		conn_close(c);
	}
}

/* vcli_tls - record the verification; STARTTLS: QUIT now */
static void
vcli_tls(struct conn *c)
{
	struct vcase *vc = conn_data(c);
	const char *why;

	vc->verified = conn_tls_verified(c, &why);
	snprintf(vc->why, sizeof(vc->why), "%s", why);
	if (!vc->implicit)
		conn_printf(c, "QUIT\r\n");
}

/* vcli_event - a failure ends the case */
static void
vcli_event(struct conn *c, enum conn_event ev)
{
	struct vcase *vc = conn_data(c);

	if (ev != CONN_CLOSED && vc->done == 0)
		vc->done = 2;
}

static const struct conn_handler vcli_handler = {
	.on_open = vcli_open,
	.on_line = vcli_line,
	.on_event = vcli_event,
	.on_tls = vcli_tls,
};

/* vcases_done - every certificate case has finished */
static bool
vcases_done(void)
{
	size_t i;

	for (i = 0; i < nitems(vcases); i++)
		if (vcases[i].done == 0)
			return false;
	return true;
}

/* start_clients - on the loop: the real client and the refused one */
static void
start_clients(void *arg)
{
	struct sockaddr_in closed = *(struct sockaddr_in *)arg;
	struct ev_loop *l = ev_loop_at(0);
	struct sockaddr_in *to;
	size_t i;

	for (i = 0; i < nitems(vcases); i++) {
		to = vcases[i].implicit ? &srv_tls_addr : &srv_addr;
		if (conn_connect(l, &vcli_svc, (struct sockaddr *)to,
		    sizeof(*to), NULL, 0, 5, &vcases[i]) == NULL)
			vcases[i].done = 2;
	}

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
	char cert[PATH_MAX], key[PATH_MAX], why[256];
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
	ca_ctx = tls_client_ctx_file(cert, why, sizeof(why));
	assert_non_null(ca_ctx);

	service(&srv_svc, "srv", &srv_handler);
	service(&srv_tls_svc, "srv-tls", &srv_handler);
	srv_tls_svc.tls = true;
	service(&cli_svc, "cli", &cli_handler);
	service(&refused_svc, "refused", &refused_handler);
	service(&vcli_svc, "vcli", &vcli_handler);
	srv_addr = free_port();
	srv_tls_addr = free_port();
	closed = free_port();
	assert_int_equal(ev_init(1), 0);
	assert_int_equal(ev_listen(&srv_svc, (struct sockaddr *)&srv_addr,
	    sizeof(srv_addr)), 0);
	assert_int_equal(ev_listen(&srv_tls_svc,
	    (struct sockaddr *)&srv_tls_addr, sizeof(srv_tls_addr)), 0);
	assert_int_equal(ev_start(), 0);
	assert_int_equal(ev_run_in_loop(ev_loop_at(0), start_clients,
	    &closed), 0);
	for (i = 0; i < 1000 && (seen.done == 0 || seen.refused_err == 0 ||
	    !vcases_done()); i++)
		usleep(10000);
	ev_stop_accepting();
	for (i = 0; i < 300 && ev_sessions() > 0; i++)
		usleep(10000);
	ev_stop();
	SSL_CTX_free(ca_ctx);
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
	for (i = 0; i < (int)nitems(vcases); i++) {
		assert_int_equal(vcases[i].done, 1);
		assert_int_equal(vcases[i].verified, vcases[i].want);
		assert_string_equal(vcases[i].why, vcases[i].want_why);
		assert_int_equal(vcases[i].greeted_tls, vcases[i].implicit);
	}
}

/* test_client_ctx_file - CA files that cannot be used, and one that can */
static void
test_client_ctx_file(void **state)
{
	char cert[PATH_MAX], key[PATH_MAX], err[256];
	SSL_CTX *ctx;

	snprintf(cert, sizeof(cert), "%s", tu_path(state, "server.cert"));
	snprintf(key, sizeof(key), "%s", tu_path(state, "server.key"));
	assert_int_equal(tls_selfsigned_create(cert, key, "test.invalid", 2),
	    0);
	assert_null(tls_client_ctx_file(tu_path(state, "none.pem"), err,
	    sizeof(err)));
	assert_non_null(strstr(err, "none.pem: No such file or directory"));
	/* PEM, but a key: no CA certificate in it. */
	assert_null(tls_client_ctx_file(key, err, sizeof(err)));
	assert_true(strncmp(err, key, strlen(key)) == 0);
	assert_null(tls_client_ctx_file(*state, err, sizeof(err)));
	ctx = tls_client_ctx_file(cert, err, sizeof(err));
	assert_non_null(ctx);
	SSL_CTX_free(ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_connect_starttls,
		    tu_setup, tu_teardown),
		cmocka_unit_test_setup_teardown(test_client_ctx_file,
		    tu_setup, tu_teardown),
	};

	log_init("test_ev", false, getenv("TEST_LOG") != NULL,
	    getenv("TEST_LOG") != NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
