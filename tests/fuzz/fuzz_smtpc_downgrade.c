/*
 * fuzz_smtpc_downgrade.c - libFuzzer target for the 8BITMIME downgrade.
 *
 * The input is the message.  When the downgrade succeeds:
 *  - every line of the result ends with CRLF, and there is no other CR
 *    or LF;
 *  - every line the downgrade cannot carry in a 7-bit body (an octet
 *    above 127, a NUL, over 998 octets) is a line of the input, in the
 *    same order: only header lines are copied like that, so nothing the
 *    downgrade wrote itself (encoded text, base64, added fields,
 *    delimiters) breaks 7-bit SMTP;
 *  - the result, downgraded again, comes back unchanged (the walk finds
 *    the same structure in its own output, and what it converted needs
 *    no conversion);
 *  - a message without any such line is copied, only line ends changed.
 * On failure the output buffer is left as it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "smtpc/smtpc_proto.h"

#define TEXT_LINE	998		/* RFC 5321 4.5.3.1.6 */

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* is_dirty - a line 7-bit SMTP cannot carry in a body */
static bool
is_dirty(const char *s, size_t n)
{
	size_t i;

	if (n > TEXT_LINE)
		return true;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80 || s[i] == '\0')
			return true;
	return false;
}

/* next_line - the line at p in s: content length, start of the next */
static size_t
next_line(const char *s, size_t len, size_t p, size_t *next)
{
	size_t e = p;

	while (e < len && s[e] != '\r' && s[e] != '\n')
		e++;
	if (e == len)
		*next = len;
	else if (s[e] == '\r' && e + 1 < len && s[e + 1] == '\n')
		*next = e + 2;
	else
		*next = e + 1;
	return e - p;
}

/* find_line - the next input line at or after *pos equal to l */
static bool
find_line(const char *in, size_t len, size_t *pos, const char *l, size_t n)
{
	size_t p = *pos, next, k;

	for (; p < len; p = next) {
		k = next_line(in, len, p, &next);
		if (k == n && memcmp(in + p, l, n) == 0) {
			*pos = next;
			return true;
		}
	}
	return false;
}

/* check_lines - CRLF everywhere; dirty lines only copied from the input */
static void
check_lines(const char *in, size_t len, const struct buf *out)
{
	const char *s = out->data;
	size_t p = 0, e, pos = 0;

	if (out->len == 0)
		return;
	if (out->len < 2 || s[out->len - 2] != '\r' || s[out->len - 1] != '\n')
		abort();
	while (p < out->len) {
		for (e = p; s[e] != '\r' && s[e] != '\n'; e++)
			;
		if (s[e] != '\r' || s[e + 1] != '\n')
			abort();
		if (is_dirty(s + p, e - p) &&
		    !find_line(in, len, &pos, s + p, e - p))
			abort();
		p = e + 2;
	}
}

/* normalised - the input with every line end as CRLF, a final one too */
static void
normalised(const char *in, size_t len, struct buf *b)
{
	size_t p = 0, k, next;

	while (p < len) {
		k = next_line(in, len, p, &next);
		if (buf_append(b, in + p, k) == -1 ||
		    buf_append(b, "\r\n", 2) == -1)
			abort();
		p = next;
	}
}

/* all_clean - no line of the input is dirty */
static bool
all_clean(const char *in, size_t len)
{
	size_t p = 0, k, next;

	while (p < len) {
		k = next_line(in, len, p, &next);
		if (is_dirty(in + p, k))
			return false;
		p = next;
	}
	return true;
}

/* LLVMFuzzerTestOneInput - downgrade, check, downgrade again */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct buf out, again, norm;

	buf_init(&out, 4 * size + 1024);
	if (buf_append(&out, "x", 1) == -1)
		abort();
	if (smtpc_downgrade_8bit(in, size, &out) == -1) {
		if (out.len != 1 || out.data[0] != 'x' || out.data[1] != '\0')
			abort();
		buf_clear(&out);
		return 0;
	}
	/* Appended after what was there. */
	if (out.data[0] != 'x')
		abort();
	memmove(out.data, out.data + 1, out.len);
	out.len--;
	check_lines(in, size, &out);
	if (all_clean(in, size)) {
		buf_init(&norm, SIZE_MAX - 1);
		normalised(in, size, &norm);
		if (norm.len != out.len ||
		    memcmp(norm.data, out.data, out.len) != 0)
			abort();
		buf_clear(&norm);
	}
	buf_init(&again, 4 * out.len + 1024);
	if (smtpc_downgrade_8bit(out.data, out.len, &again) == -1 ||
	    again.len != out.len ||
	    memcmp(again.data, out.data, out.len) != 0)
		abort();
	buf_clear(&again);
	buf_clear(&out);
	return 0;
}
