/*
 * test_ingest.c — deconf-broker's ingest against the real Kafka.
 *
 * A throwaway federation under its own topic prefix (so the normal and the
 * sanitizer passes never see each other's records): a federation key, a
 * directory with an active and a suspended agency (and a forged entry the
 * broker must ignore), deconf.tokens with 4 partitions. The real
 * deconf-broker runs ingest; the real deconf-adapter submits.
 *
 *   - an adapter's submission becomes exactly its token ops on
 *     deconf.tokens, read_committed, each on the partition murmur2(token)
 *     picks (what a Java client computes);
 *   - malformed, oversized, unsigned, wrongly signed, foreign-agency,
 *     replayed and suspended-agency records each produce one signed Reject
 *     with the right reason, and nothing on deconf.tokens; an identical
 *     resend (an adapter recovering from a crash) produces nothing at all;
 *   - the broker keeps running: a later submission still goes through, and
 *     SIGTERM stops it cleanly;
 *   - the adapter's submissions are answered: it waits for their receipts
 *     (signed by the broker) and exits 0 only once they said accepted.
 *
 * Needs DECONF_KRAFT_BOOTSTRAP; exits 77 without it.
 */
#include <sys/prctl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/token.h"
#include "deconf/util.h"

#define R(x) DECONF__V1__REJECT_REASON__REJECT_REASON_##x
#define N_TOKEN_PARTITIONS 4

static const char *bootstrap;
static pid_t broker_pid; /* killed at exit if a failed test left it running */

static void kill_broker(void)
{
	if (broker_pid > 0)
		kill(broker_pid, SIGKILL);
}

struct fed {
	char dir[128], prefix[32], log[192], bconf[192], aconf[192];
	/* fed_key signs the directory (the operator's, never on the broker's
	 * host); broker_key is the broker's own: rejects, receipts */
	struct deconf_sign_key *fed_key, *broker_key, *agency_key, *rogue;
	pid_t broker;
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *extra_key, const char *extra_val)
{
	rd_kafka_conf_t *kc = NULL;
	char errstr[512];
	rd_kafka_t *rk;

	assert_int_equal(deconf_kafka_conf_new(&kc, NULL, "itest-ingest", errstr, sizeof(errstr)),
			 0);
	assert_int_equal(deconf_kafka_conf_set(kc, "bootstrap.servers", bootstrap, "t", errstr,
					       sizeof(errstr)),
			 0);
	if (extra_key)
		assert_int_equal(deconf_kafka_conf_set(kc, extra_key, extra_val, "t", errstr,
						       sizeof(errstr)),
				 0);
	/* readers stop at a partition's end as soon as it is reached */
	if (type == RD_KAFKA_CONSUMER)
		assert_int_equal(deconf_kafka_conf_set(kc, "enable.partition.eof", "true", "t",
						       errstr, sizeof(errstr)),
				 0);
	assert_non_null(rk = deconf_kafka_new(type, kc, errstr, sizeof(errstr)));
	return rk;
}

static void create_topic(const char *name, int partitions)
{
	rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, NULL, NULL);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	char errstr[256];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(name, partitions, 1, errstr, sizeof(errstr));
	rd_kafka_event_t *ev;
	const rd_kafka_topic_result_t **res;
	size_t n;

	assert_non_null(nt);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	assert_non_null(ev = rd_kafka_queue_poll(q, 30000));
	res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
	assert_int_equal(n, 1);
	assert_int_equal(rd_kafka_topic_result_error(res[0]), 0);
	rd_kafka_event_destroy(ev);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
}

static void produce(const char *topic, const void *key, size_t klen, const void *val,
		    size_t len)
{
	rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, NULL, NULL);

	assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
					   RD_KAFKA_V_KEY((void *)key, klen),
					   RD_KAFKA_V_VALUE((void *)val, len),
					   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
			 0);
	assert_int_equal(rd_kafka_flush(rk, 30000), 0);
	rd_kafka_destroy(rk);
}

static void directory_entry(struct fed *f, const char *id, int status,
			    const struct deconf_sign_key *signer)
{
	Deconf__V1__DirectoryEntry e = DECONF__V1__DIRECTORY_ENTRY__INIT;
	uint8_t pub[DECONF_PUBKEY_LEN], *buf;
	size_t len;
	char topic[64];

	deconf_sign_key_public(f->agency_key, pub);
	e.agency_id.data = (uint8_t *)id;
	e.agency_id.len = strlen(id);
	e.name = "Test Agency";
	e.country = "US";
	e.level = DECONF__V1__AGENCY_LEVEL__AGENCY_LEVEL_STATE;
	e.signing_public_key.data = pub;
	e.signing_public_key.len = sizeof(pub);
	e.status = status;
	assert_int_equal(deconf_envelope_seal(&e.base,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_DIRECTORY_ENTRY,
					      "federation", signer, &buf, &len),
			 0);
	snprintf(topic, sizeof(topic), "%sdirectory", f->prefix);
	produce(topic, id, strlen(id), buf, len);
	free(buf);
}

static void fed_new(struct fed *f)
{
	char path[256], errstr[256], text[2048], hex[9];
	struct deconf_keyring *ring = NULL;
	uint8_t r[4];

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/itest-ingest.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	RAND_bytes(r, sizeof(r));
	snprintf(f->prefix, sizeof(f->prefix), "it%s.", deconf_hex_encode(hex, r, sizeof(r)));
	snprintf(f->log, sizeof(f->log), "%s/run.log", f->dir);
	assert_int_equal(deconf_sign_key_generate(&f->fed_key, errstr, sizeof(errstr)), 0);
	assert_int_equal(deconf_sign_key_generate(&f->broker_key, errstr, sizeof(errstr)), 0);
	assert_int_equal(deconf_sign_key_generate(&f->agency_key, errstr, sizeof(errstr)), 0);
	assert_int_equal(deconf_sign_key_generate(&f->rogue, errstr, sizeof(errstr)), 0);
	snprintf(path, sizeof(path), "%s/broker.key", f->dir);
	assert_int_equal(deconf_sign_key_save_private(f->broker_key, path, errstr, sizeof(errstr)),
			 0);
	snprintf(path, sizeof(path), "%s/federation.pub", f->dir);
	assert_int_equal(deconf_sign_key_save_public(f->fed_key, path, errstr, sizeof(errstr)), 0);
	snprintf(path, sizeof(path), "%s/agency.key", f->dir);
	assert_int_equal(deconf_sign_key_save_private(f->agency_key, path, errstr, sizeof(errstr)),
			 0);
	/* the adapter checks the broker's receipts with its public key */
	snprintf(path, sizeof(path), "%s/broker.pub", f->dir);
	assert_int_equal(deconf_sign_key_save_public(f->broker_key, path, errstr, sizeof(errstr)),
			 0);
	assert_int_equal(deconf_keyring_new(&ring), 0);
	assert_int_equal(deconf_keyring_rotate(ring, NULL), 0);
	snprintf(path, sizeof(path), "%s/federation.keys", f->dir);
	assert_int_equal(deconf_keyring_save(ring, path, 1, errstr, sizeof(errstr)), 0);
	deconf_keyring_free(ring);

	snprintf(f->bconf, sizeof(f->bconf), "%s/broker.conf", f->dir);
	snprintf(text, sizeof(text),
		 "[broker]\nsigning_key = %s/broker.key\nfederation_key = %s/federation.pub\n"
		 "topic_prefix = %s\ninstance = a\nparts = ingest\n"
		 "[ingest]\nmax_record_bytes = 8k\n[http]\nport = 0\n[log]\nlevel = info\n"
		 "[kafka]\nbootstrap.servers = %s\nsession.timeout.ms = 6000\n",
		 f->dir, f->dir, f->prefix, bootstrap);
	write_file(f->bconf, text);
	snprintf(f->aconf, sizeof(f->aconf), "%s/agency.conf", f->dir);
	snprintf(text, sizeof(text),
		 "[agency]\nid = agency-a\nkey_file = %s/federation.keys\n"
		 "signing_key = %s/agency.key\ntopic_prefix = %s\n"
		 "broker_public_key = %s/broker.pub\n"
		 "[ledger]\ndir = %s/ledger\n[submit]\nconfirm_timeout = 60s\n"
		 "[kafka]\nbootstrap.servers = %s\n",
		 f->dir, f->dir, f->prefix, f->dir, f->dir, bootstrap);
	write_file(f->aconf, text);

	snprintf(path, sizeof(path), "%stokens", f->prefix);
	create_topic(path, N_TOKEN_PARTITIONS);
	directory_entry(f, "agency-a", DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_ACTIVE, f->fed_key);
	directory_entry(f, "agency-s", DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_SUSPENDED,
			f->fed_key);
	/* forged: not signed by the federation key; must not exist for the broker */
	directory_entry(f, "agency-x", DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_ACTIVE, f->rogue);
	/* forged on a taken broker host, with the broker's own key: the same */
	directory_entry(f, "agency-y", DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_ACTIVE,
			f->broker_key);
}

static void broker_start(struct fed *f)
{
	f->broker = fork();
	assert_true(f->broker >= 0);
	if (f->broker == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test, even a crashed one */
		FILE *lf = fopen(f->log, "a");
		if (!lf)
			_exit(127);
		dup2(fileno(lf), 2);
		execl(BROKER_BIN, BROKER_BIN, "-c", f->bconf, (char *)NULL);
		_exit(127);
	}
	broker_pid = f->broker;
}

static int broker_stop(struct fed *f)
{
	int st;

	kill(f->broker, SIGTERM);
	assert_int_equal(waitpid(f->broker, &st, 0), f->broker);
	broker_pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void fed_free(struct fed *f)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "grep -q 'Sanitizer\\|runtime error' '%s'", f->log);
	if (system(cmd) == 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s' >&2", f->log);
		assert_int_equal(system(cmd), 0);
		fail_msg("sanitizer report in %s", f->log);
	}
	deconf_sign_key_free(f->fed_key);
	deconf_sign_key_free(f->broker_key);
	deconf_sign_key_free(f->agency_key);
	deconf_sign_key_free(f->rogue);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
}

/* Java's murmur2 partitioner (Utils.murmur2, toPositive % n). */
static int32_t murmur2_partition(const uint8_t *data, size_t len, int32_t n)
{
	const uint32_t m = 0x5bd1e995;
	uint32_t h = 0x9747b28c ^ (uint32_t)len;
	size_t i = 0;

	for (; i + 4 <= len; i += 4) {
		uint32_t k = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 |
			     (uint32_t)data[i + 2] << 16 | (uint32_t)data[i + 3] << 24;
		k *= m;
		k ^= k >> 24;
		k *= m;
		h *= m;
		h ^= k;
	}
	switch (len & 3) {
	case 3: h ^= (uint32_t)data[i + 2] << 16; /* fall through */
	case 2: h ^= (uint32_t)data[i + 1] << 8;  /* fall through */
	case 1: h ^= data[i]; h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return (int32_t)((h & 0x7fffffff) % (uint32_t)n);
}

struct reads {
	size_t tokens, rejects;
	int reasons[32];
	uint8_t tok[64][16];
};

/*
 * One record of <prefix>rejects.<agency>: a Reject signed with the broker's
 * key (the federation key here), with a known reason and a detail, naming
 * the agency and the submit topic it refused a record of; the submission's
 * id unless the record could not be parsed at all. Counted into out.
 */
static void check_reject(struct fed *f, const rd_kafka_message_t *m, const char *agency,
			 struct reads *out)
{
	ProtobufCMessage *msg = NULL;
	Deconf__V1__Reject *r;
	char errstr[256], topic[96];
	int rc;

	rc = deconf_envelope_open(m->payload, m->len, 1 << 20,
				  DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_REJECT, f->broker_key,
				  &deconf__v1__reject__descriptor, &msg, errstr, sizeof(errstr));
	if (rc)
		fail_msg("%s [%d] offset %lld: not a Reject signed with the broker's key: %s",
			 rd_kafka_topic_name(m->rkt), m->partition, (long long)m->offset, errstr);
	r = (Deconf__V1__Reject *)msg;
	assert_true(r->reason > 0 && r->reason < 32);
	assert_non_null(protobuf_c_enum_descriptor_get_value(&deconf__v1__reject_reason__descriptor,
							     r->reason));
	assert_true(r->detail && *r->detail);
	assert_int_equal(r->agency_id.len, strlen(agency));
	assert_memory_equal(r->agency_id.data, agency, strlen(agency));
	snprintf(topic, sizeof(topic), "%ssubmit.%s", f->prefix, agency);
	assert_string_equal(r->topic, topic);
	/* a refusal of what the submission says names it; a record that is
	 * no envelope has no id to name (the broker reads a payload only once
	 * its signature verified, so other refusals may name none either) */
	switch (r->reason) {
	case R(FOREIGN_AGENCY):
	case R(REPLAYED):
	case R(INVALID_OP):
	case R(STALE_EPOCH):
	case R(UNKNOWN_EPOCH):
	case R(BAD_TEXT):
		assert_int_equal(r->submission_id.len, 16);
		break;
	case R(OVERSIZED):
		assert_int_equal(r->submission_id.len, 0);
		break;
	default:
		break;
	}
	out->reasons[r->reason]++;
	out->rejects++;
	deconf_msg_free(msg);
}

/* Every committed Reject on <prefix>rejects.<agency>, checked as
 * check_reject does, waiting until at least want arrived (or wait_s). */
static void read_rejects(struct fed *f, const char *agency, struct reads *out, size_t want,
			 int wait_s)
{
	int64_t end = deconf_mono_us() + (int64_t)wait_s * 1000000;
	char topic[96];

	snprintf(topic, sizeof(topic), "%srejects.%s", f->prefix, agency);
	do {
		rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, "isolation.level", "read_committed");
		rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
		int64_t lo = 0, hi = 0;

		memset(out, 0, sizeof(*out));
		if (!rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, 5000) && hi > lo) {
			assert_int_equal(rd_kafka_consume_start(rkt, 0, RD_KAFKA_OFFSET_BEGINNING), 0);
			for (int idle = 0; idle < 8;) {
				rd_kafka_message_t *m = rd_kafka_consume(rkt, 0, 250);
				int eof;

				if (!m) {
					idle++;
					continue;
				}
				eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
				if (!m->err)
					check_reject(f, m, agency, out);
				rd_kafka_message_destroy(m);
				if (eof)
					break;
			}
			rd_kafka_consume_stop(rkt, 0);
		}
		rd_kafka_topic_destroy(rkt);
		rd_kafka_destroy(rk);
		if (out->rejects >= want)
			return;
		usleep(250000);
	} while (deconf_mono_us() < end);
}

/* Read every committed record of <prefix>tokens and rejects.agency-a (and
 * check each), waiting until at least want_tokens/want_rejects arrived. */
static void read_topics(struct fed *f, struct reads *out, size_t want_tokens,
			size_t want_rejects, int wait_s)
{
	char tokens[64], rejects[64];
	int64_t end = deconf_mono_us() + (int64_t)wait_s * 1000000;

	snprintf(tokens, sizeof(tokens), "%stokens", f->prefix);
	snprintf(rejects, sizeof(rejects), "%srejects.agency-a", f->prefix);
	do {
		rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, "isolation.level", "read_committed");
		const char *topics[2] = { tokens, rejects };

		memset(out, 0, sizeof(*out));
		for (int t = 0; t < 2; t++) {
			rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topics[t], NULL);
			int np = t == 0 ? N_TOKEN_PARTITIONS : 1;

			for (int p = 0; p < np; p++) {
				int64_t lo = 0, hi = 0;
				if (rd_kafka_query_watermark_offsets(rk, topics[t], p, &lo, &hi,
								     5000) ||
				    hi <= lo)
					continue;
				assert_int_equal(rd_kafka_consume_start(rkt, p,
									RD_KAFKA_OFFSET_BEGINNING),
						 0);
				for (int idle = 0; idle < 8;) {
					rd_kafka_message_t *m = rd_kafka_consume(rkt, p, 250);
					ProtobufCMessage *msg = NULL;
					char errstr[256];

					if (!m) {
						idle++;
						continue;
					}
					if (m->err) {
						int eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
						rd_kafka_message_destroy(m);
						if (eof)
							break;
						continue;
					}
					if (t == 0) {
						Deconf__V1__TokenOp *op;
						/* internal: unsigned envelopes */
						assert_int_equal(
							deconf_envelope_unpack(m->payload, m->len,
									       1 << 20,
									       (Deconf__V1__Envelope **)&msg,
									       errstr, sizeof(errstr)),
							0);
						assert_int_equal(((Deconf__V1__Envelope *)msg)->type,
								 DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_TOKEN_OP);
						ProtobufCMessage *inner = NULL;
						assert_int_equal(deconf_envelope_payload(
									 (Deconf__V1__Envelope *)msg,
									 &deconf__v1__token_op__descriptor,
									 &inner, errstr, sizeof(errstr)),
								 0);
						op = (Deconf__V1__TokenOp *)inner;
						assert_int_equal(op->token.len, 16);
						assert_int_equal(m->key_len, 16);
						assert_memory_equal(m->key, op->token.data, 16);
						assert_int_equal(m->partition,
								 murmur2_partition(op->token.data, 16,
										   N_TOKEN_PARTITIONS));
						assert_int_equal(op->agency_id.len, 8);
						assert_memory_equal(op->agency_id.data, "agency-a", 8);
						if (out->tokens < 64)
							memcpy(out->tok[out->tokens], op->token.data, 16);
						out->tokens++;
						deconf_msg_free(inner);
					} else {
						check_reject(f, m, "agency-a", out);
					}
					deconf_msg_free(msg);
					rd_kafka_message_destroy(m);
				}
				rd_kafka_consume_stop(rkt, p);
			}
			rd_kafka_topic_destroy(rkt);
		}
		rd_kafka_destroy(rk);
		if (out->tokens >= want_tokens && out->rejects >= want_rejects)
			return;
		usleep(500000);
	} while (deconf_mono_us() < end);
}

/* Whether the run log holds what within wait_s seconds. */
static int log_says(struct fed *f, const char *what, int wait_s)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "grep -qF '%s' '%s'", what, f->log);
	for (int i = 0; i < wait_s * 4; i++) {
		if (system(cmd) == 0)
			return 1;
		usleep(250000);
	}
	return 0;
}

static int adapter(struct fed *f, const char *args)
{
	char cmd[1024];
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' -c '%s' --no-progress %s >>'%s' 2>&1", ADAPTER_BIN, f->aconf,
		 args, f->log);
	st = system(cmd);
	st = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (st) { /* the run's log says why: the directory is removed only on success */
		snprintf(cmd, sizeof(cmd), "echo '--- %s:' >&2; tail -n 60 '%s' >&2", f->log,
			 f->log);
		if (system(cmd) != 0)
			fprintf(stderr, "(cannot show %s)\n", f->log);
	}
	return st;
}

/* A submission of agency-a built by hand, sealed with key. */
static uint8_t *hand_submission(const char *agency, const uint8_t id[16], const char *case_ref,
				const struct deconf_sign_key *key, size_t *len)
{
	Deconf__V1__Submission s = DECONF__V1__SUBMISSION__INIT;
	Deconf__V1__CaseOp op = DECONF__V1__CASE_OP__INIT, *ops[1] = { &op };
	Deconf__V1__TokenRef t = DECONF__V1__TOKEN_REF__INIT, *ts[1] = { &t };
	uint8_t tok[16], *buf;

	memset(tok, id[0], sizeof(tok));
	s.agency_id.data = (uint8_t *)agency;
	s.agency_id.len = strlen(agency);
	s.submission_id.data = (uint8_t *)id;
	s.submission_id.len = 16;
	s.created_at = deconf_now_ms();
	s.ops = ops;
	s.n_ops = 1;
	op.case_ref.data = (uint8_t *)case_ref;
	op.case_ref.len = strlen(case_ref);
	op.op = DECONF__V1__OP__OP_ADD;
	op.tokens = ts;
	op.n_tokens = 1;
	t.type = DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_MD5;
	t.key_epoch = 1;
	t.token.data = tok;
	t.token.len = 16;
	assert_int_equal(deconf_envelope_seal(&s.base,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION,
					      agency, key, &buf, len),
			 0);
	return buf;
}

static void test_ingest(void **state)
{
	struct fed f;
	struct reads r;
	char path[256], topic[64], csv[512];
	uint8_t id[16], *buf, *big;
	size_t len;

	fed_new(&f);
	broker_start(&f);
	snprintf(path, sizeof(path), "%s/cases.csv", f.dir);
	write_file(path, "case_ref,type,value\nC-1,phone,(555) 010-1111\n"
			 "C-1,email,ingest@example.org\nC-2,md5,d41d8cd98f00b204e9800998ecf8427e\n");
	snprintf(csv, sizeof(csv), "submit '%s'", path);
	assert_int_equal(adapter(&f, csv), 0);
	read_topics(&f, &r, 3, 0, 60);
	assert_int_equal(r.tokens, 3);
	assert_int_equal(r.rejects, 0);

	/* the bad ones, straight onto agency-a's submit topic */
	snprintf(topic, sizeof(topic), "%ssubmit.agency-a", f.prefix);
	produce(topic, "k", 1, "\xff\xfe garbage", 10);                      /* malformed */
	big = calloc(1, 9000);
	produce(topic, "k", 1, big, 9000);                                    /* oversized */
	free(big);
	memset(id, 0xa1, 16);
	buf = hand_submission("agency-a", id, "H-1", NULL, &len);             /* unsigned */
	produce(topic, "k", 1, buf, len);
	free(buf);
	memset(id, 0xa2, 16);
	buf = hand_submission("agency-a", id, "H-1", f.rogue, &len);          /* wrong key */
	produce(topic, "k", 1, buf, len);
	free(buf);
	memset(id, 0xa3, 16);
	buf = hand_submission("agency-b", id, "H-1", f.agency_key, &len);     /* foreign */
	produce(topic, "k", 1, buf, len);
	free(buf);
	memset(id, 0xa4, 16);
	buf = hand_submission("agency-a", id, "H-1", f.agency_key, &len);     /* accepted */
	produce(topic, "k", 1, buf, len);
	produce(topic, "k", 1, buf, len); /* identical resend: dropped silently */
	free(buf);
	buf = hand_submission("agency-a", id, "H-2", f.agency_key, &len);     /* replayed id */
	produce(topic, "k", 1, buf, len);
	free(buf);
	/* a suspended agency, and the forged one: their own topics */
	snprintf(topic, sizeof(topic), "%ssubmit.agency-s", f.prefix);
	memset(id, 0xa5, 16);
	buf = hand_submission("agency-s", id, "S-1", f.agency_key, &len);
	produce(topic, "k", 1, buf, len);
	free(buf);
	snprintf(topic, sizeof(topic), "%ssubmit.agency-x", f.prefix);
	buf = hand_submission("agency-x", id, "X-1", f.agency_key, &len);
	produce(topic, "k", 1, buf, len);
	free(buf);
	snprintf(topic, sizeof(topic), "%ssubmit.agency-y", f.prefix);
	buf = hand_submission("agency-y", id, "Y-1", f.agency_key, &len);
	produce(topic, "k", 1, buf, len);
	free(buf);

	/* and a later adapter submission still goes through */
	snprintf(path, sizeof(path), "%s/more.csv", f.dir);
	write_file(path, "case_ref,type,value\nC-3,sha1,da39a3ee5e6b4b0d3255bfef95601890afd80709\n");
	snprintf(csv, sizeof(csv), "submit '%s'", path);
	assert_int_equal(adapter(&f, csv), 0);
	read_topics(&f, &r, 5, 6, 90);
	assert_int_equal(r.tokens, 5); /* 3 + the accepted hand-made one + C-3 */
	assert_int_equal(r.rejects, 6);
	assert_int_equal(r.reasons[R(MALFORMED)], 1);
	assert_int_equal(r.reasons[R(OVERSIZED)], 1);
	assert_int_equal(r.reasons[R(UNSIGNED)], 1);
	assert_int_equal(r.reasons[R(BAD_SIGNATURE)], 1);
	assert_int_equal(r.reasons[R(FOREIGN_AGENCY)], 1);
	assert_int_equal(r.reasons[R(REPLAYED)], 1);
	/* the suspended agency was told why, on its own rejects topic,
	 * signed by the broker */
	read_rejects(&f, "agency-s", &r, 1, 10);
	assert_int_equal(r.rejects, 1);
	assert_int_equal(r.reasons[R(SUSPENDED_AGENCY)], 1);
	/* agencies whose directory entries were signed by a rogue key, or by
	 * the broker's own (a taken broker host): unknown, nothing of theirs
	 * reached deconf.tokens (counted above: 5) */
	assert_true(log_says(&f, "submit.agency-x [0] offset 0: unknown_agency", 10));
	assert_true(log_says(&f, "submit.agency-y [0] offset 0: unknown_agency", 10));
	/* (an unknown agency has no rejects topic: nothing is written for it) */
	read_rejects(&f, "agency-y", &r, 0, 1);
	assert_int_equal(r.rejects, 0);
	assert_int_equal(broker_stop(&f), 0);
	fed_free(&f);
}

static int cmp32(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* Every committed token op of <prefix>tokens: count, and count distinct
 * (submission id, token) pairs. */
static void count_token_ops(struct fed *f, size_t *total, size_t *distinct)
{
	char tokens[64];
	rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, "isolation.level", "read_committed");
	rd_kafka_topic_t *rkt;
	uint8_t (*seen)[32] = NULL;
	size_t n = 0, cap = 0;

	snprintf(tokens, sizeof(tokens), "%stokens", f->prefix);
	rkt = rd_kafka_topic_new(rk, tokens, NULL);
	*total = 0;
	for (int p = 0; p < N_TOKEN_PARTITIONS; p++) {
		/* While the broker commits a transaction every few milliseconds a
		 * read_committed reader never reaches the partition's end (it
		 * moves on before the reader gets there), so a reading of a moving
		 * stream is bounded in time: it counts what was committed by then. */
		int64_t until = deconf_mono_us() + 1500000;

		assert_int_equal(rd_kafka_consume_start(rkt, p, RD_KAFKA_OFFSET_BEGINNING), 0);
		for (int idle = 0; idle < 8 && deconf_mono_us() < until;) {
			rd_kafka_message_t *m = rd_kafka_consume(rkt, p, 250);
			Deconf__V1__Envelope *env = NULL;
			ProtobufCMessage *inner = NULL;
			Deconf__V1__TokenOp *op;

			if (!m) {
				idle++;
				continue;
			}
			if (m->err) {
				int eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
				rd_kafka_message_destroy(m);
				if (eof)
					break;
				continue;
			}
			assert_int_equal(deconf_envelope_unpack(m->payload, m->len, 1 << 20, &env,
								NULL, 0),
					 0);
			assert_int_equal(deconf_envelope_payload(env, &deconf__v1__token_op__descriptor,
								 &inner, NULL, 0),
					 0);
			op = (Deconf__V1__TokenOp *)inner;
			(*total)++;
			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				assert_non_null(seen = realloc(seen, cap * 32));
			}
			memcpy(seen[n], op->submission_id.data, 16);
			memcpy(seen[n] + 16, op->token.data, 16);
			n++;
			deconf_msg_free(inner);
			deconf_msg_free(env);
			rd_kafka_message_destroy(m);
		}
		rd_kafka_consume_stop(rkt, p);
	}
	/* distinct (submission id, token) pairs */
	if (n)
		qsort(seen, n, 32, cmp32);
	*distinct = n ? 1 : 0;
	for (size_t i = 1; i < n; i++)
		if (memcmp(seen[i - 1], seen[i], 32))
			(*distinct)++;
	free(seen);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
}

/* The stream: n signed submissions of 10 tokens, one every gap_us. */
struct stream {
	struct fed *f;
	int n, gap_us;
	volatile int done;
};

static void *stream_main(void *arg)
{
	struct stream *st = arg;
	char topic[64];
	rd_kafka_t *rk;

	snprintf(topic, sizeof(topic), "%ssubmit.agency-a", st->f->prefix);
	rk = client(RD_KAFKA_PRODUCER, "linger.ms", "1");
	for (int i = 0; i < st->n; i++) {
		Deconf__V1__Submission s = DECONF__V1__SUBMISSION__INIT;
		Deconf__V1__CaseOp op = DECONF__V1__CASE_OP__INIT, *ops[1] = { &op };
		Deconf__V1__TokenRef t[10], *ts[10];
		uint8_t id[16], tok[10][16], *buf;
		size_t len;
		char ref[32];

		RAND_bytes(id, sizeof(id));
		snprintf(ref, sizeof(ref), "K-%d", i);
		for (int j = 0; j < 10; j++) {
			deconf__v1__token_ref__init(&t[j]);
			RAND_bytes(tok[j], 16);
			t[j].type = DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_SHA256;
			t[j].key_epoch = 1;
			t[j].token.data = tok[j];
			t[j].token.len = 16;
			ts[j] = &t[j];
		}
		s.agency_id.data = (uint8_t *)"agency-a";
		s.agency_id.len = 8;
		s.submission_id.data = id;
		s.submission_id.len = 16;
		s.created_at = deconf_now_ms();
		s.ops = ops;
		s.n_ops = 1;
		op.case_ref.data = (uint8_t *)ref;
		op.case_ref.len = strlen(ref);
		op.op = DECONF__V1__OP__OP_ADD;
		op.tokens = ts;
		op.n_tokens = 10;
		if (deconf_envelope_seal(&s.base, DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION,
					 "agency-a", st->f->agency_key, &buf, &len) ||
		    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(buf, len),
				      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END))
			abort();
		rd_kafka_poll(rk, 0);
		usleep((useconds_t)st->gap_us);
	}
	rd_kafka_flush(rk, 30000);
	rd_kafka_destroy(rk);
	st->done = 1;
	return NULL;
}

/*
 * Crash safety: while a stream of submissions is flowing, SIGKILL the
 * broker twice, each time once it has committed more than before, and
 * restart it; in the end every token op is on deconf.tokens exactly once.
 */
static void test_sigkill(void **state)
{
	struct fed f;
	struct stream st = { .n = 1500, .gap_us = 20000 }; /* ~30 s of stream */
	size_t total = 0, distinct = 0, expect = 15000;
	char topic[64];
	pthread_t th;
	int kills = 0;

	fed_new(&f);
	st.f = &f;
	/* the topic exists before the broker subscribes: no wait for the
	 * pattern to pick it up */
	snprintf(topic, sizeof(topic), "%ssubmit.agency-a", f.prefix);
	create_topic(topic, 1);
	{
		FILE *c = fopen(f.bconf, "a");
		assert_non_null(c);
		fprintf(c, "[ingest]\nbatch_max = 3\n");
		fclose(c);
	}
	assert_int_equal(pthread_create(&th, NULL, stream_main, &st), 0);
	for (int round = 0; round < 2; round++) {
		size_t now = 0, d = 0;
		broker_start(&f);
		for (int i = 0; i < 120 && now <= total && !st.done; i++) {
			usleep(250000);
			count_token_ops(&f, &now, &d);
		}
		kill(f.broker, SIGKILL);
		waitpid(f.broker, NULL, 0);
		broker_pid = 0;
		print_message("round %d: killed with %zu token ops committed\n", round, now);
		if (now > total && now < expect)
			kills++; /* killed mid-stream, after progress */
		total = now;
	}
	broker_start(&f);
	pthread_join(th, NULL);
	for (int i = 0; i < 120 && distinct < expect; i++) {
		usleep(500000);
		count_token_ops(&f, &total, &distinct);
	}
	assert_int_equal(broker_stop(&f), 0);
	print_message("SIGKILL: %d kill(s) mid-stream; %zu token ops committed, %zu distinct\n",
		      kills, total, distinct);
	assert_true(kills >= 1);
	assert_int_equal(distinct, expect);
	assert_int_equal(total, expect); /* none twice */
	fed_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ingest),
		cmocka_unit_test(test_sigkill),
	};

	if (!(bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP"))) {
		fprintf(stderr, "DECONF_KRAFT_BOOTSTRAP not set: no Kafka (skipped)\n");
		return 77;
	}
	atexit(kill_broker);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
