/* sign.c — Ed25519 keys, signatures and verification through OpenSSL EVP. */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/err.h"
#include "deconf/sign.h"
#include "deconf/util.h"

#define KEY_FILE_MAX (64 * 1024)

struct deconf_sign_key {
	EVP_PKEY *pkey;
	int is_private;
};

static int wrap(struct deconf_sign_key **out, EVP_PKEY *pkey, int is_private)
{
	struct deconf_sign_key *k;

	if (!(k = calloc(1, sizeof(*k)))) {
		EVP_PKEY_free(pkey);
		return DECONF_E_NOMEM;
	}
	k->pkey = pkey;
	k->is_private = is_private;
	*out = k;
	return DECONF_OK;
}

int deconf_sign_key_generate(struct deconf_sign_key **out, char *errstr,
			     size_t errstr_size)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	*out = NULL;
	if (!pkey)
		return deconf_err_set(errstr, errstr_size, DECONF_E_CRYPTO,
				      "Ed25519 key generation failed");
	return wrap(out, pkey, 1);
}

static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

int deconf_sign_key_load(struct deconf_sign_key **out, const char *path, char *errstr,
			 size_t errstr_size)
{
	char *pem = NULL;
	size_t len;
	int rc, is_private;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;

	*out = NULL;
	if ((rc = deconf_file_read(path, KEY_FILE_MAX, 0, &pem, &len, errstr, errstr_size)))
		return rc;
	is_private = strstr(pem, "PRIVATE KEY-----") != NULL;
	if (is_private) {
		/* Re-read with the privacy check so the error names the mode. */
		OPENSSL_cleanse(pem, len);
		free(pem);
		pem = NULL;
		if ((rc = deconf_file_read(path, KEY_FILE_MAX, 1, &pem, &len, errstr,
					   errstr_size)))
			return rc;
	}
	if (!(bio = BIO_new_mem_buf(pem, (int)len))) {
		rc = DECONF_E_NOMEM;
		goto out;
	}
	/* no_password: an encrypted key must fail, never prompt on a tty. */
	pkey = is_private ? PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL)
			  : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	ERR_clear_error();
	if (!pkey || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				    "%s: not an Ed25519 %s key in PEM form", path,
				    is_private ? "private" : "public");
		goto out;
	}
	rc = wrap(out, pkey, is_private);
out:
	BIO_free(bio);
	if (pem)
		OPENSSL_cleanse(pem, len);
	free(pem);
	return rc;
}

int deconf_sign_key_from_public(struct deconf_sign_key **out,
				const uint8_t raw[DECONF_PUBKEY_LEN])
{
	EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw,
						     DECONF_PUBKEY_LEN);

	*out = NULL;
	if (!pkey)
		return DECONF_E_CRYPTO;
	return wrap(out, pkey, 0);
}

static int save_pem(const struct deconf_sign_key *key, const char *path, int priv,
		    char *errstr, size_t errstr_size)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int rc;

	if (!bio)
		return DECONF_E_NOMEM;
	if (priv ? !PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL)
		 : !PEM_write_bio_PUBKEY(bio, key->pkey)) {
		BIO_free(bio);
		return deconf_err_set(errstr, errstr_size, DECONF_E_CRYPTO,
				      "%s: could not encode the key", path);
	}
	len = BIO_get_mem_data(bio, &data);
	rc = deconf_file_write(path, data, (size_t)len, priv ? 0600 : 0644, priv, errstr,
			       errstr_size);
	OPENSSL_cleanse(data, (size_t)len);
	BIO_free(bio);
	return rc;
}

int deconf_sign_key_save_private(const struct deconf_sign_key *key, const char *path,
				 char *errstr, size_t errstr_size)
{
	if (!key->is_private)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "%s: the key has no private part", path);
	return save_pem(key, path, 1, errstr, errstr_size);
}

int deconf_sign_key_save_public(const struct deconf_sign_key *key, const char *path,
				char *errstr, size_t errstr_size)
{
	return save_pem(key, path, 0, errstr, errstr_size);
}

int deconf_sign_key_public(const struct deconf_sign_key *key,
			   uint8_t raw[DECONF_PUBKEY_LEN])
{
	size_t len = DECONF_PUBKEY_LEN;

	if (!EVP_PKEY_get_raw_public_key(key->pkey, raw, &len) || len != DECONF_PUBKEY_LEN)
		return DECONF_E_CRYPTO;
	return DECONF_OK;
}

int deconf_sign_key_is_private(const struct deconf_sign_key *key)
{
	return key->is_private;
}

void deconf_sign_key_free(struct deconf_sign_key *key)
{
	if (!key)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

int deconf_sign(const struct deconf_sign_key *key, const uint8_t *msg, size_t len,
		uint8_t sig[DECONF_SIG_LEN])
{
	EVP_MD_CTX *ctx;
	size_t sig_len = DECONF_SIG_LEN;
	int rc = DECONF_E_CRYPTO;

	if (!key->is_private)
		return DECONF_E_INVAL;
	if (!(ctx = EVP_MD_CTX_new()))
		return DECONF_E_NOMEM;
	/* Ed25519 is one-shot: no digest, the whole message at once. */
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, key->pkey) == 1 &&
	    EVP_DigestSign(ctx, sig, &sig_len, msg, len) == 1 && sig_len == DECONF_SIG_LEN)
		rc = DECONF_OK;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int deconf_verify(const struct deconf_sign_key *key, const uint8_t *msg, size_t len,
		  const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx;
	int rc = DECONF_E_BADSIG;

	if (sig_len != DECONF_SIG_LEN)
		return DECONF_E_BADSIG;
	if (!(ctx = EVP_MD_CTX_new()))
		return DECONF_E_NOMEM;
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig, sig_len, msg, len) == 1)
		rc = DECONF_OK;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}
