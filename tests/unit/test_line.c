/* test_line.c - the CRLF line reader */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <event2/buffer.h>

#include "core/line.h"

struct line_case {
	const char	*name;
	const char	*input;
	size_t		 inlen;
	size_t		 max;
	const char	*lines[4];	/* expected lines, NULL-terminated */
	enum line_status last;		/* status after the last line */
	size_t		 left;		/* bytes left in the buffer */
};

#define S(x)	x, sizeof(x) - 1

static const struct line_case cases[] = {
	{ "one line", S("HELO x\r\n"), 512, { "HELO x" }, LINE_MORE, 0 },
	{ "two lines", S("a\r\nb\r\n"), 512, { "a", "b" }, LINE_MORE, 0 },
	{ "partial", S("a\r\nbc"), 512, { "a" }, LINE_MORE, 2 },
	{ "bare LF stays inside", S("a\nb\r\n"), 512, { "a\nb" },
	    LINE_MORE, 0 },
	{ "bare CR stays inside", S("a\rb\r\n"), 512, { "a\rb" },
	    LINE_MORE, 0 },
	{ "LF.LF is no end", S("x\n.\n"), 512, { NULL }, LINE_MORE, 4 },
	{ "empty line", S("\r\n"), 512, { "" }, LINE_MORE, 0 },
	{ "exactly max", S("abcd\r\n"), 4, { "abcd" }, LINE_MORE, 0 },
	{ "one over max", S("abcde\r\n"), 4, { NULL }, LINE_TOO_LONG, 7 },
	{ "over max, no CRLF yet", S("abcdef"), 4, { NULL }, LINE_TOO_LONG,
	    6 },
	{ "max and pending CR", S("abcd\r"), 4, { NULL }, LINE_MORE, 5 },
	{ "NUL kept", S("a\0b\r\n"), 512, { NULL }, LINE_OK, 0 },
};

static void
test_cases(void **state)
{
	struct buf out;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct line_case *c = &cases[i];
		struct evbuffer *in = evbuffer_new();
		enum line_status st;

		buf_init(&out, 1 << 16);
		evbuffer_add(in, c->input, c->inlen);
		if (c->last == LINE_OK) {
			/* NUL case: check bytes, not strings. */
			assert_int_equal(line_read(in, 512, &out), LINE_OK);
			assert_int_equal(out.len, 3);
			assert_memory_equal(out.data, "a\0b", 3);
			evbuffer_free(in);
			buf_clear(&out);
			continue;
		}
		for (k = 0; c->lines[k] != NULL; k++) {
			st = line_read(in, c->max, &out);
			if (st != LINE_OK)
				fail_msg("%s: line %zu: status %d", c->name,
				    k, st);
			assert_string_equal(out.data, c->lines[k]);
		}
		st = line_read(in, c->max, &out);
		if (st != c->last)
			fail_msg("%s: final status %d", c->name, st);
		assert_int_equal(evbuffer_get_length(in), c->left);
		evbuffer_free(in);
		buf_clear(&out);
	}
}

static void
test_discard(void **state)
{
	struct evbuffer *in = evbuffer_new();
	struct buf out;

	(void)state;
	buf_init(&out, 100);
	evbuffer_add(in, "xxxxxxxxxx\r\nnext\r\n", 18);
	assert_int_equal(line_read(in, 4, &out), LINE_TOO_LONG);
	assert_int_equal(line_discard(in), 1);
	assert_int_equal(line_read(in, 4, &out), LINE_OK);
	assert_string_equal(out.data, "next");
	/* Without CRLF everything goes, but a final CR is kept. */
	evbuffer_add(in, "yyyy\r", 5);
	assert_int_equal(line_discard(in), 0);
	assert_int_equal(evbuffer_get_length(in), 1);
	evbuffer_add(in, "\nz\r\n", 4);
	assert_int_equal(line_read(in, 4, &out), LINE_OK);
	assert_string_equal(out.data, "");
	evbuffer_free(in);
	buf_clear(&out);
}

static void
test_ctl_eol(void **state)
{
	(void)state;
	assert_false(line_has_ctl_eol("abc", 3));
	assert_true(line_has_ctl_eol("a\rc", 3));
	assert_true(line_has_ctl_eol("a\nc", 3));
	assert_true(line_has_ctl_eol("a\0c", 3));
	assert_false(line_has_8bit("abc\x7f", 4));
	assert_true(line_has_8bit("a\xc3\xa9", 3));
	assert_false(line_has_8bit("\xff", 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_ctl_eol),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
