/*
 * config.h - immutable configuration snapshots of a MailRoot.
 *
 * A snapshot holds every MailRoot TAB table in memory, parsed once.  The
 * current snapshot is replaced as a whole (one pointer swap) when a table
 * changes on disk (config_poll compares size, mtime and inode of every file)
 * or on SIGHUP (config_reload).  A session takes a reference when it starts
 * and keeps that snapshot until it ends, so it never sees half of an edit.
 * Any TAB file may be edited while the server runs, unlike XMail.
 *
 * config_acquire/config_release are thread-safe; the lookup functions only
 * read an immutable snapshot and are safe from any thread.
 */
#ifndef POSTROOM_CONFIG_CONFIG_H
#define POSTROOM_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/compat.h"
#include "core/tab.h"

/* The MailRoot tables a snapshot holds (manual "MailRoot structure"). */
enum config_table {
	CFG_SERVER,		/* server.tab */
	CFG_DOMAINS,		/* domains.tab */
	CFG_ALIASES,		/* aliases.tab */
	CFG_ALIASDOMAIN,	/* aliasdomain.tab */
	CFG_EXTALIASES,		/* extaliases.tab */
	CFG_MAILUSERS,		/* mailusers.tab */
	CFG_POP3LINKS,		/* pop3links.tab */
	CFG_SMTPGW,		/* smtpgw.tab */
	CFG_SMTPFWD,		/* smtpfwd.tab */
	CFG_SMTPRELAY,		/* smtprelay.tab */
	CFG_SMTPAUTH,		/* smtpauth.tab */
	CFG_SMTPEXTAUTH,	/* smtpextauth.tab */
	CFG_USERDEF,		/* userdef.tab */
	CFG_CTRLACCOUNTS,	/* ctrlaccounts.tab */
	CFG_SPAMMERS,		/* spammers.tab */
	CFG_SPAMADDRESS,	/* spam-address.tab */
	CFG_POP3_IPMAP,		/* pop3.ipmap.tab */
	CFG_SMTP_IPMAP,		/* smtp.ipmap.tab */
	CFG_CTRL_IPMAP,		/* ctrl.ipmap.tab */
	CFG_FINGER_IPMAP,	/* finger.ipmap.tab */
	CFG_FILTERS_IN,		/* filters.in.tab */
	CFG_FILTERS_OUT,	/* filters.out.tab */
	CFG_FILTERS_POST_RCPT,	/* filters.post-rcpt.tab */
	CFG_FILTERS_PRE_DATA,	/* filters.pre-data.tab */
	CFG_FILTERS_POST_DATA,	/* filters.post-data.tab */
	CFG_SMTP_IPPROP,	/* smtp.ipprop.tab */
	CFG_SMTP_HNPROP,	/* smtp.hnprop.tab */
	CFG_MXBACKUP,		/* mxbackup.tab (postroom) */
	CFG_NTABLES
};

struct config;

/* config_table_file - file name of a table, e.g. "domains.tab". */
const char	*config_table_file(enum config_table t);

/*
 * config_init - load the first snapshot of `mailroot`.  Returns 0, or -1
 * (message logged) when the MailRoot cannot be read.
 */
int	config_init(const char *mailroot) WARN_UNUSED_RESULT;

/* config_shutdown - drop the current snapshot (sessions keep theirs). */
void	config_shutdown(void);

/*
 * config_reload - build a new snapshot now and make it current.  `why` is
 * logged.  On failure the old snapshot stays.  Returns 0 or -1.
 */
int	config_reload(const char *why) WARN_UNUSED_RESULT;

/*
 * config_poll - reload if any table file changed since the current
 * snapshot was built.  Returns true when a new snapshot was installed.
 */
bool	config_poll(void);

/* config_acquire - reference to the current snapshot; never NULL after init. */
struct config	*config_acquire(void);

/* config_release - drop a reference; NULL is ignored. */
void	config_release(struct config *cfg);

/* config_generation - 1 for the first snapshot, +1 per reload. */
uint64_t	config_generation(const struct config *cfg);

/* config_mailroot - the MailRoot path. */
const char	*config_mailroot(const struct config *cfg);

/* config_tab - a table of the snapshot (empty when the file is missing). */
const struct tab	*config_tab(const struct config *cfg,
			    enum config_table t);

/*
 * config_var - value of a server.tab variable (names are case-sensitive,
 * as in XMail), or NULL when unset.  The last definition wins.
 */
const char	*config_var(const struct config *cfg, const char *name);

/*
 * config_var_long - numeric value of a variable (atoi-like as XMail: leading
 * digits), or `def` when unset or empty.
 */
long	config_var_long(const struct config *cfg, const char *name, long def);

/* config_var_bool - XMail boolean: true when the number is non-zero. */
bool	config_var_bool(const struct config *cfg, const char *name, bool def);

/*
 * config_ipmap_allow - the *.ipmap.tab verdict for a peer: among matching
 * lines the highest precedence wins, ties go to the later line; no match
 * means allowed (XMail's default).  Lines are `"ip" "netmask" "ALLOW|DENY"
 * "precedence"` or `"ip/bits" "ALLOW|DENY" "precedence"`.
 */
bool	config_ipmap_allow(const struct config *cfg, enum config_table t,
	    const struct sockaddr *peer);

/*
 * config_ipmap_allow_tab - the same verdict, with the same rules, for an
 * ipmap table the caller loaded itself (an account's own pop3.ipmap.tab).
 * The lines are parsed on every call; malformed ones are reported with
 * log_warn and ignored.  An empty table allows.  `peer` must not be NULL.
 */
bool	config_ipmap_allow_tab(const struct tab *t,
	    const struct sockaddr *peer);

/*
 * config_relay_allow - true when the peer matches a line of smtprelay.tab
 * (`"ip"<TAB>"netmask"` or `"ip/bits"`); no match means no relaying.
 */
bool	config_relay_allow(const struct config *cfg,
	    const struct sockaddr *peer);

#endif
