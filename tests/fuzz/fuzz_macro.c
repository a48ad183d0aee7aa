/*
 * fuzz_macro.c - libFuzzer target for macro substitution.
 *
 * The first input byte sets the output limit, the rest is the argument.
 * Checks: the limit holds, a failed expansion leaves the buffer unchanged,
 * and an argument without "$(" or a leading "@@" is copied verbatim.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/macro.h"

#define FUZZ_PREFIX	"pre"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct macro_var fuzz_vars[] = {
	{ "FROM", "alice@example.com" },
	{ "RCPT", "$(FROM)" },
	{ "AT", "@@FROM" },
	{ "EMPTY", "" },
	{ "P", ")(" },
	{ NULL, NULL },
};

/* LLVMFuzzerTestOneInput - expand one argument */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out;
	size_t max;
	char *in;
	int rc;

	if (size == 0 || (in = malloc(size)) == NULL)
		return 0;
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	max = data[0] == 0xff ? 1 << 20 : (size_t)data[0] * 4;
	buf_init(&out, max);
	if (buf_puts(&out, FUZZ_PREFIX) == -1) {
		free(in);
		return 0;
	}
	rc = macro_expand(&out, in, macro_table_lookup, fuzz_vars);
	if (out.len > max || strlen(out.data) != out.len ||
	    memcmp(out.data, FUZZ_PREFIX, strlen(FUZZ_PREFIX)) != 0)
		abort();
	if (rc == -1 && out.len != strlen(FUZZ_PREFIX))
		abort();
	if (rc == 0 && strstr(in, "$(") == NULL && strncmp(in, "@@", 2) != 0 &&
	    strcmp(out.data + strlen(FUZZ_PREFIX), in) != 0)
		abort();
	buf_clear(&out);
	free(in);
	return 0;
}
