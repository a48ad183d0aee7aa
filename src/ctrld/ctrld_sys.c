/*
 * ctrld_sys.c - the CTRL commands on domains, alias domains, custom
 * domains, POP3 links, MailRoot files, frozen messages, ETRN and (a
 * postroom extension) backup-MX domains.
 *
 * Table changes go through store_tab_edit under the table lock, so they
 * read the table from disk, keep every line they do not touch and replace
 * the file atomically; whole files are written through a temporary and a
 * rename.  Listings of tables come from the command's snapshot.
 *
 * filelist, cfgfileget and cfgfileset take a path from the network: it
 * must be relative, without "..", "." or empty components and without
 * control bytes, and it is walked one component at a time from a
 * descriptor of the MailRoot with O_NOFOLLOW, so no symbolic link is ever
 * followed, not even one swapped in after a check.  Only directories are
 * listed and only regular files are read or written.
 */
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/compat.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/match.h"
#include "core/passwd.h"
#include "core/tab.h"
#include "ctrld/ctrld_int.h"
#include "queue/queue.h"
#include "queue/queue_admin.h"
#include "store/store.h"
#include "store/store_edit.h"

#define SYS_PATH_MAX		4096	/* any path built here */
#define SYS_RELPATH_MAX		1024	/* a MailRoot-relative path */
#define SYS_LEVEL_DIGITS	3	/* lev0/lev1 of the froz* commands */
#define SYS_TMP_TRIES		16	/* temporary names tried */
#define SYS_KEYS_MAX		4	/* key fields an edit compares */
#define SYS_TABLE_MODE		0644	/* new tables */
#define SYS_SECRET_MODE		0600	/* new tables holding passwords */
#define SYS_DIR_MODE		0755
#define SYS_CUSTDOM_DIR		"custdomains"
#define SYS_CUSTDOM_EXT		".tab"
#define SYS_LINKS_DIR		"pop3links"	/* non-local disabled links */
#define SYS_DISABLED_EXT	".disabled"
#define SYS_TIME_FMT		"%Y-%m-%d %H:%M:%S"

/* What store_tab_edit's end() reports (positive: nothing written). */
enum sys_edit_rc {
	SYS_EDIT_OK = 0,
	SYS_EDIT_EXISTS,	/* a matching record is already there */
	SYS_EDIT_BAD,		/* the new record cannot be written */
	SYS_EDIT_PREPARE,	/* prepare() failed */
};

/*
 * Which records an edit looks for: field col[i] equals key[i] (ASCII case
 * ignored) for every i, in a record of at least `minfields` fields.  For
 * an addition, `fields` is the record appended when none matches, after
 * prepare() (may be NULL) succeeded.
 */
struct sys_match {
	size_t			 col[SYS_KEYS_MAX];
	const char		*key[SYS_KEYS_MAX];
	size_t			 nkeys;
	size_t			 minfields;
	unsigned		 hits;		/* matching records seen */
	const char *const	*fields;	/* record to add */
	size_t			 nfields;
	int			(*prepare)(const char *mailroot,
				    const char *arg);
	const char		*mailroot;
	const char		*parg;		/* argument of prepare() */
};

/* sys_list_fail - drop a partial listing and report why */
static void
sys_list_fail(struct ctrld_res *res)
{
	buf_reset(&res->list);
	ctrld_fail(res, CTRLD_E_MEMORY);
}

/*
 * sys_domain_arg - a domain parameter, lower-cased into out (XMail lowers
 * domains before storing them).  On a bad name fails with XMail's
 * "Name does not respect RFC822" and returns false.
 */
static bool
sys_domain_arg(struct ctrld_res *res, const char *s, bool wild, char *out,
    size_t size)
{
	if (!store_domain_ok(s, wild) || !str_lower_copy(out, s, size)) {
		ctrld_fail(res, CTRLD_E_RFCNAME);
		return false;
	}
	return true;
}

/* sys_match_rec - does record r match m? */
static bool
sys_match_rec(const struct tab_rec *r, const struct sys_match *m)
{
	size_t i;

	if (r->n < m->minfields)
		return false;
	for (i = 0; i < m->nkeys; i++)
		if (m->col[i] >= r->n || strcasecmp(r->f[m->col[i]],
		    m->key[i]) != 0)
			return false;
	return true;
}

/* sys_drop_rec - store_tab_edit rec(): drop matching records */
static enum store_tab_act
sys_drop_rec(const struct tab_rec *r, struct buf *repl, void *arg)
{
	struct sys_match *m = arg;

	(void)repl;
	if (!sys_match_rec(r, m))
		return STORE_TAB_KEEP;
	m->hits++;
	return STORE_TAB_DROP;
}

/* sys_find_rec - store_tab_edit rec(): count matching records */
static enum store_tab_act
sys_find_rec(const struct tab_rec *r, struct buf *repl, void *arg)
{
	struct sys_match *m = arg;

	(void)repl;
	if (sys_match_rec(r, m))
		m->hits++;
	return STORE_TAB_KEEP;
}

/* sys_add_end - store_tab_edit end(): append m->fields unless found */
static int
sys_add_end(struct buf *tail, void *arg)
{
	struct sys_match *m = arg;

	if (m->hits > 0)
		return SYS_EDIT_EXISTS;
	if (m->prepare != NULL && m->prepare(m->mailroot, m->parg) == -1)
		return SYS_EDIT_PREPARE;
	if (tab_format(tail, m->fields, m->nfields, 0) == -1)
		return SYS_EDIT_BAD;
	return SYS_EDIT_OK;
}

/* sys_tab_drop - drop the records matching m; -1 on I/O error */
static int
sys_tab_drop(const char *mailroot, const char *file, struct sys_match *m)
{
	struct store_tab_op op = { sys_drop_rec, NULL, m };

	return store_tab_edit(mailroot, file, SYS_TABLE_MODE, &op);
}

/* sys_tab_add - append m->fields unless a record matches; see sys_edit_rc */
static int
sys_tab_add(const char *mailroot, const char *file, mode_t mode,
    struct sys_match *m)
{
	struct store_tab_op op = { sys_find_rec, sys_add_end, m };

	m->mailroot = mailroot;
	return store_tab_edit(mailroot, file, mode, &op);
}

/*
 * sys_add_result - the reply for sys_tab_add's result `rc`; `exists` is
 * the error for a duplicate.
 */
static void
sys_add_result(struct ctrld_res *res, int rc, int exists)
{
	switch (rc) {
	case SYS_EDIT_OK:
		res->reload = true;
		return;
	case SYS_EDIT_EXISTS:
		ctrld_fail(res, exists);
		return;
	case SYS_EDIT_BAD:
		ctrld_fail(res, CTRLD_E_INVALID_PARAM);
		return;
	default:
		ctrld_fail(res, CTRLD_E_FILE_CREATE);
		return;
	}
}

/* sys_locked_add - sys_tab_add under the table lock, with its reply */
static void
sys_locked_add(const struct ctrld_req *req, struct ctrld_res *res,
    const char *file, mode_t mode, struct sys_match *m, int exists)
{
	int lk, rc;

	if ((lk = store_lock(req->mailroot)) == -1) {
		ctrld_fail(res, CTRLD_E_FILE_OPEN);
		return;
	}
	rc = sys_tab_add(req->mailroot, file, mode, m);
	store_unlock(lk);
	sys_add_result(res, rc, exists);
}

/*
 * sys_locked_drop - sys_tab_drop under the table lock, with its reply:
 * `missing` when no record matched.
 */
static void
sys_locked_drop(const struct ctrld_req *req, struct ctrld_res *res,
    const char *file, struct sys_match *m, int missing)
{
	int lk, rc;

	if ((lk = store_lock(req->mailroot)) == -1) {
		ctrld_fail(res, CTRLD_E_FILE_OPEN);
		return;
	}
	rc = sys_tab_drop(req->mailroot, file, m);
	store_unlock(lk);
	if (rc == -1)
		ctrld_fail(res, CTRLD_E_FILE_CREATE);
	else if (m->hits == 0)
		ctrld_fail(res, missing);
	else
		res->reload = true;
}

/* sys_wild_any - does s match one of the n patterns (none: all)? */
static bool
sys_wild_any(char *const *pat, size_t n, const char *s)
{
	size_t i;

	if (n == 0)
		return true;
	for (i = 0; i < n; i++)
		if (match_wild(pat[i], s))
			return true;
	return false;
}

/* cmd_noop - "noop" */
static void
cmd_noop(const struct ctrld_req *req, struct ctrld_res *res)
{
	(void)req;
	res->code = 0;
}

/* --- domains ------------------------------------------------------ */

/*
 * cmd_domainadd - "domainadd dom": a record in domains.tab and the
 * domain's directories, created before the table names the domain.
 */
static void
cmd_domainadd(const struct ctrld_req *req, struct ctrld_res *res)
{
	char dom[STORE_DOMAIN_MAX + 1];
	const char *f[1] = { dom };
	struct sys_match m = { .col = { 0 }, .key = { dom }, .nkeys = 1,
	    .minfields = 1, .fields = f, .nfields = 1,
	    .prepare = store_domain_create, .parg = dom };

	if (!sys_domain_arg(res, req->argv[1], false, dom, sizeof(dom)))
		return;
	sys_locked_add(req, res, "domains.tab", SYS_TABLE_MODE, &m,
	    CTRLD_E_ALREADY_EXIST);
}

/*
 * What domaindel removes besides the domains.tab record (XMail's
 * MDomRemoveDomain): the domain's accounts, aliases, external aliases and
 * POP3 links, and the alias domains pointing at it.
 */
static const struct {
	const char	*file;
	size_t		 col;		/* field holding the domain */
	size_t		 minfields;
} sys_domain_refs[] = {
	{ "mailusers.tab", 0, 6 },
	{ "aliases.tab", 0, 3 },
	{ "extaliases.tab", 2, 4 },
	{ "pop3links.tab", 0, 6 },
	{ "aliasdomain.tab", 1, 2 },
};

/* sys_rm_sub - remove <mailroot>/<sub>/<dom> (gone already is fine) */
static int
sys_rm_sub(const char *mailroot, const char *sub, const char *dom)
{
	char path[SYS_PATH_MAX];
	int n;

	n = snprintf(path, sizeof(path), "%s/%s/%s", mailroot, sub, dom);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	return fs_rm_tree(path) == -1 && errno != ENOENT ? -1 : 0;
}

/* sys_domain_purge - the domain's records and directories; 0 or -1 */
static int
sys_domain_purge(const char *mailroot, const char *dom)
{
	struct sys_match m;
	size_t i;
	int rc = 0;

	for (i = 0; i < nitems(sys_domain_refs); i++) {
		memset(&m, 0, sizeof(m));
		m.col[0] = sys_domain_refs[i].col;
		m.key[0] = dom;
		m.nkeys = 1;
		m.minfields = sys_domain_refs[i].minfields;
		if (sys_tab_drop(mailroot, sys_domain_refs[i].file, &m) == -1)
			rc = -1;
	}
	if (sys_rm_sub(mailroot, "domains", dom) == -1 ||
	    sys_rm_sub(mailroot, "cmdaliases", dom) == -1)
		rc = -1;
	if (rc == -1)
		log_warn("ctrl: domaindel %s: not everything removed", dom);
	return rc;
}

/* cmd_domaindel - "domaindel dom" */
static void
cmd_domaindel(const struct ctrld_req *req, struct ctrld_res *res)
{
	char dom[STORE_DOMAIN_MAX + 1];
	struct sys_match m = { .col = { 0 }, .key = { dom }, .nkeys = 1,
	    .minfields = 1 };
	int lk, rc;

	if (!sys_domain_arg(res, req->argv[1], false, dom, sizeof(dom)))
		return;
	if ((lk = store_lock(req->mailroot)) == -1) {
		ctrld_fail(res, CTRLD_E_FILE_OPEN);
		return;
	}
	rc = sys_tab_drop(req->mailroot, "domains.tab", &m);
	if (rc == 0 && m.hits > 0)
		rc = sys_domain_purge(req->mailroot, dom);
	store_unlock(lk);
	if (m.hits > 0)
		res->reload = true;
	if (rc == -1)
		ctrld_fail(res, CTRLD_E_FILE_CREATE);
	else if (m.hits == 0)
		ctrld_fail(res, CTRLD_E_DOMAIN_NOT_HANDLED);
}

/* cmd_domainlist - "domainlist [wild ...]": patterns are OR-ed */
static void
cmd_domainlist(const struct ctrld_req *req, struct ctrld_res *res)
{
	const struct tab *t = config_tab(req->cfg, CFG_DOMAINS);
	const char *f[1];
	size_t i;

	ctrld_list_begin(res);
	for (i = 0; i < t->nrecs; i++) {
		if (t->recs[i].n < 1 || !sys_wild_any(req->argv + 1,
		    req->argc - 1, t->recs[i].f[0]))
			continue;
		f[0] = t->recs[i].f[0];
		if (ctrld_list_rec(res, f, 1) == -1) {
			sys_list_fail(res);
			return;
		}
	}
}

/* --- alias domains (aliasdomain.tab: "alias" "real") -------------- */

/* cmd_aliasdomainadd - "aliasdomainadd realdom aliasdom" */
static void
cmd_aliasdomainadd(const struct ctrld_req *req, struct ctrld_res *res)
{
	char real[STORE_DOMAIN_MAX + 1], alias[STORE_DOMAIN_MAX + 1];
	const char *f[2] = { alias, real };
	const struct tab *doms = config_tab(req->cfg, CFG_DOMAINS);
	struct sys_match m = { .col = { 0 }, .key = { alias }, .nkeys = 1,
	    .minfields = 2, .fields = f, .nfields = 2 };

	if (!sys_domain_arg(res, req->argv[1], false, real, sizeof(real)) ||
	    !sys_domain_arg(res, req->argv[2], true, alias, sizeof(alias)))
		return;
	/* An alias of an alias is not allowed: the target is a real one. */
	if (tab_find(doms, 0, real, 1) == NULL) {
		ctrld_fail(res, CTRLD_E_DOMAIN_NOT_HANDLED);
		return;
	}
	if (tab_find(doms, 0, alias, 1) != NULL) {
		ctrld_fail(res, CTRLD_E_ADOMAIN_EXIST);
		return;
	}
	sys_locked_add(req, res, "aliasdomain.tab", SYS_TABLE_MODE, &m,
	    CTRLD_E_ADOMAIN_EXIST);
}

/* cmd_aliasdomaindel - "aliasdomaindel aliasdom" */
static void
cmd_aliasdomaindel(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct sys_match m = { .col = { 0 }, .key = { req->argv[1] },
	    .nkeys = 1, .minfields = 2 };

	sys_locked_drop(req, res, "aliasdomain.tab", &m,
	    CTRLD_E_ADOMAIN_NOT_FOUND);
}

/*
 * cmd_aliasdomainlist - "aliasdomainlist [wild-dom [wild-adom]]": the
 * first pattern filters the real domain, the second the alias.
 */
static void
cmd_aliasdomainlist(const struct ctrld_req *req, struct ctrld_res *res)
{
	const struct tab *t = config_tab(req->cfg, CFG_ALIASDOMAIN);
	const char *f[2];
	size_t i;

	ctrld_list_begin(res);
	for (i = 0; i < t->nrecs; i++) {
		if (t->recs[i].n < 2)
			continue;
		f[0] = t->recs[i].f[1];
		f[1] = t->recs[i].f[0];
		if ((req->argc > 1 && !match_wild(req->argv[1], f[0])) ||
		    (req->argc > 2 && !match_wild(req->argv[2], f[1])))
			continue;
		if (ctrld_list_rec(res, f, 2) == -1) {
			sys_list_fail(res);
			return;
		}
	}
}

/* --- custom domains (custdomains/<domain>.tab) -------------------- */

/* sys_custdom_path - custdomains/<dom>.tab in the MailRoot; 0 or -1 */
static int
sys_custdom_path(const char *mailroot, const char *dom, char *out,
    size_t size)
{
	int n;

	n = snprintf(out, size, "%s/%s/%s%s", mailroot, SYS_CUSTDOM_DIR, dom,
	    SYS_CUSTDOM_EXT);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* cmd_custdomget - "custdomget dom": the file, line by line */
static void
cmd_custdomget(const struct ctrld_req *req, struct ctrld_res *res)
{
	char dom[STORE_DOMAIN_MAX + 1], path[SYS_PATH_MAX];

	if (!sys_domain_arg(res, req->argv[1], false, dom, sizeof(dom)))
		return;
	if (sys_custdom_path(req->mailroot, dom, path, sizeof(path)) == -1) {
		ctrld_fail(res, CTRLD_E_NOT_CUSTDOM);
		return;
	}
	if (ctrld_list_file(res, AT_FDCWD, path) == -1)
		ctrld_fail(res, errno == ENOENT ? CTRLD_E_NOT_CUSTDOM :
		    CTRLD_E_FILE_OPEN);
}

/* check_custdomset - the domain name, before "+00101 OK" */
static int
check_custdomset(const struct ctrld_req *req, struct ctrld_res *res)
{
	char dom[STORE_DOMAIN_MAX + 1];

	return sys_domain_arg(res, req->argv[1], false, dom, sizeof(dom)) ?
	    0 : -1;
}

/* sys_custdom_write - replace or (empty data) remove the file; 0 or -1 */
static int
sys_custdom_write(const struct ctrld_req *req, const char *dom)
{
	char path[SYS_PATH_MAX];

	if (sys_custdom_path(req->mailroot, dom, path, sizeof(path)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (req->datalen == 0)
		return unlink(path) == -1 && errno != ENOENT ? -1 : 0;
	if (fs_path(path, sizeof(path), req->mailroot, SYS_CUSTDOM_DIR) ==
	    -1 || fs_mkdir_p(path, SYS_DIR_MODE) == -1 ||
	    sys_custdom_path(req->mailroot, dom, path, sizeof(path)) == -1)
		return -1;
	return fs_write_atomic(path, req->data, req->datalen,
	    SYS_TABLE_MODE);
}

/* cmd_custdomset - "custdomset dom" with the new file as upload */
static void
cmd_custdomset(const struct ctrld_req *req, struct ctrld_res *res)
{
	char dom[STORE_DOMAIN_MAX + 1];
	int lk;

	if (!sys_domain_arg(res, req->argv[1], false, dom, sizeof(dom)))
		return;
	if ((lk = store_lock(req->mailroot)) == -1) {
		ctrld_fail(res, CTRLD_E_FILE_OPEN);
		return;
	}
	if (sys_custdom_write(req, dom) == -1) {
		log_warn("ctrl: custdomset %s: %m", dom);
		ctrld_fail(res, CTRLD_E_FILE_CREATE);
	} else
		res->reload = true;
	store_unlock(lk);
}

/* cmd_custdomlist - "custdomlist": domains with a custdomains/ file */
static void
cmd_custdomlist(const struct ctrld_req *req, struct ctrld_res *res)
{
	char path[SYS_PATH_MAX], dom[NAME_MAX + 1];
	const char *f[1] = { dom };
	struct dirent *de;
	struct stat st;
	size_t n, el = strlen(SYS_CUSTDOM_EXT);
	DIR *d;

	ctrld_list_begin(res);
	if (fs_path(path, sizeof(path), req->mailroot, SYS_CUSTDOM_DIR) ==
	    -1 || (d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n <= el || strcmp(de->d_name + n - el, SYS_CUSTDOM_EXT) !=
		    0 || fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
			continue;
		memcpy(dom, de->d_name, n - el);
		dom[n - el] = '\0';
		if (tab_value_ok(dom) && ctrld_list_rec(res, f, 1) == -1) {
			sys_list_fail(res);
			break;
		}
	}
	(void)closedir(d);
}

/* --- POP3 links (pop3links.tab) ----------------------------------- */

/* The fields of a pop3links.tab record. */
enum sys_link_field {
	LNK_DOMAIN, LNK_NAME, LNK_RDOMAIN, LNK_RNAME, LNK_PASSWORD, LNK_AUTH,
	LNK_NFIELDS
};

/*
 * sys_user_find - the account `name` of `domain` as XMail's
 * UsrGetUserByName finds it: mailusers.tab as given, else through the
 * alias domain.  0 or -1.
 */
static int
sys_user_find(const struct config *cfg, const char *domain,
    const char *name, struct store_user *u)
{
	const char *real;

	if (store_user_record(cfg, name, domain, u) != NULL)
		return 0;
	real = store_domain_resolve(cfg, domain);
	if (real != NULL && store_user_record(cfg, name, real, u) != NULL)
		return 0;
	return -1;
}

/* sys_link_part_ok - an external name or domain usable in a file name */
static bool
sys_link_part_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > STORE_DOMAIN_MAX)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '/')
			return false;
	return true;
}

/*
 * sys_link_disabled_path - the file whose presence disables a link, where
 * XMail keeps it: "<euser>@<edomain>.disabled" in the local account's
 * directory, or in MailRoot/pop3links/ for the non-local forms ("@dom",
 * "?dom", "&dom").  0, or -1 when there is no such account or a name
 * cannot be a file name.
 */
static int
sys_link_disabled_path(const struct ctrld_req *req, const char *ldom,
    const char *luser, const char *edom, const char *euser, char *out,
    size_t size)
{
	char dir[SYS_PATH_MAX];
	struct store_user u;
	int n;

	if (!sys_link_part_ok(edom) || !sys_link_part_ok(euser))
		return -1;
	if (ldom[0] != '@' && ldom[0] != '?' && ldom[0] != '&') {
		if (sys_user_find(req->cfg, ldom, luser, &u) == -1 ||
		    store_user_path(req->mailroot, &u, dir, sizeof(dir)) == -1)
			return -1;
	} else if (fs_path(dir, sizeof(dir), req->mailroot, SYS_LINKS_DIR) ==
	    -1)
		return -1;
	n = snprintf(out, size, "%s/%s@%s%s", dir, euser, edom,
	    SYS_DISABLED_EXT);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* sys_link_check - is the local side of a link valid (poplnkadd/del)? */
static bool
sys_link_check(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct store_user u;

	if (store_domain_resolve(req->cfg, req->argv[1]) == NULL) {
		ctrld_fail(res, CTRLD_E_DOMAIN_NOT_HANDLED);
		return false;
	}
	if (sys_user_find(req->cfg, req->argv[1], req->argv[2], &u) == -1) {
		ctrld_fail(res, CTRLD_E_USER_NOT_FOUND);
		return false;
	}
	return true;
}

/*
 * cmd_poplnkadd - "poplnkadd ldom luser edom euser epass authtype": the
 * password is stored XMCrypt-encoded, as XMail does.
 */
static void
cmd_poplnkadd(const struct ctrld_req *req, struct ctrld_res *res)
{
	char *const *a = req->argv;
	const char *f[LNK_NFIELDS];
	struct sys_match m = { .col = { 0, 1, 2, 3 },
	    .key = { a[1], a[2], a[3], a[4] }, .nkeys = 4,
	    .minfields = LNK_NFIELDS, .fields = f, .nfields = LNK_NFIELDS };
	struct buf enc;

	if (!sys_link_check(req, res))
		return;
	if (!sys_link_part_ok(a[3]) || !sys_link_part_ok(a[4])) {
		ctrld_fail(res, CTRLD_E_INVALID_PARAM);
		return;
	}
	buf_init(&enc, TAB_LINE_MAX);
	if (xmcrypt_encode(a[5], &enc) == -1) {
		buf_clear(&enc);
		ctrld_fail(res, CTRLD_E_INVALID_PARAM);
		return;
	}
	f[LNK_DOMAIN] = a[1];
	f[LNK_NAME] = a[2];
	f[LNK_RDOMAIN] = a[3];
	f[LNK_RNAME] = a[4];
	f[LNK_PASSWORD] = enc.data;
	f[LNK_AUTH] = a[6];
	sys_locked_add(req, res, "pop3links.tab", SYS_SECRET_MODE, &m,
	    CTRLD_E_LINK_EXIST);
	buf_clear(&enc);
}

/*
 * sys_link_unmark - remove the disabled marks of the links matching the
 * four keys in the snapshot (named after the records, whatever the case
 * of the parameters).
 */
static void
sys_link_unmark(const struct ctrld_req *req, const struct sys_match *m)
{
	const struct tab *t = config_tab(req->cfg, CFG_POP3LINKS);
	const struct tab_rec *r;
	char path[SYS_PATH_MAX];
	size_t i;

	for (i = 0; i < t->nrecs; i++) {
		r = &t->recs[i];
		if (!sys_match_rec(r, m) || sys_link_disabled_path(req,
		    r->f[LNK_DOMAIN], r->f[LNK_NAME], r->f[LNK_RDOMAIN],
		    r->f[LNK_RNAME], path, sizeof(path)) == -1)
			continue;
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("ctrl: poplnkdel: %s: %m", path);
	}
}

/*
 * cmd_poplnkdel - "poplnkdel ldom luser edom euser"; the link's disabled
 * mark goes with it.
 */
static void
cmd_poplnkdel(const struct ctrld_req *req, struct ctrld_res *res)
{
	char *const *a = req->argv;
	struct sys_match m = { .col = { 0, 1, 2, 3 },
	    .key = { a[1], a[2], a[3], a[4] }, .nkeys = 4,
	    .minfields = LNK_NFIELDS };

	if (!sys_link_check(req, res))
		return;
	sys_locked_drop(req, res, "pop3links.tab", &m, CTRLD_E_LINK_NOT_FOUND);
	if (res->code == 0)
		sys_link_unmark(req, &m);
}

/* sys_link_list_one - the listing line of one pop3links.tab record */
static int
sys_link_list_one(const struct ctrld_req *req, struct ctrld_res *res,
    const struct tab_rec *r, bool show)
{
	char path[SYS_PATH_MAX];
	const char *f[LNK_NFIELDS + 1];
	struct buf pw;
	size_t i;
	int rc;

	buf_init(&pw, TAB_LINE_MAX);
	for (i = 0; i < LNK_NFIELDS; i++)
		f[i] = r->f[i];
	f[LNK_PASSWORD] = "";
	if (show && xmcrypt_decode(r->f[LNK_PASSWORD], &pw) == 0 &&
	    tab_value_ok(pw.data))
		f[LNK_PASSWORD] = pw.data;
	/* As XMail: a link whose mark cannot be checked shows as off. */
	f[LNK_NFIELDS] = sys_link_disabled_path(req, r->f[LNK_DOMAIN],
	    r->f[LNK_NAME], r->f[LNK_RDOMAIN], r->f[LNK_RNAME], path,
	    sizeof(path)) == 0 && !fs_exists(path) ? "ON" : "OFF";
	rc = ctrld_list_rec(res, f, LNK_NFIELDS + 1);
	buf_clear(&pw);
	return rc;
}

/*
 * cmd_poplnklist - "poplnklist [ldom [luser]]" (exact, case-insensitive
 * filters).  The password is shown only with CtrlShowPasswords.
 */
static void
cmd_poplnklist(const struct ctrld_req *req, struct ctrld_res *res)
{
	const struct tab *t = config_tab(req->cfg, CFG_POP3LINKS);
	bool show = config_var_bool(req->cfg, "CtrlShowPasswords", false);
	const struct tab_rec *r;
	size_t i;

	ctrld_list_begin(res);
	for (i = 0; i < t->nrecs; i++) {
		r = &t->recs[i];
		if (r->n < LNK_NFIELDS || (req->argc > 1 &&
		    strcasecmp(r->f[LNK_DOMAIN], req->argv[1]) != 0) ||
		    (req->argc > 2 &&
		    strcasecmp(r->f[LNK_NAME], req->argv[2]) != 0))
			continue;
		if (sys_link_list_one(req, res, r, show) == -1) {
			sys_list_fail(res);
			return;
		}
	}
}

/* sys_link_mark - create (disable) or remove (enable) the mark; 0 or -1 */
static int
sys_link_mark(const char *path, bool enable)
{
	char stamp[64];
	struct tm tm;
	time_t now = time(NULL);

	if (enable)
		return unlink(path) == -1 && errno != ENOENT ? -1 : 0;
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%d %b %Y %H:%M:%S %Z\n", &tm) == 0)
		stamp[0] = '\0';
	return fs_write_atomic(path, stamp, strlen(stamp), SYS_TABLE_MODE);
}

/* sys_enable_arg - the "enable" parameter: decimal digits, 0 is off */
static bool
sys_enable_arg(const char *s, bool *enable)
{
	const char *p;

	if (*s == '\0')
		return false;
	for (p = s; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return false;
	*enable = strspn(s, "0") != strlen(s);
	return true;
}

/* sys_link_enable_one - enable or disable one link; 0 or -1 */
static int
sys_link_enable_one(const struct ctrld_req *req, const struct tab_rec *r,
    bool enable)
{
	char path[SYS_PATH_MAX];

	if (sys_link_disabled_path(req, r->f[LNK_DOMAIN], r->f[LNK_NAME],
	    r->f[LNK_RDOMAIN], r->f[LNK_RNAME], path, sizeof(path)) == -1 ||
	    sys_link_mark(path, enable) == -1) {
		log_warn("ctrl: poplnkenable %s@%s: cannot %s", r->f[LNK_NAME],
		    r->f[LNK_DOMAIN], enable ? "enable" : "disable");
		return -1;
	}
	return 0;
}

/* sys_link_selected - is r one of the links "poplnkenable" names? */
static bool
sys_link_selected(const struct tab_rec *r, char *const *a, size_t argc)
{
	return r->n >= LNK_NFIELDS &&
	    strcasecmp(r->f[LNK_DOMAIN], a[2]) == 0 &&
	    strcasecmp(r->f[LNK_NAME], a[3]) == 0 &&
	    (argc <= 4 || strcasecmp(r->f[LNK_RDOMAIN], a[4]) == 0) &&
	    (argc <= 5 || strcasecmp(r->f[LNK_RNAME], a[5]) == 0);
}

/*
 * cmd_poplnkenable - "poplnkenable 0|1 ldom luser [edom [euser]]": the
 * links of the local account, or only those of the external ones given.
 */
static void
cmd_poplnkenable(const struct ctrld_req *req, struct ctrld_res *res)
{
	const struct tab *t = config_tab(req->cfg, CFG_POP3LINKS);
	char *const *a = req->argv;
	const struct tab_rec *r;
	size_t i, hits = 0;
	bool enable;
	int lk, rc = 0;

	if (!sys_enable_arg(a[1], &enable)) {
		ctrld_fail(res, CTRLD_E_INVALID_PARAM);
		return;
	}
	if ((lk = store_lock(req->mailroot)) == -1) {
		ctrld_fail(res, CTRLD_E_FILE_OPEN);
		return;
	}
	for (i = 0; i < t->nrecs; i++) {
		r = &t->recs[i];
		if (!sys_link_selected(r, a, req->argc))
			continue;
		hits++;
		if (sys_link_enable_one(req, r, enable) == -1)
			rc = -1;
	}
	store_unlock(lk);
	if (hits == 0)
		ctrld_fail(res, CTRLD_E_LINK_NOT_FOUND);
	else if (rc == -1)
		ctrld_fail(res, CTRLD_E_FILE_CREATE);
	else
		res->reload = true;
}

/* --- MailRoot files ----------------------------------------------- */

/*
 * sys_relpath_ok - a MailRoot-relative path CTRL may use: not absolute,
 * no "..", "." or empty component, no control byte, bounded.  "" (the
 * MailRoot itself) only when `root` is true.  As XMail, ".." anywhere is
 * refused, not only as a whole component.
 */
static bool
sys_relpath_ok(const char *p, bool root)
{
	const char *c, *s;
	size_t n;

	if (*p == '\0')
		return root;
	if (*p == '/' || strlen(p) > SYS_RELPATH_MAX || strstr(p, "..") != NULL)
		return false;
	for (c = p; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return false;
	for (c = p;; c = s + 1) {
		s = strchr(c, '/');
		n = s != NULL ? (size_t)(s - c) : strlen(c);
		if (n == 0 || n > NAME_MAX || (n == 1 && c[0] == '.'))
			return false;
		if (s == NULL)
			return true;
	}
}

/*
 * sys_open_dir - open directory `name` in dfd without following a
 * symbolic link (then ELOOP, also where O_DIRECTORY reports ENOTDIR).
 */
static int
sys_open_dir(int dfd, const char *name)
{
	struct stat st;
	int fd, e;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1 && errno == ENOTDIR) {
		e = errno;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			e = ELOOP;
		errno = e;
	}
	return fd;
}

/*
 * sys_walk - a descriptor of the directory `rel` (checked with
 * sys_relpath_ok) names in the MailRoot, or with `last` set, of the
 * directory holding its last component, which *last then points to.
 * Every component is opened from the previous one with O_NOFOLLOW.
 * Returns the descriptor, or -1 (errno: ELOOP for a symbolic link,
 * ENOENT, ENOTDIR...).
 */
static int
sys_walk(const char *mailroot, const char *rel, const char **last)
{
	char comp[NAME_MAX + 1];
	const char *p = rel, *s;
	size_t n;
	int fd, nfd, e;

	if ((fd = open(mailroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	while (*p != '\0') {
		s = strchr(p, '/');
		if (s == NULL && last != NULL) {
			*last = p;
			return fd;
		}
		n = s != NULL ? (size_t)(s - p) : strlen(p);
		memcpy(comp, p, n);
		comp[n] = '\0';
		nfd = sys_open_dir(fd, comp);
		e = errno;
		(void)close(fd);
		if ((fd = nfd) == -1) {
			errno = e;
			return -1;
		}
		p = s != NULL ? s + 1 : p + n;
	}
	return fd;
}

/* sys_filelist_one - the listing line of one entry, regular files only */
static int
sys_filelist_one(struct ctrld_res *res, int dfd, const char *name,
    const char *pattern)
{
	char size[32];
	const char *f[2] = { name, size };
	struct stat st;

	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    !match_wild(pattern, name) || !tab_value_ok(name) ||
	    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(st.st_mode))
		return 0;
	(void)snprintf(size, sizeof(size), "%lld", (long long)st.st_size);
	return ctrld_list_rec(res, f, 2);
}

/* cmd_filelist - "filelist reldir match": "name" "size" per file */
static void
cmd_filelist(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if (!sys_relpath_ok(req->argv[1], true)) {
		ctrld_fail(res, CTRLD_E_BAD_PATH);
		return;
	}
	if ((fd = sys_walk(req->mailroot, req->argv[1], NULL)) == -1) {
		if (errno == ELOOP)
			ctrld_fail(res, CTRLD_E_BAD_PATH);
		else
			ctrld_fail(res, CTRLD_E_LISTDIR);
		return;
	}
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		ctrld_fail(res, CTRLD_E_LISTDIR);
		return;
	}
	ctrld_list_begin(res);
	while ((de = readdir(d)) != NULL) {
		if (sys_filelist_one(res, dirfd(d), de->d_name,
		    req->argv[2]) == -1) {
			sys_list_fail(res);
			break;
		}
	}
	(void)closedir(d);
}

/*
 * sys_path_fail - the reply for a failed walk or open of a file:
 * symbolic links are path errors (XMail's "relative path syntax"),
 * anything else `other`.
 */
static void
sys_path_fail(struct ctrld_res *res, int other)
{
	ctrld_fail(res, errno == ELOOP ? CTRLD_E_BAD_PATH : other);
}

/* cmd_cfgfileget - "cfgfileget relpath": a regular file, line by line */
static void
cmd_cfgfileget(const struct ctrld_req *req, struct ctrld_res *res)
{
	const char *name;
	int dfd;

	if (!sys_relpath_ok(req->argv[1], false)) {
		ctrld_fail(res, CTRLD_E_BAD_PATH);
		return;
	}
	if ((dfd = sys_walk(req->mailroot, req->argv[1], &name)) == -1) {
		sys_path_fail(res, CTRLD_E_FILE_OPEN);
		return;
	}
	if (ctrld_list_file(res, dfd, name) == -1) {
		buf_reset(&res->list);
		sys_path_fail(res, CTRLD_E_FILE_OPEN);
	}
	(void)close(dfd);
}

/* check_cfgfileset - the path syntax, before "+00101 OK" */
static int
check_cfgfileset(const struct ctrld_req *req, struct ctrld_res *res)
{
	if (sys_relpath_ok(req->argv[1], false))
		return 0;
	ctrld_fail(res, CTRLD_E_BAD_PATH);
	return -1;
}

/* sys_secret_file - a table holding passwords (new files get 0600) */
static bool
sys_secret_file(const char *name)
{
	return strcmp(name, "mailusers.tab") == 0 ||
	    strcmp(name, "ctrlaccounts.tab") == 0 ||
	    strcmp(name, "pop3links.tab") == 0;
}

/*
 * sys_tmp_at - create a fresh ".ctrl.tmp.<pid>.<random>" in dfd (O_EXCL,
 * O_NOFOLLOW) with `mode`; its name goes to tmp.  The descriptor or -1.
 */
static int
sys_tmp_at(int dfd, char *tmp, size_t size, mode_t mode)
{
	static _Atomic unsigned long counter;
	unsigned long r;
	int i, fd;

	for (i = 0; i < SYS_TMP_TRIES; i++) {
		/* Predictable without entropy, but O_EXCL keeps it safe. */
		if (getrandom(&r, sizeof(r), GRND_NONBLOCK) !=
		    (ssize_t)sizeof(r))
			r = (unsigned long)time(NULL) ^ ++counter;
		(void)snprintf(tmp, size, ".ctrl.tmp.%ld.%lx", (long)getpid(),
		    r);
		fd = openat(dfd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW |
		    O_CLOEXEC, mode);
		if (fd != -1 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/*
 * sys_write_at - replace regular file `name` in dfd durably: a temporary
 * in the same directory, fsync, renameat, fsync of the directory.  A new
 * file gets `mode` (less the umask), an existing one keeps its bits.  A
 * symbolic link (ELOOP) or anything but a regular file (EISDIR, EINVAL)
 * at `name` is refused.  0 or -1.
 */
static int
sys_write_at(int dfd, const char *name, const char *data, size_t len,
    mode_t mode)
{
	char tmp[64];
	struct stat st;
	bool keep = false;
	int fd, e;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISREG(st.st_mode)) {
			errno = S_ISLNK(st.st_mode) ? ELOOP :
			    S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
			return -1;
		}
		mode = st.st_mode & 07777;
		keep = true;
	} else if (errno != ENOENT)
		return -1;
	if ((fd = sys_tmp_at(dfd, tmp, sizeof(tmp), keep ? 0600 : mode)) ==
	    -1)
		return -1;
	if ((keep && fchmod(fd, mode) == -1) ||
	    fs_write_all(fd, data, len) == -1 || fsync(fd) == -1) {
		e = errno;
		(void)close(fd);
		(void)unlinkat(dfd, tmp, 0);
		errno = e;
		return -1;
	}
	if (close(fd) == -1 || renameat(dfd, tmp, dfd, name) == -1) {
		e = errno;
		(void)unlinkat(dfd, tmp, 0);
		errno = e;
		return -1;
	}
	return fsync(dfd);
}

/*
 * sys_remove_at - remove regular file `name` in dfd (a missing one is
 * fine: XMail ignores it too); links and directories are refused.
 */
static int
sys_remove_at(int dfd, const char *name)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISLNK(st.st_mode) ? ELOOP : EISDIR;
		return -1;
	}
	if (unlinkat(dfd, name, 0) == -1 && errno != ENOENT)
		return -1;
	return fsync(dfd);
}

/*
 * cmd_cfgfileset - "cfgfileset relpath" with the new content as upload;
 * an empty upload removes the file.
 */
static void
cmd_cfgfileset(const struct ctrld_req *req, struct ctrld_res *res)
{
	const char *name;
	mode_t mode;
	int lk, dfd, rc;

	if (check_cfgfileset(req, res) == -1)
		return;
	if ((lk = store_lock(req->mailroot)) == -1) {
		ctrld_fail(res, CTRLD_E_FILE_OPEN);
		return;
	}
	if ((dfd = sys_walk(req->mailroot, req->argv[1], &name)) == -1) {
		sys_path_fail(res, CTRLD_E_FILE_CREATE);
		store_unlock(lk);
		return;
	}
	mode = sys_secret_file(name) ? SYS_SECRET_MODE : SYS_TABLE_MODE;
	if (req->datalen == 0)
		rc = sys_remove_at(dfd, name);
	else
		rc = sys_write_at(dfd, name, req->data, req->datalen, mode);
	if (rc == -1) {
		log_warn("ctrl: cfgfileset %s: %m", req->argv[1]);
		sys_path_fail(res, CTRLD_E_FILE_CREATE);
	} else
		res->reload = true;
	(void)close(dfd);
	store_unlock(lk);
}

/* --- frozen messages ---------------------------------------------- */

/* sys_level_arg - a spool level: 1-3 decimal digits below split */
static bool
sys_level_arg(const char *s, int split, int *out)
{
	size_t i, n = strlen(s);
	int v = 0;

	if (n == 0 || n > SYS_LEVEL_DIGITS)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return v < split;
}

/* sys_spool_name_ok - a plain spool file name */
static bool
sys_spool_name_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > QUEUE_NAME_MAX || s[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == '/')
			return false;
	return true;
}

/*
 * sys_frozen_arg - "lev0 lev1 msgfile" of a message that really is in
 * froz/ (a regular file).  Fails with "Invalid spool file" otherwise.
 */
static bool
sys_frozen_arg(const struct ctrld_req *req, struct ctrld_res *res,
    struct queue_ref *r)
{
	char path[SYS_PATH_MAX];
	struct stat st;

	memset(r, 0, sizeof(*r));
	if (!sys_level_arg(req->argv[1], req->opts->split, &r->l1) ||
	    !sys_level_arg(req->argv[2], req->opts->split, &r->l2) ||
	    !sys_spool_name_ok(req->argv[3]) ||
	    !str_copy(r->name, req->argv[3], sizeof(r->name)) ||
	    queue_path(req->mailroot, r, "froz", path, sizeof(path)) == -1 ||
	    lstat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
		ctrld_fail(res, CTRLD_E_SPOOL_FILE);
		return false;
	}
	return true;
}

/* State of one frozlist. */
struct sys_frozen {
	struct ctrld_res	*res;
	bool			 full;	/* the listing reached its limit */
};

/* sys_frozen_cb - queue_admin_list callback: one line per frozen message */
static int
sys_frozen_cb(const struct queue_admin_entry *e, void *arg)
{
	struct sys_frozen *fz = arg;
	char l1[16], l2[16], from[sizeof(e->from) + 2], to[sizeof(e->to) + 2],
	    when[32], size[32];
	const char *f[7] = { e->ref.name, l1, l2, from, to, when, size };
	struct tm tm;

	if (e->state != QUEUE_ADMIN_FROZEN)
		return 0;
	(void)snprintf(l1, sizeof(l1), "%d", e->ref.l1);
	(void)snprintf(l2, sizeof(l2), "%d", e->ref.l2);
	/* XMail shows the addresses in angle brackets. */
	(void)snprintf(from, sizeof(from), "<%s>", e->from);
	(void)snprintf(to, sizeof(to), "<%s>", e->to);
	if (localtime_r(&e->mtime, &tm) == NULL ||
	    strftime(when, sizeof(when), SYS_TIME_FMT, &tm) == 0)
		when[0] = '\0';
	(void)snprintf(size, sizeof(size), "%llu",
	    (unsigned long long)e->size);
	if (ctrld_list_rec(fz->res, f, nitems(f)) == -1) {
		fz->full = true;
		return -1;
	}
	return 0;
}

/*
 * cmd_frozlist - "frozlist": "msgfile" "lev0" "lev1" "<from>" "<to>"
 * "time" "size" per frozen message, the time from the file's mtime.
 */
static void
cmd_frozlist(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct sys_frozen fz = { res, false };

	ctrld_list_begin(res);
	if (queue_admin_list(req->mailroot, req->opts->split, NULL,
	    sys_frozen_cb, &fz) == -1) {
		buf_reset(&res->list);
		ctrld_fail(res, CTRLD_E_FILE_OPEN);
	} else if (fz.full)
		sys_list_fail(res);
}

/*
 * cmd_frozsubmit - "frozsubmit lev0 lev1 msgfile": back to mess/ with new
 * tries, and a rescan request so a running server picks it up at once.
 */
static void
cmd_frozsubmit(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct queue_ref r;

	if (!sys_frozen_arg(req, res, &r))
		return;
	if (queue_admin_thaw(req->mailroot, &r) == -1) {
		log_warn("ctrl: frozsubmit %s: %m", r.name);
		ctrld_fail(res, CTRLD_E_SPOOL_FILE);
		return;
	}
	/* Thawed anyway: the next scan of mess/ finds it. */
	if (queue_admin_request(req->mailroot, "rescan", "") == -1)
		log_warn("ctrl: frozsubmit %s: rescan request: %m", r.name);
}

/* cmd_frozdel - "frozdel lev0 lev1 msgfile": the file and its slog */
static void
cmd_frozdel(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct queue_ref r;

	if (!sys_frozen_arg(req, res, &r))
		return;
	if (queue_admin_delete(req->mailroot, &r, QUEUE_ADMIN_FROZEN) == -1) {
		log_warn("ctrl: frozdel %s: %m", r.name);
		ctrld_fail(res, CTRLD_E_SPOOL_FILE);
	}
}

/* sys_frozen_file - list spool/<l1>/<l2>/<dir>/<msgfile> of a frozen one */
static void
sys_frozen_file(const struct ctrld_req *req, struct ctrld_res *res,
    const char *dir)
{
	char path[SYS_PATH_MAX];
	struct queue_ref r;

	if (!sys_frozen_arg(req, res, &r))
		return;
	if (queue_path(req->mailroot, &r, dir, path, sizeof(path)) == -1 ||
	    ctrld_list_file(res, AT_FDCWD, path) == -1)
		ctrld_fail(res, CTRLD_E_FILE_OPEN);
}

/* cmd_frozgetlog - "frozgetlog lev0 lev1 msgfile": the slog file */
static void
cmd_frozgetlog(const struct ctrld_req *req, struct ctrld_res *res)
{
	sys_frozen_file(req, res, "slog");
}

/* cmd_frozgetmsg - "frozgetmsg lev0 lev1 msgfile": the spool file */
static void
cmd_frozgetmsg(const struct ctrld_req *req, struct ctrld_res *res)
{
	sys_frozen_file(req, res, "froz");
}

/*
 * cmd_etrn - "etrn pattern ...": a flush request per pattern; the server
 * flushes the matching deferred messages within a second.
 */
static void
cmd_etrn(const struct ctrld_req *req, struct ctrld_res *res)
{
	size_t i;

	for (i = 1; i < req->argc; i++) {
		if (queue_admin_request(req->mailroot, "flush",
		    req->argv[i]) == -1) {
			if (errno == EINVAL)
				ctrld_fail(res, CTRLD_E_INVALID_PARAM);
			else
				ctrld_fail(res, CTRLD_E_FILE_CREATE);
			return;
		}
	}
}

/* --- backup MX (mxbackup.tab: "domain" "DOMAIN|HOST") ------------- */

/*
 * cmd_mxbackupadd - "mxbackupadd domain [DOMAIN|HOST]": not for a domain
 * handled here (it would never be relayed).
 */
static void
cmd_mxbackupadd(const struct ctrld_req *req, struct ctrld_res *res)
{
	char dom[STORE_DOMAIN_MAX + 1];
	const char *mode = "DOMAIN";
	const char *f[2] = { dom, NULL };
	struct sys_match m = { .col = { 0 }, .key = { dom }, .nkeys = 1,
	    .minfields = 1, .fields = f, .nfields = 2 };

	if (!sys_domain_arg(res, req->argv[1], false, dom, sizeof(dom)))
		return;
	if (req->argc > 2) {
		if (strcasecmp(req->argv[2], "DOMAIN") == 0)
			mode = "DOMAIN";
		else if (strcasecmp(req->argv[2], "HOST") == 0)
			mode = "HOST";
		else {
			ctrld_fail(res, CTRLD_E_INVALID_PARAM);
			return;
		}
	}
	f[1] = mode;
	if (store_domain_resolve(req->cfg, dom) != NULL) {
		ctrld_fail(res, CTRLD_E_DOMAIN_EXIST);
		return;
	}
	sys_locked_add(req, res, "mxbackup.tab", SYS_TABLE_MODE, &m,
	    CTRLD_E_ALREADY_EXIST);
}

/* cmd_mxbackupdel - "mxbackupdel domain" */
static void
cmd_mxbackupdel(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct sys_match m = { .col = { 0 }, .key = { req->argv[1] },
	    .nkeys = 1, .minfields = 1 };

	sys_locked_drop(req, res, "mxbackup.tab", &m, CTRLD_E_NOT_FOUND);
}

/* cmd_mxbackuplist - "mxbackuplist [wild]": "domain" "mode" */
static void
cmd_mxbackuplist(const struct ctrld_req *req, struct ctrld_res *res)
{
	const struct tab *t = config_tab(req->cfg, CFG_MXBACKUP);
	const char *f[2];
	size_t i;

	ctrld_list_begin(res);
	for (i = 0; i < t->nrecs; i++) {
		if (t->recs[i].n < 2 || (req->argc > 1 &&
		    !match_wild(req->argv[1], t->recs[i].f[0])))
			continue;
		f[0] = t->recs[i].f[0];
		f[1] = t->recs[i].f[1];
		if (ctrld_list_rec(res, f, 2) == -1) {
			sys_list_fail(res);
			return;
		}
	}
}

const struct ctrld_cmd ctrld_sys_cmds[] = {
	{ "noop", 0, 0, 0, 0, NULL, cmd_noop },
	{ "domainadd", 1, 1, 0, 0, NULL, cmd_domainadd },
	{ "domaindel", 1, 1, 0, 0, NULL, cmd_domaindel },
	{ "domainlist", 0, CTRLD_ARGS_MAX - 1, 0, 0, NULL, cmd_domainlist },
	{ "aliasdomainadd", 2, 2, 0, 0, NULL, cmd_aliasdomainadd },
	{ "aliasdomaindel", 1, 1, 0, 0, NULL, cmd_aliasdomaindel },
	{ "aliasdomainlist", 0, 2, 0, 0, NULL, cmd_aliasdomainlist },
	{ "custdomget", 1, 1, 0, 0, NULL, cmd_custdomget },
	{ "custdomset", 1, 1, CTRLD_F_UPLOAD, 0, check_custdomset,
	    cmd_custdomset },
	{ "custdomlist", 0, 0, 0, 0, NULL, cmd_custdomlist },
	{ "poplnkadd", 6, 6, 0, 1u << 5, NULL, cmd_poplnkadd },
	{ "poplnkdel", 4, 4, 0, 0, NULL, cmd_poplnkdel },
	{ "poplnklist", 0, 2, 0, 0, NULL, cmd_poplnklist },
	{ "poplnkenable", 3, 5, 0, 0, NULL, cmd_poplnkenable },
	{ "filelist", 2, 2, 0, 0, NULL, cmd_filelist },
	{ "cfgfileget", 1, 1, 0, 0, NULL, cmd_cfgfileget },
	{ "cfgfileset", 1, 1, CTRLD_F_UPLOAD, 0, check_cfgfileset,
	    cmd_cfgfileset },
	{ "frozlist", 0, 0, 0, 0, NULL, cmd_frozlist },
	{ "frozsubmit", 3, 3, 0, 0, NULL, cmd_frozsubmit },
	{ "frozdel", 3, 3, 0, 0, NULL, cmd_frozdel },
	{ "frozgetlog", 3, 3, 0, 0, NULL, cmd_frozgetlog },
	{ "frozgetmsg", 3, 3, 0, 0, NULL, cmd_frozgetmsg },
	{ "etrn", 1, CTRLD_ARGS_MAX - 1, 0, 0, NULL, cmd_etrn },
	{ "mxbackupadd", 1, 2, 0, 0, NULL, cmd_mxbackupadd },
	{ "mxbackupdel", 1, 1, 0, 0, NULL, cmd_mxbackupdel },
	{ "mxbackuplist", 0, 1, 0, 0, NULL, cmd_mxbackuplist },
};
const size_t ctrld_sys_ncmds = nitems(ctrld_sys_cmds);
