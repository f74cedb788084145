/*
 * matcher.h — deconf.tokens → notices, exactly once, with local state.
 *
 * A consumer group member (eager range assignment) reads deconf.tokens
 * read_committed. Per batch, in one Kafka transaction with the input
 * offsets: the notices (signed with the broker's key) to
 * deconf.notices.<agency>, every state change to the compacted
 * deconf.state changelog (same partition number as the token op's), the
 * hash-chained audit events to deconf.audit, ops events to deconf.ops.
 * The batch's LMDB transaction (match.h's semantics applied to store.h)
 * commits only after the Kafka transaction did, together with each
 * partition's checkpoint: the changelog offset after this batch's last
 * record and the audit chain head.
 *
 * Crash between the two commits: the local state is behind Kafka. On every
 * assignment, before a partition is read, it is restored: changelog
 * records from its checkpoint to the end are applied (an instance that
 * never had the partition, or whose copy is older than
 * matcher.state_max_age, wipes it and reads the changelog from the
 * beginning). So a restart serves within seconds (no full replay), and any
 * instance can take over any partition.
 *
 * Expiry runs every matcher.expiry_scan inside a batch, so its notices and
 * deletions are exactly once too.
 */
#ifndef BRK_MATCHER_H
#define BRK_MATCHER_H

#include "broker.h"
#include "metrics.h"

/* Run until *stop. Returns 0, or a fatal error with errstr. */
int brk_matcher_run(struct brk *b, struct brk_metrics *mx, volatile int *stop, char *errstr,
		    size_t errstr_size);

#endif
