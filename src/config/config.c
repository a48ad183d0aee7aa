/*
 * config.c - snapshots of the MailRoot tables, reload and change detection.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config/config.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/match.h"

static const char *const config_files[CFG_NTABLES] = {
	[CFG_SERVER] = "server.tab",
	[CFG_DOMAINS] = "domains.tab",
	[CFG_ALIASES] = "aliases.tab",
	[CFG_ALIASDOMAIN] = "aliasdomain.tab",
	[CFG_EXTALIASES] = "extaliases.tab",
	[CFG_MAILUSERS] = "mailusers.tab",
	[CFG_POP3LINKS] = "pop3links.tab",
	[CFG_SMTPGW] = "smtpgw.tab",
	[CFG_SMTPFWD] = "smtpfwd.tab",
	[CFG_SMTPRELAY] = "smtprelay.tab",
	[CFG_SMTPAUTH] = "smtpauth.tab",
	[CFG_SMTPEXTAUTH] = "smtpextauth.tab",
	[CFG_USERDEF] = "userdef.tab",
	[CFG_CTRLACCOUNTS] = "ctrlaccounts.tab",
	[CFG_SPAMMERS] = "spammers.tab",
	[CFG_SPAMADDRESS] = "spam-address.tab",
	[CFG_POP3_IPMAP] = "pop3.ipmap.tab",
	[CFG_SMTP_IPMAP] = "smtp.ipmap.tab",
	[CFG_CTRL_IPMAP] = "ctrl.ipmap.tab",
	[CFG_FINGER_IPMAP] = "finger.ipmap.tab",
	[CFG_FILTERS_IN] = "filters.in.tab",
	[CFG_FILTERS_OUT] = "filters.out.tab",
	[CFG_FILTERS_POST_RCPT] = "filters.post-rcpt.tab",
	[CFG_FILTERS_PRE_DATA] = "filters.pre-data.tab",
	[CFG_FILTERS_POST_DATA] = "filters.post-data.tab",
	[CFG_SMTP_IPPROP] = "smtp.ipprop.tab",
	[CFG_SMTP_HNPROP] = "smtp.hnprop.tab",
	[CFG_MXBACKUP] = "mxbackup.tab",
};

/* What a file looked like when it was loaded. */
struct config_stamp {
	bool		exists;
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec	mtime;
	struct timespec	ctime;
};

/* One parsed *.ipmap.tab line. */
struct ipmap_rule {
	struct ipfilter	f;
	bool		allow;
	long		prec;
};

struct ipmap {
	struct ipmap_rule	*rules;
	size_t			 n;
};

struct config {
	atomic_int		 refs;
	uint64_t		 gen;
	char			*mailroot;
	struct tab		 tabs[CFG_NTABLES];
	struct config_stamp	 stamps[CFG_NTABLES];
	struct ipmap		 ipmaps[CFG_NTABLES];	/* ipmap tables only */
	struct ipfilter		*relay;		/* smtprelay.tab */
	size_t			 nrelay;
};

static pthread_mutex_t	 config_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct config	*config_cur;
static char		*config_root;
static uint64_t		 config_gen;

/* config_table_file - file name of a table */
const char *
config_table_file(enum config_table t)
{
	return config_files[t];
}

/* is_ipmap - tables with ipmap syntax */
static bool
is_ipmap(enum config_table t)
{
	return t == CFG_POP3_IPMAP || t == CFG_SMTP_IPMAP ||
	    t == CFG_CTRL_IPMAP || t == CFG_FINGER_IPMAP;
}

/* stamp_take - stat a file */
static int
stamp_take(const char *path, struct config_stamp *s)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	if (stat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		return -1;
	}
	s->exists = true;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = st.st_size;
	s->mtime = st.st_mtim;
	s->ctime = st.st_ctim;
	return 0;
}

/* stamp_equal - same file state */
static bool
stamp_equal(const struct config_stamp *a, const struct config_stamp *b)
{
	return a->exists == b->exists && a->dev == b->dev &&
	    a->ino == b->ino && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/*
 * ipmap_rule_parse - one *.ipmap.tab line into a rule; false (reported)
 * when the line is malformed and must be ignored
 */
static bool
ipmap_rule_parse(const struct tab *t, const struct tab_rec *r,
    struct ipmap_rule *rule)
{
	size_t perm, prec;
	char *end;

	if (r->n >= 1 && strchr(r->f[0], '/') != NULL && r->n == 3) {
		perm = 1;
		prec = 2;
	} else {
		perm = 2;
		prec = 3;
	}
	if (r->n <= prec ||
	    ipfilter_parse(r->f[0], perm == 2 ? r->f[1] : NULL,
	    &rule->f) == -1) {
		log_warn("%s:%u: bad address filter, line ignored",
		    t->path, r->lineno);
		return false;
	}
	if (strcasecmp(r->f[perm], "ALLOW") == 0)
		rule->allow = true;
	else if (strcasecmp(r->f[perm], "DENY") == 0)
		rule->allow = false;
	else {
		log_warn("%s:%u: permission must be ALLOW or DENY,"
		    " line ignored", t->path, r->lineno);
		return false;
	}
	errno = 0;
	rule->prec = strtol(r->f[prec], &end, 10);
	if (errno != 0 || end == r->f[prec] || *end != '\0') {
		log_warn("%s:%u: bad precedence, line ignored",
		    t->path, r->lineno);
		return false;
	}
	return true;
}

/*
 * ipmap_apply - fold one rule into a verdict: a matching rule of at least
 * the best precedence so far decides (ties go to the later line)
 */
static void
ipmap_apply(const struct ipmap_rule *rule, const struct sockaddr *peer,
    bool *allow, long *best)
{
	if (!ipfilter_match(&rule->f, peer) || rule->prec < *best)
		return;
	*best = rule->prec;
	*allow = rule->allow;
}

/* ipmap_build - parse the rules of an ipmap table */
static void
ipmap_build(const struct tab *t, struct ipmap *m)
{
	size_t i;

	m->rules = calloc(t->nrecs ? t->nrecs : 1, sizeof(*m->rules));
	m->n = 0;
	if (m->rules == NULL)
		return;
	for (i = 0; i < t->nrecs; i++)
		if (ipmap_rule_parse(t, &t->recs[i], &m->rules[m->n]))
			m->n++;
}

/* relay_build - parse smtprelay.tab */
static void
relay_build(struct config *cfg)
{
	const struct tab *t = &cfg->tabs[CFG_SMTPRELAY];
	const struct tab_rec *r;
	size_t i;

	cfg->relay = calloc(t->nrecs ? t->nrecs : 1, sizeof(*cfg->relay));
	if (cfg->relay == NULL)
		return;
	for (i = 0; i < t->nrecs; i++) {
		r = &t->recs[i];
		if (ipfilter_parse(r->f[0], r->n >= 2 ? r->f[1] : NULL,
		    &cfg->relay[cfg->nrelay]) == -1) {
			log_warn("%s:%u: bad address filter, line ignored",
			    t->path, r->lineno);
			continue;
		}
		cfg->nrelay++;
	}
}

/* config_free - release a snapshot */
static void
config_free(struct config *cfg)
{
	int t;

	free(cfg->relay);
	for (t = 0; t < CFG_NTABLES; t++) {
		tab_free(&cfg->tabs[t]);
		free(cfg->ipmaps[t].rules);
	}
	free(cfg->mailroot);
	free(cfg);
}

/* config_build - load every table; NULL on I/O error */
static struct config *
config_build(const char *root)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	char path[4096];
	int t;

	if (cfg == NULL)
		return NULL;
	cfg->mailroot = strdup(root);
	if (cfg->mailroot == NULL) {
		free(cfg);
		return NULL;
	}
	atomic_init(&cfg->refs, 1);
	for (t = 0; t < CFG_NTABLES; t++) {
		if (fs_path(path, sizeof(path), root, config_files[t]) == -1)
			goto fail;
		/* Stamp first: a change during the load triggers a reload. */
		if (stamp_take(path, &cfg->stamps[t]) == -1 ||
		    tab_load(path, &cfg->tabs[t]) == -1) {
			log_error("%s: %s", path, strerror(errno));
			goto fail;
		}
		if (is_ipmap(t))
			ipmap_build(&cfg->tabs[t], &cfg->ipmaps[t]);
	}
	relay_build(cfg);
	return cfg;
fail:
	config_free(cfg);
	return NULL;
}

/* config_install - make cfg current */
static void
config_install(struct config *cfg)
{
	struct config *old;

	pthread_mutex_lock(&config_mtx);
	cfg->gen = ++config_gen;
	old = config_cur;
	config_cur = cfg;
	pthread_mutex_unlock(&config_mtx);
	config_release(old);
}

/* config_init - first snapshot */
int
config_init(const char *mailroot)
{
	struct config *cfg;

	if (!fs_is_dir(mailroot)) {
		log_error("MailRoot %s is not a directory", mailroot);
		return -1;
	}
	free(config_root);
	config_root = strdup(mailroot);
	if (config_root == NULL)
		return -1;
	cfg = config_build(mailroot);
	if (cfg == NULL)
		return -1;
	config_install(cfg);
	return 0;
}

/* config_shutdown - drop the current snapshot */
void
config_shutdown(void)
{
	struct config *old;

	pthread_mutex_lock(&config_mtx);
	old = config_cur;
	config_cur = NULL;
	pthread_mutex_unlock(&config_mtx);
	config_release(old);
	free(config_root);
	config_root = NULL;
}

/*
 * config_reload - new snapshot now.  Reloads are serialised (reload_mtx)
 * so that two threads reloading at once (CTRL commands on workers, the
 * main thread's poll) install their snapshots in the order they read the
 * files: the current snapshot is never older than the last reload.
 */
int
config_reload(const char *why)
{
	static pthread_mutex_t reload_mtx = PTHREAD_MUTEX_INITIALIZER;
	struct config *cfg;
	unsigned long long gen;

	if (config_root == NULL)
		return -1;
	pthread_mutex_lock(&reload_mtx);
	cfg = config_build(config_root);
	if (cfg == NULL) {
		pthread_mutex_unlock(&reload_mtx);
		log_error("configuration reload (%s) failed; keeping the"
		    " previous configuration", why);
		return -1;
	}
	config_install(cfg);
	gen = (unsigned long long)cfg->gen;	/* still current: serialised */
	pthread_mutex_unlock(&reload_mtx);
	log_info("configuration reloaded (%s) generation=%llu", why, gen);
	return 0;
}

/* config_poll - reload on change */
bool
config_poll(void)
{
	struct config *cfg = config_acquire();
	struct config_stamp now;
	char path[4096];
	const char *changed = NULL;
	int t;

	if (cfg == NULL)
		return false;
	for (t = 0; t < CFG_NTABLES && changed == NULL; t++) {
		if (fs_path(path, sizeof(path), cfg->mailroot,
		    config_files[t]) == -1 || stamp_take(path, &now) == -1)
			continue;
		if (!stamp_equal(&now, &cfg->stamps[t]))
			changed = config_files[t];
	}
	config_release(cfg);
	if (changed == NULL)
		return false;
	return config_reload(changed) == 0;
}

/* config_acquire - take a reference */
struct config *
config_acquire(void)
{
	struct config *cfg;

	pthread_mutex_lock(&config_mtx);
	cfg = config_cur;
	if (cfg != NULL)
		atomic_fetch_add(&cfg->refs, 1);
	pthread_mutex_unlock(&config_mtx);
	return cfg;
}

/* config_release - drop a reference */
void
config_release(struct config *cfg)
{
	if (cfg != NULL && atomic_fetch_sub(&cfg->refs, 1) == 1)
		config_free(cfg);
}

/* config_generation - snapshot number */
uint64_t
config_generation(const struct config *cfg)
{
	return cfg->gen;
}

/* config_mailroot - MailRoot path */
const char *
config_mailroot(const struct config *cfg)
{
	return cfg->mailroot;
}

/* config_tab - a table */
const struct tab *
config_tab(const struct config *cfg, enum config_table t)
{
	return &cfg->tabs[t];
}

/* config_var - server.tab variable, last definition wins */
const char *
config_var(const struct config *cfg, const char *name)
{
	const struct tab *t = &cfg->tabs[CFG_SERVER];
	const char *v = NULL;
	size_t i;

	for (i = 0; i < t->nrecs; i++)
		if (t->recs[i].n >= 2 && strcmp(t->recs[i].f[0], name) == 0)
			v = t->recs[i].f[1];
	return v;
}

/* config_var_long - numeric variable */
long
config_var_long(const struct config *cfg, const char *name, long def)
{
	const char *v = config_var(cfg, name);

	if (v == NULL || *v == '\0')
		return def;
	return strtol(v, NULL, 10);
}

/* config_var_bool - boolean variable */
bool
config_var_bool(const struct config *cfg, const char *name, bool def)
{
	return config_var_long(cfg, name, def ? 1 : 0) != 0;
}

/* config_ipmap_allow - ipmap verdict */
bool
config_ipmap_allow(const struct config *cfg, enum config_table t,
    const struct sockaddr *peer)
{
	const struct ipmap *m = &cfg->ipmaps[t];
	bool allow = true;
	long best = -1;
	size_t i;

	for (i = 0; i < m->n; i++)
		ipmap_apply(&m->rules[i], peer, &allow, &best);
	return allow;
}

/* config_ipmap_allow_tab - ipmap verdict of a table loaded elsewhere */
bool
config_ipmap_allow_tab(const struct tab *t, const struct sockaddr *peer)
{
	struct ipmap_rule rule;
	bool allow = true;
	long best = -1;
	size_t i;

	for (i = 0; i < t->nrecs; i++)
		if (ipmap_rule_parse(t, &t->recs[i], &rule))
			ipmap_apply(&rule, peer, &allow, &best);
	return allow;
}

/* config_relay_allow - smtprelay.tab verdict */
bool
config_relay_allow(const struct config *cfg, const struct sockaddr *peer)
{
	size_t i;

	for (i = 0; i < cfg->nrelay; i++)
		if (ipfilter_match(&cfg->relay[i], peer))
			return true;
	return false;
}
