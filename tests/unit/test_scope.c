/*
 * test_scope.c — sharing scopes: who is inside one (deny lists first, then
 * the mode and its allow lists), the text form both ways, and refusals.
 * The four agencies of the README's worked example: a domestic-only
 * federal agency, an open state task force, a tribal police department
 * with a deny list, a UK partner that answers hit / no hit only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/err.h"
#include "deconf/scope.h"

#define L(x) DECONF__V1__AGENCY_LEVEL__AGENCY_LEVEL_##x

static const struct deconf_scope_partner fbi = { "fbi-cac", L(FEDERAL), "US" };
static const struct deconf_scope_partner nm = { "nm-icac", L(STATE), "US" };
static const struct deconf_scope_partner navajo = { "navajo-pd", L(TRIBAL), "US" };
static const struct deconf_scope_partner uk = { "uk-nca", L(INTERNATIONAL), "GB" };
static const struct deconf_scope_partner evil = { "xx-evil", L(LOCAL), "US" };

static Deconf__V1__DisclosureScope *parse(const char *spec)
{
	Deconf__V1__DisclosureScope *s = NULL;
	char err[256] = "";

	if (deconf_scope_parse(spec, &s, err, sizeof(err)))
		fail_msg("%s: %s", spec, err);
	return s;
}

static void refused(const char *spec, const char *why)
{
	Deconf__V1__DisclosureScope *s = NULL;
	char err[256] = "";

	assert_int_equal(deconf_scope_parse(spec, &s, err, sizeof(err)), DECONF_E_INVAL);
	assert_null(s);
	if (!strstr(err, why))
		fail_msg("%s: '%s' does not say '%s'", spec, err, why);
}

static void test_allows(void **state)
{
	Deconf__V1__DisclosureScope *domestic = parse("country:US");
	Deconf__V1__DisclosureScope *open = parse("all");
	Deconf__V1__DisclosureScope *tribal = parse("!agency:xx-evil,liaison");
	Deconf__V1__DisclosureScope *prum = parse("none,liaison");
	Deconf__V1__DisclosureScope *named = parse("level:federal,agency:uk-nca");
	char buf[256];

	(void)state;
	/* unset: everyone */
	assert_true(deconf_scope_allows(NULL, &uk));
	assert_true(deconf_scope_allows_packed(NULL, 0, &uk));
	/* domestic only */
	assert_true(deconf_scope_allows(domestic, &nm));
	assert_true(deconf_scope_allows(domestic, &navajo));
	assert_false(deconf_scope_allows(domestic, &uk));
	/* open */
	assert_true(deconf_scope_allows(open, &uk) && deconf_scope_allows(open, &evil));
	/* all but one; the liaison may be named */
	assert_true(deconf_scope_allows(tribal, &fbi) && deconf_scope_allows(tribal, &uk));
	assert_false(deconf_scope_allows(tribal, &evil));
	assert_true(deconf_scope_names_liaison(tribal));
	assert_false(deconf_scope_names_liaison(domestic));
	/* hit / no hit: nobody */
	assert_false(deconf_scope_allows(prum, &fbi));
	assert_false(deconf_scope_allows(prum, &nm));
	assert_true(deconf_scope_names_liaison(prum));
	/* by level or by id */
	assert_true(deconf_scope_allows(named, &fbi) && deconf_scope_allows(named, &uk));
	assert_false(deconf_scope_allows(named, &nm));
	{
		/* a deny beats an allow; countries ignore case */
		Deconf__V1__DisclosureScope *s = parse("country:us,!agency:nm-icac");
		assert_true(deconf_scope_allows(s, &fbi));
		assert_false(deconf_scope_allows(s, &nm));
		deconf_scope_free(s);
	}
	{
		/* packed, as the directory keeps it; garbage allows nobody */
		uint8_t b[512];
		size_t n = deconf__v1__disclosure_scope__pack(domestic, b);
		assert_true(deconf_scope_allows_packed(b, n, &nm));
		assert_false(deconf_scope_allows_packed(b, n, &uk));
		memset(b, 0xff, 8);
		assert_false(deconf_scope_allows_packed(b, 8, &nm));
	}
	{
		/* a mode this reader does not know allows nobody */
		Deconf__V1__DisclosureScope s = DECONF__V1__DISCLOSURE_SCOPE__INIT;
		s.mode = 9;
		assert_false(deconf_scope_allows(&s, &nm));
		assert_int_equal(deconf_scope_check(&s, buf, sizeof(buf)), DECONF_E_INVAL);
	}
	/* the text form, back */
	assert_string_equal(deconf_scope_text(domestic, buf, sizeof(buf)), "country:US");
	assert_string_equal(deconf_scope_text(open, buf, sizeof(buf)), "all");
	assert_string_equal(deconf_scope_text(NULL, buf, sizeof(buf)), "all");
	assert_string_equal(deconf_scope_text(tribal, buf, sizeof(buf)),
			    "all,!agency:xx-evil,liaison");
	assert_string_equal(deconf_scope_text(prum, buf, sizeof(buf)), "none,liaison");
	assert_string_equal(deconf_scope_text(named, buf, sizeof(buf)),
			    "level:federal,agency:uk-nca");
	deconf_scope_free(domestic);
	deconf_scope_free(open);
	deconf_scope_free(tribal);
	deconf_scope_free(prum);
	deconf_scope_free(named);
	deconf_scope_free(NULL);
}

static void test_refused(void **state)
{
	(void)state;
	refused("country:USA", "ISO 3166-1");
	refused("agency:Bad_Id", "not an agency id");
	refused("level:galactic", "a level is");
	refused("somebody", "not a scope term");
	refused("!level:federal", "not a scope term");
	refused("all,none", "exclude each other");
	refused("none,country:US", "exclude each other");
	refused("all,agency:nm-icac", "exclude each other");
	{
		/* a list past the bound */
		char spec[64 * 16 + 16];
		size_t n = 0;
		for (int i = 0; i <= DECONF_SCOPE_LIST_MAX; i++)
			n += (size_t)snprintf(spec + n, sizeof(spec) - n, "%sagency:a-%d", i ? "," : "",
					      i);
		refused(spec, "more than");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allows),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
