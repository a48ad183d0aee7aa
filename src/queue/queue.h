/*
 * queue.h - the on-disk spool in XMail's format (docs/QUEUE.md).
 *
 * Spool files live in MailRoot/spool/<L1>/<L2>/{temp,mess,rsnd,info,slog,
 * lock,mprc,froz}/ with L1, L2 in 0..split-1.  Each file holds exactly one
 * recipient (as XMail; filters depend on it):
 *
 *	[clientIP]:port;[serverIP]:port;<date>		info line
 *	<SMTP domain>
 *	<message id, e.g. S1A>
 *	MAIL FROM:<sender> [parameters]
 *	RCPT TO:<recipient> [parameters]
 *	<<MAIL-DATA>>
 *	<message, CRLF lines>
 *
 * All functions here block (fsync, directory scans): call them from worker
 * threads or command-line tools, never from an event loop.
 */
#ifndef POSTROOM_QUEUE_QUEUE_H
#define POSTROOM_QUEUE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/compat.h"

#define QUEUE_NAME_MAX		128	/* spool file name */
#define QUEUE_LINE_MAX		2048	/* longest spool header line */

/* Where a spool file is. */
struct queue_ref {
	int	l1, l2;				/* bucket */
	char	name[QUEUE_NAME_MAX + 1];	/* file name */
};

/* The envelope of a message to spool. */
struct queue_env {
	const char		*info;		/* info line, no CR/LF */
	const char		*smtp_domain;	/* receiving domain */
	const char		*msgid;		/* "S1A", "L2B", "X3C" ... */
	const char		*mail_from;	/* "MAIL FROM:<a@b> ..." line */
	const char *const	*rcpts;		/* "RCPT TO:<x@y> ..." lines */
	size_t			 nrcpts;
};

/*
 * queue_msgid_next - take the next number of MailRoot/message.id (XMail:
 * read N, use and store N+1; a missing file counts as 1) under an
 * exclusive lock, stored with fs_write_atomic so a crash never loses or
 * repeats a number.  Returns 0 and *id, or -1 (logged).
 */
int	queue_msgid_next(const char *mailroot, uint64_t *id)
	    WARN_UNUSED_RESULT;

/*
 * queue_msgid_take - as queue_msgid_next, but message.id is advanced by
 * QUEUE_MSGID_BLOCK numbers at a time and the numbers are handed out from
 * memory: one locked, fsynced file update per block instead of one per
 * message (it used to serialise every commit).  After a restart the unused
 * rest of a block is skipped, so numbers never repeat; they may jump.
 */
#define QUEUE_MSGID_BLOCK	64
int	queue_msgid_take(const char *mailroot, uint64_t *id)
	    WARN_UNUSED_RESULT;

/*
 * queue_submit - write one spool file per recipient into temp/ of a random
 * bucket, fsync each, rename into mess/, fsync the directories.  Only then
 * is the message accepted (DESIGN.md durability rule).  All or nothing: on
 * failure no file is left in mess/ or temp/.  Every header value is checked
 * for CR, LF and NUL again (belt and braces against spool injection).
 * refs gets nrcpts entries.  Returns 0 or -1 (logged).
 */
int	queue_submit(const char *mailroot, int split,
	    const struct queue_env *env, const char *data, size_t len,
	    struct queue_ref *refs) WARN_UNUSED_RESULT;

/* A spool file read back. */
struct queue_file {
	struct buf	raw;		/* whole file */
	char		*info;		/* pointers into raw, NUL-terminated */
	char		*smtp_domain;
	char		*msgid;
	char		*mail_from;	/* the MAIL FROM line */
	char		*rcpt;		/* the RCPT TO line */
	char		 from[320];	/* address inside MAIL FROM <...> */
	char		 to[320];	/* address inside RCPT TO <...> */
	const char	*data;		/* message after <<MAIL-DATA>> */
	size_t		 datalen;
};

/*
 * queue_file_load - read and parse a spool file (limit: max bytes).
 * Returns 0, or -1 with errno (EINVAL for a malformed file).  Release with
 * queue_file_free.
 */
int	queue_file_load(const char *path, size_t max, struct queue_file *qf)
	    WARN_UNUSED_RESULT;
void	queue_file_free(struct queue_file *qf);

/*
 * queue_line_addr - copy the address between the first '<' after `prefix`
 * (e.g. "MAIL FROM:", matched case-insensitively at the line start) and
 * its closing '>' into out; quoted strings and backslash escapes may hide
 * a '>'.  "<>" gives "".  Returns 0, or -1 with EINVAL.
 */
int	queue_line_addr(const char *line, const char *prefix, char *out,
	    size_t size) WARN_UNUSED_RESULT;

/* queue_path - "<mailroot>/spool/<l1>/<l2>/<dir>/<name>". 0 or -1. */
int	queue_path(const char *mailroot, const struct queue_ref *r,
	    const char *dir, char *out, size_t size) WARN_UNUSED_RESULT;

/*
 * queue_scan - call cb for every file in <dir> (e.g. "mess") of every
 * bucket, in no particular order.  Stops early if cb returns -1.
 * Returns the number of files seen, or -1 on error.
 */
long	queue_scan(const char *mailroot, int split, const char *dir,
	    int (*cb)(const struct queue_ref *r, void *arg), void *arg);

/*
 * queue_move - rename a spool file from one bucket directory to another
 * ("mess" -> "froz") and fsync the target directory.  0 or -1.
 */
int	queue_move(const char *mailroot, const struct queue_ref *r,
	    const char *from, const char *to) WARN_UNUSED_RESULT;

/*
 * queue_quarantine - move an unreadable or corrupt file to
 * MailRoot/spool/quarantine/ (created if needed), keeping its name, and log
 * why.  0 or -1.
 */
int	queue_quarantine(const char *mailroot, const struct queue_ref *r,
	    const char *dir, const char *why);

/* queue_remove - unlink a spool file and fsync its directory.  0 or -1. */
int	queue_remove(const char *mailroot, const struct queue_ref *r,
	    const char *dir) WARN_UNUSED_RESULT;

#endif
