/*
 * pop3d_int.h - internals shared by the pop3d_*.c files.
 */
#ifndef POSTROOM_POP3D_POP3D_INT_H
#define POSTROOM_POP3D_POP3D_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "maildir/maildir.h"
#include "pop3d/pop3d.h"
#include "store/store.h"

struct conn;
struct config;

/*
 * RFC 2449 section 4 allows 255 octets per command line; a little more
 * is accepted (long user names and passwords), the rest is refused with
 * "-ERR Line too long" and skipped.
 */
#define POP3D_LINE_MAX		512	/* command line without CRLF */
#define POP3D_ARG_MAX		255	/* USER, PASS, APOP arguments */
#define POP3D_UID_MAX		70	/* RFC 1939 section 7 unique-id */
#define POP3D_MAX_ERRORS	20	/* protocol errors before closing */
#define POP3D_DELAY_MAX		300	/* seconds: cap of the doubled -Pw */
#define POP3D_INLINE_MAX	(128 * 1024) /* RETR on the loop up to this */
#define POP3D_STAMP_MAX		(STORE_DOMAIN_MAX + 48) /* APOP "<...>" */
#define POP3D_PRODUCT		"[postroom POP3 Server]"

enum pop3d_state {
	POP3D_S_AUTH,		/* AUTHORIZATION, no USER yet */
	POP3D_S_USER,		/* USER accepted, PASS expected */
	POP3D_S_TRANS,		/* TRANSACTION */
	POP3D_S_BUSY,		/* a worker job or a delay; input paused */
	POP3D_S_QUIT,		/* UPDATE running, then closing */
};

#define POP3D_AUTHZ	((1u << POP3D_S_AUTH) | (1u << POP3D_S_USER))

struct pop3d_session {
	struct conn		*conn;
	struct config		*cfg;		/* snapshot for the session */
	const struct pop3d_opts	*opts;
	enum pop3d_state	 state;
	char			 domain[STORE_DOMAIN_MAX + 1]; /* greeting */
	char			 stamp[POP3D_STAMP_MAX];  /* APOP timestamp */
	char			 login[POP3D_ARG_MAX + 1]; /* USER/APOP name */
	struct store_user	 user;		/* after login */
	char			 acctdir[PATH_MAX];	/* after login */
	char			 lock[PATH_MAX];  /* lock file held, or "" */
	struct maildir_list	 box;		/* snapshot at login */
	unsigned char		*deleted;	/* DELE marks, box.n entries */
	size_t			 ndeleted;
	uint64_t		 deleted_octets;
	size_t			 last;		/* LAST: highest accessed */
	int			 errors;	/* protocol errors so far */
	int			 delay;		/* next bad-login delay, s */
	char			 delayed[160];	/* reply after the delay */
	bool			 quit_after;	/* shutdown while busy */
};

/* pop3d_session.c */

/* pop3d_enter_state - change state, with a debug log line. */
void	pop3d_enter_state(struct pop3d_session *s, enum pop3d_state st);

/* pop3d_ok - "+OK <text>" */
void	pop3d_ok(struct pop3d_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * pop3d_err - "-ERR <text>" for a protocol error; counts it and closes
 * the session after POP3D_MAX_ERRORS.
 */
void	pop3d_err(struct pop3d_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * pop3d_svc_log - one -Pl record: local address, POP3 domain, client
 * address, time, login name, status ("LOGIN=OK", "LOGIN=EFAIL", ...),
 * password (only what Pop3LogPasswd allows; the caller decides), message
 * count, octets.
 */
void	pop3d_svc_log(struct pop3d_session *s, const char *login,
	    const char *status, const char *pass, size_t count,
	    uint64_t octets);

/* pop3d_busy - pause input while a job runs (state BUSY). */
void	pop3d_busy(struct pop3d_session *s);

/*
 * pop3d_unbusy - the job is over: enter `st`, resume input, or close if
 * the server began shutting down meanwhile.
 */
void	pop3d_unbusy(struct pop3d_session *s, enum pop3d_state st);

/* pop3d_goodbye_shutdown - "-ERR Server shutting down" and close. */
void	pop3d_goodbye_shutdown(struct pop3d_session *s);

/* pop3d_plain_ok - may USER/PASS be used now (TLS or Pop3AllowPlainAuth)? */
bool	pop3d_plain_ok(const struct pop3d_session *s);

/* pop3d_stls_ok - may STLS be offered now? */
bool	pop3d_stls_ok(const struct pop3d_session *s);

/* pop3d_lock_release - remove the mailbox lock if held (quick unlink). */
void	pop3d_lock_release(struct pop3d_session *s);

/* pop3d_box_clear - forget the mailbox snapshot and the marks. */
void	pop3d_box_clear(struct pop3d_session *s);

/* pop3d_cmd.c */

/* pop3d_cmd_dispatch - run one command line. */
void	pop3d_cmd_dispatch(struct pop3d_session *s, char *line, size_t len);

/* pop3d_auth.c */

void	pop3d_cmd_user(void *sess, char *arg);
void	pop3d_cmd_pass(void *sess, char *arg);
void	pop3d_cmd_apop(void *sess, char *arg);

/* pop3d_trans.c */

/* pop3d_maildrop_reply - "+OK Maildrop has N messages (B bytes)" */
void	pop3d_maildrop_reply(struct pop3d_session *s);

void	pop3d_cmd_stat(void *sess, char *arg);
void	pop3d_cmd_list(void *sess, char *arg);
void	pop3d_cmd_uidl(void *sess, char *arg);
void	pop3d_cmd_retr(void *sess, char *arg);
void	pop3d_cmd_top(void *sess, char *arg);
void	pop3d_cmd_dele(void *sess, char *arg);
void	pop3d_cmd_noop(void *sess, char *arg);
void	pop3d_cmd_last(void *sess, char *arg);
void	pop3d_cmd_rset(void *sess, char *arg);

/*
 * pop3d_update - QUIT in TRANSACTION: remove the marked messages and the
 * lock on a worker, then reply and close (RFC 1939 section 6).
 */
void	pop3d_update(struct pop3d_session *s);

#endif
