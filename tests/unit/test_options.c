/*
 * test_options.c - table-driven tests for the `postroom serve` options.
 *
 * Each row of `cases` is one options_parse() call: an argv, an optional
 * MAIL_CMD_LINE, whether it must succeed, a substring of the expected error,
 * and what must hold afterwards (one field, one bind address or a check
 * function).  Every row runs as its own cmocka test named after the row.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config/options.h"

#define GLOBAL	(-1)
#define ERRLEN	256

struct tcase {
	const char	*name;		/* cmocka test name */
	const char	*argv[8];	/* NULL-terminated */
	const char	*env;		/* MAIL_CMD_LINE, or NULL */
	bool		 ok;		/* options_parse() must return 0 */
	const char	*err;		/* error substring; "^..." = prefix */
	int		 svc;		/* GLOBAL or SVC_*: field/bind owner */
	size_t		 off;		/* field offset */
	size_t		 size;		/* field size; 0 = no field check */
	long		 want;		/* expected field value */
	const char	*addr;		/* expected last bind address */
	int		 port;		/* expected bind port (host order) */
	void		(*check)(const struct serve_opts *);
};

/* Expectations: a serve_opts field, a service field, a bind address. */
#define FG(f, v)	.svc = GLOBAL, .off = offsetof(struct serve_opts, f), \
			.size = sizeof(((struct serve_opts *)0)->f), .want = v
#define FS(s, f, v)	.svc = s, .off = offsetof(struct svc_opts, f), \
			.size = sizeof(((struct svc_opts *)0)->f), .want = v
#define BIND(s, a, p)	.svc = s, .addr = a, .port = p

#define OK(n, ...)	{ .name = n, .ok = true, __VA_ARGS__ }
#define FAIL(n, e, ...)	{ .name = n, .ok = false, .err = e, __VA_ARGS__ }

/* check_defaults - every default of options_defaults() */
static void
check_defaults(const struct serve_opts *o)
{
	static const struct {
		int	 svc, port, timeout, max;
		const char *name;
		char	 letter;
	} sv[] = {
		{ SVC_SMTP, 25, 90, 1024, "smtp", 'S' },
		{ SVC_SMTPS, 465, 90, 1024, "smtps", 'X' },
		{ SVC_SUBMIT, 587, 90, 1024, "submission", 'U' },
		{ SVC_POP3, 110, 90, 1024, "pop3", 'P' },
		{ SVC_POP3S, 995, 90, 1024, "pop3s", 'B' },
		{ SVC_FINGER, 79, 90, 64, "finger", 'F' },
		{ SVC_CTRL, 6017, 120, 512, "ctrl", 'C' },
		{ SVC_CTRLS, 6018, 120, 512, "ctrls", 'W' },
	};
	size_t i;

	assert_int_equal(nitems(sv), SVC_COUNT);
	for (i = 0; i < nitems(sv); i++) {
		const struct svc_opts *s = &o->svc[sv[i].svc];

		assert_string_equal(s->name, sv[i].name);
		assert_int_equal(s->letter, sv[i].letter);
		assert_int_equal(s->port, sv[i].port);
		assert_int_equal(s->timeout, sv[i].timeout);
		assert_int_equal(s->max_sessions, sv[i].max);
		assert_false(s->disabled);
		assert_false(s->ipv6);
		assert_false(s->log);
		assert_int_equal(s->nbind, 0);
	}
	assert_string_equal(o->mailroot, "");
	assert_string_equal(o->pid_dir, "");
	assert_false(o->debug);
	assert_int_equal(o->rotate_hours, 24);
	assert_int_equal(o->split, 23);
	assert_int_equal(o->rcvbuf, 0);
	assert_int_equal(o->sndbuf, 0);
	assert_true(o->maildir);
	assert_int_equal(o->dns_cache_dirs, 101);
	assert_int_equal(o->resolve, RESOLVE_V4);
	assert_int_equal(o->pop3_login_delay, 5);
	assert_false(o->pop3_hang);
	assert_int_equal(o->smtp_max_rcpt, 100);
	assert_int_equal(o->smtp_pop3_expire, 900);
	assert_int_equal(o->smail_threads, 16);
	assert_int_equal(o->smail_retry, 480);
	assert_int_equal(o->smail_ratio, 16);
	assert_int_equal(o->smail_max_tries, 32);
	assert_false(o->smail_log);
	assert_int_equal(o->filter_timeout, 90);
	assert_false(o->filter_log);
	assert_false(o->psync_disabled);
	assert_int_equal(o->psync_interval, 120);
	assert_int_equal(o->psync_threads, 8);
	assert_int_equal(o->psync_timeout, 120);
	assert_false(o->psync_log);
	assert_int_equal(o->lmail_threads, 3);
	assert_int_equal(o->lmail_sleep, 2);
	assert_false(o->lmail_log);
	assert_int_equal(o->loops, 0);
	assert_int_equal(o->workers, 4);
	assert_string_equal(o->user, "");
	assert_string_equal(o->pid_file, "");
}

/* check_mailroot - -Ms copied */
static void
check_mailroot(const struct serve_opts *o)
{
	assert_string_equal(o->mailroot, "/var/MailRoot");
}

/* check_mailroot_attached - -Ms with the path attached */
static void
check_mailroot_attached(const struct serve_opts *o)
{
	assert_string_equal(o->mailroot, "/srv/mail");
}

/* check_user - --user copied */
static void
check_user(const struct serve_opts *o)
{
	assert_string_equal(o->user, "xmail");
}

/* check_pid_file - --pid-file copied */
static void
check_pid_file(const struct serve_opts *o)
{
	assert_string_equal(o->pid_file, "/run/postroom.pid");
}

/* check_all_disabled - every -x- flag */
static void
check_all_disabled(const struct serve_opts *o)
{
	size_t i;

	for (i = 0; i < SVC_COUNT; i++)
		assert_true(o->svc[i].disabled);
	assert_true(o->psync_disabled);
}

/* check_only_smtp_disabled - -S- touches nothing else */
static void
check_only_smtp_disabled(const struct serve_opts *o)
{
	size_t i;

	for (i = 0; i < SVC_COUNT; i++)
		assert_int_equal(o->svc[i].disabled, i == SVC_SMTP);
	assert_false(o->psync_disabled);
}

/* check_two_binds - -SI given twice keeps both, in order */
static void
check_two_binds(const struct serve_opts *o)
{
	const struct svc_opts *s = &o->svc[SVC_SMTP];
	const struct sockaddr_in *a = (const void *)&s->bind[0];
	const struct sockaddr_in6 *b = (const void *)&s->bind[1];

	assert_int_equal(s->nbind, 2);
	assert_int_equal(a->sin_family, AF_INET);
	assert_int_equal(a->sin_port, htons(25));
	assert_int_equal(s->bindlen[0], sizeof(*a));
	assert_int_equal(b->sin6_family, AF_INET6);
	assert_int_equal(b->sin6_port, 0);
	assert_int_equal(s->bindlen[1], sizeof(*b));
}

/* check_env_words - MAIL_CMD_LINE split on spaces and tabs */
static void
check_env_words(const struct serve_opts *o)
{
	assert_true(o->svc[SVC_SMTP].log);
	assert_int_equal(o->svc[SVC_SMTP].timeout, 30);
	assert_int_equal(o->svc[SVC_POP3].port, 1100);
}

static const struct tcase cases[] = {
	OK("defaults", .argv = { NULL }, .check = check_defaults),
	OK("env empty", .argv = { NULL }, .env = "", .check = check_defaults),
	OK("env blanks", .argv = { NULL }, .env = " \t ",
	    .check = check_defaults),

	/* [XMAIL] */
	OK("-Ms", .argv = { "-Ms", "/var/MailRoot" }, .check = check_mailroot),
	OK("-Ms attached", .argv = { "-Ms/srv/mail" },
	    .check = check_mailroot_attached),
	FAIL("-Ms empty", "option -Ms: empty path", .argv = { "-Ms", "" }),
	OK("-Md", .argv = { "-Md" }, FG(debug, true)),
	OK("-Mr 0", .argv = { "-Mr", "0" }, FG(rotate_hours, 0)),
	OK("-Mr max", .argv = { "-Mr", "8760" }, FG(rotate_hours, 8760)),
	FAIL("-Mr over", "option -Mr: hours must be 0..8760, got '8761'",
	    .argv = { "-Mr", "8761" }),
	OK("-Mx 20", .argv = { "-Mx", "20" }, FG(split, 23)),
	OK("-Mx 23", .argv = { "-Mx", "23" }, FG(split, 23)),
	OK("-Mx 24", .argv = { "-Mx", "24" }, FG(split, 29)),
	OK("-Mx 1", .argv = { "-Mx", "1" }, FG(split, 2)),
	OK("-Mx 2", .argv = { "-Mx2" }, FG(split, 2)),
	OK("-Mx 1000", .argv = { "-Mx", "1000" }, FG(split, 1009)),
	FAIL("-Mx 0", "option -Mx: split must be 1..1000, got '0'",
	    .argv = { "-Mx", "0" }),
	OK("-MR 0", .argv = { "-MR", "0" }, FG(rcvbuf, 0)),
	OK("-MR 1", .argv = { "-MR", "1" }, FG(rcvbuf, 1024)),
	OK("-MR 1024", .argv = { "-MR1024" }, FG(rcvbuf, 1024)),
	OK("-MR 1025", .argv = { "-MR", "1025" }, FG(rcvbuf, 2048)),
	OK("-MR max", .argv = { "-MR", "16777216" }, FG(rcvbuf, 16777216)),
	FAIL("-MR over", "0..16777216, got '16777217'",
	    .argv = { "-MR", "16777217" }),
	OK("-MS", .argv = { "-MS", "3000" }, FG(sndbuf, 3072)),
	OK("-Mm", .argv = { "-Mm" }, FG(maildir, false)),
	OK("-MM", .argv = { "-Mm", "-MM" }, FG(maildir, true)),
	OK("-MD", .argv = { "-MD", "7" }, FG(dns_cache_dirs, 7)),
	FAIL("-MD 0", "option -MD: ndirs must be 1..10000",
	    .argv = { "-MD", "0" }),
	OK("-M4", .argv = { "-M6", "-M4" }, FG(resolve, RESOLVE_V4)),
	OK("-M6", .argv = { "-M6" }, FG(resolve, RESOLVE_V6)),
	OK("-M5", .argv = { "-M5" }, FG(resolve, RESOLVE_V4_V6)),
	OK("-M7", .argv = { "-M7" }, FG(resolve, RESOLVE_V6_V4)),

	/* [POP3] */
	OK("-P-", .argv = { "-P-" }, FS(SVC_POP3, disabled, true)),
	OK("-P6", .argv = { "-P6" }, FS(SVC_POP3, ipv6, true)),
	OK("-Pp", .argv = { "-Pp", "1100" }, FS(SVC_POP3, port, 1100)),
	OK("-Pt", .argv = { "-Pt", "30" }, FS(SVC_POP3, timeout, 30)),
	FAIL("-Pt 0", "option -Pt: timeout must be 1..86400, got '0'",
	    .argv = { "-Pt", "0" }),
	OK("-Pl", .argv = { "-Pl" }, FS(SVC_POP3, log, true)),
	OK("-Pw 0", .argv = { "-Pw", "0" }, FG(pop3_login_delay, 0)),
	OK("-Ph", .argv = { "-Ph" }, FG(pop3_hang, true)),
	OK("-PI", .argv = { "-PI", "127.0.0.1:1100" },
	    BIND(SVC_POP3, "127.0.0.1", 1100)),
	OK("-PX", .argv = { "-PX", "10" }, FS(SVC_POP3, max_sessions, 10)),
	FAIL("-PX 0", "option -PX: nthreads must be 1..100000",
	    .argv = { "-PX", "0" }),

	/* [POP3S] */
	OK("-B-", .argv = { "-B-" }, FS(SVC_POP3S, disabled, true)),
	OK("-B6", .argv = { "-B6" }, FS(SVC_POP3S, ipv6, true)),
	OK("-Bp", .argv = { "-Bp", "9950" }, FS(SVC_POP3S, port, 9950)),
	OK("-BI", .argv = { "-BI", "::1" }, BIND(SVC_POP3S, "::1", 0)),

	/* [SMTP] */
	OK("-S-", .argv = { "-S-" }, .check = check_only_smtp_disabled),
	OK("-S6", .argv = { "-S6" }, FS(SVC_SMTP, ipv6, true)),
	OK("-Sp separate", .argv = { "-Sp", "2525" },
	    FS(SVC_SMTP, port, 2525)),
	OK("-Sp attached", .argv = { "-Sp2525" }, FS(SVC_SMTP, port, 2525)),
	OK("-Sp 1", .argv = { "-Sp", "1" }, FS(SVC_SMTP, port, 1)),
	OK("-Sp 65535", .argv = { "-Sp", "65535" },
	    FS(SVC_SMTP, port, 65535)),
	OK("-Sp repeated", .argv = { "-Sp", "25", "-Sp", "26" },
	    FS(SVC_SMTP, port, 26)),
	FAIL("-Sp abc", "^option -Sp: port must be 1..65535, got 'abc'",
	    .argv = { "-Sp", "abc" }),
	FAIL("-Sp 0", "option -Sp: port must be 1..65535, got '0'",
	    .argv = { "-Sp", "0" }),
	FAIL("-Sp 65536", "option -Sp: port must be 1..65535, got '65536'",
	    .argv = { "-Sp", "65536" }),
	FAIL("-Sp 25x", "option -Sp: port must be 1..65535, got '25x'",
	    .argv = { "-Sp", "25x" }),
	FAIL("-Sp empty", "option -Sp: port must be 1..65535, got ''",
	    .argv = { "-Sp", "" }),
	FAIL("-Sp +25", "got '+25'", .argv = { "-Sp", "+25" }),
	FAIL("-Sp space", "got ' 25'", .argv = { "-Sp", " 25" }),
	FAIL("-Sp huge", "got '99999999999999999999999'",
	    .argv = { "-Sp", "99999999999999999999999" }),
	FAIL("-Sp -1", "option -Sp: missing value (port)",
	    .argv = { "-Sp", "-1" }),
	FAIL("-Sp at end", "option -Sp: missing value (port)",
	    .argv = { "-Sl", "-Sp" }),
	FAIL("-Sp before option", "option -Sp: missing value",
	    .argv = { "-Sp", "-Sl" }),
	OK("-St", .argv = { "-St", "60" }, FS(SVC_SMTP, timeout, 60)),
	FAIL("-St over", "option -St: timeout must be 1..86400",
	    .argv = { "-St", "86401" }),
	OK("-Sl", .argv = { "-Sl" }, FS(SVC_SMTP, log, true)),
	FAIL("-Sl junk", "option -Sl takes no value, got '-Slx'",
	    .argv = { "-Slx" }),
	OK("-SX", .argv = { "-SX", "50" }, FS(SVC_SMTP, max_sessions, 50)),
	OK("-Sr", .argv = { "-Sr", "1" }, FG(smtp_max_rcpt, 1)),
	FAIL("-Sr 0", "option -Sr: maxrcpts must be 1..100000",
	    .argv = { "-Sr", "0" }),
	OK("-Se", .argv = { "-Se", "0" }, FG(smtp_pop3_expire, 0)),

	/* -xI address forms */
	OK("-SI v4", .argv = { "-SI", "1.2.3.4" },
	    BIND(SVC_SMTP, "1.2.3.4", 0)),
	OK("-SI v4 port", .argv = { "-SI", "1.2.3.4:25" },
	    BIND(SVC_SMTP, "1.2.3.4", 25)),
	OK("-SI attached", .argv = { "-SI10.0.0.1:2525" },
	    BIND(SVC_SMTP, "10.0.0.1", 2525)),
	OK("-SI v6 bare", .argv = { "-SI", "::1" }, BIND(SVC_SMTP, "::1", 0)),
	OK("-SI v6 any", .argv = { "-SI", "::" }, BIND(SVC_SMTP, "::", 0)),
	OK("-SI v6 full", .argv = { "-SI", "2001:db8::25" },
	    BIND(SVC_SMTP, "2001:db8::25", 0)),
	OK("-SI v6 bracket port", .argv = { "-SI", "[::1]:25" },
	    BIND(SVC_SMTP, "::1", 25)),
	OK("-SI v6 bracket", .argv = { "-SI", "[::1]" },
	    BIND(SVC_SMTP, "::1", 0)),
	OK("-SI v4-mapped", .argv = { "-SI", "[::ffff:10.1.2.3]:587" },
	    BIND(SVC_SMTP, "::ffff:10.1.2.3", 587)),
	OK("-SI twice", .argv = { "-SI", "1.2.3.4:25", "-SI", "::1" },
	    .check = check_two_binds),
	FAIL("-SI host name", "'localhost' is not a numeric IPv4 or IPv6 "
	    "address (host names are not resolved)",
	    .argv = { "-SI", "localhost" }),
	FAIL("-SI host name port", "'mail.example.com:25' is not a numeric "
	    "IPv4 address", .argv = { "-SI", "mail.example.com:25" }),
	FAIL("-SI empty", "option -SI: '' is not a numeric",
	    .argv = { "-SI", "" }),
	FAIL("-SI bad v4", "is not a numeric", .argv = { "-SI", "1.2.3" }),
	FAIL("-SI v4 in brackets", "'[1.2.3.4]' is not a numeric IPv6",
	    .argv = { "-SI", "[1.2.3.4]" }),
	FAIL("-SI no ]", "option -SI: missing ']' in '[::1'",
	    .argv = { "-SI", "[::1" }),
	FAIL("-SI junk after ]", "option -SI: junk after ']' in '[::1]25'",
	    .argv = { "-SI", "[::1]25" }),
	FAIL("-SI port 0", "option -SI: port must be 1..65535, got '0'",
	    .argv = { "-SI", "1.2.3.4:0" }),
	FAIL("-SI port 65536", "port must be 1..65535, got '65536'",
	    .argv = { "-SI", "1.2.3.4:65536" }),
	FAIL("-SI port empty", "port must be 1..65535, got ''",
	    .argv = { "-SI", "1.2.3.4:" }),
	FAIL("-SI port 25x", "port must be 1..65535, got '25x'",
	    .argv = { "-SI", "[::1]:25x" }),
	FAIL("-SI at end", "option -SI: missing value (ip[:port])",
	    .argv = { "-SI" }),

	/* [SMTPS] */
	OK("-X-", .argv = { "-X-" }, FS(SVC_SMTPS, disabled, true)),
	OK("-X6", .argv = { "-X6" }, FS(SVC_SMTPS, ipv6, true)),
	OK("-Xp", .argv = { "-Xp", "4650" }, FS(SVC_SMTPS, port, 4650)),
	OK("-XI", .argv = { "-XI", "[::1]:465" }, BIND(SVC_SMTPS, "::1", 465)),
	OK("-U-", .argv = { "-U-" }, FS(SVC_SUBMIT, disabled, true)),
	OK("-U6", .argv = { "-U6" }, FS(SVC_SUBMIT, ipv6, true)),
	OK("-Up", .argv = { "-Up", "5870" }, FS(SVC_SUBMIT, port, 5870)),
	OK("-UI", .argv = { "-UI", "127.0.0.1" }, BIND(SVC_SUBMIT, "127.0.0.1", 0)),

	/* [SMAIL] */
	OK("-Qn", .argv = { "-Qn", "256" }, FG(smail_threads, 256)),
	FAIL("-Qn over", "option -Qn: nthreads must be 1..256, got '257'",
	    .argv = { "-Qn", "257" }),
	FAIL("-Qn 0", "option -Qn: nthreads must be 1..256, got '0'",
	    .argv = { "-Qn", "0" }),
	OK("-Qt", .argv = { "-Qt", "60" }, FG(smail_retry, 60)),
	OK("-Qi", .argv = { "-Qi", "0" }, FG(smail_ratio, 0)),
	OK("-Qr", .argv = { "-Qr", "1" }, FG(smail_max_tries, 1)),
	FAIL("-Qr 0", "option -Qr: nretries must be 1..1000",
	    .argv = { "-Qr", "0" }),
	OK("-Ql", .argv = { "-Ql" }, FG(smail_log, true)),
	OK("-QT", .argv = { "-QT", "30" }, FG(filter_timeout, 30)),
	OK("-Qg", .argv = { "-Qg" }, FG(filter_log, true)),

	/* [PSYNC] */
	OK("-Y-", .argv = { "-Y-" }, FG(psync_disabled, true)),
	OK("-Yi", .argv = { "-Yi", "0" }, FG(psync_interval, 0)),
	OK("-Yt", .argv = { "-Yt", "32" }, FG(psync_threads, 32)),
	FAIL("-Yt over", "option -Yt: nthreads must be 1..32, got '33'",
	    .argv = { "-Yt", "33" }),
	OK("-YT", .argv = { "-YT", "30" }, FG(psync_timeout, 30)),
	OK("-Yl", .argv = { "-Yl" }, FG(psync_log, true)),

	/* [FINGER] */
	OK("-F-", .argv = { "-F-" }, FS(SVC_FINGER, disabled, true)),
	OK("-F6", .argv = { "-F6" }, FS(SVC_FINGER, ipv6, true)),
	OK("-Fp", .argv = { "-Fp", "7979" }, FS(SVC_FINGER, port, 7979)),
	OK("-Fl", .argv = { "-Fl" }, FS(SVC_FINGER, log, true)),
	OK("-FI", .argv = { "-FI", "0.0.0.0" }, BIND(SVC_FINGER, "0.0.0.0", 0)),

	/* [CTRL] */
	OK("-C-", .argv = { "-C-" }, FS(SVC_CTRL, disabled, true)),
	OK("-C6", .argv = { "-C6" }, FS(SVC_CTRL, ipv6, true)),
	OK("-Cp", .argv = { "-Cp", "6000" }, FS(SVC_CTRL, port, 6000)),
	OK("-Ct", .argv = { "-Ct", "10" }, FS(SVC_CTRL, timeout, 10)),
	OK("-Cl", .argv = { "-Cl" }, FS(SVC_CTRL, log, true)),
	OK("-CI", .argv = { "-CI", "127.0.0.1" },
	    BIND(SVC_CTRL, "127.0.0.1", 0)),
	OK("-CX", .argv = { "-CX", "5" }, FS(SVC_CTRL, max_sessions, 5)),

	/* [CTRLS] */
	OK("-W-", .argv = { "-W-" }, FS(SVC_CTRLS, disabled, true)),
	OK("-W6", .argv = { "-W6" }, FS(SVC_CTRLS, ipv6, true)),
	OK("-Wp", .argv = { "-Wp", "6001" }, FS(SVC_CTRLS, port, 6001)),
	OK("-WI", .argv = { "-WI", "[::]:6018" }, BIND(SVC_CTRLS, "::", 6018)),

	/* [LMAIL] */
	OK("-Ln", .argv = { "-Ln", "17" }, FG(lmail_threads, 17)),
	FAIL("-Ln over", "option -Ln: nthreads must be 1..17, got '18'",
	    .argv = { "-Ln", "18" }),
	OK("-Lt", .argv = { "-Lt", "5" }, FG(lmail_sleep, 5)),
	OK("-Ll", .argv = { "-Ll" }, FG(lmail_log, true)),

	/* postroom long options */
	OK("--loops", .argv = { "--loops", "0" }, FG(loops, 0)),
	OK("--loops=", .argv = { "--loops=8" }, FG(loops, 8)),
	FAIL("--loops over", "option --loops: N must be 0..256, got '257'",
	    .argv = { "--loops", "257" }),
	FAIL("--loops= empty", "option --loops: N must be 0..256, got ''",
	    .argv = { "--loops=" }),
	FAIL("--loops at end", "option --loops: missing value (N)",
	    .argv = { "--loops" }),
	FAIL("--loopsx", "unknown option '--loopsx'", .argv = { "--loopsx" }),
	OK("--workers", .argv = { "--workers", "1" }, FG(workers, 1)),
	FAIL("--workers 0", "option --workers: N must be 1..256, got '0'",
	    .argv = { "--workers", "0" }),
	OK("--user", .argv = { "--user", "xmail" }, .check = check_user),
	FAIL("--user empty", "option --user: empty NAME",
	    .argv = { "--user=" }),
	OK("--pid-file", .argv = { "--pid-file=/run/postroom.pid" },
	    .check = check_pid_file),

	/* unknown options and stray arguments */
	FAIL("-Zz", "unknown option '-Zz'", .argv = { "-Zz" }),
	FAIL("-Sq", "unknown option '-Sq'", .argv = { "-Sl", "-Sq" }),
	FAIL("-S", "unknown option '-S'", .argv = { "-S" }),
	FAIL("-Pr", "unknown option '-Pr'", .argv = { "-Pr", "1" }),
	FAIL("-Bt (not in POP3S)", "unknown option '-Bt'",
	    .argv = { "-Bt", "1" }),
	FAIL("-Ft (not in FINGER)", "unknown option '-Ft'",
	    .argv = { "-Ft", "1" }),
	FAIL("-h (caller's)", "unknown option '-h'", .argv = { "-h" }),
	FAIL("--help (caller's)", "unknown option '--help'",
	    .argv = { "--help" }),
	FAIL("stray word", "unexpected argument 'serve'",
	    .argv = { "-Sl", "serve" }),
	FAIL("stray dash", "unexpected argument '-'", .argv = { "-" }),
	FAIL("stray after value", "unexpected argument '26'",
	    .argv = { "-Sp", "25", "26" }),

	/* service disable flags together */
	OK("all disabled", .argv = { "-S-", "-X-", "-P-", "-B-", "-F-",
	    "-C-", "-W-", "-U-" }, .env = "-Y-", .check = check_all_disabled),

	/* MAIL_CMD_LINE: appended after argv */
	OK("env alone", .argv = { NULL }, .env = "-Sp 26",
	    FS(SVC_SMTP, port, 26)),
	OK("env wins", .argv = { "-Sp", "25" }, .env = "-Sp 26",
	    FS(SVC_SMTP, port, 26)),
	OK("env attached", .argv = { "-Sp", "25" }, .env = "-Sp27",
	    FS(SVC_SMTP, port, 27)),
	OK("env tabs", .argv = { "-Pp", "1100" }, .env = "\t-Sl  -St\t30 ",
	    .check = check_env_words),
	OK("env value of last argv", .argv = { "-Sp" }, .env = "2526",
	    FS(SVC_SMTP, port, 2526)),
	OK("env bind adds", .argv = { "-SI", "1.2.3.4:25" }, .env = "-SI ::1",
	    .check = check_two_binds),
	FAIL("env unknown", "^MAIL_CMD_LINE: unknown option '-Zz'",
	    .argv = { "-Sl" }, .env = "-Zz"),
	FAIL("env bad port", "MAIL_CMD_LINE: option -Sp: port must be "
	    "1..65535, got 'x'", .argv = { NULL }, .env = "-Sp x"),
	FAIL("env missing value", "MAIL_CMD_LINE: option -St: missing value",
	    .argv = { NULL }, .env = "-Sl -St"),
	FAIL("argv error not env", "^unknown option '-Zz'",
	    .argv = { "-Zz" }, .env = "-Sl"),
};

/* case_argc - number of words in a case's argv */
static int
case_argc(const struct tcase *t)
{
	int n = 0;

	while (n < (int)nitems(t->argv) && t->argv[n] != NULL)
		n++;
	return n;
}

/* check_field - the one field a case names has the expected value */
static void
check_field(const struct tcase *t, const struct serve_opts *o)
{
	const char *base = t->svc == GLOBAL ? (const char *)o :
	    (const char *)&o->svc[t->svc];

	if (t->size == sizeof(bool))
		assert_int_equal(*(const bool *)(base + t->off), t->want);
	else if (t->size == sizeof(int))
		assert_int_equal(*(const int *)(base + t->off), t->want);
	else
		fail_msg("%s: field size %zu", t->name, t->size);
}

/* check_bind - the last bind address of t->svc is t->addr:t->port */
static void
check_bind(const struct tcase *t, const struct serve_opts *o)
{
	const struct svc_opts *s = &o->svc[t->svc];
	const struct sockaddr_storage *ss;
	char text[INET6_ADDRSTRLEN];
	int port;

	assert_true(s->nbind >= 1);
	ss = &s->bind[s->nbind - 1];
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		assert_int_equal(s->bindlen[s->nbind - 1], sizeof(*sin));
		inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
		port = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		assert_int_equal(ss->ss_family, AF_INET6);
		assert_int_equal(s->bindlen[s->nbind - 1], sizeof(*sin6));
		inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
		port = ntohs(sin6->sin6_port);
	}
	assert_string_equal(text, t->addr);
	assert_int_equal(port, t->port);
}

/* run_case - one row of the table */
static void
run_case(void **state)
{
	const struct tcase *t = *state;
	struct serve_opts o;
	char err[ERRLEN] = "";
	int rc;

	options_defaults(&o);
	rc = options_parse(&o, case_argc(t), (char *const *)t->argv, t->env,
	    err, sizeof(err));
	if (!t->ok) {
		assert_int_equal(rc, -1);
		if (t->err[0] == '^' ? strncmp(err, t->err + 1,
		    strlen(t->err + 1)) != 0 : strstr(err, t->err) == NULL)
			fail_msg("error '%s' lacks '%s'", err, t->err);
		return;
	}
	if (rc != 0)
		fail_msg("unexpected error: %s", err);
	if (t->size != 0)
		check_field(t, &o);
	if (t->addr != NULL)
		check_bind(t, &o);
	if (t->check != NULL)
		t->check(&o);
}

/* test_bind_limit - OPTIONS_BIND_MAX -SI accepted, one more refused */
static void
test_bind_limit(void **state)
{
	char words[OPTIONS_BIND_MAX + 1][32], err[ERRLEN];
	char *argv[2 * (OPTIONS_BIND_MAX + 1)];
	struct serve_opts o;
	int i;

	(void)state;
	for (i = 0; i <= OPTIONS_BIND_MAX; i++) {
		snprintf(words[i], sizeof(words[i]), "127.0.0.%d:%d", i + 1,
		    2500 + i);
		argv[2 * i] = "-SI";
		argv[2 * i + 1] = words[i];
	}
	options_defaults(&o);
	assert_int_equal(options_parse(&o, 2 * OPTIONS_BIND_MAX, argv, NULL,
	    err, sizeof(err)), 0);
	assert_int_equal(o.svc[SVC_SMTP].nbind, OPTIONS_BIND_MAX);
	assert_int_equal(((struct sockaddr_in *)&o.svc[SVC_SMTP].bind[15])->
	    sin_port, htons(2515));
	assert_int_equal(o.svc[SVC_POP3].nbind, 0);

	options_defaults(&o);
	assert_int_equal(options_parse(&o, 2 * (OPTIONS_BIND_MAX + 1), argv,
	    NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "option -SI: at most 16 addresses"));
	assert_non_null(strstr(err, "127.0.0.17:2516"));
}

/* test_mailroot_too_long - -Ms longer than mailroot[] is refused */
static void
test_mailroot_too_long(void **state)
{
	static char path[5000];
	struct serve_opts o;
	char *argv[2], err[ERRLEN];

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	argv[0] = "-Ms";
	argv[1] = path;
	options_defaults(&o);
	assert_int_equal(options_parse(&o, 2, argv, NULL, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "option -Ms: path longer than 4095 bytes");

	path[sizeof(o.mailroot) - 1] = '\0';	/* exactly 4095: fits */
	options_defaults(&o);
	assert_int_equal(options_parse(&o, 2, argv, NULL, err, sizeof(err)),
	    0);
	assert_int_equal(strlen(o.mailroot), sizeof(o.mailroot) - 1);
}

/* test_small_err - a short error buffer is truncated, not overrun */
static void
test_small_err(void **state)
{
	char *argv[] = { "-Sp", "abc" };
	struct serve_opts o;
	char err[8];

	(void)state;
	options_defaults(&o);
	assert_int_equal(options_parse(&o, 2, argv, NULL, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "option ");
}

/* Every option the XMail 1.27 manual lists, plus postroom's. */
static const char *const all_options[] = {
	"-Ms", "-Md", "-Mr", "-Mx", "-MR", "-MS", "-MM", "-Mm", "-MD",
	"-M4", "-M6", "-M5", "-M7",
	"-P-", "-P6", "-Pp", "-Pt", "-Pl", "-Pw", "-Ph", "-PI", "-PX",
	"-B-", "-B6", "-Bp", "-BI",
	"-S-", "-S6", "-Sp", "-St", "-Sl", "-SI", "-SX", "-Sr", "-Se",
	"-X-", "-X6", "-Xp", "-XI",
	"-Qn", "-Qt", "-Qi", "-Qr", "-Ql", "-QT", "-Qg",
	"-Y-", "-Yi", "-Yt", "-YT", "-Yl",
	"-F-", "-F6", "-Fp", "-Fl", "-FI",
	"-C-", "-C6", "-Cp", "-Ct", "-Cl", "-CI", "-CX",
	"-W-", "-W6", "-Wp", "-WI",
	"-Ln", "-Lt", "-Ll",
	"--loops", "--workers", "--user", "--pid-file",
};

/* test_table_covered - every option appears in some OK row of cases */
static void
test_table_covered(void **state)
{
	size_t i, j;
	int k;
	bool seen;

	(void)state;
	for (i = 0; i < nitems(all_options); i++) {
		seen = false;
		for (j = 0; j < nitems(cases) && !seen; j++) {
			if (!cases[j].ok)
				continue;
			for (k = 0; k < case_argc(&cases[j]); k++)
				if (strncmp(cases[j].argv[k], all_options[i],
				    strlen(all_options[i])) == 0)
					seen = true;
		}
		if (!seen)
			fail_msg("no passing case uses %s", all_options[i]);
	}
}

/* test_usage - every option listed once, 79 columns, groups in order */
static void
test_usage(void **state)
{
	static const char *const groups[] = {
		"[XMAIL]", "[POP3]", "[POP3S]", "[SMTP]", "[SMTPS]",
		"[SMAIL]", "[PSYNC]", "[FINGER]", "[CTRL]", "[CTRLS]",
		"[LMAIL]", "[postroom]",
	};
	const char *u = options_usage(), *p, *nl, *prev = u;
	char needle[32];
	size_t i;

	(void)state;
	assert_ptr_equal(u, options_usage());
	assert_true(strncmp(u, "usage: postroom serve", 21) == 0);
	assert_int_equal(u[strlen(u) - 1], '\n');
	for (p = u; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		if (nl - p > 79)
			fail_msg("line too long: %.*s", (int)(nl - p), p);
	}
	for (i = 0; i < nitems(all_options); i++) {
		snprintf(needle, sizeof(needle), "\n  %s ", all_options[i]);
		p = strstr(u, needle);
		if (p == NULL || strstr(p + 1, needle) != NULL)
			fail_msg("%s not listed exactly once", all_options[i]);
	}
	for (i = 0; i < nitems(groups); i++) {
		p = strstr(u, groups[i]);
		assert_non_null(p);
		assert_true(p > prev);
		prev = p;
	}
	assert_non_null(strstr(u, "\n  -Sp port        SMTP port "
	    "(1..65535, default 25)\n"));
	assert_non_null(strstr(u, "\n  -MM             Maildir delivery "
	    "(default)\n"));
	assert_non_null(strstr(u, "\n  -h, --help "));
}

int
main(void)
{
	struct CMUnitTest tests[nitems(cases) + 5];
	size_t i, n = 0;

	for (i = 0; i < nitems(cases); i++)
		tests[n++] = (struct CMUnitTest){ cases[i].name, run_case,
		    NULL, NULL, (void *)&cases[i] };
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_bind_limit);
	tests[n++] = (struct CMUnitTest)
	    cmocka_unit_test(test_mailroot_too_long);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_small_err);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_table_covered);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_usage);
	return _cmocka_run_group_tests("options", tests, n, NULL, NULL);
}
