/*
 * notify.h - the report e-mail of `postroom send`: one RFC 5322 message,
 * multipart/mixed (when files are attached) around multipart/alternative
 * with a text/plain part and a text/html part that carry the same facts.
 *
 * The HTML is made for real mail clients: tables and inline styles only,
 * no external resources, a colour-coded header bar per status (success
 * green, failure red, warning amber, info blue), the summary, a table of
 * fields, and a footer with the date and host name.  Every value is
 * HTML-escaped.  Headers are UTF-8 with RFC 2047 encoded words where
 * needed; bodies are quoted-printable (text, HTML) or base64
 * (attachments); no line exceeds 998 octets (RFC 5322 2.1.1) and lines
 * are kept under 78 where the format allows.  Pure: no I/O.
 */
#ifndef POSTROOM_NOTIFY_NOTIFY_H
#define POSTROOM_NOTIFY_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/buf.h"
#include "core/compat.h"

enum notify_status {
	NOTIFY_SUCCESS,
	NOTIFY_FAILURE,
	NOTIFY_WARNING,
	NOTIFY_INFO,
};

/* One row of the fields table (--field KEY=VALUE). */
struct notify_field {
	const char	*key;
	const char	*value;
};

/* One attached file (--attach FILE), read by the caller. */
struct notify_attach {
	const char	*name;		/* file name shown (no directories) */
	const char	*data;
	size_t		 len;
	const char	*type;		/* MIME type, NULL: guessed from the
					   name, else application/octet-stream
					   (text/plain for .log/.txt) */
};

/* What the report says. */
struct notify_msg {
	const char			*app_name;	/* "[app] " in Subject */
	const char			*title;
	enum notify_status		 status;
	const char			*body;		/* summary, UTF-8, may
							   be NULL or "" */
	const struct notify_field	*fields;
	size_t				 nfields;
	const struct notify_attach	*attach;
	size_t				 nattach;
	const char			*from;		/* address */
	const char *const		*to;		/* To: header list */
	size_t				 nto;
	const char			*html_template;	/* NULL: built in */
	const char			*hostname;	/* footer, Message-ID */
	time_t				 when;		/* Date:, footer */
};

/* notify_status_parse - "success", "failure", "warning", "info" (any
 * case) into *st; false for anything else. */
bool	notify_status_parse(const char *s, enum notify_status *st);

/* notify_status_name - "success" ... for a status. */
const char	*notify_status_name(enum notify_status st);

/*
 * notify_header_ok - true when `v` may go into a header: valid UTF-8,
 * no CR, LF or other control character but TAB (header injection).
 */
bool	notify_header_ok(const char *v);

/*
 * notify_html - the HTML part alone (UTF-8, LF line ends, not yet
 * transfer-encoded) appended to `out`: the custom html_template filled in
 * as described under notify_compose, or the built-in report.  This is
 * what notify_compose puts in its text/html part.  A summary that is not
 * valid UTF-8 is shown with U+FFFD for each bad octet, and control
 * characters in the summary, field keys and values become U+FFFD too
 * (line breaks and TAB in the summary and values are kept).  Returns 0,
 * or -1 with a one-line reason in err (out unchanged): title, app_name or
 * hostname failing notify_header_ok, a field key or value or the template
 * that is not valid UTF-8, or out of memory.
 */
int	notify_html(const struct notify_msg *m, struct buf *out, char *err,
	    size_t errlen) WARN_UNUSED_RESULT;

/*
 * notify_compose - the whole message (headers and body, CRLF line ends)
 * appended to `out`: Date, From, To, Subject "[app_name] title" (just
 * the title when app_name is NULL or ""), Message-ID
 * <random@hostname>, MIME-Version, Auto-Submitted: auto-generated
 * (RFC 3834), X-Mailer: postroom.
 * A custom html_template replaces the built-in HTML; its placeholders
 * {{title}}, {{app_name}}, {{status}}, {{status_color}}, {{summary}},
 * {{fields}} (the table rows), {{date}} and {{hostname}} are replaced
 * with HTML-escaped values (an unknown {{...}} is left as it is).
 * Returns 0, or -1 with a one-line reason in err: a header value that
 * fails notify_header_ok (names which one), a field key or value that is
 * not valid UTF-8, no recipient, or out of memory.
 */
int	notify_compose(const struct notify_msg *m, struct buf *out,
	    char *err, size_t errlen) WARN_UNUSED_RESULT;

#endif
