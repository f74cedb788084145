/*
 * test_adapter.c — deconf-adapter against the real Kafka.
 *
 * Each test makes a throwaway agency (its own id, so its own submit topic):
 * a federation key file, a signing key, a ledger directory and an
 * agency.conf for the plaintext listener. It runs the real deconf-adapter
 * binary and reads back what reached Kafka: every record must be a
 * Submission signed by the agency's key, and the set of token ops must be
 * exactly what the input asks for — once.
 *
 *   - submit publishes every indicator; re-running the same file publishes
 *     nothing new;
 *   - a bad row withholds its case (exit 1), the other cases go out;
 *     --skip-invalid publishes the valid rest;
 *   - withdraw and close publish REMOVE and CLOSE_CASE with the ledger's
 *     tokens;
 *   - Kafka unreachable: a bounded failure, exit 1, nothing marked
 *     published; the next run delivers it;
 *   - SIGKILL in the middle of a large submit, then the same command
 *     again: every op published exactly once (resends carry the same
 *     submission id);
 *   - privacy: no raw value, canonical form, or 6-byte piece of either
 *     appears in any record of any topic on the cluster, nor in the
 *     adapter's log output.
 *
 * No broker runs here: these tests are about what reaches Kafka, so every
 * publishing command (and the daemon) runs with --no-wait; waiting for the
 * broker's receipts is tested against the real broker in test_receipts.c.
 *
 * Needs DECONF_KRAFT_BOOTSTRAP (deploy/kafka/kafka.sh env); exits 77 without.
 */
#include <sys/prctl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/rand.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/log.h"
#include "deconf/token.h"
#include "deconf/util.h"

static const char *bootstrap, *bootstrap_tls, *tls_dir;

struct agency {
	char dir[128];
	char id[64];
	char conf[192];
	char log[192];
	struct deconf_sign_key *key;
	struct deconf_sign_key *broker; /* plays the broker for notices */
	struct deconf_keyring *ring;
};

/* ------------------------------------------------------------ helpers */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void agency_new(struct agency *a, const char *bootstrap_servers)
{
	char path[256], errstr[512], text[2048];
	uint8_t r[4];
	char hex[9];

	snprintf(a->dir, sizeof(a->dir), "/tmp/itest-adapter.XXXXXX");
	assert_non_null(mkdtemp(a->dir));
	RAND_bytes(r, sizeof(r));
	snprintf(a->id, sizeof(a->id), "it-%s", deconf_hex_encode(hex, r, sizeof(r)));
	assert_int_equal(deconf_keyring_new(&a->ring), 0);
	assert_int_equal(deconf_keyring_rotate(a->ring, NULL), 0);
	snprintf(path, sizeof(path), "%s/federation.keys", a->dir);
	assert_int_equal(deconf_keyring_save(a->ring, path, 1, errstr, sizeof(errstr)), 0);
	assert_int_equal(deconf_sign_key_generate(&a->key, errstr, sizeof(errstr)), 0);
	snprintf(path, sizeof(path), "%s/signing.key", a->dir);
	assert_int_equal(deconf_sign_key_save_private(a->key, path, errstr, sizeof(errstr)), 0);
	assert_int_equal(deconf_sign_key_generate(&a->broker, errstr, sizeof(errstr)), 0);
	snprintf(path, sizeof(path), "%s/broker.pub", a->dir);
	assert_int_equal(deconf_sign_key_save_public(a->broker, path, errstr, sizeof(errstr)),
			 0);
	snprintf(a->conf, sizeof(a->conf), "%s/agency.conf", a->dir);
	snprintf(a->log, sizeof(a->log), "%s/adapter.log", a->dir);
	snprintf(text, sizeof(text),
		 "[agency]\n"
		 "id = %s\n"
		 "key_file = %s/federation.keys\n"
		 "signing_key = %s/signing.key\n"
		 "broker_public_key = %s/broker.pub\n"
		 "default_region = US\n"
		 "[ledger]\n"
		 "dir = %s/ledger\n"
		 "[submit]\n"
		 "timeout = 20s\n"
		 "max_batch_bytes = 64k\n"
		 "[log]\n"
		 "level = debug\n"
		 "[kafka]\n"
		 "bootstrap.servers = %s\n",
		 a->id, a->dir, a->dir, a->dir, a->dir, bootstrap_servers);
	write_file(a->conf, text);
}

static void agency_free(struct agency *a)
{
	char cmd[400];

	/* A sanitizer report in any adapter run fails the test, even where the
	 * run was expected to exit non-zero. */
	snprintf(cmd, sizeof(cmd), "grep -q 'Sanitizer\\|runtime error' '%s'", a->log);
	if (system(cmd) == 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s' >&2", a->log);
		assert_int_equal(system(cmd), 0);
		fail_msg("sanitizer report in %s", a->log);
	}

	deconf_sign_key_free(a->key);
	deconf_sign_key_free(a->broker);
	deconf_keyring_free(a->ring);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", a->dir);
	assert_int_equal(system(cmd), 0);
}

/* Run deconf-adapter with args; stderr appended to the agency's log. */
static int adapter(const struct agency *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int adapter(const struct agency *a, const char *fmt, ...)
{
	char args[1024], cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "'%s' -c '%s' --no-progress %s >>'%s' 2>&1", ADAPTER_BIN,
		 a->conf, args, a->log);
	st = system(cmd);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* A token op as read back from Kafka. */
struct seen {
	uint8_t sub_id[16];
	char case_ref[130];
	int op;
	uint32_t epoch;
	uint8_t token[16];
};

struct topic_read {
	struct seen *ops;
	size_t n, cap;
	size_t records;
	size_t distinct_subs;
};

/*
 * Consume the whole submit topic of a (from the start to its end). Every
 * record must verify with a's key, unless skip_foreign: then records of
 * earlier runs under the same agency id (other keys) are skipped.
 */
static void read_submissions_ex(const struct agency *a, struct topic_read *out,
				int skip_foreign)
{
	char topic[128], errstr[512];
	rd_kafka_conf_t *kc = NULL;
	rd_kafka_t *rk;
	rd_kafka_topic_partition_list_t *tl;
	int64_t lo = 0, hi = 0;
	uint8_t (*subs)[16] = NULL;
	size_t n_subs = 0;

	memset(out, 0, sizeof(*out));
	snprintf(topic, sizeof(topic), "deconf.submit.%s", a->id);
	assert_int_equal(deconf_kafka_conf_new(&kc, NULL, "itest-adapter", errstr,
					       sizeof(errstr)),
			 0);
	assert_int_equal(deconf_kafka_conf_set(kc, "bootstrap.servers", bootstrap, "t", errstr,
					       sizeof(errstr)),
			 0);
	assert_int_equal(deconf_kafka_conf_set(kc, "group.id", "itest-adapter-reader", "t",
					       errstr, sizeof(errstr)),
			 0);
	assert_int_equal(deconf_kafka_conf_set(kc, "enable.auto.commit", "false", "t", errstr,
					       sizeof(errstr)),
			 0);
	rk = deconf_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr));
	assert_non_null(rk);
	if (rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, 10000)) {
		rd_kafka_destroy(rk);
		return; /* no topic: nothing was published */
	}
	tl = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tl, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	assert_int_equal(rd_kafka_assign(rk, tl), 0);
	rd_kafka_topic_partition_list_destroy(tl);
	for (int64_t got = lo, end = deconf_mono_us() + 60000000;
	     got < hi && deconf_mono_us() < end;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		Deconf__V1__Submission *sub = NULL;
		int dup = 0;

		if (!m)
			continue;
		if (m->err) {
			rd_kafka_message_destroy(m);
			continue;
		}
		got = m->offset + 1;
		if (skip_foreign &&
		    deconf_envelope_open(m->payload, m->len, DECONF_ENVELOPE_MAX_DEFAULT,
					 DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION, a->key,
					 &deconf__v1__submission__descriptor,
					 (ProtobufCMessage **)&sub, errstr, sizeof(errstr))) {
			rd_kafka_message_destroy(m);
			continue;
		}
		deconf_msg_free(sub);
		sub = NULL;
		out->records++;
		assert_int_equal(deconf_envelope_open(
					 m->payload, m->len, DECONF_ENVELOPE_MAX_DEFAULT,
					 DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION, a->key,
					 &deconf__v1__submission__descriptor,
					 (ProtobufCMessage **)&sub, errstr, sizeof(errstr)),
				 0);
		assert_int_equal(sub->agency_id.len, strlen(a->id));
		assert_memory_equal(sub->agency_id.data, a->id, strlen(a->id));
		assert_int_equal(sub->submission_id.len, 16);
		for (size_t i = 0; i < n_subs; i++)
			if (!memcmp(subs[i], sub->submission_id.data, 16))
				dup = 1;
		if (!dup) {
			subs = realloc(subs, (n_subs + 1) * sizeof(*subs));
			assert_non_null(subs);
			memcpy(subs[n_subs++], sub->submission_id.data, 16);
			for (size_t i = 0; i < sub->n_ops; i++) {
				Deconf__V1__CaseOp *op = sub->ops[i];
				for (size_t j = 0; j < op->n_tokens || (j == 0 && !op->n_tokens);
				     j++) {
					struct seen *s;
					if (out->n == out->cap) {
						out->cap = out->cap ? out->cap * 2 : 256;
						out->ops = realloc(out->ops,
								   out->cap * sizeof(*out->ops));
						assert_non_null(out->ops);
					}
					s = &out->ops[out->n++];
					memset(s, 0, sizeof(*s));
					memcpy(s->sub_id, sub->submission_id.data, 16);
					assert_true(op->case_ref.len < sizeof(s->case_ref));
					memcpy(s->case_ref, op->case_ref.data, op->case_ref.len);
					s->op = op->op;
					if (op->n_tokens) {
						s->epoch = op->tokens[j]->key_epoch;
						assert_int_equal(op->tokens[j]->token.len, 16);
						memcpy(s->token, op->tokens[j]->token.data, 16);
					}
				}
			}
		}
		deconf_msg_free(sub);
		rd_kafka_message_destroy(m);
	}
	out->distinct_subs = n_subs;
	free(subs);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
}

static void read_submissions(const struct agency *a, struct topic_read *out)
{
	read_submissions_ex(a, out, 0);
}

static size_t count_op(const struct topic_read *t, int op, const char *case_ref)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		if (t->ops[i].op == op && (!case_ref || !strcmp(t->ops[i].case_ref, case_ref)))
			n++;
	return n;
}

/* The token deconf-adapter hash prints for (type, value). */
static void hash_token(const struct agency *a, const char *type, const char *value,
		       uint8_t token[16])
{
	char cmd[1024], line[256];
	FILE *p;
	int found = 0;

	snprintf(cmd, sizeof(cmd), "'%s' hash '%s' '%s' --key-file '%s/federation.keys'",
		 ADAPTER_BIN, type, value, a->dir);
	assert_non_null(p = popen(cmd, "r"));
	while (fgets(line, sizeof(line), p))
		if (!strncmp(line, "token:", 6)) {
			char *h = line + 6;
			while (*h == ' ')
				h++;
			assert_int_equal(deconf_hex_decode(token, 16, h, 32), 0);
			found = 1;
		}
	assert_int_equal(pclose(p), 0);
	assert_true(found);
}

static int has_token(const struct topic_read *t, const uint8_t token[16], int op)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->ops[i].op == op && !memcmp(t->ops[i].token, token, 16))
			return 1;
	return 0;
}

static const char small_csv[] =
	"case_ref,type,value,qualifier,valid_from,valid_to,poc_name,poc_phone\n"
	"CASE-1,phone,(555) 010-9999,,,,Det. Ada Lovelace,+1 555 010 0001\n"
	"CASE-1,email,Suspect.One@Example.COM,,,,,\n"
	"CASE-1,ip,192.0.2.44,,2026-11-01,2026-11-03,,\n"
	"CASE-2,username,@Bob_99,twitter,,,Sgt. Grace Hopper,\n"
	"CASE-2,sha256,"
	"9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08,,,,,\n";

static int cmp16(const void *x, const void *y)
{
	return memcmp(x, y, 16);
}

/* ------------------------------------------------------------- tests */

static void test_submit_and_rerun(void **state)
{
	struct agency a;
	struct topic_read t;
	char path[256];
	uint8_t tok[16];

	agency_new(&a, bootstrap);
	snprintf(path, sizeof(path), "%s/cases.csv", a.dir);
	write_file(path, small_csv);
	assert_int_equal(adapter(&a, "submit --no-wait '%s'", path), 0);
	read_submissions(&a, &t);
	assert_int_equal(t.distinct_subs, 1);
	assert_int_equal(count_op(&t, DECONF__V1__OP__OP_ADD, "CASE-1"), 3);
	assert_int_equal(count_op(&t, DECONF__V1__OP__OP_ADD, "CASE-2"), 2);
	/* the tokens are the ones `hash` computes, for equivalent spellings */
	hash_token(&a, "phone", "+1 555 010 9999", tok);
	assert_true(has_token(&t, tok, DECONF__V1__OP__OP_ADD));
	hash_token(&a, "email", "suspect.one@example.com", tok);
	assert_true(has_token(&t, tok, DECONF__V1__OP__OP_ADD));
	free(t.ops);

	/* the same file again: nothing new */
	assert_int_equal(adapter(&a, "submit --no-wait '%s'", path), 0);
	read_submissions(&a, &t);
	assert_int_equal(t.records, 1);
	free(t.ops);

	/* withdraw one indicator, then close the other case */
	assert_int_equal(adapter(&a, "withdraw --no-wait CASE-1 email suspect.one@example.com"), 0);
	assert_int_equal(adapter(&a, "close --no-wait CASE-2"), 0);
	read_submissions(&a, &t);
	assert_int_equal(t.distinct_subs, 3);
	assert_int_equal(count_op(&t, DECONF__V1__OP__OP_REMOVE, "CASE-1"), 1);
	assert_true(has_token(&t, tok, DECONF__V1__OP__OP_REMOVE));
	assert_int_equal(count_op(&t, DECONF__V1__OP__OP_CLOSE_CASE, "CASE-2"), 2);
	free(t.ops);

	/* withdrawn and closed: the same again publishes nothing */
	assert_int_equal(adapter(&a, "close --no-wait CASE-2"), 0);
	read_submissions(&a, &t);
	assert_int_equal(t.distinct_subs, 3);
	free(t.ops);
	agency_free(&a);
}

static void test_bad_rows(void **state)
{
	struct agency a;
	struct topic_read t;
	char path[256], cmd[512];

	agency_new(&a, bootstrap);
	snprintf(path, sizeof(path), "%s/bad.csv", a.dir);
	write_file(path, "case_ref,type,value\n"
			 "GOOD-1,email,a@example.org\n"
			 "BAD-1,email,b@example.org\n"
			 "BAD-1,imei,490154203237519\n" /* Luhn fails */
			 "GOOD-1,md5,d41d8cd98f00b204e9800998ecf8427e\n");
	assert_int_equal(adapter(&a, "submit --no-wait '%s'", path), 1);
	snprintf(cmd, sizeof(cmd), "grep -q '%s:4: imei' '%s'", path, a.log);
	assert_int_equal(system(cmd), 0);
	read_submissions(&a, &t);
	assert_int_equal(count_op(&t, DECONF__V1__OP__OP_ADD, "GOOD-1"), 2);
	assert_int_equal(count_op(&t, DECONF__V1__OP__OP_ADD, "BAD-1"), 0);
	free(t.ops);

	/* check publishes nothing whatever the input */
	assert_int_equal(adapter(&a, "check '%s'", path), 1);
	/* --skip-invalid sends the valid row of BAD-1, still exits 1 */
	assert_int_equal(adapter(&a, "submit --no-wait --skip-invalid '%s'", path), 1);
	read_submissions(&a, &t);
	assert_int_equal(count_op(&t, DECONF__V1__OP__OP_ADD, "BAD-1"), 1);
	assert_int_equal(count_op(&t, DECONF__V1__OP__OP_ADD, "GOOD-1"), 2);
	free(t.ops);
	agency_free(&a);
}

static void test_kafka_unreachable(void **state)
{
	struct agency a;
	struct topic_read t;
	char path[256];
	int64_t t0;

	/* Nothing listens on port 1: delivery must fail within submit.timeout. */
	agency_new(&a, "127.0.0.1:1");
	snprintf(path, sizeof(path), "%s/cases.csv", a.dir);
	write_file(path, small_csv);
	t0 = deconf_mono_us();
	assert_int_equal(adapter(&a, "--set submit.timeout=3s submit --no-wait '%s'", path), 1);
	assert_true(deconf_mono_us() - t0 < 30000000);
	/* Kafka back: the outbox goes out first, and nothing is sent twice. */
	assert_int_equal(adapter(&a, "--set kafka.bootstrap.servers=%s submit --no-wait '%s'",
				 bootstrap, path),
			 0);
	read_submissions(&a, &t);
	assert_int_equal(t.distinct_subs, 1);
	assert_int_equal(count_op(&t, DECONF__V1__OP__OP_ADD, NULL), 5);
	free(t.ops);
	agency_free(&a);
}

static void test_sigkill_midway(void **state)
{
	struct agency a;
	struct topic_read t;
	char path[256];
	FILE *f;
	const size_t n = 120000;
	pid_t pid;
	int st, kills = 0;

	agency_new(&a, bootstrap);
	snprintf(path, sizeof(path), "%s/big.csv", a.dir);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "case_ref,type,value\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "BIG-%zu,md5,%032zx\n", i / 50, i * 2654435761u);
	assert_int_equal(fclose(f), 0);
	/* Kill it twice at different moments, then let it finish. */
	for (int round = 0; round < 2; round++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test, even a crashed one */
			FILE *lf = fopen(a.log, "a");
			if (!lf)
				_exit(127);
			dup2(fileno(lf), 1);
			dup2(fileno(lf), 2);
			execl(ADAPTER_BIN, ADAPTER_BIN, "-c", a.conf, "--no-progress", "--set",
			      "submit.max_batch_bytes=16k", "submit", "--no-wait", path, (char *)NULL);
			_exit(127);
		}
		usleep(round == 0 ? 500000 : 800000);
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		if (WIFSIGNALED(st))
			kills++;
		/* killed, or finished before the kill: either is a valid moment */
		assert_true(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) == 0));
	}
	assert_true(kills >= 1);
	assert_int_equal(adapter(&a, "--set submit.max_batch_bytes=16k submit --no-wait '%s'", path), 0);
	read_submissions(&a, &t);
	/* Every indicator exactly once across distinct submissions. */
	assert_int_equal(count_op(&t, DECONF__V1__OP__OP_ADD, NULL), n);
	assert_int_equal(t.n, n);
	{
		/* no token twice: sort tokens and compare neighbours */
		uint8_t (*toks)[16] = calloc(t.n, 16);
		assert_non_null(toks);
		for (size_t i = 0; i < t.n; i++)
			memcpy(toks[i], t.ops[i].token, 16);
		qsort(toks, t.n, 16, cmp16);
		for (size_t i = 1; i < t.n; i++)
			assert_true(memcmp(toks[i - 1], toks[i], 16) != 0);
		free(toks);
	}
	print_message("SIGKILL test: %d kill(s), %zu records, %zu distinct submissions\n",
		      kills, t.records, t.distinct_subs);
	free(t.ops);
	agency_free(&a);
}

/* Produce records to the agency's notices topic (plaintext, super user). */
static void produce_notices(const struct agency *a, uint8_t **bufs, size_t *lens, size_t n)
{
	char topic[128], errstr[512];
	rd_kafka_conf_t *kc = NULL;
	rd_kafka_t *rk;

	snprintf(topic, sizeof(topic), "deconf.notices.%s", a->id);
	assert_int_equal(deconf_kafka_conf_new(&kc, NULL, "itest-broker", errstr,
					       sizeof(errstr)),
			 0);
	assert_int_equal(deconf_kafka_conf_set(kc, "bootstrap.servers", bootstrap, "t", errstr,
					       sizeof(errstr)),
			 0);
	rk = deconf_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
	assert_non_null(rk);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
						   RD_KAFKA_V_VALUE(bufs[i], lens[i]),
						   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
						   RD_KAFKA_V_END),
				 0);
	assert_int_equal(rd_kafka_flush(rk, 30000), 0);
	rd_kafka_destroy(rk);
}

/* A ConflictNotice about token for a's case, sealed by key (NULL: unsigned). */
static void notice(const struct agency *a, const char *to, const char *case_ref,
		   const uint8_t token[16], uint8_t id_byte, const struct deconf_sign_key *key,
		   uint8_t **buf, size_t *len)
{
	Deconf__V1__ConflictNotice n = DECONF__V1__CONFLICT_NOTICE__INIT;
	Deconf__V1__Counterpart cp = DECONF__V1__COUNTERPART__INIT;
	Deconf__V1__PointOfContact poc = DECONF__V1__POINT_OF_CONTACT__INIT;
	uint8_t id[16];

	memset(id, id_byte, sizeof(id));
	n.notice_id.data = id;
	n.notice_id.len = sizeof(id);
	n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_CONFLICT;
	n.agency_id.data = (uint8_t *)to;
	n.agency_id.len = strlen(to);
	n.case_ref.data = (uint8_t *)case_ref;
	n.case_ref.len = strlen(case_ref);
	n.type = DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_PHONE;
	n.key_epoch = 1;
	n.token.data = (uint8_t *)token;
	n.token.len = 16;
	n.created_at = deconf_now_ms();
	cp.agency_id.data = (uint8_t *)"state-tf";
	cp.agency_id.len = 8;
	cp.agency_name = "State ICAC Task Force";
	cp.level = DECONF__V1__AGENCY_LEVEL__AGENCY_LEVEL_STATE;
	cp.country = "US";
	cp.case_ref.data = (uint8_t *)"TF-2026-044";
	cp.case_ref.len = 11;
	cp.caution_flags = DECONF__V1__CAUTION_FLAG__CAUTION_ARMED;
	poc.name = "Sgt. Grace Hopper";
	poc.phone = "+1 555 010 0002";
	poc.email = "g.hopper@example.org";
	poc.unit = "";
	cp.poc = &poc;
	n.counterpart = &cp;
	assert_int_equal(deconf_envelope_seal(&n.base,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_CONFLICT_NOTICE,
					      "broker", key, buf, len),
			 0);
	(void)a;
}

static void test_notices(void **state)
{
	struct agency a;
	struct deconf_sign_key *rogue = NULL;
	uint8_t tok[16], *bufs[6];
	size_t lens[6];
	char path[256], cmd[1024], line[4096], errstr[256];
	FILE *p;
	int lines = 0;

	agency_new(&a, bootstrap);
	snprintf(path, sizeof(path), "%s/cases.csv", a.dir);
	write_file(path, small_csv);
	assert_int_equal(adapter(&a, "submit --no-wait '%s'", path), 0);
	/* before any notice topic exists: nothing, and no failure */
	assert_int_equal(adapter(&a, "notices"), 0);
	hash_token(&a, "phone", "+15550109999", tok);
	assert_int_equal(deconf_sign_key_generate(&rogue, errstr, sizeof(errstr)), 0);
	notice(&a, a.id, "CASE-1", tok, 1, a.broker, &bufs[0], &lens[0]); /* good */
	notice(&a, a.id, "CASE-1", tok, 1, a.broker, &bufs[1], &lens[1]); /* duplicate id */
	notice(&a, a.id, "CASE-1", tok, 2, NULL, &bufs[2], &lens[2]);     /* unsigned */
	notice(&a, a.id, "CASE-1", tok, 3, rogue, &bufs[3], &lens[3]);    /* wrong key */
	notice(&a, "someone-else", "CASE-1", tok, 4, a.broker, &bufs[4], &lens[4]);
	bufs[5] = (uint8_t *)strdup("not an envelope");
	lens[5] = strlen((char *)bufs[5]);
	produce_notices(&a, bufs, lens, 6);

	/* refused records make the exit status 1; the good one is shown once */
	snprintf(cmd, sizeof(cmd), "'%s' -c '%s' notices --json 2>>'%s'", ADAPTER_BIN, a.conf,
		 a.log);
	assert_non_null(p = popen(cmd, "r"));
	while (fgets(line, sizeof(line), p)) {
		lines++;
		/* the agency's own raw value, as typed, next to the counterpart */
		assert_non_null(strstr(line, "\"value\":\"(555) 010-9999\""));
		assert_non_null(strstr(line, "\"case_ref\":\"CASE-1\""));
		assert_non_null(strstr(line, "\"agency_id\":\"state-tf\""));
		assert_non_null(strstr(line, "\"case_ref\":\"TF-2026-044\""));
		assert_non_null(strstr(line, "Sgt. Grace Hopper"));
		assert_non_null(strstr(line, "armed"));
	}
	assert_int_equal(WEXITSTATUS(pclose(p)), 1);
	assert_int_equal(lines, 1);
	snprintf(cmd, sizeof(cmd), "grep -q '1 new, 1 duplicate(s) dropped, 4 refused' '%s'",
		 a.log);
	assert_int_equal(system(cmd), 0);

	/* again: nothing new, the stored notice is still listed, exit 0 */
	snprintf(cmd, sizeof(cmd), "'%s' -c '%s' notices 2>>'%s'", ADAPTER_BIN, a.conf, a.log);
	assert_non_null(p = popen(cmd, "r"));
	lines = 0;
	while (fgets(line, sizeof(line), p))
		if (strstr(line, "CASE-1, phone (555) 010-9999"))
			lines++;
	assert_int_equal(WEXITSTATUS(pclose(p)), 0);
	assert_int_equal(lines, 1);
	for (int i = 0; i < 6; i++)
		free(bufs[i]);
	deconf_sign_key_free(rogue);
	agency_free(&a);
}

/* query asks without registering; its answer shows the raw value asked. */
static void test_query(void **state)
{
	struct agency a;
	struct topic_read t;
	char path[256], cmd[1024], line[4096];
	uint8_t tok[16], *buf;
	size_t len;
	FILE *p;
	int found = 0;

	agency_new(&a, bootstrap);
	snprintf(path, sizeof(path), "%s/q.csv", a.dir);
	write_file(path, "case_ref,type,value\nQ-1,phone,(555) 010-4242\n");
	assert_int_equal(adapter(&a, "query --no-wait '%s'", path), 0);
	read_submissions(&a, &t);
	assert_int_equal(count_op(&t, DECONF__V1__OP__OP_QUERY, "Q-1"), 1);
	assert_int_equal(count_op(&t, DECONF__V1__OP__OP_ADD, NULL), 0);
	free(t.ops);
	/* a query is asked every time: it registers nothing to compare with */
	assert_int_equal(adapter(&a, "query --no-wait '%s'", path), 0);
	read_submissions(&a, &t);
	assert_int_equal(count_op(&t, DECONF__V1__OP__OP_QUERY, "Q-1"), 2);
	free(t.ops);
	/* closing the case sends nothing: nothing was registered */
	assert_int_equal(adapter(&a, "close --no-wait Q-1"), 0);
	read_submissions(&a, &t);
	assert_int_equal(t.distinct_subs, 2);
	free(t.ops);

	hash_token(&a, "phone", "+15550104242", tok);
	notice(&a, a.id, "Q-1", tok, 9, a.broker, &buf, &len);
	produce_notices(&a, &buf, &len, 1);
	free(buf);
	snprintf(cmd, sizeof(cmd), "'%s' -c '%s' notices --json 2>>'%s'", ADAPTER_BIN, a.conf,
		 a.log);
	assert_non_null(p = popen(cmd, "r"));
	while (fgets(line, sizeof(line), p))
		if (strstr(line, "\"value\":\"(555) 010-4242\""))
			found++;
	assert_int_equal(pclose(p), 0);
	assert_int_equal(found, 1);
	agency_free(&a);
}

/* Key rotation: resubmit publishes every held entry under the new epoch. */
static void test_resubmit(void **state)
{
	struct agency a;
	struct topic_read t;
	char path[256], errstr[256], cmd[1024], line[256];
	uint8_t tok[16];
	size_t e2 = 0;
	FILE *p;

	agency_new(&a, bootstrap);
	snprintf(path, sizeof(path), "%s/cases.csv", a.dir);
	write_file(path, small_csv);
	assert_int_equal(adapter(&a, "submit --no-wait '%s'", path), 0);
	/* rotate: epoch 2 is added to the key file the agency holds */
	assert_int_equal(deconf_keyring_rotate(a.ring, NULL), 0);
	snprintf(path, sizeof(path), "%s/federation.keys", a.dir);
	assert_int_equal(deconf_keyring_save(a.ring, path, 0, errstr, sizeof(errstr)), 0);
	assert_int_equal(adapter(&a, "resubmit --no-wait"), 0);
	read_submissions(&a, &t);
	assert_int_equal(t.distinct_subs, 2);
	for (size_t i = 0; i < t.n; i++)
		if (t.ops[i].epoch == 2) {
			e2++;
			assert_int_equal(t.ops[i].op, DECONF__V1__OP__OP_ADD);
		}
	assert_int_equal(e2, 5);
	/* the epoch-2 token of the phone is the one `hash --epoch 2` prints */
	snprintf(cmd, sizeof(cmd), "'%s' hash phone '+1 555 010 9999' --epoch 2 --key-file '%s'",
		 ADAPTER_BIN, path);
	assert_non_null(p = popen(cmd, "r"));
	while (fgets(line, sizeof(line), p))
		if (!strncmp(line, "token:", 6))
			assert_int_equal(deconf_hex_decode(tok, 16, line + 11, 32), 0);
	assert_int_equal(pclose(p), 0);
	assert_true(has_token(&t, tok, DECONF__V1__OP__OP_ADD));
	free(t.ops);
	/* and again: nothing new */
	assert_int_equal(adapter(&a, "resubmit --no-wait"), 0);
	read_submissions(&a, &t);
	assert_int_equal(t.distinct_subs, 2);
	free(t.ops);
	agency_free(&a);
}

/* ------------------------------------------------------------ mTLS */

static rd_kafka_AclBinding_t *allow(const char *principal, const char *topic,
				    rd_kafka_AclOperation_t op)
{
	char errstr[256];
	rd_kafka_AclBinding_t *b = rd_kafka_AclBinding_new(
		RD_KAFKA_RESOURCE_TOPIC, topic, RD_KAFKA_RESOURCE_PATTERN_LITERAL, principal, "*",
		op, RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, errstr, sizeof(errstr));
	assert_non_null(b);
	return b;
}

/* The ACLs `deconfctl topics apply` gives an agency (literal patterns). */
static void grant_agency(const char *id)
{
	char submit[128], notices[128], principal[128], errstr[256];
	rd_kafka_conf_t *kc = NULL;
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	rd_kafka_AclBinding_t *b[4];

	snprintf(submit, sizeof(submit), "deconf.submit.%s", id);
	snprintf(notices, sizeof(notices), "deconf.notices.%s", id);
	snprintf(principal, sizeof(principal), "User:%s", id);
	b[0] = allow(principal, submit, RD_KAFKA_ACL_OPERATION_WRITE);
	b[1] = allow(principal, submit, RD_KAFKA_ACL_OPERATION_DESCRIBE);
	b[2] = allow(principal, notices, RD_KAFKA_ACL_OPERATION_READ);
	b[3] = allow(principal, notices, RD_KAFKA_ACL_OPERATION_DESCRIBE);
	assert_int_equal(deconf_kafka_conf_new(&kc, NULL, "itest-admin", errstr, sizeof(errstr)),
			 0);
	assert_int_equal(deconf_kafka_conf_set(kc, "bootstrap.servers", bootstrap, "t", errstr,
					       sizeof(errstr)),
			 0);
	assert_non_null(rk = deconf_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr)));
	q = rd_kafka_queue_new(rk);
	/* topics exist before agencies use them (agencies may not create) */
	{
		rd_kafka_NewTopic_t *nt[2] = {
			rd_kafka_NewTopic_new(submit, 1, 1, errstr, sizeof(errstr)),
			rd_kafka_NewTopic_new(notices, 1, 1, errstr, sizeof(errstr)),
		};
		const rd_kafka_topic_result_t **res;
		size_t nres;
		rd_kafka_CreateTopics(rk, nt, 2, NULL, q);
		assert_non_null(ev = rd_kafka_queue_poll(q, 30000));
		res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev),
							  &nres);
		for (size_t i = 0; i < nres; i++)
			if (rd_kafka_topic_result_error(res[i]) !=
			    RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
				assert_int_equal(rd_kafka_topic_result_error(res[i]), 0);
		rd_kafka_event_destroy(ev);
		rd_kafka_NewTopic_destroy(nt[0]);
		rd_kafka_NewTopic_destroy(nt[1]);
	}
	rd_kafka_CreateAcls(rk, b, 4, NULL, q);
	assert_non_null(ev = rd_kafka_queue_poll(q, 30000));
	assert_int_equal(rd_kafka_event_error(ev), 0);
	rd_kafka_event_destroy(ev);
	for (int i = 0; i < 4; i++)
		rd_kafka_AclBinding_destroy(b[i]);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
}

/* Point a's config at the mTLS listener with the certificate of `cert`. */
static void use_tls(struct agency *a, const char *id, const char *cert)
{
	char text[4096];
	size_t n;
	FILE *f;

	snprintf(a->id, sizeof(a->id), "%s", id);
	assert_non_null(f = fopen(a->conf, "r"));
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	/* agency_new wrote "id = it-..." on line 2 and bootstrap last */
	{
		char *l = strstr(text, "id = "), *nl = strchr(l, '\n'), out[8192];
		snprintf(out, sizeof(out),
			 "%.*sid = %s%.*s"
			 "security.protocol = ssl\n"
			 "ssl.ca.location = %s/ca.pem\n"
			 "ssl.certificate.location = %s/%s.pem\n"
			 "ssl.key.location = %s/%s.key\n",
			 (int)(l - text), text, id, (int)(strstr(text, "bootstrap.servers") - nl),
			 nl, tls_dir, tls_dir, cert, tls_dir, cert);
		n = strlen(out);
		snprintf(out + n, sizeof(out) - n, "bootstrap.servers = %s\n", bootstrap_tls);
		write_file(a->conf, out);
	}
}

static void test_tls_acl(void **state)
{
	struct agency a, b;
	struct topic_read t;
	char path[256], csv[1024], ref[32], cmd[1024], line[4096], hex[9];
	uint8_t r[4], tok[16], *buf;
	size_t len;
	FILE *p;
	int found = 0;

	assert_non_null(bootstrap_tls);
	assert_non_null(tls_dir);
	grant_agency("agency-a");
	/* agency-a, over mTLS, with its own certificate: published */
	agency_new(&a, bootstrap);
	use_tls(&a, "agency-a", "agency-a");
	RAND_bytes(r, sizeof(r));
	snprintf(ref, sizeof(ref), "TLS-%s", deconf_hex_encode(hex, r, sizeof(r)));
	snprintf(csv, sizeof(csv), "case_ref,type,value\n%s,phone,+1 555 010 7777\n"
				   "%s,email,tls.test@example.org\n",
		 ref, ref);
	snprintf(path, sizeof(path), "%s/tls.csv", a.dir);
	write_file(path, csv);
	assert_int_equal(adapter(&a, "submit --no-wait '%s'", path), 0);
	read_submissions_ex(&a, &t, 1);
	assert_int_equal(count_op(&t, DECONF__V1__OP__OP_ADD, ref), 2);
	free(t.ops);

	/* the same certificate claiming to be agency-b: Kafka refuses the
	 * write (ACLs are per principal, the principal is the CN) */
	agency_new(&b, bootstrap);
	use_tls(&b, "agency-b", "agency-a");
	snprintf(path, sizeof(path), "%s/tls.csv", b.dir);
	write_file(path, csv);
	assert_int_equal(adapter(&b, "--set submit.timeout=10s submit --no-wait '%s'", path), 1);
	snprintf(cmd, sizeof(cmd), "grep -qi 'authorization failed' '%s'", b.log);
	assert_int_equal(system(cmd), 0);
	agency_free(&b);

	/* notices over mTLS too */
	hash_token(&a, "phone", "+15550107777", tok);
	notice(&a, "agency-a", ref, tok, r[0], a.broker, &buf, &len);
	produce_notices(&a, &buf, &len, 1);
	free(buf);
	snprintf(cmd, sizeof(cmd), "'%s' -c '%s' notices --json 2>>'%s'", ADAPTER_BIN, a.conf,
		 a.log);
	assert_non_null(p = popen(cmd, "r"));
	while (fgets(line, sizeof(line), p))
		if (strstr(line, ref) && strstr(line, "\"value\":\"+1 555 010 7777\""))
			found++;
	/* notices of earlier runs to agency-a carry other broker keys: refused */
	pclose(p);
	assert_int_equal(found, 1);
	agency_free(&a);
}

/* ------------------------------------------------------------ run */

/* A webhook on 127.0.0.1 that fails its first `fail_first` requests with
 * 503, then answers 200 and records each body. */
struct hook_server {
	int fd, port, fail_first, requests, ok;
	char bodies[8][2048];
	volatile int stop;
	pthread_t th;
};

static void *hook_main(void *arg)
{
	struct hook_server *h = arg;

	while (!h->stop) {
		char buf[8192];
		size_t n = 0;
		ssize_t r;
		int c = accept(h->fd, NULL, NULL), ok;
		const char *body;

		if (c < 0)
			continue;
		/* headers, then Content-Length bytes */
		while (n < sizeof(buf) - 1 && (r = read(c, buf + n, sizeof(buf) - 1 - n)) > 0) {
			char *cl, *end;
			n += (size_t)r;
			buf[n] = '\0';
			if ((end = strstr(buf, "\r\n\r\n")) && (cl = strcasestr(buf, "content-length:")) &&
			    n >= (size_t)(end + 4 - buf) + (size_t)atoi(cl + 15))
				break;
		}
		h->requests++;
		ok = h->requests > h->fail_first;
		body = strstr(buf, "\r\n\r\n");
		if (ok && body && h->ok < 8)
			snprintf(h->bodies[h->ok++], sizeof(h->bodies[0]), "%s", body + 4);
		dprintf(c, "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			ok ? "200 OK" : "503 Service Unavailable");
		close(c);
	}
	return NULL;
}

static void hook_start(struct hook_server *h, int fail_first)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };

	memset(h, 0, sizeof(*h));
	h->fail_first = fail_first;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((h->fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(h->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(h->fd, 8), 0);
	assert_int_equal(getsockname(h->fd, (struct sockaddr *)&sa, &len), 0);
	h->port = ntohs(sa.sin_port);
	/* accept() wakes up to see stop */
	setsockopt(h->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(pthread_create(&h->th, NULL, hook_main, h), 0);
}

static void hook_stop(struct hook_server *h)
{
	h->stop = 1;
	pthread_join(h->th, NULL);
	close(h->fd);
}

static int wait_for(const char *cmd, int seconds)
{
	for (int i = 0; i < seconds * 10; i++) {
		if (system(cmd) == 0)
			return 1;
		usleep(100000);
	}
	return 0;
}

static void test_run_daemon(void **state)
{
	struct agency a;
	struct hook_server h;
	char spool[256], tmp[300], dst[300], cmd[1024], url[64], outbox[256];
	uint8_t tok[16], *bufs[2];
	size_t lens[2];
	pid_t pid;
	int st;

	agency_new(&a, bootstrap);
	hook_start(&h, 3); /* the webhook is "down" for its first 3 requests */
	snprintf(spool, sizeof(spool), "%s/spool", a.dir);
	assert_int_equal(mkdir(spool, 0700), 0);
	snprintf(outbox, sizeof(outbox), "%s/notices.jsonl", a.dir);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", h.port);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test, even a crashed one */
		char s1[300], s2[300], s3[300];
		FILE *lf = fopen(a.log, "a");
		if (!lf)
			_exit(127);
		dup2(fileno(lf), 2);
		snprintf(s1, sizeof(s1), "run.spool_dir=%s", spool);
		snprintf(s2, sizeof(s2), "run.outbox_file=%s", outbox);
		snprintf(s3, sizeof(s3), "run.webhook_url=%s", url);
		execl(ADAPTER_BIN, ADAPTER_BIN, "-c", a.conf, "--set", s1, "--set", s2, "--set", s3,
		      "--set", "run.poll_interval=200ms", "--set", "run.settle=0s", "--set",
		      "run.webhook_backoff_max=1s", "run", "--no-wait", (char *)NULL);
		_exit(127);
	}
	/* a file dropped the right way: hidden name, then rename */
	snprintf(tmp, sizeof(tmp), "%s/.cases.csv", spool);
	write_file(tmp, small_csv);
	snprintf(dst, sizeof(dst), "%s/cases.csv", spool);
	assert_int_equal(rename(tmp, dst), 0);
	/* no broker here to answer: delivered, and not waited for */
	snprintf(cmd, sizeof(cmd),
		 "grep -q '\"status\": \"unconfirmed\"' '%s/done/cases.csv.result' && "
		 "grep -q '\"waited_for_receipts\": false' '%s/done/cases.csv.result'",
		 spool, spool);
	assert_true(wait_for(cmd, 30));
	assert_int_equal(access(dst, F_OK), -1); /* processed once: moved aside */
	/* a bad file goes to failed/ with its line errors */
	snprintf(tmp, sizeof(tmp), "%s/.bad.csv", spool);
	write_file(tmp, "case_ref,type,value\nX-1,imei,490154203237519\n");
	snprintf(dst, sizeof(dst), "%s/bad.csv", spool);
	assert_int_equal(rename(tmp, dst), 0);
	snprintf(cmd, sizeof(cmd), "grep -q 'bad.csv:2: imei' '%s/failed/bad.csv.result'", spool);
	assert_true(wait_for(cmd, 30));

	/* two notices while the webhook is down: both reach the file at once,
	 * and the webhook once it answers */
	hash_token(&a, "phone", "+15550109999", tok);
	notice(&a, a.id, "CASE-1", tok, 7, a.broker, &bufs[0], &lens[0]);
	notice(&a, a.id, "CASE-1", tok, 8, a.broker, &bufs[1], &lens[1]);
	produce_notices(&a, bufs, lens, 2);
	snprintf(cmd, sizeof(cmd), "test $(grep -c '(555) 010-9999' '%s') -eq 2", outbox);
	assert_true(wait_for(cmd, 60));
	for (int i = 0; i < 100 && h.ok < 2; i++)
		usleep(100000);
	assert_int_equal(h.ok, 2);
	assert_true(h.requests >= 5); /* 3 refused, then 2 delivered */
	assert_non_null(strstr(h.bodies[0], "\"value\":\"(555) 010-9999\""));
	assert_non_null(strstr(h.bodies[1], "\"value\":\"(555) 010-9999\""));
	assert_true(strcmp(h.bodies[0], h.bodies[1]) != 0); /* two notices, not one twice */

	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	hook_stop(&h);
	free(bufs[0]);
	free(bufs[1]);
	agency_free(&a);
}

/* ------------------------------------------------------------ privacy */

struct blob {
	uint8_t *data;
	size_t len, cap;
};

static void blob_add(struct blob *b, const void *p, size_t n)
{
	if (!n)
		return;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->data = realloc(b->data, b->cap);
		assert_non_null(b->data);
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* A topic of another test's throwaway federation ("it" 8 hex "."): other
 * tests' random ids, hex-encoded, would match pieces of this test's values
 * by chance, and nothing of this test is written there. */
static int other_federation(const char *topic)
{
	if (strncmp(topic, "it", 2) || strlen(topic) < 11 || topic[10] != '.')
		return 0;
	for (int i = 2; i < 10; i++)
		if (!strchr("0123456789abcdef", topic[i]))
			return 0;
	return 1;
}

/* Every key and value of every record of every topic on the cluster (but
 * other tests' federations). */
static void read_cluster(struct blob *b)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_conf_t *kc = NULL;
	char errstr[512];
	rd_kafka_t *rk;

	assert_int_equal(deconf_kafka_conf_new(&kc, NULL, "itest-privacy", errstr,
					       sizeof(errstr)),
			 0);
	assert_int_equal(deconf_kafka_conf_set(kc, "bootstrap.servers", bootstrap, "t", errstr,
					       sizeof(errstr)),
			 0);
	/* the end of a partition may be a transaction marker, never delivered:
	 * EOF says we are there */
	assert_int_equal(deconf_kafka_conf_set(kc, "enable.partition.eof", "true", "t", errstr,
					       sizeof(errstr)),
			 0);
	rk = deconf_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr));
	assert_non_null(rk);
	assert_int_equal(rd_kafka_metadata(rk, 1, NULL, &md, 10000), 0);
	for (int i = 0; i < md->topic_cnt; i++) {
		const struct rd_kafka_metadata_topic *mt = &md->topics[i];
		rd_kafka_topic_t *rkt;

		if (other_federation(mt->topic))
			continue;
		rkt = rd_kafka_topic_new(rk, mt->topic, NULL);

		for (int p = 0; p < mt->partition_cnt; p++) {
			int64_t lo, hi, next;
			if (rd_kafka_query_watermark_offsets(rk, mt->topic, p, &lo, &hi, 10000) ||
			    hi <= lo)
				continue;
			assert_int_equal(rd_kafka_consume_start(rkt, p, RD_KAFKA_OFFSET_BEGINNING),
					 0);
			next = lo;
			/* compacted and transactional topics have gaps: stop at the
			 * end, or when nothing comes for a while */
			for (int idle = 0; next < hi && idle < 20;) {
				rd_kafka_message_t *m = rd_kafka_consume(rkt, p, 250);
				if (!m) {
					idle++;
					continue;
				}
				if (!m->err) {
					blob_add(b, m->key, m->key_len);
					blob_add(b, m->payload, m->len);
					next = m->offset + 1;
				} else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
					next = hi;
				}
				rd_kafka_message_destroy(m);
			}
			rd_kafka_consume_stop(rkt, p);
		}
		rd_kafka_topic_destroy(rkt);
	}
	rd_kafka_metadata_destroy(md);
	rd_kafka_destroy(rk);
}

/* Fail if any 6-byte piece of s[0..n) occurs in b. */
static void assert_no_piece(const struct blob *b, const char *what, const char *s, size_t n)
{
	for (size_t i = 0; i + 6 <= n; i++)
		if (memmem(b->data, b->len, s + i, 6))
			fail_msg("%s: the piece \"%.6s\" of \"%.*s\" was found", what, s + i,
				 (int)n, s);
}

/* The canonical form `hash` prints (text types only). */
static void canonical_of(const struct agency *a, const char *type, const char *value,
			 const char *qual, char *out, size_t size)
{
	char cmd[1024], line[1024];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "'%s' hash '%s' '%s' %s%s --key-file '%s/federation.keys'",
		 ADAPTER_BIN, type, value, qual ? "--qualifier " : "", qual ? qual : "", a->dir);
	assert_non_null(p = popen(cmd, "r"));
	out[0] = '\0';
	while (fgets(line, sizeof(line), p))
		if (!strncmp(line, "canonical: ", 11)) {
			size_t n = strcspn(line + 11, "\n");
			assert_true(n < size);
			memcpy(out, line + 11, n);
			out[n] = '\0';
		}
	assert_int_equal(pclose(p), 0);
	assert_true(out[0] != '\0');
}

static void test_privacy(void **state)
{
	struct agency a;
	struct blob cluster = { 0 }, log = { 0 };
	char path[256], text[4096], canon[512], hex[17], *logtext = NULL;
	char ev_lat[32], ev_lon[32], ev_addr[64], cells[64][32];
	size_t n_cells = 0;
	uint8_t r[8];
	size_t loglen;
	struct {
		const char *type, *qual;
		char value[128];
	} v[7] = {
		{ "email", NULL, "" }, { "phone", NULL, "" }, { "username", "telegram", "" },
		{ "md5", NULL, "" },   { "url", NULL, "" },   { "domain", NULL, "" },
		{ "ip", NULL, "" },
	};

	/* values made of random pieces, so any 6-byte match is a leak */
	RAND_bytes(r, sizeof(r));
	deconf_hex_encode(hex, r, sizeof(r));
	snprintf(v[0].value, 128, "Zq%.6sMw@rk%.4s.zx%.4spq", hex, hex + 6, hex + 10);
	snprintf(v[1].value, 128, "+44 20 7946 0%03u", (unsigned)(r[0] % 1000));
	snprintf(v[2].value, 128, "@Qx%.8sUser", hex + 4);
	snprintf(v[3].value, 128, "%s%s", hex, hex);
	snprintf(v[4].value, 128, "HTTPS://Wk%.6s.yv%.4s/Path%.4s?q=%.6s", hex, hex + 8, hex + 2,
		 hex + 5);
	snprintf(v[5].value, 128, "Dm%.6s.Pv%.6s", hex + 1, hex + 9);
	snprintf(v[6].value, 128, "198.51.100.%u", 100u + r[1] % 100);

	agency_new(&a, bootstrap);
	snprintf(path, sizeof(path), "%s/privacy.csv", a.dir);
	{
		size_t n = (size_t)snprintf(text, sizeof(text),
					    "case_ref,type,value,qualifier,valid_from,valid_to\n");
		for (int i = 0; i < 7; i++)
			n += (size_t)snprintf(text + n, sizeof(text) - n,
					      "PRIV-1,%s,\"%s\",%s,%s,%s\n", v[i].type,
					      v[i].value, v[i].qual ? v[i].qual : "",
					      i == 6 ? "2026-11-01" : "", i == 6 ? "2026-11-02" : "");
	}
	write_file(path, text);
	/* librdkafka's message and protocol debug lines go to the log too */
	assert_int_equal(adapter(&a, "--set kafka.debug=msg,protocol submit --no-wait '%s'", path), 0);
	assert_int_equal(adapter(&a, "withdraw --no-wait PRIV-1 email '%s'", v[0].value), 0);
	assert_int_equal(adapter(&a, "check '%s'", path), 0);
	/* an event: its place and address never leave, nor its cells */
	snprintf(ev_lat, sizeof(ev_lat), "%.7f", -33.0 + (double)(r[2] % 100) / 100.0 +
							 (double)r[3] / 1e5);
	snprintf(ev_lon, sizeof(ev_lon), "%.7f", 151.0 + (double)(r[4] % 100) / 100.0 +
							 (double)r[5] / 1e5);
	snprintf(ev_addr, sizeof(ev_addr), "%.4s Kq%.6s Street", hex + 2, hex + 8);
	assert_int_equal(adapter(&a,
				 "event add --no-wait PRIV-EV kind=surveillance lat=%s lon=%s "
				 "radius=250 from=2026-12-20T08:00:00Z to=2026-12-20T12:00:00Z "
				 "'address=%s' poc_name=Ops",
				 ev_lat, ev_lon, ev_addr),
			 0);
	{
		/* the event's cells, as `hash event` prints them */
		char cmd[1024], line[256];
		FILE *p;
		snprintf(cmd, sizeof(cmd), "'%s' hash --key-file '%s/federation.keys' event -- %s,%s,250",
			 ADAPTER_BIN, a.dir, ev_lat, ev_lon);
		assert_non_null(p = popen(cmd, "r"));
		while (fgets(line, sizeof(line), p) && n_cells < 64) {
			char q[32], val[32];
			if (sscanf(line, "cell: %31s %31s", q, val) == 2)
				snprintf(cells[n_cells++], sizeof(cells[0]), "%s", val);
		}
		assert_int_equal(pclose(p), 0);
		assert_true(n_cells >= 2);
	}

	read_cluster(&cluster);
	assert_true(cluster.len > 0);
	assert_int_equal(deconf_file_read(a.log, 64 << 20, 0, &logtext, &loglen, NULL, 0), 0);
	blob_add(&log, logtext, loglen);
	for (int i = 0; i < 7; i++) {
		assert_no_piece(&cluster, "cluster", v[i].value, strlen(v[i].value));
		assert_no_piece(&log, "adapter log", v[i].value, strlen(v[i].value));
		if (i == 6)
			continue; /* the IP's canonical form is 4 raw bytes */
		canonical_of(&a, v[i].type, v[i].value, v[i].qual, canon, sizeof(canon));
		assert_no_piece(&cluster, "cluster", canon, strlen(canon));
		assert_no_piece(&log, "adapter log", canon, strlen(canon));
	}
	{
		/* coordinates as text and as the doubles they parse to, the
		 * address in pieces, each cell's value whole and without its
		 * "v1:" (6-byte pieces of short hex would match hex ids by
		 * chance) */
		double lat = strtod(ev_lat, NULL), lon = strtod(ev_lon, NULL);
		const struct blob *where[] = { &cluster, &log };
		for (int w = 0; w < 2; w++) {
			const struct blob *b = where[w];
			assert_null(memmem(b->data, b->len, ev_lat, strlen(ev_lat)));
			assert_null(memmem(b->data, b->len, ev_lon, strlen(ev_lon)));
			assert_null(memmem(b->data, b->len, &lat, sizeof(lat)));
			assert_null(memmem(b->data, b->len, &lon, sizeof(lon)));
			assert_no_piece(b, w ? "adapter log" : "cluster", ev_addr, strlen(ev_addr));
			for (size_t i = 0; i < n_cells; i++) {
				assert_null(memmem(b->data, b->len, cells[i], strlen(cells[i])));
				assert_null(memmem(b->data, b->len, cells[i] + 3, strlen(cells[i] + 3)));
			}
		}
	}
	print_message("privacy: %zu bytes of records and %zu bytes of log searched (an event "
		      "of %zu cells among them)\n",
		      cluster.len, log.len, n_cells);
	free(logtext);
	free(cluster.data);
	free(log.data);
	agency_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_submit_and_rerun),
		cmocka_unit_test(test_bad_rows),
		cmocka_unit_test(test_kafka_unreachable),
		cmocka_unit_test(test_sigkill_midway),
		cmocka_unit_test(test_notices),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_resubmit),
		cmocka_unit_test(test_run_daemon),
		cmocka_unit_test(test_tls_acl),
		cmocka_unit_test(test_privacy),
	};

	bootstrap_tls = getenv("DECONF_KRAFT_BOOTSTRAP_TLS");
	tls_dir = getenv("DECONF_KRAFT_TLS_DIR");
	if (!(bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP"))) {
		fprintf(stderr, "DECONF_KRAFT_BOOTSTRAP not set: no Kafka (skipped)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
