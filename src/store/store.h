/*
 * store.h - users, aliases and domains of a MailRoot.
 *
 * Lookups work on a configuration snapshot (config.h) and never touch the
 * disk; the functions that read or create per-account files do blocking I/O
 * and belong on worker threads or in command-line tools.
 */
#ifndef POSTROOM_STORE_STORE_H
#define POSTROOM_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/compat.h"
#include "core/tab.h"

struct config;

#define STORE_NAME_MAX		64	/* local part, RFC 5321 4.5.3.1.1 */
#define STORE_DOMAIN_MAX	255	/* domain, RFC 5321 4.5.3.1.2 */
#define STORE_ADDR_MAX		(STORE_NAME_MAX + 1 + STORE_DOMAIN_MAX)

/*
 * store_name_ok - true for an account or alias name safe to use as a file
 * name and in an address: 1..64 bytes of letters, digits and
 * `! # $ % & ' * + - = ? ^ _ ` { | } ~ .`, not starting or ending with '.',
 * no "..".  Wildcards are allowed only if `wild` is true.
 */
bool	store_name_ok(const char *name, bool wild);

/*
 * store_domain_ok - true for a syntactically valid domain name: labels of
 * letters, digits and '-', not starting or ending with '-', 1..63 bytes
 * each, 255 in all, at least one label.  Wildcards only if `wild`.
 */
bool	store_domain_ok(const char *domain, bool wild);

/* An account found in mailusers.tab. */
struct store_user {
	char	domain[STORE_DOMAIN_MAX + 1];	/* as in mailusers.tab */
	char	name[STORE_NAME_MAX + 1];	/* account name */
	char	dir[STORE_NAME_MAX + 1];	/* account directory name */
	char	type;				/* 'U' user, 'M' mailing list */
	unsigned long id;			/* numeric user id */
};

/*
 * store_domain_resolve - the real local domain for `domain`: itself when it
 * is in domains.tab, the target of a matching aliasdomain.tab entry
 * (wildcards allowed), or NULL when the domain is not handled.  The result
 * points into the snapshot.
 */
const char	*store_domain_resolve(const struct config *cfg,
		    const char *domain);

/*
 * store_mxbackup - true when this server is a backup MX for `domain`:
 * server.tab MXBackupEnable is not 0 (default 1) and a line of
 * mxbackup.tab, "domain"<TAB>"DOMAIN" (the domain and its sub-domains)
 * or "domain"<TAB>"HOST" (exactly that name), matches, without case.
 * Lines with another mode are ignored.
 */
bool	store_mxbackup(const struct config *cfg, const char *domain);

/*
 * store_user_find - find the account for name@domain: aliasdomain.tab maps
 * the domain, aliases.tab (wildcards, first match in file order, exact
 * entries win over wildcard ones) maps the name to a local account, then
 * mailusers.tab is searched case-insensitively.  Returns 0 and fills *u, or
 * -1 when there is no such local account.
 */
int	store_user_find(const struct config *cfg, const char *name,
	    const char *domain, struct store_user *u) WARN_UNUSED_RESULT;

/*
 * store_user_record - the mailusers.tab record of account name@domain
 * (the domain as written there; no alias mapping), case-insensitive,
 * copied into *u.  NULL when there is none.  The record (domain, name,
 * password, id, directory, type) points into the snapshot.
 */
const struct tab_rec	*store_user_record(const struct config *cfg,
			    const char *name, const char *domain,
			    struct store_user *u);

/*
 * store_user_path - "<mailroot>/domains/<domain lower-cased>/<dir>" into
 * out.  Returns 0 or -1 (too long).
 */
int	store_user_path(const char *mailroot, const struct store_user *u,
	    char *out, size_t size) WARN_UNUSED_RESULT;

/*
 * store_user_vars_load - read the account's user.tab into t (missing file:
 * empty table).  Blocking.  Returns 0 or -1.
 */
int	store_user_vars_load(const char *mailroot, const struct store_user *u,
	    struct tab *t) WARN_UNUSED_RESULT;

/* store_var - value of variable `name` in a two-column table, or NULL. */
const char	*store_var(const struct tab *t, const char *name);

/*
 * store_userdef_load - the userdef.tab that applies to `domain`:
 * domains/<domain>/userdef.tab if present, else <mailroot>/userdef.tab.
 */
int	store_userdef_load(const char *mailroot, const char *domain,
	    struct tab *t) WARN_UNUSED_RESULT;

/*
 * store_account_create - create the on-disk tree of one account:
 *   domains/<domain lower-cased>/<dir>/  with
 *   user.tab   (`nvars` variables: vars[2i] is a name, vars[2i+1] its
 *              value; written only if the file is absent),
 *   Maildir/{tmp,new,cur}  when maildir is true, else mailbox/.
 * Existing files and directories are kept.  Does not touch
 * mailusers.tab.  Returns 0, or -1 with a message logged.
 */
int	store_account_create(const char *mailroot, const char *domain,
	    const char *dir, bool maildir, const char *const *vars,
	    size_t nvars) WARN_UNUSED_RESULT;

/*
 * store_domain_create - create domains/<domain lower-cased>/ and
 * cmdaliases/<domain lower-cased>/.  Does not touch domains.tab.
 */
int	store_domain_create(const char *mailroot, const char *domain)
	    WARN_UNUSED_RESULT;

/* The verdict on a local recipient (RCPT time and delivery time). */
enum store_rcpt_status {
	STORE_RCPT_OK,
	STORE_RCPT_DISABLED,		/* user.tab ReceiveEnable 0 */
	STORE_RCPT_FULL,		/* MaxMBSize reached */
	STORE_RCPT_CLOSED_LIST,		/* ClosedML 1, sender no W member */
	STORE_RCPT_TEMPFAIL,		/* user.tab or mailbox unreadable */
};

/*
 * store_rcpt_check - may `u` receive a message now?  Reads user.tab
 * (ReceiveEnable, default 1; MaxMBSize in KB, 0 or unset = no limit,
 * compared with the mailbox size; for lists ClosedML, default 0, with
 * mlusers.tab: the sender must be a member with the W permission).
 * `sender` is the envelope sender ("" for <>).  Blocking.
 */
enum store_rcpt_status	store_rcpt_check(const char *mailroot,
			    const struct store_user *u, bool maildir,
			    const char *sender);

/*
 * store_mlusers_load - the mlusers.tab of a mailing-list account
 * ("address"<TAB>"perms" records).  Blocking.  Returns 0 or -1.
 */
int	store_mlusers_load(const char *mailroot, const struct store_user *u,
	    struct tab *t) WARN_UNUSED_RESULT;

/*
 * store_extalias - extaliases.tab: when `sender` (an address) matches an
 * "external-domain" "external-account" entry (case-insensitive, wildcards
 * allowed), write "local-user@local-domain" to out and return true.
 */
bool	store_extalias(const struct config *cfg, const char *sender,
	    char *out, size_t size);

#endif
