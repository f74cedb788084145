/* feed.c — read a compacted broker topic into memory, and follow it. */
#include <stdlib.h>
#include <string.h>

#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/log.h"
#include "deconf/util.h"
#include "feed.h"

struct brk_feed {
	struct brk *b;
	brk_feed_fn *fn;
	void *opaque;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	rd_kafka_queue_t *q;
	char topic[256];
	int np;             /* partitions being read; 0 = topic not seen yet */
	int64_t *reached;   /* per partition: how far it has been read (next
			       offset, or the end an EOF reported) */
	uint64_t applied, refused;
	int64_t next_try_us; /* topic missing: when to look for it again */
};

/* Start reading every partition of the topic from its beginning. */
static int start(struct brk_feed *f, int timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err;
	int np;

	if (f->np)
		return DECONF_OK;
	err = rd_kafka_metadata(f->rk, 0, f->rkt, &md, timeout_ms);
	if (err || md->topic_cnt != 1 || md->topics[0].err || !md->topics[0].partition_cnt) {
		if (md)
			rd_kafka_metadata_destroy(md);
		return DECONF_E_UNKNOWN; /* no directory yet */
	}
	np = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	if (!(f->reached = calloc((size_t)np, sizeof(*f->reached))))
		return DECONF_E_NOMEM;
	for (int p = 0; p < np; p++)
		if (rd_kafka_consume_start_queue(f->rkt, p, RD_KAFKA_OFFSET_BEGINNING, f->q) < 0)
			return DECONF_E_KAFKA;
	f->np = np;
	return DECONF_OK;
}

int brk_feed_open(struct brk_feed **out, struct brk *b, const char *name,
		  brk_feed_fn *fn, void *opaque, char *errstr, size_t errstr_size)
{
	struct brk_feed *f;
	rd_kafka_conf_t *kc = NULL;
	int rc;

	*out = NULL;
	if (!(f = calloc(1, sizeof(*f))))
		return DECONF_E_NOMEM;
	f->b = b;
	f->fn = fn;
	f->opaque = opaque;
	brk_topic(b, name, f->topic, sizeof(f->topic));
	if ((rc = deconf_kafka_conf_new(&kc, b->conf, "deconf-broker-feed", errstr,
					errstr_size)) ||
	    (rc = deconf_kafka_conf_set(kc, "enable.partition.eof", "true", "broker", errstr,
					errstr_size)) ||
	    (rc = deconf_kafka_conf_set(kc, "isolation.level", "read_committed", "broker",
					errstr, errstr_size)) ||
	    /* a sync ends on an empty fetch at each partition's end, and a
	     * change is seen one fetch wait later: short, not the 500 ms default */
	    (rc = deconf_kafka_conf_set(kc, "fetch.wait.max.ms", "100", "broker", errstr,
					errstr_size))) {
		if (kc)
			rd_kafka_conf_destroy(kc);
		free(f);
		return rc;
	}
	if (!(f->rk = deconf_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errstr_size))) {
		free(f);
		return DECONF_E_KAFKA;
	}
	f->rkt = rd_kafka_topic_new(f->rk, f->topic, NULL);
	f->q = rd_kafka_queue_new(f->rk);
	*out = f;
	return DECONF_OK;
}

static void apply(struct brk_feed *f, const rd_kafka_message_t *m)
{
	char errstr[256] = "";
	int rc = f->fn(f->opaque, m->key, m->key_len, m->payload, m->len, errstr,
		       sizeof(errstr));

	if (rc) {
		f->refused++;
		deconf_log(DECONF_LOG_WARNING, "FEED", "refused record at %s [%d] offset %lld: %s",
			   f->topic, (int)m->partition, (long long)m->offset, errstr);
	} else {
		f->applied++;
	}
}

/* Apply what arrives within timeout_ms. */
static void drain(struct brk_feed *f, int timeout_ms)
{
	rd_kafka_message_t *m;

	while ((m = rd_kafka_consume_queue(f->q, timeout_ms))) {
		if (m->partition >= 0 && m->partition < f->np &&
		    (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || !m->err) &&
		    f->reached[m->partition] < m->offset + !m->err)
			f->reached[m->partition] = m->offset + !m->err;
		if (!m->err)
			apply(f, m);
		rd_kafka_message_destroy(m);
		timeout_ms = 0;
	}
}

int brk_feed_sync(struct brk_feed *f, int timeout_ms)
{
	int64_t end = deconf_mono_us() + (int64_t)timeout_ms * 1000, *hi;
	int done = 0;

	/* The topic may not exist yet (no agency added, nothing ingested):
	 * then there is nothing to read, and later polls look again. */
	if (start(f, timeout_ms < 2000 ? timeout_ms : 2000))
		return DECONF_E_UNKNOWN;
	if (!(hi = calloc((size_t)f->np, sizeof(*hi))))
		return DECONF_E_NOMEM;
	for (int p = 0; p < f->np; p++) {
		int64_t lo;
		if (rd_kafka_query_watermark_offsets(f->rk, f->topic, p, &lo, &hi[p], 5000)) {
			free(hi);
			return DECONF_E_KAFKA;
		}
	}
	/* read until every partition is read up to its end as of now (an EOF
	 * counts: with read_committed the last offset may be a marker) */
	while (!done && deconf_mono_us() < end) {
		drain(f, 100);
		done = 1;
		for (int p = 0; p < f->np; p++)
			if (f->reached[p] < hi[p])
				done = 0;
	}
	free(hi);
	return done ? DECONF_OK : DECONF_E_TIMEOUT;
}

void brk_feed_poll(struct brk_feed *f)
{
	if (!f->np) {
		/* a missing topic is looked for again every few seconds, not on
		 * every poll (the metadata request blocks) */
		if (deconf_mono_us() < f->next_try_us)
			return;
		f->next_try_us = deconf_mono_us() + 5000000;
		if (start(f, 100))
			return;
	}
	drain(f, 0);
}

void brk_feed_counts(const struct brk_feed *f, uint64_t *applied, uint64_t *refused)
{
	*applied = f->applied;
	*refused = f->refused;
}

void brk_feed_close(struct brk_feed *f)
{
	if (!f)
		return;
	for (int p = 0; p < f->np; p++)
		rd_kafka_consume_stop(f->rkt, p);
	free(f->reached);
	if (f->q)
		rd_kafka_queue_destroy(f->q);
	if (f->rkt)
		rd_kafka_topic_destroy(f->rkt);
	if (f->rk)
		rd_kafka_destroy(f->rk);
	free(f);
}
