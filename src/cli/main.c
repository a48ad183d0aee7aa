/*
 * main.c - the postroom multi-call binary: dispatch on the verb.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct verb {
	const char	*name;
	int		(*main)(int, char **);
	const char	*help;
};

static const struct verb verbs[] = {
	{ "init", cli_init_main, "create a new MailRoot with safe defaults" },
	{ "serve", cli_serve_main, "run the mail server" },
	{ "passwd", cli_passwd_main,
	    "XMCrypt encode/decode, crypt(3) password hashes" },
	{ "mkusers", cli_mkusers_main, "create accounts in bulk (MkUsers)" },
	{ "sendmail", cli_sendmail_main,
	    "submit a message through the local mailer" },
	{ "queue", cli_queue_main,
	    "list, show, flush, delete, freeze, thaw queued mail" },
	{ "ctl", cli_ctl_main,
	    "send an admin command to a running server (CtrlClnt)" },
	{ "send", cli_send_main,
	    "send a report e-mail through an SMTP server (scripts, cron)" },
};

/* usage - list the verbs */
static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: postroom VERB [options]\n\nverbs:\n");
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(fp, "  %-10s %s\n", verbs[i].name, verbs[i].help);
	fprintf(fp, "\n`postroom VERB --help` describes a verb.\n");
}

int
main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	size_t i;

	/* Installed as (or linked to) "sendmail": behave as sendmail. */
	base = base != NULL ? base + 1 : argv[0];
	if (strcmp(base, "sendmail") == 0)
		return cli_sendmail_main(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].main(argc - 1, argv + 1);
	fprintf(stderr, "postroom: unknown verb '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
