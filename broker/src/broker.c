/* broker.c — the broker's configuration table and context. */
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "deconf/err.h"
#include "deconf/limits.h"
#include "deconf/log.h"

/* Each row is bound to its field of struct brk_settings (broker.h). */
#define ROW(member, ...) DECONF_CONF_ROW(struct brk_settings, member, __VA_ARGS__)
const struct deconf_conf_def brk_conf_table[] = {
	ROW(broker_signing_key, "broker.signing_key",
	    DECONF_CONF_PATH, NULL, 0, 0, NULL, DECONF_CONF_REQUIRED,
	    "the broker's own Ed25519 key (PEM, 0600): signs notices, receipts, rejects and "
	    "audit checkpoints; never the directory"),
	ROW(broker_federation_key, "broker.federation_key",
	    DECONF_CONF_PATH, NULL, 0, 0, NULL, DECONF_CONF_REQUIRED,
	    "the federation key's PUBLIC half (federation.pub): directory entries and key epochs "
	    "are trusted only when signed with it. Its private half stays with the operator, "
	    "off this host"),
	ROW(broker_topic_prefix, "broker.topic_prefix",
	    DECONF_CONF_STR, "deconf.", 0, 0, NULL, 0,
	    "prefix of every deconf topic"),
	ROW(broker_instance, "broker.instance", DECONF_CONF_STR, "1", 0, 0, NULL, 0,
	    "this broker process's name in its group: makes its transactional ids; "
	    "unique per process, stable across restarts"),
	ROW(broker_parts, "broker.parts",
	    DECONF_CONF_ENUM, "all", 0, 0, "all|ingest|matcher", 0,
	    "what this process runs: ingest and matcher, or one of them (to scale them apart)"),
	ROW(ingest_max_record_bytes, "ingest.max_record_bytes",
	    DECONF_CONF_SIZE, "1M", 1024, DECONF_SUBMISSION_MAX_LIMIT, NULL,
	    0, "larger submission records are refused (oversized)"),
	ROW(ingest_agency_ops_per_s, "ingest.agency_ops_per_s",
	    DECONF_CONF_INT, "20000", 1, 100000000, NULL, 0,
	    "token ops one agency's submissions may become per second, on average (each submission "
	    "counts at least 100): past it (and its burst) ingest pauses that agency's topic; "
	    "nothing is lost, the others go on. Keep it well below what the matcher does: every "
	    "agency's ops share deconf.tokens"),
	ROW(ingest_agency_bytes_per_s, "ingest.agency_bytes_per_s",
	    DECONF_CONF_SIZE, "8M", 1024, 1LL << 40, NULL, 0,
	    "submission bytes one agency may send per second, on average (paused past it, as above)"),
	ROW(ingest_agency_burst, "ingest.agency_burst",
	    DECONF_CONF_DURATION, "1s", 100, 3600000, NULL, 0,
	    "how far ahead of its rates an agency may go at once: what it may put on deconf.tokens "
	    "ahead of everyone else's ops"),
	ROW(ingest_max_token_ops, "ingest.max_token_ops",
	    DECONF_CONF_INT, "250000", 1000, 100000000, NULL, 0,
	    "a submission that would become more token ops than this is refused (oversized): one "
	    "record is processed at once, and a close of many cases counts once per partition"),
	ROW(ingest_rejects_alert, "ingest.rejects_alert",
	    DECONF_CONF_INT, "10", 1, 1000000, NULL, 0,
	    "an agency refused this many times within rejects_window gets one ops event "
	    "(repeated_rejects) on deconf.ops"),
	ROW(ingest_rejects_window, "ingest.rejects_window",
	    DECONF_CONF_DURATION, "10m", 1000, 86400000LL, NULL, 0,
	    "the window of rejects_alert"),
	ROW(ingest_retry_max, "ingest.retry_max",
	    DECONF_CONF_DURATION, "10s", 100, 600000, NULL, 0,
	    "longest wait between retries of a batch that failed for a passing reason (backoff "
	    "from 100 ms)"),
	ROW(ingest_replay_window, "ingest.replay_window",
	    DECONF_CONF_DURATION, "30d", 60000, 365 * 86400000LL, NULL, 0,
	    "submission ids are remembered this long; older submissions are refused"),
	ROW(ingest_batch_max, "ingest.batch_max", DECONF_CONF_INT, "500", 1, 100000, NULL, 0,
	    "records consumed per transaction at most"),
	ROW(ingest_batch_wait, "ingest.batch_wait",
	    DECONF_CONF_DURATION, "20ms", 0, 10000, NULL, 0,
	    "how long to wait for more records before committing a batch"),
	ROW(ingest_batch_time, "ingest.batch_time",
	    DECONF_CONF_DURATION, "100ms", 1, 60000, NULL, 0,
	    "a batch is committed once it has been open this long, however much is queued "
	    "(bounds what a backlog adds to each record's latency)"),
	ROW(matcher_state_dir, "matcher.state_dir",
	    DECONF_CONF_PATH, "/var/lib/deconf-broker/state", 0, 0, NULL, 0,
	    "the matcher's local state (LMDB); may be wiped: it is rebuilt from deconf.state"),
	ROW(matcher_state_map_size, "matcher.state_map_size",
	    DECONF_CONF_SIZE, "16G", 1 << 20, 1LL << 42, NULL, 0,
	    "largest size the state store may grow to (sparse file)"),
	ROW(matcher_state_max_age, "matcher.state_max_age",
	    DECONF_CONF_DURATION, "12h", 1000, 30 * 86400000LL, NULL, 0,
	    "a partition's local copy older than this is rebuilt from the changelog, not caught up "
	    "(keep it below deconf.state's delete.retention.ms)"),
	ROW(matcher_batch_max, "matcher.batch_max",
	    DECONF_CONF_INT, "20000", 1, 1000000, NULL, 0,
	    "token ops per transaction at most (bigger batches: more throughput under load)"),
	ROW(matcher_batch_wait, "matcher.batch_wait",
	    DECONF_CONF_DURATION, "20ms", 0, 10000, NULL, 0,
	    "how long to wait for more token ops before committing a batch"),
	ROW(matcher_batch_time, "matcher.batch_time",
	    DECONF_CONF_DURATION, "100ms", 1, 60000, NULL, 0,
	    "a batch is committed once it has been open this long, however much is queued "
	    "(bounds what a backlog adds to each notice's latency)"),
	ROW(matcher_transaction_timeout, "matcher.transaction_timeout",
	    DECONF_CONF_DURATION, "10s", 1000, 900000, NULL, 0,
	    "Kafka transaction timeout: how long a dead instance's open batch blocks the next owner"),
	ROW(matcher_audit_checkpoint_interval, "matcher.audit_checkpoint_interval",
	    DECONF_CONF_DURATION, "60s", 1000, 86400000LL, NULL, 0,
	    "how often each audit chain that moved gets a checkpoint signed with the broker's key "
	    "(and on a clean stop): events after a chain's last one are not yet signed"),
	ROW(matcher_match_same_agency, "matcher.match_same_agency",
	    DECONF_CONF_BOOL, "false", 0, 0, NULL, 0,
	    "also notify two cases of one agency that share an indicator"),
	ROW(matcher_notify_queried, "matcher.notify_queried",
	    DECONF_CONF_BOOL, "true", 0, 0, NULL, 0,
	    "tell holders of an indicator that someone queried it (RESTRICTED holders always are)"),
	ROW(matcher_ip_slack, "matcher.ip_slack",
	    DECONF_CONF_DURATION, "24h", 0, 365 * 86400000LL, NULL, 0,
	    "IP windows conflict when they overlap or are this close"),
	ROW(matcher_ttl, "matcher.ttl",
	    DECONF_CONF_DURATION, "180d", 1000, 3650 * 86400000LL, NULL, 0,
	    "default time an entry lives unless renewed"),
	ROW(matcher_ttl_ip, "matcher.ttl_ip",
	    DECONF_CONF_DURATION, "90d", 1000, 3650 * 86400000LL, NULL, 0,
	    "default time an IP entry lives unless renewed"),
	ROW(matcher_ttl_max, "matcher.ttl_max",
	    DECONF_CONF_DURATION, "365d", 1000, 3650 * 86400000LL, NULL, 0,
	    "longest expiry an agency may ask for"),
	ROW(matcher_expiry_warning, "matcher.expiry_warning",
	    DECONF_CONF_DURATION, "14d", 0, 365 * 86400000LL, NULL, 0,
	    "the owner is warned this long before an entry expires"),
	ROW(matcher_expiry_scan, "matcher.expiry_scan",
	    DECONF_CONF_DURATION, "5m", 100, 86400000LL, NULL, 0,
	    "how often entries are checked for expiry"),
	ROW(matcher_escalate_after, "matcher.escalate_after",
	    DECONF_CONF_DURATION, "15m", 0, 30 * 86400000LL, NULL, 0,
	    "a conflict flagged armed, undercover, active operation or victim at risk that a "
	    "recipient has not acknowledged this long after its notice goes to the watch desk "
	    "(deconf.ops) and the recipient is reminded, once (0: never)"),
	ROW(matcher_hot_cases, "matcher.hot_cases", DECONF_CONF_INT, "50", 2, 4000, NULL, 0,
	    "a token held by more cases than this is hot: no more conflicts, ops are told"),
	ROW(matcher_hot_cases_per_agency, "matcher.hot_cases_per_agency",
	    DECONF_CONF_INT, "5", 0, 4000, NULL, 0,
	    "at most this many cases of one agency count toward hot_cases (0: all), so one "
	    "agency cannot make a token hot on its own"),
	ROW(matcher_token_cases_per_agency, "matcher.token_cases_per_agency",
	    DECONF_CONF_INT, "50", 0, 1000000, NULL, 0,
	    "an agency's add of a token it already holds in this many other cases is not stored "
	    "(it is told by a hot_token notice); 0: no cap"),
	ROW(http_address, "http.address", DECONF_CONF_STR, "127.0.0.1", 0, 0, NULL, 0,
	    "address of /metrics, /healthz, /readyz"),
	ROW(http_port, "http.port", DECONF_CONF_INT, "9464", 0, 65535, NULL, 0,
	    "port of /metrics, /healthz, /readyz (0: none)"),
	ROW(http_stall_after, "http.stall_after",
	    DECONF_CONF_DURATION, "30s", 1000, 3600000, NULL, 0,
	    "/readyz fails when a part has not committed what it read for this long (stuck); "
	    "/healthz when a part's thread has not looped for 10 times this long (hung)"),
	DECONF_CONF_LOG_ROWS(struct brk_settings, log),
};
#undef ROW
const size_t brk_conf_table_n = sizeof(brk_conf_table) / sizeof(brk_conf_table[0]);

/*
 * broker.federation_key: the public half only. A private key here means the
 * key that can add and re-key agencies sits on the broker's host, which
 * the split exists to prevent; the broker's own key in its place means
 * whoever holds the broker host can forge the directory again.
 */
static int load_federation_key(struct brk *b, char *errstr, size_t errstr_size)
{
	const char *path = b->set.broker_federation_key;
	uint8_t mine[DECONF_PUBKEY_LEN], theirs[DECONF_PUBKEY_LEN];
	int rc;

	if ((rc = deconf_sign_key_load(&b->federation_key, path, errstr, errstr_size)))
		return rc == DECONF_E_NOMEM ? rc : DECONF_E_CONFIG;
	if (deconf_sign_key_is_private(b->federation_key))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s: broker.federation_key: %s is a private key: give the "
				      "broker only the public half (federation.pub); the "
				      "federation key stays with the operator",
				      deconf_conf_origin(b->conf, "broker.federation_key"), path);
	if (deconf_sign_key_public(b->key, mine) ||
	    deconf_sign_key_public(b->federation_key, theirs))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "cannot read the public keys");
	if (!memcmp(mine, theirs, sizeof(mine)))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s: broker.federation_key is the broker's own signing "
				      "key: the directory must be signed by a key this host does "
				      "not hold (deconfctl federation init makes the two apart)",
				      deconf_conf_origin(b->conf, "broker.federation_key"));
	return 0;
}

int brk_load(struct brk *b, const char *path, char *const *envp, char *const *sets,
	     size_t n_sets, char *errstr, size_t errstr_size)
{
	int rc;

	memset(b, 0, sizeof(*b));
	if ((rc = deconf_conf_new_bound(&b->conf, brk_conf_table, brk_conf_table_n, &b->set,
					sizeof(b->set), errstr, errstr_size)) ||
	    (rc = deconf_conf_load(b->conf, path, envp, sets, n_sets, errstr, errstr_size)))
		return rc;
	b->prefix = b->set.broker_topic_prefix;
	b->instance = b->set.broker_instance;
	b->max_record = (size_t)b->set.ingest_max_record_bytes;
	b->replay_window_ms = b->set.ingest_replay_window;
	b->run_ingest = strcmp(b->set.broker_parts, "matcher") != 0;
	b->run_matcher = strcmp(b->set.broker_parts, "ingest") != 0;
	deconf_log_set_level(deconf_log_level_parse(b->set.log.level));
	deconf_log_set_format(!strcmp(b->set.log.format, "json") ? DECONF_LOG_JSON
								 : DECONF_LOG_TEXT);
	if (b->set.log.file && (rc = deconf_log_open(b->set.log.file)))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG, "%s: log.file: %s",
				      deconf_conf_origin(b->conf, "log.file"), strerror(rc));
	if ((rc = deconf_sign_key_load(&b->key, b->set.broker_signing_key, errstr, errstr_size)))
		return rc == DECONF_E_NOMEM ? rc : DECONF_E_CONFIG;
	if (!deconf_sign_key_is_private(b->key))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "broker.signing_key: a public key; the private key is "
				      "needed to sign notices");
	if ((rc = load_federation_key(b, errstr, errstr_size)))
		return rc;
	return brk_directory_new(&b->dir, b->federation_key);
}

void brk_close(struct brk *b)
{
	brk_directory_free(b->dir);
	deconf_sign_key_free(b->key);
	deconf_sign_key_free(b->federation_key);
	deconf_conf_free(b->conf);
	memset(b, 0, sizeof(*b));
}

const char *brk_topic(const struct brk *b, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", b->prefix, name);
	return buf;
}
