/*
 * passwd.h - password storage formats.
 *
 *  - XMCrypt (XMAIL-FACTS section 2): each byte XOR 101, as two lower-case
 *    hex digits.  Reversible obfuscation, kept so legacy files work; it is
 *    the only format that allows CRAM-MD5/APOP.
 *  - crypt(3) hashes through libxcrypt: yescrypt (`$y$`) by default, or
 *    sha512-crypt (`$6$`).  Stored in the same field; a value starting with
 *    `$` is a hash, anything else is XMCrypt.
 */
#ifndef POSTROOM_CORE_PASSWD_H
#define POSTROOM_CORE_PASSWD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/compat.h"

/* xmcrypt_encode - append the encoding of `plain` to out; 0 or -1. */
int	xmcrypt_encode(const char *plain, struct buf *out) WARN_UNUSED_RESULT;

/*
 * xmcrypt_decode - append the decoded password to out.  Returns -1 for an
 * odd length, a non-hex digit, or a byte that decodes to NUL.
 */
int	xmcrypt_decode(const char *enc, struct buf *out) WARN_UNUSED_RESULT;

enum passwd_hash {
	PASSWD_YESCRYPT,
	PASSWD_SHA512,
};

/* passwd_hash - append a crypt(3) hash of `plain` with a random salt. */
int	passwd_hash(const char *plain, enum passwd_hash kind, struct buf *out)
	    WARN_UNUSED_RESULT;

/* passwd_is_hash - true when a stored value is a crypt(3) hash. */
bool	passwd_is_hash(const char *stored);

/*
 * passwd_verify - true when `plain` matches `stored` (a hash or XMCrypt),
 * compared in constant time.
 */
bool	passwd_verify(const char *plain, const char *stored);

#endif
