/*
 * macro.c - XMail macro substitution in TAB file arguments.
 */
#include <string.h>

#include "core/buf.h"
#include "core/macro.h"

/* macro_lookup - value of a name, NULL when unknown or the name is empty */
static const char *
macro_lookup(macro_lookup_fn *lookup, void *arg, const char *name,
    size_t len)
{
	if (len == 0)
		return NULL;
	return lookup(arg, name, len);
}

/* macro_expand_dollar - append `in` with every $(NAME) replaced */
static int
macro_expand_dollar(struct buf *out, const char *in, macro_lookup_fn *lookup,
    void *arg)
{
	const char *mark, *close, *v;

	while ((mark = strstr(in, "$(")) != NULL) {
		/* Unterminated: the rest is kept literally. */
		if ((close = strchr(mark + 2, ')')) == NULL)
			break;
		if (buf_append(out, in, (size_t)(mark - in)) == -1)
			return -1;
		v = macro_lookup(lookup, arg, mark + 2,
		    (size_t)(close - (mark + 2)));
		if (v != NULL && buf_puts(out, v) == -1)
			return -1;
		in = close + 1;
	}
	return buf_puts(out, in);
}

/* macro_expand - append the expansion of one argument */
int
macro_expand(struct buf *out, const char *in, macro_lookup_fn *lookup,
    void *arg)
{
	size_t start = out->len;
	const char *v;
	int rc;

	/* Legacy form: the whole argument is @@NAME. */
	if (in[0] == '@' && in[1] == '@' &&
	    (v = macro_lookup(lookup, arg, in + 2, strlen(in + 2))) != NULL)
		rc = buf_puts(out, v);
	else
		rc = macro_expand_dollar(out, in, lookup, arg);
	if (rc == -1) {
		/* Leave `out` as it was. */
		out->len = start;
		if (out->cap > 0)
			out->data[start] = '\0';
	}
	return rc;
}

/* macro_table_lookup - find a name in a NULL-terminated macro_var array */
const char *
macro_table_lookup(void *arg, const char *name, size_t len)
{
	const struct macro_var *v;

	for (v = arg; v != NULL && v->name != NULL; v++)
		if (strlen(v->name) == len && memcmp(v->name, name, len) == 0)
			return v->value;
	return NULL;
}
