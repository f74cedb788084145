/*
 * bench_state.c — what the matcher's state costs, without Kafka: the
 * matching semantics (broker/src/match.c) on the real LMDB store
 * (broker/src/store.c), outputs counted and dropped.
 *
 * 1. Fill: N ADDs shaped like bench_broker's (4 agencies, cases of 100
 *    SHA-256 tokens, 1% overlap, 4 partitions), in batches of 20000 per
 *    transaction: ops/s and stored bytes per entry (docs/design.md: <= 128).
 * 2. Token-less closes, the flood a hostile agency can send: closes of
 *    cases that do not exist, and closes of real cases of 100 entries,
 *    each sent to every partition as ingest does: ops/s. The peer in the
 *    same run is one full walk of a partition's entries, which is what each
 *    of those closes cost before the case index: the ratio is printed.
 * 3. Expiry: one pass over every partition with nothing due, and with 1% of
 *    the entries due (warned): seconds, against one full walk of every
 *    partition (what each pass cost before the due index).
 *
 * It prints figures; it fails only when something did not work.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deconf/err.h"
#include "deconf/util.h"
#include "match.h"
#include "store.h"

#define K(x) DECONF__V1__##x
#define PARTS 4
#define PER_CASE 100
#define BATCH 20000

static uint64_t n_out;

static int out_notice(void *o, int p, const Deconf__V1__ConflictNotice *n)
{
	(void)o, (void)p, (void)n;
	n_out++;
	return 0;
}

static int out_state(void *o, int p, const uint8_t *k, size_t kl, const Deconf__V1__StateRecord *r)
{
	(void)o, (void)p, (void)k, (void)kl;
	/* the changelog record is packed, as the matcher does */
	if (r) {
		uint8_t buf[4096];
		size_t len = deconf__v1__state_record__get_packed_size(r);
		if (len <= sizeof(buf))
			deconf__v1__state_record__pack(r, buf);
	}
	n_out++;
	return 0;
}

static int out_audit(void *o, int p, const uint8_t *ev, size_t len)
{
	(void)o, (void)p, (void)ev, (void)len;
	n_out++;
	return 0;
}

static int out_ops(void *o, const Deconf__V1__OpsEvent *ev)
{
	(void)o, (void)ev;
	n_out++;
	return 0;
}

static void token_of(uint32_t t, uint8_t out[16])
{
	uint64_t h = 0x9e3779b97f4a7c15ULL * (t + 1);

	for (int i = 0; i < 16; i++) {
		h ^= h >> 29;
		h *= 0xbf58476d1ce4e5b9ULL;
		out[i] = (uint8_t)(h >> 56);
	}
}

struct bench {
	struct brk_store *s;
	struct brk_match m;
	struct brk_audit_head heads[PARTS];
	struct brk_store_txn *t;
	long in_txn;
	int64_t now;
};

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_state: %s: %s\n", what, deconf_strerror(rc));
	exit(1);
}

static void commit(struct bench *b)
{
	int rc;

	if (!b->t)
		return;
	for (int p = 0; p < PARTS; p++)
		if ((rc = brk_match_flush_head(&b->m, p, b->now)))
			die("flush", rc);
	if ((rc = brk_store_commit(b->t)))
		die("commit", rc);
	b->t = NULL;
	b->in_txn = 0;
}

static void op(struct bench *b, int p, const Deconf__V1__TokenOp *o)
{
	int rc;

	if (!b->t && (rc = brk_store_begin(b->s, 0, &b->t)))
		die("begin", rc);
	if ((rc = brk_match_op(&b->m, b->t, p, o, b->now)))
		die("op", rc);
	if (++b->in_txn >= BATCH)
		commit(b);
}

static int part_of(const uint8_t *token)
{
	return token[0] % PARTS;
}

static long walk_count;

static int walk_fn(void *o, const struct brk_entry *e)
{
	(void)o, (void)e;
	walk_count++;
	return 0;
}

/* Seconds of one full walk of partition p (the old per-close cost). */
static double full_walk(struct bench *b, int p)
{
	struct brk_store_txn *t;
	int64_t t0 = deconf_mono_us();

	if (brk_store_begin(b->s, 1, &t))
		die("begin", DECONF_E_IO);
	walk_count = 0;
	brk_store_entries_all(t, p, walk_fn, NULL);
	brk_store_abort(t);
	return (double)(deconf_mono_us() - t0) / 1e6;
}

int main(int argc, char **argv)
{
	long n = 1000000, closes = 48000, real_closes = 200;
	char dir[] = "/tmp/bench_state.XXXXXX", err[512];
	struct bench b;
	Deconf__V1__PointOfContact poc = DECONF__V1__POINT_OF_CONTACT__INIT;
	uint8_t sub[16] = { 1 };
	uint64_t entries = 0, bytes = 0;
	int64_t t0;
	double fill_s, walk_s = 0, close_s, real_s, exp0_s, exp1_s, all_walk_s = 0;
	int ch, rc;
	long cases;

	while ((ch = getopt(argc, argv, "n:c:h")) != -1) {
		switch (ch) {
		case 'n': n = atol(optarg); break;
		case 'c': closes = atol(optarg); break;
		default:
			fputs("usage: bench_state [-n ENTRIES] [-c CLOSES]\n", ch == 'h' ? stdout : stderr);
			return ch == 'h' ? 0 : 2;
		}
	}
	if (n < 10000 || closes < 100) {
		fputs("bench_state: -n >= 10000, -c >= 100\n", stderr);
		return 2;
	}
	if (!mkdtemp(dir))
		die("mkdtemp", DECONF_E_IO);
	memset(&b, 0, sizeof(b));
	if ((rc = brk_store_open(&b.s, dir, (size_t)(n / 1000000 + 1) * (1UL << 30), err,
				 sizeof(err)))) {
		fprintf(stderr, "bench_state: %s\n", err);
		return 1;
	}
	b.m.conf = (struct brk_match_conf){ .ip_slack_ms = 86400000,
					    .ttl_ms = 180 * 86400000LL,
					    .ttl_ip_ms = 90 * 86400000LL,
					    .ttl_max_ms = 365 * 86400000LL,
					    .warn_before_ms = 14 * 86400000LL,
					    .hot_cases = 50,
					    .notify_queried = 1 };
	b.m.heads = b.heads;
	b.m.out = (struct brk_match_out){ NULL, out_notice, out_state, out_audit, out_ops };
	b.now = deconf_now_ms();
	poc.name = "Bench Desk";
	printf("bench_state: %ld entries, 4 agencies, cases of %d tokens, %d partitions\n", n,
	       PER_CASE, PARTS);

	/* 1. fill */
	cases = n / PER_CASE;
	t0 = deconf_mono_us();
	for (long c = 0; c < cases; c++) {
		char agency[16], ref[32];
		Deconf__V1__TokenOp o = DECONF__V1__TOKEN_OP__INIT;
		uint8_t tok[16];

		snprintf(agency, sizeof(agency), "bench-%ld", c % 4);
		snprintf(ref, sizeof(ref), "P-%ld", c);
		o.op = K(OP__OP_ADD);
		o.agency_id.data = (uint8_t *)agency;
		o.agency_id.len = strlen(agency);
		o.case_ref.data = (uint8_t *)ref;
		o.case_ref.len = strlen(ref);
		o.poc = &poc;
		o.type = K(INDICATOR_TYPE__INDICATOR_TYPE_SHA256);
		o.key_epoch = 1;
		o.submission_id.data = sub;
		o.submission_id.len = 16;
		/* 1% of the cases expire in 20 days: their warning (14 days ahead) is
		 * due in 6, which phase 3 asks about */
		o.expires_at = c % 100 == 0 ? b.now + 20 * 86400000LL : 0;
		o.token.data = tok;
		o.token.len = 16;
		for (int j = 0; j < PER_CASE; j++) {
			uint32_t t = (uint32_t)(c * PER_CASE + j);
			if (c > 0 && j % 100 == 0) /* 1% overlap: the previous case's token */
				t = (uint32_t)((c - 1) * PER_CASE + j + 1);
			token_of(t, tok);
			op(&b, part_of(tok), &o);
		}
	}
	commit(&b);
	fill_s = (double)(deconf_mono_us() - t0) / 1e6;
	if ((rc = brk_store_stats(b.s, &entries, &bytes)))
		die("stats", rc);
	printf("fill:    %.0f ADDs/s (%.1f s); %llu entries, %.1f bytes per entry (goal <= 128: "
	       "%.2fx the limit)\n",
	       (double)n / fill_s, fill_s, (unsigned long long)entries,
	       (double)bytes / (double)entries, (double)bytes / (double)entries / 128.0);
	fflush(stdout);

	/* 2. closes: the peer is a full walk of one partition */
	for (int p = 0; p < PARTS; p++) {
		double w = full_walk(&b, p);
		walk_s += w / PARTS;
		all_walk_s += w;
	}
	t0 = deconf_mono_us();
	for (long i = 0; i < closes; i++) {
		Deconf__V1__TokenOp o = DECONF__V1__TOKEN_OP__INIT;
		char ref[32];
		snprintf(ref, sizeof(ref), "NOPE-%ld", i);
		o.op = K(OP__OP_CLOSE_CASE);
		o.agency_id.data = (uint8_t *)"bench-0";
		o.agency_id.len = 7;
		o.case_ref.data = (uint8_t *)ref;
		o.case_ref.len = strlen(ref);
		o.submission_id.data = sub;
		o.submission_id.len = 16;
		for (int p = 0; p < PARTS; p++)
			op(&b, p, &o);
	}
	commit(&b);
	close_s = (double)(deconf_mono_us() - t0) / 1e6;
	printf("closes:  %.0f token-less closes/s of unknown cases (%ld ops to %d partitions in "
	       "%.2f s); a full walk of a partition (%ld entries) takes %.3f s: %.0fx faster per op\n",
	       (double)closes * PARTS / close_s, closes * PARTS, PARTS, close_s, walk_count, walk_s,
	       walk_s / (close_s / (double)(closes * PARTS)));
	t0 = deconf_mono_us();
	for (long i = 0; i < real_closes; i++) {
		Deconf__V1__TokenOp o = DECONF__V1__TOKEN_OP__INIT;
		char agency[16], ref[32];
		long c = 1 + i * (cases / real_closes);
		snprintf(agency, sizeof(agency), "bench-%ld", c % 4);
		snprintf(ref, sizeof(ref), "P-%ld", c);
		o.op = K(OP__OP_CLOSE_CASE);
		o.agency_id.data = (uint8_t *)agency;
		o.agency_id.len = strlen(agency);
		o.case_ref.data = (uint8_t *)ref;
		o.case_ref.len = strlen(ref);
		o.submission_id.data = sub;
		o.submission_id.len = 16;
		for (int p = 0; p < PARTS; p++)
			op(&b, p, &o);
	}
	commit(&b);
	real_s = (double)(deconf_mono_us() - t0) / 1e6;
	printf("closes:  %.0f token-less closes/s of real cases of %d entries (%.1f us per entry "
	       "removed)\n",
	       (double)real_closes * PARTS / real_s, PER_CASE,
	       real_s * 1e6 / (double)(real_closes * PER_CASE));
	fflush(stdout);

	/* 3. expiry passes: nothing due, then the 1% inside the warning window */
	{
		size_t done, total = 0, first = 0;
		t0 = deconf_mono_us();
		if ((rc = brk_store_begin(b.s, 0, &b.t)))
			die("begin", rc);
		for (int p = 0; p < PARTS; p++)
			if ((rc = brk_match_expire(&b.m, b.t, p, b.now, 5000, &done)))
				die("expire", rc);
			else
				first += done;
		commit(&b);
		exp0_s = (double)(deconf_mono_us() - t0) / 1e6;
		t0 = deconf_mono_us();
		if ((rc = brk_store_begin(b.s, 0, &b.t)))
			die("begin", rc);
		for (int p = 0; p < PARTS; p++)
			do {
				if ((rc = brk_match_expire(&b.m, b.t, p, b.now + 7 * 86400000LL, 5000,
							   &done)))
					die("expire", rc);
				total += done;
			} while (done == 5000);
		commit(&b);
		exp1_s = (double)(deconf_mono_us() - t0) / 1e6;
		printf("expiry:  a pass with nothing due (%zu handled): %.6f s; 7 days on, %zu due "
		       "(warned): %.3f s; a full walk of every partition: %.3f s (%.0fx the pass with "
		       "nothing due, %.1fx the pass with %zu due)\n",
		       first, exp0_s, total, exp1_s, all_walk_s,
		       all_walk_s / (exp0_s > 0 ? exp0_s : 1e-6),
		       all_walk_s / (exp1_s > 0 ? exp1_s : 1e-6), total);
	}
	brk_store_close(b.s);
	{
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			fprintf(stderr, "bench_state: could not remove %s\n", dir);
	}
	return 0;
}
