/*
 * test_tab.c - unit tests for the TAB file reader and writer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/tab.h"

#define NOLEN		((size_t)-1)	/* input length is strlen(in) */
#define FMAX		6		/* most fields in a table row */

/* A tab_split case. */
struct split_case {
	const char	*name;
	const char	*in;
	size_t		 len;		/* NOLEN: strlen(in) */
	enum tab_err	 err;
	size_t		 n;
	const char	*f[FMAX];
};

static const struct split_case split_cases[] = {
	{ "plain", "a\tb\tc", NOLEN, TAB_OK, 3, { "a", "b", "c" } },
	{ "quoted", "\"a\"\t\"b c\"", NOLEN, TAB_OK, 2, { "a", "b c" } },
	{ "empty quoted", "\"\"\tx", NOLEN, TAB_OK, 2, { "", "x" } },
	{ "consecutive tabs", "a\t\t\tb", NOLEN, TAB_OK, 2, { "a", "b" } },
	{ "leading/trailing tabs", "\t\ta\tb\t\t", NOLEN, TAB_OK, 2,
	    { "a", "b" } },
	{ "tabs only", "\t\t\t", NOLEN, TAB_OK, 0, { NULL } },
	{ "empty", "", NOLEN, TAB_OK, 0, { NULL } },
	{ "comment", "# x\ty", NOLEN, TAB_OK, 0, { NULL } },
	{ "comment bare hash", "#", NOLEN, TAB_OK, 0, { NULL } },
	{ "hash after space", " # x", NOLEN, TAB_OK, 1, { " # x" } },
	{ "hash after tab", "\t#x", NOLEN, TAB_OK, 1, { "#x" } },
	{ "hash in second field", "a\t#b", NOLEN, TAB_OK, 2, { "a", "#b" } },
	{ "escaped quote", "\"a\\\"b\"", NOLEN, TAB_OK, 1, { "a\"b" } },
	{ "only escaped quote", "\"\\\"\"", NOLEN, TAB_OK, 1, { "\"" } },
	{ "other backslash literal", "\"a\\b\\n\"", NOLEN, TAB_OK, 1,
	    { "a\\b\\n" } },
	{ "backslash before escaped quote", "\"a\\\\\"b\"", NOLEN, TAB_OK, 1,
	    { "a\\\"b" } },
	{ "bare keeps quotes", "a\"b\"", NOLEN, TAB_OK, 1, { "a\"b\"" } },
	{ "bare keeps backslashes", "C:\\dir\\", NOLEN, TAB_OK, 1,
	    { "C:\\dir\\" } },
	{ "bare keeps spaces", "  a b  \t x ", NOLEN, TAB_OK, 2,
	    { "  a b  ", " x " } },
	{ "quoted keeps spaces", "\" a \"", NOLEN, TAB_OK, 1, { " a " } },
	{ "utf-8", "\"h\xc3\xa9llo \xe2\x82\xac\"\t\xc3\xa9", NOLEN, TAB_OK, 2,
	    { "h\xc3\xa9llo \xe2\x82\xac", "\xc3\xa9" } },
	{ "cr inside bare", "a\rb", NOLEN, TAB_OK, 1, { "a\rb" } },
	{ "numbers bare", "\"dom\"\t\"u\"\t1000\t0", NOLEN, TAB_OK, 4,
	    { "dom", "u", "1000", "0" } },
	{ "unterminated quote", "\"abc", NOLEN, TAB_ERR_QUOTE, 0, { NULL } },
	{ "lone quote", "\"", NOLEN, TAB_ERR_QUOTE, 0, { NULL } },
	{ "quote ends escaped", "\"abc\\\"", NOLEN, TAB_ERR_QUOTE, 0,
	    { NULL } },
	{ "unterminated second", "a\t\"b", NOLEN, TAB_ERR_QUOTE, 0,
	    { NULL } },
	{ "tab inside quotes", "\"a\tb\"", NOLEN, TAB_ERR_QUOTE, 0,
	    { NULL } },
	{ "space separated", "\"a\" \"b\"", NOLEN, TAB_ERR_TRAILING, 0,
	    { NULL } },
	{ "text after quote", "\"a\"x\tb", NOLEN, TAB_ERR_TRAILING, 0,
	    { NULL } },
	{ "quote after quote", "\"a\"\"", NOLEN, TAB_ERR_TRAILING, 0,
	    { NULL } },
	{ "nul in bare", "a\0b", 3, TAB_ERR_NUL, 0, { NULL } },
	{ "nul in quoted", "\"a\0\"", 4, TAB_ERR_NUL, 0, { NULL } },
	{ "nul in comment", "#\0", 2, TAB_ERR_NUL, 0, { NULL } },
	{ "nul alone", "\0", 1, TAB_ERR_NUL, 0, { NULL } },
};

/* test_split_table - run every split case */
static void
test_split_table(void **state)
{
	const struct split_case *c;
	char *fields[TAB_FIELDS_MAX];
	char line[128];
	size_t i, j, len, n;
	enum tab_err e;

	(void)state;
	for (i = 0; i < nitems(split_cases); i++) {
		c = &split_cases[i];
		len = c->len == NOLEN ? strlen(c->in) : c->len;
		assert_true(len < sizeof(line));
		memcpy(line, c->in, len);
		line[len] = 'X';	/* tab_split must terminate it */
		e = tab_split(line, len, fields, nitems(fields), &n);
		print_message("case %s\n", c->name);
		assert_int_equal(e, c->err);
		assert_int_equal(n, c->n);
		for (j = 0; j < n; j++)
			assert_string_equal(fields[j], c->f[j]);
	}
}

/* join - line of n copies of `field` separated by TABs, caller frees */
static char *
join(const char *field, size_t n)
{
	struct buf b;
	size_t i;

	buf_init(&b, 1 << 20);
	for (i = 0; i < n; i++)
		assert_int_equal(buf_printf(&b, "%s%s", i ? "\t" : "", field),
		    0);
	return buf_take(&b);
}

/* test_split_fields_limit - TAB_FIELDS_MAX fields ok, one more refused */
static void
test_split_fields_limit(void **state)
{
	char *fields[TAB_FIELDS_MAX];
	char *line;
	size_t n;

	(void)state;
	line = join("\"f\"", TAB_FIELDS_MAX);
	assert_int_equal(tab_split(line, strlen(line), fields,
	    nitems(fields), &n), TAB_OK);
	assert_int_equal(n, TAB_FIELDS_MAX);
	assert_string_equal(fields[TAB_FIELDS_MAX - 1], "f");
	free(line);

	line = join("f", TAB_FIELDS_MAX + 1);
	assert_int_equal(tab_split(line, strlen(line), fields,
	    nitems(fields), &n), TAB_ERR_FIELDS);
	assert_int_equal(n, 0);
	free(line);

	/* A smaller caller array is the limit. */
	line = join("f", 3);
	assert_int_equal(tab_split(line, strlen(line), fields, 2, &n),
	    TAB_ERR_FIELDS);
	free(line);
}

/* test_split_length_limit - TAB_LINE_MAX bytes ok, one more refused */
static void
test_split_length_limit(void **state)
{
	char *fields[TAB_FIELDS_MAX];
	char *line;
	size_t n;

	(void)state;
	line = malloc(TAB_LINE_MAX + 2);
	assert_non_null(line);
	memset(line, 'x', TAB_LINE_MAX + 1);
	assert_int_equal(tab_split(line, TAB_LINE_MAX, fields,
	    nitems(fields), &n), TAB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(fields[0]), TAB_LINE_MAX);

	memset(line, 'x', TAB_LINE_MAX + 1);
	assert_int_equal(tab_split(line, TAB_LINE_MAX + 1, fields,
	    nitems(fields), &n), TAB_ERR_TOO_LONG);
	assert_int_equal(n, 0);
	free(line);
}

/* test_strerror - every code has a distinct text */
static void
test_strerror(void **state)
{
	static const enum tab_err codes[] = {
		TAB_OK, TAB_ERR_TOO_LONG, TAB_ERR_NUL, TAB_ERR_QUOTE,
		TAB_ERR_TRAILING, TAB_ERR_FIELDS,
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < nitems(codes); i++) {
		assert_non_null(tab_strerror(codes[i]));
		for (j = 0; j < i; j++)
			assert_string_not_equal(tab_strerror(codes[i]),
			    tab_strerror(codes[j]));
	}
	assert_non_null(tab_strerror((enum tab_err)99));
}

/* dump - "lineno:f1|f2;..." for a whole table, caller frees */
static char *
dump(const struct tab *t)
{
	struct buf b;
	size_t i, j;

	buf_init(&b, 1 << 24);
	for (i = 0; i < t->nrecs; i++) {
		assert_int_equal(buf_printf(&b, "%u:", t->recs[i].lineno), 0);
		for (j = 0; j < t->recs[i].n; j++)
			assert_int_equal(buf_printf(&b, "%s%s", j ? "|" : "",
			    t->recs[i].f[j]), 0);
		assert_int_equal(buf_putc(&b, ';'), 0);
	}
	return buf_take(&b);
}

/* temp_file - create a temporary file holding `len` bytes of `data` */
static void
temp_file(char *path, size_t size, const void *data, size_t len)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	assert_true((size_t)snprintf(path, size, "%s/test_tab.XXXXXX", dir) <
	    size);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* load_bytes - tab_load a temporary file with the given content */
static void
load_bytes(const void *data, size_t len, struct tab *t)
{
	char path[4096];

	temp_file(path, sizeof(path), data, len);
	assert_int_equal(tab_load(path, t), 0);
	assert_string_equal(t->path, path);
	assert_int_equal(unlink(path), 0);
}

/* A tab_load case: file content and the expected dump. */
struct load_case {
	const char	*name;
	const char	*in;
	size_t		 len;		/* NOLEN: strlen(in) */
	const char	*want;
};

static const struct load_case load_cases[] = {
	{ "empty file", "", NOLEN, "" },
	{ "lf", "a\tb\nc\n", NOLEN, "1:a|b;2:c;" },
	{ "crlf", "a\tb\r\nc\r\n", NOLEN, "1:a|b;2:c;" },
	{ "crcrlf", "a\r\r\nb\r\r\n", NOLEN, "1:a;2:b;" },
	{ "many cr", "a\r\r\r\r\r\r\r\r\n", NOLEN, "1:a;" },
	{ "no final newline", "a\nb", NOLEN, "1:a;2:b;" },
	{ "cr at eof", "a\r", NOLEN, "1:a;" },
	{ "cr in middle kept", "a\rb\n\rc\n", NOLEN, "1:a\rb;2:\rc;" },
	{ "quoted crlf", "\"a\"\t\"b\"\r\n", NOLEN, "1:a|b;" },
	{ "blank and comments", "\n#c\n\r\n\t\n# \"x\na\n", NOLEN, "6:a;" },
	{ "hash after space", " #a\n", NOLEN, "1: #a;" },
	{ "unterminated skipped", "\"x\ny\n", NOLEN, "2:y;" },
	{ "trailing skipped", "\"x\" \"y\"\nz\n", NOLEN, "2:z;" },
	{ "nul skipped", "a\0b\nc\n", 6, "2:c;" },
	{ "nul last line", "a\nb\0", 4, "1:a;" },
	{ "only newlines", "\n\n\n", NOLEN, "" },
	{ "only crlf", "\r\n\r\n", NOLEN, "" },
	{ "utf-8 bom", "\xef\xbb\xbf\"a\"\n", NOLEN, "1:a;" },
	{ "utf-8 bom comment", "\xef\xbb\xbf# c\nb\n", NOLEN, "2:b;" },
	{ "utf-8 bom only", "\xef\xbb\xbf", NOLEN, "" },
	{ "bom not on line 2", "x\n\xef\xbb\xbfy\n", NOLEN,
	    "1:x;2:\xef\xbb\xbfy;" },
	{ "realistic", "# domains\n\"example.com\"\n\"Example.ORG\"\n",
	    NOLEN, "2:example.com;3:Example.ORG;" },
	{ "mailusers", "\"dom\"\t\"user\"\t\"pw\"\t1\t\"user\"\t\"U\"\n",
	    NOLEN, "1:dom|user|pw|1|user|U;" },
};

/* test_load_table - run every load case through a real file */
static void
test_load_table(void **state)
{
	const struct load_case *c;
	struct tab t;
	char *got;
	size_t len;

	(void)state;
	for (size_t i = 0; i < nitems(load_cases); i++) {
		c = &load_cases[i];
		len = c->len == NOLEN ? strlen(c->in) : c->len;
		print_message("case %s\n", c->name);
		load_bytes(c->in, len, &t);
		got = dump(&t);
		assert_string_equal(got, c->want);
		free(got);
		tab_free(&t);
	}
}

/* test_load_stream - tab_load_stream on a memory stream names the table */
static void
test_load_stream(void **state)
{
	static char data[] = "a\tb\n";
	struct tab t;
	FILE *fp;

	(void)state;
	fp = fmemopen(data, strlen(data), "r");
	assert_non_null(fp);
	assert_int_equal(tab_load_stream(fp, "mem", &t), 0);
	fclose(fp);
	assert_string_equal(t.path, "mem");
	assert_int_equal(t.nrecs, 1);
	assert_int_equal(t.recs[0].n, 2);
	tab_free(&t);
}

/* A long-line case: line lengths (without CR/LF) and the expected dump. */
struct long_case {
	const char	*name;
	size_t		 len1;		/* first line, of 'x' */
	const char	*eol1;		/* its terminator */
	const char	*want_first;	/* expected dump for line 1 */
};

static const struct long_case long_cases[] = {
	{ "exactly max lf", TAB_LINE_MAX, "\n", "x" },
	{ "exactly max crlf", TAB_LINE_MAX, "\r\n", "x" },
	{ "exactly max crcrlf", TAB_LINE_MAX, "\r\r\n", "x" },
	{ "one over lf", TAB_LINE_MAX + 1, "\n", NULL },
	{ "one over crlf", TAB_LINE_MAX + 1, "\r\n", NULL },
	{ "far over", 3 * TAB_LINE_MAX + 17, "\n", NULL },
	{ "huge", 1 << 20, "\n", NULL },
};

/* test_load_long_lines - the limit, and that the next line is still read */
static void
test_load_long_lines(void **state)
{
	const struct long_case *c;
	struct tab t;
	struct buf b;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(long_cases); i++) {
		c = &long_cases[i];
		print_message("case %s\n", c->name);
		buf_init(&b, 1 << 24);
		for (size_t k = 0; k < c->len1; k++)
			assert_int_equal(buf_putc(&b, 'x'), 0);
		assert_int_equal(buf_printf(&b, "%snext\tline\r\n",
		    c->eol1), 0);
		load_bytes(b.data, b.len, &t);
		buf_clear(&b);
		if (c->want_first != NULL) {
			assert_int_equal(t.nrecs, 2);
			assert_int_equal(t.recs[0].lineno, 1);
			assert_int_equal(strlen(t.recs[0].f[0]), c->len1);
			assert_int_equal(strspn(t.recs[0].f[0], "x"), c->len1);
		} else {
			assert_int_equal(t.nrecs, 1);
		}
		assert_int_equal(t.recs[t.nrecs - 1].lineno, 2);
		assert_string_equal(t.recs[t.nrecs - 1].f[0], "next");
		assert_string_equal(t.recs[t.nrecs - 1].f[1], "line");
		tab_free(&t);
	}
}

/* test_load_missing - a missing file is an empty table, not an error */
static void
test_load_missing(void **state)
{
	char path[4096];
	struct tab t;

	(void)state;
	temp_file(path, sizeof(path), "", 0);
	assert_int_equal(unlink(path), 0);
	memset(&t, 0xa5, sizeof(t));
	assert_int_equal(tab_load(path, &t), 0);
	assert_int_equal(t.nrecs, 0);
	assert_string_equal(t.path, path);
	assert_null(tab_find(&t, 0, "x", 0));
	tab_free(&t);
}

/* test_load_directory - reading a directory is an I/O error */
static void
test_load_directory(void **state)
{
	struct tab t;

	(void)state;
	errno = 0;
	assert_int_equal(tab_load("/", &t), -1);
	assert_int_not_equal(errno, 0);
	assert_int_equal(t.nrecs, 0);
	assert_null(t.recs);
	assert_null(t.path);
	tab_free(&t);
}

/* test_free_zeroed - tab_free on a zeroed table, twice */
static void
test_free_zeroed(void **state)
{
	struct tab t;

	(void)state;
	memset(&t, 0, sizeof(t));
	tab_free(&t);
	tab_free(&t);
}

/* A tab_find case over a fixed table. */
struct find_case {
	const char	*name;
	size_t		 col;
	const char	*key;
	size_t		 minfields;
	unsigned	 want;		/* expected line number, 0 = none */
};

static const char find_data[] =
	"\"Example.COM\"\t\"Alice\"\n"
	"\"example.com\"\t\"bob\"\t\"x\"\n"
	"\"other.org\"\n"
	"\"example.com\"\t\"ALICE\"\t\"y\"\n";

static const struct find_case find_cases[] = {
	{ "exact", 0, "other.org", 0, 3 },
	{ "case-insensitive first", 0, "EXAMPLE.com", 0, 1 },
	{ "second column", 1, "bob", 0, 2 },
	{ "second column case", 1, "BOB", 0, 2 },
	{ "minfields skips", 1, "alice", 3, 4 },
	{ "minfields none", 0, "other.org", 2, 0 },
	{ "column beyond record", 2, "x", 0, 2 },
	{ "column beyond all", 5, "x", 0, 0 },
	{ "not found", 0, "nope", 0, 0 },
	{ "prefix not equal", 0, "example", 0, 0 },
	{ "empty key", 0, "", 0, 0 },
};

/* test_find_table - tab_find lookups */
static void
test_find_table(void **state)
{
	const struct find_case *c;
	const struct tab_rec *r;
	struct tab t;
	size_t i;

	(void)state;
	load_bytes(find_data, strlen(find_data), &t);
	assert_int_equal(t.nrecs, 4);
	for (i = 0; i < nitems(find_cases); i++) {
		c = &find_cases[i];
		print_message("case %s\n", c->name);
		r = tab_find(&t, c->col, c->key, c->minfields);
		if (c->want == 0) {
			assert_null(r);
		} else {
			assert_non_null(r);
			assert_int_equal(r->lineno, c->want);
		}
	}
	tab_free(&t);
}

/* A tab_value_ok case. */
struct value_case {
	const char	*in;
	bool		 ok;
};

static const struct value_case value_cases[] = {
	{ "", true },
	{ "plain", true },
	{ "with space", true },
	{ "a\"b", true },
	{ "\"", true },
	{ "\\\"", true },
	{ "a\\b", true },
	{ "\\x", true },
	{ "a\tb", false },
	{ "a\rb", false },
	{ "a\nb", false },
	{ "\t", false },
	{ "end\\", false },
	{ "\\", false },
	{ "a\\\\", false },
};

/* test_value_ok - which values can be written quoted */
static void
test_value_ok(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(value_cases); i++) {
		print_message("value %zu\n", i);
		assert_int_equal(tab_value_ok(value_cases[i].in),
		    value_cases[i].ok);
	}
	assert_false(tab_value_ok(NULL));
}

/* A tab_format case: fields, bare mask and the exact expected line. */
struct format_case {
	const char	*name;
	size_t		 n;
	const char	*f[FMAX];
	unsigned long	 bare;
	const char	*want;		/* NULL: refused with EINVAL */
};

static const struct format_case format_cases[] = {
	{ "two quoted", 2, { "a", "b" }, 0, "\"a\"\t\"b\"\n" },
	{ "quote escaped", 1, { "a\"b" }, 0, "\"a\\\"b\"\n" },
	{ "backslash verbatim", 1, { "a\\b" }, 0, "\"a\\b\"\n" },
	{ "empty quoted", 2, { "", "x" }, 0, "\"\"\t\"x\"\n" },
	{ "bare numbers", 3, { "u", "1000", "0" }, 6UL,
	    "\"u\"\t1000\t0\n" },
	{ "bare with quote inside", 1, { "a\"b" }, 1UL, "a\"b\n" },
	{ "bare trailing backslash", 1, { "x\\" }, 1UL, "x\\\n" },
	{ "hash quoted first", 1, { "#x" }, 0, "\"#x\"\n" },
	{ "hash bare second", 2, { "a", "#x" }, 2UL, "\"a\"\t#x\n" },
	{ "tab refused", 1, { "a\tb" }, 0, NULL },
	{ "cr refused", 1, { "a\r" }, 0, NULL },
	{ "lf refused", 2, { "a", "b\nc" }, 0, NULL },
	{ "trailing backslash refused", 1, { "a\\" }, 0, NULL },
	{ "bare tab refused", 1, { "a\tb" }, 1UL, NULL },
	{ "bare lf refused", 1, { "a\n" }, 1UL, NULL },
	{ "bare empty refused", 1, { "" }, 1UL, NULL },
	{ "bare leading quote refused", 1, { "\"a" }, 1UL, NULL },
	{ "bare hash first refused", 1, { "#a" }, 1UL, NULL },
	{ "bare bom first refused", 1, { "\xef\xbb\xbfx" }, 1UL, NULL },
	{ "quoted bom first", 1, { "\xef\xbb\xbfx" }, 0,
	    "\"\xef\xbb\xbfx\"\n" },
	{ "null field refused", 2, { "a", NULL }, 0, NULL },
	{ "no fields refused", 0, { NULL }, 0, NULL },
};

/* test_format_table - exact output and refusals, out unchanged on error */
static void
test_format_table(void **state)
{
	const struct format_case *c;
	struct buf b;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < nitems(format_cases); i++) {
		c = &format_cases[i];
		print_message("case %s\n", c->name);
		buf_init(&b, 4096);
		assert_int_equal(buf_puts(&b, "prev\n"), 0);
		errno = 0;
		rc = tab_format(&b, c->f, c->n, c->bare);
		if (c->want == NULL) {
			assert_int_equal(rc, -1);
			assert_int_equal(errno, EINVAL);
			assert_string_equal(b.data, "prev\n");
		} else {
			assert_int_equal(rc, 0);
			assert_string_equal(b.data + 5, c->want);
		}
		buf_clear(&b);
	}
}

/* test_format_limits - field count, line length and buffer limits */
static void
test_format_limits(void **state)
{
	const char *f[TAB_FIELDS_MAX + 1];
	char *big;
	struct buf b;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(f); i++)
		f[i] = "v";
	buf_init(&b, 1 << 20);
	assert_int_equal(tab_format(&b, f, TAB_FIELDS_MAX, 0), 0);
	errno = 0;
	assert_int_equal(tab_format(&b, f, TAB_FIELDS_MAX + 1, 0), -1);
	assert_int_equal(errno, EINVAL);
	buf_reset(&b);

	/* A bare field of TAB_LINE_MAX bytes fits, one quoted does not. */
	big = malloc(TAB_LINE_MAX + 1);
	assert_non_null(big);
	memset(big, 'y', TAB_LINE_MAX);
	big[TAB_LINE_MAX] = '\0';
	f[0] = big;
	assert_int_equal(tab_format(&b, f, 1, 1UL), 0);
	assert_int_equal(b.len, TAB_LINE_MAX + 1);
	buf_reset(&b);
	errno = 0;
	assert_int_equal(tab_format(&b, f, 1, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(b.len, 0);
	/* Escapes count against the limit too. */
	memset(big, '"', TAB_LINE_MAX / 2);
	big[TAB_LINE_MAX / 2] = '\0';
	assert_int_equal(tab_format(&b, f, 1, 0), -1);
	free(big);
	buf_clear(&b);

	/* Buffer limit: -1, not EINVAL, and nothing appended. */
	f[0] = "0123456789";
	buf_init(&b, 12);
	assert_int_equal(buf_puts(&b, "ab"), 0);
	errno = 0;
	assert_int_equal(tab_format(&b, f, 1, 0), -1);
	assert_int_not_equal(errno, EINVAL);
	assert_string_equal(b.data, "ab");
	assert_int_equal(b.len, 2);
	buf_clear(&b);
}

/* A round-trip case. */
struct rt_case {
	const char	*name;
	size_t		 n;
	const char	*f[FMAX];
	unsigned long	 bare;
};

static const struct rt_case rt_cases[] = {
	/* First, so that it is on the line where a BOM would be dropped. */
	{ "bom value", 2, { "\xef\xbb\xbf", "\xef\xbb\xbf" }, 2UL },
	{ "plain", 3, { "a", "b", "c" }, 0 },
	{ "quotes", 3, { "\"", "a\"b", "\"\"" }, 0 },
	{ "escaped-looking", 3, { "\\\"", "x\\\"", "\\\"\\\"y" }, 0 },
	{ "backslashes inside", 3, { "a\\b", "\\\\x", "C:\\dir\\f" }, 0 },
	{ "spaces", 3, { " ", "  a  b ", " \" " }, 0 },
	{ "empty values", 3, { "", "", "" }, 0 },
	{ "utf-8", 2, { "h\xc3\xa9llo", "\xe2\x82\xac \xf0\x9f\x93\xac" },
	    0 },
	{ "hash", 2, { "#not a comment", "#" }, 0 },
	{ "macro text", 2, { "$(FROM)", "@@RCPT" }, 0 },
	{ "mixed bare", 5, { "dom", "user", "1000", "a\"b", "x\\" },
	    (1UL << 2) | (1UL << 3) | (1UL << 4) },
	{ "bare spaces", 2, { " lead", "trail " }, 3UL },
	{ "single", 1, { "x" }, 0 },
};

/* rt_check - compare a record with a case */
static void
rt_check(char **f, size_t n, const struct rt_case *c)
{
	size_t j;

	assert_int_equal(n, c->n);
	for (j = 0; j < n; j++)
		assert_string_equal(f[j], c->f[j]);
}

/* test_round_trip - tab_format output read back by tab_split and tab_load */
static void
test_round_trip(void **state)
{
	char *fields[TAB_FIELDS_MAX];
	const struct rt_case *c;
	struct buf all, one;
	struct tab t;
	size_t i, n;

	(void)state;
	buf_init(&all, 1 << 20);
	for (i = 0; i < nitems(rt_cases); i++) {
		c = &rt_cases[i];
		print_message("case %s\n", c->name);
		buf_init(&one, 4096);
		assert_int_equal(tab_format(&one, c->f, c->n, c->bare), 0);
		assert_int_equal(buf_append(&all, one.data, one.len), 0);
		assert_int_equal(one.data[one.len - 1], '\n');
		one.data[--one.len] = '\0';
		assert_int_equal(tab_split(one.data, one.len, fields,
		    nitems(fields), &n), TAB_OK);
		rt_check(fields, n, c);
		buf_clear(&one);
	}
	load_bytes(all.data, all.len, &t);
	assert_int_equal(t.nrecs, nitems(rt_cases));
	for (i = 0; i < t.nrecs; i++) {
		assert_int_equal(t.recs[i].lineno, i + 1);
		rt_check(t.recs[i].f, t.recs[i].n, &rt_cases[i]);
	}
	tab_free(&t);
	buf_clear(&all);
}

/* main - run the group */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_table),
		cmocka_unit_test(test_split_fields_limit),
		cmocka_unit_test(test_split_length_limit),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_load_table),
		cmocka_unit_test(test_load_stream),
		cmocka_unit_test(test_load_long_lines),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_load_directory),
		cmocka_unit_test(test_free_zeroed),
		cmocka_unit_test(test_find_table),
		cmocka_unit_test(test_value_ok),
		cmocka_unit_test(test_format_table),
		cmocka_unit_test(test_format_limits),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
