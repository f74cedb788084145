/*
 * fuzz_normalize.c — libFuzzer target for the adapter's normalizers (every
 * raw indicator an agency file holds goes through them).
 *
 * Byte 0 picks the type, byte 1 the qualifier and default region. Beyond
 * "no crash, no leak": a refusal always says why; a canonical value is
 * 1..ADP_CANON_MAX bytes (IP: 4 or 16); and canonical forms are fixed
 * points: normalizing one again gives the same bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/err.h"
#include "normalize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const quals[] = { "twitter", "US-CA", NULL, "x" };
static const char *const regions[] = { NULL, "US", "GB", "DE" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[ADP_CANON_MAX], out2[ADP_CANON_MAX];
	size_t n = 0, n2 = 0, vn;
	struct adp_norm_opts o;
	const char *q, *v;
	char err[128];
	int type, rc;

	if (size < 2)
		return 0;
	type = 1 + data[0] % 15;
	q = quals[data[1] & 3];
	if (type == 4)
		q = "twitter";
	if (type == 14)
		q = "US-CA";
	if (type == 15) /* an event cell: its role and level */
		q = (data[1] & 4) ? "cover:15" : (data[1] & 8) ? "parent:3" : "cover:x";
	o.default_region = regions[(data[1] >> 2) & 3];
	err[0] = '\0';
	rc = adp_normalize(type, q, (const char *)data + 2, size - 2, &o, out, &n, err,
			   sizeof(err));
	if (rc) {
		if (rc != DECONF_E_INVAL || !err[0])
			abort();
		return 0;
	}
	if (n == 0 || n > ADP_CANON_MAX)
		abort();
	if (type == 3) {
		if (n != 4 && n != 16)
			abort();
		return 0;
	}
	v = (const char *)out;
	vn = n;
	if (type == 4 || type == 14) { /* "qualifier:value": feed the value back */
		const char *c = memchr(out, ':', n);
		if (!c)
			abort();
		v = c + 1;
		vn = n - (size_t)(c + 1 - (const char *)out);
	}
	rc = adp_normalize(type, q, v, vn, &o, out2, &n2, err, sizeof(err));
	if (rc || n2 != n || memcmp(out, out2, n)) {
		fprintf(stderr, "not a fixed point: type %d -> rc %d %s\n", type, rc,
			rc ? err : "");
		abort();
	}
	return 0;
}
