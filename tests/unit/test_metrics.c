/* test_metrics.c — the broker's readiness (what /readyz answers) and the
 * exposition of counters and histograms. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "deconf/util.h"
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
	assert_string_equal(why, "ingest not ready (starting); matcher not ready (starting)");

	brk_metrics_ready(mx, ingest, 1);
	assert_false(brk_metrics_is_ready(mx, why, sizeof(why)));
	assert_string_equal(why, "matcher not ready (starting)");

	/* the matcher thread registers itself once more as it starts */
	assert_int_equal(brk_metrics_part(mx, "matcher"), matcher);
	brk_metrics_ready(mx, matcher, 1);
	assert_true(brk_metrics_is_ready(mx, why, sizeof(why)));
	assert_string_equal(why, "");

	/* e.g. a rebalance: revoked until the group assigns again */
	brk_metrics_status(mx, ingest, 0, "waiting for partitions");
	assert_false(brk_metrics_is_ready(mx, why, sizeof(why)));
	assert_string_equal(why, "ingest not ready (waiting for partitions)");
	brk_metrics_free(mx);
}

/*
 * Ready is not just "assigned": a part that read input and has not
 * committed it for stall_after (a batch failing again and again, a poison
 * record, a commit blocked on Kafka) is stuck, and /readyz says so; an
 * idle one is fine however long. /healthz fails only when a thread stops
 * looping.
 */
static void test_stuck_and_hung(void **state)
{
	struct brk_metrics *mx = NULL;
	char why[256];
	int ingest;
	int64_t t;

	(void)state;
	assert_int_equal(brk_metrics_new(&mx), 0);
	brk_metrics_set_stall(mx, 1000);
	ingest = brk_metrics_part(mx, "ingest");
	brk_metrics_status(mx, ingest, 1, "");
	brk_metrics_committed(mx, ingest);
	brk_metrics_heartbeat(mx, ingest);
	t = deconf_mono_us();
	assert_true(brk_metrics_is_ready_at(mx, t + 5000000, why, sizeof(why))); /* idle */
	/* a lag alone is not stuck: the records after the last committed one
	 * may be an aborted transaction's, which a read_committed consumer
	 * never returns */
	brk_metrics_set_lag(mx, ingest, 42);
	assert_true(brk_metrics_is_ready_at(mx, t + 5000000, why, sizeof(why)));
	/* input read and not committed (a commit blocked on Kafka, a batch
	 * retried): stuck after stall_after */
	brk_metrics_pending(mx, ingest, 1);
	t = deconf_mono_us();
	brk_metrics_pending(mx, ingest, 1); /* a retry keeps the first time */
	assert_true(brk_metrics_is_ready_at(mx, t + 500000, why, sizeof(why)));
	assert_false(brk_metrics_is_ready_at(mx, t + 1500000, why, sizeof(why)));
	assert_non_null(strstr(why, "ingest stuck: what it read"));
	brk_metrics_pending(mx, ingest, 0);
	assert_true(brk_metrics_is_ready_at(mx, t + 1500000, why, sizeof(why)));
	/* hung: no loop for 10 x stall_after */
	t = deconf_mono_us();
	brk_metrics_heartbeat(mx, ingest);
	assert_true(brk_metrics_is_alive_at(mx, t + 9000000, why, sizeof(why)));
	assert_false(brk_metrics_is_alive_at(mx, t + 10500000, why, sizeof(why)));
	assert_non_null(strstr(why, "ingest hung"));
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
	brk_metrics_add(mx, "deconf_ingest_throttled_total", "agency=\"a\"", 1);
	assert_non_null(text = brk_metrics_render(mx));
	assert_non_null(strstr(text, "deconf_txn_commits_total{part=\"matcher\"} 5\n"));
	assert_non_null(strstr(text, "deconf_batch_seconds_bucket{part=\"ingest\",le=\"0.0025\"} 0\n"));
	assert_non_null(strstr(text, "deconf_batch_seconds_bucket{part=\"ingest\",le=\"0.005\"} 1\n"));
	assert_non_null(strstr(text, "deconf_batch_seconds_count{part=\"ingest\"} 1\n"));
	assert_non_null(strstr(text, "deconf_ingest_throttled_total{agency=\"a\"} 1\n"));
	free(text);
	brk_metrics_free(mx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready),
		cmocka_unit_test(test_stuck_and_hung),
		cmocka_unit_test(test_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
