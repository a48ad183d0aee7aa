/*
 * store_edit.h - changes to the MailRoot's TAB files, serialised and
 * atomic (CTRL commands; any future writer).
 *
 * Writers take the MailRoot's table lock (an exclusive flock on
 * <mailroot>/.tables.lock), so two CTRL sessions, two worker threads or
 * two postroom processes never interleave a read-modify-write.  A table
 * is always re-read from disk under the lock (a configuration snapshot
 * may be older) and replaced with fs_write_atomic, so readers see the old
 * or the new file, never a mix.  Lines the edit does not touch (comments,
 * blank lines, malformed lines, other records) are kept byte for byte.
 * Blocking: worker threads and tools only.
 */
#ifndef POSTROOM_STORE_STORE_EDIT_H
#define POSTROOM_STORE_STORE_EDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/compat.h"
#include "core/tab.h"

/*
 * store_lock - take the table lock (blocks until it is free).  Returns a
 * descriptor for store_unlock, or -1 (errno) with a message logged.  Not
 * recursive: a thread holding it must not take it again.
 */
int	store_lock(const char *mailroot) WARN_UNUSED_RESULT;

/* store_unlock - release the lock taken by store_lock; -1 is ignored. */
void	store_unlock(int fd);

/* What an edit does with one record of the table. */
enum store_tab_act {
	STORE_TAB_KEEP,		/* keep the line as it is */
	STORE_TAB_DROP,		/* remove the line */
	STORE_TAB_REPLACE,	/* write what rec() put in `repl` instead */
};

/* One read-modify-write of a table. */
struct store_tab_op {
	/*
	 * Called for every record in file order (may be NULL: keep all).
	 * For STORE_TAB_REPLACE, `repl` (empty on entry) holds the new
	 * line(s), normally made with tab_format; an empty `repl` drops
	 * the line.
	 */
	enum store_tab_act (*rec)(const struct tab_rec *r, struct buf *repl,
	    void *arg);
	/*
	 * Called once after every record (may be NULL).  May append
	 * records to `tail` (written at the end of the file).  Returns 0 to
	 * write the result, or a positive value to abort the edit: nothing
	 * is written and store_tab_edit returns that value.
	 */
	int	(*end)(struct buf *tail, void *arg);
	void	*arg;
};

/*
 * store_tab_edit - apply `op` to <mailroot>/<file> (a relative path such
 * as "mailusers.tab" or "domains/x.org/u/mlusers.tab"; a missing file is
 * an empty table and is created when records are added).  The caller
 * holds the table lock.  The file is written only when a record was
 * dropped or replaced or `tail` is not empty; `mode` is used for a new
 * file (existing files keep theirs).  A last line without a newline gets
 * one before the tail.
 * Returns 0 (done, or nothing to change), the positive value end()
 * returned, or -1 (errno; I/O error or file over 64 MiB) with a message
 * logged and the file unchanged.
 */
int	store_tab_edit(const char *mailroot, const char *file, mode_t mode,
	    const struct store_tab_op *op) WARN_UNUSED_RESULT;

#endif
