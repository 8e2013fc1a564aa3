/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The blocking file helpers: bounded reads, atomic writes, and the lock. */
#include "config.h"

#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safe-file.h"
#include "test-helpers.h"

static void
test_read_bounded (void)
{
  g_autofree char *dir = test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "f", NULL);
  g_autoptr(GError) error = NULL;
  char *data = NULL;
  gsize len = 0;
  guint mode = 0;

  g_assert_false (safe_file_read_bounded (path, 10, &data, &len, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (path, "0123456789", -1, NULL));
  g_assert_cmpint (g_chmod (path, 0640), ==, 0);
  g_assert_true (safe_file_read_bounded_mode (path, 10, &data, &len, &mode, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (len, ==, 10);
  g_assert_cmpstr (data, ==, "0123456789");
  g_assert_cmpuint (mode & 07777, ==, 0640);
  g_free (data);

  /* One byte over the bound: refused without reading. */
  g_assert_false (safe_file_read_bounded (path, 9, &data, &len, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);

  /* Not a regular file. */
  g_assert_false (safe_file_read_bounded (dir, 100, &data, &len, &error));
  g_assert_nonnull (error);
  test_remove_tree (dir);
}

static void
test_write_atomic (void)
{
  g_autofree char *dir = test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "out.json", NULL);
  g_autofree char *missing = g_build_filename (dir, "no", "such", "out.json", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *back = NULL;
  g_autoptr(GDir) listing = NULL;
  struct stat st;

  g_assert_true (g_file_set_contents (path, "old", -1, NULL));
  g_assert_true (safe_file_write_atomic (path, ".tmp-", "new contents", 12, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &back, NULL, NULL));
  g_assert_cmpstr (back, ==, "new contents");
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  listing = g_dir_open (dir, 0, NULL);
  g_assert_cmpstr (g_dir_read_name (listing), ==, "out.json");
  g_assert_null (g_dir_read_name (listing));

  /* A directory that is not there: an error naming it, nothing written. */
  g_assert_false (safe_file_write_atomic (missing, ".tmp-", "x", 1, &error));
  g_assert_nonnull (error);
  test_remove_tree (dir);
}

static void
test_hold_lock (void)
{
  g_autofree char *dir = test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "auth.lock", NULL);
  g_autoptr(GError) error = NULL;
  gint64 start;
  int fd, second;

  fd = safe_file_hold_lock (path, 1000, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  /* Another open file description waits, then gives up with BUSY. */
  start = g_get_monotonic_time ();
  second = safe_file_hold_lock (path, 100, &error);
  g_assert_cmpint (second, ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * 1000);
  g_clear_error (&error);
  close (fd);
  second = safe_file_hold_lock (path, 100, &error);
  g_assert_no_error (error);
  g_assert_cmpint (second, >=, 0);
  close (second);
  test_remove_tree (dir);
}

/* A FIFO where auth.json or auth.lock should be is refused at once: it
 * must not hang a worker thread waiting for a writer. */
static void
test_fifo_refused (void)
{
  g_autofree char *dir = test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "auth.json", NULL);
  g_autofree char *lock = g_build_filename (dir, "auth.lock", NULL);
  g_autoptr(GError) error = NULL;
  char *data = NULL;
  gsize len = 0;

  g_assert_cmpint (mkfifo (path, 0600), ==, 0);
  g_assert_cmpint (mkfifo (lock, 0600), ==, 0);
  /* A blocked open would hang: SIGALRM ends the test as a failure then. */
  alarm (10);
  g_assert_false (safe_file_read_bounded (path, 100, &data, &len, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  g_clear_error (&error);
  g_assert_cmpint (safe_file_hold_lock (lock, 100, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  alarm (0);
  test_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/safe-file/read-bounded", test_read_bounded);
  g_test_add_func ("/safe-file/write-atomic", test_write_atomic);
  g_test_add_func ("/safe-file/hold-lock", test_hold_lock);
  g_test_add_func ("/safe-file/fifo-refused", test_fifo_refused);

  return g_test_run ();
}
