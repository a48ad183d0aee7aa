/*
 * tls.h - OpenSSL helpers.
 *
 * For now: the self-signed certificate `postroom init` writes.  The TLS
 * layer of the services (STARTTLS, SMTPS, POP3S, CTRLS) lands here too.
 */
#ifndef POSTROOM_CORE_TLS_H
#define POSTROOM_CORE_TLS_H

#include "core/compat.h"

/*
 * tls_selfsigned_create - generate an RSA-2048 key and a self-signed X.509
 * certificate (SHA-256, valid `days` days, CN and subjectAltName DNS:`cn`)
 * and write them as PEM to key_path (mode 0600) and cert_path (0644).
 * Refuses to overwrite existing files.  Returns 0, or -1 with a message
 * logged.
 */
int	tls_selfsigned_create(const char *cert_path, const char *key_path,
	    const char *cn, int days) WARN_UNUSED_RESULT;

#endif
