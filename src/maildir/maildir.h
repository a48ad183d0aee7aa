/*
 * maildir.h - delivery into an account's mailbox, and reading it back for
 * POP3.
 *
 * Two layouts (manual "MailRoot structure"):
 *  - Maildir (default, -MM): <account>/Maildir/{tmp,new,cur}.  The message
 *    is written to tmp/, fsync'ed, renamed into new/, and new/ is fsync'ed
 *    (DESIGN.md durability rule).  Names follow the Maildir/Dovecot form
 *    "<secs>.M<usecs>P<pid>Q<seq>.<host>,S=<size>,W=<vsize>" so Dovecot can
 *    serve the same store; <host> has '/' and ':' escaped as in Dovecot.
 *    S= is the file size, W= the "virtual" size Dovecot also uses: the
 *    octets of the message once every line ends in CRLF, which is what
 *    POP3 LIST reports, so a listing needs no file reads.
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
#include <stdint.h>

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

/*
 * Reading side (POP3).  Blocking like the rest: worker threads, except that
 * a caller may read one small message on an event loop (maildir_msg_open
 * and maildir_pop3_copy) when it accepts a page-cache read there.
 *
 * POP3 size: the octets of a message with every line ending sent as CRLF,
 * before dot-stuffing (RFC 1939 section 11's "exact size").  A stored CRLF
 * counts 2, a bare LF counts 2 (it is sent as CRLF), a bare CR 1.  XMail
 * wrote files with mixed LF and CRLF endings; both are read.
 * XXX: a last line without a line end is sent with the CRLF that must
 * precede the terminating "." but is listed without it (as Dovecot's W=),
 * so such a message (never one received over SMTP) lists 2 octets short.
 */

/* Where a listed message lives. */
enum maildir_sub {
	MAILDIR_SUB_NEW,	/* Maildir/new */
	MAILDIR_SUB_CUR,	/* Maildir/cur */
	MAILDIR_SUB_MBOX,	/* mailbox (XMail -Mm layout) */
};

/* One message of a mailbox listing. */
struct maildir_msg {
	char		*name;		/* file name, owned by the list */
	size_t		 uid_len;	/* UID = name[0 .. uid_len) */
	uint64_t	 size;		/* octets on disk */
	uint64_t	 pop3_size;	/* octets in CRLF form (see above) */
	uint64_t	 key;		/* delivery time in microseconds */
	enum maildir_sub sub;
};

/* A snapshot of a mailbox. */
struct maildir_list {
	struct maildir_msg *msgs;	/* in delivery order */
	size_t		 n;
	uint64_t	 pop3_total;	/* sum of pop3_size */
};

/*
 * maildir_list - list the messages of the account in `acctdir`:
 *  - Maildir: the files of new/, plus those of cur/ when `scan_cur`
 *    (user.tab Pop3ScanCur); UID = the name up to the first ':' (the
 *    Maildir info part, ":2,<flags>", changes when flags change);
 *  - mailbox: every file of mailbox/; UID = the file name.
 * Files whose name starts with '.' (deliveries in progress), directories
 * and symbolic links are skipped; a missing directory is an empty one.
 * Sizes come from ",S=" and ",W=" in the name when both are there, else
 * from fstat and a read of the file (XMail's and other writers' files).
 * Order: by delivery time taken from the name, "<secs>.M<usecs>..."
 * (Maildir/Dovecot) or "<msecs>...." (XMail, 12 or more digits), then by
 * name; names without a leading number sort first, by name.  A plain
 * string sort would be wrong: "M<usecs>" is not zero-padded.
 * On success *out owns its memory (maildir_list_free).  Returns 0, or -1
 * with errno and *out empty.
 */
int	maildir_list(const char *acctdir, bool maildir, bool scan_cur,
	    struct maildir_list *out) WARN_UNUSED_RESULT;

/* maildir_list_free - release a listing (an empty one is fine). */
void	maildir_list_free(struct maildir_list *l);

/*
 * maildir_msg_path - "<acctdir>/Maildir/new/<name>" (or cur/, mailbox/)
 * into out.  Returns 0 or -1 (ENAMETOOLONG).
 */
int	maildir_msg_path(const char *acctdir, const struct maildir_msg *m,
	    char *out, size_t size) WARN_UNUSED_RESULT;

/*
 * maildir_msg_open - open a listed message for reading (no symbolic
 * links).  Returns the descriptor (the caller closes it), or -1 with errno
 * (ENOENT: it was removed or renamed since the listing).
 */
int	maildir_msg_open(const char *acctdir, const struct maildir_msg *m)
	    WARN_UNUSED_RESULT;

/* A consumer of converted output; returns 0, or -1 to stop. */
typedef int maildir_sink(void *arg, const void *p, size_t n);

/*
 * maildir_pop3_copy - read `fd` to its end and pass the message to `sink`
 * in POP3 form (RFC 1939 section 3), in pieces of at most 16 KiB: every
 * line ending as CRLF, a '.' doubled at the start of a line, a CRLF added
 * after a last line that has none.  The terminating ".CRLF" is not
 * written.  body_lines < 0 copies the whole message; otherwise only the
 * header section, the empty line after it and `body_lines` lines of the
 * body (POP3 TOP; a message without an empty line is all header).
 * Returns 0, or -1 (read error with errno, or the sink's -1).
 */
int	maildir_pop3_copy(int fd, long body_lines, maildir_sink *sink,
	    void *arg) WARN_UNUSED_RESULT;

/*
 * maildir_msg_delete - remove a listed message.  A message that is gone
 * already (removed by another program) counts as removed.  Call
 * maildir_sync once after a batch.  Returns 0 or -1 with errno.
 */
int	maildir_msg_delete(const char *acctdir, const struct maildir_msg *m)
	    WARN_UNUSED_RESULT;

/*
 * maildir_sync - fsync the message directories of the layout (new/ and
 * cur/, or mailbox/), so removals survive a crash.  Returns 0 or -1.
 */
int	maildir_sync(const char *acctdir, bool maildir) WARN_UNUSED_RESULT;

#endif
