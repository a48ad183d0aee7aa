/* test_store_edit.c - table lock and read-modify-write of TAB files */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/tab.h"
#include "store/store_edit.h"
#include "testutil.h"

/* What the test callbacks do: drop `drop`, replace `repl` by `with`. */
struct spec {
	const char	*drop;		/* key of records to drop */
	const char	*repl;		/* key of records to replace */
	const char	*with;		/* their new value, "": none */
	const char	*tail;		/* appended by end(), or NULL */
	int		 abort;		/* end() result */
	unsigned	 seen;		/* records passed to rec() */
	unsigned	 last_lineno;
};

/* t_rec - the test rec() */
static enum store_tab_act
t_rec(const struct tab_rec *r, struct buf *repl, void *arg)
{
	struct spec *s = arg;
	const char *f[2];

	s->seen++;
	s->last_lineno = r->lineno;
	if (s->drop != NULL && strcmp(r->f[0], s->drop) == 0)
		return STORE_TAB_DROP;
	if (s->repl == NULL || strcmp(r->f[0], s->repl) != 0)
		return STORE_TAB_KEEP;
	if (*s->with != '\0') {
		f[0] = r->f[0];
		f[1] = s->with;
		assert_int_equal(tab_format(repl, f, 2, 0), 0);
	}
	return STORE_TAB_REPLACE;
}

/* t_end - the test end() */
static int
t_end(struct buf *tail, void *arg)
{
	struct spec *s = arg;

	if (s->abort != 0)
		return s->abort;
	if (s->tail != NULL)
		assert_int_equal(buf_puts(tail, s->tail), 0);
	return 0;
}

/* put - write a file below the test directory */
static void
put(void **state, const char *name, const char *text)
{
	assert_int_equal(fs_write_atomic(tu_path(state, name), text,
	    strlen(text), 0600), 0);
}

/* get - content of a file below the test directory (free it) */
static char *
get(void **state, const char *name)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	assert_int_equal(fs_read_file(tu_path(state, name), &b), 0);
	return buf_take(&b);
}

/* edit - run the test op on "t.tab" */
static int
edit(void **state, struct spec *s)
{
	struct store_tab_op op = { t_rec, t_end, s };

	return store_tab_edit(*state, "t.tab", 0600, &op);
}

struct edit_case {
	const char	*name;
	const char	*in;
	struct spec	 spec;
	int		 rc;
	const char	*out;
};

static const struct edit_case edit_cases[] = {
	{ "drop keeps comments, blank and malformed lines",
	  "# head\n\n\"a\"\t\"1\"\n\"open\n\"b\"\t\"2\"\n",
	  { .drop = "a" }, 0,
	  "# head\n\n\"open\n\"b\"\t\"2\"\n" },
	{ "drop every matching record",
	  "\"a\"\t\"1\"\n\"b\"\t\"2\"\n\"a\"\t\"3\"\n",
	  { .drop = "a" }, 0, "\"b\"\t\"2\"\n" },
	{ "replace in place",
	  "\"a\"\t\"1\"\n\"b\"\t\"2\"\n\"c\"\t\"3\"\n",
	  { .repl = "b", .with = "9" }, 0,
	  "\"a\"\t\"1\"\n\"b\"\t\"9\"\n\"c\"\t\"3\"\n" },
	{ "empty replacement drops",
	  "\"a\"\t\"1\"\n\"b\"\t\"2\"\n",
	  { .repl = "a", .with = "" }, 0, "\"b\"\t\"2\"\n" },
	{ "replaced last line gets its newline",
	  "\"a\"\t\"1\"",
	  { .repl = "a", .with = "2" }, 0, "\"a\"\t\"2\"\n" },
	{ "CRLF lines are parsed and kept",
	  "\"a\"\t\"1\"\r\n\"b\"\t\"2\"\r\n",
	  { .drop = "b" }, 0, "\"a\"\t\"1\"\r\n" },
	{ "unquoted fields",
	  "a\t1\nb\t2\n",
	  { .drop = "a" }, 0, "b\t2\n" },
	{ "byte order mark is not part of the key",
	  "\xef\xbb\xbf\"a\"\t\"1\"\n\"b\"\t\"2\"\n",
	  { .drop = "a" }, 0, "\"b\"\t\"2\"\n" },
	{ "tail after a last line without newline",
	  "\"a\"\t\"1\"",
	  { .tail = "\"c\"\t\"3\"\n" }, 0, "\"a\"\t\"1\"\n\"c\"\t\"3\"\n" },
	{ "tail after comments only",
	  "# only a comment\n",
	  { .tail = "\"c\"\t\"3\"\n" }, 0,
	  "# only a comment\n\"c\"\t\"3\"\n" },
	{ "abort keeps the file",
	  "\"a\"\t\"1\"\n",
	  { .drop = "a", .tail = "\"x\"\n", .abort = 7 }, 7, "\"a\"\t\"1\"\n" },
	{ "a comment that looks like a record is not passed",
	  "#\"a\"\t\"1\"\n",
	  { .drop = "#\"a\"" }, 0, "#\"a\"\t\"1\"\n" },
};

/* test_edit_cases - content after each edit */
static void
test_edit_cases(void **state)
{
	size_t i;
	char *out;

	for (i = 0; i < nitems(edit_cases); i++) {
		const struct edit_case *c = &edit_cases[i];
		struct spec s = c->spec;

		print_message("case: %s\n", c->name);
		put(state, "t.tab", c->in);
		assert_int_equal(edit(state, &s), c->rc);
		out = get(state, "t.tab");
		assert_string_equal(out, c->out);
		free(out);
	}
}

/* test_linenos - records carry their line number in the file */
static void
test_linenos(void **state)
{
	struct spec s = { 0 };

	put(state, "t.tab", "# c\n\n\"a\"\n\"b\"\t\"2\"\n");
	assert_int_equal(edit(state, &s), 0);
	assert_int_equal(s.seen, 2);
	assert_int_equal(s.last_lineno, 4);
}

/* same_file - two stats of the same, untouched file */
static void
same_file(const struct stat *a, const struct stat *b)
{
	assert_true(a->st_ino == b->st_ino);
	assert_true(a->st_mtim.tv_sec == b->st_mtim.tv_sec);
	assert_true(a->st_mtim.tv_nsec == b->st_mtim.tv_nsec);
}

/* test_unchanged_not_written - no drop, replace or tail: no write */
static void
test_unchanged_not_written(void **state)
{
	struct spec s = { .drop = "zz" };
	struct stat a, b;

	put(state, "t.tab", "\"a\"\t\"1\"\n");
	assert_int_equal(stat(tu_path(state, "t.tab"), &a), 0);
	assert_int_equal(edit(state, &s), 0);
	assert_int_equal(stat(tu_path(state, "t.tab"), &b), 0);
	same_file(&a, &b);
	/* An aborted edit does not write either. */
	s.abort = 3;
	s.drop = "a";
	assert_int_equal(edit(state, &s), 3);
	assert_int_equal(stat(tu_path(state, "t.tab"), &b), 0);
	same_file(&a, &b);
}

/* test_missing_file - an empty table, created (with `mode`) on add */
static void
test_missing_file(void **state)
{
	struct spec s = { 0 };
	struct store_tab_op op = { t_rec, t_end, &s };
	struct stat st;
	mode_t old = umask(022);
	char *out;

	assert_int_equal(store_tab_edit(*state, "new.tab", 0640, &op), 0);
	assert_false(fs_exists(tu_path(state, "new.tab")));
	s.tail = "\"n\"\t\"1\"\n";
	assert_int_equal(store_tab_edit(*state, "new.tab", 0640, &op), 0);
	assert_int_equal(s.seen, 0);
	assert_int_equal(stat(tu_path(state, "new.tab"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	out = get(state, "new.tab");
	assert_string_equal(out, "\"n\"\t\"1\"\n");
	free(out);
	/* An existing file keeps its own mode. */
	assert_int_equal(chmod(tu_path(state, "new.tab"), 0604), 0);
	assert_int_equal(store_tab_edit(*state, "new.tab", 0600, &op), 0);
	assert_int_equal(stat(tu_path(state, "new.tab"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0604);
	(void)umask(old);
}

/* test_null_callbacks - no rec(), no end(): nothing changes */
static void
test_null_callbacks(void **state)
{
	struct store_tab_op op = { NULL, NULL, NULL };
	char *out;

	put(state, "t.tab", "\"a\"\n");
	assert_int_equal(store_tab_edit(*state, "t.tab", 0600, &op), 0);
	out = get(state, "t.tab");
	assert_string_equal(out, "\"a\"\n");
	free(out);
}

/* test_subdir - a table below the MailRoot, e.g. an account's file */
static void
test_subdir(void **state)
{
	struct spec s = { .tail = "\"x\"\t\"y\"\n" };
	struct store_tab_op op = { t_rec, t_end, &s };
	char *out;

	assert_int_equal(fs_mkdir_p(tu_path(state, "domains/d.test/u"),
	    0700), 0);
	assert_int_equal(store_tab_edit(*state, "domains/d.test/u/user.tab",
	    0600, &op), 0);
	out = get(state, "domains/d.test/u/user.tab");
	assert_string_equal(out, "\"x\"\t\"y\"\n");
	free(out);
	/* A missing directory is an I/O error, not a crash. */
	assert_int_equal(store_tab_edit(*state, "nodir/x.tab", 0600, &op),
	    -1);
}

/* test_bad_paths - escapes from the MailRoot are refused */
static void
test_bad_paths(void **state)
{
	static const char *const bad[] = { "../t.tab", "a/../../t.tab",
	    "/etc/passwd", "", "..", "a/.." };
	struct spec s = { .tail = "\"x\"\n" };
	struct store_tab_op op = { t_rec, t_end, &s };
	size_t i;

	for (i = 0; i < nitems(bad); i++) {
		errno = 0;
		assert_int_equal(store_tab_edit(*state, bad[i], 0600, &op),
		    -1);
		assert_int_equal(errno, EINVAL);
	}
	/* Names that merely contain dots are fine. */
	assert_int_equal(store_tab_edit(*state, "..x.tab", 0600, &op), 0);
	assert_true(fs_exists(tu_path(state, "..x.tab")));
}

/* test_too_big - a table over 64 MiB is refused unchanged */
static void
test_too_big(void **state)
{
	struct spec s = { .tail = "\"x\"\n" };
	struct stat st;
	int fd;

	fd = open(tu_path(state, "t.tab"), O_WRONLY | O_CREAT, 0600);
	assert_true(fd != -1);
	assert_int_equal(ftruncate(fd, ((off_t)64 << 20) + 1), 0);
	(void)close(fd);
	errno = 0;
	assert_int_equal(edit(state, &s), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(stat(tu_path(state, "t.tab"), &st), 0);
	assert_int_equal(st.st_size, ((off_t)64 << 20) + 1);
}

/* test_lock_errors - missing MailRoot, symbolic link as lock file */
static void
test_lock_errors(void **state)
{
	int fd;

	assert_int_equal(store_lock(tu_path(state, "nonexistent")), -1);
	assert_int_equal(symlink("/tmp/whatever",
	    tu_path(state, ".tables.lock")), 0);
	assert_int_equal(store_lock(*state), -1);
	assert_int_equal(unlink(tu_path(state, ".tables.lock")), 0);
	fd = store_lock(*state);
	assert_true(fd >= 0);
	store_unlock(fd);
	store_unlock(-1);
}

/* A writer thread of the concurrency test. */
struct writer {
	const char	*root;
	const char	*tag;
	int		 fails;
};

/* append_end - add one record "tag" "n" */
static int
append_end(struct buf *tail, void *arg)
{
	return buf_puts(tail, arg) == -1 ? 1 : 0;
}

/* writer_main - 200 locked appends */
static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	char rec[64];
	struct store_tab_op op = { NULL, append_end, rec };
	int i, fd;

	for (i = 0; i < 200; i++) {
		(void)snprintf(rec, sizeof(rec), "\"%s\"\t\"%d\"\n", w->tag,
		    i);
		if ((fd = store_lock(w->root)) == -1) {
			w->fails++;
			continue;
		}
		if (store_tab_edit(w->root, "c.tab", 0600, &op) != 0)
			w->fails++;
		store_unlock(fd);
	}
	return NULL;
}

/* test_concurrent_writers - no append is lost under the lock */
static void
test_concurrent_writers(void **state)
{
	struct writer w[2] = { { *state, "a", 0 }, { *state, "b", 0 } };
	pthread_t th[2];
	struct tab t;
	char want[16];
	size_t i, n[2] = { 0, 0 };

	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, writer_main,
		    &w[i]), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(w[0].fails + w[1].fails, 0);
	assert_int_equal(tab_load(tu_path(state, "c.tab"), &t), 0);
	assert_int_equal(t.nrecs, 400);
	/* Each writer's records are all there, in its own order. */
	for (i = 0; i < t.nrecs; i++) {
		size_t k = strcmp(t.recs[i].f[0], "a") == 0 ? 0 : 1;

		(void)snprintf(want, sizeof(want), "%zu", n[k]++);
		assert_string_equal(t.recs[i].f[1], want);
	}
	assert_int_equal(n[0], 200);
	assert_int_equal(n[1], 200);
	tab_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_edit_cases, tu_setup,
		    tu_teardown),
		cmocka_unit_test_setup_teardown(test_linenos, tu_setup,
		    tu_teardown),
		cmocka_unit_test_setup_teardown(test_unchanged_not_written,
		    tu_setup, tu_teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, tu_setup,
		    tu_teardown),
		cmocka_unit_test_setup_teardown(test_null_callbacks, tu_setup,
		    tu_teardown),
		cmocka_unit_test_setup_teardown(test_subdir, tu_setup,
		    tu_teardown),
		cmocka_unit_test_setup_teardown(test_bad_paths, tu_setup,
		    tu_teardown),
		cmocka_unit_test_setup_teardown(test_too_big, tu_setup,
		    tu_teardown),
		cmocka_unit_test_setup_teardown(test_lock_errors, tu_setup,
		    tu_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers,
		    tu_setup, tu_teardown),
	};

	log_init("test_store_edit", false, false, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
