/*
 * queue_bounce.h - delivery status notifications (bounces).
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
 *    failure report;
 *  - loop guard: a message that already carries our X-MailerError header
 *    is not bounced again.
 * Blocking: worker threads only.
 */
#ifndef POSTROOM_QUEUE_QUEUE_BOUNCE_H
#define POSTROOM_QUEUE_QUEUE_BOUNCE_H

#include <stddef.h>

#include "core/compat.h"
#include "queue/queue.h"

struct config;

/* What went wrong, for the report. */
struct queue_failure {
	const char	*status;	/* RFC 3463 code, e.g. "5.1.1" */
	const char	*diagnostic;	/* e.g. "550 5.1.1 Mailbox unavailable"
					 * or a local explanation */
	const char	*remote_mta;	/* host that refused, or NULL */
};

/*
 * queue_bounce - build and spool the failure report for spool file `qf`
 * (its recipient failed permanently).  On success *refs and *nrefs describe
 * the spooled report files (malloc'ed; the caller schedules their
 * delivery and frees).  Returns 1 when a report was spooled, 0 when none is
 * due (null sender, NOTIFY, loop guard), -1 on error (logged).
 */
int	queue_bounce(struct config *cfg, int split,
	    const struct queue_file *qf, const struct queue_failure *why,
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
