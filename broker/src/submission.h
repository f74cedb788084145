/*
 * submission.h — what ingest accepts from an agency's submit topic, and the
 * token ops an accepted Submission becomes.
 *
 * brk_submission_check() is the whole decision for one record, without
 * Kafka: size, Envelope, type, the agency named by the topic (known and
 * active in the directory), its signature, the Submission inside, that it
 * speaks for the topic's agency, and every op: its text fields within
 * deconf/limits.h's bounds, valid UTF-8 without control characters
 * (BAD_TEXT: they reach other agencies' screens), its tokens under key
 * epochs the federation's record holds live (UNKNOWN_EPOCH, STALE_EPOCH:
 * an agency cannot move the epoch). A refused record gets one
 * RejectReason and a sentence for the agency's IT staff. Replays (a
 * submission id seen before) are the caller's to detect: it alone knows
 * what was seen.
 *
 * A record is accepted or refused whole: an op that breaks the rules
 * refuses its submission (op_index says which), so an agency never has
 * half a batch applied.
 */
#ifndef BRK_SUBMISSION_H
#define BRK_SUBMISSION_H

#include <stddef.h>
#include <stdint.h>

#include "deconf.pb-c.h"
#include "deconf/limits.h"
#include "deconf/sign.h"
#include "directory.h"

#define BRK_CASE_REF_MAX DECONF_CASE_REF_MAX
#define BRK_SUBMISSION_ID_LEN DECONF_ID_LEN
/* token-less closes packed in one token op: at most 256 case refs and 6 KiB
 * of them, so the op stays within DECONF_TOKEN_OP_MAX */
#define BRK_CLOSE_CASES_MAX 256
#define BRK_CLOSE_CASES_BYTES 6144
/* acknowledgments in one submission: each costs ingest signature checks */
#define BRK_ACKS_MAX 64

struct brk_check {
	int reason;                    /* 0 accepted, else DECONF__V1__REJECT_REASON__* */
	char detail[256];
	int op_index;                  /* the offending CaseOp, or -1 */
	Deconf__V1__Submission *sub;   /* accepted: owned, free with deconf_msg_free */
	/* the submission's id once it parsed (refused ones too), so a Reject
	 * names the submission it answers; id_len 0 when it did not parse */
	uint8_t id[BRK_SUBMISSION_ID_LEN];
	size_t id_len;
	/* acknowledged notices whose signature was checked (each costs about
	 * what a submission's own check does: the caller charges for it,
	 * refused or not) */
	uint32_t acks_checked;
};

/*
 * Check one record read from deconf.submit.<agency> (agency/agency_len:
 * the topic's suffix) at time now (ms). max_size: the largest record
 * accepted. Fills *out; returns 0, or DECONF_E_NOMEM (then nothing was
 * decided).
 */
int brk_submission_check(struct brk_directory *dir, const char *agency, size_t agency_len,
			 const uint8_t *record, size_t len, size_t max_size, int64_t now,
			 struct brk_check *out);

/*
 * The same, with notice_key (the broker's signing key, borrowed) to check
 * acknowledgments: each must carry a notice signed with it, addressed to
 * the topic's agency, of the id acknowledged and of kind CONFLICT or
 * RESTRICTED_MATCH, else the submission is refused UNKNOWN_NOTICE (its
 * op_index: n_ops + the acknowledgment's index). Without notice_key every
 * acknowledgment is refused. No state is consulted: the answer cannot
 * tell an agency whether a conflict it guessed exists.
 */
int brk_submission_check_ex(struct brk_directory *dir, const struct deconf_sign_key *notice_key,
			    const char *agency, size_t agency_len, const uint8_t *record,
			    size_t len, size_t max_size, int64_t now, struct brk_check *out);

/* The notice an acknowledgment carries when it passes the checks above
 * (owned: deconf_msg_free), else NULL. */
Deconf__V1__ConflictNotice *brk_submission_ack_notice(const Deconf__V1__Acknowledgment *a,
						      const char *agency, size_t agency_len,
						      const struct deconf_sign_key *notice_key);

/* Name of a RejectReason ("bad_signature"...). */
const char *brk_reject_reason_name(int reason);

/*
 * The token ops of an accepted submission, in order: one per TokenRef of
 * each CaseOp (op, case and its fields copied in), and for a CLOSE_CASE
 * without tokens one op with an empty token (to be sent to every
 * partition) — consecutive ones packed, up to BRK_CLOSE_CASES_MAX cases, in
 * one op listing them in close_cases (its case_ref empty). fn is called with each op, fully set (pointers into sub,
 * valid during the call); its non-zero return stops the walk and is
 * returned.
 */
typedef int(brk_token_op_fn)(void *opaque, const Deconf__V1__TokenOp *op);
int brk_submission_token_ops(const Deconf__V1__Submission *sub, int64_t ingested_at,
			     brk_token_op_fn *fn, void *opaque);

/*
 * The token ops of an accepted submission's acknowledgments, one each,
 * after its case ops: keyed by the acknowledged notice's token (so each
 * reaches the matcher partition that holds the conflict), with the
 * notice's case, ack_notice_id and ack_outcome. Only for a submission
 * brk_submission_check_ex() accepted with the same notice_key
 * (DECONF_E_INVAL otherwise).
 */
int brk_submission_ack_ops(const Deconf__V1__Submission *sub, int64_t ingested_at,
			   const struct deconf_sign_key *notice_key, brk_token_op_fn *fn,
			   void *opaque);

#endif
