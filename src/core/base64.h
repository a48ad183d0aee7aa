/*
 * base64.h - RFC 4648 base64, the one implementation (SASL exchanges of
 * SMTP AUTH, MIME bodies of generated messages).
 */
#ifndef POSTROOM_CORE_BASE64_H
#define POSTROOM_CORE_BASE64_H

#include <stddef.h>

#include "core/buf.h"
#include "core/compat.h"

/* base64_encode - append the encoding of p[0..n) (no line breaks). */
int	base64_encode(const void *p, size_t n, struct buf *out)
	    WARN_UNUSED_RESULT;

/*
 * base64_decode - strict decoding of `s` (length n) into out[0..size):
 * only the 64 letters plus '=' padding, length a multiple of 4, padding
 * only at the end, unused bits zero.  Returns the number of octets
 * written, or -1 for bad input or when the result does not fit.  out may
 * contain NUL octets (SASL PLAIN).
 */
long	base64_decode(const char *s, size_t n, unsigned char *out,
	    size_t size) WARN_UNUSED_RESULT;

#endif
