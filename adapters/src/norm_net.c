/* norm_net.c — domain, e-mail and URL normalizers (libidn2, uriparser). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>
#include <uriparser/Uri.h>
#include <utf8proc.h>

#include "deconf/err.h"
#include "norm_internal.h"

#define DOMAIN_MAX 253
#define LABEL_MAX 63

/* ----------------------------------------------------------------- domain */

/*
 * Choices where docs/design.md is silent:
 *  - one trailing dot (the DNS root) is dropped; "a..b" and a leading dot
 *    are refused;
 *  - labels that are pure ASCII are taken as they are: letters, digits, '-'
 *    and '_' anywhere (real host names break the LDH rule: "_dmarc",
 *    "my_host"); the strict IDNA rules apply to labels with other
 *    characters and to "xn--" labels, which libidn2 decodes and checks;
 *  - for the domain and e-mail types a single label ("localhost", "com")
 *    and an all-digit top-level label (an IPv4 address) are refused: they
 *    cannot name a registered domain.
 */
static int is_ascii_span(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] >= 0x80)
			return 0;
	return 1;
}

static int has_xn_label(const char *v, size_t n)
{
	for (size_t i = 0; i + 4 <= n; i++)
		if ((i == 0 || v[i - 1] == '.') && adp_has_prefix_ci(v + i, n - i, "xn--"))
			return 1;
	return 0;
}

static int check_labels(const char *d, size_t n, int flags, char *errstr, size_t errstr_size)
{
	size_t start = 0, labels = 0;
	int numeric = 1;

	if (n > DOMAIN_MAX)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "a domain name has at most %d characters", DOMAIN_MAX);
	for (size_t i = 0; i <= n; i++) {
		if (i == n || d[i] == '.') {
			if (i == start)
				return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
						      "empty label in the domain name (\"..\" "
						      "or a leading dot)");
			if (i - start > LABEL_MAX)
				return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
						      "a domain label has at most %d characters",
						      LABEL_MAX);
			labels++;
			if (i < n) {
				start = i + 1;
				numeric = 1;
			}
			continue;
		}
		char c = d[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "a domain name has letters, digits, '-', '_' and "
					      "dots only (character %zu of the name is not)",
					      i + 1);
		if (c < '0' || c > '9')
			numeric = 0;
	}
	if (flags & ADP_DOMAIN_REQUIRE_DOT) {
		if (labels < 2)
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "a domain name needs at least two labels "
					      "(e.g. example.com)");
		if (numeric)
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "the top-level label is all digits: an IP "
					      "address is not a domain name");
	}
	return DECONF_OK;
}

int adp_domain_canon(const char *v, size_t n, int flags, char *out, size_t cap, size_t *out_len,
		     char *errstr, size_t errstr_size)
{
	char *in = NULL, *a = NULL;
	size_t alen;
	int rc;

	if (n > 0 && v[n - 1] == '.')
		n--;
	if (n == 0)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "empty domain name");
	if (!is_ascii_span(v, n) || has_xn_label(v, n))
		goto idna;
	if (n > cap || n > DOMAIN_MAX)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "a domain name has at most %d characters", DOMAIN_MAX);
	for (size_t i = 0; i < n; i++)
		out[i] = (char)adp_lower((unsigned char)v[i]);
	if ((rc = check_labels(out, n, flags, errstr, errstr_size)))
		return rc;
	*out_len = n;
	return DECONF_OK;

idna:
	for (size_t i = 0, adv; i < n; i += adv)
		if (adp_is_space_or_control(adp_utf8_next((const uint8_t *)v + i, n - i, &adv)))
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "a domain name has no spaces or control characters");
	if (!(in = strndup(v, n)))
		return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
	rc = idn2_lookup_u8((const uint8_t *)in, (uint8_t **)&a,
			    IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
	free(in);
	if (rc == IDN2_MALLOC)
		return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
	if (rc != IDN2_OK)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "not a valid internationalized domain name (%s)",
				      idn2_strerror(rc));
	alen = strlen(a);
	/* A trailing ideographic full stop maps to '.' only now. */
	if (alen > 0 && a[alen - 1] == '.')
		alen--;
	if (alen > cap || alen > DOMAIN_MAX) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				    "a domain name has at most %d characters", DOMAIN_MAX);
		goto out;
	}
	if (!(rc = check_labels(a, alen, flags, errstr, errstr_size))) {
		memcpy(out, a, alen);
		*out_len = alen;
	}
out:
	idn2_free(a);
	return rc;
}

int adp_norm_domain(const char *v, size_t n, uint8_t *out, size_t *out_len, char *errstr,
		    size_t errstr_size)
{
	return adp_domain_canon(v, n, ADP_DOMAIN_REQUIRE_DOT, (char *)out, ADP_CANON_MAX, out_len,
				errstr, errstr_size);
}

/* ----------------------------------------------------------------- e-mail */

/*
 * local@domain: exactly one '@', a non-empty local part without spaces,
 * control characters or the RFC 5322 specials ("(),:;<>[\] — which only
 * appear in quoted local parts or in a pasted "Name <addr>"), lower-cased
 * (ASCII, or NFC and per-code-point lower case for internationalized local
 * parts); the domain as for the domain type. No provider-specific folding
 * (dots, +tags) in v1.
 */
int adp_norm_email(const char *v, size_t n, uint8_t *out, size_t *out_len, char *errstr,
		   size_t errstr_size)
{
	const char *at = memchr(v, '@', n);
	size_t local_n, dlen, o = 0;
	utf8proc_uint8_t *nfc = NULL;
	int rc;

	if (!at || memchr(at + 1, '@', n - (size_t)(at - v) - 1))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "an e-mail address has exactly one '@'");
	local_n = (size_t)(at - v);
	if (local_n == 0)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "nothing before the '@'");
	if (at + 1 == v + n)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "nothing after the '@'");
	if (at[1] == '[')
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "address literals (user@[192.0.2.1]) are not supported");

	/* Unicode local parts are checked after NFC, which can turn a
	 * character into one of the specials (U+037E GREEK QUESTION MARK
	 * becomes ';'). */
	const uint8_t *local = (const uint8_t *)v;
	size_t ln = local_n;
	if (!is_ascii_span(v, local_n)) {
		utf8proc_ssize_t r = utf8proc_map(local, (utf8proc_ssize_t)local_n, &nfc,
						  UTF8PROC_STABLE | UTF8PROC_COMPOSE |
							  UTF8PROC_REJECTNA);
		if (r < 0) {
			if (r == UTF8PROC_ERROR_NOMEM)
				return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM,
						      "out of memory");
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "the e-mail address has a character not "
					      "assigned in Unicode %s",
					      utf8proc_unicode_version());
		}
		local = nfc;
		ln = (size_t)r;
	}
	for (size_t i = 0, adv; i < ln; i += adv) {
		int32_t c = adp_utf8_next(local + i, ln - i, &adv);
		if (adp_is_space_or_control(c)) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					    "an e-mail address has no spaces or control "
					    "characters");
			goto out;
		}
		if (c < 0x80 && strchr("\"(),:;<>[\\]@", (int)c)) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					    "'%c' is not allowed in an e-mail address (quoted "
					    "local parts and \"Name <addr>\" are not supported)",
					    (char)c);
			goto out;
		}
		if (o + 4 > ADP_CANON_MAX) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					    "e-mail address too long");
			goto out;
		}
		if (c < 0x80)
			out[o++] = (uint8_t)adp_lower(c);
		else
			o += (size_t)utf8proc_encode_char(utf8proc_tolower(c), out + o);
	}

	if (o + 1 >= ADP_CANON_MAX) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "e-mail address too long");
		goto out;
	}
	out[o++] = '@';
	rc = adp_domain_canon(at + 1, n - local_n - 1, ADP_DOMAIN_REQUIRE_DOT, (char *)out + o,
			      ADP_CANON_MAX - o, &dlen, errstr, errstr_size);
	if (!rc)
		*out_len = o + dlen;
out:
	free(nfc);
	return rc;
}

/* -------------------------------------------------------------------- url */

/*
 * RFC 3986 syntax-based normalization (uriparser's uriNormalizeSyntax:
 * scheme and host lower-case, percent-encoding in upper-case hex and
 * unreserved characters decoded, dot segments removed) plus scheme-based
 * normalization (RFC 3986 6.2.3). Choices where docs/design.md is silent:
 *  - the URL must be absolute with an authority and a non-empty host
 *    ("scheme://host..."); "example.com/x" is refused rather than guessed
 *    to be http or https; any scheme is accepted;
 *  - the default port of http/ws (80), https/wss (443) and ftp (21) is
 *    dropped, as is an empty port; other ports lose leading zeros;
 *  - an empty path becomes "/";
 *  - IPv6 hosts are written in RFC 5952 form;
 *  - a host with non-ASCII characters becomes its IDNA A-label
 *    (libidn2, as for the domain type but a single label is fine); other
 *    non-ASCII bytes, and the ASCII characters browsers also escape
 *    (" < > \ ^ ` { | } [ ] outside the host), are percent-encoded,
 *    so an IRI and its URI form are one indicator;
 *  - one trailing dot on the host (the DNS root) is dropped, as for the
 *    domain type;
 *  - user info, query and fragment are kept (case-sensitive), as is an
 *    empty query "?";
 *  - white space inside the URL is refused (it is more often two values
 *    pasted together than a space that belongs to the URL).
 */
/* Every byte may become %XX; the host may grow into its A-label (<= 253). */
#define URL_WORK_MAX (3 * ADP_INPUT_MAX + 512)

static const char *const default_ports[][2] = {
	{ "http", "80" }, { "https", "443" }, { "ws", "80" }, { "wss", "443" }, { "ftp", "21" },
};

static void encode_byte(char *w, size_t *o, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";

	w[(*o)++] = '%';
	w[(*o)++] = hex[c >> 4];
	w[(*o)++] = hex[c & 0xf];
}

/* Copy v[0..n) to w, percent-encoding what a URI cannot hold as is. */
static int url_copy_escaped(const char *v, size_t n, size_t base, char *w, size_t *o,
			    char *errstr, size_t errstr_size)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '%' && (i + 2 >= n || !adp_is_xdigit((unsigned char)v[i + 1]) ||
				 !adp_is_xdigit((unsigned char)v[i + 2])))
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "'%%' not followed by two hex digits (character %zu)",
					      base + i + 1);
		if (c >= 0x80 || strchr("\"<>\\^`{|}[]", c))
			encode_byte(w, o, c);
		else
			w[(*o)++] = (char)c;
	}
	return DECONF_OK;
}

/* Build the URI text of v in w: IDNA host, escaped non-ASCII elsewhere. */
static int url_prepare(const char *v, size_t n, char *w, size_t *wlen, char *errstr,
		       size_t errstr_size)
{
	size_t i = 0, o = 0, auth_end, host_start, host_end;
	const char *at;
	int rc;

	for (size_t k = 0, adv; k < n; k += adv)
		if (adp_is_space_or_control(adp_utf8_next((const uint8_t *)v + k, n - k, &adv)))
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "a URL has no spaces or control characters "
					      "(character %zu)",
					      k + 1);
	/* scheme ":" "//" */
	if (n == 0 || !adp_is_alpha((unsigned char)v[0]))
		goto no_scheme;
	while (i < n && (adp_is_alnum((unsigned char)v[i]) || v[i] == '+' || v[i] == '-' || v[i] == '.'))
		i++;
	if (n - i < 3 || memcmp(v + i, "://", 3))
		goto no_scheme;
	i += 3;
	memcpy(w, v, i);
	o = i;

	/* authority: [userinfo "@"] host [":" port] */
	auth_end = i;
	while (auth_end < n && v[auth_end] != '/' && v[auth_end] != '?' && v[auth_end] != '#')
		auth_end++;
	host_start = i;
	for (at = v + auth_end; at > v + i; at--)
		if (at[-1] == '@') {
			host_start = (size_t)(at - v);
			if ((rc = url_copy_escaped(v + i, host_start - 1 - i, i, w, &o,
						   errstr, errstr_size)))
				return rc;
			w[o++] = '@';
			break;
		}
	host_end = host_start;
	if (host_start < auth_end && v[host_start] == '[') {
		while (host_end < auth_end && v[host_end] != ']')
			host_end++;
		if (host_end < auth_end)
			host_end++;
	} else
		while (host_end < auth_end && v[host_end] != ':')
			host_end++;
	if (!is_ascii_span(v + host_start, host_end - host_start)) {
		size_t dlen;
		if ((rc = adp_domain_canon(v + host_start, host_end - host_start, 0, w + o,
					   URL_WORK_MAX - o, &dlen, errstr, errstr_size)))
			return rc;
		o += dlen;
	} else {
		size_t hn = host_end - host_start;
		/* the DNS root dot, as adp_domain_canon() drops it */
		if (hn > 0 && v[host_start] != '[' && v[host_end - 1] == '.')
			hn--;
		/* a host ending in "..": an empty label (else "a.." would become
		 * "a.", which becomes "a": not a fixed point) */
		if (hn > 0 && v[host_start] != '[' && v[host_start + hn - 1] == '.')
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "the host has an empty label (\"..\")");
		memcpy(w + o, v + host_start, hn);
		o += hn;
	}
	memcpy(w + o, v + host_end, auth_end - host_end); /* port: uriparser checks it */
	o += auth_end - host_end;

	/* path, query, fragment */
	if ((rc = url_copy_escaped(v + auth_end, n - auth_end, auth_end, w, &o, errstr,
				    errstr_size)))
		return rc;
	*wlen = o;
	return DECONF_OK;

no_scheme:
	return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
			      "a URL starts with its scheme and host (e.g. https://example.com/)");
}

struct url_out {
	uint8_t *p;
	size_t n;
	int overflow;
};

static void put(struct url_out *u, const char *s, size_t n)
{
	if (u->overflow || n > ADP_CANON_MAX - u->n) {
		u->overflow = 1;
		return;
	}
	memcpy(u->p + u->n, s, n);
	u->n += n;
}

static void put_range(struct url_out *u, const UriTextRangeA *r)
{
	put(u, r->first, (size_t)(r->afterLast - r->first));
}

static int url_write(const UriUriA *uri, uint8_t *out, size_t *out_len, char *errstr,
		     size_t errstr_size)
{
	struct url_out u = { out, 0, 0 };
	size_t scheme_n = (size_t)(uri->scheme.afterLast - uri->scheme.first);
	char buf[INET6_ADDRSTRLEN + 2];

	put_range(&u, &uri->scheme);
	put(&u, "://", 3);
	if (uri->userInfo.first) {
		put_range(&u, &uri->userInfo);
		put(&u, "@", 1);
	}
	if (uri->hostData.ip4) {
		const unsigned char *a = uri->hostData.ip4->data;
		int k = snprintf(buf, sizeof(buf), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		put(&u, buf, (size_t)k);
	} else if (uri->hostData.ip6) {
		buf[0] = '[';
		if (!inet_ntop(AF_INET6, uri->hostData.ip6->data, buf + 1, sizeof(buf) - 2))
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "bad IPv6 host");
		put(&u, buf, strlen(buf));
		put(&u, "]", 1);
	} else if (uri->hostData.ipFuture.first) {
		put(&u, "[", 1);
		put_range(&u, &uri->hostText);
		put(&u, "]", 1);
	} else
		put_range(&u, &uri->hostText);

	if (uri->portText.first && uri->portText.afterLast > uri->portText.first) {
		const char *p = uri->portText.first, *e = uri->portText.afterLast;
		unsigned long port = 0;
		while (p < e - 1 && *p == '0')
			p++;
		for (const char *q = p; q < e; q++) {
			port = port * 10 + (unsigned long)(*q - '0');
			if (port > 65535)
				return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
						      "port number above 65535");
		}
		int is_default = 0;
		for (size_t i = 0; i < sizeof(default_ports) / sizeof(default_ports[0]); i++)
			if (strlen(default_ports[i][0]) == scheme_n &&
			    !memcmp(default_ports[i][0], uri->scheme.first, scheme_n) &&
			    (size_t)(e - p) == strlen(default_ports[i][1]) &&
			    !memcmp(default_ports[i][1], p, (size_t)(e - p)))
				is_default = 1;
		if (!is_default) {
			put(&u, ":", 1);
			put(&u, p, (size_t)(e - p));
		}
	}

	if (!uri->pathHead)
		put(&u, "/", 1);
	for (const UriPathSegmentA *s = uri->pathHead; s; s = s->next) {
		put(&u, "/", 1);
		put_range(&u, &s->text);
	}
	if (uri->query.first) {
		put(&u, "?", 1);
		put_range(&u, &uri->query);
	}
	if (uri->fragment.first) {
		put(&u, "#", 1);
		put_range(&u, &uri->fragment);
	}
	if (u.overflow)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "the normalized URL is longer than %d bytes", ADP_CANON_MAX);
	*out_len = u.n;
	return DECONF_OK;
}

int adp_norm_url(const char *v, size_t n, uint8_t *out, size_t *out_len, char *errstr,
		 size_t errstr_size)
{
	UriUriA uri;
	const char *err_pos = NULL;
	char *w;
	size_t wlen = 0;
	int rc, parsed = 0;

	if (!(w = malloc(URL_WORK_MAX)))
		return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
	if ((rc = url_prepare(v, n, w, &wlen, errstr, errstr_size)))
		goto out;
	memset(&uri, 0, sizeof(uri));
	if ((rc = uriParseSingleUriExA(&uri, w, w + wlen, &err_pos)) != URI_SUCCESS) {
		if (rc == URI_ERROR_MALLOC)
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
		else
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					    "not a valid URL (near character %zu)",
					    err_pos ? (size_t)(err_pos - w) + 1 : (size_t)1);
		goto out;
	}
	parsed = 1;
	if (!uri.scheme.first || !uri.hostText.first ||
	    (uri.hostText.afterLast == uri.hostText.first && !uri.hostData.ip6 &&
	     !uri.hostData.ipFuture.first)) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				    "a URL starts with its scheme and host (e.g. https://example.com/)");
		goto out;
	}
	if ((rc = uriNormalizeSyntaxA(&uri)) != URI_SUCCESS) {
		rc = deconf_err_set(errstr, errstr_size,
				    rc == URI_ERROR_MALLOC ? DECONF_E_NOMEM : DECONF_E_INVAL,
				    "the URL could not be normalized");
		goto out;
	}
	/* a host whose dots were percent-encoded ("%2e") has them now: held
	 * to the rules url_prepare applies to the host as written, so that
	 * the canonical form is a fixed point ("p://%2e" would become
	 * "p://./", whose host is empty once its root dot is dropped) */
	if (!uri.hostData.ip4 && !uri.hostData.ip6 && !uri.hostData.ipFuture.first) {
		const char *h = uri.hostText.first;
		size_t hn = (size_t)(uri.hostText.afterLast - h);

		if (hn == 0 || h[hn - 1] == '.' || memmem(h, hn, "..", 2)) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					    "the host has an empty label (an encoded \".\")");
			goto out;
		}
	}
	rc = url_write(&uri, out, out_len, errstr, errstr_size);
out:
	if (parsed)
		uriFreeUriMembersA(&uri);
	free(w);
	return rc;
}
