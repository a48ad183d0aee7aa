/*
 * queue_lmail.h - the local mailer (manual "XMAIL LOCAL MAILER").
 *
 * Programs on the machine (postroom sendmail, XMail's sendmail, scripts)
 * prepare a file in MailRoot/spool/temp/ and rename it into
 * MailRoot/spool/local/:
 *
 *	mail from:<sender>
 *	rcpt to:<recipient>		(one or more)
 *	<empty line>
 *	<message, CRLF lines>
 *
 * The local mailer spools each file (queue_submit, id "L..."), prepending
 * "Received: from /spool/local by <SMTP domain> with [postroom LMAIL
 * Server] ...", and removes the file only after the spool files are durable
 * (docs/QUEUE.md T9).  A malformed file is moved to spool/quarantine/.
 * Blocking: worker threads only.
 */
#ifndef POSTROOM_QUEUE_QUEUE_LMAIL_H
#define POSTROOM_QUEUE_QUEUE_LMAIL_H

#include <stdbool.h>
#include <stddef.h>

#include "queue/queue.h"

struct config;

#define QUEUE_LMAIL_FILE_MAX	((size_t)80 << 20)	/* largest file */

/*
 * queue_lmail_run - process every file now in spool/local (oldest first,
 * at most `max_files` per call).  The spooled files are returned in
 * *refs and *nrefs (malloc'ed; the caller schedules local delivery and
 * frees).
 * Returns the number of local-mailer files processed, or -1 on error.
 */
long	queue_lmail_run(struct config *cfg, int split, size_t max_files,
	    struct queue_ref **refs, size_t *nrefs);

/* queue_lmail_set_log - write the `lmail` service log (-Ll): domain,
 * local file, message id, time, sender, recipient, size per recipient. */
void	queue_lmail_set_log(bool on);

#endif
