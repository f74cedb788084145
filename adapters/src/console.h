/*
 * console.h — `deconf-adapter serve`: the analyst's console, a small web
 * server on the agency's own machine.
 *
 * Its pages read the agency's ledger (no Kafka, no write) and show, as
 * server-rendered HTML (console_html.h):
 *   /          the notices received, newest first, next to the agency's own
 *              case and raw value, with filters (case, kind, caution, dates;
 *              nfilter.h; unacknowledged only), and on each acknowledgeable
 *              notice its outcomes and an acknowledge form;
 *   /status    per case, what the federation holds: confirmed, pending,
 *              refused and why (status.h);
 *   /lookup    a value typed by the analyst, canonicalized and hashed here
 *              with the agency's key (every key epoch it holds): which of
 *              the agency's cases hold it and what the federation told it
 *              about it. The value comes in a POST body, and is never
 *              logged nor put in a URL;
 *   POST /ack  notice=<hex id>&outcome=<name>: published as `ack` does
 *              (adp_submit_ack: writes the ledger, needs Kafka), waiting at
 *              most ~25 s; the page says accepted, refused (why), sent but
 *              unconfirmed, or Kafka unreachable. One at a time; a pool of
 *              threads serves the pages meanwhile (they only read).
 * The raw values it shows are the agency's own: they never leave the
 * agency, and this server is meant for the agency's machine only.
 *
 * Security model:
 *   - bound to 127.0.0.1 by default; a non-loopback address is refused
 *     unless it serves HTTPS or allow_remote is set (the page then travels
 *     over plain HTTP: whoever can see the network sees raw values);
 *   - HTTPS with console.tls_cert and tls_key (libmicrohttpd over GnuTLS);
 *     with console.client_ca, each browser is asked for a certificate, and
 *     one that CA issued (verified by GnuTLS: chain, validity, a key
 *     purpose allowing TLS client use) lets its holder in without the
 *     token; acknowledgments are logged with its subject;
 *   - a random token (32 bytes, hex) made at each start is printed with
 *     the URL to open (/login?token=...); /login trades it for a cookie
 *     (HttpOnly, SameSite=Strict, Path=/; Secure over HTTPS), and every
 *     other request without that cookie (or an accepted certificate), with
 *     another token, or with a Host header that is not
 *     the address served, gets 403 (the Host check stops DNS rebinding);
 *   - the POSTs (lookup, ack) must also carry an
 *     Origin (or, without one, a Referer) of this very server: a page of
 *     another site cannot submit it (CSRF), even were the cookie sent;
 *   - every response carries Content-Security-Policy (default-src 'none';
 *     style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'),
 *     X-Content-Type-Options: nosniff, Referrer-Policy: same-origin and
 *     Cache-Control: no-store (pages hold raw values).
 */
#ifndef ADP_CONSOLE_H
#define ADP_CONSOLE_H

#include <stddef.h>
#include <stdio.h>

#include "agency.h"

#define ADP_CONSOLE_DEFAULT_LISTEN "127.0.0.1:8470"
#define ADP_CONSOLE_COOKIE "deconf_console"
#define ADP_CONSOLE_BODY_MAX 16384 /* a POST body larger than this is refused */

struct adp_console_opts {
	const char *listen;   /* "ADDR:PORT" (IPv4, or [IPv6]); NULL: the default;
				 port 0: any free port (the URL printed says which) */
	int allow_remote;     /* accept a non-loopback address */
	volatile int *stop;   /* serve until *stop */
	FILE *announce;       /* where the URL with the token is printed */
};

/*
 * Open the ledger and the key file of a, listen, print the console's URL
 * (with the token) to o->announce, and serve until *o->stop. Returns 0, or
 * an error with errstr (DECONF_E_CONFIG: a bad or refused address).
 */
int adp_console_run(struct adp_agency *a, const struct adp_console_opts *o, char *errstr,
		    size_t errstr_size);

/*
 * The value of field name in an application/x-www-form-urlencoded body
 * (body[0..len)), decoded ('+' is a space, %XX a byte) into out (out_size
 * bytes, NUL-terminated; the value may hold a NUL: *out_len is its
 * length). Returns 0, DECONF_E_UNKNOWN when the field is absent,
 * DECONF_E_INVAL when it is malformed or does not fit.
 */
int adp_console_form_field(const char *body, size_t len, const char *name, char *out,
			   size_t out_size, size_t *out_len);

/*
 * Parse "ADDR:PORT" into a socket address (sa: at least a struct
 * sockaddr_in6); *loopback says whether ADDR is a loopback address.
 * Returns 0 or DECONF_E_CONFIG with errstr.
 */
int adp_console_parse_listen(const char *listen, void *sa, size_t *sa_len, int *loopback,
			     char *errstr, size_t errstr_size);

#endif
