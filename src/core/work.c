/*
 * work.c - fixed pool of worker threads; results go back to the loop that
 * submitted the job.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/ev.h"
#include "core/log.h"
#include "core/work.h"

#define WORK_THREADS_MAX	256

struct work_job {
	struct ev_loop	*loop;
	void		(*fn)(void *);
	void		(*done)(void *);
	void		*arg;
	struct work_job	*next;
};

static pthread_mutex_t	 work_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 work_cond = PTHREAD_COND_INITIALIZER;
static struct work_job	*work_head, *work_tail;
static pthread_t	 work_threads[WORK_THREADS_MAX];
static int		 work_nthreads;
static bool		 work_stopping;

/* work_main - worker thread body */
static void *
work_main(void *arg)
{
	struct work_job *j;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&work_mtx);
		while (work_head == NULL && !work_stopping)
			pthread_cond_wait(&work_cond, &work_mtx);
		j = work_head;
		if (j == NULL) {
			pthread_mutex_unlock(&work_mtx);
			return NULL;
		}
		work_head = j->next;
		if (work_head == NULL)
			work_tail = NULL;
		pthread_mutex_unlock(&work_mtx);

		j->fn(j->arg);
		if (ev_run_in_loop(j->loop, j->done, j->arg) == -1)
			log_error("work: cannot return a result to its loop");
		free(j);
	}
}

/* work_init - start the pool */
int
work_init(int n)
{
	int i, e;

	if (n < 1)
		n = 1;
	if (n > WORK_THREADS_MAX)
		n = WORK_THREADS_MAX;
	work_stopping = false;
	for (i = 0; i < n; i++) {
		e = pthread_create(&work_threads[i], NULL, work_main, NULL);
		if (e != 0) {
			log_error("cannot start worker thread: %s",
			    strerror(e));
			work_nthreads = i;
			return -1;
		}
	}
	work_nthreads = n;
	return 0;
}

/* work_submit - queue a job */
int
work_submit(struct ev_loop *l, void (*fn)(void *), void (*done)(void *),
    void *arg)
{
	struct work_job *j = malloc(sizeof(*j));

	if (j == NULL)
		return -1;
	j->loop = l;
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&work_mtx);
	if (work_stopping || work_nthreads == 0) {
		pthread_mutex_unlock(&work_mtx);
		free(j);
		errno = ESHUTDOWN;
		return -1;
	}
	if (work_tail != NULL)
		work_tail->next = j;
	else
		work_head = j;
	work_tail = j;
	pthread_cond_signal(&work_cond);
	pthread_mutex_unlock(&work_mtx);
	return 0;
}

/* work_shutdown - drain and join */
void
work_shutdown(void)
{
	int i;

	pthread_mutex_lock(&work_mtx);
	work_stopping = true;
	pthread_cond_broadcast(&work_cond);
	pthread_mutex_unlock(&work_mtx);
	for (i = 0; i < work_nthreads; i++)
		pthread_join(work_threads[i], NULL);
	work_nthreads = 0;
}
