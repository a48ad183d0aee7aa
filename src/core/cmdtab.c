/*
 * cmdtab.c - table-driven command dispatch.
 */
#include <strings.h>

#include "core/cmdtab.h"

/* cmdtab_dispatch - find, check and run a command */
enum cmdtab_status
cmdtab_dispatch(const struct cmdtab_row *tab, size_t n, unsigned state,
    void *sess, char *line, const struct cmdtab_row **row)
{
	char *arg, *p;
	size_t i, vlen;

	*row = NULL;
	for (p = line; *p != '\0' && *p != ' '; p++)
		;
	vlen = (size_t)(p - line);
	arg = p;
	while (*arg == ' ')
		arg++;
	for (i = 0; i < n; i++)
		if (strncasecmp(tab[i].verb, line, vlen) == 0 &&
		    tab[i].verb[vlen] == '\0')
			break;
	if (i == n || vlen == 0)
		return CMDTAB_UNKNOWN;
	*row = &tab[i];
	if (((1u << state) & tab[i].states) == 0)
		return CMDTAB_BAD_STATE;
	if ((tab[i].arg == CMDTAB_ARG_NONE && *arg != '\0') ||
	    (tab[i].arg == CMDTAB_ARG_REQ && *arg == '\0'))
		return CMDTAB_BAD_ARG;
	tab[i].fn(sess, arg);
	return CMDTAB_DONE;
}
