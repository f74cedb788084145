/* event.c — an event's cells as indicators (see event.h). */
#include <stdio.h>
#include <string.h>

#include "deconf.pb-c.h"
#include "deconf/enum.h"
#include "deconf/err.h"
#include "event.h"

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
