/*
 * queue_bounce.h - delivery status notifications (bounces, delay notices).
 *
 * One module used by local delivery now and by the outbound queue later.
 * A bounce is an RFC 3464 report (multipart/report; report-type=
 * delivery-status) with a human-readable part, a message/delivery-status
 * part and the returned message (headers only with RET=HDRS, else the whole
 * message up to a size cap), spooled like any other message (id "X...").
 *
 * Rules (XMAIL-FACTS 6.5, DESIGN.md "differs from XMail"):
 *  - never bounce a message whose envelope sender is null (<>);
 *  - honour the DSN parameters stored on the spool file's MAIL FROM line
 *    (RET, ENVID) and RCPT TO line (NOTIFY, ORCPT): NOTIFY=NEVER or a
 *    NOTIFY list without FAILURE means no failure report to the sender;
 *  - the report's envelope sender is <> (RFC 5321 6.1, RFC 3464), so a
 *    report can never bounce back; its From: header is the PostMaster
 *    address (XMail sent from PostMaster unless NoSenderBounce=1, which
 *    caused backscatter loops; postroom always uses <>);
 *  - ErrorsAdmin (server.tab), when set, gets a copy of every permanent
 *    failure report, TempErrorsAdmin of every delay notice;
 *  - the delivery log (queue_failure.log) is shown in the admin copies
 *    always and to the sender only with NotifySendLogToSender=1 (XMail's
 *    "[<04>]" section): its last 64 KiB, long lines wrapped;
 *  - loop guard: a message that already carries our X-MailerError header
 *    is not reported on again.
 * Blocking: worker threads only.
 */
#ifndef POSTROOM_QUEUE_QUEUE_BOUNCE_H
#define POSTROOM_QUEUE_QUEUE_BOUNCE_H

#include <stddef.h>
#include <time.h>

#include "core/compat.h"
#include "queue/queue.h"

struct config;

/*
 * What went wrong, for the report.  New members go at the end: callers
 * initialise it positionally, and unnamed trailing members are 0/NULL.
 */
struct queue_failure {
	const char	*status;	/* RFC 3463 code, e.g. "5.1.1" */
	const char	*diagnostic;	/* e.g. "550 5.1.1 Mailbox unavailable"
					 * or a local explanation */
	const char	*remote_mta;	/* host that refused, or NULL */
	const char	*log;		/* the message's delivery log (slog
					 * text, CRLF or LF lines) or NULL */
	size_t		 loglen;	/* its length */
};

/*
 * queue_bounce - build and spool the failure report for spool file `qf`
 * (its recipient failed permanently).  On success *refs and *nrefs describe
 * the spooled report files (malloc'ed; the caller schedules their
 * delivery and frees; NULL and 0 unless 1 is returned).  The sender's and
 * the ErrorsAdmin copy are one report when they show the same text (no
 * log, or NotifySendLogToSender=1), else two, spooled all or nothing.
 * Returns 1 when a report was spooled, 0 when none is due (null sender
 * and no ErrorsAdmin, NOTIFY, loop guard), -1 on error (logged).
 */
int	queue_bounce(struct config *cfg, int split,
	    const struct queue_file *qf, const struct queue_failure *why,
	    struct queue_ref **refs, size_t *nrefs) WARN_UNUSED_RESULT;

/*
 * queue_notify_delay - an RFC 3464 "delivery delayed" report (Action:
 * delayed, Status 4.x.x from why->status (else 4.0.0), Will-Retry-Until
 * from retry_until when not 0, Diagnostic-Code from why->diagnostic, the
 * try count and next try time (when not 0) in the human-readable part,
 * "this is a warning, nothing to do yet, the message is still being
 * retried"; headers of the message only) for spool file qf after failed
 * try `tries`, spooled like a bounce: to the sender (null sender never;
 * NOTIFY given without DELAY, or NOTIFY=NEVER: not to the sender; NOTIFY
 * absent: yes, XMail's NotifyTryPattern behaviour) and a copy to
 * server.tab TempErrorsAdmin when set (with the log, as above).  Subject:
 * "Delayed mail (still being retried): " and the original Subject (else
 * its Message-ID, else the spool id).  Same loop guard as queue_bounce.
 * The caller decides when (NotifyTryPattern).  Returns 1 when at least
 * one report was spooled, 0 when none is due, -1 on error (logged);
 * *refs and *nrefs as queue_bounce.
 */
int	queue_notify_delay(struct config *cfg, int split,
	    const struct queue_file *qf, const struct queue_failure *why,
	    int tries, time_t next_try, time_t retry_until,
	    struct queue_ref **refs, size_t *nrefs) WARN_UNUSED_RESULT;

/*
 * queue_notify_held - tell PostMaster (server.tab PostMaster, else
 * postmaster@RootDomain) that backup-MX mail (qf, for a domain of
 * mxbackup.tab) has waited `held` seconds for its primary: a delay
 * notice as queue_notify_delay, with the delivery log, whose only
 * recipient is PostMaster (never the sender) and whose Subject is
 * "Backup MX: mail for <domain> held <N> hours: " and the original
 * Subject.  The caller decides when (MXBackupNotifyAfter).  Returns 1
 * when spooled, 0 when not due (loop guard), -1 on error; *refs and
 * *nrefs as queue_bounce.
 */
int	queue_notify_held(struct config *cfg, int split,
	    const struct queue_file *qf, const struct queue_failure *why,
	    int tries, time_t next_try, time_t retry_until, time_t held,
	    struct queue_ref **refs, size_t *nrefs) WARN_UNUSED_RESULT;

/*
 * queue_fail - the whole permanent-failure step (docs/QUEUE.md T5):
 * queue_bounce, then remove the spool file (RemoveSpoolErrors=1) or move
 * it from `dir` to froz/.  *refs and *nrefs as above (may come back empty).
 * Returns 0 or -1 (the file is then left where it was, to be retried).
 * After any call *refs is NULL or memory the caller must free: a report
 * may have been spooled even when the final move failed.
 */
int	queue_fail(struct config *cfg, int split, const struct queue_ref *r,
	    const char *dir, const struct queue_file *qf,
	    const struct queue_failure *why, struct queue_ref **refs,
	    size_t *nrefs) WARN_UNUSED_RESULT;

#endif
