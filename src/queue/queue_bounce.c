/*
 * queue_bounce.c - RFC 3464 delivery status notifications: failure reports
 * (bounces) and delay notices.
 *
 * One composer serves both kinds (enum bounce_mode): the report is built
 * in memory (text part, delivery-status part, the returned message or its
 * headers), given a random MIME boundary that occurs in none of the
 * parts, and spooled with queue_submit (T1) from the null sender.
 * queue_fail is docs/QUEUE.md T5: the report is durable before the failed
 * file leaves mess/ (or rsnd/).
 *
 * Differences from XMail (XMAIL-FACTS 6.5), on purpose:
 *  - envelope sender <> always (no NoSenderBounce switch, no backscatter
 *    loops); the From: header is still the PostMaster address;
 *  - the body is multipart/report, not XMail's "[<00>] XMail bounce" text;
 *    the delivery log ("[<04>]") is a section of the human-readable part,
 *    since a multipart/report has at most three parts (RFC 6522 3);
 *  - NOTIFY/RET/ENVID/ORCPT (RFC 3461) from the spool lines are honoured;
 *    a delay notice returns the headers only (the message is still queued).
 * Kept: the X-MailerError header in XMail's form, so the loop guards of
 * XMail and postroom recognise each other's reports; the ErrorsAdmin and
 * TempErrorsAdmin copies (always with the log); NotifySendLogToSender;
 * RemoveSpoolErrors.
 * Not done: NotifyMsgLinesExtra (meaningless when the whole message or its
 * whole header section is returned).
 */
#include <sys/random.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config/config.h"
#include "core/addr.h"
#include "core/buf.h"
#include "core/compat.h"
#include "core/log.h"
#include "core/rfcdate.h"
#include "queue/queue.h"
#include "queue/queue_bounce.h"

#define BOUNCE_RETURN_MAX	((size_t)1 << 20)  /* whole message up to */
#define BOUNCE_OVERHEAD		((size_t)64 << 10) /* report besides it */
#define BOUNCE_DIAG_MAX		2048	/* diagnostic octets kept */
#define BOUNCE_ENVID_MAX	100	/* RFC 3461 4.4 */
#define BOUNCE_ORCPT_MAX	500	/* RFC 3461 4.2 */
#define BOUNCE_PARAM_MAX	1024	/* one raw ESMTP parameter value */
#define BOUNCE_WIDTH		76	/* folding width of our own text */
#define BOUNCE_WORD_MAX		900	/* longer words are cut (998 limit) */
#define BOUNCE_LINE_MAX		998	/* RFC 5322 2.1.1, without CRLF */
#define BOUNCE_LOG_MAX		((size_t)64 << 10) /* log tail shown */
#define BOUNCE_LOG_INDENT	"    "	/* starts a wrapped log line */
#define BOUNCE_SUBJ_MAX		200	/* original subject in ours */
#define BOUNCE_MSGID_MAX	64	/* original id shown in the report */
#define BOUNCE_DATE_MAX		64	/* Arrival-Date text */
#define BOUNCE_MTA_MAX		255	/* Remote-MTA host */
#define BOUNCE_ADDR_MAX		330	/* queue_file to[] and "..." */
#define BOUNCE_WHO_MAX		(2 * BOUNCE_ADDR_MAX + 16) /* log text */
#define BOUNCE_BOUNDARY_TRIES	8
#define BOUNCE_SUBJECT		"Undelivered Mail Returned to Sender"
#define BOUNCE_SUBJECT_DELAY	"Delayed mail (still being retried): "
#define BOUNCE_SUBJECT_HELD	"Backup MX: mail for %s held %lld hours: "

/* What kind of report. */
enum bounce_mode {
	BOUNCE_FAILED,		/* permanent failure: Action: failed */
	BOUNCE_DELAYED,		/* still retried: Action: delayed */
};

/* The retry facts of a delay notice (RFC 3464 2.3.8). */
struct bounce_delay {
	int		 tries;		/* failed tries so far */
	time_t		 next_try;	/* next one, or 0 */
	time_t		 retry_until;	/* given up after, or 0 */
	time_t		 held;		/* > 0: backup-MX hold notice to
					   PostMaster, seconds waited */
};

/* What the returned-message part holds. */
enum bounce_ret {
	BOUNCE_RET_FULL,	/* message/rfc822, the whole message */
	BOUNCE_RET_HDRS,	/* text/rfc822-headers, RET=HDRS */
	BOUNCE_RET_HEAD,	/* headers only: a delay notice */
	BOUNCE_RET_BIG,		/* headers only: message over the cap */
	BOUNCE_RET_NONE,	/* nothing: even the headers are over it */
};

/* A report being built. */
struct bounce {
	const struct queue_file	*qf;	/* the failed spool file */
	enum bounce_mode	 mode;	/* failure report or delay notice */
	const struct bounce_delay *delay;	/* delay notice: retries */
	const char	*root;		/* RootDomain */
	char		 to[BOUNCE_ADDR_MAX];	/* recipient, one line */
	char		 to7[BOUNCE_ADDR_MAX];	/* the same, 7-bit */
	char		 pm[ADDR_PATH_MAX];	/* PostMaster address */
	char		 admin[ADDR_PATH_MAX];	/* ErrorsAdmin or "" */
	bool		 to_sender;	/* the sender gets the report */
	bool		 sender_log;	/* the sender's copy shows the log */
	char		 subject[BOUNCE_SUBJ_MAX + 4];	/* delay: original */
	char		 msgid[BOUNCE_MSGID_MAX + 1];	/* original id */
	char		 envid[BOUNCE_PARAM_MAX];	/* decoded, or "" */
	char		 orcpt[BOUNCE_PARAM_MAX];	/* "type;addr" or "" */
	char		 arrival[BOUNCE_DATE_MAX + 1];	/* date or "" */
	char		 diag[BOUNCE_DIAG_MAX + 4];	/* one 7-bit line */
	char		 status[16];			/* RFC 3463 code */
	char		 mta[BOUNCE_MTA_MAX + 1];	/* Remote-MTA or "" */
	enum bounce_ret	 ret;		/* what part 3 holds */
	const char	*part3;		/* returned bytes (in qf) */
	size_t		 part3len;	/* and their length */
	char		 id[32];	/* report id, "X1A" */
	char		 boundary[64];	/* MIME boundary */
	struct buf	 text;		/* part 1 */
	struct buf	 dsn;		/* part 2 */
	struct buf	 log;		/* log section of part 1, or empty */
	bool		 err;		/* latched buffer failure */
};

/* bounce_printf - append to b; a failure is latched in bc->err */
static void __attribute__((format(printf, 3, 4)))
bounce_printf(struct bounce *bc, struct buf *b, const char *fmt, ...)
{
	va_list ap;

	if (bc->err)
		return;
	va_start(ap, fmt);
	if (buf_vprintf(b, fmt, ap) == -1)
		bc->err = true;
	va_end(ap);
}

/* bounce_append - append raw bytes; failure latched as bounce_printf */
static void
bounce_append(struct bounce *bc, struct buf *b, const void *p, size_t n)
{
	if (!bc->err && buf_append(b, p, n) == -1)
		bc->err = true;
}

/* bounce_memcasemem - case-insensitive search of needle in p[0..len) */
static bool
bounce_memcasemem(const char *p, size_t len, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; n <= len && i <= len - n; i++) {
		if (strncasecmp(p + i, needle, n) == 0)
			return true;
	}
	return false;
}

/* bounce_has_8bit - any octet above 127 in p[0..len) */
static bool
bounce_has_8bit(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if ((unsigned char)p[i] > 127)
			return true;
	}
	return false;
}

/*
 * bounce_clean - copy src to dst as one line: control characters become
 * spaces and, with `ascii`, octets above 127 become '?'.  Text longer than
 * size - 4 is cut and ends in "...".
 */
static void
bounce_clean(char *dst, size_t size, const char *src, bool ascii)
{
	size_t i, n = 0;
	unsigned char c;

	for (i = 0; src[i] != '\0'; i++) {
		if (n + 4 >= size) {
			memcpy(dst + n, "...", 3);
			n += 3;
			break;
		}
		c = (unsigned char)src[i];
		if (c < 0x20 || c == 0x7f)
			c = ' ';
		else if (ascii && c > 127)
			c = '?';
		dst[n++] = (char)c;
	}
	dst[n] = '\0';
}

/*
 * bounce_xtext_decode - RFC 3461 4 xtext to text: "+HH" is one octet.
 * Decoded control characters and octets above 127 are refused (the
 * message/delivery-status part is 7-bit text, RFC 3464 2.1), as are bad
 * "+" sequences.  0, or -1 (out is then "").
 */
static int
bounce_xtext_decode(const char *in, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *h, *l;
	size_t n = 0;
	int c;

	for (; *in != '\0'; in++) {
		c = (unsigned char)*in;
		if (c == '+') {
			if (in[1] == '\0' || in[2] == '\0' ||
			    (h = strchr(hex, in[1])) == NULL ||
			    (l = strchr(hex, in[2])) == NULL)
				goto bad;
			c = (int)((h - hex) * 16 + (l - hex));
			in += 2;
		}
		if (c < 0x20 || c >= 0x7f || n + 1 >= size)
			goto bad;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
bad:
	out[0] = '\0';
	return -1;
}

/*
 * bounce_path_end - just after the '>' closing the path of a spool
 * "MAIL FROM:<...>" or "RCPT TO:<...>" line (quotes and backslashes may
 * hide a '>'), or NULL.
 */
static const char *
bounce_path_end(const char *line)
{
	const char *q = strchr(line, '<');
	bool quoted = false;

	if (q == NULL)
		return NULL;
	for (q++; *q != '\0'; q++) {
		if (*q == '\\' && q[1] != '\0')
			q++;
		else if (*q == '"')
			quoted = !quoted;
		else if (*q == '>' && !quoted)
			return q + 1;
	}
	return NULL;
}

/*
 * bounce_param - the value of ESMTP parameter `key` (case-insensitive,
 * RFC 5321 4.1.2) after the path of a spool line, into out.  false when
 * absent, valueless or longer than size - 1.
 */
static bool
bounce_param(const char *line, const char *key, char *out, size_t size)
{
	const char *p = bounce_path_end(line);
	size_t klen = strlen(key), n;

	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (n > klen && p[klen] == '=' &&
		    strncasecmp(p, key, klen) == 0) {
			if (n - klen - 1 >= size)
				return false;
			memcpy(out, p + klen + 1, n - klen - 1);
			out[n - klen - 1] = '\0';
			return true;
		}
		p += n;
	}
	return false;
}

/*
 * bounce_notify_wants - does the recipient's NOTIFY (RFC 3461 4.1) ask for
 * `what` ("FAILURE" or "DELAY")?  Absent (or empty) means yes (for DELAY
 * that is XMail's NotifyTryPattern behaviour); NEVER or a list without
 * `what` means no.
 */
static bool
bounce_notify_wants(const char *rcpt, const char *what)
{
	char v[BOUNCE_PARAM_MAX], *item, *save;

	if (!bounce_param(rcpt, "NOTIFY", v, sizeof(v)) || v[0] == '\0')
		return true;
	for (item = strtok_r(v, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		if (strcasecmp(item, what) == 0)
			return true;
	}
	return false;
}

/*
 * bounce_header_len - length of the header section of a message: up to
 * and including the line end of the last header line, without the empty
 * line (CRLF or, leniently, LF).  The whole message when no empty line.
 */
static size_t
bounce_header_len(const char *p, size_t len)
{
	const char *nl;
	size_t off = 0;

	while (off < len) {
		if (p[off] == '\n' || (p[off] == '\r' && off + 1 < len &&
		    p[off + 1] == '\n'))
			return off;
		nl = memchr(p + off, '\n', len - off);
		if (nl == NULL)
			return len;
		off = (size_t)(nl - p) + 1;
	}
	return len;
}

/*
 * bounce_is_loop - XMail's loop guard: the header section holds an
 * X-MailerError field (continuation lines included) naming
 * "[<RootDomain>]", so the message is one of our own reports.
 */
static bool
bounce_is_loop(const struct queue_file *qf, const char *root)
{
	size_t hlen = bounce_header_len(qf->data, qf->datalen), off = 0, n;
	const char *p = qf->data, *nl;
	char needle[ADDR_DOMAIN_MAX + 3];
	bool in = false;

	(void)snprintf(needle, sizeof(needle), "[%s]", root);
	while (off < hlen) {
		nl = memchr(p + off, '\n', hlen - off);
		n = nl != NULL ? (size_t)(nl - p) - off + 1 : hlen - off;
		if (p[off] != ' ' && p[off] != '\t')
			in = n >= 14 &&
			    strncasecmp(p + off, "X-MailerError:", 14) == 0;
		if (in && bounce_memcasemem(p + off, n, needle))
			return true;
		off += n;
	}
	return false;
}

/*
 * bounce_header_value - the unfolded value of the first header field
 * `name` of the original (RFC 5322 2.2.3), control characters as spaces,
 * into out (cut with "..." as bounce_clean).  false when absent, empty
 * or not 7-bit (raw 8-bit text cannot go into our own header section).
 */
static bool
bounce_header_value(const struct queue_file *qf, const char *name,
    char *out, size_t size)
{
	size_t hlen = bounce_header_len(qf->data, qf->datalen), off = 0, n;
	size_t klen = strlen(name), k = 0;
	const char *p = qf->data, *nl;
	char raw[BOUNCE_PARAM_MAX];
	bool in = false, seen = false;

	while (off < hlen && k + 1 < sizeof(raw)) {
		nl = memchr(p + off, '\n', hlen - off);
		n = nl != NULL ? (size_t)(nl - p) - off + 1 : hlen - off;
		if (p[off] != ' ' && p[off] != '\t') {
			if (seen)
				break;
			in = seen = n > klen && p[off + klen] == ':' &&
			    strncasecmp(p + off, name, klen) == 0;
			if (in) {
				off += klen + 1;
				n -= klen + 1;
			}
		}
		for (; in && n > 0 && k + 1 < sizeof(raw); off++, n--)
			raw[k++] = p[off];
		off += n;
	}
	raw[k] = '\0';
	bounce_clean(out, size, raw + strspn(raw, " \t"), false);
	return out[strspn(out, " ")] != '\0' &&
	    !bounce_has_8bit(out, strlen(out));
}

/*
 * bounce_status_ok - "c.x.y" (RFC 3463 2) with class c one of `classes`
 * ("45": a failure after the retry period is 4.x.y), 1-3 digit parts
 */
static bool
bounce_status_ok(const char *s, const char *classes)
{
	size_t i, n;

	if (s == NULL || s[0] == '\0' || strchr(classes, s[0]) == NULL ||
	    s[1] != '.')
		return false;
	s += 2;
	for (i = 0; i < 2; i++) {
		n = strspn(s, "0123456789");
		if (n < 1 || n > 3 || s[n] != (i == 0 ? '.' : '\0'))
			return false;
		s += n + 1;
	}
	return true;
}

/* bounce_token_ok - 1..max printable ASCII octets without spaces */
static bool
bounce_token_ok(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= max || s[i] <= ' ' || s[i] >= 0x7f)
			return false;
	}
	return i > 0;
}

/*
 * bounce_arrival - the date of the info line ("[ip]:port;[ip]:port;date")
 * when it parses as an RFC 5322 date-time, for Arrival-Date (RFC 3464
 * 2.2.5); else "".
 */
static void
bounce_arrival(const char *info, char *out, size_t size)
{
	static const char *const fmts[] = { "%a, %d %b %Y %H:%M:%S %z",
	    "%d %b %Y %H:%M:%S %z" };
	const char *d = strchr(info, ';'), *end;
	struct tm tm;
	size_t i;

	out[0] = '\0';
	if (d == NULL || (d = strchr(d + 1, ';')) == NULL)
		return;
	d += strspn(d + 1, " ") + 1;
	for (i = 0; i < nitems(fmts); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(d, fmts[i], &tm);
		if (end != NULL && end[strspn(end, " ")] == '\0' &&
		    strlen(d) + 4 <= size && !bounce_has_8bit(d, strlen(d))) {
			bounce_clean(out, size, d, true);
			return;
		}
	}
}

/*
 * bounce_fold - "lead" then the words of text, new lines starting with
 * "cont" once BOUNCE_WIDTH is reached; a word longer than BOUNCE_WORD_MAX
 * is cut, so no line exceeds 998 octets (RFC 5322 2.1.1).  Runs of
 * spaces collapse.  With a blank cont this is header folding (RFC 5322
 * 2.2.3).
 */
static void
bounce_fold(struct bounce *bc, struct buf *b, const char *lead,
    const char *cont, const char *text)
{
	size_t col = strlen(lead), n, take;
	bool first = true;

	bounce_printf(bc, b, "%s", lead);
	while (*(text += strspn(text, " ")) != '\0') {
		n = strcspn(text, " ");
		while (n > 0) {
			take = n > BOUNCE_WORD_MAX ? BOUNCE_WORD_MAX : n;
			if (!first && col + 1 + take > BOUNCE_WIDTH) {
				bounce_printf(bc, b, "\r\n%s", cont);
				col = strlen(cont);
				first = true;
			}
			if (!first) {
				bounce_append(bc, b, " ", 1);
				col++;
			}
			bounce_append(bc, b, text, take);
			col += take;
			first = false;
			text += take;
			n -= take;
		}
	}
	bounce_append(bc, b, "\r\n", 2);
}

/* bounce_is_smtp_reply - the diagnostic starts with an SMTP reply code */
static bool
bounce_is_smtp_reply(const char *d)
{
	return d[0] >= '2' && d[0] <= '5' && d[1] >= '0' && d[1] <= '9' &&
	    d[2] >= '0' && d[2] <= '9' &&
	    (d[3] == '\0' || d[3] == ' ' || d[3] == '-');
}

/* bounce_rcpt_domain - the domain of the recipient (cleaned), or "" */
static const char *
bounce_rcpt_domain(const struct bounce *bc)
{
	const char *at = strrchr(bc->to7, '@');

	return at != NULL ? at + 1 : "";
}

/*
 * bounce_text_delay - the delay notice's lead (XMail's "[<03>] Note:
 * ** This is a temporary error ..." lines, said for people)
 */
static void
bounce_text_delay(struct bounce *bc, struct buf *b)
{
	if (bc->delay->held > 0) {
		bounce_printf(bc, b, "This server is a backup MX for %s and has"
		    " held the message below\r\nfor %lld hours: its primary"
		    " mail server cannot be reached or refuses\r\nit for now."
		    " The message is still being retried.  Check the primary\r\n"
		    "server (postroom queue list shows what is waiting)."
		    "\r\n\r\n", bounce_rcpt_domain(bc),
		    (long long)(bc->delay->held / 3600));
		return;
	}
	bounce_printf(bc, b, "THIS IS A WARNING ONLY; there is nothing to do"
	    " yet.\r\n\r\n"
	    "Your message could not be delivered yet to one or more"
	    " recipients.\r\n"
	    "This is a temporary error: the message is still being retried"
	    " and you\r\ndo not have to send it again.\r\n\r\n");
}

/* bounce_text_tries - the delay notice's retry facts */
static void
bounce_text_tries(struct bounce *bc, struct buf *b)
{
	const struct bounce_delay *d = bc->delay;
	char date[RFCDATE_MAX];

	bounce_printf(bc, b, "Failed attempts so far: %d\r\n", d->tries);
	if (d->next_try != 0)
		bounce_printf(bc, b, "Next attempt: %s\r\n",
		    rfcdate(d->next_try, date, sizeof(date)));
	if (d->retry_until != 0)
		bounce_printf(bc, b, "Retried until: %s\r\n",
		    rfcdate(d->retry_until, date, sizeof(date)));
}

/* bounce_text_part - part 1: the explanation for people */
static void
bounce_text_part(struct bounce *bc)
{
	static const char *const ret_text[] = {
		[BOUNCE_RET_FULL] = "The original message is attached.",
		[BOUNCE_RET_HDRS] = "The headers of the original message are"
		    " attached, as its sender asked (RET=HDRS).",
		[BOUNCE_RET_HEAD] = "The headers of the message are attached;"
		    " the message itself stays in the queue.",
		[BOUNCE_RET_BIG] = "The original message was too large to"
		    " return; only its headers are attached.",
		[BOUNCE_RET_NONE] = "The original message and its headers"
		    " were too large to return.",
	};
	struct buf *b = &bc->text;

	bounce_printf(bc, b, "This is the mail system at %s.\r\n\r\n",
	    bc->root);
	if (bc->mode == BOUNCE_DELAYED)
		bounce_text_delay(bc, b);
	else
		bounce_printf(bc, b, "Your message could not be delivered to"
		    " one or more recipients.\r\n%s\r\n\r\n",
		    bc->status[0] == '4' ? "Delivery kept failing until the"
		    " retry period ended; it will not\r\nbe retried." :
		    "This is a permanent error; it will not be retried.");
	bounce_printf(bc, b, "Recipient: <%s>\r\n", bc->to);
	bounce_fold(bc, b, "Reason: ", "    ", bc->diag);
	if (bc->mta[0] != '\0')
		bounce_printf(bc, b, "Remote server: %s\r\n", bc->mta);
	bounce_printf(bc, b, "Message id: %s\r\n", bc->msgid);
	if (bc->mode == BOUNCE_DELAYED)
		bounce_text_tries(bc, b);
	bounce_append(bc, b, "\r\n", 2);
	bounce_fold(bc, b, "", "", ret_text[bc->ret]);
}

/*
 * bounce_log_line - one line of the delivery log, 7-bit (control
 * characters but HT as spaces, octets above 127 as '?'); a line over
 * BOUNCE_LINE_MAX is cut into BOUNCE_WORD_MAX pieces, each continuation
 * indented, so no line of the report exceeds 998 octets (RFC 5322 2.1.1).
 */
static void
bounce_log_line(struct bounce *bc, struct buf *b, const char *p, size_t n)
{
	size_t piece = n > BOUNCE_LINE_MAX ? BOUNCE_WORD_MAX : BOUNCE_LINE_MAX;
	char line[BOUNCE_LINE_MAX];
	size_t i, k = 0;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			c = ' ';
		else if (c > 127)
			c = '?';
		line[k++] = (char)c;
		if (k == piece && i + 1 < n) {
			bounce_append(bc, b, line, k);
			bounce_append(bc, b, "\r\n" BOUNCE_LOG_INDENT,
			    2 + strlen(BOUNCE_LOG_INDENT));
			k = 0;
		}
	}
	bounce_append(bc, b, line, k);
	bounce_append(bc, b, "\r\n", 2);
}

/*
 * bounce_log_part - the delivery log section of part 1 (XMail's "[<04>]
 * Here is listed the message log file"): its last BOUNCE_LOG_MAX octets,
 * from a line start, CRLF or LF lines.
 */
static void
bounce_log_part(struct bounce *bc, const char *log, size_t len)
{
	const char *nl, *end;
	struct buf *b = &bc->log;
	size_t total = len, n, k;

	if (log == NULL || len == 0)
		return;
	if (len > BOUNCE_LOG_MAX) {
		log += len - BOUNCE_LOG_MAX;
		len = BOUNCE_LOG_MAX;
		nl = memchr(log, '\n', len);
		if (nl != NULL && nl + 1 < log + len) {
			len -= (size_t)(nl + 1 - log);
			log = nl + 1;
		}
	}
	bounce_printf(bc, b, "\r\nThe delivery log of the message:\r\n");
	if (len < total)
		bounce_printf(bc, b, "(The log was cut: only its last %zu of"
		    " %zu octets are shown.)\r\n", len, total);
	bounce_append(bc, b, "\r\n", 2);
	for (end = log + len; log < end; log += n) {
		nl = memchr(log, '\n', (size_t)(end - log));
		n = nl != NULL ? (size_t)(nl - log) + 1 : (size_t)(end - log);
		k = nl != NULL ? n - 1 : n;
		if (k > 0 && log[k - 1] == '\r')
			k--;
		bounce_log_line(bc, b, log, k);
	}
}

/* bounce_dsn_part - part 2: message/delivery-status (RFC 3464 2.2, 2.3) */
static void
bounce_dsn_part(struct bounce *bc)
{
	char now[RFCDATE_MAX];
	struct buf *b = &bc->dsn;

	bounce_printf(bc, b, "Reporting-MTA: dns; %s\r\n", bc->root);
	if (bc->envid[0] != '\0')
		bounce_printf(bc, b, "Original-Envelope-Id: %s\r\n",
		    bc->envid);
	if (bc->arrival[0] != '\0')
		bounce_printf(bc, b, "Arrival-Date: %s\r\n", bc->arrival);
	bounce_append(bc, b, "\r\n", 2);
	if (bc->orcpt[0] != '\0')
		bounce_printf(bc, b, "Original-Recipient: %s\r\n", bc->orcpt);
	/*
	 * XXX: an SMTPUTF8 address belongs in message/global-delivery-status
	 * with type utf-8 (RFC 6533); until then its 8-bit octets show as '?'.
	 */
	bounce_printf(bc, b, "Final-Recipient: rfc822; %s\r\n"
	    "Action: %s\r\nStatus: %s\r\n", bc->to7,
	    bc->mode == BOUNCE_DELAYED ? "delayed" : "failed", bc->status);
	if (bc->mta[0] != '\0')
		bounce_printf(bc, b, "Remote-MTA: dns; %s\r\n", bc->mta);
	/* Not an SMTP reply: a local reason, typed as Postfix does. */
	bounce_fold(bc, b, bounce_is_smtp_reply(bc->diag) ?
	    "Diagnostic-Code: smtp; " : "Diagnostic-Code: X-postroom; ", " ",
	    bc->diag);
	bounce_printf(bc, b, "Last-Attempt-Date: %s\r\n",
	    rfcdate(time(NULL), now, sizeof(now)));
	/* RFC 3464 2.3.8: only with Action: delayed. */
	if (bc->mode == BOUNCE_DELAYED && bc->delay->retry_until != 0)
		bounce_printf(bc, b, "Will-Retry-Until: %s\r\n",
		    rfcdate(bc->delay->retry_until, now, sizeof(now)));
}

/*
 * bounce_boundary - a random boundary that occurs in none of the parts
 * (RFC 2046 5.1.1).  "=_" cannot start a line of quoted-printable or
 * base64 text, and 128 random bits make a clash by chance impossible;
 * the check guards against a message crafted to contain one.
 */
static int
bounce_boundary(struct bounce *bc)
{
	unsigned char r[16];
	size_t i, n;
	int tries;

	for (tries = 0; tries < BOUNCE_BOUNDARY_TRIES; tries++) {
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			return -1;
		n = (size_t)snprintf(bc->boundary, sizeof(bc->boundary),
		    "=_postroom_");
		for (i = 0; i < sizeof(r); i++, n += 2)
			(void)snprintf(bc->boundary + n,
			    sizeof(bc->boundary) - n, "%02x", r[i]);
		if (memmem(bc->text.data, bc->text.len, bc->boundary, n) ==
		    NULL &&
		    memmem(bc->dsn.data, bc->dsn.len, bc->boundary, n) ==
		    NULL &&
		    memmem(bc->log.data, bc->log.len, bc->boundary, n) ==
		    NULL &&
		    memmem(bc->part3, bc->part3len, bc->boundary, n) == NULL)
			return 0;
	}
	errno = EAGAIN;
	return -1;
}

/* bounce_headers - the report's header section and MIME preamble */
static void
bounce_headers(struct bounce *bc, struct buf *b, const char *to, bool eight)
{
	char date[RFCDATE_MAX];

	bounce_printf(bc, b, "Date: %s\r\n"
	    "From: \"%s PostMaster\" <%s>\r\n"
	    "To: <%s>\r\n",
	    rfcdate(time(NULL), date, sizeof(date)), bc->root, bc->pm, to);
	if (bc->mode == BOUNCE_DELAYED && bc->delay->held > 0) {
		char lead[BOUNCE_ADDR_MAX + 64];

		(void)snprintf(lead, sizeof(lead), "Subject: "
		    BOUNCE_SUBJECT_HELD, bounce_rcpt_domain(bc),
		    (long long)(bc->delay->held / 3600));
		bounce_fold(bc, b, lead, " ", bc->subject);
	} else if (bc->mode == BOUNCE_DELAYED)
		bounce_fold(bc, b, "Subject: " BOUNCE_SUBJECT_DELAY, " ",
		    bc->subject);
	else
		bounce_printf(bc, b, "Subject: " BOUNCE_SUBJECT "\r\n");
	bounce_printf(bc, b, "Message-ID: <%s.%lld@%s>\r\n"
	    "Auto-Submitted: auto-replied\r\n"		/* RFC 3834 5 */
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"%s\"\r\n",
	    bc->id, (long long)time(NULL), bc->root, bc->boundary);
	if (eight)
		bounce_printf(bc, b, "Content-Transfer-Encoding: 8bit\r\n");
	/* XMail's form, so XMail's loop guard recognises our reports too. */
	bounce_printf(bc, b, "X-MailerServer: postroom\r\n"
	    "X-MailerError: Message = [%s] Server = [%s]\r\n\r\n"
	    "This is a MIME-encapsulated message.\r\n\r\n",
	    bc->msgid, bc->root);
}

/*
 * bounce_part - one body part: p[0..n) then, when given, the extra
 * section x (the log after the text).  The CRLF before the next delimiter
 * belongs to the delimiter (RFC 2046 5.1.1), so the content is kept as is.
 */
static void
bounce_part(struct bounce *bc, struct buf *b, const char *desc,
    const char *type, const char *p, size_t n, const struct buf *x)
{
	bounce_printf(bc, b, "--%s\r\nContent-Description: %s\r\n"
	    "Content-Type: %s\r\n", bc->boundary, desc, type);
	if (bounce_has_8bit(p, n) ||
	    (x != NULL && bounce_has_8bit(x->data, x->len)))
		bounce_printf(bc, b, "Content-Transfer-Encoding: 8bit\r\n");
	bounce_append(bc, b, "\r\n", 2);
	bounce_append(bc, b, p, n);
	if (x != NULL)
		bounce_append(bc, b, x->data, x->len);
	bounce_append(bc, b, "\r\n", 2);
}

/*
 * bounce_compose - the whole multipart/report (RFC 6522) into out, To:
 * `to`, with the log section in part 1 when `with_log`
 */
static void
bounce_compose(struct bounce *bc, struct buf *out, const char *to,
    bool with_log)
{
	bool eight = bounce_has_8bit(bc->text.data, bc->text.len) ||
	    bounce_has_8bit(bc->part3, bc->part3len);

	bounce_headers(bc, out, to, eight);
	bounce_part(bc, out, "Notification", "text/plain; charset=utf-8",
	    bc->text.data, bc->text.len, with_log ? &bc->log : NULL);
	bounce_part(bc, out, "Delivery report", "message/delivery-status",
	    bc->dsn.data, bc->dsn.len, NULL);
	if (bc->ret == BOUNCE_RET_FULL)
		bounce_part(bc, out, "Undelivered Message", "message/rfc822",
		    bc->part3, bc->part3len, NULL);
	else if (bc->ret != BOUNCE_RET_NONE)
		bounce_part(bc, out, bc->mode == BOUNCE_DELAYED ?
		    "Delayed Message Headers" : "Undelivered Message Headers",
		    "text/rfc822-headers", bc->part3, bc->part3len, NULL);
	bounce_printf(bc, out, "--%s--\r\n", bc->boundary);
}

/*
 * bounce_orcpt - ORCPT=addr-type;xtext (RFC 3461 4.2) of the RCPT line as
 * "type;decoded" for Original-Recipient (RFC 3464 2.3.1), or "".
 */
static void
bounce_orcpt(struct bounce *bc)
{
	char raw[BOUNCE_PARAM_MAX], *semi;
	size_t tlen;

	bc->orcpt[0] = '\0';
	if (!bounce_param(bc->qf->rcpt, "ORCPT", raw, sizeof(raw)) ||
	    strlen(raw) > BOUNCE_ORCPT_MAX || (semi = strchr(raw, ';')) ==
	    NULL)
		return;
	tlen = (size_t)(semi - raw);
	if (tlen == 0 || strspn(raw, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != tlen)
		return;
	memcpy(bc->orcpt, raw, tlen + 1);
	if (bounce_xtext_decode(semi + 1, bc->orcpt + tlen + 1,
	    sizeof(bc->orcpt) - tlen - 1) == -1 || bc->orcpt[tlen + 1] ==
	    '\0') {
		log_debug("queue: %s: ORCPT not shown: bad xtext", bc->msgid);
		bc->orcpt[0] = '\0';
	}
}

/* bounce_envid - ENVID (RFC 3461 4.4) decoded for Original-Envelope-Id */
static void
bounce_envid(struct bounce *bc)
{
	char raw[BOUNCE_PARAM_MAX];

	bc->envid[0] = '\0';
	if (!bounce_param(bc->qf->mail_from, "ENVID", raw, sizeof(raw)))
		return;
	/* RFC 3464 2.2.1: the field shows the ENVID decoded from xtext. */
	if (bounce_xtext_decode(raw, bc->envid, sizeof(bc->envid)) == -1 ||
	    strlen(bc->envid) > BOUNCE_ENVID_MAX) {
		log_debug("queue: %s: ENVID not shown: bad xtext", bc->msgid);
		bc->envid[0] = '\0';
	}
}

/*
 * bounce_returned - what part 3 returns: a delay notice, RET=HDRS (RFC
 * 3461 4.3) or a message over the cap (1 MiB, or MaxMessageSize if
 * smaller) gives the header section only.  NotifyMsgLinesExtra (XMail:
 * body lines after the headers) is ignored on purpose: the whole message
 * or the whole header section is returned, never an arbitrary prefix of
 * the body.
 */
static void
bounce_returned(struct bounce *bc, struct config *cfg)
{
	const struct queue_file *qf = bc->qf;
	size_t cap = BOUNCE_RETURN_MAX;
	char ret[16];
	long kb;

	kb = config_var_long(cfg, "MaxMessageSize", 0);
	if (kb > 0 && kb < (long)(BOUNCE_RETURN_MAX / 1024))
		cap = (size_t)kb * 1024;
	bc->part3 = qf->data;
	bc->part3len = qf->datalen;
	bc->ret = BOUNCE_RET_FULL;
	if (bc->mode == BOUNCE_DELAYED)
		bc->ret = BOUNCE_RET_HEAD;
	else if (bounce_param(qf->mail_from, "RET", ret, sizeof(ret)) &&
	    strcasecmp(ret, "HDRS") == 0)
		bc->ret = BOUNCE_RET_HDRS;
	else if (qf->datalen > cap)
		bc->ret = BOUNCE_RET_BIG;
	if (bc->ret == BOUNCE_RET_FULL)
		return;
	bc->part3len = bounce_header_len(qf->data, qf->datalen);
	if (bc->part3len > cap) {
		bc->ret = BOUNCE_RET_NONE;
		bc->part3len = 0;
	}
}

/* bounce_mailbox_ok - a valid mailbox that fits a RCPT TO line */
static bool
bounce_mailbox_ok(const char *s)
{
	struct addr_path p;

	return s != NULL && s[0] != '\0' && strlen(s) < ADDR_PATH_MAX &&
	    addr_parse_mailbox(s, true, &p) == ADDR_OK;
}

/*
 * bounce_whom - decide the recipients: the sender unless null, NOTIFY
 * says no, or the address is unusable; ErrorsAdmin (TempErrorsAdmin for
 * a delay notice) when set and valid (XMail copied it every time, null
 * sender included).  The admin copy always shows the delivery log, the
 * sender's only with NotifySendLogToSender=1 or when the sender is the
 * admin.  Returns false when nobody is to be told.
 */
static bool
bounce_whom(struct bounce *bc, struct config *cfg)
{
	const struct queue_file *qf = bc->qf;
	const char *var = bc->mode == BOUNCE_DELAYED ? "TempErrorsAdmin" :
	    "ErrorsAdmin";
	const char *admin = config_var(cfg, var);

	if (bc->mode == BOUNCE_DELAYED && bc->delay->held > 0) {
		/* The backup-MX hold notice is for PostMaster alone. */
		admin = config_var(cfg, "PostMaster");
		if (!bounce_mailbox_ok(admin) ||
		    !str_copy(bc->admin, admin, sizeof(bc->admin)))
			(void)snprintf(bc->admin, sizeof(bc->admin),
			    "postmaster@%s", bc->root);
		bc->to_sender = bc->sender_log = false;
		return true;
	}
	bc->to_sender = qf->from[0] != '\0' && bounce_notify_wants(qf->rcpt,
	    bc->mode == BOUNCE_DELAYED ? "DELAY" : "FAILURE");
	if (bc->to_sender && !bounce_mailbox_ok(qf->from)) {
		log_warn("queue: %s: sender <%s> unusable, no report to it",
		    bc->msgid, qf->from);
		bc->to_sender = false;
	}
	bc->sender_log = bc->to_sender &&
	    config_var_bool(cfg, "NotifySendLogToSender", false);
	bc->admin[0] = '\0';
	if (admin == NULL || admin[0] == '\0')
		return bc->to_sender;
	if (!bounce_mailbox_ok(admin))
		log_warn("queue: %s \"%s\" is not a valid address; ignored",
		    var, admin);
	else if (bc->to_sender && strcasecmp(admin, qf->from) == 0)
		bc->sender_log = true;
	else if (!str_copy(bc->admin, admin, sizeof(bc->admin)))
		bc->admin[0] = '\0';
	return bc->to_sender || bc->admin[0] != '\0';
}

/* bounce_facts - everything the parts show, cleaned for one line each */
static void
bounce_facts(struct bounce *bc, struct config *cfg,
    const struct queue_failure *why)
{
	const char *pm = config_var(cfg, "PostMaster");
	const char *d = why->diagnostic;
	bool delayed = bc->mode == BOUNCE_DELAYED;

	if (!bounce_mailbox_ok(pm) || !str_copy(bc->pm, pm, sizeof(bc->pm)))
		(void)snprintf(bc->pm, sizeof(bc->pm), "postmaster@%s",
		    bc->root);
	bounce_clean(bc->to, sizeof(bc->to), bc->qf->to, false);
	bounce_clean(bc->to7, sizeof(bc->to7), bc->qf->to, true);
	bounce_clean(bc->diag, sizeof(bc->diag), d != NULL && d[0] != '\0' ?
	    d : "delivery failed", true);
	if (!bounce_status_ok(why->status, delayed ? "4" : "45") ||
	    !str_copy(bc->status, why->status, sizeof(bc->status)))
		(void)snprintf(bc->status, sizeof(bc->status), "%s",
		    delayed ? "4.0.0" : "5.0.0");
	if (why->remote_mta == NULL ||
	    !bounce_token_ok(why->remote_mta, BOUNCE_MTA_MAX) ||
	    !str_copy(bc->mta, why->remote_mta, sizeof(bc->mta)))
		bc->mta[0] = '\0';
	bounce_arrival(bc->qf->info, bc->arrival, sizeof(bc->arrival));
	bounce_envid(bc);
	bounce_orcpt(bc);
	bounce_returned(bc, cfg);
	if (delayed && !bounce_header_value(bc->qf, "Subject", bc->subject,
	    sizeof(bc->subject)) && !bounce_header_value(bc->qf,
	    "Message-ID", bc->subject, sizeof(bc->subject)))
		(void)snprintf(bc->subject, sizeof(bc->subject), "%s",
		    bc->msgid);
}

/*
 * bounce_prepare - RootDomain, loop guard, recipients, facts.  Returns 1
 * to go on, 0 when no report is due, -1 on a configuration error.
 */
static int
bounce_prepare(struct bounce *bc, struct config *cfg,
    const struct queue_file *qf, const struct queue_failure *why)
{
	bc->qf = qf;
	bc->root = config_var(cfg, "RootDomain");
	if (bc->root == NULL || !addr_domain_ok(bc->root, false)) {
		log_error("queue: no valid RootDomain in server.tab; cannot"
		    " report on %s", qf->msgid);
		errno = EINVAL;
		return -1;
	}
	bounce_clean(bc->msgid, sizeof(bc->msgid), qf->msgid, true);
	if (bounce_is_loop(qf, bc->root)) {
		log_info("queue: %s is a report of ours (X-MailerError);"
		    " no report on it", bc->msgid);
		return 0;
	}
	if (!bounce_whom(bc, cfg))
		return 0;
	bounce_facts(bc, cfg, why);
	return 1;
}

/*
 * bounce_env_submit - spool the composed report `out` for the n (1 or 2)
 * addresses `to`, one file each, into refs
 */
static int
bounce_env_submit(struct bounce *bc, struct config *cfg, int split,
    const struct buf *out, const char *const *to, size_t n,
    struct queue_ref *refs)
{
	char info[128], date[RFCDATE_MAX], from[64];
	char rcpt[2][BOUNCE_ADDR_MAX + 16];
	const char *rcpts[2];
	struct queue_env env;
	bool utf8 = false;
	size_t i;

	for (i = 0; i < n && i < nitems(rcpt); i++) {
		(void)snprintf(rcpt[i], sizeof(rcpt[i]), "RCPT TO:<%s>", to[i]);
		rcpts[i] = rcpt[i];
		utf8 = utf8 || bounce_has_8bit(to[i], strlen(to[i]));
	}
	(void)snprintf(info, sizeof(info), "[127.0.0.1]:0;[127.0.0.1]:0;%s",
	    rfcdate(time(NULL), date, sizeof(date)));
	memset(&env, 0, sizeof(env));
	env.info = info;
	env.smtp_domain = bc->root;
	env.msgid = bc->id;
	/*
	 * RFC 5321 4.5.5, RFC 3464 2: reports go from the null sender.  The
	 * parameters tell the outbound side what the message needs: 8-bit
	 * parts (RFC 6152) or a UTF-8 recipient (RFC 6531 3.4).
	 */
	(void)snprintf(from, sizeof(from), "MAIL FROM:<>%s%s",
	    bounce_has_8bit(out->data, out->len) ? " BODY=8BITMIME" : "",
	    utf8 ? " SMTPUTF8" : "");
	env.mail_from = from;
	env.rcpts = rcpts;
	env.nrcpts = i;
	return queue_submit(config_mailroot(cfg), split, &env, out->data,
	    out->len, refs);
}

/*
 * bounce_spool - compose the copy for the addresses `to` (To: the first),
 * with the log section when `with_log`, and spool it
 */
static int
bounce_spool(struct bounce *bc, struct config *cfg, int split,
    bool with_log, const char *const *to, size_t n, struct queue_ref *refs)
{
	struct buf out;
	int r = -1;

	buf_init(&out, bc->part3len + bc->text.len + bc->dsn.len +
	    bc->log.len + BOUNCE_OVERHEAD);
	bounce_compose(bc, &out, to[0], with_log);
	if (bc->err)
		errno = ENOMEM;
	else
		r = bounce_env_submit(bc, cfg, split, &out, to, n, refs);
	buf_clear(&out);
	return r;
}

/* bounce_build - number the report and build its parts */
static int
bounce_build(struct bounce *bc, struct config *cfg,
    const struct queue_failure *why)
{
	uint64_t n;

	if (queue_msgid_take(config_mailroot(cfg), &n) == -1)
		return -1;
	(void)snprintf(bc->id, sizeof(bc->id), "X%llX", (unsigned long long)n);
	bounce_text_part(bc);
	bounce_dsn_part(bc);
	bounce_log_part(bc, why->log, why->loglen);
	if (bc->err) {
		errno = ENOMEM;
		return -1;
	}
	return bounce_boundary(bc);
}

/*
 * bounce_send - spool the copies into refs, *n the files: one report,
 * one file per recipient, when the sender and the admin see the same
 * text; else the sender's copy without the log and the admin's with it,
 * all or nothing (the sender's copy is taken back when the admin's
 * cannot be spooled: the caller retries).  0 or -1.
 */
static int
bounce_send(struct bounce *bc, struct config *cfg, int split,
    struct queue_ref *refs, size_t *n)
{
	bool has_log = bc->log.len > 0, slog = bc->sender_log && has_log;
	const char *to[2];
	size_t k = 0;
	int saved;

	*n = 0;
	if (bc->to_sender)
		to[k++] = bc->qf->from;
	if (bc->admin[0] != '\0')
		to[k++] = bc->admin;
	if (k == 1 || slog == has_log) {
		if (bounce_spool(bc, cfg, split, bc->to_sender ? slog : has_log,
		    to, k, refs) == -1)
			return -1;
		*n = k;
		return 0;
	}
	if (bounce_spool(bc, cfg, split, false, to, 1, refs) == -1)
		return -1;
	*n = 1;
	if (bounce_spool(bc, cfg, split, true, to + 1, 1, refs + 1) == 0) {
		*n = 2;
		return 0;
	}
	saved = errno;
	log_error("queue: report %s: copy for <%s> not spooled: %m", bc->id,
	    bc->admin);
	if (queue_remove(config_mailroot(cfg), &refs[0], "mess") == -1) {
		log_error("queue: report %s: sender's copy %s kept alone",
		    bc->id, refs[0].name);
		return 0;
	}
	*n = 0;
	errno = saved;
	return -1;
}

/*
 * bounce_run - queue_bounce (delay NULL) or queue_notify_delay; `who`
 * gets the report's recipients for the log ("" when none).
 */
static int
bounce_run(struct config *cfg, int split, const struct queue_file *qf,
    const struct queue_failure *why, const struct bounce_delay *delay,
    struct queue_ref **refs, size_t *nrefs, char *who, size_t whosize)
{
	struct bounce *bc;
	int r;

	*refs = NULL;
	*nrefs = 0;
	who[0] = '\0';
	if ((bc = calloc(1, sizeof(*bc))) == NULL ||
	    (*refs = calloc(2, sizeof(**refs))) == NULL) {
		free(bc);
		log_error("queue: report for %s: out of memory", qf->msgid);
		return -1;
	}
	bc->mode = delay != NULL ? BOUNCE_DELAYED : BOUNCE_FAILED;
	bc->delay = delay;
	buf_init(&bc->text, BOUNCE_OVERHEAD);
	buf_init(&bc->dsn, BOUNCE_OVERHEAD);
	/* CRLF for LF and the wrapping can at most double the tail. */
	buf_init(&bc->log, 2 * BOUNCE_LOG_MAX + BOUNCE_OVERHEAD);
	r = bounce_prepare(bc, cfg, qf, why);
	if (r != 1)
		goto out;
	r = -1;
	if (bounce_build(bc, cfg, why) == -1 ||
	    bounce_send(bc, cfg, split, *refs, nrefs) == -1) {
		log_error("queue: report for %s not spooled: %m", bc->msgid);
		goto out;
	}
	if (bc->to_sender && bc->admin[0] != '\0')
		(void)snprintf(who, whosize, "<%s>, admin <%s>", qf->from,
		    bc->admin);
	else
		(void)snprintf(who, whosize, "<%s>", bc->to_sender ?
		    qf->from : bc->admin);
	log_info("queue: %s %s on %s spooled for %s", delay != NULL ?
	    "delay notice" : "report", bc->id, bc->msgid, who);
	r = 1;
out:
	if (r != 1) {
		free(*refs);
		*refs = NULL;
		*nrefs = 0;
	}
	buf_clear(&bc->text);
	buf_clear(&bc->dsn);
	buf_clear(&bc->log);
	free(bc);
	return r;
}

/* queue_bounce - build and spool the failure report for qf */
int
queue_bounce(struct config *cfg, int split, const struct queue_file *qf,
    const struct queue_failure *why, struct queue_ref **refs, size_t *nrefs)
{
	char who[BOUNCE_WHO_MAX];

	return bounce_run(cfg, split, qf, why, NULL, refs, nrefs, who,
	    sizeof(who));
}

/* queue_notify_delay - build and spool the delay notice for qf */
int
queue_notify_delay(struct config *cfg, int split,
    const struct queue_file *qf, const struct queue_failure *why, int tries,
    time_t next_try, time_t retry_until, struct queue_ref **refs,
    size_t *nrefs)
{
	const struct bounce_delay d = { tries, next_try, retry_until };
	char who[BOUNCE_WHO_MAX];

	return bounce_run(cfg, split, qf, why, &d, refs, nrefs, who,
	    sizeof(who));
}

/* queue_notify_held - the backup-MX hold notice for PostMaster */
int
queue_notify_held(struct config *cfg, int split,
    const struct queue_file *qf, const struct queue_failure *why, int tries,
    time_t next_try, time_t retry_until, time_t held,
    struct queue_ref **refs, size_t *nrefs)
{
	const struct bounce_delay d = { tries, next_try, retry_until,
	    held > 0 ? held : 1 };
	char who[BOUNCE_WHO_MAX];

	return bounce_run(cfg, split, qf, why, &d, refs, nrefs, who,
	    sizeof(who));
}

/*
 * queue_fail - T5: the report first (durable), then the file leaves `dir`.
 * When the report was spooled but the file cannot be moved or removed,
 * -1 is returned with *refs and *nrefs still describing the report: it is
 * durable and must be delivered (and freed) all the same; the file is
 * retried and may be reported twice (docs/QUEUE.md T5).
 */
int
queue_fail(struct config *cfg, int split, const struct queue_ref *r,
    const char *dir, const struct queue_file *qf,
    const struct queue_failure *why, struct queue_ref **refs, size_t *nrefs)
{
	const char *root = config_mailroot(cfg);
	char who[BOUNCE_WHO_MAX];
	bool rm = config_var_bool(cfg, "RemoveSpoolErrors", false);
	int b;

	b = bounce_run(cfg, split, qf, why, NULL, refs, nrefs, who,
	    sizeof(who));
	if (b == -1)
		return -1;
	if ((rm ? queue_remove(root, r, dir) :
	    queue_move(root, r, dir, "froz")) == -1) {
		log_error("queue: %s failed permanently but stays in %s: %m",
		    r->name, dir);
		return -1;
	}
	log_info("queue: %s failed permanently for <%s>: %s; %s%s; %s",
	    r->name, qf->to, why->diagnostic != NULL ? why->diagnostic :
	    "unknown error", b == 1 ? "bounced to " : "no bounce",
	    b == 1 ? who : "", rm ? "removed" : "frozen");
	return 0;
}
