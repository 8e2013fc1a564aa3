/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Blocking file helpers for worker threads: bounded reads, atomic
 * writes, flock with a timeout, the state directory. */
#define G_LOG_DOMAIN "codex-authd-file"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safe-file.h"
#include "sensitive.h"

static gboolean
set_errno_error (GError **error, int saved, const char *what, const char *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
               "%s: %s: %s", path, what, g_strerror (saved));
  return FALSE;
}

gboolean
safe_file_read_bounded_mode (const char *path, gsize max_size, char **data, gsize *len,
                              guint *mode_out, GError **error)
{
  g_autoptr(GByteArray) buf = NULL;
  struct stat st;
  guint8 chunk[8192];
  int fd;

  *data = NULL;
  *len = 0;
  /* O_NONBLOCK: opening a FIFO put in the file's place must not wait for
   * a writer (it is refused below); it changes nothing for a regular file. */
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    return set_errno_error (error, errno, "cannot open", path);
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE, "%s: not a regular file", path);
      return FALSE;
    }
  if (mode_out != NULL)
    *mode_out = st.st_mode;
  if ((guint64) st.st_size > max_size)
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "%s: the file is %lld bytes, more than the %" G_GSIZE_FORMAT " byte limit",
                   path, (long long) st.st_size, max_size);
      return FALSE;
    }

  buf = g_byte_array_sized_new ((guint) st.st_size + 1);
  for (;;)
    {
      gsize want = MIN (sizeof chunk, max_size + 1 - buf->len);
      ssize_t n;

      if (want == 0)
        break;
      n = read (fd, chunk, want);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;
          close (fd);
          sensitive_wipe (buf->data, buf->len);
          return set_errno_error (error, saved, "read failed", path);
        }
      if (n == 0)
        break;
      g_byte_array_append (buf, chunk, (guint) n);
      sensitive_wipe (chunk, (gsize) n);
    }
  close (fd);

  if (buf->len > max_size)
    {
      /* It grew while being read. */
      sensitive_wipe (buf->data, buf->len);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "%s: the file is more than %" G_GSIZE_FORMAT " bytes", path, max_size);
      return FALSE;
    }
  *len = buf->len;
  g_byte_array_append (buf, (const guint8 *) "", 1);
  *data = (char *) g_byte_array_free (g_steal_pointer (&buf), FALSE);
  return TRUE;
}

gboolean
safe_file_read_bounded (const char *path, gsize max_size, char **data, gsize *len, GError **error)
{
  return safe_file_read_bounded_mode (path, max_size, data, len, NULL, error);
}

static gboolean
write_all (int fd, const char *data, gsize len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

gboolean
safe_file_write_atomic (const char *path, const char *tmp_prefix, const char *data, gsize len,
                         GError **error)
{
  return safe_file_write_atomic_mode (path, tmp_prefix, data, len, 0600, error);
}

gboolean
safe_file_write_atomic_mode (const char *path, const char *tmp_prefix, const char *data, gsize len,
                              guint mode, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *tmp = g_strdup_printf ("%s/%sXXXXXX", dir, tmp_prefix);
  int fd, dfd;

  fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    return set_errno_error (error, errno, "cannot create a temporary file", dir);
  if ((mode != 0600 && fchmod (fd, mode & 07777) < 0) || !write_all (fd, data, len) || fsync (fd) < 0)
    {
      int saved = errno != 0 ? errno : EIO;
      close (fd);
      g_unlink (tmp);
      return set_errno_error (error, saved, "cannot write", tmp);
    }
  if (close (fd) < 0)
    {
      int saved = errno;
      g_unlink (tmp);
      return set_errno_error (error, saved, "cannot write", tmp);
    }
  if (rename (tmp, path) < 0)
    {
      int saved = errno;
      g_unlink (tmp);
      return set_errno_error (error, saved, "cannot replace", path);
    }
  /* Make the rename itself durable. */
  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0)
    {
      (void) fsync (dfd);
      close (dfd);
    }
  return TRUE;
}

int
safe_file_hold_lock (const char *path, guint timeout_ms, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  struct stat st;
  int fd;

  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
  if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
    {
      /* A read-only directory: an existing lock file still works. */
      int saved = errno;

      fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
      if (fd < 0)
        errno = saved;
    }
  if (fd < 0)
    {
      set_errno_error (error, errno, "cannot open the lock file", path);
      return -1;
    }
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE, "%s: the lock file is not a regular file",
                   path);
      return -1;
    }
  for (;;)
    {
      if (flock (fd, LOCK_EX | LOCK_NB) == 0)
        return fd;
      if (errno != EWOULDBLOCK && errno != EINTR)
        break;
      if (g_get_monotonic_time () >= deadline)
        {
          close (fd);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                       "%s: still locked by another process after %u ms", path, timeout_ms);
          return -1;
        }
      g_usleep (20 * 1000);
    }
  set_errno_error (error, errno, "cannot lock", path);
  close (fd);
  return -1;
}

char *
safe_file_state_path (const char *name)
{
  const char *dirs = g_getenv ("STATE_DIRECTORY");

  /* Under systemd (StateDirectory=codex-authd): the directory it made and
   * left writable in the sandbox; the first, if it lists several. */
  if (dirs != NULL && g_path_is_absolute (dirs))
    {
      g_autofree char *first = g_strndup (dirs, strcspn (dirs, ":"));

      return g_build_filename (first, name, NULL);
    }
  return g_build_filename (g_get_user_state_dir (), PACKAGE_NAME, name, NULL);
}
