/* cmd-groups.c: groups, group show/add/rename/remove.
 *
 * A GROUP argument is passed to loaxad as typed: it accepts the code or the
 * display name, any case, with or without Vietnamese accents.
 */
#include "cli.h"

static int oom(void)
{
	return cli_fail(CLI_EXIT_ERROR, "out of memory");
}

/* "/v1/groups/<escaped group>" */
static int group_path(struct cli *c, struct sbuf *path, const char *group)
{
	if (sbuf_printf(path, "/v1/groups") < 0)
		return oom();
	return client_path_add(c, path, group);
}

/* A JSON string member of an answer, or fallback. */
static const char *member(const json_t *o, const char *key,
			  const char *fallback)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : fallback;
}

static void put_clean(const char *s)
{
	_cleanup_free_ char *clean = out_clean(s);

	fputs(clean ? clean : "?", stdout);
}

int cmd_groups(struct cli *c, _unused_ const struct cli_args *a)
{
	static const char *const headers[] = {
		"CODE", "NAME", "HOUSEHOLDS", "SOURCE",
	};
	_cleanup_json_ json_t *root = NULL;
	_cleanup_table_ struct out_table *t = NULL;
	const json_t *groups, *g;
	size_t i;
	int r;

	r = client_call(c, "GET", "/v1/groups", NULL, &root);
	if (r)
		return r;
	groups = json_object_get(root, "groups");
	if (!json_is_array(groups))
		return client_unexpected(200, "no \"groups\" list");
	if (c->json)
		return cli_print_json(root);

	t = out_table_new(ARRAY_SIZE(headers), headers);
	if (!t)
		return oom();
	out_table_align_right(t, 2);
	json_array_foreach(groups, i, g) {
		_cleanup_free_ char *code = NULL, *name = NULL, *n = NULL;

		code = out_value(json_object_get(g, "code"), "?");
		name = out_value(json_object_get(g, "name"), "");
		n = out_value(json_object_get(g, "households"), "?");
		if (!code || !name || !n)
			return oom();
		if (out_table_add(t, (const char *[]){
				code, name, n,
				json_is_true(json_object_get(g, "from_config"))
					? "config" : "" }) < 0)
			return oom();
	}
	if (out_table_rows(t) == 0) {
		fprintf(stderr, "No groups yet: add one with 'loaxa group add "
				"CODE NAME' or in [groups] of loaxa.ini.\n");
		return CLI_EXIT_OK;
	}
	out_table_print(t, stdout);
	return CLI_EXIT_OK;
}

int cmd_group_show(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(64 * 1024);
	_cleanup_json_ json_t *root = NULL;
	_cleanup_table_ struct out_table *t = NULL;
	_cleanup_free_ char *code = NULL, *name = NULL, *n = NULL;
	const char *managed;
	int r;

	r = group_path(c, &path, a->pos[0]);
	if (r)
		return r;
	r = client_call(c, "GET", sbuf_str(&path), NULL, &root);
	if (r)
		return r;
	if (c->json)
		return cli_print_json(root);

	code = out_value(json_object_get(root, "code"), "-");
	name = out_value(json_object_get(root, "name"), "-");
	n = out_value(json_object_get(root, "households"), "-");
	managed = json_is_true(json_object_get(root, "from_config"))
			  ? "loaxa.ini [groups]" : "loaxa (the API)";
	t = out_table_new(2, NULL);
	if (!code || !name || !n || !t ||
	    out_table_add(t, (const char *[]){ "code:", code }) < 0 ||
	    out_table_add(t, (const char *[]){ "name:", name }) < 0 ||
	    out_table_add(t, (const char *[]){ "households:", n }) < 0 ||
	    out_table_add(t, (const char *[]){ "managed in:", managed }) < 0)
		return oom();
	out_table_print(t, stdout);
	return CLI_EXIT_OK;
}

static void hint_in_config(const struct cli *c)
{
	if (streq(c->error_code, "group_in_config"))
		fprintf(stderr, "loaxa: hint: change [groups] in loaxa.ini "
				"and reload loaxad instead\n");
}

int cmd_group_add(struct cli *c, const struct cli_args *a)
{
	_cleanup_json_ json_t *body = NULL, *root = NULL;
	int r;

	body = json_pack("{s:s, s:s}", "code", a->pos[0], "name", a->pos[1]);
	if (!body)
		return cli_usage(c, "CODE and NAME must be valid UTF-8");
	r = client_call(c, "POST", "/v1/groups", body, &root);
	if (r)
		return r;
	if (c->json)
		return cli_print_json(root);
	fputs("created group ", stdout);
	put_clean(member(root, "code", a->pos[0]));
	fputs(" (", stdout);
	put_clean(member(root, "name", a->pos[1]));
	fputs(")\n", stdout);
	return CLI_EXIT_OK;
}

int cmd_group_rename(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(64 * 1024);
	_cleanup_json_ json_t *body = NULL, *root = NULL;
	int r;

	body = json_pack("{s:s}", "name", a->pos[1]);
	if (!body)
		return cli_usage(c, "NAME must be valid UTF-8");
	r = group_path(c, &path, a->pos[0]);
	if (r)
		return r;
	r = client_call(c, "PATCH", sbuf_str(&path), body, &root);
	if (r) {
		hint_in_config(c);
		return r;
	}
	if (c->json)
		return cli_print_json(root);
	fputs("group ", stdout);
	put_clean(member(root, "code", a->pos[0]));
	fputs(" is now named ", stdout);
	put_clean(member(root, "name", a->pos[1]));
	fputc('\n', stdout);
	return CLI_EXIT_OK;
}

int cmd_group_remove(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(64 * 1024);
	_cleanup_json_ json_t *root = NULL;
	bool force = cli_args_get(a, OPT_FORCE);
	int r;

	r = group_path(c, &path, a->pos[0]);
	if (r)
		return r;
	if (force && sbuf_printf(&path, "?force=1") < 0)
		return oom();
	r = client_call(c, "DELETE", sbuf_str(&path), NULL, &root);
	if (r) {
		if (streq(c->error_code, "group_not_empty") && !force)
			fprintf(stderr, "loaxa: hint: add --force to remove "
					"the group with its households\n");
		hint_in_config(c);
		return r;
	}
	if (c->json) {
		/* 204 has no body; print an answer only if there is one. */
		return root ? cli_print_json(root) : CLI_EXIT_OK;
	}
	fputs("removed group ", stdout);
	put_clean(a->pos[0]);
	fputs(force ? " and its households\n" : "\n", stdout);
	return CLI_EXIT_OK;
}
