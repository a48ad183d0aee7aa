/*
 * queue_slog.h - the per-message delivery log slog/<name> (XMAIL-FACTS
 * 6.3): one "[PeekTime] <unix-seconds> : <date>" line per failed try and
 * an error block per failure:
 *
 *	<<
 *	ErrCode   = -N
 *	ErrString = ...
 *	SMAIL SMTP-Send MX = "host" SMTP = "domain" From = "a" To = "b" Failed !
 *	SMTP-Error = "<remote reply>"
 *	SMTP-Server = "<host>"
 *	>>
 *
 * postroom adds the SMTP transcript of the attempt inside the block
 * (lines starting "C: " and "S: "), readable with `postroom queue show`
 * and CTRL frozgetlog.  Blocking: worker threads and tools only.
 */
#ifndef POSTROOM_QUEUE_QUEUE_SLOG_H
#define POSTROOM_QUEUE_QUEUE_SLOG_H

#include <stddef.h>
#include <time.h>

#include "core/compat.h"
#include "queue/queue.h"

/* What an slog says. */
struct queue_slog_info {
	int	tries;			/* [PeekTime] lines */
	time_t	last_try;		/* the last one's time, 0 if none */
	char	last_error[512];	/* last SMTP-Error or ErrString, "" */
	char	last_server[256];	/* last SMTP-Server, "" */
};

/*
 * queue_slog_append - append `text` (lines ending in "\r\n") to slog/<name>
 * of r, creating it (0600).  Not fsynced: losing it only loses a try
 * count (docs/QUEUE.md T4).  Returns 0 or -1.
 */
int	queue_slog_append(const char *mailroot, const struct queue_ref *r,
	    const char *text, size_t len) WARN_UNUSED_RESULT;

/*
 * queue_slog_read - parse slog/<name> of r.  A missing file is 0 tries.
 * Returns 0, or -1 on a read error.
 */
int	queue_slog_read(const char *mailroot, const struct queue_ref *r,
	    struct queue_slog_info *si) WARN_UNUSED_RESULT;

/*
 * queue_slog_parse - the same from the text of an slog (pure, for tests
 * and fuzzing).
 */
void	queue_slog_parse(const char *text, size_t len,
	    struct queue_slog_info *si);

/* queue_slog_remove - unlink slog/<name> (ENOENT is fine).  0 or -1. */
int	queue_slog_remove(const char *mailroot, const struct queue_ref *r);

#endif
