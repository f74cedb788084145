/*
 * store.h — the matcher's local state: one LMDB environment holding, per
 * deconf.tokens partition, the live entries, each case's point of contact,
 * the notified pairs, the hot tokens and a checkpoint.
 *
 * Every key starts with the partition number (u16 big-endian), so one
 * partition's state is one key range of each database: it can be wiped and
 * rebuilt alone when this instance gains the partition.
 *
 * A case (agency, case ref) is interned as a case id (u32, per partition,
 * never reused) the first time one of its entries is stored and forgotten
 * with its last entry, so the per-entry keys carry 4 bytes instead of the
 * agency and the case ref:
 *
 *   entries  p token epoch cid                → ~20 bytes of varints
 *   cases    p agency 0x00 case               → cid, entry count, PointOfContact
 *   cids     p cid                            → agency 0x00 case
 *   bycase   p cid        (dups, 24 bytes)    → epoch due-minute token
 *   due      p epoch due-minute (dups, 4)     → cid
 *   pairs    p pair id (16)                   → at (i64)
 *   hot      p token epoch                    → (empty)
 *   life     p notice id (16)                 → ConflictLife (one notified side)
 *   esc      p 'D' at(i64) notice id          → (empty): escalation due at `at`
 *            p 'O' at(i64) notice id          → (empty): escalated at `at`, not acknowledged
 *   meta     "ckpt" p / "cidn" p              → checkpoint / next case id
 *
 * The two indexes make the costs an agency can cause proportional to what
 * it asks for, never to the whole state: `bycase` lists a case's entries (a
 * close costs that case's entries), and `due` lists, per key epoch and in
 * time order, the cases with an entry whose next housekeeping action (an
 * expiry warning, or the expiry) falls in a given minute, so an expiry pass
 * costs the entries that are due and retiring a key epoch costs that
 * epoch's entries. The index keeps each entry's due time at minute
 * precision: a walk returns what is due in any minute up to the one asked
 * about, and the caller checks each entry's exact time.
 *
 * All changes happen in a write transaction (struct brk_store_txn) that the
 * matcher commits only after the Kafka transaction holding the same batch's
 * outputs committed, and aborts with it: LMDB rolls back for free.
 * Borrowed values (poc bytes) are valid until the transaction ends.
 * One writer at a time (LMDB's rule); the matcher thread is it.
 */
#ifndef BRK_STORE_H
#define BRK_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "deconf/limits.h"

#define BRK_TOKEN_LEN DECONF_TOKEN_LEN
#define BRK_CASE_MAX DECONF_CASE_REF_MAX
#define BRK_PAIR_ID_LEN 16

struct brk_store;
struct brk_store_txn;

/* One stored entry: (token, epoch, agency, case) and its fields. */
struct brk_entry {
	uint8_t token[BRK_TOKEN_LEN];
	uint32_t epoch;
	char agency[DECONF_AGENCY_ID_MAX + 1]; /* NUL-terminated agency id */
	uint8_t case_ref[BRK_CASE_MAX];
	size_t case_len;
	int type;                   /* IndicatorType */
	int visibility;             /* Visibility (0 treated as NORMAL) */
	int warned;                 /* an expiry warning was sent */
	uint32_t flags;             /* CautionFlag bits */
	int64_t added_at, expires_at, valid_from, valid_to;
	/* an event's cell (type EVENT_CELL): its CellRole and S2 level, and the
	 * event's EventKind; 0 for every other type */
	int cell_role;
	uint32_t cell_level;
	int event_kind;
	/* When housekeeping must next look at the entry (warn or expire), ms;
	 * 0: never. Indexed by its minute: read back, the minute's start. */
	int64_t due_at;
};

/* A partition's checkpoint: where its changelog was when the state was
 * last committed, and its audit chain's head. */
struct brk_ckpt {
	int64_t changelog_next;     /* restore from this changelog offset */
	uint64_t audit_seq;
	uint8_t audit_hash[32];
	int64_t saved_at;           /* wall clock, ms */
};

/* Open (creating) the environment in dir with a map of map_size bytes. */
int brk_store_open(struct brk_store **out, const char *dir, size_t map_size, char *errstr,
		   size_t errstr_size);
void brk_store_close(struct brk_store *s);

/* A write transaction (rdonly = 0) or a snapshot to read (rdonly = 1). */
int brk_store_begin(struct brk_store *s, int rdonly, struct brk_store_txn **out);
int brk_store_commit(struct brk_store_txn *t);
void brk_store_abort(struct brk_store_txn *t); /* NULL-safe */

/* Entries, named by token, epoch, agency and case. get: 0 or
 * DECONF_E_UNKNOWN. put: *created set to 1 when new (the case's count is
 * kept; poc may be NULL to keep the case's); the indexes follow. del: 0,
 * or DECONF_E_UNKNOWN when there was none. */
int brk_store_entry_get(struct brk_store_txn *t, int partition, struct brk_entry *e);
int brk_store_entry_put(struct brk_store_txn *t, int partition, const struct brk_entry *e,
			const void *poc, size_t poc_len, int *created);
int brk_store_entry_del(struct brk_store_txn *t, int partition, const struct brk_entry *e);

/* The walks below call fn with a copy of each entry; fn must not change
 * the store, and a non-zero return stops the walk and is returned (so a
 * caller collects what it needs, then acts). */
typedef int(brk_entry_fn)(void *opaque, const struct brk_entry *e);

/* Every entry of (token, epoch) in the partition. */
int brk_store_entries_of(struct brk_store_txn *t, int partition, const uint8_t *token,
			 uint32_t epoch, brk_entry_fn *fn, void *opaque);
/* Every entry of one case in the partition (none: 0, fn never called). */
int brk_store_case_entries(struct brk_store_txn *t, int partition, const char *agency,
			   const uint8_t *case_ref, size_t case_len, brk_entry_fn *fn,
			   void *opaque);
/* Entries due in a minute up to until's (so some may be due later within
 * that minute: the caller checks), oldest first within each epoch, epochs
 * ascending. */
int brk_store_due(struct brk_store_txn *t, int partition, int64_t until, brk_entry_fn *fn,
		  void *opaque);
/* Every entry of one key epoch in the partition. */
int brk_store_epoch_entries(struct brk_store_txn *t, int partition, uint32_t epoch,
			    brk_entry_fn *fn, void *opaque);
/* The key epochs that have entries in the partition, ascending (at most
 * max written to out; *n is how many there are). */
int brk_store_epochs(struct brk_store_txn *t, int partition, uint32_t *out, size_t max,
		     size_t *n);
/* Every entry of the partition (tests and tools only: a full walk). */
int brk_store_entries_all(struct brk_store_txn *t, int partition, brk_entry_fn *fn,
			  void *opaque);

/* The case's point of contact (serialized PointOfContact, borrowed). 0 or
 * DECONF_E_UNKNOWN. */
int brk_store_case_poc(struct brk_store_txn *t, int partition, const char *agency,
		       const uint8_t *case_ref, size_t case_len, const void **poc,
		       size_t *poc_len);

/* Notified pairs and hot tokens. has: 1 or 0. */
int brk_store_pair_has(struct brk_store_txn *t, int partition, const uint8_t id[16]);
int brk_store_pair_put(struct brk_store_txn *t, int partition, const uint8_t id[16],
		       int64_t at);
int brk_store_pair_del(struct brk_store_txn *t, int partition, const uint8_t id[16]);
int brk_store_hot_has(struct brk_store_txn *t, int partition, const uint8_t *token,
		      uint32_t epoch);
int brk_store_hot_set(struct brk_store_txn *t, int partition, const uint8_t *token,
		      uint32_t epoch, int hot);

/* A conflict's lifecycle, one record per notified side, by the notice id
 * that side received: the serialized ConflictLife (get: borrowed until the
 * transaction ends; 0 or DECONF_E_UNKNOWN). */
int brk_store_life_get(struct brk_store_txn *t, int partition, const uint8_t id[16],
		       const void **val, size_t *len);
int brk_store_life_put(struct brk_store_txn *t, int partition, const uint8_t id[16],
		       const void *val, size_t len);
int brk_store_life_del(struct brk_store_txn *t, int partition, const uint8_t id[16]);

/* The escalation index: sides due to escalate at `at` (on 1: add, 0:
 * remove), and sides escalated and not yet acknowledged (open). */
int brk_store_esc_due_set(struct brk_store_txn *t, int partition, const uint8_t id[16],
			  int64_t at, int on);
int brk_store_esc_open_set(struct brk_store_txn *t, int partition, const uint8_t id[16],
			   int64_t at, int on);
/* At most max notice ids due at or before until, oldest first, into ids
 * and their due times into ats (*n of them); *next: the due time of the
 * first one left (0: none). Costs what is due, never a walk of the
 * partition. */
int brk_store_esc_due(struct brk_store_txn *t, int partition, int64_t until, size_t max,
		      uint8_t (*ids)[16], int64_t *ats, size_t *n, int64_t *next);
/* At most max open escalations, the longest open first: notice ids into
 * ids, the times they escalated into ats (*n of them). */
int brk_store_esc_open(struct brk_store_txn *t, int partition, size_t max, uint8_t (*ids)[16],
		       int64_t *ats, size_t *n);
/* How many escalations of the partition are open. */
int brk_store_esc_open_count(struct brk_store_txn *t, int partition, uint64_t *n);

/* The checkpoint: 0, or DECONF_E_UNKNOWN when the partition has none. */
int brk_store_ckpt_get(struct brk_store_txn *t, int partition, struct brk_ckpt *c);
int brk_store_ckpt_put(struct brk_store_txn *t, int partition, const struct brk_ckpt *c);

/* Delete everything of the partition (before a rebuild). */
int brk_store_wipe(struct brk_store_txn *t, int partition);

/* Whether the store can grow by `bytes` now: writes and commits that much,
 * then takes it back. 0, or ENOSPC (the disk or the map is full) or another
 * error. */
int brk_store_probe(struct brk_store *s, size_t bytes);

/* Entries stored (all partitions) and the bytes of the store's file in use
 * (every page but LMDB's free ones). */
int brk_store_stats(struct brk_store *s, uint64_t *entries, uint64_t *bytes);

#endif
