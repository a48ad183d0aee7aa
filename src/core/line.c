/*
 * line.c - CRLF line reader with a limit.
 */
#include <string.h>

#include <event2/buffer.h>

#include "core/line.h"

/* line_read - extract the next CRLF-terminated line */
enum line_status
line_read(struct evbuffer *in, size_t max, struct buf *out)
{
	struct evbuffer_ptr p;
	size_t eol_len = 0;

	buf_reset(out);
	p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF_STRICT);
	if (p.pos == -1) {
		/*
		 * A pending CR may be the first half of CRLF: it does not
		 * count against the limit yet.
		 */
		if (evbuffer_get_length(in) > max + 1)
			return LINE_TOO_LONG;
		return LINE_MORE;
	}
	if ((size_t)p.pos > max)
		return LINE_TOO_LONG;
	if (buf_append(out, evbuffer_pullup(in, p.pos), (size_t)p.pos) == -1)
		return LINE_TOO_LONG;
	evbuffer_drain(in, (size_t)p.pos + eol_len);
	return LINE_OK;
}

/* line_discard - drop input through the next CRLF */
int
line_discard(struct evbuffer *in)
{
	struct evbuffer_ptr p;
	size_t eol_len = 0;

	p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF_STRICT);
	if (p.pos == -1) {
		size_t n = evbuffer_get_length(in);
		unsigned char last = 0;

		/* Keep a trailing CR: its LF may arrive next. */
		if (n > 0) {
			struct evbuffer_ptr q;

			evbuffer_ptr_set(in, &q, n - 1, EVBUFFER_PTR_SET);
			evbuffer_copyout_from(in, &q, &last, 1);
		}
		evbuffer_drain(in, last == '\r' ? n - 1 : n);
		return 0;
	}
	evbuffer_drain(in, (size_t)p.pos + eol_len);
	return 1;
}

/* line_has_ctl_eol - detect CR, LF or NUL inside a line */
bool
line_has_ctl_eol(const char *s, size_t n)
{
	return memchr(s, '\r', n) != NULL || memchr(s, '\n', n) != NULL ||
	    memchr(s, '\0', n) != NULL;
}

/* line_has_8bit - any byte above 127 */
bool
line_has_8bit(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] > 127)
			return true;
	return false;
}
