/* test_config.c - snapshots, change detection, ipmap verdicts */
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

static char root[] = "/tmp/postroom-test-config-XXXXXX";

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
	log_init("test_config", false, false, false);
	if (mkdtemp(root) == NULL)
		return -1;
	put("server.tab", "\"RootDomain\"\t\"a.test\"\n"
	    "\"MaxMTAOps\"\t\"16\"\n\"RootDomain\"\t\"b.test\"\n"
	    "\"Flag\"\t\"0\"\n\"Empty\"\t\"\"\n");
	return config_init(root);
}

static int
teardown(void **state)
{
	(void)state;
	config_shutdown();
	return fs_rm_tree(root);
}

static struct sockaddr_storage
v4(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin->sin_addr);
	return ss;
}

static void
test_vars(void **state)
{
	struct config *cfg = config_acquire();

	(void)state;
	assert_non_null(cfg);
	/* Last definition wins; names are case-sensitive. */
	assert_string_equal(config_var(cfg, "RootDomain"), "b.test");
	assert_null(config_var(cfg, "rootdomain"));
	assert_int_equal(config_var_long(cfg, "MaxMTAOps", 1), 16);
	assert_int_equal(config_var_long(cfg, "Missing", 7), 7);
	assert_int_equal(config_var_long(cfg, "Empty", 7), 7);
	assert_false(config_var_bool(cfg, "Flag", true));
	assert_true(config_var_bool(cfg, "Missing", true));
	/* Missing tables are empty. */
	assert_int_equal(config_tab(cfg, CFG_DOMAINS)->nrecs, 0);
	config_release(cfg);
}

static void
test_poll_and_snapshot_isolation(void **state)
{
	struct config *old, *cur;

	(void)state;
	old = config_acquire();
	assert_false(config_poll());
	put("domains.tab", "\"new.test\"\n");
	assert_true(config_poll());
	cur = config_acquire();
	assert_true(config_generation(cur) > config_generation(old));
	assert_int_equal(config_tab(cur, CFG_DOMAINS)->nrecs, 1);
	/* The old snapshot is unchanged and still usable. */
	assert_int_equal(config_tab(old, CFG_DOMAINS)->nrecs, 0);
	config_release(old);
	assert_false(config_poll());
	/* Deleting a file is a change too. */
	{
		char path[4096];

		assert_int_equal(fs_path(path, sizeof(path), root,
		    "domains.tab"), 0);
		assert_int_equal(unlink(path), 0);
	}
	assert_true(config_poll());
	config_release(cur);
	cur = config_acquire();
	assert_int_equal(config_tab(cur, CFG_DOMAINS)->nrecs, 0);
	config_release(cur);
}

struct ipmap_case {
	const char	*table;
	const char	*ip;
	bool		 allow;
};

static const struct ipmap_case ipmap_cases[] = {
	{ "", "10.1.2.3", true },
	{ "\"0.0.0.0\"\t\"0.0.0.0\"\t\"DENY\"\t1\n"
	  "\"212.131.173.0\"\t\"255.255.255.0\"\t\"ALLOW\"\t2\n",
	  "212.131.173.9", true },
	{ "\"0.0.0.0\"\t\"0.0.0.0\"\t\"DENY\"\t1\n"
	  "\"212.131.173.0\"\t\"255.255.255.0\"\t\"ALLOW\"\t2\n",
	  "212.131.174.9", false },
	/* Higher precedence wins even when listed first. */
	{ "\"10.0.0.0/8\"\t\"DENY\"\t9\n\"10.1.0.0/16\"\t\"ALLOW\"\t2\n",
	  "10.1.2.3", false },
	/* Ties go to the later line. */
	{ "\"10.0.0.0/8\"\t\"DENY\"\t5\n\"10.1.0.0/16\"\t\"ALLOW\"\t5\n",
	  "10.1.2.3", true },
	/* XMail's 4-field form with a CIDR first field. */
	{ "\"10.0.0.0/8\"\t\"x\"\t\"deny\"\t1\n", "10.9.9.9", false },
	/* Bad lines are ignored, not fatal. */
	{ "\"bogus\"\t\"0.0.0.0\"\t\"DENY\"\t1\n"
	  "\"0.0.0.0\"\t\"0.0.0.0\"\t\"MAYBE\"\t1\n"
	  "\"0.0.0.0\"\t\"0.0.0.0\"\t\"DENY\"\tx\n", "1.2.3.4", true },
};

static void
test_ipmap(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ipmap_cases) / sizeof(ipmap_cases[0]); i++) {
		const struct ipmap_case *c = &ipmap_cases[i];
		struct sockaddr_storage ss = v4(c->ip);
		struct config *cfg;

		put("finger.ipmap.tab", c->table);
		assert_int_equal(config_reload("test"), 0);
		cfg = config_acquire();
		if (config_ipmap_allow(cfg, CFG_FINGER_IPMAP,
		    (struct sockaddr *)&ss) != c->allow)
			fail_msg("case %zu (%s)", i, c->ip);
		config_release(cfg);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vars),
		cmocka_unit_test(test_poll_and_snapshot_isolation),
		cmocka_unit_test(test_ipmap),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
