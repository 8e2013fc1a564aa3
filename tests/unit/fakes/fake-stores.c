/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fakes of the two credential stores (store-file.h, store-secret.h) and of
 * the Codex CLI's setting (cli-setting.h), over the world of fakes.h. They
 * answer as the real ones do: a locked keyring refuses writes and
 * removals, an absent one refuses writes and has nothing to remove. */
#include "config.h"

#include "auth-error.h"
#include "cli-setting.h"
#include "fakes.h"
#include "store-file.h"
#include "store-secret.h"

FakeWorld fake;

/* Every store created, for fake_emit_changed(). */
static GPtrArray *stores;
/* Where the held save goes. */
static gboolean held_save_to_keyring;

static void
forget_store (gpointer data, GObject *gone)
{
  g_ptr_array_remove (stores, gone);
}

static void
note (const char *op)
{
  if (fake.log->len > 0)
    g_string_append_c (fake.log, ' ');
  g_string_append (fake.log, op);
}

static void
replace (AuthRecord **slot, AuthRecord *record)
{
  g_clear_pointer (slot, auth_record_unref);
  *slot = record != NULL ? auth_record_ref (record) : NULL;
}

/* A load that fails when fake.loads_fail says so. */
static gboolean
load_fails (GTask *task)
{
  fake.loads++;
  if (fake.loads_fail == 0)
    return FALSE;
  fake.loads_fail--;
  g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_ERROR, "the store cannot be read");
  return TRUE;
}

/* A save: refused, held, or done. */
static void
save (GTask *task, AuthRecord **slot, AuthRecord *record, gboolean to_keyring)
{
  if (fake.save_fails)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_READ_ONLY, "read-only store");
      return;
    }
  if (fake.hold_saves)
    {
      g_assert_null (fake.held_save);
      fake.held_save = g_object_ref (task);
      fake.held_record = auth_record_ref (record);
      held_save_to_keyring = to_keyring;
      return;
    }
  fake.saves++;
  replace (slot, record);
  g_task_return_boolean (task, TRUE);
}

static void
removal (GTask *task, AuthRecord **slot)
{
  if (fake.save_fails)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_READ_ONLY, "read-only store");
      return;
    }
  if (*slot != NULL)
    fake.removals++;
  replace (slot, NULL);
  g_task_return_boolean (task, TRUE);
}

void
fake_complete_held_save (void)
{
  g_autoptr(GTask) task = g_steal_pointer (&fake.held_save);
  g_autoptr(AuthRecord) record = g_steal_pointer (&fake.held_record);

  g_assert_nonnull (task);
  fake.saves++;
  replace (held_save_to_keyring ? &fake.item : &fake.file, record);
  g_task_return_boolean (task, TRUE);
}

/* ---- the file store ----------------------------------------------------- */

struct _StoreFile {
  GObject parent;
};

G_DEFINE_FINAL_TYPE (StoreFile, store_file, G_TYPE_OBJECT)

static guint file_changed_signal;

static void
store_file_init (StoreFile *self)
{
}

static void
store_file_class_init (StoreFileClass *klass)
{
  file_changed_signal = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                      G_TYPE_NONE, 0);
}

StoreFile *
store_file_new (const char *codex_home, AuthLock *lock)
{
  StoreFile *self = g_object_new (STORE_TYPE_FILE, NULL);

  g_ptr_array_add (stores, self);
  g_object_weak_ref (G_OBJECT (self), forget_store, NULL);
  return self;
}

const char *
store_file_describe (StoreFile *self)
{
  return "auth.json";
}

gboolean
store_file_watch (StoreFile *self, GError **error)
{
  return TRUE;
}

void
store_file_load_async (StoreFile *self, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);

  note ("fl");
  if (load_fails (task))
    return;
  g_task_return_pointer (task, store_read_new (fake.file != NULL ? STORE_READ_FOUND : STORE_READ_NOT_FOUND, fake.file),
                         (GDestroyNotify) store_read_free);
}

StoreRead *
store_file_load_finish (StoreFile *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
store_file_save_async (StoreFile *self, AuthRecord *record, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);

  note ("fs");
  save (task, &fake.file, record, FALSE);
}

void
store_file_delete_async (StoreFile *self, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);

  note ("fd");
  removal (task, &fake.file);
}

gboolean
store_file_write_finish (StoreFile *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- the keyring item --------------------------------------------------- */

struct _StoreSecret {
  GObject parent;
};

G_DEFINE_FINAL_TYPE (StoreSecret, store_secret, G_TYPE_OBJECT)

static guint secret_changed_signal;

static void
store_secret_init (StoreSecret *self)
{
}

static void
store_secret_class_init (StoreSecretClass *klass)
{
  secret_changed_signal = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                        NULL, G_TYPE_NONE, 0);
}

StoreSecret *
store_secret_new (const char *codex_home)
{
  StoreSecret *self = g_object_new (STORE_TYPE_SECRET, NULL);

  g_ptr_array_add (stores, self);
  g_object_weak_ref (G_OBJECT (self), forget_store, NULL);
  return self;
}

const char *
store_secret_describe (StoreSecret *self)
{
  return "the keyring item";
}

void
store_secret_watch (StoreSecret *self)
{
}

void
store_secret_load_async (StoreSecret *self, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);
  StoreReadStatus status;

  note ("kl");
  if (load_fails (task))
    return;
  switch (fake.keyring)
    {
    case KEYRING_ITEM:
      status = fake.item != NULL ? STORE_READ_FOUND : STORE_READ_NOT_FOUND;
      break;
    case KEYRING_EMPTY:
      status = STORE_READ_NOT_FOUND;
      break;
    case KEYRING_LOCKED:
      status = STORE_READ_LOCKED;
      break;
    case KEYRING_ABSENT:
    default:
      status = STORE_READ_UNAVAILABLE;
      break;
    }
  g_task_return_pointer (task, store_read_new (status, status == STORE_READ_FOUND ? fake.item : NULL),
                         (GDestroyNotify) store_read_free);
}

StoreRead *
store_secret_load_finish (StoreSecret *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
keyring_refuses (GTask *task, gboolean removal_of_nothing_ok)
{
  if (fake.keyring == KEYRING_LOCKED)
    {
      g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_LOCKED, "locked");
      return TRUE;
    }
  if (fake.keyring == KEYRING_ABSENT && !removal_of_nothing_ok)
    {
      g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE, "absent");
      return TRUE;
    }
  return FALSE;
}

void
store_secret_save_async (StoreSecret *self, AuthRecord *record, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);

  note ("ks");
  if (keyring_refuses (task, FALSE))
    return;
  fake.keyring = KEYRING_ITEM;
  save (task, &fake.item, record, TRUE);
}

void
store_secret_delete_async (StoreSecret *self, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);

  note ("kd");
  if (keyring_refuses (task, TRUE))
    return;
  removal (task, &fake.item);
}

gboolean
store_secret_write_finish (StoreSecret *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
store_secret_unlock_async (StoreSecret *self, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);

  note ("ku");
  if (fake.keyring == KEYRING_LOCKED)
    fake.keyring = KEYRING_ITEM;
  g_task_return_boolean (task, TRUE);
}

gboolean
store_secret_unlock_finish (StoreSecret *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- the Codex CLI's setting -------------------------------------------- */

struct _CliSetting {
  int unused;
};

void
cli_setting_read_free (CliSettingRead *read)
{
  if (read == NULL)
    return;
  g_free (read->problem);
  g_free (read);
}

CliSetting *
cli_setting_new (const char *codex_home)
{
  return g_new0 (CliSetting, 1);
}

void
cli_setting_free (CliSetting *setting)
{
  g_free (setting);
}

void
cli_setting_read_async (CliSetting *setting, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  CliSettingRead *read = g_new0 (CliSettingRead, 1);

  note ("cr");
  read->setting = fake.cli;
  if (fake.cli == CLI_STORE_SETTING_INVALID)
    read->problem = g_strdup ("config.toml: not valid TOML (line 1, column 9: ...)");
  g_task_return_pointer (task, read, (GDestroyNotify) cli_setting_read_free);
}

CliSettingRead *
cli_setting_read_finish (CliSetting *setting, GAsyncResult *result)
{
  return g_task_propagate_pointer (G_TASK (result), NULL);
}

void
cli_setting_write_async (CliSetting *setting, const char *value, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);

  note ("cw");
  if (fake.cli_write_fails)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_READ_ONLY, "read-only");
      return;
    }
  fake.cli = g_str_equal (value, "keyring") ? CLI_STORE_SETTING_KEYRING : CLI_STORE_SETTING_FILE;
  g_task_return_boolean (task, TRUE);
}

gboolean
cli_setting_write_finish (CliSetting *setting, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- the world ---------------------------------------------------------- */

void
fake_emit_changed (void)
{
  for (guint i = 0; i < stores->len; i++)
    {
      GObject *store = g_ptr_array_index (stores, i);

      g_signal_emit_by_name (store, "changed");
    }
}

void
fake_reset (gint64 now)
{
  if (stores == NULL)
    stores = g_ptr_array_new ();
  memset (&fake, 0, sizeof fake);
  fake.keyring = KEYRING_EMPTY;
  fake.cli = CLI_STORE_SETTING_DEFAULT;
  fake.log = g_string_new (NULL);
  fake.sent = g_ptr_array_new_with_free_func (g_free);
  g_queue_init (&fake.script);
  fake.now = now;
  fake.jitter = 0.5; /* the jitter factor exactly 1 */
}

void
fake_clear (void)
{
  g_assert_null (fake.held);
  g_assert_null (fake.held_save);
  g_assert_null (fake.held_poison_write);
  g_clear_pointer (&fake.item, auth_record_unref);
  g_clear_pointer (&fake.file, auth_record_unref);
  g_clear_pointer (&fake.poison, poison_record_free);
  g_clear_pointer (&fake.rescue, auth_record_unref);
  g_clear_pointer (&fake.rescue_base, g_free);
  g_queue_clear_full (&fake.script, (GDestroyNotify) refresh_result_free);
  g_clear_pointer (&fake.sent, g_ptr_array_unref);
  if (fake.log != NULL)
    g_string_free (fake.log, TRUE);
  fake.log = NULL;
}
