/*
 * buf.c - bounded growable buffer.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"

static char buf_empty[1];

/* buf_init - empty buffer with a limit */
void
buf_init(struct buf *b, size_t max)
{
	b->data = buf_empty;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

/* buf_clear - release storage */
void
buf_clear(struct buf *b)
{
	if (b->cap > 0)
		free(b->data);
	buf_init(b, b->max);
}

/* buf_reset - drop content */
void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->cap > 0)
		b->data[0] = '\0';
}

/* buf_reserve - make room for n more bytes plus the NUL */
static int
buf_reserve(struct buf *b, size_t n)
{
	size_t need, ncap;
	char *p;

	if (CKD_ADD(&need, b->len, n) || need > b->max) {
		errno = EMSGSIZE;
		return -1;
	}
	if (need + 1 <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need + 1) {
		if (CKD_MUL(&ncap, ncap, (size_t)2))
			return -1;
	}
	if (b->cap > 0) {
		p = realloc(b->data, ncap);
	} else {
		p = malloc(ncap);
		if (p != NULL)
			p[0] = '\0';
	}
	if (p == NULL)
		return -1;
	b->data = p;
	b->cap = ncap;
	return 0;
}

/* buf_append - append bytes */
int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* buf_puts - append a string */
int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/* buf_putc - append a byte */
int
buf_putc(struct buf *b, int c)
{
	char ch = (char)c;

	return buf_append(b, &ch, 1);
}

/* buf_vprintf - append formatted text */
int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || buf_reserve(b, (size_t)n) == -1)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

/* buf_printf - append formatted text */
int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

/* buf_take - give the storage away */
char *
buf_take(struct buf *b)
{
	char *p;

	if (b->cap == 0) {
		p = strdup("");
		if (p == NULL)
			fatal(71, "out of memory");
		return p;
	}
	p = b->data;
	buf_init(b, b->max);
	return p;
}

/* str_copy - bounded copy with truncation report */
bool
str_copy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size == 0)
		return false;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}

/* str_lower_copy - bounded copy, lower-cased */
bool
str_lower_copy(char *dst, const char *src, size_t size)
{
	bool ok = str_copy(dst, src, size);
	size_t i;

	for (i = 0; size > 0 && dst[i] != '\0'; i++)
		dst[i] = (char)tolower((unsigned char)dst[i]);
	return ok;
}

/* xmalloc - allocate or die */
void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal(71, "out of memory (%zu bytes)", n);
	return p;
}

/* xcalloc - allocate zeroed or die */
void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal(71, "out of memory");
	return p;
}

/* xrealloc - resize or die */
void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		fatal(71, "out of memory (%zu bytes)", n);
	return q;
}

/* xstrdup - duplicate or die */
char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatal(71, "out of memory");
	return p;
}
