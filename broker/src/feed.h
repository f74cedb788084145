/*
 * feed.h — a compacted broker topic read into memory and followed live:
 * deconf.directory (the agencies) and deconf.ingest.seen (submission ids).
 *
 * A simple consumer reads every partition from its beginning
 * (read_committed) and hands each record (key, value or NULL for a
 * tombstone) to the owner's apply function. brk_feed_sync() reads up to the
 * end as of the call (at start-up, on a partition assignment, when a
 * submission names an agency not known yet); brk_feed_poll() applies what
 * has arrived since, without waiting. Not thread safe: one owner.
 */
#ifndef BRK_FEED_H
#define BRK_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "broker.h"

/* Apply one record; non-zero refuses it (counted and logged with errstr). */
typedef int(brk_feed_fn)(void *opaque, const void *key, size_t key_len, const void *value,
			 size_t value_len, char *errstr, size_t errstr_size);

struct brk_feed;

/* Follow <prefix><name>. */
int brk_feed_open(struct brk_feed **out, struct brk *b, const char *name, brk_feed_fn *fn,
		  void *opaque, char *errstr, size_t errstr_size);
/* Read to the end as of now: 0, DECONF_E_UNKNOWN (no such topic yet), or
 * DECONF_E_TIMEOUT. */
int brk_feed_sync(struct brk_feed *f, int timeout_ms);
void brk_feed_poll(struct brk_feed *f);
void brk_feed_counts(const struct brk_feed *f, uint64_t *applied, uint64_t *refused);
void brk_feed_close(struct brk_feed *f);

#endif
