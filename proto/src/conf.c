/* conf.c — table-driven configuration: defaults, INI file, env, command line. */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "deconf/conf.h"
#include "deconf/err.h"
#include "deconf/util.h"

#define ORIGIN_MAX 512
#define KAFKA_PREFIX "kafka."
#define ENV_PREFIX "DECONF_"
#define INI_LINE_MAX 8192 /* bytes in a line, not counting its "\r\n" */

struct conf_value {
	bool set;
	char *str;
	int64_t num;
	char origin[ORIGIN_MAX];
};

struct kafka_kv {
	char *name;
	char *value;
	char origin[ORIGIN_MAX];
};

struct deconf_conf {
	const struct deconf_conf_def *table;
	size_t n;
	struct conf_value *values;
	void *settings; /* where bound rows' values go; NULL: nowhere */
	struct kafka_kv *kafka;
	size_t kafka_n, kafka_cap;
};

/* ---------------------------------------------------------------- parsers */

static int parse_i64(const char *s, int64_t *out, const char **end)
{
	char *e;
	long long v;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s) && *s != '-')
		return DECONF_E_INVAL;
	errno = 0;
	v = strtoll(s, &e, 10);
	if (errno || e == s)
		return DECONF_E_INVAL;
	*out = v;
	*end = e;
	return DECONF_OK;
}

static bool only_space(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return *s == '\0';
}

int deconf_parse_duration_ms(const char *s, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = { { "ms", 1 },	 { "s", 1000 },	      { "m", 60000 },
		      { "h", 3600000 }, { "d", 86400000 } };
	const char *e;
	int64_t v;

	if (parse_i64(s, &v, &e) || v < 0)
		return DECONF_E_INVAL;
	if (only_space(e)) {
		if (v != 0)
			return DECONF_E_INVAL; /* a unit is required */
		*out = 0;
		return DECONF_OK;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t ul = strlen(units[i].unit);
		if (!strncmp(e, units[i].unit, ul) && only_space(e + ul)) {
			if (v > INT64_MAX / units[i].ms)
				return DECONF_E_INVAL;
			*out = v * units[i].ms;
			return DECONF_OK;
		}
	}
	return DECONF_E_INVAL;
}

int deconf_parse_size(const char *s, int64_t *out)
{
	const char *e;
	int64_t v, mult = 1;

	if (parse_i64(s, &v, &e) || v < 0)
		return DECONF_E_INVAL;
	switch (*e) {
	case 'k': case 'K': mult = 1024; e++; break;
	case 'M': mult = 1024 * 1024; e++; break;
	case 'G': mult = 1024 * 1024 * 1024; e++; break;
	default: break;
	}
	if (*e == 'B' || *e == 'b')
		e++;
	if (!only_space(e) || v > INT64_MAX / mult)
		return DECONF_E_INVAL;
	*out = v * mult;
	return DECONF_OK;
}

int deconf_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = 1;
			return DECONF_OK;
		}
		if (!strcasecmp(s, no[i])) {
			*out = 0;
			return DECONF_OK;
		}
	}
	return DECONF_E_INVAL;
}

static bool enum_has(const char *choices, const char *v)
{
	size_t vl = strlen(v);

	for (const char *p = choices; p && *p;) {
		const char *bar = strchr(p, '|');
		size_t l = bar ? (size_t)(bar - p) : strlen(p);
		if (l == vl && !strncmp(p, v, l))
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

static const char *type_name(enum deconf_conf_type t)
{
	switch (t) {
	case DECONF_CONF_STR: return "string";
	case DECONF_CONF_PATH: return "path";
	case DECONF_CONF_INT: return "integer";
	case DECONF_CONF_BOOL: return "bool";
	case DECONF_CONF_DURATION: return "duration";
	case DECONF_CONF_SIZE: return "size";
	case DECONF_CONF_ENUM: return "enum";
	}
	return "?";
}

/* ------------------------------------------------------------------- core */

static size_t field_size(enum deconf_conf_field f)
{
	switch (f) {
	case DECONF_CONF_FIELD_NONE: return 0;
	case DECONF_CONF_FIELD_STR: return sizeof(const char *);
	case DECONF_CONF_FIELD_INT: return sizeof(int64_t);
	case DECONF_CONF_FIELD_BOOL: return sizeof(bool);
	}
	return 0;
}

/* The accepted value of def into its field; memcpy, as settings is void *. */
static void bind_write(const struct deconf_conf *conf, const struct deconf_conf_def *def,
		       const struct conf_value *val)
{
	char *p;

	if (!conf->settings || def->field == DECONF_CONF_FIELD_NONE)
		return;
	p = (char *)conf->settings + def->offset;
	switch (def->field) {
	case DECONF_CONF_FIELD_NONE: break;
	case DECONF_CONF_FIELD_STR: {
		const char *s = val->str;
		memcpy(p, &s, sizeof(s));
		break;
	}
	case DECONF_CONF_FIELD_INT: memcpy(p, &val->num, sizeof(val->num)); break;
	case DECONF_CONF_FIELD_BOOL: {
		bool b = val->num != 0;
		memcpy(p, &b, sizeof(b));
		break;
	}
	}
}

/*
 * The bindings of a table against a settings struct of size bytes. Rows
 * made with DECONF_CONF_ROW are checked when they compile; this catches
 * what the compiler cannot: a table bound to another (smaller) struct, two
 * rows on one field, a hand-written row whose kind does not fit its type.
 */
static int check_bindings(const struct deconf_conf_def *table, size_t n, size_t size,
			  char *errstr, size_t errstr_size)
{
	for (size_t i = 0; i < n; i++) {
		const struct deconf_conf_def *d = &table[i];
		size_t fs = field_size(d->field);

		if (d->field == DECONF_CONF_FIELD_NONE)
			continue;
		if (d->field != DECONF_CONF_FIELD_FOR(d->type))
			return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
					      "internal error: config key %s: bound to a field "
					      "of the wrong kind for a %s",
					      d->name, type_name(d->type));
		if (d->offset > size || fs > size - d->offset)
			return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
					      "internal error: config key %s: field outside "
					      "the settings (offset %zu, %zu bytes)",
					      d->name, d->offset, size);
		if (d->field != DECONF_CONF_FIELD_STR && !d->def &&
		    !(d->flags & DECONF_CONF_REQUIRED))
			return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
					      "internal error: config key %s: a bound %s needs "
					      "a default (0 would look like a value)",
					      d->name, type_name(d->type));
		for (size_t j = 0; j < i; j++) {
			const struct deconf_conf_def *e = &table[j];

			if (e->field != DECONF_CONF_FIELD_NONE &&
			    d->offset < e->offset + field_size(e->field) &&
			    e->offset < d->offset + fs)
				return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
						      "internal error: config keys %s and %s "
						      "are bound to the same field",
						      e->name, d->name);
		}
	}
	return DECONF_OK;
}

static const struct deconf_conf_def *find_def(const struct deconf_conf *conf,
					      const char *name, size_t *idx)
{
	for (size_t i = 0; i < conf->n; i++)
		if (!strcmp(conf->table[i].name, name)) {
			*idx = i;
			return &conf->table[i];
		}
	return NULL;
}

static int set_kafka(struct deconf_conf *conf, const char *name, const char *value,
		     const char *origin, char *errstr, size_t errstr_size)
{
	struct kafka_kv *kv = NULL;
	char *v;

	if (!*name)
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s: empty kafka property name", origin);
	for (size_t i = 0; i < conf->kafka_n; i++)
		if (!strcmp(conf->kafka[i].name, name))
			kv = &conf->kafka[i];
	if (!(v = strdup(value)))
		return DECONF_E_NOMEM;
	if (!kv) {
		if (conf->kafka_n == conf->kafka_cap) {
			size_t cap = conf->kafka_cap ? conf->kafka_cap * 2 : 16;
			struct kafka_kv *k = realloc(conf->kafka, cap * sizeof(*k));
			if (!k) {
				free(v);
				return DECONF_E_NOMEM;
			}
			conf->kafka = k;
			conf->kafka_cap = cap;
		}
		kv = &conf->kafka[conf->kafka_n];
		if (!(kv->name = strdup(name))) {
			free(v);
			return DECONF_E_NOMEM;
		}
		kv->value = NULL;
		conf->kafka_n++;
	}
	free(kv->value);
	kv->value = v;
	snprintf(kv->origin, sizeof(kv->origin), "%s", origin);
	return DECONF_OK;
}

int deconf_conf_set(struct deconf_conf *conf, const char *name, const char *value,
		    const char *origin, char *errstr, size_t errstr_size)
{
	const struct deconf_conf_def *def;
	struct conf_value *val;
	int64_t num = 0;
	int b;
	size_t idx;
	char *copy;

	if (strlen(value) >= DECONF_CONF_VALUE_MAX)
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s: %s: value longer than %d bytes", origin, name,
				      DECONF_CONF_VALUE_MAX - 1);
	if (!strncmp(name, KAFKA_PREFIX, strlen(KAFKA_PREFIX)))
		return set_kafka(conf, name + strlen(KAFKA_PREFIX), value, origin, errstr,
				 errstr_size);
	if (!(def = find_def(conf, name, &idx)))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s: %s: unknown key (--help-config lists the keys)",
				      origin, name);
	switch (def->type) {
	case DECONF_CONF_STR:
	case DECONF_CONF_PATH:
		if ((def->flags & DECONF_CONF_REQUIRED) && !*value)
			return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
					      "%s: %s: must not be empty", origin, name);
		break;
	case DECONF_CONF_ENUM:
		if (!enum_has(def->choices, value))
			return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
					      "%s: %s: '%s' is not one of %s", origin, name,
					      value, def->choices);
		break;
	case DECONF_CONF_BOOL:
		if (deconf_parse_bool(value, &b))
			return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
					      "%s: %s: '%s' is not true or false", origin,
					      name, value);
		num = b;
		break;
	case DECONF_CONF_INT:
	case DECONF_CONF_DURATION:
	case DECONF_CONF_SIZE: {
		const char *e;
		int rc = def->type == DECONF_CONF_DURATION ? deconf_parse_duration_ms(value, &num)
			 : def->type == DECONF_CONF_SIZE   ? deconf_parse_size(value, &num)
			 : (parse_i64(value, &num, &e) || !only_space(e)) ? DECONF_E_INVAL
									  : DECONF_OK;
		if (rc)
			return deconf_err_set(
				errstr, errstr_size, DECONF_E_CONFIG,
				"%s: %s: '%s' is not a %s%s", origin, name, value,
				type_name(def->type),
				def->type == DECONF_CONF_DURATION ? " (e.g. 500ms, 30s, 5m, 2h, 180d)"
				: def->type == DECONF_CONF_SIZE	  ? " (e.g. 1048576, 512k, 1M)"
								  : "");
		if (num < def->min || num > def->max)
			return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
					      "%s: %s: '%s' is outside [%" PRId64 ", %" PRId64
					      "]%s",
					      origin, name, value, def->min, def->max,
					      def->type == DECONF_CONF_DURATION ? " ms"
					      : def->type == DECONF_CONF_SIZE	  ? " bytes"
										  : "");
		break;
	}
	}
	if (!(copy = strdup(value)))
		return DECONF_E_NOMEM;
	val = &conf->values[idx];
	free(val->str);
	val->str = copy;
	val->num = num;
	val->set = true;
	snprintf(val->origin, sizeof(val->origin), "%s", origin);
	bind_write(conf, def, val);
	return DECONF_OK;
}

int deconf_conf_new(struct deconf_conf **out, const struct deconf_conf_def *table,
		    size_t n, char *errstr, size_t errstr_size)
{
	return deconf_conf_new_bound(out, table, n, NULL, 0, errstr, errstr_size);
}

int deconf_conf_new_bound(struct deconf_conf **out, const struct deconf_conf_def *table,
			  size_t n, void *settings, size_t settings_size, char *errstr,
			  size_t errstr_size)
{
	struct deconf_conf *conf;
	int rc;

	*out = NULL;
	if (settings) {
		if ((rc = check_bindings(table, n, settings_size, errstr, errstr_size)))
			return rc;
		memset(settings, 0, settings_size);
	}
	if (!(conf = calloc(1, sizeof(*conf))) ||
	    !(conf->values = calloc(n ? n : 1, sizeof(*conf->values)))) {
		free(conf);
		return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
	}
	conf->table = table;
	conf->n = n;
	conf->settings = settings;
	for (size_t i = 0; i < n; i++) {
		if (!table[i].def)
			continue;
		if ((rc = deconf_conf_set(conf, table[i].name, table[i].def, "default",
					  errstr, errstr_size))) {
			deconf_conf_free(conf);
			return rc == DECONF_E_NOMEM ? rc : DECONF_E_CONFIG;
		}
		/* A default does not count as "set" by the user for REQUIRED. */
		conf->values[i].set = false;
		snprintf(conf->values[i].origin, ORIGIN_MAX, "default");
	}
	*out = conf;
	return DECONF_OK;
}

void deconf_conf_free(struct deconf_conf *conf)
{
	if (!conf)
		return;
	for (size_t i = 0; i < conf->n; i++)
		free(conf->values[i].str);
	for (size_t i = 0; i < conf->kafka_n; i++) {
		free(conf->kafka[i].name);
		free(conf->kafka[i].value);
	}
	free(conf->values);
	free(conf->kafka);
	free(conf);
}

/* ---------------------------------------------------------------- INI file */

struct ini_ctx {
	struct deconf_conf *conf;
	const char *path;
	const char *data; /* whole file */
	size_t pos, len;
	int line;          /* line being parsed, 1-based */
	bool at_line_start;
	size_t line_len;   /* bytes of the current line read so far */
	int too_long_line;
	int rc;
	char *errstr;
	size_t errstr_size;
};

/* fgets-style reader over the file's bytes; counts lines for handler(). */
static char *ini_read(char *str, int num, void *stream)
{
	struct ini_ctx *ctx = stream;
	size_t n = 0;

	if (ctx->pos >= ctx->len || num <= 1)
		return NULL;
	if (ctx->at_line_start) {
		ctx->line++;
		ctx->line_len = 0;
	}
	while (n < (size_t)num - 1 && ctx->pos < ctx->len) {
		char c = ctx->data[ctx->pos++];
		str[n++] = c;
		if (c == '\n')
			break;
	}
	str[n] = '\0';
	ctx->line_len += n;
	ctx->at_line_start = n > 0 && str[n - 1] == '\n';
	if (!ctx->too_long_line) {
		/* the line's length without its "\r\n" */
		size_t content = ctx->line_len;

		if (ctx->at_line_start)
			content -= n > 1 && str[n - 2] == '\r' ? 2 : 1;
		/* too long, or inih could not take it in one read */
		if (content > INI_LINE_MAX || (!ctx->at_line_start && ctx->pos < ctx->len))
			ctx->too_long_line = ctx->line;
	}
	return str;
}

static int conf_ini_handler(void *user, const char *section, const char *name,
		       const char *value)
{
	struct ini_ctx *ctx = user;
	char key[512], origin[ORIGIN_MAX];
	int rc;

	if (ctx->rc)
		return 0;
	snprintf(origin, sizeof(origin), "%s:%d", ctx->path, ctx->line);
	if (ctx->too_long_line) {
		ctx->rc = deconf_err_set(ctx->errstr, ctx->errstr_size, DECONF_E_CONFIG,
					 "%s:%d: line too long (more than %d bytes)",
					 ctx->path, ctx->too_long_line, INI_LINE_MAX);
		return 0;
	}
	if ((size_t)snprintf(key, sizeof(key), "%s%s%s", section, *section ? "." : "",
			     name) >= sizeof(key)) {
		ctx->rc = deconf_err_set(ctx->errstr, ctx->errstr_size, DECONF_E_CONFIG,
					 "%s: key too long", origin);
		return 0;
	}
	if ((rc = deconf_conf_set(ctx->conf, key, value, origin, ctx->errstr,
				  ctx->errstr_size))) {
		ctx->rc = rc;
		return 0;
	}
	return 1;
}

int deconf_conf_load_file(struct deconf_conf *conf, const char *path, char *errstr,
			  size_t errstr_size)
{
	struct ini_ctx ctx = { .conf = conf, .path = path, .at_line_start = true,
			       .errstr = errstr, .errstr_size = errstr_size };
	char *data = NULL;
	size_t len;
	int rc;

	/* A config file is small; 1 MiB is far more than any real one. */
	if ((rc = deconf_file_read(path, 1 << 20, 0, &data, &len, errstr, errstr_size)))
		return rc;
	ctx.data = data;
	ctx.len = len;
	/* Debian's inih takes its limits at run time: read lines from the heap,
	 * up to INI_LINE_MAX, and stop at the first error. The first read must
	 * already take a whole line (+3 for "\r\n\0"): ini_read() takes a read
	 * that ends before the newline for a line that is too long, and inih
	 * would otherwise read any line over its 200-byte initial buffer in
	 * pieces. */
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = INI_LINE_MAX + 3;
	ini_initial_alloc = INI_LINE_MAX + 3;
	ini_stop_on_first_error = true;
	/* No Python-style continuation lines: with them an indented
	 * "agency = x" after "name = y" silently sets name to "agency = x". */
	ini_allow_multiline = false;
	/* Comments only on their own line: a value (a key password, say) may
	 * contain " ;". */
	ini_allow_inline_comments = false;
	rc = ini_parse_stream(ini_read, &ctx, conf_ini_handler, &ctx);
	free(data);
	if (ctx.rc)
		return ctx.rc;
	if (ctx.too_long_line)
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s:%d: line too long (more than %d bytes)", path,
				      ctx.too_long_line, INI_LINE_MAX);
	if (rc > 0)
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s:%d: syntax error (expected [section] or "
				      "key = value)",
				      path, rc);
	if (rc < 0)
		return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM,
				      "%s: out of memory while parsing", path);
	return DECONF_OK;
}

/* ------------------------------------------------------ env, command line */

int deconf_conf_load_env(struct deconf_conf *conf, char *const *envp, char *errstr,
			 size_t errstr_size)
{
	for (; envp && *envp; envp++) {
		const char *var = *envp, *eq = strchr(var, '=');
		char name[512], origin[ORIGIN_MAX];
		size_t vl, j;
		bool kafka;
		int rc;

		if (!eq || strncmp(var, ENV_PREFIX, strlen(ENV_PREFIX)))
			continue;
		vl = (size_t)(eq - var) - strlen(ENV_PREFIX);
		if (vl == 0 || vl >= sizeof(name))
			continue;
		for (j = 0; j < vl; j++)
			name[j] = (char)tolower((unsigned char)var[strlen(ENV_PREFIX) + j]);
		name[vl] = '\0';
		kafka = !strncmp(name, "kafka_", 6);
		/* DECONF_SECTION_KEY: the first '_' separates section and key (keys
		 * keep their own underscores); Kafka property names use dots. */
		for (j = 0; j < vl; j++) {
			if (name[j] == '_') {
				name[j] = '.';
				if (!kafka)
					break;
			}
		}
		size_t idx;
		if (!kafka && !find_def(conf, name, &idx))
			continue; /* DECONF_* variables of other programs or tools */
		snprintf(origin, sizeof(origin), "environment %.*s", (int)(eq - var), var);
		if ((rc = deconf_conf_set(conf, name, eq + 1, origin, errstr, errstr_size)))
			return rc;
	}
	return DECONF_OK;
}

int deconf_conf_set_arg(struct deconf_conf *conf, const char *assignment,
			char *errstr, size_t errstr_size)
{
	const char *eq = strchr(assignment, '=');
	char name[512];
	size_t nl;

	if (!eq || eq == assignment)
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "command line: '%s' is not key=value", assignment);
	nl = (size_t)(eq - assignment);
	if (nl >= sizeof(name))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "command line: key too long");
	memcpy(name, assignment, nl);
	name[nl] = '\0';
	return deconf_conf_set(conf, name, eq + 1, "command line", errstr, errstr_size);
}

int deconf_conf_load(struct deconf_conf *conf, const char *path, char *const *envp,
		     char *const *sets, size_t n_sets, char *errstr, size_t errstr_size)
{
	int rc = DECONF_OK;

	if (path)
		rc = deconf_conf_load_file(conf, path, errstr, errstr_size);
	if (!rc)
		rc = deconf_conf_load_env(conf, envp, errstr, errstr_size);
	for (size_t i = 0; !rc && i < n_sets; i++)
		rc = deconf_conf_set_arg(conf, sets[i], errstr, errstr_size);
	if (!rc)
		rc = deconf_conf_check(conf, errstr, errstr_size);
	if (rc && rc != DECONF_E_NOMEM)
		rc = DECONF_E_CONFIG;
	return rc;
}

int deconf_conf_check(const struct deconf_conf *conf, char *errstr, size_t errstr_size)
{
	for (size_t i = 0; i < conf->n; i++)
		if ((conf->table[i].flags & DECONF_CONF_REQUIRED) && !conf->values[i].set)
			return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
					      "%s: required key is not set (%s)",
					      conf->table[i].name, conf->table[i].doc);
	return DECONF_OK;
}

/* ---------------------------------------------------------------- getters */

static const struct conf_value *must_find(const struct deconf_conf *conf,
					  const char *name)
{
	size_t idx;

	if (!find_def(conf, name, &idx)) {
		fprintf(stderr, "deconf: internal error: config key '%s' not in table\n",
			name);
		abort();
	}
	return &conf->values[idx];
}

const char *deconf_conf_get_str(const struct deconf_conf *conf, const char *name)
{
	return must_find(conf, name)->str;
}

int64_t deconf_conf_get_int(const struct deconf_conf *conf, const char *name)
{
	return must_find(conf, name)->num;
}

int deconf_conf_is_set(const struct deconf_conf *conf, const char *name)
{
	return must_find(conf, name)->str != NULL;
}

const char *deconf_conf_origin(const struct deconf_conf *conf, const char *name)
{
	size_t idx;

	if (!strncmp(name, KAFKA_PREFIX, strlen(KAFKA_PREFIX))) {
		for (size_t i = 0; i < conf->kafka_n; i++)
			if (!strcmp(conf->kafka[i].name, name + strlen(KAFKA_PREFIX)))
				return conf->kafka[i].origin;
		return NULL;
	}
	if (!find_def(conf, name, &idx))
		return NULL;
	return conf->values[idx].origin;
}

size_t deconf_conf_kafka_count(const struct deconf_conf *conf)
{
	return conf->kafka_n;
}

void deconf_conf_kafka_get(const struct deconf_conf *conf, size_t i, const char **name,
			   const char **value, const char **origin)
{
	*name = conf->kafka[i].name;
	*value = conf->kafka[i].value;
	if (origin)
		*origin = conf->kafka[i].origin;
}

void deconf_conf_print_help(const struct deconf_conf_def *table, size_t n, FILE *out)
{
	fprintf(out, "%-32s %-9s %-14s %s\n", "KEY", "TYPE", "DEFAULT", "DESCRIPTION");
	for (size_t i = 0; i < n; i++) {
		const struct deconf_conf_def *d = &table[i];
		char env[128], *e = env;

		fprintf(out, "%-32s %-9s %-14s %s%s\n", d->name, type_name(d->type),
			d->def ? (*d->def ? d->def : "\"\"") : "-", d->doc,
			(d->flags & DECONF_CONF_REQUIRED) ? " (required)" : "");
		if (d->type == DECONF_CONF_ENUM)
			fprintf(out, "%-57s one of: %s\n", "", d->choices);
		else if (d->type == DECONF_CONF_INT || d->type == DECONF_CONF_DURATION ||
			 d->type == DECONF_CONF_SIZE)
			fprintf(out, "%-57s range: %" PRId64 "..%" PRId64 "%s\n", "", d->min,
				d->max,
				d->type == DECONF_CONF_DURATION ? " ms"
				: d->type == DECONF_CONF_SIZE	? " bytes"
								: "");
		e += snprintf(env, sizeof(env), "DECONF_");
		for (const char *p = d->name; *p && e < env + sizeof(env) - 1; p++)
			*e++ = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
		*e = '\0';
		fprintf(out, "%-57s env: %s\n", "", env);
	}
	fprintf(out, "\n%-32s %-9s %-14s %s\n", "kafka.*", "string", "-",
		"passed to librdkafka unchanged (e.g. kafka.bootstrap.servers); "
		"env DECONF_KAFKA_BOOTSTRAP_SERVERS");
}
