/*
 * tls.c - OpenSSL helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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
