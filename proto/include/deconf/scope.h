/*
 * deconf/scope.h — sharing scopes: to whom an agency's (or a case's) point
 * of contact and case reference may be disclosed (deconf.proto,
 * DisclosureScope). One reading of a scope for everyone: the broker
 * decides with it what each side of a conflict is told, deconfctl writes
 * and shows it, and both say it in the same words.
 *
 * A partner is inside a scope when it is in no deny list and, by the
 * scope's mode: OPEN (or unset), anyone; LISTED, its level, its country or
 * its id is in an allow list; NONE, nobody (hit / no hit only). Countries
 * compare without regard to ASCII case; agency ids byte for byte.
 *
 * The text form (`deconfctl agency add|set-scope --disclose-to SPEC`) is a
 * comma-separated list of terms:
 *   all                 mode OPEN (the default when only denials are given)
 *   none                mode NONE: no partner learns the contact or case
 *   level:L             allow a level (federal, state, local, tribal,
 *                       international); mode LISTED
 *   country:CC          allow a country (ISO 3166-1 alpha-2); LISTED
 *   agency:ID           allow an agency; LISTED
 *   !country:CC, !agency:ID   deny
 *   liaison             the liaison desk may be named to partners outside
 * e.g. "country:US" (domestic only), "all,!agency:xx-pd" (all but one),
 * "none,liaison" (hit / no hit, follow-up through the liaison desk).
 */
#ifndef DECONF_SCOPE_H
#define DECONF_SCOPE_H

#include <stddef.h>

#include "deconf.pb-c.h"

/* At most this many entries in each list of a scope. */
#define DECONF_SCOPE_LIST_MAX 64

/* A counterpart as a scope sees it. */
struct deconf_scope_partner {
	const char *agency_id; /* NUL-terminated */
	int level;             /* AgencyLevel */
	const char *country;   /* ISO 3166-1 alpha-2, or "" */
};

/* 1 when scope s (NULL: unset, so open) lets its owner's contact and case
 * reference be disclosed to p. */
int deconf_scope_allows(const Deconf__V1__DisclosureScope *s,
			const struct deconf_scope_partner *p);

/* The same for a serialized DisclosureScope (len 0: unset, open); an
 * unparseable one allows nobody. */
int deconf_scope_allows_packed(const void *scope, size_t len,
			       const struct deconf_scope_partner *p);

/* 1 when s lets its owner's liaison desk be named to partners outside it. */
int deconf_scope_names_liaison(const Deconf__V1__DisclosureScope *s);

/*
 * Parse spec into *out (a scope made here: free it with
 * deconf_scope_free). 0, or DECONF_E_INVAL with errstr naming the term
 * and why; DECONF_E_NOMEM.
 */
int deconf_scope_parse(const char *spec, Deconf__V1__DisclosureScope **out, char *errstr,
		       size_t errstr_size);
void deconf_scope_free(Deconf__V1__DisclosureScope *s);

/* Whether a scope read from the wire is one to accept: a known mode, at
 * most DECONF_SCOPE_LIST_MAX entries per list, countries of two letters,
 * agency ids valid. 0, or DECONF_E_INVAL with errstr. */
int deconf_scope_check(const Deconf__V1__DisclosureScope *s, char *errstr, size_t errstr_size);

/* The scope in the text form above (NULL or unset: "all"), into buf;
 * returns buf. */
const char *deconf_scope_text(const Deconf__V1__DisclosureScope *s, char *buf, size_t size);

#endif
