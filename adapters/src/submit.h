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
 *     delivery report marks an entry published and clears its outbox
 *     record. Records left in the outbox by a crash are sent again, verbatim,
 *     by the next publishing command; the broker drops a submission id it has
 *     already seen, so nothing is lost or applied twice.
 *
 * Kafka unreachable: delivery fails after submit.timeout, the command fails,
 * and nothing is marked published (the outbox keeps it for the next run).
 */
#ifndef ADP_SUBMIT_H
#define ADP_SUBMIT_H

#include <stdint.h>
#include <stdio.h>

#include "agency.h"
#include "input.h"

struct adp_submit_opts {
	int skip_invalid; /* publish the valid rest of a case with bad rows */
	int dry_run;      /* check: validate, tokenize, diff; publish nothing */
	int progress;     /* draw a progress bar on stderr (callers: only on a TTY) */
	const char *source; /* file name for error lines ("-" for stdin) */
	FILE *report;     /* errors and the summary go here (stderr if NULL) */
};

struct adp_submit_stats {
	uint64_t cases, cases_withheld;
	uint64_t indicators, invalid;       /* read; refused (input or normalization) */
	uint64_t ops, unchanged;            /* token ops planned; skipped as unchanged */
	uint64_t submissions, bytes;        /* signed submissions produced, their bytes */
	uint64_t delivered, resent;         /* confirmed by Kafka; sent again from outbox */
};

/*
 * Plan, record and publish the cases of in (see the steps above). Opens the
 * keys, the signing key, the ledger and (unless dry_run) a producer as
 * needed. Returns 0 when everything planned was delivered and no input was
 * refused; DECONF_E_MALFORMED when input was refused (the rest was still
 * handled as described); DECONF_E_KAFKA / DECONF_E_TIMEOUT when delivery
 * failed; other errors with errstr.
 */
int adp_submit_input(struct adp_agency *a, const struct adp_input *in,
		     const struct adp_submit_opts *o, struct adp_submit_stats *st,
		     char *errstr, size_t errstr_size);

/* The same for cases built in memory (withdraw, close). */
int adp_submit_cases(struct adp_agency *a, const struct adp_case *cases, size_t n,
		     const struct adp_submit_opts *o, struct adp_submit_stats *st,
		     char *errstr, size_t errstr_size);

/*
 * Re-publish every held entry of an older key epoch under the key file's
 * current epoch (after `deconfctl federation rotate-key`). The old-epoch
 * entries stay until they expire at the broker after the overlap.
 */
int adp_resubmit(struct adp_agency *a, const struct adp_submit_opts *o,
		 struct adp_submit_stats *st, char *errstr, size_t errstr_size);

/* Only send what the outbox holds (left by an interrupted run). */
int adp_flush_outbox(struct adp_agency *a, struct adp_submit_stats *st, char *errstr,
		     size_t errstr_size);

#endif
