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
#include "daemon.h"
#include "deconf.pb-c.h"
#include "deconf/err.h"
#include "deconf/log.h"
#include "deconf/text.h"
#include "deconf/util.h"
#include "input.h"
#include "normalize.h"
#include "notices.h"
#include "progress.h"
#include "submit.h"

extern char **environ;

#define EXIT_REFUSED 1 /* something was refused or not delivered */
#define EXIT_USAGE 2   /* bad command line or configuration */
#define MAX_SETS 64

static const char usage[] =
	"usage: deconf-adapter [-c agency.conf] [--set key=value]... COMMAND [ARGS]\n"
	"\n"
	"The agency side of deconf: turns case indicators into keyed tokens, publishes\n"
	"them signed to the federation, and maps conflict notices back to your cases.\n"
	"Raw indicator values never leave this machine.\n"
	"\n"
	"Commands:\n"
	"  submit FILE|-          publish the cases of a CSV or JSON Lines file; only\n"
	"                         what changed since the last run is sent\n"
	"  check FILE|-           validate and normalize without publishing (dry run)\n"
	"  withdraw CASE [TYPE VALUE [QUALIFIER]]\n"
	"                         remove one indicator, or all of a case's indicators\n"
	"  close CASE             close a case: every entry of it is removed\n"
	"  query FILE|-           check-only lookups: match without registering\n"
	"  notices [--follow] [--json]\n"
	"                         conflict notices received, next to your own case and\n"
	"                         raw value; --follow waits for new ones\n"
	"  resubmit               publish every held entry again under the current key\n"
	"                         epoch (after a key rotation)\n"
	"  run                    the daemon: submit files dropped in run.spool_dir, write\n"
	"                         notices to run.outbox_file and POST them to\n"
	"                         run.webhook_url; SIGTERM stops, SIGHUP reopens the log\n"
	"  hash TYPE VALUE        print the canonical form and token (no Kafka needed)\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE      agency configuration (INI); see --help-config\n"
	"      --set KEY=VALUE    override one configuration key (repeatable)\n"
	"      --format csv|jsonl input format (default: by file extension)\n"
	"      --skip-invalid     publish the valid rows of a case that has bad rows\n"
	"      --no-progress      no progress bar even on a terminal\n"
	"      --follow           notices: keep waiting for new notices (Ctrl-C stops)\n"
	"      --json             notices: one JSON object per line\n"
	"      --offline          notices: show stored notices without asking Kafka\n"
	"      --key-file FILE    hash: the federation key file (else from -c)\n"
	"      --epoch N          hash: key epoch (default: the current one)\n"
	"      --qualifier Q      hash/withdraw: platform (username) or jurisdiction (vehicle)\n"
	"      --region CC        hash: default phone region (default US)\n"
	"  -h, --help             this help\n"
	"      --help-config      every configuration key, its type, default and meaning\n"
	"\n"
	"Exit status: 0 all done; 1 input refused or Kafka did not confirm delivery;\n"
	"2 bad command line or configuration.\n";

struct args {
	const char *config;
	char *sets[MAX_SETS];
	size_t n_sets;
	enum adp_format format;
	int skip_invalid, no_progress, follow, json, offline;
	const char *key_file, *qualifier, *region;
	long epoch;
};

static int die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "deconf-adapter: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(deconf-adapter --help for usage)\n");
	return EXIT_USAGE;
}

/* ---------------------------------------------------------------- hash */

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
	if (!(type = deconf_indicator_type_parse(argv[0])))
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
		key_file = deconf_conf_get_str(a.conf, "agency.key_file");
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
	if (!dry)
		fprintf(stderr, " in %llu submission(s), %llu byte(s); %llu delivered%s\n",
			(unsigned long long)st->submissions, (unsigned long long)st->bytes,
			(unsigned long long)st->delivered,
			st->resent ? " (including earlier unconfirmed ones)" : "");
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
				     .source = argc ? argv[0] : "-" };
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
	ret = finish(rc, errstr);
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
	struct adp_submit_opts o = { .source = "command line" };
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
	ret = finish(rc, errstr);
	adp_agency_close(&a);
	return ret;
}

/* resubmit: every held entry again under the current key epoch */
static int cmd_resubmit(struct args *ar, int argc, char **argv)
{
	struct adp_agency a;
	struct adp_submit_stats st = { 0 };
	struct adp_submit_opts o = { .source = "ledger", .progress = !ar->no_progress && isatty(2) };
	char errstr[1024] = "";
	int rc, ret;

	if (argc)
		return die_usage("%s", "resubmit takes no arguments");
	if ((ret = open_agency(ar, &a)))
		return ret;
	rc = adp_resubmit(&a, &o, &st, errstr, sizeof(errstr));
	print_summary("resubmit", &st, 0);
	ret = finish(rc, errstr);
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

static void show_notice(void *opaque, const Deconf__V1__ConflictNotice *n, const char *value,
			size_t value_len)
{
	const struct args *ar = opaque;

	if (ar->json) {
		adp_notice_print_json(stdout, n, value, value_len);
	} else {
		adp_notice_print(stdout, n, value, value_len);
		fputc('\n', stdout);
	}
	fflush(stdout);
}

static int cmd_notices(struct args *ar, int argc, char **argv)
{
	struct adp_agency a;
	struct adp_notice_stats st = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	char errstr[1024] = "";
	int rc = 0, ret;

	if (argc)
		return die_usage("%s", "notices takes no arguments");
	if ((ret = open_agency(ar, &a)))
		return ret;
	/* First what arrived since the last run, stored; then everything. */
	if (!ar->offline) {
		struct adp_notices_opts no = { 0 };
		rc = adp_notices_fetch(&a, &no, &st, errstr, sizeof(errstr));
	}
	if (!rc)
		rc = adp_notices_list(&a, show_notice, ar, errstr, sizeof(errstr));
	if (!rc && ar->follow && !ar->offline) {
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		struct adp_notice_stats more = { 0 };
		struct adp_notices_opts no = { .follow = 1, .stop = &stop_flag,
					       .cb = show_notice, .opaque = ar };
		rc = adp_notices_fetch(&a, &no, &more, errstr, sizeof(errstr));
		st.received += more.received;
		st.duplicates += more.duplicates;
		st.refused += more.refused;
	}
	if (!ar->json || st.refused)
		fprintf(stderr, "notices: %llu new, %llu duplicate(s) dropped, %llu refused "
				"(unsigned or badly signed)\n",
			(unsigned long long)st.received, (unsigned long long)st.duplicates,
			(unsigned long long)st.refused);
	ret = finish(rc, errstr);
	if (!ret && st.refused)
		ret = EXIT_REFUSED;
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
	rc = adp_daemon_run(&a, &stop_flag, &reopen_flag, errstr, sizeof(errstr));
	ret = finish(rc, errstr);
	adp_agency_close(&a);
	return ret;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	enum { OPT_SET = 256, OPT_FORMAT, OPT_SKIP, OPT_NOPROG, OPT_KEYFILE, OPT_EPOCH,
	       OPT_QUAL, OPT_REGION, OPT_HELPCONF, OPT_FOLLOW, OPT_JSON, OPT_OFFLINE };
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
		{ "help", no_argument, NULL, 'h' },
		{ "help-config", no_argument, NULL, OPT_HELPCONF },
		{ NULL, 0, NULL, 0 },
	};
	struct args ar = { .config = getenv("DECONF_CONFIG") };
	const char *cmd;
	int ch;

	deconf_log_set_program("deconf-adapter");
	/* GNU getopt permutes: options may follow the command and its
	 * arguments; "--" ends them (for a value that starts with '-'). */
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
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
			break;
		case OPT_SKIP: ar.skip_invalid = 1; break;
		case OPT_NOPROG: ar.no_progress = 1; break;
		case OPT_KEYFILE: ar.key_file = optarg; break;
		case OPT_EPOCH: {
			char *end;
			errno = 0;
			ar.epoch = strtol(optarg, &end, 10);
			if (errno || *end || ar.epoch < 1 || ar.epoch > 0xffffffffL)
				return die_usage("--epoch: '%s' is not an epoch number", optarg);
			break;
		}
		case OPT_QUAL: ar.qualifier = optarg; break;
		case OPT_FOLLOW: ar.follow = 1; break;
		case OPT_JSON: ar.json = 1; break;
		case OPT_OFFLINE: ar.offline = 1; break;
		case OPT_REGION: ar.region = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		case OPT_HELPCONF:
			deconf_conf_print_help(adp_conf_table, adp_conf_table_n, stdout);
			return 0;
		default: return die_usage("%s", "bad option");
		}
	}
	if (optind >= argc)
		return die_usage("%s", "no command given");
	cmd = argv[optind];
	argc -= optind + 1;
	argv += optind + 1;
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
	if (!strcmp(cmd, "notices"))
		return cmd_notices(&ar, argc, argv);
	if (!strcmp(cmd, "resubmit"))
		return cmd_resubmit(&ar, argc, argv);
	if (!strcmp(cmd, "run"))
		return cmd_run(&ar, argc, argv);
	return die_usage("unknown command '%s'", cmd);
}
