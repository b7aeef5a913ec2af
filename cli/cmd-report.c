/* cmd-report.c: `loaxa report ID`, the per-household list of a broadcast
 * that a village manager acts on.
 *
 * It reads the broadcast (for its title), the groups (for their display
 * names) and every delivery, following the paging, and prints them by
 * group, sorted by address and then name as people read them: numbers in
 * order ("Tổ 2" before "Tổ 10") and Vietnamese letters in the alphabet's
 * order (a ă â b c d đ e ê ...), tones after letters.
 *
 * A delivery sent with no receipt after loaxad's [webhooks]
 * unconfirmed_after (the API flags it "unconfirmed") shows as "sent,
 * unconfirmed": nothing says it arrived.
 *
 * --not-reached keeps one row per household that no delivery reached
 * (failed, expired, skipped, cancelled, sent but unconfirmed, and none
 * sent), headed in
 * Vietnamese: it is the list a manager takes from door to door. --csv
 * writes the rows as CSV with a UTF-8 BOM, so that Excel shows the
 * accents. Phone numbers are shown in the national form people dial,
 * "0912 345 678": this is the manager's own list, not a log.
 */
#include <errno.h>
#include <inttypes.h>
#include <unistd.h>

#include "cli.h"

#define DELIVERY_PAGE 1000        /* the API's largest page */
#define UTF8_BOM "\xef\xbb\xbf"
#define DASH "\xe2\x80\x94"       /* U+2014 */

static const char csv_header[] =
	"group,name,address,phone,status,channel,code,message";

static int oom(void)
{
	return cli_fail(CLI_EXIT_ERROR, "out of memory");
}

/* ---- sorting as Vietnamese readers expect ---- */

/* The letters with diacritics, by base letter and variant (a, ă, â, ...),
 * each in the order of the tones: none, huyền, sắc, hỏi, ngã, nặng. */
static const struct {
	char base;
	unsigned variant;
	const char *lower, *upper;
} vn_rows[] = {
	{ 'a', 0, "aàáảãạ", "AÀÁẢÃẠ" },
	{ 'a', 1, "ăằắẳẵặ", "ĂẰẮẲẴẶ" },
	{ 'a', 2, "âầấẩẫậ", "ÂẦẤẨẪẬ" },
	{ 'e', 0, "eèéẻẽẹ", "EÈÉẺẼẸ" },
	{ 'e', 1, "êềếểễệ", "ÊỀẾỂỄỆ" },
	{ 'i', 0, "iìíỉĩị", "IÌÍỈĨỊ" },
	{ 'o', 0, "oòóỏõọ", "OÒÓỎÕỌ" },
	{ 'o', 1, "ôồốổỗộ", "ÔỒỐỔỖỘ" },
	{ 'o', 2, "ơờớởỡợ", "ƠỜỚỞỠỢ" },
	{ 'u', 0, "uùúủũụ", "UÙÚỦŨỤ" },
	{ 'u', 1, "ưừứửữự", "ƯỪỨỬỮỰ" },
	{ 'y', 0, "yỳýỷỹỵ", "YỲÝỶỸỴ" },
	{ 'd', 1, "đ", "Đ" },
};

/* Weights of the primary level, in increasing order. */
enum {
	W_OTHER_ASCII = 0x100,    /* + the byte: spaces, punctuation */
	W_NUMBER = 0x1000,        /* + digits of a number, then each digit */
	W_DIGIT = 0x1100,
	W_LETTER = 0x2000,        /* + 4 * (base - 'a') + variant */
	W_OTHER = 0x10000,        /* + the code point */
};

struct sort_key {
	uint32_t *primary;        /* weights, case and tones ignored */
	uint8_t *tone;            /* per weight: the tone (0..5) */
	uint8_t *upper;           /* per weight: 1 for a capital */
	size_t n;
};

static void sort_key_clear(struct sort_key *k)
{
	free(k->primary);
	free(k->tone);
	free(k->upper);
	*k = (struct sort_key){ 0 };
}

/* A precomposed letter of vn_rows: its weight, tone and case; false if
 * cp is none of them. */
static bool vn_letter(uint32_t cp, uint32_t *ret_w, uint8_t *ret_tone,
		      uint8_t *ret_upper)
{
	size_t i, k, len, n;
	uint32_t c;

	for (i = 0; i < ARRAY_SIZE(vn_rows); i++) {
		for (k = 0; k < 2; k++) {
			const char *s = k ? vn_rows[i].upper
					  : vn_rows[i].lower;
			uint8_t tone = 0;

			for (len = strlen(s); len > 0; tone++) {
				n = out_utf8_decode(s, len, &c);
				if (n == 0)
					break;
				if (c == cp) {
					*ret_w = W_LETTER + 4u * (uint32_t)(
						vn_rows[i].base - 'a') +
						vn_rows[i].variant;
					*ret_tone = tone;
					*ret_upper = (uint8_t)k;
					return true;
				}
				s += n;
				len -= n;
			}
		}
	}
	return false;
}

/* A combining mark on the letter before it (decomposed text). */
static void combine(uint32_t cp, uint32_t *w, uint8_t *tone)
{
	static const uint32_t tones[] = { 0, 0x300, 0x301, 0x309, 0x303,
					  0x323 };
	uint32_t base, variant;
	size_t i;

	if (*w < W_LETTER || *w >= W_LETTER + 4 * 26)
		return;
	base = (*w - W_LETTER) / 4 + 'a';
	variant = (*w - W_LETTER) % 4;
	for (i = 1; i < ARRAY_SIZE(tones); i++)
		if (cp == tones[i])
			*tone = (uint8_t)i;
	if (variant == 0 && cp == 0x306 && base == 'a')           /* ă */
		variant = 1;
	else if (variant == 0 && cp == 0x302 && base == 'a')      /* â */
		variant = 2;
	else if (variant == 0 && cp == 0x302 &&
		 (base == 'e' || base == 'o'))                    /* ê ô */
		variant = 1;
	else if (variant == 0 && cp == 0x31b && base == 'o')      /* ơ */
		variant = 2;
	else if (variant == 0 && cp == 0x31b && base == 'u')      /* ư */
		variant = 1;
	*w = W_LETTER + 4 * (base - 'a') + variant;
}

static int sort_key_make(const char *s, struct sort_key *k)
{
	size_t len = strlen(s), i = 0, n, cap = len * 2 + 2;
	uint32_t cp, w;
	uint8_t tone, upper;

	*k = (struct sort_key){ 0 };
	k->primary = calloc(cap, sizeof(*k->primary));
	k->tone = calloc(cap, sizeof(*k->tone));
	k->upper = calloc(cap, sizeof(*k->upper));
	if (!k->primary || !k->tone || !k->upper) {
		sort_key_clear(k);
		return -ENOMEM;
	}
	while (i < len) {
		n = out_utf8_decode(s + i, len - i, &cp);
		if (n == 0) {
			cp = 0xfffd;
			n = 1;
		}
		tone = 0;
		upper = 0;
		if (cp >= '0' && cp <= '9') {
			/* A number: its count of digits (no leading zeros)
			 * first, so that 2 < 10, then the digits. */
			size_t start = i, end, d;

			while (start + 1 < len && s[start] == '0' &&
			       s[start + 1] >= '0' && s[start + 1] <= '9')
				start++;
			for (end = start; end < len && s[end] >= '0' &&
			     s[end] <= '9'; end++)
				;
			k->primary[k->n++] = W_NUMBER +
				(uint32_t)(end - start > 0xff ? 0xff
							       : end - start);
			for (d = start; d < end; d++)
				k->primary[k->n++] = W_DIGIT +
					(uint32_t)(s[d] - '0');
			i = end;
			continue;
		}
		if (cp >= 0x300 && cp <= 0x36f) {
			if (k->n > 0)
				combine(cp, &k->primary[k->n - 1],
					&k->tone[k->n - 1]);
			i += n;
			continue;
		}
		if (cp >= 'a' && cp <= 'z') {
			w = W_LETTER + 4 * (cp - 'a');
		} else if (cp >= 'A' && cp <= 'Z') {
			w = W_LETTER + 4 * (cp - 'A');
			upper = 1;
		} else if (cp < 0x80) {
			w = W_OTHER_ASCII + cp;
		} else if (!vn_letter(cp, &w, &tone, &upper)) {
			w = W_OTHER + cp;
		}
		k->primary[k->n] = w;
		k->tone[k->n] = tone;
		k->upper[k->n] = upper;
		k->n++;
		i += n;
	}
	return 0;
}

static int cmp_u32(const uint32_t *a, size_t na, const uint32_t *b,
		   size_t nb)
{
	size_t i;

	for (i = 0; i < na && i < nb; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return na < nb ? -1 : na > nb ? 1 : 0;
}

static int cmp_u8(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

/* Letters, then tones, then case decide. */
static int sort_key_cmp(const struct sort_key *a, const struct sort_key *b)
{
	int r = cmp_u32(a->primary, a->n, b->primary, b->n);

	if (r == 0)
		r = cmp_u8(a->tone, b->tone, a->n);
	if (r == 0)
		r = cmp_u8(a->upper, b->upper, a->n);
	return r;
}

/* ---- rows ---- */

struct row {
	const json_t *d;          /* the delivery, in the list of all */
	const char *group;        /* code, or "" */
	struct sort_key kgroup, kaddress, kname;
	json_int_t wave, id;
};

struct rows {
	struct row *v;
	size_t n;
};

static void rows_clear(struct rows *r)
{
	size_t i;

	for (i = 0; r->v && i < r->n; i++) {
		sort_key_clear(&r->v[i].kgroup);
		sort_key_clear(&r->v[i].kaddress);
		sort_key_clear(&r->v[i].kname);
	}
	free(r->v);
	*r = (struct rows){ 0 };
}
#define _cleanup_rows_ _cleanup_(rows_clear)

static const char *str_of(const json_t *d, const char *key)
{
	const char *s = json_string_value(json_object_get(d, key));

	return s ? s : "";
}

static int rows_add(struct rows *r, const json_t *d)
{
	struct row *row = &r->v[r->n];

	*row = (struct row){ .d = d };
	row->group = str_of(d, "group");
	row->wave = json_integer_value(json_object_get(d, "wave"));
	row->id = json_integer_value(json_object_get(d, "id"));
	if (sort_key_make(row->group, &row->kgroup) < 0 ||
	    sort_key_make(str_of(d, "address"), &row->kaddress) < 0 ||
	    sort_key_make(str_of(d, "name"), &row->kname) < 0) {
		r->n++;           /* so that rows_clear frees its keys */
		return -ENOMEM;
	}
	r->n++;
	return 0;
}

static int row_cmp(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;
	int r;

	r = sort_key_cmp(&a->kgroup, &b->kgroup);
	if (r == 0)
		r = strcmp(a->group, b->group);
	/* Households without an address last: they need asking about. */
	if (r == 0 && (a->kaddress.n == 0) != (b->kaddress.n == 0))
		r = a->kaddress.n == 0 ? 1 : -1;
	if (r == 0)
		r = sort_key_cmp(&a->kaddress, &b->kaddress);
	if (r == 0)
		r = sort_key_cmp(&a->kname, &b->kname);
	if (r == 0)
		r = a->wave < b->wave ? -1 : a->wave > b->wave;
	if (r == 0)
		r = a->id < b->id ? -1 : a->id > b->id;
	return r;
}

/* ---- what a row says ---- */

/* Sent, and no receipt came in time (loaxad's "unconfirmed" flag). */
static bool is_unconfirmed(const json_t *d)
{
	return streq(str_of(d, "status"), "sent") &&
	       json_is_true(json_object_get(d, "unconfirmed"));
}

/* The status as shown: "sent, unconfirmed" for an unconfirmed one. */
static const char *status_text(const json_t *d)
{
	return is_unconfirmed(d) ? "sent, unconfirmed" : str_of(d, "status");
}

static bool status_reached(const json_t *d)
{
	const char *s = str_of(d, "status");

	return (streq(s, "sent") && !is_unconfirmed(d)) ||
	       streq(s, "delivered") || streq(s, "read");
}

static bool status_pending(const char *s)
{
	return streq(s, "queued") || streq(s, "sending");
}

/* The statuses of a household that was not reached, and a delivery sent
 * but never confirmed. */
static bool status_not_reached(const json_t *d)
{
	const char *s = str_of(d, "status");

	return streq(s, "failed") || streq(s, "expired") ||
	       streq(s, "skipped") || streq(s, "cancelled") ||
	       is_unconfirmed(d);
}

/* "+84912345678" -> "0912 345 678" (0 and the national number, 4-3-3);
 * anything else as it is. */
static char *phone_national(const char *e164)
{
	const char *nsn;
	size_t i;
	char *s;

	if (strlen(e164) != 12 || strncmp(e164, "+84", 3) != 0)
		return strdup(e164);
	nsn = e164 + 3;
	for (i = 0; i < 9; i++)
		if (nsn[i] < '0' || nsn[i] > '9')
			return strdup(e164);
	if (asprintf(&s, "0%.3s %.3s %.3s", nsn, nsn + 3, nsn + 6) < 0)
		return NULL;
	return s;
}

/* Why a delivery did not reach its household, in plain words: the
 * provider's message for a failure. with_code: "code: message". Empty for
 * a delivery that reached it or is still on its way. */
static char *reason_text(const json_t *d, bool with_code)
{
	const char *status = str_of(d, "status");
	const char *code = str_of(d, "code"), *msg = str_of(d, "message");
	char *s;

	if (streq(status, "failed")) {
		if (with_code && code[0] && msg[0]) {
			if (asprintf(&s, "%s: %s", code, msg) < 0)
				return NULL;
			return s;
		}
		return strdup(msg[0] ? msg : code[0] ? code
					   : "gửi không thành công");
	}
	if (streq(status, "skipped"))
		return strdup(streq(code, "removed") ? "hộ đã bị xoá"
			      : streq(code, "opted_out") ? "từ chối nhận tin"
			      : "bỏ qua");
	if (streq(status, "expired"))
		return strdup("hết hạn");
	if (streq(status, "cancelled"))
		return strdup("đã huỷ gửi");
	if (is_unconfirmed(d))
		return strdup("đã gửi, chưa xác nhận nhận tin");
	return strdup("");
}

/* ---- fetching ---- */

/* The groups' display names by code; an empty object when loaxad cannot
 * say (the headings then show the codes). */
static json_t *fetch_group_names(struct cli *c)
{
	_cleanup_answer_ struct client_answer ans = { 0 };
	_cleanup_json_ json_t *root = NULL;
	json_t *names = json_object(), *g;
	size_t i;

	if (!names)
		return NULL;
	if (client_request(c, "GET", "/v1/groups", NULL, NULL, 0,
			   CLI_TIMEOUT_MS, &ans) != 0 || ans.status != 200)
		return names;
	root = json_loadb(ans.body, ans.len, 0, NULL);
	json_array_foreach(json_object_get(root, "groups"), i, g) {
		const char *code = json_string_value(json_object_get(g,
								     "code"));
		json_t *name = json_object_get(g, "name");

		if (code && json_is_string(name))
			json_object_set(names, code, name);
	}
	return names;
}

/* Keep every delivery, or, for --not-reached, one per household that
 * none reached: its latest delivery. *ret_pending counts the households
 * not reached so far with a delivery still queued or sending. */
static int select_rows(const json_t *all, bool not_reached,
		       struct rows *rows, size_t *ret_pending)
{
	_cleanup_json_ json_t *by_household = NULL;
	const json_t *d;
	const char *key;
	json_t *v;
	size_t i;

	*ret_pending = 0;
	rows->v = calloc(json_array_size(all) + 1, sizeof(*rows->v));
	if (!rows->v)
		return -ENOMEM;
	if (!not_reached) {
		json_array_foreach(all, i, d)
			if (rows_add(rows, d) < 0)
				return -ENOMEM;
		return 0;
	}

	/* household id -> [reached?, pending?, index of latest missed] */
	by_household = json_object();
	if (!by_household)
		return -ENOMEM;
	json_array_foreach(all, i, d) {
		const char *st = str_of(d, "status");
		json_t *h;
		char hid[32];

		snprintf(hid, sizeof(hid), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(d,
							    "household_id")));
		h = json_object_get(by_household, hid);
		if (!h) {
			h = json_pack("[bbn]", false, false);
			if (!h || json_object_set_new(by_household, hid,
						      h) < 0)
				return -ENOMEM;
		}
		if (status_reached(d))
			json_array_set_new(h, 0, json_true());
		else if (status_pending(st))
			json_array_set_new(h, 1, json_true());
		else if (status_not_reached(d)) {
			const json_t *prev = json_array_get(
				all, (size_t)json_integer_value(
					json_array_get(h, 2)));
			json_int_t wave = json_integer_value(
				json_object_get(d, "wave"));

			/* The latest wave's reason is the one that counts. */
			if (json_is_null(json_array_get(h, 2)) ||
			    wave >= json_integer_value(json_object_get(
					    prev, "wave")))
				json_array_set_new(h, 2,
						   json_integer((json_int_t)i));
		}
	}
	json_object_foreach(by_household, key, v) {
		if (json_is_true(json_array_get(v, 0)))
			continue;
		if (json_is_true(json_array_get(v, 1))) {
			(*ret_pending)++;
			continue;
		}
		if (json_is_integer(json_array_get(v, 2)) &&
		    rows_add(rows, json_array_get(
				     all, (size_t)json_integer_value(
					     json_array_get(v, 2)))) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* ---- output ---- */

/* One CSV field: quoted when it must be; a cell Excel would take for a
 * formula (=, +, -, @ first) gets a leading apostrophe. */
static void csv_field(FILE *f, const char *s, bool last)
{
	bool quote = strpbrk(s, ",\"\r\n") != NULL ||
		     (s[0] == ' ' || (s[0] && s[strlen(s) - 1] == ' '));
	const char *p;

	if (quote)
		fputc('"', f);
	if (strchr("=+-@\t\r", s[0]) && s[0])
		fputc('\'', f);
	for (p = s; *p; p++) {
		if (*p == '"')
			fputc('"', f);
		fputc(*p, f);
	}
	if (quote)
		fputc('"', f);
	fputs(last ? "\r\n" : ",", f);
}

static int print_csv(const struct rows *rows)
{
	size_t i, k;

	fputs(UTF8_BOM, stdout);
	fputs(csv_header, stdout);
	fputs("\r\n", stdout);
	for (i = 0; i < rows->n; i++) {
		const json_t *d = rows->v[i].d;
		_cleanup_free_ char *phone = phone_national(str_of(d, "phone"));
		_cleanup_free_ char *reason = reason_text(d, false);
		const char *msg = str_of(d, "message");
		const char *cells[8];

		if (!phone || !reason)
			return oom();
		cells[0] = rows->v[i].group;
		cells[1] = str_of(d, "name");
		cells[2] = str_of(d, "address");
		cells[3] = phone;
		cells[4] = status_text(d);
		cells[5] = str_of(d, "channel");
		cells[6] = str_of(d, "code");
		/* For a household not reached, why, in plain words. */
		cells[7] = status_not_reached(d) ? reason : msg;
		for (k = 0; k < ARRAY_SIZE(cells); k++)
			csv_field(stdout, cells[k], k + 1 == ARRAY_SIZE(cells));
	}
	return CLI_EXIT_OK;
}

static const char *group_name(const json_t *names, const char *code)
{
	const char *n = json_string_value(json_object_get(names, code));

	return n && n[0] ? n : NULL;
}

/* Rows [from, to) of one group as a table. */
static int print_group_table(const struct rows *rows, size_t from, size_t to,
			     bool not_reached, bool waves)
{
	static const char *const plain_heads[] = {
		"NAME", "ADDRESS", "PHONE", "STATUS", "CHANNEL", "WAVE",
		"REASON",
	};
	static const char *const vn_heads[] = {
		"#", "HỌ TÊN", "ĐỊA CHỈ", "ĐIỆN THOẠI", "LÝ DO",
	};
	_cleanup_table_ struct out_table *t = NULL;
	size_t i;

	if (not_reached) {
		t = out_table_new(ARRAY_SIZE(vn_heads), vn_heads);
		if (t)
			out_table_align_right(t, 0);
	} else if (waves) {
		t = out_table_new(ARRAY_SIZE(plain_heads), plain_heads);
		if (t)
			out_table_align_right(t, 5);
	} else {
		const char *h[] = { "NAME", "ADDRESS", "PHONE", "STATUS",
				    "CHANNEL", "REASON" };

		t = out_table_new(ARRAY_SIZE(h), h);
	}
	if (!t)
		return oom();
	for (i = from; i < to; i++) {
		const json_t *d = rows->v[i].d;
		_cleanup_free_ char *phone = phone_national(str_of(d, "phone"));
		_cleanup_free_ char *reason = reason_text(d, !not_reached);
		_cleanup_free_ char *wave = NULL, *num = NULL;
		int r;

		if (!phone || !reason)
			return oom();
		if (not_reached) {
			if (asprintf(&num, "%zu", i - from + 1) < 0)
				return oom();
			r = out_table_add(t, (const char *[]){
				num, str_of(d, "name"), str_of(d, "address"),
				phone, reason });
		} else if (waves) {
			wave = out_value(json_object_get(d, "wave"), "");
			if (!wave)
				return oom();
			r = out_table_add(t, (const char *[]){
				str_of(d, "name"), str_of(d, "address"),
				phone, status_text(d),
				str_of(d, "channel"), wave, reason });
		} else {
			r = out_table_add(t, (const char *[]){
				str_of(d, "name"), str_of(d, "address"),
				phone, status_text(d),
				str_of(d, "channel"), reason });
		}
		if (r < 0)
			return oom();
	}
	out_table_print(t, stdout);
	return 0;
}

static int print_tables(const struct rows *rows, const json_t *names,
			const char *title, bool not_reached, size_t pending)
{
	bool waves = false;
	size_t i, from;
	int r;

	for (i = 1; i < rows->n && !waves; i++)
		waves = rows->v[i].wave != rows->v[0].wave;
	if (not_reached && rows->n == 0) {
		fputs("Danh sách hộ chưa nhận được tin " DASH " ", stdout);
		out_put_clean(stdout, title);
		fputs("\nKhông có hộ nào: tất cả các hộ đã nhận được tin.\n",
		      stdout);
	} else if (rows->n == 0) {
		fprintf(stderr, "No deliveries found.\n");
	}
	for (from = 0; from < rows->n; from = i) {
		const char *code = rows->v[from].group;
		const char *name = group_name(names, code);

		for (i = from; i < rows->n && streq(rows->v[i].group, code);
		     i++)
			;
		if (from > 0)
			fputc('\n', stdout);
		if (not_reached) {
			fputs("Danh sách hộ chưa nhận được tin " DASH " ",
			      stdout);
			out_put_clean(stdout, title);
			fputc('\n', stdout);
			out_put_clean(stdout, name ? name : code[0] ? code
					      : "(không có nhóm)");
			printf(": %zu hộ\n\n", i - from);
		} else {
			out_put_clean(stdout, name ? name : code[0] ? code
					      : "(no group)");
			if (name && !streq(name, code)) {
				fputs(" (", stdout);
				out_put_clean(stdout, code);
				fputc(')', stdout);
			}
			printf(": %zu deliver%s\n", i - from,
			       i - from == 1 ? "y" : "ies");
		}
		r = print_group_table(rows, from, i, not_reached, waves);
		if (r)
			return r;
	}
	if (not_reached && rows->n > 0)
		printf("\nTổng cộng: %zu hộ chưa nhận được tin.\n", rows->n);
	if (not_reached && pending > 0)
		printf("Còn %zu hộ đang chờ gửi, chưa có trong danh sách: "
		       "xem lại khi gửi xong.\n", pending);
	return CLI_EXIT_OK;
}

int cmd_report(struct cli *c, const struct cli_args *a)
{
	_cleanup_json_ json_t *b = NULL, *all = NULL, *names = NULL;
	_cleanup_rows_ struct rows rows = { 0 };
	_cleanup_sbuf_ struct sbuf dpath = SBUF_INIT(64 * 1024);
	_cleanup_free_ char *title = NULL;
	bool not_reached = cli_args_get(a, OPT_NOT_REACHED);
	bool csv = cli_args_get(a, OPT_CSV);
	char path[64];
	size_t pending = 0;
	int64_t id;
	int r;

	r = broadcast_parse_id(c, a->pos[0], &id);
	if (r)
		return r;
	if (not_reached && cli_args_get(a, OPT_STATUS))
		return cli_usage(c, "--status and --not-reached exclude each "
				 "other");
	if (csv && c->json)
		return cli_usage(c, "--csv and --json exclude each other");

	snprintf(path, sizeof(path), "/v1/broadcasts/%" PRId64, id);
	r = client_call(c, "GET", path, NULL, &b);
	if (r)
		return r;
	title = out_value(json_object_get(b, "title"), "");
	if (!title)
		return oom();
	r = broadcast_deliveries_path(c, a, id, DELIVERY_PAGE, &dpath);
	if (r)
		return r;
	r = client_get_all(c, sbuf_str(&dpath), "deliveries",
			   CLIENT_AFTER_ID, &all, NULL);
	if (r)
		return r;
	names = c->json || csv ? json_object() : fetch_group_names(c);
	if (!names)
		return oom();
	if (select_rows(all, not_reached, &rows, &pending) < 0)
		return oom();
	if (rows.n > 1)
		qsort(rows.v, rows.n, sizeof(*rows.v), row_cmp);

	if (c->json) {
		_cleanup_json_ json_t *out = NULL, *list = json_array();
		size_t i;

		for (i = 0; list && i < rows.n; i++)
			if (json_array_append(list, (json_t *)rows.v[i].d) < 0)
				return oom();
		out = list ? json_pack("{s:I,s:s,s:O,s:I}", "broadcast",
				       (json_int_t)id, "title", title,
				       "deliveries", list, "pending",
				       (json_int_t)pending) : NULL;
		if (!out)
			return oom();
		return cli_print_json(out);
	}
	if (csv)
		return print_csv(&rows);
	return print_tables(&rows, names, title, not_reached, pending);
}
