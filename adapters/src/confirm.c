/* confirm.c — receipts, refused entries and acknowledgments' outcomes for
 * what submit.c published (see confirm.h). */
#include <stdlib.h>
#include <string.h>

#include "confirm.h"
#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/log.h"
#include "deconf/text.h"
#include "deconf/util.h"
#include "inbox.h"
#include "progress.h"
#include "receipts.h"

/* A submission of this run, waiting for its receipt. */
struct awaited {
	uint8_t id[ADP_SUBMISSION_ID_LEN];
	int result; /* 0 until its receipt (RECEIPT_RESULT_*) */
};

/* Entries refused earlier that stay refused, per reason. */
#define REASONS 32
struct held {
	uint64_t entries[REASONS], cases[REASONS];
	char *first_case[REASONS]; /* one case ref to name, escaped for a terminal */
};

struct adp_confirm {
	struct adp_agency *a;
	const struct adp_submit_opts *o;
	struct adp_submit_stats *st;
	FILE *report;
	char *errstr;
	size_t errstr_size;
	/* receipts: for this run's submissions, and the reader's context */
	struct awaited *aw;
	size_t n_aw, cap_aw, n_decided;
	struct adp_receipts_ctx rctx;
	struct held held;
	int read_failed; /* the receipts topic could not be read */
};

int adp_confirm_new(struct adp_confirm **out, struct adp_agency *a,
		    const struct adp_submit_opts *o, struct adp_submit_stats *st, FILE *report,
		    char *errstr, size_t errstr_size)
{
	struct adp_confirm *c;

	*out = NULL;
	if (!(c = calloc(1, sizeof(*c))))
		return DECONF_E_NOMEM;
	c->a = a;
	c->o = o;
	c->st = st;
	c->report = report;
	c->errstr = errstr;
	c->errstr_size = errstr_size;
	*out = c;
	return DECONF_OK;
}

void adp_confirm_free(struct adp_confirm *c)
{
	if (!c)
		return;
	free(c->aw);
	for (size_t i = 0; i < REASONS; i++)
		free(c->held.first_case[i]);
	free(c);
}

int adp_confirm_expect(struct adp_confirm *c, const uint8_t id[ADP_SUBMISSION_ID_LEN])
{
	for (size_t i = 0; i < c->n_aw; i++)
		if (!memcmp(c->aw[i].id, id, ADP_SUBMISSION_ID_LEN))
			return DECONF_OK;
	if (DECONF_GROW(c->aw, c->n_aw, c->cap_aw, 16))
		return DECONF_E_NOMEM;
	memcpy(c->aw[c->n_aw].id, id, ADP_SUBMISSION_ID_LEN);
	c->aw[c->n_aw++].result = 0;
	return DECONF_OK;
}

size_t adp_confirm_count(const struct adp_confirm *c)
{
	return c->n_aw;
}

int adp_confirm_result(const struct adp_confirm *c, size_t i)
{
	return i < c->n_aw ? c->aw[i].result : 0;
}

/* ------------------------------------------------------------ receipts */

/* Every decision the receipts reader makes while this run goes. */
static void on_receipt(void *opaque, const struct adp_receipt_event *ev)
{
	struct adp_confirm *c = opaque;

	for (size_t i = 0; i < c->n_aw; i++)
		if (!c->aw[i].result &&
		    !memcmp(c->aw[i].id, ev->submission_id, ADP_SUBMISSION_ID_LEN)) {
			c->aw[i].result = ev->d.result;
			c->n_decided++;
			if (ev->d.result == DECONF__V1__RECEIPT_RESULT__RECEIPT_RESULT_ACCEPTED)
				c->st->accepted++;
			else
				c->st->refused++;
		}
	if (ev->d.result == DECONF__V1__RECEIPT_RESULT__RECEIPT_RESULT_REFUSED)
		adp_receipt_print(c->report, ev);
	if (c->o->on_receipt)
		c->o->on_receipt(c->o->opaque, ev);
}

static void receipts_kind(struct adp_confirm *c, struct adp_inbox_kind *k)
{
	c->rctx.cb = on_receipt;
	c->rctx.opaque = c;
	c->rctx.queue_webhook = c->o->queue_webhook;
	adp_receipts_kind_init(k, &c->rctx, c->a);
}

/* Receipts need the broker's key to be checked; without it there is
 * nothing to wait for (--no-wait) or it is a configuration error. */
int adp_confirm_need_broker_key(struct adp_confirm *c, int *skip)
{
	*skip = 0;
	if (c->a->set.agency_broker_public_key)
		return DECONF_OK;
	if (c->o->no_wait) {
		deconf_log(DECONF_LOG_NOTICE, "SUBMIT",
			   "agency.broker_public_key is not set: receipts are not read");
		*skip = 1;
		return DECONF_OK;
	}
	return deconf_err_set(c->errstr, c->errstr_size, DECONF_E_CONFIG,
			      "agency.broker_public_key is not set: it is needed to check the "
			      "broker's receipts (or use --no-wait)");
}

/* After a read of the receipts topic: a loss stops the command; any other
 * failure only leaves what waits unconfirmed, said in the report. */
static int after_read(struct adp_confirm *c, const struct adp_inbox_kind *k, int rc,
		      const char *why)
{
	c->st->receipts_refused += k->st.refused;
	if (rc && k->st.stopped_by_loss)
		return deconf_err_set(c->errstr, c->errstr_size, rc, "%s", why);
	if (rc) {
		c->read_failed = 1;
		char shown[DECONF_TEXT_TERMINAL_SIZE(512)];
		fprintf(c->report, "receipts could not be read: %s\n",
			deconf_text_for_terminal(shown, sizeof(shown), why, strlen(why)));
	}
	return DECONF_OK;
}

/* Read the receipts that arrived for earlier submissions (to the end). */
int adp_confirm_read(struct adp_confirm *c)
{
	struct adp_inbox_kind k, *kinds[1] = { &k };
	struct adp_inbox_opts io = { .accept_loss = c->o->accept_loss };
	struct adp_ledger_txn *t;
	char why[512] = "";
	size_t waiting;
	int rc, skip;

	if ((rc = adp_ledger_begin(c->a->ledger, 1, &t)))
		return rc;
	waiting = adp_ledger_sub_count(t, ADP_SUB_SENT) + adp_ledger_outbox_count(t);
	adp_ledger_abort(t);
	if (!waiting) /* a receipt could change nothing */
		return DECONF_OK;
	if ((rc = adp_confirm_need_broker_key(c, &skip)) || skip)
		return rc;
	receipts_kind(c, &k);
	rc = adp_inbox_read(c->a, kinds, 1, &io, why, sizeof(why));
	return after_read(c, &k, rc, why);
}

/* ------------------------------------------------------ refused entries */

/* A refused submission, copied out of the ledger. */
struct refused {
	uint8_t id[ADP_SUBMISSION_ID_LEN];
	uint8_t reason;
	int32_t op_index;
	uint8_t *env;
	size_t env_len;
};

struct refused_list {
	struct refused *v;
	size_t n, cap;
};

static int refused_cb(void *opaque, const uint8_t id[ADP_SUBMISSION_ID_LEN],
		      const struct adp_sub *s)
{
	struct refused_list *l = opaque;
	struct refused *f;

	if (s->status != ADP_SUB_REFUSED)
		return 0;
	if (DECONF_GROW(l->v, l->n, l->cap, 8))
		return DECONF_E_NOMEM;
	f = &l->v[l->n];
	memcpy(f->id, id, ADP_SUBMISSION_ID_LEN);
	f->reason = s->reason;
	f->op_index = s->op_index;
	f->env_len = s->envelope_len;
	if (!(f->env = malloc(s->envelope_len ? s->envelope_len : 1)))
		return DECONF_E_NOMEM;
	memcpy(f->env, s->envelope, s->envelope_len);
	l->n++;
	return 0;
}

/* Count entries that stay refused, for the report. */
static void hold(struct adp_confirm *c, int reason, const char *case_ref, size_t entries)
{
	struct held *h = &c->held;
	int i = reason >= 0 && reason < REASONS ? reason : 0;

	h->entries[i] += entries;
	h->cases[i]++;
	c->st->held_entries += entries;
	c->st->held_cases++;
	if (!h->first_case[i])
		h->first_case[i] = strdup(case_ref);
}

/*
 * The entries of refused submission f: send again what its rule (or
 * --retry-refused) lets go, count the rest as held; forget the submission
 * once no entry refers to it. Inside the batch transaction.
 */
static int resend_refused_one(struct adp_confirm *c, const struct adp_confirm_batch *b,
			      int replace_old_epoch, const struct refused *f, int dir_status)
{
	Deconf__V1__Envelope *env = NULL;
	Deconf__V1__Submission *sub = NULL;
	int rule = c->o->retry_refused ? ADP_RULE_RESEND : adp_refusal_rule(f->reason);
	int still = 0, rc;
	const Deconf__V1__TokenRef **toks = NULL;
	size_t n_toks = 0, cap_toks = 0;

	if ((rc = deconf_envelope_unpack(f->env, f->env_len, SIZE_MAX, &env, NULL, 0)) ||
	    (rc = deconf_envelope_payload(env, &deconf__v1__submission__descriptor,
					  (ProtobufCMessage **)&sub, NULL, 0))) {
		char hex[33];

		if (rc == DECONF_E_NOMEM)
			goto out;
		/* our own record, unreadable: it cannot say what to send again,
		 * and must not stop every run; its entries stay REFUSED */
		deconf_log(DECONF_LOG_WARNING, "SUBMIT",
			   "refused submission %s: its record in the ledger cannot be read (%s): "
			   "forgotten",
			   deconf_hex_encode(hex, f->id, ADP_SUBMISSION_ID_LEN), deconf_strerror(rc));
		rc = adp_ledger_sub_del(b->txn(b->opaque), f->id);
		goto out;
	}
	for (size_t i = 0; i < sub->n_ops && !rc; i++) {
		Deconf__V1__CaseOp *op = sub->ops[i];
		int go = rule == ADP_RULE_RESEND ||
			 (rule == ADP_RULE_WHEN_ACTIVE &&
			  dir_status == DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_ACTIVE) ||
			 (rule == ADP_RULE_FIX_INPUT && f->op_index >= 0 &&
			  (size_t)f->op_index != i);
		char ref[ADP_LEDGER_CASE_MAX + 1];

		if (op->case_ref.len == 0 || op->case_ref.len > ADP_LEDGER_CASE_MAX)
			continue;
		memcpy(ref, op->case_ref.data, op->case_ref.len);
		ref[op->case_ref.len] = '\0';
		n_toks = 0;
		for (size_t j = 0; j < op->n_tokens; j++) {
			Deconf__V1__TokenRef *tr = op->tokens[j];
			struct adp_ledger_txn *t = b->txn(b->opaque);
			struct adp_entry e;

			if (tr->token.len != DECONF_TOKEN_LEN ||
			    adp_ledger_get(t, ref, tr->token.data, tr->key_epoch, &e) ||
			    memcmp(e.submission_id, f->id, ADP_SUBMISSION_ID_LEN) ||
			    (e.state != ADP_ENTRY_REFUSED && e.state != ADP_ENTRY_REMOVE_REFUSED))
				continue; /* decided by a later op since */
			if (replace_old_epoch && e.state == ADP_ENTRY_REFUSED &&
			    e.epoch != deconf_tokenizer_epoch(c->a->tk)) {
				/* resubmit sends it under the current epoch: the
				 * refused old-epoch entry is replaced */
				if ((rc = adp_ledger_del(t, ref, tr->token.data, tr->key_epoch)))
					goto out;
				continue;
			}
			if (DECONF_GROW(toks, n_toks, cap_toks, 16)) {
				rc = DECONF_E_NOMEM;
				goto out;
			}
			toks[n_toks++] = tr;
		}
		if (!n_toks)
			continue;
		if (!go) {
			still = 1;
			hold(c, f->reason, ref, n_toks);
			continue;
		}
		/* the same op under a new submission id (the old one is spent) */
		rc = b->resend_op(b->opaque, op, toks, n_toks);
	}
	if (!rc && !still) /* nothing refers to it now */
		rc = adp_ledger_sub_del(b->txn(b->opaque), f->id);
out:
	free(toks);
	deconf_msg_free(sub);
	deconf_msg_free(env);
	return rc;
}

/* Refused submissions: send again what may go, report what stays. */
int adp_confirm_resend_refused(struct adp_confirm *c, const struct adp_confirm_batch *b,
			       int replace_old_epoch)
{
	struct refused_list l = { 0 };
	struct adp_ledger_txn *t;
	int dir_status = -1, rc;

	if ((rc = adp_ledger_begin(c->a->ledger, 1, &t)))
		return rc;
	rc = adp_ledger_sub_count(t, ADP_SUB_REFUSED) ? adp_ledger_sub_foreach(t, refused_cb, &l)
						      : DECONF_OK;
	adp_ledger_abort(t);
	for (size_t i = 0; i < l.n && !rc; i++) {
		if (!c->o->retry_refused && adp_refusal_rule(l.v[i].reason) == ADP_RULE_WHEN_ACTIVE &&
		    dir_status == -1) {
			char why[512] = "", shown[DECONF_TEXT_TERMINAL_SIZE(512)];
			int st;

			/* is the reason gone? the federation's directory says */
			if (adp_directory_status(c->a, &st, why, sizeof(why))) {
				fprintf(c->report, "the federation's directory could not be read "
						   "(%s): refused entries are held\n",
					deconf_text_for_terminal(shown, sizeof(shown), why,
								 strlen(why)));
				dir_status = -2;
			} else {
				dir_status = st;
			}
		}
		if (!(rc = b->begin(b->opaque)))
			rc = resend_refused_one(c, b, replace_old_epoch, &l.v[i], dir_status);
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].env);
	free(l.v);
	if (rc)
		return deconf_err_set(c->errstr, c->errstr_size, rc, "refused entries: %s",
				      deconf_strerror(rc));
	return DECONF_OK;
}

/* What stays refused, each time (the user, or the operator, must act). */
void adp_confirm_report_held(struct adp_confirm *c)
{
	char name[64], shown[DECONF_TEXT_TERMINAL_SIZE(ADP_LEDGER_CASE_MAX)];

	for (int i = 0; i < REASONS; i++) {
		const char *first = c->held.first_case[i];

		if (!c->held.entries[i])
			continue;
		fprintf(c->report,
			"still refused (%s): %llu entr%s of %llu case(s)%s%s%s: %s; "
			"`deconf-adapter status` shows them\n",
			adp_reason_name(i, name, sizeof(name)),
			(unsigned long long)c->held.entries[i],
			c->held.entries[i] == 1 ? "y" : "ies", (unsigned long long)c->held.cases[i],
			first ? " (" : "",
			first ? deconf_text_for_terminal(shown, sizeof(shown), first, strlen(first))
			      : "",
			first ? (c->held.cases[i] > 1 ? ", ...)" : ")") : "",
			adp_refusal_next(adp_refusal_rule(i)));
	}
}

/* ------------------------------------------------------------- waiting */

static int all_decided(void *opaque)
{
	const struct adp_confirm *c = opaque;

	return c->n_decided >= c->n_aw;
}

struct waiting {
	struct adp_confirm *c;
	struct adp_progress pr;
};

static void wait_progress(void *opaque)
{
	struct waiting *w = opaque;

	adp_progress_update(&w->pr, w->c->n_decided, w->c->n_aw, w->c->n_decided);
}

static int waiting_done(void *opaque)
{
	return all_decided(((struct waiting *)opaque)->c);
}

/*
 * The receipts of this run's submissions, for up to submit.confirm_timeout.
 * Those with none by then stay unconfirmed, unless the directory shows why
 * none can come (the agency is not in it: the broker does not answer an
 * unknown agency), which is then recorded as a refusal.
 */
int adp_confirm_wait(struct adp_confirm *c)
{
	struct adp_inbox_kind k, *kinds[1] = { &k };
	struct waiting w = { .c = c };
	struct adp_inbox_opts io = { .follow = 1, .done = waiting_done, .idle = wait_progress,
				     .idle_ms = 100, .opaque = &w,
				     .accept_loss = c->o->accept_loss };
	int64_t timeout = c->a->set.submit_confirm_timeout;
	char why[512] = "";
	int rc, skip, status;

	if (c->o->dry_run || c->o->no_wait || !c->n_aw)
		return DECONF_OK;
	if ((rc = adp_confirm_need_broker_key(c, &skip)))
		return rc;
	c->st->waited = 1;
	if (!all_decided(c)) {
		receipts_kind(c, &k);
		io.deadline_us = deconf_mono_us() + timeout * 1000;
		adp_progress_start(&w.pr, c->o->progress, "waiting for receipts", "answered");
		rc = adp_inbox_read(c->a, kinds, 1, &io, why, sizeof(why));
		adp_progress_end(&w.pr);
		if ((rc = after_read(c, &k, rc, why)))
			return rc;
	}
	if (all_decided(c))
		return DECONF_OK;
	/* only when receipts were read all along: then none came */
	if (!c->read_failed && !adp_directory_status(c->a, &status, why, sizeof(why)) &&
	    status == 0) {
		struct adp_decision d = {
			.result = DECONF__V1__RECEIPT_RESULT__RECEIPT_RESULT_REFUSED,
			.reason = DECONF__V1__REJECT_REASON__REJECT_REASON_UNKNOWN_AGENCY,
			.op_index = -1,
			.detail = "the federation's directory has no entry for this agency, and "
				  "the broker does not answer an unknown agency",
			.decided_at = deconf_now_ms(),
			.partition = -1,
			.offset = -1,
			.inferred = 1,
		};
		struct adp_ledger_txn *t;
		int applied;

		receipts_kind(c, &k);
		if ((rc = adp_ledger_begin(c->a->ledger, 0, &t)))
			return rc;
		for (size_t i = 0; i < c->n_aw && !rc; i++)
			if (!c->aw[i].result)
				rc = adp_receipts_decide(t, c->aw[i].id, &d, &c->rctx, &applied);
		if (rc) {
			adp_ledger_abort(t);
			return deconf_err_set(c->errstr, c->errstr_size, rc, "ledger: %s",
					      deconf_strerror(rc));
		}
		if ((rc = adp_ledger_commit(t)))
			return rc;
	}
	for (size_t i = 0; i < c->n_aw; i++)
		if (!c->aw[i].result) {
			c->st->unconfirmed++;
			if (c->o->on_unconfirmed)
				c->o->on_unconfirmed(c->o->opaque, c->aw[i].id);
		}
	if (c->st->unconfirmed && c->read_failed)
		fprintf(c->report,
			"unconfirmed: %llu submission(s): their receipts could not be read (see "
			"above); they stay pending (`deconf-adapter status`) and their receipts "
			"are taken by a later submit or run\n",
			(unsigned long long)c->st->unconfirmed);
	else if (c->st->unconfirmed)
		fprintf(c->report,
			"unconfirmed: %llu submission(s) had no receipt from the broker within "
			"%lld s (is it running?); they stay pending (`deconf-adapter status`) and "
			"their receipts are taken by a later submit or run\n",
			(unsigned long long)c->st->unconfirmed, (long long)(timeout / 1000));
	return DECONF_OK;
}

/* ----------------------------------------------------- acknowledgments */

/* What the receipt of an acknowledgment said, into its ledger record. */
int adp_confirm_ack_decided(struct adp_confirm *c, const uint8_t notice_id[DECONF_ID_LEN],
			    int outcome, int result)
{
	struct adp_ledger_txn *t;
	struct adp_ack rec;
	int rc;

	if (!result)
		return DECONF_OK; /* unconfirmed: stays SENT */
	if ((rc = adp_ledger_begin(c->a->ledger, 0, &t)))
		return rc;
	if (!(rc = adp_ledger_ack_get(t, notice_id, &rec))) {
		if (result == DECONF__V1__RECEIPT_RESULT__RECEIPT_RESULT_ACCEPTED) {
			rec.outcomes |= 1u << outcome;
			rec.state = ADP_ACK_CONFIRMED;
		} else {
			rec.state = ADP_ACK_REFUSED;
		}
		rc = adp_ledger_ack_put(t, notice_id, &rec);
	}
	if (rc) {
		adp_ledger_abort(t);
		return rc;
	}
	return adp_ledger_commit(t);
}
