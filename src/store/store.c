/*
 * store.c - users, aliases and domains.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/match.h"
#include "maildir/maildir.h"
#include "store/store.h"

#define STORE_DIR_MODE	0700

/* is_atext - RFC 5322 atext character */
static bool
is_atext(int ch)
{
	return isalnum(ch) ||
	    (ch != 0 && strchr("!#$%&'*+-=?^_`{|}~", ch) != NULL);
}

/* store_name_ok - safe account/alias name */
bool
store_name_ok(const char *name, bool wild)
{
	size_t n = strlen(name), i;

	if (n == 0 || n > STORE_NAME_MAX || name[0] == '.' ||
	    name[n - 1] == '.' || strstr(name, "..") != NULL)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch != '.' && !is_atext(ch))
			return false;
	}
	if (!wild && strpbrk(name, "*?") != NULL)
		return false;
	return true;
}

/* store_domain_ok - valid domain name */
bool
store_domain_ok(const char *domain, bool wild)
{
	size_t n = strlen(domain), label = 0, i;

	if (n == 0 || n > STORE_DOMAIN_MAX)
		return false;
	for (i = 0; i <= n; i++) {
		unsigned char ch = (unsigned char)domain[i];

		if (ch == '.' || ch == '\0') {
			if (label == 0 || domain[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (label == 0 && ch == '-')
			return false;
		if (!(isalnum(ch) || ch == '-' || (wild &&
		    (ch == '*' || ch == '?'))))
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

/* store_domain_resolve - real local domain */
const char *
store_domain_resolve(const struct config *cfg, const char *domain)
{
	const struct tab *t = config_tab(cfg, CFG_DOMAINS);
	const struct tab_rec *r;
	size_t i;

	r = tab_find(t, 0, domain, 1);
	if (r != NULL)
		return r->f[0];
	t = config_tab(cfg, CFG_ALIASDOMAIN);
	for (i = 0; i < t->nrecs; i++) {
		r = &t->recs[i];
		if (r->n >= 2 && match_wild(r->f[0], domain))
			return tab_find(config_tab(cfg, CFG_DOMAINS), 0,
			    r->f[1], 1) != NULL ? r->f[1] : NULL;
	}
	return NULL;
}

/* store_mxbackup - a backup-MX domain (mxbackup.tab) */
bool
store_mxbackup(const struct config *cfg, const char *domain)
{
	const struct tab *t = config_tab(cfg, CFG_MXBACKUP);
	size_t i, dl = strlen(domain), el;

	if (t->nrecs == 0 || !config_var_bool(cfg, "MXBackupEnable", true))
		return false;
	for (i = 0; i < t->nrecs; i++) {
		const struct tab_rec *r = &t->recs[i];

		if (r->n < 2)
			continue;
		el = strlen(r->f[0]);
		if (strcasecmp(r->f[0], domain) == 0 &&
		    (strcasecmp(r->f[1], "HOST") == 0 ||
		    strcasecmp(r->f[1], "DOMAIN") == 0))
			return true;
		if (strcasecmp(r->f[1], "DOMAIN") == 0 && dl > el + 1 &&
		    domain[dl - el - 1] == '.' &&
		    strcasecmp(domain + dl - el, r->f[0]) == 0)
			return true;
	}
	return false;
}

/* user_fill - copy a mailusers.tab record */
static int
user_fill(const struct tab_rec *r, struct store_user *u)
{
	if (r->n < 6 || !str_copy(u->domain, r->f[0], sizeof(u->domain)) ||
	    !str_copy(u->name, r->f[1], sizeof(u->name)) ||
	    !str_copy(u->dir, r->f[4], sizeof(u->dir)))
		return -1;
	u->id = strtoul(r->f[3], NULL, 10);
	u->type = (char)toupper((unsigned char)r->f[5][0]);
	return 0;
}

/* store_user_record - mailusers.tab record of name@domain */
const struct tab_rec *
store_user_record(const struct config *cfg, const char *name,
    const char *domain, struct store_user *u)
{
	const struct tab *t = config_tab(cfg, CFG_MAILUSERS);
	size_t i;

	for (i = 0; i < t->nrecs; i++) {
		const struct tab_rec *r = &t->recs[i];

		if (r->n >= 6 && strcasecmp(r->f[0], domain) == 0 &&
		    strcasecmp(r->f[1], name) == 0)
			return user_fill(r, u) == 0 ? r : NULL;
	}
	return NULL;
}

/* user_lookup - mailusers.tab entry for name@domain */
static int
user_lookup(const struct config *cfg, const char *name, const char *domain,
    struct store_user *u)
{
	return store_user_record(cfg, name, domain, u) != NULL ? 0 : -1;
}

/* alias_target - resolve one aliases.tab target */
static int
alias_target(const struct config *cfg, const char *target,
    const char *domain, struct store_user *u)
{
	char name[STORE_NAME_MAX + 1];
	const char *at = strchr(target, '@'), *real;

	if (at == NULL)
		return user_lookup(cfg, target, domain, u);
	if ((size_t)(at - target) >= sizeof(name))
		return -1;
	memcpy(name, target, (size_t)(at - target));
	name[at - target] = '\0';
	real = store_domain_resolve(cfg, at + 1);
	if (real == NULL)
		return -1;
	return user_lookup(cfg, name, real, u);
}

/* store_user_find - account for name@domain */
int
store_user_find(const struct config *cfg, const char *name,
    const char *domain, struct store_user *u)
{
	const struct tab *t = config_tab(cfg, CFG_ALIASES);
	const char *real = store_domain_resolve(cfg, domain);
	size_t i;
	int pass;

	if (real == NULL)
		return -1;
	if (user_lookup(cfg, name, real, u) == 0)
		return 0;
	/* Exact alias entries first, then wildcard ones, in file order. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < t->nrecs; i++) {
			const struct tab_rec *r = &t->recs[i];
			bool wild;

			if (r->n < 3)
				continue;
			wild = match_has_wild(r->f[0]) ||
			    match_has_wild(r->f[1]);
			if (wild != (pass == 1))
				continue;
			if (!(match_wild(r->f[0], domain) ||
			    match_wild(r->f[0], real)) ||
			    !match_wild(r->f[1], name))
				continue;
			return alias_target(cfg, r->f[2], real, u);
		}
	}
	return -1;
}

/* domain_path - <mailroot>/domains/<domain lower-cased> */
static int
domain_path(const char *mailroot, const char *domain, char *out, size_t size)
{
	char lc[STORE_DOMAIN_MAX + 1];
	int n;

	if (!str_lower_copy(lc, domain, sizeof(lc)))
		return -1;
	n = snprintf(out, size, "%s/domains/%s", mailroot, lc);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* store_user_path - account directory */
int
store_user_path(const char *mailroot, const struct store_user *u, char *out,
    size_t size)
{
	char dp[4096];
	int n;

	if (domain_path(mailroot, u->domain, dp, sizeof(dp)) == -1)
		return -1;
	n = snprintf(out, size, "%s/%s", dp, u->dir);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* store_user_vars_load - user.tab of an account */
int
store_user_vars_load(const char *mailroot, const struct store_user *u,
    struct tab *t)
{
	char dir[4096], path[4096];

	if (store_user_path(mailroot, u, dir, sizeof(dir)) == -1 ||
	    fs_path(path, sizeof(path), dir, "user.tab") == -1)
		return -1;
	return tab_load(path, t);
}

/* store_var - variable of a two-column table */
const char *
store_var(const struct tab *t, const char *name)
{
	const char *v = NULL;
	size_t i;

	for (i = 0; i < t->nrecs; i++)
		if (t->recs[i].n >= 2 && strcmp(t->recs[i].f[0], name) == 0)
			v = t->recs[i].f[1];
	return v;
}

/* store_userdef_load - userdef.tab for a domain */
int
store_userdef_load(const char *mailroot, const char *domain, struct tab *t)
{
	char dp[4096], path[4096];

	if (domain_path(mailroot, domain, dp, sizeof(dp)) == -1 ||
	    fs_path(path, sizeof(path), dp, "userdef.tab") == -1)
		return -1;
	if (!fs_exists(path) &&
	    fs_path(path, sizeof(path), mailroot, "userdef.tab") == -1)
		return -1;
	return tab_load(path, t);
}

/* mkdir_log - create a directory, logging failures */
static int
mkdir_log(const char *path)
{
	if (fs_mkdir_p(path, STORE_DIR_MODE) == -1) {
		log_error("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* user_tab_write - write user.tab unless it exists */
static int
user_tab_write(const char *path, const char *const *vars, size_t nvars)
{
	struct buf out;
	size_t i;
	int r = -1;

	if (fs_exists(path))
		return 0;
	buf_init(&out, 1 << 20);
	for (i = 0; i < nvars; i++)
		if (tab_format(&out, vars + 2 * i, 2, 0) == -1) {
			log_error("%s: value of %s cannot be stored", path,
			    vars[2 * i]);
			goto out;
		}
	r = fs_write_new(path, out.data, out.len, 0600);
	if (r == -1)
		log_error("cannot write %s: %s", path, strerror(errno));
out:
	buf_clear(&out);
	return r;
}

/* store_account_create - account tree on disk */
int
store_account_create(const char *mailroot, const char *domain,
    const char *dir, bool maildir, const char *const *vars, size_t nvars)
{
	static const char *const sub[] = { "Maildir/tmp", "Maildir/new",
	    "Maildir/cur" };
	char dp[4096], up[4096], path[4096];
	size_t i;

	if (!store_domain_ok(domain, false) || !store_name_ok(dir, false)) {
		log_error("invalid account %s@%s", dir, domain);
		return -1;
	}
	if (domain_path(mailroot, domain, dp, sizeof(dp)) == -1 ||
	    fs_path(up, sizeof(up), dp, dir) == -1 || mkdir_log(up) == -1)
		return -1;
	if (fs_path(path, sizeof(path), up, "user.tab") == -1 ||
	    user_tab_write(path, vars, nvars) == -1)
		return -1;
	if (!maildir)
		return fs_path(path, sizeof(path), up, "mailbox") == -1 ? -1 :
		    mkdir_log(path);
	for (i = 0; i < nitems(sub); i++)
		if (fs_path(path, sizeof(path), up, sub[i]) == -1 ||
		    mkdir_log(path) == -1)
			return -1;
	return 0;
}

/* store_domain_create - domain directories */
int
store_domain_create(const char *mailroot, const char *domain)
{
	char lc[STORE_DOMAIN_MAX + 1], path[4096];
	int n;

	if (!store_domain_ok(domain, false) ||
	    !str_lower_copy(lc, domain, sizeof(lc))) {
		log_error("invalid domain %s", domain);
		return -1;
	}
	if (domain_path(mailroot, domain, path, sizeof(path)) == -1 ||
	    mkdir_log(path) == -1)
		return -1;
	n = snprintf(path, sizeof(path), "%s/cmdaliases/%s", mailroot, lc);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	return mkdir_log(path);
}

/* store_mlusers_load - members of a list */
int
store_mlusers_load(const char *mailroot, const struct store_user *u,
    struct tab *t)
{
	char dir[4096], path[4096];

	if (store_user_path(mailroot, u, dir, sizeof(dir)) == -1 ||
	    fs_path(path, sizeof(path), dir, "mlusers.tab") == -1)
		return -1;
	return tab_load(path, t);
}

/* ml_may_post - sender is a member with W */
static bool
ml_may_post(const struct tab *members, const char *sender)
{
	size_t i;

	for (i = 0; i < members->nrecs; i++) {
		const struct tab_rec *r = &members->recs[i];

		if (r->n >= 2 && strcasecmp(r->f[0], sender) == 0 &&
		    strpbrk(r->f[1], "Ww") != NULL)
			return true;
	}
	return false;
}

/* store_rcpt_check - may the account receive now */
enum store_rcpt_status
store_rcpt_check(const char *mailroot, const struct store_user *u,
    bool maildir, const char *sender)
{
	enum store_rcpt_status st = STORE_RCPT_OK;
	struct tab vars = { 0 }, members = { 0 };
	const char *v;
	char dir[4096];
	long long used, max;

	if (store_user_vars_load(mailroot, u, &vars) == -1)
		return STORE_RCPT_TEMPFAIL;
	v = store_var(&vars, "ReceiveEnable");
	if (v != NULL && strtol(v, NULL, 10) == 0) {
		st = STORE_RCPT_DISABLED;
	} else if (u->type == 'M') {
		v = store_var(&vars, "ClosedML");
		if (v != NULL && strtol(v, NULL, 10) != 0) {
			if (store_mlusers_load(mailroot, u, &members) == -1)
				st = STORE_RCPT_TEMPFAIL;
			else if (!ml_may_post(&members, sender))
				st = STORE_RCPT_CLOSED_LIST;
		}
	} else {
		v = store_var(&vars, "MaxMBSize");
		max = v != NULL ? strtoll(v, NULL, 10) : 0;
		if (max > 0) {
			if (store_user_path(mailroot, u, dir, sizeof(dir)) ==
			    -1 || (used = maildir_size(dir, maildir)) < 0)
				st = STORE_RCPT_TEMPFAIL;
			else if (used >= max * 1024)
				st = STORE_RCPT_FULL;
		}
	}
	tab_free(&vars);
	tab_free(&members);
	return st;
}

/* store_extalias - extaliases.tab mapping of a sender */
bool
store_extalias(const struct config *cfg, const char *sender, char *out,
    size_t size)
{
	const struct tab *t = config_tab(cfg, CFG_EXTALIASES);
	const char *at = strrchr(sender, '@');
	char name[STORE_NAME_MAX + 1];
	size_t i;
	int n;

	if (at == NULL || (size_t)(at - sender) >= sizeof(name))
		return false;
	memcpy(name, sender, (size_t)(at - sender));
	name[at - sender] = '\0';
	for (i = 0; i < t->nrecs; i++) {
		const struct tab_rec *r = &t->recs[i];

		if (r->n < 4 || !match_wild(r->f[0], at + 1) ||
		    !match_wild(r->f[1], name))
			continue;
		n = snprintf(out, size, "%s@%s", r->f[3], r->f[2]);
		return n > 0 && (size_t)n < size;
	}
	return false;
}
