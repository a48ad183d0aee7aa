/*
 * smtpc_proto.h - the pure protocol pieces of the one SMTP/LMTP client:
 * reply parsing, EHLO capabilities, MAIL/RCPT command composition with
 * the ESMTP parameters the next hop understands, DATA dot-stuffing, and
 * the 8BITMIME downgrade to quoted-printable and base64.  No I/O here:
 * the client session (smtpc.c) drives these over a connection.
 */
#ifndef POSTROOM_SMTPC_SMTPC_PROTO_H
#define POSTROOM_SMTPC_SMTPC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/compat.h"

struct evbuffer;

#define SMTPC_REPLY_LINE_MAX	2048	/* one reply line without CRLF,
					   RFC 5321 4.5.3.1.5 says 512 */
#define SMTPC_REPLY_LINES_MAX	128	/* lines of one multi-line reply */
/* Room r->text needs for any reply smtpc_reply_read accepts. */
#define SMTPC_REPLY_TEXT_MAX	(SMTPC_REPLY_LINES_MAX * \
				    (SMTPC_REPLY_LINE_MAX + 1))

/* A complete server reply. */
struct smtpc_reply {
	int		 code;		/* 200..599 */
	char		 enh[16];	/* "5.1.1" (RFC 3463) or "" */
	struct buf	 text;		/* lines without code and enh, '\n'
					   between lines, NUL-terminated */
	size_t		 nlines;	/* lines in the reply, 1.. */
};

enum smtpc_read {
	SMTPC_READ_OK,		/* *r holds a complete reply */
	SMTPC_READ_MORE,	/* not complete yet: nothing consumed */
	SMTPC_READ_BAD,		/* not SMTP: bad code, mixed codes,
				   bare LF/CR, too long, too many lines */
};

/*
 * smtpc_reply_read - take one complete (possibly multi-line) reply from
 * the front of `in` (RFC 5321 4.2: "ddd-text" lines, then "ddd text" or
 * "ddd"; every line must carry the same code; lines end with CRLF).  The
 * enhanced code is parsed when `enhanced` (the server offered
 * ENHANCEDSTATUSCODES) and the first line's text starts with
 * "class.subject.detail" whose class matches the reply's first digit
 * (RFC 2034 section 4, RFC 3463 section 2: class 2, 4 or 5, subject and
 * detail 1..3 digits, then a space or the end of the line); it is stored
 * in r->enh and stripped, with the spaces after it, from the text of each
 * line that starts with the same code.
 *
 * Strict: BAD for a code outside 2xx..5xx, a line whose fourth octet is
 * not '-' or ' ', codes differing between lines, a bare CR or LF or a NUL
 * in a line, a line longer than SMTPC_REPLY_LINE_MAX (without CRLF), more
 * than SMTPC_REPLY_LINES_MAX lines, or text that does not fit r->text
 * (give it SMTPC_REPLY_TEXT_MAX).  An incomplete last line is judged as
 * far as it goes, so garbage is BAD at once rather than MORE until a
 * timeout.  After BAD the connection is unusable: close it.  Replies
 * behind this one (PIPELINING, LMTP's one reply per recipient) stay in
 * `in` for the next call.
 *
 * On OK the reply's bytes are removed from `in` and *r holds it; on MORE
 * and BAD nothing is removed and *r is meaningless.  r->text is reset
 * first (buf_init'ed by the caller).
 */
enum smtpc_read	smtpc_reply_read(struct evbuffer *in, bool enhanced,
		    struct smtpc_reply *r) WARN_UNUSED_RESULT;

/* What the next hop offered in its EHLO reply. */
struct smtpc_caps {
	bool		 esmtp;		/* EHLO accepted (else HELO used) */
	bool		 pipelining;
	bool		 eightbitmime;
	bool		 dsn;
	bool		 chunking;
	bool		 smtputf8;
	bool		 starttls;
	bool		 enhanced;	/* ENHANCEDSTATUSCODES */
	bool		 has_size;	/* SIZE offered */
	uint64_t	 size;		/* SIZE limit, 0 = none stated */
	unsigned	 auth;		/* SMTPC_AUTH_* offered */
};

#define SMTPC_AUTH_PLAIN	0x1
#define SMTPC_AUTH_LOGIN	0x2
#define SMTPC_AUTH_CRAM_MD5	0x4
/*
 * Only as struct smtpc_auth.mech (smtpc.h): the best mechanism the
 * server offers, CRAM-MD5, then PLAIN, then LOGIN.
 */
#define SMTPC_AUTH_AUTO		0x8

/*
 * smtpc_caps_parse - the capabilities in the text of an EHLO (or LHLO)
 * reply, read with enhanced false (the first line is the server's name
 * and is skipped).  *caps is cleared first; a reply other than 250 leaves
 * it all false (esmtp false: the session falls back to HELO, which offers
 * nothing).  Keywords are case-insensitive and must match whole words.
 * "SIZE" alone, "SIZE 0" and a SIZE value that is not a number or beyond
 * 2^64 give has_size with size 0 (no limit stated).  AUTH lists are
 * separated by spaces; unknown mechanisms are ignored; "AUTH=LOGIN PLAIN"
 * (the old Netscape form) counts as AUTH, and several AUTH lines add up.
 */
void	smtpc_caps_parse(const struct smtpc_reply *ehlo,
	    struct smtpc_caps *caps);

/* The envelope of one transaction, as the spool keeps it. */
struct smtpc_env {
	const char	*from;		/* reverse-path without <>, "" = null */
	uint64_t	 size;		/* message octets, for SIZE= */
	bool		 eightbit;	/* the body has 8-bit octets */
	bool		 smtputf8;	/* addresses or headers need UTF-8 */
	const char	*ret;		/* DSN RET value, NULL or "" = none */
	const char	*envid;		/* DSN ENVID (xtext), NULL or "" */
};

/* One recipient. */
struct smtpc_rcpt {
	const char	*addr;		/* forward-path without <> */
	const char	*notify;	/* DSN NOTIFY value, NULL or "" */
	const char	*orcpt;		/* DSN ORCPT value, NULL or "" */
};

/*
 * smtpc_mail_cmd - "MAIL FROM:<from>[ SIZE=n][ BODY=8BITMIME][ SMTPUTF8]
 * [ RET=..][ ENVID=..]\r\n" appended to out, with each parameter only
 * when the capability is offered (SIZE when has_size; BODY=8BITMIME when
 * eightbit and 8BITMIME; SMTPUTF8 when smtputf8 and offered; RET/ENVID
 * when DSN and set).  Returns 0, or -1 with out unchanged: the buffer
 * limit, a NULL from, a from with a control octet (CR, LF, TAB...), DEL,
 * '<' or '>', or a RET/ENVID that is not an RFC 5321 esmtp-value (33..126
 * without '=') whether or not it would be sent: the spool is trusted, but
 * a bad octet must never become a command injection.
 *
 * Policy stays with the session, before calling: a message bigger than
 * caps->size (5.3.4), eightbit without 8BITMIME (smtpc_downgrade_8bit
 * first, then eightbit false), smtputf8 without SMTPUTF8 (5.6.7; 8-bit
 * octets in `from` are sent as they are).
 */
int	smtpc_mail_cmd(const struct smtpc_env *e,
	    const struct smtpc_caps *caps, struct buf *out)
	    WARN_UNUSED_RESULT;

/*
 * smtpc_rcpt_cmd - "RCPT TO:<addr>[ NOTIFY=..][ ORCPT=..]\r\n" appended
 * to out (DSN parameters only when offered and set).  Returns 0, or -1
 * with out unchanged, for the same reasons as smtpc_mail_cmd and for an
 * empty addr.
 */
int	smtpc_rcpt_cmd(const struct smtpc_rcpt *r,
	    const struct smtpc_caps *caps, struct buf *out)
	    WARN_UNUSED_RESULT;

/*
 * smtpc_dotstuff - append `msg` (CRLF lines, as spooled) to out for DATA
 * (RFC 5321 4.5.2): a '.' at the start of a line doubled, a final CRLF
 * added when missing, then ".\r\n".  A bare LF and a bare CR are each
 * sent as CRLF: never a bare CR or LF on the wire (SMTP smuggling), and
 * this is how smtpc_downgrade_8bit counts lines too.  An empty message
 * gives ".\r\n".  Linear; octets are otherwise copied as they are.
 * Returns 0, or -1 (out's limit) with out unchanged.
 */
int	smtpc_dotstuff(const char *msg, size_t len, struct buf *out)
	    WARN_UNUSED_RESULT;

/*
 * smtpc_downgrade_8bit - the message rewritten for a next hop without
 * 8BITMIME (RFC 6152; the ZMailer transport's approach), appended to out.
 *
 * A body "needs encoding" when it has an octet above 127, a NUL, or a
 * line over 998 octets (RFC 2045 2.7, RFC 5321 4.5.3.1.6).  Lines end
 * with CRLF, bare LF or bare CR, as smtpc_dotstuff sends them.  Entities
 * whose body needs nothing are copied unchanged, so is a message whose
 * bodies all need nothing, except that every line end becomes CRLF and
 * a missing final CRLF is added: a spooled 7-bit message comes out byte
 * for byte.  Otherwise the MIME structure is walked (RFC 2045/2046):
 *  - a text part (or the whole body of a non-MIME message, or a part
 *    without a valid Content-Type) becomes quoted-printable (RFC 2045
 *    6.7: lines at most 76 characters, line ends as CRLF hard breaks, a
 *    '-' starting a line encoded so no line can pass for a boundary);
 *  - a multipart is walked by its boundary: preamble and epilogue are
 *    copied when 7-bit and dropped otherwise (readers ignore them, RFC
 *    2046 5.1.1), delimiter lines lose their transport padding, a
 *    missing close delimiter is tolerated (the last part runs to the end;
 *    none is made up);
 *  - message/rfc822 (the default inside multipart/digest) is walked as
 *    a message;
 *  - any other type with such a body (application/octet-stream sent as
 *    8bit, message/global...) becomes base64 in 76-character lines,
 *    encoding the body octets exactly as spooled.
 * A converted leaf's Content-Transfer-Encoding fields are replaced by one
 * (or one is added after Content-Type); a walked multipart or message
 * labelled 8bit or binary is relabelled 7bit.  A text leaf without
 * Content-Type gets "Content-Type: text/plain; charset=unknown-8bit"
 * (RFC 1428: us-ascii, the default, would be wrong), and a message that
 * changed gets "MIME-Version: 1.0" when it lacks one.  Header sections
 * are otherwise copied: headers with 8-bit octets are left alone
 * (SMTPUTF8 decides about those).  The result, given again, comes back
 * unchanged.  Linear in len; out must allow about 3.2 * len octets (the
 * worst case of quoted-printable).
 *
 * Returns 0, or -1 with out unchanged: out's limit, or MIME that cannot
 * be converted safely: a body needing encoding that is labelled
 * quoted-printable, base64 or an unknown encoding; a multipart without a
 * usable boundary (1..200 printable octets), or whose first delimiter
 * line is missing or a close delimiter; message/partial or
 * message/external-body (7bit only); entities needing conversion nested
 * deeper than 32.  The caller then fails the
 * delivery permanently with 5.6.3.
 */
int	smtpc_downgrade_8bit(const char *msg, size_t len, struct buf *out)
	    WARN_UNUSED_RESULT;

#endif
