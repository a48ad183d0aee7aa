/*
 * cli_send.c - `postroom send`: a report or notification e-mail from a
 * script (backup job, cron, monitoring) through any SMTP server.
 *
 *   postroom send [options] --mail-to LIST --title TEXT [--status S] ...
 *   postroom send --test [--mail-to LIST]
 *
 * The message comes from notify.h (text and HTML parts, a fields table,
 * attachments); it goes out through the one SMTP client (smtpc.h) on one
 * event loop.  This thread hands each step (open, send, quit) to loop 0
 * with ev_run_in_loop and sleeps on a condition variable until the
 * step's callback wakes it, so the command reads as a sequence while the
 * client stays the asynchronous one the server uses.
 *
 * Settings, first found wins: the command line, the environment
 * (POSTROOM_SMTP_*), the profile of the config file (INI-like, one
 * [profile] per server), the defaults.  The password and its file are
 * one setting: the first of those sources that gives either decides.
 *
 * Safety: the password never travels before TLS unless security is
 * "none" and the mechanism was named (not "auto"); the certificate must
 * verify unless --insecure; a config file that holds a password must not
 * be readable by others; --smtp-pwd is wiped from the argument list once
 * read.  Every failure is one line of cause and one of hint, with an exit
 * status of its own (SEND_EXIT_*, listed in send_usage_text).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/addr.h"
#include "core/buf.h"
#include "core/compat.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/match.h"
#include "core/tls.h"
#include "notify/notify.h"
#include "smtpc/smtpc.h"
#include "cli/cli.h"

#define SEND_PREFIX		"postroom send"

/* Exit statuses (documented in send_usage_text and the README). */
#define SEND_EXIT_OK		0
#define SEND_EXIT_USAGE		2	/* options, settings, input files */
#define SEND_EXIT_RESOLVE	3	/* cannot resolve the host */
#define SEND_EXIT_CONNECT	4	/* refused or unreachable */
#define SEND_EXIT_TIMEOUT	5
#define SEND_EXIT_TLS		6	/* TLS handshake failed */
#define SEND_EXIT_CERT		7	/* certificate not trusted */
#define SEND_EXIT_NO_STARTTLS	8
#define SEND_EXIT_AUTH		9	/* login refused or impossible */
#define SEND_EXIT_SENDER	10
#define SEND_EXIT_RCPT		11	/* a recipient refused */
#define SEND_EXIT_MESSAGE	12
#define SEND_EXIT_OTHER		13	/* connection lost, protocol, local */

#define SEND_TIMEOUT		30	/* --timeout default, seconds */
#define SEND_TIMEOUT_MAX	3600
#define SEND_CONF_MAX		(64 * 1024)	/* config file */
#define SEND_CONF_LINE_MAX	4096
#define SEND_PROFILE_MAX	64
#define SEND_SECRET_MAX		255	/* user name, password: smtpc_auth */
#define SEND_RCPTS_MAX		100
#define SEND_FIELDS_MAX		64
#define SEND_ATTACH_MAX		16	/* files */
#define SEND_ATTACH_SIZE	(10 * 1024 * 1024)	/* per file */
#define SEND_ATTACH_TOTAL	(25 * 1024 * 1024)	/* all files */
#define SEND_BODY_MAX		(1024 * 1024)	/* summary text kept */
#define SEND_TEMPLATE_MAX	(256 * 1024)
#define SEND_MSG_MAX		(64 * 1024 * 1024)	/* composed */
#define SEND_TS_MAX		(64 * 1024)	/* transcript kept */
#define SEND_QUIT_WAIT_MS	10000	/* for the 221 after QUIT */

/* Settings that the command line, environment and profiles share. */
enum send_key {
	SK_SERVER,
	SK_PORT,
	SK_SECURITY,
	SK_USER,
	SK_PASSWORD,
	SK_PASSWORD_FILE,
	SK_AUTH,
	SK_FROM,
	SK_TO,
	SK_TO_MODE,
	SK_APP_NAME,
	SK_CA_FILE,
	SK_INSECURE,
	SK_STRICT,
	SK_TIMEOUT,
	SK_HELO,
	SK_NKEYS
};

/* The names of a setting in each source. */
static const struct send_keydef {
	const char	*conf;		/* key in the config file */
	const char	*env;		/* environment variable */
	const char	*opt;		/* command-line option */
} send_keys[SK_NKEYS] = {
	[SK_SERVER] = { "server", "POSTROOM_SMTP_SERVER", "--smtp-srv" },
	[SK_PORT] = { "port", "POSTROOM_SMTP_PORT", "--smtp-port" },
	[SK_SECURITY] = { "security", "POSTROOM_SMTP_SECURITY",
	    "--smtp-sec" },
	[SK_USER] = { "user", "POSTROOM_SMTP_USER", "--smtp-usr" },
	[SK_PASSWORD] = { "password", "POSTROOM_SMTP_PASSWORD",
	    "--smtp-pwd" },
	[SK_PASSWORD_FILE] = { "password_file",
	    "POSTROOM_SMTP_PASSWORD_FILE", "--password-file" },
	[SK_AUTH] = { "auth", "POSTROOM_SMTP_AUTH", "--smtp-auth" },
	[SK_FROM] = { "from", "POSTROOM_SMTP_FROM", "--mail-from" },
	[SK_TO] = { "to", "POSTROOM_SMTP_TO", "--mail-to" },
	[SK_TO_MODE] = { "to_mode", "POSTROOM_SMTP_TO_MODE", "--to-mode" },
	[SK_APP_NAME] = { "app_name", "POSTROOM_SMTP_APP_NAME",
	    "--app-name" },
	[SK_CA_FILE] = { "ca_file", "POSTROOM_SMTP_CA_FILE", "--ca-file" },
	[SK_INSECURE] = { "insecure", "POSTROOM_SMTP_INSECURE",
	    "--insecure" },
	[SK_STRICT] = { "strict", "POSTROOM_SMTP_STRICT", "--strict" },
	[SK_TIMEOUT] = { "timeout", "POSTROOM_SMTP_TIMEOUT", "--timeout" },
	[SK_HELO] = { "helo", "POSTROOM_SMTP_HELO", "--helo" },
};

/* Where a setting's value came from. */
enum send_layer {
	SL_NONE,		/* unset: the default applies */
	SL_OPT,			/* command line */
	SL_ENV,			/* environment */
	SL_FILE,		/* config file */
};

/* One setting's value and its source (for messages). */
struct send_val {
	const char	*v;		/* NULL: unset */
	enum send_layer	 layer;
	int		 line;		/* SL_FILE: line number */
};

/* Command-line options that are not settings (getopt_long codes). */
enum send_optcode {
	OPT_KEY = 256,		/* + enum send_key */
	OPT_TITLE = 512,
	OPT_STATUS,
	OPT_BODY,
	OPT_FIELD,
	OPT_ATTACH,
	OPT_TEMPLATE,
	OPT_PROFILE,
	OPT_CONFIG,
	OPT_TEST,
	OPT_VERBOSE,
};

/* The command line and what the settings resolved to. */
struct send_opts {
	struct send_val	 opt[SK_NKEYS];	/* given on the command line */
	struct send_val	 val[SK_NKEYS];	/* merged, first found wins */
	struct buf	 to_opt;	/* every --mail-to, comma-joined */
	char		 pass_arg[SEND_SECRET_MAX + 1];	/* --smtp-pwd */
	const char	*title, *status, *body, *template;
	const char	*profile;	/* --profile, or NULL */
	const char	*config;	/* --config, or NULL */
	const char	**fields;	/* --field KEY=VALUE */
	size_t		 nfields;
	const char	**attach;	/* --attach FILE */
	size_t		 nattach;
	bool		 test, verbose, help;
	/* The config file, when one is read. */
	char		 conf_path[PATH_MAX];
	char		*conf_text;	/* lines cut in place; values point
					   into it */
	mode_t		 conf_mode;	/* its permissions */
	bool		 conf_secret;	/* it holds a password line */
};

enum send_sec {
	SEC_NONE,
	SEC_SSL,		/* implicit TLS (SMTPS, RFC 8314) */
	SEC_STARTTLS,		/* RFC 3207, required */
};

enum send_auth {
	AUTH_AUTO,
	AUTH_NONE,
	AUTH_PLAIN,
	AUTH_LOGIN,
	AUTH_CRAM_MD5,
};

enum send_to_mode {
	TO_ALL,			/* every recipient in To: (default) */
	TO_FIRST,		/* the first in To:, others only in the
				   envelope (XSIBackup) */
};

/* The settings, checked and typed. */
struct send_conf {
	const char		*server;
	char			 host[256];	/* server without [] */
	int			 port;
	enum send_sec		 sec;
	enum send_auth		 auth;
	bool			 auth_named;	/* auth given, not "auto" */
	const char		*user;		/* NULL: no login */
	struct buf		 pass;		/* owned, wiped at the end */
	const char		*from;
	const char		*to;
	enum send_to_mode	 to_mode;
	const char		*app_name;
	char			 ca_file[PATH_MAX];	/* "" when unset */
	bool			 insecure, strict;
	int			 timeout;
	char			 helo[256];
};

/* The valid recipients, without duplicates. */
struct send_rcpts {
	char		 (*addr)[ADDR_PATH_MAX];
	size_t		 n;
	bool		 utf8;		/* one needs SMTPUTF8 */
};

/* What the message is made of (files read into memory). */
struct send_input {
	struct buf		 body;
	struct notify_field	*fields;
	size_t			 nfields;
	struct notify_attach	*attach;
	size_t			 nattach;
	struct buf		*files;		/* attachment contents */
	struct buf		 template;
	enum notify_status	 status;
	const char		*title;
	char			 hostname[256];
	char			 title_buf[256 + 32];	/* "Failure on host" */
};

/*
 * One SMTP conversation, shared by this thread and loop 0.  The fields
 * below `done` are written on the loop before send_wake and read here
 * after send_wait returns (the mutex orders them).
 */
struct send_sess {
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	bool			 done;		/* the awaited step ended */
	/* Inputs. */
	struct sockaddr_storage	 to;
	socklen_t		 tolen;
	struct smtpc_conf	 conf;
	struct smtpc_txn	*txn;
	/* Outputs. */
	struct smtpc		*s;		/* NULL once gone */
	bool			 failed;	/* the step failed: err */
	struct smtpc_result	 err;
	char			 peer[320];
	char			 tls[256];
	char			 auth[32];	/* mechanism used or "" */
	struct smtpc_caps	 caps;
	struct buf		 ts;		/* transcript of the step */
};

/* The steps `--test` reports, in order. */
enum send_step {
	STEP_RESOLVE,
	STEP_CONNECT,
	STEP_SMTP,		/* greeting and EHLO */
	STEP_TLS,
	STEP_AUTH,
	STEP_SEND,
};

/* What a run needs to report its outcome. */
struct send_run {
	const struct send_conf	*conf;
	bool			 test;		/* print the steps */
	bool			 verbose;	/* and the transcripts */
	bool			 utf8_marks;	/* check marks, not "ok" */
	struct send_sess	 sess;
	int			 naddrs;	/* addresses tried */
};

static const char send_synopsis[] =
"usage: postroom send [--profile NAME] [--config FILE] [--smtp-srv HOST]\n"
"           [--smtp-port PORT] [--smtp-sec none|ssl|starttls]\n"
"           [--smtp-usr USER] [--smtp-pwd PASS | --password-file FILE]\n"
"           [--smtp-auth auto|none|plain|login|cram-md5]\n"
"           [--mail-from ADDR] [--mail-to LIST] [--to-mode all|first]\n"
"           [--strict] [--title TEXT] [--status STATUS] [--body TEXT]\n"
"           [--field KEY=VALUE ...] [--attach FILE ...] [--app-name NAME]\n"
"           [--template FILE] [--insecure] [--ca-file FILE]\n"
"           [--timeout SECONDS] [--helo NAME] [--test] [--verbose]\n"
"       postroom send -h | --help\n";

static const char send_usage_text[] =
"\n"
"Send one report e-mail (a plain-text and an HTML part, a colour bar for\n"
"the status, a table of fields, optional attachments) through an SMTP\n"
"server: for backup jobs, cron and monitoring scripts.  Examples:\n"
"  postroom send --profile gmail --title 'Backup of db1' --status success\n"
"      --field Duration=42s --field Size='1.2 GB' --body 'All done.'\n"
"  backup.sh 2>&1 | postroom send --title 'Nightly backup' --status failure\n"
"  postroom send --test --profile gmail --mail-to me@example.org\n"
"\n"
"Server:\n"
"  --smtp-srv HOST       SMTP server name or address\n"
"  --smtp-port PORT      [587 for starttls, 465 for ssl, 25 for none]\n"
"  --smtp-sec MODE       starttls (default; \"TLS\" means the same, as in\n"
"                        XSIBackup): STARTTLS is required; ssl: TLS from\n"
"                        the first byte (port 465); none: no encryption\n"
"  --insecure            accept any server certificate (self-signed...)\n"
"  --ca-file FILE        trust the CA certificates of FILE (PEM) instead\n"
"                        of the system's\n"
"  --timeout SECONDS     for connecting and each reply [30]\n"
"  --helo NAME           name given in EHLO [this host's name]\n"
"Login:\n"
"  --smtp-usr USER       user name (often the e-mail address)\n"
"  --smtp-pwd PASS       password (visible in `ps` for a moment: prefer\n"
"                        --password-file or $POSTROOM_SMTP_PASSWORD)\n"
"  --password-file FILE  read the password from the first line of FILE\n"
"  --smtp-auth MODE      auto (default: the best mechanism the server\n"
"                        offers, CRAM-MD5 > PLAIN > LOGIN), plain, login,\n"
"                        cram-md5, or none (no login, a LAN relay)\n"
"Recipients:\n"
"  --mail-from ADDR      sender [the user name when it is an address]\n"
"  --mail-to LIST        recipients, comma-separated (repeatable);\n"
"                        invalid ones are reported and skipped\n"
"  --strict              an invalid recipient is an error instead\n"
"  --to-mode MODE        all (default): every recipient in To:; first:\n"
"                        the first in To:, the others only in the\n"
"                        envelope, like XSIBackup\n"
"Message:\n"
"  --title TEXT          subject: [APP] TEXT\n"
"  --status STATUS       success, failure, warning or info [info]\n"
"  --body TEXT           summary [standard input when it is not a\n"
"                        terminal; only its last 1 MiB is kept]\n"
"  --field KEY=VALUE     a row of the fields table (repeatable)\n"
"  --attach FILE         attach a file, up to 10 MiB (repeatable)\n"
"  --app-name NAME       [postroom]\n"
"  --template FILE       own HTML with {{title}}, {{app_name}},\n"
"                        {{status}}, {{status_color}}, {{summary}},\n"
"                        {{fields}}, {{date}}, {{hostname}}\n"
"Other:\n"
"  --profile NAME        profile of the config file [default]\n"
"  --config FILE         [$XDG_CONFIG_HOME/postroom/send.conf, else\n"
"                        ~/.config/postroom/send.conf]\n"
"  --test                connect, start TLS and log in, printing each\n"
"                        step; with --mail-to also send a test message\n"
"  --verbose             show the SMTP conversation (passwords masked)\n"
"\n"
"Every setting can also come from the environment or a profile; the\n"
"first found wins: command line, environment, profile, default.\n"
"Variables: POSTROOM_SMTP_SERVER, _PORT, _SECURITY, _USER, _PASSWORD,\n"
"_PASSWORD_FILE, _AUTH, _FROM, _TO, _TO_MODE, _APP_NAME, _CA_FILE,\n"
"_INSECURE, _STRICT, _TIMEOUT, _HELO, _PROFILE, _CONFIG.\n"
"Config file: \"[NAME]\" starts a profile; \"key = value\" lines use the\n"
"names server, port, security, user, password, password_file, auth,\n"
"from, to, to_mode, app_name, ca_file, insecure, strict, timeout, helo;\n"
"lines before the first profile apply to every profile; '#' starts a\n"
"comment line.  A file holding a password must not be readable by\n"
"others (chmod 600).\n"
"\n"
"Exit status: 0 sent (or --test passed), 2 usage or settings error,\n"
"3 cannot resolve the server name, 4 connection refused or unreachable,\n"
"5 timed out, 6 TLS handshake failed, 7 certificate not trusted,\n"
"8 no STARTTLS, 9 login failed, 10 sender refused, 11 recipient\n"
"refused, 12 message refused, 13 other failure.\n";

/*
 * Messages.
 */

static void	send_vmsg(const char *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));
static void	send_err(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static void	send_hint(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static int	send_bad(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static void	send_step(const struct send_run *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* send_usage - full help on stdout, or the synopsis on stderr (error) */
static int
send_usage(bool error)
{
	return cli_help("send", send_synopsis, send_usage_text, error);
}

/* send_vmsg - one line on stderr: prefix, message */
static void
send_vmsg(const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* send_err - "postroom send: ..." on stderr */
static void
send_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	send_vmsg(SEND_PREFIX ": ", fmt, ap);
	va_end(ap);
}

/* send_hint - "hint: ..." on stderr, under the error it explains */
static void
send_hint(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	send_vmsg("hint: ", fmt, ap);
	va_end(ap);
}

/* send_bad - a usage or settings error: tell, the usage status */
static int
send_bad(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	send_vmsg(SEND_PREFIX ": ", fmt, ap);
	va_end(ap);
	return SEND_EXIT_USAGE;
}

/* send_src - where setting k came from, for messages */
static const char *
send_src(const struct send_opts *o, enum send_key k, char *out,
    size_t size)
{
	const struct send_val *v = &o->val[k];

	switch (v->layer) {
	case SL_OPT:
		snprintf(out, size, "%s", send_keys[k].opt);
		break;
	case SL_ENV:
		snprintf(out, size, "$%s", send_keys[k].env);
		break;
	case SL_FILE:
		snprintf(out, size, "%s line %d", o->conf_path, v->line);
		break;
	case SL_NONE:
		snprintf(out, size, "the default");
		break;
	}
	return out;
}

/* send_bad_val - setting k has a bad value: name it and its source */
static int
send_bad_val(const struct send_opts *o, enum send_key k, const char *why)
{
	char src[PATH_MAX + 32];

	return send_bad("bad %s '%s' (from %s): %s", send_keys[k].conf,
	    k == SK_PASSWORD ? "********" : o->val[k].v,
	    send_src(o, k, src, sizeof(src)), why);
}

/*
 * Command line.
 */

/* send_getopt_bad - usage error for the option getopt_long refused */
static int
send_getopt_bad(int c, char **argv)
{
	char opt[3] = { '-', (char)optopt, '\0' };
	const char *arg = optopt != 0 && optopt < 256 ? opt : argv[optind - 1];

	send_err("%s: %s", c == ':' ? "option needs a value" :
	    "unknown option", arg);
	return send_usage(true);
}

/* send_opt_key - a setting given on the command line */
static int
send_opt_key(struct send_opts *o, enum send_key k, char *arg)
{
	size_t len;

	if (k == SK_TO) {
		/* Repeated --mail-to add up. */
		if ((o->to_opt.len > 0 && buf_putc(&o->to_opt, ',') == -1) ||
		    buf_puts(&o->to_opt, arg) == -1)
			return send_bad("--mail-to: list too long");
		arg = o->to_opt.data;
	} else if (k == SK_PASSWORD) {
		/* Keep a copy and wipe the argument out of `ps` output. */
		len = strlen(arg);
		if (len > SEND_SECRET_MAX)
			return send_bad("--smtp-pwd: longer than %d bytes",
			    SEND_SECRET_MAX);
		memcpy(o->pass_arg, arg, len + 1);
		OPENSSL_cleanse(arg, len);
		arg = o->pass_arg;
	} else if (k == SK_INSECURE || k == SK_STRICT) {
		arg = "yes";
	}
	o->opt[k].v = arg;
	o->opt[k].layer = SL_OPT;
	return 0;
}

/* send_opt_other - an option that is not a setting */
static int
send_opt_other(struct send_opts *o, int c, const char *arg)
{
	switch (c) {
	case OPT_TITLE:
		o->title = arg;
		break;
	case OPT_STATUS:
		o->status = arg;
		break;
	case OPT_BODY:
		o->body = arg;
		break;
	case OPT_FIELD:
		o->fields[o->nfields++] = arg;
		break;
	case OPT_ATTACH:
		o->attach[o->nattach++] = arg;
		break;
	case OPT_TEMPLATE:
		o->template = arg;
		break;
	case OPT_PROFILE:
		o->profile = arg;
		break;
	case OPT_CONFIG:
		o->config = arg;
		break;
	case OPT_TEST:
		o->test = true;
		break;
	case OPT_VERBOSE:
		o->verbose = true;
		break;
	case 'h':
		o->help = true;
		break;
	default:
		return -1;
	}
	return 0;
}

/* send_getopt - read the options; 0, or a usage exit status */
static int
send_getopt(int argc, char **argv, struct send_opts *o)
{
#define K(name, key, arg) { name, arg, NULL, OPT_KEY + (key) }
	static const struct option longopts[] = {
		K("smtp-srv", SK_SERVER, required_argument),
		K("smtp-port", SK_PORT, required_argument),
		K("smtp-sec", SK_SECURITY, required_argument),
		K("smtp-usr", SK_USER, required_argument),
		K("smtp-pwd", SK_PASSWORD, required_argument),
		K("password-file", SK_PASSWORD_FILE, required_argument),
		K("smtp-auth", SK_AUTH, required_argument),
		K("mail-from", SK_FROM, required_argument),
		K("from", SK_FROM, required_argument),
		K("mail-to", SK_TO, required_argument),
		K("to", SK_TO, required_argument),
		K("to-mode", SK_TO_MODE, required_argument),
		K("app-name", SK_APP_NAME, required_argument),
		K("ca-file", SK_CA_FILE, required_argument),
		K("insecure", SK_INSECURE, no_argument),
		K("strict", SK_STRICT, no_argument),
		K("timeout", SK_TIMEOUT, required_argument),
		K("helo", SK_HELO, required_argument),
		{ "title", required_argument, NULL, OPT_TITLE },
		{ "status", required_argument, NULL, OPT_STATUS },
		{ "body", required_argument, NULL, OPT_BODY },
		{ "field", required_argument, NULL, OPT_FIELD },
		{ "attach", required_argument, NULL, OPT_ATTACH },
		{ "template", required_argument, NULL, OPT_TEMPLATE },
		{ "profile", required_argument, NULL, OPT_PROFILE },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "test", no_argument, NULL, OPT_TEST },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
#undef K
	int c, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (c >= OPT_KEY && c < OPT_KEY + SK_NKEYS)
			rc = send_opt_key(o, (enum send_key)(c - OPT_KEY),
			    optarg);
		else if (send_opt_other(o, c, optarg) == 0)
			rc = 0;
		else
			return send_getopt_bad(c, argv);
		if (rc != 0)
			return rc;
	}
	if (optind < argc) {
		send_err("unexpected argument: %s", argv[optind]);
		return send_usage(true);
	}
	if (o->opt[SK_PASSWORD].v != NULL && o->opt[SK_PASSWORD_FILE].v != NULL)
		return send_bad("--smtp-pwd and --password-file: give one");
	if (o->nfields > SEND_FIELDS_MAX || o->nattach > SEND_ATTACH_MAX)
		return send_bad("at most %d --field and %d --attach",
		    SEND_FIELDS_MAX, SEND_ATTACH_MAX);
	return 0;
}

/*
 * Settings: environment, config file, merge, checks.
 */

/* send_env - value of an environment variable, NULL when unset or empty */
static const char *
send_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* send_trim - s without leading and trailing blanks (cut in place) */
static char *
send_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* send_name_ok - a profile name: 1..64 of [A-Za-z0-9._-] */
static bool
send_name_ok(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	return n > 0 && n <= SEND_PROFILE_MAX && s[n] == '\0';
}

/* send_conf_key - the setting named k in a config file, or -1 */
static int
send_conf_key(const char *k)
{
	int i;

	for (i = 0; i < SK_NKEYS; i++)
		if (strcmp(send_keys[i].conf, k) == 0)
			return i;
	return -1;
}

/*
 * send_conf_pair - one "key = value" line; `in` tells whether it belongs
 * to the profile used.  Returns 0 or a usage status.
 */
static int
send_conf_pair(struct send_opts *o, struct send_val *file, char *line,
    int n, bool in)
{
	char *eq = strchr(line, '='), *key, *val;
	size_t len;
	int k;

	if (eq == NULL)
		return send_bad("%s line %d: expected \"key = value\"",
		    o->conf_path, n);
	*eq = '\0';
	key = send_trim(line);
	val = send_trim(eq + 1);
	/* "value" keeps its blanks; no escapes. */
	len = strlen(val);
	if (len >= 2 && val[0] == '"' && val[len - 1] == '"') {
		val[len - 1] = '\0';
		val++;
	}
	if ((k = send_conf_key(key)) == -1)
		return send_bad("%s line %d: unknown key '%s'", o->conf_path,
		    n, key);
	if (k == SK_PASSWORD)
		o->conf_secret = true;
	if (!in || val[0] == '\0')
		return 0;
	file[k].v = val;
	file[k].layer = SL_FILE;
	file[k].line = n;
	/* The password and its file are one setting: the last wins. */
	if (k == SK_PASSWORD || k == SK_PASSWORD_FILE)
		file[k == SK_PASSWORD ? SK_PASSWORD_FILE : SK_PASSWORD].v =
		    NULL;
	return 0;
}

/*
 * send_conf_parse - the lines of o->conf_text: shared lines (before the
 * first section) and those of `profile` into file[].  *found tells
 * whether the profile has a section.  Returns 0 or a usage status.
 */
static int
send_conf_parse(struct send_opts *o, const char *profile,
    struct send_val *file, bool *found)
{
	char *p, *nl, *next, *line;
	bool in = true;
	size_t len;
	int n, rc;

	for (n = 1, p = o->conf_text; p != NULL; n++, p = next) {
		next = NULL;
		if ((nl = strchr(p, '\n')) != NULL) {
			*nl = '\0';
			next = nl + 1;
		}
		if (strlen(p) > SEND_CONF_LINE_MAX)
			return send_bad("%s line %d: line too long",
			    o->conf_path, n);
		line = send_trim(p);
		if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
			continue;
		if (line[0] != '[') {
			if ((rc = send_conf_pair(o, file, line, n, in)) != 0)
				return rc;
			continue;
		}
		len = strlen(line);
		if (line[len - 1] != ']')
			return send_bad("%s line %d: expected \"[profile]\"",
			    o->conf_path, n);
		line[len - 1] = '\0';
		line = send_trim(line + 1);
		if (!send_name_ok(line))
			return send_bad("%s line %d: bad profile name "
			    "(letters, digits, '.', '_', '-')", o->conf_path,
			    n);
		in = strcmp(line, profile) == 0;
		*found = *found || in;
	}
	return 0;
}

/*
 * send_conf_load - read the config file into o->conf_text.  A missing
 * file is no error unless it was named (`named`).  *have tells whether
 * one was read.  A file holding a password that others may read is
 * refused (as ssh refuses such key files).  Returns 0 or a usage status.
 */
static int
send_conf_load(struct send_opts *o, bool named, bool *have)
{
	struct stat st;
	struct buf text;
	char chunk[4096];
	ssize_t n;
	int fd, rc = 0;

	*have = false;
	if ((fd = open(o->conf_path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT && !named)
			return 0;
		return send_bad("cannot read config file %s: %s",
		    o->conf_path, strerror(errno));
	}
	buf_init(&text, SEND_CONF_MAX);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		rc = send_bad("config file %s: not a regular file",
		    o->conf_path);
		goto done;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || memchr(chunk, '\0', (size_t)n) != NULL ||
		    buf_append(&text, chunk, (size_t)n) == -1) {
			rc = send_bad("config file %s: %s", o->conf_path,
			    n == -1 ? strerror(errno) : "not a text file of "
			    "at most 64 KiB");
			goto done;
		}
	}
	o->conf_text = buf_take(&text);
	o->conf_mode = st.st_mode;
	*have = true;
done:
	buf_clear(&text);
	close(fd);
	return rc;
}

/* send_conf_path - the config file to read into o->conf_path */
static int
send_conf_path(struct send_opts *o, bool *named)
{
	const char *x = send_env("XDG_CONFIG_HOME"), *h = send_env("HOME");
	const char *c = o->config != NULL ? o->config :
	    send_env("POSTROOM_SMTP_CONFIG");
	int n;

	*named = c != NULL;
	if (c != NULL)
		n = snprintf(o->conf_path, sizeof(o->conf_path), "%s", c);
	else if (x != NULL && x[0] == '/')
		n = snprintf(o->conf_path, sizeof(o->conf_path),
		    "%s/postroom/send.conf", x);
	else if (h != NULL)
		n = snprintf(o->conf_path, sizeof(o->conf_path),
		    "%s/.config/postroom/send.conf", h);
	else
		n = 0;		/* no home: no default file */
	if (n < 0 || (size_t)n >= sizeof(o->conf_path))
		return send_bad("config file name too long");
	return 0;
}

/*
 * send_conf_read - the profile's settings from the config file into
 * file[].  Returns 0 or a usage status.
 */
static int
send_conf_read(struct send_opts *o, struct send_val *file)
{
	const char *p = o->profile != NULL ? o->profile :
	    send_env("POSTROOM_SMTP_PROFILE");
	bool named, have, found = false;
	int rc;

	if (p != NULL && !send_name_ok(p))
		return send_bad("bad profile name '%s' (letters, digits, '.', "
		    "'_', '-')", p);
	if ((rc = send_conf_path(o, &named)) != 0)
		return rc;
	if (o->conf_path[0] != '\0' &&
	    (rc = send_conf_load(o, named, &have)) != 0)
		return rc;
	if (o->conf_path[0] == '\0' || !have) {
		if (p != NULL)
			return send_bad("profile '%s' asked for, but there is "
			    "no config file (%s)", p, o->conf_path[0] != '\0' ?
			    o->conf_path : "no $HOME");
		return 0;
	}
	if ((rc = send_conf_parse(o, p != NULL ? p : "default", file,
	    &found)) != 0)
		return rc;
	if (p != NULL && !found)
		return send_bad("no profile [%s] in %s", p, o->conf_path);
	if (o->conf_secret && (o->conf_mode & (S_IRWXG | S_IRWXO)) != 0) {
		send_err("%s holds a password but other users can read it",
		    o->conf_path);
		send_hint("chmod 600 %s", o->conf_path);
		return SEND_EXIT_USAGE;
	}
	return 0;
}

/*
 * send_merge - each setting from the first source that has it: command
 * line, environment, file.  The password and its file go together.
 */
static void
send_merge(struct send_opts *o, const struct send_val *file)
{
	struct send_val env[SK_NKEYS];
	int k;

	memset(env, 0, sizeof(env));
	for (k = 0; k < SK_NKEYS; k++)
		if ((env[k].v = send_env(send_keys[k].env)) != NULL)
			env[k].layer = SL_ENV;
	/* $POSTROOM_SMTP_PASSWORD wins over ..._PASSWORD_FILE. */
	if (env[SK_PASSWORD].v != NULL)
		env[SK_PASSWORD_FILE].v = NULL;
	if (o->opt[SK_TO].v != NULL)
		o->opt[SK_TO].v = o->to_opt.data;
	for (k = 0; k < SK_NKEYS; k++) {
		if (k == SK_PASSWORD || k == SK_PASSWORD_FILE)
			continue;
		o->val[k] = o->opt[k].v != NULL ? o->opt[k] :
		    env[k].v != NULL ? env[k] : file[k];
	}
	if (o->opt[SK_PASSWORD].v != NULL || o->opt[SK_PASSWORD_FILE].v !=
	    NULL) {
		o->val[SK_PASSWORD] = o->opt[SK_PASSWORD];
		o->val[SK_PASSWORD_FILE] = o->opt[SK_PASSWORD_FILE];
	} else if (env[SK_PASSWORD].v != NULL ||
	    env[SK_PASSWORD_FILE].v != NULL) {
		o->val[SK_PASSWORD] = env[SK_PASSWORD];
		o->val[SK_PASSWORD_FILE] = env[SK_PASSWORD_FILE];
	} else {
		o->val[SK_PASSWORD] = file[SK_PASSWORD];
		o->val[SK_PASSWORD_FILE] = file[SK_PASSWORD_FILE];
	}
}

/* send_bool - yes/no, true/false, on/off, 1/0 into *b; false if none */
static bool
send_bool(const char *s, bool *b)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < nitems(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *b = true;
		if (strcasecmp(s, no[i]) == 0) {
			*b = false;
			return true;
		}
	}
	return false;
}

/* send_text_ok - no control character (a name, a user name) */
static bool
send_text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/*
 * send_path - a file name from settings, "~/" meaning $HOME, into out.
 * Returns false when it does not fit or $HOME is unset.
 */
static bool
send_path(const char *in, char *out, size_t size)
{
	const char *h = send_env("HOME");
	int n;

	if (strncmp(in, "~/", 2) == 0) {
		if (h == NULL)
			return false;
		n = snprintf(out, size, "%s/%s", h, in + 2);
	} else {
		n = snprintf(out, size, "%s", in);
	}
	return n >= 0 && (size_t)n < size;
}

/* send_set_server - host and security; 0 or a usage status */
static int
send_set_server(const struct send_opts *o, struct send_conf *c)
{
	const char *v = o->val[SK_SERVER].v;
	size_t len;

	if (v == NULL) {
		send_err("no SMTP server given");
		send_hint("use --smtp-srv HOST, $POSTROOM_SMTP_SERVER or a "
		    "profile of %s (see --help)", o->conf_path[0] != '\0' ?
		    o->conf_path : "the config file");
		return SEND_EXIT_USAGE;
	}
	c->server = v;
	len = strlen(v);
	/* "[2001:db8::1]" as in URLs. */
	if (len > 2 && v[0] == '[' && v[len - 1] == ']') {
		v++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(c->host) || strcspn(v, " \t") < len ||
	    !send_text_ok(v))
		return send_bad_val(o, SK_SERVER, "not a host name or address");
	/* "host:587": one colon is no IPv6 address. */
	if (memchr(v, ':', len) != NULL && strchr(v, ':') == strrchr(v, ':'))
		return send_bad_val(o, SK_SERVER, "give the port with "
		    "--smtp-port (port in a profile)");
	memcpy(c->host, v, len);
	c->host[len] = '\0';
	v = o->val[SK_SECURITY].v;
	if (v == NULL || strcasecmp(v, "starttls") == 0 ||
	    strcasecmp(v, "tls") == 0)
		c->sec = SEC_STARTTLS;
	else if (strcasecmp(v, "ssl") == 0)
		c->sec = SEC_SSL;
	else if (strcasecmp(v, "none") == 0)
		c->sec = SEC_NONE;
	else
		return send_bad_val(o, SK_SECURITY, "none, ssl or starttls");
	c->port = c->sec == SEC_SSL ? 465 : c->sec == SEC_STARTTLS ? 587 : 25;
	if (o->val[SK_PORT].v != NULL &&
	    (c->port = (int)cli_num(o->val[SK_PORT].v, 1, 65535)) == -1)
		return send_bad_val(o, SK_PORT, "a number from 1 to 65535");
	return 0;
}

/* send_set_login - auth mode and user name; 0 or a usage status */
static int
send_set_login(const struct send_opts *o, struct send_conf *c)
{
	static const struct {
		const char	*name;
		enum send_auth	 auth;
	} modes[] = {
		{ "auto", AUTH_AUTO }, { "none", AUTH_NONE },
		{ "plain", AUTH_PLAIN }, { "login", AUTH_LOGIN },
		{ "cram-md5", AUTH_CRAM_MD5 },
	};
	const char *v = o->val[SK_AUTH].v;
	size_t i;

	c->auth = AUTH_AUTO;
	for (i = 0; v != NULL && i < nitems(modes); i++)
		if (strcasecmp(v, modes[i].name) == 0)
			break;
	if (i == nitems(modes))
		return send_bad_val(o, SK_AUTH, "auto, none, plain, login or "
		    "cram-md5");
	if (v != NULL)
		c->auth = modes[i].auth;
	c->auth_named = c->auth != AUTH_AUTO;
	c->user = o->val[SK_USER].v;
	if (c->user != NULL && (strlen(c->user) > SEND_SECRET_MAX ||
	    !send_text_ok(c->user)))
		return send_bad_val(o, SK_USER, "at most 255 characters, no "
		    "control characters");
	return 0;
}

/* send_set_misc - the remaining settings; 0 or a usage status */
static int
send_set_misc(const struct send_opts *o, struct send_conf *c)
{
	const char *v;

	c->timeout = SEND_TIMEOUT;
	if ((v = o->val[SK_TIMEOUT].v) != NULL &&
	    (c->timeout = (int)cli_num(v, 1, SEND_TIMEOUT_MAX)) == -1)
		return send_bad_val(o, SK_TIMEOUT, "1 to 3600 seconds");
	if ((v = o->val[SK_INSECURE].v) != NULL && !send_bool(v, &c->insecure))
		return send_bad_val(o, SK_INSECURE, "yes or no");
	if ((v = o->val[SK_STRICT].v) != NULL && !send_bool(v, &c->strict))
		return send_bad_val(o, SK_STRICT, "yes or no");
	v = o->val[SK_TO_MODE].v;
	if (v == NULL || strcasecmp(v, "all") == 0)
		c->to_mode = TO_ALL;
	else if (strcasecmp(v, "first") == 0)
		c->to_mode = TO_FIRST;
	else
		return send_bad_val(o, SK_TO_MODE, "all or first");
	c->app_name = o->val[SK_APP_NAME].v != NULL ?
	    o->val[SK_APP_NAME].v : "postroom";
	if (!notify_header_ok(c->app_name) || strlen(c->app_name) > 200)
		return send_bad_val(o, SK_APP_NAME, "a line break or control "
		    "character, not UTF-8, or over 200 bytes: refused (header "
		    "injection)");
	if ((v = o->val[SK_CA_FILE].v) != NULL) {
		if (!send_path(v, c->ca_file, sizeof(c->ca_file)))
			return send_bad_val(o, SK_CA_FILE, "name too long or "
			    "no $HOME for '~/'");
		if (access(c->ca_file, R_OK) == -1)
			return send_bad_val(o, SK_CA_FILE, strerror(errno));
	}
	return 0;
}

/* send_set_helo - the EHLO name: given, else this host's */
static int
send_set_helo(const struct send_opts *o, struct send_conf *c)
{
	const char *v = o->val[SK_HELO].v;

	if (v != NULL) {
		if (!addr_domain_ok(v, false) ||
		    !str_copy(c->helo, v, sizeof(c->helo)))
			return send_bad_val(o, SK_HELO, "not a domain name or "
			    "[address]");
		return 0;
	}
	if (gethostname(c->helo, sizeof(c->helo)) == -1 ||
	    !addr_domain_ok(c->helo, false))
		snprintf(c->helo, sizeof(c->helo), "localhost");
	return 0;
}

/* send_set_from - sender: given, else the user name if an address */
static int
send_set_from(const struct send_opts *o, struct send_conf *c)
{
	struct addr_path p;

	c->from = o->val[SK_FROM].v;
	if (c->from == NULL && c->user != NULL &&
	    addr_parse_mailbox(c->user, false, &p) == ADDR_OK)
		c->from = c->user;
	if (c->from != NULL && addr_parse_mailbox(c->from, true, &p) !=
	    ADDR_OK)
		return send_bad_val(o, SK_FROM, "not an e-mail address "
		    "(user@example.org)");
	c->to = o->val[SK_TO].v;
	return 0;
}

/*
 * send_read_pass_file - the first line of the password file (without its
 * CR/LF) into c->pass; a warning when others may read the file.  Returns
 * 0 or a usage status.
 */
static int
send_read_pass_file(const struct send_opts *o, struct send_conf *c)
{
	char path[PATH_MAX];
	struct stat st;
	FILE *fp;
	int ch, rc = 0;

	if (!send_path(o->val[SK_PASSWORD_FILE].v, path, sizeof(path)))
		return send_bad_val(o, SK_PASSWORD_FILE, "name too long or no "
		    "$HOME for '~/'");
	if ((fp = fopen(path, "r")) == NULL)
		return send_bad_val(o, SK_PASSWORD_FILE, strerror(errno));
	if (fstat(fileno(fp), &st) == 0 && (st.st_mode & S_IRWXO) != 0)
		send_err("warning: other users can read the password file %s "
		    "(chmod 600 it)", path);
	while ((ch = getc(fp)) != EOF && ch != '\n' && rc == 0)
		rc = buf_putc(&c->pass, ch);
	if (ferror(fp))
		rc = send_bad_val(o, SK_PASSWORD_FILE, strerror(errno));
	else if (rc == -1)
		rc = send_bad_val(o, SK_PASSWORD_FILE, "password longer than "
		    "255 bytes");
	fclose(fp);
	if (rc == 0 && c->pass.len > 0 && c->pass.data[c->pass.len - 1] == '\r')
		c->pass.data[--c->pass.len] = '\0';
	if (rc == 0 && c->pass.len == 0)
		rc = send_bad_val(o, SK_PASSWORD_FILE, "its first line is "
		    "empty");
	return rc;
}

/* send_set_pass - the password, from its value or its file */
static int
send_set_pass(const struct send_opts *o, struct send_conf *c)
{
	const char *v = o->val[SK_PASSWORD].v;

	if (o->val[SK_PASSWORD_FILE].v != NULL)
		return send_read_pass_file(o, c);
	if (v != NULL && buf_puts(&c->pass, v) == -1)
		return send_bad_val(o, SK_PASSWORD, "longer than 255 bytes");
	return 0;
}

/*
 * send_check_login - what the login settings allow.  The password never
 * goes out in clear text unless the mechanism was named: "auto" over
 * --smtp-sec none is refused.  Returns 0 or a usage status.
 */
static int
send_check_login(const struct send_conf *c)
{
	if (c->auth == AUTH_NONE)
		return 0;
	if (c->user == NULL && c->pass.len > 0)
		return send_bad("a password but no user name: give "
		    "--smtp-usr");
	if (c->user == NULL && c->auth_named)
		return send_bad("--smtp-auth %s needs a user name "
		    "(--smtp-usr) and a password", c->auth == AUTH_PLAIN ?
		    "plain" : c->auth == AUTH_LOGIN ? "login" : "cram-md5");
	if (c->user == NULL)
		return 0;
	if (c->pass.len == 0) {
		send_err("no password for user %s", c->user);
		send_hint("give --password-file FILE, $POSTROOM_SMTP_PASSWORD "
		    "or password_file in the profile; for a relay without "
		    "login use --smtp-auth none");
		return SEND_EXIT_USAGE;
	}
	if (c->sec == SEC_NONE && !c->auth_named) {
		send_err("refusing to send the password without TLS "
		    "(--smtp-sec none)");
		send_hint("use --smtp-sec starttls (port 587) or ssl (port "
		    "465); on a network you trust, name the mechanism "
		    "(--smtp-auth plain, login or cram-md5) to send it "
		    "anyway");
		return SEND_EXIT_USAGE;
	}
	return 0;
}

/* send_settings - every setting merged, typed and checked */
static int
send_settings(struct send_opts *o, struct send_conf *c)
{
	struct send_val file[SK_NKEYS];
	int rc;

	memset(file, 0, sizeof(file));
	if ((rc = send_conf_read(o, file)) != 0)
		return rc;
	send_merge(o, file);
	if ((rc = send_set_server(o, c)) != 0 ||
	    (rc = send_set_login(o, c)) != 0 ||
	    (rc = send_set_misc(o, c)) != 0 ||
	    (rc = send_set_helo(o, c)) != 0 ||
	    (rc = send_set_from(o, c)) != 0 ||
	    (rc = send_set_pass(o, c)) != 0)
		return rc;
	return send_check_login(c);
}

/*
 * Recipients and the message.
 */

/* send_clean - s for the terminal, control bytes as '?', into out */
static const char *
send_clean(const char *s, char *out, size_t size)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' :
		    s[i];
	out[i] = '\0';
	return out;
}

/* send_rcpt_add - one list item: checked, normalized, kept once */
static int
send_rcpt_add(const struct send_conf *c, struct send_rcpts *r, char *item)
{
	char shown[ADDR_PATH_MAX + 8], *addr = r->addr[r->n];
	struct addr_path p;
	enum addr_err e;
	size_t i, len = strlen(item);

	if (len >= 2 && item[0] == '<' && item[len - 1] == '>') {
		item[len - 1] = '\0';
		item++;
	}
	if ((e = addr_parse_mailbox(item, true, &p)) != ADDR_OK ||
	    addr_format(&p, addr, ADDR_PATH_MAX) == -1) {
		send_err("%s recipient '%s': %s", c->strict ? "invalid" :
		    "skipping invalid", send_clean(item, shown, sizeof(shown)),
		    e != ADDR_OK ? addr_strerror(e) : "too long");
		return c->strict ? -1 : 0;
	}
	for (i = 0; i < r->n; i++)
		if (strcasecmp(r->addr[i], addr) == 0)
			return 0;
	for (i = 0; addr[i] != '\0'; i++)
		if ((unsigned char)addr[i] >= 0x80)
			r->utf8 = true;
	r->n++;
	return 0;
}

/*
 * send_rcpts_parse - the comma-separated list c->to: every address
 * checked (RFC 5321 mailbox), invalid ones reported and skipped (an
 * error with --strict), duplicates dropped.  Returns 0 or a usage
 * status.
 */
static int
send_rcpts_parse(const struct send_conf *c, struct send_rcpts *r)
{
	char *list, *item, *save = NULL;
	int rc = 0;

	if (c->to == NULL)
		return send_bad("no recipient: give --mail-to ADDRESS[,...]");
	if ((list = strdup(c->to)) == NULL ||
	    (r->addr = calloc(SEND_RCPTS_MAX, sizeof(*r->addr))) == NULL) {
		free(list);
		return send_bad("out of memory");
	}
	for (item = strtok_r(list, ",", &save); item != NULL && rc == 0;
	    item = strtok_r(NULL, ",", &save)) {
		item = send_trim(item);
		if (item[0] == '\0')
			continue;
		if (r->n == SEND_RCPTS_MAX)
			rc = send_bad("more than %d recipients",
			    SEND_RCPTS_MAX);
		else if (send_rcpt_add(c, r, item) == -1)
			rc = SEND_EXIT_USAGE;
	}
	free(list);
	if (rc == 0 && r->n == 0)
		rc = send_bad("no valid recipient in '%s'", c->to);
	return rc;
}

/*
 * send_body_add - p[0..n) appended to the summary, each NUL as U+FFFD:
 * the summary is a C string, and notify_compose turns invalid UTF-8 and
 * control characters (a job's Latin-1 file names, terminal escapes)
 * into U+FFFD itself.  Returns 0 or -1 (the buffer's limit).
 */
static int
send_body_add(struct buf *body, const char *p, size_t n)
{
	const char *z;
	size_t k;

	while ((z = memchr(p, '\0', n)) != NULL) {
		k = (size_t)(z - p);
		if (buf_append(body, p, k) == -1 ||
		    buf_puts(body, "\xef\xbf\xbd") == -1)
			return -1;
		p += k + 1;
		n -= k + 1;
	}
	return buf_append(body, p, n);
}

/*
 * send_read_stdin - standard input to its end; only the last
 * SEND_BODY_MAX bytes are kept, from a line start, with a note saying
 * how much was left out (the end of a job's output says how it ended).
 * Returns 0 or a status.
 */
static int
send_read_stdin(struct buf *body)
{
	size_t cap = 2 * SEND_BODY_MAX, len = 0, cut = 0, skip;
	const char *nl;
	char *p;
	ssize_t n = 0;
	int rc = 0;

	if ((p = malloc(cap)) == NULL)
		return send_bad("out of memory");
	for (;;) {
		if (len == cap) {
			memmove(p, p + cap - SEND_BODY_MAX, SEND_BODY_MAX);
			cut += cap - SEND_BODY_MAX;
			len = SEND_BODY_MAX;
		}
		if ((n = read(STDIN_FILENO, p + len, cap - len)) > 0)
			len += (size_t)n;
		else if (n == 0 || errno != EINTR)
			break;
	}
	/* A closed standard input (some schedulers) is an empty one. */
	if (n == -1 && errno != EBADF) {
		free(p);
		return send_bad("cannot read standard input: %s",
		    strerror(errno));
	}
	skip = len > SEND_BODY_MAX ? len - SEND_BODY_MAX : 0;
	cut += skip;
	if (cut > 0 && (nl = memchr(p + skip, '\n', len - skip)) != NULL) {
		cut += (size_t)(nl + 1 - (p + skip));
		skip = (size_t)(nl + 1 - p);
	}
	if (cut > 0 && buf_printf(body, "[The first %zu bytes of the input "
	    "are left out: only the last MiB is kept.]\n\n", cut) == -1)
		rc = -1;
	if (rc == 0)
		rc = send_body_add(body, p + skip, len - skip);
	free(p);
	return rc == 0 ? 0 : send_bad("out of memory");
}

/* send_read_body - --body, else standard input when not a terminal */
static int
send_read_body(const struct send_opts *o, struct send_input *in)
{
	if (o->body != NULL) {
		if (strlen(o->body) > SEND_BODY_MAX)
			return send_bad("--body longer than 1 MiB: use "
			    "--attach FILE");
		if (buf_puts(&in->body, o->body) == -1)
			return send_bad("out of memory");
		return 0;
	}
	if (isatty(STDIN_FILENO))
		return 0;
	return send_read_stdin(&in->body);
}

/*
 * send_slurp - the file at path into out (buf_init'ed with its limit).
 * Returns 0, 1 when it is larger than the limit, or -1 with errno.
 */
static int
send_slurp(const char *path, struct buf *out)
{
	char chunk[65536];
	ssize_t n;
	int fd, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		if (out->len + (size_t)n > out->max) {
			close(fd);
			return 1;
		}
		if (buf_append(out, chunk, (size_t)n) == -1) {
			errno = ENOMEM;
			n = -1;
			break;
		}
	}
	e = errno;
	close(fd);
	errno = e;
	return n == -1 ? -1 : 0;
}

/* send_read_attach - every --attach file, checked against the limits */
static int
send_read_attach(const struct send_opts *o, struct send_input *in)
{
	size_t i, total = 0;
	const char *base;
	int rc;

	if (o->nattach == 0)
		return 0;
	in->attach = calloc(o->nattach, sizeof(*in->attach));
	in->files = calloc(o->nattach, sizeof(*in->files));
	if (in->attach == NULL || in->files == NULL)
		return send_bad("out of memory");
	for (i = 0; i < o->nattach; i++) {
		buf_init(&in->files[i], SEND_ATTACH_SIZE);
		in->nattach++;
		if ((rc = send_slurp(o->attach[i], &in->files[i])) == -1)
			return send_bad("cannot read attachment %s: %s",
			    o->attach[i], strerror(errno));
		total += in->files[i].len;
		if (rc == 1 || total > SEND_ATTACH_TOTAL) {
			send_err("attachment %s: %s", o->attach[i], rc == 1 ?
			    "larger than 10 MiB" : "all attachments together "
			    "are larger than 25 MiB");
			send_hint("mail servers refuse big messages; compress "
			    "it (gzip) or attach its end (tail -c 1M FILE)");
			return SEND_EXIT_USAGE;
		}
		base = strrchr(o->attach[i], '/');
		in->attach[i].name = base != NULL && base[1] != '\0' ?
		    base + 1 : o->attach[i];
		in->attach[i].data = in->files[i].data;
		in->attach[i].len = in->files[i].len;
	}
	return 0;
}

/* send_read_fields - every --field KEY=VALUE */
static int
send_read_fields(const struct send_opts *o, struct send_input *in)
{
	const char *eq;
	size_t i;

	if (o->nfields == 0)
		return 0;
	if ((in->fields = calloc(o->nfields, sizeof(*in->fields))) == NULL)
		return send_bad("out of memory");
	for (i = 0; i < o->nfields; i++) {
		eq = strchr(o->fields[i], '=');
		if (eq == NULL || eq == o->fields[i])
			return send_bad("--field %s: expected KEY=VALUE",
			    o->fields[i]);
		if ((in->fields[i].key = strndup(o->fields[i],
		    (size_t)(eq - o->fields[i]))) == NULL)
			return send_bad("out of memory");
		in->fields[i].value = eq + 1;
		in->nfields++;
	}
	return 0;
}

/* send_read_input - what the report is made of; 0 or a status */
static int
send_read_input(const struct send_opts *o, struct send_input *in)
{
	char name[16];
	int rc;

	/* U+FFFD has 3 bytes: room for every NUL to become one. */
	buf_init(&in->body, 3 * SEND_BODY_MAX + 256);
	in->status = NOTIFY_INFO;
	if (o->status != NULL && !notify_status_parse(o->status, &in->status))
		return send_bad("--status %s: success, failure, warning or "
		    "info", o->status);
	if (gethostname(in->hostname, sizeof(in->hostname)) == -1 ||
	    in->hostname[0] == '\0')
		snprintf(in->hostname, sizeof(in->hostname), "localhost");
	in->title = o->title;
	if (o->test && o->title == NULL)
		in->title = "Test message";
	if (in->title == NULL) {
		/* "Failure on db1": what a subject line needs to say. */
		snprintf(name, sizeof(name), "%s",
		    notify_status_name(in->status));
		name[0] = (char)(name[0] - 'a' + 'A');
		snprintf(in->title_buf, sizeof(in->title_buf), "%s on %s",
		    name, in->hostname);
		in->title = in->title_buf;
	}
	if (!notify_header_ok(in->title))
		return send_bad("--title: a line break or control character, "
		    "or not UTF-8: refused (header injection)");
	buf_init(&in->template, SEND_TEMPLATE_MAX);
	if (o->template != NULL &&
	    (rc = send_slurp(o->template, &in->template)) != 0)
		return send_bad("cannot read template %s: %s", o->template,
		    rc == 1 ? "larger than 256 KiB" : strerror(errno));
	if (o->test)
		return 0;
	if ((rc = send_read_fields(o, in)) != 0 ||
	    (rc = send_read_attach(o, in)) != 0)
		return rc;
	return send_read_body(o, in);
}

/* send_input_clear - free what send_read_input read */
static void
send_input_clear(struct send_input *in)
{
	size_t i;

	buf_clear(&in->body);
	buf_clear(&in->template);
	for (i = 0; i < in->nfields; i++)
		free((char *)in->fields[i].key);
	free(in->fields);
	for (i = 0; i < in->nattach; i++)
		buf_clear(&in->files[i]);
	free(in->files);
	free(in->attach);
}

/*
 * send_compose - the report into msg (notify_compose): To: lists every
 * recipient, or only the first with --to-mode first.  Returns 0 or a
 * usage status (a value notify refuses).
 */
static int
send_compose(const struct send_conf *c, const struct send_input *in,
    const struct send_rcpts *r, struct buf *msg)
{
	struct notify_msg m;
	const char **to;
	char err[256];
	size_t i;
	int rc = 0;

	if ((to = calloc(r->n, sizeof(*to))) == NULL)
		return send_bad("out of memory");
	for (i = 0; i < r->n; i++)
		to[i] = r->addr[i];
	memset(&m, 0, sizeof(m));
	m.app_name = c->app_name;
	m.title = in->title;
	m.status = in->status;
	m.body = in->body.data;
	m.fields = in->fields;
	m.nfields = in->nfields;
	m.attach = in->attach;
	m.nattach = in->nattach;
	m.from = c->from;
	m.to = to;
	m.nto = c->to_mode == TO_FIRST ? 1 : r->n;
	m.html_template = in->template.len > 0 ? in->template.data : NULL;
	m.hostname = in->hostname;
	m.when = time(NULL);
	if (notify_compose(&m, msg, err, sizeof(err)) == -1)
		rc = send_bad("cannot compose the message: %s", err);
	free(to);
	return rc;
}

/*
 * The session, driven on loop 0.  Functions named *_cb run there; the
 * others run on this thread.
 */

/* send_wake - the step handed to the loop has ended */
static void
send_wake(struct send_sess *ss)
{
	pthread_mutex_lock(&ss->mu);
	ss->done = true;
	pthread_cond_signal(&ss->cv);
	pthread_mutex_unlock(&ss->mu);
}

/* send_keep - what the session shows, kept for this thread */
static void
send_keep(struct send_sess *ss, struct smtpc *s)
{
	const struct buf *t = smtpc_transcript(s);
	const char *a = smtpc_auth_used(s);

	if (buf_append(&ss->ts, t->data, t->len) == -1)
		log_warn("send: transcript dropped (too long)");
	smtpc_transcript_reset(s);
	snprintf(ss->peer, sizeof(ss->peer), "%s", smtpc_peer(s));
	snprintf(ss->tls, sizeof(ss->tls), "%s", smtpc_tls_info(s));
	snprintf(ss->auth, sizeof(ss->auth), "%s", a != NULL ? a : "");
	ss->caps = *smtpc_caps(s);
}

/* send_local_fail - a step that could not even start */
static void
send_local_fail(struct send_sess *ss, enum smtpc_stage stage,
    enum smtpc_why why, const char *text)
{
	memset(&ss->err, 0, sizeof(ss->err));
	ss->err.code = 421;
	ss->err.stage = stage;
	ss->err.why = why;
	ss->err.temporary = true;
	snprintf(ss->err.text, sizeof(ss->err.text), "%s", text);
	ss->failed = true;
	send_wake(ss);
}

/* send_ready_cb - set up, or failed (then s is freed after this) */
static void
send_ready_cb(struct smtpc *s, void *arg, const struct smtpc_result *err)
{
	struct send_sess *ss = arg;

	send_keep(ss, s);
	if (err != NULL) {
		ss->err = *err;
		ss->failed = true;
		ss->s = NULL;
	}
	send_wake(ss);
}

/* send_open_cb - connect to ss->to */
static void
send_open_cb(void *arg)
{
	struct send_sess *ss = arg;
	char text[128];

	ss->failed = false;
	ss->s = smtpc_open(ev_loop_at(0), (struct sockaddr *)&ss->to,
	    ss->tolen, &ss->conf, send_ready_cb, ss);
	if (ss->s == NULL) {
		snprintf(text, sizeof(text), "cannot open a socket: %s",
		    strerror(errno));
		send_local_fail(ss, SMTPC_ST_CONNECT, SMTPC_WHY_LOCAL, text);
	}
}

/* send_done_cb - the transaction has its results */
static void
send_done_cb(struct smtpc *s, void *arg, struct smtpc_txn *txn)
{
	struct send_sess *ss = arg;

	(void)txn;
	send_keep(ss, s);
	send_wake(ss);
}

/* send_txn_cb - start the transaction */
static void
send_txn_cb(void *arg)
{
	struct send_sess *ss = arg;

	ss->failed = false;
	if (ss->s == NULL || smtpc_send(ss->s, ss->txn, send_done_cb, ss) ==
	    -1)
		send_local_fail(ss, SMTPC_ST_MAIL, SMTPC_WHY_CLOSED,
		    "the server closed the connection before the message "
		    "was sent");
}

/* send_quit_cb - QUIT and let the session go */
static void
send_quit_cb(void *arg)
{
	struct send_sess *ss = arg;

	smtpc_quit(ss->s);
	ss->s = NULL;
	send_wake(ss);
}

/* send_in_loop - run fn on loop 0 and wait until it wakes us; 0 or -1 */
static int
send_in_loop(struct send_sess *ss, void (*fn)(void *))
{
	if (ev_run_in_loop(ev_loop_at(0), fn, ss) == -1)
		return -1;
	pthread_mutex_lock(&ss->mu);
	while (!ss->done)
		pthread_cond_wait(&ss->cv, &ss->mu);
	ss->done = false;
	pthread_mutex_unlock(&ss->mu);
	return 0;
}

/*
 * Reports.
 */

/* send_step - one line of --test: 1 done, 0 failed, -1 skipped */
static void
send_step(const struct send_run *r, int ok, const char *fmt, ...)
{
	/* Skipped, failed, done; the second row is "-", U+2717, U+2713. */
	static const char *const marks[2][3] = {
		{ "--  ", "FAIL", "ok  " },
		{ "-", "\xe2\x9c\x97", "\xe2\x9c\x93" },
	};
	va_list ap;

	if (!r->test)
		return;
	printf("%s ", marks[r->utf8_marks][ok + 1]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* send_show_ts - --verbose: the transcript of the step on stderr */
static void
send_show_ts(struct send_run *r)
{
	const char *p;

	if (r->verbose && r->sess.ts.len > 0) {
		fflush(stdout);
		for (p = r->sess.ts.data; *p != '\0'; p++)
			fputc((unsigned char)*p < 0x20 && *p != '\n' ? '?' :
			    *p, stderr);
	}
	buf_reset(&r->sess.ts);
}

/* send_caps_text - "ESMTP PIPELINING ... AUTH PLAIN LOGIN" into out */
static const char *
send_caps_text(const struct smtpc_caps *k, char *out, size_t size)
{
	snprintf(out, size, "%s%s%s%s%s%s", k->esmtp ? "ESMTP" : "SMTP",
	    k->pipelining ? " PIPELINING" : "", k->eightbitmime ?
	    " 8BITMIME" : "", k->smtputf8 ? " SMTPUTF8" : "",
	    k->chunking ? " CHUNKING" : "", k->starttls ? " STARTTLS" : "");
	if (k->has_size && k->size > 0)
		snprintf(out + strlen(out), size - strlen(out), " SIZE %llu",
		    (unsigned long long)k->size);
	if (k->auth != 0)
		snprintf(out + strlen(out), size - strlen(out), " AUTH%s%s%s",
		    k->auth & SMTPC_AUTH_CRAM_MD5 ? " CRAM-MD5" : "",
		    k->auth & SMTPC_AUTH_PLAIN ? " PLAIN" : "",
		    k->auth & SMTPC_AUTH_LOGIN ? " LOGIN" : "");
	return out;
}

/* send_steps - the --test lines of the set-up steps before `upto` */
static void
send_steps(const struct send_run *r, enum send_step upto)
{
	const struct send_conf *c = r->conf;
	const struct send_sess *ss = &r->sess;
	char caps[256];

	if (upto > STEP_CONNECT)
		send_step(r, 1, "connected to %s", ss->peer);
	if (upto > STEP_SMTP)
		send_step(r, 1, "the server speaks %s",
		    send_caps_text(&ss->caps, caps, sizeof(caps)));
	if (upto > STEP_TLS && c->sec == SEC_NONE)
		send_step(r, -1, "no TLS (--smtp-sec none): everything "
		    "travels in clear text");
	else if (upto > STEP_TLS)
		send_step(r, 1, "%s: %s%s", c->sec == SEC_SSL ?
		    "TLS from the first byte" : "STARTTLS", ss->tls,
		    c->insecure ? " (any certificate accepted: --insecure)" :
		    "");
	if (upto > STEP_AUTH && (c->user == NULL || c->auth == AUTH_NONE))
		send_step(r, -1, "no login (%s)", c->auth == AUTH_NONE ?
		    "--smtp-auth none" : "no user name given");
	else if (upto > STEP_AUTH)
		send_step(r, 1, "logged in as %s with %s", c->user,
		    ss->auth[0] != '\0' ? ss->auth : "AUTH");
}

/* send_err_step - the --test step a failure belongs to */
static enum send_step
send_err_step(const struct smtpc_result *e)
{
	switch (e->why) {
	case SMTPC_WHY_TLS_HANDSHAKE:
	case SMTPC_WHY_TLS_CERT:
	case SMTPC_WHY_NO_STARTTLS:
		return STEP_TLS;
	case SMTPC_WHY_NO_AUTH_MECH:
		return STEP_AUTH;
	case SMTPC_WHY_REFUSED:
	case SMTPC_WHY_UNREACHABLE:
		return STEP_CONNECT;
	default:
		break;
	}
	switch (e->stage) {
	case SMTPC_ST_CONNECT:
		return STEP_CONNECT;
	case SMTPC_ST_GREETING:
	case SMTPC_ST_EHLO:
		return STEP_SMTP;
	case SMTPC_ST_STARTTLS:
		return STEP_TLS;
	case SMTPC_ST_AUTH:
		return STEP_AUTH;
	default:
		return STEP_SEND;
	}
}

/* send_status - the exit status of a failure */
static int
send_status(const struct smtpc_result *e)
{
	switch (e->why) {
	case SMTPC_WHY_REFUSED:
	case SMTPC_WHY_UNREACHABLE:
		return SEND_EXIT_CONNECT;
	case SMTPC_WHY_TIMEOUT:
		return SEND_EXIT_TIMEOUT;
	case SMTPC_WHY_TLS_HANDSHAKE:
		return SEND_EXIT_TLS;
	case SMTPC_WHY_TLS_CERT:
		return SEND_EXIT_CERT;
	case SMTPC_WHY_NO_STARTTLS:
		return SEND_EXIT_NO_STARTTLS;
	case SMTPC_WHY_NO_AUTH_MECH:
		return SEND_EXIT_AUTH;
	case SMTPC_WHY_CLOSED:
	case SMTPC_WHY_PROTOCOL:
	case SMTPC_WHY_LOCAL:
		return SEND_EXIT_OTHER;
	case SMTPC_WHY_NONE:
		break;
	}
	switch (e->stage) {
	case SMTPC_ST_STARTTLS:
		return SEND_EXIT_NO_STARTTLS;	/* STARTTLS refused */
	case SMTPC_ST_AUTH:
		return SEND_EXIT_AUTH;
	case SMTPC_ST_MAIL:
		return SEND_EXIT_SENDER;
	case SMTPC_ST_RCPT:
		return SEND_EXIT_RCPT;
	case SMTPC_ST_DATA:
	case SMTPC_ST_DOT:
	case SMTPC_ST_POLICY:
		return SEND_EXIT_MESSAGE;
	default:
		return SEND_EXIT_OTHER;
	}
}

/* send_reply - "535 5.7.8 text" of a result, for the terminal */
static const char *
send_reply(const struct smtpc_result *e, char *out, size_t size)
{
	char text[sizeof(e->text)];

	snprintf(out, size, "%d%s%s %s%s", e->code, e->enh[0] != '\0' ?
	    " " : "", e->enh, send_clean(e->text, text, sizeof(text)),
	    e->temporary && e->why == SMTPC_WHY_NONE ?
	    " (temporary: try again later)" : "");
	return out;
}

/* Names of the stages, for "while waiting for ...". */
static const char *const send_stage_names[] = {
	[SMTPC_ST_CONNECT] = "the connection",
	[SMTPC_ST_GREETING] = "the greeting",
	[SMTPC_ST_EHLO] = "the reply to EHLO",
	[SMTPC_ST_STARTTLS] = "STARTTLS",
	[SMTPC_ST_AUTH] = "the login",
	[SMTPC_ST_MAIL] = "the reply to MAIL",
	[SMTPC_ST_RCPT] = "the reply to RCPT",
	[SMTPC_ST_DATA] = "the reply to DATA",
	[SMTPC_ST_DOT] = "the reply to the message",
	[SMTPC_ST_POLICY] = "the message",
};

/* send_explain_net - refused, unreachable, timed out, closed, garbage */
static void
send_explain_net(const struct send_run *r, const struct smtpc_result *e)
{
	const struct send_conf *c = r->conf;
	const char *st = send_stage_names[e->stage];
	char text[sizeof(e->text)];

	send_clean(e->text, text, sizeof(text));
	if (e->why == SMTPC_WHY_REFUSED) {
		send_err("cannot connect to %s port %d: connection refused%s",
		    c->host, c->port, r->naddrs > 1 ? " (every address)" : "");
		send_hint("nothing accepts connections there: check "
		    "--smtp-srv and --smtp-port (587 for starttls, 465 for "
		    "ssl, 25 for a relay without login)");
	} else if (e->why == SMTPC_WHY_UNREACHABLE) {
		send_err("cannot connect to %s port %d: %s", c->host, c->port,
		    text);
		send_hint("this machine has no route to the server: check "
		    "the network, a VPN, or IPv6 connectivity");
	} else if (e->why == SMTPC_WHY_TIMEOUT &&
	    e->stage == SMTPC_ST_CONNECT) {
		send_err("connecting to %s port %d timed out", c->host,
		    c->port);
		send_hint("a firewall drops the connection; many networks "
		    "and cloud providers block outgoing port 25: use 587 "
		    "(--smtp-sec starttls) or 465 (--smtp-sec ssl)");
	} else if (e->why == SMTPC_WHY_TIMEOUT &&
	    e->stage == SMTPC_ST_GREETING && c->sec != SEC_SSL) {
		send_err("%s port %d took the connection but sent no "
		    "greeting within %d s", c->host, c->port, c->timeout);
		send_hint("port 465 expects TLS from the first byte: use "
		    "--smtp-sec ssl there; otherwise the server is "
		    "overloaded or not an SMTP server");
	} else if (e->why == SMTPC_WHY_TIMEOUT) {
		send_err("no answer from %s within %d s (waiting for %s)",
		    c->host, c->timeout, st);
		send_hint("the server is slow or the network lost the "
		    "connection: try again, or raise --timeout");
	} else {
		send_err("%s while waiting for %s: %s", e->why ==
		    SMTPC_WHY_PROTOCOL ? "the server's answer is not SMTP" :
		    e->why == SMTPC_WHY_LOCAL ? "local failure" :
		    "the server closed the connection", st, text);
		send_hint("check --smtp-port and --smtp-sec (port 465 needs "
		    "ssl, 587 starttls); a server may also refuse clients "
		    "it does not like or limit connections");
	}
}

/* send_explain_tls - handshake failed, certificate, no STARTTLS */
static void
send_explain_tls(const struct send_run *r, const struct smtpc_result *e)
{
	const struct send_conf *c = r->conf;
	char text[sizeof(e->text)];

	send_clean(e->text, text, sizeof(text));
	if (e->why == SMTPC_WHY_TLS_CERT) {
		send_err("the certificate of %s is not trusted: %s", c->host,
		    text);
		send_hint("for a self-signed or private certificate give its "
		    "CA with --ca-file FILE.pem, or accept any certificate "
		    "with --insecure (then an attacker on the way could read "
		    "the password); check also that --smtp-srv is the name "
		    "the certificate is for");
	} else if (e->why == SMTPC_WHY_TLS_HANDSHAKE) {
		send_err("the TLS handshake with %s port %d failed: %s",
		    c->host, c->port, text);
		if (c->sec == SEC_SSL)
			send_hint("ports 587 and 25 start in clear text: use "
			    "--smtp-sec starttls there (ssl is for port 465)");
		else
			send_hint("the server's TLS does not work with this "
			    "client (TLS 1.2 or newer is needed) or something "
			    "on the way interferes");
	} else {
		send_err("%s port %d does not offer STARTTLS: %s", c->host,
		    c->port, text);
		send_hint("port 465 needs --smtp-sec ssl; only for a server "
		    "without TLS on a network you trust, use --smtp-sec "
		    "none (everything then travels in clear text)");
	}
}

/* send_explain_auth - no usable mechanism, or the login refused */
static void
send_explain_auth(const struct send_run *r, const struct smtpc_result *e)
{
	const struct send_conf *c = r->conf;
	char reply[sizeof(e->text) + 64], caps[256];

	if (e->why == SMTPC_WHY_NO_AUTH_MECH) {
		send_err("%s offers no login mechanism to use (%s)", c->host,
		    send_caps_text(&r->sess.caps, caps, sizeof(caps)));
		send_hint("%s", r->sess.caps.auth == 0 && c->sec == SEC_NONE ?
		    "most servers offer AUTH only after TLS: use --smtp-sec "
		    "starttls" : r->sess.caps.auth == 0 ? "the server takes "
		    "no login here: use --smtp-auth none if it relays for "
		    "this machine" : "choose one it offers with --smtp-auth");
		return;
	}
	send_err("login as %s refused: %s", c->user,
	    send_reply(e, reply, sizeof(reply)));
	if (strcasestr(c->host, "gmail") != NULL ||
	    strcasestr(c->host, "google") != NULL)
		send_hint("Gmail refuses the account password here: create "
		    "an app password (Google Account > Security > 2-Step "
		    "Verification > App passwords) and use it");
	else
		send_hint("check the user name and password; Gmail, Outlook "
		    "and Yahoo need an app password instead of the account "
		    "password, and SendGrid's user name is \"apikey\"");
}

/* send_step_failed - the --test line of the step that failed */
static void
send_step_failed(const struct send_run *r, enum send_step st)
{
	const struct send_conf *c = r->conf;

	/* The set-up steps that worked (printed already when it all did). */
	if (st < STEP_SEND)
		send_steps(r, st);
	switch (st) {
	case STEP_RESOLVE:
	case STEP_CONNECT:
		send_step(r, 0, "connect to %s port %d", c->host, c->port);
		break;
	case STEP_SMTP:
		send_step(r, 0, "SMTP greeting and EHLO");
		break;
	case STEP_TLS:
		send_step(r, 0, "%s", c->sec == SEC_SSL ? "TLS handshake" :
		    "STARTTLS");
		break;
	case STEP_AUTH:
		send_step(r, 0, "login as %s", c->user);
		break;
	case STEP_SEND:
		send_step(r, 0, "send the message");
		break;
	}
	fflush(stdout);
}

/* send_explain_refused - the server refused the sender or the message */
static void
send_explain_refused(const struct send_run *r, const struct smtpc_result *e,
    int status)
{
	char reply[sizeof(e->text) + 64];

	send_reply(e, reply, sizeof(reply));
	if (status == SEND_EXIT_SENDER) {
		send_err("the server refused the sender %s: %s", r->conf->from,
		    reply);
		send_hint("%s", e->code == 530 ? "the server wants TLS or a "
		    "login first (--smtp-sec starttls, --smtp-usr)" : "most "
		    "providers take only the address you log in with, or a "
		    "verified sender or domain (SES, SendGrid, Mailgun), as "
		    "--mail-from");
	} else if (status == SEND_EXIT_MESSAGE) {
		send_err("the server refused the message: %s", reply);
		send_hint("the reply says why: too big (attach less, compress "
		    "logs), taken for spam, or a rule of the provider");
	} else {
		send_err("the server refused the session at %s: %s",
		    send_stage_names[e->stage], reply);
		send_hint("the reply says why (a blocked address, a limit, "
		    "or --helo NAME to give another EHLO name)");
	}
}

/*
 * send_explain - a failure in the user's words on stderr (and the --test
 * steps on stdout); returns its exit status
 */
static int
send_explain(const struct send_run *r, const struct smtpc_result *e)
{
	int status = send_status(e);

	send_step_failed(r, send_err_step(e));
	switch (status) {
	case SEND_EXIT_TLS:
	case SEND_EXIT_CERT:
	case SEND_EXIT_NO_STARTTLS:
		send_explain_tls(r, e);
		break;
	case SEND_EXIT_AUTH:
		send_explain_auth(r, e);
		break;
	default:
		if (e->why != SMTPC_WHY_NONE)
			send_explain_net(r, e);
		else
			send_explain_refused(r, e, status);
		break;
	}
	/* A conversation took place: it shows what happened. */
	if (!r->verbose && e->stage != SMTPC_ST_CONNECT)
		fputs("(--verbose shows the SMTP conversation)\n", stderr);
	return status;
}

/*
 * send_txn_report - the outcome of the transaction: every refused
 * recipient listed; returns the exit status
 */
static int
send_txn_report(const struct send_run *r, const struct smtpc_txn *t)
{
	char reply[sizeof(t->res.text) + 64];
	size_t i, nref = 0;

	/* The connection failed, or MAIL, DATA or the message refused. */
	if (t->res.code / 100 != 2 && (t->res.why != SMTPC_WHY_NONE ||
	    t->res.stage != SMTPC_ST_RCPT))
		return send_explain(r, &t->res);
	for (i = 0; i < t->nrcpts; i++) {
		if (t->rcpts[i].res.code / 100 == 2)
			continue;
		if (nref++ == 0)
			send_step(r, 0, "send the message");
		fflush(stdout);
		send_err("recipient %s refused: %s", t->rcpts[i].r.addr,
		    send_reply(&t->rcpts[i].res, reply, sizeof(reply)));
	}
	if (nref > 0) {
		if (t->naccepted > 0)
			send_err("the message went to the other %zu of %zu "
			    "recipients", t->naccepted, t->nrcpts);
		else
			send_err("the message was not sent");
		send_hint("check the addresses; \"relay access denied\" means "
		    "the server wants a login (--smtp-usr) or does not relay "
		    "for this sender");
		return SEND_EXIT_RCPT;
	}
	send_step(r, 1, "message accepted for %zu recipient%s: %s",
	    t->nrcpts, t->nrcpts > 1 ? "s" : "", send_reply(&t->res, reply,
	    sizeof(reply)));
	if (r->verbose && !r->test)
		send_err("sent to %zu recipient%s through %s: %s", t->nrcpts,
		    t->nrcpts > 1 ? "s" : "", r->sess.peer, reply);
	return SEND_EXIT_OK;
}

/*
 * The run.
 */

/* send_resolve - the server's addresses (getaddrinfo); 0 or a status */
static int
send_resolve(struct send_run *r, struct addrinfo **res)
{
	const struct send_conf *c = r->conf;
	struct addrinfo hints, *ai;
	char port[8], ips[160] = "", ip[INET6_ADDRSTRLEN];
	int e, n = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", c->port);
	if ((e = getaddrinfo(c->host, port, &hints, res)) != 0) {
		send_step(r, 0, "resolve %s", c->host);
		fflush(stdout);
		send_err("cannot resolve host '%s': %s", c->host,
		    e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
		send_hint("check the spelling of --smtp-srv and that this "
		    "machine can use DNS (try: getent hosts %s)", c->host);
		return SEND_EXIT_RESOLVE;
	}
	for (ai = *res; ai != NULL && n < 4; ai = ai->ai_next, n++)
		snprintf(ips + strlen(ips), sizeof(ips) - strlen(ips), "%s%s",
		    n > 0 ? ", " : "", ipaddr_str(ai->ai_addr, ip,
		    sizeof(ip)));
	send_step(r, 1, "resolved %s: %s%s", c->host, ips, ai != NULL ?
	    ", ..." : "");
	return 0;
}

/* send_conn_failed - the connection itself failed: try the next address */
static bool
send_conn_failed(const struct smtpc_result *e)
{
	return e->stage == SMTPC_ST_CONNECT && (e->why == SMTPC_WHY_REFUSED ||
	    e->why == SMTPC_WHY_UNREACHABLE || e->why == SMTPC_WHY_TIMEOUT);
}

/*
 * send_connect - a session set up with the first address that takes the
 * connection.  Returns 0 (r->sess.s is ready) or a status.
 */
static int
send_connect(struct send_run *r, const struct addrinfo *res)
{
	struct send_sess *ss = &r->sess;
	const struct addrinfo *ai;
	char ip[INET6_ADDRSTRLEN], text[sizeof(ss->err.text)];

	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((size_t)ai->ai_addrlen > sizeof(ss->to))
			continue;
		memcpy(&ss->to, ai->ai_addr, ai->ai_addrlen);
		ss->tolen = ai->ai_addrlen;
		r->naddrs++;
		if (send_in_loop(ss, send_open_cb) == -1)
			send_local_fail(ss, SMTPC_ST_CONNECT, SMTPC_WHY_LOCAL,
			    "cannot reach the event loop");
		send_show_ts(r);
		if (!ss->failed)
			return 0;
		if (!send_conn_failed(&ss->err) || ai->ai_next == NULL)
			break;
		if (r->verbose)
			send_err("%s: %s; trying the next address",
			    ipaddr_str(ai->ai_addr, ip, sizeof(ip)),
			    send_clean(ss->err.text, text, sizeof(text)));
	}
	return send_explain(r, &ss->err);
}

/* send_test_input - the body and fields of the --test message */
static int
send_test_input(const struct send_run *r, struct send_input *in,
    struct notify_field *f, char (*vals)[300])
{
	const struct send_conf *c = r->conf;

	if (buf_printf(&in->body, "This message was sent by `postroom send "
	    "--test` on %s. If you can read it, the settings work.",
	    in->hostname) == -1)
		return send_bad("out of memory");
	snprintf(vals[0], 300, "%s port %d", c->host, c->port);
	snprintf(vals[1], 300, "%s", c->sec == SEC_NONE ? "none" :
	    r->sess.tls);
	snprintf(vals[2], 300, "%s%s%s", c->user != NULL &&
	    c->auth != AUTH_NONE ? c->user : "none", r->sess.auth[0] != '\0' ?
	    " with " : "", r->sess.auth);
	f[0].key = "SMTP server";
	f[1].key = "TLS";
	f[2].key = "Login";
	f[0].value = vals[0];
	f[1].value = vals[1];
	f[2].value = vals[2];
	in->fields = f;
	in->nfields = 3;
	return 0;
}

/* send_has_8bit - an octet above 127 in p[0..n) */
static bool
send_has_8bit(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return true;
	return false;
}

/* send_transfer - the message to every recipient; a status */
static int
send_transfer(struct send_run *r, const struct send_rcpts *rc,
    const struct buf *msg)
{
	struct send_sess *ss = &r->sess;
	struct smtpc_txn_rcpt *tr;
	struct smtpc_txn t;
	size_t i;
	int status;

	if ((tr = calloc(rc->n, sizeof(*tr))) == NULL)
		return send_bad("out of memory");
	for (i = 0; i < rc->n; i++)
		tr[i].r.addr = rc->addr[i];
	memset(&t, 0, sizeof(t));
	t.env.from = r->conf->from;
	t.env.size = msg->len;
	t.env.eightbit = send_has_8bit(msg->data, msg->len);
	t.env.smtputf8 = rc->utf8 || send_has_8bit(r->conf->from,
	    strlen(r->conf->from));
	t.rcpts = tr;
	t.nrcpts = rc->n;
	t.data = msg->data;
	t.len = msg->len;
	ss->txn = &t;
	if (send_in_loop(ss, send_txn_cb) == -1)
		send_local_fail(ss, SMTPC_ST_MAIL, SMTPC_WHY_LOCAL,
		    "cannot reach the event loop");
	send_show_ts(r);
	status = ss->failed ? send_explain(r, &ss->err) :
	    send_txn_report(r, &t);
	ss->txn = NULL;
	free(tr);
	return status;
}

/* send_quit - QUIT, and wait a little for the session to end */
static void
send_quit(struct send_run *r)
{
	int ms;

	if (r->sess.s == NULL ||
	    send_in_loop(&r->sess, send_quit_cb) == -1)
		return;
	for (ms = 0; ms < SEND_QUIT_WAIT_MS && ev_sessions() > 0; ms += 10)
		usleep(10000);
}

/* send_smtpc_conf - the client's settings (and credentials in *a) */
static void
send_smtpc_conf(const struct send_conf *c, struct smtpc_auth *a,
    struct smtpc_conf *k)
{
	static const unsigned mechs[] = {
		[AUTH_AUTO] = SMTPC_AUTH_AUTO, [AUTH_PLAIN] = SMTPC_AUTH_PLAIN,
		[AUTH_LOGIN] = SMTPC_AUTH_LOGIN,
		[AUTH_CRAM_MD5] = SMTPC_AUTH_CRAM_MD5,
	};
	memset(k, 0, sizeof(*k));
	k->helo = c->helo;
	k->need_tls = c->sec == SEC_STARTTLS ? 2 : 0;
	k->tls_implicit = c->sec == SEC_SSL;
	k->tls_verify = !c->insecure;
	k->tls_ca_file = c->ca_file[0] != '\0' ? c->ca_file : NULL;
	/* A name is checked as a name, an address as an address. */
	k->servername = c->host;
	k->to.connect = k->to.greeting = k->to.command = c->timeout;
	k->to.data_init = c->timeout;
	k->to.data_block = k->to.data_done = 4 * c->timeout;
	k->log_id = "send";
	if (c->user == NULL || c->auth == AUTH_NONE)
		return;
	/* Both were checked to fit (SEND_SECRET_MAX). */
	if (!str_copy(a->user, c->user, sizeof(a->user)) ||
	    !str_copy(a->pass, c->pass.data, sizeof(a->pass)))
		fatalx("%s: credentials do not fit", __func__);
	a->mech = mechs[c->auth];
	k->auth = a;
}

/*
 * send_message - over the ready session: the report, or with --test the
 * test message when there are recipients.  Returns a status.
 */
static int
send_message(struct send_run *r, struct send_input *in,
    const struct send_rcpts *rc, struct buf *msg)
{
	struct notify_field tf[3];
	char tv[3][300];
	int status;

	if (rc->n == 0) {
		send_step(r, -1, "no test message (--mail-to ADDRESS sends "
		    "one)");
		return SEND_EXIT_OK;
	}
	if (!r->test)
		return send_transfer(r, rc, msg);
	if ((status = send_test_input(r, in, tf, tv)) == 0 &&
	    (status = send_compose(r->conf, in, rc, msg)) == 0)
		status = send_transfer(r, rc, msg);
	/* tf lives on this stack; --test reads no --field. */
	in->fields = NULL;
	in->nfields = 0;
	return status;
}

/*
 * send_network - resolve, connect, set up, send (the report, or the test
 * message when --test has recipients), QUIT.  Returns a status.
 */
static int
send_network(struct send_run *r, struct send_input *in,
    const struct send_rcpts *rc, struct buf *msg)
{
	struct addrinfo *res = NULL;
	struct smtpc_auth auth;
	int status;

	memset(&auth, 0, sizeof(auth));
	if ((status = send_resolve(r, &res)) != 0)
		return status;
	send_smtpc_conf(r->conf, &auth, &r->sess.conf);
	if (ev_init(1) == -1 || ev_start() == -1) {
		send_err("cannot start the event loop");
		status = SEND_EXIT_OTHER;
	} else if ((status = send_connect(r, res)) == 0) {
		send_steps(r, STEP_SEND);
		status = send_message(r, in, rc, msg);
		send_quit(r);
	}
	ev_stop_accepting();
	ev_stop();
	tls_server_free();		/* the client context */
	OPENSSL_cleanse(&auth, sizeof(auth));
	freeaddrinfo(res);
	return status;
}

/* send_utf8_marks - the locale takes UTF-8: check marks, not "ok" */
static bool
send_utf8_marks(void)
{
	const char *v = send_env("LC_ALL");

	if (v == NULL)
		v = send_env("LC_CTYPE");
	if (v == NULL)
		v = send_env("LANG");
	return v != NULL && (strcasestr(v, "utf-8") != NULL ||
	    strcasestr(v, "utf8") != NULL);
}

/*
 * send_prepare - settings, recipients and the message, all checked
 * before any connection.  Returns 0 or a status.
 */
static int
send_prepare(struct send_opts *o, struct send_conf *c,
    struct send_input *in, struct send_rcpts *r, struct buf *msg)
{
	int rc;

	if ((rc = send_settings(o, c)) != 0 ||
	    (rc = send_read_input(o, in)) != 0)
		return rc;
	if (o->test && c->to == NULL)
		return 0;
	if (c->from == NULL) {
		send_err("no sender given");
		send_hint("use --mail-from ADDRESS (or a user name that is an "
		    "e-mail address)");
		return SEND_EXIT_USAGE;
	}
	if ((rc = send_rcpts_parse(c, r)) != 0 || o->test)
		return rc;
	return send_compose(c, in, r, msg);
}

int
cli_send_main(int argc, char **argv)
{
	struct send_opts o;
	struct send_conf c;
	struct send_input in;
	struct send_rcpts r;
	struct send_run run;
	struct buf msg;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(&c, 0, sizeof(c));
	memset(&in, 0, sizeof(in));
	memset(&r, 0, sizeof(r));
	memset(&run, 0, sizeof(run));
	buf_init(&o.to_opt, SEND_CONF_MAX);
	buf_init(&c.pass, SEND_SECRET_MAX);
	buf_init(&msg, SEND_MSG_MAX);
	buf_init(&run.sess.ts, SEND_TS_MAX);
	pthread_mutex_init(&run.sess.mu, NULL);
	pthread_cond_init(&run.sess.cv, NULL);
	o.fields = calloc((size_t)argc, sizeof(*o.fields));
	o.attach = calloc((size_t)argc, sizeof(*o.attach));
	if (o.fields == NULL || o.attach == NULL)
		rc = send_bad("out of memory");
	else if ((rc = send_getopt(argc, argv, &o)) == 0 && o.help)
		rc = send_usage(false);
	else if (rc == 0 && (rc = send_prepare(&o, &c, &in, &r, &msg)) == 0) {
		/* Library lines only with --verbose; never credentials. */
		log_init(SEND_PREFIX, false, o.verbose, false);
		/* A server that goes away must not kill us mid-write. */
		signal(SIGPIPE, SIG_IGN);
		run.conf = &c;
		run.test = o.test;
		run.verbose = o.verbose;
		run.utf8_marks = send_utf8_marks();
		rc = send_network(&run, &in, &r, &msg);
		if (rc == 0 && o.test)
			send_step(&run, 1, "all checks passed");
	}
	pthread_cond_destroy(&run.sess.cv);
	pthread_mutex_destroy(&run.sess.mu);
	buf_clear(&run.sess.ts);
	buf_clear(&msg);
	send_input_clear(&in);
	free(r.addr);
	OPENSSL_cleanse(c.pass.data, c.pass.len);
	buf_clear(&c.pass);
	OPENSSL_cleanse(o.pass_arg, sizeof(o.pass_arg));
	free(o.conf_text);
	buf_clear(&o.to_opt);
	free(o.fields);
	free(o.attach);
	return rc;
}
