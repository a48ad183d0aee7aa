/*
 * fuzz_smtpc_reply.c - libFuzzer target for the SMTP client's reply
 * reader.
 *
 * Input layout: byte 0 gives the number of chunk sizes (low 3 bits) and
 * whether enhanced codes are parsed (bit 3), then the chunk sizes
 * (cycled; 0 is an empty feed), then the server's output.
 *
 * The output is read at once, reply after reply until the reader says
 * MORE or BAD, and again arriving in those chunks; both must give the
 * same replies and the same final status.  Invariants: OK consumes at
 * least one line and never more than there is, MORE and BAD consume
 * nothing, codes are 200..599, the text has no CR and no more lines than
 * allowed, an enhanced code has the reply's class.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "core/buf.h"
#include "smtpc/smtpc_proto.h"

#define HDR_LEN		1		/* fixed header bytes */
#define MAX_REPLIES	4096		/* replies remembered per run */

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one run saw. */
struct run {
	enum smtpc_read	 last;		/* the status that ended it */
	size_t		 n;		/* replies read */
	struct buf	 all;		/* codes, enh and texts, concatenated */
};

/* check - the invariants of one reply read */
static void
check(struct evbuffer *in, size_t before, enum smtpc_read st,
    const struct smtpc_reply *r, bool enhanced)
{
	size_t after = evbuffer_get_length(in), i, k;

	if (st != SMTPC_READ_OK) {
		if (after != before)
			abort();
		return;
	}
	if (after >= before || before - after < 5 || r->code < 200 ||
	    r->code > 599 || r->nlines < 1 ||
	    r->nlines > SMTPC_REPLY_LINES_MAX ||
	    before - after < r->nlines * 5 ||
	    memchr(r->text.data, '\r', r->text.len) != NULL ||
	    strlen(r->text.data) != r->text.len)
		abort();
	for (i = 0, k = 1; i < r->text.len; i++)
		if (r->text.data[i] == '\n')
			k++;
	if (k != r->nlines)
		abort();
	if (r->enh[0] != '\0' && (!enhanced || r->enh[0] != '0' +
	    r->code / 100 || r->enh[1] != '.' || strlen(r->enh) > 9))
		abort();
}

/* record - append one reply to the run's transcript */
static void
record(struct run *run, const struct smtpc_reply *r)
{
	if (buf_printf(&run->all, "%d|%s|%zu|", r->code, r->enh,
	    r->nlines) == -1 ||
	    buf_append(&run->all, r->text.data, r->text.len) == -1 ||
	    buf_putc(&run->all, 0) == -1)
		abort();
	run->n++;
}

/* read_all - read replies until MORE or BAD */
static enum smtpc_read
read_all(struct evbuffer *in, bool enhanced, struct smtpc_reply *r,
    struct run *run)
{
	enum smtpc_read st;
	size_t before;

	do {
		before = evbuffer_get_length(in);
		st = smtpc_reply_read(in, enhanced, r);
		check(in, before, st, r, enhanced);
		if (st == SMTPC_READ_OK)
			record(run, r);
	} while (st == SMTPC_READ_OK && run->n < MAX_REPLIES);
	return st;
}

/* feed - run the input through the reader in chunks (nsizes 0: once) */
static void
feed(const char *s, size_t len, const uint8_t *sizes, size_t nsizes,
    bool enhanced, struct run *run)
{
	struct evbuffer *in = evbuffer_new();
	struct smtpc_reply r;
	size_t off = 0, n, i = 0;

	if (in == NULL)
		abort();
	buf_init(&r.text, SMTPC_REPLY_TEXT_MAX);
	buf_init(&run->all, SIZE_MAX - 1);
	run->n = 0;
	run->last = SMTPC_READ_MORE;
	do {
		n = nsizes ? sizes[i++ % nsizes] : len;
		if (n > len - off)
			n = len - off;
		if (evbuffer_add(in, s + off, n) == -1)
			abort();
		off += n;
		run->last = read_all(in, enhanced, &r, run);
	} while (run->last == SMTPC_READ_MORE && off < len &&
	    run->n < MAX_REPLIES);
	buf_clear(&r.text);
	evbuffer_free(in);
}

/* LLVMFuzzerTestOneInput - chunked and one-shot reading agree */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run once, chunked;
	size_t nsizes, i, sum = 0;
	bool enhanced;

	if (size < HDR_LEN)
		return 0;
	nsizes = data[0] & 7;
	enhanced = (data[0] & 8) != 0;
	if (size < HDR_LEN + nsizes)
		return 0;
	for (i = 0; i < nsizes; i++)
		sum += data[HDR_LEN + i];
	if (sum == 0)
		nsizes = 0;	/* only empty chunks would never finish */
	feed((const char *)data + HDR_LEN + nsizes, size - HDR_LEN - nsizes,
	    NULL, 0, enhanced, &once);
	feed((const char *)data + HDR_LEN + nsizes, size - HDR_LEN - nsizes,
	    data + HDR_LEN, nsizes, enhanced, &chunked);
	if (once.n < MAX_REPLIES && (once.last != chunked.last ||
	    once.n != chunked.n || once.all.len != chunked.all.len ||
	    memcmp(once.all.data, chunked.all.data, once.all.len) != 0))
		abort();
	buf_clear(&once.all);
	buf_clear(&chunked.all);
	return 0;
}
