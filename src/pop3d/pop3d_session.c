/*
 * pop3d_session.c - POP3 sessions: greeting, replies, line input, timeouts,
 * TLS, shutdown, the mailbox lock, the -Pl log.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "core/ev.h"
#include "core/fsutil.h"
#include "core/line.h"
#include "core/log.h"
#include "core/rfcdate.h"
#include "core/tls.h"
#include "pop3d/pop3d_int.h"

static const char *const pop3d_state_name[] = {
	"AUTH", "USER", "TRANS", "BUSY", "QUIT",
};

/* pop3d_enter_state - change state */
void
pop3d_enter_state(struct pop3d_session *s, enum pop3d_state st)
{
	log_debug("pop3: session %llu %s -> %s",
	    (unsigned long long)conn_id(s->conn), pop3d_state_name[s->state],
	    pop3d_state_name[st]);
	s->state = st;
}

/* pop3d_vreply - one reply line */
static void __attribute__((format(printf, 3, 0)))
pop3d_vreply(struct pop3d_session *s, const char *status, const char *fmt,
    va_list ap)
{
	char text[512];

	(void)vsnprintf(text, sizeof(text), fmt, ap);
	(void)conn_printf(s->conn, "%s %s\r\n", status, text);
}

/* pop3d_ok - positive reply */
void
pop3d_ok(struct pop3d_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pop3d_vreply(s, "+OK", fmt, ap);
	va_end(ap);
}

/* pop3d_err - negative reply for a protocol error, counted */
void
pop3d_err(struct pop3d_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pop3d_vreply(s, "-ERR", fmt, ap);
	va_end(ap);
	if (++s->errors < POP3D_MAX_ERRORS)
		return;
	log_info("pop3: peer=%s too many errors (%d), closing",
	    conn_peer_ip(s->conn), s->errors);
	(void)conn_printf(s->conn, "-ERR Too many errors, closing session\r\n");
	conn_close(s->conn);
}

/* pop3d_svc_log - XMail-style POP3 log record */
void
pop3d_svc_log(struct pop3d_session *s, const char *login, const char *status,
    const char *pass, size_t count, uint64_t octets)
{
	char when[32], n[24], size[24];
	const char *f[9];
	time_t now = time(NULL);
	struct tm tm;

	if (!s->opts->log)
		return;
	localtime_r(&now, &tm);
	(void)strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	(void)snprintf(n, sizeof(n), "%zu", count);
	(void)snprintf(size, sizeof(size), "%llu", (unsigned long long)octets);
	f[0] = conn_local_ip(s->conn);
	f[1] = s->domain;
	f[2] = conn_peer_ip(s->conn);
	f[3] = when;
	f[4] = login;
	f[5] = status;
	f[6] = pass != NULL ? pass : "";
	f[7] = n;
	f[8] = size;
	(void)log_svc("pop3", f, 9);
}

/* pop3d_busy - wait for a job */
void
pop3d_busy(struct pop3d_session *s)
{
	pop3d_enter_state(s, POP3D_S_BUSY);
	conn_pause(s->conn);
}

/* pop3d_goodbye_shutdown - server stopping */
void
pop3d_goodbye_shutdown(struct pop3d_session *s)
{
	(void)conn_printf(s->conn, "-ERR Server shutting down\r\n");
	conn_close(s->conn);
}

/* pop3d_unbusy - job over */
void
pop3d_unbusy(struct pop3d_session *s, enum pop3d_state st)
{
	pop3d_enter_state(s, st);
	if (s->quit_after && st != POP3D_S_QUIT) {
		pop3d_goodbye_shutdown(s);
		return;
	}
	conn_resume(s->conn);
}

/* pop3d_plain_ok - USER/PASS allowed now */
bool
pop3d_plain_ok(const struct pop3d_session *s)
{
	return conn_is_tls(s->conn) ||
	    config_var_bool(s->cfg, "Pop3AllowPlainAuth", false);
}

/* pop3d_stls_ok - STLS can be offered */
bool
pop3d_stls_ok(const struct pop3d_session *s)
{
	return !conn_is_tls(s->conn) && !conn_service(s->conn)->tls &&
	    config_var_bool(s->cfg, "EnablePOP3-TLS", true) &&
	    tls_server_available();
}

/*
 * pop3d_lock_release - remove the lock.  Done on the loop thread: one
 * unlink in a small local directory, and it must also work while the
 * server stops, when the worker pool is gone.
 */
void
pop3d_lock_release(struct pop3d_session *s)
{
	if (s->lock[0] == '\0')
		return;
	if (unlink(s->lock) == -1 && errno != ENOENT)
		log_warn("pop3: cannot remove %s: %m", s->lock);
	s->lock[0] = '\0';
}

/* pop3d_box_clear - drop the snapshot */
void
pop3d_box_clear(struct pop3d_session *s)
{
	maildir_list_free(&s->box);
	free(s->deleted);
	s->deleted = NULL;
	s->ndeleted = 0;
	s->deleted_octets = 0;
	s->last = 0;
}

/* session_domain - POP3Domain, else RootDomain: no DNS at connect */
static void
session_domain(struct pop3d_session *s)
{
	const char *d = config_var(s->cfg, "POP3Domain");

	if (d == NULL || *d == '\0')
		d = config_var(s->cfg, "RootDomain");
	if (d == NULL || *d == '\0' || !store_domain_ok(d, false) ||
	    !str_copy(s->domain, d, sizeof(s->domain)))
		(void)snprintf(s->domain, sizeof(s->domain), "localhost");
}

/* pop3d_open - new connection: access check and greeting */
static void
pop3d_open(struct conn *c)
{
	struct pop3d_session *s = calloc(1, sizeof(*s));
	char date[RFCDATE_MAX];
	time_t now = time(NULL);

	if (s == NULL) {
		(void)conn_printf(c, "-ERR Out of memory\r\n");
		conn_close(c);
		return;
	}
	s->conn = c;
	s->opts = conn_service(c)->arg;
	s->cfg = config_acquire();
	s->delay = s->opts->login_delay;
	conn_set_data(c, s);
	session_domain(s);
	if (!config_ipmap_allow(s->cfg, CFG_POP3_IPMAP, conn_peer(c))) {
		log_info("pop3: peer=%s refused by pop3.ipmap.tab",
		    conn_peer_ip(c));
		(void)conn_printf(c, "-ERR Access denied\r\n");
		conn_close(c);
		return;
	}
	log_info("pop3: connect peer=%s port=%d session=%llu%s",
	    conn_peer_ip(c), conn_peer_port(c),
	    (unsigned long long)conn_id(c),
	    conn_service(c)->tls ? " tls" : "");
	/* RFC 1939 section 7: the APOP timestamp is unique per greeting. */
	(void)snprintf(s->stamp, sizeof(s->stamp), "<%lld.%llu@%s>",
	    (long long)now, (unsigned long long)conn_id(c), s->domain);
	(void)conn_printf(c, "+OK %s " POP3D_PRODUCT " service ready; %s\r\n",
	    s->stamp, rfcdate(now, date, sizeof(date)));
}

/* pop3d_line - one command line */
static void
pop3d_line(struct conn *c, char *line, size_t len)
{
	struct pop3d_session *s = conn_data(c);

	if (line_has_ctl_eol(line, len)) {
		pop3d_err(s, "Invalid command");
		return;
	}
	pop3d_cmd_dispatch(s, line, len);
}

/* pop3d_event - overlong line, timeout, disconnect */
static void
pop3d_event(struct conn *c, enum conn_event ev)
{
	struct pop3d_session *s = conn_data(c);

	switch (ev) {
	case CONN_LINE_TOO_LONG:
		pop3d_err(s, "Line too long");
		break;
	case CONN_TIMEOUT:
		log_info("pop3: peer=%s idle timeout", conn_peer_ip(c));
		(void)conn_printf(c, "-ERR Timeout, closing session\r\n");
		break;
	case CONN_CLOSED:
	case CONN_ERROR:
	case CONN_CONNECT_FAILED:
		if (s->state == POP3D_S_TRANS && s->ndeleted > 0)
			log_info("pop3: peer=%s user=%s left without QUIT, %zu"
			    " deletion(s) dropped", conn_peer_ip(c), s->login,
			    s->ndeleted);
		break;
	}
}

/*
 * pop3d_tls - TLS is up (STLS or POP3S).  RFC 2595 section 4: forget what
 * the client said before; only the AUTHORIZATION state can be here.
 */
static void
pop3d_tls(struct conn *c)
{
	struct pop3d_session *s = conn_data(c);

	s->login[0] = '\0';
	if (s->state == POP3D_S_USER)
		pop3d_enter_state(s, POP3D_S_AUTH);
}

/* pop3d_shutdown - server stopping: idle sessions end now, no UPDATE */
static void
pop3d_shutdown(struct conn *c)
{
	struct pop3d_session *s = conn_data(c);

	if (s->delayed[0] != '\0') {
		/* A bad-login delay: its timer does not fire once closing. */
		s->delayed[0] = '\0';
	} else if (s->state == POP3D_S_BUSY || s->state == POP3D_S_QUIT) {
		s->quit_after = true;
		return;
	}
	pop3d_goodbye_shutdown(s);
}

/* pop3d_free - end of session: lock, snapshot, configuration */
static void
pop3d_free(struct conn *c)
{
	struct pop3d_session *s = conn_data(c);

	if (s == NULL)
		return;
	log_debug("pop3: session %llu closed", (unsigned long long)conn_id(c));
	pop3d_lock_release(s);
	pop3d_box_clear(s);
	config_release(s->cfg);
	free(s);
}

static const struct conn_handler pop3d_handler = {
	.on_open = pop3d_open,
	.on_line = pop3d_line,
	.on_event = pop3d_event,
	.on_tls = pop3d_tls,
	.on_shutdown = pop3d_shutdown,
	.on_free = pop3d_free,
};

/* pop3d_service_init - describe the POP3 or POP3S service */
void
pop3d_service_init(struct ev_service *svc, const struct pop3d_opts *o,
    bool implicit_tls)
{
	svc->name = implicit_tls ? "pop3s" : "pop3";
	svc->handler = &pop3d_handler;
	svc->line_max = POP3D_LINE_MAX;
	svc->timeout = o->timeout;
	svc->max_sessions = o->max_sessions;
	svc->busy_reply = "-ERR Server too busy\r\n";
	svc->tls = implicit_tls;
	svc->arg = (void *)o;
}

/* pop3d_locks_wipe - remove stale locks at start-up */
int
pop3d_locks_wipe(const char *mailroot)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	int removed = 0;
	DIR *d;

	if (fs_path(dir, sizeof(dir), mailroot, "pop3locks") == -1 ||
	    fs_mkdir_p(dir, 0700) == -1 || (d = opendir(dir)) == NULL) {
		log_error("pop3: %s/pop3locks: %m", mailroot);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    fs_path(path, sizeof(path), dir, de->d_name) == -1)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
		else
			log_warn("pop3: cannot remove %s: %m", path);
	}
	(void)closedir(d);
	if (removed > 0)
		log_info("pop3: removed %d stale mailbox lock(s)", removed);
	return 0;
}
