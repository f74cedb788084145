/* console_html.c — the console's pages, rendered on the server (see console_html.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "console_html.h"
#include "deconf/enum.h"
#include "deconf/limits.h"
#include "deconf/text.h"
#include "deconf/token.h"
#include "deconf/util.h"
#include "notices.h"
#include "receipts.h"

/* ------------------------------------------------------------- buffer */

static int reserve(struct adp_html *h, size_t more)
{
	size_t cap;
	char *p;

	if (h->failed)
		return -1;
	if (more > ADP_HTML_MAX - h->len - 1 || h->len >= ADP_HTML_MAX) {
		h->failed = 1;
		return -1;
	}
	if (h->len + more + 1 <= h->cap)
		return 0;
	cap = h->cap ? h->cap : 4096;
	while (cap < h->len + more + 1)
		cap *= 2;
	if (!(p = realloc(h->p, cap))) {
		h->failed = 1;
		return -1;
	}
	h->p = p;
	h->cap = cap;
	return 0;
}

static void put(struct adp_html *h, const char *s, size_t n)
{
	if (reserve(h, n))
		return;
	memcpy(h->p + h->len, s, n);
	h->len += n;
	h->p[h->len] = '\0';
}

void adp_html_raw(struct adp_html *h, const char *markup)
{
	put(h, markup, strlen(markup));
}

void adp_html_rawf(struct adp_html *h, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		h->failed = 1;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		put(h, small, (size_t)n);
		return;
	}
	if (reserve(h, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(h->p + h->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	h->len += (size_t)n;
}

void adp_html_text(struct adp_html *h, const void *s, size_t len)
{
	char small[1024], *vis = small;
	size_t size = sizeof(small);

	if (!len || h->failed)
		return;
	/* First visible and inert for a reader (controls, bad UTF-8, bidi
	 * as escapes: ASCII and printable UTF-8 only remain), then inert
	 * for the HTML parser. */
	if (DECONF_TEXT_TERMINAL_SIZE(len) > sizeof(small)) {
		if (len > ADP_HTML_MAX || !(vis = malloc(DECONF_TEXT_TERMINAL_SIZE(len)))) {
			h->failed = 1;
			return;
		}
		size = DECONF_TEXT_TERMINAL_SIZE(len);
	}
	deconf_text_for_terminal(vis, size, s, len);
	for (const char *c = vis; *c; c++) {
		switch (*c) {
		case '&': put(h, "&amp;", 5); break;
		case '<': put(h, "&lt;", 4); break;
		case '>': put(h, "&gt;", 4); break;
		case '"': put(h, "&quot;", 6); break;
		case '\'': put(h, "&#39;", 5); break;
		default: {
			size_t run = strcspn(c, "&<>\"'");
			put(h, c, run);
			c += run - 1;
		}
		}
	}
	if (vis != small)
		free(vis);
}

void adp_html_str(struct adp_html *h, const char *s)
{
	if (s)
		adp_html_text(h, s, strlen(s));
}

char *adp_html_take(struct adp_html *h, size_t *len)
{
	char *p = h->p;

	if (h->failed || !p) {
		adp_html_free(h);
		return NULL;
	}
	if (len)
		*len = h->len;
	memset(h, 0, sizeof(*h));
	return p;
}

void adp_html_free(struct adp_html *h)
{
	free(h->p);
	memset(h, 0, sizeof(*h));
}

/* ------------------------------------------------------------- frame */

/* Readable on a laptop, keyboard focus always visible, no asset loaded. */
static const char style[] =
	"body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#f6f6f4}"
	"header{background:#1f3a5f;color:#fff;padding:.6em 1.2em;display:flex;gap:2em;"
	"align-items:baseline;flex-wrap:wrap}"
	"header h1{font-size:1.15em;margin:0}"
	"nav a{color:#fff;margin-right:1.2em}nav a[aria-current]{font-weight:bold;"
	"text-decoration:none;border-bottom:3px solid #ffd166}"
	"main{max-width:72em;margin:0 auto;padding:1em 1.2em}"
	"a:focus,button:focus,input:focus,select:focus{outline:3px solid #ffbf47;"
	"outline-offset:2px}"
	"form.filters{display:flex;flex-wrap:wrap;gap:.8em;align-items:flex-end;"
	"background:#fff;padding:.8em;border:1px solid #ccc;margin-bottom:1em}"
	"form label{display:flex;flex-direction:column;font-size:.9em}"
	"form.ack{display:flex;gap:.8em;align-items:flex-end;margin-top:.5em}"
	"p.ok{font-weight:bold}"
	"input,select,button{font:inherit;padding:.25em .4em}"
	"button{background:#1f3a5f;color:#fff;border:0;padding:.35em 1em;cursor:pointer}"
	"article{background:#fff;border:1px solid #ccc;border-left:5px solid #1f3a5f;"
	"padding:.6em 1em;margin:.8em 0}"
	"article.caution{border-left-color:#b00020}"
	"article.urgent{border-left-color:#b00020;background:#fff4f4}"
	"p.urgent{color:#b00020;font-weight:bold;margin:.2rem 0}"
	"article h2{font-size:1.05em;margin:.1em 0 .4em}"
	"dl{display:grid;grid-template-columns:11em 1fr;gap:.15em 1em;margin:0}"
	"dt{color:#555}dd{margin:0;overflow-wrap:anywhere}"
	".value{font-family:ui-monospace,monospace;background:#fff3c4;padding:0 .25em}"
	".caution-flags{color:#b00020;font-weight:bold}"
	"table{border-collapse:collapse;background:#fff;width:100%}"
	"th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
	".error{color:#b00020;font-weight:bold}.empty,.note{color:#555}"
	".mono{font-family:ui-monospace,monospace;font-size:.9em}";

void adp_html_begin(struct adp_html *h, const char *agency, enum adp_html_page page,
		    const char *title)
{
	static const struct {
		enum adp_html_page page;
		const char *href, *label;
	} nav[] = {
		{ ADP_PAGE_NOTICES, "/", "Notices" },
		{ ADP_PAGE_STATUS, "/status", "Receipts and refusals" },
		{ ADP_PAGE_LOOKUP, "/lookup", "Lookup" },
	};

	adp_html_raw(h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
			"<title>");
	adp_html_str(h, title);
	adp_html_raw(h, " · deconf · ");
	adp_html_str(h, agency);
	adp_html_raw(h, "</title><style>");
	adp_html_raw(h, style);
	adp_html_raw(h, "</style></head><body><header><h1>deconf console · ");
	adp_html_str(h, agency);
	adp_html_raw(h, "</h1><nav aria-label=\"pages\">");
	for (size_t i = 0; i < sizeof(nav) / sizeof(nav[0]); i++)
		adp_html_rawf(h, "<a href=\"%s\"%s>%s</a>", nav[i].href,
			      nav[i].page == page ? " aria-current=\"page\"" : "", nav[i].label);
	adp_html_raw(h, "</nav></header><main><h1>");
	adp_html_str(h, title);
	adp_html_raw(h, "</h1>\n");
}

void adp_html_end(struct adp_html *h)
{
	adp_html_raw(h, "\n<p class=\"note\">Raw values shown here come from this agency's own "
			"ledger: they never leave this machine.</p></main></body></html>\n");
}

void adp_html_message(struct adp_html *h, const char *cls, const char *text)
{
	adp_html_rawf(h, "<p class=\"%s\">", cls);
	adp_html_str(h, text);
	adp_html_raw(h, "</p>\n");
}

/* --------------------------------------------------------- notices */

static void when(char *buf, size_t size, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || !gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M UTC", &tm))
		snprintf(buf, size, "-");
}

/* An <option> of a select; value and label are this program's. */
static void option(struct adp_html *h, const char *value, const char *label,
		   const char *selected)
{
	adp_html_rawf(h, "<option value=\"%s\"%s>%s</option>", value,
		      selected && !strcmp(selected, value) ? " selected" : "", label);
}

/* The options of an enum's select, named by the descriptor (enum.h). */
static void enum_options(struct adp_html *h, const ProtobufCEnumDescriptor *d,
			 const char *selected)
{
	char name[DECONF_ENUM_NAME_SIZE], label[DECONF_ENUM_NAME_SIZE];

	for (unsigned i = 0; i < d->n_values; i++) {
		const char *nm = d->values[i].value
					 ? deconf_enum_name(name, sizeof(name), d, d->values[i].value, NULL)
					 : NULL;

		if (!nm)
			continue; /* UNSPECIFIED, NONE: "any" stands for them */
		snprintf(label, sizeof(label), "%s", nm);
		for (char *c = label; *c; c++)
			if (*c == '_')
				*c = ' ';
		option(h, nm, label, selected);
	}
}

static void text_input(struct adp_html *h, const char *id, const char *label, const char *type,
		       const char *value)
{
	adp_html_rawf(h, "<label for=\"%s\">%s<input id=\"%s\" name=\"%s\" type=\"%s\" value=\"",
		      id, label, id, id, type);
	adp_html_str(h, value);
	adp_html_raw(h, "\"></label>");
}

void adp_html_notice_filters(struct adp_html *h, const struct adp_html_filters *f)
{
	/* GET: a filtered view is a link one can keep; it carries case refs
	 * and dates, never a raw value. */
	adp_html_raw(h, "<form class=\"filters\" method=\"get\" action=\"/\" "
			"aria-label=\"filter notices\">");
	text_input(h, "case", "Your case", "text", f->case_ref);
	adp_html_raw(h, "<label for=\"kind\">Kind<select id=\"kind\" name=\"kind\">");
	option(h, "", "any", f->kind);
	enum_options(h, &deconf__v1__notice_kind__descriptor, f->kind);
	adp_html_raw(h, "</select></label>");
	adp_html_raw(h, "<label for=\"caution\">Caution<select id=\"caution\" name=\"caution\">");
	option(h, "", "any", f->caution);
	enum_options(h, &deconf__v1__caution_flag__descriptor, f->caution);
	adp_html_raw(h, "</select></label>");
	text_input(h, "since", "From (date)", "date", f->since);
	text_input(h, "until", "To (date)", "date", f->until);
	adp_html_rawf(h, "<label for=\"unacked\"><input id=\"unacked\" name=\"unacked\" "
			 "type=\"checkbox\" value=\"1\"%s>Unacknowledged only</label>",
		      f->unacked && *f->unacked ? " checked" : "");
	adp_html_raw(h, "<button type=\"submit\">Filter</button> <a href=\"/\">clear</a></form>\n");
}

static void bytes(struct adp_html *h, ProtobufCBinaryData b)
{
	adp_html_text(h, b.data, b.len);
}

/* The outcomes of mask (bit 1 << Outcome), by name, comma-separated. */
static void outcome_list(struct adp_html *h, uint32_t mask)
{
	char name[DECONF_ENUM_NAME_SIZE];
	int first = 1;

	for (unsigned b = 1; b < 32; b++) {
		if (!(mask & (1u << b)))
			continue;
		adp_html_raw(h, first ? "" : ", ");
		adp_html_str(h, deconf_enum_name(name, sizeof(name), &deconf__v1__outcome__descriptor,
						 (int)b, "unknown outcome"));
		first = 0;
	}
}

/* Where this agency stands on notice hex (ack: the ledger's record, NULL:
 * none) and the form that records an outcome. */
static void notice_ack(struct adp_html *h, const char *hex, const struct adp_ack *ack)
{
	char name[DECONF_ENUM_NAME_SIZE];

	adp_html_raw(h, "<dt>Acknowledged</dt><dd class=\"ack\">");
	if (ack && ack->outcomes)
		outcome_list(h, ack->outcomes);
	else
		adp_html_raw(h, "not acknowledged");
	/* the last one sent, when the federation has not accepted it: never
	 * shown as an outcome it holds */
	if (ack && ack->state != ADP_ACK_CONFIRMED && ack->last) {
		adp_html_raw(h, " (last sent: ");
		adp_html_str(h, deconf_enum_name(name, sizeof(name),
						 &deconf__v1__outcome__descriptor, ack->last,
						 "unknown outcome"));
		adp_html_raw(h, ack->state == ADP_ACK_REFUSED
					? ", refused by the federation)"
					: ", waiting for the federation's receipt)");
	}
	adp_html_raw(h, "</dd></dl>");
	adp_html_rawf(h, "<form class=\"ack\" method=\"post\" action=\"/ack\" "
			 "aria-label=\"acknowledge notice %s\">"
			 "<input type=\"hidden\" name=\"notice\" value=\"%s\">"
			 "<label for=\"o-%s\">Outcome<select id=\"o-%s\" name=\"outcome\">",
		      hex, hex, hex, hex);
	enum_options(h, &deconf__v1__outcome__descriptor, NULL);
	adp_html_raw(h, "</select></label><button type=\"submit\">Acknowledge</button></form>");
}

void adp_html_notice(struct adp_html *h, const Deconf__V1__ConflictNotice *n, const char *value,
		     size_t value_len, const struct adp_ack *ack)
{
	const Deconf__V1__Counterpart *cp = n->counterpart;
	const char *type = deconf_indicator_type_name(n->type);
	char at[40], hex[2 * DECONF_ID_LEN + 1], name[DECONF_ENUM_NAME_SIZE];

	when(at, sizeof(at), n->created_at);
	deconf_hex_encode(hex, n->notice_id.data,
			  n->notice_id.len > DECONF_ID_LEN ? DECONF_ID_LEN : n->notice_id.len);
	adp_html_rawf(h, "<article class=\"notice%s%s\" id=\"n-%s\"><h2>",
		      cp && cp->caution_flags ? " caution" : "",
		      adp_notice_is_event(n) ? " urgent" : "", hex);
	adp_html_str(h, deconf_enum_name(name, sizeof(name), &deconf__v1__notice_kind__descriptor,
					 n->kind, "unknown"));
	adp_html_raw(h, " · ");
	adp_html_str(h, at);
	if (adp_notice_is_event(n)) {
		/* two operations at one place and time: the events, not the
		 * cell that matched */
		adp_html_raw(h, " · urgent</h2><p class=\"urgent\">Another agency plans an "
				"operation at the same place and time.</p><dl><dt>Your event</dt><dd>");
		bytes(h, n->case_ref);
		adp_html_raw(h, " (");
		adp_html_str(h, deconf_enum_name(name, sizeof(name),
						 &deconf__v1__event_kind__descriptor, n->event_kind,
						 "an operation"));
		adp_html_raw(h, ")</dd>");
	} else {
		adp_html_raw(h, "</h2><dl><dt>Your case</dt><dd>");
		bytes(h, n->case_ref);
		adp_html_raw(h, "</dd><dt>Indicator</dt><dd>");
		adp_html_str(h, type ? type : "?");
		adp_html_raw(h, " ");
		if (value) {
			adp_html_raw(h, "<span class=\"value\">");
			adp_html_text(h, value, value_len);
			adp_html_raw(h, "</span>");
		} else {
			adp_html_raw(h, "<em>(no longer in the ledger)</em>");
		}
		adp_html_raw(h, "</dd>");
	}
	if (n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_SCOPED_MATCH) {
		char ref[2 * DECONF_ID_LEN + 1];
		deconf_hex_encode(ref, n->pair_ref.data,
				  n->pair_ref.len > DECONF_ID_LEN ? DECONF_ID_LEN : n->pair_ref.len);
		adp_html_rawf(h, "<dt>Scoped match</dt><dd>A partner outside your sharing scope, or "
				 "whose scope you are outside, also holds this indicator; who it is "
				 "and its case are not disclosed.</dd><dt>Reference</dt>"
				 "<dd class=\"mono\">%s</dd>",
			      ref);
		if (!cp || !cp->poc)
			adp_html_raw(h, "<dt>Contact</dt><dd>the federation's watch desk, quoting "
					"the reference</dd>");
	}
	if (cp && (cp->agency_id.len ||
		   n->kind != DECONF__V1__NOTICE_KIND__NOTICE_KIND_SCOPED_MATCH)) {
		const Deconf__V1__PointOfContact *poc = cp->poc;

		adp_html_rawf(h, "<dt>%s</dt><dd>",
			      n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH
				      ? "Matched by"
				      : "Also held by");
		if (cp->agency_name && *cp->agency_name)
			adp_html_str(h, cp->agency_name);
		else
			bytes(h, cp->agency_id);
		adp_html_raw(h, " (");
		bytes(h, cp->agency_id);
		adp_html_raw(h, "; ");
		adp_html_str(h, deconf_enum_name(name, sizeof(name),
						 &deconf__v1__agency_level__descriptor, cp->level,
						 "unknown level"));
		adp_html_raw(h, ", ");
		adp_html_str(h, cp->country && *cp->country ? cp->country : "?");
		adp_html_raw(h, ")</dd>");
		if (cp->case_ref.len) {
			adp_html_raw(h, "<dt>Their case</dt><dd>");
			bytes(h, cp->case_ref);
			adp_html_raw(h, "</dd>");
		}
		if (cp->first_seen) {
			when(at, sizeof(at), cp->first_seen);
			adp_html_raw(h, "<dt>Theirs since</dt><dd>");
			adp_html_str(h, at);
			adp_html_raw(h, "</dd>");
		}
		if (poc) {
			const char *f[] = { poc->name, poc->phone, poc->email, poc->unit };
			int any = 0;

			adp_html_raw(h, "<dt>Contact</dt><dd>");
			for (size_t i = 0; i < 4; i++) {
				if (!f[i] || !*f[i])
					continue;
				if (any++)
					adp_html_raw(h, ", ");
				adp_html_str(h, f[i]);
			}
			adp_html_raw(h, "</dd>");
		}
		if (cp->caution_flags) {
			int first = 1;

			adp_html_raw(h, "<dt>Caution</dt><dd class=\"caution-flags\">");
			for (unsigned b = 0; b < 32; b++) {
				const char *nm;

				if (!(cp->caution_flags & (1u << b)))
					continue;
				nm = deconf_enum_name(name, sizeof(name),
						      &deconf__v1__caution_flag__descriptor,
						      (int)(1u << b), "unknown flag");
				adp_html_raw(h, first ? "" : ", ");
				adp_html_str(h, nm);
				first = 0;
			}
			adp_html_raw(h, "</dd>");
		}
		if (adp_notice_is_event(n)) {
			char from[40];
			adp_html_raw(h, "<dt>Their event</dt><dd class=\"event\">");
			adp_html_str(h, deconf_enum_name(name, sizeof(name),
							 &deconf__v1__event_kind__descriptor,
							 cp->event_kind, "an operation"));
			when(from, sizeof(from), cp->window_from);
			when(at, sizeof(at), cp->window_to);
			adp_html_raw(h, ", ");
			adp_html_str(h, from);
			adp_html_raw(h, " to ");
			adp_html_str(h, at);
			adp_html_rawf(h, "</dd><dt>Distance</dt><dd class=\"band\">centres within "
					 "about %u m</dd>",
				      n->distance_band_m);
		}
		if (n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH)
			adp_html_raw(h, "<dt>Note</dt><dd>your entry is restricted: they were not "
					"told; you decide whether to reach out</dd>");
	}
	if (n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_ACKNOWLEDGED ||
	    n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_REMINDER) {
		char about[2 * DECONF_ID_LEN + 1];
		deconf_hex_encode(about, n->about_notice_id.data,
				  n->about_notice_id.len > DECONF_ID_LEN ? DECONF_ID_LEN
									 : n->about_notice_id.len);
		if (n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_ACKNOWLEDGED) {
			adp_html_raw(h, "<dt>They recorded</dt><dd class=\"outcome\">");
			adp_html_str(h, deconf_enum_name(name, sizeof(name),
							 &deconf__v1__outcome__descriptor,
							 n->outcome, "unknown outcome"));
			adp_html_raw(h, "</dd>");
		} else {
			adp_html_raw(h, "<dt>Reminder</dt><dd>not acknowledged in time, and the "
					"conflict carries a caution flag: the federation's watch desk "
					"was told. Acknowledge the notice it is about.</dd>");
		}
		adp_html_rawf(h, "<dt>About your notice</dt><dd class=\"mono\"><a href=\"#n-%s\">%s"
				 "</a></dd>",
			      about, about);
	}
	if (n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_EXPIRY_WARNING) {
		when(at, sizeof(at), n->expires_at);
		adp_html_raw(h, "<dt>Expires</dt><dd>");
		adp_html_str(h, at);
		adp_html_raw(h, " unless renewed</dd>");
	}
	adp_html_rawf(h, "<dt>Notice</dt><dd class=\"mono\">%s</dd>", hex);
	/* the id given to the form is the full one, or there is no form */
	if (adp_notice_acknowledgeable(n) && n->notice_id.len == DECONF_ID_LEN)
		notice_ack(h, hex, ack);
	else
		adp_html_raw(h, "</dl>");
	adp_html_raw(h, "</article>\n");
}

/* ---------------------------------------------------------- status */

void adp_html_status_case(struct adp_html *h, const struct adp_case_status *cs)
{
	char name[64], at[40], hex[2 * ADP_SUBMISSION_ID_LEN + 1];

	adp_html_raw(h, "<tr><th scope=\"row\">");
	adp_html_str(h, cs->case_ref);
	adp_html_rawf(h,
		      "</th><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td>"
		      "<td>%llu</td><td>",
		      (unsigned long long)cs->confirmed, (unsigned long long)cs->pending,
		      (unsigned long long)cs->queued, (unsigned long long)cs->removing,
		      (unsigned long long)cs->refused, (unsigned long long)cs->remove_refused);
	for (size_t i = 0; i < cs->n_refusals; i++) {
		const struct adp_status_refusal *g = &cs->refusals[i];

		deconf_hex_encode(hex, g->submission_id, 8);
		when(at, sizeof(at), g->decided_at);
		adp_html_rawf(h, "<p><strong>%s</strong> (", g->removal ? "withdrawal refused"
									: "refused");
		adp_html_str(h, adp_reason_name(g->reason, name, sizeof(name)));
		adp_html_rawf(h, "), %llu entr%s, submission <span class=\"mono\">%s</span>, ",
			      (unsigned long long)g->entries, g->entries == 1 ? "y" : "ies", hex);
		adp_html_str(h, at);
		adp_html_raw(h, ": ");
		adp_html_str(h, g->detail[0] ? g->detail : "(no detail kept)");
		adp_html_raw(h, "<br>next: ");
		adp_html_str(h, adp_refusal_next(adp_refusal_rule(g->reason)));
		adp_html_raw(h, "</p>");
	}
	adp_html_raw(h, "</td></tr>\n");
}

void adp_html_status_totals(struct adp_html *h, const struct adp_status_totals *tot)
{
	adp_html_rawf(h,
		      "<p>Total: %llu case(s); entries: %llu confirmed, %llu pending, %llu "
		      "queued, %llu being withdrawn, %llu refused, %llu withdrawal(s) refused; "
		      "%llu submission(s) waiting for a receipt, %llu refused kept.</p>\n",
		      (unsigned long long)tot->cases, (unsigned long long)tot->confirmed,
		      (unsigned long long)tot->pending, (unsigned long long)tot->queued,
		      (unsigned long long)tot->removing, (unsigned long long)tot->refused,
		      (unsigned long long)tot->remove_refused,
		      (unsigned long long)tot->subs_waiting, (unsigned long long)tot->subs_refused);
	if (tot->notices_lost || tot->receipts_lost)
		adp_html_rawf(h,
			      "<p class=\"error\">Lost and accepted: %lld notice record(s), %lld "
			      "receipt record(s).</p>\n",
			      (long long)tot->notices_lost, (long long)tot->receipts_lost);
}

/* ---------------------------------------------------------- lookup */

void adp_html_lookup_form(struct adp_html *h, const char *type, const char *qualifier)
{
	static const char *const types[] = { "phone", "email", "ip",   "username", "url",
					     "domain", "md5",  "sha1", "sha256",   "btc",
					     "eth",    "imei", "mac",  "vehicle" };

	/* POST: the value travels in the body, never in a URL (history,
	 * logs, Referer). */
	adp_html_raw(h, "<form class=\"filters\" method=\"post\" action=\"/lookup\" "
			"autocomplete=\"off\" aria-label=\"look up a value\">"
			"<label for=\"type\">Type<select id=\"type\" name=\"type\">");
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		option(h, types[i], types[i], type);
	adp_html_raw(h, "</select></label>");
	adp_html_raw(h, "<label for=\"value\">Value<input id=\"value\" name=\"value\" "
			"type=\"text\" size=\"40\" required autofocus></label>");
	text_input(h, "qualifier", "Platform / jurisdiction", "text", qualifier);
	adp_html_raw(h, "<button type=\"submit\">Look up</button></form>\n"
			"<p class=\"note\">The value is canonicalized and hashed on this machine "
			"with the agency's key; it is not sent anywhere and not logged.</p>\n");
}
