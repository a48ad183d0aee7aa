/*
 * fuzz_addr.c - libFuzzer target for RFC 5321 path and mailbox parsing.
 *
 * The input, NUL-terminated, goes through addr_parse_path (all four
 * allow_null/utf8 combinations), addr_parse_mailbox and addr_domain_ok.
 * Whatever is accepted must hold no control character (nor, without utf8,
 * any non-ASCII byte), respect the RFC 5321 limits, and format with
 * addr_format into text that parses back to the same local part and domain.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_clean - abort on a control byte, or a non-ASCII one without utf8 */
static void
fuzz_clean(const char *s, bool utf8)
{
	const unsigned char *u;

	for (u = (const unsigned char *)s; *u != '\0'; u++)
		if (*u < 0x20 || *u == 0x7f || (!utf8 && *u >= 0x80))
			abort();
}

/* fuzz_zero - abort unless p is all zero (the state after a failure) */
static void
fuzz_zero(const struct addr_path *p)
{
	static const struct addr_path zero;

	if (memcmp(p, &zero, sizeof(zero)) != 0)
		abort();
}

/* fuzz_round_trip - p formats, and the text parses back the same */
static void
fuzz_round_trip(const struct addr_path *p, bool utf8)
{
	char out[ADDR_PATH_MAX];
	struct addr_path q;

	if (addr_format(p, out, sizeof(out)) != 0)
		abort();
	if (p->null) {
		if (out[0] != '\0')
			abort();
		return;
	}
	fuzz_clean(out, utf8);
	if (addr_parse_mailbox(out, utf8, &q) != ADDR_OK ||
	    strcmp(q.local, p->local) != 0 ||
	    strcmp(q.domain, p->domain) != 0 || q.literal != p->literal)
		abort();
}

/* fuzz_check - invariants of a successfully parsed path */
static void
fuzz_check(const struct addr_path *p, bool utf8)
{
	fuzz_clean(p->local, utf8);
	fuzz_clean(p->domain, utf8);
	fuzz_clean(p->route, utf8);
	if (strlen(p->local) > ADDR_LOCAL_MAX ||
	    strlen(p->domain) > ADDR_DOMAIN_MAX ||
	    strlen(p->route) > ADDR_ROUTE_MAX)
		abort();
	if (p->null) {
		if (p->local[0] || p->domain[0] || p->route[0])
			abort();
	} else if (p->local[0] == '\0' || !addr_domain_ok(p->domain, utf8)) {
		abort();
	}
	fuzz_round_trip(p, utf8);
}

/* fuzz_path - addr_parse_path with one flag combination */
static void
fuzz_path(const char *s, size_t len, bool allow_null, bool utf8)
{
	struct addr_path p, q;
	const char *end = NULL;
	enum addr_err e;

	e = addr_parse_path(s, allow_null, utf8, &p, &end);
	if (e != ADDR_OK) {
		fuzz_zero(&p);
		if (end != NULL || (e == ADDR_ERR_NULL && allow_null))
			abort();
		return;
	}
	if (end == NULL || end <= s || end > s + len || end[-1] != '>' ||
	    (size_t)(end - s) > ADDR_PATH_MAX || (p.null && !allow_null))
		abort();
	fuzz_check(&p, utf8);
	/* utf8 only ever widens what is accepted. */
	if (!utf8 && (addr_parse_path(s, allow_null, true, &q, NULL) !=
	    ADDR_OK || memcmp(&p, &q, sizeof(p)) != 0))
		abort();
}

/* fuzz_mailbox - addr_parse_mailbox and addr_domain_ok */
static void
fuzz_mailbox(const char *s, bool utf8)
{
	struct addr_path p;

	if (addr_parse_mailbox(s, utf8, &p) == ADDR_OK) {
		if (p.null || p.route[0] != '\0' ||
		    strlen(s) > ADDR_PATH_MAX - 2)
			abort();
		fuzz_check(&p, utf8);
	} else {
		fuzz_zero(&p);
	}
	if (addr_domain_ok(s, utf8)) {
		fuzz_clean(s, utf8);
		if (s[0] == '\0' || strlen(s) > ADDR_DOMAIN_MAX)
			abort();
	}
}

/* LLVMFuzzerTestOneInput - one input through every entry point */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	size = strlen(s);
	fuzz_path(s, size, false, false);
	fuzz_path(s, size, true, false);
	fuzz_path(s, size, false, true);
	fuzz_path(s, size, true, true);
	fuzz_mailbox(s, false);
	fuzz_mailbox(s, true);
	free(s);
	return 0;
}
