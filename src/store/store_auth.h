/*
 * store_auth.h - who may log in: SMTP AUTH credentials and permissions,
 * POP3 logins, the external authentication programs of smtpextauth.tab
 * and userauth/pop3/, and POP3-before-SMTP.
 *
 * Everything here may read files or run programs: call it on worker
 * threads (or from command-line tools), never on an event loop, except
 * the pure helpers marked "pure".
 *
 * Secrets: mailusers.tab and smtpauth.tab passwords are either XMCrypt
 * (reversible) or crypt(3) hashes (core/passwd.h).  CRAM-MD5 and APOP need
 * the clear secret, so they succeed only for reversible entries; a hashed
 * account can still use PLAIN, LOGIN and USER/PASS.  Passwords and digests
 * are never logged.
 */
#ifndef POSTROOM_STORE_STORE_AUTH_H
#define POSTROOM_STORE_STORE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/compat.h"
#include "store/store.h"

struct config;

/* SMTP permissions: the letters of smtpauth.tab and SmtpPerms. */
enum {
	STORE_PERM_MAIL		= 1u << 0,	/* M: may send mail */
	STORE_PERM_RELAY	= 1u << 1,	/* R: may relay */
	STORE_PERM_VRFY		= 1u << 2,	/* V: VRFY allowed */
	STORE_PERM_ETRN		= 1u << 3,	/* T: ETRN allowed */
	STORE_PERM_NOSIZE	= 1u << 4,	/* Z: no size limit */
	STORE_PERM_EASETLS	= 1u << 5,	/* S: WantTLS waived */
};

/*
 * store_perms_parse - permission bits of a letter string (pure).  Upper-case
 * letters only, as XMail; any other character is ignored; NULL gives 0.
 */
unsigned	store_perms_parse(const char *letters);

/*
 * store_perms_format - letters of the bits, in MRVTZS order (pure).  Always
 * NUL-terminated when size > 0; letters that do not fit are left out.
 */
void	store_perms_format(unsigned perms, char *out, size_t size);

/*
 * store_login_split - split a login name into account name and domain
 * (pure).  Accepted forms: "user@domain", "user:domain", "user%domain"
 * (the first of '@', ':' or '%' separates), or a bare "user", which takes
 * `default_domain` (NULL or "" means a bare name fails).  Both parts are
 * validated (store_name_ok / store_domain_ok).  Returns 0 or -1; on
 * failure both outputs are "" (when their size is not 0).
 */
int	store_login_split(const char *login, const char *default_domain,
	    char *name, size_t name_size, char *domain, size_t domain_size)
	    WARN_UNUSED_RESULT;

/*
 * store_account_find - the mailusers.tab account name@domain, the domain
 * mapped through aliasdomain.tab; aliases.tab is NOT applied (a login
 * names an account).  A domain neither domains.tab nor aliasdomain.tab
 * handles is looked up as given, as XMail does.  Case-insensitive.
 * Mailing-list rows ('M') are found too: callers check u->type.
 * On success fills *u and, when
 * `secret` is not NULL, points it at the stored password field inside the
 * snapshot (XMCrypt or hash).  Returns 0 or -1 (pure: snapshot only).
 */
int	store_account_find(const struct config *cfg, const char *name,
	    const char *domain, struct store_user *u, const char **secret)
	    WARN_UNUSED_RESULT;

/* Result of an authentication attempt. */
enum store_auth_result {
	STORE_AUTH_OK,
	STORE_AUTH_FAIL,	/* wrong name, password, or refused */
	STORE_AUTH_TEMPFAIL,	/* files unreadable, program failed */
};

/* One SMTP AUTH attempt, as decoded from the client's SASL exchange. */
struct store_smtp_auth {
	const char	*mech;		/* "PLAIN", "LOGIN", "CRAM-MD5", or an
					   smtpextauth.tab auth-name */
	const char	*user;		/* user name as the client sent it */
	const char	*pass;		/* PLAIN/LOGIN password, else NULL */
	const char	*chall;		/* CRAM-MD5 challenge text, else NULL */
	const char	*digest;	/* CRAM-MD5 hex digest, else NULL */
};

/*
 * store_smtp_auth - check SMTP AUTH credentials (manual SMTPAUTH.TAB and
 * SMTPEXTAUTH.TAB):
 *  - when smtpextauth.tab has rows, only they count: the first row whose
 *    auth-name equals mech (case-insensitive) is run through spawn_run
 *    (timeout from the caller's `timeout` seconds) with the macros
 *    @@AUTH @@USER @@PASS @@CHALL @@DGEST @@RFILE expanded (RFILE is a
 *    fresh private temporary file, removed afterwards); exit status 0 =
 *    success; permissions from an RFILE line "Perms=<letters>", else
 *    DefaultSmtpPerms; no row for mech = failure;
 *  - otherwise mailusers.tab first: the user name in any store_login_split
 *    form (no default domain), a 'U' account, the password verified
 *    (PLAIN/LOGIN: passwd_verify; CRAM-MD5: HMAC-MD5 keyed with the
 *    decoded XMCrypt secret, hex digest compared case-insensitively in
 *    constant time).  Permissions: the account's user.tab SmtpPerms, else
 *    server.tab DefaultSmtpPerms, else "MR".  canon = "name@domain".
 *  - when that does not succeed, smtpauth.tab: a row whose first field
 *    equals the user name exactly, its second field the password: clear
 *    text as in XMail (compared in constant time; CRAM-MD5 keyed with
 *    it), or, when it starts with '$', a crypt(3) hash (passwd_verify;
 *    CRAM-MD5 then fails); permissions from its third field.  canon = the
 *    user name.
 * Returns OK with *perms and canon filled, FAIL, or TEMPFAIL.
 *
 * Details:
 *  - smtpextauth.tab "has rows" when it has any record; @@AUTH is the
 *    auth-name as written in the row; a non-zero exit status is FAIL, a
 *    program that cannot be started, is killed or times out is TEMPFAIL;
 *    RFILE is created in $TMPDIR (absolute) or /tmp; its first "Perms="
 *    line counts (name case-insensitive, CR/LF line ends);
 *  - built-in mechanisms are PLAIN, LOGIN and CRAM-MD5 (case-insensitive);
 *    any other mech without smtpextauth.tab is FAIL; PLAIN/LOGIN need
 *    user and pass, CRAM-MD5 user, chall and digest;
 *  - a DefaultSmtpPerms or SmtpPerms that is set but empty grants nothing;
 *  - smtpauth.tab rows with fewer than 3 fields are ignored;
 *  - user.tab unreadable is TEMPFAIL;
 *  - on failure *perms is unchanged and canon is "";
 *  - every failure is logged at info level (user name, mech, reason, never
 *    the secret), so callers need not log it again;
 *  - XXX: @@PASS (and @@PASSWD below) reach the program as command-line
 *    arguments, visible to local users through ps; that is XMail's
 *    interface, kept for compatibility with existing programs.
 */
enum store_auth_result	store_smtp_auth(const struct config *cfg,
			    const struct store_smtp_auth *a, int timeout,
			    unsigned *perms, char *canon, size_t canon_size);

/*
 * store_smtp_ext_mechs - the auth-names of smtpextauth.tab separated by
 * single spaces into out ("" when the table is empty or missing); these
 * replace the built-in mechanisms in the EHLO AUTH line (pure).  Rows with
 * no program, names that are not SASL mechanism names (RFC 4422 3.1:
 * 1..20 letters, digits, '-', '_') and repeated names (case-insensitive)
 * are skipped; the list stops at the first name that does not fit.
 */
void	store_smtp_ext_mechs(const struct config *cfg, char *out,
	    size_t size);

/* One POP3 login (USER/PASS or APOP). */
struct store_pop3_login {
	const char	*login;		/* USER or APOP name as sent */
	const char	*pass;		/* PASS argument, or NULL for APOP */
	const char	*apop_ts;	/* APOP: greeting timestamp "<...>" */
	const char	*apop_digest;	/* APOP: the client's hex digest */
	const char	*default_domain; /* for a bare name, or NULL */
	const struct sockaddr *peer;	/* client address */
	const char	*peer_ip;	/* its text form */
	int		 timeout;	/* seconds for an external program */
};

/*
 * store_pop3_auth - check a POP3 login, in XMail's order:
 *  1. the account exists (store_login_split with default_domain, then
 *     store_account_find; mailing lists cannot log in);
 *  2. user.tab PopEnable (default 1);
 *  3. the account's own pop3.ipmap.tab (<userdir>/pop3.ipmap.tab, same
 *     format and rules as the global one; missing = allowed);
 *  4. external authentication: userauth/pop3/<domain>.tab, else
 *     userauth/pop3/.tab; when one exists, its first "userauth" row is
 *     run with @@USER @@DOMAIN @@PASSWD @@PATH and its exit status 0
 *     decides (APOP cannot use it: fails);
 *     otherwise the password (passwd_verify) or the APOP digest
 *     (MD5 of timestamp + decoded XMCrypt secret, hex, case-insensitive);
 *  5. on success, the client IP is written to <userdir>/.ipconn for
 *     POP3-before-SMTP.
 * `why` (may be NULL) receives a short reason for the log ("no such
 * account", "PopEnable=0", "pop3.ipmap.tab", "bad password", ...).
 * Returns OK with *u filled, FAIL, or TEMPFAIL.
 *
 * Details:
 *  - `why` points to a static string ("ok" on success);
 *  - a NULL peer with a non-empty per-user pop3.ipmap.tab is refused;
 *  - the userauth file is named after the account's mailusers.tab domain,
 *    lower-cased; @@USER and @@DOMAIN are the account's name and domain
 *    from mailusers.tab, @@PATH its directory; when the chosen file has
 *    no "userauth" row the stored password decides (no fall-back to
 *    .tab);
 *  - the program's non-zero exit status is FAIL; a program that cannot be
 *    started, is killed or times out is TEMPFAIL; so is an unreadable
 *    user.tab, pop3.ipmap.tab or userauth file;
 *  - failing to write .ipconn is logged and does not fail the login;
 *  - *why gets the reason of a failure; the caller logs it (once);
 *  - the global pop3.ipmap.tab and the mailbox lock are the caller's.
 */
enum store_auth_result	store_pop3_auth(const struct config *cfg,
			    const struct store_pop3_login *l,
			    struct store_user *u, const char **why);

/*
 * store_pop3_domain - the domain for bare POP3 user names: server.tab
 * POP3Domain; else the reverse lookup of the local address `local`
 * (getnameinfo, NI_NAMEREQD) walked from the full name to its parents
 * (a.b.c, then b.c, then c), the first one that store_domain_resolve
 * handles (the name as found, not mapped through aliasdomain.tab); else
 * RootDomain; else "".  A value that does not fit in out is skipped;
 * out is always NUL-terminated when size > 0.  Blocking (may query DNS).
 */
void	store_pop3_domain(const struct config *cfg,
	    const struct sockaddr *local, char *out, size_t size);

/*
 * store_pop3_ipconn_valid - POP3-before-SMTP: true when the account's
 * .ipconn names `ip` and was written less than `expire` seconds ago
 * (modification time).  Trailing white space in the file is ignored and
 * the address compared case-insensitively; `expire` <= 0 gives false.
 * Blocking (reads the file).
 */
bool	store_pop3_ipconn_valid(const char *mailroot,
	    const struct store_user *u, const char *ip, int expire);

/*
 * store_cram_md5_ok / store_apop_ok - the digest checks (pure): `hex` is
 * the client's answer (hex, either case), `secret` the clear password.
 * Constant time except for the answer's length.  Any NULL gives false.
 */
bool	store_cram_md5_ok(const char *secret, const char *chall,
	    const char *hex);
bool	store_apop_ok(const char *secret, const char *ts, const char *hex);

#endif
