/* test-directory: the directory rules over a real SQLite store in a
 * temporary directory: group resolution, households, CSV import/export. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loaxa/directory.h"
#include "loaxa/log.h"

struct fx {
	char dir[64];
	char db[128];
	struct store *s;
	struct directory *d;
	struct config *cfg;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/loaxa-test-dir.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof f->db, "%s/loaxa.db", f->dir);
	char err[256];
	assert_int_equal(store_open(f->db, &f->s, err, sizeof err), 0);
	assert_int_equal(directory_new(f->s, &f->d), 0);
	f->cfg = config_new_default();
	assert_non_null(f->cfg);
	assert_int_equal(directory_sync_groups(f->d, f->cfg->groups,
					       f->cfg->ngroups), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	directory_free(f->d);
	store_close(f->s);
	config_free(f->cfg);
	char cmd[160];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void resolve_ok(struct directory *d, const char *ident,
		       const char *code)
{
	struct group_rec g = { 0 };
	int r = directory_group_resolve(d, ident, &g);
	if (r != 0)
		fail_msg("resolve '%s': %d", ident, r);
	assert_string_equal(g.code, code);
	group_rec_clear(&g);
}

static void test_group_resolve(void **state)
{
	struct fx *f = *state;
	resolve_ok(f->d, "dong-tan", "dong-tan");
	resolve_ok(f->d, "dong tan", "dong-tan");
	resolve_ok(f->d, "Đông Tân", "dong-tan");
	resolve_ok(f->d, "DONG-TAN", "dong-tan");
	resolve_ok(f->d, "Nhóm dân cư Đông Tân", "dong-tan");
	resolve_ok(f->d, "nhom dan cu dong tan", "dong-tan");
	resolve_ok(f->d, "2a", "2A");
	resolve_ok(f->d, "Nam Hà", "nam-ha");
	struct group_rec g = { 0 };
	assert_int_equal(directory_group_resolve(f->d, "Đông Hà", &g), -ENOENT);
	assert_int_equal(directory_group_resolve(f->d, "", &g), -ENOENT);
	assert_int_equal(directory_group_resolve(f->d, "---", &g), -ENOENT);
}

static void test_group_rules(void **state)
{
	struct fx *f = *state;
	struct verrors ve = { 0 };
	struct group_rec g = { 0 };
	assert_int_equal(directory_group_add(f->d, "3C", "Nhóm dân cư 3C", &ve,
					     &g), 0);
	assert_false(g.from_config);
	group_rec_clear(&g);
	assert_int_equal(directory_group_add(f->d, "3c", "x", &ve, &g),
			 -EEXIST);
	verrors_clear(&ve);
	assert_int_equal(directory_group_add(f->d, "bad code", "", &ve, &g),
			 -EINVAL);
	assert_int_equal(ve.n, 2);
	assert_string_equal(ve.v[0].field, "code");
	assert_string_equal(ve.v[1].field, "name");
	verrors_clear(&ve);
	/* config groups are managed in the config */
	assert_int_equal(directory_group_rename(f->d, "2A", "x", &ve, &g),
			 -EPERM);
	assert_int_equal(directory_group_remove(f->d, "2A", true), -EPERM);
	assert_int_equal(directory_group_rename(f->d, "3C", "Tổ 3C", &ve, &g),
			 0);
	assert_string_equal(g.name, "Tổ 3C");
	group_rec_clear(&g);
	resolve_ok(f->d, "to 3c", "3C");
	assert_int_equal(directory_group_remove(f->d, "3C", false), 0);
	assert_int_equal(directory_group_remove(f->d, "3C", false), -ENOENT);
}

static void test_sync_groups(void **state)
{
	struct fx *f = *state;
	struct config_group g[] = {
		{ .code = "2A", .name = "Tổ 2A mới" },
		{ .code = "moi", .name = "Nhóm mới" },
	};
	assert_int_equal(directory_sync_groups(f->d, g, 2), 0);
	struct group_rec r = { 0 };
	assert_int_equal(directory_group_resolve(f->d, "2A", &r), 0);
	assert_string_equal(r.name, "Tổ 2A mới");
	assert_true(r.from_config);
	group_rec_clear(&r);
	/* dropped from the config: kept, now API-managed */
	assert_int_equal(directory_group_resolve(f->d, "nam-ha", &r), 0);
	assert_false(r.from_config);
	group_rec_clear(&r);
	assert_int_equal(directory_group_resolve(f->d, "moi", &r), 0);
	group_rec_clear(&r);
}

static void test_household_add_update(void **state)
{
	struct fx *f = *state;
	const char *phones[] = { "0912 345 678", "01662345678", "0912345678" };
	struct household_patch p = { .group = "Đông Tân",
				     .name = "  Nguyễn Văn An ",
				     .phones = phones, .nphones = 3,
				     .address = "", .set = HP_ADDRESS };
	struct verrors ve = { 0 };
	struct household h = { 0 };
	assert_int_equal(directory_household_add(f->d, &p, &ve, &h), 0);
	assert_string_equal(h.name, "Nguyễn Văn An");
	assert_string_equal(h.group_code, "dong-tan");
	assert_int_equal(h.nphones, 2);  /* duplicate collapsed */
	assert_string_equal(h.phones[0], "+84912345678");
	assert_string_equal(h.phones[1], "+84362345678");
	assert_null(h.address);
	int64_t id = h.id;
	household_clear(&h);

	/* the same number for another household: refused, owner named */
	const char *p2[] = { "+84 912 345 678" };
	struct household_patch q = { .group = "2A", .name = "Trần Thị B",
				     .phones = p2, .nphones = 1 };
	assert_int_equal(directory_household_add(f->d, &q, &ve, &h), -EEXIST);
	assert_int_equal(ve.n, 1);
	assert_string_equal(ve.v[0].field, "phones[0]");
	assert_string_equal(ve.v[0].code, "phone_taken");
	verrors_clear(&ve);

	/* every invalid field reported at once */
	const char *bad[] = { "028 3829 1234", "abc" };
	struct household_patch b = { .group = "nowhere", .name = " ",
				     .phones = bad, .nphones = 2 };
	assert_int_equal(directory_household_add(f->d, &b, &ve, &h), -EINVAL);
	assert_int_equal(ve.n, 4);
	assert_string_equal(ve.v[0].field, "group");
	assert_string_equal(ve.v[1].field, "name");
	assert_string_equal(ve.v[2].field, "phones[0]");
	assert_string_equal(ve.v[2].code, "landline");
	assert_string_equal(ve.v[3].field, "phones[1]");
	verrors_clear(&ve);

	/* update: only the fields set change; null clears */
	struct household_patch u = { .set = HP_NOTE | HP_GROUP,
				     .note = "Nhà cạnh chợ", .group = "2B" };
	assert_int_equal(directory_household_update(f->d, id, &u, &ve, &h), 0);
	assert_string_equal(h.note, "Nhà cạnh chợ");
	assert_string_equal(h.group_code, "2B");
	assert_string_equal(h.name, "Nguyễn Văn An");
	household_clear(&h);
	u = (struct household_patch){ .set = HP_NOTE };
	assert_int_equal(directory_household_update(f->d, id, &u, &ve, &h), 0);
	assert_null(h.note);
	household_clear(&h);
	assert_int_equal(directory_household_update(f->d, 9999, &u, &ve, &h),
			 -ENOENT);
}

static int import_str(struct fx *f, const char *csv, const char *group,
		      bool dry, struct import_report *rep, struct verrors *ve)
{
	return directory_import(f->d, csv, strlen(csv), group, dry, rep, ve);
}

static void test_import_basic(void **state)
{
	struct fx *f = *state;
	const char *csv =
		"\xEF\xBB\xBFSTT;Họ tên;Số điện thoại;Nhóm;Địa chỉ;Ghi chú\n"
		"1;Nguyễn Văn An;0912 345 678;Đông Tân;\"Thôn 1; xã Đông Hà\";\n"
		"2;Trần Thị Bình;0987.654.321 / 0912.000.111;2A;;\"dòng 1\n"
		"dòng 2\"\n"
		"3;Lê Văn Cường;028 3829 1234;2A;;\n"
		"4;Phạm Thị Dung;0913 111 222 / 024 1234 5678;2B;;\n"
		"5;Hoàng Văn Em;0912345678;2B;;\n"
		"6;Vũ Thị Giang;0914 222 333;Đông Hà;;\n"
		";;;;;\n"
		"7;;0915 333 444;2A;;\n";
	struct import_report rep = { 0 };
	struct verrors ve = { 0 };
	assert_int_equal(import_str(f, csv, NULL, false, &rep, &ve), 0);
	assert_int_equal(rep.rows, 7);
	assert_int_equal(rep.created, 3);
	assert_int_equal(rep.updated, 0);
	assert_int_equal(rep.nrejected, 4);
	/* line numbers are physical lines; the quoted newline counts */
	assert_int_equal(rep.rejected[0].line, 5);
	assert_string_equal(rep.rejected[0].column, "phone");
	assert_string_equal(rep.rejected[0].code, "landline");
	assert_string_equal(rep.rejected[1].code, "duplicate");
	assert_int_equal(rep.rejected[1].line, 7);
	assert_non_null(strstr(rep.rejected[1].message, "line 2"));
	assert_string_equal(rep.rejected[2].code, "unknown_group");
	assert_int_equal(rep.rejected[3].line, 10);
	assert_string_equal(rep.rejected[3].column, "name");
	assert_int_equal(rep.nwarnings, 1);
	assert_int_equal(rep.warnings[0].line, 6);
	assert_string_equal(rep.warnings[0].code, "landline");
	import_report_clear(&rep);

	struct household h = { 0 };
	int64_t id;
	assert_int_equal(store_phone_owner(f->s, "+84912000111", &id), 0);
	assert_int_equal(store_household_get(f->s, id, &h), 0);
	assert_string_equal(h.name, "Trần Thị Bình");
	assert_string_equal(h.note, "dòng 1\ndòng 2");
	assert_int_equal(h.nphones, 2);
	household_clear(&h);

	/* same file again: nothing changes */
	assert_int_equal(import_str(f, csv, NULL, false, &rep, &ve), 0);
	assert_int_equal(rep.created, 0);
	assert_int_equal(rep.unchanged, 3);
	import_report_clear(&rep);
}

static void test_import_update_and_dry_run(void **state)
{
	struct fx *f = *state;
	struct import_report rep = { 0 };
	struct verrors ve = { 0 };
	assert_int_equal(import_str(f, "name,phone\nAn,0912345678\n", "2A",
				    false, &rep, &ve), 0);
	assert_int_equal(rep.created, 1);
	import_report_clear(&rep);
	/* a new name and a second number: updated, numbers united */
	assert_int_equal(import_str(f, "name,phone,address\n"
				    "Nguyễn Văn An,0912345678 / 0987654321,"
				    "Thôn 2\n", "2A", false, &rep, &ve), 0);
	assert_int_equal(rep.updated, 1);
	import_report_clear(&rep);
	int64_t id;
	struct household h = { 0 };
	assert_int_equal(store_phone_owner(f->s, "+84987654321", &id), 0);
	assert_int_equal(store_household_get(f->s, id, &h), 0);
	assert_int_equal(h.nphones, 2);
	assert_string_equal(h.address, "Thôn 2");
	household_clear(&h);

	/* dry run: reported, not written */
	struct store_counts before, after;
	assert_int_equal(store_counts(f->s, &before), 0);
	assert_int_equal(import_str(f, "name,phone\nBình,0913000000\n", "2B",
				    true, &rep, &ve), 0);
	assert_true(rep.dry_run);
	assert_int_equal(rep.created, 1);
	import_report_clear(&rep);
	assert_int_equal(store_counts(f->s, &after), 0);
	assert_int_equal(before.households, after.households);

	/* numbers of two households on one row: rejected */
	assert_int_equal(import_str(f, "name,phone\nX,0913000001\n", "2B",
				    false, &rep, &ve), 0);
	import_report_clear(&rep);
	assert_int_equal(import_str(f, "name,phone\nY,0912345678 0913000001\n",
				    "2B", false, &rep, &ve), 0);
	assert_int_equal(rep.nrejected, 1);
	assert_string_equal(rep.rejected[0].code, "phone_conflict");
	import_report_clear(&rep);
}

static void test_import_file_errors(void **state)
{
	struct fx *f = *state;
	struct import_report rep = { 0 };
	struct verrors ve = { 0 };
	assert_int_equal(import_str(f, "", "2A", false, &rep, &ve), -EINVAL);
	assert_string_equal(ve.v[0].code, "empty");
	verrors_clear(&ve);
	import_report_clear(&rep);
	assert_int_equal(import_str(f, "name,phone\n", "2A", false, &rep, &ve),
			 -EINVAL);
	assert_string_equal(ve.v[0].code, "no_rows");
	verrors_clear(&ve);
	import_report_clear(&rep);
	assert_int_equal(import_str(f, "a,b\n1,2\n", NULL, false, &rep, &ve),
			 -EINVAL);
	assert_int_equal(ve.n, 3);  /* no phone, no name, no group */
	verrors_clear(&ve);
	import_report_clear(&rep);
	assert_int_equal(import_str(f, "name,phone\nAn,0912\xff\n", "2A",
				    false, &rep, &ve), -EINVAL);
	assert_string_equal(ve.v[0].code, "invalid_utf8");
	assert_non_null(strstr(ve.v[0].message, "line 2"));
	verrors_clear(&ve);
	import_report_clear(&rep);
	assert_int_equal(import_str(f, "name,phone\nAn,0912345678\n",
				    "no such group", false, &rep, &ve),
			 -EINVAL);
	assert_string_equal(ve.v[0].code, "unknown_group");
	verrors_clear(&ve);
	import_report_clear(&rep);
}

static void test_export_roundtrip(void **state)
{
	struct fx *f = *state;
	struct import_report rep = { 0 };
	struct verrors ve = { 0 };
	const char *csv = "nhom,ho_ten,sdt,dia_chi,ghi_chu,zalo_id\n"
			  "2A,\"Nguyễn \"\"Ba\"\" An\",0912345678,"
			  "\"Thôn 1, Đông Hà\",\"a\nb\",12345\n"
			  "nam-ha,Trần Bình,0987654321 0913000111,,,\n";
	assert_int_equal(import_str(f, csv, NULL, false, &rep, &ve), 0);
	assert_int_equal(rep.created, 2);
	import_report_clear(&rep);
	struct buf out;
	buf_init(&out, 1 << 20);
	assert_int_equal(directory_export(f->d, NULL, &out), 0);
	assert_non_null(strstr(out.data, "\"Nguyễn \"\"Ba\"\" An\""));
	assert_non_null(strstr(out.data, "+84987654321 +84913000111"));
	assert_int_equal(import_str(f, out.data, NULL, false, &rep, &ve), 0);
	assert_int_equal(rep.rows, 2);
	assert_int_equal(rep.unchanged, 2);
	assert_int_equal(rep.created + rep.updated + rep.nrejected, 0);
	import_report_clear(&rep);
	buf_free(&out);
	buf_init(&out, 1 << 20);
	assert_int_equal(directory_export(f->d, "Nam Hà", &out), 0);
	assert_null(strstr(out.data, "Nguyễn"));
	assert_non_null(strstr(out.data, "Trần Bình"));
	buf_free(&out);
	assert_int_equal(directory_export(f->d, "nowhere", &out), -ENOENT);
}

int main(void)
{
	log_set_level(LOG_LVL_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_group_resolve, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_group_rules, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sync_groups, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_household_add_update,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_basic, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_import_update_and_dry_run,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_file_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_export_roundtrip, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
