/*
 * event.h — the adapter's side of event deconfliction: what an event's
 * cells look like as indicators of its case.
 *
 * An event (an operation planned at a place and time) is a case whose
 * indicators are the S2 cells covering its circle (geocell.h), each an
 * indicator of type EVENT_CELL whose value is the cell's canonical value
 * ("v1:" + S2 token) and whose qualifier says its role and level
 * ("cover:14", "parent:12"): the qualifier travels with the entry through
 * the ledger, so a resend or a resubmit under a new key epoch rebuilds the
 * same token ref. The role is not hashed: a cell has one token whatever
 * side holds it how. The coordinates never leave the agency, nor do the
 * cell values: only their tokens, roles and levels do.
 */
#ifndef ADP_EVENT_H
#define ADP_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "cases.h"

#define ADP_EVENT_QUAL_MAX 16 /* "parent:30" + NUL, with room */

/* The qualifier of a cell of role (CellRole) and level into buf: 0, or
 * DECONF_E_INVAL for a role or level no cell has. */
int adp_event_qualifier(int role, uint32_t level, char *buf, size_t size);

/* The role (CellRole) and level a qualifier says: 0, or DECONF_E_INVAL. */
int adp_event_qualifier_parse(const char *q, int *role, uint32_t *level);

/* 1 when v (len bytes) is a canonical cell value, v1: "v1:" and 1 to 16
 * lower-case hex digits, the last not 0 (S2CellId::ToToken). */
int adp_event_cell_value_ok(const char *v, size_t len);

/*
 * An event's row (type "event") of case ci: its place (lat, lon, radius_m:
 * default DECONF_EVENT_RADIUS_DEFAULT_M) and window (valid_from, valid_to:
 * required, at most DECONF_EVENT_WINDOW_MAX_MS) become the case's cells
 * (geocell.h), each an EVENT_CELL indicator with the window. value, the
 * street address if given, is checked and dropped: nothing of the place is
 * kept but its cells. One event row per case; every problem is an error of
 * line, prefixed by where.
 */
void adp_event_add(struct adp_cases *cs, size_t ci, unsigned line, const char *where,
		   const struct adp_raw_indicator *r);

/* The EventKind of a name ("search_warrant", "undercover_meet", any ASCII
 * case), or 0. */
int adp_event_kind_parse(const char *s, size_t len);

#endif
