/*
 * test_kquota.c — deconfctl's Kafka client quotas (broker/src/kquota.c)
 * against the real Kafka, and against servers that answer nonsense.
 *
 * - On the plaintext listener (ANONYMOUS, a super user) and on the mTLS
 *   listener as admin: set User:agency-a's quotas and describe them back;
 *   the same again changes nothing; one value changed alters one user; a
 *   batch alters only the user that differs; a key left unset is removed; a
 *   user without quotas describes as none. The quotas are removed at the end.
 * - agency-a (not a super user) is refused with Kafka's own error; a
 *   server certificate from another CA, bad values and unsupported kafka.*
 *   keys are refused before anything is altered.
 * - The quota bites: a principal over mTLS produces as fast as it can for
 *   5 s, without a quota and then with producer_byte_rate = 100 KB/s; the
 *   throttled rate must be far below the unthrottled one. That principal is
 *   a throwaway one (CN kq-<random>, issued from the test CA) rather than
 *   agency-a: a user's quota covers all its connections, and tests/run.sh
 *   runs the other integration tests, which produce as agency-a, in parallel
 *   against the same Kafka.
 * - A fake server on 127.0.0.1 answers each request with a different kind
 *   of nonsense (closed, huge, negative, truncated, silent, wrong
 *   correlation id, random bytes, no quota API, a cut entry, escape codes in
 *   an error message, an answer about another user, HTTP to a TLS client):
 *   each gives its error, within the configured timeout.
 * - librdkafka's mock cluster, which has no quota API, is refused as such.
 *
 * Needs DECONF_KRAFT_BOOTSTRAP, DECONF_KRAFT_BOOTSTRAP_TLS and
 * DECONF_KRAFT_TLS_DIR (deploy/kafka/kafka.sh env); exits 77 without them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "deconf/conf.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/log.h"
#include "deconf/util.h"
#include "kquota.h"
#include "deconf/pki.h"

#define U BRK_KQUOTA_UNSET
#define MIB (1024.0 * 1024.0)
#define WAIT_MS 30000

static const char *bootstrap, *bootstrap_tls, *tls_dir;
static char hex[13];

/* ------------------------------------------------------------- helpers */

static void kset(struct deconf_conf *c, const char *name, const char *value)
{
	char errstr[512];

	if (deconf_conf_set(c, name, value, "test", errstr, sizeof(errstr)))
		fail_msg("%s", errstr);
}

/* A configuration with only kafka.* keys, as deconfctl's has. cert: NULL
 * for plaintext, else the path of <cert>.pem / <cert>.key; ca: the CA file
 * (NULL: the test CA). */
static struct deconf_conf *kconf(const char *servers, const char *cert, const char *ca)
{
	struct deconf_conf *c = NULL;
	char errstr[512], path[1024];

	assert_int_equal(deconf_conf_new(&c, NULL, 0, errstr, sizeof(errstr)), 0);
	kset(c, "kafka.bootstrap.servers", servers);
	if (!cert)
		return c;
	kset(c, "kafka.security.protocol", "ssl");
	snprintf(path, sizeof(path), "%s/ca.pem", tls_dir);
	kset(c, "kafka.ssl.ca.location", ca ? ca : path);
	snprintf(path, sizeof(path), "%s.pem", cert);
	kset(c, "kafka.ssl.certificate.location", path);
	snprintf(path, sizeof(path), "%s.key", cert);
	kset(c, "kafka.ssl.key.location", path);
	return c;
}

/* The path prefix of one of kafka.sh's certificates. */
static const char *tls_cert(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", tls_dir, name);
	return buf;
}

static struct brk_kquota kq(const char *user, double p, double c, double r)
{
	struct brk_kquota q;

	memset(&q, 0, sizeof(q));
	snprintf(q.user, sizeof(q.user), "%s", user);
	q.producer_byte_rate = p;
	q.consumer_byte_rate = c;
	q.request_percentage = r;
	return q;
}

static size_t apply_ok(const struct deconf_conf *c, const struct brk_kquota *want, size_t n)
{
	char errstr[2048] = "";
	size_t changed = 99;
	int rc = brk_kquota_apply(c, want, n, &changed, errstr, sizeof(errstr));

	if (rc)
		fail_msg("brk_kquota_apply: %s (%s)", errstr, deconf_strerror(rc));
	return changed;
}

static void describe_ok(const struct deconf_conf *c, const char *user, struct brk_kquota *out)
{
	char errstr[2048] = "";
	int rc = brk_kquota_describe(c, user, out, errstr, sizeof(errstr));

	if (rc)
		fail_msg("brk_kquota_describe %s: %s (%s)", user, errstr, deconf_strerror(rc));
	assert_string_equal(out->user, user);
}

static void assert_none(const struct brk_kquota *q)
{
	assert_false(brk_kquota_is_set(q->producer_byte_rate));
	assert_false(brk_kquota_is_set(q->consumer_byte_rate));
	assert_false(brk_kquota_is_set(q->request_percentage));
}

/* -------------------------------------------------- apply and describe */

/* The whole cycle on one listener; base makes each run's values its own. */
static void apply_cycle(const struct deconf_conf *c, double base)
{
	struct brk_kquota want[2], got;
	char none[64];

	want[0] = kq("agency-a", U, U, U);
	want[1] = kq("agency-b", U, U, U);
	apply_ok(c, want, 2); /* whatever an earlier run left */
	describe_ok(c, "agency-a", &got);
	assert_none(&got);
	snprintf(none, sizeof(none), "kq-none-%s", hex);
	describe_ok(c, none, &got);
	assert_none(&got);

	want[0] = kq("agency-a", 64 * MIB + base, 32 * MIB, 400);
	assert_int_equal(apply_ok(c, want, 1), 1);
	describe_ok(c, "agency-a", &got);
	assert_true(brk_kquota_equal(&got, &want[0]));
	assert_true(got.producer_byte_rate == 64 * MIB + base);
	assert_true(got.consumer_byte_rate == 32 * MIB);
	assert_true(got.request_percentage == 400);

	/* the same again: nothing to do */
	assert_int_equal(apply_ok(c, want, 1), 0);

	/* one value changed: one user altered, the other values kept */
	want[0].consumer_byte_rate = 16 * MIB;
	assert_int_equal(apply_ok(c, want, 1), 1);
	describe_ok(c, "agency-a", &got);
	assert_true(got.consumer_byte_rate == 16 * MIB);
	assert_true(got.producer_byte_rate == 64 * MIB + base);
	assert_true(got.request_percentage == 400);

	/* a batch where only agency-b differs */
	want[1] = kq("agency-b", 8 * MIB, U, 200);
	assert_int_equal(apply_ok(c, want, 2), 1);
	describe_ok(c, "agency-b", &got);
	assert_true(brk_kquota_equal(&got, &want[1]));
	assert_false(brk_kquota_is_set(got.consumer_byte_rate));

	/* a key left unset is removed */
	want[0].request_percentage = U;
	assert_int_equal(apply_ok(c, want, 2), 1);
	describe_ok(c, "agency-a", &got);
	assert_false(brk_kquota_is_set(got.request_percentage));
	assert_true(got.producer_byte_rate == 64 * MIB + base);

	want[0] = kq("agency-a", U, U, U);
	want[1] = kq("agency-b", U, U, U);
	assert_int_equal(apply_ok(c, want, 2), 2);
	describe_ok(c, "agency-a", &got);
	assert_none(&got);
	describe_ok(c, "agency-b", &got);
	assert_none(&got);
}

/* A port on 127.0.0.1 nobody listens on (bound, then closed). */
static int dead_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void test_plaintext_cycle(void **state)
{
	char servers[256];
	struct deconf_conf *c;

	/* the first server is down: the next one is used */
	snprintf(servers, sizeof(servers), "127.0.0.1:%d,%s", dead_port(), bootstrap);
	c = kconf(servers, NULL, NULL);
	apply_cycle(c, 1024);
	deconf_conf_free(c);
}

static void test_tls_admin_cycle(void **state)
{
	char cert[1024];
	struct deconf_conf *c = kconf(bootstrap_tls, tls_cert("admin", cert, sizeof(cert)), NULL);

	apply_cycle(c, 2048);
	deconf_conf_free(c);
}

/* ----------------------------------------------------------- refusals */

/* Whether an IPv6 socket reaches an IPv4 listener through ::ffff:127.0.0.1
 * (not on hosts without IPv6). */
static int v4_mapped_ok(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;

	if (fd < 0)
		return 0;
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &a.sin6_addr);
	a.sin6_port = htons((uint16_t)atoi(strrchr(bootstrap_tls, ':') + 1));
	ok = !connect(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	return ok;
}

static int expect_error(const struct deconf_conf *c, const char *user, const char *needle,
			char *errstr, size_t size)
{
	struct brk_kquota got;
	int rc = brk_kquota_describe(c, user, &got, errstr, size);

	assert_int_not_equal(rc, 0);
	print_message("refused: %s\n", errstr);
	if (needle && !strstr(errstr, needle))
		fail_msg("expected '%s' in: %s", needle, errstr);
	assert_none(&got);
	return rc;
}

static void test_refusals(void **state)
{
	struct brk_kquota want[2];
	struct deconf_conf *c;
	char errstr[2048], cert[1024], path[1024];
	size_t changed = 99;

	/* agency-a is no super user: Kafka's own refusal, naming the server */
	c = kconf(bootstrap_tls, tls_cert("agency-a", cert, sizeof(cert)), NULL);
	assert_int_equal(expect_error(c, "agency-a", "CLUSTER_AUTHORIZATION_FAILED", errstr,
				      sizeof(errstr)),
			 DECONF_E_KAFKA);
	assert_non_null(strstr(errstr, bootstrap_tls));
	want[0] = kq("agency-a", 1 * MIB, U, U);
	assert_int_equal(brk_kquota_apply(c, want, 1, &changed, errstr, sizeof(errstr)),
			 DECONF_E_KAFKA);
	assert_int_equal(changed, 0);
	deconf_conf_free(c);

	/* a CA that did not sign the server's certificate */
	snprintf(path, sizeof(path), "%s/rogue-ca.pem", tls_dir);
	c = kconf(bootstrap_tls, tls_cert("admin", cert, sizeof(cert)), path);
	assert_int_equal(expect_error(c, "agency-a", "certificate does not verify", errstr,
				      sizeof(errstr)),
			 DECONF_E_IO);
	deconf_conf_free(c);

	/* the name check: the certificate names localhost and 127.0.0.1, not
	 * ::ffff:127.0.0.1 (which reaches the same IPv4 listener); with the
	 * check off, the chain suffices */
	if (v4_mapped_ok()) {
		snprintf(path, sizeof(path), "[::ffff:127.0.0.1]:%s",
			 strrchr(bootstrap_tls, ':') + 1);
		c = kconf(path, tls_cert("admin", cert, sizeof(cert)), NULL);
		assert_int_equal(expect_error(c, "agency-a", "does not verify", errstr,
					      sizeof(errstr)),
				 DECONF_E_IO);
		kset(c, "kafka.ssl.endpoint.identification.algorithm", "none");
		describe_ok(c, "agency-a", &want[1]);
		deconf_conf_free(c);
	} else {
		print_message("no IPv6 sockets here: the name-mismatch check is not run\n");
	}
	/* ...and by name, which the certificate has (localhost may resolve to
	 * ::1 first, where nothing listens: the next address is tried) */
	snprintf(path, sizeof(path), "localhost:%s", strrchr(bootstrap_tls, ':') + 1);
	c = kconf(path, tls_cert("admin", cert, sizeof(cert)), NULL);
	describe_ok(c, "agency-a", &want[1]);
	deconf_conf_free(c);

	/* plaintext spoken to the TLS listener */
	c = kconf(bootstrap_tls, NULL, NULL);
	kset(c, "kafka.socket.timeout.ms", "3000");
	assert_int_not_equal(expect_error(c, "agency-a", bootstrap_tls, errstr, sizeof(errstr)), 0);
	deconf_conf_free(c);

	/* refused before anything is sent: nothing listens at this address */
	snprintf(path, sizeof(path), "127.0.0.1:%d", dead_port());
	c = kconf(path, NULL, NULL);
	want[0] = kq("agency-a", 1.5, U, U); /* Kafka takes whole bytes */
	assert_int_equal(brk_kquota_apply(c, want, 1, NULL, errstr, sizeof(errstr)),
			 DECONF_E_INVAL);
	want[0] = kq("agency-a", U, U, 0);
	assert_int_equal(brk_kquota_apply(c, want, 1, NULL, errstr, sizeof(errstr)),
			 DECONF_E_INVAL);
	want[0] = kq("agency a", U, U, 10);
	assert_int_equal(brk_kquota_apply(c, want, 1, NULL, errstr, sizeof(errstr)),
			 DECONF_E_INVAL);
	want[0] = kq("agency-a", U, U, 10);
	want[1] = kq("agency-a", U, U, 20);
	assert_int_equal(brk_kquota_apply(c, want, 2, NULL, errstr, sizeof(errstr)),
			 DECONF_E_INVAL);
	assert_int_equal(expect_error(c, "agency-a", "connect", errstr, sizeof(errstr)),
			 DECONF_E_IO);
	deconf_conf_free(c);

	/* kafka.* keys it cannot honour are refused, not ignored */
	c = kconf(bootstrap_tls, tls_cert("admin", cert, sizeof(cert)), NULL);
	kset(c, "kafka.ssl.keystore.location", "/nonexistent.p12");
	assert_int_equal(expect_error(c, "agency-a", "ssl.keystore.location", errstr,
				      sizeof(errstr)),
			 DECONF_E_CONFIG);
	deconf_conf_free(c);
	c = kconf(bootstrap_tls, tls_cert("admin", cert, sizeof(cert)), NULL);
	kset(c, "kafka.enable.ssl.certificate.verification", "false");
	assert_int_equal(expect_error(c, "agency-a", "verif", errstr, sizeof(errstr)),
			 DECONF_E_CONFIG);
	deconf_conf_free(c);
	c = kconf(bootstrap, NULL, NULL);
	kset(c, "kafka.security.protocol", "sasl_ssl");
	assert_int_equal(expect_error(c, "agency-a", "sasl_ssl", errstr, sizeof(errstr)),
			 DECONF_E_CONFIG);
	deconf_conf_free(c);
}

/* ------------------------------------------------------ the quota bites */

static rd_kafka_t *admin_client(void)
{
	rd_kafka_conf_t *kc = NULL;
	char errstr[512];
	rd_kafka_t *rk;

	assert_int_equal(deconf_kafka_conf_new(&kc, NULL, "itest-kquota", errstr, sizeof(errstr)),
			 0);
	assert_int_equal(deconf_kafka_conf_set(kc, "bootstrap.servers", bootstrap, "test", errstr,
					       sizeof(errstr)),
			 0);
	rk = deconf_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
	assert_non_null(rk);
	return rk;
}

static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, rd_kafka_event_type_t type)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, WAIT_MS);

	assert_non_null(ev);
	assert_int_equal(rd_kafka_event_type(ev), type);
	if (rd_kafka_event_error(ev))
		fail_msg("admin request failed: %s", rd_kafka_event_error_string(ev));
	return ev;
}

/* topic, writable by principal: created over plaintext as ANONYMOUS */
static void topic_for(const char *topic, const char *principal)
{
	rd_kafka_t *rk = admin_client();
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	char errstr[512];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, 1, errstr, sizeof(errstr));
	rd_kafka_AclBinding_t *b[2];
	const rd_kafka_topic_result_t **tr;
	const rd_kafka_acl_result_t **ar;
	rd_kafka_event_t *ev;
	size_t n;

	assert_non_null(nt);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	ev = admin_wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
	tr = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
	assert_int_equal(n, 1);
	assert_int_equal(rd_kafka_topic_result_error(tr[0]), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_event_destroy(ev);
	rd_kafka_NewTopic_destroy(nt);
	for (int i = 0; i < 2; i++) {
		b[i] = rd_kafka_AclBinding_new(RD_KAFKA_RESOURCE_TOPIC, topic,
					       RD_KAFKA_RESOURCE_PATTERN_LITERAL, principal, "*",
					       i ? RD_KAFKA_ACL_OPERATION_DESCRIBE
						 : RD_KAFKA_ACL_OPERATION_WRITE,
					       RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, errstr,
					       sizeof(errstr));
		assert_non_null(b[i]);
	}
	rd_kafka_CreateAcls(rk, b, 2, NULL, q);
	ev = admin_wait(q, RD_KAFKA_EVENT_CREATEACLS_RESULT);
	ar = rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(ev), &n);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		assert_null(rd_kafka_acl_result_error(ar[i]));
	rd_kafka_event_destroy(ev);
	for (int i = 0; i < 2; i++)
		rd_kafka_AclBinding_destroy(b[i]);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
}

struct meter {
	int64_t end_us;
	uint64_t bytes;
};

static void meter_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct meter *mt = opaque;

	if (!m->err && deconf_mono_us() <= mt->end_us)
		mt->bytes += m->len;
}

/* Connections torn down by the purge at the end are expected. */
static void quiet_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
}

/* Bytes per second delivered to topic by the principal of cert, producing
 * 1 KB records as fast as librdkafka takes them for `seconds`, or until
 * METER_CAP bytes are delivered (an unthrottled run need not fill the
 * disk to show its rate). */
#define METER_CAP (64ull << 20)

static double produce_rate(const char *topic, const char *cert, int seconds)
{
	static char payload[1000];
	static const char *const props[][2] = {
		{ "message.timeout.ms", "15000" },
		{ "queue.buffering.max.messages", "20000" },
		{ "enable.idempotence", "false" },
	};
	rd_kafka_conf_t *kc = NULL;
	struct meter mt = { 0 };
	char errstr[512], path[1024];
	rd_kafka_t *rk;
	int64_t start, stop;

	assert_int_equal(deconf_kafka_conf_new(&kc, NULL, "itest-kquota", errstr, sizeof(errstr)),
			 0);
	assert_int_equal(deconf_kafka_conf_set(kc, "bootstrap.servers", bootstrap_tls, "test",
					       errstr, sizeof(errstr)),
			 0);
	assert_int_equal(deconf_kafka_conf_set(kc, "security.protocol", "ssl", "test", errstr,
					       sizeof(errstr)),
			 0);
	snprintf(path, sizeof(path), "%s/ca.pem", tls_dir);
	assert_int_equal(deconf_kafka_conf_set(kc, "ssl.ca.location", path, "test", errstr,
					       sizeof(errstr)),
			 0);
	snprintf(path, sizeof(path), "%s.pem", cert);
	assert_int_equal(deconf_kafka_conf_set(kc, "ssl.certificate.location", path, "test",
					       errstr, sizeof(errstr)),
			 0);
	snprintf(path, sizeof(path), "%s.key", cert);
	assert_int_equal(deconf_kafka_conf_set(kc, "ssl.key.location", path, "test", errstr,
					       sizeof(errstr)),
			 0);
	for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
		assert_int_equal(deconf_kafka_conf_set(kc, props[i][0], props[i][1], "test", errstr,
						       sizeof(errstr)),
				 0);
	rd_kafka_conf_set_dr_msg_cb(kc, meter_dr);
	rd_kafka_conf_set_error_cb(kc, quiet_error_cb);
	rd_kafka_conf_set_opaque(kc, &mt);
	rk = deconf_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
	assert_non_null(rk);
	memset(payload, 'q', sizeof(payload));
	start = deconf_mono_us();
	mt.end_us = start + (int64_t)seconds * 1000000;
	while (deconf_mono_us() < mt.end_us && mt.bytes < METER_CAP) {
		rd_kafka_resp_err_t err = rd_kafka_producev(
			rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(payload, sizeof(payload)),
			RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(rk, 5);
		else if (err)
			fail_msg("produce: %s", rd_kafka_err2str(err));
		else
			rd_kafka_poll(rk, 0);
	}
	/* stop: what is still queued or in flight does not count */
	if ((stop = deconf_mono_us()) < mt.end_us)
		mt.end_us = stop;
	rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_flush(rk, 5000);
	rd_kafka_destroy(rk);
	return (double)mt.bytes * 1e6 / (double)(mt.end_us - start);
}

static void delete_topic(const char *topic)
{
	rd_kafka_t *rk = admin_client();
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);

	rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
	rd_kafka_event_destroy(admin_wait(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT));
	rd_kafka_DeleteTopic_destroy(dt);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
}

static void test_quota_bites(void **state)
{
	char dir[] = "/tmp/itest-kquota-XXXXXX", cn[32], principal[48], topic[64];
	char ca[1024], ca_key[1024], cert[1100], key[1100], prefix[1024], errstr[1024];
	struct deconf_conf *c = kconf(bootstrap, NULL, NULL);
	struct brk_kquota want[1], got;
	double free_rate, limited_rate;

	assert_non_null(mkdtemp(dir));
	snprintf(cn, sizeof(cn), "kq-%s", hex);
	snprintf(principal, sizeof(principal), "User:%s", cn);
	snprintf(topic, sizeof(topic), "itest.kquota.%s", hex);
	snprintf(ca, sizeof(ca), "%s/test-ca.pem", tls_dir);
	snprintf(ca_key, sizeof(ca_key), "%s/test-ca.key", tls_dir);
	snprintf(prefix, sizeof(prefix), "%s/%s", dir, cn);
	snprintf(cert, sizeof(cert), "%s.pem", prefix);
	snprintf(key, sizeof(key), "%s.key", prefix);
	if (deconf_pki_issue(ca, ca_key, NULL, cn, NULL, 0, 0, 1, cert, key, errstr, sizeof(errstr)))
		fail_msg("%s", errstr);
	topic_for(topic, principal);

	want[0] = kq(cn, U, U, U);
	apply_ok(c, want, 1);
	free_rate = produce_rate(topic, prefix, 5);

	want[0] = kq(cn, 100 * 1000, U, U);
	assert_int_equal(apply_ok(c, want, 1), 1);
	/* measured once the Kafka broker serves the quota back: it applies a
	 * quota from its metadata image, which follows the controller's commit
	 * (that the alter waited for) a moment later */
	for (int64_t t0 = deconf_mono_us();; usleep(100000)) {
		describe_ok(c, cn, &got);
		if (got.producer_byte_rate == 100 * 1000)
			break;
		if (deconf_mono_us() - t0 > 10000000)
			fail_msg("%s: producer_byte_rate described as %.0f, not 100000, 10 s after "
				 "it was set",
				 principal, got.producer_byte_rate);
	}
	limited_rate = produce_rate(topic, prefix, 5);
	print_message("%s: %.0f B/s without a quota, %.0f B/s with producer_byte_rate 100000\n",
		      principal, free_rate, limited_rate);

	want[0] = kq(cn, U, U, U);
	assert_int_equal(apply_ok(c, want, 1), 1);
	deconf_conf_free(c);
	delete_topic(topic);
	unlink(cert);
	unlink(key);
	rmdir(dir);

	assert_true(free_rate > 0);
	/* Kafka lets a user burst about quota x 10 s (its sample windows)
	 * before throttling: a 5 s run at 100 KB/s stays near 300 KB/s, while
	 * unthrottled loopback TLS produces tens of MB/s or more. */
	if (!(limited_rate * 5 < free_rate))
		fail_msg("throttled %.0f B/s is not far below unthrottled %.0f B/s", limited_rate,
			 free_rate);
}

/* ------------------------------------------------ servers that misbehave */

enum fake_mode {
	FAKE_CLOSE,          /* reads the request, closes */
	FAKE_HUGE,           /* announces 2^31 - 1 bytes */
	FAKE_NEGATIVE,       /* announces -1 bytes */
	FAKE_TRUNCATED,      /* announces 100 bytes, sends 10, waits */
	FAKE_SILENT,         /* reads the request, says nothing */
	FAKE_WRONG_CORR,     /* a good ApiVersions answer with another correlation id */
	FAKE_RANDOM,         /* the right correlation id, then random bytes */
	FAKE_NO_QUOTA_API,   /* ApiVersions without keys 48 and 49 */
	FAKE_CUT_ENTRY,      /* describe: an entry whose values stop short */
	FAKE_EVIL_TEXT,      /* describe: an error message with escapes and newlines */
	FAKE_STRANGER,       /* describe: none; alter: an answer about someone else */
	FAKE_HTTP,           /* HTTP to a TLS ClientHello */
};

struct fake {
	int lfd, port;
	enum fake_mode mode;
	pthread_t th;
};

struct wbuf {
	uint8_t b[4096];
	size_t n;
};

static void w_be(struct wbuf *w, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		w->b[w->n++] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void w_str(struct wbuf *w, const char *s)
{
	if (!s) {
		w_be(w, 0xffff, 2);
		return;
	}
	w_be(w, strlen(s), 2);
	memcpy(w->b + w->n, s, strlen(s));
	w->n += strlen(s);
}

/* wait until the client goes away (bounded) */
static void drain(int fd)
{
	uint8_t tmp[512];
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (poll(&p, 1, 20000) > 0 && recv(fd, tmp, sizeof(tmp), 0) > 0)
		;
}

static int read_n(int fd, uint8_t *buf, size_t n)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (n) {
		ssize_t r;
		if (poll(&p, 1, 20000) <= 0 || (r = recv(fd, buf, n, 0)) <= 0)
			return -1;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

static void send_frame(int fd, const struct wbuf *w)
{
	uint8_t sz[4] = { (uint8_t)(w->n >> 24), (uint8_t)(w->n >> 16), (uint8_t)(w->n >> 8),
			  (uint8_t)w->n };

	send(fd, sz, 4, MSG_NOSIGNAL);
	send(fd, w->b, w->n, MSG_NOSIGNAL);
}

static void api_versions(struct wbuf *w, int32_t corr, int with_quotas)
{
	w_be(w, (uint32_t)corr, 4);
	w_be(w, 0, 2);
	w_be(w, with_quotas ? 3 : 1, 4);
	w_be(w, 18, 2), w_be(w, 0, 2), w_be(w, 4, 2);
	if (with_quotas) {
		w_be(w, 48, 2), w_be(w, 0, 2), w_be(w, 1, 2);
		w_be(w, 49, 2), w_be(w, 0, 2), w_be(w, 1, 2);
	}
}

/* Answer one request; 1 to stop, 2 to hold the connection open. */
static int fake_answer(struct fake *f, int fd, int16_t key, int32_t corr)
{
	struct wbuf w = { .n = 0 };
	uint8_t sz[4];

	switch (f->mode) {
	case FAKE_CLOSE:
		return 1;
	case FAKE_SILENT:
		return 2;
	case FAKE_HUGE:
	case FAKE_NEGATIVE:
		w_be(&w, f->mode == FAKE_HUGE ? 0x7fffffff : 0xffffffff, 4);
		send(fd, w.b, w.n, MSG_NOSIGNAL);
		return 2;
	case FAKE_TRUNCATED:
		sz[0] = sz[1] = sz[2] = 0;
		sz[3] = 100;
		send(fd, sz, 4, MSG_NOSIGNAL);
		w_be(&w, (uint32_t)corr, 4);
		w_be(&w, 0, 6);
		send(fd, w.b, w.n, MSG_NOSIGNAL);
		return 2;
	case FAKE_WRONG_CORR:
		api_versions(&w, corr + 1, 1);
		send_frame(fd, &w);
		return 2;
	case FAKE_RANDOM:
		w_be(&w, (uint32_t)corr, 4);
		RAND_bytes(w.b + w.n, 60);
		w.n += 60;
		send_frame(fd, &w);
		return 2;
	case FAKE_NO_QUOTA_API:
		api_versions(&w, corr, 0);
		send_frame(fd, &w);
		return 2;
	default:
		break;
	}
	if (key == 18) {
		api_versions(&w, corr, 1);
		send_frame(fd, &w);
		return 0;
	}
	w_be(&w, (uint32_t)corr, 4);
	w_be(&w, 0, 4); /* throttle */
	if (f->mode == FAKE_CUT_ENTRY && key == 48) {
		w_be(&w, 0, 2);
		w_str(&w, NULL);
		w_be(&w, 1, 4);  /* one entry */
		w_be(&w, 1, 4);  /* one component */
		w_str(&w, "user");
		w_str(&w, "agency-a");
		w_be(&w, 5, 4);  /* five values... */
		w_str(&w, "producer_byte_rate");
		w_be(&w, 0x4130000000000000ULL, 8); /* ...one given */
	} else if (f->mode == FAKE_EVIL_TEXT && key == 48) {
		w_be(&w, 31, 2);
		w_str(&w, "\x1b[31mEVIL\nforged line\r\x7f\xc2\x9b");
		w_be(&w, 0xffffffff, 4);
	} else if (f->mode == FAKE_STRANGER && key == 48) {
		w_be(&w, 0, 2);
		w_str(&w, NULL);
		w_be(&w, 0, 4);
	} else if (f->mode == FAKE_STRANGER && key == 49) {
		w_be(&w, 1, 4);
		w_be(&w, 0, 2);
		w_str(&w, NULL);
		w_be(&w, 1, 4);
		w_str(&w, "user");
		w_str(&w, "someone-else");
	} else {
		return 1;
	}
	send_frame(fd, &w);
	return 0;
}

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	struct pollfd p = { .fd = f->lfd, .events = POLLIN };
	uint8_t hdr[4], req[4096];
	int fd, what = 0;

	if (poll(&p, 1, 20000) <= 0 || (fd = accept(f->lfd, NULL, NULL)) < 0)
		return NULL;
	if (f->mode == FAKE_HTTP) {
		static const char http[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
		read_n(fd, hdr, 4);
		send(fd, http, sizeof(http) - 1, MSG_NOSIGNAL);
		what = 2;
	}
	while (!what) {
		uint32_t size;
		if (read_n(fd, hdr, 4))
			break;
		size = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 |
		       hdr[3];
		if (size < 8 || size > sizeof(req) || read_n(fd, req, size))
			break;
		what = fake_answer(f, fd, (int16_t)(req[0] << 8 | req[1]),
				   (int32_t)((uint32_t)req[4] << 24 | (uint32_t)req[5] << 16 |
					     (uint32_t)req[6] << 8 | req[7]));
	}
	if (what == 2)
		drain(fd);
	close(fd);
	return NULL;
}

static void fake_start(struct fake *f, enum fake_mode mode)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	f->mode = mode;
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &al), 0);
	f->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&f->th, NULL, fake_run, f), 0);
}

static void fake_stop(struct fake *f)
{
	pthread_join(f->th, NULL);
	close(f->lfd);
}

/* One misbehaving server: the call fails with rc, its message names the
 * server (and needle), within the 1 s socket timeout plus slack. */
static void against(enum fake_mode mode, int tls, int apply, int rc, const char *needle)
{
	char servers[64], errstr[2048] = "", cert[1024];
	struct brk_kquota want = kq("agency-a", 1 * MIB, U, U), got;
	struct deconf_conf *c;
	struct fake f;
	int64_t start;
	int got_rc;

	fake_start(&f, mode);
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", f.port);
	c = kconf(servers, tls ? tls_cert("admin", cert, sizeof(cert)) : NULL, NULL);
	kset(c, "kafka.socket.timeout.ms", "1000");
	start = deconf_mono_us();
	got_rc = apply ? brk_kquota_apply(c, &want, 1, NULL, errstr, sizeof(errstr))
		       : brk_kquota_describe(c, "agency-a", &got, errstr, sizeof(errstr));
	if (got_rc == 0 || (rc && got_rc != rc))
		fail_msg("mode %d: rc %d (%s), expected %d: %s", mode, got_rc,
			 deconf_strerror(got_rc), rc, errstr);
	if (!strstr(errstr, servers) || (needle && !strstr(errstr, needle)))
		fail_msg("mode %d: expected '%s' and '%s' in: %s", mode, servers,
			 needle ? needle : "", errstr);
	for (const char *p = errstr; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			fail_msg("mode %d: control or non-ASCII byte in: %s", mode, errstr);
	print_message("mode %d: %s\n", mode, errstr);
	assert_true(deconf_mono_us() - start < 5000000);
	deconf_conf_free(c); /* the client has closed: the fake's drain ends */
	fake_stop(&f);
}

static void test_misbehaving_servers(void **state)
{
	against(FAKE_CLOSE, 0, 0, DECONF_E_IO, "closed the connection");
	against(FAKE_HUGE, 0, 0, DECONF_E_TOOBIG, "2147483647");
	against(FAKE_NEGATIVE, 0, 0, DECONF_E_MALFORMED, NULL);
	against(FAKE_TRUNCATED, 0, 0, DECONF_E_TIMEOUT, "ApiVersions");
	against(FAKE_SILENT, 0, 0, DECONF_E_TIMEOUT, NULL);
	against(FAKE_WRONG_CORR, 0, 0, DECONF_E_MALFORMED, "correlation id");
	against(FAKE_RANDOM, 0, 0, 0, NULL);
	against(FAKE_NO_QUOTA_API, 0, 1, DECONF_E_VERSION, "DescribeClientQuotas");
	against(FAKE_CUT_ENTRY, 0, 0, DECONF_E_MALFORMED, "truncated");
	against(FAKE_EVIL_TEXT, 0, 0, DECONF_E_KAFKA,
		"CLUSTER_AUTHORIZATION_FAILED (31): ?[31mEVIL?forged line????");
	against(FAKE_STRANGER, 0, 1, DECONF_E_MALFORMED, "not altered");
	against(FAKE_HTTP, 1, 0, DECONF_E_IO, "TLS");
}

/* librdkafka's mock cluster (deconfctl dev-kafka) has no quota API. */
static void test_mock_cluster_refused(void **state)
{
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	struct brk_kquota want = kq("agency-a", 1 * MIB, U, U);
	struct deconf_conf *c;
	char errstr[1024];
	size_t changed = 99;
	rd_kafka_t *rk;

	assert_int_equal(rd_kafka_conf_set(kc, "test.mock.num.brokers", "1", errstr,
					   sizeof(errstr)),
			 RD_KAFKA_CONF_OK);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
	assert_non_null(rk);
	c = kconf(rd_kafka_mock_cluster_bootstraps(rd_kafka_handle_mock_cluster(rk)), NULL, NULL);
	assert_int_equal(brk_kquota_apply(c, &want, 1, &changed, errstr, sizeof(errstr)),
			 DECONF_E_VERSION);
	assert_int_equal(changed, 0);
	if (!strstr(errstr, "DescribeClientQuotas"))
		fail_msg("unexpected: %s", errstr);
	deconf_conf_free(c);
	rd_kafka_destroy(rk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plaintext_cycle),
		cmocka_unit_test(test_tls_admin_cycle),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_quota_bites),
		cmocka_unit_test(test_misbehaving_servers),
		cmocka_unit_test(test_mock_cluster_refused),
	};
	uint8_t r[6];

	bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP");
	bootstrap_tls = getenv("DECONF_KRAFT_BOOTSTRAP_TLS");
	tls_dir = getenv("DECONF_KRAFT_TLS_DIR");
	if (!bootstrap || !bootstrap_tls || !tls_dir) {
		fprintf(stderr, "DECONF_KRAFT_* not set: no Kafka to test against (skipped)\n");
		return 77;
	}
	deconf_log_set_program("itest-kquota");
	deconf_log_set_level(DECONF_LOG_WARNING);
	RAND_bytes(r, sizeof(r));
	deconf_hex_encode(hex, r, sizeof(r));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
