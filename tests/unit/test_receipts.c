/* test_receipts.c — the receipts reader and what receipts decide
 * (adapters/src/receipts.c, inbox.c).
 *
 * The reader runs against librdkafka's in-memory mock cluster (no Kafka
 * needed): records are produced to deconf.receipts.agency-a, and the
 * ledger is checked after the inbox has read them. Only what the broker
 * signed, addressed to this agency, of the receipt type, is acted on;
 * unsigned, wrongly signed, foreign, garbage and mistyped records are
 * refused and counted, and change nothing; a receipt read twice decides
 * once; a suspended agency's refusal, which carries no submission id, is
 * matched by the submit record's offset. A stored offset past the topic's
 * end stops the reader when a submission waits for a receipt, unless the
 * loss is accepted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h> /* after rdkafka.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agency.h"
#include "deconf/envelope.h"
#include "deconf/log.h"
#include "deconf/text.h"
#include "deconf/token.h"
#include "deconf/util.h"
#include "inbox.h"
#include "receipts.h"
#include "submit.h"

#define ACCEPTED DECONF__V1__RECEIPT_RESULT__RECEIPT_RESULT_ACCEPTED
#define REFUSED DECONF__V1__RECEIPT_RESULT__RECEIPT_RESULT_REFUSED
#define R(x) DECONF__V1__REJECT_REASON__REJECT_REASON_##x
#define TOPIC "deconf.receipts.agency-a"
#define SUBMIT_TOPIC "deconf.submit.agency-a"

static char tmpdir[256];

struct fx {
	rd_kafka_t *mock_owner;
	struct deconf_sign_key *broker, *rogue;
	struct adp_agency a;
	uint8_t x[16], y[16], z[16], w[16]; /* submission ids */
	uint8_t t1[16], t2[16], t3[16], t4[16];
	/* what the receipt callback saw */
	int events, accepted, refused;
	char cases[256];
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

/* ------------------------------------------------------------- fixtures */

/* A signed Submission envelope of agency-a with the given ops. */
static void submission(const uint8_t id[16], const char *const *refs, const int *ops,
		       const uint8_t (*const *toks)[16], const size_t *n_toks, size_t n_ops,
		       uint8_t **buf, size_t *len)
{
	Deconf__V1__Submission s = DECONF__V1__SUBMISSION__INIT;
	Deconf__V1__CaseOp cop[4], *copp[4];
	Deconf__V1__TokenRef tr[4][4], *trp[4][4];

	assert_true(n_ops <= 4);
	for (size_t i = 0; i < n_ops; i++) {
		deconf__v1__case_op__init(&cop[i]);
		cop[i].case_ref.data = (uint8_t *)refs[i];
		cop[i].case_ref.len = strlen(refs[i]);
		cop[i].op = ops[i];
		for (size_t j = 0; j < n_toks[i]; j++) {
			deconf__v1__token_ref__init(&tr[i][j]);
			tr[i][j].type = DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_MD5;
			tr[i][j].key_epoch = 1;
			tr[i][j].token.data = (uint8_t *)toks[i][j];
			tr[i][j].token.len = 16;
			trp[i][j] = &tr[i][j];
		}
		cop[i].tokens = trp[i];
		cop[i].n_tokens = n_toks[i];
		copp[i] = &cop[i];
	}
	s.agency_id.data = (uint8_t *)"agency-a";
	s.agency_id.len = 8;
	s.submission_id.data = (uint8_t *)id;
	s.submission_id.len = 16;
	s.created_at = deconf_now_ms();
	s.ops = copp;
	s.n_ops = n_ops;
	assert_int_equal(deconf_envelope_seal(&s.base,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION,
					      "agency-a", NULL, buf, len),
			 0);
}

static void put_entry(struct adp_ledger_txn *t, const char *ref, const uint8_t tok[16],
		      int state, const uint8_t sub[16])
{
	struct adp_entry e = { 0 };

	memcpy(e.token, tok, 16);
	e.epoch = 1;
	e.type = DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_MD5;
	e.state = (uint8_t)state;
	memcpy(e.submission_id, sub, 16);
	e.value = "v";
	e.value_len = 1;
	assert_int_equal(adp_ledger_put(t, ref, &e), 0);
}

static int entry_state(struct fx *f, const char *ref, const uint8_t tok[16], int *reason)
{
	struct adp_ledger_txn *t;
	struct adp_entry e;
	int st;

	assert_int_equal(adp_ledger_begin(f->a.ledger, 1, &t), 0);
	st = adp_ledger_get(t, ref, tok, 1, &e) ? 0 : e.state;
	if (reason)
		*reason = st ? e.reason : -1;
	adp_ledger_abort(t);
	return st;
}

static int sub_status(struct fx *f, const uint8_t id[16])
{
	struct adp_ledger_txn *t;
	struct adp_sub s;
	int st;

	assert_int_equal(adp_ledger_begin(f->a.ledger, 1, &t), 0);
	st = adp_ledger_sub_get(t, id, &s) ? 0 : s.status;
	adp_ledger_abort(t);
	return st;
}

static void put_sub(struct adp_ledger_txn *t, const uint8_t id[16], int64_t offset,
		    const uint8_t *env, size_t len)
{
	struct adp_sub s = { .status = ADP_SUB_SENT, .op_index = -1, .partition = 0,
			     .offset = offset, .sent_at = 1, .envelope = env, .envelope_len = len };

	assert_int_equal(adp_ledger_sub_put(t, id, &s), 0);
}

/*
 * The ledger: submission X (ADD C-1 t1 t2, REMOVE C-2 t3) waiting at
 * offset 5, whose t2 changed since (submission Y); submission Z (ADD C-3
 * t4) waiting at offset 7.
 */
static void ledger_fixture(struct fx *f)
{
	struct adp_ledger_txn *t;
	const char *refs[2] = { "C-1", "C-2" };
	int ops[2] = { DECONF__V1__OP__OP_ADD, DECONF__V1__OP__OP_REMOVE };
	uint8_t both[2][16];
	const uint8_t(*toks[2])[16];
	size_t n[2] = { 2, 1 };
	uint8_t *env;
	size_t len;

	memcpy(both[0], f->t1, 16);
	memcpy(both[1], f->t2, 16);
	toks[0] = (const uint8_t(*)[16])both;
	toks[1] = (const uint8_t(*)[16])f->t3;
	assert_int_equal(adp_ledger_begin(f->a.ledger, 0, &t), 0);
	submission(f->x, refs, ops, toks, n, 2, &env, &len);
	put_sub(t, f->x, 5, env, len);
	free(env);
	put_entry(t, "C-1", f->t1, ADP_ENTRY_SENT, f->x);
	put_entry(t, "C-1", f->t2, ADP_ENTRY_SENT, f->y);
	put_entry(t, "C-2", f->t3, ADP_ENTRY_REMOVING, f->x);
	{
		const char *r3[1] = { "C-3" };
		int o3[1] = { DECONF__V1__OP__OP_ADD };
		const uint8_t(*k3[1])[16] = { (const uint8_t(*)[16])f->t4 };
		size_t n3[1] = { 1 };
		submission(f->z, r3, o3, k3, n3, 1, &env, &len);
		put_sub(t, f->z, 7, env, len);
		free(env);
		put_entry(t, "C-3", f->t4, ADP_ENTRY_SENT, f->z);
	}
	assert_int_equal(adp_ledger_commit(t), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	rd_kafka_mock_cluster_t *mc;
	struct deconf_keyring *ring;
	char errstr[512], p[6][600], *sets[9], *envp[] = { NULL };
	struct deconf_sign_key *mine;
	const char *base = getenv("TMPDIR");

	assert_non_null(f);
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_receipts.XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(tmpdir));
	assert_int_equal(rd_kafka_conf_set(kc, "test.mock.num.brokers", "1", errstr,
					   sizeof(errstr)),
			 RD_KAFKA_CONF_OK);
	assert_non_null(f->mock_owner = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr,
						     sizeof(errstr)));
	assert_non_null(mc = rd_kafka_handle_mock_cluster(f->mock_owner));
	assert_int_equal(rd_kafka_mock_topic_create(mc, TOPIC, 1, 1), 0);
	assert_int_equal(rd_kafka_mock_topic_create(mc, SUBMIT_TOPIC, 1, 1), 0);
	assert_int_equal(deconf_sign_key_generate(&f->broker, errstr, sizeof(errstr)), 0);
	assert_int_equal(deconf_sign_key_generate(&f->rogue, errstr, sizeof(errstr)), 0);

	snprintf(p[0], sizeof(p[0]), "agency.key_file=%s/federation.keys", tmpdir);
	snprintf(p[1], sizeof(p[1]), "agency.broker_public_key=%s/broker.pub", tmpdir);
	snprintf(p[2], sizeof(p[2]), "ledger.dir=%s/ledger", tmpdir);
	snprintf(p[3], sizeof(p[3]), "kafka.bootstrap.servers=%s",
		 rd_kafka_mock_cluster_bootstraps(mc));
	assert_int_equal(deconf_keyring_new(&ring), 0);
	assert_int_equal(deconf_keyring_rotate(ring, NULL), 0);
	assert_int_equal(deconf_keyring_save(ring, p[0] + strlen("agency.key_file="), 1, errstr,
					     sizeof(errstr)),
			 0);
	deconf_keyring_free(ring);
	assert_int_equal(deconf_sign_key_save_public(f->broker,
						     p[1] + strlen("agency.broker_public_key="),
						     errstr, sizeof(errstr)),
			 0);
	snprintf(p[4], sizeof(p[4]), "agency.signing_key=%s/agency.pem", tmpdir);
	assert_int_equal(deconf_sign_key_generate(&mine, errstr, sizeof(errstr)), 0);
	assert_int_equal(deconf_sign_key_save_private(mine, p[4] + strlen("agency.signing_key="),
						      errstr, sizeof(errstr)),
			 0);
	deconf_sign_key_free(mine);
	sets[0] = "agency.id=agency-a";
	for (int i = 0; i < 5; i++)
		sets[i + 1] = p[i];
	sets[6] = "ledger.map_size=16M";
	sets[7] = "submit.timeout=5s";
	sets[8] = "log.level=err";
	if (adp_agency_load(&f->a, NULL, envp, sets, 9, errstr, sizeof(errstr)))
		fail_msg("%s", errstr);
	assert_int_equal(adp_agency_open_ledger(&f->a, errstr, sizeof(errstr)), 0);
	memset(f->x, 0x11, 16);
	memset(f->y, 0x22, 16);
	memset(f->z, 0x33, 16);
	memset(f->w, 0x44, 16);
	memset(f->t1, 0xa1, 16);
	memset(f->t2, 0xa2, 16);
	memset(f->t3, 0xa3, 16);
	memset(f->t4, 0xa4, 16);
	ledger_fixture(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	adp_agency_close(&f->a);
	deconf_sign_key_free(f->broker);
	deconf_sign_key_free(f->rogue);
	rd_kafka_destroy(f->mock_owner);
	free(f);
	return nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------------ records */

static void produce(struct fx *f, const void *buf, size_t len)
{
	assert_int_equal(rd_kafka_producev(f->mock_owner, RD_KAFKA_V_TOPIC(TOPIC),
					   RD_KAFKA_V_VALUE((void *)buf, len),
					   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
			 0);
	assert_int_equal(rd_kafka_flush(f->mock_owner, 10000), 0);
}

/* A Receipt for id (NULL: none) to agency `to`, sealed with key as type. */
static void receipt(struct fx *f, const char *to, const uint8_t *id, int result, int reason,
		    int64_t offset, const struct deconf_sign_key *key, int type)
{
	Deconf__V1__Receipt r = DECONF__V1__RECEIPT__INIT;
	uint8_t *buf;
	size_t len;

	r.agency_id.data = (uint8_t *)to;
	r.agency_id.len = strlen(to);
	if (id) {
		r.submission_id.data = (uint8_t *)id;
		r.submission_id.len = 16;
	}
	r.result = result;
	r.reason = reason;
	r.op_index = -1;
	r.case_ops = 2;
	r.token_ops = 3;
	r.detail = reason ? "agency agency-a is suspended or removed" : "";
	r.decided_at = 1765000000000LL;
	r.topic = SUBMIT_TOPIC;
	r.partition = 0;
	r.offset = offset;
	assert_int_equal(deconf_envelope_seal(&r.base, type, "broker", key, &buf, &len), 0);
	produce(f, buf, len);
	free(buf);
}

static void on_event(void *opaque, const struct adp_receipt_event *ev)
{
	struct fx *f = opaque;
	size_t n = strlen(f->cases);

	f->events++;
	if (ev->d.result == ACCEPTED)
		f->accepted++;
	else
		f->refused++;
	for (size_t i = 0; i < ev->n_cases; i++)
		n += (size_t)snprintf(f->cases + n, sizeof(f->cases) - n, "%s;", ev->cases[i]);
}

static int read_receipts(struct fx *f, int accept_loss, struct adp_inbox_stats *st,
			 char *errstr, size_t size)
{
	struct adp_receipts_ctx ctx = { .cb = on_event, .opaque = f, .queue_webhook = 1 };
	struct adp_inbox_kind k, *kinds[1] = { &k };
	struct adp_inbox_opts o = { .accept_loss = accept_loss };
	int rc;

	adp_receipts_kind_init(&k, &ctx, &f->a);
	rc = adp_inbox_read(&f->a, kinds, 1, &o, errstr, size);
	*st = k.st;
	return rc;
}

static int64_t meta(struct fx *f, const char *name)
{
	struct adp_ledger_txn *t;
	int64_t v = -1;

	assert_int_equal(adp_ledger_begin(f->a.ledger, 1, &t), 0);
	if (adp_ledger_meta_get(t, name, &v))
		v = -1;
	adp_ledger_abort(t);
	return v;
}

/* --------------------------------------------------------------- tests */

static void test_reader(void **state)
{
	struct fx *f = *state;
	struct adp_inbox_stats st;
	struct adp_ledger_txn *t;
	char errstr[512] = "";
	int reason;

	receipt(f, "agency-a", f->x, ACCEPTED, 0, 5, f->broker,
		DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_RECEIPT);                 /* 0 */
	receipt(f, "agency-a", f->x, ACCEPTED, 0, 5, f->broker,
		DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_RECEIPT);                 /* 1 dup */
	receipt(f, "agency-a", f->z, REFUSED, R(BAD_TEXT), 7, NULL,
		DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_RECEIPT);                 /* 2 unsigned */
	receipt(f, "agency-a", f->z, REFUSED, R(BAD_TEXT), 7, f->rogue,
		DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_RECEIPT);                 /* 3 rogue */
	receipt(f, "agency-b", f->z, REFUSED, R(BAD_TEXT), 7, f->broker,
		DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_RECEIPT);                 /* 4 foreign */
	produce(f, "\xff\xfe not an envelope", 18);                             /* 5 garbage */
	receipt(f, "agency-a", f->z, REFUSED, R(BAD_TEXT), 7, f->broker,
		DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_REJECT);                  /* 6 mistyped */
	/* 7: a suspended agency's refusal: no id, named by its record's offset */
	receipt(f, "agency-a", NULL, REFUSED, R(SUSPENDED_AGENCY), 7, f->broker,
		DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_RECEIPT);

	if (read_receipts(f, 0, &st, errstr, sizeof(errstr)))
		fail_msg("%s", errstr);
	assert_int_equal(st.received, 2);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.refused, 5);
	assert_int_equal(f->events, 2);
	assert_int_equal(f->accepted, 1);
	assert_int_equal(f->refused, 1);
	assert_string_equal(f->cases, "C-1;C-2;C-3;");
	/* X accepted: its ADD confirmed, its REMOVE done, its record gone;
	 * the entry changed since (Y) untouched */
	assert_int_equal(entry_state(f, "C-1", f->t1, NULL), ADP_ENTRY_CONFIRMED);
	assert_int_equal(entry_state(f, "C-1", f->t2, NULL), ADP_ENTRY_SENT);
	assert_int_equal(entry_state(f, "C-2", f->t3, NULL), 0);
	assert_int_equal(sub_status(f, f->x), 0);
	/* Z refused by the signed receipt, not by the unsigned, rogue, foreign
	 * or mistyped ones (those said bad_text) */
	assert_int_equal(entry_state(f, "C-3", f->t4, &reason), ADP_ENTRY_REFUSED);
	assert_int_equal(reason, R(SUSPENDED_AGENCY));
	assert_int_equal(sub_status(f, f->z), ADP_SUB_REFUSED);
	{
		struct adp_sub s;
		assert_int_equal(adp_ledger_begin(f->a.ledger, 1, &t), 0);
		assert_int_equal(adp_ledger_sub_get(t, f->z, &s), 0);
		assert_int_equal(s.reason, R(SUSPENDED_AGENCY));
		assert_int_equal(s.detail_len, strlen("agency agency-a is suspended or removed"));
		assert_true(s.envelope_len > 0); /* kept: sent again once active */
		/* each decision queued for the webhook with it */
		assert_int_equal(adp_ledger_hook_count(t), 2);
		adp_ledger_abort(t);
	}
	assert_int_equal(meta(f, "receipts.offset.0"), 8);

	/* read again: nothing new, nothing decided twice */
	if (read_receipts(f, 0, &st, errstr, sizeof(errstr)))
		fail_msg("%s", errstr);
	assert_int_equal(st.received + st.duplicates + st.refused, 0);
	assert_int_equal(f->events, 2);
}

/* What a decision does, without Kafka: the first refusal stands, an
 * acceptance wins over it, a refusal never undoes an acceptance. */
static void test_decide(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	struct adp_decision refused = { .result = REFUSED, .reason = R(REPLAYED), .op_index = -1,
					.detail = "used before", .decided_at = 5 };
	struct adp_decision refused2 = refused, accepted = { .result = ACCEPTED, .decided_at = 6 };
	struct adp_receipts_ctx ctx = { .cb = on_event, .opaque = f };
	int applied, reason;

	refused2.reason = R(BAD_TEXT);
	assert_int_equal(adp_ledger_begin(f->a.ledger, 0, &t), 0);
	assert_int_equal(adp_receipts_decide(t, f->z, &refused, &ctx, &applied), 0);
	assert_int_equal(applied, 1);
	assert_int_equal(adp_receipts_decide(t, f->z, &refused2, &ctx, &applied), 0);
	assert_int_equal(applied, 0);
	assert_int_equal(adp_ledger_commit(t), 0);
	assert_int_equal(entry_state(f, "C-3", f->t4, &reason), ADP_ENTRY_REFUSED);
	assert_int_equal(reason, R(REPLAYED));

	assert_int_equal(adp_ledger_begin(f->a.ledger, 0, &t), 0);
	assert_int_equal(adp_receipts_decide(t, f->z, &accepted, &ctx, &applied), 0);
	assert_int_equal(applied, 1);
	assert_int_equal(adp_receipts_decide(t, f->z, &refused, &ctx, &applied), 0);
	assert_int_equal(applied, 0); /* decided: the record is gone */
	/* an id the ledger never waited for: nothing */
	assert_int_equal(adp_receipts_decide(t, f->w, &accepted, &ctx, &applied), 0);
	assert_int_equal(applied, 0);
	assert_int_equal(adp_ledger_commit(t), 0);
	assert_int_equal(entry_state(f, "C-3", f->t4, &reason), ADP_ENTRY_CONFIRMED);
	assert_int_equal(reason, 0);
	assert_int_equal(sub_status(f, f->z), 0);

	/* a submission whose delivery report never reached the ledger is
	 * still in the outbox: its receipt decides it all the same */
	{
		const char *refs[1] = { "C-9" };
		int ops[1] = { DECONF__V1__OP__OP_ADD };
		const uint8_t(*toks[1])[16] = { (const uint8_t(*)[16])f->t1 };
		size_t n[1] = { 1 };
		uint8_t *env;
		size_t len;

		assert_int_equal(adp_ledger_begin(f->a.ledger, 0, &t), 0);
		submission(f->w, refs, ops, toks, n, 1, &env, &len);
		assert_int_equal(adp_ledger_outbox_put(t, f->w, env, len), 0);
		free(env);
		put_entry(t, "C-9", f->t1, ADP_ENTRY_PENDING, f->w);
		assert_int_equal(adp_receipts_decide(t, f->w, &accepted, &ctx, &applied), 0);
		assert_int_equal(applied, 1);
		assert_int_equal(adp_ledger_outbox_count(t), 0);
		assert_int_equal(adp_ledger_commit(t), 0);
		assert_int_equal(entry_state(f, "C-9", f->t1, NULL), ADP_ENTRY_CONFIRMED);
	}
}

/* Records lost below or past a stored offset: loud, unless accepted or
 * no submission waits for a receipt. */
static void test_loss(void **state)
{
	struct fx *f = *state;
	struct adp_inbox_stats st;
	struct adp_ledger_txn *t;
	char errstr[512] = "";

	receipt(f, "agency-a", f->y, ACCEPTED, 0, 9, f->broker,
		DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_RECEIPT);
	/* the ledger says it read to 100: the topic was made again */
	assert_int_equal(adp_ledger_begin(f->a.ledger, 0, &t), 0);
	assert_int_equal(adp_ledger_meta_put(t, "receipts.offset.0", 100), 0);
	assert_int_equal(adp_ledger_commit(t), 0);
	assert_int_not_equal(read_receipts(f, 0, &st, errstr, sizeof(errstr)), 0);
	assert_int_equal(st.stopped_by_loss, 1);
	assert_non_null(strstr(errstr, "past the partition's end"));
	assert_non_null(strstr(errstr, "--accept-loss"));
	assert_int_equal(meta(f, "receipts.offset.0"), 100); /* nothing moved */
	assert_int_equal(sub_status(f, f->x), ADP_SUB_SENT);

	/* accepted: recorded, and the submissions that waited are let go
	 * (their entries stay pending: resubmit sends them again) */
	if (read_receipts(f, 1, &st, errstr, sizeof(errstr)))
		fail_msg("%s", errstr);
	assert_int_equal(st.stopped_by_loss, 0);
	assert_int_equal(sub_status(f, f->x), 0);
	assert_int_equal(sub_status(f, f->z), 0);
	assert_int_equal(entry_state(f, "C-1", f->t1, NULL), ADP_ENTRY_SENT);
	assert_int_equal(meta(f, "receipts.lost.0"), 0); /* none below: past the end */
	assert_int_equal(meta(f, "receipts.offset.0"), 1);

	/* nothing waits: the same gap is said and passed, not an error */
	assert_int_equal(adp_ledger_begin(f->a.ledger, 0, &t), 0);
	assert_int_equal(adp_ledger_meta_put(t, "receipts.offset.0", 100), 0);
	assert_int_equal(adp_ledger_commit(t), 0);
	if (read_receipts(f, 0, &st, errstr, sizeof(errstr)))
		fail_msg("%s", errstr);
	assert_int_equal(meta(f, "receipts.offset.0"), 1);
}


/* A refused submission recorded the way receipts.c leaves it. */
static void refused_sub(struct fx *f, const uint8_t id[16], int reason, int op_index,
			const char *const *refs, const uint8_t (*const *toks)[16], size_t n_ops)
{
	struct adp_ledger_txn *t;
	int ops[4] = { DECONF__V1__OP__OP_ADD, DECONF__V1__OP__OP_ADD, DECONF__V1__OP__OP_ADD,
		       DECONF__V1__OP__OP_ADD };
	size_t n[4] = { 1, 1, 1, 1 };
	uint8_t *env;
	size_t len;
	struct adp_sub s = { .status = ADP_SUB_REFUSED, .reason = (uint8_t)reason,
			     .op_index = op_index, .partition = 0, .offset = 1, .sent_at = 1,
			     .decided_at = 2, .detail = "why", .detail_len = 3 };

	assert_int_equal(adp_ledger_begin(f->a.ledger, 0, &t), 0);
	submission(id, refs, ops, toks, n, n_ops, &env, &len);
	s.envelope = env;
	s.envelope_len = len;
	assert_int_equal(adp_ledger_sub_put(t, id, &s), 0);
	free(env);
	for (size_t i = 0; i < n_ops; i++) {
		struct adp_entry e;
		put_entry(t, refs[i], *toks[i], ADP_ENTRY_REFUSED, id);
		assert_int_equal(adp_ledger_get(t, refs[i], *toks[i], 1, &e), 0);
		e.reason = (uint8_t)reason;
		assert_int_equal(adp_ledger_put(t, refs[i], &e), 0);
	}
	assert_int_equal(adp_ledger_commit(t), 0);
}

/*
 * The refusal rules, as the next publishing command applies them: the
 * case at fault stays refused while the rest of its submission goes again;
 * a setup fault holds everything until --retry-refused; a record no entry
 * refers to any more is forgotten. (Sending again needs no broker: it is
 * what reaches Kafka and the ledger that counts here.)
 */
static void test_resend_rules(void **state)
{
	struct fx *f = *state;
	struct adp_submit_stats st;
	struct adp_submit_opts o = { .no_wait = 1, .source = "ledger" };
	uint8_t a1[16], a2[16], k1[16], k2[16], k3[16];
	char errstr[512] = "", *report = NULL;
	size_t report_len = 0;
	struct adp_ledger_txn *t;
	struct adp_entry e;
	int reason;

	memset(a1, 0x55, 16);
	memset(a2, 0x66, 16);
	memset(k1, 0xb1, 16);
	memset(k2, 0xb2, 16);
	memset(k3, 0xb3, 16);
	{
		/* bad_text in op 0: BAD-1 at fault, OK-1 refused for its company */
		const char *refs[2] = { "BAD-1", "OK-1" };
		const uint8_t(*toks[2])[16] = { (const uint8_t(*)[16])k1,
						(const uint8_t(*)[16])k2 };
		refused_sub(f, a1, R(BAD_TEXT), 0, refs, toks, 2);
	}
	{
		/* bad_signature: the agency's setup */
		const char *refs[1] = { "SIG-1" };
		const uint8_t(*toks[1])[16] = { (const uint8_t(*)[16])k3 };
		refused_sub(f, a2, R(BAD_SIGNATURE), -1, refs, toks, 1);
	}
	assert_non_null(o.report = open_memstream(&report, &report_len));
	if (adp_flush_outbox(&f->a, &o, &st, errstr, sizeof(errstr)))
		fail_msg("%s", errstr);
	fclose(o.report);
	assert_int_equal(st.refused_resent, 1);
	assert_int_equal(st.submissions, 1);
	assert_int_equal(st.delivered, 1);
	assert_int_equal(st.held_entries, 2);
	assert_false(adp_submit_clean(&st));
	assert_non_null(strstr(report, "still refused (bad_text): 1 entry of 1 case(s) (BAD-1)"));
	assert_non_null(strstr(report, "still refused (bad_signature): 1 entry of 1 case(s) (SIG-1)"));
	/* OK-1 went again under a new id and was delivered; BAD-1 stays */
	assert_int_equal(adp_ledger_begin(f->a.ledger, 1, &t), 0);
	assert_int_equal(adp_ledger_get(t, "OK-1", k2, 1, &e), 0);
	assert_int_equal(e.state, ADP_ENTRY_SENT);
	assert_int_equal(e.reason, 0);
	assert_memory_not_equal(e.submission_id, a1, 16);
	adp_ledger_abort(t);
	assert_int_equal(entry_state(f, "BAD-1", k1, &reason), ADP_ENTRY_REFUSED);
	assert_int_equal(reason, R(BAD_TEXT));
	assert_int_equal(sub_status(f, a1), ADP_SUB_REFUSED); /* BAD-1 still refers to it */
	assert_int_equal(entry_state(f, "SIG-1", k3, NULL), ADP_ENTRY_REFUSED);
	free(report);
	report = NULL;

	/* the agency's key was fixed: --retry-refused sends everything */
	o.retry_refused = 1;
	assert_non_null(o.report = open_memstream(&report, &report_len));
	if (adp_flush_outbox(&f->a, &o, &st, errstr, sizeof(errstr)))
		fail_msg("%s", errstr);
	fclose(o.report);
	free(report);
	assert_int_equal(st.refused_resent, 2);
	assert_int_equal(st.held_entries, 0);
	assert_int_equal(entry_state(f, "BAD-1", k1, NULL), ADP_ENTRY_SENT);
	assert_int_equal(entry_state(f, "SIG-1", k3, NULL), ADP_ENTRY_SENT);
	/* nothing refers to the refused records any more: forgotten */
	assert_int_equal(sub_status(f, a1), 0);
	assert_int_equal(sub_status(f, a2), 0);
	/* and the new submissions wait for their receipts */
	assert_int_equal(adp_ledger_begin(f->a.ledger, 1, &t), 0);
	assert_true(adp_ledger_sub_count(t, ADP_SUB_SENT) >= 3);
	assert_int_equal(adp_ledger_sub_count(t, ADP_SUB_REFUSED), 0);
	adp_ledger_abort(t);
}

static void test_rules_and_names(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(adp_refusal_rule(R(SUSPENDED_AGENCY)), ADP_RULE_WHEN_ACTIVE);
	assert_int_equal(adp_refusal_rule(R(UNKNOWN_AGENCY)), ADP_RULE_WHEN_ACTIVE);
	assert_int_equal(adp_refusal_rule(R(REPLAYED)), ADP_RULE_RESEND);
	assert_int_equal(adp_refusal_rule(R(BAD_TEXT)), ADP_RULE_FIX_INPUT);
	assert_int_equal(adp_refusal_rule(R(INVALID_OP)), ADP_RULE_FIX_INPUT);
	assert_int_equal(adp_refusal_rule(R(STALE_EPOCH)), ADP_RULE_FIX_INPUT);
	assert_int_equal(adp_refusal_rule(R(BAD_SIGNATURE)), ADP_RULE_FIX_SETUP);
	assert_int_equal(adp_refusal_rule(R(OVERSIZED)), ADP_RULE_FIX_SETUP);
	assert_int_equal(adp_refusal_rule(999), ADP_RULE_FIX_SETUP);
	assert_string_equal(adp_reason_name(R(SUSPENDED_AGENCY), buf, sizeof(buf)),
			    "suspended_agency");
	assert_string_equal(adp_reason_name(R(BAD_TEXT), buf, sizeof(buf)), "bad_text");
	assert_string_equal(adp_reason_name(999, buf, sizeof(buf)), "reason_999");
	assert_string_equal(adp_reason_name(R(UNKNOWN_EPOCH), buf, 5), "unkn"); /* cut */
}

/* A receipt as JSON: the broker's detail and the agency's case refs are
 * text nobody checked for a terminal; valid, ASCII, complete. */
static void test_json(void **state)
{
	struct adp_receipt_event ev = { 0 };
	const char *cases[2] = { "A-\x1b[2J\xff", "B-2" };
	json_t *o;
	char *s;

	(void)state;
	memset(ev.submission_id, 0xab, sizeof(ev.submission_id));
	ev.d.result = REFUSED;
	ev.d.reason = R(BAD_TEXT);
	ev.d.op_index = 1;
	ev.d.detail = "poc \x07name\xe2\x80\xae bad";
	ev.d.decided_at = 42;
	ev.entries = 3;
	ev.cases = cases;
	ev.n_cases = 2;
	assert_non_null(s = adp_receipt_json(&ev));
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			fail_msg("byte 0x%02x in %s", (unsigned char)*p, s);
	assert_non_null(o = json_loads(s, JSON_REJECT_DUPLICATES, NULL));
	assert_string_equal(json_string_value(json_object_get(o, "record")), "receipt");
	assert_string_equal(json_string_value(json_object_get(o, "result")), "refused");
	assert_string_equal(json_string_value(json_object_get(o, "reason")), "bad_text");
	assert_string_equal(json_string_value(json_object_get(o, "detail")),
			    "poc \x07name\xe2\x80\xae bad");
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "cases"), 0)),
			    "A-\x1b[2J\xef\xbf\xbd");
	assert_int_equal(json_integer_value(json_object_get(o, "entries")), 3);
	assert_non_null(json_object_get(o, "next"));
	json_decref(o);
	free(s);
	/* and for a terminal: no control byte */
	{
		char *buf = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&buf, &len);

		assert_non_null(out);
		adp_receipt_print(out, &ev);
		fclose(out);
		assert_null(memchr(buf, 0x1b, len));
		assert_null(memchr(buf, 0x07, len));
		assert_null(strstr(buf, "\xe2\x80\xae"));
		assert_non_null(strstr(buf, "refused (bad_text)"));
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decide, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resend_rules, setup, teardown),
		cmocka_unit_test(test_rules_and_names),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
