/*
 * eos.h — the exactly-once plumbing ingest and the matcher share: a
 * consumer-group member and a transactional producer set up the same way,
 * the commit of outputs with input offsets, and the rewind after an abort.
 *
 * Defaults the broker sets unless broker.conf sets the kafka.* key itself:
 * session.timeout.ms 10000 (a dead instance loses its partitions in
 * seconds), fetch.wait.max.ms 10 (a caught-up fetch would wait 500 ms for
 * the next commit), linger.ms 5, and retry.backoff.ms 10 (after a commit
 * the next transaction's first partitions are refused with
 * CONCURRENT_TRANSACTIONS until the markers are written; librdkafka's
 * default 100 ms would be added to every batch). Always: read_committed,
 * no auto commit, earliest, and the eager range assignor (librdkafka 2.0.2
 * bug #4059 with cooperative rebalancing and commits). The consumer is a
 * static member of its group (group.instance.id = the transactional id,
 * which broker.instance makes unique and stable): a process killed and
 * started again gets its partitions back at once; one that stops for good
 * hands them over once its session (10 s) times out.
 */
#ifndef BRK_EOS_H
#define BRK_EOS_H

#include <librdkafka/rdkafka.h>

#include "broker.h"

struct brk_eos_opts {
	const char *client_id;   /* "deconf-broker-ingest" ... */
	const char *group, *transactional_id;
	const char *partitioner; /* NULL: librdkafka's default */
	const char *txn_timeout_ms; /* NULL: librdkafka's default */
	void (*rebalance_cb)(rd_kafka_t *, rd_kafka_resp_err_t, rd_kafka_topic_partition_list_t *,
			     void *);
	void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *); /* may be NULL */
	void *opaque;            /* for both callbacks */
};

/* Create both clients (the consumer polls its own queue) and init the
 * producer's transactions. On failure both are NULL and errstr says why. */
int brk_eos_open(struct brk *b, const struct brk_eos_opts *o, rd_kafka_t **consumer,
		 rd_kafka_t **producer, char *errstr, size_t errstr_size);

/* Send the consumer's positions to the open transaction and commit it
 * (retrying what librdkafka calls retriable). NULL, or the error (owned by
 * the caller) — fatal or one that requires an abort. */
rd_kafka_error_t *brk_eos_commit(rd_kafka_t *consumer, rd_kafka_t *producer, int timeout_ms);

/* Seek the consumer's assignment back to the group's committed offsets. */
void brk_eos_rewind(rd_kafka_t *consumer);

/* Produce a copy of the record, waiting while the queue is full. 0, or
 * DECONF_E_KAFKA (logged under facility). */
int brk_eos_produce(rd_kafka_t *producer, const char *facility, const char *topic,
		    int32_t partition, const void *key, size_t key_len, const void *value,
		    size_t len);
/* The same, with librdkafka's error code in *errp (0 when produced). */
int brk_eos_produce_err(rd_kafka_t *producer, const char *facility, const char *topic,
			int32_t partition, const void *key, size_t key_len, const void *value,
			size_t len, rd_kafka_resp_err_t *errp);

/* A batch's records, as ingest and the matcher take them: until max
 * records, or batch_wait after the batch began, or batch_time after its
 * first record (however much is still queued), whichever comes first. The
 * first record is waited for up to 100 ms. Set consumer, facility (for the
 * log), max, wait_us and time_us once; brk_eos_batch_begin before each batch. */
struct brk_eos_batch {
	rd_kafka_t *consumer;
	const char *facility;
	int64_t max, wait_us, time_us;
	int64_t end, opened, n; /* this batch's */
};

void brk_eos_batch_begin(struct brk_eos_batch *bt);
/* The batch's next record (the caller destroys it), or NULL when the batch
 * is complete. Consumer errors are logged and skipped. */
rd_kafka_message_t *brk_eos_batch_next(struct brk_eos_batch *bt);

/*
 * Whether a produce or delivery error will happen again however often the
 * same record is retried (too large, invalid, refused by a topic policy),
 * as opposed to one that goes away (a broker down, a timeout, a leader
 * moving). A record that fails for a lasting reason is refused, never
 * retried forever; the rest is retried with backoff.
 */
int brk_eos_lasting(rd_kafka_resp_err_t err);

/* Partitions of topic (0 when it does not exist). */
int brk_eos_partitions(rd_kafka_t *rk, const char *topic);

#endif
