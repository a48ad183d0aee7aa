/*
 * smtpc_route.c - the next hops of a domain (smtpgw.tab, smtpfwd.tab,
 * DefaultSMTPGateways, else MX) with their SMTP gateway options, and the
 * client credentials of userauth/smtp/.
 *
 * The parsers work on spans of the configured text (nothing is copied
 * before it is checked) and report the first error in err; a value that
 * does not parse never yields a partial route.  Only smtpc_auth_find
 * touches the file system.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config/config.h"
#include "core/dns.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/match.h"
#include "core/tab.h"
#include "smtpc/smtpc_route.h"

#define ROUTE_SHOW	64	/* most bytes of a bad value shown in err */

/* A piece of a string, not NUL-terminated; p == NULL: nothing left. */
struct span {
	const char	*p;
	size_t		 len;
};

/* "%.*s" arguments for a span, cut to ROUTE_SHOW bytes. */
#define SPAN_ARG(s) \
	(int)((s).len > ROUTE_SHOW ? ROUTE_SHOW : (s).len), (s).p

/* One parse: where the text came from and the first error. */
struct parse {
	char		*err;		/* caller's buffer or NULL */
	size_t		 errlen;
	const char	*where;		/* "smtpgw.tab line 3" or NULL */
	bool		 warned;	/* unknown option already logged */
};

/* route_err - record why the parse failed; returns -1 */
static int __attribute__((format(printf, 2, 3)))
route_err(struct parse *ps, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (ps->err == NULL || ps->errlen == 0)
		return -1;
	if (ps->where != NULL)
		n = snprintf(ps->err, ps->errlen, "%s: ", ps->where);
	if (n < 0 || (size_t)n >= ps->errlen)
		n = 0;
	va_start(ap, fmt);
	(void)vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* span_of - the whole of a C string (NULL gives an empty span) */
static struct span
span_of(const char *s)
{
	struct span sp = { s == NULL ? "" : s, s == NULL ? 0 : strlen(s) };

	return sp;
}

/* span_space - ASCII white space */
static bool
span_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\v' || c == '\f';
}

/* span_trim - drop white space at both ends */
static void
span_trim(struct span *s)
{
	while (s->len > 0 && span_space(s->p[0])) {
		s->p++;
		s->len--;
	}
	while (s->len > 0 && span_space(s->p[s->len - 1]))
		s->len--;
}

/* span_next - next trimmed piece of *s up to sep; false when none is left */
static bool
span_next(struct span *s, char sep, struct span *tok)
{
	const char *q;

	if (s->p == NULL)
		return false;
	tok->p = s->p;
	if ((q = memchr(s->p, sep, s->len)) == NULL) {
		tok->len = s->len;
		s->p = NULL;
		s->len = 0;
	} else {
		tok->len = (size_t)(q - s->p);
		s->len -= tok->len + 1;
		s->p = q + 1;
	}
	span_trim(tok);
	return true;
}

/* span_eq - s equals word, ignoring ASCII case */
static bool
span_eq(struct span s, const char *word)
{
	return s.len == strlen(word) && strncasecmp(s.p, word, s.len) == 0;
}

/* span_cstr - s as a C string in out; false when it does not fit */
static bool
span_cstr(struct span s, char *out, size_t size)
{
	if (s.len >= size)
		return false;
	memcpy(out, s.p, s.len);
	out[s.len] = '\0';
	return true;
}

/*
 * Hosts.
 */

/* route_name_ok - a host name as core/dns.h takes it */
static bool
route_name_ok(struct span h)
{
	return h.len <= SMTPC_ROUTE_HOST_MAX && dns_name_ok(h.p, h.len);
}

/*
 * route_literal - the inside of "[...]": IPv4, "IPv6:addr" or a bare IPv6
 * address (RFC 5321 4.1.3).  The address without prefix goes to out
 * (NULL: only check).
 */
static bool
route_literal(struct span in, char *out, size_t size)
{
	char a[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	bool v6 = false;

	if (in.len >= 5 && strncasecmp(in.p, "IPv6:", 5) == 0) {
		in.p += 5;
		in.len -= 5;
		v6 = true;
	}
	if (!span_cstr(in, a, sizeof(a)))
		return false;
	if (inet_pton(AF_INET6, a, bin) != 1 &&
	    (v6 || inet_pton(AF_INET, a, bin) != 1))
		return false;
	return out == NULL || str_copy(out, a, size);
}

/* route_port - decimal 1..65535 */
static int
route_port(struct parse *ps, struct span v, int *port)
{
	long n = 0;
	size_t i;

	for (i = 0; i < v.len && v.p[i] >= '0' && v.p[i] <= '9' &&
	    n <= 65535; i++)
		n = n * 10 + (v.p[i] - '0');
	if (v.len == 0 || i != v.len || n < 1 || n > 65535)
		return route_err(ps, "bad port \"%.*s\"", SPAN_ARG(v));
	*port = (int)n;
	return 0;
}

/* route_host - "name[:port]", "[literal][:port]" into hop->host, ->port */
static int
route_host(struct parse *ps, struct span h, struct smtpc_hop *hop)
{
	struct span name = h, port = { NULL, 0 };
	const char *q;

	if (h.len > 0 && h.p[0] == '[') {
		if ((q = memchr(h.p, ']', h.len)) == NULL)
			return route_err(ps, "bad host \"%.*s\"", SPAN_ARG(h));
		name.p = h.p + 1;
		name.len = (size_t)(q - name.p);
		port.p = q + 1;
		port.len = h.len - (size_t)(port.p - h.p);
		if (!route_literal(name, hop->host, sizeof(hop->host)) ||
		    (port.len > 0 && port.p[0] != ':'))
			return route_err(ps, "bad host \"%.*s\"", SPAN_ARG(h));
	} else {
		if ((q = memchr(h.p, ':', h.len)) != NULL) {
			name.len = (size_t)(q - h.p);
			port.p = q;
			port.len = h.len - name.len;
		}
		if (!route_name_ok(name) ||
		    !span_cstr(name, hop->host, sizeof(hop->host)))
			return route_err(ps, "bad host \"%.*s\"", SPAN_ARG(h));
	}
	if (port.len == 0)
		return 0;
	port.p++;
	port.len--;
	return route_port(ps, port, &hop->port);
}

/*
 * Options (manual "SMTP GATEWAY CONFIGURATION").
 */

/* route_bind - OutBind=<numeric address>, brackets allowed */
static int
route_bind(struct parse *ps, struct span v, struct smtpc_hopopts *o)
{
	char a[INET6_ADDRSTRLEN + 1];
	struct span in = v;

	if (in.len >= 2 && in.p[0] == '[' && in.p[in.len - 1] == ']') {
		in.p++;
		in.len -= 2;
	}
	if (!span_cstr(in, a, sizeof(a)) ||
	    ipaddr_parse(a, 0, &o->bind, &o->bindlen) == -1)
		return route_err(ps, "bad OutBind address \"%.*s\"",
		    SPAN_ARG(v));
	o->has_bind = true;
	return 0;
}

/* route_warn - an option ignored here: logged once per parse */
static void
route_warn(struct parse *ps, struct span name)
{
	if (ps->warned)
		return;
	ps->warned = true;
	log_warn("smtpc: %s: gateway option \"%.*s\" unknown or not "
	    "applicable, ignored", ps->where != NULL ? ps->where :
	    "gateway options", SPAN_ARG(name));
}

/* route_opt - one "name[=value]"; port NULL: no host to give a port to */
static int
route_opt(struct parse *ps, struct span name, struct span val, bool hasval,
    struct smtpc_hopopts *o, int *port)
{
	int p;

	if (span_eq(name, "NeedTLS")) {
		if (!hasval || val.len != 1 || val.p[0] < '0' || val.p[0] > '2')
			return route_err(ps, "bad NeedTLS value \"%.*s\"",
			    SPAN_ARG(val));
		o->need_tls = val.p[0] - '0';
	} else if (span_eq(name, "OutBind")) {
		return route_bind(ps, val, o);
	} else if (span_eq(name, "LMTP")) {
		if (hasval && !span_eq(val, "0") && !span_eq(val, "1"))
			return route_err(ps, "bad LMTP value \"%.*s\"",
			    SPAN_ARG(val));
		o->lmtp = !hasval || val.p[0] == '1';
	} else if (span_eq(name, "Port")) {
		if (route_port(ps, val, &p) == -1)
			return -1;
		if (port != NULL)
			*port = p;
		else
			route_warn(ps, name);
	} else
		route_warn(ps, name);
	return 0;
}

/* route_opts - "opt[=val],..." applied to *o in order */
static int
route_opts(struct parse *ps, struct span s, struct smtpc_hopopts *o,
    int *port)
{
	struct span tok, name, val;
	bool hasval;

	while (span_next(&s, ',', &tok)) {
		if (tok.len == 0)
			continue;
		hasval = memchr(tok.p, '=', tok.len) != NULL;
		span_next(&tok, '=', &name);
		val = tok;
		if (val.p == NULL)
			val.p = "";
		span_trim(&val);
		if (route_opt(ps, name, val, hasval, o, port) == -1)
			return -1;
	}
	return 0;
}

/* route_defaults - options before SmtpGwConfig: opportunistic TLS */
static void
route_defaults(struct smtpc_hopopts *o)
{
	memset(o, 0, sizeof(*o));
	o->need_tls = 1;
}

/*
 * Host lists.
 */

/* route_shuffle - Fisher-Yates over the hops ('#' lists) */
static void
route_shuffle(struct smtpc_hop *hops, size_t n)
{
	struct smtpc_hop t;
	size_t i, j;

	for (i = n - 1; i > 0; i--) {
		j = (size_t)random() % (i + 1);
		if (j != i) {
			t = hops[i];
			hops[i] = hops[j];
			hops[j] = t;
		}
	}
}

/* route_hoplist - "[#]host[:port][,opt...];..." into hops[0..max-1] */
static int
route_hoplist(struct parse *ps, const char *list,
    const struct smtpc_hopopts *base, struct smtpc_hop *hops, size_t max)
{
	struct span s = span_of(list), e, h;
	size_t n = 0;
	bool shuffle;

	span_trim(&s);
	if ((shuffle = s.len > 0 && s.p[0] == '#')) {
		s.p++;
		s.len--;
	}
	while (span_next(&s, ';', &e)) {
		if (e.len == 0)
			continue;
		if (n == max)
			return route_err(ps, "more than %zu hosts", max);
		memset(&hops[n], 0, sizeof(hops[n]));
		hops[n].opts = *base;
		span_next(&e, ',', &h);
		if (route_host(ps, h, &hops[n]) == -1 ||
		    route_opts(ps, e, &hops[n].opts, &hops[n].port) == -1)
			return -1;
		n++;
	}
	if (n == 0)
		return route_err(ps, "empty host list");
	if (shuffle)
		route_shuffle(hops, n);
	return n > INT_MAX ? INT_MAX : (int)n;
}

/* smtpc_hoplist_parse - parse a relay list (see smtpc_route.h) */
int
smtpc_hoplist_parse(const char *list, const struct smtpc_hopopts *base,
    struct smtpc_hop *hops, size_t max, char *err, size_t errlen)
{
	struct parse ps = { err, errlen, NULL, false };
	struct smtpc_hopopts def;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (base == NULL) {
		route_defaults(&def);
		base = &def;
	}
	return route_hoplist(&ps, list, base, hops, max);
}

/* smtpc_hopopts_parse - apply an option list; *o unchanged on error */
int
smtpc_hopopts_parse(const char *opts, struct smtpc_hopopts *o, char *err,
    size_t errlen)
{
	struct parse ps = { err, errlen, NULL, false };
	struct smtpc_hopopts t = *o;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (route_opts(&ps, span_of(opts), &t, NULL) == -1)
		return -1;
	*o = t;
	return 0;
}

/*
 * Routes.
 */

/* route_domain_ok - a source route domain: name or "[literal]" */
static bool
route_domain_ok(struct span g)
{
	struct span in;

	if (g.len < 2 || g.p[0] != '[' || g.p[g.len - 1] != ']')
		return route_name_ok(g);
	in.p = g.p + 1;
	in.len = g.len - 2;
	return route_literal(in, NULL, 0);
}

/*
 * route_gw - smtpgw.tab "@gw1[:port],@gw2,...": connect to gw1, the
 * others become the source route "@gw2,@gw3" (manual "MAIL ROUTING
 * THROUGH ADDRESSES").  The '@' is optional.
 */
static int
route_gw(struct parse *ps, const char *val, const struct smtpc_hopopts *base,
    struct smtpc_route *rt)
{
	struct span s = span_of(val), g;
	size_t len = 0;
	int n;

	memset(&rt->hops[0], 0, sizeof(rt->hops[0]));
	rt->hops[0].opts = *base;
	rt->nhops = 1;
	for (n = 0; span_next(&s, ',', &g); n++) {
		if (g.len > 0 && g.p[0] == '@') {
			g.p++;
			g.len--;
		}
		if (n == 0) {
			if (route_host(ps, g, &rt->hops[0]) == -1)
				return -1;
			continue;
		}
		if (!route_domain_ok(g))
			return route_err(ps, "bad gateway \"%.*s\"",
			    SPAN_ARG(g));
		if (len + g.len + 3 > sizeof(rt->srcroute))
			return route_err(ps, "source route too long");
		len += (size_t)snprintf(rt->srcroute + len,
		    sizeof(rt->srcroute) - len, "%s@%.*s", len > 0 ? "," : "",
		    (int)g.len, g.p);
	}
	return 0;
}

/* route_match - first line of t whose domain pattern matches */
static const struct tab_rec *
route_match(const struct tab *t, const char *domain)
{
	size_t i;

	for (i = 0; i < t->nrecs; i++)
		if (t->recs[i].n >= 2 && match_wild(t->recs[i].f[0], domain))
			return &t->recs[i];
	return NULL;
}

/* route_blank - NULL or only white space */
static bool
route_blank(const char *s)
{
	struct span sp = span_of(s);

	span_trim(&sp);
	return sp.len == 0;
}

/* route_list - rt takes hops from a relay list of `source` */
static int
route_list(struct parse *ps, struct smtpc_route *rt, const char *source,
    const char *list, const struct smtpc_hopopts *base)
{
	int n;

	rt->kind = SMTPC_ROUTE_HOSTS;
	rt->source = source;
	if ((n = route_hoplist(ps, list, base, rt->hops,
	    SMTPC_ROUTE_HOPS_MAX)) == -1)
		return -1;
	rt->nhops = (size_t)n;
	return 0;
}

/* smtpc_route_find - the route for a domain (see smtpc_route.h) */
int
smtpc_route_find(const struct config *cfg, const char *domain,
    struct smtpc_route *rt, char *err, size_t errlen)
{
	struct parse ps = { err, errlen, "SmtpGwConfig", false };
	struct smtpc_hopopts base;
	const struct tab_rec *r;
	const char *v;
	char where[64];

	if (smtpc_route_mx(cfg, rt, err, errlen) == -1)
		return -1;
	base = rt->mx_opts;
	ps.where = where;
	if ((r = route_match(config_tab(cfg, CFG_SMTPGW), domain)) != NULL) {
		(void)snprintf(where, sizeof(where), "smtpgw.tab line %u",
		    r->lineno);
		rt->kind = SMTPC_ROUTE_HOSTS;
		rt->source = "smtpgw.tab";
		return route_gw(&ps, r->f[1], &base, rt);
	}
	if ((r = route_match(config_tab(cfg, CFG_SMTPFWD), domain)) != NULL) {
		(void)snprintf(where, sizeof(where), "smtpfwd.tab line %u",
		    r->lineno);
		return route_list(&ps, rt, "smtpfwd.tab", r->f[1], &base);
	}
	if (!route_blank(v = config_var(cfg, "DefaultSMTPGateways"))) {
		ps.where = "DefaultSMTPGateways";
		return route_list(&ps, rt, "DefaultSMTPGateways", v, &base);
	}
	rt->kind = SMTPC_ROUTE_MX;
	rt->source = "MX";
	return 0;
}

/* smtpc_route_mx - MX, with SmtpGwConfig */
int
smtpc_route_mx(const struct config *cfg, struct smtpc_route *rt, char *err,
    size_t errlen)
{
	struct parse ps = { err, errlen, "SmtpGwConfig", false };

	memset(rt, 0, sizeof(*rt));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	route_defaults(&rt->mx_opts);
	if (route_opts(&ps, span_of(config_var(cfg, "SmtpGwConfig")),
	    &rt->mx_opts, NULL) == -1)
		return -1;
	rt->kind = SMTPC_ROUTE_MX;
	rt->source = "MX";
	return 0;
}

/*
 * Client credentials (manual "SMTP CLIENT AUTHENTICATION").
 */

/* auth_mech - SMTPC_AUTH_* of a mechanism name, 0 if unknown */
static unsigned
auth_mech(const char *name)
{
	if (strcasecmp(name, "PLAIN") == 0)
		return SMTPC_AUTH_PLAIN;
	if (strcasecmp(name, "LOGIN") == 0)
		return SMTPC_AUTH_LOGIN;
	if (strcasecmp(name, "CRAM-MD5") == 0)
		return SMTPC_AUTH_CRAM_MD5;
	return 0;
}

/* auth_load - the first record of an existing file; 1 or -1 (logged) */
static int
auth_load(const char *path, struct smtpc_auth *a)
{
	const struct tab_rec *r;
	struct tab t;
	size_t i, j;
	int rc = -1;

	if (tab_load(path, &t) == -1) {
		log_warn("smtpc: %s: %m", path);
		return -1;
	}
	r = t.nrecs > 0 ? &t.recs[0] : NULL;
	if (r == NULL || r->n != 3)
		log_warn("smtpc: %s: first line is not \"type\" \"user\" "
		    "\"password\"", path);
	else if ((a->mech = auth_mech(r->f[0])) == 0)
		log_warn("smtpc: %s:%u: unknown authentication type", path,
		    r->lineno);
	else if (r->f[1][0] == '\0' ||
	    !str_copy(a->user, r->f[1], sizeof(a->user)) ||
	    !str_copy(a->pass, r->f[2], sizeof(a->pass)))
		log_warn("smtpc: %s:%u: user name empty or user name or "
		    "password too long", path, r->lineno);
	else
		rc = 1;
	for (i = 0; i < t.nrecs; i++)
		for (j = 0; j < t.recs[i].n; j++)
			explicit_bzero(t.recs[i].f[j], strlen(t.recs[i].f[j]));
	tab_free(&t);
	if (rc != 1)
		explicit_bzero(a, sizeof(*a));
	return rc;
}

/*
 * auth_name - host lower-cased into name, one final dot dropped; false
 * for names that must never become a file name.
 */
static bool
auth_name(const char *host, char *name, size_t size)
{
	size_t i, len;

	if (host == NULL || (len = strlen(host)) == 0 || len >= size ||
	    host[0] == '.' || strstr(host, "..") != NULL)
		return false;
	for (i = 0; i < len; i++) {
		if (host[i] == '/' || host[i] == '\\' ||
		    (unsigned char)host[i] <= ' ' || host[i] == 0x7f)
			return false;
		name[i] = (host[i] >= 'A' && host[i] <= 'Z') ?
		    (char)(host[i] - 'A' + 'a') : host[i];
	}
	if (name[len - 1] == '.')
		len--;
	name[len] = '\0';
	return len > 0;
}

/* smtpc_auth_find - userauth/smtp/<host>.tab, then parent domains */
int
smtpc_auth_find(const char *mailroot, const char *host, struct smtpc_auth *a)
{
	char name[SMTPC_ROUTE_HOST_MAX + 1], dir[PATH_MAX], path[PATH_MAX];
	const char *n, *next;
	struct stat st;
	int len;

	memset(a, 0, sizeof(*a));
	if (!auth_name(host, name, sizeof(name)))
		return 0;
	if (fs_path(dir, sizeof(dir), mailroot, "userauth/smtp") == -1) {
		log_warn("smtpc: userauth path of %s: %m", mailroot);
		return -1;
	}
	for (n = name; n != NULL; n = next != NULL ? next + 1 : NULL) {
		next = strchr(n, '.');
		len = snprintf(path, sizeof(path), "%s/%s.tab", dir, n);
		if (len < 0 || (size_t)len >= sizeof(path)) {
			log_warn("smtpc: userauth path of %s too long", name);
			return -1;
		}
		if (stat(path, &st) == 0)
			return auth_load(path, a);
		if (errno != ENOENT && errno != ENOTDIR) {
			log_warn("smtpc: %s: %m", path);
			return -1;
		}
	}
	return 0;
}
