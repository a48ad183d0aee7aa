/*
 * test_match.c - unit tests for wildcards and IP filters.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/match.h"

/* A match_wild case. */
struct wild_case {
	const char	*pattern;
	const char	*s;
	bool		 want;
};

static const struct wild_case wild_cases[] = {
	{ "", "", true },
	{ "", "a", false },
	{ "a", "", false },
	{ "*", "", true },
	{ "**", "", true },
	{ "*", "anything at all", true },
	{ "?", "", false },
	{ "?", "a", true },
	{ "??", "a", false },
	{ "?*", "", false },
	{ "*?", "", false },
	{ "*?", "x", true },
	{ "abc", "abc", true },
	{ "abc", "ABC", true },
	{ "ABC", "abc", true },
	{ "abc", "abcd", false },
	{ "abcd", "abc", false },
	{ "A*C", "abbbc", true },
	{ "*@example.com", "user@EXAMPLE.com", true },
	{ "*@example.com", "user@example.com.evil", false },
	{ "*.example.com", "example.com", false },
	{ "*.example.com", "mx.Example.Com", true },
	{ "a*b*c", "aXbYc", true },
	{ "a*b*c", "aXbY", false },
	{ "*a", "ba", true },
	{ "*a", "ab", false },
	{ "a**b", "ab", true },
	{ "a?c", "abc", true },
	{ "a?c", "ac", false },
	{ "*x*", "abxcd", true },
	{ "*x*", "abcd", false },
	{ "*ab", "aab", true },
	{ "*aab", "aaab", true },
	{ "*abc", "ababc", true },
	{ "m*iss*ppi", "mississippi", true },
	{ "m*iss*iss*ppi", "mississippi", true },
	{ "m*iss*iss*iss*ppi", "mississippi", false },
	{ "*sip*", "mississippi", true },
	{ "?*?", "ab", true },
	{ "?*?", "a", false },
	{ "[a]", "a", false },		/* no character classes */
	{ "[a]", "[A]", true },
	{ "\\*", "\\x", true },		/* no escapes: backslash is literal */
	{ "\xc3\xa9", "\xc3\xa9", true },
	{ "\xc3\xa9", "\xc3\x89", false },	/* ASCII case folding only */
	{ "*\xc3\xa9*", "caf\xc3\xa9s", true },
	{ "@", "`", false },		/* not folded: neighbours of A-Z */
	{ "[", "{", false },
};

/* test_wild_table - run every wildcard case */
static void
test_wild_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(wild_cases); i++) {
		print_message("match_wild(\"%s\", \"%s\")\n",
		    wild_cases[i].pattern, wild_cases[i].s);
		assert_int_equal(match_wild(wild_cases[i].pattern,
		    wild_cases[i].s), wild_cases[i].want);
	}
}

/* A pathological case: pattern against `len` copies of 'a' plus a tail. */
struct slow_case {
	const char	*pattern;
	size_t		 len;
	const char	*tail;
	bool		 want;
};

static const struct slow_case slow_cases[] = {
	{ "*a*a*a*a*a*a*b", 100000, "", false },
	{ "*a*a*a*a*a*a*b", 100000, "b", true },
	{ "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*c", 50000, "b", false },
	{ "*?*?*?*?*?*?*?*?x", 100000, "", false },
	{ "*aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", 100000, "", false },
	{ "a*a*a*a*a*a*a*a*", 100000, "", true },
};

/* test_wild_pathological - no exponential blow-up */
static void
test_wild_pathological(void **state)
{
	const struct slow_case *c;
	clock_t t0;
	size_t i, tl;
	char *s;

	(void)state;
	for (i = 0; i < nitems(slow_cases); i++) {
		c = &slow_cases[i];
		tl = strlen(c->tail);
		s = malloc(c->len + tl + 1);
		assert_non_null(s);
		memset(s, 'a', c->len);
		memcpy(s + c->len, c->tail, tl + 1);
		t0 = clock();
		assert_int_equal(match_wild(c->pattern, s), c->want);
		/* Quadratic-in-the-worst-case would still be far below this. */
		assert_true(clock() - t0 < 2 * CLOCKS_PER_SEC);
		free(s);
	}
}

/* test_has_wild - wildcard detection */
static void
test_has_wild(void **state)
{
	static const struct {
		const char	*s;
		bool		 want;
	} cases[] = {
		{ "", false },
		{ "user", false },
		{ "*", true },
		{ "a?b", true },
		{ "*@dom", true },
		{ "[x]", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++)
		assert_int_equal(match_has_wild(cases[i].s), cases[i].want);
}

/* An ipfilter_parse case. */
struct parse_case {
	const char	*a;
	const char	*b;
	int		 want;		/* 0 or -1 */
	int		 family;	/* when want == 0 */
};

static const struct parse_case parse_cases[] = {
	{ "192.168.0.0/16", NULL, 0, AF_INET },
	{ "192.168.0.0/16", "ignored", 0, AF_INET },
	{ "1.2.3.4/0", NULL, 0, AF_INET },
	{ "1.2.3.4/32", NULL, 0, AF_INET },
	{ "1.2.3.4/024", NULL, 0, AF_INET },
	{ "192.168.0.0", "255.255.0.0", 0, AF_INET },
	{ "0.0.0.0", "0.0.0.0", 0, AF_INET },
	{ "::/0", NULL, 0, AF_INET6 },
	{ "::1/128", NULL, 0, AF_INET6 },
	{ "2001:db8::/32", NULL, 0, AF_INET6 },
	{ "2001:db8::", "ffff:ffff::", 0, AF_INET6 },
	{ "::ffff:10.0.0.0/104", NULL, 0, AF_INET },	/* mapped -> v4 */
	{ "::ffff:10.0.0.0/95", NULL, 0, AF_INET6 },
	{ "1.2.3.4/33", NULL, -1, 0 },
	{ "::/129", NULL, -1, 0 },
	{ "1.2.3.4/-1", NULL, -1, 0 },
	{ "1.2.3.4/+8", NULL, -1, 0 },
	{ "1.2.3.4/", NULL, -1, 0 },
	{ "1.2.3.4/24x", NULL, -1, 0 },
	{ "1.2.3.4/ 24", NULL, -1, 0 },
	{ "1.2.3.4/24 ", NULL, -1, 0 },
	{ "1.2.3.4/0x10", NULL, -1, 0 },
	{ "1.2.3.4/24/8", NULL, -1, 0 },
	{ "1.2.3.4/99999999999999999999", NULL, -1, 0 },
	{ "/24", NULL, -1, 0 },
	{ " 1.2.3.4/8", NULL, -1, 0 },
	{ "1.2.3.256/8", NULL, -1, 0 },
	{ "1.2.3/24", NULL, -1, 0 },
	{ "localhost/32", NULL, -1, 0 },
	{ "mail.example.com", "255.255.255.0", -1, 0 },
	{ "fe80::1%eth0/64", NULL, -1, 0 },
	{ "1.2.3.4", NULL, -1, 0 },
	{ "1.2.3.4", "", -1, 0 },
	{ "1.2.3.4", "garbage", -1, 0 },
	{ "1.2.3.4", "24", -1, 0 },
	{ "1.2.3.4", "ffff::", -1, 0 },
	{ "::1", "255.255.255.255", -1, 0 },
	{ "1.2.3.4 ", "255.0.0.0", -1, 0 },
	{ "", "", -1, 0 },
	{ NULL, NULL, -1, 0 },
	{ "0000000000000000000000000000000000000000000000000000000000000000"
	    "0000000000/8", NULL, -1, 0 },
};

/* test_parse_table - ipfilter_parse accepts and refuses */
static void
test_parse_table(void **state)
{
	const struct parse_case *c;
	struct ipfilter f;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(parse_cases); i++) {
		c = &parse_cases[i];
		print_message("ipfilter_parse(%s, %s)\n",
		    c->a ? c->a : "NULL", c->b ? c->b : "NULL");
		assert_int_equal(ipfilter_parse(c->a, c->b, &f), c->want);
		if (c->want == 0)
			assert_int_equal(f.family, c->family);
	}
}

/* An ipfilter_match case. */
struct ipmatch_case {
	const char	*a;
	const char	*b;
	const char	*peer;
	bool		 want;
};

static const struct ipmatch_case ipmatch_cases[] = {
	{ "192.168.1.0/24", NULL, "192.168.1.77", true },
	{ "192.168.1.0/24", NULL, "192.168.2.1", false },
	{ "192.168.1.0/24", NULL, "::ffff:192.168.1.5", true },
	{ "192.168.1.0/24", NULL, "::ffff:192.168.2.5", false },
	{ "192.168.1.0/24", NULL, "::192.168.1.5", false },
	{ "192.168.1.0/24", NULL, "2001:db8::1", false },
	{ "192.168.0.0", "255.255.0.0", "192.168.200.1", true },
	{ "192.168.0.0", "255.255.0.0", "192.169.0.1", false },
	{ "0.0.0.0", "0.0.0.0", "1.2.3.4", true },
	{ "0.0.0.0", "0.0.0.0", "255.255.255.255", true },
	{ "0.0.0.0", "0.0.0.0", "0.0.0.0", true },
	{ "0.0.0.0", "0.0.0.0", "::ffff:8.8.8.8", true },
	{ "0.0.0.0", "0.0.0.0", "::1", false },
	{ "0.0.0.0/0", NULL, "203.0.113.9", true },
	{ "0.0.0.0/0", NULL, "2001:db8::1", false },
	{ "10.1.2.3/32", NULL, "10.1.2.3", true },
	{ "10.1.2.3/32", NULL, "10.1.2.4", false },
	{ "10.1.2.3", "255.255.255.255", "10.1.2.3", true },
	{ "10.1.2.3", "255.255.255.255", "10.1.2.2", false },
	{ "10.1.2.3/8", NULL, "10.200.0.0", true },
	{ "172.16.0.0/12", NULL, "172.31.255.255", true },
	{ "172.16.0.0/12", NULL, "172.32.0.0", false },
	{ "172.16.0.0/12", NULL, "172.15.255.255", false },
	{ "10.0.0.1", "255.0.0.255", "10.99.99.1", true },
	{ "10.0.0.1", "255.0.0.255", "10.99.99.2", false },
	{ "2001:db8::/32", NULL, "2001:db8:1::5", true },
	{ "2001:db8::/32", NULL, "2001:db9::1", false },
	{ "2001:db8::/32", NULL, "32.1.13.184", false },
	{ "2001:db8::/33", NULL, "2001:db8:7fff::1", true },
	{ "2001:db8::/33", NULL, "2001:db8:8000::1", false },
	{ "::/0", NULL, "::1", true },
	{ "::/0", NULL, "fe80::1", true },
	{ "::/0", NULL, "1.2.3.4", false },
	{ "::/0", NULL, "::ffff:1.2.3.4", false },	/* really IPv4 */
	{ "::1/128", NULL, "::1", true },
	{ "::1/128", NULL, "::2", false },
	{ "2001:db8::", "ffff:ffff::", "2001:db8:ff::1", true },
	{ "2001:db8::", "ffff:ffff::", "2001:db7::1", false },
	{ "::ffff:10.0.0.0/104", NULL, "10.1.2.3", true },
	{ "::ffff:10.0.0.0/104", NULL, "::ffff:10.9.9.9", true },
	{ "::ffff:10.0.0.0/104", NULL, "11.0.0.1", false },
	{ "::ffff:0.0.0.0/96", NULL, "198.51.100.1", true },
	{ "::ffff:0.0.0.0/96", NULL, "2001:db8::1", false },
};

/* test_ipmatch_table - ipfilter_match over parsed peers */
static void
test_ipmatch_table(void **state)
{
	const struct ipmatch_case *c;
	struct sockaddr_storage ss;
	struct ipfilter f;
	socklen_t len;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(ipmatch_cases); i++) {
		c = &ipmatch_cases[i];
		print_message("filter %s %s peer %s\n", c->a,
		    c->b ? c->b : "", c->peer);
		assert_int_equal(ipfilter_parse(c->a, c->b, &f), 0);
		assert_int_equal(ipaddr_parse(c->peer, 25, &ss, &len), 0);
		assert_int_equal(ipfilter_match(&f, (struct sockaddr *)&ss),
		    c->want);
	}
}

/* test_ipmatch_odd_peers - non-IP and NULL peers never match */
static void
test_ipmatch_odd_peers(void **state)
{
	struct sockaddr_un sux;
	struct ipfilter f;

	(void)state;
	assert_int_equal(ipfilter_parse("0.0.0.0", "0.0.0.0", &f), 0);
	memset(&sux, 0, sizeof(sux));
	sux.sun_family = AF_UNIX;
	assert_false(ipfilter_match(&f, (struct sockaddr *)&sux));
	assert_false(ipfilter_match(&f, NULL));
}

/* An ipaddr_parse / ipaddr_str case. */
struct addr_case {
	const char	*in;
	int		 port;
	int		 want;		/* 0 or -1 */
	int		 family;
	const char	*str;		/* ipaddr_str of the result */
};

static const struct addr_case addr_cases[] = {
	{ "1.2.3.4", 25, 0, AF_INET, "1.2.3.4" },
	{ "0.0.0.0", 0, 0, AF_INET, "0.0.0.0" },
	{ "255.255.255.255", 65535, 0, AF_INET, "255.255.255.255" },
	{ "::1", 110, 0, AF_INET6, "::1" },
	{ "2001:DB8:0:0::1", 587, 0, AF_INET6, "2001:db8::1" },
	{ "::ffff:192.0.2.1", 25, 0, AF_INET6, "192.0.2.1" },
	{ "::", 25, 0, AF_INET6, "::" },
	{ "localhost", 25, -1, 0, NULL },
	{ "1.2.3.4:25", 25, -1, 0, NULL },
	{ "[::1]", 25, -1, 0, NULL },
	{ "", 25, -1, 0, NULL },
	{ " 1.2.3.4", 25, -1, 0, NULL },
	{ "1.2.3.4", -1, -1, 0, NULL },
	{ "1.2.3.4", 65536, -1, 0, NULL },
	{ NULL, 25, -1, 0, NULL },
};

/* test_addr_table - ipaddr_parse and ipaddr_str */
static void
test_addr_table(void **state)
{
	const struct addr_case *c;
	struct sockaddr_storage ss;
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	char text[INET6_ADDRSTRLEN];
	socklen_t len;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(addr_cases); i++) {
		c = &addr_cases[i];
		print_message("ipaddr_parse(%s, %d)\n", c->in ? c->in : "NULL",
		    c->port);
		assert_int_equal(ipaddr_parse(c->in, c->port, &ss, &len),
		    c->want);
		if (c->want != 0)
			continue;
		assert_int_equal(ss.ss_family, c->family);
		if (c->family == AF_INET) {
			sin = (const struct sockaddr_in *)&ss;
			assert_int_equal(len, sizeof(*sin));
			assert_int_equal(ntohs(sin->sin_port), c->port);
		} else {
			sin6 = (const struct sockaddr_in6 *)&ss;
			assert_int_equal(len, sizeof(*sin6));
			assert_int_equal(ntohs(sin6->sin6_port), c->port);
		}
		assert_ptr_equal(ipaddr_str((struct sockaddr *)&ss, text,
		    sizeof(text)), text);
		assert_string_equal(text, c->str);
	}
}

/* test_addr_str_edges - small buffers and unknown families */
static void
test_addr_str_edges(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_un sux;
	char text[INET6_ADDRSTRLEN];
	char tiny[4];
	socklen_t len;

	(void)state;
	assert_int_equal(ipaddr_parse("192.0.2.1", 25, &ss, &len), 0);
	assert_string_equal(ipaddr_str((struct sockaddr *)&ss, tiny,
	    sizeof(tiny)), "?");
	memset(tiny, 'z', sizeof(tiny));
	(void)ipaddr_str((struct sockaddr *)&ss, tiny, 1);
	assert_int_equal(tiny[0], '\0');
	assert_int_equal(tiny[1], 'z');
	(void)ipaddr_str((struct sockaddr *)&ss, tiny, 0);
	assert_int_equal(tiny[0], '\0');
	memset(&sux, 0, sizeof(sux));
	sux.sun_family = AF_UNIX;
	assert_string_equal(ipaddr_str((struct sockaddr *)&sux, text,
	    sizeof(text)), "?");
	assert_string_equal(ipaddr_str(NULL, text, sizeof(text)), "?");
}

/* main - run the group */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wild_table),
		cmocka_unit_test(test_wild_pathological),
		cmocka_unit_test(test_has_wild),
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_ipmatch_table),
		cmocka_unit_test(test_ipmatch_odd_peers),
		cmocka_unit_test(test_addr_table),
		cmocka_unit_test(test_addr_str_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
