/*
 * ledger.h — the agency's local ledger (LMDB): what the adapter has
 * published, and what it is about to.
 *
 * The ledger is the only place besides the agency's own files where a raw
 * indicator value lives next to its token; it never leaves the agency's
 * machine. It answers three questions:
 *   - which (case, token, epoch) entries exist and whether they are
 *     published (so re-running a file publishes only what changed);
 *   - which signed submissions were handed to Kafka but not yet confirmed
 *     delivered (the outbox: after a crash they are sent again verbatim,
 *     and the broker drops those it already has by submission id);
 *   - which notices were already received (duplicates are dropped), and the
 *     raw value and case behind a notice's token.
 *
 * Databases (one LMDB environment, one writer process):
 *   entries  key = u8 len | case_ref | token[16] | u32be epoch
 *            value = struct adp_entry in a compact binary form
 *   cases    key = case_ref; value = digest of the case-level fields last
 *            published (a changed POC, visibility, flags or expiry re-sends)
 *   outbox   key = submission_id[16]; value = the signed Envelope bytes
 *   notices  key = notice_id; value = the Envelope bytes as received
 *   caseinfo key = case_ref; value = struct adp_case_info (for resubmit)
 *   webhook  key = notice_id; value = JSON body not yet acknowledged
 *   meta     key = a name; value = an int64 (e.g. notices topic offsets,
 *            stored with the notices they cover, in one transaction)
 *
 * Every write goes through an explicit transaction (adp_ledger_txn); a
 * commit is durable (LMDB syncs on commit).
 */
#ifndef ADP_LEDGER_H
#define ADP_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#define ADP_LEDGER_CASE_MAX 128
#define ADP_SUBMISSION_ID_LEN 16

enum adp_entry_state {
	ADP_ENTRY_PENDING = 1,  /* in an outbox submission, not yet confirmed */
	ADP_ENTRY_LIVE = 2,     /* delivered to Kafka */
	ADP_ENTRY_REMOVING = 3, /* a REMOVE/CLOSE is in the outbox */
	ADP_ENTRY_QUERY = 4,    /* asked by a query, never registered: kept
				   only to show answers next to the raw value */
};

struct adp_entry {
	uint8_t token[16];
	uint32_t epoch;
	int type;                 /* DECONF__V1__INDICATOR_TYPE__* */
	uint8_t state;            /* enum adp_entry_state */
	int64_t valid_from, valid_to;
	int64_t published_at;     /* ms; 0 while pending */
	uint8_t submission_id[ADP_SUBMISSION_ID_LEN]; /* last op's submission */
	uint8_t case_digest[8];   /* case-level fields (POC, visibility, flags,
				     expiry) it was last published with */
	/* Borrowed from the ledger on read: valid until the next write in the
	 * same transaction, or its end;
	 * the caller's on write. */
	const char *value;        /* raw value as the agency gave it */
	size_t value_len;
	const char *qualifier;    /* platform / jurisdiction, or NULL */
};

struct adp_ledger;
struct adp_ledger_txn;

/*
 * Open (creating) the ledger in directory dir, mode 0700, with a map of
 * map_size bytes. Returns 0 or an error with errstr naming dir.
 */
int adp_ledger_open(struct adp_ledger **out, const char *dir, size_t map_size,
		    char *errstr, size_t errstr_size);
void adp_ledger_close(struct adp_ledger *l);

/* Begin a transaction (read-only when rdonly). */
int adp_ledger_begin(struct adp_ledger *l, int rdonly, struct adp_ledger_txn **out);
/* Commit (durable) and free. On failure the transaction is aborted. */
int adp_ledger_commit(struct adp_ledger_txn *t);
/* Abort and free. NULL-safe. */
void adp_ledger_abort(struct adp_ledger_txn *t);

/* 0 and *e filled, DECONF_E_UNKNOWN when absent. */
int adp_ledger_get(struct adp_ledger_txn *t, const char *case_ref, const uint8_t token[16],
		   uint32_t epoch, struct adp_entry *e);
int adp_ledger_put(struct adp_ledger_txn *t, const char *case_ref,
		   const struct adp_entry *e);
int adp_ledger_del(struct adp_ledger_txn *t, const char *case_ref, const uint8_t token[16],
		   uint32_t epoch);

/*
 * Call fn for each entry of case_ref (NULL: every entry of every case), in
 * key order. fn returns 0 to go on, non-zero to stop (that value is
 * returned). fn must not write through t while iterating.
 */
typedef int(adp_entry_fn)(void *opaque, const char *case_ref, const struct adp_entry *e);
int adp_ledger_foreach(struct adp_ledger_txn *t, const char *case_ref, adp_entry_fn *fn,
		       void *opaque);

/* Case-level digest (32 bytes): get (DECONF_E_UNKNOWN if none), put, del. */
int adp_ledger_case_get(struct adp_ledger_txn *t, const char *case_ref,
			uint8_t digest[32]);
int adp_ledger_case_put(struct adp_ledger_txn *t, const char *case_ref,
			const uint8_t digest[32]);
int adp_ledger_case_del(struct adp_ledger_txn *t, const char *case_ref);

/*
 * The case-level fields last published for a case (what resubmit needs to
 * publish its entries again under a new key epoch). Strings are
 * NUL-terminated, borrowed like entry values on get; NULL when empty.
 */
struct adp_case_info {
	int visibility;
	uint32_t caution_flags;
	int64_t expires_at;
	const char *poc_name, *poc_phone, *poc_email, *poc_unit;
};
int adp_ledger_case_info_get(struct adp_ledger_txn *t, const char *case_ref,
			     struct adp_case_info *ci);
int adp_ledger_case_info_put(struct adp_ledger_txn *t, const char *case_ref,
			     const struct adp_case_info *ci);

/* Outbox of signed submissions not yet confirmed delivered. */
int adp_ledger_outbox_put(struct adp_ledger_txn *t, const uint8_t id[ADP_SUBMISSION_ID_LEN],
			  const uint8_t *envelope, size_t len);
/* The envelope of id, borrowed until the transaction ends; DECONF_E_UNKNOWN. */
int adp_ledger_outbox_get(struct adp_ledger_txn *t, const uint8_t id[ADP_SUBMISSION_ID_LEN],
			  const uint8_t **envelope, size_t *len);
int adp_ledger_outbox_del(struct adp_ledger_txn *t,
			  const uint8_t id[ADP_SUBMISSION_ID_LEN]);
typedef int(adp_outbox_fn)(void *opaque, const uint8_t id[ADP_SUBMISSION_ID_LEN],
			   const uint8_t *envelope, size_t len);
int adp_ledger_outbox_foreach(struct adp_ledger_txn *t, adp_outbox_fn *fn, void *opaque);
size_t adp_ledger_outbox_count(struct adp_ledger_txn *t);

/* Notices: 1 if notice_id was stored before, else 0. */
int adp_ledger_notice_seen(struct adp_ledger_txn *t, const uint8_t *id, size_t len);
int adp_ledger_notice_put(struct adp_ledger_txn *t, const uint8_t *id, size_t len,
			  const uint8_t *envelope, size_t env_len);
typedef int(adp_notice_fn)(void *opaque, const uint8_t *envelope, size_t len);
int adp_ledger_notice_foreach(struct adp_ledger_txn *t, adp_notice_fn *fn, void *opaque);

/*
 * Webhook deliveries not yet acknowledged, keyed by notice id; the value is
 * the JSON body. Put in the same transaction as the notice, so a notice is
 * never dropped when the webhook is down or the adapter dies.
 */
int adp_ledger_hook_put(struct adp_ledger_txn *t, const uint8_t *id, size_t len,
			const char *body, size_t body_len);
int adp_ledger_hook_del(struct adp_ledger_txn *t, const uint8_t *id, size_t len);
typedef int(adp_hook_fn)(void *opaque, const uint8_t *id, size_t id_len, const char *body,
			 size_t body_len);
int adp_ledger_hook_foreach(struct adp_ledger_txn *t, adp_hook_fn *fn, void *opaque);
size_t adp_ledger_hook_count(struct adp_ledger_txn *t);

/* Small named integers (consumer offsets): get (DECONF_E_UNKNOWN), put. */
int adp_ledger_meta_get(struct adp_ledger_txn *t, const char *name, int64_t *v);
int adp_ledger_meta_put(struct adp_ledger_txn *t, const char *name, int64_t v);

/* Number of entries in the ledger. */
size_t adp_ledger_entry_count(struct adp_ledger_txn *t);

#endif
