/* inbox.c — one reader for the deconf topics addressed to this agency (see inbox.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/log.h"
#include "deconf/util.h"
#include "inbox.h"

#define RELOOK_US 1000000 /* how often a follower looks for a missing topic */
#define RELOOK_DENIED_US 60000000 /* ... and for one it was refused */

struct topic {
	struct adp_inbox_kind *k;
	char name[256];
	rd_kafka_topic_t *rkt;
	int np;         /* partitions; 0 while the topic is not there */
	int64_t *hi;    /* per partition: the end when reading started; -1 done */
	int *started;   /* per partition: consuming */
	int denied;     /* a follower was refused this topic (ACLs): said once */
};

struct reader {
	struct adp_agency *a;
	const struct adp_inbox_opts *o;
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	struct topic *ts;
	size_t n;
	int timeout_ms;
	char *errstr;
	size_t errstr_size;
};

static void meta_name(char *buf, size_t size, const struct adp_inbox_kind *k, const char *what,
		      int32_t p)
{
	snprintf(buf, size, "%s.%s.%d", k->kind, what, (int)p);
}

/* The stored offset of partition p, or -1 when none is stored. */
static int stored_offset(struct reader *r, const struct adp_inbox_kind *k, int32_t p,
			 int64_t *off)
{
	struct adp_ledger_txn *t;
	char meta[96];
	int rc;

	*off = -1;
	if ((rc = adp_ledger_begin(r->a->ledger, 1, &t)))
		return rc;
	meta_name(meta, sizeof(meta), k, "offset", p);
	rc = adp_ledger_meta_get(t, meta, off);
	adp_ledger_abort(t);
	if (rc == DECONF_E_UNKNOWN) {
		*off = -1;
		rc = DECONF_OK;
	}
	return rc;
}

/*
 * Records of partition p below lo (from its stored offset `from` on), or
 * past the end hi, are not there. Decide as inbox.h says; *start is where
 * reading goes on.
 */
static int handle_loss(struct reader *r, struct topic *tp, int32_t p, int64_t from, int64_t lo,
		       int64_t hi, int64_t *start)
{
	struct adp_inbox_kind *k = tp->k;
	struct adp_ledger_txn *t = NULL;
	char range[256], meta[96];
	int64_t lost = from < lo ? lo - from : 0, total = 0;
	int matters = 1, rc;

	if (from > hi)
		snprintf(range, sizeof(range),
			 "the stored offset %lld is past the partition's end %lld: the topic was "
			 "deleted and made again, and what it held past %lld is gone",
			 (long long)from, (long long)hi, (long long)hi);
	else
		snprintf(range, sizeof(range), "records %lld..%lld (%lld) were deleted before "
					       "this ledger read them: they are lost",
			 (long long)from, (long long)lo - 1, (long long)lost);
	if ((rc = adp_ledger_begin(r->a->ledger, 0, &t)))
		return deconf_err_set(r->errstr, r->errstr_size, rc, "ledger: %s",
				      deconf_strerror(rc));
	if (k->loss_matters)
		matters = k->loss_matters(k->opaque, t);
	if (matters && !r->o->accept_loss) {
		adp_ledger_abort(t);
		k->st.stopped_by_loss = 1;
		deconf_log(DECONF_LOG_ERR, "INBOX", "%s [%d]: %s", tp->name, (int)p, range);
		return deconf_err_set(r->errstr, r->errstr_size, DECONF_E_KAFKA,
				      "%s [%d]: %s. Nothing was skipped; run again with "
				      "--accept-loss to record the loss in the ledger and go on "
				      "from offset %lld",
				      tp->name, (int)p, range, (long long)lo);
	}
	if (matters) {
		meta_name(meta, sizeof(meta), k, "lost", p);
		if (adp_ledger_meta_get(t, meta, &total))
			total = 0;
		if ((rc = adp_ledger_meta_put(t, meta, total + lost)) ||
		    (k->loss_accepted && (rc = k->loss_accepted(k->opaque, t))))
			goto fail;
		k->st.lost += (uint64_t)lost;
		deconf_log(DECONF_LOG_WARNING, "INBOX",
			   "%s [%d]: %s; accepted (--accept-loss), %lld lost on this "
			   "partition so far; going on from offset %lld",
			   tp->name, (int)p, range, (long long)(total + lost), (long long)lo);
	} else {
		deconf_log(DECONF_LOG_NOTICE, "INBOX",
			   "%s [%d]: %s; but none of them was awaited, so nothing that matters "
			   "was; going on from offset %lld",
			   tp->name, (int)p, range, (long long)lo);
	}
	meta_name(meta, sizeof(meta), k, "offset", p);
	if ((rc = adp_ledger_meta_put(t, meta, lo)))
		goto fail;
	rc = adp_ledger_commit(t);
	t = NULL;
	if (rc)
		goto fail;
	*start = lo;
	return DECONF_OK;
fail:
	adp_ledger_abort(t);
	return deconf_err_set(r->errstr, r->errstr_size, rc, "ledger: %s", deconf_strerror(rc));
}

/* Start consuming partition p of tp at its stored offset, checked against
 * the partition's log start lo and end hi. */
static int start_partition(struct reader *r, struct topic *tp, int32_t p, int64_t lo, int64_t hi)
{
	int64_t off, start;
	int rc;

	if ((rc = stored_offset(r, tp->k, p, &off)))
		return deconf_err_set(r->errstr, r->errstr_size, rc, "ledger: %s",
				      deconf_strerror(rc));
	start = off < 0 ? lo : off;
	if (off >= 0 && (off < lo || off > hi) &&
	    (rc = handle_loss(r, tp, p, off, lo, hi, &start)))
		return rc;
	/* a one-shot read stops at the end as it is now */
	tp->hi[p] = start >= hi ? -1 : hi;
	if (rd_kafka_consume_start_queue(tp->rkt, p, start, r->q) < 0)
		return deconf_err_set(r->errstr, r->errstr_size, DECONF_E_KAFKA, "%s [%d]: %s",
				      tp->name, (int)p, rd_kafka_err2str(rd_kafka_last_error()));
	tp->started[p] = 1;
	return DECONF_OK;
}

/* Find tp's partitions and start them; a missing topic stays np == 0. */
static int look_up(struct reader *r, struct topic *tp)
{
	const struct rd_kafka_metadata *md = NULL;
	int64_t *lo = NULL, *hi = NULL;
	rd_kafka_resp_err_t err;
	int rc = DECONF_OK;

	err = rd_kafka_metadata(r->rk, 0, tp->rkt, &md, r->timeout_ms);
	if (err || md->topic_cnt != 1) {
		rc = deconf_err_set(r->errstr, r->errstr_size, DECONF_E_KAFKA, "%s: %s", tp->name,
				    rd_kafka_err2str(err ? err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
		goto out;
	}
	if (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
	    md->topics[0].err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)
		goto out; /* nothing written to it yet, or Kafka is creating it
			   * (the broker's first answer): nothing to read yet */
	for (int p = 0; p < md->topics[0].partition_cnt; p++)
		if (md->topics[0].partitions[p].leader < 0)
			goto out; /* just created: looked at again shortly */
	if (md->topics[0].err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED && r->o->follow &&
	    !r->o->done && r->n > 1) {
		/* One topic refused must not blind the follower to the others
		 * (the daemon reads notices and receipts): said, tried again. */
		if (!tp->denied)
			deconf_log(DECONF_LOG_ERR, "INBOX",
				   "%s: %s: not read (the agency's ACLs must allow it); tried "
				   "again every minute",
				   tp->name, rd_kafka_err2str(md->topics[0].err));
		tp->denied = 1;
		goto out;
	}
	if (md->topics[0].err) {
		rc = deconf_err_set(r->errstr, r->errstr_size, DECONF_E_KAFKA, "%s: %s", tp->name,
				    rd_kafka_err2str(md->topics[0].err));
		goto out;
	}
	if (md->topics[0].partition_cnt <= 0)
		goto out;
	tp->np = md->topics[0].partition_cnt;
	if (!(tp->hi = calloc((size_t)tp->np, sizeof(*tp->hi))) ||
	    !(tp->started = calloc((size_t)tp->np, sizeof(*tp->started)))) {
		rc = DECONF_E_NOMEM;
		goto out;
	}
	if (!(lo = calloc((size_t)tp->np, sizeof(*lo))) ||
	    !(hi = calloc((size_t)tp->np, sizeof(*hi)))) {
		rc = DECONF_E_NOMEM;
		goto out;
	}
	if ((err = deconf_kafka_topic_bounds(r->rk, tp->name, tp->np, lo, hi, r->timeout_ms))) {
		rc = deconf_err_set(r->errstr, r->errstr_size, deconf_kafka_err(err),
				    "%s: log start and end: %s", tp->name, rd_kafka_err2str(err));
		goto out;
	}
	for (int32_t p = 0; p < tp->np && !rc; p++)
		rc = start_partition(r, tp, p, lo[p], hi[p]);
out:
	free(lo);
	free(hi);
	if (md)
		rd_kafka_metadata_destroy(md);
	return rc;
}

/* Verify, deduplicate and store one record; advance the partition offset. */
static int take(struct reader *r, struct topic *tp, const rd_kafka_message_t *m)
{
	struct adp_inbox_kind *k = tp->k;
	ProtobufCMessage *msg = NULL;
	struct adp_ledger_txn *t = NULL;
	char errstr[256], meta[96];
	int64_t stored = -1;
	int rc, fresh = 0;

	rc = deconf_envelope_open(m->payload, m->len, k->max_len, k->type, r->a->broker_key,
				  k->desc, &msg, errstr, sizeof(errstr));
	if (rc == DECONF_E_NOMEM)
		return rc;
	if (!rc) {
		ProtobufCBinaryData to = k->addressee(msg);
		if (to.len != strlen(r->a->id) || memcmp(to.data, r->a->id, to.len)) {
			rc = DECONF_E_INVAL;
			snprintf(errstr, sizeof(errstr), "addressed to another agency");
		}
	}
	if (rc) {
		deconf_msg_free(msg);
		msg = NULL;
	}
	if ((rc = adp_ledger_begin(r->a->ledger, 0, &t)))
		goto out;
	meta_name(meta, sizeof(meta), k, "offset", m->partition);
	if (adp_ledger_meta_get(t, meta, &stored))
		stored = -1;
	if (m->offset < stored) {
		/* taken already by another reader of this ledger */
		k->st.duplicates++;
		goto out;
	}
	if (!msg) {
		k->st.refused++;
		deconf_log(DECONF_LOG_WARNING, "INBOX", "refused record at %s [%d] offset %lld: %s",
			   tp->name, (int)m->partition, (long long)m->offset, errstr);
	} else if ((rc = k->take(k->opaque, t, msg, m, &fresh))) {
		goto out;
	} else if (fresh) {
		k->st.received++;
	} else {
		k->st.duplicates++;
	}
	if ((rc = adp_ledger_meta_put(t, meta, m->offset + 1)))
		goto out;
	rc = adp_ledger_commit(t);
	t = NULL;
out:
	adp_ledger_abort(t);
	deconf_msg_free(msg);
	return rc;
}

/* An out-of-range fetch (auto.offset.reset=error): the records are gone. */
static int reset_partition(struct reader *r, struct topic *tp, int32_t p)
{
	int64_t off, lo = 0, hi = 0, start;
	rd_kafka_resp_err_t err;
	int rc;

	if ((rc = stored_offset(r, tp->k, p, &off)))
		return deconf_err_set(r->errstr, r->errstr_size, rc, "ledger: %s",
				      deconf_strerror(rc));
	if ((err = rd_kafka_query_watermark_offsets(r->rk, tp->name, p, &lo, &hi,
						    r->timeout_ms)))
		return deconf_err_set(r->errstr, r->errstr_size, deconf_kafka_err(err),
				      "%s [%d]: %s", tp->name, (int)p, rd_kafka_err2str(err));
	if (off < 0)
		off = lo;
	start = off;
	if ((off < lo || off > hi) && (rc = handle_loss(r, tp, p, off, lo, hi, &start)))
		return rc;
	rd_kafka_consume_stop(tp->rkt, p);
	tp->started[p] = 0;
	if (tp->hi[p] >= 0 && start >= tp->hi[p])
		tp->hi[p] = -1;
	if (rd_kafka_consume_start_queue(tp->rkt, p, start, r->q) < 0)
		return deconf_err_set(r->errstr, r->errstr_size, DECONF_E_KAFKA, "%s [%d]: %s",
				      tp->name, (int)p, rd_kafka_err2str(rd_kafka_last_error()));
	tp->started[p] = 1;
	return DECONF_OK;
}

static struct topic *topic_of(struct reader *r, const rd_kafka_message_t *m)
{
	const char *name = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;

	for (size_t i = 0; name && i < r->n; i++)
		if (!strcmp(r->ts[i].name, name))
			return &r->ts[i];
	return NULL;
}

/* One record or event from the queue. */
static int handle(struct reader *r, const rd_kafka_message_t *m)
{
	struct topic *tp = topic_of(r, m);
	int in = tp && m->partition >= 0 && m->partition < tp->np;
	int rc;

	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		if (in)
			tp->hi[m->partition] = -1;
		return DECONF_OK;
	}
	if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET && in)
		return reset_partition(r, tp, m->partition);
	if (m->err) {
		deconf_log(DECONF_LOG_WARNING, "INBOX", "%s: %s", tp ? tp->name : "?",
			   rd_kafka_message_errstr(m));
		if (m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
			return deconf_err_set(r->errstr, r->errstr_size, DECONF_E_KAFKA, "%s: %s",
					      tp ? tp->name : "?", rd_kafka_message_errstr(m));
		return DECONF_OK;
	}
	if (!in)
		return DECONF_OK;
	rc = take(r, tp, m);
	if (tp->hi[m->partition] >= 0 && m->offset + 1 >= tp->hi[m->partition])
		tp->hi[m->partition] = -1;
	if (rc)
		return deconf_err_set(r->errstr, r->errstr_size, rc, "ledger: %s",
				      deconf_strerror(rc));
	return DECONF_OK;
}

/* One-shot: every partition of every topic there read to its end. */
static int at_end(const struct reader *r)
{
	for (size_t i = 0; i < r->n; i++)
		for (int p = 0; p < r->ts[i].np; p++)
			if (r->ts[i].hi[p] >= 0)
				return 0;
	return 1;
}

int adp_inbox_read(struct adp_agency *a, struct adp_inbox_kind *const *kinds, size_t n_kinds,
		   const struct adp_inbox_opts *o, char *errstr, size_t errstr_size)
{
	struct reader r = { .a = a, .o = o, .n = n_kinds, .errstr = errstr,
			    .errstr_size = errstr_size };
	rd_kafka_conf_t *kc = NULL;
	int64_t next_idle = 0, next_look = 0, next_denied = 0;
	int rc;

	if ((rc = adp_agency_open_ledger(a, errstr, errstr_size)) ||
	    (rc = adp_agency_open_broker_key(a, errstr, errstr_size)))
		return rc;
	r.timeout_ms = (int)a->set.submit_timeout;
	if (!(r.ts = calloc(n_kinds ? n_kinds : 1, sizeof(*r.ts))))
		return DECONF_E_NOMEM;
	if ((rc = deconf_kafka_conf_new(&kc, a->conf, "deconf-adapter", errstr, errstr_size)))
		goto out;
	/* No group: offsets live in the ledger, stored with what they cover.
	 * An offset that is out of range is an error, never a silent jump. */
	if ((rc = deconf_kafka_conf_set(kc, "enable.partition.eof", "true", "adapter", errstr,
					errstr_size)) ||
	    (rc = deconf_kafka_conf_set(kc, "auto.offset.reset", "error", "adapter", errstr,
					errstr_size))) {
		rd_kafka_conf_destroy(kc);
		goto out;
	}
	if (!(r.rk = deconf_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errstr_size))) {
		rc = DECONF_E_KAFKA;
		goto out;
	}
	/* The simple (legacy) consumer: partitions and offsets are ours to
	 * choose, with no consumer group to ask the broker about. */
	if (!(r.q = rd_kafka_queue_new(r.rk))) {
		rc = DECONF_E_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_kinds; i++) {
		struct topic *tp = &r.ts[i];

		tp->k = kinds[i];
		adp_agency_topic(a, tp->k->kind, tp->name, sizeof(tp->name));
		if (!(tp->rkt = rd_kafka_topic_new(r.rk, tp->name, NULL))) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA, "%s: %s",
					    tp->name, rd_kafka_err2str(rd_kafka_last_error()));
			goto out;
		}
		if ((rc = look_up(&r, tp)))
			goto out;
	}
	next_look = deconf_mono_us() + RELOOK_US;
	next_denied = deconf_mono_us() + RELOOK_DENIED_US;
	for (;;) {
		rd_kafka_message_t *m;
		int64_t now = deconf_mono_us();

		if (o->stop && *o->stop)
			break;
		if (!o->follow && at_end(&r))
			break;
		if (o->follow && o->done && o->done(o->opaque))
			break;
		if (o->follow && o->deadline_us && now >= o->deadline_us)
			break;
		if (o->follow && now >= next_look) {
			for (size_t i = 0; i < r.n; i++)
				if (!r.ts[i].np && (!r.ts[i].denied || now >= next_denied) &&
				    (rc = look_up(&r, &r.ts[i])))
					goto out;
			if (now >= next_denied)
				next_denied = now + RELOOK_DENIED_US;
			next_look = deconf_mono_us() + RELOOK_US;
		}
		if (o->follow && o->idle && now >= next_idle) {
			o->idle(o->opaque);
			next_idle = deconf_mono_us() + (int64_t)o->idle_ms * 1000;
		}
		if (!(m = rd_kafka_consume_queue(r.q, o->follow && o->idle_ms && o->idle_ms < 200
							    ? o->idle_ms
							    : 200)))
			continue;
		rc = handle(&r, m);
		rd_kafka_message_destroy(m);
		if (rc)
			goto out;
	}
	rc = DECONF_OK;
out:
	for (size_t i = 0; i < r.n; i++) {
		struct topic *tp = &r.ts[i];
		for (int p = 0; p < tp->np; p++)
			if (tp->started && tp->started[p])
				rd_kafka_consume_stop(tp->rkt, p);
		if (tp->rkt)
			rd_kafka_topic_destroy(tp->rkt);
		free(tp->hi);
		free(tp->started);
	}
	free(r.ts);
	if (r.q)
		rd_kafka_queue_destroy(r.q);
	if (r.rk)
		rd_kafka_destroy(r.rk);
	return rc;
}
