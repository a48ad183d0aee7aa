/* test_buf.c - struct buf limits and operations */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

static void
test_empty_is_string(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 10);
	assert_string_equal(b.data, "");
	assert_int_equal(b.len, 0);
	buf_clear(&b);
}

static void
test_limit(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 5);
	assert_int_equal(buf_puts(&b, "abc"), 0);
	assert_int_equal(buf_puts(&b, "de"), 0);
	assert_int_equal(buf_putc(&b, 'f'), -1);
	assert_int_equal(buf_printf(&b, "%d", 1), -1);
	assert_string_equal(b.data, "abcde");
	assert_int_equal(b.len, 5);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(buf_printf(&b, "%s-%d", "ab", 12), 0);
	assert_string_equal(b.data, "ab-12");
	buf_clear(&b);
}

static void
test_growth_and_take(void **state)
{
	struct buf b;
	char *p;
	int i;

	(void)state;
	buf_init(&b, 1 << 20);
	for (i = 0; i < 10000; i++)
		assert_int_equal(buf_putc(&b, 'x'), 0);
	assert_int_equal(b.len, 10000);
	assert_int_equal(b.data[10000], '\0');
	p = buf_take(&b);
	assert_int_equal(strlen(p), 10000);
	assert_int_equal(b.len, 0);
	free(p);
	p = buf_take(&b);
	assert_string_equal(p, "");
	free(p);
	buf_clear(&b);
}

static void
test_binary_append(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 100);
	assert_int_equal(buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 4);
	assert_int_equal(buf_append(&b, NULL, 0), 0);
	buf_clear(&b);
}

static void
test_str_copy(void **state)
{
	char small[4];

	(void)state;
	assert_true(str_copy(small, "abc", sizeof(small)));
	assert_string_equal(small, "abc");
	assert_false(str_copy(small, "abcd", sizeof(small)));
	assert_string_equal(small, "abc");
	assert_true(str_lower_copy(small, "A-Z", sizeof(small)));
	assert_string_equal(small, "a-z");
	assert_false(str_lower_copy(small, "ABCD", sizeof(small)));
	assert_string_equal(small, "abc");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_is_string),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_growth_and_take),
		cmocka_unit_test(test_binary_append),
		cmocka_unit_test(test_str_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
