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
  StoreMode setting; /* the daemon's store= */
  CredentialStoreIO *io;
  /* The policy in force (credential-store.h): AUTO, SECRET_SERVICE or
   * FILE, whether a write to the item removes auth.json, and why. */
  StoreMode mode;
  gboolean item_write_removes_file;
  const char *reason;
  char *config_problem;
  char *searched; /* credential_store_describe_searched() */
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

void
store_config_read_free (StoreConfigRead *read)
{
  if (read == NULL)
    return;
  g_free (read->problem);
  g_free (read);
}

/* The policy for the daemon's setting and the Codex CLI's @codex. */
static void
apply_setting (CredentialStore *self, CodexStoreSetting codex, const char *problem)
{
  const char *before = self->reason;

  self->item_write_removes_file = FALSE;
  switch (self->setting)
    {
    case STORE_MODE_FILE:
      self->mode = STORE_MODE_FILE;
      self->reason = "daemon setting: file";
      break;
    case STORE_MODE_SECRET_SERVICE:
      self->mode = STORE_MODE_SECRET_SERVICE;
      self->reason = "daemon setting: secret-service";
      break;
    case STORE_MODE_AUTO:
    default:
      self->item_write_removes_file = TRUE;
      switch (codex)
        {
        case CODEX_STORE_SETTING_KEYRING:
          self->mode = STORE_MODE_SECRET_SERVICE;
          self->reason = "Codex config: keyring";
          break;
        case CODEX_STORE_SETTING_AUTO:
          self->mode = STORE_MODE_AUTO;
          self->reason = "Codex config: auto";
          break;
        case CODEX_STORE_SETTING_FILE:
          self->mode = STORE_MODE_FILE;
          self->reason = "Codex config: file";
          break;
        case CODEX_STORE_SETTING_INVALID:
          self->mode = STORE_MODE_FILE;
          self->reason = "Codex default: file (config.toml cannot be used)";
          break;
        case CODEX_STORE_SETTING_DEFAULT:
        default:
          self->mode = STORE_MODE_FILE;
          self->reason = "Codex default: file";
          break;
        }
      break;
    }
  if (g_strcmp0 (problem, self->config_problem) != 0)
    {
      if (problem != NULL)
        g_warning ("The Codex CLI's configuration cannot be used (%s); its default store, auth.json, "
                   "applies", problem);
      g_free (self->config_problem);
      self->config_problem = g_strdup (problem);
    }
  if (before != NULL && before != self->reason)
    g_message ("Where the credentials are kept is decided by the %s", self->reason);
  if (self->mode == STORE_MODE_FILE)
    self->source = SOURCE_FILE;
}

CredentialStore *
credential_store_new (StoreMode setting, CredentialStoreIO *io)
{
  CredentialStore *self = g_new0 (CredentialStore, 1);

  self->setting = setting;
  self->io = io;
  self->source = SOURCE_NONE;
  /* Until config.toml is read: the CLI's default. */
  apply_setting (self, CODEX_STORE_SETTING_DEFAULT, NULL);
  self->source = setting == STORE_MODE_FILE ? SOURCE_FILE : SOURCE_NONE;
  return self;
}

void
credential_store_free (CredentialStore *self)
{
  if (self == NULL)
    return;
  g_free (self->config_problem);
  g_free (self->searched);
  g_free (self);
}

StoreMode
credential_store_get_setting (CredentialStore *self)
{
  return self->setting;
}

gboolean
credential_store_may_use_keyring (CredentialStore *self)
{
  return self->setting != STORE_MODE_FILE;
}

gboolean
credential_store_uses_keyring (CredentialStore *self)
{
  return self->mode != STORE_MODE_FILE;
}

const char *
credential_store_get_reason (CredentialStore *self)
{
  return self->reason;
}

const char *
credential_store_get_config_problem (CredentialStore *self)
{
  return self->config_problem;
}

/* ---- the Codex CLI's setting -------------------------------------------- */

typedef void (*PolicyReadyFunc) (GTask *task);

static void
config_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  CredentialStore *self = *(CredentialStore **) g_task_get_task_data (task);
  PolicyReadyFunc then = g_object_get_data (G_OBJECT (task), "policy-ready");
  g_autoptr(StoreConfigRead) read = g_task_propagate_pointer (G_TASK (result), NULL);

  if (read != NULL)
    apply_setting (self, read->setting, read->problem);
  then (task);
}

/* Reads the Codex CLI's setting when the daemon follows it, then runs
 * @then with @task (whose task data starts with the CredentialStore*). */
static void
with_current_policy (CredentialStore *self, GTask *task, PolicyReadyFunc then)
{
  if (self->setting != STORE_MODE_AUTO)
    {
      then (task);
      return;
    }
  g_object_set_data (G_OBJECT (task), "policy-ready", then);
  self->io->config_read (self->io, config_read_cb, task);
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

const char *
credential_store_describe_searched (CredentialStore *self)
{
  switch (self->mode)
    {
    case STORE_MODE_FILE:
      return self->io->file_describe (self->io);
    case STORE_MODE_SECRET_SERVICE:
      return self->io->keyring_describe (self->io);
    case STORE_MODE_AUTO:
    default:
      /* Both descriptions stay the same while the store lives. */
      if (self->searched == NULL)
        self->searched = g_strdup_printf ("%s or %s", self->io->keyring_describe (self->io),
                                          self->io->file_describe (self->io));
      return self->searched;
    }
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

static void
load_with_policy (GTask *task)
{
  CredentialStore *self = ((LoadData *) g_task_get_task_data (task))->self;

  if (!credential_store_uses_keyring (self))
    {
      load_file (task);
      return;
    }
  self->io->keyring_load (self->io, keyring_loaded_cb, task);
}

void
credential_store_load_async (CredentialStore *self, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  LoadData *data = g_new0 (LoadData, 1);

  data->self = self;
  g_task_set_source_tag (task, credential_store_load_async);
  g_task_set_task_data (task, data, g_free);
  with_current_policy (self, task, load_with_policy);
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

/* The keyring item was written: it is the source now, and auth.json is
 * removed when the policy says so (the Codex CLI does, so that no stale
 * copy shadows the item). Completes @task (owned). */
static void
item_written (GTask *task)
{
  CredentialStore *self = ((WriteData *) g_task_get_task_data (task))->self;

  self->source = SOURCE_KEYRING;
  self->item_seen = TRUE;
  if (self->item_write_removes_file)
    {
      self->io->file_delete (self->io, step_done_cb, task);
      return;
    }
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
item_written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    return_error (user_data, error);
  else
    item_written (user_data);
}

void
credential_store_save_async (CredentialStore *self, AuthRecord *record, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  GTask *task = write_task_new (self, record, credential_store_save_async, callback, user_data);

  if (self->source == SOURCE_KEYRING && credential_store_uses_keyring (self))
    self->io->keyring_save (self->io, record, item_written_cb, task);
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
      item_written (task);
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

static void
login_with_policy (GTask *task)
{
  WriteData *data = g_task_get_task_data (task);
  CredentialStore *self = data->self;

  if (!credential_store_uses_keyring (self))
    {
      self->source = SOURCE_FILE;
      self->io->file_save (self->io, data->record, step_done_cb, task);
      return;
    }
  self->io->keyring_save (self->io, data->record, login_keyring_saved_cb, task);
}

void
credential_store_save_login_async (CredentialStore *self, AuthRecord *record, GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  with_current_policy (self, write_task_new (self, record, credential_store_save_login_async, callback, user_data),
                       login_with_policy);
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
  if (self->mode == STORE_MODE_SECRET_SERVICE && !self->item_write_removes_file)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  self->io->file_delete (self->io, step_done_cb, task);
}

static void
logout_with_policy (GTask *task)
{
  CredentialStore *self = ((WriteData *) g_task_get_task_data (task))->self;

  if (!credential_store_uses_keyring (self))
    {
      self->io->file_delete (self->io, step_done_cb, task);
      return;
    }
  /* The keyring first: if it is locked, nothing is removed. */
  self->io->keyring_delete (self->io, logout_keyring_deleted_cb, task);
}

void
credential_store_remove_all_async (CredentialStore *self, GAsyncReadyCallback callback, gpointer user_data)
{
  with_current_policy (self, write_task_new (self, NULL, credential_store_remove_all_async, callback, user_data),
                       logout_with_policy);
}

/* ---- moving between the stores ----------------------------------------- */

/* Task data of a move: a WriteData first (with_current_policy needs it). */
typedef struct {
  WriteData write;
  StoreMode target;
  GError *config_error; /* the setting could not be written: undoing the copy */
} MoveData;

static void
move_data_free (MoveData *data)
{
  g_clear_pointer (&data->write.record, auth_record_unref);
  g_clear_error (&data->config_error);
  g_free (data);
}

static void
move_undone_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  MoveData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_warning ("Cannot remove the copy made for the move: %s", error->message);
  return_error (task, g_steal_pointer (&data->config_error));
}

static void
move_config_written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  MoveData *data = g_task_get_task_data (task);
  CredentialStore *self = data->write.self;
  GError *error = NULL;
  gboolean to_keyring = data->target == STORE_MODE_SECRET_SERVICE;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      data->config_error = g_error_new (CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_ERROR,
                                        "Cannot set the Codex CLI's setting, nothing was moved: %s",
                                        error->message);
      g_error_free (error);
      if (data->write.record == NULL)
        {
          return_error (task, g_steal_pointer (&data->config_error));
          return;
        }
      /* The CLI still reads the old store: the copy would only be a stale
       * second copy of the secrets. */
      if (to_keyring)
        self->io->keyring_delete (self->io, move_undone_cb, task);
      else
        self->io->file_delete (self->io, move_undone_cb, task);
      return;
    }
  apply_setting (self, to_keyring ? CODEX_STORE_SETTING_KEYRING : CODEX_STORE_SETTING_FILE, NULL);
  if (data->write.record == NULL)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  self->source = to_keyring ? SOURCE_KEYRING : SOURCE_FILE;
  self->item_seen = to_keyring;
  /* The old store is emptied last: until now it held the only copy the
   * CLI reads. */
  if (to_keyring)
    self->io->file_delete (self->io, step_done_cb, task);
  else
    self->io->keyring_delete (self->io, step_done_cb, task);
}

static void
move_copied_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  MoveData *data = g_task_get_task_data (task);
  CredentialStore *self = data->write.self;
  GError *error = NULL;

  if (result != NULL && !g_task_propagate_boolean (G_TASK (result), &error))
    {
      return_error (task, error);
      return;
    }
  self->io->config_write (self->io, data->target == STORE_MODE_SECRET_SERVICE ? "keyring" : "file",
                          move_config_written_cb, task);
}

static void
move_with_policy (GTask *task)
{
  MoveData *data = g_task_get_task_data (task);
  CredentialStore *self = data->write.self;

  if (data->write.record == NULL)
    move_copied_cb (NULL, NULL, task);
  else if (data->target == STORE_MODE_SECRET_SERVICE)
    self->io->keyring_save (self->io, data->write.record, move_copied_cb, task);
  else
    self->io->file_save (self->io, data->write.record, move_copied_cb, task);
}

void
credential_store_move_async (CredentialStore *self, AuthRecord *record, StoreMode target,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  MoveData *data = g_new0 (MoveData, 1);

  g_return_if_fail (target == STORE_MODE_SECRET_SERVICE || target == STORE_MODE_FILE);
  data->write.self = self;
  data->write.record = record != NULL ? auth_record_ref (record) : NULL;
  data->target = target;
  g_task_set_source_tag (task, credential_store_move_async);
  g_task_set_task_data (task, data, (GDestroyNotify) move_data_free);
  if (self->setting != STORE_MODE_AUTO)
    {
      return_error (task, g_error_new (CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_NOT_SUPPORTED,
                                       "The daemon's own setting store=%s chooses the store; remove it "
                                       "from its configuration to follow the Codex CLI's setting",
                                       store_mode_to_string (self->setting)));
      return;
    }
  with_current_policy (self, task, move_with_policy);
}

gboolean
credential_store_write_finish (CredentialStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
