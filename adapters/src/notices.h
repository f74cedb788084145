/*
 * notices.h — conflict notices back to the agency's own cases.
 *
 * The agency's notices topic (deconf.notices.<agency>) is read by the
 * inbox (inbox.h): offsets kept in the ledger with the notices they cover,
 * every record checked against the broker's key
 * (agency.broker_public_key) and refused, counted and logged, never shown,
 * when it does not verify; records deleted unread stop the reader unless
 * the loss is accepted. A notice id already stored is a duplicate and
 * dropped.
 *
 * A stored notice is shown next to what only the agency knows: its own
 * case and the raw indicator value behind the token, from the ledger.
 */
#ifndef ADP_NOTICES_H
#define ADP_NOTICES_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "agency.h"
#include "deconf.pb-c.h"
#include "inbox.h"

/*
 * Called for each new notice (already stored). value/value_len: the raw
 * value from the ledger, NULL when the ledger no longer holds the entry.
 */
typedef void(adp_notice_cb)(void *opaque, const Deconf__V1__ConflictNotice *n,
			    const char *value, size_t value_len);

/* What to do with each new notice. */
struct adp_notices_ctx {
	adp_notice_cb *cb;      /* each new notice, inside its ledger transaction */
	void *opaque;
	int queue_webhook;      /* also queue each new notice for the webhook */
};

/*
 * The notices kind for adp_inbox_read() (inbox.h): a notice id already
 * stored is a duplicate; a lost notice always matters. ctx must outlive k.
 */
void adp_notices_kind_init(struct adp_inbox_kind *k, struct adp_notices_ctx *ctx);

struct adp_notices_opts {
	int follow;             /* keep reading until *stop */
	volatile int *stop;
	adp_notice_cb *cb;      /* each new notice, inside its ledger transaction */
	void *opaque;
	int queue_webhook;      /* also queue each new notice for the webhook */
	int accept_loss;        /* notices deleted unread: record and go on */
};

/*
 * Fetch new notices into the ledger (the notices topic alone). Without
 * follow, returns once the topic's end (as of the call) is reached.
 * Returns 0 or an error with errstr; *st says what was read.
 */
int adp_notices_fetch(struct adp_agency *a, const struct adp_notices_opts *o,
		      struct adp_inbox_stats *st, char *errstr, size_t errstr_size);

/* Call cb for every stored notice, oldest first. */
int adp_notices_list(struct adp_agency *a, adp_notice_cb *cb, void *opaque, char *errstr,
		     size_t errstr_size);
/* The same; with unacked, only the notices this agency could acknowledge
 * (adp_notice_acknowledgeable) and has no accepted acknowledgment of in the
 * ledger. */
int adp_notices_list_ex(struct adp_agency *a, int unacked, adp_notice_cb *cb, void *opaque,
			char *errstr, size_t errstr_size);
/* 1 for a notice an agency acknowledges (CONFLICT, RESTRICTED_MATCH). */
int adp_notice_acknowledgeable(const Deconf__V1__ConflictNotice *n);

/*
 * The same in the caller's ledger transaction t (read-only or not; cb must
 * not write through t), oldest first, or newest first when newest_first;
 * unacked: only the conflicts this agency could acknowledge and has not.
 * value is borrowed from t, valid until cb returns.
 */
int adp_notices_list_in(struct adp_ledger_txn *t, int newest_first, int unacked,
			adp_notice_cb *cb, void *opaque);

/* 1 when n is an event conflict (CONFLICT or RESTRICTED_MATCH of type
 * EVENT_CELL): two operations at one place and time, shown as events, not
 * as a cell. */
int adp_notice_is_event(const Deconf__V1__ConflictNotice *n);

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
 *   Its "record" member is "notice" (the daemon's outbox file and webhook
 *   also carry receipts, "record": "receipt").
 *   Returns a malloc'ed string (no newline), NULL only when out of memory
 *   (never a partial object).
 * - adp_notice_print_json(): adp_notice_json() and a newline.
 * An event conflict is shown as the two events (kinds, their window, the
 * distance band, urgent), never as the cell that matched.
 */
void adp_notice_print(FILE *out, const Deconf__V1__ConflictNotice *n, const char *value,
		      size_t value_len);
void adp_notice_print_json(FILE *out, const Deconf__V1__ConflictNotice *n,
			   const char *value, size_t value_len);
char *adp_notice_json(const Deconf__V1__ConflictNotice *n, const char *value,
		      size_t value_len);

/*
 * The JSON rules above, for the adapter's other JSON outputs (receipts,
 * status): adp_json_text() is s[0..len) as a JSON string, made valid UTF-8
 * first (NULL only when out of memory); adp_json_dumps() is o on one line,
 * ASCII only, DEL escaped too (malloc'ed; NULL when out of memory).
 */
json_t *adp_json_text(const void *s, size_t len);
char *adp_json_dumps(const json_t *o);

#endif
