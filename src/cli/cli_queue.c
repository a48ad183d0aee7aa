/*
 * cli_queue.c - `postroom queue`: read and manage the spool (the mailq,
 * postqueue and postsuper of postroom).
 *
 *   postroom queue [-Ms MAILROOT] [-Mx SPLIT] [list] [--json] [PATTERN]
 *   postroom queue show [--body] ID
 *   postroom queue flush [PATTERN]
 *   postroom queue delete ID... | --frozen [PATTERN] | --all PATTERN
 *   postroom queue freeze ID...
 *   postroom queue thaw ID...
 *
 * Everything works on the spool files directly (queue_admin.h) and is
 * safe while the server runs; what the server must do at once (flush,
 * pick up thawed messages) goes through MailRoot/.queue-requests.
 * Operator actions are logged to syslog (facility mail), as postsuper
 * does; errors are printed on stderr.
 * Exit status: 0 success, 1 an ID not found, an action failed or (flush)
 * no server running, 2 usage error.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/compat.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "queue/queue.h"
#include "queue/queue_admin.h"
#include "queue/queue_slog.h"
#include "cli/cli.h"

#define QC_PREFIX		"postroom queue"
#define QC_EXIT_OK		0
#define QC_EXIT_FAIL		1
#define QC_EXIT_USAGE		2
#define QC_SPLIT_DEFAULT	23	/* -Mx default, as `postroom serve` */
#define QC_SPLIT_MAX		1000
#define QC_SLOG_MAX		((size_t)16 << 20) /* slog bytes shown */
#define QC_BODY_MAX		((size_t)1 << 36) /* spool file, --body */
#define QC_LOCK_FILE		".postroom.lock"

/* Option flags, also the set a command accepts. */
#define QC_F_JSON		0x01u	/* --json */
#define QC_F_BODY		0x02u	/* --body */
#define QC_F_FROZEN		0x04u	/* --frozen */
#define QC_F_ALL		0x08u	/* --all */

/* The parsed command line. */
struct qc_opts {
	char		 mailroot[PATH_MAX];	/* -Ms or $MAIL_ROOT */
	int		 split;		/* -Mx, 0 if not given */
	unsigned	 flags;			/* QC_F_* given */
	bool		 help;			/* -h, --help */
	const char	*cmd;			/* command name */
	char		**pos;		/* arguments after the command */
	int		 npos;
};

/* All listed entries, for sorting. */
struct qc_vec {
	struct queue_admin_entry	*v;
	size_t				 n;
	size_t				 cap;
	bool				 nomem;	/* entries lost */
};

/* One command: name, accepted flags, argument count, handler. */
struct qc_cmd {
	const char	*name;
	unsigned	 flags;
	int		 minpos;
	int		 maxpos;		/* -1: any number */
	int		(*run)(const struct qc_opts *);
};

static const char qc_synopsis[] =
"usage: postroom queue [-Ms MAILROOT] [-Mx SPLIT] [list] [--json] [PATTERN]\n"
"       postroom queue [-Ms MAILROOT] [-Mx SPLIT] show [--body] ID\n"
"       postroom queue [-Ms MAILROOT] [-Mx SPLIT] flush [PATTERN]\n"
"       postroom queue [-Ms MAILROOT] [-Mx SPLIT] delete ID...\n"
"       postroom queue [-Ms MAILROOT] [-Mx SPLIT] delete --frozen [PATTERN]\n"
"       postroom queue [-Ms MAILROOT] [-Mx SPLIT] delete --all PATTERN\n"
"       postroom queue [-Ms MAILROOT] [-Mx SPLIT] freeze ID...\n"
"       postroom queue [-Ms MAILROOT] [-Mx SPLIT] thaw ID...\n"
"       postroom queue -h | --help\n";

static const char qc_usage_text[] =
"\n"
"  list     (the default) one line per spool file, oldest first: ID (the\n"
"           spool file name), state, size in bytes, age, delivery tries,\n"
"           sender (<> for the null sender) -> recipient, and the last\n"
"           error on an indented second line; then a summary.  States:\n"
"           ready (mess/: new or due now), deferred (rsnd/: waiting for\n"
"           its next try), frozen (froz/: given up, kept for the\n"
"           operator).  --json prints one JSON object per message\n"
"           (id, bucket, state, size, arrival, tries, last_try, from, to,\n"
"           msgid, last_error, last_server) and no summary\n"
"  show     the spool header, state, tries and the delivery log (slog,\n"
"           with the SMTP transcript of each try) of one message;\n"
"           --body prints the message too\n"
"  flush    ask the running server to retry the matching ready and\n"
"           deferred messages now (exit 1 if no server runs: messages are\n"
"           sent when postroom starts)\n"
"  delete   remove messages for good: the given IDs, the frozen ones\n"
"           (--frozen, optionally matching PATTERN), or all matching\n"
"           PATTERN in any state (--all; '*' for everything)\n"
"  freeze   move messages to froz/: no more tries until thawed\n"
"  thaw     move frozen messages back to mess/ with their try count reset\n"
"           (a running server picks them up at once)\n"
"\n"
"ID is a spool file name as `list` prints it, or L1/L2/NAME.  PATTERN\n"
"matches the recipient's domain (example.org, *.example.org) or, when it\n"
"contains '@', the whole address (*@example.org, bob@*); '*' and '?'\n"
"are wildcards, case does not matter.\n"
"\n"
"  -Ms MAILROOT  the MailRoot (default: $MAIL_ROOT)\n"
"  -Mx SPLIT     spool split level of the server (-Mx of postroom serve,\n"
"                default 23; larger bucket directories found are searched\n"
"                too)\n"
"\n"
"Safe while the server runs.  Exit status: 0 success, 1 an ID not found,\n"
"an action failed, or flush found no running server, 2 usage error.\n";

static const char *const qc_state_name[] = {
	[QUEUE_ADMIN_READY] = "ready",
	[QUEUE_ADMIN_DEFERRED] = "deferred",
	[QUEUE_ADMIN_FROZEN] = "frozen",
};

static const char *const qc_state_dir[] = {
	[QUEUE_ADMIN_READY] = "mess",
	[QUEUE_ADMIN_DEFERRED] = "rsnd",
	[QUEUE_ADMIN_FROZEN] = "froz",
};

/* qc_usage - full help on stdout, or the synopsis on stderr (error) */
static int
qc_usage(bool error)
{
	return cli_help("queue", qc_synopsis, qc_usage_text, error);
}

/* qc_bad_usage - report a usage error; the usage exit status */
static int
qc_bad_usage(const char *what, const char *arg)
{
	fprintf(stderr, QC_PREFIX ": %s%s%s\n", what, arg != NULL ? ": " : "",
	    arg != NULL ? arg : "");
	return qc_usage(true);
}

/* qc_utf8_len - length of a valid UTF-8 sequence at s, or 0 */
static size_t
qc_utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned c = s[0];

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

/*
 * qc_safe_len - bytes of s[0..] to copy to a terminal as they are (a
 * printable ASCII byte or a valid UTF-8 character other than a C1
 * control), or 0 when s[0] must be shown as '?'.  Remote replies end up
 * in slogs: they must not drive the operator's terminal.
 */
static size_t
qc_safe_len(const unsigned char *s)
{
	size_t n;

	if (s[0] >= 0x20 && s[0] < 0x7f)
		return 1;
	if (s[0] < 0x80 || (n = qc_utf8_len(s)) == 0 ||
	    (s[0] == 0xc2 && s[1] < 0xa0))
		return 0;
	return n;
}

/* qc_clean - s with unsafe bytes as '?' (terminal safety), static buffer */
static const char *
qc_clean(const char *s)
{
	static char out[1024];
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, n;

	while (*p != '\0' && o < sizeof(out) - 1) {
		n = qc_safe_len(p);
		if (n == 0) {
			out[o++] = '?';
			p++;
			continue;
		}
		if (o + n >= sizeof(out))
			break;
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	out[o] = '\0';
	return out;
}

/*
 * qc_fput_clean - write text as qc_clean does, keeping TAB and LF; CRLF
 * becomes LF.  A NUL inside counts as unsafe.
 */
static void
qc_fput_clean(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + len;
	size_t n;

	while (p < end) {
		if (*p == '\r' && p + 1 < end && p[1] == '\n') {
			p++;
			continue;
		}
		if (*p == '\t' || *p == '\n') {
			putchar(*p++);
			continue;
		}
		/* text is NUL-terminated (struct buf): a sequence cannot run
		 * past the end unless it holds a NUL, which is not UTF-8. */
		n = *p == '\0' ? 0 : qc_safe_len(p);
		if (n == 0 || n > (size_t)(end - p)) {
			putchar('?');
			p++;
			continue;
		}
		fwrite(p, 1, n, stdout);
		p += n;
	}
}

/* qc_json_str - print s as a JSON string (invalid UTF-8 as U+FFFD) */
static void
qc_json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	putchar('"');
	while (*p != '\0') {
		if (*p == '"' || *p == '\\') {
			printf("\\%c", *p++);
		} else if (*p < 0x20 || *p == 0x7f) {
			printf("\\u%04x", *p++);
		} else if (*p < 0x80) {
			putchar(*p++);
		} else if ((n = qc_utf8_len(p)) > 0) {
			fwrite(p, 1, n, stdout);
			p += n;
		} else {
			fputs("\\ufffd", stdout);
			p++;
		}
	}
	putchar('"');
}

/* qc_age - "42s", "3m", "2h", "1d" */
static const char *
qc_age(time_t then, time_t now, char *out, size_t size)
{
	long long d = then < now ? (long long)(now - then) : 0;

	if (d < 60)
		(void)snprintf(out, size, "%llds", d);
	else if (d < 3600)
		(void)snprintf(out, size, "%lldm", d / 60);
	else if (d < 86400)
		(void)snprintf(out, size, "%lldh", d / 3600);
	else
		(void)snprintf(out, size, "%lldd", d / 86400);
	return out;
}

/* qc_date - local time as "2024-01-31 10:00:00 +0100" */
static const char *
qc_date(time_t t, char *out, size_t size)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(out, size, "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
		(void)snprintf(out, size, "@%lld", (long long)t);
	return out;
}

/* qc_parse_split - -Mx value 1..QC_SPLIT_MAX; 0 or -1 */
static int
qc_parse_split(const char *s, int *out)
{
	char *end;
	long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > QC_SPLIT_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

/* qc_flag - the QC_F_* bit of a long option, or 0 */
static unsigned
qc_flag(const char *s)
{
	if (strcmp(s, "--json") == 0)
		return QC_F_JSON;
	if (strcmp(s, "--body") == 0)
		return QC_F_BODY;
	if (strcmp(s, "--frozen") == 0)
		return QC_F_FROZEN;
	if (strcmp(s, "--all") == 0)
		return QC_F_ALL;
	return 0;
}

/* qc_flag_name - the long option of the lowest QC_F_* bit in f */
static const char *
qc_flag_name(unsigned f)
{
	if (f & QC_F_JSON)
		return "--json";
	if (f & QC_F_BODY)
		return "--body";
	if (f & QC_F_FROZEN)
		return "--frozen";
	return "--all";
}

/*
 * qc_parse - options (anywhere before "--") and positional arguments;
 * the first positional is the command.  0 or a usage exit status.
 */
static int
qc_parse(int argc, char **argv, struct qc_opts *o)
{
	bool opts = true;
	unsigned f;
	int i;

	o->pos = calloc((size_t)argc + 1, sizeof(*o->pos));
	if (o->pos == NULL) {
		fprintf(stderr, QC_PREFIX ": out of memory\n");
		return QC_EXIT_FAIL;
	}
	for (i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (opts && strcmp(s, "--") == 0) {
			opts = false;
		} else if (opts && (strcmp(s, "-h") == 0 ||
		    strcmp(s, "--help") == 0)) {
			o->help = true;
		} else if (opts && (strcmp(s, "-Ms") == 0 ||
		    strcmp(s, "-Mx") == 0)) {
			if (i + 1 >= argc)
				return qc_bad_usage("option needs a value", s);
			if (s[2] == 's') {
				if (!str_copy(o->mailroot, argv[++i],
				    sizeof(o->mailroot)))
					return qc_bad_usage("MailRoot too long",
					    NULL);
			} else if (qc_parse_split(argv[++i], &o->split) == -1) {
				return qc_bad_usage("-Mx needs a number from 1 "
				    "to 1000", argv[i]);
			}
		} else if (opts && (f = qc_flag(s)) != 0) {
			o->flags |= f;
		} else if (opts && s[0] == '-' && s[1] != '\0') {
			return qc_bad_usage("unknown option", s);
		} else if (o->cmd == NULL) {
			o->cmd = s;
		} else {
			o->pos[o->npos++] = argv[i];
		}
	}
	return 0;
}

/*
 * qc_split_detect - the largest bucket number under spool/ plus one, so
 * a spool written with a larger -Mx than given is still searched whole.
 */
static int
qc_split_detect(const char *mailroot)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int max = 0, v;

	if (fs_path(path, sizeof(path), mailroot, "spool") == -1 ||
	    (d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (qc_parse_split(de->d_name, &v) == 0 && v + 1 > max &&
		    v + 1 <= QC_SPLIT_MAX)
			max = v + 1;
		else if (strcmp(de->d_name, "0") == 0 && max == 0)
			max = 1;
	}
	(void)closedir(d);
	return max;
}

/* qc_root - MailRoot from -Ms or $MAIL_ROOT, checked; 0 or exit status */
static int
qc_root(struct qc_opts *o)
{
	char spool[PATH_MAX];
	const char *env;
	int found;

	if (o->mailroot[0] == '\0') {
		env = getenv("MAIL_ROOT");
		if (env == NULL || env[0] == '\0')
			return qc_bad_usage("no MailRoot: give -Ms MAILROOT or "
			    "set MAIL_ROOT", NULL);
		if (!str_copy(o->mailroot, env, sizeof(o->mailroot)))
			return qc_bad_usage("MAIL_ROOT too long", NULL);
	}
	if (fs_path(spool, sizeof(spool), o->mailroot, "spool") == -1 ||
	    !fs_is_dir(spool)) {
		fprintf(stderr, QC_PREFIX ": %s is not a MailRoot (no spool/ "
		    "directory)\n", o->mailroot);
		return QC_EXIT_FAIL;
	}
	found = qc_split_detect(o->mailroot);
	if (o->split == 0)
		o->split = QC_SPLIT_DEFAULT;
	if (found > o->split)
		o->split = found;
	return 0;
}

/* qc_vec_cb - collect one listed entry */
static int
qc_vec_cb(const struct queue_admin_entry *e, void *arg)
{
	struct qc_vec *v = arg;
	struct queue_admin_entry *nv;
	size_t ncap;

	if (v->n == v->cap) {
		ncap = v->cap == 0 ? 64 : v->cap * 2;
		nv = realloc(v->v, ncap * sizeof(*nv));
		if (nv == NULL) {
			v->nomem = true;
			return -1;
		}
		v->v = nv;
		v->cap = ncap;
	}
	v->v[v->n++] = *e;
	return 0;
}

/* qc_cmp_arrival - oldest first, then by name */
static int
qc_cmp_arrival(const void *a, const void *b)
{
	const struct queue_admin_entry *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->ref.name, y->ref.name);
}

/* qc_collect - the matching entries sorted by arrival; 0 or -1 */
static int
qc_collect(const struct qc_opts *o, const char *pattern, struct qc_vec *v)
{
	memset(v, 0, sizeof(*v));
	if (queue_admin_list(o->mailroot, o->split, pattern, qc_vec_cb,
	    v) == -1 || v->nomem) {
		fprintf(stderr, QC_PREFIX ": cannot read the spool of %s: %s\n",
		    o->mailroot, v->nomem ? "out of memory" : strerror(errno));
		free(v->v);
		return -1;
	}
	if (v->n > 1)
		qsort(v->v, v->n, sizeof(*v->v), qc_cmp_arrival);
	return 0;
}

/* qc_print_json - one entry as a JSON object on one line */
static void
qc_print_json(const struct queue_admin_entry *e)
{
	char bucket[32];

	(void)snprintf(bucket, sizeof(bucket), "%d/%d", e->ref.l1, e->ref.l2);
	fputs("{\"id\":", stdout);
	qc_json_str(e->ref.name);
	fputs(",\"bucket\":", stdout);
	qc_json_str(bucket);
	printf(",\"state\":\"%s\",\"size\":%" PRIu64 ",\"arrival\":%lld,"
	    "\"tries\":%d,\"last_try\":%lld,\"from\":",
	    qc_state_name[e->state], e->size, (long long)e->mtime,
	    e->slog.tries, (long long)e->slog.last_try);
	qc_json_str(e->from);
	fputs(",\"to\":", stdout);
	qc_json_str(e->to);
	fputs(",\"msgid\":", stdout);
	qc_json_str(e->msgid);
	fputs(",\"last_error\":", stdout);
	qc_json_str(e->slog.last_error);
	fputs(",\"last_server\":", stdout);
	qc_json_str(e->slog.last_server);
	fputs("}\n", stdout);
}

/* qc_print_line - one entry as text (and its last error) */
static void
qc_print_line(const struct queue_admin_entry *e, int idw, time_t now)
{
	char age[24];

	printf("%-*s %-8s %9" PRIu64 " %4s %5d ", idw, qc_clean(e->ref.name),
	    qc_state_name[e->state], e->size, qc_age(e->mtime, now, age,
	    sizeof(age)), e->slog.tries);
	if (e->to[0] == '\0') {
		printf("(malformed spool file)\n");
	} else {
		printf("%s -> ", e->from[0] != '\0' ? qc_clean(e->from) :
		    "<>");
		printf("%s\n", qc_clean(e->to));
	}
	if (e->slog.last_error[0] != '\0') {
		printf("    last error: %s", qc_clean(e->slog.last_error));
		if (e->slog.last_server[0] != '\0')
			printf(" (server %s)", qc_clean(e->slog.last_server));
		putchar('\n');
	}
}

/* qc_flush_stdout - 0, or report a failed write to stdout */
static int
qc_flush_stdout(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, QC_PREFIX ": standard output: %s\n",
		    strerror(errno));
		return QC_EXIT_FAIL;
	}
	return QC_EXIT_OK;
}

/* qc_cmd_list - `list [--json] [PATTERN]` */
static int
qc_cmd_list(const struct qc_opts *o)
{
	size_t i, count[3] = { 0, 0, 0 };
	struct qc_vec v;
	time_t now = time(NULL);
	int idw = 2, n;

	if (qc_collect(o, o->npos > 0 ? o->pos[0] : NULL, &v) == -1)
		return QC_EXIT_FAIL;
	for (i = 0; i < v.n; i++) {
		n = (int)strlen(v.v[i].ref.name);
		idw = n > idw ? n : idw;
		count[v.v[i].state]++;
	}
	if (!(o->flags & QC_F_JSON) && v.n > 0)
		printf("%-*s %-8s %9s %4s %5s %s\n", idw, "ID", "STATE",
		    "SIZE", "AGE", "TRIES", "SENDER -> RECIPIENT");
	for (i = 0; i < v.n; i++) {
		if (o->flags & QC_F_JSON)
			qc_print_json(&v.v[i]);
		else
			qc_print_line(&v.v[i], idw, now);
	}
	if (!(o->flags & QC_F_JSON))
		printf("%zu message(s): %zu ready, %zu deferred, %zu frozen\n",
		    v.n, count[QUEUE_ADMIN_READY],
		    count[QUEUE_ADMIN_DEFERRED], count[QUEUE_ADMIN_FROZEN]);
	free(v.v);
	return qc_flush_stdout();
}

/* qc_find - resolve an ID; prints the error.  0 or -1 */
static int
qc_find(const struct qc_opts *o, const char *id, struct queue_ref *r,
    enum queue_admin_state *st)
{
	if (queue_admin_find(o->mailroot, o->split, id, r, st) == 0)
		return 0;
	fprintf(stderr, QC_PREFIX ": %s: no such message in the queue\n",
	    qc_clean(id));
	return -1;
}

/* qc_show_slog - print the delivery log of r, if any */
static void
qc_show_slog(const struct qc_opts *o, const struct queue_ref *r)
{
	char path[PATH_MAX];
	struct buf b;

	if (queue_path(o->mailroot, r, "slog", path, sizeof(path)) == -1)
		return;
	buf_init(&b, QC_SLOG_MAX);
	if (fs_read_file(path, &b) == -1) {
		if (errno != ENOENT)
			printf("\nDelivery log: %s\n", strerror(errno));
		else
			printf("\nDelivery log: none (never tried)\n");
		buf_clear(&b);
		return;
	}
	printf("\nDelivery log (spool/%d/%d/slog/%s):\n", r->l1, r->l2,
	    qc_clean(r->name));
	qc_fput_clean(b.data, b.len);
	if (b.len > 0 && b.data[b.len - 1] != '\n')
		putchar('\n');
	buf_clear(&b);
}

/* qc_show_head - state, tries and the spool header of a loaded file */
static void
qc_show_head(const struct queue_ref *r, enum queue_admin_state st,
    const struct stat *sb, const struct queue_slog_info *si)
{
	char d1[64], age[24];
	time_t now = time(NULL);

	printf("ID:          %s\n", qc_clean(r->name));
	printf("Bucket:      %d/%d (spool/%d/%d/%s)\n", r->l1, r->l2, r->l1,
	    r->l2, qc_state_dir[st]);
	printf("State:       %s\n", qc_state_name[st]);
	printf("Size:        %lld\n", (long long)sb->st_size);
	printf("Arrival:     %s (%s ago)\n", qc_date(sb->st_mtime, d1,
	    sizeof(d1)), qc_age(sb->st_mtime, now, age, sizeof(age)));
	printf("Tries:       %d", si->tries);
	if (si->last_try != 0)
		printf(", last %s", qc_date(si->last_try, d1, sizeof(d1)));
	putchar('\n');
	if (si->last_error[0] != '\0')
		printf("Last error:  %s\n", qc_clean(si->last_error));
	if (si->last_server[0] != '\0')
		printf("Last server: %s\n", qc_clean(si->last_server));
}

/* qc_cmd_show - `show [--body] ID` */
static int
qc_cmd_show(const struct qc_opts *o)
{
	char path[PATH_MAX];
	struct queue_slog_info si;
	struct queue_file qf;
	enum queue_admin_state st;
	struct queue_ref r;
	struct stat sb;
	int tries;

	for (tries = 0;; tries++) {
		if (qc_find(o, o->pos[0], &r, &st) == -1)
			return QC_EXIT_FAIL;
		if (queue_path(o->mailroot, &r, qc_state_dir[st], path,
		    sizeof(path)) == 0 && queue_file_load(path, QC_BODY_MAX,
		    &qf) == 0)
			break;
		/* Moved by the server meanwhile: look again, once. */
		if (errno == ENOENT && tries == 0)
			continue;
		fprintf(stderr, QC_PREFIX ": %s: %s\n", qc_clean(path),
		    errno == EINVAL ? "malformed spool file" :
		    strerror(errno));
		return QC_EXIT_FAIL;
	}
	if (stat(path, &sb) == -1)
		memset(&sb, 0, sizeof(sb));
	if (queue_slog_read(o->mailroot, &r, &si) == -1)
		memset(&si, 0, sizeof(si));
	qc_show_head(&r, st, &sb, &si);
	printf("Info:        %s\n", qc_clean(qf.info));
	printf("Domain:      %s\n", qc_clean(qf.smtp_domain));
	printf("Message-ID:  %s\n", qc_clean(qf.msgid));
	printf("%s\n", qc_clean(qf.mail_from));
	printf("%s\n", qc_clean(qf.rcpt));
	qc_show_slog(o, &r);
	if (o->flags & QC_F_BODY) {
		printf("\nMessage (%zu bytes):\n", qf.datalen);
		fwrite(qf.data, 1, qf.datalen, stdout);
	}
	queue_file_free(&qf);
	return qc_flush_stdout();
}

/*
 * qc_server_running - true when a `postroom serve` holds the flock on
 * MailRoot/.postroom.lock (a lock we can take ourselves means none does).
 */
static bool
qc_server_running(const struct qc_opts *o)
{
	char path[PATH_MAX];
	bool running = false;
	int fd;

	if (fs_path(path, sizeof(path), o->mailroot, QC_LOCK_FILE) == -1)
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return false;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1)
		running = errno == EWOULDBLOCK;
	else
		(void)flock(fd, LOCK_UN);
	(void)close(fd);
	return running;
}

/* qc_cmd_flush - `flush [PATTERN]` */
static int
qc_cmd_flush(const struct qc_opts *o)
{
	const char *pattern = o->npos > 0 ? o->pos[0] : "";
	size_t i, waiting = 0;
	struct qc_vec v;

	if (!qc_server_running(o)) {
		fprintf(stderr, QC_PREFIX ": postroom is not running on %s: "
		    "messages are sent when postroom starts\n", o->mailroot);
		return QC_EXIT_FAIL;
	}
	if (qc_collect(o, pattern, &v) == -1)
		return QC_EXIT_FAIL;
	for (i = 0; i < v.n; i++)
		if (v.v[i].state != QUEUE_ADMIN_FROZEN)
			waiting++;
	free(v.v);
	if (queue_admin_request(o->mailroot, "flush", pattern) == -1) {
		fprintf(stderr, QC_PREFIX ": cannot write the request: %s\n",
		    errno == EINVAL ? "bad pattern" : strerror(errno));
		return QC_EXIT_FAIL;
	}
	log_info("queue: flush requested pattern=\"%s\"", pattern);
	printf("flush: asked the server to retry now the %zu ready or "
	    "deferred message(s) for %s\n", waiting,
	    pattern[0] != '\0' ? qc_clean(pattern) : "*");
	return qc_flush_stdout();
}

/*
 * qc_act - run one action on a message, looking it up again once when
 * the server moved it meanwhile (ENOENT).  Prints the result line.
 * Returns 0 or -1.
 */
static int
qc_act(const struct qc_opts *o, const char *verb, const char *id,
    struct queue_ref r, enum queue_admin_state st, bool known)
{
	int tries, rc;

	for (tries = 0;; tries++) {
		if (!known && qc_find(o, id, &r, &st) == -1)
			return -1;
		known = false;
		if (strcmp(verb, "freeze") == 0 && st == QUEUE_ADMIN_FROZEN) {
			printf("%s: already frozen\n", qc_clean(r.name));
			return 0;
		}
		if (strcmp(verb, "thaw") == 0 && st != QUEUE_ADMIN_FROZEN) {
			printf("%s: not frozen (%s)\n", qc_clean(r.name),
			    qc_state_name[st]);
			return 0;
		}
		if (strcmp(verb, "delete") == 0)
			rc = queue_admin_delete(o->mailroot, &r, st);
		else if (strcmp(verb, "freeze") == 0)
			rc = queue_admin_freeze(o->mailroot, &r, st);
		else
			rc = queue_admin_thaw(o->mailroot, &r);
		if (rc == 0)
			break;
		if (errno != ENOENT || tries > 0) {
			fprintf(stderr, QC_PREFIX ": %s %s: %s\n", verb,
			    qc_clean(r.name), strerror(errno));
			return -1;
		}
		id = r.name;
	}
	printf("%s: %s (was %s)\n", qc_clean(r.name),
	    strcmp(verb, "delete") == 0 ? "deleted" :
	    strcmp(verb, "freeze") == 0 ? "frozen" : "thawed",
	    qc_state_name[st]);
	return 0;
}

/* qc_act_ids - run verb on every ID argument; exit status */
static int
qc_act_ids(const struct qc_opts *o, const char *verb, int *done)
{
	struct queue_ref r;
	int i, rc = QC_EXIT_OK;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < o->npos; i++) {
		if (qc_act(o, verb, o->pos[i], r, QUEUE_ADMIN_READY,
		    false) == -1)
			rc = QC_EXIT_FAIL;
		else
			(*done)++;
	}
	return rc;
}

/* qc_delete_matching - `delete --frozen [PATTERN]`, `--all PATTERN` */
static int
qc_delete_matching(const struct qc_opts *o)
{
	const char *pattern = o->npos > 0 ? o->pos[0] : NULL;
	size_t i, n = 0;
	struct qc_vec v;
	int rc = QC_EXIT_OK;

	if (qc_collect(o, pattern, &v) == -1)
		return QC_EXIT_FAIL;
	for (i = 0; i < v.n; i++) {
		if ((o->flags & QC_F_FROZEN) &&
		    v.v[i].state != QUEUE_ADMIN_FROZEN)
			continue;
		if (qc_act(o, "delete", v.v[i].ref.name, v.v[i].ref,
		    v.v[i].state, true) == -1)
			rc = QC_EXIT_FAIL;
		else
			n++;
	}
	free(v.v);
	printf("%zu message(s) deleted\n", n);
	return rc;
}

/* qc_cmd_delete - `delete ID...`, `--frozen [PATTERN]`, `--all PATTERN` */
static int
qc_cmd_delete(const struct qc_opts *o)
{
	int done = 0, rc;

	if ((o->flags & QC_F_FROZEN) && (o->flags & QC_F_ALL))
		return qc_bad_usage("--frozen and --all exclude each other",
		    NULL);
	if (o->flags & (QC_F_FROZEN | QC_F_ALL)) {
		if (o->npos > 1)
			return qc_bad_usage("one PATTERN only", NULL);
		if ((o->flags & QC_F_ALL) &&
		    (o->npos == 0 || o->pos[0][0] == '\0'))
			return qc_bad_usage("delete --all needs a PATTERN "
			    "('*' deletes every message)", NULL);
		rc = qc_delete_matching(o);
	} else {
		if (o->npos == 0)
			return qc_bad_usage("delete needs an ID, --frozen or "
			    "--all PATTERN", NULL);
		rc = qc_act_ids(o, "delete", &done);
	}
	return rc == QC_EXIT_OK ? qc_flush_stdout() : rc;
}

/* qc_cmd_freeze - `freeze ID...` */
static int
qc_cmd_freeze(const struct qc_opts *o)
{
	int done = 0, rc;

	rc = qc_act_ids(o, "freeze", &done);
	return rc == QC_EXIT_OK ? qc_flush_stdout() : rc;
}

/* qc_cmd_thaw - `thaw ID...`, then ask a running server to rescan */
static int
qc_cmd_thaw(const struct qc_opts *o)
{
	int done = 0, rc;

	rc = qc_act_ids(o, "thaw", &done);
	/* Without a server the file waits; mess/ is loaded at start. */
	if (done > 0 && queue_admin_request(o->mailroot, "rescan", "") == -1)
		fprintf(stderr, QC_PREFIX ": cannot ask the server to rescan: "
		    "%s (thawed messages are picked up at the next start)\n",
		    strerror(errno));
	return rc == QC_EXIT_OK ? qc_flush_stdout() : rc;
}

static const struct qc_cmd qc_cmds[] = {
	{ "list", QC_F_JSON, 0, 1, qc_cmd_list },
	{ "show", QC_F_BODY, 1, 1, qc_cmd_show },
	{ "flush", 0, 0, 1, qc_cmd_flush },
	{ "delete", QC_F_FROZEN | QC_F_ALL, 0, -1, qc_cmd_delete },
	{ "freeze", 0, 1, -1, qc_cmd_freeze },
	{ "thaw", 0, 1, -1, qc_cmd_thaw },
};

/* qc_dispatch - check the command's arguments and run it */
static int
qc_dispatch(struct qc_opts *o)
{
	const struct qc_cmd *c = NULL;
	size_t i;
	int rc;

	for (i = 0; i < nitems(qc_cmds); i++)
		if (strcmp(o->cmd, qc_cmds[i].name) == 0)
			c = &qc_cmds[i];
	if (c == NULL)
		return qc_bad_usage("unknown command", o->cmd);
	if (o->flags & ~c->flags) {
		fprintf(stderr, QC_PREFIX ": %s: option not valid for %s\n",
		    qc_flag_name(o->flags & ~c->flags), c->name);
		return qc_usage(true);
	}
	if (o->npos < c->minpos)
		return qc_bad_usage("missing argument for", o->cmd);
	if (c->maxpos >= 0 && o->npos > c->maxpos)
		return qc_bad_usage("too many arguments for", o->cmd);
	if ((rc = qc_root(o)) != 0)
		return rc;
	return c->run(o);
}

/* cli_queue_main - `postroom queue [options] COMMAND [ARGS]` */
int
cli_queue_main(int argc, char **argv)
{
	struct qc_opts o;
	int rc;

	memset(&o, 0, sizeof(o));
	/* Operator actions go to syslog; errors are printed by us. */
	log_init(QC_PREFIX, true, false, false);
	rc = qc_parse(argc, argv, &o);
	if (rc == 0 && o.help)
		rc = qc_usage(false);
	else if (rc == 0) {
		if (o.cmd == NULL)
			o.cmd = "list";
		rc = qc_dispatch(&o);
	}
	free(o.pos);
	return rc;
}
