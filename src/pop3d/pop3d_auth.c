/*
 * pop3d_auth.c - USER, PASS and APOP: the login job (account checks, the
 * mailbox lock, the snapshot of the mailbox) and the bad-login delay.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/ev.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/tab.h"
#include "core/work.h"
#include "pop3d/pop3d_int.h"
#include "store/store_auth.h"

#define POP3D_DIGEST_LEN	32	/* APOP: hex MD5 (RFC 1939 section 7) */
#define POP3D_EXT_TIMEOUT	60	/* userauth/pop3 program, seconds */

enum login_result {
	LOGIN_OK,
	LOGIN_FAIL,		/* bad credentials or access refused */
	LOGIN_IN_USE,		/* another session holds the mailbox */
	LOGIN_TEMP,		/* files unreadable, program failed */
};

/* A login checked on a worker. */
struct login_job {
	struct ev_loop		*loop;
	uint64_t		 conn;
	struct config		*cfg;		/* own reference */
	bool			 maildir;
	int			 timeout;	/* external program, s */
	char			 login[POP3D_ARG_MAX + 1];
	char			 pass[POP3D_LINE_MAX + 1]; /* wiped at end */
	bool			 apop;
	char			 stamp[POP3D_STAMP_MAX];
	char			 digest[POP3D_DIGEST_LEN + 1];
	struct sockaddr_storage	 peer, local;
	char			 peer_ip[64];
	/* results */
	enum login_result	 result;
	char			 why[64];	/* reason, for the log */
	struct store_user	 user;
	char			 acctdir[PATH_MAX];
	char			 lock[PATH_MAX];	/* created, or "" */
	struct maildir_list	 box;
};

/* sa_copy - copy a socket address by its family's size */
static void
sa_copy(struct sockaddr_storage *dst, const struct sockaddr *src)
{
	size_t n = src->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	memset(dst, 0, sizeof(*dst));
	memcpy(dst, src, n);
}

/* is_bare - a login without '@', ':' or '%' (store_login_split) */
static bool
is_bare(const char *login)
{
	return strpbrk(login, "@:%") == NULL;
}

/*
 * lock_take - create MailRoot/pop3locks/<user>@<domain>.lock exclusively
 * (XMAIL-FACTS 5).  Returns 0, 1 when it exists (mailbox in use), -1.
 */
static int
lock_take(struct login_job *j)
{
	const char *root = config_mailroot(j->cfg);
	char text[64], dir[PATH_MAX];
	int fd, n, tries;

	n = snprintf(j->lock, sizeof(j->lock), "%s/pop3locks/%s@%s.lock",
	    root, j->user.name, j->user.domain);
	if (n < 0 || (size_t)n >= sizeof(j->lock))
		goto fail;
	for (tries = 0; tries < 2; tries++) {
		fd = open(j->lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
		if (fd != -1 || errno != ENOENT || tries > 0)
			break;
		/* pop3locks/ was removed while running: make it again */
		if (fs_path(dir, sizeof(dir), root, "pop3locks") == -1 ||
		    fs_mkdir_p(dir, 0700) == -1)
			break;
	}
	if (fd == -1) {
		if (errno == EEXIST) {
			j->lock[0] = '\0';
			return 1;
		}
		log_warn("pop3: lock %s: %m", j->lock);
		goto fail;
	}
	n = snprintf(text, sizeof(text), "%ld %llu\n", (long)getpid(),
	    (unsigned long long)j->conn);
	if (fs_write_all(fd, text, (size_t)n) == -1)
		log_warn("pop3: lock %s: %m", j->lock);
	(void)close(fd);
	return 0;
fail:
	j->lock[0] = '\0';
	return -1;
}

/* box_load - the account directory and the snapshot of its mailbox */
static int
box_load(struct login_job *j)
{
	const char *root = config_mailroot(j->cfg), *v;
	struct tab vars = { 0 };
	bool scan_cur;

	if (store_user_path(root, &j->user, j->acctdir,
	    sizeof(j->acctdir)) == -1)
		return -1;
	if (store_user_vars_load(root, &j->user, &vars) == -1) {
		tab_free(&vars);
		return -1;
	}
	v = store_var(&vars, "Pop3ScanCur");
	scan_cur = v != NULL && atol(v) > 0;
	tab_free(&vars);
	return maildir_list(j->acctdir, j->maildir, scan_cur, &j->box);
}

/* login_check - account checks (store_pop3_auth) */
static enum store_auth_result
login_check(struct login_job *j)
{
	char domain[STORE_DOMAIN_MAX + 1] = "";
	const char *why = "unknown";
	struct store_pop3_login l = { 0 };
	enum store_auth_result r;

	/* A bare name takes the POP3 domain, maybe by reverse DNS. */
	if (is_bare(j->login))
		store_pop3_domain(j->cfg, (struct sockaddr *)&j->local, domain,
		    sizeof(domain));
	l.login = j->login;
	l.pass = j->apop ? NULL : j->pass;
	l.apop_ts = j->apop ? j->stamp : NULL;
	l.apop_digest = j->apop ? j->digest : NULL;
	l.default_domain = domain[0] != '\0' ? domain : NULL;
	l.peer = (struct sockaddr *)&j->peer;
	l.peer_ip = j->peer_ip;
	l.timeout = j->timeout;
	r = store_pop3_auth(j->cfg, &l, &j->user, &why);
	(void)snprintf(j->why, sizeof(j->why), "%s", why);
	return r;
}

/* login_work - worker: checks, lock, mailbox snapshot */
static void
login_work(void *arg)
{
	struct login_job *j = arg;
	int r;

	switch (login_check(j)) {
	case STORE_AUTH_OK:
		break;
	case STORE_AUTH_FAIL:
		j->result = LOGIN_FAIL;
		return;
	default:
		j->result = LOGIN_TEMP;
		return;
	}
	if ((r = lock_take(j)) != 0) {
		j->result = r == 1 ? LOGIN_IN_USE : LOGIN_TEMP;
		(void)snprintf(j->why, sizeof(j->why), "%s", r == 1 ?
		    "mailbox locked" : "lock file");
		return;
	}
	if (box_load(j) == -1) {
		log_warn("pop3: mailbox of %s@%s unreadable: %m",
		    j->user.name, j->user.domain);
		(void)unlink(j->lock);
		j->lock[0] = '\0';
		j->result = LOGIN_TEMP;
		(void)snprintf(j->why, sizeof(j->why), "mailbox unreadable");
		return;
	}
	j->result = LOGIN_OK;
}

/* job_free - wipe the password and release the job */
static void
job_free(struct login_job *j)
{
	explicit_bzero(j->pass, sizeof(j->pass));
	maildir_list_free(&j->box);
	config_release(j->cfg);
	free(j);
}

static void	login_fail(struct pop3d_session *s, struct login_job *j);

/* logged_pass - the password for the -Pl log, per Pop3LogPasswd */
static const char *
logged_pass(const struct pop3d_session *s, const struct login_job *j,
    bool ok)
{
	long mode = config_var_long(s->cfg, "Pop3LogPasswd", 0);

	if (j->apop || mode <= 0 || (mode == 1 && ok))
		return "";
	return j->pass;
}

/* login_ok - the session enters TRANSACTION with the snapshot */
static void
login_ok(struct pop3d_session *s, struct login_job *j)
{
	s->deleted = calloc(j->box.n > 0 ? j->box.n : 1, 1);
	if (s->deleted == NULL) {
		(void)unlink(j->lock);
		j->lock[0] = '\0';
		j->result = LOGIN_TEMP;
		(void)snprintf(j->why, sizeof(j->why), "out of memory");
		login_fail(s, j);
		return;
	}
	s->user = j->user;
	memcpy(s->acctdir, j->acctdir, sizeof(s->acctdir));
	memcpy(s->lock, j->lock, sizeof(s->lock));
	s->box = j->box;
	memset(&j->box, 0, sizeof(j->box));
	log_info("pop3: peer=%s user=%s@%s logged in%s, %zu message(s),"
	    " %llu octets", conn_peer_ip(s->conn), s->user.name,
	    s->user.domain, j->apop ? " with APOP" : "", s->box.n,
	    (unsigned long long)s->box.pop3_total);
	pop3d_svc_log(s, j->login, "LOGIN=OK", logged_pass(s, j, true),
	    s->box.n, s->box.pop3_total);
	pop3d_maildrop_reply(s);
	pop3d_unbusy(s, POP3D_S_TRANS);
}

/* delay_done - the bad-login delay is over: reply, accept input again */
static void
delay_done(struct conn *c)
{
	struct pop3d_session *s = conn_data(c);

	(void)conn_printf(c, "%s\r\n", s->delayed);
	s->delayed[0] = '\0';
	pop3d_unbusy(s, POP3D_S_AUTH);
}

/*
 * fail_reply - send a failure reply: after -Pw seconds (doubled for the
 * next failure, XMail), or with -Ph now and close; temporary failures
 * are not the client's fault and get no delay.
 */
static void
fail_reply(struct pop3d_session *s, const char *reply, bool penalty)
{
	if (s->quit_after)
		penalty = false;	/* stopping: no reason to wait */
	if (penalty && s->opts->hang) {
		(void)conn_printf(s->conn, "%s\r\n", reply);
		conn_close(s->conn);
		return;
	}
	if (penalty && s->delay > 0 &&
	    str_copy(s->delayed, reply, sizeof(s->delayed)) &&
	    conn_timer(s->conn, s->delay * 1000, delay_done) == 0) {
		if (s->delay < POP3D_DELAY_MAX)
			s->delay = s->delay > POP3D_DELAY_MAX / 2 ?
			    POP3D_DELAY_MAX : s->delay * 2;
		return;
	}
	s->delayed[0] = '\0';
	(void)conn_printf(s->conn, "%s\r\n", reply);
	pop3d_unbusy(s, POP3D_S_AUTH);
}

/* login_fail - log and reply (RFC 3206 response codes) */
static void
login_fail(struct pop3d_session *s, struct login_job *j)
{
	static const char *const status[] = {
		[LOGIN_FAIL] = "LOGIN=EFAIL",
		[LOGIN_IN_USE] = "LOGIN=EINUSE",
		[LOGIN_TEMP] = "LOGIN=ETEMP",
	};
	static const char *const reply[] = {
		[LOGIN_FAIL] = "-ERR [AUTH] Invalid auth or access denied",
		[LOGIN_IN_USE] = "-ERR [IN-USE] Mailbox in use by another"
		    " session",
		[LOGIN_TEMP] = "-ERR [SYS/TEMP] Temporary failure, try again"
		    " later",
	};

	log_info("pop3: peer=%s login=%s%s failed: %s", conn_peer_ip(s->conn),
	    j->login, j->apop ? " (APOP)" : "", j->why);
	pop3d_svc_log(s, j->login, status[j->result], logged_pass(s, j,
	    false), 0, 0);
	s->login[0] = '\0';
	fail_reply(s, reply[j->result], j->result != LOGIN_TEMP);
}

/* login_done - loop: hand the result to the session if it is still there */
static void
login_done(void *arg)
{
	struct login_job *j = arg;
	struct conn *c = conn_find(j->loop, j->conn);
	struct pop3d_session *s = c != NULL ? conn_data(c) : NULL;

	if (s == NULL) {
		/* The client left: undo the lock (a quick unlink). */
		if (j->lock[0] != '\0')
			(void)unlink(j->lock);
	} else if (j->result == LOGIN_OK) {
		login_ok(s, j);
	} else {
		login_fail(s, j);
	}
	job_free(j);
}

/* login_start - queue a login check; the session waits */
static void
login_start(struct pop3d_session *s, const char *login, const char *pass,
    const char *digest)
{
	struct login_job *j = calloc(1, sizeof(*j));

	if (j == NULL || !str_copy(j->login, login, sizeof(j->login)) ||
	    (pass != NULL && !str_copy(j->pass, pass, sizeof(j->pass))) ||
	    (digest != NULL && !str_copy(j->digest, digest,
	    sizeof(j->digest))) ||
	    !str_copy(j->stamp, s->stamp, sizeof(j->stamp)) ||
	    !str_copy(j->peer_ip, conn_peer_ip(s->conn), sizeof(j->peer_ip))) {
		free(j);
		pop3d_err(s, "[SYS/TEMP] Out of memory");
		return;
	}
	j->loop = conn_loop(s->conn);
	j->conn = conn_id(s->conn);
	j->cfg = config_acquire();
	j->maildir = s->opts->maildir;
	j->timeout = s->opts->timeout > 0 && s->opts->timeout <
	    POP3D_EXT_TIMEOUT ? s->opts->timeout : POP3D_EXT_TIMEOUT;
	j->apop = digest != NULL;
	sa_copy(&j->peer, conn_peer(s->conn));
	sa_copy(&j->local, conn_local(s->conn));
	/* PASS passes s->login itself: copy back from the job. */
	memcpy(s->login, j->login, sizeof(s->login));
	pop3d_busy(s);
	if (work_submit(j->loop, login_work, login_done, j) == 0)
		return;
	job_free(j);
	pop3d_unbusy(s, POP3D_S_AUTH);
	pop3d_err(s, "[SYS/TEMP] Server busy, try again later");
}

/* pop3d_cmd_user - USER name (RFC 1939 section 7) */
void
pop3d_cmd_user(void *sess, char *arg)
{
	struct pop3d_session *s = sess;
	char name[STORE_NAME_MAX + 1], domain[STORE_DOMAIN_MAX + 1];
	const char *dd = config_var(s->cfg, "POP3Domain");

	/* RFC 2595 section 4 / DESIGN.md: no clear-text password by default */
	if (!pop3d_plain_ok(s)) {
		log_info("pop3: peer=%s USER refused without TLS",
		    conn_peer_ip(s->conn));
		pop3d_err(s, "[AUTH] Plaintext authentication disallowed on"
		    " non-secure (TLS) connections%s", pop3d_stls_ok(s) ?
		    "; use STLS" : "");
		return;
	}
	if (strchr(arg, ' ') != NULL ||
	    !str_copy(s->login, arg, sizeof(s->login))) {
		pop3d_err(s, "Invalid syntax");
		return;
	}
	pop3d_enter_state(s, POP3D_S_USER);
	/* No DNS here: a bare name without POP3Domain is echoed as is. */
	if (store_login_split(arg, dd, name, sizeof(name), domain,
	    sizeof(domain)) == 0)
		pop3d_ok(s, "Password required for %s@%s", name, domain);
	else
		pop3d_ok(s, "Password required for %s", s->login);
}

/* pop3d_cmd_pass - PASS: the whole rest of the line (RFC 1939 7) */
void
pop3d_cmd_pass(void *sess, char *arg)
{
	struct pop3d_session *s = sess;

	login_start(s, s->login, arg, NULL);
}

/* is_hex_digest - 32 hex digits */
static bool
is_hex_digest(const char *p)
{
	size_t i;

	for (i = 0; i < POP3D_DIGEST_LEN; i++)
		if (strchr("0123456789abcdefABCDEF", p[i]) == NULL ||
		    p[i] == '\0')
			return false;
	return p[i] == '\0';
}

/*
 * pop3d_cmd_apop - APOP name digest.  Allowed without TLS: the digest
 * does not reveal the password (store_pop3_auth accepts it only for
 * reversible XMCrypt secrets).
 */
void
pop3d_cmd_apop(void *sess, char *arg)
{
	struct pop3d_session *s = sess;
	char *digest = strchr(arg, ' ');

	if (digest == NULL) {
		pop3d_err(s, "Invalid syntax");
		return;
	}
	*digest++ = '\0';
	while (*digest == ' ')
		digest++;
	if (!is_hex_digest(digest) || strlen(arg) > POP3D_ARG_MAX) {
		pop3d_err(s, "Invalid syntax");
		return;
	}
	login_start(s, arg, NULL, digest);
}
