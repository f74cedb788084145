/*
 * match.h — the matching semantics, without Kafka: what one token op does
 * to a partition's state, and which notices, changelog records, audit
 * events and ops events it causes (docs/design.md, "Matching semantics").
 *
 * - ADD stores the entry and, when it is new, conflicts with every live
 *   entry of the same token and epoch held by another agency's case (or
 *   the same agency's other case when match_same_agency is set) whose
 *   window overlaps (IP windows with ip_slack either side). An ADD of an
 *   entry already stored updates it and notifies nobody.
 * - Each conflicting pair is notified once: its pair id is stored (and put
 *   on the changelog), so renewals, re-adds and replays never re-notify.
 *   Both NORMAL: each side gets a CONFLICT naming the other. A RESTRICTED
 *   side is told (RESTRICTED_MATCH) who else holds the indicator and is
 *   revealed to no one; two RESTRICTED sides are each told of the other.
 * - Counterpart details come from the directory (name, level, country) and
 *   the counterpart case's point of contact; its case ref is withheld when
 *   it is flagged COURT_SEALED.
 * - RENEW extends expires_at (an entry not stored is added, as the agency
 *   still holds it); REMOVE and CLOSE_CASE delete; a CLOSE_CASE without a
 *   token deletes every entry of the case in the partition.
 * - QUERY stores nothing: the asker gets a QUERY_HIT per NORMAL holder,
 *   and holders get QUERIED when notify_queried is set (a RESTRICTED
 *   holder always, and it alone is told). A RESTRICTED query is never
 *   revealed: holders are not told of it.
 * - A token held by more than hot_cases cases is hot: it is marked (and
 *   put on the changelog), ops get one OpsEvent, and from then on the
 *   adder of that token gets a HOT_TOKEN notice instead of conflicts. At
 *   most hot_cases_per_agency cases of each agency count, so one agency
 *   alone cannot make a token hot (it can compute the token of any value
 *   and would stop others' conflicts on it). An agency's add of a token it
 *   already holds in token_cases_per_agency other cases is not stored; it
 *   gets a HOT_TOKEN notice (its case will not be matched on it).
 * - Expiry: brk_match_expire() warns the owner warn_before ahead (once)
 *   and removes the entry when it expires (EXPIRED notice). It visits only
 *   what is due (the store's due index), a bounded number per call.
 * - Key rotation: the federation's signed KeyEpochs record (from the
 *   directory) says which epochs are live; brk_match_expire() removes the
 *   entries of any other epoch (audited, no notice: their owners
 *   resubmitted under the new key). Tokens cannot move the epoch: without
 *   a record nothing is retired.
 * - Costs an agency can cause are bounded by what it asks: an add walks at
 *   most hot_cases entries of its token, a case close walks that case's
 *   entries (the store's case index).
 * - Every accepted op, conflict, notice, expiry and hot token is an audit
 *   event, hash-chained per partition. Accepted ops are audited per
 *   (submission, case, op) and partition, with their count, when the batch
 *   is flushed: one event for a case's hundred indicators, not a hundred
 *   (the changelog has each entry).
 *
 * - Lifecycle: each side told of a conflict (CONFLICT, RESTRICTED_MATCH)
 *   gets a ConflictLife record, by the notice id it received (store
 *   "life", changelog "L"). An acknowledgment (a token op with
 *   ack_notice_id, which ingest checked was sent to its agency) changes
 *   only that agency's side: a new outcome is recorded, audited, and told
 *   to the counterpart (ACKNOWLEDGED, id from the conflict, the side and
 *   the outcome) when the counterpart was itself told of the conflict; an
 *   outcome recorded before changes nothing. A notice with no record (from
 *   before lifecycles were kept) is audited and changes nothing.
 * - Escalation: a side of a conflict with a caution flag in
 *   brk_match_escalates() on either side gets escalate_at = notified +
 *   escalate_after; brk_match_escalate() tells ops (OPS_KIND_ESCALATION,
 *   both contacts, no token) and reminds the recipient (REMINDER), once,
 *   when it is still unacknowledged then. Due sides are indexed by time
 *   (store "esc"), so a pass costs what is due.
 *
 * - Events (type EVENT_CELL, docs/design.md "Events"): every event cell
 *   is on one partition (ingest), so a pair of events is one conflict
 *   (its pair id leaves out the token) however many cells they share; a
 *   shared cell conflicts only when one side holds it as COVER, and only
 *   in strictly overlapping windows; the notice is urgent, with both
 *   events' kinds, the counterpart's window and brk_match_event_band_m();
 *   event conflicts always escalate; event cells are hot only past
 *   EVENT_HOT_CASES.
 *
 * Notice ids are the first 16 bytes of a SHA-256 over the kind, token,
 * epoch, the recipient's (agency, case), the counterpart's (agency, case)
 * and, for queries and expiry, the submission or the expiry time: the same
 * cause always yields the same id, so adapters can drop duplicates.
 */
#ifndef BRK_MATCH_H
#define BRK_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "deconf.pb-c.h"
#include "deconf/sign.h"
#include "directory.h"
#include "metrics.h"
#include "store.h"

struct brk_match_conf {
	int match_same_agency;
	int notify_queried;
	int64_t ip_slack_ms;
	int64_t ttl_ms, ttl_ip_ms, ttl_max_ms; /* default TTLs and the cap */
	int64_t warn_before_ms;
	uint32_t hot_cases;
	/* at most this many of one agency's cases count toward hot_cases (0:
	 * all), so one agency cannot make a token hot and blind the others */
	uint32_t hot_cases_per_agency;
	/* an agency's add of a token it holds in this many other cases is not
	 * stored (0: no cap), which bounds every walk of a token */
	uint32_t token_cases_per_agency;
	/* an unacknowledged cautioned conflict escalates this long after its
	 * notice (0: never) */
	int64_t escalate_after_ms;
};

/* Where the outputs go. Each returns 0 or an error that fails the batch. */
struct brk_match_out {
	void *opaque;
	int (*notice)(void *opaque, int partition, const Deconf__V1__ConflictNotice *n);
	/* record NULL: a tombstone for key */
	int (*state)(void *opaque, int partition, const uint8_t *key, size_t key_len,
		     const Deconf__V1__StateRecord *record);
	/* the serialized AuditEvent (chain, seq and prev_hash filled in) */
	int (*audit)(void *opaque, int partition, const uint8_t *event, size_t len);
	int (*ops)(void *opaque, const Deconf__V1__OpsEvent *ev);
};

/* One partition's audit chain head. */
struct brk_audit_head {
	uint64_t seq;
	uint8_t hash[32];
	int dirty; /* changed since last put on the changelog */
	/* the head seq right after the last checkpoint this process wrote (0:
	 * none): the chain moved since when seq differs */
	uint64_t signed_seq;
};

/* Accepted ops of the open batch, audited at the flush. */
struct brk_match_acc {
	int partition, op, type;
	uint32_t n;
	uint8_t sub[DECONF_ID_LEN];
	char agency[DECONF_AGENCY_ID_MAX + 1];
	uint8_t case_ref[BRK_CASE_MAX];
	size_t case_len;
};

/* A first acknowledgment of the open batch, for the time-to-acknowledge
 * histogram (observed when the batch commits). */
struct brk_match_ack_obs {
	double seconds;
	int level;   /* the acknowledging agency's AgencyLevel, 0 unknown */
	int caution; /* the conflict carries a flag that escalates */
};

#define BRK_MATCH_ACK_OBS 256

struct brk_match {
	struct brk_match_conf conf;
	struct brk_match_acc *acc;
	size_t n_acc, cap_acc;
	struct brk_directory *dir; /* borrowed; NULL: counterparts by id only */
	struct brk_match_out out;
	struct brk_audit_head *heads; /* borrowed, indexed by partition */
	/* counters, for metrics (the caller reads them between batches) */
	uint64_t conflicts, notices, expired, warned, hot;
	uint64_t escalated, outcomes[8]; /* outcomes by Outcome */
	uint64_t liaisons; /* conflicts across a sharing scope (LIAISON ops events) */
	/* first acknowledgments of the open batch (the caller empties it) */
	struct brk_match_ack_obs ack_obs[BRK_MATCH_ACK_OBS];
	size_t n_ack_obs;
	/* liaison requests of the open batch, for the watch desk (the caller
	 * empties it; past the bound they are counted, not listed) */
	struct brk_liaison_view liaison_v[BRK_LIAISON_VIEW_MAX];
	size_t n_liaison_v;
	/* the soonest escalation this process scheduled or left (0: unknown,
	 * look now); the caller sets 0 after a restore or an abort */
	int64_t esc_soonest;
};

/* The partition's open escalations (escalated, still unacknowledged), the
 * longest open first, at most max (and BRK_ESC_VIEW_MAX) into out: what
 * the watch desk lists. */
int brk_match_open_escalations(struct brk_match *m, struct brk_store_txn *t, int partition,
			       size_t max, struct brk_esc_view *out, size_t *n);

/* Event cells (type EVENT_CELL, docs/event-cells.md): whether a role and
 * an S2 level are ones an event cell may have; and the distance band of a
 * conflict between events of these levels: their centres are at most this
 * many metres apart. */
int brk_match_event_cell_ok(int role, uint32_t level);
uint32_t brk_match_event_band_m(uint32_t level_a, uint32_t level_b);

/* 1 when a conflict between entries with these caution flags escalates
 * (ARMED, UNDERCOVER, ACTIVE_OPERATION or VICTIM_AT_RISK on either side). */
int brk_match_escalates(uint32_t flags_a, uint32_t flags_b);

/* Escalate at most max sides of the partition due at now; *done = how many
 * were looked at (max: call again), *next = when the next one is due (0:
 * none left). */
int brk_match_escalate(struct brk_match *m, struct brk_store_txn *t, int partition, int64_t now,
		       size_t max, size_t *done, int64_t *next);

/* Apply one token op of the given partition inside the store transaction. */
int brk_match_op(struct brk_match *m, struct brk_store_txn *t, int partition,
		 const Deconf__V1__TokenOp *op, int64_t now);

/* Retire, expire and warn at most max entries of the partition that are
 * due at now; *done = number handled (max: call again). */
int brk_match_expire(struct brk_match *m, struct brk_store_txn *t, int partition,
		     int64_t now, size_t max, size_t *done);

/* Audit the partition's accepted ops of this batch, then put its audit
 * head on the changelog ("A") when it changed. */
int brk_match_flush_head(struct brk_match *m, int partition, int64_t now);

/* The same, and between the two, with ckpt_key (the broker's private key;
 * NULL: not now), a signed checkpoint of the head when the chain moved
 * since this process's last one (AuditEvent in deconf.proto). */
int brk_match_flush_head_ckpt(struct brk_match *m, int partition, int64_t now,
			      const struct deconf_sign_key *ckpt_key);

/* Forget the open batch's accepted ops (the batch was aborted). */
void brk_match_reset(struct brk_match *m);

/* Audit a partition rebuild (detail: what was restored), and with
 * tell_ops tell ops too (not for a partition that had nothing to rebuild:
 * a new federation's first start). */
int brk_match_audit_rebuilt(struct brk_match *m, int partition, int64_t now,
			    const char *detail, int tell_ops);

/* Apply one changelog record (value NULL: tombstone) while restoring a
 * partition; head receives an "A" record; conf gives entries their due
 * times. Unknown keys are refused (DECONF_E_MALFORMED) and change nothing. */
int brk_match_restore(const struct brk_match_conf *conf, struct brk_store_txn *t, int partition,
		      const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len,
		      struct brk_audit_head *head);

#endif
