/*
 * fuzz_smtpd_parse.c - libFuzzer target for MAIL/RCPT argument, xtext and
 * HELO parsing.
 *
 * The first input byte selects the advertised extensions (and, for RCPT,
 * whether MAIL had SMTPUTF8); the rest, NUL-terminated, is the argument.
 * Whatever is accepted must hold no control character in any field (the
 * spool-injection defence), only take parameters that were advertised, and
 * give a path that addr_format writes and addr_parse_mailbox reads back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "smtpd/smtpd_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_clean - abort on a control byte, or a non-ASCII one unless utf8 */
static void
fuzz_clean(const char *s, bool utf8)
{
	const unsigned char *u;

	for (u = (const unsigned char *)s; *u != '\0'; u++)
		if (*u < 0x20 || *u == 0x7f || (!utf8 && *u >= 0x80))
			abort();
}

/* fuzz_path - invariants of an accepted path */
static void
fuzz_path(const struct addr_path *p, bool utf8)
{
	char out[ADDR_PATH_MAX];
	struct addr_path q;

	fuzz_clean(p->local, utf8);
	fuzz_clean(p->domain, utf8);
	fuzz_clean(p->route, utf8);
	if (addr_format(p, out, sizeof(out)) != 0)
		abort();
	fuzz_clean(out, utf8);
	if (p->null || p->domain[0] == '\0')	/* "<>", "<postmaster>" */
		return;
	if (addr_parse_mailbox(out, utf8, &q) != ADDR_OK ||
	    strcmp(q.local, p->local) != 0 ||
	    strcmp(q.domain, p->domain) != 0)
		abort();
}

/* fuzz_mail - smtpd_parse_mail */
static void
fuzz_mail(const char *arg, const struct smtpd_exts *x)
{
	static const struct smtpd_mail zero;
	struct smtpd_mail m;
	enum addr_err d;

	if (smtpd_parse_mail(arg, x, &m, &d) != SMTPD_PARSE_OK) {
		if (memcmp(&m, &zero, sizeof(m)) != 0)
			abort();
		return;
	}
	if (d != ADDR_OK || (m.has_size && !x->size) ||
	    (m.smtputf8 && !x->smtputf8) ||
	    (m.body != SMTPD_BODY_7BIT && !x->eightbit) ||
	    ((m.ret != SMTPD_RET_UNSET || m.envid[0]) && !x->dsn) ||
	    (m.auth[0] && !x->auth))
		abort();
	fuzz_path(&m.from, m.smtputf8);
	fuzz_clean(m.envid, false);
	fuzz_clean(m.auth, false);
	if (!smtpd_xtext_ok(m.envid) || !smtpd_xtext_ok(m.auth))
		abort();
}

/* fuzz_rcpt - smtpd_parse_rcpt */
static void
fuzz_rcpt(const char *arg, const struct smtpd_exts *x, bool utf8)
{
	static const struct smtpd_rcpt zero;
	struct smtpd_rcpt r;
	enum addr_err d;

	if (smtpd_parse_rcpt(arg, x, utf8, &r, &d) != SMTPD_PARSE_OK) {
		if (memcmp(&r, &zero, sizeof(r)) != 0)
			abort();
		return;
	}
	if (d != ADDR_OK || r.to.null || ((r.notify || r.orcpt[0]) && !x->dsn))
		abort();
	if ((r.notify & SMTPD_NOTIFY_NEVER) && r.notify != SMTPD_NOTIFY_NEVER)
		abort();
	if (r.notify & ~0x0fu)
		abort();
	fuzz_path(&r.to, utf8);
	fuzz_clean(r.orcpt, false);
	if (r.orcpt[0] != '\0' && strchr(r.orcpt, ';') == NULL)
		abort();
}

/* fuzz_words - smtpd_xtext_ok and smtpd_helo_ok */
static void
fuzz_words(const char *s)
{
	size_t n = strlen(s);

	if (smtpd_xtext_ok(s)) {
		fuzz_clean(s, false);
		if (strchr(s, ' ') != NULL || strchr(s, '=') != NULL)
			abort();
	}
	if (smtpd_helo_ok(s)) {
		fuzz_clean(s, false);
		if (n == 0 || n > ADDR_DOMAIN_MAX || strchr(s, ' ') != NULL ||
		    strchr(s, ';') != NULL)
			abort();
	}
}

/* LLVMFuzzerTestOneInput - one input through every entry point */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpd_exts x;
	char *s;

	if (size == 0 || (s = malloc(size)) == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	x.size = (data[0] & 0x01) != 0;
	x.eightbit = (data[0] & 0x02) != 0;
	x.dsn = (data[0] & 0x04) != 0;
	x.smtputf8 = (data[0] & 0x08) != 0;
	x.auth = (data[0] & 0x10) != 0;
	fuzz_mail(s, &x);
	fuzz_rcpt(s, &x, (data[0] & 0x20) != 0);
	fuzz_words(s);
	free(s);
	return 0;
}
