/*
 * fsutil.c - durable file operations (DESIGN.md "Data").
 *
 * Every write that must survive a crash follows the same order: write a
 * file, fsync it, make it visible under its final name (rename or O_EXCL
 * create), fsync the directory.  Failures leave nothing half-written
 * behind and keep errno for the caller.
 */
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <sys/uio.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/compat.h"
#include "core/fsutil.h"

#define FS_TMP_BASE_MAX	128	/* bytes of the base name kept in temp names */
#define FS_TMP_TRIES	8	/* temp names tried before giving up */
#define FS_READ_CHUNK	16384	/* read(2) size for fs_read_file */
#define FS_RM_PASSES	3	/* directory scans while rmdir says ENOTEMPTY */

/* fs_close_keep_errno - close fd without disturbing errno */
static void
fs_close_keep_errno(int fd)
{
	int e = errno;

	(void)close(fd);
	errno = e;
}

/* fs_unlink_keep_errno - unlink path without disturbing errno */
static void
fs_unlink_keep_errno(const char *path)
{
	int e = errno;

	(void)unlink(path);
	errno = e;
}

/* fs_writev_all - write every iovec, on short writes and EINTR too */
int
fs_writev_all(int fd, struct iovec *iov, int n)
{
	ssize_t w;

	for (;;) {
		while (n > 0 && iov->iov_len == 0) {
			iov++;
			n--;
		}
		if (n == 0)
			return 0;
		w = writev(fd, iov, n > IOV_MAX ? IOV_MAX : n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
}

/* fs_write_all - write len bytes, retrying on EINTR and short writes */
int
fs_write_all(int fd, const void *data, size_t len)
{
	struct iovec iov;

	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = len;
	return fs_writev_all(fd, &iov, 1);
}

/* fs_rename_noreplace - rename that never replaces */
int
fs_rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (fs_exists(to)) {
		errno = EEXIST;
		return -1;
	}
	return rename(from, to);
}

/* fs_finish - fsync and close fd; the fd is closed in every case */
static int
fs_finish(int fd)
{
	if (fsync(fd) == -1) {
		fs_close_keep_errno(fd);
		return -1;
	}
	/* Linux closes the fd even when close(2) reports EINTR. */
	if (close(fd) == -1 && errno != EINTR)
		return -1;
	return 0;
}

/* fs_parent - copy the directory part of path into out ("." if none) */
static int
fs_parent(const char *path, char *out, size_t size)
{
	size_t len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		len--;
	while (len > 0 && path[len - 1] != '/')
		len--;
	while (len > 1 && path[len - 1] == '/')
		len--;
	if (len == 0) {
		path = ".";
		len = 1;
	}
	if (len >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(out, path, len);
	out[len] = '\0';
	return 0;
}

/* fs_fsync_dir - fsync a directory */
int
fs_fsync_dir(const char *dir)
{
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	return fs_finish(fd);
}

/* fs_fsync_parent - fsync the directory holding path */
int
fs_fsync_parent(const char *path)
{
	char dir[PATH_MAX];

	if (fs_parent(path, dir, sizeof(dir)) == -1)
		return -1;
	return fs_fsync_dir(dir);
}

/* fs_random - 64 unpredictable bits for temporary names */
static uint64_t
fs_random(void)
{
	static _Atomic uint64_t counter;
	struct timespec ts;
	uint64_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	/* XXX: no entropy yet (early boot); O_EXCL still keeps us safe. */
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	r = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL;
	return r ^ (uint64_t)ts.tv_sec ^ ++counter;
}

/*
 * fs_tmp_open - create a fresh ".<base>.tmp.<pid>.<random>" next to path;
 * the name goes to tmp (size bytes).
 */
static int
fs_tmp_open(const char *path, char *tmp, size_t size, mode_t mode)
{
	const char *base = strrchr(path, '/');
	int dirlen, baselen, n, fd, i;

	base = base ? base + 1 : path;
	if (*base == '\0') {
		errno = EISDIR;
		return -1;
	}
	if (base - path > INT_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	dirlen = (int)(base - path);
	baselen = (int)strnlen(base, FS_TMP_BASE_MAX);
	for (i = 0; i < FS_TMP_TRIES; i++) {
		n = snprintf(tmp, size, "%.*s.%.*s.tmp.%ld.%016llx", dirlen,
		    path, baselen, base, (long)getpid(),
		    (unsigned long long)fs_random());
		if (n < 0 || (size_t)n >= size) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC |
		    O_NOFOLLOW, mode);
		if (fd != -1 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/* fs_target_mode - mode to give the new file; *keep when path exists */
static int
fs_target_mode(const char *path, mode_t mode, mode_t *out, int *keep)
{
	struct stat st;

	*out = mode;
	*keep = 0;
	if (stat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		return -1;
	}
	*out = st.st_mode & 07777;
	*keep = 1;
	return 0;
}

/* fs_write_atomic - replace path through a fsync'ed temporary file */
int
fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	mode_t m;
	int fd, keep;

	if (*path == '\0') {
		errno = ENOENT;
		return -1;
	}
	if (fs_target_mode(path, mode, &m, &keep) == -1)
		return -1;
	fd = fs_tmp_open(path, tmp, sizeof(tmp), keep ? 0600 : m);
	if (fd == -1)
		return -1;
	/* An existing mode is copied exactly, without the umask. */
	if ((keep && fchmod(fd, m) == -1) ||
	    fs_write_all(fd, data, len) == -1) {
		fs_close_keep_errno(fd);
		fs_unlink_keep_errno(tmp);
		return -1;
	}
	if (fs_finish(fd) == -1 || rename(tmp, path) == -1) {
		fs_unlink_keep_errno(tmp);
		return -1;
	}
	return fs_fsync_parent(path);
}

/* fs_write_new - create path exclusively, write and fsync it */
int
fs_write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd;

	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
	    mode);
	if (fd == -1)
		return -1;
	if (fs_write_all(fd, data, len) == -1) {
		fs_close_keep_errno(fd);
		fs_unlink_keep_errno(path);
		return -1;
	}
	if (fs_finish(fd) == -1 || fs_fsync_parent(path) == -1) {
		fs_unlink_keep_errno(path);
		return -1;
	}
	return 0;
}

/* fs_read_fd - append everything read from fd to out */
static int
fs_read_fd(int fd, struct buf *out)
{
	char chunk[FS_READ_CHUNK];
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return 0;
		if (buf_append(out, chunk, (size_t)n) == -1) {
			if (errno == EMSGSIZE)
				errno = EFBIG;
			return -1;
		}
	}
}

/* fs_read_file - append a whole regular file to out, within out->max */
int
fs_read_file(const char *path, struct buf *out)
{
	size_t oldlen = out->len;
	struct stat st;
	int fd;

	/* O_NONBLOCK: opening a FIFO must not hang before fstat refuses it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	if ((uintmax_t)st.st_size > (uintmax_t)(out->max - out->len)) {
		errno = EFBIG;
		goto fail;
	}
	if (fs_read_fd(fd, out) == -1)
		goto fail;
	(void)close(fd);
	return 0;

fail:
	fs_close_keep_errno(fd);
	if (out->cap > 0) {
		out->len = oldlen;
		out->data[oldlen] = '\0';
	}
	return -1;
}

/* fs_mkdir_one - mkdir that accepts an existing directory */
static int
fs_mkdir_one(const char *path, mode_t mode)
{
	struct stat st;
	int e;

	if (mkdir(path, mode) == 0)
		return 0;
	e = errno;
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		e = ENOTDIR;
	}
	errno = e;
	return -1;
}

/* fs_mkdir_p - mkdir -p */
int
fs_mkdir_p(const char *path, mode_t mode)
{
	char p[PATH_MAX];
	size_t len;
	char *s, c;

	if (!str_copy(p, path, sizeof(p))) {
		errno = ENAMETOOLONG;
		return -1;
	}
	len = strlen(p);
	if (len == 0) {
		errno = ENOENT;
		return -1;
	}
	while (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (s[-1] != '/' && fs_mkdir_one(p, mode) == -1)
			return -1;
		if (c == '\0')
			return 0;
		*s = c;
	}
}

static int	fs_rm_at(int dfd, const char *name);

/* fs_rm_entries - remove everything inside the open directory d */
static int
fs_rm_entries(DIR *d)
{
	struct dirent *de;
	int err = 0;

	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0 && err == 0)
				err = errno;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		/* Keep going after an error so that most is removed. */
		if (fs_rm_at(dirfd(d), de->d_name) == -1 && errno != ENOENT &&
		    err == 0)
			err = errno;
	}
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/*
 * fs_rm_dir - remove the directory name in dfd and its content.  The
 * directory is opened with O_NOFOLLOW|O_DIRECTORY, so if it was swapped for a
 * symbolic link after fstatat() the open fails instead of following it.
 */
static int
fs_rm_dir(int dfd, const char *name)
{
	DIR *d;
	int fd, pass, r = -1;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1)
		return -1;
	d = fdopendir(fd);
	if (d == NULL) {
		fs_close_keep_errno(fd);
		return -1;
	}
	/* Re-scan when entries were missed while the directory changed. */
	for (pass = 0; pass < FS_RM_PASSES; pass++) {
		if (pass > 0)
			rewinddir(d);
		r = fs_rm_entries(d);
		if (r == 0)
			r = unlinkat(dfd, name, AT_REMOVEDIR);
		if (r == 0 || errno != ENOTEMPTY)
			break;
	}
	if (r == -1) {
		int e = errno;

		(void)closedir(d);
		errno = e;
		return -1;
	}
	(void)closedir(d);
	return 0;
}

/* fs_rm_at - remove name in dfd: a file or link itself, a directory tree */
static int
fs_rm_at(int dfd, const char *name)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	if (S_ISDIR(st.st_mode))
		return fs_rm_dir(dfd, name);
	return unlinkat(dfd, name, 0);
}

/* fs_rm_tree - rm -r without following symbolic links */
int
fs_rm_tree(const char *path)
{
	if (*path == '\0') {
		errno = ENOENT;
		return -1;
	}
	return fs_rm_at(AT_FDCWD, path);
}

/* fs_exists - lstat succeeds */
bool
fs_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* fs_is_dir - stat says directory */
bool
fs_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* fs_path - dir "/" name, checked for length */
int
fs_path(char *out, size_t size, const char *dir, const char *name)
{
	size_t dlen = strlen(dir);
	const char *sep;
	int n;

	if (size > 0)
		out[0] = '\0';
	if (dlen == 0) {
		errno = EINVAL;
		return -1;
	}
	while (*name == '/')
		name++;
	sep = dir[dlen - 1] == '/' ? "" : "/";
	n = snprintf(out, size, "%s%s%s", dir, sep, name);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			out[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}
