/*
 * smtpc_proto.c - the pure protocol pieces of the SMTP/LMTP client: reply
 * parsing, EHLO capabilities, MAIL/RCPT composition, DATA dot-stuffing and
 * the 8BITMIME downgrade.  No I/O and no state beyond the arguments, so
 * each piece is unit-tested and fuzzed on its own.
 *
 * The downgrade (RFC 6152 section 3, RFC 1428, the ZMailer transport's
 * approach extended to multipart) walks the MIME structure with a
 * recursive descent over byte ranges of the message.  Line ends are CR LF,
 * bare LF or bare CR: smtpc_dotstuff() sends a bare CR or LF as CR LF, so
 * the next hop sees every one of them as a line end, and the MIME walker
 * must see the same lines (Python's email package splits lines the same
 * way).  An entity whose body has nothing 7-bit SMTP cannot carry (an octet
 * above 127, a NUL, a line over 998 octets) is copied unchanged; only the
 * others are parsed further.  Finding that out is one scan with a cache
 * (smtpc_mime_dirty), and since the walk visits the message in order, the
 * whole message is scanned once for it; looking for boundaries costs one
 * pass over a range per level of multipart nesting that must be converted.
 */
#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "core/base64.h"
#include "core/buf.h"
#include "smtpc/smtpc_proto.h"

#define SMTPC_MIME_DEPTH	32	/* nested entities being converted */
#define SMTPC_TEXT_LINE		998	/* RFC 5321 4.5.3.1.6, without CRLF */
#define SMTPC_QP_LINE		76	/* RFC 2045 6.7 rule 5 */
#define SMTPC_B64_IN		57	/* octets per 76-character line */
#define SMTPC_BOUNDARY_MAX	200	/* RFC 2046 5.1.1 says 70: be lenient */
#define SMTPC_HDR_VALUE_MAX	65536	/* unfolded Content-Type or CTE */

/* For 8-bit text without Content-Type (RFC 1428 section 3). */
#define SMTPC_CT_UNKNOWN \
	"Content-Type: text/plain; charset=unknown-8bit\r\n"
#define SMTPC_CT_UNKNOWN_LEN	(sizeof(SMTPC_CT_UNKNOWN) - 1)

/* Restore out->len after a failure: the caller's buffer is unchanged. */
static void
smtpc_buf_undo(struct buf *out, size_t start)
{
	out->len = start;
	if (out->cap > 0)
		out->data[start] = '\0';
}

/*
 * Replies.
 */

/* One reply line, checked. */
struct smtpc_line {
	const char	*text;		/* after "ddd" and the separator */
	size_t		 len;		/* its length */
	int		 code;		/* ddd */
	bool		 last;		/* "ddd text" or "ddd": the last line */
};

/* smtpc_prefix_ok - the first octets of s can start a reply line */
static bool
smtpc_prefix_ok(const char *s, size_t n)
{
	size_t i;

	/* RFC 5321 4.2: the first digit is 2..5, then two digits. */
	if (n > 0 && (s[0] < '2' || s[0] > '5'))
		return false;
	for (i = 1; i < 3 && i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n <= 3 || s[3] == ' ' || s[3] == '-';
}

/* smtpc_line_parse - split a complete line; false if it is not SMTP */
static bool
smtpc_line_parse(const char *s, size_t n, struct smtpc_line *l)
{
	/* A bare CR or LF inside a line, or a NUL, is not SMTP. */
	if (memchr(s, '\r', n) != NULL || memchr(s, '\n', n) != NULL ||
	    memchr(s, '\0', n) != NULL)
		return false;
	if (n < 3 || !smtpc_prefix_ok(s, n))
		return false;
	l->code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	l->last = n == 3 || s[3] == ' ';
	l->text = s + (n == 3 ? 3 : 4);
	l->len = n == 3 ? 0 : n - 4;
	return true;
}

/*
 * smtpc_enh_len - length of an RFC 3463 enhanced code "c.s.d" at the start
 * of s, with c the reply's class (2, 4 or 5; RFC 2034 section 4), s and d
 * 1..3 digits, followed by a space or the end; 0 when there is none.
 */
static size_t
smtpc_enh_len(const char *s, size_t n, int class)
{
	size_t i = 2, k, part;

	if (class != 2 && class != 4 && class != 5)
		return 0;
	if (n < 5 || s[0] != '0' + class || s[1] != '.')
		return 0;
	for (part = 0; part < 2; part++) {
		for (k = 0; i < n && k < 4 && s[i] >= '0' && s[i] <= '9'; k++)
			i++;
		if (k == 0 || k > 3)
			return 0;
		if (part == 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	return i == n || s[i] == ' ' ? i : 0;
}

/*
 * smtpc_reply_text - add a line's text to r: the enhanced code of the
 * first line is kept in r->enh, and stripped from every line carrying the
 * same code (servers repeat it on each line of a multi-line reply).
 */
static int
smtpc_reply_text(struct smtpc_reply *r, bool enhanced,
    const struct smtpc_line *l)
{
	const char *t = l->text;
	size_t n = l->len, k;

	if (enhanced) {
		k = smtpc_enh_len(t, n, l->code / 100);
		if (r->nlines == 0 && k > 0) {
			memcpy(r->enh, t, k);
			r->enh[k] = '\0';
		}
		if (k > 0 && k == strlen(r->enh) && memcmp(t, r->enh, k) == 0) {
			for (t += k, n -= k; n > 0 && *t == ' '; t++, n--)
				;
		}
	}
	if (r->nlines > 0 && buf_putc(&r->text, '\n') == -1)
		return -1;
	return buf_append(&r->text, t, n);
}

/*
 * smtpc_reply_partial - judge the unterminated rest of the input from
 * `pos`: BAD as soon as it cannot become a valid line (too long, bare CR or
 * LF, NUL, bad code or separator, code differing from the first line's),
 * else MORE.  Telling early spares waiting for a timeout from a peer that
 * does not speak SMTP.
 */
static enum smtpc_read
smtpc_reply_partial(struct evbuffer *in, size_t pos,
    const struct smtpc_reply *r)
{
	char line[SMTPC_REPLY_LINE_MAX + 1];
	struct evbuffer_ptr at;
	size_t n = evbuffer_get_length(in) - pos;

	/* A pending CR may be the first half of CRLF (core/line.c). */
	if (n > SMTPC_REPLY_LINE_MAX + 1)
		return SMTPC_READ_BAD;
	if (n == 0)
		return SMTPC_READ_MORE;
	if (evbuffer_ptr_set(in, &at, pos, EVBUFFER_PTR_SET) == -1 ||
	    evbuffer_copyout_from(in, &at, line, n) != (ev_ssize_t)n)
		return SMTPC_READ_BAD;
	if (line[n - 1] == '\r')
		n--;
	if (n > SMTPC_REPLY_LINE_MAX || memchr(line, '\r', n) != NULL ||
	    memchr(line, '\n', n) != NULL || memchr(line, '\0', n) != NULL ||
	    !smtpc_prefix_ok(line, n))
		return SMTPC_READ_BAD;
	if (r->nlines > 0 && n >= 3 &&
	    (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0') !=
	    r->code)
		return SMTPC_READ_BAD;
	return SMTPC_READ_MORE;
}

/*
 * smtpc_reply_read - one complete reply off the front of `in`.
 *
 * core/line.c's line_read() consumes each line it returns, so it cannot
 * leave a half-received multi-line reply in place: lines are found with
 * evbuffer_search_eol() from a moving position and copied out, and the
 * input is drained only once the last line is there.
 * XXX: a reply arriving in many small pieces is scanned again from its
 * start at each call; the reply is at most SMTPC_REPLY_LINES_MAX lines of
 * SMTPC_REPLY_LINE_MAX octets and the session's reply timeout bounds how
 * long a server can drip it.
 */
enum smtpc_read
smtpc_reply_read(struct evbuffer *in, bool enhanced, struct smtpc_reply *r)
{
	char line[SMTPC_REPLY_LINE_MAX];
	struct evbuffer_ptr at, eol;
	struct smtpc_line l;
	size_t pos = 0, n, eol_len = 0;

	buf_reset(&r->text);
	r->code = 0;
	r->enh[0] = '\0';
	r->nlines = 0;
	for (;;) {
		if (pos >= evbuffer_get_length(in))
			return SMTPC_READ_MORE;
		if (evbuffer_ptr_set(in, &at, pos, EVBUFFER_PTR_SET) == -1)
			return SMTPC_READ_BAD;
		eol = evbuffer_search_eol(in, &at, &eol_len,
		    EVBUFFER_EOL_CRLF_STRICT);
		if (eol.pos == -1)
			return smtpc_reply_partial(in, pos, r);
		n = (size_t)eol.pos - pos;
		if (n > SMTPC_REPLY_LINE_MAX)
			return SMTPC_READ_BAD;
		if (n > 0 && evbuffer_copyout_from(in, &at, line, n) !=
		    (ev_ssize_t)n)
			return SMTPC_READ_BAD;
		if (!smtpc_line_parse(line, n, &l) ||
		    (r->nlines > 0 && l.code != r->code))
			return SMTPC_READ_BAD;
		r->code = l.code;
		if (smtpc_reply_text(r, enhanced, &l) == -1)
			return SMTPC_READ_BAD;
		r->nlines++;
		pos += n + eol_len;
		if (l.last) {
			evbuffer_drain(in, pos);
			return SMTPC_READ_OK;
		}
		/* msmtp smtp_get_msg: a cap on the line count. */
		if (r->nlines == SMTPC_REPLY_LINES_MAX)
			return SMTPC_READ_BAD;
	}
}

/*
 * EHLO capabilities.
 */

/* Keywords without arguments (RFC 2920, 6152, 3461, 3030, 6531, 3207,
   2034). */
static const struct {
	const char	*kw;		/* EHLO keyword, any case */
	size_t		 off;		/* the flag in struct smtpc_caps */
} smtpc_caps_flags[] = {
	{ "PIPELINING", offsetof(struct smtpc_caps, pipelining) },
	{ "8BITMIME", offsetof(struct smtpc_caps, eightbitmime) },
	{ "DSN", offsetof(struct smtpc_caps, dsn) },
	{ "CHUNKING", offsetof(struct smtpc_caps, chunking) },
	{ "SMTPUTF8", offsetof(struct smtpc_caps, smtputf8) },
	{ "STARTTLS", offsetof(struct smtpc_caps, starttls) },
	{ "ENHANCEDSTATUSCODES", offsetof(struct smtpc_caps, enhanced) },
};

/* SASL mechanisms the client knows (RFC 4954). */
static const struct {
	const char	*name;		/* mechanism, any case */
	unsigned	 bit;		/* SMTPC_AUTH_* */
} smtpc_caps_mechs[] = {
	{ "PLAIN", SMTPC_AUTH_PLAIN },
	{ "LOGIN", SMTPC_AUTH_LOGIN },
	{ "CRAM-MD5", SMTPC_AUTH_CRAM_MD5 },
};

/* smtpc_word_is - the n octets at s are `w`, ignoring case */
static bool
smtpc_word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

/* smtpc_caps_size - RFC 1870 "SIZE [number]"; 0 when absent or bad */
static uint64_t
smtpc_caps_size(const char *s, size_t n)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < n && s[i] == ' ')
		i++;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		if (CKD_MUL(&v, v, (uint64_t)10) ||
		    CKD_ADD(&v, v, (uint64_t)(s[i] - '0')))
			return 0;	/* beyond 2^64: no usable limit */
	return i == n || s[i] == ' ' ? v : 0;
}

/* smtpc_caps_auth - the mechanisms of "AUTH m1 m2" or "AUTH=m1 m2" */
static unsigned
smtpc_caps_auth(const char *s, size_t n)
{
	unsigned bits = 0;
	size_t i = 0, w, k;

	while (i < n) {
		while (i < n && s[i] == ' ')
			i++;
		for (w = i; i < n && s[i] != ' '; i++)
			;
		for (k = 0; k < nitems(smtpc_caps_mechs); k++)
			if (smtpc_word_is(s + w, i - w,
			    smtpc_caps_mechs[k].name))
				bits |= smtpc_caps_mechs[k].bit;
	}
	return bits;
}

/* smtpc_caps_line - one "keyword[ args]" line of the EHLO reply */
static void
smtpc_caps_line(struct smtpc_caps *caps, const char *s, size_t n)
{
	size_t k, kw;

	for (kw = 0; kw < n && s[kw] != ' ' && s[kw] != '='; kw++)
		;
	for (k = 0; k < nitems(smtpc_caps_flags); k++)
		if (smtpc_word_is(s, kw, smtpc_caps_flags[k].kw))
			*(bool *)((char *)caps + smtpc_caps_flags[k].off) =
			    true;
	if (smtpc_word_is(s, kw, "SIZE")) {
		caps->has_size = true;
		caps->size = kw < n ? smtpc_caps_size(s + kw + 1,
		    n - kw - 1) : 0;
	} else if (smtpc_word_is(s, kw, "AUTH") && kw < n) {
		caps->auth |= smtpc_caps_auth(s + kw + 1, n - kw - 1);
	}
}

/* smtpc_caps_parse - what the EHLO reply offers */
void
smtpc_caps_parse(const struct smtpc_reply *ehlo, struct smtpc_caps *caps)
{
	const char *p = ehlo->text.data, *end = p + ehlo->text.len, *e;

	memset(caps, 0, sizeof(*caps));
	if (ehlo->code != 250)
		return;		/* EHLO refused: HELO, no extensions */
	caps->esmtp = true;
	/* RFC 5321 4.1.1.1: the first line is the server's name. */
	if ((p = memchr(p, '\n', (size_t)(end - p))) == NULL)
		return;
	for (p++; p < end; p = e + 1) {
		if ((e = memchr(p, '\n', (size_t)(end - p))) == NULL)
			e = end;
		smtpc_caps_line(caps, p, (size_t)(e - p));
	}
}

/*
 * MAIL and RCPT.
 */

/*
 * smtpc_path_ok - a path that cannot break out of "<...>" or the command
 * line: no control octet (CR, LF, NUL and the rest, never valid in an RFC
 * 5321 path), no DEL, no '<' or '>'.
 */
static bool
smtpc_path_ok(const char *s)
{
	const unsigned char *p;

	if (s == NULL)
		return false;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>')
			return false;
	return true;
}

/* smtpc_value_ok - NULL, "" or an RFC 5321 4.1.2 esmtp-value */
static bool
smtpc_value_ok(const char *s)
{
	const unsigned char *p;

	if (s == NULL)
		return true;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 33 || *p > 126 || *p == '=')
			return false;
	return true;
}

/* smtpc_param - " KEY=value" when the value is set */
static int
smtpc_param(struct buf *out, const char *key, const char *val)
{
	if (val == NULL || *val == '\0')
		return 0;
	return buf_printf(out, " %s=%s", key, val);
}

/* smtpc_mail_cmd - compose MAIL FROM */
int
smtpc_mail_cmd(const struct smtpc_env *e, const struct smtpc_caps *caps,
    struct buf *out)
{
	size_t start = out->len;
	int rc;

	if (!smtpc_path_ok(e->from) || !smtpc_value_ok(e->ret) ||
	    !smtpc_value_ok(e->envid))
		return -1;
	rc = buf_printf(out, "MAIL FROM:<%s>", e->from);
	if (rc == 0 && caps->has_size)		/* RFC 1870 section 6 */
		rc = buf_printf(out, " SIZE=%" PRIu64, e->size);
	if (rc == 0 && e->eightbit && caps->eightbitmime)	/* RFC 6152 */
		rc = buf_puts(out, " BODY=8BITMIME");
	if (rc == 0 && e->smtputf8 && caps->smtputf8)	/* RFC 6531 3.4 */
		rc = buf_puts(out, " SMTPUTF8");
	if (rc == 0 && caps->dsn)			/* RFC 3461 4.3, 4.4 */
		rc = smtpc_param(out, "RET", e->ret);
	if (rc == 0 && caps->dsn)
		rc = smtpc_param(out, "ENVID", e->envid);
	if (rc == 0)
		rc = buf_puts(out, "\r\n");
	if (rc == -1)
		smtpc_buf_undo(out, start);
	return rc;
}

/* smtpc_rcpt_cmd - compose RCPT TO */
int
smtpc_rcpt_cmd(const struct smtpc_rcpt *r, const struct smtpc_caps *caps,
    struct buf *out)
{
	size_t start = out->len;
	int rc;

	if (!smtpc_path_ok(r->addr) || *r->addr == '\0' ||
	    !smtpc_value_ok(r->notify) || !smtpc_value_ok(r->orcpt))
		return -1;
	rc = buf_printf(out, "RCPT TO:<%s>", r->addr);
	if (rc == 0 && caps->dsn)			/* RFC 3461 4.1, 4.2 */
		rc = smtpc_param(out, "NOTIFY", r->notify);
	if (rc == 0 && caps->dsn)
		rc = smtpc_param(out, "ORCPT", r->orcpt);
	if (rc == 0)
		rc = buf_puts(out, "\r\n");
	if (rc == -1)
		smtpc_buf_undo(out, start);
	return rc;
}

/*
 * DATA.
 */

/* smtpc_dotstuff - RFC 5321 4.5.2 transparency and the final dot */
int
smtpc_dotstuff(const char *msg, size_t len, struct buf *out)
{
	size_t start = out->len, i = 0, j;
	int rc = 0;

	while (rc == 0 && i < len) {
		if (msg[i] == '.')
			rc = buf_putc(out, '.');
		for (j = i; j < len && msg[j] != '\r' && msg[j] != '\n'; j++)
			;
		if (rc == 0)
			rc = buf_append(out, msg + i, j - i);
		/* CR LF, bare CR and bare LF all end a line: CR LF out. */
		if (rc == 0)
			rc = buf_append(out, "\r\n", 2);
		if (j + 1 < len && msg[j] == '\r' && msg[j + 1] == '\n')
			j++;
		i = j + 1;
	}
	if (rc == 0)
		rc = buf_append(out, ".\r\n", 3);
	if (rc == -1)
		smtpc_buf_undo(out, start);
	return rc;
}

/*
 * 8BITMIME downgrade.
 */

/* How an entity's content is to be treated (RFC 2046). */
enum smtpc_kind {
	SMTPC_KIND_TEXT,	/* text, or no valid Content-Type */
	SMTPC_KIND_MULTIPART,	/* multipart: walk the parts */
	SMTPC_KIND_RFC822,	/* message/rfc822: walk the message */
	SMTPC_KIND_7BIT_ONLY,	/* message/partial, external-body */
	SMTPC_KIND_OTHER,	/* anything else: base64 */
};

/* Content-Transfer-Encoding (RFC 2045 section 6). */
enum smtpc_cte {
	SMTPC_CTE_NONE,		/* no field: 7bit */
	SMTPC_CTE_7BIT,
	SMTPC_CTE_8BIT,
	SMTPC_CTE_BINARY,
	SMTPC_CTE_QP,
	SMTPC_CTE_BASE64,
	SMTPC_CTE_OTHER,	/* unknown or unparsable */
};

/* Flags from the enclosing entity. */
#define SMTPC_ENT_MESSAGE	0x1	/* a message: MIME-Version belongs */
#define SMTPC_ENT_DIGEST	0x2	/* in multipart/digest (RFC 2046
					   5.1.5): default message/rfc822 */

/* The downgrade of one message. */
struct smtpc_mime {
	const char	*msg;		/* the whole message */
	size_t		 len;		/* its length */
	struct buf	*out;		/* where the result goes */
	size_t		 dirty_from;	/* smtpc_mime_dirty cache: from here */
	size_t		 dirty_at;	/* ... the first dirty offset */
	struct buf	 tmp;		/* an unfolded header value */
};

/* What the header section of one entity says. */
struct smtpc_ent {
	size_t		 start, end;	/* the entity [start, end) */
	size_t		 hend;		/* end of the header fields */
	size_t		 bstart;	/* body start */
	bool		 is_message;	/* SMTPC_ENT_MESSAGE */
	bool		 has_mv;	/* MIME-Version present */
	size_t		 ct;		/* first Content-Type, or SIZE_MAX */
	size_t		 ct_end;	/* ... the end of that field */
	size_t		 cte;		/* first C-T-E line, or SIZE_MAX */
	size_t		 cte_end;	/* ... the end of that field */
	enum smtpc_kind	 kind;		/* from Content-Type */
	bool		 digest;	/* multipart/digest */
	enum smtpc_cte	 enc;		/* from Content-Transfer-Encoding */
	char		 boundary[SMTPC_BOUNDARY_MAX + 1]; /* or "" */
};

/* A boundary delimiter line found in a multipart body. */
struct smtpc_delim {
	size_t		 at;		/* line start */
	size_t		 next;		/* after its line end */
	bool		 ended;		/* it has a line end */
	bool		 close;		/* "--boundary--" */
};

static int	smtpc_mime_entity(struct smtpc_mime *, size_t, size_t,
		    unsigned, int);

/*
 * smtpc_mime_eol - end of the content of the line at p (before CR LF, LF
 * or CR); *next gets the start of the next line, or `end` when the line
 * has no line end before `end`.
 */
static size_t
smtpc_mime_eol(const struct smtpc_mime *m, size_t p, size_t end,
    size_t *next)
{
	const char *s = m->msg;

	while (p < end && s[p] != '\r' && s[p] != '\n')
		p++;
	if (p == end)
		*next = end;
	else if (s[p] == '\r' && p + 1 < end && s[p + 1] == '\n')
		*next = p + 2;
	else
		*next = p + 1;
	return p;
}

/* smtpc_mime_put - append bytes to the output */
static int
smtpc_mime_put(struct smtpc_mime *m, const void *p, size_t n)
{
	return buf_append(m->out, p, n);
}

/* smtpc_mime_copy - append [a, b) with each line end as CR LF */
static int
smtpc_mime_copy(struct smtpc_mime *m, size_t a, size_t b)
{
	const char *s = m->msg;
	size_t run = a, p;

	/* Append long runs: the usual input is all CR LF already. */
	for (p = a; p < b; p++) {
		if (s[p] == '\r' && p + 1 < b && s[p + 1] == '\n') {
			p++;
			continue;
		}
		if (s[p] != '\r' && s[p] != '\n')
			continue;
		if (smtpc_mime_put(m, s + run, p - run) == -1 ||
		    smtpc_mime_put(m, "\r\n", 2) == -1)
			return -1;
		run = p + 1;
	}
	return smtpc_mime_put(m, s + run, b - run);
}

/*
 * smtpc_mime_dirty_scan - from line start p, the first offset that 7-bit
 * SMTP cannot carry in a body: an octet above 127 or a NUL (RFC 2045 2.7),
 * or the 999th octet of a line (RFC 5321 4.5.3.1.6); m->len if none.
 */
static size_t
smtpc_mime_dirty_scan(const struct smtpc_mime *m, size_t p)
{
	const unsigned char *s = (const unsigned char *)m->msg;
	size_t ls = p;

	for (; p < m->len; p++) {
		if (s[p] == '\n' || (s[p] == '\r' &&
		    (p + 1 == m->len || s[p + 1] != '\n'))) {
			ls = p + 1;
			continue;
		}
		if (s[p] == '\r')
			continue;	/* the CR of CR LF */
		if (s[p] >= 0x80 || s[p] == 0 || p - ls >= SMTPC_TEXT_LINE)
			return p;
	}
	return m->len;
}

/*
 * smtpc_mime_dirty - the first dirty offset at or after line start a.
 * Offsets are asked in increasing order as the walk goes through the
 * message, so the answer for an earlier start still holds for a later one
 * up to that answer, and the message is scanned about once.
 */
static size_t
smtpc_mime_dirty(struct smtpc_mime *m, size_t a)
{
	if (a >= m->dirty_from && a <= m->dirty_at)
		return m->dirty_at;
	m->dirty_from = a;
	m->dirty_at = smtpc_mime_dirty_scan(m, a);
	return m->dirty_at;
}

/*
 * smtpc_mime_field_line - the line starts a header field or continues one.
 * The name test is Python email's ("[\041-\071\073-\176]*:"); the first
 * other line ends the header section, separator or not.
 */
static bool
smtpc_mime_field_line(const char *s, size_t n)
{
	size_t i;

	if (n > 0 && (s[0] == ' ' || s[0] == '\t'))
		return true;
	for (i = 0; i < n; i++) {
		if (s[i] == ':')
			return true;
		if (s[i] < 041 || s[i] > 0176)
			return false;
	}
	return false;
}

/* smtpc_mime_name_is - the field at s (n octets) is named `name` */
static bool
smtpc_mime_name_is(const char *s, size_t n, const char *name)
{
	size_t k = strlen(name);

	return n > k && s[k] == ':' && strncasecmp(s, name, k) == 0;
}

/*
 * smtpc_mime_unfold - the value of the field [p, end) (after the colon)
 * without its line ends, in m->tmp; -1 if it is too long.
 */
static int
smtpc_mime_unfold(struct smtpc_mime *m, size_t p, size_t end)
{
	const char *s = m->msg;

	buf_reset(&m->tmp);
	while (p < end && s[p] != ':')
		p++;
	for (p++; p < end; p++)
		if (s[p] != '\r' && s[p] != '\n' &&
		    buf_putc(&m->tmp, s[p]) == -1)
			return -1;
	return 0;
}

/* smtpc_mime_cfws - skip white space and (nested) comments (RFC 822) */
static size_t
smtpc_mime_cfws(const char *s, size_t n, size_t i)
{
	unsigned depth = 0;

	for (; i < n; i++) {
		if (depth > 0 && s[i] == '\\' && i + 1 < n)
			i++;
		else if (s[i] == '(')
			depth++;
		else if (depth > 0 && s[i] == ')')
			depth--;
		else if (depth == 0 && s[i] != ' ' && s[i] != '\t')
			break;
	}
	return i;
}

/* smtpc_mime_token - end of an RFC 2045 5.1 token at i */
static size_t
smtpc_mime_token(const char *s, size_t n, size_t i)
{
	while (i < n && (unsigned char)s[i] > 32 && (unsigned char)s[i] < 127 &&
	    strchr("()<>@,;:\\\"/[]?=", s[i]) == NULL)
		i++;
	return i;
}

/*
 * smtpc_mime_value - an RFC 2045 parameter value at *i (token or quoted
 * string), unquoted into v (size vsize); false if it does not fit or is
 * not there.
 */
static bool
smtpc_mime_value(const char *s, size_t n, size_t *i, char *v, size_t vsize)
{
	size_t p = *i, k = 0, e;

	if (p < n && s[p] == '"') {
		for (p++; p < n && s[p] != '"'; p++) {
			if (s[p] == '\\' && p + 1 < n)
				p++;
			if (k + 1 >= vsize)
				return false;
			v[k++] = s[p];
		}
		if (p == n)
			return false;
		p++;
	} else {
		e = smtpc_mime_token(s, n, p);
		if (e == p || e - p >= vsize)
			return false;
		memcpy(v, s + p, e - p);
		k = e - p;
		p = e;
	}
	v[k] = '\0';
	*i = p;
	return true;
}

/*
 * smtpc_mime_boundary - keep a usable boundary: 1..SMTPC_BOUNDARY_MAX
 * printable ASCII octets, trailing spaces dropped (RFC 2046 5.1.1 allows
 * none; Python strips them too).
 */
static void
smtpc_mime_boundary(struct smtpc_ent *e, char *v)
{
	size_t k = strlen(v), i;

	while (k > 0 && v[k - 1] == ' ')
		v[--k] = '\0';
	for (i = 0; i < k; i++)
		if (v[i] < 32 || v[i] > 126)
			return;
	if (k > 0)
		memcpy(e->boundary, v, k + 1);
}

/*
 * smtpc_mime_params - the boundary parameter of a multipart Content-Type.
 * Parsing stops at the first thing that is not "; attribute=value"; a
 * boundary value followed by anything but ';' or the end (boundary=a b)
 * is unusable, since readers disagree about it (Python's email takes
 * "a b"), and so is one too long.  The first boundary parameter counts.
 */
static void
smtpc_mime_params(const char *s, size_t n, size_t i, struct smtpc_ent *e)
{
	char v[SMTPC_BOUNDARY_MAX + 1];
	size_t a, ae;
	bool ok;

	for (;;) {
		i = smtpc_mime_cfws(s, n, i);
		if (i >= n || s[i] != ';')
			return;
		a = smtpc_mime_cfws(s, n, i + 1);
		ae = smtpc_mime_token(s, n, a);
		i = smtpc_mime_cfws(s, n, ae);
		if (ae == a)
			continue;	/* ";;" or a trailing ";" */
		if (i >= n || s[i] != '=')
			return;
		i = smtpc_mime_cfws(s, n, i + 1);
		ok = smtpc_mime_value(s, n, &i, v, sizeof(v));
		if (ok)
			i = smtpc_mime_cfws(s, n, i);
		ok = ok && (i == n || s[i] == ';');
		if (ae - a == 8 && strncasecmp(s + a, "boundary", 8) == 0) {
			if (ok)
				smtpc_mime_boundary(e, v);
			return;
		}
		if (!ok)
			return;
	}
}

/*
 * smtpc_mime_ct - Content-Type (RFC 2045 5.1).  One that cannot be parsed
 * leaves the default (RFC 2045 5.2: text/plain, or message/rfc822 in a
 * digest).
 */
static void
smtpc_mime_ct(const char *s, size_t n, struct smtpc_ent *e)
{
	size_t t, te, st, ste;

	t = smtpc_mime_cfws(s, n, 0);
	te = smtpc_mime_token(s, n, t);
	st = smtpc_mime_cfws(s, n, te);
	if (te == t || st >= n || s[st] != '/')
		return;
	st = smtpc_mime_cfws(s, n, st + 1);
	ste = smtpc_mime_token(s, n, st);
	if (ste == st)
		return;
	if (smtpc_word_is(s + t, te - t, "text")) {
		e->kind = SMTPC_KIND_TEXT;
	} else if (smtpc_word_is(s + t, te - t, "multipart")) {
		e->kind = SMTPC_KIND_MULTIPART;
		e->digest = smtpc_word_is(s + st, ste - st, "digest");
		smtpc_mime_params(s, n, ste, e);
	} else if (smtpc_word_is(s + t, te - t, "message") &&
	    smtpc_word_is(s + st, ste - st, "rfc822")) {
		e->kind = SMTPC_KIND_RFC822;
	} else if (smtpc_word_is(s + t, te - t, "message") &&
	    (smtpc_word_is(s + st, ste - st, "partial") ||
	    smtpc_word_is(s + st, ste - st, "external-body"))) {
		e->kind = SMTPC_KIND_7BIT_ONLY;
	} else {
		e->kind = SMTPC_KIND_OTHER;
	}
}

/* smtpc_mime_cte - Content-Transfer-Encoding (RFC 2045 6.1) */
static enum smtpc_cte
smtpc_mime_cte(const char *s, size_t n)
{
	static const struct {
		const char	*name;
		enum smtpc_cte	 cte;
	} names[] = {
		{ "7bit", SMTPC_CTE_7BIT }, { "8bit", SMTPC_CTE_8BIT },
		{ "binary", SMTPC_CTE_BINARY },
		{ "quoted-printable", SMTPC_CTE_QP },
		{ "base64", SMTPC_CTE_BASE64 },
	};
	size_t t, te, k;

	t = smtpc_mime_cfws(s, n, 0);
	te = smtpc_mime_token(s, n, t);
	if (smtpc_mime_cfws(s, n, te) != n)
		return SMTPC_CTE_OTHER;
	for (k = 0; k < nitems(names); k++)
		if (smtpc_word_is(s + t, te - t, names[k].name))
			return names[k].cte;
	return SMTPC_CTE_OTHER;
}

/*
 * smtpc_mime_fields - find the header section of e and where its
 * Content-Type, Content-Transfer-Encoding and MIME-Version fields are.
 */
static void
smtpc_mime_fields(const struct smtpc_mime *m, struct smtpc_ent *e)
{
	const char *s = m->msg;
	size_t p = e->start, ce, next, *open = NULL;

	e->hend = e->bstart = e->end;
	for (; p < e->end; p = next) {
		ce = smtpc_mime_eol(m, p, e->end, &next);
		if (ce == p || !smtpc_mime_field_line(s + p, ce - p)) {
			e->hend = p;
			e->bstart = ce == p ? next : p;	/* blank line or not */
			break;
		}
		if (s[p] == ' ' || s[p] == '\t')
			continue;	/* folded: the open field goes on */
		if (open != NULL)
			*open = p;
		open = NULL;
		if (e->ct == SIZE_MAX &&
		    smtpc_mime_name_is(s + p, ce - p, "Content-Type")) {
			e->ct = p;
			open = &e->ct_end;
		} else if (e->cte == SIZE_MAX && smtpc_mime_name_is(s + p,
		    ce - p, "Content-Transfer-Encoding")) {
			e->cte = p;
			open = &e->cte_end;
		} else if (smtpc_mime_name_is(s + p, ce - p, "MIME-Version")) {
			e->has_mv = true;
		}
	}
	if (open != NULL)
		*open = e->hend;
}

/* smtpc_mime_parse - the header section of the entity [start, end) */
static void
smtpc_mime_parse(struct smtpc_mime *m, size_t start, size_t end,
    unsigned flags, struct smtpc_ent *e)
{
	memset(e, 0, sizeof(*e));
	e->start = start;
	e->end = end;
	e->is_message = (flags & SMTPC_ENT_MESSAGE) != 0;
	e->ct = e->cte = SIZE_MAX;
	e->kind = flags & SMTPC_ENT_DIGEST ? SMTPC_KIND_RFC822 :
	    SMTPC_KIND_TEXT;
	smtpc_mime_fields(m, e);
	if (e->ct != SIZE_MAX && smtpc_mime_unfold(m, e->ct, e->ct_end) == 0)
		smtpc_mime_ct(m->tmp.data, m->tmp.len, e);
	if (e->cte == SIZE_MAX)
		e->enc = SMTPC_CTE_NONE;
	else if (smtpc_mime_unfold(m, e->cte, e->cte_end) == 0)
		e->enc = smtpc_mime_cte(m->tmp.data, m->tmp.len);
	else
		e->enc = SMTPC_CTE_OTHER;
}

/* smtpc_mime_cte_line - "Content-Transfer-Encoding: <cte>" CR LF */
static int
smtpc_mime_cte_line(struct smtpc_mime *m, const char *cte)
{
	return buf_printf(m->out, "Content-Transfer-Encoding: %s\r\n", cte);
}

/*
 * smtpc_mime_headers - the header section of e, then the blank line.
 * With `cte` set, every Content-Transfer-Encoding field goes and one
 * saying `cte` takes the place of the first, or follows Content-Type when
 * there was none; `leaf` adds the Content-Type of a text part that has
 * none (charset unknown-8bit, RFC 1428: us-ascii, the default, would be
 * wrong for 8-bit text).  A message gets MIME-Version when it lacks it.
 */
static int
smtpc_mime_headers(struct smtpc_mime *m, const struct smtpc_ent *e,
    const char *cte, bool leaf)
{
	const char *s = m->msg;
	size_t p, ce, next;
	bool skip = false, after_ct = false;
	int rc = 0;

	for (p = e->start; rc == 0 && p < e->hend; p = next) {
		ce = smtpc_mime_eol(m, p, e->hend, &next);
		if (s[p] != ' ' && s[p] != '\t') {
			if (after_ct && cte != NULL && e->cte == SIZE_MAX)
				rc = smtpc_mime_cte_line(m, cte);
			after_ct = p == e->ct;
			skip = cte != NULL && smtpc_mime_name_is(s + p, ce - p,
			    "Content-Transfer-Encoding");
			if (rc == 0 && skip && p == e->cte)
				rc = smtpc_mime_cte_line(m, cte);
		}
		if (rc == 0 && !skip)
			rc = smtpc_mime_copy(m, p, next);
		/* The last field may lack its line end. */
		if (rc == 0 && !skip && next == ce)
			rc = smtpc_mime_put(m, "\r\n", 2);
	}
	if (rc == 0 && after_ct && cte != NULL && e->cte == SIZE_MAX)
		rc = smtpc_mime_cte_line(m, cte);
	if (rc == 0 && e->is_message && !e->has_mv)
		rc = smtpc_mime_put(m, "MIME-Version: 1.0\r\n", 19);
	if (rc == 0 && leaf && e->ct == SIZE_MAX)
		rc = smtpc_mime_put(m, SMTPC_CT_UNKNOWN, SMTPC_CT_UNKNOWN_LEN);
	if (rc == 0 && leaf && e->ct == SIZE_MAX && e->cte == SIZE_MAX)
		rc = smtpc_mime_cte_line(m, cte);
	return rc == 0 ? smtpc_mime_put(m, "\r\n", 2) : -1;
}

/*
 * smtpc_mime_qp_line - RFC 2045 6.7 quoted-printable of the line content
 * [p, ce), without a line end: '=', octets above 126 and controls other
 * than TAB encoded (rule 1), SP and TAB encoded at the end (rule 3), soft
 * breaks keeping lines at 76 characters (rule 5).  A '-' starting an
 * encoded line is encoded too, so a soft break can never make a line that
 * looks like a boundary delimiter (RFC 2046 5.1.1).
 */
static int
smtpc_mime_qp_line(struct smtpc_mime *m, size_t p, size_t ce)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)m->msg;
	char line[SMTPC_QP_LINE + 4];
	size_t col = 0, w, lim;
	bool lit;

	for (; p < ce; p++) {
		lit = (s[p] >= 33 && s[p] <= 126 && s[p] != '=') ||
		    ((s[p] == ' ' || s[p] == '\t') && p + 1 < ce);
		/* Room for the soft break's '=', except on the last one. */
		lim = p + 1 == ce ? SMTPC_QP_LINE : SMTPC_QP_LINE - 1;
		w = lit && !(s[p] == '-' && col == 0) ? 1 : 3;
		if (col + w > lim) {
			memcpy(line + col, "=\r\n", 3);
			if (smtpc_mime_put(m, line, col + 3) == -1)
				return -1;
			col = 0;
			w = lit && s[p] != '-' ? 1 : 3;
		}
		if (w == 1) {
			line[col++] = (char)s[p];
		} else {
			line[col++] = '=';
			line[col++] = hex[s[p] >> 4];
			line[col++] = hex[s[p] & 15];
		}
	}
	return smtpc_mime_put(m, line, col);
}

/*
 * smtpc_mime_qp - quoted-printable of the body [a, b); each line end
 * becomes a hard break, CR LF (RFC 2046 4.1.1: the canonical form of
 * text).  The last line gets no line end: it belongs to what follows.
 */
static int
smtpc_mime_qp(struct smtpc_mime *m, size_t a, size_t b)
{
	size_t ce, next;

	for (;;) {
		ce = smtpc_mime_eol(m, a, b, &next);
		if (smtpc_mime_qp_line(m, a, ce) == -1)
			return -1;
		if (next == ce)
			return 0;
		if (smtpc_mime_put(m, "\r\n", 2) == -1)
			return -1;
		a = next;
	}
}

/*
 * smtpc_mime_b64 - base64 of the body octets [a, b) as they are, in
 * 76-character lines (RFC 2045 6.8); no line end after the last.
 */
static int
smtpc_mime_b64(struct smtpc_mime *m, size_t a, size_t b)
{
	size_t n;

	while (a < b) {
		n = b - a < SMTPC_B64_IN ? b - a : SMTPC_B64_IN;
		if (base64_encode(m->msg + a, n, m->out) == -1)
			return -1;
		a += n;
		if (a < b && smtpc_mime_put(m, "\r\n", 2) == -1)
			return -1;
	}
	return 0;
}

/*
 * smtpc_mime_delim - the next delimiter line of `boundary` in [p, end):
 * "--" boundary ["--"] *(SP / TAB) (RFC 2046 5.1.1 transport padding).
 */
static bool
smtpc_mime_delim(const struct smtpc_mime *m, size_t p, size_t end,
    const char *boundary, struct smtpc_delim *d)
{
	const char *s = m->msg;
	size_t blen = strlen(boundary), ce, next, q;

	for (; p < end; p = next) {
		ce = smtpc_mime_eol(m, p, end, &next);
		if (ce - p < blen + 2 || s[p] != '-' || s[p + 1] != '-' ||
		    memcmp(s + p + 2, boundary, blen) != 0)
			continue;
		q = p + 2 + blen;
		d->close = ce - q >= 2 && s[q] == '-' && s[q + 1] == '-';
		if (d->close)
			q += 2;
		while (q < ce && (s[q] == ' ' || s[q] == '\t'))
			q++;
		if (q == ce) {
			d->at = p;
			d->next = next;
			d->ended = next > ce;
			return true;
		}
	}
	return false;
}

/* smtpc_mime_composite_cte - a walked 8bit/binary entity becomes 7bit */
static const char *
smtpc_mime_composite_cte(const struct smtpc_ent *e)
{
	return e->enc == SMTPC_CTE_8BIT || e->enc == SMTPC_CTE_BINARY ?
	    "7bit" : NULL;
}

/*
 * smtpc_mime_is_clean - the range [a, b) needs no encoding.  A preamble
 * or epilogue is copied when it is clean, else dropped.
 * XXX: an 8-bit preamble or epilogue has no header to say how it is
 * encoded; RFC 2046 5.1.1 makes readers ignore both, so dropping loses
 * nothing a reader shows, and 8-bit octets never reach a 7-bit hop.
 */
static bool
smtpc_mime_is_clean(struct smtpc_mime *m, size_t a, size_t b)
{
	return a == b || smtpc_mime_dirty(m, a) >= b;
}

/*
 * smtpc_mime_part - the part from `start` to `end` (the next delimiter
 * line, or the end of the multipart when its close delimiter is missing),
 * then the line end before `end`, which belongs to the delimiter (RFC
 * 2046 5.1.1; Python's email treats the end of an unclosed multipart the
 * same way).  A delimiter right after the previous one shares its line
 * end: the part is empty (Python instead merges such delimiters).
 */
static int
smtpc_mime_part(struct smtpc_mime *m, const struct smtpc_ent *e,
    size_t start, size_t end, int depth)
{
	const char *s = m->msg;
	unsigned flags = e->digest ? SMTPC_ENT_DIGEST : 0;
	size_t pend;

	if (end == start || (s[end - 1] != '\n' && s[end - 1] != '\r'))
		return smtpc_mime_entity(m, start, end, flags, depth + 1);
	pend = end - 1;
	if (s[pend] == '\n' && pend > start && s[pend - 1] == '\r')
		pend--;
	if (smtpc_mime_entity(m, start, pend, flags, depth + 1) == -1)
		return -1;
	return smtpc_mime_put(m, "\r\n", 2);
}

/* smtpc_mime_delim_put - a delimiter line without transport padding */
static int
smtpc_mime_delim_put(struct smtpc_mime *m, const struct smtpc_ent *e,
    const struct smtpc_delim *d)
{
	return buf_printf(m->out, "--%s%s", e->boundary, d->close ? "--" : "");
}

/*
 * smtpc_mime_multipart - a multipart entity (RFC 2046 5.1): the headers,
 * the preamble, each part converted, the close delimiter, the epilogue.
 * Delimiter lines lose their transport padding.  A missing close
 * delimiter is tolerated: the last part runs to the end of the entity and
 * no close delimiter is made up.  No usable boundary, no delimiter, or a
 * close delimiter first (no part at all, RFC 2046 5.1.1 wants one) is -1:
 * nothing says where the parts are, and readers (Python's email) then
 * take the whole body as one opaque text.
 */
static int
smtpc_mime_multipart(struct smtpc_mime *m, const struct smtpc_ent *e,
    int depth)
{
	struct smtpc_delim d, nd;
	size_t start;

	if (e->boundary[0] == '\0' ||
	    !smtpc_mime_delim(m, e->bstart, e->end, e->boundary, &d) ||
	    d.close)
		return -1;
	if (smtpc_mime_headers(m, e, smtpc_mime_composite_cte(e), false) ==
	    -1)
		return -1;
	/* The preamble keeps the line end before the first delimiter. */
	if (smtpc_mime_is_clean(m, e->bstart, d.at) &&
	    smtpc_mime_copy(m, e->bstart, d.at) == -1)
		return -1;
	if (smtpc_mime_delim_put(m, e, &d) == -1)
		return -1;
	while (!d.close) {
		if (!d.ended)
			return 0;	/* the entity ends on the delimiter */
		if (smtpc_mime_put(m, "\r\n", 2) == -1)
			return -1;
		start = d.next;
		if (!smtpc_mime_delim(m, start, e->end, e->boundary, &nd))
			return smtpc_mime_part(m, e, start, e->end, depth);
		if (smtpc_mime_part(m, e, start, nd.at, depth) == -1 ||
		    smtpc_mime_delim_put(m, e, &nd) == -1)
			return -1;
		d = nd;
	}
	/* The epilogue goes with the close delimiter's line end. */
	if (!d.ended || !smtpc_mime_is_clean(m, d.next, e->end))
		return 0;
	if (smtpc_mime_put(m, "\r\n", 2) == -1)
		return -1;
	return smtpc_mime_copy(m, d.next, e->end);
}

/*
 * smtpc_mime_entity - convert the entity [start, end) (RFC 2045 2.4): a
 * message, a part, or the message inside message/rfc822.
 */
static int
smtpc_mime_entity(struct smtpc_mime *m, size_t start, size_t end,
    unsigned flags, int depth)
{
	struct smtpc_ent e;

	smtpc_mime_parse(m, start, end, flags, &e);
	if (smtpc_mime_dirty(m, e.bstart) >= end)
		return smtpc_mime_copy(m, start, end);
	if (depth >= SMTPC_MIME_DEPTH)
		return -1;
	/*
	 * Already encoded but 8-bit octets inside, or an encoding we do not
	 * know: there is no way to relabel it (RFC 2045 6.4).
	 */
	if (e.enc == SMTPC_CTE_QP || e.enc == SMTPC_CTE_BASE64 ||
	    e.enc == SMTPC_CTE_OTHER)
		return -1;
	switch (e.kind) {
	case SMTPC_KIND_MULTIPART:
		return smtpc_mime_multipart(m, &e, depth);
	case SMTPC_KIND_RFC822:
		/* RFC 2046 5.2.1: only 7bit, 8bit, binary; walk it. */
		if (smtpc_mime_headers(m, &e, smtpc_mime_composite_cte(&e),
		    false) == -1)
			return -1;
		return smtpc_mime_entity(m, e.bstart, end, SMTPC_ENT_MESSAGE,
		    depth + 1);
	case SMTPC_KIND_7BIT_ONLY:
		return -1;	/* RFC 2046 5.2.2.1, 5.2.3.1: 7bit only */
	case SMTPC_KIND_TEXT:
		if (smtpc_mime_headers(m, &e, "quoted-printable", true) == -1)
			return -1;
		return smtpc_mime_qp(m, e.bstart, end);
	case SMTPC_KIND_OTHER:
		if (smtpc_mime_headers(m, &e, "base64", true) == -1)
			return -1;
		return smtpc_mime_b64(m, e.bstart, end);
	}
	return -1;
}

/* smtpc_downgrade_8bit - rewrite for a next hop without 8BITMIME */
int
smtpc_downgrade_8bit(const char *msg, size_t len, struct buf *out)
{
	struct smtpc_mime m;
	size_t start = out->len;
	int rc;

	m.msg = msg;
	m.len = len;
	m.out = out;
	m.dirty_from = SIZE_MAX;
	m.dirty_at = 0;
	buf_init(&m.tmp, SMTPC_HDR_VALUE_MAX);
	rc = smtpc_mime_entity(&m, 0, len, SMTPC_ENT_MESSAGE, 0);
	/* Every line ends with CR LF, the last one too. */
	if (rc == 0 && out->len > start && out->data[out->len - 1] != '\n')
		rc = smtpc_mime_put(&m, "\r\n", 2);
	buf_clear(&m.tmp);
	if (rc == -1)
		smtpc_buf_undo(out, start);
	return rc;
}
