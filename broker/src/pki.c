/* pki.c — the federation's TLS certificates (see pki.h). */
#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/err.h"
#include "deconf/util.h"
#include "pki.h"

static int ssl_err(char *errstr, size_t errstr_size, const char *what)
{
	char buf[256] = "";

	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	return deconf_err_set(errstr, errstr_size, DECONF_E_CRYPTO, "%s: %s", what,
			      buf[0] ? buf : "OpenSSL failed");
}

/* PEM of a key or certificate into a malloc'ed buffer, written atomically. */
static int write_pem(const char *path, int is_key, void *obj, int exclusive, char *errstr,
		     size_t errstr_size)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int rc;

	if (!b)
		return DECONF_E_NOMEM;
	if (is_key ? !PEM_write_bio_PrivateKey(b, obj, NULL, NULL, 0, NULL, NULL)
		   : !PEM_write_bio_X509(b, obj)) {
		BIO_free(b);
		return ssl_err(errstr, errstr_size, path);
	}
	len = BIO_get_mem_data(b, &data);
	rc = deconf_file_write(path, data, (size_t)len, is_key ? 0600 : 0644, exclusive, errstr,
			       errstr_size);
	BIO_free(b);
	return rc;
}

static void *read_pem(const char *path, int is_key, char *errstr, size_t errstr_size)
{
	FILE *f = fopen(path, "r");
	void *obj;

	if (!f) {
		deconf_err_set(errstr, errstr_size, DECONF_E_IO, "%s: cannot open", path);
		return NULL;
	}
	obj = is_key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL)
		     : (void *)PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!obj)
		ssl_err(errstr, errstr_size, path);
	return obj;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if (!(ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)))
		return 0;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* A certificate for key, named cn, valid days, not yet signed. */
static X509 *new_cert(EVP_PKEY *key, const char *cn, int days)
{
	X509 *c = X509_new();
	uint8_t serial[16];
	BIGNUM *bn = NULL;

	if (!c)
		return NULL;
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f; /* positive */
	if (!X509_set_version(c, 2) || !(bn = BN_bin2bn(serial, sizeof(serial), NULL)) ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) ||
	    !X509_gmtime_adj(X509_getm_notBefore(c), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(c), (long)days * 86400) ||
	    !X509_set_pubkey(c, key) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "O", MBSTRING_UTF8,
					(const unsigned char *)"deconf federation", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0)) {
		BN_free(bn);
		X509_free(c);
		return NULL;
	}
	BN_free(bn);
	return c;
}

int brk_pki_ca_new(const char *cert_path, const char *key_path, const char *name, int days,
		   char *errstr, size_t errstr_size)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *c = NULL;
	int rc;

	if (!key)
		return ssl_err(errstr, errstr_size, "CA key");
	if (!(c = new_cert(key, name, days)) ||
	    !X509_set_issuer_name(c, X509_get_subject_name(c)) ||
	    !add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(c, c, NID_subject_key_identifier, "hash") ||
	    !X509_sign(c, key, EVP_sha256())) {
		rc = ssl_err(errstr, errstr_size, "CA certificate");
		goto out;
	}
	if (!(rc = write_pem(key_path, 1, key, 1, errstr, errstr_size)))
		rc = write_pem(cert_path, 0, c, 1, errstr, errstr_size);
out:
	X509_free(c);
	EVP_PKEY_free(key);
	return rc;
}

int brk_pki_issue(const char *ca_cert, const char *ca_key, const char *cn,
		  const char *const *sans, size_t n_sans, int server, int days,
		  const char *cert_path, const char *key_path, char *errstr, size_t errstr_size)
{
	X509 *ca = read_pem(ca_cert, 0, errstr, errstr_size), *c = NULL;
	EVP_PKEY *cakey = ca ? read_pem(ca_key, 1, errstr, errstr_size) : NULL, *key = NULL;
	char san[2048] = "";
	size_t n = 0;
	int rc = DECONF_E_CRYPTO;

	if (!ca || !cakey)
		goto out;
	for (size_t i = 0; i < n_sans && n < sizeof(san) - 80; i++) {
		struct in6_addr a6;
		struct in_addr a4;
		int ip = inet_pton(AF_INET, sans[i], &a4) == 1 || inet_pton(AF_INET6, sans[i], &a6) == 1;
		n += (size_t)snprintf(san + n, sizeof(san) - n, "%s%s:%s", n ? "," : "",
				      ip ? "IP" : "DNS", sans[i]);
	}
	if (!(key = EVP_EC_gen("P-256")) || !(c = new_cert(key, cn, days)) ||
	    !X509_set_issuer_name(c, X509_get_subject_name(ca)) ||
	    !add_ext(c, ca, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(c, ca, NID_key_usage, "critical,digitalSignature,keyAgreement") ||
	    !add_ext(c, ca, NID_ext_key_usage, server ? "serverAuth,clientAuth" : "clientAuth") ||
	    !add_ext(c, ca, NID_authority_key_identifier, "keyid") ||
	    (san[0] && !add_ext(c, ca, NID_subject_alt_name, san)) ||
	    !X509_sign(c, cakey, EVP_sha256())) {
		rc = ssl_err(errstr, errstr_size, cn);
		goto out;
	}
	if (!(rc = write_pem(key_path, 1, key, 1, errstr, errstr_size)))
		rc = write_pem(cert_path, 0, c, 1, errstr, errstr_size);
out:
	X509_free(ca);
	X509_free(c);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(key);
	return rc;
}
