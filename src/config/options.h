/*
 * options.h - the `postroom serve` command line.
 *
 * Every option of the XMail 1.27 manual's COMMAND LINE section is accepted
 * with the same spelling (`-Sp 25`, `-SI 127.0.0.1:25`, `-S-` ...), plus the
 * MAIL_ROOT, MAIL_CMD_LINE and XMAIL_PID_DIR environment variables, plus a
 * few postroom long options.  Options of services not built yet are parsed
 * and validated all the same.
 */
#ifndef POSTROOM_CONFIG_OPTIONS_H
#define POSTROOM_CONFIG_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/compat.h"

#define OPTIONS_BIND_MAX	16	/* -xI addresses per service */

enum svc_id {
	SVC_SMTP,		/* -S */
	SVC_SMTPS,		/* -X */
	SVC_SUBMIT,		/* -U (postroom): submission, port 587 */
	SVC_POP3,		/* -P */
	SVC_POP3S,		/* -B */
	SVC_FINGER,		/* -F */
	SVC_CTRL,		/* -C */
	SVC_CTRLS,		/* -W */
	SVC_COUNT
};

/* Listening options of one network service. */
struct svc_opts {
	const char	*name;		/* "smtp", "pop3", ... (log names) */
	char		 letter;	/* option letter: 'S', 'P', ... */
	bool		 disabled;	/* -x- */
	bool		 ipv6;		/* -x6: bind :: when no -xI */
	int		 port;		/* -xp */
	int		 timeout;	/* -xt seconds (idle) */
	bool		 log;		/* -xl */
	int		 max_sessions;	/* -xX */
	size_t		 nbind;		/* number of -xI */
	struct sockaddr_storage bind[OPTIONS_BIND_MAX]; /* port 0: use -xp */
	socklen_t	 bindlen[OPTIONS_BIND_MAX];
};

enum resolve_mode {
	RESOLVE_V4,		/* -M4 (default) */
	RESOLVE_V6,		/* -M6 */
	RESOLVE_V4_V6,		/* -M5: IPv4 if present, else IPv6 */
	RESOLVE_V6_V4,		/* -M7: IPv6 if present, else IPv4 */
};

struct serve_opts {
	char		 mailroot[4096];	/* -Ms or $MAIL_ROOT */
	char		 pid_dir[4096];		/* $XMAIL_PID_DIR or "" */
	bool		 debug;			/* -Md */
	int		 rotate_hours;		/* -Mr, default 24 */
	int		 split;			/* -Mx, prime, default 23 */
	int		 rcvbuf;		/* -MR bytes, 0 = system */
	int		 sndbuf;		/* -MS bytes, 0 = system */
	bool		 maildir;		/* -MM (default) / -Mm */
	int		 dns_cache_dirs;	/* -MD, default 101 */
	enum resolve_mode resolve;		/* -M4/-M6/-M5/-M7 */

	struct svc_opts	 svc[SVC_COUNT];

	int		 pop3_login_delay;	/* -Pw seconds, default 5 */
	bool		 pop3_hang;		/* -Ph */
	int		 smtp_max_rcpt;		/* -Sr, default 100 */
	int		 smtp_pop3_expire;	/* -Se seconds, default 900 */

	int		 smail_threads;		/* -Qn, default 16, max 256 */
	int		 smail_retry;		/* -Qt seconds, default 480 */
	int		 smail_ratio;		/* -Qi, default 16 */
	int		 smail_max_tries;	/* -Qr, default 32 */
	bool		 smail_log;		/* -Ql */
	int		 filter_timeout;	/* -QT seconds, default 90 */
	bool		 filter_log;		/* -Qg */

	bool		 psync_disabled;	/* -Y- */
	int		 psync_interval;	/* -Yi seconds, default 120 */
	int		 psync_threads;		/* -Yt, default 8, max 32 */
	int		 psync_timeout;		/* -YT seconds, default 120 */
	bool		 psync_log;		/* -Yl */

	int		 lmail_threads;		/* -Ln, default 3, max 17 */
	int		 lmail_sleep;		/* -Lt seconds, default 2 */
	bool		 lmail_log;		/* -Ll */

	/* postroom extensions (long options) */
	int		 loops;			/* --loops: 0 = CPUs */
	int		 workers;		/* --workers: pool size */
	char		 user[64];		/* --user: drop privileges */
	char		 pid_file[4096];	/* --pid-file: overrides */
};

/*
 * options_defaults - XMail 1.27 defaults (XMAIL-FACTS section 7).  mailroot,
 * pid_dir, user and pid_file are left empty: the caller fills mailroot from
 * MAIL_ROOT when no -Ms was given, and pid_dir from XMAIL_PID_DIR.
 */
void	options_defaults(struct serve_opts *o);

/*
 * options_parse - parse argv (argv[0] is the first option, not the program
 * name), then the words of `env_cmdline` (MAIL_CMD_LINE, may be NULL) as if
 * appended.  Values may be separate (`-Sp 25`) or attached (`-Sp25`,
 * `--loops=4`); a separate value may not start with '-'.  A repeated option
 * overrides the earlier one, except -xI, which adds an address (at most
 * OPTIONS_BIND_MAX per service; numeric addresses only, never DNS).
 * The environment is not read here (MAIL_ROOT, XMAIL_PID_DIR and
 * MAIL_CMD_LINE are the caller's business), and -h/--help are not
 * recognised: the caller looks for them before calling.
 * On error writes a one-line message naming the option to err and returns
 * -1 (*o is then partly updated and must not be used); the caller prints
 * it and exits with status 2.
 */
int	options_parse(struct serve_opts *o, int argc, char *const argv[],
	    const char *env_cmdline, char *err, size_t errlen)
	    WARN_UNUSED_RESULT;

/*
 * options_usage - the option summary printed by `postroom serve --help`,
 * newline-terminated, starting with a "usage:" line.  Built from the option
 * table into static storage on the first call: call it from one thread.
 */
const char	*options_usage(void);

#endif
