/* loaxa.c: the command-line client of loaxad's control API.
 *
 *   loaxa [GLOBAL OPTIONS] COMMAND [ARGS]
 *
 * The commands are one table (words, arguments, the HTTP request it sends,
 * handler); help and the usage checks are generated from it. Global options
 * may stand before or after the command words. See loaxa(1).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/un.h>

#include "cli.h"

static const struct cli_command commands[] = {
	{
		.words = { "status" },
		.summary = "show loaxad's version, uptime and counts",
		.request = "GET /v1/status",
		.run = cmd_status,
	},
	{
		.words = { "groups" },
		.summary = "list the groups",
		.request = "GET /v1/groups",
		.run = cmd_groups,
	},
	{
		.words = { "group", "show" },
		.args = "GROUP",
		.synopsis = "GROUP",
		.summary = "show one group",
		.request = "GET /v1/groups/{group}",
		.min_pos = 1, .max_pos = 1,
		.run = cmd_group_show,
	},
	{
		.words = { "group", "add" },
		.args = "CODE NAME",
		.synopsis = "CODE NAME",
		.summary = "create a group",
		.request = "POST /v1/groups",
		.min_pos = 2, .max_pos = 2,
		.run = cmd_group_add,
	},
	{
		.words = { "group", "rename" },
		.args = "GROUP NAME",
		.synopsis = "GROUP NAME",
		.summary = "give a group a new display name",
		.request = "PATCH /v1/groups/{group}",
		.min_pos = 2, .max_pos = 2,
		.run = cmd_group_rename,
	},
	{
		.words = { "group", "remove" },
		.args = "GROUP",
		.synopsis = "GROUP [--force]",
		.summary = "remove an empty group (--force: and its "
			   "households)",
		.request = "DELETE /v1/groups/{group}[?force=1]",
		.min_pos = 1, .max_pos = 1,
		.opts = OPT(OPT_FORCE),
		.run = cmd_group_remove,
	},
	{
		.words = { "households" },
		.synopsis = "[--group G] [--search Q] [--opted-out | --active] "
			    "[--limit N]",
		.summary = "list households",
		.request = "GET /v1/households",
		.opts = OPT(OPT_GROUP) | OPT(OPT_SEARCH) | OPT(OPT_OPTED_OUT) |
			OPT(OPT_ACTIVE) | OPT(OPT_LIMIT),
		.run = cmd_households,
	},
	{
		.words = { "household", "show" },
		.args = "ID",
		.synopsis = "ID",
		.summary = "show one household",
		.request = "GET /v1/households/{id}",
		.min_pos = 1, .max_pos = 1,
		.run = cmd_household_show,
	},
	{
		.words = { "household", "add" },
		.synopsis = "--group G --name NAME --phone P [--phone P]... "
			    "[--address A] [--zalo-id ID] [--psid ID] "
			    "[--note N]",
		.summary = "add a household",
		.request = "POST /v1/households",
		.opts = OPT(OPT_GROUP) | OPT(OPT_NAME) | OPT(OPT_PHONE) |
			OPT(OPT_ADDRESS) | OPT(OPT_ZALO_ID) | OPT(OPT_PSID) |
			OPT(OPT_NOTE),
		.run = cmd_household_add,
	},
	{
		.words = { "household", "edit" },
		.args = "ID",
		.synopsis = "ID [--group G] [--name NAME] [--phone P]... "
			    "[--address A] [--zalo-id ID] [--psid ID] "
			    "[--note N] [--clear FIELD]...",
		.summary = "change a household",
		.request = "PATCH /v1/households/{id}",
		.min_pos = 1, .max_pos = 1,
		.opts = OPT(OPT_GROUP) | OPT(OPT_NAME) | OPT(OPT_PHONE) |
			OPT(OPT_ADDRESS) | OPT(OPT_ZALO_ID) | OPT(OPT_PSID) |
			OPT(OPT_NOTE) | OPT(OPT_CLEAR),
		.run = cmd_household_edit,
	},
	{
		.words = { "household", "remove" },
		.args = "ID",
		.synopsis = "ID",
		.summary = "remove a household",
		.request = "DELETE /v1/households/{id}",
		.min_pos = 1, .max_pos = 1,
		.run = cmd_household_remove,
	},
	{
		.words = { "opt-out" },
		.args = "ID",
		.synopsis = "ID",
		.summary = "send a household no more messages",
		.request = "POST /v1/households/{id}/opt-out",
		.min_pos = 1, .max_pos = 1,
		.run = cmd_opt_out,
	},
	{
		.words = { "opt-in" },
		.args = "ID",
		.synopsis = "ID",
		.summary = "send a household messages again",
		.request = "POST /v1/households/{id}/opt-in",
		.min_pos = 1, .max_pos = 1,
		.run = cmd_opt_in,
	},
	{
		.words = { "import" },
		.args = "FILE",
		.synopsis = "[--group G] [--dry-run] FILE",
		.summary = "add or update households from CSV ('-': stdin)",
		.request = "POST /v1/import[?group=G&dry_run=1]",
		.min_pos = 1, .max_pos = 1,
		.opts = OPT(OPT_GROUP) | OPT(OPT_DRY_RUN),
		.run = cmd_import,
	},
	{
		.words = { "backup" },
		.args = "FILE",
		.synopsis = "FILE",
		.summary = "write a consistent copy of the database to FILE",
		.request = "POST /v1/backup",
		.min_pos = 1, .max_pos = 1,
		.run = cmd_backup,
	},
	{
		.words = { "export" },
		.synopsis = "[--group G] [-o FILE]",
		.summary = "write households as CSV",
		.request = "GET /v1/export[?group=G]",
		.opts = OPT(OPT_GROUP) | OPT(OPT_OUTPUT),
		.run = cmd_export,
	},
	{
		.words = { "invite" },
		.synopsis = "--title T --at WHEN --place P [--agenda A] "
			    "(--group G [--group G]... | --all) "
			    "[--remind DUR]... [--send-at WHEN] [--urgent] "
			    "[--key KEY] [--yes] [--preview]",
		.summary = "invite households to a meeting",
		.request = "POST /v1/broadcasts/preview, then POST "
			   "/v1/broadcasts",
		.opts = OPT(OPT_TITLE) | OPT(OPT_AT) | OPT(OPT_PLACE) |
			OPT(OPT_AGENDA) | OPT(OPT_GROUP) | OPT(OPT_ALL) |
			OPT(OPT_REMIND) | OPT(OPT_SEND_AT) | OPT(OPT_URGENT) |
			OPT(OPT_KEY) | OPT(OPT_YES) | OPT(OPT_PREVIEW),
		.repeat = OPT(OPT_GROUP),
		.run = cmd_invite,
	},
	{
		.words = { "notify" },
		.synopsis = "--title T (--body B | --body-file FILE) "
			    "(--group G [--group G]... | --all) [--urgent] "
			    "[--send-at WHEN] [--expires WHEN] [--key KEY] "
			    "[--yes] [--preview]",
		.summary = "send households a notice",
		.request = "POST /v1/broadcasts/preview, then POST "
			   "/v1/broadcasts",
		.opts = OPT(OPT_TITLE) | OPT(OPT_BODY) | OPT(OPT_BODY_FILE) |
			OPT(OPT_GROUP) | OPT(OPT_ALL) | OPT(OPT_URGENT) |
			OPT(OPT_SEND_AT) | OPT(OPT_EXPIRES) | OPT(OPT_KEY) |
			OPT(OPT_YES) | OPT(OPT_PREVIEW),
		.repeat = OPT(OPT_GROUP),
		.run = cmd_notify,
	},
	{
		.words = { "broadcasts" },
		.synopsis = "[--state S] [--limit N]",
		.summary = "list broadcasts, newest first",
		.request = "GET /v1/broadcasts",
		.opts = OPT(OPT_STATE) | OPT(OPT_LIMIT),
		.run = cmd_broadcasts,
	},
	{
		.words = { "show" },
		.args = "ID",
		.synopsis = "ID",
		.summary = "show one broadcast and how far it got",
		.request = "GET /v1/broadcasts/{id}",
		.min_pos = 1, .max_pos = 1,
		.run = cmd_broadcast_show,
	},
	{
		.words = { "cancel" },
		.args = "ID",
		.synopsis = "ID",
		.summary = "cancel a broadcast: send nothing more",
		.request = "POST /v1/broadcasts/{id}/cancel",
		.min_pos = 1, .max_pos = 1,
		.run = cmd_broadcast_cancel,
	},
	{
		.words = { "pause" },
		.args = "ID",
		.synopsis = "ID",
		.summary = "pause a broadcast until resumed",
		.request = "POST /v1/broadcasts/{id}/pause",
		.min_pos = 1, .max_pos = 1,
		.run = cmd_broadcast_pause,
	},
	{
		.words = { "resume" },
		.args = "ID",
		.synopsis = "ID",
		.summary = "resume a paused broadcast",
		.request = "POST /v1/broadcasts/{id}/resume",
		.min_pos = 1, .max_pos = 1,
		.run = cmd_broadcast_resume,
	},
	{
		.words = { "retry" },
		.args = "ID",
		.synopsis = "ID",
		.summary = "send a broadcast's failed deliveries again",
		.request = "POST /v1/broadcasts/{id}/retry",
		.min_pos = 1, .max_pos = 1,
		.run = cmd_broadcast_retry,
	},
	{
		.words = { "deliveries" },
		.args = "ID",
		.synopsis = "ID [--status S] [--group G] [--channel C] "
			    "[--limit N]",
		.summary = "list a broadcast's deliveries",
		.request = "GET /v1/broadcasts/{id}/deliveries",
		.min_pos = 1, .max_pos = 1,
		.opts = OPT(OPT_STATUS) | OPT(OPT_GROUP) | OPT(OPT_CHANNEL) |
			OPT(OPT_LIMIT),
		.run = cmd_deliveries,
	},
	{
		.words = { "watch" },
		.args = "ID",
		.synopsis = "ID [--interval SECS]",
		.summary = "follow a broadcast's progress until it is sent",
		.request = "GET /v1/broadcasts/{id}, every interval",
		.min_pos = 1, .max_pos = 1,
		.opts = OPT(OPT_INTERVAL),
		.run = cmd_watch,
	},
	{
		.words = { "report" },
		.args = "ID",
		.synopsis = "ID [--status S | --not-reached] [--group G] "
			    "[--channel C] [--csv]",
		.summary = "list whom a broadcast reached or not, by group",
		.request = "GET /v1/broadcasts/{id}, /v1/groups, "
			   "/v1/broadcasts/{id}/deliveries",
		.min_pos = 1, .max_pos = 1,
		.opts = OPT(OPT_STATUS) | OPT(OPT_GROUP) | OPT(OPT_CHANNEL) |
			OPT(OPT_NOT_REACHED) | OPT(OPT_CSV),
		.run = cmd_report,
	},
	{
		.words = { "history" },
		.args = "HOUSEHOLD_ID",
		.synopsis = "HOUSEHOLD_ID [--limit N]",
		.summary = "list what a household was sent and its replies",
		.request = "GET /v1/households/{id}/history",
		.min_pos = 1, .max_pos = 1,
		.opts = OPT(OPT_LIMIT),
		.run = cmd_history,
	},
	{
		.words = { "replies" },
		.synopsis = "[--broadcast ID] [--group G] [--rsvp A] "
			    "[--limit N]",
		.summary = "list the households' replies and RSVPs",
		.request = "GET /v1/replies",
		.opts = OPT(OPT_BROADCAST) | OPT(OPT_GROUP) | OPT(OPT_RSVP) |
			OPT(OPT_LIMIT),
		.run = cmd_replies,
	},
	{
		.words = { "approve" },
		.args = "ID",
		.synopsis = "ID",
		.summary = "approve a broadcast awaiting approval: it is sent",
		.request = "POST /v1/broadcasts/{id}/approve",
		.min_pos = 1, .max_pos = 1,
		.run = cmd_approve,
	},
	{
		.words = { "reject" },
		.args = "ID",
		.synopsis = "ID [--reason TEXT]",
		.summary = "reject a broadcast awaiting approval: it is "
			   "cancelled",
		.request = "POST /v1/broadcasts/{id}/reject",
		.min_pos = 1, .max_pos = 1,
		.opts = OPT(OPT_REASON),
		.run = cmd_reject,
	},
	{
		.words = { "whoami" },
		.summary = "show whom loaxad takes you for: name, role, groups",
		.request = "GET /v1/me",
		.run = cmd_whoami,
	},
	{
		.words = { "user", "list" },
		.summary = "list the user accounts",
		.request = "GET /v1/users",
		.run = cmd_user_list,
	},
	{
		.words = { "user", "show" },
		.args = "NAME",
		.synopsis = "NAME",
		.summary = "show one user account",
		.request = "GET /v1/users/{name}",
		.min_pos = 1, .max_pos = 1,
		.run = cmd_user_show,
	},
	{
		.words = { "user", "add" },
		.args = "NAME",
		.synopsis = "NAME --role admin|official|manager "
			    "[--group CODE]... [--display-name TEXT] "
			    "[--unix-user LOGIN | --uid N] "
			    "[--password-stdin | --password-prompt]",
		.summary = "create a user account",
		.request = "POST /v1/users",
		.min_pos = 1, .max_pos = 1,
		.opts = OPT(OPT_ROLE) | OPT(OPT_USER_GROUP) |
			OPT(OPT_DISPLAY_NAME) | OPT(OPT_UNIX_USER) |
			OPT(OPT_UID) | OPT(OPT_PASSWORD_STDIN) |
			OPT(OPT_PASSWORD_PROMPT),
		.repeat = OPT(OPT_USER_GROUP),
		.run = cmd_user_add,
	},
	{
		.words = { "user", "set" },
		.args = "NAME",
		.synopsis = "NAME [--role R] [--group CODE]... "
			    "[--display-name TEXT] "
			    "[--unix-user LOGIN | --uid N | --no-unix-user]",
		.summary = "change a user's role, groups, name or unix user",
		.request = "PATCH /v1/users/{name}",
		.min_pos = 1, .max_pos = 1,
		.opts = OPT(OPT_ROLE) | OPT(OPT_USER_GROUP) |
			OPT(OPT_DISPLAY_NAME) | OPT(OPT_UNIX_USER) |
			OPT(OPT_UID) | OPT(OPT_NO_UNIX_USER),
		.repeat = OPT(OPT_USER_GROUP),
		.run = cmd_user_set,
	},
	{
		.words = { "user", "passwd" },
		.args = "NAME",
		.synopsis = "NAME [--password-stdin]",
		.summary = "set a user's password (your own: old one first)",
		.request = "PATCH /v1/users/{name}",
		.min_pos = 1, .max_pos = 1,
		.opts = OPT(OPT_PASSWORD_STDIN),
		.run = cmd_user_passwd,
	},
	{
		.words = { "user", "disable" },
		.args = "NAME",
		.synopsis = "NAME",
		.summary = "lock an account out; its tokens and sessions stop",
		.request = "PATCH /v1/users/{name}",
		.min_pos = 1, .max_pos = 1,
		.run = cmd_user_disable,
	},
	{
		.words = { "user", "enable" },
		.args = "NAME",
		.synopsis = "NAME",
		.summary = "let a disabled account in again",
		.request = "PATCH /v1/users/{name}",
		.min_pos = 1, .max_pos = 1,
		.run = cmd_user_enable,
	},
	{
		.words = { "user", "token" },
		.args = "NAME",
		.synopsis = "NAME [--label TEXT]",
		.summary = "create a personal API token (shown only once)",
		.request = "POST /v1/users/{name}/tokens",
		.min_pos = 1, .max_pos = 1,
		.opts = OPT(OPT_LABEL),
		.run = cmd_user_token,
	},
	{
		.words = { "user", "tokens" },
		.args = "NAME",
		.synopsis = "NAME",
		.summary = "list a user's API tokens",
		.request = "GET /v1/users/{name}/tokens",
		.min_pos = 1, .max_pos = 1,
		.run = cmd_user_tokens,
	},
	{
		.words = { "user", "revoke" },
		.args = "NAME ID",
		.synopsis = "NAME TOKEN_ID",
		.summary = "delete one of a user's API tokens",
		.request = "DELETE /v1/users/{name}/tokens/{id}",
		.min_pos = 2, .max_pos = 2,
		.run = cmd_user_revoke,
	},
	{
		.words = { "audit" },
		.synopsis = "[--limit N] [--all]",
		.summary = "list who changed what, newest first",
		.request = "GET /v1/audit",
		.opts = OPT(OPT_AUDIT_LIMIT) | OPT(OPT_AUDIT_ALL),
		.run = cmd_audit,
	},
	{
		.words = { "log" },
		.synopsis = "[--level LEVEL] [--debug SUBSYS[,SUBSYS]...]",
		.summary = "show or change loaxad's log level and debug "
			   "subsystems",
		.request = "GET /v1/log, or PUT /v1/log with --level or "
			   "--debug",
		.opts = OPT(OPT_LEVEL) | OPT(OPT_DEBUG),
		.repeat = OPT(OPT_DEBUG),
		.run = cmd_log,
	},
};

struct cli_option {
	const char *name;
	char short_name;
	const char *metavar;      /* NULL: a flag */
	bool repeat;
	const char *help;
};

static const struct cli_option cmd_options[_OPT_MAX] = {
	[OPT_GROUP] = { "group", 0, "G", false,
			"group code or name (case and accents optional)" },
	[OPT_SEARCH] = { "search", 0, "Q", false,
			 "only households whose name, address or phone "
			 "digits contain Q" },
	[OPT_OPTED_OUT] = { "opted-out", 0, NULL, false,
			    "only households that opted out" },
	[OPT_ACTIVE] = { "active", 0, NULL, false,
			 "only households that did not opt out" },
	[OPT_LIMIT] = { "limit", 0, "N", false,
			"at most N, one request (1..1000; broadcasts: "
			"1..200)" },
	[OPT_NAME] = { "name", 0, "NAME", false,
		       "name of the head of the household" },
	[OPT_PHONE] = { "phone", 0, "P", true,
			"mobile number; repeat for more (edit: replaces "
			"all)" },
	[OPT_ADDRESS] = { "address", 0, "A", false, "address" },
	[OPT_ZALO_ID] = { "zalo-id", 0, "ID", false, "Zalo user id" },
	[OPT_PSID] = { "psid", 0, "ID", false,
		       "Messenger page-scoped id" },
	[OPT_NOTE] = { "note", 0, "N", false, "free-text note" },
	[OPT_CLEAR] = { "clear", 0, "FIELD", true,
			"empty an optional field: address, note, zalo-id or "
			"psid" },
	[OPT_FORCE] = { "force", 0, NULL, false,
			"also remove the group's households" },
	[OPT_DRY_RUN] = { "dry-run", 0, NULL, false,
			  "check and count only, change nothing" },
	[OPT_OUTPUT] = { "output", 'o', "FILE", false,
			 "write to FILE instead of stdout" },
	[OPT_TITLE] = { "title", 0, "T", false, "title of the broadcast" },
	[OPT_AT] = { "at", 0, "WHEN", false,
		     "start of the meeting, e.g. '19:30 05/12/2026'" },
	[OPT_PLACE] = { "place", 0, "P", false, "where the meeting is" },
	[OPT_AGENDA] = { "agenda", 0, "A", false, "what the meeting is about" },
	[OPT_BODY] = { "body", 0, "B", false, "text of the notice" },
	[OPT_BODY_FILE] = { "body-file", 0, "FILE", false,
			    "read the text of the notice from FILE ('-': "
			    "stdin)" },
	[OPT_ALL] = { "all", 0, NULL, false, "send to every group" },
	[OPT_REMIND] = { "remind", 0, "DUR", true,
			 "remind DUR before the start, e.g. '1 day before'; "
			 "up to 4" },
	[OPT_SEND_AT] = { "send-at", 0, "WHEN", false,
			  "send the first wave at WHEN (default: now)" },
	[OPT_EXPIRES] = { "expires", 0, "WHEN", false,
			  "send nothing after WHEN (default: 24 h after "
			  "sending)" },
	[OPT_URGENT] = { "urgent", 0, NULL, false,
			 "urgent: send at once, even in the quiet hours" },
	[OPT_KEY] = { "key", 0, "KEY", false,
		      "idempotency key (default: random): one broadcast per "
		      "KEY" },
	[OPT_YES] = { "yes", 'y', NULL, false,
		      "send even when the SMS needs many segments" },
	[OPT_PREVIEW] = { "preview", 0, NULL, false,
			  "show the messages a household would get, create "
			  "nothing" },
	[OPT_STATE] = { "state", 0, "S", false,
			"only broadcasts in state S: awaiting_approval, "
			"scheduled, active, paused, cancelled or done" },
	[OPT_STATUS] = { "status", 0, "S", false,
			 "only deliveries with status S (queued, sent, "
			 "failed, ...)" },
	[OPT_CHANNEL] = { "channel", 0, "C", false,
			  "only deliveries through channel C" },
	[OPT_INTERVAL] = { "interval", 0, "SECS", false,
			   "ask loaxad every SECS seconds (0.2..3600; "
			   "default 0.5 on a terminal, else 1)" },
	[OPT_NOT_REACHED] = { "not-reached", 0, NULL, false,
			      "only the households not reached (failed, "
			      "expired, skipped, cancelled, sent but "
			      "unconfirmed), by address" },
	[OPT_CSV] = { "csv", 0, NULL, false,
		      "write CSV (UTF-8 with BOM, for Excel) instead of "
		      "tables" },
	[OPT_BROADCAST] = { "broadcast", 0, "ID", false,
			    "only the replies to broadcast ID" },
	[OPT_RSVP] = { "rsvp", 0, "A", false,
		       "only the replies answering A: yes, no, or none "
		       "(feedback)" },
	[OPT_ROLE] = { "role", 0, "R", false,
		       "admin: everything; official: sends to every group, "
		       "approves; manager: keeps and sends to its groups" },
	[OPT_USER_GROUP] = { "group", 0, "CODE", false,
			     "a group the manager keeps (set: replaces "
			     "them all)" },
	[OPT_DISPLAY_NAME] = { "display-name", 0, "TEXT", false,
			       "the person's full name, e.g. 'Nguyễn Văn "
			       "Lân'" },
	[OPT_UNIX_USER] = { "unix-user", 0, "LOGIN", false,
			    "this machine's login that acts as the user on "
			    "the unix socket" },
	[OPT_UID] = { "uid", 0, "N", false,
		      "the same by numeric uid" },
	[OPT_NO_UNIX_USER] = { "no-unix-user", 0, NULL, false,
			       "no unix login acts as the user any more" },
	[OPT_PASSWORD_STDIN] = { "password-stdin", 0, NULL, false,
				 "read the password from the first line of "
				 "stdin (passwd of yourself: old, then new, "
				 "one per line)" },
	[OPT_PASSWORD_PROMPT] = { "password-prompt", 0, NULL, false,
				  "ask for the password twice on the "
				  "terminal, not echoed" },
	[OPT_LABEL] = { "label", 0, "TEXT", false,
			"what the token is for, e.g. 'backup script'" },
	[OPT_REASON] = { "reason", 0, "TEXT", false,
			 "why, for the requester and the audit log" },
	[OPT_AUDIT_LIMIT] = { "limit", 0, "N", false,
			      "at most N entries per request (default: "
			      "loaxad's)" },
	[OPT_AUDIT_ALL] = { "all", 0, NULL, false,
			    "every entry: ask again until the oldest" },
	[OPT_LEVEL] = { "level", 0, "LEVEL", false,
			"err, warning, notice, info or debug (until the "
			"next reload or restart)" },
	[OPT_DEBUG] = { "debug", 0, "SUBSYS", false,
			"debug messages of these subsystems only, "
			"comma-separated (main, cfg, store, api, dir, http, "
			"dispatch, webhook; 'none': off)" },
};

static const char global_help[] =
	"Global options (before or after the command):\n"
	"  --socket PATH      loaxad's unix socket (env LOAXA_SOCKET; default\n"
	"                     " CLI_DEFAULT_SOCKET ")\n"
	"  --url URL          use TCP instead, e.g. http://127.0.0.1:8080\n"
	"                     (env LOAXA_URL)\n"
	"  --token-file FILE  API token: the file's first line (env\n"
	"                     LOAXA_TOKEN_FILE; or the token itself in env\n"
	"                     LOAXA_TOKEN); needed with --url, and on the\n"
	"                     socket it acts as the token's user\n"
	"  --json             print loaxad's JSON answer, for scripts\n"
	"  -h, --help         show help (after a command: its help)\n"
	"  --version          show the version\n";

/* ---- helpers shared by the command files ---- */

static const struct cli_command *command_find(const char *w0, const char *w1);

int cli_fail(int code, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	fflush(stdout);
	fputs("loaxa: ", stderr);
	errno = saved;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static void command_name(const struct cli_command *cmd, char *out,
			 size_t outsz)
{
	snprintf(out, outsz, "%s%s%s", cmd->words[0],
		 cmd->words[1] ? " " : "", cmd->words[1] ? cmd->words[1] : "");
}

int cli_usage(const struct cli *c, const char *fmt, ...)
{
	char name[64] = "";
	va_list ap;

	fflush(stdout);
	if (c && c->cmd)
		command_name(c->cmd, name, sizeof(name));
	fprintf(stderr, "loaxa: %s%s", name, name[0] ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'loaxa %s%s--help' for more information.\n",
		name, name[0] ? " " : "");
	return CLI_EXIT_USAGE;
}

bool cli_parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p;

	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (v > (max - (uint64_t)(*p - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s || *p)
		return false;
	*ret = v;
	return true;
}

int cli_parse_id_of(const struct cli *c, const char *s, const char *what,
		    int64_t *ret)
{
	uint64_t v;

	if (!cli_parse_u64(s, INT64_MAX, &v) || v == 0)
		return cli_usage(c, "invalid %s id '%s' (expected a positive "
				 "number, as shown by 'loaxa %ss')", what, s,
				 what);
	*ret = (int64_t)v;
	return 0;
}

int cli_parse_id(const struct cli *c, const char *s, int64_t *ret)
{
	return cli_parse_id_of(c, s, "household", ret);
}

int cli_parse_limit(const struct cli *c, const struct cli_args *a,
		    int64_t max, int64_t *ret)
{
	const char *arg = cli_args_get(a, OPT_LIMIT);
	uint64_t v;

	*ret = 0;
	if (!arg)
		return 0;
	if (!cli_parse_u64(arg, (uint64_t)max, &v) || v < 1)
		return cli_usage(c, "--limit must be a number from 1 to %"
				 PRId64 " (got '%s')", max, arg);
	*ret = (int64_t)v;
	return 0;
}

int cli_set_string(const struct cli *c, json_t *body, const char *key,
		   const char *value, const char *option)
{
	json_t *s;

	if (!value)
		return 0;
	s = json_string(value);
	if (!s)
		return cli_usage(c, "the value of %s is not valid UTF-8",
				 option);
	if (json_object_set_new(body, key, s) < 0)
		return cli_fail(CLI_EXIT_ERROR, "out of memory");
	return 0;
}

int cli_set_list(const struct cli *c, const struct cli_args *a,
		 json_t *body, const char *key, enum cli_opt id,
		 const char *option)
{
	json_t *list = json_array();
	size_t i;

	if (!list || json_object_set_new(body, key, list) < 0)
		return cli_fail(CLI_EXIT_ERROR, "out of memory");
	for (i = 0; i < a->nopts; i++) {
		json_t *s;

		if (a->opts[i].id != id)
			continue;
		s = json_string(a->opts[i].value);
		if (!s)
			return cli_usage(c, "the value of %s is not valid "
					 "UTF-8", option);
		if (json_array_append_new(list, s) < 0)
			return cli_fail(CLI_EXIT_ERROR, "out of memory");
	}
	return 0;
}

int cli_print_json(const json_t *root)
{
	if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY) < 0 ||
	    fputc('\n', stdout) == EOF)
		return cli_fail(CLI_EXIT_ERROR, "cannot write output: %m");
	return CLI_EXIT_OK;
}

int cli_print_list(const char *key, json_t *list)
{
	_cleanup_json_ json_t *out = json_pack("{s:O}", key, list);

	if (!out)
		return cli_fail(CLI_EXIT_ERROR, "out of memory");
	return cli_print_json(out);
}

bool cli_command_exists(const char *w0, const char *w1)
{
	return command_find(w0, w1) != NULL;
}

const char *cli_args_get(const struct cli_args *a, enum cli_opt id)
{
	const char *v = NULL;
	size_t i;

	for (i = 0; i < a->nopts; i++)
		if (a->opts[i].id == id)
			v = a->opts[i].value;
	return v;
}

size_t cli_args_count(const struct cli_args *a, enum cli_opt id)
{
	size_t i, n = 0;

	for (i = 0; i < a->nopts; i++)
		n += a->opts[i].id == id;
	return n;
}

/* ---- status ---- */

static char *format_uptime(const json_t *v)
{
	json_int_t s = json_integer_value(v);
	char text[64];

	if (!json_is_integer(v) || s < 0)
		return out_value(v, "-");
	if (s >= 86400)
		snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT "d %dh "
			 "%dm", s / 86400, (int)(s % 86400 / 3600),
			 (int)(s % 3600 / 60));
	else if (s >= 3600)
		snprintf(text, sizeof(text), "%dh %dm %ds", (int)(s / 3600),
			 (int)(s % 3600 / 60), (int)(s % 60));
	else
		snprintf(text, sizeof(text), "%dm %ds", (int)(s / 60),
			 (int)(s % 60));
	return strdup(text);
}

int cmd_status(struct cli *c, _unused_ const struct cli_args *a)
{
	_cleanup_json_ json_t *root = NULL;
	_cleanup_table_ struct out_table *t = NULL;
	const char *key;
	json_t *v;
	int r;

	r = client_call(c, "GET", "/v1/status", NULL, &root);
	if (r)
		return r;
	if (c->json)
		return cli_print_json(root);

	t = out_table_new(2, NULL);
	if (!t)
		return cli_fail(CLI_EXIT_ERROR, "out of memory");
	/* Every key, in the answer's order: new counters show up as-is. */
	json_object_foreach(root, key, v) {
		_cleanup_free_ char *label = NULL, *value = NULL;
		char *p;

		if (streq(key, "uptime_s")) {
			label = strdup("uptime:");
			value = format_uptime(v);
		} else {
			if (asprintf(&label, "%s:", key) < 0)
				label = NULL;
			value = out_value(v, "-");
		}
		if (!label || !value)
			return cli_fail(CLI_EXIT_ERROR, "out of memory");
		for (p = label; *p; p++)
			if (*p == '_')
				*p = ' ';
		if (out_table_add(t, (const char *[]){ label, value }) < 0)
			return cli_fail(CLI_EXIT_ERROR, "out of memory");
	}
	out_table_print(t, stdout);
	return CLI_EXIT_OK;
}

/* ---- help ---- */

static void print_overview(FILE *f)
{
	char name[128];
	size_t i;

	fprintf(f, "Usage: loaxa [OPTIONS] COMMAND [ARGS]\n\n"
		   "Manage the village groups and household phone lists "
		   "kept by loaxad,\nand send them meeting invitations and "
		   "notices.\n\nCommands:\n");
	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct cli_command *cmd = &commands[i];

		snprintf(name, sizeof(name), "%s%s%s%s%s", cmd->words[0],
			 cmd->words[1] ? " " : "",
			 cmd->words[1] ? cmd->words[1] : "",
			 cmd->args ? " " : "", cmd->args ? cmd->args : "");
		fprintf(f, "  %-24s %s\n", name, cmd->summary);
	}
	fprintf(f, "\n%s\nRun 'loaxa COMMAND --help' for a command's options "
		   "and request. See loaxa(1).\n", global_help);
}

static void print_family(FILE *f, const char *word)
{
	size_t i;

	fprintf(f, "Usage: loaxa %s SUBCOMMAND [ARGS]\n\nSubcommands:\n",
		word);
	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct cli_command *cmd = &commands[i];

		if (!streq(cmd->words[0], word) || !cmd->words[1])
			continue;
		fprintf(f, "  %-8s %-12s %s\n", cmd->words[1],
			cmd->args ? cmd->args : "", cmd->summary);
	}
	fprintf(f, "\nRun 'loaxa %s SUBCOMMAND --help' for details.\n", word);
}

/* Print "lead words..." wrapped at 79 columns, continuation lines indented
 * under the first word after lead; never breaks inside [...] or (...). */
static void print_wrapped(FILE *f, const char *lead, const char *text)
{
	size_t indent = strlen(lead) + 1, col = indent, n;
	const char *p = text, *end;
	int depth;

	fputs(lead, f);
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		for (end = p, depth = 0; *end && (*end != ' ' || depth > 0);
		     end++)
			depth += *end == '[' || *end == '(' ? 1
				 : *end == ']' || *end == ')' ? -1 : 0;
		n = (size_t)(end - p);
		if (col > indent && col + 1 + n > 79) {
			fprintf(f, "\n%*s", (int)indent, "");
			col = indent;
		} else {
			fputc(' ', f);
			col++;
		}
		fwrite(p, 1, n, f);
		col += n;
		p = end;
	}
	fputc('\n', f);
}

static void print_command(FILE *f, const struct cli_command *cmd)
{
	char name[64], opt[64], lead[128], help[256];
	unsigned i;

	command_name(cmd, name, sizeof(name));
	snprintf(lead, sizeof(lead), "Usage: loaxa [OPTIONS] %s", name);
	print_wrapped(f, lead, cmd->synopsis ? cmd->synopsis : "");
	fprintf(f, "\n%c%s.\n\nRequest: %s\n",
		cmd->summary[0] >= 'a' && cmd->summary[0] <= 'z'
			? cmd->summary[0] - 'a' + 'A' : cmd->summary[0],
		cmd->summary + 1, cmd->request);
	if (cmd->opts)
		fprintf(f, "\nOptions:\n");
	for (i = 0; i < _OPT_MAX; i++) {
		const struct cli_option *o = &cmd_options[i];

		if (!(cmd->opts & OPT(i)))
			continue;
		if (o->short_name)
			snprintf(opt, sizeof(opt), "-%c, --%s%s%s",
				 o->short_name, o->name, o->metavar ? " " : "",
				 o->metavar ? o->metavar : "");
		else
			snprintf(opt, sizeof(opt), "--%s%s%s", o->name,
				 o->metavar ? " " : "",
				 o->metavar ? o->metavar : "");
		snprintf(lead, sizeof(lead), "  %-18s", opt);
		snprintf(help, sizeof(help), "%s%s", o->help,
			 cmd->repeat & OPT(i) ? "; repeat for more" : "");
		print_wrapped(f, lead, help);
	}
	fprintf(f, "\n%s", global_help);
}

/* ---- arguments ---- */

struct globals {
	const char *socket_path;
	const char *url;
	const char *token_file;
	bool json, help, version;
};

enum parse_state {
	STATE_COMMAND,            /* expecting the first command word */
	STATE_SUBCOMMAND,         /* expecting "add", "show", ... */
	STATE_ARGS,               /* command resolved */
};

static bool is_family(const char *word)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (streq(commands[i].words[0], word) && commands[i].words[1])
			return true;
	return false;
}

static const struct cli_command *command_find(const char *w0, const char *w1)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct cli_command *cmd = &commands[i];

		if (!streq(cmd->words[0], w0))
			continue;
		if (w1 ? streq(cmd->words[1], w1) : !cmd->words[1])
			return cmd;
	}
	return NULL;
}

/* The option named name (or short_name): the one in mask if several
 * share it, else the first. -1 if none. */
static int option_find(const char *name, char short_name, uint64_t mask)
{
	int id, found = -1;

	for (id = 0; id < _OPT_MAX; id++) {
		const struct cli_option *o = &cmd_options[id];

		if (name ? !streq(o->name, name)
			 : !(o->short_name && o->short_name == short_name))
			continue;
		if (mask & OPT(id))
			return id;
		if (found < 0)
			found = id;
	}
	return found;
}

/* One option at argv[*i]: a global option anywhere, a command option once
 * the command is known. Returns 0 or an exit code. */
static int parse_option(struct cli *c, int argc, char **argv, int *i,
			struct globals *g, struct cli_args *a)
{
	const char *arg = argv[*i], *value = NULL, *eq = NULL;
	const struct cli_option *o = NULL;
	char name[64];
	size_t len;
	int id = -1;

	if (arg[1] == '-') {
		eq = strchr(arg + 2, '=');
		len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		if (len >= sizeof(name))
			return cli_usage(c, "unknown option '%.40s...'", arg);
		memcpy(name, arg + 2, len);
		name[len] = '\0';
		value = eq ? eq + 1 : NULL;
	} else {
		name[0] = arg[1];
		name[1] = '\0';
		len = 1;
		value = arg[2] ? arg + 2 : NULL;
	}
	/* value now holds an inline value ("--x=v", "-ov"), if any. */

	if (arg[1] == '-' || streq(name, "h")) {
		bool *flag = NULL;
		const char **dest = NULL;

		if (streq(name, "socket"))
			dest = &g->socket_path;
		else if (streq(name, "url"))
			dest = &g->url;
		else if (streq(name, "token-file"))
			dest = &g->token_file;
		else if (streq(name, "json"))
			flag = &g->json;
		else if (streq(name, "help") || streq(name, "h"))
			flag = &g->help;
		else if (streq(name, "version"))
			flag = &g->version;
		if (flag) {
			if (value)
				return cli_usage(c, "option '%s' takes no "
						 "value", arg);
			*flag = true;
			return 0;
		}
		if (dest) {
			if (!value && *i + 1 >= argc)
				return cli_usage(c, "option '%s' needs a "
						 "value", arg);
			*dest = value ? value : argv[++*i];
			return 0;
		}
	}

	/* Some names mean different things to different commands ("--all",
	 * "--limit", "--group"): the command's own option wins. */
	id = option_find(arg[1] == '-' ? name : NULL,
			 arg[1] == '-' ? 0 : name[0],
			 c->cmd ? c->cmd->opts : 0);
	if (id < 0)
		return cli_usage(c, "unknown option '%s'", arg);
	o = &cmd_options[id];
	if (!c->cmd)
		return cli_usage(c, "option '--%s' must follow the command",
				 o->name);
	if (!(c->cmd->opts & OPT(id)))
		return cli_usage(c, "no such option '--%s' for this command",
				 o->name);
	if (!o->metavar) {
		if (value)
			return cli_usage(c, "option '--%s' takes no value",
					 o->name);
		value = "";
	} else if (!value) {
		if (*i + 1 >= argc)
			return cli_usage(c, "option '--%s' needs a value",
					 o->name);
		value = argv[++*i];
	}
	if (!o->repeat && !(c->cmd->repeat & OPT(id)) &&
	    cli_args_get(a, (enum cli_opt)id))
		return cli_usage(c, "option '--%s' given twice", o->name);
	a->opts[a->nopts++] = (struct cli_optval){ (enum cli_opt)id, value };
	return 0;
}

/* Returns 0 to run c->cmd, -1 when help or the version was printed, or an
 * exit code. */
static int parse_argv(struct cli *c, int argc, char **argv,
		      struct globals *g, struct cli_args *a)
{
	enum parse_state st = STATE_COMMAND;
	const char *family = NULL;
	bool dashdash = false, help_cmd = false;
	int i, r;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!dashdash && arg[0] == '-' && arg[1]) {
			if (streq(arg, "--")) {
				dashdash = true;
				continue;
			}
			r = parse_option(c, argc, argv, &i, g, a);
			if (r)
				return r;
			if (g->help || g->version)
				break;
			continue;
		}
		if (st == STATE_COMMAND) {
			if (streq(arg, "help") && !help_cmd) {
				help_cmd = true;
				continue;
			}
			c->cmd = command_find(arg, NULL);
			if (c->cmd) {
				st = STATE_ARGS;
			} else if (is_family(arg)) {
				family = arg;
				st = STATE_SUBCOMMAND;
			} else {
				return cli_usage(c, "unknown command '%s'",
						 arg);
			}
		} else if (st == STATE_SUBCOMMAND) {
			c->cmd = command_find(family, arg);
			if (!c->cmd)
				return cli_usage(c, "unknown command '%s %s'",
						 family, arg);
			st = STATE_ARGS;
		} else if (a->npos >= c->cmd->max_pos) {
			return cli_usage(c, "unexpected argument '%s'%s", arg,
					 c->cmd->args &&
					 !streq(c->cmd->words[0], "user") &&
					 strstr(c->cmd->args, "NAME")
						 ? " (quote a NAME that holds "
						   "spaces)"
					 : c->cmd->opts & OPT(OPT_TITLE)
						 ? " (quote a value that holds "
						   "spaces, e.g. --title 'Họp "
						   "tổ dân cư')"
						 : "");
		} else {
			a->pos[a->npos++] = arg;
		}
		if (help_cmd && st == STATE_ARGS)
			break;
	}

	if (g->version) {
		printf("loaxa %s\n", LOAXA_VERSION);
		return -1;
	}
	if (g->help || help_cmd) {
		if (c->cmd)
			print_command(stdout, c->cmd);
		else if (family)
			print_family(stdout, family);
		else
			print_overview(stdout);
		return -1;
	}
	if (st == STATE_COMMAND)
		return cli_usage(c, "no command given");
	if (st == STATE_SUBCOMMAND) {
		fprintf(stderr, "loaxa: %s: missing subcommand\n", family);
		print_family(stderr, family);
		return CLI_EXIT_USAGE;
	}
	if (a->npos < c->cmd->min_pos) {
		char name[64];

		command_name(c->cmd, name, sizeof(name));
		return cli_usage(c, "missing argument (usage: loaxa %s %s)",
				 name, c->cmd->synopsis);
	}
	return 0;
}

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] ? v : NULL;
}

/* Command line beats environment; LOAXA_URL beats LOAXA_SOCKET. */
static int resolve_endpoint(struct cli *c, const struct globals *g)
{
	const char *url = g->url, *rest;
	size_t len;

	if (g->socket_path && g->url)
		return cli_usage(NULL, "--socket and --url cannot be used "
				 "together");
	if (!g->socket_path && !url)
		url = env_nonempty("LOAXA_URL");
	/* A token given on the command line beats one in the environment;
	 * LOAXA_TOKEN (the token itself) beats LOAXA_TOKEN_FILE. */
	c->token_file = g->token_file;
	c->token_env = !c->token_file && env_nonempty("LOAXA_TOKEN");
	if (!c->token_file && !c->token_env)
		c->token_file = env_nonempty("LOAXA_TOKEN_FILE");
	if (!url) {
		c->socket_path = g->socket_path ? g->socket_path
			: env_nonempty("LOAXA_SOCKET");
		if (!c->socket_path)
			c->socket_path = CLI_DEFAULT_SOCKET;
		if (!c->socket_path[0] ||
		    strlen(c->socket_path) >=
			    sizeof(((struct sockaddr_un *)NULL)->sun_path))
			return cli_usage(NULL, "socket path '%s' is empty or "
					 "too long", c->socket_path);
		return 0;
	}

	if (strncasecmp(url, "http://", 7) == 0)
		rest = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		rest = url + 8;
	else
		return cli_usage(NULL, "--url must start with http:// or "
				 "https:// (got '%s')", url);
	if (!rest[0] || rest[0] == '/' || strpbrk(url, "?# \t\r\n") ||
	    strlen(url) > 4096)
		return cli_usage(NULL, "invalid --url '%s' (expected "
				 "http://HOST:PORT)", url);
	len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		len--;
	c->url = strndup(url, len);
	if (!c->url)
		return cli_fail(CLI_EXIT_ERROR, "out of memory");
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c = { .json = false };
	struct cli_args a = { .npos = 0 };
	struct globals g = { .json = false };
	int r;

	a.opts = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*a.opts));
	if (!a.opts)
		return cli_fail(CLI_EXIT_ERROR, "out of memory");

	r = parse_argv(&c, argc, argv, &g, &a);
	if (r == 0)
		r = resolve_endpoint(&c, &g);
	if (r == 0) {
		c.json = g.json;
		r = c.cmd->run(&c, &a);
	} else if (r < 0) {
		r = CLI_EXIT_OK;
	}

	c.client = client_free(c.client);
	free(c.url);
	free(a.opts);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (r == CLI_EXIT_OK || r == CLI_EXIT_REJECTED)
			r = cli_fail(CLI_EXIT_ERROR,
				     "cannot write output: %m");
	}
	return r;
}
