/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "codex-authd-backend"

#include "config.h"

#include <unistd.h>

#include "auth-backend.h"
#include "auth-error.h"
#include "store-file.h"
#include "store-secret.h"

void
auth_snapshot_free (AuthSnapshot *snapshot)
{
  if (snapshot == NULL)
    return;
  g_clear_pointer (&snapshot->record, auth_record_unref);
  g_clear_pointer (&snapshot->poison, poison_record_free);
  g_free (snapshot);
}

void
auth_backend_free (AuthBackend *backend)
{
  if (backend != NULL)
    backend->ops->free (backend);
}

gboolean
store_mode_from_string (const char *name, StoreMode *mode)
{
  if (g_strcmp0 (name, "auto") == 0)
    *mode = STORE_MODE_AUTO;
  else if (g_strcmp0 (name, "secret-service") == 0)
    *mode = STORE_MODE_SECRET_SERVICE;
  else if (g_strcmp0 (name, "file") == 0)
    *mode = STORE_MODE_FILE;
  else
    return FALSE;
  return TRUE;
}

const char *
store_mode_to_string (StoreMode mode)
{
  switch (mode)
    {
    case STORE_MODE_SECRET_SERVICE:
      return "secret-service";
    case STORE_MODE_FILE:
      return "file";
    case STORE_MODE_AUTO:
    default:
      return "auto";
    }
}

/* ---- the real backend: file and Secret Service stores, libsoup, clock -- */

typedef enum {
  SOURCE_NONE,
  SOURCE_FILE,
  SOURCE_SECRET,
} Source;

typedef struct {
  AuthBackend parent;
  StoreMode mode;
  StoreFile *store;
  StoreSecret *secret;
  TokenClient *token_client;
  char *poison_path;
  /* Where the record in use came from, and where it is written back. */
  Source source;
  gboolean item_seen; /* the last read found the keyring item */
  char *description;
  gboolean locked; /* between load(lock=TRUE) and unlock() */
  int lock_fd;     /* the fd holding $CODEX_HOME/auth.lock, -1 if none was needed */
  AuthBackendChangedFunc changed;
  gpointer changed_data;
} RealBackend;

static void
real_store_changed_cb (GObject *store, gpointer user_data)
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
  if (self->secret != NULL)
    {
      g_signal_connect (self->secret, "changed", G_CALLBACK (real_store_changed_cb), self);
      store_secret_watch (self->secret);
    }
  if (self->mode == STORE_MODE_SECRET_SERVICE)
    return TRUE;
  g_signal_connect (self->store, "changed", G_CALLBACK (real_store_changed_cb), self);
  return store_file_watch (self->store, error);
}

static void
set_source (RealBackend *self, Source source)
{
  self->source = source;
  g_free (self->description);
  if (source == SOURCE_SECRET)
    self->description = g_strdup_printf ("the Secret Service item %s", store_secret_get_username (self->secret));
  else
    self->description = g_strdup (store_file_get_path (self->store));
}

/* A load: optionally take the lock, then the keyring item, then (auto
 * mode, no item or no Secret Service) auth.json, and the poison record. */
typedef struct {
  RealBackend *self;
  gboolean lock;
  gboolean read_file;
  gboolean secret_reachable;
  AuthSnapshot *snapshot;
  AuthRecord *record;        /* for save */
  PoisonRecord *poison;     /* for save_poison */
} WorkData;

static void
work_data_free (WorkData *w)
{
  auth_snapshot_free (w->snapshot);
  g_clear_pointer (&w->record, auth_record_unref);
  g_clear_pointer (&w->poison, poison_record_free);
  g_free (w);
}

static GTask *
work_task_new (RealBackend *self, gpointer source_tag, GAsyncReadyCallback callback, gpointer user_data,
               WorkData **out)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  WorkData *w = g_new0 (WorkData, 1);

  w->self = self;
  w->snapshot = g_new0 (AuthSnapshot, 1);
  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, w, (GDestroyNotify) work_data_free);
  *out = w;
  return task;
}

/* Worker thread: auth.json (when asked) and the poison record. */
static void
read_files_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WorkData *w = task_data;
  g_autoptr(GError) poison_error = NULL;
  GError *error = NULL;

  if (w->read_file)
    {
      w->snapshot->record = store_file_load_sync (w->self->store, &error);
      if (error != NULL)
        {
          g_task_return_error (task, error);
          return;
        }
    }
  w->snapshot->poison = poison_record_load (w->self->poison_path, &poison_error);
  if (poison_error != NULL)
    g_warning ("Ignoring the poison record: %s", poison_error->message);
  g_task_return_boolean (task, TRUE);
}

static void
files_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) outer = user_data;
  WorkData *w = g_task_get_task_data (outer);
  GError *error = NULL;

  if (w->read_file)
    {
      /* auth.json is the source when it holds the record, or when it is
       * where a new login would go. */
      if (w->snapshot->record != NULL || !w->secret_reachable)
        set_source (w->self, SOURCE_FILE);
      else
        set_source (w->self, SOURCE_SECRET);
    }
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (outer, error);
      return;
    }
  g_task_return_pointer (outer, g_steal_pointer (&w->snapshot), (GDestroyNotify) auth_snapshot_free);
}

static void
read_files (GTask *outer, gboolean read_file)
{
  WorkData *w = g_task_get_task_data (outer);
  g_autoptr(GTask) inner = g_task_new (NULL, NULL, files_read_cb, outer);

  w->read_file = read_file;
  g_task_set_task_data (inner, w, NULL);
  g_task_run_in_thread (inner, read_files_thread);
}

static void
secret_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *outer = user_data;
  WorkData *w = g_task_get_task_data (outer);
  RealBackend *self = w->self;
  GError *error = NULL;
  AuthRecord *record = NULL;
  StoreSecretStatus status;

  status = store_secret_load_finish (STORE_SECRET (source), result, &record, &error);
  if (error != NULL)
    {
      set_source (self, SOURCE_SECRET);
      g_task_return_error (outer, error);
      g_object_unref (outer);
      return;
    }
  switch (status)
    {
    case STORE_SECRET_FOUND:
      self->item_seen = TRUE;
      set_source (self, SOURCE_SECRET);
      w->snapshot->record = record;
      read_files (outer, FALSE);
      return;
    case STORE_SECRET_NOT_FOUND:
      self->item_seen = FALSE;
      w->secret_reachable = TRUE;
      if (self->mode == STORE_MODE_AUTO)
        read_files (outer, TRUE);
      else
        {
          set_source (self, SOURCE_SECRET);
          read_files (outer, FALSE);
        }
      return;
    case STORE_SECRET_LOCKED:
      set_source (self, SOURCE_SECRET);
      g_task_return_new_error (outer, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_LOCKED,
                               "The keyring holding the Codex credentials is locked; unlock it to "
                               "use them (codex-authctl unlock, or the desktop's keyring)");
      g_object_unref (outer);
      return;
    case STORE_SECRET_UNAVAILABLE:
    default:
      /* Auto mode falls back to auth.json, unless the credentials in use
       * came from the keyring: then it went away, and comes back. */
      if (self->mode == STORE_MODE_AUTO && !self->item_seen)
        {
          read_files (outer, TRUE);
          return;
        }
      set_source (self, SOURCE_SECRET);
      g_task_return_new_error (outer, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE,
                               self->mode == STORE_MODE_AUTO
                                   ? "The Secret Service holding the Codex credentials left the session bus"
                                   : "No Secret Service is running on the session bus (store=secret-service)");
      g_object_unref (outer);
      return;
    }
}

static void
read_stores (GTask *outer)
{
  WorkData *w = g_task_get_task_data (outer);

  if (w->self->secret == NULL)
    {
      read_files (outer, TRUE);
      return;
    }
  store_secret_load_async (w->self->secret, NULL, secret_loaded_cb, outer);
}

static void
lock_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WorkData *w = task_data;
  GError *error = NULL;
  int fd = -1;

  if (!store_file_hold_lock_sync (w->self->store, &fd, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  /* Read by the main thread only after this task completed. */
  w->self->lock_fd = fd;
  g_task_return_boolean (task, TRUE);
}

static void
locked_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *outer = user_data;
  WorkData *w = g_task_get_task_data (outer);
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (outer, error);
      g_object_unref (outer);
      return;
    }
  w->self->locked = TRUE;
  read_stores (outer);
}

static void
real_load (AuthBackend *backend, gboolean lock, GAsyncReadyCallback callback, gpointer user_data)
{
  RealBackend *self = (RealBackend *) backend;
  WorkData *w;
  GTask *outer = work_task_new (self, real_load, callback, user_data, &w);

  g_return_if_fail (!lock || !self->locked);
  if (lock)
    {
      g_autoptr(GTask) inner = g_task_new (NULL, NULL, locked_cb, outer);

      g_task_set_task_data (inner, w, NULL);
      g_task_run_in_thread (inner, lock_thread);
      return;
    }
  read_stores (outer);
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

/* Completes @task with a worker's boolean outcome. Callers compute @ok
 * first: the order in which arguments are evaluated is unspecified. */
static void
return_outcome (GTask *task, gboolean ok, GError *error)
{
  if (!ok)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
save_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WorkData *w = task_data;
  GError *error = NULL;

  gboolean ok = store_file_save_sync (w->self->store, w->record, w->lock, &error);

  return_outcome (task, ok, error);
}

static void
delete_file_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WorkData *w = task_data;
  GError *error = NULL;

  gboolean ok = store_file_delete_sync (w->self->store, w->lock, &error);

  return_outcome (task, ok, error);
}

/* Completes the task @user_data with the outcome of a worker (an inner
 * GTask of this file). */
static void
file_step_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) outer = user_data;
  GError *error = NULL;

  gboolean ok = g_task_propagate_boolean (G_TASK (result), &error);

  return_outcome (outer, ok, error);
}

/* Runs @func (save_thread or delete_file_thread) for @outer in a thread,
 * under the lock if load(lock=TRUE) holds it; @outer completes with its
 * outcome. */
static void
run_file_step (GTask *outer, GTaskThreadFunc func)
{
  WorkData *w = g_task_get_task_data (outer);
  g_autoptr(GTask) inner = g_task_new (NULL, NULL, file_step_done_cb, outer);

  w->lock = w->self->locked;
  g_task_set_task_data (inner, w, NULL);
  g_task_run_in_thread (inner, func);
}

/* Completes the task @user_data with the outcome of a StoreSecret save or
 * unlock. */
static void
secret_op_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  gboolean ok = store_secret_op_finish (STORE_SECRET (source), result, &error);

  return_outcome (task, ok, error);
}

static void
real_save (AuthBackend *backend, AuthRecord *record, GAsyncReadyCallback callback, gpointer user_data)
{
  RealBackend *self = (RealBackend *) backend;
  WorkData *w;
  GTask *task = work_task_new (self, real_save, callback, user_data, &w);

  w->record = auth_record_ref (record);
  if (self->source == SOURCE_SECRET && self->secret != NULL)
    store_secret_save_async (self->secret, record, NULL, secret_op_done_cb, task);
  else
    run_file_step (task, save_thread);
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
poison_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WorkData *w = task_data;
  GError *error = NULL;
  gboolean ok;

  if (w->poison != NULL)
    ok = poison_record_save (w->self->poison_path, w->poison, &error);
  else
    ok = poison_record_remove (w->self->poison_path, &error);
  return_outcome (task, ok, error);
}

static void
real_save_poison (AuthBackend *backend, const PoisonRecord *poison, GAsyncReadyCallback callback,
                    gpointer user_data)
{
  RealBackend *self = (RealBackend *) backend;
  WorkData *w;
  g_autoptr(GTask) task = work_task_new (self, real_save_poison, callback, user_data, &w);

  w->poison = poison != NULL ? poison_record_copy (poison) : NULL;
  g_task_run_in_thread (task, poison_thread);
}

/* ---- logins and logouts ----------------------------------------------- */

static void
login_secret_saved_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *outer = user_data;
  WorkData *w = g_task_get_task_data (outer);
  RealBackend *self = w->self;
  GError *error = NULL;

  if (store_secret_op_finish (STORE_SECRET (source), result, &error))
    {
      set_source (self, SOURCE_SECRET);
      self->item_seen = TRUE;
      if (self->mode == STORE_MODE_AUTO)
        {
          /* As the Codex CLI does: the keyring holds it now, so no
           * auth.json is left to shadow it. */
          run_file_step (outer, delete_file_thread);
          return;
        }
      g_task_return_boolean (outer, TRUE);
      g_object_unref (outer);
      return;
    }
  if (self->mode == STORE_MODE_AUTO &&
      g_error_matches (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE))
    {
      g_clear_error (&error);
      set_source (self, SOURCE_FILE);
      run_file_step (outer, save_thread);
      return;
    }
  g_task_return_error (outer, error);
  g_object_unref (outer);
}

static void
real_save_login (AuthBackend *backend, AuthRecord *record, GAsyncReadyCallback callback, gpointer user_data)
{
  RealBackend *self = (RealBackend *) backend;
  WorkData *w;
  GTask *outer = work_task_new (self, real_save_login, callback, user_data, &w);

  w->record = auth_record_ref (record);
  if (self->secret == NULL)
    {
      set_source (self, SOURCE_FILE);
      run_file_step (outer, save_thread);
      return;
    }
  store_secret_save_async (self->secret, record, NULL, login_secret_saved_cb, outer);
}

static void
logout_secret_deleted_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *outer = user_data;
  WorkData *w = g_task_get_task_data (outer);
  GError *error = NULL;

  if (!store_secret_op_finish (STORE_SECRET (source), result, &error))
    {
      g_task_return_error (outer, error);
      g_object_unref (outer);
      return;
    }
  w->self->item_seen = FALSE;
  if (w->self->mode == STORE_MODE_SECRET_SERVICE)
    {
      g_task_return_boolean (outer, TRUE);
      g_object_unref (outer);
      return;
    }
  run_file_step (outer, delete_file_thread);
}

static void
real_remove_all (AuthBackend *backend, GAsyncReadyCallback callback, gpointer user_data)
{
  RealBackend *self = (RealBackend *) backend;
  WorkData *w;
  GTask *outer = work_task_new (self, real_remove_all, callback, user_data, &w);

  if (self->secret == NULL)
    {
      run_file_step (outer, delete_file_thread);
      return;
    }
  /* The keyring first: if it is locked, nothing is removed. */
  store_secret_delete_async (self->secret, NULL, logout_secret_deleted_cb, outer);
}

static void
real_unlock_store (AuthBackend *backend, GAsyncReadyCallback callback, gpointer user_data)
{
  RealBackend *self = (RealBackend *) backend;
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  if (self->secret == NULL)
    {
      g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE,
                               "The credentials are kept in %s (store=file): there is no keyring to unlock",
                               store_file_get_path (self->store));
      g_object_unref (task);
      return;
    }
  store_secret_unlock_async (self->secret, NULL, secret_op_done_cb, task);
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
  return ((RealBackend *) backend)->description;
}

static const char *
real_store_name (AuthBackend *backend)
{
  RealBackend *self = (RealBackend *) backend;

  switch (self->source)
    {
    case SOURCE_SECRET:
      return "secret-service";
    case SOURCE_FILE:
      return "file";
    case SOURCE_NONE:
    default:
      return "none";
    }
}

static void
real_free (AuthBackend *backend)
{
  RealBackend *self = (RealBackend *) backend;

  real_unlock (backend);
  if (self->store != NULL)
    g_signal_handlers_disconnect_by_data (self->store, self);
  if (self->secret != NULL)
    g_signal_handlers_disconnect_by_data (self->secret, self);
  g_clear_object (&self->store);
  g_clear_object (&self->secret);
  g_clear_pointer (&self->token_client, token_client_free);
  g_free (self->poison_path);
  g_free (self->description);
  g_free (self);
}

static const AuthBackendOps real_ops = {
  .watch = real_watch,
  .load = real_load,
  .unlock = real_unlock,
  .save = real_save,
  .refresh = real_refresh,
  .save_poison = real_save_poison,
  .now = real_now,
  .random = real_random,
  .describe = real_describe,
  .store_name = real_store_name,
  .save_login = real_save_login,
  .remove_all = real_remove_all,
  .unlock_store = real_unlock_store,
  .free = real_free,
};

AuthBackend *
auth_backend_new_real (const char *codex_home, StoreMode mode, const char *token_url,
                       guint timeout_seconds, const char *poison_path, GError **error)
{
  g_autoptr(TokenClient) client = token_client_new (token_url, timeout_seconds, error);
  RealBackend *self;

  if (client == NULL)
    return NULL;
  self = g_new0 (RealBackend, 1);
  self->parent.ops = &real_ops;
  self->mode = mode;
  self->store = store_file_new (codex_home);
  if (mode != STORE_MODE_FILE)
    self->secret = store_secret_new (codex_home);
  self->token_client = g_steal_pointer (&client);
  self->poison_path = g_strdup (poison_path);
  self->lock_fd = -1;
  set_source (self, mode == STORE_MODE_FILE ? SOURCE_FILE : SOURCE_NONE);
  return &self->parent;
}
