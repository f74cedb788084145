/*
 * nfilter.h — which stored notices to show: the filters `notices` and the
 * console share, and what "new" means.
 *
 * A filter keeps a notice when every criterion given holds: the agency's
 * own case ref is exactly case_ref; the kind is kind; the counterpart
 * carries at least one of the caution flags; the broker made the notice
 * (created_at) within [since, until].
 *
 * "New" (notices --new): a notice no earlier `notices` listing printed.
 * Every listing records in the ledger each notice it printed (a meta
 * record "shown.<notice id in hex>" holding when), whatever its filters;
 * the console does not record anything (it only reads the ledger).
 */
#ifndef ADP_NFILTER_H
#define ADP_NFILTER_H

#include <stddef.h>
#include <stdint.h>

#include "deconf.pb-c.h"
#include "ledger.h"

struct adp_nfilter {
	const char *case_ref; /* NULL or "": any */
	int kind;             /* NoticeKind; 0: any */
	uint32_t caution;     /* CautionFlag bits; 0: any */
	int64_t since, until; /* ms, inclusive; 0: open */
};

/* 1 when n passes f, else 0. */
int adp_nfilter_match(const struct adp_nfilter *f, const Deconf__V1__ConflictNotice *n);

/*
 * A date or time as --since/--until and the console's date fields take it
 * (when.h: RFC 3339, YYYY-MM-DD, Unix seconds). A bare date given as an
 * end (end = 1) stands for the whole day: its last millisecond. Returns 0,
 * or DECONF_E_INVAL with the reason in errstr.
 */
int adp_nfilter_date(const char *s, int end, int64_t *ms, char *errstr, size_t errstr_size);

/* A kind or caution name (deconf/enum.h: "conflict", "query_hit";
 * "armed", "active_operation") to its value; 0 when unknown. */
int adp_nfilter_kind(const char *name);
uint32_t adp_nfilter_caution(const char *name);

/* 1 when a listing printed notice id before (in t), else 0. */
int adp_nfilter_shown(struct adp_ledger_txn *t, const uint8_t *id, size_t len);
/* Record that notice id was printed at ms (t must be a write transaction). */
int adp_nfilter_mark_shown(struct adp_ledger_txn *t, const uint8_t *id, size_t len, int64_t ms);

#endif
