/* test_store.c - names, domains, user and alias lookup, account trees */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "store/store.h"

static char root[] = "/tmp/postroom-test-store-XXXXXX";

static void
put(const char *name, const char *text)
{
	char path[4096];

	assert_int_equal(fs_path(path, sizeof(path), root, name), 0);
	assert_int_equal(fs_write_atomic(path, text, strlen(text), 0600), 0);
}

static int
setup(void **state)
{
	(void)state;
	log_init("test_store", false, false, false);
	if (mkdtemp(root) == NULL)
		return -1;
	put("domains.tab", "\"home.test\"\n\"Other.Test\"\n");
	put("aliasdomain.tab", "\"alias.test\"\t\"home.test\"\n"
	    "\"*.home.test\"\t\"home.test\"\n\"dangling.test\"\t\"gone.test\"\n");
	put("mailusers.tab",
	    "\"home.test\"\t\"Alice\"\t\"11001611\"\t1\t\"alice\"\t\"U\"\n"
	    "\"home.test\"\t\"list\"\t\"11001611\"\t2\t\"list\"\t\"M\"\n"
	    "\"other.test\"\t\"homer\"\t\"11001611\"\t3\t\"homer\"\t\"U\"\n"
	    "\"home.test\"\t\"short\"\t\"x\"\n");
	put("aliases.tab",
	    "\"home.test\"\t\"foo*bog\"\t\"homer@other.test\"\n"
	    "\"home.test\"\t\"foolbog\"\t\"alice\"\n"
	    "\"*\"\t\"postmaster\"\t\"alice@home.test\"\n"
	    "\"home.test\"\t\"??trips\"\t\"list\"\n"
	    "\"home.test\"\t\"nowhere\"\t\"ghost\"\n");
	put("mxbackup.tab", "\"Partner.Test\"\t\"DOMAIN\"\n"
	    "\"host.test\"\t\"HOST\"\n\"odd.test\"\t\"BOTH\"\n"
	    "\"short.test\"\n");
	return config_init(root);
}

static int
teardown(void **state)
{
	(void)state;
	config_shutdown();
	return fs_rm_tree(root);
}

struct find_case {
	const char	*name, *domain;
	int		 rc;
	const char	*rname, *rdomain;
	char		 type;
};

static const struct find_case find_cases[] = {
	{ "alice", "home.test", 0, "Alice", "home.test", 'U' },
	{ "ALICE", "HOME.TEST", 0, "Alice", "home.test", 'U' },
	{ "alice", "alias.test", 0, "Alice", "home.test", 'U' },
	{ "alice", "sub.home.test", 0, "Alice", "home.test", 'U' },
	{ "list", "home.test", 0, "list", "home.test", 'M' },
	/* exact alias beats an earlier wildcard one */
	{ "foolbog", "home.test", 0, "Alice", "home.test", 'U' },
	{ "fooXbog", "home.test", 0, "homer", "other.test", 'U' },
	{ "postmaster", "other.test", 0, "Alice", "home.test", 'U' },
	{ "attrips", "home.test", 0, "list", "home.test", 'M' },
	{ "atrips", "home.test", -1, NULL, NULL, 0 },
	{ "nowhere", "home.test", -1, NULL, NULL, 0 },
	{ "short", "home.test", -1, NULL, NULL, 0 },
	{ "alice", "dangling.test", -1, NULL, NULL, 0 },
	{ "alice", "elsewhere.test", -1, NULL, NULL, 0 },
	{ "bob", "home.test", -1, NULL, NULL, 0 },
};

/* test_mxbackup - DOMAIN takes sub-domains, HOST only the name */
static void
test_mxbackup(void **state)
{
	static const struct {
		const char	*domain;
		bool		 yes;
	} cases[] = {
		{ "partner.test", true }, { "PARTNER.test", true },
		{ "mx.partner.test", true }, { "a.b.partner.test", true },
		{ "xpartner.test", false }, { "partner.test.evil", false },
		{ "host.test", true }, { "sub.host.test", false },
		{ "odd.test", false }, { "short.test", false },
		{ "home.test", false }, { "", false },
	};
	struct config *cfg = config_acquire();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (store_mxbackup(cfg, cases[i].domain) != cases[i].yes)
			fail_msg("%s: expected %d", cases[i].domain,
			    cases[i].yes);
	config_release(cfg);
	/* MXBackupEnable 0 switches it all off. */
	put("server.tab", "\"MXBackupEnable\"\t\"0\"\n");
	assert_int_equal(config_reload("test"), 0);
	cfg = config_acquire();
	assert_false(store_mxbackup(cfg, "partner.test"));
	config_release(cfg);
	put("server.tab", "\"MXBackupEnable\"\t\"1\"\n");
	assert_int_equal(config_reload("test"), 0);
	cfg = config_acquire();
	assert_true(store_mxbackup(cfg, "partner.test"));
	config_release(cfg);
}

static void
test_user_find(void **state)
{
	struct config *cfg = config_acquire();
	struct store_user u;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(find_cases) / sizeof(find_cases[0]); i++) {
		const struct find_case *c = &find_cases[i];
		int rc = store_user_find(cfg, c->name, c->domain, &u);

		if (rc != c->rc)
			fail_msg("%s@%s: rc %d", c->name, c->domain, rc);
		if (rc == 0) {
			assert_string_equal(u.name, c->rname);
			assert_string_equal(u.domain, c->rdomain);
			assert_int_equal(u.type, c->type);
		}
	}
	config_release(cfg);
}

static void
test_names(void **state)
{
	static const struct {
		const char *s;
		bool wild, name_ok, domain_ok;
	} cases[] = {
		{ "alice", false, true, true },
		{ "a.b-c_d+e", false, true, false },
		{ "", false, false, false },
		{ ".a", false, false, false },
		{ "a.", false, false, false },
		{ "a..b", false, false, false },
		{ "a/b", false, false, false },
		{ "../x", false, false, false },
		{ "a b", false, false, false },
		{ "a*", false, false, false },
		{ "a*", true, true, true },
		{ "-a.test", false, true, false },
		{ "a-.test", false, true, false },
		{ "mail.example.test", false, true, true },
		{ "1.2.3.4", false, true, true },
		{ "x\xc3\xa9", false, false, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (store_name_ok(cases[i].s, cases[i].wild) !=
		    cases[i].name_ok)
			fail_msg("name '%s'", cases[i].s);
		if (store_domain_ok(cases[i].s, cases[i].wild) !=
		    cases[i].domain_ok)
			fail_msg("domain '%s'", cases[i].s);
	}
	{
		char long_label[80];

		memset(long_label, 'a', 64);
		strcpy(long_label + 64, ".test");
		assert_false(store_domain_ok(long_label, false));
		/* 63 bytes is the longest label. */
		assert_true(store_domain_ok(long_label + 1, false));
	}
}

static void
test_account_create(void **state)
{
	static const char *const vars[] = { "RealName", "Alice \"A\" B",
	    "MaxMBSize", "100" };
	char path[4096];
	struct config *cfg;
	struct store_user u;
	struct tab t;

	(void)state;
	assert_int_equal(store_domain_create(root, "Home.Test"), 0);
	snprintf(path, sizeof(path), "%s/cmdaliases/home.test", root);
	assert_true(fs_is_dir(path));
	assert_int_equal(store_account_create(root, "HOME.test", "alice",
	    true, vars, 2), 0);
	snprintf(path, sizeof(path), "%s/domains/home.test/alice/Maildir/new",
	    root);
	assert_true(fs_is_dir(path));
	/* Second call keeps the existing user.tab. */
	assert_int_equal(store_account_create(root, "home.test", "alice",
	    true, vars, 1), 0);
	cfg = config_acquire();
	assert_int_equal(store_user_find(cfg, "alice", "home.test", &u), 0);
	assert_int_equal(store_user_vars_load(root, &u, &t), 0);
	assert_string_equal(store_var(&t, "RealName"), "Alice \"A\" B");
	assert_string_equal(store_var(&t, "MaxMBSize"), "100");
	tab_free(&t);
	config_release(cfg);
	assert_int_equal(store_account_create(root, "home.test", "mbox",
	    false, vars, 0), 0);
	snprintf(path, sizeof(path), "%s/domains/home.test/mbox/mailbox",
	    root);
	assert_true(fs_is_dir(path));
	assert_int_equal(store_account_create(root, "home.test", "../evil",
	    false, vars, 0), -1);
	assert_int_equal(store_account_create(root, "bad domain", "x",
	    false, vars, 0), -1);
}

static void
test_userdef(void **state)
{
	struct tab t;

	(void)state;
	put("userdef.tab", "\"MaxMBSize\"\t\"10000\"\n");
	assert_int_equal(store_userdef_load(root, "home.test", &t), 0);
	assert_string_equal(store_var(&t, "MaxMBSize"), "10000");
	tab_free(&t);
	put("domains/home.test/userdef.tab", "\"MaxMBSize\"\t\"5\"\n");
	assert_int_equal(store_userdef_load(root, "HOME.TEST", &t), 0);
	assert_string_equal(store_var(&t, "MaxMBSize"), "5");
	tab_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_find),
		cmocka_unit_test(test_mxbackup),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_account_create),
		cmocka_unit_test(test_userdef),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
