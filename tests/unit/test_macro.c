/*
 * test_macro.c - unit tests for macro substitution.
 */
#include <errno.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/macro.h"

#define PREFIX		"pre:"		/* existing content of `out` */
#define PREFIX_LEN	(sizeof(PREFIX) - 1)

static struct macro_var vars[] = {
	{ "FROM", "alice@example.com" },	/* 17 bytes */
	{ "RCPT", "bob@example.org" },
	{ "EMPTY", "" },
	{ "LOOP", "$(FROM)" },
	{ "AT", "@@FROM" },
	{ "PAREN", ")x(" },
	{ NULL, NULL },
};

/* A macro_expand case. */
struct expand_case {
	const char	*name;
	const char	*in;
	size_t		 max;		/* limit of out; 0 means 4096 */
	int		 rc;
	const char	*want;		/* appended text when rc == 0 */
};

static const struct expand_case expand_cases[] = {
	{ "empty", "", 0, 0, "" },
	{ "no macros", "plain text", 0, 0, "plain text" },
	{ "whole", "$(FROM)", 0, 0, "alice@example.com" },
	{ "inside", "<$(FROM)>", 0, 0, "<alice@example.com>" },
	{ "multiple", "$(FROM) to $(RCPT)", 0, 0,
	    "alice@example.com to bob@example.org" },
	{ "adjacent", "$(FROM)$(RCPT)", 0, 0,
	    "alice@example.combob@example.org" },
	{ "repeated", "$(RCPT),$(RCPT)", 0, 0,
	    "bob@example.org,bob@example.org" },
	{ "unknown", "$(NOPE)", 0, 0, "" },
	{ "unknown inside", "a$(NOPE)b", 0, 0, "ab" },
	{ "empty value", "x$(EMPTY)y", 0, 0, "xy" },
	{ "empty name", "a$()b", 0, 0, "ab" },
	{ "case-sensitive", "$(from)", 0, 0, "" },
	{ "unterminated", "$(FROM", 0, 0, "$(FROM" },
	{ "unterminated after one", "a $(FROM) $(RCPT", 0, 0,
	    "a alice@example.com $(RCPT" },
	{ "unterminated bare", "$(", 0, 0, "$(" },
	{ "dollar alone", "$", 0, 0, "$" },
	{ "dollar at end", "cost 5$", 0, 0, "cost 5$" },
	{ "dollar without paren", "$FROM", 0, 0, "$FROM" },
	{ "double dollar", "$$(FROM)", 0, 0, "$alice@example.com" },
	{ "space before paren", "$ (FROM)", 0, 0, "$ (FROM)" },
	{ "paren only", "(FROM)", 0, 0, "(FROM)" },
	{ "close first", ")$(FROM)(", 0, 0, ")alice@example.com(" },
	{ "nested", "$(A$(FROM))", 0, 0, ")" },
	{ "value not re-expanded", "$(LOOP)", 0, 0, "$(FROM)" },
	{ "value with paren", "$(PAREN)$(FROM)", 0, 0,
	    ")x(alice@example.com" },
	{ "at value not re-expanded", "$(AT)", 0, 0, "@@FROM" },
	{ "legacy", "@@FROM", 0, 0, "alice@example.com" },
	{ "legacy empty value", "@@EMPTY", 0, 0, "" },
	{ "legacy not re-expanded", "@@LOOP", 0, 0, "$(FROM)" },
	{ "legacy unknown kept", "@@NOPE", 0, 0, "@@NOPE" },
	{ "legacy bare", "@@", 0, 0, "@@" },
	{ "legacy not whole (prefix)", "x@@FROM", 0, 0, "x@@FROM" },
	{ "legacy not whole (suffix)", "@@FROM ", 0, 0, "@@FROM " },
	{ "legacy lower case", "@@from", 0, 0, "@@from" },
	{ "single at", "@FROM", 0, 0, "@FROM" },
	{ "legacy then dollar", "@@FROM$(RCPT)", 0, 0,
	    "@@FROMbob@example.org" },
	{ "utf-8 around", "\xc3\xa9$(RCPT)\xc3\xa9", 0, 0,
	    "\xc3\xa9" "bob@example.org\xc3\xa9" },
	{ "limit exact", "$(FROM)", PREFIX_LEN + 17, 0, "alice@example.com" },
	{ "limit one short", "$(FROM)", PREFIX_LEN + 16, -1, NULL },
	{ "limit literal", "abcdef", PREFIX_LEN + 5, -1, NULL },
	{ "limit literal exact", "abcdef", PREFIX_LEN + 6, 0, "abcdef" },
	{ "limit after macro", "$(FROM)!", PREFIX_LEN + 17, -1, NULL },
	{ "limit legacy", "@@FROM", PREFIX_LEN + 10, -1, NULL },
	{ "limit unterminated", "x$(FROM", PREFIX_LEN + 3, -1, NULL },
	{ "limit unknown fits", "$(NOPE)", PREFIX_LEN, 0, "" },
};

/* test_expand_table - run every expansion case */
static void
test_expand_table(void **state)
{
	const struct expand_case *c;
	struct buf out;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(expand_cases); i++) {
		c = &expand_cases[i];
		print_message("case %s\n", c->name);
		buf_init(&out, c->max ? c->max : 4096);
		assert_int_equal(buf_puts(&out, PREFIX), 0);
		assert_int_equal(macro_expand(&out, c->in, macro_table_lookup,
		    vars), c->rc);
		assert_memory_equal(out.data, PREFIX, PREFIX_LEN);
		if (c->rc == 0) {
			assert_string_equal(out.data + PREFIX_LEN, c->want);
		} else {
			assert_int_equal(out.len, PREFIX_LEN);
			assert_int_equal(out.data[PREFIX_LEN], '\0');
		}
		buf_clear(&out);
	}
}

/* A recording lookup: checks names are passed with their length. */
struct recorder {
	unsigned	 calls;
	char		 last[32];
};

/* record_lookup - remember the name, answer "<name>" for known names */
static const char *
record_lookup(void *arg, const char *name, size_t len)
{
	struct recorder *r = arg;

	assert_true(len > 0);
	assert_true(len < sizeof(r->last));
	memcpy(r->last, name, len);
	r->last[len] = '\0';
	r->calls++;
	return strcmp(r->last, "X") == 0 ? "[x]" : NULL;
}

/* test_expand_lookup_calls - names are not NUL-terminated, "" not asked */
static void
test_expand_lookup_calls(void **state)
{
	static const struct {
		const char	*in;
		unsigned	 calls;
		const char	*last;
		const char	*want;
	} cases[] = {
		{ "$(X)", 1, "X", "[x]" },
		{ "$(X)$(Y)", 2, "Y", "[x]" },
		{ "$()$()", 0, "", "" },
		{ "@@", 0, "", "@@" },
		{ "@@X", 1, "X", "[x]" },
		{ "@@Y$(X)", 2, "X", "@@Y[x]" },
		{ "$(X", 0, "", "$(X" },
	};
	struct recorder r;
	struct buf out;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		memset(&r, 0, sizeof(r));
		buf_init(&out, 256);
		assert_int_equal(macro_expand(&out, cases[i].in, record_lookup,
		    &r), 0);
		assert_int_equal(r.calls, cases[i].calls);
		assert_string_equal(r.last, cases[i].last);
		assert_string_equal(out.data, cases[i].want);
		buf_clear(&out);
	}
}

/* test_table_lookup - macro_table_lookup with lengths, not NULs */
static void
test_table_lookup(void **state)
{
	static const struct {
		const char	*name;
		size_t		 len;
		const char	*want;
	} cases[] = {
		{ "FROM", 4, "alice@example.com" },
		{ "FROMX", 4, "alice@example.com" },
		{ "FRO", 3, NULL },
		{ "FROMX", 5, NULL },
		{ "from", 4, NULL },
		{ "EMPTY", 5, "" },
		{ "", 0, NULL },
	};
	const char *v;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		v = macro_table_lookup(vars, cases[i].name,
		    cases[i].len);
		if (cases[i].want == NULL)
			assert_null(v);
		else
			assert_string_equal(v, cases[i].want);
	}
	assert_null(macro_table_lookup(NULL, "FROM", 4));
}

/* main - run the group */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand_table),
		cmocka_unit_test(test_expand_lookup_calls),
		cmocka_unit_test(test_table_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
