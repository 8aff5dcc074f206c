/* tlscert.c - self-signed test certificates (see tlscert.h). */
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "tlscert.h"

/* Add one extension in OpenSSL's config syntax; 0 or -1. */
static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return -1;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* Write a PEM file with mode 0600; 0 or -1. */
static int write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	chmod(path, 0600);
	int ok = x ? PEM_write_X509(f, x)
		   : PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	return fclose(f) == 0 && ok ? 0 : -1;
}

int tls_make_cert(const char *dir, const char *name, const char *cn, const char *san,
		  char *cert_path, char *key_path, size_t n)
{
	int rc = -1;
	X509 *x = NULL;
	EVP_PKEY *k = EVP_EC_gen("P-256");
	snprintf(cert_path, n, "%s/%s-cert.pem", dir, name);
	snprintf(key_path, n, "%s/%s-key.pem", dir, name);
	if (!k || !(x = X509_new()))
		goto out;
	X509_NAME *subj = X509_get_subject_name(x);
	if (!X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x),
			      (long)(time(NULL) & 0x7fffffff)) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -60) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 86400) || !X509_set_pubkey(x, k) ||
	    !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(x, subj))
		goto out;
	if (add_ext(x, NID_basic_constraints, "critical,CA:TRUE") ||
	    add_ext(x, NID_subject_key_identifier, "hash") ||
	    add_ext(x, NID_authority_key_identifier, "keyid:always") ||
	    add_ext(x, NID_subject_alt_name, san))
		goto out;
	if (!X509_sign(x, k, EVP_sha256()))
		goto out;
	if (write_pem(cert_path, x, NULL) || write_pem(key_path, NULL, k))
		goto out;
	rc = 0;
out:
	if (rc) {
		unsigned long e = ERR_get_error();
		fprintf(stderr, "tls_make_cert %s: %s\n", name,
			e ? ERR_reason_error_string(e) : "cannot write the files");
	}
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}
