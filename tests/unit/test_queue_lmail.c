/*
 * test_queue_lmail.c - the local mailer (queue/queue_lmail.c, T9).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "queue/queue.h"
#include "queue/queue_lmail.h"

#define SPLIT		2
#define SMTPDOM		"mx.example.test"
#define RCVD_BY		"\tby " SMTPDOM \
			" with [postroom LMAIL Server]\r\n"
#define MSG		"Subject: hi\r\n\r\nbody\r\n"
#define ENV2		"mail from:<s@remote.test>\r\n" \
			"rcpt to:<alice@example.test>\r\n" \
			"rcpt to:<bob@example.test>\r\n\r\n"

/* LIT - a string literal and its length, NUL bytes inside included */
#define LIT(s)		s, sizeof(s) - 1

static char root[PATH_MAX];

/* tpath - "<root>/<name>" in a static buffer: one use per statement */
static const char *
tpath(const char *name)
{
	static char p[PATH_MAX];

	assert_int_equal(fs_path(p, sizeof(p), root, name), 0);
	return p;
}

/* put - write spool/local/<name> (len bytes) */
static void
put(const char *name, const char *data, size_t len)
{
	char path[PATH_MAX];
	int fd;

	assert_int_equal(fs_path(path, sizeof(path), tpath("spool/local"),
	    name), 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fs_write_all(fd, data, len), 0);
	assert_int_equal(close(fd), 0);
}

/* put_s - put for a C string */
static void
put_s(const char *name, const char *data)
{
	put(name, data, strlen(data));
}

/* local_has - spool/local/<name> exists */
static bool
local_has(const char *name)
{
	char path[PATH_MAX];

	assert_int_equal(fs_path(path, sizeof(path), tpath("spool/local"),
	    name), 0);
	return fs_exists(path);
}

/* quar_has - spool/quarantine/<name> exists */
static bool
quar_has(const char *name)
{
	char path[PATH_MAX];

	assert_int_equal(fs_path(path, sizeof(path),
	    tpath("spool/quarantine"), name), 0);
	return fs_exists(path);
}

/* count_mess - spool files in mess/ of every bucket */
static long
count_mess(int split)
{
	long n = queue_scan(root, split, "mess", NULL, NULL);

	assert_true(n >= 0);
	return n;
}

/* run - queue_lmail_run on the current snapshot */
static long
run(int split, size_t max, struct queue_ref **refs, size_t *nrefs)
{
	struct config *cfg = config_acquire();
	long r;

	r = queue_lmail_run(cfg, split, max, refs, nrefs);
	config_release(cfg);
	return r;
}

/* run_expect - run, expect `files` processed, free the refs */
static void
run_expect(int split, size_t max, long files, size_t nrefs_want)
{
	struct queue_ref *refs;
	size_t nrefs;

	assert_int_equal(run(split, max, &refs, &nrefs), files);
	assert_int_equal(nrefs, nrefs_want);
	free(refs);
}

/* load - read back a spool file named by ref */
static void
load(const struct queue_ref *r, struct queue_file *qf)
{
	char path[PATH_MAX];

	assert_int_equal(queue_path(root, r, "mess", path, sizeof(path)), 0);
	assert_int_equal(queue_file_load(path, 1 << 20, qf), 0);
}

/*
 * assert_data - spool data is the LMAIL Received: header for from/first
 * with this message id, then exactly `msg`.
 */
static void
assert_data(const struct queue_file *qf, const char *from, const char *first,
    const char *msg)
{
	char want[1024];
	const char *p;
	int n;

	n = snprintf(want, sizeof(want), "Received: from /spool/local\r\n"
	    RCVD_BY "\tid <%s> for <%s> from <%s>;\r\n\t", qf->msgid, first,
	    from);
	assert_true(n > 0 && (size_t)n < sizeof(want));
	assert_true(qf->datalen > (size_t)n);
	assert_memory_equal(qf->data, want, (size_t)n);
	/* The date line, then the message. */
	p = memchr(qf->data + n, '\n', qf->datalen - (size_t)n);
	assert_non_null(p);
	assert_int_equal(p[-1], '\r');
	p++;
	assert_int_equal(qf->datalen - (size_t)(p - qf->data), strlen(msg));
	assert_memory_equal(p, msg, strlen(msg));
}

/* setup - fresh MailRoot with server.tab and spool/local */
static int
setup(void **state)
{
	static const char tab[] = "\"RootDomain\"\t\"example.test\"\n"
	    "\"SmtpServerDomain\"\t\"" SMTPDOM "\"\n";

	(void)state;
	(void)snprintf(root, sizeof(root), "/tmp/postroom-test-lmail.XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	if (fs_write_new(tpath("server.tab"), tab, strlen(tab), 0600) == -1 ||
	    fs_mkdir_p(tpath("spool/local"), 0700) == -1)
		return -1;
	return config_init(root);
}

/* teardown - drop the snapshot and the MailRoot */
static int
teardown(void **state)
{
	(void)state;
	config_shutdown();
	return fs_rm_tree(root);
}

/* test_spool - one spool file per recipient, header lines, removal */
static void
test_spool(void **state)
{
	struct queue_file qf[2];
	struct queue_ref *refs;
	size_t nrefs;

	(void)state;
	put_s("100-001.1.host", ENV2 MSG);
	assert_int_equal(run(SPLIT, 0, &refs, &nrefs), 1);
	assert_int_equal(nrefs, 2);
	assert_false(local_has("100-001.1.host"));
	assert_int_equal(count_mess(SPLIT), 2);
	load(&refs[0], &qf[0]);
	load(&refs[1], &qf[1]);
	assert_int_equal(strncmp(qf[0].info, "[127.0.0.1]:0;[127.0.0.1]:0;",
	    28), 0);
	assert_true(strlen(qf[0].info) > 28 + 20);
	assert_string_equal(qf[0].smtp_domain, SMTPDOM);
	assert_int_equal(qf[0].msgid[0], 'L');
	assert_true(strspn(qf[0].msgid + 1, "0123456789ABCDEF") ==
	    strlen(qf[0].msgid + 1) && qf[0].msgid[1] != '\0');
	assert_string_equal(qf[0].msgid, qf[1].msgid);
	assert_string_equal(qf[0].mail_from, "MAIL FROM:<s@remote.test>");
	assert_string_equal(qf[1].mail_from, "MAIL FROM:<s@remote.test>");
	assert_string_equal(qf[0].rcpt, "RCPT TO:<alice@example.test>");
	assert_string_equal(qf[1].rcpt, "RCPT TO:<bob@example.test>");
	/* Both carry the same data: "for" names the first recipient. */
	assert_data(&qf[0], "s@remote.test", "alice@example.test", MSG);
	assert_data(&qf[1], "s@remote.test", "alice@example.test", MSG);
	queue_file_free(&qf[0]);
	queue_file_free(&qf[1]);
	free(refs);
	/* Nothing left: the next run does nothing. */
	run_expect(SPLIT, 0, 0, 0);
	assert_false(fs_exists(tpath("spool/quarantine")));
}

/* A good file and the message that must come out of it. */
struct good_case {
	const char	*name;
	const char	*in;		/* whole local file */
	size_t		 inlen;		/* 0: strlen(in) */
	const char	*from;		/* envelope sender as spooled */
	const char	*rcpt;		/* first recipient */
	const char	*msg;		/* message after Received: */
};

static const struct good_case good_cases[] = {
	{ "crlf", "mail from:<a@b.test>\r\nrcpt to:<c@d.test>\r\n\r\n"
	    "X: 1\r\n\r\nline\r\n", 0, "a@b.test", "c@d.test",
	    "X: 1\r\n\r\nline\r\n" },
	{ "lf only", "mail from:<a@b.test>\nrcpt to:<c@d.test>\n\n"
	    "X: 1\n\nline 1\nline 2\n", 0, "a@b.test", "c@d.test",
	    "X: 1\r\n\r\nline 1\r\nline 2\r\n" },
	{ "bare cr and mixed", "mail from:<a@b.test>\r\nrcpt to:<c@d.test>\n"
	    "\r\nA\rB\nC\r\nD\r\r\nE", 0, "a@b.test", "c@d.test",
	    "A\r\nB\r\nC\r\nD\r\n\r\nE\r\n" },
	{ "keywords any case, blanks", "MAIL FROM: <a@b.test> \r\n"
	    "Rcpt To:\t<c@d.test>\t\r\n\r\nx\r\n", 0, "a@b.test", "c@d.test",
	    "x\r\n" },
	{ "null sender", "mail from:<>\r\nrcpt to:<c@d.test>\r\n\r\nx\r\n",
	    0, "", "c@d.test", "x\r\n" },
	{ "empty message", "mail from:<a@b.test>\r\nrcpt to:<c@d.test>\r\n"
	    "\r\n", 0, "a@b.test", "c@d.test", "" },
	{ "source route dropped", "mail from:<@r.test:a@b.test>\r\n"
	    "rcpt to:<c@d.test>\r\n\r\nx\r\n", 0, "a@b.test", "c@d.test",
	    "x\r\n" },
	{ "utf8 address", "mail from:<j\xc3\xb6rg@b.test>\r\n"
	    "rcpt to:<c@d.test>\r\n\r\nx\r\n", 0, "j\xc3\xb6rg@b.test",
	    "c@d.test", "x\r\n" },
	{ "dots not unstuffed", "mail from:<a@b.test>\r\nrcpt to:<c@d.test>"
	    "\r\n\r\n..x\r\n.\r\n", 0, "a@b.test", "c@d.test",
	    "..x\r\n.\r\n" },
	{ "nul in message kept", LIT("mail from:<a@b.test>\r\n"
	    "rcpt to:<c@d.test>\r\n\r\na\0b\r\n"), "a@b.test", "c@d.test",
	    NULL },
};

/* test_good - the table of accepted files */
static void
test_good(void **state)
{
	const struct good_case *c;
	struct queue_file qf;
	struct queue_ref *refs;
	char mf[600];
	size_t i, nrefs;

	(void)state;
	for (i = 0; i < nitems(good_cases); i++) {
		c = &good_cases[i];
		print_message("case: %s\n", c->name);
		put("f", c->in, c->inlen != 0 ? c->inlen : strlen(c->in));
		assert_int_equal(run(SPLIT, 0, &refs, &nrefs), 1);
		assert_int_equal(nrefs, 1);
		assert_false(local_has("f"));
		load(&refs[0], &qf);
		(void)snprintf(mf, sizeof(mf), "MAIL FROM:<%s>", c->from);
		assert_string_equal(qf.mail_from, mf);
		if (c->msg != NULL)
			assert_data(&qf, c->from, c->rcpt, c->msg);
		else
			assert_memory_equal(qf.data + qf.datalen - 5,
			    "a\0b\r\n", 5);
		queue_file_free(&qf);
		assert_int_equal(queue_remove(root, &refs[0], "mess"), 0);
		free(refs);
	}
	assert_false(fs_exists(tpath("spool/quarantine")));
}

/* A malformed file. */
struct bad_case {
	const char	*name;
	const char	*in;
	size_t		 inlen;		/* 0: strlen(in) */
};

static const struct bad_case bad_cases[] = {
	{ "empty file", "", 0 },
	{ "no mail from", "rcpt to:<c@d.test>\r\n\r\nx\r\n", 0 },
	{ "blank first line", "\r\nmail from:<a@b.test>\r\n"
	    "rcpt to:<c@d.test>\r\n\r\nx\r\n", 0 },
	{ "two mail from", "mail from:<a@b.test>\r\nmail from:<a@b.test>\r\n"
	    "rcpt to:<c@d.test>\r\n\r\nx\r\n", 0 },
	{ "no rcpt", "mail from:<a@b.test>\r\n\r\nx\r\n", 0 },
	{ "null rcpt", "mail from:<a@b.test>\r\nrcpt to:<>\r\n\r\nx\r\n", 0 },
	{ "bad sender", "mail from:<a@>\r\nrcpt to:<c@d.test>\r\n\r\nx\r\n",
	    0 },
	{ "bad rcpt", "mail from:<a@b.test>\r\nrcpt to:<c d@d.test>\r\n"
	    "\r\nx\r\n", 0 },
	{ "no brackets", "mail from:a@b.test\r\nrcpt to:<c@d.test>\r\n\r\n",
	    0 },
	{ "text after address", "mail from:<a@b.test> SIZE=1\r\n"
	    "rcpt to:<c@d.test>\r\n\r\nx\r\n", 0 },
	{ "unknown envelope line", "mail from:<a@b.test>\r\n"
	    "rcpt to:<c@d.test>\r\nSubject: x\r\n\r\nx\r\n", 0 },
	{ "no empty line", "mail from:<a@b.test>\r\nrcpt to:<c@d.test>\r\n",
	    0 },
	{ "no line end", "mail from:<a@b.test>", 0 },
	{ "nul in envelope", LIT("mail from:<a@b.test>\0\r\n"
	    "rcpt to:<c@d.test>\r\n\r\nx\r\n") },
	{ "cr inside envelope line", "mail from:<a@b.test>\rrcpt to:"
	    "<c@d.test>\r\n\r\nx\r\n", 0 },
	{ "escape in envelope", "mail from:<a@b.test>\r\nrcpt to:<c@d.test>"
	    "\x1b[0m\r\n\r\nx\r\n", 0 },
	{ "8-bit garbage address", "mail from:<a\xff@b.test>\r\n"
	    "rcpt to:<c@d.test>\r\n\r\nx\r\n", 0 },
};

/* test_bad - malformed files go to spool/quarantine, nothing spooled */
static void
test_bad(void **state)
{
	const struct bad_case *c;
	char name[32];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(bad_cases); i++) {
		c = &bad_cases[i];
		print_message("case: %s\n", c->name);
		(void)snprintf(name, sizeof(name), "bad-%zu", i);
		put(name, c->in, c->inlen != 0 ? c->inlen : strlen(c->in));
		run_expect(SPLIT, 0, 1, 0);
		assert_false(local_has(name));
		assert_true(quar_has(name));
		assert_int_equal(count_mess(SPLIT), 0);
	}
}

/* test_line_too_long - an envelope line over QUEUE_LINE_MAX */
static void
test_line_too_long(void **state)
{
	size_t n = QUEUE_LINE_MAX + 64;
	char *s = malloc(n + 64);

	(void)state;
	assert_non_null(s);
	memset(s, 'a', n);
	memcpy(s, "mail from:<", 11);
	memcpy(s + n, "@b.test>\r\nrcpt to:<c@d.test>\r\n\r\n", 32);
	put("long", s, n + 32);
	run_expect(SPLIT, 0, 1, 0);
	assert_true(quar_has("long"));
	free(s);
}

/* test_too_large - a (sparse) file over QUEUE_LMAIL_FILE_MAX */
static void
test_too_large(void **state)
{
	char path[PATH_MAX];
	int fd;

	(void)state;
	put_s("big", "mail from:<a@b.test>\r\nrcpt to:<c@d.test>\r\n\r\n");
	assert_int_equal(fs_path(path, sizeof(path), tpath("spool/local"),
	    "big"), 0);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)QUEUE_LMAIL_FILE_MAX + 1), 0);
	assert_int_equal(close(fd), 0);
	run_expect(SPLIT, 0, 1, 0);
	assert_true(quar_has("big"));
	assert_int_equal(count_mess(SPLIT), 0);
}

/* test_quarantine_name_taken - a second "x" becomes "x.1" */
static void
test_quarantine_name_taken(void **state)
{
	(void)state;
	put_s("x", "garbage\r\n");
	run_expect(SPLIT, 0, 1, 0);
	put_s("x", "more garbage\r\n");
	run_expect(SPLIT, 0, 1, 0);
	assert_true(quar_has("x"));
	assert_true(quar_has("x.1"));
}

/* set_mtime - file spool/local/<name> gets mtime t */
static void
set_mtime(const char *name, time_t t)
{
	char path[PATH_MAX];
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };

	assert_int_equal(fs_path(path, sizeof(path), tpath("spool/local"),
	    name), 0);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* test_order_and_max - oldest first, at most max_files per run */
static void
test_order_and_max(void **state)
{
	static const char *const names[] = { "a", "b", "c" };
	struct queue_file qf;
	struct queue_ref *refs;
	size_t nrefs, i;
	char env[128];

	(void)state;
	/* "c" is the oldest, "a" the newest; the rcpt names the file. */
	for (i = 0; i < nitems(names); i++) {
		(void)snprintf(env, sizeof(env), "mail from:<s@r.test>\r\n"
		    "rcpt to:<%s@d.test>\r\n\r\nx\r\n", names[i]);
		put_s(names[i], env);
		set_mtime(names[i], 1000000 - (time_t)i * 10);
	}
	assert_int_equal(run(SPLIT, 2, &refs, &nrefs), 2);
	assert_int_equal(nrefs, 2);
	load(&refs[0], &qf);
	assert_string_equal(qf.to, "c@d.test");
	queue_file_free(&qf);
	load(&refs[1], &qf);
	assert_string_equal(qf.to, "b@d.test");
	queue_file_free(&qf);
	free(refs);
	assert_true(local_has("a"));
	assert_false(local_has("b"));
	assert_false(local_has("c"));
	run_expect(SPLIT, 2, 1, 1);
	assert_false(local_has("a"));
	assert_int_equal(count_mess(SPLIT), 3);
}

/* test_ignored - dotfiles, directories and links are left alone */
static void
test_ignored(void **state)
{
	char target[PATH_MAX], link[PATH_MAX];

	(void)state;
	put_s(".tmp", ENV2 MSG);
	assert_int_equal(fs_mkdir_p(tpath("spool/local/dir"), 0700), 0);
	assert_int_equal(fs_path(target, sizeof(target), root, "outside"), 0);
	assert_int_equal(fs_write_new(target, ENV2 MSG, strlen(ENV2 MSG),
	    0600), 0);
	assert_int_equal(fs_path(link, sizeof(link), tpath("spool/local"),
	    "link"), 0);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(mkfifo(tpath("spool/local/fifo"), 0600), 0);
	run_expect(SPLIT, 0, 0, 0);
	assert_true(local_has(".tmp"));
	assert_true(local_has("link"));
	assert_true(local_has("fifo"));
	assert_true(fs_is_dir(tpath("spool/local/dir")));
	assert_int_equal(count_mess(SPLIT), 0);
}

/* test_no_local_dir - a MailRoot without spool/local is not an error */
static void
test_no_local_dir(void **state)
{
	(void)state;
	assert_int_equal(fs_rm_tree(tpath("spool/local")), 0);
	run_expect(SPLIT, 0, 0, 0);
}

/*
 * test_spool_unusable - when queue_submit fails (spool/0 is a regular
 * file, so the bucket cannot be made; works as root too), the file stays
 * in spool/local, nothing is quarantined, and a later run spools it.
 */
static void
test_spool_unusable(void **state)
{
	struct queue_ref *refs = (struct queue_ref *)1;
	size_t nrefs = 7;

	(void)state;
	assert_int_equal(fs_write_new(tpath("spool/0"), "x", 1, 0600), 0);
	put_s("keep", ENV2 MSG);
	put_s("keep2", ENV2 MSG);
	assert_int_equal(run(1, 0, &refs, &nrefs), -1);
	assert_null(refs);
	assert_int_equal(nrefs, 0);
	assert_true(local_has("keep"));
	assert_true(local_has("keep2"));
	assert_false(fs_exists(tpath("spool/quarantine")));
	assert_int_equal(unlink(tpath("spool/0")), 0);
	run_expect(1, 0, 2, 4);
	assert_false(local_has("keep"));
	assert_false(local_has("keep2"));
	assert_int_equal(count_mess(1), 4);
}

/* test_domain_fallback - RootDomain when SmtpServerDomain is unset */
static void
test_domain_fallback(void **state)
{
	static const char tab[] = "\"RootDomain\"\t\"root.test\"\n";
	struct queue_file qf;
	struct queue_ref *refs;
	size_t nrefs;

	(void)state;
	assert_int_equal(fs_write_atomic(tpath("server.tab"), tab,
	    strlen(tab), 0600), 0);
	assert_int_equal(config_reload("test"), 0);
	put_s("f", ENV2 MSG);
	assert_int_equal(run(SPLIT, 0, &refs, &nrefs), 1);
	load(&refs[0], &qf);
	assert_string_equal(qf.smtp_domain, "root.test");
	assert_non_null(strstr(qf.data, "\tby root.test with [postroom LMAIL"
	    " Server]\r\n"));
	queue_file_free(&qf);
	free(refs);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

/* main - run the group quietly */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_spool),
		T(test_good),
		T(test_bad),
		T(test_line_too_long),
		T(test_too_large),
		T(test_quarantine_name_taken),
		T(test_order_and_max),
		T(test_ignored),
		T(test_no_local_dir),
		T(test_spool_unusable),
		T(test_domain_fallback),
	};

	log_init("test_queue_lmail", false, false, false);
	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
