/* matcher.c — deconf.tokens → notices, exactly once (see matcher.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deconf/enum.h"
#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/log.h"
#include "deconf/util.h"
#include "eos.h"
#include "feed.h"
#include "match.h"
#include "matcher.h"
#include "store.h"

#define K(x) DECONF__V1__##x
#define MAXP 1024
#define RESTORE_CHUNK 50000
#define MAX_OP_STATS 256

struct op_stat {
	char agency[DECONF_AGENCY_ID_MAX + 1];
	int op; /* Op, or for notices NoticeKind */
	uint64_t n;
};

#define MAX_LAT 4096

struct matcher {
	struct brk *b;
	struct brk_metrics *mx;
	int part;
	rd_kafka_t *consumer, *producer, *restorer;
	rd_kafka_topic_t *state_rkt;
	struct brk_feed *dir;
	struct brk_store *store;
	struct brk_store_txn *txn;
	struct brk_match m;
	struct brk_audit_head heads[MAXP];
	uint8_t owned[MAXP], touched[MAXP], rebuilt[MAXP];
	uint64_t rebuilt_records[MAXP]; /* changelog records a rebuild replayed */
	int64_t cl_next[MAXP]; /* after this batch's last changelog record */
	char tokens[256], state[256], audit[256], ops[256], notices[256];
	int32_t n_tokens, n_audit;
	int in_txn, fatal, dr_failed;
	int need_space; /* a restore found the state store full: wait_for_space */
	struct brk_eos_reopens reopens;
	int aborted;              /* the last batch was aborted: back off */
	volatile int *stop;       /* the process is stopping */
	/* the match counters when the open batch began: what it adds is
	 * counted in /metrics only once it commits */
	uint64_t at_conflicts, at_expired, at_warned, at_hot, at_notices, at_escalated;
	uint64_t at_liaisons;
	uint64_t at_outcomes[8];
	int64_t backoff_ms;
	/* signed audit checkpoints: every ckpt_every_ms, of the chains that
	 * moved; ckpt_due: the open batch's flush writes them */
	int64_t ckpt_every_ms, next_ckpt;
	int stopping; /* the final checkpoint's transaction: bounded by BRK_EOS_STOP_COMMIT_MS */
	int ckpt_due;
	int64_t batch_max, batch_wait_ms, batch_time_ms, expiry_every_ms, next_expiry, max_age_ms;
	struct op_stat stats[MAX_OP_STATS], nstats[MAX_OP_STATS];
	size_t n_stats, n_nstats;
	/* notice latencies of the open batch: observed when it commits */
	double lat[MAX_LAT];
	size_t n_lat;
	uint64_t ops_applied, malformed;
	char *errstr;
	size_t errstr_size;
};

/* ------------------------------------------------------------- producing */

static int produce(struct matcher *x, const char *topic, int32_t partition, const void *key,
		   size_t key_len, const void *value, size_t len)
{
	return brk_eos_produce(x->producer, "MATCHER", topic, partition, key, key_len, value, len);
}

static int out_notice(void *opaque, int partition, const Deconf__V1__ConflictNotice *n)
{
	struct matcher *x = opaque;
	char topic[512];
	uint8_t *buf;
	size_t len;
	int rc;

	(void)partition;
	snprintf(topic, sizeof(topic), "%s%.*s", x->notices, (int)n->agency_id.len,
		 (const char *)n->agency_id.data);
	if ((rc = deconf_envelope_seal(&n->base, K(MESSAGE_TYPE__MESSAGE_TYPE_CONFLICT_NOTICE),
				       "broker", x->b->key, &buf, &len)))
		return rc;
	rc = produce(x, topic, RD_KAFKA_PARTITION_UA, n->case_ref.data, n->case_ref.len, buf, len);
	free(buf);
	if (!rc) {
		/* counted when the batch commits: an aborted notice was never sent */
		size_t i;
		for (i = 0; i < x->n_nstats; i++)
			if (x->nstats[i].op == (int)n->kind &&
			    strlen(x->nstats[i].agency) == n->agency_id.len &&
			    !memcmp(x->nstats[i].agency, n->agency_id.data, n->agency_id.len))
				break;
		if (i == x->n_nstats && i < MAX_OP_STATS && n->agency_id.len < 64) {
			memcpy(x->nstats[i].agency, n->agency_id.data, n->agency_id.len);
			x->nstats[i].agency[n->agency_id.len] = '\0';
			x->nstats[i].op = (int)n->kind;
			x->nstats[i].n = 0;
			x->n_nstats++;
		}
		if (i < x->n_nstats)
			x->nstats[i].n++;
		if (n->submitted_at > 0 && x->n_lat < MAX_LAT)
			x->lat[x->n_lat++] = (double)(deconf_now_ms() - n->submitted_at) / 1000.0;
	}
	return rc;
}

static int out_state(void *opaque, int partition, const uint8_t *key, size_t key_len,
		     const Deconf__V1__StateRecord *r)
{
	struct matcher *x = opaque;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (r && (rc = deconf_envelope_seal(&r->base, K(MESSAGE_TYPE__MESSAGE_TYPE_STATE_RECORD),
					    "broker", NULL, &buf, &len)))
		return rc;
	rc = produce(x, x->state, partition, key, key_len, buf, len);
	free(buf);
	return rc;
}

static int out_audit(void *opaque, int partition, const uint8_t *event, size_t len)
{
	struct matcher *x = opaque;
	uint8_t *buf, key[4];
	size_t blen;
	int rc;

	/* a chain stays in one audit partition, in order */
	for (int i = 0; i < 4; i++)
		key[i] = (uint8_t)((uint32_t)partition >> (24 - 8 * i));
	if ((rc = deconf_envelope_pack(K(MESSAGE_TYPE__MESSAGE_TYPE_AUDIT_EVENT), event, len,
				       "broker", NULL, &buf, &blen)))
		return rc;
	rc = produce(x, x->audit, partition % x->n_audit, key, sizeof(key), buf, blen);
	free(buf);
	return rc;
}

static int out_ops(void *opaque, const Deconf__V1__OpsEvent *ev)
{
	struct matcher *x = opaque;
	uint8_t *buf;
	size_t len;
	int rc;

	if ((rc = deconf_envelope_seal(&ev->base, K(MESSAGE_TYPE__MESSAGE_TYPE_OPS_EVENT), "broker",
				       x->b->key, &buf, &len)))
		return rc;
	rc = produce(x, x->ops, RD_KAFKA_PARTITION_UA, NULL, 0, buf, len);
	free(buf);
	deconf_log(DECONF_LOG_WARNING, "MATCHER", "ops: %s", ev->detail);
	return rc;
}

/* Delivery reports: where this batch's changelog records landed. */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct matcher *x = opaque;

	(void)rk;
	if (m->err) {
		x->dr_failed = 1;
		return;
	}
	if (m->partition >= 0 && m->partition < MAXP && !strcmp(rd_kafka_topic_name(m->rkt), x->state) &&
	    m->offset + 1 > x->cl_next[m->partition])
		x->cl_next[m->partition] = m->offset + 1;
}

/* ------------------------------------------------------------- restoring */

static int open_restorer(struct matcher *x)
{
	rd_kafka_conf_t *kc = NULL;
	int rc;

	if ((rc = deconf_kafka_conf_new(&kc, x->b->conf, "deconf-broker-restore", x->errstr,
					x->errstr_size)) ||
	    (rc = deconf_kafka_conf_set(kc, "isolation.level", "read_committed", "broker",
					x->errstr, x->errstr_size)) ||
	    (rc = deconf_kafka_conf_set(kc, "enable.partition.eof", "true", "broker", x->errstr,
					x->errstr_size)) ||
	    /* an up-to-date partition is told so by one empty fetch: make it short */
	    /* a checkpoint below what the changelog holds (DeleteRecords) is
	     * rebuilt from the beginning, never skipped to the end */
	    (rc = deconf_kafka_conf_set(kc, "auto.offset.reset", "error", "broker", x->errstr,
					x->errstr_size)) ||
	    (rc = deconf_kafka_conf_set(kc, "fetch.wait.max.ms", "10", "broker", x->errstr,
					x->errstr_size))) {
		if (kc)
			rd_kafka_conf_destroy(kc);
		return rc;
	}
	if (!(x->restorer = deconf_kafka_new(RD_KAFKA_CONSUMER, kc, x->errstr, x->errstr_size)))
		return DECONF_E_KAFKA;
	x->state_rkt = rd_kafka_topic_new(x->restorer, x->state, NULL);
	return DECONF_OK;
}

/* One partition being restored. */
struct restoring {
	int p, have, done;
	struct brk_ckpt ck;
	int64_t next; /* the next changelog offset to apply */
	uint64_t n, bad;
};

/* Put partition p's checkpoint ck, with p's audit head, saved now, in t. */
static int put_ckpt(struct matcher *x, struct brk_store_txn *t, int p, struct brk_ckpt *ck,
		    int64_t now)
{
	ck->audit_seq = x->heads[p].seq;
	memcpy(ck->audit_hash, x->heads[p].hash, 32);
	ck->saved_at = now;
	return brk_store_ckpt_put(t, p, ck);
}

/* Save where each partition's restore has got to, in transaction t. */
static int restore_ckpts(struct matcher *x, struct brk_store_txn *t, struct restoring *r, int n,
			 int64_t now)
{
	int rc;

	for (int i = 0; i < n; i++) {
		r[i].ck.changelog_next = r[i].next;
		if ((rc = put_ckpt(x, t, r[i].p, &r[i].ck, now)))
			return rc;
	}
	return DECONF_OK;
}

/*
 * Bring the local state of partitions parts[0..n) up to the changelog's
 * end, all at once (one queue, so a restart or a rebalance costs one
 * round of fetches, not one per partition): each from its checkpoint, or
 * from the beginning after wiping it when it has none or it is too old to
 * trust (tombstones may have been compacted away since).
 */
static int restore(struct matcher *x, const int *parts, int n)
{
	struct brk_store_txn *t = NULL;
	struct restoring *r = calloc((size_t)(n ? n : 1), sizeof(*r)), *by_p[MAXP] = { 0 };
	rd_kafka_queue_t *q = rd_kafka_queue_new(x->restorer);
	int64_t now = deconf_now_ms(), t0 = deconf_mono_us();
	uint64_t total = 0;
	int rc = DECONF_OK, idle = 0, left = n, started = 0;

	if (!r || !q) {
		rc = DECONF_E_NOMEM;
		goto fail;
	}
	if ((rc = brk_store_begin(x->store, 0, &t)))
		goto fail;
	for (int i = 0; i < n; i++) {
		int p = parts[i];
		r[i].p = p;
		by_p[p] = &r[i];
		r[i].have = !brk_store_ckpt_get(t, p, &r[i].ck) &&
			    r[i].ck.saved_at >= now - x->max_age_ms;
		if (!r[i].have) {
			if ((rc = brk_store_wipe(t, p)))
				goto fail;
			memset(&r[i].ck, 0, sizeof(r[i].ck));
			memset(&x->heads[p], 0, sizeof(x->heads[p]));
			x->rebuilt[p] = 1;
		} else {
			x->heads[p].seq = r[i].ck.audit_seq;
			memcpy(x->heads[p].hash, r[i].ck.audit_hash, 32);
		}
		x->heads[p].dirty = 0;
		/* whether its last link is a checkpoint the head does not say:
		 * the first interval signs it again (and a crash's tail with it) */
		x->heads[p].signed_seq = 0;
		r[i].next = r[i].have ? r[i].ck.changelog_next : 0;
		if (rd_kafka_consume_start_queue(x->state_rkt, p,
						 r[i].have ? r[i].ck.changelog_next
							   : RD_KAFKA_OFFSET_BEGINNING,
						 q) < 0) {
			rc = deconf_err_set(x->errstr, x->errstr_size, DECONF_E_KAFKA,
					    "restore %s [%d]: %s", x->state, p,
					    rd_kafka_err2str(rd_kafka_last_error()));
			goto fail;
		}
		started = i + 1;
	}
	while (left > 0) {
		rd_kafka_message_t *m = rd_kafka_consume_queue(q, 1000);
		Deconf__V1__Envelope *env = NULL;
		struct restoring *ri;

		if (!m) {
			if (++idle >= 60) {
				rc = deconf_err_set(x->errstr, x->errstr_size, DECONF_E_TIMEOUT,
						    "restore %s: nothing for 60 s", x->state);
				goto fail;
			}
			continue;
		}
		ri = m->partition >= 0 && m->partition < MAXP ? by_p[m->partition] : NULL;
		if (!ri || ri->done) {
			rd_kafka_message_destroy(m);
			continue;
		}
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			ri->next = m->offset;
			ri->done = 1;
			left--;
			rd_kafka_message_destroy(m);
			continue;
		}
		if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET && ri->have) {
			/* the checkpoint's offset is gone from the changelog: its
			 * records there are lost, so the partition is rebuilt whole */
			deconf_log(DECONF_LOG_WARNING, "MATCHER",
				   "restore %s [%d]: the checkpoint (offset %lld) is below what the "
				   "changelog holds: rebuilding the partition from the beginning",
				   x->state, ri->p, (long long)ri->ck.changelog_next);
			rd_kafka_message_destroy(m);
			rd_kafka_consume_stop(x->state_rkt, ri->p);
			if ((rc = brk_store_wipe(t, ri->p)))
				goto fail;
			ri->have = 0;
			memset(&ri->ck, 0, sizeof(ri->ck));
			memset(&x->heads[ri->p], 0, sizeof(x->heads[ri->p]));
			x->rebuilt[ri->p] = 1;
			ri->next = 0;
			if (rd_kafka_consume_start_queue(x->state_rkt, ri->p,
							 RD_KAFKA_OFFSET_BEGINNING, q) < 0) {
				rc = deconf_err_set(x->errstr, x->errstr_size, DECONF_E_KAFKA,
						    "restore %s [%d]: %s", x->state, ri->p,
						    rd_kafka_err2str(rd_kafka_last_error()));
				goto fail;
			}
			continue;
		}
		if (m->err) {
			deconf_log(DECONF_LOG_WARNING, "MATCHER", "restore %s [%d]: %s", x->state,
				   ri->p, rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		idle = 0;
		if (total % 4096 == 0) /* a long rebuild is not a hung thread */
			brk_metrics_heartbeat(x->mx, x->part);
		if (m->payload &&
		    (deconf_envelope_unpack(m->payload, m->len, 1 << 20, &env, NULL, 0) ||
		     env->type != K(MESSAGE_TYPE__MESSAGE_TYPE_STATE_RECORD)))
			rc = DECONF_E_MALFORMED;
		else
			rc = brk_match_restore(&x->m.conf, t, ri->p, m->key, m->key_len,
					       env ? env->payload.data : NULL,
					       env ? env->payload.len : 0, &x->heads[ri->p]);
		deconf_msg_free(env);
		ri->next = m->offset + 1;
		rd_kafka_message_destroy(m);
		if (rc == DECONF_E_MALFORMED) {
			ri->bad++;
			rc = DECONF_OK;
		}
		if (rc)
			goto fail;
		ri->n++;
		if (++total % RESTORE_CHUNK == 0) { /* bounded transactions, resumable */
			if ((rc = restore_ckpts(x, t, r, n, now)) || (rc = brk_store_commit(t))) {
				t = NULL;
				goto fail;
			}
			if ((rc = brk_store_begin(x->store, 0, &t))) {
				t = NULL;
				goto fail;
			}
			deconf_log(DECONF_LOG_INFO, "MATCHER", "restoring: %" PRIu64 " records",
				   total);
		}
	}
	for (int i = 0; i < n; i++)
		rd_kafka_consume_stop(x->state_rkt, r[i].p);
	started = 0;
	if ((rc = restore_ckpts(x, t, r, n, now)))
		goto fail;
	rc = brk_store_commit(t);
	t = NULL;
	if (rc)
		goto fail;
	brk_metrics_add(x->mx, "deconf_restored_records_total", NULL, (double)total);
	for (int i = 0; i < n; i++)
		x->rebuilt_records[r[i].p] = r[i].have ? 0 : r[i].n;
	for (int i = 0; i < n; i++)
		deconf_log(DECONF_LOG_NOTICE, "MATCHER",
			   "partition %d %s: %" PRIu64 " changelog records%s, ready", r[i].p,
			   r[i].have ? "caught up from its checkpoint" : "rebuilt from the changelog",
			   r[i].n, r[i].bad ? " (some unreadable records skipped)" : "");
	deconf_log(DECONF_LOG_NOTICE, "MATCHER",
		   "%d partition(s) restored: %" PRIu64 " changelog records in %.1f s", n, total,
		   (double)(deconf_mono_us() - t0) / 1e6);
	free(r);
	rd_kafka_queue_destroy(q);
	return DECONF_OK;
fail:
	for (int i = 0; i < started; i++)
		rd_kafka_consume_stop(x->state_rkt, r[i].p);
	brk_store_abort(t);
	if (!x->errstr[0])
		deconf_err_set(x->errstr, x->errstr_size, rc, "restore: %s", deconf_strerror(rc));
	free(r);
	if (q)
		rd_kafka_queue_destroy(q);
	return rc;
}

/* ----------------------------------------------------------------- batches */

static int begin_batch(struct matcher *x);

/* The group cannot read a partition from its offset (brk_eos_batch). */
static int on_reset(void *opaque)
{
	struct matcher *x = opaque;
	struct brk_eos_lost lost[16];
	size_t n = 0;
	rd_kafka_t *ops;

	if (brk_eos_offset_reset(x->consumer, lost, 16, &n)) {
		deconf_log(DECONF_LOG_WARNING, "MATCHER",
			   "an offset is out of range, and Kafka could not say why yet: asking "
			   "again");
		return -1;
	}
	if (!n)
		return 0;
	/* lost token ops cannot be rebuilt: told, in a transaction (without
	 * one, in the log and /readyz only) */
	ops = begin_batch(x) ? NULL : x->producer;
	for (size_t i = 0; i < n; i++)
		brk_eos_report_lost(x->b, ops, x->mx, x->part, "matcher", &lost[i]);
	return 0;
}

static void reload_heads(struct matcher *x)
{
	struct brk_store_txn *t;
	struct brk_ckpt ck;

	if (brk_store_begin(x->store, 1, &t))
		return;
	for (int p = 0; p < MAXP; p++)
		if (x->owned[p] && !brk_store_ckpt_get(t, p, &ck)) {
			x->heads[p].seq = ck.audit_seq;
			memcpy(x->heads[p].hash, ck.audit_hash, 32);
			x->heads[p].dirty = 0;
		}
	brk_store_abort(t);
}

/* What the batch did here did not happen: its counts, the chain heads (the
 * store's own changes are brk_store_abort's). */
static void forget_batch(struct matcher *x)
{
	x->in_txn = 0;
	x->aborted = 1;
	x->ckpt_due = 0; /* the next loop marks the chains again */
	x->m.conflicts = x->at_conflicts;
	x->m.expired = x->at_expired;
	x->m.warned = x->at_warned;
	x->m.hot = x->at_hot;
	x->m.notices = x->at_notices;
	x->m.escalated = x->at_escalated;
	x->m.liaisons = x->at_liaisons;
	memcpy(x->m.outcomes, x->at_outcomes, sizeof(x->m.outcomes));
	x->m.n_ack_obs = 0;
	x->m.n_liaison_v = 0;
	x->m.esc_soonest = 0; /* what the batch escalated is due again */
	x->n_stats = x->n_nstats = x->n_lat = 0;
	brk_match_reset(&x->m);
	memset(x->touched, 0, sizeof(x->touched));
	memset(x->cl_next, 0, sizeof(x->cl_next));
	reload_heads(x);
}

static int abort_batch(struct matcher *x, const char *why)
{
	deconf_log(DECONF_LOG_WARNING, "MATCHER", "aborting the batch: %s", why);
	brk_metrics_add(x->mx, "deconf_txn_aborts_total", "part=\"matcher\"", 1);
	brk_store_abort(x->txn);
	x->txn = NULL;
	if (x->stopping || *x->stop) {
		/* the process is going: a short try; what Kafka does not confirm
		 * the coordinator aborts (the transaction times out, or the next
		 * producer of this transactional id starts) */
		brk_eos_abort(x->producer, "MATCHER", BRK_EOS_STOP_ABORT_MS, x->mx, x->part, x->stop);
		x->in_txn = 0;
		forget_batch(x);
		return DECONF_OK;
	}
	if (brk_eos_abort(x->producer, "MATCHER", 60000, x->mx, x->part, x->stop))
		return DECONF_E_KAFKA;
	forget_batch(x);
	brk_eos_rewind(x->consumer);
	return DECONF_OK;
}

static int begin_batch(struct matcher *x)
{
	rd_kafka_error_t *e;
	int rc;

	if (x->in_txn)
		return DECONF_OK;
	if ((rc = brk_store_begin(x->store, 0, &x->txn)))
		return deconf_err_set(x->errstr, x->errstr_size, rc, "state store: %s",
				      deconf_strerror(rc));
	if ((e = rd_kafka_begin_transaction(x->producer))) {
		rc = deconf_err_set(x->errstr, x->errstr_size, DECONF_E_KAFKA,
				    "begin_transaction: %s", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		brk_store_abort(x->txn);
		x->txn = NULL;
		return rc;
	}
	x->in_txn = 1;
	x->dr_failed = 0;
	x->at_conflicts = x->m.conflicts;
	x->at_expired = x->m.expired;
	x->at_warned = x->m.warned;
	x->at_hot = x->m.hot;
	x->at_notices = x->m.notices;
	x->at_escalated = x->m.escalated;
	x->at_liaisons = x->m.liaisons;
	memcpy(x->at_outcomes, x->m.outcomes, sizeof(x->at_outcomes));
	x->m.n_ack_obs = 0;
	x->m.n_liaison_v = 0;
	return DECONF_OK;
}

static void count_op(struct matcher *x, const Deconf__V1__TokenOp *op)
{
	size_t i;

	for (i = 0; i < x->n_stats; i++)
		if (x->stats[i].op == (int)op->op && strlen(x->stats[i].agency) == op->agency_id.len &&
		    !memcmp(x->stats[i].agency, op->agency_id.data, op->agency_id.len))
			break;
	if (i == x->n_stats) {
		if (i == MAX_OP_STATS || op->agency_id.len >= sizeof(x->stats[i].agency))
			return;
		memcpy(x->stats[i].agency, op->agency_id.data, op->agency_id.len);
		x->stats[i].agency[op->agency_id.len] = '\0';
		x->stats[i].op = (int)op->op;
		x->stats[i].n = 0;
		x->n_stats++;
	}
	/* a packed close counts each case it closes */
	x->stats[i].n += op->n_close_cases ? op->n_close_cases : 1;
}

/* One token op record: never crashes on a bad one (it is counted). */
static int process(struct matcher *x, const rd_kafka_message_t *m)
{
	ProtobufCMessage *inner = NULL;
	Deconf__V1__Envelope *env = NULL;
	int p = m->partition, rc;

	if (p < 0 || p >= MAXP || !x->owned[p])
		return DECONF_OK;
	if (!m->payload ||
	    deconf_envelope_unpack(m->payload, m->len, 1 << 20, &env, NULL, 0) ||
	    env->type != K(MESSAGE_TYPE__MESSAGE_TYPE_TOKEN_OP) ||
	    deconf_envelope_payload(env, &deconf__v1__token_op__descriptor, &inner, NULL, 0)) {
		rc = DECONF_E_MALFORMED;
	} else {
		rc = brk_match_op(&x->m, x->txn, p, (Deconf__V1__TokenOp *)inner, deconf_now_ms());
		if (!rc)
			count_op(x, (Deconf__V1__TokenOp *)inner);
	}
	x->touched[p] = 1;
	deconf_msg_free(inner);
	deconf_msg_free(env);
	if (rc == DECONF_E_MALFORMED) {
		x->malformed++;
		brk_metrics_add(x->mx, "deconf_ops_total", "op=\"malformed\"", 1);
		deconf_log(DECONF_LOG_WARNING, "MATCHER", "%s [%d] offset %" PRId64
			   ": not a token op; skipped", x->tokens, p, m->offset);
		return DECONF_OK;
	}
	x->ops_applied++;
	return rc;
}

/* Commit: Kafka first (outputs + input offsets), then the local state with
 * its checkpoints. A crash in between leaves the state behind, which the
 * next restore repairs from the changelog. */
static int commit_batch(struct matcher *x, int64_t t0)
{
	rd_kafka_error_t *e = NULL;
	int64_t now = deconf_now_ms();
	int rc;

	for (int p = 0; p < MAXP; p++)
		if (x->touched[p] &&
		    (rc = brk_match_flush_head_ckpt(&x->m, p, now, x->ckpt_due ? x->b->key : NULL)))
			return abort_batch(x, "could not write the audit events");
	e = brk_eos_commit(x->consumer, x->producer, "MATCHER",
			   x->stopping || *x->stop ? BRK_EOS_STOP_COMMIT_MS : 60000);
	if (e) {
		char why[512];
		int fatal = rd_kafka_error_is_fatal(e);

		snprintf(why, sizeof(why), "%s", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		if (fatal) {
			brk_store_abort(x->txn);
			x->txn = NULL;
			return deconf_err_set(x->errstr, x->errstr_size, DECONF_E_KAFKA,
					      "transaction failed fatally: %s", why);
		}
		return abort_batch(x, why);
	}
	x->in_txn = 0;
	x->backoff_ms = 0;
	if (x->ckpt_due) {
		x->ckpt_due = 0;
		x->next_ckpt = now + x->ckpt_every_ms;
	}
	brk_metrics_add(x->mx, "deconf_txn_commits_total", "part=\"matcher\"", 1);
	brk_metrics_committed(x->mx, x->part);
	brk_metrics_pending(x->mx, x->part, 0);
	rd_kafka_poll(x->producer, 0); /* the remaining delivery reports */
	rc = DECONF_OK;
	for (int p = 0; p < MAXP; p++) {
		struct brk_ckpt ck;
		if (!x->touched[p])
			continue;
		if (brk_store_ckpt_get(x->txn, p, &ck))
			memset(&ck, 0, sizeof(ck));
		if (x->cl_next[p] > ck.changelog_next)
			ck.changelog_next = x->cl_next[p];
		if ((rc = put_ckpt(x, x->txn, p, &ck, now)))
			break;
		x->rebuilt[p] = 0;
	}
	if (rc) /* a checkpoint could not be written: not the state without it */
		brk_store_abort(x->txn);
	else
		rc = brk_store_commit(x->txn);
	x->txn = NULL;
	memset(x->touched, 0, sizeof(x->touched));
	memset(x->cl_next, 0, sizeof(x->cl_next));
	if (rc)
		return deconf_err_set(x->errstr, x->errstr_size, rc,
				      "state store commit failed (%s); the restart restores "
				      "from the changelog",
				      deconf_strerror(rc));
	for (size_t i = 0; i < x->n_stats; i++) {
		char labels[160], name[DECONF_ENUM_NAME_SIZE];

		snprintf(labels, sizeof(labels), "agency=\"%s\",op=\"%s\"", x->stats[i].agency,
			 deconf_enum_name(name, sizeof(name), &deconf__v1__op__descriptor,
					  x->stats[i].op, "unknown"));
		brk_metrics_add(x->mx, "deconf_ops_total", labels, (double)x->stats[i].n);
	}
	x->n_stats = 0;
	for (size_t i = 0; i < x->n_nstats; i++) {
		char labels[160], name[DECONF_ENUM_NAME_SIZE];

		snprintf(labels, sizeof(labels), "agency=\"%s\",kind=\"%s\"", x->nstats[i].agency,
			 deconf_enum_name(name, sizeof(name), &deconf__v1__notice_kind__descriptor,
					  x->nstats[i].op, "unknown"));
		brk_metrics_add(x->mx, "deconf_notices_total", labels, (double)x->nstats[i].n);
	}
	x->n_nstats = 0;
	if (x->m.conflicts > x->at_conflicts)
		brk_metrics_add(x->mx, "deconf_conflicts_total", NULL,
				(double)(x->m.conflicts - x->at_conflicts));
	if (x->m.expired > x->at_expired)
		brk_metrics_add(x->mx, "deconf_expired_total", "kind=\"expired\"",
				(double)(x->m.expired - x->at_expired));
	if (x->m.warned > x->at_warned)
		brk_metrics_add(x->mx, "deconf_expired_total", "kind=\"warning\"",
				(double)(x->m.warned - x->at_warned));
	if (x->m.hot > x->at_hot)
		brk_metrics_add(x->mx, "deconf_hot_tokens_total", NULL,
				(double)(x->m.hot - x->at_hot));
	if (x->m.escalated > x->at_escalated)
		brk_metrics_add(x->mx, "deconf_escalations_total", NULL,
				(double)(x->m.escalated - x->at_escalated));
	if (x->m.liaisons > x->at_liaisons)
		brk_metrics_add(x->mx, "deconf_liaisons_total", NULL,
				(double)(x->m.liaisons - x->at_liaisons));
	for (int o = 1; o < 8; o++) {
		char labels[96], name[DECONF_ENUM_NAME_SIZE];
		if (x->m.outcomes[o] <= x->at_outcomes[o])
			continue;
		snprintf(labels, sizeof(labels), "outcome=\"%s\"",
			 deconf_enum_name(name, sizeof(name), &deconf__v1__outcome__descriptor, o,
					  "unknown"));
		brk_metrics_add(x->mx, "deconf_outcomes_total", labels,
				(double)(x->m.outcomes[o] - x->at_outcomes[o]));
	}
	for (size_t i = 0; i < x->m.n_ack_obs; i++) {
		char labels[96], name[DECONF_ENUM_NAME_SIZE];
		const struct brk_match_ack_obs *o = &x->m.ack_obs[i];
		snprintf(labels, sizeof(labels), "level=\"%s\",caution=\"%s\"",
			 deconf_enum_name(name, sizeof(name), &deconf__v1__agency_level__descriptor,
					  o->level, "unknown"),
			 o->caution ? "yes" : "no");
		brk_metrics_observe(x->mx, "deconf_time_to_ack_seconds", labels, o->seconds);
	}
	x->m.n_ack_obs = 0;
	for (size_t i = 0; i < x->m.n_liaison_v; i++)
		brk_metrics_add_liaison(x->mx, &x->m.liaison_v[i]);
	x->m.n_liaison_v = 0;
	/* the latency to the commit, which is when an agency can read it */
	for (size_t i = 0; i < x->n_lat; i++)
		brk_metrics_observe(x->mx, "deconf_notice_latency_seconds", NULL,
				    x->lat[i] + (double)(deconf_now_ms() - now) / 1000.0);
	x->n_lat = 0;
	brk_metrics_observe(x->mx, "deconf_batch_seconds", "part=\"matcher\"",
			    (double)(deconf_mono_us() - t0) / 1e6);
	return DECONF_OK;
}

/* Put every owned chain that moved since its last checkpoint, and every one
 * the open batch touched, in the batch, to be checkpointed when it is
 * flushed. Returns how many, or an error of begin_batch. */
static int checkpoints_due(struct matcher *x)
{
	int rc, n = 0;

	for (int p = 0; p < MAXP; p++) {
		struct brk_audit_head *h = &x->heads[p];
		if (!x->owned[p] || !(x->touched[p] || (h->seq && h->seq != h->signed_seq)))
			continue;
		if ((rc = begin_batch(x)))
			return rc;
		x->touched[p] = 1;
		n++;
	}
	x->ckpt_due = n > 0;
	return n;
}

/* Expiry, rebuild notes and audit checkpoints, inside the batch. */
static int housekeeping(struct matcher *x)
{
	int64_t now = deconf_now_ms();
	int rc, again = 0;

	/* one comparison per loop: checkpoints cost nothing per op */
	if (now >= x->next_ckpt && !x->ckpt_due) {
		if ((rc = checkpoints_due(x)) < 0)
			return rc;
		if (!rc) /* nothing moved */
			x->next_ckpt = now + x->ckpt_every_ms;
	}

	for (int p = 0; p < MAXP; p++) {
		if (!x->owned[p] || !x->rebuilt[p] || x->touched[p])
			continue;
		if ((rc = begin_batch(x)) ||
		    (rc = brk_match_audit_rebuilt(&x->m, p, now, "rebuilt from the changelog",
						  x->rebuilt_records[p] > 0)))
			return rc;
		x->touched[p] = 1;
	}
	/* escalations: only when one may be due (the soonest this process
	 * scheduled or left), so an idle matcher opens no transaction for them */
	if (x->m.conf.escalate_after_ms > 0 && (!x->m.esc_soonest || now >= x->m.esc_soonest)) {
		int64_t soonest = 0;
		for (int p = 0; p < MAXP; p++) {
			size_t done = 0;
			int64_t next = 0;
			if (!x->owned[p])
				continue;
			if ((rc = begin_batch(x)) ||
			    (rc = brk_match_escalate(&x->m, x->txn, p, now, 64, &done, &next)))
				return rc;
			x->touched[p] = 1;
			if (done >= 64)
				next = now + 1; /* more are due: the next loop */
			if (next && (!soonest || next < soonest))
				soonest = next;
		}
		/* nothing left: look again at the expiry pace (a later conflict
		 * lowers it) */
		x->m.esc_soonest = soonest ? soonest : now + x->expiry_every_ms;
	}
	if (now < x->next_expiry)
		return DECONF_OK;
	for (int p = 0; p < MAXP; p++) {
		size_t done = 0;
		if (!x->owned[p])
			continue;
		if ((rc = begin_batch(x)) ||
		    (rc = brk_match_expire(&x->m, x->txn, p, now, 5000, &done)))
			return rc;
		x->touched[p] = 1; /* its checkpoint is fresh */
		if (done >= 5000)
			again = 1;
	}
	x->next_expiry = again ? now : now + x->expiry_every_ms;
	return DECONF_OK;
}

static int esc_older(const void *a, const void *b)
{
	const struct brk_esc_view *x = a, *y = b;

	return x->escalated_at < y->escalated_at ? -1 : x->escalated_at > y->escalated_at;
}

/* The watch desk's list: the longest open escalations of the partitions
 * this instance holds (each partition's oldest, merged). */
static void desk_escalations(struct matcher *x, struct brk_store_txn *t, uint64_t open)
{
	struct brk_esc_view *v = malloc(2 * BRK_ESC_VIEW_MAX * sizeof(*v));
	size_t n = 0, k;

	if (!v)
		return; /* the list stays as it was; the count is right */
	for (int p = 0; p < MAXP; p++) {
		if (!x->owned[p] ||
		    brk_match_open_escalations(&x->m, t, p, BRK_ESC_VIEW_MAX, v + n, &k))
			continue;
		n += k;
		if (n > BRK_ESC_VIEW_MAX) {
			qsort(v, n, sizeof(*v), esc_older);
			n = BRK_ESC_VIEW_MAX;
		}
	}
	qsort(v, n, sizeof(*v), esc_older);
	brk_metrics_set_escalations(x->mx, v, n, open);
	free(v);
}

static void gauges(struct matcher *x)
{
	uint64_t entries = 0, bytes = 0;

	if (!brk_store_stats(x->store, &entries, &bytes)) {
		brk_metrics_set(x->mx, "deconf_state_entries", NULL, (double)entries);
		brk_metrics_set(x->mx, "deconf_state_bytes", NULL, (double)bytes);
	}
	{
		/* what was committed: a snapshot of its own (a batch may be open) */
		struct brk_store_txn *t;
		uint64_t open = 0, n;
		if (!brk_store_begin(x->store, 1, &t)) {
			for (int p = 0; p < MAXP; p++)
				if (x->owned[p] && !brk_store_esc_open_count(t, p, &n))
					open += n;
			if (open)
				desk_escalations(x, t, open);
			else
				brk_metrics_set_escalations(x->mx, NULL, 0, 0);
			brk_store_abort(t);
			brk_metrics_set(x->mx, "deconf_escalations_open", NULL, (double)open);
		}
	}
	brk_metrics_lag(x->mx, x->consumer, "matcher");
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct matcher *x = opaque;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		int ps[MAXP], n = 0; /* distinct partitions, each < MAXP */

		brk_metrics_status(x->mx, x->part, 0, "restoring its partitions");
		if (x->dir)
			brk_feed_sync(x->dir, 10000);
		for (int i = 0; i < parts->cnt && !x->fatal; i++) {
			int p = parts->elems[i].partition;
			if (p >= MAXP) {
				deconf_err_set(x->errstr, x->errstr_size, DECONF_E_INVAL,
					       "%s has more than %d partitions", x->tokens, MAXP);
				x->fatal = 1;
			} else {
				ps[n++] = p;
			}
		}
		if (!x->fatal) {
			int rc = restore(x, ps, n);
			if (rc == ENOSPC || rc == EIO) {
				/* not read until restored: the loop waits for space,
				 * leaves the group meanwhile and joins again */
				x->need_space = rc;
				deconf_log(DECONF_LOG_ERR, "MATCHER",
					   "assigned %d partition(s), but the state store is full: "
					   "not restored, not read",
					   parts->cnt);
				rd_kafka_assign(rk, NULL);
				return;
			}
			if (rc)
				x->fatal = 1;
		}
		for (int i = 0; i < n && !x->fatal; i++)
			x->owned[ps[i]] = 1;
		x->m.esc_soonest = 0; /* what the restored partitions hold is due */
		deconf_log(DECONF_LOG_NOTICE, "MATCHER", "assigned %d partition(s)", parts->cnt);
		rd_kafka_assign(rk, parts);
		brk_metrics_blocked(x->mx, x->part, NULL); /* found again if still so */
		if (!x->fatal)
			brk_metrics_status(x->mx, x->part, 1, "");
	} else {
		brk_metrics_status(x->mx, x->part, 0, "partitions revoked, waiting for the group");
		brk_metrics_pending(x->mx, x->part, 0);
		if (x->in_txn)
			abort_batch(x, "partitions revoked");
		x->aborted = 0;
		for (int i = 0; i < parts->cnt; i++)
			if (parts->elems[i].partition < MAXP)
				x->owned[parts->elems[i].partition] = 0;
		deconf_log(DECONF_LOG_NOTICE, "MATCHER", "revoked %d partition(s)", parts->cnt);
		rd_kafka_assign(rk, NULL);
	}
}

/* ------------------------------------------------------------------ setup */

static int dir_apply(void *opaque, const void *key, size_t key_len, const void *value,
		     size_t value_len, char *errstr, size_t errstr_size)
{
	return brk_directory_apply(opaque, key, key_len, value, value_len, errstr, errstr_size);
}

static int open_clients(struct matcher *x)
{
	struct brk *b = x->b;
	rd_kafka_topic_partition_list_t *sub;
	char group[256], txid[512], txto[32];
	/* a dead owner's open transaction blocks its partitions' readers (and
	 * the next owner's restore) until it times out: keep it short */
	struct brk_eos_opts eo = { .client_id = "deconf-broker-matcher",
				   .group = group,
				   .transactional_id = txid,
				   .txn_timeout_ms = txto,
				   .rebalance_cb = rebalance_cb,
				   .dr_cb = dr_cb,
				   .opaque = x };
	int rc, n_state;

	snprintf(group, sizeof(group), "%sbroker-matcher", b->prefix);
	snprintf(txid, sizeof(txid), "%sbroker-matcher-%s", b->prefix, b->instance);
	snprintf(txto, sizeof(txto), "%" PRId64, b->set.matcher_transaction_timeout);
	if ((rc = brk_eos_open(b, &eo, &x->consumer, &x->producer, x->errstr, x->errstr_size)))
		return rc;
	x->n_tokens = brk_eos_partitions(x->producer, x->tokens);
	n_state = brk_eos_partitions(x->producer, x->state);
	x->n_audit = brk_eos_partitions(x->producer, x->audit);
	if (x->n_tokens <= 0 || n_state < x->n_tokens || x->n_audit <= 0 ||
	    brk_eos_partitions(x->producer, x->ops) <= 0) {
		return deconf_err_set(x->errstr, x->errstr_size, DECONF_E_KAFKA,
				      "topics missing: %s (%d partitions), %s (%d, needs as many "
				      "as %s), %s (%d), %s: `deconfctl topics apply` creates them",
				      x->tokens, x->n_tokens, x->state, n_state, x->tokens, x->audit,
				      x->n_audit, x->ops);
	}
	if ((rc = open_restorer(x)))
		return rc;
	sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, x->tokens, RD_KAFKA_PARTITION_UA);
	if (rd_kafka_subscribe(x->consumer, sub)) {
		rd_kafka_topic_partition_list_destroy(sub);
		return deconf_err_set(x->errstr, x->errstr_size, DECONF_E_KAFKA,
				      "subscribe %s failed", x->tokens);
	}
	rd_kafka_topic_partition_list_destroy(sub);
	deconf_log(DECONF_LOG_NOTICE, "MATCHER",
		   "consuming %s (%d partitions) as %s, transactional id %s", x->tokens,
		   x->n_tokens, group, txid);
	return DECONF_OK;
}

static int open_again(struct matcher *x, struct brk_eos_batch *bt);

static void close_clients(struct matcher *x)
{
	if (x->consumer) {
		rd_kafka_consumer_close(x->consumer);
		rd_kafka_destroy(x->consumer);
		x->consumer = NULL;
	}
	if (x->producer) {
		rd_kafka_destroy(x->producer);
		x->producer = NULL;
	}
	if (x->state_rkt) {
		rd_kafka_topic_destroy(x->state_rkt);
		x->state_rkt = NULL;
	}
	if (x->restorer) {
		rd_kafka_destroy(x->restorer);
		x->restorer = NULL;
	}
}

/*
 * A client failed fatally (why): the open batch is undone here and aborted
 * in Kafka (or left to the coordinator, which aborts it when the new
 * producer of the same transactional id starts), and the clients are made
 * again; the partitions the group gives back are restored from the
 * changelog as after a restart. Not an exit: the process keeps serving.
 */
static int open_cb(void *x)
{
	return open_clients(x);
}

static void close_cb(void *x)
{
	close_clients(x);
}

static struct brk_eos_part part_of(struct matcher *x)
{
	return (struct brk_eos_part){ .fac = "MATCHER", .label = "part=\"matcher\"",
				      .mx = x->mx, .part = x->part, .stop = x->stop,
				      .open = open_cb, .close = close_cb, .opaque = x,
				      .errstr = x->errstr };
}

static int reopen_clients(struct matcher *x, struct brk_eos_batch *bt, const char *why)
{
	struct brk_eos_part p = part_of(x);
	int rc;

	if ((rc = brk_eos_reopen_begin(&x->reopens, &p, x->b->instance, why, x->errstr,
				       x->errstr_size)))
		return rc;
	if (x->in_txn && abort_batch(x, "its Kafka clients failed"))
		forget_batch(x);
	x->aborted = 0;
	close_clients(x);
	memset(x->owned, 0, sizeof(x->owned));
	return open_again(x, bt);
}

/* Open the clients, trying again (1 s doubling to 10 s) until they are made
 * or the process stops. */
static int open_again(struct matcher *x, struct brk_eos_batch *bt)
{
	struct brk_eos_part p = part_of(x);
	int rc;

	bt->fatal = 0;
	bt->reset_due = 0;
	if ((rc = brk_eos_open_retry(&p)))
		return rc;
	bt->consumer = x->consumer;
	return DECONF_OK;
}

/*
 * The state store cannot grow (the disk or LMDB's map is full; err is the
 * store's error: ENOSPC, or EIO for a write the full disk cut short):
 * nothing more is committed. What the open batch did is aborted in Kafka and here; the
 * part leaves the group (another instance, if any, takes its partitions),
 * says why on /readyz, and tries every 5 s whether the store can grow by
 * 4 MiB. Once it can, it joins again and restores its partitions from the
 * changelog, which also catches up a batch whose Kafka commit went through
 * when the store's did not. Not an exit: space may come back.
 */
static int wait_for_space(struct matcher *x, struct brk_eos_batch *bt, int err)
{
	const char *dir = x->b->set.matcher_state_dir;
	size_t map = (size_t)x->b->set.matcher_state_map_size;
	char why[256];
	int rc;

	snprintf(why, sizeof(why),
		 "the state store cannot grow (%s: %s full, or matcher.state_map_size = %.0f "
		 "MiB reached): nothing is committed; tried again every 5 s",
		 strerror(err), dir, (double)map / (1 << 20));
	deconf_log(DECONF_LOG_ERR, "MATCHER", "%s", why);
	brk_metrics_add(x->mx, "deconf_state_full_total", NULL, 1);
	if (x->in_txn && abort_batch(x, "the state store is full"))
		forget_batch(x);
	x->aborted = 0;
	x->need_space = 0;
	close_clients(x);
	memset(x->owned, 0, sizeof(x->owned));
	brk_metrics_status(x->mx, x->part, 0, "the state store is full");
	brk_metrics_blocked(x->mx, x->part, why);
	for (;;) {
		for (int64_t until = deconf_mono_us() + 5000000; !*x->stop && deconf_mono_us() < until;) {
			brk_metrics_heartbeat(x->mx, x->part);
			usleep(50000);
		}
		if (*x->stop) /* stopped to give it room: a clean stop */
			return DECONF_OK;
		/* opened again: a failed write may have left LMDB unusable */
		brk_store_close(x->store);
		x->store = NULL;
		if (brk_store_open(&x->store, dir, map, x->errstr, x->errstr_size)) {
			deconf_log(DECONF_LOG_ERR, "MATCHER", "%s", x->errstr);
			continue;
		}
		if (!(rc = brk_store_probe(x->store, 4 << 20)))
			break;
		if (rc != ENOSPC)
			deconf_log(DECONF_LOG_ERR, "MATCHER", "state store: %s", deconf_strerror(rc));
	}
	deconf_log(DECONF_LOG_NOTICE, "MATCHER",
		   "the state store can grow again: joining the group, restoring");
	brk_metrics_blocked(x->mx, x->part, NULL);
	reload_heads(x);
	return open_again(x, bt);
}

/*
 * A clean stop, after the last batch committed: a signed checkpoint of every
 * chain that moved since its last one, in a transaction of its own (exactly
 * once with the events it covers, like any audit event), so the trail ends
 * signed. A failure is said, not fatal: the next start signs the chain.
 */
static void final_checkpoints(struct matcher *x)
{
	int n = checkpoints_due(x);

	if (n < 0) {
		deconf_log(DECONF_LOG_WARNING, "MATCHER",
			   "stopping: the audit chains could not be checkpointed (%s)", x->errstr);
		return;
	}
	if (!n)
		return;
	x->stopping = 1; /* asked to stop: a Kafka that does not answer is not waited for long */
	if (commit_batch(x, deconf_mono_us()) || x->in_txn || x->aborted)
		deconf_log(DECONF_LOG_WARNING, "MATCHER",
			   "stopping: the checkpoint of %d audit chain(s) was not committed; the "
			   "next start signs them",
			   n);
	else
		deconf_log(DECONF_LOG_NOTICE, "MATCHER", "stopping: %d audit chain(s) checkpointed",
			   n);
}

int brk_matcher_run(struct brk *b, struct brk_metrics *mx, volatile int *stop, char *errstr,
		    size_t errstr_size)
{
	struct matcher *x = calloc(1, sizeof(*x));
	int64_t last_gauges = 0;
	struct brk_eos_batch bt;
	int rc;

	if (!x)
		return DECONF_E_NOMEM;
	x->b = b;
	x->mx = mx;
	x->stop = stop;
	x->errstr = errstr;
	x->errstr_size = errstr_size;
	x->part = brk_metrics_part(mx, "matcher");
	/* the counters a dashboard charts exist from the start, at 0 */
	brk_metrics_add(mx, "deconf_txn_commits_total", "part=\"matcher\"", 0);
	brk_metrics_add(mx, "deconf_txn_aborts_total", "part=\"matcher\"", 0);
	brk_metrics_add(mx, "deconf_conflicts_total", NULL, 0);
	brk_metrics_add(mx, "deconf_hot_tokens_total", NULL, 0);
	brk_metrics_add(mx, "deconf_expired_total", "kind=\"expired\"", 0);
	brk_metrics_add(mx, "deconf_expired_total", "kind=\"warning\"", 0);
	brk_metrics_add(mx, "deconf_escalations_total", NULL, 0);
	brk_metrics_add(mx, "deconf_liaisons_total", NULL, 0);
	brk_metrics_set(mx, "deconf_escalations_open", NULL, 0);
	x->batch_max = b->set.matcher_batch_max;
	x->batch_wait_ms = b->set.matcher_batch_wait;
	x->batch_time_ms = b->set.matcher_batch_time;
	x->expiry_every_ms = b->set.matcher_expiry_scan;
	x->max_age_ms = b->set.matcher_state_max_age;
	x->ckpt_every_ms = b->set.matcher_audit_checkpoint_interval;
	x->next_ckpt = deconf_now_ms() + x->ckpt_every_ms;
	x->m.conf.match_same_agency = (int)b->set.matcher_match_same_agency;
	x->m.conf.notify_queried = (int)b->set.matcher_notify_queried;
	x->m.conf.ip_slack_ms = b->set.matcher_ip_slack;
	x->m.conf.ttl_ms = b->set.matcher_ttl;
	x->m.conf.ttl_ip_ms = b->set.matcher_ttl_ip;
	x->m.conf.ttl_max_ms = b->set.matcher_ttl_max;
	x->m.conf.warn_before_ms = b->set.matcher_expiry_warning;
	x->m.conf.hot_cases = (uint32_t)b->set.matcher_hot_cases;
	x->m.conf.hot_cases_per_agency = (uint32_t)b->set.matcher_hot_cases_per_agency;
	x->m.conf.token_cases_per_agency = (uint32_t)b->set.matcher_token_cases_per_agency;
	x->m.conf.escalate_after_ms = b->set.matcher_escalate_after;
	x->m.dir = b->dir;
	x->m.heads = x->heads;
	x->m.out = (struct brk_match_out){ x, out_notice, out_state, out_audit, out_ops };
	brk_topic(b, "tokens", x->tokens, sizeof(x->tokens));
	brk_topic(b, "state", x->state, sizeof(x->state));
	brk_topic(b, "audit", x->audit, sizeof(x->audit));
	brk_topic(b, "ops", x->ops, sizeof(x->ops));
	brk_topic(b, "notices.", x->notices, sizeof(x->notices));
	if ((rc = brk_store_open(&x->store, b->set.matcher_state_dir,
				 (size_t)b->set.matcher_state_map_size, errstr, errstr_size)))
		goto out;
	/* the directory (counterparts' names): ingest follows it when it runs
	 * in this process; one follower, so updates are applied in order */
	if (!b->run_ingest) {
		if ((rc = brk_feed_open(&x->dir, b, "directory", dir_apply, b->dir, errstr,
					errstr_size)))
			goto out;
		brk_feed_sync(x->dir, 30000);
	}
	if ((rc = open_clients(x)))
		goto out;
	bt = (struct brk_eos_batch){ .consumer = x->consumer,
				     .facility = "MATCHER",
				     .on_reset = on_reset,
				     .opaque = x,
				     .max = x->batch_max,
				     .wait_us = x->batch_wait_ms * 1000,
				     .time_us = x->batch_time_ms * 1000 };
	brk_metrics_status(mx, x->part, 0, "waiting for partitions");
	while (!*stop && !x->fatal) {
		int64_t t0 = deconf_mono_us();
		rd_kafka_message_t *m;

		brk_metrics_heartbeat(mx, x->part);
		if (x->aborted) {
			/* a batch failed: wait before the next try (100 ms doubling to
			 * 10 s), not a rewind loop as fast as Kafka answers */
			int64_t until;
			x->aborted = 0;
			x->backoff_ms = x->backoff_ms ? x->backoff_ms * 2 : 100;
			if (x->backoff_ms > 10000)
				x->backoff_ms = 10000;
			deconf_log(DECONF_LOG_WARNING, "MATCHER", "retrying in %lld ms",
				   (long long)x->backoff_ms);
			until = deconf_mono_us() + x->backoff_ms * 1000;
			while (!*stop && deconf_mono_us() < until) {
				rd_kafka_poll(x->producer, 0);
				brk_metrics_heartbeat(mx, x->part);
				usleep(20000);
			}
		}
		if (x->dir)
			brk_feed_poll(x->dir);
		brk_eos_batch_begin(&bt);
		while (!*stop && !x->fatal && (m = brk_eos_batch_next(&bt))) {
			if ((rc = begin_batch(x))) {
				rd_kafka_message_destroy(m);
				goto failed;
			}
			if (bt.n == 1)
				brk_metrics_pending(mx, x->part, 1);
			rc = process(x, m);
			rd_kafka_message_destroy(m);
			if (rc) {
				if (rc != DECONF_E_KAFKA)
					goto failed; /* the store failed */
				if ((rc = abort_batch(x, "a record could not be produced")))
					goto failed;
				break;
			}
		}
		if (x->fatal)
			break;
		if (x->need_space) {
			rc = x->need_space;
			goto failed;
		}
		if ((rc = housekeeping(x))) {
			if (rc != DECONF_E_KAFKA)
				goto failed;
			if ((rc = abort_batch(x, "housekeeping could not produce")))
				goto failed;
		}
		if (x->in_txn && x->dr_failed && (rc = abort_batch(x, "a record was not delivered")))
			goto failed;
		if (x->in_txn && (rc = commit_batch(x, t0)))
			goto failed;
		if (deconf_mono_us() - last_gauges > 5000000) {
			last_gauges = deconf_mono_us();
			gauges(x);
		}
		if (!bt.fatal)
			continue;
		rc = DECONF_E_KAFKA;
failed:
		/* the disk or the map is full (a write cut short by a full disk is
		 * EIO to LMDB) */
		if ((rc == ENOSPC || rc == EIO) && !*stop) {
			if ((rc = wait_for_space(x, &bt, rc)))
				goto out;
			continue;
		}
		/* a client failed for good: made again, never an exit */
		{
			char why[512];
			if (rc != DECONF_E_KAFKA || *stop ||
			    (!bt.fatal && !brk_eos_fatal(x->consumer, x->producer, why, sizeof(why))))
				goto out;
			if (bt.fatal)
				snprintf(why, sizeof(why), "the consumer failed fatally");
			if ((rc = reopen_clients(x, &bt, why)))
				goto out;
		}
	}
	rc = x->fatal ? (errstr[0] ? DECONF_E_KAFKA : DECONF_E_IO) : DECONF_OK;
	if (!rc && *stop && x->consumer && x->producer && !x->in_txn)
		final_checkpoints(x);
out:
	if (rc == ENOSPC) /* LMDB's MDB_MAP_FULL: nothing is lost, but say what to do */
		deconf_err_set(errstr, errstr_size, rc,
			       "the state store is full (matcher.state_map_size = %.0f MiB): raise "
			       "it and restart; the state is kept, and caught up from the changelog",
			       (double)b->set.matcher_state_map_size / (1 << 20));
	x->stopping = 1;
	if (x->in_txn)
		abort_batch(x, "stopping");
	brk_metrics_status(mx, x->part, 0, "stopped");
	deconf_log(DECONF_LOG_NOTICE, "MATCHER", "stopped: %" PRIu64 " token ops, %" PRIu64
		   " conflicts, %" PRIu64 " notices, %" PRIu64 " malformed",
		   x->ops_applied, x->m.conflicts, x->m.notices, x->malformed);
	close_clients(x);
	if (x->dir)
		brk_feed_close(x->dir);
	brk_store_close(x->store);
	free(x->m.acc);
	free(x);
	return rc;
}
