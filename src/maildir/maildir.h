/*
 * maildir.h - delivery into an account's mailbox.
 *
 * Two layouts (manual "MailRoot structure"):
 *  - Maildir (default, -MM): <account>/Maildir/{tmp,new,cur}.  The message
 *    is written to tmp/, fsync'ed, renamed into new/, and new/ is fsync'ed
 *    (DESIGN.md durability rule).  Names follow the Maildir/Dovecot form
 *    "<secs>.M<usecs>P<pid>Q<seq>.<host>,S=<size>" so Dovecot can serve the
 *    same store; <host> has '/' and ':' escaped as in Dovecot.
 *  - mailbox (-Mm): <account>/mailbox/<name>, written to a temporary file
 *    in the same directory first, then renamed.
 *
 * The stored file starts with "Return-Path: <sender>" and
 * "Delivered-To: <recipient>" (XMail: both skipped when the message
 * already carries a Return-Path header), followed by the message.  Lines
 * are stored with LF endings (the Unix Maildir convention; XMail 1.26+ did
 * the same for its own lines).  Blocking: worker threads only.
 */
#ifndef POSTROOM_MAILDIR_MAILDIR_H
#define POSTROOM_MAILDIR_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/compat.h"

#define MAILDIR_NAME_MAX	255

/*
 * maildir_deliver - store `data` (CRLF lines) for one recipient in the
 * account directory `acctdir`.  `return_path` is the envelope sender (""
 * for the null sender), `delivered_to` the recipient address.  `name_out`
 * (may be NULL) receives the file name.  Returns 0, or -1 with errno and
 * nothing left behind.
 */
int	maildir_deliver(const char *acctdir, bool maildir,
	    const char *return_path, const char *delivered_to,
	    const char *data, size_t len, char *name_out, size_t name_size)
	    WARN_UNUSED_RESULT;

/*
 * maildir_size - octets used by the account's messages (Maildir new/ and
 * cur/, or mailbox/), for MaxMBSize quota checks.  -1 on error.
 */
long long	maildir_size(const char *acctdir, bool maildir);

#endif
