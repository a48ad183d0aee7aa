/*
 * smtpc.h - the one SMTP/LMTP client session (used by the outbound queue,
 * backup-MX forwarding and `postroom send`).
 *
 * A session is one TCP connection to one address of a next hop, driven on
 * one event loop (ev.h conn_connect; every call and callback on that
 * loop's thread).  The life of a session:
 *
 *	smtpc_open()  -> connect, [TLS handshake when implicit], 220
 *	                 greeting, EHLO (HELO fallback; LHLO in LMTP
 *	                 mode), STARTTLS per need_tls, EHLO again, AUTH
 *	                 when credentials are given and offered
 *	ready_cb(s, NULL)          the session can carry transactions
 *	smtpc_send()  -> MAIL, RCPT..., DATA or BDAT, per-recipient results
 *	                 (or MAIL and RCPTs only: a probe)
 *	done_cb(s, txn)            results in txn->rcpts[i].code ...
 *	smtpc_send() ...           (RSET first when the last one failed)
 *	smtpc_quit()               QUIT, close, free
 *
 * Protocol pieces (reply parsing, capabilities, MAIL/RCPT composition,
 * dot-stuffing, 8BITMIME downgrade) come from smtpc_proto.h.
 */
#ifndef POSTROOM_SMTPC_SMTPC_H
#define POSTROOM_SMTPC_SMTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/compat.h"
#include "smtpc/smtpc_proto.h"

struct ev_loop;
struct smtpc;

/* Client credentials (userauth/smtp/<host>.tab, `postroom send`). */
struct smtpc_auth {
	unsigned	 mech;		/* one SMTPC_AUTH_* (smtpc_proto.h),
					   or SMTPC_AUTH_AUTO */
	char		 user[256];
	char		 pass[256];
};

/*
 * Time limits in seconds; 0 takes the RFC 5321 4.5.3.2 value given after
 * each field.
 */
struct smtpc_timeouts {
	int	 connect;	/* TCP connect, 30 */
	int	 greeting;	/* 220 banner, 300 (and, before it, the
				   handshake of implicit TLS) */
	int	 command;	/* EHLO/STARTTLS/AUTH/MAIL/RCPT/RSET/QUIT, 300 */
	int	 data_init;	/* 354 reply to DATA, 120 */
	int	 data_block;	/* each write of the message making
				   progress, 180 */
	int	 data_done;	/* reply to the final dot or BDAT LAST, 600 */
};

/* How to talk to this next hop. */
struct smtpc_conf {
	const char		*helo;		/* EHLO/HELO/LHLO argument */
	int			 need_tls;	/* 0 never, 1 when offered
						   (opportunistic), 2 required */
	bool			 tls_implicit;	/* TLS from the first octet
						   (SMTPS, RFC 8314); no
						   STARTTLS, need_tls unused */
	bool			 tls_verify;	/* the certificate must verify
						   or the session fails */
	const char		*tls_ca_file;	/* PEM CAs trusted instead of
						   the system store, or NULL */
	bool			 lmtp;		/* RFC 2033 */
	const char		*servername;	/* host name (or address) for
						   SNI and the certificate
						   check, or NULL */
	const struct smtpc_auth	*auth;		/* NULL: no AUTH */
	const struct sockaddr	*bind;		/* OutBind or NULL */
	socklen_t		 bindlen;
	struct smtpc_timeouts	 to;
	const char		*log_id;	/* prefix of log lines, e.g.
						   the message id, or NULL */
};

/* Where a failure happened (for logs, slog and `postroom send`). */
enum smtpc_stage {
	SMTPC_ST_CONNECT,	/* TCP connect */
	SMTPC_ST_GREETING,
	SMTPC_ST_EHLO,
	SMTPC_ST_STARTTLS,	/* STARTTLS command or TLS handshake */
	SMTPC_ST_AUTH,
	SMTPC_ST_MAIL,
	SMTPC_ST_RCPT,
	SMTPC_ST_DATA,		/* DATA command (354) */
	SMTPC_ST_DOT,		/* the message: final dot or BDAT */
	SMTPC_ST_POLICY,	/* refused before sending (SIZE, 8BIT...) */
};

/*
 * What a made-up result stands for, so that a command-line tool can tell
 * causes apart (messages, exit codes) without parsing texts.
 */
enum smtpc_why {
	SMTPC_WHY_NONE,		/* a reply of the server, a success, or a
				   refusal by policy (stage POLICY) */
	SMTPC_WHY_REFUSED,	/* connection refused */
	SMTPC_WHY_TIMEOUT,	/* connect or a reply timed out */
	SMTPC_WHY_UNREACHABLE,	/* network or host unreachable, other
				   connect errors */
	SMTPC_WHY_CLOSED,	/* the server closed the connection, or an
				   I/O error */
	SMTPC_WHY_NO_STARTTLS,	/* need_tls 2: STARTTLS not offered or
				   refused */
	SMTPC_WHY_TLS_HANDSHAKE, /* the handshake failed: protocol,
				   ciphers, not TLS at all */
	SMTPC_WHY_TLS_CERT,	/* tls_verify: the certificate does not
				   verify */
	SMTPC_WHY_NO_AUTH_MECH,	/* no usable AUTH mechanism offered */
	SMTPC_WHY_PROTOCOL,	/* the server broke the protocol */
	SMTPC_WHY_LOCAL,	/* out of memory, unreadable CA file, no
				   socket... */
};

/*
 * The outcome of a step.  code is the SMTP reply code, or a made-up one
 * for local conditions: 421 (with a text saying what) for connection
 * loss, timeouts, refused connections, TLS failures and protocol
 * violations of the peer; 554/552/550 for policy refusals.  temporary is
 * true for 4xx, false for 5xx.  why is SMTPC_WHY_NONE for a reply of the
 * server.
 */
struct smtpc_result {
	int			 code;
	char			 enh[16];	/* "4.4.1", "" if none */
	char			 text[512];	/* one line, reply text or
						   local explanation */
	enum smtpc_stage	 stage;
	bool			 temporary;
	enum smtpc_why		 why;		/* local cause */
};

/* One recipient of a transaction and its result. */
struct smtpc_txn_rcpt {
	struct smtpc_rcpt	 r;		/* addr, notify, orcpt */
	struct smtpc_result	 res;		/* filled by smtpc_send */
};

/* One transaction: an envelope, its recipients and the message. */
struct smtpc_txn {
	struct smtpc_env	 env;		/* from, size, eightbit,
						   smtputf8, ret, envid */
	struct smtpc_txn_rcpt	*rcpts;
	size_t			 nrcpts;
	const char		*data;		/* message as spooled (CRLF),
						   NULL: a probe (smtpc_send) */
	size_t			 len;
	/* Filled by smtpc_send: */
	struct smtpc_result	 res;		/* the transaction as a whole
						   (MAIL, DATA, dot or policy
						   failure; 250 on success) */
	size_t			 naccepted;	/* recipients with 2xx */
};

/*
 * Callbacks.  ready_cb: err NULL means ready; otherwise the session
 * failed (err says where and why) and is freed right after the callback
 * returns.  done_cb: the transaction's results are filled in; the
 * session is still usable when smtpc_usable() says so.
 */
typedef void	smtpc_ready_cb(struct smtpc *s, void *arg,
		    const struct smtpc_result *err);
typedef void	smtpc_done_cb(struct smtpc *s, void *arg,
		    struct smtpc_txn *txn);

/*
 * smtpc_open - connect to `to` from loop l and set the session up as
 * `conf` says.  conf and what it points to are copied (tls_ca_file is
 * read here, on the loop thread).  ready_cb runs exactly once, later
 * (never inside this call).
 *
 * TLS: need_tls 0 never sends STARTTLS; 1 sends it when offered and, if
 * the STARTTLS command or the handshake fails, logs why and reconnects
 * to the same address in clear text (the usual interop failure of young
 * MTAs must not stop mail); 2 fails, stage STARTTLS, when STARTTLS is
 * not offered or refused (421 4.7.10, why NO_STARTTLS) or the handshake
 * fails (421 4.4.2, why TLS_HANDSHAKE).  tls_implicit: the handshake
 * starts right after connect, before the greeting (SMTPS, RFC 8314 3.3);
 * STARTTLS is never sent, need_tls is unused, and a failed handshake
 * fails the session (421 4.4.2, stage STARTTLS, why TLS_HANDSHAKE).
 *
 * The certificate: servername, a host name or an address, is checked as
 * conn_starttls_client (ev.h) says (NULL: the chain only), against the
 * system CA store or the certificates of tls_ca_file.  Without
 * tls_verify the result is logged and kept (smtpc_tls_info) and never
 * fails the session (opportunistic TLS).  With tls_verify, whenever TLS
 * is used and the certificate does not verify, the session fails (after
 * STARTTLS, QUIT is sent over the encrypted channel first): 421 4.7.5
 * "certificate not trusted: <reason>", stage STARTTLS, why TLS_CERT,
 * never a clear-text retry.  need_tls 1 still goes on in clear text when
 * STARTTLS is not offered or the handshake breaks; need_tls 2 forbids
 * that too.  A tls_ca_file that cannot be read or holds no certificate
 * fails the session before connecting: 421 4.3.5, stage STARTTLS, why
 * LOCAL, the reason in the text.
 *
 * AUTH: with conf->auth, after TLS when any.  A given mechanism must be
 * offered (else stage AUTH, 530 5.7.0 permanent, why NO_AUTH_MECH);
 * SMTPC_AUTH_AUTO takes the best offered (CRAM-MD5, PLAIN, LOGIN) and
 * fails the same way, with "the server offers no supported AUTH
 * mechanism (offered: <the EHLO list or none>)", when there is none.
 * 535 and other 5xx are permanent, 4xx temporary.
 *
 * Returns the session, or NULL when no socket could be made (errno;
 * no callback runs).
 */
struct smtpc	*smtpc_open(struct ev_loop *l, const struct sockaddr *to,
		    socklen_t tolen, const struct smtpc_conf *conf,
		    smtpc_ready_cb *ready_cb, void *arg);

/*
 * smtpc_send - run one transaction on a ready session.  txn and the
 * memory it points to must stay valid until done_cb.  Policy first,
 * before anything is sent (each gives txn->res and every recipient the
 * same failure, no command goes out): a message larger than the peer's
 * SIZE (552 5.3.4, permanent); SMTPUTF8 needed but not offered (553
 * 5.6.7); 8-bit body without 8BITMIME: converted with
 * smtpc_downgrade_8bit, or 554 5.6.3 when it cannot be.  Then:
 * PIPELINING offered - MAIL, every RCPT and DATA (or BDAT LAST with the
 * message, when CHUNKING is offered) in one write; otherwise one command
 * at a time.  An RCPT refused gives that recipient its reply; a 5xx to
 * MAIL or DATA gives every recipient that reply.  LMTP: one reply per
 * accepted recipient after the final dot.  A lost connection or a
 * timeout fails every recipient without a final answer with 421
 * (temporary) and leaves the session unusable.
 *
 * A probe (txn->data NULL, len 0: recipient verification, the RFC 5321
 * "callout" of backup MX and address checks): MAIL and the RCPTs only
 * (pipelined when offered), never DATA or BDAT.  Only the SMTPUTF8 policy
 * applies (none that needs a message: no SIZE refusal, no downgrade);
 * SIZE= carries env.size when it is not 0, BODY=8BITMIME is sent when
 * env.eightbit and offered.  Each recipient gets its RCPT reply (a 2xx
 * is final here); txn->res is 250 2.1.5 ("n of m recipients accepted")
 * when at least one was accepted, else the last refusal, or MAIL's.  The
 * transaction is left open: the session stays usable and the next
 * smtpc_send begins with RSET.
 *
 * done_cb runs exactly once, later.  Returns 0, or -1 when the session is
 * not ready or busy, or txn->data is NULL with a len (no callback).
 */
int	smtpc_send(struct smtpc *s, struct smtpc_txn *txn,
	    smtpc_done_cb *done_cb, void *arg) WARN_UNUSED_RESULT;

/* smtpc_usable - ready for another smtpc_send (connected, in sync). */
bool	smtpc_usable(const struct smtpc *s);

/*
 * smtpc_quit - send QUIT (when usable), close and free the session.  No
 * callback runs after this.  NULL is ignored.
 */
void	smtpc_quit(struct smtpc *s);

/* smtpc_caps - what the peer offered (valid once ready). */
const struct smtpc_caps	*smtpc_caps(const struct smtpc *s);

/*
 * smtpc_tls_info - "" when the session is in clear text, else e.g.
 * "TLSv1.3 TLS_AES_256_GCM_SHA384 verified" or "... unverified
 * (self-signed certificate)".
 */
const char	*smtpc_tls_info(const struct smtpc *s);

/* smtpc_peer - "host [address]:port" of the session, for logs. */
const char	*smtpc_peer(const struct smtpc *s);

/*
 * smtpc_auth_used - the SASL mechanism of the AUTH command sent in this
 * session ("CRAM-MD5", "PLAIN" or "LOGIN", the choice of SMTPC_AUTH_AUTO
 * resolved), or "" when none was sent.  The session is authenticated
 * when ready_cb ran without error and this is not "".
 */
const char	*smtpc_auth_used(const struct smtpc *s);

/*
 * smtpc_transcript - the conversation so far, "C: " and "S: " lines with
 * CRLF replaced by "\n", from the greeting on (EHLO, STARTTLS, AUTH, a
 * clear-text retry after a failed STARTTLS, then the transactions); AUTH
 * payloads and the message body are never included ("C: AUTH PLAIN
 * ****", "C: ****", "C: <message, 1234 octets>").  Bounded (the first 16
 * KiB and a "..." line).  Also valid inside ready_cb, failure or not.
 * smtpc_transcript_reset empties it (after each transaction's log was
 * written).
 */
const struct buf	*smtpc_transcript(const struct smtpc *s);
void			 smtpc_transcript_reset(struct smtpc *s);

#endif
