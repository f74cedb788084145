/*
 * normalize.h — canonical forms of raw indicator values (normalization v1).
 *
 * An agency types an indicator the way it found it: "(555) 010-9999",
 * "Alice@EXAMPLE.com", "@Bob_99". Two agencies holding the same indicator
 * must hash the same bytes, so every value is brought to one canonical form
 * before it is tokenized (docs/design.md, "Tokens"). The forms are part of the
 * wire contract: changing one changes every token of that type, and needs a
 * normalization version bump.
 *
 *   phone     E.164 via libphonenumber, e.g. "+15550109999"; the number must
 *             have a possible length for its country (fictitious 555 numbers
 *             are fine, a number missing its area code is not); extensions
 *             are refused rather than dropped
 *   email     "local@domain", lower-case, domain as IDNA A-label
 *   ip        4 or 16 raw bytes; IPv4-mapped IPv6 becomes the 4-byte IPv4
 *   username  platform ":" NFKC_Casefold(name), leading '@'s dropped
 *   url       RFC 3986 normalized, default port dropped, empty path "/"
 *   domain    IDNA A-label, lower-case, no trailing dot, at least two labels
 *   md5/sha1/sha256   lower-case hex of exact length
 *   btc       base58check kept as is, or bech32/bech32m lower-cased
 *   eth       "0x" + 40 lower-case hex (EIP-55 checked when mixed case)
 *   imei      15 digits, Luhn-checked
 *   mac       "aa:bb:cc:dd:ee:ff"
 *   vehicle   jurisdiction ":" plate, e.g. "US-CA:7ABC123"
 *
 * Caveat: the forms depend on the Unicode tables of utf8proc and libidn2
 * and on libphonenumber's metadata. Agencies on different library versions
 * can disagree on values those versions treat differently (new country
 * number plans, newly assigned code points); unassigned code points are
 * refused for that reason.
 *
 * Thread safety: adp_normalize() keeps no state between calls and may be
 * called from any number of threads at once.
 */
#ifndef ADP_NORMALIZE_H
#define ADP_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>

#define ADP_CANON_MAX 2048 /* == DECONF_CANONICAL_MAX */
#define ADP_INPUT_MAX 4096 /* longer raw input is refused */

struct adp_norm_opts {
	const char *default_region; /* ISO 3166 alpha-2 for phones without +, e.g. "US"; NULL = none */
};

/*
 * One-time set-up of the libraries behind the normalizers (libphonenumber's
 * metadata and lookup tables). adp_normalize() calls it itself the first
 * time it needs it; call it at start-up to pay the cost (some milliseconds)
 * there and to learn early if it fails. Thread safe, idempotent. Returns 0
 * or DECONF_E_NOMEM.
 */
int adp_norm_init(void);

/*
 * Check opts once, when the configuration is loaded, rather than on every
 * value: the default region must be two letters naming a region
 * libphonenumber knows (either case). Returns 0, or DECONF_E_CONFIG with
 * errstr saying what is wrong.
 */
int adp_norm_opts_check(const struct adp_norm_opts *opts, char *errstr, size_t errstr_size);

/* Canonical form of a raw indicator value.
 * type: DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_* value.
 * qualifier: for username the platform (e.g. "twitter", required), for vehicle the jurisdiction (e.g. "US-CA", required); NULL otherwise (ignored).
 * value/len: raw bytes as the agency typed them (not NUL-terminated necessarily; an embedded NUL is refused).
 * out receives the canonical bytes (IP: 4 or 16 raw bytes; everything else printable ASCII/UTF-8), *out_len its length.
 * Returns 0, or DECONF_E_INVAL with errstr a short reason a person can act on (no raw value echoed beyond ~40 chars).
 *
 * Surrounding white space (ASCII and Unicode spaces, BOM) is trimmed for
 * every type. Refused for every type: empty values, an embedded NUL, more
 * than ADP_INPUT_MAX bytes, invalid UTF-8, a canonical form longer than
 * ADP_CANON_MAX. opts may be NULL (no default region). out is not
 * NUL-terminated; on error its contents are unspecified. DECONF_E_NOMEM
 * is possible when a library runs out of memory.
 */
int adp_normalize(int type, const char *qualifier, const char *value, size_t len,
		  const struct adp_norm_opts *opts, uint8_t out[ADP_CANON_MAX], size_t *out_len,
		  char *errstr, size_t errstr_size);

#endif
