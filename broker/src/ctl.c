/*
 * ctl.c — deconfctl, the federation operator's tool.
 *
 * A federation is a directory (made by `federation init`): the CA, the
 * broker's TLS certificate and Ed25519 signing key, the federation HMAC key
 * file, broker.conf, deconfctl.conf (how deconfctl reaches Kafka) and, per
 * agency, a bundle directory under agencies/ that the agency takes away.
 * Every command but `federation init` and `dev-kafka` works on the
 * federation named by -f DIR (or $DECONF_FEDERATION, or ".").
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deconf.pb-c.h"
#include "deconf/conf.h"
#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/log.h"
#include "deconf/sign.h"
#include "deconf/token.h"
#include "deconf/util.h"
#include "ctl_kafka.h"
#include "ctl_offsets.h"
#include "kquota.h"
#include "pki.h"

#define K(x) DECONF__V1__##x
#define CERT_DAYS 825
/* A topic dev-kafka makes in its mock cluster, so that deconfctl knows it
 * is talking to one (librdkafka 2.0.2 does not say which cluster it is). */
#define DEV_KAFKA_MARKER "__deconf_dev_kafka"

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
	"\n"
	"  federation init DIR [--host NAME]... [--bootstrap HOST:PORT] [--partitions N]\n"
	"                       [--prefix P] [--plaintext] [--ca-cert PEM --ca-key PEM]\n"
	"      a new federation in DIR: CA, the broker's TLS certificate (SAN: every\n"
	"      --host) and signing key, the federation key file (epoch 1), broker.conf\n"
	"      and deconfctl.conf, and key-epochs.pb (epoch 1 live). Refuses an existing\n"
	"      federation. --ca-cert/--ca-key: issue from an existing CA (one the Kafka\n"
	"      brokers trust) instead of a new one.\n"
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
	"      the agency's certificate (CN = ID) and signing key, a bundle directory\n"
	"      (agencies/ID) to hand over, and its directory entry and the key epochs\n"
	"      record on Kafka (the directory topic must exist: topics apply).\n"
	"  agency suspend ID | agency activate ID\n"
	"      republish the entry with that status (a suspended agency's\n"
	"      submissions are refused).\n"
	"  agency list\n"
	"      the agencies of the directory topic, as the broker sees them.\n"
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

static const struct deconf_conf_def ctl_table[] = {
	{ "federation.topic_prefix", DECONF_CONF_STR, "deconf.", 0, 0, NULL, 0,
	  "prefix of every deconf topic" },
	{ "federation.partitions", DECONF_CONF_INT, "4", 1, 1024, NULL, 0,
	  "partitions of deconf.tokens and deconf.state" },
	{ "federation.signing_key", DECONF_CONF_PATH, "broker-signing.key", 0, 0, NULL, 0,
	  "the federation's Ed25519 key (signs directory entries)" },
	{ "quota.producer_byte_rate", DECONF_CONF_SIZE, "4M", 1024, (int64_t)1 << 40, NULL, 0,
	  "each agency's Kafka produce quota (User:<id>), bytes/s per broker" },
	{ "quota.consumer_byte_rate", DECONF_CONF_SIZE, "10M", 1024, (int64_t)1 << 40, NULL, 0,
	  "each agency's Kafka fetch quota (User:<id>), bytes/s per broker" },
	{ "quota.request_percentage", DECONF_CONF_INT, "25", 1, 10000, NULL, 0,
	  "each agency's share of a broker's request threads, % of one thread" },
	{ "log.level", DECONF_CONF_ENUM, "notice", 0, 0, "err|warning|notice|info|debug", 0,
	  "least severe level logged" },
};

static volatile int stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(int rc, const char *fmt, ...)
{
	va_list ap;

	fputs("deconfctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return rc;
}

static int usage_error(const char *synopsis, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Bad usage: the reason and the command's synopsis; exit status 2. */
static int usage_error(const char *synopsis, const char *fmt, ...)
{
	va_list ap;

	fputs("deconfctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: deconfctl %s\n(deconfctl --help: every command)\n", synopsis);
	return 2;
}

/* What getopt_long (optstring ":...", opterr 0) refused, as usage_error. */
static int bad_option(int ch, char **argv, const char *synopsis)
{
	if (ch == ':')
		return usage_error(synopsis, "option '%s' needs a value", argv[optind - 1]);
	if (optopt)
		return usage_error(synopsis, "unknown option '-%c'", optopt);
	return usage_error(synopsis, "unknown option '%s'", argv[optind - 1]);
}

/* Start parsing a subcommand's argv (argv[0] is its name). */
static void opt_reset(void)
{
	optind = 0; /* GNU getopt: start over, argv[0] skipped */
	opterr = 0;
}

/* A command without options: refuses any; its operands are then
 * argv[optind..argc). Returns 0 or 2 (said). */
static int no_options(int argc, char **argv, const char *synopsis)
{
	static const struct option none[] = { { NULL, 0, NULL, 0 } };
	int ch;

	opt_reset();
	if ((ch = getopt_long(argc, argv, ":", none, NULL)) != -1)
		return bad_option(ch, argv, synopsis);
	return 0;
}

/* ----------------------------------------------------------- federation */

struct fed {
	char dir[1024];
	struct deconf_conf *conf;
	struct deconf_sign_key *key;
	const char *prefix;
	int timeout_ms; /* --timeout: every wait for Kafka */
};

/*
 * A client of the federation's Kafka, reached within the timeout, or NULL
 * with the reason printed (and then, when not NULL, what it means: e.g.
 * "nothing was made").
 */
static struct brk_ctl_kafka *fed_kafka(struct fed *f, rd_kafka_type_t type,
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

/* Publishing to the directory: idempotent, so records land once and in
 * order (an agency's entry before the epochs record that follows it). */
static const char *const publisher_props[] = { "enable.idempotence", "true", NULL };

/* A kafka.* value of the federation's configuration, or NULL. */
static const char *kafka_value(const struct fed *f, const char *name)
{
	for (size_t i = 0; i < deconf_conf_kafka_count(f->conf); i++) {
		const char *n, *v, *o;
		deconf_conf_kafka_get(f->conf, i, &n, &v, &o);
		if (!strcmp(n, name))
			return v;
	}
	return NULL;
}

static const char *fpath(const struct fed *f, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", f->dir, name);
	return buf;
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
	if ((rc = deconf_conf_new(&f->conf, ctl_table, sizeof(ctl_table) / sizeof(ctl_table[0]),
				  errstr, sizeof(errstr))) ||
	    (rc = deconf_conf_load(f->conf, fpath(f, "deconfctl.conf", path, sizeof(path)), NULL,
				   NULL, 0, errstr, sizeof(errstr))))
		return fail(2, "%s", errstr);
	f->prefix = deconf_conf_get_str(f->conf, "federation.topic_prefix");
	deconf_log_set_level(deconf_log_level_parse(deconf_conf_get_str(f->conf, "log.level")));
	if ((rc = deconf_sign_key_load(&f->key, deconf_conf_get_str(f->conf, "federation.signing_key"),
				       errstr, sizeof(errstr))))
		return fail(2, "%s", errstr);
	return 0;
}

static void fed_close(struct fed *f)
{
	deconf_sign_key_free(f->key);
	deconf_conf_free(f->conf);
}

/* -------------------------------------------------- the directory topic */

/* One record for <prefix>directory: its key and what it carries. */
struct dir_record {
	const void *key;
	size_t key_len;
	Deconf__V1__MessageType type;
	const ProtobufCMessage *msg;
};

/*
 * Seal each record with the federation's key (signer "federation") and
 * publish them, in order, to the directory topic through k; returns once
 * Kafka has acknowledged every one. Returns 0, or 1 with the reason printed
 * (a directory topic that does not exist is never made here: one made with
 * the cluster's defaults would not be compacted, and would forget agencies).
 */
static int publish_directory(struct fed *f, struct brk_ctl_kafka *k, const struct dir_record *r,
			     size_t n)
{
	struct brk_ctl_record *rec = calloc(n ? n : 1, sizeof(*rec));
	uint8_t **bufs = calloc(n ? n : 1, sizeof(*bufs));
	char errstr[1024], topic[256];
	int rc = 0;

	if (!rec || !bufs) {
		free(rec);
		free(bufs);
		return fail(1, "out of memory");
	}
	snprintf(topic, sizeof(topic), "%sdirectory", f->prefix);
	for (size_t i = 0; i < n && !rc; i++) {
		size_t len;
		if ((rc = deconf_envelope_seal(r[i].msg, r[i].type, "federation", f->key, &bufs[i],
					       &len)))
			rc = fail(1, "sealing a directory record: %s", deconf_strerror(rc));
		else
			rec[i] = (struct brk_ctl_record){ r[i].key, r[i].key_len, bufs[i], len };
	}
	if (!rc && brk_ctl_kafka_publish(k, topic, rec, n, errstr, sizeof(errstr)))
		rc = fail(1, "%s", errstr);
	for (size_t i = 0; i < n; i++)
		free(bufs[i]);
	free(bufs);
	free(rec);
	return rc;
}

/* ----------------------------------------------------------- key epochs */

/*
 * Which key epochs tokens may use is the federation's decision: a KeyEpochs
 * record signed with the federation's key, on the directory topic under
 * KEY_EPOCHS_KEY (never an agency id: those start with [a-z0-9]). The
 * federation directory keeps the last record made in KEY_EPOCHS_FILE, so
 * republishing it is idempotent (readers ignore a serial they already hold).
 */
#define KEY_EPOCHS_KEY DECONF_EPOCHS_RECORD_KEY
#define KEY_EPOCHS_FILE "key-epochs.pb"
#define DAY_MS (86400LL * 1000)
/* an epoch retired longer ago than this is dropped from the next record */
#define EPOCH_KEEP_MS (30 * DAY_MS)

struct epochs {
	uint64_t serial;
	int64_t updated_at;
	size_t n, cap;
	Deconf__V1__KeyEpoch *v; /* ascending by epoch */
};

static void epochs_free(struct epochs *ep)
{
	free(ep->v);
	memset(ep, 0, sizeof(*ep));
}

static int epochs_add(struct epochs *ep, uint32_t epoch, int64_t activated_at, int64_t retire_at)
{
	Deconf__V1__KeyEpoch e = DECONF__V1__KEY_EPOCH__INIT;

	if (DECONF_GROW(ep->v, ep->n, ep->cap, 4))
		return DECONF_E_NOMEM;
	e.epoch = epoch;
	e.activated_at = activated_at;
	e.retire_at = retire_at;
	ep->v[ep->n++] = e;
	return DECONF_OK;
}

/* ep as a message; the returned pointer array (msg->epochs) is the
 * caller's to free, and ep must outlive msg. NULL when out of memory. */
static Deconf__V1__KeyEpoch **epochs_msg(const struct epochs *ep, Deconf__V1__KeyEpochs *msg)
{
	Deconf__V1__KeyEpochs init = DECONF__V1__KEY_EPOCHS__INIT;
	Deconf__V1__KeyEpoch **pv = calloc(ep->n ? ep->n : 1, sizeof(*pv));

	*msg = init;
	if (!pv)
		return NULL;
	for (size_t i = 0; i < ep->n; i++)
		pv[i] = &ep->v[i];
	msg->n_epochs = ep->n;
	msg->epochs = pv;
	msg->updated_at = ep->updated_at;
	msg->serial = ep->serial;
	return pv;
}

/* Write ep to path (packed KeyEpochs, 0644: it holds no secret). */
static int epochs_save(const struct epochs *ep, const char *path, char *errstr, size_t errstr_size)
{
	Deconf__V1__KeyEpochs msg;
	Deconf__V1__KeyEpoch **pv = epochs_msg(ep, &msg);
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if (!pv || !(buf = malloc((len = deconf__v1__key_epochs__get_packed_size(&msg)) + 1))) {
		free(pv);
		return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
	}
	deconf__v1__key_epochs__pack(&msg, buf);
	rc = deconf_file_write(path, buf, len, 0644, 0, errstr, errstr_size);
	free(buf);
	free(pv);
	return rc;
}

/* Read KEY_EPOCHS_FILE: 0, ENOENT (a federation made before it), or an
 * error with errstr. */
static int epochs_read(struct epochs *ep, char *errstr, size_t errstr_size)
{
	Deconf__V1__KeyEpochs *m;
	char *buf;
	size_t len;
	int rc;

	memset(ep, 0, sizeof(*ep));
	if ((rc = deconf_file_read(KEY_EPOCHS_FILE, 1 << 20, 0, &buf, &len, errstr, errstr_size)))
		return rc;
	m = deconf__v1__key_epochs__unpack(NULL, len, (const uint8_t *)buf);
	free(buf);
	if (!m)
		return deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				      "%s: not a KeyEpochs record", KEY_EPOCHS_FILE);
	rc = m->serial && m->n_epochs ? DECONF_OK : DECONF_E_MALFORMED;
	for (size_t i = 0; i < m->n_epochs && !rc; i++) {
		if (!m->epochs[i]->epoch || (i && m->epochs[i]->epoch <= m->epochs[i - 1]->epoch))
			rc = DECONF_E_MALFORMED;
		else
			rc = epochs_add(ep, m->epochs[i]->epoch, m->epochs[i]->activated_at,
					m->epochs[i]->retire_at);
	}
	ep->serial = m->serial;
	ep->updated_at = m->updated_at;
	deconf__v1__key_epochs__free_unpacked(m, NULL);
	if (rc) {
		epochs_free(ep);
		return deconf_err_set(errstr, errstr_size, rc,
				      "%s: %s (no serial, no epoch, or epochs not ascending)",
				      KEY_EPOCHS_FILE, deconf_strerror(rc));
	}
	return DECONF_OK;
}

/* When epoch was made (ms), from federation.keys' "epoch N HEX created T"
 * lines (the keyring API keeps it to itself); 0 if not found. */
static int64_t ring_created_ms(const char *text, uint32_t epoch)
{
	for (const char *p = text; p && *p;) {
		unsigned long e;
		long long t;
		if (sscanf(p, "epoch %lu %*s created %lld", &e, &t) == 2 && e == epoch)
			return t > 0 && t < INT64_MAX / 1000 ? (int64_t)t * 1000 : 0;
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return 0;
}

/*
 * The federation's key epochs: KEY_EPOCHS_FILE, or for a federation made
 * before deconfctl kept it, one built from federation.keys (every epoch live
 * since it was made, serial 1). An epoch federation.keys holds above the
 * record's newest (a rotate-key stopped between the two files, or made by
 * an older deconfctl) is added live, under the next serial. What changed is
 * saved, and said. Returns 0 or an exit status, the reason printed.
 */
static int epochs_load(struct epochs *ep)
{
	struct deconf_keyring *ring = NULL;
	char errstr[1024], *text = NULL;
	int64_t now = deconf_now_ms();
	size_t added = 0;
	int rc;

	memset(ep, 0, sizeof(*ep));
	if (deconf_keyring_load(&ring, "federation.keys", errstr, sizeof(errstr)) ||
	    deconf_file_read("federation.keys", 1 << 20, 1, &text, NULL, errstr, sizeof(errstr))) {
		rc = fail(1, "%s", errstr);
		goto out;
	}
	if ((rc = epochs_read(ep, errstr, sizeof(errstr))) == ENOENT) {
		rc = 0;
		ep->serial = 1;
		ep->updated_at = now;
		for (size_t i = 0; i < deconf_keyring_count(ring) && !rc; i++) {
			uint32_t e = deconf_keyring_epoch_at(ring, i);
			rc = epochs_add(ep, e, ring_created_ms(text, e), 0);
		}
		if (rc) {
			rc = fail(1, "%s", deconf_strerror(rc));
			goto out;
		}
		printf("key epochs: no %s (a federation made before it was kept): built from "
		       "federation.keys, every epoch live, serial 1\n",
		       KEY_EPOCHS_FILE);
		added = 1;
	} else if (rc) {
		rc = fail(1, "%s", errstr);
		goto out;
	} else {
		uint32_t newest = ep->v[ep->n - 1].epoch;
		for (size_t i = 0; i < ep->n; i++)
			if (!deconf_keyring_key(ring, ep->v[i].epoch)) {
				rc = fail(1, "%s lists epoch %" PRIu32 ", which federation.keys does "
					     "not hold: restore federation.keys from its backup",
					  KEY_EPOCHS_FILE, ep->v[i].epoch);
				goto out;
			}
		for (size_t i = 0; i < deconf_keyring_count(ring); i++) {
			uint32_t e = deconf_keyring_epoch_at(ring, i);
			if (e <= newest)
				continue;
			if ((rc = epochs_add(ep, e, ring_created_ms(text, e), 0))) {
				rc = fail(1, "%s", deconf_strerror(rc));
				goto out;
			}
			fprintf(stderr,
				"deconfctl: federation.keys holds epoch %" PRIu32 ", which %s "
				"does not list (a rotate-key that did not finish?): it is added "
				"live; older epochs stay live until the next rotate-key\n",
				e, KEY_EPOCHS_FILE);
			added++;
		}
		if (added) {
			ep->serial++;
			ep->updated_at = now;
		}
	}
	if (added && epochs_save(ep, KEY_EPOCHS_FILE, errstr, sizeof(errstr)))
		rc = fail(1, "%s", errstr);
out:
	if (rc)
		epochs_free(ep);
	deconf_keyring_free(ring);
	free(text);
	return rc;
}

/*
 * The next record when new_epoch is made current at now: every older live
 * epoch retires at now + overlap, an epoch already retiring keeps its time,
 * one retired more than EPOCH_KEEP_MS ago is dropped (its entries are long
 * gone), and the serial moves on.
 */
static int epochs_rotate(struct epochs *ep, uint32_t new_epoch, int64_t now, int64_t overlap_ms)
{
	size_t k = 0;

	for (size_t i = 0; i < ep->n; i++) {
		if (!ep->v[i].retire_at)
			ep->v[i].retire_at = now + overlap_ms;
		else if (ep->v[i].retire_at < now - EPOCH_KEEP_MS)
			continue;
		ep->v[k++] = ep->v[i];
	}
	ep->n = k;
	ep->serial++;
	ep->updated_at = now;
	return epochs_add(ep, new_epoch, now, 0);
}

/* ms as ISO 8601 UTC, e.g. 2025-11-28T03:20:00Z. */
static const char *iso_utc(int64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms)
		snprintf(buf, size, "unknown");
	else if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "%" PRId64 " ms", ms);
	return buf;
}

static void epochs_print(const struct epochs *ep, int64_t now)
{
	char a[64], b[64];

	printf("key epochs: serial %" PRIu64 ", decided %s\n", ep->serial,
	       iso_utc(ep->updated_at, a, sizeof(a)));
	for (size_t i = 0; i < ep->n; i++) {
		const Deconf__V1__KeyEpoch *e = &ep->v[i];
		printf("  epoch %-4" PRIu32 " activated %-20s  ", e->epoch,
		       iso_utc(e->activated_at, a, sizeof(a)));
		if (!e->retire_at)
			printf("live%s\n", i == ep->n - 1 ? ", current" : "");
		else
			printf("%s %s\n", e->retire_at > now ? "retires" : "retired",
			       iso_utc(e->retire_at, b, sizeof(b)));
	}
}

/* "1 (retires 2025-...Z), 2": the epochs of ep, for one line. */
static const char *epochs_summary(const struct epochs *ep, char *buf, size_t size)
{
	size_t off = 0;
	char t[64];

	buf[0] = '\0';
	for (size_t i = 0; i < ep->n && off < size; i++) {
		const Deconf__V1__KeyEpoch *e = &ep->v[i];
		int w = e->retire_at ? snprintf(buf + off, size - off, "%s%" PRIu32 " (retire%s %s)",
						i ? ", " : "", e->epoch,
						e->retire_at > deconf_now_ms() ? "s" : "d",
						iso_utc(e->retire_at, t, sizeof(t)))
				     : snprintf(buf + off, size - off, "%s%" PRIu32, i ? ", " : "",
						e->epoch);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return buf;
}

/* Publish ep (alone, or after an agency's entry) through k and say so
 * once Kafka confirmed it. */
static int epochs_publish(struct fed *f, struct brk_ctl_kafka *k, const struct epochs *ep,
			  const Deconf__V1__DirectoryEntry *entry)
{
	Deconf__V1__KeyEpochs msg;
	Deconf__V1__KeyEpoch **pv = epochs_msg(ep, &msg);
	struct dir_record r[2];
	size_t n = 0;
	char sum[1024];
	int rc;

	if (!pv)
		return fail(1, "out of memory");
	if (entry)
		r[n++] = (struct dir_record){ entry->agency_id.data, entry->agency_id.len,
					      K(MESSAGE_TYPE__MESSAGE_TYPE_DIRECTORY_ENTRY),
					      &entry->base };
	r[n++] = (struct dir_record){ KEY_EPOCHS_KEY, strlen(KEY_EPOCHS_KEY),
				      K(MESSAGE_TYPE__MESSAGE_TYPE_KEY_EPOCHS), &msg.base };
	if (!(rc = publish_directory(f, k, r, n)))
		printf("key epochs: serial %" PRIu64 " published (epochs: %s)\n", ep->serial,
		       epochs_summary(ep, sum, sizeof(sum)));
	free(pv);
	return rc;
}

/* "30d", "12h", "90m", "45s", "0": a duration in ms; -1 if malformed or
 * longer than ten years. */
static int64_t parse_duration_ms(const char *s)
{
	static const struct {
		char unit;
		int64_t ms;
	} units[] = { { 'd', DAY_MS }, { 'h', 3600000 }, { 'm', 60000 }, { 's', 1000 } };
	char *end;
	long long v;

	if (!strcmp(s, "0"))
		return 0;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end[0] == '\0' || end[1] != '\0')
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (*end == units[i].unit)
			return v <= 3650 * DAY_MS / units[i].ms ? v * units[i].ms : -1;
	return -1;
}

/* A whole number 1..max, or -1. */
static int parse_count(const char *s, int max)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno || *end || v < 1 || v > max ? -1 : (int)v;
}

static int write_text(const char *path, const char *text, mode_t mode)
{
	char errstr[512];

	if (deconf_file_write(path, text, strlen(text), mode, 1, errstr, sizeof(errstr)))
		return fail(1, "%s", errstr);
	return 0;
}

static int cmd_federation_init(int argc, char **argv)
{
	static const struct option o[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "bootstrap", required_argument, NULL, 'b' },
		{ "partitions", required_argument, NULL, 'p' },
		{ "prefix", required_argument, NULL, 'P' },
		{ "plaintext", no_argument, NULL, 'T' },
		{ "ca-cert", required_argument, NULL, 'C' },
		{ "ca-key", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca_cert = NULL, *ca_key = NULL;
	const char *hosts[16] = { "localhost", "127.0.0.1" }, *bootstrap = "localhost:9093";
	static const char syn[] =
		"federation init DIR [--host NAME]... [--bootstrap HOST:PORT] [--partitions N] "
		"[--prefix P] [--plaintext] [--ca-cert PEM --ca-key PEM]";
	const char *prefix = "deconf.";
	size_t n_hosts = 2;
	int partitions = 4, plaintext = 0, ch;
	char path[1200], path2[1200], errstr[1024] = "", text[4096], *dir;
	struct deconf_sign_key *key = NULL;
	struct deconf_keyring *ring = NULL;
	uint32_t epoch = 0;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":", o, NULL)) != -1) {
		switch (ch) {
		case 'H':
			if (n_hosts == 16)
				return usage_error(syn, "too many --host (at most 14)");
			hosts[n_hosts++] = optarg;
			break;
		case 'b': bootstrap = optarg; break;
		case 'p':
			if ((partitions = parse_count(optarg, 1024)) < 1)
				return usage_error(syn, "--partitions %s: 1..1024", optarg);
			break;
		case 'P': prefix = optarg; break;
		case 'T': plaintext = 1; break;
		case 'C': ca_cert = optarg; break;
		case 'K': ca_key = optarg; break;
		default: return bad_option(ch, argv, syn);
		}
	}
	if (optind != argc - 1)
		return usage_error(syn, optind < argc ? "one directory, not '%s' too"
						      : "the federation's directory is missing%s",
				   optind < argc ? argv[argc - 1] : "");
	if (!ca_cert != !ca_key)
		return usage_error(syn, "--ca-cert and --ca-key go together");
	dir = argv[optind];
	snprintf(path, sizeof(path), "%s/deconfctl.conf", dir);
	if (!access(path, F_OK))
		return fail(1, "%s: a federation exists there; refusing to overwrite it", dir);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return fail(1, "%s: %s", dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/agencies", dir);
	if (mkdir(path, 0700) && errno != EEXIST)
		return fail(1, "%s: %s", path, strerror(errno));
	/* the CA and the broker's certificate */
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	snprintf(path2, sizeof(path2), "%s/ca.key", dir);
	if (ca_cert) {
		/* the organisation's CA, which its Kafka brokers already trust */
		char *pem = NULL;
		size_t len;
		int rc = deconf_file_read(ca_cert, 1 << 20, 0, &pem, &len, errstr, sizeof(errstr));
		if (!rc)
			rc = deconf_file_write(path, pem, len, 0644, 1, errstr, sizeof(errstr));
		free(pem);
		pem = NULL;
		if (!rc)
			rc = deconf_file_read(ca_key, 1 << 20, 0, &pem, &len, errstr, sizeof(errstr));
		if (!rc)
			rc = deconf_file_write(path2, pem, len, 0600, 1, errstr, sizeof(errstr));
		free(pem);
		if (rc)
			return fail(1, "%s", errstr);
	} else if (brk_pki_ca_new(path, path2, "deconf federation CA", 3650, errstr,
				  sizeof(errstr))) {
		return fail(1, "%s", errstr);
	}
	{
		char cert[1200], kp[1200];
		snprintf(cert, sizeof(cert), "%s/broker.pem", dir);
		snprintf(kp, sizeof(kp), "%s/broker.key", dir);
		if (brk_pki_issue(path, path2, "deconf-broker", hosts, n_hosts, 1, CERT_DAYS, cert, kp,
				  errstr, sizeof(errstr)))
			return fail(1, "%s", errstr);
	}
	/* the broker's (federation's) signing key, and its public half */
	snprintf(path, sizeof(path), "%s/broker-signing.key", dir);
	snprintf(path2, sizeof(path2), "%s/broker.pub", dir);
	if (deconf_sign_key_generate(&key, errstr, sizeof(errstr)) ||
	    deconf_sign_key_save_private(key, path, errstr, sizeof(errstr)) ||
	    deconf_sign_key_save_public(key, path2, errstr, sizeof(errstr))) {
		deconf_sign_key_free(key);
		return fail(1, "%s", errstr);
	}
	deconf_sign_key_free(key);
	/* the federation key: agencies make tokens with it; the broker never
	 * loads it */
	snprintf(path, sizeof(path), "%s/federation.keys", dir);
	if (deconf_keyring_new(&ring) || deconf_keyring_rotate(ring, &epoch) ||
	    deconf_keyring_save(ring, path, 1, errstr, sizeof(errstr))) {
		deconf_keyring_free(ring);
		return fail(1, "%s", errstr);
	}
	deconf_keyring_free(ring);
	/* the live epochs, published by topics apply (no Kafka yet) */
	{
		struct epochs ep = { .serial = 1, .updated_at = deconf_now_ms() };
		snprintf(path, sizeof(path), "%s/%s", dir, KEY_EPOCHS_FILE);
		if (epochs_add(&ep, epoch, ep.updated_at, 0) ||
		    epochs_save(&ep, path, errstr, sizeof(errstr))) {
			epochs_free(&ep);
			return fail(1, "%s", errstr[0] ? errstr : "out of memory");
		}
		epochs_free(&ep);
	}
	snprintf(text, sizeof(text),
		 "; deconf broker — made by deconfctl federation init. Run it from this\n"
		 "; directory: deconf-broker -c broker.conf (all keys: --help-config).\n"
		 "[broker]\nsigning_key = broker-signing.key\ntopic_prefix = %s\ninstance = 1\n"
		 "[matcher]\nstate_dir = broker-state\n"
		 "[http]\naddress = 127.0.0.1\nport = 9464\n"
		 "[kafka]\nbootstrap.servers = %s\n%s",
		 prefix, bootstrap,
		 plaintext ? ""
			   : "security.protocol = ssl\nssl.ca.location = ca.pem\n"
			     "ssl.certificate.location = broker.pem\nssl.key.location = broker.key\n");
	snprintf(path, sizeof(path), "%s/broker.conf", dir);
	if (write_text(path, text, 0600))
		return 1;
	snprintf(text, sizeof(text),
		 "; how deconfctl reaches Kafka (as the broker's principal)\n"
		 "[federation]\ntopic_prefix = %s\npartitions = %d\n"
		 "signing_key = broker-signing.key\n"
		 "[kafka]\nbootstrap.servers = %s\n%s",
		 prefix, partitions, bootstrap,
		 plaintext ? ""
			   : "security.protocol = ssl\nssl.ca.location = ca.pem\n"
			     "ssl.certificate.location = broker.pem\nssl.key.location = broker.key\n");
	snprintf(path, sizeof(path), "%s/deconfctl.conf", dir);
	if (write_text(path, text, 0600))
		return 1;
	printf("federation created in %s:\n"
	       "  ca.pem, ca.key            the federation CA (keep ca.key offline)\n"
	       "  broker.pem, broker.key    the broker's TLS certificate (SAN:",
	       dir);
	for (size_t i = 0; i < n_hosts; i++)
		printf(" %s", hosts[i]);
	printf(")\n"
	       "  broker-signing.key        the broker's Ed25519 key; broker.pub its public half\n"
	       "  federation.keys           the token key, epoch %u (agencies get it; the broker never)\n"
	       "  key-epochs.pb             the live key epochs, signed and published by topics apply\n"
	       "  broker.conf               deconf-broker -c broker.conf, run from %s\n"
	       "next: deconfctl -f %s agency add ID --name ... (then topics apply)\n",
	       epoch, dir, dir);
	return 0;
}

/*
 * Add epoch N+1 to the federation key file and to every agency's bundle,
 * then decide the epochs anew (N+1 live, the older ones retiring after the
 * overlap), keep the record and publish it.
 */
static int cmd_rotate_key(struct fed *f, int argc, char **argv)
{
	static const struct option o[] = {
		{ "overlap", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	static const char syn[] = "federation rotate-key [--overlap DURATION]";
	struct deconf_keyring *ring = NULL;
	struct brk_ctl_kafka *k = NULL;
	struct epochs ep;
	char errstr[1024], path[1200], when[64];
	int64_t overlap = 30 * DAY_MS, now;
	uint32_t epoch = 0;
	DIR *d;
	struct dirent *de;
	int n = 0, ch, rc = 1;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":", o, NULL)) != -1) {
		if (ch != 'o')
			return bad_option(ch, argv, syn);
		if ((overlap = parse_duration_ms(optarg)) < 0)
			return usage_error(syn, "--overlap %s: a duration like 30d, 12h, 90m or 0, at "
						"most 3650d",
					   optarg);
	}
	if (optind != argc)
		return usage_error(syn, "unexpected argument '%s'", argv[optind]);
	/* the record as it stands, before anything changes */
	if (epochs_load(&ep))
		return 1;
	/* Kafka first: a rotation the broker cannot be told of would leave the
	 * new key in every bundle and its tokens refused */
	if (!(k = fed_kafka(f, RD_KAFKA_PRODUCER, publisher_props,
			    "nothing was rotated (federation.keys and key-epochs.pb are unchanged)")))
		goto out;
	if (deconf_keyring_load(&ring, "federation.keys", errstr, sizeof(errstr))) {
		fail(1, "%s", errstr);
		goto out;
	}
	if (deconf_keyring_rotate(ring, &epoch) ||
	    deconf_keyring_save(ring, "federation.keys", 0, errstr, sizeof(errstr))) {
		fail(1, "federation.keys: %s", errstr);
		goto out;
	}
	/* federation.keys first: an epoch it holds and the record lacks is
	 * added by the next command (epochs_load); the reverse could not be
	 * repaired */
	now = deconf_now_ms();
	if (epochs_rotate(&ep, epoch, now, overlap) ||
	    epochs_save(&ep, KEY_EPOCHS_FILE, errstr, sizeof(errstr))) {
		fail(1, "epoch %" PRIu32 " is in federation.keys, but %s: %s", epoch,
		     KEY_EPOCHS_FILE, errstr);
		goto out;
	}
	/* each bundle gets the whole ring: the old epochs still verify and
	 * resubmit knows which entries to move */
	if ((d = opendir("agencies"))) {
		while ((de = readdir(d))) {
			struct stat st;
			snprintf(path, sizeof(path), "agencies/%s", de->d_name);
			if (de->d_name[0] == '.' || stat(path, &st) || !S_ISDIR(st.st_mode))
				continue;
			snprintf(path, sizeof(path), "agencies/%s/federation.keys", de->d_name);
			if (deconf_keyring_save(ring, path, 0, errstr, sizeof(errstr))) {
				closedir(d);
				fail(1, "%s (epoch %" PRIu32 " is in federation.keys and %s, and "
					"not yet published: deconfctl federation rotate-key is not done)",
				     errstr, epoch, KEY_EPOCHS_FILE);
				goto out;
			}
			n++;
		}
		closedir(d);
	}
	if (epochs_publish(f, k, &ep, NULL)) {
		fail(1, "epoch %" PRIu32 " is in federation.keys and in %d bundle(s), and the key "
			"epochs record (serial %" PRIu64 ") was saved in %s but not published: the "
			"broker refuses tokens under epoch %" PRIu32 " until it is. Do not hand out the "
			"new federation.keys yet; `deconfctl federation epochs --publish` retries",
		     epoch, n, ep.serial, KEY_EPOCHS_FILE, epoch);
		goto out;
	}
	printf("federation key rotated: epoch %" PRIu32 " is current. %d bundle(s) updated "
	       "(agencies/ID/federation.keys):\n"
	       "give each agency its new federation.keys; it replaces its own and runs\n"
	       "`deconf-adapter -c agency.conf resubmit`, which republishes its live entries\n"
	       "under epoch %" PRIu32 ". Matching happens within one epoch, so an agency is matched\n"
	       "across the rotation once both sides have resubmitted. The epochs that were live\n"
	       "retire at %s (one already retiring keeps its time): from then on the\n"
	       "broker refuses tokens under them and removes their entries (not at their TTL),\n"
	       "so every agency must resubmit before then.\n",
	       epoch, n, epoch, iso_utc(now + overlap, when, sizeof(when)));
	rc = 0;
out:
	brk_ctl_kafka_free(k);
	deconf_keyring_free(ring);
	epochs_free(&ep);
	return rc;
}

/* Print the federation's key epochs; with --publish, publish them again. */
static int cmd_epochs(struct fed *f, int argc, char **argv)
{
	static const struct option o[] = {
		{ "publish", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	static const char syn[] = "federation epochs [--publish]";
	struct brk_ctl_kafka *k;
	struct epochs ep;
	int publish = 0, rc = 0, ch;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":", o, NULL)) != -1) {
		if (ch != 'p')
			return bad_option(ch, argv, syn);
		publish = 1;
	}
	if (optind != argc)
		return usage_error(syn, "unexpected argument '%s'", argv[optind]);
	if (epochs_load(&ep))
		return 1;
	epochs_print(&ep, deconf_now_ms());
	if (publish) {
		if (!(k = fed_kafka(f, RD_KAFKA_PRODUCER, publisher_props,
				    "the key epochs record was not published")))
			rc = 1;
		else
			rc = epochs_publish(f, k, &ep, NULL);
		brk_ctl_kafka_free(k);
	}
	epochs_free(&ep);
	return rc;
}

/* --------------------------------------------------------------- agencies */

static int parse_level(const char *s)
{
	static const char *const names[] = { "federal", "state", "local", "tribal",
					     "international" };

	for (int i = 0; i < 5; i++)
		if (!strcmp(s, names[i]))
			return i + 1;
	return 0;
}

static const char *level_name(int level)
{
	static const char *const names[] = { "?", "federal", "state", "local", "tribal",
					     "international" };

	return level >= 0 && level <= 5 ? names[level] : "?";
}

static int cmd_agency_add(struct fed *f, int argc, char **argv)
{
	static const struct option o[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "level", required_argument, NULL, 'l' },
		{ "country", required_argument, NULL, 'c' },
		{ "poc-name", required_argument, NULL, 'N' },
		{ "poc-phone", required_argument, NULL, 'P' },
		{ "poc-email", required_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 },
	};
	static const char syn[] =
		"agency add ID --name NAME --level federal|state|local|tribal|international "
		"--country CC --poc-name NAME --poc-phone PHONE --poc-email EMAIL";
	const char *name = NULL, *country = NULL, *pn = NULL, *pp = NULL, *pe = NULL, *id;
	struct brk_ctl_kafka *k = NULL;
	Deconf__V1__DirectoryEntry e = DECONF__V1__DIRECTORY_ENTRY__INIT;
	Deconf__V1__PointOfContact poc = DECONF__V1__POINT_OF_CONTACT__INIT;
	struct deconf_sign_key *key = NULL;
	struct epochs ep;
	uint8_t pub[DECONF_PUBKEY_LEN];
	char dir[1200], path[1400], path2[1400], errstr[1024] = "", text[4096], *fedkeys = NULL,
		*bpub = NULL;
	size_t len;
	int level = 0, ch, rc;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":", o, NULL)) != -1) {
		switch (ch) {
		case 'n': name = optarg; break;
		case 'l':
			if (!(level = parse_level(optarg)))
				return usage_error(syn, "--level %s: federal|state|local|tribal|"
							"international",
						   optarg);
			break;
		case 'c': country = optarg; break;
		case 'N': pn = optarg; break;
		case 'P': pp = optarg; break;
		case 'E': pe = optarg; break;
		default: return bad_option(ch, argv, syn);
		}
	}
	if (optind != argc - 1)
		return usage_error(syn, optind < argc ? "one agency id, not '%s' too"
						      : "the agency id is missing%s",
				   optind < argc ? argv[argc - 1] : "");
	id = argv[optind];
	if (!deconf_agency_id_valid(id, strlen(id)))
		return fail(2, "'%s' is not an agency id: 2..63 of a-z, 0-9 and '-', not starting "
			       "with '-'",
			    id);
	/* its certificate's CN would be (or map to) a Kafka super user or one of
	 * the federation's own services: reading every agency's notices,
	 * deconf.tokens and the audit */
	if (deconf_agency_id_reserved(id, strlen(id)))
		return fail(2, "'%s' is a reserved id: its certificate would be, or could map to, "
			       "a Kafka super user or one of the federation's own services, with "
			       "more rights than an agency (the reserved ids: --help); choose another "
			       "id",
			    id);
	if (!name || !level || !country || !pn || !pp || !pe)
		return usage_error(syn, "agency add %s: --name, --level, --country, --poc-name, "
					"--poc-phone and --poc-email are required",
				   id);
	if (strlen(country) != 2 || country[0] < 'A' || country[0] > 'Z' || country[1] < 'A' ||
	    country[1] > 'Z')
		return usage_error(syn, "--country %s: an ISO 3166-1 alpha-2 code, e.g. US", country);
	snprintf(dir, sizeof(dir), "%s/agencies/%s", f->dir, id);
	if (!access(dir, F_OK))
		return fail(1, "%s: the agency exists (agency suspend/activate changes it)", dir);
	/* published with the entry, so a broker started before topics apply
	 * learns which epochs the new agency's tokens may use */
	if (epochs_load(&ep))
		return 1;
	/* Kafka and the directory topic first: a bundle whose agency the broker
	 * was never told of must not look done */
	if (!(k = fed_kafka(f, RD_KAFKA_PRODUCER, publisher_props, "nothing was made"))) {
		epochs_free(&ep);
		return 1;
	}
	{
		char topic[256];
		int np;
		snprintf(topic, sizeof(topic), "%sdirectory", f->prefix);
		if ((rc = brk_ctl_kafka_topic(k, topic, &np, errstr, sizeof(errstr)))) {
			fail(1, "%s%s: nothing was made", errstr,
			     rc == DECONF_E_UNKNOWN ? " (deconfctl topics apply creates the "
						      "federation's topics)"
						    : "");
			brk_ctl_kafka_free(k);
			epochs_free(&ep);
			return 1;
		}
	}
	if (mkdir(dir, 0700)) {
		brk_ctl_kafka_free(k);
		epochs_free(&ep);
		return fail(1, "%s: %s", dir,
			    errno == EEXIST ? "the agency exists (agency suspend/activate changes it)"
					    : strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/agency.pem", dir);
	snprintf(path2, sizeof(path2), "%s/agency.key", dir);
	if ((rc = brk_pki_issue("ca.pem", "ca.key", id, NULL, 0, 0, CERT_DAYS, path, path2, errstr,
				sizeof(errstr))))
		goto out;
	snprintf(path, sizeof(path), "%s/signing.key", dir);
	if ((rc = deconf_sign_key_generate(&key, errstr, sizeof(errstr))) ||
	    (rc = deconf_sign_key_save_private(key, path, errstr, sizeof(errstr))))
		goto out;
	/* what the agency takes: the CA, the federation key, the broker's
	 * public key (to verify notices) */
	if ((rc = deconf_file_read("ca.pem", 1 << 20, 0, &fedkeys, &len, errstr, sizeof(errstr))))
		goto out;
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	if ((rc = deconf_file_write(path, fedkeys, len, 0644, 1, errstr, sizeof(errstr))))
		goto out;
	free(fedkeys);
	fedkeys = NULL;
	if ((rc = deconf_file_read("federation.keys", 1 << 20, 1, &fedkeys, &len, errstr,
				   sizeof(errstr))))
		goto out;
	snprintf(path, sizeof(path), "%s/federation.keys", dir);
	if ((rc = deconf_file_write(path, fedkeys, len, 0600, 1, errstr, sizeof(errstr))))
		goto out;
	if ((rc = deconf_file_read("broker.pub", 1 << 20, 0, &bpub, &len, errstr, sizeof(errstr))))
		goto out;
	snprintf(path, sizeof(path), "%s/broker.pub", dir);
	if ((rc = deconf_file_write(path, bpub, len, 0644, 1, errstr, sizeof(errstr))))
		goto out;
	{
		char bootstrap[512];
		const char *proto = kafka_value(f, "security.protocol");
		snprintf(bootstrap, sizeof(bootstrap), "%s",
			 kafka_value(f, "bootstrap.servers") ? kafka_value(f, "bootstrap.servers")
							     : "localhost:9093");
		snprintf(text, sizeof(text),
			 "; %s — deconf adapter configuration, made by deconfctl agency add.\n"
			 "; Run deconf-adapter from this directory (paths are relative to it).\n"
			 "[agency]\nid = %s\nkey_file = federation.keys\nsigning_key = signing.key\n"
			 "broker_public_key = broker.pub\ntopic_prefix = %s\ndefault_region = %s\n"
			 "[ledger]\ndir = ledger\n[run]\nspool_dir = spool\noutbox_file = notices.jsonl\n"
			 "[kafka]\nbootstrap.servers = %s\n%s",
			 name, id, f->prefix, country, bootstrap,
			 proto && !strcasecmp(proto, "ssl")
				 ? "security.protocol = ssl\nssl.ca.location = ca.pem\n"
				   "ssl.certificate.location = agency.pem\nssl.key.location = agency.key\n"
				 : "");
	}
	snprintf(path, sizeof(path), "%s/agency.conf", dir);
	if ((rc = deconf_file_write(path, text, strlen(text), 0600, 1, errstr, sizeof(errstr))))
		goto out;
	snprintf(text, sizeof(text),
		 "deconf bundle for %s (%s)\n"
		 "==========================================\n\n"
		 "For the agency's IT staff. This directory is everything your adapter needs:\n\n"
		 "  agency.conf       the adapter's configuration (edit bootstrap.servers if needed)\n"
		 "  agency.pem/.key   your TLS client certificate (CN = %s) and its key\n"
		 "  ca.pem            the federation CA, to trust the Kafka brokers\n"
		 "  signing.key       your Ed25519 key: signs your submissions\n"
		 "  federation.keys   the federation's token key: makes your indicators' hashes\n"
		 "  broker.pub        the broker's public key: verifies the notices you receive\n\n"
		 "Keep agency.key, signing.key and federation.keys secret (mode 0600, on the\n"
		 "adapter's host only). Raw indicators never leave your network: the adapter\n"
		 "sends keyed hashes only.\n\n"
		 "1. Install deconf-adapter and copy this directory to its host.\n"
		 "2. From this directory: deconf-adapter -c agency.conf check cases.csv\n"
		 "   (formats: adapters/INPUT.md), then: deconf-adapter -c agency.conf submit cases.csv\n"
		 "3. Notices: deconf-adapter -c agency.conf notices --follow, or run the daemon:\n"
		 "   deconf-adapter -c agency.conf run (spool/ directory in, notices.jsonl out).\n"
		 "4. When the federation rotates its key you receive a new federation.keys:\n"
		 "   replace it, then deconf-adapter -c agency.conf resubmit, before the old\n"
		 "   key epoch's retire time (the federation tells you; default 30 days). From\n"
		 "   then on the broker refuses tokens under the old epoch and removes your\n"
		 "   entries made with it.\n",
		 name, id, id);
	snprintf(path, sizeof(path), "%s/README.txt", dir);
	if ((rc = deconf_file_write(path, text, strlen(text), 0644, 1, errstr, sizeof(errstr))))
		goto out;
	/* the directory entry */
	deconf_sign_key_public(key, pub);
	poc.name = (char *)pn;
	poc.phone = (char *)pp;
	poc.email = (char *)pe;
	e.agency_id.data = (uint8_t *)id;
	e.agency_id.len = strlen(id);
	e.name = (char *)name;
	e.level = level;
	e.country = (char *)country;
	e.watch_contact = &poc;
	e.signing_public_key.data = pub;
	e.signing_public_key.len = sizeof(pub);
	e.status = K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE);
	e.updated_at = deconf_now_ms();
	e.tls_principal = (char *)id;
	{
		/* kept, so suspend/activate can republish it */
		size_t plen = deconf__v1__directory_entry__get_packed_size(&e);
		uint8_t *pb = malloc(plen ? plen : 1);
		if (!pb) {
			rc = DECONF_E_NOMEM;
			goto out;
		}
		deconf__v1__directory_entry__pack(&e, pb);
		snprintf(path, sizeof(path), "%s/agencies/%s.entry", f->dir, id);
		rc = deconf_file_write(path, pb, plen, 0644, 0, errstr, sizeof(errstr));
		free(pb);
		if (rc)
			goto out;
	}
	if ((rc = epochs_publish(f, k, &ep, &e))) {
		fail(1, "agency %s is NOT in the federation yet: its bundle was written to %s and "
			"its entry to agencies/%s.entry, but Kafka did not confirm its directory "
			"entry and the key epochs record (above), so the broker may not know it. Do "
			"not hand the bundle over yet: `deconfctl agency activate %s` and `deconfctl "
			"federation epochs --publish` publish them again",
		     id, dir, id, id);
		goto out_quiet;
	}
	printf("agency %s (%s, %s, %s) added: its directory entry is published; bundle: %s\n"
	       "next: deconfctl topics apply (its topics and ACLs), then hand the bundle over\n",
	       id, name, level_name(level), country, dir);
	goto out_quiet;
out:
	fail(1, "%s", errstr[0] ? errstr : deconf_strerror(rc));
	fail(1, "agency %s was not added (%s may hold part of its bundle: remove it before "
		"adding the agency again)",
	     id, dir);
out_quiet:
	brk_ctl_kafka_free(k);
	epochs_free(&ep);
	deconf_sign_key_free(key);
	free(fedkeys);
	free(bpub);
	return rc ? 1 : 0;
}

static int cmd_agency_status(struct fed *f, int argc, char **argv, int status)
{
	const char *syn = status == K(AGENCY_STATUS__AGENCY_STATUS_SUSPENDED) ? "agency suspend ID"
									       : "agency activate ID";
	const char *word = status == K(AGENCY_STATUS__AGENCY_STATUS_SUSPENDED) ? "suspended"
									        : "active";
	char path[1200], errstr[512], *buf;
	struct brk_ctl_kafka *k;
	size_t len, plen;
	Deconf__V1__DirectoryEntry *e;
	const char *id;
	uint8_t *pb;
	int rc;

	if ((rc = no_options(argc, argv, syn)))
		return rc;
	if (optind != argc - 1)
		return usage_error(syn, optind < argc ? "one agency id, not '%s' too"
						      : "the agency id is missing%s",
				   optind < argc ? argv[argc - 1] : "");
	id = argv[optind];
	if (!deconf_agency_id_valid(id, strlen(id)))
		return usage_error(syn, "'%s' is not an agency id", id);
	snprintf(path, sizeof(path), "%s/agencies/%s.entry", f->dir, id);
	if (deconf_file_read(path, 1 << 20, 0, &buf, &len, errstr, sizeof(errstr)))
		return fail(1, "%s (no such agency in this federation?)", errstr);
	if (!(e = deconf__v1__directory_entry__unpack(NULL, len, (uint8_t *)buf))) {
		free(buf);
		return fail(1, "%s: unreadable", path);
	}
	free(buf);
	e->status = status;
	e->updated_at = deconf_now_ms();
	if (!(k = fed_kafka(f, RD_KAFKA_PRODUCER, publisher_props, "nothing was changed"))) {
		deconf__v1__directory_entry__free_unpacked(e, NULL);
		return 1;
	}
	{
		struct dir_record r = { e->agency_id.data, e->agency_id.len,
					K(MESSAGE_TYPE__MESSAGE_TYPE_DIRECTORY_ENTRY), &e->base };
		rc = publish_directory(f, k, &r, 1);
	}
	brk_ctl_kafka_free(k);
	if (rc) {
		fail(1, "agency %s was not made %s (its entry on Kafka is as it was)", id, word);
		deconf__v1__directory_entry__free_unpacked(e, NULL);
		return 1;
	}
	/* kept, so the next suspend/activate republishes what Kafka holds */
	plen = deconf__v1__directory_entry__get_packed_size(e);
	if (!(pb = malloc(plen ? plen : 1))) {
		rc = fail(1, "agency %s is now %s on Kafka, but %s was not updated: out of memory",
			  id, word, path);
	} else {
		deconf__v1__directory_entry__pack(e, pb);
		if (deconf_file_write(path, pb, plen, 0644, 0, errstr, sizeof(errstr)))
			rc = fail(1, "agency %s is now %s on Kafka, but %s was not updated: %s", id,
				  word, path, errstr);
		free(pb);
	}
	if (!rc)
		printf("agency %s is now %s\n", id, word);
	deconf__v1__directory_entry__free_unpacked(e, NULL);
	return rc;
}

struct listed {
	char id[64], line[512];
	int status;
	uint8_t pub[DECONF_PUBKEY_LEN];
};

struct dir_read {
	struct fed *f;
	struct listed *v;
	size_t n, refused;
};

/* One directory record into the list (a later record of an agency replaces
 * the earlier one); the key epochs record and unsigned records are not
 * agencies. */
static int dir_record_cb(const rd_kafka_message_t *m, void *opaque)
{
	struct dir_read *d = opaque;
	ProtobufCMessage *msg = NULL;
	Deconf__V1__DirectoryEntry *e;
	size_t i;

	if (m->key_len == strlen(KEY_EPOCHS_KEY) && !memcmp(m->key, KEY_EPOCHS_KEY, m->key_len))
		return 0;
	if (!m->payload || deconf_envelope_open(m->payload, m->len, 1 << 20,
						K(MESSAGE_TYPE__MESSAGE_TYPE_DIRECTORY_ENTRY),
						d->f->key, &deconf__v1__directory_entry__descriptor,
						&msg, NULL, 0)) {
		d->refused += m->payload != NULL;
		return 0;
	}
	e = (Deconf__V1__DirectoryEntry *)msg;
	if (e->agency_id.len >= sizeof(d->v[0].id)) {
		d->refused++;
		deconf_msg_free(msg);
		return 0;
	}
	for (i = 0; i < d->n; i++)
		if (strlen(d->v[i].id) == e->agency_id.len &&
		    !memcmp(d->v[i].id, e->agency_id.data, e->agency_id.len))
			break;
	if (i == d->n) {
		struct listed *nv = realloc(d->v, (d->n + 1) * sizeof(*d->v));
		if (!nv) {
			deconf_msg_free(msg);
			return DECONF_E_NOMEM;
		}
		d->v = nv;
		d->n++;
		snprintf(nv[i].id, sizeof(nv[i].id), "%.*s", (int)e->agency_id.len,
			 (const char *)e->agency_id.data);
	}
	d->v[i].status = e->status;
	memset(d->v[i].pub, 0, DECONF_PUBKEY_LEN);
	if (e->signing_public_key.len == DECONF_PUBKEY_LEN)
		memcpy(d->v[i].pub, e->signing_public_key.data, DECONF_PUBKEY_LEN);
	snprintf(d->v[i].line, sizeof(d->v[i].line), "%-24s %-10s %-13s %-3s %s", d->v[i].id,
		 e->status == K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE)      ? "active"
		 : e->status == K(AGENCY_STATUS__AGENCY_STATUS_SUSPENDED) ? "suspended"
									  : "removed",
		 level_name(e->level), e->country, e->name);
	deconf_msg_free(msg);
	return 0;
}

/*
 * The agencies of the directory topic (the latest record of each, signed
 * by this federation), read to its end through k (a consumer). *v is
 * malloc'ed. *missing: the topic does not exist (then *n is 0). Returns 0,
 * or 1 with the reason printed: a directory that could not be read is
 * never taken for an empty one.
 */
static int read_directory(struct fed *f, struct brk_ctl_kafka *k, struct listed **v, size_t *n,
			  size_t *refused, int *missing)
{
	struct dir_read d = { .f = f };
	char errstr[1024], topic[256];
	int np, rc;

	*v = NULL;
	*n = *refused = 0;
	*missing = 0;
	snprintf(topic, sizeof(topic), "%sdirectory", f->prefix);
	if ((rc = brk_ctl_kafka_topic(k, topic, &np, errstr, sizeof(errstr)))) {
		if (rc == DECONF_E_UNKNOWN) {
			*missing = 1;
			return 0;
		}
		return fail(1, "%s", errstr);
	}
	for (int p = 0; p < np && !rc; p++)
		rc = brk_ctl_kafka_read(k, topic, p, dir_record_cb, &d, errstr, sizeof(errstr));
	if (rc) {
		free(d.v);
		return fail(1, "%s", rc == DECONF_E_NOMEM ? "out of memory" : errstr);
	}
	*v = d.v;
	*n = d.n;
	*refused = d.refused;
	return 0;
}

static int cmd_agency_list(struct fed *f, int argc, char **argv)
{
	struct brk_ctl_kafka *k;
	struct listed *v;
	size_t n, refused;
	int missing, rc;

	if ((rc = no_options(argc, argv, "agency list")))
		return rc;
	if (optind != argc)
		return usage_error("agency list", "unexpected argument '%s'", argv[optind]);
	if (!(k = fed_kafka(f, RD_KAFKA_CONSUMER, NULL, NULL)))
		return 1;
	rc = read_directory(f, k, &v, &n, &refused, &missing);
	brk_ctl_kafka_free(k);
	if (rc)
		return 1;
	if (missing)
		return fail(1, "%sdirectory: no such topic on this cluster (deconfctl topics apply "
			       "creates it): no agency is known",
			    f->prefix);
	printf("%-24s %-10s %-13s %-3s %s\n", "AGENCY", "STATUS", "LEVEL", "CC", "NAME");
	for (size_t i = 0; i < n; i++)
		printf("%s\n", v[i].line);
	if (refused)
		printf("(%zu record(s) not signed by this federation's key were ignored, as the "
		       "broker ignores them)\n",
		       refused);
	free(v);
	return 0;
}

/* ----------------------------------------------------------- topics apply */

struct want_topic {
	char name[256];
	int partitions;
	const char *config[3][2];
};

/* Create what is missing of wt; print what was done (each topic Kafka
 * confirmed). */
/* Wait until every topic of nt has a leader for each of its partitions:
 * Kafka answers CreateTopics before its brokers' metadata shows them, and the
 * next command (agency add, a broker's start) would find them missing. */
static int wait_led(struct brk_ctl_kafka *k, const char *const *names, size_t n)
{
	rd_kafka_t *rk = brk_ctl_kafka_handle(k);
	int64_t end = deconf_mono_us() + (int64_t)brk_ctl_kafka_timeout_ms(k) * 1000;
	const char *missing = NULL;

	for (;;) {
		const struct rd_kafka_metadata *md = NULL;

		missing = NULL;
		if (rd_kafka_metadata(rk, 1, NULL, &md, 5000) || !md) {
			missing = names[0];
		} else {
			for (size_t i = 0; i < n && !missing; i++) {
				const char *name = names[i];
				int led = 0;
				for (int j = 0; j < md->topic_cnt; j++) {
					const struct rd_kafka_metadata_topic *t = &md->topics[j];
					if (strcmp(t->topic, name))
						continue;
					led = !t->err && t->partition_cnt > 0;
					for (int p = 0; p < t->partition_cnt; p++)
						led = led && t->partitions[p].leader >= 0;
				}
				if (!led)
					missing = name;
			}
			rd_kafka_metadata_destroy(md);
		}
		if (!missing)
			return 0;
		if (deconf_mono_us() > end)
			return fail(1, "topic %s: created, but Kafka shows no leader for it after %d s",
				    missing, brk_ctl_kafka_timeout_ms(k) / 1000);
		usleep(100000);
	}
}

static int apply_topics(struct brk_ctl_kafka *k, rd_kafka_queue_t *q, struct want_topic *wt,
			size_t n)
{
	rd_kafka_t *rk = brk_ctl_kafka_handle(k);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_NewTopic_t **nt = calloc(n ? n : 1, sizeof(*nt));
	const char **names = calloc(n ? n : 1, sizeof(*names));
	size_t n_new = 0, existing = 0, created = 0;
	int rf, min_isr;
	rd_kafka_resp_err_t err;
	rd_kafka_event_t *ev;
	char errstr[1024];
	int rc = 0;

	if (!nt || !names) {
		free(nt);
		free(names);
		return fail(1, "out of memory");
	}
	if ((err = rd_kafka_metadata(rk, 1, NULL, &md, brk_ctl_kafka_timeout_ms(k)))) {
		free(nt);
		free(names);
		return fail(1, "listing the cluster's topics: %s",
			    brk_ctl_kafka_cause(err, errstr, sizeof(errstr)));
	}
	/* as many copies as the cluster can hold, up to three; with three, a
	 * write needs two (acks=all): one node may fail without losing any */
	rf = md->broker_cnt < 3 ? md->broker_cnt : 3;
	if (rf < 1)
		rf = 1;
	min_isr = rf == 3 ? 2 : 1;
	printf("replication: %d cop%s of each partition (the cluster has %d broker(s)), "
	       "min.insync.replicas %d\n",
	       rf, rf == 1 ? "y" : "ies", md->broker_cnt, min_isr);
	for (size_t i = 0; i < n; i++) {
		int found = 0;
		for (int j = 0; j < md->topic_cnt && !found; j++)
			if (!strcmp(md->topics[j].topic, wt[i].name)) {
				found = 1;
				if (md->topics[j].partition_cnt < wt[i].partitions)
					printf("topic %s: exists with %d partition(s), fewer than %d: "
					       "left as is (adding partitions moves keys)\n",
					       wt[i].name, md->topics[j].partition_cnt,
					       wt[i].partitions);
				if (md->topics[j].partition_cnt > 0 &&
				    md->topics[j].partitions[0].replica_cnt < rf)
					printf("topic %s: exists with %d cop%s of each partition, fewer "
					       "than %d: left as is (kafka-reassign-partitions adds "
					       "replicas)\n",
					       wt[i].name, md->topics[j].partitions[0].replica_cnt,
					       md->topics[j].partitions[0].replica_cnt == 1 ? "y" : "ies",
					       rf);
			}
		if (found) {
			existing++;
			continue;
		}
		if (!(nt[n_new] = rd_kafka_NewTopic_new(wt[i].name, wt[i].partitions, rf, errstr,
							sizeof(errstr)))) {
			rc = fail(1, "%s: %s", wt[i].name, errstr);
			break;
		}
		for (int c = 0; c < 3 && wt[i].config[c][0]; c++)
			rd_kafka_NewTopic_set_config(nt[n_new], wt[i].config[c][0],
						     wt[i].config[c][1]);
		rd_kafka_NewTopic_set_config(nt[n_new], "min.insync.replicas",
					     min_isr == 2 ? "2" : "1");
		names[n_new++] = wt[i].name;
	}
	rd_kafka_metadata_destroy(md);
	if (!rc && n_new) {
		rd_kafka_AdminOptions_t *o = brk_ctl_kafka_admin_options(k, RD_KAFKA_ADMIN_OP_CREATETOPICS);
		rd_kafka_CreateTopics(rk, nt, n_new, o, q);
		rd_kafka_AdminOptions_destroy(o);
		if ((rc = brk_ctl_kafka_admin_wait(k, q, "creating topics", &ev, &err, errstr,
						   sizeof(errstr)))) {
			rc = fail(1, "%s (none is known to be created)", errstr);
		} else {
			size_t cnt;
			const rd_kafka_topic_result_t **res = rd_kafka_CreateTopics_result_topics(
				rd_kafka_event_CreateTopics_result(ev), &cnt);
			for (size_t i = 0; i < cnt; i++) {
				if (rd_kafka_topic_result_error(res[i])) {
					rc = fail(1, "topic %s NOT created: %s",
						  rd_kafka_topic_result_name(res[i]),
						  brk_ctl_kafka_cause(rd_kafka_topic_result_error(res[i]),
								      errstr, sizeof(errstr)));
					continue;
				}
				printf("created topic %s\n", rd_kafka_topic_result_name(res[i]));
				created++;
			}
			if (!rc && cnt != n_new)
				rc = fail(1, "creating topics: Kafka answered for %zu of %zu", cnt, n_new);
			rd_kafka_event_destroy(ev);
		}
		if (!rc)
			rc = wait_led(k, names, n_new);
	}
	for (size_t i = 0; i < n_new; i++)
		rd_kafka_NewTopic_destroy(nt[i]);
	free(nt);
	free(names);
	if (!rc)
		printf("topics: %zu created, %zu already there\n", created, existing);
	return rc;
}

struct want_acl {
	char topic[256], principal[96];
	rd_kafka_AclOperation_t op;
};

/* Create the literal ACLs that are missing; print what was done (each one
 * Kafka confirmed). A cluster without an authorizer is said so, not failed:
 * it lets every principal do everything. */
static int apply_acls(struct brk_ctl_kafka *k, rd_kafka_queue_t *q, const struct want_acl *wa,
		      size_t n)
{
	rd_kafka_t *rk = brk_ctl_kafka_handle(k);
	rd_kafka_AclBindingFilter_t *filter;
	rd_kafka_AclBinding_t **nb = calloc(n ? n : 1, sizeof(*nb));
	const rd_kafka_AclBinding_t **have = NULL;
	size_t n_have = 0, n_new = 0, created = 0;
	rd_kafka_AdminOptions_t *o;
	rd_kafka_resp_err_t err;
	rd_kafka_event_t *ev;
	char errstr[1024];
	int rc = 0;

	if (!nb)
		return fail(1, "out of memory");
	filter = rd_kafka_AclBindingFilter_new(RD_KAFKA_RESOURCE_TOPIC, NULL,
					       RD_KAFKA_RESOURCE_PATTERN_LITERAL, NULL, NULL,
					       RD_KAFKA_ACL_OPERATION_ANY,
					       RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, errstr,
					       sizeof(errstr));
	o = brk_ctl_kafka_admin_options(k, RD_KAFKA_ADMIN_OP_DESCRIBEACLS);
	rd_kafka_DescribeAcls(rk, filter, o, q);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_AclBinding_destroy(filter);
	if (brk_ctl_kafka_admin_wait(k, q, "reading the ACLs", &ev, &err, errstr, sizeof(errstr))) {
		free(nb);
		if (err == RD_KAFKA_RESP_ERR_SECURITY_DISABLED) {
			printf("ACLs: this cluster has no authorizer (a development cluster?): every "
			       "principal may do everything there; none applied\n");
			return 0;
		}
		return fail(1, "%s (no ACL created)", errstr);
	}
	have = rd_kafka_DescribeAcls_result_acls(rd_kafka_event_DescribeAcls_result(ev), &n_have);
	for (size_t i = 0; i < n && !rc; i++) {
		int found = 0;
		for (size_t j = 0; j < n_have && !found; j++)
			found = !strcmp(rd_kafka_AclBinding_name(have[j]), wa[i].topic) &&
				!strcmp(rd_kafka_AclBinding_principal(have[j]), wa[i].principal) &&
				rd_kafka_AclBinding_operation(have[j]) == wa[i].op;
		if (found)
			continue;
		if (!(nb[n_new] = rd_kafka_AclBinding_new(
			      RD_KAFKA_RESOURCE_TOPIC, wa[i].topic, RD_KAFKA_RESOURCE_PATTERN_LITERAL,
			      wa[i].principal, "*", wa[i].op, RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW,
			      errstr, sizeof(errstr))))
			rc = fail(1, "ACL %s %s: %s", wa[i].principal, wa[i].topic, errstr);
		else
			n_new++;
	}
	rd_kafka_event_destroy(ev);
	if (!rc && n_new) {
		o = brk_ctl_kafka_admin_options(k, RD_KAFKA_ADMIN_OP_CREATEACLS);
		rd_kafka_CreateAcls(rk, nb, n_new, o, q);
		rd_kafka_AdminOptions_destroy(o);
		if ((rc = brk_ctl_kafka_admin_wait(k, q, "creating ACLs", &ev, &err, errstr,
						   sizeof(errstr)))) {
			rc = fail(1, "%s (none is known to be created)", errstr);
		} else {
			size_t cnt;
			const rd_kafka_acl_result_t **res = rd_kafka_CreateAcls_result_acls(
				rd_kafka_event_CreateAcls_result(ev), &cnt);
			for (size_t i = 0; i < cnt && i < n_new; i++) {
				const rd_kafka_error_t *e = rd_kafka_acl_result_error(res[i]);
				if (e)
					rc = fail(1, "ACL NOT created: %s may %s topic %s: %s",
						  rd_kafka_AclBinding_principal(nb[i]),
						  rd_kafka_AclOperation_name(rd_kafka_AclBinding_operation(nb[i])),
						  rd_kafka_AclBinding_name(nb[i]),
						  brk_ctl_kafka_cause(rd_kafka_error_code(e), errstr,
								      sizeof(errstr)));
				else {
					printf("created ACL: %s may %s topic %s (literal)\n",
					       rd_kafka_AclBinding_principal(nb[i]),
					       rd_kafka_AclOperation_name(rd_kafka_AclBinding_operation(nb[i])),
					       rd_kafka_AclBinding_name(nb[i]));
					created++;
				}
			}
			if (!rc && cnt != n_new)
				rc = fail(1, "creating ACLs: Kafka answered for %zu of %zu", cnt, n_new);
			rd_kafka_event_destroy(ev);
		}
	}
	for (size_t i = 0; i < n_new; i++)
		rd_kafka_AclBinding_destroy(nb[i]);
	free(nb);
	if (!rc)
		printf("ACLs: %zu created, %zu already there\n", created, n - n_new);
	return rc;
}

/* Kafka client quotas per agency principal, so that one agency sending as
 * fast as it can does not starve the others (ingest has its own per-agency
 * rates: these bound what reaches Kafka at all). A cluster without the
 * quota API (the mock cluster of dev-kafka) is said so, not failed, as for
 * ACLs. */
static int apply_quotas(struct fed *f, const struct listed *ag, size_t n_ag)
{
	struct brk_kquota *want = calloc(n_ag ? n_ag : 1, sizeof(*want));
	size_t n = 0, changed = 0;
	char errstr[2048];
	int rc;

	if (!want)
		return fail(1, "out of memory");
	for (size_t a = 0; a < n_ag; a++) {
		if (ag[a].status == K(AGENCY_STATUS__AGENCY_STATUS_REMOVED))
			continue;
		snprintf(want[n].user, sizeof(want[n].user), "%s", ag[a].id);
		want[n].producer_byte_rate =
			(double)deconf_conf_get_int(f->conf, "quota.producer_byte_rate");
		want[n].consumer_byte_rate =
			(double)deconf_conf_get_int(f->conf, "quota.consumer_byte_rate");
		want[n].request_percentage =
			(double)deconf_conf_get_int(f->conf, "quota.request_percentage");
		n++;
	}
	rc = brk_kquota_apply(f->conf, want, n, &changed, errstr, sizeof(errstr));
	free(want);
	if (rc == DECONF_E_VERSION) {
		printf("quotas: %s: none applied\n", errstr);
		return 0;
	}
	if (rc)
		return fail(1, "quotas: %s (%zu agencies altered before)", errstr, changed);
	printf("quotas: %zu agencies altered, %zu already there\n", changed, n - changed);
	return 0;
}

static int cmd_topics_apply(struct fed *f, int argc, char **argv)
{
	static const struct {
		const char *name;
		int per_partition;
		const char *config[3][2];
	} global[] = {
		{ "tokens", 1, { { 0 } } },
		/* tombstones must outlive matcher.state_max_age (12 h) */
		{ "state", 1, { { "cleanup.policy", "compact" }, { "delete.retention.ms", "604800000" } } },
		{ "audit", 0, { { "retention.ms", "-1" } } },
		{ "ops", 0, { { 0 } } },
		{ "directory", 0, { { "cleanup.policy", "compact" } } },
		/* seen submission ids: kept past the replay window (30 days) */
		{ "ingest.seen", 0, { { "cleanup.policy", "compact,delete" }, { "retention.ms", "3196800000" } } },
	};
#define N_GLOBAL (sizeof(global) / sizeof(global[0]))
	/* per agency: its own topics (one partition: its records stay in
	 * order), then what it shares */
	static const struct {
		const char *topic; /* per agency: "submit." id, or a shared topic */
		int per_agency;
		rd_kafka_AclOperation_t ops[2];
	} grants[] = {
		{ "submit.", 1, { RD_KAFKA_ACL_OPERATION_WRITE, RD_KAFKA_ACL_OPERATION_DESCRIBE } },
		{ "notices.", 1, { RD_KAFKA_ACL_OPERATION_READ, RD_KAFKA_ACL_OPERATION_DESCRIBE } },
		{ "rejects.", 1, { RD_KAFKA_ACL_OPERATION_READ, RD_KAFKA_ACL_OPERATION_DESCRIBE } },
		/* the broker's signed answer to each submission */
		{ "receipts.", 1, { RD_KAFKA_ACL_OPERATION_READ, RD_KAFKA_ACL_OPERATION_DESCRIBE } },
		{ "directory", 0, { RD_KAFKA_ACL_OPERATION_READ, RD_KAFKA_ACL_OPERATION_DESCRIBE } },
	};
#define N_GRANTS (sizeof(grants) / sizeof(grants[0]))
#define N_OWN 4 /* grants[0..N_OWN) are topics of the agency's own */
	int partitions = (int)deconf_conf_get_int(f->conf, "federation.partitions");
	struct listed *ag = NULL;
	size_t n_ag = 0, refused, nt = 0, na = 0;
	struct want_topic *wt = NULL;
	struct want_acl *wa = NULL;
	struct brk_ctl_kafka *k = NULL, *c = NULL;
	struct epochs ep;
	rd_kafka_queue_t *q = NULL;
	char errstr[1024];
	int rc = 1, missing, np;

	if ((rc = no_options(argc, argv, "topics apply")))
		return rc;
	if (optind != argc)
		return usage_error("topics apply", "unexpected argument '%s'", argv[optind]);
	rc = 1;
	if (epochs_load(&ep))
		return 1;
	if (!(k = fed_kafka(f, RD_KAFKA_PRODUCER, publisher_props, "nothing was applied")))
		goto out;
	/* dev-kafka marks its mock cluster: it has no Admin API for topics (no
	 * controller), ACLs or quotas, and makes the topics itself */
	if (!brk_ctl_kafka_topic(k, DEV_KAFKA_MARKER, &np, errstr, sizeof(errstr))) {
		printf("this cluster is deconfctl dev-kafka (librdkafka's in-memory mock cluster): it "
		       "has no Admin API, no ACLs and no client quotas. dev-kafka made the "
		       "federation's topics and makes each agency's as its directory entry appears; "
		       "topics apply creates no topic, grants no ACL and sets no quota here (every "
		       "client may read and write everything). It publishes the key epochs record.\n");
		rc = epochs_publish(f, k, &ep, NULL);
		goto out;
	}
	if (!(c = fed_kafka(f, RD_KAFKA_CONSUMER, NULL, "nothing was applied")) ||
	    read_directory(f, c, &ag, &n_ag, &refused, &missing))
		goto out;
	wt = calloc(N_GLOBAL + N_OWN * n_ag, sizeof(*wt));
	wa = calloc(2 * N_GRANTS * n_ag + 1, sizeof(*wa));
	if (!wt || !wa) {
		fail(1, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < N_GLOBAL; i++) {
		snprintf(wt[nt].name, sizeof(wt[nt].name), "%s%s", f->prefix, global[i].name);
		wt[nt].partitions = global[i].per_partition ? partitions : 1;
		memcpy(wt[nt].config, global[i].config, sizeof(wt[nt].config));
		nt++;
	}
	for (size_t a = 0; a < n_ag; a++) {
		if (ag[a].status == K(AGENCY_STATUS__AGENCY_STATUS_REMOVED))
			continue;
		for (size_t g = 0; g < N_OWN; g++) {
			snprintf(wt[nt].name, sizeof(wt[nt].name), "%s%s%s", f->prefix, grants[g].topic,
				 ag[a].id);
			wt[nt++].partitions = 1;
		}
		for (size_t g = 0; g < N_GRANTS; g++)
			for (int o = 0; o < 2; o++) {
				snprintf(wa[na].topic, sizeof(wa[na].topic), "%s%s%s", f->prefix,
					 grants[g].topic, grants[g].per_agency ? ag[a].id : "");
				snprintf(wa[na].principal, sizeof(wa[na].principal), "User:%s",
					 ag[a].id);
				wa[na++].op = grants[g].ops[o];
			}
	}
	q = rd_kafka_queue_new(brk_ctl_kafka_handle(k));
	printf("%zu agencies in the directory%s\n", n_ag,
	       missing ? " (its topic is made now)" : "");
	/* the key epochs once the directory topic exists: publishing the same
	 * serial again is harmless (readers ignore serials they hold) */
	if (!(rc = apply_topics(k, q, wt, nt)) && !(rc = epochs_publish(f, k, &ep, NULL)) &&
	    !(rc = apply_acls(k, q, wa, na)))
		rc = apply_quotas(f, ag, n_ag);
out:
	epochs_free(&ep);
	if (q)
		rd_kafka_queue_destroy(q);
	brk_ctl_kafka_free(c);
	brk_ctl_kafka_free(k);
	free(wt);
	free(wa);
	free(ag);
	return rc;
#undef N_GLOBAL
#undef N_GRANTS
#undef N_OWN
}

/* ------------------------------------------------------------------ tail */

static json_t *msg_json(const ProtobufCMessage *m);

static json_t *bytes_json(const ProtobufCBinaryData *b)
{
	char *hex;
	json_t *j;
	int text = b->len > 0;

	/* ids and case refs are printable text; tokens and keys are not */
	for (size_t i = 0; i < b->len && text; i++)
		text = b->data[i] >= 0x20 && b->data[i] < 0x7f;
	if (text)
		return json_stringn((const char *)b->data, b->len);
	if (!(hex = malloc(b->len * 2 + 1)))
		return json_null();
	j = json_string(deconf_hex_encode(hex, b->data, b->len));
	free(hex);
	return j;
}

static json_t *value_json(const ProtobufCFieldDescriptor *fd, const void *p)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: return json_integer(*(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: return json_integer((json_int_t) * (const uint64_t *)p);
	case PROTOBUF_C_TYPE_FLOAT: return json_real(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE: return json_real(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL: return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value(fd->descriptor, *(const int *)p);
		return ev ? json_string(ev->name) : json_integer(*(const int *)p);
	}
	case PROTOBUF_C_TYPE_STRING:
		return *(char *const *)p ? json_string(*(char *const *)p) : json_null();
	case PROTOBUF_C_TYPE_BYTES: return bytes_json(p);
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *)p ? msg_json(*(ProtobufCMessage *const *)p)
						       : json_null();
	}
	return json_null();
}

/* Any deconf message as a JSON object: field names, enum names, bytes as
 * text when printable and hex otherwise. Default values are left out. */
static json_t *msg_json(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	json_t *o = json_object();

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		const char *base = (const char *)m + fd->offset;
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + fd->quantifier_offset);
			const char *arr = *(char *const *)base;
			size_t sz = fd->type == PROTOBUF_C_TYPE_MESSAGE || fd->type == PROTOBUF_C_TYPE_STRING
					    ? sizeof(void *)
				    : fd->type == PROTOBUF_C_TYPE_BYTES ? sizeof(ProtobufCBinaryData)
				    : fd->type == PROTOBUF_C_TYPE_INT64 || fd->type == PROTOBUF_C_TYPE_UINT64 ||
					      fd->type == PROTOBUF_C_TYPE_SINT64 ||
					      fd->type == PROTOBUF_C_TYPE_FIXED64 ||
					      fd->type == PROTOBUF_C_TYPE_SFIXED64 ||
					      fd->type == PROTOBUF_C_TYPE_DOUBLE
					    ? 8
				    : fd->type == PROTOBUF_C_TYPE_BOOL ? sizeof(protobuf_c_boolean)
								       : 4;
			json_t *a;
			if (!n)
				continue;
			a = json_array();
			for (size_t k = 0; k < n; k++)
				json_array_append_new(a, value_json(fd, arr + k * sz));
			json_object_set_new(o, fd->name, a);
			continue;
		}
		/* proto3: leave out zero / empty values */
		if ((fd->type == PROTOBUF_C_TYPE_STRING && (!*(char *const *)base || !**(char *const *)base)) ||
		    (fd->type == PROTOBUF_C_TYPE_BYTES && !((const ProtobufCBinaryData *)base)->len) ||
		    (fd->type == PROTOBUF_C_TYPE_MESSAGE && !*(void *const *)base))
			continue;
		if (fd->type != PROTOBUF_C_TYPE_STRING && fd->type != PROTOBUF_C_TYPE_BYTES &&
		    fd->type != PROTOBUF_C_TYPE_MESSAGE) {
			static const char zero[8];
			size_t sz = fd->type == PROTOBUF_C_TYPE_BOOL ? sizeof(protobuf_c_boolean)
				    : (fd->type == PROTOBUF_C_TYPE_INT64 || fd->type == PROTOBUF_C_TYPE_UINT64 ||
				       fd->type == PROTOBUF_C_TYPE_SINT64 || fd->type == PROTOBUF_C_TYPE_FIXED64 ||
				       fd->type == PROTOBUF_C_TYPE_SFIXED64 || fd->type == PROTOBUF_C_TYPE_DOUBLE)
					    ? 8
					    : 4;
			if (!memcmp(base, zero, sz))
				continue;
		}
		json_object_set_new(o, fd->name, value_json(fd, base));
	}
	return o;
}

static const ProtobufCMessageDescriptor *inner_descriptor(int type)
{
	switch (type) {
	case K(MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION): return &deconf__v1__submission__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_CONFLICT_NOTICE):
		return &deconf__v1__conflict_notice__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_REJECT): return &deconf__v1__reject__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_DIRECTORY_ENTRY):
		return &deconf__v1__directory_entry__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_AUDIT_EVENT): return &deconf__v1__audit_event__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_TOKEN_OP): return &deconf__v1__token_op__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_STATE_RECORD): return &deconf__v1__state_record__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_OPS_EVENT): return &deconf__v1__ops_event__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_KEY_EPOCHS): return &deconf__v1__key_epochs__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_RECEIPT): return &deconf__v1__receipt__descriptor;
	default: return NULL;
	}
}


/* One record as a JSON line. Signatures: the broker's key for what the
 * broker and deconfctl write, the agency's (from the directory) for a
 * submission. */
static void print_record(struct fed *f, const rd_kafka_message_t *m, const struct listed *ak,
			 size_t n_ak)
{
	json_t *o = json_object();
	Deconf__V1__Envelope *env = NULL;
	char errstr[256];
	char *line;

	json_object_set_new(o, "topic", json_string(rd_kafka_topic_name(m->rkt)));
	json_object_set_new(o, "partition", json_integer(m->partition));
	json_object_set_new(o, "offset", json_integer(m->offset));
	json_object_set_new(o, "timestamp", json_integer(rd_kafka_message_timestamp(m, NULL)));
	if (m->key) {
		ProtobufCBinaryData k = { m->key_len, m->key };
		json_object_set_new(o, "key", bytes_json(&k));
	}
	if (!m->payload) {
		json_object_set_new(o, "value", json_null()); /* a tombstone */
	} else if (deconf_envelope_unpack(m->payload, m->len, 1 << 20, &env, errstr,
					  sizeof(errstr))) {
		json_object_set_new(o, "error", json_string(errstr));
	} else {
		const ProtobufCMessageDescriptor *d = inner_descriptor(env->type);
		const ProtobufCEnumValue *tv = protobuf_c_enum_descriptor_get_value(
			&deconf__v1__message_type__descriptor, env->type);
		const char *sig = "unsigned";
		ProtobufCMessage *inner = NULL;

		json_object_set_new(o, "type", tv ? json_string(tv->name) : json_integer(env->type));
		if (env->signer.len)
			json_object_set_new(o, "signer", bytes_json(&env->signer));
		if (env->signature.len) {
			const struct deconf_sign_key *key = f->key;
			struct deconf_sign_key *agency = NULL;
			sig = "unknown signer";
			if (env->type == K(MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION)) {
				key = NULL;
				for (size_t i = 0; i < n_ak; i++)
					if (strlen(ak[i].id) == env->signer.len &&
					    !memcmp(ak[i].id, env->signer.data, env->signer.len) &&
					    !deconf_sign_key_from_public(&agency, ak[i].pub))
						key = agency;
			}
			if (key)
				sig = deconf_envelope_verify(env, key) ? "INVALID" : "valid";
			deconf_sign_key_free(agency);
		}
		json_object_set_new(o, "signature", json_string(sig));
		if (d && !deconf_envelope_payload(env, d, &inner, errstr, sizeof(errstr))) {
			json_object_set_new(o, "message", msg_json(inner));
			deconf_msg_free(inner);
		} else {
			json_object_set_new(o, "error", json_string(d ? errstr : "unknown type"));
		}
		deconf_msg_free(env);
	}
	if ((line = json_dumps(o, JSON_COMPACT))) {
		puts(line);
		free(line);
	}
	json_decref(o);
}

static int cmd_tail(struct fed *f, int argc, char **argv)
{
	static const struct option o[] = {
		{ "from-beginning", no_argument, NULL, 'b' },
		{ "follow", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	static const char syn[] = "tail TOPIC [--from-beginning] [--follow]";
	struct sigaction sa = { .sa_handler = on_signal };
	int from_beginning = 0, follow = 0, open = 0, np = 0, ch, rc = 0, missing;
	const char *name;
	char topic[256], errstr[1024];
	struct listed *ak = NULL;
	size_t n_ak = 0, refused = 0;
	struct brk_ctl_kafka *k;
	rd_kafka_topic_t *rkt;
	rd_kafka_queue_t *q;
	int64_t idle_since;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":", o, NULL)) != -1) {
		switch (ch) {
		case 'b': from_beginning = 1; break;
		case 'F': follow = 1; break;
		default: return bad_option(ch, argv, syn);
		}
	}
	if (optind != argc - 1)
		return usage_error(syn, optind < argc ? "one topic, not '%s' too"
						      : "the topic is missing%s",
				   optind < argc ? argv[argc - 1] : "");
	name = argv[optind];
	/* "notices.fbi-cac" or "deconf.notices.fbi-cac" */
	snprintf(topic, sizeof(topic), "%s%s",
		 strncmp(name, f->prefix, strlen(f->prefix)) ? f->prefix : "", name);
	if (!(k = fed_kafka(f, RD_KAFKA_CONSUMER, NULL, NULL)))
		return 1;
	/* the agencies' keys, to check submissions' signatures */
	if (read_directory(f, k, &ak, &n_ak, &refused, &missing)) {
		brk_ctl_kafka_free(k);
		return 1;
	}
	if (brk_ctl_kafka_topic(k, topic, &np, errstr, sizeof(errstr))) {
		fail(1, "%s", errstr);
		free(ak);
		brk_ctl_kafka_free(k);
		return 1;
	}
	rkt = rd_kafka_topic_new(brk_ctl_kafka_handle(k), topic, NULL);
	q = rd_kafka_queue_new(brk_ctl_kafka_handle(k));
	for (int p = 0; p < np; p++)
		if (!rd_kafka_consume_start_queue(rkt, p,
						  from_beginning ? RD_KAFKA_OFFSET_BEGINNING
								 : RD_KAFKA_OFFSET_END,
						  q))
			open++;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	idle_since = deconf_mono_us();
	while (!stop && (follow || open > 0)) {
		rd_kafka_message_t *m = rd_kafka_consume_queue(q, 500);
		rd_kafka_poll(brk_ctl_kafka_handle(k), 0);
		if (!m) {
			/* not following: the end must come, or it is said why not */
			if (!follow &&
			    deconf_mono_us() - idle_since > (int64_t)f->timeout_ms * 1000) {
				rc = fail(1, "%s: no record and not at its end after %d s", topic,
					  (f->timeout_ms + 999) / 1000);
				break;
			}
			continue;
		}
		idle_since = deconf_mono_us();
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			open--;
		} else if (m->err) {
			/* librdkafka retries passing faults itself: this one stays */
			rc = fail(1, "reading %s [%d]: %s", topic, (int)m->partition,
				  brk_ctl_kafka_cause(m->err, errstr, sizeof(errstr)));
			rd_kafka_message_destroy(m);
			break;
		} else {
			print_record(f, m, ak, n_ak);
			fflush(stdout);
		}
		rd_kafka_message_destroy(m);
	}
	for (int p = 0; p < np; p++)
		rd_kafka_consume_stop(rkt, p);
	rd_kafka_queue_destroy(q);
	rd_kafka_topic_destroy(rkt);
	brk_ctl_kafka_free(k);
	free(ak);
	return rc;
}

/* ----------------------------------------------------------------- status */

/* Records (high - low watermark, summed over partitions) of a topic; -1 if
 * it does not exist, -2 if Kafka did not say (the cause printed). */
static long topic_records(struct brk_ctl_kafka *k, const struct rd_kafka_metadata *md,
			  const char *topic, int *partitions)
{
	char errstr[1024];
	long n = 0;

	for (int i = 0; i < md->topic_cnt; i++) {
		if (strcmp(md->topics[i].topic, topic))
			continue;
		rd_kafka_topic_partition_list_t *l, *lo = NULL, *hi = NULL;
		*partitions = md->topics[i].partition_cnt;
		l = rd_kafka_topic_partition_list_new(*partitions);
		for (int p = 0; p < *partitions; p++)
			rd_kafka_topic_partition_list_add(l, topic, p);
		if (l->cnt && brk_ctl_kafka_bounds(k, l, &lo, &hi, errstr, sizeof(errstr))) {
			rd_kafka_topic_partition_list_destroy(l);
			fail(1, "%s", errstr);
			return -2;
		}
		for (int p = 0; p < l->cnt; p++)
			n += (long)(hi->elems[p].offset - lo->elems[p].offset);
		if (l->cnt) {
			rd_kafka_topic_partition_list_destroy(lo);
			rd_kafka_topic_partition_list_destroy(hi);
		}
		rd_kafka_topic_partition_list_destroy(l);
		return n;
	}
	*partitions = 0;
	return -1;
}

/* The lag of group on every partition of the topics starting with prefix
 * (exact = match the whole name). Returns 0, or 1 when Kafka did not say
 * (printed). */
static int group_lag(struct fed *f, const struct rd_kafka_metadata *md, struct brk_ctl_kafka *k,
		     const char *group, const char *topic, int exact)
{
	const char *const props[] = { "group.id", group, NULL };
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16), *los = NULL,
					*his = NULL;
	struct brk_ctl_kafka *c;
	rd_kafka_resp_err_t err;
	char errstr[1024];
	long lag = 0, parts = 0, uncommitted = 0;
	int rc = 0;

	for (int i = 0; i < md->topic_cnt; i++)
		if (exact ? !strcmp(md->topics[i].topic, topic)
			  : !strncmp(md->topics[i].topic, topic, strlen(topic)))
			for (int p = 0; p < md->topics[i].partition_cnt; p++)
				rd_kafka_topic_partition_list_add(l, md->topics[i].topic, p);
	/* a consumer of that group that never joins: it only fetches offsets */
	if (!(c = fed_kafka(f, RD_KAFKA_CONSUMER, props, NULL))) {
		rd_kafka_topic_partition_list_destroy(l);
		return 1;
	}
	if (l->cnt && (err = rd_kafka_committed(brk_ctl_kafka_handle(c), l, f->timeout_ms))) {
		printf("  %-32s ? (its committed offsets: %s)\n", group,
		       brk_ctl_kafka_cause(err, errstr, sizeof(errstr)));
		rc = 1;
		goto out;
	}
	if (l->cnt && brk_ctl_kafka_bounds(k, l, &los, &his, errstr, sizeof(errstr))) {
		printf("  %-32s ? (%s)\n", group, errstr);
		rc = 1;
		goto out;
	}
	for (int i = 0; i < l->cnt; i++) {
		int64_t lo = los->elems[i].offset, hi = his->elems[i].offset;
		parts++;
		if (l->elems[i].offset < 0) {
			uncommitted++;
			lag += (long)(hi - lo);
		} else {
			lag += (long)(hi - l->elems[i].offset);
		}
	}
	printf("  %-32s %ld partition(s), lag %ld record(s)%s\n", group, parts, lag,
	       uncommitted ? " (some partitions never committed)" : "");
out:
	if (los)
		rd_kafka_topic_partition_list_destroy(los);
	if (his)
		rd_kafka_topic_partition_list_destroy(his);
	brk_ctl_kafka_free(c);
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

static int cmd_status(struct fed *f, int argc, char **argv)
{
	static const char *const global[] = { "tokens", "state", "audit", "ops", "directory",
					       "ingest.seen" };
	static const char *const own[] = { "submit.", "notices.", "rejects.", "receipts." };
	const struct rd_kafka_metadata *md = NULL;
	struct brk_ctl_kafka *k;
	struct listed *ag = NULL;
	size_t n_ag = 0, refused;
	char errstr[1024], topic[256], group[256];
	rd_kafka_resp_err_t err;
	int missing, incomplete = 0, rc;

	if ((rc = no_options(argc, argv, "status")))
		return rc;
	if (optind != argc)
		return usage_error("status", "unexpected argument '%s'", argv[optind]);
	if (!(k = fed_kafka(f, RD_KAFKA_CONSUMER, NULL, NULL)))
		return 1;
	if (read_directory(f, k, &ag, &n_ag, &refused, &missing)) {
		brk_ctl_kafka_free(k);
		return 1;
	}
	if ((err = rd_kafka_metadata(brk_ctl_kafka_handle(k), 1, NULL, &md, f->timeout_ms))) {
		brk_ctl_kafka_free(k);
		free(ag);
		return fail(1, "reading the cluster's metadata: %s",
			    brk_ctl_kafka_cause(err, errstr, sizeof(errstr)));
	}
	printf("topics (records between the low and high watermarks):\n");
	for (size_t i = 0; i < sizeof(global) / sizeof(global[0]); i++) {
		int np;
		long n;
		snprintf(topic, sizeof(topic), "%s%s", f->prefix, global[i]);
		n = topic_records(k, md, topic, &np);
		if (n == -1)
			printf("  %-32s missing (deconfctl topics apply)\n", topic);
		else if (n < 0)
			printf("  %-32s %3d partition(s) %12s record(s)\n", topic, np, "?");
		else
			printf("  %-32s %3d partition(s) %12ld record(s)\n", topic, np, n);
		incomplete |= n == -2;
	}
	printf("consumer groups:\n");
	snprintf(group, sizeof(group), "%sbroker-ingest", f->prefix);
	snprintf(topic, sizeof(topic), "%ssubmit.", f->prefix);
	incomplete |= group_lag(f, md, k, group, topic, 0);
	snprintf(group, sizeof(group), "%sbroker-matcher", f->prefix);
	snprintf(topic, sizeof(topic), "%stokens", f->prefix);
	incomplete |= group_lag(f, md, k, group, topic, 1);
	printf("agencies (records on their topics):\n  %-24s %-10s %10s %10s %10s %10s\n",
	       "AGENCY", "STATUS", "SUBMITTED", "NOTICES", "REJECTS", "RECEIPTS");
	if (missing)
		printf("  (no %sdirectory topic: deconfctl topics apply)\n", f->prefix);
	for (size_t a = 0; a < n_ag; a++) {
		char c[4][24];
		for (int t = 0; t < 4; t++) {
			int np;
			long n;
			snprintf(topic, sizeof(topic), "%s%s%s", f->prefix, own[t], ag[a].id);
			n = topic_records(k, md, topic, &np);
			/* a topic not made yet holds nothing */
			snprintf(c[t], sizeof(c[t]), n == -2 ? "?" : "%ld", n < 0 ? 0 : n);
			incomplete |= n == -2;
		}
		printf("  %-24s %-10s %10s %10s %10s %10s\n", ag[a].id,
		       ag[a].status == K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE)      ? "active"
		       : ag[a].status == K(AGENCY_STATUS__AGENCY_STATUS_SUSPENDED) ? "suspended"
										   : "removed",
		       c[0], c[1], c[2], c[3]);
	}
	printf("(transactional topics count commit markers too; compacted topics, what is "
	       "left)\n");
	rd_kafka_metadata_destroy(md);
	brk_ctl_kafka_free(k);
	free(ag);
	if (incomplete)
		return fail(1, "status is incomplete: Kafka did not answer for what is marked ?");
	return 0;
}

/* ---------------------------------------------------------------- offsets */

/* --group ingest|matcher: the groups' mask, or 0. */
static unsigned parse_group(const char *s)
{
	return !strcmp(s, "ingest") ? BRK_CTL_OFFSETS_INGEST
	       : !strcmp(s, "matcher") ? BRK_CTL_OFFSETS_MATCHER
				       : 0;
}

static int cmd_offsets(struct fed *f, int argc, char **argv, int accept)
{
	/* show takes --group only: the table from its second entry */
	static const struct option o_accept[] = {
		{ "partition", required_argument, NULL, 'p' },
		{ "group", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	const struct option *o = accept ? o_accept : o_accept + 1;
	const char *syn = accept ? "offsets accept-loss [--group ingest|matcher] "
				   "[--partition TOPIC:N]..."
				 : "offsets show [--group ingest|matcher]";
	rd_kafka_topic_partition_list_t *only = NULL;
	unsigned groups = BRK_CTL_OFFSETS_INGEST | BRK_CTL_OFFSETS_MATCHER;
	struct brk_ctl_kafka *k = NULL;
	char errstr[1024];
	int ch, rc = 0, np;

	opt_reset();
	while (!rc && (ch = getopt_long(argc, argv, ":", o, NULL)) != -1) {
		switch (ch) {
		case 'g':
			if (!(groups = parse_group(optarg)))
				rc = usage_error(syn, "--group %s: ingest or matcher", optarg);
			break;
		case 'p': {
			const char *colon = strrchr(optarg, ':');
			char topic[256];
			/* partitions count from 0 */
			int part = colon ? parse_count(colon + 1, 1 << 20) : -1;
			if (colon && !strcmp(colon + 1, "0"))
				part = 0;
			if (!colon || colon == optarg || part < 0 || colon - optarg >= 200) {
				rc = usage_error(syn, "--partition %s: TOPIC:N, e.g. tokens:3", optarg);
				break;
			}
			snprintf(topic, sizeof(topic), "%s%.*s",
				 strncmp(optarg, f->prefix, strlen(f->prefix)) ? f->prefix : "",
				 (int)(colon - optarg), optarg);
			if (!only)
				only = rd_kafka_topic_partition_list_new(4);
			rd_kafka_topic_partition_list_add(only, topic, part);
			break;
		}
		default: rc = bad_option(ch, argv, syn);
		}
	}
	if (!rc && optind != argc)
		rc = usage_error(syn, "unexpected argument '%s'", argv[optind]);
	if (rc)
		goto out;
	if (!(k = fed_kafka(f, RD_KAFKA_PRODUCER, NULL, accept ? "nothing was changed" : NULL))) {
		rc = 1;
		goto out;
	}
	if (!brk_ctl_kafka_topic(k, DEV_KAFKA_MARKER, &np, errstr, sizeof(errstr))) {
		rc = fail(1, "this cluster is deconfctl dev-kafka (librdkafka's in-memory mock "
			     "cluster): it keeps no transactional offset commits and no consumer "
			     "group state to show or change");
		goto out;
	}
	if (accept) {
		rc = brk_ctl_offsets_accept_loss(k, f->prefix, groups, only, stdout, errstr,
						 sizeof(errstr));
		if (rc == DECONF_E_INVAL)
			rc = usage_error(syn, "%s", errstr);
		else if (rc)
			rc = fail(1, "%s", errstr);
	} else if ((rc = brk_ctl_offsets_show(k, f->prefix, groups, NULL, stdout, errstr,
					      sizeof(errstr)))) {
		rc = fail(1, "%s", errstr);
	}
out:
	brk_ctl_kafka_free(k);
	if (only)
		rd_kafka_topic_partition_list_destroy(only);
	return rc;
}

/* -------------------------------------------------------------- dev-kafka */

/*
 * librdkafka 2.0.2's mock cluster keeps at most 5 MiB (or 100,000 record
 * batches) of each partition and drops the oldest batches beyond that
 * (rd_kafka_mock_partition_init: max_size, max_cnt); its API has nothing
 * to raise either. What dev-kafka can hold is therefore set by partitions:
 * it gives the topics that grow with indicators many (tokens, state and
 * audit its --partitions; each agency's submit and notices topics its
 * --agency-partitions), and says what that holds. A partition costs no
 * memory until records are written to it: the cluster holds what it was
 * sent, up to its limits.
 */
#define MOCK_PARTITION_BYTES (5L * 1024 * 1024)
/*
 * What one indicator costs on each topic, measured on dev-kafka itself (a
 * partition filled past 5 MiB: 5 MiB over the records it kept), for cases
 * of 100 e-mails with a point of contact like deploy/demo's (~80 bytes of
 * text). A token op carries its case's contact, and so does its state
 * entry: 275 and 235 bytes (150 and 130 without a contact; up to ~1.2 KiB
 * with the longest one the wire allows). The token op is the largest of an
 * indicator's records on tokens, state and audit (an audit event is ~62
 * bytes per case op and partition), so it sets what those topics hold. A
 * submission carries the contact once per case: ~26 bytes per indicator.
 * A notice is ~300 bytes.
 */
#define BYTES_PER_ENTRY 280
#define BYTES_PER_SUBMITTED 26
#define BYTES_PER_NOTICE 300
/* What the cluster holds in memory per indicator, all topics (its RSS
 * after tests/volume/devkafka_volume.sh, over the indicators sent). */
#define BYTES_IN_MEMORY 600
/*
 * The defaults hold a user's first 1.5 million indicators with a margin
 * (tests/volume/devkafka_volume.sh): tokens 1.5M x 280 B over 128
 * partitions fills each to 3.1 MiB of 5. An agency's submissions are
 * records of up to submit.max_batch_bytes (256 KiB) keyed by their first
 * case, so its submit partitions fill unevenly: what they are said to hold
 * counts half of 32 x 5 MiB.
 */
#define DEV_PARTITIONS 128
#define DEV_AGENCY_PARTITIONS 32

/* "1.4 million", "140 thousand": n for one line. */
static const char *about(long n, char *buf, size_t size)
{
	if (n >= 1000000)
		snprintf(buf, size, "%.1f million", (double)n / 1e6);
	else
		snprintf(buf, size, "%ld thousand", n / 1000);
	return buf;
}

struct dev_kafka {
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_t *c; /* a client of the mock cluster: follows the directory */
	/* another, to watch what is dropped: requests on c's connection wait
	 * behind its fetches, each held up to fetch.wait.max.ms */
	rd_kafka_t *w;
	const char *prefix;
	int agency_partitions;
	char (*agencies)[64];
	size_t n_agencies, cap_agencies;
	struct dev_watch {
		char topic[256];
		int32_t partition;
		int64_t lo;
	} *watch;
	size_t n_watch, cap_watch;
};

/* An agency's topics, once its directory entry appears: before its adapter
 * or the broker first use them, or the mock cluster would make them with
 * its default of 4 partitions (and a receipts topic needs one). */
static void dev_agency(struct dev_kafka *d, const void *key, size_t key_len)
{
	static const struct {
		const char *topic;
		int many; /* grows with indicators: agency_partitions */
	} own[] = { { "submit.", 1 }, { "notices.", 1 }, { "rejects.", 0 }, { "receipts.", 0 } };
	char id[64], name[512];

	if (!key || !deconf_agency_id_valid(key, key_len) || key_len >= sizeof(id))
		return;
	snprintf(id, sizeof(id), "%.*s", (int)key_len, (const char *)key);
	for (size_t i = 0; i < d->n_agencies; i++)
		if (!strcmp(d->agencies[i], id))
			return;
	/* anyone may write to the mock cluster: a bounded list */
	if (d->n_agencies >= 10000 || DECONF_GROW(d->agencies, d->n_agencies, d->cap_agencies, 16))
		return;
	snprintf(d->agencies[d->n_agencies++], sizeof(d->agencies[0]), "%s", id);
	for (size_t t = 0; t < sizeof(own) / sizeof(own[0]); t++) {
		int parts = own[t].many ? d->agency_partitions : 1;
		rd_kafka_resp_err_t err;
		snprintf(name, sizeof(name), "%s%s%s", d->prefix, own[t].topic, id);
		if ((err = rd_kafka_mock_topic_create(d->mc, name, parts, 1)))
			fprintf(stderr,
				"deconfctl: dev-kafka: agency %s: %s %s (a client used it before "
				"dev-kafka saw the agency: the mock cluster's default of 4 "
				"partitions)\n",
				id, name,
				err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? "already existed"
									      : rd_kafka_err2str(err));
	}
	fprintf(stderr,
		"deconfctl: dev-kafka: agency %s: made its topics (submit and notices %d "
		"partition(s), rejects and receipts 1)\n",
		id, d->agency_partitions);
}

/* Say when the mock cluster has dropped records of a partition: whoever had
 * not read them has lost them. */
static void dev_watch(struct dev_kafka *d)
{
	const struct rd_kafka_metadata *md = NULL;

	if (rd_kafka_metadata(d->w, 1, NULL, &md, 2000))
		return;
	for (int t = 0; t < md->topic_cnt && !stop; t++) {
		const char *topic = md->topics[t].topic;
		int np = md->topics[t].partition_cnt;
		int64_t *los, *his;

		if (!strcmp(topic, DEV_KAFKA_MARKER) || np <= 0)
			continue;
		/* every partition of the topic in one request: a partition at a
		 * time took the mock cluster most of a minute for dev-kafka's
		 * few hundred, and slowed every client meanwhile */
		los = calloc((size_t)np, sizeof(*los));
		his = calloc((size_t)np, sizeof(*his));
		if (!los || !his || deconf_kafka_topic_bounds(d->w, topic, np, los, his, 2000))
			np = 0; /* looked at again in 5 s */
		for (int p = 0; p < np && !stop; p++) {
			int64_t lo = los[p];
			size_t i;
			for (i = 0; i < d->n_watch; i++)
				if (d->watch[i].partition == p && !strcmp(d->watch[i].topic, topic))
					break;
			if (i == d->n_watch) {
				if (DECONF_GROW(d->watch, d->n_watch, d->cap_watch, 64))
					continue;
				snprintf(d->watch[i].topic, sizeof(d->watch[i].topic), "%s", topic);
				d->watch[i].partition = p;
				d->watch[i].lo = 0;
				d->n_watch++;
			}
			if (lo > d->watch[i].lo) {
				fprintf(stderr,
					"deconfctl: dev-kafka: DROPPED records %lld..%lld of %s [%d]: the "
					"mock cluster keeps 5 MiB per partition; whoever had not read "
					"them has lost them (deconfctl offsets show; a real Kafka keeps "
					"more)\n",
					(long long)d->watch[i].lo, (long long)lo - 1, topic, p);
				d->watch[i].lo = lo;
			}
		}
		free(los);
		free(his);
	}
	rd_kafka_metadata_destroy(md);
}

static int cmd_dev_kafka(int argc, char **argv)
{
	static const struct option o[] = {
		{ "partitions", required_argument, NULL, 'p' },
		{ "agency-partitions", required_argument, NULL, 'a' },
		{ "prefix", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	static const char syn[] = "dev-kafka [--partitions N] [--agency-partitions N] [--prefix P]";
	static const struct {
		const char *name;
		int many;
	} topics[] = { { "tokens", 1 }, { "state", 1 }, { "audit", 1 },
		       { "ops", 0 },    { "directory", 0 }, { "ingest.seen", 0 } };
	struct sigaction sa = { .sa_handler = on_signal };
	struct dev_kafka d = { .prefix = "deconf.", .agency_partitions = DEV_AGENCY_PARTITIONS };
	rd_kafka_conf_t *kc;
	rd_kafka_topic_t *dir = NULL;
	char errstr[512], name[256], a1[32], a2[32], a3[32];
	const char *bootstraps;
	int64_t last_watch = 0;
	rd_kafka_t *rk;
	int partitions = DEV_PARTITIONS, ch;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":", o, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if ((partitions = parse_count(optarg, 1024)) < 1)
				return usage_error(syn, "--partitions %s: 1..1024", optarg);
			break;
		case 'a':
			if ((d.agency_partitions = parse_count(optarg, 1024)) < 1)
				return usage_error(syn, "--agency-partitions %s: 1..1024", optarg);
			break;
		case 'P':
			if (strlen(optarg) > 100)
				return usage_error(syn, "--prefix: at most 100 characters");
			d.prefix = optarg;
			break;
		default: return bad_option(ch, argv, syn);
		}
	}
	if (optind != argc)
		return usage_error(syn, "unexpected argument '%s'", argv[optind]);
	/* a client owns the mock cluster; its brokers listen on loopback */
	kc = rd_kafka_conf_new();
	if (rd_kafka_conf_set(kc, "test.mock.num.brokers", "1", errstr, sizeof(errstr)) ||
	    !(rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr)))) {
		rd_kafka_conf_destroy(kc);
		return fail(1, "mock cluster: %s", errstr);
	}
	d.mc = rd_kafka_handle_mock_cluster(rk);
	bootstraps = rd_kafka_mock_cluster_bootstraps(d.mc);
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
		snprintf(name, sizeof(name), "%s%s", d.prefix, topics[i].name);
		rd_kafka_mock_topic_create(d.mc, name, topics[i].many ? partitions : 1, 1);
	}
	rd_kafka_mock_topic_create(d.mc, DEV_KAFKA_MARKER, 1, 1);
	/* its own clients, to follow the directory and watch what is dropped */
	for (int i = 0; i < 2; i++) {
		rd_kafka_t **h = i ? &d.w : &d.c;
		kc = rd_kafka_conf_new();
		if (rd_kafka_conf_set(kc, "bootstrap.servers", bootstraps, errstr, sizeof(errstr)) ||
		    !(*h = rd_kafka_new(i ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, kc, errstr,
					sizeof(errstr)))) {
			rd_kafka_conf_destroy(kc);
			if (d.c)
				rd_kafka_destroy(d.c);
			rd_kafka_destroy(rk);
			return fail(1, "mock cluster: its client: %s", errstr);
		}
	}
	snprintf(name, sizeof(name), "%sdirectory", d.prefix);
	dir = rd_kafka_topic_new(d.c, name, NULL);
	rd_kafka_consume_start(dir, 0, RD_KAFKA_OFFSET_BEGINNING);
	printf("%s\n", bootstraps);
	fflush(stdout);
	fprintf(stderr,
		"deconfctl: dev-kafka: librdkafka's in-memory mock cluster at %s (plaintext, no "
		"ACLs, no quotas: for the quick start and trying deconf out); SIGTERM stops it\n"
		"deconfctl: dev-kafka keeps at most 5 MiB of each partition (librdkafka 2.0.2's "
		"mock cluster; that cannot be raised) and drops the oldest records beyond it. "
		"With these partitions it holds about:\n"
		"  %s indicators' entries and token ops (%stokens, %sstate and %saudit: %d "
		"partitions; each carries its case's point of contact: ~%d bytes with one like "
		"deploy/demo's, fewer indicators with longer ones)\n"
		"  %s indicators per agency submitted ahead of the broker (%ssubmit.<agency>: %d "
		"partitions)\n"
		"  %s notices per agency (%snotices.<agency>: %d partitions)\n"
		"  5 MiB of every other topic (directory, ops, ingest.seen, rejects.<agency>, "
		"receipts.<agency>)\n"
		"It holds all of it in memory: about %d bytes per indicator (%d MiB for 1.5 "
		"million). Beyond that use a real Kafka (DECONF_KAFKA=real deploy/quickstart.sh). "
		"dev-kafka says so here if it drops records.\n",
		bootstraps,
		about(partitions * MOCK_PARTITION_BYTES / BYTES_PER_ENTRY, a1, sizeof(a1)), d.prefix,
		d.prefix, d.prefix, partitions, BYTES_PER_ENTRY,
		about(d.agency_partitions * MOCK_PARTITION_BYTES / BYTES_PER_SUBMITTED / 2, a2,
		      sizeof(a2)),
		d.prefix, d.agency_partitions,
		about(d.agency_partitions * MOCK_PARTITION_BYTES / BYTES_PER_NOTICE, a3, sizeof(a3)),
		d.prefix, d.agency_partitions, BYTES_IN_MEMORY,
		(int)(1500000L * BYTES_IN_MEMORY / (1024 * 1024)));
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop) {
		rd_kafka_message_t *m = rd_kafka_consume(dir, 0, 200);
		rd_kafka_poll(rk, 0);
		rd_kafka_poll(d.c, 0);
		rd_kafka_poll(d.w, 0);
		if (m) {
			if (!m->err)
				dev_agency(&d, m->key, m->key_len);
			rd_kafka_message_destroy(m);
		}
		if (deconf_mono_us() - last_watch > 5000000) {
			dev_watch(&d);
			last_watch = deconf_mono_us();
		}
	}
	rd_kafka_consume_stop(dir, 0);
	rd_kafka_topic_destroy(dir);
	rd_kafka_destroy(d.w);
	rd_kafka_destroy(d.c);
	rd_kafka_destroy(rk);
	free(d.agencies);
	free(d.watch);
	return 0;
}

/* --timeout / DECONF_CTL_TIMEOUT: seconds, as ms; -1 if not 1..3600. */
static int parse_timeout(const char *s)
{
	int v = parse_count(s, BRK_CTL_KAFKA_TIMEOUT_MAX_MS / 1000);

	return v < 1 ? -1 : v * 1000;
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
	/* the command must be known before the federation is opened */
	if (!strcmp(cmd, "federation")) {
		if (strcmp(sub, "rotate-key") && strcmp(sub, "epochs"))
			return usage_error("federation init|rotate-key|epochs ...",
					   sub[0] ? "unknown command 'federation %s'"
						  : "federation: which command?%s",
					   sub);
	} else if (!strcmp(cmd, "agency")) {
		if (strcmp(sub, "add") && strcmp(sub, "suspend") && strcmp(sub, "activate") &&
		    strcmp(sub, "list"))
			return usage_error("agency add|suspend|activate|list ...",
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
	else
		rc = cmd_agency_list(&f, argc - 2, argv + 2);
	fed_close(&f);
	return rc;
}
