/*
 * deconf/token.h — indicator tokens and the federation key file.
 *
 *   token = first 16 bytes of HMAC-SHA256(K[epoch], "deconf:v1:" type ":" canonical)
 *
 * K is the federation key of one epoch: 32 random bytes made by `deconfctl
 * federation init` (epoch 1) and `rotate-key` (epoch N+1), handed to the
 * agencies and never loaded by the broker. The key file holds every epoch:
 *
 *     # comment
 *     deconf-keyring 1
 *     epoch 1 <64 hex digits> created 1764300000
 *     epoch 2 <64 hex digits> created 1772000000
 *
 * It is written with mode 0600 and refused when group or others can read it.
 * The current epoch is the highest one.
 *
 * A tokenizer precomputes the HMAC inner and outer SHA-256 states of one
 * epoch's key, so a token costs two SHA-256 compressions and no allocation.
 * A tokenizer is not thread safe: use one per thread.
 */
#ifndef DECONF_TOKEN_H
#define DECONF_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "deconf/limits.h" /* DECONF_TOKEN_LEN */

#define DECONF_KEY_LEN 32
#define DECONF_CANONICAL_MAX 2048 /* longest canonical value hashed */

/* The record key of the federation's signed KeyEpochs record on the
 * directory topic (never an agency id: those start with [a-z0-9]). Which
 * epochs tokens may use is the federation's decision, not an agency's. */
#define DECONF_EPOCHS_RECORD_KEY "~key-epochs"

struct deconf_keyring;
struct deconf_tokenizer;

/* An empty keyring. */
int deconf_keyring_new(struct deconf_keyring **out);

/*
 * Load a key file. Refuses group/world-readable files (DECONF_E_PERM) and
 * malformed ones (DECONF_E_MALFORMED, errstr "path:line: reason").
 */
int deconf_keyring_load(struct deconf_keyring **out, const char *path, char *errstr,
			size_t errstr_size);

/*
 * Write the key file atomically with mode 0600. With exclusive set, refuses
 * to overwrite an existing file.
 */
int deconf_keyring_save(const struct deconf_keyring *ring, const char *path,
			int exclusive, char *errstr, size_t errstr_size);

/* Add epoch with key. DECONF_E_EXISTS if the epoch is already there. */
int deconf_keyring_add(struct deconf_keyring *ring, uint32_t epoch,
		       const uint8_t key[DECONF_KEY_LEN], int64_t created);

/* Add current+1 with a fresh random key; *epoch receives its number. */
int deconf_keyring_rotate(struct deconf_keyring *ring, uint32_t *epoch);

/* The highest epoch, 0 if empty. */
uint32_t deconf_keyring_current(const struct deconf_keyring *ring);

/* Number of epochs and the i-th (ascending). */
size_t deconf_keyring_count(const struct deconf_keyring *ring);
uint32_t deconf_keyring_epoch_at(const struct deconf_keyring *ring, size_t i);

/* Borrowed key of epoch, NULL if absent. */
const uint8_t *deconf_keyring_key(const struct deconf_keyring *ring, uint32_t epoch);

/* Frees and wipes the keys. NULL-safe. */
void deconf_keyring_free(struct deconf_keyring *ring);

/* A tokenizer for epoch (DECONF_E_UNKNOWN if the ring lacks it). */
int deconf_tokenizer_new(struct deconf_tokenizer **out,
			 const struct deconf_keyring *ring, uint32_t epoch);
uint32_t deconf_tokenizer_epoch(const struct deconf_tokenizer *tk);
void deconf_tokenizer_free(struct deconf_tokenizer *tk);

/*
 * The token of a canonical value of an indicator type (by name, e.g.
 * "phone"). Returns 0, or DECONF_E_INVAL for an unknown type name or a
 * value longer than DECONF_CANONICAL_MAX.
 */
int deconf_token(struct deconf_tokenizer *tk, int type, const uint8_t *canonical,
		 size_t len, uint8_t out[DECONF_TOKEN_LEN]);

/*
 * Indicator type names, the ones hashed into tokens: "phone", "email", "ip",
 * "username", "url", "domain", "md5", "sha1", "sha256", "btc", "eth",
 * "imei", "mac", "vehicle". Types are DECONF__V1__INDICATOR_TYPE__* values.
 */
const char *deconf_indicator_type_name(int type); /* NULL if unknown */
int deconf_indicator_type_parse(const char *name); /* 0 if unknown */

#endif
