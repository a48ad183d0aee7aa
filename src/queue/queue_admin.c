/*
 * queue_admin.c - operator actions on the spool (`postroom queue`).
 *
 * Every action is one of the transitions of docs/QUEUE.md done directly on
 * the files (freeze: queue_move to froz/; thaw and delete: T6), so it is
 * safe while the server runs.  Requests a running server must act on at
 * once go through MailRoot/.queue-requests; see queue_admin_request for
 * how a writer and the server's take never lose a line between them.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/compat.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/match.h"
#include "queue/queue.h"
#include "queue/queue_slog.h"
#include "queue/queue_admin.h"

#define QADM_HDR_LINES		5	/* header lines before the mark */
#define QADM_DATA_MARK		"<<MAIL-DATA>>"
/* A header prefix long enough for every header line and the marker. */
#define QADM_HDR_MAX	((QADM_HDR_LINES + 1) * (QUEUE_LINE_MAX + 2))
#define QADM_REQ_FILE		".queue-requests"
#define QADM_REQ_WORK		".queue-requests.work"
#define QADM_REQ_MODE		0600
#define QADM_REQ_MAX		((size_t)1 << 20) /* request file bytes */
#define QADM_PATTERN_MAX	512	/* longest flush pattern */
#define QADM_REQ_TRIES		16	/* re-opens when it was taken */
#define QADM_ID_SPLIT_MAX	1000	/* L1, L2 of "L1/L2/name" below */

/* The spool directory of each state, in the order T8 prefers them. */
static const struct {
	const char		*dir;
	enum queue_admin_state	 state;
} qadm_dirs[] = {
	{ "froz", QUEUE_ADMIN_FROZEN },
	{ "rsnd", QUEUE_ADMIN_DEFERRED },
	{ "mess", QUEUE_ADMIN_READY },
};

/* State of one queue_admin_list call. */
struct qadm_list {
	const char		*mailroot;
	const char		*pattern;	/* NULL: everything */
	enum queue_admin_state	 state;	/* of the directory scanned */
	const char		*dir;	/* "mess", "rsnd", "froz" */
	int		(*cb)(const struct queue_admin_entry *, void *);
	void			*arg;
	long			 given;	/* entries given to cb */
	bool			 stopped;	/* cb returned -1 */
};

/* qadm_state_dir - the spool directory of a state */
static const char *
qadm_state_dir(enum queue_admin_state state)
{
	switch (state) {
	case QUEUE_ADMIN_READY:
		return "mess";
	case QUEUE_ADMIN_DEFERRED:
		return "rsnd";
	case QUEUE_ADMIN_FROZEN:
		return "froz";
	}
	return NULL;
}

/*
 * qadm_head_parse - split the header prefix `h` (NUL-terminated, modified)
 * into its lines and fill the message id and addresses of e.  A listing
 * needs only the header, so a large message is never read whole.  0 or -1
 * (malformed: the caller reports empty addresses).
 */
static int
qadm_head_parse(char *h, struct queue_admin_entry *e)
{
	char *line[QADM_HDR_LINES + 1], *p = h, *nl;
	size_t i, n;

	for (i = 0; i < nitems(line); i++) {
		if ((nl = strchr(p, '\n')) == NULL)
			return -1;
		n = (size_t)(nl - p);
		if (n > 0 && nl[-1] == '\r')
			n--;
		if (n > QUEUE_LINE_MAX || memchr(p, '\r', n) != NULL)
			return -1;
		p[n] = '\0';
		line[i] = p;
		p = nl + 1;
	}
	if (strcmp(line[QADM_HDR_LINES], QADM_DATA_MARK) != 0 ||
	    queue_line_addr(line[3], "MAIL FROM:", e->from, sizeof(e->from)) == -1 ||
	    queue_line_addr(line[4], "RCPT TO:", e->to, sizeof(e->to)) == -1) {
		e->from[0] = e->to[0] = '\0';
		return -1;
	}
	if (!str_copy(e->msgid, line[2], sizeof(e->msgid)))
		e->msgid[sizeof(e->msgid) - 2] = '+';	/* shown cut */
	return 0;
}

/*
 * qadm_entry_load - size, arrival, envelope and slog of one spool file.
 * Returns 0, 1 when the file is gone (delivered or moved meanwhile), -1
 * when it could not be read (e is still usable, with empty addresses).
 */
static int
qadm_entry_load(const char *mailroot, const struct queue_ref *r,
    const char *dir, struct queue_admin_entry *e)
{
	char path[PATH_MAX], *h;
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, rc = -1;

	if (queue_path(mailroot, r, dir, path, sizeof(path)) == -1)
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1)
		return errno == ENOENT ? 1 : -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		return -1;
	}
	e->size = (uint64_t)st.st_size;
	e->mtime = st.st_mtime;
	if ((h = malloc(QADM_HDR_MAX + 1)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while (got < QADM_HDR_MAX) {
		n = read(fd, h + got, QADM_HDR_MAX - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	(void)close(fd);
	h[got] = '\0';
	if (memchr(h, '\0', got) == NULL)
		rc = qadm_head_parse(h, e);
	free(h);
	return rc;
}

/* qadm_list_cb - one spool file of the directory being listed */
static int
qadm_list_cb(const struct queue_ref *r, void *arg)
{
	struct qadm_list *l = arg;
	struct queue_admin_entry e;

	memset(&e, 0, sizeof(e));
	e.ref = *r;
	e.state = l->state;
	if (qadm_entry_load(l->mailroot, r, l->dir, &e) == 1)
		return 0;
	if (l->pattern != NULL && !queue_admin_match(l->pattern, e.to))
		return 0;
	if (queue_slog_read(l->mailroot, r, &e.slog) == -1)
		memset(&e.slog, 0, sizeof(e.slog));
	l->given++;
	if (l->cb(&e, l->arg) == -1) {
		l->stopped = true;
		return -1;
	}
	return 0;
}

/* queue_admin_list - every spool file of mess/, rsnd/ and froz/ */
long
queue_admin_list(const char *mailroot, int split, const char *pattern,
    int (*cb)(const struct queue_admin_entry *e, void *arg), void *arg)
{
	static const struct {
		const char		*dir;
		enum queue_admin_state	 state;
	} order[] = {
		{ "mess", QUEUE_ADMIN_READY },
		{ "rsnd", QUEUE_ADMIN_DEFERRED },
		{ "froz", QUEUE_ADMIN_FROZEN },
	};
	struct qadm_list l;
	size_t i;

	memset(&l, 0, sizeof(l));
	l.mailroot = mailroot;
	l.pattern = pattern;
	l.cb = cb;
	l.arg = arg;
	for (i = 0; i < nitems(order) && !l.stopped; i++) {
		l.dir = order[i].dir;
		l.state = order[i].state;
		if (queue_scan(mailroot, split, l.dir, qadm_list_cb, &l) == -1)
			return -1;
	}
	return l.given;
}

/* qadm_is_file - path names a regular file (not a link) */
static bool
qadm_is_file(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * qadm_find_in - the state of ref r (froz/ first: after a crash during a
 * move the later directory wins, docs/QUEUE.md T8).  0 or -1.
 */
static int
qadm_find_in(const char *mailroot, const struct queue_ref *r,
    enum queue_admin_state *state)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < nitems(qadm_dirs); i++) {
		if (queue_path(mailroot, r, qadm_dirs[i].dir, path,
		    sizeof(path)) == 0 && qadm_is_file(path)) {
			*state = qadm_dirs[i].state;
			return 0;
		}
	}
	return -1;
}

/* qadm_parse_bucket - a decimal bucket number "0".."999"; 0 or -1 */
static int
qadm_parse_bucket(const char *s, size_t len, int *out)
{
	int v = 0;
	size_t i;

	if (len == 0 || len > 3)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v >= QADM_ID_SPLIT_MAX)
		return -1;
	*out = v;
	return 0;
}

/* qadm_name_ok - a spool file name: one component, no leading dot */
static bool
qadm_name_ok(const char *s)
{
	size_t n = strnlen(s, QUEUE_NAME_MAX + 1);

	return n > 0 && n <= QUEUE_NAME_MAX && s[0] != '.' &&
	    strchr(s, '/') == NULL;
}

/* queue_admin_find - locate a message by "name" or "L1/L2/name" */
int
queue_admin_find(const char *mailroot, int split, const char *id,
    struct queue_ref *ref, enum queue_admin_state *state)
{
	const char *s1, *s2;
	struct queue_ref r;

	memset(&r, 0, sizeof(r));
	if ((s1 = strchr(id, '/')) != NULL) {
		if ((s2 = strchr(s1 + 1, '/')) == NULL ||
		    qadm_parse_bucket(id, (size_t)(s1 - id), &r.l1) == -1 ||
		    qadm_parse_bucket(s1 + 1, (size_t)(s2 - s1 - 1),
		    &r.l2) == -1 || !qadm_name_ok(s2 + 1))
			goto notfound;
		if (!str_copy(r.name, s2 + 1, sizeof(r.name)) ||
		    qadm_find_in(mailroot, &r, state) == -1)
			goto notfound;
		*ref = r;
		return 0;
	}
	if (!qadm_name_ok(id) || !str_copy(r.name, id, sizeof(r.name)))
		goto notfound;
	for (r.l1 = 0; r.l1 < split; r.l1++) {
		for (r.l2 = 0; r.l2 < split; r.l2++) {
			if (qadm_find_in(mailroot, &r, state) == 0) {
				*ref = r;
				return 0;
			}
		}
	}
notfound:
	errno = ENOENT;
	return -1;
}

/* queue_admin_delete - remove the spool file, then its slog (T6 frozdel) */
int
queue_admin_delete(const char *mailroot, const struct queue_ref *r,
    enum queue_admin_state state)
{
	const char *dir = qadm_state_dir(state);

	if (dir == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (queue_remove(mailroot, r, dir) == -1)
		return -1;
	/* An slog left behind is only an orphan: T8 removes it. */
	if (queue_slog_remove(mailroot, r) == -1)
		log_warn("queue: delete %s: slog not removed: %m", r->name);
	log_info("queue: deleted file=%s from=%s", r->name, dir);
	return 0;
}

/* queue_admin_freeze - mess/ or rsnd/ -> froz/, slog kept */
int
queue_admin_freeze(const char *mailroot, const struct queue_ref *r,
    enum queue_admin_state state)
{
	const char *dir = qadm_state_dir(state);

	if (dir == NULL || state == QUEUE_ADMIN_FROZEN) {
		errno = EINVAL;
		return -1;
	}
	if (queue_move(mailroot, r, dir, "froz") == -1)
		return -1;
	log_info("queue: frozen file=%s from=%s", r->name, dir);
	return 0;
}

/*
 * queue_admin_thaw - T6 frozsubmit: unlink slog/N first (so the message
 * starts again with no tries), then froz/N -> mess/N.  A crash in between
 * leaves it frozen without a log, which is harmless.
 */
int
queue_admin_thaw(const char *mailroot, const struct queue_ref *r)
{
	if (queue_slog_remove(mailroot, r) == -1) {
		log_warn("queue: thaw %s: slog: %m", r->name);
		return -1;
	}
	if (queue_move(mailroot, r, "froz", "mess") == -1)
		return -1;
	log_info("queue: thawed file=%s", r->name);
	return 0;
}

/* qadm_pattern_ok - a flush pattern fits on one request line */
static bool
qadm_pattern_ok(const char *p)
{
	size_t n = strnlen(p, QADM_PATTERN_MAX + 1), i;

	if (n > QADM_PATTERN_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return false;
	}
	return true;
}

/*
 * qadm_request_write - append `line` to the request file under flock.
 * The server renames the file away and then flocks it before reading, so
 * a writer that holds the lock and still finds its file under the name
 * writes before the server reads; one that finds the name gone or
 * replaced opens again.  Returns 0, 1 (try again) or -1.
 */
static int
qadm_request_write(const char *mailroot, const char *path, const char *line,
    size_t len)
{
	struct stat fst, pst, rst;
	int fd, rc = -1;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    QADM_REQ_MODE);
	if (fd == -1)
		return -1;
	/*
	 * Run as root, hand the file to the MailRoot's owner: a server that
	 * dropped privileges (--user) must be able to read it.
	 */
	if (geteuid() == 0 && stat(mailroot, &rst) == 0 &&
	    fstat(fd, &fst) == 0 && (fst.st_uid != rst.st_uid ||
	    fst.st_gid != rst.st_gid) &&
	    fchown(fd, rst.st_uid, rst.st_gid) == -1)
		log_warn("queue: requests %s: chown: %m", path);
	while (flock(fd, LOCK_EX) == -1) {
		if (errno != EINTR)
			goto out;
	}
	if (fstat(fd, &fst) == -1)
		goto out;
	if (stat(path, &pst) == -1 || pst.st_ino != fst.st_ino ||
	    pst.st_dev != fst.st_dev) {
		rc = 1;
		goto out;
	}
	rc = fs_write_all(fd, line, len);
out:
	if (close(fd) == -1 && rc == 0)
		rc = -1;
	return rc;
}

/* queue_admin_request - append a flush or rescan request for the server */
int
queue_admin_request(const char *mailroot, const char *verb,
    const char *pattern)
{
	char path[PATH_MAX], line[QADM_PATTERN_MAX + 16];
	int i, n, r;

	if (strcmp(verb, "rescan") == 0) {
		n = snprintf(line, sizeof(line), "rescan\n");
	} else if (strcmp(verb, "flush") == 0) {
		if (pattern == NULL)
			pattern = "";
		if (!qadm_pattern_ok(pattern)) {
			errno = EINVAL;
			return -1;
		}
		n = snprintf(line, sizeof(line), "flush\t%s\n", pattern);
	} else {
		errno = EINVAL;
		return -1;
	}
	if (n < 0 || (size_t)n >= sizeof(line)) {
		errno = EINVAL;
		return -1;
	}
	if (fs_path(path, sizeof(path), mailroot, QADM_REQ_FILE) == -1)
		return -1;
	for (i = 0; i < QADM_REQ_TRIES; i++) {
		if ((r = qadm_request_write(mailroot, path, line,
		    (size_t)n)) != 1)
			return r;
	}
	errno = EAGAIN;
	return -1;
}

/*
 * qadm_request_line - parse one request line (CR already cut) and call
 * cb.  Returns 1 for a request, 0 for a blank line, -1 if malformed.
 */
static int
qadm_request_line(char *line,
    void (*cb)(const char *verb, const char *pattern, void *arg), void *arg)
{
	char *tab;

	if (line[0] == '\0')
		return 0;
	tab = strchr(line, '\t');
	if (tab != NULL)
		*tab++ = '\0';
	if (strcmp(line, "rescan") == 0 && (tab == NULL || *tab == '\0')) {
		cb("rescan", "", arg);
		return 1;
	}
	if (strcmp(line, "flush") == 0 &&
	    (tab == NULL || (strchr(tab, '\t') == NULL &&
	    qadm_pattern_ok(tab)))) {
		cb("flush", tab != NULL ? tab : "", arg);
		return 1;
	}
	return -1;
}

/*
 * qadm_take_file - read and unlink the taken request file under its lock
 * (a writer that opened it before the rename finishes first), then run
 * its lines.  Returns the number of requests or -1.
 */
static int
qadm_take_file(const char *work,
    void (*cb)(const char *verb, const char *pattern, void *arg), void *arg)
{
	struct buf b;
	char *p, *nl;
	size_t n;
	int fd, count = 0, r;

	if ((fd = open(work, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		/* Unreadable: drop it, or it would block every later take. */
		log_warn("queue: requests %s: %m (discarded)", work);
		if (unlink(work) == -1 && errno != ENOENT)
			log_warn("queue: requests %s: unlink: %m", work);
		return -1;
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno != EINTR)
			break;
	}
	buf_init(&b, QADM_REQ_MAX);
	r = fs_read_file(work, &b);
	if (r == -1)
		log_warn("queue: requests %s: %m (discarded)", work);
	if (unlink(work) == -1 && errno != ENOENT)
		log_warn("queue: requests %s: unlink: %m", work);
	(void)close(fd);
	if (r == -1) {
		buf_clear(&b);
		return -1;
	}
	for (p = b.data; *p != '\0'; p = nl) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = '\0';
		else
			nl = p + strlen(p);
		n = strlen(p);
		if (n > 0 && p[n - 1] == '\r')
			p[--n] = '\0';
		r = qadm_request_line(p, cb, arg);
		if (r == 1)
			count++;
		else if (r == -1)
			log_warn("queue: requests: malformed line skipped: "
			    "\"%.80s\"", p);
	}
	buf_clear(&b);
	return count;
}

/* queue_admin_take_requests - server side: take and run the request file */
int
queue_admin_take_requests(const char *mailroot,
    void (*cb)(const char *verb, const char *pattern, void *arg), void *arg)
{
	char path[PATH_MAX], work[PATH_MAX];
	int n = 0, r;

	if (fs_path(path, sizeof(path), mailroot, QADM_REQ_FILE) == -1 ||
	    fs_path(work, sizeof(work), mailroot, QADM_REQ_WORK) == -1)
		return -1;
	/* Left over by a crash between rename and unlink: run it first. */
	if (fs_exists(work)) {
		if ((r = qadm_take_file(work, cb, arg)) == -1)
			return -1;
		n += r;
	}
	if (rename(path, work) == -1) {
		if (errno == ENOENT)
			return n;
		log_warn("queue: requests %s: rename: %m", path);
		return -1;
	}
	if ((r = qadm_take_file(work, cb, arg)) == -1)
		return -1;
	return n + r;
}

/* queue_admin_match - recipient against a domain or address wildcard */
bool
queue_admin_match(const char *pattern, const char *to)
{
	const char *at;

	if (pattern == NULL || pattern[0] == '\0' || strcmp(pattern, "*") == 0)
		return true;
	if (to == NULL)
		return false;
	if (strchr(pattern, '@') != NULL)
		return match_wild(pattern, to);
	at = strrchr(to, '@');
	return match_wild(pattern, at != NULL ? at + 1 : to);
}
