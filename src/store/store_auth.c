/*
 * store_auth.c - SMTP AUTH and POP3 login checks, external authentication
 * programs and POP3-before-SMTP (see store_auth.h).
 *
 * Clear secrets (decoded XMCrypt passwords, macro-expanded program
 * arguments that may hold a password) live in buffers that are wiped
 * before they are freed.  Nothing here logs a password or a digest.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/macro.h"
#include "core/passwd.h"
#include "core/spawn.h"
#include "core/tab.h"
#include "store/store.h"
#include "store/store_auth.h"

#define AUTH_MD5_LEN		16	/* MD5 and HMAC-MD5 output bytes */
#define AUTH_MD5_HEX		(2 * AUTH_MD5_LEN)
#define AUTH_SECRET_MAX		4096	/* decoded password */
#define AUTH_ARG_MAX		65536	/* one expanded program argument */
#define AUTH_RFILE_MAX		65536	/* smtpextauth response file */
#define AUTH_IPCONN_MAX		128	/* .ipconn content */
#define AUTH_DEFAULT_PERMS	"MR"	/* DefaultSmtpPerms when unset */

/* The permission letters, in the order store_perms_format writes them. */
static const struct {
	char		letter;
	unsigned	bit;
} auth_perm_letters[] = {
	{ 'M', STORE_PERM_MAIL },
	{ 'R', STORE_PERM_RELAY },
	{ 'V', STORE_PERM_VRFY },
	{ 'T', STORE_PERM_ETRN },
	{ 'Z', STORE_PERM_NOSIZE },
	{ 'S', STORE_PERM_EASETLS },
};

/* store_perms_parse - bits of a letter string */
unsigned
store_perms_parse(const char *letters)
{
	unsigned perms = 0;
	size_t i;

	if (letters == NULL)
		return 0;
	/* Upper-case letters only, as XMail; anything else is ignored. */
	for (; *letters != '\0'; letters++)
		for (i = 0; i < nitems(auth_perm_letters); i++)
			if (*letters == auth_perm_letters[i].letter)
				perms |= auth_perm_letters[i].bit;
	return perms;
}

/* store_perms_format - letters of the bits */
void
store_perms_format(unsigned perms, char *out, size_t size)
{
	size_t i, n = 0;

	if (size == 0)
		return;
	for (i = 0; i < nitems(auth_perm_letters) && n + 1 < size; i++)
		if (perms & auth_perm_letters[i].bit)
			out[n++] = auth_perm_letters[i].letter;
	out[n] = '\0';
}

/* login_clear - empty both outputs of store_login_split */
static int
login_clear(char *name, size_t name_size, char *domain, size_t domain_size)
{
	if (name_size > 0)
		name[0] = '\0';
	if (domain_size > 0)
		domain[0] = '\0';
	return -1;
}

/* store_login_split - name and domain of a login */
int
store_login_split(const char *login, const char *default_domain,
    char *name, size_t name_size, char *domain, size_t domain_size)
{
	size_t n;
	const char *dom;

	if (login == NULL)
		return login_clear(name, name_size, domain, domain_size);
	n = strcspn(login, "@:%");
	dom = login[n] != '\0' ? login + n + 1 : default_domain;
	if (dom == NULL || *dom == '\0' || n >= name_size)
		return login_clear(name, name_size, domain, domain_size);
	memcpy(name, login, n);
	name[n] = '\0';
	if (!str_copy(domain, dom, domain_size) ||
	    !store_name_ok(name, false) || !store_domain_ok(domain, false))
		return login_clear(name, name_size, domain, domain_size);
	return 0;
}

/* store_account_find - mailusers.tab account, no aliases.tab */
int
store_account_find(const struct config *cfg, const char *name,
    const char *domain, struct store_user *u, const char **secret)
{
	const char *real = store_domain_resolve(cfg, domain);
	const struct tab_rec *r;

	/* An unhandled domain is looked up as given, as XMail does. */
	r = store_user_record(cfg, name, real != NULL ? real : domain, u);
	if (r == NULL)
		return -1;
	if (secret != NULL)
		*secret = r->f[2];
	return 0;
}

/* hex_lower - lower-case hex of n bytes into out (2n + 1 bytes) */
static void
hex_lower(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* md5_hex_equal - client hex (any case) equals the digest, constant time */
static bool
md5_hex_equal(const unsigned char *md, const char *client)
{
	char want[AUTH_MD5_HEX + 1], got[AUTH_MD5_HEX + 1];
	size_t i;
	bool ok;

	/* Only the length may leak, never where the digits differ. */
	if (strlen(client) != AUTH_MD5_HEX)
		return false;
	for (i = 0; i < AUTH_MD5_HEX; i++)
		got[i] = (char)tolower((unsigned char)client[i]);
	got[AUTH_MD5_HEX] = '\0';
	hex_lower(md, AUTH_MD5_LEN, want);
	ok = CRYPTO_memcmp(want, got, AUTH_MD5_HEX) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}

/* store_cram_md5_ok - RFC 2195: hex(HMAC-MD5(secret, challenge)) */
bool
store_cram_md5_ok(const char *secret, const char *chall, const char *hex)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t len = 0;
	bool ok;

	if (secret == NULL || chall == NULL || hex == NULL)
		return false;
	if (EVP_Q_mac(NULL, "HMAC", NULL, "MD5", NULL, secret,
	    strlen(secret), (const unsigned char *)chall, strlen(chall), mac,
	    sizeof(mac), &len) == NULL || len != AUTH_MD5_LEN)
		return false;
	ok = md5_hex_equal(mac, hex);
	OPENSSL_cleanse(mac, sizeof(mac));
	return ok;
}

/* store_apop_ok - RFC 1939 section 7: hex(MD5(timestamp secret)) */
bool
store_apop_ok(const char *secret, const char *ts, const char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_MD_CTX *ctx;
	bool ok = false;

	if (secret == NULL || ts == NULL || hex == NULL)
		return false;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return false;
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, ts, strlen(ts)) == 1 &&
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &len) == 1 && len == AUTH_MD5_LEN)
		ok = md5_hex_equal(md, hex);
	EVP_MD_CTX_free(ctx);
	OPENSSL_cleanse(md, sizeof(md));
	return ok;
}

/* secret_wipe - wipe and free a buffer that held a clear secret */
static void
secret_wipe(struct buf *b)
{
	if (b->cap > 0)
		OPENSSL_cleanse(b->data, b->cap);
	buf_clear(b);
}

/* xmcrypt_cram_ok - CRAM-MD5 keyed with a decoded XMCrypt secret */
static bool
xmcrypt_cram_ok(const char *stored, const char *chall, const char *hex)
{
	struct buf clear;
	bool ok;

	buf_init(&clear, AUTH_SECRET_MAX);
	ok = xmcrypt_decode(stored, &clear) == 0 &&
	    store_cram_md5_ok(clear.data, chall, hex);
	secret_wipe(&clear);
	return ok;
}

/* xmcrypt_apop_ok - APOP with a decoded XMCrypt secret */
static bool
xmcrypt_apop_ok(const char *stored, const char *ts, const char *hex)
{
	struct buf clear;
	bool ok;

	buf_init(&clear, AUTH_SECRET_MAX);
	ok = xmcrypt_decode(stored, &clear) == 0 &&
	    store_apop_ok(clear.data, ts, hex);
	secret_wipe(&clear);
	return ok;
}

/* clear_equal - constant-time equality of two clear passwords */
static bool
clear_equal(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

/* default_perms - server.tab DefaultSmtpPerms, else "MR" */
static unsigned
default_perms(const struct config *cfg)
{
	const char *v = config_var(cfg, "DefaultSmtpPerms");

	return store_perms_parse(v != NULL ? v : AUTH_DEFAULT_PERMS);
}

/* ext_status - outcome of an external authentication program */
static enum store_auth_result
ext_status(const char *prog, enum spawn_status st, int code,
    const char **why)
{
	switch (st) {
	case SPAWN_EXITED:
		*why = "refused by external program";
		return code == 0 ? STORE_AUTH_OK : STORE_AUTH_FAIL;
	case SPAWN_SIGNALED:
		*why = "external program killed";
		break;
	case SPAWN_TIMEOUT:
		*why = "external program timed out";
		break;
	case SPAWN_FAILED:
		*why = "external program did not run";
		log_warn("authentication program %s: %s", prog,
		    strerror(code));
		break;
	default:
		fatalx("%s: bad spawn status %d", __func__, (int)st);
	}
	return STORE_AUTH_TEMPFAIL;
}

/*
 * ext_run - run record r as "tag" "program" "arg"...: arguments from
 * field 2 on are macro-expanded with `vars`; exit status 0 = OK
 */
static enum store_auth_result
ext_run(const struct tab_rec *r, struct macro_var *vars, int timeout,
    const char **why)
{
	char *argv[TAB_FIELDS_MAX + 1];
	struct spawn_opts opts = { .timeout = timeout };
	enum store_auth_result res = STORE_AUTH_TEMPFAIL;
	enum spawn_status st;
	struct buf arg;
	size_t i, n = 1;
	int code = 0;

	argv[0] = r->f[1];
	for (i = 2; i < r->n && i < TAB_FIELDS_MAX; i++) {
		buf_init(&arg, AUTH_ARG_MAX);
		if (macro_expand(&arg, r->f[i], macro_table_lookup,
		    vars) == -1) {
			secret_wipe(&arg);
			*why = "program argument too long";
			goto out;
		}
		argv[n++] = buf_take(&arg);
	}
	argv[n] = NULL;
	st = spawn_run(argv, &opts, &code);
	res = ext_status(argv[0], st, code, why);
out:
	for (i = 1; i < n; i++) {
		OPENSSL_cleanse(argv[i], strlen(argv[i]));
		free(argv[i]);
	}
	return res;
}

/* rfile_create - a fresh empty private temporary file; 0 or -1 */
static int
rfile_create(char *path, size_t size)
{
	const char *dir = secure_getenv("TMPDIR");
	int fd, n;

	if (dir == NULL || dir[0] != '/')
		dir = "/tmp";
	n = snprintf(path, size, "%s/postroom-auth.XXXXXX", dir);
	if (n < 0 || (size_t)n >= size)
		return -1;
	if ((fd = mkostemp(path, O_CLOEXEC)) == -1) {
		log_warn("cannot create a response file in %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	(void)close(fd);
	return 0;
}

/* rfile_perms - the first "Perms=" line of a response file */
static bool
rfile_perms(const char *path, unsigned *perms)
{
	struct buf b;
	char *line, *save = NULL;
	bool found = false;
	size_t n;

	buf_init(&b, AUTH_RFILE_MAX);
	if (fs_read_file(path, &b) == -1 || b.len == 0) {
		buf_clear(&b);
		return false;
	}
	for (line = strtok_r(b.data, "\n", &save); line != NULL && !found;
	    line = strtok_r(NULL, "\n", &save)) {
		n = strlen(line);
		while (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (strncasecmp(line, "Perms=", 6) == 0) {
			*perms = store_perms_parse(line + 6);
			found = true;
		}
	}
	secret_wipe(&b);
	return found;
}

/* canon_set - copy the canonical name; false when it does not fit */
static bool
canon_set(char *canon, size_t size, const char *name, const char *domain)
{
	int n;

	if (domain == NULL)
		return str_copy(canon, name, size);
	n = snprintf(canon, size, "%s@%s", name, domain);
	return n >= 0 && (size_t)n < size;
}

/* smtp_ext_row - first smtpextauth.tab row for the mechanism */
static const struct tab_rec *
smtp_ext_row(const struct config *cfg, const char *mech)
{
	const struct tab *t = config_tab(cfg, CFG_SMTPEXTAUTH);
	size_t i;

	for (i = 0; i < t->nrecs; i++)
		if (t->recs[i].n >= 2 &&
		    strcasecmp(t->recs[i].f[0], mech) == 0)
			return &t->recs[i];
	return NULL;
}

/* smtp_ext_auth - smtpextauth.tab program decides */
static enum store_auth_result
smtp_ext_auth(const struct config *cfg, const struct store_smtp_auth *a,
    int timeout, unsigned *perms, char *canon, size_t canon_size,
    const char **why)
{
	const struct tab_rec *r = smtp_ext_row(cfg, a->mech);
	const char *user = a->user != NULL ? a->user : "";
	enum store_auth_result res;
	char rfile[4096];
	struct macro_var vars[] = {
		{ "AUTH", r != NULL ? r->f[0] : a->mech },
		{ "USER", user },
		{ "PASS", a->pass != NULL ? a->pass : "" },
		{ "CHALL", a->chall != NULL ? a->chall : "" },
		{ "DGEST", a->digest != NULL ? a->digest : "" },
		{ "RFILE", rfile },
		{ NULL, NULL },
	};

	if (r == NULL) {
		*why = "mechanism not in smtpextauth.tab";
		return STORE_AUTH_FAIL;
	}
	if (rfile_create(rfile, sizeof(rfile)) == -1) {
		*why = "no response file";
		return STORE_AUTH_TEMPFAIL;
	}
	res = ext_run(r, vars, timeout, why);
	if (res == STORE_AUTH_OK) {
		if (!rfile_perms(rfile, perms))
			*perms = default_perms(cfg);
		if (!canon_set(canon, canon_size, user, NULL)) {
			*why = "user name too long";
			res = STORE_AUTH_FAIL;
		}
	}
	if (unlink(rfile) == -1 && errno != ENOENT)
		log_warn("cannot remove %s: %s", rfile, strerror(errno));
	return res;
}

/* is_cram - the mechanism is CRAM-MD5 */
static bool
is_cram(const struct store_smtp_auth *a)
{
	return strcasecmp(a->mech, "CRAM-MD5") == 0;
}

/*
 * smtp_secret_ok - check the client's answer against a stored secret:
 * a crypt(3) hash (never CRAM-MD5), else XMCrypt (`xmcrypt`) or clear text
 */
static bool
smtp_secret_ok(const struct store_smtp_auth *a, const char *stored,
    bool xmcrypt, const char **why)
{
	bool ok;

	if (is_cram(a)) {
		if (passwd_is_hash(stored)) {
			*why = "CRAM-MD5 with a hashed password";
			return false;
		}
		ok = xmcrypt ? xmcrypt_cram_ok(stored, a->chall, a->digest) :
		    store_cram_md5_ok(stored, a->chall, a->digest);
	} else if (a->pass == NULL)
		ok = false;
	else if (xmcrypt || passwd_is_hash(stored))
		ok = passwd_verify(a->pass, stored);
	else
		ok = clear_equal(a->pass, stored);
	if (!ok)
		*why = "bad password";
	return ok;
}

/* smtp_user_perms - user.tab SmtpPerms, else the default */
static int
smtp_user_perms(const struct config *cfg, const struct store_user *u,
    unsigned *perms)
{
	struct tab vars = { 0 };
	const char *v;

	if (store_user_vars_load(config_mailroot(cfg), u, &vars) == -1)
		return -1;
	v = store_var(&vars, "SmtpPerms");
	*perms = v != NULL ? store_perms_parse(v) : default_perms(cfg);
	tab_free(&vars);
	return 0;
}

/* smtp_mailusers_auth - an account of mailusers.tab */
static enum store_auth_result
smtp_mailusers_auth(const struct config *cfg, const struct store_smtp_auth *a,
    unsigned *perms, char *canon, size_t canon_size, const char **why)
{
	char name[STORE_NAME_MAX + 1], domain[STORE_DOMAIN_MAX + 1];
	struct store_user u;
	const char *secret;

	*why = "no such user";
	if (store_login_split(a->user, NULL, name, sizeof(name), domain,
	    sizeof(domain)) == -1 ||
	    store_account_find(cfg, name, domain, &u, &secret) == -1 ||
	    u.type != 'U')
		return STORE_AUTH_FAIL;
	if (!smtp_secret_ok(a, secret, true, why))
		return STORE_AUTH_FAIL;
	if (smtp_user_perms(cfg, &u, perms) == -1) {
		*why = "user.tab unreadable";
		return STORE_AUTH_TEMPFAIL;
	}
	if (!canon_set(canon, canon_size, u.name, u.domain)) {
		*why = "user name too long";
		return STORE_AUTH_FAIL;
	}
	return STORE_AUTH_OK;
}

/* smtp_tab_auth - a row of smtpauth.tab */
static enum store_auth_result
smtp_tab_auth(const struct config *cfg, const struct store_smtp_auth *a,
    unsigned *perms, char *canon, size_t canon_size, const char **why)
{
	const struct tab *t = config_tab(cfg, CFG_SMTPAUTH);
	const struct tab_rec *r = NULL;
	size_t i;

	for (i = 0; i < t->nrecs && r == NULL; i++)
		if (t->recs[i].n >= 3 && strcmp(t->recs[i].f[0], a->user) == 0)
			r = &t->recs[i];
	/* No row: keep the reason the mailusers.tab lookup gave. */
	if (r == NULL)
		return STORE_AUTH_FAIL;
	if (!smtp_secret_ok(a, r->f[1], false, why))
		return STORE_AUTH_FAIL;
	if (!canon_set(canon, canon_size, a->user, NULL)) {
		*why = "user name too long";
		return STORE_AUTH_FAIL;
	}
	*perms = store_perms_parse(r->f[2]);
	return STORE_AUTH_OK;
}

/* smtp_builtin_auth - PLAIN, LOGIN, CRAM-MD5 against the two tables */
static enum store_auth_result
smtp_builtin_auth(const struct config *cfg, const struct store_smtp_auth *a,
    unsigned *perms, char *canon, size_t canon_size, const char **why)
{
	enum store_auth_result res;

	if (strcasecmp(a->mech, "PLAIN") != 0 &&
	    strcasecmp(a->mech, "LOGIN") != 0 && !is_cram(a)) {
		*why = "unknown mechanism";
		return STORE_AUTH_FAIL;
	}
	if (a->user == NULL || (is_cram(a) ? a->chall == NULL ||
	    a->digest == NULL : a->pass == NULL)) {
		*why = "incomplete credentials";
		return STORE_AUTH_FAIL;
	}
	res = smtp_mailusers_auth(cfg, a, perms, canon, canon_size, why);
	if (res == STORE_AUTH_FAIL)
		res = smtp_tab_auth(cfg, a, perms, canon, canon_size, why);
	return res;
}

/* store_smtp_auth - check SMTP AUTH credentials */
enum store_auth_result
store_smtp_auth(const struct config *cfg, const struct store_smtp_auth *a,
    int timeout, unsigned *perms, char *canon, size_t canon_size)
{
	enum store_auth_result res;
	const char *why = "no mechanism";
	unsigned p = 0;

	if (a->mech == NULL)
		res = STORE_AUTH_FAIL;
	else if (config_tab(cfg, CFG_SMTPEXTAUTH)->nrecs > 0)
		res = smtp_ext_auth(cfg, a, timeout, &p, canon, canon_size,
		    &why);
	else
		res = smtp_builtin_auth(cfg, a, &p, canon, canon_size, &why);
	if (res == STORE_AUTH_OK) {
		*perms = p;
		return res;
	}
	if (canon_size > 0)
		canon[0] = '\0';
	log_info("smtp auth failed user=\"%s\" mech=%s reason=\"%s\"%s",
	    a->user != NULL ? a->user : "", a->mech != NULL ? a->mech : "-",
	    why, res == STORE_AUTH_TEMPFAIL ? " (temporary)" : "");
	return res;
}

/* mech_ok - a SASL mechanism name (RFC 4422 section 3.1) */
static bool
mech_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 20)
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return false;
	return true;
}

/* mech_listed - name already in the space-separated list */
static bool
mech_listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while (*p != '\0') {
		size_t len = strcspn(p, " ");

		if (len == n && strncasecmp(p, name, n) == 0)
			return true;
		p += len;
		p += *p == ' ';
	}
	return false;
}

/* store_smtp_ext_mechs - auth-names of smtpextauth.tab */
void
store_smtp_ext_mechs(const struct config *cfg, char *out, size_t size)
{
	const struct tab *t = config_tab(cfg, CFG_SMTPEXTAUTH);
	size_t i, len = 0, n;

	if (size == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < t->nrecs; i++) {
		const char *name = t->recs[i].f[0];

		if (t->recs[i].n < 2 || !mech_ok(name) ||
		    mech_listed(out, name))
			continue;
		n = strlen(name);
		if (len + (len > 0) + n + 1 > size)
			break;
		if (len > 0)
			out[len++] = ' ';
		memcpy(out + len, name, n + 1);
		len += n;
	}
}

/* user_file - "<userdir>/<name>" of an account; 0 or -1 */
static int
user_file(const char *mailroot, const struct store_user *u, const char *name,
    char *out, size_t size)
{
	char dir[4096];

	if (store_user_path(mailroot, u, dir, sizeof(dir)) == -1)
		return -1;
	return fs_path(out, size, dir, name);
}

/* pop3_ipmap_ok - the account's own pop3.ipmap.tab; -1 unreadable */
static int
pop3_ipmap_ok(const char *mailroot, const struct store_user *u,
    const struct sockaddr *peer)
{
	struct tab t = { 0 };
	char path[4096];
	int ok;

	if (user_file(mailroot, u, "pop3.ipmap.tab", path, sizeof(path)) ==
	    -1 || tab_load(path, &t) == -1)
		return -1;
	/* Without an address, any rule at all means no. */
	if (peer == NULL)
		ok = t.nrecs == 0;
	else
		ok = config_ipmap_allow_tab(&t, peer);
	tab_free(&t);
	return ok;
}

/*
 * userauth_load - userauth/pop3/<domain>.tab, else userauth/pop3/.tab,
 * into t; *found false (and t empty) when neither exists
 */
static int
userauth_load(const char *mailroot, const char *domain, struct tab *t,
    bool *found)
{
	char name[STORE_DOMAIN_MAX + 32], path[4096];
	size_t i;
	int n;

	n = snprintf(name, sizeof(name), "userauth/pop3/%s.tab", domain);
	if (n < 0 || (size_t)n >= sizeof(name))
		return -1;
	for (i = 0; name[i] != '\0'; i++)
		name[i] = (char)tolower((unsigned char)name[i]);
	if (fs_path(path, sizeof(path), mailroot, name) == -1)
		return -1;
	if (!fs_exists(path) && fs_path(path, sizeof(path), mailroot,
	    "userauth/pop3/.tab") == -1)
		return -1;
	*found = fs_exists(path);
	return *found ? tab_load(path, t) : 0;
}

/*
 * pop3_ext_auth - external authentication through the "userauth" row of
 * userauth/pop3: its verdict, with *used true; *used false (the result
 * then means nothing) when no such row exists and the stored password
 * decides
 */
static enum store_auth_result
pop3_ext_auth(const char *mailroot, const struct store_pop3_login *l,
    const struct store_user *u, bool *used, const char **why)
{
	struct tab t = { 0 };
	const struct tab_rec *r;
	enum store_auth_result res;
	char path[4096];
	bool found = false;
	struct macro_var vars[] = {
		{ "USER", u->name },
		{ "DOMAIN", u->domain },
		{ "PASSWD", l->pass != NULL ? l->pass : "" },
		{ "PATH", path },
		{ NULL, NULL },
	};

	*used = false;
	if (userauth_load(mailroot, u->domain, &t, &found) == -1 ||
	    store_user_path(mailroot, u, path, sizeof(path)) == -1) {
		tab_free(&t);
		*why = "userauth table unreadable";
		*used = true;
		return STORE_AUTH_TEMPFAIL;
	}
	r = found ? tab_find(&t, 0, "userauth", 2) : NULL;
	if (r == NULL) {
		tab_free(&t);
		return STORE_AUTH_FAIL;
	}
	*used = true;
	if (l->pass == NULL) {
		*why = "APOP with external authentication";
		res = STORE_AUTH_FAIL;
	} else
		res = ext_run(r, vars, l->timeout, why);
	tab_free(&t);
	return res;
}

/* pop3_secret_ok - PASS or APOP against the stored secret */
static bool
pop3_secret_ok(const struct store_pop3_login *l, const char *secret,
    const char **why)
{
	if (l->pass != NULL) {
		*why = "bad password";
		return passwd_verify(l->pass, secret);
	}
	if (l->apop_ts == NULL || l->apop_digest == NULL) {
		*why = "no password";
		return false;
	}
	if (passwd_is_hash(secret)) {
		*why = "APOP with a hashed password";
		return false;
	}
	*why = "bad APOP digest";
	return xmcrypt_apop_ok(secret, l->apop_ts, l->apop_digest);
}

/* pop3_enabled - user.tab PopEnable (default 1); -1 unreadable */
static int
pop3_enabled(const char *mailroot, const struct store_user *u)
{
	struct tab vars = { 0 };
	const char *v;
	int on;

	if (store_user_vars_load(mailroot, u, &vars) == -1)
		return -1;
	v = store_var(&vars, "PopEnable");
	on = v == NULL || strtol(v, NULL, 10) != 0;
	tab_free(&vars);
	return on;
}

/* pop3_check - steps 1 to 4 of store_pop3_auth */
static enum store_auth_result
pop3_check(const struct config *cfg, const struct store_pop3_login *l,
    struct store_user *u, const char **why)
{
	const char *mailroot = config_mailroot(cfg), *secret;
	char name[STORE_NAME_MAX + 1], domain[STORE_DOMAIN_MAX + 1];
	enum store_auth_result res;
	bool used;
	int on;

	*why = "no such account";
	if (store_login_split(l->login, l->default_domain, name, sizeof(name),
	    domain, sizeof(domain)) == -1 ||
	    store_account_find(cfg, name, domain, u, &secret) == -1)
		return STORE_AUTH_FAIL;
	if (u->type != 'U') {
		*why = "mailing list";
		return STORE_AUTH_FAIL;
	}
	if ((on = pop3_enabled(mailroot, u)) != 1) {
		*why = on == 0 ? "PopEnable=0" : "user.tab unreadable";
		return on == 0 ? STORE_AUTH_FAIL : STORE_AUTH_TEMPFAIL;
	}
	if ((on = pop3_ipmap_ok(mailroot, u, l->peer)) != 1) {
		*why = on == 0 ? "pop3.ipmap.tab" :
		    "pop3.ipmap.tab unreadable";
		return on == 0 ? STORE_AUTH_FAIL : STORE_AUTH_TEMPFAIL;
	}
	res = pop3_ext_auth(mailroot, l, u, &used, why);
	if (used)
		return res;
	return pop3_secret_ok(l, secret, why) ? STORE_AUTH_OK :
	    STORE_AUTH_FAIL;
}

/* ipconn_write - record the client IP for POP3-before-SMTP */
static void
ipconn_write(const char *mailroot, const struct store_user *u,
    const char *ip)
{
	char path[4096];

	if (ip == NULL || *ip == '\0')
		return;
	/* XXX: a failure only disables POP3-before-SMTP; the login stands. */
	if (user_file(mailroot, u, ".ipconn", path, sizeof(path)) == -1 ||
	    fs_write_atomic(path, ip, strlen(ip), 0600) == -1)
		log_warn("cannot record .ipconn for %s@%s: %s", u->name,
		    u->domain, strerror(errno));
}

/* store_pop3_auth - check a POP3 login */
enum store_auth_result
store_pop3_auth(const struct config *cfg, const struct store_pop3_login *l,
    struct store_user *u, const char **why)
{
	enum store_auth_result res;
	const char *reason = "no such account";

	res = pop3_check(cfg, l, u, &reason);
	if (res == STORE_AUTH_OK) {
		reason = "ok";
		ipconn_write(config_mailroot(cfg), u, l->peer_ip);
	}
	if (why != NULL)
		*why = reason;
	return res;
}

/* sockaddr_len - length of an AF_INET/AF_INET6 address, 0 otherwise */
static socklen_t
sockaddr_len(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (sa->sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

/* pop3_domain_rdns - first handled suffix of the local address's name */
static bool
pop3_domain_rdns(const struct config *cfg, const struct sockaddr *local,
    char *out, size_t size)
{
	char host[NI_MAXHOST];
	const char *p, *dot;
	size_t n;

	if (local == NULL || sockaddr_len(local) == 0 ||
	    getnameinfo(local, sockaddr_len(local), host, sizeof(host), NULL,
	    0, NI_NAMEREQD) != 0)
		return false;
	n = strlen(host);
	if (n > 0 && host[n - 1] == '.')
		host[n - 1] = '\0';
	/* Manual "MISCELLANEOUS": a.b.c, then b.c, then c. */
	for (p = host; *p != '\0'; p = dot + 1) {
		if (store_domain_resolve(cfg, p) != NULL &&
		    str_copy(out, p, size))
			return true;
		if ((dot = strchr(p, '.')) == NULL)
			break;
	}
	return false;
}

/* store_pop3_domain - default domain for bare POP3 names */
void
store_pop3_domain(const struct config *cfg, const struct sockaddr *local,
    char *out, size_t size)
{
	const char *v = config_var(cfg, "POP3Domain");

	if (size == 0)
		return;
	if (v != NULL && *v != '\0' && str_copy(out, v, size))
		return;
	if (pop3_domain_rdns(cfg, local, out, size))
		return;
	v = config_var(cfg, "RootDomain");
	if (v == NULL || !str_copy(out, v, size))
		out[0] = '\0';
}

/* ipconn_read - content of .ipconn (trailing white space dropped) */
static int
ipconn_read(const char *path, char *ip, size_t size, time_t *mtime)
{
	struct stat st;
	ssize_t got;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (got = read(fd, ip, size - 1)) < 0) {
		(void)close(fd);
		return -1;
	}
	(void)close(fd);
	while (got > 0 && isspace((unsigned char)ip[got - 1]))
		got--;
	ip[got] = '\0';
	*mtime = st.st_mtime;
	return 0;
}

/* store_pop3_ipconn_valid - POP3-before-SMTP check */
bool
store_pop3_ipconn_valid(const char *mailroot, const struct store_user *u,
    const char *ip, int expire)
{
	char path[4096], got[AUTH_IPCONN_MAX];
	time_t mtime;

	if (ip == NULL || *ip == '\0' || expire <= 0 ||
	    user_file(mailroot, u, ".ipconn", path, sizeof(path)) == -1 ||
	    ipconn_read(path, got, sizeof(got), &mtime) == -1)
		return false;
	return strcasecmp(got, ip) == 0 &&
	    difftime(time(NULL), mtime) < (double)expire;
}
