/*
 * addr.c - RFC 5321 mailbox and path parsing.
 *
 * Two steps.  addr_scan() first walks the raw text once and refuses control
 * characters (anywhere, quoted or not), non-ASCII without SMTPUTF8 and
 * malformed UTF-8.  The grammar functions that follow then only need to know
 * that a byte >= 0x80 is part of a well-formed UTF-8 character, and that they
 * must not accept anything past the point addr_scan() checked.  Every grammar
 * function takes a cursor (`const char **sp`) and moves it only on success.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/addr.h"

#define ADDR_LABEL_MAX		63	/* octets, RFC 1035 2.3.4 */
#define ADDR_MAILBOX_MAX	(ADDR_PATH_MAX - 2)	/* path less "<>" */
#define ADDR_IPV6_MAX		45	/* INET6_ADDRSTRLEN less NUL */
#define ADDR_V6_TAG		"IPv6:"	/* RFC 5321 4.1.3 */
#define ADDR_V6_TAG_LEN		5

/* addr_strerror - short English text for an error */
const char *
addr_strerror(enum addr_err e)
{
	switch (e) {
	case ADDR_OK:
		return "no error";
	case ADDR_ERR_SYNTAX:
		return "address syntax error";
	case ADDR_ERR_TOO_LONG:
		return "address too long";
	case ADDR_ERR_8BIT:
		return "non-ASCII address without SMTPUTF8";
	case ADDR_ERR_CTRL:
		return "control character in address";
	case ADDR_ERR_NULL:
		return "null address not allowed";
	}
	return "unknown error";
}

/* addr_is_ctrl - C0 control or DEL */
static bool
addr_is_ctrl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* addr_is_alnum - ASCII letter or digit, independent of the locale */
static bool
addr_is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* addr_is_digit - ASCII digit */
static bool
addr_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/*
 * addr_is_atext - RFC 5322 3.2.3 atext, extended with UTF8-non-ascii by
 * RFC 6531 3.3 (bytes >= 0x80 reach here only after addr_scan() let them).
 */
static bool
addr_is_atext(unsigned char c)
{
	if (c >= 0x80 || addr_is_alnum(c))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* addr_is_qtext - qtextSMTP (RFC 5321 4.1.2; RFC 6531 3.3 for >= 0x80) */
static bool
addr_is_qtext(unsigned char c)
{
	return c >= 0x80 || (c >= 32 && c <= 126 && c != '"' && c != '\\');
}

/*
 * addr_utf8_len - length of the well-formed UTF-8 character at s (2 to 4),
 * or 0: overlong forms, surrogates, values above U+10FFFF and truncated
 * sequences are refused (RFC 3629 4).  The code point goes to *cp.  Stops at
 * the first bad byte, so it never reads past a NUL.
 */
static size_t
addr_utf8_len(const unsigned char *s, uint32_t *cp)
{
	unsigned char lo = 0x80, hi = 0xbf;
	uint32_t v;
	size_t n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		v = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		v = s[0] & 0x0f;
		lo = s[0] == 0xe0 ? 0xa0 : 0x80;	/* overlong */
		hi = s[0] == 0xed ? 0x9f : 0xbf;	/* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		v = s[0] & 0x07;
		lo = s[0] == 0xf0 ? 0x90 : 0x80;	/* overlong */
		hi = s[0] == 0xf4 ? 0x8f : 0xbf;	/* > U+10FFFF */
	} else {
		return 0;
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	v = v << 6 | (s[1] & 0x3f);
	for (i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	*cp = v;
	return n;
}

/*
 * addr_scan - check the characters of s up to the NUL or, when `path`, up to
 * the first '>' outside a quoted string; *stop gets that position.  Control
 * characters, including C1 controls written in UTF-8, are ADDR_ERR_CTRL;
 * non-ASCII without utf8 is ADDR_ERR_8BIT; bad UTF-8 is ADDR_ERR_SYNTAX.
 */
static enum addr_err
addr_scan(const char *s, bool utf8, bool path, const char **stop)
{
	const unsigned char *u = (const unsigned char *)s;
	bool quoted = false;
	uint32_t cp;
	size_t n;

	for (; *u != '\0'; u++) {
		if (*u >= 0x80) {
			if (!utf8)
				return ADDR_ERR_8BIT;
			if ((n = addr_utf8_len(u, &cp)) == 0)
				return ADDR_ERR_SYNTAX;
			if (cp <= 0x9f)
				return ADDR_ERR_CTRL;	/* C1 */
			u += n - 1;
		} else if (addr_is_ctrl(*u)) {
			return ADDR_ERR_CTRL;
		} else if (path && !quoted && *u == '>') {
			break;
		} else if (*u == '"') {
			quoted = !quoted;
		} else if (quoted && *u == '\\' && u[1] >= 0x20 &&
		    u[1] < 0x7f) {
			u++;	/* quoted-pairSMTP: skip the octet */
		}
	}
	*stop = (const char *)u;
	return ADDR_OK;
}

/* addr_dot_string - Dot-string local part (RFC 5321 4.1.2) into p->local */
static enum addr_err
addr_dot_string(const char **sp, struct addr_path *p)
{
	const char *s = *sp;
	size_t n;

	for (;;) {
		if (!addr_is_atext((unsigned char)*s))
			return ADDR_ERR_SYNTAX;	/* empty Atom */
		while (addr_is_atext((unsigned char)*s))
			s++;
		if (*s != '.')
			break;
		s++;
	}
	n = (size_t)(s - *sp);
	if (n > ADDR_LOCAL_MAX)
		return ADDR_ERR_TOO_LONG;	/* RFC 5321 4.5.3.1.1 */
	memcpy(p->local, *sp, n);
	p->local[n] = '\0';
	*sp = s;
	return ADDR_OK;
}

/*
 * addr_quoted_string - Quoted-string local part (RFC 5321 4.1.2) into
 * p->local without the quotes and backslashes.  The 64-octet limit applies
 * to the quoted form as sent, so the unquoted text always fits.
 */
static enum addr_err
addr_quoted_string(const char **sp, struct addr_path *p)
{
	const char *s = *sp + 1;
	size_t n = 0;
	unsigned char c;

	while (*s != '"') {
		c = (unsigned char)*s;
		if (c == '\\') {
			c = (unsigned char)s[1];	/* quoted-pairSMTP */
			if (c < 32 || c > 126)
				return ADDR_ERR_SYNTAX;
			s += 2;
		} else if (addr_is_qtext(c)) {
			s++;
		} else {
			return ADDR_ERR_SYNTAX;	/* includes the NUL */
		}
		if ((size_t)(s - *sp) + 1 > ADDR_LOCAL_MAX)
			return ADDR_ERR_TOO_LONG;
		p->local[n++] = (char)c;
	}
	/*
	 * XXX: the grammar allows "" but an empty mailbox name has no use
	 * and only confuses lookups further on.
	 */
	if (n == 0)
		return ADDR_ERR_SYNTAX;
	p->local[n] = '\0';
	p->quoted = true;
	*sp = s + 1;
	return ADDR_OK;
}

/*
 * addr_label - one sub-domain: Let-dig [Ldh-str] (RFC 5321 4.1.2) or, with
 * UTF-8 let through by addr_scan(), a U-label (RFC 6531 3.3).
 *
 * XXX: U-labels are only checked for shape (letters, digits, hyphens and
 * non-ASCII, no hyphen at either end); IDNA2008 rules and the 63-octet limit
 * of their A-label form would need punycode, and are the resolver's job.
 */
static enum addr_err
addr_label(const char **sp)
{
	const unsigned char *s = (const unsigned char *)*sp;
	const unsigned char *start = s;
	bool ascii = true;

	if (*s == '-')
		return ADDR_ERR_SYNTAX;
	while (addr_is_alnum(*s) || *s == '-' || *s >= 0x80) {
		if (*s >= 0x80)
			ascii = false;
		s++;
	}
	if (s == start || s[-1] == '-')
		return ADDR_ERR_SYNTAX;
	if (ascii && (size_t)(s - start) > ADDR_LABEL_MAX)
		return ADDR_ERR_TOO_LONG;
	*sp = (const char *)s;
	return ADDR_OK;
}

/* addr_ipv4 - Snum 3("." Snum) filling exactly n octets (RFC 5321 4.1.3) */
static bool
addr_ipv4(const char *s, size_t n)
{
	const char *end = s + n;
	unsigned v, digits, parts;

	for (parts = 0; parts < 4; parts++) {
		if (parts > 0) {
			if (s == end || *s != '.')
				return false;
			s++;
		}
		v = 0;
		digits = 0;
		for (; s < end && addr_is_digit((unsigned char)*s); s++) {
			v = v * 10 + (unsigned)(*s - '0');
			if (++digits > 3)
				return false;
		}
		if (digits == 0 || v > 255)
			return false;
	}
	return s == end;
}

/*
 * addr_literal - "[" IPv4-address-literal "]" or "[IPv6:" IPv6-addr "]"
 * (RFC 5321 4.1.3).  General-address-literal (other tags) is refused: no
 * other tag is registered and nothing here could route to one.
 */
static enum addr_err
addr_literal(const char **sp)
{
	const char *start = *sp + 1, *s = start;
	char v6[ADDR_IPV6_MAX + 1];
	struct in6_addr in6;
	size_t n;

	while (addr_is_alnum((unsigned char)*s) || *s == ':' || *s == '.')
		s++;
	if (*s != ']')
		return ADDR_ERR_SYNTAX;
	n = (size_t)(s - start);
	if (n > ADDR_V6_TAG_LEN &&
	    strncasecmp(start, ADDR_V6_TAG, ADDR_V6_TAG_LEN) == 0) {
		n -= ADDR_V6_TAG_LEN;
		if (n > ADDR_IPV6_MAX)
			return ADDR_ERR_SYNTAX;
		memcpy(v6, start + ADDR_V6_TAG_LEN, n);
		v6[n] = '\0';
		if (inet_pton(AF_INET6, v6, &in6) != 1)
			return ADDR_ERR_SYNTAX;
	} else if (!addr_ipv4(start, n)) {
		return ADDR_ERR_SYNTAX;
	}
	*sp = s + 1;
	return ADDR_OK;
}

/*
 * addr_domain - Domain, or address-literal when literal_ok, at *sp;
 * *literal tells which.  At most ADDR_DOMAIN_MAX octets.
 */
static enum addr_err
addr_domain(const char **sp, bool literal_ok, bool *literal)
{
	const char *s = *sp;
	enum addr_err e;

	*literal = false;
	if (*s == '[') {
		if (!literal_ok)
			return ADDR_ERR_SYNTAX;
		if ((e = addr_literal(&s)) != ADDR_OK)
			return e;
		*literal = true;
	} else {
		for (;;) {
			if ((e = addr_label(&s)) != ADDR_OK)
				return e;
			if (*s != '.')
				break;
			s++;
		}
	}
	if ((size_t)(s - *sp) > ADDR_DOMAIN_MAX)
		return ADDR_ERR_TOO_LONG;	/* RFC 5321 4.5.3.1.2 */
	*sp = s;
	return ADDR_OK;
}

/*
 * addr_route - A-d-l ":" (RFC 5321 4.1.2), copied without the colon to
 * p->route.  At-domain holds a Domain only, never an address literal.
 */
static enum addr_err
addr_route(const char **sp, struct addr_path *p)
{
	const char *s = *sp;
	enum addr_err e;
	bool literal;
	size_t n;

	for (;;) {
		if (*s != '@')
			return ADDR_ERR_SYNTAX;
		s++;
		if ((e = addr_domain(&s, false, &literal)) != ADDR_OK)
			return e;
		if (*s != ',')
			break;
		s++;
	}
	if (*s != ':')
		return ADDR_ERR_SYNTAX;
	n = (size_t)(s - *sp);
	if (n > ADDR_ROUTE_MAX)
		return ADDR_ERR_TOO_LONG;
	memcpy(p->route, *sp, n);
	p->route[n] = '\0';
	*sp = s + 1;
	return ADDR_OK;
}

/* addr_mailbox - Local-part "@" ( Domain / address-literal ) into p */
static enum addr_err
addr_mailbox(const char **sp, struct addr_path *p)
{
	const char *s = *sp, *d;
	enum addr_err e;

	if (*s == '"')
		e = addr_quoted_string(&s, p);
	else
		e = addr_dot_string(&s, p);
	if (e != ADDR_OK)
		return e;
	if (*s != '@')
		return ADDR_ERR_SYNTAX;
	d = ++s;
	if ((e = addr_domain(&s, true, &p->literal)) != ADDR_OK)
		return e;
	memcpy(p->domain, d, (size_t)(s - d));
	p->domain[s - d] = '\0';
	*sp = s;
	return ADDR_OK;
}

/* addr_parse_path - Path or Reverse-path (RFC 5321 4.1.2) */
enum addr_err
addr_parse_path(const char *s, bool allow_null, bool utf8,
    struct addr_path *p, const char **end)
{
	const char *q = s + 1, *stop;
	enum addr_err e;

	memset(p, 0, sizeof(*p));
	if (*s != '<')
		return ADDR_ERR_SYNTAX;
	if ((e = addr_scan(q, utf8, true, &stop)) != ADDR_OK)
		goto fail;
	if (*q == '>') {
		if (!allow_null)
			return ADDR_ERR_NULL;
		p->null = true;
		q++;
		goto done;
	}
	if (*q == '@' && (e = addr_route(&q, p)) != ADDR_OK)
		goto fail;
	if ((e = addr_mailbox(&q, p)) != ADDR_OK)
		goto fail;
	/* Also refuses a '>' other than the one addr_scan() stopped at. */
	e = ADDR_ERR_SYNTAX;
	if (*q != '>' || q != stop)
		goto fail;
	q++;
	e = ADDR_ERR_TOO_LONG;
	if ((size_t)(q - s) > ADDR_PATH_MAX)
		goto fail;	/* RFC 5321 4.5.3.1.3 */
done:
	if (end != NULL)
		*end = q;
	return ADDR_OK;
fail:
	memset(p, 0, sizeof(*p));
	return e;
}

/* addr_parse_mailbox - bare Mailbox, the whole string */
enum addr_err
addr_parse_mailbox(const char *s, bool utf8, struct addr_path *p)
{
	const char *q = s, *stop;
	enum addr_err e;

	memset(p, 0, sizeof(*p));
	if ((e = addr_scan(s, utf8, false, &stop)) != ADDR_OK)
		goto fail;
	if ((e = addr_mailbox(&q, p)) != ADDR_OK)
		goto fail;
	e = ADDR_ERR_SYNTAX;
	if (*q != '\0')
		goto fail;
	e = ADDR_ERR_TOO_LONG;
	if ((size_t)(q - s) > ADDR_MAILBOX_MAX)
		goto fail;
	return ADDR_OK;
fail:
	memset(p, 0, sizeof(*p));
	return e;
}

/* addr_is_dot_string - s can be sent as a Dot-string without quotes */
static bool
addr_is_dot_string(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	for (;;) {
		if (!addr_is_atext(*u))
			return false;
		while (addr_is_atext(*u))
			u++;
		if (*u == '\0')
			return true;
		if (*u++ != '.')
			return false;
	}
}

/* addr_has_ctrl - s holds a control character */
static bool
addr_has_ctrl(const char *s)
{
	for (; *s != '\0'; s++)
		if (addr_is_ctrl((unsigned char)*s))
			return true;
	return false;
}

/* addr_put - append c to out[*n], keeping room for the NUL */
static bool
addr_put(char *out, size_t size, size_t *n, char c)
{
	if (*n + 1 >= size)
		return false;
	out[(*n)++] = c;
	return true;
}

/* addr_put_local - the local part, as a Quoted-string when it needs one */
static bool
addr_put_local(const char *local, char *out, size_t size, size_t *n)
{
	bool quote = !addr_is_dot_string(local);
	const char *s;

	if (quote && !addr_put(out, size, n, '"'))
		return false;
	for (s = local; *s != '\0'; s++) {
		if (quote && (*s == '"' || *s == '\\') &&
		    !addr_put(out, size, n, '\\'))
			return false;
		if (!addr_put(out, size, n, *s))
			return false;
	}
	return !quote || addr_put(out, size, n, '"');
}

/* addr_format - "local@domain" with the local part quoted if needed */
int
addr_format(const struct addr_path *p, char *out, size_t size)
{
	size_t n = 0;
	const char *s;

	if (size == 0)
		return -1;
	out[0] = '\0';
	if (p->null)
		return 0;
	if (addr_has_ctrl(p->local) || addr_has_ctrl(p->domain) ||
	    !addr_put_local(p->local, out, size, &n))
		goto fail;
	if (p->domain[0] != '\0') {
		if (!addr_put(out, size, &n, '@'))
			goto fail;
		for (s = p->domain; *s != '\0'; s++)
			if (!addr_put(out, size, &n, *s))
				goto fail;
	}
	out[n] = '\0';
	return 0;
fail:
	out[0] = '\0';
	return -1;
}

/* addr_domain_ok - s is exactly one Domain or address literal */
bool
addr_domain_ok(const char *d, bool utf8)
{
	const char *s = d, *stop;
	bool literal;

	if (addr_scan(d, utf8, false, &stop) != ADDR_OK)
		return false;
	return addr_domain(&s, true, &literal) == ADDR_OK && *s == '\0';
}
