/* test_ledger.c — the adapter's local LMDB ledger (adapters/src/ledger.h).
 *
 * Every test gets a fresh mkdtemp directory; the ledger lives in its
 * "ledger" subdirectory so that adp_ledger_open() has to create it. The
 * directory tree is removed when the test ends, pass or fail.
 *
 *     test_ledger [PATTERN] [-s SKIP_PATTERN]
 *
 * runs only the tests matching PATTERN and skips those matching
 * SKIP_PATTERN (cmocka wildcards '*' and '?').
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "deconf.pb-c.h"
#include "deconf/err.h"
#include "ledger.h"

#define T_PHONE DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_PHONE
#define T_USERNAME DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_USERNAME
#define T_VEHICLE DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_VEHICLE
#define T_LAST DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_VEHICLE

#define MAP_DEFAULT ((size_t)64 << 20)
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- fixture */

struct fx {
	char root[64];  /* mkdtemp directory, removed by teardown */
	char dir[128];  /* root "/ledger": created by adp_ledger_open */
	struct adp_ledger *l;
	struct adp_ledger_txn *t; /* the open transaction, aborted by teardown */
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void fx_open(struct fx *f, size_t map_size)
{
	char err[256] = "";
	int rc = adp_ledger_open(&f->l, f->dir, map_size, err, sizeof(err));

	if (rc)
		fail_msg("adp_ledger_open(%s): %d %s", f->dir, rc, err);
	assert_non_null(f->l);
}

static void fx_reopen(struct fx *f, size_t map_size)
{
	assert_null(f->t);
	adp_ledger_close(f->l);
	f->l = NULL;
	fx_open(f, map_size);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->root, "/tmp/deconf-test-ledger.XXXXXX");
	if (!mkdtemp(f->root)) {
		free(f);
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/ledger", f->root);
	*state = f;
	fx_open(f, MAP_DEFAULT);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (!f)
		return 0;
	adp_ledger_abort(f->t); /* a failed assertion left it open */
	adp_ledger_close(f->l);
	rm_rf(f->root);
	free(f);
	return 0;
}

/* One transaction at a time, kept in the fixture so that a test stopped
 * by a failed assertion does not leak it. */
static struct adp_ledger_txn *begin(struct fx *f, int rdonly)
{
	assert_null(f->t);
	assert_int_equal(adp_ledger_begin(f->l, rdonly, &f->t), DECONF_OK);
	assert_non_null(f->t);
	return f->t;
}

static void commit(struct fx *f)
{
	struct adp_ledger_txn *t = f->t;

	f->t = NULL;
	assert_int_equal(adp_ledger_commit(t), DECONF_OK);
}

static void end(struct fx *f)
{
	adp_ledger_abort(f->t);
	f->t = NULL;
}

/* ---------------------------------------------------------------- helpers */

/* An entry whose every field is derived from seed (value set by caller). */
static void make_entry(struct adp_entry *e, uint32_t seed)
{
	memset(e, 0, sizeof(*e));
	for (int i = 0; i < 16; i++)
		e->token[i] = (uint8_t)(seed * 31u + (uint32_t)i * 7u + 1u);
	e->epoch = 1 + seed % 3;
	e->type = 1 + (int)(seed % T_LAST);
	e->state = (uint8_t)(ADP_ENTRY_PENDING + seed % 3);
	e->valid_from = 1700000000000LL + seed;
	e->valid_to = 1800000000000LL + seed;
	e->published_at = seed % 2 ? 0 : 1764300000000LL + seed;
	for (int i = 0; i < ADP_SUBMISSION_ID_LEN; i++)
		e->submission_id[i] = (uint8_t)(0xa0 + seed + (uint32_t)i);
	for (int i = 0; i < 8; i++)
		e->case_digest[i] = (uint8_t)(0x50 ^ (seed + (uint32_t)i));
	e->reason = (uint8_t)(seed % 17);
	e->decided_at = seed % 2 ? 1764400000000LL + seed : 0;
	e->value = "value";
	e->value_len = 5;
	e->qualifier = NULL;
}

/* got must equal want field by field; strings compared by their bytes. */
static void assert_entry(const struct adp_entry *want, const struct adp_entry *got)
{
	assert_memory_equal(got->token, want->token, 16);
	assert_int_equal(got->epoch, want->epoch);
	assert_int_equal(got->type, want->type);
	assert_int_equal(got->state, want->state);
	assert_true(got->valid_from == want->valid_from);
	assert_true(got->valid_to == want->valid_to);
	assert_true(got->published_at == want->published_at);
	assert_memory_equal(got->submission_id, want->submission_id, ADP_SUBMISSION_ID_LEN);
	assert_memory_equal(got->case_digest, want->case_digest, 8);
	assert_int_equal(got->reason, want->reason);
	assert_true(got->decided_at == want->decided_at);
	assert_int_equal(got->value_len, want->value_len);
	if (want->value_len) {
		assert_non_null(got->value);
		assert_memory_equal(got->value, want->value, want->value_len);
	}
	if (!want->qualifier || !*want->qualifier) {
		assert_null(got->qualifier);
	} else {
		assert_non_null(got->qualifier);
		assert_memory_equal(got->qualifier, want->qualifier, strlen(want->qualifier));
	}
}

static void put_ok(struct adp_ledger_txn *t, const char *case_ref, const struct adp_entry *e)
{
	assert_int_equal(adp_ledger_put(t, case_ref, e), DECONF_OK);
}

static void get_ok(struct adp_ledger_txn *t, const char *case_ref, const struct adp_entry *want)
{
	struct adp_entry got;

	memset(&got, 0xcc, sizeof(got));
	assert_int_equal(adp_ledger_get(t, case_ref, want->token, want->epoch, &got), DECONF_OK);
	assert_entry(want, &got);
}

/* ------------------------------------------------------------------ open */

static void test_open_creates_dir_0700(void **state)
{
	struct fx *f = *state;
	char path[192];
	struct stat st;
	mode_t old;

	assert_int_equal(stat(f->dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0077, 0);

	/* Not a product of a friendly umask: with umask 0 it is still 0700. */
	adp_ledger_close(f->l);
	f->l = NULL;
	rm_rf(f->dir);
	old = umask(0);
	fx_open(f, MAP_DEFAULT);
	umask(old);
	assert_int_equal(stat(f->dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0077, 0);
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	struct adp_ledger *l = (struct adp_ledger *)&l;
	char path[192], err[256] = "";
	FILE *fp;
	int rc;

	/* The parent does not exist: mkdir's errno, errstr names the dir. */
	snprintf(path, sizeof(path), "%s/no/such/ledger", f->root);
	rc = adp_ledger_open(&l, path, MAP_DEFAULT, err, sizeof(err));
	assert_int_equal(rc, ENOENT);
	assert_null(l);
	assert_non_null(strstr(err, path));

	/* dir is a regular file. */
	snprintf(path, sizeof(path), "%s/file", f->root);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	err[0] = '\0';
	l = (struct adp_ledger *)&l;
	rc = adp_ledger_open(&l, path, MAP_DEFAULT, err, sizeof(err));
	assert_int_not_equal(rc, DECONF_OK);
	assert_null(l);
	assert_non_null(strstr(err, path));
}

static void test_reopen_existing(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	struct adp_entry e;
	uint8_t digest[32], got_digest[32], id[ADP_SUBMISSION_ID_LEN];
	const uint8_t *env;
	size_t env_len;

	make_entry(&e, 7);
	memset(digest, 0x5a, sizeof(digest));
	memset(id, 0x11, sizeof(id));
	t = begin(f, 0);
	put_ok(t, "CASE-1", &e);
	assert_int_equal(adp_ledger_case_put(t, "CASE-1", digest), DECONF_OK);
	assert_int_equal(adp_ledger_outbox_put(t, id, (const uint8_t *)"env", 3), DECONF_OK);
	assert_int_equal(adp_ledger_notice_put(t, (const uint8_t *)"n1", 2,
					       (const uint8_t *)"notice", 6), DECONF_OK);
	commit(f);

	fx_reopen(f, MAP_DEFAULT);
	/* And a second open of the same, now existing, directory. */
	fx_reopen(f, MAP_DEFAULT);
	t = begin(f, 1);
	get_ok(t, "CASE-1", &e);
	assert_int_equal(adp_ledger_case_get(t, "CASE-1", got_digest), DECONF_OK);
	assert_memory_equal(got_digest, digest, 32);
	assert_int_equal(adp_ledger_outbox_get(t, id, &env, &env_len), DECONF_OK);
	assert_int_equal(env_len, 3);
	assert_memory_equal(env, "env", 3);
	assert_int_equal(adp_ledger_notice_seen(t, (const uint8_t *)"n1", 2), 1);
	assert_int_equal(adp_ledger_entry_count(t), 1);
	end(f);
}

/* --------------------------------------------------------------- entries */

static void test_entry_roundtrip(void **state)
{
	struct fx *f = *state;
	static char bin[256], big[4096], qual255[256];
	struct adp_entry es[12];
	struct adp_ledger_txn *t;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(255 - i); /* 0xff first, 0x00 last */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i % 3 ? 0xff : i * 13);
	memset(qual255, 'q', 255);
	qual255[255] = '\0';

	/* Extremes of every integer field. */
	make_entry(&es[n], 1);
	es[n].epoch = UINT32_MAX;
	es[n].valid_from = INT64_MIN;
	es[n].valid_to = INT64_MAX;
	es[n].published_at = INT64_MAX;
	es[n].type = T_LAST;
	es[n].state = ADP_ENTRY_REMOVING;
	memset(es[n].token, 0xff, 16);
	memset(es[n].submission_id, 0xff, ADP_SUBMISSION_ID_LEN);
	memset(es[n].case_digest, 0xff, 8);
	n++;
	make_entry(&es[n], 2);
	es[n].epoch = 0;
	es[n].valid_from = -1;
	es[n].valid_to = 0;
	es[n].published_at = INT64_MIN;
	es[n].type = 1;
	es[n].state = ADP_ENTRY_PENDING;
	memset(es[n].token, 0, 16);
	memset(es[n].submission_id, 0, ADP_SUBMISSION_ID_LEN);
	memset(es[n].case_digest, 0, 8);
	n++;
	make_entry(&es[n], 3);
	es[n].valid_from = -1234567890123LL;
	es[n].valid_to = -5;
	n++;
	/* Values: every byte value, 4096 bytes, empty. */
	make_entry(&es[n], 4);
	es[n].value = bin;
	es[n].value_len = sizeof(bin);
	n++;
	make_entry(&es[n], 5);
	es[n].value = big;
	es[n].value_len = sizeof(big);
	es[n].qualifier = "US-CA";
	es[n].type = T_VEHICLE;
	n++;
	make_entry(&es[n], 6);
	es[n].value = "";
	es[n].value_len = 0;
	n++;
	/* Qualifiers: NULL, set, the longest (255). */
	make_entry(&es[n], 7);
	es[n].type = T_USERNAME;
	es[n].qualifier = "twitter";
	es[n].value = "@Bob_99";
	es[n].value_len = 7;
	n++;
	make_entry(&es[n], 8);
	es[n].type = T_USERNAME;
	es[n].qualifier = qual255;
	es[n].value = bin;
	es[n].value_len = 100;
	n++;
	make_entry(&es[n], 9);
	es[n].type = T_PHONE;
	es[n].qualifier = NULL;
	es[n].value = "(555) 010-9999";
	es[n].value_len = 14;
	n++;
	for (uint32_t s = 0; s < 3; s++) { /* every state */
		make_entry(&es[n], 20 + s);
		es[n].state = (uint8_t)(ADP_ENTRY_PENDING + s);
		n++;
	}
	assert_true(n <= N_OF(es));

	t = begin(f, 0);
	for (size_t i = 0; i < n; i++)
		put_ok(t, "CASE-RT", &es[i]);
	/* Read back inside the writing transaction... */
	for (size_t i = 0; i < n; i++)
		get_ok(t, "CASE-RT", &es[i]);
	assert_int_equal(adp_ledger_entry_count(t), n);
	commit(f);
	/* ...after commit, and after reopening. */
	t = begin(f, 1);
	for (size_t i = 0; i < n; i++)
		get_ok(t, "CASE-RT", &es[i]);
	end(f);
	fx_reopen(f, MAP_DEFAULT);
	t = begin(f, 1);
	for (size_t i = 0; i < n; i++)
		get_ok(t, "CASE-RT", &es[i]);
	end(f);
}

static void test_qualifier_too_long(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t = begin(f, 0);
	char q[257];
	struct adp_entry e;

	memset(q, 'q', 256);
	q[256] = '\0';
	make_entry(&e, 1);
	e.qualifier = q;
	assert_int_equal(adp_ledger_put(t, "C", &e), DECONF_E_INVAL);
	assert_int_equal(adp_ledger_entry_count(t), 0);
	end(f);
}

/*
 * A qualifier read back is a C string: struct adp_entry has no length for
 * it, and callers (submit.c) pass an entry they read straight back to
 * adp_ledger_put(), which takes strlen(qualifier).
 */
static void test_qualifier_read_back_is_a_string(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	struct adp_entry e, got;

	make_entry(&e, 3);
	e.type = T_USERNAME;
	e.qualifier = "twitter";
	e.value = "bob_99";
	e.value_len = 6;
	t = begin(f, 0);
	put_ok(t, "C", &e);
	commit(f);

	t = begin(f, 1);
	assert_int_equal(adp_ledger_get(t, "C", e.token, e.epoch, &got), DECONF_OK);
	assert_non_null(got.qualifier);
	/* Reads no further than the stored value: "twitter" then "bob_99". */
	assert_int_equal(strnlen(got.qualifier, 8), 7);
	assert_string_equal(got.qualifier, "twitter");
	end(f);
}

/* submit.c's and confirm.c's pattern: get, change the state, put the same entry back. */
static void test_get_modify_put(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	struct adp_entry e, got;

	make_entry(&e, 4);
	e.type = T_VEHICLE;
	e.qualifier = "US-CA";
	e.value = "7ABC123";
	e.value_len = 7;
	e.state = ADP_ENTRY_PENDING;
	t = begin(f, 0);
	put_ok(t, "C", &e);
	commit(f);

	t = begin(f, 0);
	assert_int_equal(adp_ledger_get(t, "C", e.token, e.epoch, &got), DECONF_OK);
	/* put() takes strlen(qualifier): fail here, not by reading past the
	 * end of the map, if the qualifier read back is not terminated. */
	assert_int_equal(strnlen(got.qualifier, 6), 5);
	got.state = ADP_ENTRY_SENT;
	got.published_at = 1764300000123LL;
	put_ok(t, "C", &got);
	commit(f);

	e.state = ADP_ENTRY_SENT;
	e.published_at = 1764300000123LL;
	t = begin(f, 1);
	get_ok(t, "C", &e);
	assert_int_equal(adp_ledger_get(t, "C", e.token, e.epoch, &got), DECONF_OK);
	assert_string_equal(got.qualifier, "US-CA");
	end(f);
}

/*
 * The same in ONE write transaction, the entry written earlier in it: the
 * borrowed value then lives on a page the put itself rewrites. The header
 * says what get() returns is valid until the transaction ends, so putting
 * it back must work, also when the record changes size (here: a qualifier
 * added), which makes LMDB move the records of that page.
 */
static void test_get_modify_put_same_txn(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	struct adp_entry e, other, got;
	char value[300], value2[300];

	memset(value, 'v', sizeof(value));
	memset(value2, 'w', sizeof(value2));
	make_entry(&e, 5);
	e.value = value;
	e.value_len = sizeof(value);
	make_entry(&other, 6); /* a neighbour on the same page */
	other.value = value2;
	other.value_len = sizeof(value2);
	t = begin(f, 0);
	put_ok(t, "C", &e);
	put_ok(t, "C", &other);

	/* Same size: state changes only. */
	assert_int_equal(adp_ledger_get(t, "C", e.token, e.epoch, &got), DECONF_OK);
	got.state = ADP_ENTRY_SENT;
	put_ok(t, "C", &got);
	e.state = ADP_ENTRY_SENT;
	get_ok(t, "C", &e);

	/* Another size: a qualifier added. */
	assert_int_equal(adp_ledger_get(t, "C", e.token, e.epoch, &got), DECONF_OK);
	got.qualifier = "telegram";
	put_ok(t, "C", &got);
	e.qualifier = "telegram";
	get_ok(t, "C", &e);
	get_ok(t, "C", &other);
	commit(f);
	t = begin(f, 1);
	get_ok(t, "C", &e);
	get_ok(t, "C", &other);
	end(f);
}

static void test_get_missing(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t = begin(f, 0);
	struct adp_entry e, got;
	uint8_t other[16];

	make_entry(&e, 1);
	assert_int_equal(adp_ledger_get(t, "A", e.token, e.epoch, &got), DECONF_E_UNKNOWN);
	put_ok(t, "A", &e);
	memcpy(other, e.token, 16);
	other[15] ^= 1;
	assert_int_equal(adp_ledger_get(t, "A", other, e.epoch, &got), DECONF_E_UNKNOWN);
	assert_int_equal(adp_ledger_get(t, "A", e.token, e.epoch + 1, &got), DECONF_E_UNKNOWN);
	assert_int_equal(adp_ledger_get(t, "B", e.token, e.epoch, &got), DECONF_E_UNKNOWN);
	assert_int_equal(adp_ledger_get(t, "AB", e.token, e.epoch, &got), DECONF_E_UNKNOWN);
	assert_int_equal(adp_ledger_get(t, "", e.token, e.epoch, &got), DECONF_E_INVAL); /* not a case ref */
	get_ok(t, "A", &e);
	end(f);
}

static void test_same_token_cases_epochs(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t = begin(f, 0);
	struct adp_entry e[4];
	const char *refs[4] = { "CASE-1", "CASE-1", "CASE-2", "CASE-2" };
	const char *vals[4] = { "c1e1", "c1e2", "c2e1", "c2e2" };

	for (int i = 0; i < 4; i++) {
		make_entry(&e[i], 9); /* same token in all four */
		e[i].epoch = 1 + (uint32_t)(i % 2);
		e[i].value = vals[i];
		e[i].value_len = 4;
		e[i].state = (uint8_t)(ADP_ENTRY_PENDING + i % 3);
		put_ok(t, refs[i], &e[i]);
	}
	assert_int_equal(adp_ledger_entry_count(t), 4);
	for (int i = 0; i < 4; i++)
		get_ok(t, refs[i], &e[i]);

	/* Overwriting one key leaves the other three alone. */
	e[1].value = "changed";
	e[1].value_len = 7;
	e[1].qualifier = "x";
	put_ok(t, refs[1], &e[1]);
	assert_int_equal(adp_ledger_entry_count(t), 4);
	for (int i = 0; i < 4; i++)
		get_ok(t, refs[i], &e[i]);
	commit(f);
}

static void test_del(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t = begin(f, 0);
	struct adp_entry a, b;
	int rc;

	make_entry(&a, 1);
	make_entry(&b, 1);
	b.epoch = a.epoch + 1;
	put_ok(t, "C", &a);
	put_ok(t, "C", &b);
	put_ok(t, "D", &a);
	commit(f);

	t = begin(f, 0);
	assert_int_equal(adp_ledger_del(t, "C", a.token, a.epoch), DECONF_OK);
	assert_int_equal(adp_ledger_get(t, "C", a.token, a.epoch, &b), DECONF_E_UNKNOWN);
	make_entry(&b, 1);
	b.epoch = a.epoch + 1;
	get_ok(t, "C", &b);
	get_ok(t, "D", &a);
	assert_int_equal(adp_ledger_entry_count(t), 2);
	/* Deleting what is not there changes nothing; the header does not say
	 * whether that is 0 or DECONF_E_UNKNOWN, so either is accepted. */
	rc = adp_ledger_del(t, "C", a.token, a.epoch);
	assert_true(rc == DECONF_OK || rc == DECONF_E_UNKNOWN);
	assert_int_equal(adp_ledger_entry_count(t), 2);
	commit(f);

	t = begin(f, 1);
	assert_int_equal(adp_ledger_get(t, "C", a.token, a.epoch, &b), DECONF_E_UNKNOWN);
	assert_int_equal(adp_ledger_entry_count(t), 2);
	end(f);
}

/* Two case refs longer than ADP_LEDGER_CASE_MAX, equal in their first
 * ADP_LEDGER_CASE_MAX bytes, must not share entries: either the ledger
 * refuses such refs or keeps them apart. */
static void test_long_case_refs_do_not_collide(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t = begin(f, 0);
	char r1[ADP_LEDGER_CASE_MAX + 40], r2[ADP_LEDGER_CASE_MAX + 40];
	struct adp_entry e1, e2, got;
	int rc1, rc2;

	memset(r1, 'R', sizeof(r1) - 1);
	r1[sizeof(r1) - 1] = '\0';
	memcpy(r2, r1, sizeof(r2));
	r2[sizeof(r2) - 2] = '2';
	make_entry(&e1, 1);
	e1.value = "one";
	e1.value_len = 3;
	e2 = e1;
	e2.value = "two";
	rc1 = adp_ledger_put(t, r1, &e1);
	rc2 = adp_ledger_put(t, r2, &e2);
	if (rc1 == DECONF_OK && rc2 == DECONF_OK) {
		assert_int_equal(adp_ledger_get(t, r1, e1.token, e1.epoch, &got), DECONF_OK);
		assert_int_equal(got.value_len, 3);
		assert_memory_equal(got.value, "one", 3);
		assert_int_equal(adp_ledger_entry_count(t), 2);
	} else {
		assert_int_equal(rc1, DECONF_E_INVAL);
		assert_int_equal(rc2, DECONF_E_INVAL);
	}
	end(f);
}

/* --------------------------------------------------------------- foreach */

/* Case refs that are prefixes of each other, and of their tokens. */
static const char *const prefix_cases[] = {
	"A", "AB", "A\x01", "A\x01\x02", "AA", "B", "ABA", "\x01",
};

#define FE_MAX 64

struct fe_seen {
	int n;
	int stop_at;  /* return stop_value on this call (1-based), 0: never */
	int stop_value;
	char refs[FE_MAX][ADP_LEDGER_CASE_MAX + 1];
	struct adp_entry e[FE_MAX];
	char values[FE_MAX][32];
};

static int fe_collect(void *opaque, const char *case_ref, const struct adp_entry *e)
{
	struct fe_seen *s = opaque;

	if (s->n >= FE_MAX)
		return -999;
	snprintf(s->refs[s->n], sizeof(s->refs[s->n]), "%s", case_ref);
	s->e[s->n] = *e;
	/* e->value is only valid during the walk: keep a copy. */
	if (e->value_len < sizeof(s->values[0]))
		memcpy(s->values[s->n], e->value, e->value_len);
	s->e[s->n].value = s->values[s->n];
	s->e[s->n].qualifier = NULL;
	s->n++;
	return s->stop_at && s->n == s->stop_at ? s->stop_value : 0;
}

/* Case i gets i+1 entries; entry j of case i has value "<i>:<j>" and, to
 * catch a prefix match that ignores the length byte, a token starting with
 * the byte that would extend the ref ('B', 0x01, 'A'). */
static void fill_prefix_cases(struct fx *f)
{
	struct adp_ledger_txn *t = begin(f, 0);

	for (size_t i = 0; i < N_OF(prefix_cases); i++) {
		for (size_t j = 0; j <= i; j++) {
			struct adp_entry e;
			char v[32];

			make_entry(&e, (uint32_t)(i * 16 + j));
			e.token[0] = (uint8_t)"B\x01" "A"[j % 3];
			e.token[1] = (uint8_t)j;
			snprintf(v, sizeof(v), "%zu:%zu", i, j);
			e.value = v;
			e.value_len = strlen(v);
			put_ok(t, prefix_cases[i], &e);
		}
	}
	commit(f);
}

static void test_foreach_case(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	static struct fe_seen s;

	fill_prefix_cases(f);
	t = begin(f, 1);
	for (size_t i = 0; i < N_OF(prefix_cases); i++) {
		char want[8];

		memset(&s, 0, sizeof(s));
		assert_int_equal(adp_ledger_foreach(t, prefix_cases[i], fe_collect, &s), DECONF_OK);
		assert_int_equal(s.n, (int)i + 1);
		snprintf(want, sizeof(want), "%zu:", i);
		for (int k = 0; k < s.n; k++) {
			assert_string_equal(s.refs[k], prefix_cases[i]);
			assert_true(s.e[k].value_len > strlen(want));
			assert_memory_equal(s.e[k].value, want, strlen(want));
			/* key order: token, then epoch */
			if (k)
				assert_true(memcmp(s.e[k - 1].token, s.e[k].token, 16) < 0 ||
					    (!memcmp(s.e[k - 1].token, s.e[k].token, 16) &&
					     s.e[k - 1].epoch < s.e[k].epoch));
		}
	}
	/* A case with no entries, and one that sorts after every other. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(adp_ledger_foreach(t, "AC", fe_collect, &s), DECONF_OK);
	assert_int_equal(s.n, 0);
	assert_int_equal(adp_ledger_foreach(t, "zzzz", fe_collect, &s), DECONF_OK);
	assert_int_equal(s.n, 0);
	end(f);
}

static void test_foreach_all(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	static struct fe_seen s;
	int per_case[N_OF(prefix_cases)] = { 0 };
	int total = 0;

	/* Empty ledger: no call. */
	t = begin(f, 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(adp_ledger_foreach(t, NULL, fe_collect, &s), DECONF_OK);
	assert_int_equal(s.n, 0);
	end(f);

	fill_prefix_cases(f);
	t = begin(f, 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(adp_ledger_foreach(t, NULL, fe_collect, &s), DECONF_OK);
	for (size_t i = 0; i < N_OF(prefix_cases); i++)
		total += (int)i + 1;
	assert_int_equal(s.n, total);
	assert_int_equal(adp_ledger_entry_count(t), (size_t)total);
	for (int k = 0; k < s.n; k++) {
		size_t i;

		for (i = 0; i < N_OF(prefix_cases); i++)
			if (!strcmp(s.refs[k], prefix_cases[i]))
				break;
		assert_true(i < N_OF(prefix_cases));
		/* the entry's value names its case */
		assert_int_equal(atoi(s.values[k]), (int)i);
		per_case[i]++;
	}
	for (size_t i = 0; i < N_OF(prefix_cases); i++)
		assert_int_equal(per_case[i], (int)i + 1);
	end(f);
}

static void test_foreach_stop(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	static struct fe_seen s;
	/* ENOMEM: a positive errno the ledger itself also uses. */
	static const int stops[] = { 1, 42, -1, DECONF_E_MALFORMED, 1000000, ENOSPC, ENOMEM };

	fill_prefix_cases(f);
	t = begin(f, 1);
	for (size_t i = 0; i < N_OF(stops); i++) {
		memset(&s, 0, sizeof(s));
		s.stop_at = 2;
		s.stop_value = stops[i];
		/* "ABA" has 7 entries, the walk over all has 36 */
		assert_int_equal(adp_ledger_foreach(t, "ABA", fe_collect, &s), stops[i]);
		assert_int_equal(s.n, 2);
		memset(&s, 0, sizeof(s));
		s.stop_at = 3;
		s.stop_value = stops[i];
		assert_int_equal(adp_ledger_foreach(t, NULL, fe_collect, &s), stops[i]);
		assert_int_equal(s.n, 3);
	}
	end(f);
}

/* ------------------------------------------------------------ txn rules */

static void test_abort_discards(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	struct adp_entry e, got;
	uint8_t digest[32] = { 1 }, id[ADP_SUBMISSION_ID_LEN] = { 2 };
	const uint8_t *env;
	size_t len;

	make_entry(&e, 1);
	t = begin(f, 0);
	put_ok(t, "C", &e);
	assert_int_equal(adp_ledger_case_put(t, "C", digest), DECONF_OK);
	assert_int_equal(adp_ledger_outbox_put(t, id, (const uint8_t *)"x", 1), DECONF_OK);
	assert_int_equal(adp_ledger_notice_put(t, (const uint8_t *)"n", 1,
					       (const uint8_t *)"x", 1), DECONF_OK);
	end(f);
	adp_ledger_abort(NULL); /* NULL-safe */

	t = begin(f, 1);
	assert_int_equal(adp_ledger_get(t, "C", e.token, e.epoch, &got), DECONF_E_UNKNOWN);
	assert_int_equal(adp_ledger_case_get(t, "C", digest), DECONF_E_UNKNOWN);
	assert_int_equal(adp_ledger_outbox_get(t, id, &env, &len), DECONF_E_UNKNOWN);
	assert_int_equal(adp_ledger_notice_seen(t, (const uint8_t *)"n", 1), 0);
	assert_int_equal(adp_ledger_entry_count(t), 0);
	assert_int_equal(adp_ledger_outbox_count(t), 0);
	end(f);

	/* A read-only transaction cannot write. */
	t = begin(f, 1);
	assert_int_not_equal(adp_ledger_put(t, "C", &e), DECONF_OK);
	end(f);
}

static void test_commit_persists(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	struct adp_entry e[3];

	for (uint32_t i = 0; i < 3; i++) {
		make_entry(&e[i], i);
		t = begin(f, 0);
		put_ok(t, "C", &e[i]);
		commit(f);
	}
	/* An aborted change on top of committed data leaves it as it was. */
	t = begin(f, 0);
	assert_int_equal(adp_ledger_del(t, "C", e[0].token, e[0].epoch), DECONF_OK);
	end(f);

	fx_reopen(f, MAP_DEFAULT);
	t = begin(f, 1);
	for (int i = 0; i < 3; i++)
		get_ok(t, "C", &e[i]);
	assert_int_equal(adp_ledger_entry_count(t), 3);
	end(f);
}

/* ----------------------------------------------------------------- outbox */

struct ob_seen {
	int n, stop_at, stop_value;
	uint8_t ids[8][ADP_SUBMISSION_ID_LEN];
	size_t lens[8];
	uint8_t first[8];
};

static int ob_collect(void *opaque, const uint8_t id[ADP_SUBMISSION_ID_LEN],
		      const uint8_t *envelope, size_t len)
{
	struct ob_seen *s = opaque;

	if (s->n >= 8)
		return -999;
	memcpy(s->ids[s->n], id, ADP_SUBMISSION_ID_LEN);
	s->lens[s->n] = len;
	s->first[s->n] = len ? envelope[0] : 0;
	s->n++;
	return s->stop_at && s->n == s->stop_at ? s->stop_value : 0;
}

static void test_outbox(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	uint8_t ids[3][ADP_SUBMISSION_ID_LEN];
	static uint8_t envs[3][70000];
	size_t lens[3] = { 1, 300, sizeof(envs[2]) };
	const uint8_t *env;
	size_t len;
	struct ob_seen s;

	for (int i = 0; i < 3; i++) {
		memset(ids[i], 0x10 * (3 - i), ADP_SUBMISSION_ID_LEN); /* put in reverse order */
		memset(envs[i], 0xe0 + i, lens[i]);
		envs[i][lens[i] - 1] = 0xff;
	}
	t = begin(f, 0);
	assert_int_equal(adp_ledger_outbox_count(t), 0);
	assert_int_equal(adp_ledger_outbox_get(t, ids[0], &env, &len), DECONF_E_UNKNOWN);
	for (int i = 0; i < 3; i++)
		assert_int_equal(adp_ledger_outbox_put(t, ids[i], envs[i], lens[i]), DECONF_OK);
	assert_int_equal(adp_ledger_outbox_count(t), 3);
	commit(f);

	t = begin(f, 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(adp_ledger_outbox_get(t, ids[i], &env, &len), DECONF_OK);
		assert_int_equal(len, lens[i]);
		assert_memory_equal(env, envs[i], lens[i]);
	}
	memset(&s, 0, sizeof(s));
	assert_int_equal(adp_ledger_outbox_foreach(t, ob_collect, &s), DECONF_OK);
	assert_int_equal(s.n, 3);
	for (int k = 0; k < 3; k++) { /* id order: ids[2] < ids[1] < ids[0] */
		assert_memory_equal(s.ids[k], ids[2 - k], ADP_SUBMISSION_ID_LEN);
		assert_int_equal(s.lens[k], lens[2 - k]);
		assert_int_equal(s.first[k], envs[2 - k][0]);
	}
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	s.stop_value = 42;
	assert_int_equal(adp_ledger_outbox_foreach(t, ob_collect, &s), 42);
	assert_int_equal(s.n, 2);
	end(f);

	t = begin(f, 0);
	/* Overwrite keeps the count. */
	assert_int_equal(adp_ledger_outbox_put(t, ids[1], (const uint8_t *)"new", 3), DECONF_OK);
	assert_int_equal(adp_ledger_outbox_count(t), 3);
	assert_int_equal(adp_ledger_outbox_del(t, ids[0]), DECONF_OK);
	assert_int_equal(adp_ledger_outbox_del(t, ids[0]), DECONF_OK); /* gone: still 0 */
	assert_int_equal(adp_ledger_outbox_count(t), 2);
	commit(f);

	t = begin(f, 1);
	assert_int_equal(adp_ledger_outbox_get(t, ids[0], &env, &len), DECONF_E_UNKNOWN);
	assert_int_equal(adp_ledger_outbox_get(t, ids[1], &env, &len), DECONF_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(env, "new", 3);
	memset(&s, 0, sizeof(s));
	assert_int_equal(adp_ledger_outbox_foreach(t, ob_collect, &s), DECONF_OK);
	assert_int_equal(s.n, 2);
	assert_int_equal(adp_ledger_outbox_count(t), 2);
	end(f);
}

/* ---------------------------------------------------------------- notices */

struct nt_seen {
	int n, stop_at, stop_value;
	size_t total;
};

static int nt_collect(void *opaque, const uint8_t *envelope, size_t len)
{
	struct nt_seen *s = opaque;

	(void)envelope;
	s->n++;
	s->total += len;
	return s->stop_at && s->n == s->stop_at ? s->stop_value : 0;
}

static void test_notices(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	uint8_t id511[511], id512[512];
	struct nt_seen s;

	memset(id511, 0xff, sizeof(id511));
	memset(id512, 0xff, sizeof(id512));
	t = begin(f, 0);
	assert_int_equal(adp_ledger_notice_seen(t, (const uint8_t *)"n-1", 3), 0);
	assert_int_equal(adp_ledger_notice_put(t, (const uint8_t *)"n-1", 3,
					       (const uint8_t *)"env-1", 5), DECONF_OK);
	assert_int_equal(adp_ledger_notice_seen(t, (const uint8_t *)"n-1", 3), 1);
	/* A prefix or an extension of a seen id is another id. */
	assert_int_equal(adp_ledger_notice_seen(t, (const uint8_t *)"n-", 2), 0);
	assert_int_equal(adp_ledger_notice_seen(t, (const uint8_t *)"n-12", 4), 0);
	assert_int_equal(adp_ledger_notice_put(t, (const uint8_t *)"n-2", 3,
					       (const uint8_t *)"env-22", 6), DECONF_OK);
	/* Storing the same id again does not add a notice. */
	assert_int_equal(adp_ledger_notice_put(t, (const uint8_t *)"n-2", 3,
					       (const uint8_t *)"env-22", 6), DECONF_OK);
	/* The longest id LMDB keys allow, and the first too long. */
	assert_int_equal(adp_ledger_notice_put(t, id511, sizeof(id511),
					       (const uint8_t *)"e", 1), DECONF_OK);
	assert_int_equal(adp_ledger_notice_put(t, id512, sizeof(id512),
					       (const uint8_t *)"e", 1), DECONF_E_INVAL);
	assert_int_equal(adp_ledger_notice_put(t, id512, 0, (const uint8_t *)"e", 1),
			 DECONF_E_INVAL);
	commit(f);

	t = begin(f, 1);
	assert_int_equal(adp_ledger_notice_seen(t, (const uint8_t *)"n-1", 3), 1);
	assert_int_equal(adp_ledger_notice_seen(t, (const uint8_t *)"n-2", 3), 1);
	assert_int_equal(adp_ledger_notice_seen(t, (const uint8_t *)"n-3", 3), 0);
	assert_int_equal(adp_ledger_notice_seen(t, id511, sizeof(id511)), 1);
	assert_int_equal(adp_ledger_notice_seen(t, id512, sizeof(id512)), 0);
	assert_int_equal(adp_ledger_notice_seen(t, id512, 0), 0);
	assert_int_equal(adp_ledger_notice_seen(t, (const uint8_t *)"n-1", 0), 0);
	assert_int_equal(adp_ledger_notice_seen(t, id512, SIZE_MAX), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(adp_ledger_notice_foreach(t, nt_collect, &s), DECONF_OK);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.total, 5 + 6 + 1);
	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	s.stop_value = -42;
	assert_int_equal(adp_ledger_notice_foreach(t, nt_collect, &s), -42);
	assert_int_equal(s.n, 1);
	end(f);
}

/* The stored notice read back, and the acknowledgments' records. */
static void test_acks(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	const uint8_t *env;
	size_t env_len;
	uint8_t id[16], other[16];
	struct adp_ack a = { .outcomes = 1u << 2, .last = 3, .state = ADP_ACK_SENT,
			     .at = INT64_C(1796190419618) },
		       b;

	memset(id, 0x11, sizeof(id));
	memset(other, 0x22, sizeof(other));
	memset(a.submission_id, 0x5a, sizeof(a.submission_id));
	t = begin(f, 0);
	assert_int_equal(adp_ledger_notice_get(t, id, 16, &env, &env_len), DECONF_E_UNKNOWN);
	assert_int_equal(adp_ledger_notice_put(t, id, 16, (const uint8_t *)"env-x", 5), DECONF_OK);
	assert_int_equal(adp_ledger_notice_get(t, id, 16, &env, &env_len), DECONF_OK);
	assert_int_equal(env_len, 5);
	assert_memory_equal(env, "env-x", 5);
	assert_int_equal(adp_ledger_notice_get(t, id, 0, &env, &env_len), DECONF_E_UNKNOWN);
	assert_int_equal(adp_ledger_ack_get(t, id, &b), DECONF_E_UNKNOWN);
	assert_int_equal(adp_ledger_ack_put(t, id, &a), DECONF_OK);
	commit(f);

	t = begin(f, 1);
	assert_int_equal(adp_ledger_ack_get(t, id, &b), DECONF_OK);
	assert_int_equal(b.outcomes, a.outcomes);
	assert_int_equal(b.last, 3);
	assert_int_equal(b.state, ADP_ACK_SENT);
	assert_true(b.at == a.at);
	assert_memory_equal(b.submission_id, a.submission_id, 16);
	assert_int_equal(adp_ledger_ack_get(t, other, &b), DECONF_E_UNKNOWN);
	end(f);
}

/* ------------------------------------------------------------------- meta */

static void test_meta(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	static const char *const names[] = { "o", "off", "offset", "offset.0", "offset.10" };
	static const int64_t vals[] = { INT64_MIN, -1, 0, 1, INT64_MAX };
	int64_t v = 12345;

	t = begin(f, 0);
	assert_int_equal(adp_ledger_meta_get(t, "offset", &v), DECONF_E_UNKNOWN);
	for (size_t i = 0; i < N_OF(names); i++)
		assert_int_equal(adp_ledger_meta_put(t, names[i], vals[i]), DECONF_OK);
	for (size_t i = 0; i < N_OF(names); i++) {
		assert_int_equal(adp_ledger_meta_get(t, names[i], &v), DECONF_OK);
		assert_true(v == vals[i]);
	}
	assert_int_equal(adp_ledger_meta_get(t, "offset.1", &v), DECONF_E_UNKNOWN);
	commit(f);

	/* An offset stored with the notices it covers: both or neither. */
	t = begin(f, 0);
	assert_int_equal(adp_ledger_notice_put(t, (const uint8_t *)"n-9", 3,
					       (const uint8_t *)"e", 1), DECONF_OK);
	assert_int_equal(adp_ledger_meta_put(t, "offset", 999), DECONF_OK);
	end(f);
	t = begin(f, 1);
	assert_int_equal(adp_ledger_notice_seen(t, (const uint8_t *)"n-9", 3), 0);
	assert_int_equal(adp_ledger_meta_get(t, "offset", &v), DECONF_OK);
	assert_true(v == 0);
	end(f);
	t = begin(f, 0);
	assert_int_equal(adp_ledger_notice_put(t, (const uint8_t *)"n-9", 3,
					       (const uint8_t *)"e", 1), DECONF_OK);
	assert_int_equal(adp_ledger_meta_put(t, "offset", 999), DECONF_OK);
	commit(f);

	fx_reopen(f, MAP_DEFAULT);
	t = begin(f, 1);
	assert_int_equal(adp_ledger_notice_seen(t, (const uint8_t *)"n-9", 3), 1);
	assert_int_equal(adp_ledger_meta_get(t, "offset", &v), DECONF_OK);
	assert_true(v == 999);
	assert_int_equal(adp_ledger_meta_get(t, "o", &v), DECONF_OK);
	assert_true(v == INT64_MIN);
	assert_int_equal(adp_ledger_meta_get(t, "offset.10", &v), DECONF_OK);
	assert_true(v == INT64_MAX);
	/* Meta records are not entries. */
	assert_int_equal(adp_ledger_entry_count(t), 0);
	end(f);
}

/* ------------------------------------------------------------------ cases */

static void test_cases(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	uint8_t d1[32], d2[32], got[32];

	memset(d1, 0xa1, sizeof(d1));
	memset(d2, 0xb2, sizeof(d2));
	d2[31] = 0xff;
	t = begin(f, 0);
	assert_int_equal(adp_ledger_case_get(t, "A", got), DECONF_E_UNKNOWN);
	assert_int_equal(adp_ledger_case_put(t, "A", d1), DECONF_OK);
	assert_int_equal(adp_ledger_case_put(t, "AB", d2), DECONF_OK);
	assert_int_equal(adp_ledger_case_get(t, "A", got), DECONF_OK);
	assert_memory_equal(got, d1, 32);
	assert_int_equal(adp_ledger_case_get(t, "AB", got), DECONF_OK);
	assert_memory_equal(got, d2, 32);
	assert_int_equal(adp_ledger_case_get(t, "ABC", got), DECONF_E_UNKNOWN);
	commit(f);

	t = begin(f, 0);
	assert_int_equal(adp_ledger_case_put(t, "A", d2), DECONF_OK); /* overwrite */
	assert_int_equal(adp_ledger_case_get(t, "A", got), DECONF_OK);
	assert_memory_equal(got, d2, 32);
	assert_int_equal(adp_ledger_case_del(t, "AB"), DECONF_OK);
	assert_int_equal(adp_ledger_case_del(t, "AB"), DECONF_OK); /* absent: 0 */
	assert_int_equal(adp_ledger_case_get(t, "AB", got), DECONF_E_UNKNOWN);
	commit(f);

	fx_reopen(f, MAP_DEFAULT);
	t = begin(f, 1);
	assert_int_equal(adp_ledger_case_get(t, "A", got), DECONF_OK);
	assert_memory_equal(got, d2, 32);
	assert_int_equal(adp_ledger_case_get(t, "AB", got), DECONF_E_UNKNOWN);
	/* Case digests are not entries. */
	assert_int_equal(adp_ledger_entry_count(t), 0);
	end(f);
}

static void test_entry_count(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	struct adp_entry e;

	t = begin(f, 1);
	assert_int_equal(adp_ledger_entry_count(t), 0);
	end(f);
	t = begin(f, 0);
	for (uint32_t i = 0; i < 100; i++) {
		make_entry(&e, i);
		put_ok(t, i % 2 ? "odd" : "even", &e);
	}
	assert_int_equal(adp_ledger_entry_count(t), 100);
	make_entry(&e, 10);
	put_ok(t, "even", &e); /* overwrite */
	assert_int_equal(adp_ledger_entry_count(t), 100);
	assert_int_equal(adp_ledger_del(t, "even", e.token, e.epoch), DECONF_OK);
	assert_int_equal(adp_ledger_entry_count(t), 99);
	/* Outbox records and notices are not entries. */
	assert_int_equal(adp_ledger_outbox_put(t, e.submission_id, (const uint8_t *)"x", 1),
			 DECONF_OK);
	assert_int_equal(adp_ledger_notice_put(t, (const uint8_t *)"n", 1,
					       (const uint8_t *)"x", 1), DECONF_OK);
	assert_int_equal(adp_ledger_entry_count(t), 99);
	commit(f);
	t = begin(f, 1);
	assert_int_equal(adp_ledger_entry_count(t), 99);
	end(f);
}

/* --------------------------------------------------------------- map full */

#define FULL_BATCH 20

static void full_entry(struct adp_entry *e, uint32_t i, char *value, size_t len)
{
	make_entry(e, i);
	memcpy(e->token, &i, sizeof(i)); /* unique per i */
	snprintf(value, len, "%08" PRIu32, i);
	memset(value + 8, (int)('a' + i % 26), len - 8);
	e->value = value;
	e->value_len = len;
}

static void test_map_full(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	struct adp_entry e;
	char value[900];
	uint32_t committed = 0, i;
	int rc = 0;

	snprintf(f->dir, sizeof(f->dir), "%s/small", f->root);
	fx_reopen(f, (size_t)1 << 20);

	/* Write batches until the map is full (at most ~8 MiB of values, so a
	 * map that never fills ends the test instead of the disk). */
	while (committed < 10000) {
		t = begin(f, 0);
		for (i = committed; i < committed + FULL_BATCH; i++) {
			full_entry(&e, i, value, sizeof(value));
			if ((rc = adp_ledger_put(t, "FULL", &e)))
				break;
		}
		if (rc) {
			end(f);
			break;
		}
		f->t = NULL;
		if ((rc = adp_ledger_commit(t)))
			break;
		committed += FULL_BATCH;
	}
	print_message("map full after %" PRIu32 " entries: %d (%s)\n", committed, rc,
		      strerror(rc > 0 ? rc : 0));
	assert_int_equal(rc, ENOSPC);
	assert_true(committed > 0);

	/* The ledger still opens, and holds exactly what was committed. */
	fx_reopen(f, (size_t)1 << 20);
	t = begin(f, 1);
	assert_int_equal(adp_ledger_entry_count(t), committed);
	for (i = 0; i < committed; i++) {
		full_entry(&e, i, value, sizeof(value));
		get_ok(t, "FULL", &e);
	}
	full_entry(&e, committed, value, sizeof(value));
	assert_int_equal(adp_ledger_get(t, "FULL", e.token, e.epoch, &e), DECONF_E_UNKNOWN);
	end(f);

	/* Deleting frees room for more, and a bigger map takes more too. */
	t = begin(f, 0);
	for (i = 0; i < FULL_BATCH; i++) {
		full_entry(&e, i, value, sizeof(value));
		assert_int_equal(adp_ledger_del(t, "FULL", e.token, e.epoch), DECONF_OK);
	}
	commit(f);
	t = begin(f, 0);
	full_entry(&e, 0, value, sizeof(value));
	put_ok(t, "FULL", &e);
	commit(f);
	fx_reopen(f, (size_t)8 << 20);
	t = begin(f, 0);
	for (i = committed; i < committed + 2 * FULL_BATCH; i++) {
		full_entry(&e, i, value, sizeof(value));
		put_ok(t, "FULL", &e);
	}
	commit(f);
	t = begin(f, 1);
	assert_int_equal(adp_ledger_entry_count(t), committed - FULL_BATCH + 1 + 2 * FULL_BATCH);
	end(f);
}


/* ------------------------------------------------- states and migration */

/* Every state an entry goes through, with what a receipt leaves in it. */
static void test_entry_states(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	static const uint8_t states[] = { ADP_ENTRY_PENDING,   ADP_ENTRY_SENT,
					  ADP_ENTRY_REMOVING,  ADP_ENTRY_QUERY,
					  ADP_ENTRY_CONFIRMED, ADP_ENTRY_REFUSED,
					  ADP_ENTRY_REMOVE_REFUSED };
	struct adp_entry e[N_OF(states)];

	for (size_t i = 0; i < N_OF(states); i++)
		assert_true(ADP_ENTRY_STATE_VALID(states[i]));
	assert_false(ADP_ENTRY_STATE_VALID(0));
	assert_false(ADP_ENTRY_STATE_VALID(ADP_ENTRY_REMOVE_REFUSED + 1));
	t = begin(f, 0);
	for (size_t i = 0; i < N_OF(states); i++) {
		make_entry(&e[i], (uint32_t)i + 40);
		e[i].state = states[i];
		e[i].reason = states[i] == ADP_ENTRY_REFUSED || states[i] == ADP_ENTRY_REMOVE_REFUSED
				      ? DECONF__V1__REJECT_REASON__REJECT_REASON_SUSPENDED_AGENCY
				      : 0;
		e[i].decided_at = states[i] >= ADP_ENTRY_CONFIRMED ? INT64_MAX - (int64_t)i : 0;
		put_ok(t, "STATE-1", &e[i]);
	}
	commit(f);
	fx_reopen(f, MAP_DEFAULT);
	t = begin(f, 1);
	for (size_t i = 0; i < N_OF(states); i++)
		get_ok(t, "STATE-1", &e[i]);
	end(f);
}

/* The v2 value layout (ledgers from before receipts), written by hand. */
static size_t v2_value(uint8_t *p, const struct adp_entry *e)
{
	size_t qlen = e->qualifier ? strlen(e->qualifier) : 0, n = 60;

	memset(p, 0, 60);
	p[0] = 2;
	p[1] = (uint8_t)e->type;
	p[2] = e->state;
	p[3] = (uint8_t)qlen;
	for (int i = 0; i < 4; i++)
		p[4 + i] = (uint8_t)(e->epoch >> (24 - 8 * i));
	for (int i = 0; i < 8; i++) {
		p[8 + i] = (uint8_t)((uint64_t)e->valid_from >> (56 - 8 * i));
		p[16 + i] = (uint8_t)((uint64_t)e->valid_to >> (56 - 8 * i));
		p[24 + i] = (uint8_t)((uint64_t)e->published_at >> (56 - 8 * i));
	}
	memcpy(p + 32, e->submission_id, ADP_SUBMISSION_ID_LEN);
	for (int i = 0; i < 4; i++)
		p[48 + i] = (uint8_t)(e->value_len >> (24 - 8 * i));
	memcpy(p + 52, e->case_digest, 8);
	if (qlen) {
		memcpy(p + n, e->qualifier, qlen + 1);
		n += qlen + 1;
	}
	memcpy(p + n, e->value, e->value_len);
	return n + e->value_len;
}

static size_t entry_key_raw(uint8_t *k, const char *ref, const struct adp_entry *e)
{
	size_t n = strlen(ref);

	k[0] = (uint8_t)n;
	memcpy(k + 1, ref, n);
	memcpy(k + 1 + n, e->token, 16);
	for (int i = 0; i < 4; i++)
		k[1 + n + 16 + i] = (uint8_t)(e->epoch >> (24 - 8 * i));
	return 1 + n + 20;
}

/* Put (or read back) one raw record of the entries database with LMDB
 * itself; the ledger must be closed (one environment per process). */
static void raw_entry(struct fx *f, const uint8_t *key, size_t klen, const uint8_t *val,
		      size_t vlen, uint8_t *out, size_t *out_len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { .mv_size = klen, .mv_data = (void *)key }, v;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_set_mapsize(env, MAP_DEFAULT), 0);
	assert_int_equal(mdb_env_open(env, f->dir, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "entries", MDB_CREATE, &dbi), 0);
	if (val) {
		v.mv_size = vlen;
		v.mv_data = (void *)val;
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	} else {
		assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
		memcpy(out, v.mv_data, v.mv_size);
		*out_len = v.mv_size;
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/*
 * A ledger from before receipts: its "live" entries (state 2) read as
 * SENT — delivered, unconfirmed — with no reason and no decision time;
 * every other field as it was. Changed, an entry is written in the new
 * layout and reads back with its new fields.
 */
static void test_v2_entries_migrate(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	struct adp_entry old, got;
	uint8_t key[256], val[512], raw[512];
	size_t klen, vlen, rawlen;

	make_entry(&old, 7);
	old.state = 2; /* "live" */
	old.reason = 0;
	old.decided_at = 0;
	old.qualifier = "twitter";
	old.value = "@someone";
	old.value_len = 8;
	klen = entry_key_raw(key, "OLD-1", &old);
	vlen = v2_value(val, &old);
	adp_ledger_close(f->l);
	f->l = NULL;
	raw_entry(f, key, klen, val, vlen, NULL, NULL);
	/* a value of a version this build does not know is refused, not guessed */
	{
		uint8_t bad[512], k2[256];
		struct adp_entry o2 = old;
		size_t k2len;

		o2.token[0] ^= 0xff;
		k2len = entry_key_raw(k2, "OLD-1", &o2);
		memcpy(bad, val, vlen);
		bad[0] = 9;
		raw_entry(f, k2, k2len, bad, vlen, NULL, NULL);
		fx_open(f, MAP_DEFAULT);
		t = begin(f, 1);
		assert_int_equal(adp_ledger_get(t, "OLD-1", o2.token, o2.epoch, &got),
				 DECONF_E_MALFORMED);
		end(f);
		t = begin(f, 0);
		assert_int_equal(adp_ledger_del(t, "OLD-1", o2.token, o2.epoch), DECONF_OK);
		commit(f);
	}

	t = begin(f, 1);
	get_ok(t, "OLD-1", &old);
	assert_int_equal(adp_ledger_get(t, "OLD-1", old.token, old.epoch, &got), DECONF_OK);
	assert_int_equal(got.state, ADP_ENTRY_SENT);
	assert_int_equal(got.reason, 0);
	assert_true(got.decided_at == 0);
	end(f);

	/* a receipt confirms it: rewritten in version 3 */
	t = begin(f, 0);
	assert_int_equal(adp_ledger_get(t, "OLD-1", old.token, old.epoch, &got), DECONF_OK);
	got.state = ADP_ENTRY_CONFIRMED;
	got.decided_at = 1765000000000LL;
	put_ok(t, "OLD-1", &got);
	commit(f);
	old.state = ADP_ENTRY_CONFIRMED;
	old.decided_at = 1765000000000LL;
	t = begin(f, 1);
	get_ok(t, "OLD-1", &old);
	end(f);
	adp_ledger_close(f->l);
	f->l = NULL;
	raw_entry(f, key, klen, NULL, 0, raw, &rawlen);
	assert_int_equal(raw[0], 3);
	assert_int_equal(rawlen, vlen + 9); /* reason u8 + decided_at i64 */
	fx_open(f, MAP_DEFAULT);
}

/* ------------------------------------------------------------ submissions */

struct sub_seen {
	int n, refused;
	uint8_t first[8];
};

static int sub_collect(void *opaque, const uint8_t id[ADP_SUBMISSION_ID_LEN],
		       const struct adp_sub *s)
{
	struct sub_seen *x = opaque;

	if (x->n < 8)
		x->first[x->n] = id[0];
	x->n++;
	x->refused += s->status == ADP_SUB_REFUSED;
	return 0;
}

static void test_submissions(void **state)
{
	struct fx *f = *state;
	struct adp_ledger_txn *t;
	uint8_t id[3][ADP_SUBMISSION_ID_LEN], env[300];
	char detail[400];
	struct adp_sub s, got;
	struct sub_seen seen = { 0 };

	for (int i = 0; i < 3; i++)
		memset(id[i], 0x30 - 0x10 * i, ADP_SUBMISSION_ID_LEN);
	memset(env, 0xab, sizeof(env));
	memset(detail, 'd', sizeof(detail));
	t = begin(f, 0);
	assert_int_equal(adp_ledger_sub_get(t, id[0], &got), DECONF_E_UNKNOWN);
	assert_int_equal(adp_ledger_sub_count(t, 0), 0);
	/* waiting for a receipt, where Kafka stored it */
	s = (struct adp_sub){ .status = ADP_SUB_SENT, .op_index = -1, .partition = 0,
			      .offset = 41, .sent_at = 1765000000000LL, .envelope = env,
			      .envelope_len = sizeof(env) };
	assert_int_equal(adp_ledger_sub_put(t, id[0], &s), DECONF_OK);
	/* refused: reason, op, a detail longer than kept */
	s = (struct adp_sub){ .status = ADP_SUB_REFUSED, .reason = 14, .op_index = 3,
			      .partition = 0, .offset = INT64_MAX, .sent_at = 1, .decided_at = 2,
			      .detail = detail, .detail_len = sizeof(detail), .envelope = env,
			      .envelope_len = 1 };
	assert_int_equal(adp_ledger_sub_put(t, id[1], &s), DECONF_OK);
	/* no envelope, no detail */
	s = (struct adp_sub){ .status = ADP_SUB_SENT, .op_index = -1, .partition = -1,
			      .offset = -1 };
	assert_int_equal(adp_ledger_sub_put(t, id[2], &s), DECONF_OK);
	commit(f);

	fx_reopen(f, MAP_DEFAULT);
	t = begin(f, 1);
	assert_int_equal(adp_ledger_sub_count(t, 0), 3);
	assert_int_equal(adp_ledger_sub_count(t, ADP_SUB_SENT), 2);
	assert_int_equal(adp_ledger_sub_count(t, ADP_SUB_REFUSED), 1);
	assert_int_equal(adp_ledger_sub_get(t, id[0], &got), DECONF_OK);
	assert_int_equal(got.status, ADP_SUB_SENT);
	assert_int_equal(got.op_index, -1);
	assert_int_equal(got.partition, 0);
	assert_true(got.offset == 41);
	assert_true(got.sent_at == 1765000000000LL);
	assert_int_equal(got.detail_len, 0);
	assert_int_equal(got.envelope_len, sizeof(env));
	assert_memory_equal(got.envelope, env, sizeof(env));
	assert_int_equal(adp_ledger_sub_get(t, id[1], &got), DECONF_OK);
	assert_int_equal(got.status, ADP_SUB_REFUSED);
	assert_int_equal(got.reason, 14);
	assert_int_equal(got.op_index, 3);
	assert_true(got.offset == INT64_MAX);
	assert_true(got.decided_at == 2);
	assert_int_equal(got.detail_len, ADP_SUB_DETAIL_MAX); /* cut, not refused */
	assert_memory_equal(got.detail, detail, ADP_SUB_DETAIL_MAX);
	assert_int_equal(got.envelope_len, 1);
	assert_int_equal(got.envelope[0], 0xab);
	assert_int_equal(adp_ledger_sub_get(t, id[2], &got), DECONF_OK);
	assert_int_equal(got.partition, -1);
	assert_true(got.offset == -1);
	assert_int_equal(got.envelope_len, 0);
	assert_int_equal(adp_ledger_sub_foreach(t, sub_collect, &seen), DECONF_OK);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.refused, 1);
	assert_int_equal(seen.first[0], 0x10); /* id order */
	assert_int_equal(seen.first[2], 0x30);
	/* submissions are neither entries nor the outbox */
	assert_int_equal(adp_ledger_entry_count(t), 0);
	assert_int_equal(adp_ledger_outbox_count(t), 0);
	end(f);

	t = begin(f, 0);
	/* get, change, put in one transaction (pointers into its pages) */
	assert_int_equal(adp_ledger_sub_get(t, id[0], &got), DECONF_OK);
	got.status = ADP_SUB_REFUSED;
	got.reason = 8;
	got.detail = "suspended";
	got.detail_len = 9;
	assert_int_equal(adp_ledger_sub_put(t, id[0], &got), DECONF_OK);
	assert_int_equal(adp_ledger_sub_get(t, id[0], &got), DECONF_OK);
	assert_int_equal(got.envelope_len, sizeof(env));
	assert_memory_equal(got.envelope, env, sizeof(env));
	assert_memory_equal(got.detail, "suspended", 9);
	assert_int_equal(adp_ledger_sub_del(t, id[1]), DECONF_OK);
	assert_int_equal(adp_ledger_sub_del(t, id[1]), DECONF_OK); /* gone: fine */
	assert_int_equal(adp_ledger_sub_count(t, ADP_SUB_REFUSED), 1);
	assert_int_equal(adp_ledger_sub_count(t, ADP_SUB_SENT), 1);
	commit(f);
}

/* ------------------------------------------------------------------- main */

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		T(test_open_creates_dir_0700),
		T(test_open_errors),
		T(test_reopen_existing),
		T(test_entry_roundtrip),
		T(test_qualifier_too_long),
		T(test_qualifier_read_back_is_a_string),
		T(test_get_modify_put),
		T(test_get_modify_put_same_txn),
		T(test_get_missing),
		T(test_same_token_cases_epochs),
		T(test_del),
		T(test_long_case_refs_do_not_collide),
		T(test_foreach_case),
		T(test_foreach_all),
		T(test_foreach_stop),
		T(test_abort_discards),
		T(test_commit_persists),
		T(test_outbox),
		T(test_notices),
		T(test_acks),
		T(test_meta),
		T(test_cases),
		T(test_entry_count),
		T(test_map_full),
		T(test_entry_states),
		T(test_v2_entries_migrate),
		T(test_submissions),
	};

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-s") && i + 1 < argc)
			cmocka_set_skip_filter(argv[++i]);
		else
			cmocka_set_test_filter(argv[i]);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
