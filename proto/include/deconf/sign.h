/*
 * deconf/sign.h — Ed25519 signing keys (OpenSSL EVP).
 *
 * A key is either private (can sign and verify) or public only (verify).
 * Private keys are stored as PKCS#8 PEM, mode 0600, and refused when group
 * or others can read them; public keys as SubjectPublicKeyInfo PEM, or as
 * the raw 32 bytes carried in DirectoryEntry.signing_public_key.
 */
#ifndef DECONF_SIGN_H
#define DECONF_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define DECONF_SIG_LEN 64
#define DECONF_PUBKEY_LEN 32

struct deconf_sign_key;

/* A fresh private key. Returns 0 or DECONF_E_CRYPTO. */
int deconf_sign_key_generate(struct deconf_sign_key **out, char *errstr,
			     size_t errstr_size);

/*
 * Load a PEM file: a private key (must not be group/world readable) or a
 * public key. Returns 0, errno, DECONF_E_PERM or DECONF_E_MALFORMED.
 */
int deconf_sign_key_load(struct deconf_sign_key **out, const char *path, char *errstr,
			 size_t errstr_size);

/* A public-only key from its raw 32 bytes. */
int deconf_sign_key_from_public(struct deconf_sign_key **out,
				const uint8_t raw[DECONF_PUBKEY_LEN]);

/* Write the private key (0600, refuses to overwrite) / public key (0644). */
int deconf_sign_key_save_private(const struct deconf_sign_key *key, const char *path,
				 char *errstr, size_t errstr_size);
int deconf_sign_key_save_public(const struct deconf_sign_key *key, const char *path,
				char *errstr, size_t errstr_size);

/* The raw 32-byte public key. */
int deconf_sign_key_public(const struct deconf_sign_key *key,
			   uint8_t raw[DECONF_PUBKEY_LEN]);

/* 1 if the key can sign. */
int deconf_sign_key_is_private(const struct deconf_sign_key *key);

void deconf_sign_key_free(struct deconf_sign_key *key);

/* Sign msg. Returns 0, DECONF_E_INVAL (public-only key) or DECONF_E_CRYPTO. */
int deconf_sign(const struct deconf_sign_key *key, const uint8_t *msg, size_t len,
		uint8_t sig[DECONF_SIG_LEN]);

/* Returns 0 if sig is a valid signature of msg, else DECONF_E_BADSIG. */
int deconf_verify(const struct deconf_sign_key *key, const uint8_t *msg, size_t len,
		  const uint8_t *sig, size_t sig_len);

#endif
