/*
 * match.c - wildcard patterns and IP address filters.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/match.h"

#define IPFILTER_TEXT_MAX	64	/* longest address text before '/' */

/* match_lower - ASCII lower case, independent of the locale */
static inline unsigned char
match_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/*
 * match_wild - wildcard match.  Iterative: on a mismatch, go back to the
 * most recent `*` and let it swallow one more byte.  Earlier stars never
 * need revisiting (whatever the later star can match it still can after the
 * earlier one moved), so the cost is O(len(pattern) * len(s)).
 */
bool
match_wild(const char *pattern, const char *s)
{
	const unsigned char *p = (const unsigned char *)pattern;
	const unsigned char *t = (const unsigned char *)s;
	const unsigned char *star_p = NULL, *star_t = NULL;

	while (*t != '\0') {
		if (*p == '*') {
			star_p = ++p;
			star_t = t;
		} else if (*p != '\0' &&
		    (*p == '?' || match_lower(*p) == match_lower(*t))) {
			p++;
			t++;
		} else if (star_p != NULL) {
			p = star_p;
			t = ++star_t;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* match_has_wild - true when s holds a wildcard */
bool
match_has_wild(const char *s)
{
	return strpbrk(s, "*?") != NULL;
}

/* ipfilter_bits - parse a prefix length 0..max, digits only */
static int
ipfilter_bits(const char *s, unsigned max, unsigned *bits)
{
	unsigned v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			return -1;
	}
	*bits = v;
	return 0;
}

/* ipfilter_addr - parse a numeric address of either family */
static int
ipfilter_addr(const char *s, int *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

/* ipfilter_prefix - mask with the first `bits` bits set */
static void
ipfilter_prefix(uint8_t mask[16], unsigned bits)
{
	unsigned i;

	memset(mask, 0, 16);
	for (i = 0; i < bits / 8; i++)
		mask[i] = 0xff;
	if (bits % 8 != 0)
		mask[i] = (uint8_t)(0xff << (8 - bits % 8));
}

/*
 * ipfilter_unmap - turn a filter on IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d with at least the first 96 mask bits set) into the
 * equivalent IPv4 filter, so that it matches IPv4 and mapped peers alike.
 */
static void
ipfilter_unmap(struct ipfilter *f)
{
	static const uint8_t pfx[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	size_t i;

	if (f->family != AF_INET6 || memcmp(f->addr, pfx, sizeof(pfx)) != 0)
		return;
	for (i = 0; i < sizeof(pfx); i++)
		if (f->mask[i] != 0xff)
			return;
	f->family = AF_INET;
	memmove(f->addr, f->addr + 12, 4);
	memmove(f->mask, f->mask + 12, 4);
	memset(f->addr + 4, 0, 12);
	memset(f->mask + 4, 0, 12);
}

/* ipfilter_parse - parse "ip/bits" or "ip" "mask" */
int
ipfilter_parse(const char *a, const char *b, struct ipfilter *f)
{
	char text[IPFILTER_TEXT_MAX];
	const char *slash;
	unsigned bits;
	size_t i, len;
	int mfam;

	memset(f, 0, sizeof(*f));
	if (a == NULL)
		return -1;
	if ((slash = strchr(a, '/')) != NULL) {
		len = (size_t)(slash - a);
		if (len >= sizeof(text))
			return -1;
		memcpy(text, a, len);
		text[len] = '\0';
		if (ipfilter_addr(text, &f->family, f->addr) == -1 ||
		    ipfilter_bits(slash + 1, f->family == AF_INET ? 32 : 128,
		    &bits) == -1)
			return -1;
		ipfilter_prefix(f->mask, bits);
	} else {
		if (b == NULL || ipfilter_addr(a, &f->family, f->addr) == -1 ||
		    ipfilter_addr(b, &mfam, f->mask) == -1 ||
		    mfam != f->family)
			return -1;
	}
	for (i = 0; i < sizeof(f->addr); i++)
		f->addr[i] &= f->mask[i];
	ipfilter_unmap(f);
	return 0;
}

/* ipaddr_bytes - family and address bytes of sa, IPv4-mapped as IPv4 */
static int
ipaddr_bytes(const struct sockaddr *sa, int *family, const uint8_t **addr)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	if (sa == NULL)
		return -1;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)(const void *)sa;
		*family = AF_INET;
		*addr = (const uint8_t *)&sin->sin_addr;
		return 0;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		*addr = (const uint8_t *)&sin6->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			*family = AF_INET;
			*addr += 12;
		} else {
			*family = AF_INET6;
		}
		return 0;
	}
	return -1;
}

/* ipfilter_match - true when the address in sa is inside f */
bool
ipfilter_match(const struct ipfilter *f, const struct sockaddr *sa)
{
	const uint8_t *addr;
	size_t i, n;
	int family;

	if (ipaddr_bytes(sa, &family, &addr) == -1 || family != f->family)
		return false;
	n = family == AF_INET ? 4 : 16;
	for (i = 0; i < n; i++)
		if ((addr[i] & f->mask[i]) != (f->addr[i] & f->mask[i]))
			return false;
	return true;
}

/* ipaddr_parse - numeric address and port into a sockaddr */
int
ipaddr_parse(const char *s, int port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;

	memset(ss, 0, sizeof(*ss));
	if (s == NULL || port < 0 || port > 65535)
		return -1;
	sin = (struct sockaddr_in *)(void *)ss;
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
		return 0;
	}
	sin6 = (struct sockaddr_in6 *)(void *)ss;
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	memset(ss, 0, sizeof(*ss));
	return -1;
}

/* ipaddr_str - numeric text of an address; "?" if it cannot be shown */
const char *
ipaddr_str(const struct sockaddr *sa, char *out, size_t size)
{
	const uint8_t *addr;
	socklen_t n;
	int family;

	if (size == 0)
		return out;
	/* INET6_ADDRSTRLEN is far below this; clamp to fit a socklen_t. */
	n = size > 1024 ? 1024 : (socklen_t)size;
	if (ipaddr_bytes(sa, &family, &addr) == -1 ||
	    inet_ntop(family, addr, out, n) == NULL) {
		if (size >= 2) {
			out[0] = '?';
			out[1] = '\0';
		} else {
			out[0] = '\0';
		}
	}
	return out;
}
