/*
 * cli_ctl.c - `postroom ctl`: the CTRL administration client, a drop-in
 * for XMail's CtrlClnt (manual "CtrlClnt (XMAIL ADMINISTRATION)"; the
 * protocol is "XMAIL ADMIN PROTOCOL", XMAIL-FACTS section 3).
 *
 *   postroom ctl [options] COMMAND [PARAM ...]
 *
 * One connection per run: the greeting, the "#!TLS" upgrade (-S) or TLS
 * from the first byte (-L), the login ("#" + MD5 of the greeting's
 * timestamp and the password, or the clear password with -c), the command
 * as one TAB line with every field quoted, then "quit".  A listing
 * (+00100) goes to standard output or the -f file; the data of an upload
 * (+00101) comes from the -f file or standard input, as with CtrlClnt.
 *
 * I/O is synchronous.  The socket is non-blocking only so that poll(2)
 * bounds connect and every read and write by the -t timeout, TLS included
 * (a blocking SSL_read could wait forever on half a record).
 *
 * Exit status (CtrlClnt exits 3 on usage errors and 4 on any other
 * failure; postroom keeps the statuses of its other verbs and tells the
 * causes apart): 0 success, 1 the server refused the command or a local
 * file could not be read or written, 2 usage error, 3 connection, TLS or
 * protocol failure, 4 login refused.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/buf.h"
#include "core/compat.h"
#include "core/tab.h"
#include "core/tls.h"
#include "cli/cli.h"

#define CTL_PREFIX		"postroom ctl"
#define CTL_EXIT_OK		0
#define CTL_EXIT_FAIL		1	/* command refused, local file */
#define CTL_EXIT_USAGE		2
#define CTL_EXIT_CONN		3	/* connection, TLS, protocol */
#define CTL_EXIT_LOGIN		4	/* login refused */

#define CTL_PORT		"6017"	/* CTRL (-Cp of the server) */
#define CTL_PORT_TLS		"6018"	/* CTRLS (-Wp), with -L */
#define CTL_SERVER		"127.0.0.1"
#define CTL_TIMEOUT		60	/* -t default, seconds */
#define CTL_TIMEOUT_MAX		86400
#define CTL_LINE_MAX		65536	/* longest line read, without CRLF */
#define CTL_PASS_MAX		4096	/* longest password (file) */
#define CTL_USER_MAX		256	/* longest CTRL account name */
#define CTL_TLS_CMD		"#!TLS"
#define CTL_MASK		"********"

/* Reply codes with a follow-up (XMAIL-FACTS 3.1). */
#define CTL_CODE_LIST		100	/* a listing follows, up to "." */
#define CTL_CODE_UPLOAD		101	/* the server waits for data */

/* How the link is secured. */
enum ctl_tls {
	CTL_TLS_NONE,
	CTL_TLS_SWITCH,		/* -S: "#!TLS" on the CTRL port */
	CTL_TLS_NATIVE,		/* -L: TLS from the first byte (CTRLS) */
};

/* The parsed command line, completed from the environment. */
struct ctl_opts {
	const char	*server;	/* -s, $POSTROOM_CTRL_SERVER */
	const char	*port;		/* -n, $POSTROOM_CTRL_PORT */
	const char	*user;		/* -u, $POSTROOM_CTRL_USER */
	const char	*pass;		/* -p, $POSTROOM_CTRL_PASSWORD */
	const char	*pass_file;	/* --password-file, ..._PASSWORD_FILE */
	const char	*iofile;	/* -f: listing output, upload input */
	const char	*key;		/* -K, $CTRL_KEY_FILE */
	const char	*cert;		/* -C, $CTRL_CERT_FILE */
	const char	*cafile;	/* -X, $CTRL_CA_FILE */
	const char	*capath;	/* -H, $CTRL_CA_PATH */
	int		 timeout;	/* -t, seconds */
	enum ctl_tls	 tls;		/* -S, -L */
	bool		 clear;		/* -c: clear-text login */
	bool		 debug;		/* -D: conversation on stderr */
	bool		 help;		/* -h, --help */
	char		**cmd;		/* COMMAND PARAM... */
	int		 ncmd;
};

/* One connection to the server. */
struct ctl_conn {
	int		 fd;
	SSL_CTX		*ctx;		/* with -S or -L */
	SSL		*ssl;		/* NULL until TLS starts */
	int		 timeout_ms;
	bool		 debug;
	bool		 quiet;		/* no messages (at "quit") */
	const char	*server;	/* as given, for messages */
	const char	*port;
	size_t		 inpos;		/* next unread byte of in[] */
	size_t		 inlen;		/* bytes held in in[] */
	char		 in[16384];	/* read buffer */
};

/* A command parameter that holds a password: masked in -D output. */
struct ctl_secret {
	const char	*cmd;
	int		 arg;		/* index in COMMAND PARAM..., 0 = cmd */
};

static const struct ctl_secret ctl_secrets[] = {
	{ "useradd", 3 },
	{ "userpasswd", 3 },
	{ "userauth", 3 },
	{ "poplnkadd", 5 },
};

static const char ctl_synopsis[] =
"usage: postroom ctl [-s server] [-n port] [-u user] [-p pass |\n"
"           --password-file FILE] [-t timeout] [-f file] [-S | -L] [-c]\n"
"           [-K keyfile -C certfile] [-X cafile] [-H capath] [-D]\n"
"           COMMAND [PARAM ...]\n"
"       postroom ctl -h | --help\n";

static const char ctl_usage_text[] =
"\n"
"Send one command of the XMail admin protocol to a running server (the\n"
"CTRL service) and print what it answers, like XMail's CtrlClnt.  The\n"
"command and its parameters are sent as given, each quoted; they may not\n"
"contain TAB, CR or LF nor end with a backslash.  Examples:\n"
"  postroom ctl -u admin useradd example.org bob Pa55word U\n"
"  postroom ctl -u admin userlist example.org\n"
"  postroom ctl -u admin cfgfileset smtprelay.tab < smtprelay.tab\n"
"\n"
"  -s server     server name or address [127.0.0.1]\n"
"  -n port       server port [6017, or 6018 with -L]\n"
"  -u user       CTRL account (ctrlaccounts.tab)\n"
"  -p pass       its password (visible to other users in `ps`: prefer\n"
"                --password-file or the environment)\n"
"  --password-file FILE\n"
"                read the password from the first line of FILE\n"
"  -t timeout    seconds allowed for connecting and for each read or\n"
"                write [60]\n"
"  -f file       write a listing to file instead of standard output, and\n"
"                read the data of an upload (cfgfileset, custdomset,\n"
"                usersetmproc) from file instead of standard input\n"
"  -S            switch the CTRL port to TLS (\"#!TLS\") before the login\n"
"  -L            TLS from the first byte (the CTRLS port)\n"
"  -c            send the password itself, not the MD5 digest\n"
"  -K keyfile    client private key, PEM ($CTRL_KEY_FILE)\n"
"  -C certfile   client certificate chain, PEM ($CTRL_CERT_FILE);\n"
"                -K and -C go together\n"
"  -X cafile     trusted CA certificates, PEM ($CTRL_CA_FILE)\n"
"  -H capath     directory of hashed CA certificates ($CTRL_CA_PATH)\n"
"  -D            print the conversation on standard error (passwords\n"
"                masked, listings and uploads summarized)\n"
"\n"
"TLS: with -X or -H the server certificate must verify against those\n"
"CAs, and when -s is a host name (not an address) the certificate must\n"
"be for that name; otherwise the command fails.  Without -X and -H the\n"
"certificate is NOT verified (as with CtrlClnt: servers usually have a\n"
"self-signed one), which protects against eavesdropping only.\n"
"\n"
"Defaults from the environment, used when the option is not given:\n"
"  POSTROOM_CTRL_SERVER, POSTROOM_CTRL_PORT, POSTROOM_CTRL_USER,\n"
"  POSTROOM_CTRL_PASSWORD, POSTROOM_CTRL_PASSWORD_FILE.\n"
"The password is taken from the first of: -p or --password-file (not\n"
"both), $POSTROOM_CTRL_PASSWORD, $POSTROOM_CTRL_PASSWORD_FILE.  An empty\n"
"variable counts as unset.\n"
"\n"
"A listing (+00100) is printed line by line (on a terminal, control\n"
"characters but TAB as '?'), an upload (+00101) is sent line by line;\n"
"an empty upload deletes the file.  A refusal is printed on standard\n"
"error as the server sent it (\"-00012 User not found\").\n"
"Exit status: 0 success, 1 the server refused the command or a local\n"
"file could not be used, 2 usage error, 3 connection, TLS or protocol\n"
"failure, 4 login refused.\n";

/* ctl_usage - full help on stdout, or the synopsis on stderr (error) */
static int
ctl_usage(bool error)
{
	return cli_help("ctl", ctl_synopsis, ctl_usage_text, error);
}

/* ctl_bad_usage - report a usage error; the usage exit status */
static int
ctl_bad_usage(const char *what, const char *arg)
{
	fprintf(stderr, CTL_PREFIX ": %s%s%s\n", what, arg != NULL ? ": " : "",
	    arg != NULL ? arg : "");
	return ctl_usage(true);
}

/*
 * ctl_is_ctl - a control byte other than TAB: never sent to a terminal
 * as it is (server text must not drive the operator's terminal)
 */
static bool
ctl_is_ctl(char c)
{
	return ((unsigned char)c < 0x20 && c != '\t') || c == 0x7f;
}

/* ctl_clean - copy of s for the terminal, control bytes as '?', into out */
static const char *
ctl_clean(const char *s, char *out, size_t size)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		out[i] = ctl_is_ctl(s[i]) ? '?' : s[i];
	out[i] = '\0';
	return out;
}

/* ctl_getopt_bad - usage error for the option getopt_long refused */
static int
ctl_getopt_bad(int c, char **argv)
{
	char opt[3] = { '-', (char)optopt, '\0' };
	const char *arg = optopt != 0 ? opt : argv[optind - 1];

	return ctl_bad_usage(c == ':' ? "option needs a value" :
	    "unknown option", arg);
}

/* ctl_getopt - read the options; 0, or a usage exit status */
static int
ctl_getopt(int argc, char **argv, struct ctl_opts *o)
{
	static const struct option longopts[] = {
		{ "password-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	optind = 1;
	/* "+": options end at COMMAND; its parameters may start with '-'. */
	while ((c = getopt_long(argc, argv, "+:s:n:u:p:t:f:SLcK:C:X:H:Dh",
	    longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->server = optarg;
			break;
		case 'n':
			o->port = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'p':
			o->pass = optarg;
			break;
		case 'P':
			o->pass_file = optarg;
			break;
		case 'f':
			o->iofile = optarg;
			break;
		case 'K':
			o->key = optarg;
			break;
		case 'C':
			o->cert = optarg;
			break;
		case 'X':
			o->cafile = optarg;
			break;
		case 'H':
			o->capath = optarg;
			break;
		case 'S':
			o->tls = CTL_TLS_SWITCH;
			break;
		case 'L':
			o->tls = CTL_TLS_NATIVE;
			break;
		case 'c':
			o->clear = true;
			break;
		case 'D':
			o->debug = true;
			break;
		case 'h':
			o->help = true;
			break;
		case 't':
			o->timeout = (int)cli_num(optarg, 1,
			    CTL_TIMEOUT_MAX);
			if (o->timeout == -1)
				return ctl_bad_usage("bad timeout (1-86400 "
				    "seconds)", optarg);
			break;
		default:
			return ctl_getopt_bad(c, argv);
		}
	}
	o->cmd = argv + optind;
	o->ncmd = argc - optind;
	return 0;
}

/* ctl_env - value of an environment variable, NULL when unset or empty */
static const char *
ctl_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* ctl_defaults - fill in what the options left from the environment */
static void
ctl_defaults(struct ctl_opts *o)
{
	if (o->server == NULL)
		o->server = ctl_env("POSTROOM_CTRL_SERVER");
	if (o->server == NULL)
		o->server = CTL_SERVER;
	if (o->port == NULL)
		o->port = ctl_env("POSTROOM_CTRL_PORT");
	if (o->port == NULL)
		o->port = o->tls == CTL_TLS_NATIVE ? CTL_PORT_TLS : CTL_PORT;
	if (o->user == NULL)
		o->user = ctl_env("POSTROOM_CTRL_USER");
	if (o->pass == NULL && o->pass_file == NULL) {
		o->pass = ctl_env("POSTROOM_CTRL_PASSWORD");
		if (o->pass == NULL)
			o->pass_file = ctl_env("POSTROOM_CTRL_PASSWORD_FILE");
	}
	if (o->key == NULL)
		o->key = ctl_env("CTRL_KEY_FILE");
	if (o->cert == NULL)
		o->cert = ctl_env("CTRL_CERT_FILE");
	if (o->cafile == NULL)
		o->cafile = ctl_env("CTRL_CA_FILE");
	if (o->capath == NULL)
		o->capath = ctl_env("CTRL_CA_PATH");
}

/* ctl_check_args - every command field must be sendable as a TAB field */
static int
ctl_check_args(const struct ctl_opts *o)
{
	if (o->ncmd > (int)TAB_FIELDS_MAX)
		return ctl_bad_usage("too many parameters", NULL);
	struct buf line;
	char num[16];
	int i, rc;

	for (i = 0; i < o->ncmd; i++)
		if (!tab_value_ok(o->cmd[i])) {
			/* The value may be a password: name it by position. */
			snprintf(num, sizeof(num), "%d", i);
			return ctl_bad_usage(i == 0 ? "the command has a TAB, "
			    "CR or LF, or ends with a backslash" : "a TAB, CR "
			    "or LF in, or a backslash at the end of, "
			    "parameter", i == 0 ? NULL : num);
		}
	if (o->cmd[0][0] == '\0')
		return ctl_bad_usage("empty command", NULL);
	buf_init(&line, TAB_LINE_MAX + 1);
	rc = tab_format(&line, (const char *const *)o->cmd, (size_t)o->ncmd,
	    0);
	buf_clear(&line);
	if (rc == -1)
		return ctl_bad_usage("command line longer than 8192 bytes",
		    NULL);
	return 0;
}

/* ctl_parse - options, environment and checks; 0 or a usage status */
static int
ctl_parse(int argc, char **argv, struct ctl_opts *o)
{
	int rc;

	memset(o, 0, sizeof(*o));
	o->timeout = CTL_TIMEOUT;
	if ((rc = ctl_getopt(argc, argv, o)) != 0 || o->help)
		return rc;
	if (o->ncmd == 0)
		return ctl_bad_usage("no command", NULL);
	if (o->pass != NULL && o->pass_file != NULL)
		return ctl_bad_usage("-p and --password-file exclude each "
		    "other", NULL);
	if (o->pass != NULL && o->pass[0] == '\0')
		return ctl_bad_usage("empty password", NULL);
	ctl_defaults(o);
	if (cli_num(o->port, 1, 65535) == -1)
		return ctl_bad_usage("bad port", o->port);
	if (o->user == NULL)
		return ctl_bad_usage("no user (-u or POSTROOM_CTRL_USER)",
		    NULL);
	if (!tab_value_ok(o->user) || strlen(o->user) > CTL_USER_MAX)
		return ctl_bad_usage("bad user name", NULL);
	if (o->pass == NULL && o->pass_file == NULL)
		return ctl_bad_usage("no password (-p, --password-file, "
		    "POSTROOM_CTRL_PASSWORD or POSTROOM_CTRL_PASSWORD_FILE)",
		    NULL);
	if ((o->key == NULL) != (o->cert == NULL))
		return ctl_bad_usage("-K and -C (CTRL_KEY_FILE and "
		    "CTRL_CERT_FILE) go together", NULL);
	return ctl_check_args(o);
}

/*
 * ctl_read_pass_file - the first line of path (without its CR/LF) into
 * pass.  Returns 0, or -1 with a message.
 */
static int
ctl_read_pass_file(const char *path, struct buf *pass)
{
	FILE *fp;
	int c, rc = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, CTL_PREFIX ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((c = getc(fp)) != EOF && c != '\n' && rc == 0)
		rc = buf_putc(pass, c);
	if (ferror(fp) || rc == -1) {
		fprintf(stderr, CTL_PREFIX ": %s: %s\n", path, rc == -1 ?
		    "password too long" : strerror(errno));
		rc = -1;
	}
	fclose(fp);
	if (rc == 0 && pass->len > 0 && pass->data[pass->len - 1] == '\r')
		pass->data[--pass->len] = '\0';
	if (rc == 0 && pass->len == 0) {
		fprintf(stderr, CTL_PREFIX ": %s: empty password\n", path);
		rc = -1;
	}
	return rc;
}

/* ctl_conn_err - report a connection problem; -1 */
static int
ctl_conn_err(const struct ctl_conn *c, const char *what, const char *why)
{
	if (c->quiet)
		return -1;
	fprintf(stderr, CTL_PREFIX ": %s port %s: %s%s%s\n", c->server,
	    c->port, what, why != NULL ? ": " : "", why != NULL ? why : "");
	return -1;
}

/* ctl_poll - wait for events on fd: 1 ready, 0 timed out, -1 (errno) */
static int
ctl_poll(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	do
		n = poll(&p, 1, timeout_ms);
	while (n == -1 && errno == EINTR);
	return n;
}

/* ctl_wait - wait until the socket is ready for events; 0 or -1 */
static int
ctl_wait(struct ctl_conn *c, short events)
{
	char why[64];
	int n = ctl_poll(c->fd, events, c->timeout_ms);

	if (n == -1)
		return ctl_conn_err(c, "poll", strerror(errno));
	if (n == 0) {
		snprintf(why, sizeof(why), "no answer within %d seconds (-t)",
		    c->timeout_ms / 1000);
		return ctl_conn_err(c, "timed out", why);
	}
	return 0;
}

/* ctl_connect_one - non-blocking connect to one address; fd or -1 */
static int
ctl_connect_one(const struct addrinfo *ai, int timeout_ms, int *err)
{
	socklen_t len = sizeof(*err);
	int fd, n;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1) {
		*err = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	*err = errno;
	if (*err == EINPROGRESS) {
		if ((n = ctl_poll(fd, POLLOUT, timeout_ms)) <= 0)
			*err = n == 0 ? ETIMEDOUT : errno;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) == -1)
			*err = errno;
		else if (*err == 0)
			return fd;
	}
	close(fd);
	return -1;
}

/*
 * ctl_connect - connect to the server (each address getaddrinfo gives,
 * IPv4 or IPv6, in turn).  Returns 0, or -1 with a message.
 */
static int
ctl_connect(struct ctl_conn *c)
{
	struct addrinfo hints, *res, *ai;
	int rc, err = ECONNREFUSED;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(c->server, c->port, &hints, &res)) != 0)
		return ctl_conn_err(c, "cannot resolve", gai_strerror(rc));
	for (ai = res; ai != NULL && c->fd == -1; ai = ai->ai_next)
		c->fd = ctl_connect_one(ai, c->timeout_ms, &err);
	freeaddrinfo(res);
	if (c->fd == -1)
		return ctl_conn_err(c, "cannot connect", strerror(err));
	if (c->debug)
		fprintf(stderr, CTL_PREFIX ": connected to %s port %s\n",
		    c->server, c->port);
	return 0;
}

/*
 * ctl_tls_retry - after an SSL_* call returned r: wait for the socket
 * when OpenSSL asks to and return 0 (call again), or report and return -1.
 */
static int
ctl_tls_retry(struct ctl_conn *c, int r, const char *what)
{
	char ebuf[256];
	int e = SSL_get_error(c->ssl, r);

	if (e == SSL_ERROR_WANT_READ)
		return ctl_wait(c, POLLIN);
	if (e == SSL_ERROR_WANT_WRITE)
		return ctl_wait(c, POLLOUT);
	if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL &&
	    ERR_peek_error() == 0 && r == 0))
		return ctl_conn_err(c, "connection closed by the server",
		    NULL);
	if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		return ctl_conn_err(c, what, strerror(errno));
	return ctl_conn_err(c, what, tls_error_text(ebuf, sizeof(ebuf)));
}

/* ctl_fill - read more input into the empty buffer; 0 or -1 */
static int
ctl_fill(struct ctl_conn *c)
{
	ssize_t n;
	int r;

	for (;;) {
		if (c->ssl != NULL) {
			ERR_clear_error();
			r = SSL_read(c->ssl, c->in, (int)sizeof(c->in));
			if (r > 0) {
				n = r;
				break;
			}
			if (ctl_tls_retry(c, r, "TLS read") == -1)
				return -1;
			continue;
		}
		if ((n = recv(c->fd, c->in, sizeof(c->in), 0)) > 0)
			break;
		if (n == 0)
			return ctl_conn_err(c, "connection closed by the "
			    "server", NULL);
		if (errno != EAGAIN && errno != EINTR)
			return ctl_conn_err(c, "read", strerror(errno));
		if (ctl_wait(c, POLLIN) == -1)
			return -1;
	}
	c->inpos = 0;
	c->inlen = (size_t)n;
	return 0;
}

/* ctl_write - send all of data; 0 or -1 */
static int
ctl_write(struct ctl_conn *c, const char *data, size_t len)
{
	ssize_t n;
	int r;

	while (len > 0) {
		if (c->ssl != NULL) {
			ERR_clear_error();
			r = SSL_write(c->ssl, data, len > INT_MAX ? INT_MAX :
			    (int)len);
			if (r <= 0) {
				if (ctl_tls_retry(c, r, "TLS write") == -1)
					return -1;
				continue;
			}
			n = r;
		} else if ((n = send(c->fd, data, len, MSG_NOSIGNAL)) < 0) {
			if (errno != EAGAIN && errno != EINTR)
				return ctl_conn_err(c, "write",
				    strerror(errno));
			if (ctl_wait(c, POLLOUT) == -1)
				return -1;
			continue;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * ctl_read_line - the next line into `line` (without CR/LF; a bare LF
 * also ends it, as for CtrlClnt).  Longer than CTL_LINE_MAX is an error.
 * Returns 0 or -1 with a message.
 */
static int
ctl_read_line(struct ctl_conn *c, struct buf *line)
{
	const char *p, *lf;
	size_t n;

	buf_reset(line);
	for (;;) {
		if (c->inpos == c->inlen && ctl_fill(c) == -1)
			return -1;
		p = c->in + c->inpos;
		lf = memchr(p, '\n', c->inlen - c->inpos);
		n = lf != NULL ? (size_t)(lf - p) : c->inlen - c->inpos;
		if (buf_append(line, p, n) == -1)
			return ctl_conn_err(c, "line from the server longer "
			    "than 65536 bytes", NULL);
		c->inpos += n;
		if (lf != NULL)
			break;
	}
	c->inpos++;
	if (line->len > 0 && line->data[line->len - 1] == '\r')
		line->data[--line->len] = '\0';
	return 0;
}

/* ctl_debug - print one line of the conversation (-D) */
static void
ctl_debug(const struct ctl_conn *c, const char *dir, const char *text)
{
	char clean[1024];

	if (c->debug)
		fprintf(stderr, "%s: %s\n", dir, ctl_clean(text, clean,
		    sizeof(clean)));
}

/*
 * ctl_send_rec - send fields as one TAB line, every field quoted, CRLF.
 * `shown` (same count) is what -D prints, NULL to print the fields.
 * Returns 0, or -1 with a message.
 */
static int
ctl_send_rec(struct ctl_conn *c, const char *const *fields, size_t n,
    const char *const *shown)
{
	struct buf line;
	int rc = -1;

	buf_init(&line, TAB_LINE_MAX + 2);
	if (tab_format(&line, fields, n, 0) == -1) {
		fprintf(stderr, CTL_PREFIX ": line too long to send\n");
		goto out;
	}
	line.data[--line.len] = '\0';		/* the "\n" */
	if (c->debug && shown != NULL) {
		struct buf dbg;

		buf_init(&dbg, TAB_LINE_MAX + 1);
		if (tab_format(&dbg, shown, n, 0) == 0) {
			dbg.data[--dbg.len] = '\0';	/* the "\n" */
			ctl_debug(c, "C", dbg.data);
		}
		buf_clear(&dbg);
	} else {
		ctl_debug(c, "C", line.data);
	}
	if (buf_puts(&line, "\r\n") == 0)
		rc = ctl_write(c, line.data, line.len);
out:
	OPENSSL_cleanse(line.data, line.len);
	buf_clear(&line);
	return rc;
}

/*
 * ctl_reply_parse - split a RESSTRING "+DDDDD text" or "-DDDDD text"
 * (XMAIL-FACTS 3.1) into its signed code and text.  Returns 0, or -1 when
 * the line is not one.
 */
static int
ctl_reply_parse(const char *line, long *code, const char **text)
{
	const char *p = line + 1;
	long v = 0;

	if ((line[0] != '+' && line[0] != '-') || *p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > 9999999)
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (*p != ' ' && *p != '\0')
		return -1;
	while (*p == ' ')
		p++;
	*code = line[0] == '-' ? -v : v;
	*text = p;
	return 0;
}

/*
 * ctl_reply - read one RESSTRING into `line`, its code into *code.
 * Returns 0, or -1 (connection problem, or not a RESSTRING) with a
 * message.
 */
static int
ctl_reply(struct ctl_conn *c, struct buf *line, long *code)
{
	const char *text;
	char clean[256];

	if (ctl_read_line(c, line) == -1)
		return -1;
	ctl_debug(c, "S", line->data);
	if (ctl_reply_parse(line->data, code, &text) == -1)
		return ctl_conn_err(c, "not a CTRL reply", ctl_clean(
		    line->data, clean, sizeof(clean)));
	return 0;
}

/* ctl_refused - print a "-DDDDD text" reply on stderr */
static void
ctl_refused(const struct buf *line)
{
	char clean[1024];

	fprintf(stderr, CTL_PREFIX ": %s\n", ctl_clean(line->data, clean,
	    sizeof(clean)));
}

/*
 * ctl_tls_ctx - the client context: TLS 1.2 or later, the client
 * certificate (-K/-C), and peer verification when -X or -H is given.
 * Returns NULL with a message on failure.
 */
static SSL_CTX *
ctl_tls_ctx(const struct ctl_opts *o)
{
	char ebuf[256];
	const char *what = "TLS set-up";
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		goto fail;
	/*
	 * Every reply has its own end (RESSTRING line, "." after a listing),
	 * so a close without close_notify truncates nothing unnoticed.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (o->cert != NULL) {
		what = o->cert;
		if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1)
			goto fail;
		what = o->key;
		if (SSL_CTX_use_PrivateKey_file(ctx, o->key,
		    SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1)
			goto fail;
	}
	if (o->cafile != NULL || o->capath != NULL) {
		what = o->cafile != NULL ? o->cafile : o->capath;
		if (SSL_CTX_load_verify_locations(ctx, o->cafile,
		    o->capath) != 1)
			goto fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
fail:
	fprintf(stderr, CTL_PREFIX ": %s: %s\n", what,
	    tls_error_text(ebuf, sizeof(ebuf)));
	SSL_CTX_free(ctx);
	return NULL;
}

/* ctl_is_name - true when the server was given as a name, not an address */
static bool
ctl_is_name(const char *server)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, server, a) != 1 &&
	    inet_pton(AF_INET6, server, a) != 1;
}

/* ctl_tls_verify_err - explain a failed handshake when verification did */
static int
ctl_tls_verify_err(struct ctl_conn *c)
{
	long v = SSL_get_verify_result(c->ssl);

	ERR_clear_error();
	return ctl_conn_err(c, "server certificate not trusted",
	    X509_verify_cert_error_string(v));
}

/*
 * ctl_tls_start - TLS handshake on the connection (input still buffered
 * in plain text is thrown away first).  Returns 0 or -1 with a message.
 */
static int
ctl_tls_start(struct ctl_conn *c, const struct ctl_opts *o)
{
	bool verify = o->cafile != NULL || o->capath != NULL;
	int r;

	c->inpos = c->inlen = 0;
	if ((c->ssl = SSL_new(c->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1)
		return ctl_conn_err(c, "TLS set-up", "out of memory");
	if (ctl_is_name(o->server) &&
	    (SSL_set_tlsext_host_name(c->ssl, o->server) != 1 ||
	    (verify && SSL_set1_host(c->ssl, o->server) != 1)))
		return ctl_conn_err(c, "TLS set-up", "bad host name");
	for (;;) {
		ERR_clear_error();
		if ((r = SSL_connect(c->ssl)) == 1)
			break;
		if (verify && SSL_get_verify_result(c->ssl) != X509_V_OK)
			return ctl_tls_verify_err(c);
		if (ctl_tls_retry(c, r, "TLS handshake") == -1)
			return -1;
	}
	if (c->debug)
		fprintf(stderr, CTL_PREFIX ": %s %s, certificate %s\n",
		    SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl),
		    verify ? "verified" : "not verified");
	return 0;
}

/*
 * ctl_timestamp - the "<...>" timestamp of the greeting (angle brackets
 * included) into ts.  Returns 0, or -1 when there is none.
 */
static int
ctl_timestamp(const char *greeting, struct buf *ts)
{
	const char *lt = strchr(greeting, '<'), *gt;

	if (lt == NULL || (gt = strchr(lt, '>')) == NULL)
		return -1;
	return buf_append(ts, lt, (size_t)(gt - lt + 1));
}

/*
 * ctl_md5_field - "#" and the lower-case hex MD5 of timestamp + password
 * into out (manual "XMAIL ADMIN PROTOCOL").  Returns 0 or -1.
 */
static int
ctl_md5_field(const char *ts, const char *pass, char *out, size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *ctx;
	int ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, ts, strlen(ts)) == 1 &&
	    EVP_DigestUpdate(ctx, pass, strlen(pass)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok || size < 2 + 2 * (size_t)mdlen)
		return -1;
	out[0] = '#';
	for (i = 0; i < mdlen; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", md[i]);
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

/*
 * ctl_login - send the login line and read the answer.  The MD5 digest
 * uses the greeting's timestamp, after "#!TLS" too (the server keeps it;
 * CtrlClnt sent the clear password there).  Returns an exit status.
 */
static int
ctl_login(struct ctl_conn *c, const struct ctl_opts *o, const char *pass,
    const char *greeting)
{
	char digest[2 + 2 * EVP_MAX_MD_SIZE] = "";
	const char *f[2] = { o->user, pass };
	const char *shown[2] = { o->user, CTL_MASK };
	struct buf ts, line;
	long code;
	int rc = CTL_EXIT_CONN;

	buf_init(&ts, CTL_LINE_MAX);
	buf_init(&line, CTL_LINE_MAX + 1);
	if (!o->clear) {
		if (ctl_timestamp(greeting, &ts) == -1) {
			ctl_conn_err(c, "no timestamp in the greeting (-c "
			    "sends the clear password)", NULL);
			goto out;
		}
		if (ctl_md5_field(ts.data, pass, digest, sizeof(digest)) ==
		    -1) {
			ctl_conn_err(c, "MD5", "not available");
			goto out;
		}
		f[1] = digest;
	} else if (!tab_value_ok(pass)) {
		fprintf(stderr, CTL_PREFIX ": the password contains TAB, CR "
		    "or LF, or ends with a backslash: it can only be sent "
		    "as a digest (without -c)\n");
		rc = CTL_EXIT_USAGE;
		goto out;
	}
	if (ctl_send_rec(c, f, 2, shown) == -1 ||
	    ctl_reply(c, &line, &code) == -1)
		goto out;
	if (code < 0) {
		ctl_refused(&line);
		rc = CTL_EXIT_LOGIN;
	} else {
		rc = CTL_EXIT_OK;
	}
out:
	OPENSSL_cleanse(digest, sizeof(digest));
	buf_clear(&ts);
	buf_clear(&line);
	return rc;
}

/*
 * ctl_switch_tls - "#!TLS" (-S): ask, then do the handshake.  Returns an
 * exit status.
 */
static int
ctl_switch_tls(struct ctl_conn *c, const struct ctl_opts *o,
    struct buf *line)
{
	static const char cmd[] = CTL_TLS_CMD "\r\n";
	long code;

	ctl_debug(c, "C", CTL_TLS_CMD);
	if (ctl_write(c, cmd, sizeof(cmd) - 1) == -1 ||
	    ctl_reply(c, line, &code) == -1)
		return CTL_EXIT_CONN;
	if (code < 0) {
		ctl_refused(line);
		return CTL_EXIT_CONN;
	}
	return ctl_tls_start(c, o) == -1 ? CTL_EXIT_CONN : CTL_EXIT_OK;
}

/*
 * ctl_open - connect, secure the link as asked and log in.  Returns an
 * exit status; on CTL_EXIT_OK the session waits for a command.
 */
static int
ctl_open(struct ctl_conn *c, const struct ctl_opts *o, const char *pass)
{
	struct buf greeting, line;
	long code;
	int rc = CTL_EXIT_CONN;

	buf_init(&greeting, CTL_LINE_MAX + 1);
	buf_init(&line, CTL_LINE_MAX + 1);
	if (ctl_connect(c) == -1 ||
	    (o->tls == CTL_TLS_NATIVE && ctl_tls_start(c, o) == -1) ||
	    ctl_reply(c, &greeting, &code) == -1)
		goto out;
	if (code < 0) {
		ctl_refused(&greeting);
		goto out;
	}
	if (o->tls == CTL_TLS_SWITCH &&
	    (rc = ctl_switch_tls(c, o, &line)) != CTL_EXIT_OK)
		goto out;
	rc = ctl_login(c, o, pass, greeting.data);
out:
	buf_clear(&greeting);
	buf_clear(&line);
	return rc;
}

/*
 * ctl_close_out - flush (and close, unless stdout) the listing output
 * (NULL: it could not be opened); err is the errno of a failed open or
 * write before, or 0.  Returns 0, or -1 with a message.
 */
static int
ctl_close_out(FILE *out, const char *name, int err)
{
	if (out != NULL && err == 0 && fflush(out) == EOF)
		err = errno;
	if (out != NULL && out != stdout && fclose(out) == EOF && err == 0)
		err = errno;
	if (err == 0)
		return 0;
	fprintf(stderr, CTL_PREFIX ": %s: %s\n", name != NULL ? name :
	    "standard output", strerror(err));
	return -1;
}

/*
 * ctl_recv_list - read a listing up to ".", un-stuff each line and write
 * it with a LF to standard output or the -f file (created only now, as
 * CtrlClnt does).  The whole listing is read even when the output fails,
 * so that the session can still end with "quit".  Returns an exit status.
 */
static int
ctl_recv_list(struct ctl_conn *c, const struct ctl_opts *o)
{
	FILE *out = stdout;
	struct buf line;
	char *p;
	size_t i, n, nlines = 0;
	int rc = CTL_EXIT_OK, err = 0;
	bool tty = o->iofile == NULL && isatty(STDOUT_FILENO);

	if (o->iofile != NULL && (out = fopen(o->iofile, "w")) == NULL)
		err = errno;
	buf_init(&line, CTL_LINE_MAX + 1);
	for (;;) {
		if (ctl_read_line(c, &line) == -1) {
			rc = CTL_EXIT_CONN;
			break;
		}
		if (strcmp(line.data, ".") == 0)
			break;
		p = line.data[0] == '.' ? line.data + 1 : line.data;
		n = line.len - (size_t)(p - line.data);
		for (i = 0; tty && i < n; i++)
			if (ctl_is_ctl(p[i]))
				p[i] = '?';
		if (out != NULL && err == 0 && (fwrite(p, 1, n, out) != n ||
		    putc('\n', out) == EOF))
			err = errno != 0 ? errno : EIO;
		nlines++;
	}
	buf_clear(&line);
	if (c->debug)
		fprintf(stderr, "S: (listing of %zu lines)\n", nlines);
	if (ctl_close_out(out, o->iofile, err) == -1 && rc == CTL_EXIT_OK)
		rc = CTL_EXIT_FAIL;
	return rc;
}

/*
 * ctl_get_line - one line of the upload into `line` (without LF or CRLF).
 * Returns 1, 0 at the end, or -1 (read error, line too long).
 */
static int
ctl_get_line(FILE *in, struct buf *line)
{
	int c;

	buf_reset(line);
	while ((c = getc(in)) != EOF && c != '\n')
		if (buf_putc(line, c) == -1) {
			errno = EMSGSIZE;
			return -1;
		}
	if (ferror(in))
		return -1;
	if (c == EOF && line->len == 0)
		return 0;
	if (line->len > 0 && line->data[line->len - 1] == '\r')
		line->data[--line->len] = '\0';
	return 1;
}

/*
 * ctl_send_lines - send the lines of `in` dot-stuffed with CRLF, then
 * ".".  On a local read error nothing more is sent (the caller drops the
 * connection, so the server never sees the "." and changes nothing).
 * Returns an exit status.
 */
static int
ctl_send_lines(struct ctl_conn *c, FILE *in, const char *name)
{
	struct buf line;
	size_t nlines = 0;
	int r, rc = CTL_EXIT_OK;

	buf_init(&line, CTL_LINE_MAX + 3);
	while ((r = ctl_get_line(in, &line)) == 1) {
		if (line.len > CTL_LINE_MAX) {
			errno = EMSGSIZE;
			r = -1;
			break;
		}
		if ((line.data[0] == '.' && ctl_write(c, ".", 1) == -1) ||
		    buf_puts(&line, "\r\n") == -1 ||
		    ctl_write(c, line.data, line.len) == -1) {
			rc = CTL_EXIT_CONN;
			break;
		}
		nlines++;
	}
	if (r == -1) {
		fprintf(stderr, CTL_PREFIX ": %s: line %zu: %s\n", name,
		    nlines + 1, errno == EMSGSIZE ? "longer than 65536 bytes" :
		    strerror(errno));
		rc = CTL_EXIT_FAIL;
	}
	buf_clear(&line);
	if (c->debug && rc == CTL_EXIT_OK)
		fprintf(stderr, "C: (upload of %zu lines)\n", nlines);
	if (rc == CTL_EXIT_OK && ctl_write(c, ".\r\n", 3) == -1)
		rc = CTL_EXIT_CONN;
	return rc;
}

/*
 * ctl_upload - answer "+00101": send the -f file or standard input, then
 * read the final RESSTRING.  Returns an exit status; on a local failure
 * the connection is unusable (*drop is set).
 */
static int
ctl_upload(struct ctl_conn *c, const struct ctl_opts *o, bool *drop)
{
	FILE *in = stdin;
	const char *name = "standard input";
	struct buf line;
	long code;
	int rc;

	if (o->iofile != NULL) {
		name = o->iofile;
		if ((in = fopen(o->iofile, "r")) == NULL) {
			fprintf(stderr, CTL_PREFIX ": %s: %s\n", o->iofile,
			    strerror(errno));
			*drop = true;
			return CTL_EXIT_FAIL;
		}
	} else if (isatty(STDIN_FILENO)) {
		fprintf(stderr, CTL_PREFIX ": reading the data to send from "
		    "standard input (end with Ctrl-D)\n");
	}
	rc = ctl_send_lines(c, in, name);
	if (in != stdin)
		fclose(in);
	if (rc != CTL_EXIT_OK) {
		*drop = true;
		return rc;
	}
	buf_init(&line, CTL_LINE_MAX + 1);
	if (ctl_reply(c, &line, &code) == -1)
		rc = CTL_EXIT_CONN;
	else if (code < 0) {
		ctl_refused(&line);
		rc = CTL_EXIT_FAIL;
	}
	buf_clear(&line);
	return rc;
}

/* ctl_masked - is argument i of the command a password (-D masks it)? */
static bool
ctl_masked(const struct ctl_opts *o, int i)
{
	size_t k;

	for (k = 0; k < nitems(ctl_secrets); k++)
		if (ctl_secrets[k].arg == i &&
		    strcasecmp(ctl_secrets[k].cmd, o->cmd[0]) == 0)
			return true;
	return false;
}

/*
 * ctl_command - send the command and handle its reply (listing, upload,
 * refusal).  *drop is set when the connection cannot go on.  Returns an
 * exit status.
 */
static int
ctl_command(struct ctl_conn *c, const struct ctl_opts *o, bool *drop)
{
	const char *shown[TAB_FIELDS_MAX];
	struct buf line;
	long code;
	int i, rc = CTL_EXIT_OK;

	for (i = 0; i < o->ncmd; i++)
		shown[i] = ctl_masked(o, i) ? CTL_MASK : o->cmd[i];
	buf_init(&line, CTL_LINE_MAX + 1);
	if (ctl_send_rec(c, (const char *const *)o->cmd, (size_t)o->ncmd,
	    shown) == -1 || ctl_reply(c, &line, &code) == -1)
		rc = CTL_EXIT_CONN;
	else if (code < 0) {
		ctl_refused(&line);
		rc = CTL_EXIT_FAIL;
	} else if (code == CTL_CODE_LIST) {
		rc = ctl_recv_list(c, o);
	} else if (code == CTL_CODE_UPLOAD) {
		rc = ctl_upload(c, o, drop);
	}
	buf_clear(&line);
	if (rc == CTL_EXIT_CONN)
		*drop = true;
	return rc;
}

/* ctl_quit - send "quit" and read its answer; failures do not matter */
static void
ctl_quit(struct ctl_conn *c)
{
	static const char *const quit[] = { "quit" };
	struct buf line;
	long code;

	/* The command is done: what goes wrong now does not matter. */
	c->quiet = !c->debug;
	buf_init(&line, CTL_LINE_MAX + 1);
	if (ctl_send_rec(c, quit, 1, NULL) == 0)
		(void)ctl_reply(c, &line, &code);
	buf_clear(&line);
}

/* ctl_close - end TLS politely and close the socket */
static void
ctl_close(struct ctl_conn *c)
{
	if (c->ssl != NULL) {
		(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
}

/* ctl_session - the whole conversation; an exit status */
static int
ctl_session(const struct ctl_opts *o, const char *pass)
{
	struct ctl_conn *c;
	bool drop = false;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		fprintf(stderr, CTL_PREFIX ": out of memory\n");
		return CTL_EXIT_FAIL;
	}
	c->fd = -1;
	c->timeout_ms = o->timeout * 1000;
	c->debug = o->debug;
	c->server = o->server;
	c->port = o->port;
	/* Certificate and key files are checked before connecting. */
	if (o->tls != CTL_TLS_NONE && (c->ctx = ctl_tls_ctx(o)) == NULL)
		rc = CTL_EXIT_FAIL;
	else if ((rc = ctl_open(c, o, pass)) == CTL_EXIT_OK) {
		rc = ctl_command(c, o, &drop);
		if (!drop)
			ctl_quit(c);
	}
	ctl_close(c);
	SSL_CTX_free(c->ctx);
	free(c);
	return rc;
}

int
cli_ctl_main(int argc, char **argv)
{
	struct ctl_opts o;
	struct buf pass;
	int rc;

	if ((rc = ctl_parse(argc, argv, &o)) != 0)
		return rc;
	if (o.help)
		return ctl_usage(false);
	/* A server that goes away must not kill us in the middle of a write. */
	signal(SIGPIPE, SIG_IGN);
	buf_init(&pass, CTL_PASS_MAX);
	if (o.pass == NULL && ctl_read_pass_file(o.pass_file, &pass) == -1)
		rc = CTL_EXIT_FAIL;
	else
		rc = ctl_session(&o, o.pass != NULL ? o.pass : pass.data);
	OPENSSL_cleanse(pass.data, pass.len);
	buf_clear(&pass);
	return rc;
}
