/*
 * cli_serve.c - `postroom serve`: start-up, listeners, privilege drop,
 * signals, reload, graceful shutdown.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <stdatomic.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "config/config.h"
#include "config/options.h"
#include "core/ev.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/tls.h"
#include "core/work.h"
#include "ctrld/ctrld.h"
#include "fingerd/fingerd.h"
#include "pop3d/pop3d.h"
#include "queue/queue_lmail.h"
#include "queue/queue_admin.h"
#include "queue/queue_local.h"
#include "queue/queue_out.h"
#include "smtpd/smtpd.h"

#define SERVE_GRACE_SECONDS	10	/* wait for sessions at shutdown */
#define SERVE_TICK_MS		500	/* .shutdown and change polling */
#define SERVE_RETRY_TICKS	120	/* local delivery retry: 60 s */

struct serve {
	struct serve_opts	 o;
	struct event_base	*base;		/* main thread: signals, timers */
	struct event		*tick;
	struct event		*sig[4];
	char			 pid_path[4096];
	char			 shutdown_path[4096];
	int			 pid_fd;
	int			 lock_fd;
	atomic_bool		 stopping;
	struct timespec		 stop_at;
	struct ev_service	 finger;
	struct ev_service	 pop3, pop3s;
	struct pop3d_opts	 pop3_opts;	/* -P*, shared by POP3S */
	struct ev_service	 smtp, smtps, submit;
	struct ev_service	 ctrl, ctrls;
	struct ctrld_opts	 ctrl_opts;	/* -C*, shared by CTRLS */
	struct event		*lmail;		/* -Lt local mailer timer */
	bool			 lmail_busy;	/* a pass is running */
	unsigned		 ticks;		/* serve_tick calls */
	struct smtpd_opts	 smtp_opts, smtps_opts, submit_opts;
};

/* serve_pid_path - where the PID file goes */
static int
serve_pid_path(struct serve *s)
{
	const char *dir;
	int n;

	if (s->o.pid_file[0] != '\0')
		return str_copy(s->pid_path, s->o.pid_file,
		    sizeof(s->pid_path)) ? 0 : -1;
	if (s->o.pid_dir[0] != '\0')
		dir = s->o.pid_dir;
	else if (geteuid() == 0)
		dir = "/var/run";
	else
		dir = s->o.mailroot;
	n = snprintf(s->pid_path, sizeof(s->pid_path), "%s/postroom.pid",
	    dir);
	return n < 0 || (size_t)n >= sizeof(s->pid_path) ? -1 : 0;
}

/* lock_file - open and exclusively lock a file; -1 if held elsewhere */
static int
lock_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* serve_pidfile - lock the MailRoot and write the PID file */
static int
serve_pidfile(struct serve *s)
{
	char lock[4096], pid[32];
	int n;

	if (fs_path(lock, sizeof(lock), s->o.mailroot, ".postroom.lock") ==
	    -1)
		return -1;
	s->lock_fd = lock_file(lock);
	if (s->lock_fd == -1) {
		log_error("%s: %s (is another postroom using this MailRoot?)",
		    lock, strerror(errno));
		return -1;
	}
	if (serve_pid_path(s) == -1) {
		log_error("PID file path too long");
		return -1;
	}
	s->pid_fd = lock_file(s->pid_path);
	if (s->pid_fd == -1) {
		log_error("PID file %s: %s", s->pid_path, strerror(errno));
		return -1;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(s->pid_fd, 0) == -1 ||
	    pwrite(s->pid_fd, pid, (size_t)n, 0) != n) {
		log_error("PID file %s: %s", s->pid_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* serve_listen - listeners of one service from its options */
static int
serve_listen(struct ev_service *svc, const struct svc_opts *so)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	socklen_t len;
	size_t i;

	if (so->nbind == 0) {
		memset(&ss, 0, sizeof(ss));
		if (so->ipv6) {
			sin6 = (struct sockaddr_in6 *)&ss;
			sin6->sin6_family = AF_INET6;
			sin6->sin6_addr = in6addr_any;
			sin6->sin6_port = htons((uint16_t)so->port);
			len = sizeof(*sin6);
		} else {
			sin = (struct sockaddr_in *)&ss;
			sin->sin_family = AF_INET;
			sin->sin_addr.s_addr = htonl(INADDR_ANY);
			sin->sin_port = htons((uint16_t)so->port);
			len = sizeof(*sin);
		}
		return ev_listen(svc, (struct sockaddr *)&ss, len);
	}
	for (i = 0; i < so->nbind; i++) {
		ss = so->bind[i];
		len = so->bindlen[i];
		if (ss.ss_family == AF_INET6) {
			sin6 = (struct sockaddr_in6 *)&ss;
			if (sin6->sin6_port == 0)
				sin6->sin6_port = htons((uint16_t)so->port);
		} else {
			sin = (struct sockaddr_in *)&ss;
			if (sin->sin_port == 0)
				sin->sin_port = htons((uint16_t)so->port);
		}
		if (ev_listen(svc, (struct sockaddr *)&ss, len) == -1)
			return -1;
	}
	return 0;
}

/*
 * serve_smtp_kind - one SMTP listener kind: plain (-S*), SMTPS (-X*) or
 * submission (-U*); the last two share the -S limits, as in XMail.
 */
static int
serve_smtp_kind(struct serve *s, enum svc_id id, struct ev_service *svc,
    struct smtpd_opts *o)
{
	const struct svc_opts *sm = &s->o.svc[SVC_SMTP];
	const struct svc_opts *so = &s->o.svc[id];

	if (so->disabled)
		return 0;
	o->name = so->name;
	o->implicit_tls = id == SVC_SMTPS;
	o->submission = id == SVC_SUBMIT;
	o->timeout = sm->timeout;
	o->max_sessions = sm->max_sessions;
	o->max_rcpt = s->o.smtp_max_rcpt;
	o->log = sm->log;
	o->split = s->o.split;
	o->maildir = s->o.maildir;
	o->pop3_expire = s->o.smtp_pop3_expire;
	o->ext_timeout = s->o.filter_timeout;
	smtpd_service_init(svc, o);
	svc->rcvbuf = s->o.rcvbuf;
	svc->sndbuf = s->o.sndbuf;
	return serve_listen(svc, so);
}

/* serve_smtp - the SMTP, SMTPS and submission listeners */
static int
serve_smtp(struct serve *s)
{
	if (serve_smtp_kind(s, SVC_SMTP, &s->smtp, &s->smtp_opts) == -1 ||
	    serve_smtp_kind(s, SVC_SMTPS, &s->smtps, &s->smtps_opts) == -1 ||
	    serve_smtp_kind(s, SVC_SUBMIT, &s->submit, &s->submit_opts) == -1)
		return -1;
	return 0;
}

/* serve_pop3 - the POP3 (-P*) and POP3S (-B*) listeners; POP3S shares the
 * -P timeout, log and limits, as in XMail */
static int
serve_pop3(struct serve *s)
{
	const struct svc_opts *p = &s->o.svc[SVC_POP3];
	const struct svc_opts *b = &s->o.svc[SVC_POP3S];

	s->pop3_opts.timeout = p->timeout;
	s->pop3_opts.max_sessions = p->max_sessions;
	s->pop3_opts.log = p->log;
	s->pop3_opts.login_delay = s->o.pop3_login_delay;
	s->pop3_opts.hang = s->o.pop3_hang;
	s->pop3_opts.maildir = s->o.maildir;
	if (!p->disabled) {
		pop3d_service_init(&s->pop3, &s->pop3_opts, false);
		s->pop3.rcvbuf = s->o.rcvbuf;
		s->pop3.sndbuf = s->o.sndbuf;
		if (serve_listen(&s->pop3, p) == -1)
			return -1;
	}
	if (!b->disabled) {
		pop3d_service_init(&s->pop3s, &s->pop3_opts, true);
		s->pop3s.rcvbuf = s->o.rcvbuf;
		s->pop3s.sndbuf = s->o.sndbuf;
		if (serve_listen(&s->pop3s, b) == -1)
			return -1;
	}
	return 0;
}

/* serve_ctrl - the CTRL (-C*) and CTRLS (-W*) listeners; CTRLS shares
 * the -C timeout, log and limits, as in XMail */
static int
serve_ctrl(struct serve *s)
{
	const struct svc_opts *c = &s->o.svc[SVC_CTRL];
	const struct svc_opts *w = &s->o.svc[SVC_CTRLS];

	s->ctrl_opts.timeout = c->timeout;
	s->ctrl_opts.max_sessions = c->max_sessions;
	s->ctrl_opts.log = c->log;
	s->ctrl_opts.maildir = s->o.maildir;
	s->ctrl_opts.split = s->o.split;
	if (!c->disabled) {
		ctrld_service_init(&s->ctrl, &s->ctrl_opts, false);
		s->ctrl.rcvbuf = s->o.rcvbuf;
		s->ctrl.sndbuf = s->o.sndbuf;
		if (serve_listen(&s->ctrl, c) == -1)
			return -1;
	}
	if (!w->disabled) {
		ctrld_service_init(&s->ctrls, &s->ctrl_opts, true);
		s->ctrls.rcvbuf = s->o.rcvbuf;
		s->ctrls.sndbuf = s->o.sndbuf;
		if (serve_listen(&s->ctrls, w) == -1)
			return -1;
	}
	return 0;
}

/* serve_services - set up and bind every implemented service */
static int
serve_services(struct serve *s)
{
	const struct svc_opts *f = &s->o.svc[SVC_FINGER];

	if (serve_smtp(s) == -1)
		return -1;
	if (serve_pop3(s) == -1)
		return -1;
	if (serve_ctrl(s) == -1)
		return -1;

	if (!f->disabled) {
		fingerd_service_init(&s->finger, f->timeout, f->max_sessions,
		    f->log);
		s->finger.rcvbuf = s->o.rcvbuf;
		s->finger.sndbuf = s->o.sndbuf;
		if (serve_listen(&s->finger, f) == -1)
			return -1;
	}
	return 0;
}

/* serve_drop_privileges - become --user after binding */
static int
serve_drop_privileges(const struct serve *s)
{
	struct passwd *pw;
	char locks[4096];

	if (s->o.user[0] == '\0')
		return 0;
	if (geteuid() != 0) {
		log_error("--user %s needs to start as root", s->o.user);
		return -1;
	}
	pw = getpwnam(s->o.user);
	if (pw == NULL) {
		log_error("--user %s: no such user", s->o.user);
		return -1;
	}
	/* pop3locks/ may just have been created by pop3d_locks_wipe. */
	if (fs_path(locks, sizeof(locks), s->o.mailroot, "pop3locks") == 0 &&
	    lchown(locks, pw->pw_uid, pw->pw_gid) == -1 && errno != ENOENT)
		log_warn("%s: %s", locks, strerror(errno));
	if (fchown(s->pid_fd, pw->pw_uid, pw->pw_gid) == -1 ||
	    setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1) {
		log_error("cannot drop privileges to %s: %s", s->o.user,
		    strerror(errno));
		return -1;
	}
	if (setuid(0) != -1) {
		log_error("privilege drop to %s did not stick", s->o.user);
		return -1;
	}
	log_info("running as user %s (uid %ld)", s->o.user,
	    (long)pw->pw_uid);
	return 0;
}

/*
 * serve_raise_nofile - allow as many descriptors as the hard limit: every
 * session is a descriptor, and the soft default (often 1024) is lower than
 * the default session limits.
 */
static void
serve_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("cannot raise the descriptor limit: %s",
			    strerror(errno));
	}
}

/* A local-mailer pass on a worker. */
struct lmail_job {
	struct serve		*s;
	struct queue_ref	*refs;
	size_t			 nrefs;
};

/* lmail_work - worker: spool the files of spool/local */
static void
lmail_work(void *arg)
{
	struct lmail_job *j = arg;
	struct config *cfg = config_acquire();

	if (cfg != NULL &&
	    queue_lmail_run(cfg, j->s->o.split, 1000, &j->refs, &j->nrefs) > 0)
		log_debug("lmail: %zu spool file(s) from spool/local",
		    j->nrefs);
	config_release(cfg);
}

/* lmail_done - loop: deliver what was spooled */
static void
lmail_done(void *arg)
{
	struct lmail_job *j = arg;

	j->s->lmail_busy = false;
	if (j->nrefs > 0)
		queue_local_schedule(j->refs, j->nrefs);
	else
		free(j->refs);
	free(j);
}

/* lmail_tick - every -Lt seconds: one pass if none is running */
static void
lmail_tick(evutil_socket_t fd, short what, void *arg)
{
	struct serve *s = arg;
	struct lmail_job *j;

	(void)fd;
	(void)what;
	if (s->lmail_busy || s->stopping)
		return;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return;
	j->s = s;
	s->lmail_busy = true;
	if (work_submit(ev_loop_at(0), lmail_work, lmail_done, j) == -1) {
		s->lmail_busy = false;
		free(j);
	}
}

/* serve_queue_init - settings of the outbound queue (-Q*, -M4..-M7) */
static void
serve_queue_init(const struct serve *s)
{
	static const enum dns_family fam[] = {
		[RESOLVE_V4] = DNS_V4, [RESOLVE_V6] = DNS_V6,
		[RESOLVE_V4_V6] = DNS_V4_V6, [RESOLVE_V6_V4] = DNS_V6_V4,
	};
	struct queue_out_conf qc;

	qc.split = s->o.split;
	qc.max_sessions = s->o.smail_threads;
	qc.retry = s->o.smail_retry;
	qc.ratio = s->o.smail_ratio;
	qc.max_tries = s->o.smail_max_tries;
	qc.log = s->o.smail_log;
	qc.family = fam[s->o.resolve];
	qc.self_port = s->o.svc[SVC_SMTP].disabled ? 0 :
	    s->o.svc[SVC_SMTP].port;
	qc.self_addrs = s->o.svc[SVC_SMTP].bind;
	qc.nself_addrs = s->o.svc[SVC_SMTP].nbind;
	queue_out_init(&qc);
}

/* serve_begin_stop - stop accepting, let sessions finish */
static void
serve_begin_stop(struct serve *s, const char *why)
{
	if (s->stopping)
		return;
	s->stopping = true;
	clock_gettime(CLOCK_MONOTONIC, &s->stop_at);
	s->stop_at.tv_sec += SERVE_GRACE_SECONDS;
	log_info("shutting down (%s), %d session(s) open", why,
	    ev_sessions());
	queue_out_drain();
	ev_stop_accepting();
}

/* serve_request - one line of MailRoot/.queue-requests */
static void
serve_request(const char *verb, const char *pattern, void *arg)
{
	(void)arg;
	if (strcmp(verb, "flush") == 0) {
		log_info("queue: flush '%s' requested", pattern);
		queue_out_flush(pattern);
	} else if (strcmp(verb, "rescan") == 0) {
		queue_local_retry_schedule();
	}
}

/* serve_tick - periodic: .shutdown, table changes, end of grace */
static void
serve_tick(evutil_socket_t fd, short what, void *arg)
{
	struct serve *s = arg;
	struct timespec now;

	(void)fd;
	(void)what;
	if (!s->stopping) {
		if (fs_exists(s->shutdown_path)) {
			(void)unlink(s->shutdown_path);
			serve_begin_stop(s, ".shutdown file");
		} else {
			(void)config_poll();
			if (queue_admin_take_requests(s->o.mailroot,
			    serve_request, s) == -1)
				log_warn("queue: cannot read .queue-requests");
			/*
			 * XXX: a fixed 60 s retry of failed local deliveries
			 * until the queue scheduler (rsnd/ with back-off) lands.
			 */
			if (++s->ticks % SERVE_RETRY_TICKS == 0)
				queue_local_retry_schedule();
		}
	}
	if (!s->stopping)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (ev_sessions() == 0 || now.tv_sec >= s->stop_at.tv_sec) {
		if (ev_sessions() > 0)
			log_warn("closing %d session(s) still open",
			    ev_sessions());
		event_base_loopbreak(s->base);
	}
}

/*
 * serve_tls_load - (re)load server.cert and server.key; running sessions
 * keep the certificate they started with.
 */
static int
serve_tls_load(void)
{
	struct config *cfg = config_acquire();
	int r = tls_server_load(cfg);

	config_release(cfg);
	return r;
}

/* serve_signal - SIGINT/SIGTERM stop, SIGHUP reload */
static void
serve_signal(evutil_socket_t sig, short what, void *arg)
{
	struct serve *s = arg;

	(void)what;
	if (sig == SIGHUP) {
		/* A failed reload is logged and keeps the old snapshot. */
		if (!s->stopping && config_reload("SIGHUP") == -1)
			log_warn("SIGHUP: configuration unchanged");
		if (!s->stopping)
			serve_tls_load();
		return;
	}
	serve_begin_stop(s, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

/* serve_loop - the main thread's loop until shutdown */
static int
serve_loop(struct serve *s)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct timeval tv = { 0, SERVE_TICK_MS * 1000 }, lt = { 0, 0 };
	size_t i;

	s->base = event_base_new();
	if (s->base == NULL)
		return -1;
	for (i = 0; i < nitems(sigs); i++) {
		s->sig[i] = evsignal_new(s->base, sigs[i], serve_signal, s);
		if (s->sig[i] == NULL || evsignal_add(s->sig[i], NULL) == -1)
			return -1;
	}
	s->tick = event_new(s->base, -1, EV_PERSIST, serve_tick, s);
	if (s->tick == NULL || event_add(s->tick, &tv) == -1)
		return -1;
	lt.tv_sec = s->o.lmail_sleep;
	s->lmail = event_new(ev_loop_base(ev_loop_at(0)), -1, EV_PERSIST,
	    lmail_tick, s);
	if (s->lmail == NULL || event_add(s->lmail, &lt) == -1)
		return -1;
	log_info("postroom ready, MailRoot %s, pid %ld", s->o.mailroot,
	    (long)getpid());
	event_base_dispatch(s->base);
	return 0;
}

/* serve_cleanup - release everything */
static void
serve_cleanup(struct serve *s)
{
	size_t i;

	for (i = 0; i < nitems(s->sig); i++)
		if (s->sig[i] != NULL)
			event_free(s->sig[i]);
	if (s->tick != NULL)
		event_free(s->tick);
	if (s->base != NULL)
		event_base_free(s->base);
	if (s->pid_fd >= 0) {
		(void)unlink(s->pid_path);
		close(s->pid_fd);
	}
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	config_shutdown();
	tls_server_free();
	log_svc_close();
}

/* serve_parse - options from argv and the environment */
static int
serve_parse(struct serve *s, int argc, char **argv)
{
	const char *env;
	char err[512];
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			fputs(options_usage(), stdout);
			exit(0);
		}
	options_defaults(&s->o);
	env = getenv("MAIL_ROOT");
	if (env != NULL && !str_copy(s->o.mailroot, env,
	    sizeof(s->o.mailroot))) {
		fprintf(stderr, "postroom serve: MAIL_ROOT too long\n");
		return -1;
	}
	env = getenv("XMAIL_PID_DIR");
	if (env != NULL && !str_copy(s->o.pid_dir, env,
	    sizeof(s->o.pid_dir))) {
		fprintf(stderr, "postroom serve: XMAIL_PID_DIR too long\n");
		return -1;
	}
	if (options_parse(&s->o, argc - 1, argv + 1, getenv("MAIL_CMD_LINE"),
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "postroom serve: %s\n"
		    "Try 'postroom serve --help'.\n", err);
		return -1;
	}
	if (s->o.mailroot[0] == '\0') {
		fprintf(stderr, "postroom serve: no MailRoot: give -Ms PATH"
		    " or set MAIL_ROOT\n");
		return -1;
	}
	return 0;
}

/* cli_serve_main - postroom serve */
int
cli_serve_main(int argc, char **argv)
{
	static struct serve s;
	char logdir[4096];
	int rc = EX_SOFTWARE;

	memset(&s, 0, sizeof(s));
	s.pid_fd = s.lock_fd = -1;
	if (serve_parse(&s, argc, argv) == -1)
		return 2;
	log_init("postroom", true, true, s.o.debug);
	signal(SIGPIPE, SIG_IGN);
	serve_raise_nofile();
	if (config_init(s.o.mailroot) == -1)
		return EX_CONFIG;
	if (fs_path(logdir, sizeof(logdir), s.o.mailroot, "logs") == -1 ||
	    fs_path(s.shutdown_path, sizeof(s.shutdown_path), s.o.mailroot,
	    ".shutdown") == -1 ||
	    log_svc_init(logdir, s.o.rotate_hours) == -1) {
		rc = EX_CONFIG;
		goto out;
	}
	if (serve_pidfile(&s) == -1) {
		rc = EX_TEMPFAIL;
		goto out;
	}
	/* POP3 locks of a server that died (the MailRoot lock is ours). */
	if (pop3d_locks_wipe(s.o.mailroot) == -1) {
		rc = EX_CANTCREAT;
		goto out;
	}
	if (fs_exists(s.shutdown_path)) {
		log_info("removing stale %s", s.shutdown_path);
		(void)unlink(s.shutdown_path);
	}
	/* Before the privilege drop: the key may be readable by root only. */
	if (serve_tls_load() == -1 && (!s.o.svc[SVC_SMTPS].disabled ||
	    !s.o.svc[SVC_POP3S].disabled || !s.o.svc[SVC_CTRLS].disabled))
		log_warn("TLS is unavailable until the certificate is fixed"
		    " and SIGHUP is sent");
	if (ev_init(s.o.loops) == -1 || serve_services(&s) == -1) {
		rc = EX_UNAVAILABLE;
		goto out_ev;
	}
	if (serve_drop_privileges(&s) == -1) {
		rc = EX_NOPERM;
		goto out_ev;
	}
	queue_local_init(s.o.split, s.o.maildir);
	queue_lmail_set_log(s.o.lmail_log);
	serve_queue_init(&s);
	if (queue_local_recover() > 0)
		log_info("queue: start-up pass over the spool done");
	if (work_init(s.o.workers) == -1 || ev_start() == -1 ||
	    queue_out_start() == -1 || serve_loop(&s) == -1) {
		rc = EX_OSERR;
		goto out_work;
	}
	rc = 0;
out_work:
	if (s.lmail != NULL) {
		/* Its base belongs to loop 0, which ev_stop frees. */
		event_free(s.lmail);
		s.lmail = NULL;
	}
	ev_stop_accepting();
	work_shutdown();
	queue_out_stop();
out_ev:
	ev_stop();
out:
	serve_cleanup(&s);
	if (rc == 0)
		log_info("postroom stopped");
	return rc;
}
