/*
 * test_store.c — the matcher's LMDB state (broker/src/store.c): entries
 * and their case ids, the case index and the due index that bound what
 * a close and an expiry pass cost.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "deconf/err.h"
#include "store.h"

#define TESTDIR_NAME "store"
#include "testdir.h"

#define M 60000LL

static struct brk_entry mk(const char *agency, const char *case_ref, uint8_t tok, uint32_t epoch,
			   int64_t due_at)
{
	struct brk_entry e;

	memset(&e, 0, sizeof(e));
	memset(e.token, tok, sizeof(e.token));
	e.epoch = epoch;
	snprintf(e.agency, sizeof(e.agency), "%s", agency);
	e.case_len = strlen(case_ref);
	memcpy(e.case_ref, case_ref, e.case_len);
	e.type = 7;
	e.visibility = 1;
	e.added_at = 1700000000000LL;
	e.expires_at = due_at ? due_at + M : 0;
	e.due_at = due_at;
	return e;
}

struct seen {
	struct brk_entry v[64];
	size_t n, stop_after;
};

static int seen_fn(void *o, const struct brk_entry *e)
{
	struct seen *s = o;

	assert_true(s->n < 64);
	s->v[s->n++] = *e;
	return s->stop_after && s->n >= s->stop_after ? 1 : 0;
}

static struct brk_store *open_store(struct fixture *fx, const char *sub)
{
	struct brk_store *s;
	char dir[300], err[256];

	snprintf(dir, sizeof(dir), "%s/%s", fx->dir, sub);
	assert_int_equal(brk_store_open(&s, dir, 64 << 20, err, sizeof(err)), 0);
	return s;
}

static void put(struct brk_store_txn *t, int p, const struct brk_entry *e, const char *poc,
		int want_created)
{
	int created = -1;

	assert_int_equal(brk_store_entry_put(t, p, e, poc, poc ? strlen(poc) : 0, &created), 0);
	assert_int_equal(created, want_created);
}

static void test_entries_and_cases(void **state)
{
	struct brk_store *s = open_store(*state, "a");
	struct brk_store_txn *t;
	struct brk_entry e = mk("agency-a", "CASE-1", 1, 1, 1000 * M), g;
	struct seen sn = { 0 };
	const void *poc;
	size_t poc_len;

	assert_int_equal(brk_store_begin(s, 0, &t), 0);
	put(t, 0, &e, "poc-1", 1);
	put(t, 0, &e, NULL, 0); /* an update keeps the case's contact */
	g = mk("agency-a", "CASE-1", 1, 1, 0);
	assert_int_equal(brk_store_entry_get(t, 0, &g), 0);
	assert_int_equal(g.expires_at, e.expires_at);
	assert_int_equal(g.due_at, 1000 * M);
	assert_int_equal(g.type, 7);
	assert_int_equal(brk_store_case_poc(t, 0, "agency-a", (const uint8_t *)"CASE-1", 6, &poc,
					    &poc_len),
			 0);
	assert_int_equal(poc_len, 5);
	assert_memory_equal(poc, "poc-1", 5);
	/* the same token in another case, and in another partition */
	e = mk("agency-b", "CASE-1", 1, 1, 1000 * M);
	put(t, 0, &e, "poc-b", 1);
	put(t, 1, &e, "poc-b", 1);
	assert_int_equal(brk_store_entries_of(t, 0, e.token, 1, seen_fn, &sn), 0);
	assert_int_equal(sn.n, 2);
	assert_string_equal(sn.v[0].agency, "agency-a");
	assert_string_equal(sn.v[1].agency, "agency-b");
	assert_memory_equal(sn.v[1].case_ref, "CASE-1", 6);
	/* a second entry of case 1 keeps the case; removing both forgets it */
	e = mk("agency-a", "CASE-1", 2, 1, 1000 * M);
	put(t, 0, &e, NULL, 1);
	assert_int_equal(brk_store_entry_del(t, 0, &e), 0);
	assert_int_equal(brk_store_entry_del(t, 0, &e), DECONF_E_UNKNOWN);
	assert_int_equal(brk_store_case_poc(t, 0, "agency-a", (const uint8_t *)"CASE-1", 6, &poc,
					    &poc_len),
			 0);
	e = mk("agency-a", "CASE-1", 1, 1, 0);
	assert_int_equal(brk_store_entry_del(t, 0, &e), 0);
	assert_int_equal(brk_store_case_poc(t, 0, "agency-a", (const uint8_t *)"CASE-1", 6, &poc,
					    &poc_len),
			 DECONF_E_UNKNOWN);
	assert_int_equal(brk_store_entry_get(t, 0, &e), DECONF_E_UNKNOWN);
	assert_int_equal(brk_store_commit(t), 0);
	brk_store_close(s);
}

static void test_case_index(void **state)
{
	struct brk_store *s = open_store(*state, "b");
	struct brk_store_txn *t;
	struct seen sn = { 0 };

	assert_int_equal(brk_store_begin(s, 0, &t), 0);
	for (int i = 1; i <= 30; i++) {
		struct brk_entry e = mk(i % 3 ? "agency-a" : "agency-b", i % 2 ? "X" : "Y",
					(uint8_t)i, (uint32_t)(i % 2 + 1), (100 + i % 5) * M);
		put(t, 0, &e, NULL, 1);
	}
	/* agency-a's X: odd i not divisible by 3 */
	assert_int_equal(brk_store_case_entries(t, 0, "agency-a", (const uint8_t *)"X", 1, seen_fn,
						&sn),
			 0);
	assert_int_equal(sn.n, 10);
	for (size_t i = 0; i < sn.n; i++) {
		assert_string_equal(sn.v[i].agency, "agency-a");
		assert_int_equal(sn.v[i].token[0] % 2, 1);
		assert_int_not_equal(sn.v[i].token[0] % 3, 0);
		assert_int_equal(sn.v[i].epoch, 2);
	}
	sn.n = 0;
	assert_int_equal(brk_store_case_entries(t, 0, "agency-c", (const uint8_t *)"X", 1, seen_fn,
						&sn),
			 0);
	assert_int_equal(sn.n, 0);
	brk_store_abort(t);
	brk_store_close(s);
}

static void test_due_index(void **state)
{
	struct brk_store *s = open_store(*state, "c");
	struct brk_store_txn *t;
	struct seen sn = { 0 };
	uint32_t epochs[4];
	size_t n;

	assert_int_equal(brk_store_begin(s, 0, &t), 0);
	/* due at minute 10 (two cases), 20 and never; epochs 1 and 3 */
	struct brk_entry a = mk("agency-a", "A", 1, 1, 10 * M), b = mk("agency-b", "B", 2, 1, 10 * M),
			 c = mk("agency-a", "A", 3, 1, 20 * M), d = mk("agency-a", "A", 4, 3, 0),
			 f = mk("agency-c", "C", 5, 3, 10 * M - 1);
	put(t, 0, &a, NULL, 1);
	put(t, 0, &b, NULL, 1);
	put(t, 0, &c, NULL, 1);
	put(t, 0, &d, NULL, 1);
	put(t, 0, &f, NULL, 1);
	assert_int_equal(brk_store_due(t, 0, 9 * M - 1, seen_fn, &sn), 0);
	assert_int_equal(sn.n, 0);
	assert_int_equal(brk_store_due(t, 0, 9 * M, seen_fn, &sn), 0);
	assert_int_equal(sn.n, 1); /* f is due within minute 9 */
	sn.n = 0;
	assert_int_equal(brk_store_due(t, 0, 10 * M, seen_fn, &sn), 0);
	assert_int_equal(sn.n, 3); /* a, b (epoch 1), f (epoch 3) */
	assert_int_equal(sn.v[2].epoch, 3);
	sn.n = 0;
	sn.stop_after = 2;
	assert_int_equal(brk_store_due(t, 0, 30 * M, seen_fn, &sn), 1);
	assert_int_equal(sn.n, 2);
	sn.n = 0;
	sn.stop_after = 0;
	assert_int_equal(brk_store_due(t, 0, 30 * M, seen_fn, &sn), 0);
	assert_int_equal(sn.n, 4); /* d is never due */
	/* moving a's due time moves it in the index */
	a.due_at = 25 * M;
	put(t, 0, &a, NULL, 0);
	sn.n = 0;
	assert_int_equal(brk_store_due(t, 0, 20 * M, seen_fn, &sn), 0);
	assert_int_equal(sn.n, 3);
	/* an epoch's entries, due or not */
	sn.n = 0;
	assert_int_equal(brk_store_epoch_entries(t, 0, 3, seen_fn, &sn), 0);
	assert_int_equal(sn.n, 2);
	assert_int_equal(brk_store_epochs(t, 0, epochs, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(epochs[0], 1);
	assert_int_equal(epochs[1], 3);
	/* deleting every entry of an epoch empties it from the index */
	assert_int_equal(brk_store_entry_del(t, 0, &d), 0);
	assert_int_equal(brk_store_entry_del(t, 0, &f), 0);
	assert_int_equal(brk_store_epochs(t, 0, epochs, 4, &n), 0);
	assert_int_equal(n, 1);
	/* other partitions are apart */
	assert_int_equal(brk_store_epochs(t, 1, epochs, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(brk_store_commit(t), 0);
	brk_store_close(s);
}

/* The case index keeps 8 bytes of each token: two tokens of one case that
 * share them (an agency chooses its tokens) are both found, and removing
 * one leaves the other indexed. */
static void test_token_prefix_shared(void **state)
{
	struct brk_store *s = open_store(*state, "e");
	struct brk_store_txn *t;
	struct seen sn = { 0 };
	struct brk_entry a = mk("agency-a", "A", 1, 1, 10 * M), b = a;

	b.token[15] = 2; /* same first 8 bytes, another token */
	assert_int_equal(brk_store_begin(s, 0, &t), 0);
	put(t, 0, &a, NULL, 1);
	put(t, 0, &b, NULL, 1);
	assert_int_equal(brk_store_case_entries(t, 0, "agency-a", (const uint8_t *)"A", 1, seen_fn,
						&sn),
			 0);
	assert_int_equal(sn.n, 2);
	assert_int_equal(brk_store_entry_del(t, 0, &a), 0);
	sn.n = 0;
	assert_int_equal(brk_store_case_entries(t, 0, "agency-a", (const uint8_t *)"A", 1, seen_fn,
						&sn),
			 0);
	assert_int_equal(sn.n, 1);
	assert_memory_equal(sn.v[0].token, b.token, 16);
	sn.n = 0;
	assert_int_equal(brk_store_due(t, 0, 10 * M, seen_fn, &sn), 0);
	assert_int_equal(sn.n, 1);
	brk_store_abort(t);
	brk_store_close(s);
}

static void test_wipe_and_stats(void **state)
{
	struct brk_store *s = open_store(*state, "d");
	struct brk_store_txn *t;
	struct seen sn = { 0 };
	uint64_t entries = 0, bytes = 0;
	uint32_t epochs[2];
	size_t n;

	assert_int_equal(brk_store_begin(s, 0, &t), 0);
	for (int p = 0; p < 2; p++)
		for (int i = 1; i <= 20; i++) {
			struct brk_entry e = mk("agency-a", i % 2 ? "X" : "Y", (uint8_t)i, 1, i * M);
			put(t, p, &e, "poc", 1);
		}
	assert_int_equal(brk_store_commit(t), 0);
	assert_int_equal(brk_store_stats(s, &entries, &bytes), 0);
	assert_int_equal(entries, 40);
	assert_true(bytes > 0);
	assert_int_equal(brk_store_begin(s, 0, &t), 0);
	assert_int_equal(brk_store_wipe(t, 0), 0);
	assert_int_equal(brk_store_entries_all(t, 0, seen_fn, &sn), 0);
	assert_int_equal(sn.n, 0);
	assert_int_equal(brk_store_epochs(t, 0, epochs, 2, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(brk_store_entries_all(t, 1, seen_fn, &sn), 0);
	assert_int_equal(sn.n, 20);
	/* a wiped partition starts again: case ids are fresh, entries new */
	{
		struct brk_entry e = mk("agency-a", "X", 1, 1, M);
		put(t, 0, &e, NULL, 1);
	}
	assert_int_equal(brk_store_commit(t), 0);
	assert_int_equal(brk_store_stats(s, &entries, &bytes), 0);
	assert_int_equal(entries, 21);
	brk_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_entries_and_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_case_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_due_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_prefix_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wipe_and_stats, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
