/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "codex-authd-backend"

#include "config.h"

#include <unistd.h>

#include "auth-backend.h"
#include "store-file.h"

void
auth_snapshot_free (AuthSnapshot *snapshot)
{
  if (snapshot == NULL)
    return;
  g_clear_pointer (&snapshot->record, auth_record_unref);
  g_clear_pointer (&snapshot->failure, refresh_failure_free);
  g_free (snapshot);
}

void
auth_backend_free (AuthBackend *backend)
{
  if (backend != NULL)
    backend->ops->free (backend);
}

/* ---- the real backend: file store, libsoup, wall clock ------------------ */

typedef struct {
  AuthBackend parent;
  StoreFile *store;
  TokenClient *token_client;
  char *failure_path;
  gboolean locked; /* between load(lock=TRUE) and unlock() */
  int lock_fd;     /* the fd holding $CODEX_HOME/auth.lock, -1 if none was needed */
  AuthBackendChangedFunc changed;
  gpointer changed_data;
} RealBackend;

static void
real_store_changed_cb (StoreFile *store, gpointer user_data)
{
  RealBackend *self = user_data;

  if (self->changed != NULL)
    self->changed (self->changed_data);
}

static gboolean
real_watch (AuthBackend *backend, AuthBackendChangedFunc changed, gpointer user_data, GError **error)
{
  RealBackend *self = (RealBackend *) backend;

  self->changed = changed;
  self->changed_data = user_data;
  g_signal_connect (self->store, "changed", G_CALLBACK (real_store_changed_cb), self);
  return store_file_watch (self->store, error);
}

typedef struct {
  RealBackend *self;
  gboolean lock;
  AuthRecord *record;
  RefreshFailure *failure;
} WorkData;

static void
work_data_free (WorkData *w)
{
  g_clear_pointer (&w->record, auth_record_unref);
  g_clear_pointer (&w->failure, refresh_failure_free);
  g_free (w);
}

static GTask *
work_task_new (RealBackend *self, gpointer source_tag, GAsyncReadyCallback callback, gpointer user_data,
               WorkData **out)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  WorkData *w = g_new0 (WorkData, 1);

  w->self = self;
  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, w, (GDestroyNotify) work_data_free);
  *out = w;
  return task;
}

static void
load_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WorkData *w = task_data;
  g_autoptr(AuthSnapshot) snapshot = g_new0 (AuthSnapshot, 1);
  g_autoptr(GError) failure_error = NULL;
  GError *error = NULL;

  if (w->lock)
    {
      int fd = -1;

      if (!store_file_lock_sync (w->self->store, &fd, &error))
        {
          g_task_return_error (task, error);
          return;
        }
      /* Read by the main thread only after this task completed. */
      w->self->lock_fd = fd;
      w->self->locked = TRUE;
    }

  snapshot->record = store_file_load_sync (w->self->store, &error);
  if (error != NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  snapshot->failure = refresh_failure_load (w->self->failure_path, &failure_error);
  if (failure_error != NULL)
    g_warning ("Ignoring the refresh failure record: %s", failure_error->message);
  g_task_return_pointer (task, g_steal_pointer (&snapshot), (GDestroyNotify) auth_snapshot_free);
}

static void
real_load (AuthBackend *backend, gboolean lock, GAsyncReadyCallback callback, gpointer user_data)
{
  RealBackend *self = (RealBackend *) backend;
  WorkData *w;
  g_autoptr(GTask) task = work_task_new (self, real_load, callback, user_data, &w);

  g_return_if_fail (!lock || !self->locked);
  w->lock = lock;
  g_task_run_in_thread (task, load_thread);
}

static void
real_unlock (AuthBackend *backend)
{
  RealBackend *self = (RealBackend *) backend;

  if (self->lock_fd >= 0)
    close (self->lock_fd);
  self->lock_fd = -1;
  self->locked = FALSE;
}

static void
save_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WorkData *w = task_data;
  GError *error = NULL;

  if (!store_file_save_sync (w->self->store, w->record, w->lock, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
real_save (AuthBackend *backend, AuthRecord *record, GAsyncReadyCallback callback, gpointer user_data)
{
  RealBackend *self = (RealBackend *) backend;
  WorkData *w;
  g_autoptr(GTask) task = work_task_new (self, real_save, callback, user_data, &w);

  w->record = auth_record_ref (record);
  w->lock = self->locked;
  g_task_run_in_thread (task, save_thread);
}

static void
refresh_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  RealBackend *self = g_task_get_task_data (task);

  g_task_return_pointer (task, token_client_refresh_finish (self->token_client, result),
                         (GDestroyNotify) token_result_free);
}

static void
real_refresh (AuthBackend *backend, const char *refresh_token, GCancellable *cancellable,
              GAsyncReadyCallback callback, gpointer user_data)
{
  RealBackend *self = (RealBackend *) backend;
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_source_tag (task, real_refresh);
  g_task_set_task_data (task, self, NULL);
  token_client_refresh_async (self->token_client, refresh_token, cancellable, refresh_done_cb, task);
}

static void
failure_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WorkData *w = task_data;
  GError *error = NULL;
  gboolean ok;

  if (w->failure != NULL)
    ok = refresh_failure_save (w->self->failure_path, w->failure, &error);
  else
    ok = refresh_failure_remove (w->self->failure_path, &error);
  if (!ok)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
real_store_failure (AuthBackend *backend, const RefreshFailure *failure, GAsyncReadyCallback callback,
                    gpointer user_data)
{
  RealBackend *self = (RealBackend *) backend;
  WorkData *w;
  g_autoptr(GTask) task = work_task_new (self, real_store_failure, callback, user_data, &w);

  w->failure = failure != NULL ? refresh_failure_copy (failure) : NULL;
  g_task_run_in_thread (task, failure_thread);
}

static gint64
real_now (AuthBackend *backend)
{
  return g_get_real_time ();
}

static double
real_random (AuthBackend *backend)
{
  return g_random_double ();
}

static const char *
real_describe (AuthBackend *backend)
{
  return store_file_get_path (((RealBackend *) backend)->store);
}

static void
real_free (AuthBackend *backend)
{
  RealBackend *self = (RealBackend *) backend;

  real_unlock (backend);
  if (self->store != NULL)
    g_signal_handlers_disconnect_by_data (self->store, self);
  g_clear_object (&self->store);
  g_clear_pointer (&self->token_client, token_client_free);
  g_free (self->failure_path);
  g_free (self);
}

static const AuthBackendOps real_ops = {
  .watch = real_watch,
  .load = real_load,
  .unlock = real_unlock,
  .save = real_save,
  .refresh = real_refresh,
  .store_failure = real_store_failure,
  .now = real_now,
  .random = real_random,
  .describe = real_describe,
  .free = real_free,
};

AuthBackend *
auth_backend_new_real (const char *codex_home, const char *token_url, guint timeout_seconds,
                       const char *failure_path, GError **error)
{
  g_autoptr(TokenClient) client = token_client_new (token_url, timeout_seconds, error);
  RealBackend *self;

  if (client == NULL)
    return NULL;
  self = g_new0 (RealBackend, 1);
  self->parent.ops = &real_ops;
  self->store = store_file_new (codex_home);
  self->token_client = g_steal_pointer (&client);
  self->failure_path = g_strdup (failure_path);
  self->lock_fd = -1;
  return &self->parent;
}
