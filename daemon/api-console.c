/* api-console.c: the web console's static files, on the [api] listen TCP
 * listener when [console] enabled = yes.
 *
 *   bool api__console_serve(struct rctx *rc, const char *url,
 *                           const char *if_none_match);
 *
 * api.c calls it for a GET or HEAD whose path is not under /v1/ (nor
 * /metrics): "/" is index.html, any other path must be one of
 * console_assets[] (include/loaxa/console.h, embedded at build time by
 * scripts/embed-assets.py) exactly. It returns false when the path is not
 * the console's, and the caller answers 404 as for any unknown path.
 *
 * No principal is needed: the files hold no data, and everything the
 * console shows comes from the JSON API, which asks for the session.
 * Every answer carries the contract's security headers (a strict CSP: the
 * console has no inline script or style, no CDN and no external font) and
 * the asset's strong ETag with Cache-Control: no-cache, so a browser asks
 * again each time and gets a 304 with no body while the file is the same.
 */
#include <string.h>

#include "api-internal.h"
#include "loaxa/console.h"

static const char *const security_headers[][2] = {
	{ "Content-Security-Policy",
	  "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
	  "form-action 'self'" },
	{ "X-Content-Type-Options", "nosniff" },
	{ "Referrer-Policy", "same-origin" },
	{ "X-Frame-Options", "DENY" },
	{ "Cache-Control", "no-cache" },
};

/* struct rctx's extra response headers: static strings, which queue()
 * adds to the response, the 304 included. */
static void add_header(struct rctx *rc, const char *name, const char *value)
{
	if (rc->nheaders < ARRAY_SIZE(rc->headers)) {
		rc->headers[rc->nheaders][0] = name;
		rc->headers[rc->nheaders][1] = value;
		rc->nheaders++;
	}
}

/* Whether an If-None-Match list ("a", W/"b", *) names etag. The weak
 * comparison of RFC 9110 13.1.2: a W/ prefix is ignored. */
static bool etag_listed(const char *list, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = list;
	while (*p) {
		p += strspn(p, " \t,");
		if (!*p)
			break;
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		size_t n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == elen && memcmp(p, etag, n) == 0)
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

static const struct console_asset *asset_find(const char *url)
{
	if (streq(url, "/"))
		url = "/index.html";
	for (size_t i = 0; i < console_nassets; i++)
		if (streq(console_assets[i].path, url))
			return &console_assets[i];
	return NULL;
}

bool api__console_serve(struct rctx *rc, const char *url,
			const char *if_none_match)
{
	if (!url)
		return false;
	const struct console_asset *a = asset_find(url);
	if (!a)
		return false;

	for (size_t i = 0; i < ARRAY_SIZE(security_headers); i++)
		add_header(rc, security_headers[i][0], security_headers[i][1]);
	add_header(rc, "ETag", a->etag);

	if (if_none_match && etag_listed(if_none_match, a->etag)) {
		rc->status = 304;
		return true;
	}
	char *copy = malloc(a->len + 1);
	if (!copy) {
		api__reply_error(rc, 503, "unavailable", "out of memory");
		return true;
	}
	memcpy(copy, a->data, a->len + 1);
	free(rc->raw);
	rc->raw = copy;
	rc->raw_len = a->len;
	rc->ctype = a->ctype;
	rc->status = 200;
	return true;
}
