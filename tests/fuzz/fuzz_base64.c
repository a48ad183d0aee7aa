/*
 * fuzz_base64.c - libFuzzer target for the strict base64 decoder (SASL
 * responses of SMTP AUTH come straight from the network).
 *
 * Whatever decodes must encode back to exactly the input: the decoder
 * accepts one spelling per octet string (padding, zero unused bits).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char out[4096];
	struct buf b;
	long n;

	n = base64_decode((const char *)data, size, out, sizeof(out));
	if (n < 0)
		return 0;
	if ((size_t)n > sizeof(out) || (size_t)n > size)
		abort();
	buf_init(&b, 8192);
	if (base64_encode(out, (size_t)n, &b) == -1 || b.len != size ||
	    memcmp(b.data, data, size) != 0)
		abort();
	buf_clear(&b);
	return 0;
}
