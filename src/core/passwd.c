/*
 * passwd.c - XMCrypt obfuscation and crypt(3) hashes (see passwd.h).
 *
 * XMCrypt is XMail's format (XMAIL-FACTS section 2): every byte XOR 101,
 * written as two lower-case hex digits; decoding accepts either case.
 * Hashes go through libxcrypt's reentrant API only (crypt_gensalt_rn,
 * crypt_rn) so any thread may call these functions; struct crypt_data is
 * about 32 KB, so it lives on the heap and is wiped before it is freed.
 */
#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/passwd.h"

#define XMCRYPT_KEY	101	/* XMail's XOR key, XMCrypt.cpp */
#define XMCRYPT_CHUNK	64	/* bytes staged on the stack per append */

static const char xmcrypt_hex[] = "0123456789abcdef";

/* passwd_buf_truncate - undo a partial append: back to len bytes */
static void
passwd_buf_truncate(struct buf *out, size_t len)
{
	if (out->cap == 0)
		return;
	explicit_bzero(out->data + len, out->len - len);
	out->len = len;
	out->data[len] = '\0';
}

/* xmcrypt_hexval - value of one hex digit (either case), or -1 */
static int
xmcrypt_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* xmcrypt_encode - each byte XOR 101 as two lower-case hex digits */
int
xmcrypt_encode(const char *plain, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)plain;
	char chunk[XMCRYPT_CHUNK];
	size_t start = out->len, n = 0;
	unsigned v;

	for (; *p != '\0'; p++) {
		v = (*p ^ XMCRYPT_KEY) & 0xff;
		chunk[n++] = xmcrypt_hex[v >> 4];
		chunk[n++] = xmcrypt_hex[v & 0xf];
		if (n == sizeof(chunk)) {
			if (buf_append(out, chunk, n) == -1)
				goto fail;
			n = 0;
		}
	}
	if (buf_append(out, chunk, n) == -1)
		goto fail;
	explicit_bzero(chunk, sizeof(chunk));
	return 0;
fail:
	explicit_bzero(chunk, sizeof(chunk));
	passwd_buf_truncate(out, start);
	return -1;
}

/* xmcrypt_decode - hex pairs XOR 101; odd length, non-hex, NUL rejected */
int
xmcrypt_decode(const char *enc, struct buf *out)
{
	char chunk[XMCRYPT_CHUNK];
	size_t start = out->len, len = strlen(enc), i, n = 0;
	int hi, lo;

	if (len % 2 != 0) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < len; i += 2) {
		hi = xmcrypt_hexval((unsigned char)enc[i]);
		lo = xmcrypt_hexval((unsigned char)enc[i + 1]);
		if (hi < 0 || lo < 0 || ((hi << 4 | lo) ^ XMCRYPT_KEY) == 0) {
			errno = EINVAL;
			goto fail;
		}
		chunk[n++] = (char)((hi << 4 | lo) ^ XMCRYPT_KEY);
		if (n == sizeof(chunk)) {
			if (buf_append(out, chunk, n) == -1)
				goto fail;
			n = 0;
		}
	}
	if (buf_append(out, chunk, n) == -1)
		goto fail;
	explicit_bzero(chunk, sizeof(chunk));
	return 0;
fail:
	explicit_bzero(chunk, sizeof(chunk));
	passwd_buf_truncate(out, start);
	return -1;
}

/* passwd_crypt_data_new - zeroed crypt_data on the heap, or NULL */
static struct crypt_data *
passwd_crypt_data_new(void)
{
	return calloc(1, sizeof(struct crypt_data));
}

/* passwd_crypt_data_free - wipe (it holds the password) and free */
static void
passwd_crypt_data_free(struct crypt_data *cd)
{
	if (cd == NULL)
		return;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
}

/* passwd_hash - crypt(3) hash with a fresh salt from the OS */
int
passwd_hash(const char *plain, enum passwd_hash kind, struct buf *out)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *prefix, *h;
	int rc = -1;

	switch (kind) {
	case PASSWD_YESCRYPT:
		prefix = "$y$";
		break;
	case PASSWD_SHA512:
		prefix = "$6$";
		break;
	default:
		errno = EINVAL;
		return -1;
	}
	/* count 0: the method's default cost; NULL rbytes: OS entropy. */
	if (crypt_gensalt_rn(prefix, 0, NULL, 0, salt, sizeof(salt)) == NULL)
		return -1;
	if ((cd = passwd_crypt_data_new()) == NULL)
		return -1;
	h = crypt_rn(plain, salt, cd, (int)sizeof(*cd));
	if (h == NULL || h[0] != '$')
		errno = EINVAL;
	else
		rc = buf_puts(out, h);
	passwd_crypt_data_free(cd);
	return rc;
}

/* passwd_is_hash - a stored value starting with '$' is a crypt(3) hash */
bool
passwd_is_hash(const char *stored)
{
	return stored != NULL && stored[0] == '$';
}

/* passwd_equal - constant-time equality of two byte strings */
static bool
passwd_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	/* Only the length may leak, never where the contents differ. */
	if (alen != blen)
		return false;
	return CRYPTO_memcmp(a, b, alen) == 0;
}

/* passwd_verify_hash - rehash with the stored setting and compare */
static bool
passwd_verify_hash(const char *plain, const char *stored)
{
	struct crypt_data *cd;
	const char *h;
	bool ok = false;

	if ((cd = passwd_crypt_data_new()) == NULL)
		return false;
	h = crypt_rn(plain, stored, cd, (int)sizeof(*cd));
	/* Failure is NULL or a "*0"-style token, never a '$' string. */
	if (h != NULL && h[0] == '$')
		ok = passwd_equal(h, strlen(h), stored, strlen(stored));
	passwd_crypt_data_free(cd);
	return ok;
}

/* passwd_verify_xmcrypt - decode the stored value and compare */
static bool
passwd_verify_xmcrypt(const char *plain, const char *stored)
{
	struct buf clear;
	bool ok = false;

	buf_init(&clear, strlen(stored) / 2);
	if (xmcrypt_decode(stored, &clear) == 0)
		ok = passwd_equal(clear.data, clear.len, plain, strlen(plain));
	passwd_buf_truncate(&clear, 0);
	buf_clear(&clear);
	return ok;
}

/* passwd_verify - true when plain matches a stored hash or XMCrypt value */
bool
passwd_verify(const char *plain, const char *stored)
{
	if (plain == NULL || stored == NULL)
		return false;
	if (passwd_is_hash(stored))
		return passwd_verify_hash(plain, stored);
	return passwd_verify_xmcrypt(plain, stored);
}
