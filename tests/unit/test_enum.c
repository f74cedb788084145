/* test_enum.c — deconf_enum_name: the names deconf has always printed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "deconf.pb-c.h"
#include "deconf/enum.h"

#define K(x) DECONF__V1__##x

static const char *name(const ProtobufCEnumDescriptor *d, int v)
{
	static char buf[DECONF_ENUM_NAME_SIZE];

	return deconf_enum_name(buf, sizeof(buf), d, v, "FALLBACK");
}

/* The words the adapter prints and the broker's metrics label: the same
 * as the hand-written tables they replace. */
static void test_notice_kind(void **state)
{
	const ProtobufCEnumDescriptor *d = &deconf__v1__notice_kind__descriptor;

	(void)state;
	assert_string_equal(name(d, K(NOTICE_KIND__NOTICE_KIND_CONFLICT)), "conflict");
	assert_string_equal(name(d, K(NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH)),
			    "restricted_match");
	assert_string_equal(name(d, K(NOTICE_KIND__NOTICE_KIND_QUERY_HIT)), "query_hit");
	assert_string_equal(name(d, K(NOTICE_KIND__NOTICE_KIND_QUERIED)), "queried");
	assert_string_equal(name(d, K(NOTICE_KIND__NOTICE_KIND_EXPIRY_WARNING)), "expiry_warning");
	assert_string_equal(name(d, K(NOTICE_KIND__NOTICE_KIND_EXPIRED)), "expired");
	assert_string_equal(name(d, K(NOTICE_KIND__NOTICE_KIND_HOT_TOKEN)), "hot_token");
}

static void test_level_and_op(void **state)
{
	const ProtobufCEnumDescriptor *lv = &deconf__v1__agency_level__descriptor;
	const ProtobufCEnumDescriptor *op = &deconf__v1__op__descriptor;

	(void)state;
	assert_string_equal(name(lv, K(AGENCY_LEVEL__AGENCY_LEVEL_FEDERAL)), "federal");
	assert_string_equal(name(lv, K(AGENCY_LEVEL__AGENCY_LEVEL_STATE)), "state");
	assert_string_equal(name(lv, K(AGENCY_LEVEL__AGENCY_LEVEL_LOCAL)), "local");
	assert_string_equal(name(lv, K(AGENCY_LEVEL__AGENCY_LEVEL_TRIBAL)), "tribal");
	assert_string_equal(name(lv, K(AGENCY_LEVEL__AGENCY_LEVEL_INTERNATIONAL)),
			    "international");
	assert_string_equal(name(op, K(OP__OP_ADD)), "add");
	assert_string_equal(name(op, K(OP__OP_RENEW)), "renew");
	assert_string_equal(name(op, K(OP__OP_REMOVE)), "remove");
	assert_string_equal(name(op, K(OP__OP_CLOSE_CASE)), "close_case");
	assert_string_equal(name(op, K(OP__OP_QUERY)), "query");
	/* the prefix is what the values share, not the enum's own name */
	assert_string_equal(name(&deconf__v1__caution_flag__descriptor,
				 K(CAUTION_FLAG__CAUTION_ACTIVE_OPERATION)),
			    "active_operation");
}

/* UNSPECIFIED, a number the enum does not have (a partner's record may
 * carry any), a buffer too small, no descriptor: the fallback. */
static void test_fallback(void **state)
{
	const ProtobufCEnumDescriptor *d = &deconf__v1__notice_kind__descriptor;
	char small[8];

	(void)state;
	assert_string_equal(name(d, 0), "FALLBACK");
	assert_string_equal(name(d, 99), "FALLBACK");
	assert_string_equal(name(d, -1), "FALLBACK");
	assert_string_equal(name(&deconf__v1__agency_level__descriptor, 0), "FALLBACK");
	assert_string_equal(deconf_enum_name(small, sizeof(small), d,
					     K(NOTICE_KIND__NOTICE_KIND_EXPIRY_WARNING), "x"),
			    "x");
	assert_string_equal(deconf_enum_name(small, sizeof(small), d,
					     K(NOTICE_KIND__NOTICE_KIND_EXPIRED), "x"),
			    "expired");
	assert_string_equal(deconf_enum_name(small, sizeof(small), NULL, 1, "x"), "x");
}

/* deconf_enum_value: the name back to its value; anything else is 0. */
static void test_value(void **state)
{
	(void)state;
	assert_int_equal(deconf_enum_value(&deconf__v1__agency_level__descriptor, "tribal"),
			 DECONF__V1__AGENCY_LEVEL__AGENCY_LEVEL_TRIBAL);
	assert_int_equal(deconf_enum_value(&deconf__v1__agency_level__descriptor, "international"),
			 DECONF__V1__AGENCY_LEVEL__AGENCY_LEVEL_INTERNATIONAL);
	assert_int_equal(deconf_enum_value(&deconf__v1__agency_status__descriptor, "suspended"),
			 DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_SUSPENDED);
	assert_int_equal(deconf_enum_value(&deconf__v1__agency_level__descriptor, "unspecified"), 0);
	assert_int_equal(deconf_enum_value(&deconf__v1__agency_level__descriptor, "TRIBAL"), 0);
	assert_int_equal(deconf_enum_value(&deconf__v1__agency_level__descriptor, "tribal "), 0);
	assert_int_equal(deconf_enum_value(&deconf__v1__agency_level__descriptor, ""), 0);
	assert_int_equal(deconf_enum_value(&deconf__v1__agency_level__descriptor, NULL), 0);
	/* every value's name goes back to it */
	for (unsigned i = 0; i < deconf__v1__notice_kind__descriptor.n_values; i++) {
		char buf[DECONF_ENUM_NAME_SIZE];
		int v = deconf__v1__notice_kind__descriptor.values[i].value;
		const char *n = deconf_enum_name(buf, sizeof(buf),
						 &deconf__v1__notice_kind__descriptor, v, NULL);
		if (n)
			assert_int_equal(deconf_enum_value(&deconf__v1__notice_kind__descriptor, n), v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notice_kind),
		cmocka_unit_test(test_level_and_op),
		cmocka_unit_test(test_fallback),
		cmocka_unit_test(test_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
