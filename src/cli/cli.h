/*
 * cli.h - the verbs of the postroom multi-call binary.
 *
 * Each verb gets argv with argv[0] set to the verb name and returns the
 * process exit status: 0 success, 1 failure, 2 usage error (bad option).
 */
#ifndef POSTROOM_CLI_CLI_H
#define POSTROOM_CLI_CLI_H

#include <stdbool.h>

int	cli_init_main(int argc, char **argv);
int	cli_serve_main(int argc, char **argv);
int	cli_passwd_main(int argc, char **argv);
int	cli_mkusers_main(int argc, char **argv);
int	cli_sendmail_main(int argc, char **argv);
int	cli_queue_main(int argc, char **argv);
int	cli_ctl_main(int argc, char **argv);
int	cli_send_main(int argc, char **argv);

/*
 * cli_help - `postroom VERB --help`: synopsis and text on stdout, returns
 * 0; or, for a usage error (error true), the synopsis and a pointer to
 * --help on stderr, returns 2.
 */
int	cli_help(const char *verb, const char *synopsis, const char *text,
	    bool error);

/* cli_num - s is decimal digits only, in [min, max]: its value; else -1. */
long	cli_num(const char *s, long min, long max);

#endif
