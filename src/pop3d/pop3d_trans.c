/*
 * pop3d_trans.c - the TRANSACTION state (RFC 1939 section 5): STAT, LIST,
 * UIDL, RETR, TOP, DELE, NOOP, LAST, RSET, and the UPDATE state at QUIT.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/work.h"
#include "pop3d/pop3d_int.h"

/* visible - messages and octets not marked as deleted */
static void
visible(const struct pop3d_session *s, size_t *n, uint64_t *octets)
{
	*n = s->box.n - s->ndeleted;
	*octets = s->box.pop3_total - s->deleted_octets;
}

/* pop3d_maildrop_reply - the login / NOOP / RSET reply (XMail text) */
void
pop3d_maildrop_reply(struct pop3d_session *s)
{
	uint64_t octets;
	size_t n;

	visible(s, &n, &octets);
	pop3d_ok(s, "Maildrop has %zu messages (%llu bytes)", n,
	    (unsigned long long)octets);
}

/* parse_num - a decimal number without sign; *end after it */
static bool
parse_num(const char *p, unsigned long *out, const char **end)
{
	unsigned long v = 0;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++)
		if (CKD_MUL(&v, v, 10) || CKD_ADD(&v, v, (unsigned long)(*p -
		    '0')))
			return false;
	*out = v;
	*end = p;
	return true;
}

/*
 * msg_arg - the message named by the number at p (RFC 1939 "msg"):
 * its index, or -1 with the reply sent.  *end is set after the number.
 */
static long
msg_arg(struct pop3d_session *s, const char *p, const char **end)
{
	unsigned long n;

	if (!parse_num(p, &n, end)) {
		pop3d_err(s, "Invalid syntax");
		return -1;
	}
	if (n == 0 || n > s->box.n) {
		pop3d_err(s, "No such message");
		return -1;
	}
	if (s->deleted[n - 1]) {
		pop3d_err(s, "Message deleted");
		return -1;
	}
	return (long)(n - 1);
}

/* msg_only - a message number as the whole argument; index or -1 */
static long
msg_only(struct pop3d_session *s, const char *arg)
{
	const char *end;
	long i = msg_arg(s, arg, &end);

	if (i >= 0 && *end != '\0') {
		pop3d_err(s, "Invalid syntax");
		return -1;
	}
	return i;
}

/* touch - LAST counts the highest message accessed */
static void
touch(struct pop3d_session *s, long i)
{
	if ((size_t)i + 1 > s->last)
		s->last = (size_t)i + 1;
}

/* pop3d_cmd_stat - STAT */
void
pop3d_cmd_stat(void *sess, char *arg)
{
	struct pop3d_session *s = sess;
	uint64_t octets;
	size_t n;

	(void)arg;
	visible(s, &n, &octets);
	pop3d_ok(s, "%zu %llu", n, (unsigned long long)octets);
}

/* pop3d_cmd_list - LIST [msg]: sizes in octets as RETR sends them */
void
pop3d_cmd_list(void *sess, char *arg)
{
	struct pop3d_session *s = sess;
	uint64_t octets;
	size_t i, n;
	long m;

	if (*arg != '\0') {
		if ((m = msg_only(s, arg)) >= 0)
			pop3d_ok(s, "%ld %llu", m + 1, (unsigned long long)
			    s->box.msgs[m].pop3_size);
		return;
	}
	visible(s, &n, &octets);
	pop3d_ok(s, "%zu %llu", n, (unsigned long long)octets);
	for (i = 0; i < s->box.n; i++)
		if (!s->deleted[i])
			(void)conn_printf(s->conn, "%zu %llu\r\n", i + 1,
			    (unsigned long long)s->box.msgs[i].pop3_size);
	(void)conn_write(s->conn, ".\r\n", 3);
}

/*
 * uid_format - the UIDL unique-id: the listing's UID (file name, or the
 * Maildir base name) when it fits RFC 1939 section 7 (1 to 70 characters
 * 0x21-0x7E), else the hex SHA-256 of it cut to 40 digits, equally
 * stable across sessions.
 */
static void
uid_format(const struct maildir_msg *m, char out[POP3D_UID_MAX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t i;
	bool ok = m->uid_len > 0 && m->uid_len <= POP3D_UID_MAX;

	for (i = 0; ok && i < m->uid_len; i++)
		ok = m->name[i] > 0x20 && m->name[i] < 0x7f;
	if (ok) {
		memcpy(out, m->name, m->uid_len);
		out[m->uid_len] = '\0';
		return;
	}
	if (EVP_Digest(m->name, m->uid_len, md, &mdlen, EVP_sha256(), NULL)
	    != 1 || mdlen < 20)
		fatalx("pop3: SHA-256 unavailable");
	for (i = 0; i < 20; i++)
		(void)snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* pop3d_cmd_uidl - UIDL [msg] (RFC 1939 section 7) */
void
pop3d_cmd_uidl(void *sess, char *arg)
{
	struct pop3d_session *s = sess;
	char uid[POP3D_UID_MAX + 1];
	size_t i, n;
	uint64_t octets;
	long m;

	if (*arg != '\0') {
		if ((m = msg_only(s, arg)) >= 0) {
			uid_format(&s->box.msgs[m], uid);
			pop3d_ok(s, "%ld %s", m + 1, uid);
		}
		return;
	}
	visible(s, &n, &octets);
	pop3d_ok(s, "%zu", n);
	for (i = 0; i < s->box.n; i++) {
		if (s->deleted[i])
			continue;
		uid_format(&s->box.msgs[i], uid);
		(void)conn_printf(s->conn, "%zu %s\r\n", i + 1, uid);
	}
	(void)conn_write(s->conn, ".\r\n", 3);
}

/* conn_sink - maildir_sink writing to the connection */
static int
conn_sink(void *arg, const void *p, size_t n)
{
	return conn_write(arg, p, n);
}

/* buf_sink - maildir_sink appending to a buffer */
static int
buf_sink(void *arg, const void *p, size_t n)
{
	return buf_append(arg, p, n);
}

/* send_head - "+OK" line of RETR / TOP (XMail texts) */
static void
send_head(struct pop3d_session *s, long lines, uint64_t size)
{
	if (lines < 0)
		pop3d_ok(s, "%llu bytes", (unsigned long long)size);
	else
		pop3d_ok(s, "message is %llu bytes", (unsigned long long)size);
}

/* gone_reply - the file of a listed message cannot be opened */
static void
gone_reply(struct pop3d_session *s, long i, int err)
{
	log_warn("pop3: user=%s@%s message %s: %s", s->user.name,
	    s->user.domain, s->box.msgs[i].name, strerror(err));
	pop3d_err(s, "%s", err == ENOENT ? "Message no longer available" :
	    "[SYS/TEMP] Cannot read message");
}

/*
 * send_inline - a small message, read on the loop thread: it is almost
 * always in the page cache (it was just listed or delivered), and a
 * worker round trip would cost more than the read.  Output goes straight
 * into the connection's buffer; core/ev.c stops taking commands while
 * more than a megabyte of output is queued, so a client that pipelines
 * RETRs without reading cannot make the server buffer without bound.
 */
static void
send_inline(struct pop3d_session *s, long i, long lines)
{
	int fd = maildir_msg_open(s->acctdir, &s->box.msgs[i]);

	if (fd == -1) {
		gone_reply(s, i, errno);
		return;
	}
	send_head(s, lines, s->box.msgs[i].pop3_size);
	if (maildir_pop3_copy(fd, lines, conn_sink, s->conn) == -1) {
		/* Part of it is sent: the stream cannot be repaired. */
		log_warn("pop3: user=%s@%s reading %s: %m", s->user.name,
		    s->user.domain, s->box.msgs[i].name);
		conn_close(s->conn);
	} else {
		(void)conn_write(s->conn, ".\r\n", 3);
	}
	(void)close(fd);
}

/* A large message read on a worker. */
struct retr_job {
	struct ev_loop	*loop;
	uint64_t	 conn;
	long		 index;
	long		 lines;		/* TOP lines, -1 for RETR */
	char		 path[PATH_MAX];
	struct buf	 out;		/* POP3 form */
	int		 err;		/* 0, or errno */
};

/* retr_work - worker: read and convert the whole message */
static void
retr_work(void *arg)
{
	struct retr_job *j = arg;
	struct stat st;
	int fd = open(j->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd == -1 || fstat(fd, &st) == -1) {
		j->err = errno;
		if (fd != -1)
			(void)close(fd);
		return;
	}
	/* Each octet becomes at most two (LF -> CRLF, ".\n" -> "..\r\n"). */
	buf_init(&j->out, 2 * (size_t)st.st_size + 16);
	if (maildir_pop3_copy(fd, j->lines, buf_sink, &j->out) == -1)
		j->err = errno != 0 ? errno : EIO;
	(void)close(fd);
}

/* retr_done - loop: send what the worker read */
static void
retr_done(void *arg)
{
	struct retr_job *j = arg;
	struct conn *c = conn_find(j->loop, j->conn);
	struct pop3d_session *s = c != NULL ? conn_data(c) : NULL;

	if (s != NULL) {
		if (j->err != 0) {
			gone_reply(s, j->index, j->err);
		} else {
			send_head(s, j->lines,
			    s->box.msgs[j->index].pop3_size);
			(void)conn_write(c, j->out.data, j->out.len);
			(void)conn_write(c, ".\r\n", 3);
		}
		pop3d_unbusy(s, POP3D_S_TRANS);
	}
	buf_clear(&j->out);
	free(j);
}

/* send_worker - a large message: read on a worker, input paused */
static void
send_worker(struct pop3d_session *s, long i, long lines)
{
	struct retr_job *j = calloc(1, sizeof(*j));

	if (j == NULL || maildir_msg_path(s->acctdir, &s->box.msgs[i],
	    j->path, sizeof(j->path)) == -1) {
		free(j);
		pop3d_err(s, "[SYS/TEMP] Cannot read message");
		return;
	}
	j->loop = conn_loop(s->conn);
	j->conn = conn_id(s->conn);
	j->index = i;
	j->lines = lines;
	pop3d_busy(s);
	if (work_submit(j->loop, retr_work, retr_done, j) == 0)
		return;
	free(j);
	pop3d_unbusy(s, POP3D_S_TRANS);
	pop3d_err(s, "[SYS/TEMP] Server busy, try again later");
}

/* send_msg - RETR (lines < 0) or TOP */
static void
send_msg(struct pop3d_session *s, long i, long lines)
{
	touch(s, i);
	if (s->box.msgs[i].size <= POP3D_INLINE_MAX)
		send_inline(s, i, lines);
	else
		send_worker(s, i, lines);
}

/* pop3d_cmd_retr - RETR msg */
void
pop3d_cmd_retr(void *sess, char *arg)
{
	struct pop3d_session *s = sess;
	long i = msg_only(s, arg);

	if (i >= 0)
		send_msg(s, i, -1);
}

/* pop3d_cmd_top - TOP msg n (RFC 1939 section 7) */
void
pop3d_cmd_top(void *sess, char *arg)
{
	struct pop3d_session *s = sess;
	unsigned long n;
	const char *p;
	long i = msg_arg(s, arg, &p);

	if (i < 0)
		return;
	if (*p != ' ') {
		pop3d_err(s, "Invalid syntax");
		return;
	}
	while (*p == ' ')
		p++;
	if (!parse_num(p, &n, &p) || *p != '\0' || n > (unsigned long)
	    LONG_MAX) {
		pop3d_err(s, "Invalid syntax");
		return;
	}
	send_msg(s, i, (long)n);
}

/* pop3d_cmd_dele - DELE msg: a mark, applied at QUIT */
void
pop3d_cmd_dele(void *sess, char *arg)
{
	struct pop3d_session *s = sess;
	long i = msg_only(s, arg);

	if (i < 0)
		return;
	s->deleted[i] = 1;
	s->ndeleted++;
	s->deleted_octets += s->box.msgs[i].pop3_size;
	touch(s, i);
	pop3d_ok(s, "Message deleted");
}

/* pop3d_cmd_noop - NOOP (XMail answers with the maildrop summary) */
void
pop3d_cmd_noop(void *sess, char *arg)
{
	(void)arg;
	pop3d_maildrop_reply(sess);
}

/* pop3d_cmd_last - LAST (RFC 1460): highest message number accessed */
void
pop3d_cmd_last(void *sess, char *arg)
{
	struct pop3d_session *s = sess;

	(void)arg;
	pop3d_ok(s, "%zu", s->last);
}

/* pop3d_cmd_rset - RSET: unmark everything */
void
pop3d_cmd_rset(void *sess, char *arg)
{
	struct pop3d_session *s = sess;

	(void)arg;
	if (s->box.n > 0)
		memset(s->deleted, 0, s->box.n);
	s->ndeleted = 0;
	s->deleted_octets = 0;
	s->last = 0;
	pop3d_maildrop_reply(s);
}

/* The UPDATE state on a worker; owns the snapshot and the lock. */
struct update_job {
	struct ev_loop		*loop;
	uint64_t		 conn;
	bool			 maildir;
	char			 acctdir[PATH_MAX];
	char			 lock[PATH_MAX];
	struct maildir_list	 box;
	unsigned char		*deleted;
	size_t			 ndeleted;
	uint64_t		 octets;
	size_t			 failed;	/* removals that failed */
};

/*
 * update_work - worker: remove the marked messages, make the removal
 * durable, then drop the lock, so the next session never sees a message
 * that is being removed.
 */
static void
update_work(void *arg)
{
	struct update_job *j = arg;
	size_t i;

	for (i = 0; i < j->box.n; i++) {
		if (!j->deleted[i] ||
		    maildir_msg_delete(j->acctdir, &j->box.msgs[i]) == 0)
			continue;
		log_warn("pop3: cannot remove %s of %s: %m",
		    j->box.msgs[i].name, j->acctdir);
		j->failed++;
	}
	if (j->ndeleted > 0 && maildir_sync(j->acctdir, j->maildir) == -1)
		log_warn("pop3: fsync of %s: %m", j->acctdir);
	if (j->lock[0] != '\0' && unlink(j->lock) == -1 && errno != ENOENT)
		log_warn("pop3: cannot remove %s: %m", j->lock);
}

/* update_done - loop: the QUIT reply (RFC 1939 section 6) and close */
static void
update_done(void *arg)
{
	struct update_job *j = arg;
	struct conn *c = conn_find(j->loop, j->conn);
	struct pop3d_session *s = c != NULL ? conn_data(c) : NULL;

	if (s != NULL) {
		log_info("pop3: peer=%s user=%s@%s quit, %zu message(s)"
		    " deleted%s", conn_peer_ip(c), s->user.name,
		    s->user.domain, j->ndeleted - j->failed,
		    j->failed > 0 ? ", some could not be" : "");
		pop3d_svc_log(s, s->login, j->failed > 0 ? "QUIT=EDELE" :
		    "QUIT=OK", "", j->ndeleted - j->failed, j->octets);
		if (j->failed > 0)
			pop3d_err(s, "Some deleted messages not removed");
		else
			pop3d_ok(s, POP3D_PRODUCT " closing session");
		conn_close(c);
	}
	maildir_list_free(&j->box);
	free(j->deleted);
	free(j);
}

/* pop3d_update - QUIT in TRANSACTION */
void
pop3d_update(struct pop3d_session *s)
{
	struct update_job *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		pop3d_err(s, "[SYS/TEMP] Out of memory, nothing deleted");
		conn_close(s->conn);
		return;
	}
	j->loop = conn_loop(s->conn);
	j->conn = conn_id(s->conn);
	j->maildir = s->opts->maildir;
	memcpy(j->acctdir, s->acctdir, sizeof(j->acctdir));
	memcpy(j->lock, s->lock, sizeof(j->lock));
	j->box = s->box;
	j->deleted = s->deleted;
	j->ndeleted = s->ndeleted;
	j->octets = s->deleted_octets;
	pop3d_enter_state(s, POP3D_S_QUIT);
	conn_pause(s->conn);
	if (work_submit(j->loop, update_work, update_done, j) == 0) {
		/* The job owns the snapshot and removes the lock. */
		s->lock[0] = '\0';
		memset(&s->box, 0, sizeof(s->box));
		s->deleted = NULL;
		return;
	}
	free(j);
	pop3d_err(s, "[SYS/TEMP] Server busy, nothing deleted");
	conn_close(s->conn);
}
