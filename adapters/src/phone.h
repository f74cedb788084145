/*
 * phone.h — phone numbers to E.164: a C API over libphonenumber (C++).
 *
 * The slow path is libphonenumber's Parse() + IsPossibleNumberWithReason()
 * + Format(E164), about 15 µs a number (its parser runs many ICU regular
 * expressions). Most numbers an agency holds are already "+15550109999" or
 * a plain national "(555) 010-9999", so a fast path handles those from
 * tables read once from libphonenumber's own compiled-in metadata, giving
 * exactly what the slow path would (see phone.cc for the argument, and
 * test_normalize.c for the differential test that holds it to that).
 * Anything the fast path is not sure of goes to libphonenumber.
 *
 * The result is a fixed point: a number whose E.164 form libphonenumber
 * would read back as a different number is refused as ambiguous (this
 * happens only for odd input, e.g. a national number whose significant
 * part starts with the trunk prefix).
 *
 * Thread safe once adp_phone_init() has returned (the library's singleton
 * is created there; concurrent first calls are serialized).
 */
#ifndef ADP_PHONE_H
#define ADP_PHONE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ADP_PHONE_E164_MAX 24 /* "+" + up to 3 + 17 digits, and a NUL */

/* Flags for adp_phone_e164(). */
#define ADP_PHONE_SLOW_ONLY 0x1 /* skip the fast path (tests, benchmarks) */

/*
 * Create libphonenumber's singleton and the fast-path tables. Idempotent and
 * thread safe. Returns 0 or DECONF_E_NOMEM. If the compiled-in metadata
 * cannot be read, the fast path is off and every number takes the slow path.
 */
int adp_phone_init(void);

/* 1 if region ("US", upper case) is a region libphonenumber knows. */
int adp_phone_region_known(const char *region);

/*
 * E.164 form of a phone number as typed (value/len, valid UTF-8, already
 * trimmed; no NUL needed). region: upper-case ISO 3166 alpha-2 used for
 * numbers without a country code, or NULL. out receives the NUL-terminated
 * E.164 string, *out_len its length. Returns 0, DECONF_E_INVAL with errstr
 * saying why the number was refused, or DECONF_E_NOMEM.
 */
int adp_phone_e164(const char *value, size_t len, const char *region, int flags,
		   char out[ADP_PHONE_E164_MAX], size_t *out_len, char *errstr,
		   size_t errstr_size);

/* 1 if the fast-path tables were built (for tests and the benchmark). */
int adp_phone_fast_enabled(void);

#ifdef __cplusplus
}
#endif

#endif
