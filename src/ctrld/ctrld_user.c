/*
 * ctrld_user.c - the CTRL commands on accounts: users, their variables and
 * mailproc.tab, aliases, external aliases and mailing list members
 * (manual "XMAIL ADMIN PROTOCOL"; behaviour and error numbers follow
 * XMail's CTRLSvr.cpp and UsrUtils.cpp).
 *
 * Every change runs under the MailRoot table lock (store_lock) and reads
 * the tables it checks from disk, not from the command's snapshot, which
 * may predate the previous command.  Listings read the files too; tables
 * are replaced by atomic renames, so a listing always sees a whole file.
 * Handlers return 0 or an XMail error number (enum ctrld_err) and the
 * wrappers turn that into the result.
 *
 * Names and domains written into a table or used in a path pass
 * store_name_ok/store_domain_ok; paths are always built from them, so a
 * command can never reach outside <mailroot>/domains.  Lookups compare
 * names without case, as XMail does.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config/config.h"
#include "core/addr.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/match.h"
#include "core/passwd.h"
#include "core/rfcdate.h"
#include "core/tab.h"
#include "ctrld/ctrld_int.h"
#include "maildir/maildir.h"
#include "store/store.h"
#include "store/store_edit.h"

#define U_PATH_MAX	4096
#define U_TAB_MODE	0600		/* new tables and account files */
#define U_VAR_DROP	".|rm"		/* uservarsset: delete it */
#define U_ML_PERMS	"RW"		/* default member permissions */
#define U_IPCONN	".ipconn"	/* last POP3 login (UPopSaveUserIP) */
#define U_IPCONN_MAX	128
#define U_MPROC		"mailproc.tab"

/* A handler run under the table lock: 0 or an error number. */
typedef int u_locked_fn(const struct ctrld_req *, struct ctrld_res *);

/* Columns compared (without case) by a keyed edit or lookup. */
struct u_keys {
	size_t		 minf;		/* fields a record needs */
	size_t		 n;		/* keys used */
	size_t		 col[4];	/* column of each key */
	const char	*val[4];	/* value of each key */
};

/* A read-modify-write that drops matches, or adds a missing record. */
struct u_edit {
	bool		(*match)(const struct tab_rec *, const void *);
	const void	*marg;		/* argument of match */
	size_t		 found;		/* matching records seen */
	const char *const *add;		/* record to add if none matched,
					   or NULL: drop the matches */
	size_t		 nadd;
	int		 err;		/* error: a match (add), none
					   (drop; 0 = fine) */
};

/* finish - turn a handler's error number into the result */
static void
finish(struct ctrld_res *res, int rc)
{
	if (rc != 0)
		ctrld_fail(res, rc);
}

/* run_locked - run `fn` holding the table lock */
static void
run_locked(const struct ctrld_req *req, struct ctrld_res *res,
    u_locked_fn *fn)
{
	int fd;

	if ((fd = store_lock(req->mailroot)) == -1) {
		ctrld_fail(res, CTRLD_E_FILE_OPEN);
		return;
	}
	finish(res, fn(req, res));
	store_unlock(fd);
}

/* load - a MailRoot table from disk (missing: empty); 0 or an error */
static int
load(const struct ctrld_req *req, enum config_table which, struct tab *t)
{
	char path[U_PATH_MAX];

	if (fs_path(path, sizeof(path), req->mailroot,
	    config_table_file(which)) == -1 || tab_load(path, t) == -1) {
		log_error("ctrl: cannot read %s: %s",
		    config_table_file(which), strerror(errno));
		return CTRLD_E_FILE_OPEN;
	}
	return 0;
}

/* adom_target - the domains.tab entry an aliasdomain.tab line maps to */
static const char *
adom_target(const struct tab *dom, const struct tab *adom,
    const char *domain)
{
	const struct tab_rec *r;
	size_t i;

	for (i = 0; i < adom->nrecs; i++) {
		r = &adom->recs[i];
		if (r->n >= 2 && match_wild(r->f[0], domain)) {
			r = tab_find(dom, 0, r->f[1], 1);
			return r != NULL ? r->f[0] : NULL;
		}
	}
	return NULL;
}

/* domain_real - the local domain `domain` stands for, into out */
static int
domain_real(const struct ctrld_req *req, const char *domain, char *out,
    size_t size)
{
	struct tab dom = { 0 }, adom = { 0 };
	const struct tab_rec *r;
	const char *real = NULL;
	int rc;

	if ((rc = load(req, CFG_DOMAINS, &dom)) == 0 &&
	    (rc = load(req, CFG_ALIASDOMAIN, &adom)) == 0) {
		r = tab_find(&dom, 0, domain, 1);
		real = r != NULL ? r->f[0] : adom_target(&dom, &adom, domain);
		if (real == NULL || !str_copy(out, real, size))
			rc = CTRLD_E_DOMAIN_NOT_HANDLED;
	}
	tab_free(&dom);
	tab_free(&adom);
	return rc;
}

/* user_is - a mailusers.tab record of name@domain */
static bool
user_is(const struct tab_rec *r, const char *domain, const char *name)
{
	return r->n >= 6 && strcasecmp(r->f[0], domain) == 0 &&
	    strcasecmp(r->f[1], name) == 0;
}

/* users_find - the first record of name@domain in mailusers.tab */
static const struct tab_rec *
users_find(const struct tab *users, const char *domain, const char *name)
{
	size_t i;

	for (i = 0; i < users->nrecs; i++)
		if (user_is(&users->recs[i], domain, name))
			return &users->recs[i];
	return NULL;
}

/* user_fill - an account from its record, refusing unsafe directories */
static int
user_fill(const struct tab_rec *r, struct store_user *u)
{
	if (!str_copy(u->domain, r->f[0], sizeof(u->domain)) ||
	    !str_copy(u->name, r->f[1], sizeof(u->name)) ||
	    !str_copy(u->dir, r->f[4], sizeof(u->dir)) ||
	    !store_domain_ok(u->domain, false) ||
	    !store_name_ok(u->dir, false)) {
		log_warn("ctrl: mailusers.tab:%u: unusable account directory",
		    r->lineno);
		return CTRLD_E_FILE_STRUCT;
	}
	u->id = strtoul(r->f[3], NULL, 10);
	u->type = toupper((unsigned char)r->f[5][0]) == 'M' ? 'M' : 'U';
	return 0;
}

/*
 * acct_find - the account name@domain (domain mapped by aliasdomain.tab)
 * from disk.  An unhandled domain gives `nodom`.
 */
static int
acct_find(const struct ctrld_req *req, const char *domain, const char *name,
    int nodom, struct store_user *u)
{
	char real[STORE_DOMAIN_MAX + 1];
	struct tab users = { 0 };
	const struct tab_rec *r;
	int rc;

	if ((rc = domain_real(req, domain, real, sizeof(real))) != 0)
		return rc == CTRLD_E_DOMAIN_NOT_HANDLED ? nodom : rc;
	if ((rc = load(req, CFG_MAILUSERS, &users)) != 0)
		return rc;
	r = users_find(&users, real, name);
	rc = r != NULL ? user_fill(r, u) : CTRLD_E_USER_NOT_FOUND;
	tab_free(&users);
	return rc;
}

/*
 * acct_rel - "domains/<domain lower-cased>/<dir>/<file>" (file NULL: the
 * domain directory's `dirfile` instead), relative to the MailRoot.
 */
static int
acct_rel(const struct store_user *u, const char *file, const char *dirfile,
    char *out, size_t size)
{
	char lc[STORE_DOMAIN_MAX + 1];
	int n;

	if (!str_lower_copy(lc, u->domain, sizeof(lc)))
		return -1;
	if (file != NULL)
		n = snprintf(out, size, "domains/%s/%s/%s", lc, u->dir, file);
	else
		n = snprintf(out, size, "domains/%s/%s", lc, dirfile);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* acct_abs - as acct_rel, joined to the MailRoot */
static int
acct_abs(const struct ctrld_req *req, const struct store_user *u,
    const char *file, const char *dirfile, char *out, size_t size)
{
	char rel[U_PATH_MAX];

	return acct_rel(u, file, dirfile, rel, sizeof(rel)) == -1 ? -1 :
	    fs_path(out, size, req->mailroot, rel);
}

/* keys_match - the record has the key values in the key columns */
static bool
keys_match(const struct tab_rec *r, const void *arg)
{
	const struct u_keys *k = arg;
	size_t i;

	if (r->n < k->minf)
		return false;
	for (i = 0; i < k->n; i++)
		if (k->col[i] >= r->n || strcasecmp(r->f[k->col[i]],
		    k->val[i]) != 0)
			return false;
	return true;
}

/* edit_rec - store_tab_op.rec of a u_edit */
static enum store_tab_act
edit_rec(const struct tab_rec *r, struct buf *repl, void *arg)
{
	struct u_edit *e = arg;

	(void)repl;
	if (!e->match(r, e->marg))
		return STORE_TAB_KEEP;
	e->found++;
	return e->add != NULL ? STORE_TAB_KEEP : STORE_TAB_DROP;
}

/* edit_end - store_tab_op.end of a u_edit */
static int
edit_end(struct buf *tail, void *arg)
{
	struct u_edit *e = arg;

	if (e->add == NULL)
		return e->found == 0 ? e->err : 0;
	if (e->found > 0)
		return e->err;
	return tab_format(tail, e->add, e->nadd, 0) == -1 ?
	    CTRLD_E_INVALID_PARAM : 0;
}

/* table_edit - run a u_edit on `file` (relative to the MailRoot) */
static int
table_edit(const struct ctrld_req *req, const char *file, struct u_edit *e)
{
	struct store_tab_op op = { edit_rec, edit_end, e };
	int rc;

	rc = store_tab_edit(req->mailroot, file, U_TAB_MODE, &op);
	return rc == -1 ? CTRLD_E_FILE_OPEN : rc;
}

/* list_add - one listing record; unwritable values leave it out */
static int
list_add(struct ctrld_res *res, const char *const *f, size_t n)
{
	if (ctrld_list_rec(res, f, n) == 0)
		return 0;
	if (errno == EINVAL) {
		log_warn("ctrl: record \"%s\" cannot be listed", f[0]);
		return 0;
	}
	log_warn("ctrl: listing over %u bytes", CTRLD_LIST_MAX);
	return CTRLD_E_FILE_OPEN;
}

/* wild_ok - the argument is absent or matches `s` */
static bool
wild_ok(const struct ctrld_req *req, size_t i, const char *s)
{
	return req->argc <= i || match_wild(req->argv[i], s);
}

/* addr_split - "name@domain" at the last '@'; false if a part is bad */
static bool
addr_split(const char *addr, char *name, size_t nsize, char *dom,
    size_t dsize)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL || at == addr || at[1] == '\0' ||
	    (size_t)(at - addr) >= nsize || !str_copy(dom, at + 1, dsize))
		return false;
	memcpy(name, addr, (size_t)(at - addr));
	name[at - addr] = '\0';
	return true;
}

/*
 * Passwords.
 */

/* pass_store - the stored form of a password (server.tab PasswordHash) */
static int
pass_store(const struct ctrld_req *req, const char *plain, struct buf *out)
{
	const char *h = config_var(req->cfg, "PasswordHash");
	int r;

	if (h != NULL && strcasecmp(h, "yescrypt") == 0)
		r = passwd_hash(plain, PASSWD_YESCRYPT, out);
	else if (h != NULL && strcasecmp(h, "sha512") == 0)
		r = passwd_hash(plain, PASSWD_SHA512, out);
	else
		r = xmcrypt_encode(plain, out);
	if (r == -1) {
		log_error("ctrl: cannot encode a password");
		return CTRLD_E_INVALID_PARAM;
	}
	return 0;
}

/* buf_wipe - clear a buffer that held a secret, then free it */
static void
buf_wipe(struct buf *b)
{
	if (b->cap > 0)
		explicit_bzero(b->data, b->cap);
	buf_clear(b);
}

/*
 * useradd.
 */

/* State of one useradd edit of mailusers.tab. */
struct u_add {
	const struct ctrld_req *req;
	struct store_user	 u;		/* the new account */
	const char		*pass;		/* stored form */
	unsigned long		 maxid;		/* highest id */
	bool			 dup;		/* it exists */
	bool			 created;	/* the tree was made */
};

/* add_rec - note ids and duplicates */
static enum store_tab_act
add_rec(const struct tab_rec *r, struct buf *repl, void *arg)
{
	struct u_add *a = arg;
	unsigned long id;

	(void)repl;
	if (r->n < 6)
		return STORE_TAB_KEEP;
	id = strtoul(r->f[3], NULL, 10);
	if (id > a->maxid)
		a->maxid = id;
	if (user_is(r, a->u.domain, a->u.name))
		a->dup = true;
	return STORE_TAB_KEEP;
}

/* userdef_vars - name/value pointers of the userdef.tab that applies */
static const char **
userdef_vars(const struct tab *def, size_t *nvars)
{
	const char **v;
	size_t i, n = 0;

	if ((v = calloc(2 * def->nrecs + 1, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < def->nrecs; i++) {
		if (def->recs[i].n < 2)
			continue;
		v[2 * n] = def->recs[i].f[0];
		v[2 * n + 1] = def->recs[i].f[1];
		n++;
	}
	*nvars = n;
	return v;
}

/* tree_make - user.tab from userdef.tab, the mailbox, mlusers.tab */
static int
tree_make(struct u_add *a, const char *acct)
{
	struct tab def = { 0 };
	const char **vars = NULL;
	char path[U_PATH_MAX];
	size_t nvars = 0;
	int rc = -1;

	if (store_userdef_load(a->req->mailroot, a->u.domain, &def) == 0 &&
	    (vars = userdef_vars(&def, &nvars)) != NULL &&
	    store_account_create(a->req->mailroot, a->u.domain, a->u.dir,
	    a->req->opts->maildir, vars, nvars) == 0)
		rc = 0;
	if (rc == 0 && a->u.type == 'M' &&
	    (fs_path(path, sizeof(path), acct, "mlusers.tab") == -1 ||
	    fs_write_new(path, "", 0, U_TAB_MODE) == -1)) {
		log_error("ctrl: cannot create %s/mlusers.tab: %s", acct,
		    strerror(errno));
		rc = -1;
	}
	free(vars);
	tab_free(&def);
	return rc;
}

/* add_tree - create the account's tree (it must not exist yet) */
static int
add_tree(struct u_add *a)
{
	char acct[U_PATH_MAX];

	if (store_user_path(a->req->mailroot, &a->u, acct, sizeof(acct)) ==
	    -1)
		return CTRLD_E_INVALID_PARAM;
	/* Never hand an old account's mail to a new user of that name. */
	if (fs_exists(acct)) {
		log_warn("ctrl: useradd: %s exists already", acct);
		return CTRLD_E_ALREADY_EXIST;
	}
	if (tree_make(a, acct) == -1) {
		if (fs_rm_tree(acct) == -1 && errno != ENOENT)
			log_error("ctrl: cannot remove %s: %s", acct,
			    strerror(errno));
		return CTRLD_E_FILE_OPEN;
	}
	a->created = true;
	return 0;
}

/* add_end - append the record once the tree exists */
static int
add_end(struct buf *tail, void *arg)
{
	struct u_add *a = arg;
	const char *f[6];
	char id[24], type[2] = { a->u.type, '\0' };

	if (a->dup)
		return CTRLD_E_USER_EXIST;
	if (a->maxid >= ULONG_MAX - 1)
		return CTRLD_E_FILE_STRUCT;
	(void)snprintf(id, sizeof(id), "%lu", a->maxid + 1);
	f[0] = a->u.domain;
	f[1] = a->u.name;
	f[2] = a->pass;
	f[3] = id;
	f[4] = a->u.dir;
	f[5] = type;
	if (tab_format(tail, f, nitems(f), 1UL << 3) == -1)
		return CTRLD_E_INVALID_PARAM;
	return add_tree(a);
}

/* alias_taken - aliases.tab has the exact (not wildcard) alias */
static int
alias_taken(const struct ctrld_req *req, const char *domain,
    const char *name)
{
	struct u_keys k = { 3, 2, { 0, 1 }, { domain, name } };
	struct tab al = { 0 };
	size_t i;
	int rc;

	if ((rc = load(req, CFG_ALIASES, &al)) != 0)
		return rc;
	for (i = 0; i < al.nrecs; i++)
		if (keys_match(&al.recs[i], &k))
			rc = CTRLD_E_ALIAS_EXIST;
	tab_free(&al);
	return rc;
}

/* add_setup - check the parameters of useradd into *a */
static int
add_setup(const struct ctrld_req *req, struct u_add *a)
{
	char *const *v = req->argv;
	int rc;

	if ((rc = domain_real(req, v[1], a->u.domain,
	    sizeof(a->u.domain))) != 0)
		return rc;
	if (!store_domain_ok(a->u.domain, false) ||
	    !store_name_ok(v[2], false) ||
	    !str_copy(a->u.name, v[2], sizeof(a->u.name)) ||
	    !str_copy(a->u.dir, v[2], sizeof(a->u.dir)))
		return CTRLD_E_BAD_ADDRESS;
	a->u.type = v[4][0] == 'M' ? 'M' : 'U';
	a->req = req;
	return alias_taken(req, a->u.domain, v[2]);
}

/* do_useradd - "useradd" dom user pass type */
static int
do_useradd(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct u_add a;
	struct store_tab_op op = { add_rec, add_end, &a };
	struct buf pass;
	char acct[U_PATH_MAX];
	int rc;

	memset(&a, 0, sizeof(a));
	buf_init(&pass, TAB_LINE_MAX);
	if ((rc = add_setup(req, &a)) == 0 &&
	    (rc = pass_store(req, req->argv[3], &pass)) == 0) {
		a.pass = pass.data;
		rc = store_tab_edit(req->mailroot, "mailusers.tab", U_TAB_MODE,
		    &op);
		if (rc == -1)
			rc = CTRLD_E_FILE_OPEN;
	}
	if (rc != 0 && a.created &&
	    store_user_path(req->mailroot, &a.u, acct, sizeof(acct)) == 0 &&
	    fs_rm_tree(acct) == -1)
		log_error("ctrl: cannot remove %s: %s", acct, strerror(errno));
	if (rc == 0) {
		res->reload = true;
		log_info("ctrl: account %s@%s added", a.u.name, a.u.domain);
	}
	buf_wipe(&pass);
	return rc;
}

/*
 * userdel.
 */

/* State of the mailusers.tab edit of userdel. */
struct u_del {
	const char		*domain, *name;
	struct store_user	 u;		/* the removed account */
	bool			 found;
	int			 tree;		/* user_fill result */
};

/* del_rec - drop every record of the account */
static enum store_tab_act
del_rec(const struct tab_rec *r, struct buf *repl, void *arg)
{
	struct u_del *d = arg;

	(void)repl;
	if (!user_is(r, d->domain, d->name))
		return STORE_TAB_KEEP;
	if (!d->found)
		d->tree = user_fill(r, &d->u);
	d->found = true;
	return STORE_TAB_DROP;
}

/* del_end - nothing to write when the account does not exist */
static int
del_end(struct buf *tail, void *arg)
{
	struct u_del *d = arg;

	(void)tail;
	return d->found ? 0 : CTRLD_E_USER_NOT_FOUND;
}

/* Who an alias must point to for userdel to remove it. */
struct u_target {
	const char	*domain, *name;
	char		 addr[STORE_ADDR_MAX + 1];	/* name@domain */
};

/* alias_to - aliases.tab line pointing to the account (UsrRemoveUser) */
static bool
alias_to(const struct tab_rec *r, const void *arg)
{
	const struct u_target *t = arg;

	return r->n >= 3 && ((strcasecmp(r->f[0], t->domain) == 0 &&
	    strcasecmp(r->f[2], t->name) == 0) ||
	    strcasecmp(r->f[2], t->addr) == 0);
}

/* del_refs - remove aliases, external aliases and POP3 links of a user */
static void
del_refs(const struct ctrld_req *req, const char *domain, const char *name)
{
	struct u_target t = { domain, name, "" };
	struct u_keys ex = { 4, 2, { 2, 3 }, { domain, name } };
	struct u_keys ln = { 2, 2, { 0, 1 }, { domain, name } };
	struct u_edit e[3] = {
		{ alias_to, &t, 0, NULL, 0, 0 },
		{ keys_match, &ex, 0, NULL, 0, 0 },
		{ keys_match, &ln, 0, NULL, 0, 0 },
	};
	static const char *const file[3] = { "aliases.tab", "extaliases.tab",
	    "pop3links.tab" };
	size_t i;

	(void)snprintf(t.addr, sizeof(t.addr), "%s@%s", name, domain);
	/* XXX: as in XMail, a failure here leaves references behind. */
	for (i = 0; i < nitems(e); i++)
		if (table_edit(req, file[i], &e[i]) != 0)
			log_error("ctrl: userdel %s@%s: %s not cleaned", name,
			    domain, file[i]);
}

/* del_tree - remove the account directory */
static void
del_tree(const struct ctrld_req *req, const struct u_del *d)
{
	char acct[U_PATH_MAX];

	if (d->tree != 0) {
		log_warn("ctrl: userdel %s@%s: directory left in place",
		    d->name, d->domain);
		return;
	}
	if (store_user_path(req->mailroot, &d->u, acct, sizeof(acct)) == 0 &&
	    fs_rm_tree(acct) == -1 && errno != ENOENT)
		log_error("ctrl: cannot remove %s: %s", acct, strerror(errno));
}

/* do_userdel - "userdel" dom user */
static int
do_userdel(const struct ctrld_req *req, struct ctrld_res *res)
{
	char real[STORE_DOMAIN_MAX + 1];
	struct u_del d;
	struct store_tab_op op = { del_rec, del_end, &d };
	int rc;

	if ((rc = domain_real(req, req->argv[1], real, sizeof(real))) != 0)
		return rc;
	memset(&d, 0, sizeof(d));
	d.domain = real;
	d.name = req->argv[2];
	rc = store_tab_edit(req->mailroot, "mailusers.tab", U_TAB_MODE, &op);
	if (rc != 0)
		return rc == -1 ? CTRLD_E_FILE_OPEN : rc;
	res->reload = true;
	del_refs(req, real, req->argv[2]);
	del_tree(req, &d);
	log_info("ctrl: account %s@%s removed", req->argv[2], real);
	return 0;
}

/*
 * userpasswd, userauth.
 */

/* State of the mailusers.tab edit of userpasswd. */
struct u_pw {
	const char	*domain, *name, *pass;
	bool		 found;
	int		 err;
};

/* all_digits - a non-empty decimal number (written bare, as ids are) */
static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* pw_rec - rewrite the password field of the account's first record */
static enum store_tab_act
pw_rec(const struct tab_rec *r, struct buf *repl, void *arg)
{
	const char *f[TAB_FIELDS_MAX];
	struct u_pw *p = arg;
	size_t i;

	if (p->found || !user_is(r, p->domain, p->name))
		return STORE_TAB_KEEP;
	p->found = true;
	for (i = 0; i < r->n; i++)
		f[i] = r->f[i];
	f[2] = p->pass;
	if (tab_format(repl, f, r->n, all_digits(f[3]) ? 1UL << 3 : 0) ==
	    -1) {
		p->err = CTRLD_E_FILE_STRUCT;
		return STORE_TAB_KEEP;
	}
	return STORE_TAB_REPLACE;
}

/* pw_end - report a missing account or an unwritable record */
static int
pw_end(struct buf *tail, void *arg)
{
	struct u_pw *p = arg;

	(void)tail;
	if (p->err != 0)
		return p->err;
	return p->found ? 0 : CTRLD_E_USER_NOT_FOUND;
}

/* do_userpasswd - "userpasswd" dom user pass */
static int
do_userpasswd(const struct ctrld_req *req, struct ctrld_res *res)
{
	char real[STORE_DOMAIN_MAX + 1];
	struct u_pw p;
	struct store_tab_op op = { pw_rec, pw_end, &p };
	struct buf pass;
	int rc;

	if ((rc = domain_real(req, req->argv[1], real, sizeof(real))) != 0)
		return rc;
	buf_init(&pass, TAB_LINE_MAX);
	if ((rc = pass_store(req, req->argv[3], &pass)) == 0) {
		memset(&p, 0, sizeof(p));
		p.domain = real;
		p.name = req->argv[2];
		p.pass = pass.data;
		rc = store_tab_edit(req->mailroot, "mailusers.tab", U_TAB_MODE,
		    &op);
		if (rc == -1)
			rc = CTRLD_E_FILE_OPEN;
	}
	if (rc == 0)
		res->reload = true;
	buf_wipe(&pass);
	return rc;
}

/* cmd_userauth - "userauth" dom user pass: check a password */
static void
cmd_userauth(const struct ctrld_req *req, struct ctrld_res *res)
{
	char real[STORE_DOMAIN_MAX + 1];
	struct tab users = { 0 };
	const struct tab_rec *r;
	int rc;

	/* XMail: no "domain not handled" here, just no such user. */
	if ((rc = domain_real(req, req->argv[1], real, sizeof(real))) != 0) {
		finish(res, rc == CTRLD_E_DOMAIN_NOT_HANDLED ?
		    CTRLD_E_USER_NOT_FOUND : rc);
		return;
	}
	if ((rc = load(req, CFG_MAILUSERS, &users)) == 0) {
		r = users_find(&users, real, req->argv[2]);
		if (r == NULL)
			rc = CTRLD_E_USER_NOT_FOUND;
		else if (!passwd_verify(req->argv[3], r->f[2]))
			rc = CTRLD_E_BAD_PASSWORD;
	}
	tab_free(&users);
	finish(res, rc);
}

/*
 * userstat.
 */

/* ipconn_read - IP and time of the last POP3 login; false if unknown */
static bool
ipconn_read(const char *acct, char *ip, size_t size, time_t *when)
{
	char path[U_PATH_MAX];
	struct stat st;
	ssize_t got = -1;
	size_t n;
	int fd;

	if (fs_path(path, sizeof(path), acct, U_IPCONN) == -1)
		return false;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		got = read(fd, ip, size - 1);
	(void)close(fd);
	if (got < 0)
		return false;
	ip[got] = '\0';
	/* One address, written by the POP3 server; anything else is noise. */
	n = strspn(ip, "0123456789abcdefABCDEF.:");
	if (n == 0 || strspn(ip + n, " \t\r\n") != strlen(ip + n))
		return false;
	ip[n] = '\0';
	*when = st.st_mtime;
	return true;
}

/* stat_list - the userstat lines of account u */
static int
stat_list(const struct ctrld_req *req, struct ctrld_res *res,
    const struct store_user *u, const char *acct)
{
	char addr[STORE_ADDR_MAX + 1], size[32], count[32];
	char ip[U_IPCONN_MAX] = "", date[RFCDATE_MAX] = "";
	const char *f[5][2] = { { "RealAddress", addr },
	    { "MailboxSize", size }, { "MailboxMessages", count },
	    { "LastLoginTimeDate", date }, { "LastLoginIP", ip } };
	struct maildir_list l;
	uint64_t total = 0;
	time_t when;
	size_t i;
	int rc = 0;

	if (maildir_list(acct, req->opts->maildir, true, &l) == -1) {
		log_error("ctrl: cannot list %s: %s", acct, strerror(errno));
		return CTRLD_E_FILE_OPEN;
	}
	for (i = 0; i < l.n; i++)
		total += l.msgs[i].size;
	(void)snprintf(addr, sizeof(addr), "%s@%s", u->name, u->domain);
	(void)snprintf(size, sizeof(size), "%llu", (unsigned long long)total);
	(void)snprintf(count, sizeof(count), "%zu", l.n);
	maildir_list_free(&l);
	/* XMail: "0.0.0.0" and the current time; unknown is clearer. */
	if (ipconn_read(acct, ip, sizeof(ip), &when))
		(void)rfcdate(when, date, sizeof(date));
	else
		ip[0] = '\0';
	ctrld_list_begin(res);
	for (i = 0; i < nitems(f) && rc == 0; i++)
		rc = list_add(res, f[i], 2);
	return rc;
}

/* cmd_userstat - "userstat" dom user-or-alias */
static void
cmd_userstat(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct store_user u;
	char acct[U_PATH_MAX];

	/* The same mapping as delivery: alias domains, then aliases.tab. */
	if (store_user_find(req->cfg, req->argv[2], req->argv[1], &u) == -1) {
		ctrld_fail(res, CTRLD_E_USER_NOT_FOUND);
		return;
	}
	if (!store_domain_ok(u.domain, false) || !store_name_ok(u.dir, false) ||
	    store_user_path(req->mailroot, &u, acct, sizeof(acct)) == -1) {
		ctrld_fail(res, CTRLD_E_FILE_STRUCT);
		return;
	}
	finish(res, stat_list(req, res, &u, acct));
}

/*
 * userlist.
 */

/* list_pass - what userlist shows for a stored password, into out */
static const char *
list_pass(bool show, const char *stored, struct buf *out)
{
	buf_reset(out);
	if (!show)
		return "";
	if (passwd_is_hash(stored))
		return stored;
	if (xmcrypt_decode(stored, out) == -1 || !tab_value_ok(out->data))
		return "";
	return out->data;
}

/* cmd_userlist - "userlist" [dom [user]] (wildcards) */
static void
cmd_userlist(const struct ctrld_req *req, struct ctrld_res *res)
{
	bool show = config_var_bool(req->cfg, "CtrlShowPasswords", false);
	struct tab users = { 0 };
	const struct tab_rec *r;
	const char *f[4];
	struct buf clear;
	size_t i;
	int rc;

	buf_init(&clear, TAB_LINE_MAX);
	if ((rc = load(req, CFG_MAILUSERS, &users)) == 0)
		ctrld_list_begin(res);
	for (i = 0; rc == 0 && i < users.nrecs; i++) {
		r = &users.recs[i];
		if (r->n < 6 || !wild_ok(req, 1, r->f[0]) ||
		    !wild_ok(req, 2, r->f[1]))
			continue;
		f[0] = r->f[0];
		f[1] = r->f[1];
		f[2] = list_pass(show, r->f[2], &clear);
		f[3] = r->f[5];
		rc = list_add(res, f, nitems(f));
	}
	buf_wipe(&clear);
	tab_free(&users);
	finish(res, rc);
}

/*
 * uservars, uservarsset.
 */

/* cmd_uservars - "uservars" dom user: the account's user.tab */
static void
cmd_uservars(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct store_user u;
	struct tab vars = { 0 };
	size_t i;
	int rc;

	rc = acct_find(req, req->argv[1], req->argv[2],
	    CTRLD_E_DOMAIN_NOT_HANDLED, &u);
	if (rc == 0 && store_user_vars_load(req->mailroot, &u, &vars) == -1)
		rc = CTRLD_E_FILE_OPEN;
	if (rc == 0)
		ctrld_list_begin(res);
	for (i = 0; rc == 0 && i < vars.nrecs; i++)
		if (vars.recs[i].n >= 2)
			rc = list_add(res, (const char *const *)vars.recs[i].f,
			    2);
	tab_free(&vars);
	finish(res, rc);
}

/* State of a uservarsset edit of user.tab. */
struct u_vars {
	char *const	*argv;		/* pairs from argv[3] */
	size_t		 argc;
	bool		 done[CTRLD_ARGS_MAX];	/* pair i handled */
	int		 err;
};

/* vars_last - argv index of the last pair setting `name`, or 0 */
static size_t
vars_last(const struct u_vars *v, const char *name)
{
	size_t i, last = 0;

	for (i = 3; i + 1 < v->argc; i += 2)
		if (strcmp(v->argv[i], name) == 0)
			last = i;
	return last;
}

/* vars_rec - replace, drop or keep one variable */
static enum store_tab_act
vars_rec(const struct tab_rec *r, struct buf *repl, void *arg)
{
	struct u_vars *v = arg;
	size_t i = vars_last(v, r->f[0]);
	const char *f[2];

	if (i == 0)
		return STORE_TAB_KEEP;
	if (v->done[i] || strcmp(v->argv[i + 1], U_VAR_DROP) == 0) {
		v->done[i] = true;
		return STORE_TAB_DROP;
	}
	v->done[i] = true;
	f[0] = v->argv[i];
	f[1] = v->argv[i + 1];
	if (tab_format(repl, f, 2, 0) == -1) {
		v->err = CTRLD_E_INVALID_PARAM;
		return STORE_TAB_KEEP;
	}
	return STORE_TAB_REPLACE;
}

/* vars_end - append the variables the file did not have */
static int
vars_end(struct buf *tail, void *arg)
{
	struct u_vars *v = arg;
	const char *f[2];
	size_t i;

	if (v->err != 0)
		return v->err;
	for (i = 3; i + 1 < v->argc; i += 2) {
		if (v->done[i] || vars_last(v, v->argv[i]) != i ||
		    strcmp(v->argv[i + 1], U_VAR_DROP) == 0)
			continue;
		f[0] = v->argv[i];
		f[1] = v->argv[i + 1];
		if (tab_format(tail, f, 2, 0) == -1)
			return CTRLD_E_INVALID_PARAM;
	}
	return 0;
}

/* vars_check - every name and value can be stored */
static int
vars_check(const struct ctrld_req *req)
{
	size_t i;

	if ((req->argc - 3) % 2 != 0)
		return CTRLD_E_SYNTAX;
	for (i = 3; i < req->argc; i++)
		if (!tab_value_ok(req->argv[i]) ||
		    (i % 2 == 1 && req->argv[i][0] == '\0'))
			return CTRLD_E_INVALID_PARAM;
	return 0;
}

/* do_uservarsset - "uservarsset" dom user var val [var val ...] */
static int
do_uservarsset(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct u_vars v;
	struct store_tab_op op = { vars_rec, vars_end, &v };
	struct store_user u;
	char rel[U_PATH_MAX];
	int rc;

	(void)res;
	if ((rc = vars_check(req)) != 0 ||
	    (rc = acct_find(req, req->argv[1], req->argv[2],
	    CTRLD_E_DOMAIN_NOT_HANDLED, &u)) != 0)
		return rc;
	if (acct_rel(&u, "user.tab", NULL, rel, sizeof(rel)) == -1)
		return CTRLD_E_INVALID_PARAM;
	memset(&v, 0, sizeof(v));
	v.argv = req->argv;
	v.argc = req->argc;
	rc = store_tab_edit(req->mailroot, rel, U_TAB_MODE, &op);
	return rc == -1 ? CTRLD_E_FILE_OPEN : rc;
}

/*
 * usergetmproc, usersetmproc.
 */

/* mproc_get - append one mailproc.tab if present; 0 or an error */
static int
mproc_get(struct ctrld_res *res, const char *path, bool *any)
{
	if (ctrld_list_file(res, AT_FDCWD, path) == 0) {
		*any = true;
		return 0;
	}
	if (errno == ENOENT)
		return 0;
	log_error("ctrl: cannot read %s: %s", path, strerror(errno));
	return CTRLD_E_FILE_OPEN;
}

/* cmd_usergetmproc - "usergetmproc" dom user [U|D|DU] */
static void
cmd_usergetmproc(const struct ctrld_req *req, struct ctrld_res *res)
{
	const char *fl = req->argc > 3 ? req->argv[3] : "DU";
	char dpath[U_PATH_MAX], upath[U_PATH_MAX];
	struct store_user u;
	bool any = false;
	int rc;

	rc = acct_find(req, req->argv[1], req->argv[2],
	    CTRLD_E_DOMAIN_NOT_HANDLED, &u);
	if (rc == 0 && (acct_abs(req, &u, NULL, U_MPROC, dpath,
	    sizeof(dpath)) == -1 || acct_abs(req, &u, U_MPROC, NULL, upath,
	    sizeof(upath)) == -1))
		rc = CTRLD_E_INVALID_PARAM;
	/* The domain's file first, then the user's (UsrGetMailProcessFile). */
	if (rc == 0 && strpbrk(fl, "dD") != NULL)
		rc = mproc_get(res, dpath, &any);
	if (rc == 0 && strpbrk(fl, "uU") != NULL)
		rc = mproc_get(res, upath, &any);
	if (rc == 0 && !any)
		rc = CTRLD_E_NO_MPROC;
	finish(res, rc);
}

/* check_usersetmproc - before the upload: the account exists */
static int
check_usersetmproc(const struct ctrld_req *req, struct ctrld_res *res)
{
	const char *real = store_domain_resolve(req->cfg, req->argv[1]);
	struct store_user u;

	if (real == NULL) {
		ctrld_fail(res, CTRLD_E_DOMAIN_NOT_HANDLED);
		return -1;
	}
	if (store_user_record(req->cfg, req->argv[2], real, &u) == NULL) {
		ctrld_fail(res, CTRLD_E_USER_NOT_FOUND);
		return -1;
	}
	return 0;
}

/* do_usersetmproc - "usersetmproc" dom user [U|D], data: the file */
static int
do_usersetmproc(const struct ctrld_req *req, struct ctrld_res *res)
{
	bool dom = req->argc > 3 && (req->argv[3][0] == 'D' ||
	    req->argv[3][0] == 'd');
	struct store_user u;
	char path[U_PATH_MAX];
	int rc;

	(void)res;
	if ((rc = acct_find(req, req->argv[1], req->argv[2],
	    CTRLD_E_DOMAIN_NOT_HANDLED, &u)) != 0)
		return rc;
	if (acct_abs(req, &u, dom ? NULL : U_MPROC, dom ? U_MPROC : NULL,
	    path, sizeof(path)) == -1)
		return CTRLD_E_INVALID_PARAM;
	/* An empty upload removes the file (manual, "usersetmproc"). */
	if (req->datalen == 0)
		rc = unlink(path) == -1 && errno != ENOENT ? -1 : 0;
	else
		rc = fs_write_atomic(path, req->data, req->datalen,
		    U_TAB_MODE);
	if (rc == -1) {
		log_error("ctrl: cannot update %s: %s", path, strerror(errno));
		return CTRLD_E_FILE_OPEN;
	}
	return 0;
}

/*
 * Mailing lists.
 */

/* ml_find - the list account dom/name; 0 or an error number */
static int
ml_find(const struct ctrld_req *req, struct store_user *u)
{
	int rc;

	rc = acct_find(req, req->argv[1], req->argv[2],
	    CTRLD_E_DOMAIN_NOT_HANDLED, u);
	if (rc == 0 && u->type != 'M')
		rc = CTRLD_E_NOT_MLIST;
	return rc;
}

/* perms_ok - mailing list permissions: letters R, W, A */
static bool
perms_ok(const char *p)
{
	return *p != '\0' && strspn(p, "RWArwa") == strlen(p);
}

/* do_mluseradd - "mluseradd" dom list address [perms] */
static int
do_mluseradd(const struct ctrld_req *req, struct ctrld_res *res)
{
	const char *perms = req->argc > 4 ? req->argv[4] : U_ML_PERMS;
	const char *rec[2] = { req->argv[3], perms };
	struct u_keys k = { 1, 1, { 0 }, { req->argv[3] } };
	struct u_edit e = { keys_match, &k, 0, rec, 2, CTRLD_E_MLUSER_EXIST };
	char real[STORE_DOMAIN_MAX + 1], rel[U_PATH_MAX];
	struct addr_path ap;
	struct store_user u;
	int rc;

	(void)res;
	if ((rc = domain_real(req, req->argv[1], real, sizeof(real))) != 0)
		return rc;
	if (addr_parse_mailbox(req->argv[3], false, &ap) != ADDR_OK ||
	    !tab_value_ok(req->argv[3]))
		return CTRLD_E_BAD_ADDRESS;
	if (!perms_ok(perms))
		return CTRLD_E_INVALID_PARAM;
	if ((rc = ml_find(req, &u)) != 0)
		return rc;
	if (acct_rel(&u, "mlusers.tab", NULL, rel, sizeof(rel)) == -1)
		return CTRLD_E_INVALID_PARAM;
	return table_edit(req, rel, &e);
}

/* do_mluserdel - "mluserdel" dom list address */
static int
do_mluserdel(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct u_keys k = { 1, 1, { 0 }, { req->argv[3] } };
	struct u_edit e = { keys_match, &k, 0, NULL, 0,
	    CTRLD_E_MLUSER_NOT_FOUND };
	struct store_user u;
	char rel[U_PATH_MAX];
	int rc;

	(void)res;
	if ((rc = ml_find(req, &u)) != 0)
		return rc;
	if (acct_rel(&u, "mlusers.tab", NULL, rel, sizeof(rel)) == -1)
		return CTRLD_E_INVALID_PARAM;
	return table_edit(req, rel, &e);
}

/* cmd_mluserlist - "mluserlist" dom list */
static void
cmd_mluserlist(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct tab m = { 0 };
	struct store_user u;
	const char *f[2];
	size_t i;
	int rc;

	if ((rc = ml_find(req, &u)) == 0 &&
	    store_mlusers_load(req->mailroot, &u, &m) == -1)
		rc = CTRLD_E_FILE_OPEN;
	if (rc == 0)
		ctrld_list_begin(res);
	for (i = 0; rc == 0 && i < m.nrecs; i++) {
		f[0] = m.recs[i].f[0];
		f[1] = m.recs[i].n >= 2 ? m.recs[i].f[1] : U_ML_PERMS;
		rc = list_add(res, f, 2);
	}
	tab_free(&m);
	finish(res, rc);
}

/*
 * Aliases.
 */

/* alias_account - aliasadd's target "name" or "name@domain" exists */
static int
alias_account(const struct ctrld_req *req)
{
	char name[STORE_NAME_MAX + 1], dom[STORE_DOMAIN_MAX + 1];
	const char *acc = req->argv[3];
	struct store_user u;

	if (strchr(acc, '@') == NULL)
		return acct_find(req, req->argv[1], acc,
		    CTRLD_E_USER_NOT_FOUND, &u);
	if (!addr_split(acc, name, sizeof(name), dom, sizeof(dom)))
		return CTRLD_E_BAD_ADDRESS;
	return acct_find(req, dom, name, CTRLD_E_USER_NOT_FOUND, &u);
}

/* do_aliasadd - "aliasadd" dom alias account */
static int
do_aliasadd(const struct ctrld_req *req, struct ctrld_res *res)
{
	char *const *v = req->argv;
	const char *rec[3] = { v[1], v[2], v[3] };
	struct u_keys k = { 3, 2, { 0, 1 }, { v[1], v[2] } };
	struct u_edit e = { keys_match, &k, 0, rec, 3, CTRLD_E_ALIAS_EXIST };
	struct store_user u;
	int rc;

	/* Wildcards are allowed in the alias and its domain (aliases.tab). */
	if (!store_domain_ok(v[1], true) || !store_name_ok(v[2], true))
		return CTRLD_E_BAD_ADDRESS;
	if (!tab_value_ok(v[3]))
		return CTRLD_E_INVALID_PARAM;
	if ((rc = alias_account(req)) != 0)
		return rc;
	/* An alias may not hide an account of the same name. */
	rc = acct_find(req, v[1], v[2], CTRLD_E_USER_NOT_FOUND, &u);
	if (rc == 0 || rc == CTRLD_E_FILE_STRUCT)
		return CTRLD_E_USER_EXIST;
	if (rc != CTRLD_E_USER_NOT_FOUND)
		return rc;
	if ((rc = table_edit(req, "aliases.tab", &e)) == 0)
		res->reload = true;
	return rc;
}

/* do_aliasdel - "aliasdel" dom alias */
static int
do_aliasdel(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct u_keys k = { 3, 2, { 0, 1 }, { req->argv[1], req->argv[2] } };
	struct u_edit e = { keys_match, &k, 0, NULL, 0,
	    CTRLD_E_ALIAS_NOT_FOUND };
	int rc;

	if ((rc = table_edit(req, "aliases.tab", &e)) == 0)
		res->reload = true;
	return rc;
}

/* cmd_aliaslist - "aliaslist" [dom [alias [account]]] (wildcards) */
static void
cmd_aliaslist(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct tab al = { 0 };
	const struct tab_rec *r;
	size_t i;
	int rc;

	if ((rc = load(req, CFG_ALIASES, &al)) == 0)
		ctrld_list_begin(res);
	for (i = 0; rc == 0 && i < al.nrecs; i++) {
		r = &al.recs[i];
		if (r->n >= 3 && wild_ok(req, 1, r->f[0]) &&
		    wild_ok(req, 2, r->f[1]) && wild_ok(req, 3, r->f[2]))
			rc = list_add(res, (const char *const *)r->f, 3);
	}
	tab_free(&al);
	finish(res, rc);
}

/*
 * External aliases: extaliases.tab holds "rmt-domain" "rmt-name"
 * "loc-domain" "loc-name" (manual "EXTALIASES.TAB").
 */

/* An address split for extaliases.tab. */
struct u_addr {
	char	name[STORE_NAME_MAX + 1];
	char	dom[STORE_DOMAIN_MAX + 1];
};

/* ex_split - split and check an address (wildcards if `wild`) */
static bool
ex_split(const char *addr, bool wild, struct u_addr *a)
{
	return addr_split(addr, a->name, sizeof(a->name), a->dom,
	    sizeof(a->dom)) && store_name_ok(a->name, wild) &&
	    store_domain_ok(a->dom, wild);
}

/* do_exaliasadd - "exaliasadd" local-address remote-address */
static int
do_exaliasadd(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct u_addr loc, rmt;
	const char *rec[4] = { rmt.dom, rmt.name, loc.dom, loc.name };
	struct u_keys k = { 4, 2, { 0, 1 }, { rmt.dom, rmt.name } };
	struct u_edit e = { keys_match, &k, 0, rec, 4,
	    CTRLD_E_EXALIAS_EXIST };
	int rc;

	if (!ex_split(req->argv[1], false, &loc) ||
	    !ex_split(req->argv[2], false, &rmt))
		return CTRLD_E_BAD_ADDRESS;
	if ((rc = table_edit(req, "extaliases.tab", &e)) == 0)
		res->reload = true;
	return rc;
}

/* do_exaliasdel - "exaliasdel" remote-address */
static int
do_exaliasdel(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct u_addr rmt;
	struct u_keys k = { 4, 2, { 0, 1 }, { rmt.dom, rmt.name } };
	struct u_edit e = { keys_match, &k, 0, NULL, 0,
	    CTRLD_E_EXALIAS_NOT_FOUND };
	int rc;

	if (!addr_split(req->argv[1], rmt.name, sizeof(rmt.name), rmt.dom,
	    sizeof(rmt.dom)))
		return CTRLD_E_BAD_ADDRESS;
	if ((rc = table_edit(req, "extaliases.tab", &e)) == 0)
		res->reload = true;
	return rc;
}

/* cmd_exaliaslist - "exaliaslist" [local-address [remote-address]] */
static void
cmd_exaliaslist(const struct ctrld_req *req, struct ctrld_res *res)
{
	struct u_addr loc = { "*", "*" }, rmt = { "*", "*" };
	struct tab ex = { 0 };
	const struct tab_rec *r;
	size_t i;
	int rc = 0;

	if ((req->argc > 1 && !addr_split(req->argv[1], loc.name,
	    sizeof(loc.name), loc.dom, sizeof(loc.dom))) ||
	    (req->argc > 2 && !addr_split(req->argv[2], rmt.name,
	    sizeof(rmt.name), rmt.dom, sizeof(rmt.dom))))
		rc = CTRLD_E_BAD_ADDRESS;
	if (rc == 0 && (rc = load(req, CFG_EXTALIASES, &ex)) == 0)
		ctrld_list_begin(res);
	for (i = 0; rc == 0 && i < ex.nrecs; i++) {
		r = &ex.recs[i];
		if (r->n >= 4 && match_wild(rmt.dom, r->f[0]) &&
		    match_wild(rmt.name, r->f[1]) &&
		    match_wild(loc.dom, r->f[2]) &&
		    match_wild(loc.name, r->f[3]))
			rc = list_add(res, (const char *const *)r->f, 4);
	}
	tab_free(&ex);
	finish(res, rc);
}

/*
 * Locked wrappers and the command table.
 */

/* cmd_useradd - see do_useradd */
static void
cmd_useradd(const struct ctrld_req *req, struct ctrld_res *res)
{
	run_locked(req, res, do_useradd);
}

/* cmd_userdel - see do_userdel */
static void
cmd_userdel(const struct ctrld_req *req, struct ctrld_res *res)
{
	run_locked(req, res, do_userdel);
}

/* cmd_userpasswd - see do_userpasswd */
static void
cmd_userpasswd(const struct ctrld_req *req, struct ctrld_res *res)
{
	run_locked(req, res, do_userpasswd);
}

/* cmd_uservarsset - see do_uservarsset */
static void
cmd_uservarsset(const struct ctrld_req *req, struct ctrld_res *res)
{
	run_locked(req, res, do_uservarsset);
}

/* cmd_usersetmproc - see do_usersetmproc */
static void
cmd_usersetmproc(const struct ctrld_req *req, struct ctrld_res *res)
{
	run_locked(req, res, do_usersetmproc);
}

/* cmd_mluseradd - see do_mluseradd */
static void
cmd_mluseradd(const struct ctrld_req *req, struct ctrld_res *res)
{
	run_locked(req, res, do_mluseradd);
}

/* cmd_mluserdel - see do_mluserdel */
static void
cmd_mluserdel(const struct ctrld_req *req, struct ctrld_res *res)
{
	run_locked(req, res, do_mluserdel);
}

/* cmd_aliasadd - see do_aliasadd */
static void
cmd_aliasadd(const struct ctrld_req *req, struct ctrld_res *res)
{
	run_locked(req, res, do_aliasadd);
}

/* cmd_aliasdel - see do_aliasdel */
static void
cmd_aliasdel(const struct ctrld_req *req, struct ctrld_res *res)
{
	run_locked(req, res, do_aliasdel);
}

/* cmd_exaliasadd - see do_exaliasadd */
static void
cmd_exaliasadd(const struct ctrld_req *req, struct ctrld_res *res)
{
	run_locked(req, res, do_exaliasadd);
}

/* cmd_exaliasdel - see do_exaliasdel */
static void
cmd_exaliasdel(const struct ctrld_req *req, struct ctrld_res *res)
{
	run_locked(req, res, do_exaliasdel);
}

/* The user group; parameter counts as in XMail's CTRLSvr.cpp. */
const struct ctrld_cmd ctrld_user_cmds[] = {
	{ "useradd", 4, 4, 0, 1u << 3, NULL, cmd_useradd },
	{ "userdel", 2, 2, 0, 0, NULL, cmd_userdel },
	{ "userpasswd", 3, 3, 0, 1u << 3, NULL, cmd_userpasswd },
	{ "userauth", 3, 3, 0, 1u << 3, NULL, cmd_userauth },
	{ "userstat", 2, 2, 0, 0, NULL, cmd_userstat },
	{ "uservars", 2, 2, 0, 0, NULL, cmd_uservars },
	{ "uservarsset", 4, CTRLD_ARGS_MAX - 1, 0, 0, NULL, cmd_uservarsset },
	{ "userlist", 0, 2, 0, 0, NULL, cmd_userlist },
	{ "usergetmproc", 2, 3, 0, 0, NULL, cmd_usergetmproc },
	{ "usersetmproc", 2, 3, CTRLD_F_UPLOAD, 0, check_usersetmproc,
	    cmd_usersetmproc },
	{ "mluseradd", 3, 4, 0, 0, NULL, cmd_mluseradd },
	{ "mluserdel", 3, 3, 0, 0, NULL, cmd_mluserdel },
	{ "mluserlist", 2, 2, 0, 0, NULL, cmd_mluserlist },
	{ "aliasadd", 3, 3, 0, 0, NULL, cmd_aliasadd },
	{ "aliasdel", 2, 2, 0, 0, NULL, cmd_aliasdel },
	{ "aliaslist", 0, 3, 0, 0, NULL, cmd_aliaslist },
	{ "exaliasadd", 2, 2, 0, 0, NULL, cmd_exaliasadd },
	{ "exaliasdel", 1, 1, 0, 0, NULL, cmd_exaliasdel },
	{ "exaliaslist", 0, 2, 0, 0, NULL, cmd_exaliaslist },
};
const size_t ctrld_user_ncmds = nitems(ctrld_user_cmds);
