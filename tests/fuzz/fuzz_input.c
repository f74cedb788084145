/*
 * fuzz_input.c — libFuzzer target for the adapter's CSV / JSON Lines
 * readers (agency files come from other systems: outside input).
 *
 * Byte 0 picks the format (auto, CSV, JSONL), byte 1 the size of the pieces
 * fed to the push parser. Invariants beyond "no crash, no leak": every
 * case_ref is 1..128 bytes; every indicator value is 1..4096 bytes without
 * NUL; errors come sorted by line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct adp_input *in;
	enum adp_format fmt;
	size_t chunk;

	if (size < 2)
		return 0;
	fmt = (enum adp_format)(data[0] % 3);
	chunk = 1 + data[1] % 64;
	if (adp_input_new(&in, fmt, data[1] & 1 ? 5 : 0))
		return 0;
	data += 2;
	size -= 2;
	for (size_t o = 0; o < size; o += chunk)
		adp_input_feed(in, data + o, size - o < chunk ? size - o : chunk);
	adp_input_finish(in);
	for (size_t i = 0; i < adp_input_case_count(in); i++) {
		const struct adp_case *c = adp_input_case(in, i);
		if (strlen(c->case_ref) == 0 || strlen(c->case_ref) > 128)
			abort();
		for (size_t k = 0; k < c->n_ind; k++)
			if (!c->ind[k].value_len || c->ind[k].value_len > 4096 ||
			    memchr(c->ind[k].value, 0, c->ind[k].value_len))
				abort();
	}
	for (size_t i = 1; i < adp_input_error_count(in); i++)
		if (adp_input_error_at(in, i - 1)->line > adp_input_error_at(in, i)->line)
			abort();
	adp_input_free(in);
	return 0;
}
