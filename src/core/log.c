/*
 * log.c - diagnostics (stderr, syslog) and XMail-style service logs.
 *
 * Two independent mutexes: one for diagnostics, one for service logs, so a
 * slow syslog never holds up the service logs.  The service-log code may log
 * a diagnostic, never the other way round.  Each line or record is built
 * first and written with one write(2), so lines from different threads never
 * interleave.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/compat.h"
#include "core/fsutil.h"
#include "core/log.h"

#define LOG_MSG_MAX		4096	/* diagnostic message, truncated */
#define LOG_IDENT_MAX		64	/* program name, truncated */
#define LOG_SVC_MAX		16	/* service logs kept open at once */
#define LOG_SVC_NAME_MAX	32	/* service name, including the NUL */
#define LOG_RECORD_MAX		65536	/* one service-log record */
#define LOG_DIR_MODE		0750
#define LOG_FILE_MODE		0640

/* One open service log. */
struct log_svc_file {
	char	 name[LOG_SVC_NAME_MAX];	/* service; "" = free slot */
	int	 fd;				/* O_APPEND descriptor */
	time_t	 opened;			/* clock value at open */
};

static const char *const log_level_name[] = {
	[LOG_LEVEL_DEBUG] = "DEBUG",
	[LOG_LEVEL_INFO] = "INFO",
	[LOG_LEVEL_WARN] = "WARN",
	[LOG_LEVEL_ERROR] = "ERROR",
};

static const int log_level_prio[] = {
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_WARN] = LOG_WARNING,
	[LOG_LEVEL_ERROR] = LOG_ERR,
};

/* Diagnostics; the defaults hold before log_init(). */
static pthread_mutex_t	 log_mtx = PTHREAD_MUTEX_INITIALIZER;
static char		 log_ident[LOG_IDENT_MAX] = "postroom";
static bool		 log_use_syslog;	/* syslog(LOG_MAIL) */
static bool		 log_to_stderr = true;	/* copy lines to stderr */
static atomic_bool	 log_debug_on;		/* emit log_debug */

static time_t	log_svc_time(void);

/* Service logs. */
static pthread_mutex_t		 svc_mtx = PTHREAD_MUTEX_INITIALIZER;
static char			 svc_dir[PATH_MAX];	/* "" = not set up */
static int			 svc_rotate_hours;	/* 0 = never */
static time_t			(*svc_clock)(void) = log_svc_time;
static struct log_svc_file	 svc_files[LOG_SVC_MAX];

static void	log_vmsg(enum log_level, bool, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

/* log_init - configure diagnostics */
void
log_init(const char *ident, bool use_syslog, bool to_stderr, bool debug)
{
	bool whole;

	pthread_mutex_lock(&log_mtx);
	if (log_use_syslog)
		closelog();
	/* A truncated ident is still a usable ident. */
	whole = str_copy(log_ident, ident ? ident : "postroom",
	    sizeof(log_ident));
	(void)whole;
	/*
	 * Without a syslog daemon every syslog(3) call tries to connect to
	 * /dev/log again: skip syslog rather than pay that per line.
	 */
	log_use_syslog = use_syslog && access("/dev/log", W_OK) == 0;
	log_to_stderr = to_stderr;
	atomic_store(&log_debug_on, debug);
	/* syslog keeps the ident pointer; it only changes under log_mtx. */
	if (log_use_syslog)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	pthread_mutex_unlock(&log_mtx);
}

/* log_debug_enabled - debug mode on */
bool
log_debug_enabled(void)
{
	return atomic_load(&log_debug_on);
}

/* log_sanitize - control characters (except TAB) become '?' */
static void
log_sanitize(char *s)
{
	unsigned char *p;

	for (p = (unsigned char *)s; *p != '\0'; p++) {
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			*p = '?';
	}
}

/* log_stderr_line - "YYYY-MM-DD HH:MM:SS ident[pid]: LEVEL: msg" */
static void
log_stderr_line(enum log_level lvl, const char *msg)
{
	char line[LOG_MSG_MAX + 128], ts[32];
	struct tm tm;
	time_t now;
	int n;

	now = time(NULL);
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		(void)snprintf(ts, sizeof(ts), "%lld", (long long)now);
	n = snprintf(line, sizeof(line), "%s %s[%ld]: %s: %s\n", ts, log_ident,
	    (long)getpid(), log_level_name[lvl], msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* Nowhere left to report a failure to write to stderr. */
	if (fs_write_all(STDERR_FILENO, line, (size_t)n) == -1)
		return;
}

/* log_vmsg - format, sanitize and emit one diagnostic; keeps errno */
static void
log_vmsg(enum log_level lvl, bool must_show, const char *fmt, va_list ap)
{
	char msg[LOG_MSG_MAX];
	int e = errno, n;
	bool debug;

	if ((unsigned)lvl > LOG_LEVEL_ERROR)
		lvl = LOG_LEVEL_ERROR;
	debug = atomic_load(&log_debug_on);
	if (lvl == LOG_LEVEL_DEBUG && !debug)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		(void)snprintf(msg, sizeof(msg), "(bad log format: %s)", fmt);
	else if ((size_t)n >= sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);
	log_sanitize(msg);

	pthread_mutex_lock(&log_mtx);
	if (log_to_stderr || debug || (must_show && !log_use_syslog))
		log_stderr_line(lvl, msg);
	if (log_use_syslog)
		syslog(LOG_MAIL | log_level_prio[lvl], "%s", msg);
	pthread_mutex_unlock(&log_mtx);
	errno = e;
}

/* log_msg - one diagnostic line */
void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, false, fmt, ap);
	va_end(ap);
}

/* fatal - log an error and exit(code) */
void
fatal(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, true, fmt, ap);
	va_end(ap);
	exit(code);
}

/* fatalx - log a broken invariant and abort() */
void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, true, fmt, ap);
	va_end(ap);
	abort();
}

/* log_svc_time - the default service-log clock */
static time_t
log_svc_time(void)
{
	return time(NULL);
}

/* log_svc_close_locked - close every service log; svc_mtx held */
static void
log_svc_close_locked(void)
{
	size_t i;

	for (i = 0; i < nitems(svc_files); i++) {
		if (svc_files[i].name[0] == '\0')
			continue;
		(void)close(svc_files[i].fd);
		svc_files[i].name[0] = '\0';
		svc_files[i].fd = -1;
	}
}

/* log_svc_init - set the directory and the rotation period */
int
log_svc_init(const char *logdir, int rotate_hours)
{
	if (logdir == NULL || *logdir == '\0' || rotate_hours < 0) {
		errno = EINVAL;
		return -1;
	}
	if (strlen(logdir) >= sizeof(svc_dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (fs_mkdir_p(logdir, LOG_DIR_MODE) == -1)
		return -1;
	pthread_mutex_lock(&svc_mtx);
	log_svc_close_locked();
	if (!str_copy(svc_dir, logdir, sizeof(svc_dir)))
		fatalx("%s: log directory length changed", __func__);
	svc_rotate_hours = rotate_hours;
	pthread_mutex_unlock(&svc_mtx);
	return 0;
}

/* log_svc_set_clock - replace the clock (tests); NULL restores time() */
void
log_svc_set_clock(time_t (*now)(void))
{
	pthread_mutex_lock(&svc_mtx);
	svc_clock = now != NULL ? now : log_svc_time;
	pthread_mutex_unlock(&svc_mtx);
}

/* log_svc_close - close every open service log */
void
log_svc_close(void)
{
	pthread_mutex_lock(&svc_mtx);
	log_svc_close_locked();
	pthread_mutex_unlock(&svc_mtx);
}

/* log_svc_name_ok - a service name is a safe file-name prefix */
static bool
log_svc_name_ok(const char *svc)
{
	size_t i;

	if (svc == NULL || svc[0] == '\0' || svc[0] == '.')
		return false;
	for (i = 0; svc[i] != '\0'; i++) {
		if (i + 1 >= LOG_SVC_NAME_MAX)
			return false;
		if (strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", svc[i]) == NULL)
			return false;
	}
	return true;
}

/* log_svc_record - quote, escape and TAB-join the fields, add LF */
static int
log_svc_record(struct buf *b, const char *const *fields, int nfields)
{
	const unsigned char *p;
	int i, r;

	for (i = 0; i < nfields; i++) {
		if ((i > 0 && buf_putc(b, '\t') == -1) ||
		    buf_putc(b, '"') == -1)
			return -1;
		p = (const unsigned char *)(fields[i] ? fields[i] : "");
		for (; *p != '\0'; p++) {
			if (*p == '"')
				r = buf_append(b, "\\\"", 2);
			else if (*p < 0x20 || *p == 0x7f)
				r = buf_putc(b, '?');
			else
				r = buf_putc(b, *p);
			if (r == -1)
				return -1;
		}
		if (buf_putc(b, '"') == -1)
			return -1;
	}
	return buf_putc(b, '\n');
}

/* log_svc_open - open <dir>/<svc>-YYYYMMDDHHMM for appending; svc_mtx held */
static int
log_svc_open(const char *svc, time_t now)
{
	char path[PATH_MAX], stamp[16];
	struct tm tm;
	int n;

	if (localtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y%m%d%H%M", &tm) == 0) {
		errno = EINVAL;
		return -1;
	}
	n = snprintf(path, sizeof(path), "%s/%s-%s", svc_dir, svc, stamp);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW | O_NOCTTY, LOG_FILE_MODE);
}

/*
 * log_svc_fd - the descriptor for svc, opening or rotating as needed;
 * svc_mtx held.  *oneshot is set when the table is full and the caller must
 * close the descriptor after the write.
 */
static int
log_svc_fd(const char *svc, bool *oneshot)
{
	struct log_svc_file *f = NULL, *slot = NULL;
	time_t now = svc_clock();
	size_t i;
	int fd;

	*oneshot = false;
	for (i = 0; i < nitems(svc_files); i++) {
		if (svc_files[i].name[0] == '\0') {
			if (slot == NULL)
				slot = &svc_files[i];
		} else if (strcmp(svc_files[i].name, svc) == 0) {
			f = &svc_files[i];
		}
	}
	if (f != NULL) {
		if (svc_rotate_hours == 0 ||
		    now < f->opened + (time_t)svc_rotate_hours * 3600)
			return f->fd;
		(void)close(f->fd);
		f->name[0] = '\0';
		slot = f;
	}
	fd = log_svc_open(svc, now);
	if (fd == -1)
		return -1;
	if (slot == NULL) {
		*oneshot = true;
		return fd;
	}
	if (!str_copy(slot->name, svc, sizeof(slot->name)))
		fatalx("%s: service name not checked", __func__);
	slot->fd = fd;
	slot->opened = now;
	return fd;
}

/* log_svc_write - append the record to the service's file */
static int
log_svc_write(const char *svc, const struct buf *rec)
{
	bool oneshot;
	int fd, r = -1, e;

	pthread_mutex_lock(&svc_mtx);
	if (svc_dir[0] == '\0') {
		errno = EINVAL;
	} else if ((fd = log_svc_fd(svc, &oneshot)) != -1) {
		r = fs_write_all(fd, rec->data, rec->len);
		if (oneshot) {
			e = errno;
			(void)close(fd);
			errno = e;
		}
	}
	pthread_mutex_unlock(&svc_mtx);
	return r;
}

/* log_svc - append one quoted TAB record to a service log */
int
log_svc(const char *svc, const char *const *fields, int nfields)
{
	struct buf rec;
	int r, e;

	if (!log_svc_name_ok(svc) || nfields < 0 ||
	    (fields == NULL && nfields > 0)) {
		errno = EINVAL;
		r = -1;
	} else {
		buf_init(&rec, LOG_RECORD_MAX);
		r = log_svc_record(&rec, fields, nfields);
		if (r == 0)
			r = log_svc_write(svc, &rec);
		buf_clear(&rec);
	}
	if (r == -1) {
		e = errno;
		log_warn("service log %s: cannot write record: %s",
		    svc ? svc : "(null)", strerror(e));
		errno = e;
	}
	return r;
}
