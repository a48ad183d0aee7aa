/*
 * queue_local.h - delivery of spooled messages to local accounts.
 *
 * After a message is spooled (one file per recipient in mess/), each file
 * whose recipient is a local account is delivered to that account's
 * Maildir or mailbox and then removed from the spool (docs/QUEUE.md).
 * Files for other domains are handed to the outbound queue
 * (queue_out_add), which keeps them in mess/ until it tries them.  A
 * recipient that no longer exists is frozen (froz/); a corrupt file goes
 * to spool/quarantine.  Deliveries run on the worker pool.
 */
#ifndef POSTROOM_QUEUE_QUEUE_LOCAL_H
#define POSTROOM_QUEUE_QUEUE_LOCAL_H

#include <stdbool.h>
#include <stddef.h>

#include "queue/queue.h"

struct ev_loop;

/* queue_local_init - settings: spool split and Maildir (-MM) or not. */
void	queue_local_init(int split, bool maildir);

/*
 * queue_local_schedule - deliver these spool files (in mess/) soon, on a
 * worker.  Takes ownership of `refs` (malloc'ed).  Called on a loop thread.
 */
void	queue_local_schedule(struct queue_ref *refs, size_t n);

/*
 * queue_local_recover - at start-up, before serving: deliver every local
 * message still in mess/ (a crash between the 250 and the delivery) and
 * remove temp/ leftovers.  Blocking.  Returns the number of files seen.
 */
long	queue_local_recover(void);

/*
 * queue_local_retry - one pass over mess/: deliver local messages whose
 * earlier attempt failed temporarily (mailbox unreadable, disk full).
 * Files being delivered at the same moment are skipped.  Blocking.
 */
long	queue_local_retry(void);

/* queue_local_retry_schedule - queue_local_retry on a worker (loop). */
void	queue_local_retry_schedule(void);

/*
 * queue_local_deliver_one - deliver one spool file now (blocking); does
 * nothing if another thread is delivering the same file.
 */
void	queue_local_deliver_one(const struct queue_ref *r);

#endif
