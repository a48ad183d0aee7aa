/*
 * test_smtpd_data.c - the DATA stream state machine.
 *
 * Every table case is checked fed at once, split in two at every position,
 * split in three at every pair of positions (short cases), and byte by
 * byte: status, output, total bytes used and flags must be the same.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "smtpd/smtpd_data.h"

#define S(x)		x, sizeof(x) - 1	/* bytes and length */
#define ALL		((size_t)-1)		/* used: the whole input */
#define LMAX		998			/* RFC 5321 4.5.3.1.6 */
#define OMAX		(1 << 16)

#define F_LONG		0x01		/* long_line */
#define F_BIG		0x02		/* too_big */
#define F_8BIT		0x04		/* eightbit */
#define F_BODY		0x08		/* !in_headers at the end */

#define MAIL		"MAIL FROM:<evil@example.org>\r\n"

/* One case: input, expected result, optional limits. */
struct data_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	enum smtpd_data_status st;
	const char	*out;
	size_t		 outlen;
	size_t		 used;		/* ALL: len */
	unsigned	 flags;		/* F_* */
	unsigned	 hops;
	size_t		 line_max;	/* 0: LMAX */
	size_t		 out_max;	/* 0: OMAX */
	size_t		 total;		/* 0: outlen */
};

static const struct data_case cases[] = {
	/* Plain messages. */
	{ "simple", S("Subject: hi\r\n\r\nbody\r\n.\r\n"), SMTPD_DATA_DONE,
	    S("Subject: hi\r\n\r\nbody\r\n"), ALL, F_BODY, 0 },
	{ "empty message", S(".\r\n"), SMTPD_DATA_DONE, S(""), ALL, 0, 0 },
	{ "empty line only", S("\r\n.\r\n"), SMTPD_DATA_DONE, S("\r\n"), ALL,
	    F_BODY, 0 },
	{ "no input", S(""), SMTPD_DATA_MORE, S(""), ALL, 0, 0 },
	{ "no end yet", S("abc\r\n"), SMTPD_DATA_MORE, S("abc\r\n"), ALL, 0,
	    0 },
	{ "pending CR", S("abc\r"), SMTPD_DATA_MORE, S("abc"), ALL, 0, 0 },
	{ "pending dot", S("a\r\n."), SMTPD_DATA_MORE, S("a\r\n"), ALL, 0,
	    0 },
	{ "pending dot CR", S("a\r\n.\r"), SMTPD_DATA_MORE, S("a\r\n"), ALL,
	    0, 0 },
	{ "NUL is data", S("a\0b\r\n\0\r\n.\r\n"), SMTPD_DATA_DONE,
	    S("a\0b\r\n\0\r\n"), ALL, 0, 0 },
	{ "no header section", S("just text\r\nmore\r\n.\r\n"),
	    SMTPD_DATA_DONE, S("just text\r\nmore\r\n"), ALL, 0, 0 },

	/* Dot-stuffing, RFC 5321 4.5.2. */
	{ "dot-stuffed lines", S("a\r\n..b\r\n...\r\n.c\r\n.\r\n"),
	    SMTPD_DATA_DONE, S("a\r\n.b\r\n..\r\nc\r\n"), ALL, 0, 0 },
	{ "dot inside a line", S("a.b\r\nx.\r\n.x.\r\n.\r\n"),
	    SMTPD_DATA_DONE, S("a.b\r\nx.\r\nx.\r\n"), ALL, 0, 0 },
	{ "dot-dot line", S("..\r\n.\r\n"), SMTPD_DATA_DONE, S(".\r\n"),
	    ALL, 0, 0 },
	{ "dot space line", S("x\r\n. \r\n"), SMTPD_DATA_MORE,
	    S("x\r\n \r\n"), ALL, 0, 0 },
	{ "stuffed empty-looking", S("\r\n..\r\n\r\n.\r\n"), SMTPD_DATA_DONE,
	    S("\r\n.\r\n\r\n"), ALL, F_BODY, 0 },

	/* Pipelining: the next command is not consumed. */
	{ "pipelined QUIT", S("Subject: a\r\n\r\nhi\r\n.\r\nQUIT\r\n"),
	    SMTPD_DATA_DONE, S("Subject: a\r\n\r\nhi\r\n"), 21, F_BODY, 0 },
	{ "pipelined after empty", S(".\r\nQUIT\r\n"), SMTPD_DATA_DONE,
	    S(""), 3, 0, 0 },
	{ "pipelined bare LF after", S("x\r\n.\r\n\n"), SMTPD_DATA_DONE,
	    S("x\r\n"), 6, 0, 0 },

	/* SMTP smuggling payloads: nothing but CRLF.CRLF ends the data. */
	{ "smuggle LF.LF", S("x\n.\n" MAIL), SMTPD_DATA_BARE, S("x"), 2, 0,
	    0 },
	{ "smuggle LF.CRLF", S("x\n.\r\n" MAIL), SMTPD_DATA_BARE, S("x"), 2,
	    0, 0 },
	{ "smuggle CR.CR", S("x\r.\r" MAIL), SMTPD_DATA_BARE, S("x"), 2, 0,
	    0 },
	{ "smuggle CRLF.LF", S("x\r\n.\n" MAIL), SMTPD_DATA_BARE, S("x\r\n"),
	    5, 0, 0 },
	{ "smuggle CRLF.CR", S("x\r\n.\r" MAIL), SMTPD_DATA_BARE, S("x\r\n"),
	    5, 0, 0 },
	{ "smuggle CRLF.CRCRLF", S("x\r\n.\r\r\n" MAIL), SMTPD_DATA_BARE,
	    S("x\r\n"), 5, 0, 0 },
	{ "smuggle CRLF NUL.CRLF", S("x\r\n\0.\r\n" MAIL), SMTPD_DATA_MORE,
	    S("x\r\n\0.\r\n" MAIL), ALL, 0, 0 },
	{ "smuggle CRLF NUL.CRLF ended", S("x\r\n\0.\r\n" MAIL ".\r\n"),
	    SMTPD_DATA_DONE, S("x\r\n\0.\r\n" MAIL), ALL, 0, 0 },
	{ "smuggle .LF at start", S(".\n" MAIL), SMTPD_DATA_BARE, S(""), 2,
	    0, 0 },
	{ "smuggle .CR at start", S(".\r" MAIL), SMTPD_DATA_BARE, S(""), 2,
	    0, 0 },
	{ "smuggle LF at start", S("\n.\r\n"), SMTPD_DATA_BARE, S(""), 1, 0,
	    0 },
	{ "smuggle CR at start", S("\r.\r\n"), SMTPD_DATA_BARE, S(""), 1, 0,
	    0 },
	{ "CR CR LF", S("x\r\r\n.\r\n"), SMTPD_DATA_BARE, S("x"), 2, 0, 0 },
	{ "LF LF", S("x\n\n"), SMTPD_DATA_BARE, S("x"), 2, 0, 0 },
	{ "bare LF in a header line", S("Subject: a\nb\r\n\r\n.\r\n"),
	    SMTPD_DATA_BARE, S("Subject: a"), 11, 0, 0 },
	{ "bare LF in a header name", S("Recei\nved: x\r\n"),
	    SMTPD_DATA_BARE, S("Recei"), 6, 0, 0 },
	{ "bare CR ends a body line", S("H: v\r\n\r\nbody\r.\r\n"),
	    SMTPD_DATA_BARE, S("H: v\r\n\r\nbody"), 13, F_BODY, 0 },
	{ "bare CR mid line", S("ab\rcd\r\n"), SMTPD_DATA_BARE, S("ab"), 3,
	    0, 0 },
	{ "bare LF after dot-dot", S("..\n"), SMTPD_DATA_BARE, S("."), 3, 0,
	    0 },
	{ "LF CR", S("x\n\r"), SMTPD_DATA_BARE, S("x"), 2, 0, 0 },

	/* Line length: line_max excludes CRLF and the stuffed dot. */
	{ "line exactly at max", S("abcde\r\n.\r\n"), SMTPD_DATA_DONE,
	    S("abcde\r\n"), ALL, 0, 0, 5 },
	{ "line one over max", S("abcdef\r\n.\r\n"), SMTPD_DATA_DONE,
	    S("abcdef\r\n"), ALL, F_LONG, 0, 5 },
	{ "long line latches", S("abcdef\r\nab\r\n.\r\n"), SMTPD_DATA_DONE,
	    S("abcdef\r\nab\r\n"), ALL, F_LONG, 0, 5 },
	{ "stuffed line at max", S("..bcde\r\n.\r\n"), SMTPD_DATA_DONE,
	    S(".bcde\r\n"), ALL, 0, 0, 5 },
	{ "stuffed line one over", S("..bcdef\r\n.\r\n"), SMTPD_DATA_DONE,
	    S(".bcdef\r\n"), ALL, F_LONG, 0, 5 },
	{ "long line no end", S("abcdef"), SMTPD_DATA_MORE, S("abcdef"),
	    ALL, F_LONG, 0, 5 },
	{ "at max, CR pending", S("abcde\r"), SMTPD_DATA_MORE, S("abcde"),
	    ALL, 0, 0, 5 },
	{ "long before bare LF", S("abcdef\n"), SMTPD_DATA_BARE,
	    S("abcdef"), 7, F_LONG, 0, 5 },

	/* Output limit: store exactly up to out->max, keep parsing. */
	{ "out exactly at max", S("abc\r\n.\r\n"), SMTPD_DATA_DONE,
	    S("abc\r\n"), ALL, 0, 0, 0, 5 },
	{ "out one over max", S("abc\r\n.\r\n"), SMTPD_DATA_DONE,
	    S("abc\r"), ALL, F_BIG, 0, 0, 4, 5 },
	{ "out over, more lines", S("abc\r\ndef\r\n..\r\n.\r\n"),
	    SMTPD_DATA_DONE, S("abc\r\nd"), ALL, F_BIG, 0, 0, 6, 13 },
	{ "out over, bare later", S("abc\r\ndef\r\nx\ny"), SMTPD_DATA_BARE,
	    S("ab"), 12, F_BIG, 0, 0, 2, 11 },
	{ "out max 1", S("\r\n.\r\n"), SMTPD_DATA_DONE, S("\r"), ALL,
	    F_BIG | F_BODY, 0, 0, 1, 2 },
	{ "out max 1, empty message", S(".\r\n"), SMTPD_DATA_DONE, S(""), ALL,
	    0, 0, 0, 1 },

	/* Hops: Received: and X-Deliver-To: in the header section. */
	{ "hops", S("Received: a\r\n"
	    "received: b\r\n"
	    "X-Deliver-To: c\r\n"
	    "RECEIVED:d\r\n"
	    "x-deliver-to:e\r\n"
	    "\tReceived: folded\r\n"
	    " Received: folded\r\n"
	    "Received-SPF: pass\r\n"
	    "Received : obsolete\r\n"
	    "XReceived: z\r\n"
	    "X-Deliver-To-Not: z\r\n"
	    "Received\r\n"
	    "Receive:\r\n"
	    "\r\n"
	    "Received: body\r\n"
	    "X-Deliver-To: body\r\n"
	    ".\r\n"), SMTPD_DATA_DONE, S("Received: a\r\n"
	    "received: b\r\n"
	    "X-Deliver-To: c\r\n"
	    "RECEIVED:d\r\n"
	    "x-deliver-to:e\r\n"
	    "\tReceived: folded\r\n"
	    " Received: folded\r\n"
	    "Received-SPF: pass\r\n"
	    "Received : obsolete\r\n"
	    "XReceived: z\r\n"
	    "X-Deliver-To-Not: z\r\n"
	    "Received\r\n"
	    "Receive:\r\n"
	    "\r\n"
	    "Received: body\r\n"
	    "X-Deliver-To: body\r\n"), ALL, F_BODY, 5 },
	{ "hop in stuffed line", S(".Received: x\r\n.\r\n"), SMTPD_DATA_DONE,
	    S("Received: x\r\n"), ALL, 0, 1 },
	{ "no hop for ..Received", S("..Received: x\r\n.\r\n"),
	    SMTPD_DATA_DONE, S(".Received: x\r\n"), ALL, 0, 0 },
	{ "hop name at end of input", S("Received:"), SMTPD_DATA_MORE,
	    S("Received:"), ALL, 0, 1 },
	{ "hop name incomplete", S("Received"), SMTPD_DATA_MORE,
	    S("Received"), ALL, 0, 0 },
	{ "hop with NUL in name", S("Recei\0ved: x\r\n.\r\n"),
	    SMTPD_DATA_DONE, S("Recei\0ved: x\r\n"), ALL, 0, 0 },
	{ "hop counted on long line", S("Received: xxxxxxxx\r\n.\r\n"),
	    SMTPD_DATA_DONE, S("Received: xxxxxxxx\r\n"), ALL, F_LONG, 1,
	    10 },
	{ "hop counted when too big", S("Received: x\r\n.\r\n"),
	    SMTPD_DATA_DONE, S("Rec"), ALL, F_BIG, 1, 0, 3, 13 },
	{ "hop before bare", S("Received: x\r\nX-Deliver-To: y\n"),
	    SMTPD_DATA_BARE, S("Received: x\r\nX-Deliver-To: y"), 29, 0, 2 },

	/* 8-bit data. */
	{ "eightbit header", S("Subject: \xc3\xa9\r\n.\r\n"), SMTPD_DATA_DONE,
	    S("Subject: \xc3\xa9\r\n"), ALL, F_8BIT, 0 },
	{ "eightbit in a long run", S("aaaaaaaaaaaaaaaaaaaa\x80zzzzzzzzz\r\n"),
	    SMTPD_DATA_MORE, S("aaaaaaaaaaaaaaaaaaaa\x80zzzzzzzzz\r\n"), ALL,
	    F_8BIT, 0 },
	{ "eightbit last byte", S("\r\n\xff"), SMTPD_DATA_MORE,
	    S("\r\n\xff"), ALL, F_8BIT | F_BODY, 0 },
	{ "eightbit after end ignored", S(".\r\n\xff"), SMTPD_DATA_DONE,
	    S(""), 3, 0, 0 },
	{ "eightbit after bare ignored", S("x\n\xff"), SMTPD_DATA_BARE,
	    S("x"), 2, 0, 0 },
	{ "DEL is 7-bit", S("\x7f\r\n"), SMTPD_DATA_MORE, S("\x7f\r\n"), ALL,
	    0, 0 },
};

/* The observable result of feeding one input. */
struct data_result {
	enum smtpd_data_status st;
	size_t		 used;		/* summed over the chunks */
	unsigned	 flags;
	unsigned	 hops;
	size_t		 total;
	struct buf	 out;
};

/*
 * feed - feed c->in cut at the ncut ascending positions in cut[]; stop at
 * the first chunk that does not return MORE.
 */
static void
feed(const struct data_case *c, const size_t *cut, size_t ncut,
    struct data_result *r)
{
	struct smtpd_data d;
	size_t from = 0, to, i, used;

	smtpd_data_init(&d, c->line_max ? c->line_max : LMAX);
	buf_init(&r->out, c->out_max ? c->out_max : OMAX);
	r->st = SMTPD_DATA_MORE;
	r->used = 0;
	for (i = 0; i <= ncut && r->st == SMTPD_DATA_MORE; i++) {
		to = i < ncut ? cut[i] : c->len;
		used = (size_t)-1;
		r->st = smtpd_data_feed(&d, c->in + from, to - from, &r->out,
		    &used);
		assert_true(used <= to - from);
		if (r->st == SMTPD_DATA_MORE)
			assert_int_equal(used, to - from);
		r->used += used;
		from = to;
	}
	r->flags = (d.long_line ? F_LONG : 0) | (d.too_big ? F_BIG : 0) |
	    (d.eightbit ? F_8BIT : 0) | (d.in_headers ? 0 : F_BODY);
	r->hops = d.hops;
	r->total = d.total;
}

/* check - compare a result with the case's expectations */
static void
check(const struct data_case *c, struct data_result *r)
{
	assert_int_equal(r->st, c->st);
	assert_int_equal(r->used, c->used == ALL ? c->len : c->used);
	assert_int_equal(r->out.len, c->outlen);
	assert_memory_equal(r->out.data, c->out, c->outlen);
	assert_int_equal(r->out.data[r->out.len], '\0');
	assert_int_equal(r->flags, c->flags);
	assert_int_equal(r->hops, c->hops);
	assert_int_equal(r->total, c->total ? c->total : c->outlen);
	buf_clear(&r->out);
}

/* test_table - every case fed at once */
static void
test_table(void **state)
{
	struct data_result r;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		print_message("case %s\n", cases[i].name);
		feed(&cases[i], NULL, 0, &r);
		check(&cases[i], &r);
	}
}

/* test_splits - every case in two chunks at every cut, and byte by byte */
static void
test_splits(void **state)
{
	const struct data_case *c;
	struct data_result r;
	size_t i, k, *cut;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		c = &cases[i];
		print_message("case %s\n", c->name);
		for (k = 0; k <= c->len; k++) {
			feed(c, &k, 1, &r);
			check(c, &r);
		}
		cut = calloc(c->len + 1, sizeof(*cut));
		assert_non_null(cut);
		for (k = 0; k < c->len; k++)
			cut[k] = k + 1;
		feed(c, cut, c->len, &r);
		check(c, &r);
		free(cut);
	}
}

/* test_splits3 - short cases in three chunks at every pair of cuts */
static void
test_splits3(void **state)
{
	const struct data_case *c;
	struct data_result r;
	size_t i, cut[2];

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		c = &cases[i];
		if (c->len > 64)
			continue;
		for (cut[0] = 0; cut[0] <= c->len; cut[0]++) {
			for (cut[1] = cut[0]; cut[1] <= c->len; cut[1]++) {
				feed(c, cut, 2, &r);
				check(c, &r);
			}
		}
	}
}

/* test_finished - after DONE or BARE nothing more is consumed */
static void
test_finished(void **state)
{
	static const struct {
		const char	*in;
		size_t		 len;
		enum smtpd_data_status st;
	} fin[] = {
		{ S(".\r\n"), SMTPD_DATA_DONE },
		{ S("x\n"), SMTPD_DATA_BARE },
	};
	struct smtpd_data d;
	struct buf out;
	size_t i, used;

	(void)state;
	for (i = 0; i < nitems(fin); i++) {
		smtpd_data_init(&d, LMAX);
		buf_init(&out, OMAX);
		assert_int_equal(smtpd_data_feed(&d, fin[i].in, fin[i].len,
		    &out, &used), fin[i].st);
		assert_int_equal(used, fin[i].len);
		used = 99;
		assert_int_equal(smtpd_data_feed(&d, S("a\r\n.\r\n"), &out,
		    &used), fin[i].st);
		assert_int_equal(used, 0);
		assert_int_equal(smtpd_data_feed(&d, "", 0, &out, &used),
		    fin[i].st);
		assert_int_equal(used, 0);
		buf_clear(&out);
	}
}

/* test_prefilled - out->max counts what the caller stored before */
static void
test_prefilled(void **state)
{
	struct smtpd_data d;
	struct buf out;
	size_t used;
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		smtpd_data_init(&d, LMAX);
		buf_init(&out, 11 - i);
		assert_int_equal(buf_puts(&out, "R: x\r\n"), 0);
		assert_int_equal(smtpd_data_feed(&d, S("abc\r\n.\r\n"), &out,
		    &used), SMTPD_DATA_DONE);
		assert_int_equal(used, 8);
		assert_int_equal(d.total, 5);
		assert_int_equal(d.too_big, i == 1);
		assert_int_equal(out.len, 11 - i);
		assert_memory_equal(out.data, "R: x\r\nabc\r\n", 11 - i);
		buf_clear(&out);
	}
}

/* test_real_limits - the 998-octet line limit and a large message */
static void
test_real_limits(void **state)
{
	struct smtpd_data d;
	struct buf in, out;
	size_t used, n;

	(void)state;
	for (n = LMAX - 1; n <= LMAX + 1; n++) {
		buf_init(&in, 1 << 20);
		buf_init(&out, 1 << 20);
		for (size_t k = 0; k < n; k++)
			assert_int_equal(buf_putc(&in, 'x'), 0);
		assert_int_equal(buf_puts(&in, "\r\n.\r\n"), 0);
		smtpd_data_init(&d, LMAX);
		assert_int_equal(smtpd_data_feed(&d, in.data, in.len, &out,
		    &used), SMTPD_DATA_DONE);
		assert_int_equal(used, in.len);
		assert_int_equal(d.long_line, n > LMAX);
		assert_int_equal(out.len, n + 2);
		buf_clear(&in);
		buf_clear(&out);
	}
}

/* main - run the group */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_splits),
		cmocka_unit_test(test_splits3),
		cmocka_unit_test(test_finished),
		cmocka_unit_test(test_prefilled),
		cmocka_unit_test(test_real_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
