/*
 * smtpd.h - the SMTP server (RFC 5321 with PIPELINING, SIZE, 8BITMIME,
 * ENHANCEDSTATUSCODES, CHUNKING, DSN, SMTPUTF8).
 */
#ifndef POSTROOM_SMTPD_SMTPD_H
#define POSTROOM_SMTPD_SMTPD_H

#include <stdbool.h>

struct ev_service;

/*
 * Settings of one SMTP listener kind, from the command line (-S*, and
 * -X* / -U* for the SMTPS and submission ports, which share the -S
 * limits).
 */
struct smtpd_opts {
	const char *name;	/* "smtp", "smtps", "submission" (logs) */
	bool	implicit_tls;	/* SMTPS: TLS from the first byte */
	bool	submission;	/* without SmtpConfig-IP[,PORT]: the config
				   is "MailAuth,WantTLS" (RFC 6409) */
	int	timeout;	/* -St idle seconds */
	int	max_sessions;	/* -SX */
	int	max_rcpt;	/* -Sr */
	bool	log;		/* -Sl */
	int	split;		/* -Mx spool split */
	bool	maildir;	/* -MM / -Mm */
	int	pop3_expire;	/* -Se POP3-before-SMTP window, seconds */
	int	ext_timeout;	/* smtpextauth.tab programs, seconds */
};

/*
 * smtpd_service_init - fill in `svc` for SMTP with these settings (kept
 * by pointer: `o` must outlive the service).
 */
void	smtpd_service_init(struct ev_service *svc,
	    const struct smtpd_opts *o);

#endif
