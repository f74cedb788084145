/*
 * ingest.h — the broker's front door: deconf.submit.* → deconf.tokens.
 *
 * A consumer group member subscribed to every submit topic by pattern (a
 * new agency needs no restart) reads read_committed; each record is
 * decided by brk_submission_check(); an accepted submission becomes token
 * ops on deconf.tokens, keyed by token with murmur2 partitioning (what Java
 * clients compute) — event cells all keyed BRK_EVENT_KEY, so one matcher
 * partition holds every event; a refused one becomes a Reject on
 * deconf.rejects.<agency> (signed by the broker). Either way the agency
 * gets a signed Receipt on deconf.receipts.<agency> (accepted with its
 * counts, a resend, or refused with the reason), in the same transaction
 * as what it answers: an adapter marks its submission done only on one.
 * An unknown agency has neither topic. The records produced and
 * the input offsets commit in one Kafka transaction per batch: a crash at
 * any point neither loses nor repeats a token op.
 *
 * Replays: every accepted submission id is also written, in the same
 * transaction, to the compacted deconf.ingest.seen topic (key agency ":"
 * id, value the record's SHA-256 and created_at), which each instance reads
 * back at start and on every partition assignment. A record whose id was
 * seen with the same bytes is an adapter resending after a crash and is
 * dropped silently; the same id with other bytes, or a submission older
 * than ingest.replay_window, is refused as replayed.
 *
 * Internal topics (tokens, seen) carry unsigned Envelopes: they are
 * written by the broker only (ACLs), and a signature per token op would
 * cap ingest far below its goal.
 */
#ifndef BRK_INGEST_H
#define BRK_INGEST_H

/* The key of every event cell's token op on deconf.tokens. */
#define BRK_EVENT_KEY "deconf:events"

#include "broker.h"
#include "metrics.h"

/* Run until *stop. Returns 0, or a fatal error with errstr (the process
 * exits and its supervisor restarts it; state is in Kafka). */
int brk_ingest_run(struct brk *b, struct brk_metrics *mx, volatile int *stop, char *errstr, size_t errstr_size);

#endif
