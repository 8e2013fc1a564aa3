/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* auth.lock, the Codex CLI's update lock, taken in worker threads. */
#define G_LOG_DOMAIN "codex-authd-lock"

#include "config.h"

#include <unistd.h>

#include "auth-lock.h"
#include "safe-file.h"

struct _AuthLock {
  char *codex_home;
  gboolean held;
  int fd; /* holding the flock; -1 when held without a file, or not held */
};

AuthLock *
auth_lock_new (const char *codex_home)
{
  AuthLock *lock = g_new0 (AuthLock, 1);

  lock->codex_home = g_strdup (codex_home);
  lock->fd = -1;
  return lock;
}

void
auth_lock_free (AuthLock *lock)
{
  if (lock == NULL)
    return;
  auth_lock_release (lock);
  g_free (lock->codex_home);
  g_free (lock);
}

gboolean
auth_lock_take_sync (const char *codex_home, int *fd_out, GError **error)
{
  g_autofree char *path = g_build_filename (codex_home, AUTH_LOCK_NAME, NULL);
  g_autoptr(GError) local_error = NULL;

  *fd_out = safe_file_hold_lock (path, AUTH_LOCK_TIMEOUT_MS, &local_error);
  if (*fd_out >= 0)
    return TRUE;
  /* No lock file and no right to create one: nobody can replace auth.json
   * in this directory either, so there is nothing to exclude. */
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED) ||
      g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_READ_ONLY) ||
      g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    {
      g_debug ("%s, going on without it", local_error->message);
      return TRUE;
    }
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

static void
take_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  GError *error = NULL;
  int fd = -1;

  if (!auth_lock_take_sync (task_data, &fd, &error))
    g_task_return_error (task, error);
  else
    g_task_return_int (task, fd);
}

void
auth_lock_acquire_async (AuthLock *lock, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);

  g_return_if_fail (!lock->held);
  g_task_set_source_tag (task, auth_lock_acquire_async);
  g_task_set_task_data (task, g_strdup (lock->codex_home), g_free);
  g_task_run_in_thread (task, take_thread);
}

gboolean
auth_lock_acquire_finish (AuthLock *lock, GAsyncResult *result, GError **error)
{
  GError *local_error = NULL;
  gssize fd = g_task_propagate_int (G_TASK (result), &local_error);

  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  lock->fd = (int) fd;
  lock->held = TRUE;
  return TRUE;
}

void
auth_lock_release (AuthLock *lock)
{
  if (lock->fd >= 0)
    close (lock->fd);
  lock->fd = -1;
  lock->held = FALSE;
}

gboolean
auth_lock_is_held (AuthLock *lock)
{
  return lock->held;
}
