/*
 * console_html.h — the analyst's console as HTML (console.h serves it).
 *
 * Everything the console shows is rendered here, on the server, into a
 * bounded buffer: no script, no external asset, one inline style sheet.
 *
 * Escaping: every piece of text that did not come from this file — what
 * other agencies wrote (names, contacts, case refs, carried by notices),
 * what the ledger holds (the agency's own case refs and raw values, from
 * input files that could hold anything), the broker's refusal details, and
 * whatever the request carried (filters, the looked-up value) — goes
 * through adp_html_text(), and nothing else writes outside text. It makes
 * the text visible and inert:
 *   - invalid UTF-8, C0 controls (NUL, ESC, CR, LF, TAB...), DEL, C1
 *     controls, bidi controls and the line/paragraph separators are shown
 *     as visible escapes (\xNN, \u{XXXX}: deconf_text_for_terminal()), so
 *     no byte can reorder the page or hide part of a value;
 *   - & < > " ' become character references, so no text can open a tag,
 *     close an attribute or start an entity, in element content and in
 *     quoted attribute values alike.
 *
 * Out of memory or past its maximum, a buffer stops growing and remembers
 * it (adp_html.failed): the caller then sends an error, never a page cut
 * in the middle.
 */
#ifndef ADP_CONSOLE_HTML_H
#define ADP_CONSOLE_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "deconf.pb-c.h"
#include "ledger.h"
#include "status.h"

#define ADP_HTML_MAX (64u << 20) /* a page larger than this is refused */

struct adp_html {
	char *p;       /* NUL-terminated when len > 0; the caller frees */
	size_t len, cap;
	int failed;    /* out of memory or past ADP_HTML_MAX */
};

/* Markup written by this program (never outside text). */
void adp_html_raw(struct adp_html *h, const char *markup);
void adp_html_rawf(struct adp_html *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Outside text s[0..len), escaped as above (s may be NULL when len is 0). */
void adp_html_text(struct adp_html *h, const void *s, size_t len);
/* The same for a C string (NULL: nothing). */
void adp_html_str(struct adp_html *h, const char *s);
/* Take the buffer (malloc'ed, NUL-terminated), leaving h empty; NULL when
 * h failed (then freed). */
char *adp_html_take(struct adp_html *h, size_t *len);
void adp_html_free(struct adp_html *h);

/* Which page is shown (its link is marked current in the navigation). */
enum adp_html_page {
	ADP_PAGE_NOTICES = 1,
	ADP_PAGE_STATUS = 2,
	ADP_PAGE_LOOKUP = 3,
};

/* The document's start (title, style sheet, header with the agency id and
 * navigation) and its end. */
void adp_html_begin(struct adp_html *h, const char *agency, enum adp_html_page page,
		    const char *title);
void adp_html_end(struct adp_html *h);

/* The notices page's filters, as the form shows them back (strings as the
 * request gave them; NULL or "" when not given). */
struct adp_html_filters {
	const char *case_ref, *kind, *caution, *since, *until;
	const char *unacked; /* non-empty: "unacknowledged only" is ticked */
};
void adp_html_notice_filters(struct adp_html *h, const struct adp_html_filters *f);

/* One notice, next to the agency's own case and raw value (value NULL:
 * the ledger no longer holds the entry). A notice this agency acknowledges
 * (adp_notice_acknowledgeable) also shows the outcomes the federation
 * accepted (ack: the ledger's acks record of it; NULL: none, "not
 * acknowledged"), the last one sent while it is unconfirmed or refused,
 * and a form that POSTs notice=<id in hex>&outcome=<name> to /ack; no
 * other notice has that form. */
void adp_html_notice(struct adp_html *h, const Deconf__V1__ConflictNotice *n, const char *value,
		     size_t value_len, const struct adp_ack *ack);

/* One case of the status page, and the totals. */
void adp_html_status_case(struct adp_html *h, const struct adp_case_status *cs);
void adp_html_status_totals(struct adp_html *h, const struct adp_status_totals *tot);

/* The lookup form; type/qualifier as last given (NULL: none). The value is
 * never put back into the form. */
void adp_html_lookup_form(struct adp_html *h, const char *type, const char *qualifier);

/* A paragraph of one sentence (escaped), with a class ("error", "empty",
 * "note"). */
void adp_html_message(struct adp_html *h, const char *cls, const char *text);

#endif
