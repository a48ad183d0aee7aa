/*
 * cli_passwd.c - `postroom passwd`: XMCrypt values and password hashes.
 *
 *   postroom passwd xmcrypt [PASSWORD]
 *   postroom passwd decode [ENCODED]
 *   postroom passwd hash [--yescrypt | --sha512] [PASSWORD]
 *   postroom passwd verify STORED [PASSWORD]
 *
 * A password left off the command line is read as one line from standard
 * input (trailing LF or CRLF removed), without echo when standard input is
 * a terminal, so it stays out of the shell history and `ps` output.
 * Exit status: 0 success (verify: match), 1 failure (verify: no match),
 * 2 usage error.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/passwd.h"
#include "cli/cli.h"

#define PASSWD_LINE_MAX	4096	/* longest password read from stdin */
#define PASSWD_OUT_MAX	16384	/* longest value printed */

#define PASSWD_EXIT_OK		0
#define PASSWD_EXIT_FAIL	1
#define PASSWD_EXIT_USAGE	2

/* Parsed command line of one sub-command. */
struct passwd_args {
	const char	*pos[2];	/* positional arguments */
	int		 npos;		/* how many */
	bool		 sha512;	/* hash: --sha512 given */
	bool		 help;		/* -h or --help given */
};

/* Terminal state saved while echo is off, restored by signal handlers. */
static struct termios passwd_tty_saved;
static volatile sig_atomic_t passwd_tty_off;

static const char passwd_synopsis[] =
"usage: postroom passwd xmcrypt [PASSWORD]\n"
"       postroom passwd decode [ENCODED]\n"
"       postroom passwd hash [--yescrypt | --sha512] [PASSWORD]\n"
"       postroom passwd verify STORED [PASSWORD]\n"
"       postroom passwd -h | --help\n";

static const char passwd_usage_text[] =
"\n"
"  xmcrypt  print the XMCrypt encoding of PASSWORD, the format of\n"
"           mailusers.tab, ctrlaccounts.tab and pop3links.tab (like\n"
"           XMail's XMCrypt tool); it is reversible, not a hash\n"
"  decode   print the clear password of an XMCrypt value\n"
"  hash     print a crypt(3) hash of PASSWORD with a random salt:\n"
"           yescrypt ($y$, the default) or sha512-crypt ($6$)\n"
"  verify   exit 0 if PASSWORD matches STORED (a hash or an XMCrypt\n"
"           value), 1 if not\n"
"\n"
"A PASSWORD or ENCODED value left out is read as one line from standard\n"
"input (without echo on a terminal); prefer that to the command line,\n"
"which other users can see.  Use -- before a value that starts with '-'.\n"
"Exit status: 0 success or match, 1 failure or no match, 2 usage error.\n";

/* passwd_usage - full help on stdout, or the synopsis on stderr (error) */
static int
passwd_usage(bool error)
{
	if (error) {
		fputs(passwd_synopsis, stderr);
		fputs("Run `postroom passwd --help' for details.\n", stderr);
		return PASSWD_EXIT_USAGE;
	}
	fputs(passwd_synopsis, stdout);
	fputs(passwd_usage_text, stdout);
	return PASSWD_EXIT_OK;
}

/* passwd_bad_usage - report a usage error and return the usage status */
static int
passwd_bad_usage(const char *what, const char *arg)
{
	fprintf(stderr, "postroom passwd: %s%s%s\n", what,
	    arg != NULL ? ": " : "", arg != NULL ? arg : "");
	return passwd_usage(true);
}

/*
 * passwd_parse - split argv (after the sub-command) into options and at
 * most `maxpos` positional arguments.  --sha512/--yescrypt are accepted
 * only when `hash` is true.  Returns 0 or a usage exit status.
 */
static int
passwd_parse(int argc, char **argv, int maxpos, bool hash,
    struct passwd_args *a)
{
	bool opts = true;
	int i;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < argc; i++) {
		const char *s = argv[i];

		if (opts && strcmp(s, "--") == 0) {
			opts = false;
		} else if (opts && (strcmp(s, "-h") == 0 ||
		    strcmp(s, "--help") == 0)) {
			a->help = true;
		} else if (opts && hash && strcmp(s, "--sha512") == 0) {
			a->sha512 = true;
		} else if (opts && hash && strcmp(s, "--yescrypt") == 0) {
			a->sha512 = false;
		} else if (opts && s[0] == '-' && s[1] != '\0') {
			return passwd_bad_usage("unknown option", s);
		} else if (a->npos < maxpos) {
			a->pos[a->npos++] = s;
		} else {
			return passwd_bad_usage("too many arguments", NULL);
		}
	}
	return 0;
}

/* passwd_tty_restore - turn echo back on if it was turned off */
static void
passwd_tty_restore(void)
{
	if (passwd_tty_off) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &passwd_tty_saved);
		passwd_tty_off = 0;
	}
}

/* passwd_signal_cb - restore the terminal, then die of the same signal */
static void
passwd_signal_cb(int sig)
{
	passwd_tty_restore();	/* tcsetattr is async-signal-safe */
	signal(sig, SIG_DFL);
	raise(sig);
}

/* passwd_echo_off - disable echo on a terminal stdin; 0 or -1 */
static int
passwd_echo_off(void)
{
	struct sigaction sa;
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &passwd_tty_saved) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = passwd_signal_cb;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	t = passwd_tty_saved;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	passwd_tty_off = 1;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == -1) {
		passwd_tty_off = 0;
		return -1;
	}
	return 0;
}

/* passwd_read_stream - one line from stdin into out, CR/LF stripped */
static int
passwd_read_stream(struct buf *out)
{
	int c;

	while ((c = getchar()) != EOF && c != '\n') {
		if (c == '\0') {
			fprintf(stderr, "postroom passwd: NUL byte in input\n");
			return -1;
		}
		if (buf_putc(out, c) == -1) {
			fprintf(stderr, "postroom passwd: input longer than "
			    "%d bytes\n", PASSWD_LINE_MAX);
			return -1;
		}
	}
	if (c == EOF && ferror(stdin)) {
		fprintf(stderr, "postroom passwd: standard input: %s\n",
		    strerror(errno));
		return -1;
	}
	if (c == EOF && out->len == 0) {
		fprintf(stderr, "postroom passwd: no input\n");
		return -1;
	}
	if (out->len > 0 && out->data[out->len - 1] == '\r')
		out->data[--out->len] = '\0';
	return 0;
}

/* passwd_read_line - read a value from stdin, prompting on a terminal */
static int
passwd_read_line(const char *prompt, struct buf *out)
{
	bool tty = isatty(STDIN_FILENO);
	int rc;

	if (tty) {
		fputs(prompt, stderr);
		fflush(stderr);
		if (passwd_echo_off() == -1) {
			fprintf(stderr, "\npostroom passwd: cannot turn off "
			    "echo: %s\n", strerror(errno));
			return -1;
		}
	}
	rc = passwd_read_stream(out);
	if (tty) {
		passwd_tty_restore();
		fputc('\n', stderr);
	}
	return rc;
}

/* passwd_wipe - clear a buffer that held a secret and free it */
static void
passwd_wipe(struct buf *b)
{
	if (b->cap > 0)
		explicit_bzero(b->data, b->cap);
	buf_clear(b);
}

/*
 * passwd_input - the value given on the command line, or else one read
 * from stdin into `in`.  Returns the value or NULL (error reported).
 */
static const char *
passwd_input(const char *arg, const char *prompt, struct buf *in)
{
	if (arg != NULL)
		return arg;
	if (passwd_read_line(prompt, in) == -1)
		return NULL;
	return in->data;
}

/* passwd_print - print a value and a newline; exit status */
static int
passwd_print(const struct buf *b)
{
	fwrite(b->data, 1, b->len, stdout);
	putchar('\n');
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "postroom passwd: standard output: %s\n",
		    strerror(errno));
		return PASSWD_EXIT_FAIL;
	}
	return PASSWD_EXIT_OK;
}

/* passwd_cmd_xmcrypt - print the XMCrypt encoding of a password */
static int
passwd_cmd_xmcrypt(const struct passwd_args *a)
{
	struct buf in, out;
	const char *pw;
	int rc = PASSWD_EXIT_FAIL;

	buf_init(&in, PASSWD_LINE_MAX);
	buf_init(&out, PASSWD_OUT_MAX);
	if ((pw = passwd_input(a->pos[0], "Password: ", &in)) == NULL)
		goto out;
	if (xmcrypt_encode(pw, &out) == -1)
		fprintf(stderr, "postroom passwd: password too long\n");
	else
		rc = passwd_print(&out);
out:
	passwd_wipe(&in);
	passwd_wipe(&out);
	return rc;
}

/* passwd_cmd_decode - print the clear password of an XMCrypt value */
static int
passwd_cmd_decode(const struct passwd_args *a)
{
	struct buf in, out;
	const char *enc;
	int rc = PASSWD_EXIT_FAIL;

	buf_init(&in, PASSWD_OUT_MAX);
	buf_init(&out, PASSWD_OUT_MAX);
	if ((enc = passwd_input(a->pos[0], "XMCrypt value: ", &in)) == NULL)
		goto out;
	if (xmcrypt_decode(enc, &out) == -1)
		fprintf(stderr, "postroom passwd: not a valid XMCrypt value "
		    "(needs an even number of hex digits, none decoding to "
		    "NUL)\n");
	else
		rc = passwd_print(&out);
out:
	passwd_wipe(&in);
	passwd_wipe(&out);
	return rc;
}

/* passwd_cmd_hash - print a yescrypt or sha512-crypt hash */
static int
passwd_cmd_hash(const struct passwd_args *a)
{
	struct buf in, out;
	const char *pw;
	int rc = PASSWD_EXIT_FAIL;

	buf_init(&in, PASSWD_LINE_MAX);
	buf_init(&out, PASSWD_OUT_MAX);
	if ((pw = passwd_input(a->pos[0], "Password: ", &in)) == NULL)
		goto out;
	if (passwd_hash(pw, a->sha512 ? PASSWD_SHA512 : PASSWD_YESCRYPT,
	    &out) == -1)
		fprintf(stderr, "postroom passwd: cannot hash: %s\n",
		    strerror(errno));
	else
		rc = passwd_print(&out);
out:
	passwd_wipe(&in);
	passwd_wipe(&out);
	return rc;
}

/* passwd_cmd_verify - exit 0 when the password matches the stored value */
static int
passwd_cmd_verify(const struct passwd_args *a)
{
	struct buf in, dec;
	const char *pw, *stored = a->pos[0];
	int rc = PASSWD_EXIT_FAIL;

	buf_init(&in, PASSWD_LINE_MAX);
	buf_init(&dec, PASSWD_OUT_MAX);
	if (!passwd_is_hash(stored) && xmcrypt_decode(stored, &dec) == -1) {
		fprintf(stderr, "postroom passwd: STORED is neither a crypt(3) "
		    "hash nor a valid XMCrypt value\n");
		goto out;
	}
	if ((pw = passwd_input(a->pos[1], "Password: ", &in)) == NULL)
		goto out;
	if (passwd_verify(pw, stored))
		rc = PASSWD_EXIT_OK;
	else
		fprintf(stderr, "postroom passwd: password does not match\n");
out:
	passwd_wipe(&in);
	passwd_wipe(&dec);
	return rc;
}

/* One sub-command: name, positional arguments (min, max), handler. */
static const struct {
	const char	*name;
	int		 minpos;
	int		 maxpos;
	bool		 hash;
	int		(*run)(const struct passwd_args *);
} passwd_cmds[] = {
	{ "xmcrypt", 0, 1, false, passwd_cmd_xmcrypt },
	{ "decode", 0, 1, false, passwd_cmd_decode },
	{ "hash", 0, 1, true, passwd_cmd_hash },
	{ "verify", 1, 2, false, passwd_cmd_verify },
};

/* cli_passwd_main - `postroom passwd SUBCOMMAND ...` */
int
cli_passwd_main(int argc, char **argv)
{
	struct passwd_args a;
	size_t i;
	int rc;

	if (argc < 2)
		return passwd_bad_usage("missing sub-command", NULL);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return passwd_usage(false);
	for (i = 0; i < nitems(passwd_cmds); i++) {
		if (strcmp(argv[1], passwd_cmds[i].name) != 0)
			continue;
		rc = passwd_parse(argc - 2, argv + 2, passwd_cmds[i].maxpos,
		    passwd_cmds[i].hash, &a);
		if (rc != 0)
			return rc;
		if (a.help)
			return passwd_usage(false);
		if (a.npos < passwd_cmds[i].minpos)
			return passwd_bad_usage("missing argument",
			    passwd_cmds[i].name);
		return passwd_cmds[i].run(&a);
	}
	return passwd_bad_usage("unknown sub-command", argv[1]);
}
