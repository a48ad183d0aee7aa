/*
 * addr.h - RFC 5321 mailbox and path parsing.
 *
 * Pure functions (no I/O), fuzzed.  Everything returned is safe to write
 * into a spool file: no CR, LF, NUL or other control character can pass.
 */
#ifndef POSTROOM_CORE_ADDR_H
#define POSTROOM_CORE_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/compat.h"

#define ADDR_LOCAL_MAX	64	/* octets, RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX	255	/* octets, RFC 5321 4.5.3.1.2 */
#define ADDR_PATH_MAX	256	/* octets with <>, RFC 5321 4.5.3.1.3 */
#define ADDR_ROUTE_MAX	256	/* source route "@a,@b" */

enum addr_err {
	ADDR_OK = 0,
	ADDR_ERR_SYNTAX,	/* not a valid path / mailbox */
	ADDR_ERR_TOO_LONG,	/* a part exceeds its RFC limit */
	ADDR_ERR_8BIT,		/* non-ASCII without SMTPUTF8 */
	ADDR_ERR_CTRL,		/* control character (CR, LF ...) */
	ADDR_ERR_NULL,		/* "<>" where not allowed */
};

/* A parsed path. */
struct addr_path {
	bool	null;			/* "<>" */
	char	route[ADDR_ROUTE_MAX + 1];	/* "@a,@b" or "" */
	char	local[ADDR_LOCAL_MAX + 1];	/* unquoted local part */
	bool	quoted;			/* local part was quoted */
	char	domain[ADDR_DOMAIN_MAX + 1];	/* or "[literal]" */
	bool	literal;		/* domain is an address literal */
};

/* addr_strerror - short English text for an error. */
const char	*addr_strerror(enum addr_err e);

/*
 * addr_parse_path - parse an RFC 5321 Path or Reverse-path starting at `s`
 * (which must begin with '<'): "<>", "<local@domain>", or with a source
 * route "<@a,@b:local@domain>" (RFC 5321 4.1.2; the route is returned, to
 * be ignored or honoured by the caller; route domains cannot be literals).
 * Local parts are Dot-string or Quoted-string (an empty "" is refused);
 * domains are dot-separated labels (Let-dig [Ldh-str], ASCII labels at most
 * 63 octets) or an address literal ("[1.2.3.4]", "[IPv6:...]" checked with
 * inet_pton; General-address-literal is refused).  With `utf8` (SMTPUTF8,
 * RFC 6531) UTF-8 is allowed in the local part, quoted or not, and in domain
 * labels; it must be well-formed (no overlongs, surrogates or values above
 * U+10FFFF, else ADDR_ERR_SYNTAX) and contain no C1 control (U+0080..U+009F,
 * ADDR_ERR_CTRL).  `allow_null` permits "<>" (else ADDR_ERR_NULL).
 *
 * Limits (RFC 5321 4.5.3.1, ADDR_ERR_TOO_LONG): the local part as sent,
 * quotes and backslashes included, ADDR_LOCAL_MAX; the domain, brackets
 * included, ADDR_DOMAIN_MAX; the whole path from '<' to '>' ADDR_PATH_MAX.
 * Control characters anywhere before the closing '>', even quoted, give
 * ADDR_ERR_CTRL; non-ASCII without `utf8` gives ADDR_ERR_8BIT.  Both are
 * reported before grammar errors.
 *
 * On success *end (if end is not NULL) points just after '>'; on failure
 * *p is all zero and *end is unchanged.  Never reads past the terminating
 * NUL.  p->local has quotes and escapes removed; p->domain keeps its case
 * and, for a literal, its brackets.
 */
enum addr_err	addr_parse_path(const char *s, bool allow_null, bool utf8,
		    struct addr_path *p, const char **end) WARN_UNUSED_RESULT;

/*
 * addr_parse_mailbox - parse a bare "local@domain" (no angle brackets, no
 * route) in the same way; the whole string must be consumed and is at most
 * ADDR_PATH_MAX - 2 octets.
 */
enum addr_err	addr_parse_mailbox(const char *s, bool utf8,
		    struct addr_path *p) WARN_UNUSED_RESULT;

/*
 * addr_format - "local@domain" into out (size bytes, NUL included), without
 * brackets or route.  The local part is written as a Quoted-string, with '"'
 * and '\' escaped, when it is not a valid Dot-string; an empty domain (the
 * "<postmaster>" recipient of smtpd_parse_rcpt) gives just the local part.
 * "" for a null path.  The output of a parsed path parses back with
 * addr_parse_mailbox to the same local part and domain.  Returns 0, or -1
 * (out is "") if it does not fit or a field holds a control character.
 */
int	addr_format(const struct addr_path *p, char *out, size_t size)
	    WARN_UNUSED_RESULT;

/*
 * addr_domain_ok - d is exactly one valid domain (labels, or literal) of at
 * most ADDR_DOMAIN_MAX octets, utf8 as above.
 */
bool	addr_domain_ok(const char *d, bool utf8);

#endif
