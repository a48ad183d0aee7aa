/*
 * dns.h - asynchronous DNS (c-ares) on the event loops, for outbound mail
 * routing: MX, A and AAAA lookups with an in-memory TTL cache.
 *
 * One resolver per event loop (dns_resolver_new with the loop's
 * event_base); every call and callback of a resolver happens on that
 * loop's thread.  No lookup ever blocks the loop: c-ares sockets are
 * watched with libevent events, and every query has a time limit.
 *
 * Servers: server.tab SmartDNSHost, "host:proto[,host:proto...]" as in
 * the XMail manual, extended with an optional port "host:port:proto"
 * (e.g. "127.0.0.1:5353:udp", so tests can use a DNS server on a high
 * loopback port) and IPv6 addresses in brackets ("[::1]:53:udp");
 * proto is "udp" or "tcp" (tcp: queries use TCP only).  Host names are
 * not allowed there (resolving them would need DNS): numeric addresses
 * only.  Without SmartDNSHost the system resolver configuration
 * (/etc/resolv.conf) is used.  One "tcp" entry makes every server use
 * TCP (c-ares has one flag per channel, ARES_FLAG_USEVC).
 *
 * Names are absolute: search domains, /etc/hosts and HOSTALIASES are never
 * used.  A valid name is 1 to 253 characters (one final '.' allowed and
 * ignored) of letters, digits, '-', '_' and '.', with labels of 1 to 63
 * characters; anything else is DNS_BADNAME without a query.  Names are
 * compared without case.
 */
#ifndef POSTROOM_CORE_DNS_H
#define POSTROOM_CORE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/compat.h"

struct event_base;
struct dns_resolver;

#define DNS_NAME_MAX	255
#define DNS_MX_MAX	32	/* MX records kept per domain */
#define DNS_ADDR_MAX	16	/* addresses kept per host */

enum dns_status {
	DNS_OK,
	DNS_NXDOMAIN,		/* the name does not exist (permanent) */
	DNS_NODATA,		/* the name exists, no record of the type */
	DNS_TEMPFAIL,		/* timeout, SERVFAIL, refused, no server */
	DNS_BADNAME,		/* not a valid domain name (permanent) */
};

/* Address families to look up (-M4, -M6, -M5, -M7). */
enum dns_family {
	DNS_V4,			/* A only (default) */
	DNS_V6,			/* AAAA only */
	DNS_V4_V6,		/* A if any, else AAAA */
	DNS_V6_V4,		/* AAAA if any, else A */
	/*
	 * "else" means the first type answered NXDOMAIN or NODATA; if it
	 * failed temporarily the result is DNS_TEMPFAIL.
	 */
};

struct dns_conf {
	const char	*smart_dns_host; /* SmartDNSHost or NULL */
	int		 timeout_ms;	/* per try; 0 = 5000 */
	int		 tries;		/* 0 = 2 */
	size_t		 cache_max;	/* cached answers; 0 = 4096 */
};

/*
 * dns_name_ok - `len` octets at p are a valid name by the rules above
 * (pure; no NUL needed).
 */
bool	dns_name_ok(const char *p, size_t len);

/*
 * dns_servers_parse - check a SmartDNSHost value (pure): 0, or -1 with a
 * reason in err.  Used by dns_resolver_new and by configuration checks.
 */
int	dns_servers_parse(const char *value, char *err, size_t errlen)
	    WARN_UNUSED_RESULT;

/*
 * dns_resolver_new - a resolver for one loop; NULL on error (no memory,
 * c-ares initialisation failed; logged).  An invalid SmartDNSHost (use
 * NULL, not "", when it is unset) is logged once as a warning here; the
 * resolver is still returned, but every lookup that needs a query
 * answers DNS_TEMPFAIL (mail waits instead of being routed through the
 * wrong servers); address literals still work.
 */
struct dns_resolver	*dns_resolver_new(struct event_base *base,
			    const struct dns_conf *conf);

/*
 * dns_resolver_free - cancel pending queries (their callbacks run with
 * DNS_TEMPFAIL before this returns, also those whose answer was ready but
 * not yet delivered) and free the resolver.  Call it before freeing the
 * event_base.  It may be called from a dns callback of the same resolver;
 * the callbacks it runs must not start new queries (dns_query_* returns
 * -1 then).  NULL is ignored.
 */
void	dns_resolver_free(struct dns_resolver *r);

/* One MX record. */
struct dns_mx {
	uint16_t	pref;
	char		host[DNS_NAME_MAX + 1];	/* "." for a null MX */
};

/*
 * MX lookup result: records sorted by preference, equal preferences in
 * random order (RFC 5321 5.1), shuffled again for every callback, also
 * for cached answers; at most DNS_MX_MAX (the best ones).  A null MX
 * (RFC 7505: a single MX "." of preference 0) is reported as DNS_OK with
 * n == 1 and host ".".  A "." among other MX records (a broken zone) is
 * passed on as is; dns_query_addr(".") answers DNS_BADNAME.  DNS_NODATA
 * means the domain exists without MX (implicit MX, RFC 5321 5.1: use its
 * addresses); DNS_NXDOMAIN that it does not exist.  CNAMEs are followed
 * by the recursive server (a CNAME without MX at its target is
 * DNS_NODATA).  `mx` is NULL and n is 0 unless st is DNS_OK; `mx` is
 * valid during the callback only.
 */
typedef void	dns_mx_cb(void *arg, enum dns_status st,
		    const struct dns_mx *mx, size_t n);

/*
 * dns_query_mx - look up the MX records of `domain`.  The callback runs
 * later from the loop, never from inside this call (also for cached
 * answers and bad names), exactly once.  Returns 0, or -1 (no memory, or
 * the resolver is being freed) and the callback never runs.
 */
int	dns_query_mx(struct dns_resolver *r, const char *domain,
	    dns_mx_cb *cb, void *arg) WARN_UNUSED_RESULT;

/*
 * Address lookup result: up to DNS_ADDR_MAX addresses with port 0, all of
 * one family (DNS_V4_V6 gives the A records, or the AAAA records if there
 * is no A; DNS_V6_V4 the reverse), in the server's order.  A host that is
 * an address literal ("1.2.3.4", "[1.2.3.4]", "[IPv6:::1]", "::1",
 * "[::1]") is answered DNS_OK without a query, whatever the family.
 * `addrs` is NULL and n is 0 unless st is DNS_OK; it is valid during the
 * callback only.
 */
typedef void	dns_addr_cb(void *arg, enum dns_status st,
		    const struct sockaddr_storage *addrs, size_t n);

/* dns_query_addr - A and/or AAAA of `host`, as dns_query_mx. */
int	dns_query_addr(struct dns_resolver *r, const char *host,
	    enum dns_family fam, dns_addr_cb *cb, void *arg)
	    WARN_UNUSED_RESULT;

/*
 * dns_cache_flush - forget every cached answer (SIGHUP, tests).  Answers
 * are cached for their TTL (at most one day; TTL 0: not cached),
 * NXDOMAIN/NODATA for min(SOA TTL, SOA minimum) (RFC 2308, at most one
 * hour; 5 minutes when the server sent no SOA), temporary failures not at
 * all.  At most cache_max answers (least recently used go first), keyed
 * by record type and name: an A and an AAAA answer are two entries.
 */
void	dns_cache_flush(struct dns_resolver *r);

#endif
