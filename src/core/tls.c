/*
 * tls.c - the TLS layer: server context from the MailRoot, reloads, the
 * client contexts of outbound connections, and the self-signed
 * certificate of `postroom init`.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/tls.h"

/* tls_log_error - log the OpenSSL error queue */
static void
tls_log_error(const char *what)
{
	unsigned long e = ERR_get_error();
	char msg[256];

	ERR_error_string_n(e, msg, sizeof(msg));
	log_error("%s: %s", what, e ? msg : "unknown OpenSSL error");
	ERR_clear_error();
}

/* tls_pem_write - write a PEM blob produced by fn to a new file */
static int
tls_pem_write(const char *path, mode_t mode, EVP_PKEY *key, X509 *crt)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int ok, r;

	if (bio == NULL)
		return -1;
	ok = key != NULL ?
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) :
	    PEM_write_bio_X509(bio, crt);
	if (!ok) {
		tls_log_error(path);
		BIO_free(bio);
		return -1;
	}
	len = BIO_get_mem_data(bio, &data);
	r = fs_write_new(path, data, (size_t)len, mode);
	if (r == -1)
		log_error("%s: %s", path, strerror(errno));
	OPENSSL_cleanse(data, (size_t)len);
	BIO_free(bio);
	return r;
}

/* tls_add_ext - add one v3 extension */
static int
tls_add_ext(X509 *crt, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, crt, crt, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(crt, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* tls_selfsigned_create - key and self-signed certificate */
int
tls_selfsigned_create(const char *cert_path, const char *key_path,
    const char *cn, int days)
{
	EVP_PKEY *key = NULL;
	X509 *crt = NULL;
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	struct buf san;
	int r = -1;

	buf_init(&san, 1024);
	if (fs_exists(cert_path) || fs_exists(key_path)) {
		log_error("%s or %s already exists", cert_path, key_path);
		return -1;
	}
	key = EVP_RSA_gen(2048);
	crt = X509_new();
	if (key == NULL || crt == NULL) {
		tls_log_error("key generation");
		goto out;
	}
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto ssl_fail;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(crt)))
		goto ssl_fail;
	if (!X509_set_version(crt, 2) ||
	    X509_gmtime_adj(X509_getm_notBefore(crt), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(crt), 86400L * days) == NULL ||
	    !X509_set_pubkey(crt, key))
		goto ssl_fail;
	name = X509_get_subject_name(crt);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	    (const unsigned char *)"postroom", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(crt, name))
		goto ssl_fail;
	if (buf_printf(&san, "DNS:%s", cn) == -1 ||
	    tls_add_ext(crt, NID_subject_alt_name, san.data) == -1 ||
	    tls_add_ext(crt, NID_basic_constraints, "critical,CA:FALSE") ==
	    -1 ||
	    tls_add_ext(crt, NID_key_usage,
	    "critical,digitalSignature,keyEncipherment") == -1 ||
	    tls_add_ext(crt, NID_ext_key_usage, "serverAuth") == -1 ||
	    tls_add_ext(crt, NID_subject_key_identifier, "hash") == -1)
		goto ssl_fail;
	if (!X509_sign(crt, key, EVP_sha256()))
		goto ssl_fail;
	if (tls_pem_write(key_path, 0600, key, NULL) == -1)
		goto out;
	if (tls_pem_write(cert_path, 0644, NULL, crt) == -1) {
		(void)unlink(key_path);
		goto out;
	}
	r = 0;
	goto out;
ssl_fail:
	tls_log_error("self-signed certificate");
out:
	BN_free(bn);
	X509_free(crt);
	EVP_PKEY_free(key);
	buf_clear(&san);
	return r;
}

/*
 * Mozilla "intermediate" TLS 1.2 suites (forward secrecy, AEAD only);
 * TLS 1.3 uses OpenSSL's default suites.
 */
#define TLS_CIPHERS12	"ECDHE-ECDSA-AES128-GCM-SHA256:" \
			"ECDHE-RSA-AES128-GCM-SHA256:" \
			"ECDHE-ECDSA-AES256-GCM-SHA384:" \
			"ECDHE-RSA-AES256-GCM-SHA384:" \
			"ECDHE-ECDSA-CHACHA20-POLY1305:" \
			"ECDHE-RSA-CHACHA20-POLY1305:" \
			"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"

/* Bits kept in the context's application data for the verify callback. */
#define TLS_F_SELFSIGNED	0x1	/* SSLAllowSelfSigned */
#define TLS_F_VERIFY		0x2	/* SSLWantVerify */

static pthread_mutex_t	 tls_mu = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX		*tls_cur;		/* current server context */
static SSL_CTX		*tls_client;		/* outbound context */

/* tls_error_text - oldest queued OpenSSL error as text */
const char *
tls_error_text(char *buf, size_t size)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, size, "unknown");
	else
		ERR_error_string_n(e, buf, size);
	ERR_clear_error();
	return buf;
}

/*
 * tls_verify_cb - client certificates: SSLAllowSelfSigned accepts
 * self-signed ones; without SSLWantVerify any certificate is accepted
 * (SSLWantCert alone only asks that one is sent).
 */
static int
tls_verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	uintptr_t f = (uintptr_t)SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	int err = X509_STORE_CTX_get_error(x);

	if (ok)
		return 1;
	if (!(f & TLS_F_VERIFY))
		return 1;
	if ((f & TLS_F_SELFSIGNED) &&
	    (err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
	    err == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN))
		return 1;
	return 0;
}

/* tls_ctx_verify - the SSL* client-certificate variables */
static int
tls_ctx_verify(SSL_CTX *ctx, const struct config *cfg)
{
	const char *root = config_mailroot(cfg);
	bool want_verify = config_var_bool(cfg, "SSLWantVerify", false);
	bool want_cert = config_var_bool(cfg, "SSLWantCert", false);
	uintptr_t f = 0;
	char path[4096];
	int mode = SSL_VERIFY_NONE;

	if (want_verify)
		f |= TLS_F_VERIFY;
	if (config_var_bool(cfg, "SSLAllowSelfSigned", false))
		f |= TLS_F_SELFSIGNED;
	SSL_CTX_set_app_data(ctx, (void *)f);
	if (want_verify || want_cert)
		mode = SSL_VERIFY_PEER;
	if (want_cert)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, tls_verify_cb);
	SSL_CTX_set_verify_depth(ctx,
	    (int)config_var_long(cfg, "SSLMaxCertsDepth", 9));
	if (!want_verify)
		return 0;
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error();
	if (config_var_bool(cfg, "SSLUseCertsFile", false) &&
	    (fs_path(path, sizeof(path), root, "CERTS.PEM") == -1 ||
	    SSL_CTX_load_verify_locations(ctx, path, NULL) != 1)) {
		tls_log_error("SSLUseCertsFile: CERTS.PEM");
		return -1;
	}
	if (config_var_bool(cfg, "SSLUseCertsDir", false) &&
	    (fs_path(path, sizeof(path), root, "CERTS") == -1 ||
	    SSL_CTX_load_verify_locations(ctx, NULL, path) != 1)) {
		tls_log_error("SSLUseCertsDir: CERTS");
		return -1;
	}
	return 0;
}

/* tls_ctx_new - a server context from certificate and key files */
static SSL_CTX *
tls_ctx_new(const struct config *cfg, const char *cert, const char *key)
{
	static const unsigned char sid[] = "postroom";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		tls_log_error("SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS12) != 1 ||
	    SSL_CTX_set_dh_auto(ctx, 1) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1) != 1) {
		tls_log_error("TLS settings");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_log_error(cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_log_error(key);
		goto fail;
	}
	if (tls_ctx_verify(ctx, cfg) == -1)
		goto fail;
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* tls_server_install - make ctx (may be NULL) the current context */
static void
tls_server_install(SSL_CTX *ctx)
{
	SSL_CTX *old;

	pthread_mutex_lock(&tls_mu);
	old = tls_cur;
	tls_cur = ctx;
	pthread_mutex_unlock(&tls_mu);
	SSL_CTX_free(old);
}

/* tls_server_load - (re)load server.cert and server.key */
int
tls_server_load(const struct config *cfg)
{
	const char *root = config_mailroot(cfg);
	char cert[4096], key[4096];
	SSL_CTX *ctx;

	if (fs_path(cert, sizeof(cert), root, "server.cert") == -1 ||
	    fs_path(key, sizeof(key), root, "server.key") == -1) {
		log_error("TLS: MailRoot path too long");
		return -1;
	}
	if (!fs_exists(cert) || !fs_exists(key)) {
		log_warn("TLS: no %s or %s: STARTTLS, STLS, SMTPS and"
		    " POP3S are unavailable", cert, key);
		tls_server_install(NULL);
		return 0;
	}
	ctx = tls_ctx_new(cfg, cert, key);
	if (ctx == NULL) {
		log_error("TLS: certificate not loaded%s",
		    tls_server_available() ? "; the previous one stays" : "");
		return -1;
	}
	tls_server_install(ctx);
	log_info("TLS: certificate %s loaded", cert);
	return 0;
}

/* tls_server_available - a context is loaded */
bool
tls_server_available(void)
{
	bool r;

	pthread_mutex_lock(&tls_mu);
	r = tls_cur != NULL;
	pthread_mutex_unlock(&tls_mu);
	return r;
}

/* tls_server_ctx - current context, referenced */
SSL_CTX *
tls_server_ctx(void)
{
	SSL_CTX *ctx;

	pthread_mutex_lock(&tls_mu);
	ctx = tls_cur;
	if (ctx != NULL && SSL_CTX_up_ref(ctx) != 1)
		ctx = NULL;
	pthread_mutex_unlock(&tls_mu);
	return ctx;
}

/* tls_server_free - drop the current and the client context */
void
tls_server_free(void)
{
	tls_server_install(NULL);
	pthread_mutex_lock(&tls_mu);
	SSL_CTX_free(tls_client);
	tls_client = NULL;
	pthread_mutex_unlock(&tls_mu);
}

/*
 * tls_client_new - an outbound context, trusting the system store when
 * `system_store`
 */
static SSL_CTX *
tls_client_new(bool system_store)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		tls_log_error("SSL_CTX_new (client)");
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* Verified, never refused here: the caller reads the result. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    (system_store && SSL_CTX_set_default_verify_paths(ctx) != 1)) {
		tls_log_error("TLS client settings");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* tls_client_ctx - outbound context, referenced */
SSL_CTX *
tls_client_ctx(void)
{
	SSL_CTX *ctx;

	pthread_mutex_lock(&tls_mu);
	if (tls_client == NULL)
		tls_client = tls_client_new(true);
	ctx = tls_client;
	if (ctx != NULL && SSL_CTX_up_ref(ctx) != 1)
		ctx = NULL;
	pthread_mutex_unlock(&tls_mu);
	return ctx;
}

/* tls_client_ctx_file - a client context trusting the CAs of a file */
SSL_CTX *
tls_client_ctx_file(const char *cafile, char *err, size_t errlen)
{
	const char *reason;
	unsigned long e;
	SSL_CTX *ctx;
	FILE *f;

	/* errno tells more than OpenSSL's "system lib". */
	if ((f = fopen(cafile, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", cafile, strerror(errno));
		return NULL;
	}
	(void)fclose(f);
	if ((ctx = tls_client_new(false)) == NULL) {
		snprintf(err, errlen, "%s: cannot make a TLS context", cafile);
		return NULL;
	}
	ERR_clear_error();
	if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) == 1)
		return ctx;
	e = ERR_peek_last_error();
	reason = e != 0 ? ERR_reason_error_string(e) : NULL;
	snprintf(err, errlen, "%s: %s", cafile, reason != NULL ? reason :
	    "no usable CA certificate");
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}
