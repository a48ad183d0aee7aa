/*
 * tab.c - XMail TAB files: reader and writer.
 *
 * The reader is stricter than XMail's fgets() loops (XMAIL-FACTS section 9):
 * XMail split an over-long line and read its tail as another record; here
 * the whole line is refused and reported, so a truncated value can never be
 * taken for a real one.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/tab.h"

#define TAB_RECS_MIN	16	/* first size of the record array */

/* State of the line reader over one stream. */
struct tab_reader {
	FILE		*fp;		/* stream, locked by the caller */
	unsigned	 lineno;	/* number of the current line */
	size_t		 len;		/* bytes in line */
	bool		 toolong;	/* line exceeded TAB_LINE_MAX */
	char		 line[TAB_LINE_MAX + 1]; /* content, room for NUL */
};

/* tab_strerror - text for an error code */
const char *
tab_strerror(enum tab_err e)
{
	switch (e) {
	case TAB_OK:
		return "no error";
	case TAB_ERR_TOO_LONG:
		return "line too long";
	case TAB_ERR_NUL:
		return "NUL byte in line";
	case TAB_ERR_QUOTE:
		return "unterminated quoted field";
	case TAB_ERR_TRAILING:
		return "text after closing quote";
	case TAB_ERR_FIELDS:
		return "too many fields";
	}
	return "unknown error";
}

/* tab_field - unquote one TAB-free token [tok, end) in place */
static enum tab_err
tab_field(char *tok, char *end, char **field)
{
	char *r, *w;

	*end = '\0';
	if (*tok != '"') {
		*field = tok;
		return TAB_OK;
	}
	r = w = tok + 1;
	for (;;) {
		if (r == end)
			return TAB_ERR_QUOTE;
		if (r[0] == '\\' && r + 1 < end && r[1] == '"') {
			*w++ = '"';
			r += 2;
		} else if (r[0] == '"') {
			break;
		} else {
			*w++ = *r++;
		}
	}
	if (r + 1 != end)
		return TAB_ERR_TRAILING;
	*w = '\0';
	*field = tok + 1;
	return TAB_OK;
}

/* tab_split - split one line into fields in place */
enum tab_err
tab_split(char *line, size_t len, char **fields, size_t maxfields,
    size_t *nfields)
{
	char *p, *tok, *end;
	size_t n = 0;
	enum tab_err e;

	*nfields = 0;
	if (len > TAB_LINE_MAX)
		return TAB_ERR_TOO_LONG;
	if (memchr(line, '\0', len) != NULL)
		return TAB_ERR_NUL;
	line[len] = '\0';
	if (len == 0 || line[0] == '#')
		return TAB_OK;
	p = line;
	end = line + len;
	while (p < end) {
		if (*p == '\t') {
			p++;
			continue;
		}
		tok = p;
		while (p < end && *p != '\t')
			p++;
		if (n == maxfields)
			return TAB_ERR_FIELDS;
		if ((e = tab_field(tok, p, &fields[n])) != TAB_OK)
			return e;
		n++;
		if (p < end)
			p++;
	}
	*nfields = n;
	return TAB_OK;
}

/* tab_reader_put - store one byte of the current line, or note overflow */
static void
tab_reader_put(struct tab_reader *r, int c)
{
	if (r->len < TAB_LINE_MAX)
		r->line[r->len++] = (char)c;
	else
		r->toolong = true;
}

/*
 * tab_read_line - read the next line up to LF, without its trailing run of
 * CR/LF.  CRs are held back until a byte other than CR or LF follows them,
 * so a long run of CRs before the LF does not count against the limit.
 * Bytes past TAB_LINE_MAX are consumed and dropped, with r->toolong set.
 * Returns 1 for a line, 0 at end of file, -1 on a read error.
 */
static int
tab_read_line(struct tab_reader *r)
{
	size_t pending_cr = 0;
	bool any = false;
	int c;

	r->len = 0;
	r->toolong = false;
	while ((c = getc_unlocked(r->fp)) != EOF) {
		any = true;
		if (c == '\n')
			break;
		if (c == '\r') {
			pending_cr++;
			continue;
		}
		for (; pending_cr > 0 && !r->toolong; pending_cr--)
			tab_reader_put(r, '\r');
		pending_cr = 0;
		tab_reader_put(r, c);
	}
	if (c == EOF && ferror(r->fp))
		return -1;
	if (!any)
		return 0;
	if (r->lineno < UINT_MAX)
		r->lineno++;
	return 1;
}

/* tab_add - append a record holding copies of the fields */
static int
tab_add(struct tab *t, size_t *cap, char **fields, size_t n,
    unsigned lineno)
{
	struct tab_rec *rec;
	size_t i, sz, flen;
	char **f, *p;

	if (t->nrecs == *cap) {
		size_t ncap = *cap ? *cap : TAB_RECS_MIN, bytes;

		if ((*cap && CKD_MUL(&ncap, ncap, (size_t)2)) ||
		    CKD_MUL(&bytes, ncap, sizeof(*rec))) {
			errno = ENOMEM;
			return -1;
		}
		if ((rec = realloc(t->recs, bytes)) == NULL)
			return -1;
		t->recs = rec;
		*cap = ncap;
	}
	/* One block: the pointer array, then the strings. */
	sz = n * sizeof(*f);
	for (i = 0; i < n; i++)
		sz += strlen(fields[i]) + 1;	/* bounded by TAB_LINE_MAX */
	if ((f = malloc(sz)) == NULL)
		return -1;
	p = (char *)(f + n);
	for (i = 0; i < n; i++) {
		flen = strlen(fields[i]) + 1;
		memcpy(p, fields[i], flen);
		f[i] = p;
		p += flen;
	}
	rec = &t->recs[t->nrecs++];
	rec->f = f;
	rec->n = n;
	rec->lineno = lineno;
	return 0;
}

/* tab_read_all - read records from r until end of file into t */
static int
tab_read_all(struct tab_reader *r, const char *name, struct tab *t)
{
	char *fields[TAB_FIELDS_MAX];
	size_t n, cap = 0;
	enum tab_err e;
	int rc;

	while ((rc = tab_read_line(r)) == 1) {
		if (r->lineno == 1 && r->len >= 3 &&
		    memcmp(r->line, "\xef\xbb\xbf", 3) == 0) {
			/* UTF-8 byte order mark left by some editors. */
			r->len -= 3;
			memmove(r->line, r->line + 3, r->len);
		}
		if (r->toolong)
			e = TAB_ERR_TOO_LONG;
		else
			e = tab_split(r->line, r->len, fields,
			    nitems(fields), &n);
		if (e != TAB_OK) {
			log_warn("%s:%u: %s", name, r->lineno,
			    tab_strerror(e));
			continue;
		}
		if (n > 0 && tab_add(t, &cap, fields, n, r->lineno) == -1)
			return -1;
	}
	return rc;
}

/* tab_load_stream - read a table from an open stream */
int
tab_load_stream(FILE *fp, const char *name, struct tab *t)
{
	struct tab_reader *r;
	int rc, save;

	memset(t, 0, sizeof(*t));
	if ((t->path = strdup(name)) == NULL)
		return -1;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		tab_free(t);
		return -1;
	}
	r->fp = fp;
	flockfile(fp);
	rc = tab_read_all(r, name, t);
	funlockfile(fp);
	free(r);
	if (rc == -1) {
		save = errno;
		tab_free(t);
		errno = save;
		return -1;
	}
	return 0;
}

/* tab_load - read a table from a file; a missing file is an empty table */
int
tab_load(const char *path, struct tab *t)
{
	FILE *fp;
	int rc, save;

	memset(t, 0, sizeof(*t));
	if ((fp = fopen(path, "re")) == NULL) {
		if (errno != ENOENT)
			return -1;
		if ((t->path = strdup(path)) == NULL)
			return -1;
		return 0;
	}
	rc = tab_load_stream(fp, path, t);
	save = errno;
	fclose(fp);
	errno = save;
	return rc;
}

/* tab_free - release a table */
void
tab_free(struct tab *t)
{
	size_t i;

	for (i = 0; i < t->nrecs; i++)
		free(t->recs[i].f);
	free(t->recs);
	free(t->path);
	memset(t, 0, sizeof(*t));
}

/* tab_find - first record with `key` in column `col`, ignoring case */
const struct tab_rec *
tab_find(const struct tab *t, size_t col, const char *key, size_t minfields)
{
	const struct tab_rec *rec;
	size_t i;

	for (i = 0; i < t->nrecs; i++) {
		rec = &t->recs[i];
		if (rec->n <= col || rec->n < minfields)
			continue;
		if (strcasecmp(rec->f[col], key) == 0)
			return rec;
	}
	return NULL;
}

/* tab_value_ok - true when v survives a quoted write and read back */
bool
tab_value_ok(const char *v)
{
	size_t len;

	if (v == NULL || strpbrk(v, "\t\r\n") != NULL)
		return false;
	len = strlen(v);
	return len == 0 || v[len - 1] != '\\';
}

/* tab_bare_ok - true when v, field i, survives a bare write and read back */
static bool
tab_bare_ok(const char *v, size_t i)
{
	if (v == NULL || v[0] == '\0' || v[0] == '"')
		return false;
	/* Would read back as a comment, or lose a byte order mark. */
	if (i == 0 && (v[0] == '#' || strncmp(v, "\xef\xbb\xbf", 3) == 0))
		return false;
	return strpbrk(v, "\t\r\n") == NULL;
}

/* tab_is_bare - true when bit i of mask is set */
static bool
tab_is_bare(unsigned long mask, size_t i)
{
	return i < sizeof(mask) * CHAR_BIT && ((mask >> i) & 1UL) != 0;
}

/* tab_format_len - length of the formatted line without "\n", or -1 */
static int
tab_format_len(const char *const *fields, size_t n, unsigned long bare_mask,
    size_t *lenp)
{
	const char *s;
	size_t i, len;

	if (n == 0 || n > TAB_FIELDS_MAX)
		return -1;
	len = n - 1;				/* the TABs */
	for (i = 0; i < n; i++) {
		s = fields[i];
		if (tab_is_bare(bare_mask, i)) {
			if (!tab_bare_ok(s, i))
				return -1;
		} else {
			if (!tab_value_ok(s))
				return -1;
			len += 2;		/* the quotes */
			for (; (s = strchr(s, '"')) != NULL; s++)
				len++;		/* the backslash */
			s = fields[i];
		}
		len += strlen(s);
		if (len > TAB_LINE_MAX)
			return -1;
	}
	*lenp = len;
	return 0;
}

/* tab_put_quoted - append v as a quoted field */
static int
tab_put_quoted(struct buf *out, const char *v)
{
	const char *q;

	if (buf_putc(out, '"') == -1)
		return -1;
	while ((q = strchr(v, '"')) != NULL) {
		if (buf_append(out, v, (size_t)(q - v)) == -1 ||
		    buf_append(out, "\\\"", 2) == -1)
			return -1;
		v = q + 1;
	}
	if (buf_puts(out, v) == -1 || buf_putc(out, '"') == -1)
		return -1;
	return 0;
}

/* tab_format - append one record as a line */
int
tab_format(struct buf *out, const char *const *fields, size_t n,
    unsigned long bare_mask)
{
	size_t i, len, start = out->len;
	int rc = 0, save;

	if (tab_format_len(fields, n, bare_mask, &len) == -1) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (i > 0 && buf_putc(out, '\t') == -1)
			rc = -1;
		else if (tab_is_bare(bare_mask, i))
			rc = buf_puts(out, fields[i]);
		else
			rc = tab_put_quoted(out, fields[i]);
	}
	if (rc == 0)
		rc = buf_putc(out, '\n');
	if (rc == -1) {
		/* Leave `out` as it was. */
		save = errno;
		out->len = start;
		if (out->cap > 0)
			out->data[start] = '\0';
		errno = save;
	}
	return rc;
}
