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

/*
 * maildir_name_make - "<secs>.M<usecs>P<pid>Q<seq>.<host>,S=<size>,W=<vsize>"
 */
static int
maildir_name_make(char *out, size_t size, size_t msgsize, size_t vsize)
{
	struct timeval tv;
	uint64_t seq;
	int n;

	(void)pthread_once(&maildir_host_once, maildir_host_init);
	(void)gettimeofday(&tv, NULL);
	seq = atomic_fetch_add(&maildir_seq, 1) + 1;
	n = snprintf(out, size, "%lld.M%ldP%ldQ%" PRIu64 ".%s,S=%zu,W=%zu",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(), seq,
	    maildir_host, msgsize, vsize);
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

/* maildir_bare_lf - LFs in p[0..len) not preceded by CR; prev: the byte
 * before p ('\0' for none) */
static size_t
maildir_bare_lf(const char *p, size_t len, char prev)
{
	const char *end = p + len, *nl, *start = p;
	size_t n = 0;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if ((nl > start ? nl[-1] : prev) != '\r')
			n++;
		p = nl + 1;
	}
	return n;
}

/*
 * maildir_vsize - POP3 size (maildir.h) of the stored file: prefix, then
 * data with every CRLF written as LF, where `size` is that file's size.
 * An LF of data whose CR is dropped on disk follows the byte before that
 * CR in the file, so "\r\r\n" is stored as a CRLF and counts nothing
 * extra.  Must agree with what maildir_list computes from the file.
 */
static size_t
maildir_vsize(const struct buf *prefix, const char *data, size_t len,
    size_t size)
{
	const char *p = data, *end = data + len, *nl;
	char last = prefix->len > 0 ? prefix->data[prefix->len - 1] : '\0';
	char prev;
	size_t n = size + maildir_bare_lf(prefix->data, prefix->len, '\0');

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (nl > data && nl[-1] == '\r')
			prev = nl - 1 > data ? nl[-2] : last;
		else
			prev = nl > data ? nl[-1] : last;
		if (prev != '\r')
			n++;
		p = nl + 1;
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
    const char *data, size_t len, size_t size, size_t vsize, char *name,
    size_t namesz)
{
	char tmpname[MAILDIR_NAME_MAX + 8], tmp[PATH_MAX], dst[PATH_MAX];
	int e;

	if (maildir_name_make(name, namesz, size, vsize) == -1)
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
	size_t size, vsize, namesz = sizeof(name);
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
	vsize = maildir_vsize(&prefix, data, len, size);
	if (maildir_dest_init(&d, acctdir, maildir) == -1) {
		log_error("maildir: %s: %m", acctdir);
		goto out;
	}
	/* A name too long for name_out fails before anything is written. */
	if (name_out != NULL && name_size < namesz)
		namesz = name_size;
	for (tries = 0; tries < MAILDIR_TRIES && r == -1; tries++) {
		r = maildir_store(&d, &prefix, data, len, size, vsize, name,
		    namesz);
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

/*
 * Reading side: listings, POP3 conversion, removal (maildir.h).
 */

#define MAILDIR_READ_CHUNK	65536	/* read(2) size when reading files */
#define MAILDIR_XMAIL_MS	100000000000ULL	/* 12 digits: milliseconds */

/* One read buffer per thread for both readers (they never nest). */
static _Thread_local char	maildir_rbuf[MAILDIR_READ_CHUNK];

static const char *const maildir_sub_dir[] = {
	[MAILDIR_SUB_NEW] = "Maildir/new",
	[MAILDIR_SUB_CUR] = "Maildir/cur",
	[MAILDIR_SUB_MBOX] = "mailbox",
};

/* maildir_name_num - the decimal number after `tag` (",S=" or ",W=") in
 * the base name (before ':'); false when absent or malformed */
static bool
maildir_name_num(const char *name, size_t base_len, const char *tag,
    uint64_t *out)
{
	const char *p = name, *end = name + base_len;
	size_t tlen = strlen(tag);
	uint64_t v;

	while ((p = memchr(p, ',', (size_t)(end - p))) != NULL) {
		if ((size_t)(end - p) > tlen && memcmp(p, tag, tlen) == 0) {
			p += tlen;
			for (v = 0; p < end && *p >= '0' && *p <= '9'; p++) {
				if (CKD_MUL(&v, v, 10) ||
				    CKD_ADD(&v, v, (uint64_t)(*p - '0')))
					return false;
			}
			if (p < end && *p != ',')
				return false;
			*out = v;
			return p[-1] >= '0' && p[-1] <= '9';
		}
		p++;
	}
	return false;
}

/* maildir_digits - leading decimal number of p; false if none/too big */
static bool
maildir_digits(const char *p, uint64_t *v, const char **end)
{
	*v = 0;
	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++)
		if (CKD_MUL(v, *v, 10) || CKD_ADD(v, *v, (uint64_t)(*p - '0')))
			return false;
	*end = p;
	return true;
}

/*
 * maildir_name_key - delivery time in microseconds from a name:
 * "<secs>.M<usecs>..." (Maildir), "<msecs>...." (XMail); 0 when the
 * name does not start with a number.
 */
static uint64_t
maildir_name_key(const char *name)
{
	uint64_t t, us;
	const char *p;

	if (!maildir_digits(name, &t, &p))
		return 0;
	if (t >= MAILDIR_XMAIL_MS)
		return CKD_MUL(&t, t, 1000) ? UINT64_MAX : t;
	if (CKD_MUL(&t, t, 1000000))
		return UINT64_MAX;
	if (p[0] == '.' && p[1] == 'M' && maildir_digits(p + 2, &us, &p) &&
	    us < 1000000)
		t += us;
	return t;
}

/* maildir_msg_cmp - delivery order, then name (qsort) */
static int
maildir_msg_cmp(const void *a, const void *b)
{
	const struct maildir_msg *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* maildir_fd_pop3_size - POP3 size of an open file from its content */
static int
maildir_fd_pop3_size(int fd, uint64_t *out)
{
	char *chunk = maildir_rbuf, prev = '\0';
	uint64_t n = 0;
	ssize_t got;

	for (;;) {
		got = read(fd, chunk, sizeof(maildir_rbuf));
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1)
			return -1;
		if (got == 0)
			break;
		n += (uint64_t)got + maildir_bare_lf(chunk, (size_t)got, prev);
		prev = chunk[got - 1];
	}
	*out = n;
	return 0;
}

/* maildir_entry_sizes - size and POP3 size of one file read from disk;
 * 1 = skip (not a regular file, or gone) */
static int
maildir_entry_sizes(int dfd, const char *name, struct maildir_msg *m,
    bool have_w)
{
	struct stat st;
	int fd, r;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK);
	if (fd == -1)
		return errno == ENOENT || errno == ELOOP ? 1 : -1;
	if (fstat(fd, &st) == -1) {
		r = -1;
	} else if (!S_ISREG(st.st_mode)) {
		r = 1;
	} else {
		m->size = (uint64_t)st.st_size;
		r = have_w ? 0 : maildir_fd_pop3_size(fd, &m->pop3_size);
	}
	(void)close(fd);
	return r;
}

/* maildir_list_add - append one entry (takes the sizes already set) */
static int
maildir_list_add(struct maildir_list *l, size_t *cap,
    const struct maildir_msg *m, const char *name)
{
	struct maildir_msg *v;
	size_t ncap;

	if (l->n == *cap) {
		ncap = *cap == 0 ? 64 : *cap * 2;
		if (ncap > SIZE_MAX / sizeof(*v)) {
			errno = ENOMEM;
			return -1;
		}
		if ((v = realloc(l->msgs, ncap * sizeof(*v))) == NULL)
			return -1;
		l->msgs = v;
		*cap = ncap;
	}
	l->msgs[l->n] = *m;
	if ((l->msgs[l->n].name = strdup(name)) == NULL)
		return -1;
	l->n++;
	return 0;
}

/* maildir_list_entry - look at one directory entry; adds it if a message */
static int
maildir_list_entry(struct maildir_list *l, size_t *cap, int dfd,
    const struct dirent *de, enum maildir_sub sub)
{
	struct maildir_msg m = { .sub = sub };
	const char *colon;
	bool have_s, have_w;
	int r = 0;

	if (de->d_name[0] == '.')
		return 0;
	if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
		return 0;
	colon = sub == MAILDIR_SUB_MBOX ? NULL : strchr(de->d_name, ':');
	m.uid_len = colon != NULL ? (size_t)(colon - de->d_name) :
	    strlen(de->d_name);
	if (m.uid_len == 0)
		return 0;
	have_s = maildir_name_num(de->d_name, m.uid_len, ",S=", &m.size);
	have_w = maildir_name_num(de->d_name, m.uid_len, ",W=",
	    &m.pop3_size);
	/* Both in the name of a known regular file: no file access. */
	if (!have_s || !have_w || de->d_type != DT_REG)
		r = maildir_entry_sizes(dfd, de->d_name, &m, have_w);
	if (r != 0)
		return r == 1 ? 0 : -1;
	m.key = maildir_name_key(de->d_name);
	if (maildir_list_add(l, cap, &m, de->d_name) == -1)
		return -1;
	l->pop3_total += m.pop3_size;
	return 0;
}

/* maildir_list_dir - add the messages of one directory */
static int
maildir_list_dir(struct maildir_list *l, size_t *cap, const char *acctdir,
    enum maildir_sub sub)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (fs_path(path, sizeof(path), acctdir, maildir_sub_dir[sub]) == -1)
		return -1;
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : -1;
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				r = -1;
			break;
		}
		if (maildir_list_entry(l, cap, dirfd(d), de, sub) == -1) {
			r = -1;
			break;
		}
	}
	(void)closedir(d);
	return r;
}

/* maildir_list - snapshot of a mailbox in delivery order */
int
maildir_list(const char *acctdir, bool maildir, bool scan_cur,
    struct maildir_list *out)
{
	size_t cap = 0;
	int r, e;

	memset(out, 0, sizeof(*out));
	if (!maildir) {
		r = maildir_list_dir(out, &cap, acctdir, MAILDIR_SUB_MBOX);
	} else {
		r = maildir_list_dir(out, &cap, acctdir, MAILDIR_SUB_NEW);
		if (r == 0 && scan_cur)
			r = maildir_list_dir(out, &cap, acctdir,
			    MAILDIR_SUB_CUR);
	}
	if (r == -1) {
		e = errno;
		log_warn("maildir: listing %s: %m", acctdir);
		maildir_list_free(out);
		errno = e;
		return -1;
	}
	if (out->n > 1)
		qsort(out->msgs, out->n, sizeof(*out->msgs), maildir_msg_cmp);
	return 0;
}

/* maildir_list_free - release a listing */
void
maildir_list_free(struct maildir_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->msgs[i].name);
	free(l->msgs);
	memset(l, 0, sizeof(*l));
}

/* maildir_msg_path - full path of a listed message */
int
maildir_msg_path(const char *acctdir, const struct maildir_msg *m,
    char *out, size_t size)
{
	char dir[PATH_MAX];

	if ((unsigned)m->sub >= nitems(maildir_sub_dir) ||
	    fs_path(dir, sizeof(dir), acctdir, maildir_sub_dir[m->sub]) == -1)
		return -1;
	return fs_path(out, size, dir, m->name);
}

/* maildir_msg_open - open a listed message */
int
maildir_msg_open(const char *acctdir, const struct maildir_msg *m)
{
	char path[PATH_MAX];

	if (maildir_msg_path(acctdir, m, path, sizeof(path)) == -1)
		return -1;
	return open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

/* State of the POP3 conversion (maildir_pop3_copy). */
struct maildir_conv {
	maildir_sink	*sink;
	void		*arg;
	char		 out[16384];	/* staged output */
	size_t		 used;
	bool		 bol;		/* at the start of a line */
	bool		 cr;		/* a CR is held back */
	bool		 header;	/* still in the header section */
	bool		 stop;		/* TOP: enough lines, or sink error */
	bool		 failed;	/* the sink returned -1 */
	long		 left;		/* body lines to go, -1 = all */
};

/* conv_flush - hand the staged output to the sink */
static void
conv_flush(struct maildir_conv *c)
{
	if (c->used > 0 && !c->failed && c->sink(c->arg, c->out, c->used) ==
	    -1) {
		c->failed = true;
		c->stop = true;
	}
	c->used = 0;
}

/* conv_put - stage one output byte */
static inline void
conv_put(struct maildir_conv *c, char ch)
{
	c->out[c->used++] = ch;
	if (c->used == sizeof(c->out))
		conv_flush(c);
}

/* conv_text - one byte of line content; RFC 1939 3 dot-stuffing */
static inline void
conv_text(struct maildir_conv *c, char ch)
{
	if (c->bol) {
		c->bol = false;
		if (ch == '.')
			conv_put(c, '.');
	}
	conv_put(c, ch);
}

/* conv_eol - end of a line: CRLF, and count TOP's lines */
static void
conv_eol(struct maildir_conv *c)
{
	bool empty = c->bol;

	conv_put(c, '\r');
	conv_put(c, '\n');
	c->bol = true;
	if (c->header) {
		if (!empty)
			return;
		c->header = false;	/* RFC 5322 2.1: end of the header */
		if (c->left == 0)
			c->stop = true;
		return;
	}
	if (c->left > 0 && --c->left == 0)
		c->stop = true;
}

/* conv_feed - convert a chunk of the file */
static void
conv_feed(struct maildir_conv *c, const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len && !c->stop; i++) {
		if (c->cr) {
			c->cr = false;
			if (p[i] == '\n') {
				conv_eol(c);
				continue;
			}
			conv_text(c, '\r');	/* a bare CR is content */
		}
		if (p[i] == '\r')
			c->cr = true;
		else if (p[i] == '\n')
			conv_eol(c);
		else
			conv_text(c, p[i]);
	}
}

/* maildir_pop3_copy - the message in POP3 form, to a sink */
int
maildir_pop3_copy(int fd, long body_lines, maildir_sink *sink, void *arg)
{
	struct maildir_conv *c = calloc(1, sizeof(*c));
	char *chunk = maildir_rbuf;
	ssize_t got;
	int r = 0;

	if (c == NULL)
		return -1;
	c->sink = sink;
	c->arg = arg;
	c->bol = c->header = true;
	c->left = body_lines < 0 ? -1 : body_lines;
	while (!c->stop) {
		got = read(fd, chunk, sizeof(maildir_rbuf));
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0) {
			r = got == 0 ? 0 : -1;
			break;
		}
		conv_feed(c, chunk, (size_t)got);
	}
	if (r == 0 && !c->stop) {
		if (c->cr)
			conv_text(c, '\r');
		if (!c->bol)
			conv_eol(c);
	}
	conv_flush(c);
	if (c->failed)
		r = -1;
	free(c);
	return r;
}

/* maildir_msg_delete - remove a listed message */
int
maildir_msg_delete(const char *acctdir, const struct maildir_msg *m)
{
	char path[PATH_MAX];

	if (maildir_msg_path(acctdir, m, path, sizeof(path)) == -1)
		return -1;
	if (unlink(path) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

/* maildir_sync - fsync the message directories */
int
maildir_sync(const char *acctdir, bool maildir)
{
	enum maildir_sub first = maildir ? MAILDIR_SUB_NEW : MAILDIR_SUB_MBOX;
	enum maildir_sub last = maildir ? MAILDIR_SUB_CUR : MAILDIR_SUB_MBOX;
	char path[PATH_MAX];
	int sub, r = 0;

	for (sub = (int)first; sub <= (int)last; sub++) {
		if (fs_path(path, sizeof(path), acctdir,
		    maildir_sub_dir[sub]) == -1)
			return -1;
		if (fs_is_dir(path) && fs_fsync_dir(path) == -1)
			r = -1;
	}
	return r;
}
