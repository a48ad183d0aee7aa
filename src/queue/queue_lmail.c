/*
 * queue_lmail.c - the local mailer: spool/local files into the spool.
 *
 * A local-mailer file is (manual "XMAIL LOCAL MAILER"):
 *
 *	mail from:<sender>		exactly one, first
 *	rcpt to:<recipient>		one or more
 *	<empty line>
 *	<message>
 *
 * The keywords match case-insensitively and blanks may follow the colon
 * and the closing '>'; envelope lines may end in LF or CRLF (XMail's tools
 * write CRLF, scripts often LF).  Every address is checked with
 * addr_parse_path (SMTPUTF8 allowed: local programs are trusted to send
 * UTF-8); a source route is dropped (RFC 5321 4.1.1.3 lets a relay ignore
 * it).  The message is copied with every line ending made CRLF (bare LF
 * and bare CR alike), as the spool requires, and a missing final line end
 * is added.  Dot-stuffing does not apply: the file is not an SMTP stream.
 *
 * Crash safety (docs/QUEUE.md T9): the file is unlinked, and spool/local
 * fsynced, only after queue_submit made every spool file durable.  A crash
 * in between submits the file again (a duplicate, never a loss).
 *
 * Files are opened with O_NOFOLLOW relative to the directory, so a link
 * placed in spool/local by a local user never makes the server mail out a
 * file it can read and the user cannot.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "core/addr.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/rfcdate.h"
#include "queue/queue.h"
#include "queue/queue_lmail.h"

#define LMAIL_DIR		"spool/local"
#define LMAIL_QDIR		"spool/quarantine"
#define LMAIL_QDIR_MODE		0700
#define LMAIL_QUAR_TRIES	100	/* ".N" suffixes tried */
#define LMAIL_HDR_MAX		4096	/* room for Received: */
#define LMAIL_READ_CHUNK	65536
#define LMAIL_MAIL_KW		"mail from:"
#define LMAIL_RCPT_KW		"rcpt to:"
#define LMAIL_INFO		"[127.0.0.1]:0;[127.0.0.1]:0;"
#define LMAIL_SERVER		"[postroom LMAIL Server]"

/* Two workers must not submit the same file twice: one run at a time. */
static pthread_mutex_t	lmail_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool	lmail_log;	/* -Ll */

/* A file found in spool/local. */
struct lmail_ent {
	char		*name;		/* file name (malloc'ed) */
	struct timespec	 mtime;		/* processing order */
};

/* The envelope of one local-mailer file. */
struct lmail_env {
	char		 from[ADDR_PATH_MAX + 1];	/* "" for <> */
	char		 first[ADDR_PATH_MAX + 1];	/* 1st rcpt */
	struct buf	 lines;		/* "RCPT TO:<x>\0" ... */
	size_t		 nrcpts;	/* recipients */
	size_t		 body;		/* offset of the message */
};

/* State of one queue_lmail_run call. */
struct lmail_run {
	const char	*root;		/* MailRoot */
	const char	*domain;	/* SMTP domain */
	int		 split;		/* spool split */
	int		 dfd;		/* spool/local, O_DIRECTORY */
	char		 dir[PATH_MAX];	/* spool/local path */
	struct queue_ref	*refs;	/* spooled files so far */
	size_t		 nrefs;
};

/* Outcome of one file. */
enum lmail_res {
	LMAIL_DONE,		/* spooled (or quarantined) and removed */
	LMAIL_SKIP,		/* gone, not a regular file, unreadable */
	LMAIL_FAIL,		/* not spooled: stop the run */
	LMAIL_DONE_FAIL,	/* spooled, not removed: count, then stop */
};

/* lmail_ent_cmp - oldest mtime first, then by name (qsort) */
static int
lmail_ent_cmp(const void *a, const void *b)
{
	const struct lmail_ent *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* lmail_ents_free - release a directory listing */
static void
lmail_ents_free(struct lmail_ent *ents, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
}

/* lmail_ent_add - append one entry, growing the array */
static int
lmail_ent_add(struct lmail_ent **ents, size_t *n, size_t *cap,
    const char *name, const struct stat *st)
{
	struct lmail_ent *p;
	size_t ncap;

	if (*n == *cap) {
		ncap = *cap == 0 ? 64 : *cap * 2;
		if (ncap < *cap ||
		    (p = realloc(*ents, ncap * sizeof(**ents))) == NULL)
			return -1;
		*ents = p;
		*cap = ncap;
	}
	if (((*ents)[*n].name = strdup(name)) == NULL)
		return -1;
	(*ents)[*n].mtime = st->st_mtim;
	(*n)++;
	return 0;
}

/*
 * lmail_list - the regular files of spool/local, dotfiles excepted (a
 * writer's temporary), sorted oldest first.  0 or -1 (logged).
 */
static int
lmail_list(struct lmail_run *run, struct lmail_ent **ents, size_t *n)
{
	struct dirent *de;
	struct stat st;
	size_t cap = 0;
	DIR *d;
	int fd;

	*ents = NULL;
	*n = 0;
	if ((fd = dup(run->dfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			(void)close(fd);
		log_warn("lmail: scan %s: %m", run->dir);
		return -1;
	}
	rewinddir(d);
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] == '.' ||
		    fstatat(run->dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1 || !S_ISREG(st.st_mode))
			continue;
		if (lmail_ent_add(ents, n, &cap, de->d_name, &st) == -1)
			break;
	}
	if (errno != 0) {
		log_warn("lmail: scan %s: %m", run->dir);
		(void)closedir(d);
		lmail_ents_free(*ents, *n);
		*ents = NULL;
		*n = 0;
		return -1;
	}
	(void)closedir(d);
	if (*n > 1)
		qsort(*ents, *n, sizeof(**ents), lmail_ent_cmp);
	return 0;
}

/*
 * lmail_read - read spool/local/<name> into b without following a link
 * or blocking on a FIFO.  0, or -1 with errno (EFBIG over b->max).
 */
static int
lmail_read(int dfd, const char *name, struct buf *b)
{
	char chunk[LMAIL_READ_CHUNK];
	struct stat st;
	ssize_t r;
	int fd, e;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK | O_NOCTTY);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto fail;
		if (r == 0)
			break;
		if (buf_append(b, chunk, (size_t)r) == -1) {
			errno = b->len + (size_t)r > b->max ? EFBIG : ENOMEM;
			goto fail;
		}
	}
	(void)close(fd);
	return 0;
fail:
	e = errno;
	(void)close(fd);
	errno = e;
	return -1;
}

/*
 * lmail_quar_rename - rename spool/local/<name> into qdir under its name,
 * or "<name>.<n>" when taken (never replacing a file).  0 or -1.
 */
static int
lmail_quar_rename(int dfd, int qfd, const char *name)
{
	char alt[NAME_MAX + 1];
	int i, n;

	for (i = 0; i < LMAIL_QUAR_TRIES; i++) {
		n = i == 0 ? snprintf(alt, sizeof(alt), "%s", name) :
		    snprintf(alt, sizeof(alt), "%.*s.%d", NAME_MAX - 8, name,
		    i);
		if (n < 0 || (size_t)n >= sizeof(alt)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (renameat2(dfd, name, qfd, alt, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno == EINVAL || errno == ENOSYS) {
			/* XXX: no RENAME_NOREPLACE here; check, then rename. */
			if (faccessat(qfd, alt, F_OK, AT_SYMLINK_NOFOLLOW) ==
			    0)
				continue;
			return renameat(dfd, name, qfd, alt);
		}
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

/*
 * lmail_quarantine - move a malformed file to MailRoot/spool/quarantine/
 * (created if missing), fsync both directories and log why (T7).  A file
 * that cannot be moved stays and is tried again on the next run.
 */
static void
lmail_quarantine(struct lmail_run *run, const char *name, const char *why)
{
	char qdir[PATH_MAX];
	int qfd = -1;

	if (fs_path(qdir, sizeof(qdir), run->root, LMAIL_QDIR) == -1 ||
	    fs_mkdir_p(qdir, LMAIL_QDIR_MODE) == -1 ||
	    fs_fsync_parent(qdir) == -1 ||
	    (qfd = open(qdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    lmail_quar_rename(run->dfd, qfd, name) == -1 ||
	    fsync(qfd) == -1 || fsync(run->dfd) == -1) {
		log_error("lmail: cannot quarantine %s/%s (%s): %m", run->dir,
		    name, why);
	} else {
		log_warn("lmail: quarantined file=%s/%s to=%s reason=%s",
		    run->dir, name, qdir, why);
	}
	if (qfd != -1)
		(void)close(qfd);
}

/*
 * lmail_line - the envelope line at data[*off]: ends in LF (a CR before
 * it is dropped), at most QUEUE_LINE_MAX octets.  Copies it NUL-terminated
 * into out and advances *off.  Returns 0, -1 when no line end follows
 * (*why set), or -1 for a control character.
 */
static int
lmail_line(const char *data, size_t len, size_t *off, char *out,
    const char **why)
{
	const char *p = data + *off, *nl;
	size_t avail = len - *off, n, i;

	if (avail > QUEUE_LINE_MAX + 2)
		avail = QUEUE_LINE_MAX + 2;
	if ((nl = memchr(p, '\n', avail)) == NULL) {
		*why = avail == QUEUE_LINE_MAX + 2 ? "envelope line too long" :
		    "no empty line after the envelope";
		return -1;
	}
	n = (size_t)(nl - p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n > QUEUE_LINE_MAX) {
		*why = "envelope line too long";
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (((unsigned char)p[i] < 0x20 && p[i] != '\t') ||
		    p[i] == 0x7f) {
			*why = "control character in envelope";
			return -1;
		}
	}
	memcpy(out, p, n);
	out[n] = '\0';
	*off += (size_t)(nl - p) + 1;
	return 0;
}

/*
 * lmail_addr - parse "<keyword><blanks><path><blanks>" into out as
 * "local@domain" ("" for the null path, only if allow_null).  Returns 0,
 * or -1 with *why set.
 */
static int
lmail_addr(const char *line, const char *kw, bool allow_null, char *out,
    size_t size, const char **why)
{
	struct addr_path p;
	const char *s = line + strlen(kw), *end;
	enum addr_err e;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '<') {
		*why = "bad envelope line";
		return -1;
	}
	if ((e = addr_parse_path(s, allow_null, true, &p, &end)) != ADDR_OK) {
		*why = e == ADDR_ERR_NULL ? "null recipient" :
		    "bad envelope address";
		return -1;
	}
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end != '\0') {
		*why = "text after envelope address";
		return -1;
	}
	if (addr_format(&p, out, size) == -1) {
		*why = "bad envelope address";
		return -1;
	}
	return 0;
}

/* lmail_rcpt_add - add "RCPT TO:<addr>" to the envelope; 0 or -1 */
static int
lmail_rcpt_add(struct lmail_env *env, const char *addr)
{
	/* addr came from addr_format into a buffer of the same size. */
	if (env->nrcpts == 0)
		(void)snprintf(env->first, sizeof(env->first), "%s", addr);
	if (buf_printf(&env->lines, "RCPT TO:<%s>", addr) == -1 ||
	    buf_putc(&env->lines, '\0') == -1)
		return -1;
	env->nrcpts++;
	return 0;
}

/*
 * lmail_parse - the envelope of a local-mailer file: one "mail from",
 * one or more "rcpt to", an empty line.  Returns 0 with env filled (the
 * caller clears env->lines), -1 with *why set for a malformed file, or
 * -2 when memory ran out.
 */
static int
lmail_parse(const char *data, size_t len, struct lmail_env *env,
    const char **why)
{
	char line[QUEUE_LINE_MAX + 1], addr[ADDR_PATH_MAX + 1];
	size_t off = 0;

	if (len == 0) {
		*why = "empty file";
		return -1;
	}
	if (lmail_line(data, len, &off, line, why) == -1)
		return -1;
	if (strncasecmp(line, LMAIL_MAIL_KW, strlen(LMAIL_MAIL_KW)) != 0) {
		*why = "no mail from line";
		return -1;
	}
	if (lmail_addr(line, LMAIL_MAIL_KW, true, env->from,
	    sizeof(env->from), why) == -1)
		return -1;
	for (;;) {
		if (lmail_line(data, len, &off, line, why) == -1)
			return -1;
		if (line[0] == '\0')
			break;
		if (strncasecmp(line, LMAIL_RCPT_KW, strlen(LMAIL_RCPT_KW))
		    != 0) {
			*why = strncasecmp(line, LMAIL_MAIL_KW,
			    strlen(LMAIL_MAIL_KW)) == 0 ?
			    "more than one mail from line" :
			    "bad envelope line";
			return -1;
		}
		if (lmail_addr(line, LMAIL_RCPT_KW, false, addr,
		    sizeof(addr), why) == -1)
			return -1;
		if (lmail_rcpt_add(env, addr) == -1)
			return -2;
	}
	if (env->nrcpts == 0) {
		*why = "no rcpt to line";
		return -1;
	}
	env->body = off;
	return 0;
}

/*
 * lmail_crlf - append the message with every line end made CRLF: CRLF
 * stays, a bare LF or a bare CR becomes CRLF, and a last line without an
 * end gets one.  0 or -1 (buffer limit).
 */
static int
lmail_crlf(struct buf *out, const char *p, size_t n)
{
	size_t i = 0, run;

	while (i < n) {
		for (run = i; run < n && p[run] != '\r' && p[run] != '\n';
		    run++)
			;
		if (buf_append(out, p + i, run - i) == -1)
			return -1;
		if (run == n)
			return buf_append(out, "\r\n", 2);
		if (p[run] == '\r' && run + 1 < n && p[run + 1] == '\n')
			run++;
		if (buf_append(out, "\r\n", 2) == -1)
			return -1;
		i = run + 1;
	}
	return 0;
}

/* lmail_refs_add - keep the refs of a spooled file for the caller */
static int
lmail_refs_add(struct lmail_run *run, const struct queue_ref *refs,
    size_t n)
{
	struct queue_ref *p;
	size_t total;

	if (CKD_ADD(&total, run->nrefs, n) ||
	    (p = reallocarray(run->refs, total, sizeof(*p))) == NULL)
		return -1;
	memcpy(p + run->nrefs, refs, n * sizeof(*p));
	run->refs = p;
	run->nrefs = total;
	return 0;
}

/* queue_lmail_set_log - -Ll */
void
queue_lmail_set_log(bool on)
{
	atomic_store(&lmail_log, on);
}

/*
 * lmail_svc_log - one -Ll record per recipient: domain, local file, message
 * id, time, sender, recipient, size
 */
static void
lmail_svc_log(const struct lmail_run *run, const char *name,
    const char *msgid, const struct lmail_env *env, size_t size)
{
	char when[32], sizes[24], rcpt[ADDR_PATH_MAX + 1];
	const char *f[7], *p;
	size_t n;
	time_t now = time(NULL);
	struct tm tm;
	size_t i;

	if (!atomic_load(&lmail_log))
		return;
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(sizes, sizeof(sizes), "%zu", size);
	for (i = 0, p = env->lines.data; i < env->nrcpts; i++) {
		f[0] = run->domain;
		f[1] = name;
		f[2] = msgid;
		f[3] = when;
		f[4] = env->from;
		/* "RCPT TO:<addr>" -> "addr" */
		n = strlen(p) - strlen("RCPT TO:<>");
		if (n >= sizeof(rcpt))
			n = 0;
		memcpy(rcpt, p + strlen("RCPT TO:<"), n);
		rcpt[n] = '\0';
		f[5] = rcpt;
		f[6] = sizes;
		(void)log_svc("lmail", f, 7);
		p += strlen(p) + 1;
	}
}

/*
 * lmail_submit - spool a parsed file: message id, Received: header
 * (XMAIL-FACTS 8, RFC 5321 4.4), one spool file per recipient.  The refs
 * are appended to run.  0 or -1 (logged).
 */
static int
lmail_submit(struct lmail_run *run, const char *name, const struct buf *raw,
    struct lmail_env *env)
{
	char msgid[32], info[sizeof(LMAIL_INFO) + RFCDATE_MAX];
	char mail_from[ADDR_PATH_MAX + 16], date[RFCDATE_MAX];
	const char **rcpts = NULL;
	struct queue_ref *refs = NULL;
	struct queue_env qe;
	struct buf data;
	const char *p;
	uint64_t id;
	size_t i;
	int r = -1;

	buf_init(&data, raw->len * 2 + LMAIL_HDR_MAX);
	rcpts = calloc(env->nrcpts, sizeof(*rcpts));
	refs = calloc(env->nrcpts, sizeof(*refs));
	if (rcpts == NULL || refs == NULL) {
		log_error("lmail: %s: out of memory", name);
		goto out;
	}
	if (queue_msgid_take(run->root, &id) == -1)
		goto out;
	(void)snprintf(msgid, sizeof(msgid), "L%llX", (unsigned long long)id);
	(void)rfcdate(time(NULL), date, sizeof(date));
	(void)snprintf(info, sizeof(info), LMAIL_INFO "%s", date);
	(void)snprintf(mail_from, sizeof(mail_from), "MAIL FROM:<%s>",
	    env->from);
	if (buf_printf(&data, "Received: from /spool/local\r\n"
	    "\tby %s with " LMAIL_SERVER "\r\n"
	    "\tid <%s> for <%s> from <%s>;\r\n\t%s\r\n", run->domain, msgid,
	    env->first, env->from, date) == -1 ||
	    lmail_crlf(&data, raw->data + env->body, raw->len - env->body) ==
	    -1) {
		log_error("lmail: %s: out of memory", name);
		goto out;
	}
	for (i = 0, p = env->lines.data; i < env->nrcpts; i++) {
		rcpts[i] = p;
		p += strlen(p) + 1;
	}
	qe = (struct queue_env){ .info = info, .smtp_domain = run->domain,
	    .msgid = msgid, .mail_from = mail_from, .rcpts = rcpts,
	    .nrcpts = env->nrcpts };
	if (queue_submit(run->root, run->split, &qe, data.data, data.len,
	    refs) == -1)
		goto out;
	log_info("lmail: spooled file=%s id=%s from=<%s> rcpts=%zu size=%zu",
	    name, msgid, env->from, env->nrcpts, data.len);
	lmail_svc_log(run, name, msgid, env, data.len);
	if (lmail_refs_add(run, refs, env->nrcpts) == -1)
		log_error("lmail: %s: out of memory; id=%s waits in the spool"
		    " for recovery", name, msgid);
	r = 0;
out:
	free(rcpts);
	free(refs);
	buf_clear(&data);
	return r;
}

/*
 * lmail_one - process spool/local/<name>: quarantine it if malformed, else
 * spool it, then unlink it and fsync spool/local (T9).
 */
static enum lmail_res
lmail_one(struct lmail_run *run, const char *name)
{
	struct lmail_env env;
	const char *why = NULL;
	enum lmail_res res = LMAIL_DONE;
	struct buf raw;

	memset(&env, 0, sizeof(env));
	/* addr_format may quote a local part: room for twice the file. */
	buf_init(&env.lines, QUEUE_LMAIL_FILE_MAX * 2);
	buf_init(&raw, QUEUE_LMAIL_FILE_MAX);
	if (lmail_read(run->dfd, name, &raw) == -1) {
		if (errno == EFBIG) {
			lmail_quarantine(run, name, "file too large");
		} else {
			if (errno != ENOENT)
				log_warn("lmail: %s/%s: %m; skipped",
				    run->dir, name);
			res = LMAIL_SKIP;
		}
		goto out;
	}
	switch (lmail_parse(raw.data, raw.len, &env, &why)) {
	case 0:
		break;
	case -1:
		lmail_quarantine(run, name, why);
		goto out;
	default:
		log_error("lmail: %s/%s: out of memory", run->dir, name);
		res = LMAIL_FAIL;
		goto out;
	}
	if (lmail_submit(run, name, &raw, &env) == -1) {
		log_error("lmail: %s/%s not spooled; kept for the next run",
		    run->dir, name);
		res = LMAIL_FAIL;
		goto out;
	}
	if (unlinkat(run->dfd, name, 0) == -1 || fsync(run->dfd) == -1) {
		/* Spooled but still here: the next run would duplicate. */
		log_error("lmail: %s/%s spooled but not removed: %m",
		    run->dir, name);
		res = LMAIL_DONE_FAIL;
	}
out:
	buf_clear(&raw);
	buf_clear(&env.lines);
	return res;
}

/* lmail_domain - SmtpServerDomain, else RootDomain, else "localhost" */
static const char *
lmail_domain(struct config *cfg)
{
	const char *d = config_var(cfg, "SmtpServerDomain");

	if (d == NULL || *d == '\0')
		d = config_var(cfg, "RootDomain");
	if (d == NULL || *d == '\0')
		d = "localhost";
	return d;
}

/*
 * lmail_run_files - process the listed files in order, at most max (0:
 * all).  Returns the number processed; stops at the first failure.
 */
static long
lmail_run_files(struct lmail_run *run, const struct lmail_ent *ents,
    size_t n, size_t max, bool *failed)
{
	long done = 0;
	size_t i;

	*failed = false;
	for (i = 0; i < n && (max == 0 || i < max); i++) {
		switch (lmail_one(run, ents[i].name)) {
		case LMAIL_DONE:
			done++;
			break;
		case LMAIL_SKIP:
			break;
		case LMAIL_DONE_FAIL:
			done++;
			*failed = true;
			return done;
		case LMAIL_FAIL:
			*failed = true;
			return done;
		default:
			fatalx("%s: bad result", __func__);
		}
	}
	return done;
}

/*
 * queue_lmail_run - process spool/local.  max_files 0 means no limit.
 * When a file cannot be spooled (disk full, spool unusable) the run stops
 * and that file stays for the next run; files already spooled are still
 * returned, so -1 means nothing was processed because of an error.
 */
long
queue_lmail_run(struct config *cfg, int split, size_t max_files,
    struct queue_ref **refs, size_t *nrefs)
{
	struct lmail_run run;
	struct lmail_ent *ents = NULL;
	size_t n = 0;
	bool failed = false;
	long done = -1;

	*refs = NULL;
	*nrefs = 0;
	memset(&run, 0, sizeof(run));
	run.root = config_mailroot(cfg);
	run.domain = lmail_domain(cfg);
	run.split = split;
	if (fs_path(run.dir, sizeof(run.dir), run.root, LMAIL_DIR) == -1) {
		log_error("lmail: %s/" LMAIL_DIR ": %m", run.root);
		return -1;
	}
	(void)pthread_mutex_lock(&lmail_mu);
	run.dfd = open(run.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (run.dfd == -1) {
		if (errno == ENOENT)
			done = 0;
		else
			log_warn("lmail: %s: %m", run.dir);
		goto out;
	}
	if (lmail_list(&run, &ents, &n) == 0)
		done = lmail_run_files(&run, ents, n, max_files, &failed);
	lmail_ents_free(ents, n);
	(void)close(run.dfd);
	if (failed && done == 0)
		done = -1;
out:
	(void)pthread_mutex_unlock(&lmail_mu);
	if (done < 0) {
		free(run.refs);
		return -1;
	}
	*refs = run.refs;
	*nrefs = run.nrefs;
	return done;
}
