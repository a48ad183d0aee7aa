/*
 * test_smtpc.c - the SMTP/LMTP client session against a scripted server
 * on 127.0.0.1, both on one loop: pipelining, HELO fallback, policy
 * refusals, the 8BITMIME downgrade, BDAT, LMTP, STARTTLS and its
 * fallbacks, implicit TLS, certificate checks, AUTH (AUTO too), lost
 * connections, timeouts and the causes of failures, RSET, probes and the
 * transcript.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/tls.h"
#include "smtpc/smtpc.h"
#include "testutil.h"

/*
 * The scripted server: each line received is matched against the rules
 * of the test (first prefix that matches) and answered.
 */

#define R_HOLD		0x01	/* keep the reply until one without HOLD */
#define R_TLS		0x02	/* STARTTLS after the reply */
#define R_CLOSE		0x04	/* close after the reply */
#define R_GARBAGE	0x08	/* after the reply: non-TLS octets, close */

struct rule {
	const char	*prefix;	/* line prefix; NULL ends */
	const char	*reply;		/* NULL: silence */
	unsigned	 flags;
};

#define R_TAIL \
	{ "RSET", "250 2.0.0 reset\r\n", 0 }, \
	{ "QUIT", "221 2.0.0 bye\r\n", R_CLOSE }, \
	{ NULL, NULL, 0 }

#define EHLO_PIPE "250-mx.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n" \
	"250-SIZE 100000\r\n250 ENHANCEDSTATUSCODES\r\n"
#define EHLO_PLAIN "250-mx.test\r\n250 ENHANCEDSTATUSCODES\r\n"

/* Per server connection. */
struct srv_conn {
	bool		 data;		/* in DATA, until "." */
	size_t		 bdat;		/* BDAT octets still to come */
	const char	*bdat_reply;
};

static struct ev_service srv_svc, srv_tls_svc;
static struct sockaddr_in srv_addr, srv_tls_addr; /* clear, implicit TLS */
static char cert_path[PATH_MAX];	/* the server's self-signed cert */
static bool srv_silent;			/* no greeting */
static const struct rule *script;
static struct buf rx;			/* every octet the server got */
static struct buf held;			/* replies kept by R_HOLD */
static atomic_int nconn;
static atomic_int bad;			/* line of a failed CHECK on the loop */

/* CHECK - an assertion on the loop thread (cmocka's must not longjmp) */
#define CHECK(x)	do { if (!(x)) bad = __LINE__; } while (0)

/* srv_find - the rule for a line */
static const struct rule *
srv_find(const char *line)
{
	const struct rule *r;

	for (r = script; r->prefix != NULL; r++)
		if (strncmp(line, r->prefix, strlen(r->prefix)) == 0)
			return r;
	return NULL;
}

/* srv_garbage - write what no TLS client can take, and close */
static void
srv_garbage(struct conn *c)
{
	conn_printf(c, "this is no TLS record\r\n");
	conn_close(c);
}

/* srv_reply - answer by a rule */
static void
srv_reply(struct conn *c, const struct rule *r)
{
	if (r->reply != NULL && (r->flags & R_HOLD)) {
		CHECK(buf_puts(&held, r->reply) == 0);
		return;
	}
	if (r->reply != NULL) {
		conn_printf(c, "%s%s", held.data, r->reply);
		buf_reset(&held);
	}
	if ((r->flags & R_TLS) && conn_starttls(c) == -1)
		conn_close(c);
	if (r->flags & R_CLOSE)
		conn_close(c);
	if (r->flags & R_GARBAGE) {
		conn_pause(c);
		CHECK(conn_timer(c, 50, srv_garbage) == 0);
	}
}

/* srv_open - greeting */
static void
srv_open(struct conn *c)
{
	struct srv_conn *sc = calloc(1, sizeof(*sc));

	CHECK(sc != NULL);
	conn_set_data(c, sc);
	nconn++;
	buf_reset(&held);
	if (!srv_silent)
		conn_printf(c, "220 mx.test ESMTP\r\n");
}

/* srv_line - record the line, answer it */
static void
srv_line(struct conn *c, char *line, size_t len)
{
	struct srv_conn *sc = conn_data(c);
	const struct rule *r;

	CHECK(buf_append(&rx, line, len) == 0);
	CHECK(buf_puts(&rx, "\r\n") == 0);
	if (sc->data && strcmp(line, ".") != 0)
		return;
	sc->data = false;
	if ((r = srv_find(line)) == NULL) {
		conn_printf(c, "500 5.5.1 unknown\r\n");
		return;
	}
	if (strncmp(line, "BDAT ", 5) == 0) {
		sc->bdat = strtoul(line + 5, NULL, 10);
		sc->bdat_reply = r->reply;
		conn_set_raw(c, true);
		return;
	}
	srv_reply(c, r);
	if (strcmp(line, "DATA") == 0 && r->reply != NULL &&
	    strncmp(r->reply, "354", 3) == 0)
		sc->data = true;
}

/* srv_data - BDAT octets */
static size_t
srv_data(struct conn *c, const char *p, size_t len)
{
	struct srv_conn *sc = conn_data(c);
	size_t n = len < sc->bdat ? len : sc->bdat;

	CHECK(buf_append(&rx, p, n) == 0);
	sc->bdat -= n;
	if (sc->bdat == 0) {
		conn_printf(c, "%s", sc->bdat_reply);
		conn_set_raw(c, false);
	}
	return n;
}

/* srv_free - per connection state */
static void
srv_free(struct conn *c)
{
	free(conn_data(c));
}

static const struct conn_handler srv_handler = {
	.on_open = srv_open,
	.on_line = srv_line,
	.on_data = srv_data,
	.on_free = srv_free,
};

/*
 * The client under test: open, run the transactions one after the other
 * from the callbacks, then quit.
 */

static struct {
	struct smtpc_conf	 conf;
	struct sockaddr_in	 to;
	struct smtpc_txn	*txns;
	size_t			 ntxn, cur;
	bool			 failed;	/* ready_cb with an error */
	struct smtpc_result	 err;
	struct smtpc_caps	 caps;
	char			 tls[256];
	char			 auth_used[16];	/* smtpc_auth_used */
	char			 ts[20000];
	bool			 usable[4];	/* after each done_cb */
	bool			 quit_early;	/* quit with a transaction on */
	atomic_int		 done;
} tc;

static void	cli_done(struct smtpc *, void *, struct smtpc_txn *);

/* cli_finish - keep the transcript, quit */
static void
cli_finish(struct smtpc *s)
{
	snprintf(tc.ts, sizeof(tc.ts), "%s", smtpc_transcript(s)->data);
	smtpc_quit(s);
	tc.done = 1;
}

/* cli_next - the next transaction, or the end */
static void
cli_next(struct smtpc *s)
{
	if (tc.cur < tc.ntxn && smtpc_send(s, &tc.txns[tc.cur], cli_done,
	    NULL) == 0) {
		/* Busy now. */
		CHECK(smtpc_send(s, &tc.txns[tc.cur], cli_done, NULL) == -1);
		CHECK(!smtpc_usable(s));
		if (tc.quit_early)
			cli_finish(s);
		return;
	}
	cli_finish(s);
}

/* cli_done - a transaction ended */
static void
cli_done(struct smtpc *s, void *arg, struct smtpc_txn *txn)
{
	(void)arg;
	CHECK(!tc.quit_early);
	CHECK(txn == &tc.txns[tc.cur]);
	tc.usable[tc.cur++] = smtpc_usable(s);
	if (smtpc_usable(s))
		cli_next(s);
	else
		cli_finish(s);
}

/* cli_ready - set up, or failed */
static void
cli_ready(struct smtpc *s, void *arg, const struct smtpc_result *err)
{
	(void)arg;
	snprintf(tc.auth_used, sizeof(tc.auth_used), "%s",
	    smtpc_auth_used(s));
	if (err != NULL) {
		snprintf(tc.ts, sizeof(tc.ts), "%s",
		    smtpc_transcript(s)->data);
		tc.failed = true;
		tc.err = *err;
		tc.done = 1;
		return;
	}
	tc.caps = *smtpc_caps(s);
	snprintf(tc.tls, sizeof(tc.tls), "%s", smtpc_tls_info(s));
	CHECK(strstr(smtpc_peer(s), "[127.0.0.1]:") != NULL);
	cli_next(s);
}

/* cli_start - on the loop */
static void
cli_start(void *arg)
{
	(void)arg;
	if (smtpc_open(ev_loop_at(0), (struct sockaddr *)&tc.to,
	    sizeof(tc.to), &tc.conf, cli_ready, NULL) == NULL) {
		tc.failed = true;
		tc.done = 1;
	}
}

/* conf_default - a plain SMTP session */
static void
conf_default(void)
{
	memset(&tc, 0, sizeof(tc));
	srv_silent = false;
	tc.conf.helo = "client.test";
	tc.conf.log_id = "T1";
	tc.conf.to.command = 5;
	tc.to = srv_addr;
}

/* run - the session with these rules, to the end */
static void
run(const struct rule *rules)
{
	int i;

	script = rules;
	buf_reset(&rx);
	buf_reset(&held);
	nconn = 0;
	bad = 0;
	assert_int_equal(ev_run_in_loop(ev_loop_at(0), cli_start, NULL), 0);
	for (i = 0; i < 1000 && tc.done == 0; i++)
		usleep(10000);
	assert_int_equal(tc.done, 1);
	for (i = 0; i < 500 && ev_sessions() > 0; i++)
		usleep(10000);
	assert_int_equal(ev_sessions(), 0);
	assert_int_equal(bad, 0);
}

/* A message, its recipients and a transaction over them. */
static const char msg7[] = "Subject: hi\r\n\r\n.dot\r\nend\r\n";
static struct smtpc_txn_rcpt rcpts[3];
static struct smtpc_txn txns[2];

/* txn_init - transaction i with n recipients a@x.test, b@.., c@.. */
static void
txn_init(size_t i, size_t n, const char *msg, bool eightbit)
{
	static const char *const addrs[] = { "a@x.test", "b@x.test",
	    "c@x.test" };
	size_t k;

	memset(&txns[i], 0, sizeof(txns[i]));
	for (k = 0; k < n; k++) {
		memset(&rcpts[k], 0, sizeof(rcpts[k]));
		rcpts[k].r.addr = addrs[k];
	}
	txns[i].env.from = "s@x.test";
	txns[i].env.size = strlen(msg);
	txns[i].env.eightbit = eightbit;
	txns[i].rcpts = rcpts;
	txns[i].nrcpts = n;
	txns[i].data = msg;
	txns[i].len = strlen(msg);
	tc.txns = txns;
	tc.ntxn = i + 1;
}

/*
 * Tests.
 */

/* test_pipelined - one write; RCPT a refused, b accepted */
static void
test_pipelined(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", EHLO_PIPE, 0 },
		{ "MAIL", "250 2.1.0 ok\r\n", R_HOLD },
		{ "RCPT TO:<a@", "550 5.1.1 no such user\r\n", R_HOLD },
		{ "RCPT", "250 2.1.5 ok\r\n", R_HOLD },
		{ "DATA", "354 go\r\n", 0 },
		{ ".", "250 2.0.0 queued as X\r\n", 0 },
		R_TAIL
	};
	char want[512];

	(void)state;
	conf_default();
	txn_init(0, 2, msg7, false);
	run(rules);
	assert_false(tc.failed);
	assert_true(tc.caps.pipelining);
	snprintf(want, sizeof(want), "EHLO client.test\r\n"
	    "MAIL FROM:<s@x.test> SIZE=%zu\r\nRCPT TO:<a@x.test>\r\n"
	    "RCPT TO:<b@x.test>\r\nDATA\r\nSubject: hi\r\n\r\n..dot\r\n"
	    "end\r\n.\r\nQUIT\r\n", strlen(msg7));
	assert_string_equal(rx.data, want);
	assert_int_equal(rcpts[0].res.code, 550);
	assert_string_equal(rcpts[0].res.enh, "5.1.1");
	assert_string_equal(rcpts[0].res.text, "no such user");
	assert_false(rcpts[0].res.temporary);
	assert_int_equal(rcpts[0].res.stage, SMTPC_ST_RCPT);
	assert_int_equal(rcpts[1].res.code, 250);
	assert_int_equal(rcpts[1].res.stage, SMTPC_ST_DOT);
	assert_string_equal(rcpts[1].res.text, "queued as X");
	assert_int_equal(txns[0].res.code, 250);
	assert_int_equal(txns[0].naccepted, 1);
	assert_true(tc.usable[0]);
	/* Every command went out before the first reply was read. */
	assert_non_null(strstr(tc.ts, "C: DATA\nS: 250 2.1.0 ok\n"));
}

/* test_no_pipelining - one command at a time */
static void
test_no_pipelining(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", EHLO_PLAIN, 0 },
		{ "MAIL", "250 2.1.0 ok\r\n", 0 },
		{ "RCPT", "250 2.1.5 ok\r\n", 0 },
		{ "DATA", "354 go\r\n", 0 },
		{ ".", "250 2.0.0 queued\r\n", 0 },
		R_TAIL
	};

	(void)state;
	conf_default();
	txn_init(0, 2, msg7, false);
	run(rules);
	assert_int_equal(txns[0].res.code, 250);
	assert_int_equal(txns[0].naccepted, 2);
	assert_non_null(strstr(tc.ts, "C: MAIL FROM:<s@x.test>\n"
	    "S: 250 2.1.0 ok\nC: RCPT TO:<a@x.test>\nS: 250 2.1.5 ok\n"
	    "C: RCPT TO:<b@x.test>\nS: 250 2.1.5 ok\nC: DATA\nS: 354 go\n"
	    "C: <message, 30 octets>\nS: 250 2.0.0 queued\n"));
}

/* test_helo_fallback - EHLO refused with 502: HELO, no extensions */
static void
test_helo_fallback(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", "502 5.5.1 what\r\n", 0 },
		{ "HELO", "250 mx.test\r\n", 0 },
		{ "MAIL", "250 ok\r\n", 0 },
		{ "RCPT", "250 ok\r\n", 0 },
		{ "DATA", "354 go\r\n", 0 },
		{ ".", "250 queued\r\n", 0 },
		R_TAIL
	};

	(void)state;
	conf_default();
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_false(tc.caps.esmtp);
	assert_int_equal(txns[0].res.code, 250);
	assert_string_equal(rx.data, "EHLO client.test\r\nHELO client.test\r\n"
	    "MAIL FROM:<s@x.test>\r\nRCPT TO:<a@x.test>\r\nDATA\r\n"
	    "Subject: hi\r\n\r\n..dot\r\nend\r\n.\r\nQUIT\r\n");
}

/* test_size_refused - bigger than SIZE: 552 5.3.4, no MAIL sent */
static void
test_size_refused(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", "250-mx.test\r\n250 SIZE 10\r\n", 0 },
		R_TAIL
	};

	(void)state;
	conf_default();
	txn_init(0, 2, msg7, false);
	run(rules);
	assert_int_equal(txns[0].res.code, 552);
	assert_string_equal(txns[0].res.enh, "5.3.4");
	assert_false(txns[0].res.temporary);
	assert_int_equal(txns[0].res.stage, SMTPC_ST_POLICY);
	assert_int_equal(txns[0].res.why, SMTPC_WHY_NONE);
	assert_int_equal(rcpts[1].res.code, 552);
	assert_int_equal(txns[0].naccepted, 0);
	assert_true(tc.usable[0]);
	assert_string_equal(rx.data, "EHLO client.test\r\nQUIT\r\n");
}

/* test_8bit - downgraded to quoted-printable without 8BITMIME */
static void
test_8bit(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", "250-mx.test\r\n250 PIPELINING\r\n", 0 },
		{ "MAIL", "250 ok\r\n", 0 },
		{ "RCPT", "250 ok\r\n", 0 },
		{ "DATA", "354 go\r\n", 0 },
		{ ".", "250 queued\r\n", 0 },
		R_TAIL
	};
	static const char m8[] = "Subject: x\r\n\r\ncaf\xc3\xa9\r\n";

	(void)state;
	conf_default();
	txn_init(0, 1, m8, true);
	run(rules);
	assert_int_equal(txns[0].res.code, 250);
	assert_non_null(strstr(rx.data, "\r\ncaf=C3=A9\r\n.\r\n"));
	assert_non_null(strstr(rx.data,
	    "Content-Transfer-Encoding: quoted-printable\r\n"));
	assert_null(strstr(rx.data, "BODY=8BITMIME"));
	assert_null(strchr(rx.data, '\xc3'));
}

/* test_8bitmime - sent as it is, with BODY=8BITMIME */
static void
test_8bitmime(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", EHLO_PIPE, 0 },
		{ "MAIL", "250 ok\r\n", 0 },
		{ "RCPT", "250 ok\r\n", 0 },
		{ "DATA", "354 go\r\n", 0 },
		{ ".", "250 queued\r\n", 0 },
		R_TAIL
	};
	static const char m8[] = "Subject: x\r\n\r\ncaf\xc3\xa9\r\n";
	char want[128];

	(void)state;
	conf_default();
	txn_init(0, 1, m8, true);
	run(rules);
	assert_int_equal(txns[0].res.code, 250);
	snprintf(want, sizeof(want), "MAIL FROM:<s@x.test> SIZE=%zu"
	    " BODY=8BITMIME\r\n", strlen(m8));
	assert_non_null(strstr(rx.data, want));
	assert_non_null(strstr(rx.data, "\r\n\r\ncaf\xc3\xa9\r\n.\r\n"));
}

/* test_bdat - CHUNKING: BDAT n LAST with CRLF-clean octets */
static void
test_bdat(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", "250-mx.test\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
		    0 },
		{ "MAIL", "250 ok\r\n", 0 },
		{ "RCPT", "250 ok\r\n", 0 },
		{ "BDAT", "250 2.0.0 queued\r\n", 0 },
		R_TAIL
	};
	static const char m[] = "Subject: x\n\n.dot\rend";

	(void)state;
	conf_default();
	txn_init(0, 1, m, false);
	run(rules);
	assert_int_equal(txns[0].res.code, 250);
	assert_int_equal(rcpts[0].res.code, 250);
	assert_string_equal(rx.data, "EHLO client.test\r\nMAIL FROM:<s@x.test>"
	    "\r\nRCPT TO:<a@x.test>\r\nBDAT 25 LAST\r\n"
	    "Subject: x\r\n\r\n.dot\r\nend\r\nQUIT\r\n");
	assert_non_null(strstr(tc.ts, "C: BDAT 25 LAST\n"
	    "C: <message, 25 octets>\n"));
}

/* test_lmtp - one reply per accepted recipient after the dot */
static void
test_lmtp(void **state)
{
	static const struct rule rules[] = {
		{ "LHLO", EHLO_PIPE, 0 },
		{ "MAIL", "250 ok\r\n", 0 },
		{ "RCPT TO:<b@", "550 5.1.1 unknown\r\n", 0 },
		{ "RCPT", "250 ok\r\n", 0 },
		{ "DATA", "354 go\r\n", 0 },
		{ ".", "250 2.0.0 delivered\r\n452 4.2.2 mailbox full\r\n", 0 },
		R_TAIL
	};

	(void)state;
	conf_default();
	tc.conf.lmtp = true;
	txn_init(0, 3, msg7, false);
	run(rules);
	assert_true(strncmp(rx.data, "LHLO client.test\r\n", 18) == 0);
	assert_int_equal(rcpts[0].res.code, 250);
	assert_string_equal(rcpts[0].res.text, "delivered");
	assert_int_equal(rcpts[1].res.code, 550);
	assert_int_equal(rcpts[2].res.code, 452);
	assert_true(rcpts[2].res.temporary);
	assert_string_equal(rcpts[2].res.enh, "4.2.2");
	assert_int_equal(txns[0].res.code, 250);
	assert_int_equal(txns[0].naccepted, 1);
	assert_true(tc.usable[0]);
}

/* Rules of a server with STARTTLS; the STARTTLS row varies. */
#define TLS_RULES(reply, flags) { \
		{ "EHLO", "250-mx.test\r\n250-STARTTLS\r\n250 PIPELINING\r\n", \
		    0 }, \
		{ "STARTTLS", reply, flags }, \
		{ "MAIL", "250 ok\r\n", 0 }, \
		{ "RCPT", "250 ok\r\n", 0 }, \
		{ "DATA", "354 go\r\n", 0 }, \
		{ ".", "250 queued\r\n", 0 }, \
		R_TAIL \
	}

/* test_starttls - need_tls 1, offered, works: unverified self-signed */
static void
test_starttls(void **state)
{
	static const struct rule rules[] = TLS_RULES(
	    "220 2.0.0 go\r\n", R_TLS);

	(void)state;
	conf_default();
	tc.conf.need_tls = 1;
	tc.conf.servername = "localhost";
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_false(tc.failed);
	assert_int_equal(txns[0].res.code, 250);
	assert_int_equal(nconn, 1);
	assert_true(strncmp(tc.tls, "TLS", 3) == 0);
	assert_non_null(strstr(tc.tls, " unverified ("));
	assert_true(strncmp(rx.data, "EHLO client.test\r\nSTARTTLS\r\n"
	    "EHLO client.test\r\nMAIL", 50) == 0);
}

/* test_starttls_454 - refused: deliver in clear on the same connection */
static void
test_starttls_454(void **state)
{
	static const struct rule rules[] = TLS_RULES(
	    "454 4.7.0 no TLS today\r\n", 0);

	(void)state;
	conf_default();
	tc.conf.need_tls = 1;
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_false(tc.failed);
	assert_int_equal(nconn, 1);
	assert_string_equal(tc.tls, "");
	assert_int_equal(txns[0].res.code, 250);
	assert_true(strncmp(rx.data, "EHLO client.test\r\nSTARTTLS\r\n"
	    "MAIL", 32) == 0);
}

/* test_starttls_garbage - handshake fails: reconnect, deliver in clear */
static void
test_starttls_garbage(void **state)
{
	static const struct rule rules[] = TLS_RULES(
	    "220 go\r\n", R_GARBAGE);

	(void)state;
	conf_default();
	tc.conf.need_tls = 1;
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_false(tc.failed);
	assert_int_equal(nconn, 2);
	assert_string_equal(tc.tls, "");
	assert_int_equal(txns[0].res.code, 250);
}

/* test_tls_required - need_tls 2, not offered: failure at STARTTLS */
static void
test_tls_required(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", EHLO_PIPE, 0 },
		R_TAIL
	};

	(void)state;
	conf_default();
	tc.conf.need_tls = 2;
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_true(tc.failed);
	assert_int_equal(tc.err.stage, SMTPC_ST_STARTTLS);
	assert_int_equal(tc.err.code / 100, 4);
	assert_true(tc.err.temporary);
	assert_int_equal(tc.err.why, SMTPC_WHY_NO_STARTTLS);
	assert_string_equal(rx.data, "EHLO client.test\r\nQUIT\r\n");
}

/* Rules of a server with AUTH; the AUTH rows vary. */
#define AUTH_EHLO { "EHLO", "250-mx.test\r\n250-AUTH PLAIN LOGIN CRAM-MD5" \
	"\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING\r\n", 0 }
#define AUTH_TAIL \
	{ "MAIL", "250 ok\r\n", 0 }, \
	{ "RCPT", "250 ok\r\n", 0 }, \
	{ "DATA", "354 go\r\n", 0 }, \
	{ ".", "250 queued\r\n", 0 }, \
	R_TAIL

static struct smtpc_auth auth;

/* auth_conf - credentials for the test */
static void
auth_conf(unsigned mech, const char *user, const char *pass)
{
	auth.mech = mech;
	snprintf(auth.user, sizeof(auth.user), "%s", user);
	snprintf(auth.pass, sizeof(auth.pass), "%s", pass);
	tc.conf.auth = &auth;
}

/* test_auth_plain - initial response; the transcript masks it */
static void
test_auth_plain(void **state)
{
	static const struct rule rules[] = {
		AUTH_EHLO,
		{ "AUTH PLAIN AHVzZXIAcGFzcw==", "235 2.7.0 ok\r\n", 0 },
		AUTH_TAIL
	};

	(void)state;
	conf_default();
	auth_conf(SMTPC_AUTH_PLAIN, "user", "pass");
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_false(tc.failed);
	assert_int_equal(txns[0].res.code, 250);
	assert_true(strncmp(rx.data, "EHLO client.test\r\n"
	    "AUTH PLAIN AHVzZXIAcGFzcw==\r\nMAIL", 51) == 0);
	assert_non_null(strstr(tc.ts, "C: AUTH PLAIN ****\nS: 235 2.7.0 ok\n"));
	assert_null(strstr(tc.ts, "AHVz"));
}

/* test_auth_login - username and password at the 334 prompts */
static void
test_auth_login(void **state)
{
	static const struct rule rules[] = {
		AUTH_EHLO,
		{ "AUTH LOGIN", "334 VXNlcm5hbWU6\r\n", 0 },
		{ "dXNlcg==", "334 UGFzc3dvcmQ6\r\n", 0 },
		{ "cGFzcw==", "235 ok\r\n", 0 },
		AUTH_TAIL
	};

	(void)state;
	conf_default();
	auth_conf(SMTPC_AUTH_LOGIN, "user", "pass");
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_false(tc.failed);
	assert_true(strncmp(rx.data, "EHLO client.test\r\nAUTH LOGIN\r\n"
	    "dXNlcg==\r\ncGFzcw==\r\nMAIL", 54) == 0);
	assert_non_null(strstr(tc.ts, "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\n"
	    "C: ****\nS: 334 UGFzc3dvcmQ6\nC: ****\nS: 235 ok\n"));
}

/* test_auth_cram - RFC 2195's example exchange */
static void
test_auth_cram(void **state)
{
	static const struct rule rules[] = {
		AUTH_EHLO,
		{ "AUTH CRAM-MD5", "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2Uu"
		    "cmVzdG9uLm1jaS5uZXQ+\r\n", 0 },
		{ "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",
		    "235 ok\r\n", 0 },
		AUTH_TAIL
	};

	(void)state;
	conf_default();
	auth_conf(SMTPC_AUTH_CRAM_MD5, "tim", "tanstaaftanstaaf");
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_false(tc.failed);
	assert_int_equal(txns[0].res.code, 250);
	assert_non_null(strstr(rx.data, "AUTH CRAM-MD5\r\n"
	    "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\nMAIL"));
}

/* test_auth_refused - 535: permanent failure at AUTH */
static void
test_auth_refused(void **state)
{
	static const struct rule rules[] = {
		AUTH_EHLO,
		{ "AUTH", "535 5.7.8 bad credentials\r\n", 0 },
		AUTH_TAIL
	};

	(void)state;
	conf_default();
	auth_conf(SMTPC_AUTH_PLAIN, "user", "wrong");
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_true(tc.failed);
	assert_int_equal(tc.err.code, 535);
	assert_string_equal(tc.err.enh, "5.7.8");
	assert_false(tc.err.temporary);
	assert_int_equal(tc.err.stage, SMTPC_ST_AUTH);
	/* A reply of the server, not a local cause. */
	assert_int_equal(tc.err.why, SMTPC_WHY_NONE);
	assert_string_equal(tc.auth_used, "PLAIN");
}

/* test_closed_after_rcpt - every recipient 421, session unusable */
static void
test_closed_after_rcpt(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", EHLO_PLAIN, 0 },
		{ "MAIL", "250 ok\r\n", 0 },
		{ "RCPT TO:<a@", "250 ok\r\n", 0 },
		{ "RCPT", NULL, R_CLOSE },
		R_TAIL
	};

	(void)state;
	conf_default();
	txn_init(0, 2, msg7, false);
	run(rules);
	assert_int_equal(rcpts[0].res.code, 421);
	assert_true(rcpts[0].res.temporary);
	assert_int_equal(rcpts[1].res.code, 421);
	assert_string_equal(rcpts[1].res.text, "connection lost after RCPT");
	assert_int_equal(rcpts[1].res.stage, SMTPC_ST_RCPT);
	assert_int_equal(rcpts[1].res.why, SMTPC_WHY_CLOSED);
	assert_int_equal(txns[0].res.why, SMTPC_WHY_CLOSED);
	assert_int_equal(txns[0].res.code, 421);
	assert_int_equal(txns[0].naccepted, 0);
	assert_false(tc.usable[0]);
}

/* test_timeout - no reply to RCPT within 1 s */
static void
test_timeout(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", EHLO_PLAIN, 0 },
		{ "MAIL", "250 ok\r\n", 0 },
		{ "RCPT", NULL, 0 },
		R_TAIL
	};

	(void)state;
	conf_default();
	tc.conf.to.command = 1;
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_int_equal(rcpts[0].res.code, 421);
	assert_string_equal(rcpts[0].res.enh, "4.4.2");
	assert_string_equal(rcpts[0].res.text,
	    "timeout waiting for reply to RCPT");
	assert_int_equal(rcpts[0].res.why, SMTPC_WHY_TIMEOUT);
	assert_false(tc.usable[0]);
}

/* test_garbage - a reply that is not SMTP: 421, unusable */
static void
test_garbage(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", EHLO_PIPE, 0 },
		{ "MAIL", "hello there\r\n", 0 },
		R_TAIL
	};

	(void)state;
	conf_default();
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_int_equal(rcpts[0].res.code, 421);
	assert_true(rcpts[0].res.temporary);
	assert_int_equal(txns[0].res.code, 421);
	assert_int_equal(txns[0].res.why, SMTPC_WHY_PROTOCOL);
	assert_false(tc.usable[0]);
}

/* test_rset - the second transaction, after a failed one, sends RSET */
static void
test_rset(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", EHLO_PIPE, 0 },
		{ "MAIL FROM:<bad", "451 4.3.0 try later\r\n", 0 },
		{ "MAIL", "250 ok\r\n", 0 },
		{ "RCPT", "250 ok\r\n", 0 },
		{ "DATA", "354 go\r\n", 0 },
		{ ".", "250 queued\r\n", 0 },
		R_TAIL
	};
	char want[512];

	(void)state;
	conf_default();
	txn_init(1, 1, msg7, false);
	txn_init(0, 1, msg7, false);
	txns[0].env.from = "bad@x.test";
	tc.ntxn = 2;
	run(rules);
	assert_int_equal(txns[0].res.code, 451);
	assert_true(txns[0].res.temporary);
	assert_int_equal(txns[0].res.stage, SMTPC_ST_MAIL);
	assert_int_equal(txns[0].res.why, SMTPC_WHY_NONE);
	assert_true(tc.usable[0]);
	assert_int_equal(txns[1].res.code, 250);
	assert_int_equal(rcpts[0].res.code, 250);
	/* MAIL failed, DATA got 354 anyway: a lone dot (RFC 2920 3.1). */
	snprintf(want, sizeof(want), "RCPT TO:<a@x.test>\r\nDATA\r\n.\r\n"
	    "RSET\r\nMAIL FROM:<s@x.test>"
	    " SIZE=%zu\r\nRCPT", strlen(msg7));
	assert_non_null(strstr(rx.data, want));
}

/* test_quit_busy - quit with a transaction on: no callback, no QUIT */
static void
test_quit_busy(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", EHLO_PLAIN, 0 },
		{ "MAIL", "250 ok\r\n", 0 },
		R_TAIL
	};

	(void)state;
	conf_default();
	tc.quit_early = true;
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_int_equal(tc.cur, 0);
	assert_null(strstr(rx.data, "QUIT"));
}

/* test_refused - nobody listening: failure at CONNECT */
static void
test_refused(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	conf_default();
	tc.to = sin;
	run(NULL);
	assert_true(tc.failed);
	assert_int_equal(tc.err.code, 421);
	assert_int_equal(tc.err.stage, SMTPC_ST_CONNECT);
	assert_true(tc.err.temporary);
	assert_int_equal(tc.err.why, SMTPC_WHY_REFUSED);
}

/* test_tls_required_454 - need_tls 2, STARTTLS refused: NO_STARTTLS */
static void
test_tls_required_454(void **state)
{
	static const struct rule rules[] = TLS_RULES(
	    "454 4.7.0 no TLS today\r\n", 0);

	(void)state;
	conf_default();
	tc.conf.need_tls = 2;
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_true(tc.failed);
	assert_int_equal(tc.err.code, 421);
	assert_string_equal(tc.err.enh, "4.7.10");
	assert_int_equal(tc.err.why, SMTPC_WHY_NO_STARTTLS);
	assert_string_equal(tc.err.text,
	    "TLS required but STARTTLS refused: 454 4.7.0 no TLS today");
	assert_string_equal(rx.data,
	    "EHLO client.test\r\nSTARTTLS\r\nQUIT\r\n");
}

/*
 * test_implicit_tls - SMTPS: the handshake before the greeting, no
 * STARTTLS although offered and need_tls 2, the certificate verified
 */
static void
test_implicit_tls(void **state)
{
	static const struct rule rules[] = TLS_RULES("220 go\r\n", R_TLS);

	(void)state;
	conf_default();
	tc.to = srv_tls_addr;
	tc.conf.tls_implicit = true;
	tc.conf.need_tls = 2;
	tc.conf.tls_verify = true;
	tc.conf.tls_ca_file = cert_path;
	tc.conf.servername = "test.invalid";
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_false(tc.failed);
	assert_int_equal(nconn, 1);
	assert_true(tc.caps.starttls);
	assert_true(strncmp(tc.tls, "TLS", 3) == 0);
	assert_non_null(strstr(tc.tls, " verified"));
	assert_int_equal(txns[0].res.code, 250);
	assert_true(strncmp(rx.data, "EHLO client.test\r\nMAIL", 22) == 0);
	assert_null(strstr(rx.data, "STARTTLS"));
	assert_true(strncmp(tc.ts, "S: 220 mx.test ESMTP\nC: EHLO", 28) == 0);
}

/*
 * test_implicit_not_tls - SMTPS to a clear-text server: the handshake
 * fails, no clear-text retry even with need_tls 1
 */
static void
test_implicit_not_tls(void **state)
{
	static const struct rule rules[] = { { "EHLO", EHLO_PIPE, 0 },
	    R_TAIL };

	(void)state;
	conf_default();
	tc.conf.tls_implicit = true;
	tc.conf.need_tls = 1;
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_true(tc.failed);
	assert_int_equal(nconn, 1);
	assert_int_equal(tc.err.code, 421);
	assert_true(tc.err.temporary);
	assert_int_equal(tc.err.stage, SMTPC_ST_STARTTLS);
	assert_int_equal(tc.err.why, SMTPC_WHY_TLS_HANDSHAKE);
	assert_non_null(strstr(tc.err.text, "after TLS handshake"));
	assert_null(strstr(rx.data, "EHLO"));
}

/*
 * test_tls_verify - tls_verify over STARTTLS with need_tls 1: the CA file,
 * the name or address checked, and no clear-text retry on a failure
 */
static void
test_tls_verify(void **state)
{
	static const struct rule rules[] = TLS_RULES("220 go\r\n", R_TLS);
	static const struct {
		bool		 ca;		/* trust the server's cert */
		const char	*name;		/* servername */
		const char	*fail;		/* NULL, or in the text */
	} cases[] = {
		{ false, "test.invalid", "certificate not trusted: self" },
		{ true, "test.invalid", NULL },
		{ true, "TEST.invalid", NULL },
		{ true, NULL, NULL },		/* the chain only */
		{ true, "localhost", "certificate not trusted: hostname" },
		{ true, "127.0.0.1", "certificate not trusted: IP address" },
		{ true, "[127.0.0.1]", "certificate not trusted: IP address" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		conf_default();
		tc.conf.need_tls = 1;
		tc.conf.tls_verify = true;
		tc.conf.tls_ca_file = cases[i].ca ? cert_path : NULL;
		tc.conf.servername = cases[i].name;
		txn_init(0, 1, msg7, false);
		run(rules);
		assert_int_equal(nconn, 1);
		if (cases[i].fail == NULL) {
			assert_false(tc.failed);
			assert_non_null(strstr(tc.tls, " verified"));
			assert_int_equal(txns[0].res.code, 250);
			continue;
		}
		assert_true(tc.failed);
		assert_int_equal(tc.err.code, 421);
		assert_string_equal(tc.err.enh, "4.7.5");
		assert_int_equal(tc.err.stage, SMTPC_ST_STARTTLS);
		assert_int_equal(tc.err.why, SMTPC_WHY_TLS_CERT);
		assert_true(strncmp(tc.err.text, cases[i].fail,
		    strlen(cases[i].fail)) == 0);
		/* QUIT over TLS; nothing else after the handshake. */
		assert_string_equal(rx.data, "EHLO client.test\r\nSTARTTLS\r\n"
		    "QUIT\r\n");
	}
}

/* test_tls_verify_implicit - SMTPS with an untrusted certificate */
static void
test_tls_verify_implicit(void **state)
{
	static const struct rule rules[] = { { "EHLO", EHLO_PIPE, 0 },
	    R_TAIL };

	(void)state;
	conf_default();
	tc.to = srv_tls_addr;
	tc.conf.tls_implicit = true;
	tc.conf.tls_verify = true;
	tc.conf.servername = "test.invalid";
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_true(tc.failed);
	assert_int_equal(tc.err.why, SMTPC_WHY_TLS_CERT);
	assert_string_equal(rx.data, "");
}

/* test_tls_noverify - without tls_verify an untrusted cert is logged */
static void
test_tls_noverify(void **state)
{
	static const struct rule rules[] = TLS_RULES("220 go\r\n", R_TLS);

	(void)state;
	conf_default();
	tc.conf.need_tls = 2;
	tc.conf.tls_ca_file = cert_path;
	tc.conf.servername = "localhost";
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_false(tc.failed);
	assert_non_null(strstr(tc.tls, " unverified (hostname mismatch)"));
	assert_int_equal(txns[0].res.code, 250);
}

/* test_ca_file_bad - a CA file that cannot be used: LOCAL, no connect */
static void
test_ca_file_bad(void **state)
{
	static const struct rule rules[] = { R_TAIL };
	const char *const files[] = { "/nonexistent/ca.pem",
	    tu_path(state, "empty.pem") };
	const char *const why[] = { "No such file or directory",
	    "empty.pem: " };
	size_t i;

	assert_int_equal(fs_write_new(files[1], "no certificate\n", 15,
	    0600), 0);
	for (i = 0; i < nitems(files); i++) {
		conf_default();
		tc.conf.need_tls = 1;
		tc.conf.tls_ca_file = files[i];
		txn_init(0, 1, msg7, false);
		run(rules);
		assert_true(tc.failed);
		assert_int_equal(nconn, 0);
		assert_int_equal(tc.err.code, 421);
		assert_string_equal(tc.err.enh, "4.3.5");
		assert_int_equal(tc.err.stage, SMTPC_ST_STARTTLS);
		assert_int_equal(tc.err.why, SMTPC_WHY_LOCAL);
		assert_true(strncmp(tc.err.text, "CA file not loaded: ", 20) ==
		    0);
		assert_non_null(strstr(tc.err.text, why[i]));
	}
}

/* test_auth_auto - CRAM-MD5 > PLAIN > LOGIN, or none to use */
static void
test_auth_auto(void **state)
{
	static const struct {
		const char	*ehlo;		/* EHLO reply */
		const char	*used;		/* smtpc_auth_used, "" */
		const char	*fail;		/* failure text, or NULL */
	} cases[] = {
		{ "250-mx.test\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n"
		    "250 PIPELINING\r\n", "CRAM-MD5", NULL },
		{ "250-mx.test\r\n250-AUTH LOGIN PLAIN\r\n250 PIPELINING\r\n",
		    "PLAIN", NULL },
		{ "250-mx.test\r\n250-AUTH=LOGIN\r\n250 PIPELINING\r\n",
		    "LOGIN", NULL },
		{ "250-mx.test\r\n250-AUTH GSSAPI XOAUTH2\r\n250 PIPELINING"
		    "\r\n", "", "the server offers no supported AUTH mechanism"
		    " (offered: GSSAPI XOAUTH2)" },
		{ EHLO_PIPE, "", "the server offers no supported AUTH"
		    " mechanism (offered: none)" },
	};
	struct rule rules[] = {
		{ "EHLO", NULL, 0 },
		{ "AUTH CRAM-MD5", "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2Uu"
		    "cmVzdG9uLm1jaS5uZXQ+\r\n", 0 },
		/* tim's RFC 2195 response */
		{ "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",
		    "235 ok\r\n", 0 },
		{ "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm",
		    "235 ok\r\n", 0 },
		{ "AUTH LOGIN", "334 VXNlcm5hbWU6\r\n", 0 },
		{ "dGlt", "334 UGFzc3dvcmQ6\r\n", 0 },
		{ "dGFuc3RhYWZ0YW5zdGFhZg==", "235 ok\r\n", 0 },
		AUTH_TAIL
	};
	char want[64];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		conf_default();
		auth_conf(SMTPC_AUTH_AUTO, "tim", "tanstaaftanstaaf");
		txn_init(0, 1, msg7, false);
		rules[0].reply = cases[i].ehlo;
		run(rules);
		assert_string_equal(tc.auth_used, cases[i].used);
		if (cases[i].fail != NULL) {
			assert_true(tc.failed);
			assert_int_equal(tc.err.code, 530);
			assert_false(tc.err.temporary);
			assert_int_equal(tc.err.stage, SMTPC_ST_AUTH);
			assert_int_equal(tc.err.why, SMTPC_WHY_NO_AUTH_MECH);
			assert_string_equal(tc.err.text, cases[i].fail);
			assert_string_equal(rx.data,
			    "EHLO client.test\r\nQUIT\r\n");
			continue;
		}
		assert_false(tc.failed);
		assert_int_equal(txns[0].res.code, 250);
		snprintf(want, sizeof(want), "EHLO client.test\r\nAUTH %s",
		    cases[i].used);
		assert_true(strncmp(rx.data, want, strlen(want)) == 0);
	}
}

/* test_auth_not_offered - a given mechanism the server lacks */
static void
test_auth_not_offered(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", "250-mx.test\r\n250 AUTH LOGIN\r\n", 0 },
		AUTH_TAIL
	};

	(void)state;
	conf_default();
	auth_conf(SMTPC_AUTH_CRAM_MD5, "user", "pass");
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_true(tc.failed);
	assert_int_equal(tc.err.code, 530);
	assert_int_equal(tc.err.why, SMTPC_WHY_NO_AUTH_MECH);
	assert_string_equal(tc.err.text,
	    "the authentication mechanism is not offered");
	assert_string_equal(tc.auth_used, "");
}

/* test_greeting_timeout - a server that never greets: TIMEOUT */
static void
test_greeting_timeout(void **state)
{
	static const struct rule rules[] = { R_TAIL };

	(void)state;
	conf_default();
	srv_silent = true;
	tc.conf.to.greeting = 1;
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_true(tc.failed);
	assert_int_equal(tc.err.code, 421);
	assert_string_equal(tc.err.enh, "4.4.2");
	assert_int_equal(tc.err.stage, SMTPC_ST_GREETING);
	assert_int_equal(tc.err.why, SMTPC_WHY_TIMEOUT);
	assert_string_equal(tc.err.text,
	    "timeout waiting for reply to greeting");
}

/* test_closed_at_ehlo - the server hangs up: CLOSED at EHLO */
static void
test_closed_at_ehlo(void **state)
{
	static const struct rule rules[] = { { "EHLO", NULL, R_CLOSE },
	    R_TAIL };

	(void)state;
	conf_default();
	txn_init(0, 1, msg7, false);
	run(rules);
	assert_true(tc.failed);
	assert_int_equal(tc.err.code, 421);
	assert_int_equal(tc.err.stage, SMTPC_ST_EHLO);
	assert_int_equal(tc.err.why, SMTPC_WHY_CLOSED);
	assert_string_equal(tc.err.text, "connection lost after EHLO");
	/* The transcript is there in the failure callback too. */
	assert_string_equal(tc.ts,
	    "S: 220 mx.test ESMTP\nC: EHLO client.test\n");
}

static struct smtpc_txn_rcpt prcpts[2];	/* a probe's recipients */

/* probe_init - transaction i: a probe of a@x.test and b@x.test */
static void
probe_init(size_t i, uint64_t size)
{
	memset(&txns[i], 0, sizeof(txns[i]));
	memset(prcpts, 0, sizeof(prcpts));
	prcpts[0].r.addr = "a@x.test";
	prcpts[1].r.addr = "b@x.test";
	txns[i].env.from = "s@x.test";
	txns[i].env.size = size;
	txns[i].rcpts = prcpts;
	txns[i].nrcpts = 2;
	tc.txns = txns;
	if (tc.ntxn < i + 1)
		tc.ntxn = i + 1;
}

/*
 * test_probe - MAIL and the RCPTs pipelined, no DATA; the next
 * transaction on the session begins with RSET
 */
static void
test_probe(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", EHLO_PIPE, 0 },
		{ "MAIL", "250 2.1.0 ok\r\n", R_HOLD },
		{ "RCPT TO:<b@", "550 5.1.1 no such user\r\n", 0 },
		{ "RCPT", "250 2.1.5 ok\r\n", R_HOLD },
		{ "DATA", "354 go\r\n", 0 },
		{ ".", "250 2.0.0 queued\r\n", 0 },
		R_TAIL
	};
	char want[512];

	(void)state;
	conf_default();
	txn_init(1, 1, msg7, false);
	probe_init(0, 0);
	run(rules);
	assert_false(tc.failed);
	assert_int_equal(prcpts[0].res.code, 250);
	assert_int_equal(prcpts[0].res.stage, SMTPC_ST_RCPT);
	assert_string_equal(prcpts[0].res.text, "ok");
	assert_int_equal(prcpts[1].res.code, 550);
	assert_string_equal(prcpts[1].res.enh, "5.1.1");
	assert_false(prcpts[1].res.temporary);
	assert_int_equal(txns[0].res.code, 250);
	assert_string_equal(txns[0].res.enh, "2.1.5");
	assert_string_equal(txns[0].res.text, "1 of 2 recipients accepted");
	assert_int_equal(txns[0].res.why, SMTPC_WHY_NONE);
	assert_int_equal(txns[0].naccepted, 1);
	assert_true(tc.usable[0]);
	/* The real one after it. */
	assert_int_equal(txns[1].res.code, 250);
	assert_int_equal(rcpts[0].res.code, 250);
	assert_int_equal(rcpts[0].res.stage, SMTPC_ST_DOT);
	snprintf(want, sizeof(want), "EHLO client.test\r\n"
	    "MAIL FROM:<s@x.test>\r\nRCPT TO:<a@x.test>\r\n"
	    "RCPT TO:<b@x.test>\r\nRSET\r\nMAIL FROM:<s@x.test> SIZE=%zu\r\n"
	    "RCPT TO:<a@x.test>\r\nDATA\r\nSubject: hi\r\n\r\n..dot\r\n"
	    "end\r\n.\r\nQUIT\r\n", strlen(msg7));
	assert_string_equal(rx.data, want);
	/* One write: the RCPTs went out before MAIL's reply was read. */
	assert_non_null(strstr(tc.ts, "C: RCPT TO:<b@x.test>\n"
	    "S: 250 2.1.0 ok\n"));
}

/*
 * test_probe_refused - one command at a time; a SIZE over the server's
 * limit is no local refusal for a probe: MAIL's 552 answers everyone
 */
static void
test_probe_refused(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", "250-mx.test\r\n250-ENHANCEDSTATUSCODES\r\n"
		    "250 SIZE 100\r\n", 0 },
		{ "MAIL", "552 5.3.4 too big\r\n", 0 },
		R_TAIL
	};

	(void)state;
	conf_default();
	probe_init(0, 5000);
	run(rules);
	assert_int_equal(txns[0].res.code, 552);
	assert_int_equal(txns[0].res.stage, SMTPC_ST_MAIL);
	assert_int_equal(prcpts[0].res.code, 552);
	assert_int_equal(prcpts[1].res.code, 552);
	assert_int_equal(txns[0].naccepted, 0);
	assert_true(tc.usable[0]);
	assert_string_equal(rx.data, "EHLO client.test\r\n"
	    "MAIL FROM:<s@x.test> SIZE=5000\r\nQUIT\r\n");
}

/* test_probe_none - every RCPT refused: the last refusal */
static void
test_probe_none(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", EHLO_PLAIN, 0 },
		{ "MAIL", "250 ok\r\n", 0 },
		{ "RCPT TO:<a@", "450 4.2.1 later\r\n", 0 },
		{ "RCPT", "550 5.1.1 unknown\r\n", 0 },
		R_TAIL
	};

	(void)state;
	conf_default();
	probe_init(0, 0);
	probe_init(1, 0);
	run(rules);
	assert_int_equal(prcpts[0].res.code, 450);
	assert_true(prcpts[0].res.temporary);
	assert_int_equal(prcpts[1].res.code, 550);
	assert_int_equal(txns[1].res.code, 550);
	assert_string_equal(txns[1].res.text, "unknown");
	assert_int_equal(txns[1].naccepted, 0);
	assert_true(tc.usable[1]);
	assert_string_equal(rx.data, "EHLO client.test\r\n"
	    "MAIL FROM:<s@x.test>\r\nRCPT TO:<a@x.test>\r\n"
	    "RCPT TO:<b@x.test>\r\nRSET\r\nMAIL FROM:<s@x.test>\r\n"
	    "RCPT TO:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nQUIT\r\n");
}

/* test_probe_bad - data NULL with a length: refused, no callback */
static void
test_probe_bad(void **state)
{
	static const struct rule rules[] = { { "EHLO", EHLO_PIPE, 0 },
	    R_TAIL };

	(void)state;
	conf_default();
	probe_init(0, 0);
	txns[0].len = 10;
	run(rules);
	assert_false(tc.failed);
	assert_int_equal(tc.cur, 0);
	assert_string_equal(rx.data, "EHLO client.test\r\nQUIT\r\n");
}

/*
 * test_transcript_setup - a session that carries no transaction: the
 * greeting, EHLO, STARTTLS and AUTH, the credentials masked
 */
static void
test_transcript_setup(void **state)
{
	static const struct rule rules[] = {
		{ "EHLO", "250-mx.test\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n",
		    0 },
		{ "STARTTLS", "220 2.0.0 go\r\n", R_TLS },
		{ "AUTH PLAIN AHVzZXIAcGFzcw==", "235 2.7.0 ok\r\n", 0 },
		R_TAIL
	};

	(void)state;
	conf_default();
	tc.conf.need_tls = 2;
	auth_conf(SMTPC_AUTH_AUTO, "user", "pass");
	tc.ntxn = 0;
	run(rules);
	assert_false(tc.failed);
	assert_string_equal(tc.auth_used, "PLAIN");
	assert_string_equal(tc.ts, "S: 220 mx.test ESMTP\n"
	    "C: EHLO client.test\nS: 250-mx.test\nS: 250-STARTTLS\n"
	    "S: 250 AUTH PLAIN\nC: STARTTLS\nS: 220 2.0.0 go\n"
	    "C: EHLO client.test\nS: 250-mx.test\nS: 250-STARTTLS\n"
	    "S: 250 AUTH PLAIN\nC: AUTH PLAIN ****\nS: 235 2.7.0 ok\n");
	assert_string_equal(rx.data, "EHLO client.test\r\nSTARTTLS\r\n"
	    "EHLO client.test\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nQUIT\r\n");
}

/*
 * Set-up: a TLS certificate, one loop, the server listening.
 */

/* free_port - a loopback port nobody listens on now; 0 or -1 */
static int
free_port(struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)sin, sizeof(*sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)sin, &len) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* group_setup - certificate, config, loop, listeners */
static int
group_setup(void **state)
{
	struct config *cfg;
	char cert[PATH_MAX], key[PATH_MAX];

	if (tu_setup(state) == -1)
		return -1;
	snprintf(cert, sizeof(cert), "%s", tu_path(state, "server.cert"));
	snprintf(key, sizeof(key), "%s", tu_path(state, "server.key"));
	snprintf(cert_path, sizeof(cert_path), "%s", cert);
	if (tls_selfsigned_create(cert, key, "test.invalid", 2) == -1 ||
	    config_init(*state) == -1)
		return -1;
	cfg = config_acquire();
	if (tls_server_load(cfg) == -1)
		return -1;
	config_release(cfg);
	buf_init(&rx, 1024 * 1024);
	buf_init(&held, 64 * 1024);
	srv_svc.name = "srv";
	srv_svc.handler = &srv_handler;
	srv_svc.line_max = 4096;
	srv_svc.timeout = 30;
	srv_svc.max_sessions = 16;
	srv_tls_svc = srv_svc;
	srv_tls_svc.name = "srv-tls";
	srv_tls_svc.tls = true;
	if (free_port(&srv_addr) == -1 || free_port(&srv_tls_addr) == -1)
		return -1;
	if (ev_init(1) == -1 || ev_listen(&srv_svc,
	    (struct sockaddr *)&srv_addr, sizeof(srv_addr)) == -1 ||
	    ev_listen(&srv_tls_svc, (struct sockaddr *)&srv_tls_addr,
	    sizeof(srv_tls_addr)) == -1 || ev_start() == -1)
		return -1;
	return 0;
}

/* group_teardown - stop everything */
static int
group_teardown(void **state)
{
	ev_stop_accepting();
	ev_stop();
	tls_server_free();
	config_shutdown();
	buf_clear(&rx);
	buf_clear(&held);
	return tu_teardown(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_no_pipelining),
		cmocka_unit_test(test_helo_fallback),
		cmocka_unit_test(test_size_refused),
		cmocka_unit_test(test_8bit),
		cmocka_unit_test(test_8bitmime),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_lmtp),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_starttls_454),
		cmocka_unit_test(test_starttls_garbage),
		cmocka_unit_test(test_tls_required),
		cmocka_unit_test(test_auth_plain),
		cmocka_unit_test(test_auth_login),
		cmocka_unit_test(test_auth_cram),
		cmocka_unit_test(test_auth_refused),
		cmocka_unit_test(test_closed_after_rcpt),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_rset),
		cmocka_unit_test(test_quit_busy),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_tls_required_454),
		cmocka_unit_test(test_implicit_tls),
		cmocka_unit_test(test_implicit_not_tls),
		cmocka_unit_test(test_tls_verify),
		cmocka_unit_test(test_tls_verify_implicit),
		cmocka_unit_test(test_tls_noverify),
		cmocka_unit_test(test_ca_file_bad),
		cmocka_unit_test(test_auth_auto),
		cmocka_unit_test(test_auth_not_offered),
		cmocka_unit_test(test_greeting_timeout),
		cmocka_unit_test(test_closed_at_ehlo),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_probe_refused),
		cmocka_unit_test(test_probe_none),
		cmocka_unit_test(test_probe_bad),
		cmocka_unit_test(test_transcript_setup),
	};

	log_init("test_smtpc", false, getenv("TEST_LOG") != NULL,
	    getenv("TEST_LOG") != NULL);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
