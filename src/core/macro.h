/*
 * macro.h - XMail macro substitution in TAB file arguments.
 *
 * Two forms (manual "MACRO SUBSTITUTION"):
 *  - `$(NAME)` anywhere in an argument: replaced by the value of NAME;
 *  - the legacy `@@NAME`, only when it is the whole argument.
 * An unknown name is replaced by the empty string ($(NAME) form) or left
 * as is (@@NAME form), as XMail did; `$(` without a closing `)` is kept
 * literally.  Macro values are inserted verbatim and never re-expanded.
 *
 * Details: NAME in $(NAME) is everything up to the first `)`, so `$()` and
 * `$(A$(B))` give "" and ")" respectively; an empty name is never looked
 * up.  An argument `@@NAME` whose NAME is unknown is then treated like any
 * other argument (kept, with any $(...) in it expanded).
 */
#ifndef POSTROOM_CORE_MACRO_H
#define POSTROOM_CORE_MACRO_H

#include <stddef.h>

#include "core/buf.h"
#include "core/compat.h"

/*
 * Look up a macro: return its value (borrowed, may be "") or NULL when the
 * name is unknown.  `name` is not NUL-terminated; its length is `len`.
 */
typedef const char *macro_lookup_fn(void *arg, const char *name, size_t len);

/*
 * macro_expand - append the expansion of `in` to `out`.  Returns 0, or -1
 * when `out` would exceed its limit (or allocation fails); `out` is then
 * left as it was.
 */
int	macro_expand(struct buf *out, const char *in, macro_lookup_fn *lookup,
	    void *arg) WARN_UNUSED_RESULT;

/* A simple name=value table usable as the lookup argument. */
struct macro_var {
	const char	*name;
	const char	*value;
};

/*
 * macro_table_lookup - lookup over a NULL-name-terminated macro_var array
 * passed as `arg`; names are compared exactly (case-sensitive).
 */
const char	*macro_table_lookup(void *arg, const char *name, size_t len);

#endif
