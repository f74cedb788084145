/* main.c — deconf-adapter, the program each partner agency runs. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agency.h"
#include "console.h"
#include "daemon.h"
#include "deconf.pb-c.h"
#include "deconf/enum.h"
#include "deconf/err.h"
#include "deconf/log.h"
#include "deconf/pki.h"
#include "deconf/sign.h"
#include "deconf/text.h"
#include "deconf/util.h"
#include "deconf/version.h"
#include "event.h"
#include "geocell.h"
#include "input.h"
#include "nfilter.h"
#include "normalize.h"
#include "notices.h"
#include "progress.h"
#include "receipts.h"
#include "status.h"
#include "submit.h"

extern char **environ;

#define EXIT_REFUSED 1 /* something was refused, not delivered or not confirmed */
#define EXIT_USAGE 2   /* bad command line or configuration */
#define MAX_SETS 64

#define USAGE_LINE "usage: deconf-adapter [-c agency.conf] [--set key=value]... COMMAND [ARGS]\n"

static const char usage[] =
	USAGE_LINE
	"\n"
	"The agency side of deconf: turns case indicators into keyed tokens, publishes\n"
	"them signed to the federation, and maps conflict notices back to your cases.\n"
	"Raw indicator values never leave this machine.\n"
	"\n"
	"Commands:\n"
	"  submit FILE|-          publish the cases of a CSV or JSON Lines file; only\n"
	"                         what changed since the last run is sent; then wait\n"
	"                         for the federation's receipts (submit.confirm_timeout)\n"
	"  check FILE|-           validate and normalize without publishing (dry run)\n"
	"  withdraw CASE [TYPE VALUE [QUALIFIER]]\n"
	"                         remove one indicator, or all of a case's indicators\n"
	"  close CASE             close a case: every entry of it is removed\n"
	"  event add REF kind=K lat=LAT lon=LON from=TIME to=TIME [radius=M]\n"
	"            [caution=F] [poc_name=..] [poc_phone=..] [address=..]\n"
	"                         an operation planned at a place and time (a search\n"
	"                         warrant, an arrest, an undercover meet...): only cells\n"
	"                         of a grid, hashed, leave this machine; another agency's\n"
	"                         operation there at that time is an urgent conflict\n"
	"  event cancel REF       cancel an event: its cells are removed\n"
	"  query FILE|-           check-only lookups: match without registering\n"
	"  notices [--follow] [--json] [--new] [--unacked] [--case CASE] [--kind KIND]\n"
	"          [--caution FLAG] [--since DATE] [--until DATE]\n"
	"                         conflict notices received, next to your own case and\n"
	"                         raw value; --follow waits for new ones\n"
	"  serve [--listen ADDR:PORT] [--allow-remote]\n"
	"                         the analyst's console: a local web page of the notices\n"
	"                         (with filters), the receipts and refusals per case, and\n"
	"                         a lookup box; reads the ledger only (no Kafka); prints\n"
	"                         the URL to open, with a fresh access token\n"
	"  ack NOTICE-ID OUTCOME  acknowledge a conflict notice and record an outcome:\n"
	"                         seen, counterpart_contacted, joint_investigation,\n"
	"                         not_related (a false match) or deconflicted (one side\n"
	"                         stands down); the counterpart is told; waits for the\n"
	"                         federation's receipt like submit\n"
	"  status [--json] [CASE...]\n"
	"                         per case, what the federation holds: confirmed,\n"
	"                         pending (sent, no receipt yet), refused and why;\n"
	"                         from the ledger alone (no Kafka)\n"
	"  resubmit               publish every held entry again under the current key\n"
	"                         epoch (after a key rotation), and every entry that has\n"
	"                         no receipt\n"
	"  run                    the daemon: submit files dropped in run.spool_dir, write\n"
	"                         notices and receipts to run.outbox_file and POST them to\n"
	"                         run.webhook_url; SIGTERM stops, SIGHUP reopens the log\n"
	"  hash TYPE VALUE        print the canonical form and token (no Kafka needed);\n"
	"                         hash event [--] LAT,LON[,RADIUS_M]: an event's cells\n"
	"                         (-- before a negative latitude)\n"
	"  init AGENCY-ID [DIR]   make this agency's keys on this machine (in DIR, default\n"
	"                         .): signing.key and agency.key (private, 0600), and what\n"
	"                         the federation operator needs: signing.pub and\n"
	"                         agency.csr; no private key ever leaves the agency\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE      agency configuration (INI); see --help-config\n"
	"      --set KEY=VALUE    override one configuration key (repeatable)\n"
	"      --format csv|jsonl submit/check/query: input format (default: by extension)\n"
	"      --skip-invalid     submit/check/query: publish the valid rows of a case\n"
	"                         that has bad rows\n"
	"      --no-progress      no progress bar even on a terminal\n"
	"      --no-wait          publishing commands, run: do not wait for receipts;\n"
	"                         what was sent stays pending (status shows it)\n"
	"      --retry-refused    publishing commands: send refused entries again whatever\n"
	"                         the reason (after fixing the agency's setup)\n"
	"      --accept-loss      publishing commands, notices, run: when records of the\n"
	"                         notices or receipts topic were deleted unread, record\n"
	"                         the loss in the ledger and go on (otherwise: exit 1)\n"
	"      --follow           notices: keep waiting for new notices (Ctrl-C stops)\n"
	"      --json             notices, status: one JSON object per line\n"
	"      --offline          notices: show stored notices without asking Kafka\n"
	"      --new              notices: only those no earlier `notices` listing printed\n"
	"                         (every listing records in the ledger what it printed,\n"
	"                         whatever its filters; the console records nothing)\n"
	"      --unacked          notices: only conflicts this agency has not acknowledged\n"
	"      --case CASE        notices: only those about your case CASE\n"
	"      --kind KIND        notices: only this kind (conflict, restricted_match,\n"
	"                         query_hit, queried, expiry_warning, expired, hot_token)\n"
	"      --caution FLAG     notices: only those whose counterpart carries FLAG\n"
	"                         (armed, undercover, active_operation, victim_at_risk,\n"
	"                         informant, court_sealed)\n"
	"      --since DATE, --until DATE\n"
	"                         notices: made by the federation from / until DATE\n"
	"                         (YYYY-MM-DD: that whole day; or RFC 3339)\n"
	"      --listen ADDR:PORT serve: where to listen (default " ADP_CONSOLE_DEFAULT_LISTEN ";\n"
	"                         port 0: any free one)\n"
	"      --allow-remote     serve: accept a non-loopback --listen address (plain\n"
	"                         HTTP: raw values cross the network; token required)\n"
	"      --key-file FILE    hash: the federation key file (else from -c)\n"
	"      --epoch N          hash: key epoch (default: the current one)\n"
	"      --qualifier Q      hash/withdraw: platform (username) or jurisdiction (vehicle)\n"
	"      --region CC        hash: default phone region (default US)\n"
	"  -h, --help             this help\n"
	"      --help-config      every configuration key, its type, default and meaning\n"
	"      --version          the version, commit and wire version\n"
	"\n"
	"Exit status: 0 all done (for publishing commands: every submission sent was\n"
	"accepted by the federation, or --no-wait); 1 input refused, Kafka did not\n"
	"confirm delivery, the federation refused something (now or earlier, still\n"
	"refused), a receipt did not come in time, or records were lost; 2 bad command\n"
	"line or configuration.\n";

/* Options that only some commands take (the rest are global). */
enum {
	F_FORMAT = 1 << 0,
	F_SKIP = 1 << 1,
	F_KEYFILE = 1 << 2,
	F_EPOCH = 1 << 3,
	F_QUAL = 1 << 4,
	F_REGION = 1 << 5,
	F_FOLLOW = 1 << 6,
	F_JSON = 1 << 7,
	F_OFFLINE = 1 << 8,
	F_NOWAIT = 1 << 9,
	F_LOSS = 1 << 10,
	F_RETRY = 1 << 11,
	F_FILTER = 1 << 12,
	F_LISTEN = 1 << 13,
	F_REMOTE = 1 << 14,
	F_UNACKED = 1 << 15,
};

static const char *const flag_names[] = { "--format",  "--skip-invalid", "--key-file",
					  "--epoch",   "--qualifier",    "--region",
					  "--follow",  "--json",         "--offline",
					  "--no-wait", "--accept-loss",  "--retry-refused",
					  "--new/--case/--kind/--caution/--since/--until",
					  "--listen",  "--allow-remote", "--unacked" };

struct args {
	const char *config;
	char *sets[MAX_SETS];
	size_t n_sets;
	enum adp_format format;
	int skip_invalid, no_progress, follow, json, offline;
	int no_wait, accept_loss, retry_refused, unacked;
	const char *key_file, *qualifier, *region;
	long epoch;
	unsigned given; /* F_* of the options given */
	struct adp_nfilter filter; /* notices */
	int only_new;
	const char *listen;
	int allow_remote;
};

static int die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "deconf-adapter: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n" USAGE_LINE "(deconf-adapter --help for more)\n");
	return EXIT_USAGE;
}

/* Refuse the options cmd does not take (a flag that would be ignored is
 * a mistake the user should hear about). */
static int check_flags(const struct args *ar, const char *cmd, unsigned allowed)
{
	unsigned extra = ar->given & ~allowed;

	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
		if (extra & (1u << i))
			return die_usage("%s does not apply to %s", flag_names[i], cmd);
	return 0;
}

/* ---------------------------------------------------------------- hash */

/* init AGENCY-ID [DIR]: the agency's keys, made where they are used. */
static int cmd_init(int argc, char **argv)
{
	static const char *const names[] = { "signing.key", "signing.pub", "agency.key",
					     "agency.csr" };
	char path[4][4096], errstr[1024];
	const char *dir = argc > 1 ? argv[1] : ".";
	struct deconf_sign_key *key = NULL;
	int rc;

	if (argc < 1 || argc > 2)
		return die_usage("%s", "init: expected AGENCY-ID [DIR]");
	if (!deconf_agency_id_valid(argv[0], strlen(argv[0])))
		return die_usage("init: '%s' is not an agency id (2 to 63 of a-z, 0-9 and '-', "
				 "not starting with '-')",
				 argv[0]);
	/* all or nothing: one existing file and nothing is made */
	for (int i = 0; i < 4; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/%s", dir, names[i]);
		if (access(path[i], F_OK) == 0) {
			fprintf(stderr,
				"deconf-adapter: %s exists: nothing made (keys are never "
				"replaced; move the old ones away first)\n",
				path[i]);
			return EXIT_REFUSED;
		}
	}
	if ((rc = deconf_sign_key_generate(&key, errstr, sizeof(errstr))) ||
	    (rc = deconf_sign_key_save_private(key, path[0], errstr, sizeof(errstr))) ||
	    (rc = deconf_sign_key_save_public(key, path[1], errstr, sizeof(errstr))) ||
	    (rc = deconf_pki_request(argv[0], path[2], path[3], errstr, sizeof(errstr)))) {
		deconf_sign_key_free(key);
		fprintf(stderr, "deconf-adapter: init: %s\n", errstr);
		for (int i = 0; i < 4; i++)
			unlink(path[i]); /* none existed before */
		return EXIT_REFUSED;
	}
	deconf_sign_key_free(key);
	printf("made for %s in %s:\n"
	       "  signing.key   the agency's Ed25519 signing key (0600): stays here\n"
	       "  agency.key    the agency's TLS key for Kafka (0600): stays here\n"
	       "  signing.pub   its public half: send to the federation operator\n"
	       "  agency.csr    a certificate request for agency.key: send to the operator\n"
	       "The operator runs\n"
	       "  deconfctl agency add %s --csr agency.csr --signing-pub signing.pub ...\n"
	       "and sends back a bundle without private keys (agency.pem, ca.pem,\n"
	       "federation.keys, broker.pub, agency.conf); put it beside these files.\n",
	       argv[0], dir, argv[0]);
	return 0;
}

/* hash event LAT,LON[,RADIUS_M]: each cell of the event, its role and
 * level, its canonical value and its token (docs/event-cells.md). */
static int hash_event(struct deconf_tokenizer *tk, const char *place)
{
	struct adp_geocell cells[ADP_GEOCELL_MAX];
	double v[3] = { 0, 0, DECONF_EVENT_RADIUS_DEFAULT_M };
	char errstr[256], q[ADP_EVENT_QUAL_MAX], hex[2 * DECONF_TOKEN_LEN + 1];
	uint8_t token[DECONF_TOKEN_LEN];
	const char *p = place;
	size_t n = 0, k = 0;

	for (; k < 3 && *p; k++) {
		char *end;
		v[k] = strtod(p, &end);
		if (end == p || (*end && *end != ','))
			break;
		p = *end ? end + 1 : end;
	}
	if (k < 2 || *p) {
		fprintf(stderr, "deconf-adapter: event: '%s' is not LAT,LON[,RADIUS_M]\n", place);
		return EXIT_USAGE;
	}
	if (adp_geocell_cover(v[0], v[1], v[2], cells, ADP_GEOCELL_MAX, &n, errstr,
			      sizeof(errstr))) {
		fprintf(stderr, "deconf-adapter: event: %s\n", errstr);
		return EXIT_REFUSED;
	}
	printf("epoch:     %u\n", deconf_tokenizer_epoch(tk));
	for (size_t i = 0; i < n; i++) {
		adp_event_qualifier(cells[i].role == ADP_GEOCELL_COVER
					    ? DECONF__V1__CELL_ROLE__CELL_ROLE_COVER
					    : DECONF__V1__CELL_ROLE__CELL_ROLE_PARENT,
				    (uint32_t)cells[i].level, q, sizeof(q));
		deconf_token(tk, DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL,
			     (const uint8_t *)cells[i].value, cells[i].len, token);
		printf("cell:      %-9s %-20s %s\n", q, cells[i].value,
		       deconf_hex_encode(hex, token, sizeof(token)));
	}
	return 0;
}

static int cmd_hash(struct args *ar, int argc, char **argv)
{
	struct deconf_keyring *ring = NULL;
	struct deconf_tokenizer *tk = NULL;
	struct adp_agency a = { 0 };
	struct adp_norm_opts opts = { .default_region = ar->region ? ar->region : "US" };
	uint8_t canon[ADP_CANON_MAX], token[DECONF_TOKEN_LEN];
	char errstr[512], hex[2 * ADP_CANON_MAX + 1];
	char shown[DECONF_TEXT_TERMINAL_SIZE(ADP_CANON_MAX)];
	const char *key_file = ar->key_file;
	size_t len;
	uint32_t epoch;
	int type, rc, ret = EXIT_USAGE;

	if (argc != 2)
		return die_usage("%s", "hash needs TYPE and VALUE");
	if (!strcmp(argv[0], "event")) {
		type = DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL;
	} else if ((type = deconf_indicator_type_parse(argv[0])) ==
		   DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL) {
		return die_usage("%s", "hash event LAT,LON[,RADIUS_M]: an event's cells come from "
				       "its place");
	} else if (!type)
		return die_usage("unknown indicator type '%s' (phone, email, ip, username, url, "
				 "domain, md5, sha1, sha256, btc, eth, imei, mac, vehicle)",
				 argv[0]);
	if (!key_file) {
		if (!ar->config)
			return die_usage("%s", "hash needs --key-file FILE (or -c agency.conf)");
		if (adp_agency_load(&a, ar->config, environ, ar->sets, ar->n_sets, errstr,
				    sizeof(errstr))) {
			fprintf(stderr, "deconf-adapter: %s\n", errstr);
			goto out;
		}
		key_file = a.set.agency_key_file;
		if (!ar->region)
			opts = a.norm;
	}
	if ((rc = adp_norm_opts_check(&opts, errstr, sizeof(errstr)))) {
		fprintf(stderr, "deconf-adapter: --region: %s\n", errstr);
		goto out;
	}
	if ((rc = deconf_keyring_load(&ring, key_file, errstr, sizeof(errstr)))) {
		fprintf(stderr, "deconf-adapter: %s\n", errstr);
		goto out;
	}
	epoch = ar->epoch > 0 ? (uint32_t)ar->epoch : deconf_keyring_current(ring);
	if (deconf_tokenizer_new(&tk, ring, epoch)) {
		fprintf(stderr, "deconf-adapter: %s has no key epoch %u\n", key_file, epoch);
		goto out;
	}
	ret = EXIT_REFUSED;
	if (type == DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL) {
		ret = hash_event(tk, argv[1]);
		goto out;
	}
	if ((rc = adp_normalize(type, ar->qualifier, argv[1], strlen(argv[1]), &opts, canon,
				&len, errstr, sizeof(errstr)))) {
		fprintf(stderr, "deconf-adapter: %s: refused: %s\n", argv[0], errstr);
		goto out;
	}
	deconf_token(tk, type, canon, len, token);
	if (type == DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_IP)
		printf("canonical: %s (raw bytes, %zu)\n", deconf_hex_encode(hex, canon, len),
		       len);
	else /* escaped: nothing the normalizer let through drives the terminal */
		printf("canonical: %s\n",
		       deconf_text_for_terminal(shown, sizeof(shown), canon, len));
	printf("epoch:     %u\n", epoch);
	printf("token:     %s\n", deconf_hex_encode(hex, token, sizeof(token)));
	ret = 0;
out:
	deconf_tokenizer_free(tk);
	deconf_keyring_free(ring);
	adp_agency_close(&a);
	return ret;
}

/* ------------------------------------------------------- publishing */

static void input_progress(void *opaque, uint64_t done, uint64_t total, uint64_t rows)
{
	adp_progress_update(opaque, done, total, rows);
}

static void print_summary(const char *what, const struct adp_submit_stats *st, int dry)
{
	char shown[1024];

	/* what may be a file name, and a file name can hold anything */
	deconf_text_for_terminal(shown, sizeof(shown), what, strlen(what));
	fprintf(stderr,
		"%s: %llu case(s), %llu indicator(s); %llu refused, %llu case(s) withheld; "
		"%llu unchanged; %llu token op(s) %s",
		shown, (unsigned long long)st->cases, (unsigned long long)st->indicators,
		(unsigned long long)st->invalid, (unsigned long long)st->cases_withheld,
		(unsigned long long)st->unchanged, (unsigned long long)st->ops,
		dry ? "would be sent (dry run)\n" : "sent");
	if (dry)
		return;
	fprintf(stderr, " in %llu submission(s), %llu byte(s); %llu delivered%s",
		(unsigned long long)st->submissions, (unsigned long long)st->bytes,
		(unsigned long long)st->delivered,
		st->resent ? " (including earlier unconfirmed ones)" : "");
	if (st->refused_resent)
		fprintf(stderr, "; %llu refused entr%s sent again",
			(unsigned long long)st->refused_resent,
			st->refused_resent == 1 ? "y" : "ies");
	if (st->waited)
		fprintf(stderr, "; receipts: %llu accepted, %llu refused, %llu unconfirmed\n",
			(unsigned long long)st->accepted, (unsigned long long)st->refused,
			(unsigned long long)st->unconfirmed);
	else if (st->awaited)
		fprintf(stderr, "; not waiting for receipts: %llu submission(s) pending\n",
			(unsigned long long)st->awaited);
	else
		fputc('\n', stderr);
	if (st->receipts_refused)
		fprintf(stderr, "%s: %llu receipt record(s) refused (not signed by the broker, "
				"or not for this agency): see the log\n",
			shown, (unsigned long long)st->receipts_refused);
	if (st->waited && st->awaited && adp_submit_clean(st))
		fprintf(stderr, "%s: done: the federation accepted everything sent\n", shown);
}

/* The exit status of a publishing command. */
static int publish_status(int ret, const struct adp_submit_stats *st, int dry)
{
	if (ret || dry)
		return ret;
	return adp_submit_clean(st) ? 0 : EXIT_REFUSED;
}

static int open_agency(struct args *ar, struct adp_agency *a)
{
	char errstr[1024];

	if (adp_agency_load(a, ar->config, environ, ar->sets, ar->n_sets, errstr,
			    sizeof(errstr))) {
		fprintf(stderr, "deconf-adapter: %s\n", errstr);
		return EXIT_USAGE;
	}
	return 0;
}

static int finish(int rc, const char *errstr)
{
	if (rc == DECONF_OK)
		return 0;
	if (rc == DECONF_E_CONFIG || rc == DECONF_E_PERM) {
		fprintf(stderr, "deconf-adapter: %s\n", errstr);
		return EXIT_USAGE;
	}
	if (rc != DECONF_E_MALFORMED)
		fprintf(stderr, "deconf-adapter: %s\n", *errstr ? errstr : deconf_strerror(rc));
	return EXIT_REFUSED;
}

/* submit, check, query: a file of cases. */
static int cmd_file(struct args *ar, int argc, char **argv, int dry, int query)
{
	struct adp_agency a;
	struct adp_input *in = NULL;
	struct adp_submit_stats st = { 0 };
	struct adp_submit_opts o = { .skip_invalid = ar->skip_invalid, .dry_run = dry,
				     .source = argc ? argv[0] : "-", .no_wait = ar->no_wait,
				     .accept_loss = ar->accept_loss,
				     .retry_refused = ar->retry_refused };
	struct adp_progress pr;
	char errstr[1024] = "";
	int rc, ret;

	if (argc != 1)
		return die_usage("%s", "expected one FILE (or - for standard input)");
	if ((ret = open_agency(ar, &a)))
		return ret;
	o.progress = !ar->no_progress && isatty(2);
	adp_progress_start(&pr, o.progress, "reading", "rows");
	rc = adp_input_read(&in, argv[0], ar->format, 1000, input_progress, &pr, errstr,
			    sizeof(errstr));
	adp_progress_end(&pr);
	if (rc) {
		fprintf(stderr, "deconf-adapter: %s\n", errstr);
		ret = rc == DECONF_E_INVAL ? EXIT_USAGE : EXIT_REFUSED;
		goto out;
	}
	if (query) {
		/* Every case of a query file is asked, never registered. */
		for (size_t i = 0; i < adp_input_case_count(in); i++)
			((struct adp_case *)adp_input_case(in, i))->op = DECONF__V1__OP__OP_QUERY;
	}
	rc = adp_submit_input(&a, in, &o, &st, errstr, sizeof(errstr));
	print_summary(argv[0], &st, dry);
	ret = publish_status(finish(rc, errstr), &st, dry);
out:
	adp_input_free(in);
	adp_agency_close(&a);
	return ret;
}

/* withdraw CASE [TYPE VALUE [QUALIFIER]], close CASE */
static int cmd_case(struct args *ar, int argc, char **argv, int close)
{
	struct adp_agency a;
	struct adp_indicator ind = { 0 };
	struct adp_case c = { 0 };
	struct adp_submit_stats st = { 0 };
	struct adp_submit_opts o = { .source = "command line", .no_wait = ar->no_wait,
				     .accept_loss = ar->accept_loss,
				     .retry_refused = ar->retry_refused,
				     .progress = !ar->no_progress && isatty(2) };
	char errstr[1024] = "";
	int rc, ret;

	if (close ? argc != 1 : (argc != 1 && argc != 3 && argc != 4))
		return die_usage("%s", close ? "close needs CASE"
					     : "withdraw needs CASE [TYPE VALUE [QUALIFIER]]");
	if (!close && argc >= 3) {
		if (!(ind.type = deconf_indicator_type_parse(argv[1])))
			return die_usage("unknown indicator type '%s'", argv[1]);
		ind.value = argv[2];
		ind.value_len = strlen(argv[2]);
		ind.qualifier = argc == 4 ? argv[3] : (char *)ar->qualifier;
		ind.line = 1;
		c.ind = &ind;
		c.n_ind = 1;
	}
	if ((ret = open_agency(ar, &a)))
		return ret;
	c.case_ref = argv[0];
	c.op = close ? DECONF__V1__OP__OP_CLOSE_CASE : DECONF__V1__OP__OP_REMOVE;
	c.visibility = DECONF__V1__VISIBILITY__VISIBILITY_NORMAL;
	c.first_line = 1;
	rc = adp_submit_cases(&a, &c, 1, &o, &st, errstr, sizeof(errstr));
	if (!rc && !st.ops) {
		char ref[1024];
		fprintf(stderr, "deconf-adapter: the ledger holds nothing %s for case %s\n",
			close ? "to close" : "to withdraw",
			deconf_text_for_terminal(ref, sizeof(ref), argv[0], strlen(argv[0])));
	}
	print_summary(close ? "close" : "withdraw", &st, 0);
	ret = publish_status(finish(rc, errstr), &st, 0);
	adp_agency_close(&a);
	return ret;
}

/* A CSV field, quoted ("" for a quote), appended to the stream. */
static void csv_field(FILE *f, const char *s, int first)
{
	if (!first)
		fputc(',', f);
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/*
 * event add REF KEY=VALUE..., event cancel REF. An event added here is the
 * one CSV row `submit` would read (INPUT.md, "Events"): its keys are the
 * columns, with short names for the common ones.
 */
static int cmd_event(struct args *ar, int argc, char **argv)
{
	static const struct {
		const char *key, *column;
	} keys[] = {
		{ "kind", "event_kind" },	{ "event_kind", "event_kind" },
		{ "lat", "lat" },		{ "lon", "lon" },
		{ "radius", "radius_m" },	{ "radius_m", "radius_m" },
		{ "from", "valid_from" },	{ "valid_from", "valid_from" },
		{ "to", "valid_to" },		{ "valid_to", "valid_to" },
		{ "address", "value" },		{ "caution", "caution" },
		{ "visibility", "visibility" }, { "expires_at", "expires_at" },
		{ "poc_name", "poc_name" },	{ "poc_phone", "poc_phone" },
		{ "poc_email", "poc_email" },	{ "poc_unit", "poc_unit" },
	};
	const char *col[32], *val[32];
	size_t n = 0;
	int address = 0;
	struct adp_agency a;
	struct adp_input *in = NULL;
	struct adp_submit_stats st = { 0 };
	struct adp_submit_opts o = { .source = "event add", .no_wait = ar->no_wait,
				     .accept_loss = ar->accept_loss,
				     .retry_refused = ar->retry_refused };
	char errstr[1024] = "", *csv = NULL;
	size_t csv_len = 0;
	FILE *f;
	int rc, ret;

	if (argc == 2 && !strcmp(argv[0], "cancel"))
		return cmd_case(ar, 1, argv + 1, 1);
	if (argc < 2 || strcmp(argv[0], "add"))
		return die_usage("%s", "event add REF KEY=VALUE... (kind, lat, lon, radius, from, "
				       "to, address, caution, visibility, poc_name, poc_phone, "
				       "poc_email, poc_unit), or event cancel REF");
	for (int i = 2; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		size_t k, kl = eq ? (size_t)(eq - argv[i]) : 0;

		for (k = 0; eq && k < sizeof(keys) / sizeof(keys[0]); k++)
			if (strlen(keys[k].key) == kl && !strncmp(argv[i], keys[k].key, kl))
				break;
		if (!eq || k == sizeof(keys) / sizeof(keys[0]))
			return die_usage("event add: '%s' is not KEY=VALUE with a known key (kind, "
					 "lat, lon, radius, from, to, address, caution, visibility, "
					 "expires_at, poc_name, poc_phone, poc_email, poc_unit)",
					 argv[i]);
		for (size_t j = 0; j < n; j++)
			if (!strcmp(col[j], keys[k].column))
				return die_usage("event add: %s given twice", keys[k].column);
		col[n] = keys[k].column;
		val[n++] = eq + 1;
		address |= !strcmp(keys[k].column, "value");
	}
	if (!(f = open_memstream(&csv, &csv_len)))
		return finish(DECONF_E_NOMEM, errstr);
	/* value (the address) is a column every CSV file has, given or not */
	fputs("case_ref,type", f);
	for (size_t j = 0; j < n; j++)
		fprintf(f, ",%s", col[j]);
	fputs(address ? "\n" : ",value\n", f);
	csv_field(f, argv[1], 1);
	csv_field(f, "event", 0);
	for (size_t j = 0; j < n; j++)
		csv_field(f, val[j], 0);
	if (!address)
		csv_field(f, "", 0);
	fputc('\n', f);
	if (fclose(f))
		return finish(DECONF_E_NOMEM, errstr);
	if ((rc = adp_input_new(&in, ADP_FORMAT_CSV, 1000)) ||
	    (rc = adp_input_feed(in, csv, csv_len)) || (rc = adp_input_finish(in))) {
		adp_input_free(in);
		free(csv);
		return finish(rc, errstr);
	}
	free(csv);
	if ((ret = open_agency(ar, &a))) {
		adp_input_free(in);
		return ret;
	}
	o.progress = !ar->no_progress && isatty(2);
	rc = adp_submit_input(&a, in, &o, &st, errstr, sizeof(errstr));
	print_summary("event add", &st, 0);
	ret = publish_status(finish(rc, errstr), &st, 0);
	adp_input_free(in);
	adp_agency_close(&a);
	return ret;
}

/* resubmit: every held entry again under the current key epoch */
static int cmd_resubmit(struct args *ar, int argc, char **argv)
{
	struct adp_agency a;
	struct adp_submit_stats st = { 0 };
	struct adp_submit_opts o = { .source = "ledger", .progress = !ar->no_progress && isatty(2),
				     .no_wait = ar->no_wait, .accept_loss = ar->accept_loss,
				     .retry_refused = ar->retry_refused };
	char errstr[1024] = "";
	int rc, ret;

	if (argc)
		return die_usage("%s", "resubmit takes no arguments");
	if ((ret = open_agency(ar, &a)))
		return ret;
	rc = adp_resubmit(&a, &o, &st, errstr, sizeof(errstr));
	print_summary("resubmit", &st, 0);
	ret = publish_status(finish(rc, errstr), &st, 0);
	adp_agency_close(&a);
	return ret;
}

/* ------------------------------------------------------------- notices */

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* What a listing printed, to record in the ledger (--new). */
struct listing {
	const struct args *ar;
	struct adp_ledger_txn *t; /* the listing's (write) transaction */
	uint8_t (*ids)[DECONF_ID_LEN];
	size_t n, cap;
	int nomem;
};

static void print_notice(const struct args *ar, const Deconf__V1__ConflictNotice *n,
			 const char *value, size_t value_len)
{
	if (ar->json) {
		adp_notice_print_json(stdout, n, value, value_len);
	} else {
		adp_notice_print(stdout, n, value, value_len);
		fputc('\n', stdout);
	}
	fflush(stdout);
}

static void remember(struct listing *ls, const Deconf__V1__ConflictNotice *n)
{
	if (n->notice_id.len != DECONF_ID_LEN)
		return;
	if (DECONF_GROW(ls->ids, ls->n, ls->cap, 16)) {
		ls->nomem = 1;
		return;
	}
	memcpy(ls->ids[ls->n++], n->notice_id.data, DECONF_ID_LEN);
}

static void show_notice(void *opaque, const Deconf__V1__ConflictNotice *n, const char *value,
			size_t value_len)
{
	struct listing *ls = opaque;

	if (!adp_nfilter_match(&ls->ar->filter, n))
		return;
	if (ls->ar->only_new && ls->t && adp_nfilter_shown(ls->t, n->notice_id.data, n->notice_id.len))
		return;
	print_notice(ls->ar, n, value, value_len);
	remember(ls, n);
}

/* The stored notices through the filters, recorded as printed, in one
 * ledger transaction. */
static int list_notices(struct adp_agency *a, struct listing *ls, char *errstr,
			size_t errstr_size)
{
	int rc;

	if ((rc = adp_agency_open_ledger(a, errstr, errstr_size)))
		return rc;
	if ((rc = adp_ledger_begin(a->ledger, 0, &ls->t)))
		return deconf_err_set(errstr, errstr_size, rc, "ledger: %s", deconf_strerror(rc));
	rc = adp_notices_list_in(ls->t, 0, ls->ar->unacked, show_notice, ls);
	for (size_t i = 0; !rc && i < ls->n; i++)
		rc = adp_nfilter_mark_shown(ls->t, ls->ids[i], DECONF_ID_LEN, deconf_now_ms());
	if (rc) {
		adp_ledger_abort(ls->t);
	} else {
		rc = adp_ledger_commit(ls->t);
	}
	ls->t = NULL;
	ls->n = 0;
	if (rc)
		deconf_err_set(errstr, errstr_size, rc, "ledger: %s", deconf_strerror(rc));
	return rc;
}

/* What --follow printed, recorded when it stops (its callback runs inside
 * the reader's own write transaction). */
static int record_followed(struct adp_agency *a, struct listing *ls)
{
	struct adp_ledger_txn *t;
	int rc;

	if (!ls->n)
		return 0;
	if ((rc = adp_ledger_begin(a->ledger, 0, &t)))
		return rc;
	for (size_t i = 0; !rc && i < ls->n; i++)
		rc = adp_nfilter_mark_shown(t, ls->ids[i], DECONF_ID_LEN, deconf_now_ms());
	if (rc) {
		adp_ledger_abort(t);
		return rc;
	}
	return adp_ledger_commit(t);
}

static int cmd_notices(struct args *ar, int argc, char **argv)
{
	struct adp_agency a;
	struct adp_inbox_stats st = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	struct listing ls = { .ar = ar };
	char errstr[1024] = "";
	int rc = 0, ret;

	if (argc)
		return die_usage("%s", "notices takes no arguments");
	if ((ret = open_agency(ar, &a)))
		return ret;
	/* First what arrived since the last run, stored; then everything. */
	if (!ar->offline) {
		struct adp_notices_opts no = { .accept_loss = ar->accept_loss };
		rc = adp_notices_fetch(&a, &no, &st, errstr, sizeof(errstr));
	}
	if (!rc)
		rc = list_notices(&a, &ls, errstr, sizeof(errstr));
	if (!rc && ar->follow && !ar->offline && !ar->unacked) {
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		struct adp_inbox_stats more = { 0 };
		struct adp_notices_opts no = { .follow = 1, .stop = &stop_flag,
					       .cb = show_notice, .opaque = &ls,
					       .accept_loss = ar->accept_loss };
		rc = adp_notices_fetch(&a, &no, &more, errstr, sizeof(errstr));
		if (!rc && (rc = record_followed(&a, &ls)))
			deconf_err_set(errstr, sizeof(errstr), rc, "ledger: %s",
				       deconf_strerror(rc));
		st.received += more.received;
		st.duplicates += more.duplicates;
		st.refused += more.refused;
		st.lost += more.lost;
	}
	if (!rc && ls.nomem)
		rc = deconf_err_set(errstr, sizeof(errstr), DECONF_E_NOMEM,
				    "out of memory recording what was shown");
	free(ls.ids);
	if (!ar->json || st.refused)
		fprintf(stderr, "notices: %llu new, %llu duplicate(s) dropped, %llu refused "
				"(unsigned or badly signed)\n",
			(unsigned long long)st.received, (unsigned long long)st.duplicates,
			(unsigned long long)st.refused);
	if (st.lost)
		fprintf(stderr, "notices: %llu record(s) were deleted before they were read: "
				"lost (accepted, recorded in the ledger)\n",
			(unsigned long long)st.lost);
	ret = finish(rc, errstr);
	if (!ret && st.refused)
		ret = EXIT_REFUSED;
	adp_agency_close(&a);
	return ret;
}

/* serve: the analyst's console (console.h), until SIGINT or SIGTERM. */
static int cmd_serve(struct args *ar, int argc, char **argv)
{
	struct adp_agency a;
	struct sigaction sa = { .sa_handler = on_signal };
	struct adp_console_opts o = { .listen = ar->listen, .allow_remote = ar->allow_remote,
				      .stop = &stop_flag, .announce = stdout };
	char errstr[1024] = "";
	int rc, ret;

	(void)argv;
	if (argc)
		return die_usage("%s", "serve takes no arguments");
	if ((ret = open_agency(ar, &a)))
		return ret;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = adp_console_run(&a, &o, errstr, sizeof(errstr));
	ret = finish(rc, errstr);
	adp_agency_close(&a);
	return ret;
}

/* ack NOTICE-ID OUTCOME */
static int cmd_ack(struct args *ar, int argc, char **argv)
{
	struct adp_agency a;
	struct adp_submit_stats st = { 0 };
	struct adp_submit_opts o = { .source = "ack", .no_wait = ar->no_wait,
				     .accept_loss = ar->accept_loss,
				     .progress = !ar->no_progress && isatty(2) };
	uint8_t id[DECONF_ID_LEN];
	char errstr[1024] = "", name[DECONF_ENUM_NAME_SIZE];
	int outcome, rc, ret;

	if (argc != 2)
		return die_usage("%s", "ack needs NOTICE-ID and OUTCOME");
	if (strlen(argv[0]) != 2 * DECONF_ID_LEN ||
	    deconf_hex_decode(id, sizeof(id), argv[0], strlen(argv[0])))
		return die_usage("%s", "ack: NOTICE-ID is the 32 hex digits `notices` shows");
	if (!(outcome = deconf_enum_value(&deconf__v1__outcome__descriptor, argv[1])))
		return die_usage("%s", "ack: OUTCOME is seen, counterpart_contacted, "
				       "joint_investigation, not_related or deconflicted");
	if ((ret = open_agency(ar, &a)))
		return ret;
	rc = adp_submit_ack(&a, id, outcome, &o, &st, errstr, sizeof(errstr));
	ret = finish(rc, errstr);
	if (!ret && st.refused)
		fprintf(stderr, "ack: refused by the federation (see above): nothing was recorded\n");
	else if (!ret && st.unconfirmed)
		fprintf(stderr, "ack: sent, but no receipt came in time: unconfirmed (run it "
				"again: the federation records an outcome once)\n");
	else if (!ret && st.waited)
		fprintf(stderr, "ack: done: the federation recorded %s for notice %s\n",
			deconf_enum_name(name, sizeof(name), &deconf__v1__outcome__descriptor,
					 outcome, "?"),
			argv[0]);
	else if (!ret)
		fprintf(stderr, "ack: sent (not waiting for the receipt)\n");
	ret = publish_status(ret, &st, 0);
	adp_agency_close(&a);
	return ret;
}

static volatile int reopen_flag;

static void on_hup(int sig)
{
	(void)sig;
	reopen_flag = 1;
}

static int cmd_run(struct args *ar, int argc, char **argv)
{
	struct adp_agency a;
	struct sigaction sa = { .sa_handler = on_signal }, hup = { .sa_handler = on_hup };
	char errstr[1024] = "";
	int rc, ret;

	if (argc)
		return die_usage("%s", "run takes no arguments");
	if ((ret = open_agency(ar, &a)))
		return ret;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &hup, NULL);
	{
		struct adp_daemon_opts opts = { .no_wait = ar->no_wait,
						.accept_loss = ar->accept_loss };
		rc = adp_daemon_run_opts(&a, &stop_flag, &reopen_flag, &opts, errstr,
					 sizeof(errstr));
	}
	ret = finish(rc, errstr);
	adp_agency_close(&a);
	return ret;
}

/* -------------------------------------------------------------- status */

static void show_status(void *opaque, const struct adp_case_status *cs)
{
	const struct args *ar = opaque;

	if (ar->json)
		adp_status_print_json(stdout, cs);
	else
		adp_status_print(stdout, cs);
}

/* status [CASE...]: from the ledger alone, never Kafka. */
static int cmd_status(struct args *ar, int argc, char **argv)
{
	struct adp_agency a;
	struct adp_status_totals tot;
	char errstr[1024] = "";
	int rc, ret;

	if ((ret = open_agency(ar, &a)))
		return ret;
	rc = adp_status_walk(&a, (const char *const *)argv, (size_t)argc, show_status, ar, &tot,
			     errstr, sizeof(errstr));
	if (!rc) {
		if (ar->json)
			adp_status_print_totals_json(stdout, &tot);
		else
			adp_status_print_totals(stdout, &tot);
	}
	fflush(stdout);
	ret = finish(rc, errstr);
	adp_agency_close(&a);
	return ret;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	enum { OPT_SET = 256, OPT_FORMAT, OPT_SKIP, OPT_NOPROG, OPT_KEYFILE, OPT_EPOCH,
	       OPT_QUAL, OPT_REGION, OPT_HELPCONF, OPT_FOLLOW, OPT_JSON, OPT_OFFLINE,
	       OPT_NOWAIT, OPT_LOSS, OPT_RETRY, OPT_VERSION, OPT_NEW, OPT_CASE, OPT_KIND,
	       OPT_CAUTION, OPT_SINCE, OPT_UNTIL, OPT_LISTEN, OPT_REMOTE, OPT_UNACKED };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, OPT_SET },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "skip-invalid", no_argument, NULL, OPT_SKIP },
		{ "no-progress", no_argument, NULL, OPT_NOPROG },
		{ "key-file", required_argument, NULL, OPT_KEYFILE },
		{ "epoch", required_argument, NULL, OPT_EPOCH },
		{ "qualifier", required_argument, NULL, OPT_QUAL },
		{ "platform", required_argument, NULL, OPT_QUAL },
		{ "jurisdiction", required_argument, NULL, OPT_QUAL },
		{ "region", required_argument, NULL, OPT_REGION },
		{ "follow", no_argument, NULL, OPT_FOLLOW },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "offline", no_argument, NULL, OPT_OFFLINE },
		{ "no-wait", no_argument, NULL, OPT_NOWAIT },
		{ "accept-loss", no_argument, NULL, OPT_LOSS },
		{ "retry-refused", no_argument, NULL, OPT_RETRY },
		{ "new", no_argument, NULL, OPT_NEW },
		{ "case", required_argument, NULL, OPT_CASE },
		{ "kind", required_argument, NULL, OPT_KIND },
		{ "caution", required_argument, NULL, OPT_CAUTION },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "allow-remote", no_argument, NULL, OPT_REMOTE },
		{ "unacked", no_argument, NULL, OPT_UNACKED },
		{ "help", no_argument, NULL, 'h' },
		{ "help-config", no_argument, NULL, OPT_HELPCONF },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct args ar = { .config = getenv("DECONF_CONFIG") };
	const char *cmd;
	int ch;

	deconf_log_set_program("deconf-adapter");
	/* GNU getopt permutes: options may follow the command and its
	 * arguments; "--" ends them (for a value that starts with '-'). */
	opterr = 0; /* our own messages, with the usage line */
	while ((ch = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': ar.config = optarg; break;
		case OPT_SET:
			if (ar.n_sets == MAX_SETS)
				return die_usage("%s", "too many --set options");
			ar.sets[ar.n_sets++] = optarg;
			break;
		case OPT_FORMAT:
			if (adp_format_parse(optarg, &ar.format))
				return die_usage("--format: '%s' is not csv or jsonl", optarg);
			ar.given |= F_FORMAT;
			break;
		case OPT_SKIP: ar.skip_invalid = 1; ar.given |= F_SKIP; break;
		case OPT_NOPROG: ar.no_progress = 1; break;
		case OPT_KEYFILE: ar.key_file = optarg; ar.given |= F_KEYFILE; break;
		case OPT_NOWAIT: ar.no_wait = 1; ar.given |= F_NOWAIT; break;
		case OPT_LOSS: ar.accept_loss = 1; ar.given |= F_LOSS; break;
		case OPT_RETRY: ar.retry_refused = 1; ar.given |= F_RETRY; break;
		case OPT_UNACKED: ar.unacked = 1; ar.given |= F_UNACKED; break;
		case OPT_EPOCH: {
			ar.given |= F_EPOCH;
			char *end;
			errno = 0;
			ar.epoch = strtol(optarg, &end, 10);
			if (errno || *end || ar.epoch < 1 || ar.epoch > 0xffffffffL)
				return die_usage("--epoch: '%s' is not an epoch number", optarg);
			break;
		}
		case OPT_QUAL: ar.qualifier = optarg; ar.given |= F_QUAL; break;
		case OPT_FOLLOW: ar.follow = 1; ar.given |= F_FOLLOW; break;
		case OPT_JSON: ar.json = 1; ar.given |= F_JSON; break;
		case OPT_OFFLINE: ar.offline = 1; ar.given |= F_OFFLINE; break;
		case OPT_REGION: ar.region = optarg; ar.given |= F_REGION; break;
		case OPT_NEW: ar.only_new = 1; ar.given |= F_FILTER; break;
		case OPT_CASE: ar.filter.case_ref = optarg; ar.given |= F_FILTER; break;
		case OPT_KIND:
			if (!(ar.filter.kind = adp_nfilter_kind(optarg)))
				return die_usage("--kind: '%s' is not a notice kind", optarg);
			ar.given |= F_FILTER;
			break;
		case OPT_CAUTION:
			if (!(ar.filter.caution = adp_nfilter_caution(optarg)))
				return die_usage("--caution: '%s' is not a caution flag", optarg);
			ar.given |= F_FILTER;
			break;
		case OPT_SINCE:
		case OPT_UNTIL: {
			char why[256];
			if (adp_nfilter_date(optarg, ch == OPT_UNTIL,
					     ch == OPT_UNTIL ? &ar.filter.until : &ar.filter.since,
					     why, sizeof(why)))
				return die_usage("%s: %s", ch == OPT_UNTIL ? "--until" : "--since",
						 why);
			ar.given |= F_FILTER;
			break;
		}
		case OPT_LISTEN: ar.listen = optarg; ar.given |= F_LISTEN; break;
		case OPT_REMOTE: ar.allow_remote = 1; ar.given |= F_REMOTE; break;
		case 'h': fputs(usage, stdout); return 0;
		case OPT_HELPCONF:
			deconf_conf_print_help(adp_conf_table, adp_conf_table_n, stdout);
			return 0;
		case OPT_VERSION: {
			char line[256];

			deconf_version_line("deconf-adapter", line, sizeof(line));
			puts(line);
			return 0;
		}
		case ':':
			return die_usage("%s needs a value", argv[optind - 1]);
		default:
			if (optopt && optopt < 256)
				return die_usage("unknown option '-%c'", optopt);
			return die_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return die_usage("%s", "no command given");
	cmd = argv[optind];
	argc -= optind + 1;
	argv += optind + 1;
	{
		static const struct {
			const char *name;
			unsigned flags;
		} cmds[] = {
			{ "hash", F_KEYFILE | F_EPOCH | F_QUAL | F_REGION },
			{ "submit", F_FORMAT | F_SKIP | F_NOWAIT | F_LOSS | F_RETRY },
			{ "check", F_FORMAT | F_SKIP },
			{ "query", F_FORMAT | F_SKIP | F_NOWAIT | F_LOSS | F_RETRY },
			{ "withdraw", F_QUAL | F_NOWAIT | F_LOSS | F_RETRY },
			{ "close", F_NOWAIT | F_LOSS | F_RETRY },
			{ "event", F_NOWAIT | F_LOSS | F_RETRY },
			{ "notices", F_FOLLOW | F_JSON | F_OFFLINE | F_LOSS | F_FILTER | F_UNACKED },
			{ "serve", F_LISTEN | F_REMOTE },
			{ "ack", F_NOWAIT | F_LOSS },
			{ "status", F_JSON },
			{ "resubmit", F_NOWAIT | F_LOSS | F_RETRY },
			{ "run", F_NOWAIT | F_LOSS },
			{ "init", 0 },
		};
		int known = 0, rc;

		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (!strcmp(cmd, cmds[i].name)) {
				known = 1;
				if ((rc = check_flags(&ar, cmd, cmds[i].flags)))
					return rc;
			}
		if (!known)
			return die_usage("unknown command '%s'", cmd);
	}
	if (!strcmp(cmd, "hash"))
		return cmd_hash(&ar, argc, argv);
	if (!strcmp(cmd, "submit"))
		return cmd_file(&ar, argc, argv, 0, 0);
	if (!strcmp(cmd, "check"))
		return cmd_file(&ar, argc, argv, 1, 0);
	if (!strcmp(cmd, "query"))
		return cmd_file(&ar, argc, argv, 0, 1);
	if (!strcmp(cmd, "withdraw"))
		return cmd_case(&ar, argc, argv, 0);
	if (!strcmp(cmd, "close"))
		return cmd_case(&ar, argc, argv, 1);
	if (!strcmp(cmd, "event"))
		return cmd_event(&ar, argc, argv);
	if (!strcmp(cmd, "notices"))
		return cmd_notices(&ar, argc, argv);
	if (!strcmp(cmd, "ack"))
		return cmd_ack(&ar, argc, argv);
	if (!strcmp(cmd, "status"))
		return cmd_status(&ar, argc, argv);
	if (!strcmp(cmd, "resubmit"))
		return cmd_resubmit(&ar, argc, argv);
	if (!strcmp(cmd, "run"))
		return cmd_run(&ar, argc, argv);
	if (!strcmp(cmd, "serve"))
		return cmd_serve(&ar, argc, argv);
	if (!strcmp(cmd, "init"))
		return cmd_init(argc, argv);
	return die_usage("unknown command '%s'", cmd);
}
