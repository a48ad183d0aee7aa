/*
 * pop3d.h - the POP3 server (RFC 1939, CAPA and response codes of RFC 2449
 * and RFC 3206, STLS of RFC 2595), XMail 1.27 compatible, and POP3S
 * (implicit TLS on its own port).
 *
 * Sessions work on a snapshot of the mailbox taken at login: messages
 * delivered meanwhile appear in the next session.  One session per mailbox
 * at a time, through MailRoot/pop3locks/<user>@<domain>.lock.  Deletions
 * happen only at QUIT (RFC 1939 UPDATE state).
 *
 * server.tab variables read per session: POP3Domain, RootDomain,
 * Pop3LogPasswd (0 never, 1 failed logins, 2 always write the password to
 * the -Pl log), EnablePOP3-TLS (default 1), and the postroom extension
 * Pop3AllowPlainAuth (default 0: USER/PASS only over TLS; 1: also in
 * clear text, as XMail did).  user.tab: PopEnable (via store_pop3_auth),
 * Pop3ScanCur.
 */
#ifndef POSTROOM_POP3D_POP3D_H
#define POSTROOM_POP3D_POP3D_H

#include <stdbool.h>

#include "core/compat.h"

struct ev_service;

/* Settings from the command line (-P*, shared by POP3S as in XMail). */
struct pop3d_opts {
	int	timeout;	/* -Pt idle seconds */
	int	max_sessions;	/* -PX */
	bool	log;		/* -Pl: logs/pop3-* records */
	int	login_delay;	/* -Pw seconds after a bad login, doubled */
	bool	hang;		/* -Ph: close after a bad login instead */
	bool	maildir;	/* -MM (Maildir) / -Mm (mailbox) */
};

/*
 * pop3d_service_init - fill in `svc` for POP3 (implicit_tls false: plain,
 * with STLS) or POP3S (implicit_tls true).  `o` must outlive the service;
 * both services may share it.
 */
void	pop3d_service_init(struct ev_service *svc, const struct pop3d_opts *o,
	    bool implicit_tls);

/*
 * pop3d_locks_wipe - empty MailRoot/pop3locks/ (creating it if missing):
 * locks left by a server that died.  Call at start-up, after taking the
 * MailRoot lock and before accepting connections.  Returns 0, or -1 with
 * a message logged.
 */
int	pop3d_locks_wipe(const char *mailroot) WARN_UNUSED_RESULT;

#endif
