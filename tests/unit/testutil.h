/*
 * testutil.h - helpers shared by the unit tests: a fresh temporary
 * directory per test (cmocka setup/teardown) and paths inside it.
 * Include after <cmocka.h>.
 */
#ifndef POSTROOM_TESTS_TESTUTIL_H
#define POSTROOM_TESTS_TESTUTIL_H

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fsutil.h"

/* tu_setup - a fresh temporary directory, its path in *state */
static inline int
tu_setup(void **state)
{
	char tmpl[] = "/tmp/postroom-test.XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return -1;
	*state = strdup(tmpl);
	return *state == NULL ? -1 : 0;
}

/* tu_teardown - remove the directory (made writable first) */
static inline int
tu_teardown(void **state)
{
	int r;

	(void)chmod(*state, 0700);
	r = fs_rm_tree(*state);
	free(*state);
	return r;
}

/* tu_path - "<dir>/<name>" in a static buffer: one use per statement */
static inline const char *
tu_path(void **state, const char *name)
{
	static char p[PATH_MAX];

	assert_int_equal(fs_path(p, sizeof(p), *state, name), 0);
	return p;
}

/* tu_cmp_str - qsort comparator for char * */
static inline int
tu_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* tu_assert_distinct - no two of the n strings are equal (sorts them) */
static inline void
tu_assert_distinct(char **names, size_t n)
{
	size_t i;

	qsort(names, n, sizeof(*names), tu_cmp_str);
	for (i = 1; i < n; i++)
		assert_string_not_equal(names[i - 1], names[i]);
}

#endif
