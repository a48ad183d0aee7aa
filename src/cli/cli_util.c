/*
 * cli_util.c - small helpers the verbs share (cli.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

/* cli_help - the full help, or the synopsis and a pointer to --help */
int
cli_help(const char *verb, const char *synopsis, const char *text,
    bool error)
{
	if (error) {
		fputs(synopsis, stderr);
		fprintf(stderr, "Run `postroom %s --help' for details.\n",
		    verb);
		return 2;
	}
	fputs(synopsis, stdout);
	fputs(text, stdout);
	return 0;
}

/* cli_num - a decimal number in [min, max], or -1 */
long
cli_num(const char *s, long min, long max)
{
	char *end;
	long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	return v;
}
