/*
 * queue_local.c - local delivery of spooled messages.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/addr.h"
#include "core/ev.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/work.h"
#include "maildir/maildir.h"
#include "queue/queue_bounce.h"
#include "queue/queue_local.h"
#include "queue/queue_out.h"
#include "store/store.h"

#define QUEUE_LOCAL_FILE_MAX	((size_t)80 << 20)

#define QUEUE_INFLIGHT_MAX	4096	/* deliveries running at once */

static int	local_split = 23;
static bool	local_maildir = true;

/*
 * Names of spool files being delivered right now, so the periodic retry
 * pass never delivers a file twice while a fresh delivery of it runs.
 */
static pthread_mutex_t	 inflight_mtx = PTHREAD_MUTEX_INITIALIZER;
static char		*inflight[QUEUE_INFLIGHT_MAX];

/*
 * Remote files found in one pass, handed to the outbound queue together,
 * so the recipients of one message at one domain share a transaction.
 */
struct out_batch {
	struct queue_out_item	*items;
	size_t			 n, cap;
};

/* A batch of files to deliver. */
struct local_job {
	struct queue_ref	*refs;
	size_t			 n;
};

/* queue_local_init - settings */
void
queue_local_init(int split, bool maildir)
{
	local_split = split;
	local_maildir = maildir;
}

/* fail - permanent failure: bounce, freeze or remove, deliver the report */
static void
fail(struct config *cfg, const struct queue_ref *r, struct queue_file *qf,
    const char *status, const char *why)
{
	struct queue_failure f = { status, why, NULL };
	struct queue_ref *refs = NULL;
	size_t n = 0, i;

	/* Even on -1 a report may have been spooled: deliver it. */
	if (queue_fail(cfg, local_split, r, "mess", qf, &f, &refs, &n) == -1)
		log_warn("queue: %s stays in the spool to be retried",
		    r->name);
	for (i = 0; i < n; i++)
		queue_local_deliver_one(&refs[i]);
	free(refs);
}

/* expand_list - one spool file per list member with R (XMAIL-FACTS 8) */
static void
expand_list(struct config *cfg, const struct queue_ref *r,
    struct queue_file *qf, const struct store_user *u, const char *list)
{
	const char *root = config_mailroot(cfg);
	struct tab members = { 0 }, vars = { 0 };
	struct queue_env env;
	struct queue_ref *refs = NULL;
	const char **rcpts = NULL;
	char mail_from[QUEUE_LINE_MAX], **lines = NULL;
	const char *sender, *v;
	struct buf data;
	size_t i, n = 0;

	buf_init(&data, qf->datalen + 1024);
	if (store_mlusers_load(root, u, &members) == -1 ||
	    store_user_vars_load(root, u, &vars) == -1)
		goto out;
	rcpts = calloc(members.nrecs + 1, sizeof(*rcpts));
	lines = calloc(members.nrecs + 1, sizeof(*lines));
	if (rcpts == NULL || lines == NULL)
		goto out;
	for (i = 0; i < members.nrecs; i++) {
		const struct tab_rec *m = &members.recs[i];
		struct addr_path p;

		if (m->n < 2 || strpbrk(m->f[1], "Rr") == NULL ||
		    addr_parse_mailbox(m->f[0], true, &p) != ADDR_OK ||
		    asprintf(&lines[n], "RCPT TO:<%s>", m->f[0]) == -1)
			continue;
		rcpts[n] = lines[n];
		n++;
	}
	sender = store_var(&vars, "ListSender");
	if (sender == NULL || *sender == '\0')
		sender = qf->from;
	v = store_var(&vars, "UseReplyTo");
	snprintf(mail_from, sizeof(mail_from), "MAIL FROM:<%s>", sender);
	if ((v == NULL || strtol(v, NULL, 10) != 0) &&
	    buf_printf(&data, "Reply-To: <%s>\r\n", list) == -1)
		goto out;
	if (buf_append(&data, qf->data, qf->datalen) == -1)
		goto out;
	if (n > 0) {
		refs = calloc(n, sizeof(*refs));
		env.info = qf->info;
		env.smtp_domain = qf->smtp_domain;
		env.msgid = qf->msgid;
		env.mail_from = mail_from;
		env.rcpts = rcpts;
		env.nrcpts = n;
		if (refs == NULL || queue_submit(root, local_split, &env,
		    data.data, data.len, refs) == -1)
			goto out;
	}
	log_info("queue: list <%s> expanded to %zu member(s) id=%s", list, n,
	    qf->msgid);
	if (queue_remove(root, r, "mess") == -1)
		log_error("queue: %s expanded but not removed", r->name);
	for (i = 0; i < n; i++)
		queue_local_deliver_one(&refs[i]);
out:
	for (i = 0; lines != NULL && i < n; i++)
		free(lines[i]);
	free(lines);
	free(rcpts);
	free(refs);
	buf_clear(&data);
	tab_free(&members);
	tab_free(&vars);
}

/* out_push - one remote file for the outbound queue (now if no batch) */
static void
out_push(struct out_batch *ob, const struct queue_out_item *it)
{
	struct queue_out_item *ni;

	if (ob != NULL && ob->n == ob->cap) {
		ni = reallocarray(ob->items, ob->cap ? ob->cap * 2 : 16,
		    sizeof(*ni));
		if (ni != NULL) {
			ob->items = ni;
			ob->cap = ob->cap ? ob->cap * 2 : 16;
		}
	}
	if (ob == NULL || ob->n == ob->cap) {
		queue_out_add(it, 1);
		return;
	}
	ob->items[ob->n++] = *it;
}

/* out_flush - hand a batch over */
static void
out_flush(struct out_batch *ob)
{
	queue_out_add(ob->items, ob->n);
	free(ob->items);
	memset(ob, 0, sizeof(*ob));
}

/* deliver_loaded - route and store one loaded spool file */
static void
deliver_loaded(struct config *cfg, const struct queue_ref *r,
    struct queue_file *qf, struct out_batch *ob)
{
	const char *root = config_mailroot(cfg);
	struct addr_path to;
	struct store_user u;
	char dir[4096], rcpt[ADDR_PATH_MAX + 1], name[MAILDIR_NAME_MAX + 1];
	char rpath[ADDR_PATH_MAX + 1];

	if (addr_parse_mailbox(qf->to, true, &to) != ADDR_OK) {
		(void)queue_quarantine(root, r, "mess", "bad recipient");
		return;
	}
	if (store_domain_resolve(cfg, to.domain) == NULL) {
		struct queue_out_item it;

		if (queue_out_item_set(&it, r, qf) == 0)
			out_push(ob, &it);
		return;
	}
	if (store_user_find(cfg, to.local, to.domain, &u) == -1) {
		fail(cfg, r, qf, "5.1.1", "Unknown user at delivery time");
		return;
	}
	if ((size_t)snprintf(rcpt, sizeof(rcpt), "%s@%s", u.name, u.domain) >=
	    sizeof(rcpt)) {
		(void)queue_quarantine(root, r, "mess", "recipient too long");
		return;
	}
	switch (store_rcpt_check(root, &u, local_maildir, qf->from)) {
	case STORE_RCPT_OK:
	case STORE_RCPT_CLOSED_LIST:	/* checked at RCPT time */
		break;
	case STORE_RCPT_DISABLED:
		fail(cfg, r, qf, "5.2.1", "Account disabled");
		return;
	case STORE_RCPT_FULL:
		fail(cfg, r, qf, "5.2.2", "Mailbox full (MaxMBSize)");
		return;
	case STORE_RCPT_TEMPFAIL:
		log_warn("queue: %s: cannot check <%s>; kept", r->name, rcpt);
		return;
	}
	if (u.type == 'M') {
		expand_list(cfg, r, qf, &u, rcpt);
		return;
	}
	/* extaliases.tab: replies to an external address stay inside. */
	if (!store_extalias(cfg, qf->from, rpath, sizeof(rpath)) &&
	    !str_copy(rpath, qf->from, sizeof(rpath)))
		rpath[0] = '\0';
	if (store_user_path(root, &u, dir, sizeof(dir)) == -1 ||
	    maildir_deliver(dir, local_maildir, rpath, rcpt, qf->data,
	    qf->datalen, name, sizeof(name)) == -1) {
		log_error("queue: %s: delivery to <%s> failed: %s; kept in"
		    " the spool", r->name, rcpt, strerror(errno));
		return;
	}
	log_info("queue: delivered id=%s to=<%s> file=%s", qf->msgid, rcpt,
	    name);
	if (queue_remove(root, r, "mess") == -1)
		log_error("queue: %s delivered but not removed: %s", r->name,
		    strerror(errno));
}

/* inflight_take - claim a file name; false if someone has it or full */
static bool
inflight_take(const char *name, int *slot)
{
	int i, free_slot = -1;

	pthread_mutex_lock(&inflight_mtx);
	for (i = 0; i < QUEUE_INFLIGHT_MAX; i++) {
		if (inflight[i] == NULL) {
			if (free_slot == -1)
				free_slot = i;
		} else if (strcmp(inflight[i], name) == 0) {
			free_slot = -1;
			break;
		}
	}
	if (free_slot != -1 && (inflight[free_slot] = strdup(name)) == NULL)
		free_slot = -1;
	pthread_mutex_unlock(&inflight_mtx);
	*slot = free_slot;
	return free_slot != -1;
}

/* inflight_drop - release a claimed name */
static void
inflight_drop(int slot)
{
	pthread_mutex_lock(&inflight_mtx);
	free(inflight[slot]);
	inflight[slot] = NULL;
	pthread_mutex_unlock(&inflight_mtx);
}

/* deliver_one - deliver one file; remote ones go to ob (or at once) */
static void
deliver_one(const struct queue_ref *r, struct out_batch *ob)
{
	struct config *cfg;
	struct queue_file qf;
	char path[4096];
	int slot;

	if (!inflight_take(r->name, &slot))
		return;
	cfg = config_acquire();
	if (cfg == NULL) {
		inflight_drop(slot);
		return;
	}
	memset(&qf, 0, sizeof(qf));
	if (queue_path(config_mailroot(cfg), r, "mess", path,
	    sizeof(path)) == -1)
		goto out;
	if (queue_file_load(path, QUEUE_LOCAL_FILE_MAX, &qf) == -1) {
		if (errno != ENOENT)
			(void)queue_quarantine(config_mailroot(cfg), r, "mess",
			    strerror(errno));
		goto out;
	}
	deliver_loaded(cfg, r, &qf, ob);
	queue_file_free(&qf);
out:
	config_release(cfg);
	inflight_drop(slot);
}

/* queue_local_deliver_one - deliver one file */
void
queue_local_deliver_one(const struct queue_ref *r)
{
	deliver_one(r, NULL);
}

/* local_work - worker: deliver a batch */
static void
local_work(void *arg)
{
	struct local_job *j = arg;
	struct out_batch ob = { NULL, 0, 0 };
	size_t i;

	for (i = 0; i < j->n; i++)
		deliver_one(&j->refs[i], &ob);
	out_flush(&ob);
}

/* local_done - loop: free the batch */
static void
local_done(void *arg)
{
	struct local_job *j = arg;

	free(j->refs);
	free(j);
}

/* queue_local_schedule - deliver soon */
void
queue_local_schedule(struct queue_ref *refs, size_t n)
{
	struct local_job *j = malloc(sizeof(*j));

	if (j != NULL) {
		j->refs = refs;
		j->n = n;
		if (work_submit(ev_loop_at(0), local_work, local_done, j) == 0)
			return;
		free(j);
	}
	/* Not lost: the files stay in mess/ until the next start-up. */
	log_error("queue: cannot schedule delivery of %zu file(s)", n);
	free(refs);
}

/* recover_cb - one file found in mess/ (start-up, retry pass) */
static int
recover_cb(const struct queue_ref *r, void *arg)
{
	deliver_one(r, arg);
	return 0;
}

/* A start-up cleanup pass over one bucket directory. */
struct cleanup {
	const char	*root;
	const char	*dir;		/* "temp", "lock" or "slog" */
};

/* in_bucket - the file exists in dir of its bucket */
static bool
in_bucket(const char *root, const struct queue_ref *r, const char *dir)
{
	char path[4096];

	return queue_path(root, r, dir, path, sizeof(path)) == 0 &&
	    fs_exists(path);
}

/*
 * cleanup_cb - docs/QUEUE.md T8: temp/ files were never acknowledged,
 * lock/ files are stale XMail state, and a slog/ without its message
 * belongs to nothing.
 */
static int
cleanup_cb(const struct queue_ref *r, void *arg)
{
	const struct cleanup *c = arg;

	if (strcmp(c->dir, "slog") == 0 && (in_bucket(c->root, r, "mess") ||
	    in_bucket(c->root, r, "rsnd") || in_bucket(c->root, r, "froz")))
		return 0;
	log_info("queue: start-up cleanup removes %s/%s", c->dir, r->name);
	if (queue_remove(c->root, r, c->dir) == -1)
		log_warn("queue: cannot remove %s/%s: %s", c->dir, r->name,
		    strerror(errno));
	return 0;
}

/* retry_work - worker: one pass over mess/ */
static void
retry_work(void *arg)
{
	(void)arg;
	(void)queue_local_retry();
}

/* retry_done - loop: nothing to free */
static void
retry_done(void *arg)
{
	(void)arg;
}

/* queue_local_retry_schedule - run queue_local_retry on a worker */
void
queue_local_retry_schedule(void)
{
	if (work_submit(ev_loop_at(0), retry_work, retry_done, NULL) == -1)
		log_warn("queue: cannot schedule a retry pass");
}

/* queue_local_retry - deliver what is still waiting in mess/ */
long
queue_local_retry(void)
{
	struct config *cfg = config_acquire();
	struct out_batch ob = { NULL, 0, 0 };
	long n;

	if (cfg == NULL)
		return -1;
	n = queue_scan(config_mailroot(cfg), local_split, "mess", recover_cb,
	    &ob);
	out_flush(&ob);
	config_release(cfg);
	return n;
}

/* queue_local_recover - start-up pass */
long
queue_local_recover(void)
{
	static const char *const dirs[] = { "temp", "lock", "slog" };
	struct config *cfg = config_acquire();
	struct out_batch ob = { NULL, 0, 0 };
	struct cleanup c;
	long n;
	size_t i;

	if (cfg == NULL)
		return -1;
	c.root = config_mailroot(cfg);
	for (i = 0; i < nitems(dirs); i++) {
		c.dir = dirs[i];
		(void)queue_scan(c.root, local_split, c.dir, cleanup_cb, &c);
	}
	n = queue_scan(config_mailroot(cfg), local_split, "mess", recover_cb,
	    &ob);
	out_flush(&ob);
	config_release(cfg);
	return n;
}
