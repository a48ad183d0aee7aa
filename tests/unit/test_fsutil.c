/*
 * test_fsutil.c - durable file operations (core/fsutil.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "testutil.h"

/* put_file - create name with content (test helper, not under test) */
static void
put_file(const char *path, const char *content, mode_t mode)
{
	FILE *f;

	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* read_all - the content of path (test helper); caller frees */
static char *
read_all(const char *path)
{
	struct buf b;

	buf_init(&b, 1 << 24);
	assert_int_equal(fs_read_file(path, &b), 0);
	return buf_take(&b);
}

/* count_entries - entries of dir other than . and .. */
static int
count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

/* file_mode - permission bits of path */
static mode_t
file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

/* test_atomic_new - a new file gets `mode` and the content */
static void
test_atomic_new(void **state)
{
	char path[PATH_MAX], *got;

	strcpy(path, tu_path(state, "new.tab"));
	assert_int_equal(fs_write_atomic(path, "hello\n", 6, 0640), 0);
	got = read_all(path);
	assert_string_equal(got, "hello\n");
	free(got);
	assert_int_equal(file_mode(path), 0640);
	assert_int_equal(count_entries(*state), 1);
}

/* test_atomic_replace - content replaced, old mode kept, no temp left */
static void
test_atomic_replace(void **state)
{
	char path[PATH_MAX], *got;

	strcpy(path, tu_path(state, "server.tab"));
	put_file(path, "old content that is longer\n", 0604);
	assert_int_equal(fs_write_atomic(path, "new\n", 4, 0600), 0);
	got = read_all(path);
	assert_string_equal(got, "new\n");
	free(got);
	assert_int_equal(file_mode(path), 0604);
	assert_int_equal(count_entries(*state), 1);
}

/* test_atomic_sizes - round trip of several sizes, including 0 */
static void
test_atomic_sizes(void **state)
{
	static const size_t sizes[] = { 0, 1, 4095, 4096, 16384, 16385,
	    (1 << 20) + 3 };
	char path[PATH_MAX];
	struct buf b;
	char *data;
	size_t i, j;

	strcpy(path, tu_path(state, "f"));
	for (i = 0; i < nitems(sizes); i++) {
		data = malloc(sizes[i] + 1);
		assert_non_null(data);
		for (j = 0; j < sizes[i]; j++)
			data[j] = (char)('a' + (i + j) % 26);
		assert_int_equal(fs_write_atomic(path, data, sizes[i], 0600),
		    0);
		buf_init(&b, sizes[i]);
		assert_int_equal(fs_read_file(path, &b), 0);
		assert_int_equal(b.len, sizes[i]);
		assert_memory_equal(b.data, data, sizes[i]);
		buf_clear(&b);
		free(data);
		assert_int_equal(count_entries(*state), 1);
	}
}

/* test_atomic_no_dir - missing directory: ENOENT, nothing created */
static void
test_atomic_no_dir(void **state)
{
	errno = 0;
	assert_int_equal(fs_write_atomic(tu_path(state, "nodir/file"), "x", 1,
	    0600), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(count_entries(*state), 0);
}

/* test_atomic_is_dir - a directory is not replaced: EISDIR */
static void
test_atomic_is_dir(void **state)
{
	char path[PATH_MAX];

	strcpy(path, tu_path(state, "d"));
	assert_int_equal(mkdir(path, 0700), 0);
	errno = 0;
	assert_int_equal(fs_write_atomic(path, "x", 1, 0600), -1);
	assert_int_equal(errno, EISDIR);
	assert_true(fs_is_dir(path));
	assert_int_equal(count_entries(*state), 1);
	assert_int_equal(count_entries(path), 0);
}

/* test_atomic_write_fails - a failing write leaves old file, no temp */
static void
test_atomic_write_fails(void **state)
{
	char path[PATH_MAX], *big, *got;
	struct rlimit old, rl;
	void (*oldsig)(int);

	strcpy(path, tu_path(state, "keep.tab"));
	put_file(path, "original\n", 0644);
	big = malloc(65536);
	assert_non_null(big);
	memset(big, 'x', 65536);
	/* RLIMIT_FSIZE makes write(2) fail with EFBIG, even for root. */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	rl = old;
	rl.rlim_cur = 4096;
	oldsig = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
	errno = 0;
	assert_int_equal(fs_write_atomic(path, big, 65536, 0600), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, oldsig);
	free(big);
	got = read_all(path);
	assert_string_equal(got, "original\n");
	free(got);
	assert_int_equal(file_mode(path), 0644);
	assert_int_equal(count_entries(*state), 1);
}

/* test_atomic_symlink - a link at path is replaced, its target untouched */
static void
test_atomic_symlink(void **state)
{
	char target[PATH_MAX], link[PATH_MAX], *got;
	struct stat st;

	strcpy(target, tu_path(state, "target"));
	strcpy(link, tu_path(state, "link"));
	put_file(target, "target\n", 0600);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(fs_write_atomic(link, "new\n", 4, 0600), 0);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	got = read_all(target);
	assert_string_equal(got, "target\n");
	free(got);
	got = read_all(link);
	assert_string_equal(got, "new\n");
	free(got);
}

/* test_write_new - O_EXCL create, EEXIST on an existing name or link */
static void
test_write_new(void **state)
{
	char path[PATH_MAX], link[PATH_MAX], *got;

	strcpy(path, tu_path(state, "msg"));
	assert_int_equal(fs_write_new(path, "one", 3, 0600), 0);
	assert_int_equal(file_mode(path), 0600);
	errno = 0;
	assert_int_equal(fs_write_new(path, "two", 3, 0600), -1);
	assert_int_equal(errno, EEXIST);
	got = read_all(path);
	assert_string_equal(got, "one");
	free(got);

	/* A dangling link must not be followed to create its target. */
	strcpy(link, tu_path(state, "dangling"));
	strcpy(path, tu_path(state, "created"));
	assert_int_equal(symlink(path, link), 0);
	errno = 0;
	assert_int_equal(fs_write_new(link, "x", 1, 0600), -1);
	assert_int_equal(errno, EEXIST);
	assert_false(fs_exists(path));

	errno = 0;
	assert_int_equal(fs_write_new(tu_path(state, "no/such"), "x", 1, 0600),
	    -1);
	assert_int_equal(errno, ENOENT);
}

/* Cases for fs_read_file: file size, prefix already in the buffer, max. */
static const struct {
	const char	*name;
	size_t		 size;
	const char	*prefix;
	size_t		 max;
	int		 ret;
	int		 err;
} read_cases[] = {
	{ "empty file, max 0", 0, "", 0, 0, 0 },
	{ "exactly max", 10, "", 10, 0, 0 },
	{ "one over max", 11, "", 10, -1, EFBIG },
	{ "append within max", 10, "abc", 13, 0, 0 },
	{ "append one over", 10, "abc", 12, -1, EFBIG },
	{ "more than a chunk", 40000, "", 40000, 0, 0 },
	{ "chunk, one over", 40000, "", 39999, -1, EFBIG },
};

/* test_read_limit - out->max is enforced, the buffer kept on failure */
static void
test_read_limit(void **state)
{
	char path[PATH_MAX], *data;
	size_t i, plen;
	struct buf b;

	strcpy(path, tu_path(state, "in"));
	for (i = 0; i < nitems(read_cases); i++) {
		data = calloc(1, read_cases[i].size + 1);
		assert_non_null(data);
		memset(data, 'z', read_cases[i].size);
		assert_int_equal(fs_write_atomic(path, data,
		    read_cases[i].size, 0600), 0);
		buf_init(&b, read_cases[i].max);
		plen = strlen(read_cases[i].prefix);
		assert_int_equal(buf_puts(&b, read_cases[i].prefix), 0);
		errno = 0;
		if (fs_read_file(path, &b) != read_cases[i].ret)
			fail_msg("%s: wrong return", read_cases[i].name);
		if (read_cases[i].ret == -1) {
			assert_int_equal(errno, read_cases[i].err);
			assert_int_equal(b.len, plen);
			assert_string_equal(b.data, read_cases[i].prefix);
		} else {
			assert_int_equal(b.len, plen + read_cases[i].size);
			assert_memory_equal(b.data + plen, data,
			    read_cases[i].size);
			assert_int_equal(b.data[b.len], '\0');
		}
		buf_clear(&b);
		free(data);
	}
}

/* test_read_special - directories, FIFOs and missing files are refused */
static void
test_read_special(void **state)
{
	char fifo[PATH_MAX];
	struct buf b;

	buf_init(&b, 1024);
	errno = 0;
	assert_int_equal(fs_read_file(*state, &b), -1);
	assert_int_equal(errno, EISDIR);
	strcpy(fifo, tu_path(state, "fifo"));
	assert_int_equal(mkfifo(fifo, 0600), 0);
	errno = 0;
	assert_int_equal(fs_read_file(fifo, &b), -1);	/* must not block */
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(fs_read_file(tu_path(state, "missing"), &b), -1);
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_int_equal(fs_read_file("/dev/null", &b), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(b.len, 0);
	buf_clear(&b);
}

/* Paths for fs_mkdir_p, relative to the test directory. */
static const struct {
	const char	*path;
	const char	*check;		/* directory that must now exist */
} mkdir_cases[] = {
	{ "a", "a" },
	{ "a", "a" },			/* existing is fine */
	{ "b/c/d", "b/c/d" },
	{ "e/f/", "e/f" },		/* trailing slash */
	{ "g//h///", "g/h" },		/* repeated slashes */
	{ "b/c/d/e", "b/c/d/e" },	/* below an existing one */
};

/* test_mkdir_p - parents created, existing and odd slashes accepted */
static void
test_mkdir_p(void **state)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < nitems(mkdir_cases); i++) {
		strcpy(path, tu_path(state, mkdir_cases[i].path));
		if (fs_mkdir_p(path, 0750) != 0)
			fail_msg("%s: %s", mkdir_cases[i].path,
			    strerror(errno));
		assert_true(fs_is_dir(tu_path(state, mkdir_cases[i].check)));
	}
	assert_int_equal(file_mode(tu_path(state, "b/c")), 0750);
	assert_int_equal(fs_mkdir_p("/", 0755), 0);
}

/* test_mkdir_p_errors - a file in the way, an empty path */
static void
test_mkdir_p_errors(void **state)
{
	char path[PATH_MAX];

	strcpy(path, tu_path(state, "file"));
	put_file(path, "x", 0600);
	errno = 0;
	assert_int_equal(fs_mkdir_p(tu_path(state, "file/sub"), 0700), -1);
	assert_int_equal(errno, ENOTDIR);
	errno = 0;
	assert_int_equal(fs_mkdir_p(path, 0700), -1);
	assert_int_equal(errno, ENOTDIR);
	errno = 0;
	assert_int_equal(fs_mkdir_p("", 0700), -1);
	assert_int_equal(errno, ENOENT);
}

/* test_rm_tree - nested tree removed; links removed, targets survive */
static void
test_rm_tree(void **state)
{
	char outside[PATH_MAX], secret[PATH_MAX], tree[PATH_MAX];
	char lone[PATH_MAX], *got;

	/* Outside the tree: a directory with a file, and a lone file. */
	strcpy(outside, tu_path(state, "outside"));
	assert_int_equal(mkdir(outside, 0700), 0);
	strcpy(secret, tu_path(state, "outside/secret"));
	put_file(secret, "keep me\n", 0600);
	put_file(tu_path(state, "lonefile"), "keep me too\n", 0600);

	strcpy(tree, tu_path(state, "tree"));
	assert_int_equal(fs_mkdir_p(tu_path(state, "tree/a/b/c"), 0700), 0);
	assert_int_equal(fs_mkdir_p(tu_path(state, "tree/empty"), 0700), 0);
	put_file(tu_path(state, "tree/f1"), "1", 0600);
	put_file(tu_path(state, "tree/a/f2"), "2", 0400);
	put_file(tu_path(state, "tree/a/b/c/f3"), "3", 0600);
	put_file(tu_path(state, "tree/a/b/.hidden"), "h", 0600);
	assert_int_equal(symlink(outside, tu_path(state, "tree/a/dirlink")), 0);
	strcpy(lone, tu_path(state, "lonefile"));
	assert_int_equal(symlink(lone, tu_path(state, "tree/a/b/filelink")), 0);
	assert_int_equal(symlink("/nonexistent",
	    tu_path(state, "tree/dangling")), 0);
	assert_int_equal(mkfifo(tu_path(state, "tree/a/fifo"), 0600), 0);

	assert_int_equal(fs_rm_tree(tree), 0);
	assert_false(fs_exists(tree));
	got = read_all(secret);
	assert_string_equal(got, "keep me\n");
	free(got);
	got = read_all(lone);
	assert_string_equal(got, "keep me too\n");
	free(got);
	assert_int_equal(count_entries(outside), 1);
	assert_int_equal(count_entries(*state), 2);
}

/* test_rm_tree_top - a top-level link, a file, a missing path */
static void
test_rm_tree_top(void **state)
{
	char dir[PATH_MAX], link[PATH_MAX];

	strcpy(dir, tu_path(state, "dir"));
	assert_int_equal(mkdir(dir, 0700), 0);
	put_file(tu_path(state, "dir/f"), "f", 0600);
	strcpy(link, tu_path(state, "link"));
	assert_int_equal(symlink(dir, link), 0);
	assert_int_equal(fs_rm_tree(link), 0);
	assert_false(fs_exists(link));
	assert_true(fs_exists(tu_path(state, "dir/f")));

	assert_int_equal(fs_rm_tree(tu_path(state, "dir/f")), 0);
	assert_false(fs_exists(tu_path(state, "dir/f")));
	assert_true(fs_is_dir(dir));

	errno = 0;
	assert_int_equal(fs_rm_tree(tu_path(state, "missing")), -1);
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_int_equal(fs_rm_tree(""), -1);
	assert_int_equal(errno, ENOENT);
}

/* Cases for fs_path with a 16-byte output buffer. */
static const struct {
	const char	*dir;
	const char	*name;
	const char	*want;		/* NULL: must fail */
	int		 err;
} path_cases[] = {
	{ "a", "b", "a/b", 0 },
	{ "a/", "b", "a/b", 0 },
	{ "/", "etc", "/etc", 0 },
	{ "a", "/b", "a/b", 0 },
	{ "dir", "", "dir/", 0 },
	{ "0123456", "0123456", "0123456/0123456", 0 },	/* 15 + NUL */
	{ "0123456", "01234567", NULL, ENAMETOOLONG },	/* 16 + NUL */
	{ "a-very-long-directory", "x", NULL, ENAMETOOLONG },
	{ "", "x", NULL, EINVAL },
};

/* test_path - joining, exact fit, too long */
static void
test_path(void **state)
{
	char out[16];
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < nitems(path_cases); i++) {
		errno = 0;
		r = fs_path(out, sizeof(out), path_cases[i].dir,
		    path_cases[i].name);
		if (path_cases[i].want != NULL) {
			assert_int_equal(r, 0);
			assert_string_equal(out, path_cases[i].want);
		} else {
			assert_int_equal(r, -1);
			assert_int_equal(errno, path_cases[i].err);
			assert_string_equal(out, "");
		}
	}
}

/* test_path_max - a PATH_MAX-sized result does not fit PATH_MAX bytes */
static void
test_path_max(void **state)
{
	char out[PATH_MAX], *name;

	name = malloc(PATH_MAX);
	assert_non_null(name);
	memset(name, 'n', PATH_MAX - 1);
	name[PATH_MAX - 1] = '\0';
	errno = 0;
	assert_int_equal(fs_path(out, sizeof(out), *state, name), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	errno = 0;
	assert_int_equal(fs_write_atomic(name, "x", 1, 0600), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	free(name);
}

/* test_exists - lstat and stat semantics, fsync helpers */
static void
test_exists(void **state)
{
	char dir[PATH_MAX], link[PATH_MAX];

	strcpy(dir, tu_path(state, "d"));
	assert_int_equal(mkdir(dir, 0700), 0);
	strcpy(link, tu_path(state, "dirlink"));
	assert_int_equal(symlink(dir, link), 0);
	assert_true(fs_exists(dir));
	assert_true(fs_is_dir(link));
	assert_int_equal(symlink("/nonexistent", tu_path(state, "dangling")), 0);
	assert_true(fs_exists(tu_path(state, "dangling")));
	assert_false(fs_is_dir(tu_path(state, "dangling")));
	assert_false(fs_exists(tu_path(state, "none")));

	assert_int_equal(fs_fsync_dir(dir), 0);
	assert_int_equal(fs_fsync_parent(tu_path(state, "d/x")), 0);
	assert_int_equal(fs_fsync_parent(tu_path(state, "d/")), 0);
	assert_int_equal(fs_fsync_parent("relative-name"), 0);
	assert_int_equal(fs_fsync_parent("/etc"), 0);
	errno = 0;
	assert_int_equal(fs_fsync_dir(tu_path(state, "none")), -1);
	assert_int_equal(errno, ENOENT);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

/* main - run the group with a known umask */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_atomic_new),
		T(test_atomic_replace),
		T(test_atomic_sizes),
		T(test_atomic_no_dir),
		T(test_atomic_is_dir),
		T(test_atomic_write_fails),
		T(test_atomic_symlink),
		T(test_write_new),
		T(test_read_limit),
		T(test_read_special),
		T(test_mkdir_p),
		T(test_mkdir_p_errors),
		T(test_rm_tree),
		T(test_rm_tree_top),
		T(test_path),
		T(test_path_max),
		T(test_exists),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
