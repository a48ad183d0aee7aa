/*
 * smtpc.h - the one SMTP/LMTP client session (used by the outbound queue,
 * backup-MX forwarding and `postroom send`).
 *
 * A session is one TCP connection to one address of a next hop, driven on
 * one event loop (ev.h conn_connect; every call and callback on that
 * loop's thread).  The life of a session:
 *
 *	smtpc_open()  -> connect, 220 greeting, EHLO (HELO fallback; LHLO
 *	                 in LMTP mode), STARTTLS per need_tls, EHLO again,
 *	                 AUTH when credentials are given and offered
 *	ready_cb(s, NULL)          the session can carry transactions
 *	smtpc_send()  -> MAIL, RCPT..., DATA or BDAT, per-recipient results
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

/* Client credentials (userauth/smtp/<host>.tab). */
struct smtpc_auth {
	unsigned	 mech;		/* one SMTPC_AUTH_* (smtpc_proto.h) */
	char		 user[256];
	char		 pass[256];
};

/*
 * Time limits in seconds; 0 takes the RFC 5321 4.5.3.2 value given after
 * each field.
 */
struct smtpc_timeouts {
	int	 connect;	/* TCP connect, 30 */
	int	 greeting;	/* 220 banner, 300 */
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
	bool			 lmtp;		/* RFC 2033 */
	const char		*servername;	/* host name for SNI and the
						   certificate check, or NULL */
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
 * The outcome of a step.  code is the SMTP reply code, or a made-up one
 * for local conditions: 421 (with a text saying what) for connection
 * loss, timeouts, refused connections, TLS failures and protocol
 * violations of the peer; 554/552/550 for policy refusals.  temporary is
 * true for 4xx, false for 5xx.
 */
struct smtpc_result {
	int			 code;
	char			 enh[16];	/* "4.4.1", "" if none */
	char			 text[512];	/* one line, reply text or
						   local explanation */
	enum smtpc_stage	 stage;
	bool			 temporary;
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
	const char		*data;		/* message as spooled (CRLF) */
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
 * `conf` says.  conf and what it points to are copied.  ready_cb runs
 * exactly once, later (never inside this call).
 *
 * TLS: need_tls 0 never sends STARTTLS; 1 sends it when offered and, if
 * the STARTTLS command or the handshake fails, logs why and reconnects
 * to the same address in clear text (the usual interop failure of young
 * MTAs must not stop mail); 2 fails (421 4.7.10-like, stage STARTTLS)
 * when STARTTLS is not offered or does not work.  The certificate check
 * result (conn_tls_verified) is logged and kept (smtpc_tls_info); it
 * never fails the session.
 *
 * AUTH: with conf->auth, after TLS when any; the mechanism must be
 * offered (else stage AUTH, 530-like permanent failure); 535 and other
 * 5xx are permanent, 4xx temporary.
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
 * (temporary) and leaves the session unusable.  done_cb runs exactly
 * once, later.  Returns 0, or -1 when the session is not ready or busy
 * (no callback).
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
 * smtpc_transcript - the conversation so far, "C: " and "S: " lines with
 * CRLF replaced by "\n"; AUTH payloads and the message body are never
 * included ("C: <message, 1234 octets>").  Bounded (the first 16 KiB and
 * a "..." line).  smtpc_transcript_reset empties it (after each
 * transaction's log was written).
 */
const struct buf	*smtpc_transcript(const struct smtpc *s);
void			 smtpc_transcript_reset(struct smtpc *s);

#endif
