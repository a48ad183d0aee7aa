/* test_smtpc_proto.c - the SMTP client's protocol pieces */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "core/buf.h"
#include "smtpc/smtpc_proto.h"

#define S(x)	x, sizeof(x) - 1

/*
 * Replies.
 */

struct reply_case {
	const char	*name;
	const char	*input;
	size_t		 inlen;
	bool		 enhanced;
	enum smtpc_read	 st;
	int		 code;		/* when OK */
	const char	*enh;		/* when OK */
	const char	*text;		/* when OK */
	size_t		 nlines;	/* when OK */
	size_t		 left;		/* bytes left in the input */
};

#define OK	SMTPC_READ_OK
#define MORE	SMTPC_READ_MORE
#define BAD	SMTPC_READ_BAD

static const struct reply_case reply_cases[] = {
	{ "single", S("250 OK\r\n"), false, OK, 250, "", "OK", 1, 0 },
	{ "code only", S("250\r\n"), false, OK, 250, "", "", 1, 0 },
	{ "empty text", S("250 \r\n"), false, OK, 250, "", "", 1, 0 },
	{ "multi-line", S("250-mx.example\r\n250-PIPELINING\r\n250 SIZE\r\n"),
	    false, OK, 250, "", "mx.example\nPIPELINING\nSIZE", 3, 0 },
	{ "empty continuation", S("220-\r\n220 x\r\n"), false, OK, 220, "",
	    "\nx", 2, 0 },
	{ "pipelined: one at a time", S("250 a\r\n354 go\r\n"), false, OK,
	    250, "", "a", 1, 8 },
	{ "text keeps spaces and 8-bit", S("550  a \xc3\xa9\r\n"), false, OK,
	    550, "", " a \xc3\xa9", 1, 0 },
	{ "partial line", S("250 OK"), false, MORE, 0, NULL, NULL, 0, 6 },
	{ "partial CR", S("250 OK\r"), false, MORE, 0, NULL, NULL, 0, 7 },
	{ "partial multi-line", S("250-a\r\n250-b\r\n"), false, MORE, 0, NULL,
	    NULL, 0, 14 },
	{ "partial last line", S("250-a\r\n250 b"), false, MORE, 0, NULL, NULL,
	    0, 12 },
	{ "nothing", S(""), false, MORE, 0, NULL, NULL, 0, 0 },
	{ "one digit", S("2"), false, MORE, 0, NULL, NULL, 0, 1 },
	{ "code, no separator yet", S("250"), false, MORE, 0, NULL, NULL, 0,
	    3 },
	{ "mixed codes", S("250-a\r\n251 b\r\n"), false, BAD, 0, NULL, NULL, 0,
	    14 },
	{ "mixed codes, partial", S("250-a\r\n251"), false, BAD, 0, NULL, NULL,
	    0, 10 },
	{ "code 600", S("600 x\r\n"), false, BAD, 0, NULL, NULL, 0, 7 },
	{ "code 199", S("199 x\r\n"), false, BAD, 0, NULL, NULL, 0, 7 },
	{ "letter in code", S("2x0 x\r\n"), false, BAD, 0, NULL, NULL, 0, 7 },
	{ "two digits", S("25\r\n"), false, BAD, 0, NULL, NULL, 0, 4 },
	{ "bad separator", S("250x\r\n"), false, BAD, 0, NULL, NULL, 0, 6 },
	{ "not SMTP, no CRLF yet", S("HTTP/1.1 400"), false, BAD, 0, NULL,
	    NULL, 0, 12 },
	{ "empty line", S("\r\n"), false, BAD, 0, NULL, NULL, 0, 2 },
	{ "bare LF inside", S("250 a\nb\r\n"), false, BAD, 0, NULL, NULL, 0,
	    9 },
	{ "bare LF ends", S("250 a\n"), false, BAD, 0, NULL, NULL, 0, 6 },
	{ "bare LF line ends", S("250-a\n250 b\n"), false, BAD, 0, NULL, NULL,
	    0, 12 },
	{ "bare CR inside", S("250 a\rb\r\n"), false, BAD, 0, NULL, NULL, 0,
	    9 },
	{ "bare CR, partial", S("250 a\rb"), false, BAD, 0, NULL, NULL, 0, 7 },
	{ "NUL", S("250 a\0b\r\n"), false, BAD, 0, NULL, NULL, 0, 9 },
	{ "bad second line", S("250-a\r\nxyz\r\n"), false, BAD, 0, NULL, NULL,
	    0, 12 },

	/* RFC 2034 enhanced codes. */
	{ "enhanced", S("250 2.1.0 Ok\r\n"), true, OK, 250, "2.1.0", "Ok", 1,
	    0 },
	{ "enhanced, not offered", S("250 2.1.0 Ok\r\n"), false, OK, 250, "",
	    "2.1.0 Ok", 1, 0 },
	{ "enhanced, absent", S("250 Ok\r\n"), true, OK, 250, "", "Ok", 1, 0 },
	{ "enhanced, code only", S("250 2.0.0\r\n"), true, OK, 250, "2.0.0",
	    "", 1, 0 },
	{ "enhanced, long fields", S("550 5.123.456 x\r\n"), true, OK, 550,
	    "5.123.456", "x", 1, 0 },
	{ "enhanced, class mismatch", S("550 4.1.1 x\r\n"), true, OK, 550, "",
	    "4.1.1 x", 1, 0 },
	{ "enhanced, class 3", S("354 3.0.0 go\r\n"), true, OK, 354, "",
	    "3.0.0 go", 1, 0 },
	{ "enhanced, four digits", S("550 5.1234.1 x\r\n"), true, OK, 550, "",
	    "5.1234.1 x", 1, 0 },
	{ "enhanced, glued", S("550 5.1.1x\r\n"), true, OK, 550, "",
	    "5.1.1x", 1, 0 },
	{ "enhanced, missing detail", S("550 5.1. x\r\n"), true, OK, 550, "",
	    "5.1. x", 1, 0 },
	{ "enhanced, every line", S("550-5.1.1 no such\r\n550 5.1.1 user\r\n"),
	    true, OK, 550, "5.1.1", "no such\nuser", 2, 0 },
	{ "enhanced, other codes stay",
	    S("450-4.2.0 a\r\n450-4.7.1 b\r\n450 c\r\n"), true, OK, 450,
	    "4.2.0", "a\n4.7.1 b\nc", 3, 0 },
	{ "enhanced, first line only counts",
	    S("250-mx\r\n250 2.0.0 x\r\n"), true, OK, 250, "",
	    "mx\n2.0.0 x", 2, 0 },
};

static void
test_reply_cases(void **state)
{
	struct smtpc_reply r;
	size_t i;

	(void)state;
	buf_init(&r.text, SMTPC_REPLY_TEXT_MAX);
	for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
		const struct reply_case *c = &reply_cases[i];
		struct evbuffer *in = evbuffer_new();
		enum smtpc_read st;

		evbuffer_add(in, c->input, c->inlen);
		st = smtpc_reply_read(in, c->enhanced, &r);
		if (st != c->st)
			fail_msg("%s: status %d", c->name, st);
		if (evbuffer_get_length(in) != c->left)
			fail_msg("%s: %zu bytes left", c->name,
			    evbuffer_get_length(in));
		if (st == OK) {
			assert_int_equal(r.code, c->code);
			assert_string_equal(r.enh, c->enh);
			assert_int_equal(r.nlines, c->nlines);
			assert_int_equal(r.text.len, strlen(c->text));
			assert_memory_equal(r.text.data, c->text,
			    r.text.len + 1);
		}
		evbuffer_free(in);
	}
	buf_clear(&r.text);
}

/* A pipelined stream is read reply by reply; a partial one waits. */
static void
test_reply_stream(void **state)
{
	struct evbuffer *in = evbuffer_new();
	struct smtpc_reply r;
	const char *s = "250 ok\r\n250-a\r\n250 b\r\n354 data\r\n55";
	size_t i;

	(void)state;
	buf_init(&r.text, SMTPC_REPLY_TEXT_MAX);
	/* Byte by byte: MORE until each reply is complete. */
	for (i = 0; s[i] != '\0'; i++) {
		evbuffer_add(in, s + i, 1);
		if (i == 7 || i == 21 || i == 31)
			assert_int_equal(smtpc_reply_read(in, false, &r), OK);
		else
			assert_int_equal(smtpc_reply_read(in, false, &r),
			    MORE);
		if (i == 21)
			assert_string_equal(r.text.data, "a\nb");
		if (i == 31)
			assert_int_equal(r.code, 354);
	}
	assert_int_equal(evbuffer_get_length(in), 2);
	evbuffer_add(in, "0 no\r\n", 6);
	assert_int_equal(smtpc_reply_read(in, false, &r), OK);
	assert_int_equal(r.code, 550);
	assert_int_equal(evbuffer_get_length(in), 0);
	evbuffer_free(in);
	buf_clear(&r.text);
}

/* The line limit, at and one over, complete and partial. */
static void
test_reply_long(void **state)
{
	struct evbuffer *in = evbuffer_new();
	struct smtpc_reply r;
	char line[SMTPC_REPLY_LINE_MAX + 8];

	(void)state;
	buf_init(&r.text, SMTPC_REPLY_TEXT_MAX);
	memset(line, 'x', sizeof(line));
	memcpy(line, "250 ", 4);

	memcpy(line + SMTPC_REPLY_LINE_MAX, "\r\n", 2);
	evbuffer_add(in, line, SMTPC_REPLY_LINE_MAX + 2);
	assert_int_equal(smtpc_reply_read(in, false, &r), OK);
	assert_int_equal(r.text.len, SMTPC_REPLY_LINE_MAX - 4);

	memset(line, 'x', sizeof(line));
	memcpy(line, "250 ", 4);
	memcpy(line + SMTPC_REPLY_LINE_MAX + 1, "\r\n", 2);
	evbuffer_add(in, line, SMTPC_REPLY_LINE_MAX + 3);
	assert_int_equal(smtpc_reply_read(in, false, &r), BAD);
	assert_int_equal(evbuffer_get_length(in), SMTPC_REPLY_LINE_MAX + 3);
	evbuffer_drain(in, evbuffer_get_length(in));

	/* Without CRLF: a pending CR is allowed, one more octet is not. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "250 ", 4);
	line[SMTPC_REPLY_LINE_MAX] = '\r';
	evbuffer_add(in, line, SMTPC_REPLY_LINE_MAX + 1);
	assert_int_equal(smtpc_reply_read(in, false, &r), MORE);
	evbuffer_add(in, "x", 1);
	assert_int_equal(smtpc_reply_read(in, false, &r), BAD);
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_add(in, line, SMTPC_REPLY_LINE_MAX);
	assert_int_equal(smtpc_reply_read(in, false, &r), MORE);
	evbuffer_add(in, "x", 1);
	assert_int_equal(smtpc_reply_read(in, false, &r), BAD);
	evbuffer_free(in);
	buf_clear(&r.text);
}

/* The line count limit: at it, and one over (BAD without the end). */
static void
test_reply_many(void **state)
{
	struct evbuffer *in = evbuffer_new();
	struct smtpc_reply r;
	size_t i;

	(void)state;
	buf_init(&r.text, SMTPC_REPLY_TEXT_MAX);
	for (i = 0; i < SMTPC_REPLY_LINES_MAX - 1; i++)
		evbuffer_add_printf(in, "250-line %zu\r\n", i);
	assert_int_equal(smtpc_reply_read(in, false, &r), MORE);
	evbuffer_add_printf(in, "250 last\r\n");
	assert_int_equal(smtpc_reply_read(in, false, &r), OK);
	assert_int_equal(r.nlines, SMTPC_REPLY_LINES_MAX);
	assert_int_equal(evbuffer_get_length(in), 0);

	for (i = 0; i < SMTPC_REPLY_LINES_MAX; i++)
		evbuffer_add_printf(in, "250-line %zu\r\n", i);
	assert_int_equal(smtpc_reply_read(in, false, &r), BAD);
	evbuffer_add_printf(in, "250 last\r\n");
	assert_int_equal(smtpc_reply_read(in, false, &r), BAD);
	evbuffer_free(in);
	buf_clear(&r.text);

	/* Text that does not fit the caller's buffer. */
	in = evbuffer_new();
	buf_init(&r.text, 4);
	evbuffer_add_printf(in, "250 12345\r\n");
	assert_int_equal(smtpc_reply_read(in, false, &r), BAD);
	assert_int_equal(evbuffer_get_length(in), 11);
	evbuffer_free(in);
	buf_clear(&r.text);
}

/*
 * EHLO capabilities.
 */

/* parse_caps - caps from reply text with '\n' between lines */
static void
parse_caps(int code, const char *text, struct smtpc_caps *caps)
{
	struct smtpc_reply r;

	buf_init(&r.text, SMTPC_REPLY_TEXT_MAX);
	r.code = code;
	r.enh[0] = '\0';
	r.nlines = 1;
	assert_int_equal(buf_puts(&r.text, text), 0);
	memset(caps, 0xa5, sizeof(*caps));	/* must be cleared */
	smtpc_caps_parse(&r, caps);
	buf_clear(&r.text);
}

static void
test_caps_all(void **state)
{
	struct smtpc_caps c;

	(void)state;
	parse_caps(250, "mx.example.org Hello\nPIPELINING\n8BITMIME\nDSN\n"
	    "CHUNKING\nSMTPUTF8\nSTARTTLS\nENHANCEDSTATUSCODES\n"
	    "SIZE 35882577\nAUTH PLAIN LOGIN CRAM-MD5", &c);
	assert_true(c.esmtp);
	assert_true(c.pipelining);
	assert_true(c.eightbitmime);
	assert_true(c.dsn);
	assert_true(c.chunking);
	assert_true(c.smtputf8);
	assert_true(c.starttls);
	assert_true(c.enhanced);
	assert_true(c.has_size);
	assert_true(c.size == 35882577);
	assert_int_equal(c.auth, SMTPC_AUTH_PLAIN | SMTPC_AUTH_LOGIN |
	    SMTPC_AUTH_CRAM_MD5);

	/* Any case. */
	parse_caps(250, "mx\npipelining\n8bitmime\nStartTLS\nauth cram-md5",
	    &c);
	assert_true(c.pipelining && c.eightbitmime && c.starttls);
	assert_false(c.dsn || c.chunking || c.smtputf8 || c.enhanced ||
	    c.has_size);
	assert_int_equal(c.auth, SMTPC_AUTH_CRAM_MD5);

	/* Whole words only; the greeting line is no capability. */
	parse_caps(250, "PIPELINING\n8BITMIMEX\nDSNX\nX-STARTTLS\n"
	    "SIZEX 10\nAUTHX PLAIN", &c);
	assert_true(c.esmtp);
	assert_false(c.pipelining || c.eightbitmime || c.dsn || c.starttls ||
	    c.has_size);
	assert_int_equal(c.auth, 0);

	/* Only the greeting. */
	parse_caps(250, "mx.example.org", &c);
	assert_true(c.esmtp);
	assert_false(c.pipelining || c.has_size);
}

static void
test_caps_size(void **state)
{
	static const struct {
		const char	*text;
		uint64_t	 size;
	} cases[] = {
		{ "mx\nSIZE", 0 },
		{ "mx\nSIZE 0", 0 },
		{ "mx\nSIZE 1000", 1000 },
		{ "mx\nsize  52428800", 52428800 },
		{ "mx\nSIZE 18446744073709551615", UINT64_MAX },
		{ "mx\nSIZE 18446744073709551616", 0 },
		{ "mx\nSIZE abc", 0 },
		{ "mx\nSIZE 10M", 0 },
		{ "mx\nSIZE 10 extra", 10 },
	};
	struct smtpc_caps c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_caps(250, cases[i].text, &c);
		if (!c.has_size || c.size != cases[i].size)
			fail_msg("%s: has_size %d size %ju", cases[i].text,
			    c.has_size, (uintmax_t)c.size);
	}
	parse_caps(250, "mx\nPIPELINING", &c);
	assert_false(c.has_size);
}

static void
test_caps_auth(void **state)
{
	static const struct {
		const char	*text;
		unsigned	 auth;
	} cases[] = {
		{ "mx\nAUTH LOGIN", SMTPC_AUTH_LOGIN },
		{ "mx\nAUTH  PLAIN   LOGIN ", SMTPC_AUTH_PLAIN |
		    SMTPC_AUTH_LOGIN },
		{ "mx\nAUTH=LOGIN", SMTPC_AUTH_LOGIN },
		{ "mx\nAUTH=LOGIN PLAIN", SMTPC_AUTH_LOGIN | SMTPC_AUTH_PLAIN },
		{ "mx\nAUTH GSSAPI DIGEST-MD5 XOAUTH2", 0 },
		{ "mx\nAUTH", 0 },
		{ "mx\nAUTH PLAINX LOGINX CRAM-MD5X", 0 },
		{ "mx\nAUTH GSSAPI PLAIN\nAUTH=LOGIN", SMTPC_AUTH_PLAIN |
		    SMTPC_AUTH_LOGIN },
		{ "mx\nauth plain login cram-md5", SMTPC_AUTH_PLAIN |
		    SMTPC_AUTH_LOGIN | SMTPC_AUTH_CRAM_MD5 },
	};
	struct smtpc_caps c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_caps(250, cases[i].text, &c);
		if (c.auth != cases[i].auth)
			fail_msg("%s: auth %#x", cases[i].text, c.auth);
	}
}

/* EHLO refused: HELO is used, nothing is offered. */
static void
test_caps_helo(void **state)
{
	struct smtpc_caps c;

	(void)state;
	parse_caps(500, "mx\nPIPELINING\nSIZE 10", &c);
	assert_false(c.esmtp || c.pipelining || c.has_size);
	assert_true(c.size == 0 && c.auth == 0);
	parse_caps(502, "Command not implemented", &c);
	assert_false(c.esmtp);
}

/*
 * MAIL and RCPT.
 */

/* Every capability combination, MAIL with all envelope options set. */
static void
test_mail_combinations(void **state)
{
	struct smtpc_env e = { "a@example.org", 1234, true, true, "HDRS",
	    "id+2B1" };
	struct smtpc_caps c;
	struct buf out, want;
	unsigned mask, ebits;

	(void)state;
	buf_init(&out, 4096);
	buf_init(&want, 4096);
	for (ebits = 0; ebits < 4; ebits++) {
		e.eightbit = (ebits & 1) != 0;
		e.smtputf8 = (ebits & 2) != 0;
		for (mask = 0; mask < 16; mask++) {
			memset(&c, 0, sizeof(c));
			c.esmtp = true;
			c.has_size = (mask & 1) != 0;
			c.eightbitmime = (mask & 2) != 0;
			c.smtputf8 = (mask & 4) != 0;
			c.dsn = (mask & 8) != 0;
			buf_reset(&out);
			buf_reset(&want);
			assert_int_equal(smtpc_mail_cmd(&e, &c, &out), 0);
			assert_int_equal(buf_printf(&want, "MAIL FROM:<%s>%s%s"
			    "%s%s\r\n", "a@example.org",
			    c.has_size ? " SIZE=1234" : "",
			    e.eightbit && c.eightbitmime ? " BODY=8BITMIME" :
			    "", e.smtputf8 && c.smtputf8 ? " SMTPUTF8" : "",
			    c.dsn ? " RET=HDRS ENVID=id+2B1" : ""), 0);
			assert_string_equal(out.data, want.data);
		}
	}
	buf_clear(&out);
	buf_clear(&want);
}

static void
test_mail_golden(void **state)
{
	struct smtpc_env e = { "", 0, false, false, NULL, NULL };
	struct smtpc_caps all = { true, true, true, true, true, true, true,
	    true, true, 1000, 0 };
	struct smtpc_caps none = { 0 };
	struct buf out;

	(void)state;
	buf_init(&out, 4096);
	/* The null reverse-path; SIZE=0 is still stated. */
	assert_int_equal(smtpc_mail_cmd(&e, &all, &out), 0);
	assert_string_equal(out.data, "MAIL FROM:<> SIZE=0\r\n");
	buf_reset(&out);
	assert_int_equal(smtpc_mail_cmd(&e, &none, &out), 0);
	assert_string_equal(out.data, "MAIL FROM:<>\r\n");
	buf_reset(&out);
	/* "" DSN values are absent; everything at once. */
	e.from = "b@example.org";
	e.ret = "";
	e.envid = "";
	e.size = UINT64_MAX;
	e.eightbit = e.smtputf8 = true;
	assert_int_equal(smtpc_mail_cmd(&e, &all, &out), 0);
	assert_string_equal(out.data, "MAIL FROM:<b@example.org> "
	    "SIZE=18446744073709551615 BODY=8BITMIME SMTPUTF8\r\n");
	/* Appended, not replaced. */
	e.ret = "FULL";
	assert_int_equal(smtpc_mail_cmd(&e, &none, &out), 0);
	assert_string_equal(out.data, "MAIL FROM:<b@example.org> "
	    "SIZE=18446744073709551615 BODY=8BITMIME SMTPUTF8\r\n"
	    "MAIL FROM:<b@example.org>\r\n");
	buf_clear(&out);
}

static void
test_rcpt(void **state)
{
	struct smtpc_rcpt r = { "c@example.org", "SUCCESS,FAILURE",
	    "rfc822;c@example.org" };
	struct smtpc_caps c = { 0 };
	struct buf out;

	(void)state;
	buf_init(&out, 4096);
	assert_int_equal(smtpc_rcpt_cmd(&r, &c, &out), 0);
	assert_string_equal(out.data, "RCPT TO:<c@example.org>\r\n");
	buf_reset(&out);
	c.dsn = true;
	assert_int_equal(smtpc_rcpt_cmd(&r, &c, &out), 0);
	assert_string_equal(out.data, "RCPT TO:<c@example.org> "
	    "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c@example.org\r\n");
	buf_reset(&out);
	r.notify = NULL;
	r.orcpt = "";
	assert_int_equal(smtpc_rcpt_cmd(&r, &c, &out), 0);
	assert_string_equal(out.data, "RCPT TO:<c@example.org>\r\n");
	buf_reset(&out);
	/* UTF-8 addresses are the session's business (SMTPUTF8). */
	r.addr = "j\xc3\xb6rg@example.org";
	assert_int_equal(smtpc_rcpt_cmd(&r, &c, &out), 0);
	assert_string_equal(out.data, "RCPT TO:<j\xc3\xb6rg@example.org>\r\n");
	buf_clear(&out);
}

/* Bad octets never reach the wire, and out is left as it was. */
static void
test_injection(void **state)
{
	static const char *const paths[] = {
		"a@b\r\nRSET", "a@b\nRSET", "a@b\rRSET", "a>b", "<a@b",
		"a@b> SIZE=1", "a\tb@c", "a\x7f@b", "a\x01@b",
	};
	static const char *const values[] = {
		"FULL\r\nRCPT TO:<x@y>", "a b", "a=b", "\xc3\xa9", "a\tb",
		"x\n",
	};
	struct smtpc_caps c = { .esmtp = true, .dsn = true };
	struct smtpc_env e = { "a@b", 1, false, false, NULL, NULL };
	struct smtpc_rcpt r = { "a@b", NULL, NULL };
	struct buf out;
	size_t i;

	(void)state;
	buf_init(&out, 4096);
	assert_int_equal(buf_puts(&out, "keep"), 0);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		e.from = paths[i];
		r.addr = paths[i];
		if (smtpc_mail_cmd(&e, &c, &out) != -1 ||
		    smtpc_rcpt_cmd(&r, &c, &out) != -1)
			fail_msg("path %zu accepted", i);
	}
	e.from = r.addr = "a@b";
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		e.ret = values[i];
		assert_int_equal(smtpc_mail_cmd(&e, &c, &out), -1);
		e.ret = NULL;
		e.envid = values[i];
		assert_int_equal(smtpc_mail_cmd(&e, &c, &out), -1);
		e.envid = NULL;
		r.notify = values[i];
		assert_int_equal(smtpc_rcpt_cmd(&r, &c, &out), -1);
		r.notify = NULL;
		r.orcpt = values[i];
		assert_int_equal(smtpc_rcpt_cmd(&r, &c, &out), -1);
		r.orcpt = NULL;
	}
	/* Refused even where DSN would not send it. */
	c.dsn = false;
	e.envid = "a b";
	assert_int_equal(smtpc_mail_cmd(&e, &c, &out), -1);
	e.envid = NULL;
	/* No recipient, no sender pointer. */
	r.addr = "";
	assert_int_equal(smtpc_rcpt_cmd(&r, &c, &out), -1);
	e.from = NULL;
	assert_int_equal(smtpc_mail_cmd(&e, &c, &out), -1);
	assert_string_equal(out.data, "keep");
	assert_int_equal(out.len, 4);
	buf_clear(&out);

	/* The buffer's limit: -1, nothing half-written. */
	buf_init(&out, 20);
	e.from = "a@example.org";
	assert_int_equal(buf_puts(&out, "x"), 0);
	assert_int_equal(smtpc_mail_cmd(&e, &c, &out), -1);
	assert_string_equal(out.data, "x");
	buf_clear(&out);
}

/*
 * DATA.
 */

struct stuff_case {
	const char	*name;
	const char	*in;
	size_t		 inlen;
	const char	*out;
};

static const struct stuff_case stuff_cases[] = {
	{ "empty", S(""), ".\r\n" },
	{ "one line", S("a\r\n"), "a\r\n.\r\n" },
	{ "no final CRLF", S("a\r\nb"), "a\r\nb\r\n.\r\n" },
	{ "leading dots", S(".\r\n..x\r\n.y\r\nz.\r\n"),
	    "..\r\n...x\r\n..y\r\nz.\r\n.\r\n" },
	{ "dot first and last, unterminated", S(".a\r\n."),
	    "..a\r\n..\r\n.\r\n" },
	{ "bare LF", S("a\nb\n.c\n"), "a\r\nb\r\n..c\r\n.\r\n" },
	{ "bare CR", S("a\rb\r.c"), "a\r\nb\r\n..c\r\n.\r\n" },
	{ "CR CR LF", S("a\r\r\nb\r\n"), "a\r\n\r\nb\r\n.\r\n" },
	{ "LF CR", S("a\n\rb"), "a\r\n\r\nb\r\n.\r\n" },
	{ "final CR", S("a\r"), "a\r\n.\r\n" },
	{ "empty lines", S("\r\n\r\n"), "\r\n\r\n.\r\n" },
	{ "only a dot", S("."), "..\r\n.\r\n" },
	{ "smuggling attempt", S("a\n.\nMAIL FROM:<x>\r\n"),
	    "a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n" },
};

static void
test_dotstuff(void **state)
{
	struct buf out;
	size_t i;

	(void)state;
	buf_init(&out, 4096);
	for (i = 0; i < sizeof(stuff_cases) / sizeof(stuff_cases[0]); i++) {
		buf_reset(&out);
		assert_int_equal(smtpc_dotstuff(stuff_cases[i].in,
		    stuff_cases[i].inlen, &out), 0);
		if (strcmp(out.data, stuff_cases[i].out) != 0)
			fail_msg("%s: got \"%s\"", stuff_cases[i].name,
			    out.data);
	}
	/* NUL and 8-bit octets pass. */
	buf_reset(&out);
	assert_int_equal(smtpc_dotstuff("a\0\xff\r\n", 5, &out), 0);
	assert_int_equal(out.len, 8);
	assert_memory_equal(out.data, "a\0\xff\r\n.\r\n", 8);
	buf_clear(&out);

	/* The limit: -1, out unchanged. */
	buf_init(&out, 8);
	assert_int_equal(buf_puts(&out, "k"), 0);
	assert_int_equal(smtpc_dotstuff("abcd\r\n", 6, &out), -1);
	assert_string_equal(out.data, "k");
	buf_clear(&out);
}

/*
 * 8BITMIME downgrade.
 */

#define CT_UNKNOWN	"Content-Type: text/plain; charset=unknown-8bit\r\n"
#define CTE_QP		"Content-Transfer-Encoding: quoted-printable\r\n"
#define CTE_B64		"Content-Transfer-Encoding: base64\r\n"
#define MV		"MIME-Version: 1.0\r\n"

/* downgrade - run the downgrade; also check it is a fixed point */
static int
downgrade(const char *in, size_t len, struct buf *out)
{
	struct buf again;

	buf_init(out, 4 * len + 1024);
	if (smtpc_downgrade_8bit(in, len, out) == -1) {
		assert_int_equal(out->len, 0);
		return -1;
	}
	buf_init(&again, 4 * out->len + 1024);
	assert_int_equal(smtpc_downgrade_8bit(out->data, out->len, &again),
	    0);
	assert_int_equal(again.len, out->len);
	assert_memory_equal(again.data, out->data, out->len);
	buf_clear(&again);
	return 0;
}

/* expect - the downgrade of in is exactly want */
static void
expect(const char *name, const char *in, size_t len, const char *want)
{
	struct buf out;

	if (downgrade(in, len, &out) == -1)
		fail_msg("%s: -1", name);
	if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0)
		fail_msg("%s: got\n%s\nwant\n%s", name, out.data, want);
	buf_clear(&out);
}

/* expect_fail - the downgrade of in is -1 */
static void
expect_fail(const char *name, const char *in, size_t len)
{
	struct buf out;

	if (downgrade(in, len, &out) != -1)
		fail_msg("%s: converted to\n%s", name, out.data);
	buf_clear(&out);
}

#define MSG_7BIT \
	"From: a@example.org\r\n" \
	"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n" \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: multipart/mixed; boundary=\"xx\"\r\n" \
	"\r\n" \
	"This is a multi-part message.\r\n" \
	"--xx\r\n" \
	"Content-Type: text/plain\r\n" \
	"\r\n" \
	".leading dot, trailing space \r\n" \
	"--xx \r\n" \
	"Content-Type: text/plain; charset=utf-8\r\n" \
	"Content-Transfer-Encoding: quoted-printable\r\n" \
	"\r\n" \
	"Gr=C3=BC=C3=9Fe\r\n" \
	"--xx--\r\n" \
	"epilogue\r\n"

/* Nothing to convert: byte for byte, or only line ends made CRLF. */
static void
test_dg_unchanged(void **state)
{
	(void)state;
	expect("7-bit multipart", S(MSG_7BIT), MSG_7BIT);
	expect("empty", S(""), "");
	expect("no final CRLF", S("Subject: x\r\n\r\nbody"),
	    "Subject: x\r\n\r\nbody\r\n");
	expect("headers only", S("Subject: x"), "Subject: x\r\n");
	expect("bare LF and CR", S("Subject: x\n\na\nb\rc\r\n"),
	    "Subject: x\r\n\r\na\r\nb\r\nc\r\n");
	/* 8-bit headers are left alone (SMTPUTF8 decides about them). */
	expect("8-bit header", S("Subject: Gr\xc3\xbc\xc3\x9f""e\r\n"
	    "\r\nplain\r\n"), "Subject: Gr\xc3\xbc\xc3\x9f""e\r\n\r\n"
	    "plain\r\n");
	/* A body line of exactly 998 octets is fine. */
	{
		char *m = malloc(1100);
		size_t n;

		assert_non_null(m);
		memcpy(m, "Subject: x\r\n\r\n", 14);
		memset(m + 14, 'a', 998);
		memcpy(m + 14 + 998, "\r\n", 3);
		n = 14 + 998 + 2;
		expect("998 octets", m, n, m);
		free(m);
	}
}

static void
test_dg_nonmime(void **state)
{
	(void)state;
	expect("non-MIME 8-bit",
	    S("From: a@example.org\r\nSubject: test\r\n\r\n"
	    "Gr\xc3\xbc\xc3\x9f""e\r\n"),
	    "From: a@example.org\r\nSubject: test\r\n" MV CT_UNKNOWN CTE_QP
	    "\r\nGr=C3=BC=C3=9Fe\r\n");
	/* No header at all, and no final CRLF. */
	expect("body only", S("\xe9"), MV CT_UNKNOWN CTE_QP "\r\n=E9\r\n");
	expect("blank line only", S("\r\n\xe9\r\n"),
	    MV CT_UNKNOWN CTE_QP "\r\n=E9\r\n");
	/* A CTE field but no Content-Type: replaced in place. */
	expect("CTE without CT",
	    S("Content-Transfer-Encoding: 8bit\r\nSubject: x\r\n\r\n\xe9\r\n"),
	    CTE_QP "Subject: x\r\n" MV CT_UNKNOWN "\r\n=E9\r\n");
	/* Content-Type without MIME-Version: taken, MIME-Version added. */
	expect("CT without MIME-Version",
	    S("Content-Type: text/plain; charset=iso-8859-1\r\n\r\n\xe9\r\n"),
	    "Content-Type: text/plain; charset=iso-8859-1\r\n" CTE_QP MV
	    "\r\n=E9\r\n");
}

/* Quoted-printable rules (RFC 2045 6.7). */
static void
test_dg_qp_rules(void **state)
{
	(void)state;
	expect("specials",
	    S("MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "\r\n"
	    "caf\xc3\xa9  \r\n"
	    "a\tb\t\r\n"
	    "x=y\r\n"
	    "-- \r\n"
	    ".\r\n"
	    "\r\n"
	    "ctl\x01\x7f\r\n"
	    "nul\0!\r\n"),
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    CTE_QP
	    "\r\n"
	    "caf=C3=A9 =20\r\n"
	    "a\tb=09\r\n"
	    "x=3Dy\r\n"
	    "=2D-=20\r\n"
	    ".\r\n"
	    "\r\n"
	    "ctl=01=7F\r\n"
	    "nul=00!\r\n");
	/* Line ends become hard breaks: bare CR and LF too. */
	expect("line ends", S("\r\n\xe9\ra\nb\r\n"),
	    MV CT_UNKNOWN CTE_QP "\r\n=E9\r\na\r\nb\r\n");
}

#define A10	"aaaaaaaaaa"
#define A50	A10 A10 A10 A10 A10

/* Soft breaks keep lines at 76 characters, '=' included. */
static void
test_dg_qp_soft(void **state)
{
	char in[512];
	size_t n;

	(void)state;
	/* "\xe9" and 199 'a': =E9 + 72 a =, 75 a =, 52 a. */
	n = (size_t)snprintf(in, sizeof(in), "\r\n\xe9%s%s%s%s\r\n",
	    A50 A50, A50, A10 A10 A10 A10, "aaaaaaaaa");
	assert_int_equal(n, 2 + 1 + 199 + 2);
	expect("200 octets", in, n, MV CT_UNKNOWN CTE_QP "\r\n"
	    "=E9" A50 A10 A10 "aa=\r\n"
	    A50 A10 A10 "aaaaa=\r\n"
	    A50 "aa\r\n");
	/* 76 characters fit on one line, 77 do not. */
	n = (size_t)snprintf(in, sizeof(in), "\r\n\xe9%s\r\n",
	    A50 A10 A10 "aaa");
	expect("76 characters", in, n, MV CT_UNKNOWN CTE_QP "\r\n"
	    "=E9" A50 A10 A10 "aaa\r\n");
	n = (size_t)snprintf(in, sizeof(in), "\r\n\xe9%s\r\n",
	    A50 A10 A10 "aaaa");
	expect("77 characters", in, n, MV CT_UNKNOWN CTE_QP "\r\n"
	    "=E9" A50 A10 A10 "aa=\r\naa\r\n");
	/* An =XX is never split. */
	n = (size_t)snprintf(in, sizeof(in), "\r\n%s\xe9\r\n",
	    A50 A10 A10 "aaaa");
	expect("no split escape", in, n, MV CT_UNKNOWN CTE_QP "\r\n"
	    A50 A10 A10 "aaaa=\r\n=E9\r\n");
	/* A '-' starting a line after a soft break is encoded. */
	n = (size_t)snprintf(in, sizeof(in), "\r\n%s\xe9-x\r\n",
	    A50 A10 A10 "aa");
	expect("dash after soft break", in, n, MV CT_UNKNOWN CTE_QP "\r\n"
	    A50 A10 A10 "aa=E9=\r\n=2Dx\r\n");
	/* A trailing space at the very end of a long line. */
	n = (size_t)snprintf(in, sizeof(in), "\r\n\xe9%s \r\n",
	    A50 A10 A10 "aa");
	expect("trailing space at 76", in, n, MV CT_UNKNOWN CTE_QP "\r\n"
	    "=E9" A50 A10 A10 "aa=\r\n=20\r\n");
}

/* A long 7-bit line needs encoding too (RFC 5321 4.5.3.1.6). */
static void
test_dg_long_line(void **state)
{
	char *in = malloc(2000), *want = malloc(2000);
	size_t n, w, i;

	(void)state;
	assert_non_null(in);
	assert_non_null(want);
	memcpy(in, "\r\n", 2);
	memset(in + 2, 'b', 999);
	memcpy(in + 1001, "\r\n", 2);
	n = 1003;
	w = (size_t)snprintf(want, 2000, "%s", MV CT_UNKNOWN CTE_QP "\r\n");
	for (i = 0; i + 75 < 999; i += 75) {
		memset(want + w, 'b', 75);
		memcpy(want + w + 75, "=\r\n", 3);
		w += 78;
	}
	memset(want + w, 'b', 999 - i);
	memcpy(want + w + 999 - i, "\r\n", 3);
	expect("999 octets", in, n, want);
	free(in);
	free(want);
}

#define ALT_IN \
	"From: a@example.org\r\n" \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: multipart/alternative;\r\n" \
	"\tboundary=\"=_b1\"\r\n" \
	"\r\n" \
	"--=_b1\r\n" \
	"Content-Type: text/plain; charset=utf-8\r\n" \
	"Content-Transfer-Encoding: 8bit\r\n" \
	"\r\n" \
	"caf\xc3\xa9 = 1\r\n" \
	"--=_b1\r\n" \
	"Content-Type: text/html;\r\n" \
	" charset=utf-8\r\n" \
	"X-Other: 1\r\n" \
	"\r\n" \
	"<p>caf\xc3\xa9</p>\r\n" \
	"--=_b1\r\n" \
	"Content-Type: image/png\r\n" \
	"Content-Transfer-Encoding: base64\r\n" \
	"\r\n" \
	"iVBORw0KGgo=\r\n" \
	"--=_b1--\r\n"

#define ALT_OUT \
	"From: a@example.org\r\n" \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: multipart/alternative;\r\n" \
	"\tboundary=\"=_b1\"\r\n" \
	"\r\n" \
	"--=_b1\r\n" \
	"Content-Type: text/plain; charset=utf-8\r\n" \
	CTE_QP \
	"\r\n" \
	"caf=C3=A9 =3D 1\r\n" \
	"--=_b1\r\n" \
	"Content-Type: text/html;\r\n" \
	" charset=utf-8\r\n" \
	CTE_QP \
	"X-Other: 1\r\n" \
	"\r\n" \
	"<p>caf=C3=A9</p>\r\n" \
	"--=_b1\r\n" \
	"Content-Type: image/png\r\n" \
	"Content-Transfer-Encoding: base64\r\n" \
	"\r\n" \
	"iVBORw0KGgo=\r\n" \
	"--=_b1--\r\n"

static void
test_dg_alternative(void **state)
{
	(void)state;
	expect("multipart/alternative", S(ALT_IN), ALT_OUT);
}

#define NEST_IN \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: multipart/mixed; boundary=out\r\n" \
	"Content-Transfer-Encoding: 8bit\r\n" \
	"\r\n" \
	"--out\r\n" \
	"Content-Type: text/plain\r\n" \
	"\r\n" \
	"hello\r\n" \
	"--out\r\n" \
	"Content-Type: message/rfc822\r\n" \
	"Content-Transfer-Encoding: 8bit\r\n" \
	"\r\n" \
	"From: b@example.org\r\n" \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: multipart/mixed; boundary=in\r\n" \
	"\r\n" \
	"--in\r\n" \
	"Content-Type: text/plain; charset=iso-8859-1\r\n" \
	"\r\n" \
	"\xe9t\xe9\r\n" \
	"--in\r\n" \
	"Content-Type: application/octet-stream\r\n" \
	"Content-Transfer-Encoding: 8bit\r\n" \
	"\r\n" \
	"\x01\xff\r\n" \
	"--in--\r\n" \
	"\r\n" \
	"--out--\r\n"

/* base64 of "\x01\xff" is "Af8=". */
#define NEST_OUT \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: multipart/mixed; boundary=out\r\n" \
	"Content-Transfer-Encoding: 7bit\r\n" \
	"\r\n" \
	"--out\r\n" \
	"Content-Type: text/plain\r\n" \
	"\r\n" \
	"hello\r\n" \
	"--out\r\n" \
	"Content-Type: message/rfc822\r\n" \
	"Content-Transfer-Encoding: 7bit\r\n" \
	"\r\n" \
	"From: b@example.org\r\n" \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: multipart/mixed; boundary=in\r\n" \
	"\r\n" \
	"--in\r\n" \
	"Content-Type: text/plain; charset=iso-8859-1\r\n" \
	CTE_QP \
	"\r\n" \
	"=E9t=E9\r\n" \
	"--in\r\n" \
	"Content-Type: application/octet-stream\r\n" \
	CTE_B64 \
	"\r\n" \
	"Af8=\r\n" \
	"--in--\r\n" \
	"\r\n" \
	"--out--\r\n"

static void
test_dg_nested(void **state)
{
	(void)state;
	expect("multipart in message/rfc822 in multipart", S(NEST_IN),
	    NEST_OUT);
	/* multipart/digest: parts are message/rfc822 by default. */
	expect("digest",
	    S("MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/digest; boundary=d\r\n"
	    "\r\n"
	    "--d\r\n"
	    "\r\n"
	    "Subject: one\r\n"
	    "\r\n"
	    "b\xf6""dy\r\n"
	    "--d--\r\n"),
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/digest; boundary=d\r\n"
	    "\r\n"
	    "--d\r\n"
	    "\r\n"
	    "Subject: one\r\n"
	    MV CT_UNKNOWN CTE_QP
	    "\r\n"
	    "b=F6dy\r\n"
	    "--d--\r\n");
}

/* 8bit and binary non-text parts become base64, octets as spooled. */
static void
test_dg_base64(void **state)
{
	char in[512];
	size_t n;

	(void)state;
	/*
	 * 120 octets 0x80..0xf7 and CRLF (the body of a single-part message
	 * ends with its last line end): lines of 57, 57 and 8 octets.
	 */
	n = (size_t)snprintf(in, sizeof(in), "MIME-Version: 1.0\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: binary\r\n\r\n");
	for (int i = 0; i < 120; i++)
		in[n++] = (char)(0x80 + i);
	memcpy(in + n, "\r\n", 2);
	n += 2;
	expect("octet-stream", in, n, "MIME-Version: 1.0\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    CTE_B64 "\r\n"
	    "gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp+goaKjpKWmp6ipqqusra6v"
	    "sLGys7S1tre4\r\n"
	    "ubq7vL2+v8DBwsPExcbHyMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufo"
	    "6err7O3u7/Dx\r\n"
	    "8vP09fb3DQo=\r\n");
	/* With no CTE field: one is added after Content-Type. */
	expect("no CTE", S("MIME-Version: 1.0\r\n"
	    "Content-Type: application/pdf\r\n"
	    "Subject: x\r\n\r\n\xff\xfe"),
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: application/pdf\r\n"
	    CTE_B64 "Subject: x\r\n\r\n//4=\r\n");
}

/* Malformed structure: tolerated where unambiguous, else -1. */
static void
test_dg_malformed(void **state)
{
	char *in;
	size_t n;

	(void)state;
	/* Missing close delimiter: the last part runs to the end. */
	expect("no close delimiter",
	    S("MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n"
	    "\r\n"
	    "--b\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "\xe9\r\n"),
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n"
	    "\r\n"
	    "--b\r\n"
	    "Content-Type: text/plain\r\n"
	    CTE_QP
	    "\r\n"
	    "=E9\r\n");
	/* 8-bit preamble and epilogue dropped, padding removed, an empty
	   part kept, a 7-bit preamble and a QP part kept. */
	expect("preamble, epilogue, padding",
	    S("MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
	    "\r\n"
	    "pr\xe9""ambule\r\n"
	    "--b \t\r\n"
	    "\r\n"
	    "\xe9\r\n"
	    "--b\r\n"
	    "--b\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n"
	    "=E9\r\n"
	    "--b--  \r\n"
	    "\xe9pilogue\r\n"),
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
	    "\r\n"
	    "--b\r\n"
	    CT_UNKNOWN CTE_QP
	    "\r\n"
	    "=E9\r\n"
	    "--b\r\n"
	    "--b\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n"
	    "=E9\r\n"
	    "--b--\r\n");
	expect("7-bit preamble kept",
	    S("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "pre\r\n--b\r\n\r\n\xe9\r\n--b--\r\n"),
	    "Content-Type: multipart/mixed; boundary=b\r\n" MV "\r\n"
	    "pre\r\n--b\r\n" CT_UNKNOWN CTE_QP "\r\n=E9\r\n--b--\r\n");

	expect_fail("no delimiter", S("MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n\xe9\r\n"));
	expect_fail("close delimiter first", S("Content-Type: multipart/mixed;"
	    " boundary=b\r\n\r\n\xe9\r\n--b--\r\n"));
	expect_fail("no boundary", S("Content-Type: multipart/mixed\r\n\r\n"
	    "--b\r\n\r\n\xe9\r\n--b--\r\n"));
	expect_fail("ambiguous boundary", S("Content-Type: multipart/mixed; "
	    "boundary=b c\r\n\r\n--b\r\n\r\n\xe9\r\n--b--\r\n"));
	expect_fail("8-bit in QP", S("Content-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n\xe9\r\n"));
	expect_fail("8-bit in base64", S("Content-Type: image/png\r\n"
	    "Content-Transfer-Encoding: Base64\r\n\r\n\xe9\r\n"));
	expect_fail("unknown encoding", S("Content-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: x-uuencode\r\n\r\n\xe9\r\n"));
	expect_fail("message/partial", S("Content-Type: message/partial; "
	    "id=1; number=1\r\n\r\nSubject: x\r\n\r\n\xe9\r\n"));
	/* Clean parts with those are fine: nothing to convert there. */
	expect("unknown encoding and partial, 7-bit",
	    S("Content-Type: message/partial\r\n"
	    "Content-Transfer-Encoding: x-foo\r\n\r\nx\r\n"),
	    "Content-Type: message/partial\r\n"
	    "Content-Transfer-Encoding: x-foo\r\n\r\nx\r\n");

	/* A boundary of 201 octets is not used. */
	in = malloc(1024);
	assert_non_null(in);
	n = (size_t)snprintf(in, 1024, "Content-Type: multipart/mixed; "
	    "boundary=%s%s%s%s%s\r\n\r\n\xe9\r\n", A50, A50, A50, A50, "a");
	expect_fail("boundary too long", in, n);
	free(in);
}

/* nest - k multiparts inside each other, 8-bit text in the innermost */
static char *
nest(int k, size_t *len)
{
	struct buf b;
	int i;

	buf_init(&b, 1 << 20);
	for (i = 0; i < k; i++)
		assert_int_equal(buf_printf(&b, "Content-Type: multipart/"
		    "mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i), 0);
	assert_int_equal(buf_puts(&b, "\r\n\xe9\r\n"), 0);
	for (i = k - 1; i >= 0; i--)
		assert_int_equal(buf_printf(&b, "--b%d--\r\n", i), 0);
	*len = b.len;
	return buf_take(&b);
}

/* 32 levels are converted, 33 are refused; clean depth is no limit. */
static void
test_dg_depth(void **state)
{
	struct buf out;
	size_t len;
	char *m;

	(void)state;
	m = nest(31, &len);
	assert_int_equal(downgrade(m, len, &out), 0);
	assert_non_null(strstr(out.data, "\r\n=E9\r\n"));
	buf_clear(&out);
	free(m);
	m = nest(32, &len);
	assert_int_equal(downgrade(m, len, &out), -1);
	buf_clear(&out);
	free(m);
	/* Deep but 7-bit: copied. */
	m = nest(200, &len);
	*strstr(m, "\xe9") = 'e';
	assert_int_equal(downgrade(m, len, &out), 0);
	assert_int_equal(out.len, len);
	buf_clear(&out);
	free(m);
}

/* On failure, out keeps what it had; appending works. */
static void
test_dg_limit(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out, 60);
	assert_int_equal(buf_puts(&out, "keep"), 0);
	assert_int_equal(smtpc_downgrade_8bit(S("Subject: x\r\n\r\n\xe9\r\n"),
	    &out), -1);
	assert_string_equal(out.data, "keep");
	buf_clear(&out);
	buf_init(&out, 1000);
	assert_int_equal(buf_puts(&out, "keep"), 0);
	assert_int_equal(smtpc_downgrade_8bit(S("\r\n\xe9"), &out), 0);
	assert_string_equal(out.data, "keep" MV CT_UNKNOWN CTE_QP
	    "\r\n=E9\r\n");
	buf_clear(&out);
}

/* Big messages take linear time (the unit test timeout is 60 s). */
static void
test_dg_big(void **state)
{
	const size_t parts = 4096, plen = 2048;
	struct buf in, out;
	size_t i;

	(void)state;
	buf_init(&in, SIZE_MAX - 1);
	assert_int_equal(buf_puts(&in, "MIME-Version: 1.0\r\nContent-Type: "
	    "multipart/mixed; boundary=b\r\n\r\n"), 0);
	for (i = 0; i < parts; i++) {
		assert_int_equal(buf_printf(&in, "--b\r\nContent-Type: %s\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n\r\n", i % 2 ?
		    "text/plain" : "application/octet-stream"), 0);
		for (size_t k = 0; k < plen / 64; k++)
			assert_int_equal(buf_puts(&in, "\xe9\xe9\xe9\xe9"
			    "0123456789012345678901234567890123456789"
			    "01234567890123456789\r\n"), 0);
	}
	assert_int_equal(buf_puts(&in, "--b--\r\n"), 0);
	buf_init(&out, 4 * in.len);
	assert_int_equal(smtpc_downgrade_8bit(in.data, in.len, &out), 0);
	for (i = 0; i < out.len; i++)
		if ((unsigned char)out.data[i] >= 0x80)
			fail_msg("8-bit octet at %zu", i);
	buf_clear(&in);
	buf_clear(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_cases),
		cmocka_unit_test(test_reply_stream),
		cmocka_unit_test(test_reply_long),
		cmocka_unit_test(test_reply_many),
		cmocka_unit_test(test_caps_all),
		cmocka_unit_test(test_caps_size),
		cmocka_unit_test(test_caps_auth),
		cmocka_unit_test(test_caps_helo),
		cmocka_unit_test(test_mail_combinations),
		cmocka_unit_test(test_mail_golden),
		cmocka_unit_test(test_rcpt),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_dotstuff),
		cmocka_unit_test(test_dg_unchanged),
		cmocka_unit_test(test_dg_nonmime),
		cmocka_unit_test(test_dg_qp_rules),
		cmocka_unit_test(test_dg_qp_soft),
		cmocka_unit_test(test_dg_long_line),
		cmocka_unit_test(test_dg_alternative),
		cmocka_unit_test(test_dg_nested),
		cmocka_unit_test(test_dg_base64),
		cmocka_unit_test(test_dg_malformed),
		cmocka_unit_test(test_dg_depth),
		cmocka_unit_test(test_dg_limit),
		cmocka_unit_test(test_dg_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
