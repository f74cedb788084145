/*
 * norm_internal.h — what the normalizer families share (normalize.c,
 * norm_net.c, norm_wallet.c). Not for use outside adapters/src and the
 * normalizer's unit test.
 *
 * Every family function gets the value already checked by adp_normalize()
 * (valid UTF-8, no NUL, at most ADP_INPUT_MAX bytes, surrounding white
 * space trimmed, not empty), writes at most ADP_CANON_MAX bytes to out and
 * returns 0, DECONF_E_INVAL with errstr, or DECONF_E_NOMEM.
 */
#ifndef ADP_NORM_INTERNAL_H
#define ADP_NORM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "normalize.h"

/*
 * ASCII-only character classes and case mapping. The <ctype.h> ones follow
 * the process locale (a program that calls setlocale() could turn 'I' into
 * something else); canonical forms must not.
 */
static inline int adp_is_upper(int c)
{
	return c >= 'A' && c <= 'Z';
}
static inline int adp_is_lower(int c)
{
	return c >= 'a' && c <= 'z';
}
static inline int adp_is_alpha(int c)
{
	return adp_is_upper(c) || adp_is_lower(c);
}
static inline int adp_is_digit(int c)
{
	return c >= '0' && c <= '9';
}
static inline int adp_is_alnum(int c)
{
	return adp_is_alpha(c) || adp_is_digit(c);
}
static inline int adp_is_xdigit(int c)
{
	return adp_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static inline int adp_lower(int c)
{
	return adp_is_upper(c) ? c + ('a' - 'A') : c;
}
static inline int adp_upper(int c)
{
	return adp_is_lower(c) ? c - ('a' - 'A') : c;
}
/* Case-insensitive (ASCII) prefix test: does v[0..n) start with lower-case p? */
static inline int adp_has_prefix_ci(const char *v, size_t n, const char *p)
{
	size_t i = 0;

	for (; p[i]; i++)
		if (i >= n || adp_lower((unsigned char)v[i]) != p[i])
			return 0;
	return 1;
}

/*
 * Decode one UTF-8 sequence at s (n > 0 bytes left, already validated).
 * Returns the code point and sets *adv to its length.
 */
int32_t adp_utf8_next(const uint8_t *s, size_t n, size_t *adv);

/* Length of the longest valid UTF-8 prefix of s (== n when all valid). */
size_t adp_utf8_valid_prefix(const uint8_t *s, size_t n);

/* 1 if c is Unicode white space (Zs, Zl, Zp) or a control character (Cc). */
int adp_is_space_or_control(int32_t c);

/* Flags for adp_domain_canon(). */
#define ADP_DOMAIN_REQUIRE_DOT 0x1 /* at least two labels, not all-numeric TLD */

/*
 * Domain name → lower-case A-label form without a trailing dot, written to
 * out (cap bytes, not NUL-terminated). Pure-ASCII names without "xn--"
 * labels are lower-cased and checked here (letters, digits, '-', '_');
 * others go through libidn2 (IDNA2008 + UTS #46 non-transitional).
 */
int adp_domain_canon(const char *v, size_t n, int flags, char *out, size_t cap, size_t *out_len,
		     char *errstr, size_t errstr_size);

int adp_norm_email(const char *v, size_t n, uint8_t *out, size_t *out_len, char *errstr,
		   size_t errstr_size);
int adp_norm_domain(const char *v, size_t n, uint8_t *out, size_t *out_len, char *errstr,
		    size_t errstr_size);
int adp_norm_url(const char *v, size_t n, uint8_t *out, size_t *out_len, char *errstr,
		 size_t errstr_size);
int adp_norm_btc(const char *v, size_t n, uint8_t *out, size_t *out_len, char *errstr,
		 size_t errstr_size);
int adp_norm_eth(const char *v, size_t n, uint8_t *out, size_t *out_len, char *errstr,
		 size_t errstr_size);

/* Keccak-256 (the original padding Ethereum uses, not SHA3-256). */
void adp_keccak256(const uint8_t *in, size_t len, uint8_t out[32]);

#endif
