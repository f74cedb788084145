/*
 * when.h — times as the input formats accept them.
 *
 * RFC 3339 with a zone ("2026-11-01T12:00:00Z",
 * "2026-11-01T14:00:00.250+02:00"), a date ("2026-11-01", midnight UTC) or
 * Unix seconds ("1793534400"); surrounding spaces ignored. Fractions of a
 * second beyond milliseconds are truncated. Times before 1970 and after
 * year 9999 are refused, so a value in milliseconds given where seconds are
 * expected is caught rather than read as a date far in the future.
 */
#ifndef ADP_WHEN_H
#define ADP_WHEN_H

#include <stddef.h>
#include <stdint.h>

/* The last second accepted: 9999-12-31T23:59:59Z. */
#define ADP_WHEN_MAX_SECONDS INT64_C(253402300799)

/*
 * Parse s (len bytes, need not be NUL-terminated). Stores ms since the
 * epoch in *ms and returns 0, or returns DECONF_E_INVAL and puts the reason
 * (e.g. "month 13 out of range") in why (why_size may be 0).
 */
int adp_when_parse(const char *s, size_t len, int64_t *ms, char *why, size_t why_size);

#endif
