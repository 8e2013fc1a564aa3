/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "codex-authd-store"

#include "config.h"

#include "auth-error.h"
#include "credential-store.h"

typedef enum {
  SOURCE_NONE,
  SOURCE_FILE,
  SOURCE_KEYRING,
} Source;

struct _CredentialStore {
  StoreMode mode;
  CredentialStoreIO *io;
  /* Where the record in use came from, and where it is written back. */
  Source source;
  gboolean item_seen; /* the last read found the keyring item */
};

void
store_read_free (StoreRead *read)
{
  if (read == NULL)
    return;
  g_clear_pointer (&read->record, auth_record_unref);
  g_free (read);
}

CredentialStore *
credential_store_new (StoreMode mode, CredentialStoreIO *io)
{
  CredentialStore *self = g_new0 (CredentialStore, 1);

  self->mode = mode;
  self->io = io;
  self->source = mode == STORE_MODE_FILE ? SOURCE_FILE : SOURCE_NONE;
  return self;
}

void
credential_store_free (CredentialStore *self)
{
  g_free (self);
}

StoreMode
credential_store_get_mode (CredentialStore *self)
{
  return self->mode;
}

gboolean
credential_store_uses_keyring (CredentialStore *self)
{
  return self->mode != STORE_MODE_FILE;
}

const char *
credential_store_get_source_name (CredentialStore *self)
{
  switch (self->source)
    {
    case SOURCE_KEYRING:
      return "secret-service";
    case SOURCE_FILE:
      return "file";
    case SOURCE_NONE:
    default:
      return "none";
    }
}

const char *
credential_store_describe (CredentialStore *self)
{
  if (self->source == SOURCE_KEYRING)
    return self->io->keyring_describe (self->io);
  return self->io->file_describe (self->io);
}

/* ---- loading ----------------------------------------------------------- */

/* Task data of a load: whether the keyring answered at all. */
typedef struct {
  CredentialStore *self;
  gboolean keyring_reachable;
} LoadData;

static void
file_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  LoadData *data = g_task_get_task_data (task);
  CredentialStore *self = data->self;
  g_autoptr(StoreRead) read = NULL;
  GError *error = NULL;

  read = g_task_propagate_pointer (G_TASK (result), &error);
  /* auth.json is the source when it holds the record, or when it is
   * where a new login would go. */
  if ((read != NULL && read->status == STORE_READ_FOUND) || !data->keyring_reachable)
    self->source = SOURCE_FILE;
  else
    self->source = SOURCE_KEYRING;
  if (read == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&read->record), (GDestroyNotify) auth_record_unref);
}

static void
load_file (GTask *task)
{
  CredentialStore *self = ((LoadData *) g_task_get_task_data (task))->self;

  self->io->file_load (self->io, file_loaded_cb, task);
}

static void
keyring_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  LoadData *data = g_task_get_task_data (task);
  CredentialStore *self = data->self;
  g_autoptr(StoreRead) read = NULL;
  GError *error = NULL;

  read = g_task_propagate_pointer (G_TASK (result), &error);
  if (read == NULL)
    {
      self->source = SOURCE_KEYRING;
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  switch (read->status)
    {
    case STORE_READ_FOUND:
      self->item_seen = TRUE;
      self->source = SOURCE_KEYRING;
      g_task_return_pointer (task, g_steal_pointer (&read->record), (GDestroyNotify) auth_record_unref);
      g_object_unref (task);
      return;
    case STORE_READ_NOT_FOUND:
      self->item_seen = FALSE;
      data->keyring_reachable = TRUE;
      if (self->mode == STORE_MODE_AUTO)
        {
          load_file (task);
          return;
        }
      self->source = SOURCE_KEYRING;
      g_task_return_pointer (task, NULL, NULL);
      g_object_unref (task);
      return;
    case STORE_READ_LOCKED:
      self->source = SOURCE_KEYRING;
      g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_LOCKED,
                               "The keyring holding the Codex credentials is locked; unlock it to "
                               "use them (codex-authctl unlock, or the desktop's keyring)");
      g_object_unref (task);
      return;
    case STORE_READ_UNAVAILABLE:
    default:
      /* Auto mode falls back to auth.json, unless the credentials in use
       * came from the keyring: then it went away, and comes back. */
      if (self->mode == STORE_MODE_AUTO && !self->item_seen)
        {
          load_file (task);
          return;
        }
      self->source = SOURCE_KEYRING;
      g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE,
                               self->mode == STORE_MODE_AUTO
                                   ? "The Secret Service holding the Codex credentials left the session bus"
                                   : "No Secret Service is running on the session bus (store=secret-service)");
      g_object_unref (task);
      return;
    }
}

void
credential_store_load_async (CredentialStore *self, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  LoadData *data = g_new0 (LoadData, 1);

  data->self = self;
  g_task_set_source_tag (task, credential_store_load_async);
  g_task_set_task_data (task, data, g_free);
  if (!credential_store_uses_keyring (self))
    {
      load_file (task);
      return;
    }
  self->io->keyring_load (self->io, keyring_loaded_cb, task);
}

AuthRecord *
credential_store_load_finish (CredentialStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- writing ----------------------------------------------------------- */

/* Completes the task @user_data with the outcome of one store operation. */
static void
step_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/* Task data of a write. */
typedef struct {
  CredentialStore *self;
  AuthRecord *record; /* NULL for a removal */
} WriteData;

static void
write_data_free (WriteData *data)
{
  g_clear_pointer (&data->record, auth_record_unref);
  g_free (data);
}

static GTask *
write_task_new (CredentialStore *self, AuthRecord *record, gpointer tag, GAsyncReadyCallback callback,
                gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  WriteData *data = g_new0 (WriteData, 1);

  data->self = self;
  data->record = record != NULL ? auth_record_ref (record) : NULL;
  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, data, (GDestroyNotify) write_data_free);
  return task;
}

/* Completes @task (owned) with @error. */
static void
return_error (GTask *task, GError *error)
{
  g_task_return_error (task, error);
  g_object_unref (task);
}

void
credential_store_save_async (CredentialStore *self, AuthRecord *record, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  GTask *task = write_task_new (self, record, credential_store_save_async, callback, user_data);

  if (self->source == SOURCE_KEYRING && credential_store_uses_keyring (self))
    self->io->keyring_save (self->io, record, step_done_cb, task);
  else
    self->io->file_save (self->io, record, step_done_cb, task);
}

static void
login_keyring_saved_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  WriteData *data = g_task_get_task_data (task);
  CredentialStore *self = data->self;
  GError *error = NULL;

  if (g_task_propagate_boolean (G_TASK (result), &error))
    {
      self->source = SOURCE_KEYRING;
      self->item_seen = TRUE;
      if (self->mode == STORE_MODE_AUTO)
        {
          /* As the Codex CLI does: the keyring holds it now, so no
           * auth.json is left to shadow it. */
          self->io->file_delete (self->io, step_done_cb, task);
          return;
        }
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  if (self->mode == STORE_MODE_AUTO &&
      g_error_matches (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE))
    {
      /* No Secret Service: the login goes to auth.json. */
      g_clear_error (&error);
      self->source = SOURCE_FILE;
      self->io->file_save (self->io, data->record, step_done_cb, task);
      return;
    }
  return_error (task, error);
}

void
credential_store_save_login_async (CredentialStore *self, AuthRecord *record, GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  GTask *task = write_task_new (self, record, credential_store_save_login_async, callback, user_data);

  if (!credential_store_uses_keyring (self))
    {
      self->source = SOURCE_FILE;
      self->io->file_save (self->io, record, step_done_cb, task);
      return;
    }
  self->io->keyring_save (self->io, record, login_keyring_saved_cb, task);
}

static void
logout_keyring_deleted_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  CredentialStore *self = ((WriteData *) g_task_get_task_data (task))->self;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      return_error (task, error);
      return;
    }
  self->item_seen = FALSE;
  if (self->mode == STORE_MODE_SECRET_SERVICE)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  self->io->file_delete (self->io, step_done_cb, task);
}

void
credential_store_remove_all_async (CredentialStore *self, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = write_task_new (self, NULL, credential_store_remove_all_async, callback, user_data);

  if (!credential_store_uses_keyring (self))
    {
      self->io->file_delete (self->io, step_done_cb, task);
      return;
    }
  /* The keyring first: if it is locked, nothing is removed. */
  self->io->keyring_delete (self->io, logout_keyring_deleted_cb, task);
}

gboolean
credential_store_write_finish (CredentialStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
