/*
 * test_kafka.c — librdkafka configuration from deconf config, error mapping,
 * log routing. No broker is contacted: bootstrap.servers is 127.0.0.1:1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deconf/conf.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/log.h"
#include "deconf/util.h"
#include <librdkafka/rdkafka_mock.h>

static const struct deconf_conf_def table[] = {
	{ .name = "broker.name", .type = DECONF_CONF_STR, .def = "deconf", .doc = "name" },
};

struct fixture {
	char dir[64];
	char path[128]; /* the config file */
	char ca[128], cert[128], key[128];
	struct deconf_conf *conf;
	rd_kafka_conf_t *kconf;
	char errstr[1024];
};

/* ------------------------------------------------------ log capture */

#define MAX_LINES 64

static struct {
	pthread_mutex_t lock;
	int n, kafka_lines;
	int level[MAX_LINES];
	char fac[MAX_LINES][64];
	char *line[MAX_LINES];
} cap = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* librdkafka logs from its own threads: the capture has its own lock. */
static void capture_sink(void *opaque, int level, const char *fac, const char *line)
{
	pthread_mutex_lock(&cap.lock);
	if (!strncmp(fac, "KAFKA/", 6))
		cap.kafka_lines++;
	if (cap.n < MAX_LINES) {
		cap.level[cap.n] = level;
		snprintf(cap.fac[cap.n], sizeof(cap.fac[cap.n]), "%s", fac);
		cap.line[cap.n] = strdup(line);
		cap.n++;
	}
	pthread_mutex_unlock(&cap.lock);
}

static void capture_reset(void)
{
	pthread_mutex_lock(&cap.lock);
	for (int i = 0; i < cap.n; i++)
		free(cap.line[i]);
	cap.n = cap.kafka_lines = 0;
	pthread_mutex_unlock(&cap.lock);
}

/* ---------------------------------------------------------- fixture */

static void touch(const char *path, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("not really PEM\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_kafka.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/deconf.conf", f->dir);
	snprintf(f->ca, sizeof(f->ca), "%s/ca.pem", f->dir);
	snprintf(f->cert, sizeof(f->cert), "%s/cert.pem", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/key.pem", f->dir);
	if (deconf_conf_new(&f->conf, table, 1, f->errstr, sizeof(f->errstr)))
		return -1;
	capture_reset();
	deconf_log_set_sink(capture_sink, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc;

	deconf_log_set_sink(NULL, NULL);
	deconf_log_set_level(DECONF_LOG_INFO);
	capture_reset();
	if (f->kconf)
		rd_kafka_conf_destroy(f->kconf);
	deconf_conf_free(f->conf);
	unlink(f->path);
	unlink(f->ca);
	unlink(f->cert);
	unlink(f->key);
	rc = rmdir(f->dir);
	free(f);
	return rc;
}

static void load_ok(struct fixture *f, const char *text)
{
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	if (deconf_conf_load_file(f->conf, f->path, f->errstr, sizeof(f->errstr)))
		fail_msg("load failed: %s", f->errstr);
}

/* rd_kafka_conf_get into a static buffer, "<unset>" if it fails */
static const char *kget(const rd_kafka_conf_t *kconf, const char *name)
{
	static char buf[512];
	size_t size = sizeof(buf);

	if (rd_kafka_conf_get(kconf, name, buf, &size) != RD_KAFKA_CONF_OK)
		return "<unset>";
	return buf;
}

static void assert_err_at(const struct fixture *f, int line, const char *rest)
{
	char expect[512];

	snprintf(expect, sizeof(expect), "%s:%d: %s", f->path, line, rest);
	if (strncmp(f->errstr, expect, strlen(expect)))
		fail_msg("errstr \"%s\" does not start with \"%s\"", f->errstr, expect);
}

/* deconf_kafka_conf_new() that must fail; *out must be NULL then */
static void conf_new_fails(struct fixture *f)
{
	rd_kafka_conf_t *kconf = (rd_kafka_conf_t *)f; /* not NULL */

	f->errstr[0] = '\0';
	assert_int_equal(deconf_kafka_conf_new(&kconf, f->conf, "test", f->errstr,
					       sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_null(kconf);
}

static void conf_new_ok(struct fixture *f, const char *client_id)
{
	if (deconf_kafka_conf_new(&f->kconf, f->conf, client_id, f->errstr,
				  sizeof(f->errstr)))
		fail_msg("deconf_kafka_conf_new: %s", f->errstr);
	assert_non_null(f->kconf);
}

/* ------------------------------------------------------------ tests */

static void test_defaults(void **state)
{
	struct fixture *f = *state;

	conf_new_ok(f, "deconf-broker");
	assert_string_equal(kget(f->kconf, "socket.nagle.disable"), "true");
	assert_string_equal(kget(f->kconf, "client.id"), "deconf-broker");
	rd_kafka_conf_destroy(f->kconf);
	f->kconf = NULL;

	/* no deconf conf at all, no client id: librdkafka's own client.id */
	assert_int_equal(deconf_kafka_conf_new(&f->kconf, NULL, NULL, f->errstr,
					       sizeof(f->errstr)),
			 DECONF_OK);
	assert_string_equal(kget(f->kconf, "socket.nagle.disable"), "true");
	assert_string_equal(kget(f->kconf, "client.id"), "rdkafka");
}

static void test_configured_wins(void **state)
{
	struct fixture *f = *state;

	load_ok(f, "[kafka]\n"
		   "client.id = from-config\n"
		   "socket.nagle.disable = false\n");
	conf_new_ok(f, "deconf-broker");
	assert_string_equal(kget(f->kconf, "client.id"), "from-config");
	assert_string_equal(kget(f->kconf, "socket.nagle.disable"), "false");
}

static void test_keys_reach_librdkafka(void **state)
{
	struct fixture *f = *state;
	char *envp[] = { "DECONF_KAFKA_LINGER_MS=7", NULL };

	load_ok(f, "kafka.message.max.bytes = 200000\n"
		   "[kafka]\n"
		   "bootstrap.servers = 127.0.0.1:1\n"
		   "acks = all\n");
	assert_int_equal(deconf_conf_load_env(f->conf, envp, f->errstr, sizeof(f->errstr)),
			 DECONF_OK);
	assert_int_equal(deconf_conf_set_arg(f->conf, "kafka.acks=1", f->errstr,
					     sizeof(f->errstr)),
			 DECONF_OK);
	conf_new_ok(f, "x");
	assert_string_equal(kget(f->kconf, "bootstrap.servers"), "127.0.0.1:1");
	assert_string_equal(kget(f->kconf, "message.max.bytes"), "200000");
	assert_string_equal(kget(f->kconf, "linger.ms"), "7");
	assert_string_equal(kget(f->kconf, "acks"), "1");
	assert_string_equal(kget(f->kconf, "client.id"), "x");
}

static void test_unknown_property(void **state)
{
	struct fixture *f = *state;

	load_ok(f, "[kafka]\n"
		   "bootstrap.servers = 127.0.0.1:1\n"
		   "\n"
		   "no.such.property = 1\n");
	conf_new_fails(f);
	assert_err_at(f, 4, "kafka.no.such.property: ");

	/* and as a top-level key */
	deconf_conf_free(f->conf);
	assert_int_equal(deconf_conf_new(&f->conf, table, 1, f->errstr, sizeof(f->errstr)), 0);
	load_ok(f, "# c\nkafka.no.such.property = 1\n");
	conf_new_fails(f);
	assert_err_at(f, 2, "kafka.no.such.property: ");
}

static void test_bad_value(void **state)
{
	struct fixture *f = *state;

	load_ok(f, "[kafka]\nlinger.ms = 5\nacks = banana\n");
	conf_new_fails(f);
	assert_err_at(f, 3, "kafka.acks: ");

	/* the origin is whatever the caller says */
	f->kconf = rd_kafka_conf_new();
	assert_int_equal(deconf_kafka_conf_set(f->kconf, "linger.ms", "soon", "command line",
					       f->errstr, sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_non_null(strstr(f->errstr, "command line: kafka.linger.ms: "));
	assert_int_equal(deconf_kafka_conf_set(f->kconf, "linger.ms", "3", "command line",
					       f->errstr, sizeof(f->errstr)),
			 DECONF_OK);
	assert_string_equal(kget(f->kconf, "linger.ms"), "3");
}

static void test_ssl_missing_ca(void **state)
{
	struct fixture *f = *state;
	char text[512], rest[256];

	snprintf(text, sizeof(text),
		 "[kafka]\n"
		 "security.protocol = ssl\n"
		 "; the CA file does not exist\n"
		 "ssl.ca.location = %s\n",
		 f->ca);
	load_ok(f, text);
	conf_new_fails(f);
	snprintf(rest, sizeof(rest), "kafka.ssl.ca.location: %s: No such file", f->ca);
	assert_err_at(f, 4, rest);
}

static void test_ssl_needs_cert_and_key(void **state)
{
	struct fixture *f = *state;
	char text[512], arg[192];

	touch(f->ca, 0644);
	snprintf(text, sizeof(text),
		 "[kafka]\n"
		 "bootstrap.servers = 127.0.0.1:1\n"
		 "security.protocol = SSL\n"
		 "ssl.ca.location = %s\n",
		 f->ca);
	load_ok(f, text);
	conf_new_fails(f);
	assert_non_null(strstr(f->errstr, "kafka.ssl.certificate.location"));
	assert_non_null(strstr(f->errstr, "required"));

	touch(f->cert, 0644);
	snprintf(arg, sizeof(arg), "kafka.ssl.certificate.location=%s", f->cert);
	assert_int_equal(deconf_conf_set_arg(f->conf, arg, f->errstr, sizeof(f->errstr)), 0);
	conf_new_fails(f);
	assert_non_null(strstr(f->errstr, "kafka.ssl.key.location"));

	/* a key path that does not exist is named with where it was set */
	snprintf(arg, sizeof(arg), "kafka.ssl.key.location=%s", f->key);
	assert_int_equal(deconf_conf_set_arg(f->conf, arg, f->errstr, sizeof(f->errstr)), 0);
	conf_new_fails(f);
	assert_non_null(strstr(f->errstr, "command line: kafka.ssl.key.location: "));
	assert_non_null(strstr(f->errstr, f->key));

	/* all three there: fine, and a private key readable by others is
	 * worth a warning */
	touch(f->key, 0644);
	conf_new_ok(f, "x");
	assert_string_equal(kget(f->kconf, "security.protocol"), "ssl");
	assert_int_equal(cap.n, 1);
	assert_int_equal(cap.level[0], DECONF_LOG_WARNING);
	assert_string_equal(cap.fac[0], "CONF");
	assert_non_null(strstr(cap.line[0], "kafka.ssl.key.location"));
	assert_non_null(strstr(cap.line[0], f->key));
	assert_non_null(strstr(cap.line[0], "mode 644"));
	rd_kafka_conf_destroy(f->kconf);
	f->kconf = NULL;

	assert_int_equal(chmod(f->key, 0600), 0);
	conf_new_ok(f, "x");
	assert_int_equal(cap.n, 1);
}

/* sasl_ssl is TLS too: the client certificate is required as well */
static void test_sasl_ssl(void **state)
{
	struct fixture *f = *state;

	load_ok(f, "[kafka]\nsecurity.protocol = sasl_ssl\n");
	conf_new_fails(f);
	assert_non_null(strstr(f->errstr, "kafka.ssl.certificate.location"));

	/* plaintext needs none of it */
	assert_int_equal(deconf_conf_set_arg(f->conf, "kafka.security.protocol=plaintext",
					     f->errstr, sizeof(f->errstr)),
			 0);
	conf_new_ok(f, "x");
}

static void test_err_mapping(void **state)
{
	assert_int_equal(deconf_kafka_err(RD_KAFKA_RESP_ERR_NO_ERROR), DECONF_OK);
	assert_int_equal(deconf_kafka_err(RD_KAFKA_RESP_ERR__TIMED_OUT), DECONF_E_TIMEOUT);
	assert_int_equal(deconf_kafka_err(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT), DECONF_E_TIMEOUT);
	assert_int_equal(deconf_kafka_err(RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT),
			 DECONF_E_TIMEOUT);
	assert_int_equal(deconf_kafka_err(RD_KAFKA_RESP_ERR__TRANSPORT), DECONF_E_KAFKA);
	assert_int_equal(deconf_kafka_err(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN), DECONF_E_KAFKA);
	assert_int_equal(deconf_kafka_err(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART),
			 DECONF_E_KAFKA);
	assert_int_equal(deconf_kafka_err(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED),
			 DECONF_E_KAFKA);
	assert_int_equal(deconf_kafka_err(RD_KAFKA_RESP_ERR__FATAL), DECONF_E_KAFKA);
}

static void test_log_cb(void **state)
{
	deconf_log_set_level(DECONF_LOG_DEBUG);
	deconf_kafka_log_cb(NULL, DECONF_LOG_WARNING, "FAIL", "broker down\nfake line");
	deconf_kafka_log_cb(NULL, 0, "EMERG", "x");
	deconf_kafka_log_cb(NULL, DECONF_LOG_DEBUG, "BROKER", "y");
	deconf_log_set_level(DECONF_LOG_INFO);
	deconf_kafka_log_cb(NULL, DECONF_LOG_DEBUG, "BROKER", "filtered");

	assert_int_equal(cap.n, 3);
	assert_int_equal(cap.level[0], DECONF_LOG_WARNING);
	assert_string_equal(cap.fac[0], "KAFKA/FAIL");
	assert_non_null(strstr(cap.line[0], " warning KAFKA/FAIL: -: broker down fake line"));
	assert_string_equal(cap.fac[1], "KAFKA/EMERG");
	assert_non_null(strstr(cap.line[1], " err KAFKA/EMERG: -: x"));
	assert_non_null(strstr(cap.line[2], " debug KAFKA/BROKER: -: y"));
}

/* A real producer's logs arrive through deconf_log with KAFKA/ facilities. */
static void test_log_routing(void **state)
{
	struct fixture *f = *state;
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	char name[128], expect[192];
	rd_kafka_t *rk;
	int lines = 0;

	load_ok(f, "[kafka]\n"
		   "bootstrap.servers = 127.0.0.1:1\n"
		   "debug = generic\n");
	conf_new_ok(f, "log-test");
	deconf_log_set_level(DECONF_LOG_DEBUG);
	rk = deconf_kafka_new(RD_KAFKA_PRODUCER, f->kconf, f->errstr, sizeof(f->errstr));
	f->kconf = NULL; /* rk owns it now */
	if (!rk)
		fail_msg("deconf_kafka_new: %s", f->errstr);
	snprintf(name, sizeof(name), "%s", rd_kafka_name(rk));
	for (int i = 0; i < 500 && !lines; i++) {
		pthread_mutex_lock(&cap.lock);
		lines = cap.kafka_lines;
		pthread_mutex_unlock(&cap.lock);
		if (!lines)
			nanosleep(&pause, NULL);
	}
	rd_kafka_destroy(rk);

	assert_true(lines > 0);
	assert_non_null(strstr(name, "log-test"));
	snprintf(expect, sizeof(expect), ": %s: ", name);
	pthread_mutex_lock(&cap.lock);
	for (int i = 0; i < cap.n; i++) {
		if (strncmp(cap.fac[i], "KAFKA/", 6))
			continue;
		assert_true(strlen(cap.fac[i]) > 6);
		assert_non_null(strstr(cap.line[i], " KAFKA/"));
		assert_non_null(strstr(cap.line[i], expect));
	}
	pthread_mutex_unlock(&cap.lock);
}

/* deconf_kafka_new() frees the conf even when rd_kafka_new() fails. */
/* A producer gets acks=all whatever the configuration says, and says so. */
static void test_producer_acks_all(void **state)
{
	struct fixture *f = *state;
	char acks[16];
	size_t n = sizeof(acks);
	rd_kafka_t *rk;

	load_ok(f, "[kafka]\nbootstrap.servers = 127.0.0.1:1\nacks = 1\n");
	conf_new_ok(f, "x");
	capture_reset();
	rk = deconf_kafka_new(RD_KAFKA_PRODUCER, f->kconf, f->errstr, sizeof(f->errstr));
	f->kconf = NULL;
	assert_non_null(rk);
	assert_int_equal(rd_kafka_conf_get(rd_kafka_conf(rk), "acks", acks, &n), RD_KAFKA_CONF_OK);
	assert_string_equal(acks, "-1");
	{
		int found = 0;
		pthread_mutex_lock(&cap.lock);
		for (int i = 0; i < cap.n; i++)
			found |= !!strstr(cap.line[i], "kafka.acks = 1 replaced by all");
		pthread_mutex_unlock(&cap.lock);
		assert_true(found);
	}
	rd_kafka_destroy(rk);
}

static void test_new_failure_frees_conf(void **state)
{
	struct fixture *f = *state;
	char text[1024];

	/* refused while checking the configuration */
	load_ok(f, "[kafka]\n"
		   "bootstrap.servers = 127.0.0.1:1\n"
		   "enable.idempotence = true\n"
		   "max.in.flight.requests.per.connection = 10\n");
	conf_new_ok(f, "x");
	f->errstr[0] = '\0';
	assert_null(deconf_kafka_new(RD_KAFKA_PRODUCER, f->kconf, f->errstr,
				     sizeof(f->errstr)));
	f->kconf = NULL;
	assert_true(strlen(f->errstr) > 0);
	assert_non_null(strstr(f->errstr, "max.in.flight"));

	/* refused later, when the TLS context is built from files that are
	 * not PEM */
	touch(f->ca, 0644);
	touch(f->cert, 0644);
	touch(f->key, 0600);
	deconf_conf_free(f->conf);
	assert_int_equal(deconf_conf_new(&f->conf, table, 1, f->errstr, sizeof(f->errstr)), 0);
	snprintf(text, sizeof(text),
		 "[kafka]\n"
		 "bootstrap.servers = 127.0.0.1:1\n"
		 "security.protocol = ssl\n"
		 "ssl.ca.location = %s\n"
		 "ssl.certificate.location = %s\n"
		 "ssl.key.location = %s\n",
		 f->ca, f->cert, f->key);
	load_ok(f, text);
	conf_new_ok(f, "x");
	f->errstr[0] = '\0';
	assert_null(deconf_kafka_new(RD_KAFKA_PRODUCER, f->kconf, f->errstr,
				     sizeof(f->errstr)));
	f->kconf = NULL;
	assert_true(strlen(f->errstr) > 0);
}

/* A consumer on librdkafka's mock cluster with topic t (two partitions). */
static rd_kafka_t *mock_consumer(rd_kafka_mock_cluster_t **mc)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	char errstr[256];
	rd_kafka_t *rk;

	assert_int_equal(rd_kafka_conf_set(c, "test.mock.num.brokers", "1", errstr,
					   sizeof(errstr)),
			 RD_KAFKA_CONF_OK);
	assert_non_null(rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof(errstr)));
	assert_non_null(*mc = rd_kafka_handle_mock_cluster(rk));
	assert_int_equal(rd_kafka_mock_topic_create(*mc, "t", 2, 1), 0);
	return rk;
}

/* A leader that moves (a topic Kafka is still creating) is asked again;
 * any other error is returned at once. */
static void test_log_bounds_leader_moving(void **state)
{
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(2), *lo, *hi;
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_t *rk = mock_consumer(&mc);
	int64_t t0;

	(void)state;
	rd_kafka_topic_partition_list_add(parts, "t", 0);
	rd_kafka_topic_partition_list_add(parts, "t", 1);
	assert_int_equal(deconf_kafka_log_bounds(rk, parts, &lo, &hi, 5000), 0);
	rd_kafka_topic_partition_list_destroy(lo);
	rd_kafka_topic_partition_list_destroy(hi);

	rd_kafka_mock_push_request_errors(mc, 2 /* ListOffsets */, 4,
					  RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
					  RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
					  RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
					  RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
	assert_int_equal(deconf_kafka_log_bounds(rk, parts, &lo, &hi, 10000), 0);
	assert_int_equal(lo->elems[1].offset, 0);
	assert_int_equal(hi->elems[1].offset, 0);
	rd_kafka_topic_partition_list_destroy(lo);
	rd_kafka_topic_partition_list_destroy(hi);

	/* still moving when the time is up: the error, not a hang */
	for (int i = 0; i < 100; i++)
		rd_kafka_mock_push_request_errors(mc, 2 /* ListOffsets */, 2,
						  RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
						  RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
	t0 = deconf_mono_us();
	assert_int_not_equal(deconf_kafka_log_bounds(rk, parts, &lo, &hi, 1000), 0);
	assert_null(lo);
	assert_null(hi);
	assert_true(deconf_mono_us() - t0 < 5000000);
	rd_kafka_mock_clear_request_errors(mc, 2 /* ListOffsets */);

	/* refused: at once */
	rd_kafka_mock_push_request_errors(mc, 2 /* ListOffsets */, 1,
					  RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	t0 = deconf_mono_us();
	assert_int_equal(deconf_kafka_log_bounds(rk, parts, &lo, &hi, 10000),
			 RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	assert_true(deconf_mono_us() - t0 < 3000000);
	rd_kafka_topic_partition_list_destroy(parts);
	rd_kafka_destroy(rk);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_defaults),
		T(test_configured_wins),
		T(test_keys_reach_librdkafka),
		T(test_unknown_property),
		T(test_bad_value),
		T(test_ssl_missing_ca),
		T(test_ssl_needs_cert_and_key),
		T(test_sasl_ssl),
		cmocka_unit_test(test_err_mapping),
		cmocka_unit_test(test_log_bounds_leader_moving),
		T(test_log_cb),
		T(test_log_routing),
		T(test_producer_acks_all),
		T(test_new_failure_frees_conf),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
