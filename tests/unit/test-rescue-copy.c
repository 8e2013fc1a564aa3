/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rescue copy of refreshed tokens: round trip, file mode, removal and
 * refused files. */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "rescue-copy.h"
#include "test-helpers.h"

#define FP "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
test_round_trip (void)
{
  g_autofree char *dir = test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "state", "rescue-copy.json", NULL);
  g_autoptr(AuthRecord) record = auth_record_new_api_key ("sk-rescued");
  g_autoptr(AuthRecord) back = NULL;
  g_autofree char *base = NULL;
  g_autoptr(GError) error = NULL;
  struct stat st;

  g_assert_null (rescue_copy_load (path, &base, &error));
  g_assert_no_error (error);
  g_assert_null (base);

  g_assert_true (rescue_copy_save (path, record, FP, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  back = rescue_copy_load (path, &base, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (base, ==, FP);
  g_assert_cmpstr (auth_record_get_fingerprint (back), ==, auth_record_get_fingerprint (record));

  g_assert_true (rescue_copy_remove (path, &error));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_true (rescue_copy_remove (path, &error));
  g_assert_no_error (error);
  test_remove_tree (dir);
}

static void
test_refused (void)
{
  static const char *const files[] = {
    "",
    "{}",
    "{\"base_fingerprint\":\"short\",\"record\":\"{}\"}",
    "{\"base_fingerprint\":\"" FP "\"}",
    "{\"base_fingerprint\":\"" FP "\",\"record\":\"{\\\"tokens\\\":7}\"}",
    "{\"base_fingerprint\":\"" FP "\",\"record\":{}}",
  };
  g_autofree char *dir = test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "rescue-copy.json", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *base = NULL;
      g_autoptr(AuthRecord) record = NULL;

      g_assert_true (g_file_set_contents (path, files[i], -1, NULL));
      record = rescue_copy_load (path, &base, &error);
      g_assert_null (record);
      g_assert_null (base);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    }
  test_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/rescue-copy/round-trip", test_round_trip);
  g_test_add_func ("/rescue-copy/refused", test_refused);

  return g_test_run ();
}
