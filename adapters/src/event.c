/* event.c — an event's cells as indicators (see event.h). */
#include <stdio.h>
#include <string.h>

#include "deconf.pb-c.h"
#include "deconf/enum.h"
#include "deconf/err.h"
#include "deconf/limits.h"
#include "event.h"
#include "geocell.h"

#define COVER DECONF__V1__CELL_ROLE__CELL_ROLE_COVER
#define PARENT DECONF__V1__CELL_ROLE__CELL_ROLE_PARENT

int adp_event_qualifier(int role, uint32_t level, char *buf, size_t size)
{
	int n;

	if ((role != COVER && role != PARENT) || level > 30)
		return DECONF_E_INVAL;
	n = snprintf(buf, size, "%s:%u", role == COVER ? "cover" : "parent", level);
	return n > 0 && (size_t)n < size ? DECONF_OK : DECONF_E_INVAL;
}

int adp_event_qualifier_parse(const char *q, int *role, uint32_t *level)
{
	const char *p;
	uint32_t l = 0;

	if (!q)
		return DECONF_E_INVAL;
	if (!strncmp(q, "cover:", 6)) {
		*role = COVER;
		p = q + 6;
	} else if (!strncmp(q, "parent:", 7)) {
		*role = PARENT;
		p = q + 7;
	} else {
		return DECONF_E_INVAL;
	}
	/* 1 or 2 digits, no sign, no leading zero but "0" */
	if (!p[0] || (p[0] == '0' && p[1]) || strlen(p) > 2)
		return DECONF_E_INVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return DECONF_E_INVAL;
		l = l * 10 + (uint32_t)(*p - '0');
	}
	if (l > 30)
		return DECONF_E_INVAL;
	*level = l;
	return DECONF_OK;
}

int adp_event_cell_value_ok(const char *v, size_t len)
{
	if (len < 4 || len > 3 + 16 || memcmp(v, "v1:", 3) || v[len - 1] == '0')
		return 0;
	for (size_t i = 3; i < len; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
			return 0;
	return 1;
}

int adp_event_kind_parse(const char *s, size_t len)
{
	char name[DECONF_ENUM_NAME_SIZE];

	if (!len || len >= sizeof(name))
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!c)
			return 0;
		name[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
	}
	name[len] = '\0';
	return deconf_enum_value(&deconf__v1__event_kind__descriptor, name);
}

void adp_event_add(struct adp_cases *cs, size_t ci, unsigned line, const char *where,
		   const struct adp_raw_indicator *r)
{
	struct adp_geocell cells[ADP_GEOCELL_MAX];
	char why[256], q[ADP_EVENT_QUAL_MAX];
	double radius = r->has_radius ? r->radius_m : DECONF_EVENT_RADIUS_DEFAULT_M;
	unsigned given = adp_cases_event_line(cs, ci);
	size_t n = 0;
	int ok = !r->place_bad && !r->times_bad && !r->refused && !r->value_bad;

	if (given) {
		adp_cases_error(cs, line, ci, "%san event has one place: line %u gave it already",
				where, given);
		return;
	}
	adp_cases_event_given(cs, ci, line);
	if (r->qual_len) {
		adp_cases_error(cs, line, ci, "%san event takes no qualifier", where);
		ok = 0;
	}
	if (r->value_len > 4096 || (r->value && memchr(r->value, '\0', r->value_len))) {
		adp_cases_error(cs, line, ci, "%san event's value (its address) is not text",
				where);
		ok = 0;
	}
	if (!r->place_bad && (!r->has_lat || !r->has_lon)) {
		adp_cases_error(cs, line, ci,
				"%san event needs lat and lon (WGS84 degrees, as your systems "
				"geocode it)",
				where);
		ok = 0;
	}
	if (r->times_bad) {
		/* reported */
	} else if (!r->valid_from || !r->valid_to) {
		adp_cases_error(cs, line, ci,
				"%san event needs valid_from and valid_to (when the operation "
				"starts and ends)",
				where);
		ok = 0;
	} else if (r->valid_from >= r->valid_to) {
		adp_cases_error(cs, line, ci, "%san event's valid_from must be before its valid_to",
				where);
		ok = 0;
	} else if (r->valid_to - r->valid_from > DECONF_EVENT_WINDOW_MAX_MS) {
		adp_cases_error(cs, line, ci, "%san event lasts at most %lld days", where,
				(long long)(DECONF_EVENT_WINDOW_MAX_MS / 86400000));
		ok = 0;
	}
	if (!ok || cs->fatal)
		return;
	if (adp_geocell_cover(r->lat, r->lon, radius, cells, ADP_GEOCELL_MAX, &n, why,
			      sizeof(why))) {
		adp_cases_error(cs, line, ci, "%s%s", where, why);
		return;
	}
	if (n > DECONF_EVENT_CELLS_MAX) { /* cannot happen: the grid's bound is far lower */
		adp_cases_error(cs, line, ci, "%san event of %zu cells (at most %d)", where, n,
				DECONF_EVENT_CELLS_MAX);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int role = cells[i].role == ADP_GEOCELL_COVER ? COVER : PARENT;
		if (adp_event_qualifier(role, (uint32_t)cells[i].level, q, sizeof(q)) ||
		    adp_cases_add_checked(cs, ci, line,
					  DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL,
					  cells[i].value, cells[i].len, q, r->valid_from, r->valid_to))
			return; /* out of memory: cs->fatal says so */
	}
}
