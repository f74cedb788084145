/* test_err.c — deconf_strerror() and deconf_err_set(). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "deconf/err.h"

/* Every code from DECONF_OK down to the last one has its own, non-empty text. */
static void test_strerror_codes(void **state)
{
	const char *seen[-DECONF_E__LAST];

	for (int rc = DECONF_OK; rc > DECONF_E__LAST; rc--) {
		const char *s = deconf_strerror(rc);

		assert_non_null(s);
		assert_true(strlen(s) > 0);
		assert_string_not_equal(s, "unknown error");
		for (int j = 0; j < -rc; j++)
			assert_string_not_equal(s, seen[j]);
		seen[-rc] = s;
	}
	assert_string_equal(deconf_strerror(DECONF_OK), "success");
	assert_string_equal(deconf_strerror(DECONF_E_NOMEM), "out of memory");
	assert_string_equal(deconf_strerror(DECONF_E_EXISTS), "already exists");
	assert_string_equal(deconf_strerror(DECONF_E_VERSION), "unsupported version");
}

static void test_strerror_errno(void **state)
{
	char expect[256];

	snprintf(expect, sizeof(expect), "%s", strerror(ENOENT));
	assert_string_equal(deconf_strerror(ENOENT), expect);
	snprintf(expect, sizeof(expect), "%s", strerror(EACCES));
	assert_string_equal(deconf_strerror(EACCES), expect);
	/* errno text and deconf text live in different ranges */
	assert_string_not_equal(deconf_strerror(EIO), deconf_strerror(DECONF_E_IO));
}

static void test_strerror_out_of_range(void **state)
{
	assert_string_equal(deconf_strerror(DECONF_E__LAST), "unknown error");
	assert_string_equal(deconf_strerror(DECONF_E__LAST - 1), "unknown error");
	assert_string_equal(deconf_strerror(-1000), "unknown error");
	assert_string_equal(deconf_strerror(INT32_MIN), "unknown error");
}

static void test_err_set_fills(void **state)
{
	char errstr[64];

	memset(errstr, 'x', sizeof(errstr));
	assert_int_equal(deconf_err_set(errstr, sizeof(errstr), DECONF_E_CONFIG,
					"%s:%d: %s", "a.conf", 12, "bad"),
			 DECONF_E_CONFIG);
	assert_string_equal(errstr, "a.conf:12: bad");
	/* positive errno and OK pass through too */
	assert_int_equal(deconf_err_set(errstr, sizeof(errstr), ENOENT, "gone"), ENOENT);
	assert_string_equal(errstr, "gone");
	assert_int_equal(deconf_err_set(errstr, sizeof(errstr), DECONF_OK, "fine"), DECONF_OK);
	assert_string_equal(errstr, "fine");
}

static void test_err_set_truncates(void **state)
{
	char buf[16];

	/* guard bytes after a short errstr must stay untouched */
	memset(buf, '#', sizeof(buf));
	assert_int_equal(deconf_err_set(buf, 8, DECONF_E_INVAL, "%s",
					"0123456789abcdefghij"),
			 DECONF_E_INVAL);
	assert_string_equal(buf, "0123456");
	for (size_t i = 8; i < sizeof(buf); i++)
		assert_int_equal(buf[i], '#');

	/* size 1: only the terminator */
	memset(buf, '#', sizeof(buf));
	assert_int_equal(deconf_err_set(buf, 1, DECONF_E_IO, "hello"), DECONF_E_IO);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(buf[1], '#');
}

static void test_err_set_null(void **state)
{
	char buf[4] = "abc";

	assert_int_equal(deconf_err_set(NULL, 0, DECONF_E_TOOBIG, "x %d", 1),
			 DECONF_E_TOOBIG);
	assert_int_equal(deconf_err_set(NULL, 100, DECONF_E_PERM, "x"), DECONF_E_PERM);
	/* size 0: the buffer is not written at all */
	assert_int_equal(deconf_err_set(buf, 0, DECONF_E_MALFORMED, "zzz"),
			 DECONF_E_MALFORMED);
	assert_string_equal(buf, "abc");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strerror_codes),
		cmocka_unit_test(test_strerror_errno),
		cmocka_unit_test(test_strerror_out_of_range),
		cmocka_unit_test(test_err_set_fills),
		cmocka_unit_test(test_err_set_truncates),
		cmocka_unit_test(test_err_set_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
