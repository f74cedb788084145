/*
 * test_lost.c — no consumer of deconf's topics skips records silently.
 *
 * Records a broker group has not read are deleted (Admin DeleteRecords,
 * what retention does when the broker is down too long) while the broker
 * is stopped. Restarted, the part refuses to jump past them: the partition
 * stays stopped, /readyz says which records were lost, deconf_records_lost
 * counts them and deconf.ops gets a RECORDS_LOST event — while the other
 * partitions go on (another agency's conflict is still notified). Once the
 * operator accepts the loss (the group's offset moved to where the
 * partition starts, with the broker stopped), it goes on from there.
 *
 * Needs DECONF_KRAFT_BOOTSTRAP (deploy/kafka/kafka.sh env); exits 77
 * without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deconf.pb-c.h"
#include "deconf/envelope.h"
#include "deconf/util.h"
#include "fed.h"

#define K(x) DECONF__V1__##x

static const char *bootstrap;
static pid_t running;

static void kill_running(void)
{
	if (running > 0)
		kill(running, SIGKILL);
}

/* GET path: the HTTP code, the body into body. */
static int http_get(int port, const char *path, char *body, size_t size)
{
	char cmd[256];
	FILE *p;
	size_t n;
	int code = -1;
	char *nl;

	snprintf(cmd, sizeof(cmd), "curl -s -o - -w '\\n%%{http_code}' http://127.0.0.1:%d%s", port,
		 path);
	if (!(p = popen(cmd, "r")))
		return -1;
	n = fread(body, 1, size - 1, p);
	body[n] = '\0';
	pclose(p);
	if ((nl = strrchr(body, '\n'))) {
		code = atoi(nl + 1);
		*nl = '\0';
	}
	return code;
}

/* The value of one exact series in /metrics, or -1. */
static double metric(int port, const char *series)
{
	static char body[1 << 18];
	const char *at;

	if (http_get(port, "/metrics", body, sizeof(body)) != 200 || !(at = strstr(body, series)))
		return -1;
	return atof(at + strlen(series));
}

/* Poll /readyz until its code is want and the body holds with (or 60 s). */
static int wait_ready(int port, int want, const char *with, char *body, size_t size)
{
	for (int i = 0; i < 600; i++) {
		int code = http_get(port, "/readyz", body, size);
		if (code == want && (!with || strstr(body, with)))
			return 0;
		usleep(100000);
	}
	return -1;
}

struct world {
	struct fed f;
	char conf[256], log[256];
	int port;
	pid_t broker;
	uint32_t next_tok;
};

static void start(struct world *w, const char *parts)
{
	char extra[256];

	snprintf(extra, sizeof(extra), "[broker]\nparts = %s\n[http]\nport = %d\n", parts, w->port);
	assert_int_equal(fed_broker_conf(&w->f, "a", extra, w->conf, sizeof(w->conf)), 0);
	assert_true((w->broker = running = fed_broker_start(BROKER_BIN, w->conf, w->log)) > 0);
}

static void stop(struct world *w)
{
	running = 0;
	assert_int_equal(fed_broker_stop(w->broker), 0);
}

/* One ADD of token n by agency a in case case_ref. */
static void add(struct world *w, int a, const char *case_ref, uint32_t n)
{
	struct fed_op o;

	memset(&o, 0, sizeof(o));
	o.op = K(OP__OP_ADD);
	o.case_ref = case_ref;
	o.type = K(INDICATOR_TYPE__INDICATOR_TYPE_MD5);
	fed_token(&w->f, n, o.token);
	assert_int_equal(fed_submit(&w->f, a, &o, 1, NULL), 0);
}

/* Wait until at least want notices (of every agency) were committed. */
static size_t notices(struct world *w, size_t want)
{
	struct fed_notice *v = NULL;
	size_t n = 0, bad = 0;

	for (int i = 0; i < 60; i++) {
		free(v);
		v = NULL;
		n = 0;
		assert_int_equal(fed_read_notices(&w->f, NULL, &v, &n, &bad, 5000), 0);
		if (n >= want)
			break;
		usleep(500000);
	}
	free(v);
	assert_int_equal(bad, 0);
	return n;
}

static rd_kafka_event_t *admin(rd_kafka_t *rk, rd_kafka_queue_t *q)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);

	assert_non_null(ev);
	if (rd_kafka_event_error(ev))
		fail_msg("admin: %s", rd_kafka_event_error_string(ev));
	(void)rk;
	return ev;
}

/* Delete every record of topic [partition] below its end. Returns the
 * new log start. */
static int64_t delete_all(struct world *w, const char *topic, int32_t partition)
{
	rd_kafka_t *rk = fed_client(&w->f, RD_KAFKA_PRODUCER, NULL, NULL);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_DeleteRecords_t *d;
	int64_t lo = -1, hi = -1;

	assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, partition, &lo, &hi, 10000), 0);
	rd_kafka_topic_partition_list_add(l, topic, partition)->offset = hi;
	d = rd_kafka_DeleteRecords_new(l);
	rd_kafka_DeleteRecords(rk, &d, 1, NULL, q);
	rd_kafka_event_destroy(admin(rk, q));
	rd_kafka_DeleteRecords_destroy(d);
	rd_kafka_topic_partition_list_destroy(l);
	assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, partition, &lo, &hi, 10000), 0);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return lo;
}

/* What the operator's accept-loss does: the group's offset for topic
 * [partition] moved to where the partition starts. The group must be
 * empty: a stopped broker is a static member until its session times out,
 * so this retries until Kafka takes it (at most 60 s). */
static void accept_loss(struct world *w, const char *group, const char *topic, int32_t partition,
			int64_t offset)
{
	rd_kafka_t *rk = fed_client(&w->f, RD_KAFKA_PRODUCER, NULL, NULL);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	int done = 0;

	for (int i = 0; i < 60 && !done; i++) {
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
		rd_kafka_AlterConsumerGroupOffsets_t *a;
		const rd_kafka_group_result_t **res;
		rd_kafka_event_t *ev;
		size_t n = 0;

		rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
		a = rd_kafka_AlterConsumerGroupOffsets_new(group, l);
		rd_kafka_AlterConsumerGroupOffsets(rk, &a, 1, NULL, q);
		assert_non_null(ev = rd_kafka_queue_poll(q, 30000));
		res = rd_kafka_AlterConsumerGroupOffsets_result_groups(
			rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n);
		if (!rd_kafka_event_error(ev) && n == 1 && !rd_kafka_group_result_error(res[0])) {
			const rd_kafka_topic_partition_list_t *p =
				rd_kafka_group_result_partitions(res[0]);
			done = p && p->cnt == 1 && !p->elems[0].err;
		}
		rd_kafka_event_destroy(ev);
		rd_kafka_AlterConsumerGroupOffsets_destroy(a);
		rd_kafka_topic_partition_list_destroy(l);
		if (!done)
			sleep(1);
	}
	assert_true(done);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
}

/* OpsEvents of kind on deconf.ops. */
static int ops_events(struct world *w, int kind)
{
	char topic[96], gid[64];
	rd_kafka_t *c;

	snprintf(gid, sizeof(gid), "lost-ops-%lld", (long long)deconf_now_ms());
	c = fed_client(&w->f, RD_KAFKA_CONSUMER, "group.id", gid); /* read_committed: the default */
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	int found = 0, eof = 0;

	fed_topic(&w->f, "ops", topic, sizeof(topic));
	rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	assert_int_equal(rd_kafka_assign(c, l), 0);
	for (int i = 0; i < 100 && !eof; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		Deconf__V1__OpsEvent *ev = NULL;
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			eof = 1;
		else if (!m->err &&
			 !deconf_envelope_open(m->payload, m->len, 1 << 20,
					       K(MESSAGE_TYPE__MESSAGE_TYPE_OPS_EVENT), w->f.key,
					       &deconf__v1__ops_event__descriptor,
					       (ProtobufCMessage **)&ev, NULL, 0)) {
			found += (int)ev->kind == kind;
			deconf_msg_free(ev);
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	return found;
}

/*
 * Ingest: records of agency A's submit topic it had not read are deleted
 * while the broker is stopped. Restarted, ingest stops that partition and
 * says so; agencies B and C go on; accepting the loss lets A go on.
 */
static void test_ingest_refuses_to_skip(void **state)
{
	struct world w = { 0 };
	char body[4096], topic[96], group[96], series[256];
	int64_t start_at;
	size_t n0;

	(void)state;
	assert_int_equal(fed_new(&w.f, bootstrap, 4), 0);
	for (int i = 0; i < 3; i++) {
		char id[16];
		snprintf(id, sizeof(id), "lost-%c", 'a' + i);
		assert_int_equal(fed_agency(&w.f, id, id, K(AGENCY_LEVEL__AGENCY_LEVEL_STATE), "US",
					    K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE)),
				 i);
	}
	w.port = fed_free_port();
	snprintf(w.log, sizeof(w.log), "%s/broker-a.log", w.f.dir);
	start(&w, "all");
	assert_int_equal(wait_ready(w.port, 200, NULL, body, sizeof(body)), 0);
	/* A and B conflict: read and committed */
	add(&w, 0, "A-1", 1);
	add(&w, 1, "B-1", 1);
	add(&w, 2, "C-0", 99);
	assert_int_equal(fed_flush(&w.f), 0);
	n0 = notices(&w, 2);
	assert_int_equal(n0, 2);
	stop(&w);

	/* while it is down, A sends two more, and they are deleted unread */
	add(&w, 0, "A-2", 2);
	add(&w, 0, "A-3", 3);
	assert_int_equal(fed_flush(&w.f), 0);
	fed_topic(&w.f, "submit.lost-a", topic, sizeof(topic));
	start_at = delete_all(&w, topic, 0);
	assert_true(start_at >= 3);

	start(&w, "all");
	assert_int_equal(wait_ready(w.port, 503, "ingest stopped", body, sizeof(body)), 0);
	print_message("/readyz: %s\n", body);
	assert_non_null(strstr(body, "lost 2 records"));
	snprintf(series, sizeof(series),
		 "deconf_records_lost{part=\"ingest\",topic=\"%s\",partition=\"0\"} ", topic);
	assert_true(metric(w.port, series) == 2);
	/* the others go on: B and C conflict */
	add(&w, 1, "B-2", 10);
	add(&w, 2, "C-2", 10);
	assert_int_equal(fed_flush(&w.f), 0);
	assert_int_equal(notices(&w, n0 + 2), n0 + 2);
	assert_int_equal(ops_events(&w, K(OPS_KIND__OPS_KIND_RECORDS_LOST)), 1);
	/* a restart does not make it skip either */
	stop(&w);
	start(&w, "all");
	assert_int_equal(wait_ready(w.port, 503, "ingest stopped", body, sizeof(body)), 0);
	stop(&w);

	/* the operator accepts the loss; A goes on from where its topic starts */
	snprintf(group, sizeof(group), "%sbroker-ingest", w.f.prefix);
	accept_loss(&w, group, topic, 0, start_at);
	start(&w, "all");
	assert_int_equal(wait_ready(w.port, 200, NULL, body, sizeof(body)), 0);
	add(&w, 0, "A-4", 10); /* conflicts with B-2 and C-2 */
	assert_int_equal(fed_flush(&w.f), 0);
	assert_int_equal(notices(&w, n0 + 6), n0 + 6);
	stop(&w);
	fed_free(&w.f);
}

/*
 * The matcher: token ops it had not read are deleted from deconf.tokens
 * while it is stopped (ingest alone ran meanwhile). Restarted, the matcher
 * refuses to skip them.
 */
static void test_matcher_refuses_to_skip(void **state)
{
	struct world w = { 0 };
	char body[4096], topic[96];
	int64_t lost = 0;

	(void)state;
	assert_int_equal(fed_new(&w.f, bootstrap, 2), 0);
	for (int i = 0; i < 2; i++) {
		char id[16];
		snprintf(id, sizeof(id), "lostm-%c", 'a' + i);
		assert_int_equal(fed_agency(&w.f, id, id, K(AGENCY_LEVEL__AGENCY_LEVEL_STATE), "US",
					    K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE)),
				 i);
	}
	w.port = fed_free_port();
	snprintf(w.log, sizeof(w.log), "%s/broker-a.log", w.f.dir);
	start(&w, "all");
	assert_int_equal(wait_ready(w.port, 200, NULL, body, sizeof(body)), 0);
	for (uint32_t t = 1; t <= 8; t++) /* both partitions read and committed */
		add(&w, 0, "A-1", t);
	add(&w, 1, "B-1", 1);
	assert_int_equal(fed_flush(&w.f), 0);
	assert_int_equal(notices(&w, 2), 2);
	stop(&w);

	/* ingest alone: token ops pile up on deconf.tokens, unread */
	start(&w, "ingest");
	assert_int_equal(wait_ready(w.port, 200, NULL, body, sizeof(body)), 0);
	for (uint32_t t = 100; t < 120; t++)
		add(&w, 0, "A-2", t);
	assert_int_equal(fed_flush(&w.f), 0);
	for (int i = 0; i < 100; i++) { /* until ingest committed them */
		if (metric(w.port, "deconf_submissions_total{agency=\"lostm-a\",result=\"accepted\"} ") >=
		    20)
			break;
		usleep(100000);
	}
	stop(&w);
	fed_topic(&w.f, "tokens", topic, sizeof(topic));
	for (int p = 0; p < 2; p++)
		lost += delete_all(&w, topic, p) > 0;
	assert_true(lost > 0);

	start(&w, "all");
	assert_int_equal(wait_ready(w.port, 503, "matcher stopped", body, sizeof(body)), 0);
	print_message("/readyz: %s\n", body);
	assert_true(ops_events(&w, K(OPS_KIND__OPS_KIND_RECORDS_LOST)) >= 1);
	stop(&w);
	fed_free(&w.f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ingest_refuses_to_skip),
		cmocka_unit_test(test_matcher_refuses_to_skip),
	};

	if (!(bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP"))) {
		fprintf(stderr, "DECONF_KRAFT_BOOTSTRAP not set (tests/run.sh starts Kafka): skipped\n");
		return 77;
	}
	atexit(kill_running);
	if (getenv("T_FILTER"))
		cmocka_set_test_filter(getenv("T_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
