/*
 * queue_local.c - local delivery of spooled messages.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/addr.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/work.h"
#include "maildir/maildir.h"
#include "queue/queue_local.h"
#include "store/store.h"

#define QUEUE_LOCAL_FILE_MAX	((size_t)80 << 20)

static int	local_split = 23;
static bool	local_maildir = true;

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

/* deliver_loaded - route and store one loaded spool file */
static void
deliver_loaded(struct config *cfg, const struct queue_ref *r,
    struct queue_file *qf)
{
	const char *root = config_mailroot(cfg);
	struct addr_path to;
	struct store_user u;
	char dir[4096], rcpt[ADDR_PATH_MAX + 1], name[MAILDIR_NAME_MAX + 1];

	if (addr_parse_mailbox(qf->to, true, &to) != ADDR_OK) {
		(void)queue_quarantine(root, r, "mess", "bad recipient");
		return;
	}
	if (store_domain_resolve(cfg, to.domain) == NULL) {
		log_debug("queue: %s for <%s> waits for outbound delivery",
		    r->name, qf->to);
		return;
	}
	if (store_user_find(cfg, to.local, to.domain, &u) == -1 ||
	    u.type != 'U') {
		log_warn("queue: %s: no local account for <%s>; frozen",
		    r->name, qf->to);
		if (queue_move(root, r, "mess", "froz") == -1)
			log_error("queue: cannot freeze %s: %s", r->name,
			    strerror(errno));
		return;
	}
	if ((size_t)snprintf(rcpt, sizeof(rcpt), "%s@%s", u.name, u.domain) >=
	    sizeof(rcpt)) {
		(void)queue_quarantine(root, r, "mess", "recipient too long");
		return;
	}
	if (store_user_path(root, &u, dir, sizeof(dir)) == -1 ||
	    maildir_deliver(dir, local_maildir, qf->from, rcpt, qf->data,
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

/* queue_local_deliver_one - deliver one file */
void
queue_local_deliver_one(const struct queue_ref *r)
{
	struct config *cfg = config_acquire();
	struct queue_file qf;
	char path[4096];

	if (cfg == NULL)
		return;
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
	deliver_loaded(cfg, r, &qf);
	queue_file_free(&qf);
out:
	config_release(cfg);
}

/* local_work - worker: deliver a batch */
static void
local_work(void *arg)
{
	struct local_job *j = arg;
	size_t i;

	for (i = 0; i < j->n; i++)
		queue_local_deliver_one(&j->refs[i]);
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

/* recover_cb - one file found in mess/ at start-up */
static int
recover_cb(const struct queue_ref *r, void *arg)
{
	(void)arg;
	queue_local_deliver_one(r);
	return 0;
}

/* temp_cb - leftover from a crash before the rename */
static int
temp_cb(const struct queue_ref *r, void *arg)
{
	const char *root = arg;

	log_info("queue: removing unfinished spool file %s", r->name);
	if (queue_remove(root, r, "temp") == -1)
		log_warn("queue: cannot remove temp/%s: %s", r->name,
		    strerror(errno));
	return 0;
}

/* queue_local_recover - start-up pass */
long
queue_local_recover(void)
{
	struct config *cfg = config_acquire();
	long n;

	if (cfg == NULL)
		return -1;
	(void)queue_scan(config_mailroot(cfg), local_split, "temp", temp_cb,
	    (void *)config_mailroot(cfg));
	n = queue_scan(config_mailroot(cfg), local_split, "mess", recover_cb,
	    NULL);
	config_release(cfg);
	return n;
}
