/*
 * smtpd_int.h - internals shared by the smtpd_*.c files.
 */
#ifndef POSTROOM_SMTPD_SMTPD_INT_H
#define POSTROOM_SMTPD_SMTPD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/cmdtab.h"
#include "smtpd/smtpd.h"
#include "smtpd/smtpd_data.h"
#include "smtpd/smtpd_parse.h"
#include "store/store.h"

struct conn;
struct config;

/* Steps of an AUTH exchange (RFC 4954). */
enum smtpd_sasl_step {
	SMTPD_SASL_NONE,	/* no exchange: lines are commands */
	SMTPD_SASL_PLAIN,	/* waiting for the PLAIN response */
	SMTPD_SASL_LOGIN_USER,	/* waiting for the LOGIN user name */
	SMTPD_SASL_LOGIN_PASS,	/* waiting for the LOGIN password */
	SMTPD_SASL_CRAM,	/* waiting for the CRAM-MD5 response */
	SMTPD_SASL_CHECK,	/* credentials being checked on a worker */
};

struct smtpd_sasl {
	enum smtpd_sasl_step	 step;
	char			 mech[32];	/* as advertised */
	char			 user[STORE_ADDR_MAX + 1];	/* LOGIN */
};

#define SMTPD_CMD_MAX		2048	/* command line (RFC 5321 512 + ext) */
#define SMTPD_TEXT_MAX		998	/* text line without CRLF (4.5.3.1.6) */
#define SMTPD_TEXT_TOLERANCE	65536	/* longest text line accepted */
#define SMTPD_HARD_MAX		(64u << 20)	/* MaxMessageSize 0 */
#define SMTPD_RCPT_LINE_MAX	(ADDR_PATH_MAX + SMTPD_ORCPT_MAX + 64)

enum smtpd_state {
	SMTPD_S_INIT,		/* greeted, no HELO yet */
	SMTPD_S_HELO,		/* HELO/EHLO done, no transaction */
	SMTPD_S_MAIL,		/* MAIL accepted */
	SMTPD_S_RCPT,		/* at least one RCPT accepted */
	SMTPD_S_DATA,		/* reading DATA */
	SMTPD_S_BDAT,		/* BDAT chunks in progress */
	SMTPD_S_BUSY,		/* waiting for the spool */
};

#define SMTPD_ANY	((1u << SMTPD_S_INIT) | (1u << SMTPD_S_HELO) | \
			 (1u << SMTPD_S_MAIL) | (1u << SMTPD_S_RCPT))

struct smtpd_session {
	struct conn		*conn;
	struct config		*cfg;		/* snapshot for the session */
	const struct smtpd_opts	*opts;
	enum smtpd_state	 state;
	bool			 esmtp;		/* EHLO, not HELO */
	char			 helo[256];
	int			 errors;	/* error replies so far */
	int			 max_errors;	/* SMTP-MaxErrors, 0 = none */
	bool			 relay_ok;	/* smtprelay.tab matched */
	/* TLS and authentication */
	bool			 want_tls;	/* SmtpConfig WantTLS */
	bool			 mail_auth;	/* SmtpConfig MailAuth */
	bool			 ease_tls;	/* smtp.ipprop.tab EaseTLS */
	bool			 authed;	/* AUTH or POP3-before-SMTP */
	unsigned		 perms;		/* STORE_PERM_* when authed */
	char			 auth_user[STORE_ADDR_MAX + 1];
	struct smtpd_sasl	 sasl;		/* AUTH exchange in progress */
	char			 ts[320];	/* greeting <stamp>: CRAM chall */
	uint64_t		 max_size;	/* octets, never 0 */
	struct smtpd_exts	 exts;		/* advertised extensions */
	char			 domain[256];	/* SmtpServerDomain/RootDomain */
	/* transaction */
	struct smtpd_mail	 mail;
	char			 mail_line[SMTPD_CMD_MAX + 16];
	struct buf		 rcpts;		/* "RCPT TO:<..> ..." NUL-separated */
	size_t			 nrcpts;
	char			 first_rcpt[ADDR_PATH_MAX + 1];
	struct smtpd_data	 data;
	struct buf		 msg;		/* message being received */
	uint64_t		 bdat_left;	/* octets left in this chunk */
	bool			 bdat_last;	/* chunk was LAST */
	bool			 bdat_bad;	/* latched: message too big */
	bool			 bdat_discard;	/* chunk sent out of sequence */
	enum smtpd_state	 bdat_from;	/* state before a discarded one */
	int			 transactions;
	bool			 quit_after;	/* shutdown: close after tx */
};

/* smtpd_reply - send one reply line "<code> <text>" (+ CustomSMTPMessage
 * for 4xx/5xx); counts errors and closes after SMTP-MaxErrors. */
void	smtpd_reply(struct smtpd_session *s, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * smtpd_ipprop - true when the first smtp.ipprop.tab line matching the
 * peer has the property `name` set to 1 ("EaseTLS", "EnableETRN").
 */
bool	smtpd_ipprop(struct smtpd_session *s, const char *name);

/*
 * smtpd_svc_log - one -Sl record in XMail's SMTP log format: server
 * address, server domain, client address, time, HELO, recipient domain,
 * sender, recipient, message id, status ("RECV=OK", "RCPT=EAVAIL" ...),
 * authenticated user, size, client host name.
 */
void	smtpd_svc_log(struct smtpd_session *s, const char *rcpt,
	    const char *status, size_t size, const char *msgid);

/* smtpd_enter_state - change state, with a debug log line. */
void	smtpd_enter_state(struct smtpd_session *s, enum smtpd_state st);

/* smtpd_tx_reset - forget the transaction (RSET, EHLO, after DATA). */
void	smtpd_tx_reset(struct smtpd_session *s);

/*
 * smtpd_tx_end - the transaction is over (accepted or refused): reset it,
 * back to the HELO state, and close if the server is shutting down.
 */
void	smtpd_tx_end(struct smtpd_session *s);

/* smtpd_commit - spool the received message and reply (async). */
void	smtpd_commit(struct smtpd_session *s);

/* smtpd_cmd_dispatch - run one command line. */
void	smtpd_cmd_dispatch(struct smtpd_session *s, char *line, size_t len);

/* smtpd_bdat_chunk_done - a BDAT chunk has been read completely. */
void	smtpd_bdat_chunk_done(struct smtpd_session *s);

/* smtpd_data_start - 354 and switch the connection to raw input. */
void	smtpd_data_start(struct smtpd_session *s);

/* smtpd_root_domain - RootDomain (HELO replies), else the server domain. */
const char	*smtpd_root_domain(struct smtpd_session *s);

/*
 * smtpd_auth_mechs - the AUTH mechanisms to offer now, space-separated,
 * into out ("" = none): smtpextauth.tab names, else PLAIN LOGIN
 * CRAM-MD5; before TLS only those listed in SmtpNoTLSAuths (unset or
 * empty: none).
 */
void	smtpd_auth_mechs(struct smtpd_session *s, char *out, size_t size);

/* smtpd_cmd_auth - the AUTH command (smtpd_auth.c). */
void	smtpd_cmd_auth(void *sess, char *arg);

/* smtpd_auth_line - a line while an AUTH exchange is in progress. */
void	smtpd_auth_line(struct smtpd_session *s, char *line, size_t len);

/* smtpd_auth_reset - forget authentication (after STARTTLS). */
void	smtpd_auth_reset(struct smtpd_session *s);

#endif
