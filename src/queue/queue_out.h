/*
 * queue_out.h - the outbound queue (XMail's SMAIL): delivery of spooled
 * messages for non-local recipients with the one SMTP client (smtpc.h),
 * routing (smtpc_route.h, core/dns.h), retries with XMail's back-off,
 * bounces and start-up recovery.  docs/QUEUE.md has the state machine.
 *
 * The scheduler lives on event loop 0: an in-memory index of every spool
 * file in mess/ or rsnd/ whose recipient is remote, keyed by file name (a
 * name is never attempted twice at once).  Files are grouped by recipient
 * domain (the destination); recipients of one message at one destination
 * go in one transaction; a session to a destination carries its queued
 * messages one after the other (connection reuse) until none is left.
 * File reads, moves, removals and bounces run on the worker pool.
 *
 * Retry schedule (manual "[SMAIL]"): after the n-th failed try the delay
 * is d(1) = -Qt, d(i) = d(i-1) + d(i-1) / -Qi (integer division; -Qi 0
 * keeps it constant).  A message is given up (bounced, "maximum number of
 * delivery attempts") once it has had -Qr tries and, postroom extension,
 * is older than server.tab QueueLifetime seconds (default 432000, five
 * days; 0 gives XMail's -Qr-only rule).
 */
#ifndef POSTROOM_QUEUE_QUEUE_OUT_H
#define POSTROOM_QUEUE_QUEUE_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/dns.h"
#include "queue/queue.h"

struct queue_out_conf {
	int		split;		/* -Mx */
	int		max_sessions;	/* -Qn: outbound sessions at once */
	int		retry;		/* -Qt seconds */
	int		ratio;		/* -Qi */
	int		max_tries;	/* -Qr */
	bool		log;		/* -Ql: smail log file */
	enum dns_family	family;		/* -M4/-M6/-M5/-M7 */
	/*
	 * This server's SMTP listeners, so that an MX host that is this
	 * server is recognised by its address (RFC 5321 5.1): the -Sp port
	 * (0: SMTP off) and the -SI addresses (none: every address of the
	 * machine's interfaces).  Names are compared with HeloDomain,
	 * SmtpServerDomain and the host name.
	 */
	int				 self_port;
	const struct sockaddr_storage	*self_addrs;
	size_t				 nself_addrs;
};

/* queue_out_init - settings; call before queue_out_start. */
void	queue_out_init(const struct queue_out_conf *conf);

/*
 * queue_out_delay - seconds to wait after failed try number `tries`
 * (1..), by the formula above (pure; saturates instead of overflowing).
 */
long	queue_out_delay(int retry, int ratio, int tries);

/* A spool file for the outbound queue. */
struct queue_out_item {
	struct queue_ref	ref;
	char			domain[DNS_NAME_MAX + 1]; /* recipient's */
	char			msgid[64];	/* "S1A": files of one message
						   share it (one transaction) */
	bool			deferred;	/* in rsnd/, else mess/ */
	int			tries;		/* failed tries so far */
	time_t			last_try;	/* of the last one, or 0 */
};

/*
 * queue_out_add - deliver these spool files (remote recipients).
 * Thread-safe (worker threads, start-up); idempotent (a name already
 * known is ignored).  May be called before queue_out_start: the files
 * wait in memory until then.  A deferred item is due at last_try plus
 * queue_out_delay(tries).
 */
void	queue_out_add(const struct queue_out_item *items, size_t n);

/*
 * queue_out_item_set - fill *it from a loaded spool file (domain of the
 * recipient, lower case; message id).  Returns 0, or -1 when the
 * recipient has no domain.
 */
int	queue_out_item_set(struct queue_out_item *it, const struct queue_ref *r,
	    const struct queue_file *qf) WARN_UNUSED_RESULT;

/*
 * queue_out_start - on the main thread after ev_start: load rsnd/ (try
 * counts from slog/) on a worker, start the timers.  Returns 0 or -1.
 */
int	queue_out_start(void) WARN_UNUSED_RESULT;

/*
 * queue_out_flush - every waiting message whose recipient domain matches
 * the wildcard `pattern` (or, when it contains '@', whose recipient
 * address matches) is due now: ETRN, `postroom queue flush`.  "" or "*"
 * flushes everything.  Thread-safe.
 */
void	queue_out_flush(const char *pattern);

/*
 * queue_out_drain - shutdown begins (any thread): start no new attempt;
 * sessions end after their current transaction.
 */
void	queue_out_drain(void);

/*
 * queue_out_stop - at shutdown, on the main thread after work_shutdown and
 * before ev_stop: no new attempts; sessions in progress are dropped (their
 * files stay in the spool for the next start: at most the transaction in
 * flight is sent twice); everything is freed.  Waits until loop 0 did it.
 */
void	queue_out_stop(void);

#endif
