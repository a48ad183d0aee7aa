/*
 * fuzz_queue_slog.c - libFuzzer target for the slog reader
 * (queue_slog_parse): slog files may come from an XMail spool or be cut
 * short by a crash; the reader must stay in bounds and keep its
 * NUL-terminated, bounded fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_slog.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerTestOneInput - parse, check the fields' invariants */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_slog_info si;
	char *copy = malloc(size ? size : 1);

	/* An exact-size copy, so ASan sees any read past the end. */
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	queue_slog_parse(copy, size, &si);
	if (si.tries < 0 ||
	    memchr(si.last_error, '\0', sizeof(si.last_error)) == NULL ||
	    memchr(si.last_server, '\0', sizeof(si.last_server)) == NULL)
		abort();
	free(copy);
	return 0;
}
