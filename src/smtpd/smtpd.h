/*
 * smtpd.h - the SMTP server (RFC 5321 with PIPELINING, SIZE, 8BITMIME,
 * ENHANCEDSTATUSCODES, CHUNKING, DSN, SMTPUTF8).
 */
#ifndef POSTROOM_SMTPD_SMTPD_H
#define POSTROOM_SMTPD_SMTPD_H

#include <stdbool.h>

struct ev_service;

/* Settings from the command line (-S* options). */
struct smtpd_opts {
	int	timeout;	/* -St idle seconds */
	int	max_sessions;	/* -SX */
	int	max_rcpt;	/* -Sr */
	bool	log;		/* -Sl */
	int	split;		/* -Mx spool split */
	bool	maildir;	/* -MM / -Mm */
};

/* smtpd_service_init - fill in `svc` for SMTP with these settings. */
void	smtpd_service_init(struct ev_service *svc,
	    const struct smtpd_opts *o);

#endif
