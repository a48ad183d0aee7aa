/*
 * test_log.c - diagnostics and service logs (core/log.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"

#define THREADS		8
#define THREAD_RECORDS	200
#define PAD_LEN		300

static time_t	fake_now;	/* what fake_clock returns */

/* fake_clock - the injected service-log clock */
static time_t
fake_clock(void)
{
	return fake_now;
}

/* local_time - time_t for a local date and time (DST decided by libc) */
static time_t
local_time(int y, int mon, int d, int h, int min, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = min;
	tm.tm_sec = s;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

/* test_setup - temporary directory, logs in <tmp>/logs, fake clock */
static int
test_setup(void **state)
{
	char tmpl[] = "/tmp/postroom-test-log.XXXXXX";
	char logs[PATH_MAX];

	if (mkdtemp(tmpl) == NULL)
		return -1;
	*state = strdup(tmpl);
	if (*state == NULL ||
	    fs_path(logs, sizeof(logs), tmpl, "logs") == -1)
		return -1;
	fake_now = local_time(2024, 3, 5, 14, 7, 30);
	log_svc_set_clock(fake_clock);
	return log_svc_init(logs, 0);
}

/* test_teardown - close the logs, real clock, remove the directory */
static int
test_teardown(void **state)
{
	int r;

	log_svc_close();
	log_svc_set_clock(NULL);
	r = fs_rm_tree(*state);
	free(*state);
	return r;
}

/* logfile - "<tmp>/logs/<name>" into out (PATH_MAX bytes) */
static char *
logfile(char *out, void **state, const char *name)
{
	char dir[PATH_MAX];

	assert_int_equal(fs_path(dir, sizeof(dir), *state, "logs"), 0);
	assert_int_equal(fs_path(out, PATH_MAX, dir, name), 0);
	return out;
}

/* slurp - content of path; caller frees */
static char *
slurp(const char *path)
{
	struct buf b;

	buf_init(&b, 1 << 24);
	if (fs_read_file(path, &b) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	return buf_take(&b);
}

/* count_files - entries in the log directory */
static int
count_files(void **state)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int n = 0;

	assert_int_equal(fs_path(dir, sizeof(dir), *state, "logs"), 0);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* capture_start - send stderr to path; returns the saved stderr */
static int
capture_start(const char *path)
{
	int saved, fd;

	saved = dup(STDERR_FILENO);
	assert_true(saved != -1);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	return saved;
}

/* capture_end - restore stderr */
static void
capture_end(int saved)
{
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
}

/*
 * test_defaults - before log_init: lines go to stderr, debug is off, and
 * log_svc refuses to write before log_svc_init.  Must run first.
 */
static void
test_defaults(void **state)
{
	char path[] = "/tmp/postroom-test-log-stderr.XXXXXX";
	const char *f[] = { "x" };
	char *got;
	int fd, saved;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd != -1);
	close(fd);
	saved = capture_start(path);
	log_info("before init %d", 1);
	log_debug("debug line");
	errno = 0;
	assert_int_equal(log_svc("smtp", f, 1), -1);
	assert_int_equal(errno, EINVAL);
	capture_end(saved);
	got = slurp(path);
	assert_non_null(strstr(got, " postroom["));
	assert_non_null(strstr(got, "]: INFO: before init 1\n"));
	assert_null(strstr(got, "debug line"));
	assert_non_null(strstr(got, "WARN: service log smtp"));
	assert_false(log_debug_enabled());
	free(got);
	unlink(path);
}

/* test_diag_format - line format, levels, debug, sanitizing, errno */
static void
test_diag_format(void **state)
{
	int y, mo, d, h, mi, s, pid, saved;
	char path[PATH_MAX], lvl[16], *got, *nl;

	assert_int_equal(fs_path(path, sizeof(path), *state, "stderr"), 0);
	saved = capture_start(path);
	log_init("tident", false, true, false);
	assert_false(log_debug_enabled());
	errno = EACCES;
	log_info("hello %d", 42);
	assert_int_equal(errno, EACCES);
	log_debug("hidden");
	log_warn("a\nb\rc\td");
	log_init("tident", false, false, true);	/* debug implies stderr */
	assert_true(log_debug_enabled());
	log_debug("shown");
	log_init("tident", false, false, false);
	log_error("silent");
	log_init(NULL, false, true, false);
	capture_end(saved);

	got = slurp(path);
	assert_int_equal(sscanf(got,
	    "%4d-%2d-%2d %2d:%2d:%2d tident[%d]: %15[A-Z]:",
	    &y, &mo, &d, &h, &mi, &s, &pid, lvl), 8);
	assert_int_equal(pid, (int)getpid());
	assert_string_equal(lvl, "INFO");
	nl = strchr(got, '\n');
	assert_non_null(nl);
	assert_non_null(strstr(got, "]: INFO: hello 42\n"));
	assert_non_null(strstr(got, "]: WARN: a?b?c\td\n"));
	assert_non_null(strstr(got, "]: DEBUG: shown\n"));
	assert_null(strstr(got, "hidden"));
	assert_null(strstr(got, "silent"));
	free(got);
}

/* test_diag_long - an over-long message is truncated, still one line */
static void
test_diag_long(void **state)
{
	char path[PATH_MAX], *big, *got;
	int saved;

	big = malloc(10000);
	assert_non_null(big);
	memset(big, 'x', 9999);
	big[9999] = '\0';
	assert_int_equal(fs_path(path, sizeof(path), *state, "stderr"), 0);
	saved = capture_start(path);
	log_warn("%s", big);
	capture_end(saved);
	got = slurp(path);
	assert_non_null(strstr(got, "xxx...\n"));
	assert_ptr_equal(strchr(got, '\n'), got + strlen(got) - 1);
	assert_true(strlen(got) < 4096 + 128);
	free(got);
	free(big);
}

/* run_child - fork, run fn with stderr in path, return the wait status */
static int
run_child(const char *path, void (*fn)(void))
{
	pid_t pid;
	int st;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd == -1 || dup2(fd, STDERR_FILENO) == -1)
			_exit(99);
		fn();
		_exit(98);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

/* child_fatal - fatal with stderr disabled: the message still shows */
static void
child_fatal(void)
{
	log_init("fatalchild", false, false, false);
	fatal(75, "cannot start: %s", "reason");
}

/* child_fatalx - a bug: abort */
static void
child_fatalx(void)
{
	signal(SIGABRT, SIG_DFL);
	fatalx("bad state %d", 7);
}

/* test_fatal - fatal exits with the code, fatalx aborts; both log */
static void
test_fatal(void **state)
{
	char path[PATH_MAX], *got;
	int st;

	assert_int_equal(fs_path(path, sizeof(path), *state, "stderr"), 0);
	st = run_child(path, child_fatal);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 75);
	got = slurp(path);
	assert_non_null(strstr(got, "fatalchild["));
	assert_non_null(strstr(got, "]: ERROR: cannot start: reason\n"));
	free(got);

	st = run_child(path, child_fatalx);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
	got = slurp(path);
	assert_non_null(strstr(got, "]: ERROR: bad state 7\n"));
	free(got);
}

/* Records and the exact line each must produce. */
static const struct {
	const char	*name;
	const char	*fields[4];
	int		 n;
	const char	*line;
} record_cases[] = {
	{ "plain", { "a", "b", "c" }, 3, "\"a\"\t\"b\"\t\"c\"\n" },
	{ "one field", { "only" }, 1, "\"only\"\n" },
	{ "quotes", { "say \"hi\"", "\"" }, 2,
	    "\"say \\\"hi\\\"\"\t\"\\\"\"\n" },
	{ "CR LF TAB", { "a\r\nb\tc" }, 1, "\"a??b?c\"\n" },
	{ "DEL and C0", { "\x7f\x01\x1b[0m" }, 1, "\"???[0m\"\n" },
	{ "empty and NULL", { "", NULL, "z" }, 3, "\"\"\t\"\"\t\"z\"\n" },
	{ "UTF-8 kept", { "caf\xc3\xa9" }, 1, "\"caf\xc3\xa9\"\n" },
	{ "backslash kept", { "a\\b" }, 1, "\"a\\b\"\n" },
	{ "no fields", { NULL }, 0, "\n" },
};

/* test_svc_records - quoting, escaping, file name <svc>-YYYYMMDDHHMM */
static void
test_svc_records(void **state)
{
	char svc[32], name[64], path[PATH_MAX], *got;
	size_t i;

	for (i = 0; i < nitems(record_cases); i++) {
		snprintf(svc, sizeof(svc), "case%zu", i);
		if (log_svc(svc, record_cases[i].fields, record_cases[i].n))
			fail_msg("%s: %s", record_cases[i].name,
			    strerror(errno));
		snprintf(name, sizeof(name), "%s-202403051407", svc);
		got = slurp(logfile(path, state, name));
		if (strcmp(got, record_cases[i].line) != 0)
			fail_msg("%s: got [%s]", record_cases[i].name, got);
		free(got);
	}
	assert_int_equal(count_files(state), (int)nitems(record_cases));
}

/* test_svc_append - records append, also after close and reopen */
static void
test_svc_append(void **state)
{
	const char *r1[] = { "1" }, *r2[] = { "2" }, *r3[] = { "3" };
	char path[PATH_MAX], *got;
	struct stat st;
	int fd;

	/* A file from an earlier run of the same minute is kept. */
	logfile(path, state, "smtp-202403051407");
	fd = open(path, O_WRONLY | O_CREAT, 0640);
	assert_true(fd != -1);
	assert_int_equal(write(fd, "\"0\"\n", 4), 4);
	close(fd);
	assert_int_equal(log_svc("smtp", r1, 1), 0);
	assert_int_equal(log_svc("smtp", r2, 1), 0);
	log_svc_close();
	assert_int_equal(log_svc("smtp", r3, 1), 0);
	got = slurp(path);
	assert_string_equal(got, "\"0\"\n\"1\"\n\"2\"\n\"3\"\n");
	free(got);
	assert_int_equal(count_files(state), 1);

	unlink(path);
	log_svc_close();
	assert_int_equal(log_svc("smtp", r1, 1), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	logfile(path, state, "");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0750);
}

/* test_svc_rotation - a new file once the period has passed */
static void
test_svc_rotation(void **state)
{
	const char *r[] = { "r1" }, *r2[] = { "r2" }, *r3[] = { "r3" };
	char logs[PATH_MAX], path[PATH_MAX], *got;
	time_t t0 = fake_now;

	assert_int_equal(fs_path(logs, sizeof(logs), *state, "logs"), 0);
	assert_int_equal(log_svc_init(logs, 1), 0);
	assert_int_equal(log_svc("pop3", r, 1), 0);
	fake_now = t0 + 3599;		/* 15:07:29: still the first file */
	assert_int_equal(log_svc("pop3", r2, 1), 0);
	assert_int_equal(count_files(state), 1);
	fake_now = t0 + 3601;		/* 15:07:31: a new file */
	assert_int_equal(log_svc("pop3", r3, 1), 0);
	assert_int_equal(count_files(state), 2);

	got = slurp(logfile(path, state, "pop3-202403051407"));
	assert_string_equal(got, "\"r1\"\n\"r2\"\n");
	free(got);
	got = slurp(logfile(path, state, "pop3-202403051507"));
	assert_string_equal(got, "\"r3\"\n");
	free(got);

	/* rotate_hours 0: never rotate, however late it gets. */
	assert_int_equal(log_svc_init(logs, 0), 0);
	assert_int_equal(log_svc("pop3", r, 1), 0);
	fake_now += 10 * 86400;
	assert_int_equal(log_svc("pop3", r2, 1), 0);
	got = slurp(logfile(path, state, "pop3-202403051507"));
	assert_string_equal(got, "\"r3\"\n\"r1\"\n\"r2\"\n");
	free(got);
	assert_int_equal(count_files(state), 2);
}

/* test_svc_errors - bad names, bad arguments, over-long records */
static void
test_svc_errors(void **state)
{
	static const char *const bad[] = {
		"", "..", ".hidden", "a/b", "../x", "smtp\n",
		"abcdefghijklmnopqrstuvwxyz012345",	/* 32 characters */
	};
	const char *f[] = { "x" }, *big_f[1];
	char *big;
	size_t i;

	log_init("test_log", false, false, false);	/* quiet warnings */
	for (i = 0; i < nitems(bad); i++) {
		errno = 0;
		assert_int_equal(log_svc(bad[i], f, 1), -1);
		assert_int_equal(errno, EINVAL);
	}
	errno = 0;
	assert_int_equal(log_svc(NULL, f, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(log_svc("smtp", NULL, 1), -1);
	assert_int_equal(log_svc("smtp", f, -1), -1);
	assert_int_equal(log_svc_init("", 1), -1);
	assert_int_equal(log_svc_init("/tmp", -1), -1);

	big = malloc(70000);
	assert_non_null(big);
	memset(big, 'b', 69999);
	big[69999] = '\0';
	big_f[0] = big;
	errno = 0;
	assert_int_equal(log_svc("smtp", big_f, 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	free(big);
	assert_int_equal(count_files(state), 0);

	/* 31 characters of the allowed set are fine. */
	assert_int_equal(log_svc("abcdefghijklmnopqrstuvwxyz.-_01", f, 1), 0);
	log_init(NULL, false, true, false);
}

/* test_svc_many - more services than the table holds still get written */
static void
test_svc_many(void **state)
{
	char svc[32], name[64], path[PATH_MAX], *got;
	const char *f[] = { "rec" };
	int i, round;

	for (round = 0; round < 2; round++) {
		for (i = 0; i < 40; i++) {
			snprintf(svc, sizeof(svc), "svc%d", i);
			assert_int_equal(log_svc(svc, f, 1), 0);
		}
	}
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "svc%d-202403051407", i);
		got = slurp(logfile(path, state, name));
		assert_string_equal(got, "\"rec\"\n\"rec\"\n");
		free(got);
	}
}

/* svc_thread - THREAD_RECORDS records tagged with the thread number */
static void *
svc_thread(void *arg)
{
	char tag[16], seq[16], pad[PAD_LEN + 1];
	const char *f[3] = { tag, seq, pad };
	intptr_t bad = 0;
	int i;

	snprintf(tag, sizeof(tag), "t%d", (int)(intptr_t)arg);
	memset(pad, 'a' + (int)(intptr_t)arg, PAD_LEN);
	pad[PAD_LEN] = '\0';
	for (i = 0; i < THREAD_RECORDS; i++) {
		snprintf(seq, sizeof(seq), "%d", i);
		bad += log_svc("smtp", f, 3) != 0;
	}
	return (void *)bad;
}

/* test_svc_threads - concurrent records never interleave */
static void
test_svc_threads(void **state)
{
	char path[PATH_MAX], *got, *line, *save, pad[PAD_LEN + 1];
	int next[THREADS] = { 0 }, t, seq, lines = 0;
	pthread_t th[THREADS];
	void *bad;
	intptr_t i;

	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, svc_thread,
		    (void *)i), 0);
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], &bad), 0);
		assert_int_equal((intptr_t)bad, 0);
	}
	got = slurp(logfile(path, state, "smtp-202403051407"));
	for (line = strtok_r(got, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		assert_int_equal(sscanf(line, "\"t%d\"\t\"%d\"\t\"%300[a-z]\"",
		    &t, &seq, pad), 3);
		assert_true(t >= 0 && t < THREADS);
		assert_int_equal(seq, next[t]);	/* in order per thread */
		next[t]++;
		assert_int_equal(strlen(pad), PAD_LEN);
		assert_int_equal(pad[0], 'a' + t);
		assert_int_equal(strlen(line), 2 + strlen("t0") + 3 +
		    strlen(pad) + 3 + (size_t)snprintf(NULL, 0, "%d", seq));
		lines++;
	}
	assert_int_equal(lines, THREADS * THREAD_RECORDS);
	free(got);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)

/* main - run the group; test_defaults must come first */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		T(test_diag_format),
		T(test_diag_long),
		T(test_fatal),
		T(test_svc_records),
		T(test_svc_append),
		T(test_svc_rotation),
		T(test_svc_errors),
		T(test_svc_many),
		T(test_svc_threads),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
