/* cmd-households.c: households, household show/add/edit/remove,
 * opt-out and opt-in.
 *
 * `households` without --limit follows the API's keyset paging (next_after)
 * to the end, so scripts get every household in one JSON object
 * {"households":[...]}; with --limit it sends one request and prints the
 * answer as it came.
 */
#include <inttypes.h>

#include "cli.h"

#define PAGE_SIZE 1000            /* the API's maximum limit */

static int oom(void)
{
	return cli_fail(CLI_EXIT_ERROR, "out of memory");
}

/* ---- printing ---- */

static const struct {
	const char *key, *label;
	bool time;
} household_labels[] = {
	{ "id", "id:", false },
	{ "group", "group:", false },
	{ "name", "name:", false },
	{ "phones", "phones:", false },
	{ "address", "address:", false },
	{ "zalo_user_id", "zalo id:", false },
	{ "messenger_psid", "messenger psid:", false },
	{ "note", "note:", false },
	{ "opted_out", "opted out:", false },
	{ "created_ms", "created:", true },
	{ "updated_ms", "updated:", true },
};

/* One household as "label:  value" lines: the known fields in a fixed
 * order, then any field this version does not know, as-is. */
static int print_household(const json_t *h)
{
	_cleanup_table_ struct out_table *t = out_table_new(2, NULL);
	const char *key;
	json_t *v;
	size_t i;

	if (!t)
		return oom();
	for (i = 0; i < ARRAY_SIZE(household_labels); i++) {
		_cleanup_free_ char *value = NULL;

		v = json_object_get(h, household_labels[i].key);
		if (!v && household_labels[i].time)
			continue;
		value = household_labels[i].time ? out_time_ms(v, "-")
						 : out_value(v, "-");
		if (!value || out_table_add(t, (const char *[]){
				household_labels[i].label, value }) < 0)
			return oom();
	}
	json_object_foreach((json_t *)h, key, v) {
		_cleanup_free_ char *label = NULL, *value = NULL;
		bool known = false;

		for (i = 0; i < ARRAY_SIZE(household_labels); i++)
			known = known || streq(key, household_labels[i].key);
		if (known)
			continue;
		if (asprintf(&label, "%s:", key) < 0)
			label = NULL;
		value = out_value(v, "-");
		if (!label || !value ||
		    out_table_add(t, (const char *[]){ label, value }) < 0)
			return oom();
	}
	out_table_print(t, stdout);
	return CLI_EXIT_OK;
}

static int print_households(const json_t *list)
{
	static const char *const headers[] = {
		"ID", "GROUP", "NAME", "PHONES", "ADDRESS",
	};
	_cleanup_table_ struct out_table *t = NULL;
	const json_t *h;
	size_t i;

	t = out_table_new(ARRAY_SIZE(headers), headers);
	if (!t)
		return oom();
	out_table_align_right(t, 0);
	json_array_foreach(list, i, h) {
		_cleanup_free_ char *id = NULL, *group = NULL, *name = NULL,
				    *phones = NULL, *address = NULL,
				    *marked = NULL;

		id = out_value(json_object_get(h, "id"), "?");
		group = out_value(json_object_get(h, "group"), "");
		name = out_value(json_object_get(h, "name"), "");
		phones = out_value(json_object_get(h, "phones"), "");
		address = out_value(json_object_get(h, "address"), "");
		if (!id || !group || !name || !phones || !address)
			return oom();
		if (json_is_true(json_object_get(h, "opted_out")) &&
		    asprintf(&marked, "%s [opted out]", name) < 0) {
			marked = NULL;  /* undefined after a failure */
			return oom();
		}
		if (out_table_add(t, (const char *[]){
				id, group, marked ? marked : name, phones,
				address }) < 0)
			return oom();
	}
	if (out_table_rows(t) == 0) {
		fprintf(stderr, "No households found.\n");
		return CLI_EXIT_OK;
	}
	out_table_print(t, stdout);
	return CLI_EXIT_OK;
}

/* ---- households ---- */

static int list_path(struct cli *c, const struct cli_args *a, int64_t limit,
		     struct sbuf *path)
{
	const char *group = cli_args_get(a, OPT_GROUP);
	const char *q = cli_args_get(a, OPT_SEARCH);
	int r = 0;

	if (sbuf_printf(path, "/v1/households?limit=%" PRId64, limit) < 0)
		return oom();
	if (group)
		r = client_query_add(c, path, "group", group);
	if (!r && q)
		r = client_query_add(c, path, "q", q);
	if (!r && cli_args_get(a, OPT_OPTED_OUT))
		r = client_query_add(c, path, "opted_out", "1");
	if (!r && cli_args_get(a, OPT_ACTIVE))
		r = client_query_add(c, path, "opted_out", "0");
	return r;
}

int cmd_households(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(64 * 1024);
	int64_t limit;
	int r;

	if (cli_args_get(a, OPT_OPTED_OUT) && cli_args_get(a, OPT_ACTIVE))
		return cli_usage(c, "--opted-out and --active exclude each "
				 "other");
	r = cli_parse_limit(c, a, PAGE_SIZE, &limit);
	if (r)
		return r;
	r = list_path(c, a, limit ? limit : PAGE_SIZE, &path);
	if (r)
		return r;
	return client_show_list(c, sbuf_str(&path), "households",
				CLIENT_AFTER_ID, limit > 0, print_households);
}

/* ---- one household ---- */

static int household_path(struct cli *c, const char *id_arg,
			  const char *suffix, struct sbuf *path)
{
	return client_id_path(c, id_arg, "household", suffix, path);
}

int cmd_household_show(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(1024);
	_cleanup_json_ json_t *root = NULL;
	int r;

	r = household_path(c, a->pos[0], "", &path);
	if (r)
		return r;
	r = client_call(c, "GET", sbuf_str(&path), NULL, &root);
	if (r)
		return r;
	if (c->json)
		return cli_print_json(root);
	return print_household(root);
}

/* The fields shared by add and edit, from the options. */
static int household_body(const struct cli *c, const struct cli_args *a,
			  json_t *body)
{
	static const struct {
		enum cli_opt opt;
		const char *key, *option;
	} fields[] = {
		{ OPT_GROUP, "group", "--group" },
		{ OPT_NAME, "name", "--name" },
		{ OPT_ADDRESS, "address", "--address" },
		{ OPT_ZALO_ID, "zalo_user_id", "--zalo-id" },
		{ OPT_PSID, "messenger_psid", "--psid" },
		{ OPT_NOTE, "note", "--note" },
	};
	size_t i;
	int r;

	for (i = 0; i < ARRAY_SIZE(fields); i++) {
		r = cli_set_string(c, body, fields[i].key,
				   cli_args_get(a, fields[i].opt),
				   fields[i].option);
		if (r)
			return r;
	}
	if (cli_args_count(a, OPT_PHONE) == 0)
		return 0;
	return cli_set_list(c, a, body, "phones", OPT_PHONE, "--phone");
}

int cmd_household_add(struct cli *c, const struct cli_args *a)
{
	_cleanup_json_ json_t *body = NULL, *root = NULL;
	int r;

	if (!cli_args_get(a, OPT_GROUP))
		return cli_usage(c, "missing --group G");
	if (!cli_args_get(a, OPT_NAME))
		return cli_usage(c, "missing --name NAME");
	if (!cli_args_get(a, OPT_PHONE))
		return cli_usage(c, "missing --phone P");
	body = json_object();
	if (!body)
		return oom();
	r = household_body(c, a, body);
	if (r)
		return r;
	r = client_call(c, "POST", "/v1/households", body, &root);
	if (r)
		return r;
	if (c->json)
		return cli_print_json(root);
	return print_household(root);
}

/* --clear FIELD: the option's spelling, or the API's. */
static const char *clear_key(const char *field)
{
	static const char *const map[][2] = {
		{ "address", "address" },
		{ "note", "note" },
		{ "zalo-id", "zalo_user_id" },
		{ "zalo_id", "zalo_user_id" },
		{ "zalo_user_id", "zalo_user_id" },
		{ "psid", "messenger_psid" },
		{ "messenger_psid", "messenger_psid" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(map); i++)
		if (strcasecmp(field, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

int cmd_household_edit(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(1024);
	_cleanup_json_ json_t *body = NULL, *root = NULL;
	size_t i;
	int r;

	r = household_path(c, a->pos[0], "", &path);
	if (r)
		return r;
	body = json_object();
	if (!body)
		return oom();
	r = household_body(c, a, body);
	if (r)
		return r;
	for (i = 0; i < a->nopts; i++) {
		const char *key;

		if (a->opts[i].id != OPT_CLEAR)
			continue;
		key = clear_key(a->opts[i].value);
		if (!key)
			return cli_usage(c, "cannot clear '%s' (only "
					 "address, note, zalo-id or psid)",
					 a->opts[i].value);
		if (json_object_get(body, key) &&
		    !json_is_null(json_object_get(body, key)))
			return cli_usage(c, "--clear %s and a new value for "
					 "it exclude each other",
					 a->opts[i].value);
		if (json_object_set_new(body, key, json_null()) < 0)
			return oom();
	}
	if (json_object_size(body) == 0)
		return cli_usage(c, "nothing to change: give --name, "
				 "--group, --phone, --address, --zalo-id, "
				 "--psid, --note or --clear");
	r = client_call(c, "PATCH", sbuf_str(&path), body, &root);
	if (r)
		return r;
	if (c->json)
		return cli_print_json(root);
	return print_household(root);
}

int cmd_household_remove(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(1024);
	_cleanup_json_ json_t *root = NULL;
	int r;

	r = household_path(c, a->pos[0], "", &path);
	if (r)
		return r;
	r = client_call(c, "DELETE", sbuf_str(&path), NULL, &root);
	if (r)
		return r;
	if (c->json)
		return root ? cli_print_json(root) : CLI_EXIT_OK;
	printf("removed household %s\n", a->pos[0]);
	return CLI_EXIT_OK;
}

static int opt(struct cli *c, const struct cli_args *a, bool out)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(1024);
	_cleanup_json_ json_t *root = NULL;
	_cleanup_free_ char *id = NULL, *name = NULL;
	int r;

	r = household_path(c, a->pos[0], out ? "/opt-out" : "/opt-in", &path);
	if (r)
		return r;
	r = client_call(c, "POST", sbuf_str(&path), NULL, &root);
	if (r)
		return r;
	if (c->json)
		return cli_print_json(root);
	id = out_value(json_object_get(root, "id"), a->pos[0]);
	name = out_value(json_object_get(root, "name"), "?");
	if (!id || !name)
		return oom();
	fputs("household ", stdout);
	out_put_clean(stdout, id);
	fputs(" (", stdout);
	out_put_clean(stdout, name);
	fputs(out ? ") opted out: it gets no more messages\n"
		  : ") opted in: it gets messages again\n", stdout);
	return CLI_EXIT_OK;
}

int cmd_opt_out(struct cli *c, const struct cli_args *a)
{
	return opt(c, a, true);
}

int cmd_opt_in(struct cli *c, const struct cli_args *a)
{
	return opt(c, a, false);
}
