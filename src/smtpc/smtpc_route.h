/*
 * smtpc_route.h - where mail for a domain goes: the routing tables of the
 * XMail manual (SMTPGW.TAB, SMTPFWD.TAB, DefaultSMTPGateways, SMTP
 * GATEWAY CONFIGURATION options, SmtpGwConfig) and the client credentials
 * of userauth/smtp/ (SMTP CLIENT AUTHENTICATION).
 *
 * Order (first match wins):
 *  1. smtpgw.tab "domain-pattern"<TAB>"@gw1[,@gw2...]": connect to gw1;
 *     with more than one gateway the recipient is source-routed through
 *     the rest (RCPT TO:<@gw2,...:user@domain>, manual "MAIL ROUTING
 *     THROUGH ADDRESSES").  A gateway may carry ":port".
 *  2. smtpfwd.tab "domain-pattern"<TAB>"host[:port][,opt...];host...":
 *     the listed relays in order, or in random order when the list starts
 *     with '#'.
 *  3. server.tab DefaultSMTPGateways, the same list syntax.
 *  4. DNS MX records of the domain (SMTPC_ROUTE_MX): the caller resolves.
 * Domain patterns are matched without case with the shell wildcards of
 * core/match.h ("*.dummy.net"); the first matching line wins.
 *
 * Options (comma-separated after a host, "VAR=VAL" or a flag): NeedTLS=0|1|2,
 * OutBind=<ip address>, and the postroom extensions LMTP (speak RFC 2033
 * to this hop) and Port=<n> (same as ":n").  server.tab SmtpGwConfig holds
 * options for every hop; a hop's own options override them.  Unknown
 * options are ignored with a warning, as XMail ignores them.  Without any
 * configured NeedTLS the default is 1 (opportunistic STARTTLS; XMail sent
 * in clear text).
 */
#ifndef POSTROOM_SMTPC_SMTPC_ROUTE_H
#define POSTROOM_SMTPC_SMTPC_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/compat.h"
#include "smtpc/smtpc.h"

struct config;

#define SMTPC_ROUTE_HOPS_MAX	16
#define SMTPC_ROUTE_HOST_MAX	255
#define SMTPC_SRCROUTE_MAX	512

/* Options of one hop (SMTP GATEWAY CONFIGURATION). */
struct smtpc_hopopts {
	int			 need_tls;	/* 0, 1, 2 */
	bool			 lmtp;
	bool			 has_bind;
	struct sockaddr_storage	 bind;		/* OutBind, port 0 */
	socklen_t		 bindlen;
};

/* One next hop. */
struct smtpc_hop {
	char			 host[SMTPC_ROUTE_HOST_MAX + 1]; /* name or
						   literal, no brackets */
	int			 port;		/* 0: the default port */
	struct smtpc_hopopts	 opts;
};

enum smtpc_route_kind {
	SMTPC_ROUTE_MX,		/* look up the domain's MX records */
	SMTPC_ROUTE_HOSTS,	/* connect to hops[] in this order */
};

struct smtpc_route {
	enum smtpc_route_kind	 kind;
	const char		*source;	/* "smtpgw.tab", "smtpfwd.tab",
						   "DefaultSMTPGateways" or
						   "MX", for logs */
	struct smtpc_hop	 hops[SMTPC_ROUTE_HOPS_MAX];
	size_t			 nhops;		/* HOSTS: 1.. */
	struct smtpc_hopopts	 mx_opts;	/* MX: SmtpGwConfig options */
	char			 srcroute[SMTPC_SRCROUTE_MAX]; /* "" or
						   "@gw2,@gw3" (smtpgw.tab) */
};

/*
 * smtpc_route_find - the route for `domain` in snapshot cfg (pure; the
 * '#' shuffle uses random()).  Returns 0, or -1 when a matching line or
 * DefaultSMTPGateways cannot be parsed (err says why: the mail must
 * wait, not go elsewhere).
 */
int	smtpc_route_find(const struct config *cfg, const char *domain,
	    struct smtpc_route *rt, char *err, size_t errlen)
	    WARN_UNUSED_RESULT;

/*
 * smtpc_route_mx - the MX route whatever the tables say (backup-MX
 * forwarding goes to the domain's own MX hosts, never to a smarthost),
 * with the SmtpGwConfig options.  Returns 0, or -1 with err when
 * SmtpGwConfig cannot be parsed.
 */
int	smtpc_route_mx(const struct config *cfg, struct smtpc_route *rt,
	    char *err, size_t errlen) WARN_UNUSED_RESULT;

/*
 * smtpc_hoplist_parse - parse "host[:port][,opt...];..." (a leading '#'
 * shuffles) into hops, starting from `base` options for each.  Returns
 * the number of hops (1..max), or -1 with err (empty list, bad port,
 * bad NeedTLS value, bad OutBind address, host not a valid name or
 * address).  "[1.2.3.4]" and "[IPv6:...]" literals are accepted.
 */
int	smtpc_hoplist_parse(const char *list, const struct smtpc_hopopts *base,
	    struct smtpc_hop *hops, size_t max, char *err, size_t errlen)
	    WARN_UNUSED_RESULT;

/*
 * smtpc_hopopts_parse - apply "opt,opt=val,..." to *o (SmtpGwConfig and
 * the part after a host).  Returns 0 or -1 with err.
 */
int	smtpc_hopopts_parse(const char *opts, struct smtpc_hopopts *o,
	    char *err, size_t errlen) WARN_UNUSED_RESULT;

/*
 * smtpc_auth_find - credentials for `host` from
 * MailRoot/userauth/smtp/<host>.tab, then the files of its parent
 * domains ("mail.foo.net" -> "foo.net" -> "net"), names in lower case.
 * The first valid line of the first file found counts: "PLAIN"|"LOGIN"|
 * "CRAM-MD5"<TAB>"user"<TAB>"password".  Host names with '/' or a
 * leading '.' are never looked up.  Blocking (file reads): worker threads
 * only.  Returns 1 and *a, 0 when no file applies, -1 when the file
 * found is unreadable or malformed (logged; the caller should defer
 * rather than send without the configured AUTH).
 */
int	smtpc_auth_find(const char *mailroot, const char *host,
	    struct smtpc_auth *a) WARN_UNUSED_RESULT;

#endif
