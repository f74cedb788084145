/* submit.c — plan, record, sign and publish submissions (see submit.h). */
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/log.h"
#include "deconf/text.h"
#include "deconf/util.h"
#include "confirm.h"
#include "progress.h"
#include "deconf/scope.h"
#include "event.h"
#include "notices.h"
#include "submit.h"

#define ENVELOPE_SLACK 512 /* signature, envelope framing, signer */

/* One token op being built into the current batch. */
struct tok {
	Deconf__V1__TokenRef ref;
	uint8_t token[DECONF_TOKEN_LEN];
	const struct adp_indicator *ind; /* NULL for ledger-sourced removes */
};

struct op {
	Deconf__V1__CaseOp cop;
	Deconf__V1__PointOfContact poc;
	Deconf__V1__DisclosureScope *scope; /* the case's disclose_to, parsed */
	const struct adp_case *c;
	uint8_t digest[32];
	struct tok *toks;
	size_t n, cap;
};

/* One delivery report: which submission, where Kafka stored it. */
struct delivered {
	uint8_t id[ADP_SUBMISSION_ID_LEN];
	int32_t partition;
	int64_t offset;
};

/* Delivery bookkeeping shared with the delivery report callback. */
struct delivery {
	struct delivered *v; /* delivered, to apply */
	size_t n, cap;
	size_t inflight;
	int failed;
	char why[256];
};

struct run {
	struct adp_agency *a;
	const struct adp_submit_opts *o;
	struct adp_submit_stats *st;
	FILE *report;
	/* The report goes to a terminal, or into a spool file's .result: what
	 * it repeats of the input (the file's name, case refs, also read back
	 * from the ledger by resubmit) is escaped there. */
	char source[1024];
	size_t max_batch;
	int64_t timeout_ms;
	rd_kafka_t *rk;
	char topic[256];
	struct delivery dl;
	/* what becomes of this run's submissions once published: receipts,
	 * refused entries (confirm.h) */
	struct adp_confirm *cf;
	int resend_sent;           /* resubmit: SENT entries are sent again */
	/* cases built from refused envelopes, each allocated alone (ops in
	 * the batch point at them) and kept until the run ends */
	struct adp_case **resend_cases;
	size_t n_resend_cases, cap_resend_cases;
	/* the batch */
	struct adp_ledger_txn *txn;
	uint8_t sub_id[ADP_SUBMISSION_ID_LEN];
	struct op *ops;
	size_t n_ops, cap_ops;
	size_t est;
	char *errstr;
	size_t errstr_size;
};

/* ---------------------------------------------------------------- kafka */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct delivery *dl = opaque;
	uint8_t *id = m->_private;

	dl->inflight--;
	if (m->err) {
		dl->failed++;
		snprintf(dl->why, sizeof(dl->why), "%s", rd_kafka_err2str(m->err));
	} else if (!DECONF_GROW(dl->v, dl->n, dl->cap, 64)) {
		memcpy(dl->v[dl->n].id, id, ADP_SUBMISSION_ID_LEN);
		dl->v[dl->n].partition = m->partition;
		dl->v[dl->n].offset = m->offset;
		dl->n++;
	} else {
		dl->failed++;
		snprintf(dl->why, sizeof(dl->why), "out of memory");
	}
	free(id);
}

static int open_producer(struct run *r)
{
	rd_kafka_conf_t *kc;
	char tmo[32];
	int rc, skip;

	if (r->rk)
		return DECONF_OK;
	/* before anything is sent: waiting needs the key receipts are checked with */
	if (!r->o->no_wait && ((rc = adp_confirm_need_broker_key(r->cf, &skip)) ||
			       (rc = adp_agency_open_broker_key(r->a, r->errstr, r->errstr_size))))
		return rc;
	if ((rc = deconf_kafka_conf_new(&kc, r->a->conf, "deconf-adapter", r->errstr,
					r->errstr_size)))
		return rc;
	snprintf(tmo, sizeof(tmo), "%lld", (long long)r->timeout_ms);
	if ((rc = deconf_kafka_conf_set(kc, "enable.idempotence", "true", "adapter", r->errstr,
					r->errstr_size)) ||
	    (rc = deconf_kafka_conf_set(kc, "message.timeout.ms", tmo, "submit.timeout",
					r->errstr, r->errstr_size)) ||
	    (rc = deconf_kafka_conf_set(kc, "linger.ms", "5", "adapter", r->errstr,
					r->errstr_size))) {
		rd_kafka_conf_destroy(kc);
		return rc;
	}
	rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
	rd_kafka_conf_set_opaque(kc, &r->dl);
	if (!(r->rk = deconf_kafka_new(RD_KAFKA_PRODUCER, kc, r->errstr, r->errstr_size)))
		return DECONF_E_KAFKA;
	return DECONF_OK;
}

/* Hand one envelope to the producer; buf is taken over (freed by Kafka). */
static int produce(struct run *r, const uint8_t id[ADP_SUBMISSION_ID_LEN], uint8_t *buf,
		   size_t len, const char *key)
{
	uint8_t *opaque = malloc(ADP_SUBMISSION_ID_LEN);
	rd_kafka_resp_err_t err;
	int rc;

	if (!opaque) {
		free(buf);
		return DECONF_E_NOMEM;
	}
	if ((rc = open_producer(r))) {
		free(buf);
		free(opaque);
		return rc;
	}
	memcpy(opaque, id, ADP_SUBMISSION_ID_LEN);
	for (;;) {
		err = rd_kafka_producev(r->rk, RD_KAFKA_V_TOPIC(r->topic),
					RD_KAFKA_V_KEY(key, strlen(key)),
					RD_KAFKA_V_VALUE(buf, len),
					RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
					RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		rd_kafka_poll(r->rk, 100);
	}
	if (err) {
		free(buf);
		free(opaque);
		return deconf_err_set(r->errstr, r->errstr_size, deconf_kafka_err(err),
				      "producing to %s: %s", r->topic, rd_kafka_err2str(err));
	}
	r->dl.inflight++;
	r->st->bytes += len;
	/* this run waits for its receipt (once, however often it is sent) */
	return adp_confirm_expect(r->cf, id);
}

/* ------------------------------------------------- applying deliveries */

/*
 * A delivery report: what submission dv changed is SENT, and its outbox
 * record becomes the submission waiting for its receipt.
 */
static int apply_one(struct run *r, struct adp_ledger_txn *t, const struct delivered *dv)
{
	const uint8_t *buf;
	uint8_t *copy = NULL;
	size_t len;
	Deconf__V1__Envelope *env = NULL;
	Deconf__V1__Submission *sub = NULL;
	int64_t now = deconf_now_ms();
	struct adp_sub sb = { .status = ADP_SUB_SENT, .op_index = -1 };
	int rc;

	/* gone: applied before, or its receipt came first (receipts.c) */
	if ((rc = adp_ledger_outbox_get(t, dv->id, &buf, &len)))
		return rc == DECONF_E_UNKNOWN ? DECONF_OK : rc;
	/* borrowed from pages the writes below may move */
	if (!(copy = malloc(len ? len : 1)))
		return DECONF_E_NOMEM;
	memcpy(copy, buf, len);
	if ((rc = deconf_envelope_unpack(copy, len, SIZE_MAX, &env, NULL, 0)) ||
	    (rc = deconf_envelope_payload(env, &deconf__v1__submission__descriptor,
					  (ProtobufCMessage **)&sub, NULL, 0)))
		goto out;
	for (size_t i = 0; i < sub->n_ops; i++) {
		Deconf__V1__CaseOp *op = sub->ops[i];
		char ref[ADP_LEDGER_CASE_MAX + 1];

		if (op->case_ref.len > ADP_LEDGER_CASE_MAX)
			continue;
		memcpy(ref, op->case_ref.data, op->case_ref.len);
		ref[op->case_ref.len] = '\0';
		for (size_t j = 0; j < op->n_tokens; j++) {
			Deconf__V1__TokenRef *tr = op->tokens[j];
			struct adp_entry e;

			if (tr->token.len != DECONF_TOKEN_LEN ||
			    adp_ledger_get(t, ref, tr->token.data, tr->key_epoch, &e) ||
			    memcmp(e.submission_id, dv->id, ADP_SUBMISSION_ID_LEN))
				continue; /* changed again since: the later op decides */
			/* REMOVING stays so until its receipt says accepted */
			if (e.state == ADP_ENTRY_PENDING) {
				e.state = ADP_ENTRY_SENT;
				e.published_at = now;
				if ((rc = adp_ledger_put(t, ref, &e)))
					goto out;
			}
		}
		if (op->op == DECONF__V1__OP__OP_CLOSE_CASE &&
		    (rc = adp_ledger_case_del(t, ref)))
			goto out;
	}
	sb.partition = dv->partition;
	sb.offset = dv->offset;
	sb.sent_at = now;
	sb.envelope = copy;
	sb.envelope_len = len;
	if ((rc = adp_ledger_sub_put(t, dv->id, &sb)) || (rc = adp_ledger_outbox_del(t, dv->id)))
		goto out;
	r->st->delivered++;
out:
	deconf_msg_free(sub);
	deconf_msg_free(env);
	free(copy);
	return rc;
}

/* Apply every delivery reported so far (no write transaction may be open). */
static int apply_delivered(struct run *r)
{
	struct adp_ledger_txn *t;
	int rc;

	if (!r->dl.n)
		return DECONF_OK;
	if ((rc = adp_ledger_begin(r->a->ledger, 0, &t)))
		return rc;
	for (size_t i = 0; i < r->dl.n; i++)
		if ((rc = apply_one(r, t, &r->dl.v[i]))) {
			adp_ledger_abort(t);
			return deconf_err_set(r->errstr, r->errstr_size, rc,
					      "ledger update after delivery: %s",
					      deconf_strerror(rc));
		}
	r->dl.n = 0;
	return adp_ledger_commit(t);
}

/* Wait for every record in flight, then apply what was delivered. */
static int drain(struct run *r)
{
	int64_t end = deconf_mono_us() + (r->timeout_ms + 10000) * 1000;
	int rc;

	while (r->rk && r->dl.inflight && deconf_mono_us() < end)
		rd_kafka_poll(r->rk, 100);
	if ((rc = apply_delivered(r)))
		return rc;
	if (r->dl.inflight || r->dl.failed)
		return deconf_err_set(r->errstr, r->errstr_size, DECONF_E_KAFKA,
				      "Kafka did not confirm %zu submission(s) to %s: %s; "
				      "they stay in the ledger's outbox and are sent again "
				      "by the next run",
				      r->dl.inflight + (size_t)r->dl.failed, r->topic,
				      r->dl.failed ? r->dl.why : "timed out");
	return DECONF_OK;
}

/* -------------------------------------------------------------- outbox */

struct resend {
	struct run *r;
	int rc;
};

static int resend_cb(void *opaque, const uint8_t id[ADP_SUBMISSION_ID_LEN],
		     const uint8_t *envelope, size_t len)
{
	struct resend *rs = opaque;
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		return rs->rc = DECONF_E_NOMEM;
	memcpy(copy, envelope, len);
	if ((rs->rc = produce(rs->r, id, copy, len, rs->r->a->id)))
		return rs->rc;
	rs->r->st->resent++;
	return 0;
}

/* Send again what an earlier run left in the outbox. */
static int resend_outbox(struct run *r)
{
	struct adp_ledger_txn *t;
	struct resend rs = { r, 0 };
	int rc;

	if ((rc = adp_ledger_begin(r->a->ledger, 1, &t)))
		return rc;
	if (adp_ledger_outbox_count(t)) {
		deconf_log(DECONF_LOG_NOTICE, "SUBMIT",
			   "sending again %zu submission(s) an earlier run left unconfirmed",
			   adp_ledger_outbox_count(t));
		/* produce() copies: the envelopes stay valid only in this txn */
		rc = adp_ledger_outbox_foreach(t, resend_cb, &rs);
	}
	adp_ledger_abort(t);
	if (rc || rs.rc)
		return rc ? rc : rs.rc;
	return drain(r);
}

/* -------------------------------------------------------------- batches */

static void free_batch(struct run *r)
{
	for (size_t i = 0; i < r->n_ops; i++) {
		free(r->ops[i].toks);
		deconf_scope_free(r->ops[i].scope);
	}
	r->n_ops = 0;
	r->est = 0;
}

static int begin_batch(struct run *r)
{
	int rc;

	if (r->txn)
		return DECONF_OK;
	if ((rc = adp_ledger_begin(r->a->ledger, 0, &r->txn)))
		return deconf_err_set(r->errstr, r->errstr_size, rc, "ledger: %s",
				      deconf_strerror(rc));
	if (RAND_bytes(r->sub_id, sizeof(r->sub_id)) != 1)
		return DECONF_E_CRYPTO;
	return DECONF_OK;
}

/* Sign the batch, put it in the outbox with its entries, commit, produce. */
static int flush_batch(struct run *r)
{
	Deconf__V1__Submission sub = DECONF__V1__SUBMISSION__INIT;
	Deconf__V1__CaseOp **ops = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int rc = DECONF_OK;

	if (!r->txn)
		return DECONF_OK;
	if (r->o->dry_run) {
		adp_ledger_abort(r->txn);
		r->txn = NULL;
		free_batch(r);
		return DECONF_OK;
	}
	if (!r->n_ops) {
		/* nothing to send, but what was planned may have forgotten
		 * refused submissions or replaced refused entries */
		rc = adp_ledger_commit(r->txn);
		r->txn = NULL;
		free_batch(r);
		return rc;
	}
	if (!(ops = calloc(r->n_ops, sizeof(*ops)))) {
		rc = DECONF_E_NOMEM;
		goto fail;
	}
	for (size_t i = 0; i < r->n_ops; i++) {
		struct op *o = &r->ops[i];
		o->cop.tokens = calloc(o->n ? o->n : 1, sizeof(*o->cop.tokens));
		if (!o->cop.tokens) {
			rc = DECONF_E_NOMEM;
			goto fail;
		}
		for (size_t j = 0; j < o->n; j++) {
			o->toks[j].ref.token.data = o->toks[j].token;
			o->cop.tokens[j] = &o->toks[j].ref;
		}
		o->cop.n_tokens = o->n;
		if (o->cop.op == DECONF__V1__OP__OP_ADD || o->cop.op == DECONF__V1__OP__OP_QUERY)
			o->cop.poc = &o->poc;
		ops[i] = &o->cop;
	}
	sub.agency_id.data = (uint8_t *)r->a->id;
	sub.agency_id.len = strlen(r->a->id);
	sub.submission_id.data = r->sub_id;
	sub.submission_id.len = sizeof(r->sub_id);
	sub.created_at = deconf_now_ms();
	sub.n_ops = r->n_ops;
	sub.ops = ops;
	rc = deconf_envelope_seal(&sub.base, DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION,
				  r->a->id, r->a->sign_key, &buf, &len);
	for (size_t i = 0; i < r->n_ops; i++) {
		free(r->ops[i].cop.tokens);
		r->ops[i].cop.tokens = NULL;
	}
	if (rc)
		goto fail;
	if ((rc = adp_ledger_outbox_put(r->txn, r->sub_id, buf, len)))
		goto fail;
	rc = adp_ledger_commit(r->txn);
	r->txn = NULL;
	if (rc)
		goto fail;
	r->st->submissions++;
	/* Key: the first case (informational: one partition per submit topic
	 * keeps an agency's submissions in order). */
	rc = produce(r, r->sub_id, buf, len, r->ops[0].c->case_ref);
	buf = NULL;
	free(ops);
	free_batch(r);
	if (!rc && r->rk) {
		rd_kafka_poll(r->rk, 0);
		rc = apply_delivered(r);
	}
	return rc;
fail:
	if (r->txn) {
		adp_ledger_abort(r->txn);
		r->txn = NULL;
	}
	free(buf);
	free(ops);
	free_batch(r);
	return rc;
}

/* An event cell's role and level, from its qualifier (event.h), onto its
 * token ref; nothing for any other type. */
static void cell_ref(Deconf__V1__TokenRef *ref, int type, const char *qualifier)
{
	int role;
	uint32_t level;

	if (type == DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL &&
	    !adp_event_qualifier_parse(qualifier, &role, &level)) {
		ref->cell_role = role;
		ref->cell_level = level;
	}
}

/* What identifies the case-level fields last published (POC, visibility...). */
static void case_digest(const struct adp_case *c, uint8_t out[32])
{
	const char *f[] = { c->poc_name, c->poc_phone, c->poc_email, c->poc_unit };
	uint8_t buf[4 * 257 + 16 + 1025];
	size_t n = 0;

	for (size_t i = 0; i < 4; i++) {
		size_t l = f[i] ? strlen(f[i]) : 0;
		if (l > 256)
			l = 256; /* the input caps POC fields at 256 bytes */
		memcpy(buf + n, f[i] ? f[i] : "", l);
		n += l;
		buf[n++] = 0;
	}
	buf[n++] = (uint8_t)c->visibility;
	memcpy(buf + n, &c->caution_flags, 4);
	n += 4;
	memcpy(buf + n, &c->expires_at, 8);
	n += 8;
	if (c->event_kind) /* only then: every other case's digest is as it was */
		buf[n++] = (uint8_t)c->event_kind;
	if (c->disclose_to) { /* the same: only a case with a scope */
		size_t l = strlen(c->disclose_to);
		if (l > 1024)
			l = 1024; /* the input's bound: adp_cases_set_scope */
		memcpy(buf + n, c->disclose_to, l);
		n += l;
		buf[n++] = 0;
	}
	SHA256(buf, n, out);
}

/* Start a CaseOp for c in the batch (flushing first if it would not fit). */
static struct op *start_op(struct run *r, const struct adp_case *c, int opcode,
			   const uint8_t digest[32])
{
	struct op *o;
	size_t overhead;

	if (DECONF_GROW(r->ops, r->n_ops, r->cap_ops, 64))
		return NULL;
	o = &r->ops[r->n_ops];
	memset(o, 0, sizeof(*o));
	deconf__v1__case_op__init(&o->cop);
	deconf__v1__point_of_contact__init(&o->poc);
	o->c = c;
	memcpy(o->digest, digest, 32);
	o->cop.case_ref.data = (uint8_t *)c->case_ref;
	o->cop.case_ref.len = strlen(c->case_ref);
	o->cop.op = opcode;
	o->cop.visibility = c->visibility;
	o->cop.caution_flags = c->caution_flags;
	o->cop.expires_at = c->expires_at;
	o->cop.event_kind = c->event_kind;
	/* checked when the case was read: it parses */
	if (c->disclose_to) {
		char why[128];
		if (deconf_scope_parse(c->disclose_to, &o->scope, why, sizeof(why)))
			return NULL;
		o->cop.scope = o->scope;
	}
	o->poc.name = c->poc_name ? c->poc_name : "";
	o->poc.phone = c->poc_phone ? c->poc_phone : "";
	o->poc.email = c->poc_email ? c->poc_email : "";
	o->poc.unit = c->poc_unit ? c->poc_unit : "";
	o->cop.poc = &o->poc;
	overhead = deconf__v1__case_op__get_packed_size(&o->cop) + 8;
	o->cop.poc = NULL;
	r->n_ops++;
	r->est += overhead;
	return o;
}

/* Add a token to c's current op, splitting into a new batch when full. */
static int add_token(struct run *r, struct op **op, const struct tok *t)
{
	struct op *o = *op;
	size_t sz = deconf__v1__token_ref__get_packed_size(&t->ref) + 20;
	int rc;

	if (r->est + sz > r->max_batch - ENVELOPE_SLACK && o->n > 0) {
		const struct adp_case *c = o->c;
		int opcode = o->cop.op;
		uint8_t digest[32];

		memcpy(digest, o->digest, 32);
		if ((rc = flush_batch(r)) || (rc = begin_batch(r)))
			return rc;
		if (!(o = start_op(r, c, opcode, digest)))
			return DECONF_E_NOMEM;
		*op = o;
	}
	if (DECONF_GROW(o->toks, o->n, o->cap, 8))
		return DECONF_E_NOMEM;
	o->toks[o->n] = *t;
	o->n++;
	r->est += sz;
	r->st->ops++;
	return DECONF_OK;
}

static int record_entry(struct run *r, const char *case_ref, const struct tok *t,
			uint8_t state, const uint8_t digest[32])
{
	struct adp_entry e = { 0 };

	memcpy(e.case_digest, digest, sizeof(e.case_digest));
	memcpy(e.token, t->token, DECONF_TOKEN_LEN);
	e.epoch = t->ref.key_epoch;
	e.type = t->ref.type;
	e.state = state;
	e.valid_from = t->ref.valid_from;
	e.valid_to = t->ref.valid_to;
	memcpy(e.submission_id, r->sub_id, ADP_SUBMISSION_ID_LEN);
	e.value = t->ind->value;
	e.value_len = t->ind->value_len;
	e.qualifier = t->ind->qualifier;
	return adp_ledger_put(r->txn, case_ref, &e);
}

/* ----------------------------------------------------------- planning */

/* Normalize + tokenize every indicator of c; -1 for each refused one. */
static int tokenize_case(struct run *r, const struct adp_case *c, struct tok *toks,
			 int *ok, size_t *n_bad)
{
	uint8_t canon[ADP_CANON_MAX];
	size_t len;
	char why[256];
	int rc;

	*n_bad = 0;
	for (size_t i = 0; i < c->n_ind; i++) {
		const struct adp_indicator *ind = &c->ind[i];
		struct tok *t = &toks[i];

		deconf__v1__token_ref__init(&t->ref);
		t->ind = ind;
		ok[i] = 0;
		rc = adp_normalize(ind->type, ind->qualifier, ind->value, ind->value_len,
				   &r->a->norm, canon, &len, why, sizeof(why));
		if (rc == DECONF_E_NOMEM)
			return rc;
		if (rc) {
			fprintf(r->report, "%s:%u: %s: %s\n", r->source, ind->line,
				deconf_indicator_type_name(ind->type), why);
			(*n_bad)++;
			continue;
		}
		if ((rc = deconf_token(r->a->tk, ind->type, canon, len, t->token)))
			return rc;
		t->ref.type = ind->type;
		t->ref.key_epoch = deconf_tokenizer_epoch(r->a->tk);
		t->ref.token.len = DECONF_TOKEN_LEN;
		t->ref.valid_from = ind->valid_from;
		t->ref.valid_to = ind->valid_to;
		cell_ref(&t->ref, ind->type, ind->qualifier);
		ok[i] = 1;
	}
	return DECONF_OK;
}

struct collect {
	struct tok *toks;
	size_t n, cap;
};

static int collect_cb(void *opaque, const char *case_ref, const struct adp_entry *e)
{
	struct collect *cl = opaque;
	struct tok *t;

	if (e->state == ADP_ENTRY_REMOVING || e->state == ADP_ENTRY_QUERY)
		return 0;
	if (DECONF_GROW(cl->toks, cl->n, cl->cap, 16))
		return DECONF_E_NOMEM;
	t = &cl->toks[cl->n++];
	deconf__v1__token_ref__init(&t->ref);
	memcpy(t->token, e->token, DECONF_TOKEN_LEN);
	t->ref.type = e->type;
	t->ref.key_epoch = e->epoch;
	t->ref.token.len = DECONF_TOKEN_LEN;
	t->ref.valid_from = e->valid_from;
	t->ref.valid_to = e->valid_to;
	cell_ref(&t->ref, e->type, e->qualifier);
	t->ind = NULL;
	return 0;
}

/* Mark the ledger entry of t REMOVING under this batch. */
static int mark_removing(struct run *r, const char *case_ref, const struct tok *t)
{
	struct adp_entry e;
	int rc;

	if ((rc = adp_ledger_get(r->txn, case_ref, t->token, t->ref.key_epoch, &e)))
		return rc == DECONF_E_UNKNOWN ? DECONF_OK : rc;
	e.state = ADP_ENTRY_REMOVING;
	e.reason = 0;
	e.decided_at = 0;
	memcpy(e.submission_id, r->sub_id, ADP_SUBMISSION_ID_LEN);
	return adp_ledger_put(r->txn, case_ref, &e);
}

/* CLOSE_CASE, or REMOVE of all: every entry the ledger holds for c. */
static int plan_close(struct run *r, const struct adp_case *c, int opcode)
{
	struct collect cl = { 0 };
	uint8_t digest[32] = { 0 };
	struct op *o;
	int rc;

	if ((rc = adp_ledger_foreach(r->txn, c->case_ref, collect_cb, &cl)))
		goto out;
	if (!cl.n) {
		/* Nothing held: a withdrawn or closed case stays so, silently. */
		r->st->unchanged++;
		goto out;
	}
	if (!(o = start_op(r, c, opcode, digest))) {
		rc = DECONF_E_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < cl.n && !rc; i++)
		if (!(rc = add_token(r, &o, &cl.toks[i])))
			rc = mark_removing(r, c->case_ref, &cl.toks[i]);
	if (!rc && opcode == DECONF__V1__OP__OP_CLOSE_CASE)
		rc = adp_ledger_case_del(r->txn, c->case_ref);
out:
	free(cl.toks);
	return rc;
}

/* Whether a receipt can still come for submission id: the ledger waits
 * for it (or still has it in the outbox). */
static int awaited(struct adp_ledger_txn *t, const uint8_t id[ADP_SUBMISSION_ID_LEN])
{
	struct adp_sub s;
	const uint8_t *env;
	size_t len;

	return !adp_ledger_sub_get(t, id, &s) || !adp_ledger_outbox_get(t, id, &env, &len);
}

static int same_window(const struct adp_entry *e, const struct tok *t)
{
	return e->valid_from == t->ref.valid_from && e->valid_to == t->ref.valid_to;
}

static int plan_case(struct run *r, const struct adp_case *c)
{
	struct tok *toks = NULL;
	int *ok = NULL, rc = DECONF_OK;
	size_t n_bad = 0;
	uint8_t digest[32];
	struct op *o = NULL;

	r->st->cases++;
	r->st->indicators += c->n_ind;
	if ((rc = begin_batch(r)))
		return rc;
	if (c->op == DECONF__V1__OP__OP_CLOSE_CASE ||
	    (c->op == DECONF__V1__OP__OP_REMOVE && c->n_ind == 0))
		return plan_close(r, c, c->op);
	if (c->n_ind && (!(toks = calloc(c->n_ind, sizeof(*toks))) ||
			 !(ok = calloc(c->n_ind, sizeof(*ok))))) {
		rc = DECONF_E_NOMEM;
		goto out;
	}
	if ((rc = tokenize_case(r, c, toks, ok, &n_bad)))
		goto out;
	r->st->invalid += n_bad;
	if ((c->invalid || n_bad) && !r->o->skip_invalid) {
		char ref[DECONF_TEXT_TERMINAL_SIZE(ADP_LEDGER_CASE_MAX)];

		r->st->cases_withheld++;
		fprintf(r->report, "%s:%u: case %s not published: fix the line(s) above, or "
				   "run with --skip-invalid to publish its valid rows\n",
			r->source, c->first_line,
			deconf_text_for_terminal(ref, sizeof(ref), c->case_ref,
						 strlen(c->case_ref)));
		goto out;
	}
	case_digest(c, digest);
	for (size_t i = 0; i < c->n_ind; i++) {
		struct adp_entry e;
		int have;

		if (!ok[i])
			continue;
		have = adp_ledger_get(r->txn, c->case_ref, toks[i].token, toks[i].ref.key_epoch,
				      &e) == DECONF_OK;
		switch (c->op) {
		case DECONF__V1__OP__OP_ADD:
			/* Unchanged: held (sent, confirmed or on its way) with
			 * the same window and the same case details. Kept per
			 * entry, so a run killed half-way through a case resumes
			 * exactly. A REFUSED entry is unchanged too: what becomes
			 * of it is the refusal rule's business (confirm.c),
			 * and the run reports it. resubmit sends SENT ones again
			 * when no receipt can come for them any more. */
			if (have && e.state != ADP_ENTRY_REMOVING && e.state != ADP_ENTRY_QUERY &&
			    e.state != ADP_ENTRY_REMOVE_REFUSED &&
			    !(r->resend_sent && e.state == ADP_ENTRY_SENT &&
			      !awaited(r->txn, e.submission_id)) &&
			    same_window(&e, &toks[i]) &&
			    !memcmp(e.case_digest, digest, sizeof(e.case_digest))) {
				r->st->unchanged++;
				continue;
			}
			break;
		case DECONF__V1__OP__OP_REMOVE:
			/* a refused removal is asked again */
			if (!have || e.state == ADP_ENTRY_REMOVING || e.state == ADP_ENTRY_QUERY) {
				r->st->unchanged++;
				continue;
			}
			break;
		default: /* RENEW and QUERY: always asked */
			break;
		}
		if (!o && !(o = start_op(r, c, c->op, digest))) {
			rc = DECONF_E_NOMEM;
			goto out;
		}
		if ((rc = add_token(r, &o, &toks[i])))
			goto out;
		if (c->op == DECONF__V1__OP__OP_ADD || c->op == DECONF__V1__OP__OP_RENEW)
			rc = record_entry(r, c->case_ref, &toks[i], ADP_ENTRY_PENDING, digest);
		else if (c->op == DECONF__V1__OP__OP_QUERY && !have)
			/* so a QUERY_HIT shows the raw value asked about */
			rc = record_entry(r, c->case_ref, &toks[i], ADP_ENTRY_QUERY, digest);
		else if (c->op == DECONF__V1__OP__OP_REMOVE)
			rc = mark_removing(r, c->case_ref, &toks[i]);
		if (rc)
			goto out;
	}
	if (c->op == DECONF__V1__OP__OP_ADD && o) {
		struct adp_case_info ci = {
			.visibility = c->visibility, .caution_flags = c->caution_flags,
			.expires_at = c->expires_at, .poc_name = c->poc_name,
			.poc_phone = c->poc_phone, .poc_email = c->poc_email,
			.poc_unit = c->poc_unit, .event_kind = c->event_kind,
			.disclose_to = c->disclose_to,
		};
		if (!(rc = adp_ledger_case_put(r->txn, c->case_ref, digest)))
			rc = adp_ledger_case_info_put(r->txn, c->case_ref, &ci);
	}
out:
	free(toks);
	free(ok);
	return rc;
}

/* ------------------------------------- refused entries, sent again */

/* The resend of one refused CaseOp: the case as it was sent. */
static struct adp_case *resend_case(struct run *r, const Deconf__V1__CaseOp *op)
{
	const Deconf__V1__PointOfContact *poc = op->poc;
	struct adp_case *c;

	if (DECONF_GROW(r->resend_cases, r->n_resend_cases, r->cap_resend_cases, 16) ||
	    !(c = calloc(1, sizeof(*c))))
		return NULL;
	r->resend_cases[r->n_resend_cases++] = c; /* freed with the run */
	if (!(c->case_ref = malloc(op->case_ref.len + 1)))
		return NULL;
	memcpy(c->case_ref, op->case_ref.data, op->case_ref.len);
	c->case_ref[op->case_ref.len] = '\0';
	if (poc && ((poc->name && *poc->name && !(c->poc_name = strdup(poc->name))) ||
		    (poc->phone && *poc->phone && !(c->poc_phone = strdup(poc->phone))) ||
		    (poc->email && *poc->email && !(c->poc_email = strdup(poc->email))) ||
		    (poc->unit && *poc->unit && !(c->poc_unit = strdup(poc->unit)))))
		return NULL;
	c->op = op->op;
	c->visibility = op->visibility;
	c->caution_flags = op->caution_flags;
	c->expires_at = op->expires_at;
	c->event_kind = op->event_kind;
	if (op->scope) { /* sent again as it was */
		char text[1024];
		if (!(c->disclose_to = strdup(deconf_scope_text(op->scope, text, sizeof(text)))))
			return NULL;
	}
	return c;
}

static void free_resend_cases(struct run *r)
{
	for (size_t i = 0; i < r->n_resend_cases; i++) {
		struct adp_case *c = r->resend_cases[i];
		free(c->case_ref);
		free(c->poc_name);
		free(c->poc_phone);
		free(c->poc_email);
		free(c->poc_unit);
		free(c->disclose_to);
		free(c);
	}
	free(r->resend_cases);
	r->resend_cases = NULL;
	r->n_resend_cases = r->cap_resend_cases = 0;
}

/* The batch as confirm.c sends refused entries again in it
 * (struct adp_confirm_batch). */
static int batch_begin(void *opaque)
{
	return begin_batch(opaque);
}

static struct adp_ledger_txn *batch_txn(void *opaque)
{
	return ((struct run *)opaque)->txn;
}

static int batch_resend_op(void *opaque, const Deconf__V1__CaseOp *op,
			   const Deconf__V1__TokenRef *const *tokens, size_t n)
{
	struct run *r = opaque;
	int removal = op->op == DECONF__V1__OP__OP_REMOVE ||
		      op->op == DECONF__V1__OP__OP_CLOSE_CASE;
	char ref[ADP_LEDGER_CASE_MAX + 1];
	struct adp_case *c;
	struct op *o = NULL;
	uint8_t digest[32] = { 0 };
	int rc = DECONF_OK;

	/* confirm.c passes only ops whose case ref fits the ledger */
	if (op->case_ref.len == 0 || op->case_ref.len > ADP_LEDGER_CASE_MAX)
		return DECONF_E_INVAL;
	memcpy(ref, op->case_ref.data, op->case_ref.len);
	ref[op->case_ref.len] = '\0';
	if (!(c = resend_case(r, op)) || !(o = start_op(r, c, op->op, digest)))
		return DECONF_E_NOMEM;
	for (size_t j = 0; j < n && !rc; j++) {
		const Deconf__V1__TokenRef *tr = tokens[j];
		struct tok t;
		struct adp_entry e;

		deconf__v1__token_ref__init(&t.ref);
		memcpy(t.token, tr->token.data, DECONF_TOKEN_LEN);
		t.ref.type = tr->type;
		t.ref.key_epoch = tr->key_epoch;
		t.ref.token.len = DECONF_TOKEN_LEN;
		t.ref.valid_from = tr->valid_from;
		t.ref.valid_to = tr->valid_to;
		t.ref.cell_role = tr->cell_role;
		t.ref.cell_level = tr->cell_level;
		t.ind = NULL;
		if ((rc = add_token(r, &o, &t)))
			break;
		/* r->txn and r->sub_id are the batch the token went into */
		if ((rc = adp_ledger_get(r->txn, ref, t.token, t.ref.key_epoch, &e)))
			break;
		e.state = removal ? ADP_ENTRY_REMOVING : ADP_ENTRY_PENDING;
		e.reason = 0;
		e.decided_at = 0;
		memcpy(e.submission_id, r->sub_id, ADP_SUBMISSION_ID_LEN);
		rc = adp_ledger_put(r->txn, ref, &e);
		r->st->refused_resent++;
	}
	return rc;
}

/* Before planning: receipts that came, the outbox, refused entries. */
static int catch_up(struct run *r)
{
	struct adp_confirm_batch batch = { .begin = batch_begin, .txn = batch_txn,
					   .resend_op = batch_resend_op, .opaque = r };
	int rc;

	if (r->o->dry_run)
		return DECONF_OK;
	if ((rc = adp_confirm_read(r->cf)) || (rc = resend_outbox(r)) ||
	    (rc = adp_confirm_resend_refused(r->cf, &batch, r->resend_sent)))
		return rc;
	return DECONF_OK;
}

/* After planning: deliver, wait, say what stays refused. */
static int finish_run(struct run *r)
{
	int rc;

	if ((rc = flush_batch(r)))
		return rc;
	if (r->o->dry_run)
		return DECONF_OK;
	if ((rc = drain(r)))
		return rc;
	r->st->awaited = adp_confirm_count(r->cf);
	if ((rc = adp_confirm_wait(r->cf)))
		return rc;
	adp_confirm_report_held(r->cf);
	return DECONF_OK;
}

int adp_submit_clean(const struct adp_submit_stats *st)
{
	return !st->refused && !st->unconfirmed && !st->held_entries && !st->receipts_refused;
}

/* ------------------------------------------------------------ drivers */

static int run_init(struct run *r, struct adp_agency *a, const struct adp_submit_opts *o,
		    struct adp_submit_stats *st, char *errstr, size_t errstr_size)
{
	int rc, resend_sent = r->resend_sent;

	memset(r, 0, sizeof(*r));
	memset(st, 0, sizeof(*st));
	r->resend_sent = resend_sent;
	r->a = a;
	r->o = o;
	r->st = st;
	r->report = o->report ? o->report : stderr;
	deconf_text_for_terminal(r->source, sizeof(r->source), o->source ? o->source : "-",
				 strlen(o->source ? o->source : "-"));
	r->errstr = errstr;
	r->errstr_size = errstr_size;
	r->max_batch = (size_t)a->set.submit_max_batch_bytes;
	r->timeout_ms = a->set.submit_timeout;
	adp_agency_topic(a, "submit", r->topic, sizeof(r->topic));
	if ((rc = adp_confirm_new(&r->cf, a, o, st, r->report, errstr, errstr_size)) ||
	    (rc = adp_agency_open_keys(a, errstr, errstr_size)) ||
	    (rc = adp_agency_open_ledger(a, errstr, errstr_size)))
		return rc;
	if (!o->dry_run && (rc = adp_agency_open_signing(a, errstr, errstr_size)))
		return rc;
	return catch_up(r);
}

static void run_free(struct run *r)
{
	if (r->txn)
		adp_ledger_abort(r->txn);
	free_batch(r);
	free(r->ops);
	free(r->dl.v);
	adp_confirm_free(r->cf);
	free_resend_cases(r);
	if (r->rk)
		rd_kafka_destroy(r->rk);
}

static int run_cases(struct run *r, const struct adp_case *const *cases, size_t n)
{
	struct adp_progress pr;
	int rc = DECONF_OK;

	adp_progress_start(&pr, r->o->progress, "publishing", "cases");
	for (size_t i = 0; i < n && !rc; i++) {
		rc = plan_case(r, cases[i]);
		adp_progress_update(&pr, i + 1, n, i + 1);
	}
	adp_progress_end(&pr);
	if (!rc)
		rc = finish_run(r);
	return rc;
}

int adp_submit_cases(struct adp_agency *a, const struct adp_case *cases, size_t n,
		     const struct adp_submit_opts *o, struct adp_submit_stats *st,
		     char *errstr, size_t errstr_size)
{
	const struct adp_case **list = NULL;
	struct run r = { 0 };
	int rc;

	if ((rc = run_init(&r, a, o, st, errstr, errstr_size)))
		goto out;
	if (n && !(list = calloc(n, sizeof(*list)))) {
		rc = DECONF_E_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		list[i] = &cases[i];
	rc = run_cases(&r, list, n);
	if (!rc && st->invalid)
		rc = DECONF_E_MALFORMED;
out:
	free(list);
	run_free(&r);
	return rc;
}

int adp_submit_ack(struct adp_agency *a, const uint8_t notice_id[DECONF_ID_LEN], int outcome,
		   const struct adp_submit_opts *o, struct adp_submit_stats *st, char *errstr,
		   size_t errstr_size)
{
	Deconf__V1__Submission sub = DECONF__V1__SUBMISSION__INIT;
	Deconf__V1__Acknowledgment ack = DECONF__V1__ACKNOWLEDGMENT__INIT, *acks[1] = { &ack };
	Deconf__V1__Envelope *env = NULL;
	Deconf__V1__ConflictNotice *n = NULL;
	struct adp_ack rec = { 0 };
	struct run r = { 0 };
	const uint8_t *stored;
	uint8_t *copy = NULL, *buf = NULL;
	size_t stored_len, len;
	char hex[2 * DECONF_ID_LEN + 1];
	int rc;

	deconf_hex_encode(hex, notice_id, DECONF_ID_LEN);
	if ((rc = run_init(&r, a, o, st, errstr, errstr_size)) || (rc = begin_batch(&r)))
		goto out;
	/* the notice as it was received: the broker takes the acknowledgment
	 * only with it (deconf.proto, Acknowledgment) */
	if ((rc = adp_ledger_notice_get(r.txn, notice_id, DECONF_ID_LEN, &stored, &stored_len))) {
		if (rc == DECONF_E_UNKNOWN)
			deconf_err_set(errstr, errstr_size, rc,
				       "no notice %s in the ledger (`deconf-adapter notices` takes "
				       "what arrived)",
				       hex);
		goto out;
	}
	if (!(copy = malloc(stored_len ? stored_len : 1))) {
		rc = DECONF_E_NOMEM;
		goto out;
	}
	memcpy(copy, stored, stored_len);
	if ((rc = deconf_envelope_unpack(copy, stored_len, SIZE_MAX, &env, NULL, 0)) ||
	    (rc = deconf_envelope_payload(env, &deconf__v1__conflict_notice__descriptor,
					  (ProtobufCMessage **)&n, NULL, 0))) {
		deconf_err_set(errstr, errstr_size, rc, "notice %s: its record in the ledger "
			       "cannot be read", hex);
		goto out;
	}
	if (!adp_notice_acknowledgeable(n)) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				    "notice %s is not about a conflict: only conflict, "
				    "restricted_match and scoped_match notices are acknowledged",
				    hex);
		goto out;
	}
	sub.agency_id.data = (uint8_t *)a->id;
	sub.agency_id.len = strlen(a->id);
	sub.submission_id.data = r.sub_id;
	sub.submission_id.len = sizeof(r.sub_id);
	sub.created_at = deconf_now_ms();
	sub.acks = acks;
	sub.n_acks = 1;
	ack.notice_id.data = (uint8_t *)notice_id;
	ack.notice_id.len = DECONF_ID_LEN;
	ack.outcome = outcome;
	ack.notice.data = copy;
	ack.notice.len = stored_len;
	if ((rc = deconf_envelope_seal(&sub.base, DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION,
				       a->id, a->sign_key, &buf, &len)))
		goto out;
	/* the outbox (sent again after a crash, as any submission) and the
	 * acknowledgment's record, in one transaction */
	if (adp_ledger_ack_get(r.txn, notice_id, &rec))
		memset(&rec, 0, sizeof(rec));
	rec.last = (uint8_t)outcome;
	rec.state = ADP_ACK_SENT;
	rec.at = sub.created_at;
	memcpy(rec.submission_id, r.sub_id, ADP_SUBMISSION_ID_LEN);
	if ((rc = adp_ledger_outbox_put(r.txn, r.sub_id, buf, len)) ||
	    (rc = adp_ledger_ack_put(r.txn, notice_id, &rec)))
		goto out;
	rc = adp_ledger_commit(r.txn);
	r.txn = NULL;
	if (rc)
		goto out;
	st->submissions++;
	rc = produce(&r, r.sub_id, buf, len, "ack");
	buf = NULL; /* produce's */
	if (rc || (rc = drain(&r)))
		goto out;
	st->awaited = adp_confirm_count(r.cf);
	if ((rc = adp_confirm_wait(r.cf)))
		goto out;
	rc = adp_confirm_ack_decided(r.cf, notice_id, outcome, adp_confirm_result(r.cf, 0));
out:
	free(buf);
	deconf_msg_free(n);
	deconf_msg_free(env);
	free(copy);
	run_free(&r);
	return rc;
}

int adp_submit_input(struct adp_agency *a, const struct adp_input *in,
		     const struct adp_submit_opts *o, struct adp_submit_stats *st,
		     char *errstr, size_t errstr_size)
{
	size_t n = adp_input_case_count(in), n_err = adp_input_error_count(in);
	const struct adp_case **list = NULL;
	size_t uncased = 0, k = 0;
	struct run r = { 0 };
	int rc;

	if ((rc = run_init(&r, a, o, st, errstr, errstr_size)))
		goto out;
	for (size_t i = 0; i < n_err; i++) {
		const struct adp_input_error *e = adp_input_error_at(in, i);
		/* the reader escapes what it quotes; escaped again all the same */
		char why[DECONF_TEXT_TERMINAL_SIZE(512)];

		fprintf(r.report, "%s:%u: %s\n", r.source, e->line,
			deconf_text_for_terminal(why, sizeof(why), e->reason, strlen(e->reason)));
		if (e->case_idx == ADP_INPUT_NO_CASE)
			uncased++;
	}
	if (adp_input_error_total(in) > n_err)
		fprintf(r.report, "%s: %zu more error(s) not shown\n", r.source,
			adp_input_error_total(in) - n_err);
	st->invalid += adp_input_error_total(in);
	if (uncased && !o->skip_invalid) {
		/* Rows that belong to no known case may hide any case's rows. */
		fprintf(r.report, "%s: nothing published: %zu line(s) could not be tied to a "
				  "case; fix them or run with --skip-invalid\n",
			r.source, uncased);
		st->cases = n;
		st->cases_withheld = n;
		rc = DECONF_E_MALFORMED;
		goto out;
	}
	if (n && !(list = calloc(n, sizeof(*list)))) {
		rc = DECONF_E_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		list[k++] = adp_input_case(in, i);
	rc = run_cases(&r, list, k);
	if (!rc && st->invalid)
		rc = DECONF_E_MALFORMED;
out:
	free(list);
	run_free(&r);
	return rc;
}

int adp_flush_outbox(struct adp_agency *a, const struct adp_submit_opts *o,
		     struct adp_submit_stats *st, char *errstr, size_t errstr_size)
{
	struct run r = { 0 };
	int rc = run_init(&r, a, o, st, errstr, errstr_size);

	if (!rc)
		rc = finish_run(&r);
	run_free(&r);
	return rc;
}

/* ------------------------------------------------------------ resubmit */

/* Copies of everything resubmit reads from the ledger (borrowed pointers
 * die with the read transaction). */
struct old_case {
	struct adp_case c;
	size_t cap;
};

struct old_cases {
	struct old_case *v;
	size_t n, cap;
	uint32_t epoch;
	struct adp_ledger_txn *t;
	int rc;
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int old_cb(void *opaque, const char *case_ref, const struct adp_entry *e)
{
	struct old_cases *oc = opaque;
	struct old_case *k;
	struct adp_indicator *ind;

	/* every entry of an older epoch, and the current epoch's that can get
	 * no receipt any more (sent before receipts existed, or their receipt
	 * was lost) */
	if ((e->epoch == oc->epoch &&
	     (e->state != ADP_ENTRY_SENT || awaited(oc->t, e->submission_id))) ||
	    e->state == ADP_ENTRY_REMOVING || e->state == ADP_ENTRY_QUERY ||
	    e->state == ADP_ENTRY_REMOVE_REFUSED)
		return 0;
	k = oc->n ? &oc->v[oc->n - 1] : NULL;
	if (!k || strcmp(k->c.case_ref, case_ref)) { /* entries come sorted by case */
		struct adp_case_info ci = { .visibility =
						    DECONF__V1__VISIBILITY__VISIBILITY_NORMAL };
		if (DECONF_GROW(oc->v, oc->n, oc->cap, 64))
			return DECONF_E_NOMEM;
		k = &oc->v[oc->n++];
		memset(k, 0, sizeof(*k));
		adp_ledger_case_info_get(oc->t, case_ref, &ci);
		k->c.case_ref = strdup(case_ref);
		k->c.op = DECONF__V1__OP__OP_ADD;
		k->c.visibility = ci.visibility;
		k->c.caution_flags = ci.caution_flags;
		k->c.expires_at = ci.expires_at;
		k->c.poc_name = dup_or_null(ci.poc_name);
		k->c.poc_phone = dup_or_null(ci.poc_phone);
		k->c.poc_email = dup_or_null(ci.poc_email);
		k->c.poc_unit = dup_or_null(ci.poc_unit);
		k->c.event_kind = ci.event_kind;
		k->c.disclose_to = dup_or_null(ci.disclose_to);
		if (!k->c.case_ref)
			return DECONF_E_NOMEM;
	}
	if (DECONF_GROW(k->c.ind, k->c.n_ind, k->cap, 8))
		return DECONF_E_NOMEM;
	ind = &k->c.ind[k->c.n_ind];
	memset(ind, 0, sizeof(*ind));
	ind->type = e->type;
	ind->valid_from = e->valid_from;
	ind->valid_to = e->valid_to;
	ind->value_len = e->value_len;
	if (!(ind->value = malloc(e->value_len + 1)) ||
	    (e->qualifier && !(ind->qualifier = strdup(e->qualifier)))) {
		free(ind->value);
		return DECONF_E_NOMEM;
	}
	memcpy(ind->value, e->value, e->value_len);
	ind->value[e->value_len] = '\0';
	k->c.n_ind++;
	return 0;
}

static void free_old(struct old_cases *oc)
{
	for (size_t i = 0; i < oc->n; i++) {
		struct adp_case *c = &oc->v[i].c;
		for (size_t j = 0; j < c->n_ind; j++) {
			free(c->ind[j].value);
			free(c->ind[j].qualifier);
		}
		free(c->ind);
		free(c->case_ref);
		free(c->poc_name);
		free(c->poc_phone);
		free(c->poc_email);
		free(c->poc_unit);
		free(c->disclose_to);
	}
	free(oc->v);
}

int adp_resubmit(struct adp_agency *a, const struct adp_submit_opts *o,
		 struct adp_submit_stats *st, char *errstr, size_t errstr_size)
{
	struct old_cases oc = { 0 };
	const struct adp_case **list = NULL;
	struct run r = { 0 };
	int rc;

	/* what to send is read before the catch-up changes entries */
	if ((rc = adp_agency_open_keys(a, errstr, errstr_size)) ||
	    (rc = adp_agency_open_ledger(a, errstr, errstr_size)))
		goto out;
	oc.epoch = deconf_tokenizer_epoch(a->tk);
	if ((rc = adp_ledger_begin(a->ledger, 1, &oc.t)))
		goto out;
	rc = adp_ledger_foreach(oc.t, NULL, old_cb, &oc);
	adp_ledger_abort(oc.t);
	if (rc)
		goto out;
	r.resend_sent = 1;
	if ((rc = run_init(&r, a, o, st, errstr, errstr_size)))
		goto out;
	if (oc.n && !(list = calloc(oc.n, sizeof(*list)))) {
		rc = DECONF_E_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < oc.n; i++)
		list[i] = &oc.v[i].c;
	/* planned as ADDs under the current epoch: entries already there are
	 * unchanged (but those without a receipt), the rest are new */
	rc = run_cases(&r, list, oc.n);
	if (!rc && st->invalid)
		rc = DECONF_E_MALFORMED;
out:
	free(list);
	free_old(&oc);
	run_free(&r);
	return rc;
}
