/*
 * agency.h — the adapter's configuration and the things it opens from it.
 *
 * An agency.conf names the agency, its signing key, the federation key
 * file, the broker's public key, the ledger directory and Kafka. Programs
 * load it with adp_agency_load(), then open what each command needs:
 * commands that never touch Kafka (check, hash) never open a producer, and
 * commands that never publish never load the signing key.
 */
#ifndef ADP_AGENCY_H
#define ADP_AGENCY_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "deconf/conf.h"
#include "deconf/sign.h"
#include "deconf/token.h"
#include "ledger.h"
#include "normalize.h"

extern const struct deconf_conf_def adp_conf_table[];
extern const size_t adp_conf_table_n;

/*
 * The values of adp_conf_table, one field per key (section_key), filled by
 * adp_agency_load(): durations in ms, sizes in bytes; strings belong to the
 * conf, NULL for a path no default or setting gave.
 */
struct adp_settings {
	const char *agency_id;
	const char *agency_key_file;
	const char *agency_signing_key;
	const char *agency_broker_public_key;
	const char *agency_federation_public_key;
	const char *agency_default_region;
	const char *agency_topic_prefix;
	const char *ledger_dir;
	int64_t ledger_map_size;
	int64_t submit_max_batch_bytes;
	int64_t submit_timeout;
	int64_t submit_confirm_timeout;
	const char *run_spool_dir;
	const char *run_outbox_file;
	const char *run_webhook_url;
	int64_t run_webhook_timeout;
	int64_t run_webhook_backoff_max;
	int64_t run_poll_interval;
	int64_t run_settle;
	const char *console_tls_cert;
	const char *console_tls_key;
	const char *console_client_ca;
	struct deconf_log_settings log;
};

struct adp_agency {
	struct deconf_conf *conf;   /* names and origins of set, and kafka.* */
	struct adp_settings set;
	const char *id;             /* agency.id */
	const char *topic_prefix;   /* agency.topic_prefix */
	struct adp_norm_opts norm;
	struct deconf_keyring *ring;       /* opened by adp_agency_open_keys */
	struct deconf_tokenizer *tk;       /* current epoch */
	struct deconf_sign_key *sign_key;  /* adp_agency_open_signing */
	struct deconf_sign_key *broker_key;
	struct deconf_sign_key *federation_key; /* public: checks the directory */
	struct adp_ledger *ledger;         /* adp_agency_open_ledger */
};

/*
 * Load agency.conf (path may be NULL when everything comes from the
 * environment and sets), DECONF_* from envp, and "key=value" sets. On
 * error returns DECONF_E_CONFIG with one line in errstr (exit status 2).
 */
int adp_agency_load(struct adp_agency *a, const char *path, char *const *envp,
		    char *const *sets, size_t n_sets, char *errstr, size_t errstr_size);

/* The federation key file and a tokenizer for its current epoch. */
int adp_agency_open_keys(struct adp_agency *a, char *errstr, size_t errstr_size);
/* The agency's signing key (to publish). */
int adp_agency_open_signing(struct adp_agency *a, char *errstr, size_t errstr_size);
/* The broker's public key (to verify notices). */
int adp_agency_open_broker_key(struct adp_agency *a, char *errstr, size_t errstr_size);
/* The federation key's public half (to read this agency's directory entry). */
int adp_agency_open_federation_key(struct adp_agency *a, char *errstr, size_t errstr_size);
/* The ledger in ledger.dir. */
int adp_agency_open_ledger(struct adp_agency *a, char *errstr, size_t errstr_size);

/* "<prefix><kind>.<agency>", e.g. deconf.submit.agency-a, into buf. */
const char *adp_agency_topic(const struct adp_agency *a, const char *kind, char *buf,
			     size_t size);

/* Frees what was opened; NULL-safe members. */
void adp_agency_close(struct adp_agency *a);


#endif
