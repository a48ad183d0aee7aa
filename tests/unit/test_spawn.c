/*
 * test_spawn.c - running programs without a shell (core/spawn.c).
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
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/spawn.h"
#include "testutil.h"

#define SH		"/bin/sh"
#define THREADS		8
#define THREAD_RUNS	20

/* tjoin - "<dir>/<name>" into out (PATH_MAX bytes) */
static char *
tjoin(char *out, void **state, const char *name)
{
	assert_int_equal(fs_path(out, PATH_MAX, *state, name), 0);
	return out;
}

/* slurp - content of path; caller frees */
static char *
slurp(const char *path)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	assert_int_equal(fs_read_file(path, &b), 0);
	return buf_take(&b);
}

/* now_ms - monotonic milliseconds */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* run_sh - run /bin/sh -c script with opts; returns status, *code */
static enum spawn_status
run_sh(const char *script, const struct spawn_opts *opts, int *code)
{
	char *argv[] = { SH, "-c", (char *)script, NULL };

	return spawn_run(argv, opts, code);
}

/* pgrp_alive - a live (non-zombie) process is in process group pgid */
static bool
pgrp_alive(pid_t pgid)
{
	char path[300], line[1024], *p, st;
	struct dirent *de;
	int ppid, pgrp;
	bool alive = false;
	FILE *f;
	DIR *d;

	d = opendir("/proc");
	assert_non_null(d);
	while (!alive && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		p = fgets(line, sizeof(line), f);
		fclose(f);
		/* "pid (comm) state ppid pgrp ...": comm may hold spaces. */
		if (p == NULL || (p = strrchr(line, ')')) == NULL)
			continue;
		if (sscanf(p + 1, " %c %d %d", &st, &ppid, &pgrp) == 3 &&
		    pgrp == pgid && st != 'Z' && st != 'X')
			alive = true;
	}
	closedir(d);
	return alive;
}

/* pgrp_gone - wait up to ms for group pgid to have no live process */
static bool
pgrp_gone(pid_t pgid, int ms)
{
	int64_t end = now_ms() + ms;

	while (pgrp_alive(pgid)) {
		if (now_ms() > end)
			return false;
		usleep(20000);
	}
	return true;
}

/* read_pid - the number the script wrote to path */
static pid_t
read_pid(const char *path)
{
	char *s;
	long v;

	s = slurp(path);
	v = strtol(s, NULL, 10);
	free(s);
	assert_true(v > 1);
	return (pid_t)v;
}

/* Exit statuses come back as SPAWN_EXITED with the code. */
static const struct {
	const char	*script;
	int		 code;
} exit_cases[] = {
	{ "exit 0", 0 },
	{ "exit 3", 3 },
	{ "exit 127", 127 },
	{ "exit 255", 255 },
	{ "true", 0 },
	{ "false", 1 },
};

/* test_exit_codes - exit statuses */
static void
test_exit_codes(void **state)
{
	struct spawn_opts o = { .timeout = 10 };
	size_t i;
	int code;

	(void)state;
	for (i = 0; i < nitems(exit_cases); i++) {
		code = -1;
		assert_int_equal(run_sh(exit_cases[i].script, &o, &code),
		    SPAWN_EXITED);
		assert_int_equal(code, exit_cases[i].code);
	}
	/* No options, no code pointer. */
	assert_int_equal(run_sh("exit 0", NULL, NULL), SPAWN_EXITED);
}

/* Arguments a shell would interpret; '@' stands for the marker file. */
static const char *const literal_args[] = {
	"a; touch @",
	"$(touch @)",
	"`touch @`",
	"| touch @",
	"&& touch @",
	"'quoted' \"double\" @",
	"a  b\tc *",
	"$HOME ${PATH} ~ %s @",
	"back\\slash\\n",
	"",
};

/* subst - copy tmpl to out (size bytes) with each '@' replaced by repl */
static void
subst(char *out, size_t size, const char *tmpl, const char *repl)
{
	struct buf b;

	buf_init(&b, size - 1);
	for (; *tmpl != '\0'; tmpl++) {
		if (*tmpl == '@')
			assert_int_equal(buf_puts(&b, repl), 0);
		else
			assert_int_equal(buf_putc(&b, *tmpl), 0);
	}
	memcpy(out, b.data, b.len + 1);
	buf_clear(&b);
}

/* test_literal_args - argv reaches the program unchanged, no shell runs */
static void
test_literal_args(void **state)
{
	char marker[PATH_MAX], out[PATH_MAX], args[nitems(literal_args)][512];
	char *argv[nitems(literal_args) + 3], *got;
	struct spawn_opts o = { .timeout = 10 };
	struct buf want;
	size_t i;
	int code;

	tjoin(marker, state, "pwned");
	o.stdout_path = tjoin(out, state, "out");
	argv[0] = "/usr/bin/printf";
	argv[1] = "%s\\n";
	buf_init(&want, 1 << 16);
	for (i = 0; i < nitems(literal_args); i++) {
		subst(args[i], sizeof(args[i]), literal_args[i], marker);
		argv[i + 2] = args[i];
		assert_int_equal(buf_printf(&want, "%s\n", args[i]), 0);
	}
	argv[i + 2] = NULL;
	assert_int_equal(spawn_run(argv, &o, &code), SPAWN_EXITED);
	assert_int_equal(code, 0);
	got = slurp(out);
	assert_string_equal(got, want.data);
	free(got);
	buf_clear(&want);
	assert_false(fs_exists(marker));
}

/* test_stdin_file - stdin_path feeds the program; default is /dev/null */
static void
test_stdin_file(void **state)
{
	char in[PATH_MAX], out[PATH_MAX], *got;
	struct spawn_opts o = { .timeout = 10 };
	char *cat[] = { "/bin/cat", NULL };
	static const char text[] = "line one\nline two; $(x)\n";
	int code;

	tjoin(in, state, "in");
	assert_int_equal(fs_write_new(in, text, sizeof(text) - 1, 0600), 0);
	o.stdin_path = in;
	o.stdout_path = tjoin(out, state, "out");
	assert_int_equal(spawn_run(cat, &o, &code), SPAWN_EXITED);
	assert_int_equal(code, 0);
	got = slurp(out);
	assert_string_equal(got, text);
	free(got);

	/* Default stdin: /dev/null, so cat ends at once; out is truncated. */
	o.stdin_path = NULL;
	assert_int_equal(spawn_run(cat, &o, &code), SPAWN_EXITED);
	assert_int_equal(code, 0);
	got = slurp(out);
	assert_string_equal(got, "");
	free(got);
}

/* test_stderr_to_stdout - stderr goes to stdout_path too */
static void
test_stderr_to_stdout(void **state)
{
	struct spawn_opts o = { .timeout = 10 };
	char out[PATH_MAX], *got;
	struct stat st;
	int code;

	o.stdout_path = tjoin(out, state, "out");
	assert_int_equal(run_sh("echo out; echo err >&2; echo out2", &o,
	    &code), SPAWN_EXITED);
	got = slurp(out);
	assert_string_equal(got, "out\nerr\nout2\n");
	free(got);
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* test_env - minimal environment by default, envp as given otherwise */
static void
test_env(void **state)
{
	char *env[] = { "env", NULL };
	char *custom[] = { "FOO=bar baz", "X=1", NULL };
	struct spawn_opts o = { .timeout = 10 };
	char out[PATH_MAX], *got;
	int code;

	o.stdout_path = tjoin(out, state, "out");
	/* "env" has no '/': found through the child's PATH. */
	assert_int_equal(spawn_run(env, &o, &code), SPAWN_EXITED);
	assert_int_equal(code, 0);
	got = slurp(out);
	assert_string_equal(got, "PATH=/usr/local/bin:/usr/bin:/bin\n");
	free(got);

	o.envp = custom;
	assert_int_equal(spawn_run(env, &o, &code), SPAWN_EXITED);
	got = slurp(out);
	assert_string_equal(got, "FOO=bar baz\nX=1\n");
	free(got);
}

/* test_dir - the program runs in opts->dir */
static void
test_dir(void **state)
{
	char sub[PATH_MAX], out[PATH_MAX], real[PATH_MAX], want[PATH_MAX + 1];
	struct spawn_opts o = { .timeout = 10 };
	char *pwd[] = { "/bin/pwd", "-P", NULL };
	char *got;
	int code;

	tjoin(sub, state, "sub dir");
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_non_null(realpath(sub, real));
	snprintf(want, sizeof(want), "%s\n", real);
	o.dir = sub;
	o.stdout_path = tjoin(out, state, "out");
	assert_int_equal(spawn_run(pwd, &o, &code), SPAWN_EXITED);
	assert_int_equal(code, 0);
	got = slurp(out);
	assert_string_equal(got, want);
	free(got);
}

/* test_fds_closed - only 0, 1 and 2 reach the program */
static void
test_fds_closed(void **state)
{
	struct spawn_opts o = { .timeout = 10 };
	char script[256];
	int fd, hi, code;

	(void)state;
	fd = open("/dev/null", O_RDONLY);	/* no O_CLOEXEC on purpose */
	assert_true(fd >= 3);
	hi = fcntl(fd, F_DUPFD, 100);
	assert_true(hi >= 100);
	snprintf(script, sizeof(script),
	    "for n in 3 4 %d %d; do [ -e /proc/$$/fd/$n ] && exit 1; done; "
	    "[ -e /proc/$$/fd/0 ] && [ -e /proc/$$/fd/1 ] && "
	    "[ -e /proc/$$/fd/2 ]", fd, hi);
	assert_int_equal(run_sh(script, &o, &code), SPAWN_EXITED);
	assert_int_equal(code, 0);
	close(fd);
	close(hi);
}

/* count_fds - open descriptors of this process */
static int
count_fds(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir("/proc/self/fd");
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Signals ending the program come back as SPAWN_SIGNALED. */
static const struct {
	const char	*script;
	int		 sig;
} signal_cases[] = {
	{ "kill -KILL $$", SIGKILL },
	{ "kill -TERM $$", SIGTERM },	/* blocked in the caller */
	{ "kill -PIPE $$", SIGPIPE },	/* ignored in the caller */
	{ "kill -INT $$", SIGINT },
};

/* test_signaled - death by signal, whatever mask the caller has */
static void
test_signaled(void **state)
{
	struct spawn_opts o = { .timeout = 10 };
	sigset_t block, old;
	void (*oldpipe)(int);
	size_t i;
	int code;

	(void)state;
	/* Worker threads block signals and servers ignore SIGPIPE. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	oldpipe = signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < nitems(signal_cases); i++) {
		code = -1;
		assert_int_equal(run_sh(signal_cases[i].script, &o, &code),
		    SPAWN_SIGNALED);
		assert_int_equal(code, signal_cases[i].sig);
	}
	signal(SIGPIPE, oldpipe);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* test_timeout - a sleeping program is killed with SIGTERM */
static void
test_timeout(void **state)
{
	struct spawn_opts o = { .timeout = 1 };
	char *argv[] = { "/bin/sleep", "30", NULL };
	int64_t t0, ms;
	int code;

	(void)state;
	t0 = now_ms();
	assert_int_equal(spawn_run(argv, &o, &code), SPAWN_TIMEOUT);
	ms = now_ms() - t0;
	assert_int_equal(code, SIGTERM);
	assert_true(ms >= 900 && ms < 2500);
}

/* test_timeout_group - children in the group die with the program */
static void
test_timeout_group(void **state)
{
	struct spawn_opts o = { .timeout = 1 };
	char pidfile[PATH_MAX], script[PATH_MAX + 64];
	int64_t t0, ms;
	pid_t pgid;
	int code;

	tjoin(pidfile, state, "pid");
	snprintf(script, sizeof(script),
	    "echo $$ > '%s'; sleep 30 & sleep 30", pidfile);
	t0 = now_ms();
	assert_int_equal(run_sh(script, &o, &code), SPAWN_TIMEOUT);
	ms = now_ms() - t0;
	assert_true(ms < 4000);
	pgid = read_pid(pidfile);
	assert_true(pgrp_gone(pgid, 2000));
}

/* test_timeout_kill - SIGTERM ignored: SIGKILL after the grace period */
static void
test_timeout_kill(void **state)
{
	struct spawn_opts o = { .timeout = 1 };
	char pidfile[PATH_MAX], script[PATH_MAX + 64];
	int64_t t0, ms;
	pid_t pgid;
	int code;

	tjoin(pidfile, state, "pid");
	snprintf(script, sizeof(script),
	    "trap '' TERM; echo $$ > '%s'; sleep 30 & sleep 30; exit 0",
	    pidfile);
	t0 = now_ms();
	assert_int_equal(run_sh(script, &o, &code), SPAWN_TIMEOUT);
	ms = now_ms() - t0;
	assert_int_equal(code, SIGKILL);
	assert_true(ms >= 2900 && ms < 6000);
	pgid = read_pid(pidfile);
	assert_true(pgrp_gone(pgid, 2000));
}

/* test_no_timeout - timeout 0 waits as long as it takes */
static void
test_no_timeout(void **state)
{
	struct spawn_opts o = { .timeout = 0 };
	int code;

	(void)state;
	assert_int_equal(run_sh("sleep 0.2; exit 7", &o, &code), SPAWN_EXITED);
	assert_int_equal(code, 7);
}

/* test_failures - cannot start: SPAWN_FAILED with the errno */
static void
test_failures(void **state)
{
	char noexec[PATH_MAX], garbage[PATH_MAX], out[PATH_MAX];
	char link[PATH_MAX], *got;
	struct {
		char		*prog;
		const char	*dir;
		const char	*in;
		const char	*out;
		int		 err;
	} cases[] = {
		{ "/nonexistent/prog", NULL, NULL, NULL, ENOENT },
		{ "no-such-program-postroom", NULL, NULL, NULL, ENOENT },
		{ "", NULL, NULL, NULL, ENOENT },
		{ noexec, NULL, NULL, NULL, EACCES },
		{ garbage, NULL, NULL, NULL, ENOEXEC },	/* no sh fallback */
		{ "/tmp", NULL, NULL, NULL, EACCES },
		{ "/bin/true", "/nonexistent", NULL, NULL, ENOENT },
		{ "/bin/true", NULL, "/nonexistent", NULL, ENOENT },
		{ "/bin/true", NULL, NULL, "/nonexistent/out", ENOENT },
		{ "/bin/true", NULL, NULL, link, ELOOP },
	};
	struct spawn_opts o = { .timeout = 10 };
	char *argv[2];
	size_t i;
	int code, before;

	tjoin(noexec, state, "noexec");
	assert_int_equal(fs_write_new(noexec, "#!/bin/sh\nexit 0\n", 17,
	    0644), 0);
	tjoin(garbage, state, "garbage");
	assert_int_equal(fs_write_new(garbage, "\x01\x02\x03\x04", 4, 0755),
	    0);
	tjoin(link, state, "link");
	assert_int_equal(symlink(tjoin(out, state, "target"), link), 0);
	before = count_fds();
	for (i = 0; i < nitems(cases); i++) {
		argv[0] = cases[i].prog;
		argv[1] = NULL;
		o.dir = cases[i].dir;
		o.stdin_path = cases[i].in;
		o.stdout_path = cases[i].out;
		code = -1;
		if (spawn_run(argv, &o, &code) != SPAWN_FAILED ||
		    code != cases[i].err)
			fail_msg("case %zu (%s): code %d, want %d", i,
			    cases[i].prog, code, cases[i].err);
	}
	assert_false(fs_exists(out));
	assert_int_equal(count_fds(), before);

	/* A missing stdin leaves an existing stdout file alone. */
	assert_int_equal(fs_write_new(out, "keep", 4, 0600), 0);
	argv[0] = "/bin/true";
	o.dir = NULL;
	o.stdin_path = "/nonexistent";
	o.stdout_path = out;
	assert_int_equal(spawn_run(argv, &o, &code), SPAWN_FAILED);
	assert_int_equal(code, ENOENT);
	got = slurp(out);
	assert_string_equal(got, "keep");
	free(got);

	argv[0] = NULL;
	assert_int_equal(spawn_run(argv, &o, &code), SPAWN_FAILED);
	assert_int_equal(code, EINVAL);
	assert_int_equal(spawn_run(NULL, &o, &code), SPAWN_FAILED);
	assert_int_equal(code, EINVAL);
}

/* spawn_thread - run THREAD_RUNS programs with a per-thread exit code */
static void *
spawn_thread(void *arg)
{
	struct spawn_opts o = { .timeout = 10 };
	intptr_t n = (intptr_t)arg, bad = 0;
	char script[32];
	int i, code;

	snprintf(script, sizeof(script), "exit %d", (int)n);
	for (i = 0; i < THREAD_RUNS; i++) {
		if (run_sh(script, &o, &code) != SPAWN_EXITED || code != n)
			bad++;
	}
	return (void *)bad;
}

/* test_threads - concurrent spawns from several threads, no fd leaks */
static void
test_threads(void **state)
{
	pthread_t t[THREADS];
	void *bad;
	intptr_t i;
	int before;

	(void)state;
	before = count_fds();
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, spawn_thread,
		    (void *)(i + 1)), 0);
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_int_equal((intptr_t)bad, 0);
	}
	assert_int_equal(count_fds(), before);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

/* main - run the group */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_exit_codes),
		T(test_literal_args),
		T(test_stdin_file),
		T(test_stderr_to_stdout),
		T(test_env),
		T(test_dir),
		T(test_fds_closed),
		T(test_signaled),
		T(test_timeout),
		T(test_timeout_group),
		T(test_timeout_kill),
		T(test_no_timeout),
		T(test_failures),
		T(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
