/*
 * broker.h — the broker's configuration and shared context.
 *
 * deconf-broker -c broker.conf runs ingest and the matcher (broker.parts). Everything here is read-only after brk_load().
 */
#ifndef BRK_BROKER_H
#define BRK_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deconf/conf.h"
#include "deconf/sign.h"
#include "directory.h"

extern const struct deconf_conf_def brk_conf_table[];
extern const size_t brk_conf_table_n;

/*
 * The values of brk_conf_table, one field per key (section_key), filled by
 * brk_load(): durations in ms, sizes in bytes; strings belong to the conf.
 */
struct brk_settings {
	const char *broker_signing_key;
	const char *broker_federation_key;
	const char *broker_topic_prefix;
	const char *broker_instance;
	const char *broker_parts; /* all|ingest|matcher */
	int64_t ingest_max_record_bytes;
	int64_t ingest_agency_ops_per_s;
	int64_t ingest_agency_bytes_per_s;
	int64_t ingest_agency_burst;
	int64_t ingest_max_token_ops;
	int64_t ingest_rejects_alert;
	int64_t ingest_rejects_window;
	int64_t ingest_retry_max;
	int64_t ingest_replay_window;
	int64_t ingest_batch_max;
	int64_t ingest_batch_wait;
	int64_t ingest_batch_time;
	const char *matcher_state_dir;
	int64_t matcher_state_map_size;
	int64_t matcher_state_max_age;
	int64_t matcher_batch_max;
	int64_t matcher_batch_wait;
	int64_t matcher_batch_time;
	int64_t matcher_transaction_timeout;
	int64_t matcher_audit_checkpoint_interval;
	bool matcher_match_same_agency;
	bool matcher_notify_queried;
	int64_t matcher_ip_slack;
	int64_t matcher_ttl;
	int64_t matcher_ttl_ip;
	int64_t matcher_ttl_max;
	int64_t matcher_expiry_warning;
	int64_t matcher_expiry_scan;
	int64_t matcher_escalate_after;
	int64_t matcher_hot_cases;
	int64_t matcher_hot_cases_per_agency;
	int64_t matcher_token_cases_per_agency;
	const char *http_address;
	int64_t http_port;
	int64_t http_stall_after;
	struct deconf_log_settings log;
};

struct brk {
	struct deconf_conf *conf;    /* names and origins of set, and kafka.* */
	struct brk_settings set;
	const char *prefix;          /* broker.topic_prefix */
	const char *instance;        /* broker.instance: transactional ids */
	struct deconf_sign_key *key;            /* broker.signing_key: signs what it sends */
	struct deconf_sign_key *federation_key; /* public: verifies the directory */
	struct brk_directory *dir;
	size_t max_record;           /* ingest.max_record_bytes */
	int64_t replay_window_ms;    /* ingest.replay_window */
	int run_ingest, run_matcher; /* broker.parts */
};

/* Load broker.conf (path may be NULL), env, sets; open the signing key. */
int brk_load(struct brk *b, const char *path, char *const *envp, char *const *sets,
	     size_t n_sets, char *errstr, size_t errstr_size);
void brk_close(struct brk *b);

/* "<prefix><name>" into buf. */
const char *brk_topic(const struct brk *b, const char *name, char *buf, size_t size);

#endif
