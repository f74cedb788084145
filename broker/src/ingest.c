/* ingest.c — submit topics → token ops, exactly once (see ingest.h). */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/log.h"
#include "deconf/util.h"
#include "eos.h"
#include "feed.h"
#include "ingest.h"
#include "submission.h"

#define TXN_TIMEOUT_MS 60000
#define SEEN_VALUE_LEN 16 /* 8 bytes of the record's SHA-256, created_at */

/* ------------------------------------------------------------ seen set */

struct seen_entry {
	char *key; /* agency ":" hex(submission id) */
	uint8_t digest[8];
	int64_t created_at;
	struct seen_entry *next;
};

struct seen {
	struct seen_entry **b;
	size_t nb, n;
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct seen_entry *seen_get(struct seen *s, const char *key)
{
	if (!s->nb)
		return NULL;
	for (struct seen_entry *e = s->b[fnv(key) % s->nb]; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

static int seen_put(struct seen *s, const char *key, const uint8_t digest[8],
		    int64_t created_at)
{
	struct seen_entry *e = seen_get(s, key);
	size_t i;

	if (!e) {
		if (s->n >= s->nb) { /* grow: rehash into twice the buckets */
			size_t nb = s->nb ? s->nb * 2 : 1024;
			struct seen_entry **b = calloc(nb, sizeof(*b));
			if (!b)
				return DECONF_E_NOMEM;
			for (i = 0; i < s->nb; i++)
				for (struct seen_entry *x = s->b[i], *nx; x; x = nx) {
					nx = x->next;
					x->next = b[fnv(x->key) % nb];
					b[fnv(x->key) % nb] = x;
				}
			free(s->b);
			s->b = b;
			s->nb = nb;
		}
		if (!(e = calloc(1, sizeof(*e))) || !(e->key = strdup(key))) {
			free(e);
			return DECONF_E_NOMEM;
		}
		i = fnv(key) % s->nb;
		e->next = s->b[i];
		s->b[i] = e;
		s->n++;
	}
	memcpy(e->digest, digest, 8);
	e->created_at = created_at;
	return DECONF_OK;
}

static void seen_del(struct seen *s, const char *key)
{
	struct seen_entry **pp;

	if (!s->nb)
		return;
	for (pp = &s->b[fnv(key) % s->nb]; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->key, key)) {
			struct seen_entry *e = *pp;
			*pp = e->next;
			free(e->key);
			free(e);
			s->n--;
			return;
		}
}

static void seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->nb; i++)
		for (struct seen_entry *e = s->b[i], *n; e; e = n) {
			n = e->next;
			free(e->key);
			free(e);
		}
	free(s->b);
}

/* A record of deconf.ingest.seen. */
static int seen_apply(void *opaque, const void *key, size_t key_len, const void *value,
		      size_t value_len, char *errstr, size_t errstr_size)
{
	struct seen *s = opaque;
	char k[128];
	int64_t created = 0;
	const uint8_t *v = value;

	if (!key || key_len >= sizeof(k))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "bad key");
	memcpy(k, key, key_len);
	k[key_len] = '\0';
	if (!value) {
		seen_del(s, k);
		return DECONF_OK;
	}
	if (value_len != SEEN_VALUE_LEN)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "bad value");
	for (int i = 0; i < 8; i++)
		created = (int64_t)((uint64_t)created << 8 | v[8 + i]);
	return seen_put(s, k, v, created);
}

static int dir_apply(void *opaque, const void *key, size_t key_len, const void *value,
		     size_t value_len, char *errstr, size_t errstr_size)
{
	return brk_directory_apply(opaque, key, key_len, value, value_len, errstr, errstr_size);
}

/* --------------------------------------------------------------- ingest */

struct ingest {
	struct brk *b;
	struct brk_metrics *mx;
	rd_kafka_t *consumer, *producer;
	struct brk_feed *dir, *seenfeed;
	struct seen seen;
	char tokens[256], seen_topic[256], submit_prefix[256], ops_topic[256];
	int32_t n_token_partitions;
	/* the open batch's seen keys, undone if the transaction aborts */
	char **batch_keys;
	size_t n_batch_keys, cap_batch_keys;
	int in_txn;
	uint64_t accepted, refused, duplicates, token_ops;
	char *errstr;
	size_t errstr_size;
};

static int produce(struct ingest *g, const char *topic, int32_t partition, const void *key,
		   size_t key_len, const void *value, size_t len)
{
	return brk_eos_produce(g->producer, "INGEST", topic, partition, key, key_len, value, len);
}

struct op_ctx {
	struct ingest *g;
	int rc;
};

static int emit_token_op(void *opaque, const Deconf__V1__TokenOp *op)
{
	struct op_ctx *c = opaque;
	struct ingest *g = c->g;
	uint8_t *buf;
	size_t len;
	int rc;

	if ((rc = deconf_envelope_seal(&op->base, DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_TOKEN_OP,
				       "broker", NULL, &buf, &len)))
		return rc;
	if (op->token.len) {
		/* murmur2 partitioning on the token: what every Kafka client computes */
		rc = produce(g, g->tokens, RD_KAFKA_PARTITION_UA, op->token.data, op->token.len, buf,
			     len);
	} else {
		/* a whole case closed: every partition holds some of its entries */
		for (int32_t p = 0; p < g->n_token_partitions && !rc; p++)
			rc = produce(g, g->tokens, p, NULL, 0, buf, len);
	}
	free(buf);
	if (!rc)
		g->token_ops++;
	return rc;
}

/* A Reject, signed by the broker, to the agency's rejects topic. */
static int emit_reject(struct ingest *g, const char *agency, size_t agency_len,
		       const rd_kafka_message_t *m, const struct brk_check *c,
		       const Deconf__V1__Submission *sub)
{
	Deconf__V1__Reject r = DECONF__V1__REJECT__INIT;
	char topic[512], detail[sizeof(c->detail)];
	uint8_t *buf;
	size_t len;
	int rc;

	g->refused++;
	{
		char labels[160];
		snprintf(labels, sizeof(labels), "agency=\"%.*s\",reason=\"%s\"",
			 deconf_agency_id_valid(agency, agency_len) ? (int)agency_len : 1,
			 deconf_agency_id_valid(agency, agency_len) ? agency : "?",
			 brk_reject_reason_name(c->reason));
		brk_metrics_add(g->mx, "deconf_rejects_total", labels, 1);
		snprintf(labels, sizeof(labels), "agency=\"%.*s\",result=\"rejected\"",
			 deconf_agency_id_valid(agency, agency_len) ? (int)agency_len : 1,
			 deconf_agency_id_valid(agency, agency_len) ? agency : "?");
		brk_metrics_add(g->mx, "deconf_submissions_total", labels, 1);
	}
	deconf_log(DECONF_LOG_NOTICE, "INGEST", "refused %s [%d] offset %lld: %s: %s",
		   rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset,
		   brk_reject_reason_name(c->reason), c->detail);
	/* an unknown agency has no rejects topic of its own: ops hears of it */
	if (c->reason == DECONF__V1__REJECT_REASON__REJECT_REASON_UNKNOWN_AGENCY ||
	    !deconf_agency_id_valid(agency, agency_len))
		return DECONF_OK;
	snprintf(detail, sizeof(detail), "%s", c->detail);
	r.agency_id.data = (uint8_t *)agency;
	r.agency_id.len = agency_len;
	if (sub)
		r.submission_id = sub->submission_id;
	r.reason = c->reason;
	r.detail = detail;
	r.rejected_at = deconf_now_ms();
	r.topic = (char *)rd_kafka_topic_name(m->rkt);
	r.partition = m->partition;
	r.offset = m->offset;
	r.op_index = c->op_index;
	if ((rc = deconf_envelope_seal(&r.base, DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_REJECT,
				       "broker", g->b->key, &buf, &len)))
		return rc;
	snprintf(topic, sizeof(topic), "%srejects.%.*s", g->b->prefix, (int)agency_len, agency);
	rc = produce(g, topic, RD_KAFKA_PARTITION_UA, agency, agency_len, buf, len);
	free(buf);
	return rc;
}

/* Decide one submit record and produce what it becomes (inside the txn). */
static int process(struct ingest *g, const rd_kafka_message_t *m)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	const char *agency = topic + strlen(g->submit_prefix);
	size_t agency_len = strlen(agency);
	struct brk_check c;
	struct seen_entry *e;
	uint8_t digest[SHA256_DIGEST_LENGTH], value[SEEN_VALUE_LEN];
	char key[128], hex[33];
	struct op_ctx oc = { g, 0 };
	int rc;

	if ((rc = brk_submission_check(g->b->dir, agency, agency_len, m->payload, m->len,
				       g->b->max_record, &c)))
		return rc;
	if (c.reason == DECONF__V1__REJECT_REASON__REJECT_REASON_UNKNOWN_AGENCY) {
		/* maybe added a moment ago: read the directory to its end, retry */
		brk_feed_sync(g->dir, 5000);
		if ((rc = brk_submission_check(g->b->dir, agency, agency_len, m->payload, m->len,
					       g->b->max_record, &c)))
			return rc;
	}
	if (c.reason)
		return emit_reject(g, agency, agency_len, m, &c, NULL);
	SHA256(m->payload, m->len, digest);
	snprintf(key, sizeof(key), "%.*s:%s", (int)agency_len, agency,
		 deconf_hex_encode(hex, c.sub->submission_id.data, 16));
	if ((e = seen_get(&g->seen, key))) {
		if (!memcmp(e->digest, digest, 8)) {
			/* the adapter sent it again after a crash: already applied */
			g->duplicates++;
			snprintf(key, sizeof(key), "agency=\"%.*s\",result=\"resend\"",
				 (int)agency_len, agency);
			brk_metrics_add(g->mx, "deconf_submissions_total", key, 1);
			deconf_msg_free(c.sub);
			return DECONF_OK;
		}
		c.reason = DECONF__V1__REJECT_REASON__REJECT_REASON_REPLAYED;
		snprintf(c.detail, sizeof(c.detail), "submission id %s was used before", hex);
	} else if (c.sub->created_at < deconf_now_ms() - g->b->replay_window_ms) {
		c.reason = DECONF__V1__REJECT_REASON__REJECT_REASON_REPLAYED;
		snprintf(c.detail, sizeof(c.detail),
			 "created more than the replay window (%lld days) ago",
			 (long long)(g->b->replay_window_ms / 86400000));
	}
	if (c.reason) {
		rc = emit_reject(g, agency, agency_len, m, &c, c.sub);
		deconf_msg_free(c.sub);
		return rc;
	}
	rc = brk_submission_token_ops(c.sub, deconf_now_ms(), emit_token_op, &oc);
	memcpy(value, digest, 8);
	for (int i = 0; i < 8; i++)
		value[8 + i] = (uint8_t)((uint64_t)c.sub->created_at >> (56 - 8 * i));
	if (!rc)
		rc = produce(g, g->seen_topic, RD_KAFKA_PARTITION_UA, key, strlen(key), value,
			     sizeof(value));
	if (!rc && !(rc = seen_put(&g->seen, key, digest, c.sub->created_at))) {
		/* remember it, to undo if the transaction aborts */
		rc = DECONF_GROW(g->batch_keys, g->n_batch_keys, g->cap_batch_keys, 64);
		if (!rc && !(g->batch_keys[g->n_batch_keys] = strdup(key)))
			rc = DECONF_E_NOMEM;
		if (!rc)
			g->n_batch_keys++;
	}
	if (!rc) {
		g->accepted++;
		snprintf(key, sizeof(key), "agency=\"%.*s\",result=\"accepted\"", (int)agency_len,
			 agency);
		brk_metrics_add(g->mx, "deconf_submissions_total", key, 1);
	}
	deconf_msg_free(c.sub);
	return rc;
}

static void forget_batch(struct ingest *g, int undo)
{
	for (size_t i = 0; i < g->n_batch_keys; i++) {
		if (undo)
			seen_del(&g->seen, g->batch_keys[i]);
		free(g->batch_keys[i]);
	}
	g->n_batch_keys = 0;
}

static int abort_batch(struct ingest *g, const char *why)
{
	rd_kafka_error_t *e;

	deconf_log(DECONF_LOG_WARNING, "INGEST", "aborting the batch: %s", why);
	brk_metrics_add(g->mx, "deconf_txn_aborts_total", "part=\"ingest\"", 1);
	if ((e = rd_kafka_abort_transaction(g->producer, TXN_TIMEOUT_MS))) {
		int fatal = rd_kafka_error_is_fatal(e);
		deconf_log(DECONF_LOG_ERR, "INGEST", "abort: %s", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		if (fatal)
			return DECONF_E_KAFKA;
	}
	g->in_txn = 0;
	forget_batch(g, 1);
	brk_eos_rewind(g->consumer);
	return DECONF_OK;
}

/* Commit: outputs and the consumer's positions, atomically. */
static int commit_batch(struct ingest *g)
{
	rd_kafka_error_t *e = brk_eos_commit(g->consumer, g->producer, TXN_TIMEOUT_MS);

	if (e) {
		char why[512];
		int fatal = rd_kafka_error_is_fatal(e), abortable = rd_kafka_error_txn_requires_abort(e);

		snprintf(why, sizeof(why), "%s", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		if (fatal) {
			deconf_err_set(g->errstr, g->errstr_size, DECONF_E_KAFKA,
				       "transaction failed fatally: %s", why);
			return DECONF_E_KAFKA;
		}
		(void)abortable;
		return abort_batch(g, why);
	}
	g->in_txn = 0;
	forget_batch(g, 0);
	brk_metrics_add(g->mx, "deconf_txn_commits_total", "part=\"ingest\"", 1);
	return DECONF_OK;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct ingest *g = opaque;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		/* what the previous owner accepted must be known before we read */
		brk_feed_sync(g->seenfeed, 30000);
		deconf_log(DECONF_LOG_NOTICE, "INGEST", "assigned %d partition(s)", parts->cnt);
		rd_kafka_assign(rk, parts);
	} else {
		if (g->in_txn)
			abort_batch(g, "partitions revoked");
		deconf_log(DECONF_LOG_NOTICE, "INGEST", "revoked %d partition(s)", parts->cnt);
		rd_kafka_assign(rk, NULL);
	}
}

static int open_clients(struct ingest *g)
{
	struct brk *b = g->b;
	rd_kafka_topic_partition_list_t *sub;
	char group[256], txid[512], pattern[512], *o;
	struct brk_eos_opts eo = { .client_id = "deconf-broker-ingest",
				   .group = group,
				   .transactional_id = txid,
				   /* what every Kafka client computes from the token */
				   .partitioner = "murmur2_random",
				   .rebalance_cb = rebalance_cb,
				   .opaque = g };
	int rc;

	snprintf(group, sizeof(group), "%sbroker-ingest", b->prefix);
	snprintf(txid, sizeof(txid), "%sbroker-ingest-%s", b->prefix, b->instance);
	if ((rc = brk_eos_open(b, &eo, &g->consumer, &g->producer, g->errstr, g->errstr_size)))
		return rc;
	if ((g->n_token_partitions = brk_eos_partitions(g->producer, g->tokens)) <= 0) {
		return deconf_err_set(g->errstr, g->errstr_size, DECONF_E_KAFKA,
				      "%s does not exist (deconfctl topics apply creates it)",
				      g->tokens);
	}
	/* ^deconf\.submit\..+ : every agency, present and future */
	o = pattern + snprintf(pattern, sizeof(pattern), "^");
	for (const char *p = g->submit_prefix; *p && o < pattern + sizeof(pattern) - 8; p++) {
		if (*p == '.')
			*o++ = '\\';
		*o++ = *p;
	}
	snprintf(o, (size_t)(pattern + sizeof(pattern) - o), ".+");
	sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, pattern, RD_KAFKA_PARTITION_UA);
	if (rd_kafka_subscribe(g->consumer, sub)) {
		rd_kafka_topic_partition_list_destroy(sub);
		return deconf_err_set(g->errstr, g->errstr_size, DECONF_E_KAFKA,
				      "subscribe %s failed", pattern);
	}
	rd_kafka_topic_partition_list_destroy(sub);
	deconf_log(DECONF_LOG_NOTICE, "INGEST", "consuming %s as %s, transactional id %s",
		   pattern, group, txid);
	return DECONF_OK;
}

int brk_ingest_run(struct brk *b, struct brk_metrics *mx, volatile int *stop, char *errstr,
		   size_t errstr_size)
{
	struct ingest g = { .b = b, .mx = mx, .errstr = errstr, .errstr_size = errstr_size };
	int part = brk_metrics_part(mx, "ingest");
	int64_t last_gauges = 0;
	int64_t batch_max = deconf_conf_get_int(b->conf, "ingest.batch_max");
	int64_t batch_wait = deconf_conf_get_int(b->conf, "ingest.batch_wait");
	int64_t batch_time = deconf_conf_get_int(b->conf, "ingest.batch_time");
	struct brk_eos_batch bt;
	int rc;

	brk_topic(b, "tokens", g.tokens, sizeof(g.tokens));
	brk_topic(b, "ingest.seen", g.seen_topic, sizeof(g.seen_topic));
	brk_topic(b, "submit.", g.submit_prefix, sizeof(g.submit_prefix));
	brk_topic(b, "ops", g.ops_topic, sizeof(g.ops_topic));
	if ((rc = brk_feed_open(&g.dir, b, "directory", dir_apply, b->dir, errstr,
				errstr_size)) ||
	    (rc = brk_feed_open(&g.seenfeed, b, "ingest.seen", seen_apply, &g.seen, errstr,
				errstr_size)))
		goto out;
	if (brk_feed_sync(g.dir, 30000))
		deconf_log(DECONF_LOG_WARNING, "INGEST",
			   "the directory topic is empty or missing: every agency is unknown "
			   "until deconfctl adds it");
	brk_feed_sync(g.seenfeed, 30000);
	deconf_log(DECONF_LOG_NOTICE, "INGEST", "%zu agencies in the directory",
		   brk_directory_count(b->dir));
	if ((rc = open_clients(&g)))
		goto out;
	brk_metrics_ready(mx, part, 1);
	bt = (struct brk_eos_batch){ .consumer = g.consumer,
				     .facility = "INGEST",
				     .max = batch_max,
				     .wait_us = batch_wait * 1000,
				     .time_us = batch_time * 1000 };
	while (!*stop) {
		int64_t t0 = deconf_mono_us();
		rd_kafka_message_t *m;
		rd_kafka_error_t *e;

		if (t0 - last_gauges > 5000000) {
			last_gauges = t0;
			brk_metrics_lag(mx, g.consumer, "ingest");
		}
		brk_feed_poll(g.dir);
		brk_eos_batch_begin(&bt);
		while (!*stop && (m = brk_eos_batch_next(&bt))) {
			if (!g.in_txn) {
				if ((e = rd_kafka_begin_transaction(g.producer))) {
					rc = deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA,
							    "begin_transaction: %s",
							    rd_kafka_error_string(e));
					rd_kafka_error_destroy(e);
					rd_kafka_message_destroy(m);
					goto out;
				}
				g.in_txn = 1;
			}
			rc = process(&g, m);
			rd_kafka_message_destroy(m);
			if (rc) {
				if (rc == DECONF_E_NOMEM)
					goto out;
				if ((rc = abort_batch(&g, "a record could not be produced")))
					goto out;
				break;
			}
		}
		if (g.in_txn) {
			if ((rc = commit_batch(&g)))
				goto out;
			brk_metrics_observe(mx, "deconf_batch_seconds", "part=\"ingest\"",
					    (double)(deconf_mono_us() - t0) / 1e6);
		}
	}
	rc = DECONF_OK;
out:
	brk_metrics_ready(mx, part, 0);
	if (g.in_txn)
		abort_batch(&g, "stopping");
	deconf_log(DECONF_LOG_NOTICE, "INGEST",
		   "stopped: %llu accepted, %llu refused, %llu resends dropped, %llu token ops",
		   (unsigned long long)g.accepted, (unsigned long long)g.refused,
		   (unsigned long long)g.duplicates, (unsigned long long)g.token_ops);
	if (g.consumer) {
		rd_kafka_consumer_close(g.consumer);
		rd_kafka_destroy(g.consumer);
	}
	if (g.producer)
		rd_kafka_destroy(g.producer);
	brk_feed_close(g.dir);
	brk_feed_close(g.seenfeed);
	forget_batch(&g, 0);
	free(g.batch_keys);
	seen_free(&g.seen);
	return rc;
}
