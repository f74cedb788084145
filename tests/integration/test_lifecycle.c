/*
 * test_lifecycle.c — from notice to resolution on the real Kafka: an
 * agency acknowledges a conflict notice and records an outcome, the
 * counterpart is told once, a false acknowledgment is refused and changes
 * nothing, an unacknowledged cautioned conflict escalates once, and all of
 * it survives kill -9 of the broker and a wipe of its state directory, for
 * one conflict and for many on every deconf.tokens partition.
 *
 * A throwaway federation (fed.h) with four agencies. Acknowledgments are
 * built and signed here, each carrying the notice it acknowledges as the
 * agency received it (deconf.proto, Acknowledgment); notices, receipts,
 * rejects, ops events and the changelog are read back and the broker's
 * signatures checked.
 *
 * Needs DECONF_KRAFT_BOOTSTRAP; exits 77 without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deconf.pb-c.h"
#include "deconf/envelope.h"
#include "deconf/util.h"
#include "fed.h"

#define K(x) DECONF__V1__##x
#define KIND(x) K(NOTICE_KIND__NOTICE_KIND_##x)
#define OUT(x) K(OUTCOME__OUTCOME_##x)
#define PHONE K(INDICATOR_TYPE__INDICATOR_TYPE_PHONE)
#define ARMED K(CAUTION_FLAG__CAUTION_ARMED)

static const char *bootstrap;
static pid_t running[4];

static pid_t track(pid_t pid)
{
	for (int i = 0; i < 4 && pid > 0; i++)
		if (running[i] <= 0) {
			running[i] = pid;
			break;
		}
	return pid;
}

static void untrack(pid_t pid)
{
	for (int i = 0; i < 4; i++)
		if (running[i] == pid)
			running[i] = 0;
}

static void kill_running(void)
{
	for (int i = 0; i < 4; i++)
		if (running[i] > 0)
			kill(running[i], SIGKILL);
}

/* ------------------------------------------------------------- records */

/* A notice as received: its signed envelope and what it says. */
struct note {
	uint8_t *env;
	size_t env_len;
	Deconf__V1__ConflictNotice *n;
};

static void notes_free(struct note *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].env);
		deconf_msg_free(&v[i].n->base);
	}
	free(v);
}

/* Every notice agency a was sent, each verified with the broker's key. */
static struct note *notices(const struct fed *f, int a, size_t *n)
{
	char topic[128];
	size_t nr;
	struct fed_raw *r;
	struct note *v;

	snprintf(topic, sizeof(topic), "%snotices.%s", f->prefix, f->ag[a].id);
	r = fed_read_raw(f, topic, 1, &nr);
	assert_non_null(v = calloc(nr + 1, sizeof(*v)));
	*n = 0;
	for (size_t i = 0; i < nr; i++) {
		ProtobufCMessage *msg = NULL;
		assert_int_equal(deconf_envelope_open(r[i].value, r[i].len, 1 << 20,
						      K(MESSAGE_TYPE__MESSAGE_TYPE_CONFLICT_NOTICE),
						      f->key, &deconf__v1__conflict_notice__descriptor,
						      &msg, NULL, 0),
				 0);
		v[*n].n = (Deconf__V1__ConflictNotice *)msg;
		v[*n].env = r[i].value;
		v[*n].env_len = r[i].len;
		r[i].value = NULL;
		(*n)++;
	}
	fed_raw_free(r, nr);
	return v;
}

/* Notices read earlier stay valid until the test's world is freed: a test
 * re-reads a topic and still uses what it read before. */
static struct {
	struct note *v;
	size_t n;
} kept[64];
static size_t n_kept;

static void notes_later(struct note *v, size_t n)
{
	assert_true(n_kept < 64);
	kept[n_kept].v = v;
	kept[n_kept++].n = n;
}

static void notes_drop_kept(void)
{
	for (size_t i = 0; i < n_kept; i++)
		notes_free(kept[i].v, kept[i].n);
	n_kept = 0;
}

static size_t count_kind(const struct note *v, size_t n, int kind)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += (int)v[i].n->kind == kind;
	return c;
}

static const struct note *first_kind(const struct note *v, size_t n, int kind)
{
	for (size_t i = 0; i < n; i++)
		if ((int)v[i].n->kind == kind)
			return &v[i];
	return NULL;
}

/* The Receipt for submission sid on agency a's receipts topic (NULL: none
 * yet); verified with the broker's key. Caller frees (deconf_msg_free). */
static Deconf__V1__Receipt *receipt(const struct fed *f, int a, const uint8_t sid[16])
{
	char topic[128];
	size_t nr;
	struct fed_raw *r;
	Deconf__V1__Receipt *out = NULL;

	snprintf(topic, sizeof(topic), "%sreceipts.%s", f->prefix, f->ag[a].id);
	r = fed_read_raw(f, topic, 1, &nr);
	for (size_t i = 0; i < nr && !out; i++) {
		ProtobufCMessage *msg = NULL;
		assert_int_equal(deconf_envelope_open(r[i].value, r[i].len, 1 << 20,
						      K(MESSAGE_TYPE__MESSAGE_TYPE_RECEIPT), f->key,
						      &deconf__v1__receipt__descriptor, &msg, NULL, 0),
				 0);
		Deconf__V1__Receipt *x = (Deconf__V1__Receipt *)msg;
		if (x->submission_id.len == 16 && !memcmp(x->submission_id.data, sid, 16))
			out = x;
		else
			deconf_msg_free(msg);
	}
	fed_raw_free(r, nr);
	return out;
}

/* Sign and send a Submission of agency a holding one acknowledgment of
 * notice id `id`, carrying env (a notice's envelope as received; NULL:
 * none). sid receives the submission id. */
static void send_ack(struct fed *f, int a, const uint8_t id[16], int outcome, const uint8_t *env,
		     size_t env_len, uint8_t sid[16])
{
	Deconf__V1__Submission s = DECONF__V1__SUBMISSION__INIT;
	Deconf__V1__Acknowledgment ack = DECONF__V1__ACKNOWLEDGMENT__INIT, *acks[1] = { &ack };
	char topic[128];
	uint8_t *buf;
	size_t len;

	RAND_bytes(sid, 16);
	s.agency_id.data = (uint8_t *)f->ag[a].id;
	s.agency_id.len = strlen(f->ag[a].id);
	s.submission_id.data = sid;
	s.submission_id.len = 16;
	s.created_at = deconf_now_ms();
	s.acks = acks;
	s.n_acks = 1;
	ack.notice_id.data = (uint8_t *)id;
	ack.notice_id.len = 16;
	ack.outcome = outcome;
	if (env) {
		ack.notice.data = (uint8_t *)env;
		ack.notice.len = env_len;
	}
	assert_int_equal(deconf_envelope_seal(&s.base, K(MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION),
					      f->ag[a].id, f->ag[a].key, &buf, &len),
			 0);
	snprintf(topic, sizeof(topic), "%ssubmit.%s", f->prefix, f->ag[a].id);
	assert_int_equal(rd_kafka_producev(f->producer, RD_KAFKA_V_TOPIC(topic),
					   RD_KAFKA_V_KEY("ack", 3), RD_KAFKA_V_VALUE(buf, len),
					   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END),
			 0);
	assert_int_equal(fed_flush(f), 0);
}

/* The receipt of sid, waited for (the broker answers every submission). */
static Deconf__V1__Receipt *wait_receipt(const struct fed *f, int a, const uint8_t sid[16])
{
	Deconf__V1__Receipt *r = NULL;

	for (int i = 0; i < 60 && !(r = receipt(f, a, sid)); i++)
		usleep(500000);
	assert_non_null(r);
	return r;
}

static void add(struct fed *f, int a, const char *case_ref, uint32_t tok, uint32_t flags)
{
	struct fed_op o;

	memset(&o, 0, sizeof(o));
	o.op = K(OP__OP_ADD);
	o.case_ref = case_ref;
	o.type = PHONE;
	o.flags = flags;
	o.poc_name = "Det. Example";
	fed_token(f, tok, o.token);
	assert_int_equal(fed_submit(f, a, &o, 1, NULL), 0);
}

/* A copy of its own of a lifecycle record (a decoded record comes with
 * the reader's allocator). Caller frees (free_unpacked). */
static Deconf__V1__ConflictLife *life_copy(const Deconf__V1__ConflictLife *l)
{
	uint8_t buf[4096];
	size_t len = deconf__v1__conflict_life__get_packed_size(l);
	Deconf__V1__ConflictLife *out;

	assert_true(len <= sizeof(buf));
	deconf__v1__conflict_life__pack(l, buf);
	assert_non_null(out = deconf__v1__conflict_life__unpack(NULL, len, buf));
	return out;
}

/* The last committed changelog record of one side's lifecycle ("L" id);
 * NULL: none. Caller frees (deconf_msg_free). */
static Deconf__V1__ConflictLife *life_of(const struct fed *f, const uint8_t id[16])
{
	char topic[128];
	size_t nr;
	struct fed_raw *r;
	Deconf__V1__ConflictLife *out = NULL;

	r = fed_read_raw(f, fed_topic(f, "state", topic, sizeof(topic)), f->n_partitions, &nr);
	for (size_t i = 0; i < nr; i++) {
		ProtobufCMessage *msg = NULL;
		if (r[i].key_len != 17 || r[i].key[0] != 'L' || memcmp(r[i].key + 1, id, 16) ||
		    !r[i].value)
			continue;
		Deconf__V1__Envelope *env = NULL;
		/* the changelog is internal: unsigned, guarded by ACLs */
		assert_int_equal(deconf_envelope_unpack(r[i].value, r[i].len, 1 << 20, &env, NULL, 0),
				 0);
		assert_int_equal(env->type, K(MESSAGE_TYPE__MESSAGE_TYPE_STATE_RECORD));
		assert_int_equal(deconf_envelope_payload(env, &deconf__v1__state_record__descriptor,
							 &msg, NULL, 0),
				 0);
		deconf_msg_free(&env->base);
		Deconf__V1__StateRecord *s = (Deconf__V1__StateRecord *)msg;
		assert_non_null(s->life);
		if (out)
			deconf__v1__conflict_life__free_unpacked(out, NULL);
		out = life_copy(s->life);
		deconf_msg_free(msg);
	}
	fed_raw_free(r, nr);
	return out;
}

/* The last committed changelog record of each of n sides (ids[i]) into
 * out[i] (NULL: none; the caller frees each) and the state partition it is
 * on into part[i] (-1: none): one read of the changelog for many. */
static void lives_of(const struct fed *f, const uint8_t (*ids)[16], size_t n,
		     Deconf__V1__ConflictLife **out, int *part)
{
	char topic[128];
	size_t nr;
	struct fed_raw *r;

	for (size_t j = 0; j < n; j++) {
		out[j] = NULL;
		part[j] = -1;
	}
	r = fed_read_raw(f, fed_topic(f, "state", topic, sizeof(topic)), f->n_partitions, &nr);
	for (size_t i = 0; i < nr; i++) {
		ProtobufCMessage *msg = NULL;
		Deconf__V1__Envelope *env = NULL;
		size_t j;

		if (r[i].key_len != 17 || r[i].key[0] != 'L' || !r[i].value)
			continue;
		for (j = 0; j < n && memcmp(r[i].key + 1, ids[j], 16); j++)
			;
		if (j == n)
			continue;
		assert_int_equal(deconf_envelope_unpack(r[i].value, r[i].len, 1 << 20, &env, NULL, 0),
				 0);
		assert_int_equal(deconf_envelope_payload(env, &deconf__v1__state_record__descriptor,
							 &msg, NULL, 0),
				 0);
		deconf_msg_free(&env->base);
		assert_non_null(((Deconf__V1__StateRecord *)msg)->life);
		if (out[j])
			deconf__v1__conflict_life__free_unpacked(out[j], NULL);
		out[j] = life_copy(((Deconf__V1__StateRecord *)msg)->life);
		/* a side's records all go to its token's partition */
		assert_true(part[j] < 0 || part[j] == r[i].partition);
		part[j] = r[i].partition;
		deconf_msg_free(msg);
	}
	fed_raw_free(r, nr);
}

/* Ops events of kind ESCALATION, decoded (broker-signed). */
static Deconf__V1__OpsEvent **escalations(const struct fed *f, size_t *n)
{
	char topic[128];
	size_t nr;
	struct fed_raw *r = fed_read_raw(f, fed_topic(f, "ops", topic, sizeof(topic)), 1, &nr);
	Deconf__V1__OpsEvent **v = calloc(nr + 1, sizeof(*v));

	assert_non_null(v);
	*n = 0;
	for (size_t i = 0; i < nr; i++) {
		ProtobufCMessage *msg = NULL;
		assert_int_equal(deconf_envelope_open(r[i].value, r[i].len, 1 << 20,
						      K(MESSAGE_TYPE__MESSAGE_TYPE_OPS_EVENT), f->key,
						      &deconf__v1__ops_event__descriptor, &msg, NULL, 0),
				 0);
		if (((Deconf__V1__OpsEvent *)msg)->kind == K(OPS_KIND__OPS_KIND_ESCALATION))
			v[(*n)++] = (Deconf__V1__OpsEvent *)msg;
		else
			deconf_msg_free(msg);
	}
	fed_raw_free(r, nr);
	return v;
}

static void escalations_free(Deconf__V1__OpsEvent **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		deconf_msg_free(&v[i]->base);
	free(v);
}

static int bytes_is(const ProtobufCBinaryData *b, const char *s)
{
	return b->len == strlen(s) && !memcmp(b->data, s, b->len);
}

/* Wait until agency a has a receipt for each of the n submissions sids
 * (one read of its receipts topic per look), and check each accepted. */
static void wait_accepted(const struct fed *f, int a, const uint8_t (*sids)[16], size_t n,
			  int max_s)
{
	char topic[128];
	int *res = calloc(n + 1, sizeof(*res));
	size_t got = 0;

	assert_non_null(res);
	snprintf(topic, sizeof(topic), "%sreceipts.%s", f->prefix, f->ag[a].id);
	for (int i = 0; i < max_s * 2 && got < n; i++) {
		size_t nr;
		struct fed_raw *r;

		if (i)
			usleep(500000);
		r = fed_read_raw(f, topic, 1, &nr);
		got = 0;
		memset(res, 0, n * sizeof(*res));
		for (size_t k = 0; k < nr; k++) {
			ProtobufCMessage *msg = NULL;
			Deconf__V1__Receipt *x;
			assert_int_equal(deconf_envelope_open(r[k].value, r[k].len, 1 << 20,
							      K(MESSAGE_TYPE__MESSAGE_TYPE_RECEIPT),
							      f->key, &deconf__v1__receipt__descriptor,
							      &msg, NULL, 0),
					 0);
			x = (Deconf__V1__Receipt *)msg;
			for (size_t j = 0; j < n; j++)
				if (x->submission_id.len == 16 &&
				    !memcmp(x->submission_id.data, sids[j], 16) && !res[j]) {
					res[j] = (int)x->result;
					got++;
				}
			deconf_msg_free(msg);
		}
		fed_raw_free(r, nr);
	}
	if (got < n)
		fail_msg("agency %s: %zu of %zu receipts after %d s", f->ag[a].id, got, n, max_s);
	for (size_t j = 0; j < n; j++)
		assert_int_equal(res[j], K(RECEIPT_RESULT__RECEIPT_RESULT_ACCEPTED));
	free(res);
}

/* Wait until agency a has `want` notices of kind (or max_s passes). */
static void wait_kind(const struct fed *f, int a, int kind, size_t want, int max_s)
{
	for (int i = 0; i < max_s * 2; i++) {
		size_t n;
		struct note *v = notices(f, a, &n);
		size_t c = count_kind(v, n, kind);
		notes_free(v, n);
		if (c >= want)
			return;
		usleep(500000);
	}
	fail_msg("agency %s: fewer than %zu notices of kind %d after %d s", f->ag[a].id, want,
		 kind, max_s);
}

/* Wait until the watch desk on port shows want (or max_s passes); the
 * page is returned (the caller frees it). */
static char *wait_desk(int port, const char *want, int max_s)
{
	char *page = NULL;

	for (int i = 0; i < max_s * 4; i++) {
		free(page);
		page = NULL;
		if (fed_http_get(port, "/desk", &page) == 200 && page && strstr(page, want))
			return page;
		usleep(250000);
	}
	fprintf(stderr, "the watch desk, last seen:\n%s\n", page ? page : "(no answer)");
	free(page);
	fail_msg("the watch desk did not show %s within %d s", want, max_s);
	return NULL;
}

/* ------------------------------------------------------------------ tests */

struct world {
	struct fed f;
	int a, b, c, d;
	char conf[256], log[256];
	pid_t broker;
};

static void world_new(struct world *w, const char *extra)
{
	memset(w, 0, sizeof(*w));
	assert_int_equal(fed_new(&w->f, bootstrap, 2), 0);
	w->a = fed_agency(&w->f, "agency-a", "Agency A", K(AGENCY_LEVEL__AGENCY_LEVEL_FEDERAL),
			  "US", K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE));
	w->b = fed_agency(&w->f, "agency-b", "Agency B", K(AGENCY_LEVEL__AGENCY_LEVEL_STATE),
			  "US", K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE));
	w->c = fed_agency(&w->f, "agency-c", "Agency C", K(AGENCY_LEVEL__AGENCY_LEVEL_TRIBAL),
			  "US", K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE));
	w->d = fed_agency(&w->f, "agency-d", "Agency D", K(AGENCY_LEVEL__AGENCY_LEVEL_LOCAL), "US",
			  K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE));
	assert_true(w->a >= 0 && w->b >= 0 && w->c >= 0 && w->d >= 0);
	assert_int_equal(fed_broker_conf(&w->f, "a", extra, w->conf, sizeof(w->conf)), 0);
	snprintf(w->log, sizeof(w->log), "%s/broker.log", w->f.dir);
	assert_true((w->broker = track(fed_broker_start(BROKER_BIN, w->conf, w->log))) > 0);
}

static void world_free(struct world *w)
{
	char cmd[600];

	if (w->broker > 0) {
		assert_int_equal(fed_broker_stop(w->broker), 0);
		untrack(w->broker);
	}
	/* a sanitizer report in any broker run fails the test */
	snprintf(cmd, sizeof(cmd), "grep -q 'Sanitizer\\|runtime error' '%s'", w->log);
	if (system(cmd) == 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s' >&2", w->log);
		assert_int_equal(system(cmd), 0);
		fail_msg("sanitizer report in %s", w->log);
	}
	fed_free(&w->f);
	notes_drop_kept();
}

static void kill9_restart(struct world *w, int wipe)
{
	char cmd[512];

	kill(w->broker, SIGKILL);
	waitpid(w->broker, NULL, 0);
	untrack(w->broker);
	if (wipe) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s/state-a'", w->f.dir);
		assert_int_equal(system(cmd), 0);
	}
	assert_true((w->broker = track(fed_broker_start(BROKER_BIN, w->conf, w->log))) > 0);
}

/*
 * A and B hold the same indicator; A acknowledges (SEEN): its receipt says
 * accepted, B is told once, by a notice naming B's own notice and A's
 * outcome; the same acknowledgment again changes nothing; a new outcome is
 * told again. Its lifecycle record on the changelog says what A recorded.
 */
static void test_ack_relayed_once(void **state)
{
	struct world w;
	struct note *va, *vb;
	size_t na, nb;
	uint8_t sid[16], sid2[16], sid3[16];
	Deconf__V1__Receipt *r;
	Deconf__V1__ConflictLife *l;
	const struct note *ca, *cb, *up;

	(void)state;
	world_new(&w, NULL);
	add(&w.f, w.a, "A-1", 1, 0);
	add(&w.f, w.b, "B-1", 1, 0);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_kind(&w.f, w.b, KIND(CONFLICT), 1, 60);
	wait_kind(&w.f, w.a, KIND(CONFLICT), 1, 30);
	va = notices(&w.f, w.a, &na);
	vb = notices(&w.f, w.b, &nb);
	assert_non_null(ca = first_kind(va, na, KIND(CONFLICT)));
	assert_non_null(cb = first_kind(vb, nb, KIND(CONFLICT)));

	send_ack(&w.f, w.a, ca->n->notice_id.data, OUT(SEEN), ca->env, ca->env_len, sid);
	r = wait_receipt(&w.f, w.a, sid);
	assert_int_equal(r->result, K(RECEIPT_RESULT__RECEIPT_RESULT_ACCEPTED));
	assert_int_equal(r->acks, 1);
	assert_int_equal(r->token_ops, 1);
	deconf_msg_free(&r->base);
	wait_kind(&w.f, w.b, KIND(ACKNOWLEDGED), 1, 30);

	/* the same again, in a new submission: applied, told to nobody */
	send_ack(&w.f, w.a, ca->n->notice_id.data, OUT(SEEN), ca->env, ca->env_len, sid2);
	r = wait_receipt(&w.f, w.a, sid2);
	assert_int_equal(r->result, K(RECEIPT_RESULT__RECEIPT_RESULT_ACCEPTED));
	deconf_msg_free(&r->base);
	assert_int_equal(fed_wait_processed(&w.f, 60000), 0);
	notes_later(vb, nb);
	vb = notices(&w.f, w.b, &nb);
	assert_int_equal(count_kind(vb, nb, KIND(ACKNOWLEDGED)), 1);
	assert_non_null(up = first_kind(vb, nb, KIND(ACKNOWLEDGED)));
	assert_int_equal(up->n->outcome, OUT(SEEN));
	assert_int_equal(up->n->about_notice_id.len, 16);
	assert_memory_equal(up->n->about_notice_id.data, cb->n->notice_id.data, 16);
	assert_true(bytes_is(&up->n->agency_id, "agency-b"));
	assert_true(bytes_is(&up->n->case_ref, "B-1"));
	assert_non_null(up->n->counterpart);
	assert_true(bytes_is(&up->n->counterpart->agency_id, "agency-a"));
	/* A is told nothing of its own acknowledgment */
	notes_later(va, na);
	va = notices(&w.f, w.a, &na);
	assert_int_equal(count_kind(va, na, KIND(ACKNOWLEDGED)), 0);
	ca = first_kind(va, na, KIND(CONFLICT));

	/* a new outcome is news */
	send_ack(&w.f, w.a, ca->n->notice_id.data, OUT(COUNTERPART_CONTACTED), ca->env,
		 ca->env_len, sid3);
	r = wait_receipt(&w.f, w.a, sid3);
	assert_int_equal(r->result, K(RECEIPT_RESULT__RECEIPT_RESULT_ACCEPTED));
	deconf_msg_free(&r->base);
	wait_kind(&w.f, w.b, KIND(ACKNOWLEDGED), 2, 30);
	assert_int_equal(fed_wait_processed(&w.f, 60000), 0);
	notes_later(vb, nb);
	vb = notices(&w.f, w.b, &nb);
	assert_int_equal(count_kind(vb, nb, KIND(ACKNOWLEDGED)), 2);

	/* the changelog holds A's side: both outcomes, acknowledged; B's side
	 * untouched */
	assert_non_null(l = life_of(&w.f, ca->n->notice_id.data));
	assert_true(bytes_is(&l->agency_id, "agency-a"));
	assert_true(l->acked_at > 0);
	assert_int_equal(l->outcome, OUT(COUNTERPART_CONTACTED));
	assert_int_equal(l->outcomes, (1u << OUT(SEEN)) | (1u << OUT(COUNTERPART_CONTACTED)));
	deconf__v1__conflict_life__free_unpacked(l, NULL);
	assert_non_null(l = life_of(&w.f, cb->n->notice_id.data));
	assert_true(bytes_is(&l->agency_id, "agency-b"));
	assert_int_equal(l->acked_at, 0);
	assert_int_equal(l->outcomes, 0);
	deconf__v1__conflict_life__free_unpacked(l, NULL);

	notes_later(va, na);
	notes_later(vb, nb);
	world_free(&w);
}

/*
 * False acknowledgments are refused UNKNOWN_NOTICE and change nothing:
 * an id with no notice; a made-up notice; and B–C's conflict acknowledged
 * by A, who knows B's notice id and even holds B's signed notice.
 */
static void test_false_ack_refused(void **state)
{
	struct world w;
	struct note *vb, *vc, *va;
	size_t nb, nc, na;
	uint8_t sid[16], guess[16];
	Deconf__V1__Receipt *r;
	Deconf__V1__ConflictLife *l;
	const struct note *cb;
	struct fed_reject *rj = NULL;
	size_t nrj = 0, bad = 0;

	(void)state;
	world_new(&w, NULL);
	add(&w.f, w.b, "B-2", 2, 0);
	add(&w.f, w.c, "C-2", 2, 0);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_kind(&w.f, w.b, KIND(CONFLICT), 1, 60);
	wait_kind(&w.f, w.c, KIND(CONFLICT), 1, 30);
	vb = notices(&w.f, w.b, &nb);
	assert_non_null(cb = first_kind(vb, nb, KIND(CONFLICT)));

	/* an id alone (no notice), a guessed id */
	RAND_bytes(guess, sizeof(guess));
	send_ack(&w.f, w.a, guess, OUT(SEEN), NULL, 0, sid);
	r = wait_receipt(&w.f, w.a, sid);
	assert_int_equal(r->result, K(RECEIPT_RESULT__RECEIPT_RESULT_REFUSED));
	assert_int_equal(r->reason, K(REJECT_REASON__REJECT_REASON_UNKNOWN_NOTICE));
	assert_int_equal(r->op_index, 0);
	deconf_msg_free(&r->base);
	/* B's notice id, bare */
	send_ack(&w.f, w.a, cb->n->notice_id.data, OUT(DECONFLICTED), NULL, 0, sid);
	r = wait_receipt(&w.f, w.a, sid);
	assert_int_equal(r->reason, K(REJECT_REASON__REJECT_REASON_UNKNOWN_NOTICE));
	deconf_msg_free(&r->base);
	/* B's notice as B received it, signed by the broker: not A's */
	send_ack(&w.f, w.a, cb->n->notice_id.data, OUT(DECONFLICTED), cb->env, cb->env_len, sid);
	r = wait_receipt(&w.f, w.a, sid);
	assert_int_equal(r->result, K(RECEIPT_RESULT__RECEIPT_RESULT_REFUSED));
	assert_int_equal(r->reason, K(REJECT_REASON__REJECT_REASON_UNKNOWN_NOTICE));
	deconf_msg_free(&r->base);
	/* and the refusal is on A's rejects topic too */
	assert_int_equal(fed_read_rejects(&w.f, "agency-a", &rj, &nrj, &bad, 15000), 0);
	assert_int_equal(nrj, 3);
	for (size_t i = 0; i < nrj; i++)
		assert_int_equal(rj[i].reason, K(REJECT_REASON__REJECT_REASON_UNKNOWN_NOTICE));
	free(rj);

	/* nothing changed: no update to anyone, B's side as it was */
	assert_int_equal(fed_wait_processed(&w.f, 60000), 0);
	vc = notices(&w.f, w.c, &nc);
	va = notices(&w.f, w.a, &na);
	assert_int_equal(count_kind(vc, nc, KIND(ACKNOWLEDGED)), 0);
	assert_int_equal(na, 0);
	notes_later(vb, nb);
	vb = notices(&w.f, w.b, &nb);
	assert_int_equal(count_kind(vb, nb, KIND(ACKNOWLEDGED)), 0);
	cb = first_kind(vb, nb, KIND(CONFLICT));
	assert_non_null(l = life_of(&w.f, cb->n->notice_id.data));
	assert_int_equal(l->acked_at, 0);
	assert_int_equal(l->outcomes, 0);
	deconf__v1__conflict_life__free_unpacked(l, NULL);

	/* B itself may: its acknowledgment reaches C */
	send_ack(&w.f, w.b, cb->n->notice_id.data, OUT(JOINT_INVESTIGATION), cb->env, cb->env_len,
		 sid);
	r = wait_receipt(&w.f, w.b, sid);
	assert_int_equal(r->result, K(RECEIPT_RESULT__RECEIPT_RESULT_ACCEPTED));
	deconf_msg_free(&r->base);
	wait_kind(&w.f, w.c, KIND(ACKNOWLEDGED), 1, 30);

	notes_later(va, na);
	notes_later(vb, nb);
	notes_later(vc, nc);
	world_free(&w);
}

/*
 * Escalation: A holds the indicator ARMED, B adds it; A acknowledges, B
 * does not. After escalate_after (10 s) ops get one escalation naming B
 * (both contacts, no token) and B one reminder; A neither. It stays one
 * through a kill -9 and a wipe of the state directory, and B's late
 * acknowledgment still reaches A.
 */
static void test_escalation_once(void **state)
{
	struct world w;
	struct note *va, *vb;
	size_t na, nb, ne;
	uint8_t sid[16];
	Deconf__V1__Receipt *r;
	Deconf__V1__OpsEvent **ev;
	const struct note *ca, *cb, *rem;

	char extra[128], *page;
	int port = fed_free_port();

	(void)state;
	/* long enough for A to acknowledge first on a loaded machine */
	snprintf(extra, sizeof(extra), "[matcher]\nescalate_after = 10s\n[http]\nport = %d\n",
		 port);
	world_new(&w, extra);
	add(&w.f, w.a, "A-3", 3, ARMED);
	assert_int_equal(fed_flush(&w.f), 0);
	add(&w.f, w.b, "B-3", 3, 0);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_kind(&w.f, w.a, KIND(CONFLICT), 1, 60);
	va = notices(&w.f, w.a, &na);
	assert_non_null(ca = first_kind(va, na, KIND(CONFLICT)));
	send_ack(&w.f, w.a, ca->n->notice_id.data, OUT(SEEN), ca->env, ca->env_len, sid);
	r = wait_receipt(&w.f, w.a, sid);
	assert_int_equal(r->result, K(RECEIPT_RESULT__RECEIPT_RESULT_ACCEPTED));
	deconf_msg_free(&r->base);

	wait_kind(&w.f, w.b, KIND(REMINDER), 1, 60);
	/* the watch desk lists it: B has not acknowledged, A is the
	 * counterpart, both contacts, how long it has waited; no token or
	 * case reference. It is listed from a snapshot taken after the
	 * escalation pass committed: a second escalation would be out by
	 * then. */
	page = wait_desk(port, "<tr class=\"escalation\"><td><b>agency-b</b><br>Det. Example", 30);
	assert_non_null(strstr(page, "Open escalations (1)"));
	assert_non_null(strstr(page, "</td><td><b>agency-a</b><br>Det. Example"));
	assert_non_null(strstr(page, "<td class=\"bad\">armed</td>"));
	assert_null(strstr(page, "A-3"));
	assert_null(strstr(page, "B-3"));
	free(page);
	assert_int_equal(fed_wait_processed(&w.f, 60000), 0);
	vb = notices(&w.f, w.b, &nb);
	assert_non_null(cb = first_kind(vb, nb, KIND(CONFLICT)));
	assert_int_equal(count_kind(vb, nb, KIND(REMINDER)), 1);
	assert_non_null(rem = first_kind(vb, nb, KIND(REMINDER)));
	assert_memory_equal(rem->n->about_notice_id.data, cb->n->notice_id.data, 16);
	notes_later(va, na);
	va = notices(&w.f, w.a, &na);
	assert_int_equal(count_kind(va, na, KIND(REMINDER)), 0);
	ev = escalations(&w.f, &ne);
	assert_int_equal(ne, 1);
	assert_true(bytes_is(&ev[0]->agency_id, "agency-b"));
	assert_true(bytes_is(&ev[0]->other_agency_id, "agency-a"));
	assert_memory_equal(ev[0]->notice_id.data, cb->n->notice_id.data, 16);
	assert_int_equal(ev[0]->token.len, 0);
	assert_non_null(ev[0]->poc);
	assert_non_null(ev[0]->other_poc);
	assert_string_equal(ev[0]->poc->name, "Det. Example");
	assert_string_equal(ev[0]->other_poc->name, "Det. Example");
	assert_true(ev[0]->caution_flags & ARMED);
	escalations_free(ev, ne);

	/* kill -9, state wiped: restored from the changelog, not escalated again */
	kill9_restart(&w, 1);
	/* restored: the desk lists it open again (from a snapshot after the
	 * restore and the first escalation pass) */
	free(wait_desk(port, "<tr class=\"escalation\"><td><b>agency-b</b>", 60));
	assert_int_equal(fed_wait_processed(&w.f, 60000), 0);
	ev = escalations(&w.f, &ne);
	assert_int_equal(ne, 1);
	escalations_free(ev, ne);
	notes_later(vb, nb);
	vb = notices(&w.f, w.b, &nb);
	assert_int_equal(count_kind(vb, nb, KIND(REMINDER)), 1);
	cb = first_kind(vb, nb, KIND(CONFLICT));

	/* the restored lifecycle knows A's SEEN (a resend tells B nothing) and
	 * takes B's late acknowledgment */
	send_ack(&w.f, w.a, ca->n->notice_id.data, OUT(SEEN), ca->env, ca->env_len, sid);
	r = wait_receipt(&w.f, w.a, sid);
	deconf_msg_free(&r->base);
	send_ack(&w.f, w.b, cb->n->notice_id.data, OUT(SEEN), cb->env, cb->env_len, sid);
	r = wait_receipt(&w.f, w.b, sid);
	assert_int_equal(r->result, K(RECEIPT_RESULT__RECEIPT_RESULT_ACCEPTED));
	deconf_msg_free(&r->base);
	wait_kind(&w.f, w.a, KIND(ACKNOWLEDGED), 1, 30);
	/* acknowledged: off the desk's list */
	free(wait_desk(port, "id=\"no-escalations\"", 30));
	assert_int_equal(fed_wait_processed(&w.f, 60000), 0);
	notes_later(vb, nb);
	vb = notices(&w.f, w.b, &nb);
	assert_int_equal(count_kind(vb, nb, KIND(ACKNOWLEDGED)), 1);
	notes_later(va, na);
	va = notices(&w.f, w.a, &na);
	assert_int_equal(count_kind(va, na, KIND(ACKNOWLEDGED)), 1);

	notes_later(va, na);
	notes_later(vb, nb);
	world_free(&w);
}

/*
 * The lifecycle survives kill -9 without a wipe too (the local state kept,
 * its checkpoint honoured), and an acknowledged cautioned conflict does
 * not escalate on either side once both acknowledged.
 */
static void test_acked_does_not_escalate(void **state)
{
	struct world w;
	struct note *va, *vb;
	size_t na, nb, ne;
	uint8_t sid[16];
	Deconf__V1__Receipt *r;
	Deconf__V1__OpsEvent **ev;
	const struct note *ca, *cb;
	int64_t t_conflict;

	(void)state;
	/* long enough for a restart and both acknowledgments on a loaded machine */
	world_new(&w, "[matcher]\nescalate_after = 30s\n");
	add(&w.f, w.c, "C-4", 4, K(CAUTION_FLAG__CAUTION_VICTIM_AT_RISK));
	assert_int_equal(fed_flush(&w.f), 0);
	add(&w.f, w.d, "D-4", 4, 0);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_kind(&w.f, w.c, KIND(CONFLICT), 1, 60);
	wait_kind(&w.f, w.d, KIND(CONFLICT), 1, 30);
	t_conflict = deconf_mono_us();
	va = notices(&w.f, w.c, &na);
	vb = notices(&w.f, w.d, &nb);
	ca = first_kind(va, na, KIND(CONFLICT));
	cb = first_kind(vb, nb, KIND(CONFLICT));
	send_ack(&w.f, w.c, ca->n->notice_id.data, OUT(NOT_RELATED), ca->env, ca->env_len, sid);
	r = wait_receipt(&w.f, w.c, sid);
	deconf_msg_free(&r->base);
	kill9_restart(&w, 0);
	send_ack(&w.f, w.d, cb->n->notice_id.data, OUT(NOT_RELATED), cb->env, cb->env_len, sid);
	r = wait_receipt(&w.f, w.d, sid);
	assert_int_equal(r->result, K(RECEIPT_RESULT__RECEIPT_RESULT_ACCEPTED));
	deconf_msg_free(&r->base);
	/* past escalate_after of both sides, counted from the notices (the
	 * restart and the acknowledgments took part of it) */
	while (deconf_mono_us() < t_conflict + 32 * 1000000LL)
		usleep(200000);
	assert_int_equal(fed_wait_processed(&w.f, 60000), 0);
	ev = escalations(&w.f, &ne);
	assert_int_equal(ne, 0);
	escalations_free(ev, ne);
	notes_later(va, na);
	notes_later(vb, nb);
	va = notices(&w.f, w.c, &na);
	vb = notices(&w.f, w.d, &nb);
	assert_int_equal(count_kind(va, na, KIND(REMINDER)), 0);
	assert_int_equal(count_kind(vb, nb, KIND(REMINDER)), 0);
	assert_int_equal(count_kind(va, na, KIND(ACKNOWLEDGED)), 1);
	assert_int_equal(count_kind(vb, nb, KIND(ACKNOWLEDGED)), 1);
	notes_later(va, na);
	notes_later(vb, nb);
	world_free(&w);
}

/*
 * Many conflicts through kill -9 and a wipe of the state directory: C and
 * D hold MANY shared indicators (distinct tokens, on both deconf.tokens
 * partitions), every other one ARMED on C's side. Before the wipe C
 * acknowledges some (cautioned and not) and D others, with various
 * outcomes. The broker is killed, its state directory wiped and rebuilt
 * from the changelog. Then an acknowledgment recorded before tells the
 * counterpart nothing again, a new outcome is told once (even sent twice),
 * a first acknowledgment is taken; once escalate_after has passed exactly
 * the cautioned sides never acknowledged escalate, one ops event and one
 * reminder each, none for a side acknowledged before the wipe, and no
 * conflict is notified again. The changelog holds each side as it ended.
 */
#define MANY 40
#define MANY_BASE 1000
/* the acknowledgments before the wipe must be in before the first side is
 * due: 20 s leaves a loaded machine (and a sanitizer build) ample time */
#define MANY_ESC_MS 20000

static const int many_outs[5] = { OUT(SEEN), OUT(COUNTERPART_CONTACTED), OUT(JOINT_INVESTIGATION),
				  OUT(NOT_RELATED), OUT(DECONFLICTED) };

/* The plan, by indicator i: ARMED (C's side) when even; C acknowledges
 * 0..11 before the wipe, D 8..19 (both 8..11), each with an outcome of
 * its own; after the wipe C records a second outcome on 1 and 6 (6
 * cautioned), D on 17, and D acknowledges 21 for the first time. */
static int many_armed(int i)
{
	return i % 2 == 0;
}

static int many_out(int side, int i)
{
	if (!side)
		return i < 12 ? many_outs[i % 5] : 0;
	return i >= 8 && i < 20 ? many_outs[(i + 2) % 5] : 0;
}

static int many_new(int side, int i)
{
	if (!side)
		return i == 1 || i == 6 ? many_outs[(i + 2) % 5] : 0;
	return i == 17 ? many_outs[(i + 4) % 5] : i == 21 ? OUT(JOINT_INVESTIGATION) : 0;
}

/* The outcomes side (0: C, 1: D) records on indicator i, as bits. */
static uint32_t many_bits(int side, int i)
{
	uint32_t b = 0;

	if (many_out(side, i))
		b |= 1u << many_out(side, i);
	if (many_new(side, i))
		b |= 1u << many_new(side, i);
	return b;
}

/* Whether side's side of indicator i escalates: cautioned, and not
 * acknowledged before the wipe (after it, only uncautioned sides are
 * acknowledged for the first time). */
static int many_escalates(int side, int i)
{
	return many_armed(i) && !many_out(side, i);
}

/* by[i]: the CONFLICT notice of indicator i in v (exactly one each), of
 * the recipient's case "<self>-i", naming agency other. */
static void many_conflicts(const struct note *v, size_t n, const char *self, const char *other,
			   const struct note **by)
{
	char ref[16];

	memset(by, 0, MANY * sizeof(*by));
	for (size_t k = 0; k < n; k++) {
		const Deconf__V1__ConflictNotice *x = v[k].n;
		const uint8_t *t = x->token.data;
		long i;

		if ((int)x->kind != KIND(CONFLICT))
			continue;
		assert_int_equal(x->token.len, 16);
		i = (long)((uint32_t)t[12] << 24 | (uint32_t)t[13] << 16 | (uint32_t)t[14] << 8 |
			   t[15]) -
		    MANY_BASE;
		assert_true(i >= 0 && i < MANY);
		assert_null(by[i]);
		by[i] = &v[k];
		snprintf(ref, sizeof(ref), "%s-%ld", self, i);
		assert_true(bytes_is(&x->case_ref, ref));
		assert_non_null(x->counterpart);
		assert_true(bytes_is(&x->counterpart->agency_id, other));
	}
	for (int i = 0; i < MANY; i++)
		assert_non_null(by[i]);
}

/* The indicator whose notice in by has id (-1: none). */
static int many_which(const struct note **by, const ProtobufCBinaryData *id)
{
	for (int i = 0; i < MANY; i++)
		if (id->len == 16 && !memcmp(by[i]->n->notice_id.data, id->data, 16))
			return i;
	return -1;
}

/* The notices of kind (ACKNOWLEDGED or REMINDER) in v are exactly those
 * wanted: for indicator i, about by[i]'s notice, want[i] as bits of the
 * outcomes told (ACKNOWLEDGED) or 1 (a REMINDER); each once. */
static void many_told(const struct note *v, size_t n, int kind, const struct note **by,
		      const uint32_t *want, const char *who)
{
	uint32_t seen[MANY] = { 0 };

	for (size_t k = 0; k < n; k++) {
		const Deconf__V1__ConflictNotice *x = v[k].n;
		uint32_t bit;
		int i;

		if ((int)x->kind != kind)
			continue;
		if ((i = many_which(by, &x->about_notice_id)) < 0)
			fail_msg("%s: a notice of kind %d about a notice it was not sent", who,
				 kind);
		bit = kind == KIND(ACKNOWLEDGED) ? 1u << x->outcome : 1u;
		if (seen[i] & bit)
			fail_msg("%s: indicator %d: told twice (kind %d, outcome %d)", who, i, kind,
				 x->outcome);
		seen[i] |= bit;
	}
	for (int i = 0; i < MANY; i++)
		if (seen[i] != want[i])
			fail_msg("%s: indicator %d: told %#x of kind %d, want %#x", who, i, seen[i],
				 kind, want[i]);
}

static void test_many_through_wipe(void **state)
{
	static const int again[2][3] = { { 0, 3, 10 }, { 9, 14, -1 } };
	struct world w;
	struct fed_op ops[MANY];
	char refs[2][MANY][16], extra[128], want[64];
	const struct note *by[2][MANY];
	struct note *v[2];
	size_t nv[2], ne, n_esc = 0;
	uint8_t sids[2 * MANY][16], ids[2 * MANY][16];
	uint32_t told[MANY];
	Deconf__V1__ConflictLife *life[2 * MANY];
	Deconf__V1__OpsEvent **ev;
	int part[2 * MANY], on[2] = { 0, 0 }, esc_seen[2][MANY], port = fed_free_port();
	int ag[2];
	const char *ids_of[2] = { "agency-c", "agency-d" };
	int64_t first = INT64_MAX, last = 0, acked_last = 0;

	(void)state;
	snprintf(extra, sizeof(extra), "[matcher]\nescalate_after = %ds\n[http]\nport = %d\n",
		 MANY_ESC_MS / 1000, port);
	world_new(&w, extra);
	ag[0] = w.c;
	ag[1] = w.d;
	for (int s = 0; s < 2; s++) {
		for (int i = 0; i < MANY; i++) {
			memset(&ops[i], 0, sizeof(ops[i]));
			snprintf(refs[s][i], sizeof(refs[s][i]), "%s-%d", s ? "D" : "C", i);
			ops[i].op = K(OP__OP_ADD);
			ops[i].case_ref = refs[s][i];
			ops[i].type = PHONE;
			ops[i].flags = !s && many_armed(i) ? ARMED : 0;
			ops[i].poc_name = "Det. Example";
			fed_token(&w.f, MANY_BASE + i, ops[i].token);
		}
		assert_int_equal(fed_submit(&w.f, ag[s], ops, MANY, NULL), 0);
	}
	assert_int_equal(fed_flush(&w.f), 0);
	wait_kind(&w.f, w.c, KIND(CONFLICT), MANY, 60);
	wait_kind(&w.f, w.d, KIND(CONFLICT), MANY, 30);
	for (int s = 0; s < 2; s++) {
		v[s] = notices(&w.f, ag[s], &nv[s]);
		assert_int_equal(count_kind(v[s], nv[s], KIND(CONFLICT)), MANY);
		many_conflicts(v[s], nv[s], s ? "D" : "C", ids_of[!s], by[s]);
		for (int i = 0; i < MANY; i++) {
			int64_t at = by[s][i]->n->created_at;
			first = at < first ? at : first;
			last = at > last ? at : last;
		}
		notes_later(v[s], nv[s]); /* by[s] points into it */
	}

	/* before the wipe: C acknowledges 0..11, D 8..19 */
	for (int s = 0; s < 2; s++) {
		size_t n = 0;
		for (int i = 0; i < MANY; i++)
			if (many_out(s, i))
				send_ack(&w.f, ag[s], by[s][i]->n->notice_id.data, many_out(s, i),
					 by[s][i]->env, by[s][i]->env_len, sids[n++]);
		assert_int_equal(n, 12);
		wait_accepted(&w.f, ag[s], (const uint8_t(*)[16])sids, n, 60);
	}
	wait_kind(&w.f, w.d, KIND(ACKNOWLEDGED), 12, 60);
	wait_kind(&w.f, w.c, KIND(ACKNOWLEDGED), 12, 60);
	/* what this test is about needs them in before any side was due: a
	 * machine that slow is said so, not taken for a broker fault */
	for (int s = 0; s < 2; s++) {
		size_t n;
		struct note *x = notices(&w.f, ag[s], &n);
		for (size_t k = 0; k < n; k++)
			if ((int)x[k].n->kind == KIND(ACKNOWLEDGED) &&
			    x[k].n->created_at > acked_last)
				acked_last = x[k].n->created_at;
		notes_free(x, n);
	}
	if (acked_last >= first + MANY_ESC_MS)
		fail_msg("the acknowledgments were applied %lld ms after the first notice, past "
			 "escalate_after: the machine is too slow for this test",
			 (long long)(acked_last - first));

	/* kill -9, the state directory wiped: rebuilt from the changelog */
	kill9_restart(&w, 1);

	/* recorded before: the same again (C on 0, 3, 10; D on 9, 14) tells
	 * nobody anything; a new outcome (C on 1 and 6, D on 17), sent
	 * twice, is told once; D's first on 21 is told once */
	for (int s = 0; s < 2; s++) {
		size_t n = 0;
		for (int k = 0; k < 3 && again[s][k] >= 0; k++) {
			int i = again[s][k];
			assert_true(many_out(s, i) != 0);
			send_ack(&w.f, ag[s], by[s][i]->n->notice_id.data, many_out(s, i),
				 by[s][i]->env, by[s][i]->env_len, sids[n++]);
		}
		for (int rep = 0; rep < 2; rep++)
			for (int i = 0; i < MANY; i++)
				if (many_new(s, i))
					send_ack(&w.f, ag[s], by[s][i]->n->notice_id.data,
						 many_new(s, i), by[s][i]->env, by[s][i]->env_len,
						 sids[n++]);
		wait_accepted(&w.f, ag[s], (const uint8_t(*)[16])sids, n, 90);
	}
	wait_kind(&w.f, w.d, KIND(ACKNOWLEDGED), 14, 60);
	wait_kind(&w.f, w.c, KIND(ACKNOWLEDGED), 14, 60);

	/* every side's escalate_at is its notice's time + escalate_after: past
	 * the last, with the matcher's loop to spare, every side due has
	 * escalated; the reminders go in the same transactions as the ops
	 * events */
	while (deconf_now_ms() < last + MANY_ESC_MS + 2000)
		usleep(200000);
	for (int s = 0; s < 2; s++) {
		size_t n = 0;
		for (int i = 0; i < MANY; i++)
			n += (size_t)many_escalates(s, i);
		assert_int_equal(n, 14);
		n_esc += n;
		wait_kind(&w.f, ag[s], KIND(REMINDER), n, 60);
	}
	assert_int_equal(fed_wait_processed(&w.f, 60000), 0);

	/* exactly: every conflict once, no conflict again after the rebuild;
	 * one ACKNOWLEDGED per (side, outcome); one REMINDER per side due */
	for (int s = 0; s < 2; s++) {
		size_t n_ack = 0, n_rem = 0;
		v[s] = notices(&w.f, ag[s], &nv[s]);
		assert_int_equal(count_kind(v[s], nv[s], KIND(CONFLICT)), MANY);
		for (int i = 0; i < MANY; i++) {
			/* s is told what the other side recorded */
			told[i] = many_bits(!s, i);
			n_ack += (size_t)__builtin_popcount(told[i]);
		}
		many_told(v[s], nv[s], KIND(ACKNOWLEDGED), by[s], told, ids_of[s]);
		assert_int_equal(count_kind(v[s], nv[s], KIND(ACKNOWLEDGED)), n_ack);
		for (int i = 0; i < MANY; i++) {
			told[i] = (uint32_t)many_escalates(s, i);
			n_rem += told[i];
		}
		many_told(v[s], nv[s], KIND(REMINDER), by[s], told, ids_of[s]);
		assert_int_equal(count_kind(v[s], nv[s], KIND(REMINDER)), n_rem);
		assert_int_equal(nv[s], MANY + n_ack + n_rem);
		notes_later(v[s], nv[s]);
	}
	/* the 14 + 14 the plan says, each once, no other */
	assert_int_equal(n_esc, 28);

	/* ops: one escalation per side due, naming it, none other */
	memset(esc_seen, 0, sizeof(esc_seen));
	ev = escalations(&w.f, &ne);
	for (size_t k = 0; k < ne; k++) {
		int s, i = -1;
		for (s = 0; s < 2 && (i = many_which(by[s], &ev[k]->notice_id)) < 0; s++)
			;
		if (i < 0)
			fail_msg("an escalation of a notice neither side was sent");
		if (!many_escalates(s, i))
			fail_msg("%s escalated on indicator %d (acknowledged before the wipe: %d)",
				 ids_of[s], i, many_out(s, i) != 0);
		if (esc_seen[s][i]++)
			fail_msg("%s escalated twice on indicator %d", ids_of[s], i);
		assert_true(bytes_is(&ev[k]->agency_id, ids_of[s]));
		assert_true(bytes_is(&ev[k]->other_agency_id, ids_of[!s]));
		assert_int_equal(ev[k]->token.len, 0);
		assert_true(ev[k]->caution_flags & ARMED);
	}
	assert_int_equal(ne, n_esc);
	escalations_free(ev, ne);

	/* the changelog: each side as it ended, the two sides of an indicator
	 * on its token's partition, the indicators on both partitions */
	for (int i = 0; i < MANY; i++)
		for (int s = 0; s < 2; s++)
			memcpy(ids[2 * i + s], by[s][i]->n->notice_id.data, 16);
	lives_of(&w.f, (const uint8_t(*)[16])ids, 2 * MANY, life, part);
	for (int i = 0; i < MANY; i++) {
		for (int s = 0; s < 2; s++) {
			const Deconf__V1__ConflictLife *l = life[2 * i + s];
			int latest = many_new(s, i) ? many_new(s, i) : many_out(s, i);
			assert_non_null(l);
			assert_true(bytes_is(&l->agency_id, ids_of[s]));
			assert_int_equal(l->other_notice_id.len, 16);
			assert_memory_equal(l->other_notice_id.data, by[!s][i]->n->notice_id.data,
					    16);
			assert_int_equal(l->caution_flags, !s && many_armed(i) ? ARMED : 0);
			assert_int_equal(l->other_caution_flags, s && many_armed(i) ? ARMED : 0);
			assert_int_equal(l->notified_at, by[s][i]->n->created_at);
			assert_int_equal(l->outcomes, many_bits(s, i));
			assert_int_equal(l->outcome, latest);
			assert_int_equal(l->acked_at > 0, latest != 0);
			assert_int_equal(l->escalate_at,
					 many_armed(i) ? l->notified_at + MANY_ESC_MS : 0);
			assert_int_equal(l->escalated_at > 0, many_escalates(s, i));
			if (l->escalated_at)
				assert_true(l->escalated_at >= l->escalate_at);
		}
		assert_true(part[2 * i] >= 0 && part[2 * i] < 2);
		assert_int_equal(part[2 * i], part[2 * i + 1]);
		on[part[2 * i]]++;
	}
	for (size_t k = 0; k < 2 * MANY; k++)
		deconf__v1__conflict_life__free_unpacked(life[k], NULL);
	assert_true(on[0] > 0 && on[1] > 0);

	/* the watch desk counts them open (escalated, not acknowledged) from
	 * the rebuilt index, in a snapshot taken after they committed; and no
	 * escalation came since */
	snprintf(want, sizeof(want), "Open escalations (%zu)", n_esc);
	free(wait_desk(port, want, 30));
	ev = escalations(&w.f, &ne);
	assert_int_equal(ne, n_esc);
	escalations_free(ev, ne);
	world_free(&w);
}

/* ------------------------------------------------- the adapter's command */


/* The notice id of the first notice of kind in `notices --json` output. */
static int json_notice_id(const char *out, const char *kind, char id[33])
{
	char pat[64];
	const char *p, *q;

	snprintf(pat, sizeof(pat), "\"kind\":\"%s\"", kind);
	if (!(p = strstr(out, pat)))
		return -1;
	/* the object's notice_id comes before its kind */
	for (q = p; q > out && q[-1] != '\n'; q--)
		;
	if (!(q = strstr(q, "\"notice_id\":\"")) || q > p)
		return -1;
	memcpy(id, q + 13, 32);
	id[32] = '\0';
	return 0;
}

/*
 * deconf-adapter ack: A and B hold the same phone number; A lists its
 * unacknowledged notices, acknowledges its conflict (exit 0, "done"), and
 * it is no longer listed; B sees the outcome in plain words. An id A was
 * never sent, and a notice that is not a conflict, are refused with the
 * reason and exit 1.
 */
static void test_adapter_ack(void **state)
{
	struct world w;
	char id[33], idb[33], *out, extra[64];
	int port = fed_free_port();

	(void)state;
	snprintf(extra, sizeof(extra), "[http]\nport = %d\n", port);
	world_new(&w, extra);
	/* the adapter's output goes to stderr (no log of it is kept), and a
	 * sanitizer report in it fails the run */
	w.f.adapter_bin = ADAPTER_BIN;
	w.f.adapter_sanitizer_fails = 1;
	assert_int_equal(fed_adapter_setup(&w.f, w.a, NULL), 0);
	assert_int_equal(fed_adapter_setup(&w.f, w.b, NULL), 0);
	assert_int_equal(fed_adapter_file(&w.f, w.a, "a.csv",
					  "case_ref,type,value,poc_name\n"
					  "A-5,phone,+1 555 010 7777,Sgt. Ack\n",
					  NULL, 0),
			 0);
	assert_int_equal(fed_adapter_file(&w.f, w.b, "b.csv",
					  "case_ref,type,value,poc_name\n"
					  "B-5,phone,+1 555 010 7777,Det. Bee\n",
					  NULL, 0),
			 0);
	assert_int_equal(fed_adapter(&w.f, w.a, &out, "submit a.csv"), 0);
	free(out);
	assert_int_equal(fed_adapter(&w.f, w.b, &out, "submit b.csv"), 0);
	free(out);
	wait_kind(&w.f, w.a, KIND(CONFLICT), 1, 60);
	wait_kind(&w.f, w.b, KIND(CONFLICT), 1, 30);

	assert_int_equal(fed_adapter(&w.f, w.a, &out, "notices --json --unacked"), 0);
	assert_int_equal(json_notice_id(out, "conflict", id), 0);
	free(out);
	assert_int_equal(fed_adapter(&w.f, w.b, &out, "notices --json"), 0);
	assert_int_equal(json_notice_id(out, "conflict", idb), 0);
	free(out);

	/* not A's notice, and no notice at all: refused before anything is sent */
	assert_int_equal(fed_adapter(&w.f, w.a, &out, "ack %s seen", idb), 1);
	assert_non_null(strstr(out, "no notice"));
	free(out);

	assert_int_equal(fed_adapter(&w.f, w.a, &out, "ack %s counterpart_contacted", id), 0);
	assert_non_null(strstr(out, "ack: done"));
	free(out);
	assert_int_equal(fed_adapter(&w.f, w.a, &out, "notices --unacked --offline"), 0);
	assert_null(strstr(out, id));
	assert_null(strstr(out, "conflict  "));
	free(out);
	wait_kind(&w.f, w.b, KIND(ACKNOWLEDGED), 1, 30);
	assert_int_equal(fed_adapter(&w.f, w.b, &out, "notices"), 0);
	assert_non_null(strstr(out, "they recorded: counterpart contacted"));
	assert_non_null(strstr(out, idb));
	assert_non_null(strstr(out, "+1 555 010 7777")); /* B's own raw value, from its ledger */
	free(out);
	assert_int_equal(fed_adapter(&w.f, w.b, &out, "notices --unacked --offline"), 0);
	assert_non_null(strstr(out, idb));
	free(out);

	/* refused by the federation (A suspended): exit 1, and why */
	assert_int_equal(fed_agency_publish(&w.f, w.a, K(AGENCY_STATUS__AGENCY_STATUS_SUSPENDED),
					    NULL, NULL),
			 0);
	/* the broker has read it: its watch desk lists A suspended */
	free(wait_desk(port, "<td>agency-a</td><td>Agency A</td><td>federal</td><td>US</td>"
			     "<td class=\"bad\">suspended</td>", 30));
	assert_int_equal(fed_adapter(&w.f, w.a, &out, "ack %s joint_investigation", id), 1);
	assert_non_null(strstr(out, "refused (suspended_agency)"));
	assert_non_null(strstr(out, "ack: refused by the federation"));
	free(out);
	assert_int_equal(fed_wait_processed(&w.f, 60000), 0);
	{
		size_t nb;
		struct note *vb = notices(&w.f, w.b, &nb);
		assert_int_equal(count_kind(vb, nb, KIND(ACKNOWLEDGED)), 1);
		notes_free(vb, nb);
	}
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ack_relayed_once),
		cmocka_unit_test(test_false_ack_refused),
		cmocka_unit_test(test_escalation_once),
		cmocka_unit_test(test_acked_does_not_escalate),
		cmocka_unit_test(test_many_through_wipe),
		cmocka_unit_test(test_adapter_ack),
	};

	if (!(bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP")) || !*bootstrap) {
		fprintf(stderr, "DECONF_KRAFT_BOOTSTRAP not set: skipped\n");
		return 77;
	}
	atexit(kill_running);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
