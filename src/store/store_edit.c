/*
 * store_edit.c - serialised, atomic read-modify-write of TAB files.
 *
 * The lock is a flock on a file of its own rather than on the tables:
 * fs_write_atomic renames a new inode over a table, so a lock held on the
 * old one would protect nothing.  flock locks belong to the open file
 * description, so two threads of one process that each call store_lock
 * exclude each other like two processes do.
 */
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/tab.h"
#include "store/store_edit.h"

#define EDIT_LOCK_FILE	".tables.lock"
#define EDIT_FILE_MAX	((size_t)64 << 20)	/* largest table */
#define EDIT_PATH_MAX	4096

/* One walk over a table. */
struct edit {
	const struct store_tab_op *op;
	struct buf	 out;		/* the new file */
	struct buf	 repl;		/* what rec() asked to write */
	bool		 changed;	/* a line dropped or replaced */
};

/* store_lock - take the MailRoot table lock */
int
store_lock(const char *mailroot)
{
	char path[EDIT_PATH_MAX];
	int fd;

	if (fs_path(path, sizeof(path), mailroot, EDIT_LOCK_FILE) == -1) {
		log_error("table lock in %s: %s", mailroot, strerror(errno));
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		log_error("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno == EINTR)
			continue;
		log_error("cannot lock %s: %s", path, strerror(errno));
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* store_unlock - release the table lock */
void
store_unlock(int fd)
{
	if (fd == -1)
		return;
	(void)flock(fd, LOCK_UN);
	(void)close(fd);
}

/* path_ok - a relative path without ".." components */
static bool
path_ok(const char *file)
{
	const char *p = file;

	if (*file == '\0' || *file == '/')
		return false;
	while (p != NULL) {
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
			return false;
		if ((p = strchr(p, '/')) != NULL)
			p++;
	}
	return true;
}

/*
 * line_act - what rec() says about one line (content without its LF).
 * Comments, blank and malformed lines are kept without asking.
 */
static enum store_tab_act
line_act(struct edit *e, const char *p, size_t len, unsigned lineno)
{
	char line[TAB_LINE_MAX + 1], *fields[TAB_FIELDS_MAX];
	struct tab_rec rec;
	size_t n;

	if (e->op->rec == NULL)
		return STORE_TAB_KEEP;
	while (len > 0 && p[len - 1] == '\r')
		len--;
	/* A UTF-8 byte order mark is not part of the first record. */
	if (lineno == 1 && len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;
		len -= 3;
	}
	if (len > TAB_LINE_MAX)
		return STORE_TAB_KEEP;
	memcpy(line, p, len);
	if (tab_split(line, len, fields, nitems(fields), &n) != TAB_OK ||
	    n == 0)
		return STORE_TAB_KEEP;
	rec.f = fields;
	rec.n = n;
	rec.lineno = lineno;
	buf_reset(&e->repl);
	return e->op->rec(&rec, &e->repl, e->op->arg);
}

/* edit_line - copy, drop or replace one line of the old file */
static int
edit_line(struct edit *e, const char *p, size_t len, size_t full,
    unsigned lineno)
{
	switch (line_act(e, p, len, lineno)) {
	case STORE_TAB_KEEP:
		return buf_append(&e->out, p, full);
	case STORE_TAB_DROP:
		e->changed = true;
		return 0;
	case STORE_TAB_REPLACE:
		e->changed = true;
		if (e->repl.len == 0)
			return 0;
		if (buf_append(&e->out, e->repl.data, e->repl.len) == -1)
			return -1;
		return e->repl.data[e->repl.len - 1] == '\n' ? 0 :
		    buf_putc(&e->out, '\n');
	}
	fatalx("%s: bad action", __func__);
}

/* edit_walk - run rec() over every line of `in` */
static int
edit_walk(struct edit *e, const struct buf *in)
{
	const char *p = in->data, *end = in->data + in->len, *nl;
	unsigned lineno = 0;
	size_t len;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)((nl != NULL ? nl : end) - p);
		lineno++;
		if (edit_line(e, p, len, len + (nl != NULL), lineno) == -1) {
			errno = EFBIG;
			return -1;
		}
		p += len + (nl != NULL);
	}
	return 0;
}

/* edit_tail - let end() add records; positive: abort */
static int
edit_tail(struct edit *e)
{
	struct buf tail;
	int rc = 0;

	if (e->op->end == NULL)
		return 0;
	buf_init(&tail, EDIT_FILE_MAX);
	rc = e->op->end(&tail, e->op->arg);
	if (rc < 0)
		fatalx("%s: end() returned %d", __func__, rc);
	if (rc == 0 && tail.len > 0) {
		e->changed = true;
		if ((e->out.len > 0 && e->out.data[e->out.len - 1] != '\n' &&
		    buf_putc(&e->out, '\n') == -1) ||
		    buf_append(&e->out, tail.data, tail.len) == -1) {
			errno = EFBIG;
			rc = -1;
		}
	}
	buf_clear(&tail);
	return rc;
}

/* edit_run - read, transform and write one table */
static int
edit_run(struct edit *e, const char *path, mode_t mode)
{
	struct buf in;
	int rc = -1;

	buf_init(&in, EDIT_FILE_MAX);
	if (fs_read_file(path, &in) == -1 && errno != ENOENT)
		goto out;
	if (edit_walk(e, &in) == -1)
		goto out;
	if ((rc = edit_tail(e)) != 0)
		goto out;
	if (e->changed)
		rc = fs_write_atomic(path, e->out.data, e->out.len, mode);
out:
	buf_clear(&in);
	return rc;
}

/* store_tab_edit - apply one edit to a table */
int
store_tab_edit(const char *mailroot, const char *file, mode_t mode,
    const struct store_tab_op *op)
{
	char path[EDIT_PATH_MAX];
	struct edit e;
	int rc;

	if (!path_ok(file)) {
		errno = EINVAL;
		log_error("%s: bad table path \"%s\"", __func__, file);
		return -1;
	}
	if (fs_path(path, sizeof(path), mailroot, file) == -1) {
		log_error("table %s in %s: %s", file, mailroot,
		    strerror(errno));
		return -1;
	}
	memset(&e, 0, sizeof(e));
	e.op = op;
	buf_init(&e.out, EDIT_FILE_MAX);
	buf_init(&e.repl, TAB_LINE_MAX * 4);
	rc = edit_run(&e, path, mode);
	if (rc == -1)
		log_error("cannot update %s: %s", path, strerror(errno));
	buf_clear(&e.out);
	buf_clear(&e.repl);
	return rc;
}
