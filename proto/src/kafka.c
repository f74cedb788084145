/* kafka.c — librdkafka configuration from deconf config, log routing. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/log.h"
#include "deconf/util.h"

void deconf_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
			 const char *buf)
{
	char facility[64];

	snprintf(facility, sizeof(facility), "KAFKA/%s", fac);
	deconf_log(level, facility, "%s: %s", rk ? rd_kafka_name(rk) : "-", buf);
}

int deconf_kafka_conf_set(rd_kafka_conf_t *kconf, const char *name, const char *value,
			  const char *origin, char *errstr, size_t errstr_size)
{
	char kerr[512];

	if (rd_kafka_conf_set(kconf, name, value, kerr, sizeof(kerr)) != RD_KAFKA_CONF_OK)
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG, "%s: kafka.%s: %s",
				      origin, name, kerr);
	return DECONF_OK;
}

static int check_tls_file(const char *name, const char *path, const char *origin,
			  char *errstr, size_t errstr_size)
{
	struct stat st;

	if (access(path, R_OK) < 0 || stat(path, &st) < 0)
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s: kafka.%s: %s: %s", origin, name, path,
				      strerror(errno));
	if (!strcmp(name, "ssl.key.location") && (st.st_mode & 077))
		deconf_log(DECONF_LOG_WARNING, "CONF",
			   "%s: kafka.%s: private key %s is readable by group or others "
			   "(mode %03o); chmod 600 it",
			   origin, name, path, (unsigned)(st.st_mode & 0777));
	return DECONF_OK;
}

int deconf_kafka_conf_new(rd_kafka_conf_t **out, const struct deconf_conf *conf,
			  const char *client_id, char *errstr, size_t errstr_size)
{
	static const char *const tls_files[] = { "ssl.ca.location", "ssl.certificate.location",
						 "ssl.key.location" };
	rd_kafka_conf_t *kconf;
	int rc, have_client_id = 0, ssl = 0;
	size_t n = conf ? deconf_conf_kafka_count(conf) : 0;

	*out = NULL;
	if (!(kconf = rd_kafka_conf_new()))
		return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
	if ((rc = deconf_kafka_conf_set(kconf, "socket.nagle.disable", "true", "default",
					errstr, errstr_size)))
		goto fail;
	rd_kafka_conf_set_log_cb(kconf, deconf_kafka_log_cb);
	for (size_t i = 0; i < n; i++) {
		const char *name, *value, *origin;

		deconf_conf_kafka_get(conf, i, &name, &value, &origin);
		if (!strcmp(name, "client.id"))
			have_client_id = 1;
		if (!strcmp(name, "security.protocol") &&
		    (!strcasecmp(value, "ssl") || !strcasecmp(value, "sasl_ssl")))
			ssl = 1;
		for (size_t j = 0; j < sizeof(tls_files) / sizeof(tls_files[0]); j++)
			if (!strcmp(name, tls_files[j]) && *value &&
			    (rc = check_tls_file(name, value, origin, errstr, errstr_size)))
				goto fail;
		if ((rc = deconf_kafka_conf_set(kconf, name, value, origin, errstr,
						errstr_size)))
			goto fail;
	}
	if (ssl) {
		/* mTLS needs a certificate and key; say which one is missing. */
		for (size_t j = 1; j < sizeof(tls_files) / sizeof(tls_files[0]); j++) {
			const char *o;
			char key[64];

			snprintf(key, sizeof(key), "kafka.%s", tls_files[j]);
			if (!(o = deconf_conf_origin(conf, key))) {
				rc = deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
						    "%s: required when kafka.security.protocol "
						    "is ssl (mutual TLS: the client's %s)",
						    key, j == 1 ? "certificate" : "private key");
				goto fail;
			}
		}
	}
	if (!have_client_id && client_id &&
	    (rc = deconf_kafka_conf_set(kconf, "client.id", client_id, "default", errstr,
					errstr_size)))
		goto fail;
	*out = kconf;
	return DECONF_OK;
fail:
	rd_kafka_conf_destroy(kconf);
	return rc;
}

rd_kafka_t *deconf_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *kconf,
			     char *errstr, size_t errstr_size)
{
	char acks[16];
	size_t n = sizeof(acks);
	rd_kafka_t *rk;

	/* a record is delivered once every in-sync replica has it: deconf
	 * says "done" on delivery reports, and a leader that dies before its
	 * followers copied a record must not take it along */
	if (type == RD_KAFKA_PRODUCER) {
		if (rd_kafka_conf_get(kconf, "acks", acks, &n) == RD_KAFKA_CONF_OK &&
		    strcmp(acks, "-1") && strcmp(acks, "all"))
			deconf_log(DECONF_LOG_WARNING, "KAFKA",
				   "kafka.acks = %s replaced by all: deconf confirms only what "
				   "every in-sync replica holds",
				   acks);
		if (rd_kafka_conf_set(kconf, "acks", "all", errstr, errstr_size) !=
		    RD_KAFKA_CONF_OK) {
			rd_kafka_conf_destroy(kconf);
			return NULL;
		}
	}
	if (!(rk = rd_kafka_new(type, kconf, errstr, errstr_size)))
		rd_kafka_conf_destroy(kconf);
	return rk;
}

int deconf_kafka_err(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_NO_ERROR:
		return DECONF_OK;
	case RD_KAFKA_RESP_ERR__TIMED_OUT:
	case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
	case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
		return DECONF_E_TIMEOUT;
	default:
		return DECONF_E_KAFKA;
	}
}

/* Errors that pass once the partition's leader is known again. */
static int leader_moving(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
	case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
	case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
	case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
	case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
	case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
		return 1;
	default:
		return 0;
	}
}

rd_kafka_resp_err_t deconf_kafka_log_bounds(rd_kafka_t *rk,
					    const rd_kafka_topic_partition_list_t *parts,
					    rd_kafka_topic_partition_list_t **lo,
					    rd_kafka_topic_partition_list_t **hi, int timeout_ms)
{
	int64_t end = deconf_mono_us() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
	rd_kafka_resp_err_t err;

	*lo = *hi = NULL;
	do {
		int left = (int)((end - deconf_mono_us()) / 1000);

		if (*lo) {
			rd_kafka_topic_partition_list_destroy(*lo);
			rd_kafka_topic_partition_list_destroy(*hi);
		}
		*lo = rd_kafka_topic_partition_list_copy(parts);
		*hi = rd_kafka_topic_partition_list_copy(parts);
		for (int i = 0; i < parts->cnt; i++) {
			(*lo)->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
			(*hi)->elems[i].offset = RD_KAFKA_OFFSET_END;
		}
		/* ListOffsets takes BEGINNING and END as the timestamps that ask
		 * for the log start and end */
		if (!(err = rd_kafka_offsets_for_times(rk, *lo, left > 0 ? left : 1)))
			err = rd_kafka_offsets_for_times(rk, *hi, left > 0 ? left : 1);
		for (int i = 0; !err && i < parts->cnt; i++) {
			if ((err = (*lo)->elems[i].err) || (err = (*hi)->elems[i].err))
				break;
			if ((*lo)->elems[i].offset < 0 || (*hi)->elems[i].offset < 0)
				err = RD_KAFKA_RESP_ERR__BAD_MSG; /* no offset in the answer */
		}
		/* a partition whose leader is moving (a topic just created, a
		 * node gone): librdkafka has asked for fresh metadata; ask again */
		if (!leader_moving(err) || deconf_mono_us() + 100000 >= end)
			break;
		usleep(100000);
	} while (1);
	if (err) {
		rd_kafka_topic_partition_list_destroy(*lo);
		rd_kafka_topic_partition_list_destroy(*hi);
		*lo = *hi = NULL;
	}
	return err;
}

rd_kafka_resp_err_t deconf_kafka_topic_bounds(rd_kafka_t *rk, const char *topic, int np,
					      int64_t *lo, int64_t *hi, int timeout_ms)
{
	rd_kafka_topic_partition_list_t *parts, *l = NULL, *h = NULL;
	rd_kafka_resp_err_t err;

	if (np <= 0)
		return RD_KAFKA_RESP_ERR_NO_ERROR;
	parts = rd_kafka_topic_partition_list_new(np);
	for (int p = 0; p < np; p++)
		rd_kafka_topic_partition_list_add(parts, topic, p);
	if (!(err = deconf_kafka_log_bounds(rk, parts, &l, &h, timeout_ms))) {
		for (int p = 0; p < np; p++) {
			lo[p] = l->elems[p].offset;
			hi[p] = h->elems[p].offset;
		}
		rd_kafka_topic_partition_list_destroy(l);
		rd_kafka_topic_partition_list_destroy(h);
	}
	rd_kafka_topic_partition_list_destroy(parts);
	return err;
}
