/*
 * spawn.h - run an external program without a shell.
 *
 * Used for filters, mailproc `external`, external authentication and
 * smtpextauth (later issues).  The program gets argv exactly as given (no
 * shell, no word splitting, no globbing: the OpenSMTPD CVE-2020-7247 class
 * cannot happen), standard input from /dev/null unless a file is given,
 * standard output and error to /dev/null unless a file is given, and its own
 * process group so that a timeout kills it and its children.
 *
 * Blocking: call it from a worker thread, never from an event loop.
 */
#ifndef POSTROOM_CORE_SPAWN_H
#define POSTROOM_CORE_SPAWN_H

#include "core/compat.h"

struct spawn_opts {
	int		 timeout;	/* seconds; 0 = no limit */
	const char	*stdin_path;	/* NULL = /dev/null */
	const char	*stdout_path;	/* NULL = /dev/null; else truncated */
	const char	*dir;		/* working directory or NULL */
	char *const	*envp;		/* environment; NULL = minimal PATH */
};

enum spawn_status {
	SPAWN_EXITED,		/* exit code in *code */
	SPAWN_SIGNALED,		/* killed by signal *code */
	SPAWN_TIMEOUT,		/* killed after the timeout */
	SPAWN_FAILED,		/* could not start (errno-like *code) */
};

/*
 * spawn_run - run argv[0] (a path; looked up in PATH when it has no '/')
 * with argv, wait for it, and report how it ended.  On timeout the whole
 * process group gets SIGTERM, then SIGKILL after 2 seconds.
 *
 * Details of the contract:
 *  - PATH is the one the program gets (from envp, else the minimal
 *    "PATH=/usr/local/bin:/usr/bin:/bin" environment); only absolute
 *    entries are searched, never the current directory.  A relative path
 *    with a '/' is taken relative to opts->dir when that is set.
 *  - stdin_path and stdout_path are opened by the caller's process, relative
 *    to its working directory; stdout_path is created with mode 0600 and
 *    O_NOFOLLOW, and receives standard error too.
 *  - The program gets only fds 0, 1 and 2, default signal dispositions and
 *    an empty signal mask, whatever the calling thread had.
 *  - opts may be NULL (all defaults), code may be NULL.
 *  - After a normal exit, processes the program left behind in its group
 *    are not touched; after a timeout they are killed too.
 *  - The process must not set SIGCHLD to SIG_IGN (children would be reaped
 *    by the kernel and could not be waited for).
 *
 * Returns, with *code:
 *  - SPAWN_EXITED: the exit status;
 *  - SPAWN_SIGNALED: the signal number;
 *  - SPAWN_TIMEOUT: SIGTERM if the program ended within the grace period,
 *    else SIGKILL;
 *  - SPAWN_FAILED: an errno value: ENOENT/EACCES/ENOEXEC... from the PATH
 *    search or execve(), errors opening stdin_path/stdout_path, chdir(dir)
 *    errors, fork/pipe errors, EINVAL for an empty argv or negative timeout.
 *
 * Thread-safe: may run concurrently from several worker threads.
 */
enum spawn_status	spawn_run(char *const argv[],
			    const struct spawn_opts *opts, int *code);

#endif
