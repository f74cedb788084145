/*
 * test_match.c — the matching semantics (broker/src/match.c) on a real
 * LMDB store (store.c), without Kafka: the outputs are captured.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/scope.h"
#include "deconf/sign.h"
#include "deconf/util.h"
#include "match.h"
#include "store.h"

#define TESTDIR_NAME "match"
#include "testdir.h"

#define K(x) DECONF__V1__##x
#define MAX_OUT 256

struct rec {
	uint8_t key[256];
	size_t key_len;
	uint8_t *value; /* packed StateRecord, NULL for a tombstone */
	size_t len;
};

struct cap {
	struct {
		int kind;
		char to[64], to_case[64], about[64], about_case[64];
		uint8_t id[16], about_id[16];
		int outcome;
		/* an event conflict's fields */
		int urgent, event_kind, cp_event_kind;
		uint32_t band;
		int64_t window_from, window_to;
		/* what a scoped match carries */
		int has_pair;
		uint8_t pair[16];
		char poc[64];
		uint32_t cp_flags;
	} n[MAX_OUT];
	size_t nn, n_audit, n_ops;
	int last_ops_kind;
	char last_ops_a[64], last_ops_b[64];
	struct rec st[4 * MAX_OUT];
	size_t nst;
};

static void copy(char *dst, const ProtobufCBinaryData *b)
{
	if (b->len) /* an empty one may have no data at all */
		memcpy(dst, b->data, b->len);
	dst[b->len] = '\0';
}

static int out_notice(void *o, int partition, const Deconf__V1__ConflictNotice *n)
{
	struct cap *c = o;

	(void)partition;
	assert_true(c->nn < MAX_OUT);
	memset(&c->n[c->nn], 0, sizeof(c->n[0]));
	c->n[c->nn].kind = n->kind;
	copy(c->n[c->nn].to, &n->agency_id);
	copy(c->n[c->nn].to_case, &n->case_ref);
	if (n->counterpart) {
		copy(c->n[c->nn].about, &n->counterpart->agency_id);
		copy(c->n[c->nn].about_case, &n->counterpart->case_ref);
		c->n[c->nn].cp_event_kind = n->counterpart->event_kind;
		c->n[c->nn].cp_flags = n->counterpart->caution_flags;
		if (n->counterpart->poc && n->counterpart->poc->name)
			snprintf(c->n[c->nn].poc, sizeof(c->n[c->nn].poc), "%s",
				 n->counterpart->poc->name);
		c->n[c->nn].window_from = n->counterpart->window_from;
		c->n[c->nn].window_to = n->counterpart->window_to;
	}
	c->n[c->nn].urgent = n->urgent;
	c->n[c->nn].event_kind = n->event_kind;
	c->n[c->nn].band = n->distance_band_m;
	if ((c->n[c->nn].has_pair = n->pair_ref.len == 16))
		memcpy(c->n[c->nn].pair, n->pair_ref.data, 16);
	assert_int_equal(n->notice_id.len, 16);
	memcpy(c->n[c->nn].id, n->notice_id.data, 16);
	c->n[c->nn].outcome = n->outcome;
	if (n->about_notice_id.len == 16)
		memcpy(c->n[c->nn].about_id, n->about_notice_id.data, 16);
	c->nn++;
	return 0;
}

static int out_state(void *o, int partition, const uint8_t *key, size_t key_len,
		     const Deconf__V1__StateRecord *r)
{
	struct cap *c = o;
	struct rec *x = &c->st[c->nst++];

	(void)partition;
	assert_true(c->nst <= 4 * MAX_OUT && key_len <= sizeof(x->key));
	memcpy(x->key, key, key_len);
	x->key_len = key_len;
	x->value = NULL;
	if (r) {
		x->len = deconf__v1__state_record__get_packed_size(r);
		assert_non_null(x->value = malloc(x->len + 1));
		deconf__v1__state_record__pack(r, x->value);
	}
	return 0;
}

static int out_audit(void *o, int partition, const uint8_t *ev, size_t len)
{
	(void)partition;
	(void)ev;
	(void)len;
	((struct cap *)o)->n_audit++;
	return 0;
}

static int out_ops(void *o, const Deconf__V1__OpsEvent *ev)
{
	struct cap *c = o;

	c->n_ops++;
	c->last_ops_kind = ev->kind;
	copy(c->last_ops_a, &ev->agency_id);
	copy(c->last_ops_b, &ev->other_agency_id);
	return 0;
}

struct world {
	struct fixture *fx;
	struct brk_store *s;
	struct brk_match m;
	struct brk_audit_head heads[4];
	struct cap cap;
};

static void world_init(struct world *w, struct fixture *fx, const char *sub)
{
	char dir[300], err[256];

	memset(w, 0, sizeof(*w));
	w->fx = fx;
	snprintf(dir, sizeof(dir), "%s/%s", fx->dir, sub);
	assert_int_equal(brk_store_open(&w->s, dir, 64 << 20, err, sizeof(err)), 0);
	w->m.conf = (struct brk_match_conf){ .notify_queried = 1,
					     .ip_slack_ms = 3600000,
					     .ttl_ms = 86400000,
					     .ttl_ip_ms = 86400000,
					     .ttl_max_ms = 10 * 86400000LL,
					     .warn_before_ms = 500,
					     .hot_cases = 3 };
	w->m.heads = w->heads;
	w->m.out = (struct brk_match_out){ &w->cap, out_notice, out_state, out_audit, out_ops };
}

static void world_free(struct world *w)
{
	for (size_t i = 0; i < w->cap.nst; i++)
		free(w->cap.st[i].value);
	free(w->m.acc);
	brk_store_close(w->s);
}

/* Replay the changelog w has written onto r's store, in transaction t
 * (partition 0), as a restore does. */
static void replay(const struct world *w, struct world *r, struct brk_store_txn *t)
{
	for (size_t i = 0; i < w->cap.nst; i++)
		assert_int_equal(brk_match_restore(&r->m.conf, t, 0, w->cap.st[i].key,
						   w->cap.st[i].key_len,
						   w->cap.st[i].value, w->cap.st[i].len,
						   &r->heads[0]),
				 0);
}

/* Apply one op in its own transaction (a batch of one). */
/* One token op in a transaction of its own, its audit head flushed: what
 * the matcher does per batch. Returns brk_match_op's answer. */
static int run_op(struct world *w, const Deconf__V1__TokenOp *t, int64_t now)
{
	struct brk_store_txn *txn;
	int rc;

	assert_int_equal(brk_store_begin(w->s, 0, &txn), 0);
	rc = brk_match_op(&w->m, txn, 0, t, now);
	assert_int_equal(brk_match_flush_head(&w->m, 0, now), 0);
	assert_int_equal(brk_store_commit(txn), 0);
	return rc;
}

static int apply(struct world *w, int op, const char *agency, const char *case_ref, uint8_t tok,
		 int type, int vis, int64_t vf, int64_t vt, int64_t expires_at, int64_t now)
{
	Deconf__V1__TokenOp t = DECONF__V1__TOKEN_OP__INIT;
	Deconf__V1__PointOfContact poc = DECONF__V1__POINT_OF_CONTACT__INIT;
	uint8_t token[16], sub[16];
	memset(token, tok, sizeof(token));
	memset(sub, (int)(w->cap.nst & 0xff), sizeof(sub));
	poc.name = "Det. Unit";
	t.token.data = token;
	t.token.len = tok ? 16 : 0;
	t.key_epoch = 1;
	t.type = type;
	t.op = op;
	t.agency_id.data = (uint8_t *)agency;
	t.agency_id.len = strlen(agency);
	t.case_ref.data = (uint8_t *)case_ref;
	t.case_ref.len = strlen(case_ref);
	t.poc = &poc;
	t.visibility = vis;
	t.valid_from = vf;
	t.valid_to = vt;
	t.expires_at = expires_at;
	t.submission_id.data = sub;
	t.submission_id.len = 16;
	return run_op(w, &t, now);
}

#define ADD(w, ag, cs, tok) apply(w, K(OP__OP_ADD), ag, cs, tok, K(INDICATOR_TYPE__INDICATOR_TYPE_MD5), 0, 0, 0, 0, deconf_now_ms())

static size_t kinds(const struct world *w, int kind)
{
	size_t n = 0;

	for (size_t i = 0; i < w->cap.nn; i++)
		n += w->cap.n[i].kind == kind;
	return n;
}

static int count_fn(void *o, const struct brk_entry *e)
{
	(void)e;
	(*(size_t *)o)++;
	return 0;
}

static size_t entries(struct world *w)
{
	struct brk_store_txn *t;
	size_t n = 0;

	assert_int_equal(brk_store_begin(w->s, 1, &t), 0);
	assert_int_equal(brk_store_entries_all(t, 0, count_fn, &n), 0);
	brk_store_abort(t);
	return n;
}

static void test_conflict_once(void **state)
{
	struct world w;
	const int C = K(NOTICE_KIND__NOTICE_KIND_CONFLICT);

	world_init(&w, *state, "a");
	assert_int_equal(ADD(&w, "agency-a", "A-1", 1), 0);
	assert_int_equal(w.cap.nn, 0);
	assert_int_equal(ADD(&w, "agency-b", "B-1", 1), 0);
	assert_int_equal(kinds(&w, C), 2);
	assert_string_equal(w.cap.n[0].to, "agency-b"); /* the adder first */
	assert_string_equal(w.cap.n[0].about_case, "A-1");
	assert_string_equal(w.cap.n[1].to, "agency-a");
	assert_string_equal(w.cap.n[1].about_case, "B-1");
	assert_memory_not_equal(w.cap.n[0].id, w.cap.n[1].id, 16);
	/* a re-add, a renewal, a remove and re-add: the pair was notified */
	assert_int_equal(ADD(&w, "agency-b", "B-1", 1), 0);
	assert_int_equal(apply(&w, K(OP__OP_RENEW), "agency-a", "A-1", 1,
			       K(INDICATOR_TYPE__INDICATOR_TYPE_MD5), 0, 0, 0, 0, deconf_now_ms()),
			 0);
	assert_int_equal(apply(&w, K(OP__OP_REMOVE), "agency-a", "A-1", 1,
			       K(INDICATOR_TYPE__INDICATOR_TYPE_MD5), 0, 0, 0, 0, deconf_now_ms()),
			 0);
	assert_int_equal(entries(&w), 1);
	assert_int_equal(ADD(&w, "agency-a", "A-1", 1), 0);
	assert_int_equal(w.cap.nn, 2);
	/* the same agency's other case: not by default */
	assert_int_equal(ADD(&w, "agency-a", "A-2", 1), 0);
	assert_int_equal(kinds(&w, C), 4); /* with B-1 only */
	w.m.conf.match_same_agency = 1;
	assert_int_equal(ADD(&w, "agency-a", "A-3", 1), 0);
	assert_int_equal(w.cap.nn, 5); /* hot now (4 cases > 3): no fan-out, the adder told */
	assert_int_equal(kinds(&w, K(NOTICE_KIND__NOTICE_KIND_HOT_TOKEN)), 1);
	assert_int_equal(w.cap.n_ops, 1);
	assert_int_equal(ADD(&w, "agency-c", "C-1", 1), 0);
	assert_int_equal(kinds(&w, K(NOTICE_KIND__NOTICE_KIND_HOT_TOKEN)), 2);
	assert_int_equal(w.cap.n_ops, 1); /* ops hear once */
	assert_true(w.cap.n_audit > 0);
	world_free(&w);
}

static void test_restricted_and_windows(void **state)
{
	struct world w;
	int64_t now = deconf_now_ms(), H = 3600000;
	const int R = K(VISIBILITY__VISIBILITY_RESTRICTED), IP = K(INDICATOR_TYPE__INDICATOR_TYPE_IP);

	world_init(&w, *state, "b");
	assert_int_equal(apply(&w, K(OP__OP_ADD), "agency-a", "UC", 2,
			       K(INDICATOR_TYPE__INDICATOR_TYPE_EMAIL), R, 0, 0, 0, now),
			 0);
	assert_int_equal(ADD(&w, "agency-b", "B", 2), 0);
	assert_int_equal(w.cap.nn, 1);
	assert_int_equal(w.cap.n[0].kind, K(NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH));
	assert_string_equal(w.cap.n[0].to, "agency-a");
	assert_string_equal(w.cap.n[0].about, "agency-b");
	/* IP windows, slack 1 h: a gap of 30 min conflicts, of 3 h does not */
	assert_int_equal(apply(&w, K(OP__OP_ADD), "agency-a", "IP", 3, IP, 0, now, now + H, 0, now),
			 0);
	assert_int_equal(apply(&w, K(OP__OP_ADD), "agency-b", "IP", 3, IP, 0, now + 3 * H / 2,
			       now + 2 * H, 0, now),
			 0);
	assert_int_equal(w.cap.nn, 3);
	assert_int_equal(apply(&w, K(OP__OP_ADD), "agency-c", "IP", 3, IP, 0, now + 5 * H,
			       now + 6 * H, 0, now),
			 0);
	assert_int_equal(w.cap.nn, 3);
	/* a query stores nothing and answers the asker; holders are told */
	assert_int_equal(apply(&w, K(OP__OP_QUERY), "agency-d", "Q", 3, IP, 0, now, now + H, 0,
			       now),
			 0);
	assert_int_equal(kinds(&w, K(NOTICE_KIND__NOTICE_KIND_QUERY_HIT)), 2);
	assert_int_equal(kinds(&w, K(NOTICE_KIND__NOTICE_KIND_QUERIED)), 2);
	assert_int_equal(entries(&w), 5);
	/* a RESTRICTED query: the asker hears, the holders are told nothing */
	assert_int_equal(apply(&w, K(OP__OP_QUERY), "agency-e", "Q", 3, IP, R, now, now + H, 0,
			       now),
			 0);
	assert_int_equal(kinds(&w, K(NOTICE_KIND__NOTICE_KIND_QUERY_HIT)), 4);
	assert_int_equal(kinds(&w, K(NOTICE_KIND__NOTICE_KIND_QUERIED)), 2);
	/* CLOSE_CASE without a token removes the case's entries */
	assert_int_equal(apply(&w, K(OP__OP_CLOSE_CASE), "agency-b", "IP", 0, 0, 0, 0, 0, 0, now),
			 0);
	assert_int_equal(entries(&w), 4);
	world_free(&w);
}

/* Due times are kept at minute precision (rounded up): the clock here
 * moves in minutes. */
static void test_expiry(void **state)
{
	struct world w;
	struct brk_store_txn *t;
	const int64_t M = 60000;
	int64_t now = deconf_now_ms() / M * M;
	size_t done = 0;

	world_init(&w, *state, "c");
	w.m.conf.warn_before_ms = 5 * M;
	assert_int_equal(apply(&w, K(OP__OP_ADD), "agency-a", "E", 4,
			       K(INDICATOR_TYPE__INDICATOR_TYPE_MD5), 0, 0, 0, now + 10 * M, now),
			 0);
	assert_int_equal(ADD(&w, "agency-b", "LIVE", 9), 0); /* a day's TTL: never due here */
	assert_int_equal(brk_store_begin(w.s, 0, &t), 0);
	assert_int_equal(brk_match_expire(&w.m, t, 0, now + M, 100, &done), 0);
	assert_int_equal(done, 0);
	assert_int_equal(brk_match_expire(&w.m, t, 0, now + 5 * M, 100, &done), 0);
	assert_int_equal(done, 1); /* the warning */
	assert_int_equal(brk_match_expire(&w.m, t, 0, now + 6 * M, 100, &done), 0);
	assert_int_equal(done, 0); /* warned once */
	assert_int_equal(brk_match_expire(&w.m, t, 0, now + 10 * M - 1, 100, &done), 0);
	assert_int_equal(done, 0); /* never early */
	assert_int_equal(brk_match_expire(&w.m, t, 0, now + 10 * M, 100, &done), 0);
	assert_int_equal(done, 1);
	assert_int_equal(brk_store_commit(t), 0);
	assert_int_equal(kinds(&w, K(NOTICE_KIND__NOTICE_KIND_EXPIRY_WARNING)), 1);
	assert_int_equal(kinds(&w, K(NOTICE_KIND__NOTICE_KIND_EXPIRED)), 1);
	assert_int_equal(entries(&w), 1);
	assert_int_equal(ADD(&w, "agency-b", "B", 4), 0);
	assert_int_equal(w.cap.nn, 2); /* nothing to conflict with */
	world_free(&w);
}

/* Many entries due at once are handled max at a time, each once. */
static void test_expiry_bounded(void **state)
{
	struct world w;
	struct brk_store_txn *t;
	const int64_t M = 60000;
	int64_t now = deconf_now_ms() / M * M;
	size_t done = 0, total = 0;

	world_init(&w, *state, "h");
	w.m.conf.warn_before_ms = 0;
	for (int i = 1; i <= 40; i++) {
		char c[16];
		snprintf(c, sizeof(c), "C-%d", i % 7);
		assert_int_equal(apply(&w, K(OP__OP_ADD), "agency-a", c, (uint8_t)i,
				       K(INDICATOR_TYPE__INDICATOR_TYPE_MD5), 0, 0, 0,
				       now + (i % 3 + 1) * M, now),
				 0);
	}
	assert_int_equal(brk_store_begin(w.s, 0, &t), 0);
	do {
		assert_int_equal(brk_match_expire(&w.m, t, 0, now + 3 * M, 16, &done), 0);
		assert_true(done <= 16);
		total += done;
	} while (done == 16);
	assert_int_equal(brk_store_commit(t), 0);
	assert_int_equal(total, 40);
	assert_int_equal(kinds(&w, K(NOTICE_KIND__NOTICE_KIND_EXPIRED)), 40);
	assert_int_equal(entries(&w), 0);
	world_free(&w);
}

/* Apply a KeyEpochs record, signed by key, to the directory. */
static void publish_epochs(struct brk_directory *d, struct deconf_sign_key *key, uint64_t serial,
			   const uint32_t *epochs, const int64_t *retire_at, size_t n)
{
	Deconf__V1__KeyEpochs k = DECONF__V1__KEY_EPOCHS__INIT;
	Deconf__V1__KeyEpoch v[8], *pv[8];
	char err[256];
	uint8_t *buf;
	size_t len;

	for (size_t i = 0; i < n; i++) {
		deconf__v1__key_epoch__init(&v[i]);
		v[i].epoch = epochs[i];
		v[i].retire_at = retire_at[i];
		pv[i] = &v[i];
	}
	k.epochs = pv;
	k.n_epochs = n;
	k.serial = serial;
	assert_int_equal(deconf_envelope_seal(&k.base, K(MESSAGE_TYPE__MESSAGE_TYPE_KEY_EPOCHS),
					      "federation", key, &buf, &len),
			 0);
	assert_int_equal(brk_directory_apply(d, BRK_EPOCHS_KEY, strlen(BRK_EPOCHS_KEY), buf, len,
					     err, sizeof(err)),
			 0);
	free(buf);
}

static void add_epoch(struct world *w, const char *agency, const char *case_ref, uint8_t tok,
		      uint32_t epoch, int64_t now)
{
	Deconf__V1__TokenOp op = DECONF__V1__TOKEN_OP__INIT;
	struct brk_store_txn *t;
	uint8_t token[16], sub[16] = { 0 };

	memset(token, tok, sizeof(token));
	op.token.data = token;
	op.token.len = 16;
	op.key_epoch = epoch;
	op.type = K(INDICATOR_TYPE__INDICATOR_TYPE_MD5);
	op.op = K(OP__OP_ADD);
	op.agency_id.data = (uint8_t *)agency;
	op.agency_id.len = strlen(agency);
	op.case_ref.data = (uint8_t *)case_ref;
	op.case_ref.len = strlen(case_ref);
	op.submission_id.data = sub;
	op.submission_id.len = 16;
	assert_int_equal(brk_store_begin(w->s, 0, &t), 0);
	assert_int_equal(brk_match_op(&w->m, t, 0, &op, now), 0);
	assert_int_equal(brk_store_commit(t), 0);
}

/*
 * Key epochs are the federation's decision. An agency's token under epoch
 * 4294967295 moves nothing: without a signed record nothing is retired;
 * with one, entries of epochs it does not hold live go (no notice), and a
 * retired epoch's entries go at its retire time, not before; the record
 * with the higher serial wins and a replayed older one changes nothing.
 */
static void test_epoch_retired(void **state)
{
	struct world w, r;
	struct brk_store_txn *t;
	struct deconf_sign_key *fed = NULL;
	struct brk_directory *dir = NULL;
	char err[256];
	int64_t now = deconf_now_ms();
	size_t done = 0;

	assert_int_equal(deconf_sign_key_generate(&fed, err, sizeof(err)), 0);
	assert_int_equal(brk_directory_new(&dir, fed), 0);
	world_init(&w, *state, "f");
	w.m.dir = dir;
	add_epoch(&w, "agency-b", "B", 7, 1, now);
	add_epoch(&w, "agency-c", "C", 8, 1, now);
	add_epoch(&w, "agency-a", "A", 9, UINT32_MAX, now); /* the hostile one */
	assert_int_equal(entries(&w), 3);
	/* no record: the federation decided nothing, nothing goes */
	assert_int_equal(brk_store_begin(w.s, 0, &t), 0);
	assert_int_equal(brk_match_expire(&w.m, t, 0, now + 3600000, 100, &done), 0);
	assert_int_equal(done, 0);
	assert_int_equal(brk_store_commit(t), 0);
	/* epoch 1 live: the unpublished epoch's entry goes, B and C stay */
	publish_epochs(dir, fed, 1, (uint32_t[]){ 1 }, (int64_t[]){ 0 }, 1);
	assert_int_equal(brk_store_begin(w.s, 0, &t), 0);
	assert_int_equal(brk_match_expire(&w.m, t, 0, now + 1000, 100, &done), 0);
	assert_int_equal(done, 1);
	assert_int_equal(brk_store_commit(t), 0);
	assert_int_equal(entries(&w), 2);
	/* a rotation: epoch 2 live, epoch 1 retires at now + 10 s */
	add_epoch(&w, "agency-b", "B", 17, 2, now);
	publish_epochs(dir, fed, 2, (uint32_t[]){ 1, 2 }, (int64_t[]){ now + 10000, 0 }, 2);
	publish_epochs(dir, fed, 2, (uint32_t[]){ 1, 2 }, (int64_t[]){ now + 10000, 0 }, 2);
	{
		/* serial 2 again changes nothing; a replay of serial 1 is refused */
		Deconf__V1__KeyEpochs k = DECONF__V1__KEY_EPOCHS__INIT;
		Deconf__V1__KeyEpoch v = DECONF__V1__KEY_EPOCH__INIT, *pv = &v;
		uint8_t *buf;
		size_t len;
		v.epoch = 1;
		k.epochs = &pv;
		k.n_epochs = 1;
		k.serial = 1;
		assert_int_equal(deconf_envelope_seal(&k.base,
						      K(MESSAGE_TYPE__MESSAGE_TYPE_KEY_EPOCHS),
						      "federation", fed, &buf, &len),
				 0);
		assert_int_not_equal(brk_directory_apply(dir, BRK_EPOCHS_KEY,
							 strlen(BRK_EPOCHS_KEY), buf, len, err,
							 sizeof(err)),
				     0);
		free(buf);
	}
	assert_int_equal(brk_store_begin(w.s, 0, &t), 0);
	assert_int_equal(brk_match_expire(&w.m, t, 0, now + 5000, 100, &done), 0);
	assert_int_equal(done, 0); /* within the overlap */
	assert_int_equal(brk_match_expire(&w.m, t, 0, now + 10000, 100, &done), 0);
	assert_int_equal(done, 2); /* B's and C's epoch-1 entries */
	assert_int_equal(brk_store_commit(t), 0);
	assert_int_equal(entries(&w), 1);
	assert_int_equal(w.cap.nn, 0); /* no notice */

	/* a rebuild from the changelog holds the same entries: nothing of the
	 * epochs is in the partition's own state */
	world_init(&r, *state, "g");
	assert_int_equal(brk_store_begin(r.s, 0, &t), 0);
	replay(&w, &r, t);
	assert_int_equal(brk_store_commit(t), 0);
	assert_int_equal(entries(&r), 1);
	world_free(&r);
	world_free(&w);
	brk_directory_free(dir);
	deconf_sign_key_free(fed);
}

/*
 * One agency cannot make a token hot by itself (it can compute the token
 * of any value and would stop the others' conflicts on it): at most
 * hot_cases_per_agency of its cases count. And it cannot pile a token into
 * case after case: past token_cases_per_agency the add is not stored and
 * the agency is told (HOT_TOKEN), which bounds every walk of the token.
 */
static void test_one_agency_cannot_blind(void **state)
{
	struct world w;
	const int C = K(NOTICE_KIND__NOTICE_KIND_CONFLICT), HOT = K(NOTICE_KIND__NOTICE_KIND_HOT_TOKEN);
	char c[16];

	world_init(&w, *state, "j");
	w.m.conf.hot_cases = 3;
	w.m.conf.hot_cases_per_agency = 1;
	w.m.conf.token_cases_per_agency = 4;
	for (int i = 1; i <= 6; i++) {
		snprintf(c, sizeof(c), "A-%d", i);
		assert_int_equal(ADD(&w, "agency-a", c, 21), 0);
	}
	assert_int_equal(entries(&w), 4);           /* not stored */
	assert_int_equal(kinds(&w, HOT), 2);        /* and A told of each */
	assert_int_equal(w.cap.n_ops, 0);           /* not hot */
	assert_int_equal(ADD(&w, "agency-b", "B-1", 21), 0);
	assert_int_equal(kinds(&w, C), 8);          /* B is not blinded: 4 pairs */
	assert_int_equal(ADD(&w, "agency-c", "C-1", 21), 0);
	assert_int_equal(kinds(&w, C), 8 + 10);     /* with A's 4 and B's 1 */
	assert_int_equal(w.cap.n_ops, 0);
	/* a third agency: A (1) + B (1) + C (1) counted, D's add makes it hot */
	assert_int_equal(ADD(&w, "agency-d", "D-1", 21), 0);
	assert_int_equal(w.cap.n_ops, 1);
	assert_int_equal(kinds(&w, HOT), 3);
	world_free(&w);
}

/* A close without tokens removes the case's entries, and only them,
 * through the case index; the indexes hold nothing of it afterwards. */
static void test_close_case(void **state)
{
	struct world w;
	struct brk_store_txn *t;
	int64_t now = deconf_now_ms();
	size_t n = 0;

	world_init(&w, *state, "i");
	w.m.conf.hot_cases = 50;
	for (int i = 1; i <= 60; i++)
		assert_int_equal(ADD(&w, i % 2 ? "agency-a" : "agency-b", i % 2 ? "X" : "Y",
				     (uint8_t)i),
				 0);
	assert_int_equal(ADD(&w, "agency-a", "Z", 1), 0);
	assert_int_equal(entries(&w), 61);
	assert_int_equal(apply(&w, K(OP__OP_CLOSE_CASE), "agency-a", "X", 0, 0, 0, 0, 0, 0, now),
			 0);
	assert_int_equal(entries(&w), 31);
	/* a case nobody holds, and the same case ref of another agency */
	assert_int_equal(apply(&w, K(OP__OP_CLOSE_CASE), "agency-a", "NONE", 0, 0, 0, 0, 0, 0, now),
			 0);
	assert_int_equal(apply(&w, K(OP__OP_CLOSE_CASE), "agency-c", "Y", 0, 0, 0, 0, 0, 0, now),
			 0);
	assert_int_equal(entries(&w), 31);
	{
		/* a packed close (ingest's, for consecutive closes): Z and a case
		 * nobody holds, at once */
		Deconf__V1__TokenOp op = DECONF__V1__TOKEN_OP__INIT;
		ProtobufCBinaryData cases[2] = { { 1, (uint8_t *)"Z" }, { 4, (uint8_t *)"NONE" } };
		uint8_t sub[16] = { 9 };
		op.op = K(OP__OP_CLOSE_CASE);
		op.agency_id.data = (uint8_t *)"agency-a";
		op.agency_id.len = 8;
		op.close_cases = cases;
		op.n_close_cases = 2;
		op.submission_id.data = sub;
		op.submission_id.len = 16;
		assert_int_equal(brk_store_begin(w.s, 0, &t), 0);
		assert_int_equal(brk_match_op(&w.m, t, 0, &op, now), 0);
		/* a packed op with a case ref of its own is malformed */
		op.case_ref = cases[0];
		assert_int_equal(brk_match_op(&w.m, t, 0, &op, now), DECONF_E_MALFORMED);
		assert_int_equal(brk_store_commit(t), 0);
		assert_int_equal(entries(&w), 30);
	}
	assert_int_equal(brk_store_begin(w.s, 1, &t), 0);
	assert_int_equal(brk_store_case_entries(t, 0, "agency-a", (const uint8_t *)"X", 1, count_fn,
						&n),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(brk_store_case_entries(t, 0, "agency-b", (const uint8_t *)"Y", 1, count_fn,
						&n),
			 0);
	assert_int_equal(n, 30);
	n = 0;
	assert_int_equal(brk_store_due(t, 0, INT64_MAX / 2, count_fn, &n), 0);
	assert_int_equal(n, 30);
	brk_store_abort(t);
	world_free(&w);
}

/* Replaying the changelog onto an empty store gives the same state: the
 * same entries, the pairs (no re-notice) and the audit head. */
static void test_restore(void **state)
{
	struct world w, r;
	struct brk_store_txn *t;

	world_init(&w, *state, "d");
	assert_int_equal(ADD(&w, "agency-a", "A", 5), 0);
	assert_int_equal(ADD(&w, "agency-b", "B", 5), 0);
	assert_int_equal(ADD(&w, "agency-a", "A", 6), 0);
	assert_int_equal(apply(&w, K(OP__OP_REMOVE), "agency-a", "A", 6,
			       K(INDICATOR_TYPE__INDICATOR_TYPE_MD5), 0, 0, 0, 0, deconf_now_ms()),
			 0);
	assert_int_equal(w.cap.nn, 2);

	world_init(&r, *state, "e");
	assert_int_equal(brk_store_begin(r.s, 0, &t), 0);
	replay(&w, &r, t);
	assert_int_equal(brk_match_restore(&r.m.conf, t, 0, (const uint8_t *)"Z", 1, NULL, 0,
					   &r.heads[0]),
			 DECONF_E_MALFORMED);
	assert_int_equal(brk_store_commit(t), 0);
	assert_int_equal(entries(&r), entries(&w));
	assert_int_equal(entries(&r), 2);
	assert_int_equal(r.heads[0].seq, w.heads[0].seq);
	assert_memory_equal(r.heads[0].hash, w.heads[0].hash, 32);
	/* the pair is known: a re-add after a removal notifies nobody */
	assert_int_equal(apply(&r, K(OP__OP_REMOVE), "agency-b", "B", 5,
			       K(INDICATOR_TYPE__INDICATOR_TYPE_MD5), 0, 0, 0, 0, deconf_now_ms()),
			 0);
	assert_int_equal(ADD(&r, "agency-b", "B", 5), 0);
	assert_int_equal(r.cap.nn, 0);
	/* the same ops elsewhere give the same notice ids */
	assert_int_equal(ADD(&r, "agency-c", "C", 5), 0);
	assert_int_equal(r.cap.nn, 4);
	world_free(&r);
	world_free(&w);
}

/* An acknowledgment token op (as ingest makes it) in its own batch. */
static int ack(struct world *w, const char *agency, const char *case_ref, uint8_t tok,
	       const uint8_t id[16], int outcome, int64_t now)
{
	Deconf__V1__TokenOp t = DECONF__V1__TOKEN_OP__INIT;
	uint8_t token[16], sub[16];
	memset(token, tok, sizeof(token));
	memset(sub, 0x5a, sizeof(sub));
	t.token.data = token;
	t.token.len = 16;
	t.key_epoch = 1;
	t.type = K(INDICATOR_TYPE__INDICATOR_TYPE_MD5);
	t.agency_id.data = (uint8_t *)agency;
	t.agency_id.len = strlen(agency);
	t.case_ref.data = (uint8_t *)case_ref;
	t.case_ref.len = strlen(case_ref);
	t.submission_id.data = sub;
	t.submission_id.len = 16;
	t.ack_notice_id.data = (uint8_t *)id;
	t.ack_notice_id.len = 16;
	t.ack_outcome = outcome;
	return run_op(w, &t, now);
}

static int escalate_now(struct world *w, int64_t now, size_t *done);

/* One cell of an event: an ADD of an EVENT_CELL token tok with its role,
 * S2 level, the event's kind and window [vf, vt). */
static int event_cell(struct world *w, const char *agency, const char *event_ref, uint8_t tok,
		      int role, uint32_t level, int kind, int64_t vf, int64_t vt, int64_t now)
{
	Deconf__V1__TokenOp t = DECONF__V1__TOKEN_OP__INIT;
	Deconf__V1__PointOfContact poc = DECONF__V1__POINT_OF_CONTACT__INIT;
	uint8_t token[16], sub[16];
	memset(token, tok, sizeof(token));
	memset(sub, 0x7e, sizeof(sub));
	poc.name = "Ops desk";
	t.token.data = token;
	t.token.len = 16;
	t.key_epoch = 1;
	t.type = K(INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL);
	t.op = K(OP__OP_ADD);
	t.agency_id.data = (uint8_t *)agency;
	t.agency_id.len = strlen(agency);
	t.case_ref.data = (uint8_t *)event_ref;
	t.case_ref.len = strlen(event_ref);
	t.poc = &poc;
	t.valid_from = vf;
	t.valid_to = vt;
	t.expires_at = vt;
	t.cell_role = role;
	t.cell_level = level;
	t.event_kind = kind;
	t.submission_id.data = sub;
	t.submission_id.len = 16;
	return run_op(w, &t, now);
}

#define COVER K(CELL_ROLE__CELL_ROLE_COVER)
#define PARENT K(CELL_ROLE__CELL_ROLE_PARENT)
#define WARRANT K(EVENT_KIND__EVENT_KIND_SEARCH_WARRANT)
#define MEET K(EVENT_KIND__EVENT_KIND_UNDERCOVER_MEET)
#define SURV K(EVENT_KIND__EVENT_KIND_SURVEILLANCE)
#define CONFLICT K(NOTICE_KIND__NOTICE_KIND_CONFLICT)

/* How many notices to agency `to` about agency `about`. */
static size_t told(const struct world *w, const char *to, const char *about)
{
	size_t n = 0;

	for (size_t i = 0; i < w->cap.nn; i++)
		n += !strcmp(w->cap.n[i].to, to) && !strcmp(w->cap.n[i].about, about);
	return n;
}

/*
 * Events: two events sharing several COVER cells in overlapping windows
 * are one conflict (one notice each), urgent, with the distance band, the
 * counterpart's kind and window; cells only both hold as PARENT are no
 * conflict; COVER meets PARENT across levels; windows that only touch do
 * not conflict; an event conflict escalates without any caution flag;
 * roles and levels survive the changelog; a closed event is gone.
 */
static void test_events(void **state)
{
	struct world w, r;
	struct brk_store_txn *t;
	int64_t now = deconf_now_ms(), h = 3600000, t0 = now + 86400000;
	size_t done;

	world_init(&w, *state, "ev");
	w.m.conf.escalate_after_ms = 1000;
	/* A: a warrant, two cover cells at level 15 and their parent at 14 */
	assert_int_equal(event_cell(&w, "agency-a", "EV-A", 20, COVER, 15, WARRANT, t0, t0 + 2 * h, now), 0);
	assert_int_equal(event_cell(&w, "agency-a", "EV-A", 21, COVER, 15, WARRANT, t0, t0 + 2 * h, now), 0);
	assert_int_equal(event_cell(&w, "agency-a", "EV-A", 30, PARENT, 14, WARRANT, t0, t0 + 2 * h, now), 0);
	/* B: a meet sharing both cover cells, an hour later: one conflict */
	assert_int_equal(event_cell(&w, "agency-b", "EV-B", 20, COVER, 15, MEET, t0 + h, t0 + 3 * h, now), 0);
	assert_int_equal(event_cell(&w, "agency-b", "EV-B", 21, COVER, 15, MEET, t0 + h, t0 + 3 * h, now), 0);
	assert_int_equal(w.cap.nn, 2);
	assert_int_equal(told(&w, "agency-a", "agency-b"), 1);
	assert_int_equal(told(&w, "agency-b", "agency-a"), 1);
	for (size_t i = 0; i < 2; i++) {
		int to_a = !strcmp(w.cap.n[i].to, "agency-a");
		assert_int_equal(w.cap.n[i].kind, CONFLICT);
		assert_int_equal(w.cap.n[i].urgent, 1);
		assert_int_equal(w.cap.n[i].event_kind, to_a ? WARRANT : MEET);
		assert_int_equal(w.cap.n[i].cp_event_kind, to_a ? MEET : WARRANT);
		assert_true(w.cap.n[i].window_from == (to_a ? t0 + h : t0));
		assert_true(w.cap.n[i].window_to == (to_a ? t0 + 3 * h : t0 + 2 * h));
		assert_int_equal(w.cap.n[i].band, brk_match_event_band_m(15, 15));
	}
	/* level 15: cells at least 183 m wide, at most 474 m across; radii
	 * up to 367 m each: centres within 1208 m. The figures of the grid
	 * library (docs/event-cells.md) for the smallest and largest levels */
	assert_int_equal(brk_match_event_band_m(15, 15), 1208);
	assert_int_equal(brk_match_event_band_m(18, 18), 151);
	assert_int_equal(brk_match_event_band_m(11, 11), 17587);
	assert_int_equal(brk_match_event_band_m(11, 18), 12633);
	assert_true(brk_match_event_cell_ok(K(CELL_ROLE__CELL_ROLE_COVER), 11));
	assert_true(brk_match_event_cell_ok(K(CELL_ROLE__CELL_ROLE_PARENT), 18));
	assert_false(brk_match_event_cell_ok(K(CELL_ROLE__CELL_ROLE_COVER), 10));
	assert_false(brk_match_event_cell_ok(K(CELL_ROLE__CELL_ROLE_COVER), 19));
	assert_false(brk_match_event_cell_ok(0, 15));
	assert_int_equal(brk_match_event_band_m(31, 2), 0);

	/* C: holds cell 30 as a PARENT only: A's is a PARENT too, no conflict */
	assert_int_equal(event_cell(&w, "agency-c", "EV-C", 30, PARENT, 14, SURV, t0, t0 + h, now), 0);
	assert_int_equal(w.cap.nn, 2);
	/* D: cell 30 as its own COVER (a larger event, level 14): meets A */
	assert_int_equal(event_cell(&w, "agency-d", "EV-D", 30, COVER, 14, SURV, t0, t0 + h, now), 0);
	assert_int_equal(told(&w, "agency-d", "agency-a"), 1);
	assert_int_equal(told(&w, "agency-a", "agency-d"), 1);
	assert_int_equal(told(&w, "agency-d", "agency-c"), 1);
	assert_int_equal(w.cap.nn, 6);
	assert_int_equal(w.cap.n[5].band, brk_match_event_band_m(14, 14));
	/* E: cell 20 from the moment A's window ends: touches A, overlaps B */
	assert_int_equal(event_cell(&w, "agency-e", "EV-E", 20, COVER, 15, SURV, t0 + 2 * h, t0 + 4 * h, now), 0);
	assert_int_equal(told(&w, "agency-e", "agency-a"), 0);
	assert_int_equal(told(&w, "agency-e", "agency-b"), 1);
	assert_int_equal(w.cap.nn, 8);

	/* no caution flag, and still escalated: every side unacknowledged */
	assert_int_equal(escalate_now(&w, now + 60000, &done), 0);
	assert_int_equal(done, 8);
	assert_int_equal(w.cap.n_ops, 8);

	/* the roles, levels and kinds come back from the changelog: a PARENT
	 * of cell 30 meets D's COVER (not A's or C's PARENT) */
	world_init(&r, *state, "ev2");
	assert_int_equal(brk_store_begin(r.s, 0, &t), 0);
	replay(&w, &r, t);
	assert_int_equal(brk_store_commit(t), 0);
	assert_int_equal(event_cell(&r, "agency-f", "EV-F", 30, PARENT, 14, SURV, t0, t0 + h, now), 0);
	assert_int_equal(r.cap.nn, 2);
	assert_int_equal(told(&r, "agency-f", "agency-d"), 1);
	assert_int_equal(r.cap.n[0].cp_event_kind, SURV);
	assert_int_equal(r.cap.n[0].urgent, 1);

	/* B cancels its event: its cells are gone; a new meet on cell 21
	 * meets A alone */
	assert_int_equal(apply(&w, K(OP__OP_CLOSE_CASE), "agency-b", "EV-B", 0, 0, 0, 0, 0, 0, now), 0);
	assert_int_equal(event_cell(&w, "agency-g", "EV-G", 21, COVER, 15, MEET, t0, t0 + h, now), 0);
	assert_int_equal(told(&w, "agency-g", "agency-a"), 1);
	assert_int_equal(told(&w, "agency-g", "agency-b"), 0);
	world_free(&r);
	world_free(&w);
}

/* A signed directory entry of id with a sharing scope (NULL: none) and a
 * liaison desk (NULL: none). */
static void scoped_agency(struct brk_directory *d, const struct deconf_sign_key *fed,
			  const char *id, int level, const char *country, const char *spec,
			  const char *liaison)
{
	Deconf__V1__DirectoryEntry e = DECONF__V1__DIRECTORY_ENTRY__INIT;
	Deconf__V1__PointOfContact poc = DECONF__V1__POINT_OF_CONTACT__INIT;
	Deconf__V1__PointOfContact lia = DECONF__V1__POINT_OF_CONTACT__INIT;
	Deconf__V1__DisclosureScope *scope = NULL;
	struct deconf_sign_key *k = NULL;
	uint8_t pub[DECONF_PUBKEY_LEN], *buf = NULL;
	size_t len = 0;
	char errstr[256];

	assert_int_equal(deconf_sign_key_generate(&k, NULL, 0), 0);
	assert_int_equal(deconf_sign_key_public(k, pub), 0);
	e.agency_id.data = (uint8_t *)id;
	e.agency_id.len = strlen(id);
	e.name = (char *)id;
	e.level = level;
	e.country = (char *)country;
	poc.name = "Watch desk";
	e.watch_contact = &poc;
	e.signing_public_key.data = pub;
	e.signing_public_key.len = sizeof(pub);
	e.status = DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_ACTIVE;
	if (spec)
		assert_int_equal(deconf_scope_parse(spec, &scope, errstr, sizeof(errstr)), 0);
	e.scope = scope;
	if (liaison) {
		lia.name = (char *)liaison;
		e.liaison = &lia;
	}
	assert_int_equal(deconf_envelope_seal(&e.base,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_DIRECTORY_ENTRY,
					      "federation", fed, &buf, &len),
			 0);
	assert_int_equal(brk_directory_apply(d, id, strlen(id), buf, len, errstr, sizeof(errstr)),
			 0);
	free(buf);
	deconf_scope_free(scope);
	deconf_sign_key_free(k);
}

/* The notice to `to` about `about` (fails when there is none). */
static int notice_to(const struct world *w, const char *to, const char *about)
{
	for (size_t i = 0; i < w->cap.nn; i++)
		if (!strcmp(w->cap.n[i].to, to) && !strcmp(w->cap.n[i].about, about))
			return (int)i;
	return -1;
}

#define SCOPED K(NOTICE_KIND__NOTICE_KIND_SCOPED_MATCH)
#define LIAISON K(OPS_KIND__OPS_KIND_LIAISON)

/*
 * Sharing scopes, the README's four agencies: a domestic-only federal
 * agency, an open state task force, a tribal department that denies the
 * task force and names its liaison, a UK partner that answers hit / no hit
 * only (its liaison named). For each pair holding one indicator, each side
 * is told the other's details only when the other's scope lets it in;
 * otherwise a SCOPED_MATCH with the pair's reference and, when allowed,
 * the liaison desk, never a case reference or flags; ops hear of every
 * pair across a scope. A scope changed in the directory applies to the
 * next conflict.
 */
static void test_scopes(void **state)
{
	struct world w;
	struct brk_directory *dir = NULL;
	struct deconf_sign_key *fed = NULL;
	int i;

	world_init(&w, *state, "sc");
	assert_int_equal(deconf_sign_key_generate(&fed, NULL, 0), 0);
	assert_int_equal(brk_directory_new(&dir, fed), 0);
	w.m.dir = dir;
	scoped_agency(dir, fed, "us-fbi", K(AGENCY_LEVEL__AGENCY_LEVEL_FEDERAL), "US", "country:US",
		      NULL);
	scoped_agency(dir, fed, "tx-icac", K(AGENCY_LEVEL__AGENCY_LEVEL_STATE), "US", NULL, NULL);
	scoped_agency(dir, fed, "navajo-pd", K(AGENCY_LEVEL__AGENCY_LEVEL_TRIBAL), "US",
		      "!agency:tx-icac,liaison", "NNPD liaison");
	scoped_agency(dir, fed, "uk-nca", K(AGENCY_LEVEL__AGENCY_LEVEL_INTERNATIONAL), "GB",
		      "none,liaison", "NCA International Crime Bureau");

	/* federal and state, both inside each other's: a plain conflict */
	assert_int_equal(ADD(&w, "us-fbi", "F-1", 1), 0);
	assert_int_equal(ADD(&w, "tx-icac", "T-1", 1), 0);
	assert_int_equal(w.cap.nn, 2);
	assert_int_equal(kinds(&w, CONFLICT), 2);
	assert_int_equal(w.cap.n_ops, 0);

	/* federal and UK: neither may learn the other */
	assert_int_equal(ADD(&w, "us-fbi", "F-2", 2), 0);
	assert_int_equal(ADD(&w, "uk-nca", "U-2", 2), 0);
	assert_true((i = notice_to(&w, "uk-nca", "")) >= 0); /* fbi names no liaison */
	assert_int_equal(w.cap.n[i].kind, SCOPED);
	assert_string_equal(w.cap.n[i].about_case, "");
	assert_string_equal(w.cap.n[i].poc, "");
	assert_true(w.cap.n[i].has_pair);
	assert_true((i = notice_to(&w, "us-fbi", "uk-nca")) >= 0); /* uk's liaison */
	assert_int_equal(w.cap.n[i].kind, SCOPED);
	assert_string_equal(w.cap.n[i].about_case, "");
	assert_string_equal(w.cap.n[i].poc, "NCA International Crime Bureau");
	assert_int_equal(w.cap.n[i].cp_flags, 0);
	{
		/* both sides quote the same pair reference */
		int j = notice_to(&w, "uk-nca", "");
		assert_memory_equal(w.cap.n[i].pair, w.cap.n[j].pair, 16);
	}
	assert_int_equal(w.cap.n_ops, 1);
	assert_int_equal(w.cap.last_ops_kind, LIAISON);

	/* tribal and state: the state may not learn the tribal's details
	 * (denied), the tribal may learn the state's */
	assert_int_equal(apply(&w, K(OP__OP_ADD), "navajo-pd", "N-3", 3,
			       K(INDICATOR_TYPE__INDICATOR_TYPE_MD5), 0, 0, 0, 0, deconf_now_ms()),
			 0);
	assert_int_equal(ADD(&w, "tx-icac", "T-3", 3), 0);
	assert_true((i = notice_to(&w, "navajo-pd", "tx-icac")) >= 0);
	assert_int_equal(w.cap.n[i].kind, CONFLICT);
	assert_string_equal(w.cap.n[i].about_case, "T-3");
	assert_true((i = notice_to(&w, "tx-icac", "navajo-pd")) >= 0);
	assert_int_equal(w.cap.n[i].kind, SCOPED);
	assert_string_equal(w.cap.n[i].about_case, "");
	assert_string_equal(w.cap.n[i].poc, "NNPD liaison");
	assert_int_equal(w.cap.n_ops, 2);
	assert_string_equal(w.cap.last_ops_a, "tx-icac");
	assert_string_equal(w.cap.last_ops_b, "navajo-pd");

	/* state and UK: the UK learns the open state's; the state gets the
	 * UK's liaison */
	assert_int_equal(ADD(&w, "tx-icac", "T-4", 4), 0);
	assert_int_equal(ADD(&w, "uk-nca", "U-4", 4), 0);
	assert_true((i = notice_to(&w, "uk-nca", "tx-icac")) >= 0);
	assert_int_equal(w.cap.n[i].kind, CONFLICT);
	assert_string_equal(w.cap.n[i].about_case, "T-4");
	assert_true((i = notice_to(&w, "tx-icac", "uk-nca")) >= 0);
	assert_int_equal(w.cap.n[i].kind, SCOPED);
	assert_int_equal(w.cap.n_ops, 3);

	{
		/* RESTRICTED keeps its meaning inside a scope: the restricted
		 * side alone is told, and told what the other's scope allows */
		size_t before = w.cap.nn;
		assert_int_equal(apply(&w, K(OP__OP_ADD), "navajo-pd", "N-8", 8,
				       K(INDICATOR_TYPE__INDICATOR_TYPE_MD5),
				       K(VISIBILITY__VISIBILITY_RESTRICTED), 0, 0, 0, deconf_now_ms()),
				 0);
		assert_int_equal(ADD(&w, "us-fbi", "F-8", 8), 0);
		assert_int_equal(w.cap.nn, before + 1); /* the FBI is told nothing */
		assert_string_equal(w.cap.n[before].to, "navajo-pd");
		assert_int_equal(w.cap.n[before].kind, K(NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH));
		assert_string_equal(w.cap.n[before].about_case, "F-8"); /* US: inside */
		before = w.cap.nn;
		assert_int_equal(apply(&w, K(OP__OP_ADD), "uk-nca", "U-9", 9,
				       K(INDICATOR_TYPE__INDICATOR_TYPE_MD5),
				       K(VISIBILITY__VISIBILITY_RESTRICTED), 0, 0, 0, deconf_now_ms()),
				 0);
		assert_int_equal(ADD(&w, "us-fbi", "F-9", 9), 0);
		assert_int_equal(w.cap.nn, before + 1); /* the FBI is told nothing */
		assert_string_equal(w.cap.n[before].to, "uk-nca");
		assert_int_equal(w.cap.n[before].kind, SCOPED); /* outside the FBI's scope */
		assert_string_equal(w.cap.n[before].about_case, "");
		assert_int_equal(w.cap.n_ops, 4); /* a liaison for the second only */
	}

	/* the tribal department opens up: the next conflict is plain */
	scoped_agency(dir, fed, "navajo-pd", K(AGENCY_LEVEL__AGENCY_LEVEL_TRIBAL), "US", NULL,
		      NULL);
	assert_int_equal(apply(&w, K(OP__OP_ADD), "navajo-pd", "N-5", 5,
			       K(INDICATOR_TYPE__INDICATOR_TYPE_MD5), 0, 0, 0, 0, deconf_now_ms()),
			 0);
	assert_int_equal(ADD(&w, "tx-icac", "T-5", 5), 0);
	assert_true((i = notice_to(&w, "tx-icac", "navajo-pd")) >= 0);
	assert_int_equal(w.cap.n[w.cap.nn - 1].kind, CONFLICT);
	assert_int_equal(w.cap.n[w.cap.nn - 2].kind, CONFLICT);
	assert_int_equal(w.cap.n_ops, 4);

	{
		/* a case narrowing its open agency's scope to US partners: the
		 * UK partner gets a scoped match for it, the FBI the case; the
		 * narrowing survives the changelog */
		Deconf__V1__TokenOp t = DECONF__V1__TOKEN_OP__INIT;
		Deconf__V1__PointOfContact poc = DECONF__V1__POINT_OF_CONTACT__INIT;
		Deconf__V1__DisclosureScope *domestic = NULL;
		struct brk_store_txn *txn;
		struct world r;
		uint8_t token[16], sub[16];
		char err[128];
		size_t before;

		assert_int_equal(deconf_scope_parse("country:US", &domestic, err, sizeof(err)), 0);
		memset(token, 6, sizeof(token));
		memset(sub, 0x66, sizeof(sub));
		poc.name = "Det. Narrow";
		t.token.data = token;
		t.token.len = 16;
		t.key_epoch = 1;
		t.type = K(INDICATOR_TYPE__INDICATOR_TYPE_MD5);
		t.op = K(OP__OP_ADD);
		t.agency_id.data = (uint8_t *)"tx-icac";
		t.agency_id.len = 7;
		t.case_ref.data = (uint8_t *)"T-6";
		t.case_ref.len = 3;
		t.poc = &poc;
		t.scope = domestic;
		t.submission_id.data = sub;
		t.submission_id.len = 16;
		assert_int_equal(run_op(&w, &t, deconf_now_ms()), 0);
		deconf_scope_free(domestic);
		before = w.cap.nn;
		assert_int_equal(ADD(&w, "uk-nca", "U-6", 6), 0);
		for (i = (int)before; i < (int)w.cap.nn; i++)
			if (!strcmp(w.cap.n[i].to, "uk-nca"))
				break;
		assert_int_equal(w.cap.n[i].kind, SCOPED);
		assert_string_equal(w.cap.n[i].about_case, "");
		assert_int_equal(ADD(&w, "us-fbi", "F-6", 6), 0);
		for (i = 0; i < (int)w.cap.nn; i++)
			if (!strcmp(w.cap.n[i].to, "us-fbi") && !strcmp(w.cap.n[i].about_case, "T-6"))
				break;
		assert_true(i < (int)w.cap.nn); /* a US partner learns the case */
		assert_int_equal(w.cap.n[i].kind, CONFLICT);

		world_init(&r, *state, "sc2");
		r.m.dir = dir;
		assert_int_equal(brk_store_begin(r.s, 0, &txn), 0);
		replay(&w, &r, txn);
		assert_int_equal(brk_store_commit(txn), 0);
		scoped_agency(dir, fed, "fr-ocrvp", K(AGENCY_LEVEL__AGENCY_LEVEL_INTERNATIONAL), "FR",
			      NULL, NULL);
		r.m.conf.hot_cases = 10;
		assert_int_equal(ADD(&r, "fr-ocrvp", "FR-6", 6), 0);
		/* three holders, none letting the French partner in: T-6 by its
		 * case's narrowing (after the replay too), F-6 and U-6 by their
		 * agencies' scopes */
		{
			size_t scoped = 0, named_tx = 0;
			for (i = 0; i < (int)r.cap.nn; i++) {
				if (strcmp(r.cap.n[i].to, "fr-ocrvp"))
					continue;
				scoped += r.cap.n[i].kind == SCOPED;
				named_tx += !strcmp(r.cap.n[i].about, "tx-icac");
			}
			assert_int_equal(scoped, 3);
			assert_int_equal(named_tx, 0);
		}
		r.m.dir = NULL;
		world_free(&r);
	}

	w.m.dir = NULL;
	brk_directory_free(dir);
	deconf_sign_key_free(fed);
	world_free(&w);
}

static int escalate_now(struct world *w, int64_t now, size_t *done)
{
	struct brk_store_txn *t;
	int64_t next = 0;
	int rc;

	assert_int_equal(brk_store_begin(w->s, 0, &t), 0);
	rc = brk_match_escalate(&w->m, t, 0, now, 64, done, &next);
	assert_int_equal(brk_store_commit(t), 0);
	return rc;
}

#define ACKD K(NOTICE_KIND__NOTICE_KIND_ACKNOWLEDGED)
#define REMIND K(NOTICE_KIND__NOTICE_KIND_REMINDER)

/* An acknowledgment changes its agency's side only, is told to the
 * counterpart once per outcome, and a notice of another agency's (or none)
 * changes nothing. */
static void test_ack_lifecycle(void **state)
{
	struct world w;
	uint8_t id_b[16], id_a[16], junk[16];
	int64_t now = deconf_now_ms();
	size_t nst;

	world_init(&w, *state, "f");
	assert_int_equal(ADD(&w, "agency-a", "A", 7), 0);
	assert_int_equal(ADD(&w, "agency-b", "B", 7), 0);
	assert_int_equal(w.cap.nn, 2);
	memcpy(id_b, w.cap.n[0].id, 16); /* B's notice (the adder first) */
	memcpy(id_a, w.cap.n[1].id, 16);

	assert_int_equal(ack(&w, "agency-b", "B", 7, id_b, K(OUTCOME__OUTCOME_SEEN), now + 1000), 0);
	assert_int_equal(kinds(&w, ACKD), 1);
	assert_string_equal(w.cap.n[2].to, "agency-a");
	assert_string_equal(w.cap.n[2].about, "agency-b");
	assert_int_equal(w.cap.n[2].outcome, K(OUTCOME__OUTCOME_SEEN));
	assert_memory_equal(w.cap.n[2].about_id, id_a, 16);
	assert_int_equal(w.m.outcomes[K(OUTCOME__OUTCOME_SEEN)], 1);
	assert_int_equal(w.m.n_ack_obs, 1);
	assert_true(w.m.ack_obs[0].seconds >= 0.9 && w.m.ack_obs[0].seconds < 60);
	assert_int_equal(w.m.ack_obs[0].caution, 0);
	/* the same again: nothing */
	nst = w.cap.nst;
	assert_int_equal(ack(&w, "agency-b", "B", 7, id_b, K(OUTCOME__OUTCOME_SEEN), now + 2000), 0);
	assert_int_equal(kinds(&w, ACKD), 1);
	assert_int_equal(w.cap.nst, nst);
	/* another outcome: told, under another id */
	assert_int_equal(ack(&w, "agency-b", "B", 7, id_b, K(OUTCOME__OUTCOME_DECONFLICTED),
			     now + 3000),
			 0);
	assert_int_equal(kinds(&w, ACKD), 2);
	assert_memory_not_equal(w.cap.n[2].id, w.cap.n[3].id, 16);
	/* A acknowledging B's notice (ingest would refuse it; the matcher
	 * does not trust that either), or an unknown one: nothing changes */
	nst = w.cap.nst;
	assert_int_equal(ack(&w, "agency-a", "A", 7, id_b, K(OUTCOME__OUTCOME_NOT_RELATED), now),
			 0);
	memset(junk, 7, sizeof(junk));
	assert_int_equal(ack(&w, "agency-a", "A", 7, junk, K(OUTCOME__OUTCOME_SEEN), now), 0);
	assert_int_equal(kinds(&w, ACKD), 2);
	/* no lifecycle record written (the audit head moved: it is audited) */
	for (size_t i = nst; i < w.cap.nst; i++)
		assert_int_equal(w.cap.st[i].key[0], 'A');
	/* bad outcomes are malformed */
	assert_int_equal(ack(&w, "agency-a", "A", 7, id_a, 0, now), DECONF_E_MALFORMED);
	assert_int_equal(ack(&w, "agency-a", "A", 7, id_a, 99, now), DECONF_E_MALFORMED);
	world_free(&w);
}

/* A RESTRICTED holder's match is one-sided: its acknowledgment is told to
 * nobody (the other side was never told of it). */
static void test_ack_restricted_told_nobody(void **state)
{
	struct world w;
	int64_t now = deconf_now_ms();

	world_init(&w, *state, "g");
	assert_int_equal(apply(&w, K(OP__OP_ADD), "agency-a", "A", 8,
			       K(INDICATOR_TYPE__INDICATOR_TYPE_MD5),
			       K(VISIBILITY__VISIBILITY_RESTRICTED), 0, 0, 0, now),
			 0);
	assert_int_equal(ADD(&w, "agency-b", "B", 8), 0);
	assert_int_equal(w.cap.nn, 1);
	assert_string_equal(w.cap.n[0].to, "agency-a");
	assert_int_equal(ack(&w, "agency-a", "A", 8, w.cap.n[0].id,
			     K(OUTCOME__OUTCOME_COUNTERPART_CONTACTED), now),
			 0);
	assert_int_equal(w.cap.nn, 1);
	assert_int_equal(w.m.outcomes[K(OUTCOME__OUTCOME_COUNTERPART_CONTACTED)], 1);
	world_free(&w);
}

/* Escalation: once, for the side not acknowledged, only with a caution
 * flag that escalates; and a restore from the changelog keeps that. */
static void test_escalation(void **state)
{
	struct world w, r;
	struct brk_store_txn *t;
	int64_t now = deconf_now_ms();
	uint8_t id_a[16];
	size_t done;

	assert_true(brk_match_escalates(K(CAUTION_FLAG__CAUTION_ARMED), 0));
	assert_true(brk_match_escalates(0, K(CAUTION_FLAG__CAUTION_VICTIM_AT_RISK)));
	assert_false(brk_match_escalates(K(CAUTION_FLAG__CAUTION_INFORMANT),
					 K(CAUTION_FLAG__CAUTION_COURT_SEALED)));

	world_init(&w, *state, "h");
	w.m.conf.escalate_after_ms = 1000;
	/* no caution flag: never escalates */
	assert_int_equal(ADD(&w, "agency-a", "A", 9), 0);
	assert_int_equal(ADD(&w, "agency-b", "B", 9), 0);
	{
		Deconf__V1__TokenOp o = DECONF__V1__TOKEN_OP__INIT;
		uint8_t token[16], sub[16];
		memset(token, 10, 16);
		memset(sub, 1, 16);
		o.token.data = token;
		o.token.len = 16;
		o.key_epoch = 1;
		o.type = K(INDICATOR_TYPE__INDICATOR_TYPE_MD5);
		o.op = K(OP__OP_ADD);
		o.agency_id.data = (uint8_t *)"agency-a";
		o.agency_id.len = 8;
		o.case_ref.data = (uint8_t *)"A";
		o.case_ref.len = 1;
		o.caution_flags = K(CAUTION_FLAG__CAUTION_ARMED);
		o.submission_id.data = sub;
		o.submission_id.len = 16;
		assert_int_equal(brk_store_begin(w.s, 0, &t), 0);
		assert_int_equal(brk_match_op(&w.m, t, 0, &o, now), 0);
		assert_int_equal(brk_store_commit(t), 0);
	}
	/* the matcher looks at once (esc_soonest 0, after a restore): a new
	 * conflict must not put that off to its own escalation time */
	assert_int_equal(w.m.esc_soonest, 0);
	assert_int_equal(ADD(&w, "agency-b", "B", 10), 0);
	assert_int_equal(w.m.esc_soonest, 0);
	assert_int_equal(w.cap.nn, 4);
	memcpy(id_a, w.cap.n[3].id, 16);
	assert_string_equal(w.cap.n[3].to, "agency-a");
	/* A acknowledges: B alone is due */
	assert_int_equal(ack(&w, "agency-a", "A", 10, id_a, K(OUTCOME__OUTCOME_SEEN), now + 10), 0);
	assert_int_equal(w.m.ack_obs[0].caution, 1);
	assert_int_equal(escalate_now(&w, now + 500, &done), 0);
	assert_int_equal(done, 0);
	assert_int_equal(w.cap.n_ops, 0);

	/* a copy restored from the changelog as it stands now */
	world_init(&r, *state, "i");
	r.m.conf.escalate_after_ms = 1000;
	assert_int_equal(brk_store_begin(r.s, 0, &t), 0);
	replay(&w, &r, t);
	assert_int_equal(brk_store_commit(t), 0);

	/* deconf.ops hears once, B is reminded once */
	assert_int_equal(escalate_now(&w, now + 60000, &done), 0);
	assert_int_equal(done, 1);
	assert_int_equal(w.cap.n_ops, 1);
	assert_int_equal(kinds(&w, REMIND), 1);
	assert_string_equal(w.cap.n[w.cap.nn - 1].to, "agency-b");
	assert_int_equal(w.m.escalated, 1);
	assert_int_equal(escalate_now(&w, now + 120000, &done), 0);
	assert_int_equal(done, 0);
	assert_int_equal(w.cap.n_ops, 1);
	/* the restored copy has the same due: and the same reminder id */
	assert_int_equal(escalate_now(&r, now + 60000, &done), 0);
	assert_int_equal(done, 1);
	assert_int_equal(kinds(&r, REMIND), 1);
	assert_memory_equal(r.cap.n[r.cap.nn - 1].id, w.cap.n[w.cap.nn - 1].id, 16);
	{
		/* open escalations: B's, until B acknowledges */
		uint64_t open = 0;
		assert_int_equal(brk_store_begin(w.s, 1, &t), 0);
		assert_int_equal(brk_store_esc_open_count(t, 0, &open), 0);
		brk_store_abort(t);
		assert_int_equal(open, 1);
		{
			/* the watch desk's list: B has not acknowledged, A is
			 * who it should call */
			struct brk_esc_view v[2];
			size_t nv = 0;
			assert_int_equal(brk_store_begin(w.s, 1, &t), 0);
			assert_int_equal(brk_match_open_escalations(&w.m, t, 0, 2, v, &nv), 0);
			brk_store_abort(t);
			assert_int_equal(nv, 1);
			assert_string_equal(v[0].agency, "agency-b");
			assert_string_equal(v[0].other_agency, "agency-a");
			assert_int_equal(v[0].caution_flags, K(CAUTION_FLAG__CAUTION_ARMED));
			assert_true(v[0].notified_at > 0 && v[0].notified_at < now + 60000);
			assert_true(v[0].escalated_at == now + 60000);
		}
		assert_int_equal(ack(&w, "agency-b", "B", 10, w.cap.n[2].id,
				     K(OUTCOME__OUTCOME_SEEN), now + 130000),
				 0);
		assert_int_equal(brk_store_begin(w.s, 1, &t), 0);
		assert_int_equal(brk_store_esc_open_count(t, 0, &open), 0);
		{
			struct brk_esc_view v[2];
			size_t nv = 9;
			assert_int_equal(brk_match_open_escalations(&w.m, t, 0, 2, v, &nv), 0);
			assert_int_equal(nv, 0);
		}
		brk_store_abort(t);
		assert_int_equal(open, 0);
	}
	/* looking later than a new conflict's escalation: looked at sooner */
	w.m.esc_soonest = now + 3600000;
	assert_int_equal(apply(&w, K(OP__OP_ADD), "agency-c", "C", 10,
			       K(INDICATOR_TYPE__INDICATOR_TYPE_MD5), 0, 0, 0, 0, now),
			 0);
	assert_true(w.m.esc_soonest == now + 1000);

	{
		/* an index entry without its record (cannot happen; if it did)
		 * is taken away, not found again and again */
		uint8_t ghost[16];
		memset(ghost, 0x33, sizeof(ghost));
		assert_int_equal(brk_store_begin(w.s, 0, &t), 0);
		assert_int_equal(brk_store_esc_due_set(t, 0, ghost, now + 5, 1), 0);
		assert_int_equal(brk_store_commit(t), 0);
		assert_int_equal(escalate_now(&w, now + 200000, &done), 0);
		assert_true(done >= 1);
		assert_int_equal(escalate_now(&w, now + 200000, &done), 0);
		assert_int_equal(done, 0);
	}
	world_free(&r);
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_conflict_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restricted_and_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoch_retired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_case, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_agency_cannot_blind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_restricted_told_nobody, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escalation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scopes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
