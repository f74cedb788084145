/*
 * jsonlread.h — the JSON Lines reader: one case object per line
 * (adapters/INPUT.md), fed in pieces of any size.
 *
 * Each line is parsed by jansson (duplicate keys refused) and its keys become
 * case fields and indicators of the case model (cases.h). A line longer than
 * ADP_INPUT_LINE_MAX is an error and is never held whole. jansson's excerpt
 * of a bad line is dropped from messages: it is often part of a raw value.
 */
#ifndef ADP_JSONLREAD_H
#define ADP_JSONLREAD_H

#include <stddef.h>

struct adp_cases;
struct adp_jsonlread;

/* A reader that fills cs (borrowed: it must outlive the reader). Returns 0
 * or DECONF_E_NOMEM; free *out with adp_jsonlread_free. */
int adp_jsonlread_new(struct adp_jsonlread **out, struct adp_cases *cs);

/* The next piece of the input (split anywhere). Returns 0 or cs->fatal
 * (DECONF_E_NOMEM); bad input is an error in cs, never a return code. */
int adp_jsonlread_feed(struct adp_jsonlread *st, const unsigned char *p, size_t len);

/* The end of the input (a last line without '\n'); then the checks that
 * need every line (adp_cases_check_blank). */
void adp_jsonlread_finish(struct adp_jsonlread *st);

/* NULL-safe. */
void adp_jsonlread_free(struct adp_jsonlread *st);

#endif
