/*
 * queue_slog.c - the per-message delivery log (slog/<name>).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "queue/queue_slog.h"

#define SLOG_READ_MAX	((size_t)4 << 20)	/* larger slogs: tail only */

/* queue_slog_append - append text to slog/<name> */
int
queue_slog_append(const char *mailroot, const struct queue_ref *r,
    const char *text, size_t len)
{
	char path[4096];
	int fd, rc;

	if (queue_path(mailroot, r, "slog", path, sizeof(path)) == -1)
		return -1;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1 && errno == ENOENT) {
		/* An XMail spool may lack slog/ in some buckets. */
		char dir[4096];
		char *slash;

		if (!str_copy(dir, path, sizeof(dir)) ||
		    (slash = strrchr(dir, '/')) == NULL)
			return -1;
		*slash = '\0';
		if (fs_mkdir_p(dir, 0700) == -1)
			return -1;
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
	}
	if (fd == -1)
		return -1;
	rc = fs_write_all(fd, text, len);
	if (close(fd) == -1)
		rc = -1;
	return rc;
}

/* value_of - copy the text after "key = " of a line into out */
static void
value_of(const char *p, const char *end, char *out, size_t size)
{
	size_t n;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '='))
		p++;
	n = (size_t)(end - p);
	/* SMTP-Error = "..." : drop the quotes. */
	if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
		p++;
		n -= 2;
	}
	if (n >= size)
		n = size - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* queue_slog_parse - count [PeekTime] lines, keep the last error */
void
queue_slog_parse(const char *text, size_t len, struct queue_slog_info *si)
{
	const char *p = text, *end = text + len, *eol, *le;
	char err_string[sizeof(si->last_error)] = "";
	bool in_block = false, have_smtp = false;

	memset(si, 0, sizeof(*si));
	for (; p < end; p = eol < end ? eol + 1 : end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		le = eol;
		if (le > p && le[-1] == '\r')
			le--;
		if ((size_t)(le - p) >= 10 && memcmp(p, "[PeekTime]", 10) ==
		    0) {
			char num[24];
			size_t n = 0;
			const char *q = p + 10;

			while (q < le && *q == ' ')
				q++;
			while (q < le && *q >= '0' && *q <= '9' &&
			    n < sizeof(num) - 1)
				num[n++] = *q++;
			num[n] = '\0';
			si->tries++;
			if (n > 0)
				si->last_try = (time_t)strtoll(num, NULL, 10);
		} else if (le - p == 2 && memcmp(p, "<<", 2) == 0) {
			in_block = true;
			have_smtp = false;
			err_string[0] = '\0';
		} else if (le - p == 2 && memcmp(p, ">>", 2) == 0) {
			if (in_block && !have_smtp && err_string[0] != '\0')
				memcpy(si->last_error, err_string,
				    sizeof(err_string));
			in_block = false;
		} else if (in_block && (size_t)(le - p) > 10 &&
		    memcmp(p, "SMTP-Error", 10) == 0) {
			value_of(p + 10, le, si->last_error,
			    sizeof(si->last_error));
			have_smtp = true;
		} else if (in_block && (size_t)(le - p) > 11 &&
		    memcmp(p, "SMTP-Server", 11) == 0) {
			value_of(p + 11, le, si->last_server,
			    sizeof(si->last_server));
		} else if (in_block && (size_t)(le - p) > 9 &&
		    memcmp(p, "ErrString", 9) == 0) {
			value_of(p + 9, le, err_string, sizeof(err_string));
		}
	}
}

/* queue_slog_read - parse slog/<name> */
int
queue_slog_read(const char *mailroot, const struct queue_ref *r,
    struct queue_slog_info *si)
{
	struct buf b;
	char path[4096];
	int rc = 0;

	memset(si, 0, sizeof(*si));
	if (queue_path(mailroot, r, "slog", path, sizeof(path)) == -1)
		return -1;
	buf_init(&b, SLOG_READ_MAX);
	if (fs_read_file(path, &b) == -1) {
		if (errno != ENOENT)
			rc = -1;
	} else {
		queue_slog_parse(b.data, b.len, si);
	}
	buf_clear(&b);
	return rc;
}

/* queue_slog_remove - unlink slog/<name> */
int
queue_slog_remove(const char *mailroot, const struct queue_ref *r)
{
	char path[4096];

	if (queue_path(mailroot, r, "slog", path, sizeof(path)) == -1)
		return -1;
	if (unlink(path) == -1 && errno != ENOENT)
		return -1;
	return 0;
}
