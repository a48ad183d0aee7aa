/*
 * test_queue.c - the XMail-format spool (queue/queue.c, docs/QUEUE.md).
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
#include <inttypes.h>
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
#include "queue/queue.h"
#include "testutil.h"

#define INFO	"[192.0.2.1]:4711;[198.51.100.2]:25;" \
		"Mon, 1 Jan 2024 10:00:00 +0000"
#define DOMAIN	"mx.example.org"
#define MSGID	"S1A"
#define FROM	"MAIL FROM:<alice@example.com> SIZE=42"
#define HDR	INFO "\r\n" DOMAIN "\r\n" MSGID "\r\n" FROM "\r\n"
#define DATA	"Subject: hi\r\n\r\nbody\r\n"
#define MARK	"<<MAIL-DATA>>\r\n"

#define THREADS		8	/* concurrency tests */
#define SUBMITS		200	/* submits per thread */
#define IDS		100	/* message ids per thread */

/* put_file - create path with len bytes (test helper) */
static void
put_file(const char *path, const char *content, size_t len)
{
	FILE *f;

	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* read_all - the content of path (test helper); caller frees */
static char *
read_all(const char *path, size_t *len)
{
	struct buf b;

	buf_init(&b, 1 << 24);
	assert_int_equal(fs_read_file(path, &b), 0);
	*len = b.len;
	return buf_take(&b);
}

/* assert_file - path holds exactly `want` */
static void
assert_file(const char *path, const char *want)
{
	size_t len;
	char *got;

	got = read_all(path, &len);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	free(got);
}

/* count_dir - files in spool dir `dir` of every bucket (split 0..max) */
static long
count_dir(void **state, int split, const char *dir)
{
	long n;

	n = queue_scan(*state, split, dir, NULL, NULL);
	assert_true(n >= 0);
	return n;
}

/* count_entries - entries of dir other than . and .. */
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

/* env_make - the standard envelope with the given recipients */
static struct queue_env
env_make(const char *const *rcpts, size_t n)
{
	struct queue_env env = {
		.info = INFO, .smtp_domain = DOMAIN, .msgid = MSGID,
		.mail_from = FROM, .rcpts = rcpts, .nrcpts = n,
	};

	return env;
}

/* assert_name_format - "<ms>.<tid hex>.<pid hex>.<seq hex>.<host>" */
static void
assert_name_format(const char *name)
{
	char pid[32], *end;
	const char *p = name;
	int field;

	(void)snprintf(pid, sizeof(pid), "%lx", (unsigned long)getpid());
	(void)strtoull(p, &end, 10);
	assert_true(end > p && *end == '.');
	for (field = 0; field < 3; field++) {
		p = end + 1;
		(void)strtoull(p, &end, 16);
		assert_true(end > p && *end == '.');
		if (field == 1)
			assert_memory_equal(p, pid, strlen(pid));
	}
	p = end + 1;
	assert_true(*p != '\0');
	for (; *p != '\0'; p++)
		assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_", *p));
}

/* A submit and the exact files it must produce. */
struct submit_case {
	const char	*name;
	const char	*rcpts[3];
	size_t		 nrcpts;
	const char	*data;
	size_t		 len;
	const char	*want[3];
};

static const struct submit_case submit_cases[] = {
	{ "one", { "RCPT TO:<bob@example.net>" }, 1, DATA, sizeof(DATA) - 1,
	    { HDR "RCPT TO:<bob@example.net>\r\n" MARK DATA } },
	{ "three", { "RCPT TO:<a@x.example>",
	    "RCPT TO:<b@y.example> NOTIFY=NEVER", "RCPT TO:<c@z.example>" }, 3,
	    DATA, sizeof(DATA) - 1,
	    { HDR "RCPT TO:<a@x.example>\r\n" MARK DATA,
	      HDR "RCPT TO:<b@y.example> NOTIFY=NEVER\r\n" MARK DATA,
	      HDR "RCPT TO:<c@z.example>\r\n" MARK DATA } },
	{ "empty data", { "RCPT TO:<bob@example.net>" }, 1, "", 0,
	    { HDR "RCPT TO:<bob@example.net>\r\n" MARK } },
	{ "binary data", { "RCPT TO:<bob@example.net>" }, 1, "a\0b\r\n", 5,
	    { HDR "RCPT TO:<bob@example.net>\r\n" MARK "a\0b\r\n" } },
};

/* test_submit - each recipient's file is byte-exact in mess/, temp/ empty */
static void
test_submit(void **state)
{
	const struct submit_case *c;
	struct queue_ref refs[3];
	struct queue_env env;
	char path[PATH_MAX], *got;
	size_t i, j, len, wantlen;
	long total = 0;

	for (i = 0; i < nitems(submit_cases); i++) {
		c = &submit_cases[i];
		env = env_make(c->rcpts, c->nrcpts);
		assert_int_equal(queue_submit(*state, 3, &env, c->data, c->len,
		    refs), 0);
		total += (long)c->nrcpts;
		for (j = 0; j < c->nrcpts; j++) {
			assert_true(refs[j].l1 >= 0 && refs[j].l1 < 3);
			assert_int_equal(refs[j].l1, refs[0].l1);
			assert_int_equal(refs[j].l2, refs[0].l2);
			assert_name_format(refs[j].name);
			if (j > 0)
				assert_string_not_equal(refs[j].name,
				    refs[j - 1].name);
			assert_int_equal(queue_path(*state, &refs[j], "mess",
			    path, sizeof(path)), 0);
			got = read_all(path, &len);
			/* the "binary data" case holds a NUL: compare sizes */
			wantlen = strlen(c->want[j]) +
			    (c->len - strlen(c->data));
			assert_int_equal(len, wantlen);
			assert_memory_equal(got, c->want[j], len);
			free(got);
		}
		assert_int_equal(count_dir(state, 3, "mess"), total);
		assert_int_equal(count_dir(state, 3, "temp"), 0);
	}
}

/* test_submit_mode - spool files are 0600 */
static void
test_submit_mode(void **state)
{
	static const char *const rcpts[] = { "RCPT TO:<b@c>" };
	struct queue_env env = env_make(rcpts, 1);
	struct queue_ref ref;
	char path[PATH_MAX];
	struct stat st;

	umask(0);
	assert_int_equal(queue_submit(*state, 1, &env, DATA, 3, &ref), 0);
	umask(022);
	assert_int_equal(queue_path(*state, &ref, "mess", path, sizeof(path)),
	    0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(ref.l1, 0);
	assert_int_equal(ref.l2, 0);
}

/* One thread of test_submit_threads. */
struct submit_thread {
	const char		*mailroot;
	struct queue_ref	 refs[SUBMITS];
	int			 failures;
};

/* submit_thread_run - SUBMITS single-recipient submits */
static void *
submit_thread_run(void *arg)
{
	static const char *const rcpts[] = { "RCPT TO:<b@c>" };
	struct submit_thread *t = arg;
	struct queue_env env = env_make(rcpts, 1);
	int i;

	for (i = 0; i < SUBMITS; i++) {
		if (queue_submit(t->mailroot, 2, &env, DATA, 5,
		    &t->refs[i]) == -1)
			t->failures++;
	}
	return NULL;
}

/* test_submit_threads - names stay unique under concurrent submits */
static void
test_submit_threads(void **state)
{
	struct submit_thread *t;
	pthread_t tid[THREADS];
	char **names;
	size_t i, j, n = 0;

	t = calloc(THREADS, sizeof(*t));
	names = calloc(THREADS * SUBMITS, sizeof(*names));
	assert_non_null(t);
	assert_non_null(names);
	for (i = 0; i < THREADS; i++) {
		t[i].mailroot = *state;
		assert_int_equal(pthread_create(&tid[i], NULL,
		    submit_thread_run, &t[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(t[i].failures, 0);
		for (j = 0; j < SUBMITS; j++)
			names[n++] = t[i].refs[j].name;
	}
	tu_assert_distinct(names, n);
	assert_int_equal(count_dir(state, 2, "mess"), THREADS * SUBMITS);
	assert_int_equal(count_dir(state, 2, "temp"), 0);
	free(names);
	free(t);
}

/* env_set - set envelope field f (0..5; 4, 5: recipients) to v */
static void
env_set(struct queue_env *env, const char **rcpts, int f, const char *v)
{
	switch (f) {
	case 0:
		env->info = v;
		break;
	case 1:
		env->smtp_domain = v;
		break;
	case 2:
		env->msgid = v;
		break;
	case 3:
		env->mail_from = v;
		break;
	default:
		rcpts[f - 4] = v;
		break;
	}
}

/* test_submit_refuse - CR/LF in any field, bad lines: -1, nothing written */
static void
test_submit_refuse(void **state)
{
	static const char *const bad[] = { "x\ry", "x\ny", "x\r\ny", "\n",
	    "x\r", "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>",
	    "RCPT TO:<c@d>\r\nRCPT TO:<e@f>", "RCPT TO:<c@d>\n" };
	struct queue_ref refs[2];
	struct queue_env env;
	const char *rcpts[2];
	char longline[QUEUE_LINE_MAX + 2];
	size_t i;
	int f;

	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	for (f = 0; f < 6; f++) {
		for (i = 0; i < nitems(bad) + 2; i++) {
			rcpts[0] = "RCPT TO:<a@b>";
			rcpts[1] = "RCPT TO:<c@d>";
			env = env_make(rcpts, 2);
			/* also: an overlong line, a missing value */
			env_set(&env, rcpts, f, i < nitems(bad) ? bad[i] :
			    i == nitems(bad) ? longline : NULL);
			errno = 0;
			assert_int_equal(queue_submit(*state, 2, &env, DATA, 5,
			    refs), -1);
			assert_int_equal(errno, EINVAL);
		}
	}
	/* Lines queue_file_load could not read back are refused too. */
	rcpts[0] = "RCPT TO:<a@b>";
	for (i = 0; i < 5; i++) {
		rcpts[1] = "RCPT TO:<c@d>";
		env = env_make(rcpts, 2);
		if (i == 0)
			env.mail_from = "MAIL FROM: a@b";
		else if (i == 1)
			env.mail_from = "HELO x <a@b>";
		else if (i == 2)
			env.nrcpts = 0;
		else if (i == 3)
			rcpts[1] = "RCPT TO:<c@d";
		else
			env.rcpts = NULL;
		errno = 0;
		assert_int_equal(queue_submit(*state, 2, &env, DATA, 5, refs),
		    -1);
		assert_int_equal(errno, EINVAL);
	}
	rcpts[1] = "RCPT TO:<c@d>";
	env = env_make(rcpts, 2);
	assert_int_equal(queue_submit(*state, 0, &env, DATA, 5, refs), -1);
	assert_int_equal(queue_submit(*state, 2, &env, NULL, 5, refs), -1);
	assert_int_equal(count_dir(state, 2, "mess"), 0);
	assert_int_equal(count_dir(state, 2, "temp"), 0);
}

/* test_submit_spool_file - spool/ is a regular file: -1, nothing left */
static void
test_submit_spool_file(void **state)
{
	static const char *const rcpts[] = { "RCPT TO:<a@b>", "RCPT TO:<c@d>" };
	struct queue_env env = env_make(rcpts, 2);
	struct queue_ref refs[2];

	put_file(tu_path(state, "spool"), "x", 1);
	assert_int_equal(queue_submit(*state, 3, &env, DATA, 5, refs), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_false(fs_is_dir(tu_path(state, "spool")));
}

/*
 * test_submit_undo - temp files written, renames fail (mess/ is a link to
 * a directory on another filesystem: EXDEV): every temp file is removed.
 */
static void
test_submit_undo(void **state)
{
	static const char *const rcpts[] = { "RCPT TO:<a@b>", "RCPT TO:<c@d>",
	    "RCPT TO:<e@f>" };
	struct queue_env env = env_make(rcpts, 3);
	struct queue_ref refs[3];
	char other[] = "/dev/shm/postroom-test-queue.XXXXXX";
	struct stat a, b;
	int r, e, nmess;

	if (stat("/dev/shm", &a) == -1 || stat(*state, &b) == -1 ||
	    a.st_dev == b.st_dev || mkdtemp(other) == NULL)
		skip();
	assert_int_equal(fs_mkdir_p(tu_path(state, "spool/0/0/temp"), 0700), 0);
	assert_int_equal(symlink(other, tu_path(state, "spool/0/0/mess")), 0);
	errno = 0;
	r = queue_submit(*state, 1, &env, DATA, 5, refs);
	e = errno;
	nmess = count_entries(other);
	assert_int_equal(fs_rm_tree(other), 0);	/* before any assert fails */
	assert_int_equal(r, -1);
	assert_int_equal(e, EXDEV);
	assert_int_equal(nmess, 0);
	assert_int_equal(count_dir(state, 1, "temp"), 0);
}

/* A message.id content and what queue_msgid_next makes of it. */
struct msgid_case {
	const char	*content;	/* NULL: no file */
	int		 ret;
	uint64_t	 id;
	const char	*after;		/* file content afterwards */
};

static const struct msgid_case msgid_cases[] = {
	{ NULL, 0, 2, "2\r\n" },
	{ "1\r\n", 0, 2, "2\r\n" },
	{ "1", 0, 2, "2\r\n" },
	{ "", 0, 2, "2\r\n" },
	{ "41\n", 0, 42, "42\r\n" },
	{ " 7 \r\n", 0, 8, "8\r\n" },
	{ "18446744073709551614\r\n", 0, UINT64_MAX,
	    "18446744073709551615\r\n" },
	{ "18446744073709551615\r\n", -1, 0, "18446744073709551615\r\n" },
	{ "99999999999999999999\r\n", -1, 0, "99999999999999999999\r\n" },
	{ "abc\r\n", -1, 0, "abc\r\n" },
	{ "12x\r\n", -1, 0, "12x\r\n" },
	{ "-1\r\n", -1, 0, "-1\r\n" },
	{ "1 2\r\n", -1, 0, "1 2\r\n" },
	{ "\x01\x02\x03", -1, 0, "\x01\x02\x03" },
};

/* test_msgid - the message.id sequence, table-driven */
static void
test_msgid(void **state)
{
	const struct msgid_case *c;
	char path[PATH_MAX];
	uint64_t id;
	size_t i;

	strcpy(path, tu_path(state, "message.id"));
	for (i = 0; i < nitems(msgid_cases); i++) {
		c = &msgid_cases[i];
		(void)unlink(path);
		if (c->content != NULL)
			put_file(path, c->content, strlen(c->content));
		id = 0;
		assert_int_equal(queue_msgid_next(*state, &id), c->ret);
		if (c->ret == 0)
			assert_int_equal(id, c->id);
		assert_file(path, c->after);
	}
	(void)unlink(path);
	for (i = 2; i < 10; i++) {
		assert_int_equal(queue_msgid_next(*state, &id), 0);
		assert_int_equal(id, i);
	}
	assert_file(path, "9\r\n");
}

/* test_msgid_take - numbers come from reserved blocks, never repeat */
static void
test_msgid_take(void **state)
{
	char want[32], other[PATH_MAX];
	uint64_t id, i;

	(void)unlink(tu_path(state, "message.id"));
	for (i = 2; i < 2 + QUEUE_MSGID_BLOCK; i++) {
		assert_int_equal(queue_msgid_take(*state, &id), 0);
		assert_int_equal(id, i);
	}
	/* The whole block is on disk before its first number is used. */
	(void)snprintf(want, sizeof(want), "%d\r\n", 1 + QUEUE_MSGID_BLOCK);
	assert_file(tu_path(state, "message.id"), want);
	assert_int_equal(queue_msgid_take(*state, &id), 0);
	assert_int_equal(id, 2 + QUEUE_MSGID_BLOCK);
	/* Another MailRoot drops the cache, like a restart: no reuse. */
	(void)snprintf(other, sizeof(other), "%s/other", (char *)*state);
	assert_int_equal(mkdir(other, 0700), 0);
	assert_int_equal(queue_msgid_take(other, &id), 0);
	assert_int_equal(id, 2);
	assert_int_equal(queue_msgid_take(*state, &id), 0);
	assert_int_equal(id, 2 + 2 * QUEUE_MSGID_BLOCK);
}

/* test_msgid_big_file - an oversized message.id is an error */
static void
test_msgid_big_file(void **state)
{
	char big[200];
	uint64_t id;

	memset(big, '1', sizeof(big));
	put_file(tu_path(state, "message.id"), big, sizeof(big));
	assert_int_equal(queue_msgid_next(*state, &id), -1);
	assert_int_equal(queue_msgid_next("/nonexistent/dir", &id), -1);
}

/* One thread of test_msgid_threads. */
struct msgid_thread {
	const char	*mailroot;
	uint64_t	 ids[IDS];
	int		 failures;
};

/* msgid_thread_run - IDS numbers */
static void *
msgid_thread_run(void *arg)
{
	struct msgid_thread *t = arg;
	int i;

	for (i = 0; i < IDS; i++) {
		if (queue_msgid_next(t->mailroot, &t->ids[i]) == -1)
			t->failures++;
	}
	return NULL;
}

/* cmp_u64 - qsort comparator for uint64_t */
static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* test_msgid_threads - concurrent ids are 2..N+1, each once */
static void
test_msgid_threads(void **state)
{
	struct msgid_thread *t;
	pthread_t tid[THREADS];
	uint64_t *all;
	char want[32];
	size_t i, n = 0;

	t = calloc(THREADS, sizeof(*t));
	all = calloc(THREADS * IDS, sizeof(*all));
	assert_non_null(t);
	assert_non_null(all);
	for (i = 0; i < THREADS; i++) {
		t[i].mailroot = *state;
		assert_int_equal(pthread_create(&tid[i], NULL,
		    msgid_thread_run, &t[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(t[i].failures, 0);
		memcpy(all + n, t[i].ids, sizeof(t[i].ids));
		n += IDS;
	}
	qsort(all, n, sizeof(*all), cmp_u64);
	for (i = 0; i < n; i++)
		assert_int_equal(all[i], i + 2);
	(void)snprintf(want, sizeof(want), "%zu\r\n", n + 1);
	assert_file(tu_path(state, "message.id"), want);
	free(all);
	free(t);
}

/* test_load_submitted - a submitted file parses back to its envelope */
static void
test_load_submitted(void **state)
{
	static const char *const rcpts[] = { "RCPT TO:<bob@example.net> X=1" };
	struct queue_env env = env_make(rcpts, 1);
	struct queue_file qf;
	struct queue_ref ref;
	char path[PATH_MAX];

	assert_int_equal(queue_submit(*state, 2, &env, DATA, sizeof(DATA) - 1,
	    &ref), 0);
	assert_int_equal(queue_path(*state, &ref, "mess", path, sizeof(path)),
	    0);
	assert_int_equal(queue_file_load(path, 1 << 20, &qf), 0);
	assert_string_equal(qf.info, INFO);
	assert_string_equal(qf.smtp_domain, DOMAIN);
	assert_string_equal(qf.msgid, MSGID);
	assert_string_equal(qf.mail_from, FROM);
	assert_string_equal(qf.rcpt, rcpts[0]);
	assert_string_equal(qf.from, "alice@example.com");
	assert_string_equal(qf.to, "bob@example.net");
	assert_int_equal(qf.datalen, sizeof(DATA) - 1);
	assert_memory_equal(qf.data, DATA, qf.datalen);
	queue_file_free(&qf);
	/* Too small a limit: EFBIG. */
	errno = 0;
	assert_int_equal(queue_file_load(path, 10, &qf), -1);
	assert_int_equal(errno, EFBIG);
	errno = 0;
	assert_int_equal(queue_file_load(tu_path(state, "none"), 100, &qf), -1);
	assert_int_equal(errno, ENOENT);
}

/* A hand-written spool file and the parse result. */
struct load_case {
	const char	*name;
	const char	*content;
	size_t		 len;		/* 0: strlen(content) */
	int		 ret;
	const char	*from, *to, *data;
};

#define L5	"i\r\nd\r\nS1\r\n"
#define NUL_HDR	"i\0\r\nd\r\nS1\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n" MARK
#define BINARY	"\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0\n\n\n" \
		"\n\n\n\xff\xfe"
static const struct load_case load_cases[] = {
	{ "crlf", L5 "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n" MARK "x\r\n", 0,
	    0, "a@b", "c@d", "x\r\n" },
	{ "lf", "i\nd\nS1\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\n<<MAIL-DATA>>\nx\n",
	    0, 0, "a@b", "c@d", "x\n" },
	{ "null sender", L5 "MAIL FROM:<>\r\nRCPT TO:<c@d>\r\n" MARK, 0, 0,
	    "", "c@d", "" },
	{ "xmail internal", L5 "MAIL FROM: <a@b>\r\nRCPT TO:<c@d>\r\n" MARK,
	    0, 0, "a@b", "c@d", "" },
	{ "lower case", L5 "mail from:<a@b>\r\nrcpt to:<c@d> X\r\n" MARK, 0,
	    0, "a@b", "c@d", "" },
	{ "quoted >", L5 "MAIL FROM:<\"a>b\"@c>\r\nRCPT TO:<@r1,@r2:c@d>\r\n"
	    MARK, 0, 0, "\"a>b\"@c", "@r1,@r2:c@d", "" },
	{ "empty lines", "\r\n\r\n\r\nMAIL FROM:<>\r\nRCPT TO:<>\r\n" MARK,
	    0, 0, "", "", "" },
	{ "no marker", L5 "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nx\r\n", 0,
	    -1 },
	{ "marker case", L5 "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"
	    "<<mail-data>>\r\n", 0, -1 },
	{ "marker space", L5 "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"
	    "<<MAIL-DATA>> \r\n", 0, -1 },
	{ "marker unterminated", L5 "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"
	    "<<MAIL-DATA>>", 0, -1 },
	{ "too few lines", "i\r\nd\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"
	    MARK, 0, -1 },
	{ "empty", "", 0, -1 },
	{ "no address", L5 "MAIL FROM:a@b\r\nRCPT TO:<c@d>\r\n" MARK, 0, -1 },
	{ "unclosed", L5 "MAIL FROM:<a@b>\r\nRCPT TO:<c@d\r\n" MARK, 0, -1 },
	{ "swapped", L5 "RCPT TO:<c@d>\r\nMAIL FROM:<a@b>\r\n" MARK, 0, -1 },
	{ "bare cr", L5 "MAIL FROM:<a@b>\rX\r\nRCPT TO:<c@d>\r\n" MARK, 0,
	    -1 },
	{ "nul in header", NUL_HDR, sizeof(NUL_HDR) - 1, -1 },
	{ "binary", BINARY, sizeof(BINARY) - 1, -1 },
};

/* test_load_cases - good and corrupt files, table-driven */
static void
test_load_cases(void **state)
{
	const struct load_case *c;
	struct queue_file qf;
	char path[PATH_MAX];
	size_t i, len;

	strcpy(path, tu_path(state, "f"));
	for (i = 0; i < nitems(load_cases); i++) {
		c = &load_cases[i];
		len = c->len != 0 ? c->len : strlen(c->content);
		put_file(path, c->content, len);
		errno = 0;
		if (queue_file_load(path, 1 << 20, &qf) != c->ret)
			fail_msg("case %s: wrong result", c->name);
		if (c->ret == -1) {
			assert_int_equal(errno, EINVAL);
			continue;
		}
		assert_string_equal(qf.from, c->from);
		assert_string_equal(qf.to, c->to);
		assert_int_equal(qf.datalen, strlen(c->data));
		assert_memory_equal(qf.data, c->data, qf.datalen);
		queue_file_free(&qf);
	}
}

/* test_load_line_max - a line of QUEUE_LINE_MAX loads, one more does not */
static void
test_load_line_max(void **state)
{
	static const char tail[] = "\r\nd\r\nS1\r\nMAIL FROM:<a@b>\r\n"
	    "RCPT TO:<c@d>\r\n" MARK "body";
	char path[PATH_MAX], addr[400], *content;
	struct queue_file qf;
	size_t i, n;

	strcpy(path, tu_path(state, "f"));
	content = malloc(QUEUE_LINE_MAX + 1 + sizeof(tail));
	assert_non_null(content);
	for (i = 0; i < 4; i++) {
		/* the long first line ends in CRLF (i < 2) or LF (i >= 2) */
		n = QUEUE_LINE_MAX + (i & 1);
		memset(content, 'x', n);
		memcpy(content + n, tail + (i >= 2), sizeof(tail) - (i >= 2));
		put_file(path, content, strlen(content));
		if (n == QUEUE_LINE_MAX) {
			assert_int_equal(queue_file_load(path, 1 << 20, &qf),
			    0);
			assert_int_equal(strlen(qf.info), QUEUE_LINE_MAX);
			assert_int_equal(qf.datalen, 4);
			queue_file_free(&qf);
		} else {
			errno = 0;
			assert_int_equal(queue_file_load(path, 1 << 20, &qf),
			    -1);
			assert_int_equal(errno, EINVAL);
		}
	}
	/* An overlong address does not fit queue_file.to. */
	memset(addr, 'x', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	(void)snprintf(content, QUEUE_LINE_MAX, "i\nd\nS\nMAIL FROM:<>\n"
	    "RCPT TO:<%s>\n<<MAIL-DATA>>\n", addr);
	put_file(path, content, strlen(content));
	errno = 0;
	assert_int_equal(queue_file_load(path, 1 << 20, &qf), -1);
	assert_int_equal(errno, EINVAL);
	free(content);
}

/* Collects the refs queue_scan reports. */
struct scan_acc {
	struct queue_ref	refs[8];
	int			n;
	int			stop_after;	/* 0: never stop */
};

/* scan_cb - remember the ref; stop when asked to */
static int
scan_cb(const struct queue_ref *r, void *arg)
{
	struct scan_acc *acc = arg;

	if (acc->n < (int)nitems(acc->refs))
		acc->refs[acc->n] = *r;
	acc->n++;
	return acc->stop_after != 0 && acc->n >= acc->stop_after ? -1 : 0;
}

/* test_scan_move_remove - scan, move between dirs, remove, bad args */
static void
test_scan_move_remove(void **state)
{
	static const char *const rcpts[] = { "RCPT TO:<a@b>", "RCPT TO:<c@d>",
	    "RCPT TO:<e@f>" };
	struct queue_env env = env_make(rcpts, 3);
	struct scan_acc acc = { .n = 0 };
	struct queue_ref refs[3], bad;
	char path[PATH_MAX], want[PATH_MAX];
	int i, found;

	assert_int_equal(count_dir(state, 3, "mess"), 0);
	assert_int_equal(queue_submit(*state, 3, &env, DATA, 5, refs), 0);
	/* dot files and directories are not spool files */
	assert_int_equal(queue_path(*state, &refs[0], "mess", path,
	    sizeof(path)), 0);
	(void)snprintf(want, sizeof(want), "%s/spool/%d/%d/mess/%s",
	    (char *)*state, refs[0].l1, refs[0].l2, refs[0].name);
	assert_string_equal(path, want);
	strcpy(strrchr(path, '/') + 1, ".hidden");
	put_file(path, "x", 1);
	strcpy(strrchr(path, '/') + 1, "subdir");
	assert_int_equal(mkdir(path, 0700), 0);

	assert_int_equal(queue_scan(*state, 3, "mess", scan_cb, &acc), 3);
	assert_int_equal(acc.n, 3);
	for (i = 0, found = 0; i < 3; i++)
		found += strcmp(acc.refs[i].name, refs[1].name) == 0 &&
		    acc.refs[i].l1 == refs[1].l1 &&
		    acc.refs[i].l2 == refs[1].l2;
	assert_int_equal(found, 1);
	acc.n = 0;
	acc.stop_after = 2;
	assert_int_equal(queue_scan(*state, 3, "mess", scan_cb, &acc), 2);

	assert_int_equal(queue_move(*state, &refs[0], "mess", "rsnd"), 0);
	assert_int_equal(count_dir(state, 3, "mess"), 2);
	assert_int_equal(count_dir(state, 3, "rsnd"), 1);
	assert_int_equal(queue_move(*state, &refs[0], "rsnd", "froz"), 0);
	assert_int_equal(count_dir(state, 3, "rsnd"), 0);
	assert_int_equal(count_dir(state, 3, "froz"), 1);
	assert_int_equal(queue_move(*state, &refs[0], "rsnd", "froz"), -1);
	assert_int_equal(queue_remove(*state, &refs[0], "froz"), 0);
	assert_int_equal(count_dir(state, 3, "froz"), 0);
	assert_int_equal(queue_remove(*state, &refs[0], "froz"), -1);

	bad = refs[1];
	strcpy(bad.name, "../x");
	assert_int_equal(queue_path(*state, &bad, "mess", path, sizeof(path)),
	    -1);
	assert_int_equal(queue_remove(*state, &bad, "mess"), -1);
	assert_int_equal(queue_move(*state, &refs[1], "mess", ".."), -1);
	assert_int_equal(queue_path(*state, &refs[1], "mess", path, 10), -1);
	assert_int_equal(queue_scan(*state, 3, "../mess", NULL, NULL), -1);
	assert_int_equal(queue_scan(*state, 0, "mess", NULL, NULL), -1);
	assert_int_equal(count_dir(state, 3, "mess"), 2);
}

/* test_quarantine - corrupt files move aside, a second one gets ".1" */
static void
test_quarantine(void **state)
{
	static const char *const rcpts[] = { "RCPT TO:<a@b>" };
	struct queue_env env = env_make(rcpts, 1);
	struct queue_ref ref;
	char path[PATH_MAX], q[PATH_MAX];

	assert_int_equal(queue_submit(*state, 2, &env, DATA, 5, &ref), 0);
	assert_int_equal(queue_path(*state, &ref, "mess", path, sizeof(path)),
	    0);
	put_file(path, "garbage", 7);
	assert_int_equal(queue_quarantine(*state, &ref, "mess", "test"), 0);
	assert_int_equal(count_dir(state, 2, "mess"), 0);
	assert_int_equal(fs_path(q, sizeof(q), tu_path(state,
	    "spool/quarantine"), ref.name), 0);
	assert_file(q, "garbage");

	/* the same name again (crash during a move): kept as <name>.1 */
	put_file(path, "again", 5);
	assert_int_equal(queue_quarantine(*state, &ref, "mess", NULL), 0);
	(void)snprintf(q, sizeof(q), "%s/spool/quarantine/%s.1",
	    (char *)*state, ref.name);
	assert_file(q, "again");
	assert_int_equal(queue_quarantine(*state, &ref, "mess", "gone"), -1);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

/* main - run the group quietly with a known umask */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_submit),
		T(test_submit_mode),
		T(test_submit_threads),
		T(test_submit_refuse),
		T(test_submit_spool_file),
		T(test_submit_undo),
		T(test_msgid),
		T(test_msgid_big_file),
		T(test_msgid_take),
		T(test_msgid_threads),
		T(test_load_submitted),
		T(test_load_cases),
		T(test_load_line_max),
		T(test_scan_move_remove),
		T(test_quarantine),
	};

	log_init("test_queue", false, false, false);
	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
