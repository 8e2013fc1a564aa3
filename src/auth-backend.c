/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "codex-authd-backend"

#include "config.h"

#include <unistd.h>

#include "auth-backend.h"
#include "auth-error.h"
#include "codex-config.h"
#include "credential-store.h"
#include "rescue-record.h"
#include "store-file.h"
#include "store-secret.h"

void
auth_snapshot_free (AuthSnapshot *snapshot)
{
  if (snapshot == NULL)
    return;
  g_clear_pointer (&snapshot->record, auth_record_unref);
  g_clear_pointer (&snapshot->poison, poison_record_free);
  g_clear_pointer (&snapshot->rescue, auth_record_unref);
  g_free (snapshot->rescue_base_fingerprint);
  g_free (snapshot);
}

void
auth_backend_free (AuthBackend *backend)
{
  if (backend != NULL)
    backend->ops->free (backend);
}

/* ---- the real backend: file and Secret Service stores, libsoup, clock -- */

typedef struct {
  AuthBackend parent;
  CredentialStoreIO io; /* the real stores, for the policy */
  CredentialStore *policy;
  StoreFile *file;
  StoreSecret *secret; /* NULL with the daemon setting store=file */
  char *codex_home;
  TokenClient *token_client;
  char *poison_path;
  char *rescue_path;
  char *keyring_description;
  gboolean holds_lock; /* between load_under_lock() and release_lock() */
  int held_lock_fd;    /* the fd holding $CODEX_HOME/auth.lock, -1 if none was needed */
  AuthBackendChangedFunc changed;
  gpointer changed_data;
} RealBackend;

#define REAL_FROM_IO(io) ((RealBackend *) ((char *) (io) - G_STRUCT_OFFSET (RealBackend, io)))

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

/* ---- the file store, in worker threads ---------------------------------- */

typedef struct {
  RealBackend *self;
  AuthRecord *record;   /* for a save */
  PoisonRecord *poison; /* for save_poison */
  char *base_fingerprint; /* for save_rescue */
  gboolean lock_held;   /* auth.lock is held by load_under_lock() */
  const char *value;    /* for config_write: a static string */
} WorkData;

static void
work_data_free (WorkData *w)
{
  g_clear_pointer (&w->record, auth_record_unref);
  g_clear_pointer (&w->poison, poison_record_free);
  g_free (w->base_fingerprint);
  g_free (w);
}

static WorkData *
work_data_new (RealBackend *self, AuthRecord *record)
{
  WorkData *w = g_new0 (WorkData, 1);

  w->self = self;
  w->record = record != NULL ? auth_record_ref (record) : NULL;
  w->lock_held = self->holds_lock;
  return w;
}

/* Runs @func in a worker thread with @w (taken); the task completes
 * @callback. */
static void
work_run (WorkData *w, GTaskThreadFunc func, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_source_tag (task, func);
  g_task_set_task_data (task, w, (GDestroyNotify) work_data_free);
  g_task_run_in_thread (task, func);
}

static void
run_in_thread (RealBackend *self, AuthRecord *record, GTaskThreadFunc func, GAsyncReadyCallback callback,
               gpointer user_data)
{
  work_run (work_data_new (self, record), func, callback, user_data);
}

static void
file_load_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WorkData *w = task_data;
  GError *error = NULL;
  StoreRead *read = g_new0 (StoreRead, 1);

  read->record = store_file_load_sync (w->self->file, &error);
  if (error != NULL)
    {
      store_read_free (read);
      g_task_return_error (task, error);
      return;
    }
  read->status = read->record != NULL ? STORE_READ_FOUND : STORE_READ_NOT_FOUND;
  g_task_return_pointer (task, read, (GDestroyNotify) store_read_free);
}

static void
file_save_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WorkData *w = task_data;
  GError *error = NULL;

  gboolean ok = store_file_save_sync (w->self->file, w->record, w->lock_held, &error);

  return_outcome (task, ok, error);
}

static void
file_delete_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WorkData *w = task_data;
  GError *error = NULL;

  gboolean ok = store_file_delete_sync (w->self->file, w->lock_held, &error);

  return_outcome (task, ok, error);
}

static void
io_file_load (CredentialStoreIO *io, GAsyncReadyCallback callback, gpointer user_data)
{
  run_in_thread (REAL_FROM_IO (io), NULL, file_load_thread, callback, user_data);
}

static void
io_file_save (CredentialStoreIO *io, AuthRecord *record, GAsyncReadyCallback callback, gpointer user_data)
{
  run_in_thread (REAL_FROM_IO (io), record, file_save_thread, callback, user_data);
}

static void
io_file_delete (CredentialStoreIO *io, GAsyncReadyCallback callback, gpointer user_data)
{
  run_in_thread (REAL_FROM_IO (io), NULL, file_delete_thread, callback, user_data);
}

static void
config_read_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WorkData *w = task_data;
  StoreConfigRead *read = g_new0 (StoreConfigRead, 1);

  read->setting = codex_config_read_store_setting (w->self->codex_home, &read->problem);
  g_task_return_pointer (task, read, (GDestroyNotify) store_config_read_free);
}

static void
config_write_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WorkData *w = task_data;
  GError *error = NULL;

  gboolean ok = codex_config_write_store_setting (w->self->codex_home, w->value, &error);

  return_outcome (task, ok, error);
}

static void
io_config_read (CredentialStoreIO *io, GAsyncReadyCallback callback, gpointer user_data)
{
  run_in_thread (REAL_FROM_IO (io), NULL, config_read_thread, callback, user_data);
}

static void
io_config_write (CredentialStoreIO *io, const char *value, GAsyncReadyCallback callback, gpointer user_data)
{
  WorkData *w = work_data_new (REAL_FROM_IO (io), NULL);

  w->value = value;
  work_run (w, config_write_thread, callback, user_data);
}

static const char *
io_file_describe (CredentialStoreIO *io)
{
  return store_file_get_path (REAL_FROM_IO (io)->file);
}

/* ---- the keyring item, through libsecret's asynchronous API ------------- */

static void
keyring_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  StoreRead *read = g_new0 (StoreRead, 1);
  GError *error = NULL;

  switch (store_secret_load_finish (STORE_SECRET (source), result, &read->record, &error))
    {
    case STORE_SECRET_FOUND:
      read->status = STORE_READ_FOUND;
      break;
    case STORE_SECRET_NOT_FOUND:
      read->status = STORE_READ_NOT_FOUND;
      break;
    case STORE_SECRET_LOCKED:
      read->status = STORE_READ_LOCKED;
      break;
    case STORE_SECRET_UNAVAILABLE:
    default:
      read->status = STORE_READ_UNAVAILABLE;
      break;
    }
  if (error != NULL)
    {
      store_read_free (read);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, read, (GDestroyNotify) store_read_free);
}

static void
io_keyring_load (CredentialStoreIO *io, GAsyncReadyCallback callback, gpointer user_data)
{
  store_secret_load_async (REAL_FROM_IO (io)->secret, NULL, keyring_loaded_cb,
                           g_task_new (NULL, NULL, callback, user_data));
}

/* Completes the task @user_data with the outcome of a StoreSecret save,
 * delete or unlock. */
static void
secret_op_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  gboolean ok = store_secret_op_finish (STORE_SECRET (source), result, &error);

  return_outcome (task, ok, error);
}

static void
io_keyring_save (CredentialStoreIO *io, AuthRecord *record, GAsyncReadyCallback callback, gpointer user_data)
{
  store_secret_save_async (REAL_FROM_IO (io)->secret, record, NULL, secret_op_done_cb,
                           g_task_new (NULL, NULL, callback, user_data));
}

static void
io_keyring_delete (CredentialStoreIO *io, GAsyncReadyCallback callback, gpointer user_data)
{
  store_secret_delete_async (REAL_FROM_IO (io)->secret, NULL, secret_op_done_cb,
                             g_task_new (NULL, NULL, callback, user_data));
}

static const char *
io_keyring_describe (CredentialStoreIO *io)
{
  return REAL_FROM_IO (io)->keyring_description;
}

/* ---- the AuthBackend operations ----------------------------------------- */

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
  /* auth.json, the Codex CLI's config.toml beside it, and its lock file
   * (which shows its saves to the keyring item too). */
  g_signal_connect (self->file, "changed", G_CALLBACK (real_store_changed_cb), self);
  return store_file_watch (self->file, error);
}

/* A load: optionally the lock, then the store (through the policy), then
 * the poison record. */
typedef struct {
  RealBackend *self;
  AuthSnapshot *snapshot;
} LoadData;

static void
load_data_free (LoadData *data)
{
  auth_snapshot_free (data->snapshot);
  g_free (data);
}

/* The daemon's own records: the poison record and the rescue copy. */
static void
state_load_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WorkData *w = task_data;
  AuthSnapshot *state = g_new0 (AuthSnapshot, 1);
  g_autoptr(GError) error = NULL;

  state->poison = poison_record_load (w->self->poison_path, &error);
  if (error != NULL)
    g_warning ("Ignoring the poison record: %s", error->message);
  g_clear_error (&error);
  state->rescue = rescue_record_load (w->self->rescue_path, &state->rescue_base_fingerprint, &error);
  if (error != NULL)
    g_warning ("Ignoring the rescue copy of refreshed tokens: %s", error->message);
  g_task_return_pointer (task, state, (GDestroyNotify) auth_snapshot_free);
}

static void
state_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) outer = user_data;
  LoadData *data = g_task_get_task_data (outer);
  g_autoptr(AuthSnapshot) state = g_task_propagate_pointer (G_TASK (result), NULL);

  data->snapshot->poison = g_steal_pointer (&state->poison);
  data->snapshot->rescue = g_steal_pointer (&state->rescue);
  data->snapshot->rescue_base_fingerprint = g_steal_pointer (&state->rescue_base_fingerprint);
  g_task_return_pointer (outer, g_steal_pointer (&data->snapshot), (GDestroyNotify) auth_snapshot_free);
}

static void
store_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *outer = user_data;
  LoadData *data = g_task_get_task_data (outer);
  GError *error = NULL;

  data->snapshot->record = credential_store_load_finish (data->self->policy, result, &error);
  if (error != NULL)
    {
      g_task_return_error (outer, error);
      g_object_unref (outer);
      return;
    }
  run_in_thread (data->self, NULL, state_load_thread, state_loaded_cb, outer);
}

static GTask *
load_task_new (RealBackend *self, gpointer tag, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  LoadData *data = g_new0 (LoadData, 1);

  data->self = self;
  data->snapshot = g_new0 (AuthSnapshot, 1);
  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, data, (GDestroyNotify) load_data_free);
  return task;
}

static void
real_load (AuthBackend *backend, GAsyncReadyCallback callback, gpointer user_data)
{
  RealBackend *self = (RealBackend *) backend;

  credential_store_load_async (self->policy, store_loaded_cb,
                               load_task_new (self, real_load, callback, user_data));
}

static void
hold_lock_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WorkData *w = task_data;
  GError *error = NULL;
  int fd = -1;

  if (!store_file_hold_lock_sync (w->self->file, &fd, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_int (task, fd);
}

static void
lock_held_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *outer = user_data;
  LoadData *data = g_task_get_task_data (outer);
  GError *error = NULL;
  gssize fd = g_task_propagate_int (G_TASK (result), &error);

  if (error != NULL)
    {
      g_task_return_error (outer, error);
      g_object_unref (outer);
      return;
    }
  data->self->held_lock_fd = (int) fd;
  data->self->holds_lock = TRUE;
  credential_store_load_async (data->self->policy, store_loaded_cb, outer);
}

static void
real_load_under_lock (AuthBackend *backend, GAsyncReadyCallback callback, gpointer user_data)
{
  RealBackend *self = (RealBackend *) backend;

  g_return_if_fail (!self->holds_lock);
  run_in_thread (self, NULL, hold_lock_thread, lock_held_cb,
                 load_task_new (self, real_load_under_lock, callback, user_data));
}

static void
real_release_lock (AuthBackend *backend)
{
  RealBackend *self = (RealBackend *) backend;

  if (self->held_lock_fd >= 0)
    close (self->held_lock_fd);
  self->held_lock_fd = -1;
  self->holds_lock = FALSE;
}

/* Completes the task @user_data with the outcome of a policy write. */
static void
policy_write_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  RealBackend *self = g_task_get_task_data (task);
  GError *error = NULL;

  gboolean ok = credential_store_write_finish (self->policy, result, &error);

  return_outcome (task, ok, error);
}

static GTask *
write_task_new (RealBackend *self, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_task_data (task, self, NULL);
  return task;
}

static void
real_save (AuthBackend *backend, AuthRecord *record, GAsyncReadyCallback callback, gpointer user_data)
{
  RealBackend *self = (RealBackend *) backend;

  credential_store_save_async (self->policy, record, policy_write_done_cb,
                               write_task_new (self, callback, user_data));
}

static void
real_save_login (AuthBackend *backend, AuthRecord *record, GAsyncReadyCallback callback, gpointer user_data)
{
  RealBackend *self = (RealBackend *) backend;

  credential_store_save_login_async (self->policy, record, policy_write_done_cb,
                                     write_task_new (self, callback, user_data));
}

static void
real_move (AuthBackend *backend, AuthRecord *record, StoreMode target, GAsyncReadyCallback callback,
           gpointer user_data)
{
  RealBackend *self = (RealBackend *) backend;

  credential_store_move_async (self->policy, record, target, policy_write_done_cb,
                               write_task_new (self, callback, user_data));
}

static void
real_remove_all (AuthBackend *backend, GAsyncReadyCallback callback, gpointer user_data)
{
  RealBackend *self = (RealBackend *) backend;

  credential_store_remove_all_async (self->policy, policy_write_done_cb,
                                     write_task_new (self, callback, user_data));
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
poison_save_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
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
  WorkData *w = work_data_new ((RealBackend *) backend, NULL);

  w->poison = poison != NULL ? poison_record_copy (poison) : NULL;
  work_run (w, poison_save_thread, callback, user_data);
}

static void
rescue_save_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WorkData *w = task_data;
  GError *error = NULL;
  gboolean ok;

  if (w->record != NULL)
    ok = rescue_record_save (w->self->rescue_path, w->record, w->base_fingerprint, &error);
  else
    ok = rescue_record_remove (w->self->rescue_path, &error);
  return_outcome (task, ok, error);
}

static void
real_save_rescue (AuthBackend *backend, AuthRecord *record, const char *base_fingerprint,
                  GAsyncReadyCallback callback, gpointer user_data)
{
  WorkData *w = work_data_new ((RealBackend *) backend, record);

  w->base_fingerprint = g_strdup (base_fingerprint);
  work_run (w, rescue_save_thread, callback, user_data);
}

static void
real_unlock_store (AuthBackend *backend, GAsyncReadyCallback callback, gpointer user_data)
{
  RealBackend *self = (RealBackend *) backend;
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  if (self->secret == NULL || !credential_store_uses_keyring (self->policy))
    {
      g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE,
                               "The credentials are kept in %s (%s): there is no keyring to unlock",
                               store_file_get_path (self->file), credential_store_get_reason (self->policy));
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

static gint64
real_monotonic (AuthBackend *backend)
{
  return g_get_monotonic_time ();
}

static double
real_random (AuthBackend *backend)
{
  return g_random_double ();
}

static const char *
real_describe (AuthBackend *backend)
{
  return credential_store_describe (((RealBackend *) backend)->policy);
}

static const char *
real_store_name (AuthBackend *backend)
{
  return credential_store_get_source_name (((RealBackend *) backend)->policy);
}

static const char *
real_describe_searched (AuthBackend *backend)
{
  return credential_store_describe_searched (((RealBackend *) backend)->policy);
}

static const char *
real_store_reason (AuthBackend *backend)
{
  return credential_store_get_reason (((RealBackend *) backend)->policy);
}

static const char *
real_config_problem (AuthBackend *backend)
{
  return credential_store_get_config_problem (((RealBackend *) backend)->policy);
}

static void
real_free (AuthBackend *backend)
{
  RealBackend *self = (RealBackend *) backend;

  real_release_lock (backend);
  if (self->file != NULL)
    g_signal_handlers_disconnect_by_data (self->file, self);
  if (self->secret != NULL)
    g_signal_handlers_disconnect_by_data (self->secret, self);
  g_clear_pointer (&self->policy, credential_store_free);
  g_clear_object (&self->file);
  g_clear_object (&self->secret);
  g_clear_pointer (&self->token_client, token_client_unref);
  g_free (self->poison_path);
  g_free (self->rescue_path);
  g_free (self->keyring_description);
  g_free (self->codex_home);
  g_free (self);
}

static const AuthBackendOps real_ops = {
  .watch = real_watch,
  .load = real_load,
  .load_under_lock = real_load_under_lock,
  .release_lock = real_release_lock,
  .save = real_save,
  .refresh = real_refresh,
  .save_poison = real_save_poison,
  .save_rescue = real_save_rescue,
  .now = real_now,
  .monotonic = real_monotonic,
  .random = real_random,
  .describe = real_describe,
  .store_name = real_store_name,
  .describe_searched = real_describe_searched,
  .store_reason = real_store_reason,
  .config_problem = real_config_problem,
  .move = real_move,
  .save_login = real_save_login,
  .remove_all = real_remove_all,
  .unlock_store = real_unlock_store,
  .free = real_free,
};

AuthBackend *
auth_backend_new_real (const char *codex_home, StoreMode mode, TokenClient *client,
                       const char *poison_path, const char *rescue_path)
{
  RealBackend *self;

  self = g_new0 (RealBackend, 1);
  self->parent.ops = &real_ops;
  self->io = (CredentialStoreIO) {
    .keyring_load = io_keyring_load,
    .keyring_save = io_keyring_save,
    .keyring_delete = io_keyring_delete,
    .file_load = io_file_load,
    .file_save = io_file_save,
    .file_delete = io_file_delete,
    .config_read = io_config_read,
    .config_write = io_config_write,
    .keyring_describe = io_keyring_describe,
    .file_describe = io_file_describe,
  };
  self->codex_home = g_strdup (codex_home);
  self->file = store_file_new (codex_home);
  if (mode != STORE_MODE_FILE)
    {
      self->secret = store_secret_new (codex_home);
      self->keyring_description = g_strdup_printf ("the Secret Service item %s",
                                                   store_secret_get_username (self->secret));
    }
  self->policy = credential_store_new (mode, &self->io);
  self->token_client = token_client_ref (client);
  self->poison_path = g_strdup (poison_path);
  self->rescue_path = g_strdup (rescue_path);
  self->held_lock_fd = -1;
  return &self->parent;
}
