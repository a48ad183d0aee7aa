/* test_ctrld_user.c - CTRL user, alias, list and mailproc commands */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/rfcdate.h"
#include "ctrld/ctrld_int.h"
#include "store/store.h"
#include "testutil.h"

/* XMCrypt of "test" and "password" (XMAIL-FACTS section 2). */
#define ENC_TEST	"11001611"
#define ENC_PASSWORD	"15041616120a1701"

#define ALICE_REC	"\"home.test\"\t\"alice\"\t\"" ENC_TEST "\"\t1\t" \
			"\"alice\"\t\"U\"\n"
#define STAFF_REC	"\"home.test\"\t\"staff\"\t\"" ENC_PASSWORD "\"\t2\t" \
			"\"staff\"\t\"M\"\n"
#define USERS		ALICE_REC STAFF_REC

static const char	*root;		/* MailRoot of the test */
static bool		 reloaded;	/* last res.reload */

#define A(...)	((const char *const []){ __VA_ARGS__, NULL })

/* put - write a file below the MailRoot (parents created) */
static void
put(const char *name, const char *text)
{
	char path[4096], dir[4096], *slash;

	assert_int_equal(fs_path(path, sizeof(path), root, name), 0);
	assert_true(str_copy(dir, path, sizeof(dir)));
	slash = strrchr(dir, '/');
	*slash = '\0';
	assert_int_equal(fs_mkdir_p(dir, 0700), 0);
	assert_int_equal(fs_write_atomic(path, text, strlen(text), 0600), 0);
}

/* path_of - absolute path of a MailRoot file (static buffer) */
static const char *
path_of(const char *name)
{
	static char path[4096];

	assert_int_equal(fs_path(path, sizeof(path), root, name), 0);
	return path;
}

/* slurp - a MailRoot file's content (free it), NULL when missing */
static char *
slurp(const char *name)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	if (fs_read_file(path_of(name), &b) == -1) {
		assert_int_equal(errno, ENOENT);
		return NULL;
	}
	return buf_take(&b);
}

/* assert_file - a MailRoot file holds exactly `want` (NULL: missing) */
static void
assert_file(const char *name, const char *want)
{
	char *got = slurp(name);

	if (want == NULL)
		assert_null(got);
	else
		assert_string_equal(got, want);
	free(got);
}

/*
 * run - one command as the session runs it (fresh snapshot, upload
 * check first): the result code, the listing into *list (free it).
 */
static int
run(char **list, const char *data, const char *const *argv)
{
	struct ctrld_opts opts = { .timeout = 120, .maildir = true };
	const struct ctrld_cmd *cmd = ctrld_cmd_find(argv[0]);
	struct ctrld_req req;
	struct ctrld_res res;
	size_t argc = 0;

	while (argv[argc] != NULL)
		argc++;
	assert_non_null(cmd);
	assert_in_range(argc - 1, cmd->min_params, cmd->max_params);
	assert_int_equal(config_reload("test"), 0);
	memset(&req, 0, sizeof(req));
	req.cfg = config_acquire();
	req.opts = &opts;
	req.mailroot = root;
	req.argv = (char *const *)argv;
	req.argc = argc;
	req.data = data != NULL ? data : "";
	req.datalen = data != NULL ? strlen(data) : 0;
	req.admin = "admin";
	req.peer = "127.0.0.1";
	memset(&res, 0, sizeof(res));
	buf_init(&res.list, CTRLD_LIST_MAX);
	if (!(cmd->flags & CTRLD_F_UPLOAD) || cmd->check == NULL ||
	    cmd->check(&req, &res) == 0)
		cmd->run(&req, &res);
	reloaded = res.reload;
	if (list != NULL)
		*list = res.code == 100 ? buf_take(&res.list) : NULL;
	buf_clear(&res.list);
	config_release(req.cfg);
	return res.code;
}

/* RUN - a command's code; LIST - its code and listing */
#define RUN(...)	run(NULL, NULL, A(__VA_ARGS__))
#define LIST(l, ...)	run((l), NULL, A(__VA_ARGS__))
#define UPLOAD(d, ...)	run(NULL, (d), A(__VA_ARGS__))

/* assert_list - the command lists exactly `want` */
static void
assert_list(const char *want, const char *const *argv)
{
	char *got = NULL;

	assert_int_equal(run(&got, NULL, argv), 100);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* account - an account tree as useradd would make it */
static void
account(const char *name, bool list)
{
	char p[256];

	assert_int_equal(store_account_create(root, "home.test", name, true,
	    (const char *const []){ "RealName", "", "MaxMBSize", "10000" },
	    2), 0);
	if (list) {
		(void)snprintf(p, sizeof(p), "domains/home.test/%s/mlusers.tab",
		    name);
		put(p, "");
	}
}

/* setup - a MailRoot with alice (user) and staff (list) */
static int
setup(void **state)
{
	if (tu_setup(state) == -1)
		return -1;
	root = *state;
	put("server.tab", "\"RootDomain\"\t\"home.test\"\n");
	put("domains.tab", "\"home.test\"\n\"other.test\"\n");
	put("aliasdomain.tab", "\"alias.test\"\t\"home.test\"\n");
	put("userdef.tab", "\"RealName\"\t\"\"\n\"MaxMBSize\"\t\"10000\"\n");
	put("mailusers.tab", USERS);
	put("aliases.tab", "\"home.test\"\t\"al\"\t\"alice\"\n");
	account("alice", false);
	account("staff", true);
	return config_init(root);
}

/* teardown - drop the snapshot and the MailRoot */
static int
teardown(void **state)
{
	config_shutdown();
	return tu_teardown(state);
}

/*
 * The command table and the shared helpers.
 */

static const struct {
	const char	*name;
	unsigned	 min, max, flags, secret;
} cmd_rows[] = {
	{ "useradd", 4, 4, 0, 1u << 3 },
	{ "userdel", 2, 2, 0, 0 },
	{ "userpasswd", 3, 3, 0, 1u << 3 },
	{ "userauth", 3, 3, 0, 1u << 3 },
	{ "userstat", 2, 2, 0, 0 },
	{ "uservars", 2, 2, 0, 0 },
	{ "uservarsset", 4, CTRLD_ARGS_MAX - 1, 0, 0 },
	{ "userlist", 0, 2, 0, 0 },
	{ "usergetmproc", 2, 3, 0, 0 },
	{ "usersetmproc", 2, 3, CTRLD_F_UPLOAD, 0 },
	{ "mluseradd", 3, 4, 0, 0 },
	{ "mluserdel", 3, 3, 0, 0 },
	{ "mluserlist", 2, 2, 0, 0 },
	{ "aliasadd", 3, 3, 0, 0 },
	{ "aliasdel", 2, 2, 0, 0 },
	{ "aliaslist", 0, 3, 0, 0 },
	{ "exaliasadd", 2, 2, 0, 0 },
	{ "exaliasdel", 1, 1, 0, 0 },
	{ "exaliaslist", 0, 2, 0, 0 },
};

/* test_table - every user command, its counts, flags and secrets */
static void
test_table(void **state)
{
	const struct ctrld_cmd *c;
	char upper[32];
	size_t i, j;

	(void)state;
	assert_int_equal(ctrld_user_ncmds, nitems(cmd_rows));
	for (i = 0; i < nitems(cmd_rows); i++) {
		c = ctrld_cmd_find(cmd_rows[i].name);
		assert_non_null(c);
		assert_string_equal(c->name, cmd_rows[i].name);
		assert_int_equal(c->min_params, cmd_rows[i].min);
		assert_int_equal(c->max_params, cmd_rows[i].max);
		assert_int_equal(c->flags, cmd_rows[i].flags);
		assert_int_equal(c->secret, cmd_rows[i].secret);
		assert_non_null(c->run);
		assert_true((c->check != NULL) == !!(c->flags &
		    CTRLD_F_UPLOAD));
		for (j = 0; cmd_rows[i].name[j] != '\0'; j++)
			upper[j] = (char)(cmd_rows[i].name[j] & ~0x20);
		upper[j] = '\0';
		assert_ptr_equal(ctrld_cmd_find(upper), c);
	}
	assert_null(ctrld_cmd_find("quit"));
	assert_null(ctrld_cmd_find("useradd2"));
	assert_null(ctrld_cmd_find(""));
}

/* test_err_text - XMail's texts; unknown numbers */
static void
test_err_text(void **state)
{
	static const struct {
		int		 code;
		const char	*text;
	} rows[] = {
		{ CTRLD_E_USER_NOT_FOUND, "User not found" },
		{ CTRLD_E_USER_EXIST, "User already exist" },
		{ CTRLD_E_BAD_PASSWORD, "Invalid password" },
		{ CTRLD_E_DOMAIN_NOT_HANDLED, "POP3 domain not handled" },
		{ CTRLD_E_SYNTAX, "Bad CTRL command syntax" },
		{ CTRLD_E_NO_MPROC, "User mail processing file not present" },
		{ CTRLD_E_MLUSER_EXIST, "Mailing list user already exist" },
		{ CTRLD_E_EXALIAS_NOT_FOUND, "External alias not found" },
		{ CTRLD_E_INVALID_PARAM, "Invalid parameter" },
		{ CTRLD_E_ALREADY_EXIST, "Already exist" },
		{ CTRLD_E_TLS_DISABLED, "TLS service disabled" },
		{ 0, "Unknown error code" },
		{ 11, "Unknown error code" },
		{ 268, "Unknown error code" },
		{ -12, "Unknown error code" },
	};
	struct ctrld_res res;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++)
		assert_string_equal(ctrld_err_text(rows[i].code),
		    rows[i].text);
	memset(&res, 0, sizeof(res));
	(void)strcpy(res.text, "old");
	ctrld_fail(&res, CTRLD_E_ALIAS_NOT_FOUND);
	assert_int_equal(res.code, -28);
	assert_string_equal(res.text, "");
}

/* test_list_helpers - ctrld_list_rec and ctrld_list_file */
static void
test_list_helpers(void **state)
{
	const char *want = "\"a\"\t\"b\\\"c\"\nline 1\n.dot\nno newline\n";
	struct ctrld_res res;

	(void)state;
	memset(&res, 0, sizeof(res));	/* works on a zeroed result too */
	assert_int_equal(ctrld_list_rec(&res, A("a", "b\"c"), 2), 0);
	assert_int_equal(res.code, 100);
	assert_int_equal(ctrld_list_rec(&res, A("x\ty"), 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ctrld_list_rec(&res, A("ends\\"), 1), -1);
	put("f1", "line 1\n.dot\nno newline");
	assert_int_equal(ctrld_list_file(&res, AT_FDCWD, path_of("f1")), 0);
	assert_string_equal(res.list.data, want);
	res.code = 0;
	assert_int_equal(ctrld_list_file(&res, AT_FDCWD, path_of("none")), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(symlink("f1", path_of("link")), 0);
	assert_int_equal(ctrld_list_file(&res, AT_FDCWD, path_of("link")), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(ctrld_list_file(&res, AT_FDCWD, path_of("domains")), -1);
	assert_int_equal(errno, EISDIR);
	assert_int_equal(res.code, 0);
	assert_string_equal(res.list.data, want);	/* nothing added */
	put("empty", "");
	assert_int_equal(ctrld_list_file(&res, AT_FDCWD, path_of("empty")), 0);
	assert_int_equal(res.code, 100);
	assert_string_equal(res.list.data, want);
	buf_clear(&res.list);
}

/*
 * useradd.
 */

/* test_useradd - records, ids, trees, reload */
static void
test_useradd(void **state)
{
	struct stat st;

	(void)state;
	assert_int_equal(RUN("useradd", "home.test", "bob", "test", "U"), 0);
	assert_true(reloaded);
	assert_file("mailusers.tab", USERS "\"home.test\"\t\"bob\"\t\""
	    ENC_TEST "\"\t3\t\"bob\"\t\"U\"\n");
	assert_true(fs_is_dir(path_of("domains/home.test/bob/Maildir/new")));
	assert_file("domains/home.test/bob/user.tab",
	    "\"RealName\"\t\"\"\n\"MaxMBSize\"\t\"10000\"\n");
	assert_file("domains/home.test/bob/mlusers.tab", NULL);
	/* Any type but "M" is a user; "M" gets an empty member list. */
	assert_int_equal(RUN("useradd", "HOME.TEST", "News", "x", "M"), 0);
	assert_file("domains/home.test/News/mlusers.tab", "");
	/* An alias domain adds to the real one. */
	assert_int_equal(RUN("useradd", "alias.test", "dora", "", "x"), 0);
	assert_file("mailusers.tab", USERS "\"home.test\"\t\"bob\"\t\""
	    ENC_TEST "\"\t3\t\"bob\"\t\"U\"\n"
	    "\"home.test\"\t\"News\"\t\"1d\"\t4\t\"News\"\t\"M\"\n"
	    "\"home.test\"\t\"dora\"\t\"\"\t5\t\"dora\"\t\"U\"\n");
	/* A domain's own userdef.tab wins over the global one. */
	put("domains/other.test/userdef.tab", "\"X\"\t\"1\"\n");
	assert_int_equal(RUN("useradd", "other.test", "carl", "x", "U"), 0);
	assert_file("domains/other.test/carl/user.tab", "\"X\"\t\"1\"\n");
	assert_int_equal(stat(path_of("mailusers.tab"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* The password is checked as stored. */
	assert_int_equal(RUN("userauth", "home.test", "bob", "test"), 0);
	assert_int_equal(RUN("userauth", "home.test", "dora", ""), 0);
}

/* test_useradd_new_table - no mailusers.tab yet: id 1, mode 0600 */
static void
test_useradd_new_table(void **state)
{
	struct stat st;
	mode_t old = umask(022);

	(void)state;
	assert_int_equal(unlink(path_of("mailusers.tab")), 0);
	assert_int_equal(RUN("useradd", "other.test", "eve", "test", "U"), 0);
	assert_file("mailusers.tab", "\"other.test\"\t\"eve\"\t\"" ENC_TEST
	    "\"\t1\t\"eve\"\t\"U\"\n");
	assert_int_equal(stat(path_of("mailusers.tab"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	(void)umask(old);
}

/* test_useradd_errors - nothing is written on a refusal */
static void
test_useradd_errors(void **state)
{
	static const struct {
		const char	*domain, *name;
		int		 code;
	} rows[] = {
		{ "nowhere.test", "x", -59 },
		{ "home.test", "ALICE", -13 },
		{ "home.test", "al", -26 },
		{ "home.test", "a/b", -33 },
		{ "home.test", "..", -33 },
		{ "home.test", "../x", -33 },
		{ "home.test", ".x", -33 },
		{ "home.test", "a b", -33 },
		{ "home.test", "a*", -33 },
		{ "home.test", "x\r", -33 },
		{ "home.test", "", -33 },
		{ "home.test", "a1234567890123456789012345678901234567890123"
		  "456789012345678901234", -33 },	/* 65 octets */
		{ "../home.test", "x", -59 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		print_message("useradd %s %s\n", rows[i].domain, rows[i].name);
		assert_int_equal(RUN("useradd", rows[i].domain, rows[i].name,
		    "pw", "U"), rows[i].code);
		assert_false(reloaded);
		assert_file("mailusers.tab", USERS);
	}
	assert_false(fs_exists(path_of("domains/x")));
	assert_false(fs_exists(path_of("x")));
	/* A left-over directory is never handed to a new account. */
	put("domains/home.test/ghost/Maildir/new/old-mail", "secret mail\n");
	assert_int_equal(RUN("useradd", "home.test", "ghost", "pw", "U"),
	    -231);
	assert_file("mailusers.tab", USERS);
	assert_file("domains/home.test/ghost/Maildir/new/old-mail",
	    "secret mail\n");
}

/* test_useradd_hash - PasswordHash stores crypt(3) hashes */
static void
test_useradd_hash(void **state)
{
	static const struct {
		const char	*setting, *prefix;
	} rows[] = {
		{ "yescrypt", "$y$" },
		{ "SHA512", "$6$" },
		{ "xmcrypt", ENC_PASSWORD },
	};
	char name[16], line[512], *users, *p;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		(void)snprintf(line, sizeof(line), "\"PasswordHash\"\t\"%s\"\n",
		    rows[i].setting);
		put("server.tab", line);
		(void)snprintf(name, sizeof(name), "h%zu", i);
		assert_int_equal(RUN("useradd", "home.test", name, "password",
		    "U"), 0);
		users = slurp("mailusers.tab");
		(void)snprintf(line, sizeof(line), "\"%s\"\t\"%s", name,
		    rows[i].prefix);
		assert_non_null(p = strstr(users, line));
		free(users);
		assert_int_equal(RUN("userauth", "home.test", name,
		    "password"), 0);
		assert_int_equal(RUN("userauth", "home.test", name,
		    "passwore"), -24);
		/* userpasswd follows the same setting. */
		assert_int_equal(RUN("userpasswd", "home.test", name, "test"),
		    0);
		assert_int_equal(RUN("userauth", "home.test", name, "test"),
		    0);
	}
}

/*
 * userdel.
 */

/* test_userdel - record, tree, aliases, external aliases, POP3 links */
static void
test_userdel(void **state)
{
	(void)state;
	put("aliases.tab", "# aliases\n"
	    "\"home.test\"\t\"al\"\t\"alice\"\n"
	    "\"home.test\"\t\"a2\"\t\"alice@home.test\"\n"
	    "\"other.test\"\t\"a3\"\t\"Alice@HOME.test\"\n"
	    "\"other.test\"\t\"keep\"\t\"alice\"\n"
	    "\"home.test\"\t\"s\"\t\"staff\"\n");
	put("extaliases.tab", "\"ext.test\"\t\"alice\"\t\"home.test\"\t"
	    "\"alice\"\n\"ext.test\"\t\"bob\"\t\"home.test\"\t\"staff\"\n");
	put("pop3links.tab", "\"home.test\"\t\"alice\"\t\"pop.test\"\t\"a\"\t"
	    "\"00\"\t\"CLR\"\n\"home.test\"\t\"staff\"\t\"pop.test\"\t\"s\"\t"
	    "\"00\"\t\"CLR\"\n");
	assert_int_equal(RUN("userdel", "home.test", "ALICE"), 0);
	assert_true(reloaded);
	assert_file("mailusers.tab", STAFF_REC);
	assert_file("aliases.tab", "# aliases\n"
	    "\"other.test\"\t\"keep\"\t\"alice\"\n"
	    "\"home.test\"\t\"s\"\t\"staff\"\n");
	assert_file("extaliases.tab", "\"ext.test\"\t\"bob\"\t\"home.test\"\t"
	    "\"staff\"\n");
	assert_file("pop3links.tab", "\"home.test\"\t\"staff\"\t\"pop.test\""
	    "\t\"s\"\t\"00\"\t\"CLR\"\n");
	assert_false(fs_exists(path_of("domains/home.test/alice")));
	assert_true(fs_exists(path_of("domains/home.test/staff")));
	assert_int_equal(RUN("userdel", "home.test", "alice"), -12);
	assert_false(reloaded);
	assert_int_equal(RUN("userdel", "nowhere.test", "staff"), -59);
	/* Through an alias domain. */
	assert_int_equal(RUN("userdel", "alias.test", "staff"), 0);
	assert_file("mailusers.tab", "");
}

/* test_userdel_hostile_dir - a hand-made record never reaches outside */
static void
test_userdel_hostile_dir(void **state)
{
	(void)state;
	put("mailusers.tab", USERS "\"home.test\"\t\"evil\"\t\"\"\t9\t"
	    "\"../../outside\"\t\"U\"\n");
	put("outside/keep", "precious\n");
	assert_int_equal(RUN("userdel", "home.test", "evil"), 0);
	assert_file("mailusers.tab", USERS);
	assert_file("outside/keep", "precious\n");
	/* Other commands refuse to build paths from it. */
	put("mailusers.tab", USERS "\"home.test\"\t\"evil\"\t\"\"\t9\t"
	    "\"../../outside\"\t\"U\"\n");
	assert_int_equal(UPLOAD("x\n", "usersetmproc", "home.test", "evil"),
	    -20);
	assert_int_equal(RUN("uservarsset", "home.test", "evil", "a", "b"),
	    -20);
	assert_false(fs_exists(path_of("outside/mailproc.tab")));
	assert_false(fs_exists(path_of("outside/user.tab")));
}

/*
 * userpasswd, userauth.
 */

/* test_userpasswd - only the password field changes */
static void
test_userpasswd(void **state)
{
	(void)state;
	put("mailusers.tab", "# users\n" USERS);
	assert_int_equal(RUN("userpasswd", "home.test", "Alice", "password"),
	    0);
	assert_true(reloaded);
	assert_file("mailusers.tab", "# users\n\"home.test\"\t\"alice\"\t\""
	    ENC_PASSWORD "\"\t1\t\"alice\"\t\"U\"\n" STAFF_REC);
	assert_int_equal(RUN("userauth", "home.test", "alice", "password"), 0);
	assert_int_equal(RUN("userauth", "home.test", "alice", "test"), -24);
	assert_int_equal(RUN("userpasswd", "alias.test", "alice", "test"), 0);
	assert_file("mailusers.tab", "# users\n" USERS);
	assert_int_equal(RUN("userpasswd", "home.test", "nobody", "x"), -12);
	assert_int_equal(RUN("userpasswd", "nowhere.test", "alice", "x"),
	    -59);
	assert_file("mailusers.tab", "# users\n" USERS);
	/* Odd passwords are stored encoded, so they cannot break the file. */
	assert_int_equal(RUN("userpasswd", "home.test", "alice", "a\"b\\"), 0);
	assert_int_equal(RUN("userauth", "home.test", "alice", "a\"b\\"), 0);
}

/* test_userauth - table of logins */
static void
test_userauth(void **state)
{
	static const struct {
		const char	*domain, *name, *pass;
		int		 code;
	} rows[] = {
		{ "home.test", "alice", "test", 0 },
		{ "HOME.TEST", "Alice", "test", 0 },
		{ "alias.test", "alice", "test", 0 },
		{ "home.test", "alice", "Test", -24 },
		{ "home.test", "alice", "", -24 },
		{ "home.test", "alice", "test ", -24 },
		{ "home.test", "staff", "password", 0 },
		{ "home.test", "nobody", "test", -12 },
		{ "home.test", "al", "test", -12 },
		{ "nowhere.test", "alice", "test", -12 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++)
		assert_int_equal(RUN("userauth", rows[i].domain, rows[i].name,
		    rows[i].pass), rows[i].code);
}

/*
 * userstat.
 */

/* test_userstat - mailbox figures and the last POP3 login */
static void
test_userstat(void **state)
{
	struct timeval tv[2] = { { 1700000000, 0 }, { 1700000000, 0 } };
	char want[512], date[RFCDATE_MAX];

	(void)state;
	put("domains/home.test/alice/Maildir/new/1.a", "hello\n");
	put("domains/home.test/alice/Maildir/cur/2.b:2,S", "abc\n");
	put("domains/home.test/alice/.ipconn", "192.0.2.7\n");
	assert_int_equal(utimes(path_of("domains/home.test/alice/.ipconn"),
	    tv), 0);
	(void)snprintf(want, sizeof(want), "\"RealAddress\"\t"
	    "\"alice@home.test\"\n\"MailboxSize\"\t\"10\"\n"
	    "\"MailboxMessages\"\t\"2\"\n\"LastLoginTimeDate\"\t\"%s\"\n"
	    "\"LastLoginIP\"\t\"192.0.2.7\"\n",
	    rfcdate(1700000000, date, sizeof(date)));
	assert_list(want, A("userstat", "home.test", "alice"));
	/* An alias and an alias domain give the real address. */
	assert_list(want, A("userstat", "home.test", "al"));
	assert_list(want, A("userstat", "alias.test", "AL"));
	/* No login yet, or a file that is not an address: empty values. */
	assert_list("\"RealAddress\"\t\"staff@home.test\"\n"
	    "\"MailboxSize\"\t\"0\"\n\"MailboxMessages\"\t\"0\"\n"
	    "\"LastLoginTimeDate\"\t\"\"\n\"LastLoginIP\"\t\"\"\n",
	    A("userstat", "home.test", "staff"));
	put("domains/home.test/staff/.ipconn", "1.2.3.4\"\t\"x\n");
	assert_list("\"RealAddress\"\t\"staff@home.test\"\n"
	    "\"MailboxSize\"\t\"0\"\n\"MailboxMessages\"\t\"0\"\n"
	    "\"LastLoginTimeDate\"\t\"\"\n\"LastLoginIP\"\t\"\"\n",
	    A("userstat", "home.test", "staff"));
	assert_int_equal(RUN("userstat", "home.test", "nobody"), -12);
	assert_int_equal(RUN("userstat", "nowhere.test", "alice"), -12);
}

/*
 * userlist.
 */

/* test_userlist - fields, wildcards, passwords shown only on request */
static void
test_userlist(void **state)
{
	(void)state;
	assert_list("\"home.test\"\t\"alice\"\t\"\"\t\"U\"\n"
	    "\"home.test\"\t\"staff\"\t\"\"\t\"M\"\n", A("userlist"));
	assert_list("\"home.test\"\t\"staff\"\t\"\"\t\"M\"\n",
	    A("userlist", "HOME.*", "s*"));
	assert_list("", A("userlist", "other.test"));
	assert_list("", A("userlist", "*", "x?"));
	put("server.tab", "\"CtrlShowPasswords\"\t\"1\"\n");
	put("mailusers.tab", USERS
	    "\"home.test\"\t\"h\"\t\"$y$j9T$abc$def\"\t3\t\"h\"\t\"U\"\n"
	    "\"home.test\"\t\"bad\"\t\"zz\"\t4\t\"bad\"\t\"U\"\n"
	    "\"home.test\"\t\"tab\"\t\"6c\"\t5\t\"tab\"\t\"U\"\n");
	assert_list("\"home.test\"\t\"alice\"\t\"test\"\t\"U\"\n"
	    "\"home.test\"\t\"staff\"\t\"password\"\t\"M\"\n"
	    "\"home.test\"\t\"h\"\t\"$y$j9T$abc$def\"\t\"U\"\n"
	    "\"home.test\"\t\"bad\"\t\"\"\t\"U\"\n"
	    "\"home.test\"\t\"tab\"\t\"\"\t\"U\"\n",
	    A("userlist", "home.test"));
}

/*
 * uservars, uservarsset.
 */

/* test_uservars - set, replace, delete; comments kept */
static void
test_uservars(void **state)
{
	(void)state;
	assert_list("\"RealName\"\t\"\"\n\"MaxMBSize\"\t\"10000\"\n",
	    A("uservars", "home.test", "alice"));
	put("domains/home.test/alice/user.tab",
	    "# own\n\"RealName\"\t\"\"\n\"MaxMBSize\"\t\"10000\"\n");
	assert_int_equal(RUN("uservarsset", "home.test", "alice", "MaxMBSize",
	    "5", "New", "v", "RealName", ".|rm"), 0);
	assert_false(reloaded);
	assert_file("domains/home.test/alice/user.tab",
	    "# own\n\"MaxMBSize\"\t\"5\"\n\"New\"\t\"v\"\n");
	/* The last assignment of a name wins. */
	assert_int_equal(RUN("uservarsset", "alias.test", "ALICE", "A", "1",
	    "New", "w", "A", "2"), 0);
	assert_file("domains/home.test/alice/user.tab",
	    "# own\n\"MaxMBSize\"\t\"5\"\n\"New\"\t\"w\"\n\"A\"\t\"2\"\n");
	/* Deleting a variable that is not there is fine. */
	assert_int_equal(RUN("uservarsset", "home.test", "alice", "Nope",
	    ".|rm"), 0);
	assert_list("\"MaxMBSize\"\t\"5\"\n\"New\"\t\"w\"\n\"A\"\t\"2\"\n",
	    A("uservars", "home.test", "alice"));
	/* Duplicate lines of a variable collapse into one. */
	put("domains/home.test/alice/user.tab",
	    "\"A\"\t\"1\"\n\"B\"\t\"x\"\n\"A\"\t\"1\"\n");
	assert_int_equal(RUN("uservarsset", "home.test", "alice", "A", "3"),
	    0);
	assert_file("domains/home.test/alice/user.tab",
	    "\"A\"\t\"3\"\n\"B\"\t\"x\"\n");
	assert_int_equal(RUN("uservars", "home.test", "nobody"), -12);
	assert_int_equal(RUN("uservars", "nowhere.test", "alice"), -59);
}

/* test_uservarsset_errors - the file stays as it was */
static void
test_uservarsset_errors(void **state)
{
	static const struct {
		const char	*domain, *name, *var, *val;
		int		 code;
	} rows[] = {
		{ "home.test", "alice", "X", "a\rb", -230 },
		{ "home.test", "alice", "X", "a\nb", -230 },
		{ "home.test", "alice", "X", "ends\\", -230 },
		{ "home.test", "alice", "", "v", -230 },
		{ "home.test", "alice", "X\r", "v", -230 },
		{ "home.test", "nobody", "X", "v", -12 },
		{ "nowhere.test", "alice", "X", "v", -59 },
	};
	const char *before = "\"RealName\"\t\"\"\n\"MaxMBSize\"\t\"10000\"\n";
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		assert_int_equal(RUN("uservarsset", rows[i].domain,
		    rows[i].name, rows[i].var, rows[i].val), rows[i].code);
		assert_file("domains/home.test/alice/user.tab", before);
	}
	/* Name without a value. */
	assert_int_equal(RUN("uservarsset", "home.test", "alice", "A", "1",
	    "B"), -103);
	assert_file("domains/home.test/alice/user.tab", before);
}

/*
 * usergetmproc, usersetmproc.
 */

/* test_mproc - user and domain files, merge order, removal */
static void
test_mproc(void **state)
{
	char *l = NULL;

	(void)state;
	assert_int_equal(RUN("usergetmproc", "home.test", "alice"), -116);
	assert_int_equal(UPLOAD("\"mailbox\"\n", "usersetmproc", "home.test",
	    "alice"), 0);
	assert_file("domains/home.test/alice/mailproc.tab", "\"mailbox\"\n");
	assert_list("\"mailbox\"\n", A("usergetmproc", "home.test", "alice"));
	assert_int_equal(UPLOAD("\"redirect\"\t\"x@y.test\"", "usersetmproc",
	    "home.test", "alice", "D"), 0);
	assert_file("domains/home.test/mailproc.tab",
	    "\"redirect\"\t\"x@y.test\"");
	/* Domain first, then the user's, as XMail merges them. */
	assert_list("\"redirect\"\t\"x@y.test\"\n\"mailbox\"\n",
	    A("usergetmproc", "home.test", "alice"));
	assert_list("\"redirect\"\t\"x@y.test\"\n\"mailbox\"\n",
	    A("usergetmproc", "alias.test", "alice", "UD"));
	assert_list("\"mailbox\"\n",
	    A("usergetmproc", "home.test", "alice", "u"));
	assert_list("\"redirect\"\t\"x@y.test\"\n",
	    A("usergetmproc", "home.test", "staff", "D"));
	assert_int_equal(RUN("usergetmproc", "home.test", "staff", "U"), -116);
	assert_int_equal(RUN("usergetmproc", "home.test", "alice", "X"), -116);
	/* An empty upload removes the file. */
	assert_int_equal(UPLOAD("", "usersetmproc", "home.test", "alice",
	    "U"), 0);
	assert_file("domains/home.test/alice/mailproc.tab", NULL);
	assert_int_equal(UPLOAD("", "usersetmproc", "home.test", "alice"), 0);
	assert_int_equal(RUN("usergetmproc", "home.test", "alice", "U"), -116);
	assert_int_equal(RUN("usergetmproc", "home.test", "nobody"), -12);
	assert_int_equal(RUN("usergetmproc", "nowhere.test", "alice"), -59);
	/* A symbolic link is not followed. */
	assert_int_equal(symlink("/etc/passwd",
	    path_of("domains/home.test/alice/mailproc.tab")), 0);
	assert_int_equal(LIST(&l, "usergetmproc", "home.test", "alice", "U"),
	    -19);
	assert_null(l);
}

/* test_usersetmproc_check - refused before the upload starts */
static void
test_usersetmproc_check(void **state)
{
	const struct ctrld_cmd *c = ctrld_cmd_find("usersetmproc");
	struct ctrld_opts opts = { .maildir = true };
	struct ctrld_req req;
	struct ctrld_res res;

	(void)state;
	assert_int_equal(UPLOAD("x\n", "usersetmproc", "nowhere.test",
	    "alice"), -59);
	assert_int_equal(UPLOAD("x\n", "usersetmproc", "home.test", "nobody"),
	    -12);
	assert_false(fs_exists(path_of("domains/home.test/nobody")));
	/* check() alone, as the session calls it on the loop. */
	memset(&req, 0, sizeof(req));
	memset(&res, 0, sizeof(res));
	req.cfg = config_acquire();
	req.opts = &opts;
	req.mailroot = root;
	req.argv = (char *const *)A("usersetmproc", "alias.test", "alice");
	req.argc = 3;
	assert_int_equal(c->check(&req, &res), 0);
	req.argv = (char *const *)A("usersetmproc", "home.test", "ghost");
	assert_int_equal(c->check(&req, &res), -1);
	assert_int_equal(res.code, -12);
	config_release(req.cfg);
}

/*
 * Mailing lists.
 */

/* test_mlusers - add, list, delete members */
static void
test_mlusers(void **state)
{
	(void)state;
	assert_list("", A("mluserlist", "home.test", "staff"));
	assert_int_equal(RUN("mluseradd", "home.test", "staff", "a@x.test"),
	    0);
	assert_int_equal(RUN("mluseradd", "alias.test", "STAFF", "b@x.test",
	    "R"), 0);
	assert_file("domains/home.test/staff/mlusers.tab",
	    "\"a@x.test\"\t\"RW\"\n\"b@x.test\"\t\"R\"\n");
	assert_list("\"a@x.test\"\t\"RW\"\n\"b@x.test\"\t\"R\"\n",
	    A("mluserlist", "home.test", "staff"));
	assert_int_equal(RUN("mluserdel", "home.test", "staff", "A@X.TEST"),
	    0);
	assert_file("domains/home.test/staff/mlusers.tab",
	    "\"b@x.test\"\t\"R\"\n");
	assert_int_equal(RUN("mluserdel", "home.test", "staff", "a@x.test"),
	    -53);
	assert_int_equal(RUN("mluserdel", "home.test", "alice", "b@x.test"),
	    -50);
	assert_int_equal(RUN("mluserlist", "home.test", "alice"), -50);
	assert_int_equal(RUN("mluserlist", "home.test", "nobody"), -12);
	assert_int_equal(RUN("mluserlist", "nowhere.test", "staff"), -59);
}

/* test_mluseradd_errors - the member file stays as it was */
static void
test_mluseradd_errors(void **state)
{
	static const struct {
		const char	*domain, *list, *addr, *perms;
		int		 code;
	} rows[] = {
		{ "home.test", "staff", "B@X.TEST", "RW", -52 },
		{ "home.test", "staff", "nope", "RW", -33 },
		{ "home.test", "staff", "a@", "RW", -33 },
		{ "home.test", "staff", "@x.test", "RW", -33 },
		{ "home.test", "staff", "a b@x.test", "RW", -33 },
		{ "home.test", "staff", "a@x.test\r", "RW", -33 },
		{ "home.test", "staff", "a@x.test", "Z", -230 },
		{ "home.test", "staff", "a@x.test", "", -230 },
		{ "home.test", "alice", "a@x.test", "RW", -50 },
		{ "home.test", "nobody", "a@x.test", "RW", -12 },
		{ "nowhere.test", "staff", "a@x.test", "RW", -59 },
	};
	size_t i;

	(void)state;
	put("domains/home.test/staff/mlusers.tab", "\"b@x.test\"\t\"R\"\n");
	for (i = 0; i < nitems(rows); i++) {
		assert_int_equal(RUN("mluseradd", rows[i].domain, rows[i].list,
		    rows[i].addr, rows[i].perms), rows[i].code);
		assert_file("domains/home.test/staff/mlusers.tab",
		    "\"b@x.test\"\t\"R\"\n");
	}
	assert_file("domains/home.test/alice/mlusers.tab", NULL);
}

/*
 * Aliases.
 */

/* test_aliases - add, list, delete */
static void
test_aliases(void **state)
{
	(void)state;
	assert_int_equal(RUN("aliasadd", "home.test", "bo", "alice"), 0);
	assert_true(reloaded);
	assert_int_equal(RUN("aliasadd", "home.test", "b2", "alice@home.test"),
	    0);
	assert_int_equal(RUN("aliasadd", "other.test", "x", "staff@alias.test"),
	    0);
	assert_int_equal(RUN("aliasadd", "home.test", "list-*", "staff"), 0);
	assert_file("aliases.tab", "\"home.test\"\t\"al\"\t\"alice\"\n"
	    "\"home.test\"\t\"bo\"\t\"alice\"\n"
	    "\"home.test\"\t\"b2\"\t\"alice@home.test\"\n"
	    "\"other.test\"\t\"x\"\t\"staff@alias.test\"\n"
	    "\"home.test\"\t\"list-*\"\t\"staff\"\n");
	assert_list("\"home.test\"\t\"al\"\t\"alice\"\n"
	    "\"home.test\"\t\"bo\"\t\"alice\"\n",
	    A("aliaslist", "home.test", "*", "alice"));
	assert_list("\"other.test\"\t\"x\"\t\"staff@alias.test\"\n",
	    A("aliaslist", "OTHER.test"));
	assert_list("", A("aliaslist", "nowhere.test"));
	assert_int_equal(RUN("aliasdel", "home.test", "BO"), 0);
	assert_true(reloaded);
	assert_int_equal(RUN("aliasdel", "home.test", "bo"), -28);
	assert_false(reloaded);
	assert_list("\"home.test\"\t\"al\"\t\"alice\"\n"
	    "\"home.test\"\t\"b2\"\t\"alice@home.test\"\n"
	    "\"other.test\"\t\"x\"\t\"staff@alias.test\"\n"
	    "\"home.test\"\t\"list-*\"\t\"staff\"\n", A("aliaslist"));
}

/* test_aliasadd_errors - no loops, no shadowing, no hostile values */
static void
test_aliasadd_errors(void **state)
{
	static const struct {
		const char	*domain, *alias, *account;
		int		 code;
	} rows[] = {
		{ "home.test", "z", "nobody", -12 },
		{ "home.test", "loop", "al", -12 },	/* to an alias */
		{ "home.test", "self", "self", -12 },
		{ "home.test", "z", "alice@nowhere.test", -12 },
		{ "home.test", "alice", "staff", -13 },
		{ "alias.test", "Staff", "alice", -13 },
		{ "home.test", "AL", "staff", -26 },
		{ "home.test", "a/b", "alice", -33 },
		{ "home.test", "../x", "alice", -33 },
		{ "a/b", "x", "alice", -33 },
		{ "home.test", "x", "alice\r", -230 },
		{ "home.test", "x", "alice\\", -230 },
		{ "home.test", "x", "x@", -33 },
	};
	const char *before = "\"home.test\"\t\"al\"\t\"alice\"\n";
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		print_message("aliasadd %s %s\n", rows[i].domain,
		    rows[i].alias);
		assert_int_equal(RUN("aliasadd", rows[i].domain, rows[i].alias,
		    rows[i].account), rows[i].code);
		assert_file("aliases.tab", before);
	}
}

/*
 * External aliases.
 */

/* test_exaliases - the file order is remote first */
static void
test_exaliases(void **state)
{
	const char *rec = "\"ext.test\"\t\"dl\"\t\"home.test\"\t\"alice\"\n";

	(void)state;
	assert_int_equal(RUN("exaliasadd", "alice@home.test", "dl@ext.test"),
	    0);
	assert_true(reloaded);
	assert_file("extaliases.tab", rec);
	assert_int_equal(RUN("exaliasadd", "staff@home.test", "DL@EXT.TEST"),
	    -67);
	assert_int_equal(RUN("exaliasadd", "alice", "dl@ext.test"), -33);
	assert_int_equal(RUN("exaliasadd", "alice@home.test", "x@"), -33);
	assert_int_equal(RUN("exaliasadd", "a/b@home.test", "y@ext.test"),
	    -33);
	assert_int_equal(RUN("exaliasadd", "alice@home.test", "y@ext/test"),
	    -33);
	assert_int_equal(RUN("exaliasadd", "alice@home.test", "y*@ext.test"),
	    -33);
	assert_file("extaliases.tab", rec);
	assert_list(rec, A("exaliaslist"));
	assert_list(rec, A("exaliaslist", "*@home.test"));
	assert_list(rec, A("exaliaslist", "alice@home.test", "dl@*"));
	assert_list("", A("exaliaslist", "*@other.test"));
	assert_list("", A("exaliaslist", "*@*", "x@*"));
	assert_int_equal(RUN("exaliaslist", "nope"), -33);
	assert_int_equal(RUN("exaliasdel", "bad"), -33);
	assert_int_equal(RUN("exaliasdel", "DL@ext.test"), 0);
	assert_file("extaliases.tab", "");
	assert_int_equal(RUN("exaliasdel", "dl@ext.test"), -69);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_table),
		T(test_err_text),
		T(test_list_helpers),
		T(test_useradd),
		T(test_useradd_new_table),
		T(test_useradd_errors),
		T(test_useradd_hash),
		T(test_userdel),
		T(test_userdel_hostile_dir),
		T(test_userpasswd),
		T(test_userauth),
		T(test_userstat),
		T(test_userlist),
		T(test_uservars),
		T(test_uservarsset_errors),
		T(test_mproc),
		T(test_usersetmproc_check),
		T(test_mlusers),
		T(test_mluseradd_errors),
		T(test_aliases),
		T(test_aliasadd_errors),
		T(test_exaliases),
	};

	log_init("test_ctrld_user", false, false, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
