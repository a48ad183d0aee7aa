/*
 * smtpc.c - the SMTP/LMTP client session (smtpc.h): one outbound
 * connection driven on its loop through the greeting, EHLO, STARTTLS,
 * AUTH and transactions.
 *
 * The state names the reply awaited (OpenSMTPD mta_session.c).  A
 * transaction is a list of steps (RSET, MAIL, RCPT..., DATA or BDAT)
 * composed up front, with a send and a receive cursor: with PIPELINING
 * every step goes out in one write (RFC 2920), otherwise one per reply
 * (Postfix smtp_loop).  Replies come from smtpc_reply_read on a session
 * evbuffer fed by the connection in raw mode, so a reply split over
 * reads or several pipelined replies in one read are all the same.
 *
 * Lifetime: the session lives until smtpc_quit, or until the ready_cb of
 * a failed set-up returns.  The connection may go first (s->c NULL, the
 * session unusable); a session whose owner called smtpc_quit is freed
 * with its connection (on_free).  Whatever closes a connection with a
 * callback still owed, on_free owes it last (smtpc_conn_free).
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/match.h"
#include "core/tls.h"
#include "smtpc/smtpc.h"

#define SMTPC_TS_MAX		(16 * 1024)	/* transcript kept */
#define SMTPC_CMDS_MAX		(64 * 1024 * 1024) /* envelope commands */
#define SMTPC_SASL_MAX		4096	/* one SASL response line */
#define SMTPC_QUIT_SECONDS	10	/* longest wait for the 221 */

/* The reply awaited. */
enum smtpc_state {
	SMTPC_S_CONNECT,	/* TCP connect */
	SMTPC_S_GREETING,	/* 220 banner */
	SMTPC_S_EHLO,		/* reply to EHLO or LHLO */
	SMTPC_S_HELO,		/* reply to HELO */
	SMTPC_S_STARTTLS,	/* reply to STARTTLS */
	SMTPC_S_TLS,		/* the TLS handshake */
	SMTPC_S_AUTH,		/* reply to AUTH or a SASL response */
	SMTPC_S_READY,		/* idle, nothing outstanding */
	SMTPC_S_POLICY,		/* refused locally, done_cb due */
	SMTPC_S_ENV,		/* replies to the steps */
	SMTPC_S_DOT,		/* reply (LMTP: replies) to the message */
	SMTPC_S_DOT_IGNORE,	/* reply to a lone dot (RFC 2920 3.1) */
	SMTPC_S_QUIT,		/* 221 */
	SMTPC_S_DEAD,		/* connection gone or closing */
};

/* One command of a transaction's envelope. */
enum smtpc_kind {
	SMTPC_K_RSET,
	SMTPC_K_MAIL,
	SMTPC_K_RCPT,
	SMTPC_K_DATA,
	SMTPC_K_BDAT,		/* "BDAT n LAST" and the message */
};

struct smtpc_step {
	enum smtpc_kind	 kind;
	size_t		 rcpt;		/* SMTPC_K_RCPT: index in rcpts */
	size_t		 off, len;	/* the command in s->cmds */
};

struct smtpc {
	struct ev_loop		*loop;
	struct conn		*c;		/* NULL once freed */
	struct sockaddr_storage	 to;		/* the next hop */
	socklen_t		 tolen;
	struct sockaddr_storage	 bind;		/* OutBind */
	struct smtpc_conf	 conf;		/* pointers to the copies */
	struct smtpc_auth	 auth;
	unsigned		 mech;		/* SMTPC_AUTH_* sent, 0 */
	char			*helo, *servername, *log_id;
	SSL_CTX			*ctx;		/* tls_ca_file's, NULL */
	struct smtpc_result	 early;		/* failed before connect */
	smtpc_ready_cb		*ready_cb;
	void			*ready_arg;
	enum smtpc_state	 state;
	bool			 ready;		/* ready_cb(NULL) has run */
	bool			 tls_off;	/* STARTTLS failed: clear */
	bool			 quit;		/* smtpc_quit: no callbacks */
	bool			 failing;	/* in the failure ready_cb */
	bool			 need_rset;	/* last transaction failed */
	int			 auth_step;	/* SASL responses sent */
	struct smtpc_caps	 caps;
	char			 auth_offered[128]; /* EHLO AUTH list */
	struct evbuffer		*in;		/* replies not read yet */
	struct smtpc_reply	 r;		/* the current reply */
	char			 peer[320];	/* "host [ip]:port" */
	char			 pfx[128];	/* "log_id: " or "" */
	char			 tls_info[256];
	struct buf		 ts;		/* transcript */
	bool			 ts_full;
	/* The transaction running: */
	struct smtpc_txn	*txn;
	smtpc_done_cb		*done_cb;
	void			*done_arg;
	struct smtpc_env	 env;		/* as sent (SIZE, BODY) */
	const char		*msg;		/* the message as sent */
	size_t			 msglen;
	struct buf		 conv;		/* 8BITMIME downgrade */
	struct buf		 cmds;		/* envelope commands */
	struct buf		 body;		/* DATA or BDAT octets */
	struct smtpc_step	*steps;
	size_t			 nsteps, sent, got; /* send/receive cursors */
	bool			 probe;		/* MAIL, RCPTs only */
	bool			 mail_ok;	/* 2xx to MAIL */
	size_t			 rcpt_ok;	/* 2xx to RCPT */
	size_t			 last_refused;	/* rcpt, or SIZE_MAX */
	size_t			 lmtp_next;	/* LMTP: next rcpt to answer */
};

static void	smtpc_on_open(struct conn *);
static size_t	smtpc_on_data(struct conn *, const char *, size_t);
static void	smtpc_on_event(struct conn *, enum conn_event);
static void	smtpc_on_tls(struct conn *);
static void	smtpc_on_free(struct conn *);
static void	smtpc_ehlo(struct smtpc *);
static void	smtpc_after_ehlo(struct smtpc *);
static void	smtpc_abort(struct smtpc *, const char *, const char *,
		    enum smtpc_why);
static void	smtpc_res_local(struct smtpc_result *, int, const char *,
		    enum smtpc_stage, enum smtpc_why, const char *, ...)
		    __attribute__((format(printf, 6, 7)));

static const struct conn_handler smtpc_handler = {
	.on_open = smtpc_on_open,
	.on_data = smtpc_on_data,
	.on_event = smtpc_on_event,
	.on_tls = smtpc_on_tls,
	.on_free = smtpc_on_free,
};

/* Never listened on: the handler of every client connection. */
static struct ev_service smtpc_svc = {
	.name = "smtpc",
	.handler = &smtpc_handler,
	.line_max = SMTPC_REPLY_LINE_MAX,
	.max_sessions = INT_MAX,
};

/*
 * Transcript.
 */

/* smtpc_ts_add - append to the transcript, "..." once it is full */
static void
smtpc_ts_add(struct smtpc *s, const char *p, size_t n)
{
	if (s->ts_full)
		return;
	if (s->ts.len + n > SMTPC_TS_MAX || buf_append(&s->ts, p, n) == -1) {
		s->ts_full = true;
		if (buf_puts(&s->ts, "...\n") == -1)
			return;		/* the room is kept for it */
	}
}

/* smtpc_ts_lines - one "C: " line per CRLF line of p[0..n) */
static void
smtpc_ts_lines(struct smtpc *s, const char *p, size_t n)
{
	const char *e, *end = p + n;

	for (; p < end; p = e + 2) {
		if ((e = memmem(p, (size_t)(end - p), "\r\n", 2)) == NULL)
			e = end;
		smtpc_ts_add(s, "C: ", 3);
		smtpc_ts_add(s, p, (size_t)(e - p));
		smtpc_ts_add(s, "\n", 1);
	}
}

/* smtpc_ts_reply - the current reply as "S: " lines */
static void
smtpc_ts_reply(struct smtpc *s)
{
	const char *p = s->r.text.data, *e;
	char head[32];
	size_t i;

	for (i = 0; i < s->r.nlines; i++, p = e + 1) {
		if ((e = strchr(p, '\n')) == NULL)
			e = p + strlen(p);
		snprintf(head, sizeof(head), "S: %d%c%s%s", s->r.code,
		    i + 1 < s->r.nlines ? '-' : ' ', i == 0 ? s->r.enh : "",
		    i == 0 && s->r.enh[0] != '\0' ? " " : "");
		smtpc_ts_add(s, head, strlen(head));
		smtpc_ts_add(s, p, (size_t)(e - p));
		smtpc_ts_add(s, "\n", 1);
		if (*e == '\0')
			break;
	}
}

/*
 * Results.
 */

/* smtpc_res_local - a made-up result */
static void
smtpc_res_local(struct smtpc_result *res, int code, const char *enh,
    enum smtpc_stage stage, enum smtpc_why why, const char *fmt, ...)
{
	va_list ap;

	memset(res, 0, sizeof(*res));
	res->code = code;
	if (!str_copy(res->enh, enh, sizeof(res->enh)))
		res->enh[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(res->text, sizeof(res->text), fmt, ap);
	va_end(ap);
	res->stage = stage;
	res->temporary = code / 100 == 4;
	res->why = why;
}

/* smtpc_res_reply - the current reply as a result (lines joined) */
static void
smtpc_res_reply(const struct smtpc *s, struct smtpc_result *res,
    enum smtpc_stage stage)
{
	char *p;

	memset(res, 0, sizeof(*res));
	res->code = s->r.code;
	memcpy(res->enh, s->r.enh, sizeof(res->enh));
	snprintf(res->text, sizeof(res->text), "%s", s->r.text.data);
	for (p = res->text; (p = strchr(p, '\n')) != NULL; )
		*p = ' ';
	res->stage = stage;
	/* A 2xx or 3xx where it does not belong is no permanent refusal. */
	res->temporary = s->r.code / 100 != 5 && s->r.code / 100 != 2;
}

/*
 * I/O helpers.
 */

/* smtpc_arm - the time limit of the reply awaited now */
static void
smtpc_arm(struct smtpc *s, int seconds, void (*fn)(struct conn *))
{
	if (s->c == NULL || conn_timer(s->c, seconds * 1000, fn) == 0)
		return;
	/* No limit means a session that may hang: end it (on_free). */
	log_warn("%ssmtpc: %s cannot set a timer", s->pfx, s->peer);
	conn_close(s->c);
}

/*
 * smtpc_put - write p[0..n) and log it: masked as `ts` when not NULL,
 * else line by line.  A failed write closes the connection (what is
 * pending fails in on_free).  Returns 0 or -1.
 */
static int
smtpc_put(struct smtpc *s, const void *p, size_t n, const char *ts)
{
	if (s->c == NULL || conn_closing(s->c))
		return -1;
	if (conn_write(s->c, p, n) == -1) {
		log_warn("%ssmtpc: %s write failed", s->pfx, s->peer);
		conn_close(s->c);
		return -1;
	}
	if (ts != NULL)
		smtpc_ts_add(s, ts, strlen(ts));
	else
		smtpc_ts_lines(s, p, n);
	return 0;
}

/* smtpc_cmd - write one command line (CRLF added) */
static int
smtpc_cmd(struct smtpc *s, const char *verb, const char *arg)
{
	char line[600];
	int n;

	n = snprintf(line, sizeof(line), "%s%s%s\r\n", verb,
	    arg != NULL ? " " : "", arg != NULL ? arg : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return smtpc_put(s, line, (size_t)n, NULL);
}

/* smtpc_timeout_cb - the reply awaited did not come in time */
static void
smtpc_timeout_cb(struct conn *c)
{
	struct smtpc *s = conn_data(c);

	if (s == NULL)
		return;
	if (s->state == SMTPC_S_QUIT)
		conn_close(c);
	else
		smtpc_abort(s, "4.4.2", "timeout waiting for reply to",
		    SMTPC_WHY_TIMEOUT);
}

/* smtpc_wait - enter state st and arm its time limit */
static void
smtpc_wait(struct smtpc *s, enum smtpc_state st, int seconds)
{
	s->state = st;
	smtpc_arm(s, seconds, smtpc_timeout_cb);
}

/* smtpc_close - close the connection (no more input) */
static void
smtpc_close(struct smtpc *s)
{
	s->state = SMTPC_S_DEAD;
	if (s->c != NULL)
		conn_close(s->c);
}

/*
 * Names and stages of the reply awaited.
 */

/* What each state awaits, for texts, and its stage (smtpc.h). */
static const struct {
	const char		*name;
	enum smtpc_stage	 stage;
} smtpc_states[] = {
	[SMTPC_S_CONNECT] = { "connect", SMTPC_ST_CONNECT },
	[SMTPC_S_GREETING] = { "greeting", SMTPC_ST_GREETING },
	[SMTPC_S_EHLO] = { "EHLO", SMTPC_ST_EHLO },
	[SMTPC_S_HELO] = { "HELO", SMTPC_ST_EHLO },
	[SMTPC_S_STARTTLS] = { "STARTTLS", SMTPC_ST_STARTTLS },
	[SMTPC_S_TLS] = { "STARTTLS (TLS handshake)", SMTPC_ST_STARTTLS },
	[SMTPC_S_AUTH] = { "AUTH", SMTPC_ST_AUTH },
	[SMTPC_S_READY] = { "nothing", SMTPC_ST_MAIL },
	[SMTPC_S_POLICY] = { "nothing", SMTPC_ST_POLICY },
	[SMTPC_S_ENV] = { "", SMTPC_ST_MAIL },		/* by step */
	[SMTPC_S_DOT] = { "end of data", SMTPC_ST_DOT },
	[SMTPC_S_DOT_IGNORE] = { "end of data", SMTPC_ST_DOT },
	[SMTPC_S_QUIT] = { "QUIT", SMTPC_ST_DOT },
	[SMTPC_S_DEAD] = { "nothing", SMTPC_ST_DOT },
}, smtpc_kinds[] = {
	[SMTPC_K_RSET] = { "RSET", SMTPC_ST_MAIL },
	[SMTPC_K_MAIL] = { "MAIL", SMTPC_ST_MAIL },
	[SMTPC_K_RCPT] = { "RCPT", SMTPC_ST_RCPT },
	[SMTPC_K_DATA] = { "DATA", SMTPC_ST_DATA },
	[SMTPC_K_BDAT] = { "BDAT", SMTPC_ST_DOT },
};

/* smtpc_cur_kind - the step whose reply is awaited (or the last one) */
static enum smtpc_kind
smtpc_cur_kind(const struct smtpc *s)
{
	return s->steps[s->got < s->nsteps ? s->got : s->nsteps - 1].kind;
}

/* smtpc_awaited - what the reply awaited answers, for texts */
static const char *
smtpc_awaited(const struct smtpc *s)
{
	if (s->state == SMTPC_S_ENV)
		return smtpc_kinds[smtpc_cur_kind(s)].name;
	if (s->state == SMTPC_S_EHLO && s->conf.lmtp)
		return "LHLO";
	if (s->state == SMTPC_S_TLS && s->conf.tls_implicit)
		return "TLS handshake";
	return smtpc_states[s->state].name;
}

/* smtpc_stage - the smtpc_stage of the reply awaited */
static enum smtpc_stage
smtpc_stage(const struct smtpc *s)
{
	if (s->state == SMTPC_S_ENV)
		return smtpc_kinds[smtpc_cur_kind(s)].stage;
	return smtpc_states[s->state].stage;
}

/*
 * Set-up: greeting, EHLO, STARTTLS, AUTH.
 */

/* smtpc_free - release the session */
static void
smtpc_free(struct smtpc *s)
{
	evbuffer_free(s->in);
	buf_clear(&s->r.text);
	buf_clear(&s->ts);
	buf_clear(&s->conv);
	buf_clear(&s->cmds);
	buf_clear(&s->body);
	free(s->steps);
	free(s->helo);
	free(s->servername);
	free(s->log_id);
	SSL_CTX_free(s->ctx);
	OPENSSL_cleanse(&s->auth, sizeof(s->auth));
	free(s);
}

/*
 * smtpc_setup_fail - the session could not be set up: tell and free.
 * The caller must not touch s afterwards.
 */
static void
smtpc_setup_fail(struct smtpc *s, const struct smtpc_result *res)
{
	log_info("%ssmtpc: %s failed: %d %s %s", s->pfx, s->peer, res->code,
	    res->enh, res->text);
	if (s->c != NULL) {
		conn_set_data(s->c, NULL);
		conn_close(s->c);
		s->c = NULL;
	}
	s->failing = true;
	if (!s->quit)
		s->ready_cb(s, s->ready_arg, res);
	smtpc_free(s);
}

/* smtpc_setup_refused - the peer refused a set-up step: QUIT and fail */
static void
smtpc_setup_refused(struct smtpc *s, const struct smtpc_result *res)
{
	if (smtpc_cmd(s, "QUIT", NULL) == -1)
		log_debug("%ssmtpc: %s QUIT not sent", s->pfx, s->peer);
	smtpc_setup_fail(s, res);
}

/* smtpc_fail_reply - fail the set-up with the current reply */
static void
smtpc_fail_reply(struct smtpc *s)
{
	struct smtpc_result res;

	smtpc_res_reply(s, &res, smtpc_stage(s));
	smtpc_setup_refused(s, &res);
}

/* smtpc_log_ready - one line: the peer, its capabilities and TLS */
static void
smtpc_log_ready(const struct smtpc *s)
{
	const struct smtpc_caps *k = &s->caps;
	char size[32] = "";

	if (k->has_size)
		snprintf(size, sizeof(size), " SIZE=%llu",
		    (unsigned long long)k->size);
	log_info("%ssmtpc: %s ready, %s%s%s%s%s%s%s%s%s%s, TLS %s", s->pfx,
	    s->peer, s->conf.lmtp ? "LMTP" : k->esmtp ? "ESMTP" : "SMTP",
	    k->pipelining ? " PIPELINING" : "",
	    k->eightbitmime ? " 8BITMIME" : "", k->dsn ? " DSN" : "",
	    k->chunking ? " CHUNKING" : "", k->smtputf8 ? " SMTPUTF8" : "",
	    k->enhanced ? " ENHANCEDSTATUSCODES" : "", size,
	    k->starttls ? " STARTTLS" : "", s->conf.auth != NULL ?
	    " AUTH" : "", s->tls_info[0] != '\0' ? s->tls_info : "none");
}

/* smtpc_ready - set-up complete */
static void
smtpc_ready(struct smtpc *s)
{
	s->ready = true;
	s->state = SMTPC_S_READY;
	smtpc_arm(s, -1, NULL);
	smtpc_log_ready(s);
	if (!s->quit)
		s->ready_cb(s, s->ready_arg, NULL);
}

/*
 * smtpc_fallback - STARTTLS did not work and TLS is opportunistic: log
 * why and start again in clear text on a new connection to the same
 * address (the peer may be mid-handshake: no going back on this one).
 */
static void
smtpc_fallback(struct smtpc *s, const char *why)
{
	struct smtpc_result res;

	log_warn("%ssmtpc: %s STARTTLS failed (%s), retrying in clear text",
	    s->pfx, s->peer, why);
	if (s->c != NULL) {
		conn_set_data(s->c, NULL);
		conn_close(s->c);
	}
	s->tls_off = true;
	s->state = SMTPC_S_CONNECT;
	memset(&s->caps, 0, sizeof(s->caps));
	s->tls_info[0] = '\0';
	if (evbuffer_drain(s->in, evbuffer_get_length(s->in)) == -1)
		log_debug("%ssmtpc: evbuffer_drain failed", s->pfx);
	s->c = conn_connect(s->loop, &smtpc_svc, (struct sockaddr *)&s->to,
	    s->tolen, s->conf.bind, s->conf.bindlen, s->conf.to.connect, s);
	if (s->c == NULL) {
		smtpc_res_local(&res, 421, "4.4.1", SMTPC_ST_CONNECT,
		    SMTPC_WHY_LOCAL, "cannot reconnect to %s: %s", s->peer,
		    strerror(errno));
		smtpc_setup_fail(s, &res);
	}
}

/*
 * smtpc_tls_fail - STARTTLS not offered or not working: go on in clear
 * text (need_tls 1) - on this connection when no handshake began
 * (`clean`: not offered, or refused with a reply), else on a new one -
 * or fail (2, RFC 3207 section 4: a client that requires TLS must not go
 * on without it) with `cause`.
 */
static void
smtpc_tls_fail(struct smtpc *s, const char *why, bool clean,
    enum smtpc_why cause)
{
	struct smtpc_result res;

	if (s->conf.need_tls == 1 && clean) {
		log_info("%ssmtpc: %s: %s, going on in clear text", s->pfx,
		    s->peer, why);
		s->tls_off = true;
		smtpc_after_ehlo(s);
		return;
	}
	if (s->conf.need_tls == 1) {
		smtpc_fallback(s, why);
		return;
	}
	smtpc_res_local(&res, 421, "4.7.10", SMTPC_ST_STARTTLS, cause,
	    "TLS required but %s", why);
	smtpc_setup_refused(s, &res);
}

/* smtpc_on_greeting - 220, or the session is refused */
static void
smtpc_on_greeting(struct smtpc *s)
{
	if (s->r.code == 220)
		smtpc_ehlo(s);
	else
		smtpc_fail_reply(s);
}

/* smtpc_ehlo - send EHLO or LHLO (capabilities are read again) */
static void
smtpc_ehlo(struct smtpc *s)
{
	memset(&s->caps, 0, sizeof(s->caps));
	if (smtpc_cmd(s, s->conf.lmtp ? "LHLO" : "EHLO", s->helo) == 0)
		smtpc_wait(s, SMTPC_S_EHLO, s->conf.to.command);
}

/* smtpc_auth_payload - base64 of the SASL response to send now */
static int
smtpc_auth_payload(struct smtpc *s, struct buf *out)
{
	const struct smtpc_auth *a = &s->auth;
	unsigned char chal[1024], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen, i;
	struct buf raw;
	long n;
	int rc = -1;

	buf_init(&raw, SMTPC_SASL_MAX);
	if (s->mech == SMTPC_AUTH_PLAIN) {
		/* RFC 4616: authzid (empty) NUL authcid NUL passwd. */
		if (buf_putc(&raw, '\0') == 0 && buf_puts(&raw, a->user) == 0 &&
		    buf_putc(&raw, '\0') == 0 && buf_puts(&raw, a->pass) == 0)
			rc = 0;
	} else if (s->mech == SMTPC_AUTH_LOGIN) {
		rc = buf_puts(&raw, s->auth_step == 1 ? a->user : a->pass);
	} else {
		/* RFC 2195: user SP hex(HMAC-MD5(pass, challenge)). */
		n = base64_decode(s->r.text.data, s->r.text.len, chal,
		    sizeof(chal));
		if (n >= 0 && HMAC(EVP_md5(), a->pass, (int)strlen(a->pass),
		    chal, (size_t)n, md, &mdlen) != NULL &&
		    buf_printf(&raw, "%s ", a->user) == 0) {
			for (i = 0, rc = 0; i < mdlen && rc == 0; i++)
				rc = buf_printf(&raw, "%02x", md[i]);
		}
	}
	if (rc == 0)
		rc = base64_encode(raw.data, raw.len, out);
	OPENSSL_cleanse(raw.data, raw.len);
	buf_clear(&raw);
	return rc;
}

/* smtpc_mech_name - the SASL name of one SMTPC_AUTH_*, or "" */
static const char *
smtpc_mech_name(unsigned mech)
{
	switch (mech) {
	case SMTPC_AUTH_PLAIN:
		return "PLAIN";
	case SMTPC_AUTH_LOGIN:
		return "LOGIN";
	case SMTPC_AUTH_CRAM_MD5:
		return "CRAM-MD5";
	default:
		return "";
	}
}

/* smtpc_auth_send - "AUTH <mech>[ <initial response>]" or a response */
static void
smtpc_auth_send(struct smtpc *s, bool first)
{
	const char *mech = smtpc_mech_name(s->mech);
	struct buf line;
	char ts[64];
	int rc = 0;

	buf_init(&line, SMTPC_SASL_MAX);
	if (first) {
		snprintf(ts, sizeof(ts), "C: AUTH %s%s\n", mech,
		    s->mech == SMTPC_AUTH_PLAIN ? " ****" : "");
		rc = buf_printf(&line, "AUTH %s", mech);
	} else {
		snprintf(ts, sizeof(ts), "C: ****\n");
	}
	/* PLAIN: the initial response saves a round trip (RFC 4954 4). */
	if (rc == 0 && first && s->mech == SMTPC_AUTH_PLAIN)
		rc = buf_putc(&line, ' ');
	if (rc == 0 && (!first || s->mech == SMTPC_AUTH_PLAIN))
		rc = smtpc_auth_payload(s, &line);
	if (rc == 0)
		rc = buf_puts(&line, "\r\n");
	if (rc == 0)
		rc = smtpc_put(s, line.data, line.len, ts);
	OPENSSL_cleanse(line.data, line.len);
	buf_clear(&line);
	if (rc == 0)
		smtpc_wait(s, SMTPC_S_AUTH, s->conf.to.command);
	else if (s->c != NULL && !conn_closing(s->c))
		/* Only a CRAM-MD5 challenge comes from the server. */
		smtpc_abort(s, "4.7.0", "cannot compose the response to",
		    !first && s->mech == SMTPC_AUTH_CRAM_MD5 ?
		    SMTPC_WHY_PROTOCOL : SMTPC_WHY_LOCAL);
}

/* smtpc_auth_best - SMTPC_AUTH_AUTO: the best mechanism offered, or 0 */
static unsigned
smtpc_auth_best(const struct smtpc *s)
{
	static const unsigned best[] = { SMTPC_AUTH_CRAM_MD5,
	    SMTPC_AUTH_PLAIN, SMTPC_AUTH_LOGIN };
	size_t i;

	for (i = 0; i < nitems(best); i++)
		if (s->caps.auth & best[i])
			return best[i];
	return 0;
}

/* smtpc_auth_start - AUTH with the configured mechanism, when offered */
static void
smtpc_auth_start(struct smtpc *s)
{
	struct smtpc_result res;

	if (s->auth.mech == SMTPC_AUTH_AUTO) {
		if ((s->mech = smtpc_auth_best(s)) == 0) {
			smtpc_res_local(&res, 530, "5.7.0", SMTPC_ST_AUTH,
			    SMTPC_WHY_NO_AUTH_MECH, "the server offers no"
			    " supported AUTH mechanism (offered: %s)",
			    s->auth_offered[0] != '\0' ? s->auth_offered :
			    "none");
			smtpc_setup_refused(s, &res);
			return;
		}
	} else if ((s->caps.auth & s->auth.mech) == 0 || (s->auth.mech !=
	    SMTPC_AUTH_PLAIN && s->auth.mech != SMTPC_AUTH_LOGIN &&
	    s->auth.mech != SMTPC_AUTH_CRAM_MD5)) {
		smtpc_res_local(&res, 530, "5.7.0", SMTPC_ST_AUTH,
		    SMTPC_WHY_NO_AUTH_MECH,
		    "the authentication mechanism is not offered");
		smtpc_setup_refused(s, &res);
		return;
	} else {
		s->mech = s->auth.mech;
	}
	s->auth_step = 0;
	smtpc_auth_send(s, true);
}

/* smtpc_on_auth - 235 done, 334 the next response, else failure */
static void
smtpc_on_auth(struct smtpc *s)
{
	int steps = s->mech == SMTPC_AUTH_LOGIN ? 2 : 1;

	if (s->r.code == 235) {
		smtpc_ready(s);
	} else if (s->r.code == 334 && s->auth_step < steps) {
		s->auth_step++;
		smtpc_auth_send(s, false);
	} else if (s->r.code == 334) {
		smtpc_abort(s, "4.7.0", "unexpected challenge after",
		    SMTPC_WHY_PROTOCOL);
	} else {
		smtpc_fail_reply(s);
	}
}

/* smtpc_after_ehlo - STARTTLS, AUTH or ready */
static void
smtpc_after_ehlo(struct smtpc *s)
{
	if (s->conf.need_tls >= 1 && !s->tls_off && !conn_is_tls(s->c)) {
		if (!s->caps.starttls) {
			smtpc_tls_fail(s, "STARTTLS is not offered", true,
			    SMTPC_WHY_NO_STARTTLS);
			return;
		}
		if (smtpc_cmd(s, "STARTTLS", NULL) == 0)
			smtpc_wait(s, SMTPC_S_STARTTLS, s->conf.to.command);
		return;
	}
	if (s->conf.auth != NULL)
		smtpc_auth_start(s);
	else
		smtpc_ready(s);
}

/*
 * smtpc_auth_list - the mechanisms of the EHLO reply's AUTH lines as
 * offered, unknown ones too, for the text of a failure
 */
static void
smtpc_auth_list(struct smtpc *s)
{
	const char *p, *e;
	size_t n = 0, len;

	s->auth_offered[0] = '\0';
	/* The first line is the server's name. */
	for (p = strchr(s->r.text.data, '\n'); p != NULL; p = e) {
		p++;
		e = strchr(p, '\n');
		len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len <= 5 || strncasecmp(p, "AUTH", 4) != 0 ||
		    (p[4] != ' ' && p[4] != '='))
			continue;
		snprintf(s->auth_offered + n, sizeof(s->auth_offered) - n,
		    "%s%.*s", n > 0 ? " " : "", (int)(len - 5), p + 5);
		n = strlen(s->auth_offered);
	}
}

/* smtpc_on_ehlo - capabilities, HELO fallback (not for LMTP) */
static void
smtpc_on_ehlo(struct smtpc *s)
{
	if (s->r.code == 250) {
		if (s->state == SMTPC_S_EHLO) {
			smtpc_caps_parse(&s->r, &s->caps);
			smtpc_auth_list(s);
		}
		smtpc_after_ehlo(s);
	} else if (s->state == SMTPC_S_EHLO && s->r.code / 100 == 5 &&
	    !s->conf.lmtp) {
		/* RFC 5321 3.2: an old server; HELO offers nothing. */
		if (smtpc_cmd(s, "HELO", s->helo) == 0)
			smtpc_wait(s, SMTPC_S_HELO, s->conf.to.command);
	} else {
		smtpc_fail_reply(s);
	}
}

/* smtpc_tls_start_cb - start the handshake after the 220 */
static void
smtpc_tls_start_cb(struct conn *c)
{
	struct smtpc *s = conn_data(c);

	if (s == NULL || s->state != SMTPC_S_TLS)
		return;
	/* RFC 3207 6: nothing received before the handshake counts. */
	if (evbuffer_drain(s->in, evbuffer_get_length(s->in)) == -1 ||
	    conn_starttls_client_ctx(c, s->servername, s->ctx) == -1) {
		smtpc_tls_fail(s, "cannot start TLS", false, SMTPC_WHY_LOCAL);
		return;
	}
	smtpc_wait(s, SMTPC_S_TLS, s->conf.to.command);
}

/* smtpc_on_starttls - 220: the handshake; else no TLS */
static void
smtpc_on_starttls(struct smtpc *s)
{
	char why[600];

	if (s->r.code != 220) {
		snprintf(why, sizeof(why), "STARTTLS refused: %d %s",
		    s->r.code, s->r.text.data);
		smtpc_tls_fail(s, why, true, SMTPC_WHY_NO_STARTTLS);
		return;
	}
	/* Outside on_data, so ev.c's input accounting stays right. */
	s->state = SMTPC_S_TLS;
	smtpc_arm(s, 0, smtpc_tls_start_cb);
}

/*
 * Transactions.
 */

/*
 * smtpc_final - a recipient's result is final (not a 2xx to RCPT, unless
 * the transaction is a probe)
 */
static bool
smtpc_final(const struct smtpc *s, const struct smtpc_result *res)
{
	return res->code != 0 && (s->probe || !(res->code / 100 == 2 &&
	    res->stage == SMTPC_ST_RCPT));
}

/* smtpc_answer_pending - res for each recipient without a final one */
static void
smtpc_answer_pending(struct smtpc *s, const struct smtpc_result *res)
{
	size_t i;

	for (i = 0; i < s->txn->nrcpts; i++)
		if (!smtpc_final(s, &s->txn->rcpts[i].res))
			s->txn->rcpts[i].res = *res;
}

/* smtpc_fail_all - res for the transaction and every recipient */
static void
smtpc_fail_all(struct smtpc *s, const struct smtpc_result *res)
{
	size_t i;

	s->txn->res = *res;
	for (i = 0; i < s->txn->nrcpts; i++)
		s->txn->rcpts[i].res = *res;
}

/* smtpc_txn_clear - forget the transaction's working memory */
static void
smtpc_txn_clear(struct smtpc *s)
{
	buf_clear(&s->conv);
	buf_clear(&s->cmds);
	buf_clear(&s->body);
	free(s->steps);
	s->steps = NULL;
	s->nsteps = s->sent = s->got = 0;
	s->txn = NULL;
}

/*
 * smtpc_done - the transaction is over: count, tell.  The caller must
 * not touch s afterwards (done_cb may send or quit).
 */
static void
smtpc_done(struct smtpc *s)
{
	struct smtpc_txn *txn = s->txn;
	smtpc_done_cb *cb = s->done_cb;
	size_t i;

	txn->naccepted = 0;
	for (i = 0; i < txn->nrcpts; i++)
		if (txn->rcpts[i].res.code / 100 == 2)
			txn->naccepted++;
	/* A probe leaves its transaction open. */
	if (s->sent > 0)
		s->need_rset = s->probe || txn->res.code / 100 != 2;
	smtpc_txn_clear(s);
	if (s->state != SMTPC_S_DEAD) {
		s->state = SMTPC_S_READY;
		smtpc_arm(s, -1, NULL);
	}
	if (!s->quit)
		cb(s, s->done_arg, txn);
}

/* smtpc_no_rcpt - no recipient accepted: the last refusal says why */
static void
smtpc_no_rcpt(struct smtpc *s)
{
	if (s->last_refused != SIZE_MAX)
		s->txn->res = s->txn->rcpts[s->last_refused].res;
}

/* smtpc_too_big - the peer's SIZE limit (RFC 1870) is exceeded */
static bool
smtpc_too_big(struct smtpc *s, size_t len)
{
	struct smtpc_result res;

	if (!s->caps.has_size || s->caps.size == 0 || len <= s->caps.size)
		return false;
	smtpc_res_local(&res, 552, "5.3.4", SMTPC_ST_POLICY, SMTPC_WHY_NONE,
	    "message size %zu exceeds the limit %llu of %s", len,
	    (unsigned long long)s->caps.size, s->peer);
	smtpc_fail_all(s, &res);
	return true;
}

/*
 * smtpc_policy - what must be refused before anything is sent, and the
 * 8BITMIME downgrade (RFC 6152); a probe has no message to check.
 * Returns 0, or -1 with every result set.
 */
static int
smtpc_policy(struct smtpc *s)
{
	struct smtpc_txn *t = s->txn;
	struct smtpc_result res;
	size_t max;

	s->env = t->env;
	s->msg = t->data;
	s->msglen = t->len;
	if (!s->probe && smtpc_too_big(s, s->msglen))
		return -1;
	if (t->env.smtputf8 && !s->caps.smtputf8) {
		/* RFC 6531 3.4: no downgrade of addresses or headers. */
		smtpc_res_local(&res, 553, "5.6.7", SMTPC_ST_POLICY,
		    SMTPC_WHY_NONE, "SMTPUTF8 is needed but not offered by %s",
		    s->peer);
		smtpc_fail_all(s, &res);
		return -1;
	}
	if (s->probe)
		return 0;		/* SIZE= says what the caller says */
	if (t->env.eightbit && !s->caps.eightbitmime) {
		if (CKD_MUL(&max, t->len, (size_t)4) ||
		    CKD_ADD(&max, max, (size_t)4096))
			max = SIZE_MAX - 1;
		buf_init(&s->conv, max);
		if (smtpc_downgrade_8bit(t->data, t->len, &s->conv) == -1) {
			smtpc_res_local(&res, 554, "5.6.3", SMTPC_ST_POLICY,
			    SMTPC_WHY_NONE, "8-bit message cannot be converted"
			    " to 7 bit for %s", s->peer);
			smtpc_fail_all(s, &res);
			return -1;
		}
		s->msg = s->conv.data;
		s->msglen = s->conv.len;
		s->env.eightbit = false;
	}
	/* RFC 1870: SIZE= is the size of what is sent. */
	s->env.size = s->msglen;
	return smtpc_too_big(s, s->msglen) ? -1 : 0;
}

/*
 * smtpc_crlf - the message for BDAT (RFC 3030 2: no dot-stuffing):
 * every line end as CRLF, as smtpc_dotstuff sends it, with a final CRLF
 * when missing.  Returns 0 or -1.
 */
static int
smtpc_crlf(const char *p, size_t n, struct buf *out)
{
	size_t i = 0, j;

	while (i < n) {
		for (j = i; j < n && p[j] != '\r' && p[j] != '\n'; j++)
			;
		if (buf_append(out, p + i, j - i) == -1 ||
		    buf_append(out, "\r\n", 2) == -1)
			return -1;
		if (j + 1 < n && p[j] == '\r' && p[j + 1] == '\n')
			j++;
		i = j + 1;
	}
	return 0;
}

/* smtpc_body_init - an empty body buffer for msglen octets */
static void
smtpc_body_init(struct smtpc *s)
{
	size_t max;

	/* Each line end or leading dot at most doubles its octets. */
	if (CKD_MUL(&max, s->msglen, (size_t)2) ||
	    CKD_ADD(&max, max, (size_t)16))
		max = SIZE_MAX - 1;
	buf_init(&s->body, max);
}

/* smtpc_step_add - record the command just appended to s->cmds */
static void
smtpc_step_add(struct smtpc *s, enum smtpc_kind k, size_t rcpt,
    size_t off)
{
	struct smtpc_step *st = &s->steps[s->nsteps++];

	st->kind = k;
	st->rcpt = rcpt;
	st->off = off;
	st->len = s->cmds.len - off;
}

/* smtpc_plan_rcpts - an RCPT step per recipient; refuse bad ones */
static void
smtpc_plan_rcpts(struct smtpc *s)
{
	struct smtpc_txn *t = s->txn;
	struct smtpc_result res;
	size_t i, off;

	for (i = 0; i < t->nrcpts; i++) {
		off = s->cmds.len;
		if (smtpc_rcpt_cmd(&t->rcpts[i].r, &s->caps, &s->cmds) == 0) {
			smtpc_step_add(s, SMTPC_K_RCPT, i, off);
			continue;
		}
		smtpc_res_local(&t->rcpts[i].res, 553, "5.1.3",
		    SMTPC_ST_POLICY, SMTPC_WHY_NONE,
		    "recipient address cannot be sent");
		t->res = t->rcpts[i].res;
	}
	if (s->nsteps == 0 || s->steps[s->nsteps - 1].kind != SMTPC_K_RCPT)
		return;
	memset(&res, 0, sizeof(res));
	t->res = res;
}

/*
 * smtpc_plan - compose the envelope: [RSET] MAIL RCPT... DATA|BDAT (a
 * probe stops after the RCPTs).  Returns 0, or -1 with every result set.
 */
static int
smtpc_plan(struct smtpc *s)
{
	struct smtpc_txn *t = s->txn;
	struct smtpc_caps caps = s->caps;
	struct smtpc_result res;
	size_t off, nmail;
	int rc = 0;

	buf_init(&s->cmds, SMTPC_CMDS_MAX);
	s->steps = calloc(t->nrcpts + 3, sizeof(*s->steps));
	if (s->steps == NULL) {
		smtpc_res_local(&res, 451, "4.3.0", SMTPC_ST_POLICY,
		    SMTPC_WHY_LOCAL, "out of memory");
		smtpc_fail_all(s, &res);
		return -1;
	}
	if (s->need_rset) {
		off = s->cmds.len;
		rc = buf_puts(&s->cmds, "RSET\r\n");
		smtpc_step_add(s, SMTPC_K_RSET, 0, off);
	}
	off = s->cmds.len;
	/* A probe without a size to announce sends no SIZE=0. */
	if (s->probe && s->env.size == 0)
		caps.has_size = false;
	if (rc == -1 || smtpc_mail_cmd(&s->env, &caps, &s->cmds) == -1) {
		smtpc_res_local(&res, 553, "5.1.7", SMTPC_ST_POLICY,
		    SMTPC_WHY_NONE, "sender address or parameters cannot be"
		    " sent");
		smtpc_fail_all(s, &res);
		return -1;
	}
	smtpc_step_add(s, SMTPC_K_MAIL, 0, off);
	nmail = s->nsteps;
	smtpc_plan_rcpts(s);
	if (s->nsteps == nmail) {
		/* No recipient can be sent. */
		if (t->nrcpts == 0) {
			smtpc_res_local(&res, 554, "5.5.1", SMTPC_ST_POLICY,
			    SMTPC_WHY_NONE, "no recipients");
			smtpc_fail_all(s, &res);
		}
		return -1;
	}
	if (s->probe)
		return 0;
	off = s->cmds.len;
	/* RFC 3030: BDAT spares the dot-stuffing; LMTP keeps DATA. */
	if (s->caps.chunking && !s->conf.lmtp) {
		smtpc_body_init(s);
		if (smtpc_crlf(s->msg, s->msglen, &s->body) == -1 ||
		    buf_printf(&s->cmds, "BDAT %zu LAST\r\n", s->body.len) ==
		    -1)
			rc = -1;
		smtpc_step_add(s, SMTPC_K_BDAT, 0, off);
	} else {
		rc = buf_puts(&s->cmds, "DATA\r\n");
		smtpc_step_add(s, SMTPC_K_DATA, 0, off);
	}
	if (rc == -1) {
		smtpc_res_local(&res, 451, "4.3.0", SMTPC_ST_POLICY,
		    SMTPC_WHY_LOCAL, "out of memory");
		smtpc_fail_all(s, &res);
	}
	return rc;
}

/* smtpc_step_timeout - seconds allowed for the reply to a step */
static int
smtpc_step_timeout(const struct smtpc *s, enum smtpc_kind k)
{
	/*
	 * XXX: ev.h reports no write progress, so the message, queued at
	 * once, gets one data_block for its sending besides data_done.
	 */
	if (k == SMTPC_K_BDAT)
		return s->conf.to.data_block + s->conf.to.data_done;
	return k == SMTPC_K_DATA ? s->conf.to.data_init : s->conf.to.command;
}

/*
 * smtpc_push - send the steps the window allows: all of them with
 * PIPELINING (RFC 2920 3.1: DATA and BDAT LAST end the group), else the
 * next one
 */
static void
smtpc_push(struct smtpc *s)
{
	const struct smtpc_step *a = &s->steps[s->sent], *b;
	size_t end = s->caps.pipelining ? s->nsteps : s->sent + 1, i;
	char ts[64];

	b = &s->steps[end - 1];
	s->state = SMTPC_S_ENV;
	if (conn_write(s->c, s->cmds.data + a->off, b->off + b->len -
	    a->off) == -1 || (b->kind == SMTPC_K_BDAT &&
	    conn_write(s->c, s->body.data, s->body.len) == -1)) {
		log_warn("%ssmtpc: %s write failed", s->pfx, s->peer);
		conn_close(s->c);
		return;
	}
	for (i = s->sent; i < end; i++)
		smtpc_ts_lines(s, s->cmds.data + s->steps[i].off,
		    s->steps[i].len);
	if (b->kind == SMTPC_K_BDAT) {
		snprintf(ts, sizeof(ts), "C: <message, %zu octets>\n",
		    s->body.len);
		smtpc_ts_add(s, ts, strlen(ts));
		buf_clear(&s->body);
	}
	s->sent = end;
	smtpc_wait(s, SMTPC_S_ENV, smtpc_step_timeout(s,
	    s->steps[s->got].kind));
}

/* smtpc_send_body - 354: the message, dot-stuffed (RFC 5321 4.5.2) */
static void
smtpc_send_body(struct smtpc *s)
{
	char ts[64];

	smtpc_body_init(s);
	if (smtpc_dotstuff(s->msg, s->msglen, &s->body) == -1) {
		smtpc_abort(s, "4.3.0", "out of memory after",
		    SMTPC_WHY_LOCAL);
		return;
	}
	snprintf(ts, sizeof(ts), "C: <message, %zu octets>\n", s->body.len);
	if (smtpc_put(s, s->body.data, s->body.len, ts) == -1)
		return;
	buf_clear(&s->body);
	s->lmtp_next = 0;
	smtpc_wait(s, SMTPC_S_DOT, s->conf.to.data_block +
	    s->conf.to.data_done);
}

/* smtpc_on_dot - reply to the final dot or BDAT LAST */
static void
smtpc_on_dot(struct smtpc *s)
{
	struct smtpc_txn *t = s->txn;
	struct smtpc_result res;
	size_t i;

	if (!s->conf.lmtp) {
		smtpc_res_reply(s, &res, SMTPC_ST_DOT);
		t->res = res;
		smtpc_answer_pending(s, &res);
		smtpc_done(s);
		return;
	}
	/* RFC 2033 4.2: one reply per accepted RCPT, in order. */
	for (i = s->lmtp_next; i < t->nrcpts &&
	    smtpc_final(s, &t->rcpts[i].res); i++)
		;
	if (i == t->nrcpts) {
		smtpc_abort(s, "4.5.0", "unexpected reply after",
		    SMTPC_WHY_PROTOCOL);
		return;
	}
	smtpc_res_reply(s, &t->rcpts[i].res, SMTPC_ST_DOT);
	if (s->r.code / 100 == 2 || t->res.code / 100 != 2)
		t->res = t->rcpts[i].res;
	for (s->lmtp_next = ++i; i < t->nrcpts; i++)
		if (!smtpc_final(s, &t->rcpts[i].res)) {
			smtpc_arm(s, s->conf.to.data_done, smtpc_timeout_cb);
			return;
		}
	smtpc_done(s);
}

/* smtpc_on_last - reply to DATA or BDAT, the last step */
static void
smtpc_on_last(struct smtpc *s, enum smtpc_kind k)
{
	struct smtpc_result res;

	if (!s->mail_ok || s->rcpt_ok == 0) {
		if (s->mail_ok)
			smtpc_no_rcpt(s);
		/* RFC 2920 3.1: a 354 anyway gets a lone dot. */
		if (k == SMTPC_K_DATA && s->r.code == 354 &&
		    smtpc_put(s, ".\r\n", 3, NULL) == 0)
			smtpc_wait(s, SMTPC_S_DOT_IGNORE, s->conf.to.data_done);
		else if (s->c != NULL && !conn_closing(s->c))
			smtpc_done(s);
		return;
	}
	if (k == SMTPC_K_BDAT) {
		smtpc_on_dot(s);
	} else if (s->r.code == 354) {
		smtpc_send_body(s);
	} else {
		smtpc_res_reply(s, &res, SMTPC_ST_DATA);
		s->txn->res = res;
		smtpc_answer_pending(s, &res);
		smtpc_done(s);
	}
}

/* smtpc_probe_done - every RCPT of a probe is answered */
static void
smtpc_probe_done(struct smtpc *s)
{
	struct smtpc_txn *t = s->txn;

	if (s->rcpt_ok > 0)
		smtpc_res_local(&t->res, 250, "2.1.5", SMTPC_ST_RCPT,
		    SMTPC_WHY_NONE, "%zu of %zu recipients accepted",
		    s->rcpt_ok, t->nrcpts);
	else
		smtpc_no_rcpt(s);
	smtpc_done(s);
}

/* smtpc_on_env - reply to the step at the receive cursor */
static void
smtpc_on_env(struct smtpc *s)
{
	const struct smtpc_step *st = &s->steps[s->got++];
	struct smtpc_result res;

	if (st->kind == SMTPC_K_MAIL && s->r.code / 100 == 2) {
		s->mail_ok = true;
	} else if (st->kind == SMTPC_K_MAIL) {
		/* Every recipient gets the refusal of MAIL. */
		smtpc_res_reply(s, &res, SMTPC_ST_MAIL);
		s->txn->res = res;
		smtpc_answer_pending(s, &res);
	} else if (st->kind == SMTPC_K_RCPT && s->mail_ok) {
		smtpc_res_reply(s, &s->txn->rcpts[st->rcpt].res,
		    SMTPC_ST_RCPT);
		if (s->r.code / 100 == 2)
			s->rcpt_ok++;
		else
			s->last_refused = st->rcpt;
	} else if (st->kind == SMTPC_K_DATA || st->kind == SMTPC_K_BDAT) {
		smtpc_on_last(s, st->kind);
		return;
	}
	if (s->sent > s->got) {
		smtpc_arm(s, smtpc_step_timeout(s, s->steps[s->got].kind),
		    smtpc_timeout_cb);
	} else if (!s->mail_ok && st->kind != SMTPC_K_RSET) {
		smtpc_done(s);
	} else if (s->got == s->nsteps) {
		smtpc_probe_done(s);
	} else if (s->steps[s->got].kind >= SMTPC_K_DATA &&
	    s->rcpt_ok == 0) {
		smtpc_no_rcpt(s);
		smtpc_done(s);
	} else {
		smtpc_push(s);
	}
}

/* smtpc_policy_cb - deliver a local refusal (done_cb runs later) */
static void
smtpc_policy_cb(struct conn *c)
{
	struct smtpc *s = conn_data(c);

	if (s != NULL && s->state == SMTPC_S_POLICY)
		smtpc_done(s);
}

/*
 * Replies and connection events.
 */

/* smtpc_reply - dispatch the current reply on the state */
static void
smtpc_reply(struct smtpc *s)
{
	switch (s->state) {
	case SMTPC_S_GREETING:
		smtpc_on_greeting(s);
		break;
	case SMTPC_S_EHLO:
	case SMTPC_S_HELO:
		smtpc_on_ehlo(s);
		break;
	case SMTPC_S_STARTTLS:
		smtpc_on_starttls(s);
		break;
	case SMTPC_S_AUTH:
		smtpc_on_auth(s);
		break;
	case SMTPC_S_ENV:
		smtpc_on_env(s);
		break;
	case SMTPC_S_DOT:
		smtpc_on_dot(s);
		break;
	case SMTPC_S_DOT_IGNORE:
		smtpc_done(s);
		break;
	case SMTPC_S_QUIT:
		conn_close(s->c);
		break;
	default:
		/* Nothing outstanding: the peer is out of sync. */
		smtpc_abort(s, "4.5.0", "unexpected reply while awaiting",
		    SMTPC_WHY_PROTOCOL);
		break;
	}
}

/*
 * smtpc_abort - the connection is lost, timed out or out of sync: close
 * it and give 421 (text: what, then the reply awaited; why: cause, or
 * TLS_HANDSHAKE for a connection lost in the handshake) to whatever is
 * pending.  The caller must not touch s afterwards.
 */
static void
smtpc_abort(struct smtpc *s, const char *enh, const char *what,
    enum smtpc_why cause)
{
	struct smtpc_result res;
	char why[sizeof(res.text) + 64];

	if (s->state == SMTPC_S_TLS && cause == SMTPC_WHY_CLOSED)
		cause = SMTPC_WHY_TLS_HANDSHAKE;
	smtpc_res_local(&res, 421, enh, smtpc_stage(s), cause, "%s %s", what,
	    smtpc_awaited(s));
	log_info("%ssmtpc: %s %s", s->pfx, s->peer, res.text);
	if (!s->ready && s->conf.need_tls == 1 && !s->conf.tls_implicit &&
	    !s->tls_off &&
	    (s->state == SMTPC_S_STARTTLS || s->state == SMTPC_S_TLS)) {
		snprintf(why, sizeof(why), "%s%s%s", res.text,
		    s->c != NULL && conn_error(s->c) != 0 ? ": " : "",
		    s->c != NULL && conn_error(s->c) != 0 ?
		    strerror(conn_error(s->c)) : "");
		smtpc_fallback(s, why);
		return;
	}
	smtpc_close(s);
	if (!s->ready) {
		smtpc_setup_fail(s, &res);
	} else if (s->txn != NULL) {
		smtpc_answer_pending(s, &res);
		if (s->txn->res.code == 0 || s->txn->res.code / 100 == 2)
			s->txn->res = res;
		smtpc_done(s);
	}
}

/* smtpc_on_open - connected: the TLS handshake or the greeting */
static void
smtpc_on_open(struct conn *c)
{
	struct smtpc *s = conn_data(c);
	struct smtpc_result res;

	if (s == NULL || s->quit)
		return;
	conn_set_raw(c, true);
	if (!s->conf.tls_implicit) {
		smtpc_wait(s, SMTPC_S_GREETING, s->conf.to.greeting);
		return;
	}
	/* RFC 8314 3.3: the handshake first, the greeting inside. */
	s->state = SMTPC_S_TLS;
	if (conn_starttls_client_ctx(c, s->servername, s->ctx) == -1) {
		smtpc_res_local(&res, 421, "4.7.10", SMTPC_ST_STARTTLS,
		    SMTPC_WHY_LOCAL, "cannot start TLS");
		smtpc_setup_fail(s, &res);
		return;
	}
	smtpc_wait(s, SMTPC_S_TLS, s->conf.to.greeting);
}

/* smtpc_on_data - input: read every complete reply */
static size_t
smtpc_on_data(struct conn *c, const char *p, size_t len)
{
	struct smtpc *s = conn_data(c);

	if (s == NULL)
		return len;
	if (evbuffer_add(s->in, p, len) == -1) {
		smtpc_abort(s, "4.3.0", "out of memory while awaiting",
		    SMTPC_WHY_LOCAL);
		return len;
	}
	/* Callbacks may free s, or move it to a new connection. */
	while ((s = conn_data(c)) != NULL && !conn_closing(c) &&
	    s->state != SMTPC_S_TLS) {
		switch (smtpc_reply_read(s->in, s->caps.enhanced, &s->r)) {
		case SMTPC_READ_MORE:
			return len;
		case SMTPC_READ_BAD:
			smtpc_abort(s, "4.5.0", "bad reply to",
			    SMTPC_WHY_PROTOCOL);
			return len;
		case SMTPC_READ_OK:
			smtpc_ts_reply(s);
			smtpc_reply(s);
			break;
		}
	}
	return len;
}

/* smtpc_why_connect - the cause of a failed connect (errno) */
static enum smtpc_why
smtpc_why_connect(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return SMTPC_WHY_REFUSED;
	case ETIMEDOUT:
		return SMTPC_WHY_TIMEOUT;
	case EADDRNOTAVAIL:
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		return SMTPC_WHY_LOCAL;
	default:
		return SMTPC_WHY_UNREACHABLE;
	}
}

/* smtpc_on_event - connect failed, peer closed, I/O error */
static void
smtpc_on_event(struct conn *c, enum conn_event ev)
{
	struct smtpc *s = conn_data(c);
	struct smtpc_result res;

	if (s == NULL || s->quit || s->state == SMTPC_S_QUIT)
		return;
	if (ev == CONN_CONNECT_FAILED) {
		smtpc_res_local(&res, 421, "4.4.1", SMTPC_ST_CONNECT,
		    smtpc_why_connect(conn_error(c)),
		    "cannot connect to %s: %s", s->peer,
		    strerror(conn_error(c)));
		smtpc_setup_fail(s, &res);
	} else if (s->state == SMTPC_S_READY) {
		s->state = SMTPC_S_DEAD;
	} else {
		smtpc_abort(s, "4.4.2", ev == CONN_CLOSED ?
		    "connection lost after" : "connection error after",
		    SMTPC_WHY_CLOSED);
	}
}

/*
 * smtpc_on_tls - handshake done: keep the check's result (or fail on it
 * with tls_verify), then the greeting (implicit TLS) or EHLO again
 */
static void
smtpc_on_tls(struct conn *c)
{
	struct smtpc *s = conn_data(c);
	struct smtpc_result res;
	const char *why;
	char desc[128];
	bool ok;

	if (s == NULL || s->quit)
		return;
	ok = conn_tls_verified(c, &why);
	snprintf(s->tls_info, sizeof(s->tls_info), "%s %s%s%s%s",
	    conn_tls_desc(c, desc, sizeof(desc)), ok ? "verified" :
	    "unverified", ok ? "" : " (", ok ? "" : why, ok ? "" : ")");
	log_info("%ssmtpc: %s TLS %s", s->pfx, s->peer, s->tls_info);
	if (s->conf.tls_verify && !ok) {
		/* No clear-text retry: that would defeat the check. */
		smtpc_res_local(&res, 421, "4.7.5", SMTPC_ST_STARTTLS,
		    SMTPC_WHY_TLS_CERT, "certificate not trusted: %s", why);
		if (s->conf.tls_implicit)
			smtpc_setup_fail(s, &res);	/* before the 220 */
		else
			smtpc_setup_refused(s, &res);
		return;
	}
	if (s->conf.tls_implicit)
		smtpc_wait(s, SMTPC_S_GREETING, s->conf.to.greeting);
	else
		smtpc_ehlo(s);
}

/*
 * smtpc_on_free - the connection is gone: free a quit session, or owe
 * what is pending (a close without callback, e.g. a failed write).
 */
static void
smtpc_on_free(struct conn *c)
{
	struct smtpc *s = conn_data(c);

	if (s == NULL || s->c != c)
		return;
	s->c = NULL;
	if (s->quit)
		smtpc_free(s);
	else if (!s->ready || s->txn != NULL)
		smtpc_abort(s, "4.4.2", "connection closed after",
		    SMTPC_WHY_CLOSED);
	else
		s->state = SMTPC_S_DEAD;
}

/*
 * The interface.
 */

/* smtpc_set_peer - "host [address]:port" and the log prefix */
static void
smtpc_set_peer(struct smtpc *s)
{
	char ip[64];
	int port;

	ipaddr_str((struct sockaddr *)&s->to, ip, sizeof(ip));
	port = s->to.ss_family == AF_INET6 ?
	    ntohs(((struct sockaddr_in6 *)&s->to)->sin6_port) :
	    ntohs(((struct sockaddr_in *)&s->to)->sin_port);
	snprintf(s->peer, sizeof(s->peer), "%s%s[%s]:%d",
	    s->servername != NULL ? s->servername : "",
	    s->servername != NULL ? " " : "", ip, port);
	if (s->log_id != NULL)
		snprintf(s->pfx, sizeof(s->pfx), "%s: ", s->log_id);
}

/* smtpc_copy_conf - own copy of conf, with default time limits */
static int
smtpc_copy_conf(struct smtpc *s, const struct smtpc_conf *conf)
{
	struct smtpc_timeouts *to = &s->conf.to;

	s->conf = *conf;
	s->helo = strdup(conf->helo != NULL ? conf->helo : "localhost");
	s->servername = conf->servername != NULL ?
	    strdup(conf->servername) : NULL;
	s->log_id = conf->log_id != NULL ? strdup(conf->log_id) : NULL;
	if (s->helo == NULL || (conf->servername != NULL &&
	    s->servername == NULL) || (conf->log_id != NULL &&
	    s->log_id == NULL))
		return -1;
	s->conf.helo = s->helo;
	s->conf.servername = s->servername;
	s->conf.log_id = s->log_id;
	if (conf->auth != NULL) {
		s->auth = *conf->auth;
		s->conf.auth = &s->auth;
	}
	if (conf->bind != NULL) {
		if ((size_t)conf->bindlen > sizeof(s->bind)) {
			errno = EINVAL;
			return -1;
		}
		memcpy(&s->bind, conf->bind, conf->bindlen);
		s->conf.bind = (struct sockaddr *)&s->bind;
	}
	/* RFC 5321 4.5.3.2. */
	to->connect = to->connect > 0 ? to->connect : 30;
	to->greeting = to->greeting > 0 ? to->greeting : 300;
	to->command = to->command > 0 ? to->command : 300;
	to->data_init = to->data_init > 0 ? to->data_init : 120;
	to->data_block = to->data_block > 0 ? to->data_block : 180;
	to->data_done = to->data_done > 0 ? to->data_done : 600;
	return 0;
}

/* smtpc_early_cb - tell the failure smtpc_open found (on the loop) */
static void
smtpc_early_cb(void *arg)
{
	struct smtpc *s = arg;

	smtpc_setup_fail(s, &s->early);
}

/*
 * smtpc_load_ca - the client context trusting tls_ca_file; a failure is
 * told by ready_cb later (s->failing keeps smtpc_quit from freeing s
 * first).  Returns 0, or -1 (errno) when even that cannot be scheduled.
 */
static int
smtpc_load_ca(struct smtpc *s, const char *cafile)
{
	char why[sizeof(s->early.text)];

	s->conf.tls_ca_file = NULL;	/* read now, not kept */
	if ((s->ctx = tls_client_ctx_file(cafile, why, sizeof(why))) != NULL)
		return 0;
	smtpc_res_local(&s->early, 421, "4.3.5", SMTPC_ST_STARTTLS,
	    SMTPC_WHY_LOCAL, "CA file not loaded: %s", why);
	s->failing = true;
	if (ev_run_in_loop(s->loop, smtpc_early_cb, s) == -1) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* smtpc_open - connect and set up */
struct smtpc *
smtpc_open(struct ev_loop *l, const struct sockaddr *to, socklen_t tolen,
    const struct smtpc_conf *conf, smtpc_ready_cb *ready_cb, void *arg)
{
	struct smtpc *s;
	int e;

	if ((size_t)tolen > sizeof(s->to)) {
		errno = EINVAL;
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	buf_init(&s->r.text, SMTPC_REPLY_TEXT_MAX);
	buf_init(&s->ts, SMTPC_TS_MAX + 8);
	if ((s->in = evbuffer_new()) == NULL) {
		free(s);
		return NULL;
	}
	if (smtpc_copy_conf(s, conf) == -1)
		goto fail;
	s->loop = l;
	memcpy(&s->to, to, tolen);
	s->tolen = tolen;
	s->ready_cb = ready_cb;
	s->ready_arg = arg;
	s->state = SMTPC_S_CONNECT;
	smtpc_set_peer(s);
	if (conf->tls_ca_file != NULL) {
		if (smtpc_load_ca(s, conf->tls_ca_file) == -1)
			goto fail;
		if (s->failing)
			return s;	/* smtpc_early_cb tells */
	}
	s->c = conn_connect(l, &smtpc_svc, to, tolen, s->conf.bind,
	    s->conf.bindlen, s->conf.to.connect, s);
	if (s->c == NULL)
		goto fail;
	return s;
fail:
	e = errno;
	smtpc_free(s);
	errno = e;
	return NULL;
}

/* smtpc_send - run one transaction */
int
smtpc_send(struct smtpc *s, struct smtpc_txn *txn, smtpc_done_cb *done_cb,
    void *arg)
{
	size_t i;

	if (!smtpc_usable(s) || (txn->data == NULL && txn->len != 0))
		return -1;
	s->txn = txn;
	s->probe = txn->data == NULL;
	s->done_cb = done_cb;
	s->done_arg = arg;
	memset(&txn->res, 0, sizeof(txn->res));
	txn->naccepted = 0;
	for (i = 0; i < txn->nrcpts; i++)
		memset(&txn->rcpts[i].res, 0, sizeof(txn->rcpts[i].res));
	s->mail_ok = false;
	s->rcpt_ok = 0;
	s->last_refused = SIZE_MAX;
	if (smtpc_policy(s) == -1 || smtpc_plan(s) == -1) {
		/* done_cb must run later, never inside this call. */
		s->nsteps = s->sent = 0;
		s->state = SMTPC_S_POLICY;
		smtpc_arm(s, 0, smtpc_policy_cb);
		return 0;
	}
	smtpc_push(s);
	return 0;
}

/* smtpc_usable - ready for a transaction */
bool
smtpc_usable(const struct smtpc *s)
{
	return s->c != NULL && !s->quit && s->state == SMTPC_S_READY &&
	    !conn_closing(s->c);
}

/* smtpc_quit - QUIT when in sync, close, free (no more callbacks) */
void
smtpc_quit(struct smtpc *s)
{
	bool usable;

	if (s == NULL)
		return;
	usable = smtpc_usable(s);
	s->quit = true;
	if (s->failing)
		return;			/* smtpc_setup_fail frees it */
	if (s->c == NULL) {
		smtpc_free(s);
		return;
	}
	if (usable && smtpc_cmd(s, "QUIT", NULL) == 0) {
		smtpc_wait(s, SMTPC_S_QUIT, s->conf.to.command <
		    SMTPC_QUIT_SECONDS ? s->conf.to.command :
		    SMTPC_QUIT_SECONDS);
		return;
	}
	smtpc_close(s);
}

/* smtpc_caps - the peer's capabilities */
const struct smtpc_caps *
smtpc_caps(const struct smtpc *s)
{
	return &s->caps;
}

/* smtpc_tls_info - TLS protocol, cipher and check, or "" */
const char *
smtpc_tls_info(const struct smtpc *s)
{
	return s->tls_info;
}

/* smtpc_peer - "host [address]:port" */
const char *
smtpc_peer(const struct smtpc *s)
{
	return s->peer;
}

/* smtpc_auth_used - the SASL mechanism sent, or "" */
const char *
smtpc_auth_used(const struct smtpc *s)
{
	return smtpc_mech_name(s->mech);
}

/* smtpc_transcript - the conversation so far */
const struct buf *
smtpc_transcript(const struct smtpc *s)
{
	return &s->ts;
}

/* smtpc_transcript_reset - empty the transcript */
void
smtpc_transcript_reset(struct smtpc *s)
{
	buf_reset(&s->ts);
	s->ts_full = false;
}
