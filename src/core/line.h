/*
 * line.h - the one line reader with a limit.
 *
 * Reads CRLF-terminated lines from a libevent evbuffer.  Only CR LF ends a
 * line (EVBUFFER_EOL_CRLF_STRICT): a bare LF or CR stays inside the line, so
 * protocol code can see and refuse it (SMTP smuggling).  If no CRLF is found
 * within `max` bytes the line is reported too long before the read
 * high-watermark can stall the connection.
 */
#ifndef POSTROOM_CORE_LINE_H
#define POSTROOM_CORE_LINE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

struct evbuffer;

enum line_status {
	LINE_OK,		/* a line is in `out` (without CRLF) */
	LINE_MORE,		/* no complete line yet */
	LINE_TOO_LONG,		/* more than max bytes without CRLF */
};

/*
 * line_read - take the next line out of `in` into `out` (reset first).
 * `max` counts the line without its CRLF.  On LINE_TOO_LONG nothing is
 * consumed; the caller replies and usually closes or discards with
 * line_discard.
 */
enum line_status	line_read(struct evbuffer *in, size_t max,
			    struct buf *out);

/*
 * line_discard - drop input up to and including the next CRLF; returns 1 if
 * a CRLF was found, 0 if everything buffered was dropped.
 */
int	line_discard(struct evbuffer *in);

/* line_has_ctl_eol - true when `s` (n bytes) contains a CR, LF or NUL. */
bool	line_has_ctl_eol(const char *s, size_t n);

/* line_has_8bit - true when `s` (n bytes) has a byte above 127. */
bool	line_has_8bit(const char *s, size_t n);

#endif
