/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The store policy: which store the credentials are read from and
 * written to (store-policy.h). */
#define G_LOG_DOMAIN "codex-authd-store"

#include "config.h"

#include "auth-error.h"
#include "store-policy.h"

/* The choice in force (store-policy.h). */
typedef enum {
  CHOICE_FILE,
  CHOICE_KEYRING,
  CHOICE_KEYRING_OR_FILE,
} StoreChoice;

struct _StorePolicy {
  GObject parent;

  StoreSetting setting; /* the daemon's store= */
  StoreFile *file;
  StoreSecret *keyring; /* NULL with store=file */
  CliSetting *cli;
  gulong file_changed_id;
  gulong keyring_changed_id;

  /* The choice in force, whether a write to the item removes auth.json,
   * and why. */
  StoreChoice choice;
  gboolean item_write_removes_file;
  const char *reason;
  char *config_problem;
  char *searched; /* store_policy_describe_searched() */
  /* Where the record in use came from, and where it is written back. */
  StoreKind source;
  gboolean item_seen; /* the last read found the keyring item */
};

G_DEFINE_FINAL_TYPE (StorePolicy, store_policy, G_TYPE_OBJECT)

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

StoreRead *
store_read_new (StoreReadStatus status, AuthRecord *record)
{
  StoreRead *read = g_new0 (StoreRead, 1);

  read->status = status;
  read->record = record != NULL ? auth_record_ref (record) : NULL;
  return read;
}

void
store_read_free (StoreRead *read)
{
  if (read == NULL)
    return;
  g_clear_pointer (&read->record, auth_record_unref);
  g_free (read);
}

/* The choice for the daemon's setting and the Codex CLI's @cli. */
static void
apply_setting (StorePolicy *self, CliStoreSetting cli, const char *problem)
{
  const char *before = self->reason;

  self->item_write_removes_file = FALSE;
  switch (self->setting)
    {
    case STORE_SETTING_FILE:
      self->choice = CHOICE_FILE;
      self->reason = "daemon setting: file";
      break;
    case STORE_SETTING_SECRET_SERVICE:
      self->choice = CHOICE_KEYRING;
      self->reason = "daemon setting: secret-service";
      break;
    case STORE_SETTING_AUTO:
    default:
      self->item_write_removes_file = TRUE;
      switch (cli)
        {
        case CLI_STORE_SETTING_KEYRING:
          self->choice = CHOICE_KEYRING;
          self->reason = "Codex config: keyring";
          break;
        case CLI_STORE_SETTING_AUTO:
          self->choice = CHOICE_KEYRING_OR_FILE;
          self->reason = "Codex config: auto";
          break;
        case CLI_STORE_SETTING_FILE:
          self->choice = CHOICE_FILE;
          self->reason = "Codex config: file";
          break;
        case CLI_STORE_SETTING_EPHEMERAL:
          /* The CLI reads and writes no store: nothing of it to share. The
           * daemon's own login is kept where the CLI's default would be,
           * which the CLI ignores in this mode. */
          self->choice = CHOICE_FILE;
          self->reason = "Codex config: ephemeral (the Codex CLI keeps its login in memory; the daemon's own is "
                         "in auth.json)";
          break;
        case CLI_STORE_SETTING_INVALID:
          self->choice = CHOICE_FILE;
          self->reason = "Codex default: file (config.toml cannot be used)";
          break;
        case CLI_STORE_SETTING_DEFAULT:
        default:
          self->choice = CHOICE_FILE;
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
  if (self->choice == CHOICE_FILE)
    self->source = STORE_KIND_FILE;
}

static void
store_changed_cb (GObject *store, gpointer user_data)
{
  g_signal_emit (user_data, signals[SIGNAL_CHANGED], 0);
}

StorePolicy *
store_policy_new (StoreSetting setting, StoreFile *file, StoreSecret *keyring, CliSetting *cli)
{
  StorePolicy *self = g_object_new (STORE_TYPE_POLICY, NULL);

  g_return_val_if_fail (keyring != NULL || setting == STORE_SETTING_FILE, self);
  self->setting = setting;
  self->file = g_object_ref (file);
  self->keyring = keyring != NULL ? g_object_ref (keyring) : NULL;
  self->cli = cli; /* taken */
  self->source = STORE_KIND_NONE;
  /* Until config.toml is read: the CLI's default. */
  apply_setting (self, CLI_STORE_SETTING_DEFAULT, NULL);
  self->source = setting == STORE_SETTING_FILE ? STORE_KIND_FILE : STORE_KIND_NONE;
  return self;
}

gboolean
store_policy_watch (StorePolicy *self, GError **error)
{
  if (self->keyring != NULL)
    {
      self->keyring_changed_id = g_signal_connect (self->keyring, "changed", G_CALLBACK (store_changed_cb), self);
      store_secret_watch (self->keyring);
    }
  /* auth.json, the Codex CLI's config.toml beside it, and its lock file
   * (which shows its saves to the keyring item too). */
  self->file_changed_id = g_signal_connect (self->file, "changed", G_CALLBACK (store_changed_cb), self);
  return store_file_watch (self->file, error);
}

static void
store_policy_finalize (GObject *object)
{
  StorePolicy *self = STORE_POLICY (object);

  g_clear_signal_handler (&self->file_changed_id, self->file);
  if (self->keyring != NULL)
    g_clear_signal_handler (&self->keyring_changed_id, self->keyring);
  g_clear_object (&self->file);
  g_clear_object (&self->keyring);
  g_clear_pointer (&self->cli, cli_setting_free);
  g_free (self->config_problem);
  g_free (self->searched);
  G_OBJECT_CLASS (store_policy_parent_class)->finalize (object);
}

static void
store_policy_init (StorePolicy *self)
{
}

static void
store_policy_class_init (StorePolicyClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = store_policy_finalize;
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                          NULL, G_TYPE_NONE, 0);
}

StoreSetting
store_policy_get_setting (StorePolicy *self)
{
  return self->setting;
}

gboolean
store_policy_uses_keyring (StorePolicy *self)
{
  return self->choice != CHOICE_FILE;
}

const char *
store_policy_get_reason (StorePolicy *self)
{
  return self->reason;
}

const char *
store_policy_get_config_problem (StorePolicy *self)
{
  return self->config_problem;
}

StoreKind
store_policy_get_source (StorePolicy *self)
{
  return self->source;
}

const char *
store_policy_describe (StorePolicy *self)
{
  if (self->source == STORE_KIND_KEYRING)
    return store_secret_describe (self->keyring);
  return store_file_describe (self->file);
}

const char *
store_policy_describe_searched (StorePolicy *self)
{
  switch (self->choice)
    {
    case CHOICE_FILE:
      return store_file_describe (self->file);
    case CHOICE_KEYRING:
      return store_secret_describe (self->keyring);
    case CHOICE_KEYRING_OR_FILE:
    default:
      /* Both descriptions stay the same while the stores live. */
      if (self->searched == NULL)
        self->searched = g_strdup_printf ("%s or %s", store_secret_describe (self->keyring),
                                          store_file_describe (self->file));
      return self->searched;
    }
}

/* ---- every operation: the task, the Codex CLI's setting first ---------- */

/* Task data of every operation. */
typedef struct {
  StorePolicy *self;
  AuthRecord *record;   /* a save's, a login's or a move's; NULL otherwise */
  StoreKind target;     /* a move's */
  GError *config_error; /* a move whose setting could not be written: undoing the copy */
  gboolean keyring_reachable; /* a load's: the keyring answered */
} OpData;

static void
op_data_free (OpData *data)
{
  g_clear_pointer (&data->record, auth_record_unref);
  g_clear_error (&data->config_error);
  g_free (data);
}

static GTask *
op_task_new (StorePolicy *self, AuthRecord *record, gpointer tag, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  OpData *data = g_new0 (OpData, 1);

  data->self = self;
  data->record = record != NULL ? auth_record_ref (record) : NULL;
  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, data, (GDestroyNotify) op_data_free);
  return task;
}

static OpData *
op_data (GTask *task)
{
  return g_task_get_task_data (task);
}

/* Completes @task (owned). */
static void
return_error (GTask *task, GError *error)
{
  g_task_return_error (task, error);
  g_object_unref (task);
}

static void
return_success (GTask *task)
{
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

typedef void (*PolicyReadyFunc) (GTask *task);

static void
cli_setting_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  StorePolicy *self = op_data (task)->self;
  PolicyReadyFunc then = g_object_get_data (G_OBJECT (task), "policy-ready");
  g_autoptr(CliSettingRead) read = cli_setting_read_finish (self->cli, result);

  if (read != NULL)
    apply_setting (self, read->setting, read->problem);
  then (task);
}

/* Reads the Codex CLI's setting when the daemon follows it, then runs
 * @then with @task. */
static void
with_current_choice (StorePolicy *self, GTask *task, PolicyReadyFunc then)
{
  if (self->setting != STORE_SETTING_AUTO)
    {
      then (task);
      return;
    }
  g_object_set_data (G_OBJECT (task), "policy-ready", then);
  cli_setting_read_async (self->cli, cli_setting_read_cb, task);
}

/* The outcome of one write of either store. */
static gboolean
store_write_finish (GObject *store, GAsyncResult *result, GError **error)
{
  if (STORE_IS_SECRET (store))
    return store_secret_write_finish (STORE_SECRET (store), result, error);
  return store_file_write_finish (STORE_FILE (store), result, error);
}

/* Completes the task @user_data with the outcome of one store write. */
static void
last_write_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GError *error = NULL;

  if (!store_write_finish (source, result, &error))
    return_error (user_data, error);
  else
    return_success (user_data);
}

/* ---- loading ----------------------------------------------------------- */

static void
file_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  OpData *data = op_data (task);
  StorePolicy *self = data->self;
  g_autoptr(StoreRead) read = NULL;
  GError *error = NULL;

  read = store_file_load_finish (self->file, result, &error);
  /* auth.json is the source when it holds the record, or when it is
   * where a new login would go. */
  if ((read != NULL && read->status == STORE_READ_FOUND) || !data->keyring_reachable)
    self->source = STORE_KIND_FILE;
  else
    self->source = STORE_KIND_KEYRING;
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
  StorePolicy *self = op_data (task)->self;

  store_file_load_async (self->file, file_loaded_cb, task);
}

static void
keyring_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  OpData *data = op_data (task);
  StorePolicy *self = data->self;
  g_autoptr(StoreRead) read = NULL;
  GError *error = NULL;

  read = store_secret_load_finish (self->keyring, result, &error);
  if (read == NULL)
    {
      self->source = STORE_KIND_KEYRING;
      return_error (task, error);
      return;
    }
  switch (read->status)
    {
    case STORE_READ_FOUND:
      self->item_seen = TRUE;
      self->source = STORE_KIND_KEYRING;
      g_task_return_pointer (task, g_steal_pointer (&read->record), (GDestroyNotify) auth_record_unref);
      g_object_unref (task);
      return;
    case STORE_READ_NOT_FOUND:
      self->item_seen = FALSE;
      data->keyring_reachable = TRUE;
      if (self->choice == CHOICE_KEYRING_OR_FILE)
        {
          load_file (task);
          return;
        }
      self->source = STORE_KIND_KEYRING;
      g_task_return_pointer (task, NULL, NULL);
      g_object_unref (task);
      return;
    case STORE_READ_LOCKED:
      self->source = STORE_KIND_KEYRING;
      return_error (task, g_error_new (CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_LOCKED,
                                       "The keyring holding the Codex credentials is locked; unlock it to "
                                       "use them (codex-authctl unlock, or the desktop's keyring)"));
      return;
    case STORE_READ_UNAVAILABLE:
    default:
      /* Keyring-or-file falls back to auth.json, unless the credentials
       * in use came from the keyring: then it went away, and comes back. */
      if (self->choice == CHOICE_KEYRING_OR_FILE && !self->item_seen)
        {
          load_file (task);
          return;
        }
      self->source = STORE_KIND_KEYRING;
      return_error (task, g_error_new_literal (
                              CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE,
                              self->choice == CHOICE_KEYRING_OR_FILE
                                  ? "The Secret Service holding the Codex credentials left the session bus"
                                  : "No Secret Service is running on the session bus (store=secret-service)"));
      return;
    }
}

static void
load_with_choice (GTask *task)
{
  StorePolicy *self = op_data (task)->self;

  if (!store_policy_uses_keyring (self))
    {
      load_file (task);
      return;
    }
  store_secret_load_async (self->keyring, keyring_loaded_cb, task);
}

void
store_policy_load_async (StorePolicy *self, GAsyncReadyCallback callback, gpointer user_data)
{
  with_current_choice (self, op_task_new (self, NULL, store_policy_load_async, callback, user_data),
                       load_with_choice);
}

AuthRecord *
store_policy_load_finish (StorePolicy *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- writing ----------------------------------------------------------- */

/* The keyring item was written: it is the source now, and auth.json is
 * removed when the policy says so (the Codex CLI does, so that no stale
 * copy shadows the item). Completes @task (owned). */
static void
item_written (GTask *task)
{
  StorePolicy *self = op_data (task)->self;

  self->source = STORE_KIND_KEYRING;
  self->item_seen = TRUE;
  if (self->item_write_removes_file)
    {
      store_file_delete_async (self->file, last_write_done_cb, task);
      return;
    }
  return_success (task);
}

static void
item_written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GError *error = NULL;

  if (!store_secret_write_finish (STORE_SECRET (source), result, &error))
    return_error (user_data, error);
  else
    item_written (user_data);
}

void
store_policy_save_async (StorePolicy *self, AuthRecord *record, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = op_task_new (self, record, store_policy_save_async, callback, user_data);

  if (self->source == STORE_KIND_KEYRING && store_policy_uses_keyring (self))
    store_secret_save_async (self->keyring, record, item_written_cb, task);
  else
    store_file_save_async (self->file, record, last_write_done_cb, task);
}

static void
login_keyring_saved_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  OpData *data = op_data (task);
  StorePolicy *self = data->self;
  GError *error = NULL;

  if (store_secret_write_finish (self->keyring, result, &error))
    {
      item_written (task);
      return;
    }
  if (self->choice == CHOICE_KEYRING_OR_FILE &&
      g_error_matches (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE))
    {
      /* No Secret Service: the login goes to auth.json. */
      g_clear_error (&error);
      self->source = STORE_KIND_FILE;
      store_file_save_async (self->file, data->record, last_write_done_cb, task);
      return;
    }
  return_error (task, error);
}

static void
login_with_choice (GTask *task)
{
  OpData *data = op_data (task);
  StorePolicy *self = data->self;

  if (!store_policy_uses_keyring (self))
    {
      self->source = STORE_KIND_FILE;
      store_file_save_async (self->file, data->record, last_write_done_cb, task);
      return;
    }
  store_secret_save_async (self->keyring, data->record, login_keyring_saved_cb, task);
}

void
store_policy_save_login_async (StorePolicy *self, AuthRecord *record, GAsyncReadyCallback callback,
                               gpointer user_data)
{
  with_current_choice (self, op_task_new (self, record, store_policy_save_login_async, callback, user_data),
                       login_with_choice);
}

static void
logout_keyring_deleted_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  StorePolicy *self = op_data (task)->self;
  GError *error = NULL;

  if (!store_secret_write_finish (self->keyring, result, &error))
    {
      return_error (task, error);
      return;
    }
  self->item_seen = FALSE;
  if (self->choice == CHOICE_KEYRING && !self->item_write_removes_file)
    {
      return_success (task);
      return;
    }
  store_file_delete_async (self->file, last_write_done_cb, task);
}

static void
logout_with_choice (GTask *task)
{
  StorePolicy *self = op_data (task)->self;

  if (!store_policy_uses_keyring (self))
    {
      store_file_delete_async (self->file, last_write_done_cb, task);
      return;
    }
  /* The keyring first: if it is locked, nothing is removed. */
  store_secret_delete_async (self->keyring, logout_keyring_deleted_cb, task);
}

void
store_policy_remove_all_async (StorePolicy *self, GAsyncReadyCallback callback, gpointer user_data)
{
  with_current_choice (self, op_task_new (self, NULL, store_policy_remove_all_async, callback, user_data),
                       logout_with_choice);
}

/* ---- moving between the stores ----------------------------------------- */

static void
move_undone_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  g_autoptr(GError) error = NULL;

  if (!store_write_finish (source, result, &error))
    g_warning ("Cannot remove the copy made for the move: %s", error->message);
  return_error (task, g_steal_pointer (&op_data (task)->config_error));
}

static void
move_config_written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  OpData *data = op_data (task);
  StorePolicy *self = data->self;
  GError *error = NULL;
  gboolean to_keyring = data->target == STORE_KIND_KEYRING;

  if (!cli_setting_write_finish (self->cli, result, &error))
    {
      data->config_error = g_error_new (CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_ERROR,
                                        "Cannot set the Codex CLI's setting, nothing was moved: %s",
                                        error->message);
      g_error_free (error);
      if (data->record == NULL)
        {
          return_error (task, g_steal_pointer (&data->config_error));
          return;
        }
      /* The CLI still reads the old store: the copy would only be a stale
       * second copy of the secrets. */
      if (to_keyring)
        store_secret_delete_async (self->keyring, move_undone_cb, task);
      else
        store_file_delete_async (self->file, move_undone_cb, task);
      return;
    }
  apply_setting (self, to_keyring ? CLI_STORE_SETTING_KEYRING : CLI_STORE_SETTING_FILE, NULL);
  if (data->record == NULL)
    {
      return_success (task);
      return;
    }
  self->source = data->target;
  self->item_seen = to_keyring;
  /* The old store is emptied last: until now it held the only copy the
   * CLI reads. */
  if (to_keyring)
    store_file_delete_async (self->file, last_write_done_cb, task);
  else
    store_secret_delete_async (self->keyring, last_write_done_cb, task);
}

static void
write_setting (GTask *task)
{
  OpData *data = op_data (task);

  cli_setting_write_async (data->self->cli, data->target == STORE_KIND_KEYRING ? "keyring" : "file",
                           move_config_written_cb, task);
}

static void
move_copied_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  if (!store_write_finish (source, result, &error))
    {
      return_error (task, error);
      return;
    }
  write_setting (task);
}

static void
move_with_choice (GTask *task)
{
  OpData *data = op_data (task);
  StorePolicy *self = data->self;

  if (data->record == NULL)
    write_setting (task);
  else if (data->target == STORE_KIND_KEYRING)
    store_secret_save_async (self->keyring, data->record, move_copied_cb, task);
  else
    store_file_save_async (self->file, data->record, move_copied_cb, task);
}

void
store_policy_move_async (StorePolicy *self, AuthRecord *record, StoreKind target, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  GTask *task = op_task_new (self, record, store_policy_move_async, callback, user_data);

  g_return_if_fail (target == STORE_KIND_KEYRING || target == STORE_KIND_FILE);
  op_data (task)->target = target;
  if (self->setting != STORE_SETTING_AUTO)
    {
      return_error (task, g_error_new (CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_NOT_SUPPORTED,
                                       "The daemon's own setting store=%s chooses the store; remove it "
                                       "from its configuration to follow the Codex CLI's setting",
                                       store_setting_to_string (self->setting)));
      return;
    }
  with_current_choice (self, task, move_with_choice);
}

/* ---- unlocking --------------------------------------------------------- */

static void
unlocked_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GError *error = NULL;

  if (!store_secret_unlock_finish (STORE_SECRET (source), result, &error))
    return_error (user_data, error);
  else
    return_success (user_data);
}

void
store_policy_unlock_async (StorePolicy *self, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = op_task_new (self, NULL, store_policy_unlock_async, callback, user_data);

  if (self->keyring == NULL || !store_policy_uses_keyring (self))
    {
      return_error (task, g_error_new (CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE,
                                       "The credentials are kept in %s (%s): there is no keyring to unlock",
                                       store_file_describe (self->file), self->reason));
      return;
    }
  store_secret_unlock_async (self->keyring, unlocked_cb, task);
}

gboolean
store_policy_write_finish (StorePolicy *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
