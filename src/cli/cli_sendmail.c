/*
 * cli_sendmail.c - `postroom sendmail`: the sendmail(8) program of XMail.
 *
 * Reached as `postroom sendmail ...` or through a link named "sendmail".
 * It writes one local-mailer file (manual "XMAIL LOCAL MAILER"):
 *
 *	mail from:<sender>
 *	rcpt to:<recipient>		(one or more)
 *	<empty line>
 *	<message, CRLF lines>
 *
 * into MAIL_ROOT/spool/temp/<stime>-<seq>.<pid>.<host> (O_EXCL, 0600),
 * fsyncs it, renames it into spool/local/ and fsyncs that directory; the
 * server's local mailer spools it from there (docs/QUEUE.md T9).
 *
 * Behaviour follows XMail's SendMail.cpp and traditional sendmail:
 *  - -f sets the envelope sender (default: the login name at RootDomain
 *    of server.tab, else at the host name); "-f '<>'" gives a null sender.
 *    An address without '@' is qualified with that domain.
 *  - -t adds the To:, Cc: and Bcc: addresses (RFC 5322 3.4 address lists:
 *    display names, comments, groups, folded headers) to those given as
 *    arguments and in --rcpt-file.  Bcc: headers are always removed, as
 *    XMail does.
 *  - Date:, Message-ID: and From: ("-F name" as its display name) are
 *    added after the other headers when missing.  A first line that is no
 *    header field starts the body (XMail's "straight file"); a leading
 *    mbox "From " line is dropped.
 *  - Without -i (or -oi) a line "." alone ends standard input, with no
 *    unstuffing of other lines, as in sendmail.  Files named with
 *    --input-file/--xinput-file are read to their end.
 *
 * Differences from XMail, mostly to make mistakes visible: every address is
 * checked (RFC 5321 syntax, UTF-8 allowed) and a bad one fails the whole
 * message (XMail cut addresses out of text around an '@'); recipients
 * are de-duplicated; exit codes are sysexits(3); -bs, -bd, -bp and -q are
 * refused instead of being taken as recipients; the "." rule applies to
 * standard input only, files are read to their end; "-F name" is only a
 * display name (XMail also took a sender from "-F 'Name <addr>'").
 * --xinput-file accepts both XMail formats: a local-mailer file (its
 * envelope is used; -f and further recipients may be added; the message
 * is only converted to CRLF lines) and a spool file (the message after
 * <<MAIL-DATA>> is sent to the command-line envelope, as XMail did).
 */
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/rfcdate.h"
#include "core/tab.h"
#include "queue/queue_lmail.h"
#include "cli/cli.h"

#define SM_PREFIX	"postroom sendmail"
#define SM_MSG_MAX	((size_t)64 << 20)	/* largest message read */
#define SM_RCPT_MAX	100000		/* most recipients */
#define SM_ADDR_MAX	(ADDR_PATH_MAX * 2)	/* address buffers */
#define SM_HOST_MAX	64		/* host name bytes in file names */
#define SM_NAME_TRIES	1000		/* sequence numbers tried */
#define SM_RCPT_LINE_MAX	4096	/* longest --rcpt-file line */
#define SM_NAME_MAX	256		/* longest -F value */
#define SM_B64_CHUNK	45		/* UTF-8 bytes per encoded word */
#define SM_MAIL_KW	"mail from:"
#define SM_RCPT_KW	"rcpt to:"
#define SM_DATA_MARK	"<<MAIL-DATA>>"

/* The command line. */
struct sm_opts {
	const char	*from;		/* -f value, or NULL */
	const char	*fullname;	/* -F value */
	const char	*input;		/* --(x)input-file */
	bool		 xinput;	/* input is XMail format */
	const char	*rcptfile;	/* --rcpt-file */
	bool		 extract;	/* -t */
	bool		 nodots;	/* -i: read to the end */
	bool		 help;		/* -h, --help */
	int		 first;		/* argv index of recipients */
};

/* The envelope being built. */
struct sm_env {
	const char	*domain;	/* default domain */
	char		 login[SM_ADDR_MAX];	/* login@domain */
	char		 from[SM_ADDR_MAX];	/* sender, "" for <> */
	char		**rcpts;	/* addresses (malloc'ed) */
	size_t		 nrcpts, cap;
};

/* One header field of the message: raw bytes [off, end). */
struct sm_hdr {
	size_t	off;		/* first byte of the name */
	size_t	end;		/* after its last line end */
	size_t	namelen;	/* length of the field name */
};

/* A message split into header fields and body. */
struct sm_msg {
	const char	*p;		/* message */
	size_t		 len;
	struct sm_hdr	*h;		/* header fields (malloc'ed) */
	size_t		 nh, cap;
	size_t		 body;		/* offset of the body */
};

/* Address-list scanner state (RFC 5322 3.4). */
struct sm_scan {
	bool		 quoted;	/* inside a quoted-string */
	int		 depth;		/* comment nesting */
	bool		 angle;		/* inside <...> */
	bool		 bracket;	/* inside a domain literal [...] */
	bool		 group;		/* inside "name: ...;" */
	const char	*lt, *gt;	/* angle brackets of this item */
};

static const char sm_usage_text[] =
"usage: postroom sendmail [-ti] [-f sender] [-F full-name]\n"
"           [--input-file FILE | --xinput-file FILE] [--rcpt-file FILE]\n"
"           [--] [recipient ...]\n"
"       sendmail ... (the same, through a link named sendmail)\n"
"\n"
"Queue a message for the postroom server through its local mailer\n"
"($MAIL_ROOT/spool/local).  The message is read from standard input.\n"
"\n"
"  -f sender           envelope sender (default: login name at RootDomain);\n"
"                      -f '<>' gives a null sender\n"
"  -F full-name        display name for the From: header added when the\n"
"                      message has none\n"
"  -t                  also send to the To:, Cc: and Bcc: addresses\n"
"  -i, -oi             read to the end of input; without it a line \".\"\n"
"                      alone ends the message\n"
"  --input-file FILE   read the message from FILE (to its end)\n"
"  --xinput-file FILE  read an XMail file: a local-mailer file (mail from:,\n"
"                      rcpt to:, empty line, message) or a spool file\n"
"                      (the message after <<MAIL-DATA>>)\n"
"  --rcpt-file FILE    also send to the addresses in FILE, one per line\n"
"  -h, --help          show this help\n"
"\n"
"Addresses without '@' get @RootDomain.  Bcc: headers are removed; Date:,\n"
"Message-ID: and From: are added when missing.\n"
"Ignored: -oX, -bm, -B type, -N dsn, -R ret, -V envid, -X file, -L tag,\n"
"-O opt, -C file, -p proto, -v, -m, -n, -U, -G, -A.., -e.., -d..\n"
"Refused: -bs, -bd, -bp and other modes but -bm, -q (the server runs\n"
"the queue).\n"
"\n"
"Exit status: 0 queued, 64 usage, 65 bad address or message, 66 input\n"
"not readable, 71 out of memory, 73/74 spool error, 78 MAIL_ROOT unset\n"
"or not a MailRoot.\n";

/* sm_err - print "postroom sendmail: <message>" and return code */
static int
sm_err(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
sm_err(int code, const char *fmt, ...)
{
	va_list ap;

	fputs(SM_PREFIX ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/*
 * sm_optval - the value of option argv[*i]: attached ("-fx") or the next
 * argument ("-f x", which advances *i).  NULL when missing.
 */
static const char *
sm_optval(int argc, char **argv, int *i, size_t optlen)
{
	if (argv[*i][optlen] != '\0')
		return argv[*i] + optlen;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

/* sm_long - --input-file, --xinput-file, --rcpt-file (also "=FILE") */
static int
sm_long(int argc, char **argv, int *i, struct sm_opts *o)
{
	static const char *const names[] = { "--input-file", "--xinput-file",
	    "--rcpt-file" };
	const char *a = argv[*i], *v = NULL;
	size_t k, n;

	for (k = 0; k < nitems(names); k++) {
		n = strlen(names[k]);
		if (strncmp(a, names[k], n) != 0 ||
		    (a[n] != '\0' && a[n] != '='))
			continue;
		v = a[n] == '=' ? a + n + 1 : *i + 1 < argc ? argv[++*i] : NULL;
		if (v == NULL || *v == '\0')
			return sm_err(EX_USAGE, "%s needs a file name",
			    names[k]);
		if (k == 2)
			o->rcptfile = v;
		else {
			o->input = v;
			o->xinput = k == 1;
		}
		return 0;
	}
	return sm_err(EX_USAGE, "unknown option %s (see --help)", a);
}

/* sm_flags - a cluster of value-less flags such as "-ti"; 0 or -1 */
static int
sm_flags(const char *a, struct sm_opts *o)
{
	const char *p;

	if (a[1] == '\0' || strspn(a + 1, "timnvUG") != strlen(a + 1))
		return -1;
	for (p = a + 1; *p != '\0'; p++) {
		if (*p == 't')
			o->extract = true;
		else if (*p == 'i')
			o->nodots = true;
	}
	return 0;
}

/*
 * sm_short - one short option at argv[*i].  Returns 0, or an exit code.
 * Options sendmail scripts pass but that mean nothing here are ignored.
 */
static int
sm_short(int argc, char **argv, int *i, struct sm_opts *o)
{
	const char *a = argv[*i];

	switch (a[1]) {
	case 'f':
	case 'r':
		if ((o->from = sm_optval(argc, argv, i, 2)) == NULL)
			return sm_err(EX_USAGE, "-%c needs an address", a[1]);
		return 0;
	case 'F':
		if ((o->fullname = sm_optval(argc, argv, i, 2)) == NULL)
			return sm_err(EX_USAGE, "-F needs a name");
		return 0;
	case 'h':
		o->help = true;
		return 0;
	case 'o':
		if (strcmp(a, "-oi") == 0)
			o->nodots = true;
		return 0;
	case 'b':
		if (strcmp(a, "-bm") == 0)
			return 0;
		return sm_err(EX_USAGE, "mode %s is not supported: postroom"
		    " sendmail only queues a message (-bm)", a);
	case 'q':
		return sm_err(EX_USAGE, "%s is not supported: the postroom"
		    " server runs its queue itself", a);
	case 'B': case 'N': case 'R': case 'V': case 'X': case 'L':
	case 'O': case 'C': case 'p':
		if (sm_optval(argc, argv, i, 2) == NULL)
			return sm_err(EX_USAGE, "%s needs a value", a);
		return 0;
	case 'A': case 'e': case 'd':
		return 0;
	default:
		if (sm_flags(a, o) == 0)
			return 0;
		fprintf(stderr, SM_PREFIX ": ignoring unknown option %s\n", a);
		return 0;
	}
}

/* sm_args - parse the command line; 0 or an exit code */
static int
sm_args(int argc, char **argv, struct sm_opts *o)
{
	int i, r;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "--help") == 0) {
			o->help = true;
			continue;
		}
		r = a[1] == '-' ? sm_long(argc, argv, &i, o) :
		    sm_short(argc, argv, &i, o);
		if (r != 0)
			return r;
	}
	o->first = i;
	return 0;
}

/* sm_host - gethostname, "localhost" when unset */
static void
sm_host(char *out, size_t size)
{
	if (gethostname(out, size) == -1 || out[0] == '\0')
		(void)snprintf(out, size, "localhost");
	out[size - 1] = '\0';
}

/*
 * sm_domain - RootDomain of MailRoot/server.tab (the last definition, as
 * the server reads it), else the host name, else "localhost".
 */
static void
sm_domain(const char *mailroot, char *out, size_t size)
{
	char path[PATH_MAX];
	struct tab t;
	size_t i;

	out[0] = '\0';
	if (fs_path(path, sizeof(path), mailroot, "server.tab") == 0 &&
	    tab_load(path, &t) == 0) {
		for (i = 0; i < t.nrecs; i++) {
			if (t.recs[i].n >= 2 &&
			    strcmp(t.recs[i].f[0], "RootDomain") == 0 &&
			    addr_domain_ok(t.recs[i].f[1], true))
				(void)snprintf(out, size, "%s",
				    t.recs[i].f[1]);
		}
		tab_free(&t);
	}
	if (out[0] == '\0')
		sm_host(out, size);
	if (!addr_domain_ok(out, true))
		(void)snprintf(out, size, "localhost");
}

/* sm_has_at - s holds an '@' outside quoted strings */
static bool
sm_has_at(const char *s)
{
	bool q = false;

	for (; *s != '\0'; s++) {
		if (*s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '"')
			q = !q;
		else if (*s == '@' && !q)
			return true;
	}
	return false;
}

/*
 * sm_mailbox - check one address (no angle brackets) and write it to out
 * in canonical form, qualified with `domain` when it has no '@'.
 * Returns 0, or -1 after printing why (`what` names its source).
 */
static int
sm_mailbox(const char *s, const char *domain, char *out, size_t size,
    const char *what)
{
	char q[SM_ADDR_MAX];
	struct addr_path p;
	enum addr_err e;
	int n;

	n = sm_has_at(s) ? snprintf(q, sizeof(q), "%s", s) :
	    snprintf(q, sizeof(q), "%s@%s", s, domain);
	if (n < 0 || (size_t)n >= sizeof(q))
		e = ADDR_ERR_TOO_LONG;
	else
		e = addr_parse_mailbox(q, true, &p);
	if (e == ADDR_OK && addr_format(&p, out, size) == -1)
		e = ADDR_ERR_TOO_LONG;
	if (e != ADDR_OK) {
		(void)sm_err(0, "%s: invalid address \"%s\": %s", what, s,
		    addr_strerror(e));
		return -1;
	}
	return 0;
}

/* sm_rcpt_add - add a checked recipient (duplicates are dropped later) */
static int
sm_rcpt_add(struct sm_env *env, const char *addr)
{
	char **p;
	size_t ncap;

	if (env->nrcpts >= SM_RCPT_MAX) {
		(void)sm_err(0, "more than %d recipients", SM_RCPT_MAX);
		return -1;
	}
	if (env->nrcpts == env->cap) {
		ncap = env->cap == 0 ? 16 : env->cap * 2;
		if ((p = reallocarray(env->rcpts, ncap, sizeof(*p))) == NULL)
			goto nomem;
		env->rcpts = p;
		env->cap = ncap;
	}
	if ((env->rcpts[env->nrcpts] = strdup(addr)) == NULL)
		goto nomem;
	env->nrcpts++;
	return 0;
nomem:
	(void)sm_err(0, "out of memory");
	return -1;
}

/*
 * sm_strip - copy [p, p+n) without its comments and blanks (RFC 5322
 * CFWS), keeping quoted strings and domain literals.  CFWS may only stand
 * at the ends and next to '.' or '@' (obs-local-part, obs-domain): "a
 * b@c" stays invalid instead of becoming "ab@c".  Returns 0, or -1 when
 * it does not fit, is unbalanced or has CFWS inside a word.
 */
static int
sm_strip(const char *p, size_t n, char *out, size_t size)
{
	size_t i, o = 0;
	int depth = 0;
	bool q = false, gap = false;

	for (i = 0; i < n; i++) {
		char c = p[i];

		if (depth > 0) {
			if (c == '\\' && i + 1 < n)
				i++;
			else
				depth += c == '(' ? 1 : c == ')' ? -1 : 0;
			continue;
		}
		if (!q && (c == '(' || c == ' ' || c == '\t' || c == '\r' ||
		    c == '\n')) {
			depth = c == '(';
			gap = true;
			continue;
		}
		if (gap && !q && o > 0 && strchr(".@", out[o - 1]) == NULL &&
		    strchr(".@", c) == NULL)
			return -1;
		gap = false;
		if (o + 2 >= size)
			return -1;
		out[o++] = c;
		if (c == '\\' && q && i + 1 < n)
			out[o++] = p[++i];
		else if (c == '"')
			q = !q;
	}
	out[o] = '\0';
	return depth == 0 && !q ? 0 : -1;
}

/*
 * sm_item - one address of a list: the angle-addr when there is one
 * (display name dropped, source route dropped), else the addr-spec.
 * Only comments and blanks may follow the '>'.  An empty item (",,", an
 * empty group) is skipped.  Returns 0, or -1 after printing why.
 */
static int
sm_item(const char *p, size_t n, const struct sm_scan *sc,
    struct sm_env *env, const char *what)
{
	char a[SM_ADDR_MAX], out[SM_ADDR_MAX];
	const char *s, *end = p + n;

	if (sc->lt != NULL) {
		if (sm_strip(sc->gt + 1, (size_t)(end - sc->gt - 1), a,
		    sizeof(a)) == -1 || a[0] != '\0')
			goto bad;
		p = sc->lt + 1;
		n = (size_t)(sc->gt - p);
	}
	if (sm_strip(p, n, a, sizeof(a)) == -1)
		goto bad;
	s = a;
	if (a[0] == '@' && (s = strchr(a, ':')) != NULL)
		s++;			/* RFC 5322 4.4 obs-route */
	else
		s = a;
	if (*s == '\0') {
		if (sc->lt == NULL)
			return 0;
		(void)sm_err(0, "%s: empty address <>", what);
		return -1;
	}
	if (sm_mailbox(s, env->domain, out, sizeof(out), what) == -1)
		return -1;
	return sm_rcpt_add(env, out);
bad:
	(void)sm_err(0, "%s: bad address \"%.*s\"", what,
	    (int)(end - p > 200 ? 200 : end - p), p);
	return -1;
}

/*
 * sm_scan_char - advance the scanner over the character at *p (a quoted
 * pair moves *p one further).  Returns '<' or '>' outside quoted strings,
 * comments and domain literals, ',', ';' or ':' also outside <...>;
 * 0 for any other character.
 */
static char
sm_scan_char(struct sm_scan *sc, const char **p)
{
	char c = **p;

	if (sc->quoted || sc->depth > 0) {
		if (c == '\\' && (*p)[1] != '\0')
			(*p)++;
		else if (sc->quoted)
			sc->quoted = c != '"';
		else
			sc->depth += c == '(' ? 1 : c == ')' ? -1 : 0;
		return 0;
	}
	if (sc->bracket) {
		sc->bracket = c != ']';
		return 0;
	}
	switch (c) {
	case '"':
		sc->quoted = true;
		return 0;
	case '(':
		sc->depth = 1;
		return 0;
	case '[':
		sc->bracket = true;
		return 0;
	case '<':
	case '>':
		return c;
	case ',':
	case ';':
	case ':':
		return sc->angle ? 0 : c;
	default:
		return 0;
	}
}

/* sm_scan_open - input ended inside a construct */
static bool
sm_scan_open(const struct sm_scan *sc)
{
	return sc->angle || sc->quoted || sc->depth > 0 || sc->bracket;
}

/*
 * sm_addrlist - add every address of an RFC 5322 address-list (3.4: the
 * unfolded value of To:, Cc:, Bcc:, a --rcpt-file line or an argument).
 * Returns 0, or -1 after printing why.
 */
static int
sm_addrlist(const char *s, struct sm_env *env, const char *what)
{
	struct sm_scan sc;
	const char *item = s, *p;
	bool end;
	char c;

	memset(&sc, 0, sizeof(sc));
	for (p = s;; p++) {
		end = *p == '\0';
		c = end ? ',' : sm_scan_char(&sc, &p);
		if (c == '<') {
			if (sc.angle || sc.lt != NULL)
				goto bad;
			sc.lt = p;
			sc.angle = true;
		} else if (c == '>') {
			if (!sc.angle)
				goto bad;
			sc.gt = p;
			sc.angle = false;
		} else if (c == ':') {
			if (sc.group || sc.lt != NULL)
				goto bad;
			sc.group = true;	/* the group name is dropped */
			item = p + 1;
		} else if (c == ',' || c == ';') {
			if ((end && sm_scan_open(&sc)) ||
			    (c == ';' && !sc.group))
				goto bad;
			if (sm_item(item, (size_t)(p - item), &sc, env,
			    what) == -1)
				return -1;
			sc.group = sc.group && c == ',';
			item = p + 1;
			sc.lt = sc.gt = NULL;
		}
		if (end)
			return 0;
	}
bad:
	(void)sm_err(0, "%s: bad address list \"%.200s\"", what, s);
	return -1;
}

/*
 * sm_sender - the envelope sender: -f (qualified; "" or "<>" is the null
 * sender) or login@domain.  Also sets env->login.  0 or an exit code.
 */
static int
sm_sender(const struct sm_opts *o, struct sm_env *env)
{
	const struct passwd *pw = getpwuid(getuid());
	const char *user = pw != NULL ? pw->pw_name : getenv("USER");
	char a[SM_ADDR_MAX];
	size_t n;

	if (user == NULL || *user == '\0')
		user = "mail";
	if (sm_mailbox(user, env->domain, env->login, sizeof(env->login),
	    "login name") == -1)
		return EX_DATAERR;
	if (o->from == NULL) {
		memcpy(env->from, env->login, sizeof(env->from));
		return 0;
	}
	n = strlen(o->from);
	if (n >= 2 && o->from[0] == '<' && o->from[n - 1] == '>') {
		if (n - 2 >= sizeof(a))
			return sm_err(EX_DATAERR, "-f: address too long");
		memcpy(a, o->from + 1, n - 2);
		a[n - 2] = '\0';
	} else if (!str_copy(a, o->from, sizeof(a))) {
		return sm_err(EX_DATAERR, "-f: address too long");
	}
	if (a[0] == '\0') {
		env->from[0] = '\0';
		return 0;
	}
	if (sm_mailbox(a, env->domain, env->from, sizeof(env->from), "-f") ==
	    -1)
		return EX_DATAERR;
	return 0;
}

/* sm_rcptfile - add the addresses of --rcpt-file; 0 or an exit code */
static int
sm_rcptfile(const char *path, struct sm_env *env)
{
	char what[PATH_MAX + 32];
	size_t off = 0, n, lineno = 0;
	struct buf b, line;
	int rc = 0;

	buf_init(&b, SM_MSG_MAX);
	buf_init(&line, SM_RCPT_LINE_MAX);
	if (fs_read_file(path, &b) == -1) {
		rc = sm_err(errno == EFBIG ? EX_DATAERR : EX_NOINPUT,
		    "--rcpt-file %s: %s", path, strerror(errno));
		goto out;
	}
	while (rc == 0 && off < b.len) {
		lineno++;
		n = strcspn(b.data + off, "\n");
		buf_reset(&line);
		if (buf_append(&line, b.data + off, n) == -1) {
			rc = sm_err(EX_DATAERR, "%s:%zu: line too long", path,
			    lineno);
			break;
		}
		off += n + (off + n < b.len);
		while (line.len > 0 && strchr(" \t\r", line.data[line.len - 1]))
			line.data[--line.len] = '\0';
		if (line.len == 0 || line.data[0] == '#')
			continue;
		(void)snprintf(what, sizeof(what), "%s:%zu", path, lineno);
		if (strlen(line.data) != line.len)
			rc = sm_err(EX_DATAERR, "%s: NUL in line", what);
		else if (sm_addrlist(line.data, env, what) == -1)
			rc = EX_DATAERR;
	}
out:
	buf_clear(&b);
	buf_clear(&line);
	return rc;
}

/*
 * sm_envelope - sender, command-line recipients, --rcpt-file, and the -F
 * value checked.  0 or an exit code.
 */
static int
sm_envelope(const struct sm_opts *o, struct sm_env *env, int argc,
    char **argv)
{
	const char *f = o->fullname;
	int i, rc;

	if ((rc = sm_sender(o, env)) != 0)
		return rc;
	for (; f != NULL && *f != '\0'; f++) {
		if ((unsigned char)*f < 0x20 || *f == 0x7f)
			return sm_err(EX_DATAERR, "-F: control character");
	}
	if (o->fullname != NULL && strlen(o->fullname) > SM_NAME_MAX)
		return sm_err(EX_DATAERR, "-F: longer than %d bytes",
		    SM_NAME_MAX);
	for (i = o->first; i < argc; i++) {
		if (sm_addrlist(argv[i], env, "recipient") == -1)
			return EX_DATAERR;
	}
	if (o->rcptfile != NULL)
		return sm_rcptfile(o->rcptfile, env);
	return 0;
}

/* sm_too_big - the exit code for a failed append to the input buffer */
static int
sm_too_big(const struct buf *in, size_t n)
{
	if (in->len + n > in->max)
		return sm_err(EX_DATAERR, "message larger than %zu MiB",
		    in->max >> 20);
	return sm_err(EX_OSERR, "out of memory");
}

/* sm_is_dot - the line [p, p+n) is "." with its LF or CRLF */
static bool
sm_is_dot(const char *p, size_t n)
{
	return (n == 2 && memcmp(p, ".\n", 2) == 0) ||
	    (n == 3 && memcmp(p, ".\r\n", 3) == 0);
}

/*
 * sm_read - read fp into in, to its end or (dots) up to a line "." alone,
 * which is not kept.  0 or an exit code.
 */
static int
sm_read(FILE *fp, bool dots, struct buf *in, const char *what)
{
	char chunk[65536];
	size_t start = in->len, n;
	int c;

	while (!dots && (n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (buf_append(in, chunk, n) == -1)
			return sm_too_big(in, n);
	}
	while (dots && (c = getc_unlocked(fp)) != EOF) {
		if (buf_putc(in, c) == -1)
			return sm_too_big(in, 1);
		if (c != '\n')
			continue;
		if (sm_is_dot(in->data + start, in->len - start)) {
			in->len = start;
			in->data[start] = '\0';
			return 0;
		}
		start = in->len;
	}
	if (ferror(fp))
		return sm_err(EX_IOERR, "%s: %s", what, strerror(errno));
	if (dots && in->len - start == 1 && in->data[start] == '.') {
		in->len = start;
		in->data[start] = '\0';
	}
	return 0;
}

/* sm_input - read the message: --input-file, --xinput-file or stdin */
static int
sm_input(const struct sm_opts *o, struct buf *in)
{
	FILE *fp;
	int rc;

	if (o->input == NULL)
		return sm_read(stdin, !o->nodots, in, "standard input");
	if ((fp = fopen(o->input, "rb")) == NULL)
		return sm_err(EX_NOINPUT, "%s: %s", o->input, strerror(errno));
	rc = sm_read(fp, false, in, o->input);
	(void)fclose(fp);
	return rc;
}

/*
 * sm_line - the line at p[off]: *n bytes of content, ended by CRLF, LF, a
 * bare CR or the end of the data.  Returns the offset of the next line.
 */
static size_t
sm_line(const char *p, size_t len, size_t off, size_t *n)
{
	size_t i = off;

	while (i < len && p[i] != '\r' && p[i] != '\n')
		i++;
	*n = i - off;
	if (i < len && p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
		return i + 2;
	return i < len ? i + 1 : i;
}

/*
 * sm_crlf - append [p, p+n) with every line end made CRLF (CRLF, LF and
 * bare CR alike; a last line without an end gets one).  0 or -1.
 */
static int
sm_crlf(struct buf *out, const char *p, size_t n)
{
	size_t off = 0, next, len;

	while (off < n) {
		next = sm_line(p, n, off, &len);
		if (buf_append(out, p + off, len) == -1 ||
		    buf_append(out, "\r\n", 2) == -1)
			return -1;
		off = next;
	}
	return 0;
}

/* sm_field_name - length of the field name of a "Name: value" line, or 0 */
static size_t
sm_field_name(const char *p, size_t n)
{
	size_t i;

	/* RFC 5322 2.2: printable US-ASCII except ':'. */
	for (i = 0; i < n && p[i] > 32 && p[i] < 127 && p[i] != ':'; i++)
		;
	return i > 0 && i < n && p[i] == ':' ? i : 0;
}

/* sm_hdr_add - append one header field; 0 or -1 */
static int
sm_hdr_add(struct sm_msg *m, size_t off, size_t end, size_t namelen)
{
	struct sm_hdr *h;
	size_t ncap;

	if (m->nh == m->cap) {
		ncap = m->cap == 0 ? 32 : m->cap * 2;
		if ((h = reallocarray(m->h, ncap, sizeof(*h))) == NULL)
			return -1;
		m->h = h;
		m->cap = ncap;
	}
	m->h[m->nh++] = (struct sm_hdr){ off, end, namelen };
	return 0;
}

/*
 * sm_msg_parse - split the message into header fields (with their
 * continuation lines) and body.  The header section ends at an empty line
 * (skipped) or at the first line that is no field (kept as body).  A
 * leading mbox "From " line is dropped.  0 or -1 (memory).
 */
static int
sm_msg_parse(struct sm_msg *m, const char *p, size_t len)
{
	size_t off = 0, next, n, name;

	memset(m, 0, sizeof(*m));
	m->p = p;
	m->len = len;
	if (len >= 5 && memcmp(p, "From ", 5) == 0)
		off = sm_line(p, len, 0, &n);
	while (off < len) {
		next = sm_line(p, len, off, &n);
		if (n == 0) {
			off = next;
			break;
		}
		if ((p[off] == ' ' || p[off] == '\t') && m->nh > 0) {
			m->h[m->nh - 1].end = next;
		} else if ((name = sm_field_name(p + off, n)) > 0) {
			if (sm_hdr_add(m, off, next, name) == -1)
				return -1;
		} else {
			break;
		}
		off = next;
	}
	m->body = off;
	return 0;
}

/* sm_hdr_is - header h is named `name` (case-insensitive) */
static bool
sm_hdr_is(const struct sm_msg *m, const struct sm_hdr *h, const char *name)
{
	return h->namelen == strlen(name) &&
	    strncasecmp(m->p + h->off, name, h->namelen) == 0;
}

/*
 * sm_extract - -t: add the addresses of every To:, Cc: and Bcc: field,
 * unfolded (RFC 5322 2.2.3).  0 or an exit code.
 */
static int
sm_extract(const struct sm_msg *m, struct sm_env *env)
{
	const struct sm_hdr *h;
	char what[16];
	struct buf v;
	size_t i, k;
	int rc = 0;

	buf_init(&v, SM_MSG_MAX);
	for (i = 0; i < m->nh && rc == 0; i++) {
		h = &m->h[i];
		if (!sm_hdr_is(m, h, "To") && !sm_hdr_is(m, h, "Cc") &&
		    !sm_hdr_is(m, h, "Bcc"))
			continue;
		buf_reset(&v);
		for (k = h->off + h->namelen + 1; k < h->end; k++) {
			if (m->p[k] == '\0') {
				rc = sm_err(EX_DATAERR, "NUL in a %.*s: "
				    "header", (int)h->namelen, m->p + h->off);
				break;
			}
			if (m->p[k] != '\r' && m->p[k] != '\n' &&
			    buf_putc(&v, m->p[k]) == -1)
				rc = sm_err(EX_OSERR, "out of memory");
		}
		(void)snprintf(what, sizeof(what), "%.*s: header",
		    (int)h->namelen, m->p + h->off);
		if (rc == 0 && sm_addrlist(v.data, env, what) == -1)
			rc = EX_DATAERR;
	}
	buf_clear(&v);
	return rc;
}

/* sm_b64 - append the base64 (RFC 4648) of [p, p+n) */
static int
sm_b64(struct buf *out, const unsigned char *p, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	uint32_t v;
	size_t i;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = t[v >> 18];
		q[1] = t[(v >> 12) & 63];
		q[2] = i + 1 < n ? t[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? t[v & 63] : '=';
		if (buf_append(out, q, 4) == -1)
			return -1;
	}
	return 0;
}

/*
 * sm_words - a non-ASCII display name as RFC 2047 encoded words
 * ("=?UTF-8?B?...?="), split between UTF-8 characters and folded so no
 * word passes 75 characters.  0 or -1.
 */
static int
sm_words(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), k;

	while (n > 0) {
		k = n < SM_B64_CHUNK ? n : SM_B64_CHUNK;
		while (k < n && k > 0 && (p[k] & 0xc0) == 0x80)
			k--;		/* do not split a character */
		if (k == 0)
			k = n < SM_B64_CHUNK ? n : SM_B64_CHUNK;
		if (buf_puts(out, "=?UTF-8?B?") == -1 ||
		    sm_b64(out, p, k) == -1 || buf_puts(out, "?=") == -1)
			return -1;
		p += k;
		n -= k;
		if (n > 0 && buf_puts(out, "\r\n ") == -1)
			return -1;
	}
	return 0;
}

/*
 * sm_phrase - a display name (RFC 5322 3.2.5): as is when it is atoms
 * and blanks, else a quoted-string; encoded words for non-ASCII.  0 or -1.
 */
static int
sm_phrase(struct buf *out, const char *s)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~ ";
	const char *p;
	bool plain = true;

	for (p = s; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80)
			return sm_words(out, s);
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr(atext, *p) != NULL))
			plain = false;
	}
	if (plain && s[0] != ' ')
		return buf_puts(out, s);
	if (buf_putc(out, '"') == -1)
		return -1;
	for (p = s; *p != '\0'; p++) {
		if ((*p == '"' || *p == '\\') && buf_putc(out, '\\') == -1)
			return -1;
		if (buf_putc(out, *p) == -1)
			return -1;
	}
	return buf_putc(out, '"');
}

/* sm_add_headers - From:, Date:, Message-ID: when missing; 0 or -1 */
static int
sm_add_headers(struct buf *out, const struct sm_msg *m,
    const struct sm_opts *o, const struct sm_env *env)
{
	bool from = false, date = false, msgid = false;
	char d[RFCDATE_MAX];
	uint64_t r = 0;
	size_t i;

	for (i = 0; i < m->nh; i++) {
		from = from || sm_hdr_is(m, &m->h[i], "From");
		date = date || sm_hdr_is(m, &m->h[i], "Date");
		msgid = msgid || sm_hdr_is(m, &m->h[i], "Message-ID");
	}
	if (!from) {
		if (buf_puts(out, "From: ") == -1 ||
		    (o->fullname != NULL && o->fullname[0] != '\0' &&
		    (sm_phrase(out, o->fullname) == -1 ||
		    buf_putc(out, ' ') == -1)) ||
		    buf_printf(out, "<%s>\r\n", env->from[0] != '\0' ?
		    env->from : env->login) == -1)
			return -1;
	}
	if (!date && buf_printf(out, "Date: %s\r\n",
	    rfcdate(time(NULL), d, sizeof(d))) == -1)
		return -1;
	if (!msgid) {
		if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
			r ^= (uint64_t)clock() << 20 ^ (uint64_t)getpid();
		if (buf_printf(out, "Message-ID: <%lld.%lx.%016llx@%s>\r\n",
		    (long long)time(NULL), (unsigned long)getpid(),
		    (unsigned long long)r, env->domain) == -1)
			return -1;
	}
	return 0;
}

/*
 * sm_build - the message to queue: its header fields less Bcc:, the
 * added ones, an empty line, the body; all lines CRLF.  With -t the
 * recipients are taken from the headers first.  0 or an exit code.
 */
static int
sm_build(const char *p, size_t len, const struct sm_opts *o,
    struct sm_env *env, struct buf *out)
{
	const struct sm_hdr *h;
	struct sm_msg m;
	size_t i;
	int rc = 0;

	if (sm_msg_parse(&m, p, len) == -1) {
		rc = sm_err(EX_OSERR, "out of memory");
		goto out;
	}
	if (o->extract && (rc = sm_extract(&m, env)) != 0)
		goto out;
	for (i = 0; i < m.nh; i++) {
		h = &m.h[i];
		if (!sm_hdr_is(&m, h, "Bcc") &&
		    sm_crlf(out, p + h->off, h->end - h->off) == -1)
			goto big;
	}
	if (sm_add_headers(out, &m, o, env) == -1 ||
	    buf_puts(out, "\r\n") == -1 ||
	    sm_crlf(out, p + m.body, len - m.body) == -1)
		goto big;
	goto out;
big:
	rc = sm_err(EX_DATAERR, "message too large");
out:
	free(m.h);
	return rc;
}

/*
 * sm_xenv_addr - the address of a local-mailer envelope line (after its
 * keyword: blanks, <path>, blanks) into out.  0 or -1 (printed).
 */
static int
sm_xenv_addr(const char *line, bool allow_null, char *out, size_t size,
    const char *what)
{
	struct addr_path a;
	const char *end;
	enum addr_err e;

	line += strspn(line, " \t");
	e = addr_parse_path(line, allow_null, true, &a, &end);
	if (e == ADDR_OK && end[strspn(end, " \t")] != '\0')
		e = ADDR_ERR_SYNTAX;
	if (e == ADDR_OK && addr_format(&a, out, size) == -1)
		e = ADDR_ERR_TOO_LONG;
	if (e != ADDR_OK) {
		(void)sm_err(0, "%s: bad envelope line \"%.200s\": %s", what,
		    line, addr_strerror(e));
		return -1;
	}
	return 0;
}

/*
 * sm_xlocal - a local-mailer file (--xinput-file): take its envelope
 * (the sender unless -f was given), return the offset of the message.
 * Returns 0 or an exit code.
 */
static int
sm_xlocal(const struct buf *in, const struct sm_opts *o, struct sm_env *env,
    size_t *body)
{
	char line[SM_RCPT_LINE_MAX], a[SM_ADDR_MAX];
	size_t off = 0, next, n, k = 0;

	for (;; k++) {
		if (off >= in->len)
			return sm_err(EX_DATAERR, "%s: no empty line after "
			    "the envelope", o->input);
		next = sm_line(in->data, in->len, off, &n);
		if (n >= sizeof(line) ||
		    memchr(in->data + off, '\0', n) != NULL)
			return sm_err(EX_DATAERR, "%s: bad envelope line",
			    o->input);
		memcpy(line, in->data + off, n);
		line[n] = '\0';
		off = next;
		if (n == 0 && k >= 1)
			break;
		if (k == 0 && strncasecmp(line, SM_MAIL_KW, 10) == 0) {
			if (sm_xenv_addr(line + 10, true, a, sizeof(a),
			    o->input) == -1)
				return EX_DATAERR;
			if (o->from == NULL)
				memcpy(env->from, a, sizeof(env->from));
		} else if (k > 0 && strncasecmp(line, SM_RCPT_KW, 8) == 0) {
			if (sm_xenv_addr(line + 8, false, a, sizeof(a),
			    o->input) == -1 || sm_rcpt_add(env, a) == -1)
				return EX_DATAERR;
		} else {
			return sm_err(EX_DATAERR, "%s: bad envelope line "
			    "\"%.200s\"", o->input, line);
		}
	}
	*body = off;
	return 0;
}

/*
 * sm_xinput - --xinput-file: a local-mailer file (passed through with its
 * envelope) or an XMail spool file (the message after <<MAIL-DATA>> is
 * sent as an RFC message, as XMail did).  0 or an exit code.
 */
static int
sm_xinput(const struct buf *in, const struct sm_opts *o, struct sm_env *env,
    struct buf *out)
{
	size_t off = 0, next, n, body = 0;
	int rc;

	if (in->len >= 10 && strncasecmp(in->data, SM_MAIL_KW, 10) == 0) {
		if ((rc = sm_xlocal(in, o, env, &body)) != 0)
			return rc;
		if (sm_crlf(out, in->data + body, in->len - body) == -1)
			return sm_err(EX_DATAERR, "message too large");
		return 0;
	}
	while (off < in->len) {
		next = sm_line(in->data, in->len, off, &n);
		if (n == strlen(SM_DATA_MARK) &&
		    memcmp(in->data + off, SM_DATA_MARK, n) == 0)
			return sm_build(in->data + next, in->len - next, o,
			    env, out);
		off = next;
	}
	return sm_err(EX_DATAERR, "%s: not an XMail file (no \"mail from:\" "
	    "line, no %s line)", o->input, SM_DATA_MARK);
}

/* sm_rcpt_ord - one recipient with its position, for de-duplication */
struct sm_rcpt_ord {
	const char	*a;
	size_t		 i;
};

/* sm_rcpt_cmp - by address (case-insensitive), then position (qsort) */
static int
sm_rcpt_cmp(const void *x, const void *y)
{
	const struct sm_rcpt_ord *a = x, *b = y;
	int c = strcasecmp(a->a, b->a);

	if (c != 0)
		return c;
	return a->i < b->i ? -1 : a->i > b->i;
}

/*
 * sm_envtext - the envelope lines of the local-mailer file, each
 * recipient once (the first spelling wins).  0 or an exit code.
 */
static int
sm_envtext(const struct sm_env *env, struct buf *out)
{
	struct sm_rcpt_ord *ord;
	bool *dup;
	size_t i;
	int rc = 0;

	ord = calloc(env->nrcpts, sizeof(*ord));
	dup = calloc(env->nrcpts, sizeof(*dup));
	if (ord == NULL || dup == NULL) {
		rc = sm_err(EX_OSERR, "out of memory");
		goto out;
	}
	for (i = 0; i < env->nrcpts; i++)
		ord[i] = (struct sm_rcpt_ord){ env->rcpts[i], i };
	qsort(ord, env->nrcpts, sizeof(*ord), sm_rcpt_cmp);
	for (i = 1; i < env->nrcpts; i++)
		dup[ord[i].i] = strcasecmp(ord[i].a, ord[i - 1].a) == 0;
	if (buf_printf(out, SM_MAIL_KW "<%s>\r\n", env->from) == -1)
		rc = sm_err(EX_OSERR, "out of memory");
	for (i = 0; rc == 0 && i < env->nrcpts; i++) {
		if (!dup[i] && buf_printf(out, SM_RCPT_KW "<%s>\r\n",
		    env->rcpts[i]) == -1)
			rc = sm_err(EX_OSERR, "out of memory");
	}
	if (rc == 0 && buf_puts(out, "\r\n") == -1)
		rc = sm_err(EX_OSERR, "out of memory");
out:
	free(ord);
	free(dup);
	return rc;
}

/* sm_hostpart - the host name for file names: [A-Za-z0-9.-], else '_' */
static void
sm_hostpart(char *out, size_t size)
{
	char h[256];
	size_t i;

	sm_host(h, sizeof(h));
	for (i = 0; h[i] != '\0' && i < SM_HOST_MAX && i + 1 < size; i++) {
		out[i] = (h[i] >= 'a' && h[i] <= 'z') ||
		    (h[i] >= 'A' && h[i] <= 'Z') ||
		    (h[i] >= '0' && h[i] <= '9') || h[i] == '-' ||
		    (h[i] == '.' && i > 0) ? h[i] : '_';
	}
	out[i] = '\0';
}

/*
 * sm_create - a new file spool/temp/<stime>-<seq>.<pid>.<host> (manual
 * "XMAIL LOCAL MAILER") whose name is free in spool/local too.  Returns
 * the descriptor with the name in `name`, or -1 (errno).
 */
static int
sm_create(const char *tdir, const char *ldir, unsigned *seq, char *name,
    size_t size, char *tpath, size_t tsize)
{
	char host[SM_HOST_MAX + 1], lpath[PATH_MAX];
	int fd;

	sm_hostpart(host, sizeof(host));
	for (; *seq <= SM_NAME_TRIES; (*seq)++) {
		(void)snprintf(name, size, "%lld-%03u.%ld.%s",
		    (long long)time(NULL), *seq, (long)getpid(), host);
		if (fs_path(tpath, tsize, tdir, name) == -1 ||
		    fs_path(lpath, sizeof(lpath), ldir, name) == -1)
			return -1;
		if (fs_exists(lpath))
			continue;
		fd = open(tpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
		if (fd != -1 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

/*
 * sm_publish - rename the finished temp file into spool/local (a fresh
 * sequence number if its name was taken meanwhile), fsync spool/local.
 * 0 or an exit code; the temp file is removed on failure.
 */
static int
sm_publish(const char *tpath, const char *ldir, char *name, size_t size,
    unsigned seq)
{
	char host[SM_HOST_MAX + 1], lpath[PATH_MAX];

	sm_hostpart(host, sizeof(host));
	for (;;) {
		if (fs_path(lpath, sizeof(lpath), ldir, name) == -1)
			break;
		if (fs_rename_noreplace(tpath, lpath) == 0) {
			if (fs_fsync_dir(ldir) == -1)
				return sm_err(EX_IOERR, "fsync %s: %s (the "
				    "message may still be sent)", ldir,
				    strerror(errno));
			return 0;
		}
		if (errno != EEXIST || ++seq > SM_NAME_TRIES)
			break;
		(void)snprintf(name, size, "%lld-%03u.%ld.%s",
		    (long long)time(NULL), seq, (long)getpid(), host);
	}
	(void)sm_err(0, "cannot move %s into %s: %s", tpath, ldir,
	    strerror(errno));
	(void)unlink(tpath);
	return EX_CANTCREAT;
}

/*
 * sm_spool - write the local-mailer file in spool/temp, fsync it, move it
 * into spool/local (docs/QUEUE.md T9).  0 or an exit code.
 */
static int
sm_spool(const char *root, const struct buf *env, const struct buf *msg)
{
	char tdir[PATH_MAX], ldir[PATH_MAX], tpath[PATH_MAX];
	char name[NAME_MAX + 1];
	unsigned seq = 1;
	int fd, e;

	if (fs_path(tdir, sizeof(tdir), root, "spool/temp") == -1 ||
	    fs_path(ldir, sizeof(ldir), root, "spool/local") == -1)
		return sm_err(EX_CONFIG, "%s: path too long", root);
	if ((fd = sm_create(tdir, ldir, &seq, name, sizeof(name), tpath,
	    sizeof(tpath))) == -1)
		return sm_err(EX_CANTCREAT, "cannot create a file in %s: %s",
		    tdir, strerror(errno));
	if (fs_write_all(fd, env->data, env->len) == -1 ||
	    fs_write_all(fd, msg->data, msg->len) == -1 || fsync(fd) == -1) {
		e = errno;
		(void)close(fd);
		(void)unlink(tpath);
		return sm_err(EX_IOERR, "%s: %s", tpath, strerror(e));
	}
	if (close(fd) == -1 && errno != EINTR) {
		e = errno;
		(void)unlink(tpath);
		return sm_err(EX_IOERR, "%s: %s", tpath, strerror(e));
	}
	return sm_publish(tpath, ldir, name, sizeof(name), seq);
}

/* sm_root - MAIL_ROOT, checked to hold spool/temp and spool/local */
static const char *
sm_root(void)
{
	const char *root = getenv("MAIL_ROOT");
	char p[PATH_MAX];

	if (root == NULL || *root == '\0') {
		(void)sm_err(0, "MAIL_ROOT is not set: it must name the "
		    "MailRoot");
		return NULL;
	}
	if (fs_path(p, sizeof(p), root, "spool/temp") == -1 ||
	    !fs_is_dir(p) ||
	    fs_path(p, sizeof(p), root, "spool/local") == -1 ||
	    !fs_is_dir(p)) {
		(void)sm_err(0, "MAIL_ROOT=%s is not a MailRoot (no "
		    "spool/temp or spool/local)", root);
		return NULL;
	}
	return root;
}

/* sm_env_free - release the recipients */
static void
sm_env_free(struct sm_env *env)
{
	size_t i;

	for (i = 0; i < env->nrcpts; i++)
		free(env->rcpts[i]);
	free(env->rcpts);
}

/*
 * sm_run - read the message, build the local-mailer file, queue it.
 * 0 or an exit code.
 */
static int
sm_run(const char *root, const struct sm_opts *o, struct sm_env *env)
{
	struct buf in, msg, envl;
	int rc;

	buf_init(&in, SM_MSG_MAX);
	buf_init(&msg, QUEUE_LMAIL_FILE_MAX);
	buf_init(&envl, QUEUE_LMAIL_FILE_MAX);
	if ((rc = sm_input(o, &in)) != 0)
		goto out;
	if (o->xinput)
		rc = sm_xinput(&in, o, env, &msg);
	else
		rc = sm_build(in.data, in.len, o, env, &msg);
	if (rc != 0)
		goto out;
	if (env->nrcpts == 0) {
		rc = sm_err(EX_USAGE, "no recipients: give them as "
		    "arguments, with -t or with --rcpt-file");
		goto out;
	}
	if ((rc = sm_envtext(env, &envl)) != 0)
		goto out;
	if (envl.len + msg.len > QUEUE_LMAIL_FILE_MAX) {
		rc = sm_err(EX_DATAERR, "message too large");
		goto out;
	}
	rc = sm_spool(root, &envl, &msg);
out:
	buf_clear(&in);
	buf_clear(&msg);
	buf_clear(&envl);
	return rc;
}

/* cli_sendmail_main - `postroom sendmail` and argv[0] "sendmail" */
int
cli_sendmail_main(int argc, char **argv)
{
	char domain[ADDR_DOMAIN_MAX + 1];
	struct sm_opts o;
	struct sm_env env;
	const char *root;
	int rc;

	log_init(SM_PREFIX, false, true, false);
	if ((rc = sm_args(argc, argv, &o)) != 0)
		return rc;
	if (o.help) {
		fputs(sm_usage_text, stdout);
		return 0;
	}
	if ((root = sm_root()) == NULL)
		return EX_CONFIG;
	if (!o.extract && !o.xinput && o.rcptfile == NULL && o.first >= argc)
		return sm_err(EX_USAGE, "no recipients: give them as "
		    "arguments, with -t or with --rcpt-file (see --help)");
	sm_domain(root, domain, sizeof(domain));
	memset(&env, 0, sizeof(env));
	env.domain = domain;
	if ((rc = sm_envelope(&o, &env, argc, argv)) == 0)
		rc = sm_run(root, &o, &env);
	sm_env_free(&env);
	return rc;
}
