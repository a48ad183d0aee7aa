/*
 * test_queue_bounce.c - RFC 3464 failure reports and delay notices
 * (queue/queue_bounce.c).
 *
 * Each case builds a fresh MailRoot with its own server.tab, spools an
 * original message with queue_submit, loads it back, fails it (or
 * reports a delay) and parses the report spool files that come out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "queue/queue.h"
#include "queue/queue_bounce.h"

#define ROOT	"mx.example.org"
#define PM	"pm@mx.example.org"
#define ADMIN	"admin@mx.example.org"
#define SENDER	"alice@example.com"
#define RCPT	"bob@remote.test"
#define INFO	"[192.0.2.1]:4711;[198.51.100.2]:25;" \
		"Mon, 1 Jan 2024 10:00:00 +0000"
#define FROM	"MAIL FROM:<" SENDER ">"
#define TO	"RCPT TO:<" RCPT ">"
#define ORIG	"From: " SENDER "\r\nTo: " RCPT "\r\nSubject: hi\r\n" \
		"Message-ID: <m1@example.com>\r\n\r\nbody line 1\r\n" \
		"body line 2\r\n"
#define SPLIT	3
#define MAXF	((size_t)16 << 20)	/* spool file load limit */
#define LINE_MAX_OCTETS	998		/* RFC 5322 2.1.1 */

static char	mailroot[PATH_MAX];	/* the current case's MailRoot */

/* put - write MailRoot/name */
static void
put(const char *name, const char *text)
{
	char path[PATH_MAX];

	assert_int_equal(fs_path(path, sizeof(path), mailroot, name), 0);
	assert_int_equal(fs_write_atomic(path, text, strlen(text), 0600), 0);
}

/* root_make - a fresh MailRoot whose server.tab adds `extra` lines */
static void
root_make(const char *extra)
{
	char tab[2048];

	(void)snprintf(mailroot, sizeof(mailroot),
	    "/tmp/postroom-test-bounce.XXXXXX");
	assert_non_null(mkdtemp(mailroot));
	(void)snprintf(tab, sizeof(tab), "\"RootDomain\"\t\"" ROOT "\"\n"
	    "\"PostMaster\"\t\"" PM "\"\n%s", extra != NULL ? extra : "");
	put("server.tab", tab);
	assert_int_equal(config_init(mailroot), 0);
}

/* root_drop - forget the configuration and remove the MailRoot */
static void
root_drop(void)
{
	config_shutdown();
	assert_int_equal(fs_rm_tree(mailroot), 0);
}

/* spool - submit one original message and load it back from mess/ */
static void
spool(const char *from, const char *rcpt, const char *data,
    struct queue_ref *ref, struct queue_file *qf)
{
	const char *rcpts[1] = { rcpt };
	struct queue_env env = { INFO, "mx.example.org", "S1A", from, rcpts,
	    1 };
	char path[PATH_MAX];

	assert_int_equal(queue_submit(mailroot, SPLIT, &env, data,
	    strlen(data), ref), 0);
	assert_int_equal(queue_path(mailroot, ref, "mess", path,
	    sizeof(path)), 0);
	assert_int_equal(queue_file_load(path, MAXF, qf), 0);
}

/* load - load a spool file from dir */
static int
load(const struct queue_ref *ref, const char *dir, struct queue_file *qf)
{
	char path[PATH_MAX];

	assert_int_equal(queue_path(mailroot, ref, dir, path, sizeof(path)),
	    0);
	return queue_file_load(path, MAXF, qf);
}

/* exists - is the spool file in dir */
static bool
exists(const struct queue_ref *ref, const char *dir)
{
	char path[PATH_MAX];

	assert_int_equal(queue_path(mailroot, ref, dir, path, sizeof(path)),
	    0);
	return fs_exists(path);
}

/* count - occurrences of needle in p[0..len) */
static size_t
count(const char *p, size_t len, const char *needle)
{
	size_t n = 0, nl = strlen(needle);
	const char *q;

	while ((q = memmem(p, len, needle, nl)) != NULL) {
		n++;
		len -= (size_t)(q - p) + nl;
		p = q + nl;
	}
	return n;
}

/* is_8bit - any octet above 127 */
static bool
is_8bit(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if ((unsigned char)p[i] > 127)
			return true;
	}
	return false;
}

/* check_lines - every line CRLF-terminated and at most 998 octets */
static void
check_lines(const char *p, size_t len)
{
	const char *nl;
	size_t off = 0;

	assert_true(len >= 2 && p[len - 2] == '\r' && p[len - 1] == '\n');
	while (off < len) {
		nl = memchr(p + off, '\n', len - off);
		assert_non_null(nl);
		assert_true(nl > p + off && nl[-1] == '\r');
		assert_null(memchr(p + off, '\r', (size_t)(nl - p) - off - 1));
		assert_true((size_t)(nl - p) - off - 1 <= LINE_MAX_OCTETS);
		off = (size_t)(nl - p) + 1;
	}
}

/* A parsed report: header section and body parts. */
struct report {
	struct queue_file	 qf;
	char			 boundary[128];
	const char		*part[5];	/* [0] headers, [1..] parts */
	size_t			 len[5];
	size_t			 nparts;
};

/*
 * report_parse - check the multipart/report skeleton by string checks:
 * the boundary from Content-Type, its delimiters and nothing else, and
 * 2 or 3 parts in RFC 3462 order.
 */
static void
report_parse(struct report *r)
{
	const char *d = r->qf.data, *b, *e, *q;
	size_t len = r->qf.datalen, n;
	char delim[140], close[140];

	check_lines(d, len);
	q = memmem(d, len, "\r\n\r\n", 4);
	assert_non_null(q);
	r->part[0] = d;
	r->len[0] = (size_t)(q - d) + 2;
	assert_non_null(strstr(d, "Content-Type: multipart/report;"
	    " report-type=delivery-status;\r\n\tboundary=\""));
	b = strstr(d, "boundary=\"") + 10;
	e = strchr(b, '"');
	assert_true(e > b && (size_t)(e - b) < sizeof(r->boundary));
	memcpy(r->boundary, b, (size_t)(e - b));
	r->boundary[e - b] = '\0';
	(void)snprintf(delim, sizeof(delim), "\r\n--%s\r\n", r->boundary);
	(void)snprintf(close, sizeof(close), "\r\n--%s--\r\n", r->boundary);
	n = count(d, len, delim);
	assert_true(n == 2 || n == 3);
	/* The boundary appears in Content-Type and the delimiters only. */
	assert_int_equal(count(d, len, r->boundary), n + 2);
	assert_int_equal(count(d, len, close), 1);
	assert_true(memcmp(d + len - strlen(close), close, strlen(close)) ==
	    0);
	r->nparts = 0;
	q = memmem(d, len, delim, strlen(delim));
	while (q != NULL) {
		b = q + strlen(delim);
		q = memmem(b, len - (size_t)(b - d), delim, strlen(delim));
		e = q != NULL ? q : d + len - strlen(close);
		r->nparts++;
		r->part[r->nparts] = b;
		r->len[r->nparts] = (size_t)(e - b);
	}
	assert_non_null(memmem(r->part[1], r->len[1],
	    "Content-Type: text/plain; charset=utf-8\r\n", 41));
	assert_non_null(memmem(r->part[2], r->len[2],
	    "Content-Type: message/delivery-status\r\n", 39));
}

/* report_has - text within part k (0: the report's header section) */
static bool
report_has(const struct report *r, size_t k, const char *text)
{
	if (k > r->nparts)
		return false;
	return memmem(r->part[k], r->len[k], text, strlen(text)) != NULL;
}

/* report_load - load and parse a report, check its envelope */
static void
report_load(const struct queue_ref *ref, const char *rcpt, struct report *r)
{
	char line[400];

	memset(r, 0, sizeof(*r));
	assert_int_equal(load(ref, "mess", &r->qf), 0);
	assert_string_equal(r->qf.from, "");
	assert_true(strncmp(r->qf.mail_from, "MAIL FROM:<>", 12) == 0);
	assert_int_equal(strstr(r->qf.mail_from, " SMTPUTF8") != NULL,
	    is_8bit(rcpt, strlen(rcpt)));
	assert_int_equal(strstr(r->qf.mail_from, " BODY=8BITMIME") != NULL,
	    is_8bit(r->qf.data, r->qf.datalen));
	assert_string_equal(r->qf.to, rcpt);
	(void)snprintf(line, sizeof(line), "RCPT TO:<%s>", rcpt);
	assert_string_equal(r->qf.rcpt, line);
	assert_string_equal(r->qf.smtp_domain, ROOT);
	assert_true(r->qf.msgid[0] == 'X');
	assert_true(strncmp(r->qf.info, "[127.0.0.1]:0;[127.0.0.1]:0;",
	    28) == 0);
	report_parse(r);
}

/* A case: a server.tab, an original, a failure and what must come out. */
struct bounce_case {
	const char	*name;
	const char	*tab;		/* extra server.tab lines */
	const char	*from;		/* MAIL FROM line */
	const char	*rcpt;		/* RCPT TO line */
	const char	*data;		/* original message, NULL: ORIG */
	const char	*diag;		/* diagnostic, NULL: a 550 reply */
	const char	*mta;		/* remote MTA */
	int		 ret;		/* queue_bounce result */
	const char	*to[2];		/* report recipients */
	const char	*has[9];	/* "<k>text": text in part k */
	const char	*hasnt[4];	/* "<k>text": text not in part k */
	bool		 delay;		/* queue_notify_delay, try TRIES */
	const char	*status;	/* NULL: 5.1.1, or 4.4.1 (delay) */
	bool		 until;		/* delay: retry_until given */
};

#define TRIES	3
#define NEXT	((time_t)1800000000)	/* a next try */
#define UNTIL	((time_t)1800300000)	/* a retry limit */

#define D550	"550 5.1.1 <" RCPT ">: Recipient address rejected"
#define D451	"451 4.4.1 Connection timed out"
#define TEMPADM	"\"TempErrorsAdmin\"\t\"" ADMIN "\"\n"
#define DSUBJ	"0Subject: Delayed mail (still being retried): "
#define SLOG	"\"2026-01-01 10:00:00\"\t\"connect mx1.remote.test\"\r\n" \
		"\"2026-01-01 10:00:01\"\t\"451 4.4.1 try later\"\r\n"
#define ERRADM	"\"ErrorsAdmin\"\t\"" ADMIN "\"\n"
#define LONGW	"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdef" \
		"ghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuv"
#define LONG8	LONGW LONGW LONGW LONGW LONGW LONGW LONGW LONGW
#define BIGBODY	LONG8 "\r\n" LONG8 "\r\n" LONG8 "\r\n" LONG8 "\r\n"

static const struct bounce_case cases[] = {
	{ "null sender", NULL, "MAIL FROM:<>", TO, NULL, NULL, NULL, 0,
	    { NULL }, { NULL }, { NULL } },
	{ "NOTIFY=NEVER", NULL, FROM, TO " NOTIFY=NEVER", NULL, NULL, NULL,
	    0, { NULL }, { NULL }, { NULL } },
	{ "NOTIFY=SUCCESS", NULL, FROM, TO " NOTIFY=SUCCESS", NULL, NULL,
	    NULL, 0, { NULL }, { NULL }, { NULL } },
	{ "NOTIFY=SUCCESS,DELAY", NULL, FROM, TO " NOTIFY=SUCCESS,DELAY",
	    NULL, NULL, NULL, 0, { NULL }, { NULL }, { NULL } },
	{ "notify=failure", NULL, FROM, TO " notify=failure", NULL, NULL,
	    NULL, 1, { SENDER }, { "2Final-Recipient: rfc822; " RCPT "\r\n",
	    "2Action: failed\r\n", "2Status: 5.1.1\r\n" }, { NULL } },
	{ "NOTIFY=DELAY,FAILURE", NULL, FROM, TO " NOTIFY=DELAY,FAILURE",
	    NULL, NULL, NULL, 1, { SENDER }, { "2Action: failed" }, { NULL } },
	{ "default returns the whole message", NULL, FROM " SIZE=99", TO,
	    NULL, NULL, NULL, 1, { SENDER },
	    { "3Content-Type: message/rfc822\r\n", "3\r\n\r\n" ORIG,
	    "1The original message is attached." },
	    { "3rfc822-headers" } },
	{ "RET=HDRS returns headers only", NULL, FROM " RET=HDRS", TO, NULL,
	    NULL, NULL, 1, { SENDER },
	    { "3Content-Type: text/rfc822-headers\r\n", "3Subject: hi\r\n",
	    "3Message-ID: <m1@example.com>\r\n" },
	    { "*body line", "3message/rfc822" } },
	{ "ret=hdrs lower case", NULL, FROM " ret=hdrs", TO, NULL, NULL,
	    NULL, 1, { SENDER }, { "3text/rfc822-headers" },
	    { "*body line" } },
	{ "RET=FULL", NULL, FROM " RET=FULL", TO, NULL, NULL, NULL, 1,
	    { SENDER }, { "3message/rfc822", "3body line 2" }, { NULL } },
	{ "too big: headers only", "\"MaxMessageSize\"\t\"1\"\n", FROM, TO,
	    "Subject: big\r\n\r\n" BIGBODY, NULL, NULL, 1, { SENDER },
	    { "3text/rfc822-headers", "3Subject: big", "1too large" },
	    { "*0123456789abcdef" } },
	{ "ENVID and ORCPT decoded", NULL, FROM " ENVID=abc+2B1",
	    TO " NOTIFY=FAILURE ORCPT=rfc822;x+2By+3Dz@remote.test", NULL,
	    NULL, NULL, 1, { SENDER },
	    { "2Original-Envelope-Id: abc+1\r\n",
	    "2Original-Recipient: rfc822;x+y=z@remote.test\r\n" },
	    { "2+2B", "2+3D" } },
	{ "decoded control characters refused", NULL,
	    FROM " ENVID=abc+0D+0Ax", TO " ORCPT=rfc822;a+00@b", NULL, NULL,
	    NULL, 1, { SENDER }, { "2Final-Recipient" },
	    { "2Original-Envelope-Id", "2Original-Recipient" } },
	{ "bad xtext refused", NULL, FROM " ENVID=abc+2", TO
	    " ORCPT=rfc822;a+ZZ@b", NULL, NULL, NULL, 1, { SENDER },
	    { "2Final-Recipient" },
	    { "2Original-Envelope-Id", "2Original-Recipient" } },
	{ "report headers", NULL, FROM, TO, NULL, NULL, NULL, 1, { SENDER },
	    { "0From: \"" ROOT " PostMaster\" <" PM ">\r\n",
	    "0To: <" SENDER ">\r\n", "0Auto-Submitted: auto-replied\r\n",
	    "0MIME-Version: 1.0\r\n", "0X-MailerError: Message = [S1A]"
	    " Server = [" ROOT "]\r\n", "0Subject: Undelivered Mail" },
	    { NULL } },
	{ "per-message fields", NULL, FROM, TO, NULL, NULL, NULL, 1,
	    { SENDER }, { "2Reporting-MTA: dns; " ROOT "\r\n",
	    "2Arrival-Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n",
	    "2Last-Attempt-Date: ", "0Message-ID: <X" },
	    { "2Original-Envelope-Id", "2Original-Recipient" } },
	{ "SMTP diagnostic and remote MTA", NULL, FROM, TO, NULL, NULL,
	    "mx1.remote.test", 1, { SENDER },
	    { "2Remote-MTA: dns; mx1.remote.test\r\n",
	    "2Diagnostic-Code: smtp; 550 5.1.1 <" RCPT ">:",
	    "1Remote server: mx1.remote.test", "1Recipient: <" RCPT ">" },
	    { NULL } },
	{ "local diagnostic", NULL, FROM, TO, NULL,
	    "Unknown user \"bob\" in domain \"remote.test\"", "bad host name",
	    1, { SENDER }, { "2Diagnostic-Code: X-postroom; Unknown user",
	    "1Reason: Unknown user" }, { "*Remote-MTA", "*smtp;" } },
	{ "long diagnostic is folded", NULL, FROM, TO, NULL,
	    "550 " LONG8 LONG8 " more words here",
	    NULL, 1, { SENDER }, { "2Diagnostic-Code: smtp; 550\r\n " LONGW,
	    "2\r\n more words here\r\n" }, { NULL } },
	{ "CR LF in diagnostic cannot inject", NULL, FROM, TO, NULL,
	    "550 no\r\nX-Injected: yes\r\n", NULL, 1, { SENDER },
	    { "2smtp; 550 no X-Injected: yes" }, { "*\r\nX-Injected" } },
	{ "loop guard", NULL, FROM, TO, "X-MailerError: Message = [S9]"
	    " Server = [" ROOT "]\r\nSubject: x\r\n\r\nbody\r\n", NULL, NULL,
	    0, { NULL }, { NULL }, { NULL } },
	{ "loop guard folded, any case", "\"ErrorsAdmin\"\t\"" ADMIN "\"\n",
	    FROM, TO, "Subject: x\r\nx-mailererror: Message = [S9]\r\n"
	    "\tServer = [MX.Example.ORG]\r\n\r\nbody\r\n", NULL, NULL, 0,
	    { NULL }, { NULL }, { NULL } },
	{ "other server's X-MailerError", NULL, FROM, TO,
	    "X-MailerError: Message = [S9] Server = [other.test]\r\n"
	    "Subject: x\r\n\r\nsee X-MailerError: [" ROOT "]\r\n", NULL,
	    NULL, 1, { SENDER }, { "3other.test" }, { NULL } },
	{ "ErrorsAdmin copy", "\"ErrorsAdmin\"\t\"" ADMIN "\"\n", FROM, TO,
	    NULL, NULL, NULL, 1, { SENDER, ADMIN },
	    { "0To: <" SENDER ">" }, { NULL } },
	{ "ErrorsAdmin, null sender", "\"ErrorsAdmin\"\t\"" ADMIN "\"\n",
	    "MAIL FROM:<>", TO, NULL, NULL, NULL, 1, { ADMIN },
	    { "0To: <" ADMIN ">" }, { NULL } },
	{ "ErrorsAdmin, NOTIFY=NEVER", "\"ErrorsAdmin\"\t\"" ADMIN "\"\n",
	    FROM, TO " NOTIFY=NEVER", NULL, NULL, NULL, 1, { ADMIN },
	    { "0To: <" ADMIN ">" }, { NULL } },
	{ "ErrorsAdmin is the sender", "\"ErrorsAdmin\"\t\"" SENDER "\"\n",
	    FROM, TO, NULL, NULL, NULL, 1, { SENDER }, { NULL }, { NULL } },
	{ "ErrorsAdmin invalid", "\"ErrorsAdmin\"\t\"not an address\"\n",
	    FROM, TO, NULL, NULL, NULL, 1, { SENDER }, { NULL }, { NULL } },
	{ "PostMaster default", "\"PostMaster\"\t\"\"\n", FROM, TO, NULL,
	    NULL, NULL, 1, { SENDER },
	    { "0From: \"" ROOT " PostMaster\" <postmaster@" ROOT ">" },
	    { NULL } },
	{ "8-bit message", NULL, FROM " BODY=8BITMIME", TO,
	    "Subject: caf\xc3\xa9\r\n\r\nd\xc3\xa9j\xc3\xa0\r\n", NULL, NULL,
	    1, { SENDER }, { "0Content-Transfer-Encoding: 8bit\r\n",
	    "3Content-Transfer-Encoding: 8bit\r\n" },
	    { "1Content-Transfer-Encoding", "2Content-Transfer-Encoding" } },
	{ "UTF-8 sender", NULL, "MAIL FROM:<j\xc3\xb6rg@example.com>"
	    " SMTPUTF8", TO, NULL, NULL, NULL, 1,
	    { "j\xc3\xb6rg@example.com" }, { "0To: <j\xc3\xb6rg@" },
	    { NULL } },
	{ "boundary-like text in the message", NULL, FROM, TO,
	    "Subject: x\r\n\r\n--=_postroom_\r\n--=_postroom_00--\r\n", NULL,
	    NULL, 1, { SENDER }, { "3--=_postroom_00--" }, { NULL } },
	{ "TempErrorsAdmin gets no failure report", TEMPADM, FROM, TO, NULL,
	    NULL, NULL, 1, { SENDER }, { "2Action: failed" }, { NULL } },
	/* Delay notices (queue_notify_delay). */
	{ "delay: report structure", NULL, FROM, TO, NULL, D451,
	    "mx1.remote.test", 1, { SENDER },
	    { "2Action: delayed\r\n", "2Status: 4.4.1\r\n",
	    "2Will-Retry-Until: ", "2Diagnostic-Code: smtp; " D451 "\r\n",
	    "2Remote-MTA: dns; mx1.remote.test\r\n",
	    "1THIS IS A WARNING ONLY", "1Next attempt: ",
	    "1Failed attempts so far: 3\r\n", DSUBJ "hi\r\n" },
	    { "*Action: failed", "*body line", "3message/rfc822",
	    "*The delivery log" }, true, "4.4.1", true },
	{ "delay: headers returned, retry limit shown", NULL, FROM, TO,
	    NULL, D451, NULL, 1, { SENDER },
	    { "3Content-Type: text/rfc822-headers\r\n", "3Subject: hi\r\n",
	    "1Retried until: ", "0X-MailerError: Message = [S1A] Server = ["
	    ROOT "]\r\n", "0To: <" SENDER ">\r\n",
	    "0Auto-Submitted: auto-replied\r\n",
	    "2Reporting-MTA: dns; " ROOT "\r\n" },
	    { "*Remote-MTA", "*body line" }, true, "4.4.1", true },
	{ "delay: no retry limit", NULL, FROM " RET=FULL", TO, NULL, D451,
	    NULL, 1, { SENDER }, { "2Action: delayed", "3Subject: hi" },
	    { "2Will-Retry-Until", "1Retried until", "*body line" }, true,
	    "4.4.1", false },
	{ "delay: local diagnostic", NULL, FROM, TO, NULL,
	    "Mailbox over quota", NULL, 1, { SENDER },
	    { "2Diagnostic-Code: X-postroom; Mailbox over quota\r\n",
	    "1Reason: Mailbox over quota" }, { NULL }, true, "4.2.2", true },
	{ "delay: a 5.x.x status becomes 4.0.0", NULL, FROM, TO, NULL, D451,
	    NULL, 1, { SENDER }, { "2Status: 4.0.0\r\n" }, { "*5.1.1" },
	    true, "5.1.1", true },
	{ "delay: null sender", NULL, "MAIL FROM:<>", TO, NULL, D451, NULL,
	    0, { NULL }, { NULL }, { NULL }, true, "4.4.1", true },
	{ "delay: null sender, TempErrorsAdmin", TEMPADM, "MAIL FROM:<>", TO,
	    NULL, D451, NULL, 1, { ADMIN }, { "0To: <" ADMIN ">\r\n" },
	    { NULL }, true, "4.4.1", true },
	{ "delay: NOTIFY=FAILURE", NULL, FROM, TO " NOTIFY=FAILURE", NULL,
	    D451, NULL, 0, { NULL }, { NULL }, { NULL }, true, "4.4.1", true },
	{ "delay: NOTIFY=FAILURE, TempErrorsAdmin", TEMPADM, FROM,
	    TO " NOTIFY=FAILURE", NULL, D451, NULL, 1, { ADMIN },
	    { "0To: <" ADMIN ">\r\n", "2Action: delayed" }, { NULL }, true,
	    "4.4.1", true },
	{ "delay: NOTIFY=NEVER", NULL, FROM, TO " NOTIFY=NEVER", NULL, D451,
	    NULL, 0, { NULL }, { NULL }, { NULL }, true, "4.4.1", true },
	{ "delay: NOTIFY=SUCCESS,FAILURE", NULL, FROM,
	    TO " NOTIFY=SUCCESS,FAILURE", NULL, D451, NULL, 0, { NULL },
	    { NULL }, { NULL }, true, "4.4.1", true },
	{ "delay: NOTIFY=DELAY", NULL, FROM, TO " NOTIFY=DELAY", NULL, D451,
	    NULL, 1, { SENDER }, { "2Action: delayed" }, { NULL }, true,
	    "4.4.1", true },
	{ "delay: notify=failure,delay", NULL, FROM,
	    TO " notify=failure,delay ORCPT=rfc822;x+2By@remote.test", NULL,
	    D451, NULL, 1, { SENDER },
	    { "2Original-Recipient: rfc822;x+y@remote.test\r\n" }, { NULL },
	    true, "4.4.1", true },
	{ "delay: TempErrorsAdmin copy", TEMPADM, FROM, TO, NULL, D451, NULL,
	    1, { SENDER, ADMIN }, { "0To: <" SENDER ">" }, { NULL }, true,
	    "4.4.1", true },
	{ "delay: ErrorsAdmin gets no delay notice",
	    "\"ErrorsAdmin\"\t\"" ADMIN "\"\n", FROM, TO, NULL, D451, NULL, 1,
	    { SENDER }, { "2Action: delayed" }, { NULL }, true, "4.4.1",
	    true },
	{ "delay: loop guard", TEMPADM, FROM, TO, "X-MailerError: Message ="
	    " [S9] Server = [" ROOT "]\r\nSubject: x\r\n\r\nbody\r\n", D451,
	    NULL, 0, { NULL }, { NULL }, { NULL }, true, "4.4.1", true },
	{ "delay: subject folded in the original", NULL, FROM, TO,
	    "Subject: a\r\n  folded\tsubject\r\nX-A: b\r\n\r\nbody\r\n",
	    D451, NULL, 1, { SENDER }, { DSUBJ "a folded subject\r\n" },
	    { NULL }, true, "4.4.1", true },
	{ "delay: no subject, Message-ID", NULL, FROM, TO,
	    "Message-ID: <m2@example.com>\r\n\r\nbody\r\n", D451, NULL, 1,
	    { SENDER }, { DSUBJ "<m2@example.com>\r\n" }, { NULL }, true,
	    "4.4.1", true },
	{ "delay: 8-bit subject, no Message-ID", NULL, FROM, TO,
	    "Subject: caf\xc3\xa9\r\n\r\nbody\r\n", D451, NULL, 1,
	    { SENDER }, { DSUBJ "S1A\r\n" }, { "0caf" }, true, "4.4.1",
	    true },
	{ "delay: long subject cut", NULL, FROM, TO,
	    "Subject: " LONG8 " " LONGW "\r\n\r\nbody\r\n", D451, NULL, 1,
	    { SENDER }, { DSUBJ "0123456789", "0...\r\nMessage-ID: <X" },
	    { NULL }, true, "4.4.1", true },
};

/* expect - the has/hasnt strings of a case against a report */
static void
expect(const struct bounce_case *c, const struct report *r)
{
	const char *s;
	size_t i, k;

	for (i = 0; i < nitems(c->has) && (s = c->has[i]) != NULL; i++) {
		if (s[0] == '*')
			assert_non_null(memmem(r->qf.data, r->qf.datalen,
			    s + 1, strlen(s + 1)));
		else if (!report_has(r, (size_t)(s[0] - '0'), s + 1))
			fail_msg("%s: part %c lacks \"%s\"", c->name, s[0],
			    s + 1);
	}
	for (i = 0; i < nitems(c->hasnt) && (s = c->hasnt[i]) != NULL; i++) {
		k = (size_t)(s[0] - '0');
		if (s[0] == '*' ? memmem(r->qf.data, r->qf.datalen, s + 1,
		    strlen(s + 1)) != NULL : report_has(r, k, s + 1))
			fail_msg("%s: \"%s\" found", c->name, s);
	}
}

/* report_make - queue_notify_delay (try TRIES) or queue_bounce */
static int
report_make(struct config *cfg, const struct queue_file *qf,
    const struct queue_failure *why, bool delay, bool until,
    struct queue_ref **refs, size_t *nrefs)
{
	if (delay)
		return queue_notify_delay(cfg, SPLIT, qf, why, TRIES, NEXT,
		    until ? UNTIL : 0, refs, nrefs);
	return queue_bounce(cfg, SPLIT, qf, why, refs, nrefs);
}

/* run_case - spool, bounce, check every report file */
static void
run_case(const struct bounce_case *c)
{
	struct queue_failure why = { c->status != NULL ? c->status : "5.1.1",
	    c->diag != NULL ? c->diag : D550, c->mta };
	struct queue_ref ref, *refs = NULL;
	struct queue_file qf;
	struct report r;
	struct config *cfg;
	size_t nrefs = 99, i, nto = 0;

	root_make(c->tab);
	cfg = config_acquire();
	spool(c->from, c->rcpt, c->data != NULL ? c->data : ORIG, &ref, &qf);
	assert_int_equal(report_make(cfg, &qf, &why, c->delay, c->until,
	    &refs, &nrefs), c->ret);
	while (nto < nitems(c->to) && c->to[nto] != NULL)
		nto++;
	assert_int_equal(nrefs, nto);
	assert_true(nto > 0 || refs == NULL);
	assert_int_equal(queue_scan(mailroot, SPLIT, "mess", NULL, NULL),
	    (long)(1 + nto));
	for (i = 0; i < nto; i++) {
		report_load(&refs[i], c->to[i], &r);
		/* Both copies carry the same report. */
		if (i > 0)
			assert_true(refs[i].l1 == refs[0].l1);
		assert_int_equal(r.nparts, 3);
		assert_int_equal(report_has(&r, 2, "Action: delayed\r\n"),
		    c->delay);
		expect(c, &r);
		queue_file_free(&r.qf);
	}
	free(refs);
	queue_file_free(&qf);
	config_release(cfg);
	root_drop();
}

/* test_cases - the table */
static void
test_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		print_message("case: %s\n", cases[i].name);
		run_case(&cases[i]);
	}
}

/*
 * test_report_not_reported - a report (failure or delay notice) that
 * fails or is delayed is never reported on again, even to ErrorsAdmin or
 * TempErrorsAdmin (null sender and the loop guard).
 */
static void
test_report_not_reported(void **state)
{
	struct queue_failure why = { "5.1.1", D550, NULL, SLOG, strlen(SLOG) };
	struct queue_ref ref, *refs, *refs2;
	struct queue_file qf, rep;
	struct config *cfg;
	size_t nrefs, n2;
	int k;

	(void)state;
	root_make(ERRADM TEMPADM);
	cfg = config_acquire();
	spool(FROM, TO, ORIG, &ref, &qf);
	for (k = 0; k < 4; k++) {
		refs = refs2 = NULL;
		nrefs = 0;
		n2 = 9;
		assert_int_equal(report_make(cfg, &qf, &why, k & 1, true,
		    &refs, &nrefs), 1);
		assert_int_equal(nrefs, 2);
		assert_int_equal(load(&refs[1], "mess", &rep), 0);
		assert_int_equal(report_make(cfg, &rep, &why, k & 2, true,
		    &refs2, &n2), 0);
		assert_int_equal(n2, 0);
		assert_null(refs2);
		queue_file_free(&rep);
		free(refs);
	}
	queue_file_free(&qf);
	config_release(cfg);
	root_drop();
}

/* A queue_fail case. */
struct fail_case {
	const char	*name;
	const char	*tab;		/* extra server.tab lines */
	const char	*from;		/* MAIL FROM line */
	size_t		 nrefs;		/* reports spooled */
	bool		 frozen;	/* original in froz/, else gone */
};

static const struct fail_case fail_cases[] = {
	{ "default freezes", NULL, FROM, 1, true },
	{ "RemoveSpoolErrors=0", "\"RemoveSpoolErrors\"\t\"0\"\n", FROM, 1,
	    true },
	{ "RemoveSpoolErrors=1", "\"RemoveSpoolErrors\"\t\"1\"\n", FROM, 1,
	    false },
	{ "null sender frozen", NULL, "MAIL FROM:<>", 0, true },
	{ "null sender removed", "\"RemoveSpoolErrors\"\t\"1\"\n",
	    "MAIL FROM:<>", 0, false },
};

/* test_fail - queue_fail: report first, then froz/ or removed */
static void
test_fail(void **state)
{
	struct queue_failure why = { "5.1.1", D550, "mx1.remote.test" };
	const struct fail_case *c;
	struct queue_ref ref, *refs;
	struct queue_file qf;
	struct config *cfg;
	size_t i, nrefs;

	(void)state;
	for (i = 0; i < nitems(fail_cases); i++) {
		c = &fail_cases[i];
		print_message("case: %s\n", c->name);
		root_make(c->tab);
		cfg = config_acquire();
		spool(c->from, TO, ORIG, &ref, &qf);
		refs = NULL;
		nrefs = 99;
		assert_int_equal(queue_fail(cfg, SPLIT, &ref, "mess", &qf,
		    &why, &refs, &nrefs), 0);
		assert_int_equal(nrefs, c->nrefs);
		assert_false(exists(&ref, "mess"));
		assert_int_equal(exists(&ref, "froz"), c->frozen);
		assert_int_equal(queue_scan(mailroot, SPLIT, "mess", NULL,
		    NULL), (long)c->nrefs);
		free(refs);
		queue_file_free(&qf);
		config_release(cfg);
		root_drop();
	}
}

/* test_fail_no_root - no RootDomain: -1 and the file stays in mess/ */
static void
test_fail_no_root(void **state)
{
	struct queue_failure why = { "5.1.1", D550, NULL };
	struct queue_ref ref, *refs = NULL;
	struct queue_file qf;
	struct config *cfg;
	size_t nrefs = 99;

	(void)state;
	root_make(NULL);
	put("server.tab", "\"PostMaster\"\t\"" PM "\"\n");
	assert_int_equal(config_reload("test"), 0);
	cfg = config_acquire();
	spool(FROM, TO, ORIG, &ref, &qf);
	assert_int_equal(queue_fail(cfg, SPLIT, &ref, "mess", &qf, &why,
	    &refs, &nrefs), -1);
	assert_int_equal(nrefs, 0);
	assert_null(refs);
	assert_true(exists(&ref, "mess"));
	assert_int_equal(queue_scan(mailroot, SPLIT, "mess", NULL, NULL), 1);
	queue_file_free(&qf);
	config_release(cfg);
	root_drop();
}

/* test_bad_status - a malformed status code becomes 5.0.0 */
static void
test_bad_status(void **state)
{
	static const char *const bad[] = { "", "2.0.0", "5.1", "5.1.1x",
	    "5.1234.1", "x" };
	struct queue_ref ref, *refs;
	struct queue_failure why;
	struct queue_file qf;
	struct report r;
	struct config *cfg;
	size_t i, nrefs;

	(void)state;
	root_make(NULL);
	cfg = config_acquire();
	spool(FROM, TO, ORIG, &ref, &qf);
	memset(&why, 0, sizeof(why));
	for (i = 0; i < nitems(bad); i++) {
		why.status = bad[i];
		why.diagnostic = NULL;
		why.remote_mta = NULL;
		refs = NULL;
		assert_int_equal(queue_bounce(cfg, SPLIT, &qf, &why, &refs,
		    &nrefs), 1);
		report_load(&refs[0], SENDER, &r);
		assert_true(report_has(&r, 2, "Status: 5.0.0\r\n"));
		assert_true(report_has(&r, 2,
		    "Diagnostic-Code: X-postroom; delivery failed\r\n"));
		queue_file_free(&r.qf);
		free(refs);
	}
	queue_file_free(&qf);
	config_release(cfg);
	root_drop();
}

/* A delivery log case: who gets a copy, and which copies show the log. */
struct log_case {
	const char	*name;
	const char	*tab;		/* extra server.tab lines */
	const char	*from;		/* MAIL FROM line */
	const char	*rcpt;		/* RCPT TO line */
	bool		 delay;		/* queue_notify_delay */
	const char	*to[2];		/* report recipients */
	bool		 log[2];	/* that copy shows the log */
};

#define LOG1	"\"NotifySendLogToSender\"\t\"1\"\n"

static const struct log_case log_cases[] = {
	{ "failure: sender only, default", NULL, FROM, TO, false,
	    { SENDER }, { false } },
	{ "failure: NotifySendLogToSender=0",
	    "\"NotifySendLogToSender\"\t\"0\"\n", FROM, TO, false, { SENDER },
	    { false } },
	{ "failure: NotifySendLogToSender=1", LOG1, FROM, TO, false,
	    { SENDER }, { true } },
	{ "failure: ErrorsAdmin copy always has it", ERRADM, FROM, TO, false,
	    { SENDER, ADMIN }, { false, true } },
	{ "failure: ErrorsAdmin, NotifySendLogToSender=1", ERRADM LOG1, FROM,
	    TO, false, { SENDER, ADMIN }, { true, true } },
	{ "failure: ErrorsAdmin, null sender", ERRADM, "MAIL FROM:<>", TO,
	    false, { ADMIN }, { true } },
	{ "failure: ErrorsAdmin is the sender", "\"ErrorsAdmin\"\t\""
	    SENDER "\"\n", FROM, TO, false, { SENDER }, { true } },
	{ "delay: sender only, default", NULL, FROM, TO, true, { SENDER },
	    { false } },
	{ "delay: NotifySendLogToSender=1", LOG1, FROM, TO, true, { SENDER },
	    { true } },
	{ "delay: TempErrorsAdmin copy always has it", TEMPADM, FROM, TO,
	    true, { SENDER, ADMIN }, { false, true } },
	{ "delay: TempErrorsAdmin, NOTIFY=FAILURE", TEMPADM, FROM,
	    TO " NOTIFY=FAILURE", true, { ADMIN }, { true } },
	{ "delay: ErrorsAdmin is not TempErrorsAdmin", ERRADM, FROM, TO, true,
	    { SENDER }, { false } },
};

/* run_log_case - spool, report with SLOG, check every copy */
static void
run_log_case(const struct log_case *c)
{
	struct queue_failure why = { c->delay ? "4.4.1" : "5.1.1",
	    c->delay ? D451 : D550, NULL, SLOG, strlen(SLOG) };
	struct queue_ref ref, *refs = NULL;
	struct queue_file qf;
	struct report r;
	struct config *cfg;
	size_t nrefs = 99, i, nto = c->to[1] != NULL ? 2 : 1;
	char to[400];

	root_make(c->tab);
	cfg = config_acquire();
	spool(c->from, c->rcpt, ORIG, &ref, &qf);
	assert_int_equal(report_make(cfg, &qf, &why, c->delay, true, &refs,
	    &nrefs), 1);
	assert_int_equal(nrefs, nto);
	assert_int_equal(queue_scan(mailroot, SPLIT, "mess", NULL, NULL),
	    (long)(1 + nto));
	for (i = 0; i < nto; i++) {
		report_load(&refs[i], c->to[i], &r);
		assert_int_equal(r.nparts, 3);
		if (report_has(&r, 1, "The delivery log of the message:\r\n")
		    != c->log[i])
			fail_msg("%s: copy %zu: log %s", c->name, i,
			    c->log[i] ? "missing" : "shown");
		assert_int_equal(report_has(&r, 1, "\r\n\r\n" SLOG),
		    c->log[i]);
		assert_false(report_has(&r, 1, "The log was cut"));
		/* Copies with different text are separate reports. */
		(void)snprintf(to, sizeof(to), "To: <%s>\r\n",
		    c->log[0] != c->log[1] ? c->to[i] : c->to[0]);
		assert_true(report_has(&r, 0, to));
		queue_file_free(&r.qf);
	}
	free(refs);
	queue_file_free(&qf);
	config_release(cfg);
	root_drop();
}

/* test_log - the delivery log in the report copies */
static void
test_log(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(log_cases); i++) {
		print_message("case: %s\n", log_cases[i].name);
		run_log_case(&log_cases[i]);
	}
}

#define LOGLINES	3000	/* "line NNNNN ...", about 150 KiB */
#define LONGLINE	5000	/* one log line of 'x' */
#define LOG_SHOWN	((size_t)64 << 10)	/* the tail kept */

/*
 * log_make - a log over the cap: numbered LF lines, then a line with
 * control and 8-bit octets, a LONGLINE-octet line and a last CRLF line
 */
static void
log_make(struct buf *b)
{
	size_t i;

	buf_init(b, (size_t)1 << 20);
	for (i = 0; i < LOGLINES; i++)
		assert_int_equal(buf_printf(b, "line %05zu lorem ipsum dolor"
		    " sit amet, consectetur adipiscing\n", i), 0);
	assert_int_equal(buf_puts(b, "ctl\x01\x1b x\xc3\xa9\rend\r\n"), 0);
	for (i = 0; i < LONGLINE; i++)
		assert_int_equal(buf_putc(b, 'x'), 0);
	assert_int_equal(buf_puts(b, "\r\nlast line\r\n"), 0);
}

/*
 * test_log_long - the log is cut to its tail from a line start (with a
 * note), long lines are wrapped within 998 octets (report_parse checks
 * every line), control and 8-bit octets do not pass
 */
static void
test_log_long(void **state)
{
	struct queue_failure why = { "4.4.1", D451, NULL, NULL, 0 };
	char xs[901], want[1000];
	struct queue_ref ref, *refs = NULL;
	struct queue_file qf;
	struct report r;
	struct config *cfg;
	struct buf log;
	const char *p;
	size_t nrefs = 0;

	(void)state;
	root_make(TEMPADM);
	cfg = config_acquire();
	spool("MAIL FROM:<>", TO, ORIG, &ref, &qf);
	log_make(&log);
	why.log = log.data;
	why.loglen = log.len;
	assert_int_equal(queue_notify_delay(cfg, SPLIT, &qf, &why, TRIES,
	    0, 0, &refs, &nrefs), 1);
	assert_int_equal(nrefs, 1);
	report_load(&refs[0], ADMIN, &r);
	(void)snprintf(want, sizeof(want), "(The log was cut: only its last"
	    " %zu of %zu octets are shown.)\r\n\r\nline ", LOG_SHOWN -
	    (size_t)(strchr(log.data + log.len - LOG_SHOWN, '\n') + 1 -
	    (log.data + log.len - LOG_SHOWN)), log.len);
	assert_true(report_has(&r, 1, want));
	assert_false(report_has(&r, 1, "line 00000 "));
	assert_true(report_has(&r, 1, "adipiscing\r\nctl   x?? end\r\n"));
	memset(xs, 'x', 900);
	xs[900] = '\0';
	(void)snprintf(want, sizeof(want), "\r\n%s\r\n    x", xs);
	assert_true(report_has(&r, 1, want));
	p = memmem(r.part[1], r.len[1], want, strlen(want));
	assert_non_null(memmem(p, r.len[1] - (size_t)(p - r.part[1]),
	    "xxx\r\nlast line\r\n", 16));
	/* The cap: part 1 holds about 64 KiB of log, CRLF for LF. */
	assert_true(r.len[1] > LOG_SHOWN - 1024 &&
	    r.len[1] < LOG_SHOWN + 8192);
	assert_false(report_has(&r, 2, "Will-Retry-Until"));
	assert_false(report_has(&r, 1, "Next attempt"));
	assert_false(is_8bit(r.qf.data, r.qf.datalen));
	queue_file_free(&r.qf);
	free(refs);
	buf_clear(&log);
	queue_file_free(&qf);
	config_release(cfg);
	root_drop();
}

/* main - run the group quietly */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_report_not_reported),
		cmocka_unit_test(test_fail),
		cmocka_unit_test(test_fail_no_root),
		cmocka_unit_test(test_bad_status),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_log_long),
	};

	log_init("test_queue_bounce", false, false, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
