/*
 * test_store_auth.c - SMTP AUTH, POP3 logins, external authentication and
 * POP3-before-SMTP (store/store_auth.c) against a temporary MailRoot.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/match.h"
#include "core/passwd.h"
#include "store/store.h"
#include "store/store_auth.h"
#include "testutil.h"

/* RFC 2195 section 2 example. */
#define CRAM_CHALL	"<1896.697170952@postoffice.reston.mci.net>"
#define CRAM_SECRET	"tanstaaftanstaaf"
#define CRAM_DIGEST	"b913a602c7eda7a495b4e6e7334d3890"
/* RFC 1939 section 7 example. */
#define APOP_TS		"<1896.697170952@dbc.mtview.ca.us>"
#define APOP_SECRET	"tanstaaf"
#define APOP_DIGEST	"c4c9334bac560ecc979e58001b3e22fb"

/* put - write <state>/<name>, creating parent directories */
static void
put(void **state, const char *name, const char *text)
{
	char path[PATH_MAX], *slash;

	assert_int_equal(fs_path(path, sizeof(path), *state, name), 0);
	slash = strrchr(path, '/');
	*slash = '\0';
	assert_int_equal(fs_mkdir_p(path, 0700), 0);
	*slash = '/';
	assert_int_equal(fs_write_atomic(path, text, strlen(text), 0600), 0);
}

/* xmc - XMCrypt of a password into a static buffer */
static const char *
xmc(const char *plain)
{
	static char out[256];
	struct buf b;

	buf_init(&b, sizeof(out) - 1);
	assert_int_equal(xmcrypt_encode(plain, &b), 0);
	strcpy(out, b.data);
	buf_clear(&b);
	return out;
}

/* yes - a yescrypt hash of a password; caller frees */
static char *
yes(const char *plain)
{
	struct buf b;

	buf_init(&b, 512);
	assert_int_equal(passwd_hash(plain, PASSWD_YESCRYPT, &b), 0);
	return buf_take(&b);
}

/* user_row - append one mailusers.tab line */
static void
user_row(struct buf *b, const char *domain, const char *name,
    const char *secret, int id, char type)
{
	assert_int_equal(buf_printf(b, "\"%s\"\t\"%s\"\t\"%s\"\t%d\t\"%s\"\t"
	    "\"%c\"\n", domain, name, secret, id, name, type), 0);
}

/* account - create the account's directory with user.tab variables */
static void
account(void **state, const char *domain, const char *name,
    const char *const *vars, size_t nvars)
{
	assert_int_equal(store_account_create(*state, domain, name, true,
	    vars, nvars), 0);
}

/* mailroot - the fixture MailRoot */
static void
mailroot(void **state)
{
	static const char *const nopop[] = { "PopEnable", "0" };
	static const char *const perms[] = { "SmtpPerms", "MZ" };
	char *h = yes("hpass"), *h2 = yes("hpw");
	struct buf b;

	put(state, "domains.tab", "\"home.test\"\n\"other.test\"\n");
	put(state, "aliasdomain.tab", "\"alias.test\"\t\"home.test\"\n");
	put(state, "aliases.tab", "\"home.test\"\t\"bob\"\t\"alice\"\n");
	buf_init(&b, 1 << 16);
	user_row(&b, "home.test", "alice", xmc("secret"), 1, 'U');
	user_row(&b, "home.test", "hashed", h, 2, 'U');
	user_row(&b, "home.test", "list", xmc("secret"), 3, 'M');
	user_row(&b, "home.test", "tim", xmc(CRAM_SECRET), 4, 'U');
	user_row(&b, "home.test", "mrose", xmc(APOP_SECRET), 5, 'U');
	user_row(&b, "home.test", "nopop", xmc("secret"), 6, 'U');
	user_row(&b, "home.test", "fenced", xmc("secret"), 7, 'U');
	user_row(&b, "home.test", "perms", xmc("secret"), 8, 'U');
	user_row(&b, "other.test", "ext", xmc("stored"), 9, 'U');
	put(state, "mailusers.tab", b.data);
	buf_reset(&b);
	assert_int_equal(buf_printf(&b,
	    "\"relayer\"\t\"clearpw\"\t\"MRZ\"\n"
	    "\"hasher\"\t\"%s\"\t\"M\"\n"
	    "\"alice@home.test\"\t\"other\"\t\"MRV\"\n"
	    "\"short\"\t\"pw\"\n", h2), 0);
	put(state, "smtpauth.tab", b.data);
	buf_clear(&b);
	free(h);
	free(h2);
	account(state, "home.test", "alice", NULL, 0);
	account(state, "home.test", "hashed", NULL, 0);
	account(state, "home.test", "tim", NULL, 0);
	account(state, "home.test", "mrose", NULL, 0);
	account(state, "home.test", "nopop", nopop, 1);
	account(state, "home.test", "fenced", NULL, 0);
	account(state, "home.test", "perms", perms, 1);
	account(state, "other.test", "ext", NULL, 0);
	put(state, "domains/home.test/fenced/pop3.ipmap.tab",
	    "\"0.0.0.0\"\t\"0.0.0.0\"\t\"DENY\"\t\"1\"\n"
	    "\"10.0.0.0/8\"\t\"ALLOW\"\t\"2\"\n");
}

/* setup - fresh MailRoot and first snapshot */
static int
setup(void **state)
{
	log_init("test_store_auth", false, getenv("TEST_LOG") != NULL, false);
	if (tu_setup(state) == -1)
		return -1;
	mailroot(state);
	return config_init(*state);
}

/* teardown - drop the snapshot and the MailRoot */
static int
teardown(void **state)
{
	config_shutdown();
	return tu_teardown(state);
}

/* reload - new snapshot after a table was written */
static void
reload(void)
{
	assert_int_equal(config_reload("test"), 0);
}

/* addr - sockaddr of a numeric address in static storage (one per call) */
static const struct sockaddr *
addr(const char *ip, struct sockaddr_storage *ss)
{
	socklen_t len;

	assert_int_equal(ipaddr_parse(ip, 0, ss, &len), 0);
	return (const struct sockaddr *)ss;
}

/* hmac_hex - hex(HMAC-MD5(key, msg)) computed independently */
static void
hmac_hex(const char *key, const char *msg, char out[33])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t len = 0, i;

	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "MD5", NULL, key,
	    strlen(key), (const unsigned char *)msg, strlen(msg), mac,
	    sizeof(mac), &len));
	assert_int_equal(len, 16);
	for (i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* test_perms - letters to bits and back */
static void
test_perms(void **state)
{
	char out[16];
	unsigned bits;

	(void)state;
	assert_int_equal(store_perms_parse("MR"),
	    STORE_PERM_MAIL | STORE_PERM_RELAY);
	assert_int_equal(store_perms_parse("SZTVRM"), 0x3f);
	assert_int_equal(store_perms_parse(""), 0);
	assert_int_equal(store_perms_parse(NULL), 0);
	/* Upper case only, as XMail; unknown letters are ignored. */
	assert_int_equal(store_perms_parse("mr"), 0);
	assert_int_equal(store_perms_parse("MXZ"),
	    STORE_PERM_MAIL | STORE_PERM_NOSIZE);
	for (bits = 0; bits < 64; bits++) {
		store_perms_format(bits, out, sizeof(out));
		assert_int_equal(store_perms_parse(out), bits);
	}
	store_perms_format(0x3f, out, sizeof(out));
	assert_string_equal(out, "MRVTZS");
	store_perms_format(STORE_PERM_EASETLS | STORE_PERM_MAIL, out,
	    sizeof(out));
	assert_string_equal(out, "MS");
	store_perms_format(0x3f, out, 3);
	assert_string_equal(out, "MR");
	store_perms_format(0, out, sizeof(out));
	assert_string_equal(out, "");
}

/* test_login_split - the login forms and invalid names */
static void
test_login_split(void **state)
{
	static const struct {
		const char	*login, *def;
		int		 rc;
		const char	*name, *domain;
	} cases[] = {
		{ "alice@home.test", NULL, 0, "alice", "home.test" },
		{ "alice:home.test", NULL, 0, "alice", "home.test" },
		{ "alice%home.test", NULL, 0, "alice", "home.test" },
		{ "alice@home.test", "x.test", 0, "alice", "home.test" },
		{ "alice", "home.test", 0, "alice", "home.test" },
		{ "alice", NULL, -1, "", "" },
		{ "alice", "", -1, "", "" },
		{ "a:b@c.test", NULL, -1, "", "" },
		{ "a%b@c.test", NULL, -1, "", "" },
		{ "@home.test", NULL, -1, "", "" },
		{ "alice@", "home.test", -1, "", "" },
		{ "../x@home.test", NULL, -1, "", "" },
		{ "al ice@home.test", NULL, -1, "", "" },
		{ "alice@bad_domain", NULL, -1, "", "" },
		{ "alice@home..test", NULL, -1, "", "" },
		{ "alice", "bad domain", -1, "", "" },
		{ "", "home.test", -1, "", "" },
	};
	char name[STORE_NAME_MAX + 1], domain[STORE_DOMAIN_MAX + 1];
	char small[4];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		int rc = store_login_split(cases[i].login, cases[i].def, name,
		    sizeof(name), domain, sizeof(domain));

		if (rc != cases[i].rc)
			fail_msg("'%s': rc %d", cases[i].login, rc);
		assert_string_equal(name, cases[i].name);
		assert_string_equal(domain, cases[i].domain);
	}
	/* Too long for the caller's buffers. */
	assert_int_equal(store_login_split("alice@home.test", NULL, small,
	    sizeof(small), domain, sizeof(domain)), -1);
	assert_int_equal(store_login_split("al@home.test", NULL, name,
	    sizeof(name), small, sizeof(small)), -1);
}

/* test_vectors - RFC 2195 and RFC 1939 examples */
static void
test_vectors(void **state)
{
	(void)state;
	assert_true(store_cram_md5_ok(CRAM_SECRET, CRAM_CHALL, CRAM_DIGEST));
	assert_true(store_cram_md5_ok(CRAM_SECRET, CRAM_CHALL,
	    "B913A602C7EDA7A495B4E6E7334D3890"));
	assert_false(store_cram_md5_ok(CRAM_SECRET, CRAM_CHALL,
	    "b913a602c7eda7a495b4e6e7334d3891"));
	assert_false(store_cram_md5_ok("tanstaaf", CRAM_CHALL, CRAM_DIGEST));
	assert_false(store_cram_md5_ok(CRAM_SECRET, CRAM_CHALL,
	    "b913a602c7eda7a495b4e6e7334d389"));
	assert_false(store_cram_md5_ok(CRAM_SECRET, CRAM_CHALL, ""));
	assert_false(store_cram_md5_ok(NULL, CRAM_CHALL, CRAM_DIGEST));
	assert_true(store_apop_ok(APOP_SECRET, APOP_TS, APOP_DIGEST));
	assert_true(store_apop_ok(APOP_SECRET, APOP_TS,
	    "C4C9334BAC560ECC979E58001B3E22FB"));
	assert_false(store_apop_ok("tanstaaF", APOP_TS, APOP_DIGEST));
	assert_false(store_apop_ok(APOP_SECRET, "<1896.697170953@dbc>",
	    APOP_DIGEST));
	assert_false(store_apop_ok(APOP_SECRET, APOP_TS, APOP_DIGEST "0"));
	assert_false(store_apop_ok(APOP_SECRET, APOP_TS, NULL));
}

/* test_account_find - mailusers.tab only, alias domains mapped */
static void
test_account_find(void **state)
{
	struct config *cfg = config_acquire();
	struct store_user u;
	const char *secret = NULL;

	(void)state;
	assert_int_equal(store_account_find(cfg, "ALICE", "Home.Test", &u,
	    &secret), 0);
	assert_string_equal(u.name, "alice");
	assert_string_equal(u.domain, "home.test");
	assert_int_equal(u.type, 'U');
	assert_int_equal(u.id, 1);
	assert_string_equal(secret, xmc("secret"));
	assert_int_equal(store_account_find(cfg, "alice", "alias.test", &u,
	    NULL), 0);
	assert_string_equal(u.domain, "home.test");
	assert_int_equal(store_account_find(cfg, "list", "home.test", &u,
	    NULL), 0);
	assert_int_equal(u.type, 'M');
	/* aliases.tab maps bob to alice for mail, not for logins. */
	assert_int_equal(store_account_find(cfg, "bob", "home.test", &u,
	    NULL), -1);
	assert_int_equal(store_account_find(cfg, "alice", "other.test", &u,
	    NULL), -1);
	assert_int_equal(store_account_find(cfg, "ghost", "home.test", &u,
	    NULL), -1);
	config_release(cfg);
}

/* An SMTP AUTH case and its expected outcome. */
struct smtp_case {
	const char		*mech, *user, *pass, *chall, *digest;
	enum store_auth_result	 res;
	const char		*perms, *canon;
};

/* smtp_run - run SMTP AUTH cases against the current snapshot */
static void
smtp_run(const struct smtp_case *cases, size_t n)
{
	struct config *cfg = config_acquire();
	char canon[STORE_ADDR_MAX + 1], letters[8];
	size_t i;

	for (i = 0; i < n; i++) {
		const struct smtp_case *c = &cases[i];
		struct store_smtp_auth a = { c->mech, c->user, c->pass,
		    c->chall, c->digest };
		unsigned perms = 0xdead;
		enum store_auth_result res;

		res = store_smtp_auth(cfg, &a, 10, &perms, canon,
		    sizeof(canon));
		if (res != c->res)
			fail_msg("case %zu %s %s: result %d", i, c->mech,
			    c->user, (int)res);
		if (res != STORE_AUTH_OK) {
			assert_int_equal(perms, 0xdead);
			continue;
		}
		store_perms_format(perms, letters, sizeof(letters));
		assert_string_equal(letters, c->perms);
		assert_string_equal(canon, c->canon);
	}
	config_release(cfg);
}

/* test_smtp_mailusers - PLAIN, LOGIN, CRAM-MD5 against mailusers.tab */
static void
test_smtp_mailusers(void **state)
{
	char hdig[33];

	hmac_hex("hpass", CRAM_CHALL, hdig);
	const struct smtp_case cases[] = {
		{ "PLAIN", "alice@home.test", "secret", NULL, NULL,
		    STORE_AUTH_OK, "MR", "alice@home.test" },
		{ "plain", "Alice:HOME.TEST", "secret", NULL, NULL,
		    STORE_AUTH_OK, "MR", "alice@home.test" },
		{ "LOGIN", "alice%home.test", "secret", NULL, NULL,
		    STORE_AUTH_OK, "MR", "alice@home.test" },
		{ "LOGIN", "alice@alias.test", "secret", NULL, NULL,
		    STORE_AUTH_OK, "MR", "alice@home.test" },
		{ "PLAIN", "alice@home.test", "Secret", NULL, NULL,
		    STORE_AUTH_FAIL, NULL, NULL },
		{ "PLAIN", "alice", "secret", NULL, NULL,
		    STORE_AUTH_FAIL, NULL, NULL },
		{ "PLAIN", "list@home.test", "secret", NULL, NULL,
		    STORE_AUTH_FAIL, NULL, NULL },
		{ "PLAIN", "bob@home.test", "secret", NULL, NULL,
		    STORE_AUTH_FAIL, NULL, NULL },
		{ "PLAIN", "hashed@home.test", "hpass", NULL, NULL,
		    STORE_AUTH_OK, "MR", "hashed@home.test" },
		{ "PLAIN", "hashed@home.test", "hpasx", NULL, NULL,
		    STORE_AUTH_FAIL, NULL, NULL },
		{ "CRAM-MD5", "tim@home.test", NULL, CRAM_CHALL, CRAM_DIGEST,
		    STORE_AUTH_OK, "MR", "tim@home.test" },
		{ "cram-md5", "tim:home.test", NULL, CRAM_CHALL,
		    "B913A602C7EDA7A495B4E6E7334D3890", STORE_AUTH_OK, "MR",
		    "tim@home.test" },
		{ "CRAM-MD5", "tim@home.test", NULL, CRAM_CHALL,
		    "b913a602c7eda7a495b4e6e7334d3891", STORE_AUTH_FAIL,
		    NULL, NULL },
		{ "CRAM-MD5", "tim@home.test", NULL, "<other@chall>",
		    CRAM_DIGEST, STORE_AUTH_FAIL, NULL, NULL },
		/* A hash cannot key HMAC, even with the right password. */
		{ "CRAM-MD5", "hashed@home.test", NULL, CRAM_CHALL, hdig,
		    STORE_AUTH_FAIL, NULL, NULL },
		{ "CRAM-MD5", "tim@home.test", NULL, NULL, CRAM_DIGEST,
		    STORE_AUTH_FAIL, NULL, NULL },
		{ "PLAIN", "alice@home.test", NULL, NULL, NULL,
		    STORE_AUTH_FAIL, NULL, NULL },
		{ "XOAUTH2", "alice@home.test", "secret", NULL, NULL,
		    STORE_AUTH_FAIL, NULL, NULL },
		/* user.tab SmtpPerms wins over the default. */
		{ "PLAIN", "perms@home.test", "secret", NULL, NULL,
		    STORE_AUTH_OK, "MZ", "perms@home.test" },
	};

	(void)state;
	smtp_run(cases, nitems(cases));
}

/* test_smtp_default_perms - server.tab DefaultSmtpPerms */
static void
test_smtp_default_perms(void **state)
{
	static const struct smtp_case cases[] = {
		{ "PLAIN", "alice@home.test", "secret", NULL, NULL,
		    STORE_AUTH_OK, "MRVT", "alice@home.test" },
		{ "PLAIN", "perms@home.test", "secret", NULL, NULL,
		    STORE_AUTH_OK, "MZ", "perms@home.test" },
	};
	static const struct smtp_case empty[] = {
		{ "PLAIN", "alice@home.test", "secret", NULL, NULL,
		    STORE_AUTH_OK, "", "alice@home.test" },
	};

	put(state, "server.tab", "\"DefaultSmtpPerms\"\t\"TVRM\"\n");
	reload();
	smtp_run(cases, nitems(cases));
	/* Set but empty: no permissions at all (not the "MR" default). */
	put(state, "server.tab", "\"DefaultSmtpPerms\"\t\"\"\n");
	reload();
	smtp_run(empty, nitems(empty));
}

/* test_smtpauth_tab - the fallback table and its permissions */
static void
test_smtpauth_tab(void **state)
{
	char cdig[33], hdig[33];

	hmac_hex("clearpw", CRAM_CHALL, cdig);
	hmac_hex("hpw", CRAM_CHALL, hdig);
	const struct smtp_case cases[] = {
		{ "PLAIN", "relayer", "clearpw", NULL, NULL,
		    STORE_AUTH_OK, "MRZ", "relayer" },
		{ "LOGIN", "relayer", "clearpx", NULL, NULL,
		    STORE_AUTH_FAIL, NULL, NULL },
		{ "LOGIN", "relayer", "clearpw ", NULL, NULL,
		    STORE_AUTH_FAIL, NULL, NULL },
		/* The user name matches exactly, not case-insensitively. */
		{ "PLAIN", "Relayer", "clearpw", NULL, NULL,
		    STORE_AUTH_FAIL, NULL, NULL },
		{ "CRAM-MD5", "relayer", NULL, CRAM_CHALL, cdig,
		    STORE_AUTH_OK, "MRZ", "relayer" },
		{ "PLAIN", "hasher", "hpw", NULL, NULL,
		    STORE_AUTH_OK, "M", "hasher" },
		{ "PLAIN", "hasher", "hpx", NULL, NULL,
		    STORE_AUTH_FAIL, NULL, NULL },
		{ "CRAM-MD5", "hasher", NULL, CRAM_CHALL, hdig,
		    STORE_AUTH_FAIL, NULL, NULL },
		/* mailusers.tab refuses "other"; smtpauth.tab accepts it. */
		{ "PLAIN", "alice@home.test", "other", NULL, NULL,
		    STORE_AUTH_OK, "MRV", "alice@home.test" },
		{ "PLAIN", "alice@home.test", "secret", NULL, NULL,
		    STORE_AUTH_OK, "MR", "alice@home.test" },
		/* A row without the permissions field is not used. */
		{ "PLAIN", "short", "pw", NULL, NULL,
		    STORE_AUTH_FAIL, NULL, NULL },
	};

	(void)state;
	smtp_run(cases, nitems(cases));
}

/* ext_fixture - smtpextauth.tab, its script, and a new snapshot */
static void
ext_fixture(void **state)
{
	char tab[2 * PATH_MAX + 512], script[PATH_MAX], seen[PATH_MAX];

	snprintf(seen, sizeof(seen), "%s", tu_path(state, "rfile-seen"));
	snprintf(script, sizeof(script), "%s", tu_path(state, "auth.sh"));
	snprintf(tab, sizeof(tab),
	    "# mech\tprogram\targuments\n"
	    "\"PLAIN\"\t\"/bin/sh\"\t\"%s\"\t\"@@AUTH\"\t\"@@USER\"\t"
	    "\"@@PASS\"\t\"@@RFILE\"\t\"%s\"\n"
	    "\"X-TOKEN\"\t\"/bin/sh\"\t\"-c\"\t\"exit 0\"\n"
	    "\"plain\"\t\"/bin/sh\"\t\"-c\"\t\"exit 0\"\n"
	    "\"CRAM-MD5\"\t\"/bin/sh\"\t\"-c\"\t"
	    "\"test \\\"$0\\\" = \\\"tim:<c@d>:abc\\\"\"\t"
	    "\"$(USER):$(CHALL):$(DGEST)\"\n"
	    "\"BROKEN\"\t\"/nonexistent/auth-program\"\n", script, seen);
	put(state, "smtpextauth.tab", tab);
	put(state, "auth.sh",
	    "[ \"$1\" = PLAIN ] && [ \"$2\" = joe ] && [ \"$3\" = pw ] "
	    "|| exit 1\n"
	    "[ -f \"$4\" ] || exit 1\n"
	    "echo \"$4\" > \"$5\"\n"
	    "printf 'Other=1\\r\\nPerms=MRZ\\r\\n' > \"$4\"\n"
	    "exit 0\n");
	reload();
}

/* test_smtp_ext - smtpextauth.tab replaces the built-in checks */
static void
test_smtp_ext(void **state)
{
	static const struct smtp_case cases[] = {
		{ "PLAIN", "joe", "pw", NULL, NULL,
		    STORE_AUTH_OK, "MRZ", "joe" },
		{ "plain", "joe", "pw", NULL, NULL,
		    STORE_AUTH_OK, "MRZ", "joe" },
		{ "PLAIN", "joe", "px", NULL, NULL,
		    STORE_AUTH_FAIL, NULL, NULL },
		/* mailusers.tab no longer counts. */
		{ "PLAIN", "alice@home.test", "secret", NULL, NULL,
		    STORE_AUTH_FAIL, NULL, NULL },
		{ "LOGIN", "joe", "pw", NULL, NULL,
		    STORE_AUTH_FAIL, NULL, NULL },
		/* No response file: DefaultSmtpPerms (here unset: MR). */
		{ "X-TOKEN", "anyone", NULL, NULL, NULL,
		    STORE_AUTH_OK, "MR", "anyone" },
		{ "CRAM-MD5", "tim", NULL, "<c@d>", "abc",
		    STORE_AUTH_OK, "MR", "tim" },
		{ "CRAM-MD5", "tim", NULL, "<c@d>", "abd",
		    STORE_AUTH_FAIL, NULL, NULL },
		{ "BROKEN", "joe", "pw", NULL, NULL,
		    STORE_AUTH_TEMPFAIL, NULL, NULL },
	};
	struct config *cfg;
	struct buf seen;
	char mechs[64];

	ext_fixture(state);
	smtp_run(cases, nitems(cases));
	/* The response file existed for the program, and is gone now. */
	buf_init(&seen, PATH_MAX);
	assert_int_equal(fs_read_file(tu_path(state, "rfile-seen"), &seen),
	    0);
	assert_true(seen.len > 1);
	seen.data[seen.len - 1] = '\0';
	assert_false(fs_exists(seen.data));
	buf_clear(&seen);
	cfg = config_acquire();
	store_smtp_ext_mechs(cfg, mechs, sizeof(mechs));
	assert_string_equal(mechs, "PLAIN X-TOKEN CRAM-MD5 BROKEN");
	store_smtp_ext_mechs(cfg, mechs, 14);
	assert_string_equal(mechs, "PLAIN X-TOKEN");
	config_release(cfg);
}

/* test_ext_mechs_empty - no smtpextauth.tab, no names */
static void
test_ext_mechs_empty(void **state)
{
	struct config *cfg = config_acquire();
	char mechs[64] = "junk";

	(void)state;
	store_smtp_ext_mechs(cfg, mechs, sizeof(mechs));
	assert_string_equal(mechs, "");
	config_release(cfg);
}

/* A POP3 login case and its expected outcome. */
struct pop3_case {
	const char		*login, *pass, *ts, *digest, *ip;
	enum store_auth_result	 res;
	const char		*why;
};

/* pop3_run - run POP3 login cases against the current snapshot */
static void
pop3_run(const struct pop3_case *cases, size_t n)
{
	struct config *cfg = config_acquire();
	struct sockaddr_storage ss;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct pop3_case *c = &cases[i];
		struct store_pop3_login l = {
			.login = c->login, .pass = c->pass,
			.apop_ts = c->ts, .apop_digest = c->digest,
			.default_domain = "home.test",
			.peer = addr(c->ip, &ss), .peer_ip = c->ip,
			.timeout = 10,
		};
		struct store_user u;
		const char *why = NULL;
		enum store_auth_result res;

		res = store_pop3_auth(cfg, &l, &u, &why);
		if (res != c->res)
			fail_msg("case %zu %s: result %d (%s)", i, c->login,
			    (int)res, why);
		assert_non_null(why);
		if (c->why != NULL)
			assert_string_equal(why, c->why);
	}
	config_release(cfg);
}

/* test_pop3_auth - the account checks in XMail's order */
static void
test_pop3_auth(void **state)
{
	static const struct pop3_case cases[] = {
		{ "ghost", "secret", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_FAIL, "no such account" },
		{ "bob", "secret", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_FAIL, "no such account" },
		{ "list", "secret", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_FAIL, "mailing list" },
		/* PopEnable is checked before the password. */
		{ "nopop", "secret", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_FAIL, "PopEnable=0" },
		{ "nopop", "wrong", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_FAIL, "PopEnable=0" },
		{ "fenced", "wrong", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_FAIL, "pop3.ipmap.tab" },
		{ "fenced", "secret", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_FAIL, "pop3.ipmap.tab" },
		{ "fenced", "secret", NULL, NULL, "10.1.2.3",
		    STORE_AUTH_OK, "ok" },
		{ "fenced", "wrong", NULL, NULL, "10.1.2.3",
		    STORE_AUTH_FAIL, "bad password" },
		{ "alice", "Secret", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_FAIL, "bad password" },
		{ "alice", "secret", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_OK, "ok" },
		{ "ALICE@alias.test", "secret", NULL, NULL, "::1",
		    STORE_AUTH_OK, "ok" },
		{ "hashed:home.test", "hpass", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_OK, "ok" },
		{ "mrose", NULL, APOP_TS, APOP_DIGEST, "127.0.0.1",
		    STORE_AUTH_OK, "ok" },
		{ "mrose", NULL, APOP_TS, "c4c9334bac560ecc979e58001b3e22fc",
		    "127.0.0.1", STORE_AUTH_FAIL, "bad APOP digest" },
		{ "mrose", NULL, NULL, NULL, "127.0.0.1",
		    STORE_AUTH_FAIL, NULL },
		{ "hashed", NULL, APOP_TS, APOP_DIGEST, "127.0.0.1",
		    STORE_AUTH_FAIL, NULL },
		{ "a b", "secret", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_FAIL, "no such account" },
	};

	(void)state;
	pop3_run(cases, nitems(cases));
}

/* test_pop3_bare_no_domain - a bare name without a default domain */
static void
test_pop3_bare_no_domain(void **state)
{
	struct config *cfg = config_acquire();
	struct sockaddr_storage ss;
	struct store_pop3_login l = { .login = "alice", .pass = "secret",
	    .peer = addr("127.0.0.1", &ss), .peer_ip = "127.0.0.1" };
	struct store_user u;

	(void)state;
	assert_int_equal(store_pop3_auth(cfg, &l, &u, NULL), STORE_AUTH_FAIL);
	l.login = "alice@home.test";
	assert_int_equal(store_pop3_auth(cfg, &l, &u, NULL), STORE_AUTH_OK);
	assert_string_equal(u.name, "alice");
	assert_string_equal(u.domain, "home.test");
	assert_string_equal(u.dir, "alice");
	config_release(cfg);
}

/* test_pop3_external - userauth/pop3/<domain>.tab and .tab */
static void
test_pop3_external(void **state)
{
	static const struct pop3_case dom[] = {
		{ "ext@other.test", "letmein", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_OK, "ok" },
		/* The program decides: the stored password does not count. */
		{ "ext@other.test", "stored", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_FAIL, "refused by external program" },
		{ "ext@other.test", NULL, APOP_TS, APOP_DIGEST, "127.0.0.1",
		    STORE_AUTH_FAIL, NULL },
		/* Other domains: no file, the stored password. */
		{ "alice", "secret", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_OK, "ok" },
	};
	static const struct pop3_case any[] = {
		{ "alice", "secret", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_FAIL, "refused by external program" },
		{ "ext@other.test", "letmein", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_OK, "ok" },
	};
	static const struct pop3_case norow[] = {
		{ "ext@other.test", "stored", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_OK, "ok" },
		{ "ext@other.test", "letmein", NULL, NULL, "127.0.0.1",
		    STORE_AUTH_FAIL, "bad password" },
	};
	char tab[PATH_MAX + 256];

	snprintf(tab, sizeof(tab), "\"useradd\"\t\"/bin/sh\"\t\"-c\"\t"
	    "\"exit 0\"\n\"userauth\"\t\"/bin/sh\"\t\"%s\"\t\"@@USER\"\t"
	    "\"@@DOMAIN\"\t\"@@PASSWD\"\t\"@@PATH\"\n",
	    tu_path(state, "pop3auth.sh"));
	put(state, "pop3auth.sh",
	    "[ \"$1\" = ext ] && [ \"$2\" = other.test ] && "
	    "[ \"$3\" = letmein ] && [ -d \"$4\" ] && "
	    "[ \"${4##*/}\" = ext ]\n");
	put(state, "userauth/pop3/other.test.tab", tab);
	pop3_run(dom, nitems(dom));
	put(state, "userauth/pop3/.tab",
	    "\"userauth\"\t\"/bin/sh\"\t\"-c\"\t\"exit 1\"\n");
	pop3_run(any, nitems(any));
	put(state, "userauth/pop3/other.test.tab",
	    "\"useradd\"\t\"/bin/sh\"\t\"-c\"\t\"exit 1\"\n");
	pop3_run(norow, nitems(norow));
}

/* ipconn_path - the .ipconn file of home.test/alice */
static const char *
ipconn_path(void **state)
{
	return tu_path(state, "domains/home.test/alice/.ipconn");
}

/* test_ipconn - POP3-before-SMTP record and check */
static void
test_ipconn(void **state)
{
	static const struct pop3_case login[] = {
		{ "alice", "secret", NULL, NULL, "192.0.2.7",
		    STORE_AUTH_OK, "ok" },
	};
	static const struct pop3_case bad[] = {
		{ "alice", "wrong", NULL, NULL, "198.51.100.1",
		    STORE_AUTH_FAIL, "bad password" },
	};
	struct config *cfg;
	struct store_user u, ghost;
	struct timespec ts[2];
	struct buf b;

	cfg = config_acquire();
	assert_int_equal(store_account_find(cfg, "alice", "home.test", &u,
	    NULL), 0);
	assert_false(store_pop3_ipconn_valid(*state, &u, "192.0.2.7", 900));
	pop3_run(login, nitems(login));
	buf_init(&b, 256);
	assert_int_equal(fs_read_file(ipconn_path(state), &b), 0);
	assert_string_equal(b.data, "192.0.2.7");
	buf_clear(&b);
	assert_true(store_pop3_ipconn_valid(*state, &u, "192.0.2.7", 900));
	assert_false(store_pop3_ipconn_valid(*state, &u, "192.0.2.8", 900));
	assert_false(store_pop3_ipconn_valid(*state, &u, "192.0.2.7", 0));
	assert_false(store_pop3_ipconn_valid(*state, &u, "", 900));
	/* A failed login leaves the record alone. */
	pop3_run(bad, nitems(bad));
	assert_true(store_pop3_ipconn_valid(*state, &u, "192.0.2.7", 900));
	/* Written 1000 seconds ago. */
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 1000;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, ipconn_path(state), ts, 0), 0);
	assert_false(store_pop3_ipconn_valid(*state, &u, "192.0.2.7", 900));
	assert_true(store_pop3_ipconn_valid(*state, &u, "192.0.2.7", 2000));
	/* A hand-written record with a newline still counts. */
	put(state, "domains/home.test/alice/.ipconn", "192.0.2.9\n");
	assert_true(store_pop3_ipconn_valid(*state, &u, "192.0.2.9", 900));
	ghost = u;
	strcpy(ghost.dir, "ghost");
	assert_false(store_pop3_ipconn_valid(*state, &ghost, "192.0.2.9",
	    900));
	config_release(cfg);
}

/* test_pop3_domain - POP3Domain, reverse lookup, RootDomain */
static void
test_pop3_domain(void **state)
{
	struct sockaddr_storage ss;
	const struct sockaddr *lo = addr("127.0.0.1", &ss);
	char host[NI_MAXHOST], want[NI_MAXHOST], out[STORE_DOMAIN_MAX + 1];
	char tab[NI_MAXHOST + 32];
	struct config *cfg;

	put(state, "server.tab", "\"POP3Domain\"\t\"pop.test\"\n"
	    "\"RootDomain\"\t\"root.test\"\n");
	reload();
	cfg = config_acquire();
	store_pop3_domain(cfg, lo, out, sizeof(out));
	assert_string_equal(out, "pop.test");
	config_release(cfg);

	put(state, "server.tab", "\"RootDomain\"\t\"root.test\"\n");
	reload();
	cfg = config_acquire();
	store_pop3_domain(cfg, NULL, out, sizeof(out));
	assert_string_equal(out, "root.test");
	config_release(cfg);

	/* The reverse name of 127.0.0.1, or its parent, when handled. */
	snprintf(want, sizeof(want), "root.test");
	if (getnameinfo(lo, sizeof(struct sockaddr_in), host, sizeof(host),
	    NULL, 0, NI_NAMEREQD) == 0) {
		const char *dot = strchr(host, '.');

		snprintf(want, sizeof(want), "%s",
		    dot != NULL && dot[1] != '\0' ? dot + 1 : host);
		if (want[0] != '\0' && want[strlen(want) - 1] == '.')
			want[strlen(want) - 1] = '\0';
		snprintf(tab, sizeof(tab), "\"home.test\"\n\"%s\"\n", want);
		put(state, "domains.tab", tab);
		reload();
	}
	cfg = config_acquire();
	store_pop3_domain(cfg, lo, out, sizeof(out));
	assert_string_equal(out, want);
	config_release(cfg);

	put(state, "server.tab", "\"POP3Domain\"\t\"\"\n");
	put(state, "domains.tab", "\"home.test\"\n");
	reload();
	cfg = config_acquire();
	store_pop3_domain(cfg, NULL, out, sizeof(out));
	assert_string_equal(out, "");
	config_release(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_perms),
		cmocka_unit_test(test_login_split),
		cmocka_unit_test(test_vectors),
		cmocka_unit_test_setup_teardown(test_account_find, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_smtp_mailusers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_smtp_default_perms,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_smtpauth_tab, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_smtp_ext, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ext_mechs_empty, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pop3_auth, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pop3_bare_no_domain,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_pop3_external, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ipconn, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pop3_domain, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
