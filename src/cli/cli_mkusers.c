/*
 * cli_mkusers.c - `postroom mkusers`: XMail's MkUsers bulk account creator.
 *
 * Reads `domain;username;password;real-name;homepage` lines (or, with -a,
 * makes numbered test users), creates each account tree through
 * store_account_create() and writes <rootdir>/mailusers.tab once, at the
 * end.  As in XMail, an existing mailusers.tab stops the tool before it
 * touches anything, existing files and directories are kept, and
 * domains.tab is never written (domains are added by hand; the tool only
 * reminds which ones are missing).
 *
 * Mirrored from XMail's MkUsers.cpp: the options and their defaults
 * (auto-mode domain "mkuser.net", radix "mkuser", MaxMBSize 10000, first
 * id 1, root "./"); auto mode makes <radix>1..<radix>N whose password and
 * RealName are the user name and whose HomePage is http://www.<domain>/~<u>;
 * user.tab holds RealName, HomePage and MaxMBSize in that order; the
 * account directory is the user name; ids go up by one per account.
 *
 * Differences, all to make mistakes visible or files safer:
 *  - XMail skips bad lines silently (strtok even merges empty fields).
 *    Here a line needs exactly five ';'-separated fields, a valid domain
 *    and user name and a password of 1..256 bytes (XMail reads
 *    mailusers.tab lines into 2048 bytes); a bad line, or a repeat of an
 *    account (case-insensitive), is reported with its line number and
 *    skipped, mailusers.tab still gets the good ones, and the exit status
 *    is 1.  Empty real-name and homepage fields are allowed.
 *  - XMail's MkUsers writes the id quoted; it is written bare here, as the
 *    manual's MAILUSERS.TAB section shows (XMail reads both), and ids stay
 *    consecutive over the accounts actually written.
 *  - mailusers.tab is written once, at the end, with mode 0600 (it holds
 *    reversible passwords), and never when no account is valid.
 *  - The mail root must exist; the domain directory is lower-cased, as the
 *    server expects (store_account_create).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/passwd.h"
#include "core/tab.h"
#include "store/store.h"
#include "cli/cli.h"

#define MK_PREFIX		"postroom mkusers"
#define MK_DEF_ROOT		"./"
#define MK_DEF_DOMAIN		"mkuser.net"	/* XMail MkUsers default */
#define MK_DEF_RADIX		"mkuser"	/* XMail MkUsers default */
#define MK_DEF_MBSIZE		10000UL		/* XMail MAX_MB_SIZE */
#define MK_AUTO_MAX		1000000UL	/* most users in auto mode */
#define MK_ID_MAX		4294967295UL	/* XMail ids are unsigned int */
#define MK_LINE_MAX		4096	/* longest input line, without CR/LF */
/* Keeps a mailusers.tab line under XMail's 2048-byte read buffer. */
#define MK_PASSWORD_MAX		256
#define MK_FIELDS		5
#define MK_TAB_MODE		0600	/* mailusers.tab holds passwords */
#define MK_TAB_MAX		((size_t)1 << 30)

/* '+': stop at the first operand; ':': report a missing value */
#define MK_OPTSTRING		"+:a:d:f:u:r:s:i:mh"

#define MK_EXIT_OK		0
#define MK_EXIT_FAIL		1
#define MK_EXIT_USAGE		2

/* Command-line settings. */
struct mk_opts {
	unsigned long	 nusers;	/* -a: auto mode when > 0 */
	const char	*domain;	/* -d: auto-mode domain */
	const char	*infile;	/* -f: input file, NULL for stdin */
	const char	*radix;		/* -u: auto-mode user name radix */
	const char	*root;		/* -r: mail root */
	unsigned long	 mbsize;	/* -s: MaxMBSize of new users */
	unsigned long	 idbase;	/* -i: first user id */
	bool		 maildir;	/* -m: Maildir instead of mailbox */
	bool		 auto_only;	/* -d or -u given */
};

/* One account to create. */
struct mk_user {
	char		*mem;		/* the five strings, NUL-separated */
	size_t		 memlen;	/* bytes in mem, for wiping */
	const char	*f[MK_FIELDS];	/* domain, name, password, real, home */
	unsigned	 lineno;	/* input line, 0 in auto mode */
	unsigned	 dup_of;	/* line of the first copy, or 0 */
	bool		 skip;		/* duplicate or creation failed */
};

/* All accounts, in input order. */
struct mk_list {
	struct mk_user	*v;		/* the accounts */
	size_t		 n;		/* how many */
	size_t		 cap;		/* allocated */
	unsigned	 nbad;		/* input lines or accounts skipped */
};

enum { MK_DOMAIN, MK_NAME, MK_PASSWORD, MK_REALNAME, MK_HOMEPAGE };

static const char mk_synopsis[] =
"usage: postroom mkusers [-m] [-r rootdir] [-s mboxsize] [-i useridbase]\n"
"                        [-f inputFile]\n"
"       postroom mkusers -a numusers [-d domain] [-u username] [-m]\n"
"                        [-r rootdir] [-s mboxsize] [-i useridbase]\n"
"       postroom mkusers -h\n";

static const char mk_usage_text[] =
"\n"
"  -a numusers    number of users to create in auto-mode\n"
"  -d domain      domain name in auto-mode {" MK_DEF_DOMAIN "}\n"
"  -f inputFile   input file name {stdin}\n"
"  -u username    radix user name in auto-mode {" MK_DEF_RADIX "}\n"
"  -r rootdir     mail root path {" MK_DEF_ROOT "}\n"
"  -s mboxsize    mailbox maximum size in KB {10000}\n"
"  -i useridbase  base user id {1}\n"
"  -m             create Maildir boxes (default: mailbox)\n"
"  -h             show this message\n"
"\n"
"Input lines are  domain;username;password;real-name;homepage  (exactly\n"
"five fields; lines starting with '#' and blank lines are ignored).\n"
"Auto-mode creates users <username>1 .. <username>N whose password and\n"
"real name are the user name and whose home page is\n"
"http://www.<domain>/~<user>: for tests only.\n"
"\n"
"Creates <rootdir>/domains/<domain>/<user>/{user.tab,mailbox or Maildir}\n"
"and writes <rootdir>/mailusers.tab, which must not exist yet.  Existing\n"
"files are never overwritten; domains.tab is left for you to edit.\n"
"Stop the server before running this in its MailRoot.\n";

/* mk_usage - full help on stdout, or the synopsis on stderr (error) */
static int
mk_usage(bool error)
{
	if (error) {
		fputs(mk_synopsis, stderr);
		fputs("Run `postroom mkusers -h' for details.\n", stderr);
		return MK_EXIT_USAGE;
	}
	fputs(mk_synopsis, stdout);
	fputs(mk_usage_text, stdout);
	return MK_EXIT_OK;
}

/* mk_parse_ulong - strict decimal in [min, max]; 0 or -1 */
static int
mk_parse_ulong(const char *s, unsigned long min, unsigned long max,
    unsigned long *out)
{
	unsigned long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* mk_opt_number - parse the numeric value of option c; 0 or -1 */
static int
mk_opt_number(int c, const char *arg, unsigned long min, unsigned long max,
    unsigned long *out)
{
	if (mk_parse_ulong(arg, min, max, out) == 0)
		return 0;
	fprintf(stderr, MK_PREFIX ": -%c needs a number from %lu to %lu, "
	    "not \"%s\"\n", c, min, max, arg);
	return -1;
}

/* mk_opts_parse - parse argv into o; 0, or an exit status (-h, usage) */
static int
mk_opts_parse(int argc, char **argv, struct mk_opts *o, bool *done)
{
	int c, rc = 0;

	memset(o, 0, sizeof(*o));
	o->domain = MK_DEF_DOMAIN;
	o->radix = MK_DEF_RADIX;
	o->root = MK_DEF_ROOT;
	o->mbsize = MK_DEF_MBSIZE;
	o->idbase = 1;
	*done = false;
	optind = 0;		/* glibc: full reset, we may not be first */
	opterr = 0;
	while (rc == 0 && (c = getopt(argc, argv, MK_OPTSTRING)) != -1) {
		switch (c) {
		case 'a':
			rc = mk_opt_number(c, optarg, 1, MK_AUTO_MAX,
			    &o->nusers);
			break;
		case 'd':
			o->domain = optarg;
			o->auto_only = true;
			break;
		case 'f':
			o->infile = optarg;
			break;
		case 'u':
			o->radix = optarg;
			o->auto_only = true;
			break;
		case 'r':
			o->root = optarg;
			break;
		case 's':
			rc = mk_opt_number(c, optarg, 0, UINT_MAX, &o->mbsize);
			break;
		case 'i':
			/* Id 0 is reserved by XMail (MAILUSERS.TAB). */
			rc = mk_opt_number(c, optarg, 1, MK_ID_MAX,
			    &o->idbase);
			break;
		case 'm':
			o->maildir = true;
			break;
		case 'h':
			*done = true;
			return mk_usage(false);
		case ':':
			fprintf(stderr, MK_PREFIX ": option -%c needs a "
			    "value\n", optopt);
			rc = -1;
			break;
		default:
			fprintf(stderr, MK_PREFIX ": unknown option -%c\n",
			    optopt);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && optind < argc) {
		fprintf(stderr, MK_PREFIX ": unexpected argument \"%s\"\n",
		    argv[optind]);
		rc = -1;
	}
	if (rc == 0 && o->root[0] == '\0') {
		fprintf(stderr, MK_PREFIX ": -r needs a directory\n");
		rc = -1;
	}
	if (rc != 0) {
		*done = true;
		return mk_usage(true);
	}
	return 0;
}

/* mk_list_add - append an account made of five strings */
static void
mk_list_add(struct mk_list *l, const char *const *f, unsigned lineno)
{
	struct mk_user *u;
	size_t len[MK_FIELDS], total = 0, i;
	char *p;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	for (i = 0; i < MK_FIELDS; i++) {
		len[i] = strlen(f[i]);
		total += len[i] + 1;
	}
	u = &l->v[l->n++];
	memset(u, 0, sizeof(*u));
	u->mem = p = xmalloc(total);
	u->memlen = total;
	u->lineno = lineno;
	for (i = 0; i < MK_FIELDS; i++) {
		memcpy(p, f[i], len[i] + 1);
		u->f[i] = p;
		p += len[i] + 1;
	}
}

/* mk_list_free - release the list, wiping the passwords */
static void
mk_list_free(struct mk_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		explicit_bzero(l->v[i].mem, l->v[i].memlen);
		free(l->v[i].mem);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* mk_bad - report a rejected input line */
static void
mk_bad(struct mk_list *l, const char *src, unsigned lineno, const char *why)
{
	fprintf(stderr, MK_PREFIX ": %s:%u: %s; line skipped\n", src, lineno,
	    why);
	l->nbad++;
}

/* mk_check - why the account fields cannot be used, or NULL when fine */
static const char *
mk_check(const char *const *f)
{
	size_t plen = strlen(f[MK_PASSWORD]);

	if (!store_domain_ok(f[MK_DOMAIN], false))
		return "invalid domain name";
	if (!store_name_ok(f[MK_NAME], false))
		return "invalid user name";
	if (plen == 0)
		return "empty password";
	if (plen > MK_PASSWORD_MAX)
		return "password longer than 256 bytes";
	if (!tab_value_ok(f[MK_REALNAME]))
		return "real name cannot be stored (control character "
		    "or trailing backslash)";
	if (!tab_value_ok(f[MK_HOMEPAGE]))
		return "home page cannot be stored (control character "
		    "or trailing backslash)";
	return NULL;
}

/* mk_split - split a line on ';' into f; the number of fields found */
static size_t
mk_split(char *line, const char **f, size_t max)
{
	size_t n = 0;
	char *p = line, *semi;

	for (;;) {
		semi = strchr(p, ';');
		if (n < max)
			f[n] = p;
		n++;
		if (semi == NULL)
			return n;
		*semi = '\0';
		p = semi + 1;
	}
}

/* mk_is_blank - true for a line of spaces and tabs only */
static bool
mk_is_blank(const char *s)
{
	return s[strspn(s, " \t")] == '\0';
}

/* mk_line - handle one input line (CR/LF already removed) */
static void
mk_line(struct mk_list *l, const char *src, unsigned lineno, char *line,
    size_t len)
{
	const char *f[MK_FIELDS], *why;
	char msg[128];
	size_t n;

	if (strlen(line) != len) {
		mk_bad(l, src, lineno, "NUL byte in line");
		return;
	}
	if (line[0] == '#' || mk_is_blank(line))
		return;
	if (len > MK_LINE_MAX) {
		mk_bad(l, src, lineno, "line too long");
		return;
	}
	n = mk_split(line, f, MK_FIELDS);
	if (n != MK_FIELDS) {
		snprintf(msg, sizeof(msg), "%zu field%s instead of 5 "
		    "(domain;username;password;real-name;homepage)", n,
		    n == 1 ? "" : "s");
		mk_bad(l, src, lineno, msg);
		return;
	}
	if ((why = mk_check(f)) != NULL) {
		mk_bad(l, src, lineno, why);
		return;
	}
	mk_list_add(l, f, lineno);
}

/* mk_read_stream - read every input line of fp; 0 or -1 (read error) */
static int
mk_read_stream(FILE *fp, const char *src, struct mk_list *l)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	unsigned lineno = 0;
	int rc = 0;

	while ((got = getline(&line, &cap, fp)) != -1) {
		size_t len = (size_t)got;

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		mk_line(l, src, lineno, line, len);
		explicit_bzero(line, (size_t)got);
	}
	if (ferror(fp)) {
		fprintf(stderr, MK_PREFIX ": %s: %s\n", src, strerror(errno));
		rc = -1;
	}
	if (line != NULL)
		explicit_bzero(line, cap);
	free(line);
	return rc;
}

/* mk_read_input - read the -f file or stdin; 0 or -1 */
static int
mk_read_input(const struct mk_opts *o, struct mk_list *l)
{
	FILE *fp;
	int rc;

	if (o->infile == NULL || strcmp(o->infile, "-") == 0)
		return mk_read_stream(stdin, "<stdin>", l);
	if ((fp = fopen(o->infile, "re")) == NULL) {
		fprintf(stderr, MK_PREFIX ": %s: %s\n", o->infile,
		    strerror(errno));
		return -1;
	}
	rc = mk_read_stream(fp, o->infile, l);
	fclose(fp);
	return rc;
}

/*
 * mk_auto - XMail's auto mode: users <radix>1..<radix>N in one domain,
 * each with password and real name equal to the user name and home page
 * http://www.<domain>/~<user>.  0, or -1 when the names are invalid.
 */
static int
mk_auto(const struct mk_opts *o, struct mk_list *l)
{
	char name[STORE_NAME_MAX + 32], home[STORE_DOMAIN_MAX + 128];
	const char *f[MK_FIELDS], *why;
	unsigned long i;

	for (i = 1; i <= o->nusers; i++) {
		snprintf(name, sizeof(name), "%s%lu", o->radix, i);
		snprintf(home, sizeof(home), "http://www.%s/~%s", o->domain,
		    name);
		f[MK_DOMAIN] = o->domain;
		f[MK_NAME] = f[MK_PASSWORD] = f[MK_REALNAME] = name;
		f[MK_HOMEPAGE] = home;
		if ((why = mk_check(f)) != NULL) {
			fprintf(stderr, MK_PREFIX ": auto mode: %s@%s: %s\n",
			    name, o->domain, why);
			return -1;
		}
		mk_list_add(l, f, 0);
	}
	return 0;
}

/* mk_user_cmp - order accounts by domain, name (no case), then input */
static int
mk_user_cmp(const void *a, const void *b)
{
	const struct mk_user *x = *(const struct mk_user *const *)a;
	const struct mk_user *y = *(const struct mk_user *const *)b;
	int c;

	if ((c = strcasecmp(x->f[MK_DOMAIN], y->f[MK_DOMAIN])) != 0)
		return c;
	if ((c = strcasecmp(x->f[MK_NAME], y->f[MK_NAME])) != 0)
		return c;
	return x < y ? -1 : x > y;
}

/* mk_same - true when two accounts have the same address (no case) */
static bool
mk_same(const struct mk_user *x, const struct mk_user *y)
{
	return strcasecmp(x->f[MK_DOMAIN], y->f[MK_DOMAIN]) == 0 &&
	    strcasecmp(x->f[MK_NAME], y->f[MK_NAME]) == 0;
}

/* mk_dedup - report and skip every repeat of an earlier account */
static void
mk_dedup(struct mk_list *l, const char *src)
{
	struct mk_user **s, *first;
	size_t i;

	if (l->n < 2)
		return;
	s = xcalloc(l->n, sizeof(*s));
	for (i = 0; i < l->n; i++)
		s[i] = &l->v[i];
	qsort(s, l->n, sizeof(*s), mk_user_cmp);
	first = s[0];
	for (i = 1; i < l->n; i++) {
		if (mk_same(first, s[i]))
			s[i]->dup_of = first->lineno;
		else
			first = s[i];
	}
	free(s);
	for (i = 0; i < l->n; i++) {
		if (l->v[i].dup_of == 0)
			continue;
		l->v[i].skip = true;
		l->nbad++;
		fprintf(stderr, MK_PREFIX ": %s:%u: %s@%s already on line %u; "
		    "line skipped\n", src, l->v[i].lineno, l->v[i].f[MK_NAME],
		    l->v[i].f[MK_DOMAIN], l->v[i].dup_of);
	}
}

/* mk_create - create the account trees; failures are reported, skipped */
static void
mk_create(const struct mk_opts *o, struct mk_list *l)
{
	const char *vars[6];
	char mbsize[32];
	size_t i;

	snprintf(mbsize, sizeof(mbsize), "%lu", o->mbsize);
	for (i = 0; i < l->n; i++) {
		struct mk_user *u = &l->v[i];

		if (u->skip)
			continue;
		/* The user.tab variables XMail's MkUsers writes. */
		vars[0] = "RealName";
		vars[1] = u->f[MK_REALNAME];
		vars[2] = "HomePage";
		vars[3] = u->f[MK_HOMEPAGE];
		vars[4] = "MaxMBSize";
		vars[5] = mbsize;
		if (store_account_create(o->root, u->f[MK_DOMAIN],
		    u->f[MK_NAME], o->maildir, vars, 3) == -1) {
			fprintf(stderr, MK_PREFIX ": cannot create account "
			    "%s@%s; left out of mailusers.tab\n",
			    u->f[MK_NAME], u->f[MK_DOMAIN]);
			u->skip = true;
			l->nbad++;
		}
	}
}

/* mk_format - mailusers.tab text for the accounts created; 0 or -1 */
static int
mk_format(const struct mk_opts *o, const struct mk_list *l, struct buf *out,
    size_t *count)
{
	const char *f[6];
	char id[32];
	unsigned long next = o->idbase;
	struct buf enc;
	size_t i;
	int rc = 0;

	*count = 0;
	buf_init(&enc, 2 * MK_PASSWORD_MAX);
	for (i = 0; i < l->n && rc == 0; i++) {
		const struct mk_user *u = &l->v[i];

		if (u->skip)
			continue;
		snprintf(id, sizeof(id), "%lu", next++);
		buf_reset(&enc);
		if ((rc = xmcrypt_encode(u->f[MK_PASSWORD], &enc)) == -1)
			break;
		f[0] = u->f[MK_DOMAIN];
		f[1] = u->f[MK_NAME];
		f[2] = enc.data;
		f[3] = id;		/* bare: ids are unquoted numbers */
		f[4] = u->f[MK_NAME];	/* account dir = user name */
		f[5] = "U";		/* user, not mailing list */
		rc = tab_format(out, f, nitems(f), 1UL << 3);
		(*count)++;
	}
	if (enc.cap > 0)
		explicit_bzero(enc.data, enc.cap);
	buf_clear(&enc);
	if (rc == -1)
		fprintf(stderr, MK_PREFIX ": cannot format mailusers.tab\n");
	return rc;
}

/* mk_write - write mailusers.tab; 0 or -1 */
static int
mk_write(const struct mk_opts *o, const struct mk_list *l, const char *path)
{
	struct buf out;
	size_t count;
	int rc = -1;

	buf_init(&out, MK_TAB_MAX);
	if (mk_format(o, l, &out, &count) == -1)
		goto out;
	if (fs_write_new(path, out.data, out.len, MK_TAB_MODE) == -1) {
		fprintf(stderr, MK_PREFIX ": cannot create %s: %s%s\n", path,
		    strerror(errno), errno == EEXIST ?
		    " (created meanwhile; the account directories are made, "
		    "mailusers.tab was not touched)" : "");
		goto out;
	}
	printf("%s: %zu account%s written\n", path, count,
	    count == 1 ? "" : "s");
	rc = 0;
out:
	if (out.cap > 0)
		explicit_bzero(out.data, out.cap);
	buf_clear(&out);
	return rc;
}

/* mk_domain_seen - true when domain occurs in l->v[0..end-1] (no case) */
static bool
mk_domain_seen(const struct mk_list *l, size_t end, const char *domain)
{
	size_t i;

	for (i = 0; i < end; i++)
		if (!l->v[i].skip &&
		    strcasecmp(l->v[i].f[MK_DOMAIN], domain) == 0)
			return true;
	return false;
}

/* mk_remind - list the domains of new accounts missing from domains.tab */
static void
mk_remind(const struct mk_opts *o, const struct mk_list *l)
{
	char path[4096];
	struct tab t;
	size_t i;
	bool first = true;

	if (fs_path(path, sizeof(path), o->root, "domains.tab") == -1 ||
	    tab_load(path, &t) == -1) {
		fprintf(stderr, MK_PREFIX ": cannot read %s/domains.tab\n",
		    o->root);
		return;
	}
	for (i = 0; i < l->n; i++) {
		const char *d = l->v[i].f[MK_DOMAIN];

		if (l->v[i].skip || tab_find(&t, 0, d, 1) != NULL ||
		    mk_domain_seen(l, i, d))
			continue;
		if (first)
			printf("Remember to add these domains to %s by hand "
			    "(one \"domain\" per line):\n", path);
		first = false;
		printf("  %s\n", d);
	}
	tab_free(&t);
}

/* mk_count - accounts not skipped */
static unsigned long
mk_count(const struct mk_list *l)
{
	unsigned long n = 0;
	size_t i;

	for (i = 0; i < l->n; i++)
		n += !l->v[i].skip;
	return n;
}

/* mk_run - everything after option parsing; the exit status */
static int
mk_run(const struct mk_opts *o, struct mk_list *l)
{
	const char *src = o->infile != NULL ? o->infile : "<stdin>";
	char path[4096];
	unsigned long nok;

	if (fs_path(path, sizeof(path), o->root, "mailusers.tab") == -1) {
		fprintf(stderr, MK_PREFIX ": root path too long\n");
		return MK_EXIT_FAIL;
	}
	if (fs_exists(path)) {
		fprintf(stderr, MK_PREFIX ": %s already exists; nothing done.\n"
		    "Refusing to overwrite it: delete it by hand if you "
		    "really mean to rebuild it (stop the server first).\n",
		    path);
		return MK_EXIT_FAIL;
	}
	if (!fs_is_dir(o->root)) {
		fprintf(stderr, MK_PREFIX ": %s is not a directory\n",
		    o->root);
		return MK_EXIT_FAIL;
	}
	if (o->nusers > 0 ? mk_auto(o, l) == -1 : mk_read_input(o, l) == -1)
		return MK_EXIT_FAIL;
	mk_dedup(l, src);
	nok = mk_count(l);
	if (nok == 0) {
		fprintf(stderr, MK_PREFIX ": no account to create; "
		    "mailusers.tab not written\n");
		return l->nbad > 0 ? MK_EXIT_FAIL : MK_EXIT_OK;
	}
	if (o->idbase > MK_ID_MAX - (nok - 1)) {
		fprintf(stderr, MK_PREFIX ": user ids from %lu for %lu "
		    "accounts would pass %lu\n", o->idbase, nok, MK_ID_MAX);
		return MK_EXIT_FAIL;
	}
	mk_create(o, l);
	if (mk_write(o, l, path) == -1)
		return MK_EXIT_FAIL;
	mk_remind(o, l);
	if (l->nbad > 0) {
		fprintf(stderr, MK_PREFIX ": %u line%s or account%s skipped\n",
		    l->nbad, l->nbad == 1 ? "" : "s", l->nbad == 1 ? "" : "s");
		return MK_EXIT_FAIL;
	}
	return MK_EXIT_OK;
}

/* cli_mkusers_main - `postroom mkusers [options]` */
int
cli_mkusers_main(int argc, char **argv)
{
	struct mk_opts o;
	struct mk_list l;
	bool done;
	int rc;

	if (argc >= 2 && strcmp(argv[1], "--help") == 0)
		return mk_usage(false);
	rc = mk_opts_parse(argc, argv, &o, &done);
	if (done)
		return rc;
	if (o.nusers == 0 && o.auto_only)
		fprintf(stderr, MK_PREFIX ": -d and -u apply only with -a; "
		    "ignored\n");
	if (o.nusers > 0 && o.infile != NULL)
		fprintf(stderr, MK_PREFIX ": -f is ignored with -a\n");
	log_init("postroom mkusers", false, true, false);
	memset(&l, 0, sizeof(l));
	rc = mk_run(&o, &l);
	mk_list_free(&l);
	return rc;
}
