/*
 * deconf/kafka.h — Kafka client setup from a deconf configuration.
 *
 * Every kafka.* key of the configuration goes to rd_kafka_conf_set()
 * unchanged; a key librdkafka refuses is reported with the file:line it came
 * from. On top, deconf sets what every deconf client needs:
 *   socket.nagle.disable=true  (latency of small notices)
 *   client.id=<program>        (unless configured)
 *   a log callback routing librdkafka's logs into deconf_log() with facility
 *   "KAFKA/<fac>".
 * With security.protocol=ssl, the ssl.*.location files are checked to exist
 * and be readable before librdkafka sees them, so a wrong path is one clear
 * line, not a handshake failure later.
 */
#ifndef DECONF_KAFKA_H
#define DECONF_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "deconf/conf.h"

/*
 * A new librdkafka configuration from conf's kafka.* keys. On success *out
 * is owned by the caller (give it to rd_kafka_new() or rd_kafka_conf_destroy
 * it). Returns 0 or DECONF_E_CONFIG with errstr naming origin and key.
 */
int deconf_kafka_conf_new(rd_kafka_conf_t **out, const struct deconf_conf *conf,
			  const char *client_id, char *errstr, size_t errstr_size);

/* Set one property; origin names where it came from, for the error. */
int deconf_kafka_conf_set(rd_kafka_conf_t *kconf, const char *name, const char *value,
			  const char *origin, char *errstr, size_t errstr_size);

/*
 * rd_kafka_new() that takes ownership of kconf in every case (librdkafka
 * only does on success). A producer gets acks=all whatever was configured
 * (another value is logged as replaced): a delivery report then means every
 * in-sync replica holds the record. Returns NULL with errstr filled on
 * failure.
 */
rd_kafka_t *deconf_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *kconf,
			     char *errstr, size_t errstr_size);

/* The log callback deconf_kafka_conf_new() installs. */
void deconf_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
			 const char *buf);

/* Map a Kafka error to DECONF_E_TIMEOUT or DECONF_E_KAFKA (0 for none). */
int deconf_kafka_err(rd_kafka_resp_err_t err);

/*
 * The log start (*lo) and end (*hi: the last stable offset for a
 * read_committed consumer) of every partition of parts, in two ListOffsets
 * requests per leader however many partitions there are, where
 * rd_kafka_query_watermark_offsets() takes two round trips per partition
 * (most of a second each on dev-kafka's mock cluster). *lo and *hi are
 * copies of parts, owned by the caller, with .offset set, in parts' order.
 * A partition whose leader is moving (a topic Kafka is still creating, a
 * node that left) is asked again until timeout_ms has passed. Returns the
 * first error, the request's or a partition's (then *lo and *hi are NULL).
 */
rd_kafka_resp_err_t deconf_kafka_log_bounds(rd_kafka_t *rk,
					    const rd_kafka_topic_partition_list_t *parts,
					    rd_kafka_topic_partition_list_t **lo,
					    rd_kafka_topic_partition_list_t **hi, int timeout_ms);

/* The same for partitions 0..np-1 of topic, into lo[np] and hi[np]. */
rd_kafka_resp_err_t deconf_kafka_topic_bounds(rd_kafka_t *rk, const char *topic, int np,
					      int64_t *lo, int64_t *hi, int timeout_ms);

#endif
