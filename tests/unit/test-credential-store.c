/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The store policy against two fake stores: every mode, every state of the
 * keyring (item, no item, locked, no Secret Service) and of auth.json
 * (present or not), for load, save, login and logout; then the move between
 * the stores. The expectations are written out case by case, not derived.
 * The "modes" are the policies in force: the daemon's store= setting, or,
 * with store=auto, the Codex CLI's setting in config.toml. */
#include "config.h"

#include <glib.h>
#include <string.h>

#include "auth-error.h"
#include "credential-store.h"

typedef enum {
  KEYRING_ITEM,   /* holds the item */
  KEYRING_EMPTY,  /* running, no item */
  KEYRING_LOCKED, /* the item exists, locked */
  KEYRING_ABSENT, /* no Secret Service */
} KeyringState;

typedef struct {
  CredentialStoreIO io;
  KeyringState keyring;
  AuthRecord *item;      /* the keyring item (also kept while locked) */
  AuthRecord *file;      /* auth.json */
  CodexStoreSetting codex; /* cli_auth_credentials_store in config.toml */
  gboolean config_write_fails;
  GString *log;          /* the operations, in order: "cr cw kl ks kd fl fs fd" */
} FakeStores;

#define FAKE(io) ((FakeStores *) (io))

static void
note (FakeStores *f, const char *op)
{
  if (f->log->len > 0)
    g_string_append_c (f->log, ' ');
  g_string_append (f->log, op);
}

static void
return_read (GTask *task, StoreReadStatus status, AuthRecord *record)
{
  StoreRead *read = g_new0 (StoreRead, 1);

  read->status = status;
  read->record = record != NULL ? auth_record_ref (record) : NULL;
  g_task_return_pointer (task, read, (GDestroyNotify) store_read_free);
}

static void
fake_keyring_load (CredentialStoreIO *io, GAsyncReadyCallback cb, gpointer data)
{
  FakeStores *f = FAKE (io);
  g_autoptr(GTask) task = g_task_new (NULL, NULL, cb, data);

  note (f, "kl");
  switch (f->keyring)
    {
    case KEYRING_ITEM:
      return_read (task, f->item != NULL ? STORE_READ_FOUND : STORE_READ_NOT_FOUND, f->item);
      break;
    case KEYRING_EMPTY:
      return_read (task, STORE_READ_NOT_FOUND, NULL);
      break;
    case KEYRING_LOCKED:
      return_read (task, STORE_READ_LOCKED, NULL);
      break;
    case KEYRING_ABSENT:
    default:
      return_read (task, STORE_READ_UNAVAILABLE, NULL);
      break;
    }
}

/* As StoreSecret: a locked keyring refuses writes and removals, an absent
 * one refuses writes and has nothing to remove. */
static gboolean
keyring_refuses (FakeStores *f, GTask *task, gboolean removal)
{
  if (f->keyring == KEYRING_LOCKED)
    {
      g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_LOCKED, "locked");
      return TRUE;
    }
  if (f->keyring == KEYRING_ABSENT && !removal)
    {
      g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE, "absent");
      return TRUE;
    }
  return FALSE;
}

static void
fake_keyring_save (CredentialStoreIO *io, AuthRecord *record, GAsyncReadyCallback cb, gpointer data)
{
  FakeStores *f = FAKE (io);
  g_autoptr(GTask) task = g_task_new (NULL, NULL, cb, data);

  note (f, "ks");
  if (keyring_refuses (f, task, FALSE))
    return;
  g_clear_pointer (&f->item, auth_record_unref);
  f->item = auth_record_ref (record);
  f->keyring = KEYRING_ITEM;
  g_task_return_boolean (task, TRUE);
}

static void
fake_keyring_delete (CredentialStoreIO *io, GAsyncReadyCallback cb, gpointer data)
{
  FakeStores *f = FAKE (io);
  g_autoptr(GTask) task = g_task_new (NULL, NULL, cb, data);

  note (f, "kd");
  if (keyring_refuses (f, task, TRUE))
    return;
  g_clear_pointer (&f->item, auth_record_unref);
  g_task_return_boolean (task, TRUE);
}

static void
fake_file_load (CredentialStoreIO *io, GAsyncReadyCallback cb, gpointer data)
{
  FakeStores *f = FAKE (io);
  g_autoptr(GTask) task = g_task_new (NULL, NULL, cb, data);

  note (f, "fl");
  return_read (task, f->file != NULL ? STORE_READ_FOUND : STORE_READ_NOT_FOUND, f->file);
}

static void
fake_file_save (CredentialStoreIO *io, AuthRecord *record, GAsyncReadyCallback cb, gpointer data)
{
  FakeStores *f = FAKE (io);
  g_autoptr(GTask) task = g_task_new (NULL, NULL, cb, data);

  note (f, "fs");
  g_clear_pointer (&f->file, auth_record_unref);
  f->file = auth_record_ref (record);
  g_task_return_boolean (task, TRUE);
}

static void
fake_file_delete (CredentialStoreIO *io, GAsyncReadyCallback cb, gpointer data)
{
  FakeStores *f = FAKE (io);
  g_autoptr(GTask) task = g_task_new (NULL, NULL, cb, data);

  note (f, "fd");
  g_clear_pointer (&f->file, auth_record_unref);
  g_task_return_boolean (task, TRUE);
}

static void
fake_config_read (CredentialStoreIO *io, GAsyncReadyCallback cb, gpointer data)
{
  FakeStores *f = FAKE (io);
  g_autoptr(GTask) task = g_task_new (NULL, NULL, cb, data);
  StoreConfigRead *read = g_new0 (StoreConfigRead, 1);

  note (f, "cr");
  read->setting = f->codex;
  if (f->codex == CODEX_STORE_SETTING_INVALID)
    read->problem = g_strdup ("config.toml: not valid TOML (line 1, column 9: ...)");
  g_task_return_pointer (task, read, (GDestroyNotify) store_config_read_free);
}

static void
fake_config_write (CredentialStoreIO *io, const char *value, GAsyncReadyCallback cb, gpointer data)
{
  FakeStores *f = FAKE (io);
  g_autoptr(GTask) task = g_task_new (NULL, NULL, cb, data);

  note (f, "cw");
  if (f->config_write_fails)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_READ_ONLY, "read-only");
      return;
    }
  f->codex = g_str_equal (value, "keyring") ? CODEX_STORE_SETTING_KEYRING : CODEX_STORE_SETTING_FILE;
  g_task_return_boolean (task, TRUE);
}

static const char *
fake_keyring_describe (CredentialStoreIO *io)
{
  return "the keyring item";
}

static const char *
fake_file_describe (CredentialStoreIO *io)
{
  return "auth.json";
}

/* ---- running one case -------------------------------------------------- */

/* The policies: the daemon's setting and, for store=auto, the CLI's. */
typedef enum {
  MODE_CODEX_AUTO,       /* store=auto, cli_auth_credentials_store = "auto" */
  MODE_DAEMON_KEYRING,   /* store=secret-service */
  MODE_DAEMON_FILE,      /* store=file */
  MODE_CODEX_KEYRING,    /* store=auto, cli_auth_credentials_store = "keyring" */
  MODE_CODEX_DEFAULT,    /* store=auto, no setting: the CLI's default, the file */
} Mode;

typedef struct {
  Mode mode;
  KeyringState keyring;
  gboolean file;
} Situation;

static StoreMode
daemon_setting (Mode mode)
{
  return mode == MODE_DAEMON_KEYRING ? STORE_MODE_SECRET_SERVICE
         : mode == MODE_DAEMON_FILE  ? STORE_MODE_FILE
                                     : STORE_MODE_AUTO;
}

static const char *
mode_name (Mode mode)
{
  static const char *const names[] = { "Codex auto", "daemon secret-service", "daemon file", "Codex keyring",
                                       "Codex default" };
  return names[mode];
}

static const char *
keyring_name (KeyringState k)
{
  static const char *const names[] = { "item", "empty", "locked", "absent" };
  return names[k];
}

static void
fake_init (FakeStores *f, const Situation *s)
{
  memset (f, 0, sizeof *f);
  f->io = (CredentialStoreIO) {
    .keyring_load = fake_keyring_load,
    .keyring_save = fake_keyring_save,
    .keyring_delete = fake_keyring_delete,
    .file_load = fake_file_load,
    .file_save = fake_file_save,
    .file_delete = fake_file_delete,
    .config_read = fake_config_read,
    .config_write = fake_config_write,
    .keyring_describe = fake_keyring_describe,
    .file_describe = fake_file_describe,
  };
  f->keyring = s->keyring;
  f->codex = s->mode == MODE_CODEX_AUTO      ? CODEX_STORE_SETTING_AUTO
             : s->mode == MODE_CODEX_KEYRING ? CODEX_STORE_SETTING_KEYRING
                                             : CODEX_STORE_SETTING_DEFAULT;
  if (s->keyring == KEYRING_ITEM || s->keyring == KEYRING_LOCKED)
    f->item = auth_record_new_api_key ("sk-keyring");
  if (s->file)
    f->file = auth_record_new_api_key ("sk-file");
  f->log = g_string_new (NULL);
}

static void
fake_clear (FakeStores *f)
{
  g_clear_pointer (&f->item, auth_record_unref);
  g_clear_pointer (&f->file, auth_record_unref);
  g_string_free (f->log, TRUE);
}

static void
result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GAsyncResult *
wait_for (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

/* The key of a record for the expectations: "keyring", "file", "new", "-". */
static const char *
key_of (AuthRecord *record)
{
  const char *key;

  if (record == NULL)
    return "-";
  key = auth_record_get_api_key (record);
  if (g_str_equal (key, "sk-keyring"))
    return "keyring";
  if (g_str_equal (key, "sk-file"))
    return "file";
  return "new";
}

/* The outcome of an operation: "ok", "locked", "unavailable" or "error". */
static const char *
outcome_of (const GError *error)
{
  if (error == NULL)
    return "ok";
  if (g_error_matches (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_LOCKED))
    return "locked";
  if (g_error_matches (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE))
    return "unavailable";
  return "error";
}

/* What the stores hold: "item=K file=F" with K and F from key_of(). */
static char *
stores_of (FakeStores *f)
{
  return g_strdup_printf ("item=%s file=%s", key_of (f->item), key_of (f->file));
}

typedef enum { OP_LOAD, OP_SAVE, OP_LOGIN, OP_LOGOUT } Op;

/* Runs @op in a fresh situation @s (save: after a load, as the daemon
 * does) and describes the outcome as one line:
 * "OUTCOME [record] | item=.. file=.. | source | ops". */
static char *
run_case (const Situation *s, Op op)
{
  FakeStores f;
  g_autoptr(CredentialStore) store = NULL;
  g_autoptr(AuthRecord) fresh = auth_record_new_api_key ("sk-new");
  g_autoptr(AuthRecord) loaded = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *result = NULL;
  g_autofree char *stores = NULL;
  g_autofree char *head = NULL;
  char *line;

  fake_init (&f, s);
  store = credential_store_new (daemon_setting (s->mode), &f.io);
  if (op != OP_LOAD && op != OP_SAVE)
    g_assert_cmpstr (credential_store_get_source_name (store), ==, s->mode == MODE_DAEMON_FILE ? "file" : "none");

  if (op == OP_LOAD || op == OP_SAVE)
    {
      credential_store_load_async (store, result_cb, &result);
      loaded = credential_store_load_finish (store, wait_for (&result), &error);
      g_clear_object (&result);
    }
  if (op == OP_LOAD)
    head = g_strdup_printf ("%s %s", outcome_of (error), key_of (loaded));
  else
    {
      if (op == OP_SAVE)
        {
          g_clear_error (&error);
          g_string_append (f.log, " |");
          credential_store_save_async (store, fresh, result_cb, &result);
        }
      else if (op == OP_LOGIN)
        credential_store_save_login_async (store, fresh, result_cb, &result);
      else
        credential_store_remove_all_async (store, result_cb, &result);
      (void) credential_store_write_finish (store, wait_for (&result), &error);
      g_clear_object (&result);
      head = g_strdup (outcome_of (error));
    }
  stores = stores_of (&f);
  line = g_strdup_printf ("%s | %s | %s | %s", head, stores, credential_store_get_source_name (store), f.log->str);
  fake_clear (&f);
  return line;
}

typedef struct {
  Situation situation;
  const char *expected;
} Case;

#define A MODE_CODEX_AUTO
#define S MODE_DAEMON_KEYRING
#define F MODE_DAEMON_FILE
#define K MODE_CODEX_KEYRING
#define D MODE_CODEX_DEFAULT

static void
run_table (Op op, const Case *cases, gsize n)
{
  for (gsize i = 0; i < n; i++)
    {
      const Situation *s = &cases[i].situation;
      g_autofree char *got = run_case (s, op);

      g_test_message ("%s, keyring %s, auth.json %s: %s", mode_name (s->mode),
                      keyring_name (s->keyring), s->file ? "present" : "absent", got);
      g_assert_cmpstr (got, ==, cases[i].expected);
    }
  /* Every mode × keyring state × file state is covered. */
  g_assert_cmpuint (n, ==, 5 * 4 * 2);
}

/* Loads: which store is read, what is found, where it would be written. */
static void
test_load (void)
{
  static const Case cases[] = {
    { { A, KEYRING_ITEM, TRUE }, "ok keyring | item=keyring file=file | secret-service | cr kl" },
    { { A, KEYRING_ITEM, FALSE }, "ok keyring | item=keyring file=- | secret-service | cr kl" },
    { { A, KEYRING_EMPTY, TRUE }, "ok file | item=- file=file | file | cr kl fl" },
    { { A, KEYRING_EMPTY, FALSE }, "ok - | item=- file=- | secret-service | cr kl fl" },
    { { A, KEYRING_LOCKED, TRUE }, "locked - | item=keyring file=file | secret-service | cr kl" },
    { { A, KEYRING_LOCKED, FALSE }, "locked - | item=keyring file=- | secret-service | cr kl" },
    { { A, KEYRING_ABSENT, TRUE }, "ok file | item=- file=file | file | cr kl fl" },
    { { A, KEYRING_ABSENT, FALSE }, "ok - | item=- file=- | file | cr kl fl" },
    { { S, KEYRING_ITEM, TRUE }, "ok keyring | item=keyring file=file | secret-service | kl" },
    { { S, KEYRING_ITEM, FALSE }, "ok keyring | item=keyring file=- | secret-service | kl" },
    { { S, KEYRING_EMPTY, TRUE }, "ok - | item=- file=file | secret-service | kl" },
    { { S, KEYRING_EMPTY, FALSE }, "ok - | item=- file=- | secret-service | kl" },
    { { S, KEYRING_LOCKED, TRUE }, "locked - | item=keyring file=file | secret-service | kl" },
    { { S, KEYRING_LOCKED, FALSE }, "locked - | item=keyring file=- | secret-service | kl" },
    { { S, KEYRING_ABSENT, TRUE }, "unavailable - | item=- file=file | secret-service | kl" },
    { { S, KEYRING_ABSENT, FALSE }, "unavailable - | item=- file=- | secret-service | kl" },
    { { F, KEYRING_ITEM, TRUE }, "ok file | item=keyring file=file | file | fl" },
    { { F, KEYRING_ITEM, FALSE }, "ok - | item=keyring file=- | file | fl" },
    { { F, KEYRING_EMPTY, TRUE }, "ok file | item=- file=file | file | fl" },
    { { F, KEYRING_EMPTY, FALSE }, "ok - | item=- file=- | file | fl" },
    { { F, KEYRING_LOCKED, TRUE }, "ok file | item=keyring file=file | file | fl" },
    { { F, KEYRING_LOCKED, FALSE }, "ok - | item=keyring file=- | file | fl" },
    { { F, KEYRING_ABSENT, TRUE }, "ok file | item=- file=file | file | fl" },
    { { F, KEYRING_ABSENT, FALSE }, "ok - | item=- file=- | file | fl" },
    { { K, KEYRING_ITEM, TRUE }, "ok keyring | item=keyring file=file | secret-service | cr kl" },
    { { K, KEYRING_ITEM, FALSE }, "ok keyring | item=keyring file=- | secret-service | cr kl" },
    { { K, KEYRING_EMPTY, TRUE }, "ok - | item=- file=file | secret-service | cr kl" },
    { { K, KEYRING_EMPTY, FALSE }, "ok - | item=- file=- | secret-service | cr kl" },
    { { K, KEYRING_LOCKED, TRUE }, "locked - | item=keyring file=file | secret-service | cr kl" },
    { { K, KEYRING_LOCKED, FALSE }, "locked - | item=keyring file=- | secret-service | cr kl" },
    { { K, KEYRING_ABSENT, TRUE }, "unavailable - | item=- file=file | secret-service | cr kl" },
    { { K, KEYRING_ABSENT, FALSE }, "unavailable - | item=- file=- | secret-service | cr kl" },
    { { D, KEYRING_ITEM, TRUE }, "ok file | item=keyring file=file | file | cr fl" },
    { { D, KEYRING_ITEM, FALSE }, "ok - | item=keyring file=- | file | cr fl" },
    { { D, KEYRING_EMPTY, TRUE }, "ok file | item=- file=file | file | cr fl" },
    { { D, KEYRING_EMPTY, FALSE }, "ok - | item=- file=- | file | cr fl" },
    { { D, KEYRING_LOCKED, TRUE }, "ok file | item=keyring file=file | file | cr fl" },
    { { D, KEYRING_LOCKED, FALSE }, "ok - | item=keyring file=- | file | cr fl" },
    { { D, KEYRING_ABSENT, TRUE }, "ok file | item=- file=file | file | cr fl" },
    { { D, KEYRING_ABSENT, FALSE }, "ok - | item=- file=- | file | cr fl" },
  };

  run_table (OP_LOAD, cases, G_N_ELEMENTS (cases));
}

/* A refreshed record is written back where the loaded one came from. */
static void
test_save (void)
{
  static const Case cases[] = {
    { { A, KEYRING_ITEM, TRUE }, "ok | item=new file=- | secret-service | cr kl | ks fd" },
    { { A, KEYRING_ITEM, FALSE }, "ok | item=new file=- | secret-service | cr kl | ks fd" },
    { { A, KEYRING_EMPTY, TRUE }, "ok | item=- file=new | file | cr kl fl | fs" },
    { { A, KEYRING_EMPTY, FALSE }, "ok | item=new file=- | secret-service | cr kl fl | ks fd" },
    { { A, KEYRING_LOCKED, TRUE }, "locked | item=keyring file=file | secret-service | cr kl | ks" },
    { { A, KEYRING_LOCKED, FALSE }, "locked | item=keyring file=- | secret-service | cr kl | ks" },
    { { A, KEYRING_ABSENT, TRUE }, "ok | item=- file=new | file | cr kl fl | fs" },
    { { A, KEYRING_ABSENT, FALSE }, "ok | item=- file=new | file | cr kl fl | fs" },
    { { S, KEYRING_ITEM, TRUE }, "ok | item=new file=file | secret-service | kl | ks" },
    { { S, KEYRING_ITEM, FALSE }, "ok | item=new file=- | secret-service | kl | ks" },
    { { S, KEYRING_EMPTY, TRUE }, "ok | item=new file=file | secret-service | kl | ks" },
    { { S, KEYRING_EMPTY, FALSE }, "ok | item=new file=- | secret-service | kl | ks" },
    { { S, KEYRING_LOCKED, TRUE }, "locked | item=keyring file=file | secret-service | kl | ks" },
    { { S, KEYRING_LOCKED, FALSE }, "locked | item=keyring file=- | secret-service | kl | ks" },
    { { S, KEYRING_ABSENT, TRUE }, "unavailable | item=- file=file | secret-service | kl | ks" },
    { { S, KEYRING_ABSENT, FALSE }, "unavailable | item=- file=- | secret-service | kl | ks" },
    { { F, KEYRING_ITEM, TRUE }, "ok | item=keyring file=new | file | fl | fs" },
    { { F, KEYRING_ITEM, FALSE }, "ok | item=keyring file=new | file | fl | fs" },
    { { F, KEYRING_EMPTY, TRUE }, "ok | item=- file=new | file | fl | fs" },
    { { F, KEYRING_EMPTY, FALSE }, "ok | item=- file=new | file | fl | fs" },
    { { F, KEYRING_LOCKED, TRUE }, "ok | item=keyring file=new | file | fl | fs" },
    { { F, KEYRING_LOCKED, FALSE }, "ok | item=keyring file=new | file | fl | fs" },
    { { F, KEYRING_ABSENT, TRUE }, "ok | item=- file=new | file | fl | fs" },
    { { F, KEYRING_ABSENT, FALSE }, "ok | item=- file=new | file | fl | fs" },
    { { K, KEYRING_ITEM, TRUE }, "ok | item=new file=- | secret-service | cr kl | ks fd" },
    { { K, KEYRING_ITEM, FALSE }, "ok | item=new file=- | secret-service | cr kl | ks fd" },
    { { K, KEYRING_EMPTY, TRUE }, "ok | item=new file=- | secret-service | cr kl | ks fd" },
    { { K, KEYRING_EMPTY, FALSE }, "ok | item=new file=- | secret-service | cr kl | ks fd" },
    { { K, KEYRING_LOCKED, TRUE }, "locked | item=keyring file=file | secret-service | cr kl | ks" },
    { { K, KEYRING_LOCKED, FALSE }, "locked | item=keyring file=- | secret-service | cr kl | ks" },
    { { K, KEYRING_ABSENT, TRUE }, "unavailable | item=- file=file | secret-service | cr kl | ks" },
    { { K, KEYRING_ABSENT, FALSE }, "unavailable | item=- file=- | secret-service | cr kl | ks" },
    { { D, KEYRING_ITEM, TRUE }, "ok | item=keyring file=new | file | cr fl | fs" },
    { { D, KEYRING_ITEM, FALSE }, "ok | item=keyring file=new | file | cr fl | fs" },
    { { D, KEYRING_EMPTY, TRUE }, "ok | item=- file=new | file | cr fl | fs" },
    { { D, KEYRING_EMPTY, FALSE }, "ok | item=- file=new | file | cr fl | fs" },
    { { D, KEYRING_LOCKED, TRUE }, "ok | item=keyring file=new | file | cr fl | fs" },
    { { D, KEYRING_LOCKED, FALSE }, "ok | item=keyring file=new | file | cr fl | fs" },
    { { D, KEYRING_ABSENT, TRUE }, "ok | item=- file=new | file | cr fl | fs" },
    { { D, KEYRING_ABSENT, FALSE }, "ok | item=- file=new | file | cr fl | fs" },
  };

  run_table (OP_SAVE, cases, G_N_ELEMENTS (cases));
}

/* A new login: the keyring first in auto mode (auth.json removed after),
 * auth.json when no Secret Service runs; a locked keyring changes nothing. */
static void
test_login (void)
{
  static const Case cases[] = {
    { { A, KEYRING_ITEM, TRUE }, "ok | item=new file=- | secret-service | cr ks fd" },
    { { A, KEYRING_ITEM, FALSE }, "ok | item=new file=- | secret-service | cr ks fd" },
    { { A, KEYRING_EMPTY, TRUE }, "ok | item=new file=- | secret-service | cr ks fd" },
    { { A, KEYRING_EMPTY, FALSE }, "ok | item=new file=- | secret-service | cr ks fd" },
    { { A, KEYRING_LOCKED, TRUE }, "locked | item=keyring file=file | none | cr ks" },
    { { A, KEYRING_LOCKED, FALSE }, "locked | item=keyring file=- | none | cr ks" },
    { { A, KEYRING_ABSENT, TRUE }, "ok | item=- file=new | file | cr ks fs" },
    { { A, KEYRING_ABSENT, FALSE }, "ok | item=- file=new | file | cr ks fs" },
    { { S, KEYRING_ITEM, TRUE }, "ok | item=new file=file | secret-service | ks" },
    { { S, KEYRING_ITEM, FALSE }, "ok | item=new file=- | secret-service | ks" },
    { { S, KEYRING_EMPTY, TRUE }, "ok | item=new file=file | secret-service | ks" },
    { { S, KEYRING_EMPTY, FALSE }, "ok | item=new file=- | secret-service | ks" },
    { { S, KEYRING_LOCKED, TRUE }, "locked | item=keyring file=file | none | ks" },
    { { S, KEYRING_LOCKED, FALSE }, "locked | item=keyring file=- | none | ks" },
    { { S, KEYRING_ABSENT, TRUE }, "unavailable | item=- file=file | none | ks" },
    { { S, KEYRING_ABSENT, FALSE }, "unavailable | item=- file=- | none | ks" },
    { { F, KEYRING_ITEM, TRUE }, "ok | item=keyring file=new | file | fs" },
    { { F, KEYRING_ITEM, FALSE }, "ok | item=keyring file=new | file | fs" },
    { { F, KEYRING_EMPTY, TRUE }, "ok | item=- file=new | file | fs" },
    { { F, KEYRING_EMPTY, FALSE }, "ok | item=- file=new | file | fs" },
    { { F, KEYRING_LOCKED, TRUE }, "ok | item=keyring file=new | file | fs" },
    { { F, KEYRING_LOCKED, FALSE }, "ok | item=keyring file=new | file | fs" },
    { { F, KEYRING_ABSENT, TRUE }, "ok | item=- file=new | file | fs" },
    { { F, KEYRING_ABSENT, FALSE }, "ok | item=- file=new | file | fs" },
    { { K, KEYRING_ITEM, TRUE }, "ok | item=new file=- | secret-service | cr ks fd" },
    { { K, KEYRING_ITEM, FALSE }, "ok | item=new file=- | secret-service | cr ks fd" },
    { { K, KEYRING_EMPTY, TRUE }, "ok | item=new file=- | secret-service | cr ks fd" },
    { { K, KEYRING_EMPTY, FALSE }, "ok | item=new file=- | secret-service | cr ks fd" },
    { { K, KEYRING_LOCKED, TRUE }, "locked | item=keyring file=file | none | cr ks" },
    { { K, KEYRING_LOCKED, FALSE }, "locked | item=keyring file=- | none | cr ks" },
    { { K, KEYRING_ABSENT, TRUE }, "unavailable | item=- file=file | none | cr ks" },
    { { K, KEYRING_ABSENT, FALSE }, "unavailable | item=- file=- | none | cr ks" },
    { { D, KEYRING_ITEM, TRUE }, "ok | item=keyring file=new | file | cr fs" },
    { { D, KEYRING_ITEM, FALSE }, "ok | item=keyring file=new | file | cr fs" },
    { { D, KEYRING_EMPTY, TRUE }, "ok | item=- file=new | file | cr fs" },
    { { D, KEYRING_EMPTY, FALSE }, "ok | item=- file=new | file | cr fs" },
    { { D, KEYRING_LOCKED, TRUE }, "ok | item=keyring file=new | file | cr fs" },
    { { D, KEYRING_LOCKED, FALSE }, "ok | item=keyring file=new | file | cr fs" },
    { { D, KEYRING_ABSENT, TRUE }, "ok | item=- file=new | file | cr fs" },
    { { D, KEYRING_ABSENT, FALSE }, "ok | item=- file=new | file | cr fs" },
  };

  run_table (OP_LOGIN, cases, G_N_ELEMENTS (cases));
}

/* A logout: the keyring item first (locked: nothing is removed), then
 * auth.json unless the mode is secret-service. */
static void
test_logout (void)
{
  static const Case cases[] = {
    { { A, KEYRING_ITEM, TRUE }, "ok | item=- file=- | none | cr kd fd" },
    { { A, KEYRING_ITEM, FALSE }, "ok | item=- file=- | none | cr kd fd" },
    { { A, KEYRING_EMPTY, TRUE }, "ok | item=- file=- | none | cr kd fd" },
    { { A, KEYRING_EMPTY, FALSE }, "ok | item=- file=- | none | cr kd fd" },
    { { A, KEYRING_LOCKED, TRUE }, "locked | item=keyring file=file | none | cr kd" },
    { { A, KEYRING_LOCKED, FALSE }, "locked | item=keyring file=- | none | cr kd" },
    { { A, KEYRING_ABSENT, TRUE }, "ok | item=- file=- | none | cr kd fd" },
    { { A, KEYRING_ABSENT, FALSE }, "ok | item=- file=- | none | cr kd fd" },
    { { S, KEYRING_ITEM, TRUE }, "ok | item=- file=file | none | kd" },
    { { S, KEYRING_ITEM, FALSE }, "ok | item=- file=- | none | kd" },
    { { S, KEYRING_EMPTY, TRUE }, "ok | item=- file=file | none | kd" },
    { { S, KEYRING_EMPTY, FALSE }, "ok | item=- file=- | none | kd" },
    { { S, KEYRING_LOCKED, TRUE }, "locked | item=keyring file=file | none | kd" },
    { { S, KEYRING_LOCKED, FALSE }, "locked | item=keyring file=- | none | kd" },
    { { S, KEYRING_ABSENT, TRUE }, "ok | item=- file=file | none | kd" },
    { { S, KEYRING_ABSENT, FALSE }, "ok | item=- file=- | none | kd" },
    { { F, KEYRING_ITEM, TRUE }, "ok | item=keyring file=- | file | fd" },
    { { F, KEYRING_ITEM, FALSE }, "ok | item=keyring file=- | file | fd" },
    { { F, KEYRING_EMPTY, TRUE }, "ok | item=- file=- | file | fd" },
    { { F, KEYRING_EMPTY, FALSE }, "ok | item=- file=- | file | fd" },
    { { F, KEYRING_LOCKED, TRUE }, "ok | item=keyring file=- | file | fd" },
    { { F, KEYRING_LOCKED, FALSE }, "ok | item=keyring file=- | file | fd" },
    { { F, KEYRING_ABSENT, TRUE }, "ok | item=- file=- | file | fd" },
    { { F, KEYRING_ABSENT, FALSE }, "ok | item=- file=- | file | fd" },
    { { K, KEYRING_ITEM, TRUE }, "ok | item=- file=- | none | cr kd fd" },
    { { K, KEYRING_ITEM, FALSE }, "ok | item=- file=- | none | cr kd fd" },
    { { K, KEYRING_EMPTY, TRUE }, "ok | item=- file=- | none | cr kd fd" },
    { { K, KEYRING_EMPTY, FALSE }, "ok | item=- file=- | none | cr kd fd" },
    { { K, KEYRING_LOCKED, TRUE }, "locked | item=keyring file=file | none | cr kd" },
    { { K, KEYRING_LOCKED, FALSE }, "locked | item=keyring file=- | none | cr kd" },
    { { K, KEYRING_ABSENT, TRUE }, "ok | item=- file=- | none | cr kd fd" },
    { { K, KEYRING_ABSENT, FALSE }, "ok | item=- file=- | none | cr kd fd" },
    { { D, KEYRING_ITEM, TRUE }, "ok | item=keyring file=- | file | cr fd" },
    { { D, KEYRING_ITEM, FALSE }, "ok | item=keyring file=- | file | cr fd" },
    { { D, KEYRING_EMPTY, TRUE }, "ok | item=- file=- | file | cr fd" },
    { { D, KEYRING_EMPTY, FALSE }, "ok | item=- file=- | file | cr fd" },
    { { D, KEYRING_LOCKED, TRUE }, "ok | item=keyring file=- | file | cr fd" },
    { { D, KEYRING_LOCKED, FALSE }, "ok | item=keyring file=- | file | cr fd" },
    { { D, KEYRING_ABSENT, TRUE }, "ok | item=- file=- | file | cr fd" },
    { { D, KEYRING_ABSENT, FALSE }, "ok | item=- file=- | file | cr fd" },
  };

  run_table (OP_LOGOUT, cases, G_N_ELEMENTS (cases));
}

/* Auto mode: once the item was read, a Secret Service that leaves is
 * reported, not replaced by auth.json; after a read that found no item,
 * auth.json is used. */
static void
test_keyring_that_leaves (void)
{
  const Situation s = { A, KEYRING_ITEM, TRUE };
  FakeStores f;
  g_autoptr(CredentialStore) store = NULL;
  g_autoptr(AuthRecord) record = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *result = NULL;

  fake_init (&f, &s);
  store = credential_store_new (STORE_MODE_AUTO, &f.io);
  credential_store_load_async (store, result_cb, &result);
  record = credential_store_load_finish (store, wait_for (&result), &error);
  g_clear_object (&result);
  g_assert_no_error (error);
  g_assert_cmpstr (key_of (record), ==, "keyring");
  g_clear_pointer (&record, auth_record_unref);

  f.keyring = KEYRING_ABSENT;
  credential_store_load_async (store, result_cb, &result);
  record = credential_store_load_finish (store, wait_for (&result), &error);
  g_clear_object (&result);
  g_assert_error (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE);
  g_assert_null (record);
  g_assert_cmpstr (credential_store_get_source_name (store), ==, "secret-service");
  g_clear_error (&error);

  /* The keyring comes back without the item: auth.json takes over. */
  f.keyring = KEYRING_EMPTY;
  g_clear_pointer (&f.item, auth_record_unref);
  credential_store_load_async (store, result_cb, &result);
  record = credential_store_load_finish (store, wait_for (&result), &error);
  g_clear_object (&result);
  g_assert_no_error (error);
  g_assert_cmpstr (key_of (record), ==, "file");
  g_assert_cmpstr (credential_store_describe (store), ==, "auth.json");
  fake_clear (&f);
}


static AuthRecord *
load (CredentialStore *store, GError **error)
{
  GAsyncResult *result = NULL;
  AuthRecord *record;

  credential_store_load_async (store, result_cb, &result);
  record = credential_store_load_finish (store, wait_for (&result), error);
  g_object_unref (result);
  return record;
}

/* Which setting chose the store, read again at every load: a change to
 * config.toml is followed, a config.toml that cannot be used is reported
 * and the CLI's default applies. */
static void
test_reasons (void)
{
  const Situation s = { A, KEYRING_ITEM, TRUE };
  FakeStores f;
  g_autoptr(CredentialStore) store = NULL;
  g_autoptr(CredentialStore) daemon_file = NULL;
  g_autoptr(CredentialStore) daemon_keyring = NULL;
  g_autoptr(GError) error = NULL;
  AuthRecord *record;

  fake_init (&f, &s);
  store = credential_store_new (STORE_MODE_AUTO, &f.io);
  g_assert_cmpstr (credential_store_get_reason (store), ==, "Codex default: file");
  record = load (store, &error);
  g_assert_cmpstr (key_of (record), ==, "keyring");
  g_clear_pointer (&record, auth_record_unref);
  g_assert_cmpstr (credential_store_get_reason (store), ==, "Codex config: auto");
  g_assert_null (credential_store_get_config_problem (store));
  g_assert_cmpstr (credential_store_describe_searched (store), ==, "the keyring item or auth.json");

  f.codex = CODEX_STORE_SETTING_FILE;
  record = load (store, &error);
  g_assert_cmpstr (key_of (record), ==, "file");
  g_clear_pointer (&record, auth_record_unref);
  g_assert_cmpstr (credential_store_get_reason (store), ==, "Codex config: file");
  g_assert_false (credential_store_uses_keyring (store));

  f.codex = CODEX_STORE_SETTING_KEYRING;
  record = load (store, &error);
  g_assert_cmpstr (key_of (record), ==, "keyring");
  g_clear_pointer (&record, auth_record_unref);
  g_assert_cmpstr (credential_store_get_reason (store), ==, "Codex config: keyring");

  f.codex = CODEX_STORE_SETTING_INVALID;
  g_test_expect_message ("codex-authd-store", G_LOG_LEVEL_WARNING, "*configuration cannot be used*not valid TOML*");
  record = load (store, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpstr (key_of (record), ==, "file");
  g_clear_pointer (&record, auth_record_unref);
  g_assert_cmpstr (credential_store_get_reason (store), ==, "Codex default: file (config.toml cannot be used)");
  g_assert_nonnull (strstr (credential_store_get_config_problem (store), "not valid TOML"));

  f.codex = CODEX_STORE_SETTING_DEFAULT;
  record = load (store, &error);
  g_clear_pointer (&record, auth_record_unref);
  g_assert_cmpstr (credential_store_get_reason (store), ==, "Codex default: file");
  g_assert_null (credential_store_get_config_problem (store));

  /* The daemon's own setting wins, and config.toml is not even read. */
  f.codex = CODEX_STORE_SETTING_KEYRING;
  g_string_truncate (f.log, 0);
  daemon_file = credential_store_new (STORE_MODE_FILE, &f.io);
  record = load (daemon_file, &error);
  g_assert_cmpstr (key_of (record), ==, "file");
  g_clear_pointer (&record, auth_record_unref);
  g_assert_cmpstr (credential_store_get_reason (daemon_file), ==, "daemon setting: file");
  daemon_keyring = credential_store_new (STORE_MODE_SECRET_SERVICE, &f.io);
  g_assert_cmpstr (credential_store_get_reason (daemon_keyring), ==, "daemon setting: secret-service");
  g_assert_cmpstr (f.log->str, ==, "fl");
  fake_clear (&f);
}

/* Runs a move of @record (NULL: none) to @target in @s; the line is
 * "OUTCOME | item=.. file=.. | setting | ops". */
static char *
run_move (const Situation *s, AuthRecord *record, StoreMode target, gboolean config_fails)
{
  FakeStores f;
  g_autoptr(CredentialStore) store = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *result = NULL;
  g_autofree char *stores = NULL;
  char *line;

  fake_init (&f, s);
  f.config_write_fails = config_fails;
  store = credential_store_new (daemon_setting (s->mode), &f.io);
  credential_store_move_async (store, record, target, result_cb, &result);
  (void) credential_store_write_finish (store, wait_for (&result), &error);
  g_clear_object (&result);
  stores = stores_of (&f);
  line = g_strdup_printf ("%s | %s | %s | %s", error != NULL && error->domain == CODEX_AUTH_ERROR &&
                          error->code == CODEX_AUTH_ERROR_NOT_SUPPORTED ? "not-supported" : outcome_of (error),
                          stores, f.codex == CODEX_STORE_SETTING_DEFAULT ? "-" : codex_store_setting_to_string (f.codex),
                          f.log->str);
  fake_clear (&f);
  return line;
}

static void
check_move (const Situation *s, AuthRecord *record, StoreMode target, gboolean config_fails,
            const char *expected)
{
  g_autofree char *got = run_move (s, record, target, config_fails);

  g_test_message ("move to %s from %s, keyring %s, auth.json %s: %s", store_mode_to_string (target),
                  mode_name (s->mode), keyring_name (s->keyring), s->file ? "present" : "absent", got);
  g_assert_cmpstr (got, ==, expected);
}

/* Moving: the copy first, then the CLI's setting, then the old store
 * emptied; a setting that cannot be written undoes the copy. */
static void
test_move (void)
{
  g_autoptr(AuthRecord) fresh = auth_record_new_api_key ("sk-new");
  const Situation file_login = { D, KEYRING_EMPTY, TRUE };
  const Situation keyring_login = { K, KEYRING_ITEM, FALSE };
  const Situation locked = { D, KEYRING_LOCKED, TRUE };
  const Situation absent = { D, KEYRING_ABSENT, TRUE };
  const Situation daemon_file = { F, KEYRING_EMPTY, TRUE };

  check_move (&file_login, fresh, STORE_MODE_SECRET_SERVICE, FALSE,
              "ok | item=new file=- | keyring | cr ks cw fd");
  check_move (&keyring_login, fresh, STORE_MODE_FILE, FALSE, "ok | item=- file=new | file | cr fs cw kd");
  /* Nothing stored: only the setting changes. */
  check_move (&file_login, NULL, STORE_MODE_SECRET_SERVICE, FALSE, "ok | item=- file=file | keyring | cr cw");
  /* config.toml cannot be written: the copy is removed, nothing changed. */
  check_move (&file_login, fresh, STORE_MODE_SECRET_SERVICE, TRUE, "error | item=- file=file | - | cr ks cw kd");
  check_move (&keyring_login, fresh, STORE_MODE_FILE, TRUE, "error | item=keyring file=- | keyring | cr fs cw fd");
  /* A keyring that cannot take it: nothing changes. */
  check_move (&locked, fresh, STORE_MODE_SECRET_SERVICE, FALSE, "locked | item=keyring file=file | - | cr ks");
  check_move (&absent, fresh, STORE_MODE_SECRET_SERVICE, FALSE, "unavailable | item=- file=file | - | cr ks");
  /* The daemon's own setting decides: refused, nothing touched. */
  check_move (&daemon_file, fresh, STORE_MODE_SECRET_SERVICE, FALSE, "not-supported | item=- file=file | - | ");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/credential-store/load", test_load);
  g_test_add_func ("/credential-store/save", test_save);
  g_test_add_func ("/credential-store/login", test_login);
  g_test_add_func ("/credential-store/logout", test_logout);
  g_test_add_func ("/credential-store/keyring-that-leaves", test_keyring_that_leaves);
  g_test_add_func ("/credential-store/reasons", test_reasons);
  g_test_add_func ("/credential-store/move", test_move);

  return g_test_run ();
}
