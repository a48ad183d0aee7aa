/*
 * queue_admin.h - operator actions on the spool (`postroom queue`, and
 * CTRL frozlist/frozsubmit/frozdel/frozgetlog/frozgetmsg and etrn).
 *
 * Messages are named by their spool file name (unique in the whole
 * spool); "L1/L2/name" is accepted too.  Every action works on the files
 * directly, with the transitions of docs/QUEUE.md (T6 for thaw and
 * delete), so it is safe while the server runs: a running server finds a
 * deleted or frozen file gone at its next attempt and forgets it; an
 * attempt already in progress finishes.  What a running server must do at
 * once (flush, pick up thawed files) goes through the request file
 * MailRoot/.queue-requests, which the server polls twice a second.
 * Blocking: tools and worker threads only.
 */
#ifndef POSTROOM_QUEUE_QUEUE_ADMIN_H
#define POSTROOM_QUEUE_QUEUE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/compat.h"
#include "queue/queue.h"
#include "queue/queue_slog.h"

enum queue_admin_state {
	QUEUE_ADMIN_READY,	/* mess/: never tried, or due now */
	QUEUE_ADMIN_DEFERRED,	/* rsnd/: waiting for its retry time */
	QUEUE_ADMIN_FROZEN,	/* froz/ */
};

/* One spool file as `postroom queue list` shows it. */
struct queue_admin_entry {
	struct queue_ref		ref;
	enum queue_admin_state		state;
	uint64_t			size;		/* file octets */
	time_t				mtime;		/* arrival (file mtime) */
	char				msgid[64];	/* "S1A" */
	char				from[320];	/* "" = null sender */
	char				to[320];
	struct queue_slog_info		slog;		/* tries, last error */
};

/*
 * queue_admin_list - call cb for every spool file in mess/, rsnd/ and
 * froz/ (only those whose recipient matches `pattern` when not NULL: a
 * domain wildcard, or an address wildcard when it contains '@'), in no
 * particular order.  A file that cannot be parsed is reported with its
 * ref, state and size and empty addresses.  Stops when cb returns -1.
 * Returns the number of entries given to cb, or -1.
 */
long	queue_admin_list(const char *mailroot, int split, const char *pattern,
	    int (*cb)(const struct queue_admin_entry *e, void *arg),
	    void *arg);

/*
 * queue_admin_find - locate a message by name ("name" or "L1/L2/name"):
 * *ref and *state.  Returns 0, or -1 with errno ENOENT.
 */
int	queue_admin_find(const char *mailroot, int split, const char *id,
	    struct queue_ref *ref, enum queue_admin_state *state)
	    WARN_UNUSED_RESULT;

/* queue_admin_delete - remove the spool file and its slog.  0 or -1. */
int	queue_admin_delete(const char *mailroot, const struct queue_ref *r,
	    enum queue_admin_state state) WARN_UNUSED_RESULT;

/* queue_admin_freeze - mess/ or rsnd/ -> froz/ (slog kept).  0 or -1. */
int	queue_admin_freeze(const char *mailroot, const struct queue_ref *r,
	    enum queue_admin_state state) WARN_UNUSED_RESULT;

/*
 * queue_admin_thaw - froz/ -> mess/ with a fresh slog (T6: as CTRL
 * frozsubmit; the message gets -Qr new tries).  0 or -1.
 */
int	queue_admin_thaw(const char *mailroot, const struct queue_ref *r)
	    WARN_UNUSED_RESULT;

/*
 * queue_admin_request - append "flush<TAB>pattern" or "rescan" to
 * MailRoot/.queue-requests (one write with O_APPEND, mode 0600).  A
 * running server flushes the matching messages or scans mess/ for new
 * ones within a second.  0 or -1.
 */
int	queue_admin_request(const char *mailroot, const char *verb,
	    const char *pattern) WARN_UNUSED_RESULT;

/*
 * queue_admin_take_requests - server side: atomically take the request
 * file (rename to .queue-requests.work, read, unlink) and call cb for each
 * valid line (verb "flush" with its pattern, or "rescan" with "").
 * Malformed lines are logged and skipped.  Returns the number of
 * requests, 0 when there is no file, -1 on error.
 */
int	queue_admin_take_requests(const char *mailroot,
	    void (*cb)(const char *verb, const char *pattern, void *arg),
	    void *arg);

/*
 * queue_admin_match - does recipient `to` match `pattern` (domain
 * wildcard, or address wildcard with '@'; NULL, "" and "*" match all)?
 * Case-insensitive.  Pure; shared with the scheduler's flush.
 */
bool	queue_admin_match(const char *pattern, const char *to);

#endif
