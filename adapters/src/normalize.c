/* normalize.c — the checks every value gets, dispatch by type, and the
 * simple families (phone glue, ip, username, hashes, imei, mac, vehicle). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "deconf.pb-c.h"
#include "deconf/err.h"
#include "deconf/token.h"
#include "norm_internal.h"
#include "event.h"
#include "normalize.h"
#include "phone.h"

_Static_assert(ADP_CANON_MAX == DECONF_CANONICAL_MAX, "canonical maximum differs from libdeconf's");

#define PLATFORM_MAX 64     /* "twitter", "telegram", "steam", ... */
#define JURISDICTION_MAX 32 /* "US-CA", "CA-ON", "US-NAVAJO", ... */
#define PLATE_MAX 12        /* characters, after separators are dropped */

/* Unicode forms (utf8proc). Unassigned code points are refused: a later
 * Unicode version may give them a mapping, and two agencies on different
 * library versions would then hash the same name differently. */
#define NFKC_CASEFOLD                                                                   \
	(UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD |     \
	 UTF8PROC_IGNORE | UTF8PROC_REJECTNA)
#define NFKC (UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_REJECTNA)

/* ------------------------------------------------------------------ UTF-8 */

int32_t adp_utf8_next(const uint8_t *s, size_t n, size_t *adv)
{
	size_t need = s[0] < 0x80 ? 1 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;

	if (need > n) { /* cannot happen on validated input; never read past n */
		*adv = 1;
		return 0xfffd;
	}
	*adv = need;
	switch (need) {
	case 1:
		return s[0];
	case 2:
		return (int32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
	case 3:
		return (int32_t)(s[0] & 0x0f) << 12 | (int32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
	default:
		return (int32_t)(s[0] & 0x07) << 18 | (int32_t)(s[1] & 0x3f) << 12 |
		       (int32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
	}
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF. */
size_t adp_utf8_valid_prefix(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		if (c < 0x80) {
			/* most values are ASCII: skip 8 bytes at a time */
			uint64_t w;
			while (n - i >= 8 && (memcpy(&w, s + i, 8), !(w & 0x8080808080808080ULL)))
				i += 8;
			if (i < n && s[i] < 0x80)
				i++;
			continue;
		}
		size_t need;
		uint8_t lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			else if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			else if (c == 0xf4)
				hi = 0x8f; /* > U+10FFFF */
		} else
			return i;
		if (n - i <= need)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= need; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
		i += need + 1;
	}
	return n;
}

int adp_is_space_or_control(int32_t c)
{
	if (c < 0x80)
		return c <= 0x20 || c == 0x7f;
	switch (utf8proc_category(c)) {
	case UTF8PROC_CATEGORY_CC:
	case UTF8PROC_CATEGORY_ZS:
	case UTF8PROC_CATEGORY_ZL:
	case UTF8PROC_CATEGORY_ZP:
		return 1;
	default:
		return 0;
	}
}

/* What is trimmed around every value: Unicode White_Space, plus the
 * invisible characters copy and paste brings along (ZWSP, word joiner, BOM). */
static int is_trim_space(int32_t c)
{
	if (c < 0x80)
		return c == ' ' || (c >= 0x09 && c <= 0x0d);
	return c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200b) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x2060 ||
	       c == 0x3000 || c == 0xfeff;
}

/* Start of the last UTF-8 sequence of s[0..n), n > 0. */
static size_t utf8_last(const uint8_t *s, size_t n)
{
	size_t i = n - 1;

	while (i > 0 && (s[i] & 0xc0) == 0x80 && n - i < 4)
		i--;
	return i;
}

static void trim(const char **v, size_t *n)
{
	const uint8_t *s = (const uint8_t *)*v;
	size_t len = *n, adv;

	while (len > 0 && is_trim_space(adp_utf8_next(s, len, &adv))) {
		s += adv;
		len -= adv;
	}
	while (len > 0) {
		size_t i = utf8_last(s, len);
		if (!is_trim_space(adp_utf8_next(s + i, len - i, &adv)))
			break;
		len = i;
	}
	*v = (const char *)s;
	*n = len;
}

static int is_ascii(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] >= 0x80)
			return 0;
	return 1;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* utf8proc error → our error. */
static int utf8proc_fail(utf8proc_ssize_t rc, const char *what, char *errstr, size_t errstr_size)
{
	if (rc == UTF8PROC_ERROR_NOMEM)
		return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
	if (rc == UTF8PROC_ERROR_NOTASSIGNED)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "the %s has a character not assigned in Unicode %s", what,
				      utf8proc_unicode_version());
	return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "the %s is not valid UTF-8",
			      what);
}

/* ------------------------------------------------------------------ phone */

static int norm_phone(const char *v, size_t n, const struct adp_norm_opts *opts, uint8_t *out,
		      size_t *out_len, char *errstr, size_t errstr_size)
{
	char region[3], e164[ADP_PHONE_E164_MAX];
	const char *r = NULL;
	int rc;

	if (opts && opts->default_region) {
		if ((rc = adp_norm_opts_check(opts, errstr, errstr_size)))
			return DECONF_E_INVAL;
		region[0] = (char)adp_upper((unsigned char)opts->default_region[0]);
		region[1] = (char)adp_upper((unsigned char)opts->default_region[1]);
		region[2] = '\0';
		r = region;
	}
	if ((rc = adp_phone_e164(v, n, r, 0, e164, out_len, errstr, errstr_size)))
		return rc;
	memcpy(out, e164, *out_len);
	return DECONF_OK;
}

/* --------------------------------------------------------------------- ip */

static int norm_ip(const char *v, size_t n, uint8_t *out, size_t *out_len, char *errstr,
		   size_t errstr_size)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char buf[INET6_ADDRSTRLEN + 8];
	uint8_t a[16];
	const char *colon;

	if (memchr(v, '/', n))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "a network prefix (/N) is not an address: give one address");
	if (memchr(v, '%', n))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "an IPv6 zone id (%%...) is not part of the address: remove it");
	if (v[0] == '[') {
		const char *end = memchr(v, ']', n);
		if (!end)
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "'[' without ']': not an IP address");
		if (end != v + n - 1)
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      end[1] == ':' ? "has a port: give the address alone"
							    : "text after ']': not an IP address");
		v++;
		n -= 2;
		if (!memchr(v, ':', n))
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "brackets are for IPv6 addresses only");
	}
	if (n == 0 || n >= sizeof(buf))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "not an IP address");
	memcpy(buf, v, n);
	buf[n] = '\0';

	if (!(colon = memchr(buf, ':', n))) {
		if (inet_pton(AF_INET, buf, a) != 1)
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "not an IPv4 address (four numbers 0-255 without "
					      "leading zeros, e.g. 192.0.2.1)");
		memcpy(out, a, 4);
		*out_len = 4;
		return DECONF_OK;
	}
	if (memchr(buf, '.', n) && !memchr(colon + 1, ':', n - (size_t)(colon - buf) - 1))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "has a port (:N): give the address alone");
	if (inet_pton(AF_INET6, buf, a) != 1)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "not an IPv6 address");
	if (!memcmp(a, mapped, sizeof(mapped))) {
		memcpy(out, a + 12, 4);
		*out_len = 4;
	} else {
		memcpy(out, a, 16);
		*out_len = 16;
	}
	return DECONF_OK;
}

/* --------------------------------------------------------------- username */

static int platform_canon(const char *q, char *out, size_t *out_len, char *errstr,
			  size_t errstr_size)
{
	size_t n = q ? strlen(q) : 0;

	if (n == 0)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "a username needs its platform (e.g. twitter)");
	if (n > PLATFORM_MAX)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "platform name longer than %d characters", PLATFORM_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = (char)adp_lower((unsigned char)q[i]);
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "platform names use only letters, digits, '.', '_' "
					      "and '-' (e.g. twitter)");
		out[i] = c;
	}
	*out_len = n;
	return DECONF_OK;
}

static int norm_username(const char *qualifier, const char *v, size_t n, uint8_t *out,
			 size_t *out_len, char *errstr, size_t errstr_size)
{
	char platform[PLATFORM_MAX];
	size_t plen = 0, len;
	utf8proc_uint8_t *folded = NULL;
	const uint8_t *name;
	int rc;

	if ((rc = platform_canon(qualifier, platform, &plen, errstr, errstr_size)))
		return rc;
	if (is_ascii(v, n)) {
		/* NFKC_Casefold of printable ASCII is ASCII lower-casing. */
		for (size_t i = 0; i < n; i++)
			if (adp_is_space_or_control((unsigned char)v[i]))
				return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
						      "a username has no spaces or control "
						      "characters");
		name = (const uint8_t *)v;
		len = n;
	} else {
		utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)v, (utf8proc_ssize_t)n,
						  &folded, NFKC_CASEFOLD);
		if (r < 0)
			return utf8proc_fail(r, "username", errstr, errstr_size);
		name = folded;
		len = (size_t)r;
		for (size_t i = 0, adv; i < len; i += adv)
			if (adp_is_space_or_control(adp_utf8_next(name + i, len - i, &adv))) {
				rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
						    "a username has no spaces or control "
						    "characters");
				goto out;
			}
	}
	/* After folding, so a fullwidth '＠' goes too. All of them: "@@bob" is
	 * a typo for "@bob", and a canonical value must map to itself. */
	while (len > 0 && name[0] == '@') {
		name++;
		len--;
	}
	if (len == 0) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "empty username");
		goto out;
	}
	if (plen + 1 + len > ADP_CANON_MAX) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "username too long");
		goto out;
	}
	memcpy(out, platform, plen);
	out[plen] = ':';
	if (folded)
		memcpy(out + plen + 1, name, len);
	else
		for (size_t i = 0; i < len; i++)
			out[plen + 1 + i] = (uint8_t)adp_lower(name[i]);
	*out_len = plen + 1 + len;
	rc = DECONF_OK;
out:
	free(folded);
	return rc;
}

/* ----------------------------------------------------------------- hashes */

static int norm_hex(const char *what, size_t want, const char *v, size_t n, uint8_t *out,
		    size_t *out_len, char *errstr, size_t errstr_size)
{
	if (n != want)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "an %s hash is %zu hex digits, this has %zu characters", what,
				      want, n);
	for (size_t i = 0; i < n; i++) {
		if (hexval((unsigned char)v[i]) < 0)
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "an %s hash is hex digits only (0-9, a-f); "
					      "character %zu is not",
					      what, i + 1);
		out[i] = (uint8_t)adp_lower((unsigned char)v[i]);
	}
	*out_len = n;
	return DECONF_OK;
}

/* ------------------------------------------------------------------- imei */

static int norm_imei(const char *v, size_t n, uint8_t *out, size_t *out_len, char *errstr,
		     size_t errstr_size)
{
	char d[16];
	size_t k = 0;
	int sum = 0;

	for (size_t i = 0; i < n; i++) {
		if (v[i] == ' ' || v[i] == '-')
			continue;
		if (v[i] < '0' || v[i] > '9')
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "an IMEI is digits only (spaces and dashes are "
					      "ignored)");
		if (k < sizeof(d))
			d[k] = v[i];
		k++;
	}
	if (k == 14)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "14 digits: an IMEI has 15, give it with its check digit");
	if (k == 16)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "16 digits is an IMEISV (with software version): give the "
				      "15-digit IMEI");
	if (k != 15)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "an IMEI has 15 digits, this has %zu", k);
	for (size_t i = 0; i < 15; i++) {
		int x = d[i] - '0';
		if (i % 2) { /* every second digit from the left, i.e. before the check digit */
			x *= 2;
			if (x > 9)
				x -= 9;
		}
		sum += x;
	}
	if (sum % 10)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "the IMEI's check digit does not match (Luhn): mistyped?");
	memcpy(out, d, 15);
	*out_len = 15;
	return DECONF_OK;
}

/* -------------------------------------------------------------------- mac */

static int norm_mac(const char *v, size_t n, uint8_t *out, size_t *out_len, char *errstr,
		    size_t errstr_size)
{
	static const char digits[] = "0123456789abcdef";
	uint8_t b[6];
	size_t step, group;
	char sep;

	/* aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, aabb.ccdd.eeff, aabbccddeeff */
	if (n == 17 && (v[2] == ':' || v[2] == '-')) {
		sep = v[2];
		group = 2;
	} else if (n == 14 && v[4] == '.') {
		sep = '.';
		group = 4;
	} else if (n == 12) {
		sep = 0;
		group = 12;
	} else
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "a MAC address is 6 bytes: aa:bb:cc:dd:ee:ff, "
				      "aa-bb-cc-dd-ee-ff, aabb.ccdd.eeff or aabbccddeeff");
	step = group + (sep != 0);
	for (size_t i = 0, k = 0; i < n; i++) {
		if (sep && i % step == group) {
			if (v[i] != sep)
				return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
						      "a MAC address uses one separator "
						      "throughout, in the usual places");
			continue;
		}
		int x = hexval((unsigned char)v[i]);
		if (x < 0)
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "a MAC address is hex digits and separators only");
		if (k % 2 == 0)
			b[k / 2] = (uint8_t)(x << 4);
		else
			b[k / 2] |= (uint8_t)x;
		k++;
	}
	for (size_t i = 0; i < 6; i++) {
		out[3 * i] = (uint8_t)digits[b[i] >> 4];
		out[3 * i + 1] = (uint8_t)digits[b[i] & 0xf];
		if (i < 5)
			out[3 * i + 2] = ':';
	}
	*out_len = 17;
	return DECONF_OK;
}

/* ---------------------------------------------------------------- vehicle */

static int jurisdiction_canon(const char *q, char *out, size_t *out_len, char *errstr,
			      size_t errstr_size)
{
	size_t n = q ? strlen(q) : 0;

	/* ISO 3166-2 codes ("US-CA", "CA-ON", "DE-BY") and the like of tribal
	 * or other issuers ("US-NAVAJO"): letters, digits, single dashes
	 * inside, starting with a letter. */
	if (n == 0)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "a plate needs its jurisdiction (e.g. US-CA)");
	if (n < 2 || n > JURISDICTION_MAX || !adp_is_alpha((unsigned char)q[0]) || q[n - 1] == '-' ||
	    strstr(q, "--"))
		goto bad;
	for (size_t i = 0; i < n; i++) {
		char c = (char)adp_upper((unsigned char)q[i]);
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			goto bad;
		out[i] = c;
	}
	*out_len = n;
	return DECONF_OK;
bad:
	return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
			      "a jurisdiction is a code like US-CA (letters, digits, dashes; "
			      "at most %d characters)",
			      JURISDICTION_MAX);
}

static int is_plate_separator(int32_t c)
{
	if (c == ' ' || c == '-' || c == '.' || c == 0xb7 /* middle dot */)
		return 1;
	if (c < 0x80)
		return 0;
	utf8proc_category_t cat = utf8proc_category(c);
	return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_PD;
}

static int norm_vehicle(const char *qualifier, const char *v, size_t n, uint8_t *out,
			size_t *out_len, char *errstr, size_t errstr_size)
{
	char jur[JURISDICTION_MAX];
	size_t jlen = 0, o, chars = 0;
	utf8proc_uint8_t *nfkc = NULL;
	const uint8_t *s = (const uint8_t *)v;
	int rc;

	if ((rc = jurisdiction_canon(qualifier, jur, &jlen, errstr, errstr_size)))
		return rc;
	if (!is_ascii(v, n)) {
		/* Fullwidth and other compatibility forms to their plain letters. */
		utf8proc_ssize_t r =
			utf8proc_map((const utf8proc_uint8_t *)v, (utf8proc_ssize_t)n, &nfkc, NFKC);
		if (r < 0)
			return utf8proc_fail(r, "plate", errstr, errstr_size);
		s = nfkc;
		n = (size_t)r;
	}
	memcpy(out, jur, jlen);
	out[jlen] = ':';
	o = jlen + 1;
	for (size_t i = 0, adv; i < n; i += adv) {
		int32_t c = adp_utf8_next(s + i, n - i, &adv);
		if (is_plate_separator(c))
			continue;
		if (c < 0x80) {
			if (!adp_is_alnum(c))
				goto bad;
			out[o++] = (uint8_t)adp_upper(c);
		} else {
			utf8proc_category_t cat = utf8proc_category(c);
			if (!(cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) &&
			    cat != UTF8PROC_CATEGORY_ND)
				goto bad;
			o += (size_t)utf8proc_encode_char(utf8proc_toupper(c), out + o);
		}
		if (++chars > PLATE_MAX) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					    "a plate has at most %d letters and digits", PLATE_MAX);
			goto out;
		}
	}
	if (chars == 0) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "empty plate");
		goto out;
	}
	*out_len = o;
	rc = DECONF_OK;
	goto out;
bad:
	rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
			    "a plate is letters and digits (spaces, dashes and dots are "
			    "ignored)");
out:
	free(nfkc);
	return rc;
}

/* --------------------------------------------------------------- dispatch */

int adp_norm_init(void)
{
	return adp_phone_init();
}

int adp_norm_opts_check(const struct adp_norm_opts *opts, char *errstr, size_t errstr_size)
{
	const char *r = opts ? opts->default_region : NULL;
	char up[3];

	if (!r)
		return DECONF_OK;
	if (strlen(r) != 2 || !adp_is_alpha((unsigned char)r[0]) || !adp_is_alpha((unsigned char)r[1]))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "default region must be a two-letter country code "
				      "(ISO 3166 alpha-2, e.g. US)");
	up[0] = (char)adp_upper((unsigned char)r[0]);
	up[1] = (char)adp_upper((unsigned char)r[1]);
	up[2] = '\0';
	if (!adp_phone_region_known(up))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "default region %s is not a region with phone numbers",
				      up);
	return DECONF_OK;
}

int adp_normalize(int type, const char *qualifier, const char *value, size_t len,
		  const struct adp_norm_opts *opts, uint8_t out[ADP_CANON_MAX], size_t *out_len,
		  char *errstr, size_t errstr_size)
{
	size_t bad;
	int rc;

	if (errstr && errstr_size)
		errstr[0] = '\0';
	if (!out || !out_len || (!value && len))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "no value");
	*out_len = 0;
	if (!deconf_indicator_type_name(type))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "unknown indicator type %d", type);
	if (len > ADP_INPUT_MAX)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "value longer than %d bytes", ADP_INPUT_MAX);
	if (len && memchr(value, '\0', len))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "value contains a NUL byte");
	if ((bad = adp_utf8_valid_prefix((const uint8_t *)value, len)) != len)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "value is not valid UTF-8 (byte %zu)", bad + 1);
	if (len)
		trim(&value, &len);
	if (len == 0)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "empty value");

	switch (type) {
	case DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_PHONE:
		rc = norm_phone(value, len, opts, out, out_len, errstr, errstr_size);
		break;
	case DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EMAIL:
		rc = adp_norm_email(value, len, out, out_len, errstr, errstr_size);
		break;
	case DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_IP:
		rc = norm_ip(value, len, out, out_len, errstr, errstr_size);
		break;
	case DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_USERNAME:
		rc = norm_username(qualifier, value, len, out, out_len, errstr, errstr_size);
		break;
	case DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_URL:
		rc = adp_norm_url(value, len, out, out_len, errstr, errstr_size);
		break;
	case DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_DOMAIN:
		rc = adp_norm_domain(value, len, out, out_len, errstr, errstr_size);
		break;
	case DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_MD5:
		rc = norm_hex("MD5", 32, value, len, out, out_len, errstr, errstr_size);
		break;
	case DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_SHA1:
		rc = norm_hex("SHA-1", 40, value, len, out, out_len, errstr, errstr_size);
		break;
	case DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_SHA256:
		rc = norm_hex("SHA-256", 64, value, len, out, out_len, errstr, errstr_size);
		break;
	case DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_BTC:
		rc = adp_norm_btc(value, len, out, out_len, errstr, errstr_size);
		break;
	case DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_ETH:
		rc = adp_norm_eth(value, len, out, out_len, errstr, errstr_size);
		break;
	case DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_IMEI:
		rc = norm_imei(value, len, out, out_len, errstr, errstr_size);
		break;
	case DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_MAC:
		rc = norm_mac(value, len, out, out_len, errstr, errstr_size);
		break;
	case DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_VEHICLE:
		rc = norm_vehicle(qualifier, value, len, out, out_len, errstr, errstr_size);
		break;
	case DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL: {
		/* made by event.c from an event's place, already canonical:
		 * checked, not changed (the role and level are the
		 * qualifier's, never hashed) */
		int role;
		uint32_t level;
		if (adp_event_qualifier_parse(qualifier, &role, &level) ||
		    !adp_event_cell_value_ok(value, len) || len > ADP_CANON_MAX) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					    "not an event cell (docs/event-cells.md)");
			break;
		}
		memcpy(out, value, len);
		*out_len = len;
		rc = DECONF_OK;
		break;
	}
	default:
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				    "unknown indicator type %d", type);
	}
	if (rc)
		*out_len = 0;
	return rc;
}
