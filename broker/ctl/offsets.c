/* offsets.c — the broker's consumer groups against their topics' logs. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "offsets.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/util.h"

struct row {
	char topic[256];
	int32_t partition;
	int64_t committed; /* < 0: nothing committed */
	int64_t lo, hi;    /* -1: unknown (note says why) */
	char note[600];
	int unstable; /* a transaction still commits here */
};

struct group {
	unsigned which;
	char name[256], reads[300];
	rd_kafka_consumer_group_state_t state;
	size_t members;
	struct row *rows;
	size_t n, cap;
};

static int is_read_by(const struct group *g, const char *prefix, const char *topic)
{
	size_t pl = strlen(prefix);

	if (strncmp(topic, prefix, pl))
		return 0;
	if (g->which == BRK_CTL_OFFSETS_MATCHER)
		return !strcmp(topic + pl, "tokens");
	return !strncmp(topic + pl, "submit.", 7) && topic[pl + 7];
}

static struct row *row_get(struct group *g, const char *topic, int32_t partition, int add)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->rows[i].partition == partition && !strcmp(g->rows[i].topic, topic))
			return &g->rows[i];
	if (!add || DECONF_GROW(g->rows, g->n, g->cap, 16))
		return NULL;
	memset(&g->rows[g->n], 0, sizeof(g->rows[g->n]));
	snprintf(g->rows[g->n].topic, sizeof(g->rows[g->n].topic), "%s", topic);
	g->rows[g->n].partition = partition;
	g->rows[g->n].committed = -1;
	g->rows[g->n].lo = g->rows[g->n].hi = -1;
	return &g->rows[g->n++];
}

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);

	return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* The group's coordinator is moving or starting (a fresh cluster makes
 * __consumer_offsets on first use): ask again, within the timeout. */
static int coordinator_busy(rd_kafka_resp_err_t err)
{
	return err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
	       err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
	       err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
}

static int again(int64_t deadline_us)
{
	if (deconf_mono_us() + 200000 >= deadline_us)
		return 0;
	usleep(200000);
	return 1;
}

static void groups_free(struct group *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(g[i].rows);
}

/* The group's state and members (a group Kafka does not know is dead). */
static int describe(struct brk_ctl_kafka *k, struct group *g, char *errstr, size_t errstr_size)
{
	rd_kafka_t *rk = brk_ctl_kafka_handle(k);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o =
		brk_ctl_kafka_admin_options(k, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
	const char *names[1] = { g->name };
	int64_t deadline = deconf_mono_us() + (int64_t)brk_ctl_kafka_timeout_ms(k) * 1000;
	rd_kafka_resp_err_t err;
	rd_kafka_event_t *ev = NULL;
	char what[300], cause[512];
	int rc;

	snprintf(what, sizeof(what), "describing group %s", g->name);
retry:
	rd_kafka_DescribeConsumerGroups(rk, names, 1, o, q);
	if ((rc = brk_ctl_kafka_admin_wait(k, q, what, &ev, &err, errstr, errstr_size)) &&
	    coordinator_busy(err) && again(deadline))
		goto retry;
	if (!rc) {
		size_t cnt = 0;
		const rd_kafka_ConsumerGroupDescription_t **d =
			rd_kafka_DescribeConsumerGroups_result_groups(
				rd_kafka_event_DescribeConsumerGroups_result(ev), &cnt);
		const rd_kafka_error_t *e = cnt == 1 ? rd_kafka_ConsumerGroupDescription_error(d[0])
						     : NULL;
		if (cnt != 1) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA,
					    "%s: %zu answers for one group", what, cnt);
		} else if (e && coordinator_busy(rd_kafka_error_code(e)) && again(deadline)) {
			rd_kafka_event_destroy(ev);
			goto retry;
		} else if (e) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA, "%s: %s", what,
					    brk_ctl_kafka_cause(rd_kafka_error_code(e), cause,
								sizeof(cause)));
		} else {
			g->state = rd_kafka_ConsumerGroupDescription_state(d[0]);
			g->members = rd_kafka_ConsumerGroupDescription_member_count(d[0]);
		}
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	return rc;
}

/* Every partition the group has committed, stable ones only. */
static int committed(struct brk_ctl_kafka *k, const char *prefix, struct group *g, char *errstr,
		     size_t errstr_size)
{
	rd_kafka_t *rk = brk_ctl_kafka_handle(k);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o =
		brk_ctl_kafka_admin_options(k, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
	rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(g->name, NULL);
	int64_t deadline = deconf_mono_us() + (int64_t)brk_ctl_kafka_timeout_ms(k) * 1000;
	rd_kafka_error_t *oe;
	rd_kafka_resp_err_t err;
	rd_kafka_event_t *ev = NULL;
	char what[300], cause[512];
	int rc;

	/* a transaction that is still open must not read as committed */
	if ((oe = rd_kafka_AdminOptions_set_require_stable_offsets(o, 1)))
		rd_kafka_error_destroy(oe);
	snprintf(what, sizeof(what), "reading the committed offsets of group %s", g->name);
retry:
	rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, o, q);
	if ((rc = brk_ctl_kafka_admin_wait(k, q, what, &ev, &err, errstr, errstr_size)) &&
	    coordinator_busy(err) && again(deadline))
		goto retry;
	if (!rc) {
		size_t cnt = 0;
		const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
			rd_kafka_event_ListConsumerGroupOffsets_result(ev), &cnt);
		const rd_kafka_error_t *e = cnt == 1 ? rd_kafka_group_result_error(gr[0]) : NULL;
		const rd_kafka_topic_partition_list_t *l =
			cnt == 1 ? rd_kafka_group_result_partitions(gr[0]) : NULL;
		if (e && coordinator_busy(rd_kafka_error_code(e)) && again(deadline)) {
			rd_kafka_event_destroy(ev);
			goto retry;
		}
		if (cnt != 1 || e) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA, "%s: %s", what,
					    e ? brk_ctl_kafka_cause(rd_kafka_error_code(e), cause,
								    sizeof(cause))
					      : "no answer for the group");
		}
		for (int i = 0; !rc && l && i < l->cnt; i++) {
			const rd_kafka_topic_partition_t *p = &l->elems[i];
			struct row *r;
			if (!is_read_by(g, prefix, p->topic))
				continue;
			if (!(r = row_get(g, p->topic, p->partition, 1))) {
				rc = deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
				break;
			}
			if (p->err == RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT) {
				r->unstable = 1;
				snprintf(r->note, sizeof(r->note),
					 "a transaction that commits here is still open: ask again "
					 "once it ends (transaction.timeout.ms)");
			} else if (p->err) {
				snprintf(r->note, sizeof(r->note), "committed offset: %s",
					 brk_ctl_kafka_cause(p->err, cause, sizeof(cause)));
				r->unstable = 1;
			} else if (p->offset >= 0) {
				r->committed = p->offset;
			}
		}
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_ListConsumerGroupOffsets_destroy(req);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	return rc;
}

/* The groups of mask with every partition of the topics they read, their
 * commits and the partitions' log start and end. */

/* Each row's partition log start and end: all at once, or, when Kafka
 * refuses that, row by row so that each row says its own cause. */
static void bounds(struct brk_ctl_kafka *k, const struct rd_kafka_metadata *md, struct group *g)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)g->n + 1),
					*lo = NULL, *hi = NULL;
	char cause[512];
	int all;

	for (size_t r = 0; r < g->n; r++) {
		struct row *w = &g->rows[r];
		int found = 0;
		for (int t = 0; t < md->topic_cnt && !found; t++)
			found = !strcmp(md->topics[t].topic, w->topic) &&
				w->partition < md->topics[t].partition_cnt;
		if (found)
			rd_kafka_topic_partition_list_add(l, w->topic, w->partition)->opaque = w;
		else
			snprintf(w->note, sizeof(w->note), "the partition is gone (topic deleted?)");
	}
	all = l->cnt && !brk_ctl_kafka_bounds(k, l, &lo, &hi, cause, sizeof(cause));
	for (int i = 0; i < l->cnt; i++) {
		struct row *w = l->elems[i].opaque;
		if (all) {
			w->lo = lo->elems[i].offset;
			w->hi = hi->elems[i].offset;
		} else if (brk_ctl_kafka_watermarks(k, w->topic, w->partition, &w->lo, &w->hi,
						    cause, sizeof(cause))) {
			snprintf(w->note, sizeof(w->note), "%s", cause);
		}
	}
	if (all) {
		rd_kafka_topic_partition_list_destroy(lo);
		rd_kafka_topic_partition_list_destroy(hi);
	}
	rd_kafka_topic_partition_list_destroy(l);
}

static int collect(struct brk_ctl_kafka *k, const char *prefix, unsigned mask, struct group *gv,
		   size_t *n_gv, char *errstr, size_t errstr_size)
{
	static const struct {
		unsigned which;
		const char *group, *reads;
	} known[] = {
		{ BRK_CTL_OFFSETS_INGEST, "broker-ingest", "submit.*" },
		{ BRK_CTL_OFFSETS_MATCHER, "broker-matcher", "tokens" },
	};
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err;
	char cause[512];
	int rc = 0;

	*n_gv = 0;
	if ((err = rd_kafka_metadata(brk_ctl_kafka_handle(k), 1, NULL, &md,
				     brk_ctl_kafka_timeout_ms(k))))
		return deconf_err_set(errstr, errstr_size, deconf_kafka_err(err),
				      "listing the cluster's topics: %s",
				      brk_ctl_kafka_cause(err, cause, sizeof(cause)));
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !rc; i++) {
		struct group *g = &gv[*n_gv];
		if (!(mask & known[i].which))
			continue;
		memset(g, 0, sizeof(*g));
		(*n_gv)++;
		g->which = known[i].which;
		snprintf(g->name, sizeof(g->name), "%s%s", prefix, known[i].group);
		snprintf(g->reads, sizeof(g->reads), "%s%s", prefix, known[i].reads);
		for (int t = 0; t < md->topic_cnt && !rc; t++) {
			if (md->topics[t].err || !is_read_by(g, prefix, md->topics[t].topic))
				continue;
			for (int p = 0; p < md->topics[t].partition_cnt && !rc; p++)
				if (!row_get(g, md->topics[t].topic, md->topics[t].partitions[p].id, 1))
					rc = deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM,
							    "out of memory");
		}
		if (!rc)
			rc = describe(k, g, errstr, errstr_size);
		if (!rc)
			rc = committed(k, prefix, g, errstr, errstr_size);
		if (!rc)
			bounds(k, md, g);
		if (g->n)
			qsort(g->rows, g->n, sizeof(*g->rows), row_cmp);
	}
	rd_kafka_metadata_destroy(md);
	return rc;
}

static int64_t lost_of(const struct row *r)
{
	return !r->unstable && r->committed >= 0 && r->lo > r->committed ? r->lo - r->committed : 0;
}

static const char *state_name(rd_kafka_consumer_group_state_t s, char *buf, size_t size)
{
	snprintf(buf, size, "%s", rd_kafka_consumer_group_state_name(s));
	for (char *p = buf; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return buf;
}

static int group_empty(const struct group *g)
{
	return !g->members && (g->state == RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY ||
			       g->state == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD);
}

static void print_group(const struct group *g, FILE *out)
{
	char st[64], c[32], lo[32], hi[32];

	fprintf(out, "group %s (reads %s): %s, %zu member(s)%s\n", g->name, g->reads,
		state_name(g->state, st, sizeof(st)), g->members,
		group_empty(g) ? "" : ": a broker is reading it");
	if (!g->n) {
		fprintf(out, "  (no partition: no such topic yet)\n");
		return;
	}
	fprintf(out, "  %-40s %12s %12s %12s\n", "TOPIC [PARTITION]", "COMMITTED", "LOG START",
		"LOG END");
	for (size_t i = 0; i < g->n; i++) {
		const struct row *r = &g->rows[i];
		char tp[300];
		int64_t lost = lost_of(r);
		snprintf(tp, sizeof(tp), "%s [%d]", r->topic, (int)r->partition);
		snprintf(c, sizeof(c), r->committed >= 0 ? "%lld" : "-", (long long)r->committed);
		snprintf(lo, sizeof(lo), r->lo >= 0 ? "%lld" : "?", (long long)r->lo);
		snprintf(hi, sizeof(hi), r->hi >= 0 ? "%lld" : "?", (long long)r->hi);
		fprintf(out, "  %-40s %12s %12s %12s", tp, c, lo, hi);
		if (lost)
			fprintf(out, "  LOST %lld records (offsets %lld..%lld)", (long long)lost,
				(long long)r->committed, (long long)r->lo - 1);
		else if (r->note[0])
			fprintf(out, "  %s", r->note);
		else if (r->committed >= 0 && r->hi >= 0 && r->committed > r->hi)
			fprintf(out, "  committed beyond the log end (the topic was made again?)");
		else if (r->committed < 0 && r->lo > 0)
			fprintf(out, "  nothing committed; offsets below %lld are gone",
				(long long)r->lo);
		fputc('\n', out);
	}
}

int brk_ctl_offsets_show(struct brk_ctl_kafka *k, const char *prefix, unsigned groups,
			 size_t *lost, FILE *out, char *errstr, size_t errstr_size)
{
	struct group gv[2];
	size_t n_gv = 0, n_lost = 0;
	int64_t records = 0;
	int rc;

	if (lost)
		*lost = 0;
	if ((rc = collect(k, prefix, groups, gv, &n_gv, errstr, errstr_size))) {
		groups_free(gv, n_gv);
		return rc;
	}
	for (size_t i = 0; i < n_gv; i++) {
		print_group(&gv[i], out);
		for (size_t r = 0; r < gv[i].n; r++)
			if (lost_of(&gv[i].rows[r])) {
				n_lost++;
				records += lost_of(&gv[i].rows[r]);
			}
	}
	if (n_lost)
		fprintf(out,
			"%lld record(s) lost below the committed offset in %zu partition(s): the broker "
			"stops there (its /readyz fails) rather than skip them. To go on without "
			"them: stop every deconf-broker, then deconfctl offsets accept-loss.\n",
			(long long)records, n_lost);
	else
		fprintf(out, "no records lost below a committed offset\n");
	groups_free(gv, n_gv);
	if (lost)
		*lost = n_lost;
	return DECONF_OK;
}

static int wanted(const rd_kafka_topic_partition_list_t *only, const struct row *r)
{
	if (!only)
		return 1;
	for (int i = 0; i < only->cnt; i++)
		if (only->elems[i].partition == r->partition && !strcmp(only->elems[i].topic, r->topic))
			return 1;
	return 0;
}

/* Commit the log start of g's rows to accept (in l), printing each. */
static int alter(struct brk_ctl_kafka *k, const struct group *g,
		 const rd_kafka_topic_partition_list_t *l, FILE *out, size_t *done,
		 int64_t *records, char *errstr, size_t errstr_size)
{
	rd_kafka_t *rk = brk_ctl_kafka_handle(k);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o =
		brk_ctl_kafka_admin_options(k, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
	rd_kafka_AlterConsumerGroupOffsets_t *req = rd_kafka_AlterConsumerGroupOffsets_new(g->name, l);
	rd_kafka_resp_err_t err;
	rd_kafka_event_t *ev = NULL;
	char what[300], cause[512];
	int rc;

	snprintf(what, sizeof(what), "committing the log start offsets of group %s", g->name);
	rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, o, q);
	if (!(rc = brk_ctl_kafka_admin_wait(k, q, what, &ev, &err, errstr, errstr_size))) {
		size_t cnt = 0;
		const rd_kafka_group_result_t **gr = rd_kafka_AlterConsumerGroupOffsets_result_groups(
			rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &cnt);
		const rd_kafka_error_t *e = cnt == 1 ? rd_kafka_group_result_error(gr[0]) : NULL;
		const rd_kafka_topic_partition_list_t *res =
			cnt == 1 ? rd_kafka_group_result_partitions(gr[0]) : NULL;
		if (cnt != 1 || e || !res)
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA, "%s: %s", what,
					    e ? brk_ctl_kafka_cause(rd_kafka_error_code(e), cause,
								    sizeof(cause))
					      : "no answer for the group");
		for (int i = 0; res && i < res->cnt; i++) {
			const rd_kafka_topic_partition_t *p = &res->elems[i];
			const rd_kafka_topic_partition_t *want =
				rd_kafka_topic_partition_list_find(l, p->topic, p->partition);
			int64_t from = want ? *(const int64_t *)want->opaque : -1;
			if (p->err) {
				fprintf(out, "NOT accepted: group %s, %s [%d]: %s\n", g->name, p->topic,
					(int)p->partition,
					brk_ctl_kafka_cause(p->err, cause, sizeof(cause)));
				if (!rc)
					rc = deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA,
							    "%s: %s [%d] refused", what, p->topic,
							    (int)p->partition);
				continue;
			}
			fprintf(out,
				"accepted: group %s, %s [%d]: records %lld..%lld (%lld) are lost; "
				"its committed offset is now %lld\n",
				g->name, p->topic, (int)p->partition, (long long)from,
				(long long)p->offset - 1, (long long)(p->offset - from),
				(long long)p->offset);
			(*done)++;
			*records += p->offset - from;
		}
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_AlterConsumerGroupOffsets_destroy(req);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	return rc;
}

int brk_ctl_offsets_accept_loss(struct brk_ctl_kafka *k, const char *prefix, unsigned groups,
				const rd_kafka_topic_partition_list_t *only, FILE *out,
				char *errstr, size_t errstr_size)
{
	struct group gv[2];
	size_t n_gv = 0, done = 0;
	int64_t records = 0;
	rd_kafka_topic_partition_list_t *l[2] = { NULL, NULL };
	int rc;

	if ((rc = collect(k, prefix, groups, gv, &n_gv, errstr, errstr_size)))
		goto out;
	/* every partition named must be one these groups read */
	for (int i = 0; only && i < only->cnt; i++) {
		int found = 0;
		for (size_t g = 0; g < n_gv && !found; g++)
			for (size_t r = 0; r < gv[g].n && !found; r++)
				found = gv[g].rows[r].partition == only->elems[i].partition &&
					!strcmp(gv[g].rows[r].topic, only->elems[i].topic);
		if (!found) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					    "--partition %s:%d: not a partition the broker's groups "
					    "read (deconfctl offsets show lists them)",
					    only->elems[i].topic, (int)only->elems[i].partition);
			goto out;
		}
	}
	/* what to accept, per group; a group that would change must be empty
	 * (checked for all before anything changes) */
	for (size_t g = 0; g < n_gv; g++) {
		for (size_t r = 0; r < gv[g].n; r++) {
			struct row *w = &gv[g].rows[r];
			if (!wanted(only, w))
				continue;
			if (!lost_of(w)) {
				if (only)
					fprintf(out, "%s [%d]: nothing lost there (%s)\n", w->topic,
						(int)w->partition,
						w->note[0] ? w->note : "committed offset within the log");
				continue;
			}
			if (!l[g] && !(l[g] = rd_kafka_topic_partition_list_new(4))) {
				rc = deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
				goto out;
			}
			{
				rd_kafka_topic_partition_t *p =
					rd_kafka_topic_partition_list_add(l[g], w->topic, w->partition);
				p->offset = w->lo;
				/* where it was, for what is printed; the list does not own it */
				p->opaque = &w->committed;
			}
		}
		if (l[g] && !group_empty(&gv[g])) {
			char st[64];
			rc = deconf_err_set(errstr, errstr_size, EBUSY,
					    "group %s is %s with %zu member(s): a deconf-broker is "
					    "running. Stop every broker first; nothing was changed",
					    gv[g].name, state_name(gv[g].state, st, sizeof(st)),
					    gv[g].members);
			goto out;
		}
	}
	for (size_t g = 0; g < n_gv && !rc; g++)
		if (l[g])
			rc = alter(k, &gv[g], l[g], out, &done, &records, errstr, errstr_size);
	if (!rc && !done)
		fprintf(out, "nothing to accept: no partition lost records below its committed "
			     "offset\n");
	else if (done)
		fprintf(out, "accepted losing %lld record(s) in %zu partition(s): the broker goes on "
			     "from each partition's log start\n",
			(long long)records, done);
out:
	for (int i = 0; i < 2; i++)
		if (l[i]) {
			/* opaque points into gv: not the list's to free */
			for (int j = 0; j < l[i]->cnt; j++)
				l[i]->elems[j].opaque = NULL;
			rd_kafka_topic_partition_list_destroy(l[i]);
		}
	groups_free(gv, n_gv);
	return rc;
}
