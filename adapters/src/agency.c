/* agency.c — the adapter's config table and what it opens. */
#include <stdio.h>
#include <string.h>

#include "agency.h"
#include "deconf/err.h"
#include "deconf/log.h"
#include "deconf/util.h"

#define GiB (INT64_C(1) << 30)

const struct deconf_conf_def adp_conf_table[] = {
	{ "agency.id", DECONF_CONF_STR, NULL, 0, 0, NULL, DECONF_CONF_REQUIRED,
	  "this agency's id: its topics' suffix and TLS principal" },
	{ "agency.key_file", DECONF_CONF_PATH, NULL, 0, 0, NULL, DECONF_CONF_REQUIRED,
	  "federation key file (all epochs; mode 0600)" },
	{ "agency.signing_key", DECONF_CONF_PATH, NULL, 0, 0, NULL, 0,
	  "the agency's Ed25519 private key (PEM, 0600); needed to publish" },
	{ "agency.broker_public_key", DECONF_CONF_PATH, NULL, 0, 0, NULL, 0,
	  "the broker's Ed25519 public key (PEM); needed to read notices and receipts" },
	{ "agency.federation_public_key", DECONF_CONF_PATH, NULL, 0, 0, NULL, 0,
	  "the federation key's public half (federation.pub): checks the directory entry "
	  "that says whether this agency is active (to send again what a suspension "
	  "refused, once it is lifted)" },
	{ "agency.default_region", DECONF_CONF_STR, "US", 0, 0, NULL, 0,
	  "region for phone numbers written without +country code" },
	{ "agency.topic_prefix", DECONF_CONF_STR, "deconf.", 0, 0, NULL, 0,
	  "prefix of every deconf topic" },
	{ "ledger.dir", DECONF_CONF_PATH, "ledger", 0, 0, NULL, 0,
	  "directory of the local ledger (LMDB; holds raw values: keep it private)" },
	{ "ledger.map_size", DECONF_CONF_SIZE, "1G", 1 << 20, 1024 * GiB, NULL, 0,
	  "largest size the ledger may grow to" },
	{ "submit.max_batch_bytes", DECONF_CONF_SIZE, "256k", 4096, 900 * 1024, NULL, 0,
	  "largest signed submission (keep under the topic's max.message.bytes)" },
	{ "submit.timeout", DECONF_CONF_DURATION, "30s", 1000, 3600000, NULL, 0,
	  "how long to wait for Kafka to confirm delivery before failing" },
	{ "submit.confirm_timeout", DECONF_CONF_DURATION, "30s", 1000, 3600000, NULL, 0,
	  "how long a publishing command waits for the broker's receipts of what it "
	  "sent (what has none by then is reported unconfirmed; --no-wait skips it)" },
	{ "run.spool_dir", DECONF_CONF_PATH, "spool", 0, 0, NULL, 0,
	  "run: directory watched for new input files (done/ and failed/ inside)" },
	{ "run.outbox_file", DECONF_CONF_PATH, "notices.jsonl", 0, 0, NULL, 0,
	  "run: every notice and receipt received is appended here as a JSON line "
	  "(\"record\": \"notice\" or \"receipt\")" },
	{ "run.webhook_url", DECONF_CONF_STR, "", 0, 0, NULL, 0,
	  "run: POST each notice and receipt (JSON) here: https://..., or http:// only to "
	  "this machine (127.0.0.1, ::1, localhost); empty = no webhook" },
	{ "run.webhook_timeout", DECONF_CONF_DURATION, "10s", 100, 300000, NULL, 0,
	  "run: how long one webhook request may take" },
	{ "run.webhook_backoff_max", DECONF_CONF_DURATION, "5m", 1000, 86400000, NULL, 0,
	  "run: longest wait between webhook retries (doubling from 1s)" },
	{ "run.poll_interval", DECONF_CONF_DURATION, "2s", 50, 3600000, NULL, 0,
	  "run: how often the spool directory is scanned" },
	{ "run.settle", DECONF_CONF_DURATION, "1s", 0, 3600000, NULL, 0,
	  "run: a spool file must be unchanged this long before it is read" },
	{ "log.level", DECONF_CONF_ENUM, "notice", 0, 0, "err|warning|notice|info|debug", 0,
	  "least severe level logged" },
	{ "log.format", DECONF_CONF_ENUM, "text", 0, 0, "text|json", 0,
	  "log line format" },
	{ "log.file", DECONF_CONF_PATH, NULL, 0, 0, NULL, 0,
	  "log file (stderr if unset); reopened on SIGHUP" },
};
const size_t adp_conf_table_n = sizeof(adp_conf_table) / sizeof(adp_conf_table[0]);

int adp_agency_load(struct adp_agency *a, const char *path, char *const *envp,
		    char *const *sets, size_t n_sets, char *errstr, size_t errstr_size)
{
	int rc;

	memset(a, 0, sizeof(*a));
	if ((rc = deconf_conf_new(&a->conf, adp_conf_table, adp_conf_table_n, errstr,
				  errstr_size)))
		return rc;
	if ((rc = deconf_conf_load(a->conf, path, envp, sets, n_sets, errstr, errstr_size)))
		return rc;
	a->id = deconf_conf_get_str(a->conf, "agency.id");
	if (!deconf_agency_id_valid(a->id, strlen(a->id)))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s: agency.id: '%s' is not an agency id (2-63 of "
				      "a-z, 0-9 and '-', not starting with '-')",
				      deconf_conf_origin(a->conf, "agency.id"), a->id);
	a->topic_prefix = deconf_conf_get_str(a->conf, "agency.topic_prefix");
	a->norm.default_region = deconf_conf_get_str(a->conf, "agency.default_region");
	if (a->norm.default_region && !*a->norm.default_region)
		a->norm.default_region = NULL;
	if ((rc = adp_norm_opts_check(&a->norm, errstr, errstr_size))) {
		char why[512];
		snprintf(why, sizeof(why), "%s", errstr);
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s: agency.default_region: %s",
				      deconf_conf_origin(a->conf, "agency.default_region"),
				      why);
	}
	deconf_log_set_level(
		deconf_log_level_parse(deconf_conf_get_str(a->conf, "log.level")));
	deconf_log_set_format(!strcmp(deconf_conf_get_str(a->conf, "log.format"), "json")
				      ? DECONF_LOG_JSON
				      : DECONF_LOG_TEXT);
	if (deconf_conf_is_set(a->conf, "log.file") &&
	    (rc = deconf_log_open(deconf_conf_get_str(a->conf, "log.file"))))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG, "%s: log.file: %s: %s",
				      deconf_conf_origin(a->conf, "log.file"),
				      deconf_conf_get_str(a->conf, "log.file"), strerror(rc));
	return DECONF_OK;
}

int adp_agency_open_keys(struct adp_agency *a, char *errstr, size_t errstr_size)
{
	int rc;

	if (a->tk)
		return DECONF_OK;
	if ((rc = deconf_keyring_load(&a->ring, deconf_conf_get_str(a->conf, "agency.key_file"),
				      errstr, errstr_size)))
		return rc;
	return deconf_tokenizer_new(&a->tk, a->ring, deconf_keyring_current(a->ring));
}

static int need_path(const struct adp_agency *a, const char *key, char *errstr,
		     size_t errstr_size)
{
	if (!deconf_conf_is_set(a->conf, key))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s is not set (see --help-config)", key);
	return DECONF_OK;
}

int adp_agency_open_signing(struct adp_agency *a, char *errstr, size_t errstr_size)
{
	int rc;

	if (a->sign_key)
		return DECONF_OK;
	if ((rc = need_path(a, "agency.signing_key", errstr, errstr_size)) ||
	    (rc = deconf_sign_key_load(&a->sign_key,
				       deconf_conf_get_str(a->conf, "agency.signing_key"), errstr,
				       errstr_size)))
		return rc;
	if (!deconf_sign_key_is_private(a->sign_key))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "agency.signing_key: %s holds a public key; the "
				      "agency's private key is needed",
				      deconf_conf_get_str(a->conf, "agency.signing_key"));
	return DECONF_OK;
}

int adp_agency_open_broker_key(struct adp_agency *a, char *errstr, size_t errstr_size)
{
	int rc;

	if (a->broker_key)
		return DECONF_OK;
	if ((rc = need_path(a, "agency.broker_public_key", errstr, errstr_size)))
		return rc;
	return deconf_sign_key_load(&a->broker_key,
				    deconf_conf_get_str(a->conf, "agency.broker_public_key"),
				    errstr, errstr_size);
}

int adp_agency_open_federation_key(struct adp_agency *a, char *errstr, size_t errstr_size)
{
	int rc;

	if (a->federation_key)
		return DECONF_OK;
	if ((rc = need_path(a, "agency.federation_public_key", errstr, errstr_size)))
		return rc;
	return deconf_sign_key_load(&a->federation_key,
				    deconf_conf_get_str(a->conf, "agency.federation_public_key"),
				    errstr, errstr_size);
}

int adp_agency_open_ledger(struct adp_agency *a, char *errstr, size_t errstr_size)
{
	if (a->ledger)
		return DECONF_OK;
	return adp_ledger_open(&a->ledger, deconf_conf_get_str(a->conf, "ledger.dir"),
			       (size_t)deconf_conf_get_int(a->conf, "ledger.map_size"), errstr,
			       errstr_size);
}

const char *adp_agency_topic(const struct adp_agency *a, const char *kind, char *buf,
			     size_t size)
{
	snprintf(buf, size, "%s%s.%s", a->topic_prefix, kind, a->id);
	return buf;
}

void adp_agency_close(struct adp_agency *a)
{
	adp_ledger_close(a->ledger);
	deconf_sign_key_free(a->sign_key);
	deconf_sign_key_free(a->broker_key);
	deconf_sign_key_free(a->federation_key);
	deconf_tokenizer_free(a->tk);
	deconf_keyring_free(a->ring);
	deconf_conf_free(a->conf);
	memset(a, 0, sizeof(*a));
}
