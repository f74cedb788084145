/*
 * fuzz_kquota.c — libFuzzer target for deconfctl's Kafka quota client's
 * response parsers (broker/src/kquota.c): a Kafka server's reply is outside
 * input.
 *
 * Byte 0 picks the parser: (b & 3) % 3 = 0 ApiVersions v0, 1
 * DescribeClientQuotas v0 for User:agency-a, 2 AlterClientQuotas v0 for
 * agency-a (and agency-b when bit 2 is set); the rest is the response after
 * its size (correlation id 7, as in the seeds, which are real Kafka 4.1
 * replies). Invariants beyond "no crash, no leak, no read outside the
 * input": a failure always says why; errstr never holds a byte outside
 * printable ASCII, whatever the server sent; a describe gives agency-a's
 * values, each unset or finite, and all unset when it fails.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kquota.h"

#define CORR 7

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			abort();
}

static void check_value(double v, int ok)
{
	if (brk_kquota_is_set(v) && (!ok || !isfinite(v)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const users[2] = { "agency-a", "agency-b" };
	struct brk_kquota q;
	char errstr[1024];
	int rc;

	if (size < 1)
		return 0;
	errstr[0] = '\0';
	switch ((data[0] & 3) % 3) {
	case 0:
		rc = brk_kquota_parse_api_versions(data + 1, size - 1, CORR, errstr,
						   sizeof(errstr));
		break;
	case 1:
		rc = brk_kquota_parse_describe(data + 1, size - 1, CORR, "agency-a", &q, errstr,
					       sizeof(errstr));
		if (strcmp(q.user, "agency-a"))
			abort();
		check_value(q.producer_byte_rate, !rc);
		check_value(q.consumer_byte_rate, !rc);
		check_value(q.request_percentage, !rc);
		break;
	default:
		rc = brk_kquota_parse_alter(data + 1, size - 1, CORR, users,
					    data[0] & 4 ? 2 : 1, errstr, sizeof(errstr));
		break;
	}
	if (rc && !errstr[0])
		abort();
	check_text(errstr);
	return 0;
}
