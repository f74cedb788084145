/* geocell.cc — libs2 shim: an event's circle to its S2 cells (geocell.h). */

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include <s2/s1angle.h>
#include <s2/s2cap.h>
#include <s2/s2cell_id.h>
#include <s2/s2coords.h>
#include <s2/s2earth.h>
#include <s2/s2latlng.h>
#include <s2/s2metrics.h>
#include <s2/s2region_coverer.h>

extern "C" {
#include "deconf/err.h"
#include "deconf/limits.h" /* its static assertions are C++'s here */
}
#include "geocell.h"

/* The cells themselves (not only how points map to them) are defined in the
 * projection's coordinates: another projection is another grid, so other
 * tokens. Canonical form v1 is the quadratic one, S2's default. */
static_assert(S2_PROJECTION == S2_QUADRATIC_PROJECTION, "canonical form v1 is S2's quadratic grid");
static_assert(S2Earth::RadiusMeters() == ADP_GEOCELL_EARTH_RADIUS_M,
	      "ADP_GEOCELL_EARTH_RADIUS_M must be S2Earth's radius");

namespace {

/* More than any cap of our radii can meet at its own level (geocell.h,
 * ADP_GEOCELL_MAX): min_level takes priority over max_cells anyway, so this
 * only keeps the coverer from ever trying to merge cells. */
const int kCoverMaxCells = 1 << 12;

const char kPrefix[] = "v1:";

bool radius_ok(double r)
{
	/* NaN fails both comparisons */
	return r >= DECONF_EVENT_RADIUS_MIN_M && r <= DECONF_EVENT_RADIUS_MAX_M;
}

/* The finest level whose cells are at least r/2 wide (halving is exact,
 * so a radius of exactly twice a level's min width is of that level). One
 * level finer than "at least r wide": about twice the cells, and two
 * events that share one are rarely much further apart than r1 + r2
 * (docs/event-cells.md). */
int level_of(double radius_m)
{
	return S2::kMinWidth.GetLevelForMinValue(0.5 * radius_m / S2Earth::RadiusMeters());
}

void put(struct adp_geocell *c, S2CellId id, int role)
{
	std::string tok = id.ToToken();

	/* a valid cell id has 1..16 hex digits: this always fits */
	memcpy(c->value, kPrefix, sizeof(kPrefix) - 1);
	memcpy(c->value + sizeof(kPrefix) - 1, tok.data(), tok.size());
	c->len = sizeof(kPrefix) - 1 + tok.size();
	c->value[c->len] = '\0';
	c->level = id.level();
	c->role = role;
}

int cover(double lat, double lon, double radius_m, struct adp_geocell *out, size_t max,
	  size_t *n, char *errstr, size_t errstr_size)
{
	const int level = level_of(radius_m);
	const S2Point centre = S2LatLng::FromDegrees(lat, lon).ToPoint();
	const S2Cap cap(centre, S1Angle::Radians(radius_m / S2Earth::RadiusMeters()));
	S2RegionCoverer::Options opt;
	std::vector<S2CellId> cells, parents;

	/* The radius bounds live in deconf/limits.h, the levels they give
	 * here: if the two ever disagree, refuse rather than cut PARENTs
	 * short (the unit test holds them together). */
	if (level < ADP_GEOCELL_LEVEL_MIN || level > ADP_GEOCELL_LEVEL_MAX)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "radius %.1f m gives level %d, outside %d..%d", radius_m,
				      level, ADP_GEOCELL_LEVEL_MIN, ADP_GEOCELL_LEVEL_MAX);
	opt.set_fixed_level(level);
	opt.set_max_cells(kCoverMaxCells);
	S2RegionCoverer coverer(opt);
	coverer.GetCovering(cap, &cells);
	/* The matching argument needs every point of the circle covered at
	 * exactly this level; check what the library gave rather than trust
	 * its options. */
	if (cells.empty())
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "the grid library returned no cells for this event");
	for (S2CellId id : cells)
		if (!id.is_valid() || id.level() != level)
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "the grid library returned a cell of level %d "
					      "for an event of level %d",
					      id.is_valid() ? id.level() : -1, level);
	std::sort(cells.begin(), cells.end());
	cells.erase(std::unique(cells.begin(), cells.end()), cells.end());

	/* Ancestors of sorted cells at one level are sorted (an ancestor's id
	 * range contains its descendants'), so adjacent duplicates are all. */
	parents.reserve(cells.size() * (size_t)(level - ADP_GEOCELL_LEVEL_MIN));
	for (int l = level - 1; l >= ADP_GEOCELL_LEVEL_MIN; l--) {
		size_t start = parents.size();
		for (S2CellId id : cells) {
			S2CellId p = id.parent(l);
			if (parents.size() == start || parents.back() != p)
				parents.push_back(p);
		}
	}

	const size_t total = cells.size() + parents.size();
	*n = total;
	if (total > max)
		return deconf_err_set(errstr, errstr_size, DECONF_E_TOOBIG,
				      "the event has %zu cells, room was given for %zu", total, max);
	size_t k = 0;
	for (S2CellId id : cells)
		put(&out[k++], id, ADP_GEOCELL_COVER);
	for (S2CellId id : parents)
		put(&out[k++], id, ADP_GEOCELL_PARENT);
	return DECONF_OK;
}

} // namespace

extern "C" int adp_geocell_level(double radius_m)
{
	if (!radius_ok(radius_m))
		return DECONF_E_INVAL;
	return level_of(radius_m);
}

extern "C" int adp_geocell_cover(double lat, double lon, double radius_m,
				 struct adp_geocell *out, size_t max, size_t *n, char *errstr,
				 size_t errstr_size)
{
	if (n)
		*n = 0;
	if (!n || (!out && max))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "no place given for the cells");
	if (!std::isfinite(lat) || !std::isfinite(lon))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "the latitude or longitude is not a number");
	if (lat < -90.0 || lat > 90.0)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "latitude %.6f is outside -90..90 degrees", lat);
	if (lon < -180.0 || lon > 180.0)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "longitude %.6f is outside -180..180 degrees", lon);
	if (!radius_ok(radius_m))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      std::isfinite(radius_m)
					      ? "radius %.1f m is outside %.0f..%.0f m"
					      : "radius %f is not a number of metres (%.0f..%.0f m)",
				      radius_m, (double)DECONF_EVENT_RADIUS_MIN_M,
				      (double)DECONF_EVENT_RADIUS_MAX_M);
	try {
		return cover(lat, lon, radius_m, out, max, n, errstr, errstr_size);
	} catch (const std::bad_alloc &) {
		return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
	} catch (...) {
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "the grid library failed on this event");
	}
}

extern "C" int adp_geocell_size_m(int level, double *min_width_m, double *max_diag_m)
{
	if (level < 0 || level > S2CellId::kMaxLevel)
		return DECONF_E_INVAL;
	if (min_width_m)
		*min_width_m = S2::kMinWidth.GetValue(level) * S2Earth::RadiusMeters();
	if (max_diag_m)
		*max_diag_m = S2::kMaxDiag.GetValue(level) * S2Earth::RadiusMeters();
	return DECONF_OK;
}

extern "C" double adp_geocell_band_m(int level)
{
	double width, diag;

	if (level < ADP_GEOCELL_LEVEL_MIN || level > ADP_GEOCELL_LEVEL_MAX ||
	    adp_geocell_size_m(level, &width, &diag))
		return -1.0;
	/* a radius of this level or finer is at most twice the level's min
	 * width (level_of), and never more than the largest radius */
	return 2.0 * std::min(2.0 * width, (double)DECONF_EVENT_RADIUS_MAX_M) + diag;
}
