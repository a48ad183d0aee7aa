/*
 * tab.h - XMail TAB files: reader and writer.
 *
 * Format (manual "Configuration tables", XMAIL-FACTS section 9):
 *  - one record per line; LF, CRLF (any run of trailing CR/LF) accepted;
 *  - empty lines and lines whose first byte is '#' are skipped;
 *  - fields are separated by TAB; runs of TABs collapse and leading or
 *    trailing TABs are ignored, so an empty value is written `""`;
 *  - a field starting with `"` ends at the next `"` not preceded by a
 *    backslash; `\"` stands for `"`, any other backslash is literal;
 *  - a field not starting with `"` is taken verbatim (numbers are written so).
 *
 * Stricter than XMail, so that mistakes are visible instead of silently
 * misread: a line longer than TAB_LINE_MAX, a line with a NUL byte, an
 * unterminated quote, or text after a closing quote (e.g. fields separated by
 * spaces) makes the line malformed.  A malformed line is reported as
 * "file:line: reason" through log_warn and skipped; reading continues.
 * A UTF-8 byte order mark at the start of a file is ignored (it counts
 * toward the length of the first line).  A CR inside a line (not part of
 * the trailing CR/LF run) is kept as data.
 */
#ifndef POSTROOM_CORE_TAB_H
#define POSTROOM_CORE_TAB_H

#include <stddef.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/compat.h"

#define TAB_LINE_MAX	8192	/* longest line in bytes, without CR/LF */
#define TAB_FIELDS_MAX	64	/* most fields in one record */

enum tab_err {
	TAB_OK = 0,
	TAB_ERR_TOO_LONG,	/* line exceeds TAB_LINE_MAX */
	TAB_ERR_NUL,		/* NUL byte inside the line */
	TAB_ERR_QUOTE,		/* unterminated quoted field */
	TAB_ERR_TRAILING,	/* text after a closing quote */
	TAB_ERR_FIELDS,		/* more than TAB_FIELDS_MAX fields */
};

/* tab_strerror - text for an error code. */
const char	*tab_strerror(enum tab_err e);

/*
 * tab_split - split one line (without its CR/LF) in place.  `line` holds
 * `len` bytes and must have room for one more: line[len] is set to NUL
 * (unless the line is too long).  `line` is modified: fields are unescaped
 * and NUL-terminated inside it, and fields[0..*nfields-1] point into it.
 * Returns TAB_OK or an error code (then *nfields == 0); more than
 * `maxfields` fields is TAB_ERR_FIELDS.  A comment or blank line (also one
 * of TABs only) yields TAB_OK with *nfields == 0.  Pure: no I/O.
 */
enum tab_err	tab_split(char *line, size_t len, char **fields,
		    size_t maxfields, size_t *nfields) WARN_UNUSED_RESULT;

/* One record of a loaded table. */
struct tab_rec {
	char	**f;		/* fields */
	size_t	  n;		/* number of fields */
	unsigned  lineno;	/* line number in the file, from 1 */
};

/* A whole TAB file in memory (immutable once loaded). */
struct tab {
	struct tab_rec	*recs;	/* records in file order */
	size_t		 nrecs;
	char		*path;	/* file it came from, for messages */
};

/*
 * tab_load - read a whole file.  A missing file gives an empty table and
 * returns 0 (most XMail tables are optional).  Malformed lines are reported
 * and skipped.  Returns 0, or -1 on an I/O error (errno set; t is empty).
 * Release with tab_free.
 */
int	tab_load(const char *path, struct tab *t) WARN_UNUSED_RESULT;

/* tab_load_stream - as tab_load from an open stream; name is for messages. */
int	tab_load_stream(FILE *fp, const char *name, struct tab *t)
	    WARN_UNUSED_RESULT;

/* tab_free - release a table loaded by tab_load; safe on a zeroed table. */
void	tab_free(struct tab *t);

/*
 * tab_find - first record whose field `col` equals `key` case-insensitively
 * and that has at least `minfields` fields; NULL if none.
 */
const struct tab_rec	*tab_find(const struct tab *t, size_t col,
			    const char *key, size_t minfields);

/*
 * tab_value_ok - true when `v` can be written as a quoted field and read back
 * unchanged: no TAB, CR, LF or NUL (NUL is implied by C strings) and not
 * ending in a backslash (XMail's format has no escape for it).
 */
bool	tab_value_ok(const char *v);

/*
 * tab_format - append one record to `out`: every field quoted (`"` written
 * as `\"`), except those whose bit is set in `bare_mask` (bit i for field i),
 * which are written verbatim and must not start with `"` or be empty (nor,
 * for field 0, start with '#' or a UTF-8 byte order mark).  Fields joined
 * by TAB, line ends with "\n".  Returns 0, or -1 with errno EINVAL if a
 * value cannot round-trip (see tab_value_ok), n is 0 or above
 * TAB_FIELDS_MAX, or the line would exceed TAB_LINE_MAX; -1 with errno
 * EMSGSIZE or ENOMEM on buffer limit or allocation failure.  On failure
 * `out` is left unchanged.
 */
int	tab_format(struct buf *out, const char *const *fields, size_t n,
	    unsigned long bare_mask) WARN_UNUSED_RESULT;

#endif
