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
 *   entries  key = u8 len | case_ref | token[DECONF_TOKEN_LEN] | u32be epoch
 *            value = struct adp_entry in a compact binary form
 *   cases    key = case_ref; value = digest of the case-level fields last
 *            published (a changed POC, visibility, flags or expiry re-sends)
 *   outbox   key = submission_id[16]; value = the signed Envelope bytes
 *   submissions key = submission_id[16]; value = struct adp_sub (delivered,
 *            waiting for its receipt, or refused) with its envelope
 *   notices  key = notice_id; value = the Envelope bytes as received
 *   caseinfo key = case_ref; value = struct adp_case_info (for resubmit)
 *   webhook  key = notice_id; value = JSON body not yet acknowledged
 *   acks     key = notice_id; value = struct adp_ack: this agency's
 *            acknowledgments of that notice (outcomes, the last one sent)
 *   meta     key = a name; value = an int64 (e.g. notices and receipts
 *            topic offsets, stored with the records they cover, in one
 *            transaction; records lost below an offset, inbox.h)
 *
 * Every write goes through an explicit transaction (adp_ledger_txn); a
 * commit is durable (LMDB syncs on commit).
 */
#ifndef ADP_LEDGER_H
#define ADP_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "deconf/limits.h"

#define ADP_LEDGER_CASE_MAX DECONF_CASE_REF_MAX
#define ADP_SUBMISSION_ID_LEN DECONF_ID_LEN

enum adp_entry_state {
	ADP_ENTRY_PENDING = 1,  /* an ADD/RENEW in the outbox, not yet delivered */
	ADP_ENTRY_SENT = 2,     /* delivered to Kafka, no receipt yet (unconfirmed);
				   "live" in ledgers from before receipts */
	ADP_ENTRY_REMOVING = 3, /* a REMOVE/CLOSE of it is in the outbox or
				   delivered, not yet confirmed */
	ADP_ENTRY_QUERY = 4,    /* asked by a query, never registered: kept
				   only to show answers next to the raw value */
	ADP_ENTRY_CONFIRMED = 5, /* its submission's receipt said accepted */
	ADP_ENTRY_REFUSED = 6,  /* its ADD/RENEW was refused (reason) */
	ADP_ENTRY_REMOVE_REFUSED = 7, /* its REMOVE/CLOSE was refused: the
					 federation may still hold it */
};

/* Whether a state is one of the above (a newer adapter's is not). */
#define ADP_ENTRY_STATE_VALID(s) ((s) >= ADP_ENTRY_PENDING && (s) <= ADP_ENTRY_REMOVE_REFUSED)

struct adp_entry {
	uint8_t token[DECONF_TOKEN_LEN];
	uint32_t epoch;
	int type;                 /* DECONF__V1__INDICATOR_TYPE__* */
	uint8_t state;            /* enum adp_entry_state */
	int64_t valid_from, valid_to;
	int64_t published_at;     /* ms; 0 while pending */
	uint8_t submission_id[ADP_SUBMISSION_ID_LEN]; /* last op's submission */
	uint8_t case_digest[8];   /* case-level fields (POC, visibility, flags,
				     expiry) it was last published with */
	uint8_t reason;           /* REFUSED, REMOVE_REFUSED: the RejectReason;
				     0 otherwise */
	int64_t decided_at;       /* ms: when its submission's receipt came;
				     0 while none has */
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
int adp_ledger_get(struct adp_ledger_txn *t, const char *case_ref, const uint8_t token[DECONF_TOKEN_LEN],
		   uint32_t epoch, struct adp_entry *e);
int adp_ledger_put(struct adp_ledger_txn *t, const char *case_ref,
		   const struct adp_entry *e);
int adp_ledger_del(struct adp_ledger_txn *t, const char *case_ref, const uint8_t token[DECONF_TOKEN_LEN],
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
	int event_kind; /* an event's EventKind; 0: the case is no event */
	const char *disclose_to; /* the case's scope (text form), or NULL */
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

/*
 * Submissions delivered to Kafka and not yet accepted by the broker: the
 * ones waiting for a receipt (SENT), and the refused ones (REFUSED) for as
 * long as an entry refers to them. An accepted submission's record is
 * deleted (its entries say CONFIRMED), so a receipt for a submission id
 * the ledger does not hold is a duplicate or not ours.
 */
enum adp_sub_status {
	ADP_SUB_SENT = 1,    /* delivered, waiting for its receipt */
	ADP_SUB_REFUSED = 2, /* the broker's receipt refused it */
};

#define ADP_SUB_DETAIL_MAX 255 /* bytes of a refusal's detail kept */

struct adp_sub {
	uint8_t status;        /* enum adp_sub_status */
	uint8_t reason;        /* REFUSED: the RejectReason */
	int32_t op_index;      /* REFUSED: the offending CaseOp, or -1 */
	int32_t partition;     /* where Kafka stored the submit record (the */
	int64_t offset;        /* broker's receipt names it), -1 unknown */
	int64_t sent_at;       /* ms: delivered */
	int64_t decided_at;    /* ms: refused (0 while SENT) */
	/* Borrowed from the ledger on get (valid until the next write or the
	 * transaction's end); the caller's on put. detail: not NUL-terminated,
	 * at most ADP_SUB_DETAIL_MAX bytes (longer is cut on put). */
	const char *detail;
	size_t detail_len;
	const uint8_t *envelope; /* the signed Submission as sent */
	size_t envelope_len;
};

/* 0 and *s filled, DECONF_E_UNKNOWN when absent, DECONF_E_MALFORMED. */
int adp_ledger_sub_get(struct adp_ledger_txn *t, const uint8_t id[ADP_SUBMISSION_ID_LEN],
		       struct adp_sub *s);
int adp_ledger_sub_put(struct adp_ledger_txn *t, const uint8_t id[ADP_SUBMISSION_ID_LEN],
		       const struct adp_sub *s);
/* 0 also when absent. */
int adp_ledger_sub_del(struct adp_ledger_txn *t, const uint8_t id[ADP_SUBMISSION_ID_LEN]);
/* Every record in id order; fn as for adp_ledger_foreach (no writes). */
typedef int(adp_sub_fn)(void *opaque, const uint8_t id[ADP_SUBMISSION_ID_LEN],
			const struct adp_sub *s);
int adp_ledger_sub_foreach(struct adp_ledger_txn *t, adp_sub_fn *fn, void *opaque);
/* Records with this status (0: all). */
size_t adp_ledger_sub_count(struct adp_ledger_txn *t, int status);

/* Notices: 1 if notice_id was stored before, else 0. */
int adp_ledger_notice_seen(struct adp_ledger_txn *t, const uint8_t *id, size_t len);
int adp_ledger_notice_put(struct adp_ledger_txn *t, const uint8_t *id, size_t len,
			  const uint8_t *envelope, size_t env_len);
/* The envelope stored for notice_id (borrowed until the transaction's next
 * write or end): 0, or DECONF_E_UNKNOWN. */
int adp_ledger_notice_get(struct adp_ledger_txn *t, const uint8_t *id, size_t len,
			  const uint8_t **envelope, size_t *env_len);
typedef int(adp_notice_fn)(void *opaque, const uint8_t *envelope, size_t len);

/*
 * This agency's acknowledgments of one notice (by its id): the outcomes the
 * broker accepted (bit 1 << Outcome), the last one sent, its submission
 * and what its receipt said.
 */
enum adp_ack_state {
	ADP_ACK_SENT = 1,      /* sent, no receipt yet */
	ADP_ACK_CONFIRMED = 2, /* the broker accepted the last one */
	ADP_ACK_REFUSED = 3,   /* the broker refused the last one */
};

struct adp_ack {
	uint32_t outcomes;  /* accepted by the broker */
	uint8_t last;       /* Outcome of the last one sent */
	uint8_t state;      /* enum adp_ack_state, of the last one */
	int64_t at;         /* ms: when the last one was sent */
	uint8_t submission_id[ADP_SUBMISSION_ID_LEN];
};

/* 0, DECONF_E_UNKNOWN (none sent), DECONF_E_MALFORMED. */
int adp_ledger_ack_get(struct adp_ledger_txn *t, const uint8_t id[DECONF_ID_LEN],
		       struct adp_ack *a);
int adp_ledger_ack_put(struct adp_ledger_txn *t, const uint8_t id[DECONF_ID_LEN],
		       const struct adp_ack *a);
int adp_ledger_notice_foreach(struct adp_ledger_txn *t, adp_notice_fn *fn, void *opaque);

/*
 * Webhook deliveries not yet acknowledged, keyed by notice id (or, for a
 * receipt, a key receipts.c makes: never 16 bytes long, so never a notice
 * id); the value is the JSON body. Put in the same transaction as the
 * notice or receipt, so nothing is dropped when the webhook is down or the
 * adapter dies.
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
