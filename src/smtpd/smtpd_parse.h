/*
 * smtpd_parse.h - SMTP command argument parsing (pure, fuzzed).
 */
#ifndef POSTROOM_SMTPD_SMTPD_PARSE_H
#define POSTROOM_SMTPD_SMTPD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/compat.h"

#define SMTPD_ENVID_MAX		100	/* RFC 3461 4.4 */
#define SMTPD_ORCPT_MAX		500	/* RFC 3461 4.2 */
#define SMTPD_AUTHPARAM_MAX	500

enum smtpd_body { SMTPD_BODY_7BIT, SMTPD_BODY_8BITMIME };
enum smtpd_ret { SMTPD_RET_UNSET, SMTPD_RET_FULL, SMTPD_RET_HDRS };

/* DSN NOTIFY bits (RFC 3461 4.1). */
#define SMTPD_NOTIFY_NEVER	0x01
#define SMTPD_NOTIFY_SUCCESS	0x02
#define SMTPD_NOTIFY_FAILURE	0x04
#define SMTPD_NOTIFY_DELAY	0x08

/* Extensions the session advertised, deciding which parameters are valid. */
struct smtpd_exts {
	bool	size, eightbit, dsn, smtputf8, auth;
};

struct smtpd_mail {
	struct addr_path	from;
	bool			has_size;
	uint64_t		size;			/* SIZE= */
	enum smtpd_body		body;			/* BODY= */
	bool			smtputf8;		/* SMTPUTF8 */
	enum smtpd_ret		ret;			/* RET= */
	char			envid[SMTPD_ENVID_MAX + 1]; /* xtext */
	char			auth[SMTPD_AUTHPARAM_MAX + 1]; /* AUTH= */
};

struct smtpd_rcpt {
	struct addr_path	to;
	unsigned		notify;		/* SMTPD_NOTIFY_* or 0 */
	char			orcpt[SMTPD_ORCPT_MAX + 1]; /* type;xtext */
};

/* Why a MAIL/RCPT argument was refused; the reply text comes from here. */
enum smtpd_parse_err {
	SMTPD_PARSE_OK = 0,
	SMTPD_PARSE_SYNTAX,	/* 501 5.5.4 Syntax error in parameters */
	SMTPD_PARSE_PATH,	/* 501 5.1.7/5.1.3 bad address (detail) */
	SMTPD_PARSE_UNKNOWN,	/* 555 5.5.4 unrecognised parameter */
	SMTPD_PARSE_DUP,	/* 501 5.5.4 parameter given twice */
	SMTPD_PARSE_VALUE,	/* 501 5.5.4 bad parameter value */
	SMTPD_PARSE_8BIT,	/* 553 5.6.7 non-ASCII without SMTPUTF8 */
};

/*
 * smtpd_parse_mail - parse the argument of MAIL after "FROM:" (RFC 5321
 * 4.1.1.2): "[SP] Reverse-path *(1*SP esmtp-param) *SP".  Exactly one
 * optional space after the colon is tolerated, since many clients send
 * "MAIL FROM: <a@b>"; two are a syntax error, and so is a path without
 * angle brackets.  Parameters may be separated by several spaces, trailing
 * spaces are ignored, keywords match without case.  Parameters are accepted
 * only for advertised extensions (else SMTPD_PARSE_UNKNOWN), at most once
 * each (else SMTPD_PARSE_DUP):
 *   SIZE=1*20DIGIT (x->size; overflow of uint64_t is VALUE),
 *   BODY=7BIT|8BITMIME (x->eightbit; BINARYMIME is VALUE),
 *   SMTPUTF8, no value (x->smtputf8; enables UTF-8 in the path),
 *   RET=FULL|HDRS, ENVID=xtext of at most SMTPD_ENVID_MAX (x->dsn),
 *   AUTH=xtext or "<>" of at most SMTPD_AUTHPARAM_MAX (x->auth).
 * Values keep their xtext encoding; non-ASCII in a parameter is a syntax
 * error (none of these takes UTF-8).  A control character (CR, LF, TAB, DEL
 * ...) anywhere in arg is SMTPD_PARSE_SYNTAX, checked first; path errors
 * come before parameter errors.  A non-ASCII path without SMTPUTF8 is
 * SMTPD_PARSE_8BIT, other path errors SMTPD_PARSE_PATH; `detail` (may be
 * NULL) gets the address error, or ADDR_OK.  On failure *m is all zero.
 */
enum smtpd_parse_err	smtpd_parse_mail(const char *arg,
			    const struct smtpd_exts *x, struct smtpd_mail *m,
			    enum addr_err *detail) WARN_UNUSED_RESULT;

/*
 * smtpd_parse_rcpt - parse the argument of RCPT after "TO:", as
 * smtpd_parse_mail.  `utf8` is true when the transaction's MAIL had
 * SMTPUTF8.  The null path is refused (SMTPD_PARSE_PATH, detail
 * ADDR_ERR_NULL).  "<postmaster>" in any case, without a domain, is accepted
 * (RFC 5321 4.1.1.3, 4.5.1) as local part "postmaster" (lower case) with an
 * empty domain.  Parameters, with x->dsn only (RFC 3461):
 *   NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY (a repeated
 *   or empty element, or NEVER with another, is VALUE),
 *   ORCPT=addr-type ";" xtext (addr-type an atom such as rfc822 or utf-8,
 *   address non-empty), at most SMTPD_ORCPT_MAX octets in all, stored as
 *   sent.
 */
enum smtpd_parse_err	smtpd_parse_rcpt(const char *arg,
			    const struct smtpd_exts *x, bool utf8,
			    struct smtpd_rcpt *r, enum addr_err *detail)
			    WARN_UNUSED_RESULT;

/*
 * smtpd_xtext_ok - RFC 3461 section 4 xtext: xchar ("!".."~" except "+" and
 * "=") or hexchar ("+" and two UPPERCASE hex digits).  "" is valid xtext.
 * Deliberately stricter than the RFC: a hexchar encoding a control character
 * (below 0x20, or 0x7f, e.g. "+0D") is refused, so decoding a value can
 * never bring CR or LF back.
 */
bool	smtpd_xtext_ok(const char *s);

/*
 * smtpd_helo_ok - a HELO/EHLO argument safe to log and to put in Received:
 * and in ';'-separated spool info lines: either an address literal
 * ("[1.2.3.4]", "[IPv6:...]", as addr_domain_ok) or 1..255 octets of ASCII
 * letters, digits, '-', '.' and '_'.  Not stricter than that, because many
 * real clients send a bare host name without dots or with underscores
 * (RFC 5321 4.1.4 says a server must not refuse mail for a HELO that does
 * not match, and the set still keeps out spaces, ';', quotes, control
 * characters and non-ASCII).  Empty is refused.
 */
bool	smtpd_helo_ok(const char *s);

#endif
