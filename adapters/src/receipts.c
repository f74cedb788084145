/* receipts.c — receipts: match, decide, show; the agency's directory status (see receipts.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/log.h"
#include "deconf/text.h"
#include "deconf/util.h"
#include "notices.h"
#include "receipts.h"

#define R(x) DECONF__V1__REJECT_REASON__REJECT_REASON_##x
#define ACCEPTED DECONF__V1__RECEIPT_RESULT__RECEIPT_RESULT_ACCEPTED
#define REFUSED DECONF__V1__RECEIPT_RESULT__RECEIPT_RESULT_REFUSED
#define RECEIPT_MAX (64 * 1024)   /* far above any receipt (detail <= 255 bytes) */
#define DIRECTORY_MAX (64 * 1024) /* far above any directory entry */
#define CASES_SHOWN 10            /* case refs a terminal line names */

/* ----------------------------------------------------------------- rules */

int adp_refusal_rule(int reason)
{
	switch (reason) {
	case R(SUSPENDED_AGENCY):
	case R(UNKNOWN_AGENCY): return ADP_RULE_WHEN_ACTIVE;
	case R(REPLAYED): return ADP_RULE_RESEND;
	case R(BAD_TEXT):
	case R(INVALID_OP):
	case R(STALE_EPOCH):
	case R(UNKNOWN_EPOCH):
	case R(UNPROCESSABLE): return ADP_RULE_FIX_INPUT;
	default: return ADP_RULE_FIX_SETUP;
	}
}

const char *adp_refusal_next(int rule)
{
	switch (rule) {
	case ADP_RULE_WHEN_ACTIVE:
		return "sent again by the next submit or run once the federation's directory "
		       "lists this agency as active";
	case ADP_RULE_RESEND: return "sent again under a new submission id by the next submit or run";
	case ADP_RULE_FIX_INPUT:
		return "the offending case stays refused until its input is fixed (the other "
		       "cases of the submission are sent again)";
	default:
		return "stays refused until the agency's setup is fixed, then submit "
		       "--retry-refused";
	}
}

const char *adp_reason_name(int reason, char *buf, size_t size)
{
	const ProtobufCEnumValue *v =
		protobuf_c_enum_descriptor_get_value(&deconf__v1__reject_reason__descriptor, reason);
	static const char prefix[] = "REJECT_REASON_";
	size_t i = 0;

	if (!size)
		return buf;
	if (!v || strncmp(v->name, prefix, sizeof(prefix) - 1)) {
		snprintf(buf, size, "reason_%d", reason);
		return buf;
	}
	for (const char *p = v->name + sizeof(prefix) - 1; *p && i + 1 < size; p++)
		buf[i++] = (char)tolower((unsigned char)*p);
	buf[i] = '\0';
	return buf;
}

/* --------------------------------------------------------------- deciding */

struct cases {
	char **v;
	size_t n, cap;
};

static int cases_add(struct cases *c, const ProtobufCBinaryData *ref)
{
	char *s;

	/* ops of one case are next to each other: this and a short look back
	 * catch nearly every repeat; an exact set is not needed for a list */
	for (size_t i = c->n > 8 ? c->n - 8 : 0; i < c->n; i++)
		if (strlen(c->v[i]) == ref->len && !memcmp(c->v[i], ref->data, ref->len))
			return DECONF_OK;
	if (DECONF_GROW(c->v, c->n, c->cap, 8) || !(s = malloc(ref->len + 1)))
		return DECONF_E_NOMEM;
	memcpy(s, ref->data, ref->len);
	s[ref->len] = '\0';
	c->v[c->n++] = s;
	return DECONF_OK;
}

static void cases_free(struct cases *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i]);
	free(c->v);
}

static int is_removal(int op)
{
	return op == DECONF__V1__OP__OP_REMOVE || op == DECONF__V1__OP__OP_CLOSE_CASE;
}

/* Decide the entries of submission id (envelope env) with d. */
static int decide_entries(struct adp_ledger_txn *t, const uint8_t id[ADP_SUBMISSION_ID_LEN],
			  const uint8_t *env, size_t env_len, const struct adp_decision *d,
			  struct cases *cs, size_t *entries, int *queries)
{
	Deconf__V1__Envelope *e = NULL;
	Deconf__V1__Submission *sub = NULL;
	int accepted = d->result == ACCEPTED, rc;

	/* our own record, stored by us: parsed, not verified */
	if ((rc = deconf_envelope_unpack(env, env_len, SIZE_MAX, &e, NULL, 0)) ||
	    (rc = deconf_envelope_payload(e, &deconf__v1__submission__descriptor,
					  (ProtobufCMessage **)&sub, NULL, 0)))
		goto out;
	for (size_t i = 0; i < sub->n_ops; i++) {
		Deconf__V1__CaseOp *op = sub->ops[i];
		char ref[ADP_LEDGER_CASE_MAX + 1];

		if (op->case_ref.len == 0 || op->case_ref.len > ADP_LEDGER_CASE_MAX)
			continue;
		if ((rc = cases_add(cs, &op->case_ref)))
			goto out;
		if (op->op == DECONF__V1__OP__OP_QUERY) {
			*queries = 1;
			continue; /* nothing registered: answers come as notices */
		}
		memcpy(ref, op->case_ref.data, op->case_ref.len);
		ref[op->case_ref.len] = '\0';
		for (size_t j = 0; j < op->n_tokens; j++) {
			Deconf__V1__TokenRef *tr = op->tokens[j];
			struct adp_entry en;

			if (tr->token.len != DECONF_TOKEN_LEN ||
			    adp_ledger_get(t, ref, tr->token.data, tr->key_epoch, &en) ||
			    memcmp(en.submission_id, id, ADP_SUBMISSION_ID_LEN))
				continue; /* changed since: its later submission decides */
			if (is_removal(op->op)) {
				if (en.state != ADP_ENTRY_REMOVING &&
				    en.state != ADP_ENTRY_REMOVE_REFUSED)
					continue;
				if (accepted) {
					rc = adp_ledger_del(t, ref, tr->token.data, tr->key_epoch);
				} else if (en.state == ADP_ENTRY_REMOVING) {
					en.state = ADP_ENTRY_REMOVE_REFUSED;
					en.reason = (uint8_t)d->reason;
					en.decided_at = d->decided_at;
					rc = adp_ledger_put(t, ref, &en);
				} else {
					continue;
				}
			} else {
				if (en.state != ADP_ENTRY_PENDING && en.state != ADP_ENTRY_SENT &&
				    en.state != ADP_ENTRY_REFUSED)
					continue; /* CONFIRMED: a refusal never undoes it */
				if (accepted) {
					en.state = ADP_ENTRY_CONFIRMED;
					en.reason = 0;
					if (!en.published_at)
						en.published_at = d->decided_at;
				} else if (en.state == ADP_ENTRY_REFUSED) {
					continue;
				} else {
					en.state = ADP_ENTRY_REFUSED;
					en.reason = (uint8_t)d->reason;
				}
				en.decided_at = d->decided_at;
				rc = adp_ledger_put(t, ref, &en);
			}
			if (rc)
				goto out;
			(*entries)++;
		}
	}
out:
	deconf_msg_free(sub);
	deconf_msg_free(e);
	return rc;
}

static void hook_key(uint8_t key[32], const uint8_t id[ADP_SUBMISSION_ID_LEN], int64_t at)
{
	/* "receipt!" + id + time: 32 bytes, never a 16-byte notice id */
	memcpy(key, "receipt!", 8);
	memcpy(key + 8, id, ADP_SUBMISSION_ID_LEN);
	for (int i = 0; i < 8; i++)
		key[24 + i] = (uint8_t)((uint64_t)at >> (56 - 8 * i));
}

int adp_receipts_decide(struct adp_ledger_txn *t, const uint8_t id[ADP_SUBMISSION_ID_LEN],
			const struct adp_decision *d, const struct adp_receipts_ctx *ctx,
			int *applied)
{
	struct adp_receipt_event ev;
	struct adp_sub s;
	struct cases cs = { 0 };
	const uint8_t *env = NULL;
	uint8_t *copy = NULL;
	size_t env_len = 0;
	int have_sub = 0, rc;

	*applied = 0;
	if (d->result != ACCEPTED && d->result != REFUSED)
		return DECONF_OK;
	rc = adp_ledger_sub_get(t, id, &s);
	if (!rc) {
		have_sub = 1;
		env = s.envelope;
		env_len = s.envelope_len;
		/* refused twice (an outbox resend): the first answer stands */
		if (s.status == ADP_SUB_REFUSED && d->result == REFUSED)
			return DECONF_OK;
	} else if (rc == DECONF_E_UNKNOWN) {
		/* delivered, but its delivery report never reached the ledger
		 * (a crash): still in the outbox */
		if ((rc = adp_ledger_outbox_get(t, id, &env, &env_len)))
			return rc == DECONF_E_UNKNOWN ? DECONF_OK : rc;
	} else {
		return rc;
	}
	/* the envelope is borrowed from pages the writes below may move */
	if (!(copy = malloc(env_len ? env_len : 1)))
		return DECONF_E_NOMEM;
	memcpy(copy, env, env_len);
	memset(&ev, 0, sizeof(ev));
	memcpy(ev.submission_id, id, ADP_SUBMISSION_ID_LEN);
	ev.d = *d;
	if ((rc = decide_entries(t, id, copy, env_len, d, &cs, &ev.entries, &ev.queries)))
		goto out;
	if ((rc = adp_ledger_outbox_del(t, id)))
		goto out;
	if (d->result == ACCEPTED) {
		rc = adp_ledger_sub_del(t, id);
	} else {
		struct adp_sub n = { .status = ADP_SUB_REFUSED,
				     .reason = (uint8_t)d->reason,
				     .op_index = d->op_index,
				     .partition = have_sub ? s.partition : d->partition,
				     .offset = have_sub ? s.offset : d->offset,
				     .sent_at = have_sub ? s.sent_at : d->decided_at,
				     .decided_at = d->decided_at,
				     .detail = d->detail ? d->detail : "",
				     .detail_len = d->detail ? strlen(d->detail) : 0,
				     .envelope = copy,
				     .envelope_len = env_len };
		rc = adp_ledger_sub_put(t, id, &n);
	}
	if (rc)
		goto out;
	ev.cases = (const char *const *)cs.v;
	ev.n_cases = cs.n;
	if (ctx && ctx->queue_webhook) {
		uint8_t key[32];
		char *body = adp_receipt_json(&ev);

		if (!body) {
			rc = DECONF_E_NOMEM;
			goto out;
		}
		hook_key(key, id, d->decided_at);
		rc = adp_ledger_hook_put(t, key, sizeof(key), body, strlen(body));
		free(body);
		if (rc)
			goto out;
	}
	if (ctx && ctx->cb)
		ctx->cb(ctx->opaque, &ev);
	*applied = 1;
out:
	cases_free(&cs);
	free(copy);
	return rc;
}

/* ------------------------------------------------------------ the reader */

static ProtobufCBinaryData addressee(const ProtobufCMessage *m)
{
	return ((const Deconf__V1__Receipt *)m)->agency_id;
}

struct by_offset {
	int32_t partition;
	int64_t offset;
	uint8_t id[ADP_SUBMISSION_ID_LEN];
	int found;
};

static int offset_cb(void *opaque, const uint8_t id[ADP_SUBMISSION_ID_LEN],
		     const struct adp_sub *s)
{
	struct by_offset *b = opaque;

	if (s->partition == b->partition && s->offset == b->offset) {
		memcpy(b->id, id, ADP_SUBMISSION_ID_LEN);
		b->found = 1;
		return 1;
	}
	return 0;
}

static int take(void *opaque, struct adp_ledger_txn *t, const ProtobufCMessage *msg,
		const rd_kafka_message_t *m, int *fresh)
{
	const struct adp_receipts_ctx *ctx = opaque;
	const Deconf__V1__Receipt *r = (const Deconf__V1__Receipt *)msg;
	struct adp_decision d = {
		.result = r->result,
		.reason = r->reason,
		.op_index = r->result == REFUSED ? r->op_index : -1,
		.detail = r->detail,
		.resend = r->resend,
		.case_ops = r->case_ops,
		.token_ops = r->token_ops,
		.decided_at = r->decided_at ? r->decided_at : deconf_now_ms(),
		.partition = r->partition,
		.offset = r->offset,
	};
	uint8_t id[ADP_SUBMISSION_ID_LEN];
	int rc;

	*fresh = 0;
	if (r->submission_id.len == ADP_SUBMISSION_ID_LEN) {
		memcpy(id, r->submission_id.data, ADP_SUBMISSION_ID_LEN);
	} else if (r->submission_id.len == 0 && r->topic &&
		   !strcmp(r->topic, ctx->submit_topic)) {
		/* refused before the broker read the id: the record's place
		 * names it, as Kafka's delivery report told the ledger */
		struct by_offset b = { .partition = r->partition, .offset = r->offset };

		rc = adp_ledger_sub_foreach(t, offset_cb, &b);
		if (!b.found && rc)
			return rc;
		if (!b.found) {
			deconf_log(DECONF_LOG_INFO, "RECEIPTS",
				   "a receipt for %s [%d] offset %lld: no submission of this "
				   "ledger is known there",
				   ctx->submit_topic, (int)r->partition, (long long)r->offset);
			return DECONF_OK;
		}
		memcpy(id, b.id, ADP_SUBMISSION_ID_LEN);
	} else {
		deconf_log(DECONF_LOG_INFO, "RECEIPTS",
			   "a receipt at %s [%d] offset %lld names no submission of this agency",
			   rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset);
		return DECONF_OK;
	}
	if (d.result != ACCEPTED && d.result != REFUSED) {
		deconf_log(DECONF_LOG_WARNING, "RECEIPTS",
			   "a receipt at %s [%d] offset %lld has result %d, which this adapter "
			   "does not know: ignored",
			   rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset,
			   (int)d.result);
		return DECONF_OK;
	}
	return adp_receipts_decide(t, id, &d, ctx, fresh);
}

/* Lost receipts matter when some submission was waiting for one. */
static int loss_matters(void *opaque, struct adp_ledger_txn *t)
{
	(void)opaque;
	return adp_ledger_sub_count(t, ADP_SUB_SENT) > 0 || adp_ledger_outbox_count(t) > 0;
}

/*
 * Receipts were lost and the loss accepted: any submission waiting may
 * have lost its receipt. Their records go (a receipt that does come is
 * then ignored); their entries stay SENT, and `resubmit` sends every SENT
 * entry no receipt can come for again, so that they get confirmed.
 */
static int drop_waiting_cb(void *opaque, const uint8_t id[ADP_SUBMISSION_ID_LEN],
			   const struct adp_sub *s)
{
	struct cases *ids = opaque; /* ids as 16-byte strings, reused */
	ProtobufCBinaryData b = { .len = ADP_SUBMISSION_ID_LEN, .data = (uint8_t *)id };

	if (s->status != ADP_SUB_SENT)
		return 0;
	if (DECONF_GROW(ids->v, ids->n, ids->cap, 8) || !(ids->v[ids->n] = malloc(b.len)))
		return DECONF_E_NOMEM;
	memcpy(ids->v[ids->n++], id, b.len);
	return 0;
}

static int loss_accepted(void *opaque, struct adp_ledger_txn *t)
{
	struct cases ids = { 0 };
	int rc;

	(void)opaque;
	rc = adp_ledger_sub_foreach(t, drop_waiting_cb, &ids);
	for (size_t i = 0; i < ids.n && !rc; i++)
		rc = adp_ledger_sub_del(t, (const uint8_t *)ids.v[i]);
	if (!rc && ids.n)
		deconf_log(DECONF_LOG_WARNING, "RECEIPTS",
			   "%zu submission(s) may have lost their receipt: their entries stay "
			   "pending; `deconf-adapter resubmit` sends them again to have them "
			   "confirmed",
			   ids.n);
	cases_free(&ids);
	return rc;
}

void adp_receipts_kind_init(struct adp_inbox_kind *k, struct adp_receipts_ctx *ctx,
			    const struct adp_agency *a)
{
	memset(k, 0, sizeof(*k));
	k->kind = "receipts";
	k->type = DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_RECEIPT;
	k->desc = &deconf__v1__receipt__descriptor;
	k->max_len = RECEIPT_MAX;
	k->addressee = addressee;
	k->take = take;
	k->loss_matters = loss_matters;
	k->loss_accepted = loss_accepted;
	k->opaque = ctx;
	adp_agency_topic(a, "submit", ctx->submit_topic, sizeof(ctx->submit_topic));
}

/* --------------------------------------------------------------- showing */

json_t *adp_receipt_json_object(const struct adp_receipt_event *ev)
{
	json_t *o = json_object(), *cases = json_array();
	char hex[2 * ADP_SUBMISSION_ID_LEN + 1], name[64];
	int refused = ev->d.result == REFUSED, bad = !o || !cases;

	deconf_hex_encode(hex, ev->submission_id, ADP_SUBMISSION_ID_LEN);
	bad |= json_object_set_new(o, "record", json_string("receipt"));
	bad |= json_object_set_new(o, "submission_id", json_string(hex));
	bad |= json_object_set_new(o, "result", json_string(refused ? "refused" : "accepted"));
	bad |= json_object_set_new(o, "decided_at", json_integer(ev->d.decided_at));
	bad |= json_object_set_new(o, "entries", json_integer((json_int_t)ev->entries));
	if (refused) {
		bad |= json_object_set_new(
			o, "reason", json_string(adp_reason_name(ev->d.reason, name, sizeof(name))));
		bad |= json_object_set_new(o, "op_index", json_integer(ev->d.op_index));
		bad |= json_object_set_new(
			o, "detail",
			adp_json_text(ev->d.detail, ev->d.detail ? strlen(ev->d.detail) : 0));
		bad |= json_object_set_new(
			o, "next", json_string(adp_refusal_next(adp_refusal_rule(ev->d.reason))));
	} else {
		bad |= json_object_set_new(o, "case_ops", json_integer(ev->d.case_ops));
		bad |= json_object_set_new(o, "token_ops", json_integer(ev->d.token_ops));
		bad |= json_object_set_new(o, "resend", json_boolean(ev->d.resend));
	}
	if (ev->d.inferred)
		bad |= json_object_set_new(o, "inferred", json_true());
	for (size_t i = 0; cases && i < ev->n_cases; i++)
		bad |= json_array_append_new(cases,
					     adp_json_text(ev->cases[i], strlen(ev->cases[i])));
	if (o && cases)
		bad |= json_object_set_new(o, "cases", cases);
	else
		json_decref(cases);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *adp_receipt_json(const struct adp_receipt_event *ev)
{
	json_t *o = adp_receipt_json_object(ev);
	char *s = o ? adp_json_dumps(o) : NULL;

	json_decref(o);
	return s;
}

static void put_text(FILE *out, const char *s)
{
	size_t len = s ? strlen(s) : 0;
	char small[1024], *buf = small;
	size_t size = sizeof(small);

	if (len > (sizeof(small) - 1) / 4 && len < (SIZE_MAX - 1) / 4 &&
	    (buf = malloc(DECONF_TEXT_TERMINAL_SIZE(len))))
		size = DECONF_TEXT_TERMINAL_SIZE(len);
	else
		buf = small;
	fputs(deconf_text_for_terminal(buf, size, s ? s : "", len), out);
	if (buf != small)
		free(buf);
}

void adp_receipt_print(FILE *out, const struct adp_receipt_event *ev)
{
	char name[64], hex[17];

	deconf_hex_encode(hex, ev->submission_id, 8);
	if (ev->d.result != REFUSED) {
		fprintf(out, "accepted: submission %s, %zu entr%s confirmed%s\n", hex, ev->entries,
			ev->entries == 1 ? "y" : "ies", ev->d.resend ? " (a resend)" : "");
		return;
	}
	fprintf(out, "refused (%s): ", adp_reason_name(ev->d.reason, name, sizeof(name)));
	put_text(out, ev->d.detail && *ev->d.detail ? ev->d.detail : "no detail given");
	if (ev->d.inferred)
		fputs(" (no receipt came: concluded by this adapter)", out);
	fprintf(out, "; submission %s", hex);
	if (ev->n_cases) {
		fputs(", case", out);
		fputs(ev->n_cases > 1 ? "s " : " ", out);
		for (size_t i = 0; i < ev->n_cases && i < CASES_SHOWN; i++) {
			if (i)
				fputs(", ", out);
			put_text(out, ev->cases[i]);
		}
		if (ev->n_cases > CASES_SHOWN)
			fprintf(out, " and %zu more", ev->n_cases - CASES_SHOWN);
	}
	if (ev->d.op_index >= 0)
		fprintf(out, " (op %d)", (int)ev->d.op_index);
	fprintf(out, ", %zu entr%s: %s\n", ev->entries, ev->entries == 1 ? "y" : "ies",
		adp_refusal_next(adp_refusal_rule(ev->d.reason)));
}

/* ------------------------------------------------------------- directory */

int adp_directory_status(struct adp_agency *a, int *status, char *errstr, size_t errstr_size)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_conf_t *kc = NULL;
	rd_kafka_topic_t *rkt = NULL;
	rd_kafka_t *rk = NULL;
	rd_kafka_resp_err_t err;
	char topic[256];
	int timeout = (int)a->set.submit_timeout, rc;
	size_t idlen = strlen(a->id);

	*status = 0;
	if ((rc = adp_agency_open_federation_key(a, errstr, errstr_size)))
		return rc;
	snprintf(topic, sizeof(topic), "%sdirectory", a->topic_prefix);
	if ((rc = deconf_kafka_conf_new(&kc, a->conf, "deconf-adapter", errstr, errstr_size)))
		return rc;
	if ((rc = deconf_kafka_conf_set(kc, "enable.partition.eof", "true", "adapter", errstr,
					errstr_size))) {
		rd_kafka_conf_destroy(kc);
		return rc;
	}
	if (!(rk = deconf_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errstr_size)))
		return DECONF_E_KAFKA;
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	err = rd_kafka_metadata(rk, 0, rkt, &md, timeout);
	if (!err && md->topic_cnt == 1)
		err = md->topics[0].err;
	if (err) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA, "%s: %s", topic,
				    rd_kafka_err2str(err));
		goto out;
	}
	/* Compacted, keyed by agency id: the last record of our key (in the
	 * one partition the key hashes to) is our entry. */
	for (int p = 0; p < md->topics[0].partition_cnt; p++) {
		int64_t lo = 0, hi = 0, until;

		if ((err = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, timeout))) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA, "%s [%d]: %s",
					    topic, p, rd_kafka_err2str(err));
			goto out;
		}
		if (hi <= lo)
			continue;
		if (rd_kafka_consume_start(rkt, p, RD_KAFKA_OFFSET_BEGINNING) < 0) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA, "%s [%d]: %s",
					    topic, p, rd_kafka_err2str(rd_kafka_last_error()));
			goto out;
		}
		until = deconf_mono_us() + (int64_t)timeout * 1000;
		for (int64_t next = lo; next < hi;) {
			rd_kafka_message_t *m = rd_kafka_consume(rkt, p, 200);
			Deconf__V1__DirectoryEntry *e = NULL;
			char why[256];

			if (!m) {
				if (deconf_mono_us() > until) {
					rd_kafka_consume_stop(rkt, p);
					rc = deconf_err_set(errstr, errstr_size, DECONF_E_TIMEOUT,
							    "%s [%d]: not read to its end in time",
							    topic, p);
					goto out;
				}
				continue;
			}
			if (m->err) {
				if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
					next = hi;
				else if (m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
					rc = deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA,
							    "%s: %s", topic,
							    rd_kafka_message_errstr(m));
					rd_kafka_message_destroy(m);
					rd_kafka_consume_stop(rkt, p);
					goto out;
				}
				rd_kafka_message_destroy(m);
				continue;
			}
			next = m->offset + 1;
			if (m->key_len == idlen && !memcmp(m->key, a->id, idlen)) {
				if (!m->payload) {
					*status = 0; /* a tombstone: no entry */
				} else if (!deconf_envelope_open(
						   m->payload, m->len, DIRECTORY_MAX,
						   DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_DIRECTORY_ENTRY,
						   a->federation_key,
						   &deconf__v1__directory_entry__descriptor,
						   (ProtobufCMessage **)&e, why, sizeof(why)) &&
					   e->agency_id.len == idlen &&
					   !memcmp(e->agency_id.data, a->id, idlen)) {
					*status = e->status;
				} else {
					/* not the federation's: it says nothing */
					deconf_log(DECONF_LOG_WARNING, "RECEIPTS",
						   "%s [%d] offset %lld: a directory record for "
						   "this agency that the federation did not sign: "
						   "ignored",
						   topic, p, (long long)m->offset);
				}
				deconf_msg_free(e);
			}
			rd_kafka_message_destroy(m);
		}
		rd_kafka_consume_stop(rkt, p);
	}
	rc = DECONF_OK;
out:
	if (md)
		rd_kafka_metadata_destroy(md);
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	if (rk)
		rd_kafka_destroy(rk);
	return rc;
}
