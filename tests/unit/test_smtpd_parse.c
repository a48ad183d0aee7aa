/*
 * test_smtpd_parse.c - unit tests for MAIL/RCPT argument, xtext and HELO
 * parsing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/addr.h"
#include "smtpd/smtpd_parse.h"

/* Advertised extensions, as a mask. */
#define E_SIZE		0x01
#define E_8BIT		0x02
#define E_DSN		0x04
#define E_UTF8		0x08
#define E_AUTH		0x10
#define E_ALL		0x1f

/* Repeated characters for the length limits. */
#define X10	"xxxxxxxxxx"
#define X50	X10 X10 X10 X10 X10
#define X100	X50 X50
#define X101	X100 "x"
#define X493	X100 X100 X100 X100 X50 X10 X10 X10 X10 "xxx"
#define X494	X493 "x"
#define X500	X100 X100 X100 X100 X100
#define X501	X500 "x"
#define A10	"aaaaaaaaaa"
#define A60	A10 A10 A10 A10 A10 A10
#define A64	A60 "aaaa"
#define A65	A60 "aaaaa"

/* exts - the extension set for a mask */
static struct smtpd_exts
exts(unsigned mask)
{
	struct smtpd_exts x;

	x.size = (mask & E_SIZE) != 0;
	x.eightbit = (mask & E_8BIT) != 0;
	x.dsn = (mask & E_DSN) != 0;
	x.smtputf8 = (mask & E_UTF8) != 0;
	x.auth = (mask & E_AUTH) != 0;
	return x;
}

/* A smtpd_parse_mail case; unset expectations are zero / "". */
struct mail_case {
	const char		*name;
	const char		*arg;
	unsigned		 ext;		/* E_* */
	enum smtpd_parse_err	 err;
	enum addr_err		 detail;
	const char		*from;		/* formatted path */
	uint64_t		 size;		/* SIZE, or NOSIZE */
	enum smtpd_body		 body;
	bool			 utf8;
	enum smtpd_ret		 ret;
	const char		*envid;
	const char		*auth;
};

#define NOSIZE	UINT64_C(0xfffffffffffffffe)

static const struct mail_case mail_cases[] = {
	/* The path and the space after the colon. */
	{ "plain", "<a@b>", 0, SMTPD_PARSE_OK, ADDR_OK, "a@b", NOSIZE },
	{ "one space", " <a@b>", 0, SMTPD_PARSE_OK, ADDR_OK, "a@b", NOSIZE },
	{ "two spaces", "  <a@b>", 0, SMTPD_PARSE_SYNTAX, ADDR_OK, NULL,
	    NOSIZE },
	{ "null", "<>", 0, SMTPD_PARSE_OK, ADDR_OK, "", NOSIZE },
	{ "null space", " <>", 0, SMTPD_PARSE_OK, ADDR_OK, "", NOSIZE },
	{ "no brackets", "a@b", 0, SMTPD_PARSE_SYNTAX, ADDR_OK, NULL,
	    NOSIZE },
	{ "no brackets space", " a@b", 0, SMTPD_PARSE_SYNTAX, ADDR_OK, NULL,
	    NOSIZE },
	{ "empty", "", 0, SMTPD_PARSE_SYNTAX, ADDR_OK, NULL, NOSIZE },
	{ "space only", " ", 0, SMTPD_PARSE_SYNTAX, ADDR_OK, NULL, NOSIZE },
	{ "junk after path", "<a@b>x", E_ALL, SMTPD_PARSE_SYNTAX, ADDR_OK,
	    NULL, NOSIZE },
	{ "param glued", "<a@b>SIZE=1", E_ALL, SMTPD_PARSE_SYNTAX, ADDR_OK,
	    NULL, NOSIZE },
	{ "trailing spaces", "<a@b>   ", 0, SMTPD_PARSE_OK, ADDR_OK, "a@b",
	    NOSIZE },
	{ "bad path", "<a@b@c>", 0, SMTPD_PARSE_PATH, ADDR_ERR_SYNTAX, NULL,
	    NOSIZE },
	{ "unclosed", "<a@b", 0, SMTPD_PARSE_PATH, ADDR_ERR_SYNTAX, NULL,
	    NOSIZE },
	{ "local 64", "<" A64 "@b>", 0, SMTPD_PARSE_OK, ADDR_OK, A64 "@b",
	    NOSIZE },
	{ "local 65", "<" A65 "@b>", 0, SMTPD_PARSE_PATH, ADDR_ERR_TOO_LONG,
	    NULL, NOSIZE },
	{ "path before params", "<a@b@c> FOO=1", 0, SMTPD_PARSE_PATH,
	    ADDR_ERR_SYNTAX, NULL, NOSIZE },
	{ "quoted gt", "<\"a>b\"@c> SIZE=1", E_SIZE, SMTPD_PARSE_OK, ADDR_OK,
	    "\"a>b\"@c", 1 },
	{ "route", "<@r:a@b>", 0, SMTPD_PARSE_OK, ADDR_OK, "a@b", NOSIZE },
	{ "percent", "<user%other@host>", 0, SMTPD_PARSE_OK, ADDR_OK,
	    "user%other@host", NOSIZE },
	{ "quoted relay", "<\"user@other\"@host>", 0, SMTPD_PARSE_OK, ADDR_OK,
	    "\"user@other\"@host", NOSIZE },
	{ "double at relay", "<user@other@host>", 0, SMTPD_PARSE_PATH,
	    ADDR_ERR_SYNTAX, NULL, NOSIZE },
	{ "postmaster no domain", "<postmaster>", 0, SMTPD_PARSE_PATH,
	    ADDR_ERR_SYNTAX, NULL, NOSIZE },

	/* SIZE (RFC 1870). */
	{ "size", "<a@b> SIZE=1000", E_SIZE, SMTPD_PARSE_OK, ADDR_OK, "a@b",
	    1000 },
	{ "size lower", "<a@b> size=0", E_SIZE, SMTPD_PARSE_OK, ADDR_OK,
	    "a@b", 0 },
	{ "size null", "<> SIZE=5", E_SIZE, SMTPD_PARSE_OK, ADDR_OK, "", 5 },
	{ "size max", "<a@b> SIZE=18446744073709551615", E_SIZE,
	    SMTPD_PARSE_OK, ADDR_OK, "a@b", UINT64_MAX },
	{ "size 20 digits", "<a@b> SIZE=00000000000000000001", E_SIZE,
	    SMTPD_PARSE_OK, ADDR_OK, "a@b", 1 },
	{ "size overflow", "<a@b> SIZE=18446744073709551616", E_SIZE,
	    SMTPD_PARSE_VALUE, ADDR_OK, NULL, NOSIZE },
	{ "size overflow mul", "<a@b> SIZE=99999999999999999999", E_SIZE,
	    SMTPD_PARSE_VALUE, ADDR_OK, NULL, NOSIZE },
	{ "size 21 digits", "<a@b> SIZE=000000000000000000001", E_SIZE,
	    SMTPD_PARSE_VALUE, ADDR_OK, NULL, NOSIZE },
	{ "size no value", "<a@b> SIZE", E_SIZE, SMTPD_PARSE_VALUE, ADDR_OK,
	    NULL, NOSIZE },
	{ "size empty", "<a@b> SIZE=", E_SIZE, SMTPD_PARSE_SYNTAX, ADDR_OK,
	    NULL, NOSIZE },
	{ "size negative", "<a@b> SIZE=-1", E_SIZE, SMTPD_PARSE_VALUE,
	    ADDR_OK, NULL, NOSIZE },
	{ "size plus", "<a@b> SIZE=+1", E_SIZE, SMTPD_PARSE_VALUE, ADDR_OK,
	    NULL, NOSIZE },
	{ "size suffix", "<a@b> SIZE=10k", E_SIZE, SMTPD_PARSE_VALUE,
	    ADDR_OK, NULL, NOSIZE },
	{ "size hex", "<a@b> SIZE=0x10", E_SIZE, SMTPD_PARSE_VALUE, ADDR_OK,
	    NULL, NOSIZE },
	{ "size not offered", "<a@b> SIZE=1", E_ALL & ~E_SIZE,
	    SMTPD_PARSE_UNKNOWN, ADDR_OK, NULL, NOSIZE },
	{ "size twice", "<a@b> SIZE=1 SIZE=1", E_SIZE, SMTPD_PARSE_DUP,
	    ADDR_OK, NULL, NOSIZE },
	{ "size twice case", "<a@b> SIZE=1 size=2", E_SIZE, SMTPD_PARSE_DUP,
	    ADDR_OK, NULL, NOSIZE },

	/* BODY (RFC 6152). */
	{ "body 8bit", "<a@b> BODY=8BITMIME", E_8BIT, SMTPD_PARSE_OK, ADDR_OK,
	    "a@b", NOSIZE, SMTPD_BODY_8BITMIME },
	{ "body lower", "<a@b> body=8bitmime", E_8BIT, SMTPD_PARSE_OK,
	    ADDR_OK, "a@b", NOSIZE, SMTPD_BODY_8BITMIME },
	{ "body 7bit", "<a@b> BODY=7BIT", E_8BIT, SMTPD_PARSE_OK, ADDR_OK,
	    "a@b", NOSIZE, SMTPD_BODY_7BIT },
	{ "body binary", "<a@b> BODY=BINARYMIME", E_ALL, SMTPD_PARSE_VALUE,
	    ADDR_OK, NULL, NOSIZE },
	{ "body 8bit short", "<a@b> BODY=8BIT", E_8BIT, SMTPD_PARSE_VALUE,
	    ADDR_OK, NULL, NOSIZE },
	{ "body prefix", "<a@b> BODY=8BITMIMEX", E_8BIT, SMTPD_PARSE_VALUE,
	    ADDR_OK, NULL, NOSIZE },
	{ "body no value", "<a@b> BODY", E_8BIT, SMTPD_PARSE_VALUE, ADDR_OK,
	    NULL, NOSIZE },
	{ "body not offered", "<a@b> BODY=8BITMIME", E_ALL & ~E_8BIT,
	    SMTPD_PARSE_UNKNOWN, ADDR_OK, NULL, NOSIZE },
	{ "body twice", "<a@b> BODY=7BIT BODY=8BITMIME", E_8BIT,
	    SMTPD_PARSE_DUP, ADDR_OK, NULL, NOSIZE },

	/* SMTPUTF8 (RFC 6531). */
	{ "smtputf8", "<a@b> SMTPUTF8", E_UTF8, SMTPD_PARSE_OK, ADDR_OK,
	    "a@b", NOSIZE, SMTPD_BODY_7BIT, true },
	{ "smtputf8 lower", "<a@b> smtputf8", E_UTF8, SMTPD_PARSE_OK,
	    ADDR_OK, "a@b", NOSIZE, SMTPD_BODY_7BIT, true },
	{ "smtputf8 value", "<a@b> SMTPUTF8=yes", E_UTF8, SMTPD_PARSE_VALUE,
	    ADDR_OK, NULL, NOSIZE },
	{ "smtputf8 not offered", "<a@b> SMTPUTF8", E_ALL & ~E_UTF8,
	    SMTPD_PARSE_UNKNOWN, ADDR_OK, NULL, NOSIZE },
	{ "smtputf8 twice", "<a@b> SMTPUTF8 SMTPUTF8", E_UTF8,
	    SMTPD_PARSE_DUP, ADDR_OK, NULL, NOSIZE },
	{ "utf8 path", "<j\xc3\xb6rg@b\xc3\xbc.de> SMTPUTF8", E_UTF8,
	    SMTPD_PARSE_OK, ADDR_OK, "j\xc3\xb6rg@b\xc3\xbc.de", NOSIZE,
	    SMTPD_BODY_7BIT, true },
	{ "utf8 path later", "<\xc3\xa9@b> BODY=8BITMIME  smtputf8", E_ALL,
	    SMTPD_PARSE_OK, ADDR_OK, "\xc3\xa9@b", NOSIZE,
	    SMTPD_BODY_8BITMIME, true },
	{ "utf8 path no param", "<j\xc3\xb6rg@b>", E_ALL, SMTPD_PARSE_8BIT,
	    ADDR_ERR_8BIT, NULL, NOSIZE },
	{ "utf8 path not offered", "<j\xc3\xb6rg@b> SMTPUTF8",
	    E_ALL & ~E_UTF8, SMTPD_PARSE_8BIT, ADDR_ERR_8BIT, NULL, NOSIZE },
	{ "utf8 path bad", "<j\xc3(rg@b> SMTPUTF8", E_UTF8, SMTPD_PARSE_PATH,
	    ADDR_ERR_SYNTAX, NULL, NOSIZE },
	{ "utf8 path c1", "<a\xc2\x85@b> SMTPUTF8", E_UTF8, SMTPD_PARSE_PATH,
	    ADDR_ERR_CTRL, NULL, NOSIZE },
	{ "utf8 param value", "<a@b> ENVID=\xc3\xa9", E_ALL,
	    SMTPD_PARSE_SYNTAX, ADDR_OK, NULL, NOSIZE },
	{ "utf8 keyword", "<a@b> \xc3\xa9", E_ALL, SMTPD_PARSE_SYNTAX,
	    ADDR_OK, NULL, NOSIZE },

	/* RET and ENVID (RFC 3461). */
	{ "ret full", "<a@b> RET=FULL", E_DSN, SMTPD_PARSE_OK, ADDR_OK,
	    "a@b", NOSIZE, SMTPD_BODY_7BIT, false, SMTPD_RET_FULL },
	{ "ret hdrs lower", "<a@b> ret=hdrs", E_DSN, SMTPD_PARSE_OK, ADDR_OK,
	    "a@b", NOSIZE, SMTPD_BODY_7BIT, false, SMTPD_RET_HDRS },
	{ "ret bad", "<a@b> RET=NONE", E_DSN, SMTPD_PARSE_VALUE, ADDR_OK,
	    NULL, NOSIZE },
	{ "ret no value", "<a@b> RET", E_DSN, SMTPD_PARSE_VALUE, ADDR_OK,
	    NULL, NOSIZE },
	{ "ret not offered", "<a@b> RET=FULL", E_ALL & ~E_DSN,
	    SMTPD_PARSE_UNKNOWN, ADDR_OK, NULL, NOSIZE },
	{ "ret twice", "<a@b> RET=FULL RET=HDRS", E_DSN, SMTPD_PARSE_DUP,
	    ADDR_OK, NULL, NOSIZE },
	{ "envid", "<a@b> ENVID=QQ314159", E_DSN, SMTPD_PARSE_OK, ADDR_OK,
	    "a@b", NOSIZE, SMTPD_BODY_7BIT, false, SMTPD_RET_UNSET,
	    "QQ314159" },
	{ "envid hex kept", "<a@b> ENVID=a+2Bb+3D", E_DSN, SMTPD_PARSE_OK,
	    ADDR_OK, "a@b", NOSIZE, SMTPD_BODY_7BIT, false, SMTPD_RET_UNSET,
	    "a+2Bb+3D" },
	{ "envid 100", "<a@b> ENVID=" X100, E_DSN, SMTPD_PARSE_OK, ADDR_OK,
	    "a@b", NOSIZE, SMTPD_BODY_7BIT, false, SMTPD_RET_UNSET, X100 },
	{ "envid 101", "<a@b> ENVID=" X101, E_DSN, SMTPD_PARSE_VALUE,
	    ADDR_OK, NULL, NOSIZE },
	{ "envid lower hex", "<a@b> ENVID=a+2b", E_DSN, SMTPD_PARSE_VALUE,
	    ADDR_OK, NULL, NOSIZE },
	{ "envid short hex", "<a@b> ENVID=a+2", E_DSN, SMTPD_PARSE_VALUE,
	    ADDR_OK, NULL, NOSIZE },
	{ "envid bare plus", "<a@b> ENVID=+", E_DSN, SMTPD_PARSE_VALUE,
	    ADDR_OK, NULL, NOSIZE },
	{ "envid encoded crlf", "<a@b> ENVID=x+0D+0ARCPT", E_DSN,
	    SMTPD_PARSE_VALUE, ADDR_OK, NULL, NOSIZE },
	{ "envid equals", "<a@b> ENVID=a=b", E_DSN, SMTPD_PARSE_SYNTAX,
	    ADDR_OK, NULL, NOSIZE },
	{ "envid no value", "<a@b> ENVID", E_DSN, SMTPD_PARSE_VALUE, ADDR_OK,
	    NULL, NOSIZE },
	{ "envid not offered", "<a@b> ENVID=x", E_ALL & ~E_DSN,
	    SMTPD_PARSE_UNKNOWN, ADDR_OK, NULL, NOSIZE },
	{ "envid twice", "<a@b> ENVID=x envid=y", E_DSN, SMTPD_PARSE_DUP,
	    ADDR_OK, NULL, NOSIZE },

	/* AUTH (RFC 4954 5). */
	{ "auth empty", "<a@b> AUTH=<>", E_AUTH, SMTPD_PARSE_OK, ADDR_OK,
	    "a@b", NOSIZE, SMTPD_BODY_7BIT, false, SMTPD_RET_UNSET, NULL,
	    "<>" },
	{ "auth addr", "<a@b> AUTH=e+3Dmc2@example.com", E_AUTH,
	    SMTPD_PARSE_OK, ADDR_OK, "a@b", NOSIZE, SMTPD_BODY_7BIT, false,
	    SMTPD_RET_UNSET, NULL, "e+3Dmc2@example.com" },
	{ "auth 500", "<a@b> AUTH=" X500, E_AUTH, SMTPD_PARSE_OK, ADDR_OK,
	    "a@b", NOSIZE, SMTPD_BODY_7BIT, false, SMTPD_RET_UNSET, NULL,
	    X500 },
	{ "auth 501", "<a@b> AUTH=" X501, E_AUTH, SMTPD_PARSE_VALUE, ADDR_OK,
	    NULL, NOSIZE },
	{ "auth bad xtext", "<a@b> AUTH=a+zz", E_AUTH, SMTPD_PARSE_VALUE,
	    ADDR_OK, NULL, NOSIZE },
	{ "auth no value", "<a@b> AUTH", E_AUTH, SMTPD_PARSE_VALUE, ADDR_OK,
	    NULL, NOSIZE },
	{ "auth not offered", "<a@b> AUTH=<>", E_ALL & ~E_AUTH,
	    SMTPD_PARSE_UNKNOWN, ADDR_OK, NULL, NOSIZE },
	{ "auth twice", "<a@b> AUTH=<> AUTH=<>", E_AUTH, SMTPD_PARSE_DUP,
	    ADDR_OK, NULL, NOSIZE },

	/* Several parameters and keyword syntax. */
	{ "all", " <a@b>  SIZE=7 BODY=8BITMIME  SMTPUTF8 RET=HDRS "
	    "ENVID=e AUTH=<>  ", E_ALL, SMTPD_PARSE_OK, ADDR_OK, "a@b", 7,
	    SMTPD_BODY_8BITMIME, true, SMTPD_RET_HDRS, "e", "<>" },
	{ "unknown", "<a@b> FOO=bar", E_ALL, SMTPD_PARSE_UNKNOWN, ADDR_OK,
	    NULL, NOSIZE },
	{ "unknown no value", "<a@b> X-FOO", E_ALL, SMTPD_PARSE_UNKNOWN,
	    ADDR_OK, NULL, NOSIZE },
	{ "unknown prefix", "<a@b> SIZ=1", E_ALL, SMTPD_PARSE_UNKNOWN,
	    ADDR_OK, NULL, NOSIZE },
	{ "unknown longer", "<a@b> SIZES=1", E_ALL, SMTPD_PARSE_UNKNOWN,
	    ADDR_OK, NULL, NOSIZE },
	{ "rcpt param in mail", "<a@b> NOTIFY=NEVER", E_ALL,
	    SMTPD_PARSE_UNKNOWN, ADDR_OK, NULL, NOSIZE },
	{ "keyword hyphen first", "<a@b> -X=1", E_ALL, SMTPD_PARSE_SYNTAX,
	    ADDR_OK, NULL, NOSIZE },
	{ "keyword underscore", "<a@b> SI_ZE=1", E_ALL, SMTPD_PARSE_SYNTAX,
	    ADDR_OK, NULL, NOSIZE },
	{ "keyword empty", "<a@b> =1", E_ALL, SMTPD_PARSE_SYNTAX, ADDR_OK,
	    NULL, NOSIZE },
	{ "double equals", "<a@b> SIZE==1", E_ALL, SMTPD_PARSE_SYNTAX,
	    ADDR_OK, NULL, NOSIZE },
	{ "unknown then bad", "<a@b> FOO SIZE=x", E_ALL, SMTPD_PARSE_UNKNOWN,
	    ADDR_OK, NULL, NOSIZE },

	/* Control characters anywhere: the spool-injection defence. */
	{ "crlf in envid", "<a@b> ENVID=x\r\nRCPT TO:<c@d>", E_ALL,
	    SMTPD_PARSE_SYNTAX, ADDR_OK, NULL, NOSIZE },
	{ "crlf after path", "<a@b>\r\nRCPT TO:<c@d>", E_ALL,
	    SMTPD_PARSE_SYNTAX, ADDR_OK, NULL, NOSIZE },
	{ "lf only", "<a@b> SIZE=1\n", E_ALL, SMTPD_PARSE_SYNTAX, ADDR_OK,
	    NULL, NOSIZE },
	{ "cr only", "<a@b>\r", E_ALL, SMTPD_PARSE_SYNTAX, ADDR_OK, NULL,
	    NOSIZE },
	{ "crlf in path", "<a\r\n@b>", E_ALL, SMTPD_PARSE_SYNTAX, ADDR_OK,
	    NULL, NOSIZE },
	{ "crlf in quoted", "<\"a\r\nb\"@c>", E_ALL, SMTPD_PARSE_SYNTAX,
	    ADDR_OK, NULL, NOSIZE },
	{ "tab separator", "<a@b>\tSIZE=1", E_ALL, SMTPD_PARSE_SYNTAX,
	    ADDR_OK, NULL, NOSIZE },
	{ "tab before path", "\t<a@b>", E_ALL, SMTPD_PARSE_SYNTAX, ADDR_OK,
	    NULL, NOSIZE },
	{ "del in auth", "<a@b> AUTH=a\x7f", E_ALL, SMTPD_PARSE_SYNTAX,
	    ADDR_OK, NULL, NOSIZE },
	{ "esc", "<a@b> ENVID=\x1b[2J", E_ALL, SMTPD_PARSE_SYNTAX, ADDR_OK,
	    NULL, NOSIZE },
	{ "nul cuts", "<a@b>\0\r\nRCPT TO:<c@d>", E_ALL, SMTPD_PARSE_OK,
	    ADDR_OK, "a@b", NOSIZE },
};

/* expect_str - NULL as "" */
static const char *
expect_str(const char *s)
{
	return s != NULL ? s : "";
}

/* mail_fail - report a mismatching case */
static void
mail_fail(const struct mail_case *c, enum smtpd_parse_err e,
    enum addr_err d, const char *what)
{
	fail_msg("case %s: err %d detail %d: %s", c->name, e, d, what);
}

/* check_mail - one parsed MAIL argument against its case */
static void
check_mail(const struct mail_case *c, enum smtpd_parse_err e,
    enum addr_err d, const struct smtpd_mail *m)
{
	static const struct smtpd_mail zero;
	char from[ADDR_PATH_MAX];

	if (e != c->err || d != c->detail)
		mail_fail(c, e, d, "wrong error");
	if (e != SMTPD_PARSE_OK) {
		if (memcmp(m, &zero, sizeof(zero)) != 0)
			mail_fail(c, e, d, "not cleared");
		return;
	}
	if (addr_format(&m->from, from, sizeof(from)) != 0 ||
	    strcmp(from, c->from) != 0 || m->from.null != (c->from[0] == 0))
		mail_fail(c, e, d, from);
	if (m->has_size != (c->size != NOSIZE) ||
	    (m->has_size && m->size != c->size))
		mail_fail(c, e, d, "size");
	if (m->body != c->body || m->smtputf8 != c->utf8 || m->ret != c->ret)
		mail_fail(c, e, d, "body, smtputf8 or ret");
	if (strcmp(m->envid, expect_str(c->envid)) != 0 ||
	    strcmp(m->auth, expect_str(c->auth)) != 0)
		mail_fail(c, e, d, "envid or auth");
}

/* test_mail_table - run every MAIL case */
static void
test_mail_table(void **state)
{
	const struct mail_case *c;
	struct smtpd_exts x;
	struct smtpd_mail m;
	enum smtpd_parse_err e;
	enum addr_err d;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(mail_cases); i++) {
		c = &mail_cases[i];
		x = exts(c->ext);
		memset(&m, 'x', sizeof(m));
		d = (enum addr_err)-1;
		e = smtpd_parse_mail(c->arg, &x, &m, &d);
		check_mail(c, e, d, &m);
		/* detail may be NULL. */
		assert_int_equal(smtpd_parse_mail(c->arg, &x, &m, NULL),
		    c->err);
	}
}

/* A smtpd_parse_rcpt case; unset expectations are zero / "". */
struct rcpt_case {
	const char		*name;
	const char		*arg;
	unsigned		 ext;		/* E_* */
	bool			 utf8;		/* SMTPUTF8 in MAIL */
	enum smtpd_parse_err	 err;
	enum addr_err		 detail;
	const char		*local;
	const char		*domain;
	unsigned		 notify;
	const char		*orcpt;
};

static const struct rcpt_case rcpt_cases[] = {
	/* Paths. */
	{ "plain", "<a@b>", 0, false, SMTPD_PARSE_OK, ADDR_OK, "a", "b" },
	{ "one space", " <a@b>", 0, false, SMTPD_PARSE_OK, ADDR_OK, "a",
	    "b" },
	{ "two spaces", "  <a@b>", 0, false, SMTPD_PARSE_SYNTAX, ADDR_OK },
	{ "null", "<>", 0, false, SMTPD_PARSE_PATH, ADDR_ERR_NULL },
	{ "null space", " <>", E_ALL, true, SMTPD_PARSE_PATH,
	    ADDR_ERR_NULL },
	{ "no brackets", "a@b", 0, false, SMTPD_PARSE_SYNTAX, ADDR_OK },
	{ "empty", "", 0, false, SMTPD_PARSE_SYNTAX, ADDR_OK },
	{ "junk after", "<a@b>junk", 0, false, SMTPD_PARSE_SYNTAX, ADDR_OK },
	{ "route", "<@r1,@r2:a@b>", 0, false, SMTPD_PARSE_OK, ADDR_OK, "a",
	    "b" },
	{ "literal", "<a@[192.0.2.1]>", 0, false, SMTPD_PARSE_OK, ADDR_OK,
	    "a", "[192.0.2.1]" },
	{ "percent", "<user%other@host>", 0, false, SMTPD_PARSE_OK, ADDR_OK,
	    "user%other", "host" },
	{ "quoted relay", "<\"user@other\"@host>", 0, false, SMTPD_PARSE_OK,
	    ADDR_OK, "user@other", "host" },
	{ "route relay", "<@host:user@other>", 0, false, SMTPD_PARSE_OK,
	    ADDR_OK, "user", "other" },
	{ "double at relay", "<user@other@host>", 0, false, SMTPD_PARSE_PATH,
	    ADDR_ERR_SYNTAX },
	{ "local 65", "<" A65 "@b>", 0, false, SMTPD_PARSE_PATH,
	    ADDR_ERR_TOO_LONG },

	/* Postmaster (RFC 5321 4.1.1.3). */
	{ "postmaster", "<postmaster>", 0, false, SMTPD_PARSE_OK, ADDR_OK,
	    "postmaster", "" },
	{ "Postmaster", "<Postmaster>", 0, false, SMTPD_PARSE_OK, ADDR_OK,
	    "postmaster", "" },
	{ "POSTMASTER", " <POSTMASTER>", 0, false, SMTPD_PARSE_OK, ADDR_OK,
	    "postmaster", "" },
	{ "postmaster params", "<PostMaster> NOTIFY=NEVER", E_DSN, false,
	    SMTPD_PARSE_OK, ADDR_OK, "postmaster", "", SMTPD_NOTIFY_NEVER },
	{ "postmaster domain", "<Postmaster@Example.com>", 0, false,
	    SMTPD_PARSE_OK, ADDR_OK, "Postmaster", "Example.com" },
	{ "postmaster junk", "<postmaster>x", 0, false, SMTPD_PARSE_SYNTAX,
	    ADDR_OK },
	{ "postmaster unclosed", "<postmaster", 0, false, SMTPD_PARSE_PATH,
	    ADDR_ERR_SYNTAX },
	{ "postmasters", "<postmasters>", 0, false, SMTPD_PARSE_PATH,
	    ADDR_ERR_SYNTAX },
	{ "quoted postmaster", "<\"postmaster\">", 0, false,
	    SMTPD_PARSE_PATH, ADDR_ERR_SYNTAX },

	/* UTF-8 depends on the MAIL transaction. */
	{ "utf8", "<\xc3\xa9@b\xc3\xbc.de>", 0, true, SMTPD_PARSE_OK,
	    ADDR_OK, "\xc3\xa9", "b\xc3\xbc.de" },
	{ "utf8 without", "<\xc3\xa9@b>", E_ALL, false, SMTPD_PARSE_8BIT,
	    ADDR_ERR_8BIT },
	{ "utf8 overlong", "<\xc0\xa9@b>", 0, true, SMTPD_PARSE_PATH,
	    ADDR_ERR_SYNTAX },
	{ "smtputf8 in rcpt", "<a@b> SMTPUTF8", E_ALL, true,
	    SMTPD_PARSE_UNKNOWN, ADDR_OK },

	/* NOTIFY (RFC 3461 4.1). */
	{ "never", "<a@b> NOTIFY=NEVER", E_DSN, false, SMTPD_PARSE_OK,
	    ADDR_OK, "a", "b", SMTPD_NOTIFY_NEVER },
	{ "success", "<a@b> NOTIFY=SUCCESS", E_DSN, false, SMTPD_PARSE_OK,
	    ADDR_OK, "a", "b", SMTPD_NOTIFY_SUCCESS },
	{ "all three", "<a@b> NOTIFY=SUCCESS,FAILURE,DELAY", E_DSN, false,
	    SMTPD_PARSE_OK, ADDR_OK, "a", "b", SMTPD_NOTIFY_SUCCESS |
	    SMTPD_NOTIFY_FAILURE | SMTPD_NOTIFY_DELAY },
	{ "lower order", "<a@b> notify=delay,failure", E_DSN, false,
	    SMTPD_PARSE_OK, ADDR_OK, "a", "b", SMTPD_NOTIFY_DELAY |
	    SMTPD_NOTIFY_FAILURE },
	{ "never plus", "<a@b> NOTIFY=NEVER,SUCCESS", E_DSN, false,
	    SMTPD_PARSE_VALUE, ADDR_OK },
	{ "plus never", "<a@b> NOTIFY=DELAY,NEVER", E_DSN, false,
	    SMTPD_PARSE_VALUE, ADDR_OK },
	{ "never twice", "<a@b> NOTIFY=NEVER,NEVER", E_DSN, false,
	    SMTPD_PARSE_VALUE, ADDR_OK },
	{ "repeat in list", "<a@b> NOTIFY=SUCCESS,FAILURE,SUCCESS", E_DSN,
	    false, SMTPD_PARSE_VALUE, ADDR_OK },
	{ "empty element", "<a@b> NOTIFY=SUCCESS,,DELAY", E_DSN, false,
	    SMTPD_PARSE_VALUE, ADDR_OK },
	{ "trailing comma", "<a@b> NOTIFY=SUCCESS,", E_DSN, false,
	    SMTPD_PARSE_VALUE, ADDR_OK },
	{ "leading comma", "<a@b> NOTIFY=,SUCCESS", E_DSN, false,
	    SMTPD_PARSE_VALUE, ADDR_OK },
	{ "comma only", "<a@b> NOTIFY=,", E_DSN, false, SMTPD_PARSE_VALUE,
	    ADDR_OK },
	{ "unknown word", "<a@b> NOTIFY=ALWAYS", E_DSN, false,
	    SMTPD_PARSE_VALUE, ADDR_OK },
	{ "prefix word", "<a@b> NOTIFY=SUCCESSX", E_DSN, false,
	    SMTPD_PARSE_VALUE, ADDR_OK },
	{ "notify no value", "<a@b> NOTIFY", E_DSN, false, SMTPD_PARSE_VALUE,
	    ADDR_OK },
	{ "notify not offered", "<a@b> NOTIFY=NEVER", E_ALL & ~E_DSN, false,
	    SMTPD_PARSE_UNKNOWN, ADDR_OK },
	{ "notify twice", "<a@b> NOTIFY=NEVER NOTIFY=DELAY", E_DSN, false,
	    SMTPD_PARSE_DUP, ADDR_OK },

	/* ORCPT (RFC 3461 4.2). */
	{ "orcpt", "<a@b> ORCPT=rfc822;a@b", E_DSN, false, SMTPD_PARSE_OK,
	    ADDR_OK, "a", "b", 0, "rfc822;a@b" },
	{ "orcpt hex", "<a@b> ORCPT=rfc822;a+2Bx@b", E_DSN, false,
	    SMTPD_PARSE_OK, ADDR_OK, "a", "b", 0, "rfc822;a+2Bx@b" },
	{ "orcpt utf-8", "<a@b> orcpt=utf-8;\\x{E9}@b", E_DSN, false,
	    SMTPD_PARSE_OK, ADDR_OK, "a", "b", 0, "utf-8;\\x{E9}@b" },
	{ "orcpt 500", "<a@b> ORCPT=rfc822;" X493, E_DSN, false,
	    SMTPD_PARSE_OK, ADDR_OK, "a", "b", 0, "rfc822;" X493 },
	{ "orcpt 501", "<a@b> ORCPT=rfc822;" X494, E_DSN, false,
	    SMTPD_PARSE_VALUE, ADDR_OK },
	{ "orcpt no type", "<a@b> ORCPT=;a@b", E_DSN, false,
	    SMTPD_PARSE_VALUE, ADDR_OK },
	{ "orcpt no addr", "<a@b> ORCPT=rfc822;", E_DSN, false,
	    SMTPD_PARSE_VALUE, ADDR_OK },
	{ "orcpt no semicolon", "<a@b> ORCPT=rfc822", E_DSN, false,
	    SMTPD_PARSE_VALUE, ADDR_OK },
	{ "orcpt bad type", "<a@b> ORCPT=rfc(822;a@b", E_DSN, false,
	    SMTPD_PARSE_VALUE, ADDR_OK },
	{ "orcpt bad xtext", "<a@b> ORCPT=rfc822;a+zz", E_DSN, false,
	    SMTPD_PARSE_VALUE, ADDR_OK },
	{ "orcpt encoded crlf", "<a@b> ORCPT=rfc822;a+0D+0A", E_DSN, false,
	    SMTPD_PARSE_VALUE, ADDR_OK },
	{ "orcpt equals", "<a@b> ORCPT=rfc822;a=b", E_DSN, false,
	    SMTPD_PARSE_SYNTAX, ADDR_OK },
	{ "orcpt no value", "<a@b> ORCPT", E_DSN, false, SMTPD_PARSE_VALUE,
	    ADDR_OK },
	{ "orcpt not offered", "<a@b> ORCPT=rfc822;a@b", E_ALL & ~E_DSN,
	    false, SMTPD_PARSE_UNKNOWN, ADDR_OK },
	{ "orcpt twice", "<a@b> ORCPT=rfc822;a ORCPT=rfc822;b", E_DSN, false,
	    SMTPD_PARSE_DUP, ADDR_OK },
	{ "both", "<a@b>   ORCPT=rfc822;x  NOTIFY=FAILURE ", E_DSN, false,
	    SMTPD_PARSE_OK, ADDR_OK, "a", "b", SMTPD_NOTIFY_FAILURE,
	    "rfc822;x" },

	/* MAIL parameters are not RCPT parameters. */
	{ "size in rcpt", "<a@b> SIZE=1", E_ALL, false, SMTPD_PARSE_UNKNOWN,
	    ADDR_OK },
	{ "unknown", "<a@b> XFOO=1", E_ALL, false, SMTPD_PARSE_UNKNOWN,
	    ADDR_OK },

	/* Control characters. */
	{ "crlf notify", "<a@b> NOTIFY=NEVER\r\nDATA", E_ALL, false,
	    SMTPD_PARSE_SYNTAX, ADDR_OK },
	{ "crlf orcpt", "<a@b> ORCPT=rfc822;x\r\nRCPT TO:<c@d>", E_ALL,
	    false, SMTPD_PARSE_SYNTAX, ADDR_OK },
	{ "crlf after path", "<a@b>\r\n", 0, false, SMTPD_PARSE_SYNTAX,
	    ADDR_OK },
	{ "lf in path", "<a@b\n>", 0, false, SMTPD_PARSE_SYNTAX, ADDR_OK },
	{ "crlf postmaster", "<postmaster>\r\n", 0, false,
	    SMTPD_PARSE_SYNTAX, ADDR_OK },
	{ "tab", "<a@b>\tNOTIFY=NEVER", E_ALL, false, SMTPD_PARSE_SYNTAX,
	    ADDR_OK },
	{ "vt", "<a@b>\v", E_ALL, false, SMTPD_PARSE_SYNTAX, ADDR_OK },
};

/* rcpt_fail - report a mismatching case */
static void
rcpt_fail(const struct rcpt_case *c, enum smtpd_parse_err e,
    enum addr_err d, const char *what)
{
	fail_msg("case %s: err %d detail %d: %s", c->name, e, d, what);
}

/* check_rcpt - one parsed RCPT argument against its case */
static void
check_rcpt(const struct rcpt_case *c, enum smtpd_parse_err e,
    enum addr_err d, const struct smtpd_rcpt *r)
{
	static const struct smtpd_rcpt zero;

	if (e != c->err || d != c->detail)
		rcpt_fail(c, e, d, "wrong error");
	if (e != SMTPD_PARSE_OK) {
		if (memcmp(r, &zero, sizeof(zero)) != 0)
			rcpt_fail(c, e, d, "not cleared");
		return;
	}
	if (strcmp(r->to.local, c->local) != 0 ||
	    strcmp(r->to.domain, c->domain) != 0 || r->to.null)
		rcpt_fail(c, e, d, r->to.local);
	if (r->notify != c->notify ||
	    strcmp(r->orcpt, expect_str(c->orcpt)) != 0)
		rcpt_fail(c, e, d, "notify or orcpt");
}

/* test_rcpt_table - run every RCPT case */
static void
test_rcpt_table(void **state)
{
	const struct rcpt_case *c;
	struct smtpd_exts x;
	struct smtpd_rcpt r;
	enum smtpd_parse_err e;
	enum addr_err d;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rcpt_cases); i++) {
		c = &rcpt_cases[i];
		x = exts(c->ext);
		memset(&r, 'x', sizeof(r));
		d = (enum addr_err)-1;
		e = smtpd_parse_rcpt(c->arg, &x, c->utf8, &r, &d);
		check_rcpt(c, e, d, &r);
		assert_int_equal(smtpd_parse_rcpt(c->arg, &x, c->utf8, &r,
		    NULL), c->err);
	}
}

/* Templates with '#' where a control character goes. */
static const char *const ctrl_templates[] = {
	"#<a@b>", "<#a@b>", "<a@b#>", "<a@b>#", "<a@b> #", "<a@b>#SIZE=1",
	"<a@b> SIZE=1#", "<a@b> ENVID=x#y", "<a@b> NOTIFY=NEVER#",
	"<a@b> ORCPT=rfc822;x#", "<\"a#b\"@c>", "<postmaster>#", "<>#",
	"<a@b> SMTPUTF8#",
};

/* test_every_ctrl - each C0 control and DEL anywhere is SYNTAX */
static void
test_every_ctrl(void **state)
{
	struct smtpd_exts x = exts(E_ALL);
	struct smtpd_mail m;
	struct smtpd_rcpt r;
	char in[64];
	size_t i, j;
	int c;

	(void)state;
	for (c = 1; c < 0x80; c++) {
		if (c >= 0x20 && c != 0x7f)
			continue;
		for (i = 0; i < nitems(ctrl_templates); i++) {
			for (j = 0; ctrl_templates[i][j] != '\0'; j++)
				in[j] = ctrl_templates[i][j] == '#' ?
				    (char)c : ctrl_templates[i][j];
			in[j] = '\0';
			assert_int_equal(smtpd_parse_mail(in, &x, &m, NULL),
			    SMTPD_PARSE_SYNTAX);
			assert_int_equal(smtpd_parse_rcpt(in, &x, true, &r,
			    NULL), SMTPD_PARSE_SYNTAX);
		}
	}
}

/* A string predicate case. */
struct pred_case {
	const char	*in;
	bool		 want;
};

static const struct pred_case xtext_cases[] = {
	{ "", true },
	{ "abc", true },
	{ "!\"#$%&'()*,-./09:;<>?@AZ[\\]^_`az{|}~", true },
	{ "a+2Bb", true },
	{ "+2B", true },
	{ "+3D+2B", true },
	{ "+20", true },
	{ "+7E", true },
	{ "+C3+A9", true },
	{ "+FF", true },
	{ "a+2b", false },
	{ "a+2", false },
	{ "a+", false },
	{ "+", false },
	{ "++2B", false },
	{ "+G0", false },
	{ "a=b", false },
	{ "=", false },
	{ "a b", false },
	{ " ", false },
	{ "+0D", false },
	{ "+0A", false },
	{ "+00", false },
	{ "+1F", false },
	{ "+09", false },
	{ "+7F", false },
	{ "a\r\nb", false },
	{ "a\x7f", false },
	{ "\xc3\xa9", false },
};

/* test_xtext_table - run every smtpd_xtext_ok case */
static void
test_xtext_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(xtext_cases); i++)
		if (smtpd_xtext_ok(xtext_cases[i].in) != xtext_cases[i].want)
			fail_msg("xtext '%s': want %d", xtext_cases[i].in,
			    xtext_cases[i].want);
}

#define H50	"hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh"
#define H255	H50 H50 H50 H50 H50 "hhhhh"

static const struct pred_case helo_cases[] = {
	{ "mail.example.com", true },
	{ "localhost", true },
	{ "EXAMPLE", true },
	{ "my_host.local", true },
	{ "host-1", true },
	{ "192.0.2.1", true },
	{ "[192.0.2.1]", true },
	{ "[IPv6:2001:db8::1]", true },
	{ H255, true },
	{ H255 "h", false },
	{ "", false },
	{ "[192.0.2]", false },
	{ "[foo]", false },
	{ "[x400:foo]", false },
	{ "[192.0.2.1", false },
	{ "[192.0.2.1]x", false },
	{ "a b", false },
	{ " a", false },
	{ "a;b", false },
	{ "a\"b", false },
	{ "a@b", false },
	{ "a/b", false },
	{ "a\rb", false },
	{ "a\r\n", false },
	{ "a\tb", false },
	{ "a\x7f", false },
	{ "h\xc3\xa9.de", false },
};

/* test_helo_table - run every smtpd_helo_ok case */
static void
test_helo_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(helo_cases); i++)
		if (smtpd_helo_ok(helo_cases[i].in) != helo_cases[i].want)
			fail_msg("helo '%s': want %d", helo_cases[i].in,
			    helo_cases[i].want);
}

/* main - run the group */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mail_table),
		cmocka_unit_test(test_rcpt_table),
		cmocka_unit_test(test_every_ctrl),
		cmocka_unit_test(test_xtext_table),
		cmocka_unit_test(test_helo_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
