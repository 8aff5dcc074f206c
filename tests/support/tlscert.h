/*
 * tlscert.h - a self-signed TLS certificate made at run time, for tests
 * (OpenSSL's C API: no openssl CLI, no fixture that expires).
 */
#ifndef RK_TLSCERT_H
#define RK_TLSCERT_H

#include <stddef.h>

/*
 * Make a P-256 key and a self-signed certificate for it, valid from a
 * minute ago for a day, with subject CN=cn and the subjectAltName san in
 * OpenSSL's syntax ("IP:127.0.0.1,DNS:localhost"). Being self-signed (and a
 * CA), the certificate is also the trust anchor a client passes as --ca.
 * Writes DIR/NAME-cert.pem and DIR/NAME-key.pem (unencrypted, mode 0600)
 * and their paths into cert_path and key_path (n bytes each).
 * Returns 0, or -1 with the reason on stderr.
 */
int tls_make_cert(const char *dir, const char *name, const char *cn, const char *san,
		  char *cert_path, char *key_path, size_t n);

#endif
