/*
 * dns.c - asynchronous DNS with c-ares on a libevent loop, and a cache.
 *
 * Each resolver owns one ares_channel.  c-ares tells us which sockets to
 * watch through ARES_OPT_SOCK_STATE_CB (one persistent libevent event per
 * socket) and how long until its next retry through ares_timeout() (one
 * timer that calls ares_process_fd(ARES_SOCKET_BAD, ARES_SOCKET_BAD)).
 *
 * Queries use ares_query only: no search domains (mail domains are
 * absolute, RFC 5321 2.3.5), no /etc/hosts, no HOSTALIASES.  Parsed
 * answers are cached per (type, lower-cased name) until their TTL runs
 * out.  Results are never handed to the caller from inside c-ares or
 * from inside dns_query_*: every query owns an event that is activated
 * when its result is ready, so callbacks always run from the loop and a
 * callback may free the resolver.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <time.h>

#include <ares.h>
#include <event2/event.h>

#include "core/dns.h"
#include "core/log.h"

#define DNS_TIMEOUT_MS_DEFAULT	5000
#define DNS_TRIES_DEFAULT	2
#define DNS_CACHE_DEFAULT	4096
#define DNS_CACHE_LIMIT		(1u << 20)	/* cap on cache_max */
#define DNS_TEXT_MAX		253	/* 255 octets on the wire */
#define DNS_LABEL_MAX		63
#define DNS_TTL_MAX		86400	/* positive answers: one day */
#define DNS_NEG_TTL_MAX		3600	/* NXDOMAIN/NODATA: one hour */
/*
 * XXX: a negative answer without an SOA (dnsmasq's local names, some
 * broken servers) is cached for a fixed 5 minutes, although RFC 2308 5
 * says not to cache it: a stub resolver cannot loop, and a burst of
 * messages to a dead domain should not cost one query each.
 */
#define DNS_NEG_TTL_NOSOA	300
#define DNS_MX_TTL_DEFAULT	300	/* MX TTLs unreadable */
#define DNS_SERVERS_MAX		16	/* SmartDNSHost entries */
#define DNS_HDR_LEN		12

/* A parsed answer: what the cache stores and a query delivers. */
struct dns_answer {
	enum dns_status		 st;
	uint32_t		 ttl;	/* seconds to cache; 0: do not cache */
	size_t			 n;
	struct dns_mx		*mx;	/* MX: n records by preference */
	struct sockaddr_storage	*addrs;	/* A/AAAA: n addresses */
};

struct dns_entry {
	struct dns_entry	*hnext;		/* hash chain */
	TAILQ_ENTRY(dns_entry)	 lru;
	uint64_t		 expires;	/* CLOCK_MONOTONIC, ms */
	uint32_t		 hash;
	uint16_t		 type;
	struct dns_answer	 ans;
	char			 name[DNS_NAME_MAX + 1];
};

struct dns_query {
	TAILQ_ENTRY(dns_query)	 link;
	struct dns_resolver	*r;
	struct event		*done_ev;	/* runs the callback */
	dns_mx_cb		*mx_cb;		/* one of mx_cb, addr_cb */
	dns_addr_cb		*addr_cb;
	void			*arg;
	enum dns_family		 fam;
	int			 step;		/* address lookups: 0, 1 */
	enum dns_status		 first_st;	/* status of step 0 */
	uint16_t		 type;		/* ns_t_mx, ns_t_a, ns_t_aaaa */
	struct dns_answer	 ans;		/* the result (owned) */
	char			 name[DNS_NAME_MAX + 1];
};

/* A socket c-ares wants watched. */
struct dns_watch {
	struct dns_watch	*next;
	ares_socket_t		 fd;
	struct event		*ev;
};

struct dns_server {
	int			 family;
	union {
		struct in_addr	 v4;
		struct in6_addr	 v6;
	} addr;
	uint16_t		 port;
	bool			 tcp;
};

struct dns_resolver {
	struct event_base	*base;
	ares_channel		 channel;
	bool			 have_channel;
	bool			 broken;	/* bad SmartDNSHost: TEMPFAIL */
	bool			 closing;	/* in dns_resolver_free */
	struct event		*timer;		/* c-ares timeouts */
	struct dns_watch	*watches;
	TAILQ_HEAD(, dns_query)	 queries;	/* every unfinished query */
	struct dns_entry	**buckets;
	size_t			 nbuckets;	/* power of two */
	size_t			 ncached, cache_max;
	TAILQ_HEAD(dns_lru, dns_entry) lru;	/* most recent first */
	uint64_t		 rng;		/* splitmix64 state */
	uint64_t		 hash_seed;
};

static pthread_once_t	 dns_lib_once = PTHREAD_ONCE_INIT;
static int		 dns_lib_status;

static void	dns_query_lookup(struct dns_query *q);
static void	dns_err(char *err, size_t errlen, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));

/* dns_lib_init_cb - ares_library_init, run once per process */
static void
dns_lib_init_cb(void)
{
	dns_lib_status = ares_library_init(ARES_LIB_INIT_ALL);
}

/* dns_now_ms - CLOCK_MONOTONIC in milliseconds */
static uint64_t
dns_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* dns_rand - next splitmix64 output of the resolver's generator */
static uint64_t
dns_rand(struct dns_resolver *r)
{
	uint64_t z = (r->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* dns_seed - seed the generator and the hash from getrandom(2) */
static void
dns_seed(struct dns_resolver *r)
{
	uint64_t s[2];
	struct timespec ts;

	if (getrandom(s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
		/* Only ordering and hash spreading depend on it. */
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		s[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
		    (uint64_t)(uintptr_t)r;
		s[1] = s[0] * 0x9e3779b97f4a7c15ULL;
	}
	r->rng = s[0];
	r->hash_seed = s[1];
}

/* dns_err - format a reason into err (which may be NULL) */
static void
dns_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* dns_port_parse - a decimal port 1..65535 */
static bool
dns_port_parse(const char *s, size_t len, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* dns_server_addr - numeric address of one entry (v6 only in brackets) */
static bool
dns_server_addr(const char *s, size_t len, bool v6, struct dns_server *sv)
{
	char buf[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	sv->family = v6 ? AF_INET6 : AF_INET;
	return inet_pton(sv->family, buf, &sv->addr) == 1;
}

/* dns_server_parse - one "host[:port]:proto" entry */
static int
dns_server_parse(const char *s, size_t len, struct dns_server *sv,
    char *err, size_t errlen)
{
	const char *colon = memrchr(s, ':', len), *host = s, *port = NULL;
	size_t hlen, plen = 0;
	bool v6 = false;

	if (colon == NULL || (s + len - colon - 1 != 3) ||
	    (strncasecmp(colon + 1, "udp", 3) != 0 &&
	    strncasecmp(colon + 1, "tcp", 3) != 0)) {
		dns_err(err, errlen, "\"%.*s\": expected host[:port]:udp or "
		    "host[:port]:tcp", (int)len, s);
		return -1;
	}
	sv->tcp = strncasecmp(colon + 1, "tcp", 3) == 0;
	sv->port = 53;
	hlen = (size_t)(colon - s);
	if (hlen > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', hlen);

		if (close == NULL || (close + 1 < colon && close[1] != ':')) {
			dns_err(err, errlen, "\"%.*s\": bad brackets",
			    (int)len, s);
			return -1;
		}
		v6 = true;
		host = s + 1;
		if (close + 1 < colon) {
			port = close + 2;
			plen = (size_t)(colon - port);
		}
		hlen = (size_t)(close - host);
	} else if ((port = memchr(s, ':', hlen)) != NULL) {
		hlen = (size_t)(port - s);
		port++;
		plen = (size_t)(colon - port);
	}
	if (port != NULL && !dns_port_parse(port, plen, &sv->port)) {
		dns_err(err, errlen, "\"%.*s\": bad port", (int)len, s);
		return -1;
	}
	if (!dns_server_addr(host, hlen, v6, sv)) {
		dns_err(err, errlen, "\"%.*s\": not a numeric address%s",
		    (int)len, s, v6 ? "" : " (IPv6 needs [brackets])");
		return -1;
	}
	return 0;
}

/* dns_servers_split - parse a whole SmartDNSHost value into sv[] */
static int
dns_servers_split(const char *value, struct dns_server *sv, size_t max,
    size_t *n, char *err, size_t errlen)
{
	const char *p = value, *end, *e;

	*n = 0;
	for (;;) {
		end = strchr(p, ',');
		e = end != NULL ? end : p + strlen(p);
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (p == e) {
			dns_err(err, errlen, "empty server entry");
			return -1;
		}
		if (*n == max) {
			dns_err(err, errlen, "more than %zu servers", max);
			return -1;
		}
		if (dns_server_parse(p, (size_t)(e - p), &sv[*n], err,
		    errlen) == -1)
			return -1;
		(*n)++;
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

/* dns_servers_parse - check a SmartDNSHost value */
int
dns_servers_parse(const char *value, char *err, size_t errlen)
{
	struct dns_server sv[DNS_SERVERS_MAX];
	size_t n;

	if (value == NULL) {
		dns_err(err, errlen, "no value");
		return -1;
	}
	return dns_servers_split(value, sv, nitems(sv), &n, err, errlen);
}

/* dns_name_ok - a valid name (see dns.h) */
bool
dns_name_ok(const char *p, size_t len)
{
	size_t i, label = 0;
	char c;

	if (len > 0 && p[len - 1] == '.')
		len--;		/* absolute form */
	if (len == 0 || len > DNS_TEXT_MAX)
		return false;
	for (i = 0; i < len; i++) {
		c = p[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > DNS_LABEL_MAX)
				return false;
		} else
			return false;
	}
	return true;
}

/* dns_name_normalize - validate a name, lower-case it into out */
static bool
dns_name_normalize(const char *in, char out[DNS_NAME_MAX + 1])
{
	size_t len = strnlen(in, DNS_NAME_MAX + 2), i;

	if (!dns_name_ok(in, len))
		return false;
	if (in[len - 1] == '.')
		len--;
	for (i = 0; i < len; i++)
		out[i] = (in[i] >= 'A' && in[i] <= 'Z') ?
		    (char)(in[i] + 'a' - 'A') : in[i];
	out[len] = '\0';
	return true;
}

/* dns_literal_parse - "1.2.3.4", "[1.2.3.4]", "[IPv6:...]", "::1" */
static bool
dns_literal_parse(const char *host, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN];
	size_t len = strlen(host);
	bool tagged = false;

	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
		if (len >= 5 && strncasecmp(host, "IPv6:", 5) == 0) {
			host += 5;
			len -= 5;
			tagged = true;	/* RFC 5321 4.1.3 */
		}
	}
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, host, len);
	buf[len] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (!tagged && inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return true;
	}
	return false;
}

/* dns_get16 - big-endian 16-bit value */
static inline uint32_t
dns_get16(const unsigned char *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

/* dns_get32 - big-endian 32-bit value */
static inline uint32_t
dns_get32(const unsigned char *p)
{
	return dns_get16(p) << 16 | dns_get16(p + 2);
}

/* dns_skip_name - offset just after the encoded name at off, or 0 */
static size_t
dns_skip_name(const unsigned char *p, size_t end, size_t off)
{
	while (off < end) {
		if ((p[off] & 0xc0) == 0xc0)	/* compression pointer */
			return off + 2 <= end ? off + 2 : 0;
		if ((p[off] & 0xc0) != 0)
			return 0;
		if (p[off] == 0)
			return off + 1;
		off += 1u + p[off];
	}
	return 0;
}

/* dns_ttl - an RR's TTL, top bit set meaning 0 (RFC 2181 8) */
static uint32_t
dns_ttl(const unsigned char *rr)
{
	uint32_t ttl = dns_get32(rr + 4);

	return (ttl & 0x80000000u) ? 0 : ttl;
}

/* dns_soa_ttl - negative TTL of an SOA RR: min(TTL, MINIMUM), RFC 2308 5 */
static bool
dns_soa_ttl(const unsigned char *p, size_t rdata, size_t rdlen,
    uint32_t rrttl, uint32_t *ttl)
{
	size_t end = rdata + rdlen, off;
	uint32_t min;

	if ((off = dns_skip_name(p, end, rdata)) == 0 ||
	    (off = dns_skip_name(p, end, off)) == 0 || off + 20 > end)
		return false;
	min = dns_get32(p + off + 16);
	min = (min & 0x80000000u) ? 0 : min;
	*ttl = rrttl < min ? rrttl : min;
	return true;
}

/*
 * dns_msg_ttls - walk the answer and authority sections: the smallest
 * answer TTL (CNAMEs included) and the negative TTL of an authority SOA.
 * ares_parse_mx_reply (1.18) does not report TTLs, and ares_parse_soa_reply
 * reads only the answer section.  Returns false on a malformed message.
 */
static bool
dns_msg_ttls(const unsigned char *p, size_t len, uint32_t *ans_ttl,
    uint32_t *neg_ttl, bool *have_soa)
{
	size_t off = DNS_HDR_LEN, i, qd, an, ns, rdlen;

	*ans_ttl = UINT32_MAX;
	*have_soa = false;
	if (len < DNS_HDR_LEN)
		return false;
	qd = dns_get16(p + 4);
	an = dns_get16(p + 6);
	ns = dns_get16(p + 8);
	for (i = 0; i < qd; i++)
		if ((off = dns_skip_name(p, len, off)) == 0 || (off += 4) > len)
			return false;
	for (i = 0; i < an + ns; i++) {
		if ((off = dns_skip_name(p, len, off)) == 0 || off + 10 > len)
			return false;
		rdlen = dns_get16(p + off + 8);
		if (off + 10 + rdlen > len)
			return false;
		if (i < an && dns_ttl(p + off) < *ans_ttl)
			*ans_ttl = dns_ttl(p + off);
		if (i >= an && !*have_soa && dns_get16(p + off) == ns_t_soa)
			*have_soa = dns_soa_ttl(p, off + 10, rdlen,
			    dns_ttl(p + off), neg_ttl);
		off += 10 + rdlen;
	}
	return true;
}

/* dns_answer_clear - free the records of an answer */
static void
dns_answer_clear(struct dns_answer *a)
{
	free(a->mx);
	free(a->addrs);
	memset(a, 0, sizeof(*a));
}

/* dns_answer_copy - deep copy of src into dst; -1 if out of memory */
static int
dns_answer_copy(struct dns_answer *dst, const struct dns_answer *src)
{
	*dst = *src;
	dst->mx = NULL;
	dst->addrs = NULL;
	if (src->mx != NULL &&
	    (dst->mx = calloc(src->n, sizeof(*src->mx))) == NULL)
		return -1;
	if (src->addrs != NULL &&
	    (dst->addrs = calloc(src->n, sizeof(*src->addrs))) == NULL)
		return -1;
	if (src->mx != NULL)
		memcpy(dst->mx, src->mx, src->n * sizeof(*src->mx));
	if (src->addrs != NULL)
		memcpy(dst->addrs, src->addrs, src->n * sizeof(*src->addrs));
	return 0;
}

/* dns_answer_negative - NXDOMAIN/NODATA, cached for the SOA's time */
static void
dns_answer_negative(struct dns_answer *a, enum dns_status st,
    const unsigned char *abuf, int alen)
{
	uint32_t ans_ttl, neg_ttl = 0;
	bool have_soa = false;

	a->st = st;
	a->ttl = DNS_NEG_TTL_NOSOA;
	if (abuf != NULL && alen > 0 &&
	    dns_msg_ttls(abuf, (size_t)alen, &ans_ttl, &neg_ttl, &have_soa) &&
	    have_soa)
		a->ttl = neg_ttl < DNS_NEG_TTL_MAX ? neg_ttl : DNS_NEG_TTL_MAX;
}

/* dns_ttl_cap - a positive answer's cache time */
static uint32_t
dns_ttl_cap(uint32_t ttl)
{
	return ttl < DNS_TTL_MAX ? ttl : DNS_TTL_MAX;
}

/* dns_mx_cmp - qsort by preference */
static int
dns_mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	return (x->pref > y->pref) - (x->pref < y->pref);
}

/* dns_mx_collect - copy c-ares MX records, sort, keep DNS_MX_MAX */
static int
dns_mx_collect(const struct ares_mx_reply *list, struct dns_answer *a)
{
	const struct ares_mx_reply *m;
	size_t count = 0;

	for (m = list; m != NULL; m = m->next)
		count++;
	if ((a->mx = calloc(count == 0 ? 1 : count, sizeof(*a->mx))) == NULL)
		return -1;
	for (m = list; m != NULL; m = m->next) {
		struct dns_mx *d = &a->mx[a->n];

		d->pref = m->priority;
		/* c-ares spells the root name "": a null MX (RFC 7505). */
		if (str_copy(d->host, m->host[0] == '\0' ? "." : m->host,
		    sizeof(d->host)))
			a->n++;
	}
	qsort(a->mx, a->n, sizeof(*a->mx), dns_mx_cmp);
	if (a->n > DNS_MX_MAX)
		a->n = DNS_MX_MAX;
	return 0;
}

/* dns_answer_mx - parse an MX response */
static void
dns_answer_mx(struct dns_answer *a, const unsigned char *abuf, int alen)
{
	struct ares_mx_reply *list = NULL;
	uint32_t ans_ttl, neg_ttl;
	bool have_soa;
	int rc;

	rc = ares_parse_mx_reply(abuf, alen, &list);
	/* Only a CNAME: 1.18 says success with no records. */
	if (rc == ARES_ENODATA || (rc == ARES_SUCCESS && list == NULL)) {
		dns_answer_negative(a, DNS_NODATA, abuf, alen);
		return;
	}
	if (rc != ARES_SUCCESS || dns_mx_collect(list, a) == -1 || a->n == 0) {
		log_debug("dns: bad MX response: %s", ares_strerror(rc));
		dns_answer_clear(a);
		a->st = DNS_TEMPFAIL;
	} else {
		a->st = DNS_OK;
		a->ttl = dns_msg_ttls(abuf, (size_t)alen, &ans_ttl, &neg_ttl,
		    &have_soa) ? dns_ttl_cap(ans_ttl) : DNS_MX_TTL_DEFAULT;
	}
	ares_free_data(list);
}

/* dns_answer_addrs - allocate n addresses; -1 if out of memory */
static int
dns_answer_addrs(struct dns_answer *a, int n)
{
	if ((a->addrs = calloc((size_t)n, sizeof(*a->addrs))) == NULL)
		return -1;
	a->n = (size_t)n;
	a->st = DNS_OK;
	a->ttl = DNS_TTL_MAX;
	return 0;
}

/*
 * dns_answer_start - the common start of an A or AAAA answer: NODATA for
 * an empty one, TEMPFAIL for a parse or memory error, else room for n
 * addresses.  True when the caller should fill them in.
 */
static bool
dns_answer_start(struct dns_answer *a, int rc, int n,
    const unsigned char *abuf, int alen)
{
	if (rc == ARES_ENODATA || (rc == ARES_SUCCESS && n == 0)) {
		dns_answer_negative(a, DNS_NODATA, abuf, alen);
		return false;
	}
	if (rc != ARES_SUCCESS || dns_answer_addrs(a, n) == -1) {
		a->st = DNS_TEMPFAIL;
		return false;
	}
	return true;
}

/* dns_answer_a - parse an A response */
static void
dns_answer_a(struct dns_answer *a, const unsigned char *abuf, int alen)
{
	struct ares_addrttl t[DNS_ADDR_MAX];
	struct sockaddr_in *sin;
	int n = DNS_ADDR_MAX, i, rc;

	rc = ares_parse_a_reply(abuf, alen, NULL, t, &n);
	if (!dns_answer_start(a, rc, n, abuf, alen))
		return;
	for (i = 0; i < n; i++) {
		sin = (struct sockaddr_in *)&a->addrs[i];
		sin->sin_family = AF_INET;
		sin->sin_addr = t[i].ipaddr;
		if (t[i].ttl >= 0 && (uint32_t)t[i].ttl < a->ttl)
			a->ttl = (uint32_t)t[i].ttl;
	}
}

/* dns_answer_aaaa - parse an AAAA response */
static void
dns_answer_aaaa(struct dns_answer *a, const unsigned char *abuf, int alen)
{
	struct ares_addr6ttl t[DNS_ADDR_MAX];
	struct sockaddr_in6 *sin6;
	int n = DNS_ADDR_MAX, i, rc;

	rc = ares_parse_aaaa_reply(abuf, alen, NULL, t, &n);
	if (!dns_answer_start(a, rc, n, abuf, alen))
		return;
	for (i = 0; i < n; i++) {
		sin6 = (struct sockaddr_in6 *)&a->addrs[i];
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, &t[i].ip6addr, sizeof(t[i].ip6addr));
		if (t[i].ttl >= 0 && (uint32_t)t[i].ttl < a->ttl)
			a->ttl = (uint32_t)t[i].ttl;
	}
}

/* dns_answer_parse - turn a c-ares query result into an answer */
static void
dns_answer_parse(struct dns_answer *a, uint16_t type, int status,
    const unsigned char *abuf, int alen)
{
	memset(a, 0, sizeof(*a));
	switch (status) {
	case ARES_SUCCESS:
		if (type == ns_t_mx)
			dns_answer_mx(a, abuf, alen);
		else if (type == ns_t_a)
			dns_answer_a(a, abuf, alen);
		else
			dns_answer_aaaa(a, abuf, alen);
		return;
	case ARES_ENODATA:
		dns_answer_negative(a, DNS_NODATA, abuf, alen);
		return;
	case ARES_ENOTFOUND:
		dns_answer_negative(a, DNS_NXDOMAIN, abuf, alen);
		return;
	case ARES_EBADNAME:
		a->st = DNS_BADNAME;
		return;
	default:		/* timeout, SERVFAIL, REFUSED, no server... */
		log_debug("dns: query failed: %s", ares_strerror(status));
		a->st = DNS_TEMPFAIL;
		return;
	}
}

/* dns_cache_hash - seeded FNV-1a of (type, name) */
static uint32_t
dns_cache_hash(const struct dns_resolver *r, uint16_t type, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ r->hash_seed;

	h = (h ^ type) * 0x100000001b3ULL;
	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ULL;
	return (uint32_t)(h ^ (h >> 32));
}

/* dns_cache_init - empty cache with room for cache_max entries */
static int
dns_cache_init(struct dns_resolver *r, size_t cache_max)
{
	size_t nb = 16;

	TAILQ_INIT(&r->lru);
	if (cache_max == 0)
		cache_max = DNS_CACHE_DEFAULT;
	if (cache_max > DNS_CACHE_LIMIT)
		cache_max = DNS_CACHE_LIMIT;
	while (nb < cache_max)
		nb <<= 1;
	if ((r->buckets = calloc(nb, sizeof(*r->buckets))) == NULL)
		return -1;
	r->nbuckets = nb;
	r->cache_max = cache_max;
	return 0;
}

/* dns_cache_remove - unlink and free one entry */
static void
dns_cache_remove(struct dns_resolver *r, struct dns_entry *e)
{
	struct dns_entry **pp = &r->buckets[e->hash & (r->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	TAILQ_REMOVE(&r->lru, e, lru);
	r->ncached--;
	dns_answer_clear(&e->ans);
	free(e);
}

/* dns_cache_find - a live entry for (type, name), or NULL */
static struct dns_entry *
dns_cache_find(struct dns_resolver *r, uint16_t type, const char *name)
{
	uint32_t h = dns_cache_hash(r, type, name);
	struct dns_entry *e;

	for (e = r->buckets[h & (r->nbuckets - 1)]; e != NULL; e = e->hnext)
		if (e->hash == h && e->type == type &&
		    strcmp(e->name, name) == 0)
			break;
	if (e == NULL)
		return NULL;
	if (e->expires <= dns_now_ms()) {
		dns_cache_remove(r, e);
		return NULL;
	}
	TAILQ_REMOVE(&r->lru, e, lru);
	TAILQ_INSERT_HEAD(&r->lru, e, lru);
	return e;
}

/* dns_cache_put - remember an answer for its TTL (best effort) */
static void
dns_cache_put(struct dns_resolver *r, uint16_t type, const char *name,
    const struct dns_answer *a)
{
	struct dns_entry *e;

	if (a->ttl == 0 || (a->st != DNS_OK && a->st != DNS_NXDOMAIN &&
	    a->st != DNS_NODATA))
		return;
	if ((e = dns_cache_find(r, type, name)) != NULL)
		dns_cache_remove(r, e);
	if (r->ncached >= r->cache_max)
		dns_cache_remove(r, TAILQ_LAST(&r->lru, dns_lru));
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return;
	if (dns_answer_copy(&e->ans, a) == -1) {
		dns_answer_clear(&e->ans);
		free(e);
		return;
	}
	memcpy(e->name, name, strlen(name) + 1);
	e->type = type;
	e->hash = dns_cache_hash(r, type, name);
	e->expires = dns_now_ms() + (uint64_t)a->ttl * 1000;
	e->hnext = r->buckets[e->hash & (r->nbuckets - 1)];
	r->buckets[e->hash & (r->nbuckets - 1)] = e;
	TAILQ_INSERT_HEAD(&r->lru, e, lru);
	r->ncached++;
}

/* dns_cache_flush - forget every cached answer */
void
dns_cache_flush(struct dns_resolver *r)
{
	struct dns_entry *e;

	while ((e = TAILQ_FIRST(&r->lru)) != NULL)
		dns_cache_remove(r, e);
}

/* dns_timer_update - arm the timer for c-ares' next timeout */
static void
dns_timer_update(struct dns_resolver *r)
{
	struct timeval tv, *tvp;

	if (!r->have_channel || r->closing)
		return;
	tvp = ares_timeout(r->channel, NULL, &tv);
	if (tvp == NULL)
		(void)evtimer_del(r->timer);
	else if (evtimer_add(r->timer, tvp) == -1)
		log_warn("dns: cannot arm the timeout timer");
}

/* dns_timer_cb - let c-ares retry or time out its queries */
static void
dns_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;

	(void)fd;
	(void)what;
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_timer_update(r);
}

/* dns_fd_cb - a c-ares socket is readable or writable */
static void
dns_fd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;

	ares_process_fd(r->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	dns_timer_update(r);
}

/* dns_sock_state_cb - c-ares (un)watches a socket */
static void
dns_sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_resolver *r = data;
	struct dns_watch **wp, *w;
	short what = (short)((readable ? EV_READ : 0) |
	    (writable ? EV_WRITE : 0));

	for (wp = &r->watches; *wp != NULL; wp = &(*wp)->next)
		if ((*wp)->fd == fd)
			break;
	if ((w = *wp) != NULL && w->ev != NULL &&
	    event_get_events(w->ev) == (what | EV_PERSIST))
		return;
	if (w != NULL && w->ev != NULL) {
		event_free(w->ev);
		w->ev = NULL;
	}
	if (what == 0) {
		if (w != NULL) {
			*wp = w->next;
			free(w);
		}
		return;
	}
	if (w == NULL && (w = calloc(1, sizeof(*w))) != NULL) {
		w->fd = fd;
		w->next = r->watches;
		r->watches = w;
	}
	/* On failure the query can only time out: TEMPFAIL. */
	if (w == NULL || (w->ev = event_new(r->base, fd, what | EV_PERSIST,
	    dns_fd_cb, r)) == NULL || event_add(w->ev, NULL) == -1)
		log_warn("dns: cannot watch socket %d", (int)fd);
}

/* dns_watches_free - drop the socket events left after ares_destroy */
static void
dns_watches_free(struct dns_resolver *r)
{
	struct dns_watch *w;

	while ((w = r->watches) != NULL) {
		r->watches = w->next;
		if (w->ev != NULL)
			event_free(w->ev);
		free(w);
	}
}

/* dns_addr_type - record type of step 0 or 1 of an address lookup */
static uint16_t
dns_addr_type(enum dns_family fam, int step)
{
	switch (fam) {
	case DNS_V4:
		return ns_t_a;
	case DNS_V6:
		return ns_t_aaaa;
	case DNS_V4_V6:
		return step == 0 ? ns_t_a : ns_t_aaaa;
	case DNS_V6_V4:
		return step == 0 ? ns_t_aaaa : ns_t_a;
	}
	fatalx("%s: bad family %d", __func__, (int)fam);
}

/* dns_query_call - run the caller's callback with the query's result */
static void
dns_query_call(struct dns_query *q)
{
	struct dns_answer *a = &q->ans;
	bool ok = a->st == DNS_OK;

	if (q->mx_cb != NULL)
		q->mx_cb(q->arg, a->st, ok ? a->mx : NULL, ok ? a->n : 0);
	else
		q->addr_cb(q->arg, a->st, ok ? a->addrs : NULL, ok ? a->n : 0);
}

/* dns_query_free - free a query that is off the resolver's list */
static void
dns_query_free(struct dns_query *q)
{
	if (q->done_ev != NULL)
		event_free(q->done_ev);
	dns_answer_clear(&q->ans);
	free(q);
}

/* dns_mx_shuffle - random order among equal preferences (RFC 5321 5.1) */
static void
dns_mx_shuffle(struct dns_resolver *r, struct dns_mx *mx, size_t n)
{
	struct dns_mx tmp;
	size_t i, j, k, end;

	for (i = 0; i < n; i = end) {
		for (end = i + 1; end < n && mx[end].pref == mx[i].pref; end++)
			continue;
		/* Fisher-Yates; the modulo bias for n <= 32 is 2^-59. */
		for (j = end - 1; j > i; j--) {
			k = i + (size_t)(dns_rand(r) % (j - i + 1));
			tmp = mx[j];
			mx[j] = mx[k];
			mx[k] = tmp;
		}
	}
}

/* dns_deliver_cb - the result is ready: run the callback on the loop */
static void
dns_deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;

	(void)fd;
	(void)what;
	TAILQ_REMOVE(&q->r->queries, q, link);
	if (q->mx_cb != NULL && q->ans.st == DNS_OK)
		dns_mx_shuffle(q->r, q->ans.mx, q->ans.n);
	/* The callback may free the resolver: q is already off its list. */
	dns_query_call(q);
	dns_query_free(q);
}

/* dns_query_done - take `a` as the result and schedule the callback */
static void
dns_query_done(struct dns_query *q, struct dns_answer *a)
{
	dns_answer_clear(&q->ans);
	q->ans = *a;
	memset(a, 0, sizeof(*a));
	event_active(q->done_ev, EV_TIMEOUT, 0);
}

/* dns_query_fail - schedule the callback with a status and no records */
static void
dns_query_fail(struct dns_query *q, enum dns_status st)
{
	struct dns_answer a = { .st = st };

	dns_query_done(q, &a);
}

/* dns_query_result - an answer for the current step: finish or go on */
static void
dns_query_result(struct dns_query *q, struct dns_answer *a)
{
	bool dual = q->fam == DNS_V4_V6 || q->fam == DNS_V6_V4;

	if (q->addr_cb != NULL && dual && q->step == 0 &&
	    (a->st == DNS_NODATA || a->st == DNS_NXDOMAIN)) {
		q->first_st = a->st;
		dns_answer_clear(a);
		q->step = 1;
		q->type = dns_addr_type(q->fam, 1);
		dns_query_lookup(q);
		return;
	}
	/* The name exists if either type said so. */
	if (q->step == 1 && a->st == DNS_NXDOMAIN &&
	    q->first_st == DNS_NODATA)
		a->st = DNS_NODATA;
	dns_query_done(q, a);
}

/* dns_ares_cb - c-ares finished a query */
static void
dns_ares_cb(void *arg, int status, int timeouts, unsigned char *abuf,
    int alen)
{
	struct dns_query *q = arg;
	struct dns_answer a;

	(void)timeouts;
	if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION ||
	    q->r->closing) {
		/* dns_resolver_free runs the callback. */
		dns_answer_clear(&q->ans);
		q->ans.st = DNS_TEMPFAIL;
		return;
	}
	dns_answer_parse(&a, q->type, status, abuf, alen);
	dns_cache_put(q->r, q->type, q->name, &a);
	log_debug("dns: query name=%s type=%u status=%d n=%zu ttl=%u",
	    q->name, (unsigned)q->type, (int)a.st, a.n, a.ttl);
	dns_query_result(q, &a);
}

/* dns_query_lookup - answer the current step from the cache or c-ares */
static void
dns_query_lookup(struct dns_query *q)
{
	struct dns_resolver *r = q->r;
	struct dns_entry *e;
	struct dns_answer a;

	if ((e = dns_cache_find(r, q->type, q->name)) != NULL) {
		if (dns_answer_copy(&a, &e->ans) == -1) {
			dns_answer_clear(&a);
			dns_query_fail(q, DNS_TEMPFAIL);
		} else
			dns_query_result(q, &a);
		return;
	}
	if (r->broken) {
		dns_query_fail(q, DNS_TEMPFAIL);
		return;
	}
	/* May call dns_ares_cb at once (no memory, no server). */
	ares_query(r->channel, q->name, ns_c_in, q->type, dns_ares_cb, q);
	dns_timer_update(r);
}

/* dns_query_new - a query on the resolver's list, or NULL */
static struct dns_query *
dns_query_new(struct dns_resolver *r, void *arg)
{
	struct dns_query *q;

	if (r->closing || (q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->done_ev = event_new(r->base, -1, 0, dns_deliver_cb, q);
	if (q->done_ev == NULL) {
		free(q);
		return NULL;
	}
	q->r = r;
	q->arg = arg;
	TAILQ_INSERT_TAIL(&r->queries, q, link);
	return q;
}

/* dns_query_mx - look up the MX records of a domain */
int
dns_query_mx(struct dns_resolver *r, const char *domain, dns_mx_cb *cb,
    void *arg)
{
	struct dns_query *q;

	if ((q = dns_query_new(r, arg)) == NULL)
		return -1;
	q->mx_cb = cb;
	q->type = ns_t_mx;
	if (!dns_name_normalize(domain, q->name))
		dns_query_fail(q, DNS_BADNAME);
	else
		dns_query_lookup(q);
	return 0;
}

/* dns_query_literal - answer an address literal without a query */
static int
dns_query_literal(struct dns_query *q, const struct sockaddr_storage *ss)
{
	struct dns_answer a = { .st = DNS_OK, .n = 1 };

	if ((a.addrs = malloc(sizeof(*a.addrs))) == NULL)
		return -1;
	a.addrs[0] = *ss;
	dns_query_done(q, &a);
	return 0;
}

/* dns_query_addr - look up the addresses of a host */
int
dns_query_addr(struct dns_resolver *r, const char *host,
    enum dns_family fam, dns_addr_cb *cb, void *arg)
{
	struct sockaddr_storage ss;
	struct dns_query *q;

	if ((q = dns_query_new(r, arg)) == NULL)
		return -1;
	q->addr_cb = cb;
	q->fam = fam;
	q->type = dns_addr_type(fam, 0);
	if (dns_literal_parse(host, &ss)) {
		if (dns_query_literal(q, &ss) == -1) {
			TAILQ_REMOVE(&r->queries, q, link);
			dns_query_free(q);
			return -1;
		}
	} else if (!dns_name_normalize(host, q->name))
		dns_query_fail(q, DNS_BADNAME);
	else
		dns_query_lookup(q);
	return 0;
}

/* dns_channel_servers - install the SmartDNSHost servers */
static int
dns_channel_servers(struct dns_resolver *r, const struct dns_server *sv,
    size_t n)
{
	struct ares_addr_port_node nodes[DNS_SERVERS_MAX];
	size_t i;
	int rc;

	memset(nodes, 0, sizeof(nodes));
	for (i = 0; i < n; i++) {
		nodes[i].next = i + 1 < n ? &nodes[i + 1] : NULL;
		nodes[i].family = sv[i].family;
		if (sv[i].family == AF_INET)
			nodes[i].addr.addr4 = sv[i].addr.v4;
		else
			memcpy(&nodes[i].addr.addr6, &sv[i].addr.v6,
			    sizeof(sv[i].addr.v6));
		nodes[i].udp_port = sv[i].port;
		nodes[i].tcp_port = sv[i].port;
	}
	if ((rc = ares_set_servers_ports(r->channel, nodes)) != ARES_SUCCESS) {
		log_error("dns: ares_set_servers_ports: %s",
		    ares_strerror(rc));
		return -1;
	}
	return 0;
}

/* dns_channel_init - the c-ares channel, from dns_conf */
static int
dns_channel_init(struct dns_resolver *r, const struct dns_conf *conf)
{
	struct dns_server sv[DNS_SERVERS_MAX];
	struct ares_options opt;
	char err[256];
	size_t n = 0, i;
	int rc;

	if (conf->smart_dns_host != NULL &&
	    dns_servers_split(conf->smart_dns_host, sv, nitems(sv), &n, err,
	    sizeof(err)) == -1) {
		log_warn("dns: invalid SmartDNSHost: %s; DNS lookups will "
		    "fail temporarily until it is fixed", err);
		r->broken = true;
		return 0;
	}
	memset(&opt, 0, sizeof(opt));
	opt.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	for (i = 0; i < n; i++)
		if (sv[i].tcp)
			opt.flags |= ARES_FLAG_USEVC;
	opt.timeout = conf->timeout_ms > 0 ? conf->timeout_ms :
	    DNS_TIMEOUT_MS_DEFAULT;
	opt.tries = conf->tries > 0 ? conf->tries : DNS_TRIES_DEFAULT;
	opt.sock_state_cb = dns_sock_state_cb;
	opt.sock_state_cb_data = r;
	rc = ares_init_options(&r->channel, &opt, ARES_OPT_FLAGS |
	    ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB);
	if (rc != ARES_SUCCESS) {
		log_error("dns: ares_init_options: %s", ares_strerror(rc));
		return -1;
	}
	r->have_channel = true;
	return n > 0 ? dns_channel_servers(r, sv, n) : 0;
}

/* dns_resolver_new - a resolver for one loop */
struct dns_resolver *
dns_resolver_new(struct event_base *base, const struct dns_conf *conf)
{
	struct dns_resolver *r;

	(void)pthread_once(&dns_lib_once, dns_lib_init_cb);
	if (dns_lib_status != ARES_SUCCESS) {
		log_error("dns: ares_library_init: %s",
		    ares_strerror(dns_lib_status));
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_error("dns: out of memory");
		return NULL;
	}
	r->base = base;
	TAILQ_INIT(&r->queries);
	dns_seed(r);
	if (dns_cache_init(r, conf->cache_max) == -1 ||
	    (r->timer = evtimer_new(base, dns_timer_cb, r)) == NULL) {
		log_error("dns: out of memory");
		dns_resolver_free(r);
		return NULL;
	}
	if (dns_channel_init(r, conf) == -1) {
		dns_resolver_free(r);
		return NULL;
	}
	return r;
}

/* dns_resolver_free - cancel pending queries and free the resolver */
void
dns_resolver_free(struct dns_resolver *r)
{
	struct dns_query *q;

	if (r == NULL)
		return;
	r->closing = true;
	if (r->have_channel) {
		ares_cancel(r->channel);	/* dns_ares_cb: TEMPFAIL */
		ares_destroy(r->channel);
	}
	dns_watches_free(r);
	if (r->timer != NULL)
		event_free(r->timer);
	while ((q = TAILQ_FIRST(&r->queries)) != NULL) {
		TAILQ_REMOVE(&r->queries, q, link);
		dns_answer_clear(&q->ans);
		q->ans.st = DNS_TEMPFAIL;
		dns_query_call(q);
		dns_query_free(q);
	}
	if (r->buckets != NULL)
		dns_cache_flush(r);
	free(r->buckets);
	free(r);
}
