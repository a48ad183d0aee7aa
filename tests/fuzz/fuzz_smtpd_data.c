/*
 * fuzz_smtpd_data.c - libFuzzer target for the DATA stream state machine.
 *
 * Input layout: byte 0 gives the number of chunk sizes (low 3 bits),
 * byte 1 the line limit, byte 2 the output limit (0: 1 MiB), then the
 * chunk sizes (cycled; 0 is an empty feed), then the DATA stream.
 *
 * The stream is fed in those chunks and at once, and both results must
 * equal a slow line-by-line reference written from the contract: status,
 * output, bytes used, flags, hops and total.  The output may hold CR and
 * LF only as CRLF, and a complete message re-stuffed and fed again must
 * come back unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "smtpd/smtpd_data.h"

#define HDR_LEN		3		/* fixed header bytes */
#define BIG_MAX		(1 << 20)	/* output limit for selector 0 */

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The observable result of one run. */
struct result {
	enum smtpd_data_status st;
	size_t		 used;
	bool		 long_line, too_big, eightbit, in_headers;
	unsigned	 hops;
	size_t		 total;
	struct buf	 out;
};

/* The stream and how to feed it. */
struct params {
	const char	*in;
	size_t		 len;
	size_t		 line_max;
	size_t		 out_max;
	const uint8_t	*sizes;		/* chunk sizes, cycled */
	size_t		 nsizes;	/* 0: one chunk */
};

/* run - feed the stream in chunks, stop at the first non-MORE status */
static void
run(const struct params *pa, struct result *r)
{
	struct smtpd_data d;
	size_t off = 0, n, used, i = 0;

	smtpd_data_init(&d, pa->line_max);
	buf_init(&r->out, pa->out_max);
	r->used = 0;
	do {
		n = pa->nsizes ? pa->sizes[i++ % pa->nsizes] : pa->len;
		if (n > pa->len - off)
			n = pa->len - off;
		r->st = smtpd_data_feed(&d, pa->in + off, n, &r->out, &used);
		if (used > n || (r->st == SMTPD_DATA_MORE && used != n))
			abort();
		off += n;
		r->used += used;
	} while (r->st == SMTPD_DATA_MORE && off < pa->len);
	r->long_line = d.long_line;
	r->too_big = d.too_big;
	r->eightbit = d.eightbit;
	r->in_headers = d.in_headers;
	r->hops = d.hops;
	r->total = d.total;
}

/* ref_line - reference: account for one line's unstuffed text */
static void
ref_line(const struct params *pa, struct result *r, struct buf *all,
    const char *p, size_t n)
{
	static const char *const names[] = { "received:", "x-deliver-to:" };
	size_t i, k, nl;

	if (n > 0 && p[0] == '.') {
		p++;
		n--;
	}
	if (n > pa->line_max)
		r->long_line = true;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] > 127)
			r->eightbit = true;
	for (k = 0; r->in_headers && k < 2; k++) {
		nl = strlen(names[k]);
		if (n >= nl && strncasecmp(p, names[k], nl) == 0)
			r->hops++;
	}
	if (buf_append(all, p, n) == -1)
		abort();
}

/* ref - reference implementation, one line at a time, whole input */
static void
ref(const struct params *pa, struct result *r)
{
	const char *in = pa->in, *end = in + pa->len, *p = in, *q;
	struct buf all;

	memset(r, 0, sizeof(*r));
	r->in_headers = true;
	r->st = SMTPD_DATA_MORE;
	r->used = pa->len;
	buf_init(&all, SIZE_MAX - 1);
	for (;;) {
		for (q = p; q < end && *q != '\r' && *q != '\n'; q++)
			;
		if (q + 2 <= end && q[0] == '\r' && q[1] == '\n' &&
		    q - p == 1 && p[0] == '.') {
			r->st = SMTPD_DATA_DONE;
			r->used = (size_t)(q + 2 - in);
			break;
		}
		ref_line(pa, r, &all, p, (size_t)(q - p));
		if (q == end || (q[0] == '\r' && q + 1 == end))
			break;		/* no end yet, or a pending CR */
		if (q[0] == '\n' || q[1] != '\n') {
			r->st = SMTPD_DATA_BARE;
			r->used = (size_t)(q + 1 - in);
			break;
		}
		if (q == p)
			r->in_headers = false;
		if (buf_append(&all, "\r\n", 2) == -1)
			abort();
		p = q + 2;
	}
	r->total = all.len;
	r->too_big = all.len > pa->out_max;
	buf_init(&r->out, pa->out_max);
	if (buf_append(&r->out, all.data, r->too_big ? pa->out_max :
	    all.len) == -1)
		abort();
	buf_clear(&all);
}

/* same - abort unless two results are identical */
static void
same(const struct result *a, const struct result *b)
{
	if (a->st != b->st || a->used != b->used ||
	    a->long_line != b->long_line || a->too_big != b->too_big ||
	    a->eightbit != b->eightbit || a->in_headers != b->in_headers ||
	    a->hops != b->hops || a->total != b->total ||
	    a->out.len != b->out.len ||
	    memcmp(a->out.data, b->out.data, a->out.len) != 0)
		abort();
}

/*
 * check_out - CR and LF occur only as CRLF; the output may end in CR only
 * when it was cut at the limit or the CR is pending.
 */
static void
check_out(const struct params *pa, const struct result *r)
{
	const char *s = r->out.data;
	size_t i, n = r->out.len;

	if (n > pa->out_max || (!r->too_big && r->total != n) ||
	    (r->too_big && (n != pa->out_max || r->total <= n)))
		abort();
	for (i = 0; i < n; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			abort();
		if (s[i] == '\r' && i + 1 < n && s[i + 1] != '\n')
			abort();
		if (s[i] == '\r' && i + 1 == n && !r->too_big &&
		    r->st != SMTPD_DATA_MORE)
			abort();
	}
}

/* round_trip - a complete message, stuffed again, reads back the same */
static void
round_trip(const struct params *pa, const struct result *r)
{
	struct params p2 = *pa;
	struct result r2;
	struct buf s;
	size_t i;

	if (r->st != SMTPD_DATA_DONE || r->too_big)
		return;
	buf_init(&s, SIZE_MAX - 1);
	for (i = 0; i < r->out.len; i++) {
		if (r->out.data[i] == '.' &&
		    (i == 0 || r->out.data[i - 1] == '\n') &&
		    buf_putc(&s, '.') == -1)
			abort();
		if (buf_putc(&s, r->out.data[i]) == -1)
			abort();
	}
	if (buf_puts(&s, ".\r\n") == -1)
		abort();
	p2.in = s.data;
	p2.len = s.len;
	run(&p2, &r2);
	if (r2.st != SMTPD_DATA_DONE || r2.used != s.len ||
	    r2.out.len != r->out.len ||
	    memcmp(r2.out.data, r->out.data, r->out.len) != 0 ||
	    r2.hops != r->hops || r2.eightbit != r->eightbit ||
	    r2.long_line != r->long_line)
		abort();
	buf_clear(&r2.out);
	buf_clear(&s);
}

/* LLVMFuzzerTestOneInput - chunked vs one-shot vs reference */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result once, chunked, want;
	struct params pa;
	size_t i, sum = 0;

	if (size < HDR_LEN)
		return 0;
	pa.nsizes = data[0] & 7;
	pa.line_max = data[1];
	pa.out_max = data[2] ? data[2] : BIG_MAX;
	if (size < HDR_LEN + pa.nsizes)
		return 0;
	pa.sizes = data + HDR_LEN;
	for (i = 0; i < pa.nsizes; i++)
		sum += pa.sizes[i];
	pa.in = (const char *)data + HDR_LEN + pa.nsizes;
	pa.len = size - HDR_LEN - pa.nsizes;

	if (sum == 0)
		pa.nsizes = 0;	/* only empty chunks would never finish */

	ref(&pa, &want);
	run(&pa, &chunked);
	pa.nsizes = 0;
	run(&pa, &once);
	same(&once, &want);
	same(&chunked, &want);
	check_out(&pa, &once);
	round_trip(&pa, &once);
	buf_clear(&once.out);
	buf_clear(&chunked.out);
	buf_clear(&want.out);
	return 0;
}
