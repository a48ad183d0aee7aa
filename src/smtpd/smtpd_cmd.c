/*
 * smtpd_cmd.c - the SMTP command table and one handler per command.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "core/ev.h"
#include "core/line.h"
#include "core/log.h"
#include "core/tls.h"
#include "core/work.h"
#include "queue/queue_out.h"
#include "smtpd/smtpd_int.h"
#include "queue/queue_verify.h"
#include "store/store.h"
#include "store/store_auth.h"

/* cmd_helo_common - HELO and EHLO */
static bool
cmd_helo_common(struct smtpd_session *s, char *arg)
{
	if (!smtpd_helo_ok(arg)) {
		smtpd_reply(s, 501, "5.5.4 Invalid domain name");
		return false;
	}
	if (!str_copy(s->helo, arg, sizeof(s->helo))) {
		smtpd_reply(s, 501, "5.5.4 Domain name too long");
		return false;
	}
	smtpd_tx_reset(s);
	smtpd_enter_state(s, SMTPD_S_HELO);
	return true;
}

/* smtpd_root_domain - RootDomain for HELO replies (XMail) */
const char *
smtpd_root_domain(struct smtpd_session *s)
{
	const char *d = config_var(s->cfg, "RootDomain");

	return d != NULL && *d != '\0' ? d : s->domain;
}

/* cmd_helo - HELO */
static void
cmd_helo(void *arg0, char *arg)
{
	struct smtpd_session *s = arg0;

	if (!cmd_helo_common(s, arg))
		return;
	s->esmtp = false;
	smtpd_reply(s, 250, "%s", smtpd_root_domain(s));
}

/* starttls_offered - STARTTLS possible on this connection now */
static bool
starttls_offered(struct smtpd_session *s)
{
	return !conn_is_tls(s->conn) && tls_server_available() &&
	    config_var_bool(s->cfg, "EnableSMTP-TLS", true);
}

/* cmd_ehlo - EHLO with the extensions (RFC 5321 4.1.1.1) */
static void
cmd_ehlo(void *arg0, char *arg)
{
	struct smtpd_session *s = arg0;
	char mechs[256];

	if (!cmd_helo_common(s, arg))
		return;
	s->esmtp = true;
	smtpd_auth_mechs(s, mechs, sizeof(mechs));
	conn_printf(s->conn, "250-%s\r\n250-PIPELINING\r\n250-SIZE %llu\r\n"
	    "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n"
	    "250-DSN\r\n250-ETRN\r\n%s%s%s%s250 SMTPUTF8\r\n", smtpd_root_domain(s),
	    (unsigned long long)s->max_size, *mechs ? "250-AUTH " : "", mechs,
	    *mechs ? "\r\n" : "", starttls_offered(s) ?
	    "250-STARTTLS\r\n" : "");
}

/* cmd_starttls - STARTTLS (RFC 3207) */
static void
cmd_starttls(void *arg0, char *arg)
{
	struct smtpd_session *s = arg0;

	(void)arg;
	if (conn_is_tls(s->conn)) {
		smtpd_reply(s, 503, "5.5.1 TLS already active");
		return;
	}
	if (!starttls_offered(s)) {
		smtpd_reply(s, 454, "4.7.0 TLS not available");
		return;
	}
	conn_printf(s->conn, "220 2.0.0 Ready to start TLS\r\n");
	if (conn_starttls(s->conn) == -1) {
		log_warn("%s: peer=%s STARTTLS failed to start",
		    s->opts->name, conn_peer_ip(s->conn));
		conn_close(s->conn);
	}
}

/* prefix_arg - "FROM:" / "TO:" prefix, case-insensitive */
static char *
prefix_arg(char *arg, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncasecmp(arg, prefix, n) == 0 ? arg + n : NULL;
}

/* parse_reply - reply for a parse error */
static void
parse_reply(struct smtpd_session *s, enum smtpd_parse_err e,
    enum addr_err detail, bool sender)
{
	switch (e) {
	case SMTPD_PARSE_PATH:
		smtpd_reply(s, 501, "%s Bad %s address syntax: %s",
		    sender ? "5.1.7" : "5.1.3",
		    sender ? "sender" : "recipient", addr_strerror(detail));
		break;
	case SMTPD_PARSE_UNKNOWN:
		smtpd_reply(s, 555, "5.5.4 Unsupported parameter");
		break;
	case SMTPD_PARSE_8BIT:
		smtpd_reply(s, 553, "5.6.7 Non-ASCII address requires"
		    " SMTPUTF8");
		break;
	default:
		smtpd_reply(s, 501, "5.5.4 Syntax error in parameters or"
		    " arguments");
		break;
	}
}

/*
 * mail_finish - the session checks of MAIL (SmtpConfig WantTLS and
 * MailAuth, the M permission) once the identity is known.
 */
static void
mail_finish(struct smtpd_session *s)
{
	if (s->want_tls && !conn_is_tls(s->conn) && !s->ease_tls &&
	    !(s->authed && (s->perms & STORE_PERM_EASETLS))) {
		smtpd_reply(s, 530, "5.7.0 Must issue a STARTTLS command"
		    " first");
		return;
	}
	if (s->mail_auth && !s->authed) {
		smtpd_reply(s, 530, "5.7.0 Authentication required");
		return;
	}
	if (s->authed && !(s->perms & STORE_PERM_MAIL)) {
		smtpd_reply(s, 550, "5.7.1 Sending mail is not permitted for"
		    " %s", s->auth_user);
		return;
	}
	smtpd_enter_state(s, SMTPD_S_MAIL);
	smtpd_reply(s, 250, "2.1.0 OK");
}

/* A POP3-before-SMTP check on a worker. */
struct pop3_job {
	struct ev_loop		*loop;
	uint64_t		 conn;
	struct config		*cfg;
	struct store_user	 user;
	char			 ip[64];
	int			 expire;
	bool			 ok;
};

/*
 * pop3_auth_possible - POP3-before-SMTP applies: EnableAuthSMTP-POP3
 * (default on), a -Se window, and the sender is a local account.
 */
static bool
pop3_auth_possible(struct smtpd_session *s)
{
	struct store_user u;

	if (s->mail.from.null || s->opts->pop3_expire <= 0 ||
	    !config_var_bool(s->cfg, "EnableAuthSMTP-POP3", true))
		return false;
	return store_account_find(s->cfg, s->mail.from.local,
	    s->mail.from.domain, &u, NULL) == 0 && u.type == 'U';
}

/* pop3_work - worker: .ipconn of the sender's account */
static void
pop3_work(void *arg)
{
	struct pop3_job *j = arg;

	j->ok = store_pop3_ipconn_valid(config_mailroot(j->cfg), &j->user,
	    j->ip, j->expire);
}

/* pop3_done - loop: take the account's identity, go on with MAIL */
static void
pop3_done(void *arg)
{
	struct pop3_job *j = arg;
	struct conn *c = conn_find(j->loop, j->conn);
	struct smtpd_session *s = c != NULL ? conn_data(c) : NULL;
	const char *perms;

	if (s != NULL) {
		smtpd_enter_state(s, SMTPD_S_HELO);
		if (j->ok) {
			perms = config_var(s->cfg, "DefaultSmtpPerms");
			s->authed = true;
			s->perms = store_perms_parse(perms != NULL ? perms :
			    "MR");
			snprintf(s->auth_user, sizeof(s->auth_user), "%s@%s",
			    j->user.name, j->user.domain);
			if (s->perms & STORE_PERM_NOSIZE)
				s->max_size = SMTPD_HARD_MAX;
			log_info("%s: peer=%s POP3-before-SMTP as %s",
			    s->opts->name, j->ip, s->auth_user);
		}
		mail_finish(s);
		conn_resume(c);
	}
	config_release(j->cfg);
	free(j);
}

/* pop3_auth_check - look for a recent POP3 login from this address */
static void
pop3_auth_check(struct smtpd_session *s)
{
	struct pop3_job *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		mail_finish(s);
		return;
	}
	j->loop = conn_loop(s->conn);
	j->conn = conn_id(s->conn);
	j->cfg = config_acquire();
	j->expire = s->opts->pop3_expire;
	snprintf(j->ip, sizeof(j->ip), "%s", conn_peer_ip(s->conn));
	if (store_account_find(j->cfg, s->mail.from.local,
	    s->mail.from.domain, &j->user, NULL) == -1)
		goto fail;
	smtpd_enter_state(s, SMTPD_S_BUSY);
	conn_pause(s->conn);
	if (work_submit(j->loop, pop3_work, pop3_done, j) == 0)
		return;
	conn_resume(s->conn);
	smtpd_enter_state(s, SMTPD_S_HELO);
fail:
	config_release(j->cfg);
	free(j);
	mail_finish(s);
}

/* cmd_mail - MAIL FROM */
static void
cmd_mail(void *arg0, char *arg)
{
	struct smtpd_session *s = arg0;
	enum smtpd_parse_err e;
	enum addr_err detail = ADDR_OK;
	char *p = prefix_arg(arg, "FROM:");

	if (p == NULL) {
		smtpd_reply(s, 501, "5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	e = smtpd_parse_mail(p, &s->exts, &s->mail, &detail);
	if (e != SMTPD_PARSE_OK) {
		parse_reply(s, e, detail, true);
		return;
	}
	if (s->mail.from.null &&
	    !config_var_bool(s->cfg, "AllowNullSender", true)) {
		smtpd_reply(s, 501, "5.1.7 Syntax error in return path");
		return;
	}
	if (s->mail.has_size && s->mail.size > s->max_size) {
		smtpd_reply(s, 552, "5.3.4 Message exceeds fixed maximum"
		    " message size");
		return;
	}
	snprintf(s->mail_line, sizeof(s->mail_line), "MAIL FROM:%s", p);
	if (!s->authed && pop3_auth_possible(s)) {
		pop3_auth_check(s);
		return;
	}
	mail_finish(s);
}

enum rcpt_verdict {
	RCPT_REFUSED,		/* reply sent */
	RCPT_ACCEPT,		/* relay: accept now */
	RCPT_CHECK,		/* local account: check user.tab first */
	RCPT_VERIFY,		/* backup MX: ask the primary first */
};

/* rcpt_policy - is this recipient acceptable?  replies on refusal */
static enum rcpt_verdict
rcpt_policy(struct smtpd_session *s, struct addr_path *to,
    struct store_user *u)
{
	char addr[ADDR_PATH_MAX + 1];

	if (to->domain[0] == '\0') {
		/* RFC 5321 4.5.1: <postmaster> without a domain. */
		if (!str_copy(to->domain, smtpd_root_domain(s), sizeof(to->domain)))
			return RCPT_REFUSED;
	}
	if (addr_format(to, addr, sizeof(addr)) == -1)
		return RCPT_REFUSED;
	if (store_domain_resolve(s->cfg, to->domain) != NULL) {
		if (store_user_find(s->cfg, to->local, to->domain, u) == 0)
			return RCPT_CHECK;
		smtpd_svc_log(s, addr, "RCPT=EAVAIL", 0, "");
		smtpd_reply(s, 550, "5.1.1 Mailbox unavailable <%s>", addr);
		return RCPT_REFUSED;
	}
	if (s->relay_ok || (s->authed && (s->perms & STORE_PERM_RELAY)))
		return RCPT_ACCEPT;
	if (store_mxbackup(s->cfg, to->domain)) {
		/* Not relaying: we are a mail exchanger of the domain. */
		if (config_var_bool(s->cfg, "MXBackupVerify", false))
			return RCPT_VERIFY;
		log_info("smtp: peer=%s accepted <%s> for backup MX",
		    conn_peer_ip(s->conn), addr);
		return RCPT_ACCEPT;
	}
	log_info("smtp: peer=%s relay denied for <%s>",
	    conn_peer_ip(s->conn), addr);
	smtpd_svc_log(s, addr, "RCPT=ERELAY", 0, "");
	smtpd_reply(s, 550, "5.7.1 Relay denied");
	return RCPT_REFUSED;
}

/* rcpt_add - record an accepted recipient and reply 250 */
static void
rcpt_add(struct smtpd_session *s, const char *addr, const char *params)
{
	if (buf_printf(&s->rcpts, "RCPT TO:<%s>%s", addr, params) == -1 ||
	    buf_putc(&s->rcpts, '\0') == -1) {
		smtpd_reply(s, 452, "4.5.3 Too many recipients");
		return;
	}
	if (s->nrcpts++ == 0 &&
	    !str_copy(s->first_rcpt, addr, sizeof(s->first_rcpt)))
		fatalx("smtp: recipient longer than ADDR_PATH_MAX");
	smtpd_enter_state(s, SMTPD_S_RCPT);
	smtpd_reply(s, 250, "2.1.5 OK");
}

/* A local recipient being checked on a worker. */
struct rcpt_job {
	struct ev_loop		*loop;
	uint64_t		 conn;
	struct config		*cfg;
	struct store_user	 user;
	bool			 maildir;
	char			 sender[ADDR_PATH_MAX + 1];
	char			 addr[ADDR_PATH_MAX + 1];
	char			 params[SMTPD_RCPT_LINE_MAX];
	enum store_rcpt_status	 status;
};

/* rcpt_check_work - worker: ReceiveEnable, quota, closed lists */
static void
rcpt_check_work(void *arg)
{
	struct rcpt_job *j = arg;

	j->status = store_rcpt_check(config_mailroot(j->cfg), &j->user,
	    j->maildir, j->sender);
}

/* rcpt_check_reply - the reply for a checked local recipient */
static void
rcpt_check_reply(struct smtpd_session *s, const struct rcpt_job *j)
{
	switch (j->status) {
	case STORE_RCPT_OK:
		rcpt_add(s, j->addr, j->params);
		break;
	case STORE_RCPT_DISABLED:
		smtpd_svc_log(s, j->addr, "RCPT=EDISABLED", 0, "");
		smtpd_reply(s, 550, "5.2.1 Account disabled <%s>", j->addr);
		break;
	case STORE_RCPT_FULL:
		smtpd_svc_log(s, j->addr, "RCPT=EFULL", 0, "");
		smtpd_reply(s, 452, "4.2.2 Mailbox full <%s>", j->addr);
		break;
	case STORE_RCPT_CLOSED_LIST:
		smtpd_svc_log(s, j->addr, "RCPT=ECLOSED", 0, "");
		smtpd_reply(s, 550, "5.7.1 Access denied <%s> for user <%s>",
		    j->addr, j->sender);
		break;
	case STORE_RCPT_TEMPFAIL:
		smtpd_reply(s, 451, "4.3.0 Temporary local problem, try again"
		    " later");
		break;
	}
}

/* rcpt_check_done - loop: reply and go on with the pipeline */
static void
rcpt_check_done(void *arg)
{
	struct rcpt_job *j = arg;
	struct conn *c = conn_find(j->loop, j->conn);
	struct smtpd_session *s = c != NULL ? conn_data(c) : NULL;

	if (s != NULL) {
		smtpd_enter_state(s, s->nrcpts > 0 ? SMTPD_S_RCPT :
		    SMTPD_S_MAIL);
		rcpt_check_reply(s, j);
		conn_resume(c);
	}
	config_release(j->cfg);
	free(j);
}

/* rcpt_check - check a local account asynchronously */
static void
rcpt_check(struct smtpd_session *s, const struct store_user *u,
    const char *addr, const char *params)
{
	struct rcpt_job *j = calloc(1, sizeof(*j));

	if (j == NULL || !str_copy(j->addr, addr, sizeof(j->addr)) ||
	    !str_copy(j->params, params, sizeof(j->params)) ||
	    addr_format(&s->mail.from, j->sender, sizeof(j->sender)) == -1) {
		free(j);
		smtpd_reply(s, 451, "4.3.0 Temporary local problem");
		return;
	}
	j->loop = conn_loop(s->conn);
	j->conn = conn_id(s->conn);
	j->cfg = config_acquire();
	j->user = *u;
	j->maildir = s->opts->maildir;
	conn_pause(s->conn);
	smtpd_enter_state(s, SMTPD_S_BUSY);
	if (work_submit(j->loop, rcpt_check_work, rcpt_check_done, j) == 0)
		return;
	config_release(j->cfg);
	free(j);
	smtpd_enter_state(s, s->nrcpts > 0 ? SMTPD_S_RCPT : SMTPD_S_MAIL);
	conn_resume(s->conn);
	smtpd_reply(s, 451, "4.3.0 Temporary local problem");
}

/* A backup-MX recipient being verified with the primary. */
struct verify_job {
	struct ev_loop		*loop;
	uint64_t		 conn;
	char			 addr[ADDR_PATH_MAX + 1];
	char			 params[SMTPD_RCPT_LINE_MAX];
};

/* rcpt_verify_done - the session's loop: the primary's verdict */
static void
rcpt_verify_done(void *arg, enum queue_verify_verdict v, const char *text)
{
	struct verify_job *j = arg;
	struct conn *c = conn_find(j->loop, j->conn);
	struct smtpd_session *s = c != NULL ? conn_data(c) : NULL;

	if (s != NULL) {
		smtpd_enter_state(s, s->nrcpts > 0 ? SMTPD_S_RCPT :
		    SMTPD_S_MAIL);
		if (v == QUEUE_VERIFY_REJECTED) {
			log_info("smtp: peer=%s refused <%s>: the primary"
			    " said %s", conn_peer_ip(c), j->addr, text);
			smtpd_svc_log(s, j->addr, "RCPT=EVERIFY", 0, "");
			smtpd_reply(s, 550, "5.1.1 <%s> refused by the primary"
			    " mail server", j->addr);
		} else {
			log_info("smtp: peer=%s accepted <%s> for backup MX%s",
			    conn_peer_ip(c), j->addr, v == QUEUE_VERIFY_OK ?
			    " (verified)" : " (not verified)");
			rcpt_add(s, j->addr, j->params);
		}
		conn_resume(c);
	}
	free(j);
}

/*
 * rcpt_verify - MXBackupVerify: ask the primary MX about the address
 * before accepting it (queue_verify.h)
 */
static void
rcpt_verify(struct smtpd_session *s, const char *addr, const char *params)
{
	struct verify_job *j = calloc(1, sizeof(*j));

	if (j == NULL || !str_copy(j->addr, addr, sizeof(j->addr)) ||
	    !str_copy(j->params, params, sizeof(j->params))) {
		free(j);
		smtpd_reply(s, 451, "4.3.0 Temporary local problem");
		return;
	}
	j->loop = conn_loop(s->conn);
	j->conn = conn_id(s->conn);
	conn_pause(s->conn);
	smtpd_enter_state(s, SMTPD_S_BUSY);
	if (queue_verify(j->loop, addr, rcpt_verify_done, j) == 0)
		return;
	free(j);
	smtpd_enter_state(s, s->nrcpts > 0 ? SMTPD_S_RCPT : SMTPD_S_MAIL);
	conn_resume(s->conn);
	smtpd_reply(s, 451, "4.3.0 Temporary local problem");
}

/* cmd_rcpt - RCPT TO */
static void
cmd_rcpt(void *arg0, char *arg)
{
	struct smtpd_session *s = arg0;
	struct smtpd_rcpt r;
	struct store_user u;
	enum smtpd_parse_err e;
	enum addr_err detail = ADDR_OK;
	char addr[ADDR_PATH_MAX + 1], *p = prefix_arg(arg, "TO:");
	const char *params;
	enum rcpt_verdict v;

	if (p == NULL) {
		smtpd_reply(s, 501, "5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (s->nrcpts >= (size_t)s->opts->max_rcpt) {
		smtpd_reply(s, 452, "4.5.3 Too many recipients");
		return;
	}
	e = smtpd_parse_rcpt(p, &s->exts, s->mail.smtputf8, &r, &detail);
	if (e != SMTPD_PARSE_OK) {
		parse_reply(s, e, detail, false);
		return;
	}
	v = rcpt_policy(s, &r.to, &u);
	if (v == RCPT_REFUSED || addr_format(&r.to, addr, sizeof(addr)) == -1)
		return;
	/* Keep the DSN parameters after the address for the bounce code. */
	params = strchr(p, '>');
	params = params != NULL ? params + 1 : "";
	if (v == RCPT_CHECK)
		rcpt_check(s, &u, addr, params);
	else if (v == RCPT_VERIFY)
		rcpt_verify(s, addr, params);
	else
		rcpt_add(s, addr, params);
}

/* cmd_data - DATA */
static void
cmd_data(void *arg0, char *arg)
{
	struct smtpd_session *s = arg0;

	(void)arg;
	smtpd_data_start(s);
}

/* count_hops - Received:/X-Deliver-To: lines in a header section */
static unsigned
count_hops(const char *p, size_t len)
{
	const char *end = p + len, *nl;
	unsigned n = 0;

	while (p < end && *p != '\r' && *p != '\n') {
		if (end - p > 9 && strncasecmp(p, "Received:", 9) == 0)
			n++;
		else if (end - p > 13 && strncasecmp(p, "X-Deliver-To:", 13)
		    == 0)
			n++;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return n;
}

/*
 * smtpd_bdat_chunk_done - end of one BDAT chunk.  RFC 3030 2: the chunk is
 * always read, even when the command fails, so its bytes can never be
 * taken for commands.
 */
void
smtpd_bdat_chunk_done(struct smtpd_session *s)
{
	conn_set_raw(s->conn, false);
	if (s->bdat_discard) {
		s->bdat_discard = false;
		smtpd_enter_state(s, s->bdat_from);
		smtpd_reply(s, 503, "5.5.1 %s", s->state == SMTPD_S_INIT ?
		    "Send HELO/EHLO first" : "No valid recipients");
		return;
	}
	if (!s->bdat_last) {
		/* After a size failure keep reading chunks until LAST. */
		if (s->bdat_bad)
			smtpd_reply(s, 552, "5.3.4 Message exceeds fixed"
			    " maximum message size");
		else
			smtpd_reply(s, 250, "2.0.0 %zu octets received",
			    s->msg.len);
		return;
	}
	if (s->bdat_bad) {
		smtpd_reply(s, 552, "5.3.4 Message exceeds fixed maximum"
		    " message size");
	} else if (count_hops(s->msg.data, s->msg.len) >
	    (unsigned)config_var_long(s->cfg, "MaxMTAOps", 16)) {
		smtpd_reply(s, 554, "5.4.6 Mail loop detected");
	} else {
		smtpd_commit(s);
		return;
	}
	smtpd_tx_end(s);
}

/* cmd_bdat - BDAT size [LAST] (RFC 3030) */
static void
cmd_bdat(void *arg0, char *arg)
{
	struct smtpd_session *s = arg0;
	unsigned long long n;
	char *end;

	if (!isdigit((unsigned char)arg[0]))
		goto syntax;
	errno = 0;
	n = strtoull(arg, &end, 10);
	if (errno != 0 || (*end != '\0' && *end != ' '))
		goto syntax;
	while (*end == ' ')
		end++;
	if (*end != '\0' && strcasecmp(end, "LAST") != 0)
		goto syntax;
	if (s->state != SMTPD_S_RCPT && s->state != SMTPD_S_BDAT) {
		s->bdat_discard = true;
		s->bdat_from = s->state;
	} else {
		if (s->state == SMTPD_S_RCPT) {
			buf_clear(&s->msg);
			buf_init(&s->msg, (size_t)s->max_size);
		}
		s->bdat_last = *end != '\0';
		if (n > s->max_size - s->msg.len)
			s->bdat_bad = true;
	}
	s->bdat_left = n;
	smtpd_enter_state(s, SMTPD_S_BDAT);
	if (n == 0) {
		smtpd_bdat_chunk_done(s);
		return;
	}
	conn_set_raw(s->conn, true);
	return;
syntax:
	/* The chunk size is unknown: the stream cannot be resynchronised. */
	conn_printf(s->conn, "501 5.5.4 Syntax: BDAT size [LAST]; closing\r\n");
	conn_close(s->conn);
}

/* cmd_rset - RSET */
static void
cmd_rset(void *arg0, char *arg)
{
	struct smtpd_session *s = arg0;

	(void)arg;
	smtpd_tx_reset(s);
	if (s->state != SMTPD_S_INIT)
		smtpd_enter_state(s, SMTPD_S_HELO);
	smtpd_reply(s, 250, "2.0.0 OK");
}

/* cmd_noop - NOOP */
static void
cmd_noop(void *arg0, char *arg)
{
	(void)arg;
	smtpd_reply(arg0, 250, "2.0.0 OK");
}

/* cmd_quit - QUIT */
static void
cmd_quit(void *arg0, char *arg)
{
	struct smtpd_session *s = arg0;

	(void)arg;
	conn_printf(s->conn, "221 2.0.0 %s [postroom ESMTP Server] service"
	    " closing transmission channel\r\n", s->domain);
	conn_close(s->conn);
}

/* cmd_help - HELP */
static void
cmd_help(void *arg0, char *arg)
{
	struct smtpd_session *s = arg0;

	(void)arg;
	conn_printf(s->conn, "214-HELO EHLO MAIL RCPT DATA BDAT AUTH"
	    " STARTTLS\r\n214-RSET VRFY ETRN NOOP HELP QUIT\r\n"
	    "214 2.0.0 See the postroom README\r\n");
}

/* cmd_vrfy - VRFY: only with AllowSmtpVRFY (RFC 5321 3.5.3) */
static void
cmd_vrfy(void *arg0, char *arg)
{
	struct smtpd_session *s = arg0;
	struct addr_path p;
	struct store_user u;

	if (!config_var_bool(s->cfg, "AllowSmtpVRFY", false) &&
	    !(s->authed && (s->perms & STORE_PERM_VRFY))) {
		smtpd_reply(s, 252, "2.5.2 Argument not checked");
		return;
	}
	if (addr_parse_mailbox(arg, false, &p) != ADDR_OK) {
		smtpd_reply(s, 501, "5.5.4 Syntax: VRFY user@domain");
		return;
	}
	if (store_user_find(s->cfg, p.local, p.domain, &u) == 0)
		smtpd_reply(s, 250, "2.1.5 Local account <%s@%s>", u.name,
		    u.domain);
	else
		smtpd_reply(s, 550, "5.1.1 String does not match anything");
}

/*
 * cmd_etrn - ETRN (RFC 1985): retry the deferred mail of a domain now,
 * with AllowSmtpETRN, the T permission or smtp.ipprop.tab EnableETRN.
 * "domain" flushes that domain, "@domain" it and its sub-domains; XMail
 * also takes a wildcard or an address pattern.  "#queue" names are not
 * supported.
 */
static void
cmd_etrn(void *arg0, char *arg)
{
	struct smtpd_session *s = arg0;
	char pat[ADDR_PATH_MAX + 2];
	const char *d = arg;
	size_t i;

	if (!config_var_bool(s->cfg, "AllowSmtpETRN", false) &&
	    !(s->authed && (s->perms & STORE_PERM_ETRN)) && !smtpd_ipprop(s, "EnableETRN")) {
		smtpd_reply(s, 501, "5.7.1 Command not accepted");
		return;
	}
	if (*d == '#') {
		smtpd_reply(s, 458, "4.5.4 Unable to queue messages for"
		    " node %s", d);
		return;
	}
	if (*d == '@')
		d++;
	for (i = 0; d[i] != '\0'; i++)
		if (!(d[i] == '.' || d[i] == '-' || d[i] == '_' || d[i] == '*' ||
		    d[i] == '?' || d[i] == '@' || (d[i] >= '0' && d[i] <= '9') ||
		    (d[i] >= 'a' && d[i] <= 'z') || (d[i] >= 'A' && d[i] <= 'Z')))
			break;
	if (i == 0 || d[i] != '\0' || i > ADDR_PATH_MAX - 2) {
		smtpd_reply(s, 501, "5.5.4 Syntax: ETRN domain");
		return;
	}
	if (*arg == '@')
		snprintf(pat, sizeof(pat), "*.%s", d);	/* sub-domains */
	else
		snprintf(pat, sizeof(pat), "%s", d);
	queue_out_flush(pat);
	if (*arg == '@')
		queue_out_flush(d);
	log_info("smtp: peer=%s ETRN %s", conn_peer_ip(s->conn), arg);
	smtpd_reply(s, 250, "2.0.0 Queueing for '%s' has been started", arg);
}

#define S(x)	(1u << (x))

static const struct cmdtab_row smtpd_cmds[] = {
	{ "HELO", SMTPD_ANY, 0, CMDTAB_ARG_REQ, cmd_helo },
	{ "EHLO", SMTPD_ANY, 0, CMDTAB_ARG_REQ, cmd_ehlo },
	{ "MAIL", S(SMTPD_S_HELO), 0, CMDTAB_ARG_REQ, cmd_mail },
	{ "RCPT", S(SMTPD_S_MAIL) | S(SMTPD_S_RCPT), 0, CMDTAB_ARG_REQ,
	    cmd_rcpt },
	{ "DATA", S(SMTPD_S_RCPT), CMDTAB_F_GROUP_END, CMDTAB_ARG_NONE,
	    cmd_data },
	/* Any state: an out-of-sequence chunk must still be read. */
	{ "BDAT", SMTPD_ANY | S(SMTPD_S_BDAT), 0, CMDTAB_ARG_REQ, cmd_bdat },
	{ "RSET", SMTPD_ANY | S(SMTPD_S_BDAT), 0, CMDTAB_ARG_NONE, cmd_rset },
	{ "NOOP", SMTPD_ANY | S(SMTPD_S_BDAT), 0, CMDTAB_ARG_OPT, cmd_noop },
	{ "QUIT", SMTPD_ANY | S(SMTPD_S_BDAT), CMDTAB_F_GROUP_END,
	    CMDTAB_ARG_NONE, cmd_quit },
	{ "HELP", SMTPD_ANY, 0, CMDTAB_ARG_OPT, cmd_help },
	{ "VRFY", SMTPD_ANY, CMDTAB_F_GROUP_END, CMDTAB_ARG_REQ, cmd_vrfy },
	{ "ETRN", S(SMTPD_S_HELO), CMDTAB_F_GROUP_END, CMDTAB_ARG_REQ,
	    cmd_etrn },
	{ "AUTH", SMTPD_ANY, CMDTAB_F_GROUP_END | CMDTAB_F_SENSITIVE,
	    CMDTAB_ARG_REQ, smtpd_cmd_auth },
	{ "STARTTLS", S(SMTPD_S_INIT) | S(SMTPD_S_HELO), CMDTAB_F_GROUP_END,
	    CMDTAB_ARG_NONE, cmd_starttls },
};

/* bad_state_reply - 503 with a hint */
static void
bad_state_reply(struct smtpd_session *s, const char *verb)
{
	if (s->state == SMTPD_S_INIT)
		smtpd_reply(s, 503, "5.5.1 Send HELO/EHLO first");
	else if (strcmp(verb, "MAIL") == 0)
		smtpd_reply(s, 503, "5.5.1 Nested MAIL command");
	else if (strcmp(verb, "DATA") == 0 && s->state == SMTPD_S_BDAT)
		smtpd_reply(s, 503, "5.5.1 DATA after BDAT");
	else if (s->state == SMTPD_S_MAIL || s->state == SMTPD_S_HELO)
		smtpd_reply(s, 503, "5.5.1 %s", strcmp(verb, "RCPT") == 0 ?
		    "Need MAIL before RCPT" : "No valid recipients");
	else
		smtpd_reply(s, 503, "5.5.1 Bad sequence of commands");
}

/* smtpd_cmd_dispatch - one command line */
void
smtpd_cmd_dispatch(struct smtpd_session *s, char *line, size_t len)
{
	const struct cmdtab_row *row;
	char verb[CMDTAB_VERB_MAX + 1];
	size_t i;

	/* 8-bit only in MAIL/RCPT arguments with SMTPUTF8 (RFC 6531 3.3). */
	if (line_has_8bit(line, len) && strncasecmp(line, "MAIL ", 5) != 0 &&
	    strncasecmp(line, "RCPT ", 5) != 0) {
		smtpd_reply(s, 500, "5.5.2 Non-ASCII characters in command");
		return;
	}
	if (len > 512 && strncasecmp(line, "MAIL ", 5) != 0 &&
	    strncasecmp(line, "RCPT ", 5) != 0 &&
	    strncasecmp(line, "AUTH ", 5) != 0) {
		smtpd_reply(s, 500, "5.5.2 Line too long");
		return;
	}
	switch (cmdtab_dispatch(smtpd_cmds, nitems(smtpd_cmds), s->state, s,
	    line, &row)) {
	case CMDTAB_DONE:
		break;
	case CMDTAB_UNKNOWN:
		smtpd_reply(s, 500, "5.5.2 Syntax error, command"
		    " unrecognized");
		break;
	case CMDTAB_BAD_STATE:
		for (i = 0; i < CMDTAB_VERB_MAX && row->verb[i]; i++)
			verb[i] = row->verb[i];
		verb[i] = '\0';
		bad_state_reply(s, verb);
		break;
	case CMDTAB_BAD_ARG:
		smtpd_reply(s, 501, "5.5.4 Syntax error in parameters or"
		    " arguments");
		break;
	}
}
