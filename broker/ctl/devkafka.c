/*
 * devkafka.c — deconfctl dev-kafka: librdkafka's in-memory mock cluster
 * with the deconf topics, for the quick start.
 */
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/util.h"

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

int cmd_dev_kafka(int argc, char **argv)
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

