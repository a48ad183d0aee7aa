/*
 * notify.c - the report e-mail of `postroom send`.
 *
 * The message is built in three steps: the input is checked (anything that
 * goes into a header must pass notify_header_ok, every field must be valid
 * UTF-8), the two renderings are made from cleaned copies of the values
 * (notify_clean: no control characters, one kind of line break), and the
 * MIME structure is written around them.  Every body is quoted-printable
 * or base64, so the whole message is 7-bit except addresses that are
 * UTF-8 themselves (RFC 6532), and no boundary can occur inside a part:
 * boundaries start with "=_", which neither encoding ever produces.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "core/addr.h"
#include "core/base64.h"
#include "core/log.h"
#include "core/rfcdate.h"
#include "notify/notify.h"

#define NOTIFY_HDR_LINE		78	/* header lines kept within (RFC 5322
					   2.1.1 "SHOULD") */
#define NOTIFY_EW_MAX		75	/* encoded-word length, RFC 2047 2 */
#define NOTIFY_QP_LINE		76	/* RFC 2045 6.7 rule 5 */
#define NOTIFY_B64_IN		57	/* octets per 76-character line */
#define NOTIFY_ADDR_MAX		512	/* a From or To entry: keeps the line
					   far below 998 octets */
#define NOTIFY_FNAME_SIMPLE	60	/* longer file names use RFC 2231 */
#define NOTIFY_FNAME_SEG	48	/* encoded octets per RFC 2231 part */
#define NOTIFY_TYPE_MAX		255	/* type/subtype, RFC 6838 4.2 */
#define NOTIFY_KEY_COLS		24	/* text part: keys aligned up to this */
#define NOTIFY_RAND		16	/* random octets per identifier */
#define NOTIFY_ID_MAX		(2 * NOTIFY_RAND + 16)

#define NOTIFY_REPL		"\xef\xbf\xbd"	/* U+FFFD */
#define NOTIFY_EW_OPEN		"=?UTF-8?B?"
#define NOTIFY_EW_CLOSE		"?="
#define NOTIFY_OOM		"out of memory or message too large"

/* Inline styles shared by the cells (mail clients drop <style> blocks,
 * and Outlook does not inherit fonts into table cells). */
#define NOTIFY_FONT	"font-family:-apple-system,BlinkMacSystemFont," \
	"'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif"
#define NOTIFY_WRAP	"word-break:break-word;overflow-wrap:anywhere"
#define NOTIFY_LINE_CLR	"#e5e7eb"	/* borders */

/* How one status looks; every text colour has 4.5:1 contrast or more
 * on its background (WCAG 2 AA). */
struct notify_style {
	const char	*name;		/* "success" */
	const char	*word;		/* badge text (colour-blind readers) */
	const char	*bar;		/* header bar background */
	const char	*fg;		/* header bar text */
	const char	*badge_fg;	/* badge text on white */
};

static const struct notify_style notify_styles[] = {
	[NOTIFY_SUCCESS] = { "success", "SUCCESS", "#15803d", "#ffffff",
	    "#15803d" },
	[NOTIFY_FAILURE] = { "failure", "FAILURE", "#b91c1c", "#ffffff",
	    "#b91c1c" },
	[NOTIFY_WARNING] = { "warning", "WARNING", "#f59e0b", "#1f2937",
	    "#92400e" },
	[NOTIFY_INFO] = { "info", "INFO", "#1d4ed8", "#ffffff", "#1d4ed8" },
};

/* Guessed attachment types, by file name ending (case ignored). */
static const struct {
	const char	*ext;
	const char	*type;
} notify_types[] = {
	{ ".log", "text/plain" }, { ".txt", "text/plain" },
	{ ".csv", "text/csv" }, { ".html", "text/html" },
	{ ".htm", "text/html" }, { ".json", "application/json" },
	{ ".xml", "application/xml" }, { ".pdf", "application/pdf" },
	{ ".zip", "application/zip" }, { ".gz", "application/gzip" },
	{ ".tgz", "application/gzip" }, { ".png", "image/png" },
	{ ".jpg", "image/jpeg" }, { ".jpeg", "image/jpeg" },
};

/* Code points shown two columns wide in a terminal (East Asian wide and
 * full-width forms, emoji); enough to align the text part's keys. */
static const struct {
	uint32_t	lo, hi;
} notify_wide[] = {
	{ 0x1100, 0x115f }, { 0x2e80, 0xa4cf }, { 0xac00, 0xd7a3 },
	{ 0xf900, 0xfaff }, { 0xfe30, 0xfe4f }, { 0xff00, 0xff60 },
	{ 0xffe0, 0xffe6 }, { 0x1f300, 0x1faff }, { 0x20000, 0x3fffd },
};

/* What the renderings share: the checked message and derived strings. */
struct notify_ctx {
	const struct notify_msg		*m;
	const struct notify_style	*st;
	const char	*title;		/* title, or the status word */
	const char	*app;		/* app name or "" */
	const char	*host;		/* host name for the footer */
	char		 date[RFCDATE_MAX];	/* Date: and footer */
	struct buf	 key, val;	/* scratch for cleaned values */
};

/* Random identifiers of one message. */
struct notify_ids {
	char	msgid[NOTIFY_ID_MAX];	/* left part of Message-ID */
	char	alt[NOTIFY_ID_MAX];	/* multipart/alternative boundary */
	char	mix[NOTIFY_ID_MAX];	/* multipart/mixed boundary */
};

/*
 * Characters.
 */

/*
 * notify_utf8_len - length (1 to 4) of the well-formed UTF-8 character at
 * s[0..n), its code point in *cp; 0 for overlong forms, surrogates, values
 * above U+10FFFF and truncated sequences (RFC 3629 4).
 */
static size_t
notify_utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t v, min;
	size_t len, i;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		v = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		v = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		v = s[0] & 0x07;
		min = 0x10000;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/* notify_utf8_ok - s[0..n) is well-formed UTF-8 */
static bool
notify_utf8_ok(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t cp;
	size_t i, k;

	for (i = 0; i < n; i += k)
		if ((k = notify_utf8_len(u + i, n - i, &cp)) == 0)
			return false;
	return true;
}

/*
 * notify_char - length of the character at s[0..n) (n > 0), its code point
 * in *cp; a malformed octet counts as one character U+FFFD
 */
static size_t
notify_char(const char *s, size_t n, uint32_t *cp)
{
	size_t k;

	if ((k = notify_utf8_len((const unsigned char *)s, n, cp)) == 0) {
		*cp = 0xfffd;
		k = 1;
	}
	return k;
}

/* notify_is_ctrl - C0, DEL or C1 control character */
static bool
notify_is_ctrl(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* notify_cols - columns a code point takes in a monospaced text reader */
static size_t
notify_cols(uint32_t cp)
{
	size_t i;

	if ((cp >= 0x300 && cp <= 0x36f) || cp == 0x200d ||
	    (cp >= 0xfe00 && cp <= 0xfe0f))
		return 0;	/* combining marks, joiners, selectors */
	for (i = 0; i < nitems(notify_wide); i++)
		if (cp >= notify_wide[i].lo && cp <= notify_wide[i].hi)
			return 2;
	return 1;
}

/* notify_width - columns of a cleaned (valid UTF-8) string */
static size_t
notify_width(const char *s)
{
	size_t n = strlen(s), i, k, w = 0;
	uint32_t cp;

	for (i = 0; i < n; i += k) {
		k = notify_char(s + i, n - i, &cp);
		w += notify_cols(cp);
	}
	return w;
}

/*
 * notify_clean - s (may be NULL) into b as text that is safe to render:
 * each malformed octet and each control character becomes U+FFFD.  With
 * `lines`, CR LF, CR and LF become LF and TAB stays; without, they become
 * a space.  Trailing white space and line breaks are dropped.
 */
static int
notify_clean(struct buf *b, const char *s, bool lines)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = s == NULL ? 0 : strlen(s), i, k;
	uint32_t cp;
	int r = 0;

	buf_reset(b);
	for (i = 0; i < n && r == 0; i += k) {
		if ((k = notify_utf8_len(u + i, n - i, &cp)) == 0) {
			k = 1;
			r = buf_puts(b, NOTIFY_REPL);
		} else if (cp == '\r' || cp == '\n') {
			if (cp == '\r' && i + 1 < n && u[i + 1] == '\n')
				k = 2;
			r = buf_putc(b, lines ? '\n' : ' ');
		} else if (cp == '\t')
			r = buf_putc(b, lines ? '\t' : ' ');
		else if (notify_is_ctrl(cp))
			r = buf_puts(b, NOTIFY_REPL);
		else
			r = buf_append(b, u + i, k);
	}
	while (r == 0 && b->len > 0 &&
	    strchr(" \t\n", b->data[b->len - 1]) != NULL)
		b->data[--b->len] = '\0';
	return r;
}

/* notify_html_ref - the character reference that stands for c, or NULL */
static const char *
notify_html_ref(char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	default:
		return NULL;
	}
}

/*
 * notify_esc - s HTML-escaped (& < > " ' as references, so a value is safe
 * in text and in quoted attributes).  With `br`, a line break becomes <br>
 * and runs of spaces or TABs keep their width (&nbsp;), so summaries and
 * indented values look as written.
 */
static int
notify_esc(struct buf *out, const char *s, bool br)
{
	const char *e;
	bool sp = true;		/* at a line start or after a space */
	int r = 0;

	for (; *s != '\0' && r == 0; s++) {
		if (*s == '\n')
			e = br ? "<br>\n" : " ";
		else if (*s == ' ' || *s == '\t')
			e = br && sp ? "&nbsp;" : " ";
		else
			e = notify_html_ref(*s);
		r = e != NULL ? buf_puts(out, e) : buf_putc(out, *s);
		sp = *s == ' ' || *s == '\t' || *s == '\n';
	}
	return r;
}

/* notify_err - a one-line reason into err */
static int __attribute__((format(printf, 3, 4)))
notify_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* notify_undo - give out back its length from before a failed call */
static void
notify_undo(struct buf *out, size_t start)
{
	out->len = start;
	if (out->cap > 0)
		out->data[start] = '\0';
}

/*
 * Statuses and checks.
 */

/* notify_style - the look of a status; a value outside the enum is a bug */
static const struct notify_style *
notify_style(enum notify_status st)
{
	if ((size_t)st >= nitems(notify_styles))
		fatalx("%s: bad status %d", __func__, (int)st);
	return &notify_styles[st];
}

/* notify_status_parse - a status name, case ignored */
bool
notify_status_parse(const char *s, enum notify_status *st)
{
	size_t i;

	for (i = 0; s != NULL && i < nitems(notify_styles); i++)
		if (strcasecmp(s, notify_styles[i].name) == 0) {
			*st = (enum notify_status)i;
			return true;
		}
	return false;
}

/* notify_status_name - the lower-case name */
const char *
notify_status_name(enum notify_status st)
{
	return notify_style(st)->name;
}

/* notify_header_ok - valid UTF-8 without control characters but TAB */
bool
notify_header_ok(const char *v)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t n, i, k;
	uint32_t cp;

	if (v == NULL)
		return false;
	n = strlen(v);
	for (i = 0; i < n; i += k) {
		if ((k = notify_utf8_len(u + i, n - i, &cp)) == 0)
			return false;
		if (notify_is_ctrl(cp) && cp != '\t')
			return false;
	}
	return true;
}

/* notify_check_content - what both renderings need; 0 or -1 with err */
static int
notify_check_content(const struct notify_msg *m, char *err, size_t errlen)
{
	const char *bad = NULL;
	size_t i;

	if (m->title != NULL && !notify_header_ok(m->title))
		bad = "title";
	else if (m->app_name != NULL && !notify_header_ok(m->app_name))
		bad = "app name";
	else if (m->hostname != NULL && !notify_header_ok(m->hostname))
		bad = "host name";
	if (bad != NULL)
		return notify_err(err, errlen, "%s refused: it holds a line "
		    "break, a control character or invalid UTF-8", bad);
	for (i = 0; i < m->nfields; i++) {
		if (m->fields[i].key == NULL || !notify_utf8_ok(
		    m->fields[i].key, strlen(m->fields[i].key)))
			return notify_err(err, errlen, "field %zu: the key is "
			    "not valid UTF-8", i + 1);
		if (m->fields[i].value == NULL || !notify_utf8_ok(
		    m->fields[i].value, strlen(m->fields[i].value)))
			return notify_err(err, errlen, "field %zu: the value "
			    "is not valid UTF-8", i + 1);
	}
	if (m->html_template != NULL && !notify_utf8_ok(m->html_template,
	    strlen(m->html_template)))
		return notify_err(err, errlen, "the HTML template is not "
		    "valid UTF-8");
	return 0;
}

/* notify_check_addr - a From or To entry; 0 or -1 with err */
static int
notify_check_addr(const char *what, const char *a, char *err, size_t errlen)
{
	if (a == NULL || *a == '\0')
		return notify_err(err, errlen, "%s: empty address", what);
	if (!notify_header_ok(a))
		return notify_err(err, errlen, "%s refused: it holds a line "
		    "break, a control character or invalid UTF-8", what);
	if (strlen(a) > NOTIFY_ADDR_MAX)
		return notify_err(err, errlen, "%s: address longer than %d "
		    "octets", what, NOTIFY_ADDR_MAX);
	return 0;
}

/* notify_type_ok - "type/subtype" made of RFC 2045 token characters */
static bool
notify_type_ok(const char *t)
{
	size_t i, slash = 0, n = strlen(t);

	if (n == 0 || n > NOTIFY_TYPE_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if (t[i] == '/' && slash == 0 && i > 0)
			slash = i;
		else if (t[i] <= ' ' || t[i] >= 127 ||
		    strchr("()<>@,;:\\\"/[]?=", t[i]) != NULL)
			return false;
	}
	return slash > 0 && slash + 1 < n;
}

/* notify_check_envelope - From, To and attachments; 0 or -1 with err */
static int
notify_check_envelope(const struct notify_msg *m, char *err, size_t errlen)
{
	size_t i;

	if (notify_check_addr("from", m->from, err, errlen) == -1)
		return -1;
	if (m->nto == 0)
		return notify_err(err, errlen, "no recipient");
	for (i = 0; i < m->nto; i++)
		if (notify_check_addr("to", m->to[i], err, errlen) == -1)
			return -1;
	for (i = 0; i < m->nattach; i++) {
		if (m->attach[i].name == NULL ||
		    !notify_header_ok(m->attach[i].name))
			return notify_err(err, errlen, "attachment %zu: the "
			    "name holds a line break, a control character or "
			    "invalid UTF-8", i + 1);
		if (m->attach[i].type != NULL &&
		    !notify_type_ok(m->attach[i].type))
			return notify_err(err, errlen, "attachment %zu: bad "
			    "MIME type (want type/subtype)", i + 1);
	}
	return 0;
}

/* notify_ctx_init - derived strings and scratch buffers sized like out */
static void
notify_ctx_init(struct notify_ctx *c, const struct notify_msg *m,
    size_t max)
{
	c->m = m;
	c->st = notify_style(m->status);
	c->title = m->title != NULL && *m->title != '\0' ? m->title :
	    c->st->word;
	c->app = m->app_name != NULL ? m->app_name : "";
	c->host = m->hostname != NULL && *m->hostname != '\0' ?
	    m->hostname : "localhost";
	(void)rfcdate(m->when, c->date, sizeof(c->date));
	buf_init(&c->key, max);
	buf_init(&c->val, max);
}

/* notify_ctx_clear - free the scratch buffers */
static void
notify_ctx_clear(struct notify_ctx *c)
{
	buf_clear(&c->key);
	buf_clear(&c->val);
}

/*
 * HTML.
 */

/* notify_html_rows - the fields as table rows, zebra-striped */
static int
notify_html_rows(struct notify_ctx *c, struct buf *out)
{
	const char *cell = "padding:8px 12px;vertical-align:top;"
	    "border-bottom:1px solid " NOTIFY_LINE_CLR ";" NOTIFY_FONT ";"
	    NOTIFY_WRAP;
	size_t i;

	for (i = 0; i < c->m->nfields; i++) {
		if (notify_clean(&c->key, c->m->fields[i].key, false) == -1 ||
		    notify_clean(&c->val, c->m->fields[i].value, true) == -1)
			return -1;
		if (buf_printf(out, "<tr style=\"background-color:%s\">\n"
		    "<td width=\"35%%\" style=\"width:35%%;%s;font-weight:600;"
		    "color:#374151\">", i % 2 == 0 ? "#ffffff" : "#f3f4f6",
		    cell) == -1 ||
		    notify_esc(out, c->key.data, false) == -1 ||
		    buf_printf(out, "</td>\n<td style=\"%s;color:#111827\">",
		    cell) == -1 ||
		    notify_esc(out, c->val.data, true) == -1 ||
		    buf_puts(out, "</td>\n</tr>\n") == -1)
			return -1;
	}
	return 0;
}

/* notify_html_summary - the summary, escaped, line breaks kept */
static int
notify_html_summary(struct notify_ctx *c, struct buf *out)
{
	if (notify_clean(&c->val, c->m->body, true) == -1)
		return -1;
	return notify_esc(out, c->val.data, true);
}

/* notify_html_footer - "Sent by APP from HOST" */
static int
notify_html_footer(struct notify_ctx *c, struct buf *out)
{
	if (buf_puts(out, "Sent ") == -1)
		return -1;
	if (*c->app != '\0' && (buf_puts(out, "by <strong>") == -1 ||
	    notify_esc(out, c->app, false) == -1 ||
	    buf_puts(out, "</strong> ") == -1))
		return -1;
	if (buf_puts(out, "from ") == -1 ||
	    notify_esc(out, c->host, false) == -1)
		return -1;
	return buf_printf(out, "<br>\n%s", c->date);
}

/* notify_html_head - document head and the centred 600 px frame */
static int
notify_html_head(struct notify_ctx *c, struct buf *out)
{
	if (buf_puts(out, "<!DOCTYPE html>\n<html>\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n"
	    /* The colours are chosen for a light page: no dark rewrite. */
	    "<meta name=\"color-scheme\" content=\"light\">\n"
	    "<meta name=\"supported-color-schemes\" content=\"light\">\n"
	    "<title>") == -1)
		return -1;
	if (*c->app != '\0' && (buf_putc(out, '[') == -1 ||
	    notify_esc(out, c->app, false) == -1 ||
	    buf_puts(out, "] ") == -1))
		return -1;
	if (notify_esc(out, c->title, false) == -1)
		return -1;
	return buf_puts(out, "</title>\n</head>\n"
	    "<body style=\"margin:0;padding:0;background-color:#f3f4f6\">\n"
	    "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" "
	    "cellspacing=\"0\" border=\"0\" style=\"width:100%;"
	    "background-color:#f3f4f6\">\n"
	    "<tr>\n<td align=\"center\" style=\"padding:24px 12px\">\n"
	    "<table role=\"presentation\" width=\"600\" cellpadding=\"0\" "
	    "cellspacing=\"0\" border=\"0\" style=\"width:100%;"
	    "max-width:600px;background-color:#ffffff;"
	    "border:1px solid " NOTIFY_LINE_CLR ";border-radius:8px;"
	    "border-collapse:separate;color:#1f2937\">\n");
}

/* notify_html_bar - the coloured header bar: badge, app name, title */
static int
notify_html_bar(struct notify_ctx *c, struct buf *out)
{
	if (buf_printf(out, "<tr>\n<td style=\"background-color:%s;"
	    "color:%s;padding:20px 24px;border-radius:8px 8px 0 0;%s\">\n"
	    "<span style=\"display:inline-block;background-color:#ffffff;"
	    "color:%s;font-size:12px;font-weight:700;letter-spacing:1px;"
	    "line-height:20px;padding:0 10px;border-radius:10px\">%s</span>",
	    c->st->bar, c->st->fg, NOTIFY_FONT, c->st->badge_fg,
	    c->st->word) == -1)
		return -1;
	if (*c->app != '\0' && (buf_puts(out, "\n<span style=\"font-size:"
	    "13px;font-weight:600;padding-left:8px\">") == -1 ||
	    notify_esc(out, c->app, false) == -1 ||
	    buf_puts(out, "</span>") == -1))
		return -1;
	if (buf_printf(out, "\n<h1 style=\"margin:12px 0 0 0;font-size:22px;"
	    "line-height:1.3;font-weight:700;color:%s;%s;%s\">", c->st->fg,
	    NOTIFY_FONT, NOTIFY_WRAP) == -1 ||
	    notify_esc(out, c->title, false) == -1)
		return -1;
	return buf_puts(out, "</h1>\n</td>\n</tr>\n");
}

/* notify_html_builtin - the built-in report */
static int
notify_html_builtin(struct notify_ctx *c, struct buf *out)
{
	if (notify_html_head(c, out) == -1 || notify_html_bar(c, out) == -1)
		return -1;
	if (notify_clean(&c->val, c->m->body, true) == -1)
		return -1;
	if (c->val.len > 0 && (buf_printf(out, "<tr>\n<td style=\"padding:"
	    "20px 24px 4px 24px;font-size:15px;line-height:1.55;"
	    "color:#1f2937;%s;%s\">\n", NOTIFY_FONT, NOTIFY_WRAP) == -1 ||
	    notify_esc(out, c->val.data, true) == -1 ||
	    buf_puts(out, "\n</td>\n</tr>\n") == -1))
		return -1;
	if (c->m->nfields > 0 && (buf_puts(out, "<tr>\n<td style=\"padding:"
	    "16px 24px 20px 24px\">\n<table role=\"presentation\" "
	    "width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" "
	    "style=\"width:100%;border-collapse:collapse;table-layout:fixed;"
	    "font-size:14px;line-height:1.45;border:1px solid "
	    NOTIFY_LINE_CLR "\">\n") == -1 ||
	    notify_html_rows(c, out) == -1 ||
	    buf_puts(out, "</table>\n</td>\n</tr>\n") == -1))
		return -1;
	if (buf_printf(out, "<tr>\n<td style=\"padding:14px 24px;"
	    "border-top:1px solid " NOTIFY_LINE_CLR ";"
	    "background-color:#f9fafb;border-radius:0 0 8px 8px;"
	    "font-size:12px;line-height:1.5;color:#4b5563;%s;%s\">\n",
	    NOTIFY_FONT, NOTIFY_WRAP) == -1 ||
	    notify_html_footer(c, out) == -1)
		return -1;
	return buf_puts(out, "\n</td>\n</tr>\n</table>\n</td>\n</tr>\n"
	    "</table>\n</body>\n</html>\n");
}

/*
 * notify_html_var - the value of placeholder name[0..n) into out: 0, 1
 * when the name is unknown (nothing written), -1 on a buffer failure
 */
static int
notify_html_var(struct notify_ctx *c, const char *name, size_t n,
    struct buf *out)
{
	const struct {
		const char	*name;
		const char	*value;		/* NULL: made by a function */
	} vars[] = {
		{ "title", c->title }, { "app_name", c->app },
		{ "status", c->st->name }, { "status_color", c->st->bar },
		{ "date", c->date }, { "hostname", c->host },
		{ "summary", NULL }, { "fields", NULL },
	};
	size_t i;

	for (i = 0; i < nitems(vars); i++) {
		if (strlen(vars[i].name) != n ||
		    memcmp(vars[i].name, name, n) != 0)
			continue;
		if (vars[i].value != NULL)
			return notify_esc(out, vars[i].value, false);
		return strcmp(vars[i].name, "summary") == 0 ?
		    notify_html_summary(c, out) : notify_html_rows(c, out);
	}
	return 1;
}

/*
 * notify_html_fill - the custom template with its placeholders replaced
 * ("{{ name }}" with spaces works too).  Values are inserted, never
 * scanned again, so a value cannot bring in a placeholder.
 */
static int
notify_html_fill(struct notify_ctx *c, const char *tpl, struct buf *out)
{
	const char *p = tpl, *open, *close, *name, *end;
	int r;

	while ((open = strstr(p, "{{")) != NULL) {
		if (buf_append(out, p, (size_t)(open - p)) == -1)
			return -1;
		if ((close = strstr(open + 2, "}}")) == NULL) {
			p = open;
			break;
		}
		for (name = open + 2; *name == ' '; name++)
			;
		for (end = close; end > name && end[-1] == ' '; end--)
			;
		if ((r = notify_html_var(c, name, (size_t)(end - name),
		    out)) == -1)
			return -1;
		if (r == 1) {
			/* Unknown: keep "{{" and look again after it. */
			if (buf_puts(out, "{{") == -1)
				return -1;
			p = open + 2;
		} else
			p = close + 2;
	}
	return buf_puts(out, p);
}

/* notify_html_ctx - the HTML part for a checked message */
static int
notify_html_ctx(struct notify_ctx *c, struct buf *out)
{
	if (c->m->html_template != NULL)
		return notify_html_fill(c, c->m->html_template, out);
	return notify_html_builtin(c, out);
}

/* notify_html - the HTML part alone */
int
notify_html(const struct notify_msg *m, struct buf *out, char *err,
    size_t errlen)
{
	struct notify_ctx c;
	size_t start = out->len;
	int r;

	if (notify_check_content(m, err, errlen) == -1)
		return -1;
	notify_ctx_init(&c, m, out->max);
	r = notify_html_ctx(&c, out);
	notify_ctx_clear(&c);
	if (r == -1) {
		notify_undo(out, start);
		return notify_err(err, errlen, NOTIFY_OOM);
	}
	return 0;
}

/*
 * Plain text.
 */

/* notify_text_pad - n spaces */
static int
notify_text_pad(struct buf *out, size_t n)
{
	while (n-- > 0)
		if (buf_putc(out, ' ') == -1)
			return -1;
	return 0;
}

/*
 * notify_text_fields - "Key:   value" lines with the values aligned (keys
 * wider than NOTIFY_KEY_COLS are not padded); a value's further lines are
 * indented to its column
 */
static int
notify_text_fields(struct notify_ctx *c, struct buf *out)
{
	size_t i, w, kw, col = 0;
	const char *p, *nl;

	for (i = 0; i < c->m->nfields; i++) {
		if (notify_clean(&c->key, c->m->fields[i].key, false) == -1)
			return -1;
		if ((w = notify_width(c->key.data)) <= NOTIFY_KEY_COLS &&
		    w > col)
			col = w;
	}
	for (i = 0; i < c->m->nfields; i++) {
		if (notify_clean(&c->key, c->m->fields[i].key, false) == -1 ||
		    notify_clean(&c->val, c->m->fields[i].value, true) == -1)
			return -1;
		kw = notify_width(c->key.data);
		if (buf_printf(out, "%s:", c->key.data) == -1 ||
		    notify_text_pad(out, (kw < col ? col - kw : 0) + 1) == -1)
			return -1;
		/* No padding on empty lines: it would be trailing space. */
		for (p = c->val.data; (nl = strchr(p, '\n')) != NULL;
		    p = nl + 1)
			if (buf_append(out, p, (size_t)(nl + 1 - p)) == -1 ||
			    (nl[1] != '\n' && notify_text_pad(out,
			    (kw > col ? kw : col) + 2) == -1))
				return -1;
		if (buf_printf(out, "%s\n", p) == -1)
			return -1;
	}
	return 0;
}

/* notify_text - the text/plain rendering (LF line ends) */
static int
notify_text(struct notify_ctx *c, struct buf *out)
{
	if (buf_printf(out, "[%s] %s\n\n", c->st->word, c->title) == -1)
		return -1;
	if (notify_clean(&c->val, c->m->body, true) == -1)
		return -1;
	if (c->val.len > 0 && buf_printf(out, "%s\n\n", c->val.data) == -1)
		return -1;
	if (c->m->nfields > 0 && (notify_text_fields(c, out) == -1 ||
	    buf_putc(out, '\n') == -1))
		return -1;
	/* "-- " is the signature separator mail readers recognise. */
	if (buf_puts(out, "-- \nSent ") == -1 ||
	    (*c->app != '\0' && buf_printf(out, "by %s ", c->app) == -1))
		return -1;
	return buf_printf(out, "from %s\n%s\n", c->host, c->date);
}

/*
 * Encodings.
 */

/*
 * notify_qp_token - the encoding of s[i] at output column col: the octet
 * itself, or "=XX" for '=', non-printable and 8-bit octets, white space
 * before a line end (RFC 2045 6.7 rules 1-3), and a '.' or the 'F' of
 * "From " starting a line (so neither SMTP nor mbox readers touch it).
 * Returns the token length.
 */
static size_t
notify_qp_token(const char *s, size_t n, size_t i, size_t col, bool eol,
    char t[4])
{
	unsigned char ch = (unsigned char)s[i];
	bool lit;

	if (ch == ' ' || ch == '\t')
		lit = !eol;
	else
		lit = ch > ' ' && ch < 127 && ch != '=';
	if (col == 0 && (ch == '.' || (ch == 'F' && n - i >= 5 &&
	    memcmp(s + i, "From ", 5) == 0)))
		lit = false;
	if (lit) {
		t[0] = (char)ch;
		return 1;
	}
	(void)snprintf(t, 4, "=%02X", ch);
	return 3;
}

/* notify_is_eol - a line break (LF or CR LF) starts at s[i] */
static bool
notify_is_eol(const char *s, size_t n, size_t i)
{
	return s[i] == '\n' || (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n');
}

/*
 * notify_qp - s[0..n) (lines end in LF or CR LF) as quoted-printable with
 * CRLF line ends; soft line breaks keep every line at most 76 characters
 * and never split an "=XX" (RFC 2045 6.7 rule 5).  The result ends with
 * CRLF.
 */
static int
notify_qp(struct buf *out, const char *s, size_t n)
{
	size_t i, col = 0, tl;
	bool eol;
	char t[4];

	for (i = 0; i < n; i++) {
		if (notify_is_eol(s, n, i)) {
			if (s[i] == '\r')
				i++;
			if (buf_append(out, "\r\n", 2) == -1)
				return -1;
			col = 0;
			continue;
		}
		eol = i + 1 == n || notify_is_eol(s, n, i + 1);
		/* Room for a soft break's '=' unless the line ends here. */
		for (;;) {
			tl = notify_qp_token(s, n, i, col, eol, t);
			if (col + tl <= NOTIFY_QP_LINE - (eol ? 0 : 1))
				break;
			if (buf_append(out, "=\r\n", 3) == -1)
				return -1;
			col = 0;
		}
		if (buf_append(out, t, tl) == -1)
			return -1;
		col += tl;
	}
	return col > 0 ? buf_append(out, "\r\n", 2) : 0;
}

/* notify_b64 - p[0..n) as base64 lines of 76 characters (RFC 2045 6.8) */
static int
notify_b64(struct buf *out, const char *p, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i += k) {
		k = n - i < NOTIFY_B64_IN ? n - i : NOTIFY_B64_IN;
		if (base64_encode(p + i, k, out) == -1 ||
		    buf_append(out, "\r\n", 2) == -1)
			return -1;
	}
	return 0;
}

/*
 * notify_fold - "Name: " s as plain text folded at white space so that no
 * line passes NOTIFY_HDR_LINE (RFC 5322 2.2.3).  Returns 0, 1 when that is
 * impossible or s needs encoding (8-bit, or "=?" that a reader would take
 * for an encoded word), -1 on a buffer failure.
 */
static int
notify_fold(struct buf *out, const char *name, const char *s)
{
	size_t col = strlen(name) + 2, i = 0, ws, tok;

	for (ws = 0; s[ws] != '\0'; ws++)
		if ((unsigned char)s[ws] >= 0x80 ||
		    (s[ws] == '=' && s[ws + 1] == '?'))
			return 1;
	if (buf_printf(out, "%s: ", name) == -1)
		return -1;
	while (s[i] != '\0') {
		for (ws = i; s[ws] == ' ' || s[ws] == '\t'; ws++)
			;
		for (tok = ws; s[tok] != '\0' && s[tok] != ' ' &&
		    s[tok] != '\t'; tok++)
			;
		/* Break before the white space, unless there is none or
		 * nothing follows it (a line of only white space). */
		if (col + tok - i > NOTIFY_HDR_LINE) {
			if (ws == i || tok == ws || tok - i > NOTIFY_HDR_LINE)
				return 1;
			if (buf_append(out, "\r\n", 2) == -1)
				return -1;
			col = 0;
		}
		if (buf_append(out, s + i, tok - i) == -1)
			return -1;
		col += tok - i;
		i = tok;
	}
	return buf_append(out, "\r\n", 2);
}

/*
 * notify_ew - "Name: " s as RFC 2047 B encoded words, each at most 75
 * characters and on its own line within NOTIFY_HDR_LINE; a word holds
 * whole UTF-8 characters only (RFC 2047 5 rule 3), so each decodes alone.
 */
static int
notify_ew(struct buf *out, const char *name, const char *s)
{
	size_t n = strlen(s), i = 0, take, room, max, k, col;
	uint32_t cp;

	col = strlen(name) + 2;
	if (buf_printf(out, "%s:", name) == -1)
		return -1;
	do {
		room = NOTIFY_HDR_LINE - col;
		if (room > NOTIFY_EW_MAX)
			room = NOTIFY_EW_MAX;
		max = (room - strlen(NOTIFY_EW_OPEN NOTIFY_EW_CLOSE)) / 4 * 3;
		for (take = 0; i + take < n; take += k)
			if (take + (k = notify_char(s + i + take, n - i - take,
			    &cp)) > max)
				break;
		if ((i > 0 && buf_append(out, "\r\n", 2) == -1) ||
		    buf_puts(out, " " NOTIFY_EW_OPEN) == -1 ||
		    base64_encode(s + i, take, out) == -1 ||
		    buf_puts(out, NOTIFY_EW_CLOSE) == -1)
			return -1;
		i += take;
		col = 1;
	} while (i < n);
	return buf_append(out, "\r\n", 2);
}

/* notify_hdr_text - an unstructured header, plain when possible */
static int
notify_hdr_text(struct buf *out, const char *name, const char *s)
{
	size_t start = out->len;
	int r;

	if ((r = notify_fold(out, name, s)) != 1)
		return r;
	notify_undo(out, start);
	return notify_ew(out, name, s);
}

/* notify_hdr_list - "To: a, b" folded between entries */
static int
notify_hdr_list(struct buf *out, const char *name, const char *const *v,
    size_t n)
{
	size_t i, col = strlen(name) + 2, len;
	bool fold;

	if (buf_printf(out, "%s: ", name) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		len = strlen(v[i]);
		if (i > 0) {
			fold = col + 2 + len > NOTIFY_HDR_LINE;
			if (buf_puts(out, fold ? ",\r\n " : ", ") == -1)
				return -1;
			col = fold ? 1 : col + 2;
		}
		if (buf_puts(out, v[i]) == -1)
			return -1;
		col += len;
	}
	return buf_append(out, "\r\n", 2);
}

/*
 * Attachments.
 */

/* notify_attach_type - the given type, or one guessed from the name */
static const char *
notify_attach_type(const struct notify_attach *a, const char *name)
{
	size_t i, n = strlen(name), e;

	if (a->type != NULL)
		return a->type;
	for (i = 0; i < nitems(notify_types); i++) {
		e = strlen(notify_types[i].ext);
		if (n > e && strcasecmp(name + n - e, notify_types[i].ext) == 0)
			return notify_types[i].type;
	}
	return "application/octet-stream";
}

/* notify_is_attr_char - RFC 2231 attribute-char (sent as is) */
static bool
notify_is_attr_char(unsigned char ch)
{
	return ch > ' ' && ch < 127 && strchr("*'%()<>@,;:\\\"/[]?=", ch) ==
	    NULL;
}

/* notify_fname_simple - a short printable ASCII name, quoted as is */
static bool
notify_fname_simple(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < ' ' || s[i] >= 127 || s[i] == '"' || s[i] == '\\')
			return false;
	return i > 0 && i <= NOTIFY_FNAME_SIMPLE;
}

/* notify_pct_len - length of s[0..n) percent-encoded (RFC 2231 4) */
static size_t
notify_pct_len(const char *s, size_t n)
{
	size_t i, len = 0;

	for (i = 0; i < n; i++)
		len += notify_is_attr_char((unsigned char)s[i]) ? 1 : 3;
	return len;
}

/*
 * notify_fname_2231 - filename*=utf-8''... or, when long, numbered
 * segments filename*0*= ... (RFC 2231 3 and 4), each ending on a whole
 * UTF-8 character so decoders that take segments one by one cope too
 */
static int
notify_fname_2231(struct buf *out, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, j, k, seg = 0, len;
	bool one = notify_pct_len(s, n) <= NOTIFY_FNAME_SEG;
	uint32_t cp;

	while (i < n) {
		if ((seg == 0 ? buf_puts(out, one ? ";\r\n\tfilename*=" :
		    ";\r\n\tfilename*0*=") : buf_printf(out,
		    ";\r\n\tfilename*%zu*=", seg)) == -1 ||
		    (seg == 0 && buf_puts(out, "utf-8''") == -1))
			return -1;
		for (len = 0; i < n; i += k) {
			k = notify_char(s + i, n - i, &cp);
			if (len > 0 && len + notify_pct_len(s + i, k) >
			    NOTIFY_FNAME_SEG)
				break;
			for (j = i; j < i + k; j++)
				if ((notify_is_attr_char(u[j]) ?
				    buf_putc(out, u[j]) : buf_printf(out,
				    "%%%02X", u[j])) == -1)
					return -1;
			len += notify_pct_len(s + i, k);
		}
		seg++;
	}
	return 0;
}

/* notify_attach_part - one attachment as a base64 body part */
static int
notify_attach_part(struct buf *out, const char *boundary,
    const struct notify_attach *a)
{
	const char *name = strrchr(a->name, '/'), *type;
	bool simple;

	name = name != NULL ? name + 1 : a->name;
	if (*name == '\0')
		name = "attachment";
	type = notify_attach_type(a, name);
	simple = notify_fname_simple(name);
	if (buf_printf(out, "--%s\r\nContent-Type: %s", boundary, type) == -1)
		return -1;
	/* Declare UTF-8 only where it is true. */
	if (strncasecmp(type, "text/", 5) == 0 &&
	    notify_utf8_ok(a->data, a->len) &&
	    buf_puts(out, "; charset=utf-8") == -1)
		return -1;
	if (simple && buf_printf(out, ";\r\n\tname=\"%s\"", name) == -1)
		return -1;
	if (buf_puts(out, "\r\nContent-Disposition: attachment") == -1)
		return -1;
	if ((simple ? buf_printf(out, ";\r\n\tfilename=\"%s\"", name) :
	    notify_fname_2231(out, name)) == -1)
		return -1;
	if (buf_puts(out, "\r\nContent-Transfer-Encoding: base64\r\n\r\n") ==
	    -1)
		return -1;
	/* An empty file still gets its empty line of body, so the
	 * delimiter's CRLF does not eat the end of the header section. */
	if (a->len == 0)
		return buf_append(out, "\r\n", 2);
	return notify_b64(out, a->data, a->len);
}

/*
 * The message.
 */

/* notify_ids_new - fresh random Message-ID and boundaries; 0 or -1 */
static int
notify_ids_new(struct notify_ids *id)
{
	unsigned char r[3][NOTIFY_RAND];
	char hex[3][2 * NOTIFY_RAND + 1];
	size_t i, j;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	for (i = 0; i < 3; i++)
		for (j = 0; j < NOTIFY_RAND; j++)
			(void)snprintf(hex[i] + 2 * j, 3, "%02x", r[i][j]);
	(void)snprintf(id->msgid, sizeof(id->msgid), "%s", hex[0]);
	(void)snprintf(id->alt, sizeof(id->alt), "=_alt_%s", hex[1]);
	(void)snprintf(id->mix, sizeof(id->mix), "=_mix_%s", hex[2]);
	return 0;
}

/* notify_headers - the header section up to, not including, Content-Type */
static int
notify_headers(struct notify_ctx *c, const struct notify_ids *id,
    struct buf *out)
{
	const struct notify_msg *m = c->m;
	const char *host = addr_domain_ok(c->host, false) ? c->host :
	    "localhost";
	struct buf subj;
	int r;

	buf_init(&subj, out->max);
	r = buf_printf(&subj, "%s%s%s%s", *c->app != '\0' ? "[" : "",
	    c->app, *c->app != '\0' ? "] " : "", c->title);
	if (r == 0)
		r = buf_printf(out, "Date: %s\r\n", c->date);
	if (r == 0)
		r = notify_hdr_list(out, "From", &m->from, 1);
	if (r == 0)
		r = notify_hdr_list(out, "To", m->to, m->nto);
	if (r == 0)
		r = notify_hdr_text(out, "Subject", subj.data);
	buf_clear(&subj);
	if (r == 0)
		r = buf_printf(out, "Message-ID: <%s@%s>\r\n"
		    "MIME-Version: 1.0\r\n"
		    "Auto-Submitted: auto-generated\r\n"	/* RFC 3834 5 */
		    "X-Mailer: postroom\r\n", id->msgid, host);
	return r;
}

/* notify_alternative - the multipart/alternative entity (from its
 * Content-Type header on) with the text and HTML parts */
static int
notify_alternative(struct buf *out, const char *boundary,
    const struct buf *text, const struct buf *html)
{
	static const char part[] = "--%s\r\n"
	    "Content-Type: text/%s; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n";

	if (buf_printf(out, "Content-Type: multipart/alternative;\r\n"
	    "\tboundary=\"%s\"\r\n\r\n", boundary) == -1 ||
	    buf_printf(out, part, boundary, "plain") == -1 ||
	    notify_qp(out, text->data, text->len) == -1 ||
	    buf_printf(out, part, boundary, "html") == -1 ||
	    notify_qp(out, html->data, html->len) == -1)
		return -1;
	return buf_printf(out, "--%s--\r\n", boundary);
}

/* notify_body - Content-Type and the body: the alternative entity, in a
 * multipart/mixed with the attachments when there are any */
static int
notify_body(struct notify_ctx *c, const struct notify_ids *id,
    const struct buf *text, const struct buf *html, struct buf *out)
{
	size_t i;

	if (c->m->nattach == 0)
		return notify_alternative(out, id->alt, text, html);
	if (buf_printf(out, "Content-Type: multipart/mixed;\r\n"
	    "\tboundary=\"%s\"\r\n\r\n"
	    "This is a multi-part message in MIME format.\r\n\r\n"
	    "--%s\r\n", id->mix, id->mix) == -1 ||
	    notify_alternative(out, id->alt, text, html) == -1)
		return -1;
	for (i = 0; i < c->m->nattach; i++)
		if (notify_attach_part(out, id->mix, &c->m->attach[i]) == -1)
			return -1;
	return buf_printf(out, "--%s--\r\n", id->mix);
}

/* notify_compose_ctx - the message for a checked context */
static int
notify_compose_ctx(struct notify_ctx *c, const struct notify_ids *id,
    struct buf *out)
{
	struct buf text, html;
	int r;

	buf_init(&text, out->max);
	buf_init(&html, out->max);
	r = notify_text(c, &text);
	if (r == 0)
		r = notify_html_ctx(c, &html);
	if (r == 0)
		r = notify_headers(c, id, out);
	if (r == 0)
		r = notify_body(c, id, &text, &html, out);
	buf_clear(&text);
	buf_clear(&html);
	return r;
}

/* notify_compose - the whole message */
int
notify_compose(const struct notify_msg *m, struct buf *out, char *err,
    size_t errlen)
{
	struct notify_ctx c;
	struct notify_ids id;
	size_t start = out->len;
	int r;

	if (notify_check_content(m, err, errlen) == -1 ||
	    notify_check_envelope(m, err, errlen) == -1)
		return -1;
	if (notify_ids_new(&id) == -1)
		return notify_err(err, errlen, "no random octets for the "
		    "Message-ID: %s", strerror(errno));
	notify_ctx_init(&c, m, out->max);
	r = notify_compose_ctx(&c, &id, out);
	notify_ctx_clear(&c);
	if (r == -1) {
		notify_undo(out, start);
		return notify_err(err, errlen, NOTIFY_OOM);
	}
	return 0;
}
