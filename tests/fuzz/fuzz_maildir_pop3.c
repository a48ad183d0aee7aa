/*
 * fuzz_maildir_pop3.c - libFuzzer target for the POP3 form of a stored
 * message (maildir_pop3_copy): mailbox files are written by anyone who
 * sends mail, and by other programs (XMail, MUAs) in any line-end style.
 *
 * Invariants: the output never has an LF without CR before it, ends with
 * CRLF when the input is not empty, and undoing the dot-stuffing and
 * the LF -> CRLF change gives the input back; TOP output is a prefix of
 * the RETR output.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/buf.h"
#include "maildir/maildir.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* sink - collect the output */
static int
sink(void *arg, const void *p, size_t n)
{
	return buf_append(arg, p, n);
}

/* convert - run maildir_pop3_copy over data in a memory file */
static void
convert(const uint8_t *data, size_t size, long lines, struct buf *out)
{
	int fd = memfd_create("fuzz", 0);

	if (fd == -1)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	if (lseek(fd, 0, SEEK_SET) != 0 ||
	    maildir_pop3_copy(fd, lines, sink, out) == -1)
		abort();
	close(fd);
}

/* check_back - unstuff and undo CRLF: must give the input */
static void
check_back(const uint8_t *in, size_t size, const struct buf *out)
{
	const char *p = out->data, *end = p + out->len;
	size_t k = 0;
	int bol = 1;

	while (p < end) {
		if (bol && *p == '.') {
			if (p + 1 >= end || p[1] != '.')
				abort();	/* unstuffed dot */
			p++;
		}
		bol = 0;
		if (*p == '\r' && p + 1 < end && p[1] == '\n') {
			/* The input had CRLF or LF (or nothing, at the end). */
			if (k < size && in[k] == '\r' && k + 1 < size &&
			    in[k + 1] == '\n')
				k += 2;
			else if (k < size && in[k] == '\n')
				k++;
			else if (k != size || p + 2 != end)
				abort();
			p += 2;
			bol = 1;
			continue;
		}
		if (*p == '\n' || k >= size || in[k] != (uint8_t)*p)
			abort();
		k++;
		p++;
	}
	if (k != size)
		abort();
	if (size > 0 && (out->len < 2 || memcmp(end - 2, "\r\n", 2) != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf all, top;
	long lines = size > 0 ? data[0] % 8 : 0;

	buf_init(&all, 4 * size + 16);
	buf_init(&top, 4 * size + 16);
	convert(data, size, -1, &all);
	check_back(data, size, &all);
	convert(data, size, lines, &top);
	if (top.len > all.len || memcmp(top.data, all.data, top.len) != 0)
		abort();
	buf_clear(&all);
	buf_clear(&top);
	return 0;
}
