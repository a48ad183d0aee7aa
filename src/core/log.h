/*
 * log.h - diagnostics and XMail-style service logs.
 *
 * Two kinds of output:
 *  - diagnostics (log_debug .. log_error, fatal, fatalx): one line per event,
 *    `key=value` pairs where useful.  They go to syslog (facility mail) when
 *    enabled, and to stderr when debug mode (-Md) or foreground mode is on.
 *    log_debug lines are dropped unless debug mode is on.
 *  - service logs (log_svc): XMail's per-service log files
 *    `logs/<svc>-YYYYMMDDHHMM`, one quoted TAB record per line, a new file
 *    every `rotate_hours` hours (-Mr).  Enabled per service (-Sl, -Pl, -Fl...).
 *
 * All functions are thread-safe and keep errno unchanged (so `log_warn(...);
 * return -1;` keeps the caller's errno), except where noted.  Never pass
 * credentials to any of them.
 */
#ifndef POSTROOM_CORE_LOG_H
#define POSTROOM_CORE_LOG_H

#include <stdbool.h>
#include <time.h>

#include "core/compat.h"

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

/*
 * log_init - configure diagnostics.  ident names the program in syslog and
 * on stderr (copied, truncated to 63 bytes; NULL means "postroom");
 * use_syslog sends lines to syslog with facility LOG_MAIL and LOG_PID;
 * to_stderr copies every line to stderr; debug enables log_debug output and
 * implies to_stderr.  May be called again to change settings.  Before the
 * first call the settings are ("postroom", no syslog, stderr, no debug).
 */
void	log_init(const char *ident, bool use_syslog, bool to_stderr,
	    bool debug);

/* log_debug_enabled - true when log_debug lines are emitted. */
bool	log_debug_enabled(void);

/*
 * log_svc_init - directory for service logs (created with mode 0750 and
 * parents if missing) and the rotation period in hours (0 means never
 * rotate).  Closes the service logs already open.  Returns 0 or -1 (errno;
 * EINVAL for an empty directory or a negative period).
 */
int	log_svc_init(const char *logdir, int rotate_hours) WARN_UNUSED_RESULT;

/*
 * log_svc - append one record to the service log `svc` (e.g. "finger").
 * Fields are written quoted with `"` escaped as `\"`, TAB-separated,
 * LF-terminated; a NULL field is written as "".  Control characters (below
 * 0x20 and 0x7f, so also TAB, CR and LF) in fields are replaced by '?' so a
 * record is always one line.  The record goes to `<logdir>/<svc>-YYYYMMDDHHMM`
 * (local time at which that file was opened; mode 0640, appended to), with
 * one write(2), so records of concurrent threads never mix.  The file stays
 * open; when the rotation period has passed since it was opened, the next
 * record starts a new file.  Up to 16 services stay open at once; beyond
 * that a file is opened and closed per record.
 * `svc` must be 1 to 31 characters of [A-Za-z0-9._-], not starting with '.'.
 * Returns 0, or -1 (errno: EINVAL for a bad name or before log_svc_init,
 * EMSGSIZE for a record over 64 KiB, or the open/write error) if the record
 * could not be written; the failure is also logged with log_warn.
 */
int	log_svc(const char *svc, const char *const *fields, int nfields);

/*
 * log_svc_set_clock - for tests: the clock deciding file names and rotation
 * (default time(NULL)); NULL restores the default.  Lets a test move time
 * past the rotation period without waiting hours.
 */
void	log_svc_set_clock(time_t (*now)(void));

/* log_svc_close - close every open service log (shutdown, rotation tests). */
void	log_svc_close(void);

/*
 * log_msg - one diagnostic line at level lvl (printf format; %m works).
 * On stderr: "YYYY-MM-DD HH:MM:SS ident[pid]: LEVEL: message", written with
 * one write(2).  Control characters other than TAB in the message become
 * '?', so one call is always one line; messages over 4 KiB are truncated
 * with "...".  Use the log_debug .. log_error wrappers.
 */
void	log_msg(enum log_level lvl, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
#define log_debug(...)	log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...)	log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

/*
 * fatal - start-up/configuration failure: log at error level and
 * exit(code) (sysexits).  The message goes to stderr when syslog is off,
 * even if log_init disabled stderr.
 */
NORETURN void	fatal(int code, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* fatalx - broken invariant (a bug): log as fatal and abort() (core dump). */
NORETURN void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
