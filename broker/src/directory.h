/*
 * directory.h — the broker's view of the federation's agencies.
 *
 * deconf.directory is a compacted topic keyed by agency id; each value is an
 * Envelope holding a DirectoryEntry, signed with the federation's signing
 * key (the broker's: `deconfctl federation init` makes it and signs
 * directory entries with it), and a null value (tombstone) removes an
 * agency. The broker applies every record in order and keeps, per agency,
 * the entry and its Ed25519 public key, with which ingest verifies that
 * agency's submissions and the matcher fills counterpart details.
 *
 * Records that do not verify, whose key is not the entry's agency id, or
 * whose id is not a valid agency id are refused (counted, logged by the
 * caller) and change nothing: a writer without the federation key cannot
 * add or alter an agency.
 *
 * The same topic carries the federation's key epochs: a KeyEpochs record
 * under the key "~key-epochs" (BRK_EPOCHS_KEY), signed with the same key.
 * Which epochs tokens may use is the federation's decision, never an
 * agency's: ingest refuses tokens under other epochs and the matcher
 * removes a retired epoch's entries. A record whose serial is not above
 * the one held is ignored (a replay cannot bring an epoch back).
 *
 * Thread safe: lookups take a read lock; brk_directory_get copies what the
 * caller needs, so nothing borrowed outlives a concurrent update.
 */
#ifndef BRK_DIRECTORY_H
#define BRK_DIRECTORY_H

#include <stddef.h>
#include <stdint.h>

#include "deconf.pb-c.h"
#include "deconf/limits.h"
#include "deconf/sign.h"
#include "deconf/token.h"

#define BRK_AGENCY_ID_MAX DECONF_AGENCY_ID_MAX
#define BRK_TEXT_MAX 256
#define BRK_EPOCHS_KEY DECONF_EPOCHS_RECORD_KEY
#define BRK_EPOCHS_MAX 64

/* What the broker knows of one agency (a copy; owns nothing). */
/* The largest sharing scope a directory entry may carry, serialized. */
#define BRK_SCOPE_PACKED_MAX 4096

struct brk_agency {
	char id[BRK_AGENCY_ID_MAX + 1];
	char name[BRK_TEXT_MAX];
	char country[8];
	int level;                  /* DECONF__V1__AGENCY_LEVEL__* */
	int status;                 /* DECONF__V1__AGENCY_STATUS__* */
	char poc_name[BRK_TEXT_MAX], poc_phone[64], poc_email[BRK_TEXT_MAX];
	uint8_t public_key[DECONF_PUBKEY_LEN];
	int64_t updated_at;
	/* its sharing scope, serialized (deconf/scope.h; 0 bytes: unset, so
	 * open), and whether it lets its liaison desk be named outside it */
	uint8_t scope[BRK_SCOPE_PACKED_MAX];
	size_t scope_len;
	int name_liaison;
	/* the liaison desk ("" when none is named) */
	char liaison_name[BRK_TEXT_MAX], liaison_phone[64], liaison_email[BRK_TEXT_MAX];
};

struct brk_directory;

/* An empty directory trusting entries signed by federation_key (borrowed). */
int brk_directory_new(struct brk_directory **out,
		      const struct deconf_sign_key *federation_key);
void brk_directory_free(struct brk_directory *d);

/*
 * Apply one record of deconf.directory: key = agency id, value = signed
 * Envelope, or value NULL for a tombstone. Returns 0 when applied,
 * otherwise a DECONF_E_* code with errstr saying why it was refused.
 */
int brk_directory_apply(struct brk_directory *d, const void *key, size_t key_len,
			const void *value, size_t value_len, char *errstr,
			size_t errstr_size);

/*
 * Copy agency id's details into *out. Returns 0, or DECONF_E_UNKNOWN when
 * the directory has no such agency.
 */
int brk_directory_get(struct brk_directory *d, const void *id, size_t id_len,
		      struct brk_agency *out);

/*
 * The verifying key of agency id, for ingest. Returns 0 and *key (owned by
 * the caller, free with deconf_sign_key_free) when the agency is known and
 * ACTIVE; DECONF_E_UNKNOWN when unknown; DECONF_E_PERM when suspended or
 * removed.
 */
int brk_directory_key(struct brk_directory *d, const void *id, size_t id_len,
		      struct deconf_sign_key **key);

/* Number of agencies known (any status). */
size_t brk_directory_count(struct brk_directory *d);

/*
 * Copy the i-th agency known, in the order of their ids, into *out (to list
 * them: deconfctl). Returns 0, or DECONF_E_UNKNOWN when i is past the end.
 * A record applied meanwhile may shift the agencies: list from one thread,
 * between applies.
 */
int brk_directory_at(struct brk_directory *d, size_t i, struct brk_agency *out);

/* The federation's key epochs (a copy). */
struct brk_epochs {
	uint64_t serial;       /* 0: none published */
	int64_t updated_at;
	size_t n;
	struct brk_epoch {
		uint32_t epoch;
		int64_t activated_at, retire_at; /* retire_at 0: live */
	} v[BRK_EPOCHS_MAX];   /* ascending */
};

/* Copy the key epochs into *out (out->serial 0 when none was published). */
void brk_directory_epochs(struct brk_directory *d, struct brk_epochs *out);

/* What the federation says of epoch at time now: 1 live (tokens may use
 * it), 0 retired (listed with retire_at <= now), -1 not published. With
 * no record at all (a federation from before key-epoch records), epoch 1
 * alone is live. */
int brk_epochs_state(const struct brk_epochs *e, uint32_t epoch, int64_t now);


#endif
