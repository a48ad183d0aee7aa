/*
 * queue_verify.c - the backup-MX recipient callout (queue_verify.h).
 *
 * A request lives on loop 0: MX lookup, the hosts better than this
 * server, their addresses, one probe transaction (smtpc_send without a
 * message) on the first host that answers, then the verdict goes back to
 * the caller's loop.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config/config.h"
#include "core/addr.h"
#include "core/compat.h"
#include "core/dns.h"
#include "core/ev.h"
#include "core/log.h"
#include "queue/queue_out_int.h"
#include "queue/queue_verify.h"
#include "smtpc/smtpc.h"

#define QV_CACHE_SLOTS	4096	/* remembered addresses (lossy) */
#define QV_HOSTS	3	/* better MX hosts tried */
#define QV_TTL		86400	/* default MXBackupVerifyTTL */
#define QV_NEG_TTL	3600	/* default MXBackupVerifyNegTTL */
#define QV_TIMEOUT	10	/* default MXBackupVerifyTimeout */
#define QV_TEXT_MAX	1024	/* a reply line and its peer */
#define QV_SLOT_TEXT	200	/* what the cache keeps of it */

/* One remembered verdict. */
struct qv_slot {
	char			 addr[ADDR_PATH_MAX + 1];	/* lower case */
	time_t			 until;
	enum queue_verify_verdict v;
	char			 text[QV_SLOT_TEXT];
};

/* One callout. */
struct qv_req {
	struct ev_loop		*loop;		/* the caller's */
	queue_verify_cb		*cb;
	void			*arg;
	char			 rcpt[ADDR_PATH_MAX + 1];
	char			 domain[DNS_NAME_MAX + 1];
	char			 hosts[QV_HOSTS][DNS_NAME_MAX + 1];
	size_t			 nhosts, hi;
	struct sockaddr_storage	 addrs[DNS_ADDR_MAX];
	size_t			 naddrs, ai;
	int			 port, timeout;
	struct smtpc		*s;
	struct smtpc_txn	 txn;
	struct smtpc_txn_rcpt	 r;
	bool			 pending;	/* a DNS query runs */
	enum queue_verify_verdict v;
	char			 text[QV_TEXT_MAX];
	LIST_ENTRY(qv_req)	 link;
};

static struct qv_slot		 cache[QV_CACHE_SLOTS];
static pthread_mutex_t		 cache_mtx = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(, qv_req)	 live = LIST_HEAD_INITIALIZER(live);	/* loop 0 */
static bool			 stopping;				/* loop 0 */

static void	qv_next_host(struct qv_req *);
static void	qv_connect(struct qv_req *);

/* slot_of - the cache slot of a lower-cased address */
static struct qv_slot *
slot_of(const char *addr)
{
	uint32_t h = 2166136261u;

	for (; *addr != '\0'; addr++)
		h = (h ^ (unsigned char)*addr) * 16777619u;
	return &cache[h % QV_CACHE_SLOTS];
}

/* cache_get - a remembered verdict for addr: true and *v, text */
static bool
cache_get(const char *addr, enum queue_verify_verdict *v, char *text,
    size_t size)
{
	struct qv_slot *sl = slot_of(addr);
	bool hit;

	pthread_mutex_lock(&cache_mtx);
	hit = strcmp(sl->addr, addr) == 0 && sl->until > time(NULL);
	if (hit) {
		*v = sl->v;
		(void)snprintf(text, size, "%s (cached)", sl->text);
	}
	pthread_mutex_unlock(&cache_mtx);
	return hit;
}

/* cache_put - remember a verdict for `ttl` seconds */
static void
cache_put(const char *addr, enum queue_verify_verdict v, const char *text,
    long ttl)
{
	struct qv_slot *sl = slot_of(addr);

	if (ttl <= 0)
		return;
	pthread_mutex_lock(&cache_mtx);
	if (str_copy(sl->addr, addr, sizeof(sl->addr))) {
		sl->until = time(NULL) + ttl;
		sl->v = v;
		if (!str_copy(sl->text, text, sizeof(sl->text)))
			log_debug("callout: reply of <%s> cut", addr);
	} else {
		sl->addr[0] = '\0';
	}
	pthread_mutex_unlock(&cache_mtx);
}

/* qv_deliver - the caller's loop: the answer, then free */
static void
qv_deliver(void *arg)
{
	struct qv_req *q = arg;

	q->cb(q->arg, q->v, q->text);
	free(q);
}

/* qv_post - hand the verdict to the caller's loop */
static void
qv_post(struct qv_req *q)
{
	if (ev_run_in_loop(q->loop, qv_deliver, q) == -1) {
		log_warn("smtp: backup-MX callout for <%s>: answer lost",
		    q->rcpt);
		free(q);
	}
}

/* qv_finish - loop 0: log, remember, answer */
static void
qv_finish(struct qv_req *q, enum queue_verify_verdict v, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
qv_finish(struct qv_req *q, enum queue_verify_verdict v, const char *fmt,
    ...)
{
	struct config *cfg;
	va_list ap;

	LIST_REMOVE(q, link);
	q->v = v;
	va_start(ap, fmt);
	(void)vsnprintf(q->text, sizeof(q->text), fmt, ap);
	va_end(ap);
	cfg = config_acquire();
	if (v == QUEUE_VERIFY_OK)
		cache_put(q->rcpt, v, q->text, config_var_long(cfg,
		    "MXBackupVerifyTTL", QV_TTL));
	else if (v == QUEUE_VERIFY_REJECTED)
		cache_put(q->rcpt, v, q->text, config_var_long(cfg,
		    "MXBackupVerifyNegTTL", QV_NEG_TTL));
	config_release(cfg);
	log_info("smtp: backup MX: <%s> %s: %s", q->rcpt,
	    v == QUEUE_VERIFY_OK ? "verified with the primary" :
	    v == QUEUE_VERIFY_REJECTED ? "refused by the primary" :
	    "not verified, accepted", q->text);
	qv_post(q);
}

/* qv_done - the probe's answer */
static void
qv_done(struct smtpc *s, void *arg, struct smtpc_txn *txn)
{
	struct qv_req *q = arg;
	const struct smtpc_result *r = &txn->rcpts[0].res;
	char peer[320];

	(void)snprintf(peer, sizeof(peer), "%s", smtpc_peer(s));
	smtpc_quit(s);
	q->s = NULL;
	if (r->code / 100 == 2)
		qv_finish(q, QUEUE_VERIFY_OK, "%s: %d %s%s%s", peer, r->code,
		    r->enh, r->enh[0] != '\0' ? " " : "", r->text);
	else if (r->code / 100 == 5 && r->stage == SMTPC_ST_RCPT)
		qv_finish(q, QUEUE_VERIFY_REJECTED, "%s: %d %s%s%s", peer,
		    r->code, r->enh, r->enh[0] != '\0' ? " " : "", r->text);
	else
		qv_finish(q, QUEUE_VERIFY_UNKNOWN, "%s: %d %s", peer, r->code,
		    r->text);
}

/* qv_ready - the session is up (probe) or failed (next address) */
static void
qv_ready(struct smtpc *s, void *arg, const struct smtpc_result *err)
{
	struct qv_req *q = arg;

	if (err != NULL) {
		q->s = NULL;		/* freed after this callback */
		(void)snprintf(q->text, sizeof(q->text), "%s: %d %s",
		    smtpc_peer(s), err->code, err->text);
		q->ai++;
		qv_connect(q);
		return;
	}
	memset(&q->txn, 0, sizeof(q->txn));
	memset(&q->r, 0, sizeof(q->r));
	q->txn.env.from = "";		/* the null sender, as callouts use */
	q->r.r.addr = q->rcpt;
	q->txn.rcpts = &q->r;
	q->txn.nrcpts = 1;
	q->txn.data = NULL;		/* a probe: MAIL and RCPT only */
	if (smtpc_send(s, &q->txn, qv_done, q) == -1) {
		smtpc_quit(s);
		q->s = NULL;
		qv_finish(q, QUEUE_VERIFY_UNKNOWN, "probe cannot start");
	}
}

/* qv_connect - open a session to the next address of the host */
static void
qv_connect(struct qv_req *q)
{
	struct smtpc_conf sc;
	struct config *cfg;
	char me[256];
	socklen_t len;

	if (stopping) {
		qv_finish(q, QUEUE_VERIFY_UNKNOWN, "shutting down");
		return;
	}
	for (; q->ai < q->naddrs; q->ai++) {
		struct sockaddr_storage *ss = &q->addrs[q->ai];

		if (ss->ss_family == AF_INET6) {
			((struct sockaddr_in6 *)ss)->sin6_port =
			    htons((uint16_t)q->port);
			len = sizeof(struct sockaddr_in6);
		} else {
			((struct sockaddr_in *)ss)->sin_port =
			    htons((uint16_t)q->port);
			len = sizeof(struct sockaddr_in);
		}
		memset(&sc, 0, sizeof(sc));
		cfg = config_acquire();
		sc.helo = qo_helo(cfg, me, sizeof(me));
		sc.need_tls = 1;
		sc.servername = q->hosts[q->hi];
		sc.to.connect = sc.to.greeting = sc.to.command = q->timeout;
		sc.log_id = "callout";
		q->s = smtpc_open(ev_loop_at(0), (struct sockaddr *)ss, len,
		    &sc, qv_ready, q);
		config_release(cfg);
		if (q->s != NULL)
			return;
	}
	q->hi++;
	qv_next_host(q);
}

/* qv_addr_cb - the addresses of the current host */
static void
qv_addr_cb(void *arg, enum dns_status st,
    const struct sockaddr_storage *addrs, size_t n)
{
	struct qv_req *q = arg;
	size_t i;

	q->pending = false;
	if (stopping) {
		qv_finish(q, QUEUE_VERIFY_UNKNOWN, "shutting down");
		return;
	}
	if (st != DNS_OK || n == 0) {
		(void)snprintf(q->text, sizeof(q->text), "host %s: no"
		    " address", q->hosts[q->hi]);
		q->hi++;
		qv_next_host(q);
		return;
	}
	if (n > DNS_ADDR_MAX)
		n = DNS_ADDR_MAX;
	for (i = 0; i < n; i++)
		if (qo_is_self(&addrs[i], q->port)) {
			/* This one and every later (worse) MX are us. */
			qv_finish(q, QUEUE_VERIFY_UNKNOWN, "no MX of %s is"
			    " better than this server", q->domain);
			return;
		}
	memcpy(q->addrs, addrs, n * sizeof(*addrs));
	q->naddrs = n;
	q->ai = 0;
	qv_connect(q);
}

/* qv_next_host - resolve the current host, or give up */
static void
qv_next_host(struct qv_req *q)
{
	struct config *cfg;
	struct dns_resolver *r;

	if (q->hi >= q->nhosts) {
		qv_finish(q, QUEUE_VERIFY_UNKNOWN, "%s", q->text[0] != '\0' ?
		    q->text : "no primary reachable");
		return;
	}
	cfg = config_acquire();
	r = qo_resolver(cfg);
	config_release(cfg);
	q->pending = true;
	if (r == NULL || dns_query_addr(r, q->hosts[q->hi], qo_family(),
	    qv_addr_cb, q) == -1) {
		q->pending = false;
		qv_finish(q, QUEUE_VERIFY_UNKNOWN, "DNS lookup cannot start");
	}
}

/* qv_mx_cb - the MX records: keep the hosts better than this server */
static void
qv_mx_cb(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n)
{
	struct qv_req *q = arg;
	struct config *cfg;
	int cut = -1;
	size_t i;

	q->pending = false;
	if (stopping) {
		qv_finish(q, QUEUE_VERIFY_UNKNOWN, "shutting down");
		return;
	}
	if (st != DNS_OK) {
		qv_finish(q, QUEUE_VERIFY_UNKNOWN, "no MX records for %s",
		    q->domain);
		return;
	}
	cfg = config_acquire();
	for (i = 0; i < n; i++)
		if (qo_own_name(cfg, mx[i].host) && (cut == -1 ||
		    mx[i].pref < cut))
			cut = mx[i].pref;
	config_release(cfg);
	for (i = 0; i < n && q->nhosts < QV_HOSTS; i++) {
		if ((cut != -1 && mx[i].pref >= cut) ||
		    strcmp(mx[i].host, ".") == 0)
			continue;
		if (!str_copy(q->hosts[q->nhosts], mx[i].host,
		    sizeof(q->hosts[0])))
			continue;
		q->nhosts++;
	}
	if (q->nhosts == 0) {
		qv_finish(q, QUEUE_VERIFY_UNKNOWN, "no MX of %s is better"
		    " than this server", q->domain);
		return;
	}
	qv_next_host(q);
}

/* qv_start - loop 0: begin with the MX lookup */
static void
qv_start(void *arg)
{
	struct qv_req *q = arg;
	struct config *cfg;
	struct dns_resolver *r;

	LIST_INSERT_HEAD(&live, q, link);
	if (stopping) {
		qv_finish(q, QUEUE_VERIFY_UNKNOWN, "shutting down");
		return;
	}
	cfg = config_acquire();
	q->port = qo_default_port(cfg, false);
	q->timeout = (int)config_var_long(cfg, "MXBackupVerifyTimeout",
	    QV_TIMEOUT);
	if (q->timeout <= 0)
		q->timeout = QV_TIMEOUT;
	r = qo_resolver(cfg);
	config_release(cfg);
	q->pending = true;
	if (r == NULL || dns_query_mx(r, q->domain, qv_mx_cb, q) == -1) {
		q->pending = false;
		qv_finish(q, QUEUE_VERIFY_UNKNOWN, "DNS lookup cannot start");
	}
}

/* queue_verify - start a callout (any thread) */
int
queue_verify(struct ev_loop *l, const char *rcpt, queue_verify_cb *cb,
    void *arg)
{
	struct qv_req *q = calloc(1, sizeof(*q));
	const char *at;
	size_t i;

	if (q == NULL)
		return -1;
	q->loop = l;
	q->cb = cb;
	q->arg = arg;
	at = strrchr(rcpt, '@');
	if (at == NULL || !str_copy(q->rcpt, rcpt, sizeof(q->rcpt)) ||
	    !str_copy(q->domain, at + 1, sizeof(q->domain))) {
		free(q);
		return -1;
	}
	for (i = 0; q->rcpt[i] != '\0'; i++)
		q->rcpt[i] = (char)tolower((unsigned char)q->rcpt[i]);
	if (cache_get(q->rcpt, &q->v, q->text, sizeof(q->text))) {
		if (ev_run_in_loop(l, qv_deliver, q) == -1) {
			free(q);
			return -1;
		}
		return 0;
	}
	if (ev_run_in_loop(ev_loop_at(0), qv_start, q) == -1) {
		free(q);
		return -1;
	}
	return 0;
}

/* queue_verify_stop - loop 0 at shutdown: end the callouts */
void
queue_verify_stop(void)
{
	struct qv_req *q, *next;

	stopping = true;
	for (q = LIST_FIRST(&live); q != NULL; q = next) {
		next = LIST_NEXT(q, link);
		if (q->pending)
			continue;	/* the resolver's end answers it */
		if (q->s != NULL) {
			smtpc_quit(q->s);
			q->s = NULL;
		}
		qv_finish(q, QUEUE_VERIFY_UNKNOWN, "shutting down");
	}
}
