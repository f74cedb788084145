/* console.c — the analyst's console: HTTP, access and routing (see console.h). */
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "console.h"
#include "console_html.h"
#include "deconf/enum.h"
#include "deconf/err.h"
#include "deconf/log.h"
#include "deconf/token.h"
#include "deconf/util.h"
#include "nfilter.h"
#include "notices.h"
#include "status.h"
#include "submit.h"

#define TOKEN_BYTES 32
#define HOST_MAX 80
/* threads serving requests: an acknowledgment waits up to ~25 s for its
 * receipt, and the others go on serving pages meanwhile */
#define CONSOLE_THREADS 4

struct console {
	struct adp_agency *a;
	char token[2 * TOKEN_BYTES + 1];
	char host[HOST_MAX];      /* the Host a request must name ("" : any) */
	char host_alt[HOST_MAX];  /* localhost:PORT for 127.0.0.1 */
	int tls;                  /* HTTPS (console.tls_cert) */
	int client_certs;         /* console.client_ca: certificates let in */
	/* one acknowledgment at a time (it borrows the agency's settings and
	 * its lazily opened keys); pages are served meanwhile by the pool's
	 * other threads, which only read the ledger */
	pthread_mutex_t ack_lock;
};

/* One request's body (POST), kept until it is complete, and who made it. */
struct req {
	char *body;
	size_t len;
	int too_big;
	char who[256]; /* a client certificate's subject, or "the token's holder" */
};

/* ------------------------------------------------------------ forms */

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

int adp_console_form_field(const char *body, size_t len, const char *name, char *out,
			   size_t out_size, size_t *out_len)
{
	size_t nlen = strlen(name), i = 0;

	while (i < len) {
		size_t end = i, eq;

		while (end < len && body[end] != '&')
			end++;
		for (eq = i; eq < end && body[eq] != '='; eq++)
			;
		if (eq - i == nlen && !memcmp(body + i, name, nlen)) {
			size_t o = 0;

			for (size_t k = eq < end ? eq + 1 : end; k < end; k++) {
				int c = (unsigned char)body[k];

				if (c == '+') {
					c = ' ';
				} else if (c == '%') {
					int hi, lo;
					if (k + 2 >= end)
						return DECONF_E_INVAL;
					if ((hi = hexval(body[k + 1])) < 0 ||
					    (lo = hexval(body[k + 2])) < 0)
						return DECONF_E_INVAL;
					c = hi << 4 | lo;
					k += 2;
				}
				if (o + 1 >= out_size)
					return DECONF_E_INVAL;
				out[o++] = (char)c;
			}
			if (!out_size)
				return DECONF_E_INVAL;
			out[o] = '\0';
			*out_len = o;
			return DECONF_OK;
		}
		i = end + 1;
	}
	return DECONF_E_UNKNOWN;
}

/* ----------------------------------------------------------- listen */

int adp_console_parse_listen(const char *listen, void *sa, size_t *sa_len, int *loopback,
			     char *errstr, size_t errstr_size)
{
	char addr[64];
	const char *colon = strrchr(listen, ':'), *a = listen;
	size_t alen;
	char *end;
	long port;

	if (!colon || colon == listen)
		goto bad;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 0 || port > 65535)
		goto bad;
	alen = (size_t)(colon - listen);
	if (alen >= 2 && listen[0] == '[' && listen[alen - 1] == ']') {
		a = listen + 1;
		alen -= 2;
	} else if (memchr(listen, ':', alen)) {
		goto bad; /* IPv6 without brackets: where does the port start? */
	}
	if (alen == 0 || alen >= sizeof(addr))
		goto bad;
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	if (!strcmp(addr, "localhost"))
		snprintf(addr, sizeof(addr), "127.0.0.1");
	memset(sa, 0, sizeof(struct sockaddr_in6));
	{
		struct sockaddr_in *s4 = sa;
		struct sockaddr_in6 *s6 = sa;

		if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)port);
			*sa_len = sizeof(*s4);
			*loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
			return DECONF_OK;
		}
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)port);
			*sa_len = sizeof(*s6);
			*loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
			return DECONF_OK;
		}
	}
bad:
	return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
			      "--listen: '%.80s' is not ADDR:PORT (an IPv4 address, or an IPv6 "
			      "one in brackets, and a port 0-65535)",
			      listen);
}

/* ---------------------------------------------------------- replies */

static void secure_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'none'; style-src 'unsafe-inline'; "
				"form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	/* same-origin, not no-referrer: with no-referrer a browser sends
	 * "Origin: null" on a form POST, and the CSRF check needs it */
	MHD_add_response_header(r, "Referrer-Policy", "same-origin");
	MHD_add_response_header(r, "Cache-Control", "no-store");
}

/* Send body (malloc'ed, taken over; NULL: out of memory, 500). */
static enum MHD_Result send_page(struct MHD_Connection *c, unsigned code, char *body,
				 size_t len, const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!body) {
		static const char oom[] = "out of memory\n";
		r = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom,
						    MHD_RESPMEM_PERSISTENT);
		code = 500;
		type = "text/plain; charset=utf-8";
	} else {
		r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	}
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	secure_headers(r);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned code, const char *text)
{
	char *body = strdup(text);

	return send_page(c, code, body, body ? strlen(body) : 0, "text/plain; charset=utf-8");
}

static enum MHD_Result send_html(struct MHD_Connection *c, unsigned code, struct adp_html *h)
{
	size_t len = 0;
	char *body = adp_html_take(h, &len);

	return send_page(c, code, body, len, "text/html; charset=utf-8");
}

/* ----------------------------------------------------------- access */

static int token_equal(const struct console *cs, const char *given)
{
	return given && strlen(given) == strlen(cs->token) &&
	       CRYPTO_memcmp(given, cs->token, strlen(cs->token)) == 0;
}

static int host_ok(const struct console *cs, struct MHD_Connection *c)
{
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);

	if (!cs->host[0])
		return 1; /* a remote console answers to whatever name it is given */
	return host && (!strcmp(host, cs->host) || (cs->host_alt[0] && !strcmp(host, cs->host_alt)));
}

/*
 * The request's client certificate, verified against console.client_ca
 * (the chain, its validity period, and a key purpose that allows TLS
 * client use): 1, with its subject in who; else 0. GnuTLS verifies: MHD
 * only asks for the certificate (MHD_OPTION_HTTPS_MEM_TRUST).
 */
static int client_cert(struct MHD_Connection *c, char *who, size_t who_size)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_typed_vdata_st purpose = { .type = GNUTLS_DT_KEY_PURPOSE_OID,
					  .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT };
	const gnutls_datum_t *chain;
	gnutls_session_t s;
	gnutls_x509_crt_t crt;
	gnutls_datum_t dn = { NULL, 0 };
	unsigned status = 1, n = 0;

	if (!ci || !(s = ci->tls_session))
		return 0;
	if (gnutls_certificate_verify_peers(s, &purpose, 1, &status) < 0 || status)
		return 0;
	if (!(chain = gnutls_certificate_get_peers(s, &n)) || !n)
		return 0;
	snprintf(who, who_size, "a client certificate");
	if (gnutls_x509_crt_init(&crt) >= 0) {
		if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) >= 0 &&
		    gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0)
			snprintf(who, who_size, "%.*s", (int)dn.size, (const char *)dn.data);
		gnutls_free(dn.data);
		gnutls_x509_crt_deinit(crt);
	}
	return 1;
}

/* The lookup POST comes from this console's own page: its Origin (or,
 * when a client sends none, its Referer) is this server. */
static int same_origin(const struct console *cs, struct MHD_Connection *c)
{
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	const char *referer = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Referer");
	char want[HOST_MAX + 16];
	size_t n;

	if (!host)
		return 0;
	n = (size_t)snprintf(want, sizeof(want), "%s://%s", cs->tls ? "https" : "http", host);
	if (n >= sizeof(want))
		return 0;
	if (origin)
		return !strcmp(origin, want);
	return referer && !strncmp(referer, want, n) && (referer[n] == '/' || !referer[n]);
}

/* ------------------------------------------------------------ pages */

struct list_ctx {
	struct adp_html *h;
	const struct adp_nfilter *f;
	struct adp_ledger_txn *t; /* where the acks records are read */
	size_t shown, total;
	/* lookup: only notices of these tokens */
	const uint8_t (*tokens)[DECONF_TOKEN_LEN];
	const uint32_t *epochs;
	size_t n_tokens;
};

static void list_notice(void *opaque, const Deconf__V1__ConflictNotice *n, const char *value,
			size_t value_len)
{
	struct list_ctx *lc = opaque;
	struct adp_ack ack;
	int have_ack = 0;

	if (lc->n_tokens) {
		size_t i;

		for (i = 0; i < lc->n_tokens; i++)
			if (n->token.len == DECONF_TOKEN_LEN && n->key_epoch == lc->epochs[i] &&
			    !memcmp(n->token.data, lc->tokens[i], DECONF_TOKEN_LEN))
				break;
		if (i == lc->n_tokens)
			return;
	}
	lc->total++;
	if (lc->f && !adp_nfilter_match(lc->f, n))
		return;
	lc->shown++;
	if (lc->t && n->notice_id.len == DECONF_ID_LEN)
		have_ack = !adp_ledger_ack_get(lc->t, n->notice_id.data, &ack);
	adp_html_notice(lc->h, n, value, value_len, have_ack ? &ack : NULL);
}

static const char *arg(struct MHD_Connection *c, const char *name)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);

	return v && *v ? v : NULL;
}

static enum MHD_Result page_notices(struct console *cs, struct MHD_Connection *c)
{
	struct adp_html h = { 0 };
	struct adp_html_filters hf = { arg(c, "case"), arg(c, "kind"), arg(c, "caution"),
				       arg(c, "since"), arg(c, "until"), arg(c, "unacked") };
	struct adp_nfilter f = { .case_ref = hf.case_ref };
	struct list_ctx lc = { .h = &h, .f = &f };
	struct adp_ledger_txn *t = NULL;
	char errstr[256] = "";
	int rc;

	adp_html_begin(&h, cs->a->id, ADP_PAGE_NOTICES, "Notices");
	adp_html_notice_filters(&h, &hf);
	/* each check fills errstr when it fails */
	if (hf.kind && !(f.kind = adp_nfilter_kind(hf.kind)))
		snprintf(errstr, sizeof(errstr), "unknown notice kind");
	else if (hf.caution && !(f.caution = adp_nfilter_caution(hf.caution)))
		snprintf(errstr, sizeof(errstr), "unknown caution flag");
	else if (!hf.since || !adp_nfilter_date(hf.since, 0, &f.since, errstr, sizeof(errstr)))
		if (hf.until)
			adp_nfilter_date(hf.until, 1, &f.until, errstr, sizeof(errstr));
	if (errstr[0]) {
		adp_html_message(&h, "error", errstr);
		adp_html_end(&h);
		return send_html(c, 400, &h);
	}
	adp_html_raw(&h, "<section aria-label=\"notices\">");
	if ((rc = adp_ledger_begin(cs->a->ledger, 1, &t)) ||
	    (lc.t = t, rc = adp_notices_list_in(t, 1, hf.unacked != NULL, list_notice, &lc))) {
		adp_ledger_abort(t);
		adp_html_free(&h);
		deconf_log(DECONF_LOG_ERR, "CONSOLE", "ledger: %s", deconf_strerror(rc));
		return send_text(c, 500, "the ledger could not be read (see the log)\n");
	}
	adp_ledger_abort(t);
	if (!lc.total && hf.unacked)
		adp_html_message(&h, "empty", "No unacknowledged notice.");
	else if (!lc.total)
		adp_html_message(&h, "empty",
				 "No notices yet (`deconf-adapter notices` or `run` fetches them).");
	else if (!lc.shown)
		adp_html_message(&h, "empty", "No notice matches these filters.");
	adp_html_raw(&h, "</section>");
	adp_html_rawf(&h, "<p class=\"note\">%zu of %zu notice(s) shown, newest first.</p>",
		      lc.shown, lc.total);
	adp_html_end(&h);
	return send_html(c, 200, &h);
}

static void status_case(void *opaque, const struct adp_case_status *st)
{
	adp_html_status_case(opaque, st);
}

static enum MHD_Result page_status(struct console *cs, struct MHD_Connection *c)
{
	struct adp_html h = { 0 };
	struct adp_status_totals tot;
	char errstr[256] = "";

	adp_html_begin(&h, cs->a->id, ADP_PAGE_STATUS, "Receipts and refusals");
	adp_html_raw(&h, "<p class=\"note\">Per case, what the federation holds, from the "
			 "receipts of this agency's submissions.</p>"
			 "<table><thead><tr><th scope=\"col\">Case</th>"
			 "<th scope=\"col\">Confirmed</th><th scope=\"col\">Pending</th>"
			 "<th scope=\"col\">Queued</th><th scope=\"col\">Being withdrawn</th>"
			 "<th scope=\"col\">Refused</th><th scope=\"col\">Withdrawal refused</th>"
			 "<th scope=\"col\">Refusals</th></tr></thead><tbody>\n");
	if (adp_status_walk(cs->a, NULL, 0, status_case, &h, &tot, errstr, sizeof(errstr))) {
		adp_html_free(&h);
		deconf_log(DECONF_LOG_ERR, "CONSOLE", "%s", errstr);
		return send_text(c, 500, "the ledger could not be read (see the log)\n");
	}
	adp_html_raw(&h, "</tbody></table>\n");
	adp_html_status_totals(&h, &tot);
	adp_html_end(&h);
	return send_html(c, 200, &h);
}

static const char *state_name(int s)
{
	switch (s) {
	case ADP_ENTRY_PENDING: return "queued";
	case ADP_ENTRY_SENT: return "pending (no receipt yet)";
	case ADP_ENTRY_REMOVING: return "being withdrawn";
	case ADP_ENTRY_QUERY: return "asked by a query (not registered)";
	case ADP_ENTRY_CONFIRMED: return "confirmed";
	case ADP_ENTRY_REFUSED: return "refused";
	case ADP_ENTRY_REMOVE_REFUSED: return "withdrawal refused";
	default: return "unknown";
	}
}

struct hold_ctx {
	struct adp_html *h;
	const uint8_t (*tokens)[DECONF_TOKEN_LEN];
	const uint32_t *epochs;
	size_t n_tokens, found;
};

static int hold_entry(void *opaque, const char *case_ref, const struct adp_entry *e)
{
	struct hold_ctx *hc = opaque;

	for (size_t i = 0; i < hc->n_tokens; i++) {
		if (e->epoch != hc->epochs[i] || memcmp(e->token, hc->tokens[i], DECONF_TOKEN_LEN))
			continue;
		if (!hc->found++)
			adp_html_raw(hc->h, "<table><thead><tr><th scope=\"col\">Your case</th>"
					    "<th scope=\"col\">Value as held</th>"
					    "<th scope=\"col\">State</th><th scope=\"col\">Key "
					    "epoch</th></tr></thead><tbody>");
		adp_html_raw(hc->h, "<tr><th scope=\"row\">");
		adp_html_str(hc->h, case_ref);
		adp_html_raw(hc->h, "</th><td><span class=\"value\">");
		adp_html_text(hc->h, e->value, e->value_len);
		adp_html_rawf(hc->h, "</span></td><td>%s</td><td>%u</td></tr>",
			      state_name(e->state), e->epoch);
	}
	return 0;
}

#define LOOKUP_EPOCHS 16

static enum MHD_Result page_lookup(struct console *cs, struct MHD_Connection *c,
				   const struct req *rq)
{
	struct adp_html h = { 0 };
	char type_s[32] = "", qual[256] = "", value[ADP_INPUT_MAX + 1], errstr[256] = "";
	uint8_t canon[ADP_CANON_MAX], tokens[LOOKUP_EPOCHS][DECONF_TOKEN_LEN];
	uint32_t epochs[LOOKUP_EPOCHS];
	size_t vlen = 0, qlen = 0, tlen = 0, clen = 0, n = 0;
	struct adp_ledger_txn *t = NULL;
	int type = 0, rc;
	unsigned code = 200;

	if (rq) {
		if (rq->too_big ||
		    adp_console_form_field(rq->body, rq->len, "type", type_s, sizeof(type_s),
					   &tlen) ||
		    adp_console_form_field(rq->body, rq->len, "value", value, sizeof(value),
					   &vlen))
			snprintf(errstr, sizeof(errstr), "the form was not filled in as expected");
		else if ((rc = adp_console_form_field(rq->body, rq->len, "qualifier", qual,
						      sizeof(qual), &qlen)) &&
			 rc != DECONF_E_UNKNOWN)
			snprintf(errstr, sizeof(errstr), "the platform or jurisdiction is too long");
		else if (!(type = deconf_indicator_type_parse(type_s)))
			snprintf(errstr, sizeof(errstr), "unknown indicator type");
		else if (adp_normalize(type, qlen ? qual : NULL, value, vlen, &cs->a->norm, canon,
				       &clen, errstr, sizeof(errstr)) && !errstr[0])
			snprintf(errstr, sizeof(errstr), "the value was refused");
	}
	adp_html_begin(&h, cs->a->id, ADP_PAGE_LOOKUP, "Lookup");
	adp_html_lookup_form(&h, type_s[0] ? type_s : NULL, qlen ? qual : NULL);
	if (!rq)
		goto out;
	if (errstr[0]) {
		adp_html_message(&h, "error", errstr);
		code = 400;
		goto out;
	}
	/* every epoch the key file holds: the ledger may still hold entries
	 * (and notices) of an earlier one */
	for (size_t i = 0; i < deconf_keyring_count(cs->a->ring) && n < LOOKUP_EPOCHS; i++) {
		struct deconf_tokenizer *tk = NULL;
		uint32_t ep = deconf_keyring_epoch_at(cs->a->ring, i);

		if (deconf_tokenizer_new(&tk, cs->a->ring, ep))
			continue;
		if (!deconf_token(tk, type, canon, clen, tokens[n]))
			epochs[n++] = ep;
		deconf_tokenizer_free(tk);
	}
	adp_html_raw(&h, "<section aria-label=\"lookup result\"><h2>");
	adp_html_str(&h, type_s);
	adp_html_raw(&h, " <span class=\"value\">");
	adp_html_text(&h, value, vlen);
	adp_html_raw(&h, "</span></h2>");
	if (type != DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_IP) {
		adp_html_raw(&h, "<p>Canonical form: <span class=\"value\">");
		adp_html_text(&h, canon, clen);
		adp_html_raw(&h, "</span></p>");
	}
	{
		struct hold_ctx hc = { .h = &h, .tokens = (const uint8_t(*)[DECONF_TOKEN_LEN])tokens,
				       .epochs = epochs, .n_tokens = n };
		struct list_ctx lc = { .h = &h, .tokens = (const uint8_t(*)[DECONF_TOKEN_LEN])tokens,
				       .epochs = epochs, .n_tokens = n };

		adp_html_raw(&h, "<h3>Your cases holding it</h3>");
		if ((rc = adp_ledger_begin(cs->a->ledger, 1, &t)) ||
		    (rc = adp_ledger_foreach(t, NULL, hold_entry, &hc))) {
			adp_ledger_abort(t);
			adp_html_free(&h);
			deconf_log(DECONF_LOG_ERR, "CONSOLE", "ledger: %s", deconf_strerror(rc));
			return send_text(c, 500, "the ledger could not be read (see the log)\n");
		}
		if (hc.found)
			adp_html_raw(&h, "</tbody></table>");
		else
			adp_html_message(&h, "empty", "None of this agency's cases holds it.");
		adp_html_raw(&h, "<h3>What the federation told you about it</h3>");
		lc.t = t;
		rc = adp_notices_list_in(t, 1, 0, list_notice, &lc);
		adp_ledger_abort(t);
		if (rc) {
			adp_html_free(&h);
			deconf_log(DECONF_LOG_ERR, "CONSOLE", "ledger: %s", deconf_strerror(rc));
			return send_text(c, 500, "the ledger could not be read (see the log)\n");
		}
		if (!lc.shown)
			adp_html_message(&h, "empty", "No notice about it.");
	}
	adp_html_raw(&h, "</section>");
out:
	/* the value is on the stack: wiped before it is given back */
	OPENSSL_cleanse(value, sizeof(value));
	adp_html_end(&h);
	return send_html(c, code, &h);
}

/* The console waits this long at most for Kafka and for the receipt of an
 * acknowledgment (the browser is waiting): drain() adds 10 s to the
 * first, so a request lasts 25 s at worst. */
#define ACK_DELIVERY_MS 5000
#define ACK_RECEIPT_MS 10000

/*
 * POST /ack: notice=<id in hex>&outcome=<name>, published as `ack` does
 * (adp_submit_ack), waiting a bounded time for the receipt. The page says
 * what the federation answered, and only that: accepted, refused (why),
 * or sent and not yet answered; Kafka unreachable is said as such, and
 * nothing is then recorded as acknowledged (the ledger's outbox keeps the
 * submission for the next run).
 */
static enum MHD_Result page_ack(struct console *cs, struct MHD_Connection *c,
				const struct req *rq)
{
	struct adp_html h = { 0 };
	struct adp_submit_stats st = { 0 };
	struct adp_submit_opts o = { .source = "console" };
	struct adp_agency *a = cs->a;
	int64_t save_delivery, save_receipt;
	char hex[2 * DECONF_ID_LEN + 1] = "", oname[DECONF_ENUM_NAME_SIZE] = "";
	char errstr[1024] = "", line[1400], *report = NULL;
	uint8_t id[DECONF_ID_LEN];
	size_t hlen = 0, olen = 0, rlen = 0;
	unsigned code = 200;
	int outcome = 0, rc;
	FILE *rep;

	adp_html_begin(&h, a->id, ADP_PAGE_NOTICES, "Acknowledgment");
	if (rq->too_big ||
	    adp_console_form_field(rq->body, rq->len, "notice", hex, sizeof(hex), &hlen) ||
	    adp_console_form_field(rq->body, rq->len, "outcome", oname, sizeof(oname), &olen) ||
	    hlen != 2 * DECONF_ID_LEN || deconf_hex_decode(id, sizeof(id), hex, hlen) ||
	    strlen(oname) != olen ||
	    !(outcome = deconf_enum_value(&deconf__v1__outcome__descriptor, oname))) {
		adp_html_message(&h, "error", "the form was not filled in as expected (a notice "
					      "id and an outcome)");
		code = 400;
		goto out;
	}
	/* refusals are written to the report: kept to be shown */
	if (!(rep = open_memstream(&report, &rlen))) {
		adp_html_free(&h);
		return send_text(c, 500, "out of memory\n");
	}
	o.report = rep;
	pthread_mutex_lock(&cs->ack_lock);
	save_delivery = a->set.submit_timeout;
	save_receipt = a->set.submit_confirm_timeout;
	if (a->set.submit_timeout > ACK_DELIVERY_MS)
		a->set.submit_timeout = ACK_DELIVERY_MS;
	if (a->set.submit_confirm_timeout > ACK_RECEIPT_MS)
		a->set.submit_confirm_timeout = ACK_RECEIPT_MS;
	deconf_log(DECONF_LOG_NOTICE, "CONSOLE", "acknowledging notice %s as %s, for %s", hex,
		   oname, rq->who);
	rc = adp_submit_ack(a, id, outcome, &o, &st, errstr, sizeof(errstr));
	a->set.submit_timeout = save_delivery;
	a->set.submit_confirm_timeout = save_receipt;
	pthread_mutex_unlock(&cs->ack_lock);
	fclose(rep);
	if (rc) {
		deconf_log(DECONF_LOG_WARNING, "CONSOLE", "ack %s: %s", hex,
			   errstr[0] ? errstr : deconf_strerror(rc));
		if (rc == DECONF_E_UNKNOWN || rc == DECONF_E_INVAL) {
			code = rc == DECONF_E_UNKNOWN ? 404 : 400;
			adp_html_message(&h, "error", errstr[0] ? errstr : deconf_strerror(rc));
		} else if (rc == DECONF_E_KAFKA || rc == DECONF_E_TIMEOUT) {
			code = 503;
			snprintf(line, sizeof(line),
				 "Not acknowledged: Kafka could not be reached, and nothing is "
				 "recorded as acknowledged. The acknowledgment stays in the "
				 "ledger's outbox; the next `deconf-adapter run` sends it. (%s)",
				 errstr[0] ? errstr : deconf_strerror(rc));
			adp_html_message(&h, "error", line);
		} else {
			code = 500;
			snprintf(line, sizeof(line), "Not acknowledged: %s",
				 errstr[0] ? errstr : deconf_strerror(rc));
			adp_html_message(&h, "error", line);
		}
	} else if (st.refused) {
		snprintf(line, sizeof(line), "Refused by the federation: %s for notice %s was not "
			 "recorded.", oname, hex);
		adp_html_message(&h, "error", line);
		adp_html_raw(&h, "<p class=\"error\">Reason: ");
		adp_html_text(&h, report, rlen);
		adp_html_raw(&h, "</p>\n");
	} else if (st.accepted && !st.unconfirmed) {
		snprintf(line, sizeof(line), "Accepted: the federation recorded %s for notice %s "
			 "and tells the other agency.", oname, hex);
		adp_html_message(&h, "ok", line);
	} else {
		snprintf(line, sizeof(line), "Sent, waiting for the federation's receipt: %s for "
			 "notice %s is not confirmed yet (none came within %d s). The notices page "
			 "shows it once the receipt is read; `deconf-adapter ack` again is harmless.",
			 oname, hex, ACK_RECEIPT_MS / 1000);
		adp_html_message(&h, "note", line);
	}
out:
	/* hex is this program's only once the form was read */
	adp_html_rawf(&h, "<p><a href=\"/%s%s\">Back to the notices</a></p>", outcome ? "#n-" : "",
		      outcome ? hex : "");
	free(report);
	adp_html_end(&h);
	return send_html(c, code, &h);
}

/* --------------------------------------------------------- routing */

static enum MHD_Result login(struct console *cs, struct MHD_Connection *c)
{
	struct MHD_Response *r;
	char cookie[128 + 2 * TOKEN_BYTES];
	enum MHD_Result ret;

	if (!token_equal(cs, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token")))
		return send_text(c, 403, "forbidden: open the URL deconf-adapter serve printed\n");
	snprintf(cookie, sizeof(cookie), "%s=%s; HttpOnly; SameSite=Strict; Path=/%s",
		 ADP_CONSOLE_COOKIE, cs->token, cs->tls ? "; Secure" : "");
	if (!(r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)))
		return MHD_NO;
	secure_headers(r);
	MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
	/* the token leaves the address bar (and the history) at once */
	MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, "/");
	ret = MHD_queue_response(c, 303, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct console *cs = cls;
	struct req *rq = *con_cls;
	int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	int post = !strcmp(method, "POST");

	(void)version;
	if (!rq) { /* first call: headers only */
		if (!(rq = calloc(1, sizeof(*rq))))
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_data_size) { /* a piece of the body, kept within bounds */
		size_t n = *upload_data_size;

		if (!rq->too_big && rq->len + n <= ADP_CONSOLE_BODY_MAX) {
			char *b = realloc(rq->body, rq->len + n + 1);
			if (!b)
				return MHD_NO;
			memcpy(b + rq->len, upload_data, n);
			rq->body = b;
			rq->len += n;
			b[rq->len] = '\0';
		} else {
			rq->too_big = 1;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!host_ok(cs, c))
		return send_text(c, 403, "forbidden: unexpected Host\n");
	if (get && !strcmp(url, "/login"))
		return login(cs, c);
	if (token_equal(cs, MHD_lookup_connection_value(c, MHD_COOKIE_KIND, ADP_CONSOLE_COOKIE)))
		snprintf(rq->who, sizeof(rq->who), "the token's holder");
	else if (!cs->client_certs || !client_cert(c, rq->who, sizeof(rq->who)))
		return send_text(c, 403,
				 cs->client_certs
					 ? "forbidden: present a client certificate this console "
					   "accepts, or open the URL deconf-adapter serve printed\n"
					 : "forbidden: open the URL deconf-adapter serve printed\n");
	if (post) {
		if (strcmp(url, "/lookup") && strcmp(url, "/ack"))
			return send_text(c, 405, "method not allowed\n");
		if (!same_origin(cs, c))
			return send_text(c, 403, "forbidden: not from this console's own page\n");
		if (rq->too_big)
			return send_text(c, 413, "request too large\n");
		if (!strcmp(url, "/ack"))
			return page_ack(cs, c, rq);
		return page_lookup(cs, c, rq);
	}
	if (!get)
		return send_text(c, 405, "method not allowed\n");
	if (!strcmp(url, "/"))
		return page_notices(cs, c);
	if (!strcmp(url, "/status"))
		return page_status(cs, c);
	if (!strcmp(url, "/lookup"))
		return page_lookup(cs, c, NULL);
	return send_text(c, 404, "not found\n");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq) {
		if (rq->body) /* may hold a looked-up value */
			OPENSSL_cleanse(rq->body, rq->len);
		free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

/* ------------------------------------------------------------- run */

/* console.tls_cert, tls_key and client_ca, read (PEM; NULL: not set). */
struct tls_files {
	char *cert, *key, *ca;
	size_t key_len;
};

static void tls_free(struct tls_files *t)
{
	if (t->key)
		OPENSSL_cleanse(t->key, t->key_len);
	free(t->key);
	free(t->cert);
	free(t->ca);
	memset(t, 0, sizeof(*t));
}

static int tls_load(struct adp_agency *a, struct tls_files *t, char *errstr, size_t errstr_size)
{
	const char *cert = a->set.console_tls_cert, *key = a->set.console_tls_key;
	const char *ca = a->set.console_client_ca;
	size_t len;
	int rc;

	if (!cert && !key && !ca)
		return DECONF_OK;
	if (!cert || !key)
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s: console.tls_cert and console.tls_key go together%s",
				      deconf_conf_origin(a->conf, cert ? "console.tls_cert"
								  : key ? "console.tls_key"
									: "console.client_ca"),
				      ca ? " (console.client_ca needs both: client certificates "
					   "are only asked for over HTTPS)"
					 : "");
	if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "console.tls_cert: this libmicrohttpd has no TLS support");
	if ((rc = deconf_file_read(cert, 1 << 20, 0, &t->cert, &len, errstr, errstr_size)) ||
	    (rc = deconf_file_read(key, 1 << 20, 1, &t->key, &t->key_len, errstr,
				   errstr_size)) ||
	    (ca && (rc = deconf_file_read(ca, 1 << 20, 0, &t->ca, &len, errstr, errstr_size)))) {
		tls_free(t);
		return rc == DECONF_E_PERM ? rc : DECONF_E_CONFIG;
	}
	return DECONF_OK;
}

int adp_console_run(struct adp_agency *a, const struct adp_console_opts *o, char *errstr,
		    size_t errstr_size)
{
	struct console cs = { .a = a, .ack_lock = PTHREAD_MUTEX_INITIALIZER };
	struct sockaddr_in6 sa;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	uint8_t raw[TOKEN_BYTES];
	char addr[INET6_ADDRSTRLEN], url_host[HOST_MAX];
	const char *listen = o->listen ? o->listen : ADP_CONSOLE_DEFAULT_LISTEN;
	struct tls_files tls = { 0 };
	size_t sa_len;
	unsigned port;
	int loopback, rc, v6;

	if ((rc = adp_console_parse_listen(listen, &sa, &sa_len, &loopback, errstr,
					   errstr_size)))
		return rc;
	if ((rc = tls_load(a, &tls, errstr, errstr_size)))
		return rc;
	cs.tls = tls.cert != NULL;
	cs.client_certs = tls.ca != NULL;
	if (!loopback && !o->allow_remote && !cs.tls) {
		tls_free(&tls);
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "--listen %s is not a loopback address: the console shows "
				      "raw values; set console.tls_cert and console.tls_key (and "
				      "console.client_ca for the analysts' certificates) to serve "
				      "it there over HTTPS, or pass --allow-remote to serve it over "
				      "plain HTTP anyway (token required)",
				      listen);
	}
	if ((rc = adp_agency_open_ledger(a, errstr, errstr_size)) ||
	    (rc = adp_agency_open_keys(a, errstr, errstr_size))) {
		tls_free(&tls);
		return rc;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return deconf_err_set(errstr, errstr_size, DECONF_E_IO,
				      "no randomness for the access token");
	deconf_hex_encode(cs.token, raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	v6 = ((struct sockaddr *)&sa)->sa_family == AF_INET6;
	{
		/* the TLS options, when there are any */
		struct MHD_OptionItem tlso[4];
		size_t k = 0;
		if (tls.cert) {
			tlso[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, tls.key };
			tlso[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, tls.cert };
		}
		if (tls.ca)
			tlso[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, tls.ca };
		tlso[k] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
		d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
					     (v6 ? MHD_USE_IPv6 : 0) | (tls.cert ? MHD_USE_TLS : 0),
				     0, NULL, NULL, handle, &cs, MHD_OPTION_SOCK_ADDR,
				     (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT,
				     (unsigned)30, MHD_OPTION_THREAD_POOL_SIZE,
				     (unsigned)CONSOLE_THREADS, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
				     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)32,
				     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_ARRAY,
				     tlso, MHD_OPTION_END);
	}
	if (!d) {
		OPENSSL_cleanse(cs.token, sizeof(cs.token));
		tls_free(&tls);
		return deconf_err_set(errstr, errstr_size, DECONF_E_IO,
				      cs.tls ? "cannot serve HTTPS on %s (address in use, or "
					       "console.tls_cert / tls_key / client_ca unusable: "
					       "see the log)"
					     : "cannot listen on %s (address in use?)",
				      listen);
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	port = info ? info->port : 0;
	if (v6)
		inet_ntop(AF_INET6, &sa.sin6_addr, addr, sizeof(addr));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, addr, sizeof(addr));
	/* on loopback, only the address served is a Host a browser can
	 * have reached us by (anything else: DNS rebinding); a remote
	 * console may have names this process does not know */
	if (loopback) {
		snprintf(cs.host, sizeof(cs.host), v6 ? "[%s]:%u" : "%s:%u", addr, port);
		if (!v6 && !strcmp(addr, "127.0.0.1"))
			snprintf(cs.host_alt, sizeof(cs.host_alt), "localhost:%u", port);
	}
	snprintf(url_host, sizeof(url_host), v6 ? "[%s]:%u" : "%s:%u", addr, port);
	fprintf(o->announce,
		"deconf console for %s: open\n  %s://%s/login?token=%s\n"
		"in a browser on this machine (the token is good until this process stops; "
		"Ctrl-C stops it)\n",
		a->id, cs.tls ? "https" : "http", url_host, cs.token);
	if (cs.client_certs)
		fprintf(o->announce,
			"or open %s://%s/ with a client certificate issued by %s\n",
			"https", url_host, a->set.console_client_ca);
	fflush(o->announce);
	deconf_log(DECONF_LOG_NOTICE, "CONSOLE", "serving the console on %s", url_host);
	while (!*o->stop) {
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(d);
	OPENSSL_cleanse(cs.token, sizeof(cs.token));
	tls_free(&tls);
	return DECONF_OK;
}
