/*
 * tls.h - the one TLS layer (OpenSSL 3), shared by every service.
 *
 * The server context is built from the MailRoot's server.cert (certificate
 * chain, PEM) and server.key (private key, PEM) and the SSL* variables of
 * server.tab (manual "SSL CONFIGURATION"):
 *   SSLWantVerify       ask clients for a certificate and verify it
 *   SSLWantCert         ... and refuse clients that send none
 *   SSLAllowSelfSigned  accept self-signed client certificates
 *   SSLMaxCertsDepth    longest accepted chain (default 9)
 *   SSLUseCertsFile     trust the certificates in <MailRoot>/CERTS.PEM
 *   SSLUseCertsDir      trust the hashed certificates in <MailRoot>/CERTS/
 * Only TLS 1.2 and 1.3 are negotiated; compression and renegotiation are
 * off; the server's cipher preference wins.
 *
 * The current context is swapped atomically on reload (SIGHUP): sessions
 * that are running keep the context they started with.
 */
#ifndef POSTROOM_CORE_TLS_H
#define POSTROOM_CORE_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/compat.h"

struct config;
typedef struct ssl_ctx_st SSL_CTX;

/*
 * tls_selfsigned_create - generate an RSA-2048 key and a self-signed X.509
 * certificate (SHA-256, valid `days` days, CN and subjectAltName DNS:`cn`)
 * and write them as PEM to key_path (mode 0600) and cert_path (0644).
 * Refuses to overwrite existing files.  Returns 0, or -1 with a message
 * logged.
 */
int	tls_selfsigned_create(const char *cert_path, const char *key_path,
	    const char *cn, int days) WARN_UNUSED_RESULT;

/*
 * tls_server_load - build a server context from the snapshot's MailRoot
 * and variables and make it the current one.  When server.cert or
 * server.key is missing, the result is "no TLS" (logged once as a notice,
 * returns 0).  When they exist but are unusable (bad PEM, key does not
 * match), the error is logged, the previous context stays, and -1 is
 * returned.  Thread-safe.
 */
int	tls_server_load(const struct config *cfg) WARN_UNUSED_RESULT;

/* tls_server_available - true when a server context is loaded. */
bool	tls_server_available(void);

/*
 * tls_server_ctx - the current server context with a reference taken (the
 * caller SSL_CTX_free()s it, normally right after SSL_new), or NULL.
 */
SSL_CTX	*tls_server_ctx(void);

/* tls_server_free - drop the current context and the client one (exit). */
void	tls_server_free(void);

/*
 * tls_client_ctx - the client context of outbound connections (TLS 1.2+,
 * system CA store, peers verified but never refused by OpenSSL: callers
 * read the result), with a reference taken (SSL_CTX_free after SSL_new).
 * Built on first use; NULL on failure (logged).  Thread-safe.
 */
SSL_CTX	*tls_client_ctx(void);

/*
 * tls_client_ctx_file - a new client context with the settings of
 * tls_client_ctx's that trusts the CA certificates of the PEM file
 * `cafile` instead of the system store (a private authority, a
 * self-signed next hop).  The file is read now, on the calling thread.
 * Returns the context (the caller owns its one reference and
 * SSL_CTX_free()s it), or NULL with the reason ("<cafile>: No such file
 * or directory", "<cafile>: no certificate or crl found") in err.
 */
SSL_CTX	*tls_client_ctx_file(const char *cafile, char *err,
	    size_t errlen) WARN_UNUSED_RESULT;

/*
 * tls_error_text - the oldest error of this thread's OpenSSL error queue
 * as text into buf, and clear the queue.  "unknown" when it is empty.
 */
const char	*tls_error_text(char *buf, size_t size);

#endif
