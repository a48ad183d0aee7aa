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

/*
 * assert_name - "<secs>.M<usecs>P<pid>Q<seq>.<host>,S=<size>" with our
 * pid and the given size
 */
static void
assert_name(const char *name, long long size)
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
	s = strrchr(name, ',');
	assert_non_null(s);
	(void)snprintf(want, sizeof(want), ",S=%lld", size);
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
		assert_name(name, file_size(path));
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
	assert_name(name, (long long)wlen);
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
	};

	log_init("test_maildir", false, false, false);
	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
