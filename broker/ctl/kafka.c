/* kafka.c — deconfctl's Kafka clients, bounded and saying why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/log.h"
#include "deconf/util.h"

struct brk_ctl_kafka {
	rd_kafka_t *rk;
	int timeout_ms;
	char bootstrap[512];
	/* the last error event's reason: why the cluster cannot be reached */
	char cause[512];
	/* the delivery reports of the current publish */
	size_t acked, failed;
	rd_kafka_resp_err_t dr_err;
};

/* librdkafka's logs, at most at info: deconfctl reports each failure
 * itself, once, with its cause (log.level = info shows these too). */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	deconf_kafka_log_cb(rk, level < DECONF_LOG_INFO ? DECONF_LOG_INFO : level, fac, buf);
}

/*
 * Keep the reason of an error event, shortened for one line:
 * "127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection
 * refused (after 0ms in state CONNECT)" becomes "Connect to ... failed:
 * Connection refused". "N/N brokers are down" says less than the event
 * before it, so it does not replace one.
 */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct brk_ctl_kafka *k = opaque;
	const char *colon = strstr(reason, ": "), *after;
	size_t len;

	(void)rk;
	deconf_log(DECONF_LOG_INFO, "KAFKA", "%s: %s", rd_kafka_err2name(err), reason);
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && k->cause[0])
		return;
	/* "host:port/name: " names the connection, not the cause */
	if (colon && memchr(reason, '/', (size_t)(colon - reason)) &&
	    !memchr(reason, ' ', (size_t)(colon - reason)))
		reason = colon + 2;
	len = strlen(reason);
	if ((after = strstr(reason, " (after ")))
		len = (size_t)(after - reason);
	snprintf(k->cause, sizeof(k->cause), "%.*s", (int)len, reason);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct brk_ctl_kafka *k = opaque;

	(void)rk;
	if (!m->err) {
		k->acked++;
		return;
	}
	k->failed++;
	if (!k->dr_err)
		k->dr_err = m->err;
}

const char *brk_ctl_kafka_cause(rd_kafka_resp_err_t err, char *buf, size_t size)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
		snprintf(buf, size,
			 "not allowed (%s): deconfctl must run as the broker's principal "
			 "(deconfctl.conf: kafka.ssl.certificate.location = broker.pem)",
			 rd_kafka_err2name(err));
		break;
	case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
	case RD_KAFKA_RESP_ERR__TIMED_OUT:
	case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
		snprintf(buf, size, "Kafka did not answer in time (%s)", rd_kafka_err2name(err));
		break;
	default:
		snprintf(buf, size, "%s (%s)", rd_kafka_err2str(err), rd_kafka_err2name(err));
	}
	return buf;
}

static int64_t ms_left(int64_t deadline_us)
{
	int64_t left = (deadline_us - deconf_mono_us()) / 1000;

	return left > 0 ? left : 0;
}

/* What a TLS handshake failure means for a federation, from librdkafka's
 * words for it ("" when it is no such failure). */
static const char *tls_hint(const char *cause)
{
	if (strstr(cause, "certificate verify failed"))
		return ". TLS: Kafka's certificate is not signed by this federation's CA "
		       "(kafka.ssl.ca.location): make the federation with the CA the cluster "
		       "trusts (deconfctl federation init --ca-cert FILE --ca-key FILE; for "
		       "deploy/kafka, kafka.sh env's DECONF_KRAFT_CA_CERT and DECONF_KRAFT_CA_KEY)";
	if (strstr(cause, "unknown ca") || strstr(cause, "bad certificate") ||
	    strstr(cause, "certificate required") || strstr(cause, "certificate unknown"))
		return ". TLS: the cluster does not trust this federation's CA (it refused the "
		       "client certificate): add the federation's ca.pem to the brokers' "
		       "truststore, or make the federation with the CA they trust";
	return "";
}

/* Ask for the cluster's brokers until one answers or the time is up. */
static int reach(struct brk_ctl_kafka *k, char *errstr, size_t errstr_size)
{
	int64_t deadline = deconf_mono_us() + (int64_t)k->timeout_ms * 1000;

	for (;;) {
		const struct rd_kafka_metadata *md = NULL;
		int64_t left = ms_left(deadline);
		rd_kafka_resp_err_t err;
		int brokers;

		if (!left)
			break;
		/* in slices, to serve the error events that say why */
		err = rd_kafka_metadata(k->rk, 0, NULL, &md, (int)(left < 500 ? left : 500));
		brokers = !err && md ? md->broker_cnt : 0;
		if (md)
			rd_kafka_metadata_destroy(md);
		rd_kafka_poll(k->rk, 0);
		if (brokers > 0)
			return DECONF_OK;
	}
	if (k->cause[0])
		return deconf_err_set(errstr, errstr_size, DECONF_E_IO,
				      "cannot reach Kafka at %s (%s)%s", k->bootstrap, k->cause,
				      tls_hint(k->cause));
	return deconf_err_set(errstr, errstr_size, DECONF_E_IO,
			      "cannot reach Kafka at %s (no answer in %d s)", k->bootstrap,
			      (k->timeout_ms + 999) / 1000);
}

int brk_ctl_kafka_new(struct brk_ctl_kafka **out, rd_kafka_type_t type,
		      const struct deconf_conf *conf, int timeout_ms, const char *const *props,
		      char *errstr, size_t errstr_size)
{
	struct brk_ctl_kafka *k = NULL;
	rd_kafka_conf_t *kc = NULL;
	char v[32];
	int rc;

	*out = NULL;
	if (!(k = calloc(1, sizeof(*k))))
		return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
	k->timeout_ms = timeout_ms > 0 ? timeout_ms : BRK_CTL_KAFKA_TIMEOUT_MS;
	for (size_t i = 0; conf && i < deconf_conf_kafka_count(conf); i++) {
		const char *n, *val, *o;
		deconf_conf_kafka_get(conf, i, &n, &val, &o);
		if (!strcmp(n, "bootstrap.servers"))
			snprintf(k->bootstrap, sizeof(k->bootstrap), "%s", val);
	}
	if (!k->bootstrap[0])
		snprintf(k->bootstrap, sizeof(k->bootstrap), "(kafka.bootstrap.servers not set)");
	if ((rc = deconf_kafka_conf_new(&kc, conf, "deconfctl", errstr, errstr_size)))
		goto fail;
	/* bounded unless the configuration says otherwise */
	snprintf(v, sizeof(v), "%d", k->timeout_ms);
	if ((!deconf_conf_origin(conf, "kafka.message.timeout.ms") && type == RD_KAFKA_PRODUCER &&
	     (rc = deconf_kafka_conf_set(kc, "message.timeout.ms", v, "deconfctl", errstr,
					 errstr_size))) ||
	    (!deconf_conf_origin(conf, "kafka.allow.auto.create.topics") &&
	     (rc = deconf_kafka_conf_set(kc, "allow.auto.create.topics", "false", "deconfctl",
					 errstr, errstr_size))) ||
	    (type == RD_KAFKA_CONSUMER &&
	     (rc = deconf_kafka_conf_set(kc, "enable.partition.eof", "true", "deconfctl", errstr,
					 errstr_size))))
		goto fail;
	for (size_t i = 0; props && props[i] && props[i + 1]; i += 2)
		if ((rc = deconf_kafka_conf_set(kc, props[i], props[i + 1], "deconfctl", errstr,
						errstr_size)))
			goto fail;
	rd_kafka_conf_set_log_cb(kc, log_cb);
	rd_kafka_conf_set_error_cb(kc, error_cb);
	if (type == RD_KAFKA_PRODUCER)
		rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
	rd_kafka_conf_set_opaque(kc, k);
	k->rk = deconf_kafka_new(type, kc, errstr, errstr_size);
	kc = NULL;
	if (!k->rk) {
		rc = DECONF_E_CONFIG;
		goto fail;
	}
	if ((rc = reach(k, errstr, errstr_size)))
		goto fail;
	*out = k;
	return DECONF_OK;
fail:
	if (kc)
		rd_kafka_conf_destroy(kc);
	brk_ctl_kafka_free(k);
	return rc;
}

void brk_ctl_kafka_free(struct brk_ctl_kafka *k)
{
	if (!k)
		return;
	if (k->rk)
		rd_kafka_destroy(k->rk);
	free(k);
}

rd_kafka_t *brk_ctl_kafka_handle(struct brk_ctl_kafka *k)
{
	return k->rk;
}

int brk_ctl_kafka_timeout_ms(const struct brk_ctl_kafka *k)
{
	return k->timeout_ms;
}

const char *brk_ctl_kafka_bootstrap(const struct brk_ctl_kafka *k)
{
	return k->bootstrap;
}

int brk_ctl_kafka_topic(struct brk_ctl_kafka *k, const char *topic, int *partitions,
			char *errstr, size_t errstr_size)
{
	int64_t deadline = deconf_mono_us() + (int64_t)k->timeout_ms * 1000;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, topic, NULL);
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
	char cause[512];

	*partitions = 0;
	if (!rkt)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "%s: %s", topic,
				      rd_kafka_err2str(rd_kafka_last_error()));
	while (ms_left(deadline)) {
		const struct rd_kafka_metadata *md = NULL;
		int64_t left = ms_left(deadline);
		err = rd_kafka_metadata(k->rk, 0, rkt, &md, (int)(left < 1000 ? left : 1000));
		if (!err && md->topic_cnt == 1) {
			err = md->topics[0].err;
			*partitions = md->topics[0].partition_cnt;
		}
		if (md)
			rd_kafka_metadata_destroy(md);
		rd_kafka_poll(k->rk, 0);
		/* a topic being made has no leader yet: ask again */
		if (err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE && err != RD_KAFKA_RESP_ERR__TIMED_OUT &&
		    err != RD_KAFKA_RESP_ERR__TRANSPORT)
			break;
	}
	rd_kafka_topic_destroy(rkt);
	if (!err && *partitions > 0)
		return DECONF_OK;
	if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
		return deconf_err_set(errstr, errstr_size, DECONF_E_UNKNOWN,
				      "%s: no such topic on this cluster", topic);
	return deconf_err_set(errstr, errstr_size, err ? deconf_kafka_err(err) : DECONF_E_KAFKA,
			      "%s: %s", topic, brk_ctl_kafka_cause(err, cause, sizeof(cause)));
}

int brk_ctl_kafka_publish(struct brk_ctl_kafka *k, const char *topic,
			  const struct brk_ctl_record *r, size_t n, char *errstr,
			  size_t errstr_size)
{
	rd_kafka_resp_err_t perr = RD_KAFKA_RESP_ERR_NO_ERROR, fatal;
	char cause[1024], fatal_str[512] = "";
	int64_t deadline;
	int partitions, rc;

	if ((rc = brk_ctl_kafka_topic(k, topic, &partitions, cause, sizeof(cause)))) {
		if (rc == DECONF_E_UNKNOWN)
			return deconf_err_set(errstr, errstr_size, rc,
					      "publishing to %s: the topic does not exist "
					      "(deconfctl topics apply creates it); nothing was "
					      "published",
					      topic);
		return deconf_err_set(errstr, errstr_size, rc,
				      "publishing to %s; nothing was published", cause);
	}
	k->acked = k->failed = 0;
	k->dr_err = RD_KAFKA_RESP_ERR_NO_ERROR;
	for (size_t i = 0; i < n && !perr; i++)
		perr = rd_kafka_producev(k->rk, RD_KAFKA_V_TOPIC(topic),
					 RD_KAFKA_V_KEY(r[i].key, r[i].key_len),
					 RD_KAFKA_V_VALUE((void *)r[i].value, r[i].len),
					 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
	/* message.timeout.ms fails a record librdkafka could not deliver; the
	 * slack covers its timer's granularity */
	deadline = deconf_mono_us() + ((int64_t)k->timeout_ms + 2000) * 1000;
	while (rd_kafka_outq_len(k->rk) > 0 && ms_left(deadline)) {
		rd_kafka_flush(k->rk, 100);
		if ((fatal = rd_kafka_fatal_error(k->rk, fatal_str, sizeof(fatal_str))))
			break;
	}
	rd_kafka_poll(k->rk, 0);
	if (!perr && k->acked == n)
		return DECONF_OK;
	if ((fatal = rd_kafka_fatal_error(k->rk, fatal_str, sizeof(fatal_str))))
		snprintf(cause, sizeof(cause), "%s (%s)", fatal_str, rd_kafka_err2name(fatal));
	else if (k->dr_err)
		brk_ctl_kafka_cause(k->dr_err, cause, sizeof(cause));
	else if (perr)
		brk_ctl_kafka_cause(perr, cause, sizeof(cause));
	else if (k->cause[0])
		snprintf(cause, sizeof(cause), "no delivery report in %d s (%s)",
			 (k->timeout_ms + 999) / 1000, k->cause);
	else
		snprintf(cause, sizeof(cause), "no delivery report in %d s",
			 (k->timeout_ms + 999) / 1000);
	return deconf_err_set(errstr, errstr_size,
			      k->dr_err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT || (!k->dr_err && !perr && !fatal)
				      ? DECONF_E_TIMEOUT
				      : DECONF_E_KAFKA,
			      "publishing to %s: %s (%zu of %zu record(s) confirmed)", topic, cause,
			      k->acked, n);
}

rd_kafka_AdminOptions_t *brk_ctl_kafka_admin_options(struct brk_ctl_kafka *k,
						     rd_kafka_admin_op_t op)
{
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(k->rk, op);
	char e[256];

	if (!o)
		return NULL;
	rd_kafka_AdminOptions_set_request_timeout(o, k->timeout_ms, e, sizeof(e));
	/* how long the controller may take to make a topic: the same bound */
	if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS)
		rd_kafka_AdminOptions_set_operation_timeout(o, k->timeout_ms, e, sizeof(e));
	return o;
}

int brk_ctl_kafka_admin_wait(struct brk_ctl_kafka *k, rd_kafka_queue_t *q, const char *what,
			     rd_kafka_event_t **ev, rd_kafka_resp_err_t *err, char *errstr,
			     size_t errstr_size)
{
	char cause[512];

	*err = RD_KAFKA_RESP_ERR_NO_ERROR;
	/* the request timeout makes librdkafka answer by then; slack for its
	 * timers */
	if (!(*ev = rd_kafka_queue_poll(q, k->timeout_ms + 2000))) {
		*err = RD_KAFKA_RESP_ERR__TIMED_OUT;
		return deconf_err_set(errstr, errstr_size, DECONF_E_TIMEOUT,
				      "%s: Kafka did not answer in %d s", what,
				      (k->timeout_ms + 999) / 1000);
	}
	if ((*err = rd_kafka_event_error(*ev))) {
		const char *s = rd_kafka_event_error_string(*ev);
		brk_ctl_kafka_cause(*err, cause, sizeof(cause));
		deconf_err_set(errstr, errstr_size, deconf_kafka_err(*err), "%s: %s%s%s%s", what,
			       cause, s ? " [" : "", s ? s : "", s ? "]" : "");
		rd_kafka_event_destroy(*ev);
		*ev = NULL;
		return deconf_kafka_err(*err);
	}
	return DECONF_OK;
}

int brk_ctl_kafka_watermarks(struct brk_ctl_kafka *k, const char *topic, int32_t partition,
			     int64_t *lo, int64_t *hi, char *errstr, size_t errstr_size)
{
	rd_kafka_resp_err_t err;
	char cause[512];

	*lo = *hi = -1;
	if (!(err = rd_kafka_query_watermark_offsets(k->rk, topic, partition, lo, hi,
						     k->timeout_ms)))
		return DECONF_OK;
	return deconf_err_set(errstr, errstr_size, deconf_kafka_err(err),
			      "%s [%d]: log start and end: %s", topic, (int)partition,
			      brk_ctl_kafka_cause(err, cause, sizeof(cause)));
}

int brk_ctl_kafka_bounds(struct brk_ctl_kafka *k, const rd_kafka_topic_partition_list_t *parts,
			 rd_kafka_topic_partition_list_t **lo,
			 rd_kafka_topic_partition_list_t **hi, char *errstr, size_t errstr_size)
{
	rd_kafka_resp_err_t err;
	char cause[512];

	if (!(err = deconf_kafka_log_bounds(k->rk, parts, lo, hi, k->timeout_ms)))
		return DECONF_OK;
	return deconf_err_set(errstr, errstr_size, deconf_kafka_err(err),
			      "%s...: log start and end: %s", parts->cnt ? parts->elems[0].topic : "",
			      brk_ctl_kafka_cause(err, cause, sizeof(cause)));
}

int brk_ctl_kafka_read(struct brk_ctl_kafka *k, const char *topic, int32_t partition,
		       int (*fn)(const rd_kafka_message_t *m, void *opaque), void *opaque,
		       char *errstr, size_t errstr_size)
{
	rd_kafka_topic_t *rkt;
	int64_t lo, hi, idle_since;
	char cause[512];
	int rc;

	if ((rc = brk_ctl_kafka_watermarks(k, topic, partition, &lo, &hi, errstr, errstr_size)))
		return rc;
	if (hi <= lo)
		return DECONF_OK;
	if (!(rkt = rd_kafka_topic_new(k->rk, topic, NULL)) ||
	    rd_kafka_consume_start(rkt, partition, RD_KAFKA_OFFSET_BEGINNING)) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA, "reading %s [%d]: %s", topic,
				    (int)partition, rd_kafka_err2str(rd_kafka_last_error()));
		if (rkt)
			rd_kafka_topic_destroy(rkt);
		return rc;
	}
	idle_since = deconf_mono_us();
	rc = DECONF_E_TIMEOUT;
	for (;;) {
		rd_kafka_message_t *m = rd_kafka_consume(rkt, partition, 200);
		rd_kafka_poll(k->rk, 0);
		if (!m) {
			if (deconf_mono_us() - idle_since > (int64_t)k->timeout_ms * 1000) {
				deconf_err_set(errstr, errstr_size, DECONF_E_TIMEOUT,
					       "reading %s [%d]: no record in %d s (its end is offset "
					       "%lld)%s%s",
					       topic, (int)partition, (k->timeout_ms + 999) / 1000,
					       (long long)hi, k->cause[0] ? ": " : "", k->cause);
				break;
			}
			continue;
		}
		idle_since = deconf_mono_us();
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			rd_kafka_message_destroy(m);
			rc = DECONF_OK;
			break;
		}
		if (m->err) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA, "reading %s [%d]: %s",
					    topic, (int)partition,
					    brk_ctl_kafka_cause(m->err, cause, sizeof(cause)));
			rd_kafka_message_destroy(m);
			break;
		}
		rc = fn(m, opaque);
		if (rc || m->offset + 1 >= hi) {
			rd_kafka_message_destroy(m);
			break;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consume_stop(rkt, partition);
	rd_kafka_topic_destroy(rkt);
	return rc;
}
