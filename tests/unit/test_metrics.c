/* test_metrics.c — the broker's readiness (what /readyz answers) and the
 * exposition of counters and histograms. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* Not ready before any part has registered (a broker that has just
 * started), nor while one registered part is not ready; a part that
 * registers again is the same part. */
static void test_ready(void **state)
{
	struct brk_metrics *mx = NULL;
	char why[128];
	int ingest, matcher;

	(void)state;
	assert_int_equal(brk_metrics_new(&mx), 0);
	assert_false(brk_metrics_is_ready(mx, why, sizeof(why)));
	assert_string_equal(why, "starting");

	ingest = brk_metrics_part(mx, "ingest");
	matcher = brk_metrics_part(mx, "matcher");
	assert_int_not_equal(ingest, matcher);
	assert_false(brk_metrics_is_ready(mx, why, sizeof(why)));
	assert_string_equal(why, "ingest not ready; matcher not ready");

	brk_metrics_ready(mx, ingest, 1);
	assert_false(brk_metrics_is_ready(mx, why, sizeof(why)));
	assert_string_equal(why, "matcher not ready");

	/* the matcher thread registers itself once more as it starts */
	assert_int_equal(brk_metrics_part(mx, "matcher"), matcher);
	brk_metrics_ready(mx, matcher, 1);
	assert_true(brk_metrics_is_ready(mx, why, sizeof(why)));
	assert_string_equal(why, "");

	brk_metrics_ready(mx, ingest, 0); /* e.g. a rebalance restoring partitions */
	assert_false(brk_metrics_is_ready(mx, why, sizeof(why)));
	assert_string_equal(why, "ingest not ready");
	brk_metrics_free(mx);
}

static void test_render(void **state)
{
	struct brk_metrics *mx = NULL;
	char *text;

	(void)state;
	assert_int_equal(brk_metrics_new(&mx), 0);
	brk_metrics_add(mx, "deconf_txn_commits_total", "part=\"matcher\"", 2);
	brk_metrics_add(mx, "deconf_txn_commits_total", "part=\"matcher\"", 3);
	brk_metrics_observe(mx, "deconf_batch_seconds", "part=\"ingest\"", 0.003);
	assert_non_null(text = brk_metrics_render(mx));
	assert_non_null(strstr(text, "deconf_txn_commits_total{part=\"matcher\"} 5\n"));
	assert_non_null(strstr(text, "deconf_batch_seconds_bucket{part=\"ingest\",le=\"0.0025\"} 0\n"));
	assert_non_null(strstr(text, "deconf_batch_seconds_bucket{part=\"ingest\",le=\"0.005\"} 1\n"));
	assert_non_null(strstr(text, "deconf_batch_seconds_count{part=\"ingest\"} 1\n"));
	free(text);
	brk_metrics_free(mx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready),
		cmocka_unit_test(test_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
