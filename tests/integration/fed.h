/*
 * fed.h — a throwaway federation on the real Kafka, for the broker's
 * integration tests and its benchmark.
 *
 * Each federation has its own topic prefix ("it<random>."), so the normal
 * and the sanitizer passes, and runs of the benchmark, never see each
 * other's records; a temporary directory for keys, configs, state and logs;
 * the federation's signing key (the broker's); agencies with their own
 * signing keys, published on the directory topic signed by the federation.
 * Submissions are built and signed here (a test producer of signed
 * submissions), notices and rejects are read back and verified with the
 * broker's key.
 *
 * Functions return 0 or -1 with a message on stderr; the callers assert.
 */
#ifndef ITEST_FED_H
#define ITEST_FED_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "deconf/sign.h"

#define FED_MAX_AGENCIES 8

struct fed_agency {
	char id[32], name[64], country[4];
	int level;
	struct deconf_sign_key *key;
};

struct fed {
	char dir[160], prefix[32];
	const char *bootstrap;
	struct deconf_sign_key *key;     /* the broker's: notices, receipts, rejects */
	struct deconf_sign_key *fed_key; /* the federation's: the directory, key epochs */
	struct fed_agency ag[FED_MAX_AGENCIES];
	int n_ag, n_partitions;
	int replication;             /* copies of each topic's partitions */
	int no_agency_topics;        /* fed_agency leaves its topics to the test */
	rd_kafka_t *producer;        /* shared, for submissions */
	/* fed_adapter's (set by the test): the deconf-adapter program; the
	 * file each run's output is appended to, NULL: copied to stderr
	 * instead; nonzero: a run whose output holds a sanitizer report
	 * fails (-1) */
	const char *adapter_bin, *adapter_log;
	int adapter_sanitizer_fails;
	int adapter_keys;            /* fed_adapter_setup wrote the shared key files */
};

/* A federation with its topics: tokens and state (n_partitions; state
 * compacted), audit, ops, directory and ingest.seen. */
int fed_new(struct fed *f, const char *bootstrap, int n_partitions);
/* The same on a cluster: every topic with `replication` copies (and
 * min.insync.replicas 2 from three copies, as topics apply makes them). */
int fed_new_replicated(struct fed *f, const char *bootstrap, int n_partitions, int replication);
void fed_free(struct fed *f);

/* Add an agency (new signing key, directory entry) and, unless
 * f->no_agency_topics, its submit, notices, rejects and receipts topics (one
 * partition each, as `deconfctl topics apply` makes them: an agency's first
 * record then sets off no rebalance of the broker's groups). level:
 * AgencyLevel; status: AgencyStatus. Returns its index, or -1. */
int fed_agency(struct fed *f, const char *id, const char *name, int level,
	       const char *country, int status);

/* One committed record of a topic, as written. */
struct fed_raw {
	uint8_t *key, *value;
	size_t key_len, len;
	int partition;
};

/* Every committed record of topic's partitions 0..parts-1, read_committed,
 * until each partition's end (or 10 s of nothing); *n of them (caller frees
 * with fed_raw_free). NULL with *n 0 when there are none or memory ran
 * out. */
struct fed_raw *fed_read_raw(const struct fed *f, const char *topic, int parts, size_t *n);
void fed_raw_free(struct fed_raw *v, size_t n);

/* Publish agency a's directory entry again with this status, sharing
 * scope (deconf/scope.h text form; NULL: none) and liaison desk name (NULL:
 * none), and flush. 0 or -1. */
int fed_agency_publish(struct fed *f, int a, int status, const char *scope, const char *liaison);

/* Write <dir>/broker-<instance>.conf (state in <dir>/state-<instance>) with
 * extra INI text appended; path receives its name. */
int fed_broker_conf(struct fed *f, const char *instance, const char *extra, char *path,
		    size_t path_size);
/* Start deconf-broker (broker_bin) with conf, stderr appended to log. */
pid_t fed_broker_start(const char *broker_bin, const char *conf, const char *log);
/* SIGTERM, wait: the exit status (128+signal when killed). */
int fed_broker_stop(pid_t pid);

rd_kafka_t *fed_client(const struct fed *f, rd_kafka_type_t type, const char *key,
		       const char *value);
int fed_create_topic(const struct fed *f, const char *name, int partitions, int compact);
/* id's submit, notices, rejects and receipts topics (those already there are
 * left as they are). */
int fed_agency_topics(const struct fed *f, const char *id);
/* "<prefix><name>" */
const char *fed_topic(const struct fed *f, const char *name, char *buf, size_t size);

/* One op of a submission. */
struct fed_op {
	int op;                 /* Op */
	const char *case_ref;
	int type;               /* IndicatorType */
	uint8_t token[16];
	int visibility;
	uint32_t flags;
	int64_t expires_at, valid_from, valid_to;
	const char *poc_name;   /* NULL: none */
	int no_token;           /* CLOSE_CASE without tokens */
	uint32_t key_epoch;     /* of the token; 0: 1 */
	/* more of the point of contact (NULL: none; with poc_name and no
	 * poc_phone the phone is +1 555 010 1234) */
	const char *poc_phone, *poc_email, *poc_unit;
	/* an event's cell (type EVENT_CELL): the case op's EventKind, the
	 * token's CellRole and S2 level */
	int event_kind, cell_role;
	uint32_t cell_level;
};

/* A token for tests: 16 bytes from a number and the federation's prefix. */
void fed_token(const struct fed *f, uint32_t n, uint8_t out[16]);

/* Sign and produce (not flushed) a Submission of agency `agency` with the
 * ops (one CaseOp per op). id: 16 bytes out (may be NULL). */
int fed_submit(struct fed *f, int agency, const struct fed_op *ops, size_t n_ops,
	       uint8_t *id);
int fed_flush(struct fed *f);

struct fed_notice {
	uint8_t id[16], token[16];
	int kind;
	char agency[32], case_ref[64];
	char cp_agency[32], cp_case[64], cp_name[64], cp_country[4], cp_poc[64];
	int cp_level, cp_visibility;
	int64_t created_at, submitted_at, expires_at;
	int type;
	/* an event conflict: urgent, the distance band, the recipient's and
	 * the counterpart's event kinds and the counterpart's window */
	int urgent, event_kind, cp_event_kind;
	uint32_t band_m;
	int64_t cp_window_from, cp_window_to;
	/* a scoped match: the pair's reference; the counterpart's flags */
	uint8_t pair_ref[16];
	int has_pair;
	uint32_t cp_flags;
};

/*
 * Every committed notice on <prefix>notices.<agency id> (agency NULL: of
 * every agency of the federation; verified with the
 * federation key; *bad counts records that do not verify or parse),
 * appended to *v (grown, caller frees). Reads until the end, or for at
 * most max_ms (a moving stream's end is never reached).
 */
int fed_read_notices(const struct fed *f, const char *agency, struct fed_notice **v,
		     size_t *n, size_t *bad, int max_ms);

/* A Reject read back from <prefix>rejects.<agency>. */
struct fed_reject {
	uint8_t submission_id[16]; /* zeros when the record could not be parsed */
	int reason, op_index, partition;
	int64_t offset, rejected_at;
	char agency[32], topic[128], detail[256];
};

/* Every committed Reject on <prefix>rejects.<agency> (NULL: of every
 * agency), verified with the federation key, as fed_read_notices. */
int fed_read_rejects(const struct fed *f, const char *agency, struct fed_reject **v, size_t *n,
		     size_t *bad, int max_ms);

/*
 * A reader that follows agencies' notices or rejects topics as they grow
 * (partition 0, read_committed, from the beginning), each record verified
 * with the federation key: for a test that waits for one answer after
 * another and times them, which re-reading from the beginning
 * (fed_read_notices) would blur.
 */
struct fed_watch {
	const struct fed *f;
	int type;                    /* CONFLICT_NOTICE or REJECT (MessageType) */
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	rd_kafka_topic_t *rkt[FED_MAX_AGENCIES];
	int n_rkt;
	struct fed_notice *notices;  /* type CONFLICT_NOTICE: what arrived */
	struct fed_reject *rejects;  /* type REJECT */
	size_t n, cap, bad;          /* bad: records that do not verify or parse */
};

/* Follow <prefix>notices.<agency> (type MESSAGE_TYPE_CONFLICT_NOTICE) or
 * <prefix>rejects.<agency> (MESSAGE_TYPE_REJECT); agency NULL: every
 * agency of the federation. The topics must exist already. */
int fed_watch_open(struct fed_watch *w, const struct fed *f, int type, const char *agency);
/* Append what arrived: waits up to max_ms for a first record, then takes
 * what else is queued. Returns the number of records appended. */
int fed_watch_poll(struct fed_watch *w, int max_ms);
void fed_watch_close(struct fed_watch *w);

/* Set one config of topic (AlterConfigs; the federation's compacted
 * topics keep cleanup.policy). */
int fed_topic_config(const struct fed *f, const char *topic, const char *name,
		     const char *value);

/* Number of committed records on topic (all partitions), read_committed. */
long fed_count_records(const struct fed *f, const char *topic, int max_ms);

/* ------------------------------------------- what the broker has done
 *
 * A test that must show something did NOT happen (no second notice, no
 * extra Reject) first shows that what should have happened did: the
 * broker read and committed past the records in question. These read the
 * broker's consumer groups ("<prefix>broker-ingest", "<prefix>broker-matcher")
 * and its /metrics.
 */

/* For each partition p < n of topic: the offset just past its last
 * committed record (read_committed: transaction markers and aborted
 * records are not records), 0 when it has none. Returns the number of
 * partitions, or -1. */
int fed_data_ends(const struct fed *f, const char *topic, int64_t *ends, int n, int max_ms);

/* The offsets group has committed on topic's partitions 0..n-1 (-1: none
 * yet). 0, or -1. */
int fed_group_committed(const struct fed *f, const char *group, const char *topic,
			int64_t *offs, int n);

/*
 * Wait until the broker has committed past everything written so far:
 * ingest past every record of every agency's submit topic (that exists),
 * then the matcher past every token op on <prefix>tokens. Whatever those
 * records caused (notices, Rejects, changelog records, ops events) is
 * committed with them, so a reader from the beginning sees all of it.
 * 0, or -1 with what was not committed on stderr after max_ms.
 */
int fed_wait_processed(const struct fed *f, int max_ms);

/*
 * A stream of n_subs submissions of per_sub ADDs each, alternating between
 * agencies 0 and 1, one every gap_us (run fed_stream_main in a thread).
 * Agency 0's tokens are all new; each of agency 1's submissions repeats
 * `shared` tokens agency 0 sent just before: each is one conflicting pair,
 * so fed_stream_notices() notices are expected, each exactly once. Tokens
 * are numbered from base: streams of one federation whose bases are 10
 * million apart share none. ops counts what was sent; done is set at the
 * end, failed when a submission could not be sent.
 */
struct fed_stream {
	struct fed *f;
	int n_subs, per_sub, shared, gap_us;
	uint32_t base;
	volatile int done, failed;
	volatile size_t ops;
};
void *fed_stream_main(void *arg);
size_t fed_stream_notices(const struct fed_stream *st);

/*
 * Wait up to max_s for `want` notices across the federation, then until
 * the broker has committed past everything submitted (an extra notice would
 * be out by then), and count them and their distinct ids. -1 (said on
 * stderr) on a notice that is not a signed CONFLICT, or no answer.
 */
int fed_count_notices(struct fed *f, size_t want, int max_s, size_t *total, size_t *distinct);

/* A TCP port on 127.0.0.1 free now (for a broker's /metrics); aborts the
 * test program when there is none. */
int fed_free_port(void);

/* GET http://127.0.0.1:port<path>: the HTTP status (-1: no answer), the
 * body in *body (malloc'ed, caller frees; NULL on failure). */
int fed_http_get(int port, const char *path, char **body);

/* In a /metrics text: the value of one series (`name{labels}` exactly as
 * the broker writes it, or a bare name); 0 and *found 0 when absent. */
double fed_metric(const char *text, const char *series, int *found);
/* The sum of every series of family (`family` or `family{...}`); *n: how
 * many series (may be NULL). Histograms' _bucket/_sum/_count are other
 * families. */
double fed_metric_sum(const char *text, const char *family, int *n);

/* One entry as the matcher's changelog (<prefix>state) last recorded it. */
struct fed_state_entry {
	int found;      /* a record for the key exists */
	int deleted;    /* ...and the last one is a tombstone */
	int64_t added_at, expires_at, offset;
	int partition, expiry_warned;
};

/* The last committed changelog record of the entry (token, epoch, agency,
 * case) on <prefix>state. 0 (see e->found), or -1. */
int fed_state_entry(const struct fed *f, const uint8_t token[16], uint32_t epoch,
		    const char *agency, const char *case_ref, struct fed_state_entry *e,
		    int max_ms);

/* An OpsEvent read back from <prefix>ops, verified with the broker's key. */
struct fed_ops_event {
	int kind;                 /* OpsKind */
	int64_t at, offset;
	uint64_t count;
	uint32_t key_epoch;
	int type;
	char agency[32], detail[256];
	uint8_t token[16];
};

/* Every committed record of <prefix>ops, appended to *v (grown, caller
 * frees); *bad counts those that do not verify or parse. */
int fed_read_ops(const struct fed *f, struct fed_ops_event **v, size_t *n, size_t *bad,
		 int max_ms);

/* ---------------------------------------------- an agency's adapter
 *
 * Agency i's deconf-adapter works in <dir>/<agency id>: its signing key,
 * its agency.conf, its ledger (ledger/), the files it submits, and out.txt,
 * the last run's output. Every agency's config names the files of the
 * federation in <dir>: federation.pub (fed_new's), broker.pub and
 * federation.keys (one keyring, epoch 1, the first fed_adapter_setup of the
 * federation writes them).
 */

/* "<dir>/<agency id>" of agency i in buf; returns buf. */
const char *fed_adapter_dir(const struct fed *f, int i, char *buf, size_t size);

/* Make agency i's directory (it must not exist yet), its signing.key and
 * agency.conf (submits wait up to 60 s for receipts, log level info) with
 * extra INI text appended (NULL: none). 0 or -1. */
int fed_adapter_setup(struct fed *f, int i, const char *extra_conf);

/*
 * Run f->adapter_bin as agency i, in its directory: `-c agency.conf
 * --no-progress` and the arguments fmt makes (shell words: quote what must
 * stay one word). What it printed (stdout and stderr) goes to *out (caller
 * frees; "" when there was nothing; out NULL: not kept) and, headed
 * "== <agency id>: <arguments>", is appended to f->adapter_log, or copied
 * to stderr when that is NULL.
 * Returns its exit status as the shell reports it (128+n: killed by signal
 * n), or -1 (said on stderr) when it could not be run, its output could not
 * be logged, or f->adapter_sanitizer_fails is set and the output holds a
 * sanitizer report.
 */
int fed_adapter(struct fed *f, int i, char **out, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Write text to <agency i's directory>/name (replaced if there); path
 * receives the file's name (NULL: not wanted). 0 or -1. */
int fed_adapter_file(const struct fed *f, int i, const char *name, const char *text,
		     char *path, size_t path_size);

/* Write text to path (replaced if there). 0 or -1. */
int fed_write_file(const char *path, const char *text);

/* The text of the file at path (up to 16 MiB), malloc'ed, caller frees;
 * "" when it cannot be read (NULL only when memory ran out). */
char *fed_slurp(const char *path);

#endif
