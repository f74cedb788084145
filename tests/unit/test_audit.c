/*
 * test_audit.c — audit checkpoints and the audit trail's verifier
 * (broker/src/audit.c), without Kafka: chains are built here record by
 * record, as the matcher writes them, and fed to the verifier core; and the
 * matcher's checkpoint link (match.c) is captured and verified.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/sign.h"
#include "match.h"

#define K(x) DECONF__V1__##x

static struct deconf_sign_key *broker_key, *other_key, *broker_pub;

static int setup(void **state)
{
	uint8_t raw[DECONF_PUBKEY_LEN];

	(void)state;
	if (deconf_sign_key_generate(&broker_key, NULL, 0) ||
	    deconf_sign_key_generate(&other_key, NULL, 0) ||
	    deconf_sign_key_public(broker_key, raw) || deconf_sign_key_from_public(&broker_pub, raw))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	deconf_sign_key_free(broker_key);
	deconf_sign_key_free(other_key);
	deconf_sign_key_free(broker_pub);
	return 0;
}

/* ---------------------------------------------------- building chains */

struct chain {
	uint32_t chain;
	uint64_t seq;
	uint8_t head[32];
};

struct rec {
	uint8_t *v;
	size_t len;
	uint8_t key[4];
};

/* The next record of c (an event, or with signer a checkpoint signed by
 * signer), as the matcher writes it: an unsigned Envelope, key u32be(chain). */
static struct rec next_rec(struct chain *c, int64_t at, const struct deconf_sign_key *signer,
			   const char *detail)
{
	Deconf__V1__AuditEvent ev = DECONF__V1__AUDIT_EVENT__INIT;
	uint8_t sig[DECONF_SIG_LEN], *buf;
	struct rec r;
	size_t len;

	ev.chain = c->chain;
	ev.seq = c->seq + 1;
	ev.prev_hash.data = c->head;
	ev.prev_hash.len = 32;
	ev.at = at;
	ev.kind = signer ? K(AUDIT_KIND__AUDIT_KIND_CHECKPOINT) : K(AUDIT_KIND__AUDIT_KIND_CONFLICT);
	ev.detail = (char *)(detail ? detail : "");
	if (signer) {
		assert_int_equal(brk_audit_checkpoint_sign(signer, c->chain, c->seq, c->head, at, sig),
				 0);
		ev.checkpoint_signature.data = sig;
		ev.checkpoint_signature.len = sizeof(sig);
	}
	len = deconf__v1__audit_event__get_packed_size(&ev);
	buf = malloc(len);
	assert_non_null(buf);
	deconf__v1__audit_event__pack(&ev, buf);
	EVP_Digest(buf, len, c->head, NULL, EVP_sha256(), NULL);
	c->seq++;
	assert_int_equal(deconf_envelope_pack(K(MESSAGE_TYPE__MESSAGE_TYPE_AUDIT_EVENT), buf, len,
					      "broker", NULL, &r.v, &r.len),
			 0);
	free(buf);
	for (int i = 0; i < 4; i++)
		r.key[i] = (uint8_t)(c->chain >> (24 - 8 * i));
	return r;
}

#define MAXR 64

/* A topic of one or more partitions, records appended in order. */
struct topic {
	struct rec r[MAXR];
	int32_t part[MAXR];
	size_t n;
};

static size_t put(struct topic *t, int32_t p, struct rec r)
{
	assert_true(t->n < MAXR);
	t->r[t->n] = r;
	t->part[t->n] = p;
	return t->n++;
}

static void topic_free(struct topic *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->r[i].v);
	t->n = 0;
}

/* Feed every record but skip (SIZE_MAX: none) to a verifier, offsets
 * counted per partition; from[p] != 0: partition p read from a --from. */
static void verify(const struct topic *t, size_t skip, const int *trust,
		   const struct deconf_sign_key *key, struct brk_audit_report *rep)
{
	struct brk_audit_verifier *v;
	int64_t off[4] = { 0 };

	assert_int_equal(brk_audit_verifier_new(&v, key), 0);
	for (int p = 0; trust && p < 4; p++)
		if (trust[p])
			assert_int_equal(brk_audit_verifier_trust_start(v, p), 0);
	for (size_t i = 0; i < t->n; i++) {
		if (i == skip)
			continue;
		assert_int_equal(brk_audit_verifier_add(v, t->part[i], off[t->part[i]]++, t->r[i].key,
							4, t->r[i].v, t->r[i].len),
				 0);
	}
	assert_int_equal(brk_audit_verifier_finish(v, rep), 0);
	brk_audit_verifier_free(v);
	snprintf(rep->topic, sizeof(rep->topic), "t");
	brk_audit_report_print(rep, stdout);
}

static const struct brk_audit_chain *chain_of(const struct brk_audit_report *r, uint32_t c)
{
	for (size_t i = 0; i < r->n_chains; i++)
		if (r->chains[i].chain == c)
			return &r->chains[i];
	fail_msg("chain %u not in the report", c);
	return NULL;
}

/* ------------------------------------------------------------- tests */

static void test_checkpoint_signature(void **state)
{
	uint8_t h[32], sig[DECONF_SIG_LEN], sig2[DECONF_SIG_LEN];

	(void)state;
	memset(h, 7, sizeof(h));
	assert_int_equal(brk_audit_checkpoint_sign(broker_key, 3, 41, h, 1000, sig), 0);
	assert_int_equal(brk_audit_checkpoint_verify(broker_pub, 3, 41, h, 1000, sig, sizeof(sig)),
			 0);
	/* every signed field counts */
	assert_int_equal(brk_audit_checkpoint_verify(broker_pub, 4, 41, h, 1000, sig, sizeof(sig)),
			 DECONF_E_BADSIG);
	assert_int_equal(brk_audit_checkpoint_verify(broker_pub, 3, 42, h, 1000, sig, sizeof(sig)),
			 DECONF_E_BADSIG);
	assert_int_equal(brk_audit_checkpoint_verify(broker_pub, 3, 41, h, 1001, sig, sizeof(sig)),
			 DECONF_E_BADSIG);
	h[31] ^= 1;
	assert_int_equal(brk_audit_checkpoint_verify(broker_pub, 3, 41, h, 1000, sig, sizeof(sig)),
			 DECONF_E_BADSIG);
	h[31] ^= 1;
	sig[0] ^= 0x80;
	assert_int_equal(brk_audit_checkpoint_verify(broker_pub, 3, 41, h, 1000, sig, sizeof(sig)),
			 DECONF_E_BADSIG);
	sig[0] ^= 0x80;
	assert_int_equal(brk_audit_checkpoint_verify(broker_pub, 3, 41, h, 1000, sig, 63),
			 DECONF_E_BADSIG);
	assert_int_equal(brk_audit_checkpoint_verify(broker_pub, 3, 41, h, 1000, NULL, 0),
			 DECONF_E_BADSIG);
	/* another key's signature of the same head is not the broker's */
	assert_int_equal(brk_audit_checkpoint_sign(other_key, 3, 41, h, 1000, sig2), 0);
	assert_int_equal(brk_audit_checkpoint_verify(broker_pub, 3, 41, h, 1000, sig2, sizeof(sig2)),
			 DECONF_E_BADSIG);
	/* a public key cannot sign */
	assert_int_not_equal(brk_audit_checkpoint_sign(broker_pub, 3, 41, h, 1000, sig2), 0);
}

/* Two chains interleaved in one partition, checkpointed mid-way and at the
 * end: every link and checkpoint verified, no tail. */
static void test_clean(void **state)
{
	struct chain a = { .chain = 0 }, b = { .chain = 1 };
	struct topic t = { 0 };
	struct brk_audit_report rep;
	const struct brk_audit_chain *c;

	(void)state;
	for (int i = 0; i < 5; i++) {
		put(&t, 0, next_rec(&a, 100 + i, NULL, NULL));
		put(&t, 0, next_rec(&b, 100 + i, NULL, NULL));
	}
	put(&t, 0, next_rec(&a, 200, broker_key, NULL));
	put(&t, 0, next_rec(&a, 201, NULL, NULL));
	put(&t, 0, next_rec(&a, 300, broker_key, NULL));
	put(&t, 0, next_rec(&b, 300, broker_key, NULL));
	verify(&t, SIZE_MAX, NULL, broker_pub, &rep);
	assert_int_equal(rep.breaks, 0);
	assert_int_equal(rep.records, 14);
	assert_int_equal(rep.n_chains, 2);
	c = chain_of(&rep, 0);
	assert_int_equal(c->records, 8);
	assert_int_equal(c->first_seq, 1);
	assert_int_equal(c->last_seq, 8);
	assert_int_equal(c->checkpoints, 2);
	assert_int_equal(c->checkpointed_seq, 7);
	assert_int_equal(c->unprotected, 0);
	assert_int_equal(c->restarts, 0);
	assert_int_equal(c->first_break.kind, BRK_AUDIT_OK);
	c = chain_of(&rep, 1);
	assert_int_equal(c->records, 6);
	assert_int_equal(c->checkpoints, 1);
	assert_int_equal(c->checkpointed_seq, 5);
	assert_int_equal(c->unprotected, 0);
	brk_audit_report_clear(&rep);

	/* the same with the wrong public key: every checkpoint is a break, the
	 * first one first */
	verify(&t, SIZE_MAX, NULL, other_key, &rep);
	c = chain_of(&rep, 0);
	assert_int_equal(c->first_break.kind, BRK_AUDIT_BAD_SIGNATURE);
	assert_int_equal(c->first_break.offset, 10);
	assert_int_equal(c->breaks, 2);
	assert_int_equal(c->checkpoints, 0);
	assert_int_equal(c->unprotected, 8);
	assert_int_equal(rep.breaks, 3);
	brk_audit_report_clear(&rep);
	topic_free(&t);
}

/* Events after the last checkpoint are the unprotected tail; none at all
 * is a chain without checkpoint. */
static void test_tail(void **state)
{
	struct chain a = { .chain = 2 }, b = { .chain = 3 };
	struct topic t = { 0 };
	struct brk_audit_report rep;

	(void)state;
	for (int i = 0; i < 3; i++)
		put(&t, 0, next_rec(&a, i, NULL, NULL));
	put(&t, 0, next_rec(&a, 10, broker_key, NULL));
	for (int i = 0; i < 4; i++)
		put(&t, 0, next_rec(&a, 20 + i, NULL, NULL));
	put(&t, 0, next_rec(&b, 1, NULL, NULL));
	verify(&t, SIZE_MAX, NULL, broker_pub, &rep);
	assert_int_equal(rep.breaks, 0);
	assert_int_equal(chain_of(&rep, 2)->unprotected, 4);
	assert_int_equal(chain_of(&rep, 2)->checkpointed_seq, 3);
	assert_int_equal(chain_of(&rep, 3)->unprotected, 1);
	assert_int_equal(chain_of(&rep, 3)->checkpointed_seq, 0);
	brk_audit_report_clear(&rep);
	topic_free(&t);
}

/* A record replaced by one with other bytes: the record itself is named. */
static void test_altered(void **state)
{
	struct chain a = { .chain = 0 }, alt;
	struct topic t = { 0 };
	struct brk_audit_report rep;
	const struct brk_audit_chain *c;
	size_t at;

	(void)state;
	for (int i = 0; i < 3; i++)
		put(&t, 0, next_rec(&a, i, NULL, NULL));
	alt = a;
	at = put(&t, 0, next_rec(&a, 3, NULL, NULL));
	free(t.r[at].v);
	t.r[at] = next_rec(&alt, 3, NULL, "not what happened"); /* same seq, prev */
	put(&t, 0, next_rec(&a, 4, NULL, NULL));
	put(&t, 0, next_rec(&a, 5, broker_key, NULL));
	verify(&t, SIZE_MAX, NULL, broker_pub, &rep);
	c = chain_of(&rep, 0);
	assert_int_equal(c->first_break.kind, BRK_AUDIT_ALTERED);
	assert_int_equal(c->first_break.offset, 3);
	assert_int_equal(c->first_break.seq, 4);
	assert_int_not_equal(rep.breaks, 0);
	brk_audit_report_clear(&rep);
	topic_free(&t);
}

static void test_removed(void **state)
{
	struct chain a = { .chain = 5 };
	struct topic t = { 0 };
	struct brk_audit_report rep;
	const struct brk_audit_chain *c;

	(void)state;
	for (int i = 0; i < 6; i++)
		put(&t, 0, next_rec(&a, i, NULL, NULL));
	put(&t, 0, next_rec(&a, 9, broker_key, NULL));
	verify(&t, 2, NULL, broker_pub, &rep); /* seq 3 left out */
	c = chain_of(&rep, 5);
	assert_int_equal(c->first_break.kind, BRK_AUDIT_GAP);
	assert_int_equal(c->first_break.offset, 2); /* seq 4, where seq 3 was */
	assert_int_equal(c->first_break.seq, 4);
	assert_non_null(strstr(c->first_break.what, "1 record(s) removed"));
	brk_audit_report_clear(&rep);
	/* the first record removed: the chain does not start */
	verify(&t, 0, NULL, broker_pub, &rep);
	c = chain_of(&rep, 5);
	assert_int_equal(c->first_break.kind, BRK_AUDIT_NO_START);
	assert_int_equal(c->first_break.offset, 0);
	brk_audit_report_clear(&rep);
	/* ... unless the check began there (--from): on trust, said so */
	verify(&t, 0, (const int[4]){ 1, 0, 0, 0 }, broker_pub, &rep);
	c = chain_of(&rep, 5);
	assert_int_equal(rep.breaks, 0);
	assert_true(c->trusted_start);
	assert_int_equal(c->first_seq, 2);
	assert_int_equal(c->start_offset, 0);
	assert_int_equal(c->unprotected, 0);
	brk_audit_report_clear(&rep);
	/* trust is for where it began, not for a gap after */
	{
		struct topic t2 = t;
		t2.n = 0;
		for (size_t i = 1; i < t.n; i++)
			if (i != 3)
				t2.r[t2.n++] = t.r[i];
		verify(&t2, SIZE_MAX, (const int[4]){ 1, 0, 0, 0 }, broker_pub, &rep);
		c = chain_of(&rep, 5);
		assert_true(c->trusted_start);
		assert_int_equal(c->first_break.kind, BRK_AUDIT_GAP);
		assert_int_equal(c->first_break.offset, 2);
		brk_audit_report_clear(&rep);
	}
	topic_free(&t);
}

static void test_duplicate_and_restart(void **state)
{
	struct chain a = { .chain = 1 }, again;
	struct topic t = { 0 };
	struct brk_audit_report rep;
	const struct brk_audit_chain *c;
	struct rec dup;

	(void)state;
	for (int i = 0; i < 3; i++)
		put(&t, 0, next_rec(&a, i, NULL, NULL));
	put(&t, 0, next_rec(&a, 5, broker_key, NULL));
	/* the matcher lost its head: seq 1 again, zeros, then a checkpoint */
	memset(&a, 0, sizeof(a));
	a.chain = 1;
	put(&t, 0, next_rec(&a, 50, NULL, NULL));
	put(&t, 0, next_rec(&a, 51, NULL, NULL));
	put(&t, 0, next_rec(&a, 52, broker_key, NULL));
	verify(&t, SIZE_MAX, NULL, broker_pub, &rep);
	c = chain_of(&rep, 1);
	assert_int_equal(rep.breaks, 0);
	assert_int_equal(c->restarts, 1);
	assert_int_equal(c->checkpoints, 2);
	assert_int_equal(c->checkpointed_seq, 2);
	assert_int_equal(c->unprotected, 0);
	assert_int_equal(c->last_seq, 3);
	brk_audit_report_clear(&rep);

	/* a record written twice (same seq, same link) */
	again = a;
	dup = next_rec(&a, 60, NULL, NULL);
	put(&t, 0, dup);
	{
		struct rec copy = { .len = dup.len };
		copy.v = malloc(dup.len);
		assert_non_null(copy.v);
		memcpy(copy.v, dup.v, dup.len);
		memcpy(copy.key, dup.key, 4);
		put(&t, 0, copy); /* offset 8 */
	}
	(void)again;
	verify(&t, SIZE_MAX, NULL, broker_pub, &rep);
	c = chain_of(&rep, 1);
	assert_int_equal(c->first_break.kind, BRK_AUDIT_DUPLICATE);
	assert_int_equal(c->first_break.offset, 8);
	assert_int_equal(c->last_seq, 4);
	brk_audit_report_clear(&rep);
	topic_free(&t);
}

/* Audit partitions added: the chain goes on in another partition, which may
 * be read before the old one. */
static void test_chain_moves_partition(void **state)
{
	struct chain a = { .chain = 3 };
	struct topic t = { 0 }, t2 = { 0 };
	struct brk_audit_report rep;
	const struct brk_audit_chain *c;

	(void)state;
	for (int i = 0; i < 3; i++)
		put(&t, 1, next_rec(&a, i, NULL, NULL));
	for (int i = 0; i < 3; i++)
		put(&t, 0, next_rec(&a, 10 + i, NULL, NULL));
	put(&t, 0, next_rec(&a, 20, broker_key, NULL));
	/* partition 0 read first */
	for (size_t i = 3; i < t.n; i++)
		put(&t2, t.part[i], t.r[i]);
	for (size_t i = 0; i < 3; i++)
		put(&t2, t.part[i], t.r[i]);
	verify(&t2, SIZE_MAX, NULL, broker_pub, &rep);
	c = chain_of(&rep, 3);
	assert_int_equal(rep.breaks, 0);
	assert_int_equal(c->records, 7);
	assert_int_equal(c->first_seq, 1);
	assert_int_equal(c->last_seq, 7);
	assert_int_equal(c->start_partition, 1);
	assert_int_equal(c->restarts, 0);
	assert_int_equal(c->checkpointed_seq, 6);
	assert_int_equal(c->unprotected, 0);
	brk_audit_report_clear(&rep);
	topic_free(&t);
}

static void test_malformed(void **state)
{
	struct chain a = { .chain = 2 };
	struct topic t = { 0 };
	struct brk_audit_report rep;
	const struct brk_audit_chain *c;
	struct brk_audit_verifier *v;
	uint8_t junk[] = { 0xff, 0xff, 0xff, 0x01 };

	(void)state;
	for (int i = 0; i < 3; i++)
		put(&t, 0, next_rec(&a, i, NULL, NULL));
	assert_int_equal(brk_audit_verifier_new(&v, broker_pub), 0);
	assert_int_equal(brk_audit_verifier_add(v, 0, 0, t.r[0].key, 4, t.r[0].v, t.r[0].len), 0);
	assert_int_equal(brk_audit_verifier_add(v, 0, 1, t.r[1].key, 4, junk, sizeof(junk)), 0);
	assert_int_equal(brk_audit_verifier_add(v, 0, 2, t.r[2].key, 4, t.r[2].v, t.r[2].len), 0);
	assert_int_equal(brk_audit_verifier_add(v, 0, 3, NULL, 0, junk, sizeof(junk)), 0);
	assert_int_equal(brk_audit_verifier_add(v, 0, 4, t.r[2].key, 4, NULL, 0), 0);
	assert_int_equal(brk_audit_verifier_finish(v, &rep), 0);
	brk_audit_verifier_free(v);
	brk_audit_report_print(&rep, stdout);
	c = chain_of(&rep, 2);
	assert_int_equal(c->first_break.kind, BRK_AUDIT_MALFORMED);
	assert_int_equal(c->first_break.offset, 1);
	assert_int_equal(rep.stray, 1);
	assert_int_equal(rep.first_stray.offset, 3);
	brk_audit_report_clear(&rep);
	topic_free(&t);
}

/* ------------------------------------------------ the matcher's checkpoint */

struct cap {
	struct rec r[8];
	size_t n, n_state;
};

static int cap_audit(void *o, int partition, const uint8_t *ev, size_t len)
{
	struct cap *c = o;
	struct rec *r = &c->r[c->n++];

	assert_true(c->n <= 8);
	assert_int_equal(deconf_envelope_pack(K(MESSAGE_TYPE__MESSAGE_TYPE_AUDIT_EVENT), ev, len,
					      "broker", NULL, &r->v, &r->len),
			 0);
	for (int i = 0; i < 4; i++)
		r->key[i] = (uint8_t)((uint32_t)partition >> (24 - 8 * i));
	return 0;
}

static int cap_state(void *o, int partition, const uint8_t *key, size_t key_len,
		     const Deconf__V1__StateRecord *r)
{
	struct cap *c = o;

	(void)partition;
	assert_int_equal(key_len, 1);
	assert_int_equal(key[0], 'A');
	assert_non_null(r->audit);
	c->n_state++;
	return 0;
}

static void test_match_checkpoint(void **state)
{
	struct brk_audit_head heads[4];
	struct brk_match m;
	struct cap cap = { 0 };
	struct brk_audit_report rep;
	struct topic t = { 0 };

	(void)state;
	memset(heads, 0, sizeof(heads));
	memset(&m, 0, sizeof(m));
	m.heads = heads;
	m.out.opaque = &cap;
	m.out.audit = cap_audit;
	m.out.state = cap_state;
	/* an empty chain is not checkpointed */
	assert_int_equal(brk_match_flush_head_ckpt(&m, 2, 1000, broker_key), 0);
	assert_int_equal(cap.n, 0);
	assert_int_equal(brk_match_audit_rebuilt(&m, 2, 1000, "rebuilt", 0), 0);
	assert_int_equal(brk_match_audit_rebuilt(&m, 2, 1001, "rebuilt", 0), 0);
	/* not due: no checkpoint, the head on the changelog */
	assert_int_equal(brk_match_flush_head_ckpt(&m, 2, 1002, NULL), 0);
	assert_int_equal(cap.n, 2);
	assert_int_equal(cap.n_state, 1);
	assert_int_equal(brk_match_flush_head_ckpt(&m, 2, 1003, broker_key), 0);
	assert_int_equal(cap.n, 3);
	assert_int_equal(heads[2].seq, 3);
	assert_int_equal(heads[2].signed_seq, 3);
	assert_int_equal(cap.n_state, 2); /* the head after the checkpoint */
	/* nothing moved since: no second checkpoint */
	assert_int_equal(brk_match_flush_head_ckpt(&m, 2, 1004, broker_key), 0);
	assert_int_equal(cap.n, 3);
	for (size_t i = 0; i < cap.n; i++)
		put(&t, 0, cap.r[i]);
	verify(&t, SIZE_MAX, NULL, broker_pub, &rep);
	assert_int_equal(rep.breaks, 0);
	assert_int_equal(chain_of(&rep, 2)->checkpoints, 1);
	assert_int_equal(chain_of(&rep, 2)->checkpointed_seq, 2);
	assert_int_equal(chain_of(&rep, 2)->unprotected, 0);
	brk_audit_report_clear(&rep);
	topic_free(&t);
}

static void test_from_parse(void **state)
{
	struct brk_audit_from f;
	char e[256];

	(void)state;
	assert_int_equal(brk_audit_from_parse(NULL, &f, e, sizeof(e)), 0);
	assert_int_equal(f.n + (f.time_ms != 0), 0);
	assert_int_equal(brk_audit_from_parse("0:12,3:0", &f, e, sizeof(e)), 0);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.partitions[1], 3);
	assert_int_equal(f.offsets[0], 12);
	assert_int_equal(brk_audit_from_parse("@1700000000000", &f, e, sizeof(e)), 0);
	assert_int_equal(f.time_ms, 1700000000000LL);
	assert_int_equal(brk_audit_from_parse("2023-11-14T22:13:20Z", &f, e, sizeof(e)), 0);
	assert_int_equal(f.time_ms, 1700000000000LL);
	assert_int_equal(brk_audit_from_parse("1970-01-01T00:00:00Z", &f, e, sizeof(e)),
			 DECONF_E_INVAL);
	for (const char *bad[] = { "0:", ":5", "0:5,", "0:-1", "x", "@", "@-5", "0:1,0:2",
				   "2023-13-01T00:00:00Z", "2023-11-14T22:13:20", "0:1;1:2" },
	     **b = bad;
	     b < bad + sizeof(bad) / sizeof(bad[0]); b++) {
		e[0] = '\0';
		assert_int_equal(brk_audit_from_parse(*b, &f, e, sizeof(e)), DECONF_E_INVAL);
		assert_non_null(strstr(e, "--from"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checkpoint_signature),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_tail),
		cmocka_unit_test(test_altered),
		cmocka_unit_test(test_removed),
		cmocka_unit_test(test_duplicate_and_restart),
		cmocka_unit_test(test_chain_moves_partition),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_match_checkpoint),
		cmocka_unit_test(test_from_parse),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
