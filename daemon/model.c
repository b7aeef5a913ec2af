/* model.c: see model.h */
#include "loaxa/model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void group_rec_clear(struct group_rec *g)
{
	free(g->code);
	free(g->name);
	*g = (struct group_rec){ 0 };
}

void household_clear(struct household *h)
{
	free(h->group_code);
	free(h->name);
	free(h->address);
	free(h->zalo_user_id);
	free(h->messenger_psid);
	free(h->note);
	*h = (struct household){ 0 };
}

int verrors_add(struct verrors *e, const char *field, const char *code,
		const char *fmt, ...)
{
	struct verror *v = realloc(e->v, (e->n + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	e->v = v;
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	v[e->n] = (struct verror){ strdup(field), strdup(code), msg };
	if (!v[e->n].field || !v[e->n].code) {
		free(v[e->n].field);
		free(v[e->n].code);
		free(msg);
		return -ENOMEM;
	}
	e->n++;
	return 0;
}

void verrors_clear(struct verrors *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].field);
		free(e->v[i].code);
		free(e->v[i].message);
	}
	free(e->v);
	*e = (struct verrors){ 0 };
}
