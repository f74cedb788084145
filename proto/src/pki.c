/* pki.c — the federation's TLS certificates (see pki.h). */
#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deconf/err.h"
#include "deconf/pki.h"
#include "deconf/util.h"

/* PEM files of keys, certificates and requests are small. */
#define PEM_MAX (64 * 1024)
#define PASS_MAX 1024

static int ssl_err(char *errstr, size_t errstr_size, const char *what)
{
	char buf[256] = "";

	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	ERR_clear_error();
	return deconf_err_set(errstr, errstr_size, DECONF_E_CRYPTO, "%s: %s", what,
			      buf[0] ? buf : "OpenSSL failed");
}

/* ---------------------------------------------------------- passphrases */

struct pass_ctx {
	const struct deconf_pki_pass *pass;
	char text[PASS_MAX];
	size_t len;
	int have;
};

/* The passphrase file's first line, into ctx (wiped by pass_done). */
static int pass_load(struct pass_ctx *ctx, const struct deconf_pki_pass *pass, char *errstr,
		     size_t errstr_size)
{
	char *data = NULL;
	size_t len = 0, n;
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	ctx->pass = pass;
	if (!pass || !pass->file)
		return DECONF_OK;
	if ((rc = deconf_file_read(pass->file, PASS_MAX, 1, &data, &len, errstr, errstr_size)))
		return rc;
	n = strcspn(data, "\r\n");
	if (n == 0 || n >= sizeof(ctx->text))
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				    "%s: the passphrase must be its first line (1 to %d bytes)",
				    pass->file, PASS_MAX - 1);
	else {
		memcpy(ctx->text, data, n);
		ctx->len = n;
		ctx->have = 1;
	}
	OPENSSL_cleanse(data, len);
	free(data);
	return rc;
}

static void pass_done(struct pass_ctx *ctx)
{
	OPENSSL_cleanse(ctx, sizeof(*ctx));
}

/* OpenSSL's pem_password_cb: the file's passphrase, else the prompt (on a
 * terminal only), else none (the key read fails, and says why). */
static int pass_cb(char *buf, int size, int rwflag, void *u)
{
	struct pass_ctx *ctx = u;

	if (ctx->have) {
		if ((int)ctx->len > size)
			return -1;
		memcpy(buf, ctx->text, ctx->len);
		return (int)ctx->len;
	}
	if (ctx->pass && ctx->pass->prompt && isatty(0))
		return PEM_def_callback(buf, size, rwflag, NULL);
	return -1;
}

/* ------------------------------------------------------------ PEM files */

/* The PEM of a key (encrypted with cipher unless NULL) or certificate,
 * written atomically; the buffer that held it wiped. */
static int write_pem(const char *path, int is_key, void *obj, const EVP_CIPHER *cipher,
		     struct pass_ctx *pc, char *errstr, size_t errstr_size)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int rc;

	if (!b)
		return DECONF_E_NOMEM;
	if (is_key ? !PEM_write_bio_PrivateKey(b, obj, cipher, NULL, 0, cipher ? pass_cb : NULL,
					       pc)
		   : !PEM_write_bio_X509(b, obj)) {
		BIO_free(b);
		return ssl_err(errstr, errstr_size, path);
	}
	len = BIO_get_mem_data(b, &data);
	rc = deconf_file_write(path, data, (size_t)len, is_key ? 0600 : 0644, 1, errstr,
			       errstr_size);
	if (is_key)
		OPENSSL_cleanse(data, (size_t)len);
	BIO_free(b);
	return rc;
}

static X509 *read_cert(const char *path, char *errstr, size_t errstr_size)
{
	char *pem = NULL;
	size_t len;
	BIO *b;
	X509 *c = NULL;

	if (deconf_file_read(path, PEM_MAX, 0, &pem, &len, errstr, errstr_size))
		return NULL;
	if ((b = BIO_new_mem_buf(pem, (int)len))) {
		c = PEM_read_bio_X509(b, NULL, NULL, NULL);
		BIO_free(b);
	}
	if (!c)
		ssl_err(errstr, errstr_size, path);
	free(pem);
	return c;
}

/* The CA's private key: its file private (0600), decrypted with the
 * passphrase when it is encrypted. */
static EVP_PKEY *read_ca_key(const char *path, const struct deconf_pki_pass *pass,
			     char *errstr, size_t errstr_size)
{
	struct pass_ctx pc;
	EVP_PKEY *k = NULL;
	char *pem = NULL;
	size_t len = 0;
	BIO *b;

	if (deconf_file_read(path, PEM_MAX, 1, &pem, &len, errstr, errstr_size))
		return NULL;
	if (pass_load(&pc, pass, errstr, errstr_size))
		goto out;
	if (strstr(pem, "ENCRYPTED") && !pc.have && !(pass && pass->prompt && isatty(0))) {
		deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
			       "%s: the CA key is encrypted: give its passphrase "
			       "(--ca-passphrase-file FILE, or run on a terminal)",
			       path);
		goto out;
	}
	if ((b = BIO_new_mem_buf(pem, (int)len))) {
		k = PEM_read_bio_PrivateKey(b, NULL, pass_cb, &pc);
		BIO_free(b);
	}
	if (!k)
		ssl_err(errstr, errstr_size, strstr(pem, "ENCRYPTED")
						     ? "the CA key (wrong passphrase?)"
						     : "the CA key");
out:
	pass_done(&pc);
	OPENSSL_cleanse(pem, len);
	free(pem);
	return k;
}

/* --------------------------------------------------------- certificates */

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

static int set_subject(X509_NAME *n, const char *cn)
{
	return X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
					  (const unsigned char *)"deconf federation", -1, -1, 0) &&
	       X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					  -1, 0);
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
	    !X509_set_pubkey(c, key) || !set_subject(X509_get_subject_name(c), cn)) {
		BN_free(bn);
		X509_free(c);
		return NULL;
	}
	BN_free(bn);
	return c;
}

int deconf_pki_ca_new(const char *cert_path, const char *key_path, const char *name, int days,
		      const struct deconf_pki_pass *pass, char *errstr, size_t errstr_size)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	struct pass_ctx pc;
	X509 *c = NULL;
	int rc;

	if (!key)
		return ssl_err(errstr, errstr_size, "CA key");
	if ((rc = pass_load(&pc, pass, errstr, errstr_size)))
		goto out;
	if (!(c = new_cert(key, name, days)) ||
	    !X509_set_issuer_name(c, X509_get_subject_name(c)) ||
	    !add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(c, c, NID_subject_key_identifier, "hash") ||
	    !X509_sign(c, key, EVP_sha256())) {
		rc = ssl_err(errstr, errstr_size, "CA certificate");
		goto out;
	}
	if (!(rc = write_pem(key_path, 1, key,
			     pc.have || (pass && pass->prompt) ? EVP_aes_256_cbc() : NULL, &pc,
			     errstr, errstr_size)))
		rc = write_pem(cert_path, 0, c, NULL, NULL, errstr, errstr_size);
out:
	pass_done(&pc);
	X509_free(c);
	EVP_PKEY_free(key);
	return rc;
}

/* Sign c as a certificate of the CA; sans as in deconf_pki_issue. */
static int sign_leaf(X509 *c, X509 *ca, EVP_PKEY *cakey, const char *const *sans,
		     size_t n_sans, int server)
{
	char san[2048] = "";
	size_t n = 0;

	for (size_t i = 0; i < n_sans && n < sizeof(san) - 80; i++) {
		struct in6_addr a6;
		struct in_addr a4;
		int ip = inet_pton(AF_INET, sans[i], &a4) == 1 || inet_pton(AF_INET6, sans[i], &a6) == 1;
		n += (size_t)snprintf(san + n, sizeof(san) - n, "%s%s:%s", n ? "," : "",
				      ip ? "IP" : "DNS", sans[i]);
	}
	return X509_set_issuer_name(c, X509_get_subject_name(ca)) &&
	       add_ext(c, ca, NID_basic_constraints, "critical,CA:FALSE") &&
	       add_ext(c, ca, NID_key_usage, "critical,digitalSignature,keyAgreement") &&
	       add_ext(c, ca, NID_ext_key_usage, server ? "serverAuth,clientAuth" : "clientAuth") &&
	       add_ext(c, ca, NID_authority_key_identifier, "keyid") &&
	       (!san[0] || add_ext(c, ca, NID_subject_alt_name, san)) &&
	       X509_sign(c, cakey, EVP_sha256());
}

int deconf_pki_issue(const char *ca_cert, const char *ca_key, const struct deconf_pki_pass *pass,
		     const char *cn, const char *const *sans, size_t n_sans, int server, int days,
		     const char *cert_path, const char *key_path, char *errstr, size_t errstr_size)
{
	X509 *ca = read_cert(ca_cert, errstr, errstr_size), *c = NULL;
	EVP_PKEY *cakey = ca ? read_ca_key(ca_key, pass, errstr, errstr_size) : NULL, *key = NULL;
	int rc = DECONF_E_CRYPTO;

	if (!ca || !cakey)
		goto out;
	if (!(key = EVP_EC_gen("P-256")) || !(c = new_cert(key, cn, days)) ||
	    !sign_leaf(c, ca, cakey, sans, n_sans, server)) {
		rc = ssl_err(errstr, errstr_size, cn);
		goto out;
	}
	if (!(rc = write_pem(key_path, 1, key, NULL, NULL, errstr, errstr_size)))
		rc = write_pem(cert_path, 0, c, NULL, NULL, errstr, errstr_size);
out:
	X509_free(ca);
	X509_free(c);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(key);
	return rc;
}

int deconf_pki_request(const char *cn, const char *key_path, const char *csr_path,
		       char *errstr, size_t errstr_size)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int rc;

	if (!key || !req || !b) {
		rc = ssl_err(errstr, errstr_size, "certificate request");
		goto out;
	}
	if (!X509_REQ_set_version(req, 0) || !X509_REQ_set_pubkey(req, key) ||
	    !set_subject(X509_REQ_get_subject_name(req), cn) ||
	    !X509_REQ_sign(req, key, EVP_sha256()) || !PEM_write_bio_X509_REQ(b, req)) {
		rc = ssl_err(errstr, errstr_size, "certificate request");
		goto out;
	}
	/* the key first: a request without its key is worth nothing */
	if ((rc = write_pem(key_path, 1, key, NULL, NULL, errstr, errstr_size)))
		goto out;
	len = BIO_get_mem_data(b, &data);
	rc = deconf_file_write(csr_path, data, (size_t)len, 0644, 1, errstr, errstr_size);
out:
	BIO_free(b);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return rc;
}

/* The request's subject CN, or "" (into buf). */
static void request_cn(X509_REQ *req, char *buf, size_t size)
{
	X509_NAME *n = X509_REQ_get_subject_name(req);
	int i = n ? X509_NAME_get_index_by_NID(n, NID_commonName, -1) : -1;
	ASN1_STRING *s;

	buf[0] = '\0';
	if (i < 0 || X509_NAME_get_index_by_NID(n, NID_commonName, i) >= 0)
		return; /* none, or two: no single principal */
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
	if (s && (size_t)ASN1_STRING_length(s) < size &&
	    !memchr(ASN1_STRING_get0_data(s), '\0', (size_t)ASN1_STRING_length(s))) {
		memcpy(buf, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
		buf[ASN1_STRING_length(s)] = '\0';
	}
}

static int is_p256(EVP_PKEY *k)
{
	char group[64];
	size_t n;

	return EVP_PKEY_get_id(k) == EVP_PKEY_EC &&
	       EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &n) &&
	       !strcmp(group, "prime256v1");
}

int deconf_pki_issue_request(const char *ca_cert, const char *ca_key,
			     const struct deconf_pki_pass *pass, const char *csr_path,
			     const char *cn, int days, const char *cert_path, char *errstr,
			     size_t errstr_size)
{
	X509 *ca = NULL, *c = NULL;
	EVP_PKEY *cakey = NULL, *key;
	X509_REQ *req = NULL;
	char *pem = NULL, got[256];
	size_t len;
	BIO *b;
	int rc = DECONF_E_MALFORMED;

	if ((rc = deconf_file_read(csr_path, PEM_MAX, 0, &pem, &len, errstr, errstr_size)))
		return rc;
	if ((b = BIO_new_mem_buf(pem, (int)len))) {
		req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
		BIO_free(b);
	}
	free(pem);
	ERR_clear_error();
	rc = DECONF_E_MALFORMED;
	if (!req) {
		deconf_err_set(errstr, errstr_size, rc, "%s: not a certificate request (PEM)",
			       csr_path);
		goto out;
	}
	if (!(key = X509_REQ_get0_pubkey(req)) || X509_REQ_verify(req, key) != 1) {
		ERR_clear_error();
		deconf_err_set(errstr, errstr_size, rc,
			       "%s: the request's signature does not verify with its own key",
			       csr_path);
		goto out;
	}
	if (!is_p256(key)) {
		deconf_err_set(errstr, errstr_size, rc,
			       "%s: the request's key is not ECDSA P-256 (make it with "
			       "deconf-adapter init)",
			       csr_path);
		goto out;
	}
	request_cn(req, got, sizeof(got));
	if (strcmp(got, cn)) {
		deconf_err_set(errstr, errstr_size, rc,
			       "%s: the request is for CN \"%s\", not \"%s\": Kafka takes the CN "
			       "as the agency's principal",
			       csr_path, got, cn);
		goto out;
	}
	rc = DECONF_E_CRYPTO;
	if (!(ca = read_cert(ca_cert, errstr, errstr_size)) ||
	    !(cakey = read_ca_key(ca_key, pass, errstr, errstr_size)))
		goto out;
	/* only the key and the checked name come from the request */
	if (!(c = new_cert(key, cn, days)) || !sign_leaf(c, ca, cakey, NULL, 0, 0)) {
		rc = ssl_err(errstr, errstr_size, cn);
		goto out;
	}
	rc = write_pem(cert_path, 0, c, NULL, NULL, errstr, errstr_size);
out:
	X509_REQ_free(req);
	X509_free(ca);
	X509_free(c);
	EVP_PKEY_free(cakey);
	return rc;
}
