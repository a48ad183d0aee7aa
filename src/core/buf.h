/*
 * buf.h - growable, bounded, always NUL-terminated byte buffer.
 *
 * Every operation that would make the buffer longer than `max` fails with -1
 * and leaves the content unchanged: a limit is part of the type, so a caller
 * cannot forget it (Postfix VSTRING with maxlen).  `data` is never NULL after
 * buf_init() and is always NUL-terminated, so it can be used as a C string
 * when it holds text.
 */
#ifndef POSTROOM_CORE_BUF_H
#define POSTROOM_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "core/compat.h"

struct buf {
	char	*data;		/* content, NUL-terminated */
	size_t	 len;		/* bytes used, excluding the NUL */
	size_t	 cap;		/* bytes allocated, including the NUL */
	size_t	 max;		/* largest len allowed */
};

/* buf_init - empty buffer that may grow up to max bytes; no allocation. */
void	buf_init(struct buf *b, size_t max);

/* buf_clear - free the storage; the buffer is empty and reusable. */
void	buf_clear(struct buf *b);

/* buf_reset - forget the content, keep the storage. */
void	buf_reset(struct buf *b);

/* buf_append - append n bytes; 0, or -1 on limit or allocation failure. */
int	buf_append(struct buf *b, const void *p, size_t n) WARN_UNUSED_RESULT;

/* buf_puts - append a C string; as buf_append. */
int	buf_puts(struct buf *b, const char *s) WARN_UNUSED_RESULT;

/* buf_putc - append one byte; as buf_append. */
int	buf_putc(struct buf *b, int c) WARN_UNUSED_RESULT;

/* buf_printf - append formatted text; as buf_append. */
int	buf_printf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3))) WARN_UNUSED_RESULT;
int	buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0))) WARN_UNUSED_RESULT;

/*
 * buf_take - hand the storage to the caller (free() it) and leave the
 * buffer empty.  Never returns NULL: an empty buffer yields "".
 */
char	*buf_take(struct buf *b);

#endif
