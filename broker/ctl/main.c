/*
 * main.c — deconfctl, the federation operator's tool.
 *
 * A federation is a directory (made by `federation init`): the CA, the
 * broker's TLS certificate and Ed25519 signing key, the federation HMAC key
 * file, broker.conf, deconfctl.conf (how deconfctl reaches Kafka) and, per
 * agency, a bundle directory under agencies/ that the agency takes away.
 * Every command but `federation init` and `dev-kafka` works on the
 * federation named by -f DIR (or $DECONF_FEDERATION, or ".").
 *
 * Here: the usage, the configuration table, the federation context every
 * command but those two opens, and the dispatch to the command families
 * (ctl.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "deconf/err.h"
#include "deconf/log.h"
#include "deconf/version.h"

static const char usage[] =
	"usage: deconfctl [-f FEDERATION_DIR] [--timeout SECONDS] COMMAND ...\n"
	"\n"
	"The federation operator's tool.\n"
	"\n"
	"  -f DIR              the federation (default: $DECONF_FEDERATION, or .)\n"
	"  --timeout SECONDS   how long to wait for Kafka at each step: reaching it, a\n"
	"                      record's delivery, an Admin API answer (1..3600; default 10,\n"
	"                      or $DECONF_CTL_TIMEOUT). A command that cannot reach Kafka says\n"
	"                      so by then and exits 1.\n"
	"  --help-config       every deconfctl.conf key, its type, default and meaning\n"
	"  --version           the version, commit and wire version\n"
	"\n"
	"  federation init DIR [--host NAME]... [--bootstrap HOST:PORT] [--partitions N]\n"
	"                       [--prefix P] [--plaintext] [--ca-cert PEM --ca-key PEM]\n"
	"                       [--ca-passphrase | --ca-passphrase-file FILE]\n"
	"      a new federation in DIR: CA, the broker's TLS certificate (SAN: every\n"
	"      --host), the federation key (federation-signing.key: signs the directory;\n"
	"      keep it offline) and its public half federation.pub, the broker's own\n"
	"      signing key (notices), the token key file (epoch 1), broker.conf and\n"
	"      deconfctl.conf, and key-epochs.pb (epoch 1 live). Refuses an existing\n"
	"      federation. --ca-cert/--ca-key: issue from an existing CA (one the Kafka\n"
	"      brokers trust) instead of a new one. --ca-passphrase: encrypt the new CA\n"
	"      key with a passphrase asked on the terminal; --ca-passphrase-file: with\n"
	"      the first line of FILE (0600). A CA key others can read is refused.\n"
	"  federation rotate-key [--overlap DURATION]\n"
	"      add epoch N+1 to federation.keys and to every agency bundle, make it the\n"
	"      current epoch and retire the older live ones after DURATION (30d, 12h,\n"
	"      90m, 0; default 30d): publishes the signed key epochs record the broker\n"
	"      follows. Agencies then run deconf-adapter resubmit, before the retire time.\n"
	"  federation epochs [--publish]\n"
	"      the key epochs record (key-epochs.pb): each epoch, when it was activated\n"
	"      and retires, which is current; --publish publishes it again.\n"
	"  agency add ID --name NAME --level federal|state|local|tribal|international\n"
	"             --country CC --poc-name NAME --poc-phone PHONE --poc-email EMAIL\n"
	"             [--csr agency.csr --signing-pub signing.pub] [--ca-passphrase-file F]\n"
	"             [--disclose-to SPEC] [--liaison-name N --liaison-phone P\n"
	"              --liaison-email E]\n"
	"      the agency's certificate (CN = ID), a bundle directory (agencies/ID) to\n"
	"      hand over, and its directory entry and the key epochs record on Kafka (the\n"
	"      directory topic must exist: topics apply). With --csr and --signing-pub\n"
	"      (what `deconf-adapter init` made on the agency's machine) the certificate\n"
	"      is issued for the agency's own key and the bundle holds no private key;\n"
	"      without them (demos) deconfctl makes the agency's TLS and signing keys.\n"
	"      Needs the federation key; an encrypted CA key's passphrase comes from F\n"
	"      or is asked on the terminal.\n"
	"  agency suspend ID | agency activate ID\n"
	"      republish the entry with that status (a suspended agency's\n"
	"      submissions are refused).\n"
	"  agency set-scope ID --disclose-to SPEC [--liaison-name N --liaison-phone P\n"
	"             --liaison-email E]\n"
	"      to whom the agency's contacts and case references are disclosed: SPEC is\n"
	"      terms separated by commas: all | none | level:L | country:CC | agency:ID,\n"
	"      !country:CC | !agency:ID (denied), liaison (its liaison desk may be\n"
	"      named to partners outside). Partners outside get a scoped match. New\n"
	"      conflicts follow it at once; nothing restarts.\n"
	"  agency list\n"
	"      the agencies of the directory topic, as the broker sees them, with\n"
	"      their scopes.\n"
	"  topics apply\n"
	"      create every missing topic (tokens and state with federation.partitions,\n"
	"      state and directory compacted, audit kept forever, one partition per\n"
	"      agency topic) and the literal ACLs of every agency in the directory:\n"
	"      write its submit topic, read its notices, rejects and receipts topics and\n"
	"      the directory; publishes the key epochs record; and sets each agency's\n"
	"      Kafka client quotas (quota.* in deconfctl.conf: produce and fetch bytes/s,\n"
	"      request time). Re-running it changes nothing, and says so. On dev-kafka it\n"
	"      says what it can do there (no Admin API, ACLs or quotas).\n"
	"  tail TOPIC [--from-beginning] [--follow]\n"
	"      decode a deconf topic (e.g. notices.fbi-cac, receipts.fbi-cac, audit, ops)\n"
	"      to JSON lines, with each record's signature status; from the end unless\n"
	"      --from-beginning; stops at the end unless --follow.\n"
	"  audit verify [--from P:OFFSET,...|@UNIX_MS|YYYY-MM-DDTHH:MM:SSZ]\n"
	"      read the audit topic and check every link of each matcher partition's\n"
	"      hash chain and every checkpoint the broker signed (broker.pub); report\n"
	"      per chain its records, checkpoints, last checkpointed seq and the\n"
	"      unprotected tail after it, and the first break (removed, altered or\n"
	"      duplicated record, bad signature) with its partition and offset. Exit 1\n"
	"      on any break. --from: start there (a chain's first record then taken on\n"
	"      trust, and said so).\n"
	"  version\n"
	"      the version, commit and wire version (also --version).\n"
	"  status\n"
	"      records per topic, the broker's consumer-group lag, and per agency the\n"
	"      records of its submit, notices, rejects and receipts topics.\n"
	"  offsets show [--group ingest|matcher]\n"
	"      per partition of the broker's consumer groups: the committed offset, the\n"
	"      log start and end, and LOST n records where retention or DeleteRecords\n"
	"      removed records the broker had not read (it stops there).\n"
	"  offsets accept-loss [--group ingest|matcher] [--partition TOPIC:N]...\n"
	"      with every broker stopped, commit the log start offset of each partition\n"
	"      that lost records, so the broker goes on without them; prints what was\n"
	"      accepted as lost.\n"
	"  dev-kafka [--partitions N] [--agency-partitions N] [--prefix P]\n"
	"      librdkafka's in-memory mock cluster with the deconf topics, for the\n"
	"      quick start (plaintext, no ACLs, no quotas); it makes each agency's\n"
	"      topics as its directory entry appears. Prints its bootstrap address, and\n"
	"      on stderr how much it keeps (5 MiB per partition) and any record it\n"
	"      drops; runs until SIGTERM or SIGINT. --partitions: tokens, state and audit\n"
	"      (default 128); --agency-partitions: each agency's submit and notices\n"
	"      topics (default 32).\n"
	"\n"
	"Agency ids: 2..63 characters of a-z, 0-9 and '-', not starting with '-' (they\n"
	"name topics and TLS principals); not reserved: admin, anonymous, deconf,\n"
	"deconf-*, kafka, kafka-*, broker, controller, deconfctl, federation,\n"
	"operator, root (Kafka's super users and the federation's own services).\n"
	"\n"
	"Exit status: 0 done; 1 failed (nothing is reported done that Kafka did not\n"
	"confirm); 2 bad usage or configuration.\n";

/* Each row is bound to its field of struct fed_settings (ctl.h). */
#define ROW(member, ...) DECONF_CONF_ROW(struct fed_settings, member, __VA_ARGS__)
static const struct deconf_conf_def ctl_table[] = {
	ROW(federation_topic_prefix, "federation.topic_prefix",
	    DECONF_CONF_STR, "deconf.", 0, 0, NULL, 0,
	    "prefix of every deconf topic"),
	ROW(federation_partitions, "federation.partitions",
	    DECONF_CONF_INT, "4", 1, 1024, NULL, 0,
	    "partitions of deconf.tokens and deconf.state"),
	ROW(federation_signing_key, "federation.signing_key",
	    DECONF_CONF_PATH, "federation-signing.key", 0, 0, NULL, 0,
	    "the federation key (Ed25519, private, 0600): signs directory entries and key "
	    "epochs. Needed only by what changes the directory (agency add/suspend/activate, "
	    "federation rotate-key/epochs --publish, topics apply when the epochs changed): "
	    "keep it offline, on removable media, and point this at it when needed"),
	ROW(federation_public_key, "federation.public_key",
	    DECONF_CONF_PATH, "federation.pub", 0, 0, NULL, 0,
	    "the federation key's public half: checks directory records (agency list, status, "
	    "tail, topics apply)"),
	ROW(federation_broker_public_key, "federation.broker_public_key",
	    DECONF_CONF_PATH, "broker.pub", 0, 0, NULL, 0,
	    "the broker's public key: checks what the broker signs (tail, audit verify)"),
	ROW(quota_producer_byte_rate, "quota.producer_byte_rate",
	    DECONF_CONF_SIZE, "4M", 1024, (int64_t)1 << 40, NULL, 0,
	    "each agency's Kafka produce quota (User:<id>), bytes/s per broker"),
	ROW(quota_consumer_byte_rate, "quota.consumer_byte_rate",
	    DECONF_CONF_SIZE, "10M", 1024, (int64_t)1 << 40, NULL, 0,
	    "each agency's Kafka fetch quota (User:<id>), bytes/s per broker"),
	ROW(quota_request_percentage, "quota.request_percentage",
	    DECONF_CONF_INT, "25", 1, 10000, NULL, 0,
	    "each agency's share of a broker's request threads, % of one thread"),
	/* log.level only: deconfctl writes its messages to stderr, as text */
	DECONF_CONF_LOG_LEVEL_ROW(struct fed_settings, log),
};
#undef ROW

struct brk_ctl_kafka *fed_kafka(struct fed *f, rd_kafka_type_t type,
				const char *const *props, const char *then)
{
	struct brk_ctl_kafka *k = NULL;
	char errstr[1024];

	if (brk_ctl_kafka_new(&k, type, f->conf, f->timeout_ms, props, errstr, sizeof(errstr))) {
		fail(1, "%s%s%s", errstr, then ? ": " : "", then ? then : "");
		return NULL;
	}
	return k;
}

const char *const publisher_props[] = { "enable.idempotence", "true", NULL };

static const char *fpath(const struct fed *f, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", f->dir, name);
	return buf;
}

/* A public key the configuration names at path, under the key name (2,
 * said, when it cannot be read). */
static int load_public(struct deconf_sign_key **out, const char *path, const char *name)
{
	char errstr[1024];

	if (deconf_sign_key_load(out, path, errstr, sizeof(errstr)))
		return fail(2, "%s: %s", name, errstr);
	return 0;
}

static int fed_open(struct fed *f, const char *dir)
{
	char path[1200], errstr[1024];
	int rc;

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "%s", dir);
	if (chdir(dir))
		return fail(2, "%s: %s (deconfctl -f DIR, or federation init)", dir, strerror(errno));
	snprintf(f->dir, sizeof(f->dir), ".");
	if (access("deconfctl.conf", R_OK))
		return fail(2, "%s/deconfctl.conf: not a federation (deconfctl federation init)",
			    dir);
	if ((rc = deconf_conf_new_bound(&f->conf, ctl_table,
					sizeof(ctl_table) / sizeof(ctl_table[0]), &f->set,
					sizeof(f->set), errstr, sizeof(errstr))) ||
	    (rc = deconf_conf_load(f->conf, fpath(f, "deconfctl.conf", path, sizeof(path)),
				   environ, NULL, 0, errstr, sizeof(errstr))))
		return fail(2, "%s", errstr);
	f->prefix = f->set.federation_topic_prefix;
	deconf_log_set_level(deconf_log_level_parse(f->set.log.level));
	if ((rc = load_public(&f->fed_pub, f->set.federation_public_key,
			      "federation.public_key")) ||
	    (rc = load_public(&f->broker_pub, f->set.federation_broker_public_key,
			      "federation.broker_public_key")))
		return rc;
	return 0;
}

int fed_signing_key(struct fed *f, const char *then)
{
	const char *path = f->set.federation_signing_key;
	uint8_t a[DECONF_PUBKEY_LEN], b[DECONF_PUBKEY_LEN];
	char errstr[1024];

	if (f->key)
		return 0;
	if (deconf_sign_key_load(&f->key, path, errstr, sizeof(errstr)))
		return fail(1, "%s: changing the directory needs the federation key "
			       "(federation.signing_key in deconfctl.conf; kept offline: mount "
			       "it, or point the setting at it)%s%s",
			    errstr, then ? ": " : "", then ? then : "");
	if (!deconf_sign_key_is_private(f->key) || deconf_sign_key_public(f->key, a) ||
	    deconf_sign_key_public(f->fed_pub, b) || memcmp(a, b, sizeof(a))) {
		deconf_sign_key_free(f->key);
		f->key = NULL;
		return fail(1, "%s: not the private half of federation.public_key (%s)%s%s", path,
			    f->set.federation_public_key, then ? ": " : "", then ? then : "");
	}
	return 0;
}

static void fed_close(struct fed *f)
{
	deconf_sign_key_free(f->key);
	deconf_sign_key_free(f->fed_pub);
	deconf_sign_key_free(f->broker_pub);
	deconf_conf_free(f->conf);
}


/* --timeout / DECONF_CTL_TIMEOUT: seconds, as ms; -1 if not 1..3600. */
static int parse_timeout(const char *s)
{
	int v = parse_count(s, BRK_CTL_KAFKA_TIMEOUT_MAX_MS / 1000);

	return v < 1 ? -1 : v * 1000;
}

static int print_version(void)
{
	char line[256];

	deconf_version_line("deconfctl", line, sizeof(line));
	puts(line);
	return 0;
}

int main(int argc, char **argv)
{
	static const char top[] = "[-f FEDERATION_DIR] [--timeout SECONDS] COMMAND ...";
	const char *fdir = getenv("DECONF_FEDERATION"), *env = getenv("DECONF_CTL_TIMEOUT");
	const char *cmd, *sub;
	int timeout_ms = BRK_CTL_KAFKA_TIMEOUT_MS;
	struct fed f;
	int i, rc;

	deconf_log_set_program("deconfctl");
	if (env && *env && (timeout_ms = parse_timeout(env)) < 0)
		return usage_error(top, "DECONF_CTL_TIMEOUT=%s: whole seconds, 1..3600", env);
	/* the global options, before the command */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			return 0;
		}
		if (!strcmp(a, "--version"))
			return print_version();
		if (!strcmp(a, "--help-config")) {
			deconf_conf_print_help(ctl_table, sizeof(ctl_table) / sizeof(ctl_table[0]),
					       stdout);
			return 0;
		}
		if (!strcmp(a, "-f") || !strcmp(a, "--timeout")) {
			if (i + 1 == argc)
				return usage_error(top, "option '%s' needs a value", a);
			if (a[1] == 'f')
				fdir = argv[++i];
			else if ((timeout_ms = parse_timeout(argv[++i])) < 0)
				return usage_error(top, "--timeout %s: whole seconds, 1..3600", argv[i]);
		} else if (!strncmp(a, "--timeout=", 10)) {
			if ((timeout_ms = parse_timeout(a + 10)) < 0)
				return usage_error(top, "%s: whole seconds, 1..3600", a);
		} else {
			return usage_error(top, "unknown option '%s'", a);
		}
	}
	if (i == argc) {
		fputs(usage, stderr);
		return 2;
	}
	argc -= i - 1;
	argv += i - 1;
	cmd = argv[1];
	sub = argc >= 3 ? argv[2] : "";
	/* what needs no federation */
	if (!strcmp(cmd, "federation") && !strcmp(sub, "init"))
		return cmd_federation_init(argc - 2, argv + 2);
	if (!strcmp(cmd, "dev-kafka"))
		return cmd_dev_kafka(argc - 1, argv + 1);
	if (!strcmp(cmd, "version")) {
		if (argc > 2)
			return usage_error("version", "unexpected argument '%s'", argv[2]);
		return print_version();
	}
	/* the command must be known before the federation is opened */
	if (!strcmp(cmd, "federation")) {
		if (strcmp(sub, "rotate-key") && strcmp(sub, "epochs"))
			return usage_error("federation init|rotate-key|epochs ...",
					   sub[0] ? "unknown command 'federation %s'"
						  : "federation: which command?%s",
					   sub);
	} else if (!strcmp(cmd, "agency")) {
		if (strcmp(sub, "add") && strcmp(sub, "suspend") && strcmp(sub, "activate") &&
		    strcmp(sub, "list") && strcmp(sub, "set-scope"))
			return usage_error("agency add|suspend|activate|set-scope|list ...",
					   sub[0] ? "unknown command 'agency %s'"
						  : "agency: which command?%s",
					   sub);
	} else if (!strcmp(cmd, "topics")) {
		if (strcmp(sub, "apply"))
			return usage_error("topics apply", sub[0] ? "unknown command 'topics %s'"
								  : "topics: which command?%s",
					   sub);
	} else if (!strcmp(cmd, "offsets")) {
		if (strcmp(sub, "show") && strcmp(sub, "accept-loss"))
			return usage_error("offsets show|accept-loss ...",
					   sub[0] ? "unknown command 'offsets %s'"
						  : "offsets: which command?%s",
					   sub);
	} else if (!strcmp(cmd, "audit")) {
		if (strcmp(sub, "verify"))
			return usage_error("audit verify [--from ...]",
					   sub[0] ? "unknown command 'audit %s'"
						  : "audit: which command?%s",
					   sub);
	} else if (strcmp(cmd, "tail") && strcmp(cmd, "status")) {
		return usage_error(top, "unknown command '%s'", cmd);
	}
	if ((rc = fed_open(&f, fdir ? fdir : ".")))
		return rc;
	f.timeout_ms = timeout_ms;
	if (!strcmp(cmd, "tail"))
		rc = cmd_tail(&f, argc - 1, argv + 1);
	else if (!strcmp(cmd, "status"))
		rc = cmd_status(&f, argc - 1, argv + 1);
	else if (!strcmp(cmd, "audit"))
		rc = cmd_audit_verify(&f, argc - 2, argv + 2);
	else if (!strcmp(cmd, "federation"))
		rc = !strcmp(sub, "rotate-key") ? cmd_rotate_key(&f, argc - 2, argv + 2)
						: cmd_epochs(&f, argc - 2, argv + 2);
	else if (!strcmp(cmd, "topics"))
		rc = cmd_topics_apply(&f, argc - 2, argv + 2);
	else if (!strcmp(cmd, "offsets"))
		rc = cmd_offsets(&f, argc - 2, argv + 2, !strcmp(sub, "accept-loss"));
	else if (!strcmp(sub, "add"))
		rc = cmd_agency_add(&f, argc - 2, argv + 2);
	else if (!strcmp(sub, "suspend"))
		rc = cmd_agency_status(&f, argc - 2, argv + 2,
				       K(AGENCY_STATUS__AGENCY_STATUS_SUSPENDED));
	else if (!strcmp(sub, "activate"))
		rc = cmd_agency_status(&f, argc - 2, argv + 2, K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE));
	else if (!strcmp(sub, "set-scope"))
		rc = cmd_agency_set_scope(&f, argc - 2, argv + 2);
	else
		rc = cmd_agency_list(&f, argc - 2, argv + 2);
	fed_close(&f);
	return rc;
}
