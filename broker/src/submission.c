/* submission.c — ingest's checks and token ops (see submission.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/token.h"
#include "submission.h"

#define R(x) DECONF__V1__REJECT_REASON__REJECT_REASON_##x
#define CAUTION_ALL 0x3fu /* every CautionFlag bit */

static const char *const reason_names[] = {
	[R(UNSPECIFIED)] = "unspecified",
	[R(MALFORMED)] = "malformed",
	[R(OVERSIZED)] = "oversized",
	[R(UNSIGNED)] = "unsigned",
	[R(BAD_SIGNATURE)] = "bad_signature",
	[R(REPLAYED)] = "replayed",
	[R(FOREIGN_AGENCY)] = "foreign_agency",
	[R(UNKNOWN_AGENCY)] = "unknown_agency",
	[R(SUSPENDED_AGENCY)] = "suspended_agency",
	[R(UNKNOWN_FIELDS)] = "unknown_fields",
	[R(INVALID_OP)] = "invalid_op",
	[R(WRONG_TYPE)] = "wrong_type",
	[R(BAD_VERSION)] = "bad_version",
	[R(STALE_EPOCH)] = "stale_epoch",
};

const char *brk_reject_reason_name(int reason)
{
	if (reason < 0 || (size_t)reason >= sizeof(reason_names) / sizeof(reason_names[0]) ||
	    !reason_names[reason])
		return "unknown";
	return reason_names[reason];
}

static int refuse(struct brk_check *out, int reason, int op_index, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int refuse(struct brk_check *out, int reason, int op_index, const char *fmt, ...)
{
	va_list ap;

	out->reason = reason;
	out->op_index = op_index;
	va_start(ap, fmt);
	vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
	va_end(ap);
	return DECONF_OK;
}

/* The rules an op must follow; 0 or a sentence in why. */
static int op_ok(const Deconf__V1__CaseOp *op, char *why, size_t size)
{
	if (op->case_ref.len < 1 || op->case_ref.len > BRK_CASE_REF_MAX) {
		snprintf(why, size, "case_ref must be 1..%d bytes", BRK_CASE_REF_MAX);
		return -1;
	}
	if (op->op < DECONF__V1__OP__OP_ADD || op->op > DECONF__V1__OP__OP_QUERY) {
		snprintf(why, size, "op %d is not add, renew, remove, close_case or query",
			 (int)op->op);
		return -1;
	}
	if (op->visibility < DECONF__V1__VISIBILITY__VISIBILITY_UNSPECIFIED ||
	    op->visibility > DECONF__V1__VISIBILITY__VISIBILITY_RESTRICTED) {
		snprintf(why, size, "visibility %d is unknown", (int)op->visibility);
		return -1;
	}
	if (op->caution_flags & ~CAUTION_ALL) {
		snprintf(why, size, "unknown caution flags 0x%x", op->caution_flags & ~CAUTION_ALL);
		return -1;
	}
	if (op->expires_at < 0) {
		snprintf(why, size, "expires_at is negative");
		return -1;
	}
	if (!op->n_tokens && op->op != DECONF__V1__OP__OP_CLOSE_CASE) {
		snprintf(why, size, "no tokens (only close_case may have none)");
		return -1;
	}
	for (size_t i = 0; i < op->n_tokens; i++) {
		const Deconf__V1__TokenRef *t = op->tokens[i];

		if (t->token.len != DECONF_TOKEN_LEN) {
			snprintf(why, size, "token %zu is %zu bytes, not %d", i, t->token.len,
				 DECONF_TOKEN_LEN);
			return -1;
		}
		if (!deconf_indicator_type_name(t->type)) {
			snprintf(why, size, "token %zu has unknown indicator type %d", i,
				 (int)t->type);
			return -1;
		}
		if (!t->key_epoch) {
			snprintf(why, size, "token %zu has key epoch 0", i);
			return -1;
		}
		if ((t->valid_from && t->valid_to && t->valid_from > t->valid_to) ||
		    t->valid_from < 0 || t->valid_to < 0) {
			snprintf(why, size, "token %zu has a window that ends before it starts",
				 i);
			return -1;
		}
		/* IP addresses are reassigned: an IP entry without a window would
		 * conflict with every later holder of the address */
		if (t->type == DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_IP &&
		    (op->op == DECONF__V1__OP__OP_ADD || op->op == DECONF__V1__OP__OP_QUERY) &&
		    (!t->valid_from || !t->valid_to)) {
			snprintf(why, size, "token %zu is an IP without an observation window", i);
			return -1;
		}
	}
	return 0;
}

int brk_submission_check(struct brk_directory *dir, const char *agency, size_t agency_len,
			 const uint8_t *record, size_t len, size_t max_size,
			 struct brk_check *out)
{
	Deconf__V1__Envelope *env = NULL;
	Deconf__V1__Submission *sub = NULL;
	struct deconf_sign_key *key = NULL;
	char errstr[256], why[200];
	int rc;

	memset(out, 0, sizeof(*out));
	out->op_index = -1;
	if (len > max_size)
		return refuse(out, R(OVERSIZED), -1, "record of %zu bytes; the maximum is %zu",
			      len, max_size);
	if (!record || !len)
		return refuse(out, R(MALFORMED), -1, "empty record");
	rc = deconf_envelope_unpack(record, len, max_size, &env, errstr, sizeof(errstr));
	if (rc == DECONF_E_NOMEM)
		return rc;
	if (rc)
		return refuse(out,
			      rc == DECONF_E_UNKNOWN   ? R(UNKNOWN_FIELDS)
			      : rc == DECONF_E_VERSION ? R(BAD_VERSION)
						       : R(MALFORMED),
			      -1, "%s", errstr);
	if (env->type != DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION) {
		refuse(out, R(WRONG_TYPE), -1, "the envelope holds message type %d, not a "
					       "Submission", (int)env->type);
		goto out;
	}
	rc = brk_directory_key(dir, agency, agency_len, &key);
	if (rc == DECONF_E_NOMEM)
		goto out;
	if (rc == DECONF_E_UNKNOWN) {
		refuse(out, R(UNKNOWN_AGENCY), -1, "agency %.*s is not in the directory",
		       (int)agency_len, agency);
		rc = DECONF_OK;
		goto out;
	}
	if (rc) {
		refuse(out, R(SUSPENDED_AGENCY), -1, "agency %.*s is suspended or removed",
		       (int)agency_len, agency);
		rc = DECONF_OK;
		goto out;
	}
	if ((rc = deconf_envelope_verify(env, key))) {
		if (rc == DECONF_E_NOMEM)
			goto out;
		refuse(out, rc == DECONF_E_UNSIGNED ? R(UNSIGNED) : R(BAD_SIGNATURE), -1,
		       rc == DECONF_E_UNSIGNED ? "the submission is not signed"
					       : "the signature does not verify with the "
						 "agency's key in the directory");
		rc = DECONF_OK;
		goto out;
	}
	rc = deconf_envelope_payload(env, &deconf__v1__submission__descriptor,
				     (ProtobufCMessage **)&sub, errstr, sizeof(errstr));
	if (rc == DECONF_E_NOMEM)
		goto out;
	if (rc) {
		refuse(out, rc == DECONF_E_UNKNOWN ? R(UNKNOWN_FIELDS) : R(MALFORMED), -1, "%s",
		       errstr);
		rc = DECONF_OK;
		goto out;
	}
	if (sub->agency_id.len != agency_len || memcmp(sub->agency_id.data, agency, agency_len)) {
		refuse(out, R(FOREIGN_AGENCY), -1,
		       "the submission speaks for another agency than %.*s", (int)agency_len,
		       agency);
		goto out;
	}
	if (sub->submission_id.len != BRK_SUBMISSION_ID_LEN) {
		refuse(out, R(MALFORMED), -1, "submission_id is %zu bytes, not %d",
		       sub->submission_id.len, BRK_SUBMISSION_ID_LEN);
		goto out;
	}
	if (!sub->n_ops) {
		refuse(out, R(INVALID_OP), -1, "the submission holds no ops");
		goto out;
	}
	for (size_t i = 0; i < sub->n_ops; i++)
		if (op_ok(sub->ops[i], why, sizeof(why))) {
			refuse(out, R(INVALID_OP), (int)i, "op %zu: %s", i, why);
			goto out;
		}
	out->sub = sub;
	sub = NULL;
out:
	deconf_msg_free(sub);
	deconf_msg_free(env);
	deconf_sign_key_free(key);
	return rc == DECONF_E_NOMEM ? rc : DECONF_OK;
}

int brk_submission_token_ops(const Deconf__V1__Submission *sub, int64_t ingested_at,
			     brk_token_op_fn *fn, void *opaque)
{
	for (size_t i = 0; i < sub->n_ops; i++) {
		const Deconf__V1__CaseOp *cop = sub->ops[i];
		Deconf__V1__TokenOp op = DECONF__V1__TOKEN_OP__INIT;
		int rc;

		op.op = cop->op;
		op.agency_id = sub->agency_id;
		op.case_ref = cop->case_ref;
		op.poc = cop->poc;
		op.visibility = cop->visibility ? cop->visibility
						: DECONF__V1__VISIBILITY__VISIBILITY_NORMAL;
		op.caution_flags = cop->caution_flags;
		op.expires_at = cop->expires_at;
		op.submission_id = sub->submission_id;
		op.submitted_at = sub->created_at;
		op.ingested_at = ingested_at;
		op.op_index = (uint32_t)i;
		if (!cop->n_tokens) { /* close_case of the whole case: every partition */
			if ((rc = fn(opaque, &op)))
				return rc;
			continue;
		}
		for (size_t j = 0; j < cop->n_tokens; j++) {
			const Deconf__V1__TokenRef *t = cop->tokens[j];

			op.token = t->token;
			op.key_epoch = t->key_epoch;
			op.type = t->type;
			op.valid_from = t->valid_from;
			op.valid_to = t->valid_to;
			if ((rc = fn(opaque, &op)))
				return rc;
		}
	}
	return DECONF_OK;
}
