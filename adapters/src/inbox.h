/*
 * inbox.h — reading the deconf topics addressed to this agency.
 *
 * The broker writes two kinds of records for an agency, each on a topic of
 * its own: conflict notices (<prefix>notices.<agency>) and receipts for its
 * submissions (<prefix>receipts.<agency>). Both are read the same way, by
 * this module, one consumer for any number of those topics:
 *
 *   - by partition assignment, with no consumer group (hence no group ACL):
 *     each partition's position is kept in the ledger (meta
 *     "<kind>.offset.<partition>") and stored in the same ledger
 *     transaction as what the record it follows changed, so a crash
 *     neither loses nor repeats one;
 *   - every record must be an Envelope of the kind's message type, signed
 *     with the broker's key (agency.broker_public_key) and addressed to
 *     this agency; anything else is refused, counted and logged with its
 *     place, and never acted on (its offset is still passed);
 *   - what the record means is the kind's business (notices.c,
 *     receipts.c): its take() stores it in the ledger, inside the
 *     transaction that advances the offset, and says whether it was new or
 *     a duplicate;
 *   - a record below a partition's stored offset was taken already (by
 *     another reader of the same ledger, e.g. the daemon's while a submit
 *     inside it waits for its receipts): it is skipped, and a stored offset
 *     never moves back.
 *
 * No silent skip. Records may be gone when the reader comes back
 * (retention, DeleteRecords): the stored offset is below the partition's
 * first offset, or past its end (the topic was deleted and made again).
 * librdkafka is told auto.offset.reset=error, and the reader checks the
 * stored offsets against the partitions' bounds itself before it starts.
 * Either way it says which range of which partition is gone and stops
 * with an error, unless the kind says the loss cannot matter (receipts
 * when no submission was waiting for one, receipts.h) or the caller
 * accepts losses (--accept-loss): then the loss is logged, added to the
 * ledger's meta "<kind>.lost.<partition>" (records lost so far) and
 * reading goes on from the first record that is there. A reader without a
 * stored offset (a new ledger) starts at the first record still held.
 *
 * A topic that does not exist yet (nothing was ever written to it) has
 * nothing to read: a one-shot read skips it; a reader that follows or
 * waits looks for it again every second. A follower of several topics
 * (without done()) refused one of them by Kafka's ACLs says so (once) and
 * goes on with the others, trying it again every minute; any other read
 * fails.
 */
#ifndef ADP_INBOX_H
#define ADP_INBOX_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "agency.h"
#include "deconf.pb-c.h"

struct adp_inbox_stats {
	uint64_t received;    /* new records taken */
	uint64_t duplicates;  /* verified, but already held: dropped */
	uint64_t refused;     /* unsigned, badly signed, unparseable, not ours */
	uint64_t lost;        /* records gone below a stored offset (accepted) */
	int stopped_by_loss;  /* reading stopped at a loss nobody accepted */
};

/* One topic kind: what its records are, and what to do with them. */
struct adp_inbox_kind {
	const char *kind;     /* "notices", "receipts": <prefix><kind>.<agency> */
	int type;             /* the MessageType its records must carry */
	const ProtobufCMessageDescriptor *desc;
	size_t max_len;       /* largest record accepted (bytes) */
	/* the agency the verified message m is addressed to */
	ProtobufCBinaryData (*addressee)(const ProtobufCMessage *m);
	/*
	 * Store m (verified, addressed to us) read from rec, inside t, which
	 * also advances the offset and is committed after; *fresh = 1 when it
	 * was new, 0 when a duplicate (dropped). Returns 0, or an error: the
	 * transaction is aborted and reading stops with it.
	 */
	int (*take)(void *opaque, struct adp_ledger_txn *t, const ProtobufCMessage *m,
		    const rd_kafka_message_t *rec, int *fresh);
	/* Whether records lost below a stored offset can matter (1) or cannot
	 * (0, said in the log and passed). NULL: they always matter. */
	int (*loss_matters)(void *opaque, struct adp_ledger_txn *t);
	/* A loss that matters was accepted: adjust the ledger (in t, the
	 * transaction that records the loss). NULL: nothing to do. */
	int (*loss_accepted)(void *opaque, struct adp_ledger_txn *t);
	void *opaque;
	struct adp_inbox_stats st; /* added to by every read */
};

struct adp_inbox_opts {
	/* Keep reading (past the ends, waiting for new records) until *stop,
	 * done() or the deadline. Without follow, a read stops at the ends
	 * the partitions had when it started. */
	int follow;
	volatile int *stop;
	int (*done)(void *opaque);  /* follow: stop once it returns non-zero */
	int64_t deadline_us;        /* follow: stop at this deconf_mono_us(); 0 none */
	/* follow: called about every idle_ms (the daemon's spool and webhook
	 * work, a progress line) */
	void (*idle)(void *opaque);
	int idle_ms;
	void *opaque;               /* for done() and idle() */
	int accept_loss;            /* record lost ranges and go on */
};

/*
 * Read the kinds' topics as o says. Opens the ledger and the broker's key
 * (an error when agency.broker_public_key is not set). Returns 0, or an
 * error with errstr: Kafka refused (authorization, unreachable), the ledger
 * failed, or records were lost (then the kind's st.stopped_by_loss is set
 * and errstr names the range).
 */
int adp_inbox_read(struct adp_agency *a, struct adp_inbox_kind *const *kinds, size_t n_kinds,
		   const struct adp_inbox_opts *o, char *errstr, size_t errstr_size);

#endif
