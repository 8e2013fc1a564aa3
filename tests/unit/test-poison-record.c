/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The persisted poison record: round trip, file modes, removal, and the
 * files that are refused. */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "poison-record.h"
#include "test-helpers.h"

#define FP "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
test_round_trip (void)
{
  g_autofree char *dir = test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "state", "codex-authd", "poison.json", NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  g_autoptr(PoisonRecord) record = poison_record_new (FP, "refresh_token_reused", "Log in again.", 401,
                                                      G_GINT64_CONSTANT (1800000000000000));
  g_autoptr(PoisonRecord) back = NULL;
  g_autoptr(PoisonRecord) copy = poison_record_copy (record);
  g_autoptr(PoisonRecord) other = poison_record_new (FP, "refresh_token_expired", "Log in again.", 401,
                                                     G_GINT64_CONSTANT (1800000000000000));
  g_autoptr(GError) error = NULL;
  struct stat st;

  g_assert_true (poison_record_equal (record, copy));
  g_assert_false (poison_record_equal (record, other));
  g_assert_false (poison_record_equal (record, NULL));
  g_assert_true (poison_record_equal (NULL, NULL));

  /* Nothing stored yet: no record, no error. */
  g_assert_null (poison_record_load (path, &error));
  g_assert_no_error (error);

  g_assert_true (poison_record_save (path, record, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_cmpint (g_stat (parent, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
  back = poison_record_load (path, &error);
  g_assert_no_error (error);
  g_assert_true (poison_record_equal (record, back));

  g_assert_true (poison_record_remove (path, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_true (poison_record_remove (path, &error));
  g_assert_no_error (error);
  test_remove_tree (dir);
}

static void
test_refused (void)
{
  static const char *const files[] = {
    "",
    "[]",
    "{\"fingerprint\":\"short\",\"code\":\"x\",\"http_status\":401}",
    "{\"fingerprint\":\"" FP "\",\"http_status\":401}",
    "{\"fingerprint\":\"" FP "\",\"code\":\"\",\"http_status\":401}",
    "{\"fingerprint\":\"" FP "\",\"code\":\"x\",\"http_status\":1000}",
    "{\"fingerprint\":\"" FP "\",\"code\":\"x\",\"http_status\":-1}",
    "{\"fingerprint\":5,\"code\":\"x\"}",
    "\xff\xfe{}",
  };
  g_autofree char *dir = test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "poison.json", NULL);
  g_autofree char *deep = test_nested_json ("{\"fingerprint\":\"" FP "\",\"code\":\"x\",\"y\":", 30000, "}");

  {
    g_autoptr(GError) error = NULL;

    g_assert_true (g_file_set_contents (path, deep, -1, NULL));
    g_assert_null (poison_record_load (path, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  }
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PoisonRecord) record = NULL;

      g_assert_true (g_file_set_contents (path, files[i], -1, NULL));
      record = poison_record_load (path, &error);
      g_test_message ("case %u: %s", i, error != NULL ? error->message : "(accepted)");
      g_assert_null (record);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_nonnull (strstr (error->message, path));
    }
  test_remove_tree (dir);
}

static void
test_default_path (void)
{
  g_autofree char *path = poison_record_default_path ();

  g_assert_true (g_str_has_suffix (path, "/codex-authd/poison.json"));
  g_assert_true (g_path_is_absolute (path));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/poison-record/round-trip", test_round_trip);
  g_test_add_func ("/poison-record/refused", test_refused);
  g_test_add_func ("/poison-record/default-path", test_default_path);

  return g_test_run ();
}
