/*
 * submit.h — from cases to signed submissions on the agency's submit topic.
 *
 * The path of every publishing command (submit, withdraw, close, query,
 * resubmit):
 *
 *  1. each indicator is normalized and tokenized under the current key
 *     epoch; a value that does not normalize is an error on its line, and
 *     its case is withheld (no partial cases) unless skip_invalid is set;
 *  2. the cases are compared with the ledger: only what changed becomes an
 *     op (re-running the same file publishes nothing new);
 *  3. ops are packed into Submissions of at most submit.max_batch_bytes,
 *     each signed once with the agency's key, and written to the ledger's
 *     outbox together with the entries they change, in one transaction;
 *  4. the outbox is produced (idempotent producer, acks=all) and only a
 *     delivery report marks an entry sent (SENT) and moves its outbox
 *     record to the ledger's submissions waiting for a receipt, with the
 *     partition and offset Kafka stored it at. Records left in the outbox
 *     by a crash are sent again, verbatim, by the next publishing command;
 *     the broker drops a submission id it has already seen, so nothing is
 *     lost or applied twice;
 *  5. unless no_wait, the command then waits up to submit.confirm_timeout
 *     for the broker's receipts of what it sent (confirm.h, receipts.h):
 *     accepted entries are CONFIRMED, refused ones REFUSED with the reason;
 *     what has no receipt by then stays unconfirmed (SENT), and its receipt
 *     is taken by whichever later command reads receipts.
 *
 * Before it plans anything, every publishing command (and the daemon's
 * rounds) also reads the receipts that arrived for earlier submissions,
 * and sends again the entries of refused submissions whose reason has gone
 * away, as receipts.h's rules say (--retry-refused: whatever the reason);
 * what stays refused is reported every time. This module builds and
 * publishes; what happens after Kafka's delivery report (receipts, refused
 * entries, an acknowledgment's outcome) is confirm.h's.
 *
 * Kafka unreachable: delivery fails after submit.timeout, the command fails,
 * and nothing is marked sent (the outbox keeps it for the next run).
 */
#ifndef ADP_SUBMIT_H
#define ADP_SUBMIT_H

#include <stdint.h>
#include <stdio.h>

#include "agency.h"
#include "input.h"
#include "receipts.h"

struct adp_submit_opts {
	int skip_invalid; /* publish the valid rest of a case with bad rows */
	int dry_run;      /* check: validate, tokenize, diff; publish nothing */
	int progress;     /* draw a progress bar on stderr (callers: only on a TTY) */
	const char *source; /* file name for error lines ("-" for stdin) */
	FILE *report;     /* errors, refusals and what stays refused go here
			     (stderr if NULL) */
	int no_wait;      /* do not wait for receipts of what is sent */
	int accept_loss;  /* receipts deleted unread: record and go on (inbox.h) */
	int retry_refused; /* send refused entries again whatever the reason */
	/* Every receipt decided while the command runs (this run's and
	 * earlier submissions'), e.g. for the daemon's outbox and webhook;
	 * and each submission of this run still unconfirmed at the end. */
	adp_receipt_cb *on_receipt;
	void (*on_unconfirmed)(void *opaque, const uint8_t id[ADP_SUBMISSION_ID_LEN]);
	void *opaque;
	int queue_webhook; /* queue every receipt for the webhook too */
};

struct adp_submit_stats {
	uint64_t cases, cases_withheld;
	uint64_t indicators, invalid;       /* read; refused (input or normalization) */
	uint64_t ops, unchanged;            /* token ops planned; skipped as unchanged */
	uint64_t submissions, bytes;        /* signed submissions produced, their bytes */
	uint64_t delivered, resent;         /* confirmed by Kafka; sent again from outbox */
	/* what the federation answered for the submissions of this run */
	uint64_t accepted, refused, unconfirmed;
	uint64_t awaited;                   /* submissions of this run (receipts due) */
	int waited;                         /* receipts were waited for */
	uint64_t refused_resent;            /* refused entries sent again */
	uint64_t held_entries, held_cases;  /* refused earlier and still refused */
	uint64_t receipts_refused;          /* receipt records refused (not the
					       broker's, not for us) */
};

/*
 * Plan, record and publish the cases of in (see the steps above). Opens the
 * keys, the signing key, the ledger and (unless dry_run) a producer and a
 * receipts reader as needed. Returns 0 when everything planned was
 * delivered and no input was refused; DECONF_E_MALFORMED when input was
 * refused (the rest was still handled as described); DECONF_E_KAFKA /
 * DECONF_E_TIMEOUT when delivery failed, or receipts were lost (errstr
 * names them); other errors with errstr. What the federation answered is
 * in st (accepted, refused, unconfirmed, held_entries): adp_submit_clean()
 * says whether all of it is done.
 */
int adp_submit_input(struct adp_agency *a, const struct adp_input *in,
		     const struct adp_submit_opts *o, struct adp_submit_stats *st,
		     char *errstr, size_t errstr_size);

/* The same for cases built in memory (withdraw, close). */
int adp_submit_cases(struct adp_agency *a, const struct adp_case *cases, size_t n,
		     const struct adp_submit_opts *o, struct adp_submit_stats *st,
		     char *errstr, size_t errstr_size);

/*
 * Acknowledge notice notice_id (stored in the ledger, of kind CONFLICT or
 * RESTRICTED_MATCH) with outcome (Outcome): one signed Submission holding
 * the acknowledgment and the notice as received, through the outbox like
 * any submission, then its receipt is waited for (unless no_wait). The
 * ledger's acks record says what was sent and what the receipt said. st
 * as for adp_submit_input (accepted, refused, unconfirmed); a refusal is
 * printed to o->report with its reason. DECONF_E_UNKNOWN: no such notice;
 * DECONF_E_INVAL: not a conflict notice (errstr says so).
 */
int adp_submit_ack(struct adp_agency *a, const uint8_t notice_id[DECONF_ID_LEN], int outcome,
		   const struct adp_submit_opts *o, struct adp_submit_stats *st, char *errstr,
		   size_t errstr_size);

/*
 * Re-publish every held entry of an older key epoch under the key file's
 * current epoch (after `deconfctl federation rotate-key`). The old-epoch
 * entries stay until they expire at the broker after the overlap.
 */
int adp_resubmit(struct adp_agency *a, const struct adp_submit_opts *o,
		 struct adp_submit_stats *st, char *errstr, size_t errstr_size);

/*
 * Only catch up: send what the outbox holds (left by an interrupted run),
 * read the receipts that arrived, send again the refused entries whose
 * reason has gone away (the daemon's rounds).
 */
int adp_flush_outbox(struct adp_agency *a, const struct adp_submit_opts *o,
		     struct adp_submit_stats *st, char *errstr, size_t errstr_size);

/* 1 when nothing of a run is refused, unconfirmed or held refused: the
 * federation holds what was sent ("done"). */
int adp_submit_clean(const struct adp_submit_stats *st);

#endif
