/*
 * notices.h — conflict notices back to the agency's own cases.
 *
 * Reads the agency's notices topic (deconf.notices.<agency>) by partition
 * assignment, with its offsets kept in the ledger: each notice and the
 * offset after it are stored in one ledger transaction, so a crash neither
 * loses nor repeats one, and no consumer group (hence no group ACL) is
 * needed. Every notice must be signed by the broker's key
 * (agency.broker_public_key); unsigned or badly signed records are refused,
 * counted and logged, never shown. A notice id already stored is a duplicate
 * and dropped.
 *
 * A stored notice is shown next to what only the agency knows: its own
 * case and the raw indicator value behind the token, from the ledger.
 */
#ifndef ADP_NOTICES_H
#define ADP_NOTICES_H

#include <stdint.h>
#include <stdio.h>

#include "agency.h"
#include "deconf.pb-c.h"

struct adp_notice_stats {
	uint64_t received, duplicates, refused;
};

/*
 * Called for each new notice (already stored). value/value_len: the raw
 * value from the ledger, NULL when the ledger no longer holds the entry.
 */
typedef void(adp_notice_cb)(void *opaque, const Deconf__V1__ConflictNotice *n,
			    const char *value, size_t value_len);

struct adp_notices_opts {
	int follow;             /* keep reading until *stop */
	volatile int *stop;
	adp_notice_cb *cb;      /* each new notice, inside its ledger transaction */
	void *opaque;
	/* follow only: called about every idle_ms while following (the run
	 * daemon's spool and webhook work) */
	void (*idle)(void *opaque);
	int idle_ms;
	int queue_webhook;      /* also queue each new notice for the webhook */
};

/*
 * Fetch new notices into the ledger. Without follow, returns once the
 * topic's end (as of the call) is reached. Returns 0 or an error with
 * errstr.
 */
int adp_notices_fetch(struct adp_agency *a, const struct adp_notices_opts *o,
		      struct adp_notice_stats *st, char *errstr, size_t errstr_size);

/* Call cb for every stored notice, oldest first. */
int adp_notices_list(struct adp_agency *a, adp_notice_cb *cb, void *opaque, char *errstr,
		     size_t errstr_size);

/*
 * Showing a notice. Its text was written by other agencies (names, contact,
 * case refs) or read back from the ledger (the agency's own case ref and raw
 * value, from a file that could hold anything), and none of it is trusted:
 *
 * - adp_notice_print(): plain words for a terminal. Every piece of text goes
 *   through deconf_text_for_terminal(): control characters (C0, DEL, C1),
 *   invalid UTF-8 and bidi controls are shown as \xNN or \u{XXXX}, so
 *   nothing in a notice can drive the terminal or reorder the line.
 * - adp_notice_json(): one JSON object, the form of `notices --json`, of
 *   each line of run.outbox_file and of each webhook POST body. Text is
 *   made valid UTF-8 first (deconf_text_utf8_dup(): each invalid byte and
 *   NUL becomes U+FFFD), so no field is ever dropped; the result is ASCII
 *   only, every control, C1 and bidi character written as a \u escape.
 *   Returns a malloc'ed string (no newline), NULL only when out of memory
 *   (never a partial object).
 * - adp_notice_print_json(): adp_notice_json() and a newline.
 */
void adp_notice_print(FILE *out, const Deconf__V1__ConflictNotice *n, const char *value,
		      size_t value_len);
void adp_notice_print_json(FILE *out, const Deconf__V1__ConflictNotice *n,
			   const char *value, size_t value_len);
char *adp_notice_json(const Deconf__V1__ConflictNotice *n, const char *value,
		      size_t value_len);

#endif
