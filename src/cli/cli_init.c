/*
 * cli_init.c - `postroom init DIR`: a complete MailRoot with safe defaults.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/passwd.h"
#include "core/tab.h"
#include "core/tls.h"
#include "store/store.h"

#define INIT_USERS_MAX	64
#define INIT_CERT_DAYS	3650

struct init_user {
	char	*name;
	char	*pass;
};

struct init {
	const char		*root;
	char			 domain[STORE_DOMAIN_MAX + 1];
	int			 split;
	bool			 maildir;
	struct init_user	 admin;
	struct init_user	 users[INIT_USERS_MAX];
	int			 nusers;
};

/* Directories of the manual's "MailRoot structure" (spool buckets aside). */
static const char *const init_dirs[] = {
	"bin", "cmdaliases", "tabindex", "dnscache/mx", "dnscache/ns",
	"custdomains", "filters", "logs", "pop3locks", "pop3linklocks",
	"pop3links", "spool/local", "spool/temp", "userauth/pop3",
	"userauth/smtp", "domains", "msgsync",
};

/* Per-bucket spool directories. */
static const char *const init_spool_dirs[] = {
	"mess", "rsnd", "info", "temp", "slog", "lock", "mprc", "froz",
};

/* Files created empty (or with a comment) when nothing else is said. */
static const char *const init_empty_files[] = {
	"aliasdomain.tab", "extaliases.tab", "pop3links.tab", "smtpgw.tab",
	"smtpfwd.tab", "smtpauth.tab", "smtpextauth.tab", "spammers.tab",
	"spam-address.tab", "filters.in.tab", "filters.out.tab",
	"filters.post-rcpt.tab", "filters.pre-data.tab",
	"filters.post-data.tab", "smtp.ipprop.tab", "smtp.hnprop.tab",
};

static const char init_ipmap[] =
    "# Who may connect: \"ip\"<TAB>\"netmask\"<TAB>\"ALLOW|DENY\"<TAB>"
    "precedence\n"
    "# (or \"ip/bits\" in the first field).  The matching line with the\n"
    "# highest precedence wins; no match means ALLOW.\n"
    "\"0.0.0.0\"\t\"0.0.0.0\"\t\"ALLOW\"\t1\n"
    "\"::/0\"\t\"\"\t\"ALLOW\"\t1\n";

static const char init_relay[] =
    "# Clients that may relay mail to any domain without authenticating:\n"
    "# \"ip\"<TAB>\"netmask\" or \"ip/bits\".  Only this machine by default;\n"
    "# XMail trusted every private network, which is an open relay on\n"
    "# shared networks.\n"
    "\"127.0.0.0\"\t\"255.0.0.0\"\n"
    "\"::1/128\"\n";

static const char init_userdef[] =
    "# Variables copied into the user.tab of every new account.\n"
    "\"RealName\"\t\"??\"\n"
    "\"HomePage\"\t\"??\"\n"
    "\"Address\"\t\"??\"\n"
    "\"Telephone\"\t\"??\"\n"
    "\"MaxMBSize\"\t\"10000\"\n"
    "\"SmtpPerms\"\t\"MR\"\n"
    "\"ReceiveEnable\"\t\"1\"\n"
    "\"PopEnable\"\t\"1\"\n";

static const char init_dnsroots[] =
    "a.root-servers.net\nb.root-servers.net\nc.root-servers.net\n"
    "d.root-servers.net\ne.root-servers.net\nf.root-servers.net\n"
    "g.root-servers.net\nh.root-servers.net\ni.root-servers.net\n"
    "j.root-servers.net\nk.root-servers.net\nl.root-servers.net\n"
    "m.root-servers.net\n";

static const char init_server_tab_tail[] =
    "\n"
    "# Error replies: a message appended to every SMTP error reply.\n"
    "#\"CustomSMTPMessage\"\t\"Please contact postmaster@example.com\"\n"
    "\n"
    "# Largest message accepted, in KB (0 = no limit).\n"
    "\"MaxMessageSize\"\t\"20480\"\n"
    "\n"
    "# Accept MAIL FROM:<> (bounces).  Turning this off breaks RFC 5321.\n"
    "\"AllowNullSender\"\t\"1\"\n"
    "\n"
    "# Most Received: + X-Deliver-To: headers before a message is treated\n"
    "# as looping.\n"
    "\"MaxMTAOps\"\t\"16\"\n"
    "\n"
    "# Received: header style: 0 standard, 1 verbose, 2 strict (no IP),\n"
    "# 3/4 like 0/1 but hiding the client of authenticated sessions.\n"
    "\"ReceivedHdrType\"\t\"0\"\n"
    "\n"
    "# Headers searched for recipients by sendmail -t and PSYNC.\n"
    "\"FetchHdrTags\"\t\"+X-Deliver-To,+Received,To,Cc\"\n"
    "\n"
    "# Permissions of authenticated SMTP users that have no SmtpPerms in\n"
    "# their user.tab: M mail, R relay, V VRFY, T ETRN, Z no size limit,\n"
    "# S may skip the TLS requirement.\n"
    "\"DefaultSmtpPerms\"\t\"MR\"\n"
    "\n"
    "# Keep (0) or delete (1) messages that failed permanently; kept ones\n"
    "# are frozen and can be inspected with the CTRL froz* commands.\n"
    "\"RemoveSpoolErrors\"\t\"0\"\n"
    "\n"
    "# Never write POP3 passwords to the log.\n"
    "\"Pop3LogPasswd\"\t\"0\"\n"
    "\n"
    "# SMTP authentication mechanisms allowed before STARTTLS (empty: none,\n"
    "# so passwords never cross the network in clear).\n"
    "#\"SmtpNoTLSAuths\"\t\"CRAM-MD5\"\n"
    "\n"
    "# Relay every outgoing message through these hosts instead of MX\n"
    "# lookups: \"host[:port][,options];host...\"\n"
    "#\"DefaultSMTPGateways\"\t\"smarthost.example.com:587,NeedTLS=2\"\n"
    "\n"
    "# Delivery-attempt numbers that send a delay notice to the sender.\n"
    "#\"NotifyTryPattern\"\t\"4,8,16\"\n"
    "\n"
    "# Who gets a copy of temporary / permanent failure notices.\n"
    "#\"TempErrorsAdmin\"\t\"postmaster@example.com\"\n"
    "\n"
    "# TLS for each service (1 on, 0 off).\n"
    "#\"EnableSMTP-TLS\"\t\"1\"\n"
    "#\"EnablePOP3-TLS\"\t\"1\"\n"
    "#\"EnableCTRL-TLS\"\t\"1\"\n"
    "\n"
    "# Opt-in checks that cost DNS lookups during SMTP sessions.\n"
    "#\"SMTP-RDNSCheck\"\t\"0\"\n"
    "#\"CheckMailerDomain\"\t\"0\"\n"
    "#\"CustMapsList\"\t\"zen.spamhaus.org.:1,\"\n"
    "\n"
    "# Close an SMTP session after this many error replies (0 = never).\n"
    "\"SMTP-MaxErrors\"\t\"20\"\n";

/* write_new - create a file that must not exist yet */
static int
write_new(const struct init *in, const char *name, const char *data,
    size_t len, mode_t mode)
{
	char path[4096];

	if (fs_path(path, sizeof(path), in->root, name) == -1 ||
	    fs_write_new(path, data, len, mode) == -1) {
		fprintf(stderr, "postroom init: %s/%s: %s\n", in->root, name,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* write_str - write_new for a C string */
static int
write_str(const struct init *in, const char *name, const char *text)
{
	return write_new(in, name, text, strlen(text), 0600);
}

/* make_dirs - the directory tree */
static int
make_dirs(const struct init *in)
{
	char path[4096];
	size_t i, k;
	int a, b, n;

	for (i = 0; i < nitems(init_dirs); i++)
		if (fs_path(path, sizeof(path), in->root, init_dirs[i]) ==
		    -1 || fs_mkdir_p(path, 0700) == -1)
			goto fail;
	for (a = 0; a < in->split; a++)
		for (b = 0; b < in->split; b++)
			for (k = 0; k < nitems(init_spool_dirs); k++) {
				n = snprintf(path, sizeof(path),
				    "%s/spool/%d/%d/%s", in->root, a, b,
				    init_spool_dirs[k]);
				if (n < 0 || (size_t)n >= sizeof(path) ||
				    fs_mkdir_p(path, 0700) == -1)
					goto fail;
			}
	return 0;
fail:
	fprintf(stderr, "postroom init: cannot create %s: %s\n", path,
	    strerror(errno));
	return -1;
}

/* add_rec - append one TAB record or fail */
static int
add_rec(struct buf *b, const char *const *f, size_t n, unsigned long bare)
{
	if (tab_format(b, f, n, bare) == -1) {
		fprintf(stderr, "postroom init: value cannot be stored in a"
		    " TAB file: %s\n", f[0]);
		return -1;
	}
	return 0;
}

/* server_tab - server.tab with the variables an administrator edits */
static int
server_tab(const struct init *in)
{
	struct buf b;
	char pm[STORE_ADDR_MAX + 16];
	const char *vars[][2] = {
		{ "RootDomain", in->domain },
		{ "SmtpServerDomain", in->domain },
		{ "POP3Domain", in->domain },
		{ "HeloDomain", in->domain },
		{ "PostMaster", pm },
		{ "ErrorsAdmin", pm },
	};
	size_t i;
	int r = -1;

	snprintf(pm, sizeof(pm), "postmaster@%s", in->domain);
	buf_init(&b, 1 << 20);
	if (buf_puts(&b,
	    "# server.tab - postroom (XMail 1.27 compatible) settings.\n"
	    "# Format: \"Variable\"<TAB>\"value\", one per line; names are\n"
	    "# case-sensitive; lines starting with # are comments.  The\n"
	    "# server notices changes within a second: no restart needed.\n"
	    "\n"
	    "# The main domain, used in greetings, bounces and HELO.\n") == -1)
		goto out;
	for (i = 0; i < nitems(vars); i++)
		if (add_rec(&b, vars[i], 2, 0) == -1)
			goto out;
	if (buf_puts(&b, init_server_tab_tail) == -1)
		goto out;
	r = write_new(in, "server.tab", b.data, b.len, 0600);
out:
	buf_clear(&b);
	return r;
}

/* accounts - mailusers.tab, aliases.tab and the account trees */
static int
accounts(const struct init *in)
{
	static const char *const vars[] = { "RealName", "??", "HomePage",
	    "??", "MaxMBSize", "10000", "SmtpPerms", "MR", "ReceiveEnable",
	    "1", "PopEnable", "1" };
	struct buf users, aliases, enc;
	char id[16];
	const char *f[6];
	int i, r = -1;

	buf_init(&users, 1 << 20);
	buf_init(&aliases, 1 << 20);
	buf_init(&enc, 1024);
	for (i = 0; i < in->nusers; i++) {
		buf_reset(&enc);
		if (xmcrypt_encode(in->users[i].pass, &enc) == -1)
			goto out;
		snprintf(id, sizeof(id), "%d", i + 1);
		f[0] = in->domain;
		f[1] = in->users[i].name;
		f[2] = enc.data;
		f[3] = id;
		f[4] = in->users[i].name;
		f[5] = "U";
		if (add_rec(&users, f, 6, 1ul << 3) == -1 ||
		    store_account_create(in->root, in->domain,
		    in->users[i].name, in->maildir, vars,
		    nitems(vars) / 2) == -1)
			goto out;
	}
	if (in->nusers > 0) {
		/* As XMail ships: postmaster and root reach the first user. */
		const char *pm[] = { in->domain, "postmaster",
		    in->users[0].name };
		const char *rt[] = { in->domain, "root", in->users[0].name };

		if (add_rec(&aliases, pm, 3, 0) == -1 ||
		    add_rec(&aliases, rt, 3, 0) == -1)
			goto out;
	}
	if (write_new(in, "mailusers.tab", users.data, users.len, 0600) ==
	    -1 ||
	    write_new(in, "aliases.tab", aliases.data, aliases.len, 0600) ==
	    -1)
		goto out;
	r = 0;
out:
	buf_clear(&users);
	buf_clear(&aliases);
	buf_clear(&enc);
	return r;
}

/* ctrl_accounts - ctrlaccounts.tab, empty unless --admin */
static int
ctrl_accounts(const struct init *in)
{
	struct buf b, enc;
	const char *f[2];
	int r = -1;

	buf_init(&b, 4096);
	buf_init(&enc, 1024);
	if (buf_puts(&b, "# CTRL administrators: \"user\"<TAB>\"XMCrypt "
	    "password\" (postroom passwd xmcrypt).\n") == -1)
		goto out;
	if (in->admin.name != NULL) {
		if (xmcrypt_encode(in->admin.pass, &enc) == -1)
			goto out;
		f[0] = in->admin.name;
		f[1] = enc.data;
		if (add_rec(&b, f, 2, 0) == -1)
			goto out;
	}
	r = write_new(in, "ctrlaccounts.tab", b.data, b.len, 0600);
out:
	buf_clear(&b);
	buf_clear(&enc);
	return r;
}

/* make_files - every file of the manual's list */
static int
make_files(const struct init *in)
{
	char dom[STORE_DOMAIN_MAX + 4], cert[4096], key[4096];
	static const char *const ipmaps[] = { "pop3.ipmap.tab",
	    "smtp.ipmap.tab", "ctrl.ipmap.tab", "finger.ipmap.tab" };
	size_t i;

	snprintf(dom, sizeof(dom), "\"%s\"\n", in->domain);
	if (server_tab(in) == -1 || accounts(in) == -1 ||
	    ctrl_accounts(in) == -1 ||
	    write_str(in, "domains.tab", dom) == -1 ||
	    write_str(in, "smtprelay.tab", init_relay) == -1 ||
	    write_str(in, "userdef.tab", init_userdef) == -1 ||
	    write_str(in, "dnsroots", init_dnsroots) == -1 ||
	    write_str(in, "message.id", "1\r\n") == -1)
		return -1;
	for (i = 0; i < nitems(ipmaps); i++)
		if (write_str(in, ipmaps[i], init_ipmap) == -1)
			return -1;
	for (i = 0; i < nitems(init_empty_files); i++)
		if (write_str(in, init_empty_files[i], "") == -1)
			return -1;
	if (store_domain_create(in->root, in->domain) == -1 ||
	    fs_path(cert, sizeof(cert), in->root, "server.cert") == -1 ||
	    fs_path(key, sizeof(key), in->root, "server.key") == -1 ||
	    tls_selfsigned_create(cert, key, in->domain, INIT_CERT_DAYS) == -1)
		return -1;
	return 0;
}

/* parse_user - "name:password" */
static int
parse_user(char *arg, struct init_user *u)
{
	char *colon = strchr(arg, ':');

	if (colon == NULL || colon == arg)
		return -1;
	*colon = '\0';
	u->name = arg;
	u->pass = colon + 1;
	if (!store_name_ok(u->name, false) || *u->pass == '\0' ||
	    !tab_value_ok(u->pass))
		return -1;
	return 0;
}

/* init_usage - help text */
static void
init_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: postroom init [options] DIR\n\n"
	    "Create a new MailRoot in DIR (which must not hold one).\n\n"
	    "  --domain NAME       main domain (default: this host's name)\n"
	    "  --user NAME:PASS    add an account in that domain"
	    " (repeatable);\n"
	    "                      postmaster and root become its aliases\n"
	    "  --admin NAME:PASS   add a CTRL administrator (none by"
	    " default)\n"
	    "  --split N           spool split level (default 23, as -Mx)\n"
	    "  --mailbox           mailbox/ delivery instead of Maildir\n");
}

/* init_parse - command line */
static int
init_parse(struct init *in, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "domain", required_argument, NULL, 'd' },
		{ "user", required_argument, NULL, 'u' },
		{ "admin", required_argument, NULL, 'a' },
		{ "split", required_argument, NULL, 's' },
		{ "mailbox", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	in->split = 23;
	in->maildir = true;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (!store_domain_ok(optarg, false) ||
			    !str_copy(in->domain, optarg, sizeof(in->domain)))
				return fprintf(stderr, "postroom init: bad"
				    " domain '%s'\n", optarg), -1;
			break;
		case 'u':
			if (in->nusers >= INIT_USERS_MAX ||
			    parse_user(optarg, &in->users[in->nusers]) == -1)
				return fprintf(stderr, "postroom init: --user"
				    " wants NAME:PASSWORD\n"), -1;
			in->nusers++;
			break;
		case 'a':
			if (parse_user(optarg, &in->admin) == -1)
				return fprintf(stderr, "postroom init: --admin"
				    " wants NAME:PASSWORD\n"), -1;
			break;
		case 's':
			in->split = atoi(optarg);
			if (in->split < 1 || in->split > 1000)
				return fprintf(stderr, "postroom init: --split"
				    " must be 1..1000\n"), -1;
			break;
		case 'm':
			in->maildir = false;
			break;
		case 'h':
			init_usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind != argc - 1)
		return init_usage(stderr), -1;
	in->root = argv[optind];
	return 0;
}

/* default_domain - the host name when --domain is not given */
static int
default_domain(struct init *in)
{
	char host[256];

	if (in->domain[0] != '\0')
		return 0;
	if (gethostname(host, sizeof(host)) == -1)
		return -1;
	host[sizeof(host) - 1] = '\0';
	if (!store_domain_ok(host, false) ||
	    !str_copy(in->domain, host, sizeof(in->domain))) {
		fprintf(stderr, "postroom init: host name '%s' is not a valid"
		    " domain; give --domain\n", host);
		return -1;
	}
	return 0;
}

/* root_free - DIR missing or an empty directory */
static int
root_free(const char *root)
{
	char path[4096];

	if (fs_path(path, sizeof(path), root, "server.tab") == -1)
		return -1;
	if (fs_exists(path) || (fs_exists(root) && !fs_is_dir(root))) {
		fprintf(stderr, "postroom init: %s already holds a MailRoot"
		    " (or is not a directory); nothing changed\n", root);
		return -1;
	}
	if (rmdir(root) == 0 || errno == ENOENT)
		return 0;
	fprintf(stderr, "postroom init: %s is not empty; nothing changed\n",
	    root);
	return -1;
}

/* cli_init_main - postroom init */
int
cli_init_main(int argc, char **argv)
{
	struct init in;

	memset(&in, 0, sizeof(in));
	log_init("postroom init", false, true, false);
	if (init_parse(&in, argc, argv) == -1)
		return 2;
	if (default_domain(&in) == -1 || root_free(in.root) == -1)
		return 1;
	if (fs_mkdir_p(in.root, 0700) == -1) {
		fprintf(stderr, "postroom init: %s: %s\n", in.root,
		    strerror(errno));
		return 1;
	}
	if (make_dirs(&in) == -1 || make_files(&in) == -1)
		return 1;
	printf("MailRoot created in %s for domain %s (%d account%s%s).\n",
	    in.root, in.domain, in.nusers, in.nusers == 1 ? "" : "s",
	    in.admin.name != NULL ? ", 1 CTRL administrator" : "");
	return 0;
}
