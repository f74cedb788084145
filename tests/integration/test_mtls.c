/*
 * test_mtls.c — real Kafka, mTLS listener, StandardAuthorizer.
 *
 * Produces a signed Envelope as principal agency-a (certificate CN) over the
 * SSL listener, consumes it back as agency-a and verifies its signature;
 * agency-b, whose certificate is as good but who has no ACLs, is refused
 * with TOPIC_AUTHORIZATION_FAILED (so principals really come from the CN);
 * a client without a certificate, and one whose certificate another CA
 * signed, cannot connect at all.
 *
 * Needs DECONF_KRAFT_BOOTSTRAP, DECONF_KRAFT_BOOTSTRAP_TLS and
 * DECONF_KRAFT_TLS_DIR (deploy/kafka/kafka.sh env); exits 77 without them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/log.h"
#include "deconf/util.h"

#define WAIT_MS 30000

static const char *bootstrap, *bootstrap_tls, *tls_dir;
static char topic[64], group[64];

/* ------------------------------------------------------------- helpers */

static rd_kafka_conf_t *client_conf(const char *cert_name, const char *ca_name)
{
	rd_kafka_conf_t *kc = NULL;
	char errstr[512], path[512];
	int rc = deconf_kafka_conf_new(&kc, NULL, "itest-mtls", errstr, sizeof(errstr));

	assert_int_equal(rc, 0);
	assert_int_equal(deconf_kafka_conf_set(kc, "bootstrap.servers",
					       cert_name || ca_name ? bootstrap_tls : bootstrap,
					       "test", errstr, sizeof(errstr)),
			 0);
	if (ca_name) {
		assert_int_equal(deconf_kafka_conf_set(kc, "security.protocol", "ssl", "test",
						       errstr, sizeof(errstr)),
				 0);
		snprintf(path, sizeof(path), "%s/%s", tls_dir, ca_name);
		assert_int_equal(deconf_kafka_conf_set(kc, "ssl.ca.location", path, "test",
						       errstr, sizeof(errstr)),
				 0);
	}
	if (cert_name) {
		snprintf(path, sizeof(path), "%s/%s.pem", tls_dir, cert_name);
		assert_int_equal(deconf_kafka_conf_set(kc, "ssl.certificate.location", path,
						       "test", errstr, sizeof(errstr)),
				 0);
		snprintf(path, sizeof(path), "%s/%s.key", tls_dir, cert_name);
		assert_int_equal(deconf_kafka_conf_set(kc, "ssl.key.location", path, "test",
						       errstr, sizeof(errstr)),
				 0);
	}
	return kc;
}

/* The plaintext listener's principal (ANONYMOUS) is a super user. */
static rd_kafka_t *admin_client(void)
{
	char errstr[512];
	rd_kafka_t *rk = deconf_kafka_new(RD_KAFKA_PRODUCER, client_conf(NULL, NULL),
					  errstr, sizeof(errstr));
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

static void create_topic(rd_kafka_t *rk, rd_kafka_queue_t *q)
{
	char errstr[512];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, 1, errstr, sizeof(errstr));
	rd_kafka_event_t *ev;
	const rd_kafka_topic_result_t **res;
	size_t n;

	assert_non_null(nt);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	ev = admin_wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
	res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
	assert_int_equal(n, 1);
	assert_int_equal(rd_kafka_topic_result_error(res[0]), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_event_destroy(ev);
	rd_kafka_NewTopic_destroy(nt);
}

static rd_kafka_AclBinding_t *acl(rd_kafka_ResourceType_t rtype, const char *name,
				  rd_kafka_AclOperation_t op)
{
	char errstr[512];
	rd_kafka_AclBinding_t *b = rd_kafka_AclBinding_new(
		rtype, name, RD_KAFKA_RESOURCE_PATTERN_LITERAL, "User:agency-a", "*", op,
		RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, errstr, sizeof(errstr));
	assert_non_null(b);
	return b;
}

/* agency-a may write and read the test topic and use the test group. */
static void grant_agency_a(rd_kafka_t *rk, rd_kafka_queue_t *q)
{
	rd_kafka_AclBinding_t *b[] = {
		acl(RD_KAFKA_RESOURCE_TOPIC, topic, RD_KAFKA_ACL_OPERATION_WRITE),
		acl(RD_KAFKA_RESOURCE_TOPIC, topic, RD_KAFKA_ACL_OPERATION_READ),
		acl(RD_KAFKA_RESOURCE_TOPIC, topic, RD_KAFKA_ACL_OPERATION_DESCRIBE),
		acl(RD_KAFKA_RESOURCE_GROUP, group, RD_KAFKA_ACL_OPERATION_READ),
	};
	size_t nb = sizeof(b) / sizeof(b[0]), n;
	rd_kafka_event_t *ev;
	const rd_kafka_acl_result_t **res;

	rd_kafka_CreateAcls(rk, b, nb, NULL, q);
	ev = admin_wait(q, RD_KAFKA_EVENT_CREATEACLS_RESULT);
	res = rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(ev), &n);
	assert_int_equal(n, nb);
	for (size_t i = 0; i < n; i++)
		assert_null(rd_kafka_acl_result_error(res[i]));
	rd_kafka_event_destroy(ev);
	for (size_t i = 0; i < nb; i++)
		rd_kafka_AclBinding_destroy(b[i]);
}

struct delivery {
	int done;
	rd_kafka_resp_err_t err;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct delivery *d = m->_private;

	d->done = 1;
	d->err = m->err;
}

/* Produce one record as principal `who`; returns the delivery error. */
static rd_kafka_resp_err_t produce_as(const char *who, const uint8_t *buf, size_t len)
{
	rd_kafka_conf_t *kc = client_conf(who, "ca.pem");
	struct delivery d = { 0 };
	char errstr[512];
	rd_kafka_t *rk;
	rd_kafka_resp_err_t err;

	assert_int_equal(deconf_kafka_conf_set(kc, "message.timeout.ms", "20000", "test",
					       errstr, sizeof(errstr)),
			 0);
	assert_int_equal(deconf_kafka_conf_set(kc, "enable.idempotence", "true", "test",
					       errstr, sizeof(errstr)),
			 0);
	rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
	rk = deconf_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
	assert_non_null(rk);
	err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
				RD_KAFKA_V_KEY("case-1", 6),
				RD_KAFKA_V_VALUE((void *)buf, len),
				RD_KAFKA_V_OPAQUE(&d), RD_KAFKA_V_END);
	assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
	for (int64_t end = deconf_mono_us() + 30000000; !d.done && deconf_mono_us() < end;)
		rd_kafka_poll(rk, 100);
	assert_true(d.done);
	rd_kafka_destroy(rk);
	return d.err;
}

/* ---------------------------------------------------------------- tests */

static void test_produce_consume_signed(void **state)
{
	Deconf__V1__Submission sub = DECONF__V1__SUBMISSION__INIT;
	Deconf__V1__CaseOp op = DECONF__V1__CASE_OP__INIT, *ops[1] = { &op };
	Deconf__V1__TokenRef tr = DECONF__V1__TOKEN_REF__INIT, *trs[1] = { &tr };
	Deconf__V1__Submission *got = NULL;
	struct deconf_sign_key *key = NULL, *other = NULL;
	uint8_t subid[16], token[16], *buf = NULL;
	size_t len;
	char errstr[512];
	rd_kafka_t *admin = admin_client(), *consumer;
	rd_kafka_queue_t *q = rd_kafka_queue_new(admin);
	rd_kafka_conf_t *kc;
	rd_kafka_message_t *m = NULL;
	int found = 0;

	create_topic(admin, q);
	grant_agency_a(admin, q);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(admin);

	assert_int_equal(deconf_sign_key_generate(&key, errstr, sizeof(errstr)), 0);
	assert_int_equal(deconf_sign_key_generate(&other, errstr, sizeof(errstr)), 0);
	RAND_bytes(subid, sizeof(subid));
	RAND_bytes(token, sizeof(token));
	sub.agency_id.data = (uint8_t *)"agency-a";
	sub.agency_id.len = 8;
	sub.submission_id.data = subid;
	sub.submission_id.len = sizeof(subid);
	sub.created_at = deconf_now_ms();
	sub.n_ops = 1;
	sub.ops = ops;
	op.case_ref.data = (uint8_t *)"case-1";
	op.case_ref.len = 6;
	op.op = DECONF__V1__OP__OP_ADD;
	op.n_tokens = 1;
	op.tokens = trs;
	tr.type = DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_PHONE;
	tr.key_epoch = 1;
	tr.token.data = token;
	tr.token.len = sizeof(token);
	assert_int_equal(deconf_envelope_seal(&sub.base,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION,
					      "agency-a", key, &buf, &len),
			 0);

	/* agency-a has WRITE on the topic: accepted. */
	assert_int_equal(produce_as("agency-a", buf, len), RD_KAFKA_RESP_ERR_NO_ERROR);
	/* agency-b's certificate is from the same CA, but it has no ACL. */
	assert_int_equal(produce_as("agency-b", buf, len),
			 RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);

	kc = client_conf("agency-a", "ca.pem");
	assert_int_equal(deconf_kafka_conf_set(kc, "group.id", group, "test", errstr,
					       sizeof(errstr)),
			 0);
	assert_int_equal(deconf_kafka_conf_set(kc, "auto.offset.reset", "earliest", "test",
					       errstr, sizeof(errstr)),
			 0);
	assert_int_equal(deconf_kafka_conf_set(kc, "partition.assignment.strategy", "range",
					       "test", errstr, sizeof(errstr)),
			 0);
	consumer = deconf_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr));
	assert_non_null(consumer);
	rd_kafka_poll_set_consumer(consumer);
	{
		rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(tl, topic, RD_KAFKA_PARTITION_UA);
		assert_int_equal(rd_kafka_subscribe(consumer, tl), 0);
		rd_kafka_topic_partition_list_destroy(tl);
	}
	for (int64_t end = deconf_mono_us() + 60000000; !found && deconf_mono_us() < end;) {
		if (!(m = rd_kafka_consumer_poll(consumer, 200)))
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			rd_kafka_message_destroy(m);
			continue;
		}
		if (m->err)
			fail_msg("consume as agency-a failed: %s", rd_kafka_message_errstr(m));
		found = 1;
	}
	assert_true(found);
	assert_int_equal(m->len, len);
	assert_memory_equal(m->payload, buf, len);
	assert_int_equal(m->key_len, 6);
	/* The record as read back verifies with the writer's key... */
	assert_int_equal(deconf_envelope_open(m->payload, m->len, DECONF_ENVELOPE_MAX_DEFAULT,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION,
					      key, &deconf__v1__submission__descriptor,
					      (ProtobufCMessage **)&got, errstr, sizeof(errstr)),
			 0);
	assert_int_equal(got->n_ops, 1);
	assert_int_equal(got->ops[0]->n_tokens, 1);
	assert_memory_equal(got->ops[0]->tokens[0]->token.data, token, sizeof(token));
	assert_memory_equal(got->submission_id.data, subid, sizeof(subid));
	deconf_msg_free(got);
	got = NULL;
	/* ...and not with anyone else's. */
	assert_int_equal(deconf_envelope_open(m->payload, m->len, DECONF_ENVELOPE_MAX_DEFAULT,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION,
					      other, &deconf__v1__submission__descriptor,
					      (ProtobufCMessage **)&got, errstr, sizeof(errstr)),
			 DECONF_E_BADSIG);
	assert_null(got);
	rd_kafka_message_destroy(m);
	rd_kafka_consumer_close(consumer);
	rd_kafka_destroy(consumer);
	free(buf);
	deconf_sign_key_free(key);
	deconf_sign_key_free(other);
}

/*
 * TLS alerts (RFC 8446 6.2, RFC 5246 7.2), by number and RFC name. OpenSSL
 * 3.0's SSL_alert_desc_string_long() has no name for TLS 1.3's 116.
 */
struct alert {
	int num;
	const char *name;
};

#define CERTIFICATE_REQUIRED { 116, "certificate_required" }
#define BAD_CERTIFICATE { 42, "bad_certificate" }
#define HANDSHAKE_FAILURE { 40, "handshake_failure" }
#define CERTIFICATE_UNKNOWN { 46, "certificate_unknown" }
#define UNKNOWN_CA { 48, "unknown_ca" }

/* One way a client can be refused, and the alerts that say so (the list
 * ends at the first entry without a name, or at N_OK). */
#define N_OK 4
struct refusal {
	const char *why;
	struct alert ok[N_OK];
};

/*
 * No certificate at all. TLS 1.3 has an alert for exactly this (116; newer
 * JDKs send it), TLS 1.2 servers send handshake_failure, and JDK 17's TLS
 * 1.3 still answers bad_certificate (42).
 */
static const struct refusal no_certificate = {
	"no client certificate",
	{ CERTIFICATE_REQUIRED, BAD_CERTIFICATE, HANDSHAKE_FAILURE },
};

/* A certificate the broker's trust store cannot verify: each of these says
 * "your certificate is not acceptable"; nothing more generic is. */
static const struct refusal foreign_ca = {
	"client certificate from an untrusted CA",
	{ CERTIFICATE_UNKNOWN, UNKNOWN_CA, BAD_CERTIFICATE },
};

/* "116 (certificate_required), 42 (bad_certificate), ..." */
static const char *acceptable(const struct refusal *r, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N_OK && r->ok[i].name && off < size; i++) {
		int n = snprintf(buf + off, size - off, "%s%d (%s)", i ? ", " : "",
				 r->ok[i].num, r->ok[i].name);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	return buf;
}

/* The alert number in a librdkafka error text ("...: SSL alert number 42"),
 * -1 without one. */
static int alert_number(const char *reason)
{
	const char *p = strstr(reason, "alert number ");
	char *end;
	long v;

	if (!p)
		return -1;
	v = strtol(p + strlen("alert number "), &end, 10);
	return end == p + strlen("alert number ") || v < 0 || v > 255 ? -1 : (int)v;
}

struct conn_errors {
	const struct refusal *want;
	int refused; /* __TRANSPORT/__SSL errors carrying an acceptable alert */
	int alert;   /* the first of those alerts */
	int other;   /* any other error (all-brokers-down aside) */
	char first_other[768];
};

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct conn_errors *e = opaque;
	int alert = -1;

	/* Follows from the one broker refusing us: not a kind of its own. */
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		return;
	if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__SSL)
		alert = alert_number(reason);
	for (size_t i = 0; alert >= 0 && i < N_OK && e->want->ok[i].name; i++) {
		if (e->want->ok[i].num == alert) {
			if (!e->refused++)
				e->alert = alert;
			return;
		}
	}
	if (!e->other++) {
		if (alert >= 0)
			snprintf(e->first_other, sizeof(e->first_other),
				 "TLS alert %d, not an acceptable one (%s: %s)", alert,
				 rd_kafka_err2name(err), reason);
		else
			snprintf(e->first_other, sizeof(e->first_other), "%s: %s",
				 rd_kafka_err2name(err), reason);
	}
}

/*
 * A client that cannot present an acceptable certificate gets no metadata:
 * the broker ends the TLS handshake with an alert, which librdkafka reports
 * as a transport (or SSL) error carrying the alert number. Which alert a
 * conforming server sends for a cause varies (by TLS version and JDK), so
 * each cause has a set; an alert outside it, or any other kind of error
 * (a timeout, a plain disconnect, an authorization error after a completed
 * handshake), fails. Asserted by what the client was told, not by waiting
 * for a timeout.
 */
static void expect_refused(const char *cert, const char *ca, const struct refusal *want)
{
	rd_kafka_conf_t *kc = client_conf(cert, ca);
	struct conn_errors e = { .want = want, .alert = -1 };
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err;
	char errstr[512], ok[256];
	rd_kafka_t *rk;

	rd_kafka_conf_set_error_cb(kc, error_cb);
	rd_kafka_conf_set_opaque(kc, &e);
	rk = deconf_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
	assert_non_null(rk);
	for (int i = 0; i < 100 && !e.refused && !e.other; i++)
		rd_kafka_poll(rk, 100);
	if (e.other)
		fail_msg("%s: expected a TLS alert, one of %s; first other error: %s", want->why,
			 acceptable(want, ok, sizeof(ok)), e.first_other);
	if (!e.refused)
		fail_msg("%s: no TLS alert within 10 s (acceptable: %s)", want->why,
			 acceptable(want, ok, sizeof(ok)));

	err = rd_kafka_metadata(rk, 0, NULL, &md, 1000);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_metadata_destroy(md);
		fail_msg("%s: refused with alert %d, yet metadata was obtained", want->why,
			 e.alert);
	}
	assert_null(md);
	/* Errors raised while metadata() waited (reconnects) are held to the
	 * same rule. */
	rd_kafka_poll(rk, 0);
	if (e.other)
		fail_msg("%s: after alert %d, another kind of error: %s (acceptable alerts: %s)",
			 want->why, e.alert, e.first_other, acceptable(want, ok, sizeof(ok)));
	print_message("%s: refused with TLS alert %d, %d time(s)\n", want->why, e.alert,
		      e.refused);
	rd_kafka_destroy(rk);
}

static void test_no_certificate_refused(void **state)
{
	expect_refused(NULL, "ca.pem", &no_certificate);
}

static void test_foreign_ca_certificate_refused(void **state)
{
	/* CN=agency-a, but signed by the rogue CA the broker does not trust. */
	expect_refused("rogue", "ca.pem", &foreign_ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_produce_consume_signed),
		cmocka_unit_test(test_no_certificate_refused),
		cmocka_unit_test(test_foreign_ca_certificate_refused),
	};
	uint8_t r[6];
	char hex[13];

	bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP");
	bootstrap_tls = getenv("DECONF_KRAFT_BOOTSTRAP_TLS");
	tls_dir = getenv("DECONF_KRAFT_TLS_DIR");
	if (!bootstrap || !bootstrap_tls || !tls_dir) {
		fprintf(stderr, "DECONF_KRAFT_* not set: no Kafka to test against (skipped)\n");
		return 77;
	}
	deconf_log_set_program("itest-mtls");
	deconf_log_set_level(DECONF_LOG_WARNING);
	RAND_bytes(r, sizeof(r));
	deconf_hex_encode(hex, r, sizeof(r));
	snprintf(topic, sizeof(topic), "itest.mtls.%s", hex);
	snprintf(group, sizeof(group), "itest-mtls-%s", hex);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
