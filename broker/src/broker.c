/* broker.c — the broker's configuration table and context. */
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "deconf/err.h"
#include "deconf/log.h"

const struct deconf_conf_def brk_conf_table[] = {
	{ "broker.signing_key", DECONF_CONF_PATH, NULL, 0, 0, NULL, DECONF_CONF_REQUIRED,
	  "the federation's Ed25519 signing key (PEM, 0600): verifies the directory, "
	  "signs notices" },
	{ "broker.topic_prefix", DECONF_CONF_STR, "deconf.", 0, 0, NULL, 0,
	  "prefix of every deconf topic" },
	{ "broker.instance", DECONF_CONF_STR, "1", 0, 0, NULL, 0,
	  "this broker process's name in its group: makes its transactional ids; "
	  "unique per process, stable across restarts" },
	{ "ingest.max_record_bytes", DECONF_CONF_SIZE, "1M", 1024, 64 << 20, NULL, 0,
	  "larger submission records are refused (oversized)" },
	{ "ingest.replay_window", DECONF_CONF_DURATION, "30d", 60000, 365 * 86400000LL, NULL, 0,
	  "submission ids are remembered this long; older submissions are refused" },
	{ "ingest.batch_max", DECONF_CONF_INT, "500", 1, 100000, NULL, 0,
	  "records consumed per transaction at most" },
	{ "ingest.batch_wait", DECONF_CONF_DURATION, "20ms", 0, 10000, NULL, 0,
	  "how long to wait for more records before committing a batch" },
	{ "log.level", DECONF_CONF_ENUM, "notice", 0, 0, "err|warning|notice|info|debug", 0,
	  "least severe level logged" },
	{ "log.format", DECONF_CONF_ENUM, "text", 0, 0, "text|json", 0, "log line format" },
	{ "log.file", DECONF_CONF_PATH, NULL, 0, 0, NULL, 0,
	  "log file (stderr if unset); reopened on SIGHUP" },
};
const size_t brk_conf_table_n = sizeof(brk_conf_table) / sizeof(brk_conf_table[0]);

int brk_load(struct brk *b, const char *path, char *const *envp, char *const *sets,
	     size_t n_sets, char *errstr, size_t errstr_size)
{
	int rc;

	memset(b, 0, sizeof(*b));
	if ((rc = deconf_conf_new(&b->conf, brk_conf_table, brk_conf_table_n, errstr,
				  errstr_size)) ||
	    (rc = deconf_conf_load(b->conf, path, envp, sets, n_sets, errstr, errstr_size)))
		return rc;
	b->prefix = deconf_conf_get_str(b->conf, "broker.topic_prefix");
	b->instance = deconf_conf_get_str(b->conf, "broker.instance");
	b->max_record = (size_t)deconf_conf_get_int(b->conf, "ingest.max_record_bytes");
	b->replay_window_ms = deconf_conf_get_int(b->conf, "ingest.replay_window");
	deconf_log_set_level(deconf_log_level_parse(deconf_conf_get_str(b->conf, "log.level")));
	deconf_log_set_format(!strcmp(deconf_conf_get_str(b->conf, "log.format"), "json")
				      ? DECONF_LOG_JSON
				      : DECONF_LOG_TEXT);
	if (deconf_conf_is_set(b->conf, "log.file") &&
	    (rc = deconf_log_open(deconf_conf_get_str(b->conf, "log.file"))))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG, "%s: log.file: %s",
				      deconf_conf_origin(b->conf, "log.file"), strerror(rc));
	if ((rc = deconf_sign_key_load(&b->key, deconf_conf_get_str(b->conf, "broker.signing_key"),
				       errstr, errstr_size)))
		return rc == DECONF_E_NOMEM ? rc : DECONF_E_CONFIG;
	if (!deconf_sign_key_is_private(b->key))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "broker.signing_key: a public key; the private key is "
				      "needed to sign notices");
	return brk_directory_new(&b->dir, b->key);
}

void brk_close(struct brk *b)
{
	brk_directory_free(b->dir);
	deconf_sign_key_free(b->key);
	deconf_conf_free(b->conf);
	memset(b, 0, sizeof(*b));
}

const char *brk_topic(const struct brk *b, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", b->prefix, name);
	return buf;
}
