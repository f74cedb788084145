/* test_directory.c — the broker's directory: signed entries only, updates,
 * suspensions, tombstones, lookups. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/envelope.h"
#include "deconf/err.h"
#include "directory.h"

struct fx {
	struct deconf_sign_key *fed, *other, *agency;
	struct brk_directory *d;
	char errstr[256];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || deconf_sign_key_generate(&f->fed, NULL, 0) ||
	    deconf_sign_key_generate(&f->other, NULL, 0) ||
	    deconf_sign_key_generate(&f->agency, NULL, 0) ||
	    brk_directory_new(&f->d, f->fed))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	brk_directory_free(f->d);
	deconf_sign_key_free(f->fed);
	deconf_sign_key_free(f->other);
	deconf_sign_key_free(f->agency);
	free(f);
	return 0;
}

/* A DirectoryEntry for id, sealed by signer (NULL: unsigned). */
static uint8_t *entry(const struct fx *f, const char *id, const char *name, int status,
		      const struct deconf_sign_key *signer, size_t pub_len, size_t *len)
{
	Deconf__V1__DirectoryEntry e = DECONF__V1__DIRECTORY_ENTRY__INIT;
	Deconf__V1__PointOfContact poc = DECONF__V1__POINT_OF_CONTACT__INIT;
	uint8_t pub[DECONF_PUBKEY_LEN + 1] = { 0 }, *buf = NULL;

	assert_int_equal(deconf_sign_key_public(f->agency, pub), 0);
	e.agency_id.data = (uint8_t *)id;
	e.agency_id.len = strlen(id);
	e.name = (char *)name;
	e.level = DECONF__V1__AGENCY_LEVEL__AGENCY_LEVEL_STATE;
	e.country = "US";
	poc.name = "Watch Desk";
	poc.phone = "+1 555 010 0100";
	poc.email = "watch@example.org";
	e.watch_contact = &poc;
	e.signing_public_key.data = pub;
	e.signing_public_key.len = pub_len;
	e.status = status;
	e.updated_at = 1764300000000;
	assert_int_equal(deconf_envelope_seal(&e.base,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_DIRECTORY_ENTRY,
					      "federation", signer, &buf, len),
			 0);
	return buf;
}

static int apply(struct fx *f, const char *key, uint8_t *buf, size_t len)
{
	int rc = brk_directory_apply(f->d, key, key ? strlen(key) : 0, buf, len, f->errstr,
				     sizeof(f->errstr));
	free(buf);
	return rc;
}

#define ACTIVE DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_ACTIVE
#define SUSPENDED DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_SUSPENDED

static void test_apply_get_key(void **state)
{
	struct fx *f = *state;
	struct brk_agency a;
	struct deconf_sign_key *k = NULL;
	uint8_t pub[DECONF_PUBKEY_LEN], sig[DECONF_SIG_LEN], *b;
	size_t len;

	b = entry(f, "state-tf", "State ICAC Task Force", ACTIVE, f->fed, 32, &len);
	assert_int_equal(apply(f, "state-tf", b, len), 0);
	assert_int_equal(brk_directory_count(f->d), 1);
	assert_int_equal(brk_directory_get(f->d, "state-tf", 8, &a), 0);
	assert_string_equal(a.id, "state-tf");
	assert_string_equal(a.name, "State ICAC Task Force");
	assert_string_equal(a.country, "US");
	assert_string_equal(a.poc_email, "watch@example.org");
	assert_int_equal(a.level, DECONF__V1__AGENCY_LEVEL__AGENCY_LEVEL_STATE);
	deconf_sign_key_public(f->agency, pub);
	assert_memory_equal(a.public_key, pub, sizeof(pub));
	/* the key verifies what the agency signs */
	assert_int_equal(brk_directory_key(f->d, "state-tf", 8, &k), 0);
	assert_int_equal(deconf_sign(f->agency, (const uint8_t *)"m", 1, sig), 0);
	assert_int_equal(deconf_verify(k, (const uint8_t *)"m", 1, sig, sizeof(sig)), 0);
	deconf_sign_key_free(k);
	/* prefixes and extensions of a known id are other agencies */
	assert_int_equal(brk_directory_get(f->d, "state-t", 7, &a), DECONF_E_UNKNOWN);
	assert_int_equal(brk_directory_get(f->d, "state-tf2", 9, &a), DECONF_E_UNKNOWN);
	assert_int_equal(brk_directory_key(f->d, "nobody", 6, &k), DECONF_E_UNKNOWN);
	assert_null(k);
}

static void test_update_suspend_remove(void **state)
{
	struct fx *f = *state;
	struct brk_agency a;
	struct deconf_sign_key *k = NULL;
	size_t len;
	uint8_t *b;

	b = entry(f, "tribal-pd", "Tribal PD", ACTIVE, f->fed, 32, &len);
	assert_int_equal(apply(f, "tribal-pd", b, len), 0);
	b = entry(f, "tribal-pd", "Tribal Police Department", SUSPENDED, f->fed, 32, &len);
	assert_int_equal(apply(f, "tribal-pd", b, len), 0);
	assert_int_equal(brk_directory_count(f->d), 1);
	assert_int_equal(brk_directory_get(f->d, "tribal-pd", 9, &a), 0);
	assert_string_equal(a.name, "Tribal Police Department");
	/* suspended: known, but its submissions are refused */
	assert_int_equal(brk_directory_key(f->d, "tribal-pd", 9, &k), DECONF_E_PERM);
	assert_null(k);
	b = entry(f, "tribal-pd", "Tribal Police Department", ACTIVE, f->fed, 32, &len);
	assert_int_equal(apply(f, "tribal-pd", b, len), 0);
	assert_int_equal(brk_directory_key(f->d, "tribal-pd", 9, &k), 0);
	deconf_sign_key_free(k);
	/* tombstone */
	assert_int_equal(brk_directory_apply(f->d, "tribal-pd", 9, NULL, 0, f->errstr,
					     sizeof(f->errstr)),
			 0);
	assert_int_equal(brk_directory_count(f->d), 0);
	assert_int_equal(brk_directory_get(f->d, "tribal-pd", 9, &a), DECONF_E_UNKNOWN);
	/* a tombstone for an unknown agency changes nothing */
	assert_int_equal(brk_directory_apply(f->d, "ghost", 5, NULL, 0, f->errstr,
					     sizeof(f->errstr)),
			 0);
}

/* Records without the federation's signature, or malformed, change nothing. */
static void test_refused(void **state)
{
	struct fx *f = *state;
	struct brk_agency a;
	size_t len;
	uint8_t *b;

	b = entry(f, "fed-a", "Federal A", ACTIVE, f->fed, 32, &len);
	assert_int_equal(apply(f, "fed-a", b, len), 0);

	b = entry(f, "fed-a", "Hijacked", SUSPENDED, f->other, 32, &len);
	assert_int_equal(apply(f, "fed-a", b, len), DECONF_E_BADSIG);
	b = entry(f, "fed-a", "Hijacked", SUSPENDED, NULL, 32, &len);
	assert_int_equal(apply(f, "fed-a", b, len), DECONF_E_UNSIGNED);
	b = entry(f, "fed-b", "Other", ACTIVE, f->fed, 32, &len);
	assert_int_equal(apply(f, "fed-a", b, len), DECONF_E_INVAL); /* key != agency_id */
	assert_non_null(strstr(f->errstr, "record key"));
	b = entry(f, "fed-a", "Short key", ACTIVE, f->fed, 31, &len);
	assert_int_equal(apply(f, "fed-a", b, len), DECONF_E_INVAL);
	b = entry(f, "fed-a", "Bad\nname", ACTIVE, f->fed, 32, &len);
	assert_int_equal(apply(f, "fed-a", b, len), DECONF_E_INVAL);
	b = entry(f, "Fed_A", "Bad id", ACTIVE, f->fed, 32, &len);
	assert_int_equal(apply(f, "Fed_A", b, len), DECONF_E_INVAL);
	b = entry(f, "fed-a", "Bad status", 9, f->fed, 32, &len);
	assert_int_equal(apply(f, "fed-a", b, len), DECONF_E_INVAL);
	assert_int_not_equal(brk_directory_apply(f->d, "fed-a", 5, "garbage", 7, f->errstr,
						 sizeof(f->errstr)),
			     0);
	assert_int_equal(brk_directory_apply(f->d, NULL, 0, NULL, 0, f->errstr,
					     sizeof(f->errstr)),
			 DECONF_E_INVAL);
	/* none of it changed fed-a */
	assert_int_equal(brk_directory_get(f->d, "fed-a", 5, &a), 0);
	assert_string_equal(a.name, "Federal A");
	assert_int_equal(a.status, ACTIVE);
	assert_int_equal(brk_directory_count(f->d), 1);
}

/* Many agencies in any order: every one found, none confused. */
static void test_many(void **state)
{
	struct fx *f = *state;
	struct brk_agency a;
	char id[32], name[64];
	size_t len;
	uint8_t *b;

	for (int i = 0; i < 200; i++) {
		int k = (i * 37) % 200;
		snprintf(id, sizeof(id), "agency-%d", k);
		snprintf(name, sizeof(name), "Agency %d", k);
		b = entry(f, id, name, ACTIVE, f->fed, 32, &len);
		assert_int_equal(apply(f, id, b, len), 0);
	}
	assert_int_equal(brk_directory_count(f->d), 200);
	for (int k = 0; k < 200; k++) {
		snprintf(id, sizeof(id), "agency-%d", k);
		snprintf(name, sizeof(name), "Agency %d", k);
		assert_int_equal(brk_directory_get(f->d, id, strlen(id), &a), 0);
		assert_string_equal(a.name, name);
	}
	assert_int_equal(brk_directory_get(f->d, "agency-200", 10, &a), DECONF_E_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply_get_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_suspend_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
