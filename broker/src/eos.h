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
 * no auto commit, auto.offset.reset "error" (never a silent jump past
 * records: brk_eos_offset_reset), and the eager range assignor (librdkafka 2.0.2
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
	/* the group's assignor, eager (librdkafka 2.0.2's cooperative one
	 * mishandles commits, #4059); NULL: "range" */
	const char *assignor;
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

/* Send the consumer's positions to the open transaction and commit it,
 * retrying what librdkafka calls retriable for up to timeout_ms and
 * logging (as who) each 5 s Kafka has not confirmed it. NULL, or the error
 * (owned by the caller) — fatal or one that requires an abort. */
rd_kafka_error_t *brk_eos_commit(rd_kafka_t *consumer, rd_kafka_t *producer, const char *who,
				 int timeout_ms);

/* Abort the open transaction. librdkafka may say the abort has not
 * finished yet (a timeout, "retry call to resume"): then no transaction
 * can begin, so it is asked again (heartbeats to mx's part meanwhile)
 * until it finishes, fails fatally (DECONF_E_KAFKA), or *stop. */
struct brk_metrics;
int brk_eos_abort(rd_kafka_t *producer, const char *facility, int timeout_ms,
		  struct brk_metrics *mx, int part, volatile int *stop);

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
	/* called on an offset the group cannot read from (auto.offset.reset is
	 * "error"): the part decides with brk_eos_offset_reset(). Non-zero:
	 * Kafka could not answer yet, so it is called again a second later
	 * (librdkafka has stopped the partition and says nothing more) */
	int (*on_reset)(void *opaque);
	void *opaque;
	int64_t reset_due;      /* when on_reset is asked again (0: not) */
	int64_t end, opened, n; /* this batch's */
	/* the consumer failed fatally (a static member fenced after its
	 * session timed out, librdkafka #3437): it reads nothing more, and the
	 * part makes its clients again (brk_eos_fatal) */
	int fatal;
};

void brk_eos_batch_begin(struct brk_eos_batch *bt);
/* The batch's next record (the caller destroys it), or NULL when the batch
 * is complete. Consumer errors are logged and skipped; a fatal one ends the
 * batch with bt->fatal set. */
rd_kafka_message_t *brk_eos_batch_next(struct brk_eos_batch *bt);

/*
 * Whether the part's consumer or producer has failed fatally (fenced, or a
 * transaction that cannot go on): then no retry helps, and the part closes
 * both and makes them again. why receives librdkafka's reason.
 */
int brk_eos_fatal(rd_kafka_t *consumer, rd_kafka_t *producer, char *why, size_t why_size);

/* A part told to stop waits this long for Kafka to commit its last
 * transaction, and this long to abort what it could not commit: a Kafka that
 * no longer answers must not keep a stopping broker (what is not confirmed
 * the coordinator aborts once the transaction times out, or when the next
 * producer of the transactional id starts). */
#define BRK_EOS_STOP_COMMIT_MS 10000
#define BRK_EOS_STOP_ABORT_MS 2000

/* When a part last made its clients again: the fifth time within five
 * minutes is not a passing fault but another process fencing this one (two
 * deconf-brokers with the same broker.instance), and the part stops. */
struct brk_eos_reopens {
	int64_t at[5];
	unsigned n;
};
/* Records a reopen now; 0 when it may go ahead, -1 when it is the fifth
 * within five minutes. */
int brk_eos_reopen_allowed(struct brk_eos_reopens *r);

/* A part (ingest, matcher) as brk_eos_reopen_begin and brk_eos_open_retry
 * see it. */
struct brk_eos_part {
	const char *fac;    /* its log facility: "INGEST" */
	const char *label;  /* its metrics label: part="ingest" */
	struct brk_metrics *mx;
	int part;           /* brk_metrics part */
	volatile int *stop;
	/* make its clients: 0, or an error with the reason in errstr */
	int (*open)(void *opaque);
	void (*close)(void *opaque);
	void *opaque;
	const char *errstr;
};

/*
 * A fatal client failure (why) begins a reopen: refused when it is the
 * fifth within five minutes (DECONF_E_KAFKA, errstr naming the likely cause:
 * another process with the same broker.instance), else logged and counted
 * (deconf_client_restarts_total). The part then gives up its batch and
 * closes its clients, and calls brk_eos_open_retry.
 */
int brk_eos_reopen_begin(struct brk_eos_reopens *r, const struct brk_eos_part *p,
			 const char *instance, const char *why, char *errstr, size_t errstr_size);

/* Make the part's clients, trying again (1 s doubling to 10 s, said each
 * time, the part's heartbeat kept) until they are made (0) or the process
 * stops (DECONF_E_KAFKA). */
int brk_eos_open_retry(const struct brk_eos_part *p);

/*
 * Whether a produce or delivery error will happen again however often the
 * same record is retried (too large, invalid, refused by a topic policy),
 * as opposed to one that goes away (a broker down, a timeout, a leader
 * moving). A record that fails for a lasting reason is refused, never
 * retried forever; the rest is retried with backoff.
 */
int brk_eos_lasting(rd_kafka_resp_err_t err);

/* What brk_eos_offset_reset found. */
struct brk_eos_lost {
	char topic[256];
	int32_t partition;
	int64_t committed;          /* the group's offset (-1001: none) */
	int64_t log_start, log_end; /* what the partition holds now */
};

/*
 * The consumer could not fetch a partition from its offset (with
 * auto.offset.reset "error", librdkafka stops that partition and refuses a
 * seek). The assignment is made again with an explicit offset for every
 * partition: its position if it was read from; for one the group never
 * read, its beginning; its committed offset if the partition still holds
 * it. A partition whose committed offset is outside what it holds has lost
 * records the group has not read: it is left out of the assignment until
 * the next rebalance (nothing is skipped) and listed in lost (at most
 * max_lost; *n_lost how many); the operator decides (deconfctl offsets
 * accept-loss, with the broker stopped). 0, or a negative code when Kafka
 * could not tell (the next error asks again).
 */
int brk_eos_offset_reset(rd_kafka_t *consumer, struct brk_eos_lost *lost, size_t max_lost,
			 size_t *n_lost);

/* Say it loudly: an error log line, deconf_records_lost, the part stopped
 * in /readyz, and an ops event (RECORDS_LOST) produced in the producer's
 * open transaction (none when producer is NULL). 0 or the produce error. */
struct brk_metrics;
int brk_eos_report_lost(struct brk *b, rd_kafka_t *producer, struct brk_metrics *mx, int part,
			const char *part_name, const struct brk_eos_lost *lost);

/* Partitions of topic (0 when it does not exist). */
int brk_eos_partitions(rd_kafka_t *rk, const char *topic);

#endif
