/*
 * broker.h — the broker's configuration and shared context.
 *
 * deconf-broker -c broker.conf runs ingest and the matcher (broker.parts). Everything here is read-only after brk_load().
 */
#ifndef BRK_BROKER_H
#define BRK_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "deconf/conf.h"
#include "deconf/sign.h"
#include "directory.h"

extern const struct deconf_conf_def brk_conf_table[];
extern const size_t brk_conf_table_n;

struct brk {
	struct deconf_conf *conf;
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
