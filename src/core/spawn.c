/*
 * spawn.c - run an external program without a shell, with a timeout.
 *
 * fork() + execve() from a multi-threaded process: the child runs only
 * async-signal-safe calls between the two (no malloc, no stdio, no locks),
 * so everything that needs memory or a PATH search happens in the parent
 * first.  An exec failure comes back through a close-on-exec pipe: EOF means
 * the exec worked, an int means it failed with that errno.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/compat.h"
#include "core/spawn.h"

#define SPAWN_GRACE_MS		2000	/* SIGTERM to SIGKILL */
#define SPAWN_NAP_MIN_MS	1	/* first sleep when polling waitid */
#define SPAWN_NAP_MAX_MS	100	/* longest sleep when polling waitid */
#define SPAWN_FD_LIMIT		65536	/* close() bound without close_range */
#define SPAWN_ERRFD		3	/* exec-error pipe in the child */
#define SPAWN_DEFAULT_PATH	"/usr/local/bin:/usr/bin:/bin"

/* What the child needs, all prepared by the parent before fork(). */
struct spawn_child {
	const char	*path;		/* resolved program to execve() */
	char *const	*argv;		/* argument vector, as given */
	char *const	*envp;		/* environment for the program */
	const char	*dir;		/* chdir() target or NULL */
	int		 in;		/* becomes fd 0; >= 3, close-on-exec */
	int		 out;		/* becomes fd 1 and 2; >= 3, cloexec */
	int		 errfd;		/* write end of the errno pipe; >= 3 */
	int		 maxfd;		/* close() bound if close_range fails */
};

static char	 spawn_env_path[] = "PATH=" SPAWN_DEFAULT_PATH;
static char	*const spawn_env_min[] = { spawn_env_path, NULL };

/* spawn_now_ms - monotonic clock in milliseconds */
static int64_t
spawn_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* spawn_path_var - the PATH value of envp, or the minimal default */
static const char *
spawn_path_var(char *const *envp)
{
	for (; *envp != NULL; envp++) {
		if (strncmp(*envp, "PATH=", 5) == 0)
			return *envp + 5;
	}
	return SPAWN_DEFAULT_PATH;
}

/* spawn_is_exec - path is a regular file we may execute */
static bool
spawn_is_exec(const char *path, bool *seen)
{
	struct stat st;

	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return false;
	*seen = true;
	return faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0;
}

/*
 * spawn_resolve - find prog like execvp() would, but only in the absolute
 * directories of the child's PATH (never the current directory), and in the
 * parent, where a search may allocate.  A name with a '/' is used as is.
 */
static int
spawn_resolve(const char *prog, char *const *envp, char *out, size_t size)
{
	const char *p, *end;
	bool seen = false;
	size_t len;
	int n;

	if (*prog == '\0') {
		errno = ENOENT;
		return -1;
	}
	if (strchr(prog, '/') != NULL) {
		if (!str_copy(out, prog, size)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		return 0;
	}
	for (p = spawn_path_var(envp); *p != '\0'; p = *end ? end + 1 : end) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		if (len == 0 || *p != '/' || len > INT_MAX)
			continue;
		n = snprintf(out, size, "%.*s/%s", (int)len, p, prog);
		if (n < 0 || (size_t)n >= size)
			continue;
		if (spawn_is_exec(out, &seen))
			return 0;
	}
	errno = seen ? EACCES : ENOENT;
	return -1;
}

/* spawn_fd_high - move a close-on-exec fd to >= 3 so dup2 cannot clobber it */
static int
spawn_fd_high(int fd)
{
	int nfd;

	if (fd == -1 || fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (nfd == -1) {
		int e = errno;

		(void)close(fd);
		errno = e;
		return -1;
	}
	(void)close(fd);
	return nfd;
}

/* spawn_close_fds - close the parent's copies of the child's fds */
static void
spawn_close_fds(struct spawn_child *c, int *errpipe_rd)
{
	int e = errno;

	if (c->in != -1)
		(void)close(c->in);
	if (c->out != -1)
		(void)close(c->out);
	if (c->errfd != -1)
		(void)close(c->errfd);
	if (errpipe_rd != NULL && *errpipe_rd != -1)
		(void)close(*errpipe_rd);
	c->in = c->out = c->errfd = -1;
	errno = e;
}

/* spawn_prepare - open stdin, stdout and the errno pipe (all cloexec) */
static int
spawn_prepare(struct spawn_child *c, const struct spawn_opts *opts,
    int *errpipe_rd)
{
	const char *in, *out;
	struct rlimit rl;
	int p[2];

	in = opts->stdin_path ? opts->stdin_path : "/dev/null";
	out = opts->stdout_path ? opts->stdout_path : "/dev/null";
	c->in = c->out = c->errfd = -1;
	*errpipe_rd = -1;
	/* stdin first: a missing input must not truncate the output file. */
	c->in = spawn_fd_high(open(in, O_RDONLY | O_CLOEXEC | O_NOCTTY));
	if (c->in != -1)
		c->out = spawn_fd_high(open(out, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600));
	if (c->in == -1 || c->out == -1 || pipe2(p, O_CLOEXEC) == -1) {
		spawn_close_fds(c, NULL);
		return -1;
	}
	*errpipe_rd = p[0];
	c->errfd = spawn_fd_high(p[1]);
	if (c->errfd == -1) {
		spawn_close_fds(c, errpipe_rd);
		return -1;
	}
	c->maxfd = SPAWN_FD_LIMIT;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < SPAWN_FD_LIMIT)
		c->maxfd = (int)rl.rlim_cur;
	return 0;
}

/* spawn_close_from - close every fd >= lo (async-signal-safe) */
static void
spawn_close_from(int lo, int maxfd)
{
	int fd;

	if (close_range((unsigned int)lo, ~0U, 0) == 0)
		return;
	for (fd = lo; fd < maxfd; fd++)
		(void)close(fd);
}

/*
 * spawn_child - the forked child: own process group, default signals,
 * stdio, no other fds, chdir, exec.  Never returns.  Async-signal-safe calls
 * only: another thread may have held the malloc lock at fork() time.
 */
static NORETURN void
spawn_child(const struct spawn_child *c)
{
	struct sigaction sa;
	sigset_t none;
	int efd = c->errfd, sig, e;
	ssize_t n;

	if (setpgid(0, 0) == -1)
		goto fail;
	/* Undo the parent's handlers and SIG_IGN (SIGPIPE, ...). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	(void)sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	if (dup2(c->in, 0) == -1 || dup2(c->out, 1) == -1 ||
	    dup2(c->out, 2) == -1)
		goto fail;
	if (efd != SPAWN_ERRFD) {
		if (dup2(efd, SPAWN_ERRFD) == -1)
			goto fail;
		efd = SPAWN_ERRFD;
	}
	if (fcntl(efd, F_SETFD, FD_CLOEXEC) == -1)
		goto fail;
	spawn_close_from(SPAWN_ERRFD + 1, c->maxfd);
	if (c->dir != NULL && chdir(c->dir) == -1)
		goto fail;
	/* Worker threads block signals; the program must not inherit that. */
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)execve(c->path, c->argv, c->envp);
fail:
	e = errno;
	n = write(efd, &e, sizeof(e));
	(void)n;
	_exit(127);
}

/* spawn_fork - fork with every signal blocked; the child never returns */
static pid_t
spawn_fork(const struct spawn_child *c)
{
	sigset_t all, old;
	pid_t pid;
	int e;

	/* No parent signal handler may run in the child before the reset. */
	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		spawn_child(c);
	e = errno;
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return pid;
}

/* spawn_exec_errno - 0 once the child exec'd, else its errno */
static int
spawn_exec_errno(int rd)
{
	ssize_t n;
	int e;

	for (;;) {
		n = read(rd, &e, sizeof(e));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			return 0;
		if (n == (ssize_t)sizeof(e))
			return e != 0 ? e : EIO;
		return n == -1 ? errno : EIO;
	}
}

/* spawn_reap - waitpid for pid, retrying on EINTR */
static int
spawn_reap(pid_t pid, int *st)
{
	while (waitpid(pid, st, 0) == -1) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* spawn_pidfd - a pidfd for pid, or -1 where the kernel has none */
static int
spawn_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

/* spawn_nap - sleep ms milliseconds (or until a signal) */
static void
spawn_nap(int64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	(void)nanosleep(&ts, NULL);
}

/*
 * spawn_wait_exit - wait up to ms for pid to end, without reaping it (the
 * zombie keeps the process group id from being reused).  Uses the pidfd
 * when there is one, else polls with growing naps.  Returns 1 when it
 * ended, 0 on timeout, -1 on error.
 */
static int
spawn_wait_exit(pid_t pid, int pidfd, int64_t ms)
{
	int64_t deadline = spawn_now_ms() + ms, left, nap = SPAWN_NAP_MIN_MS;
	struct pollfd pfd;
	siginfo_t si;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si,
		    WEXITED | WNOHANG | WNOWAIT) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (si.si_pid == pid)
			return 1;
		left = deadline - spawn_now_ms();
		if (left <= 0)
			return 0;
		if (pidfd != -1) {
			pfd.fd = pidfd;
			pfd.events = POLLIN;
			pfd.revents = 0;
			(void)poll(&pfd, 1,
			    left > INT_MAX ? INT_MAX : (int)left);
			continue;
		}
		spawn_nap(nap < left ? nap : left);
		if (nap < SPAWN_NAP_MAX_MS)
			nap = nap * 2 < SPAWN_NAP_MAX_MS ? nap * 2 :
			    SPAWN_NAP_MAX_MS;
	}
}

/* spawn_decode - map a wait status to spawn_status and *code */
static enum spawn_status
spawn_decode(int st, int *code)
{
	if (WIFEXITED(st)) {
		*code = WEXITSTATUS(st);
		return SPAWN_EXITED;
	}
	if (WIFSIGNALED(st)) {
		*code = WTERMSIG(st);
		return SPAWN_SIGNALED;
	}
	*code = EIO;
	return SPAWN_FAILED;
}

/* spawn_wait - wait for pid; on timeout kill its process group */
static enum spawn_status
spawn_wait(pid_t pid, int timeout, int *code)
{
	int pidfd = -1, r, sig = SIGTERM, st;

	if (timeout > 0) {
		pidfd = spawn_pidfd(pid);
		r = spawn_wait_exit(pid, pidfd, (int64_t)timeout * 1000);
		if (r == 0) {
			(void)kill(-pid, SIGTERM);
			if (spawn_wait_exit(pid, pidfd, SPAWN_GRACE_MS) != 1)
				sig = SIGKILL;
			/* Whatever is left of the group, even if pid ended. */
			(void)kill(-pid, SIGKILL);
		} else if (r == -1) {
			*code = errno;
			(void)kill(-pid, SIGKILL);
		}
		if (pidfd != -1)
			(void)close(pidfd);
		if (r == -1) {
			(void)spawn_reap(pid, &st);
			return SPAWN_FAILED;
		}
	} else {
		r = 1;
	}
	if (spawn_reap(pid, &st) == -1) {
		*code = errno;
		return SPAWN_FAILED;
	}
	if (r == 0) {
		*code = sig;
		return SPAWN_TIMEOUT;
	}
	return spawn_decode(st, code);
}

/* spawn_run - run argv without a shell and report how it ended */
enum spawn_status
spawn_run(char *const argv[], const struct spawn_opts *opts, int *code)
{
	static const struct spawn_opts defaults;
	char path[PATH_MAX];
	struct spawn_child c;
	int dummy, rd, e, st;
	pid_t pid;

	if (code == NULL)
		code = &dummy;
	*code = 0;
	if (opts == NULL)
		opts = &defaults;
	if (argv == NULL || argv[0] == NULL || opts->timeout < 0) {
		*code = EINVAL;
		return SPAWN_FAILED;
	}
	memset(&c, 0, sizeof(c));
	c.argv = argv;
	c.envp = opts->envp ? opts->envp : spawn_env_min;
	c.dir = opts->dir;
	c.path = path;
	if (spawn_resolve(argv[0], c.envp, path, sizeof(path)) == -1 ||
	    spawn_prepare(&c, opts, &rd) == -1) {
		*code = errno;
		return SPAWN_FAILED;
	}
	pid = spawn_fork(&c);
	spawn_close_fds(&c, NULL);
	if (pid == -1) {
		*code = errno;
		(void)close(rd);
		return SPAWN_FAILED;
	}
	/* EOF here also means the child's setpgid() has been done. */
	e = spawn_exec_errno(rd);
	(void)close(rd);
	if (e != 0) {
		(void)spawn_reap(pid, &st);
		*code = e;
		return SPAWN_FAILED;
	}
	return spawn_wait(pid, opts->timeout, code);
}
