/* fuzz-config.c: config_load_buffer() on arbitrary bytes.
 *
 * Whatever the input, loading returns 0 with a config or a negative errno
 * with at least one message, never crashes, and frees everything. A loaded
 * config also goes through the functions a reload uses. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loaxa/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_diag diag = { 0 };
	struct config *c = NULL;
	int r = config_load_buffer("fuzz.ini", (const char *)data, size, &c,
				   &diag);
	if (r == 0) {
		if (!c || diag.n != 0)
			abort();
		struct config *def = config_new_default();
		if (def) {
			config_diff_nonreloadable(def, c, &diag);
			config_diff_nonreloadable(c, def, &diag);
		}
		free(config_database_path(c));
		for (size_t i = 0; i < c->ngroups; i++)
			if (!c->groups[i].code[0] || !c->groups[i].name[0])
				abort();
		config_free(def);
		config_free(c);
	} else {
		/* Out of memory may leave no message; anything else must. */
		if (c || (r != -ENOMEM && diag.n == 0))
			abort();
	}
	for (size_t i = 0; i < diag.n; i++)
		if (!diag.msgs[i] || strchr(diag.msgs[i], '\n'))
			abort();
	config_diag_free(&diag);
	return 0;
}
