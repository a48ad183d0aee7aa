/*
 * fuzz_tab.c - libFuzzer target for the TAB file reader and writer.
 *
 * Exercises tab_split on the raw input, tab_load_stream on the input as a
 * file, and the writer: the input cut at NUL bytes gives field values (the
 * first byte selects bare fields), and whatever tab_format accepts must read
 * back unchanged through tab_split and tab_load_stream.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/tab.h"

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerInitialize - keep warnings about malformed lines quiet */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_tab", false, false, false);
	return 0;
}

/* fuzz_split - tab_split on a copy of the input */
static void
fuzz_split(const uint8_t *data, size_t size)
{
	char *fields[TAB_FIELDS_MAX];
	char *line;
	size_t n, i;

	if ((line = malloc(size + 1)) == NULL)
		return;
	memcpy(line, data, size);
	if (tab_split(line, size, fields, TAB_FIELDS_MAX, &n) == TAB_OK) {
		for (i = 0; i < n; i++)
			if (fields[i] < line || fields[i] > line + size ||
			    strlen(fields[i]) > size)
				abort();
	} else if (n != 0) {
		abort();
	}
	free(line);
}

/* fuzz_load - tab_load_stream on the input as a file */
static void
fuzz_load(const uint8_t *data, size_t size)
{
	struct tab t;
	size_t i, j;
	FILE *fp;

	if (size == 0 || (fp = fmemopen((void *)data, size, "r")) == NULL)
		return;
	if (tab_load_stream(fp, "fuzz", &t) == 0) {
		for (i = 0; i < t.nrecs; i++) {
			if (t.recs[i].n == 0 || t.recs[i].n > TAB_FIELDS_MAX)
				abort();
			for (j = 0; j < t.recs[i].n; j++)
				if (strlen(t.recs[i].f[j]) > TAB_LINE_MAX)
					abort();
		}
	}
	fclose(fp);
	tab_free(&t);
}

/* fuzz_same - abort unless the n fields equal want */
static void
fuzz_same(char *const *got, size_t ngot, const char *const *want, size_t n)
{
	size_t i;

	if (ngot != n)
		abort();
	for (i = 0; i < n; i++)
		if (strcmp(got[i], want[i]) != 0)
			abort();
}

/* fuzz_reload - the formatted line read back as a file */
static void
fuzz_reload(const struct buf *b, const char *const *want, size_t n)
{
	struct tab t;
	FILE *fp;

	if ((fp = fmemopen(b->data, b->len, "r")) == NULL)
		return;
	if (tab_load_stream(fp, "fuzz", &t) == 0) {
		if (t.nrecs != 1)
			abort();
		fuzz_same(t.recs[0].f, t.recs[0].n, want, n);
	}
	fclose(fp);
	tab_free(&t);
}

/* fuzz_round_trip - values from the input through tab_format and back */
static void
fuzz_round_trip(const uint8_t *data, size_t size)
{
	const char *want[TAB_FIELDS_MAX + 1];
	char *fields[TAB_FIELDS_MAX];
	unsigned long bare;
	char *copy, *p, *end;
	struct buf b;
	size_t n = 0, got;

	if (size == 0 || (copy = malloc(size + 1)) == NULL)
		return;
	bare = data[0];
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	end = copy + size - 1;
	for (p = copy; n < TAB_FIELDS_MAX + 1; p += strlen(p) + 1) {
		want[n++] = p;
		if (p + strlen(p) >= end)
			break;
	}
	buf_init(&b, 4 * TAB_LINE_MAX);
	if (tab_format(&b, want, n, bare) == 0) {
		if (b.len == 0 || b.data[b.len - 1] != '\n' ||
		    memchr(b.data, '\n', b.len - 1) != NULL)
			abort();
		fuzz_reload(&b, want, n);
		b.data[--b.len] = '\0';
		if (tab_split(b.data, b.len, fields, TAB_FIELDS_MAX, &got) !=
		    TAB_OK)
			abort();
		fuzz_same(fields, got, want, n);
	}
	buf_clear(&b);
	free(copy);
}

/* LLVMFuzzerTestOneInput - one input through every entry point */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_split(data, size);
	fuzz_load(data, size);
	fuzz_round_trip(data, size);
	return 0;
}
