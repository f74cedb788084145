/*
 * ctl.h — what deconfctl's command families share.
 *
 * deconfctl, the federation operator's tool, is one file per command
 * family: main.c (usage, the configuration table, the federation context,
 * argument dispatch), federation.c (init, rotate-key, epochs, and the
 * directory topic's writer), agency.c (add, suspend, activate, list, and
 * the directory topic's reader, through the broker's directory.c),
 * topics.c (topics apply: topics, ACLs, quotas), watch.c (tail, status,
 * offsets, audit verify), devkafka.c (dev-kafka); util.c holds the helpers every family
 * uses (messages, option parsing, parsers). kafka.c and offsets.c are its
 * Kafka clients and the consumer groups' offsets.
 *
 * A federation is a directory (made by `federation init`): the CA, the
 * broker's TLS certificate and Ed25519 signing key, the federation HMAC key
 * file, broker.conf, deconfctl.conf (how deconfctl reaches Kafka) and, per
 * agency, a bundle directory under agencies/ that the agency takes away.
 * Every command but `federation init` and `dev-kafka` works on the
 * federation named by -f DIR (or $DECONF_FEDERATION, or "."); deconfctl
 * chdir()s there, so the federation's files are named relative to it.
 *
 * Every cmd_* returns the process's exit status: 0 done; 1 failed (the
 * reason printed on stderr, and nothing reported done that Kafka did not
 * confirm); 2 bad usage or configuration.
 */
#ifndef BRK_CTL_H
#define BRK_CTL_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#include "deconf.pb-c.h"
#include "deconf/conf.h"
#include "deconf/enum.h"
#include "deconf/sign.h"
#include "deconf/token.h"
#include "directory.h"
#include "kafka.h"

#define K(x) DECONF__V1__##x
/* days an agency's or the broker's certificate is valid */
#define CERT_DAYS 825
/* A topic dev-kafka makes in its mock cluster, so that deconfctl knows it
 * is talking to one (librdkafka 2.0.2 does not say which cluster it is). */
#define DEV_KAFKA_MARKER "__deconf_dev_kafka"
#define DAY_MS (86400LL * 1000)
/* The key of the key epochs record on the directory topic (federation.c). */
#define KEY_EPOCHS_KEY DECONF_EPOCHS_RECORD_KEY

/* ------------------------------------------------------------- util.c */

/* Set by on_signal (SIGINT, SIGTERM): tail --follow and dev-kafka stop. */
extern volatile int stop;
void on_signal(int sig);

/* "deconfctl: " and the message on stderr; returns rc. */
int fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Bad usage: the reason and the command's synopsis; returns 2. */
int usage_error(const char *synopsis, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* What getopt_long (optstring ":...", opterr 0) refused, as usage_error. */
int bad_option(int ch, char **argv, const char *synopsis);
/* Start parsing a subcommand's argv (argv[0] is its name). */
void opt_reset(void);
/* A command without options: refuses any; its operands are then
 * argv[optind..argc). Returns 0 or 2 (said). */
int no_options(int argc, char **argv, const char *synopsis);
/* "30d", "12h", "90m", "45s", "0": a duration in ms; -1 if malformed or
 * longer than ten years. */
int64_t parse_duration_ms(const char *s);
/* A whole number 1..max, or -1. */
int parse_count(const char *s, int max);
/* dir and everything in it removed (links not followed); 0 or -1. */
int remove_tree(const char *dir);
/* text to path (mode, made exclusively); 0, or 1 with the reason printed. */
int write_text(const char *path, const char *text, mode_t mode);

/* ------------------------------------------------------------- main.c */

/*
 * The values of deconfctl.conf's table (main.c), one field per key
 * (section_key), filled when the federation is opened: sizes in bytes;
 * strings belong to the conf. log.format and log.file are not deconfctl
 * keys: their fields stay NULL.
 */
struct fed_settings {
	const char *federation_topic_prefix;
	int64_t federation_partitions;
	const char *federation_signing_key;
	const char *federation_public_key;
	const char *federation_broker_public_key;
	int64_t quota_producer_byte_rate;
	int64_t quota_consumer_byte_rate;
	int64_t quota_request_percentage;
	struct deconf_log_settings log;
};

/* The federation a command works on (opened by main). */
struct fed {
	char dir[1024];
	struct deconf_conf *conf;    /* names and origins of set, and kafka.* */
	struct fed_settings set;
	/* the federation key: signs the directory; private, kept offline,
	 * loaded only by what changes the directory (fed_signing_key) */
	struct deconf_sign_key *key;
	struct deconf_sign_key *fed_pub;    /* its public half: checks the directory */
	struct deconf_sign_key *broker_pub; /* checks what the broker signs */
	const char *prefix;
	int timeout_ms; /* --timeout: every wait for Kafka */
};

/*
 * The federation key (federation.signing_key), loaded on first use: only
 * what changes the directory needs it. 0, or 1 with the reason printed and
 * then (e.g. "nothing was made").
 */
int fed_signing_key(struct fed *f, const char *then);

/*
 * A client of the federation's Kafka, reached within the timeout, or NULL
 * with the reason printed (and then, when not NULL, what it means: e.g.
 * "nothing was made").
 */
struct brk_ctl_kafka *fed_kafka(struct fed *f, rd_kafka_type_t type, const char *const *props,
				const char *then);

/* Publishing to the directory: idempotent, so records land once and in
 * order (an agency's entry before the epochs record that follows it). */
extern const char *const publisher_props[];

/* ------------------------------------------------------- federation.c */

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
int publish_directory(struct fed *f, struct brk_ctl_kafka *k, const struct dir_record *r,
		      size_t n);

/* The federation's key epochs, as kept in key-epochs.pb. */
struct epochs {
	uint64_t serial;
	int64_t updated_at;
	size_t n, cap;
	Deconf__V1__KeyEpoch *v; /* ascending by epoch */
};

void epochs_free(struct epochs *ep);
/* The federation's key epochs (key-epochs.pb, or built from
 * federation.keys); 0 or an exit status, the reason printed. */
int epochs_load(struct epochs *ep);
/* Publish ep (alone, or after an agency's entry) through k and say so
 * once Kafka confirmed it. */
int epochs_publish(struct fed *f, struct brk_ctl_kafka *k, const struct epochs *ep,
		   const Deconf__V1__DirectoryEntry *entry);

int cmd_federation_init(int argc, char **argv);
int cmd_rotate_key(struct fed *f, int argc, char **argv);
int cmd_epochs(struct fed *f, int argc, char **argv);

/* ----------------------------------------------------------- agency.c */

/* What read_directory ignored: the records the broker's directory refuses
 * (not signed by this federation, a key that is not the entry's agency id,
 * an entry it cannot hold, an older key epochs serial), the first few
 * kept to be said. */
#define DIR_IGNORED_SHOWN 10
struct dir_ignored {
	size_t n; /* records ignored */
	char topic[256];
	struct {
		int32_t partition;
		int64_t offset;
		char key[BRK_AGENCY_ID_MAX + 1]; /* "" unless an id or KEY_EPOCHS_KEY */
		char why[256];
	} v[DIR_IGNORED_SHOWN];
};

/*
 * The directory topic read to its end, every partition, through k (a
 * consumer), into *dir (brk_directory_new: the broker's own reader, which
 * checks each record's federation signature and that its key is the
 * entry's agency id; the caller frees it with brk_directory_free). *ig:
 * what it ignored, for directory_say_ignored. *missing: the topic does not
 * exist (then *dir is empty). Returns 0, or 1 with the reason printed (and
 * *dir NULL): a directory that could not be read is never taken for an
 * empty one.
 */
int read_directory(struct fed *f, struct brk_ctl_kafka *k, struct brk_directory **dir,
		   struct dir_ignored *ig, int *missing);
/* Say on out what read_directory ignored (nothing when it ignored nothing):
 * how many, and the topic, partition, offset, key and reason of the first
 * DIR_IGNORED_SHOWN; each line starts with lead. */
void directory_say_ignored(const struct dir_ignored *ig, FILE *out, const char *lead);
/* "active", "suspended" or "removed" (in buf). */
const char *agency_status_name(char buf[DECONF_ENUM_NAME_SIZE], int status);

int cmd_agency_add(struct fed *f, int argc, char **argv);
/* agency suspend|activate: status is the AGENCY_STATUS_* to publish. */
int cmd_agency_status(struct fed *f, int argc, char **argv, int status);
int cmd_agency_list(struct fed *f, int argc, char **argv);
int cmd_agency_set_scope(struct fed *f, int argc, char **argv);

/* ----------------------------------------------------------- topics.c */

int cmd_topics_apply(struct fed *f, int argc, char **argv);

/* ------------------------------------------------------------ watch.c */

int cmd_tail(struct fed *f, int argc, char **argv);
/* audit verify [--from ...]: every link and checkpoint of the audit topic */
int cmd_audit_verify(struct fed *f, int argc, char **argv);
int cmd_status(struct fed *f, int argc, char **argv);
/* offsets show, or with accept, offsets accept-loss */
int cmd_offsets(struct fed *f, int argc, char **argv, int accept);

/* --------------------------------------------------------- devkafka.c */

int cmd_dev_kafka(int argc, char **argv);

#endif
