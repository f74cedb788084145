/*
 * geocell.h — the cells of a hierarchical grid that stand for an event's
 * place, so that two agencies planning operations at the same place can
 * find each other through tokens, without a location leaving either.
 *
 * An event is a circle on the Earth: a centre (WGS84 latitude and longitude
 * in degrees) and a radius in metres. It is turned into a set of Google S2
 * cells (a C API over libs2, a C++ library; geocell.cc), each with a role:
 *
 *   COVER   the cells of the event's own level L that cover the circle
 *           (every point of the circle lies in one of them);
 *   PARENT  the distinct ancestors of the COVER cells at every coarser
 *           level, from L-1 down to the level of the largest radius
 *           (ADP_GEOCELL_LEVEL_MIN).
 *
 * L is the finest level whose cells are at least half as wide as the
 * radius (S2::kMinWidth >= r/2), so a circle's COVER is a few cells
 * (median 8, at most 18 seen) and two events that share a cell are rarely
 * much further apart than their radii (docs/event-cells.md, false
 * matches).
 *
 * The matching rule (applied by the broker on tokens): two events match
 * when they share a cell's value that at least one of them has as COVER;
 * PARENT-PARENT never matches. Two circles that overlap always match: a
 * point P in both lies in exactly one cell per level; if L1 >= L2, P's cell
 * at L2 is in circle 2's COVER and is the level-L2 ancestor of circle 1's
 * COVER cell that holds P (its PARENT, or itself when L1 == L2). The shared
 * cell is at the coarser of the two levels. docs/event-cells.md is the spec
 * (the canonical form v1, the levels, the measured false matches).
 *
 * The canonical value of a cell, v1, is "v1:" followed by the cell's S2
 * token (S2CellId::ToToken(): the 64-bit cell id in lower-case hex with its
 * trailing zero digits removed), e.g. "v1:89c25a3". The level follows from
 * the id; the role is not part of the value (a cell has the same value, so
 * the same token, as COVER on one side and PARENT on the other).
 *
 * Thread safe: no state.
 */
#ifndef ADP_GEOCELL_H
#define ADP_GEOCELL_H

#include <stddef.h>

/* The radii an event may have, DECONF_EVENT_RADIUS_MIN_M..MAX_M (25 and
 * 5000 m, integers): the wire's limits, so the broker and the adapter read
 * the same bounds. Changing either changes the set of levels
 * (ADP_GEOCELL_LEVEL_MIN/MAX), so the cells, so the tokens: it is a change
 * of the canonical form. */
#include "deconf/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The levels those radii give (adp_geocell_level(); the unit test holds
 * these to the library): 5000 m -> 11 (cells at least 2.9 km wide, half
 * of 5.9 km), 25 m -> 18 (at least 23 m wide, half of 46 m).
 */
#define ADP_GEOCELL_LEVEL_MIN DECONF_EVENT_LEVEL_MIN
#define ADP_GEOCELL_LEVEL_MAX DECONF_EVENT_LEVEL_MAX

/* The Earth's radius the grid's metres are measured with (S2Earth's mean
 * radius, checked against libs2 at compile time in geocell.cc). */
#define ADP_GEOCELL_EARTH_RADIUS_M 6371010.0

/* "v1:" + at most 16 hex digits + NUL */
#define ADP_GEOCELL_VALUE_MAX 20

/*
 * Enough room for any event's cells. A COVER cell of level L meets the
 * circle, so it lies within radius + (the cell's largest diagonal) of the
 * centre; the cells of a level do not overlap and each has at least
 * S2::kMinArea, so at most area(that disc) / kMinArea of them fit. In
 * units of 2^-L radians (areas 4^-L), min width 0.943, max diagonal 2.439,
 * min area 1.257: at the event's level r <= 2 * 0.943, so at most
 * pi (1.886 + 2.439)^2 / 1.257 < 47, i.e. 46 cells; at each coarser level
 * r <= 0.943 of that level's units, so at most pi (0.943 + 2.439)^2 / 1.257
 * < 29, i.e. 28 (7 coarser levels at most). 46 + 7 * 28 = 242; the
 * measured maximum is far lower (docs/event-cells.md).
 */
#define ADP_GEOCELL_MAX DECONF_EVENT_CELLS_MAX

enum adp_geocell_role {
	ADP_GEOCELL_COVER = 1,
	ADP_GEOCELL_PARENT = 2,
};

struct adp_geocell {
	char value[ADP_GEOCELL_VALUE_MAX]; /* canonical value v1, NUL-terminated */
	size_t len;                        /* strlen(value) */
	int level;                         /* S2 level, 0 (a cube face) to 30 */
	int role;                          /* enum adp_geocell_role */
};

/*
 * The level of an event of this radius (metres): the finest S2 level whose
 * cells' minimum width is at least half the radius, in
 * ADP_GEOCELL_LEVEL_MIN..ADP_GEOCELL_LEVEL_MAX. Every radius of level L is
 * in (min width of L, 2 * min width of L]. DECONF_E_INVAL if the radius is
 * not a number or outside DECONF_EVENT_RADIUS_MIN_M..MAX_M.
 */
int adp_geocell_level(double radius_m);

/*
 * The cells of an event: centre lat, lon (WGS84 degrees; lat -90..90,
 * lon -180..180, both ends included), radius in metres
 * (DECONF_EVENT_RADIUS_MIN_M..MAX_M). Writes its COVER cells (sorted by
 * cell id) then its PARENT cells (finest level first, each level sorted by
 * cell id) to out[0..*n-1]; there is always at least one COVER cell and one
 * PARENT cell per coarser level down to ADP_GEOCELL_LEVEL_MIN.
 *
 * Returns 0; DECONF_E_INVAL with errstr saying why (not a number, latitude
 * or longitude out of range, radius out of bounds); DECONF_E_TOOBIG if the
 * event has more than max cells (then *n is the number it needs and out is
 * left unspecified: never a truncated set; ADP_GEOCELL_MAX is always
 * enough, and out may be NULL when max is 0, to ask for the count);
 * DECONF_E_NOMEM.
 */
int adp_geocell_cover(double lat, double lon, double radius_m, struct adp_geocell *out,
		      size_t max, size_t *n, char *errstr, size_t errstr_size);

/*
 * The size of the cells of a level, in metres on the Earth: every cell of
 * the level is at least *min_width_m wide in every direction and no two of
 * its points are further apart than *max_diag_m (S2::kMinWidth, kMaxDiag).
 * Either pointer may be NULL. DECONF_E_INVAL if level is not 0..30.
 */
int adp_geocell_size_m(int level, double *min_width_m, double *max_diag_m);

/*
 * The distance band a shared cell of this level implies: an upper bound,
 * in metres, on the distance between the centres of two events that share
 * a cell of this level under the matching rule. The shared cell is at the
 * level of the coarser event, and an event of level L has a radius of at
 * most 2 * (min width of L) (adp_geocell_level()); the other event is of
 * that level or finer, so its radius is at most that too. Both radii are
 * also at most DECONF_EVENT_RADIUS_MAX_M, and both circles meet the cell;
 * hence the bound
 *
 *     2 * min(2 * min width of L, DECONF_EVENT_RADIUS_MAX_M) + max diagonal of L.
 *
 * (The lower end of the band is 0: overlapping events always share a cell.
 * Knowing both events' levels gives a tighter bound: r_a + r_b + max
 * diagonal of the coarser level, each r at most 2 * min width of its own
 * level.) Returns a negative value if level is outside
 * ADP_GEOCELL_LEVEL_MIN..ADP_GEOCELL_LEVEL_MAX (no event has cells there
 * as COVER).
 */
double adp_geocell_band_m(int level);

#ifdef __cplusplus
}
#endif

#endif
