/* test_dns.c - the c-ares resolver, against a private dnsmasq */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/dns.h"

#include "testutil.h"

#define DNSMASQ		"/usr/sbin/dnsmasq"
#define WAIT_MS		10000	/* longest wait for one callback */
#define START_MS	5000	/* longest wait for dnsmasq to listen */

struct dnsmasq {
	pid_t	pid;
	int	port;
	char	dir[PATH_MAX];
};

static const char *const dm_records[] = {
	"--local=/test/",	/* everything else under .test: NXDOMAIN */
	"--local-ttl=60",	/* the default 0 would not be cached */
	"--mx-host=multi.test,mx1.multi.test,10",
	"--mx-host=multi.test,mx2.multi.test,20",
	"--mx-host=multi.test,mx3.multi.test,20",
	"--mx-host=nullmx.test,.,0",
	"--host-record=mx1.multi.test,127.0.0.2",
	"--host-record=v6.test,::1",
	"--host-record=both.test,127.0.0.3,::1",
	"--host-record=implicit.test,127.0.0.4",
	"--cname=alias.test,both.test",
};

static struct dnsmasq	dm_shared;
static struct dnsmasq	dm_cache;	/* test_cache stops its own */
static bool		dm_available;

struct result {
	int			 calls;
	enum dns_status		 st;
	size_t			 n;
	struct dns_mx		 mx[DNS_MX_MAX];
	struct sockaddr_storage	 addrs[DNS_ADDR_MAX];
};

/* now_ms - monotonic milliseconds */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* sleep_ms - nanosleep wrapper */
static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* loopback - 127.0.0.1:port */
static struct sockaddr_in
loopback(int port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sin;
}

/* bound_udp - a UDP socket on 127.0.0.1 that nobody reads; its port */
static int
bound_udp(int *port)
{
	struct sockaddr_in sin = loopback(0);
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* free_port - a port free for UDP and TCP on 127.0.0.1 right now */
static int
free_port(void)
{
	struct sockaddr_in sin;
	int i, u, t, port, ok, one = 1;

	for (i = 0; i < 50; i++) {
		u = bound_udp(&port);
		t = socket(AF_INET, SOCK_STREAM, 0);
		sin = loopback(port);
		setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		ok = bind(t, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		close(t);
		close(u);
		if (ok)
			return port;
	}
	return -1;
}

/* closed_port - a UDP port on 127.0.0.1 where nobody listens */
static int
closed_port(void)
{
	int port, fd = bound_udp(&port);

	close(fd);
	return port;
}

/* dm_exec - child: run dnsmasq in the foreground, output to a log */
static void
dm_exec(const struct dnsmasq *d)
{
	char port[32], pidf[PATH_MAX + 32], logf[PATH_MAX + 32];
	const char *argv[32] = { DNSMASQ, "--no-daemon", "--no-resolv",
	    "--no-hosts", "--conf-file=/dev/null", "--bind-interfaces",
	    "--listen-address=127.0.0.1" };
	size_t n = 7, i;
	int fd;

	snprintf(port, sizeof(port), "--port=%d", d->port);
	snprintf(pidf, sizeof(pidf), "--pid-file=%s/dnsmasq.pid", d->dir);
	snprintf(logf, sizeof(logf), "%s/dnsmasq.log", d->dir);
	argv[n++] = port;
	argv[n++] = pidf;
	for (i = 0; i < nitems(dm_records); i++)
		argv[n++] = dm_records[i];
	argv[n] = NULL;
	fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	execv(DNSMASQ, (char *const *)argv);
	_exit(127);
}

/* dm_listening - dnsmasq accepts TCP on its port */
static bool
dm_listening(int port)
{
	struct sockaddr_in sin = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return ok;
}

/* dm_stop - SIGTERM, bounded wait, then SIGKILL */
static void
dm_stop(struct dnsmasq *d)
{
	long long end = now_ms() + 3000;

	if (d->pid <= 0)
		return;
	kill(d->pid, SIGTERM);
	while (waitpid(d->pid, NULL, WNOHANG) == 0) {
		if (now_ms() > end) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, NULL, 0);
			break;
		}
		sleep_ms(10);
	}
	d->pid = 0;
}

/* dm_start - start dnsmasq on a free port; -1 if it does not listen */
static int
dm_start(struct dnsmasq *d, const char *dir)
{
	long long end = now_ms() + START_MS;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "%s", dir);
	if ((d->port = free_port()) == -1)
		return -1;
	if ((d->pid = fork()) == -1)
		return -1;
	if (d->pid == 0)
		dm_exec(d);
	while (!dm_listening(d->port)) {
		if (waitpid(d->pid, NULL, WNOHANG) != 0) {
			d->pid = 0;	/* it exited: see dnsmasq.log */
			return -1;
		}
		if (now_ms() > end) {
			dm_stop(d);
			return -1;
		}
		sleep_ms(20);
	}
	return 0;
}

/* need_dnsmasq - skip without dnsmasq, fail if it did not start */
static void
need_dnsmasq(void)
{
	if (!dm_available)
		skip();
	if (dm_shared.pid <= 0)
		fail_msg("dnsmasq did not start: see %s/dnsmasq.log",
		    dm_shared.dir);
}

/* smart - "127.0.0.1:port:proto" in a static buffer */
static const char *
smart(int port, const char *proto)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "127.0.0.1:%d:%s", port, proto);
	return buf;
}

/* resolver - a resolver on base, checked */
static struct dns_resolver *
resolver(struct event_base *base, const char *smarthost, int timeout_ms,
    int tries, size_t cache_max)
{
	struct dns_conf conf = { smarthost, timeout_ms, tries, cache_max };
	struct dns_resolver *r = dns_resolver_new(base, &conf);

	assert_non_null(r);
	return r;
}

/* mx_cb - record an MX result */
static void
mx_cb(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n)
{
	struct result *res = arg;

	res->calls++;
	res->st = st;
	res->n = n;
	assert_true(n <= DNS_MX_MAX);
	assert_true((st == DNS_OK) == (n > 0));
	if (n > 0)
		memcpy(res->mx, mx, n * sizeof(*mx));
}

/* addr_cb - record an address result */
static void
addr_cb(void *arg, enum dns_status st, const struct sockaddr_storage *a,
    size_t n)
{
	struct result *res = arg;

	res->calls++;
	res->st = st;
	res->n = n;
	assert_true(n <= DNS_ADDR_MAX);
	assert_true((st == DNS_OK) == (n > 0));
	if (n > 0)
		memcpy(res->addrs, a, n * sizeof(*a));
}

/* expired_cb - the wait for a callback took too long */
static void
expired_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(bool *)arg = true;
}

/* wait_for - run the loop until the callback ran, at most WAIT_MS */
static void
wait_for(struct event_base *base, struct result *res)
{
	struct timeval tv = { WAIT_MS / 1000, 0 };
	bool expired = false;
	struct event *t = evtimer_new(base, expired_cb, &expired);

	assert_non_null(t);
	assert_int_equal(evtimer_add(t, &tv), 0);
	while (res->calls == 0 && !expired)
		assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);
	event_free(t);
	assert_false(expired);
	assert_int_equal(res->calls, 1);
}

/* mx - MX lookup, checked to answer later, never inside the call */
static void
mx(struct event_base *b, struct dns_resolver *r, const char *name,
    struct result *res)
{
	memset(res, 0, sizeof(*res));
	assert_int_equal(dns_query_mx(r, name, mx_cb, res), 0);
	assert_int_equal(res->calls, 0);
	wait_for(b, res);
}

/* addr - address lookup, as mx() */
static void
addr(struct event_base *b, struct dns_resolver *r, const char *name,
    enum dns_family fam, struct result *res)
{
	memset(res, 0, sizeof(*res));
	assert_int_equal(dns_query_addr(r, name, fam, addr_cb, res), 0);
	assert_int_equal(res->calls, 0);
	wait_for(b, res);
}

/* ntop - address i of a result as text, in a static buffer */
static const char *
ntop(const struct result *res, size_t i)
{
	static char buf[INET6_ADDRSTRLEN];
	const struct sockaddr_storage *ss = &res->addrs[i];
	const void *a;

	if (ss->ss_family == AF_INET)
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	else if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	else
		return "?";
	return inet_ntop(ss->ss_family, a, buf, sizeof(buf));
}

/* expect_addr - status, and one address when OK */
static void
expect_addr(struct event_base *b, struct dns_resolver *r, const char *name,
    enum dns_family fam, enum dns_status st, const char *want)
{
	struct result res;

	addr(b, r, name, fam, &res);
	if (res.st != st)
		fail_msg("%s fam %d: status %d, want %d", name, fam, res.st,
		    st);
	if (st == DNS_OK) {
		assert_int_equal(res.n, 1);
		assert_string_equal(ntop(&res, 0), want);
	}
}

/* expect_mx_st - an MX lookup's status */
static void
expect_mx_st(struct event_base *b, struct dns_resolver *r, const char *name,
    enum dns_status st)
{
	struct result res;

	mx(b, r, name, &res);
	if (res.st != st)
		fail_msg("MX %s: status %d, want %d", name, res.st, st);
}

static void
test_servers_parse(void **state)
{
	static const struct {
		const char	*value;
		int		 ok;
	} cases[] = {
		{ "127.0.0.1:5353:udp", 0 },
		{ "[::1]:53:tcp", 0 },
		{ "127.0.0.1:udp", 0 },
		{ "[::1]:udp", 0 },
		{ "1.2.3.4:TCP", 0 },
		{ "1.2.3.4:udp,5.6.7.8:53:tcp", 0 },
		{ "1.2.3.4:udp, [2001:db8::1]:5353:udp", 0 },
		{ "host.name:udp", -1 },
		{ "1.2.3.4:99999:udp", -1 },
		{ "1.2.3.4:0:udp", -1 },
		{ "1.2.3.4:x", -1 },
		{ "1.2.3.4", -1 },
		{ "1.2.3.4:", -1 },
		{ "1.2.3.4::udp", -1 },
		{ "1.2.3.4:53:udp:udp", -1 },
		{ "", -1 },
		{ ",", -1 },
		{ "1.2.3.4:udp,", -1 },
		{ "::1:53:udp", -1 },
		{ "[::1:53:udp", -1 },
		{ "[::1]x:udp", -1 },
		{ "[1.2.3.4]:udp", -1 },
		{ "1.2.3.4:5x:udp", -1 },
	};
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		err[0] = '\0';
		if (dns_servers_parse(cases[i].value, err, sizeof(err)) !=
		    cases[i].ok)
			fail_msg("\"%s\": want %d (%s)", cases[i].value,
			    cases[i].ok, err);
		if (cases[i].ok == -1)
			assert_true(err[0] != '\0');
	}
	assert_int_equal(dns_servers_parse(NULL, err, sizeof(err)), -1);
	assert_int_equal(dns_servers_parse("x", NULL, 0), -1);
}

static void
test_mx_order(void **state)
{
	struct event_base *b = event_base_new();
	struct dns_resolver *r;
	struct result res;
	int i, mx2_first = 0;
	bool mx2, mx3;

	(void)state;
	need_dnsmasq();
	r = resolver(b, smart(dm_shared.port, "udp"), 0, 0, 0);
	for (i = 0; i < 64; i++) {
		if (i == 32)
			dns_cache_flush(r);
		mx(b, r, "multi.test", &res);
		assert_int_equal(res.st, DNS_OK);
		assert_int_equal(res.n, 3);
		assert_int_equal(res.mx[0].pref, 10);
		assert_string_equal(res.mx[0].host, "mx1.multi.test");
		assert_int_equal(res.mx[1].pref, 20);
		assert_int_equal(res.mx[2].pref, 20);
		mx2 = strcmp(res.mx[1].host, "mx2.multi.test") == 0;
		mx3 = strcmp(res.mx[1].host, "mx3.multi.test") == 0;
		assert_true(mx2 || mx3);
		assert_string_equal(res.mx[2].host,
		    mx2 ? "mx3.multi.test" : "mx2.multi.test");
		mx2_first += mx2;
	}
	/* Equal preferences come in both orders (fails with p = 2^-63). */
	assert_true(mx2_first > 0 && mx2_first < 64);
	dns_resolver_free(r);
	event_base_free(b);
}

static void
test_null_mx(void **state)
{
	struct event_base *b = event_base_new();
	struct dns_resolver *r;
	struct result res;

	(void)state;
	need_dnsmasq();
	r = resolver(b, smart(dm_shared.port, "udp"), 0, 0, 0);
	mx(b, r, "nullmx.test", &res);
	assert_int_equal(res.st, DNS_OK);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.mx[0].pref, 0);
	assert_string_equal(res.mx[0].host, ".");
	dns_resolver_free(r);
	event_base_free(b);
}

static void
test_negative(void **state)
{
	struct event_base *b = event_base_new();
	struct dns_resolver *r;

	(void)state;
	need_dnsmasq();
	r = resolver(b, smart(dm_shared.port, "udp"), 0, 0, 0);
	expect_mx_st(b, r, "nx.test", DNS_NXDOMAIN);
	expect_addr(b, r, "nx.test", DNS_V4, DNS_NXDOMAIN, NULL);
	expect_addr(b, r, "nx.test", DNS_V4_V6, DNS_NXDOMAIN, NULL);
	expect_addr(b, r, "nx.test", DNS_V6_V4, DNS_NXDOMAIN, NULL);
	/* A name with an address and no MX: implicit MX (RFC 5321 5.1). */
	expect_mx_st(b, r, "implicit.test", DNS_NODATA);
	expect_addr(b, r, "implicit.test", DNS_V4, DNS_OK, "127.0.0.4");
	expect_addr(b, r, "implicit.test", DNS_V6, DNS_NODATA, NULL);
	dns_resolver_free(r);
	event_base_free(b);
}

static void
test_families(void **state)
{
	static const struct {
		const char	*host;
		enum dns_family	 fam;
		enum dns_status	 st;
		const char	*want;
	} cases[] = {
		{ "mx1.multi.test", DNS_V4, DNS_OK, "127.0.0.2" },
		{ "mx1.multi.test", DNS_V6, DNS_NODATA, NULL },
		{ "mx1.multi.test", DNS_V4_V6, DNS_OK, "127.0.0.2" },
		{ "mx1.multi.test", DNS_V6_V4, DNS_OK, "127.0.0.2" },
		{ "v6.test", DNS_V4, DNS_NODATA, NULL },
		{ "v6.test", DNS_V6, DNS_OK, "::1" },
		{ "v6.test", DNS_V4_V6, DNS_OK, "::1" },
		{ "v6.test", DNS_V6_V4, DNS_OK, "::1" },
		{ "both.test", DNS_V4, DNS_OK, "127.0.0.3" },
		{ "both.test", DNS_V6, DNS_OK, "::1" },
		{ "both.test", DNS_V4_V6, DNS_OK, "127.0.0.3" },
		{ "both.test", DNS_V6_V4, DNS_OK, "::1" },
		{ "Both.TEST.", DNS_V4, DNS_OK, "127.0.0.3" },
	};
	struct event_base *b = event_base_new();
	struct dns_resolver *r;
	size_t i, pass;

	(void)state;
	need_dnsmasq();
	r = resolver(b, smart(dm_shared.port, "udp"), 0, 0, 0);
	for (pass = 0; pass < 2; pass++)	/* from DNS, then cached */
		for (i = 0; i < nitems(cases); i++)
			expect_addr(b, r, cases[i].host, cases[i].fam,
			    cases[i].st, cases[i].want);
	dns_resolver_free(r);
	event_base_free(b);
}

static void
test_cname(void **state)
{
	struct event_base *b = event_base_new();
	struct dns_resolver *r;

	(void)state;
	need_dnsmasq();
	r = resolver(b, smart(dm_shared.port, "udp"), 0, 0, 0);
	expect_addr(b, r, "alias.test", DNS_V4, DNS_OK, "127.0.0.3");
	expect_addr(b, r, "alias.test", DNS_V6, DNS_OK, "::1");
	expect_mx_st(b, r, "alias.test", DNS_NODATA);
	dns_resolver_free(r);
	event_base_free(b);
}

static void
test_tcp(void **state)
{
	struct event_base *b = event_base_new();
	struct dns_resolver *r;
	struct result res;

	(void)state;
	need_dnsmasq();
	r = resolver(b, smart(dm_shared.port, "tcp"), 0, 0, 0);
	mx(b, r, "multi.test", &res);
	assert_int_equal(res.st, DNS_OK);
	assert_int_equal(res.n, 3);
	expect_addr(b, r, "both.test", DNS_V6, DNS_OK, "::1");
	dns_resolver_free(r);
	event_base_free(b);
}

/* wait_all - run the loop until every result has one call */
static void
wait_all(struct event_base *base, struct result *res, size_t n)
{
	struct timeval tv = { WAIT_MS / 1000, 0 };
	bool expired = false;
	struct event *t = evtimer_new(base, expired_cb, &expired);
	size_t i = 0;

	assert_non_null(t);
	assert_int_equal(evtimer_add(t, &tv), 0);
	while (!expired) {
		for (i = 0; i < n && res[i].calls > 0; i++)
			continue;
		if (i == n)
			break;
		assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);
	}
	event_free(t);
	for (i = 0; i < n; i++)
		assert_int_equal(res[i].calls, 1);
}

static void
test_concurrent(void **state)
{
	static struct result res[120];
	struct event_base *b = event_base_new();
	struct dns_resolver *r;
	size_t i, k;

	(void)state;
	need_dnsmasq();
	r = resolver(b, smart(dm_shared.port, "udp"), 0, 0, 0);
	for (k = 0; k < 2; k++) {	/* k == 1: partly from the cache */
		memset(res, 0, sizeof(res));
		for (i = 0; i < nitems(res); i += 3) {
			assert_int_equal(dns_query_mx(r, "multi.test", mx_cb,
			    &res[i]), 0);
			assert_int_equal(dns_query_addr(r, "v6.test",
			    DNS_V4_V6, addr_cb, &res[i + 1]), 0);
			assert_int_equal(dns_query_mx(r, "nx.test", mx_cb,
			    &res[i + 2]), 0);
		}
		wait_all(b, res, nitems(res));
		for (i = 0; i < nitems(res); i += 3) {
			assert_int_equal(res[i].st, DNS_OK);
			assert_int_equal(res[i].n, 3);
			assert_int_equal(res[i + 1].st, DNS_OK);
			assert_string_equal(ntop(&res[i + 1], 0), "::1");
			assert_int_equal(res[i + 2].st, DNS_NXDOMAIN);
		}
	}
	dns_resolver_free(r);
	event_base_free(b);
}

static void
test_literals(void **state)
{
	static const struct {
		const char	*host;
		enum dns_family	 fam;
		const char	*want;
	} cases[] = {
		{ "1.2.3.4", DNS_V4, "1.2.3.4" },
		{ "[1.2.3.4]", DNS_V4, "1.2.3.4" },
		{ "[IPv6:2001:db8::1]", DNS_V4, "2001:db8::1" },
		{ "[ipv6:::1]", DNS_V6, "::1" },
		{ "::1", DNS_V4_V6, "::1" },
		{ "[::1]", DNS_V6_V4, "::1" },
		{ "1.2.3.4", DNS_V6, "1.2.3.4" },
	};
	struct event_base *b = event_base_new();
	struct dns_resolver *r;
	size_t i;

	(void)state;
	/* Nobody answers on that port: literals need no server. */
	r = resolver(b, smart(closed_port(), "udp"), 200, 1, 0);
	for (i = 0; i < nitems(cases); i++)
		expect_addr(b, r, cases[i].host, cases[i].fam, DNS_OK,
		    cases[i].want);
	expect_addr(b, r, "[IPv6:1.2.3.4]", DNS_V4, DNS_BADNAME, NULL);
	expect_addr(b, r, "[1.2.3.4", DNS_V4, DNS_BADNAME, NULL);
	expect_mx_st(b, r, "[1.2.3.4]", DNS_BADNAME);
	dns_resolver_free(r);

	/* An invalid SmartDNSHost: lookups fail temporarily, literals work. */
	r = resolver(b, "host.name:udp", 0, 0, 0);
	expect_addr(b, r, "[1.2.3.4]", DNS_V4, DNS_OK, "1.2.3.4");
	expect_addr(b, r, "example.test", DNS_V4, DNS_TEMPFAIL, NULL);
	expect_mx_st(b, r, "example.test", DNS_TEMPFAIL);
	dns_resolver_free(r);
	event_base_free(b);
}

static void
test_badname(void **state)
{
	char longlabel[80], longname[300], maxname[300];
	const char *names[] = { "", ".", "a..b", ".a", "bad name", "a/b",
	    "caf\xc3\xa9.test", "a@b", longlabel, longname };
	struct event_base *b = event_base_new();
	struct dns_resolver *r;
	size_t i;

	(void)state;
	memset(longlabel, 'a', 64);
	strcpy(longlabel + 64, ".test");
	for (i = 0; i < 254; i++)	/* 254 characters, labels of 49 */
		longname[i] = i % 50 == 49 ? '.' : 'a';
	longname[254] = '\0';
	memcpy(maxname, longname, 253);	/* 253: the longest name */
	strcpy(maxname + 253, ".");
	r = resolver(b, smart(closed_port(), "udp"), 200, 1, 0);
	for (i = 0; i < nitems(names); i++) {
		expect_mx_st(b, r, names[i], DNS_BADNAME);
		expect_addr(b, r, names[i], DNS_V4_V6, DNS_BADNAME, NULL);
	}
	/* Valid names go to the (absent) server. */
	expect_mx_st(b, r, maxname, DNS_TEMPFAIL);
	expect_addr(b, r, "_srv-x.a-b.test", DNS_V4, DNS_TEMPFAIL, NULL);
	dns_resolver_free(r);
	event_base_free(b);
}

static void
test_cache(void **state)
{
	struct event_base *b = event_base_new();
	struct dns_resolver *r, *small;
	struct dnsmasq *d = &dm_cache;
	struct result res;

	need_dnsmasq();
	if (dm_start(d, *state) == -1)
		fail_msg("dnsmasq did not start: see %s/dnsmasq.log",
		    (char *)*state);
	r = resolver(b, smart(d->port, "udp"), 300, 1, 0);
	small = resolver(b, smart(d->port, "udp"), 300, 1, 1);
	mx(b, r, "multi.test", &res);
	assert_int_equal(res.st, DNS_OK);
	expect_addr(b, r, "mx1.multi.test", DNS_V4, DNS_OK, "127.0.0.2");
	expect_mx_st(b, r, "nx.test", DNS_NXDOMAIN);
	expect_addr(b, small, "mx1.multi.test", DNS_V4, DNS_OK, "127.0.0.2");
	expect_addr(b, small, "both.test", DNS_V4, DNS_OK, "127.0.0.3");
	dm_stop(d);

	/* Served from the cache, names compared without case. */
	mx(b, r, "MULTI.Test.", &res);
	assert_int_equal(res.st, DNS_OK);
	assert_int_equal(res.n, 3);
	expect_addr(b, r, "mx1.multi.test", DNS_V4, DNS_OK, "127.0.0.2");
	expect_mx_st(b, r, "nx.test", DNS_NXDOMAIN);
	/* A one-entry cache kept only the last answer. */
	expect_addr(b, small, "both.test", DNS_V4, DNS_OK, "127.0.0.3");
	expect_addr(b, small, "mx1.multi.test", DNS_V4, DNS_TEMPFAIL, NULL);

	dns_cache_flush(r);
	expect_mx_st(b, r, "multi.test", DNS_TEMPFAIL);
	expect_mx_st(b, r, "nx.test", DNS_TEMPFAIL);
	/* Temporary failures are not cached. */
	expect_addr(b, r, "mx1.multi.test", DNS_V4, DNS_TEMPFAIL, NULL);
	dns_resolver_free(small);
	dns_resolver_free(r);
	event_base_free(b);
}

static void
test_timeout(void **state)
{
	struct event_base *b = event_base_new();
	struct dns_resolver *r;
	long long t0;
	int port, fd = bound_udp(&port);

	(void)state;
	/* A server that never answers: tries x timeout, then TEMPFAIL. */
	r = resolver(b, smart(port, "udp"), 100, 2, 0);
	t0 = now_ms();
	expect_mx_st(b, r, "multi.test", DNS_TEMPFAIL);
	assert_true(now_ms() - t0 >= 100);
	assert_true(now_ms() - t0 < 5000);
	expect_addr(b, r, "both.test", DNS_V6_V4, DNS_TEMPFAIL, NULL);
	dns_resolver_free(r);
	close(fd);

	/* Nobody listening at all. */
	r = resolver(b, smart(closed_port(), "udp"), 100, 2, 0);
	expect_mx_st(b, r, "multi.test", DNS_TEMPFAIL);
	dns_resolver_free(r);
	event_base_free(b);
}

/* free_cb - a callback that frees the resolver (arg: its address) */
static void
free_cb(void *arg, enum dns_status st, const struct sockaddr_storage *a,
    size_t n)
{
	struct dns_resolver **rp = arg;

	(void)a;
	(void)n;
	assert_int_equal(st, DNS_OK);
	dns_resolver_free(*rp);
	*rp = NULL;
}

static void
test_free_pending(void **state)
{
	struct event_base *b = event_base_new();
	struct dns_resolver *r;
	struct result res[4];
	int port, fd = bound_udp(&port);
	size_t i;

	(void)state;
	memset(res, 0, sizeof(res));
	r = resolver(b, smart(port, "udp"), 5000, 2, 0);
	assert_int_equal(dns_query_mx(r, "multi.test", mx_cb, &res[0]), 0);
	assert_int_equal(dns_query_addr(r, "both.test", DNS_V4_V6, addr_cb,
	    &res[1]), 0);
	assert_int_equal(dns_query_addr(r, "1.2.3.4", DNS_V4, addr_cb,
	    &res[2]), 0);
	assert_int_equal(dns_query_mx(r, "bad name", mx_cb, &res[3]), 0);
	assert_int_equal(event_base_loop(b, EVLOOP_NONBLOCK), 0);
	assert_int_equal(res[2].calls, 1);	/* the literal */
	assert_int_equal(res[3].calls, 1);	/* the bad name */
	res[2].calls = res[3].calls = 0;
	assert_int_equal(dns_query_addr(r, "1.2.3.4", DNS_V4, addr_cb,
	    &res[2]), 0);
	dns_resolver_free(r);
	/* Every pending callback ran, once, before dns_resolver_free ended. */
	for (i = 0; i < 3; i++) {
		assert_int_equal(res[i].calls, 1);
		assert_int_equal(res[i].st, DNS_TEMPFAIL);
	}
	assert_int_equal(event_base_loop(b, EVLOOP_NONBLOCK), 1);
	close(fd);

	/* A callback may free its resolver; the others still run. */
	r = resolver(b, smart(closed_port(), "udp"), 5000, 1, 0);
	memset(res, 0, sizeof(res));
	assert_int_equal(dns_query_addr(r, "1.2.3.4", DNS_V4, free_cb, &r),
	    0);
	assert_int_equal(dns_query_mx(r, "multi.test", mx_cb, &res[0]), 0);
	assert_true(event_base_loop(b, EVLOOP_NONBLOCK) >= 0);
	assert_null(r);
	assert_int_equal(res[0].calls, 1);
	assert_int_equal(res[0].st, DNS_TEMPFAIL);
	event_base_free(b);
}

/* group_setup - start the shared dnsmasq if it is installed */
static int
group_setup(void **state)
{
	if (tu_setup(state) == -1)
		return -1;
	snprintf(dm_shared.dir, sizeof(dm_shared.dir), "%s",
	    (char *)*state);
	dm_available = access(DNSMASQ, X_OK) == 0;
	if (dm_available && dm_start(&dm_shared, *state) == -1)
		dm_shared.pid = 0;	/* the tests that need it fail */
	return 0;
}

/* group_teardown - stop dnsmasq, remove the directory */
static int
group_teardown(void **state)
{
	dm_stop(&dm_shared);
	return tu_teardown(state);
}

/* cache_setup - a directory of its own for test_cache's dnsmasq */
static int
cache_setup(void **state)
{
	return tu_setup(state);
}

/* cache_teardown - stop test_cache's dnsmasq even if the test failed */
static int
cache_teardown(void **state)
{
	dm_stop(&dm_cache);
	return tu_teardown(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_servers_parse),
		cmocka_unit_test(test_mx_order),
		cmocka_unit_test(test_null_mx),
		cmocka_unit_test(test_negative),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_cname),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_badname),
		cmocka_unit_test_setup_teardown(test_cache, cache_setup,
		    cache_teardown),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_free_pending),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
