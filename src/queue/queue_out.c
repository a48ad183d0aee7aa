/*
 * queue_out.c - the outbound queue: scheduler on loop 0, attempts with the
 * SMTP client, results committed to the spool on the worker pool.
 *
 * Scheduler objects (loop 0 only):
 *   entry - one spool file (one recipient), ready, deferred (in the heap)
 *           or busy (in an attempt);
 *   group - the ready entries of one message at one destination: one
 *           transaction;
 *   dest  - a recipient domain: its ready groups and its sessions;
 *   agent - one delivery session to a destination: route, DNS, connect,
 *           then groups one after the other on the same connection.
 * Attempt results go to a worker (commit_work) that removes, defers or
 * bounces each file (docs/QUEUE.md T3, T4, T5), then back to loop 0
 * (commit_done) to update the entries.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <event2/event.h>

#include "config/config.h"
#include "core/addr.h"
#include "core/ev.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/match.h"
#include "core/rfcdate.h"
#include "core/work.h"
#include "queue/queue_admin.h"
#include "queue/queue_bounce.h"
#include "queue/queue_local.h"
#include "queue/queue_out.h"
#include "queue/queue_out_int.h"
#include "queue/queue_slog.h"
#include "smtpc/smtpc.h"
#include "smtpc/smtpc_route.h"
#include "store/store.h"

#define QO_FILE_MAX		((size_t)80 << 20)
#define QO_HOSTS_MAX		(DNS_MX_MAX > SMTPC_ROUTE_HOPS_MAX ? \
				    DNS_MX_MAX : SMTPC_ROUTE_HOPS_MAX)
#define QO_AUTH_HOSTS		4	/* hosts whose credentials are read */
#define QO_TXN_RCPTS_MAX	50	/* recipients per transaction */
#define QO_DEST_SESSIONS	20	/* default SmtpMaxDestSessions */
#define QO_LIFETIME		432000	/* default QueueLifetime, 5 days */
#define QO_MXBACKUP_LIFETIME	864000	/* default MXBackupLifetime, 10 d */
#define QO_MXBACKUP_NOTIFY	86400	/* default MXBackupNotifyAfter, 1 d */
#define QO_HELD_DOMAINS		64	/* domains whose notice is remembered */
#define QO_TICK_MS		1000

/* A string-keyed hash table (keys are owned by the values). */
struct qo_node {
	struct qo_node	*next;
	const char	*key;
	void		*val;
};

struct qo_table {
	struct qo_node	**b;
	size_t		  nb, n;
};

struct qo_dest;
struct qo_group;

struct qo_entry {
	struct queue_ref	 ref;
	char			 dir[8];	/* "mess" or "rsnd" */
	char			 domain[DNS_NAME_MAX + 1];
	char			 msgid[64];
	int			 tries;
	time_t			 next;		/* due time when deferred */
	size_t			 heap;		/* index, SIZE_MAX if none */
	struct qo_group		*group;		/* when ready */
	TAILQ_ENTRY(qo_entry)	 glink;
};

struct qo_group {
	char			 key[DNS_NAME_MAX + 70]; /* dest "\n" msgid */
	struct qo_dest		*dest;
	TAILQ_HEAD(, qo_entry)	 entries;
	size_t			 n;
	TAILQ_ENTRY(qo_group)	 dlink;
};

struct qo_dest {
	char			 key[DNS_NAME_MAX + 1];	/* domain, or
						   "relays:<hash>" */
	char			 domain[DNS_NAME_MAX + 1]; /* routed by */
	TAILQ_HEAD(, qo_group)	 ready;
	int			 active;	/* agents */
	bool			 wanting;	/* in the want list */
	TAILQ_ENTRY(qo_dest)	 wlink;
};

/* One file of a batch and what became of it. */
struct qo_file {
	struct queue_ref	 ref;
	char			 dir[8];
	int			 tries;
	bool			 loaded;
	struct queue_file	 qf;
	struct smtpc_result	 res;
	char			 server[320];	/* "host [ip]" or "" */
	size_t			 log;		/* offset of its transcript in
						   the batch's log, or SIZE_MAX */
	bool			 handed;	/* to local delivery */
	char			 addr[SMTPC_SRCROUTE_MAX + 320]; /* RCPT */
	char			 notify[64], orcpt[512];	/* DSN */
	char			 ret[16], envid[128];
	/* commit_work's verdict: */
	bool			 forget;	/* remove the entry */
	int			 new_tries;
	time_t			 new_last;
};

/* A group loaded for sending, or a set of files failed without it. */
struct qo_batch {
	struct qo_file		*f;
	size_t			 n;
	struct smtpc_txn	*txns;
	size_t			 ntxns;
	size_t			*rmap;		/* txn rcpt -> file, in order */
	struct smtpc_txn_rcpt	*rcpts;
	struct buf		 log;		/* transcripts, NUL-separated */
	char			 domain[DNS_NAME_MAX + 1];
	/* credentials for the first QO_AUTH_HOSTS hosts of the agent */
	struct smtpc_auth	 auth[QO_AUTH_HOSTS];
	int			 auth_rc[QO_AUTH_HOSTS];
	struct qo_agent		*agent;		/* while loading */
};

struct qo_host {
	char			 name[DNS_NAME_MAX + 1];
	int			 port;
	uint16_t		 pref;
	struct smtpc_hopopts	 opts;
};

struct qo_agent {
	struct qo_dest		*dest;
	struct smtpc_route	 rt;
	struct qo_host		 hosts[QO_HOSTS_MAX];
	size_t			 nhosts, hi;
	struct sockaddr_storage	 addrs[DNS_ADDR_MAX];
	size_t			 naddrs, ai;
	struct smtpc		*s;
	struct qo_batch		*b;		/* being sent */
	size_t			 ti;		/* its transaction */
	struct smtpc_result	 err;		/* last connection failure */
	bool			 pending;	/* a DNS query or job runs */
	bool			 dns_perm;	/* err is a permanent DNS one */
	char			 peer[320];
	TAILQ_ENTRY(qo_agent)	 link;
};

#define QO_SELF_MAX		64	/* addresses of this server */

static struct queue_out_conf	 conf = { 23, 16, 480, 16, 32, false,
				    DNS_V4, 0, NULL, 0 };
static struct sockaddr_storage	 self[QO_SELF_MAX];
static size_t			 nself;
static pthread_mutex_t		 pend_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct queue_out_item	*pend;
static size_t			 npend, pend_cap;
static char			**pend_flush;
static size_t			 npend_flush;
static bool			 started;
static atomic_bool		 stopping;
static atomic_bool		 draining;	/* no new attempts */

/* Loop 0 state. */
static struct qo_table		 entries, dests, groups;
static struct qo_entry		**heap;
static size_t			 nheap, heap_cap;
static TAILQ_HEAD(, qo_dest)	 want = TAILQ_HEAD_INITIALIZER(want);
static TAILQ_HEAD(, qo_agent)	 agents = TAILQ_HEAD_INITIALIZER(agents);
static int			 nagents;
static struct dns_resolver	*resolver;
static char			 resolver_hosts[512];
static struct event		*tick;

static pthread_mutex_t		 stop_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t		 stop_cond = PTHREAD_COND_INITIALIZER;
static bool			 stop_done;

static void	dispatch(void);
static void	agent_next_host(struct qo_agent *a);
static void	agent_take(struct qo_agent *a);
static void	agent_end(struct qo_agent *a);
static void	agent_connect(struct qo_agent *a);

/* qo_copy - copy a string, truncating (fields sized for their source) */
static void
qo_copy(char *dst, const char *src, size_t size)
{
	snprintf(dst, size, "%s", src);
}

/* --- hash table --- */

/* hash - FNV-1a */
static size_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

/* ht_get - value for key or NULL */
static void *
ht_get(const struct qo_table *t, const char *key)
{
	struct qo_node *n;

	if (t->nb == 0)
		return NULL;
	for (n = t->b[hash(key) & (t->nb - 1)]; n != NULL; n = n->next)
		if (strcmp(n->key, key) == 0)
			return n->val;
	return NULL;
}

/* ht_put - add key (not present); 0 or -1 */
static int
ht_put(struct qo_table *t, const char *key, void *val)
{
	struct qo_node *n, **nb;
	size_t i, nsize;

	if (t->n >= t->nb) {
		nsize = t->nb == 0 ? 64 : t->nb * 2;
		nb = calloc(nsize, sizeof(*nb));
		if (nb == NULL)
			return -1;
		for (i = 0; i < t->nb; i++)
			while ((n = t->b[i]) != NULL) {
				t->b[i] = n->next;
				n->next = nb[hash(n->key) & (nsize - 1)];
				nb[hash(n->key) & (nsize - 1)] = n;
			}
		free(t->b);
		t->b = nb;
		t->nb = nsize;
	}
	n = malloc(sizeof(*n));
	if (n == NULL)
		return -1;
	n->key = key;
	n->val = val;
	i = hash(key) & (t->nb - 1);
	n->next = t->b[i];
	t->b[i] = n;
	t->n++;
	return 0;
}

/* ht_del - remove key */
static void
ht_del(struct qo_table *t, const char *key)
{
	struct qo_node **pp, *n;

	if (t->nb == 0)
		return;
	for (pp = &t->b[hash(key) & (t->nb - 1)]; (n = *pp) != NULL;
	    pp = &n->next)
		if (strcmp(n->key, key) == 0) {
			*pp = n->next;
			free(n);
			t->n--;
			return;
		}
}

/* ht_free - free the nodes (and each value with fn) */
static void
ht_free(struct qo_table *t, void (*fn)(void *))
{
	struct qo_node *n;
	size_t i;

	for (i = 0; i < t->nb; i++)
		while ((n = t->b[i]) != NULL) {
			t->b[i] = n->next;
			if (fn != NULL)
				fn(n->val);
			free(n);
		}
	free(t->b);
	memset(t, 0, sizeof(*t));
}

/* --- retry heap (by due time) --- */

/* heap_swap - exchange two slots */
static void
heap_swap(size_t i, size_t j)
{
	struct qo_entry *e = heap[i];

	heap[i] = heap[j];
	heap[j] = e;
	heap[i]->heap = i;
	heap[j]->heap = j;
}

/* heap_fix - restore order around slot i */
static void
heap_fix(size_t i)
{
	size_t l, r, m;

	while (i > 0 && heap[(i - 1) / 2]->next > heap[i]->next) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < nheap && heap[l]->next < heap[m]->next)
			m = l;
		if (r < nheap && heap[r]->next < heap[m]->next)
			m = r;
		if (m == i)
			return;
		heap_swap(i, m);
		i = m;
	}
}

/* heap_push - add a deferred entry; 0 or -1 */
static int
heap_push(struct qo_entry *e)
{
	struct qo_entry **nh;

	if (nheap == heap_cap) {
		nh = reallocarray(heap, heap_cap ? heap_cap * 2 : 256,
		    sizeof(*heap));
		if (nh == NULL)
			return -1;
		heap = nh;
		heap_cap = heap_cap ? heap_cap * 2 : 256;
	}
	e->heap = nheap;
	heap[nheap++] = e;
	heap_fix(e->heap);
	return 0;
}

/* heap_remove - take an entry out of the heap */
static void
heap_remove(struct qo_entry *e)
{
	size_t i = e->heap;

	if (i == SIZE_MAX)
		return;
	e->heap = SIZE_MAX;
	if (i != nheap - 1) {
		heap[i] = heap[nheap - 1];
		heap[i]->heap = i;
		nheap--;
		heap_fix(i);
	} else {
		nheap--;
	}
}

/* --- the schedule --- */

/* self_add - remember one address of this server */
static void
self_add(const struct sockaddr *sa)
{
	size_t len = sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	if (nself < QO_SELF_MAX && (sa->sa_family == AF_INET ||
	    sa->sa_family == AF_INET6)) {
		memset(&self[nself], 0, sizeof(self[nself]));
		memcpy(&self[nself++], sa, len);
	}
}

/* self_init - the addresses the SMTP server answers on */
static void
self_init(void)
{
	struct ifaddrs *ifa, *i;
	size_t k;

	nself = 0;
	for (k = 0; k < conf.nself_addrs; k++)
		self_add((const struct sockaddr *)&conf.self_addrs[k]);
	if (conf.nself_addrs > 0 || getifaddrs(&ifa) == -1)
		return;
	for (i = ifa; i != NULL; i = i->ifa_next)
		if (i->ifa_addr != NULL)
			self_add(i->ifa_addr);
	freeifaddrs(ifa);
}

/* qo_is_self - is this address and port our own SMTP server? */
bool
qo_is_self(const struct sockaddr_storage *ss, int port)
{
	size_t k;

	if (port != conf.self_port || conf.self_port == 0)
		return false;
	for (k = 0; k < nself; k++) {
		if (self[k].ss_family != ss->ss_family)
			continue;
		if (ss->ss_family == AF_INET &&
		    ((const struct sockaddr_in *)&self[k])->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)ss)->sin_addr.s_addr)
			return true;
		if (ss->ss_family == AF_INET6 && memcmp(
		    &((const struct sockaddr_in6 *)&self[k])->sin6_addr,
		    &((const struct sockaddr_in6 *)ss)->sin6_addr,
		    sizeof(struct in6_addr)) == 0)
			return true;
	}
	return false;
}

/* queue_out_init - settings */
void
queue_out_init(const struct queue_out_conf *c)
{
	conf = *c;
	self_init();
	conf.self_addrs = NULL;		/* copied */
	if (conf.max_sessions < 1)
		conf.max_sessions = 1;
	if (conf.retry < 1)
		conf.retry = 1;
}

/* queue_out_delay - the manual's back-off */
long
queue_out_delay(int retry, int ratio, int tries)
{
	long d = retry > 0 ? retry : 1;
	int i;

	for (i = 1; i < tries; i++) {
		if (ratio > 0)
			d += d / ratio;
		if (d > 30L * 86400) {
			d = 30L * 86400;
			break;
		}
	}
	return d;
}

/* queue_out_item_set - item from a loaded file */
int
queue_out_item_set(struct queue_out_item *it, const struct queue_ref *r,
    const struct queue_file *qf)
{
	const char *at = strrchr(qf->to, '@');
	size_t i;

	memset(it, 0, sizeof(*it));
	if (at == NULL || at[1] == '\0' ||
	    !str_copy(it->domain, at + 1, sizeof(it->domain)) ||
	    !str_copy(it->msgid, qf->msgid, sizeof(it->msgid)))
		return -1;
	for (i = 0; it->domain[i] != '\0'; i++)
		if (it->domain[i] >= 'A' && it->domain[i] <= 'Z')
			it->domain[i] += 'a' - 'A';
	it->ref = *r;
	return 0;
}

/*
 * route_for - where mail for `domain` goes: by MX only for a domain we
 * are a backup MX of (its primary, never a smarthost: a smarthost would
 * hand it back to the MX set, i.e. to us), else by the tables.
 */
static int
route_for(const struct config *cfg, const char *domain,
    struct smtpc_route *rt, char *err, size_t errlen)
{
	if (store_mxbackup(cfg, domain))
		return smtpc_route_mx(cfg, rt, err, errlen);
	return smtpc_route_find(cfg, domain, rt, err, errlen);
}

/* hop_cmp - qsort order of hop fingerprints */
static int
hop_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * dest_key - the destination of mail for `domain`: the domain itself
 * when it is routed by MX, else its relay route, so that domains behind
 * one smarthost or relay list share sessions and transactions.  The
 * hops are taken in sorted order ('#' lists shuffle on every lookup).
 */
static void
dest_key(const char *domain, char *key, size_t size)
{
	struct config *cfg = config_acquire();
	static struct smtpc_route rt;		/* loop 0 only; large */
	char hop[SMTPC_ROUTE_HOPS_MAX][SMTPC_ROUTE_HOST_MAX + 96];
	char *sorted[SMTPC_ROUTE_HOPS_MAX], err[256], ip[INET6_ADDRSTRLEN];
	uint64_t h = 1469598103934665603ULL;
	size_t i;
	const char *p;

	if (route_for(cfg, domain, &rt, err, sizeof(err)) == -1 ||
	    rt.kind != SMTPC_ROUTE_HOSTS) {
		config_release(cfg);
		qo_copy(key, domain, size);
		return;
	}
	config_release(cfg);
	for (i = 0; i < rt.nhops; i++) {
		const struct smtpc_hop *o = &rt.hops[i];

		ip[0] = '\0';
		if (o->opts.has_bind)
			(void)getnameinfo((const struct sockaddr *)
			    &o->opts.bind, o->opts.bindlen, ip, sizeof(ip),
			    NULL, 0, NI_NUMERICHOST);
		snprintf(hop[i], sizeof(hop[i]), "%s:%d:%d:%d:%s", o->host,
		    o->port, o->opts.need_tls, o->opts.lmtp, ip);
		sorted[i] = hop[i];
	}
	qsort(sorted, rt.nhops, sizeof(sorted[0]), hop_cmp);
	for (i = 0; i <= rt.nhops; i++)
		for (p = i < rt.nhops ? sorted[i] : rt.srcroute; *p != '\0';
		    p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	snprintf(key, size, "relays:%016llx", (unsigned long long)h);
}

/* dest_get - the destination with this key, created on demand */
static struct qo_dest *
dest_get(const char *key, const char *domain)
{
	struct qo_dest *d = ht_get(&dests, key);

	if (d != NULL)
		return d;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	qo_copy(d->key, key, sizeof(d->key));
	qo_copy(d->domain, domain, sizeof(d->domain));
	TAILQ_INIT(&d->ready);
	if (ht_put(&dests, d->key, d) == -1) {
		free(d);
		return NULL;
	}
	return d;
}

/* dest_want - the destination has work: let dispatch start an agent */
static void
dest_want(struct qo_dest *d)
{
	if (!d->wanting && !TAILQ_EMPTY(&d->ready)) {
		d->wanting = true;
		TAILQ_INSERT_TAIL(&want, d, wlink);
	}
}

/* dest_maybe_free - forget an idle, empty destination */
static void
dest_maybe_free(struct qo_dest *d)
{
	if (d->active == 0 && TAILQ_EMPTY(&d->ready) && !d->wanting) {
		ht_del(&dests, d->key);
		free(d);
	}
}

/* entry_ready - put an entry in its message's group at its destination */
static void
entry_ready(struct qo_entry *e)
{
	struct qo_group *g;
	struct qo_dest *d;
	char key[sizeof(g->key)], dk[sizeof(d->key)];

	heap_remove(e);
	dest_key(e->domain, dk, sizeof(dk));
	snprintf(key, sizeof(key), "%s\n%s", dk, e->msgid);
	g = ht_get(&groups, key);
	if (g == NULL) {
		d = dest_get(dk, e->domain);
		g = calloc(1, sizeof(*g));
		if (d == NULL || g == NULL) {
			free(g);
			goto later;
		}
		memcpy(g->key, key, sizeof(key));
		g->dest = d;
		TAILQ_INIT(&g->entries);
		if (ht_put(&groups, g->key, g) == -1) {
			free(g);
			goto later;
		}
		TAILQ_INSERT_TAIL(&d->ready, g, dlink);
	}
	if (g->n >= QO_TXN_RCPTS_MAX) {
		/* A full group: this one starts a new group later. */
		e->next = time(NULL) + 1;
		goto later;
	}
	TAILQ_INSERT_TAIL(&g->entries, e, glink);
	g->n++;
	e->group = g;
	dest_want(g->dest);
	return;
later:
	/* No memory or a full group: try again in a second. */
	if (e->heap == SIZE_MAX && heap_push(e) == -1)
		log_error("queue: %s lost from the schedule until restart",
		    e->ref.name);
}

/* group_take - remove a group from its destination and the table */
static void
group_take(struct qo_group *g)
{
	TAILQ_REMOVE(&g->dest->ready, g, dlink);
	ht_del(&groups, g->key);
}

/* add_item - one new file into the schedule */
static void
add_item(const struct queue_out_item *it, time_t now)
{
	struct qo_entry *e = ht_get(&entries, it->ref.name);

	if (e != NULL) {
		/*
		 * Known.  A deferred entry whose file is back in mess/ was
		 * thawed by an operator (postroom queue thaw): due now, with
		 * fresh tries.  Anything else is a repeated hand-over.
		 */
		if (e->heap != SIZE_MAX && !it->deferred) {
			memcpy(e->dir, "mess", 5);
			e->tries = it->tries;
			entry_ready(e);
		}
		return;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return;
	e->ref = it->ref;
	memcpy(e->dir, it->deferred ? "rsnd" : "mess", 5);
	memcpy(e->domain, it->domain, sizeof(e->domain));
	memcpy(e->msgid, it->msgid, sizeof(e->msgid));
	e->tries = it->tries;
	e->heap = SIZE_MAX;
	if (ht_put(&entries, e->ref.name, e) == -1) {
		free(e);
		return;
	}
	if (it->deferred) {
		e->next = it->last_try + queue_out_delay(conf.retry,
		    conf.ratio, it->tries > 0 ? it->tries : 1);
		if (e->next > now && heap_push(e) == 0)
			return;
	}
	entry_ready(e);
}

/* entry_free - forget an entry (not in the heap or a group) */
static void
entry_free(struct qo_entry *e)
{
	ht_del(&entries, e->ref.name);
	free(e);
}

/* flush_apply - make matching deferred entries due */
static void
flush_apply(const char *pattern)
{
	size_t i = 0, n = 0;
	char addr[DNS_NAME_MAX + 2];

	while (i < nheap) {
		struct qo_entry *e = heap[i];

		snprintf(addr, sizeof(addr), "@%s", e->domain);
		if (strchr(pattern, '@') != NULL ?
		    queue_admin_match(pattern, addr) ||
		    queue_admin_match(pattern, e->domain) :
		    queue_admin_match(pattern, e->domain)) {
			entry_ready(e);		/* removes it from the heap */
			n++;
			continue;
		}
		i++;
	}
	log_info("queue: flush '%s': %zu deferred message file(s) due now",
	    pattern, n);
}

/* drain - loop 0: take what other threads handed over */
static void
drain(void *arg)
{
	struct queue_out_item *items;
	char **flush;
	size_t n, nf, i;
	time_t now = time(NULL);

	(void)arg;
	pthread_mutex_lock(&pend_mtx);
	items = pend;
	n = npend;
	flush = pend_flush;
	nf = npend_flush;
	pend = NULL;
	npend = pend_cap = 0;
	pend_flush = NULL;
	npend_flush = 0;
	pthread_mutex_unlock(&pend_mtx);
	for (i = 0; i < n; i++)
		if (!stopping)
			add_item(&items[i], now);
	for (i = 0; i < nf; i++) {
		if (!stopping)
			flush_apply(flush[i]);
		free(flush[i]);
	}
	free(items);
	free(flush);
	if (!stopping)
		dispatch();
}

/* kick - have loop 0 drain soon (pend_mtx held by the caller: no) */
static void
kick(void)
{
	if (started && ev_run_in_loop(ev_loop_at(0), drain, NULL) == -1)
		log_warn("queue: cannot wake the outbound queue");
}

/* queue_out_add - hand files over (any thread) */
void
queue_out_add(const struct queue_out_item *items, size_t n)
{
	struct queue_out_item *np;
	bool first;
	size_t cap;

	if (n == 0)
		return;
	pthread_mutex_lock(&pend_mtx);
	if (npend + n > pend_cap) {
		cap = pend_cap ? pend_cap : 64;
		while (cap < npend + n)
			cap *= 2;
		np = reallocarray(pend, cap, sizeof(*pend));
		if (np == NULL) {
			pthread_mutex_unlock(&pend_mtx);
			log_error("queue: no memory; %zu file(s) wait for the"
			    " next restart", n);
			return;
		}
		pend = np;
		pend_cap = cap;
	}
	first = npend == 0 && npend_flush == 0;
	memcpy(pend + npend, items, n * sizeof(*items));
	npend += n;
	pthread_mutex_unlock(&pend_mtx);
	if (first)
		kick();
}

/* queue_out_flush - ETRN and `postroom queue flush` (any thread) */
void
queue_out_flush(const char *pattern)
{
	char **nf, *p;
	bool first;

	p = strdup(pattern == NULL || *pattern == '\0' ? "*" : pattern);
	if (p == NULL)
		return;
	pthread_mutex_lock(&pend_mtx);
	nf = reallocarray(pend_flush, npend_flush + 1, sizeof(*nf));
	if (nf == NULL) {
		pthread_mutex_unlock(&pend_mtx);
		free(p);
		return;
	}
	pend_flush = nf;
	first = npend == 0 && npend_flush == 0;
	pend_flush[npend_flush++] = p;
	pthread_mutex_unlock(&pend_mtx);
	if (first)
		kick();
}

/* --- committing results (worker) --- */

/* recipient_domain - the domain of a loaded file's recipient, or "" */
static const char *
recipient_domain(const struct qo_file *f)
{
	const char *at = f->loaded ? strrchr(f->qf.to, '@') : NULL;

	return at != NULL ? at + 1 : "";
}

/* slog_block - the slog text of one failed try; 0 or -1 (too long) */
static int
slog_block(struct buf *b, const struct qo_batch *bt, const struct qo_file *f,
    time_t now)
{
	const char *sp = f->res.enh[0] != '\0' ? " " : "";
	const char *rd = recipient_domain(f);
	char date[64];
	const char *log, *nl;
	int rc;

	rc = buf_printf(b, "[PeekTime] %lld : %s\r\n<<\r\n",
	    (long long)now, rfcdate(now, date, sizeof(date)));
	rc |= buf_printf(b, "ErrCode   = -%d\r\nErrString = %s%s%s\r\n",
	    f->res.code, f->res.enh, sp, f->res.text);
	rc |= buf_printf(b, "SMAIL SMTP-Send MX = \"%s\" SMTP = \"%s\" From ="
	    " \"%s\" To = \"%s\" Failed !\r\n", f->server,
	    *rd != '\0' ? rd : bt->domain,
	    f->loaded ? f->qf.from : "", f->loaded ? f->qf.to : "");
	rc |= buf_printf(b, "SMTP-Error = \"%d %s%s%s\"\r\n", f->res.code,
	    f->res.enh, sp, f->res.text);
	if (f->server[0] != '\0')
		rc |= buf_printf(b, "SMTP-Server = \"%s\"\r\n", f->server);
	if (f->log != SIZE_MAX && f->log < bt->log.len) {
		/* The transcript, "\n" lines made CRLF. */
		for (log = bt->log.data + f->log; *log != '\0'; log = nl + 1) {
			nl = strchr(log, '\n');
			if (nl == NULL)
				nl = log + strlen(log) - 1;
			rc |= buf_append(b, log, (size_t)(nl - log) +
			    (*nl != '\n'));
			rc |= buf_puts(b, "\r\n");
		}
	}
	rc |= buf_puts(b, ">>\r\n");
	return rc == 0 ? 0 : -1;
}

/* smail_log - one -Ql record */
static void
smail_log(const struct qo_batch *bt, const struct qo_file *f,
    const char *status)
{
	char when[32], code[8];
	const char *fld[10];
	time_t now = time(NULL);
	struct tm tm;

	if (!conf.log)
		return;
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(code, sizeof(code), "%d", f->res.code);
	fld[0] = when;
	fld[1] = bt->domain;
	fld[2] = f->ref.name;
	fld[3] = f->loaded ? f->qf.msgid : "";
	fld[4] = f->loaded ? f->qf.from : "";
	fld[5] = f->loaded ? f->qf.to : "";
	fld[6] = status;
	fld[7] = f->server;
	fld[8] = code;
	fld[9] = f->res.text;
	(void)log_svc("smail", fld, 10);
}

/* file_load - load a batch file if not yet; false when it is gone */
static bool
file_load(const char *root, struct qo_file *f)
{
	char path[4096];

	if (f->loaded)
		return true;
	if (queue_path(root, &f->ref, f->dir, path, sizeof(path)) == -1)
		return false;
	if (queue_file_load(path, QO_FILE_MAX, &f->qf) == -1) {
		if (errno == EINVAL)
			(void)queue_quarantine(root, &f->ref, f->dir,
			    "unparsable spool file");
		return false;
	}
	f->loaded = true;
	return true;
}

/*
 * expired - no more tries for this file: -Qr tries and QueueLifetime, or
 * MXBackupLifetime for backup-MX mail (it waits for its primary longer)
 */
static bool
expired(const char *root, const struct config *cfg, struct qo_file *f,
    time_t now)
{
	long life = store_mxbackup(cfg, recipient_domain(f)) ?
	    config_var_long(cfg, "MXBackupLifetime", QO_MXBACKUP_LIFETIME) :
	    config_var_long(cfg, "QueueLifetime", QO_LIFETIME);
	char path[4096];
	struct stat st;

	if (f->new_tries < conf.max_tries)
		return false;
	if (life <= 0)
		return true;
	if (queue_path(root, &f->ref, f->dir, path, sizeof(path)) == -1 ||
	    stat(path, &st) == -1)
		return true;
	return now - st.st_mtime >= life;
}

/* slog_text - the whole slog of f into b, for the reports ("" if none) */
static void
slog_text(const char *root, const struct qo_file *f, struct buf *b)
{
	char path[4096];

	buf_reset(b);
	if (queue_path(root, &f->ref, "slog", path, sizeof(path)) == -1 ||
	    fs_read_file(path, b) == -1)
		buf_reset(b);
}

/* deliver_reports - hand the spooled reports to delivery */
static void
deliver_reports(struct queue_ref *refs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		queue_local_deliver_one(&refs[i]);
	free(refs);
}

/* commit_fail - permanent failure: bounce, freeze or remove */
static void
commit_fail(struct config *cfg, struct qo_file *f, const char *diag,
    const struct buf *log)
{
	struct queue_failure why = { NULL };
	struct queue_ref *refs = NULL;
	char status[16];
	size_t n = 0;

	snprintf(status, sizeof(status), "%s", f->res.enh[0] != '\0' ?
	    f->res.enh : "5.0.0");
	status[0] = '5';
	why.status = status;
	why.diagnostic = diag;
	why.remote_mta = f->server[0] != '\0' ? f->server : NULL;
	why.log = log->len > 0 ? log->data : NULL;
	why.loglen = log->len;
	if (queue_fail(cfg, conf.split, &f->ref, f->dir, &f->qf, &why, &refs,
	    &n) == -1)
		log_warn("queue: %s stays in the spool to be retried",
		    f->ref.name);
	deliver_reports(refs, n);
}

/* notify_due - is `tries` listed in NotifyTryPattern ("1,4,9")? */
static bool
notify_due(const struct config *cfg, int tries)
{
	const char *p = config_var(cfg, "NotifyTryPattern");
	char *end;
	long v;

	while (p != NULL && *p != '\0') {
		v = strtol(p, &end, 10);
		if (end == p)
			return false;
		if (v == tries)
			return true;
		p = end + strspn(end, ", ");
	}
	return false;
}

/* delay_why - what a delay notice says about f's last try */
static void
delay_why(struct queue_failure *why, char *status, size_t size,
    const struct qo_file *f, const char *diag, const struct buf *log)
{
	snprintf(status, size, "%s", f->res.enh[0] == '4' ? f->res.enh :
	    "4.0.0");
	why->status = status;
	why->diagnostic = diag;
	why->remote_mta = f->server[0] != '\0' ? f->server : NULL;
	why->log = log->len > 0 ? log->data : NULL;
	why->loglen = log->len;
}

/* commit_notify - NotifyTryPattern: tell the sender mail is delayed */
static void
commit_notify(struct config *cfg, struct qo_file *f, const char *diag,
    const struct buf *log, time_t now)
{
	long life = config_var_long(cfg, "QueueLifetime", QO_LIFETIME);
	struct queue_failure why = { NULL };
	struct queue_ref *refs = NULL;
	char status[16], path[4096];
	struct stat st;
	time_t until = 0;
	size_t n = 0;

	if (!notify_due(cfg, f->new_tries))
		return;
	delay_why(&why, status, sizeof(status), f, diag, log);
	if (life > 0 && queue_path(config_mailroot(cfg), &f->ref, f->dir,
	    path, sizeof(path)) == 0 && stat(path, &st) == 0)
		until = st.st_mtime + life;
	if (queue_notify_delay(cfg, conf.split, &f->qf, &why, f->new_tries,
	    now + queue_out_delay(conf.retry, conf.ratio, f->new_tries), until,
	    &refs, &n) == -1)
		log_warn("queue: %s: no delay notice sent", f->ref.name);
	deliver_reports(refs, n);
}

/*
 * The backup-MX domains PostMaster was last told about, so that one
 * notice per domain goes out per MXBackupNotifyAfter period (in memory:
 * a restart may repeat one).
 */
static struct {
	char	 domain[DNS_NAME_MAX + 1];
	time_t	 when;
} held_told[QO_HELD_DOMAINS];
static pthread_mutex_t	held_mtx = PTHREAD_MUTEX_INITIALIZER;

/* held_due - true (and remembered) when `domain` is due a notice now */
static bool
held_due(const char *domain, time_t now, long period)
{
	size_t i, slot = 0;
	bool due = true;

	if (domain[0] == '\0')
		return false;
	pthread_mutex_lock(&held_mtx);
	for (i = 0; i < QO_HELD_DOMAINS; i++) {
		if (strcasecmp(held_told[i].domain, domain) == 0) {
			slot = i;
			due = now - held_told[i].when >= period;
			break;
		}
		if (held_told[i].when < held_told[slot].when)
			slot = i;		/* the oldest, to reuse */
	}
	if (due && str_copy(held_told[slot].domain, domain,
	    sizeof(held_told[slot].domain)))
		held_told[slot].when = now;
	pthread_mutex_unlock(&held_mtx);
	return due;
}

/*
 * commit_held - backup-MX mail older than MXBackupNotifyAfter (0: never):
 * tell PostMaster, once per domain and period
 */
static void
commit_held(struct config *cfg, struct qo_file *f, const char *diag,
    const struct buf *log, time_t now)
{
	long after = config_var_long(cfg, "MXBackupNotifyAfter",
	    QO_MXBACKUP_NOTIFY);
	long life = config_var_long(cfg, "MXBackupLifetime",
	    QO_MXBACKUP_LIFETIME);
	struct queue_failure why = { NULL };
	struct queue_ref *refs = NULL;
	char status[16], path[4096];
	struct stat st;
	size_t n = 0;

	if (after <= 0 || queue_path(config_mailroot(cfg), &f->ref, f->dir,
	    path, sizeof(path)) == -1 || stat(path, &st) == -1 ||
	    now - st.st_mtime < after ||
	    !held_due(recipient_domain(f), now, after))
		return;
	delay_why(&why, status, sizeof(status), f, diag, log);
	log_info("queue: backup MX: mail for %s held %lld s (id=%s);"
	    " telling PostMaster", recipient_domain(f),
	    (long long)(now - st.st_mtime), f->qf.msgid);
	if (queue_notify_held(cfg, conf.split, &f->qf, &why, f->new_tries,
	    now + queue_out_delay(conf.retry, conf.ratio, f->new_tries),
	    life > 0 ? st.st_mtime + life : 0, now - st.st_mtime, &refs,
	    &n) == -1)
		log_warn("queue: %s: no backup-MX notice sent", f->ref.name);
	deliver_reports(refs, n);
}

/* commit_one - decide and do what the result of one file means */
static void
commit_one(struct config *cfg, struct qo_batch *bt, struct qo_file *f,
    struct buf *tmp, time_t now)
{
	const char *root = config_mailroot(cfg);
	char diag[700];

	f->forget = true;
	if (f->handed)
		return;			/* local delivery has it */
	if (f->res.code >= 200 && f->res.code < 300) {
		if (queue_remove(root, &f->ref, f->dir) == -1 &&
		    errno != ENOENT)
			log_error("queue: %s sent but not removed: %s",
			    f->ref.name, strerror(errno));
		if (f->tries > 0)
			(void)queue_slog_remove(root, &f->ref);
		log_info("queue: sent id=%s to=<%s> via %s%s: %d %s",
		    f->loaded ? f->qf.msgid : "?", f->loaded ? f->qf.to : "?",
		    f->server, store_mxbackup(cfg, recipient_domain(f)) ?
		    " (backup MX: to the primary)" : "", f->res.code,
		    f->res.text);
		smail_log(bt, f, "SENT");
		return;
	}
	if (!file_load(root, f))
		return;				/* deleted meanwhile */
	buf_reset(tmp);
	if (slog_block(tmp, bt, f, now) == -1 ||
	    queue_slog_append(root, &f->ref, tmp->data, tmp->len) == -1)
		log_warn("queue: %s: cannot write its slog: %s", f->ref.name,
		    strerror(errno));
	f->new_tries = f->tries + 1;
	f->new_last = now;
	snprintf(diag, sizeof(diag), "%d %s%s%s", f->res.code, f->res.enh,
	    f->res.enh[0] != '\0' ? " " : "", f->res.text);
	if (!f->res.temporary) {
		log_info("queue: failed id=%s to=<%s> via %s: %s",
		    f->qf.msgid, f->qf.to, f->server[0] ? f->server : "-",
		    diag);
		smail_log(bt, f, "FAIL");
		slog_text(root, f, tmp);
		commit_fail(cfg, f, diag, tmp);
		return;
	}
	if (expired(root, cfg, f, now)) {
		char why[800];

		log_info("queue: expired id=%s to=<%s> after %d tries: %s",
		    f->qf.msgid, f->qf.to, f->new_tries, diag);
		smail_log(bt, f, "EXPIRED");
		snprintf(why, sizeof(why), "The maximum number of delivery"
		    " attempts has been reached; last error: %s", diag);
		snprintf(f->res.enh, sizeof(f->res.enh), "4.4.7");
		slog_text(root, f, tmp);
		commit_fail(cfg, f, why, tmp);
		return;
	}
	if (strcmp(f->dir, "mess") == 0) {
		if (queue_move(root, &f->ref, "mess", "rsnd") == -1) {
			if (errno != ENOENT)
				log_error("queue: %s cannot be deferred: %s",
				    f->ref.name, strerror(errno));
			return;
		}
		memcpy(f->dir, "rsnd", 5);
	}
	log_info("queue: deferred id=%s to=<%s> try %d via %s: %s",
	    f->qf.msgid, f->qf.to, f->new_tries, f->server[0] ? f->server :
	    "-", diag);
	smail_log(bt, f, "DEFER");
	f->forget = false;
	if (config_var(cfg, "NotifyTryPattern") != NULL) {
		slog_text(root, f, tmp);
		commit_notify(cfg, f, diag, tmp, now);
	}
	if (store_mxbackup(cfg, recipient_domain(f))) {
		slog_text(root, f, tmp);
		commit_held(cfg, f, diag, tmp, now);
	}
}

/* batch_free - release a batch */
static void
batch_free(struct qo_batch *bt)
{
	size_t i;

	if (bt == NULL)
		return;
	for (i = 0; i < bt->n; i++)
		if (bt->f[i].loaded)
			queue_file_free(&bt->f[i].qf);
	free(bt->f);
	free(bt->txns);
	free(bt->rcpts);
	free(bt->rmap);
	buf_clear(&bt->log);
	explicit_bzero(bt->auth, sizeof(bt->auth));	/* passwords */
	free(bt);
}

/* commit_work - worker: apply the results of a batch to the spool */
static void
commit_work(void *arg)
{
	struct qo_batch *bt = arg;
	struct config *cfg = config_acquire();
	struct buf tmp;
	time_t now = time(NULL);
	size_t i;

	if (cfg == NULL)
		return;
	buf_init(&tmp, (size_t)16 << 20);
	for (i = 0; i < bt->n; i++)
		commit_one(cfg, bt, &bt->f[i], &tmp, now);
	buf_clear(&tmp);
	config_release(cfg);
}

/* commit_done - loop 0: update the entries */
static void
commit_done(void *arg)
{
	struct qo_batch *bt = arg;
	struct qo_entry *e;
	size_t i;

	for (i = 0; !stopping && i < bt->n; i++) {
		struct qo_file *f = &bt->f[i];

		e = ht_get(&entries, f->ref.name);
		if (e == NULL)
			continue;
		if (f->forget) {
			entry_free(e);
			continue;
		}
		e->tries = f->new_tries;
		memcpy(e->dir, f->dir, sizeof(e->dir));
		e->next = f->new_last + queue_out_delay(conf.retry, conf.ratio,
		    e->tries);
		if (heap_push(e) == -1)
			entry_free(e);
	}
	batch_free(bt);
	if (!stopping)
		dispatch();
}

/* commit - hand a finished batch to a worker */
static void
commit(struct qo_batch *bt)
{
	if (work_submit(ev_loop_at(0), commit_work, commit_done, bt) == -1) {
		/* The files stay where they are; the next start retries. */
		if (!stopping) {
			size_t i;

			log_error("queue: cannot record results of %zu"
			    " file(s)", bt->n);
			for (i = 0; i < bt->n; i++) {
				struct qo_entry *e = ht_get(&entries,
				    bt->f[i].ref.name);

				if (e != NULL)
					entry_free(e);
			}
		}
		batch_free(bt);
	}
}

/* --- batches --- */

/* batch_new - an empty batch for n files */
static struct qo_batch *
batch_new(size_t n, const char *domain)
{
	struct qo_batch *bt = calloc(1, sizeof(*bt));

	if (bt == NULL)
		return NULL;
	bt->f = calloc(n, sizeof(*bt->f));
	if (bt->f == NULL) {
		free(bt);
		return NULL;
	}
	buf_init(&bt->log, (size_t)4 << 20);
	qo_copy(bt->domain, domain, sizeof(bt->domain));
	return bt;
}

/* batch_add - one entry becomes a batch file (it is busy from now on) */
static void
batch_add(struct qo_batch *bt, struct qo_entry *e)
{
	struct qo_file *f = &bt->f[bt->n++];

	f->ref = e->ref;
	memcpy(f->dir, e->dir, sizeof(f->dir));
	f->tries = e->tries;
	f->log = SIZE_MAX;
	e->group = NULL;
}

/* batch_of_group - take group g into a new batch */
static struct qo_batch *
batch_of_group(struct qo_group *g)
{
	struct qo_batch *bt = batch_new(g->n, g->dest->domain);
	struct qo_entry *e;

	if (bt == NULL)
		return NULL;
	group_take(g);
	while ((e = TAILQ_FIRST(&g->entries)) != NULL) {
		TAILQ_REMOVE(&g->entries, e, glink);
		batch_add(bt, e);
	}
	free(g);
	return bt;
}

/* batch_result - every file of bt gets result r */
static void
batch_result(struct qo_batch *bt, const struct smtpc_result *r,
    const char *server)
{
	size_t i;

	for (i = 0; i < bt->n; i++) {
		bt->f[i].res = *r;
		qo_copy(bt->f[i].server, server,
		    sizeof(bt->f[i].server));
	}
}

/*
 * dest_fail_ready - the destination cannot be reached now: every ready
 * group of it gets the same result (no point trying each message).
 */
static void
dest_fail_ready(struct qo_dest *d, const struct smtpc_result *r,
    const char *server)
{
	struct qo_group *g;
	struct qo_batch *bt;

	while ((g = TAILQ_FIRST(&d->ready)) != NULL) {
		bt = batch_of_group(g);
		if (bt == NULL)
			break;
		batch_result(bt, r, server);
		commit(bt);
	}
}

/* param - value of an ESMTP parameter on a spool MAIL/RCPT line */
static bool
param(const char *line, const char *name, char *out, size_t size)
{
	const char *p = strchr(line, '>');
	size_t nl = strlen(name), n;

	if (p == NULL)
		return false;
	for (p++; *p != '\0';) {
		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n > nl && p[nl] == '=' && strncasecmp(p, name, nl) == 0) {
			n -= nl + 1;
			if (n >= size)
				return false;
			memcpy(out, p + nl + 1, n);
			out[n] = '\0';
			return true;
		}
		if (n == nl && strncasecmp(p, name, nl) == 0 && size > 0) {
			out[0] = '\0';
			return true;
		}
		p += n;
	}
	return false;
}

/* nonascii - any octet above 127 */
static bool
nonascii(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] > 127)
			return true;
	return false;
}

/*
 * batch_build - transactions from the loaded files: files with the same
 * sender and the same data share one (the recipients of one message),
 * with their recipients contiguous in bt->rcpts.
 */
static int
batch_build(struct qo_batch *bt, const char *srcroute)
{
	size_t *txn_of, *first, *fill, i, j, nr = 0;
	int rc = -1;

	bt->txns = calloc(bt->n, sizeof(*bt->txns));
	bt->rcpts = calloc(bt->n, sizeof(*bt->rcpts));
	bt->rmap = calloc(bt->n, sizeof(*bt->rmap));
	txn_of = calloc(bt->n, sizeof(*txn_of));
	first = calloc(bt->n, sizeof(*first));
	fill = calloc(bt->n, sizeof(*fill));
	if (bt->txns == NULL || bt->rcpts == NULL || bt->rmap == NULL ||
	    txn_of == NULL || first == NULL || fill == NULL)
		goto out;
	/* Pass 1: which transaction each loaded file joins. */
	for (i = 0; i < bt->n; i++) {
		const struct qo_file *fi = &bt->f[i];

		if (!fi->loaded)
			continue;
		for (j = 0; j < bt->ntxns; j++) {
			const struct qo_file *f0 = &bt->f[first[j]];

			if (strcmp(f0->qf.from, fi->qf.from) == 0 &&
			    f0->qf.datalen == fi->qf.datalen &&
			    memcmp(f0->qf.data, fi->qf.data,
			    fi->qf.datalen) == 0)
				break;
		}
		if (j == bt->ntxns)
			first[bt->ntxns++] = i;
		txn_of[i] = j;
		bt->txns[j].nrcpts++;
		nr++;
	}
	/* Pass 2: envelopes and recipient slots. */
	for (j = 0, i = 0; j < bt->ntxns; j++) {
		struct smtpc_txn *t = &bt->txns[j];
		struct qo_file *f0 = &bt->f[first[j]];

		t->rcpts = &bt->rcpts[i];
		fill[j] = i;
		i += t->nrcpts;
		t->data = f0->qf.data;
		t->len = f0->qf.datalen;
		t->env.from = f0->qf.from;
		t->env.size = f0->qf.datalen;
		t->env.eightbit = nonascii(f0->qf.data, f0->qf.datalen);
		t->env.smtputf8 = nonascii(f0->qf.from, strlen(f0->qf.from));
		if (param(f0->qf.mail_from, "RET", f0->ret, sizeof(f0->ret)))
			t->env.ret = f0->ret;
		if (param(f0->qf.mail_from, "ENVID", f0->envid,
		    sizeof(f0->envid)))
			t->env.envid = f0->envid;
	}
	for (i = 0; i < bt->n; i++) {
		struct qo_file *fi = &bt->f[i];
		struct smtpc_txn_rcpt *r;

		if (!fi->loaded)
			continue;
		j = txn_of[i];
		bt->rmap[fill[j]] = i;
		r = &bt->rcpts[fill[j]++];
		if (srcroute[0] != '\0' && (size_t)snprintf(fi->addr,
		    sizeof(fi->addr), "%s:%s", srcroute, fi->qf.to) <
		    sizeof(fi->addr))
			r->r.addr = fi->addr;
		else
			r->r.addr = fi->qf.to;
		if (nonascii(fi->qf.to, strlen(fi->qf.to)))
			bt->txns[j].env.smtputf8 = true;
		if (param(fi->qf.rcpt, "NOTIFY", fi->notify,
		    sizeof(fi->notify)))
			r->r.notify = fi->notify;
		if (param(fi->qf.rcpt, "ORCPT", fi->orcpt, sizeof(fi->orcpt)))
			r->r.orcpt = fi->orcpt;
	}
	rc = 0;
out:
	free(txn_of);
	free(first);
	free(fill);
	return rc;
}

/* --- agents: one delivery session to a destination --- */

/* result_set - fill a made-up result */
static void
result_set(struct smtpc_result *r, int code, const char *enh,
    enum smtpc_stage st, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
result_set(struct smtpc_result *r, int code, const char *enh,
    enum smtpc_stage st, const char *fmt, ...)
{
	va_list ap;

	memset(r, 0, sizeof(*r));
	r->code = code;
	qo_copy(r->enh, enh, sizeof(r->enh));
	r->stage = st;
	r->temporary = code < 500;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

/* qo_own_name - is this host name one of ours (RFC 5321 5.1 MX check)? */
bool
qo_own_name(const struct config *cfg, const char *host)
{
	const char *names[3];
	char me[256];
	size_t i;

	names[0] = config_var(cfg, "HeloDomain");
	names[1] = config_var(cfg, "SmtpServerDomain");
	names[2] = gethostname(me, sizeof(me)) == 0 ? me : NULL;
	me[sizeof(me) - 1] = '\0';
	for (i = 0; i < nitems(names); i++)
		if (names[i] != NULL && *names[i] != '\0' &&
		    strcasecmp(names[i], host) == 0)
			return true;
	return false;
}

/* qo_helo - HeloDomain, else the host name (in buf), for EHLO */
const char *
qo_helo(const struct config *cfg, char *buf, size_t size)
{
	const char *helo = config_var(cfg, "HeloDomain");

	if (helo != NULL && *helo != '\0')
		return helo;
	if (gethostname(buf, size) == -1)
		qo_copy(buf, "localhost", size);
	buf[size - 1] = '\0';
	return buf;
}

/* qo_family - the address families of lookups (-M4/-M6/-M5/-M7) */
enum dns_family
qo_family(void)
{
	return conf.family;
}

/* qo_default_port - SmtpMXPort (25) or 24 for LMTP */
int
qo_default_port(const struct config *cfg, bool lmtp)
{
	long p = config_var_long(cfg, "SmtpMXPort", 25);

	if (lmtp && config_var(cfg, "SmtpMXPort") == NULL)
		return 24;
	return p > 0 && p < 65536 ? (int)p : 25;
}

/* qo_resolver - the resolver for the current SmartDNSHost */
struct dns_resolver *
qo_resolver(const struct config *cfg)
{
	const char *sdh = config_var(cfg, "SmartDNSHost");
	struct dns_conf dc;

	if (sdh != NULL && *sdh == '\0')
		sdh = NULL;
	if (resolver != NULL && strcmp(resolver_hosts, sdh != NULL ? sdh :
	    "") == 0)
		return resolver;
	if (resolver != NULL) {
		struct dns_resolver *old = resolver;

		resolver = NULL;
		dns_resolver_free(old);
	}
	memset(&dc, 0, sizeof(dc));
	dc.smart_dns_host = sdh;
	resolver = dns_resolver_new(ev_loop_base(ev_loop_at(0)), &dc);
	if (!str_copy(resolver_hosts, sdh != NULL ? sdh : "",
	    sizeof(resolver_hosts)))
		resolver_hosts[0] = '\0';
	return resolver;
}

/* agent_fail - the destination failed as a whole: r for what is queued */
static void
agent_fail(struct qo_agent *a, const struct smtpc_result *r,
    const char *server)
{
	if (a->b != NULL) {
		batch_result(a->b, r, server);
		commit(a->b);
		a->b = NULL;
	}
	dest_fail_ready(a->dest, r, server);
	agent_end(a);
}

/* agent_free - release an agent that is out of the lists */
static void
agent_free(struct qo_agent *a)
{
	if (a->s != NULL)
		smtpc_quit(a->s);
	batch_free(a->b);
	free(a);
}

/* agent_end - the agent is done: close its session, update counts */
static void
agent_end(struct qo_agent *a)
{
	struct qo_dest *d = a->dest;

	TAILQ_REMOVE(&agents, a, link);
	nagents--;
	d->active--;
	if (a->b != NULL) {
		/* Not sent: back to the schedule after the retry delay. */
		struct smtpc_result r;

		result_set(&r, 421, "4.4.2", SMTPC_ST_CONNECT,
		    "delivery interrupted");
		batch_result(a->b, &r, "");
		commit(a->b);
		a->b = NULL;
	}
	agent_free(a);
	dest_want(d);
	dest_maybe_free(d);
	dispatch();
}

/* mx_cb - the MX records of the destination */
static void
mx_cb(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n)
{
	struct qo_agent *a = arg;
	struct smtpc_result r;
	struct config *cfg;
	size_t i;
	int cut = -1, port;

	a->pending = false;
	if (stopping) {
		agent_free(a);
		return;
	}
	cfg = config_acquire();
	port = qo_default_port(cfg, a->rt.mx_opts.lmtp);
	switch (st) {
	case DNS_OK:
		if (n == 1 && strcmp(mx[0].host, ".") == 0) {
			result_set(&r, 556, "5.1.10", SMTPC_ST_CONNECT,
			    "Recipient domain %s accepts no mail (null MX)",
			    a->dest->domain);
			goto fail;
		}
		/* RFC 5321 5.1: drop ourselves and every worse MX. */
		for (i = 0; i < n; i++)
			if (qo_own_name(cfg, mx[i].host) && (cut == -1 ||
			    mx[i].pref < cut))
				cut = mx[i].pref;
		for (i = 0; i < n && a->nhosts < QO_HOSTS_MAX; i++) {
			struct qo_host *h = &a->hosts[a->nhosts];

			if ((cut != -1 && mx[i].pref >= cut) ||
			    strcmp(mx[i].host, ".") == 0)
				continue;
			qo_copy(h->name, mx[i].host, sizeof(h->name));
			h->pref = mx[i].pref;
			h->port = port;
			h->opts = a->rt.mx_opts;
			a->nhosts++;
		}
		if (a->nhosts == 0) {
			log_error("queue: this host is the best MX of %s;"
			    " mail for it is kept (check its MX records)",
			    a->dest->domain);
			result_set(&r, 451, "4.4.6", SMTPC_ST_CONNECT,
			    "mail for %s loops back to me (I am its best MX)",
			    a->dest->domain);
			goto fail;
		}
		break;
	case DNS_NODATA:
		/* Implicit MX: the domain's own address (RFC 5321 5.1). */
		qo_copy(a->hosts[0].name, a->dest->domain,
		    sizeof(a->hosts[0].name));
		a->hosts[0].port = port;
		a->hosts[0].opts = a->rt.mx_opts;
		a->nhosts = 1;
		break;
	case DNS_NXDOMAIN:
	case DNS_BADNAME:
		result_set(&r, 550, "5.1.2", SMTPC_ST_CONNECT,
		    "Recipient domain %s does not exist", a->dest->domain);
		goto fail;
	case DNS_TEMPFAIL:
	default:
		result_set(&r, 451, "4.4.3", SMTPC_ST_CONNECT,
		    "DNS lookup of the MX of %s failed temporarily",
		    a->dest->domain);
		goto fail;
	}
	config_release(cfg);
	agent_take(a);
	return;
fail:
	config_release(cfg);
	log_info("queue: %s: %s", a->dest->domain, r.text);
	agent_fail(a, &r, "");
}

/* agent_start - a new session for destination d */
static void
agent_start(struct qo_dest *d)
{
	struct qo_agent *a = calloc(1, sizeof(*a));
	struct smtpc_result r;
	struct config *cfg;
	char err[256];
	size_t i;

	if (a == NULL)
		return;
	a->dest = d;
	d->active++;
	nagents++;
	TAILQ_INSERT_TAIL(&agents, a, link);
	cfg = config_acquire();
	if (route_for(cfg, d->domain, &a->rt, err, sizeof(err)) == -1) {
		config_release(cfg);
		log_error("queue: no route for %s: %s", d->domain, err);
		result_set(&r, 451, "4.3.5", SMTPC_ST_CONNECT,
		    "routing configuration error: %s", err);
		agent_fail(a, &r, "");
		return;
	}
	if (a->rt.kind == SMTPC_ROUTE_HOSTS) {
		for (i = 0; i < a->rt.nhops && i < QO_HOSTS_MAX; i++) {
			struct qo_host *h = &a->hosts[i];

			qo_copy(h->name, a->rt.hops[i].host,
			    sizeof(h->name));
			h->opts = a->rt.hops[i].opts;
			h->port = a->rt.hops[i].port != 0 ?
			    a->rt.hops[i].port : qo_default_port(cfg,
			    h->opts.lmtp);
		}
		a->nhosts = i;
		config_release(cfg);
		agent_take(a);
		return;
	}
	a->pending = true;
	if (qo_resolver(cfg) == NULL || dns_query_mx(resolver, d->domain,
	    mx_cb, a) == -1) {
		a->pending = false;
		config_release(cfg);
		result_set(&r, 451, "4.4.3", SMTPC_ST_CONNECT,
		    "DNS lookup of %s cannot start", d->domain);
		agent_fail(a, &r, "");
		return;
	}
	config_release(cfg);
}

/* load_work - worker: read the batch's files and the credentials */
static void
load_work(void *arg)
{
	struct qo_batch *bt = arg;
	struct qo_agent *a = bt->agent;
	struct config *cfg = config_acquire();
	const char *root;
	size_t i;

	if (cfg == NULL)
		return;
	root = config_mailroot(cfg);
	for (i = 0; i < bt->n; i++) {
		struct qo_file *f = &bt->f[i];
		const char *at;

		if (!file_load(root, f) ||
		    (at = strrchr(f->qf.to, '@')) == NULL ||
		    store_domain_resolve(cfg, at + 1) == NULL)
			continue;
		/* The domain became local: hand the file over. */
		queue_file_free(&f->qf);
		f->loaded = false;
		f->handed = true;
		if (strcmp(f->dir, "rsnd") == 0 &&
		    queue_move(root, &f->ref, "rsnd", "mess") == -1)
			continue;
		queue_local_deliver_one(&f->ref);
	}
	if (batch_build(bt, a->rt.srcroute) == -1)
		bt->ntxns = 0;
	/* Also when a session is open: it may break and need a new one. */
	for (i = 0; i < a->nhosts && i < QO_AUTH_HOSTS; i++)
		bt->auth_rc[i] = smtpc_auth_find(root, a->hosts[i].name,
		    &bt->auth[i]);
	config_release(cfg);
}

/* agent_send - the next transaction of the batch, or the next batch */
static void agent_send(struct qo_agent *a);

/* load_done - loop 0: the batch is loaded */
static void
load_done(void *arg)
{
	struct qo_batch *bt = arg;
	struct qo_agent *a = bt->agent;
	struct smtpc_result r;
	size_t i;

	a->pending = false;
	bt->agent = NULL;
	if (stopping) {
		batch_free(bt);
		agent_free(a);
		return;
	}
	result_set(&r, 451, "4.3.0", SMTPC_ST_CONNECT,
	    "the spool file cannot be read");
	for (i = 0; i < bt->n; i++)
		if (!bt->f[i].loaded && !bt->f[i].handed)
			bt->f[i].res = r;
	a->b = bt;
	a->ti = 0;
	if (bt->ntxns == 0) {
		/* Nothing to send (files gone or unreadable). */
		commit(bt);
		a->b = NULL;
		agent_take(a);
		return;
	}
	if (a->s != NULL && smtpc_usable(a->s)) {
		agent_send(a);
		return;
	}
	if (a->s != NULL) {
		smtpc_quit(a->s);
		a->s = NULL;
	}
	a->hi = 0;
	a->naddrs = a->ai = 0;
	result_set(&a->err, 451, "4.4.1", SMTPC_ST_CONNECT,
	    "no mail exchanger of %s could be reached", a->dest->domain);
	agent_next_host(a);
}

/* agent_take - start on the destination's next ready group, or end */
static void
agent_take(struct qo_agent *a)
{
	struct qo_group *g = TAILQ_FIRST(&a->dest->ready);
	struct qo_batch *bt;

	if (stopping || draining || g == NULL) {
		agent_end(a);
		return;
	}
	bt = batch_of_group(g);
	if (bt == NULL) {
		agent_end(a);
		return;
	}
	bt->agent = a;
	a->pending = true;
	if (work_submit(ev_loop_at(0), load_work, load_done, bt) == -1) {
		a->pending = false;
		a->b = bt;		/* agent_end defers it */
		agent_end(a);
	}
}

/* ready_cb - a session is up, or failed to come up */
static void
ready_cb(struct smtpc *s, void *arg, const struct smtpc_result *err)
{
	struct qo_agent *a = arg;

	if (err == NULL) {
		agent_send(a);
		return;
	}
	/* The session is freed after this returns. */
	(void)s;
	a->s = NULL;
	a->err = *err;		/* smtpc logged it */
	a->ai++;
	agent_connect(a);
}

/* agent_connect - try the current address of the current host */
static void
agent_connect(struct qo_agent *a)
{
	struct qo_host *h;
	struct smtpc_conf sc;
	struct config *cfg;
	char ip[INET6_ADDRSTRLEN], me[256];
	size_t hi;
	socklen_t len;

	for (;;) {
		if (a->ai >= a->naddrs) {
			a->hi++;
			agent_next_host(a);
			return;
		}
		h = &a->hosts[a->hi];
		hi = a->hi;
		memset(&sc, 0, sizeof(sc));
		if (hi < QO_AUTH_HOSTS && a->b != NULL) {
			if (a->b->auth_rc[hi] == -1) {
				result_set(&a->err, 451, "4.7.0",
				    SMTPC_ST_AUTH, "unreadable client"
				    " credentials for %s (userauth/smtp)",
				    h->name);
				a->ai = a->naddrs;
				continue;
			}
			if (a->b->auth_rc[hi] == 1)
				sc.auth = &a->b->auth[hi];
		}
		cfg = config_acquire();
		sc.helo = qo_helo(cfg, me, sizeof(me));
		sc.need_tls = h->opts.need_tls;
		sc.lmtp = h->opts.lmtp;
		sc.servername = h->name;
		if (h->opts.has_bind) {
			sc.bind = (const struct sockaddr *)&h->opts.bind;
			sc.bindlen = h->opts.bindlen;
		}
		sc.to.connect = (int)config_var_long(cfg,
		    "SMTP-ConnectTimeout", 0);
		sc.to.greeting = (int)config_var_long(cfg,
		    "SMTP-GreetTimeout", 0);
		sc.to.command = (int)config_var_long(cfg,
		    "SMTP-CmdTimeout", 0);
		sc.to.data_init = (int)config_var_long(cfg,
		    "SMTP-DataInitTimeout", 0);
		sc.to.data_block = (int)config_var_long(cfg,
		    "SMTP-DataBlockTimeout", 0);
		sc.to.data_done = (int)config_var_long(cfg,
		    "SMTP-DataDoneTimeout", 0);
		sc.log_id = a->dest->domain;
		if (a->addrs[a->ai].ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 =
			    (struct sockaddr_in6 *)&a->addrs[a->ai];

			s6->sin6_port = htons((uint16_t)h->port);
			inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
			len = sizeof(*s6);
		} else {
			struct sockaddr_in *s4 =
			    (struct sockaddr_in *)&a->addrs[a->ai];

			s4->sin_port = htons((uint16_t)h->port);
			inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
			len = sizeof(*s4);
		}
		snprintf(a->peer, sizeof(a->peer), "%s [%s]:%d", h->name, ip,
		    h->port);
		a->s = smtpc_open(ev_loop_at(0),
		    (struct sockaddr *)&a->addrs[a->ai], len, &sc, ready_cb,
		    a);
		config_release(cfg);
		if (a->s != NULL)
			return;
		result_set(&a->err, 451, "4.4.1", SMTPC_ST_CONNECT,
		    "cannot connect to %s: %s", a->peer, strerror(errno));
		a->ai++;
	}
}

/* addr_cb - the addresses of the current host */
static void
addr_cb(void *arg, enum dns_status st, const struct sockaddr_storage *addrs,
    size_t n)
{
	struct qo_agent *a = arg;
	const char *name;
	size_t i;

	a->pending = false;
	if (stopping) {
		agent_free(a);
		return;
	}
	name = a->hosts[a->hi].name;
	if (st != DNS_OK || n == 0) {
		result_set(&a->err, 451, st == DNS_TEMPFAIL ? "4.4.3" :
		    "4.4.4", SMTPC_ST_CONNECT, "host %s: %s", name,
		    st == DNS_TEMPFAIL ? "DNS lookup failed temporarily" :
		    "no address");
		a->hi++;
		agent_next_host(a);
		return;
	}
	if (n > DNS_ADDR_MAX)
		n = DNS_ADDR_MAX;
	for (i = 0; a->rt.kind == SMTPC_ROUTE_MX && i < n; i++) {
		if (!qo_is_self(&addrs[i], a->hosts[a->hi].port))
			continue;
		/*
		 * RFC 5321 5.1: this MX is us; it and every MX of equal or
		 * worse preference (the rest of the sorted list) go.
		 */
		log_warn("queue: %s: MX %s (preference %u) is this server;"
		    " it and the MX after it are skipped", a->dest->domain,
		    name, a->hosts[a->hi].pref);
		a->nhosts = a->hi;
		if (a->hi == 0) {
			log_error("queue: this host is the best MX of %s;"
			    " mail for it is kept (check its MX records)",
			    a->dest->domain);
			result_set(&a->err, 451, "4.4.6", SMTPC_ST_CONNECT,
			    "mail for %s loops back to me (I am its best"
			    " MX)", a->dest->domain);
		}
		agent_next_host(a);
		return;
	}
	memcpy(a->addrs, addrs, n * sizeof(*addrs));
	a->naddrs = n;
	a->ai = 0;
	agent_connect(a);
}

/* agent_next_host - resolve the current host, or give up */
static void
agent_next_host(struct qo_agent *a)
{
	struct config *cfg;
	enum dns_family fam = conf.family;

	if (a->hi >= a->nhosts) {
		log_info("queue: %s: every host failed; last: %d %s",
		    a->dest->domain, a->err.code, a->err.text);
		a->err.temporary = true;	/* never bounce for this */
		if (a->err.code >= 500)
			a->err.code = 451;
		if (a->err.enh[0] == '5')
			a->err.enh[0] = '4';
		agent_fail(a, &a->err, a->peer);
		return;
	}
	cfg = config_acquire();
	a->pending = true;
	if (qo_resolver(cfg) == NULL ||
	    dns_query_addr(resolver, a->hosts[a->hi].name, fam, addr_cb,
	    a) == -1) {
		a->pending = false;
		config_release(cfg);
		result_set(&a->err, 451, "4.4.3", SMTPC_ST_CONNECT,
		    "DNS lookup of %s cannot start", a->hosts[a->hi].name);
		a->hi++;
		agent_next_host(a);
		return;
	}
	config_release(cfg);
}

/* done_cb - a transaction finished */
static void
done_cb(struct smtpc *s, void *arg, struct smtpc_txn *txn)
{
	struct qo_agent *a = arg;
	struct qo_batch *bt = a->b;
	const struct buf *tr = smtpc_transcript(s);
	size_t k, base = (size_t)(txn->rcpts - bt->rcpts), off = SIZE_MAX;

	if (tr->len > 0) {
		off = bt->log.len;
		if (buf_append(&bt->log, tr->data, tr->len) == -1 ||
		    buf_append(&bt->log, "", 1) == -1)
			off = SIZE_MAX;
	}
	smtpc_transcript_reset(s);
	for (k = 0; k < txn->nrcpts; k++) {
		struct qo_file *f = &bt->f[bt->rmap[base + k]];

		f->res = txn->rcpts[k].res;
		f->log = off;
		qo_copy(f->server, a->peer, sizeof(f->server));
	}
	a->ti++;
	agent_send(a);
}

/* agent_send - the next transaction of the batch, or the next batch */
static void
agent_send(struct qo_agent *a)
{
	struct qo_batch *bt = a->b;
	struct smtpc_result r;
	size_t k;

	if (bt != NULL && a->ti < bt->ntxns && a->s != NULL &&
	    smtpc_usable(a->s)) {
		if (smtpc_send(a->s, &bt->txns[a->ti], done_cb, a) == 0)
			return;
	}
	if (bt != NULL && a->ti < bt->ntxns) {
		/* The connection broke: the rest waits for a retry. */
		result_set(&r, 421, "4.4.2", SMTPC_ST_MAIL,
		    "connection to %s lost", a->peer);
		for (; a->ti < bt->ntxns; a->ti++)
			for (k = 0; k < bt->txns[a->ti].nrcpts; k++) {
				struct qo_file *f = &bt->f[bt->rmap[
				    (size_t)(bt->txns[a->ti].rcpts -
				    bt->rcpts) + k]];

				f->res = r;
				qo_copy(f->server, a->peer,
				    sizeof(f->server));
			}
	}
	if (bt != NULL) {
		a->b = NULL;
		commit(bt);
	}
	if (a->s != NULL && !smtpc_usable(a->s)) {
		smtpc_quit(a->s);
		a->s = NULL;
		agent_end(a);
		return;
	}
	agent_take(a);
}

/* --- dispatch, timers, start and stop --- */

static int	dest_limit = QO_DEST_SESSIONS;

/* dest_ngroups - ready groups of d beyond what its idle agents take */
static size_t
dest_ngroups(const struct qo_dest *d)
{
	const struct qo_group *g;
	size_t n = 0;

	TAILQ_FOREACH(g, &d->ready, dlink)
		if (++n > (size_t)d->active)
			break;
	return n;
}

/* dispatch - start sessions for destinations with work */
static void
dispatch(void)
{
	static bool running, again;
	struct qo_dest *d;

	if (running) {
		again = true;
		return;
	}
	running = true;
	do {
		again = false;
		while (!stopping && !draining &&
		    nagents < conf.max_sessions &&
		    (d = TAILQ_FIRST(&want)) != NULL) {
			TAILQ_REMOVE(&want, d, wlink);
			d->wanting = false;
			if (TAILQ_EMPTY(&d->ready)) {
				dest_maybe_free(d);
				continue;
			}
			/* One more session when groups wait for one. */
			if (d->active >= dest_limit ||
			    dest_ngroups(d) <= (size_t)d->active)
				continue;
			agent_start(d);
			if (ht_get(&dests, d->key) == d &&
			    d->active < dest_limit &&
			    dest_ngroups(d) > (size_t)d->active)
				dest_want(d);
		}
	} while (again);
	running = false;
}

/* tick_cb - every second: due retries */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct config *cfg = config_acquire();
	time_t now = time(NULL);

	(void)fd;
	(void)what;
	(void)arg;
	dest_limit = (int)config_var_long(cfg, "SmtpMaxDestSessions",
	    QO_DEST_SESSIONS);
	if (dest_limit < 1)
		dest_limit = 1;
	config_release(cfg);
	while (nheap > 0 && heap[0]->next <= now)
		entry_ready(heap[0]);
	dispatch();
}

/* The rsnd/ scan at start-up. */
struct qo_scan {
	const char		*root;
	struct queue_out_item	*items;
	size_t			 n, cap;
};

/* scan_cb - one deferred file */
static int
scan_cb(const struct queue_ref *r, void *arg)
{
	struct qo_scan *sc = arg;
	struct queue_slog_info si;
	struct queue_file qf;
	struct queue_out_item *ni;
	char path[4096];

	if (sc->n == sc->cap) {
		ni = reallocarray(sc->items, sc->cap ? sc->cap * 2 : 256,
		    sizeof(*ni));
		if (ni == NULL)
			return -1;
		sc->items = ni;
		sc->cap = sc->cap ? sc->cap * 2 : 256;
	}
	memset(&qf, 0, sizeof(qf));
	if (queue_path(sc->root, r, "rsnd", path, sizeof(path)) == -1)
		return 0;
	if (queue_file_load(path, QO_FILE_MAX, &qf) == -1) {
		if (errno == EINVAL)
			(void)queue_quarantine(sc->root, r, "rsnd",
			    "unparsable spool file");
		return 0;
	}
	if (queue_out_item_set(&sc->items[sc->n], r, &qf) == 0) {
		if (queue_slog_read(sc->root, r, &si) == -1)
			memset(&si, 0, sizeof(si));
		sc->items[sc->n].deferred = true;
		sc->items[sc->n].tries = si.tries;
		sc->items[sc->n].last_try = si.last_try;
		sc->n++;
	}
	queue_file_free(&qf);
	return 0;
}

/* scan_work - worker: load rsnd/ */
static void
scan_work(void *arg)
{
	struct qo_scan *sc = arg;
	struct config *cfg = config_acquire();

	sc->root = config_mailroot(cfg);
	if (queue_scan(sc->root, conf.split, "rsnd", scan_cb, sc) > 0)
		log_info("queue: %zu deferred message file(s) loaded",
		    sc->n);
	config_release(cfg);
}

/* scan_done - loop 0: schedule them */
static void
scan_done(void *arg)
{
	struct qo_scan *sc = arg;

	queue_out_add(sc->items, sc->n);
	free(sc->items);
	free(sc);
}

/* start_cb - loop 0: timers, resolver, the rsnd/ scan */
static void
start_cb(void *arg)
{
	struct timeval tv = { QO_TICK_MS / 1000, (QO_TICK_MS % 1000) * 1000 };
	struct qo_scan *sc;

	(void)arg;
	tick = event_new(ev_loop_base(ev_loop_at(0)), -1, EV_PERSIST, tick_cb,
	    NULL);
	if (tick == NULL || event_add(tick, &tv) == -1)
		log_error("queue: no retry timer: deferred mail waits");
	sc = calloc(1, sizeof(*sc));
	if (sc != NULL &&
	    work_submit(ev_loop_at(0), scan_work, scan_done, sc) == -1)
		free(sc);
	drain(NULL);
}

/* queue_out_start - begin (main thread, after ev_start) */
int
queue_out_start(void)
{
	started = true;
	return ev_run_in_loop(ev_loop_at(0), start_cb, NULL);
}

/* free_cb - table cleanup */
static void
free_cb(void *p)
{
	free(p);
}

/* stop_cb - loop 0: drop everything */
static void
stop_cb(void *arg)
{
	struct qo_agent *a;

	(void)arg;
	while ((a = TAILQ_FIRST(&agents)) != NULL) {
		TAILQ_REMOVE(&agents, a, link);
		/* A pending DNS query or job frees it when it returns. */
		if (!a->pending)
			agent_free(a);
	}
	queue_verify_stop();
	if (resolver != NULL) {
		struct dns_resolver *r = resolver;

		resolver = NULL;
		dns_resolver_free(r);
	}
	if (tick != NULL) {
		event_free(tick);
		tick = NULL;
	}
	ht_free(&groups, free_cb);
	ht_free(&dests, free_cb);
	ht_free(&entries, free_cb);
	free(heap);
	heap = NULL;
	nheap = heap_cap = 0;
	pthread_mutex_lock(&pend_mtx);
	free(pend);
	pend = NULL;
	npend = pend_cap = 0;
	while (npend_flush > 0)
		free(pend_flush[--npend_flush]);
	free(pend_flush);
	pend_flush = NULL;
	pthread_mutex_unlock(&pend_mtx);
	pthread_mutex_lock(&stop_mtx);
	stop_done = true;
	pthread_cond_signal(&stop_cond);
	pthread_mutex_unlock(&stop_mtx);
}

/* queue_out_drain - no new attempts */
void
queue_out_drain(void)
{
	draining = true;
}

/* queue_out_stop - shutdown (main thread) */
void
queue_out_stop(void)
{
	if (!started)
		return;
	stopping = true;
	if (ev_run_in_loop(ev_loop_at(0), stop_cb, NULL) == -1)
		return;
	pthread_mutex_lock(&stop_mtx);
	while (!stop_done)
		pthread_cond_wait(&stop_cond, &stop_mtx);
	pthread_mutex_unlock(&stop_mtx);
}
