/*
 * smtpd_parse.c - SMTP command argument parsing (pure, fuzzed).
 *
 * MAIL and RCPT arguments are "[SP] Path *(SP esmtp-param)".  The whole
 * argument is first checked for control characters, so nothing that could
 * end a spool line (CR, LF, NUL) survives into any field.  The path comes
 * next, through addr_parse_path(), and then the parameters, each looked up
 * in a per-command table that names the extension advertising it and the
 * function checking and storing its value.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/addr.h"
#include "smtpd/smtpd_parse.h"

#define SMTPD_SIZE_DIGITS	20	/* UINT64_MAX has 20 digits */
#define SMTPD_POSTMASTER	"<postmaster>"	/* RFC 5321 4.1.1.3 */
#define SMTPD_POSTMASTER_LEN	12

/* One esmtp-param as found in the argument (RFC 5321 4.1.2). */
struct smtpd_kv {
	const char	*key;		/* esmtp-keyword, unterminated */
	size_t		 klen;		/* its length */
	const char	*val;		/* esmtp-value, NULL if no "=" */
	size_t		 vlen;		/* its length */
};

/* Check a parameter's value and store it into the command's struct. */
typedef enum smtpd_parse_err smtpd_param_fn(const struct smtpd_kv *, void *);

/* A parameter a command accepts. */
struct smtpd_param {
	const char	*name;		/* keyword, any case */
	size_t		 ext;		/* offset of the exts flag */
	smtpd_param_fn	*fn;		/* value check and store */
};

static smtpd_param_fn smtpd_param_size, smtpd_param_body,
    smtpd_param_smtputf8, smtpd_param_ret, smtpd_param_envid,
    smtpd_param_auth, smtpd_param_notify, smtpd_param_orcpt;

/* MAIL FROM parameters (at most 32 rows: `seen` is a bit mask). */
static const struct smtpd_param smtpd_mail_params[] = {
	{ "SIZE", offsetof(struct smtpd_exts, size), smtpd_param_size },
	{ "BODY", offsetof(struct smtpd_exts, eightbit), smtpd_param_body },
	{ "SMTPUTF8", offsetof(struct smtpd_exts, smtputf8),
	    smtpd_param_smtputf8 },
	{ "RET", offsetof(struct smtpd_exts, dsn), smtpd_param_ret },
	{ "ENVID", offsetof(struct smtpd_exts, dsn), smtpd_param_envid },
	{ "AUTH", offsetof(struct smtpd_exts, auth), smtpd_param_auth },
};

/* RCPT TO parameters. */
static const struct smtpd_param smtpd_rcpt_params[] = {
	{ "NOTIFY", offsetof(struct smtpd_exts, dsn), smtpd_param_notify },
	{ "ORCPT", offsetof(struct smtpd_exts, dsn), smtpd_param_orcpt },
};

/* DSN NOTIFY keywords (RFC 3461 4.1). */
static const struct {
	const char	*name;
	unsigned	 bit;
} smtpd_notify_words[] = {
	{ "NEVER", SMTPD_NOTIFY_NEVER },
	{ "SUCCESS", SMTPD_NOTIFY_SUCCESS },
	{ "FAILURE", SMTPD_NOTIFY_FAILURE },
	{ "DELAY", SMTPD_NOTIFY_DELAY },
};

/* smtpd_is_alnum - ASCII letter or digit, independent of the locale */
static bool
smtpd_is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* smtpd_is_hex - uppercase hex digit, as xtext hexchar requires */
static bool
smtpd_is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* smtpd_hex - value of an uppercase hex digit */
static unsigned
smtpd_hex(unsigned char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'A' + 10);
}

/* smtpd_word_eq - [s, s+n) equals word, ignoring ASCII case */
static bool
smtpd_word_eq(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/*
 * smtpd_xtext_span - n octets at s are RFC 3461 4 xtext: xchar is "!".."~"
 * except "+" and "="; hexchar is "+" and two uppercase hex digits.
 *
 * XXX: RFC 3461 lets hexchar encode any octet, but "+0D+0A" and friends
 * have no legitimate use and would bring CR/LF back into whatever decodes
 * the value (a DSN, a log line); escapes of C0 controls and DEL are refused.
 */
static bool
smtpd_xtext_span(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i;
	unsigned v;

	for (i = 0; i < n; i++) {
		if (u[i] == '+') {
			if (n - i < 3 || !smtpd_is_hex(u[i + 1]) ||
			    !smtpd_is_hex(u[i + 2]))
				return false;
			v = smtpd_hex(u[i + 1]) << 4 | smtpd_hex(u[i + 2]);
			if (v < 0x20 || v == 0x7f)
				return false;
			i += 2;
		} else if (u[i] < 33 || u[i] > 126 || u[i] == '=') {
			return false;
		}
	}
	return true;
}

/* smtpd_xtext_ok - s is RFC 3461 xtext */
bool
smtpd_xtext_ok(const char *s)
{
	return smtpd_xtext_span(s, strlen(s));
}

/* smtpd_param_size - SIZE=1*20DIGIT (RFC 1870 3) */
static enum smtpd_parse_err
smtpd_param_size(const struct smtpd_kv *kv, void *arg)
{
	struct smtpd_mail *m = arg;
	uint64_t v = 0;
	size_t i;

	if (kv->val == NULL || kv->vlen > SMTPD_SIZE_DIGITS)
		return SMTPD_PARSE_VALUE;
	for (i = 0; i < kv->vlen; i++) {
		if (kv->val[i] < '0' || kv->val[i] > '9')
			return SMTPD_PARSE_VALUE;
		if (CKD_MUL(&v, v, 10) ||
		    CKD_ADD(&v, v, (uint64_t)(kv->val[i] - '0')))
			return SMTPD_PARSE_VALUE;
	}
	m->has_size = true;
	m->size = v;
	return SMTPD_PARSE_OK;
}

/*
 * smtpd_param_body - BODY=7BIT|8BITMIME (RFC 6152 2); BINARYMIME (RFC
 * 3030) is refused as a value since CHUNKING/BINARYMIME is not offered.
 */
static enum smtpd_parse_err
smtpd_param_body(const struct smtpd_kv *kv, void *arg)
{
	struct smtpd_mail *m = arg;

	if (kv->val == NULL)
		return SMTPD_PARSE_VALUE;
	if (smtpd_word_eq(kv->val, kv->vlen, "7BIT"))
		m->body = SMTPD_BODY_7BIT;
	else if (smtpd_word_eq(kv->val, kv->vlen, "8BITMIME"))
		m->body = SMTPD_BODY_8BITMIME;
	else
		return SMTPD_PARSE_VALUE;
	return SMTPD_PARSE_OK;
}

/* smtpd_param_smtputf8 - SMTPUTF8 without a value (RFC 6531 3.4) */
static enum smtpd_parse_err
smtpd_param_smtputf8(const struct smtpd_kv *kv, void *arg)
{
	struct smtpd_mail *m = arg;

	if (kv->val != NULL)
		return SMTPD_PARSE_VALUE;
	m->smtputf8 = true;
	return SMTPD_PARSE_OK;
}

/* smtpd_param_ret - RET=FULL|HDRS (RFC 3461 4.3) */
static enum smtpd_parse_err
smtpd_param_ret(const struct smtpd_kv *kv, void *arg)
{
	struct smtpd_mail *m = arg;

	if (kv->val == NULL)
		return SMTPD_PARSE_VALUE;
	if (smtpd_word_eq(kv->val, kv->vlen, "FULL"))
		m->ret = SMTPD_RET_FULL;
	else if (smtpd_word_eq(kv->val, kv->vlen, "HDRS"))
		m->ret = SMTPD_RET_HDRS;
	else
		return SMTPD_PARSE_VALUE;
	return SMTPD_PARSE_OK;
}

/* smtpd_store_xtext - xtext value of at most max octets into out[max+1] */
static enum smtpd_parse_err
smtpd_store_xtext(const struct smtpd_kv *kv, char *out, size_t max)
{
	if (kv->val == NULL || kv->vlen > max ||
	    !smtpd_xtext_span(kv->val, kv->vlen))
		return SMTPD_PARSE_VALUE;
	memcpy(out, kv->val, kv->vlen);
	out[kv->vlen] = '\0';
	return SMTPD_PARSE_OK;
}

/* smtpd_param_envid - ENVID=xtext, at most 100 octets (RFC 3461 4.4) */
static enum smtpd_parse_err
smtpd_param_envid(const struct smtpd_kv *kv, void *arg)
{
	struct smtpd_mail *m = arg;

	return smtpd_store_xtext(kv, m->envid, SMTPD_ENVID_MAX);
}

/*
 * smtpd_param_auth - AUTH=xtext or "<>" (RFC 4954 5; "<>" is itself valid
 * xtext), stored encoded.
 */
static enum smtpd_parse_err
smtpd_param_auth(const struct smtpd_kv *kv, void *arg)
{
	struct smtpd_mail *m = arg;

	return smtpd_store_xtext(kv, m->auth, SMTPD_AUTHPARAM_MAX);
}

/* smtpd_notify_bit - the NOTIFY bit for [s, s+n), or 0 */
static unsigned
smtpd_notify_bit(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < nitems(smtpd_notify_words); i++)
		if (smtpd_word_eq(s, n, smtpd_notify_words[i].name))
			return smtpd_notify_words[i].bit;
	return 0;
}

/*
 * smtpd_param_notify - NOTIFY="NEVER" / 1#( "SUCCESS" / "FAILURE" /
 * "DELAY" ) (RFC 3461 4.1); a repeated or empty element is refused.
 */
static enum smtpd_parse_err
smtpd_param_notify(const struct smtpd_kv *kv, void *arg)
{
	struct smtpd_rcpt *r = arg;
	const char *s, *end, *comma;
	unsigned bit, bits = 0;

	if (kv->val == NULL)
		return SMTPD_PARSE_VALUE;
	end = kv->val + kv->vlen;
	for (s = kv->val; s <= end; s = comma + 1) {
		if ((comma = memchr(s, ',', (size_t)(end - s))) == NULL)
			comma = end;
		bit = smtpd_notify_bit(s, (size_t)(comma - s));
		if (bit == 0 || (bits & bit) != 0)
			return SMTPD_PARSE_VALUE;
		bits |= bit;
	}
	if ((bits & SMTPD_NOTIFY_NEVER) != 0 && bits != SMTPD_NOTIFY_NEVER)
		return SMTPD_PARSE_VALUE;
	r->notify = bits;
	return SMTPD_PARSE_OK;
}

/* smtpd_is_atext - RFC 5322 3.2.3 atext, ASCII only */
static bool
smtpd_is_atext(unsigned char c)
{
	return smtpd_is_alnum(c) ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/*
 * smtpd_param_orcpt - ORCPT=addr-type ";" xtext (RFC 3461 4.2): addr-type
 * is an atom ("rfc822", "utf-8", ...), the address non-empty xtext; the whole
 * value, stored encoded, is at most SMTPD_ORCPT_MAX octets.
 *
 * XXX: RFC 6533's utf-8-addr-unitext (raw UTF-8) is not accepted; clients
 * can send utf-8-addr-xtext, which is plain xtext.
 */
static enum smtpd_parse_err
smtpd_param_orcpt(const struct smtpd_kv *kv, void *arg)
{
	struct smtpd_rcpt *r = arg;
	const char *semi;
	size_t i, tlen;

	if (kv->val == NULL || kv->vlen > SMTPD_ORCPT_MAX ||
	    (semi = memchr(kv->val, ';', kv->vlen)) == NULL)
		return SMTPD_PARSE_VALUE;
	tlen = (size_t)(semi - kv->val);
	if (tlen == 0 || tlen + 1 == kv->vlen ||
	    !smtpd_xtext_span(semi + 1, kv->vlen - tlen - 1))
		return SMTPD_PARSE_VALUE;
	for (i = 0; i < tlen; i++)
		if (!smtpd_is_atext((unsigned char)kv->val[i]))
			return SMTPD_PARSE_VALUE;
	memcpy(r->orcpt, kv->val, kv->vlen);
	r->orcpt[kv->vlen] = '\0';
	return SMTPD_PARSE_OK;
}

/*
 * smtpd_param_next - one esmtp-param at *sp (RFC 5321 4.1.2): esmtp-keyword
 * = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"), then optionally "=" and
 * esmtp-value = 1*(%d33-60 / %d62-126), ended by a space or the NUL.
 *
 * XXX: RFC 6531 3.3 adds UTF-8 to esmtp-value, but no parameter here takes
 * one, so non-ASCII stays a syntax error.
 */
static enum smtpd_parse_err
smtpd_param_next(const char **sp, struct smtpd_kv *kv)
{
	const char *s = *sp;

	kv->key = s;
	if (!smtpd_is_alnum((unsigned char)*s))
		return SMTPD_PARSE_SYNTAX;
	while (smtpd_is_alnum((unsigned char)*s) || *s == '-')
		s++;
	kv->klen = (size_t)(s - kv->key);
	kv->val = NULL;
	kv->vlen = 0;
	if (*s == '=') {
		kv->val = ++s;
		while (*s >= 33 && *s <= 126 && *s != '=')
			s++;
		kv->vlen = (size_t)(s - kv->val);
		if (kv->vlen == 0)
			return SMTPD_PARSE_SYNTAX;
	}
	if (*s != ' ' && *s != '\0')
		return SMTPD_PARSE_SYNTAX;
	*sp = s;
	return SMTPD_PARSE_OK;
}

/* smtpd_param_find - index of kv's keyword in tab, or n */
static size_t
smtpd_param_find(const struct smtpd_param *tab, size_t n,
    const struct smtpd_kv *kv)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (smtpd_word_eq(kv->key, kv->klen, tab[i].name))
			break;
	return i;
}

/*
 * smtpd_params - the parameters after a path: nothing, or one or more
 * spaces before each " KEY[=VALUE]".  Trailing spaces are tolerated.
 * Unknown or unadvertised keywords are SMTPD_PARSE_UNKNOWN, repeated ones
 * SMTPD_PARSE_DUP (RFC 5321 4.1.2 leaves that to the extensions; each of
 * ours may appear once).
 */
static enum smtpd_parse_err
smtpd_params(const char *s, const struct smtpd_param *tab, size_t n,
    const struct smtpd_exts *x, void *target)
{
	enum smtpd_parse_err e;
	struct smtpd_kv kv;
	uint32_t seen = 0;
	size_t i;

	if (*s != ' ' && *s != '\0')
		return SMTPD_PARSE_SYNTAX;	/* "<a@b>junk" */
	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			return SMTPD_PARSE_OK;
		if ((e = smtpd_param_next(&s, &kv)) != SMTPD_PARSE_OK)
			return e;
		i = smtpd_param_find(tab, n, &kv);
		if (i == n || !*(const bool *)((const char *)x + tab[i].ext))
			return SMTPD_PARSE_UNKNOWN;
		if ((seen & UINT32_C(1) << i) != 0)
			return SMTPD_PARSE_DUP;
		seen |= UINT32_C(1) << i;
		if ((e = tab[i].fn(&kv, target)) != SMTPD_PARSE_OK)
			return e;
	}
}

/*
 * smtpd_arg_start - refuse control characters anywhere in arg (the
 * "21Nails" spool-injection defence), skip the one space many clients send
 * after the colon, and find the '<' that must start the path.
 */
static enum smtpd_parse_err
smtpd_arg_start(const char *arg, const char **path)
{
	const unsigned char *u;

	for (u = (const unsigned char *)arg; *u != '\0'; u++)
		if (*u < 0x20 || *u == 0x7f)
			return SMTPD_PARSE_SYNTAX;
	if (*arg == ' ')
		arg++;
	if (*arg != '<')
		return SMTPD_PARSE_SYNTAX;
	*path = arg;
	return SMTPD_PARSE_OK;
}

/*
 * smtpd_path_end - just after the '>' ending the path at s, found the way
 * addr_parse_path's scan finds it (a '>' inside a quoted string does not
 * count), or the NUL.  Used only to look at the parameters before the path
 * is parsed.
 */
static const char *
smtpd_path_end(const char *s)
{
	bool quoted = false;

	for (; *s != '\0'; s++) {
		if (!quoted && *s == '>')
			return s + 1;
		if (*s == '"')
			quoted = !quoted;
		else if (quoted && *s == '\\' && s[1] != '\0')
			s++;
	}
	return s;
}

/* smtpd_has_smtputf8 - a bare SMTPUTF8 keyword among the parameters at s */
static bool
smtpd_has_smtputf8(const char *s)
{
	const char *w;

	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			return false;
		for (w = s; *s != ' ' && *s != '\0'; s++)
			continue;
		if (smtpd_word_eq(w, (size_t)(s - w), "SMTPUTF8"))
			return true;
	}
}

/* smtpd_path - addr_parse_path with the error mapped for the reply */
static enum smtpd_parse_err
smtpd_path(const char *s, bool allow_null, bool utf8, struct addr_path *p,
    const char **end, enum addr_err *detail)
{
	enum addr_err e;

	e = addr_parse_path(s, allow_null, utf8, p, end);
	if (detail != NULL)
		*detail = e;
	if (e == ADDR_OK)
		return SMTPD_PARSE_OK;
	return e == ADDR_ERR_8BIT ? SMTPD_PARSE_8BIT : SMTPD_PARSE_PATH;
}

/* smtpd_parse_mail - "[SP] Reverse-path [SP Mail-parameters]" */
enum smtpd_parse_err
smtpd_parse_mail(const char *arg, const struct smtpd_exts *x,
    struct smtpd_mail *m, enum addr_err *detail)
{
	enum smtpd_parse_err e;
	const char *s, *end;
	bool utf8;

	memset(m, 0, sizeof(*m));
	if (detail != NULL)
		*detail = ADDR_OK;
	if ((e = smtpd_arg_start(arg, &s)) != SMTPD_PARSE_OK)
		goto fail;
	/* The path's syntax depends on a parameter that follows it. */
	utf8 = x->smtputf8 && smtpd_has_smtputf8(smtpd_path_end(s));
	if ((e = smtpd_path(s, true, utf8, &m->from, &end, detail)) !=
	    SMTPD_PARSE_OK)
		goto fail;
	e = smtpd_params(end, smtpd_mail_params, nitems(smtpd_mail_params), x,
	    m);
	if (e != SMTPD_PARSE_OK)
		goto fail;
	return SMTPD_PARSE_OK;
fail:
	memset(m, 0, sizeof(*m));
	return e;
}

/* smtpd_parse_rcpt - "[SP] ( <Postmaster> / Forward-path ) [SP params]" */
enum smtpd_parse_err
smtpd_parse_rcpt(const char *arg, const struct smtpd_exts *x, bool utf8,
    struct smtpd_rcpt *r, enum addr_err *detail)
{
	enum smtpd_parse_err e;
	const char *s, *end;

	memset(r, 0, sizeof(*r));
	if (detail != NULL)
		*detail = ADDR_OK;
	if ((e = smtpd_arg_start(arg, &s)) != SMTPD_PARSE_OK)
		goto fail;
	if (strncasecmp(s, SMTPD_POSTMASTER, SMTPD_POSTMASTER_LEN) == 0) {
		memcpy(r->to.local, "postmaster", sizeof("postmaster"));
		end = s + SMTPD_POSTMASTER_LEN;
	} else if ((e = smtpd_path(s, false, utf8, &r->to, &end, detail)) !=
	    SMTPD_PARSE_OK) {
		goto fail;
	}
	e = smtpd_params(end, smtpd_rcpt_params, nitems(smtpd_rcpt_params), x,
	    r);
	if (e != SMTPD_PARSE_OK)
		goto fail;
	return SMTPD_PARSE_OK;
fail:
	memset(r, 0, sizeof(*r));
	return e;
}

/*
 * smtpd_helo_ok - HELO/EHLO argument: an address literal, or 1..255 of
 * letters, digits, '-', '.' and '_' (see the header for why not stricter).
 */
bool
smtpd_helo_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > ADDR_DOMAIN_MAX)
		return false;
	if (s[0] == '[')
		return addr_domain_ok(s, false);
	for (i = 0; i < n; i++)
		if (!smtpd_is_alnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '.' && s[i] != '_')
			return false;
	return true;
}
