/*
 * test_audit.c — the audit trail against the real Kafka: a broker's run with
 * conflicts and a clean stop verifies (every chain, every checkpoint, no
 * unprotected tail after the stop's checkpoint); then copies of the trail
 * that someone with the operator's rights on Kafka could write — a record
 * altered, a record removed, a checkpoint signed by another key or with a
 * flipped signature — each fail with the right partition, offset and kind.
 *
 * A record appended to a Kafka topic cannot replace one already there, so
 * "altered" and "removed" are modelled as the topic's contents written to a
 * fresh topic with one record changed or left out, and that topic checked.
 *
 * Needs DECONF_KRAFT_BOOTSTRAP; exits 77 without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "deconf.pb-c.h"
#include "deconf/envelope.h"
#include "deconf/kafka.h"
#include "deconf/sign.h"
#include "deconf/util.h"
#include "fed.h"

#define K(x) DECONF__V1__##x
#define ADD K(OP__OP_ADD)
#define PHONE K(INDICATOR_TYPE__INDICATOR_TYPE_PHONE)
#define CKPT K(AUDIT_KIND__AUDIT_KIND_CHECKPOINT)

static const char *bootstrap;
static pid_t running;

static void kill_running(void)
{
	if (running > 0)
		kill(running, SIGKILL);
}

/* One record of the audit topic, as read. */
struct rec {
	int64_t offset;
	uint8_t key[4];
	size_t key_len;
	uint8_t *value;
	size_t len;
	uint32_t chain;
	uint64_t seq;
	int kind;
};

struct trail {
	struct rec *r;
	size_t n;
};

static void trail_free(struct trail *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->r[i].value);
	free(t->r);
	memset(t, 0, sizeof(*t));
}

static Deconf__V1__AuditEvent *event_of(const uint8_t *v, size_t len)
{
	Deconf__V1__Envelope *env = NULL;
	Deconf__V1__AuditEvent *ev;

	assert_int_equal(deconf_envelope_unpack(v, len, 1 << 20, &env, NULL, 0), 0);
	ev = deconf__v1__audit_event__unpack(NULL, env->payload.len, env->payload.data);
	deconf_msg_free(env);
	assert_non_null(ev);
	return ev;
}

/* Every committed record of partition 0 of topic. */
static void read_trail(const struct fed *f, const char *topic, struct trail *t)
{
	/* read_committed is librdkafka's default */
	rd_kafka_t *rk = fed_client(f, RD_KAFKA_CONSUMER, "group.id", "itest-audit-read");
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	size_t cap = 0;
	int64_t until = deconf_mono_us() + 60 * 1000000LL;

	memset(t, 0, sizeof(*t));
	assert_non_null(rk);
	rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	assert_int_equal(rd_kafka_assign(rk, l), 0);
	rd_kafka_topic_partition_list_destroy(l);
	for (;;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
		Deconf__V1__AuditEvent *ev;
		struct rec *r;

		assert_true(deconf_mono_us() < until);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			rd_kafka_message_destroy(m);
			break;
		}
		assert_int_equal(m->err, 0);
		if (t->n == cap) {
			cap = cap ? 2 * cap : 256;
			assert_non_null(t->r = realloc(t->r, cap * sizeof(*t->r)));
		}
		r = &t->r[t->n++];
		memset(r, 0, sizeof(*r));
		r->offset = m->offset;
		assert_int_equal(m->key_len, 4);
		memcpy(r->key, m->key, 4);
		r->key_len = 4;
		assert_non_null(r->value = malloc(m->len));
		memcpy(r->value, m->payload, m->len);
		r->len = m->len;
		ev = event_of(r->value, r->len);
		r->chain = ev->chain;
		r->seq = ev->seq;
		r->kind = ev->kind;
		deconf__v1__audit_event__free_unpacked(ev, NULL);
		rd_kafka_message_destroy(m);
	}
	rd_kafka_destroy(rk);
}

/* The verifier's consumer configuration, as deconfctl would build it. */
static rd_kafka_conf_t *verifier_conf(void)
{
	rd_kafka_conf_t *kc = NULL;
	char e[256];

	assert_int_equal(deconf_kafka_conf_new(&kc, NULL, "itest-audit", e, sizeof(e)), 0);
	assert_int_equal(deconf_kafka_conf_set(kc, "bootstrap.servers", bootstrap, "t", e,
					       sizeof(e)),
			 0);
	return kc;
}

/* brk_audit_verify_main on topic: its exit status; its report in out. */
static int verify_main(const char *topic, const struct deconf_sign_key *key, const char *from,
		       char *out, size_t out_size)
{
	FILE *o = fmemopen(out, out_size, "w");
	int rc;

	assert_non_null(o);
	rc = brk_audit_verify_main(verifier_conf(), topic, key, from, o, stderr);
	fclose(o);
	print_message("%s", out);
	return rc;
}

/* deconfctl audit verify on <pfx>audit, as an operator runs it (its own
 * deconfctl.conf, the broker's public key): its exit status; its output in
 * out. */
static int ctl_verify(const struct fed *f, const char *pfx, char *out, size_t out_size)
{
	char dir[300], path[400], text[1200], e[256], *got = NULL;
	size_t len = 0;
	FILE *c;
	int rc;

	snprintf(dir, sizeof(dir), "%s/ctl", f->dir);
	(void)mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/broker.pub", dir);
	assert_int_equal(deconf_sign_key_save_public(f->key, path, e, sizeof(e)), 0);
	snprintf(path, sizeof(path), "%s/deconfctl.conf", dir);
	assert_non_null(c = fopen(path, "w"));
	fprintf(c, "[federation]\ntopic_prefix = %s\npublic_key = %s/federation.pub\n"
		   "broker_public_key = broker.pub\n[kafka]\nbootstrap.servers = %s\n",
		pfx, f->dir, bootstrap);
	assert_int_equal(fclose(c), 0);
	snprintf(text, sizeof(text), "'%s' -f '%s' audit verify >'%s/out.txt' 2>&1", CTL_BIN, dir,
		 dir);
	rc = system(text);
	rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
	snprintf(path, sizeof(path), "%s/out.txt", dir);
	assert_int_equal(deconf_file_read(path, 1 << 20, 0, &got, &len, e, sizeof(e)), 0);
	snprintf(out, out_size, "%s", got);
	free(got);
	print_message("deconfctl audit verify: %d\n%s", rc, out);
	return rc;
}

static void verify(const char *topic, const struct deconf_sign_key *key,
		   const struct brk_audit_from *from, struct brk_audit_report *r)
{
	char e[512] = "";
	int rc = brk_audit_verify(verifier_conf(), topic, key, from, r, e, sizeof(e));

	if (rc)
		fail_msg("verify %s: %s", topic, e);
}

static const struct brk_audit_chain *chain_of(const struct brk_audit_report *r, uint32_t c)
{
	for (size_t i = 0; i < r->n_chains; i++)
		if (r->chains[i].chain == c)
			return &r->chains[i];
	fail_msg("chain %u not in the report", c);
	return NULL;
}

/* The index of the next record of t->r[i]'s chain after i (t->n: none). */
static size_t next_of_chain(const struct trail *t, size_t i)
{
	for (size_t j = i + 1; j < t->n; j++)
		if (t->r[j].chain == t->r[i].chain)
			return j;
	return t->n;
}

/*
 * Write t to a fresh topic <prefix>name (one partition), with record `skip`
 * left out and record `swap` replaced by swap_v (SIZE_MAX: none), in order,
 * by an idempotent producer without transactions: record i lands at offset
 * i (i - 1 after the skipped one).
 */
static void copy_trail(const struct fed *f, const struct trail *t, const char *name, size_t skip,
		       size_t swap, const uint8_t *swap_v, size_t swap_len, char *topic,
		       size_t topic_size)
{
	rd_kafka_t *rk = fed_client(f, RD_KAFKA_PRODUCER, "enable.idempotence", "true");
	int64_t lo, hi, want = 0;

	assert_non_null(rk);
	fed_topic(f, name, topic, topic_size);
	assert_int_equal(fed_create_topic(f, topic, 1, 0), 0);
	for (size_t i = 0; i < t->n; i++) {
		const uint8_t *v = i == swap ? swap_v : t->r[i].value;
		size_t len = i == swap ? swap_len : t->r[i].len;
		rd_kafka_resp_err_t err;

		if (i == skip)
			continue;
		do {
			err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
						RD_KAFKA_V_KEY(t->r[i].key, t->r[i].key_len),
						RD_KAFKA_V_VALUE((void *)v, len),
						RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
			if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
				rd_kafka_poll(rk, 100);
		} while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
		assert_int_equal(err, 0);
		want++;
	}
	assert_int_equal(rd_kafka_flush(rk, 30000), 0);
	/* offsets 0..want-1: the expected offsets below count on it */
	assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, 10000), 0);
	assert_int_equal(lo, 0);
	assert_int_equal(hi, want);
	rd_kafka_destroy(rk);
}

/* A copy of record r's value with its event changed by fn. */
static uint8_t *remade(const struct rec *r, void (*fn)(Deconf__V1__AuditEvent *, void *),
		       void *arg, size_t *len)
{
	Deconf__V1__AuditEvent *ev = event_of(r->value, r->len), copy = *ev;
	uint8_t *inner, *out = NULL;
	size_t il = 0;

	/* changed in a shallow copy: what fn points at is not the parser's */
	fn(&copy, arg);
	il = deconf__v1__audit_event__get_packed_size(&copy);
	assert_non_null(inner = malloc(il ? il : 1));
	deconf__v1__audit_event__pack(&copy, inner);
	assert_int_equal(deconf_envelope_pack(K(MESSAGE_TYPE__MESSAGE_TYPE_AUDIT_EVENT), inner, il,
					      "broker", NULL, &out, len),
			 0);
	free(inner);
	deconf__v1__audit_event__free_unpacked(ev, NULL);
	return out;
}

static void change_detail(Deconf__V1__AuditEvent *ev, void *arg)
{
	(void)arg;
	/* the same event, one word changed: what an editor of the trail does */
	ev->detail = "nothing happened here";
}

static uint8_t resig[DECONF_SIG_LEN];

/* Signed again by the key arg: a well-formed signature of the same head,
 * not the broker's. */
static void sign_other(Deconf__V1__AuditEvent *ev, void *arg)
{
	assert_int_equal(brk_audit_checkpoint_sign(arg, ev->chain, ev->seq - 1, ev->prev_hash.data,
						   ev->at, resig),
			 0);
	ev->checkpoint_signature.data = resig;
	ev->checkpoint_signature.len = sizeof(resig);
}

static void flip_sig(Deconf__V1__AuditEvent *ev, void *arg)
{
	(void)arg;
	assert_int_equal(ev->checkpoint_signature.len, DECONF_SIG_LEN);
	memcpy(resig, ev->checkpoint_signature.data, sizeof(resig));
	resig[17] ^= 0x04;
	ev->checkpoint_signature.data = resig;
}

static void submit(struct fed *f, int agency, const char *case_ref, uint32_t from, uint32_t n)
{
	struct fed_op ops[32];

	assert_true(n <= 32);
	for (uint32_t i = 0; i < n; i++) {
		memset(&ops[i], 0, sizeof(ops[i]));
		ops[i].op = ADD;
		ops[i].case_ref = case_ref;
		ops[i].type = PHONE;
		ops[i].poc_name = "Det. Example";
		fed_token(f, from + i, ops[i].token);
	}
	assert_int_equal(fed_submit(f, agency, ops, n, NULL), 0);
	assert_int_equal(fed_flush(f), 0);
}

static void test_audit_trail(void **state)
{
	struct fed f;
	struct deconf_sign_key *pub = NULL, *other = NULL;
	uint8_t raw[DECONF_PUBKEY_LEN];
	char conf[256], log[256], audit[128], topic[128], out[16384];
	struct brk_audit_report rep;
	struct brk_audit_from from;
	struct trail t;
	size_t n_ckpt = 0, altered = SIZE_MAX, removed = SIZE_MAX, ck = SIZE_MAX, len;
	uint64_t sum_ckpt = 0;
	uint8_t *v;
	int rc;

	(void)state;
	assert_int_equal(fed_new(&f, bootstrap, 4), 0);
	assert_int_equal(fed_agency(&f, "agency-a", "Agency A", K(AGENCY_LEVEL__AGENCY_LEVEL_STATE),
				    "US", K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE)),
			 0);
	assert_int_equal(fed_agency(&f, "agency-b", "Agency B", K(AGENCY_LEVEL__AGENCY_LEVEL_LOCAL),
				    "US", K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE)),
			 1);
	assert_int_equal(deconf_sign_key_public(f.key, raw), 0);
	assert_int_equal(deconf_sign_key_from_public(&pub, raw), 0);
	assert_int_equal(deconf_sign_key_generate(&other, NULL, 0), 0);
	fed_topic(&f, "audit", audit, sizeof(audit));

	/* a run: conflicts in two rounds more than a checkpoint interval
	 * apart, then a clean stop */
	assert_int_equal(fed_broker_conf(&f, "a", "[matcher]\naudit_checkpoint_interval = 1s\n",
					 conf, sizeof(conf)),
			 0);
	snprintf(log, sizeof(log), "%s/broker-a.log", f.dir);
	assert_true((running = fed_broker_start(BROKER_BIN, conf, log)) > 0);
	submit(&f, 0, "A-1", 100, 16);
	submit(&f, 1, "B-1", 100, 16);
	assert_int_equal(fed_wait_processed(&f, 90000), 0);
	usleep(2500 * 1000); /* a periodic checkpoint of every chain that moved */
	submit(&f, 0, "A-2", 200, 12);
	submit(&f, 1, "B-2", 200, 12);
	assert_int_equal(fed_wait_processed(&f, 90000), 0);
	assert_int_equal(fed_broker_stop(running), 0);
	running = 0;

	/* ---- the untouched trail verifies */
	verify(audit, pub, NULL, &rep);
	read_trail(&f, audit, &t);
	for (size_t i = 0; i < t.n; i++)
		n_ckpt += t.r[i].kind == CKPT;
	print_message("%zu audit records, %zu checkpoints, %zu chains\n", t.n, n_ckpt,
		      rep.n_chains);
	assert_int_equal(rep.breaks, 0);
	assert_int_equal(rep.records, t.n);
	assert_int_equal(rep.n_chains, 4); /* every matcher partition: its rebuild note at least */
	for (size_t i = 0; i < rep.n_chains; i++) {
		const struct brk_audit_chain *c = &rep.chains[i];
		assert_int_equal(c->first_break.kind, BRK_AUDIT_OK);
		assert_int_equal(c->first_seq, 1);
		assert_false(c->trusted_start);
		assert_int_equal(c->restarts, 0);
		assert_true(c->checkpoints >= 1);
		/* the stop's checkpoint is the chain's last link */
		assert_int_equal(c->checkpointed_seq, c->last_seq - 1);
		assert_int_equal(c->unprotected, 0);
		sum_ckpt += c->checkpoints;
	}
	assert_int_equal(sum_ckpt, n_ckpt);
	/* the periodic ones happened too, not only the stop's */
	assert_true(n_ckpt > rep.n_chains);
	brk_audit_report_clear(&rep);
	assert_int_equal(verify_main(audit, pub, NULL, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "result: ok"));

	/* the broker's records with another public key: every checkpoint fails */
	verify(audit, other, NULL, &rep);
	assert_int_equal(rep.breaks, n_ckpt);
	for (size_t i = 0; i < rep.n_chains; i++)
		assert_int_equal(rep.chains[i].first_break.kind, BRK_AUDIT_BAD_SIGNATURE);
	brk_audit_report_clear(&rep);

	/* --from: from a record in the middle, chains read from there on are
	 * taken on trust and said so; still no break */
	for (size_t i = t.n / 2; i < t.n && altered == SIZE_MAX; i++)
		if (t.r[i].kind == K(AUDIT_KIND__AUDIT_KIND_CONFLICT) && next_of_chain(&t, i) < t.n)
			altered = i;
	assert_true(altered < t.n);
	{
		char fa[64];
		snprintf(fa, sizeof(fa), "0:%lld", (long long)t.r[altered].offset);
		assert_int_equal(brk_audit_from_parse(fa, &from, NULL, 0), 0);
		verify(audit, pub, &from, &rep);
		assert_int_equal(rep.breaks, 0);
		assert_true(rep.from_given);
		assert_true(chain_of(&rep, t.r[altered].chain)->trusted_start);
		assert_int_equal(chain_of(&rep, t.r[altered].chain)->start_offset,
				 t.r[altered].offset);
		brk_audit_report_clear(&rep);
		assert_int_equal(verify_main(audit, pub, fa, out, sizeof(out)), 0);
		assert_non_null(strstr(out, "taken on trust"));
	}

	/* ---- (a) a record altered: that record is named */
	v = remade(&t.r[altered], change_detail, NULL, &len);
	copy_trail(&f, &t, "audit-altered", SIZE_MAX, altered, v, len, topic, sizeof(topic));
	free(v);
	verify(topic, pub, NULL, &rep);
	{
		const struct brk_audit_chain *c = chain_of(&rep, t.r[altered].chain);
		assert_int_equal(c->first_break.kind, BRK_AUDIT_ALTERED);
		assert_int_equal(c->first_break.partition, 0);
		assert_int_equal(c->first_break.offset, (int64_t)altered);
		assert_int_equal(c->first_break.seq, t.r[altered].seq);
		/* the other chains are untouched */
		for (size_t i = 0; i < rep.n_chains; i++)
			if (rep.chains[i].chain != t.r[altered].chain)
				assert_int_equal(rep.chains[i].first_break.kind, BRK_AUDIT_OK);
	}
	brk_audit_report_clear(&rep);
	assert_int_equal(verify_main(topic, pub, NULL, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "BREAK altered at partition 0 offset"));

	/* ---- (b) a record removed: the record after the gap is named */
	for (size_t i = 1; i < t.n && removed == SIZE_MAX; i++)
		if (t.r[i].kind != CKPT && t.r[i].seq > 1 && next_of_chain(&t, i) < t.n)
			removed = i;
	assert_true(removed < t.n);
	copy_trail(&f, &t, "removed.audit", removed, SIZE_MAX, NULL, 0, topic, sizeof(topic));
	verify(topic, pub, NULL, &rep);
	{
		const struct brk_audit_chain *c = chain_of(&rep, t.r[removed].chain);
		size_t next = next_of_chain(&t, removed);
		assert_int_equal(c->first_break.kind, BRK_AUDIT_GAP);
		assert_int_equal(c->first_break.partition, 0);
		assert_int_equal(c->first_break.offset, (int64_t)next - 1); /* one fewer before it */
		assert_int_equal(c->first_break.seq, t.r[removed].seq + 1);
		assert_int_equal(rep.breaks, 1);
	}
	brk_audit_report_clear(&rep);
	assert_int_equal(verify_main(topic, pub, NULL, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "BREAK gap"));
	/* deconfctl audit verify, on the copy and on the real trail */
	{
		char pfx[128];
		snprintf(pfx, sizeof(pfx), "%sremoved.", f.prefix);
		assert_int_equal(ctl_verify(&f, pfx, out, sizeof(out)), 1);
		assert_non_null(strstr(out, "BREAK gap"));
		assert_non_null(strstr(out, "result: BROKEN: 1 break(s) in 1 chain(s)"));
		assert_int_equal(ctl_verify(&f, f.prefix, out, sizeof(out)), 0);
		assert_non_null(strstr(out, "result: ok"));
	}

	/* ---- (c) a checkpoint signed by another key, then one with a flipped
	 * signature bit: the checkpoint is named (a periodic one, which has
	 * links after it) */
	for (size_t i = 0; i < t.n && ck == SIZE_MAX; i++)
		if (t.r[i].kind == CKPT && next_of_chain(&t, i) < t.n)
			ck = i;
	assert_true(ck < t.n);
	v = remade(&t.r[ck], sign_other, other, &len);
	copy_trail(&f, &t, "audit-othersig", SIZE_MAX, ck, v, len, topic, sizeof(topic));
	free(v);
	verify(topic, pub, NULL, &rep);
	{
		const struct brk_audit_chain *c = chain_of(&rep, t.r[ck].chain);
		assert_int_equal(c->first_break.kind, BRK_AUDIT_BAD_SIGNATURE);
		assert_int_equal(c->first_break.partition, 0);
		assert_int_equal(c->first_break.offset, (int64_t)ck);
		assert_int_equal(c->first_break.seq, t.r[ck].seq);
	}
	brk_audit_report_clear(&rep);
	assert_int_equal(verify_main(topic, pub, NULL, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "BREAK bad signature"));

	v = remade(&t.r[ck], flip_sig, NULL, &len);
	copy_trail(&f, &t, "audit-flipped", SIZE_MAX, ck, v, len, topic, sizeof(topic));
	free(v);
	rc = verify_main(topic, pub, NULL, out, sizeof(out));
	assert_int_equal(rc, 1);
	verify(topic, pub, NULL, &rep);
	assert_int_equal(chain_of(&rep, t.r[ck].chain)->first_break.kind, BRK_AUDIT_BAD_SIGNATURE);
	assert_int_equal(chain_of(&rep, t.r[ck].chain)->first_break.offset, (int64_t)ck);
	brk_audit_report_clear(&rep);

	/* a faithful copy verifies: the breaks above are the changes, not the copying */
	copy_trail(&f, &t, "audit-copy", SIZE_MAX, SIZE_MAX, NULL, 0, topic, sizeof(topic));
	assert_int_equal(verify_main(topic, pub, NULL, out, sizeof(out)), 0);

	/* a topic that is not there: the check could not be made */
	fed_topic(&f, "no-such-audit", topic, sizeof(topic));
	assert_int_equal(verify_main(topic, pub, NULL, out, sizeof(out)), 2);

	trail_free(&t);
	deconf_sign_key_free(pub);
	deconf_sign_key_free(other);
	fed_free(&f);
}

/*
 * A broker SIGKILLed mid-stream and started again: the chains go on where
 * the committed trail stood (no seq repeated, no restart at seq 1), the
 * killed run's unsigned tail is signed after the restart, and the clean stop
 * leaves no unprotected tail.
 */
static void test_audit_after_sigkill(void **state)
{
	struct fed f;
	struct fed_stream st = { .n_subs = 300, .per_sub = 20, .shared = 2, .gap_us = 10000 };
	struct deconf_sign_key *pub = NULL;
	uint8_t raw[DECONF_PUBKEY_LEN];
	char conf[256], log[256], audit[128];
	struct brk_audit_report rep;
	pthread_t th;

	(void)state;
	assert_int_equal(fed_new(&f, bootstrap, 4), 0);
	assert_int_equal(fed_agency(&f, "agency-a", "Agency A", K(AGENCY_LEVEL__AGENCY_LEVEL_STATE),
				    "US", K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE)),
			 0);
	assert_int_equal(fed_agency(&f, "agency-b", "Agency B", K(AGENCY_LEVEL__AGENCY_LEVEL_LOCAL),
				    "US", K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE)),
			 1);
	assert_int_equal(deconf_sign_key_public(f.key, raw), 0);
	assert_int_equal(deconf_sign_key_from_public(&pub, raw), 0);
	fed_topic(&f, "audit", audit, sizeof(audit));
	assert_int_equal(fed_broker_conf(&f, "a", "[matcher]\naudit_checkpoint_interval = 1s\n",
					 conf, sizeof(conf)),
			 0);
	snprintf(log, sizeof(log), "%s/broker-a.log", f.dir);
	assert_true((running = fed_broker_start(BROKER_BIN, conf, log)) > 0);
	st.f = &f;
	assert_int_equal(pthread_create(&th, NULL, fed_stream_main, &st), 0);
	usleep(2500 * 1000);
	assert_false(st.done); /* killed mid-stream */
	kill(running, SIGKILL);
	waitpid(running, NULL, 0);
	assert_true((running = fed_broker_start(BROKER_BIN, conf, log)) > 0);
	pthread_join(th, NULL);
	assert_false(st.failed);
	assert_int_equal(fed_wait_processed(&f, 120000), 0);
	assert_int_equal(fed_broker_stop(running), 0);
	running = 0;
	verify(audit, pub, NULL, &rep);
	brk_audit_report_print(&rep, stdout);
	assert_int_equal(rep.breaks, 0);
	assert_int_equal(rep.n_chains, 4);
	for (size_t i = 0; i < rep.n_chains; i++) {
		assert_int_equal(rep.chains[i].first_seq, 1);
		assert_int_equal(rep.chains[i].restarts, 0);
		assert_int_equal(rep.chains[i].unprotected, 0);
		assert_true(rep.chains[i].checkpoints >= 2);
	}
	brk_audit_report_clear(&rep);
	deconf_sign_key_free(pub);
	fed_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_audit_trail),
		cmocka_unit_test(test_audit_after_sigkill),
	};

	if (!(bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP"))) {
		fprintf(stderr, "DECONF_KRAFT_BOOTSTRAP not set (tests/run.sh starts Kafka): skipped\n");
		return 77;
	}
	atexit(kill_running);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
