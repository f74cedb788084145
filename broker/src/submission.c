/* submission.c — ingest's checks and token ops (see submission.h). */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/limits.h"
#include "deconf/scope.h"
#include "deconf/text.h"
#include "deconf/token.h"
#include "match.h"
#include "submission.h"

#define R(x) DECONF__V1__REJECT_REASON__REJECT_REASON_##x
#define CAUTION_ALL 0x3fu /* every CautionFlag bit */
#define MAX_REASONS 64
#define FUTURE_SLACK_MS (24 * 3600 * 1000LL) /* clocks differ; a day does not */

/* "bad_signature" for REJECT_REASON_BAD_SIGNATURE: from the descriptor, so
 * a reason added to deconf.proto has its name at once. */
static char reason_names[MAX_REASONS][40];
static pthread_once_t reason_once = PTHREAD_ONCE_INIT;

static void reason_init(void)
{
	const ProtobufCEnumDescriptor *d = &deconf__v1__reject_reason__descriptor;
	const size_t skip = strlen("REJECT_REASON_");

	for (unsigned i = 0; i < d->n_values; i++) {
		const ProtobufCEnumValue *v = &d->values[i];
		if (v->value < 0 || v->value >= MAX_REASONS || strlen(v->name) <= skip)
			continue;
		for (size_t j = 0; v->name[skip + j] && j + 1 < sizeof(reason_names[0]); j++)
			reason_names[v->value][j] = (char)tolower((unsigned char)v->name[skip + j]);
	}
}

const char *brk_reject_reason_name(int reason)
{
	pthread_once(&reason_once, reason_init);
	if (reason < 0 || reason >= MAX_REASONS || !reason_names[reason][0])
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

/* A text field: 0, or R(BAD_TEXT) with why. */
static int text_ok(const char *what, const void *p, size_t len, size_t max, char *why,
		   size_t size)
{
	int t = deconf_text_check(p, len, max);

	if (t == DECONF_TEXT_OK)
		return 0;
	if (t == DECONF_TEXT_TOO_LONG)
		snprintf(why, size, "%s is %zu bytes, longer than %zu", what, len, max);
	else
		snprintf(why, size, "%s %s", what, deconf_text_problem(t));
	return R(BAD_TEXT);
}

/* Token i of an op, as an event cell or not: an event (event_kind set)
 * holds only event cells, each with a role, an S2 level and the event's
 * window (at most DECONF_EVENT_WINDOW_MAX_MS long); no other token has a
 * role or a level. 0, or R(INVALID_OP) with why. */
static int event_cell_ok(const Deconf__V1__CaseOp *op, const Deconf__V1__TokenRef *t, size_t i,
			 char *why, size_t size)
{
	int cell = t->type == DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL;

	if (!cell) {
		if (op->event_kind) {
			snprintf(why, size, "token %zu of an event is not an event cell", i);
			return R(INVALID_OP);
		}
		if (t->cell_role || t->cell_level) {
			snprintf(why, size, "token %zu is no event cell but has a cell role or level",
				 i);
			return R(INVALID_OP);
		}
		return 0;
	}
	if (!op->event_kind) {
		snprintf(why, size, "token %zu is an event cell of a case that is no event", i);
		return R(INVALID_OP);
	}
	if (!brk_match_event_cell_ok(t->cell_role, t->cell_level)) {
		snprintf(why, size, "token %zu: cell role %d and level %u are not an event cell's",
			 i, (int)t->cell_role, t->cell_level);
		return R(INVALID_OP);
	}
	if (op->op != DECONF__V1__OP__OP_REMOVE &&
	    (!t->valid_from || !t->valid_to || t->valid_from >= t->valid_to ||
	     t->valid_to - t->valid_from > DECONF_EVENT_WINDOW_MAX_MS)) {
		snprintf(why, size,
			 "token %zu: an event needs a window that starts before it ends and "
			 "lasts at most %lld days",
			 i, (long long)(DECONF_EVENT_WINDOW_MAX_MS / 86400000));
		return R(INVALID_OP);
	}
	return 0;
}

/* The rules an op must follow: 0, or the RejectReason and a sentence in
 * why. Every text field a counterpart may see is bounded here, so what the
 * broker writes from it stays within deconf/limits.h's budget. */
static int op_ok(const Deconf__V1__CaseOp *op, const struct brk_epochs *ep, int64_t now,
		 char *why, size_t size)
{
	const Deconf__V1__PointOfContact *poc = op->poc;
	int r;

	if (op->case_ref.len < 1 || op->case_ref.len > BRK_CASE_REF_MAX) {
		snprintf(why, size, "case_ref must be 1..%d bytes", BRK_CASE_REF_MAX);
		return R(INVALID_OP);
	}
	if ((r = text_ok("case_ref", op->case_ref.data, op->case_ref.len, BRK_CASE_REF_MAX, why,
			 size)))
		return r;
	if (poc) {
		static const struct {
			const char *what;
			size_t off;
		} f[] = {
			{ "poc.name", offsetof(Deconf__V1__PointOfContact, name) },
			{ "poc.phone", offsetof(Deconf__V1__PointOfContact, phone) },
			{ "poc.email", offsetof(Deconf__V1__PointOfContact, email) },
			{ "poc.unit", offsetof(Deconf__V1__PointOfContact, unit) },
		};
		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
			const char *v = *(char *const *)((const char *)poc + f[i].off);
			if (v && (r = text_ok(f[i].what, v, strlen(v), DECONF_POC_FIELD_MAX, why, size)))
				return r;
		}
	}
	if (op->op < DECONF__V1__OP__OP_ADD || op->op > DECONF__V1__OP__OP_QUERY) {
		snprintf(why, size, "op %d is not add, renew, remove, close_case or query",
			 (int)op->op);
		return R(INVALID_OP);
	}
	if (op->visibility < DECONF__V1__VISIBILITY__VISIBILITY_UNSPECIFIED ||
	    op->visibility > DECONF__V1__VISIBILITY__VISIBILITY_RESTRICTED) {
		snprintf(why, size, "visibility %d is unknown", (int)op->visibility);
		return R(INVALID_OP);
	}
	if (op->caution_flags & ~CAUTION_ALL) {
		snprintf(why, size, "unknown caution flags 0x%x", op->caution_flags & ~CAUTION_ALL);
		return R(INVALID_OP);
	}
	if (op->expires_at < 0) {
		snprintf(why, size, "expires_at is negative");
		return R(INVALID_OP);
	}
	if (!op->n_tokens && op->op != DECONF__V1__OP__OP_CLOSE_CASE) {
		snprintf(why, size, "no tokens (only close_case may have none)");
		return R(INVALID_OP);
	}
	if (op->event_kind < DECONF__V1__EVENT_KIND__EVENT_KIND_UNSPECIFIED ||
	    op->event_kind > DECONF__V1__EVENT_KIND__EVENT_KIND_OTHER) {
		snprintf(why, size, "event_kind %d is unknown", (int)op->event_kind);
		return R(INVALID_OP);
	}
	if (op->scope) {
		char scope_why[160];
		if (deconf_scope_check(op->scope, scope_why, sizeof(scope_why))) {
			snprintf(why, size, "scope: %.160s", scope_why);
			return R(INVALID_OP);
		}
	}
	if (op->event_kind && op->op == DECONF__V1__OP__OP_QUERY) {
		snprintf(why, size, "an event is added, not queried");
		return R(INVALID_OP);
	}
	if (op->event_kind && op->n_tokens > DECONF_EVENT_CELLS_MAX) {
		snprintf(why, size, "an event of %zu cells (at most %d)", op->n_tokens,
			 DECONF_EVENT_CELLS_MAX);
		return R(INVALID_OP);
	}
	for (size_t i = 0; i < op->n_tokens; i++) {
		const Deconf__V1__TokenRef *t = op->tokens[i];
		int adds = op->op == DECONF__V1__OP__OP_ADD || op->op == DECONF__V1__OP__OP_RENEW ||
			   op->op == DECONF__V1__OP__OP_QUERY;

		if (t->token.len != DECONF_TOKEN_LEN) {
			snprintf(why, size, "token %zu is %zu bytes, not %d", i, t->token.len,
				 DECONF_TOKEN_LEN);
			return R(INVALID_OP);
		}
		if (!deconf_indicator_type_name(t->type)) {
			snprintf(why, size, "token %zu has unknown indicator type %d", i,
				 (int)t->type);
			return R(INVALID_OP);
		}
		if (!t->key_epoch) {
			snprintf(why, size, "token %zu has key epoch 0", i);
			return R(INVALID_OP);
		}
		/* the epoch is the federation's to decide (its signed record) */
		switch (brk_epochs_state(ep, t->key_epoch, now)) {
		case -1:
			snprintf(why, size,
				 "token %zu: key epoch %u has not been published by the federation", i,
				 t->key_epoch);
			return R(UNKNOWN_EPOCH);
		case 0:
			if (adds) {
				snprintf(why, size,
					 "token %zu: key epoch %u is retired; resubmit under the "
					 "current epoch",
					 i, t->key_epoch);
				return R(STALE_EPOCH);
			}
			break;
		}
		if ((t->valid_from && t->valid_to && t->valid_from > t->valid_to) ||
		    t->valid_from < 0 || t->valid_to < 0) {
			snprintf(why, size, "token %zu has a window that ends before it starts",
				 i);
			return R(INVALID_OP);
		}
		if ((r = event_cell_ok(op, t, i, why, size)))
			return r;
		/* IP addresses are reassigned: an IP entry without a window would
		 * conflict with every later holder of the address */
		if (t->type == DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_IP &&
		    (op->op == DECONF__V1__OP__OP_ADD || op->op == DECONF__V1__OP__OP_QUERY) &&
		    (!t->valid_from || !t->valid_to)) {
			snprintf(why, size, "token %zu is an IP without an observation window", i);
			return R(INVALID_OP);
		}
	}
	return 0;
}

/* An acknowledgment: 0, or R(UNKNOWN_NOTICE) / R(INVALID_OP) with why.
 * Only what the agency sent is looked at (the notice it echoes, signed by
 * the broker), never the matcher's state: the answer is the same whether
 * or not the conflict exists, so it tells a guessing agency nothing. */
static int ack_ok(const Deconf__V1__Acknowledgment *a, const char *agency, size_t agency_len,
		  const struct deconf_sign_key *notice_key, uint32_t *checked, char *why,
		  size_t size)
{
	Deconf__V1__ConflictNotice *n;
	int r;

	if (a->outcome < DECONF__V1__OUTCOME__OUTCOME_SEEN ||
	    a->outcome > DECONF__V1__OUTCOME__OUTCOME_DECONFLICTED) {
		snprintf(why, size, "outcome %d is unknown", (int)a->outcome);
		return R(INVALID_OP);
	}
	if (a->notice_id.len != DECONF_ID_LEN) {
		snprintf(why, size, "notice_id is %zu bytes, not %d", a->notice_id.len,
			 DECONF_ID_LEN);
		return R(INVALID_OP);
	}
	if (!notice_key) {
		snprintf(why, size, "this broker does not take acknowledgments");
		return R(UNKNOWN_NOTICE);
	}
	(*checked)++;
	if (!(n = brk_submission_ack_notice(a, agency, agency_len, notice_key))) {
		snprintf(why, size, "not a notice this agency was sent (acknowledge a conflict "
				    "notice with the notice as it was received)");
		return R(UNKNOWN_NOTICE);
	}
	r = deconf_indicator_type_name(n->type) ? 0 : R(UNKNOWN_NOTICE);
	if (r)
		snprintf(why, size, "the notice names an unknown indicator type");
	deconf_msg_free(n);
	return r;
}

Deconf__V1__ConflictNotice *brk_submission_ack_notice(const Deconf__V1__Acknowledgment *a,
						      const char *agency, size_t agency_len,
						      const struct deconf_sign_key *notice_key)
{
	Deconf__V1__Envelope *env = NULL;
	Deconf__V1__ConflictNotice *n = NULL;

	if (!notice_key || !a->notice.len || a->notice.len > DECONF_NOTICE_MAX ||
	    deconf_envelope_unpack(a->notice.data, a->notice.len, DECONF_NOTICE_MAX, &env, NULL,
				   0))
		return NULL;
	if (env->type != DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_CONFLICT_NOTICE ||
	    deconf_envelope_verify(env, notice_key) ||
	    deconf_envelope_payload(env, &deconf__v1__conflict_notice__descriptor,
				    (ProtobufCMessage **)&n, NULL, 0))
		goto fail;
	/* addressed to this agency, the one acknowledged, and a conflict */
	if (n->agency_id.len != agency_len || memcmp(n->agency_id.data, agency, agency_len) ||
	    n->notice_id.len != DECONF_ID_LEN || a->notice_id.len != DECONF_ID_LEN ||
	    memcmp(n->notice_id.data, a->notice_id.data, DECONF_ID_LEN) ||
	    (n->kind != DECONF__V1__NOTICE_KIND__NOTICE_KIND_CONFLICT &&
	     n->kind != DECONF__V1__NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH &&
	     n->kind != DECONF__V1__NOTICE_KIND__NOTICE_KIND_SCOPED_MATCH) ||
	    n->token.len != DECONF_TOKEN_LEN || !n->key_epoch || n->case_ref.len < 1 ||
	    n->case_ref.len > BRK_CASE_REF_MAX)
		goto fail;
	deconf_msg_free(env);
	return n;
fail:
	deconf_msg_free(n);
	deconf_msg_free(env);
	return NULL;
}

int brk_submission_check(struct brk_directory *dir, const char *agency, size_t agency_len,
			 const uint8_t *record, size_t len, size_t max_size, int64_t now,
			 struct brk_check *out)
{
	return brk_submission_check_ex(dir, NULL, agency, agency_len, record, len, max_size, now,
				       out);
}

int brk_submission_check_ex(struct brk_directory *dir, const struct deconf_sign_key *notice_key,
			    const char *agency, size_t agency_len, const uint8_t *record,
			    size_t len, size_t max_size, int64_t now, struct brk_check *out)
{
	Deconf__V1__Envelope *env = NULL;
	Deconf__V1__Submission *sub = NULL;
	struct deconf_sign_key *key = NULL;
	struct brk_epochs ep;
	char errstr[256], why[200];
	int rc, reason;

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
	if (sub->submission_id.len == BRK_SUBMISSION_ID_LEN) {
		memcpy(out->id, sub->submission_id.data, BRK_SUBMISSION_ID_LEN);
		out->id_len = BRK_SUBMISSION_ID_LEN;
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
	if (!sub->n_ops && !sub->n_acks) {
		refuse(out, R(INVALID_OP), -1, "the submission holds no ops");
		goto out;
	}
	if (sub->created_at > now + FUTURE_SLACK_MS) {
		refuse(out, R(MALFORMED), -1, "created_at is more than a day in the future");
		goto out;
	}
	brk_directory_epochs(dir, &ep);
	for (size_t i = 0; i < sub->n_ops; i++)
		if ((reason = op_ok(sub->ops[i], &ep, now, why, sizeof(why)))) {
			refuse(out, reason, (int)i, "op %zu: %s", i, why);
			goto out;
		}
	if (sub->n_acks > BRK_ACKS_MAX) {
		refuse(out, R(OVERSIZED), -1, "%zu acknowledgments; at most %d in one submission",
		       sub->n_acks, BRK_ACKS_MAX);
		goto out;
	}
	for (size_t i = 0; i < sub->n_acks; i++)
		if ((reason = ack_ok(sub->acks[i], agency, agency_len, notice_key,
				     &out->acks_checked, why, sizeof(why)))) {
			refuse(out, reason, (int)(sub->n_ops + i), "acknowledgment %zu: %s", i, why);
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
	ProtobufCBinaryData cases[BRK_CLOSE_CASES_MAX];

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
		op.scope = cop->scope;
		op.submission_id = sub->submission_id;
		op.submitted_at = sub->created_at;
		op.ingested_at = ingested_at;
		op.op_index = (uint32_t)i;
		if (!cop->n_tokens) {
			/* close_case of whole cases: every partition holds some of
			 * their entries. Consecutive ones go together (order kept:
			 * nothing else comes between them). */
			size_t n = 0, bytes = 0;
			while (n < BRK_CLOSE_CASES_MAX && i + n < sub->n_ops &&
			       !sub->ops[i + n]->n_tokens &&
			       sub->ops[i + n]->op == DECONF__V1__OP__OP_CLOSE_CASE &&
			       bytes + sub->ops[i + n]->case_ref.len + 3 <= BRK_CLOSE_CASES_BYTES) {
				cases[n] = sub->ops[i + n]->case_ref;
				bytes += cases[n].len + 3;
				n++;
			}
			if (!n)
				n = 1; /* cannot happen: a case ref is at most 128 bytes */
			if (n > 1) {
				op.case_ref.data = NULL;
				op.case_ref.len = 0;
				op.poc = NULL;
				op.close_cases = cases;
				op.n_close_cases = n;
				i += n - 1;
			}
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
			op.cell_role = t->cell_role;
			op.cell_level = t->cell_level;
			op.event_kind = cop->event_kind;
			if ((rc = fn(opaque, &op)))
				return rc;
		}
	}
	return DECONF_OK;
}

int brk_submission_ack_ops(const Deconf__V1__Submission *sub, int64_t ingested_at,
			   const struct deconf_sign_key *notice_key, brk_token_op_fn *fn,
			   void *opaque)
{
	for (size_t i = 0; i < sub->n_acks; i++) {
		const Deconf__V1__Acknowledgment *a = sub->acks[i];
		Deconf__V1__TokenOp op = DECONF__V1__TOKEN_OP__INIT;
		Deconf__V1__ConflictNotice *n;
		int rc;

		/* checked by brk_submission_check_ex: only what it accepted */
		if (!(n = brk_submission_ack_notice(a, (const char *)sub->agency_id.data,
						    sub->agency_id.len, notice_key)))
			return DECONF_E_INVAL;
		op.token = n->token;
		op.key_epoch = n->key_epoch;
		op.type = n->type;
		op.agency_id = sub->agency_id;
		op.case_ref = n->case_ref;
		op.submission_id = sub->submission_id;
		op.submitted_at = sub->created_at;
		op.ingested_at = ingested_at;
		op.op_index = (uint32_t)(sub->n_ops + i);
		op.ack_notice_id = a->notice_id;
		op.ack_outcome = a->outcome;
		rc = fn(opaque, &op);
		deconf_msg_free(n);
		if (rc)
			return rc;
	}
	return DECONF_OK;
}
