/*
 * work.h - the worker pool for blocking work.
 *
 * Loop threads must never block: fsync, mailbox delivery, external
 * programs, password hashing and file scans run here.  A job's `fn` runs on
 * a worker thread; its `done` then runs on the loop thread that submitted it,
 * where it may look its session up by id (ev.h).
 */
#ifndef POSTROOM_CORE_WORK_H
#define POSTROOM_CORE_WORK_H

#include "core/compat.h"

struct ev_loop;

/* work_init - start n worker threads.  Returns 0 or -1. */
int	work_init(int n) WARN_UNUSED_RESULT;

/*
 * work_submit - queue fn(arg) for a worker, then done(arg) on loop l.
 * `done` must free arg.  Returns 0, or -1 (pool stopped, no memory): then
 * neither callback runs and the caller still owns arg.
 */
int	work_submit(struct ev_loop *l, void (*fn)(void *), void (*done)(void *),
	    void *arg) WARN_UNUSED_RESULT;

/*
 * work_shutdown - refuse new jobs, finish the queued ones (their `done`
 * callbacks are handed to their loops), join the threads.
 */
void	work_shutdown(void);

#endif
