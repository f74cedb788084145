/*
 * offsets.h — deconfctl offsets show | accept-loss: where the broker's
 * consumer groups stand against what their topics still hold, and the
 * operator's decision to go on after records were lost.
 *
 * The broker's consumers (groups <prefix>broker-ingest, reading every
 * <prefix>submit.* topic, and <prefix>broker-matcher, reading
 * <prefix>tokens) refuse to skip records that retention or DeleteRecords
 * removed below their committed offset: such a partition stays stopped and
 * /readyz fails until the operator acts. show lists, per partition, the
 * committed offset, the log start and end, and "LOST n records" when the
 * committed offset is below the log start. accept-loss, with every broker
 * stopped (the group must have no member), commits the log start offset of
 * each such partition: the broker then goes on from there, and what was lost
 * stays lost (it prints exactly which offsets).
 *
 * Committed offsets are read with require_stable: a partition whose
 * offsets a still-open transaction is committing says so and is left alone.
 */
#ifndef BRK_CTL_OFFSETS_H
#define BRK_CTL_OFFSETS_H

#include <librdkafka/rdkafka.h>
#include <stdio.h>

#include "kafka.h"

#define BRK_CTL_OFFSETS_INGEST 1u
#define BRK_CTL_OFFSETS_MATCHER 2u

/*
 * Print the groups of groups (a mask of the two) to out. k: a client of
 * the cluster (any type). Returns 0 (losses are part of what is printed;
 * *lost, may be NULL, is how many partitions lost records), or
 * DECONF_E_KAFKA / DECONF_E_TIMEOUT with errstr when the cluster could not
 * say.
 */
int brk_ctl_offsets_show(struct brk_ctl_kafka *k, const char *prefix, unsigned groups,
			 size_t *lost, FILE *out, char *errstr, size_t errstr_size);

/*
 * Commit the log start offset of every partition of groups that lost
 * records below its committed offset (only those of only, when not NULL:
 * topic and partition of each element), printing each one to out.
 * Returns 0 (also when nothing was lost: it says so); DECONF_E_INVAL when
 * only names a partition these groups do not read; EBUSY when a group to
 * change has members (a broker is running: nothing was changed);
 * DECONF_E_KAFKA / DECONF_E_TIMEOUT with errstr (what was changed before
 * is printed).
 */
int brk_ctl_offsets_accept_loss(struct brk_ctl_kafka *k, const char *prefix, unsigned groups,
				const rd_kafka_topic_partition_list_t *only, FILE *out,
				char *errstr, size_t errstr_size);

#endif
