/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The store policy against two fake stores: every mode, every state of the
 * keyring (item, no item, locked, no Secret Service) and of auth.json
 * (present or not), for load, save, login and logout. The expectations are
 * written out case by case, not derived. */
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
  GString *log;          /* the operations, in order: "kl ks kd fl fs fd" */
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

typedef struct {
  StoreMode mode;
  KeyringState keyring;
  gboolean file;
} Situation;

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
    .keyring_describe = fake_keyring_describe,
    .file_describe = fake_file_describe,
  };
  f->keyring = s->keyring;
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
  store = credential_store_new (s->mode, &f.io);
  if (op != OP_LOAD && op != OP_SAVE)
    g_assert_cmpstr (credential_store_get_source_name (store), ==, s->mode == STORE_MODE_FILE ? "file" : "none");

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

#define A STORE_MODE_AUTO
#define S STORE_MODE_SECRET_SERVICE
#define F STORE_MODE_FILE

static void
run_table (Op op, const Case *cases, gsize n)
{
  for (gsize i = 0; i < n; i++)
    {
      const Situation *s = &cases[i].situation;
      g_autofree char *got = run_case (s, op);

      g_test_message ("%s, keyring %s, auth.json %s: %s", store_mode_to_string (s->mode),
                      keyring_name (s->keyring), s->file ? "present" : "absent", got);
      g_assert_cmpstr (got, ==, cases[i].expected);
    }
  /* Every mode × keyring state × file state is covered. */
  g_assert_cmpuint (n, ==, 3 * 4 * 2);
}

/* Loads: which store is read, what is found, where it would be written. */
static void
test_load (void)
{
  static const Case cases[] = {
    { { A, KEYRING_ITEM, TRUE }, "ok keyring | item=keyring file=file | secret-service | kl" },
    { { A, KEYRING_ITEM, FALSE }, "ok keyring | item=keyring file=- | secret-service | kl" },
    { { A, KEYRING_EMPTY, TRUE }, "ok file | item=- file=file | file | kl fl" },
    { { A, KEYRING_EMPTY, FALSE }, "ok - | item=- file=- | secret-service | kl fl" },
    { { A, KEYRING_LOCKED, TRUE }, "locked - | item=keyring file=file | secret-service | kl" },
    { { A, KEYRING_LOCKED, FALSE }, "locked - | item=keyring file=- | secret-service | kl" },
    { { A, KEYRING_ABSENT, TRUE }, "ok file | item=- file=file | file | kl fl" },
    { { A, KEYRING_ABSENT, FALSE }, "ok - | item=- file=- | file | kl fl" },
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
  };

  run_table (OP_LOAD, cases, G_N_ELEMENTS (cases));
}

/* A refreshed record is written back where the loaded one came from. */
static void
test_save (void)
{
  static const Case cases[] = {
    { { A, KEYRING_ITEM, TRUE }, "ok | item=new file=file | secret-service | kl | ks" },
    { { A, KEYRING_ITEM, FALSE }, "ok | item=new file=- | secret-service | kl | ks" },
    { { A, KEYRING_EMPTY, TRUE }, "ok | item=- file=new | file | kl fl | fs" },
    { { A, KEYRING_EMPTY, FALSE }, "ok | item=new file=- | secret-service | kl fl | ks" },
    { { A, KEYRING_LOCKED, TRUE }, "locked | item=keyring file=file | secret-service | kl | ks" },
    { { A, KEYRING_LOCKED, FALSE }, "locked | item=keyring file=- | secret-service | kl | ks" },
    { { A, KEYRING_ABSENT, TRUE }, "ok | item=- file=new | file | kl fl | fs" },
    { { A, KEYRING_ABSENT, FALSE }, "ok | item=- file=new | file | kl fl | fs" },
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
  };

  run_table (OP_SAVE, cases, G_N_ELEMENTS (cases));
}

/* A new login: the keyring first in auto mode (auth.json removed after),
 * auth.json when no Secret Service runs; a locked keyring changes nothing. */
static void
test_login (void)
{
  static const Case cases[] = {
    { { A, KEYRING_ITEM, TRUE }, "ok | item=new file=- | secret-service | ks fd" },
    { { A, KEYRING_ITEM, FALSE }, "ok | item=new file=- | secret-service | ks fd" },
    { { A, KEYRING_EMPTY, TRUE }, "ok | item=new file=- | secret-service | ks fd" },
    { { A, KEYRING_EMPTY, FALSE }, "ok | item=new file=- | secret-service | ks fd" },
    { { A, KEYRING_LOCKED, TRUE }, "locked | item=keyring file=file | none | ks" },
    { { A, KEYRING_LOCKED, FALSE }, "locked | item=keyring file=- | none | ks" },
    { { A, KEYRING_ABSENT, TRUE }, "ok | item=- file=new | file | ks fs" },
    { { A, KEYRING_ABSENT, FALSE }, "ok | item=- file=new | file | ks fs" },
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
  };

  run_table (OP_LOGIN, cases, G_N_ELEMENTS (cases));
}

/* A logout: the keyring item first (locked: nothing is removed), then
 * auth.json unless the mode is secret-service. */
static void
test_logout (void)
{
  static const Case cases[] = {
    { { A, KEYRING_ITEM, TRUE }, "ok | item=- file=- | none | kd fd" },
    { { A, KEYRING_ITEM, FALSE }, "ok | item=- file=- | none | kd fd" },
    { { A, KEYRING_EMPTY, TRUE }, "ok | item=- file=- | none | kd fd" },
    { { A, KEYRING_EMPTY, FALSE }, "ok | item=- file=- | none | kd fd" },
    { { A, KEYRING_LOCKED, TRUE }, "locked | item=keyring file=file | none | kd" },
    { { A, KEYRING_LOCKED, FALSE }, "locked | item=keyring file=- | none | kd" },
    { { A, KEYRING_ABSENT, TRUE }, "ok | item=- file=- | none | kd fd" },
    { { A, KEYRING_ABSENT, FALSE }, "ok | item=- file=- | none | kd fd" },
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
  store = credential_store_new (A, &f.io);
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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/credential-store/load", test_load);
  g_test_add_func ("/credential-store/save", test_save);
  g_test_add_func ("/credential-store/login", test_login);
  g_test_add_func ("/credential-store/logout", test_logout);
  g_test_add_func ("/credential-store/keyring-that-leaves", test_keyring_that_leaves);

  return g_test_run ();
}
