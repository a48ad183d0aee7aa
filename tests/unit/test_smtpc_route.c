/* test_smtpc_route.c - relay lists, gateway options, routes, client AUTH */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "smtpc/smtpc_route.h"

static char root[] = "/tmp/postroom-test-smtpc-route-XXXXXX";

/* put - write MailRoot/name (parents made) */
static void
put(const char *name, const char *text)
{
	char path[4096], *slash;

	assert_int_equal(fs_path(path, sizeof(path), root, name), 0);
	slash = strrchr(path, '/');
	*slash = '\0';
	assert_int_equal(fs_mkdir_p(path, 0700), 0);
	*slash = '/';
	assert_int_equal(fs_write_atomic(path, text, strlen(text), 0600), 0);
}

static int
setup(void **state)
{
	(void)state;
	log_init("test_smtpc_route", false, false, false);
	if (mkdtemp(root) == NULL)
		return -1;
	put("server.tab", "");
	return config_init(root);
}

static int
teardown(void **state)
{
	(void)state;
	config_shutdown();
	return fs_rm_tree(root);
}

/*
 * Host lists.
 */

struct list_case {
	const char	*list;
	int		 n;		/* hops, or -1 */
	const char	*host[3];
	int		 port[3];
	int		 need_tls;	/* of the first hop */
	bool		 lmtp;		/* of the first hop */
};

static const struct list_case list_cases[] = {
	/* The manual's SMTPFWD.TAB example. */
	{ "mail.xmailserver.org:7001;192.168.1.1:6123,NeedTLS=1;"
	  "mx.xmailserver.org", 3,
	  { "mail.xmailserver.org", "192.168.1.1", "mx.xmailserver.org" },
	  { 7001, 6123, 0 }, 1, false },
	{ "mail.x.org,NeedTLS=2;192.168.1.1;mx.x.org:6423", 3,
	  { "mail.x.org", "192.168.1.1", "mx.x.org" }, { 0, 0, 6423 }, 2,
	  false },
	{ "  a.test ; b.test:2525 ", 2, { "a.test", "b.test" }, { 0, 2525 },
	  1, false },
	{ "a.test;;b.test;", 2, { "a.test", "b.test" }, { 0, 0 }, 1, false },
	{ "relay_1.Example-Net.", 1, { "relay_1.Example-Net." }, { 0 }, 1,
	  false },
	{ "[1.2.3.4]:26", 1, { "1.2.3.4" }, { 26 }, 1, false },
	{ "[IPv6:2001:db8::1]:2525,NeedTLS=2", 1, { "2001:db8::1" }, { 2525 },
	  2, false },
	{ "[ipv6:::1]", 1, { "::1" }, { 0 }, 1, false },
	{ "[2001:db8::1]", 1, { "2001:db8::1" }, { 0 }, 1, false },
	{ "[2001:db8::1]:25 , needtls=0", 1, { "2001:db8::1" }, { 25 }, 0,
	  false },
	{ "a.test,LMTP", 1, { "a.test" }, { 0 }, 1, true },
	{ "a.test,lmtp=1,LMTP=0", 1, { "a.test" }, { 0 }, 1, false },
	{ "a.test:25, Port = 24 ,LMTP=1", 1, { "a.test" }, { 24 }, 1, true },
	{ "a.test,Foo=1,Bar,NeedTLS=0", 1, { "a.test" }, { 0 }, 0, false },
	{ "a.test:65535,,", 1, { "a.test" }, { 65535 }, 1, false },
	/* Errors. */
	{ "", -1 }, { "   ", -1 }, { "#", -1 }, { ";;", -1 }, { NULL, -1 },
	{ "a.test:x", -1 }, { "a.test:0", -1 }, { "a.test:70000", -1 },
	{ "a.test:", -1 }, { "a.test:25x", -1 }, { "a.test:99999999999", -1 },
	{ "a.test,NeedTLS=3", -1 }, { "a.test,NeedTLS", -1 },
	{ "a.test,NeedTLS=", -1 }, { "a.test,NeedTLS=11", -1 },
	{ "a.test,OutBind=not-an-ip", -1 }, { "a.test,OutBind", -1 },
	{ "a.test,LMTP=2", -1 }, { "a.test,Port=0", -1 },
	{ "a.test,Port=x", -1 }, { "mail x.org", -1 }, { "a/b", -1 },
	{ "ok.test;a/b", -1 }, { "a..b", -1 }, { ".a", -1 }, { "a-\xc3\xa9", -1 },
	{ "[1.2.3.4", -1 }, { "[1.2.3.4]x", -1 }, { "[1.2.3.4]:", -1 },
	{ "[IPv6:1.2.3.4]", -1 }, { "[foo]", -1 }, { "[]", -1 },
	{ "2001:db8::1", -1 }, { ":25", -1 },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".test", -1 },
	{ "a;b;c;d;e;f;g;h;i;j;k;l;m;n;o;p;q", -1 },
};

static void
test_hoplist(void **state)
{
	struct smtpc_hop hops[SMTPC_ROUTE_HOPS_MAX];
	char err[256];
	size_t i;
	int n, j;

	(void)state;
	for (i = 0; i < nitems(list_cases); i++) {
		const struct list_case *c = &list_cases[i];

		n = smtpc_hoplist_parse(c->list, NULL, hops, nitems(hops), err,
		    sizeof(err));
		if (n != c->n)
			fail_msg("case %zu \"%s\": %d (%s)", i, c->list, n,
			    err);
		if (n == -1) {
			if (err[0] == '\0')
				fail_msg("case %zu: no error text", i);
			continue;
		}
		for (j = 0; j < n; j++) {
			assert_string_equal(hops[j].host, c->host[j]);
			assert_int_equal(hops[j].port, c->port[j]);
		}
		assert_int_equal(hops[0].opts.need_tls, c->need_tls);
		assert_int_equal(hops[0].opts.lmtp, c->lmtp);
		assert_false(hops[0].opts.has_bind);
	}
	/* Sixteen is the limit; a smaller max is honoured too. */
	assert_int_equal(smtpc_hoplist_parse("a;b;c;d;e;f;g;h;i;j;k;l;m;n;o;p",
	    NULL, hops, nitems(hops), err, sizeof(err)), 16);
	assert_int_equal(smtpc_hoplist_parse("a;b", NULL, hops, 1, err,
	    sizeof(err)), -1);
	assert_int_equal(smtpc_hoplist_parse("a", NULL, hops, 0, err,
	    sizeof(err)), -1);
	/* No error buffer is fine. */
	assert_int_equal(smtpc_hoplist_parse("", NULL, hops, 1, NULL, 0), -1);
}

static void
test_hoplist_base_and_outbind(void **state)
{
	struct smtpc_hop hops[4];
	struct smtpc_hopopts base;
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	char err[256], a[64];

	(void)state;
	memset(&base, 0, sizeof(base));
	base.need_tls = 2;
	base.lmtp = true;
	assert_int_equal(smtpc_hoplist_parse("a.test,OutBind=192.0.2.7;"
	    "b.test,NeedTLS=0,LMTP=0,OutBind=2001:db8::5;c.test,"
	    "OutBind=[::1]", &base, hops, nitems(hops), err, sizeof(err)), 3);
	assert_int_equal(hops[0].opts.need_tls, 2);
	assert_true(hops[0].opts.lmtp);
	assert_true(hops[0].opts.has_bind);
	sin = (const struct sockaddr_in *)&hops[0].opts.bind;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(sin->sin_port, 0);
	assert_int_equal(hops[0].opts.bindlen, sizeof(*sin));
	assert_string_equal(inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a)),
	    "192.0.2.7");
	assert_int_equal(hops[1].opts.need_tls, 0);
	assert_false(hops[1].opts.lmtp);
	sin6 = (const struct sockaddr_in6 *)&hops[1].opts.bind;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(sin6->sin6_port, 0);
	assert_int_equal(hops[1].opts.bindlen, sizeof(*sin6));
	assert_string_equal(inet_ntop(AF_INET6, &sin6->sin6_addr, a,
	    sizeof(a)), "2001:db8::5");
	assert_true(hops[2].opts.has_bind);
	assert_int_equal(hops[2].opts.bind.ss_family, AF_INET6);
	/* Options of one hop do not leak into the next. */
	assert_int_equal(smtpc_hoplist_parse("a.test,NeedTLS=0,LMTP;b.test",
	    NULL, hops, nitems(hops), err, sizeof(err)), 2);
	assert_int_equal(hops[1].opts.need_tls, 1);
	assert_false(hops[1].opts.lmtp);
}

static void
test_hopopts(void **state)
{
	struct smtpc_hopopts o, before;
	char err[256];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.need_tls = 1;
	assert_int_equal(smtpc_hopopts_parse("NeedTLS=2, lmtp ,OutBind=10.0.0.1",
	    &o, err, sizeof(err)), 0);
	assert_int_equal(o.need_tls, 2);
	assert_true(o.lmtp);
	assert_true(o.has_bind);
	/* Port has no host here: checked, then ignored. */
	assert_int_equal(smtpc_hopopts_parse("Port=2525,X=1", &o, err,
	    sizeof(err)), 0);
	assert_int_equal(smtpc_hopopts_parse("Port=x", &o, err, sizeof(err)),
	    -1);
	assert_int_equal(smtpc_hopopts_parse("", &o, err, sizeof(err)), 0);
	assert_int_equal(smtpc_hopopts_parse(NULL, &o, err, sizeof(err)), 0);
	/* A failed parse leaves *o alone. */
	before = o;
	assert_int_equal(smtpc_hopopts_parse("NeedTLS=0,LMTP=0,NeedTLS=3",
	    &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "NeedTLS"));
	assert_memory_equal(&o, &before, sizeof(o));
	assert_int_equal(smtpc_hopopts_parse("OutBind=999.1.1.1", &o, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "OutBind"));
}

static void
test_shuffle(void **state)
{
	struct smtpc_hop hops[3];
	bool ab = false, ba = false;
	char err[256];
	int i;

	(void)state;
	srandom(1);
	for (i = 0; i < 1000 && !(ab && ba); i++) {
		assert_int_equal(smtpc_hoplist_parse("# a.test;b.test:26", NULL,
		    hops, nitems(hops), err, sizeof(err)), 2);
		if (strcmp(hops[0].host, "a.test") == 0) {
			assert_string_equal(hops[1].host, "b.test");
			ab = true;
		} else {
			assert_string_equal(hops[0].host, "b.test");
			assert_int_equal(hops[0].port, 26);
			assert_string_equal(hops[1].host, "a.test");
			ba = true;
		}
	}
	assert_true(ab && ba);
	assert_int_equal(smtpc_hoplist_parse("#a.test", NULL, hops,
	    nitems(hops), err, sizeof(err)), 1);
	/* Without '#' the order is kept. */
	for (i = 0; i < 50; i++) {
		assert_int_equal(smtpc_hoplist_parse("a.test;b.test", NULL,
		    hops, nitems(hops), err, sizeof(err)), 2);
		assert_string_equal(hops[0].host, "a.test");
	}
}

/*
 * Routes.
 */

/* find - reload the MailRoot and look the domain up */
static int
find(const char *domain, struct smtpc_route *rt, char *err, size_t errlen)
{
	struct config *cfg;
	int rc;

	assert_int_equal(config_reload("test"), 0);
	cfg = config_acquire();
	rc = smtpc_route_find(cfg, domain, rt, err, errlen);
	config_release(cfg);
	return rc;
}

static void
test_route_order(void **state)
{
	struct smtpc_route rt;
	char err[256];

	(void)state;
	put("server.tab", "\"DefaultSMTPGateways\"\t\"dflt.test:2526;"
	    "dflt2.test\"\n");
	put("smtpgw.tab", "\"gw.test\"\t\"@relay.gw.test\"\n"
	    "\"short.test\"\n"
	    "\"*.dummy.net\"\t\"@first.test\"\n"
	    "\"x.dummy.net\"\t\"@second.test\"\n");
	put("smtpfwd.tab", "\"gw.test\"\t\"fwd-never.test\"\n"
	    "\"fwd.test\"\t\"fwd1.test:7001;fwd2.test\"\n"
	    "\"short.test\"\t\"fwd-short.test\"\n");

	assert_int_equal(find("gw.test", &rt, err, sizeof(err)), 0);
	assert_int_equal(rt.kind, SMTPC_ROUTE_HOSTS);
	assert_string_equal(rt.source, "smtpgw.tab");
	assert_int_equal(rt.nhops, 1);
	assert_string_equal(rt.hops[0].host, "relay.gw.test");
	assert_int_equal(rt.hops[0].port, 0);
	assert_string_equal(rt.srcroute, "");
	assert_int_equal(rt.hops[0].opts.need_tls, 1);

	/* Wildcards, without case; the first matching line wins. */
	assert_int_equal(find("X.Dummy.NET", &rt, err, sizeof(err)), 0);
	assert_string_equal(rt.hops[0].host, "first.test");
	assert_int_equal(find("dummy.net", &rt, err, sizeof(err)), 0);
	assert_string_equal(rt.source, "DefaultSMTPGateways");

	/* A line with one field is skipped. */
	assert_int_equal(find("short.test", &rt, err, sizeof(err)), 0);
	assert_string_equal(rt.source, "smtpfwd.tab");
	assert_string_equal(rt.hops[0].host, "fwd-short.test");

	assert_int_equal(find("FWD.test", &rt, err, sizeof(err)), 0);
	assert_int_equal(rt.kind, SMTPC_ROUTE_HOSTS);
	assert_string_equal(rt.source, "smtpfwd.tab");
	assert_int_equal(rt.nhops, 2);
	assert_string_equal(rt.hops[0].host, "fwd1.test");
	assert_int_equal(rt.hops[0].port, 7001);
	assert_string_equal(rt.hops[1].host, "fwd2.test");
	assert_string_equal(rt.srcroute, "");

	assert_int_equal(find("other.test", &rt, err, sizeof(err)), 0);
	assert_string_equal(rt.source, "DefaultSMTPGateways");
	assert_int_equal(rt.nhops, 2);
	assert_string_equal(rt.hops[0].host, "dflt.test");
	assert_int_equal(rt.hops[0].port, 2526);

	/* Without DefaultSMTPGateways (or with a blank one): MX. */
	put("server.tab", "\"DefaultSMTPGateways\"\t\" \"\n");
	assert_int_equal(find("other.test", &rt, err, sizeof(err)), 0);
	assert_int_equal(rt.kind, SMTPC_ROUTE_MX);
	assert_string_equal(rt.source, "MX");
	assert_int_equal(rt.nhops, 0);
	assert_int_equal(rt.mx_opts.need_tls, 1);
	assert_false(rt.mx_opts.lmtp);
	assert_false(rt.mx_opts.has_bind);
	/* smtpgw.tab still comes first. */
	assert_int_equal(find("gw.test", &rt, err, sizeof(err)), 0);
	assert_string_equal(rt.source, "smtpgw.tab");
	put("smtpgw.tab", "");
	put("smtpfwd.tab", "");
	assert_int_equal(find("gw.test", &rt, err, sizeof(err)), 0);
	assert_string_equal(rt.source, "MX");
	put("server.tab", "");
}

static void
test_route_gw_source_route(void **state)
{
	struct smtpc_route rt;
	char err[256];

	(void)state;
	put("smtpgw.tab", "\"a.test\"\t\"@relay.x:2525,@mail.y, [1.2.3.4]\"\n"
	    "\"b.test\"\t\"relay.b\"\n"
	    "\"c.test\"\t\"@[IPv6:2001:db8::1]:26,mail.c\"\n"
	    "\"bad1.test\"\t\"@relay.x,@bad host\"\n"
	    "\"bad2.test\"\t\"@relay.x,,@y\"\n"
	    "\"bad3.test\"\t\"\"\n"
	    "\"bad4.test\"\t\"@relay.x:0\"\n"
	    "\"bad5.test\"\t\"@relay.x,@y:25\"\n"
	    "\"bad6.test\"\t\"@relay.x;@y\"\n");
	put("smtpfwd.tab", "\"*\"\t\"never.test\"\n");
	assert_int_equal(find("a.test", &rt, err, sizeof(err)), 0);
	assert_string_equal(rt.source, "smtpgw.tab");
	assert_int_equal(rt.nhops, 1);
	assert_string_equal(rt.hops[0].host, "relay.x");
	assert_int_equal(rt.hops[0].port, 2525);
	assert_string_equal(rt.srcroute, "@mail.y,@[1.2.3.4]");
	assert_int_equal(find("b.test", &rt, err, sizeof(err)), 0);
	assert_string_equal(rt.hops[0].host, "relay.b");
	assert_string_equal(rt.srcroute, "");
	assert_int_equal(find("c.test", &rt, err, sizeof(err)), 0);
	assert_string_equal(rt.hops[0].host, "2001:db8::1");
	assert_int_equal(rt.hops[0].port, 26);
	assert_string_equal(rt.srcroute, "@mail.c");
	/* A broken matching line never falls through to smtpfwd.tab. */
	assert_int_equal(find("bad1.test", &rt, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "smtpgw.tab line 4"));
	assert_int_equal(find("bad2.test", &rt, err, sizeof(err)), -1);
	assert_int_equal(find("bad3.test", &rt, err, sizeof(err)), -1);
	assert_int_equal(find("bad4.test", &rt, err, sizeof(err)), -1);
	assert_int_equal(find("bad5.test", &rt, err, sizeof(err)), -1);
	assert_int_equal(find("bad6.test", &rt, err, sizeof(err)), -1);
	assert_int_equal(find("z.test", &rt, err, sizeof(err)), 0);
	assert_string_equal(rt.source, "smtpfwd.tab");
	put("smtpgw.tab", "");
	put("smtpfwd.tab", "");
}

static void
test_route_options_and_errors(void **state)
{
	struct smtpc_route rt;
	char err[256];

	(void)state;
	put("server.tab", "\"SmtpGwConfig\"\t\"NeedTLS=2,LMTP,"
	    "OutBind=192.0.2.1\"\n");
	put("smtpgw.tab", "\"gw.test\"\t\"@relay.x\"\n");
	put("smtpfwd.tab", "\"fwd.test\"\t\"a.test,NeedTLS=0,LMTP=0;b.test\"\n"
	    "\"bad.test\"\t\"a.test:70000\"\n"
	    "\"bad.test\"\t\"good.test\"\n"
	    "\"tls.test\"\t\"a.test,NeedTLS=3\"\n");
	/* SmtpGwConfig for every hop; a hop's own options win. */
	assert_int_equal(find("fwd.test", &rt, err, sizeof(err)), 0);
	assert_int_equal(rt.hops[0].opts.need_tls, 0);
	assert_false(rt.hops[0].opts.lmtp);
	assert_true(rt.hops[0].opts.has_bind);
	assert_int_equal(rt.hops[1].opts.need_tls, 2);
	assert_true(rt.hops[1].opts.lmtp);
	assert_true(rt.hops[1].opts.has_bind);
	assert_int_equal(find("gw.test", &rt, err, sizeof(err)), 0);
	assert_int_equal(rt.hops[0].opts.need_tls, 2);
	assert_true(rt.hops[0].opts.lmtp);
	assert_int_equal(find("mx.test", &rt, err, sizeof(err)), 0);
	assert_int_equal(rt.kind, SMTPC_ROUTE_MX);
	assert_int_equal(rt.mx_opts.need_tls, 2);
	assert_true(rt.mx_opts.lmtp);
	assert_true(rt.mx_opts.has_bind);
	assert_int_equal(rt.mx_opts.bind.ss_family, AF_INET);
	/* Broken matching lines: -1, the mail waits. */
	assert_int_equal(find("bad.test", &rt, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "smtpfwd.tab line 2"));
	assert_non_null(strstr(err, "70000"));
	assert_int_equal(find("tls.test", &rt, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "NeedTLS"));
	/* A broken SmtpGwConfig or DefaultSMTPGateways stops every route. */
	put("server.tab", "\"SmtpGwConfig\"\t\"NeedTLS=7\"\n");
	assert_int_equal(find("mx.test", &rt, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "SmtpGwConfig"));
	put("server.tab", "\"DefaultSMTPGateways\"\t\"a.test;b/c\"\n");
	assert_int_equal(find("mx.test", &rt, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "DefaultSMTPGateways"));
	assert_int_equal(find("fwd.test", &rt, err, sizeof(err)), 0);
	put("server.tab", "");
	put("smtpgw.tab", "");
	put("smtpfwd.tab", "");
}

/*
 * Client credentials.
 */

static void
test_auth(void **state)
{
	struct smtpc_auth a;

	(void)state;
	put("userauth/smtp/foo.net.tab", "# comment\n"
	    "\"PLAIN\"\t\"fuser\"\t\"fpass\"\n\"LOGIN\"\t\"x\"\t\"y\"\n");
	put("userauth/smtp/mail.foo.net.tab",
	    "\"cram-md5\"\t\"muser\"\t\"mpass\"\n");
	put("userauth/smtp/org.tab", "\"Login\"\t\"ouser\"\t\"\"\n");
	put("userauth/smtp/bad1.test.tab", "\"PLAIN\"\t\"u\"\n");
	put("userauth/smtp/bad2.test.tab", "\"DIGEST-MD5\"\t\"u\"\t\"p\"\n");
	put("userauth/smtp/bad3.test.tab", "# only a comment\n");
	put("userauth/smtp/bad4.test.tab", "\"PLAIN\"\t\"\"\t\"p\"\n");
	put("userauth/smtp/bad5.test.tab", "\"PLAIN\"\t\"u\"\t\"p\"\t\"x\"\n");
	put("userauth/evil.tab", "\"PLAIN\"\t\"e\"\t\"e\"\n");
	put("userauth/smtp/dir.test.tab/x", "");

	assert_int_equal(smtpc_auth_find(root, "MAIL.Foo.Net", &a), 1);
	assert_int_equal(a.mech, SMTPC_AUTH_CRAM_MD5);
	assert_string_equal(a.user, "muser");
	assert_string_equal(a.pass, "mpass");
	/* Parent domain; only the first record counts. */
	assert_int_equal(smtpc_auth_find(root, "smtp.Foo.net.", &a), 1);
	assert_int_equal(a.mech, SMTPC_AUTH_PLAIN);
	assert_string_equal(a.user, "fuser");
	assert_string_equal(a.pass, "fpass");
	assert_int_equal(smtpc_auth_find(root, "a.b.c.example.org", &a), 1);
	assert_int_equal(a.mech, SMTPC_AUTH_LOGIN);
	assert_string_equal(a.user, "ouser");
	assert_string_equal(a.pass, "");
	/* None. */
	assert_int_equal(smtpc_auth_find(root, "mail.example.com", &a), 0);
	assert_int_equal(a.mech, 0);
	assert_int_equal(smtpc_auth_find(root, "net", &a), 0);
	/* Malformed or unreadable: -1, nothing returned. */
	assert_int_equal(smtpc_auth_find(root, "bad1.test", &a), -1);
	assert_int_equal(smtpc_auth_find(root, "x.bad2.test", &a), -1);
	assert_int_equal(a.mech, 0);
	assert_int_equal(smtpc_auth_find(root, "bad3.test", &a), -1);
	assert_int_equal(smtpc_auth_find(root, "bad4.test", &a), -1);
	assert_int_equal(smtpc_auth_find(root, "bad5.test", &a), -1);
	assert_int_equal(smtpc_auth_find(root, "dir.test", &a), -1);
	/* Names that could leave userauth/smtp are never looked up. */
	assert_int_equal(smtpc_auth_find(root, "../evil", &a), 0);
	assert_int_equal(smtpc_auth_find(root, "..", &a), 0);
	assert_int_equal(smtpc_auth_find(root, ".foo.net", &a), 0);
	assert_int_equal(smtpc_auth_find(root, "x/../../foo.net", &a), 0);
	assert_int_equal(smtpc_auth_find(root, "a..foo.net", &a), 0);
	assert_int_equal(smtpc_auth_find(root, "a foo.net", &a), 0);
	assert_int_equal(smtpc_auth_find(root, "", &a), 0);
	assert_int_equal(smtpc_auth_find(root, NULL, &a), 0);
	/* Without a userauth directory at all. */
	assert_int_equal(smtpc_auth_find("/nonexistent-postroom", "foo.net",
	    &a), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hoplist),
		cmocka_unit_test(test_hoplist_base_and_outbind),
		cmocka_unit_test(test_hopopts),
		cmocka_unit_test(test_shuffle),
		cmocka_unit_test(test_route_order),
		cmocka_unit_test(test_route_gw_source_route),
		cmocka_unit_test(test_route_options_and_errors),
		cmocka_unit_test(test_auth),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
