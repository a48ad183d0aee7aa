/*
 * maildir.c - durable delivery into an account's Maildir or mailbox.
 *
 * Order of operations (docs/QUEUE.md T2): write a temporary file, fsync
 * it, rename it (never replacing) to its final name, fsync the directory.
 * Only after that may the caller remove the spool file, so a crash gives at
 * most a duplicate, never a loss.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/compat.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "maildir/maildir.h"

#define MAILDIR_DIR_MODE	0700	/* created directories */
#define MAILDIR_FILE_MODE	0600	/* stored messages */
#define MAILDIR_HOST_MAX	128	/* escaped hostname bytes in names */
#define MAILDIR_TRIES		8	/* fresh names tried on EEXIST */
#define MAILDIR_CHUNK		16384	/* staging buffer for LF conversion */
#define MAILDIR_PREFIX_MAX	2048	/* Return-Path + Delivered-To lines */

/* Creating a directory and fsyncing its parent is one step. */
static pthread_mutex_t	maildir_dir_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t	maildir_seq;		/* Q<seq> of the names */
static pthread_once_t	maildir_host_once = PTHREAD_ONCE_INIT;
static char		maildir_host[MAILDIR_HOST_MAX + 1];

/*
 * maildir_host_init - gethostname with '/' as "\057" and ':' as "\072",
 * as Dovecot escapes them, cut before an escape that would not fit.
 */
static void
maildir_host_init(void)
{
	char h[256];
	size_t i, o = 0;

	if (gethostname(h, sizeof(h)) == -1 || h[0] == '\0')
		(void)snprintf(h, sizeof(h), "localhost");
	h[sizeof(h) - 1] = '\0';
	for (i = 0; h[i] != '\0'; i++) {
		if (h[i] == '/' || h[i] == ':') {
			if (o + 4 > MAILDIR_HOST_MAX)
				break;
			memcpy(maildir_host + o, h[i] == '/' ? "\\057" :
			    "\\072", 4);
			o += 4;
		} else {
			if (o + 1 > MAILDIR_HOST_MAX)
				break;
			maildir_host[o++] = h[i];
		}
	}
	maildir_host[o] = '\0';
}

/* maildir_name_make - "<secs>.M<usecs>P<pid>Q<seq>.<host>,S=<size>" */
static int
maildir_name_make(char *out, size_t size, size_t msgsize)
{
	struct timeval tv;
	uint64_t seq;
	int n;

	(void)pthread_once(&maildir_host_once, maildir_host_init);
	(void)gettimeofday(&tv, NULL);
	seq = atomic_fetch_add(&maildir_seq, 1) + 1;
	n = snprintf(out, size, "%lld.M%ldP%ldQ%" PRIu64 ".%s,S=%zu",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(), seq,
	    maildir_host, msgsize);
	if (n < 0 || (size_t)n >= size || (size_t)n > MAILDIR_NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * maildir_has_return_path - a "Return-Path:" field (any case) starts a
 * line of the header section, which ends at the first empty line
 * (RFC 5322 section 2.1).
 */
static bool
maildir_has_return_path(const char *data, size_t len)
{
	static const char field[] = "Return-Path:";
	const char *p = data, *end = data + len, *nl;

	while (p < end) {
		if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
			return false;
		if ((size_t)(end - p) >= sizeof(field) - 1 &&
		    strncasecmp(p, field, sizeof(field) - 1) == 0)
			return true;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return false;
		p = nl + 1;
	}
	return false;
}

/* maildir_crlf_count - CRLF pairs in data: each loses its CR on disk */
static size_t
maildir_crlf_count(const char *data, size_t len)
{
	const char *p = data, *end = data + len;
	size_t n = 0;

	while (p < end && (p = memchr(p, '\r', (size_t)(end - p))) != NULL) {
		if (p + 1 < end && p[1] == '\n')
			n++;
		p++;
	}
	return n;
}

/* maildir_write_lf - write prefix, then data with every CRLF as LF */
static int
maildir_write_lf(int fd, const struct buf *prefix, const char *data,
    size_t len)
{
	char chunk[MAILDIR_CHUNK];
	const char *p = data, *end = data + len;
	size_t used = 0;

	if (fs_write_all(fd, prefix->data, prefix->len) == -1)
		return -1;
	while (p < end) {
		if (*p == '\r' && p + 1 < end && p[1] == '\n') {
			p++;
			continue;
		}
		chunk[used++] = *p++;
		if (used == sizeof(chunk)) {
			if (fs_write_all(fd, chunk, used) == -1)
				return -1;
			used = 0;
		}
	}
	return fs_write_all(fd, chunk, used);
}

/*
 * maildir_mkdir - create `path` (and parents up to `top`) if missing, then
 * fsync the directories above it down to `top`, so a message renamed into
 * it later cannot vanish with its directory in a crash.
 */
static int
maildir_mkdir(const char *top, const char *path)
{
	size_t toplen = strlen(top);
	char p[PATH_MAX];
	char *slash;
	int r = 0;

	(void)pthread_mutex_lock(&maildir_dir_mu);
	if (fs_is_dir(path))
		goto out;
	r = -1;
	if (fs_mkdir_p(path, MAILDIR_DIR_MODE) == -1)
		goto out;
	if (!str_copy(p, path, sizeof(p))) {
		errno = ENAMETOOLONG;
		goto out;
	}
	while ((slash = strrchr(p, '/')) != NULL &&
	    (size_t)(slash - p) >= toplen) {
		*slash = '\0';
		if (p[0] != '\0' && fs_fsync_dir(p) == -1)
			goto out;
	}
	r = 0;
out:
	(void)pthread_mutex_unlock(&maildir_dir_mu);
	return r;
}

/* Where one delivery writes. */
struct maildir_dest {
	char	tmpdir[PATH_MAX];	/* temporary file's directory */
	char	dir[PATH_MAX];		/* final directory */
	bool	dot_tmp;		/* temp name ".<name>.tmp" (mailbox) */
};

/* maildir_dest_init - directories for the layout, created if missing */
static int
maildir_dest_init(struct maildir_dest *d, const char *acctdir, bool maildir)
{
	char base[PATH_MAX], cur[PATH_MAX];

	d->dot_tmp = !maildir;
	if (!maildir) {
		if (fs_path(d->dir, sizeof(d->dir), acctdir, "mailbox") == -1)
			return -1;
		(void)snprintf(d->tmpdir, sizeof(d->tmpdir), "%s", d->dir);
		return maildir_mkdir(acctdir, d->dir);
	}
	if (fs_path(base, sizeof(base), acctdir, "Maildir") == -1 ||
	    fs_path(d->tmpdir, sizeof(d->tmpdir), base, "tmp") == -1 ||
	    fs_path(d->dir, sizeof(d->dir), base, "new") == -1 ||
	    fs_path(cur, sizeof(cur), base, "cur") == -1)
		return -1;
	if (maildir_mkdir(acctdir, d->tmpdir) == -1 ||
	    maildir_mkdir(acctdir, d->dir) == -1 ||
	    maildir_mkdir(acctdir, cur) == -1)
		return -1;
	return 0;
}

/*
 * maildir_tmp_write - create the temporary file exclusively, write and
 * fsync it.  On failure a file this call created is removed; EEXIST means
 * the name was taken.
 */
static int
maildir_tmp_write(const char *path, const struct buf *prefix,
    const char *data, size_t len)
{
	int fd, e;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    MAILDIR_FILE_MODE);
	if (fd == -1)
		return -1;
	if (maildir_write_lf(fd, prefix, data, len) == -1 || fsync(fd) == -1) {
		e = errno;
		(void)close(fd);
		(void)unlink(path);
		errno = e;
		return -1;
	}
	/* Linux closes the fd even when close(2) reports EINTR. */
	if (close(fd) == -1 && errno != EINTR) {
		e = errno;
		(void)unlink(path);
		errno = e;
		return -1;
	}
	return 0;
}

/*
 * maildir_store - one attempt under a fresh name: temp file, rename into
 * place, fsync the directory.  Returns 0, -1 with errno (EEXIST: name
 * taken, try again), nothing left behind on failure.
 */
static int
maildir_store(const struct maildir_dest *d, const struct buf *prefix,
    const char *data, size_t len, size_t size, char *name, size_t namesz)
{
	char tmpname[MAILDIR_NAME_MAX + 8], tmp[PATH_MAX], dst[PATH_MAX];
	int e;

	if (maildir_name_make(name, namesz, size) == -1)
		return -1;
	(void)snprintf(tmpname, sizeof(tmpname), d->dot_tmp ? ".%s.tmp" :
	    "%s", name);
	if (fs_path(tmp, sizeof(tmp), d->tmpdir, tmpname) == -1 ||
	    fs_path(dst, sizeof(dst), d->dir, name) == -1 ||
	    maildir_tmp_write(tmp, prefix, data, len) == -1)
		return -1;
	if (fs_rename_noreplace(tmp, dst) == -1) {
		e = errno;
		(void)unlink(tmp);
		errno = e;
		return -1;
	}
	if (fs_fsync_dir(d->dir) == -1) {
		e = errno;
		(void)unlink(dst);
		errno = e;
		return -1;
	}
	return 0;
}

/* maildir_value_ok - a header value must stay on its line */
static bool
maildir_value_ok(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") == NULL;
}

/* maildir_prefix - the Return-Path/Delivered-To lines, unless present */
static int
maildir_prefix(struct buf *prefix, const char *return_path,
    const char *delivered_to, const char *data, size_t len)
{
	if (maildir_has_return_path(data, len))
		return 0;
	return buf_printf(prefix, "Return-Path: <%s>\nDelivered-To: %s\n",
	    return_path, delivered_to);
}

/* maildir_deliver - store one message durably (docs/QUEUE.md T2 step 1) */
int
maildir_deliver(const char *acctdir, bool maildir, const char *return_path,
    const char *delivered_to, const char *data, size_t len, char *name_out,
    size_t name_size)
{
	char name[MAILDIR_NAME_MAX + 1];
	struct maildir_dest d;
	struct buf prefix;
	size_t size, namesz = sizeof(name);
	int tries, r = -1;

	if (!maildir_value_ok(return_path) || !maildir_value_ok(delivered_to) ||
	    (data == NULL && len > 0)) {
		log_error("maildir: deliver refused: bad envelope");
		errno = EINVAL;
		return -1;
	}
	buf_init(&prefix, MAILDIR_PREFIX_MAX);
	if (maildir_prefix(&prefix, return_path, delivered_to, data,
	    len) == -1) {
		log_error("maildir: deliver refused: envelope too long");
		errno = EINVAL;
		goto out;
	}
	size = prefix.len + len - maildir_crlf_count(data, len);
	if (maildir_dest_init(&d, acctdir, maildir) == -1) {
		log_error("maildir: %s: %m", acctdir);
		goto out;
	}
	/* A name too long for name_out fails before anything is written. */
	if (name_out != NULL && name_size < namesz)
		namesz = name_size;
	for (tries = 0; tries < MAILDIR_TRIES && r == -1; tries++) {
		r = maildir_store(&d, &prefix, data, len, size, name, namesz);
		if (r == -1 && errno != EEXIST)
			break;
	}
	if (r == -1) {
		log_error("maildir: deliver to %s: %m", d.dir);
		goto out;
	}
	if (name_out != NULL)
		memcpy(name_out, name, strlen(name) + 1); /* fits: namesz */
out:
	buf_clear(&prefix);
	return r;
}

/* maildir_dir_scan - add up the sizes of the messages in dir */
static int
maildir_dir_scan(const char *dir, long long *total)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r = 0;

	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				r = -1;
			break;
		}
		/* ".name.tmp" files are deliveries in progress */
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    0 && S_ISREG(st.st_mode))
			*total += (long long)st.st_size;
	}
	(void)closedir(d);
	return r;
}

/*
 * A cache of directory sizes for quota checks: a directory whose inode and
 * mtime did not change since it was scanned still holds the same files, so
 * a RCPT check costs one stat instead of a scan of the whole mailbox.
 * XXX: file times have the kernel's coarse clock (a few ms); a file added
 * in the same tick as the scan is missed until the next change, which only
 * makes the soft quota a message late.
 */
#define MAILDIR_SIZE_SLOTS	1024

struct maildir_size_slot {
	char		*dir;
	dev_t		 dev;
	ino_t		 ino;
	struct timespec	 mtime;
	long long	 size;
};

static pthread_mutex_t		 maildir_size_mu = PTHREAD_MUTEX_INITIALIZER;
static struct maildir_size_slot	 maildir_size_cache[MAILDIR_SIZE_SLOTS];

/* maildir_size_hash - slot of a directory path (FNV-1a) */
static size_t
maildir_size_hash(const char *dir)
{
	uint32_t h = 2166136261u;

	for (; *dir != '\0'; dir++)
		h = (h ^ (unsigned char)*dir) * 16777619u;
	return h % MAILDIR_SIZE_SLOTS;
}

/* maildir_dir_size - add the size of dir's messages, cached per mtime */
static int
maildir_dir_size(const char *dir, long long *total)
{
	struct maildir_size_slot *sl = &maildir_size_cache[
	    maildir_size_hash(dir)];
	struct stat st;
	long long size = 0;
	char *copy;

	if (stat(dir, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	(void)pthread_mutex_lock(&maildir_size_mu);
	if (sl->dir != NULL && strcmp(sl->dir, dir) == 0 &&
	    sl->dev == st.st_dev && sl->ino == st.st_ino &&
	    sl->mtime.tv_sec == st.st_mtim.tv_sec &&
	    sl->mtime.tv_nsec == st.st_mtim.tv_nsec) {
		*total += sl->size;
		(void)pthread_mutex_unlock(&maildir_size_mu);
		return 0;
	}
	(void)pthread_mutex_unlock(&maildir_size_mu);
	/* The stat was taken before the scan: a change meanwhile rescans. */
	if (maildir_dir_scan(dir, &size) == -1)
		return -1;
	*total += size;
	copy = strdup(dir);
	if (copy == NULL)
		return 0;
	(void)pthread_mutex_lock(&maildir_size_mu);
	free(sl->dir);
	sl->dir = copy;
	sl->dev = st.st_dev;
	sl->ino = st.st_ino;
	sl->mtime = st.st_mtim;
	sl->size = size;
	(void)pthread_mutex_unlock(&maildir_size_mu);
	return 0;
}

/* maildir_size - octets in new/ and cur/, or in mailbox/ */
long long
maildir_size(const char *acctdir, bool maildir)
{
	static const char *const mdirs[] = { "Maildir/new", "Maildir/cur" };
	static const char *const mbox[] = { "mailbox" };
	const char *const *dirs = maildir ? mdirs : mbox;
	size_t i, n = maildir ? nitems(mdirs) : nitems(mbox);
	char path[PATH_MAX];
	long long total = 0;

	for (i = 0; i < n; i++) {
		if (fs_path(path, sizeof(path), acctdir, dirs[i]) == -1 ||
		    maildir_dir_size(path, &total) == -1) {
			log_warn("maildir: size of %s: %m", acctdir);
			return -1;
		}
	}
	return total;
}
