/*
 * test_maildir.c - mailbox delivery (maildir/maildir.c).
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
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "maildir/maildir.h"
#include "testutil.h"

#define THREADS		8	/* concurrent deliveries */
#define DELIVERIES	100	/* per thread */

/* put_file - create path with content (test helper) */
static void
put_file(const char *path, const char *content)
{
	FILE *f;

	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* assert_file - path holds exactly `want` (len bytes) */
static void
assert_file(const char *path, const char *want, size_t len)
{
	struct buf b;

	buf_init(&b, 1 << 24);
	assert_int_equal(fs_read_file(path, &b), 0);
	assert_int_equal(b.len, len);
	assert_memory_equal(b.data, want, len);
	buf_clear(&b);
}

/* count_entries - entries of dir other than . and .. (-1: no dir) */
static int
count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

/* file_size - st_size of path */
static long long
file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (long long)st.st_size;
}

/* pop3_size_of - octets of content once every line ends in CRLF */
static long long
pop3_size_of(const char *p, size_t len)
{
	long long n = (long long)len;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			n++;
	return n;
}

/* file_pop3_size - pop3_size_of a file's content */
static long long
file_pop3_size(const char *path)
{
	struct buf b;
	long long n;

	buf_init(&b, 1 << 24);
	assert_int_equal(fs_read_file(path, &b), 0);
	n = pop3_size_of(b.data, b.len);
	buf_clear(&b);
	return n;
}

/*
 * assert_name - "<secs>.M<usecs>P<pid>Q<seq>.<host>,S=<size>,W=<vsize>"
 * with our pid and the given sizes
 */
static void
assert_name(const char *name, long long size, long long vsize)
{
	char want[64], *end;
	const char *p = name, *s;

	(void)strtoull(p, &end, 10);
	assert_true(end > p && strncmp(end, ".M", 2) == 0);
	p = end + 2;
	(void)strtoull(p, &end, 10);
	assert_true(end > p && *end == 'P');
	assert_int_equal(strtol(end + 1, &end, 10), (long)getpid());
	assert_true(*end == 'Q');
	p = end + 1;
	(void)strtoull(p, &end, 10);
	assert_true(end > p && *end == '.' && end[1] != ',');
	assert_null(strchr(end, '/'));
	assert_null(strchr(end, ':'));
	s = strstr(name, ",S=");
	assert_non_null(s);
	(void)snprintf(want, sizeof(want), ",S=%lld,W=%lld", size, vsize);
	assert_string_equal(s, want);
}

/* A delivery and the exact stored file. */
struct deliver_case {
	const char	*name;
	const char	*from, *to;
	const char	*data;
	const char	*want;
};

static const struct deliver_case deliver_cases[] = {
	{ "plain", "alice@example.com", "bob@example.net",
	    "Subject: hi\r\nFrom: alice@example.com\r\n\r\n"
	    "line 1\r\nline 2\r\n",
	    "Return-Path: <alice@example.com>\nDelivered-To: bob@example.net\n"
	    "Subject: hi\nFrom: alice@example.com\n\nline 1\nline 2\n" },
	{ "null sender", "", "bob@example.net", "Subject: b\r\n\r\nx\r\n",
	    "Return-Path: <>\nDelivered-To: bob@example.net\n"
	    "Subject: b\n\nx\n" },
	{ "return-path kept", "alice@example.com", "bob@example.net",
	    "Received: x\r\nreturn-path: <orig@example.org>\r\n\r\nbody\r\n",
	    "Received: x\nreturn-path: <orig@example.org>\n\nbody\n" },
	{ "return-path first", "a@b", "c@d",
	    "Return-Path: <orig@example.org>\r\n\r\nbody\r\n",
	    "Return-Path: <orig@example.org>\n\nbody\n" },
	{ "return-path in body", "a@b", "c@d",
	    "Subject: s\r\n\r\nReturn-Path: <x@y>\r\n",
	    "Return-Path: <a@b>\nDelivered-To: c@d\n"
	    "Subject: s\n\nReturn-Path: <x@y>\n" },
	{ "return-path not at line start", "a@b", "c@d",
	    "X-Note: Return-Path: <x@y>\r\n\r\n",
	    "Return-Path: <a@b>\nDelivered-To: c@d\n"
	    "X-Note: Return-Path: <x@y>\n\n" },
	{ "no header section", "a@b", "c@d", "\r\nReturn-Path: <x@y>\r\n",
	    "Return-Path: <a@b>\nDelivered-To: c@d\n\nReturn-Path: <x@y>\n" },
	{ "lone cr and lf kept", "a@b", "c@d", "A: 1\rx\nB: 2\r\r\n\r\nz",
	    "Return-Path: <a@b>\nDelivered-To: c@d\nA: 1\rx\nB: 2\r\n\nz" },
	{ "empty", "a@b", "c@d", "",
	    "Return-Path: <a@b>\nDelivered-To: c@d\n" },
	{ "trailing cr", "a@b", "c@d", "S: x\r\n\r\nend\r",
	    "Return-Path: <a@b>\nDelivered-To: c@d\nS: x\n\nend\r" },
	{ "bare lf kept", "a@b", "c@d", "S: x\n\nbody\n",
	    "Return-Path: <a@b>\nDelivered-To: c@d\nS: x\n\nbody\n" },
	{ "crlf first, no prefix", "a@b", "c@d",
	    "Return-Path: <x@y>\r\r\n\r\n\r\r\n",
	    "Return-Path: <x@y>\r\n\n\r\n" },
};

/* run_cases - deliver every case with the layout; check file and name */
static void
run_cases(void **state, bool maildir)
{
	const struct deliver_case *c;
	char name[MAILDIR_NAME_MAX + 1], path[PATH_MAX], dir[PATH_MAX];
	long long total = 0;
	size_t i;

	strcpy(dir, tu_path(state, maildir ? "Maildir/new" : "mailbox"));
	for (i = 0; i < nitems(deliver_cases); i++) {
		c = &deliver_cases[i];
		assert_int_equal(maildir_deliver(*state, maildir, c->from,
		    c->to, c->data, strlen(c->data), name, sizeof(name)), 0);
		assert_int_equal(fs_path(path, sizeof(path), dir, name), 0);
		assert_file(path, c->want, strlen(c->want));
		assert_name(name, file_size(path), file_pop3_size(path));
		total += file_size(path);
		assert_int_equal(count_entries(dir), (int)i + 1);
	}
	assert_int_equal(maildir_size(*state, maildir), total);
}

/* test_deliver_maildir - exact content in new/, nothing in tmp/ */
static void
test_deliver_maildir(void **state)
{
	run_cases(state, true);
	assert_int_equal(count_entries(tu_path(state, "Maildir/tmp")), 0);
	assert_int_equal(count_entries(tu_path(state, "Maildir/cur")), 0);
	assert_int_equal(count_entries(tu_path(state, "mailbox")), -1);
}

/* test_deliver_mailbox - exact content in mailbox/, no ".tmp" left */
static void
test_deliver_mailbox(void **state)
{
	struct dirent *de;
	DIR *d;

	run_cases(state, false);
	d = opendir(tu_path(state, "mailbox"));
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		assert_true(strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 || de->d_name[0] != '.');
	closedir(d);
	assert_int_equal(count_entries(tu_path(state, "Maildir")), -1);
}

/* test_deliver_modes - 0700 directories, 0600 files whatever the umask */
static void
test_deliver_modes(void **state)
{
	char name[MAILDIR_NAME_MAX + 1], path[PATH_MAX];
	struct stat st;

	umask(0);
	assert_int_equal(maildir_deliver(*state, true, "a@b", "c@d", "x", 1,
	    name, sizeof(name)), 0);
	umask(022);
	assert_int_equal(stat(tu_path(state, "Maildir/new"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	(void)snprintf(path, sizeof(path), "%s/Maildir/new/%s",
	    (char *)*state, name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* cur/ was created too (hand-made account) */
	assert_true(fs_is_dir(tu_path(state, "Maildir/cur")));
}

/* test_deliver_refuse - CR/LF in the envelope, tiny name buffer */
static void
test_deliver_refuse(void **state)
{
	static const char *const bad[] = { "a\r\nX-Evil: 1", "a\n", "\r" };
	char name[8];
	size_t i;

	for (i = 0; i < nitems(bad); i++) {
		errno = 0;
		assert_int_equal(maildir_deliver(*state, true, bad[i], "c@d",
		    "x", 1, NULL, 0), -1);
		assert_int_equal(errno, EINVAL);
		errno = 0;
		assert_int_equal(maildir_deliver(*state, false, "a@b", bad[i],
		    "x", 1, NULL, 0), -1);
		assert_int_equal(errno, EINVAL);
	}
	assert_int_equal(maildir_deliver(*state, true, NULL, "c@d", "x", 1,
	    NULL, 0), -1);
	errno = 0;
	assert_int_equal(maildir_deliver(*state, true, "a@b", "c@d", "x", 1,
	    name, sizeof(name)), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_int_equal(count_entries(tu_path(state, "Maildir/new")), 0);
	assert_int_equal(count_entries(tu_path(state, "Maildir/tmp")), 0);
	assert_int_equal(maildir_size(*state, true), 0);
}

/* test_deliver_no_dir - the account path is a file: -1, nothing made */
static void
test_deliver_no_dir(void **state)
{
	char acct[PATH_MAX];

	strcpy(acct, tu_path(state, "file"));
	put_file(acct, "x");
	assert_int_equal(maildir_deliver(acct, true, "a@b", "c@d", "x", 1,
	    NULL, 0), -1);
	assert_int_equal(maildir_deliver(acct, false, "a@b", "c@d", "x", 1,
	    NULL, 0), -1);
	assert_int_equal(count_entries(*state), 1);
}

/* test_deliver_big - a message larger than the staging buffer */
static void
test_deliver_big(void **state)
{
	static const char hdr[] = "Return-Path: <a@b>\nDelivered-To: c@d\n";
	char name[MAILDIR_NAME_MAX + 1], path[PATH_MAX], *in, *want;
	size_t i, n = 100000, len = 0, wlen = sizeof(hdr) - 1;

	in = malloc(n * 3);
	want = malloc(sizeof(hdr) + n * 2);
	assert_non_null(in);
	assert_non_null(want);
	memcpy(want, hdr, wlen);
	for (i = 0; i < n; i++) {
		in[len++] = (char)('a' + i % 26);
		want[wlen++] = (char)('a' + i % 26);
		in[len++] = '\r';
		in[len++] = '\n';
		want[wlen++] = '\n';
	}
	assert_int_equal(maildir_deliver(*state, true, "a@b", "c@d", in, len,
	    name, sizeof(name)), 0);
	(void)snprintf(path, sizeof(path), "%s/Maildir/new/%s",
	    (char *)*state, name);
	assert_file(path, want, wlen);
	assert_name(name, (long long)wlen, pop3_size_of(want, wlen));
	free(in);
	free(want);
}

/* One thread of test_deliver_threads. */
struct deliver_thread {
	const char	*acct;
	char		 names[DELIVERIES][MAILDIR_NAME_MAX + 1];
	int		 failures;
};

/* deliver_thread_run - DELIVERIES deliveries */
static void *
deliver_thread_run(void *arg)
{
	struct deliver_thread *t = arg;
	int i;

	for (i = 0; i < DELIVERIES; i++) {
		if (maildir_deliver(t->acct, true, "a@b", "c@d", "S: x\r\n\r\n",
		    8, t->names[i], sizeof(t->names[i])) == -1)
			t->failures++;
	}
	return NULL;
}

/* test_deliver_threads - names stay unique under concurrent delivery */
static void
test_deliver_threads(void **state)
{
	struct deliver_thread *t;
	pthread_t tid[THREADS];
	char **names;
	size_t i, j, n = 0;

	t = calloc(THREADS, sizeof(*t));
	names = calloc(THREADS * DELIVERIES, sizeof(*names));
	assert_non_null(t);
	assert_non_null(names);
	for (i = 0; i < THREADS; i++) {
		t[i].acct = *state;
		assert_int_equal(pthread_create(&tid[i], NULL,
		    deliver_thread_run, &t[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(t[i].failures, 0);
		for (j = 0; j < DELIVERIES; j++)
			names[n++] = t[i].names[j];
	}
	tu_assert_distinct(names, n);
	assert_int_equal(count_entries(tu_path(state, "Maildir/new")),
	    THREADS * DELIVERIES);
	assert_int_equal(count_entries(tu_path(state, "Maildir/tmp")), 0);
	/* each file: 2 prefix lines (37 octets) + "S: x\n\n" */
	assert_int_equal(maildir_size(*state, true),
	    (long long)THREADS * DELIVERIES * (37 + 6));
	free(names);
	free(t);
}

/* test_size - new/ + cur/ (or mailbox/), dot files and dirs ignored */
static void
test_size(void **state)
{
	assert_int_equal(maildir_size(*state, true), 0);
	assert_int_equal(maildir_size(*state, false), 0);
	assert_int_equal(fs_mkdir_p(tu_path(state, "Maildir/new"), 0700), 0);
	assert_int_equal(fs_mkdir_p(tu_path(state, "Maildir/cur/sub"), 0700), 0);
	assert_int_equal(fs_mkdir_p(tu_path(state, "Maildir/tmp"), 0700), 0);
	assert_int_equal(fs_mkdir_p(tu_path(state, "mailbox"), 0700), 0);
	put_file(tu_path(state, "Maildir/new/a"), "12345");
	put_file(tu_path(state, "Maildir/cur/b:2,S"), "123");
	put_file(tu_path(state, "Maildir/tmp/c"), "1234567");
	put_file(tu_path(state, "Maildir/new/.d"), "1234567");
	put_file(tu_path(state, "mailbox/e"), "12");
	put_file(tu_path(state, "mailbox/.e.tmp"), "1234");
	assert_int_equal(symlink("a", tu_path(state, "Maildir/new/link")), 0);
	assert_int_equal(maildir_size(*state, true), 8);
	assert_int_equal(maildir_size(*state, false), 2);
	assert_int_equal(maildir_size(tu_path(state, "Maildir/new/a"), true),
	    -1);
}

/* put_bytes - create path with len bytes (test helper) */
static void
put_bytes(const char *path, const char *content, size_t len)
{
	FILE *f;

	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* One expected entry of a listing. */
struct list_want {
	const char	*uid;
	enum maildir_sub sub;
	uint64_t	 size, pop3_size;
};

/* assert_list - the listing has exactly these entries, in this order */
static void
assert_list(const struct maildir_list *l, const struct list_want *w,
    size_t n)
{
	uint64_t total = 0;
	size_t i;

	assert_int_equal(l->n, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(l->msgs[i].uid_len, strlen(w[i].uid));
		assert_memory_equal(l->msgs[i].name, w[i].uid,
		    strlen(w[i].uid));
		assert_int_equal(l->msgs[i].sub, w[i].sub);
		assert_int_equal(l->msgs[i].size, w[i].size);
		assert_int_equal(l->msgs[i].pop3_size, w[i].pop3_size);
		total += w[i].pop3_size;
	}
	assert_int_equal(l->pop3_total, total);
}

/* make_maildir - new/, cur/ and tmp/ under the test directory */
static void
make_maildir(void **state)
{
	assert_int_equal(fs_mkdir_p(tu_path(state, "Maildir/new"), 0700), 0);
	assert_int_equal(fs_mkdir_p(tu_path(state, "Maildir/cur"), 0700), 0);
	assert_int_equal(fs_mkdir_p(tu_path(state, "Maildir/tmp"), 0700), 0);
}

/*
 * test_list_maildir - delivery order over Maildir and XMail names, UIDs,
 * sizes from S=/W= without reading (the content disagrees on purpose),
 * sizes read from files otherwise; cur/ only with scan_cur
 */
static void
test_list_maildir(void **state)
{
	static const struct list_want want[] = {
		{ "zzz-no-number", MAILDIR_SUB_NEW, 2, 3 },
		{ "1700000000999.1a.2b.3.xmail", MAILDIR_SUB_NEW, 5, 8 },
		{ "1700000001.M99P1Q1.h,S=3,W=4", MAILDIR_SUB_NEW, 3, 4 },
		{ "1700000001.M100P1Q2.h", MAILDIR_SUB_NEW, 6, 7 },
		{ "1700000002.M1P1Q3.h,S=1,W=1", MAILDIR_SUB_CUR, 1, 1 },
	};
	struct maildir_list l;

	make_maildir(state);
	put_file(tu_path(state, "Maildir/new/1700000001.M100P1Q2.h"),
	    "x\r\ny\n.");
	put_file(tu_path(state, "Maildir/new/1700000001.M99P1Q1.h,S=3,W=4"),
	    "not three octets");
	put_file(tu_path(state, "Maildir/new/1700000000999.1a.2b.3.xmail"),
	    "A\n\nB\n");
	put_file(tu_path(state, "Maildir/new/zzz-no-number"), "z\n");
	put_file(tu_path(state, "Maildir/new/.1700000000.M1P1Q1.h"), "dot");
	put_file(tu_path(state, "Maildir/tmp/1700000000.M1P1Q9.h"), "tmp");
	put_file(tu_path(state, "Maildir/cur/1700000002.M1P1Q3.h,S=1,W=1:2,S"),
	    "c");
	assert_int_equal(fs_mkdir_p(tu_path(state, "Maildir/new/sub"), 0700),
	    0);
	assert_int_equal(symlink("zzz-no-number",
	    tu_path(state, "Maildir/new/1.link")), 0);
	assert_int_equal(maildir_list(*state, true, false, &l), 0);
	assert_list(&l, want, 4);
	maildir_list_free(&l);
	assert_int_equal(maildir_list(*state, true, true, &l), 0);
	assert_list(&l, want, 5);
	maildir_list_free(&l);
	maildir_list_free(&l);
}

/* test_list_mailbox - every file not starting with '.'; UID = name */
static void
test_list_mailbox(void **state)
{
	static const struct list_want want[] = {
		{ "1700000000000.1.2.3.h", MAILDIR_SUB_MBOX, 3, 4 },
		{ "1700000000001.1.2.3.h:x", MAILDIR_SUB_MBOX, 4, 4 },
	};
	struct maildir_list l;

	assert_int_equal(fs_mkdir_p(tu_path(state, "mailbox"), 0700), 0);
	put_file(tu_path(state, "mailbox/1700000000001.1.2.3.h:x"), "a\r\nb");
	put_file(tu_path(state, "mailbox/1700000000000.1.2.3.h"), "a\nb");
	put_file(tu_path(state, "mailbox/.1700000000002.tmp"), "tmp");
	assert_int_equal(maildir_list(*state, false, true, &l), 0);
	assert_list(&l, want, 2);
	maildir_list_free(&l);
	/* the Maildir layout of the same account is empty */
	assert_int_equal(maildir_list(*state, true, true, &l), 0);
	assert_int_equal(l.n, 0);
	assert_null(l.msgs);
}

/* test_list_errors - unreadable places fail, missing ones are empty */
static void
test_list_errors(void **state)
{
	struct maildir_list l;
	char acct[PATH_MAX];

	strcpy(acct, tu_path(state, "file"));
	put_file(acct, "x");
	assert_int_equal(maildir_list(acct, true, false, &l), -1);
	assert_int_equal(l.n, 0);
	assert_int_equal(maildir_list(acct, false, false, &l), -1);
	assert_int_equal(maildir_list(tu_path(state, "none"), true, true, &l),
	    0);
	assert_int_equal(l.n, 0);
}

/* buf_sink - maildir_sink appending to a struct buf */
static int
buf_sink(void *arg, const void *p, size_t n)
{
	return buf_append(arg, p, n);
}

/* fail_sink - a sink that refuses everything */
static int
fail_sink(void *arg, const void *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return -1;
}

/* copy_file - maildir_pop3_copy of a file into b */
static int
copy_file(const char *path, long lines, struct buf *b)
{
	int fd = open(path, O_RDONLY), r;

	assert_true(fd >= 0);
	r = maildir_pop3_copy(fd, lines, buf_sink, b);
	close(fd);
	return r;
}

/* A POP3 conversion and its exact output. */
struct copy_case {
	const char	*name;
	const char	*in;
	long		 lines;
	const char	*want;
};

static const struct copy_case copy_cases[] = {
	{ "lf", "A: 1\nB: 2\n\nbody\n", -1, "A: 1\r\nB: 2\r\n\r\nbody\r\n" },
	{ "crlf", "A: 1\r\n\r\nb\r\n", -1, "A: 1\r\n\r\nb\r\n" },
	{ "mixed", "A: 1\r\nB\n\r\nx\n", -1, "A: 1\r\nB\r\n\r\nx\r\n" },
	{ "dots", "S: x\n\n.\n..x\n.\r\nend.\n", -1,
	    "S: x\r\n\r\n..\r\n...x\r\n..\r\nend.\r\n" },
	{ "no final eol", "S: x\n\nlast", -1, "S: x\r\n\r\nlast\r\n" },
	{ "no final eol dot", "S: x\n\n.", -1, "S: x\r\n\r\n..\r\n" },
	{ "bare cr", "A\rB\n\r\rx\r", -1, "A\rB\r\n\r\rx\r\r\n" },
	{ "cr cr lf", "A\r\r\n", -1, "A\r\r\n" },
	{ "empty", "", -1, "" },
	{ "top 0", "A: 1\nB: 2\n\nl1\nl2\n", 0, "A: 1\r\nB: 2\r\n\r\n" },
	{ "top 1", "A: 1\n\nl1\nl2\n", 1, "A: 1\r\n\r\nl1\r\n" },
	{ "top 2 crlf", "A: 1\r\n\r\nl1\r\n\r\nl3\r\n", 2,
	    "A: 1\r\n\r\nl1\r\n\r\n" },
	{ "top more than body", "A: 1\n\nl1", 5, "A: 1\r\n\r\nl1\r\n" },
	{ "top no body", "A: 1\nB: 2\n", 3, "A: 1\r\nB: 2\r\n" },
	{ "top dot body", "A: 1\n\n.x\n.y\n", 1, "A: 1\r\n\r\n..x\r\n" },
	{ "top blank first", "\nl1\nl2\n", 1, "\r\nl1\r\n" },
};

/* test_pop3_copy - the conversion table */
static void
test_pop3_copy(void **state)
{
	const struct copy_case *c;
	char path[PATH_MAX];
	struct buf b;
	size_t i;
	int fd;

	strcpy(path, tu_path(state, "msg"));
	buf_init(&b, 1 << 20);
	for (i = 0; i < nitems(copy_cases); i++) {
		c = &copy_cases[i];
		put_file(path, c->in);
		buf_reset(&b);
		assert_int_equal(copy_file(path, c->lines, &b), 0);
		if (b.len != strlen(c->want) ||
		    memcmp(b.data, c->want, b.len) != 0)
			fail_msg("case %s: got \"%s\"", c->name, b.data);
	}
	/* a sink error stops the copy */
	put_file(path, "A: 1\n\nbody\n");
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(maildir_pop3_copy(fd, -1, fail_sink, NULL), -1);
	close(fd);
	buf_clear(&b);
}

/* ref_pop3 - a line-by-line reference conversion (whole message), with
 * or without the dot-stuffing */
static void
ref_pop3(const char *in, size_t len, bool stuff, struct buf *out)
{
	const char *p = in, *end = in + len, *nl, *le;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		le = nl != NULL ? nl : end;
		if (nl != NULL && le > p && le[-1] == '\r')
			le--;
		if (stuff && *p == '.' && le > p)
			assert_int_equal(buf_putc(out, '.'), 0);
		assert_int_equal(buf_append(out, p, (size_t)(le - p)), 0);
		assert_int_equal(buf_append(out, "\r\n", 2), 0);
		p = nl != NULL ? nl + 1 : end;
	}
}

/*
 * test_pop3_copy_big - random content over many read and output chunks
 * against the reference; LIST size = output less an added final CRLF
 */
static void
test_pop3_copy_big(void **state)
{
	static const char alphabet[] = "a.\r\n\n.b\r";
	size_t len = 300000, i;
	char path[PATH_MAX], *in = malloc(len);
	struct maildir_list l;
	struct buf got, want;
	uint32_t x = 12345;

	assert_non_null(in);
	for (i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		in[i] = alphabet[(x >> 16) % (sizeof(alphabet) - 1)];
	}
	in[65535] = '\r';	/* a CRLF across the first read boundary */
	in[65536] = '\n';
	in[len - 1] = 'z';	/* no final line end */
	make_maildir(state);
	strcpy(path, tu_path(state, "Maildir/new/1.big"));
	put_bytes(path, in, len);
	buf_init(&got, 1 << 22);
	buf_init(&want, 1 << 22);
	assert_int_equal(copy_file(path, -1, &got), 0);
	ref_pop3(in, len, true, &want);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, got.len);
	assert_int_equal(maildir_list(*state, true, false, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.msgs[0].size, len);
	buf_reset(&want);
	ref_pop3(in, len, false, &want);
	assert_int_equal(l.msgs[0].pop3_size, want.len - 2);
	assert_int_equal(l.msgs[0].pop3_size, pop3_size_of(in, len));
	maildir_list_free(&l);
	buf_clear(&got);
	buf_clear(&want);
	free(in);
}

/* strip_sizes - the name without ",S=...,W=..." */
static void
strip_sizes(const char *name, char *out, size_t size)
{
	const char *s = strstr(name, ",S=");

	assert_non_null(s);
	(void)snprintf(out, size, "%.*s", (int)(s - name), name);
}

/*
 * test_deliver_list_agree - W= in the name equals what the reader
 * computes from the file, for every delivery case, in both layouts
 */
static void
test_deliver_list_agree(void **state)
{
	char name[MAILDIR_NAME_MAX + 1], bare[MAILDIR_NAME_MAX + 1];
	char from[PATH_MAX], to[PATH_MAX];
	struct maildir_list l;
	size_t i, j;

	for (i = 0; i < nitems(deliver_cases); i++) {
		const struct deliver_case *c = &deliver_cases[i];

		assert_int_equal(maildir_deliver(*state, true, c->from, c->to,
		    c->data, strlen(c->data), name, sizeof(name)), 0);
		strip_sizes(name, bare, sizeof(bare));
		(void)snprintf(from, sizeof(from), "%s/Maildir/new/%s",
		    (char *)*state, name);
		(void)snprintf(to, sizeof(to), "%s/Maildir/cur/%s:2,S",
		    (char *)*state, bare);
		assert_int_equal(link(from, to), 0);
	}
	assert_int_equal(maildir_list(*state, true, true, &l), 0);
	assert_int_equal(l.n, 2 * nitems(deliver_cases));
	for (i = 0; i < l.n; i++) {
		if (l.msgs[i].sub != MAILDIR_SUB_NEW)
			continue;
		strip_sizes(l.msgs[i].name, bare, sizeof(bare));
		for (j = 0; j < l.n; j++)
			if (l.msgs[j].sub == MAILDIR_SUB_CUR &&
			    l.msgs[j].uid_len == strlen(bare) &&
			    memcmp(l.msgs[j].name, bare, strlen(bare)) == 0)
				break;
		assert_true(j < l.n);
		assert_int_equal(l.msgs[i].pop3_size, l.msgs[j].pop3_size);
		assert_int_equal(l.msgs[i].size, l.msgs[j].size);
	}
	maildir_list_free(&l);
}

/* test_delete - removal by listing entry; gone already is fine */
static void
test_delete(void **state)
{
	struct maildir_list l;
	char path[PATH_MAX];
	int fd;

	make_maildir(state);
	put_file(tu_path(state, "Maildir/new/1.M1P1Q1.h"), "one\n");
	put_file(tu_path(state, "Maildir/cur/2.M1P1Q1.h:2,S"), "two\n");
	assert_int_equal(maildir_list(*state, true, true, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(maildir_msg_path(*state, &l.msgs[1], path,
	    sizeof(path)), 0);
	assert_string_equal(path, tu_path(state, "Maildir/cur/2.M1P1Q1.h:2,S"));
	fd = maildir_msg_open(*state, &l.msgs[1]);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(maildir_msg_delete(*state, &l.msgs[1]), 0);
	assert_int_equal(maildir_msg_delete(*state, &l.msgs[1]), 0);
	errno = 0;
	assert_int_equal(maildir_msg_open(*state, &l.msgs[1]), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(maildir_sync(*state, true), 0);
	assert_int_equal(maildir_sync(*state, false), 0);
	maildir_list_free(&l);
	assert_int_equal(maildir_list(*state, true, true, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.msgs[0].name, "1.M1P1Q1.h");
	maildir_list_free(&l);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

/* main - run the group quietly with a known umask */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_deliver_maildir),
		T(test_deliver_mailbox),
		T(test_deliver_modes),
		T(test_deliver_refuse),
		T(test_deliver_no_dir),
		T(test_deliver_big),
		T(test_deliver_threads),
		T(test_size),
		T(test_list_maildir),
		T(test_list_mailbox),
		T(test_list_errors),
		T(test_pop3_copy),
		T(test_pop3_copy_big),
		T(test_deliver_list_agree),
		T(test_delete),
	};

	log_init("test_maildir", false, false, false);
	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
