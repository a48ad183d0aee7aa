/*
 * smtpd_data.c - the DATA stream state machine.
 *
 * The hot path is ST_TEXT: memchr finds the next LF and then any CR before
 * it, and the whole line (text plus its CRLF) is appended with one
 * buf_append.  The other states each look at one byte at a line start or
 * after a CR.  The state of the Received:/X-Deliver-To: match lives in the
 * `state` bits, with d->line_len as the position, so names split across
 * chunks need no buffer.
 *
 * Every decision depends only on the bytes seen so far, never on where a
 * chunk ends: a CR at the end of a chunk waits in ST_CR for the next byte,
 * and output is cut at exactly out->max, so any split of the input gives
 * the same output, flags and total number of bytes used.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/compat.h"
#include "core/log.h"
#include "smtpd/smtpd_data.h"

enum {
	ST_BOL,			/* at the start of a line */
	ST_DOT,			/* the line began with '.' */
	ST_DOT_CR,		/* "." CR at a line start: LF ends the data */
	ST_TEXT,		/* inside a line */
	ST_CR,			/* CR ended a chunk: LF must come next */
	ST_DONE,		/* end marker seen */
	ST_BARE,		/* bare CR or LF seen */
};

#define ST_MASK		0x0f	/* state bits of d->state */
#define HDR_SHIFT	4	/* header-name candidates above them */
#define HDR_ALL		((1u << nitems(hdr_names)) - 1)

/*
 * Header names counted as hops, lower case, with the colon: the name must
 * be followed by ':' at once (RFC 5322 2.2; "Received-SPF:" and obsolete
 * "Received :" do not count).  Bit k of the candidate mask is name k.
 */
static const char *const hdr_names[] = {
	"received:",
	"x-deliver-to:",
};

/* data_st - the state without the header-match bits */
static inline int
data_st(const struct smtpd_data *d)
{
	return d->state & ST_MASK;
}

/* data_set - change state, keeping the header-match bits */
static inline void
data_set(struct smtpd_data *d, int st)
{
	d->state = (d->state & ~ST_MASK) | st;
}

/* data_lower - ASCII lower case of a byte, other bytes unchanged */
static inline int
data_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* data_has_8bit - does any of the n bytes have the high bit set */
static bool
data_has_8bit(const char *p, size_t n)
{
	uint64_t w, acc = 0;

	for (; n >= sizeof(w); p += sizeof(w), n -= sizeof(w)) {
		memcpy(&w, p, sizeof(w));
		acc |= w;
	}
	while (n-- > 0)
		acc |= (unsigned char)*p++;
	return (acc & UINT64_C(0x8080808080808080)) != 0;
}

/* data_emit - count n message octets and store them while they fit */
static void
data_emit(struct smtpd_data *d, struct buf *out, const char *p, size_t n)
{
	size_t room;

	if (CKD_ADD(&d->total, d->total, n))
		d->total = SIZE_MAX;
	if (d->too_big || n == 0)
		return;
	/* Store exactly up to out->max: the same cut for any split. */
	room = out->max > out->len ? out->max - out->len : 0;
	if (n > room) {
		d->too_big = true;
		n = room;
	}
	/*
	 * XXX: an allocation failure is reported as too_big, the only latch
	 * the contract has; the caller rejects the message either way.
	 */
	if (n > 0 && buf_append(out, p, n) == -1)
		d->too_big = true;
}

/* data_line_begin - first byte of a line's text: start the header match */
static void
data_line_begin(struct smtpd_data *d)
{
	unsigned cand = d->in_headers ? HDR_ALL : 0;

	d->state = (int)(cand << HDR_SHIFT) | ST_TEXT;
}

/* data_line_end - a CRLF was emitted: the line is complete */
static void
data_line_end(struct smtpd_data *d)
{
	/* RFC 5322 2.1: the first empty line ends the header section. */
	if (d->line_len == 0)
		d->in_headers = false;
	d->line_len = 0;
	d->state = ST_BOL;
}

/*
 * data_hdr_match - advance the header-name match over the next bytes of
 * the line (lookahead only: data_text consumes them).  The match dies at
 * the first byte that differs, so a CR or LF always ends it.
 */
static void
data_hdr_match(struct smtpd_data *d, const char *p, const char *end)
{
	unsigned cand = (unsigned)d->state >> HDR_SHIFT;
	size_t pos = d->line_len, k;
	int c;

	for (; cand != 0 && p < end; p++, pos++) {
		c = data_lower((unsigned char)*p);
		for (k = 0; k < nitems(hdr_names); k++) {
			if ((cand & (1u << k)) == 0)
				continue;
			if (hdr_names[k][pos] != c) {
				cand &= ~(1u << k);
			} else if (hdr_names[k][pos + 1] == '\0') {
				if (d->hops < UINT_MAX)
					d->hops++;
				cand = 0;
			}
		}
	}
	d->state = (int)(cand << HDR_SHIFT) | data_st(d);
}

/*
 * data_content - n bytes of line text at p, followed in the input by CRLF
 * when eol: check the line length and 8-bit, store text and CRLF at once.
 */
static void
data_content(struct smtpd_data *d, struct buf *out, const char *p,
    size_t n, bool eol)
{
	if (CKD_ADD(&d->line_len, d->line_len, n))
		d->line_len = SIZE_MAX;
	/* RFC 5321 4.5.3.1.6: the stuffed dot is not part of the length. */
	if (d->line_len > d->line_max)
		d->long_line = true;
	if (!d->eightbit && data_has_8bit(p, n))
		d->eightbit = true;
	data_emit(d, out, p, eol ? n + 2 : n);
	if (eol)
		data_line_end(d);
}

/*
 * data_text - consume line text from *pp: up to and including the CRLF
 * that ends the line, or to the end of the input.  Returns
 * SMTPD_DATA_BARE with *pp just past a bare CR or LF (RFC 5321 2.3.8:
 * CR and LF occur only together, as the line terminator), else
 * SMTPD_DATA_MORE.
 */
static enum smtpd_data_status
data_text(struct smtpd_data *d, const char **pp, const char *end,
    struct buf *out)
{
	const char *p = *pp, *lf, *cr;

	if ((unsigned)d->state >> HDR_SHIFT != 0)
		data_hdr_match(d, p, end);
	lf = memchr(p, '\n', (size_t)(end - p));
	cr = memchr(p, '\r', (size_t)((lf != NULL ? lf : end) - p));
	if (cr != NULL && cr + 1 == lf) {
		data_content(d, out, p, (size_t)(cr - p), true);
		*pp = lf + 1;
		return SMTPD_DATA_MORE;
	}
	if (cr != NULL) {
		data_content(d, out, p, (size_t)(cr - p), false);
		*pp = cr + 1;
		if (cr + 1 < end)
			return SMTPD_DATA_BARE;
		data_set(d, ST_CR);	/* the next chunk decides */
		return SMTPD_DATA_MORE;
	}
	data_content(d, out, p, (size_t)((lf != NULL ? lf : end) - p), false);
	if (lf != NULL) {
		*pp = lf + 1;
		return SMTPD_DATA_BARE;
	}
	*pp = end;
	return SMTPD_DATA_MORE;
}

/*
 * data_step - one step at *pp (which is before end): a single byte in the
 * line-start and CR states, a run of text in ST_TEXT.  *pp ends past what
 * was consumed; on BARE it is just past the offending CR or LF.
 */
static enum smtpd_data_status
data_step(struct smtpd_data *d, const char **pp, const char *end,
    struct buf *out)
{
	unsigned char c = (unsigned char)**pp;

	switch (data_st(d)) {
	case ST_BOL:
		/* RFC 5321 4.5.2: a leading dot is removed (or ends data). */
		if (c == '.') {
			d->state = ST_DOT;
			++*pp;
		} else {
			data_line_begin(d);
		}
		return SMTPD_DATA_MORE;
	case ST_DOT:
		if (c == '\r') {
			d->state = ST_DOT_CR;
			++*pp;
		} else {
			data_line_begin(d);	/* lenient: ".x" is "x" */
		}
		return SMTPD_DATA_MORE;
	case ST_DOT_CR:
		/* RFC 5321 4.1.1.4: only <CRLF>.<CRLF> ends the data. */
		if (c != '\n')
			return SMTPD_DATA_BARE;	/* the CR was bare */
		++*pp;
		return SMTPD_DATA_DONE;
	case ST_CR:
		if (c != '\n')
			return SMTPD_DATA_BARE;
		++*pp;
		data_emit(d, out, "\r\n", 2);
		data_line_end(d);
		return SMTPD_DATA_MORE;
	case ST_TEXT:
		return data_text(d, pp, end, out);
	default:
		fatalx("%s: bad state %d", __func__, d->state);
	}
}

/* smtpd_data_init - fresh state for one message */
void
smtpd_data_init(struct smtpd_data *d, size_t line_max)
{
	memset(d, 0, sizeof(*d));
	d->state = ST_BOL;
	d->line_max = line_max;
	d->in_headers = true;
}

/* smtpd_data_feed - run the state machine over one chunk of input */
enum smtpd_data_status
smtpd_data_feed(struct smtpd_data *d, const char *in, size_t len,
    struct buf *out, size_t *used)
{
	enum smtpd_data_status st = SMTPD_DATA_MORE;
	const char *p = in, *end = in + len;

	/* Once finished, stay finished and consume nothing. */
	if (data_st(d) == ST_DONE || data_st(d) == ST_BARE) {
		*used = 0;
		return data_st(d) == ST_DONE ? SMTPD_DATA_DONE :
		    SMTPD_DATA_BARE;
	}
	while (p < end && st == SMTPD_DATA_MORE)
		st = data_step(d, &p, end, out);
	if (st == SMTPD_DATA_DONE)
		d->state = ST_DONE;
	else if (st == SMTPD_DATA_BARE)
		d->state = ST_BARE;
	*used = (size_t)(p - in);
	return st;
}
