/* scope.c — sharing scopes (see deconf/scope.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "deconf/enum.h"
#include "deconf/err.h"
#include "deconf/scope.h"
#include "deconf/util.h"

#define K(x) DECONF__V1__##x

static int in_strings(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] && !strcasecmp(v[i], s))
			return 1;
	return 0;
}

static int in_ids(const ProtobufCBinaryData *v, size_t n, const char *id)
{
	size_t len = strlen(id);

	for (size_t i = 0; i < n; i++)
		if (v[i].len == len && !memcmp(v[i].data, id, len))
			return 1;
	return 0;
}

int deconf_scope_allows(const Deconf__V1__DisclosureScope *s,
			const struct deconf_scope_partner *p)
{
	const char *cc = p->country ? p->country : "";

	if (!s)
		return 1;
	if (in_ids(s->deny_agencies, s->n_deny_agencies, p->agency_id) ||
	    (*cc && in_strings(s->deny_countries, s->n_deny_countries, cc)))
		return 0;
	switch (s->mode) {
	case K(SCOPE_MODE__SCOPE_MODE_UNSPECIFIED):
	case K(SCOPE_MODE__SCOPE_MODE_OPEN):
		return 1;
	case K(SCOPE_MODE__SCOPE_MODE_LISTED):
		for (size_t i = 0; i < s->n_allow_levels; i++)
			if ((int)s->allow_levels[i] == p->level)
				return 1;
		return (*cc && in_strings(s->allow_countries, s->n_allow_countries, cc)) ||
		       in_ids(s->allow_agencies, s->n_allow_agencies, p->agency_id);
	default: /* NONE, or a mode this reader does not know: nobody */
		return 0;
	}
}

int deconf_scope_allows_packed(const void *scope, size_t len,
			       const struct deconf_scope_partner *p)
{
	Deconf__V1__DisclosureScope *s;
	int ok;

	if (!len)
		return 1;
	if (!(s = deconf__v1__disclosure_scope__unpack(NULL, len, scope)))
		return 0;
	ok = deconf_scope_allows(s, p);
	deconf__v1__disclosure_scope__free_unpacked(s, NULL);
	return ok;
}

int deconf_scope_names_liaison(const Deconf__V1__DisclosureScope *s)
{
	return s && s->name_liaison;
}

static int country_ok(const char *c)
{
	return c && strlen(c) == 2 && ((c[0] >= 'A' && c[0] <= 'Z') || (c[0] >= 'a' && c[0] <= 'z')) &&
	       ((c[1] >= 'A' && c[1] <= 'Z') || (c[1] >= 'a' && c[1] <= 'z'));
}

int deconf_scope_check(const Deconf__V1__DisclosureScope *s, char *errstr, size_t errstr_size)
{
	char *const *cs[2] = { s->allow_countries, s->deny_countries };
	size_t ncs[2] = { s->n_allow_countries, s->n_deny_countries };
	const ProtobufCBinaryData *ids[2] = { s->allow_agencies, s->deny_agencies };
	size_t nids[2] = { s->n_allow_agencies, s->n_deny_agencies };

	if (s->mode < K(SCOPE_MODE__SCOPE_MODE_UNSPECIFIED) || s->mode > K(SCOPE_MODE__SCOPE_MODE_NONE))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "scope mode %d is unknown",
				      (int)s->mode);
	if (s->n_allow_levels > DECONF_SCOPE_LIST_MAX || ncs[0] > DECONF_SCOPE_LIST_MAX ||
	    ncs[1] > DECONF_SCOPE_LIST_MAX || nids[0] > DECONF_SCOPE_LIST_MAX ||
	    nids[1] > DECONF_SCOPE_LIST_MAX)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "a scope list holds more than %d entries", DECONF_SCOPE_LIST_MAX);
	for (size_t i = 0; i < s->n_allow_levels; i++)
		if (s->allow_levels[i] <= K(AGENCY_LEVEL__AGENCY_LEVEL_UNSPECIFIED) ||
		    s->allow_levels[i] > K(AGENCY_LEVEL__AGENCY_LEVEL_INTERNATIONAL))
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "scope level %d is unknown", (int)s->allow_levels[i]);
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < ncs[k]; i++)
			if (!country_ok(cs[k][i]))
				return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
						      "scope country is not two letters");
		for (size_t i = 0; i < nids[k]; i++)
			if (!deconf_agency_id_valid((const char *)ids[k][i].data, ids[k][i].len))
				return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
						      "scope agency id is not an agency id");
	}
	return DECONF_OK;
}

/* ----------------------------------------------------------------- parse */

void deconf_scope_free(Deconf__V1__DisclosureScope *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_allow_countries; i++)
		free(s->allow_countries[i]);
	for (size_t i = 0; i < s->n_deny_countries; i++)
		free(s->deny_countries[i]);
	for (size_t i = 0; i < s->n_allow_agencies; i++)
		free(s->allow_agencies[i].data);
	for (size_t i = 0; i < s->n_deny_agencies; i++)
		free(s->deny_agencies[i].data);
	free(s->allow_levels);
	free(s->allow_countries);
	free(s->deny_countries);
	free(s->allow_agencies);
	free(s->deny_agencies);
	free(s);
}

static int push_str(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return DECONF_E_NOMEM;
	*v = nv;
	if (!(nv[*n] = strdup(s)))
		return DECONF_E_NOMEM;
	for (char *p = nv[*n]; *p; p++) /* countries: upper case, as ISO writes them */
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	(*n)++;
	return DECONF_OK;
}

static int push_id(ProtobufCBinaryData **v, size_t *n, const char *s)
{
	ProtobufCBinaryData *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return DECONF_E_NOMEM;
	*v = nv;
	if (!(nv[*n].data = (uint8_t *)strdup(s)))
		return DECONF_E_NOMEM;
	nv[*n].len = strlen(s);
	(*n)++;
	return DECONF_OK;
}

int deconf_scope_parse(const char *spec, Deconf__V1__DisclosureScope **out, char *errstr,
		       size_t errstr_size)
{
	Deconf__V1__DisclosureScope *s = calloc(1, sizeof(*s));
	char *copy = spec ? strdup(spec) : NULL, *save = NULL, *t;
	int rc = DECONF_OK, all = 0, none = 0, listed = 0;

	*out = NULL;
	if (!s || !copy) {
		free(s);
		free(copy);
		return DECONF_E_NOMEM;
	}
	deconf__v1__disclosure_scope__init(s);
	for (t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
		int deny;
		const char *v;

		while (*t == ' ')
			t++;
		deny = *t == '!';
		if (deny)
			t++;
		if (!deny && !strcmp(t, "all")) {
			all = 1;
		} else if (!deny && !strcmp(t, "none")) {
			none = 1;
		} else if (!deny && !strcmp(t, "liaison")) {
			s->name_liaison = 1;
		} else if (!deny && !strncmp(t, "level:", 6)) {
			int lv = deconf_enum_value(&deconf__v1__agency_level__descriptor, t + 6);
			Deconf__V1__AgencyLevel *nv;
			if (!lv) {
				rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
						    "'%s': a level is federal, state, local, tribal or "
						    "international", t);
				break;
			}
			if (!(nv = realloc(s->allow_levels, (s->n_allow_levels + 1) * sizeof(*nv)))) {
				rc = DECONF_E_NOMEM;
				break;
			}
			s->allow_levels = nv;
			nv[s->n_allow_levels++] = lv;
			listed = 1;
		} else if (!strncmp(t, "country:", 8)) {
			v = t + 8;
			if (!country_ok(v)) {
				rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
						    "'%s': a country is an ISO 3166-1 alpha-2 code, e.g. US",
						    t);
				break;
			}
			rc = deny ? push_str(&s->deny_countries, &s->n_deny_countries, v)
				  : push_str(&s->allow_countries, &s->n_allow_countries, v);
			listed |= !deny;
		} else if (!strncmp(t, "agency:", 7)) {
			v = t + 7;
			if (!deconf_agency_id_valid(v, strlen(v))) {
				rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
						    "'%s': not an agency id", t);
				break;
			}
			rc = deny ? push_id(&s->deny_agencies, &s->n_deny_agencies, v)
				  : push_id(&s->allow_agencies, &s->n_allow_agencies, v);
			listed |= !deny;
		} else {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					    "'%s%s' is not a scope term (all, none, level:L, "
					    "country:CC, agency:ID, !country:CC, !agency:ID, liaison)",
					    deny ? "!" : "", t);
		}
	}
	if (!rc && all + none + listed > 1)
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				    "'%s': all, none and allow terms (level:, country:, agency:) "
				    "exclude each other",
				    spec);
	if (!rc) {
		s->mode = none ? K(SCOPE_MODE__SCOPE_MODE_NONE)
		      : listed ? K(SCOPE_MODE__SCOPE_MODE_LISTED)
			       : K(SCOPE_MODE__SCOPE_MODE_OPEN);
		rc = deconf_scope_check(s, errstr, errstr_size);
	}
	free(copy);
	if (rc) {
		deconf_scope_free(s);
		return rc;
	}
	*out = s;
	return DECONF_OK;
}

/* ------------------------------------------------------------------ text */

const char *deconf_scope_text(const Deconf__V1__DisclosureScope *s, char *buf, size_t size)
{
	char name[DECONF_ENUM_NAME_SIZE];
	size_t n = 0;

#define PUT(...)                                                                           \
	do {                                                                               \
		int k_ = snprintf(buf + n, n < size ? size - n : 0, __VA_ARGS__);           \
		if (k_ > 0)                                                                \
			n += (size_t)k_;                                                   \
	} while (0)
	if (!size)
		return buf;
	buf[0] = '\0';
	if (!s || s->mode <= K(SCOPE_MODE__SCOPE_MODE_OPEN))
		PUT("all");
	else if (s->mode == K(SCOPE_MODE__SCOPE_MODE_NONE))
		PUT("none");
	if (s && s->mode == K(SCOPE_MODE__SCOPE_MODE_LISTED)) {
		const char *sep = "";
		for (size_t i = 0; i < s->n_allow_levels; i++, sep = ",")
			PUT("%slevel:%s", sep,
			    deconf_enum_name(name, sizeof(name), &deconf__v1__agency_level__descriptor,
					     s->allow_levels[i], "?"));
		for (size_t i = 0; i < s->n_allow_countries; i++, sep = ",")
			PUT("%scountry:%s", sep, s->allow_countries[i]);
		for (size_t i = 0; i < s->n_allow_agencies; i++, sep = ",")
			PUT("%sagency:%.*s", sep, (int)s->allow_agencies[i].len,
			    (const char *)s->allow_agencies[i].data);
	}
	for (size_t i = 0; s && i < s->n_deny_countries; i++)
		PUT(",!country:%s", s->deny_countries[i]);
	for (size_t i = 0; s && i < s->n_deny_agencies; i++)
		PUT(",!agency:%.*s", (int)s->deny_agencies[i].len,
		    (const char *)s->deny_agencies[i].data);
	if (deconf_scope_names_liaison(s))
		PUT(",liaison");
#undef PUT
	if (n >= size && size > 4)
		memcpy(buf + size - 4, "...", 4);
	return buf;
}
