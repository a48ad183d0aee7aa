/*
 * match.h - wildcard patterns and IP address filters.
 */
#ifndef POSTROOM_CORE_MATCH_H
#define POSTROOM_CORE_MATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/compat.h"

/*
 * match_wild - true when `s` matches `pattern`, where `*` matches any run of
 * bytes (also empty) and `?` exactly one byte; comparison ignores ASCII case
 * (aliases, domains and CTRL listings are case-insensitive in XMail).
 * Runs in O(len(pattern) * len(s)) worst case, never exponential.
 */
bool	match_wild(const char *pattern, const char *s);

/* match_has_wild - true when `s` contains `*` or `?`. */
bool	match_has_wild(const char *s);

/* An address with a mask, IPv4 or IPv6. */
struct ipfilter {
	int	 family;	/* AF_INET or AF_INET6 */
	uint8_t	 addr[16];	/* network address (4 or 16 bytes used) */
	uint8_t	 mask[16];	/* mask bytes */
};

/*
 * ipfilter_parse - parse the two forms the manual uses:
 *   `ip/bits` in `a` (then `b` is ignored and may be NULL), or
 *   `ip` in `a` and a dotted netmask (or, for IPv6, an address-form mask)
 *   in `b`.
 * Numeric addresses only: host names are refused (no DNS in config parsing).
 * `bits` is decimal digits only, 0..32 (IPv4) or 0..128 (IPv6).  A mask in
 * `b` must be of the same family as `a`; as in XMail it is applied with a
 * bitwise AND and need not be contiguous.  `a` without `/` and a NULL `b`
 * is malformed.  Address bits outside the mask are cleared.  A filter on
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, prefix >= 96) is stored as
 * the equivalent IPv4 filter.  Returns 0, or -1 on a malformed value.
 */
int	ipfilter_parse(const char *a, const char *b, struct ipfilter *f)
	    WARN_UNUSED_RESULT;

/*
 * ipfilter_match - true when `sa` (AF_INET or AF_INET6) falls in `f`.  An
 * IPv4-mapped IPv6 peer (::ffff:a.b.c.d) matches IPv4 filters.
 */
bool	ipfilter_match(const struct ipfilter *f, const struct sockaddr *sa);

/*
 * ipaddr_parse - parse a numeric IPv4 or IPv6 address into sockaddr
 * storage with the given port.  Returns 0 or -1.
 */
int	ipaddr_parse(const char *s, int port, struct sockaddr_storage *ss,
	    socklen_t *len) WARN_UNUSED_RESULT;

/*
 * ipaddr_str - numeric text of an address (no port) into out; returns out.
 * IPv4-mapped IPv6 addresses are printed as IPv4.  An unknown family or a
 * too small `out` gives "?" (or "" when size is 1); size 0 writes nothing.
 */
const char	*ipaddr_str(const struct sockaddr *sa, char *out, size_t size);

#endif
