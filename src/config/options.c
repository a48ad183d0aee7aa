/*
 * options.c - the `postroom serve` command line (XMail 1.27 spellings).
 *
 * Every option is one row of opt_table: its spelling, the kind of value it
 * takes and where the value goes (an offset into struct serve_opts, or a
 * service index plus an offset into struct svc_opts).  Parsing, range
 * checks and the --help text are all driven by that table, so an option
 * cannot be accepted without being documented or the other way round.
 *
 * The environment is never read here: the caller passes MAIL_CMD_LINE as
 * env_cmdline and fills mailroot from MAIL_ROOT and pid_dir from
 * XMAIL_PID_DIR itself, which keeps this file testable.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/compat.h"
#include "config/options.h"

#define OPT_GLOBAL	(-1)		/* target is in struct serve_opts */
#define TIMEOUT_MAX	86400		/* one day: sane bound on timeouts */
#define BUFSIZE_MAX	(16 * 1024 * 1024)	/* -MR/-MS upper bound */
#define USAGE_COL	18		/* description column in --help */
#define USAGE_WIDTH	79		/* longest --help line */

enum opt_kind {
	OPT_BOOL,		/* no value: store `value` in a bool */
	OPT_RESOLVE,		/* no value: store `value` in resolve */
	OPT_INT,		/* decimal min..max, then `round` */
	OPT_BIND,		/* ip[:port], appended to svc.bind[] */
	OPT_STR,		/* string copied into a char array */
};

enum opt_round {
	ROUND_NONE,
	ROUND_PRIME,		/* up to the next prime (-Mx) */
	ROUND_KB,		/* up to a multiple of 1024 (-MR, -MS) */
};

struct opt_def {
	const char	*name;		/* "-Sp", "--loops" */
	enum opt_kind	 kind;
	int		 svc;		/* SVC_* or OPT_GLOBAL */
	size_t		 off;		/* offset in serve_opts or svc_opts */
	size_t		 size;		/* size of the target member */
	long		 min, max;	/* OPT_INT range */
	int		 value;		/* OPT_BOOL/OPT_RESOLVE value */
	enum opt_round	 round;		/* OPT_INT post-processing */
	const char	*arg;		/* value name in messages and help */
	const char	*help;		/* one-line description */
};

/* Targets: a serve_opts member, or member f of service s. */
#define G(f)	OPT_GLOBAL, offsetof(struct serve_opts, f), \
		    sizeof(((struct serve_opts *)0)->f)
#define V(s, f)	s, offsetof(struct svc_opts, f), \
		    sizeof(((struct svc_opts *)0)->f)

#define FLAG(n, t, v, h)	{ n, OPT_BOOL, t, 0, 0, v, ROUND_NONE, NULL, h }
#define RESOLVE(n, v, h) \
	{ n, OPT_RESOLVE, G(resolve), 0, 0, v, ROUND_NONE, NULL, h }
#define INT(n, t, lo, hi, a, h)	{ n, OPT_INT, t, lo, hi, 0, ROUND_NONE, a, h }
#define INTR(n, t, lo, hi, r, a, h) \
	{ n, OPT_INT, t, lo, hi, 0, r, a, h }
#define BIND(n, s, h) \
	{ n, OPT_BIND, V(s, bind), 0, 0, 0, ROUND_NONE, "ip[:port]", h }
#define STR(n, t, a, h)		{ n, OPT_STR, t, 0, 0, 0, ROUND_NONE, a, h }

/* Rows in the order of the manual's COMMAND LINE section. */
static const struct opt_def opt_table[] = {
	/* [XMAIL] */
	STR("-Ms", G(mailroot), "path", "mail root (default $MAIL_ROOT)"),
	FLAG("-Md", G(debug), true, "debug (verbose) mode"),
	INT("-Mr", G(rotate_hours), 0, 8760, "hours",
	    "log rotation step, 0 = never"),
	INTR("-Mx", G(split), 1, 1000, ROUND_PRIME, "split",
	    "queue split level, rounded up to a prime"),
	INTR("-MR", G(rcvbuf), 0, BUFSIZE_MAX, ROUND_KB, "bytes",
	    "socket receive buffer, 0 = system, rounded up to 1K"),
	INTR("-MS", G(sndbuf), 0, BUFSIZE_MAX, ROUND_KB, "bytes",
	    "socket send buffer, 0 = system, rounded up to 1K"),
	FLAG("-MM", G(maildir), true, "Maildir delivery"),
	FLAG("-Mm", G(maildir), false, "mailbox delivery"),
	INT("-MD", G(dns_cache_dirs), 1, 10000, "ndirs",
	    "DNS cache subdirectories"),
	RESOLVE("-M4", RESOLVE_V4, "resolve IPv4 records only"),
	RESOLVE("-M6", RESOLVE_V6, "resolve IPv6 records only"),
	RESOLVE("-M5", RESOLVE_V4_V6, "resolve IPv4 records, else IPv6"),
	RESOLVE("-M7", RESOLVE_V6_V4, "resolve IPv6 records, else IPv4"),

	/* [POP3] */
	FLAG("-P-", V(SVC_POP3, disabled), true, "disable the POP3 server"),
	FLAG("-P6", V(SVC_POP3, ipv6), true,
	    "bind [::] when no -PI is given"),
	INT("-Pp", V(SVC_POP3, port), 1, 65535, "port", "POP3 port"),
	INT("-Pt", V(SVC_POP3, timeout), 1, TIMEOUT_MAX, "timeout",
	    "POP3 idle timeout, seconds"),
	FLAG("-Pl", V(SVC_POP3, log), true, "POP3 logging"),
	INT("-Pw", G(pop3_login_delay), 0, 3600, "timeout",
	    "bad-login delay, seconds, doubled each time"),
	FLAG("-Ph", G(pop3_hang), true, "hang the connection on a bad login"),
	BIND("-PI", SVC_POP3, "POP3 listen address"),
	INT("-PX", V(SVC_POP3, max_sessions), 1, 100000, "nthreads",
	    "maximum POP3 sessions"),

	/* [POP3S] */
	FLAG("-B-", V(SVC_POP3S, disabled), true, "disable the POP3S server"),
	FLAG("-B6", V(SVC_POP3S, ipv6), true,
	    "bind [::] when no -BI is given"),
	INT("-Bp", V(SVC_POP3S, port), 1, 65535, "port", "POP3S port"),
	BIND("-BI", SVC_POP3S, "POP3S listen address"),

	/* [SMTP] */
	FLAG("-S-", V(SVC_SMTP, disabled), true, "disable the SMTP server"),
	FLAG("-S6", V(SVC_SMTP, ipv6), true,
	    "bind [::] when no -SI is given"),
	INT("-Sp", V(SVC_SMTP, port), 1, 65535, "port", "SMTP port"),
	INT("-St", V(SVC_SMTP, timeout), 1, TIMEOUT_MAX, "timeout",
	    "SMTP idle timeout, seconds"),
	FLAG("-Sl", V(SVC_SMTP, log), true, "SMTP logging"),
	BIND("-SI", SVC_SMTP, "SMTP listen address"),
	INT("-SX", V(SVC_SMTP, max_sessions), 1, 100000, "nthreads",
	    "maximum SMTP sessions"),
	INT("-Sr", G(smtp_max_rcpt), 1, 100000, "maxrcpts",
	    "maximum recipients per message"),
	INT("-Se", G(smtp_pop3_expire), 0, 7 * TIMEOUT_MAX, "nsecs",
	    "POP3-before-SMTP IP expiry, seconds"),

	/* [SMTPS] */
	FLAG("-X-", V(SVC_SMTPS, disabled), true, "disable the SMTPS server"),
	FLAG("-X6", V(SVC_SMTPS, ipv6), true,
	    "bind [::] when no -XI is given"),
	INT("-Xp", V(SVC_SMTPS, port), 1, 65535, "port", "SMTPS port"),
	BIND("-XI", SVC_SMTPS, "SMTPS listen address"),

	/* postroom: message submission (RFC 6409), AUTH over TLS required */
	FLAG("-U-", V(SVC_SUBMIT, disabled), true,
	    "disable the submission server"),
	FLAG("-U6", V(SVC_SUBMIT, ipv6), true,
	    "bind [::] when no -UI is given"),
	INT("-Up", V(SVC_SUBMIT, port), 1, 65535, "port", "submission port"),
	BIND("-UI", SVC_SUBMIT, "submission listen address"),

	/* [SMAIL] */
	INT("-Qn", G(smail_threads), 1, 256, "nthreads", "mailer threads"),
	INT("-Qt", G(smail_retry), 1, TIMEOUT_MAX, "timeout",
	    "first retry delay, seconds"),
	INT("-Qi", G(smail_ratio), 0, 1000, "ratio",
	    "retry delay growth T += T/ratio, 0 = fixed"),
	INT("-Qr", G(smail_max_tries), 1, 1000, "nretries",
	    "maximum delivery attempts"),
	FLAG("-Ql", G(smail_log), true, "SMAIL logging"),
	INT("-QT", G(filter_timeout), 1, TIMEOUT_MAX, "timeout",
	    "filter command timeout, seconds"),
	FLAG("-Qg", G(filter_log), true, "filter logging"),

	/* [PSYNC] */
	FLAG("-Y-", G(psync_disabled), true, "disable PSYNC"),
	INT("-Yi", G(psync_interval), 0, TIMEOUT_MAX, "interval",
	    "sync interval, seconds, 0 = no PSYNC"),
	INT("-Yt", G(psync_threads), 1, 32, "nthreads", "PSYNC threads"),
	INT("-YT", G(psync_timeout), 1, TIMEOUT_MAX, "nsec",
	    "POP3 client timeout, seconds"),
	FLAG("-Yl", G(psync_log), true, "PSYNC logging"),

	/* [FINGER] */
	FLAG("-F-", V(SVC_FINGER, disabled), true, "disable the FINGER server"),
	FLAG("-F6", V(SVC_FINGER, ipv6), true,
	    "bind [::] when no -FI is given"),
	INT("-Fp", V(SVC_FINGER, port), 1, 65535, "port", "FINGER port"),
	FLAG("-Fl", V(SVC_FINGER, log), true, "FINGER logging"),
	BIND("-FI", SVC_FINGER, "FINGER listen address"),

	/* [CTRL] */
	FLAG("-C-", V(SVC_CTRL, disabled), true, "disable the CTRL server"),
	FLAG("-C6", V(SVC_CTRL, ipv6), true,
	    "bind [::] when no -CI is given"),
	INT("-Cp", V(SVC_CTRL, port), 1, 65535, "port", "CTRL port"),
	INT("-Ct", V(SVC_CTRL, timeout), 1, TIMEOUT_MAX, "timeout",
	    "CTRL idle timeout, seconds"),
	FLAG("-Cl", V(SVC_CTRL, log), true, "CTRL logging"),
	BIND("-CI", SVC_CTRL, "CTRL listen address"),
	INT("-CX", V(SVC_CTRL, max_sessions), 1, 100000, "nthreads",
	    "maximum CTRL sessions"),

	/* [CTRLS] */
	FLAG("-W-", V(SVC_CTRLS, disabled), true, "disable the CTRLS server"),
	FLAG("-W6", V(SVC_CTRLS, ipv6), true,
	    "bind [::] when no -WI is given"),
	INT("-Wp", V(SVC_CTRLS, port), 1, 65535, "port", "CTRLS port"),
	BIND("-WI", SVC_CTRLS, "CTRLS listen address"),

	/* [LMAIL] */
	INT("-Ln", G(lmail_threads), 1, 17, "nthreads",
	    "local mailer threads"),
	INT("-Lt", G(lmail_sleep), 1, TIMEOUT_MAX, "timeout",
	    "local mailer sleep, seconds"),
	FLAG("-Ll", G(lmail_log), true, "local mail logging"),

	/* postroom extensions */
	INT("--loops", G(loops), 0, 256, "N",
	    "event-loop threads, 0 = one per CPU"),
	INT("--workers", G(workers), 1, 256, "N", "worker threads"),
	STR("--user", G(user), "NAME",
	    "drop privileges to NAME (default: keep)"),
	STR("--pid-file", G(pid_file), "PATH",
	    "PID file (default: in $XMAIL_PID_DIR)"),
};

/* --help sections: rows whose name starts with "-<letter>". */
static const struct opt_group {
	char		 letter;	/* name[1] of the rows; '-' = long */
	const char	*title;
} opt_groups[] = {
	{ 'M', "XMAIL" }, { 'P', "POP3" }, { 'B', "POP3S" },
	{ 'S', "SMTP" }, { 'X', "SMTPS" }, { 'U', "SUBMISSION (postroom)" },
	{ 'Q', "SMAIL" },
	{ 'Y', "PSYNC" }, { 'F', "FINGER" }, { 'C', "CTRL" },
	{ 'W', "CTRLS" }, { 'L', "LMAIL" }, { '-', "postroom" },
};

/* Per-service defaults (XMAIL-FACTS section 7). */
static const struct svc_def {
	const char	*name;
	char		 letter;
	int		 port;
	int		 timeout;
	int		 max_sessions;
} svc_defs[SVC_COUNT] = {
	[SVC_SMTP] =	{ "smtp", 'S', 25, 90, 1024 },
	[SVC_SMTPS] =	{ "smtps", 'X', 465, 90, 1024 },
	[SVC_SUBMIT] =	{ "submission", 'U', 587, 90, 1024 },
	[SVC_POP3] =	{ "pop3", 'P', 110, 90, 1024 },
	[SVC_POP3S] =	{ "pop3s", 'B', 995, 90, 1024 },
	[SVC_FINGER] =	{ "finger", 'F', 79, 90, 64 },
	[SVC_CTRL] =	{ "ctrl", 'C', 6017, 120, 512 },
	[SVC_CTRLS] =	{ "ctrls", 'W', 6018, 120, 512 },
};

/* options_defaults - XMail 1.27 defaults (XMAIL-FACTS section 7) */
void
options_defaults(struct serve_opts *o)
{
	size_t i;

	memset(o, 0, sizeof(*o));
	o->rotate_hours = 24;
	o->split = 23;
	o->maildir = true;
	o->dns_cache_dirs = 101;
	o->resolve = RESOLVE_V4;
	for (i = 0; i < SVC_COUNT; i++) {
		o->svc[i].name = svc_defs[i].name;
		o->svc[i].letter = svc_defs[i].letter;
		o->svc[i].port = svc_defs[i].port;
		o->svc[i].timeout = svc_defs[i].timeout;
		o->svc[i].max_sessions = svc_defs[i].max_sessions;
	}
	o->pop3_login_delay = 5;
	o->smtp_max_rcpt = 100;
	o->smtp_pop3_expire = 900;
	o->smail_threads = 16;
	o->smail_retry = 480;
	o->smail_ratio = 16;
	o->smail_max_tries = 32;
	o->filter_timeout = 90;
	o->psync_interval = 120;
	o->psync_threads = 8;
	o->psync_timeout = 120;
	o->lmail_threads = 3;
	o->lmail_sleep = 2;
	o->loops = 0;
	o->workers = 4;
}

/* opt_err - format the one-line error message */
static void __attribute__((format(printf, 3, 4)))
opt_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* opt_target - address of the member a row writes, checked by size */
static void *
opt_target(struct serve_opts *o, const struct opt_def *d, size_t want)
{
	char *base;

	/* XXX: abort() rather than fatalx() keeps this file free of log.c. */
	if (want != 0 && d->size != want)
		abort();
	if (d->svc == OPT_GLOBAL)
		base = (char *)o;
	else
		base = (char *)&o->svc[d->svc];
	return base + d->off;
}

/*
 * opt_find - the row for word `w`, and in *val its attached value (the
 * text after "-Xy" or after "--long="), NULL if none.  NULL if unknown.
 */
static const struct opt_def *
opt_find(const char *w, const char **val)
{
	const struct opt_def *d;
	size_t i, n;

	for (i = 0; i < nitems(opt_table); i++) {
		d = &opt_table[i];
		n = strlen(d->name);
		if (strncmp(w, d->name, n) != 0)
			continue;
		if (w[n] == '\0') {
			*val = NULL;
			return d;
		}
		if (d->name[1] != '-') {
			*val = w + n;
			return d;
		}
		if (w[n] == '=') {
			*val = w + n + 1;
			return d;
		}
	}
	return NULL;
}

/* parse_decimal - strict unsigned decimal: digits only, no sign/space */
static int
parse_decimal(const char *s, long *v)
{
	const char *p;
	char *end;

	if (*s == '\0')
		return -1;
	for (p = s; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	*v = strtol(s, &end, 10);
	if (errno == ERANGE || *end != '\0')
		return -1;
	return 0;
}

/* is_prime - trial division; n is small (-Mx <= 1000) */
static bool
is_prime(long n)
{
	long d;

	if (n < 2)
		return false;
	for (d = 2; d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}

/* opt_set_int - range-check, round and store an integer value */
static int
opt_set_int(struct serve_opts *o, const struct opt_def *d, const char *val,
    char *err, size_t errlen)
{
	long v;

	if (parse_decimal(val, &v) == -1 || v < d->min || v > d->max) {
		opt_err(err, errlen, "option %s: %s must be %ld..%ld, got '%s'",
		    d->name, d->arg, d->min, d->max, val);
		return -1;
	}
	switch (d->round) {
	case ROUND_PRIME:
		/* Manual: "the lower prime number higher or equal". */
		while (!is_prime(v))
			v++;
		break;
	case ROUND_KB:
		v = (v + 1023) / 1024 * 1024;
		break;
	case ROUND_NONE:
		break;
	}
	*(int *)opt_target(o, d, sizeof(int)) = (int)v;
	return 0;
}

/* bind_store - fill ss from a numeric address and port (host order) */
static int
bind_store(const char *host, bool v4, bool v6, long port,
    struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (v4 && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
		return 0;
	}
	if (v6 && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

/*
 * bind_split - split "1.2.3.4[:port]", "::1" or "[::1][:port]" into a host
 * (copied to host[hostsz]) and a port string (*port, NULL if absent), and
 * say which families the host may be.  -1 with a message on bad syntax.
 */
static int
bind_split(const struct opt_def *d, const char *val, char *host,
    size_t hostsz, const char **port, bool *v4, bool *v6, char *err,
    size_t errlen)
{
	const char *h = val, *end, *colon;

	*port = NULL;
	*v4 = *v6 = true;
	if (*val == '[') {
		h = val + 1;
		if ((end = strchr(h, ']')) == NULL) {
			opt_err(err, errlen, "option %s: missing ']' in '%s'",
			    d->name, val);
			return -1;
		}
		if (end[1] == ':')
			*port = end + 2;
		else if (end[1] != '\0') {
			opt_err(err, errlen, "option %s: junk after ']' in "
			    "'%s'", d->name, val);
			return -1;
		}
		*v4 = false;		/* brackets are for IPv6 only */
	} else if ((colon = strchr(val, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		end = colon;		/* one colon: IPv4:port */
		*port = colon + 1;
		*v6 = false;
	} else
		end = val + strlen(val);	/* bare IPv4 or IPv6 */
	if ((size_t)(end - h) >= hostsz)
		end = h;		/* too long to be an address */
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = '\0';
	return 0;
}

/* opt_add_bind - parse ip[:port] and append it to the service's binds */
static int
opt_add_bind(struct serve_opts *o, const struct opt_def *d, const char *val,
    char *err, size_t errlen)
{
	struct svc_opts *s = &o->svc[d->svc];
	char host[INET6_ADDRSTRLEN];
	const char *port;
	bool v4, v6;
	long p = 0;

	if (s->nbind >= OPTIONS_BIND_MAX) {
		opt_err(err, errlen, "option %s: at most %d addresses, "
		    "'%s' is one too many", d->name, OPTIONS_BIND_MAX, val);
		return -1;
	}
	if (bind_split(d, val, host, sizeof(host), &port, &v4, &v6, err,
	    errlen) == -1)
		return -1;
	if (port != NULL && (parse_decimal(port, &p) == -1 || p < 1 ||
	    p > 65535)) {
		opt_err(err, errlen, "option %s: port must be 1..65535, "
		    "got '%s'", d->name, port);
		return -1;
	}
	if (bind_store(host, v4, v6, p, &s->bind[s->nbind],
	    &s->bindlen[s->nbind]) == -1) {
		opt_err(err, errlen, "option %s: '%s' is not a numeric %s "
		    "address (host names are not resolved)", d->name, val,
		    v4 && v6 ? "IPv4 or IPv6" : v4 ? "IPv4" : "IPv6");
		return -1;
	}
	s->nbind++;
	return 0;
}

/* opt_apply - store the value of one option */
static int
opt_apply(struct serve_opts *o, const struct opt_def *d, const char *val,
    char *err, size_t errlen)
{
	switch (d->kind) {
	case OPT_BOOL:
		*(bool *)opt_target(o, d, sizeof(bool)) = d->value != 0;
		return 0;
	case OPT_RESOLVE:
		o->resolve = (enum resolve_mode)d->value;
		return 0;
	case OPT_INT:
		return opt_set_int(o, d, val, err, errlen);
	case OPT_BIND:
		return opt_add_bind(o, d, val, err, errlen);
	case OPT_STR:
		if (*val == '\0') {
			opt_err(err, errlen, "option %s: empty %s", d->name,
			    d->arg);
			return -1;
		}
		if (!str_copy(opt_target(o, d, 0), val, d->size)) {
			opt_err(err, errlen, "option %s: %s longer than %zu "
			    "bytes", d->name, d->arg, d->size - 1);
			return -1;
		}
		return 0;
	}
	abort();		/* XXX: fatalx(), see opt_target */
}

/*
 * opt_one - handle the option in vec[*i], taking its value from the next
 * word when it is not attached; *i is left on the last word used.
 */
static int
opt_one(struct serve_opts *o, int n, char *const vec[], int *i, char *err,
    size_t errlen)
{
	const struct opt_def *d;
	const char *w = vec[*i], *val;

	if (w[0] != '-' || w[1] == '\0') {
		opt_err(err, errlen, "unexpected argument '%s'", w);
		return -1;
	}
	if ((d = opt_find(w, &val)) == NULL) {
		opt_err(err, errlen, "unknown option '%s'", w);
		return -1;
	}
	if (d->arg == NULL) {
		if (val != NULL) {
			opt_err(err, errlen, "option %s takes no value, got "
			    "'%s'", d->name, w);
			return -1;
		}
		return opt_apply(o, d, NULL, err, errlen);
	}
	if (val == NULL) {
		/* A separate value never looks like an option. */
		if (*i + 1 >= n || (vec[*i + 1][0] == '-' &&
		    vec[*i + 1][1] != '\0')) {
			opt_err(err, errlen, "option %s: missing value (%s)",
			    d->name, d->arg);
			return -1;
		}
		val = vec[++*i];
	}
	return opt_apply(o, d, val, err, errlen);
}

/*
 * env_words - split a copy of s on spaces and tabs (no quoting) into
 * vec[first..]; returns the new word count.  vec must have room for
 * first + strlen(s) / 2 + 1 entries.
 */
static int
env_words(char *s, char **vec, int first)
{
	int n = first;
	char *w, *save;

	for (w = strtok_r(s, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save))
		vec[n++] = w;
	return n;
}

/* options_parse - parse argv, then the MAIL_CMD_LINE words */
int
options_parse(struct serve_opts *o, int argc, char *const argv[],
    const char *env_cmdline, char *err, size_t errlen)
{
	char **vec, *copy = NULL, msg[512];
	size_t max = (size_t)argc + 1;
	int i, start, n = argc, rc = 0;

	if (env_cmdline != NULL) {
		max += strlen(env_cmdline) / 2 + 1;
		if ((copy = strdup(env_cmdline)) == NULL) {
			opt_err(err, errlen, "out of memory");
			return -1;
		}
	}
	if ((vec = calloc(max, sizeof(*vec))) == NULL) {
		free(copy);
		opt_err(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < argc; i++)
		vec[i] = argv[i];
	if (copy != NULL)
		n = env_words(copy, vec, argc);
	for (i = 0; i < n && rc == 0; i++) {
		start = i;
		rc = opt_one(o, n, vec, &i, msg, sizeof(msg));
		if (rc == -1)
			opt_err(err, errlen, "%s%s", start >= argc ?
			    "MAIL_CMD_LINE: " : "", msg);
	}
	free(vec);
	free(copy);
	return rc;
}

/* Static --help text, built on the first options_usage() call. */
static char usage_text[16384];
static size_t usage_len;

/* usage_add - append formatted text to usage_text (truncates silently) */
static void __attribute__((format(printf, 1, 2)))
usage_add(const char *fmt, ...)
{
	va_list ap;
	int r;

	if (usage_len >= sizeof(usage_text) - 1)
		return;
	va_start(ap, fmt);
	r = vsnprintf(usage_text + usage_len, sizeof(usage_text) - usage_len,
	    fmt, ap);
	va_end(ap);
	if (r > 0)
		usage_len += (size_t)r;
	if (usage_len > sizeof(usage_text) - 1)
		usage_len = sizeof(usage_text) - 1;
}

/* usage_suffix - "(lo..hi, default N)" style tail of a row, or "" */
static void
usage_suffix(const struct opt_def *d, char *buf, size_t len)
{
	struct serve_opts def;

	options_defaults(&def);
	buf[0] = '\0';
	switch (d->kind) {
	case OPT_BOOL:
		if (*(bool *)opt_target(&def, d, sizeof(bool)) == d->value)
			snprintf(buf, len, "(default)");
		break;
	case OPT_RESOLVE:
		if ((int)def.resolve == d->value)
			snprintf(buf, len, "(default)");
		break;
	case OPT_INT:
		snprintf(buf, len, "(%ld..%ld, default %d)", d->min, d->max,
		    *(int *)opt_target(&def, d, sizeof(int)));
		break;
	case OPT_BIND:
		snprintf(buf, len, "(repeatable, at most %d)",
		    OPTIONS_BIND_MAX);
		break;
	case OPT_STR:
		break;
	}
}

/* usage_row - one option: name, value, description, range/default */
static void
usage_row(const struct opt_def *d)
{
	char left[64], tail[64];
	size_t width;

	snprintf(left, sizeof(left), "%s%s%s", d->name, d->arg ? " " : "",
	    d->arg ? d->arg : "");
	usage_suffix(d, tail, sizeof(tail));
	width = USAGE_COL + strlen(d->help) + 1 + strlen(tail);
	if (strlen(left) >= USAGE_COL - 2) {
		usage_add("  %s\n", left);	/* description goes below */
		left[0] = '\0';
	}
	if (tail[0] == '\0')
		usage_add("  %-*s%s\n", USAGE_COL - 2, left, d->help);
	else if (width <= USAGE_WIDTH)
		usage_add("  %-*s%s %s\n", USAGE_COL - 2, left, d->help, tail);
	else
		usage_add("  %-*s%s\n%*s%s\n", USAGE_COL - 2, left, d->help,
		    USAGE_COL, "", tail);
}

/* options_usage - the grouped option summary, built from opt_table */
const char *
options_usage(void)
{
	size_t g, i;

	if (usage_len != 0)
		return usage_text;
	usage_add("usage: postroom serve [options]\n\n"
	    "Options are XMail 1.27's.  A value follows its option as the "
	    "next\nword (-Sp 25) or attached (-Sp25, --loops=4).  The words "
	    "of\n$MAIL_CMD_LINE are parsed after the command line.\n");
	for (g = 0; g < nitems(opt_groups); g++) {
		usage_add("\n[%s]\n", opt_groups[g].title);
		for (i = 0; i < nitems(opt_table); i++)
			if (opt_table[i].name[1] == opt_groups[g].letter)
				usage_row(&opt_table[i]);
	}
	usage_add("  %-*s%s\n", USAGE_COL - 2, "-h, --help",
	    "show this summary");
	return usage_text;
}
