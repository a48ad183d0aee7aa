/*
 * fuzz_notify.c - libFuzzer target for the report composer.
 *
 * The input is cut at NUL bytes into title, app name, summary, a field
 * key and value, an attachment name and body, and a template (missing
 * pieces are NULL or empty).  Whatever they hold, notify_compose either
 * refuses with a reason and leaves the output as it was, or produces a
 * message whose every line ends with CRLF, has no other CR or LF, and
 * is at most 998 octets (RFC 5322 2.1.1).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "notify/notify.h"

#define LINE_MAX_OCTETS	998

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_lines - CRLF line ends only, no line over the limit */
static void
check_lines(const char *s, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\r') {
			if (i + 1 >= n || s[i + 1] != '\n')
				abort();
			if (i - start > LINE_MAX_OCTETS)
				abort();
			start = i + 2;
			i++;
		} else if (s[i] == '\n') {
			abort();
		}
	}
	if (start != n)
		abort();		/* the last line has no CRLF */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *piece[8] = { NULL };
	char *copy, *p, *end, err[256];
	struct notify_field field;
	struct notify_attach att;
	struct notify_msg m;
	const char *to = "ops@example.org";
	struct buf out;
	size_t k = 0;

	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (p = copy, end = copy + size; k < 8 && p <= end; k++) {
		piece[k] = p;
		p += strlen(p) + 1;
	}
	memset(&m, 0, sizeof(m));
	m.title = piece[0];
	m.app_name = piece[1];
	m.body = piece[2];
	m.status = size % 4;
	field.key = piece[3] != NULL ? piece[3] : "Job";
	field.value = piece[4] != NULL ? piece[4] : "";
	m.fields = &field;
	m.nfields = 1;
	if (piece[5] != NULL) {
		att.name = piece[5][0] != '\0' ? piece[5] : "log.txt";
		att.data = piece[6] != NULL ? piece[6] : "";
		att.len = strlen(att.data);
		att.type = NULL;
		m.attach = &att;
		m.nattach = 1;
	}
	m.html_template = piece[7];
	m.from = "backup@example.org";
	m.to = &to;
	m.nto = 1;
	m.hostname = "host.example.org";
	m.when = 1700000000;
	buf_init(&out, (size_t)16 << 20);
	if (notify_compose(&m, &out, err, sizeof(err)) == 0)
		check_lines(out.data, out.len);
	else if (out.len != 0)
		abort();		/* a refusal leaves the output alone */
	buf_clear(&out);
	free(copy);
	return 0;
}
