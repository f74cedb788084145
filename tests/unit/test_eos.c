/*
 * test_eos.c — the broker's exactly-once plumbing (broker/src/eos.c) where
 * Kafka's answers matter, against librdkafka's in-memory mock cluster.
 *
 * The group stands past the end of a partition (its records are gone, as
 * after retention or a topic made again): with auto.offset.reset "error",
 * librdkafka stops the partition and says so once. When Kafka cannot tell
 * the group's offset at that moment, the part must ask again, not leave the
 * partition unfetched for ever: brk_eos_batch_next calls on_reset again a
 * second later, and the loss is then found.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h> /* after rdkafka.h */

#include "deconf/kafka.h"
#include "deconf/util.h"
#include "eos.h"

#define TOPIC "deconf.tokens"
#define GROUP "deconf.broker-matcher"

struct fx {
	rd_kafka_t *mock_owner, *consumer;
	rd_kafka_mock_cluster_t *mc;
	int calls, fails_left;
	size_t n_lost;
	struct brk_eos_lost lost[4];
};

static rd_kafka_t *client(struct fx *f, rd_kafka_type_t type, const char *const *kv)
{
	char errstr[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_t *rk;

	if (f->mc) /* else the mock cluster's owner */
		assert_int_equal(rd_kafka_conf_set(c, "bootstrap.servers",
						   rd_kafka_mock_cluster_bootstraps(f->mc), errstr,
						   sizeof(errstr)),
				 RD_KAFKA_CONF_OK);
	for (; kv && kv[0]; kv += 2)
		assert_int_equal(rd_kafka_conf_set(c, kv[0], kv[1], errstr, sizeof(errstr)),
				 RD_KAFKA_CONF_OK);
	rk = rd_kafka_new(type, c, errstr, sizeof(errstr));
	assert_non_null(rk);
	return rk;
}

/* the part's on_reset: Kafka fails OffsetFetch while fails_left lasts */
static int on_reset(void *opaque)
{
	struct fx *f = opaque;

	f->calls++;
	if (f->fails_left-- > 0)
		rd_kafka_mock_push_request_errors(f->mc, 9 /* OffsetFetch */, 1,
						  RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED);
	return brk_eos_offset_reset(f->consumer, f->lost, 4, &f->n_lost) ? -1 : 0;
}

static int setup(void **state)
{
	static const char *const ckv[] = { "group.id", GROUP, "enable.auto.commit", "false",
					   "auto.offset.reset", "error", NULL };
	static struct fx f;
	rd_kafka_t *p;
	rd_kafka_topic_partition_list_t *at;

	memset(&f, 0, sizeof(f));
	f.mock_owner = client(&f, RD_KAFKA_PRODUCER, NULL);
	assert_non_null(f.mc = rd_kafka_mock_cluster_new(f.mock_owner, 1));
	assert_int_equal(rd_kafka_mock_topic_create(f.mc, TOPIC, 1, 1), 0);
	p = client(&f, RD_KAFKA_PRODUCER, NULL);
	for (int i = 0; i < 10; i++)
		assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(TOPIC),
						   RD_KAFKA_V_PARTITION(0),
						   RD_KAFKA_V_VALUE("op", 2),
						   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
						   RD_KAFKA_V_END),
				 0);
	assert_int_equal(rd_kafka_flush(p, 10000), 0);
	rd_kafka_destroy(p);

	/* the group stands at 50 of a partition that holds 0..10 */
	f.consumer = client(&f, RD_KAFKA_CONSUMER, ckv);
	at = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(at, TOPIC, 0)->offset = 50;
	assert_int_equal(rd_kafka_commit(f.consumer, at, 0), 0);
	assert_int_equal(rd_kafka_assign(f.consumer, at), 0);
	rd_kafka_topic_partition_list_destroy(at);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	rd_kafka_consumer_close(f->consumer);
	rd_kafka_destroy(f->consumer);
	rd_kafka_mock_cluster_destroy(f->mc);
	rd_kafka_destroy(f->mock_owner);
	return 0;
}

static void test_reset_asked_again(void **state)
{
	struct fx *f = *state;
	struct brk_eos_batch bt = { .consumer = f->consumer,
				    .facility = "TEST",
				    .max = 100,
				    .wait_us = 100000,
				    .time_us = 100000,
				    .on_reset = on_reset,
				    .opaque = f };
	int64_t t0 = deconf_mono_us(), first = 0;

	f->fails_left = 2;
	while (!f->n_lost && deconf_mono_us() - t0 < 20000000) {
		rd_kafka_message_t *m;

		brk_eos_batch_begin(&bt);
		while ((m = brk_eos_batch_next(&bt))) {
			rd_kafka_message_destroy(m);
			fail_msg("a record past the group's offset was read");
		}
		if (f->calls == 1 && !first)
			first = deconf_mono_us();
	}
	print_message("on_reset called %d time(s); the loss found %.1f s after the first\n",
		      f->calls, (double)(deconf_mono_us() - first) / 1e6);
	/* asked again after each failure, a second apart, then found */
	assert_int_equal(f->calls, 3);
	assert_true(deconf_mono_us() - first >= 1800000);
	assert_int_equal(f->n_lost, 1);
	assert_string_equal(f->lost[0].topic, TOPIC);
	assert_int_equal(f->lost[0].committed, 50);
	assert_int_equal(f->lost[0].log_start, 0);
	assert_int_equal(f->lost[0].log_end, 10);
}

/* deconf_kafka_topic_bounds: every partition's end in one go, each its own
 * (partition p holds 3p records); a partition Kafka does not have is an
 * error, not zeros. */
static void test_topic_bounds(void **state)
{
	struct fx *f = *state;
	int64_t lo[6], hi[6];
	rd_kafka_t *p;

	assert_int_equal(rd_kafka_mock_topic_create(f->mc, "bounds", 6, 1), 0);
	p = client(f, RD_KAFKA_PRODUCER, NULL);
	for (int32_t part = 0; part < 6; part++)
		for (int i = 0; i < 3 * part; i++)
			assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("bounds"),
							   RD_KAFKA_V_PARTITION(part),
							   RD_KAFKA_V_VALUE("x", 1),
							   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
							   RD_KAFKA_V_END),
					 0);
	assert_int_equal(rd_kafka_flush(p, 10000), 0);
	assert_int_equal(deconf_kafka_topic_bounds(p, "bounds", 6, lo, hi, 10000), 0);
	for (int part = 0; part < 6; part++) {
		assert_int_equal(lo[part], 0);
		assert_int_equal(hi[part], 3 * part);
	}
	{
		int64_t lo8[8], hi8[8];
		assert_int_not_equal(deconf_kafka_topic_bounds(p, "bounds", 8, lo8, hi8, 3000), 0);
	}
	rd_kafka_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_asked_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topic_bounds, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
