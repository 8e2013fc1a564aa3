/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The file store: reading, writing and removing auth.json the way the
 * Codex CLI does, and the cross-process lock. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include "auth-record.h"
#include "sensitive.h"
#include "store-file.h"
#include "test-helpers.h"



static void
test_store_file_load (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = test_make_tmpdir ();
  g_autoptr(StoreFile) store = NULL;
  g_autoptr(AuthRecord) r = NULL;
  g_autofree char *path = NULL;
  FILE *f;

  g_assert_no_error (error);
  store = store_file_new (dir, NULL);
  path = g_build_filename (dir, "auth.json", NULL);
  g_assert_cmpstr (store_file_describe (store), ==, path);

  /* No file: no record and no error. */
  r = store_file_load_sync (store, &error);
  g_assert_no_error (error);
  g_assert_null (r);

  g_assert_true (g_file_set_contents_full (path, "{\"OPENAI_API_KEY\":\"sk-file\"}", -1,
                                           G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error));
  r = store_file_load_sync (store, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (auth_record_get_api_key (r), ==, "sk-file");
  g_clear_pointer (&r, auth_record_unref);

  /* Malformed: the error names the file and the problem. */
  g_assert_true (g_file_set_contents (path, "{\"tokens\":7}", -1, &error));
  r = store_file_load_sync (store, &error);
  g_assert_null (r);
  g_assert_error (error, AUTH_RECORD_ERROR, AUTH_RECORD_ERROR_INVALID_SHAPE);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);

  /* Oversized: refused from its size, without parsing. */
  f = fopen (path, "w");
  g_assert_nonnull (f);
  g_assert_cmpint (fseek (f, 2 * AUTH_RECORD_MAX_SIZE, SEEK_SET), ==, 0);
  fputc ('}', f);
  fclose (f);
  r = store_file_load_sync (store, &error);
  g_assert_null (r);
  g_assert_error (error, AUTH_RECORD_ERROR, AUTH_RECORD_ERROR_TOO_LARGE);
  g_clear_error (&error);

  /* A directory where the file should be. */
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  r = store_file_load_sync (store, &error);
  g_assert_null (r);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);

  g_assert_cmpint (g_rmdir (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* TRUE when another open file description can take @path's flock. */
static gboolean
lock_is_free (const char *path)
{
  int fd = open (path, O_RDWR | O_CLOEXEC);
  gboolean free_;

  g_assert_cmpint (fd, >=, 0);
  free_ = flock (fd, LOCK_EX | LOCK_NB) == 0;
  close (fd);
  return free_;
}

static void
test_store_file_save_and_delete (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = test_make_tmpdir ();
  g_autofree char *home = g_build_filename (dir, "codex", NULL);
  g_autofree char *path = g_build_filename (home, "auth.json", NULL);
  g_autofree char *data_lock = g_build_filename (home, "auth.json.lock", NULL);
  g_autoptr(StoreFile) store = store_file_new (home, NULL);
  g_autoptr(AuthRecord) record = auth_record_new_api_key ("sk-saved");
  g_autoptr(AuthRecord) back = NULL;
  g_autoptr(GDir) listing = NULL;
  const char *name;
  struct stat st;

  /* The Codex home is created (0700) on the first save. */
  g_assert_true (store_file_save_sync (store, record, FALSE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (home, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  back = store_file_load_sync (store, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (auth_record_get_fingerprint (back), ==, auth_record_get_fingerprint (record));

  /* No temporary file is left, and the locks are released. */
  listing = g_dir_open (home, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (listing)) != NULL)
    g_assert_false (g_str_has_prefix (name, ".auth-"));
  g_assert_true (lock_is_free (data_lock));

  g_assert_true (store_file_delete_sync (store, FALSE, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  /* Removing what is not there succeeds. */
  g_assert_true (store_file_delete_sync (store, FALSE, &error));
  g_assert_no_error (error);

  test_remove_tree (dir);
}

static void
test_store_file_hold_lock (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = test_make_tmpdir ();
  g_autofree char *lock = g_build_filename (dir, "auth.lock", NULL);
  g_autoptr(StoreFile) store = store_file_new (dir, NULL);
  g_autoptr(AuthRecord) record = auth_record_new_api_key ("sk-under-lock");
  int fd = -1;

  g_assert_true (auth_lock_take_sync (dir, &fd, &error));
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_assert_false (lock_is_free (lock));
  /* A save made by the holder does not take auth.lock again (it would
   * wait for itself). */
  g_assert_true (store_file_save_sync (store, record, TRUE, &error));
  g_assert_no_error (error);
  close (fd);
  g_assert_true (lock_is_free (lock));

  test_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/store-file/load", test_store_file_load);
  g_test_add_func ("/store-file/save-and-delete", test_store_file_save_and_delete);
  g_test_add_func ("/store-file/hold-lock", test_store_file_hold_lock);

  return g_test_run ();
}
