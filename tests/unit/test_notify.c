/*
 * test_notify.c - the report e-mail of `postroom send`: MIME structure,
 * quoted-printable and base64 bodies, RFC 2047 and RFC 2231 headers,
 * header injection, HTML escaping, templates, statuses.
 *
 * The checks parse the message with a small strict MIME reader of their
 * own, so a message that a lenient reader would accept still fails here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/rfcdate.h"
#include "notify/notify.h"

#define T_WHEN		1772449200
#define T_MAX		(8u << 20)
#define T_PARTS		8
#define T_BIG		600	/* over the 512-octet address limit */

/* A header section and a body, pointing into a message. */
struct entity {
	const char	*h;		/* header lines, each with CRLF */
	size_t		 hlen;
	const char	*b;		/* body */
	size_t		 blen;
};

static const struct notify_field t_fields[] = {
	{ "Job", "nightly-db01" },
	{ "Duration", "12 min 41 s" },
	{ "Größe", "4,2 GB" },
};

static const char *const t_to[] = { "ops@example.com", "bob@example.org" };

/* t_msg - a plain valid report */
static struct notify_msg
t_msg(void)
{
	struct notify_msg m = { 0 };

	m.app_name = "backup";
	m.title = "Nightly backup done";
	m.status = NOTIFY_SUCCESS;
	m.body = "All databases dumped.\nOld sets pruned.";
	m.fields = t_fields;
	m.nfields = nitems(t_fields);
	m.from = "backup@host.example.com";
	m.to = t_to;
	m.nto = nitems(t_to);
	m.hostname = "host.example.com";
	m.when = T_WHEN;
	return m;
}

/*
 * t_check_lines - every line ends in CRLF (no bare CR or LF) and is at
 * most 998 octets (RFC 5322 2.1.1); header lines at most `hdr_max`
 */
static void
t_check_lines(const char *s, size_t n, size_t hdr_max)
{
	size_t i, start = 0;
	bool in_hdr = true;

	for (i = 0; i < n; i++) {
		if (s[i] == '\r') {
			assert_true(i + 1 < n && s[i + 1] == '\n');
			assert_true(i - start <= 998);
			if (in_hdr)
				assert_true(i - start <= hdr_max);
			if (i == start)
				in_hdr = false;
			start = i + 2;
			i++;
		} else
			assert_int_not_equal(s[i], '\n');
	}
	assert_int_equal(start, n);	/* the last line ends in CRLF too */
}

/* t_compose - notify_compose that must succeed; the message, to free */
static char *
t_compose(const struct notify_msg *m, size_t *len)
{
	struct buf b;
	char err[256] = "";

	buf_init(&b, T_MAX);
	if (notify_compose(m, &b, err, sizeof(err)) != 0)
		fail_msg("notify_compose: %s", err);
	*len = b.len;
	t_check_lines(b.data, b.len, 998);
	return buf_take(&b);
}

/* t_split - header section and body of an entity */
static struct entity
t_split(const char *s, size_t n)
{
	struct entity e;
	const char *p;

	p = memmem(s, n, "\r\n\r\n", 4);
	assert_non_null(p);
	e.h = s;
	e.hlen = (size_t)(p + 2 - s);
	e.b = p + 4;
	e.blen = n - (size_t)(e.b - s);
	return e;
}

/*
 * t_hdr - the unfolded value of header `name` into out; the number of
 * such headers in the section
 */
static int
t_hdr(const struct entity *e, const char *name, char *out, size_t size)
{
	const char *p = e->h, *end = e->h + e->hlen, *eol;
	size_t nl = strlen(name), o = 0;
	int found = 0;
	bool take = false;

	out[0] = '\0';
	for (; p < end; p = eol + 2) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		assert_non_null(eol);
		if (*p == ' ' || *p == '\t') {
			if (!take)
				continue;
		} else {
			take = (size_t)(eol - p) > nl && p[nl] == ':' &&
			    strncasecmp(p, name, nl) == 0;
			if (!take)
				continue;
			found++;
			p += nl + 1;
			while (*p == ' ')
				p++;
		}
		assert_true(o + (size_t)(eol - p) < size);
		memcpy(out + o, p, (size_t)(eol - p));
		o += (size_t)(eol - p);
		out[o] = '\0';
	}
	return found;
}

/* t_param - parameter `name` of a header value (quotes removed) */
static void
t_param(const char *v, const char *name, char *out, size_t size)
{
	char key[64];
	const char *p, *e;

	(void)snprintf(key, sizeof(key), "%s=", name);
	p = strstr(v, key);
	assert_non_null(p);
	p += strlen(key);
	if (*p == '"') {
		e = strchr(++p, '"');
		assert_non_null(e);
	} else
		e = p + strcspn(p, "; \t");
	assert_true((size_t)(e - p) < size);
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
}

/*
 * t_parts - the body parts of a multipart body: the delimiter lines must
 * be exactly "--B" and the close "--B--"; only CRLF may follow it
 */
static size_t
t_parts(const struct entity *e, const char *boundary, struct entity *parts,
    size_t max)
{
	char dl[128], cl[128];
	const char *p = e->b, *end = e->b + e->blen, *eol, *start = NULL;
	size_t n = 0;
	bool closed = false;

	(void)snprintf(dl, sizeof(dl), "--%s", boundary);
	(void)snprintf(cl, sizeof(cl), "--%s--", boundary);
	for (; p < end && !closed; p = eol < end ? eol + 2 : end) {
		if ((eol = memmem(p, (size_t)(end - p), "\r\n", 2)) == NULL)
			eol = end;
		if ((size_t)(eol - p) == strlen(dl) &&
		    memcmp(p, dl, strlen(dl)) == 0) {
			if (start != NULL) {
				assert_true(n < max);
				parts[n++] = t_split(start,
				    (size_t)(p - 2 - start));
			}
			start = eol + 2;
		} else if ((size_t)(eol - p) == strlen(cl) &&
		    memcmp(p, cl, strlen(cl)) == 0) {
			assert_non_null(start);
			assert_true(n < max);
			parts[n++] = t_split(start, (size_t)(p - 2 - start));
			closed = true;
		}
	}
	assert_true(closed);
	for (; p < end; p++)
		assert_true(*p == '\r' || *p == '\n');
	return n;
}

/* t_hex - value of an upper-case hex digit, or -1 */
static int
t_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * t_qp_decode - strict quoted-printable decoding (RFC 2045 6.7): lines at
 * most 76 characters, no white space before a line end, "=XX" in upper
 * case, only printable ASCII; also no line "." and none starting with
 * "From ".  Decoded line ends are LF.
 */
static void
t_qp_decode(const char *s, size_t n, struct buf *out)
{
	const char *p = s, *end = s + n, *eol;
	int hi, lo;

	buf_init(out, T_MAX);
	while (p < end) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (eol == NULL)
			eol = end;
		assert_true(eol - p <= 76);
		assert_false(eol - p == 1 && *p == '.');
		assert_false(eol - p >= 5 && memcmp(p, "From ", 5) == 0);
		assert_false(eol > p && (eol[-1] == ' ' || eol[-1] == '\t'));
		for (; p < eol; p++) {
			if (*p != '=') {
				assert_true((*p >= ' ' && *p < 127) ||
				    *p == '\t');
				assert_int_equal(buf_putc(out, *p), 0);
				continue;
			}
			if (p + 1 == eol)
				break;		/* soft line break */
			assert_true(p + 2 < eol);
			hi = t_hex(p[1]);
			lo = t_hex(p[2]);
			assert_true(hi >= 0 && lo >= 0);
			assert_int_equal(buf_putc(out, hi << 4 | lo), 0);
			p += 2;
		}
		if (p == eol && eol < end)
			assert_int_equal(buf_putc(out, '\n'), 0);
		p = eol < end ? eol + 2 : end;
	}
}

/* t_b64_decode - base64 lines of 76 (the last may be shorter) */
static void
t_b64_decode(const char *s, size_t n, struct buf *out)
{
	const char *p = s, *end = s + n, *eol;
	unsigned char tmp[64];
	long k;

	buf_init(out, T_MAX);
	while (p < end) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (eol == NULL)
			eol = end;
		if (eol + 2 < end)
			assert_int_equal(eol - p, 76);
		else
			assert_true(eol - p <= 76 && eol - p > 0);
		k = base64_decode(p, (size_t)(eol - p), tmp, sizeof(tmp));
		assert_true(k >= 0);
		assert_int_equal(buf_append(out, tmp, (size_t)k), 0);
		p = eol < end ? eol + 2 : end;
	}
}

/* The decoded parts of a composed report without attachments. */
struct t_report {
	char		*msg;
	size_t		 len;
	struct entity	 top;		/* the message */
	struct entity	 part[2];	/* text/plain, text/html */
	struct buf	 text, html;	/* decoded */
};

/* t_report - compose, check the structure, decode both parts */
static void
t_report(const struct notify_msg *m, struct t_report *r)
{
	char v[1024], bnd[128];
	int i;

	r->msg = t_compose(m, &r->len);
	r->top = t_split(r->msg, r->len);
	assert_int_equal(t_hdr(&r->top, "Content-Type", v, sizeof(v)), 1);
	assert_non_null(strstr(v, "multipart/alternative;"));
	t_param(v, "boundary", bnd, sizeof(bnd));
	assert_true(strlen(bnd) <= 70);		/* RFC 2046 5.1.1 */
	assert_int_equal(t_parts(&r->top, bnd, r->part, 2), 2);
	for (i = 0; i < 2; i++) {
		assert_int_equal(t_hdr(&r->part[i], "Content-Type", v,
		    sizeof(v)), 1);
		assert_string_equal(v, i == 0 ? "text/plain; charset=utf-8" :
		    "text/html; charset=utf-8");
		assert_int_equal(t_hdr(&r->part[i],
		    "Content-Transfer-Encoding", v, sizeof(v)), 1);
		assert_string_equal(v, "quoted-printable");
	}
	t_qp_decode(r->part[0].b, r->part[0].blen, &r->text);
	t_qp_decode(r->part[1].b, r->part[1].blen, &r->html);
}

/* t_report_free - free a t_report */
static void
t_report_free(struct t_report *r)
{
	free(r->msg);
	buf_clear(&r->text);
	buf_clear(&r->html);
}

/* t_html - notify_html that must succeed; the HTML, to free */
static char *
t_html(const struct notify_msg *m)
{
	struct buf b;
	char err[256] = "";

	buf_init(&b, T_MAX);
	if (notify_html(m, &b, err, sizeof(err)) != 0)
		fail_msg("notify_html: %s", err);
	return buf_take(&b);
}

/* t_count - occurrences of needle in s */
static size_t
t_count(const char *s, const char *needle)
{
	size_t n = 0;

	for (; (s = strstr(s, needle)) != NULL; s += strlen(needle))
		n++;
	return n;
}

/*
 * Statuses and header values.
 */

/* test_status - names both ways, case ignored, nothing else */
static void
test_status(void **state)
{
	static const char *const names[] = { "success", "failure",
	    "warning", "info" };
	static const struct {
		const char	*s;
		bool		 ok;
		enum notify_status st;
	} cases[] = {
		{ "success", true, NOTIFY_SUCCESS },
		{ "FAILURE", true, NOTIFY_FAILURE },
		{ "Warning", true, NOTIFY_WARNING },
		{ "info", true, NOTIFY_INFO },
		{ "", false, 0 }, { "succes", false, 0 },
		{ "successful", false, 0 }, { "info ", false, 0 },
		{ "error", false, 0 },
	};
	enum notify_status st;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		st = NOTIFY_INFO + 1;
		assert_int_equal(notify_status_parse(cases[i].s, &st),
		    cases[i].ok);
		if (cases[i].ok) {
			assert_int_equal(st, cases[i].st);
			assert_string_equal(notify_status_name(st),
			    names[st]);
		}
	}
	assert_false(notify_status_parse(NULL, &st));
}

/* test_header_ok - valid UTF-8 without controls but TAB */
static void
test_header_ok(void **state)
{
	static const struct {
		const char	*v;
		bool		 ok;
	} cases[] = {
		{ "Nightly backup", true }, { "", true },
		{ "with\ttab", true }, { "Größe ✓ 日本語 😀", true },
		{ "a\r\nBcc: x@y", false }, { "a\nb", false },
		{ "a\rb", false }, { "nul\x01", false }, { "del\x7f", false },
		{ "esc\x1b[31m", false },
		{ "nel\xc2\x85", false },		/* C1 control */
		{ "\xff", false },			/* not UTF-8 */
		{ "trunc\xc3", false }, { "\xc0\xaf", false },	/* overlong */
		{ "\xe0\x80\xaf", false },		/* overlong */
		{ "\xed\xa0\x80", false },		/* surrogate */
		{ "\xf4\x90\x80\x80", false },		/* > U+10FFFF */
		{ "\xe2\x82", false },			/* truncated */
	};
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++)
		if (notify_header_ok(cases[i].v) != cases[i].ok)
			fail_msg("case %zu", i);
	assert_false(notify_header_ok(NULL));
}

/*
 * Structure.
 */

/* test_structure - headers, parts and their encodings */
static void
test_structure(void **state)
{
	static const char *const once[] = { "Date", "From", "To", "Subject",
	    "Message-ID", "MIME-Version", "Auto-Submitted", "X-Mailer",
	    "Content-Type" };
	struct notify_msg m = t_msg();
	struct t_report r;
	char v[1024], date[RFCDATE_MAX];
	size_t i;

	(void)state;
	t_report(&m, &r);
	for (i = 0; i < nitems(once); i++)
		if (t_hdr(&r.top, once[i], v, sizeof(v)) != 1)
			fail_msg("header %s not there once", once[i]);
	/* The header section starts with Date and ends with Content-Type. */
	assert_memory_equal(r.msg, "Date: ", 6);
	(void)t_hdr(&r.top, "Date", v, sizeof(v));
	assert_string_equal(v, rfcdate(T_WHEN, date, sizeof(date)));
	(void)t_hdr(&r.top, "From", v, sizeof(v));
	assert_string_equal(v, "backup@host.example.com");
	(void)t_hdr(&r.top, "To", v, sizeof(v));
	assert_string_equal(v, "ops@example.com, bob@example.org");
	(void)t_hdr(&r.top, "Subject", v, sizeof(v));
	assert_string_equal(v, "[backup] Nightly backup done");
	(void)t_hdr(&r.top, "MIME-Version", v, sizeof(v));
	assert_string_equal(v, "1.0");
	(void)t_hdr(&r.top, "Auto-Submitted", v, sizeof(v));
	assert_string_equal(v, "auto-generated");
	(void)t_hdr(&r.top, "X-Mailer", v, sizeof(v));
	assert_string_equal(v, "postroom");
	(void)t_hdr(&r.top, "Message-ID", v, sizeof(v));
	assert_int_equal(strlen(v), 1 + 32 + 1 + strlen("host.example.com")
	    + 1);
	assert_int_equal(v[0], '<');
	assert_int_equal(strspn(v + 1, "0123456789abcdef"), 32);
	assert_string_equal(v + 33, "@host.example.com>");
	/* Everything but the addresses is 7-bit. */
	for (i = 0; i < r.len; i++)
		assert_true((unsigned char)r.msg[i] < 128);
	/* Header lines stay under 78 characters. */
	t_check_lines(r.msg, r.top.hlen + 2, 78);
	t_report_free(&r);
}

/* test_html_part_is_notify_html - the text/html part is notify_html() */
static void
test_html_part_is_notify_html(void **state)
{
	struct notify_msg m = t_msg();
	struct t_report r;
	char *html;

	(void)state;
	t_report(&m, &r);
	html = t_html(&m);
	/* The part's last line break belongs to the close delimiter. */
	assert_int_equal(r.html.len + 1, strlen(html));
	assert_memory_equal(r.html.data, html, r.html.len);
	assert_non_null(strstr(html, "<meta charset=\"utf-8\">"));
	assert_non_null(strstr(html,
	    "<title>[backup] Nightly backup done</title>"));
	/* Self-contained: no <style> block, no external resource. */
	assert_null(strstr(html, "<style"));
	assert_null(strstr(html, "<img"));
	assert_null(strstr(html, "<link"));
	assert_null(strstr(html, "http"));
	assert_null(strstr(html, "url("));
	/* One centred 600 px frame. */
	assert_int_equal(t_count(html, "max-width:600px"), 1);
	assert_non_null(strstr(html, "align=\"center\""));
	free(html);
	t_report_free(&r);
}

/* test_unique_ids - Message-ID and boundaries change every time */
static void
test_unique_ids(void **state)
{
	struct notify_msg m = t_msg();
	char *a, *b, va[256], vb[256];
	struct entity ea, eb;
	size_t la, lb;

	(void)state;
	a = t_compose(&m, &la);
	b = t_compose(&m, &lb);
	ea = t_split(a, la);
	eb = t_split(b, lb);
	(void)t_hdr(&ea, "Message-ID", va, sizeof(va));
	(void)t_hdr(&eb, "Message-ID", vb, sizeof(vb));
	assert_string_not_equal(va, vb);
	(void)t_hdr(&ea, "Content-Type", va, sizeof(va));
	(void)t_hdr(&eb, "Content-Type", vb, sizeof(vb));
	assert_string_not_equal(va, vb);
	free(a);
	free(b);
}

/* test_message_id_host - a host name that is no domain is not used */
static void
test_message_id_host(void **state)
{
	struct notify_msg m = t_msg();
	struct entity e;
	char *s, v[256];
	size_t n;

	(void)state;
	m.hostname = "my host (lab)";
	s = t_compose(&m, &n);
	e = t_split(s, n);
	(void)t_hdr(&e, "Message-ID", v, sizeof(v));
	assert_string_equal(v + 33, "@localhost>");
	free(s);
}

/*
 * Quoted-printable.
 */

/* test_qp_roundtrip - tricky summaries come back exactly */
static void
test_qp_roundtrip(void **state)
{
	static const struct {
		const char	*in;
		const char	*want;	/* NULL: same as in */
	} cases[] = {
		{ "short", NULL },
		{ "a=b==c\n=\n==3D", NULL },
		{ "trailing   \nspaces\t\nand tab\t \nend", NULL },
		{ ".\n..\n. \nx.\n.", NULL },
		{ "From here\nFrom: there\n From x", NULL },
		{ "Größe ✓ 日本語 😀 ünïcödé", NULL },
		{ "crlf\r\nline\rbreaks", "crlf\nline\nbreaks" },
		{ "ctrl\x1b[31mred\x7f", "ctrl\xef\xbf\xbd[31mred"
		    "\xef\xbf\xbd" },
		{ "bad \xff octet", "bad \xef\xbf\xbd octet" },
		{ "\n\nlead and trail \t\n \n\n", "\n\nlead and trail" },
	};
	struct notify_msg m = t_msg();
	struct t_report r;
	char want[512];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		m.body = cases[i].in;
		t_report(&m, &r);
		(void)snprintf(want, sizeof(want), "\n\n%s\n\n",
		    cases[i].want != NULL ? cases[i].want : cases[i].in);
		if (strstr(r.text.data, want) == NULL)
			fail_msg("case %zu: %s", i, r.text.data);
		t_report_free(&r);
	}
}

/*
 * test_qp_lengths - lines of every length around the 76 limit, with '=',
 * spaces, multi-octet characters and dots at each position
 */
static void
test_qp_lengths(void **state)
{
	static const char *const units[] = { "a", "=", " a", "é", "😀",
	    "x.", "\t" };
	struct notify_msg m = t_msg();
	struct t_report r;
	struct buf in, want;
	size_t u, len;

	(void)state;
	m.nfields = 0;
	for (u = 0; u < nitems(units); u++)
		for (len = 60; len < 90; len++) {
			buf_init(&in, T_MAX);
			buf_init(&want, T_MAX);
			while (in.len < len)
				assert_int_equal(buf_puts(&in, units[u]), 0);
			/* A second line ending in a space after the long one
			 * (the summary's own end is trimmed). */
			assert_int_equal(buf_puts(&in, "\n.x \nend"), 0);
			m.body = in.data;
			t_report(&m, &r);
			assert_int_equal(buf_printf(&want, "\n\n%s\n\n",
			    in.data), 0);
			if (strstr(r.text.data, want.data) == NULL)
				fail_msg("unit %zu len %zu", u, len);
			t_report_free(&r);
			buf_clear(&in);
			buf_clear(&want);
		}
}

/*
 * Subject (RFC 2047).
 */

/*
 * t_subject - the Subject header: raw lines checked (at most 78, encoded
 * words at most 75 and each decoding to whole UTF-8 characters) and the
 * decoded value; whether it was encoded
 */
static bool
t_subject(const struct notify_msg *m, char *out, size_t size)
{
	char *s, raw[4096], *w, *e, dec[128];
	struct entity top;
	size_t n, o = 0;
	bool enc;
	long k;

	s = t_compose(m, &n);
	top = t_split(s, n);
	t_check_lines(s, top.hlen + 2, 78);
	assert_int_equal(t_hdr(&top, "Subject", raw, sizeof(raw)), 1);
	free(s);
	enc = strncmp(raw, "=?", 2) == 0;
	if (!enc) {
		assert_true(strlen(raw) < size);
		strcpy(out, raw);
		return false;
	}
	/* Unfolding joined the words with the leading space of each line. */
	for (w = raw; *w != '\0'; w = e + 2) {
		assert_memory_equal(w, "=?UTF-8?B?", 10);
		e = strstr(w + 10, "?=");
		assert_non_null(e);
		assert_true(e + 2 - w <= 75);
		k = base64_decode(w + 10, (size_t)(e - w - 10),
		    (unsigned char *)dec, sizeof(dec) - 1);
		assert_true(k > 0);
		dec[k] = '\0';
		assert_true(notify_header_ok(dec));	/* whole characters */
		assert_true(o + (size_t)k < size);
		memcpy(out + o, dec, (size_t)k);
		o += (size_t)k;
		if (e[2] == ' ')
			e++;
		else
			assert_int_equal(e[2], '\0');
	}
	out[o] = '\0';
	return true;
}

/* test_subject - plain when possible, folded, encoded when needed */
static void
test_subject(void **state)
{
	static const struct {
		const char	*app;
		const char	*title;
		bool		 enc;
		const char	*want;
	} cases[] = {
		{ "backup", "Nightly backup done", false,
		    "[backup] Nightly backup done" },
		{ NULL, "Only the title", false, "Only the title" },
		{ "", "Only the title", false, "Only the title" },
		{ "cron", "", false, "[cron] SUCCESS" },
		{ "backup", "Sauvegarde réussie", true,
		    "[backup] Sauvegarde réussie" },
		{ "Größe", "ok", true, "[Größe] ok" },
		/* Looks like an encoded word: must show literally. */
		{ "x", "=?UTF-8?B?SGk=?=", true, "[x] =?UTF-8?B?SGk=?=" },
		{ "x", "tab\tinside", false, "[x] tab\tinside" },
	};
	struct notify_msg m = t_msg();
	char out[4096];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		m.app_name = cases[i].app;
		m.title = cases[i].title;
		if (t_subject(&m, out, sizeof(out)) != cases[i].enc)
			fail_msg("case %zu: encoding", i);
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu: %s", i, out);
	}
}

/* test_subject_long - long subjects fold; words too long are encoded */
static void
test_subject_long(void **state)
{
	struct notify_msg m = t_msg();
	char title[1024], want[1100], out[4096];
	size_t i;

	(void)state;
	/* 40 short words: folded plain text that unfolds to the same. */
	title[0] = '\0';
	for (i = 0; i < 40; i++)
		strcat(title, i == 0 ? "word00" : " word00");
	m.title = title;
	(void)snprintf(want, sizeof(want), "[backup] %s", title);
	assert_false(t_subject(&m, out, sizeof(out)));
	assert_string_equal(out, want);
	/* One 150-character word cannot fold: encoded words instead. */
	memset(title, 'x', 150);
	title[150] = '\0';
	(void)snprintf(want, sizeof(want), "[backup] %s", title);
	assert_true(t_subject(&m, out, sizeof(out)));
	assert_string_equal(out, want);
	/* Long non-ASCII with 2-, 3- and 4-octet characters: split only
	 * between characters (t_subject checks each word). */
	title[0] = '\0';
	for (i = 0; i < 20; i++)
		strcat(title, "é日😀 a");
	(void)snprintf(want, sizeof(want), "[backup] %s", title);
	assert_true(t_subject(&m, out, sizeof(out)));
	assert_string_equal(out, want);
}

/*
 * Refused input.
 */

/* test_refused - header injection, bad UTF-8, missing pieces */
static void
test_refused(void **state)
{
	static const struct notify_field bad_key[] = { { "\xff", "v" } };
	static const struct notify_field bad_val[] = {
	    { "k", "\xed\xa0\x80" } };
	static const char *const to_inj[] = { "ok@example.com",
	    "b@example.com\r\nBcc: evil@example.net" };
	static const char *const to_empty[] = { "" };
	static const struct notify_attach att_name[] = {
	    { "a.txt\r\nBcc: evil@example.net", "x", 1, NULL } };
	static const struct notify_attach att_type[] = {
	    { "a.txt", "x", 1, "text/plain\r\nBcc: evil@example.net" } };
	static const struct notify_attach att_type2[] = {
	    { "a.txt", "x", 1, "text" } };
	struct {
		const char	*what;
		struct notify_msg m;
	} cases[18];
	struct notify_msg base = t_msg();
	struct buf b;
	char err[256];
	size_t i, n = 0;
	char big[T_BIG];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
#define CASE(w, field, val) do { \
	cases[n].what = (w); cases[n].m = base; cases[n].m.field = (val); \
	n++; } while (0)
	CASE("title", title, "x\r\nBcc: evil@example.net");
	CASE("title", title, "x\nBcc: evil@example.net");
	CASE("title", title, "bad \xff");
	CASE("title", title, "c1 \xc2\x85");
	CASE("app name", app_name, "a\rBcc: evil@example.net");
	CASE("from", from, "a@example.com\r\nBcc: evil@example.net");
	CASE("from", from, "");
	CASE("from", from, NULL);
	CASE("from", from, big);
	CASE("host name", hostname, "h\r\nBcc: evil@example.net");
	CASE("to", to, to_inj);
	CASE("to", to, to_empty);
	CASE("recipient", nto, 0);
	CASE("field 1: the key", fields, bad_key);
	CASE("field 1: the value", fields, bad_val);
	CASE("template", html_template, "<p>\xfe</p>");
	CASE("attachment 1", attach, att_name);
	CASE("attachment 1: bad MIME type", attach, att_type);
#undef CASE
	assert_int_equal(n, nitems(cases));
	for (i = 0; i < n; i++) {
		if (cases[i].m.fields != base.fields)
			cases[i].m.nfields = 1;
		if (cases[i].m.to == to_empty)
			cases[i].m.nto = 1;
		if (cases[i].m.attach != NULL)
			cases[i].m.nattach = 1;
		buf_init(&b, T_MAX);
		assert_int_equal(buf_puts(&b, "keep"), 0);
		err[0] = '\0';
		if (notify_compose(&cases[i].m, &b, err, sizeof(err)) != -1)
			fail_msg("case %zu accepted", i);
		assert_string_equal(b.data, "keep");	/* out unchanged */
		if (strstr(err, cases[i].what) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err,
			    cases[i].what);
		assert_null(strchr(err, '\n'));
		buf_clear(&b);
	}
	/* A type without a subtype. */
	base.attach = att_type2;
	base.nattach = 1;
	buf_init(&b, T_MAX);
	assert_int_equal(notify_compose(&base, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "MIME type"));
	assert_int_equal(b.len, 0);
	buf_clear(&b);
}

/* test_html_refused - notify_html checks what it renders */
static void
test_html_refused(void **state)
{
	struct notify_msg m = t_msg();
	struct buf b;
	char err[256];

	(void)state;
	m.title = "a\nb";
	buf_init(&b, T_MAX);
	assert_int_equal(notify_html(&m, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "title"));
	assert_int_equal(b.len, 0);
	/* From and To do not matter to the HTML. */
	m = t_msg();
	m.from = NULL;
	m.nto = 0;
	assert_int_equal(notify_html(&m, &b, err, sizeof(err)), 0);
	assert_true(b.len > 0);
	buf_clear(&b);
}

/* test_too_large - the output limit is an error, out stays as it was */
static void
test_too_large(void **state)
{
	struct notify_msg m = t_msg();
	struct buf b;
	char err[256];
	size_t max;

	(void)state;
	for (max = 16; max <= 1024; max *= 2) {
		buf_init(&b, max);
		assert_int_equal(buf_puts(&b, "keep"), 0);
		assert_int_equal(notify_compose(&m, &b, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "too large"));
		assert_string_equal(b.data, "keep");
		assert_int_equal(notify_html(&m, &b, err, sizeof(err)), -1);
		assert_string_equal(b.data, "keep");
		buf_clear(&b);
	}
}

/*
 * HTML.
 */

/* test_html_escape - hostile values are text, never markup */
static void
test_html_escape(void **state)
{
	static const struct notify_field hostile[] = {
		{ "<script>alert('k')</script>", "\"q\" & 'a' <b>x</b>" },
		{ "plain", "line1\nline2\n  indented" },
		{ "esc", "red\x1b[31m" },
	};
	struct notify_msg m = t_msg();
	char *html;

	(void)state;
	m.fields = hostile;
	m.nfields = nitems(hostile);
	m.title = "<img src=x onerror=alert(1)>";
	m.app_name = "A&B";
	m.body = "<i>hi</i>\nsecond line";
	m.hostname = "h\"><svg onload=alert(1)>";
	html = t_html(&m);
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "<img"));
	assert_null(strstr(html, "<svg"));
	assert_null(strstr(html, "<b>"));
	assert_null(strstr(html, "<i>"));
	assert_null(strstr(html, "\x1b"));
	assert_non_null(strstr(html,
	    ">&lt;script&gt;alert(&#39;k&#39;)&lt;/script&gt;<"));
	assert_non_null(strstr(html,
	    ">&quot;q&quot; &amp; &#39;a&#39; &lt;b&gt;x&lt;/b&gt;<"));
	assert_non_null(strstr(html,
	    ">line1<br>\nline2<br>\n&nbsp;&nbsp;indented<"));
	assert_non_null(strstr(html, ">red\xef\xbf\xbd[31m<"));
	assert_non_null(strstr(html, "&lt;img src=x onerror=alert(1)&gt;"));
	assert_non_null(strstr(html, "A&amp;B"));
	assert_non_null(strstr(html, "&lt;i&gt;hi&lt;/i&gt;<br>\nsecond "
	    "line"));
	assert_non_null(strstr(html, "h&quot;&gt;&lt;svg onload=alert(1)"
	    "&gt;"));
	assert_non_null(strstr(html, "<title>[A&amp;B] &lt;img src=x "
	    "onerror=alert(1)&gt;</title>"));
	free(html);
}

/* test_html_layout - summary and fields only when given; zebra rows */
static void
test_html_layout(void **state)
{
	struct notify_msg m = t_msg();
	char *html;

	(void)state;
	html = t_html(&m);
	/* Frame, centring table, fields table. */
	assert_int_equal(t_count(html, "<table"), 3);
	assert_int_equal(t_count(html, "background-color:#ffffff\">\n<td"),
	    2);
	assert_int_equal(t_count(html, "background-color:#f3f4f6\">\n<td"),
	    1);
	assert_non_null(strstr(html, "All databases dumped.<br>\nOld sets "
	    "pruned."));
	assert_non_null(strstr(html, "word-break:break-word"));
	assert_non_null(strstr(html, "Größe"));
	assert_non_null(strstr(html, "host.example.com"));
	free(html);
	m.body = NULL;
	m.nfields = 0;
	html = t_html(&m);
	assert_int_equal(t_count(html, "<table"), 2);
	assert_null(strstr(html, "<br>\n\n"));
	free(html);
}

/* test_statuses - colour, badge word and readable text per status */
static void
test_statuses(void **state)
{
	static const struct {
		enum notify_status st;
		const char	*bar;		/* background, text colour */
		const char	*word;
	} cases[] = {
		{ NOTIFY_SUCCESS, "background-color:#15803d;color:#ffffff",
		    "SUCCESS" },
		{ NOTIFY_FAILURE, "background-color:#b91c1c;color:#ffffff",
		    "FAILURE" },
		{ NOTIFY_WARNING, "background-color:#f59e0b;color:#1f2937",
		    "WARNING" },
		{ NOTIFY_INFO, "background-color:#1d4ed8;color:#ffffff",
		    "INFO" },
	};
	struct notify_msg m = t_msg();
	struct t_report r;
	char want[128];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		m.status = cases[i].st;
		t_report(&m, &r);
		assert_non_null(strstr(r.html.data, cases[i].bar));
		(void)snprintf(want, sizeof(want), ">%s</span>",
		    cases[i].word);
		assert_non_null(strstr(r.html.data, want));
		(void)snprintf(want, sizeof(want), "[%s] Nightly backup "
		    "done\n\n", cases[i].word);
		assert_memory_equal(r.text.data, want, strlen(want));
		t_report_free(&r);
	}
}

/* test_template - placeholders, escaping, unknown names, no re-scan */
static void
test_template(void **state)
{
	static const struct notify_field f[] = { { "<k>", "v&" } };
	struct notify_msg m = t_msg();
	char *html, want[1024], date[RFCDATE_MAX];

	(void)state;
	m.status = NOTIFY_FAILURE;
	m.title = "<T> & {{hostname}}";
	m.body = "a\nb";
	m.fields = f;
	m.nfields = 1;
	m.html_template = "<h1 style=\"color:{{status_color}}\">{{title}}"
	    "</h1>{{ app_name }}|{{status}}|{{date}}|{{hostname}}|"
	    "{{summary}}|{{unknown}}|{{{{title}}|{{title";
	html = t_html(&m);
	(void)snprintf(want, sizeof(want), "<h1 style=\"color:#b91c1c\">"
	    "&lt;T&gt; &amp; {{hostname}}</h1>backup|failure|%s|"
	    "host.example.com|a<br>\nb|{{unknown}}|{{&lt;T&gt; &amp; "
	    "{{hostname}}|{{title", rfcdate(T_WHEN, date, sizeof(date)));
	assert_string_equal(html, want);
	free(html);
	m.html_template = "<table>{{fields}}</table>";
	html = t_html(&m);
	assert_memory_equal(html, "<table><tr", 10);
	assert_non_null(strstr(html, ">&lt;k&gt;</td>"));
	assert_non_null(strstr(html, ">v&amp;</td>"));
	assert_int_equal(t_count(html, "<tr"), 1);
	free(html);
}

/* test_template_compose - a template is the HTML part of the message */
static void
test_template_compose(void **state)
{
	struct notify_msg m = t_msg();
	struct t_report r;

	(void)state;
	m.html_template = "<p>{{title}}</p>\r\n<p>{{status}}</p>\n";
	t_report(&m, &r);
	assert_string_equal(r.html.data,
	    "<p>Nightly backup done</p>\n<p>success</p>");
	t_report_free(&r);
}

/*
 * Text part.
 */

/* test_text - aligned fields, summary, footer */
static void
test_text(void **state)
{
	static const struct notify_field f[] = {
		{ "Job", "nightly" },
		{ "Duration", "12 min" },
		{ "Größe", "4 GB" },
		{ "日本", "wide" },
		{ "Files", "a.sql\n\nb.sql" },
		{ "A key much longer than the others", "x" },
		{ "T\tb\nk\r\ny", "ctl\x01" },
	};
	struct notify_msg m = t_msg();
	struct t_report r;
	char want[1024], date[RFCDATE_MAX];

	(void)state;
	m.fields = f;
	m.nfields = nitems(f);
	t_report(&m, &r);
	(void)snprintf(want, sizeof(want),
	    "[SUCCESS] Nightly backup done\n\n"
	    "All databases dumped.\nOld sets pruned.\n\n"
	    "Job:      nightly\n"
	    "Duration: 12 min\n"
	    "Größe:    4 GB\n"
	    "日本:     wide\n"
	    "Files:    a.sql\n"
	    "\n"
	    "          b.sql\n"
	    "A key much longer than the others: x\n"
	    "T b k y:  ctl\xef\xbf\xbd\n\n"
	    "-- \nSent by backup from host.example.com\n%s",
	    rfcdate(T_WHEN, date, sizeof(date)));
	assert_string_equal(r.text.data, want);
	t_report_free(&r);
}

/*
 * Attachments.
 */

/* t_attach_check - one attachment part: headers and decoded content */
static void
t_attach_check(const struct entity *e, const char *ctype,
    const char *disp, const struct notify_attach *a)
{
	char v[1024];
	struct buf d;

	assert_int_equal(t_hdr(e, "Content-Type", v, sizeof(v)), 1);
	assert_string_equal(v, ctype);
	assert_int_equal(t_hdr(e, "Content-Disposition", v, sizeof(v)), 1);
	assert_string_equal(v, disp);
	assert_int_equal(t_hdr(e, "Content-Transfer-Encoding", v, sizeof(v)),
	    1);
	assert_string_equal(v, "base64");
	t_b64_decode(e->b, e->blen, &d);
	assert_int_equal(d.len, a->len);
	if (a->len > 0)
		assert_memory_equal(d.data, a->data, a->len);
	buf_clear(&d);
}

/* t_pct_decode - RFC 2231 value: %XX and attribute-chars, after
 * "utf-8''" in the first segment */
static void
t_pct_decode(const char *s, bool first, char *out, size_t size)
{
	size_t o = 0;

	if (first) {
		assert_memory_equal(s, "utf-8''", 7);
		s += 7;
	}
	for (; *s != '\0'; s++) {
		assert_true(o + 1 < size);
		if (*s == '%') {
			out[o++] = (char)(t_hex(s[1]) << 4 | t_hex(s[2]));
			assert_true(t_hex(s[1]) >= 0 && t_hex(s[2]) >= 0);
			s += 2;
		} else {
			assert_null(strchr(" *'%()<>@,;:\\\"/[]?=", *s));
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

/* test_attachments - multipart/mixed, parts in order, base64 lines */
static void
test_attachments(void **state)
{
	static char bin[1000];
	static const char latin1[] = "caf\xe9\n";
	struct notify_attach a[] = {
		{ "backup.log", "line 1\nRésumé\n", 15, NULL },
		{ "/var/tmp/dir/blob.bin", bin, sizeof(bin), NULL },
		{ "report.pdf", "%PDF-1.4", 8, "application/pdf" },
		{ "rapport été.csv", "a;b\n", 4, NULL },
		{ "old.txt", latin1, sizeof(latin1) - 1, NULL },
		{ "empty.txt", "", 0, "text/plain" },
	};
	struct notify_msg m = t_msg();
	struct entity top, parts[T_PARTS], alt[T_PARTS];
	char *s, v[1024], bnd[128];
	size_t n, i;

	(void)state;
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i * 7 + 3);
	m.attach = a;
	m.nattach = nitems(a);
	s = t_compose(&m, &n);
	top = t_split(s, n);
	(void)t_hdr(&top, "Content-Type", v, sizeof(v));
	assert_memory_equal(v, "multipart/mixed;", 16);
	t_param(v, "boundary", bnd, sizeof(bnd));
	assert_int_equal(t_parts(&top, bnd, parts, T_PARTS), 1 + nitems(a));
	/* First the alternative with its two parts. */
	(void)t_hdr(&parts[0], "Content-Type", v, sizeof(v));
	assert_memory_equal(v, "multipart/alternative;", 22);
	t_param(v, "boundary", bnd, sizeof(bnd));
	assert_int_equal(t_parts(&parts[0], bnd, alt, T_PARTS), 2);
	(void)t_hdr(&alt[0], "Content-Type", v, sizeof(v));
	assert_string_equal(v, "text/plain; charset=utf-8");
	(void)t_hdr(&alt[1], "Content-Type", v, sizeof(v));
	assert_string_equal(v, "text/html; charset=utf-8");
	/* Then the files, in order. */
	t_attach_check(&parts[1], "text/plain; charset=utf-8;\tname="
	    "\"backup.log\"", "attachment;\tfilename=\"backup.log\"", &a[0]);
	t_attach_check(&parts[2], "application/octet-stream;\tname="
	    "\"blob.bin\"", "attachment;\tfilename=\"blob.bin\"", &a[1]);
	t_attach_check(&parts[3], "application/pdf;\tname=\"report.pdf\"",
	    "attachment;\tfilename=\"report.pdf\"", &a[2]);
	t_attach_check(&parts[4], "text/csv; charset=utf-8",
	    "attachment;\tfilename*=utf-8''rapport%20%C3%A9t%C3%A9.csv",
	    &a[3]);
	/* Not UTF-8: no charset is claimed. */
	t_attach_check(&parts[5], "text/plain;\tname=\"old.txt\"",
	    "attachment;\tfilename=\"old.txt\"", &a[4]);
	t_attach_check(&parts[6], "text/plain; charset=utf-8;\tname="
	    "\"empty.txt\"", "attachment;\tfilename=\"empty.txt\"", &a[5]);
	free(s);
}

/* test_attach_long_name - RFC 2231 continuations of whole characters */
static void
test_attach_long_name(void **state)
{
	struct notify_attach a = { NULL, "x", 1, NULL };
	struct notify_msg m = t_msg();
	struct entity top, parts[T_PARTS];
	char name[512], *s, v[2048], bnd[128], key[32], seg[256], dec[256];
	char all[512];
	size_t n, i;

	(void)state;
	name[0] = '\0';
	for (i = 0; i < 12; i++)
		strcat(name, "été-日本-");
	strcat(name, "😀.log");
	a.name = name;
	m.attach = &a;
	m.nattach = 1;
	s = t_compose(&m, &n);
	top = t_split(s, n);
	(void)t_hdr(&top, "Content-Type", v, sizeof(v));
	t_param(v, "boundary", bnd, sizeof(bnd));
	assert_int_equal(t_parts(&top, bnd, parts, T_PARTS), 2);
	t_check_lines(parts[1].h, parts[1].hlen, 78);
	(void)t_hdr(&parts[1], "Content-Type", v, sizeof(v));
	assert_string_equal(v, "text/plain; charset=utf-8");
	(void)t_hdr(&parts[1], "Content-Disposition", v, sizeof(v));
	all[0] = '\0';
	for (i = 0;; i++) {
		(void)snprintf(key, sizeof(key), "filename*%zu*", i);
		if (strstr(v, key) == NULL)
			break;
		t_param(v, key, seg, sizeof(seg));
		t_pct_decode(seg, i == 0, dec, sizeof(dec));
		assert_true(notify_header_ok(dec));	/* whole characters */
		strcat(all, dec);
	}
	assert_true(i > 2);
	assert_string_equal(all, name);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_header_ok),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_html_part_is_notify_html),
		cmocka_unit_test(test_unique_ids),
		cmocka_unit_test(test_message_id_host),
		cmocka_unit_test(test_qp_roundtrip),
		cmocka_unit_test(test_qp_lengths),
		cmocka_unit_test(test_subject),
		cmocka_unit_test(test_subject_long),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_html_refused),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_html_escape),
		cmocka_unit_test(test_html_layout),
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_template),
		cmocka_unit_test(test_template_compose),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_attachments),
		cmocka_unit_test(test_attach_long_name),
	};

	setenv("TZ", "UTC", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
