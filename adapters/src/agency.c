/* agency.c — the adapter's config table and what it opens. */
#include <stdio.h>
#include <string.h>

#include "agency.h"
#include "deconf/err.h"
#include "deconf/log.h"
#include "deconf/util.h"

#define GiB (INT64_C(1) << 30)

/* Each row is bound to its field of struct adp_settings (agency.h). */
#define ROW(member, ...) DECONF_CONF_ROW(struct adp_settings, member, __VA_ARGS__)
const struct deconf_conf_def adp_conf_table[] = {
	ROW(agency_id, "agency.id", DECONF_CONF_STR, NULL, 0, 0, NULL, DECONF_CONF_REQUIRED,
	    "this agency's id: its topics' suffix and TLS principal"),
	ROW(agency_key_file, "agency.key_file",
	    DECONF_CONF_PATH, NULL, 0, 0, NULL, DECONF_CONF_REQUIRED,
	    "federation key file (all epochs; mode 0600)"),
	ROW(agency_signing_key, "agency.signing_key", DECONF_CONF_PATH, NULL, 0, 0, NULL, 0,
	    "the agency's Ed25519 private key (PEM, 0600); needed to publish"),
	ROW(agency_broker_public_key, "agency.broker_public_key",
	    DECONF_CONF_PATH, NULL, 0, 0, NULL, 0,
	    "the broker's Ed25519 public key (PEM); needed to read notices and receipts"),
	ROW(agency_federation_public_key, "agency.federation_public_key",
	    DECONF_CONF_PATH, NULL, 0, 0, NULL, 0,
	    "the federation key's public half (federation.pub): checks the directory entry "
	    "that says whether this agency is active (to send again what a suspension "
	    "refused, once it is lifted)"),
	ROW(agency_default_region, "agency.default_region",
	    DECONF_CONF_STR, "US", 0, 0, NULL, 0,
	    "region for phone numbers written without +country code"),
	ROW(agency_topic_prefix, "agency.topic_prefix",
	    DECONF_CONF_STR, "deconf.", 0, 0, NULL, 0,
	    "prefix of every deconf topic"),
	ROW(ledger_dir, "ledger.dir", DECONF_CONF_PATH, "ledger", 0, 0, NULL, 0,
	    "directory of the local ledger (LMDB; holds raw values: keep it private)"),
	ROW(ledger_map_size, "ledger.map_size",
	    DECONF_CONF_SIZE, "1G", 1 << 20, 1024 * GiB, NULL, 0,
	    "largest size the ledger may grow to"),
	ROW(submit_max_batch_bytes, "submit.max_batch_bytes",
	    DECONF_CONF_SIZE, "256k", 4096, 900 * 1024, NULL, 0,
	    "largest signed submission (keep under the topic's max.message.bytes)"),
	ROW(submit_timeout, "submit.timeout",
	    DECONF_CONF_DURATION, "30s", 1000, 3600000, NULL, 0,
	    "how long to wait for Kafka to confirm delivery before failing"),
	ROW(submit_confirm_timeout, "submit.confirm_timeout",
	    DECONF_CONF_DURATION, "30s", 1000, 3600000, NULL, 0,
	    "how long a publishing command waits for the broker's receipts of what it "
	    "sent (what has none by then is reported unconfirmed; --no-wait skips it)"),
	ROW(run_spool_dir, "run.spool_dir", DECONF_CONF_PATH, "spool", 0, 0, NULL, 0,
	    "run: directory watched for new input files (done/ and failed/ inside)"),
	ROW(run_outbox_file, "run.outbox_file",
	    DECONF_CONF_PATH, "notices.jsonl", 0, 0, NULL, 0,
	    "run: every notice and receipt received is appended here as a JSON line "
	    "(\"record\": \"notice\" or \"receipt\")"),
	ROW(run_webhook_url, "run.webhook_url", DECONF_CONF_STR, "", 0, 0, NULL, 0,
	    "run: POST each notice and receipt (JSON) here: https://..., or http:// only to "
	    "this machine (127.0.0.1, ::1, localhost); empty = no webhook"),
	ROW(run_webhook_timeout, "run.webhook_timeout",
	    DECONF_CONF_DURATION, "10s", 100, 300000, NULL, 0,
	    "run: how long one webhook request may take"),
	ROW(run_webhook_backoff_max, "run.webhook_backoff_max",
	    DECONF_CONF_DURATION, "5m", 1000, 86400000, NULL, 0,
	    "run: longest wait between webhook retries (doubling from 1s)"),
	ROW(run_poll_interval, "run.poll_interval",
	    DECONF_CONF_DURATION, "2s", 50, 3600000, NULL, 0,
	    "run: how often the spool directory is scanned"),
	ROW(run_settle, "run.settle", DECONF_CONF_DURATION, "1s", 0, 3600000, NULL, 0,
	    "run: a spool file must be unchanged this long before it is read"),
	ROW(console_tls_cert, "console.tls_cert", DECONF_CONF_PATH, NULL, 0, 0, NULL, 0,
	    "serve: the console's certificate chain (PEM): with tls_key, it serves HTTPS"),
	ROW(console_tls_key, "console.tls_key", DECONF_CONF_PATH, NULL, 0, 0, NULL, 0,
	    "serve: the private key of tls_cert (PEM, 0600)"),
	ROW(console_client_ca, "console.client_ca", DECONF_CONF_PATH, NULL, 0, 0, NULL, 0,
	    "serve: CA certificates (PEM) of the analysts' client certificates: a request "
	    "with a certificate they issued (for TLS client use, in its validity) is let in "
	    "without the token; needs tls_cert"),
	DECONF_CONF_LOG_ROWS(struct adp_settings, log),
};
#undef ROW
const size_t adp_conf_table_n = sizeof(adp_conf_table) / sizeof(adp_conf_table[0]);

int adp_agency_load(struct adp_agency *a, const char *path, char *const *envp,
		    char *const *sets, size_t n_sets, char *errstr, size_t errstr_size)
{
	int rc;

	memset(a, 0, sizeof(*a));
	if ((rc = deconf_conf_new_bound(&a->conf, adp_conf_table, adp_conf_table_n, &a->set,
					sizeof(a->set), errstr, errstr_size)))
		return rc;
	if ((rc = deconf_conf_load(a->conf, path, envp, sets, n_sets, errstr, errstr_size)))
		return rc;
	a->id = a->set.agency_id;
	if (!deconf_agency_id_valid(a->id, strlen(a->id)))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s: agency.id: '%s' is not an agency id (2-63 of "
				      "a-z, 0-9 and '-', not starting with '-')",
				      deconf_conf_origin(a->conf, "agency.id"), a->id);
	a->topic_prefix = a->set.agency_topic_prefix;
	a->norm.default_region = a->set.agency_default_region;
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
	deconf_log_set_level(deconf_log_level_parse(a->set.log.level));
	deconf_log_set_format(!strcmp(a->set.log.format, "json") ? DECONF_LOG_JSON
								 : DECONF_LOG_TEXT);
	if (a->set.log.file && (rc = deconf_log_open(a->set.log.file)))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG, "%s: log.file: %s: %s",
				      deconf_conf_origin(a->conf, "log.file"), a->set.log.file,
				      strerror(rc));
	return DECONF_OK;
}

int adp_agency_open_keys(struct adp_agency *a, char *errstr, size_t errstr_size)
{
	int rc;

	if (a->tk)
		return DECONF_OK;
	if ((rc = deconf_keyring_load(&a->ring, a->set.agency_key_file, errstr, errstr_size)))
		return rc;
	return deconf_tokenizer_new(&a->tk, a->ring, deconf_keyring_current(a->ring));
}

/* A path setting with no default, NULL until something set it. */
static int need_path(const char *value, const char *key, char *errstr, size_t errstr_size)
{
	if (!value)
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s is not set (see --help-config)", key);
	return DECONF_OK;
}

int adp_agency_open_signing(struct adp_agency *a, char *errstr, size_t errstr_size)
{
	int rc;

	if (a->sign_key)
		return DECONF_OK;
	if ((rc = need_path(a->set.agency_signing_key, "agency.signing_key", errstr,
			    errstr_size)) ||
	    (rc = deconf_sign_key_load(&a->sign_key, a->set.agency_signing_key, errstr,
				       errstr_size)))
		return rc;
	if (!deconf_sign_key_is_private(a->sign_key))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "agency.signing_key: %s holds a public key; the "
				      "agency's private key is needed",
				      a->set.agency_signing_key);
	return DECONF_OK;
}

int adp_agency_open_broker_key(struct adp_agency *a, char *errstr, size_t errstr_size)
{
	int rc;

	if (a->broker_key)
		return DECONF_OK;
	if ((rc = need_path(a->set.agency_broker_public_key, "agency.broker_public_key", errstr,
			    errstr_size)))
		return rc;
	return deconf_sign_key_load(&a->broker_key, a->set.agency_broker_public_key, errstr,
				    errstr_size);
}

int adp_agency_open_federation_key(struct adp_agency *a, char *errstr, size_t errstr_size)
{
	int rc;

	if (a->federation_key)
		return DECONF_OK;
	if ((rc = need_path(a->set.agency_federation_public_key, "agency.federation_public_key",
			    errstr, errstr_size)))
		return rc;
	return deconf_sign_key_load(&a->federation_key, a->set.agency_federation_public_key,
				    errstr, errstr_size);
}

int adp_agency_open_ledger(struct adp_agency *a, char *errstr, size_t errstr_size)
{
	if (a->ledger)
		return DECONF_OK;
	return adp_ledger_open(&a->ledger, a->set.ledger_dir, (size_t)a->set.ledger_map_size,
			       errstr, errstr_size);
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
