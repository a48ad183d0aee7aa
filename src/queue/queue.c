/*
 * queue.c - the on-disk spool in XMail's format.
 *
 * The states and the order of every write, rename and fsync are the
 * contract in docs/QUEUE.md; the transition names (T1 ...) below refer to
 * it.  Everything here blocks: worker threads and command-line tools only.
 */
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/compat.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "queue/queue.h"

#define QUEUE_HOST_MAX		64	/* hostname bytes kept in file names */
#define QUEUE_DIR_MODE		0700	/* spool directories */
#define QUEUE_FILE_MODE		0600	/* spool files and message.id */
#define QUEUE_NAME_TRIES	8	/* fresh names tried on EEXIST */
#define QUEUE_QUAR_TRIES	100	/* ".N" suffixes tried in quarantine */
#define QUEUE_MSGID_FILE_MAX	64	/* bytes accepted in message.id */
#define QUEUE_HDR_LINES		5	/* header lines before the marker */
#define QUEUE_IOV		11	/* iovecs of one spool file */
#define QUEUE_DATA_MARK		"<<MAIL-DATA>>"

/* Creating a directory and fsyncing its parents is one step (T1 step 1). */
static pthread_mutex_t	queue_dir_mu = PTHREAD_MUTEX_INITIALIZER;
/* flock is per open file description: threads also need a mutex. */
static pthread_mutex_t	queue_msgid_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t	queue_seq;		/* spool name sequence */
static pthread_once_t	queue_host_once = PTHREAD_ONCE_INIT;
static char		queue_host[QUEUE_HOST_MAX + 1];	/* sanitised */

/* queue_host_init - gethostname with bytes outside [A-Za-z0-9.-] as '_' */
static void
queue_host_init(void)
{
	char h[256];
	size_t i;
	char c;

	if (gethostname(h, sizeof(h)) == -1 || h[0] == '\0')
		(void)snprintf(h, sizeof(h), "localhost");
	h[sizeof(h) - 1] = '\0';
	for (i = 0; h[i] != '\0' && i < QUEUE_HOST_MAX; i++) {
		c = h[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-')
			queue_host[i] = c;
		else
			queue_host[i] = '_';
	}
	queue_host[i] = '\0';
}

/*
 * queue_name_make - a fresh XMail spool name
 * "<epoch-ms>.<tid hex>.<pid hex>.<seq hex>.<host>": the atomic sequence
 * makes it unique within the process, ms time and pid across restarts.
 */
static int
queue_name_make(char *out, size_t size)
{
	struct timespec ts;
	unsigned long long ms;
	uint64_t seq;
	int n;

	(void)pthread_once(&queue_host_once, queue_host_init);
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	ms = (unsigned long long)ts.tv_sec * 1000ULL +
	    (unsigned long long)ts.tv_nsec / 1000000ULL;
	seq = atomic_fetch_add(&queue_seq, 1) + 1;
	n = snprintf(out, size, "%llu.%lx.%lx.%" PRIx64 ".%s", ms,
	    (unsigned long)gettid(), (unsigned long)getpid(), seq, queue_host);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* queue_random - 32 random bits for the bucket choice */
static uint32_t
queue_random(void)
{
	static _Atomic uint64_t fallback;
	struct timespec ts;
	uint64_t z;
	uint32_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	/* XXX: no entropy yet; the bucket needs spread, not secrecy. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	z = atomic_fetch_add(&fallback, 0x9e3779b97f4a7c15ULL) +
	    (uint64_t)ts.tv_nsec;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;	/* splitmix64 */
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (uint32_t)(z ^ (z >> 31));
}

/* queue_component_ok - a single path component, not "." or ".." */
static bool
queue_component_ok(const char *s, size_t max)
{
	size_t n;

	n = strnlen(s, max + 1);
	return n > 0 && n <= max && memchr(s, '/', n) == NULL &&
	    strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* queue_dir_path - "<mailroot>/spool/<l1>/<l2>/<dir>" */
static int
queue_dir_path(char *out, size_t size, const char *mailroot, int l1, int l2,
    const char *dir)
{
	int n;

	if (size > 0)
		out[0] = '\0';
	if (l1 < 0 || l2 < 0 || !queue_component_ok(dir, NAME_MAX)) {
		errno = EINVAL;
		return -1;
	}
	n = snprintf(out, size, "%s/spool/%d/%d/%s", mailroot, l1, l2, dir);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			out[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* queue_path - "<mailroot>/spool/<l1>/<l2>/<dir>/<name>" */
int
queue_path(const char *mailroot, const struct queue_ref *r, const char *dir,
    char *out, size_t size)
{
	char d[PATH_MAX];

	if (!queue_component_ok(r->name, QUEUE_NAME_MAX)) {
		if (size > 0)
			out[0] = '\0';
		errno = EINVAL;
		return -1;
	}
	if (queue_dir_path(d, sizeof(d), mailroot, r->l1, r->l2, dir) == -1) {
		if (size > 0)
			out[0] = '\0';
		return -1;
	}
	return fs_path(out, size, d, r->name);
}

/*
 * queue_mkdir_durable - create `path` if missing, then fsync every
 * directory from its parent up to `mailroot`, so the new entries survive
 * a crash before anything in `path` is acknowledged.  Callers hold
 * queue_dir_mu: a concurrent caller then never sees a directory whose
 * entry is not yet durable.
 */
static int
queue_mkdir_durable(const char *mailroot, const char *path)
{
	size_t rootlen = strlen(mailroot);
	char p[PATH_MAX];
	char *slash;

	if (fs_is_dir(path))
		return 0;
	if (fs_mkdir_p(path, QUEUE_DIR_MODE) == -1)
		return -1;
	if (!str_copy(p, path, sizeof(p))) {
		errno = ENAMETOOLONG;
		return -1;
	}
	while ((slash = strrchr(p, '/')) != NULL &&
	    (size_t)(slash - p) >= rootlen) {
		*slash = '\0';
		if (p[0] != '\0' && fs_fsync_dir(p) == -1)
			return -1;
	}
	return 0;
}

/* queue_mkdirs - queue_mkdir_durable for up to two paths, under the lock */
static int
queue_mkdirs(const char *mailroot, const char *a, const char *b)
{
	int r;

	(void)pthread_mutex_lock(&queue_dir_mu);
	r = queue_mkdir_durable(mailroot, a);
	if (r == 0 && b != NULL)
		r = queue_mkdir_durable(mailroot, b);
	(void)pthread_mutex_unlock(&queue_dir_mu);
	return r;
}

/* queue_unlink_keep_errno - unlink without disturbing errno */
static void
queue_unlink_keep_errno(const char *path)
{
	int e = errno;

	(void)unlink(path);
	errno = e;
}

/* queue_line_addr - the address of a MAIL FROM / RCPT TO line */
int
queue_line_addr(const char *line, const char *prefix, char *out, size_t size)
{
	size_t plen = strlen(prefix);
	const char *p, *q;
	bool quoted = false;

	if (strncasecmp(line, prefix, plen) != 0 ||
	    (p = strchr(line + plen, '<')) == NULL)
		goto bad;
	for (q = ++p; *q != '\0'; q++) {
		if (*q == '\\' && q[1] != '\0')
			q++;
		else if (*q == '"')
			quoted = !quoted;
		else if (*q == '>' && !quoted)
			break;
	}
	if (*q != '>' || (size_t)(q - p) >= size)
		goto bad;
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/*
 * queue_line_ok - an envelope value must be exactly one spool line: no CR
 * or LF (a C string cannot hold a NUL, so that check is the terminator
 * itself) and no longer than QUEUE_LINE_MAX, or the file could gain lines
 * a filter would trust (spool injection).
 */
static bool
queue_line_ok(const char *what, const char *s)
{
	if (s == NULL) {
		log_error("queue: submit refused: %s missing", what);
		return false;
	}
	if (strpbrk(s, "\r\n") != NULL) {
		log_error("queue: submit refused: CR or LF in %s", what);
		return false;
	}
	if (strnlen(s, QUEUE_LINE_MAX + 1) > QUEUE_LINE_MAX) {
		log_error("queue: submit refused: %s longer than %d", what,
		    QUEUE_LINE_MAX);
		return false;
	}
	return true;
}

/* queue_env_ok - every line valid and readable by queue_file_load */
static bool
queue_env_ok(const struct queue_env *env)
{
	char addr[320];
	size_t i;

	if (!queue_line_ok("info", env->info) ||
	    !queue_line_ok("smtp_domain", env->smtp_domain) ||
	    !queue_line_ok("msgid", env->msgid) ||
	    !queue_line_ok("mail_from", env->mail_from))
		return false;
	if (queue_line_addr(env->mail_from, "MAIL FROM:", addr, sizeof(addr)) ==
	    -1) {
		log_error("queue: submit refused: bad MAIL FROM line");
		return false;
	}
	if (env->nrcpts == 0 || env->rcpts == NULL) {
		log_error("queue: submit refused: no recipients");
		return false;
	}
	for (i = 0; i < env->nrcpts; i++) {
		if (!queue_line_ok("rcpt", env->rcpts[i]))
			return false;
		if (queue_line_addr(env->rcpts[i], "RCPT TO:", addr,
		    sizeof(addr)) == -1) {
			log_error("queue: submit refused: bad RCPT TO line");
			return false;
		}
	}
	return true;
}

/*
 * queue_file_create - create `path` exclusively with the iovecs and fsync
 * it (T1 step 2).  On failure a file this call created is removed again;
 * EEXIST means the name was taken.
 */
static int
queue_file_create(const char *path, const struct iovec *tmpl, int n)
{
	struct iovec iov[QUEUE_IOV];
	int fd;

	memcpy(iov, tmpl, (size_t)n * sizeof(*iov));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    QUEUE_FILE_MODE);
	if (fd == -1)
		return -1;
	if (fs_writev_all(fd, iov, n) == -1 || fsync(fd) == -1) {
		int e = errno;

		(void)close(fd);
		(void)unlink(path);
		errno = e;
		return -1;
	}
	/* Linux closes the fd even when close(2) reports EINTR. */
	if (close(fd) == -1 && errno != EINTR) {
		queue_unlink_keep_errno(path);
		return -1;
	}
	return 0;
}

/* queue_iov_set - the spool file for env and recipient i, as iovecs */
static void
queue_iov_set(struct iovec *iov, const struct queue_env *env, size_t i,
    const char *data, size_t len)
{
	static const char crlf[] = "\r\n";
	static const char mark[] = "\r\n" QUEUE_DATA_MARK "\r\n";
	const char *parts[QUEUE_IOV - 1] = {
		env->info, crlf, env->smtp_domain, crlf, env->msgid, crlf,
		env->mail_from, crlf, env->rcpts[i], mark,
	};
	size_t k;

	for (k = 0; k < nitems(parts); k++) {
		iov[k].iov_base = (void *)(uintptr_t)parts[k];
		iov[k].iov_len = strlen(parts[k]);
	}
	iov[k].iov_base = (void *)(uintptr_t)data;
	iov[k].iov_len = len;
}

/*
 * queue_temp_write - write recipient i's file into tdir under a fresh
 * name (stored in ref->name), retrying if a name is taken.
 */
static int
queue_temp_write(const char *tdir, const struct queue_env *env, size_t i,
    const char *data, size_t len, struct queue_ref *ref)
{
	struct iovec iov[QUEUE_IOV];
	char path[PATH_MAX];
	int tries;

	queue_iov_set(iov, env, i, data, len);
	for (tries = 0; tries < QUEUE_NAME_TRIES; tries++) {
		if (queue_name_make(ref->name, sizeof(ref->name)) == -1 ||
		    fs_path(path, sizeof(path), tdir, ref->name) == -1)
			return -1;
		if (queue_file_create(path, iov, QUEUE_IOV) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/*
 * queue_undo - remove the files of a failed submit: refs[0..nmoved) are in
 * mess/, refs[nmoved..ncreated) still in temp/.  Keeps errno.
 */
static void
queue_undo(const char *tdir, const char *mdir, struct queue_ref *refs,
    size_t ncreated, size_t nmoved)
{
	char path[PATH_MAX];
	size_t i;
	int e = errno;

	for (i = 0; i < ncreated; i++) {
		if (fs_path(path, sizeof(path), i < nmoved ? mdir : tdir,
		    refs[i].name) == 0)
			(void)unlink(path);
	}
	/* Not needed for safety (the client got no 250), but cheap. */
	if (nmoved > 0 && fs_fsync_dir(mdir) == -1)
		log_debug("queue: fsync %s: %m", mdir);
	errno = e;
}

/* queue_commit - rename every temp file into mess/, fsync mess/ (T1 3-4) */
static int
queue_commit(const char *tdir, const char *mdir, struct queue_ref *refs,
    size_t n, size_t *nmoved)
{
	char from[PATH_MAX], to[PATH_MAX];

	for (*nmoved = 0; *nmoved < n; (*nmoved)++) {
		if (fs_path(from, sizeof(from), tdir, refs[*nmoved].name) ==
		    -1 || fs_path(to, sizeof(to), mdir, refs[*nmoved].name) ==
		    -1 || fs_rename_noreplace(from, to) == -1)
			return -1;
	}
	return fs_fsync_dir(mdir);
}

/* queue_submit - one durable spool file per recipient (T1) */
int
queue_submit(const char *mailroot, int split, const struct queue_env *env,
    const char *data, size_t len, struct queue_ref *refs)
{
	char tdir[PATH_MAX], mdir[PATH_MAX];
	size_t i, ncreated = 0, nmoved = 0;
	int l1, l2;

	if (split < 1 || (data == NULL && len > 0)) {
		log_error("queue: submit refused: bad arguments");
		errno = EINVAL;
		return -1;
	}
	if (!queue_env_ok(env)) {
		errno = EINVAL;
		return -1;
	}
	l1 = (int)(queue_random() % (uint32_t)split);
	l2 = (int)(queue_random() % (uint32_t)split);
	if (queue_dir_path(tdir, sizeof(tdir), mailroot, l1, l2, "temp") ==
	    -1 || queue_dir_path(mdir, sizeof(mdir), mailroot, l1, l2,
	    "mess") == -1 || queue_mkdirs(mailroot, tdir, mdir) == -1)
		goto fail;
	for (i = 0; i < env->nrcpts; i++) {
		refs[i].l1 = l1;
		refs[i].l2 = l2;
		if (queue_temp_write(tdir, env, i, data, len, &refs[i]) == -1)
			goto fail;
		ncreated++;
	}
	if (queue_commit(tdir, mdir, refs, ncreated, &nmoved) == -1)
		goto fail;
	log_debug("queue: submitted msgid=%s rcpts=%zu bucket=%d/%d",
	    env->msgid, env->nrcpts, l1, l2);
	return 0;
fail:
	log_error("queue: submit failed bucket=%d/%d: %m", l1, l2);
	queue_undo(tdir, mdir, refs, ncreated, nmoved);
	return -1;
}

/*
 * queue_msgid_parse - the number in message.id: optional blanks around
 * decimal digits; empty means 1 (XMail).  -1 (EINVAL/ERANGE) otherwise.
 */
static int
queue_msgid_parse(const char *s, size_t len, uint64_t *n)
{
	size_t i = 0;
	uint64_t v = 0;

	while (len > 0 && strchr(" \t\r\n", s[len - 1]) != NULL)
		len--;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == len) {
		*n = 1;
		return 0;
	}
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			errno = EINVAL;
			return -1;
		}
		if (CKD_MUL(&v, v, 10) ||
		    CKD_ADD(&v, v, (uint64_t)(s[i] - '0'))) {
			errno = ERANGE;
			return -1;
		}
	}
	*n = v;
	return 0;
}

/*
 * queue_msgid_locked - read N, store N + count, *id = N + 1; the caller
 * holds the locks
 */
static int
queue_msgid_locked(const char *path, uint64_t count, uint64_t *id)
{
	char out[32];
	struct buf b;
	uint64_t n;
	int len, r = -1;

	buf_init(&b, QUEUE_MSGID_FILE_MAX);
	if (fs_read_file(path, &b) == -1 && errno != ENOENT) {
		log_error("queue: %s: %m", path);
		goto out;
	}
	if (queue_msgid_parse(b.data, b.len, &n) == -1 ||
	    n > UINT64_MAX - count) {
		log_error("queue: %s: not a message number", path);
		errno = EINVAL;
		goto out;
	}
	len = snprintf(out, sizeof(out), "%" PRIu64 "\r\n", n + count);
	if (fs_write_atomic(path, out, (size_t)len, QUEUE_FILE_MODE) == -1) {
		log_error("queue: %s: %m", path);
		goto out;
	}
	*id = n + 1;
	r = 0;
out:
	buf_clear(&b);
	return r;
}

/* queue_msgid_reserve - count numbers under mutex and flock */
static int
queue_msgid_reserve(const char *mailroot, uint64_t count, uint64_t *id)
{
	char path[PATH_MAX], lpath[PATH_MAX];
	int fd, r = -1, e;

	if (fs_path(path, sizeof(path), mailroot, "message.id") == -1 ||
	    fs_path(lpath, sizeof(lpath), mailroot, "message.id.lock") == -1) {
		log_error("queue: message.id path: %m");
		return -1;
	}
	fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    QUEUE_FILE_MODE);
	if (fd == -1) {
		log_error("queue: %s: %m", lpath);
		goto out;
	}
	while ((r = flock(fd, LOCK_EX)) == -1 && errno == EINTR)
		;
	if (r == -1)
		log_error("queue: flock %s: %m", lpath);
	else
		r = queue_msgid_locked(path, count, id);
out:
	e = errno;
	if (fd != -1)
		(void)close(fd);	/* releases the flock */
	errno = e;
	return r;
}

/* queue_msgid_next - next message.id number */
int
queue_msgid_next(const char *mailroot, uint64_t *id)
{
	int r;

	(void)pthread_mutex_lock(&queue_msgid_mu);
	r = queue_msgid_reserve(mailroot, 1, id);
	(void)pthread_mutex_unlock(&queue_msgid_mu);
	return r;
}

/* Numbers reserved in message.id and not handed out yet. */
static struct {
	char		root[PATH_MAX];
	uint64_t	next, end;	/* next..end-1 are free */
} queue_msgid_cache;

/* queue_msgid_take - next number from a reserved block */
int
queue_msgid_take(const char *mailroot, uint64_t *id)
{
	uint64_t first;
	int r = 0;

	(void)pthread_mutex_lock(&queue_msgid_mu);
	if (strcmp(queue_msgid_cache.root, mailroot) != 0 ||
	    queue_msgid_cache.next >= queue_msgid_cache.end) {
		r = queue_msgid_reserve(mailroot, QUEUE_MSGID_BLOCK, &first);
		if (r == 0 && str_copy(queue_msgid_cache.root, mailroot,
		    sizeof(queue_msgid_cache.root))) {
			queue_msgid_cache.next = first;
			queue_msgid_cache.end = first + QUEUE_MSGID_BLOCK;
		} else if (r == 0) {
			queue_msgid_cache.root[0] = '\0';
			queue_msgid_cache.next = queue_msgid_cache.end = 0;
			*id = first;	/* path too long to cache: use one */
			goto out;
		}
	}
	if (r == 0)
		*id = queue_msgid_cache.next++;
out:
	(void)pthread_mutex_unlock(&queue_msgid_mu);
	return r;
}

/*
 * queue_line_cut - NUL-terminate the line at *p in place (LF or CRLF end,
 * at most QUEUE_LINE_MAX octets, no CR or NUL inside) and advance *p.
 */
static int
queue_line_cut(char **p, const char *end, char **line)
{
	size_t avail = (size_t)(end - *p), n;
	char *nl;

	if (avail > QUEUE_LINE_MAX + 2)
		avail = QUEUE_LINE_MAX + 2;
	nl = memchr(*p, '\n', avail);
	if (nl == NULL)
		return -1;
	n = (size_t)(nl - *p);
	if (n > 0 && nl[-1] == '\r')
		n--;
	if (n > QUEUE_LINE_MAX || memchr(*p, '\r', n) != NULL ||
	    memchr(*p, '\0', n) != NULL)
		return -1;
	(*p)[n] = '\0';
	*line = *p;
	*p = nl + 1;
	return 0;
}

/* queue_file_load - read and parse one spool file */
int
queue_file_load(const char *path, size_t max, struct queue_file *qf)
{
	char *line[QUEUE_HDR_LINES + 1], *p, *end;
	size_t i;
	int e;

	memset(qf, 0, sizeof(*qf));
	buf_init(&qf->raw, max);
	if (fs_read_file(path, &qf->raw) == -1) {
		e = errno;
		buf_clear(&qf->raw);
		errno = e;
		return -1;
	}
	p = qf->raw.data;
	end = p + qf->raw.len;
	for (i = 0; i < nitems(line); i++) {
		if (queue_line_cut(&p, end, &line[i]) == -1)
			goto bad;
	}
	if (strcmp(line[QUEUE_HDR_LINES], QUEUE_DATA_MARK) != 0)
		goto bad;
	qf->info = line[0];
	qf->smtp_domain = line[1];
	qf->msgid = line[2];
	qf->mail_from = line[3];
	qf->rcpt = line[4];
	if (queue_line_addr(qf->mail_from, "MAIL FROM:", qf->from,
	    sizeof(qf->from)) == -1 ||
	    queue_line_addr(qf->rcpt, "RCPT TO:", qf->to, sizeof(qf->to)) == -1)
		goto bad;
	qf->data = p;
	qf->datalen = (size_t)(end - p);
	return 0;
bad:
	queue_file_free(qf);
	errno = EINVAL;
	return -1;
}

/* queue_file_free - release a loaded spool file */
void
queue_file_free(struct queue_file *qf)
{
	buf_clear(&qf->raw);
	memset(qf, 0, sizeof(*qf));
}

/* queue_is_reg - the directory entry is a regular file (not a link) */
static bool
queue_is_reg(DIR *d, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_REG;
	return fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode);
}

/*
 * queue_scan_dir - run cb on the regular files of one bucket directory.
 * Returns 0, 1 when cb asked to stop, -1 on error.
 */
static int
queue_scan_dir(const char *mailroot, int l1, int l2, const char *dir,
    int (*cb)(const struct queue_ref *, void *), void *arg, long *seen)
{
	char path[PATH_MAX];
	struct queue_ref ref;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (queue_dir_path(path, sizeof(path), mailroot, l1, l2, dir) == -1)
		return -1;
	if ((d = opendir(path)) == NULL) {
		if (errno == ENOENT)
			return 0;
		log_warn("queue: scan %s: %m", path);
		return -1;
	}
	ref.l1 = l1;
	ref.l2 = l2;
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				log_warn("queue: scan %s: %m", path);
				r = -1;
			}
			break;
		}
		if (de->d_name[0] == '.' || !queue_is_reg(d, de))
			continue;
		if (!str_copy(ref.name, de->d_name, sizeof(ref.name))) {
			log_warn("queue: %s/%s: name too long, skipped", path,
			    de->d_name);
			continue;
		}
		(*seen)++;
		if (cb != NULL && cb(&ref, arg) == -1) {
			r = 1;
			break;
		}
	}
	(void)closedir(d);
	return r;
}

/* queue_scan - visit every file of <dir> in every bucket */
long
queue_scan(const char *mailroot, int split, const char *dir,
    int (*cb)(const struct queue_ref *r, void *arg), void *arg)
{
	long seen = 0;
	int l1, l2, r;

	if (split < 1 || !queue_component_ok(dir, NAME_MAX)) {
		errno = EINVAL;
		return -1;
	}
	for (l1 = 0; l1 < split; l1++) {
		for (l2 = 0; l2 < split; l2++) {
			r = queue_scan_dir(mailroot, l1, l2, dir, cb, arg,
			    &seen);
			if (r == -1)
				return -1;
			if (r == 1)
				return seen;
		}
	}
	return seen;
}

/* queue_move - rename within the bucket, fsync target then source dir */
int
queue_move(const char *mailroot, const struct queue_ref *r, const char *from,
    const char *to)
{
	char src[PATH_MAX], dst[PATH_MAX], sdir[PATH_MAX], tdir[PATH_MAX];

	if (queue_path(mailroot, r, from, src, sizeof(src)) == -1 ||
	    queue_path(mailroot, r, to, dst, sizeof(dst)) == -1 ||
	    queue_dir_path(sdir, sizeof(sdir), mailroot, r->l1, r->l2,
	    from) == -1 ||
	    queue_dir_path(tdir, sizeof(tdir), mailroot, r->l1, r->l2,
	    to) == -1) {
		log_warn("queue: move %s: bad path: %m", r->name);
		return -1;
	}
	if (queue_mkdirs(mailroot, tdir, NULL) == -1 ||
	    rename(src, dst) == -1) {
		log_warn("queue: move %s -> %s: %m", src, to);
		return -1;
	}
	if (fs_fsync_dir(tdir) == -1 || fs_fsync_dir(sdir) == -1) {
		log_warn("queue: move %s -> %s: fsync: %m", src, to);
		return -1;
	}
	return 0;
}

/* queue_remove - unlink a spool file, fsync its directory */
int
queue_remove(const char *mailroot, const struct queue_ref *r, const char *dir)
{
	char path[PATH_MAX], d[PATH_MAX];

	if (queue_path(mailroot, r, dir, path, sizeof(path)) == -1 ||
	    queue_dir_path(d, sizeof(d), mailroot, r->l1, r->l2, dir) == -1) {
		log_warn("queue: remove %s: bad path: %m", r->name);
		return -1;
	}
	if (unlink(path) == -1 || fs_fsync_dir(d) == -1) {
		log_warn("queue: remove %s: %m", path);
		return -1;
	}
	return 0;
}

/*
 * queue_quarantine_rename - rename src into qdir under its name, or
 * "<name>.<n>" when taken; the chosen path goes to dst.
 */
static int
queue_quarantine_rename(const char *src, const char *qdir, const char *name,
    char *dst, size_t size)
{
	char alt[QUEUE_NAME_MAX + 8];
	int i;

	for (i = 0; i < QUEUE_QUAR_TRIES; i++) {
		if (i == 0)
			(void)snprintf(alt, sizeof(alt), "%s", name);
		else
			(void)snprintf(alt, sizeof(alt), "%s.%d", name, i);
		if (fs_path(dst, size, qdir, alt) == -1)
			return -1;
		if (fs_rename_noreplace(src, dst) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/* queue_quarantine - move a corrupt file to spool/quarantine/ (T7) */
int
queue_quarantine(const char *mailroot, const struct queue_ref *r,
    const char *dir, const char *why)
{
	char src[PATH_MAX], sdir[PATH_MAX], qdir[PATH_MAX], dst[PATH_MAX];

	if (queue_path(mailroot, r, dir, src, sizeof(src)) == -1 ||
	    queue_dir_path(sdir, sizeof(sdir), mailroot, r->l1, r->l2,
	    dir) == -1 ||
	    fs_path(qdir, sizeof(qdir), mailroot, "spool/quarantine") == -1) {
		log_warn("queue: quarantine %s: bad path: %m", r->name);
		return -1;
	}
	if (queue_mkdirs(mailroot, qdir, NULL) == -1 ||
	    queue_quarantine_rename(src, qdir, r->name, dst,
	    sizeof(dst)) == -1 ||
	    fs_fsync_dir(qdir) == -1 || fs_fsync_dir(sdir) == -1) {
		log_warn("queue: quarantine %s failed: %m (reason: %s)", src,
		    why != NULL ? why : "unknown");
		return -1;
	}
	log_warn("queue: quarantined file=%s to=%s reason=%s", src, dst,
	    why != NULL ? why : "unknown");
	return 0;
}
