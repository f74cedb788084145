/*
 * confirm.h — what becomes of submissions once they are published.
 *
 * submit.c builds, signs and publishes submissions (submit.h); this module
 * takes over where Kafka's delivery report ends, for one publishing command
 * (submit, withdraw, close, query, resubmit, ack, the daemon's rounds):
 *
 *  - it remembers the submissions the command produced
 *    (adp_confirm_expect) and, unless no_wait, waits up to
 *    submit.confirm_timeout for the broker's receipts of them
 *    (adp_confirm_wait); what has none by then stays unconfirmed (SENT), or,
 *    when the directory shows the broker cannot answer (the agency is not
 *    in it), is recorded as refused (unknown_agency, "inferred");
 *  - before the command plans anything, it reads the receipts that arrived
 *    for earlier submissions (adp_confirm_read);
 *  - it goes through the refused submissions the ledger keeps, and by
 *    receipts.h's rules (--retry-refused: whatever the reason) sends again
 *    what may go — into submit.c's batch, through struct adp_confirm_batch —
 *    and counts what stays refused, said at the end (adp_confirm_report_held);
 *  - it records in the ledger what the receipt of an acknowledgment said
 *    (adp_confirm_ack_decided).
 *
 * Every receipt decided while the command runs goes to the command's
 * on_receipt callback (submit.h) and is counted in its stats (accepted,
 * refused, unconfirmed, held_*, receipts_refused); refusals are printed to
 * its report. A lost receipt (the receipts topic moved past what the ledger
 * read, without accept_loss) stops the command; any other failure to read
 * receipts only leaves what waits unconfirmed, and says so in the report.
 *
 * No Kafka producer here: receipts are read through the inbox (inbox.h),
 * their decisions made by receipts.c. None of these functions may be called
 * while a ledger write transaction is open, except through the batch's
 * (adp_confirm_resend_refused).
 */
#ifndef ADP_CONFIRM_H
#define ADP_CONFIRM_H

#include <stdint.h>
#include <stdio.h>

#include "agency.h"
#include "deconf.pb-c.h"
#include "ledger.h"
#include "submit.h"

struct adp_confirm;

/*
 * A confirm for one command run by a, with its options o and stats st;
 * report is where refusals and what stays refused are printed; errors are
 * described in errstr. a, o, st, report and errstr are borrowed: they must
 * outlive *out. Returns 0 or DECONF_E_NOMEM; free with adp_confirm_free().
 */
int adp_confirm_new(struct adp_confirm **out, struct adp_agency *a,
		    const struct adp_submit_opts *o, struct adp_submit_stats *st, FILE *report,
		    char *errstr, size_t errstr_size);
void adp_confirm_free(struct adp_confirm *c); /* NULL-safe */

/*
 * Receipts need the broker's key (agency.broker_public_key) to be checked.
 * Returns 0 when it is set; when it is not, 0 with *skip = 1 under no_wait
 * (nothing is waited for; logged), DECONF_E_CONFIG with errstr otherwise.
 */
int adp_confirm_need_broker_key(struct adp_confirm *c, int *skip);

/* The command produced submission id: wait for its receipt (once, however
 * often it is sent). Returns 0 or DECONF_E_NOMEM. */
int adp_confirm_expect(struct adp_confirm *c, const uint8_t id[ADP_SUBMISSION_ID_LEN]);

/* How many submissions the command waits for (adp_confirm_expect), and
 * what the receipt of the i-th said: a RECEIPT_RESULT_*, 0 while none. */
size_t adp_confirm_count(const struct adp_confirm *c);
int adp_confirm_result(const struct adp_confirm *c, size_t i);

/*
 * Read the receipts that arrived for earlier submissions, to the end of the
 * receipts topic (nothing when the ledger waits for none). Returns 0, or an
 * error with errstr when receipts were lost or the key is missing.
 */
int adp_confirm_read(struct adp_confirm *c);

/*
 * The receipts of the command's submissions (adp_confirm_expect), for up to
 * submit.confirm_timeout; nothing under dry_run or no_wait. Counts accepted,
 * refused and unconfirmed in the stats, calls on_unconfirmed for each
 * submission left without a receipt and says so in the report. Returns 0,
 * or an error with errstr.
 */
int adp_confirm_wait(struct adp_confirm *c);

/*
 * The batch refused entries are sent again in: submit.c's, whose write
 * transaction also holds what this module changes in the ledger for them.
 */
struct adp_confirm_batch {
	/* open the batch's write transaction if none is open: 0 or an error */
	int (*begin)(void *opaque);
	/* the batch's open write transaction (another one after the batch
	 * filled up and was published: ask again after each resend_op) */
	struct adp_ledger_txn *(*txn)(void *opaque);
	/* send the n tokens of op again, under the batch's submission id (the
	 * old one is spent), their ledger entries PENDING (REMOVING for a
	 * removal) again; tokens are borrowed for the call. 0 or an error */
	int (*resend_op)(void *opaque, const Deconf__V1__CaseOp *op,
			 const Deconf__V1__TokenRef *const *tokens, size_t n);
	void *opaque;
};

/*
 * The refused submissions in the ledger: what their rule lets go (or all,
 * under retry_refused) is sent again through b, the rest counted as held
 * (adp_confirm_report_held); a submission no entry refers to any more is
 * forgotten. Under replace_old_epoch (resubmit), a refused entry of an
 * older key epoch is deleted instead: the command sends it again under
 * the current epoch. Returns 0, or an error with errstr.
 */
int adp_confirm_resend_refused(struct adp_confirm *c, const struct adp_confirm_batch *b,
			       int replace_old_epoch);

/* What stays refused, per reason, into the report (the user, or the
 * operator, must act). */
void adp_confirm_report_held(struct adp_confirm *c);

/*
 * What the receipt of the acknowledgment of notice_id with outcome said
 * (result: a RECEIPT_RESULT_*, 0 when none came: it stays SENT), into the
 * ledger's acks record. Opens its own write transaction. Returns 0 or an
 * error.
 */
int adp_confirm_ack_decided(struct adp_confirm *c, const uint8_t notice_id[DECONF_ID_LEN],
			    int outcome, int result);

#endif
