/*
 * test_ctrld_sys.c - the CTRL domain, alias-domain, custom-domain, POP3
 * link, file, frozen-queue, ETRN and backup-MX commands (ctrld_sys.c):
 * replies, listings and what they leave on disk, every error path, and
 * the MailRoot path checks of filelist/cfgfileget/cfgfileset against
 * hostile paths and symbolic links.
 *
 * Each test gets a fresh MailRoot and configuration snapshot; a command
 * runs as the session runs it: check() first for uploads, run(), then a
 * new snapshot when it set reload.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/passwd.h"
#include "ctrld/ctrld_int.h"
#include "queue/queue.h"
#include "queue/queue_admin.h"
#include "queue/queue_slog.h"

#define SPLIT		3
#define ARGS_MAX	16
#define INFO		"[192.0.2.1]:4711;[198.51.100.2]:25;" \
			"Mon, 1 Jan 2024 10:00:00 +0000"
#define DATA		"Subject: hi\r\n\r\nbody\r\n"
#define SLOG		"[PeekTime] 1 : x\r\n<<\r\nErrCode   = -5\r\n>>\r\n"

/* One test: a MailRoot, the options and the last result. */
struct tc {
	char			root[PATH_MAX];
	char			outside[PATH_MAX];	/* not in the root */
	struct ctrld_opts	opts;
	struct ctrld_res	res;
};

/* path - "<root>/<name>" (static buffer: one use per statement) */
static const char *
path(struct tc *t, const char *name)
{
	static char p[PATH_MAX];

	assert_int_equal(fs_path(p, sizeof(p), t->root, name), 0);
	return p;
}

/* put - write a file of the MailRoot, creating its directory */
static void
put(struct tc *t, const char *name, const char *text)
{
	char p[PATH_MAX], *slash;

	assert_int_equal(fs_path(p, sizeof(p), t->root, name), 0);
	slash = strrchr(p, '/');
	*slash = '\0';
	assert_int_equal(fs_mkdir_p(p, 0755), 0);
	*slash = '/';
	assert_int_equal(fs_write_atomic(p, text, strlen(text), 0644), 0);
}

/* mkdirs - create a directory of the MailRoot and its parents */
static void
mkdirs(struct tc *t, const char *name)
{
	assert_int_equal(fs_mkdir_p(path(t, name), 0755), 0);
}

/* slurp - a MailRoot file's content (caller frees), NULL if missing */
static char *
slurp(struct tc *t, const char *name)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	if (fs_read_file(path(t, name), &b) == -1) {
		assert_int_equal(errno, ENOENT);
		buf_clear(&b);
		return NULL;
	}
	return buf_take(&b);
}

/* read_abs - a file's content by absolute path (caller frees) */
static char *
read_abs(const char *p)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	assert_int_equal(fs_read_file(p, &b), 0);
	return buf_take(&b);
}

/* new_mode - the mode a file created with `m` gets under the umask */
static mode_t
new_mode(mode_t m)
{
	mode_t u = umask(0);

	(void)umask(u);
	return m & ~u;
}

/* file_has - does the file contain `s`? */
static bool
file_has(struct tc *t, const char *name, const char *s)
{
	char *d = slurp(t, name);
	bool r = d != NULL && strstr(d, s) != NULL;

	free(d);
	return r;
}

/* mode_of - permission bits of a MailRoot file */
static mode_t
mode_of(struct tc *t, const char *name)
{
	struct stat st;

	assert_int_equal(lstat(path(t, name), &st), 0);
	return st.st_mode & 07777;
}

/* reload - a new snapshot after the test changed files itself */
static void
reload(void)
{
	assert_int_equal(config_reload("test"), 0);
}

/* setup - a MailRoot with two domains, accounts and related records */
static int
setup(void **state)
{
	char tmpl[] = "/tmp/postroom-ctrldsys.XXXXXX";
	char out[] = "/tmp/postroom-ctrldsys-out.XXXXXX";
	struct tc *t;

	log_init("test_ctrld_sys", false, false, false);
	if ((t = calloc(1, sizeof(*t))) == NULL || mkdtemp(tmpl) == NULL ||
	    mkdtemp(out) == NULL)
		return -1;
	memcpy(t->root, tmpl, sizeof(tmpl));
	memcpy(t->outside, out, sizeof(out));
	t->opts.split = SPLIT;
	buf_init(&t->res.list, CTRLD_LIST_MAX);
	put(t, "domains.tab", "# handled here\n\"home.test\"\n"
	    "\"other.test\"\n");
	put(t, "mailusers.tab",
	    "\"home.test\"\t\"alice\"\t\"11001611\"\t1\t\"alice\"\t\"U\"\n"
	    "\"other.test\"\t\"bob\"\t\"11001611\"\t2\t\"bob\"\t\"U\"\n");
	put(t, "aliasdomain.tab", "\"alias.test\"\t\"home.test\"\n");
	put(t, "domains/home.test/alice/user.tab", "");
	put(t, "domains/other.test/bob/user.tab", "");
	mkdirs(t, "cmdaliases/home.test");
	mkdirs(t, "cmdaliases/other.test");
	mkdirs(t, "custdomains");
	mkdirs(t, "pop3links");
	*state = t;
	return config_init(t->root);
}

/* teardown - drop the snapshot and both directories */
static int
teardown(void **state)
{
	struct tc *t = *state;
	int r;

	config_shutdown();
	buf_clear(&t->res.list);
	r = fs_rm_tree(t->root);
	if (fs_rm_tree(t->outside) == -1)
		r = -1;
	free(t);
	return r;
}

/* find - the command in ctrld_sys_cmds */
static const struct ctrld_cmd *
find(const char *name)
{
	size_t i;

	for (i = 0; i < ctrld_sys_ncmds; i++)
		if (strcasecmp(ctrld_sys_cmds[i].name, name) == 0)
			return &ctrld_sys_cmds[i];
	return NULL;
}

/*
 * run_v - run a command as the session does: check() for uploads, run(),
 * a new snapshot on reload.  data is the upload (NULL: not an upload).
 * Returns res.code.
 */
static int
run_v(struct tc *t, const char *data, char **argv, size_t argc)
{
	const struct ctrld_cmd *cmd = find(argv[0]);
	struct ctrld_req req;

	assert_non_null(cmd);
	assert_in_range(argc - 1, cmd->min_params, cmd->max_params);
	assert_int_equal((cmd->flags & CTRLD_F_UPLOAD) != 0, data != NULL);
	buf_reset(&t->res.list);
	t->res.code = 0;
	t->res.text[0] = '\0';
	t->res.reload = false;
	memset(&req, 0, sizeof(req));
	req.cfg = config_acquire();
	req.opts = &t->opts;
	req.mailroot = t->root;
	req.argv = argv;
	req.argc = argc;
	req.data = data != NULL ? data : "";
	req.datalen = data != NULL ? strlen(data) : 0;
	req.admin = "admin";
	req.peer = "127.0.0.1";
	if (cmd->check == NULL || cmd->check(&req, &t->res) == 0)
		cmd->run(&req, &t->res);
	else
		assert_true(t->res.code < 0);
	config_release(req.cfg);
	if (t->res.reload)
		reload();
	if (t->res.code != 100)
		assert_int_equal(t->res.list.len, 0);
	return t->res.code;
}

/* run_args - run_v with a NULL-terminated argument list */
static int
run_args(struct tc *t, const char *data, const char *name, ...)
{
	char *argv[ARGS_MAX];
	const char *a;
	size_t argc = 0, i;
	va_list ap;
	int rc;

	argv[argc++] = strdup(name);
	va_start(ap, name);
	while ((a = va_arg(ap, const char *)) != NULL) {
		assert_true(argc < ARGS_MAX);
		argv[argc++] = strdup(a);
	}
	va_end(ap);
	rc = run_v(t, data, argv, argc);
	for (i = 0; i < argc; i++)
		free(argv[i]);
	return rc;
}

#define RUN(t, ...)		run_args((t), NULL, __VA_ARGS__, (char *)NULL)
#define UPLOAD(t, d, ...)	run_args((t), (d), __VA_ARGS__, (char *)NULL)

/* lines - number of listing lines equal to `line` (without its LF) */
static int
lines(struct tc *t, const char *line)
{
	const char *p = t->res.list.data, *nl;
	size_t n = strlen(line);
	int count = 0;

	for (; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		if ((size_t)(nl - p) == n && memcmp(p, line, n) == 0)
			count++;
	}
	return count;
}

/* nlines - number of lines in the listing */
static int
nlines(struct tc *t)
{
	const char *p;
	int n = 0;

	for (p = t->res.list.data; *p != '\0'; p++)
		n += *p == '\n';
	return n;
}

/* assert_text - an error whose XMail text is ctrld_err_text's */
static void
assert_text(struct tc *t, int code, const char *text)
{
	assert_int_equal(t->res.code, code);
	assert_string_equal(t->res.text, "");
	assert_string_equal(ctrld_err_text(-code), text);
}

/* test_table - names, parameter counts, uploads and secrets */
static void
test_table(void **state)
{
	static const char *const names[] = {
		"noop", "domainadd", "domaindel", "domainlist",
		"aliasdomainadd", "aliasdomaindel", "aliasdomainlist",
		"custdomget", "custdomset", "custdomlist", "poplnkadd",
		"poplnkdel", "poplnklist", "poplnkenable", "filelist",
		"cfgfileget", "cfgfileset", "frozlist", "frozsubmit",
		"frozdel", "frozgetlog", "frozgetmsg", "etrn",
		"mxbackupadd", "mxbackupdel", "mxbackuplist",
	};
	const struct ctrld_cmd *c;
	size_t i, j;

	(void)state;
	assert_int_equal(ctrld_sys_ncmds, nitems(names));
	for (i = 0; i < nitems(names); i++) {
		c = find(names[i]);
		assert_non_null(c);
		assert_string_equal(c->name, names[i]);
		assert_true(c->min_params <= c->max_params);
		assert_true(c->max_params < CTRLD_ARGS_MAX);
		assert_non_null(c->run);
		assert_true(((c->flags & CTRLD_F_UPLOAD) != 0) ==
		    (strcmp(names[i], "custdomset") == 0 ||
		    strcmp(names[i], "cfgfileset") == 0));
		assert_true(c->check == NULL ||
		    (c->flags & CTRLD_F_UPLOAD) != 0);
		for (j = 0; j < i; j++)
			assert_ptr_not_equal(c, find(names[j]));
		/* The session finds them, whatever the case. */
		assert_ptr_equal(ctrld_cmd_find(names[i]), c);
	}
	assert_ptr_equal(ctrld_cmd_find("DomainADD"), find("domainadd"));
	assert_int_equal(find("poplnkadd")->secret, 1u << 5);
	assert_int_equal(find("poplnkadd")->min_params, 6);
	assert_int_equal(find("poplnkenable")->min_params, 3);
	assert_int_equal(find("poplnkenable")->max_params, 5);
	assert_int_equal(find("frozsubmit")->min_params, 3);
	assert_int_equal(find("etrn")->min_params, 1);
	assert_int_equal(find("noop")->max_params, 0);
}

/* test_noop - "+00000 OK", nothing else */
static void
test_noop(void **state)
{
	struct tc *t = *state;

	assert_int_equal(RUN(t, "noop"), 0);
	assert_false(t->res.reload);
}

/* test_domainadd - the record, the directories, duplicates, bad names */
static void
test_domainadd(void **state)
{
	struct tc *t = *state;
	static const char *const bad[] = {
		"", "bad_name.test", "-x.test", "x..test", "../x", "a/b",
		"*.test", "x test", "x\ttest",
	};
	char *d;
	size_t i;

	assert_int_equal(RUN(t, "domainadd", "New.Test"), 0);
	assert_true(t->res.reload);
	d = slurp(t, "domains.tab");
	assert_string_equal(d, "# handled here\n\"home.test\"\n"
	    "\"other.test\"\n\"new.test\"\n");
	free(d);
	assert_true(fs_is_dir(path(t, "domains/new.test")));
	assert_true(fs_is_dir(path(t, "cmdaliases/new.test")));
	/* The new snapshot has it. */
	assert_int_equal(RUN(t, "domainlist", "new.*"), 100);
	assert_int_equal(lines(t, "\"new.test\""), 1);

	assert_int_equal(RUN(t, "domainadd", "HOME.test"),
	    -CTRLD_E_ALREADY_EXIST);
	assert_false(t->res.reload);
	assert_int_equal(RUN(t, "domainadd", "new.test"),
	    -CTRLD_E_ALREADY_EXIST);
	for (i = 0; i < nitems(bad); i++) {
		assert_int_equal(RUN(t, "domainadd", bad[i]), -216);
		assert_text(t, -216, "Name does not respect RFC822");
	}
	d = slurp(t, "domains.tab");
	assert_non_null(strstr(d, "\"new.test\"\n"));
	assert_null(strstr(d, "bad"));
	free(d);
	assert_false(fs_exists(path(t, "domains/bad_name.test")));
}

/* fill_domain_refs - records of home.test and other.test in every table */
static void
fill_domain_refs(struct tc *t)
{
	put(t, "aliases.tab", "\"home.test\"\t\"al\"\t\"alice\"\n"
	    "\"other.test\"\t\"bb\"\t\"bob\"\n");
	put(t, "extaliases.tab",
	    "\"ext.test\"\t\"a\"\t\"HOME.test\"\t\"alice\"\n"
	    "\"ext.test\"\t\"b\"\t\"other.test\"\t\"bob\"\n");
	put(t, "pop3links.tab", "\"home.test\"\t\"alice\"\t\"pop.ext\"\t\"a\"\t"
	    "\"04\"\t\"CLR\"\n\"other.test\"\t\"bob\"\t\"pop.ext\"\t\"b\"\t"
	    "\"04\"\t\"CLR\"\n");
	put(t, "aliasdomain.tab", "# aliases\n\"alias.test\"\t\"home.test\"\n"
	    "\"alias2.test\"\t\"other.test\"\n");
	reload();
}

/* test_domaindel - every record of the domain and its trees go */
static void
test_domaindel(void **state)
{
	struct tc *t = *state;
	char target[PATH_MAX];

	fill_domain_refs(t);
	/* A link inside the domain: removed, never followed. */
	assert_int_equal(fs_path(target, sizeof(target), t->outside, "keep"),
	    0);
	assert_int_equal(fs_write_atomic(target, "x", 1, 0600), 0);
	assert_int_equal(symlink(t->outside,
	    path(t, "domains/home.test/alice/evil")), 0);
	assert_int_equal(RUN(t, "domaindel", "Home.Test"), 0);
	assert_true(t->res.reload);
	assert_true(fs_exists(target));
	assert_false(fs_exists(path(t, "domains/home.test")));
	assert_false(fs_exists(path(t, "cmdaliases/home.test")));
	assert_true(fs_exists(path(t, "domains/other.test/bob")));
	assert_true(fs_exists(path(t, "cmdaliases/other.test")));
	assert_false(file_has(t, "domains.tab", "home.test"));
	assert_true(file_has(t, "domains.tab", "# handled here\n"));
	assert_true(file_has(t, "domains.tab", "\"other.test\""));
	assert_false(file_has(t, "mailusers.tab", "home.test"));
	assert_true(file_has(t, "mailusers.tab", "\"bob\""));
	assert_false(file_has(t, "aliases.tab", "home.test"));
	assert_true(file_has(t, "aliases.tab", "\"bb\""));
	assert_false(file_has(t, "extaliases.tab", "\"a\""));
	assert_true(file_has(t, "extaliases.tab", "\"b\""));
	assert_false(file_has(t, "pop3links.tab", "home.test"));
	assert_true(file_has(t, "pop3links.tab", "other.test"));
	assert_false(file_has(t, "aliasdomain.tab", "\"alias.test\""));
	assert_true(file_has(t, "aliasdomain.tab", "# aliases\n"));
	assert_true(file_has(t, "aliasdomain.tab", "\"alias2.test\""));

	assert_int_equal(RUN(t, "domaindel", "home.test"),
	    -CTRLD_E_DOMAIN_NOT_HANDLED);
	assert_false(t->res.reload);
	/* An alias domain is not a handled domain. */
	assert_int_equal(RUN(t, "domaindel", "alias2.test"),
	    -CTRLD_E_DOMAIN_NOT_HANDLED);
	assert_true(file_has(t, "aliasdomain.tab", "\"alias2.test\""));
	assert_int_equal(RUN(t, "domaindel", ".."), -216);
	assert_int_equal(RUN(t, "domaindel", "../other.test"), -216);
	assert_true(fs_exists(path(t, "domains/other.test/bob")));
}

/* test_domainlist - all, OR-ed patterns, no match */
static void
test_domainlist(void **state)
{
	struct tc *t = *state;

	assert_int_equal(RUN(t, "domainlist"), 100);
	assert_string_equal(t->res.list.data,
	    "\"home.test\"\n\"other.test\"\n");
	assert_int_equal(RUN(t, "domainlist", "h*", "*.nomatch"), 100);
	assert_string_equal(t->res.list.data, "\"home.test\"\n");
	assert_int_equal(RUN(t, "domainlist", "O*", "h?me.test"), 100);
	assert_int_equal(nlines(t), 2);
	assert_int_equal(RUN(t, "domainlist", "nothing*"), 100);
	assert_int_equal(t->res.list.len, 0);
}

/* test_aliasdomain - add, duplicates, targets, list filters, delete */
static void
test_aliasdomain(void **state)
{
	struct tc *t = *state;

	assert_int_equal(RUN(t, "aliasdomainadd", "HOME.test", "Other.Alias"),
	    0);
	assert_true(t->res.reload);
	assert_true(file_has(t, "aliasdomain.tab",
	    "\"other.alias\"\t\"home.test\"\n"));
	assert_int_equal(RUN(t, "aliasdomainadd", "other.test", "*.home.test"),
	    0);
	assert_true(file_has(t, "aliasdomain.tab",
	    "\"*.home.test\"\t\"other.test\"\n"));
	/* Duplicates, real domains as aliases, aliases as targets. */
	assert_int_equal(RUN(t, "aliasdomainadd", "other.test", "ALIAS.test"),
	    -CTRLD_E_ADOMAIN_EXIST);
	assert_int_equal(RUN(t, "aliasdomainadd", "home.test", "other.test"),
	    -CTRLD_E_ADOMAIN_EXIST);
	assert_int_equal(RUN(t, "aliasdomainadd", "alias.test", "x.test"),
	    -CTRLD_E_DOMAIN_NOT_HANDLED);
	assert_int_equal(RUN(t, "aliasdomainadd", "nowhere.test", "x.test"),
	    -CTRLD_E_DOMAIN_NOT_HANDLED);
	assert_int_equal(RUN(t, "aliasdomainadd", "home.test", "x/../y"), -216);
	assert_int_equal(RUN(t, "aliasdomainadd", "*.test", "x.test"), -216);
	assert_false(file_has(t, "aliasdomain.tab", "x.test"));

	assert_int_equal(RUN(t, "aliasdomainlist"), 100);
	assert_int_equal(nlines(t), 3);
	assert_int_equal(lines(t, "\"home.test\"\t\"alias.test\""), 1);
	assert_int_equal(lines(t, "\"home.test\"\t\"other.alias\""), 1);
	assert_int_equal(lines(t, "\"other.test\"\t\"*.home.test\""), 1);
	assert_int_equal(RUN(t, "aliasdomainlist", "home.*"), 100);
	assert_int_equal(nlines(t), 2);
	assert_int_equal(RUN(t, "aliasdomainlist", "home.*", "o*"), 100);
	assert_string_equal(t->res.list.data,
	    "\"home.test\"\t\"other.alias\"\n");
	assert_int_equal(RUN(t, "aliasdomainlist", "x*"), 100);
	assert_int_equal(t->res.list.len, 0);

	assert_int_equal(RUN(t, "aliasdomaindel", "Other.ALIAS"), 0);
	assert_true(t->res.reload);
	assert_false(file_has(t, "aliasdomain.tab", "other.alias"));
	assert_int_equal(RUN(t, "aliasdomaindel", "other.alias"),
	    -CTRLD_E_ADOMAIN_NOT_FOUND);
	assert_int_equal(RUN(t, "aliasdomaindel", "home.test"),
	    -CTRLD_E_ADOMAIN_NOT_FOUND);
	assert_true(file_has(t, "aliasdomain.tab", "\"alias.test\""));
}

/* test_custdom - set, get, list, delete with an empty upload */
static void
test_custdom(void **state)
{
	struct tc *t = *state;

	assert_int_equal(RUN(t, "custdomlist"), 100);
	assert_int_equal(t->res.list.len, 0);
	assert_int_equal(RUN(t, "custdomget", "home.test"),
	    -CTRLD_E_NOT_CUSTDOM);
	assert_int_equal(UPLOAD(t, "\"smtprelay\"\t\"mx.test\"\n",
	    "custdomset", "Cust.Test"), 0);
	assert_true(t->res.reload);
	assert_true(file_has(t, "custdomains/cust.test.tab",
	    "\"smtprelay\"\t\"mx.test\"\n"));
	assert_int_equal(mode_of(t, "custdomains/cust.test.tab"),
	    new_mode(0644));
	assert_int_equal(RUN(t, "custdomget", "CUST.test"), 100);
	assert_string_equal(t->res.list.data, "\"smtprelay\"\t\"mx.test\"\n");
	put(t, "custdomains/two.test.tab", "x\n");
	put(t, "custdomains/notes.txt", "x\n");
	mkdirs(t, "custdomains/dir.tab");
	assert_int_equal(symlink("/etc/passwd", path(t,
	    "custdomains/link.test.tab")), 0);
	assert_int_equal(RUN(t, "custdomlist"), 100);
	assert_int_equal(nlines(t), 2);
	assert_int_equal(lines(t, "\"cust.test\""), 1);
	assert_int_equal(lines(t, "\"two.test\""), 1);
	/* A link is never read. */
	assert_int_equal(RUN(t, "custdomget", "link.test"), -CTRLD_E_FILE_OPEN);

	/* The name is checked before the upload starts. */
	assert_int_equal(UPLOAD(t, "x\n", "custdomset", "../../etc/passwd"),
	    -216);
	assert_int_equal(UPLOAD(t, "x\n", "custdomset", "a/b"), -216);
	assert_int_equal(RUN(t, "custdomget", "../domains"), -216);
	assert_false(fs_exists(path(t, "etc")));

	assert_int_equal(UPLOAD(t, "", "custdomset", "cust.test"), 0);
	assert_false(fs_exists(path(t, "custdomains/cust.test.tab")));
	assert_int_equal(UPLOAD(t, "", "custdomset", "cust.test"), 0);
	assert_int_equal(RUN(t, "custdomget", "cust.test"),
	    -CTRLD_E_NOT_CUSTDOM);
}

/* test_poplnkadd - the record, the encoded password, every refusal */
static void
test_poplnkadd(void **state)
{
	struct tc *t = *state;
	struct buf enc;
	char line[512];

	assert_int_equal(RUN(t, "poplnkadd", "home.test", "alice", "pop.ext",
	    "ext-user", "s3cret pw", "APOP"), 0);
	assert_true(t->res.reload);
	buf_init(&enc, 256);
	assert_int_equal(xmcrypt_encode("s3cret pw", &enc), 0);
	(void)snprintf(line, sizeof(line), "\"home.test\"\t\"alice\"\t"
	    "\"pop.ext\"\t\"ext-user\"\t\"%s\"\t\"APOP\"\n", enc.data);
	buf_clear(&enc);
	assert_true(file_has(t, "pop3links.tab", line));
	assert_false(file_has(t, "pop3links.tab", "s3cret"));
	assert_int_equal(mode_of(t, "pop3links.tab"), new_mode(0600));

	assert_int_equal(RUN(t, "poplnkadd", "HOME.TEST", "Alice", "POP.ext",
	    "EXT-user", "other", "CLR"), -CTRLD_E_LINK_EXIST);
	/* Through the alias domain, as XMail's UsrGetUserByName. */
	assert_int_equal(RUN(t, "poplnkadd", "alias.test", "alice", "pop.ext",
	    "second", "pw", "CLR"), 0);
	assert_int_equal(RUN(t, "poplnkadd", "nowhere.test", "alice",
	    "pop.ext", "x", "pw", "CLR"), -CTRLD_E_DOMAIN_NOT_HANDLED);
	assert_int_equal(RUN(t, "poplnkadd", "home.test", "ghost", "pop.ext",
	    "x", "pw", "CLR"), -CTRLD_E_USER_NOT_FOUND);
	assert_int_equal(RUN(t, "poplnkadd", "home.test", "alice", "pop/ext",
	    "x", "pw", "CLR"), -CTRLD_E_INVALID_PARAM);
	assert_int_equal(RUN(t, "poplnkadd", "home.test", "alice", "pop.ext",
	    "../x", "pw", "CLR"), -CTRLD_E_INVALID_PARAM);
	assert_int_equal(RUN(t, "poplnkadd", "home.test", "alice", "pop.ext",
	    "", "pw", "CLR"), -CTRLD_E_INVALID_PARAM);
	/* Cannot be written back identically: refused, file unchanged. */
	assert_int_equal(RUN(t, "poplnkadd", "home.test", "alice", "pop.ext",
	    "y", "pw", "CLR\\"), -CTRLD_E_INVALID_PARAM);
	assert_false(file_has(t, "pop3links.tab", "\"y\""));
}

/* test_poplnklist - fields, hidden and shown passwords, filters */
static void
test_poplnklist(void **state)
{
	struct tc *t = *state;

	assert_int_equal(RUN(t, "poplnkadd", "home.test", "alice", "pop.ext",
	    "a1", "pw1", "CLR"), 0);
	assert_int_equal(RUN(t, "poplnkadd", "other.test", "bob", "pop.ext",
	    "b1", "pw2", "APOP"), 0);
	assert_int_equal(RUN(t, "poplnklist"), 100);
	assert_int_equal(nlines(t), 2);
	assert_int_equal(lines(t, "\"home.test\"\t\"alice\"\t\"pop.ext\"\t"
	    "\"a1\"\t\"\"\t\"CLR\"\t\"ON\""), 1);
	assert_int_equal(RUN(t, "poplnklist", "OTHER.test"), 100);
	assert_string_equal(t->res.list.data, "\"other.test\"\t\"bob\"\t"
	    "\"pop.ext\"\t\"b1\"\t\"\"\t\"APOP\"\t\"ON\"\n");
	assert_int_equal(RUN(t, "poplnklist", "home.test", "bob"), 100);
	assert_int_equal(t->res.list.len, 0);
	/* Wildcards are not patterns here (XMail compares exactly). */
	assert_int_equal(RUN(t, "poplnklist", "*"), 100);
	assert_int_equal(t->res.list.len, 0);

	put(t, "server.tab", "\"CtrlShowPasswords\"\t\"1\"\n");
	reload();
	assert_int_equal(RUN(t, "poplnklist", "home.test", "ALICE"), 100);
	assert_string_equal(t->res.list.data, "\"home.test\"\t\"alice\"\t"
	    "\"pop.ext\"\t\"a1\"\t\"pw1\"\t\"CLR\"\t\"ON\"\n");
}

/* test_poplnkenable - XMail's .disabled marks, both forms, errors */
static void
test_poplnkenable(void **state)
{
	struct tc *t = *state;
	const char *mark1 = "domains/home.test/alice/a1@pop.ext.disabled";
	const char *mark2 = "domains/home.test/alice/a2@pop.ext.disabled";
	char *links, *more;

	assert_int_equal(RUN(t, "poplnkadd", "home.test", "alice", "pop.ext",
	    "a1", "pw", "CLR"), 0);
	assert_int_equal(RUN(t, "poplnkadd", "home.test", "alice", "pop.ext",
	    "a2", "pw", "CLR"), 0);
	/* A non-local link ("@domain": pushed to the spool), by hand. */
	links = slurp(t, "pop3links.tab");
	assert_true(asprintf(&more, "%s\"@far.test\"\t\"x\"\t\"pop.ext\"\t"
	    "\"f1\"\t\"04\"\t\"CLR\"\n", links) > 0);
	put(t, "pop3links.tab", more);
	free(links);
	free(more);
	reload();

	assert_int_equal(RUN(t, "poplnkenable", "0", "home.test", "alice",
	    "pop.ext", "a1"), 0);
	assert_true(fs_exists(path(t, mark1)));
	assert_false(fs_exists(path(t, mark2)));
	assert_int_equal(RUN(t, "poplnklist", "home.test"), 100);
	assert_int_equal(lines(t, "\"home.test\"\t\"alice\"\t\"pop.ext\"\t"
	    "\"a1\"\t\"\"\t\"CLR\"\t\"OFF\""), 1);
	assert_int_equal(lines(t, "\"home.test\"\t\"alice\"\t\"pop.ext\"\t"
	    "\"a2\"\t\"\"\t\"CLR\"\t\"ON\""), 1);
	/* The short form: every link of the account. */
	assert_int_equal(RUN(t, "poplnkenable", "0", "HOME.test", "alice"), 0);
	assert_true(fs_exists(path(t, mark2)));
	assert_int_equal(RUN(t, "poplnkenable", "1", "home.test", "alice",
	    "pop.ext"), 0);
	assert_false(fs_exists(path(t, mark1)));
	assert_false(fs_exists(path(t, mark2)));
	/* Non-local links keep theirs in MailRoot/pop3links/. */
	assert_int_equal(RUN(t, "poplnkenable", "0", "@far.test", "x"), 0);
	assert_true(fs_exists(path(t, "pop3links/f1@pop.ext.disabled")));
	assert_int_equal(RUN(t, "poplnklist", "@far.test"), 100);
	assert_int_equal(lines(t, "\"@far.test\"\t\"x\"\t\"pop.ext\"\t"
	    "\"f1\"\t\"\"\t\"CLR\"\t\"OFF\""), 1);

	assert_int_equal(RUN(t, "poplnkenable", "1", "home.test", "bob"),
	    -CTRLD_E_LINK_NOT_FOUND);
	assert_int_equal(RUN(t, "poplnkenable", "1", "home.test", "alice",
	    "pop.ext", "zz"), -CTRLD_E_LINK_NOT_FOUND);
	assert_int_equal(RUN(t, "poplnkenable", "yes", "home.test", "alice"),
	    -CTRLD_E_INVALID_PARAM);
	assert_int_equal(RUN(t, "poplnkenable", "", "home.test", "alice"),
	    -CTRLD_E_INVALID_PARAM);

	/* Deleting a link takes its mark along. */
	assert_int_equal(RUN(t, "poplnkenable", "0", "home.test", "alice",
	    "pop.ext", "a2"), 0);
	assert_int_equal(RUN(t, "poplnkdel", "home.test", "ALICE", "pop.ext",
	    "A2"), 0);
	assert_true(t->res.reload);
	assert_false(fs_exists(path(t, mark2)));
	assert_false(file_has(t, "pop3links.tab", "\"a2\""));
	assert_true(file_has(t, "pop3links.tab", "\"a1\""));
	assert_true(file_has(t, "pop3links.tab", "\"@far.test\""));
	assert_int_equal(RUN(t, "poplnkdel", "home.test", "alice", "pop.ext",
	    "a2"), -CTRLD_E_LINK_NOT_FOUND);
	assert_int_equal(RUN(t, "poplnkdel", "nowhere.test", "alice",
	    "pop.ext", "a1"), -CTRLD_E_DOMAIN_NOT_HANDLED);
	assert_int_equal(RUN(t, "poplnkdel", "home.test", "ghost", "pop.ext",
	    "a1"), -CTRLD_E_USER_NOT_FOUND);
}

/* Paths every MailRoot file command refuses before touching the disk. */
static const char *const bad_paths[] = {
	"../x", "/etc/passwd", "a/../../x", "..", "domains/..",
	"x..y", "a//b", "a/", "./domains.tab", "domains/./home.test",
	"a\001b", "tab\tname", "a\x7f", "line\nbreak",
};

/* test_filelist - files with sizes, patterns, refusals */
static void
test_filelist(void **state)
{
	struct tc *t = *state;
	char big[1100];
	size_t i;

	put(t, "logs/smtp-1", "12345");
	put(t, "logs/smtp-2", "");
	put(t, "logs/pop3-1", "1");
	mkdirs(t, "logs/smtp-dir");
	assert_int_equal(symlink("/etc/passwd", path(t, "logs/smtp-link")), 0);
	assert_int_equal(RUN(t, "filelist", "logs", "smtp-*"), 100);
	assert_int_equal(nlines(t), 2);
	assert_int_equal(lines(t, "\"smtp-1\"\t\"5\""), 1);
	assert_int_equal(lines(t, "\"smtp-2\"\t\"0\""), 1);
	assert_int_equal(RUN(t, "filelist", "logs", "*"), 100);
	assert_int_equal(nlines(t), 3);
	assert_int_equal(RUN(t, "filelist", "", "*.tab"), 100);
	assert_int_equal(lines(t, "\"domains.tab\"\t\"40\""), 1);
	assert_int_equal(RUN(t, "filelist", "domains/home.test/alice", "*"),
	    100);
	assert_string_equal(t->res.list.data, "\"user.tab\"\t\"0\"\n");
	assert_int_equal(RUN(t, "filelist", "logs", "nomatch"), 100);
	assert_int_equal(t->res.list.len, 0);

	assert_int_equal(RUN(t, "filelist", "missing", "*"), -211);
	assert_text(t, -211, "Listing directory not found");
	assert_int_equal(RUN(t, "filelist", "domains.tab", "*"), -211);
	for (i = 0; i < nitems(bad_paths); i++)
		assert_int_equal(RUN(t, "filelist", bad_paths[i], "*"),
		    -CTRLD_E_BAD_PATH);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(RUN(t, "filelist", big, "*"), -CTRLD_E_BAD_PATH);

	/* Symbolic links to directories, inside or out, are never walked. */
	assert_int_equal(symlink(t->outside, path(t, "out")), 0);
	assert_int_equal(symlink("logs", path(t, "logs2")), 0);
	assert_int_equal(symlink(t->outside, path(t, "logs/out")), 0);
	assert_int_equal(RUN(t, "filelist", "out", "*"), -CTRLD_E_BAD_PATH);
	assert_int_equal(RUN(t, "filelist", "logs2", "*"), -CTRLD_E_BAD_PATH);
	assert_int_equal(RUN(t, "filelist", "logs/out", "*"),
	    -CTRLD_E_BAD_PATH);
	assert_int_equal(RUN(t, "filelist", "logs2/smtp-dir", "*"),
	    -CTRLD_E_BAD_PATH);
}

/* test_cfgfileget - regular files only, never through a link */
static void
test_cfgfileget(void **state)
{
	struct tc *t = *state;
	char secret[PATH_MAX];
	size_t i;

	assert_int_equal(RUN(t, "cfgfileget", "domains.tab"), 100);
	assert_string_equal(t->res.list.data,
	    "# handled here\n\"home.test\"\n\"other.test\"\n");
	put(t, "domains/home.test/mailproc.tab", "\"mailbox\"");
	assert_int_equal(RUN(t, "cfgfileget", "domains/home.test/mailproc.tab"),
	    100);
	assert_string_equal(t->res.list.data, "\"mailbox\"\n");
	put(t, "empty.tab", "");
	assert_int_equal(RUN(t, "cfgfileget", "empty.tab"), 100);
	assert_int_equal(t->res.list.len, 0);

	assert_int_equal(RUN(t, "cfgfileget", "missing.tab"),
	    -CTRLD_E_FILE_OPEN);
	assert_int_equal(RUN(t, "cfgfileget", "nodir/missing.tab"),
	    -CTRLD_E_FILE_OPEN);
	assert_int_equal(RUN(t, "cfgfileget", "domains"), -CTRLD_E_FILE_OPEN);
	assert_int_equal(RUN(t, "cfgfileget", "domains.tab/x"),
	    -CTRLD_E_FILE_OPEN);
	assert_int_equal(mkfifo(path(t, "fifo"), 0600), 0);
	assert_int_equal(RUN(t, "cfgfileget", "fifo"), -CTRLD_E_FILE_OPEN);
	assert_int_equal(RUN(t, "cfgfileget", ""), -CTRLD_E_BAD_PATH);
	for (i = 0; i < nitems(bad_paths); i++)
		assert_int_equal(RUN(t, "cfgfileget", bad_paths[i]),
		    -CTRLD_E_BAD_PATH);

	/* A file outside the MailRoot, reached through links. */
	assert_int_equal(fs_path(secret, sizeof(secret), t->outside, "secret"),
	    0);
	assert_int_equal(fs_write_atomic(secret, "TOP SECRET\n", 11, 0600), 0);
	assert_int_equal(symlink(secret, path(t, "link.tab")), 0);
	assert_int_equal(symlink(t->outside, path(t, "outdir")), 0);
	assert_int_equal(symlink("domains", path(t, "indir")), 0);
	assert_int_equal(symlink("domains.tab", path(t, "inlink.tab")), 0);
	assert_int_equal(RUN(t, "cfgfileget", "link.tab"), -CTRLD_E_BAD_PATH);
	assert_int_equal(RUN(t, "cfgfileget", "outdir/secret"),
	    -CTRLD_E_BAD_PATH);
	assert_int_equal(RUN(t, "cfgfileget", "indir/home.test/alice/user.tab"),
	    -CTRLD_E_BAD_PATH);
	assert_int_equal(RUN(t, "cfgfileget", "inlink.tab"), -CTRLD_E_BAD_PATH);
	assert_int_equal(t->res.list.len, 0);
}

/* test_cfgfileset - atomic replace, modes, removal, links refused */
static void
test_cfgfileset(void **state)
{
	struct tc *t = *state;
	char secret[PATH_MAX], *d;
	struct dirent *de;
	size_t i;
	DIR *dir;

	assert_int_equal(UPLOAD(t, "\"mx.test\"\t\"DOMAIN\"\n", "cfgfileset",
	    "mxbackup.tab"), 0);
	assert_true(t->res.reload);
	d = slurp(t, "mxbackup.tab");
	assert_string_equal(d, "\"mx.test\"\t\"DOMAIN\"\n");
	free(d);
	assert_int_equal(mode_of(t, "mxbackup.tab"), new_mode(0644));
	/* The new snapshot sees it. */
	assert_int_equal(RUN(t, "mxbackuplist"), 100);
	assert_string_equal(t->res.list.data, "\"mx.test\"\t\"DOMAIN\"\n");

	/* Password tables are created private; existing modes are kept. */
	assert_int_equal(UPLOAD(t, "x\n", "cfgfileset", "ctrlaccounts.tab"), 0);
	assert_int_equal(mode_of(t, "ctrlaccounts.tab"), new_mode(0600));
	assert_int_equal(chmod(path(t, "mxbackup.tab"), 0640), 0);
	assert_int_equal(UPLOAD(t, "y\n", "cfgfileset", "mxbackup.tab"), 0);
	assert_int_equal(mode_of(t, "mxbackup.tab"), 0640);
	assert_int_equal(UPLOAD(t, "z\n", "cfgfileset",
	    "domains/home.test/alice/mailproc.tab"), 0);
	assert_true(file_has(t, "domains/home.test/alice/mailproc.tab", "z\n"));

	/* Empty: removed; removing again is fine. */
	assert_int_equal(UPLOAD(t, "", "cfgfileset", "mxbackup.tab"), 0);
	assert_false(fs_exists(path(t, "mxbackup.tab")));
	assert_int_equal(UPLOAD(t, "", "cfgfileset", "mxbackup.tab"), 0);

	/* Refused before "+00101 OK". */
	assert_int_equal(UPLOAD(t, "x\n", "cfgfileset", ""), -CTRLD_E_BAD_PATH);
	for (i = 0; i < nitems(bad_paths); i++)
		assert_int_equal(UPLOAD(t, "x\n", "cfgfileset", bad_paths[i]),
		    -CTRLD_E_BAD_PATH);
	assert_false(fs_exists(path(t, "x")));
	assert_false(fs_exists(path(t, "a")));

	/* Links: neither the target nor the link changes. */
	assert_int_equal(fs_path(secret, sizeof(secret), t->outside, "victim"),
	    0);
	assert_int_equal(fs_write_atomic(secret, "orig\n", 5, 0600), 0);
	assert_int_equal(symlink(secret, path(t, "link.tab")), 0);
	assert_int_equal(symlink(t->outside, path(t, "outdir")), 0);
	assert_int_equal(UPLOAD(t, "evil\n", "cfgfileset", "link.tab"),
	    -CTRLD_E_BAD_PATH);
	assert_int_equal(UPLOAD(t, "", "cfgfileset", "link.tab"),
	    -CTRLD_E_BAD_PATH);
	assert_int_equal(UPLOAD(t, "evil\n", "cfgfileset", "outdir/victim"),
	    -CTRLD_E_BAD_PATH);
	assert_int_equal(UPLOAD(t, "evil\n", "cfgfileset", "outdir/new"),
	    -CTRLD_E_BAD_PATH);
	assert_false(t->res.reload);
	assert_true(fs_exists(path(t, "link.tab")));
	d = read_abs(secret);
	assert_string_equal(d, "orig\n");
	free(d);
	assert_false(fs_exists(path(t, "outdir/new")));

	/* Directories and missing parents. */
	assert_int_equal(UPLOAD(t, "x\n", "cfgfileset", "domains"), -10);
	assert_text(t, -10, "Unable to create file");
	assert_true(fs_is_dir(path(t, "domains/home.test")));
	assert_int_equal(UPLOAD(t, "x\n", "cfgfileset", "nodir/new.tab"), -10);
	assert_false(fs_exists(path(t, "nodir")));

	/* No temporary left behind. */
	assert_non_null(dir = opendir(t->root));
	while ((de = readdir(dir)) != NULL)
		assert_null(strstr(de->d_name, ".tmp."));
	(void)closedir(dir);
}

/* submit - spool a message for rcpt and freeze it when asked */
static struct queue_ref
submit(struct tc *t, const char *from, const char *rcpt, bool freeze)
{
	char mf[400], rt[400];
	const char *rcpts[1] = { rt };
	struct queue_env env = {
		.info = INFO, .smtp_domain = "mx.example.org", .msgid = "S1A",
		.mail_from = mf, .rcpts = rcpts, .nrcpts = 1,
	};
	struct queue_ref ref;

	(void)snprintf(mf, sizeof(mf), "MAIL FROM:<%s>", from);
	(void)snprintf(rt, sizeof(rt), "RCPT TO:<%s>", rcpt);
	assert_int_equal(queue_submit(t->root, SPLIT, &env, DATA,
	    sizeof(DATA) - 1, &ref), 0);
	if (freeze)
		assert_int_equal(queue_move(t->root, &ref, "mess", "froz"), 0);
	return ref;
}

/* spool_exists - does r exist in dir? */
static bool
spool_exists(struct tc *t, const struct queue_ref *r, const char *dir)
{
	char p[PATH_MAX];

	assert_int_equal(queue_path(t->root, r, dir, p, sizeof(p)), 0);
	return fs_exists(p);
}

/* lev - a level as text (static buffers, two at a time) */
static const char *
lev(int v, int which)
{
	static char s[2][16];

	(void)snprintf(s[which], sizeof(s[which]), "%d", v);
	return s[which];
}

/* test_frozlist - frozen messages only, with their fields */
static void
test_frozlist(void **state)
{
	struct tc *t = *state;
	struct queue_ref f, n;
	char line[1024], when[32], p[PATH_MAX];
	/* An old arrival: the time shown is the file's, not the listing's. */
	struct timespec ts[2] = { { 1577934245, 0 }, { 1577934245, 0 } };
	struct stat st;
	struct tm tm;

	assert_int_equal(RUN(t, "frozlist"), 100);
	assert_int_equal(t->res.list.len, 0);
	f = submit(t, "alice@home.test", "bob@remote.test", true);
	n = submit(t, "", "carol@remote.test", false);
	assert_int_equal(queue_path(t->root, &f, "froz", p, sizeof(p)), 0);
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(RUN(t, "frozlist"), 100);
	assert_int_equal(nlines(t), 1);
	assert_non_null(localtime_r(&ts[1].tv_sec, &tm));
	assert_true(strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm) > 0);
	(void)snprintf(line, sizeof(line), "\"%s\"\t\"%d\"\t\"%d\"\t"
	    "\"<alice@home.test>\"\t\"<bob@remote.test>\"\t\"%s\"\t\"%lld\"",
	    f.name, f.l1, f.l2, when, (long long)st.st_size);
	assert_int_equal(lines(t, line), 1);
	/* A null sender shows as "<>". */
	assert_int_equal(queue_move(t->root, &n, "mess", "froz"), 0);
	assert_int_equal(RUN(t, "frozlist"), 100);
	assert_int_equal(nlines(t), 2);
	assert_non_null(strstr(t->res.list.data, "\t\"<>\"\t"
	    "\"<carol@remote.test>\"\t"));
}

/* test_frozen_actions - getmsg, getlog, submit, delete */
static void
test_frozen_actions(void **state)
{
	struct tc *t = *state;
	struct queue_ref f, g;
	char *req;

	f = submit(t, "alice@home.test", "bob@remote.test", true);
	g = submit(t, "alice@home.test", "dave@remote.test", true);
	assert_int_equal(queue_slog_append(t->root, &f, SLOG, strlen(SLOG)), 0);

	assert_int_equal(RUN(t, "frozgetmsg", lev(f.l1, 0), lev(f.l2, 1),
	    f.name), 100);
	assert_non_null(strstr(t->res.list.data, "RCPT TO:<bob@remote.test>"));
	assert_non_null(strstr(t->res.list.data, "Subject: hi"));
	assert_int_equal(RUN(t, "frozgetlog", lev(f.l1, 0), lev(f.l2, 1),
	    f.name), 100);
	assert_non_null(strstr(t->res.list.data, "ErrCode   = -5"));
	/* No log yet: XMail cannot open it either. */
	assert_int_equal(RUN(t, "frozgetlog", lev(g.l1, 0), lev(g.l2, 1),
	    g.name), -CTRLD_E_FILE_OPEN);

	assert_int_equal(RUN(t, "frozsubmit", lev(f.l1, 0), lev(f.l2, 1),
	    f.name), 0);
	assert_false(spool_exists(t, &f, "froz"));
	assert_true(spool_exists(t, &f, "mess"));
	assert_false(spool_exists(t, &f, "slog"));
	req = slurp(t, ".queue-requests");
	assert_non_null(req);
	assert_string_equal(req, "rescan\n");
	free(req);
	/* Not frozen any more. */
	assert_int_equal(RUN(t, "frozsubmit", lev(f.l1, 0), lev(f.l2, 1),
	    f.name), -CTRLD_E_SPOOL_FILE);
	assert_int_equal(RUN(t, "frozdel", lev(f.l1, 0), lev(f.l2, 1),
	    f.name), -CTRLD_E_SPOOL_FILE);
	assert_int_equal(RUN(t, "frozgetmsg", lev(f.l1, 0), lev(f.l2, 1),
	    f.name), -CTRLD_E_SPOOL_FILE);
	assert_true(spool_exists(t, &f, "mess"));

	assert_int_equal(RUN(t, "frozdel", lev(g.l1, 0), lev(g.l2, 1), g.name),
	    0);
	assert_false(spool_exists(t, &g, "froz"));
	assert_int_equal(RUN(t, "frozlist"), 100);
	assert_int_equal(t->res.list.len, 0);
}

/* test_frozen_args - levels, names and buckets are checked strictly */
static void
test_frozen_args(void **state)
{
	struct tc *t = *state;
	static const char *const cmds[] = {
		"frozsubmit", "frozdel", "frozgetlog", "frozgetmsg",
	};
	struct queue_ref f;
	char other[16];
	size_t i;

	f = submit(t, "alice@home.test", "bob@remote.test", true);
	(void)snprintf(other, sizeof(other), "%d", (f.l2 + 1) % SPLIT);
	for (i = 0; i < nitems(cmds); i++) {
		const char *c = cmds[i];

		assert_int_equal(RUN(t, c, "3", lev(f.l2, 1), f.name),
		    -CTRLD_E_SPOOL_FILE);
		assert_int_equal(RUN(t, c, lev(f.l1, 0), "999", f.name),
		    -CTRLD_E_SPOOL_FILE);
		assert_int_equal(RUN(t, c, "-1", lev(f.l2, 1), f.name),
		    -CTRLD_E_SPOOL_FILE);
		assert_int_equal(RUN(t, c, "", lev(f.l2, 1), f.name),
		    -CTRLD_E_SPOOL_FILE);
		assert_int_equal(RUN(t, c, "0x1", lev(f.l2, 1), f.name),
		    -CTRLD_E_SPOOL_FILE);
		assert_int_equal(RUN(t, c, lev(f.l1, 0), other, f.name),
		    -CTRLD_E_SPOOL_FILE);
		assert_int_equal(RUN(t, c, lev(f.l1, 0), lev(f.l2, 1),
		    "../froz/x"), -CTRLD_E_SPOOL_FILE);
		assert_int_equal(RUN(t, c, lev(f.l1, 0), lev(f.l2, 1), "."),
		    -CTRLD_E_SPOOL_FILE);
		assert_int_equal(RUN(t, c, lev(f.l1, 0), lev(f.l2, 1), ""),
		    -CTRLD_E_SPOOL_FILE);
		assert_int_equal(RUN(t, c, lev(f.l1, 0), lev(f.l2, 1),
		    "nosuch"), -CTRLD_E_SPOOL_FILE);
	}
	/* A link in froz/ is not a frozen message. */
	{
		char p[PATH_MAX];
		struct queue_ref l = f;

		assert_true(str_copy(l.name, "link", sizeof(l.name)));
		assert_int_equal(queue_path(t->root, &l, "froz", p, sizeof(p)),
		    0);
		assert_int_equal(symlink("/etc/passwd", p), 0);
		assert_int_equal(RUN(t, "frozgetmsg", lev(f.l1, 0),
		    lev(f.l2, 1), "link"), -CTRLD_E_SPOOL_FILE);
	}
	assert_true(spool_exists(t, &f, "froz"));
	assert_false(fs_exists(path(t, ".queue-requests")));
}

/* test_etrn - one flush request per pattern */
static void
test_etrn(void **state)
{
	struct tc *t = *state;
	char *req;

	assert_int_equal(RUN(t, "etrn", "*@*.mydomain.com", "your-domain.org"),
	    0);
	req = slurp(t, ".queue-requests");
	assert_string_equal(req, "flush\t*@*.mydomain.com\n"
	    "flush\tyour-domain.org\n");
	free(req);
	assert_int_equal(RUN(t, "etrn", "bad\x01pattern"),
	    -CTRLD_E_INVALID_PARAM);
	req = slurp(t, ".queue-requests");
	assert_null(strstr(req, "bad"));
	free(req);
}

/* test_mxbackup - add (modes), refusals, list, delete */
static void
test_mxbackup(void **state)
{
	struct tc *t = *state;

	assert_int_equal(RUN(t, "mxbackuplist"), 100);
	assert_int_equal(t->res.list.len, 0);
	assert_int_equal(RUN(t, "mxbackupadd", "Partner.Test"), 0);
	assert_true(t->res.reload);
	assert_int_equal(RUN(t, "mxbackupadd", "mx.example.com", "host"), 0);
	assert_true(file_has(t, "mxbackup.tab", "\"partner.test\"\t\"DOMAIN\"\n"
	    "\"mx.example.com\"\t\"HOST\"\n"));
	assert_int_equal(RUN(t, "mxbackupadd", "PARTNER.test", "HOST"),
	    -CTRLD_E_ALREADY_EXIST);
	assert_int_equal(RUN(t, "mxbackupadd", "x.test", "BOTH"),
	    -CTRLD_E_INVALID_PARAM);
	assert_int_equal(RUN(t, "mxbackupadd", "home.test"),
	    -CTRLD_E_DOMAIN_EXIST);
	assert_int_equal(RUN(t, "mxbackupadd", "alias.test"),
	    -CTRLD_E_DOMAIN_EXIST);
	assert_int_equal(RUN(t, "mxbackupadd", "bad_name.test"), -216);
	assert_int_equal(RUN(t, "mxbackupadd", "*.test"), -216);
	assert_false(file_has(t, "mxbackup.tab", "x.test"));

	assert_int_equal(RUN(t, "mxbackuplist"), 100);
	assert_string_equal(t->res.list.data, "\"partner.test\"\t\"DOMAIN\"\n"
	    "\"mx.example.com\"\t\"HOST\"\n");
	assert_int_equal(RUN(t, "mxbackuplist", "*.com"), 100);
	assert_string_equal(t->res.list.data, "\"mx.example.com\"\t\"HOST\"\n");

	assert_int_equal(RUN(t, "mxbackupdel", "PARTNER.TEST"), 0);
	assert_true(t->res.reload);
	assert_false(file_has(t, "mxbackup.tab", "partner"));
	assert_int_equal(RUN(t, "mxbackupdel", "partner.test"),
	    -CTRLD_E_NOT_FOUND);
	assert_int_equal(RUN(t, "mxbackuplist"), 100);
	assert_int_equal(nlines(t), 1);
}

/* test_io_errors - a table or directory that cannot be written */
static void
test_io_errors(void **state)
{
	struct tc *t = *state;
	char *d;

	mkdirs(t, "mxbackup.tab");
	assert_int_equal(RUN(t, "mxbackupadd", "partner.test"), -10);
	assert_text(t, -10, "Unable to create file");
	assert_false(t->res.reload);
	assert_int_equal(RUN(t, "mxbackupdel", "partner.test"), -10);
	/* The directories come first: no record for a domain without them. */
	assert_int_equal(fs_rm_tree(path(t, "cmdaliases")), 0);
	put(t, "cmdaliases", "not a directory\n");
	assert_int_equal(RUN(t, "domainadd", "new.test"), -10);
	d = slurp(t, "domains.tab");
	assert_null(strstr(d, "new.test"));
	free(d);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_table),
		T(test_noop),
		T(test_domainadd),
		T(test_domaindel),
		T(test_domainlist),
		T(test_aliasdomain),
		T(test_custdom),
		T(test_poplnkadd),
		T(test_poplnklist),
		T(test_poplnkenable),
		T(test_filelist),
		T(test_cfgfileget),
		T(test_cfgfileset),
		T(test_frozlist),
		T(test_frozen_actions),
		T(test_frozen_args),
		T(test_etrn),
		T(test_mxbackup),
		T(test_io_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
