/*
 * queue_verify.h - recipient verification against the primary MX (the
 * backup-MX "callout", off by default: server.tab MXBackupVerify 1).
 *
 * A backup MX that accepts any address of its domains must later bounce
 * the mail the primary refuses, as backscatter.  With the callout, RCPT
 * TO for a backup domain first asks the domain's best MX hosts that are
 * better than this server (RFC 5321 5.1, the rule forwarding uses):
 * EHLO, MAIL FROM:<>, RCPT TO:<rcpt>, then QUIT; no message is sent.
 *
 *  - 2xx to RCPT: accepted; remembered MXBackupVerifyTTL seconds
 *    (default 86400);
 *  - 5xx to RCPT: refused; remembered MXBackupVerifyNegTTL seconds
 *    (default 3600);
 *  - anything else (primary down, 4xx, MAIL FROM:<> refused, timeout
 *    after MXBackupVerifyTimeout seconds per step, default 10, no better
 *    MX): unknown, not remembered - the backup accepts, which is what it
 *    is for.
 * The cache is in memory (at most 4096 addresses, lossy).  Runs on loop
 * 0 next to the outbound queue and its resolver.
 */
#ifndef POSTROOM_QUEUE_QUEUE_VERIFY_H
#define POSTROOM_QUEUE_QUEUE_VERIFY_H

#include "core/compat.h"

struct ev_loop;

enum queue_verify_verdict {
	QUEUE_VERIFY_OK,	/* the primary accepts the address */
	QUEUE_VERIFY_REJECTED,	/* the primary refuses it (5xx) */
	QUEUE_VERIFY_UNKNOWN,	/* could not ask: accept */
};

/*
 * The answer: `text` is the primary's reply ("550 5.1.1 ...") or why it
 * is unknown, one line, valid during the call.
 */
typedef void	queue_verify_cb(void *arg, enum queue_verify_verdict v,
		    const char *text);

/*
 * queue_verify - verify `rcpt` (an address without <>).  cb runs exactly
 * once on loop l, never inside this call.  Thread-safe.  Returns 0, or
 * -1 (no memory, not started) and cb never runs.
 */
int	queue_verify(struct ev_loop *l, const char *rcpt, queue_verify_cb *cb,
	    void *arg) WARN_UNUSED_RESULT;

#endif
