/*
 * smtpd_data.h - the DATA stream state machine (pure, fuzzed).
 *
 * Fed the raw bytes after "354", it finds the end of the message, removes
 * dot-stuffing (RFC 5321 4.5.2) and checks line endings.  Only
 * <CRLF>.<CRLF> ends the data (RFC 5321 4.1.1.4): a bare LF or bare CR
 * anywhere is an error reported at once (SMTPD_DATA_BARE), so no
 * "smuggling" payload (<LF>.<LF>, <LF>.<CR><LF>, <CR>.<CR>, <CR><LF>.<LF>)
 * can end the data or be read as commands.  It also counts Received: and
 * X-Deliver-To: header lines (loop detection) and notices 8-bit bytes.
 */
#ifndef POSTROOM_SMTPD_SMTPD_DATA_H
#define POSTROOM_SMTPD_SMTPD_DATA_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

enum smtpd_data_status {
	SMTPD_DATA_MORE,	/* all input consumed, need more */
	SMTPD_DATA_DONE,	/* end marker consumed; message complete */
	SMTPD_DATA_BARE,	/* bare CR or LF seen: reject, close */
};

struct smtpd_data {
	int	state;		/* internal */
	size_t	line_len;	/* octets of the current line so far */
	size_t	line_max;	/* longest line accepted, without CRLF */
	bool	in_headers;	/* still in the header section */
	bool	long_line;	/* latched: a line exceeded line_max */
	bool	too_big;	/* latched: out->max was exceeded */
	bool	eightbit;	/* a byte > 127 was seen */
	unsigned hops;		/* Received: + X-Deliver-To: headers */
	size_t	total;		/* unstuffed message octets seen */
};

/* smtpd_data_init - start a message; line_max excludes CRLF. */
void	smtpd_data_init(struct smtpd_data *d, size_t line_max);

/*
 * smtpd_data_feed - consume up to `len` bytes of `in`, appending the
 * unstuffed message (lines still CRLF-terminated, end marker excluded) to
 * `out`.  When `out` would exceed out->max, too_big is latched and further
 * data is counted in `total` but not stored.  *used gets the number of
 * bytes consumed: on DONE and BARE the rest belongs to the next command
 * (DONE) or is to be discarded (BARE).
 */
enum smtpd_data_status	smtpd_data_feed(struct smtpd_data *d,
			    const char *in, size_t len, struct buf *out,
			    size_t *used);

#endif
