/*
 * receipts.h — the broker's answers to this agency's submissions.
 *
 * The broker answers every submission it decides on with a Receipt signed
 * with its key, on <prefix>receipts.<agency> (key: the submission id), in
 * the same Kafka transaction as what it answers: ACCEPTED (its token ops
 * will all be applied; `resend`: an identical resend, applied once) or
 * REFUSED (reason, op index, detail; nothing of it was applied). An agency
 * the directory does not know gets no answer at all.
 *
 * Receipts are read by the inbox (inbox.h: offsets in the ledger,
 * signatures checked, records for another agency refused). Each one is
 * matched to a submission the ledger is waiting for — by its submission
 * id, or, when the broker refused the record before it could read the id
 * (a suspended agency, a bad signature), by the submit topic's partition
 * and offset, which the ledger kept from Kafka's delivery report — and
 * decides that submission's entries (ledger.h has the states):
 *
 *   accepted  ADD/RENEW entries CONFIRMED, REMOVE/CLOSE entries deleted;
 *             the submission's record is deleted;
 *   refused   ADD/RENEW entries REFUSED, REMOVE/CLOSE entries
 *             REMOVE_REFUSED, with the reason; the submission's record is
 *             kept, with reason, op index, detail and envelope.
 *
 * Only entries whose submission id is still that submission's are
 * decided. An accepted answer wins over a refusal (an outbox resend of the
 * same record may be decided twice); a refusal never undoes an acceptance.
 * A receipt for a submission the ledger does not wait for (decided
 * already, or not ours) is a duplicate: dropped.
 *
 * What becomes of refused entries depends on the reason (adp_refusal_rule,
 * applied by confirm.c at the start of every publishing command and of the
 * daemon's rounds):
 *
 *   suspended_agency, unknown_agency
 *       ADP_RULE_WHEN_ACTIVE: sent again, under a new submission id, once
 *       the agency's own entry in the federation's directory says ACTIVE
 *       (the adapter reads it; until then they are held, and said so).
 *       The broker sends an unknown agency no receipt at all: when a wait
 *       ends unanswered and the directory has no entry for the agency, the
 *       adapter records the refusal itself (unknown_agency, "inferred").
 *   replayed
 *       ADP_RULE_RESEND: sent again at once under a new id (the old id or
 *       its time was spent, e.g. an outbox held past the replay window).
 *   bad_text, invalid_op, stale_epoch, unknown_epoch, unprocessable
 *       ADP_RULE_FIX_INPUT: the offending op's entries stay REFUSED until
 *       the input changes them (or, for an epoch, `resubmit` under the
 *       current key); the submission's other ops, refused only for being
 *       in its company, are sent again at once. Without an op index the
 *       whole submission stays refused.
 *   malformed, oversized, unsigned, bad_signature, foreign_agency,
 *   unknown_fields, wrong_type, bad_version, and any reason this build does
 *   not know
 *       ADP_RULE_FIX_SETUP: the agency's setup or software is at fault
 *       (its key in the directory, agency.id, submit.max_batch_bytes, the
 *       adapter's version): the entries stay REFUSED until `submit
 *       --retry-refused` after the fix.
 *
 * Every publishing command says, each time, what stays refused and why.
 */
#ifndef ADP_RECEIPTS_H
#define ADP_RECEIPTS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "agency.h"
#include "deconf.pb-c.h"
#include "inbox.h"
#include "ledger.h"

enum adp_refusal_rule {
	ADP_RULE_WHEN_ACTIVE = 1,
	ADP_RULE_RESEND = 2,
	ADP_RULE_FIX_INPUT = 3,
	ADP_RULE_FIX_SETUP = 4,
};

/* The rule for a RejectReason (above). */
int adp_refusal_rule(int reason);
/* What happens next to entries under rule, a phrase ("sent again once the
 * agency is active in the directory"). Static. */
const char *adp_refusal_next(int rule);
/* "suspended_agency": the RejectReason's name from the wire's descriptor,
 * lower case, without its prefix, into buf; "reason_N" when unknown. */
const char *adp_reason_name(int reason, char *buf, size_t size);

/* A decision on one submission: a receipt's, or one the adapter inferred. */
struct adp_decision {
	int result;          /* DECONF__V1__RECEIPT_RESULT__RECEIPT_RESULT_* */
	int reason;          /* refused: RejectReason */
	int32_t op_index;    /* refused: the offending CaseOp, or -1 */
	const char *detail;  /* refused: the broker's sentence (may be NULL) */
	int resend;          /* accepted: an identical resend, applied once */
	uint32_t case_ops, token_ops; /* accepted: counts, as the broker saw them */
	int64_t decided_at;  /* ms */
	int32_t partition;   /* the submit record answered, when known; */
	int64_t offset;      /* -1 otherwise */
	int inferred;        /* no receipt: the adapter concluded it */
};

/* What one decision did, for callers (inside the ledger transaction that
 * stored it; every pointer valid until the callback returns). */
struct adp_receipt_event {
	uint8_t submission_id[ADP_SUBMISSION_ID_LEN];
	struct adp_decision d;
	size_t entries;              /* ledger entries it decided */
	const char *const *cases;    /* the submission's case refs (ours, from the
				        ledger: raw, escape before showing) */
	size_t n_cases;
	int queries;                 /* it held QUERY ops (answers come as notices) */
};

typedef void(adp_receipt_cb)(void *opaque, const struct adp_receipt_event *ev);

/* What to do with each decision: tell cb, queue it for the webhook. */
struct adp_receipts_ctx {
	adp_receipt_cb *cb;
	void *opaque;
	int queue_webhook;
	/* where the agency's submit topic is: a receipt refusing an unread
	 * record names it by topic, partition and offset */
	char submit_topic[256];
};

/*
 * The receipts kind for adp_inbox_read(). Lost receipts matter only when
 * the ledger holds submissions waiting for one. ctx must outlive k.
 */
void adp_receipts_kind_init(struct adp_inbox_kind *k, struct adp_receipts_ctx *ctx,
			    const struct adp_agency *a);

/*
 * Decide submission id with d (receipts.h's rules, inside t). *applied = 1
 * when the ledger was waiting for it (then cb, and the webhook queue, got
 * it), 0 when it was not (a duplicate). Returns 0 or an error.
 */
int adp_receipts_decide(struct adp_ledger_txn *t, const uint8_t id[ADP_SUBMISSION_ID_LEN],
			const struct adp_decision *d, const struct adp_receipts_ctx *ctx,
			int *applied);

/*
 * A decision as JSON, one object (the daemon's outbox lines and webhook
 * bodies, and the receipts of a spool file's .result): "record":
 * "receipt", the submission id (hex), "result" ("accepted", "refused"),
 * counts, for a refusal "reason", "op_index", "detail" and "next" (what
 * becomes of the entries), "cases" (the case refs), "inferred". All text
 * made valid UTF-8 and written ASCII-only like notices (notices.h).
 * Returns a json_t (the caller's) or NULL when out of memory.
 */
json_t *adp_receipt_json_object(const struct adp_receipt_event *ev);
/* The same as one line (no newline), malloc'ed; NULL when out of memory. */
char *adp_receipt_json(const struct adp_receipt_event *ev);

/* A refused decision in plain words for a terminal (escaped), e.g.
 * "refused (suspended_agency): ...; cases A-1, A-2 (3 entries): sent
 * again once ...". */
void adp_receipt_print(FILE *out, const struct adp_receipt_event *ev);

/*
 * The agency's own status in the federation's directory
 * (<prefix>directory, its entry keyed by agency id, signed with the
 * federation's key = agency.broker_public_key): *status is an AgencyStatus,
 * 0 when the directory has no entry for it. Returns 0, or an error with
 * errstr when the directory cannot be read (then nothing is known).
 */
int adp_directory_status(struct adp_agency *a, int *status, char *errstr, size_t errstr_size);

#endif
