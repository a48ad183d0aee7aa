/*
 * smtpd_session.c - SMTP sessions: greeting, replies, line and DATA input,
 * spooling through the worker pool.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "core/ev.h"
#include "core/line.h"
#include "core/log.h"
#include "core/match.h"
#include "core/rfcdate.h"
#include "core/work.h"
#include "queue/queue.h"
#include "queue/queue_local.h"
#include "smtpd/smtpd_int.h"

static const char *const smtpd_state_name[] = {
	"INIT", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "BUSY",
};

/* smtpd_enter_state - change state */
void
smtpd_enter_state(struct smtpd_session *s, enum smtpd_state st)
{
	log_debug("smtp: session %llu %s -> %s",
	    (unsigned long long)conn_id(s->conn), smtpd_state_name[s->state],
	    smtpd_state_name[st]);
	s->state = st;
}

/* smtpd_reply - one reply line */
void
smtpd_reply(struct smtpd_session *s, int code, const char *fmt, ...)
{
	const char *custom = NULL;
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (code >= 400)
		custom = config_var(s->cfg, "CustomSMTPMessage");
	if (custom != NULL && *custom != '\0')
		conn_printf(s->conn, "%d %s - %s\r\n", code, text, custom);
	else
		conn_printf(s->conn, "%d %s\r\n", code, text);
	if (code < 400 || code == 421)
		return;
	s->errors++;
	if (s->max_errors > 0 && s->errors >= s->max_errors) {
		log_info("smtp: peer=%s too many errors (%d), closing",
		    conn_peer_ip(s->conn), s->errors);
		conn_printf(s->conn, "421 4.7.0 Too many errors, closing"
		    " transmission channel\r\n");
		conn_close(s->conn);
	}
}

/* smtpd_svc_log - XMail SMTP log record */
void
smtpd_svc_log(struct smtpd_session *s, const char *rcpt, const char *status,
    size_t size, const char *msgid)
{
	char when[32], sizes[24], from[ADDR_PATH_MAX + 1];
	const char *f[13], *at = strrchr(rcpt, '@');
	time_t now = time(NULL);
	struct tm tm;

	if (!s->opts->log)
		return;
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(sizes, sizeof(sizes), "%zu", size);
	if (addr_format(&s->mail.from, from, sizeof(from)) == -1)
		from[0] = '\0';
	f[0] = conn_local_ip(s->conn);
	f[1] = s->domain;
	f[2] = conn_peer_ip(s->conn);
	f[3] = when;
	f[4] = s->helo;
	f[5] = at != NULL ? at + 1 : "";
	f[6] = from;
	f[7] = rcpt;
	f[8] = msgid;
	f[9] = status;
	f[10] = s->auth_user;
	f[11] = sizes;
	f[12] = "";
	(void)log_svc("smtp", f, 13);
}

/* smtpd_tx_reset - drop the transaction */
void
smtpd_tx_reset(struct smtpd_session *s)
{
	memset(&s->mail, 0, sizeof(s->mail));
	s->mail_line[0] = '\0';
	buf_reset(&s->rcpts);
	s->nrcpts = 0;
	s->first_rcpt[0] = '\0';
	buf_clear(&s->msg);
	s->bdat_left = 0;
	s->bdat_last = false;
	s->bdat_bad = false;
}

/* smtpd_tx_end - transaction over */
void
smtpd_tx_end(struct smtpd_session *s)
{
	smtpd_tx_reset(s);
	smtpd_enter_state(s, SMTPD_S_HELO);
	if (s->quit_after) {
		conn_printf(s->conn, "421 4.3.2 %s Service shutting down,"
		    " closing transmission channel\r\n", s->domain);
		conn_close(s->conn);
	}
}

/* session_limits - per-session values from server.tab */
static void
session_limits(struct smtpd_session *s)
{
	const char *d = config_var(s->cfg, "SmtpServerDomain");
	long kb = config_var_long(s->cfg, "MaxMessageSize", 0);

	if (d == NULL || *d == '\0')
		d = config_var(s->cfg, "RootDomain");
	if (d == NULL || *d == '\0')
		d = "localhost";
	if (!str_copy(s->domain, d, sizeof(s->domain)))
		s->domain[0] = '\0';
	s->max_size = kb > 0 && (uint64_t)kb * 1024 < SMTPD_HARD_MAX ?
	    (uint64_t)kb * 1024 : SMTPD_HARD_MAX;
	s->max_errors = (int)config_var_long(s->cfg, "SMTP-MaxErrors", 0);
	s->exts.size = true;
	s->exts.eightbit = true;
	s->exts.dsn = true;
	s->exts.smtputf8 = true;
	s->exts.auth = false;
}

/* smtp_config - SmtpConfig-IP,PORT, else SmtpConfig-IP, else SmtpConfig */
static void
smtp_config(struct smtpd_session *s)
{
	const char *v;
	char name[128];

	snprintf(name, sizeof(name), "SmtpConfig-%s,%d",
	    conn_local_ip(s->conn), conn_local_port(s->conn));
	v = config_var(s->cfg, name);
	/*
	 * RFC 6409: submission needs authentication over TLS; only a line
	 * for its own address and port may say otherwise.
	 */
	if (v == NULL && s->opts->submission)
		v = "MailAuth,WantTLS";
	if (v == NULL) {
		snprintf(name, sizeof(name), "SmtpConfig-%s",
		    conn_local_ip(s->conn));
		v = config_var(s->cfg, name);
	}
	if (v == NULL)
		v = config_var(s->cfg, "SmtpConfig");
	while (v != NULL && *v != '\0') {
		size_t n;

		v += strspn(v, ", ");
		n = strcspn(v, ",");
		if ((n == 8 && strncasecmp(v, "MailAuth", 8) == 0) ||
		    (n == 9 && strncasecmp(v, "mail-auth", 9) == 0))
			s->mail_auth = true;
		else if (n == 7 && strncasecmp(v, "WantTLS", 7) == 0)
			s->want_tls = true;
		v += n;
	}
}

/*
 * smtpd_ipprop - smtp.ipprop.tab: the first line matching the peer has
 * "<name>=1"
 */
bool
smtpd_ipprop(struct smtpd_session *s, const char *name)
{
	const struct tab *t = config_tab(s->cfg, CFG_SMTP_IPPROP);
	size_t i, k, n = strlen(name);
	struct ipfilter f;

	for (i = 0; i < t->nrecs; i++) {
		const struct tab_rec *r = &t->recs[i];

		if (r->n < 2 || ipfilter_parse(r->f[0], NULL,
		    &f) == -1 || !ipfilter_match(&f, conn_peer(s->conn)))
			continue;
		for (k = 1; k < r->n; k++)
			if (strncasecmp(r->f[k], name, n) == 0 &&
			    strcmp(r->f[k] + n, "=1") == 0)
				return true;
		return false;
	}
	return false;
}

/* smtpd_open - new connection */
static void
smtpd_open(struct conn *c)
{
	struct smtpd_session *s = calloc(1, sizeof(*s));
	char date[RFCDATE_MAX];

	if (s == NULL) {
		conn_printf(c, "421 4.3.0 Out of memory\r\n");
		conn_close(c);
		return;
	}
	s->conn = c;
	s->opts = conn_service(c)->arg;
	s->cfg = config_acquire();
	buf_init(&s->rcpts, (size_t)(s->opts->max_rcpt + 1) *
	    SMTPD_RCPT_LINE_MAX);
	buf_init(&s->msg, 0);
	conn_set_data(c, s);
	session_limits(s);
	if (!config_ipmap_allow(s->cfg, CFG_SMTP_IPMAP, conn_peer(c))) {
		log_info("smtp: peer=%s refused by smtp.ipmap.tab",
		    conn_peer_ip(c));
		conn_printf(c, "421 4.7.1 %s service not available, closing"
		    " transmission channel\r\n", s->domain);
		conn_close(c);
		return;
	}
	s->relay_ok = config_relay_allow(s->cfg, conn_peer(c));
	smtp_config(s);
	s->ease_tls = smtpd_ipprop(s, "EaseTLS");
	log_info("%s: connect peer=%s port=%d session=%llu", s->opts->name,
	    conn_peer_ip(c), conn_peer_port(c),
	    (unsigned long long)conn_id(c));
	/* The <stamp> is also the CRAM-MD5 challenge (XMail). */
	snprintf(s->ts, sizeof(s->ts), "<%ld.%llu@%s>", (long)time(NULL),
	    (unsigned long long)conn_id(c), s->domain);
	conn_printf(c, "220 %s %s [postroom ESMTP Server] service ready;"
	    " %s\r\n", s->domain, s->ts,
	    rfcdate(time(NULL), date, sizeof(date)));
}

/*
 * smtpd_tls - STARTTLS handshake done (or SMTPS): RFC 3207 4.2, the
 * client starts over with EHLO and nothing learnt before counts.
 */
static void
smtpd_tls(struct conn *c)
{
	struct smtpd_session *s = conn_data(c);
	char desc[128];

	smtpd_tx_reset(s);
	smtpd_auth_reset(s);
	s->helo[0] = '\0';
	s->esmtp = false;
	session_limits(s);
	smtpd_enter_state(s, SMTPD_S_INIT);
	log_info("%s: peer=%s TLS established: %s", s->opts->name,
	    conn_peer_ip(c), conn_tls_desc(c, desc, sizeof(desc)));
}

/* smtpd_line - one command */
static void
smtpd_line(struct conn *c, char *line, size_t len)
{
	struct smtpd_session *s = conn_data(c);

	if (line_has_ctl_eol(line, len)) {
		log_warn("smtp: peer=%s bare CR/LF or NUL in a command,"
		    " closing", conn_peer_ip(c));
		conn_printf(c, "500 5.5.2 Bare CR or LF in command line,"
		    " closing\r\n");
		conn_close(c);
		return;
	}
	if (s->sasl.step != SMTPD_SASL_NONE) {
		smtpd_auth_line(s, line, len);
		return;
	}
	smtpd_cmd_dispatch(s, line, len);
}

/* data_finish - end of DATA reached */
static void
data_finish(struct smtpd_session *s)
{
	long hops_max = config_var_long(s->cfg, "MaxMTAOps", 16);

	conn_set_raw(s->conn, false);
	if (s->data.too_big) {
		smtpd_reply(s, 552, "5.3.4 Message exceeds fixed maximum"
		    " message size");
	} else if (s->data.long_line) {
		smtpd_reply(s, 554, "5.6.0 Message has a line longer than"
		    " %d octets", SMTPD_TEXT_TOLERANCE);
	} else if (s->data.hops > hops_max) {
		log_warn("smtp: peer=%s loop: %u hops", conn_peer_ip(s->conn),
		    s->data.hops);
		smtpd_reply(s, 554, "5.4.6 Mail loop detected (%u hops)",
		    s->data.hops);
	} else if (s->data.eightbit && s->mail.body != SMTPD_BODY_8BITMIME &&
	    !s->mail.smtputf8) {
		smtpd_reply(s, 554, "5.6.1 8-bit data without BODY=8BITMIME");
	} else {
		smtpd_commit(s);
		return;
	}
	smtpd_tx_end(s);
}

/* smtpd_data_bytes - DATA or BDAT body bytes */
static size_t
smtpd_data_bytes(struct conn *c, const char *p, size_t len)
{
	struct smtpd_session *s = conn_data(c);
	enum smtpd_data_status st;
	size_t used = 0, take;

	if (s->state == SMTPD_S_BDAT) {
		take = len < s->bdat_left ? len : (size_t)s->bdat_left;
		if (!s->bdat_bad && !s->bdat_discard &&
		    buf_append(&s->msg, p, take) == -1)
			s->bdat_bad = true;
		s->bdat_left -= take;
		if (s->bdat_left == 0)
			smtpd_bdat_chunk_done(s);
		return take;
	}
	st = smtpd_data_feed(&s->data, p, len, &s->msg, &used);
	if (st == SMTPD_DATA_BARE) {
		log_warn("smtp: peer=%s bare CR or LF in message data,"
		    " message rejected, closing", conn_peer_ip(c));
		conn_printf(c, "521 5.5.2 Bare CR or LF in message data;"
		    " message rejected, closing\r\n");
		smtpd_tx_reset(s);
		conn_close(c);
		return len;
	}
	if (st == SMTPD_DATA_DONE)
		data_finish(s);
	return used;
}

/* smtpd_data_start - begin DATA */
void
smtpd_data_start(struct smtpd_session *s)
{
	buf_clear(&s->msg);
	buf_init(&s->msg, (size_t)s->max_size);
	smtpd_data_init(&s->data, SMTPD_TEXT_TOLERANCE);
	smtpd_enter_state(s, SMTPD_S_DATA);
	conn_printf(s->conn, "354 Start mail input; end with"
	    " <CRLF>.<CRLF>\r\n");
	conn_set_raw(s->conn, true);
}

/* smtpd_event - timeout, overlong line, disconnects */
static void
smtpd_event(struct conn *c, enum conn_event ev)
{
	struct smtpd_session *s = conn_data(c);

	switch (ev) {
	case CONN_LINE_TOO_LONG:
		smtpd_reply(s, 500, "5.5.2 Line too long");
		break;
	case CONN_TIMEOUT:
		log_info("smtp: peer=%s idle timeout", conn_peer_ip(c));
		conn_printf(c, "421 4.4.2 %s Timeout, closing transmission"
		    " channel\r\n", s->domain);
		break;
	case CONN_CLOSED:
	case CONN_ERROR:
	case CONN_CONNECT_FAILED:
		if (s->state == SMTPD_S_DATA || s->state == SMTPD_S_BDAT)
			log_info("smtp: peer=%s disconnected during DATA,"
			    " message discarded", conn_peer_ip(c));
		break;
	}
}

/* smtpd_shutdown - server stopping: idle sessions get 421 now */
static void
smtpd_shutdown(struct conn *c)
{
	struct smtpd_session *s = conn_data(c);

	if (s->state == SMTPD_S_DATA || s->state == SMTPD_S_BDAT ||
	    s->state == SMTPD_S_BUSY) {
		s->quit_after = true;
		return;
	}
	conn_printf(c, "421 4.3.2 %s Service shutting down, closing"
	    " transmission channel\r\n", s->domain);
	conn_close(c);
}

/* smtpd_free - end of session */
static void
smtpd_free(struct conn *c)
{
	struct smtpd_session *s = conn_data(c);

	if (s == NULL)
		return;
	log_debug("smtp: session %llu closed",
	    (unsigned long long)conn_id(c));
	buf_clear(&s->rcpts);
	buf_clear(&s->msg);
	smtpd_auth_reset(s);
	config_release(s->cfg);
	free(s);
}

/* A message on its way to the spool. */
struct smtpd_job {
	struct ev_loop		*loop;
	uint64_t		 conn;
	struct config		*cfg;
	const struct smtpd_opts	*opts;
	char			 info[256];
	char			 domain[256];
	char			 helo[256];
	char			 peer[80];
	int			 peer_port;
	char			 local[80];
	int			 local_port;
	long			 hdr_type;	/* ReceivedHdrType 0-4 */
	bool			 authed;	/* AUTH or POP3-before-SMTP */
	bool			 emit_auth;	/* X-AuthUser: header */
	char			 auth_user[STORE_ADDR_MAX + 1];
	char			 tls[128];	/* protocol and cipher, or "" */
	char			 mail_line[SMTPD_CMD_MAX + 16];
	char			 from[ADDR_PATH_MAX + 1];
	char			 first_rcpt[ADDR_PATH_MAX + 1];
	struct buf		 rcpts;		/* NUL-separated lines */
	size_t			 nrcpts;
	struct buf		 msg;
	struct queue_ref	*refs;
	char			 msgid[32];
	int			 rc;
};

/* job_free - release a job */
static void
job_free(struct smtpd_job *j)
{
	buf_clear(&j->rcpts);
	buf_clear(&j->msg);
	config_release(j->cfg);
	free(j->refs);
	free(j);
}

/*
 * received_header - the Received: line (RFC 5321 4.4) in XMail's
 * ReceivedHdrType forms (XMAIL-FACTS 8): 0 standard, 1 verbose (adds our
 * address), 2 strict (no client address), 3 and 4 like 0 and 1 but
 * without the client part for authenticated sessions.
 */
static int
received_header(const struct smtpd_job *j, struct buf *out)
{
	char date[RFCDATE_MAX];
	bool verbose = j->hdr_type == 1 || j->hdr_type == 4;
	bool hide = j->hdr_type == 2 ||
	    ((j->hdr_type == 3 || j->hdr_type == 4) && j->authed);

	if (buf_printf(out, "Received: from %s", j->helo) == -1 ||
	    (!hide && buf_printf(out, " ([%s]:%d)", j->peer,
	    j->peer_port) == -1) ||
	    buf_printf(out, "\r\n\tby %s", j->domain) == -1 ||
	    (verbose && buf_printf(out, " ([%s]:%d)", j->local,
	    j->local_port) == -1))
		return -1;
	if (j->tls[0] != '\0' &&
	    buf_printf(out, "\r\n\t(using %s)", j->tls) == -1)
		return -1;
	return buf_printf(out, " with [postroom ESMTP Server]\r\n"
	    "\tid <%s> for <%s> from <%s>;\r\n\t%s\r\n", j->msgid,
	    j->first_rcpt, j->from, rfcdate(time(NULL), date, sizeof(date)));
}

/* commit_work - worker: message id, Received:, spool files */
static void
commit_work(void *arg)
{
	struct smtpd_job *j = arg;
	const char **rcpts = NULL;
	struct queue_env env;
	struct buf data;
	uint64_t id;
	const char *p;
	size_t i;

	j->rc = -1;
	buf_init(&data, j->msg.len + 4096);
	rcpts = calloc(j->nrcpts, sizeof(*rcpts));
	j->refs = calloc(j->nrcpts, sizeof(*j->refs));
	if (rcpts == NULL || j->refs == NULL ||
	    queue_msgid_take(config_mailroot(j->cfg), &id) == -1)
		goto out;
	snprintf(j->msgid, sizeof(j->msgid), "S%llX", (unsigned long long)id);
	/* X-AuthUser goes before Received: (XMAIL-FACTS 8). */
	if ((j->emit_auth && buf_printf(&data, "X-AuthUser: %s\r\n",
	    j->auth_user) == -1) || received_header(j, &data) == -1 ||
	    buf_append(&data, j->msg.data, j->msg.len) == -1)
		goto out;
	for (i = 0, p = j->rcpts.data; i < j->nrcpts; i++) {
		rcpts[i] = p;
		p += strlen(p) + 1;
	}
	env.info = j->info;
	env.smtp_domain = j->domain;
	env.msgid = j->msgid;
	env.mail_from = j->mail_line;
	env.rcpts = rcpts;
	env.nrcpts = j->nrcpts;
	j->rc = queue_submit(config_mailroot(j->cfg), j->opts->split, &env,
	    data.data, data.len, j->refs);
out:
	free(rcpts);
	buf_clear(&data);
}

/* commit_log - one -Sl record per recipient of an accepted message */
static void
commit_log(struct smtpd_session *s, const struct smtpd_job *j)
{
	const char *p = j->rcpts.data, *lt, *gt;
	char addr[ADDR_PATH_MAX + 1];
	size_t i, n;

	for (i = 0; i < j->nrcpts; i++, p += strlen(p) + 1) {
		lt = strchr(p, '<');
		gt = lt != NULL ? strchr(lt, '>') : NULL;
		n = gt != NULL ? (size_t)(gt - lt - 1) : 0;
		if (n >= sizeof(addr))
			n = 0;
		memcpy(addr, lt != NULL ? lt + 1 : "", n);
		addr[n] = '\0';
		smtpd_svc_log(s, addr, "RECV=OK", j->msg.len, j->msgid);
	}
}

/* commit_done - loop: reply, then hand local mail to delivery */
static void
commit_done(void *arg)
{
	struct smtpd_job *j = arg;
	struct conn *c = conn_find(j->loop, j->conn);
	struct smtpd_session *s = c != NULL ? conn_data(c) : NULL;

	if (s != NULL) {
		if (j->rc == 0) {
			log_info("smtp: peer=%s accepted id=%s from=<%s>"
			    " rcpts=%zu size=%zu", j->peer, j->msgid, j->from,
			    j->nrcpts, j->msg.len);
			commit_log(s, j);
			smtpd_reply(s, 250, "2.0.0 OK <%s>", j->msgid);
		} else {
			smtpd_reply(s, 451, "4.3.0 Requested action aborted:"
			    " local error in processing");
		}
		smtpd_tx_end(s);
		conn_resume(c);
	} else if (j->rc == 0) {
		log_warn("smtp: id=%s spooled but the client left before the"
		    " reply; it may send the message again", j->msgid);
	}
	if (j->rc == 0) {
		queue_local_schedule(j->refs, j->nrcpts);
		j->refs = NULL;
	}
	job_free(j);
}

/* job_copy - copy between fields of equal size (truncation is a bug) */
static void
job_copy(char *dst, const char *src, size_t size)
{
	if (!str_copy(dst, src, size))
		fatalx("smtp: %zu-byte field truncated", size);
}

/* smtpd_commit - spool the message */
void
smtpd_commit(struct smtpd_session *s)
{
	struct smtpd_job *j = calloc(1, sizeof(*j));
	char date[RFCDATE_MAX];

	if (j == NULL)
		goto fail;
	j->loop = conn_loop(s->conn);
	j->conn = conn_id(s->conn);
	j->cfg = config_acquire();
	j->opts = s->opts;
	snprintf(j->info, sizeof(j->info), "[%s]:%d;[%s]:%d;%s",
	    conn_peer_ip(s->conn), conn_peer_port(s->conn),
	    conn_local_ip(s->conn), conn_local_port(s->conn),
	    rfcdate(time(NULL), date, sizeof(date)));
	job_copy(j->domain, s->domain, sizeof(j->domain));
	job_copy(j->helo, s->helo, sizeof(j->helo));
	job_copy(j->peer, conn_peer_ip(s->conn), sizeof(j->peer));
	j->peer_port = conn_peer_port(s->conn);
	job_copy(j->local, conn_local_ip(s->conn), sizeof(j->local));
	j->local_port = conn_local_port(s->conn);
	j->hdr_type = config_var_long(s->cfg, "ReceivedHdrType", 0);
	j->authed = s->authed;
	j->emit_auth = s->authed &&
	    !config_var_bool(s->cfg, "DisableEmitAuthUser", false);
	job_copy(j->auth_user, s->auth_user, sizeof(j->auth_user));
	conn_tls_desc(s->conn, j->tls, sizeof(j->tls));
	job_copy(j->mail_line, s->mail_line, sizeof(j->mail_line));
	job_copy(j->first_rcpt, s->first_rcpt, sizeof(j->first_rcpt));
	if (addr_format(&s->mail.from, j->from, sizeof(j->from)) == -1)
		j->from[0] = '\0';
	/* Move the buffers: no copy of the message. */
	j->rcpts = s->rcpts;
	buf_init(&s->rcpts, s->rcpts.max);
	j->nrcpts = s->nrcpts;
	j->msg = s->msg;
	buf_init(&s->msg, 0);
	smtpd_enter_state(s, SMTPD_S_BUSY);
	conn_pause(s->conn);
	if (work_submit(j->loop, commit_work, commit_done, j) == 0)
		return;
	job_free(j);
	conn_resume(s->conn);
fail:
	smtpd_reply(s, 451, "4.3.0 Requested action aborted: local error in"
	    " processing");
	smtpd_tx_end(s);
}

static const struct conn_handler smtpd_handler = {
	.on_open = smtpd_open,
	.on_line = smtpd_line,
	.on_data = smtpd_data_bytes,
	.on_event = smtpd_event,
	.on_tls = smtpd_tls,
	.on_shutdown = smtpd_shutdown,
	.on_free = smtpd_free,
};

/* smtpd_service_init - describe the SMTP service */
void
smtpd_service_init(struct ev_service *svc, const struct smtpd_opts *o)
{
	svc->name = o->name;
	svc->arg = (void *)o;
	svc->tls = o->implicit_tls;
	svc->handler = &smtpd_handler;
	svc->line_max = SMTPD_CMD_MAX;
	svc->timeout = o->timeout;
	svc->max_sessions = o->max_sessions;
	svc->busy_reply = "421 4.3.2 Server too busy, retry later\r\n";
}
