/*
 * fuzz_envelope.c — libFuzzer target for Envelope unpack + verify + payload
 * parse, the broker's first contact with every agency record.
 *
 * Each input is tried twice: as a record on its own, and XORed over a valid
 * signed Submission envelope, so mutations also reach signature
 * verification of well-formed records. A mutation of the signed bytes
 * fails that check, so the payload parser behind it is reached only by
 * inputs that leave them intact: ingest's decision on a Submission and the
 * matching it drives are fuzz_submission's, which signs each input itself.
 * Invariant checked beyond "no crash, no leak": a record that opens
 * successfully re-serializes to a payload that opens again with the same
 * key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/envelope.h"
#include "deconf/err.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct deconf_sign_key *key;
static uint8_t *valid;
static size_t valid_len;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	Deconf__V1__Submission sub = DECONF__V1__SUBMISSION__INIT;
	Deconf__V1__CaseOp op = DECONF__V1__CASE_OP__INIT, *ops[1] = { &op };
	Deconf__V1__TokenRef tr = DECONF__V1__TOKEN_REF__INIT, *trs[2] = { &tr, &tr };
	static uint8_t token[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	char errstr[256];

	if (deconf_sign_key_generate(&key, errstr, sizeof(errstr)))
		abort();
	sub.agency_id.data = (uint8_t *)"agency-a";
	sub.agency_id.len = 8;
	sub.submission_id.data = token;
	sub.submission_id.len = sizeof(token);
	sub.created_at = 1764300000000;
	sub.n_ops = 1;
	sub.ops = ops;
	op.case_ref.data = (uint8_t *)"2026-CE-0001";
	op.case_ref.len = 12;
	op.op = DECONF__V1__OP__OP_ADD;
	op.n_tokens = 2;
	op.tokens = trs;
	tr.type = DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EMAIL;
	tr.key_epoch = 1;
	tr.token.data = token;
	tr.token.len = sizeof(token);
	if (deconf_envelope_seal(&sub.base, DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION,
				 "agency-a", key, &valid, &valid_len))
		abort();
	return 0;
}

static void try_open(const uint8_t *buf, size_t len)
{
	ProtobufCMessage *m = NULL, *again = NULL;
	uint8_t *re = NULL;
	size_t re_len;
	char errstr[256];
	int rc;

	rc = deconf_envelope_open(buf, len, 64 * 1024,
				  DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION, key,
				  &deconf__v1__submission__descriptor, &m, errstr,
				  sizeof(errstr));
	if (rc) {
		if (m || !errstr[0])
			abort(); /* failures leave no message and always say why */
		return;
	}
	if (deconf_envelope_seal(m, DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION,
				 "agency-a", key, &re, &re_len) ||
	    deconf_envelope_open(re, re_len, 64 * 1024,
				 DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION, key,
				 &deconf__v1__submission__descriptor, &again, errstr,
				 sizeof(errstr)))
		abort();
	deconf_msg_free(again);
	deconf_msg_free(m);
	free(re);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *mixed;
	size_t len = size > valid_len ? size : valid_len;

	try_open(data, size);
	if (!(mixed = malloc(len)))
		return 0;
	memset(mixed, 0, len);
	memcpy(mixed, valid, valid_len);
	for (size_t i = 0; i < size; i++)
		mixed[i] ^= data[i];
	/* Past the valid record, the input is appended as is. */
	try_open(mixed, len);
	free(mixed);
	return 0;
}
