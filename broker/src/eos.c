/* eos.c — exactly-once plumbing shared by ingest and the matcher (eos.h). */
#include <stdio.h>
#include <string.h>

#include <stdlib.h>
#include <unistd.h>

#include "deconf/envelope.h"
#include "eos.h"
#include "metrics.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/log.h"
#include "deconf/util.h"

#define COMMIT_SLICE_MS 5000

/* Set name unless broker.conf set kafka.<name> itself. */
static int set_default(struct brk *b, rd_kafka_conf_t *kc, const char *name, const char *value,
		       char *errstr, size_t errstr_size)
{
	char key[128];

	snprintf(key, sizeof(key), "kafka.%s", name);
	if (deconf_conf_origin(b->conf, key))
		return DECONF_OK;
	return deconf_kafka_conf_set(kc, name, value, "broker", errstr, errstr_size);
}

int brk_eos_open(struct brk *b, const struct brk_eos_opts *o, rd_kafka_t **consumer,
		 rd_kafka_t **producer, char *errstr, size_t errstr_size)
{
	rd_kafka_conf_t *cc = NULL, *pc = NULL;
	rd_kafka_error_t *e;
	int rc;

	*consumer = *producer = NULL;
	if ((rc = deconf_kafka_conf_new(&cc, b->conf, o->client_id, errstr, errstr_size)) ||
	    (rc = deconf_kafka_conf_set(cc, "group.id", o->group, "broker", errstr, errstr_size)) ||
	    /* static membership: a restarted instance (same broker.instance)
	     * gets its partitions back at once, without a rebalance and without
	     * waiting out its dead predecessor's session */
	    (rc = deconf_kafka_conf_set(cc, "group.instance.id", o->transactional_id, "broker",
					errstr, errstr_size)) ||
	    (rc = deconf_kafka_conf_set(cc, "isolation.level", "read_committed", "broker", errstr,
					errstr_size)) ||
	    (rc = deconf_kafka_conf_set(cc, "enable.auto.commit", "false", "broker", errstr,
					errstr_size)) ||
	    /* never jump past records: an offset out of range (retention or
	     * DeleteRecords took what the group has not read) is an error the
	     * part handles (brk_eos_offset_reset) */
	    (rc = deconf_kafka_conf_set(cc, "auto.offset.reset", "error", "broker", errstr,
					errstr_size)) ||
	    (rc = deconf_kafka_conf_set(cc, "partition.assignment.strategy",
					o->assignor ? o->assignor : "range", "broker", errstr,
					errstr_size)) ||
	    (rc = deconf_kafka_conf_set(cc, "topic.metadata.refresh.interval.ms", "10000",
					"broker", errstr, errstr_size)) ||
	    (rc = set_default(b, cc, "session.timeout.ms", "10000", errstr, errstr_size)) ||
	    (rc = set_default(b, cc, "fetch.wait.max.ms", "10", errstr, errstr_size)))
		goto fail;
	rd_kafka_conf_set_rebalance_cb(cc, o->rebalance_cb);
	rd_kafka_conf_set_opaque(cc, o->opaque);
	*consumer = deconf_kafka_new(RD_KAFKA_CONSUMER, cc, errstr, errstr_size);
	cc = NULL;
	if (!*consumer) {
		rc = DECONF_E_KAFKA;
		goto fail;
	}
	rd_kafka_poll_set_consumer(*consumer);
	if ((rc = deconf_kafka_conf_new(&pc, b->conf, o->client_id, errstr, errstr_size)) ||
	    (rc = deconf_kafka_conf_set(pc, "transactional.id", o->transactional_id, "broker",
					errstr, errstr_size)) ||
	    (o->partitioner && (rc = deconf_kafka_conf_set(pc, "partitioner", o->partitioner,
							   "broker", errstr, errstr_size))) ||
	    (o->txn_timeout_ms &&
	     (rc = deconf_kafka_conf_set(pc, "transaction.timeout.ms", o->txn_timeout_ms, "broker",
					 errstr, errstr_size))) ||
	    (rc = set_default(b, pc, "linger.ms", "5", errstr, errstr_size)) ||
	    (rc = set_default(b, pc, "retry.backoff.ms", "10", errstr, errstr_size)))
		goto fail;
	if (o->dr_cb)
		rd_kafka_conf_set_dr_msg_cb(pc, o->dr_cb);
	rd_kafka_conf_set_opaque(pc, o->opaque);
	*producer = deconf_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, errstr_size);
	pc = NULL;
	if (!*producer) {
		rc = DECONF_E_KAFKA;
		goto fail;
	}
	if ((e = rd_kafka_init_transactions(*producer, 60000))) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA, "init_transactions: %s",
				    rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		goto fail;
	}
	/* Learn every topic's partitions now: the first record to a topic the
	 * producer does not know yet waits for a metadata round of its own,
	 * which holds up that batch's commit (most of a second, measured). */
	{
		const struct rd_kafka_metadata *md = NULL;
		if (!rd_kafka_metadata(*producer, 1, NULL, &md, 10000) && md)
			rd_kafka_metadata_destroy(md);
	}
	return DECONF_OK;
fail:
	if (cc)
		rd_kafka_conf_destroy(cc);
	if (pc)
		rd_kafka_conf_destroy(pc);
	if (*consumer)
		rd_kafka_destroy(*consumer);
	if (*producer)
		rd_kafka_destroy(*producer);
	*consumer = *producer = NULL;
	return rc ? rc : DECONF_E_KAFKA;
}

rd_kafka_error_t *brk_eos_commit(rd_kafka_t *consumer, rd_kafka_t *producer, const char *who,
				 int timeout_ms)
{
	rd_kafka_topic_partition_list_t *pos = NULL;
	rd_kafka_consumer_group_metadata_t *cgmd;
	rd_kafka_error_t *e;
	int64_t t0 = deconf_mono_us();

	if (rd_kafka_assignment(consumer, &pos) || !pos)
		return rd_kafka_error_new(RD_KAFKA_RESP_ERR__STATE, "no assignment");
	rd_kafka_position(consumer, pos);
	cgmd = rd_kafka_consumer_group_metadata(consumer);
	/* bounded like the commit: with Kafka gone, -1 would wait for ever
	 * (and a broker told to stop would never stop) */
	e = rd_kafka_send_offsets_to_transaction(producer, pos, cgmd, timeout_ms);
	rd_kafka_consumer_group_metadata_destroy(cgmd);
	rd_kafka_topic_partition_list_destroy(pos);
	/* in slices, so a commit Kafka does not confirm is in the log while
	 * it lasts, not only when it finally fails */
	while (!e) {
		int64_t call = deconf_mono_us(), left = timeout_ms - (call - t0) / 1000;

		e = rd_kafka_commit_transaction(producer, left < COMMIT_SLICE_MS ? (int)left
										  : COMMIT_SLICE_MS);
		if (!e || !rd_kafka_error_is_retriable(e) || left <= COMMIT_SLICE_MS)
			break;
		deconf_log(DECONF_LOG_WARNING, who,
			   "commit not confirmed by Kafka after %.0f s (%s): still trying",
			   (double)(deconf_mono_us() - t0) / 1e6, rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		e = NULL;
		if (deconf_mono_us() - call < 100000) /* answered at once: not so fast */
			usleep(100000);
	}
	return e;
}

void brk_eos_rewind(rd_kafka_t *consumer)
{
	rd_kafka_topic_partition_list_t *a = NULL;

	if (rd_kafka_assignment(consumer, &a) || !a)
		return;
	if (!rd_kafka_committed(consumer, a, 10000)) {
		for (int i = 0; i < a->cnt; i++)
			if (a->elems[i].offset < 0)
				a->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
		rd_kafka_seek_partitions(consumer, a, 10000);
	}
	rd_kafka_topic_partition_list_destroy(a);
}

int brk_eos_lasting(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_MSG:
	case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
	case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
	case RD_KAFKA_RESP_ERR__BAD_MSG:
	case RD_KAFKA_RESP_ERR__INVALID_ARG:
		return 1;
	default:
		return 0;
	}
}

int brk_eos_partitions(rd_kafka_t *rk, const char *topic)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
	int n = 0;

	if (!err && md->topic_cnt == 1 && !md->topics[0].err)
		n = md->topics[0].partition_cnt;
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return n;
}

int brk_eos_produce(rd_kafka_t *producer, const char *facility, const char *topic,
		    int32_t partition, const void *key, size_t key_len, const void *value,
		    size_t len)
{
	return brk_eos_produce_err(producer, facility, topic, partition, key, key_len, value, len,
				   NULL);
}

int brk_eos_produce_err(rd_kafka_t *producer, const char *facility, const char *topic,
			int32_t partition, const void *key, size_t key_len, const void *value,
			size_t len, rd_kafka_resp_err_t *errp)
{
	rd_kafka_resp_err_t err;

	for (;;) {
		err = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic),
					RD_KAFKA_V_PARTITION(partition),
					RD_KAFKA_V_KEY((void *)key, key_len),
					RD_KAFKA_V_VALUE((void *)value, len),
					RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		rd_kafka_poll(producer, 50);
	}
	if (err)
		deconf_log(DECONF_LOG_ERR, facility, "produce to %s: %s", topic,
			   rd_kafka_err2str(err));
	if (errp)
		*errp = err;
	return err ? DECONF_E_KAFKA : DECONF_OK;
}

void brk_eos_batch_begin(struct brk_eos_batch *bt)
{
	bt->end = deconf_mono_us() + bt->wait_us;
	bt->opened = 0;
	bt->n = 0;
}

rd_kafka_message_t *brk_eos_batch_next(struct brk_eos_batch *bt)
{
	if (bt->fatal)
		return NULL;
	for (;;) {
		int64_t now = deconf_mono_us(), left = (bt->end - now) / 1000;
		rd_kafka_message_t *m;

		if (bt->reset_due && now >= bt->reset_due) {
			bt->reset_due = 0;
			if (bt->on_reset(bt->opaque))
				bt->reset_due = now + 1000000;
		}
		if (bt->n >= bt->max || (bt->n && now - bt->opened >= bt->time_us))
			return NULL;
		m = rd_kafka_consumer_poll(bt->consumer,
					   bt->n ? (int)(left > 0 ? left : 0) : 100);
		if (!m)
			return NULL;
		if (!m->err) {
			if (!bt->n++)
				bt->opened = deconf_mono_us();
			return m;
		}
		if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
			char why[512];
			rd_kafka_fatal_error(bt->consumer, why, sizeof(why));
			deconf_log(DECONF_LOG_ERR, bt->facility,
				   "the consumer failed fatally (%s): made again", why);
			bt->fatal = 1;
			rd_kafka_message_destroy(m);
			return NULL;
		}
		if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET && bt->on_reset) {
			if (bt->on_reset(bt->opaque))
				bt->reset_due = deconf_mono_us() + 1000000;
		}
		else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			deconf_log(DECONF_LOG_WARNING, bt->facility, "consume: %s",
				   rd_kafka_message_errstr(m));
		rd_kafka_message_destroy(m);
	}
}

int brk_eos_fatal(rd_kafka_t *consumer, rd_kafka_t *producer, char *why, size_t why_size)
{
	why[0] = '\0';
	return (consumer && rd_kafka_fatal_error(consumer, why, why_size)) ||
	       (producer && rd_kafka_fatal_error(producer, why, why_size));
}

int brk_eos_reopen_allowed(struct brk_eos_reopens *r)
{
	const unsigned n = sizeof(r->at) / sizeof(r->at[0]);
	int64_t now = deconf_mono_us(), oldest = r->at[r->n % n];

	r->at[r->n % n] = now;
	r->n++;
	return r->n > n && now - oldest < 300 * 1000000LL ? -1 : 0;
}

int brk_eos_reopen_begin(struct brk_eos_reopens *r, const struct brk_eos_part *p,
			 const char *instance, const char *why, char *errstr, size_t errstr_size)
{
	if (brk_eos_reopen_allowed(r))
		return deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA,
				      "its Kafka clients failed fatally five times in five minutes "
				      "(%s): is another deconf-broker running with broker.instance = "
				      "%s?",
				      why, instance);
	deconf_log(DECONF_LOG_WARNING, p->fac, "making its Kafka clients again: %s", why);
	brk_metrics_add(p->mx, "deconf_client_restarts_total", p->label, 1);
	brk_metrics_status(p->mx, p->part, 0, "making its Kafka clients again");
	return DECONF_OK;
}

int brk_eos_open_retry(const struct brk_eos_part *p)
{
	for (int64_t wait_ms = 1000; p->open(p->opaque);
	     wait_ms = wait_ms < 10000 ? 2 * wait_ms : wait_ms) {
		p->close(p->opaque);
		brk_metrics_status(p->mx, p->part, 0, "Kafka clients cannot be made: retrying");
		deconf_log(DECONF_LOG_ERR, p->fac, "%s: trying again in %lld ms", p->errstr,
			   (long long)wait_ms);
		for (int64_t until = deconf_mono_us() + wait_ms * 1000;
		     !*p->stop && deconf_mono_us() < until;) {
			brk_metrics_heartbeat(p->mx, p->part);
			usleep(50000);
		}
		if (*p->stop)
			return DECONF_E_KAFKA;
	}
	brk_metrics_status(p->mx, p->part, 0, "waiting for partitions");
	return DECONF_OK;
}

int brk_eos_offset_reset(rd_kafka_t *consumer, struct brk_eos_lost *lost, size_t max_lost,
			 size_t *n_lost)
{
	rd_kafka_topic_partition_list_t *a = NULL, *c = NULL, *n = NULL, *lo = NULL, *hi = NULL;
	int rc = DECONF_E_KAFKA;

	*n_lost = 0;
	if (rd_kafka_assignment(consumer, &a) || !a)
		return DECONF_E_KAFKA;
	rd_kafka_position(consumer, a);
	n = rd_kafka_topic_partition_list_new(a->cnt);
	c = rd_kafka_topic_partition_list_new(a->cnt);
	/* read from: it goes on from its position; the others (never read, or
	 * out of range) from what the group committed, if Kafka still has it */
	for (int i = 0; i < a->cnt; i++) {
		const rd_kafka_topic_partition_t *e = &a->elems[i];
		rd_kafka_topic_partition_list_add(e->offset >= 0 ? n : c, e->topic, e->partition)
			->offset = e->offset;
	}
	if (c->cnt && (rd_kafka_committed(consumer, c, 10000) ||
		       deconf_kafka_log_bounds(consumer, c, &lo, &hi, 10000)))
		goto out; /* unknown: asked again (brk_eos_batch_next) */
	for (int i = 0; i < c->cnt; i++) {
		const rd_kafka_topic_partition_t *e = &c->elems[i];
		int64_t committed = e->offset, at;

		if (e->err)
			goto out;
		if (committed < 0) {
			at = lo->elems[i].offset; /* a partition the group never read */
		} else if (committed < lo->elems[i].offset || committed > hi->elems[i].offset) {
			/* what the group has not read is gone: left out, never skipped */
			if (*n_lost < max_lost) {
				struct brk_eos_lost *l = &lost[(*n_lost)++];
				snprintf(l->topic, sizeof(l->topic), "%s", e->topic);
				l->partition = e->partition;
				l->committed = committed;
				l->log_start = lo->elems[i].offset;
				l->log_end = hi->elems[i].offset;
			}
			continue;
		} else {
			at = committed;
		}
		rd_kafka_topic_partition_list_add(n, e->topic, e->partition)->offset = at;
	}
	/* librdkafka refuses a seek after the error ("erroneous state"): the
	 * assignment is made again, every partition at an explicit offset */
	rc = rd_kafka_assign(consumer, n) ? DECONF_E_KAFKA : DECONF_OK;
out:
	if (lo)
		rd_kafka_topic_partition_list_destroy(lo);
	if (hi)
		rd_kafka_topic_partition_list_destroy(hi);
	rd_kafka_topic_partition_list_destroy(n);
	rd_kafka_topic_partition_list_destroy(c);
	rd_kafka_topic_partition_list_destroy(a);
	return rc;
}

int brk_eos_report_lost(struct brk *b, rd_kafka_t *producer, struct brk_metrics *mx, int part,
			const char *part_name, const struct brk_eos_lost *lost)
{
	Deconf__V1__OpsEvent ev = DECONF__V1__OPS_EVENT__INIT;
	char detail[512], labels[256], ops[256];
	int64_t n = lost->committed < lost->log_start ? lost->log_start - lost->committed : 0;
	uint8_t *buf;
	size_t len;
	int rc;

	snprintf(detail, sizeof(detail),
		 "%s [%d]: the %s group stands at offset %lld but the partition holds %lld..%lld: "
		 "%lld record(s) it has not read are gone; the partition is stopped, nothing is "
		 "skipped. Stop the broker and run `deconfctl offsets accept-loss` to go on from "
		 "%lld",
		 lost->topic, (int)lost->partition, part_name, (long long)lost->committed,
		 (long long)lost->log_start, (long long)lost->log_end, (long long)n,
		 (long long)lost->log_start);
	deconf_log(DECONF_LOG_ERR, part_name[0] == 'i' ? "INGEST" : "MATCHER", "%s", detail);
	snprintf(labels, sizeof(labels), "part=\"%s\",topic=\"%.80s\",partition=\"%d\"",
		 part_name, lost->topic, (int)lost->partition);
	brk_metrics_set(mx, "deconf_records_lost", labels, (double)n);
	{
		char why[160];
		snprintf(why, sizeof(why), "%.60s [%d] lost %lld records below its offset %lld",
			 lost->topic, (int)lost->partition, (long long)n,
			 (long long)lost->committed);
		brk_metrics_blocked(mx, part, why);
	}
	if (!producer) /* no transaction to tell ops in: the log and /readyz have it */
		return DECONF_OK;
	ev.kind = DECONF__V1__OPS_KIND__OPS_KIND_RECORDS_LOST;
	ev.at = deconf_now_ms();
	ev.count = (uint64_t)n;
	ev.detail = detail;
	if ((rc = deconf_envelope_seal(&ev.base, DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_OPS_EVENT,
				       "broker", b->key, &buf, &len)))
		return rc;
	brk_topic(b, "ops", ops, sizeof(ops));
	rc = brk_eos_produce(producer, part_name[0] == 'i' ? "INGEST" : "MATCHER", ops,
			     RD_KAFKA_PARTITION_UA, NULL, 0, buf, len);
	free(buf);
	return rc;
}

int brk_eos_abort(rd_kafka_t *producer, const char *facility, int timeout_ms,
		  struct brk_metrics *mx, int part, volatile int *stop)
{
	for (int tries = 1;; tries++) {
		rd_kafka_error_t *e = rd_kafka_abort_transaction(producer, timeout_ms);
		int fatal, retriable;

		if (!e)
			return DECONF_OK;
		fatal = rd_kafka_error_is_fatal(e);
		retriable = rd_kafka_error_is_retriable(e);
		deconf_log(DECONF_LOG_ERR, facility, "abort (try %d): %s", tries,
			   rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		if (fatal)
			return DECONF_E_KAFKA;
		/* not finished ("retry call to resume"): a new transaction
		 * cannot begin until it is, so it is asked again */
		if (!retriable)
			return DECONF_OK;
		if (stop && *stop)
			return DECONF_E_KAFKA;
		brk_metrics_heartbeat(mx, part);
		usleep(500000);
	}
}
