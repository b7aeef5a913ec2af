/* cmd-history.c: history (what a household was sent, and what it
 * answered) and replies (the households' feedback and RSVPs).
 *
 * Both follow the API's keyset paging (next_after) to the end unless
 * --limit asks for one page: `history` with an opaque text key (newest
 * first), `replies` with a reply id (oldest first). In --json mode the
 * whole list comes out as one object, like the other lists.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

#define PAGE_SIZE 1000            /* the API's maximum limit */
#define TEXT_WIDTH 48             /* columns of a title or reply text */

static int oom(void)
{
	return cli_fail(CLI_EXIT_ERROR, "out of memory");
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* A cleaned, cut copy of o[key] (a string), or NULL when out of memory. */
static char *cut_text(const json_t *o, const char *key)
{
	_cleanup_free_ char *clean = out_clean(jstr(o, key));

	if (!clean)
		return NULL;
	if (!*clean)
		return strdup("");
	return out_truncate(clean, TEXT_WIDTH);
}

/* ---- history ---- */

static int history_row(struct out_table *t, const json_t *e)
{
	_cleanup_free_ char *when = NULL, *bcast = NULL, *what = NULL,
			    *status = NULL, *channel = NULL, *text = NULL;
	bool reply = strcmp(jstr(e, "type"), "reply") == 0;
	const char *cells[6];

	bcast = out_value(json_object_get(e, "broadcast_id"), "");
	text = cut_text(e, reply ? "text" : "title");
	if (reply) {
		const char *rsvp = jstr(e, "rsvp");

		when = out_time_ms(json_object_get(e, "received_ms"), "");
		what = strdup("reply");
		status = strdup(*rsvp ? rsvp : "");
		if (status && *rsvp) {
			free(status);
			if (asprintf(&status, "rsvp %s", rsvp) < 0)
				status = NULL;
		}
		channel = strdup(jstr(e, "provider"));
	} else {
		const json_t *sent = json_object_get(e, "sent_ms");
		const char *code = jstr(e, "code");
		int64_t wave = json_integer_value(json_object_get(e, "wave"));

		when = out_time_ms(json_is_integer(sent) ? sent :
				   json_object_get(e, "at_ms"), "");
		if (wave > 0) {
			if (asprintf(&what, "%s, reminder %" PRId64,
				     jstr(e, "kind"), wave) < 0)
				what = NULL;
		} else {
			what = strdup(jstr(e, "kind"));
		}
		if (*code && strcmp(code, jstr(e, "status")) != 0) {
			if (asprintf(&status, "%s (%s)", jstr(e, "status"),
				     code) < 0)
				status = NULL;
		} else {
			status = strdup(jstr(e, "status"));
		}
		channel = strdup(jstr(e, "channel"));
	}
	if (!when || !bcast || !what || !status || !channel || !text)
		return oom();
	cells[0] = when;
	cells[1] = bcast;
	cells[2] = what;
	cells[3] = status;
	cells[4] = channel;
	cells[5] = text;
	return out_table_add(t, cells) < 0 ? oom() : 0;
}

static int print_history(const json_t *household, const json_t *list)
{
	static const char *const headers[] = {
		"TIME", "BCAST", "WHAT", "STATUS", "CHANNEL", "TEXT",
	};
	_cleanup_table_ struct out_table *t = NULL;
	const json_t *e;
	size_t i;
	int r;

	if (json_is_object(household)) {
		_cleanup_free_ char *name = out_clean(jstr(household, "name"));
		_cleanup_free_ char *group = out_clean(jstr(household,
							    "group"));

		if (!name || !group)
			return oom();
		printf("Household %" PRId64 ": %s (%s)\n",
		       (int64_t)json_integer_value(json_object_get(household,
								   "id")),
		       name, group);
	} else {
		printf("Household removed; what it was sent is kept.\n");
	}
	t = out_table_new(ARRAY_SIZE(headers), headers);
	if (!t)
		return oom();
	out_table_align_right(t, 1);
	json_array_foreach(list, i, e) {
		r = history_row(t, e);
		if (r)
			return r;
	}
	if (out_table_rows(t) == 0) {
		printf("Nothing sent to it, no replies.\n");
		return CLI_EXIT_OK;
	}
	out_table_print(t, stdout);
	return CLI_EXIT_OK;
}

int cmd_history(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(64 * 1024);
	_cleanup_json_ json_t *all = NULL, *last = NULL;
	const json_t *household;
	bool more = false;
	int64_t id, limit;
	int r;

	r = cli_parse_id(c, a->pos[0], &id);
	if (r)
		return r;
	r = cli_parse_limit(c, a, PAGE_SIZE, &limit);
	if (r)
		return r;
	if (sbuf_printf(&path, "/v1/households/%" PRId64
			"/history?limit=%" PRId64, id,
			limit ? limit : PAGE_SIZE) < 0)
		return oom();
	/* Newest first, by an opaque text key. */
	if (limit)
		r = client_get_page(c, sbuf_str(&path), "entries",
				    CLIENT_AFTER_KEY, &last, &more);
	else
		r = client_get_all(c, sbuf_str(&path), "entries",
				   CLIENT_AFTER_KEY, &all, &last);
	if (r)
		return r;
	household = json_object_get(last, "household");
	if (limit) {
		if (c->json)
			return cli_print_json(last);
		r = print_history(household, json_object_get(last, "entries"));
		if (r == 0 && more)
			client_more_hint("entries");
		return r;
	}
	if (c->json) {
		_cleanup_json_ json_t *out = json_pack(
			"{s:I,s:O,s:O}", "household_id",
			json_integer_value(json_object_get(last,
							   "household_id")),
			"household", household ? household : json_null(),
			"entries", all);

		if (!out)
			return oom();
		return cli_print_json(out);
	}
	return print_history(household, all);
}

/* ---- replies ---- */

static int print_replies(const json_t *list)
{
	static const char *const headers[] = {
		"ID", "TIME", "HOUSEHOLD", "NAME", "GROUP", "RSVP", "BCAST",
		"TEXT",
	};
	_cleanup_table_ struct out_table *t = NULL;
	const json_t *e;
	size_t i;

	t = out_table_new(ARRAY_SIZE(headers), headers);
	if (!t)
		return oom();
	out_table_align_right(t, 0);
	out_table_align_right(t, 2);
	out_table_align_right(t, 6);
	json_array_foreach(list, i, e) {
		_cleanup_free_ char *id = NULL, *when = NULL, *hh = NULL,
				    *name = NULL, *group = NULL, *rsvp = NULL,
				    *bcast = NULL, *text = NULL;
		const char *cells[ARRAY_SIZE(headers)];

		id = out_value(json_object_get(e, "id"), "?");
		when = out_time_ms(json_object_get(e, "received_ms"), "");
		hh = out_value(json_object_get(e, "household_id"), "-");
		name = json_is_string(json_object_get(e, "name")) ?
			       out_value(json_object_get(e, "name"), "") :
			       out_value(json_object_get(e, "sender"), "");
		group = out_value(json_object_get(e, "group"), "");
		rsvp = out_value(json_object_get(e, "rsvp"), "");
		bcast = out_value(json_object_get(e, "broadcast_id"), "");
		text = cut_text(e, "text");
		if (!id || !when || !hh || !name || !group || !rsvp ||
		    !bcast || !text)
			return oom();
		cells[0] = id;
		cells[1] = when;
		cells[2] = hh;
		cells[3] = name;
		cells[4] = group;
		cells[5] = rsvp;
		cells[6] = bcast;
		cells[7] = text;
		if (out_table_add(t, cells) < 0)
			return oom();
	}
	if (out_table_rows(t) == 0) {
		fprintf(stderr, "No replies found.\n");
		return CLI_EXIT_OK;
	}
	out_table_print(t, stdout);
	return CLI_EXIT_OK;
}

int cmd_replies(struct cli *c, const struct cli_args *a)
{
	_cleanup_sbuf_ struct sbuf path = SBUF_INIT(64 * 1024);
	const char *bcast = cli_args_get(a, OPT_BROADCAST);
	const char *rsvp = cli_args_get(a, OPT_RSVP);
	const char *group = cli_args_get(a, OPT_GROUP);
	int64_t limit, bid;
	int r;

	if (bcast) {
		r = broadcast_parse_id(c, bcast, &bid);
		if (r)
			return r;
	}
	if (rsvp && strcmp(rsvp, "yes") != 0 && strcmp(rsvp, "no") != 0 &&
	    strcmp(rsvp, "none") != 0)
		return cli_usage(c, "--rsvp must be yes, no or none (got "
				 "'%s')", rsvp);
	r = cli_parse_limit(c, a, PAGE_SIZE, &limit);
	if (r)
		return r;
	if (sbuf_printf(&path, "/v1/replies?limit=%" PRId64,
			limit ? limit : PAGE_SIZE) < 0)
		return oom();
	r = 0;
	if (bcast)
		r = client_query_add(c, &path, "broadcast", bcast);
	if (!r && group)
		r = client_query_add(c, &path, "group", group);
	if (!r && rsvp)
		r = client_query_add(c, &path, "rsvp", rsvp);
	if (r)
		return r;
	return client_show_list(c, sbuf_str(&path), "replies",
				CLIENT_AFTER_ID, limit > 0, print_replies);
}
