/*
 * ctrld.h - the CTRL administration server (XMail 1.27 admin protocol,
 * manual "XMAIL ADMIN PROTOCOL"): plain on -Cp (default 6017) with the
 * "#!TLS" upgrade, and CTRLS with TLS from the first byte on -Wp (6018).
 *
 * A session: ctrl.ipmap.tab check, the "+00000 <timestamp> ..." greeting,
 * one login line (clear password or "#" + MD5 of "<timestamp>password")
 * checked against ctrlaccounts.tab, then TAB-separated commands, each
 * answered by a RESSTRING ("+DDDDD OK" or "-DDDDD text"), optionally
 * followed by a listing (00100) or preceded by an upload (00101), both
 * ending with a line holding a single dot.  Commands run on the worker
 * pool; table changes are atomic and visible to every service at once
 * (a new configuration snapshot is installed before the reply).
 *
 * server.tab variables: EnableCTRL-TLS (default 1), CtrlLoginDelay
 * (seconds before the reply to a failed login, default 3),
 * CtrlAllowPlainAuth (default 0: a clear-text password, not the MD5
 * digest, is refused before TLS; 1: accepted, as XMail did),
 * CtrlShowPasswords (userlist shows clear passwords as XMail did;
 * default 0: the field is empty), PasswordHash (useradd/userpasswd
 * store "xmcrypt", the default, or a "yescrypt"/"sha512" crypt(3) hash).
 */
#ifndef POSTROOM_CTRLD_CTRLD_H
#define POSTROOM_CTRLD_CTRLD_H

#include <stdbool.h>

struct ev_service;

/* Settings from the command line (-C*, shared by CTRLS as in XMail). */
struct ctrld_opts {
	int	timeout;	/* -Ct idle seconds (default 120) */
	int	max_sessions;	/* -CX (default 512) */
	bool	log;		/* -Cl: logs/ctrl-* records */
	bool	maildir;	/* -MM / -Mm: layout of new accounts */
	int	split;		/* -Mx: spool levels (froz* commands) */
};

/*
 * ctrld_service_init - fill in `svc` for CTRL (implicit_tls false, with
 * "#!TLS") or CTRLS (implicit_tls true).  `o` must outlive the service;
 * both may share it.
 */
void	ctrld_service_init(struct ev_service *svc, const struct ctrld_opts *o,
	    bool implicit_tls);

#endif
