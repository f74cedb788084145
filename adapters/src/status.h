/*
 * status.h — what the federation holds for each case, from the ledger alone.
 *
 * `deconf-adapter status` answers "is my case registered?" without Kafka:
 * per case, its entries (indicators) by what the ledger knows of them —
 *
 *   confirmed  the broker's receipt said accepted: the federation holds it
 *   pending    delivered to Kafka, no receipt yet (includes entries of
 *              ledgers from before receipts, until a receipt or resubmit)
 *   queued     in the outbox, not yet delivered to Kafka
 *   removing   a withdrawal or close sent, not yet confirmed
 *   refused    the broker refused its ADD/RENEW, with the reason, the
 *              broker's detail and what happens next (receipts.h)
 *   removal refused  the broker refused its withdrawal/close: the
 *              federation may still hold it
 *
 * — and a total, with the submissions still waiting for a receipt and any
 * records of the notices or receipts topics that were lost and accepted
 * (inbox.h). Entries asked by `query` are not registered and not counted.
 * Case refs and details are shown escaped (terminal) or made valid UTF-8
 * (JSON), like every adapter output.
 */
#ifndef ADP_STATUS_H
#define ADP_STATUS_H

#include <stdint.h>
#include <stdio.h>

#include "agency.h"

/* One group of refused entries of a case: same submission, same reason. */
struct adp_status_refusal {
	uint8_t submission_id[ADP_SUBMISSION_ID_LEN];
	int reason;
	int removal;           /* a refused withdrawal/close */
	uint64_t entries;
	int64_t decided_at;
	int32_t op_index;      /* -1 when none or unknown */
	char detail[ADP_SUB_DETAIL_MAX + 1]; /* the broker's, "" when unknown */
};

struct adp_case_status {
	const char *case_ref;
	uint64_t confirmed, pending, queued, removing, refused, remove_refused;
	const struct adp_status_refusal *refusals;
	size_t n_refusals;
};

struct adp_status_totals {
	uint64_t cases, confirmed, pending, queued, removing, refused, remove_refused;
	uint64_t subs_waiting, subs_refused; /* submissions in the ledger */
	int64_t notices_lost, receipts_lost; /* accepted losses (inbox.h) */
};

typedef void(adp_case_status_fn)(void *opaque, const struct adp_case_status *cs);

/*
 * Call fn for each case of the ledger (cases[0..n_cases): only those; a
 * case the ledger does not hold is given with all counts 0), in case ref
 * order, and fill *tot. Opens the ledger only. Returns 0 or an error with
 * errstr.
 */
int adp_status_walk(struct adp_agency *a, const char *const *cases, size_t n_cases,
		    adp_case_status_fn *fn, void *opaque, struct adp_status_totals *tot,
		    char *errstr, size_t errstr_size);

/* Plain words for a terminal (escaped). */
void adp_status_print(FILE *out, const struct adp_case_status *cs);
void adp_status_print_totals(FILE *out, const struct adp_status_totals *tot);
/* One JSON line each ("record": "case" / "totals"), with a newline. */
void adp_status_print_json(FILE *out, const struct adp_case_status *cs);
void adp_status_print_totals_json(FILE *out, const struct adp_status_totals *tot);

#endif
