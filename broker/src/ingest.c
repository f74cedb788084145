/* ingest.c — submit topics → token ops, exactly once (see ingest.h). */
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/limits.h"
#include "deconf/log.h"
#include "deconf/util.h"
#include "eos.h"
#include "feed.h"
#include "ingest.h"
#include "submission.h"

#define TXN_TIMEOUT_MS 60000
#define MAX_POISON 64   /* records known to fail for a lasting reason */
#define MAX_SOLO 256    /* partitions re-read one record per transaction */
#define BACKOFF_MIN_MS 100
/* Every record decided costs at least this many token ops of its agency's
 * quota: checking its signature costs ingest about as much, so a flood of
 * tiny submissions is bounded like a flood of large ones. */
#define RECORD_COST_OPS 100
#define SEEN_VALUE_LEN 16 /* 8 bytes of the record's SHA-256, created_at */

/* ------------------------------------------------------------ seen set */

struct seen_entry {
	char *key; /* agency ":" hex(submission id) */
	uint8_t digest[8];
	int64_t created_at;
	struct seen_entry *next;
};

/* Keys hold a submission id, which its agency chooses: the table's hash
 * is keyed with a secret of this process, so no agency can choose ids that
 * share a bucket and make every lookup (everyone's) walk a long chain. */
struct seen {
	struct seen_entry **b;
	size_t nb, n;
	uint8_t hkey[16]; /* set with the first bucket array */
};

static uint64_t seen_hash(const struct seen *s, const char *key)
{
	return deconf_hash_keyed(s->hkey, key, strlen(key));
}

static struct seen_entry *seen_get(struct seen *s, const char *key)
{
	if (!s->nb)
		return NULL;
	for (struct seen_entry *e = s->b[seen_hash(s, key) % s->nb]; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

static int seen_put(struct seen *s, const char *key, const uint8_t digest[8],
		    int64_t created_at)
{
	struct seen_entry *e = seen_get(s, key);
	size_t i;

	if (!e) {
		if (s->n >= s->nb) { /* grow: rehash into twice the buckets */
			size_t nb = s->nb ? s->nb * 2 : 1024;
			struct seen_entry **b = calloc(nb, sizeof(*b));
			if (!b)
				return DECONF_E_NOMEM;
			if (!s->nb && RAND_bytes(s->hkey, sizeof(s->hkey)) != 1) {
				free(b);
				return DECONF_E_CRYPTO;
			}
			for (i = 0; i < s->nb; i++)
				for (struct seen_entry *x = s->b[i], *nx; x; x = nx) {
					nx = x->next;
					x->next = b[seen_hash(s, x->key) % nb];
					b[seen_hash(s, x->key) % nb] = x;
				}
			free(s->b);
			s->b = b;
			s->nb = nb;
		}
		if (!(e = calloc(1, sizeof(*e))) || !(e->key = strdup(key))) {
			free(e);
			return DECONF_E_NOMEM;
		}
		i = seen_hash(s, key) % s->nb;
		e->next = s->b[i];
		s->b[i] = e;
		s->n++;
	}
	memcpy(e->digest, digest, 8);
	e->created_at = created_at;
	return DECONF_OK;
}

static void seen_del(struct seen *s, const char *key)
{
	struct seen_entry **pp;

	if (!s->nb)
		return;
	for (pp = &s->b[seen_hash(s, key) % s->nb]; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->key, key)) {
			struct seen_entry *e = *pp;
			*pp = e->next;
			free(e->key);
			free(e);
			s->n--;
			return;
		}
}

static void seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->nb; i++)
		for (struct seen_entry *e = s->b[i], *n; e; e = n) {
			n = e->next;
			free(e->key);
			free(e);
		}
	free(s->b);
}

/* A record of deconf.ingest.seen. */
static int seen_apply(void *opaque, const void *key, size_t key_len, const void *value,
		      size_t value_len, char *errstr, size_t errstr_size)
{
	struct seen *s = opaque;
	char k[128];
	int64_t created = 0;
	const uint8_t *v = value;

	if (!key || key_len >= sizeof(k))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "bad key");
	memcpy(k, key, key_len);
	k[key_len] = '\0';
	if (!value) {
		seen_del(s, k);
		return DECONF_OK;
	}
	if (value_len != SEEN_VALUE_LEN)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "bad value");
	for (int i = 0; i < 8; i++)
		created = (int64_t)((uint64_t)created << 8 | v[8 + i]);
	return seen_put(s, k, v, created);
}

static int dir_apply(void *opaque, const void *key, size_t key_len, const void *value,
		     size_t value_len, char *errstr, size_t errstr_size)
{
	return brk_directory_apply(opaque, key, key_len, value, value_len, errstr, errstr_size);
}

/* --------------------------------------------------------------- quotas */

/*
 * Per-agency token buckets, refilled at ingest.agency_ops_per_s (token ops
 * the agency's submissions become) and ingest.agency_bytes_per_s (record
 * bytes), holding at most burst seconds of each. A record is charged after
 * it is decided; an agency in deficit has its submit topic paused until the
 * deficit is refilled. Pausing loses nothing (the consumer resumes from its
 * position) and holds no one else up: the other agencies' records go on.
 */
struct bucket {
	char agency[DECONF_AGENCY_ID_MAX + 1];
	char topic[256];
	int32_t partition;
	double ops, bytes;       /* what is left */
	int64_t refilled_us;
	int64_t paused_until_us; /* 0: not paused */
	/* refusals in the current window (for the ops desk) */
	uint32_t rejects;
	int64_t rejects_since_us;
	int rejects_told;
	struct bucket *next;
};

struct quotas {
	double ops_rate, bytes_rate, burst_s;
	struct bucket *b[256];
	size_t n_paused;
};

static struct bucket *bucket_get(struct quotas *q, const char *agency, size_t len)
{
	uint64_t h = deconf_hash_bytes(agency, len);
	struct bucket *k;

	for (k = q->b[h % 256]; k; k = k->next)
		if (strlen(k->agency) == len && !memcmp(k->agency, agency, len))
			return k;
	if (len >= sizeof(k->agency) || !(k = calloc(1, sizeof(*k))))
		return NULL;
	memcpy(k->agency, agency, len);
	k->ops = q->ops_rate * q->burst_s;
	k->bytes = q->bytes_rate * q->burst_s;
	k->refilled_us = deconf_mono_us();
	k->next = q->b[h % 256];
	q->b[h % 256] = k;
	return k;
}

static void quotas_free(struct quotas *q)
{
	for (size_t i = 0; i < 256; i++)
		for (struct bucket *k = q->b[i], *n; k; k = n) {
			n = k->next;
			free(k);
		}
}

static void refill(const struct quotas *q, struct bucket *k, int64_t now)
{
	double dt = (double)(now - k->refilled_us) / 1e6;

	k->ops += dt * q->ops_rate;
	k->bytes += dt * q->bytes_rate;
	if (k->ops > q->ops_rate * q->burst_s)
		k->ops = q->ops_rate * q->burst_s;
	if (k->bytes > q->bytes_rate * q->burst_s)
		k->bytes = q->bytes_rate * q->burst_s;
	k->refilled_us = now;
}

/* --------------------------------------------------------------- ingest */

/* A record that failed for a lasting reason: refused when read again. */
struct poison {
	char topic[256];
	int32_t partition;
	int64_t offset;
	char detail[160];
};

/* A partition re-read one record per transaction up to (and with) until,
 * to find which record of a failed batch cannot be written. */
struct solo {
	char topic[256];
	int32_t partition;
	int64_t until;
};

struct ingest {
	struct brk *b;
	struct brk_metrics *mx;
	int part;
	rd_kafka_t *consumer, *producer;
	struct brk_feed *dir, *seenfeed;
	struct seen seen;
	struct quotas q;
	char tokens[256], seen_topic[256], submit_prefix[256], ops_topic[256];
	int32_t n_token_partitions;
	int64_t max_token_ops; /* per submission: ingest.max_token_ops */
	/* the open batch's seen keys, undone if the transaction aborts */
	char **batch_keys;
	size_t n_batch_keys, cap_batch_keys;
	/* where the open batch read: for the solo retry */
	struct solo *batch_parts;
	size_t n_batch_parts, cap_batch_parts;
	struct poison poison[MAX_POISON];
	size_t n_poison;
	struct solo solo[MAX_SOLO];
	size_t n_solo;
	int in_txn;
	volatile int *stop;    /* the process is stopping */
	struct brk_eos_reopens reopens;
	int assigned;          /* the group has answered (an assignment, maybe empty) */
	/* what went wrong producing in this transaction */
	rd_kafka_resp_err_t produce_err, dr_err;
	char dr_topic[256];
	int64_t backoff_ms, retry_max_ms;
	int64_t rejects_alert, rejects_window_us; /* ingest.rejects_alert, _window */
	uint64_t accepted, refused, duplicates, token_ops, throttled;
	char *errstr;
	size_t errstr_size;
};

static int produce(struct ingest *g, const char *topic, int32_t partition, const void *key,
		   size_t key_len, const void *value, size_t len)
{
	rd_kafka_resp_err_t err = 0;
	int rc;

	if (len > DECONF_PRODUCED_MAX) {
		/* a bug if it ever happens (deconf/limits.h): never retried */
		deconf_log(DECONF_LOG_ERR, "INGEST", "a %zu-byte record for %s is over the %d-byte "
			   "budget", len, topic, DECONF_PRODUCED_MAX);
		g->produce_err = RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
		return DECONF_E_KAFKA;
	}
	rc = brk_eos_produce_err(g->producer, "INGEST", topic, partition, key, key_len, value, len,
				 &err);
	if (rc && !g->produce_err)
		g->produce_err = err;
	return rc;
}

/* Delivery reports: the first lasting failure of the transaction. */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct ingest *g = opaque;

	(void)rk;
	if (m->err && !g->dr_err && brk_eos_lasting(m->err)) {
		g->dr_err = m->err;
		snprintf(g->dr_topic, sizeof(g->dr_topic), "%s", rd_kafka_topic_name(m->rkt));
	}
}

struct op_ctx {
	struct ingest *g;
	int rc;
};

static int emit_token_op(void *opaque, const Deconf__V1__TokenOp *op)
{
	struct op_ctx *c = opaque;
	struct ingest *g = c->g;
	uint8_t *buf;
	size_t len;
	int rc;

	if ((rc = deconf_envelope_seal(&op->base, DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_TOKEN_OP,
				       "broker", NULL, &buf, &len)))
		return rc;
	if (op->type == DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL) {
		/* every event cell on one partition (keyed alike): a pair of
		 * events sharing several cells is then one conflict, seen by
		 * one matcher, with one lifecycle. Events are few next to
		 * indicators. */
		rc = produce(g, g->tokens, RD_KAFKA_PARTITION_UA, BRK_EVENT_KEY,
			     sizeof(BRK_EVENT_KEY) - 1, buf, len);
	} else if (op->token.len) {
		/* murmur2 partitioning on the token: what every Kafka client computes */
		rc = produce(g, g->tokens, RD_KAFKA_PARTITION_UA, op->token.data, op->token.len, buf,
			     len);
	} else {
		/* a whole case closed: every partition holds some of its entries */
		for (int32_t p = 0; p < g->n_token_partitions && !rc; p++)
			rc = produce(g, g->tokens, p, NULL, 0, buf, len);
	}
	free(buf);
	if (!rc)
		g->token_ops++;
	return rc;
}

/* What a submission becomes, measured before anything is written: the
 * number of token-op records and the largest. */
struct measure {
	int32_t partitions;
	int64_t records;
	size_t largest;
};

static int measure_op(void *opaque, const Deconf__V1__TokenOp *op)
{
	struct measure *mz = opaque;
	/* the Envelope adds its version, type, signer ("broker") and framing */
	size_t len = deconf__v1__token_op__get_packed_size(op) + 64;

	mz->records += op->token.len ? 1 : mz->partitions;
	if (len > mz->largest)
		mz->largest = len;
	return 0;
}

static void agency_labels(char *buf, size_t size, const char *agency, size_t agency_len,
			  const char *more)
{
	int ok = deconf_agency_id_valid(agency, agency_len);

	snprintf(buf, size, "agency=\"%.*s\"%s%s", ok ? (int)agency_len : 1, ok ? agency : "?",
		 more ? "," : "", more ? more : "");
}

/*
 * An agency refused again and again (a broken adapter, an expired key, a
 * suspended agency still sending) is something a person should look at:
 * past ingest.rejects_alert refusals within ingest.rejects_window, one ops
 * event per window, in the open transaction.
 */
static int count_reject(struct ingest *g, const char *agency, size_t agency_len,
			const struct brk_check *c)
{
	struct bucket *k = bucket_get(&g->q, agency, agency_len);
	Deconf__V1__OpsEvent ev = DECONF__V1__OPS_EVENT__INIT;
	int64_t now = deconf_mono_us();
	char detail[DECONF_REJECT_DETAIL_MAX + 128];
	uint8_t *buf;
	size_t len;
	int rc;

	if (!k)
		return DECONF_OK;
	if (!k->rejects_since_us || now - k->rejects_since_us > g->rejects_window_us) {
		k->rejects_since_us = now;
		k->rejects = 0;
		k->rejects_told = 0;
	}
	if (++k->rejects < g->rejects_alert || k->rejects_told)
		return DECONF_OK;
	k->rejects_told = 1;
	snprintf(detail, sizeof(detail),
		 "%.63s: %u submissions refused within %lld s; the last: %s: %s", k->agency,
		 k->rejects, (long long)(g->rejects_window_us / 1000000),
		 brk_reject_reason_name(c->reason), c->detail);
	ev.kind = DECONF__V1__OPS_KIND__OPS_KIND_REPEATED_REJECTS;
	ev.at = deconf_now_ms();
	ev.agency_id.data = (uint8_t *)agency;
	ev.agency_id.len = agency_len;
	ev.count = k->rejects;
	ev.detail = detail;
	deconf_log(DECONF_LOG_WARNING, "INGEST", "ops: %s", detail);
	if ((rc = deconf_envelope_seal(&ev.base, DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_OPS_EVENT,
				       "broker", g->b->key, &buf, &len)))
		return rc;
	rc = produce(g, g->ops_topic, RD_KAFKA_PARTITION_UA, NULL, 0, buf, len);
	free(buf);
	return rc;
}

/*
 * The agency's receipt for a submission record (deconf.receipts.<agency>,
 * signed by the broker): accepted (case and token ops, or a resend), or
 * refused (c: reason, op index, detail). id: the submission id, or NULL.
 */
static int emit_receipt(struct ingest *g, const char *agency, size_t agency_len,
			const rd_kafka_message_t *m, const ProtobufCBinaryData *id,
			const struct brk_check *refused, uint32_t case_ops, uint32_t token_ops,
			uint32_t acks, int resend)
{
	Deconf__V1__Receipt r = DECONF__V1__RECEIPT__INIT;
	char topic[512], detail[DECONF_REJECT_DETAIL_MAX + 1] = "";
	uint8_t *buf;
	size_t len;
	int rc;

	r.agency_id.data = (uint8_t *)agency;
	r.agency_id.len = agency_len;
	if (id)
		r.submission_id = *id;
	if (refused) {
		r.result = DECONF__V1__RECEIPT_RESULT__RECEIPT_RESULT_REFUSED;
		r.reason = refused->reason;
		r.op_index = refused->op_index;
		snprintf(detail, sizeof(detail), "%s", refused->detail);
	} else {
		r.result = DECONF__V1__RECEIPT_RESULT__RECEIPT_RESULT_ACCEPTED;
		r.case_ops = case_ops;
		r.token_ops = token_ops;
		r.acks = acks;
		r.resend = resend != 0;
		r.op_index = -1;
	}
	r.detail = detail;
	r.decided_at = deconf_now_ms();
	r.topic = (char *)rd_kafka_topic_name(m->rkt);
	r.partition = m->partition;
	r.offset = m->offset;
	if ((rc = deconf_envelope_seal(&r.base, DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_RECEIPT,
				       "broker", g->b->key, &buf, &len)))
		return rc;
	snprintf(topic, sizeof(topic), "%sreceipts.%.*s", g->b->prefix, (int)agency_len, agency);
	rc = produce(g, topic, RD_KAFKA_PARTITION_UA, r.submission_id.data, r.submission_id.len,
		     buf, len);
	free(buf);
	return rc;
}

/* A Reject, signed by the broker, to the agency's rejects topic. */
static int emit_reject(struct ingest *g, const char *agency, size_t agency_len,
		       const rd_kafka_message_t *m, const struct brk_check *c,
		       const Deconf__V1__Submission *sub)
{
	Deconf__V1__Reject r = DECONF__V1__REJECT__INIT;
	char topic[512], detail[DECONF_REJECT_DETAIL_MAX + 1], labels[192], more[64];
	uint8_t *buf;
	size_t len;
	int rc;

	g->refused++;
	snprintf(more, sizeof(more), "reason=\"%s\"", brk_reject_reason_name(c->reason));
	agency_labels(labels, sizeof(labels), agency, agency_len, more);
	brk_metrics_add(g->mx, "deconf_rejects_total", labels, 1);
	agency_labels(labels, sizeof(labels), agency, agency_len, "result=\"rejected\"");
	brk_metrics_add(g->mx, "deconf_submissions_total", labels, 1);
	deconf_log(DECONF_LOG_NOTICE, "INGEST", "refused %s [%d] offset %lld: %s: %s",
		   rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset,
		   brk_reject_reason_name(c->reason), c->detail);
	/* an unknown agency has no rejects topic of its own: ops hears of it */
	if (c->reason == DECONF__V1__REJECT_REASON__REJECT_REASON_UNKNOWN_AGENCY ||
	    !deconf_agency_id_valid(agency, agency_len))
		return DECONF_OK;
	snprintf(detail, sizeof(detail), "%s", c->detail);
	r.agency_id.data = (uint8_t *)agency;
	r.agency_id.len = agency_len;
	if (sub) {
		r.submission_id = sub->submission_id;
	} else if (c->id_len) {
		r.submission_id.data = (uint8_t *)c->id;
		r.submission_id.len = c->id_len;
	}
	r.reason = c->reason;
	r.detail = detail;
	r.rejected_at = deconf_now_ms();
	r.topic = (char *)rd_kafka_topic_name(m->rkt);
	r.partition = m->partition;
	r.offset = m->offset;
	r.op_index = c->op_index;
	if ((rc = deconf_envelope_seal(&r.base, DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_REJECT,
				       "broker", g->b->key, &buf, &len)))
		return rc;
	snprintf(topic, sizeof(topic), "%srejects.%.*s", g->b->prefix, (int)agency_len, agency);
	rc = produce(g, topic, RD_KAFKA_PARTITION_UA, agency, agency_len, buf, len);
	free(buf);
	/* and the agency's receipt, which its adapter waits for */
	if (!rc)
		rc = emit_receipt(g, agency, agency_len, m, &r.submission_id, c, 0, 0, 0, 0);
	if (!rc)
		rc = count_reject(g, agency, agency_len, c);
	return rc;
}

static struct poison *poison_of(struct ingest *g, const rd_kafka_message_t *m)
{
	const char *topic = rd_kafka_topic_name(m->rkt);

	for (size_t i = 0; i < g->n_poison; i++)
		if (g->poison[i].partition == m->partition && g->poison[i].offset == m->offset &&
		    !strcmp(g->poison[i].topic, topic))
			return &g->poison[i];
	return NULL;
}

static void poison_add(struct ingest *g, const char *topic, int32_t partition, int64_t offset,
		       const char *why)
{
	struct poison *p;

	if (g->n_poison == MAX_POISON) /* the oldest has been refused long ago */
		memmove(&g->poison[0], &g->poison[1], (MAX_POISON - 1) * sizeof(g->poison[0]));
	else
		g->n_poison++;
	p = &g->poison[g->n_poison - 1];
	snprintf(p->topic, sizeof(p->topic), "%s", topic);
	p->partition = partition;
	p->offset = offset;
	snprintf(p->detail, sizeof(p->detail), "%s", why);
	deconf_log(DECONF_LOG_WARNING, "INGEST",
		   "%s [%d] offset %lld cannot be written (%s): it will be refused", topic,
		   (int)partition, (long long)offset, why);
}

/* Charge agency's bucket for a decided record; pause its topic in deficit. */
static void charge(struct ingest *g, const rd_kafka_message_t *m, const char *agency,
		   size_t agency_len, int64_t ops)
{
	struct bucket *k = bucket_get(&g->q, agency, agency_len);
	int64_t now = deconf_mono_us();
	double wait;

	if (!k)
		return;
	refill(&g->q, k, now);
	k->ops -= (double)(ops > RECORD_COST_OPS ? ops : RECORD_COST_OPS);
	k->bytes -= (double)m->len;
	if (k->paused_until_us || (k->ops >= 0 && k->bytes >= 0))
		return;
	wait = -k->ops / g->q.ops_rate;
	if (-k->bytes / g->q.bytes_rate > wait)
		wait = -k->bytes / g->q.bytes_rate;
	snprintf(k->topic, sizeof(k->topic), "%s", rd_kafka_topic_name(m->rkt));
	k->partition = m->partition;
	k->paused_until_us = now + (int64_t)(wait * 1e6) + 1;
	{
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
		char labels[128];
		rd_kafka_topic_partition_list_add(l, k->topic, k->partition);
		rd_kafka_pause_partitions(g->consumer, l);
		rd_kafka_topic_partition_list_destroy(l);
		g->q.n_paused++;
		g->throttled++;
		agency_labels(labels, sizeof(labels), agency, agency_len, NULL);
		brk_metrics_add(g->mx, "deconf_ingest_throttled_total", labels, 1);
		brk_metrics_add(g->mx, "deconf_ingest_throttled_seconds_total", labels, wait);
		deconf_log(DECONF_LOG_INFO, "INGEST",
			   "%s is over its quota (%.0f token ops/s, %.0f bytes/s): paused for %.2f s",
			   k->agency, g->q.ops_rate, g->q.bytes_rate, wait);
	}
}

/* Resume the topics whose pause is over. */
static void resume_due(struct ingest *g)
{
	int64_t now;

	if (!g->q.n_paused)
		return;
	now = deconf_mono_us();
	for (size_t i = 0; i < 256; i++)
		for (struct bucket *k = g->q.b[i]; k; k = k->next)
			if (k->paused_until_us && k->paused_until_us <= now) {
				rd_kafka_topic_partition_list_t *l =
					rd_kafka_topic_partition_list_new(1);
				rd_kafka_topic_partition_list_add(l, k->topic, k->partition);
				rd_kafka_resume_partitions(g->consumer, l);
				rd_kafka_topic_partition_list_destroy(l);
				k->paused_until_us = 0;
				g->q.n_paused--;
			}
}

/* A new assignment starts unpaused: forget the pauses (the buckets keep
 * their deficits, so an agency over quota is paused again at its next
 * record). */
static void forget_pauses(struct ingest *g)
{
	for (size_t i = 0; i < 256; i++)
		for (struct bucket *k = g->q.b[i]; k; k = k->next)
			k->paused_until_us = 0;
	g->q.n_paused = 0;
}

/* Remember where the batch read (for a solo retry). */
static int note_read(struct ingest *g, const rd_kafka_message_t *m)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	int rc;

	for (size_t i = 0; i < g->n_batch_parts; i++)
		if (g->batch_parts[i].partition == m->partition &&
		    !strcmp(g->batch_parts[i].topic, topic)) {
			if (m->offset > g->batch_parts[i].until)
				g->batch_parts[i].until = m->offset;
			return DECONF_OK;
		}
	if ((rc = DECONF_GROW(g->batch_parts, g->n_batch_parts, g->cap_batch_parts, 16)))
		return rc;
	snprintf(g->batch_parts[g->n_batch_parts].topic, sizeof(g->batch_parts[0].topic), "%s",
		 topic);
	g->batch_parts[g->n_batch_parts].partition = m->partition;
	g->batch_parts[g->n_batch_parts].until = m->offset;
	g->n_batch_parts++;
	return DECONF_OK;
}

/* Decide one submit record and produce what it becomes (inside the txn). */
static int process(struct ingest *g, const rd_kafka_message_t *m)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	const char *agency = topic + strlen(g->submit_prefix);
	size_t agency_len = strlen(agency);
	struct brk_check c;
	struct seen_entry *e;
	struct poison *bad;
	struct measure mz = { .partitions = g->n_token_partitions };
	uint8_t digest[SHA256_DIGEST_LENGTH], value[SEEN_VALUE_LEN];
	char key[128], hex[2 * BRK_SUBMISSION_ID_LEN + 1];
	struct op_ctx oc = { g, 0 };
	int64_t now = deconf_now_ms();
	int rc;

	if ((rc = note_read(g, m)))
		return rc;
	/* acknowledgments carry the notice they acknowledge: the broker's own
	 * key checks it */
	if ((rc = brk_submission_check_ex(g->b->dir, g->b->key, agency, agency_len, m->payload,
					  m->len, g->b->max_record, now, &c)))
		return rc;
	if (c.reason == DECONF__V1__REJECT_REASON__REJECT_REASON_UNKNOWN_AGENCY) {
		/* maybe added a moment ago: read the directory to its end, retry */
		brk_feed_sync(g->dir, 5000);
		if ((rc = brk_submission_check_ex(g->b->dir, g->b->key, agency, agency_len,
						  m->payload, m->len, g->b->max_record, now, &c)))
			return rc;
	}
	if (c.reason) {
		/* the acknowledged notices it made us check count, refused or not */
		charge(g, m, agency, agency_len, (int64_t)c.acks_checked * RECORD_COST_OPS);
		return emit_reject(g, agency, agency_len, m, &c, NULL);
	}
	SHA256(m->payload, m->len, digest);
	snprintf(key, sizeof(key), "%.*s:%s", (int)agency_len, agency,
		 deconf_hex_encode(hex, c.sub->submission_id.data, BRK_SUBMISSION_ID_LEN));
	brk_submission_token_ops(c.sub, now, measure_op, &mz);
	/* an acknowledgment is one small token op (a notice's token and case,
	 * two ids): counted, not built, which would check its notice again */
	mz.records += (int64_t)c.sub->n_acks;
	if ((bad = poison_of(g, m))) {
		c.reason = DECONF__V1__REJECT_REASON__REJECT_REASON_UNPROCESSABLE;
		snprintf(c.detail, sizeof(c.detail), "what it becomes cannot be written: %s",
			 bad->detail);
	} else if ((e = seen_get(&g->seen, key))) {
		if (!memcmp(e->digest, digest, 8)) {
			/* the adapter sent it again after a crash: already applied;
			 * it is told so (its first receipt may be what it missed) */
			g->duplicates++;
			agency_labels(key, sizeof(key), agency, agency_len, "result=\"resend\"");
			brk_metrics_add(g->mx, "deconf_submissions_total", key, 1);
			rc = emit_receipt(g, agency, agency_len, m, &c.sub->submission_id, NULL,
					  (uint32_t)c.sub->n_ops, (uint32_t)mz.records,
					  (uint32_t)c.sub->n_acks, 1);
			deconf_msg_free(c.sub);
			charge(g, m, agency, agency_len,
			       (int64_t)c.acks_checked * RECORD_COST_OPS);
			return rc;
		}
		c.reason = DECONF__V1__REJECT_REASON__REJECT_REASON_REPLAYED;
		snprintf(c.detail, sizeof(c.detail), "submission id %s was used before", hex);
	} else if (c.sub->created_at < now - g->b->replay_window_ms) {
		c.reason = DECONF__V1__REJECT_REASON__REJECT_REASON_REPLAYED;
		snprintf(c.detail, sizeof(c.detail),
			 "created more than the replay window (%lld days) ago",
			 (long long)(g->b->replay_window_ms / 86400000));
	} else if (mz.records > g->max_token_ops) {
		/* one record is processed at once, whatever the quota: a close of
		 * many cases is multiplied by the partitions */
		c.reason = DECONF__V1__REJECT_REASON__REJECT_REASON_OVERSIZED;
		snprintf(c.detail, sizeof(c.detail),
			 "it would become %lld token ops; at most %lld at once (split it)",
			 (long long)mz.records, (long long)g->max_token_ops);
	} else if (mz.largest > DECONF_TOKEN_OP_MAX) {
		c.reason = DECONF__V1__REJECT_REASON__REJECT_REASON_UNPROCESSABLE;
		snprintf(c.detail, sizeof(c.detail),
			 "a token op would be %zu bytes; the limit is %d", mz.largest,
			 DECONF_TOKEN_OP_MAX);
	}
	if (c.reason) {
		rc = emit_reject(g, agency, agency_len, m, &c, c.sub);
		deconf_msg_free(c.sub);
		charge(g, m, agency, agency_len, (int64_t)c.acks_checked * RECORD_COST_OPS);
		return rc;
	}
	rc = brk_submission_token_ops(c.sub, now, emit_token_op, &oc);
	if (!rc)
		rc = brk_submission_ack_ops(c.sub, now, g->b->key, emit_token_op, &oc);
	memcpy(value, digest, 8);
	for (int i = 0; i < 8; i++)
		value[8 + i] = (uint8_t)((uint64_t)c.sub->created_at >> (56 - 8 * i));
	if (!rc)
		rc = produce(g, g->seen_topic, RD_KAFKA_PARTITION_UA, key, strlen(key), value,
			     sizeof(value));
	if (!rc)
		rc = emit_receipt(g, agency, agency_len, m, &c.sub->submission_id, NULL,
				  (uint32_t)c.sub->n_ops, (uint32_t)mz.records,
				  (uint32_t)c.sub->n_acks, 0);
	if (!rc && !(rc = seen_put(&g->seen, key, digest, c.sub->created_at))) {
		/* remember it, to undo if the transaction aborts */
		rc = DECONF_GROW(g->batch_keys, g->n_batch_keys, g->cap_batch_keys, 64);
		if (!rc && !(g->batch_keys[g->n_batch_keys] = strdup(key)))
			rc = DECONF_E_NOMEM;
		if (!rc)
			g->n_batch_keys++;
	}
	if (!rc) {
		g->accepted++;
		agency_labels(key, sizeof(key), agency, agency_len, "result=\"accepted\"");
		brk_metrics_add(g->mx, "deconf_submissions_total", key, 1);
		charge(g, m, agency, agency_len,
		       mz.records + (int64_t)c.acks_checked * RECORD_COST_OPS);
	}
	deconf_msg_free(c.sub);
	return rc;
}

static void forget_batch(struct ingest *g, int undo)
{
	for (size_t i = 0; i < g->n_batch_keys; i++) {
		if (undo)
			seen_del(&g->seen, g->batch_keys[i]);
		free(g->batch_keys[i]);
	}
	g->n_batch_keys = 0;
	g->n_batch_parts = 0;
	g->produce_err = g->dr_err = 0;
}

/* Abort the open transaction and rewind to the committed offsets: 0, or
 * DECONF_E_KAFKA when the producer cannot go on (fatal). */
static int abort_batch(struct ingest *g, const char *why)
{
	deconf_log(DECONF_LOG_WARNING, "INGEST", "aborting the batch: %s", why);
	brk_metrics_add(g->mx, "deconf_txn_aborts_total", "part=\"ingest\"", 1);
	if (*g->stop) { /* going: a short try, as eos.h says */
		brk_eos_abort(g->producer, "INGEST", BRK_EOS_STOP_ABORT_MS, g->mx, g->part, g->stop);
		g->in_txn = 0;
		forget_batch(g, 1);
		return DECONF_OK;
	}
	if (brk_eos_abort(g->producer, "INGEST", TXN_TIMEOUT_MS, g->mx, g->part, g->stop))
		return DECONF_E_KAFKA;
	g->in_txn = 0;
	forget_batch(g, 1);
	brk_eos_rewind(g->consumer);
	return DECONF_OK;
}

/* After a batch failed for a lasting reason that no single record showed:
 * re-read what it read one record per transaction, so the one that cannot
 * be written is found (and refused) and the others go through. */
static void enter_solo(struct ingest *g)
{
	for (size_t i = 0; i < g->n_batch_parts && g->n_solo < MAX_SOLO; i++)
		g->solo[g->n_solo++] = g->batch_parts[i];
	deconf_log(DECONF_LOG_WARNING, "INGEST",
		   "re-reading the failed batch one record at a time (%zu partition(s))", g->n_solo);
}

/* After a commit: partitions read past their solo bound leave solo mode. */
static void solo_progress(struct ingest *g)
{
	size_t keep = 0;

	for (size_t i = 0; i < g->n_solo; i++) {
		int done = 0;
		for (size_t j = 0; j < g->n_batch_parts; j++)
			if (g->batch_parts[j].partition == g->solo[i].partition &&
			    !strcmp(g->batch_parts[j].topic, g->solo[i].topic) &&
			    g->batch_parts[j].until >= g->solo[i].until)
				done = 1;
		if (!done)
			g->solo[keep++] = g->solo[i];
	}
	g->n_solo = keep;
}

/* Whether any agency's submit topic exists. The group only assigns
 * partitions once a topic matches the subscription: with none, ingest has
 * nothing to wait for and is ready; with some, it waits for the group. */
static void readiness_before_assignment(struct ingest *g)
{
	const struct rd_kafka_metadata *md = NULL;
	size_t plen = strlen(g->submit_prefix);
	int any = 0;

	if (rd_kafka_metadata(g->consumer, 1, NULL, &md, 5000) || !md)
		return;
	for (int i = 0; i < md->topic_cnt && !any; i++)
		any = !strncmp(md->topics[i].topic, g->submit_prefix, plen) &&
		      strlen(md->topics[i].topic) > plen;
	rd_kafka_metadata_destroy(md);
	if (!g->assigned) /* the group may have answered meanwhile */
		brk_metrics_status(g->mx, g->part, !any,
				   any ? "waiting for partitions" : "");
}

/* The group cannot read a partition from its offset (brk_eos_batch). */
static int on_reset(void *opaque)
{
	struct ingest *g = opaque;
	struct brk_eos_lost lost[16];
	size_t n = 0;
	rd_kafka_error_t *e;
	rd_kafka_t *ops = g->producer;

	if (brk_eos_offset_reset(g->consumer, lost, 16, &n)) {
		deconf_log(DECONF_LOG_WARNING, "INGEST",
			   "an offset is out of range, and Kafka could not say why yet: asking "
			   "again");
		return -1;
	}
	if (!n)
		return 0;
	/* lost: told in a transaction (the open batch's, or one of its own);
	 * without one, in the log and /readyz only */
	if (!g->in_txn) {
		if ((e = rd_kafka_begin_transaction(g->producer))) {
			deconf_log(DECONF_LOG_ERR, "INGEST", "begin_transaction: %s",
				   rd_kafka_error_string(e));
			rd_kafka_error_destroy(e);
			ops = NULL;
		} else {
			g->in_txn = 1;
		}
	}
	for (size_t i = 0; i < n; i++)
		brk_eos_report_lost(g->b, ops, g->mx, g->part, "ingest", &lost[i]);
	return 0;
}

/* Wait before retrying a batch that failed for a passing reason. */
static void backoff(struct ingest *g, volatile int *stop)
{
	int64_t until = deconf_mono_us() + g->backoff_ms * 1000;

	deconf_log(DECONF_LOG_WARNING, "INGEST", "retrying in %lld ms", (long long)g->backoff_ms);
	while (!*stop && deconf_mono_us() < until) {
		rd_kafka_poll(g->producer, 0);
		brk_metrics_heartbeat(g->mx, g->part);
		usleep(20000);
	}
	brk_metrics_lag(g->mx, g->consumer, "ingest");
	g->backoff_ms = g->backoff_ms * 2 > g->retry_max_ms ? g->retry_max_ms : g->backoff_ms * 2;
}

/*
 * A batch could not be finished: decide what the failure says. m is the
 * record being processed when producing failed (NULL when the commit
 * failed), txn_err the commit's error code (0 if none). Delivery reports
 * are served first: a record refused by Kafka is known only from them.
 *   - a lasting failure of m's own record, refused as it was produced:
 *     m is marked, to be refused when read again;
 *   - a lasting failure found by a delivery report or the commit: when
 *     the transaction held one record (or the batch is being re-read one
 *     record at a time) that record is marked; otherwise the batch is
 *     re-read one record per transaction, to find it;
 *   - anything else is passing: retried after a backoff.
 * 0, or DECONF_E_KAFKA when the producer cannot go on.
 */
static int failed(struct ingest *g, const rd_kafka_message_t *m, size_t batch_n,
		  rd_kafka_resp_err_t txn_err, const char *why, volatile int *stop)
{
	char topic[256] = "", detail[160] = "";
	int32_t partition = -1;
	int64_t offset = -1;
	int own, later, solo = g->n_solo > 0;

	/* the delivery reports of what was produced (a refused record fails
	 * the transaction; later produce calls then only say "state") */
	rd_kafka_flush(g->producer, 5000);
	own = m && g->produce_err && brk_eos_lasting(g->produce_err);
	later = !own && ((g->dr_err && brk_eos_lasting(g->dr_err)) ||
			 (txn_err && brk_eos_lasting(txn_err)));
	if (own) {
		snprintf(detail, sizeof(detail), "%s", rd_kafka_err2str(g->produce_err));
		snprintf(topic, sizeof(topic), "%s", rd_kafka_topic_name(m->rkt));
		partition = m->partition;
		offset = m->offset;
	} else if (later) {
		if (g->dr_err)
			snprintf(detail, sizeof(detail), "%.80s (writing to %.60s)",
				 rd_kafka_err2str(g->dr_err), g->dr_topic);
		else
			snprintf(detail, sizeof(detail), "%.120s", rd_kafka_err2str(txn_err));
		if ((solo || batch_n == 1) && g->n_batch_parts == 1) {
			/* alone in its transaction: it is the one */
			snprintf(topic, sizeof(topic), "%s", g->batch_parts[0].topic);
			partition = g->batch_parts[0].partition;
			offset = g->batch_parts[0].until;
		} else if (!solo) {
			enter_solo(g);
		}
	}
	if (abort_batch(g, why))
		return DECONF_E_KAFKA;
	if (offset >= 0) {
		int known = 0;
		for (size_t i = 0; i < g->n_poison; i++)
			known |= g->poison[i].partition == partition &&
				 g->poison[i].offset == offset && !strcmp(g->poison[i].topic, topic);
		if (!known) {
			poison_add(g, topic, partition, offset, detail);
			return DECONF_OK;
		}
		/* even refusing it cannot be written: nothing to do but wait */
		deconf_log(DECONF_LOG_ERR, "INGEST",
			   "%s [%d] offset %lld: even its refusal cannot be written (%s)", topic,
			   (int)partition, (long long)offset, detail);
		backoff(g, stop);
		return DECONF_OK;
	}
	if (!later) /* a passing failure, or a batch re-read that still fails */
		backoff(g, stop);
	return DECONF_OK;
}

/* Commit: outputs and the consumer's positions, atomically. */
static int commit_batch(struct ingest *g, size_t batch_n, volatile int *stop)
{
	rd_kafka_error_t *e;

	e = brk_eos_commit(g->consumer, g->producer, "INGEST",
			   *g->stop ? BRK_EOS_STOP_COMMIT_MS : TXN_TIMEOUT_MS);
	if (e) {
		char why[512];
		int fatal = rd_kafka_error_is_fatal(e);

		rd_kafka_resp_err_t code = rd_kafka_error_code(e);

		snprintf(why, sizeof(why), "%s", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		if (fatal) {
			deconf_err_set(g->errstr, g->errstr_size, DECONF_E_KAFKA,
				       "transaction failed fatally: %s", why);
			return DECONF_E_KAFKA;
		}
		return failed(g, NULL, batch_n, code, why, stop);
	}
	g->in_txn = 0;
	solo_progress(g);
	forget_batch(g, 0);
	g->backoff_ms = BACKOFF_MIN_MS;
	brk_metrics_add(g->mx, "deconf_txn_commits_total", "part=\"ingest\"", 1);
	brk_metrics_committed(g->mx, g->part);
	brk_metrics_pending(g->mx, g->part, 0);
	return DECONF_OK;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct ingest *g = opaque;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		/* what the previous owner accepted must be known before we read */
		brk_feed_sync(g->seenfeed, 30000);
		deconf_log(DECONF_LOG_NOTICE, "INGEST", "assigned %d partition(s)", parts->cnt);
		forget_pauses(g);
		g->n_solo = 0;
		rd_kafka_assign(rk, parts);
		g->assigned = 1;
		brk_metrics_blocked(g->mx, g->part, NULL); /* found again if still so */
		brk_metrics_status(g->mx, g->part, 1, "");
	} else {
		brk_metrics_status(g->mx, g->part, 0, "partitions revoked, waiting for the group");
		brk_metrics_pending(g->mx, g->part, 0); /* the next owner has it */
		if (g->in_txn)
			abort_batch(g, "partitions revoked");
		deconf_log(DECONF_LOG_NOTICE, "INGEST", "revoked %d partition(s)", parts->cnt);
		forget_pauses(g);
		g->n_solo = 0;
		rd_kafka_assign(rk, NULL);
		g->assigned = 0;
	}
}

static int open_clients(struct ingest *g)
{
	struct brk *b = g->b;
	rd_kafka_topic_partition_list_t *sub;
	char group[256], txid[512], pattern[512], *o;
	struct brk_eos_opts eo = { .client_id = "deconf-broker-ingest",
				   .group = group,
				   .transactional_id = txid,
				   /* what every Kafka client computes from the token */
				   .partitioner = "murmur2_random",
				   /* every agency's submit topic has one partition: range
				    * would give all of them to one instance */
				   .assignor = "roundrobin",
				   .rebalance_cb = rebalance_cb,
				   .dr_cb = dr_cb,
				   .opaque = g };
	int rc;

	snprintf(group, sizeof(group), "%sbroker-ingest", b->prefix);
	snprintf(txid, sizeof(txid), "%sbroker-ingest-%s", b->prefix, b->instance);
	if ((rc = brk_eos_open(b, &eo, &g->consumer, &g->producer, g->errstr, g->errstr_size)))
		return rc;
	if ((g->n_token_partitions = brk_eos_partitions(g->producer, g->tokens)) <= 0) {
		return deconf_err_set(g->errstr, g->errstr_size, DECONF_E_KAFKA,
				      "%s does not exist (deconfctl topics apply creates it)",
				      g->tokens);
	}
	/* ^deconf\.submit\..+ : every agency, present and future */
	o = pattern + snprintf(pattern, sizeof(pattern), "^");
	for (const char *p = g->submit_prefix; *p && o < pattern + sizeof(pattern) - 8; p++) {
		if (*p == '.')
			*o++ = '\\';
		*o++ = *p;
	}
	snprintf(o, (size_t)(pattern + sizeof(pattern) - o), ".+");
	sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, pattern, RD_KAFKA_PARTITION_UA);
	if (rd_kafka_subscribe(g->consumer, sub)) {
		rd_kafka_topic_partition_list_destroy(sub);
		return deconf_err_set(g->errstr, g->errstr_size, DECONF_E_KAFKA,
				      "subscribe %s failed", pattern);
	}
	rd_kafka_topic_partition_list_destroy(sub);
	deconf_log(DECONF_LOG_NOTICE, "INGEST", "consuming %s as %s, transactional id %s",
		   pattern, group, txid);
	return DECONF_OK;
}

static void close_clients(struct ingest *g)
{
	if (g->consumer) {
		rd_kafka_consumer_close(g->consumer);
		rd_kafka_destroy(g->consumer);
		g->consumer = NULL;
	}
	if (g->producer) {
		rd_kafka_destroy(g->producer);
		g->producer = NULL;
	}
}

/*
 * A client failed fatally (why): what the open transaction held is given up
 * (aborted, or left to the coordinator, which aborts it when the new
 * producer of the same transactional id starts), and both clients are made
 * again: the new consumer reads from what the group committed, so nothing
 * is lost or applied twice. Not an exit: the process keeps serving.
 */
static int open_cb(void *g)
{
	return open_clients(g);
}

static void close_cb(void *g)
{
	close_clients(g);
}

static struct brk_eos_part part_of(struct ingest *g)
{
	return (struct brk_eos_part){ .fac = "INGEST", .label = "part=\"ingest\"", .mx = g->mx,
				      .part = g->part, .stop = g->stop, .open = open_cb,
				      .close = close_cb, .opaque = g, .errstr = g->errstr };
}

static int reopen_clients(struct ingest *g, struct brk_eos_batch *bt, const char *why)
{
	struct brk_eos_part p = part_of(g);
	int rc;

	if ((rc = brk_eos_reopen_begin(&g->reopens, &p, g->b->instance, why, g->errstr,
				       g->errstr_size)))
		return rc;
	if (g->in_txn && abort_batch(g, "its Kafka clients failed")) {
		g->in_txn = 0;
		forget_batch(g, 1);
	}
	close_clients(g);
	g->assigned = 0;
	forget_pauses(g);
	g->n_solo = 0;
	bt->fatal = 0;
	bt->reset_due = 0;
	if ((rc = brk_eos_open_retry(&p)))
		return rc;
	bt->consumer = g->consumer;
	return DECONF_OK;
}

int brk_ingest_run(struct brk *b, struct brk_metrics *mx, volatile int *stop, char *errstr,
		   size_t errstr_size)
{
	struct ingest *g = calloc(1, sizeof(*g));
	int64_t last_gauges = 0;
	int64_t batch_max = b->set.ingest_batch_max;
	int64_t batch_wait = b->set.ingest_batch_wait;
	int64_t batch_time = b->set.ingest_batch_time;
	struct brk_eos_batch bt;
	int rc;

	if (!g)
		return DECONF_E_NOMEM;
	g->b = b;
	g->mx = mx;
	g->stop = stop;
	g->errstr = errstr;
	g->errstr_size = errstr_size;
	g->part = brk_metrics_part(mx, "ingest");
	g->q.ops_rate = (double)b->set.ingest_agency_ops_per_s;
	g->q.bytes_rate = (double)b->set.ingest_agency_bytes_per_s;
	g->q.burst_s = (double)b->set.ingest_agency_burst / 1000.0;
	g->max_token_ops = b->set.ingest_max_token_ops;
	g->retry_max_ms = b->set.ingest_retry_max;
	g->rejects_alert = b->set.ingest_rejects_alert;
	g->rejects_window_us = b->set.ingest_rejects_window * 1000;
	/* the counters a dashboard charts exist from the start, at 0 */
	brk_metrics_add(mx, "deconf_txn_commits_total", "part=\"ingest\"", 0);
	brk_metrics_add(mx, "deconf_txn_aborts_total", "part=\"ingest\"", 0);
	g->backoff_ms = BACKOFF_MIN_MS;
	brk_topic(b, "tokens", g->tokens, sizeof(g->tokens));
	brk_topic(b, "ingest.seen", g->seen_topic, sizeof(g->seen_topic));
	brk_topic(b, "submit.", g->submit_prefix, sizeof(g->submit_prefix));
	brk_topic(b, "ops", g->ops_topic, sizeof(g->ops_topic));
	brk_metrics_status(mx, g->part, 0, "reading the directory");
	if ((rc = brk_feed_open(&g->dir, b, "directory", dir_apply, b->dir, errstr,
				errstr_size)) ||
	    (rc = brk_feed_open(&g->seenfeed, b, "ingest.seen", seen_apply, &g->seen, errstr,
				errstr_size)))
		goto out;
	if (brk_feed_sync(g->dir, 30000))
		deconf_log(DECONF_LOG_WARNING, "INGEST",
			   "the directory topic is empty or missing: every agency is unknown "
			   "until deconfctl adds it");
	brk_feed_sync(g->seenfeed, 30000);
	deconf_log(DECONF_LOG_NOTICE, "INGEST", "%zu agencies in the directory",
		   brk_directory_count(b->dir));
	{
		struct brk_epochs ep;
		brk_directory_epochs(b->dir, &ep);
		if (!ep.serial)
			deconf_log(DECONF_LOG_WARNING, "INGEST",
				   "the federation has published no key epochs (deconfctl topics "
				   "apply publishes them): only epoch 1 is accepted");
	}
	brk_metrics_status(mx, g->part, 0, "waiting for partitions");
	if ((rc = open_clients(g)))
		goto out;
	bt = (struct brk_eos_batch){ .consumer = g->consumer,
				     .facility = "INGEST",
				     .on_reset = on_reset,
				     .opaque = g,
				     .max = batch_max,
				     .wait_us = batch_wait * 1000,
				     .time_us = batch_time * 1000 };
	while (!*stop) {
		int64_t t0 = deconf_mono_us();
		rd_kafka_message_t *m;
		rd_kafka_error_t *e;
		size_t n = 0;

		brk_metrics_heartbeat(mx, g->part);
		if (t0 - last_gauges > 5000000 || (!g->assigned && t0 - last_gauges > 1000000)) {
			last_gauges = t0;
			brk_metrics_lag(mx, g->consumer, "ingest");
			if (!g->assigned)
				readiness_before_assignment(g);
		}
		brk_feed_poll(g->dir);
		resume_due(g);
		/* one record per transaction while a failed batch is re-read */
		bt.max = g->n_solo ? 1 : batch_max;
		brk_eos_batch_begin(&bt);
		while (!*stop && (m = brk_eos_batch_next(&bt))) {
			if (!g->in_txn) {
				if ((e = rd_kafka_begin_transaction(g->producer))) {
					rc = deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA,
							    "begin_transaction: %s",
							    rd_kafka_error_string(e));
					rd_kafka_error_destroy(e);
					rd_kafka_message_destroy(m);
					goto failed;
				}
				g->in_txn = 1;
			}
			if (!n)
				brk_metrics_pending(mx, g->part, 1);
			rc = process(g, m);
			n++;
			if (rc) {
				if (rc == DECONF_E_NOMEM) {
					rd_kafka_message_destroy(m);
					goto out;
				}
				rc = failed(g, m, n, 0, "a record could not be produced", stop);
				rd_kafka_message_destroy(m);
				if (rc)
					goto failed;
				break;
			}
			rd_kafka_message_destroy(m);
		}
		if (g->in_txn) {
			if ((rc = commit_batch(g, n, stop)))
				goto failed;
			brk_metrics_observe(mx, "deconf_batch_seconds", "part=\"ingest\"",
					    (double)(deconf_mono_us() - t0) / 1e6);
		}
		if (!bt.fatal)
			continue;
		rc = DECONF_E_KAFKA;
failed:
		/* a client failed for good: made again, never an exit */
		{
			char why[512];
			if (rc != DECONF_E_KAFKA || *stop ||
			    (!bt.fatal && !brk_eos_fatal(g->consumer, g->producer, why, sizeof(why))))
				goto out;
			if (bt.fatal)
				snprintf(why, sizeof(why), "the consumer failed fatally");
			if ((rc = reopen_clients(g, &bt, why)))
				goto out;
		}
	}
	rc = DECONF_OK;
out:
	brk_metrics_status(mx, g->part, 0, "stopped");
	if (g->in_txn)
		abort_batch(g, "stopping");
	deconf_log(DECONF_LOG_NOTICE, "INGEST",
		   "stopped: %llu accepted, %llu refused, %llu resends dropped, %llu token ops, "
		   "%llu pauses for quota",
		   (unsigned long long)g->accepted, (unsigned long long)g->refused,
		   (unsigned long long)g->duplicates, (unsigned long long)g->token_ops,
		   (unsigned long long)g->throttled);
	close_clients(g);
	brk_feed_close(g->dir);
	brk_feed_close(g->seenfeed);
	forget_batch(g, 0);
	free(g->batch_keys);
	free(g->batch_parts);
	seen_free(&g->seen);
	quotas_free(&g->q);
	free(g);
	return rc;
}
