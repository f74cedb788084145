/*
 * kafka.h — deconfctl's Kafka clients: each one either reaches Kafka
 * within a bounded time or says why not, and every later step (a record's
 * delivery, an Admin API answer, a read to a partition's end) is bounded by
 * the same timeout and fails with its cause. deconfctl prints "done" only
 * for what these calls confirmed.
 *
 * Why a module: librdkafka retries an unreachable cluster quietly for as
 * long as it is allowed (message.timeout.ms is 5 minutes by default), logs
 * each attempt as an error line, and a read that never starts looks the
 * same as an empty topic. Here:
 *
 *   - brk_ctl_kafka_new() asks the cluster for its brokers and fails with
 *     "cannot reach Kafka at HOST:PORT (cause)" when no broker answers
 *     within the timeout; the cause is librdkafka's last error event
 *     (connection refused, a TLS handshake failure, a name that does not
 *     resolve), or "no answer in N s".
 *   - librdkafka's own log lines are passed to deconf_log() no higher than
 *     info (log.level = info shows them): every failure deconfctl meets is
 *     reported once, as one line naming its cause.
 *   - message.timeout.ms defaults to the timeout (a kafka.* key of the
 *     configuration wins), so an unconfirmed record fails in bounded time;
 *     allow.auto.create.topics is false, so publishing never makes a topic
 *     with the cluster's defaults (a directory topic that is not compacted
 *     would forget agencies).
 *
 * Not thread-safe: one thread uses a client; the callbacks run in that
 * thread (from rd_kafka_poll / rd_kafka_flush).
 */
#ifndef BRK_CTL_KAFKA_H
#define BRK_CTL_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "deconf/conf.h"

/* The default of deconfctl --timeout, and its bounds (ms). */
#define BRK_CTL_KAFKA_TIMEOUT_MS 10000
#define BRK_CTL_KAFKA_TIMEOUT_MAX_MS 3600000

struct brk_ctl_kafka;

/*
 * A client of the cluster conf's kafka.* keys name, reached: *out is the
 * caller's (brk_ctl_kafka_free). props: NULL, or name/value pairs ending in
 * NULL, set after the configuration's keys (e.g. enable.partition.eof).
 * timeout_ms bounds reaching the cluster and every later call.
 * Returns 0; DECONF_E_CONFIG (a kafka.* key librdkafka refuses);
 * DECONF_E_IO, errstr "cannot reach Kafka at HOST:PORT (cause)".
 */
int brk_ctl_kafka_new(struct brk_ctl_kafka **out, rd_kafka_type_t type,
		      const struct deconf_conf *conf, int timeout_ms, const char *const *props,
		      char *errstr, size_t errstr_size);

void brk_ctl_kafka_free(struct brk_ctl_kafka *k);

/* The librdkafka handle (borrowed: valid until brk_ctl_kafka_free). */
rd_kafka_t *brk_ctl_kafka_handle(struct brk_ctl_kafka *k);

int brk_ctl_kafka_timeout_ms(const struct brk_ctl_kafka *k);

/* kafka.bootstrap.servers as configured (borrowed). */
const char *brk_ctl_kafka_bootstrap(const struct brk_ctl_kafka *k);

/*
 * What an error means for the operator, into buf: its name and text, and
 * for the authorization errors what deconfctl needs (it runs as the
 * broker's principal). Returns buf.
 */
const char *brk_ctl_kafka_cause(rd_kafka_resp_err_t err, char *buf, size_t size);

/*
 * Whether topic exists: 0 with *partitions set; DECONF_E_UNKNOWN when the
 * cluster does not have it; DECONF_E_KAFKA (not allowed to describe it, or
 * another error) or DECONF_E_TIMEOUT, errstr naming the cause.
 */
int brk_ctl_kafka_topic(struct brk_ctl_kafka *k, const char *topic, int *partitions,
			char *errstr, size_t errstr_size);

/* One record to publish; value and key are borrowed (copied when sent). */
struct brk_ctl_record {
	const void *key;
	size_t key_len;
	const void *value;
	size_t len;
};

/*
 * Produce r[0..n) in order to partition 0 of topic, which must exist, and
 * wait for each one's delivery report. Returns 0 only when Kafka
 * acknowledged every record; otherwise DECONF_E_UNKNOWN (no such topic:
 * nothing was sent), DECONF_E_KAFKA or DECONF_E_TIMEOUT with errstr
 * "publishing to TOPIC: cause (K of N records confirmed)". A producer made
 * with enable.idempotence fails at once on its fatal error.
 */
int brk_ctl_kafka_publish(struct brk_ctl_kafka *k, const char *topic,
			  const struct brk_ctl_record *r, size_t n, char *errstr,
			  size_t errstr_size);

/* Admin options for op with the request timeout (free them with
 * rd_kafka_AdminOptions_destroy). */
rd_kafka_AdminOptions_t *brk_ctl_kafka_admin_options(struct brk_ctl_kafka *k,
						     rd_kafka_admin_op_t op);

/*
 * The next event on q, an Admin API result, within the timeout: 0 with *ev
 * the caller's (rd_kafka_event_destroy); DECONF_E_TIMEOUT, or
 * DECONF_E_KAFKA when the request as a whole failed (errstr: what, then the
 * cause; *err the code). Per-item errors are the caller's to read.
 */
int brk_ctl_kafka_admin_wait(struct brk_ctl_kafka *k, rd_kafka_queue_t *q, const char *what,
			     rd_kafka_event_t **ev, rd_kafka_resp_err_t *err, char *errstr,
			     size_t errstr_size);

/*
 * A partition's log start and end offsets (low and high watermarks), asked
 * of its leader: 0, or DECONF_E_KAFKA / DECONF_E_TIMEOUT with errstr.
 */
int brk_ctl_kafka_watermarks(struct brk_ctl_kafka *k, const char *topic, int32_t partition,
			     int64_t *lo, int64_t *hi, char *errstr, size_t errstr_size);
/* The same for every partition of parts at once (deconf_kafka_log_bounds):
 * *lo and *hi are copies of parts with .offset set, the caller's to free. */
int brk_ctl_kafka_bounds(struct brk_ctl_kafka *k, const rd_kafka_topic_partition_list_t *parts,
			 rd_kafka_topic_partition_list_t **lo,
			 rd_kafka_topic_partition_list_t **hi, char *errstr, size_t errstr_size);

/*
 * Read partition of topic from its log start to the end it had when the
 * read began, calling fn for each record (fn returns 0 to go on). The client
 * must be a consumer. Returns 0 once the end is reached; fn's nonzero
 * return; DECONF_E_KAFKA (a fetch error: not allowed, ...) or
 * DECONF_E_TIMEOUT (no record for the timeout) with errstr.
 */
int brk_ctl_kafka_read(struct brk_ctl_kafka *k, const char *topic, int32_t partition,
		       int (*fn)(const rd_kafka_message_t *m, void *opaque), void *opaque,
		       char *errstr, size_t errstr_size);

#endif
