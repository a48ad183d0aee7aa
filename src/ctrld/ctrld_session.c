/*
 * ctrld_session.c - CTRL sessions: access check, greeting, "#!TLS", the
 * login (on a worker, with the bad-login delay), command lines, uploads,
 * listings, the -Cl log.
 *
 * A command runs on the worker pool with a snapshot taken when its line
 * arrives; input is paused meanwhile, so pipelined commands wait and see
 * the effect of the previous one (its reload happens before its reply).
 */
#include <sys/random.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/passwd.h"
#include "core/rfcdate.h"
#include "core/tab.h"
#include "core/tls.h"
#include "core/work.h"
#include "ctrld/ctrld_int.h"
#include "store/store_auth.h"

#define CTRLD_STAMP_MAX		128	/* "<secs.random@local-ip>" */
#define CTRLD_ADMIN_MAX		255	/* account name in ctrlaccounts.tab */
#define CTRLD_PEER_MAX		64	/* numeric address text */
#define CTRLD_DELAY_DEFAULT	3	/* CtrlLoginDelay, seconds */
#define CTRLD_DELAY_MAX		300	/* cap of CtrlLoginDelay, seconds */
#define CTRLD_TLS_INIT		"#!TLS"	/* first line: upgrade to TLS */

enum ctrld_state {
	CTRLD_S_LOGIN,		/* greeting sent: "#!TLS" or the login */
	CTRLD_S_CMD,		/* logged in: command lines */
	CTRLD_S_DATA,		/* "+00101 OK" sent: upload lines to "." */
	CTRLD_S_BUSY,		/* a worker job or the bad-login delay */
};

static const char *const ctrld_state_name[] = {
	"LOGIN", "CMD", "DATA", "BUSY",
};

/* One command: its line, parameters and result (worker job). */
struct ctrld_job {
	struct ev_loop		*loop;
	uint64_t		 conn;
	const struct ctrld_cmd	*cmd;
	char			*line;		/* copy; argv points into it */
	char			*argv[CTRLD_ARGS_MAX];
	struct ctrld_req	 req;		/* req.cfg: own reference */
	struct ctrld_res	 res;
	struct buf		 data;		/* upload, un-stuffed */
	bool			 data_bad;	/* upload over a limit */
	bool			 quit;		/* "quit": reply and close */
	char			 admin[CTRLD_ADMIN_MAX + 1];
	char			 peer[CTRLD_PEER_MAX];
};

struct ctrld_session {
	struct conn		*conn;
	const struct ctrld_opts	*opts;
	enum ctrld_state	 state;
	char			 stamp[CTRLD_STAMP_MAX];  /* MD5 challenge */
	char			 admin[CTRLD_ADMIN_MAX + 1]; /* after login */
	struct ctrld_job	*upload;	/* DATA: the pending command */
	bool			 delaying;	/* bad-login delay running */
	bool			 quit_after;	/* shutdown while busy */
};

/* A login line checked on a worker. */
struct login_job {
	struct ev_loop		*loop;
	uint64_t		 conn;
	char			*line;		/* copy; wiped before free */
	size_t			 len;
	char			*user;		/* fields inside line */
	char			*pass;
	char			 stamp[CTRLD_STAMP_MAX];
	bool			 ok;		/* result */
	const char		*why;		/* failure reason, for logs */
};

/* ctrld_enter_state - change state, with a debug line */
static void
ctrld_enter_state(struct ctrld_session *s, enum ctrld_state st)
{
	log_debug("ctrl: session %llu %s -> %s",
	    (unsigned long long)conn_id(s->conn), ctrld_state_name[s->state],
	    ctrld_state_name[st]);
	s->state = st;
}

/* reply_err - "-DDDDD text" for error number `code` (positive) */
static void
reply_err(struct conn *c, int code)
{
	(void)conn_printf(c, "-%05d %s\r\n", code, ctrld_err_text(code));
}

/* is_bad_line - a byte above 127 or a control character but TAB */
static bool
is_bad_line(const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i;

	for (i = 0; i < n; i++)
		if (u[i] >= 127 || (u[i] < 0x20 && u[i] != '\t'))
			return true;
	return false;
}

/* log_when - XMail's log time stamp, local time */
static void
log_when(char *out, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	(void)strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm);
}

/*
 * svc_log_login - the -Cl login record, XMail's fields: client address,
 * account, password (always "*": never written), time, AUTH or FAIL.
 */
static void
svc_log_login(const struct ctrld_session *s, const char *user, bool ok)
{
	char when[32];
	const char *f[5];

	if (!s->opts->log)
		return;
	log_when(when, sizeof(when));
	f[0] = conn_peer_ip(s->conn);
	f[1] = user;
	f[2] = "*";
	f[3] = when;
	f[4] = ok ? "AUTH" : "FAIL";
	(void)log_svc("ctrl", f, 5);
}

/*
 * is_secret - may argv[i] be a password?  Every parameter of a line that
 * is no known command may be one (a misspelt "useradd").
 */
static bool
is_secret(const struct ctrld_cmd *cmd, size_t i)
{
	if (cmd == NULL)
		return i > 0;
	return i < sizeof(cmd->secret) * CHAR_BIT &&
	    (cmd->secret & (1u << i)) != 0;
}

/*
 * svc_log_cmd - the -Cl command record: client address, account, "",
 * time, "CMD", the result ("+00000", "-00012"...), then the command and
 * its parameters, passwords shown as "*" (XMail logged logins only).
 */
static void
svc_log_cmd(const struct ctrld_job *j, int code)
{
	const char *f[6 + CTRLD_ARGS_MAX];
	char when[32], result[16];
	size_t i;

	if (!j->req.opts->log)
		return;
	log_when(when, sizeof(when));
	(void)snprintf(result, sizeof(result), "%c%05d", code < 0 ? '-' : '+',
	    abs(code));
	f[0] = j->peer;
	f[1] = j->admin;
	f[2] = "";
	f[3] = when;
	f[4] = "CMD";
	f[5] = result;
	for (i = 0; i < j->req.argc; i++)
		f[6 + i] = is_secret(j->cmd, i) ? "*" : j->argv[i];
	(void)log_svc("ctrl", f, (int)(6 + j->req.argc));
}

/* job_free - release a command job, its snapshot and listing */
static void
job_free(struct ctrld_job *j)
{
	if (j == NULL)
		return;
	config_release(j->req.cfg);
	buf_clear(&j->res.list);
	buf_clear(&j->data);
	free(j->line);
	free(j);
}

/* reply_list - "+00100 OK", the dot-stuffed listing, "." */
static void
reply_list(struct conn *c, const struct buf *list)
{
	const char *p = list->data, *end = list->data + list->len, *nl;
	size_t n;

	(void)conn_printf(c, "+00100 OK\r\n");
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl != NULL ? nl : end) - p);
		if (nl != NULL && n > 0 && p[n - 1] == '\r')
			n--;
		if (n > 0 && p[0] == '.')
			(void)conn_write(c, ".", 1);
		(void)conn_write(c, p, n);
		(void)conn_write(c, "\r\n", 2);
		p = nl != NULL ? nl + 1 : end;
	}
	(void)conn_write(c, ".\r\n", 3);
}

/* reply_result - the RESSTRING of a command result (and its listing) */
static void
reply_result(struct conn *c, struct ctrld_res *res)
{
	size_t i;

	if (res->code == 100) {
		reply_list(c, &res->list);
	} else if (res->code >= 0) {
		(void)conn_printf(c, "+%05d OK\r\n", res->code);
	} else if (res->text[0] != '\0') {
		/* One line whatever the command wrote. */
		for (i = 0; res->text[i] != '\0'; i++)
			if ((unsigned char)res->text[i] < 0x20)
				res->text[i] = '?';
		(void)conn_printf(c, "-%05d %s\r\n", -res->code, res->text);
	} else {
		reply_err(c, -res->code);
	}
}

/* goodbye_shutdown - the server is stopping: say so and close */
static void
goodbye_shutdown(struct ctrld_session *s)
{
	(void)conn_printf(s->conn, "-00001 Server shutdown\r\n");
	conn_close(s->conn);
}

/* unbusy - a job is over: go on in state `st`, or close when stopping */
static void
unbusy(struct ctrld_session *s, enum ctrld_state st)
{
	ctrld_enter_state(s, st);
	if (s->quit_after) {
		goodbye_shutdown(s);
		return;
	}
	conn_resume(s->conn);
}

/* cmd_log - the diagnostic line and the -Cl record of a result */
static void
cmd_log(const struct ctrld_job *j)
{
	log_info("ctrl: peer=%s user=%s %s %c%05d", j->peer, j->admin,
	    j->cmd->name, j->res.code < 0 ? '-' : '+', abs(j->res.code));
	svc_log_cmd(j, j->res.code);
}

/* cmd_finish - log and reply */
static void
cmd_finish(struct ctrld_session *s, struct ctrld_job *j)
{
	cmd_log(j);
	reply_result(s->conn, &j->res);
}

/* cmd_work - worker: run the command, install the new snapshot */
static void
cmd_work(void *arg)
{
	struct ctrld_job *j = arg;
	char why[64];

	j->cmd->run(&j->req, &j->res);
	if (!j->res.reload)
		return;
	(void)snprintf(why, sizeof(why), "ctrl %s", j->cmd->name);
	if (config_reload(why) == -1)
		log_warn("ctrl: %s: the change is not active yet", j->cmd->name);
}

/* cmd_done - loop: hand the result to the session if it is still there */
static void
cmd_done(void *arg)
{
	struct ctrld_job *j = arg;
	struct conn *c = conn_find(j->loop, j->conn);
	struct ctrld_session *s = c != NULL ? conn_data(c) : NULL;

	if (s != NULL) {
		cmd_finish(s, j);
		unbusy(s, CTRLD_S_CMD);
	} else {
		/* It ran all the same: keep the record. */
		cmd_log(j);
		log_info("ctrl: peer=%s left before the result", j->peer);
	}
	job_free(j);
}

/* cmd_submit - run the command on a worker; the session waits */
static void
cmd_submit(struct ctrld_session *s, struct ctrld_job *j)
{
	j->req.data = j->data.data;
	j->req.datalen = j->data.len;
	ctrld_enter_state(s, CTRLD_S_BUSY);
	conn_pause(s->conn);
	if (work_submit(j->loop, cmd_work, cmd_done, j) == 0)
		return;
	ctrld_fail(&j->res, CTRLD_E_BUSY);
	cmd_finish(s, j);
	job_free(j);
	unbusy(s, CTRLD_S_CMD);
}

/*
 * job_new - a job for a command line: the line is copied and split.
 * Returns NULL with *err set to the error number to send.
 */
static struct ctrld_job *
job_new(struct ctrld_session *s, const char *line, size_t len, int *err)
{
	struct ctrld_job *j = calloc(1, sizeof(*j));
	size_t n = 0;

	*err = CTRLD_E_SYNTAX;
	if (j == NULL || (j->line = malloc(len + 1)) == NULL) {
		free(j);
		*err = CTRLD_E_BUSY;
		return NULL;
	}
	memcpy(j->line, line, len);
	buf_init(&j->res.list, CTRLD_LIST_MAX);
	buf_init(&j->data, CTRLD_UPLOAD_MAX);
	if (tab_split(j->line, len, j->argv, CTRLD_ARGS_MAX, &n) != TAB_OK ||
	    n == 0) {
		job_free(j);
		return NULL;
	}
	j->loop = conn_loop(s->conn);
	j->conn = conn_id(s->conn);
	j->req.argv = j->argv;
	j->req.argc = n;
	j->req.opts = s->opts;
	j->req.admin = j->admin;
	j->req.peer = j->peer;
	memcpy(j->admin, s->admin, sizeof(j->admin));
	if (!str_copy(j->peer, conn_peer_ip(s->conn), sizeof(j->peer)))
		j->peer[0] = '\0';
	return j;
}

/* cmd_bad - a line that is no valid command: reply, log, go on */
static void
cmd_bad(struct ctrld_session *s, struct ctrld_job *j, int code)
{
	log_info("ctrl: peer=%s user=%s refused command: %s",
	    conn_peer_ip(s->conn), s->admin, ctrld_err_text(code));
	if (j != NULL)
		svc_log_cmd(j, -code);
	reply_err(s->conn, code);
	job_free(j);
}

/* upload_start - check the parameters, then "+00101 OK" and DATA */
static void
upload_start(struct ctrld_session *s, struct ctrld_job *j)
{
	if (j->cmd->check != NULL && j->cmd->check(&j->req, &j->res) == -1) {
		cmd_finish(s, j);
		job_free(j);
		return;
	}
	(void)conn_printf(s->conn, "+00101 OK\r\n");
	s->upload = j;
	ctrld_enter_state(s, CTRLD_S_DATA);
}

/* cmd_line - one command line of a logged-in session */
static void
cmd_line(struct ctrld_session *s, const char *line, size_t len)
{
	struct ctrld_job *j;
	int err;

	if (is_bad_line(line, len)) {
		cmd_bad(s, NULL, CTRLD_E_BAD_CHARS);
		return;
	}
	if ((j = job_new(s, line, len, &err)) == NULL) {
		cmd_bad(s, NULL, err);
		return;
	}
	if (strcasecmp(j->argv[0], "quit") == 0) {
		svc_log_cmd(j, 0);
		(void)conn_printf(s->conn, "+00000 OK\r\n");
		conn_close(s->conn);
		job_free(j);
		return;
	}
	j->cmd = ctrld_cmd_find(j->argv[0]);
	if (j->cmd == NULL || j->req.argc - 1 < j->cmd->min_params ||
	    j->req.argc - 1 > j->cmd->max_params) {
		cmd_bad(s, j, CTRLD_E_SYNTAX);
		return;
	}
	j->req.cfg = config_acquire();
	j->req.mailroot = config_mailroot(j->req.cfg);
	if (j->cmd->flags & CTRLD_F_UPLOAD)
		upload_start(s, j);
	else
		cmd_submit(s, j);
}

/*
 * data_line - one upload line: "." ends it; a leading dot is un-stuffed.
 * Over a limit the rest is read and dropped, and the command is not run.
 */
static void
data_line(struct ctrld_session *s, const char *line, size_t len)
{
	struct ctrld_job *j = s->upload;

	if (len == 1 && line[0] == '.') {
		s->upload = NULL;
		if (!j->data_bad) {
			cmd_submit(s, j);
			return;
		}
		ctrld_fail(&j->res, CTRLD_E_INVALID_PARAM);
		cmd_finish(s, j);
		job_free(j);
		ctrld_enter_state(s, CTRLD_S_CMD);
		return;
	}
	if (len > 0 && line[0] == '.') {
		line++;
		len--;
	}
	if (!j->data_bad && (buf_append(&j->data, line, len) == -1 ||
	    buf_putc(&j->data, '\n') == -1)) {
		log_info("ctrl: peer=%s %s upload over %u octets",
		    conn_peer_ip(s->conn), j->cmd->name, CTRLD_UPLOAD_MAX);
		j->data_bad = true;
	}
}

/* login_job_free - wipe the password and release the job */
static void
login_job_free(struct login_job *j)
{
	explicit_bzero(j->line, j->len + 1);
	free(j->line);
	free(j);
}

/* delay_done - the bad-login delay is over: reply and close */
static void
delay_done(struct conn *c)
{
	struct ctrld_session *s = conn_data(c);

	s->delaying = false;
	reply_err(c, CTRLD_E_BAD_LOGIN);
	conn_close(c);
}

/* login_delay - CtrlLoginDelay in seconds, within [0, CTRLD_DELAY_MAX] */
static int
login_delay(void)
{
	struct config *cfg = config_acquire();
	long d = config_var_long(cfg, "CtrlLoginDelay", CTRLD_DELAY_DEFAULT);

	config_release(cfg);
	return d < 0 ? 0 : d > CTRLD_DELAY_MAX ? CTRLD_DELAY_MAX : (int)d;
}

/*
 * login_fail - log the failure, wait CtrlLoginDelay seconds (not when
 * stopping), then "-00105 Bad controller login" and close.
 */
static void
login_fail(struct ctrld_session *s, const char *user, const char *why)
{
	int delay = s->quit_after ? 0 : login_delay();

	log_info("ctrl: peer=%s user=%.64s login failed: %s",
	    conn_peer_ip(s->conn), user, why);
	svc_log_login(s, user, false);
	ctrld_enter_state(s, CTRLD_S_BUSY);
	conn_pause(s->conn);
	if (delay > 0 && conn_timer(s->conn, delay * 1000, delay_done) == 0) {
		s->delaying = true;
		return;
	}
	reply_err(s->conn, CTRLD_E_BAD_LOGIN);
	conn_close(s->conn);
}

/* login_md5_ok - "#" + hex MD5 of "<stamp>password" against `stored` */
static bool
login_md5_ok(const char *stored, const char *stamp, const char *hex)
{
	struct buf clear;
	bool ok;

	/* A crypt(3) hash cannot give the clear secret the digest needs. */
	if (passwd_is_hash(stored))
		return false;
	buf_init(&clear, TAB_LINE_MAX);
	ok = xmcrypt_decode(stored, &clear) == 0 && clear.len > 0 &&
	    store_apop_ok(clear.data, stamp, hex);
	explicit_bzero(clear.data, clear.len);
	buf_clear(&clear);
	return ok;
}

/* login_work - worker: the account and its password */
static void
login_work(void *arg)
{
	struct login_job *j = arg;
	struct config *cfg = config_acquire();
	const struct tab_rec *r;

	r = tab_find(config_tab(cfg, CFG_CTRLACCOUNTS), 0, j->user, 2);
	if (r == NULL)
		j->why = "no such account";
	else if (j->pass[0] == '\0' || r->f[1][0] == '\0')
		j->why = "empty password";
	else if (j->pass[0] == '#')
		j->ok = login_md5_ok(r->f[1], j->stamp, j->pass + 1);
	else
		j->ok = passwd_verify(j->pass, r->f[1]);
	if (r != NULL && !j->ok && j->why == NULL)
		j->why = "bad password";
	config_release(cfg);
}

/* login_done - loop: log in, or fail, if the session is still there */
static void
login_done(void *arg)
{
	struct login_job *j = arg;
	struct conn *c = conn_find(j->loop, j->conn);
	struct ctrld_session *s = c != NULL ? conn_data(c) : NULL;

	if (s == NULL) {
		login_job_free(j);
		return;
	}
	if (!j->ok) {
		login_fail(s, j->user, j->why);
		login_job_free(j);
		return;
	}
	/* login_start checked that the name fits. */
	memcpy(s->admin, j->user, strlen(j->user) + 1);
	log_info("ctrl: peer=%s user=%s logged in%s%s", conn_peer_ip(c),
	    s->admin, j->pass[0] == '#' ? " with MD5" : "",
	    conn_is_tls(c) ? " over TLS" : "");
	svc_log_login(s, s->admin, true);
	(void)conn_printf(c, "+00000 OK\r\n");
	login_job_free(j);
	unbusy(s, CTRLD_S_CMD);
}

/*
 * plain_allowed - server.tab CtrlAllowPlainAuth: may a clear-text
 * password be sent before TLS (DESIGN.md: not unless configured)?
 */
static bool
plain_allowed(void)
{
	struct config *cfg = config_acquire();
	bool ok = config_var_bool(cfg, "CtrlAllowPlainAuth", false);

	config_release(cfg);
	return ok;
}

/* login_start - split the login line and check it on a worker */
static void
login_start(struct ctrld_session *s, const char *line, size_t len)
{
	struct login_job *j = calloc(1, sizeof(*j));
	char *f[2];
	size_t n;

	if (j == NULL || (j->line = malloc(len + 1)) == NULL) {
		free(j);
		login_fail(s, "", "out of memory");
		return;
	}
	memcpy(j->line, line, len);
	j->len = len;
	if (is_bad_line(line, len)) {
		login_job_free(j);
		login_fail(s, "", "bad characters");
		return;
	}
	/*
	 * Not "user" TAB "password": which field is the name is unknown,
	 * and a password must not reach the log.
	 */
	if (tab_split(j->line, len, f, 2, &n) != TAB_OK || n != 2) {
		login_job_free(j);
		login_fail(s, "", "not two fields");
		return;
	}
	j->user = f[0];
	j->pass = f[1];
	if (strlen(j->user) > CTRLD_ADMIN_MAX) {
		login_fail(s, j->user, "name too long");
		login_job_free(j);
		return;
	}
	if (j->pass[0] != '#' && !conn_is_tls(s->conn) && !plain_allowed()) {
		login_fail(s, j->user, "clear-text password before TLS"
		    " (use the MD5 login or TLS, or set CtrlAllowPlainAuth)");
		login_job_free(j);
		return;
	}
	j->loop = conn_loop(s->conn);
	j->conn = conn_id(s->conn);
	memcpy(j->stamp, s->stamp, sizeof(j->stamp));
	ctrld_enter_state(s, CTRLD_S_BUSY);
	conn_pause(s->conn);
	if (work_submit(j->loop, login_work, login_done, j) == 0)
		return;
	login_job_free(j);
	reply_err(s->conn, CTRLD_E_BUSY);
	conn_close(s->conn);
}

/*
 * tls_start - "#!TLS" before the login: refuse on a TLS link or when
 * TLS is off (the session ends, as in XMail), else upgrade.
 */
static void
tls_start(struct ctrld_session *s)
{
	struct config *cfg = config_acquire();
	bool enabled = config_var_bool(cfg, "EnableCTRL-TLS", true);

	config_release(cfg);
	if (conn_is_tls(s->conn)) {
		reply_err(s->conn, CTRLD_E_TLS_ACTIVE);
		conn_close(s->conn);
		return;
	}
	if (!enabled || !tls_server_available()) {
		reply_err(s->conn, CTRLD_E_TLS_DISABLED);
		conn_close(s->conn);
		return;
	}
	(void)conn_printf(s->conn, "+00000 Ready to start TLS mode\r\n");
	if (conn_starttls(s->conn) == -1) {
		/* The client now expects a handshake: the session is over. */
		log_warn("ctrl: peer=%s #!TLS failed to start",
		    conn_peer_ip(s->conn));
		conn_close(s->conn);
	}
}

/* ctrld_line - one input line */
static void
ctrld_line(struct conn *c, char *line, size_t len)
{
	struct ctrld_session *s = conn_data(c);

	switch (s->state) {
	case CTRLD_S_LOGIN:
		if (len == strlen(CTRLD_TLS_INIT) &&
		    memcmp(line, CTRLD_TLS_INIT, len) == 0)
			tls_start(s);
		else
			login_start(s, line, len);
		break;
	case CTRLD_S_CMD:
		cmd_line(s, line, len);
		break;
	case CTRLD_S_DATA:
		data_line(s, line, len);
		break;
	case CTRLD_S_BUSY:
	default:
		fatalx("%s: bad state %d", __func__, s->state);
	}
}

/* make_stamp - "<seconds.random@local-ip>" (XMail: a thread id) */
static int
make_stamp(struct ctrld_session *s, time_t now)
{
	uint64_t r;
	int n;

	/* Never block the loop: before the pool is seeded, refuse. */
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		return -1;
	n = snprintf(s->stamp, sizeof(s->stamp), "<%lld.%llu@%s>",
	    (long long)now, (unsigned long long)r, conn_local_ip(s->conn));
	return n < 0 || (size_t)n >= sizeof(s->stamp) ? -1 : 0;
}

/* ctrld_open - new connection: ctrl.ipmap.tab and the greeting */
static void
ctrld_open(struct conn *c)
{
	struct ctrld_session *s = calloc(1, sizeof(*s));
	char date[RFCDATE_MAX];
	time_t now = time(NULL);
	struct config *cfg;
	bool allowed;

	if (s == NULL) {
		reply_err(c, CTRLD_E_BUSY);
		conn_close(c);
		return;
	}
	s->conn = c;
	s->opts = conn_service(c)->arg;
	conn_set_data(c, s);
	cfg = config_acquire();
	allowed = config_ipmap_allow(cfg, CFG_CTRL_IPMAP, conn_peer(c));
	config_release(cfg);
	if (!allowed) {
		log_info("ctrl: peer=%s refused by ctrl.ipmap.tab",
		    conn_peer_ip(c));
		reply_err(c, CTRLD_E_IP_DENIED);
		conn_close(c);
		return;
	}
	if (make_stamp(s, now) == -1) {
		log_warn("ctrl: peer=%s no random challenge: %m",
		    conn_peer_ip(c));
		reply_err(c, CTRLD_E_BUSY);
		conn_close(c);
		return;
	}
	log_info("ctrl: connect peer=%s port=%d session=%llu%s",
	    conn_peer_ip(c), conn_peer_port(c), (unsigned long long)conn_id(c),
	    conn_service(c)->tls ? " tls" : "");
	(void)conn_printf(c, "+00000 %s " CTRLD_PRODUCT "; %s\r\n", s->stamp,
	    rfcdate(now, date, sizeof(date)));
}

/* ctrld_event - overlong line, timeout, disconnect */
static void
ctrld_event(struct conn *c, enum conn_event ev)
{
	struct ctrld_session *s = conn_data(c);

	switch (ev) {
	case CONN_LINE_TOO_LONG:
		if (s->state == CTRLD_S_DATA) {
			/* Latched: answered at the final ".". */
			s->upload->data_bad = true;
			break;
		}
		log_info("ctrl: peer=%s line too long", conn_peer_ip(c));
		reply_err(c, CTRLD_E_LINE_TOO_LONG);
		conn_close(c);
		break;
	case CONN_TIMEOUT:
		log_info("ctrl: peer=%s idle timeout", conn_peer_ip(c));
		break;
	case CONN_CLOSED:
	case CONN_ERROR:
	case CONN_CONNECT_FAILED:
		if (s->state == CTRLD_S_DATA)
			log_info("ctrl: peer=%s left during the upload of %s",
			    conn_peer_ip(c), s->upload->cmd->name);
		break;
	}
}

/* ctrld_shutdown - server stopping: idle sessions end now */
static void
ctrld_shutdown(struct conn *c)
{
	struct ctrld_session *s = conn_data(c);

	if (s->delaying) {
		/* Its timer does not fire once the connection closes. */
		s->delaying = false;
		reply_err(c, CTRLD_E_BAD_LOGIN);
		conn_close(c);
		return;
	}
	if (s->state == CTRLD_S_BUSY) {
		s->quit_after = true;
		return;
	}
	goodbye_shutdown(s);
}

/* ctrld_free - end of session */
static void
ctrld_free(struct conn *c)
{
	struct ctrld_session *s = conn_data(c);

	if (s == NULL)
		return;
	log_debug("ctrl: session %llu closed", (unsigned long long)conn_id(c));
	job_free(s->upload);
	free(s);
}

static const struct conn_handler ctrld_handler = {
	.on_open = ctrld_open,
	.on_line = ctrld_line,
	.on_event = ctrld_event,
	.on_shutdown = ctrld_shutdown,
	.on_free = ctrld_free,
};

/* ctrld_service_init - describe the CTRL or CTRLS service */
void
ctrld_service_init(struct ev_service *svc, const struct ctrld_opts *o,
    bool implicit_tls)
{
	svc->name = implicit_tls ? "ctrls" : "ctrl";
	svc->handler = &ctrld_handler;
	svc->line_max = CTRLD_LINE_MAX;
	svc->timeout = o->timeout;
	svc->max_sessions = o->max_sessions;
	svc->busy_reply = "-00129 Server too busy, retry later\r\n";
	svc->tls = implicit_tls;
	svc->arg = (void *)o;
}
