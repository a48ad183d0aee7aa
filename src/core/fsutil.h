/*
 * fsutil.h - durable file operations.
 *
 * The durability rule (DESIGN.md "Data"): data is on disk only after the file
 * is fsync'ed, renamed into place, and its directory fsync'ed.  These helpers
 * are the only way postroom writes configuration and mail files.
 */
#ifndef POSTROOM_CORE_FSUTIL_H
#define POSTROOM_CORE_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/compat.h"

/*
 * fs_write_all - write all `len` bytes to fd, retrying on EINTR and short
 * writes.  Returns 0, or -1 (errno; EIO if write(2) returned 0).
 */
int	fs_write_all(int fd, const void *data, size_t len) WARN_UNUSED_RESULT;

struct iovec;

/*
 * fs_writev_all - write every iovec completely (EINTR and short writes
 * retried; the iovec array is modified).  Returns 0 or -1 (errno).
 */
int	fs_writev_all(int fd, struct iovec *iov, int n) WARN_UNUSED_RESULT;

/*
 * fs_rename_noreplace - rename `from` to `to` but never replace an existing
 * `to` (EEXIST): renameat2(RENAME_NOREPLACE), or on file systems without
 * it a check then rename (XXX: not atomic there).  Returns 0 or -1.
 */
int	fs_rename_noreplace(const char *from, const char *to)
	    WARN_UNUSED_RESULT;

/* fs_fsync_dir - fsync the directory `dir`.  Returns 0 or -1 (errno). */
int	fs_fsync_dir(const char *dir) WARN_UNUSED_RESULT;

/* fs_fsync_parent - fsync the directory that contains `path`. */
int	fs_fsync_parent(const char *path) WARN_UNUSED_RESULT;

/*
 * fs_write_atomic - replace `path` with `len` bytes of `data`: write a
 * temporary file in the same directory, fsync it, rename it over `path`,
 * fsync the directory.  Readers see the old or the new file, never a mix.
 * The temporary is ".<name>.tmp.<pid>.<random>", created with O_EXCL and
 * O_NOFOLLOW.  `mode` (less the umask) is used for a new file; an existing
 * file's permission bits are copied exactly (not its owner).  A symbolic
 * link at `path` is replaced, not followed.
 * Returns 0, or -1 (errno; EISDIR if `path` is a directory) with `path`
 * unchanged and no temporary left.  Exception: if only the final directory
 * fsync fails, the new content is already in place but may not survive a
 * crash; the caller must treat it as not durable.
 */
int	fs_write_atomic(const char *path, const void *data, size_t len,
	    mode_t mode) WARN_UNUSED_RESULT;

/*
 * fs_write_new - create `path` exclusively (O_EXCL, O_NOFOLLOW, `mode` less
 * the umask) with the content and fsync file and directory.  Fails with
 * EEXIST if it exists (also a dangling symbolic link).  Returns 0, or -1
 * (errno); a file this call created is removed again on failure.
 */
int	fs_write_new(const char *path, const void *data, size_t len,
	    mode_t mode) WARN_UNUSED_RESULT;

/*
 * fs_read_file - read a whole regular file into `out` (appending), failing
 * with EFBIG if it would exceed out->max.  Anything but a regular file is
 * refused (EISDIR for a directory, EINVAL for FIFOs, devices, sockets)
 * without blocking.  Returns 0 or -1 (errno); on failure `out` keeps its
 * previous content.
 */
int	fs_read_file(const char *path, struct buf *out) WARN_UNUSED_RESULT;

/*
 * fs_mkdir_p - create `path` and missing parents with `mode` (less the
 * umask); an existing directory is fine, trailing slashes are ignored.
 * Returns 0 or -1 (errno; ENOTDIR if a component is not a directory).
 */
int	fs_mkdir_p(const char *path, mode_t mode) WARN_UNUSED_RESULT;

/*
 * fs_rm_tree - remove `path` recursively without following symbolic links
 * (a link is removed, never its target; `path` itself may be a link or a
 * plain file).  Keeps removing after an error and reports the first one.
 * Uses one file descriptor per directory level.  Returns 0 or -1 (errno;
 * ENOENT if `path` does not exist).
 */
int	fs_rm_tree(const char *path) WARN_UNUSED_RESULT;

/* fs_exists - true when `path` exists (lstat). */
bool	fs_exists(const char *path);

/* fs_is_dir - true when `path` is a directory (stat). */
bool	fs_is_dir(const char *path);

/*
 * fs_path - join `dir` and `name` with one '/' into `out` (size bytes):
 * a trailing '/' of `dir` and leading '/'s of `name` are not doubled.
 * Returns 0, or -1 with `out` empty: ENAMETOOLONG if it does not fit,
 * EINVAL if `dir` is empty.
 */
int	fs_path(char *out, size_t size, const char *dir, const char *name)
	    WARN_UNUSED_RESULT;

#endif
