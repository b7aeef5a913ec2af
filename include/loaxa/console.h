/* console.h: the web console's files, embedded at build time from console/
 * by scripts/embed-assets.py, served by api-console.c. */
#ifndef LOAXA_CONSOLE_H
#define LOAXA_CONSOLE_H

#include <stddef.h>

struct console_asset {
	const char *path;            /* "/index.html", "/app.js", ... */
	const char *ctype;
	const unsigned char *data;   /* NUL-terminated too */
	size_t len;
	const char *etag;            /* quoted, strong */
};
extern const struct console_asset console_assets[];
extern const size_t console_nassets;

#endif
