/*
 * csvread.h — the CSV reader: one row per indicator, columns named by a
 * header row (adapters/INPUT.md), fed in pieces of any size.
 *
 * Records go through libcsv; each one becomes case fields and an indicator
 * of the case model (cases.h), which holds every rule and every result.
 * Line numbers: libcsv reports fields and records but no positions, so the
 * input is given to it one physical line at a time and only '\n' ends a
 * record ('\r' is blank, so CRLF works and a CR inside a quoted field is
 * kept). A record's line is the first non-blank line after the previous
 * record. A header that cannot be trusted (unknown, missing or repeated
 * columns) stops the reading: columns could be misread.
 */
#ifndef ADP_CSVREAD_H
#define ADP_CSVREAD_H

#include <stddef.h>

struct adp_cases;
struct adp_csvread;

/* A reader that fills cs (borrowed: it must outlive the reader). Returns 0
 * or DECONF_E_NOMEM; free *out with adp_csvread_free. */
int adp_csvread_new(struct adp_csvread **out, struct adp_cases *cs);

/* The next piece of the input (split anywhere). Returns 0 or cs->fatal
 * (DECONF_E_NOMEM); bad input is an error in cs, never a return code. */
int adp_csvread_feed(struct adp_csvread *st, const unsigned char *p, size_t len);

/* The end of the input: a last record without '\n', an unterminated quote,
 * an empty file; then the checks that need every row (adp_cases_check_blank). */
void adp_csvread_finish(struct adp_csvread *st);

/* NULL-safe. */
void adp_csvread_free(struct adp_csvread *st);

#endif
