/* test-manpage.c: man/loaxa.ini.5.in documents every key of the config
 * table (config_keys()) with its type, default, range and reload rule, and
 * no key the table lacks.
 *
 * The page's entry for a key is (see the comment at its top):
 *   .TP
 *   \fBkey\fR = \fItype\fR
 *   Default: \fBvalue\fR; range MIN..MAX; reloadable.
 * inside a subsection .SS "[section]". A failure prints the line the page
 * should have, so a new key is documented by pasting it and adding prose.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "loaxa/config.h"
#include "loaxa/util.h"

#define PAGE "man/loaxa.ini.5.in"
#define MAX_ENTRIES 256
#define LINE_MAX_ 1024

struct entry {
	char section[64];
	char key[64];
	char type[32];
	char defline[LINE_MAX_]; /* the first body line, as text */
	int line;
	bool seen;               /* matched by a table key */
};

static struct entry entries[MAX_ENTRIES];
static size_t nentries;
static char **types_documented; /* .TP tags of VALUE TYPES */
static size_t ntypes;

/* ---- groff to text ---- */

/* The escapes the page uses, turned into the text they show; anything
 * else fails the test, so the parser never guesses. */
static void groff_text(const char *in, char *out, size_t outsz, int line)
{
	size_t o = 0;
	for (const char *p = in; *p; p++) {
		const char *add = NULL;
		char one[2] = { 0 };
		if (*p != '\\') {
			one[0] = *p;
			add = one;
		} else {
			p++;
			switch (*p) {
			case 'f':       /* \fB \fI \fR \fP */
				p++;
				if (!strchr("BIRP", *p))
					fail_msg(PAGE ":%d: unexpected font "
						 "escape", line);
				add = "";
				break;
			case '-':
				add = "-";
				break;
			case '&':
			case 'c':
				add = "";
				break;
			case 'e':
			case '\\':
				add = "\\";
				break;
			case ' ':
				add = " ";
				break;
			case '(':
				if (strncmp(p, "(lq", 3) == 0 ||
				    strncmp(p, "(rq", 3) == 0)
					add = "\"";
				else if (strncmp(p, "(aq", 3) == 0)
					add = "'";
				else if (strncmp(p, "(ha", 3) == 0)
					add = "^";
				else if (strncmp(p, "(bu", 3) == 0)
					add = "*";
				else
					fail_msg(PAGE ":%d: unexpected "
						 "escape \\%.3s", line, p);
				p += 2;
				break;
			default:
				fail_msg(PAGE ":%d: unexpected escape \\%c",
					 line, *p ? *p : '0');
			}
		}
		size_t n = strlen(add);
		assert_true(o + n < outsz);
		memcpy(out + o, add, n);
		o += n;
	}
	out[o] = '\0';
}

/* ---- reading the page ---- */

static char *read_page(void)
{
	const char *srcdir = getenv("LOAXA_SRCDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/" PAGE,
		 srcdir && *srcdir ? srcdir : ".");
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (set LOAXA_SRCDIR)", path);
	size_t cap = 256 * 1024;
	char *data = calloc(1, cap);
	assert_non_null(data);
	size_t n = fread(data, 1, cap - 1, f);
	fclose(f);
	assert_true(n > 0 && n < cap - 1);
	return data;
}

/* "name = type" with name [a-z_]+ and type [a-z]+. */
static bool parse_tag(const char *t, struct entry *e)
{
	const char *eq = strstr(t, " = ");
	if (!eq || eq == t || (size_t)(eq - t) >= sizeof e->key)
		return false;
	for (const char *p = t; p < eq; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
			return false;
	const char *ty = eq + 3;
	if (!*ty || strlen(ty) >= sizeof e->type)
		return false;
	for (const char *p = ty; *p; p++)
		if (!(*p >= 'a' && *p <= 'z'))
			return false;
	memcpy(e->key, t, (size_t)(eq - t));
	e->key[eq - t] = '\0';
	strcpy(e->type, ty);
	return true;
}

/* Split the page into lines and collect the key entries of [section]
 * subsections and the tags of VALUE TYPES. */
static int setup(void **state)
{
	(void)state;
	char *page = read_page();
	char section[64] = "", sh[64] = "";
	char *lines[8192];
	size_t nl = 0;
	/* keep empty lines: strsep, not strtok */
	for (char *p = page, *l; (l = strsep(&p, "\n"));) {
		assert_true(nl < ARRAY_SIZE(lines));
		lines[nl++] = l;
	}
	types_documented = calloc(64, sizeof *types_documented);
	assert_non_null(types_documented);
	for (size_t i = 0; i < nl; i++) {
		const char *l = lines[i];
		int lineno = (int)i + 1;
		if (strncmp(l, ".SH ", 4) == 0) {
			snprintf(sh, sizeof sh, "%s", l + 4);
			section[0] = '\0';
			continue;
		}
		if (strncmp(l, ".SS \"[", 6) == 0) {
			const char *end = strstr(l, "]\"");
			assert_non_null(end);
			snprintf(section, sizeof section, "%.*s",
				 (int)(end - (l + 6)), l + 6);
			continue;
		}
		if (strcmp(l, ".TP") != 0 || i + 1 >= nl)
			continue;
		char tag[LINE_MAX_];
		groff_text(lines[i + 1], tag, sizeof tag, lineno + 1);
		if (strcmp(sh, "\"VALUE TYPES\"") == 0 &&
		    strncmp(lines[i + 1], ".I ", 3) == 0) {
			assert_true(ntypes < 64);
			types_documented[ntypes] = strdup(lines[i + 1] + 3);
			assert_non_null(types_documented[ntypes]);
			ntypes++;
			continue;
		}
		struct entry e = { .line = lineno + 1 };
		if (!*section || !parse_tag(tag, &e))
			continue;
		/* The body's first line, past comment lines. */
		size_t b = i + 2;
		while (b < nl && strncmp(lines[b], ".\\\"", 3) == 0)
			b++;
		if (b < nl)
			groff_text(lines[b], e.defline, sizeof e.defline,
				   (int)b + 1);
		snprintf(e.section, sizeof e.section, "%s", section);
		assert_true(nentries < MAX_ENTRIES);
		entries[nentries++] = e;
	}
	free(page);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < ntypes; i++)
		free(types_documented[i]);
	free(types_documented);
	return 0;
}

/* ---- what the page must say ---- */

/* As loaxa.ini writes a value: the largest exact unit. */
static void fmt_value(enum config_type t, uint64_t v, char *out, size_t n)
{
	static const struct {
		const char *s;
		uint64_t mul;
	} sizes[] = { { "G", UINT64_C(1) << 30 }, { "M", UINT64_C(1) << 20 },
		      { "K", UINT64_C(1) << 10 } },
	  durations[] = { { "d", 86400000 }, { "h", 3600000 },
			  { "m", 60000 },    { "s", 1000 },
			  { "ms", 1 } };
	if (t == CFG_OCTAL) {
		snprintf(out, n, "%04" PRIo64, v);
		return;
	}
	if (t == CFG_SIZE)
		for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
			if (v && v % sizes[i].mul == 0) {
				snprintf(out, n, "%" PRIu64 "%s",
					 v / sizes[i].mul, sizes[i].s);
				return;
			}
	if (t == CFG_DURATION)
		for (size_t i = 0; i < ARRAY_SIZE(durations); i++)
			if (v && v % durations[i].mul == 0) {
				snprintf(out, n, "%" PRIu64 "%s",
					 v / durations[i].mul, durations[i].s);
				return;
			}
	snprintf(out, n, "%" PRIu64, v);
}

static bool has_range(enum config_type t)
{
	return t == CFG_UINT || t == CFG_SIZE || t == CFG_DURATION ||
	       t == CFG_OCTAL || t == CFG_DECIMAL;
}

static void expected_defline(const struct config_key_info *k, char *out,
			     size_t n)
{
	char range[96] = "";
	if (has_range(k->type)) {
		char lo[32], hi[32];
		fmt_value(k->type, k->min, lo, sizeof lo);
		fmt_value(k->type, k->max, hi, sizeof hi);
		snprintf(range, sizeof range, "; range %s..%s", lo, hi);
	}
	snprintf(out, n, "Default: %s%s; %s.", *k->def ? k->def : "empty",
		 range, k->reloadable ? "reloadable" : "needs a restart");
}

static struct entry *find(const char *section, const char *key)
{
	for (size_t i = 0; i < nentries; i++)
		if (streq(entries[i].section, section) &&
		    streq(entries[i].key, key))
			return &entries[i];
	return NULL;
}

/* ---- tests ---- */

static void test_page_parsed(void **state)
{
	(void)state;
	/* The parser found the page's shape: a guard against a change of
	 * layout that would make the other tests vacuous. */
	assert_true(nentries >= 40);
	assert_non_null(find("daemon", "state_dir"));
	assert_non_null(find("channel.NAME", "driver"));
	assert_true(ntypes >= 5);
}

static void test_every_key_documented(void **state)
{
	(void)state;
	const struct config_key_info *keys;
	size_t n = config_keys(&keys);
	unsigned bad = 0;
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++) {
		const struct config_key_info *k = &keys[i];
		const char *type = config_type_name(k->type);
		char want[LINE_MAX_];
		expected_defline(k, want, sizeof want);
		struct entry *e = find(k->section, k->key);
		if (!e) {
			fprintf(stderr,
				PAGE ": [%s] %s is not documented; add in "
				"its section:\n.TP\n\\fB%s\\fR = \\fI%s\\fR\n"
				"%s\n.br\n(what it does)\n",
				k->section, k->key, k->key, type, want);
			bad++;
			continue;
		}
		if (e->seen) {
			fprintf(stderr, PAGE ":%d: [%s] %s documented "
				"twice\n", e->line, k->section, k->key);
			bad++;
		}
		e->seen = true;
		if (!streq(e->type, type)) {
			fprintf(stderr, PAGE ":%d: [%s] %s: type is %s, the "
				"page says %s\n", e->line, k->section, k->key,
				type, e->type);
			bad++;
		}
		if (!streq(e->defline, want)) {
			fprintf(stderr, PAGE ":%d: [%s] %s: the line after "
				"the tag should read\n  %s\nbut reads\n  %s\n",
				e->line + 1, k->section, k->key, want,
				e->defline);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void test_no_unknown_keys(void **state)
{
	(void)state;
	const struct config_key_info *keys;
	size_t n = config_keys(&keys);
	unsigned bad = 0;
	for (size_t i = 0; i < nentries; i++) {
		bool known = false;
		for (size_t j = 0; j < n && !known; j++)
			known = streq(keys[j].section, entries[i].section) &&
				streq(keys[j].key, entries[i].key);
		if (!known) {
			fprintf(stderr, PAGE ":%d: [%s] %s is not a key of "
				"the config table\n", entries[i].line,
				entries[i].section, entries[i].key);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void test_types_documented(void **state)
{
	(void)state;
	const struct config_key_info *keys;
	size_t n = config_keys(&keys);
	for (size_t i = 0; i < n; i++) {
		const char *type = config_type_name(keys[i].type);
		bool found = false;
		for (size_t j = 0; j < ntypes && !found; j++)
			found = streq(types_documented[j], type);
		if (!found)
			fail_msg(PAGE ": type %s (of [%s] %s) is not described "
				 "under VALUE TYPES", type, keys[i].section,
				 keys[i].key);
	}
}

/* The checker itself: the formats it expects, on known values. */
static void test_formatting(void **state)
{
	(void)state;
	char b[64];
	fmt_value(CFG_DURATION, 3600 * 1000, b, sizeof b);
	assert_string_equal(b, "1h");
	fmt_value(CFG_DURATION, 90 * 1000, b, sizeof b);
	assert_string_equal(b, "90s");
	fmt_value(CFG_DURATION, UINT64_C(30) * 86400 * 1000, b, sizeof b);
	assert_string_equal(b, "30d");
	fmt_value(CFG_DURATION, 1500, b, sizeof b);
	assert_string_equal(b, "1500ms");
	fmt_value(CFG_SIZE, 1024 * 1024 * 1024, b, sizeof b);
	assert_string_equal(b, "1G");
	fmt_value(CFG_SIZE, 1536, b, sizeof b);
	assert_string_equal(b, "1536");
	fmt_value(CFG_OCTAL, 0600, b, sizeof b);
	assert_string_equal(b, "0600");
	fmt_value(CFG_UINT, 0, b, sizeof b);
	assert_string_equal(b, "0");

	struct config_key_info k = { .section = "api", .key = "timeout",
				     .type = CFG_DURATION, .def = "30s",
				     .min = 1000, .max = 3600 * 1000 };
	char line[256];
	expected_defline(&k, line, sizeof line);
	assert_string_equal(line, "Default: 30s; range 1s..1h; needs a "
			    "restart.");
	k = (struct config_key_info){ .type = CFG_PATH, .def = "",
				      .reloadable = true };
	expected_defline(&k, line, sizeof line);
	assert_string_equal(line, "Default: empty; reloadable.");

	groff_text("\\fBa\\-b\\fR; \\(lqx\\(rq\\&.", line, sizeof line, 0);
	assert_string_equal(line, "a-b; \"x\".");
}

static void test_version_substituted(void **state)
{
	(void)state;
	char *page = read_page();
	/* meson fills in the version and date of .TH */
	assert_non_null(strstr(page, "\n.TH LOAXA.INI 5 \"@DATE@\" \"loaxa "
				     "@VERSION@\""));
	free(page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formatting),
		cmocka_unit_test(test_page_parsed),
		cmocka_unit_test(test_every_key_documented),
		cmocka_unit_test(test_no_unknown_keys),
		cmocka_unit_test(test_types_documented),
		cmocka_unit_test(test_version_substituted),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
