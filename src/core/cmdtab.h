/*
 * cmdtab.h - table-driven command dispatch for the line protocols (SMTP,
 * POP3, CTRL).
 *
 * A role declares a static table; each row names a verb, the session
 * states (bitmask) in which it is allowed, flags, an argument policy and a
 * handler.  cmdtab_dispatch finds the row and checks state and argument,
 * so handlers hold only command-specific logic; the role turns the
 * generic outcomes into its protocol's replies (500/503/501 in SMTP).
 */
#ifndef POSTROOM_CORE_CMDTAB_H
#define POSTROOM_CORE_CMDTAB_H

#include <stddef.h>

#define CMDTAB_VERB_MAX		16	/* longest verb */

enum cmdtab_arg {
	CMDTAB_ARG_NONE,	/* no argument allowed */
	CMDTAB_ARG_OPT,		/* optional argument */
	CMDTAB_ARG_REQ,		/* argument required */
};

/* Row flags. */
#define CMDTAB_F_SENSITIVE	0x01	/* never log the argument */
#define CMDTAB_F_GROUP_END	0x02	/* flush replies (RFC 2920 3.1) */

struct cmdtab_row {
	const char	*verb;		/* upper case */
	unsigned	 states;	/* 1u << STATE bits where allowed */
	unsigned	 flags;		/* CMDTAB_F_* */
	enum cmdtab_arg	 arg;
	void		(*fn)(void *sess, char *arg);	/* arg "" if none */
};

enum cmdtab_status {
	CMDTAB_DONE,		/* the handler ran */
	CMDTAB_UNKNOWN,		/* no such verb */
	CMDTAB_BAD_STATE,	/* verb not allowed now */
	CMDTAB_BAD_ARG,		/* argument missing or not allowed */
};

/*
 * cmdtab_dispatch - split `line` into verb and argument (one or more
 * spaces; verbs compare case-insensitively), find the row, check
 * `state` and the argument policy, and run the handler.  *row gets the
 * matching row (NULL for UNKNOWN) so the caller can read its flags.
 */
enum cmdtab_status	cmdtab_dispatch(const struct cmdtab_row *tab,
			    size_t n, unsigned state, void *sess, char *line,
			    const struct cmdtab_row **row);

#endif
