/*
 * audit.h — the audit trail's signed checkpoints, and the check anyone
 * holding the broker's public key can run on deconf.audit.
 *
 * The matcher writes one hash chain of AuditEvents per matcher partition
 * (proto/deconf.proto, AuditEvent) and, every
 * matcher.audit_checkpoint_interval and on a clean stop, a checkpoint
 * record that signs the chain's head. brk_audit_checkpoint_sign() is the
 * signing side; everything else here is the verifier:
 *
 * - every record of every partition of the topic, read_committed, from the
 *   beginning or from --from, to the end the topic had when the check began;
 * - per chain: seq consecutive, prev_hash = SHA-256 of the previous event,
 *   every checkpoint's signature with the broker's public key;
 * - a chain's records are followed across partitions (adding audit
 *   partitions moves a chain: its partition is chain % partitions) by
 *   linking runs of records: a run that does not link to another run of its
 *   chain is a break, unless it starts the chain (seq 1, prev_hash zeros)
 *   or is where a --from check began for its partition (taken on trust, and
 *   said so);
 * - a second start of a chain (seq 1, prev_hash zeros, after records) is a
 *   restart: the matcher lost its head (deconf.proto says when). Reported,
 *   not a break.
 *
 * What it cannot see: records after a chain's last checkpoint are covered
 * by the hash chain only; whoever can write the topic could drop them (in a
 * copy of the topic) unseen. The report gives that unprotected tail per
 * chain, and the last checkpointed seq, so an auditor can compare with what
 * an earlier check saw (a chain that went back is a rewritten one).
 *
 * Records are hostile input: every one is bounded (1 MiB) and parsed with
 * the budgeted Envelope parser; the number of chains (BRK_AUDIT_MAX_CHAINS)
 * and of runs the verifier keeps are bounded.
 */
#ifndef BRK_AUDIT_H
#define BRK_AUDIT_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "deconf/sign.h"

/* Chains are matcher partitions: the matcher handles at most 1024. */
#define BRK_AUDIT_MAX_CHAINS 1024
/* Runs of linked records the verifier keeps at most (each break makes
 * one): a topic with more is not an audit trail, and the check stops. */
#define BRK_AUDIT_MAX_RUNS 65536

/* ----------------------------------------------------------- checkpoints */

/*
 * The checkpoint signature of chain's head (seq, hash) at time at, with the
 * broker's private key, into sig. Returns 0, DECONF_E_INVAL (a public-only
 * key) or DECONF_E_CRYPTO.
 */
int brk_audit_checkpoint_sign(const struct deconf_sign_key *key, uint32_t chain, uint64_t seq,
			      const uint8_t hash[32], int64_t at, uint8_t sig[DECONF_SIG_LEN]);

/* 0 if sig is the checkpoint signature of (chain, seq, hash, at) by key,
 * else DECONF_E_BADSIG. */
int brk_audit_checkpoint_verify(const struct deconf_sign_key *key, uint32_t chain, uint64_t seq,
				const uint8_t hash[32], int64_t at, const uint8_t *sig,
				size_t sig_len);

/* --------------------------------------------------------------- report */

enum brk_audit_break_kind {
	BRK_AUDIT_OK = 0,
	BRK_AUDIT_GAP,           /* seq skips: records removed */
	BRK_AUDIT_ALTERED,       /* a record does not hash to what the next links to */
	BRK_AUDIT_DUPLICATE,     /* a seq again, or a second continuation of one record */
	BRK_AUDIT_BAD_SIGNATURE, /* a checkpoint not signed by the broker's key */
	BRK_AUDIT_MALFORMED,     /* a record that is not an audit event */
	BRK_AUDIT_NO_START,      /* a chain that starts mid-way without --from */
};

/* "gap", "altered", ... */
const char *brk_audit_break_name(int kind);

struct brk_audit_break {
	int kind;           /* enum brk_audit_break_kind; BRK_AUDIT_OK: none */
	int32_t partition;  /* where the record is */
	int64_t offset;
	uint64_t seq;       /* its seq (0: not known) */
	char what[256];     /* a sentence for a person */
};

struct brk_audit_chain {
	uint32_t chain;
	uint64_t records;          /* checkpoints included */
	uint64_t first_seq, last_seq;
	uint64_t checkpoints;      /* verified */
	uint64_t checkpointed_seq; /* head seq the last checkpoint signed (0: none) */
	uint64_t unprotected;      /* records after the last checkpoint */
	uint64_t restarts;         /* starts at seq 1 after records */
	int trusted_start;         /* began mid-way (--from): first record on trust */
	int32_t start_partition;   /* where its first record read is */
	int64_t start_offset;
	uint64_t breaks;           /* how many; the first is first_break */
	struct brk_audit_break first_break;
};

struct brk_audit_report {
	char topic[256];
	int from_given;               /* the check began at --from */
	uint64_t records, breaks;
	size_t n_chains;
	struct brk_audit_chain *chains; /* by chain number, only chains seen */
	/* records that belong to no chain (no parseable chain, no key) */
	uint64_t stray;
	struct brk_audit_break first_stray;
};

/* Free a report's contents (not r itself). NULL-safe. */
void brk_audit_report_clear(struct brk_audit_report *r);

/*
 * The report as text, one line per chain and a last line; every break the
 * report holds is on it. Text that came from the topic is not printed.
 * Format (what deconfctl audit verify prints):
 *   audit <topic>: <n> chain(s), <records> record(s), from the beginning|from --from
 *   chain <c>: <records> records (seq <a>..<b>), <k> checkpoints verified,
 *     last checkpointed seq <s>|none, unprotected tail <t>[, <r> restart(s)]
 *     [, started mid-way at partition <p> offset <o> (seq <a>), taken on trust]: ok
 *   chain <c>: ...: BREAK <kind> at partition <p> offset <o> (seq <s>): <what>
 *     [(+<n> more)]
 *   records of no chain: <n>, first at partition <p> offset <o>: <what>
 *   result: ok | BROKEN: <n> break(s) in <m> chain(s)
 */
void brk_audit_report_print(const struct brk_audit_report *r, FILE *out);

/* ------------------------------------------------------ the verifier core */

struct brk_audit_verifier;

/* A verifier with the broker's public key (borrowed, must outlive it).
 * 0 or DECONF_E_NOMEM. */
int brk_audit_verifier_new(struct brk_audit_verifier **out, const struct deconf_sign_key *key);

/* The records of partition begin mid-way (--from): a chain's first run
 * there that links to nothing read is taken on trust, not a break.
 * 0 or DECONF_E_NOMEM. */
int brk_audit_verifier_trust_start(struct brk_audit_verifier *v, int32_t partition);

/*
 * One record of the topic, in each partition's offset order (partitions may
 * interleave). Returns 0, or DECONF_E_NOMEM, or DECONF_E_TOOBIG (more than
 * BRK_AUDIT_MAX_RUNS runs: the check cannot go on).
 */
int brk_audit_verifier_add(struct brk_audit_verifier *v, int32_t partition, int64_t offset,
			   const void *key, size_t key_len, const void *value, size_t len);

/* Link the runs and fill r (its contents owned by the caller:
 * brk_audit_report_clear). 0 or DECONF_E_NOMEM. */
int brk_audit_verifier_finish(struct brk_audit_verifier *v, struct brk_audit_report *r);

void brk_audit_verifier_free(struct brk_audit_verifier *v);

/* ------------------------------------------------------------ with Kafka */

/* Where the check begins: the beginning, a time, or an offset per partition. */
struct brk_audit_from {
	int64_t time_ms;          /* > 0: the first record at or after it */
	int n;                    /* > 0: offsets[i] for partitions[i] */
	int32_t partitions[256];
	int64_t offsets[256];
};

/*
 * Parse --from: "P:OFFSET[,P:OFFSET...]" (partitions not named are read
 * from the beginning), a Unix time in milliseconds "@MS", or a UTC time
 * "YYYY-MM-DDTHH:MM:SSZ". NULL or "": from the beginning. 0 or
 * DECONF_E_INVAL with errstr.
 */
int brk_audit_from_parse(const char *s, struct brk_audit_from *from, char *errstr,
			 size_t errstr_size);

/*
 * Read every partition of topic to the end it had when the check began
 * (read_committed), from `from` (NULL: the beginning), and verify it with
 * the broker's public key. kc is the consumer's configuration (bootstrap,
 * security: deconf_kafka_conf_new), always taken over. Returns 0 with *r
 * filled (breaks or not: see r->breaks), or an error (the topic could not be
 * read: DECONF_E_KAFKA, DECONF_E_TIMEOUT, DECONF_E_TOOBIG...) with errstr.
 */
int brk_audit_verify(rd_kafka_conf_t *kc, const char *topic, const struct deconf_sign_key *key,
		     const struct brk_audit_from *from, struct brk_audit_report *r, char *errstr,
		     size_t errstr_size);

/*
 * The whole check for a command: parse from_arg, brk_audit_verify, print the
 * report on out (errors on err). Returns the exit status: 0 every chain
 * verified, 1 a break (or a record of no chain), 2 the check could not be
 * made (bad --from, Kafka). kc is always taken over.
 */
int brk_audit_verify_main(rd_kafka_conf_t *kc, const char *topic,
			  const struct deconf_sign_key *key, const char *from_arg, FILE *out,
			  FILE *err);

#endif
