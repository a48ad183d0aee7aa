/*
 * compat.h - compiler attributes and checked arithmetic used everywhere.
 */
#ifndef POSTROOM_CORE_COMPAT_H
#define POSTROOM_CORE_COMPAT_H

#include <stdbool.h>
#include <stddef.h>

#define WARN_UNUSED_RESULT	__attribute__((warn_unused_result))
#define NORETURN		__attribute__((noreturn))

#define nitems(a)		(sizeof(a) / sizeof((a)[0]))

/* ckd_add/ckd_mul - C23-style checked arithmetic; true on overflow. */
#define CKD_ADD(r, a, b)	__builtin_add_overflow((a), (b), (r))
#define CKD_MUL(r, a, b)	__builtin_mul_overflow((a), (b), (r))

/*
 * strlcpy-style copy: copies at most size-1 bytes, always terminates.
 * Returns false when src did not fit (the result is truncated).
 */
bool	str_copy(char *dst, const char *src, size_t size) WARN_UNUSED_RESULT;

/* str_lower_copy - str_copy, with ASCII letters lower-cased. */
bool	str_lower_copy(char *dst, const char *src, size_t size)
	    WARN_UNUSED_RESULT;

/* x* allocators: die on failure; only for start-up and configuration. */
void	*xmalloc(size_t n);
void	*xcalloc(size_t n, size_t size);
void	*xrealloc(void *p, size_t n);
char	*xstrdup(const char *s);

#endif
