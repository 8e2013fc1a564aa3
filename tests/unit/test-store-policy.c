/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The store policy against the two fake stores (fakes/): every mode,
 * every state of the keyring (item, no item, locked, no Secret Service)
 * and of auth.json (present or not), for load, save, login and logout;
 * then the move between the stores. The expectations are written out
 * case by case, not derived. The "modes" are the choices in force: the
 * daemon's store= setting, or, with store=auto, the Codex CLI's setting in
 * config.toml. */
#include "config.h"

#include <glib.h>
#include <string.h>

#include "auth-error.h"
#include "fakes.h"
#include "store-policy.h"

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
  FakeKeyringState keyring;
  gboolean file;
} Situation;

static StoreSetting
daemon_setting (Mode mode)
{
  return mode == MODE_DAEMON_KEYRING ? STORE_SETTING_SECRET_SERVICE
         : mode == MODE_DAEMON_FILE  ? STORE_SETTING_FILE
                                     : STORE_SETTING_AUTO;
}

static const char *
mode_name (Mode mode)
{
  static const char *const names[] = { "Codex auto", "daemon secret-service", "daemon file", "Codex keyring",
                                       "Codex default" };
  return names[mode];
}

static const char *
keyring_name (FakeKeyringState k)
{
  static const char *const names[] = { "item", "empty", "locked", "absent" };
  return names[k];
}

/* A world of fakes in situation @s, and a policy over it. */
static StorePolicy *
situation_start (const Situation *s)
{
  g_autoptr(StoreFile) file = NULL;
  g_autoptr(StoreSecret) keyring = NULL;
  StoreSetting setting = daemon_setting (s->mode);

  fake_reset (0);
  fake.keyring = s->keyring;
  fake.cli = s->mode == MODE_CODEX_AUTO      ? CLI_STORE_SETTING_AUTO
             : s->mode == MODE_CODEX_KEYRING ? CLI_STORE_SETTING_KEYRING
                                             : CLI_STORE_SETTING_DEFAULT;
  if (s->keyring == KEYRING_ITEM || s->keyring == KEYRING_LOCKED)
    fake.item = auth_record_new_api_key ("sk-keyring");
  if (s->file)
    fake.file = auth_record_new_api_key ("sk-file");
  file = store_file_new ("/codex", NULL);
  keyring = setting != STORE_SETTING_FILE ? store_secret_new ("/codex") : NULL;
  return store_policy_new (setting, file, keyring, cli_setting_new ("/codex"));
}

/* Every policy sees the keyring, whatever its setting: for the tests of
 * the setting and the reasons, which build several on one world. */
static StorePolicy *
policy_new (StoreSetting setting)
{
  g_autoptr(StoreFile) file = store_file_new ("/codex", NULL);
  g_autoptr(StoreSecret) keyring = setting != STORE_SETTING_FILE ? store_secret_new ("/codex") : NULL;

  return store_policy_new (setting, file, keyring, cli_setting_new ("/codex"));
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
stores_of (void)
{
  return g_strdup_printf ("item=%s file=%s", key_of (fake.item), key_of (fake.file));
}

typedef enum { OP_LOAD, OP_SAVE, OP_LOGIN, OP_LOGOUT } Op;

/* Runs @op in a fresh situation @s (save: after a load, as the daemon
 * does) and describes the outcome as one line:
 * "OUTCOME [record] | item=.. file=.. | source | ops". */
static char *
run_case (const Situation *s, Op op)
{
  g_autoptr(StorePolicy) store = NULL;
  g_autoptr(AuthRecord) fresh = auth_record_new_api_key ("sk-new");
  g_autoptr(AuthRecord) loaded = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *result = NULL;
  g_autofree char *stores = NULL;
  g_autofree char *head = NULL;
  char *line;

  store = situation_start (s);
  if (op != OP_LOAD && op != OP_SAVE)
    g_assert_cmpint (store_policy_get_source (store), ==, s->mode == MODE_DAEMON_FILE ? STORE_KIND_FILE : STORE_KIND_NONE);

  if (op == OP_LOAD || op == OP_SAVE)
    {
      store_policy_load_async (store, result_cb, &result);
      loaded = store_policy_load_finish (store, wait_for (&result), &error);
      g_clear_object (&result);
    }
  if (op == OP_LOAD)
    head = g_strdup_printf ("%s %s", outcome_of (error), key_of (loaded));
  else
    {
      if (op == OP_SAVE)
        {
          g_clear_error (&error);
          g_string_append (fake.log, " |");
          store_policy_save_async (store, fresh, result_cb, &result);
        }
      else if (op == OP_LOGIN)
        store_policy_save_login_async (store, fresh, result_cb, &result);
      else
        store_policy_remove_all_async (store, result_cb, &result);
      (void) store_policy_write_finish (store, wait_for (&result), &error);
      g_clear_object (&result);
      head = g_strdup (outcome_of (error));
    }
  stores = stores_of ();
  line = g_strdup_printf ("%s | %s | %s | %s", head, stores, store_kind_to_string (store_policy_get_source (store)),
                          fake.log->str);
  g_clear_object (&store);
  fake_clear ();
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
  g_autoptr(StorePolicy) store = NULL;
  g_autoptr(AuthRecord) record = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *result = NULL;

  store = situation_start (&s);
  store_policy_load_async (store, result_cb, &result);
  record = store_policy_load_finish (store, wait_for (&result), &error);
  g_clear_object (&result);
  g_assert_no_error (error);
  g_assert_cmpstr (key_of (record), ==, "keyring");
  g_clear_pointer (&record, auth_record_unref);

  fake.keyring = KEYRING_ABSENT;
  store_policy_load_async (store, result_cb, &result);
  record = store_policy_load_finish (store, wait_for (&result), &error);
  g_clear_object (&result);
  g_assert_error (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE);
  g_assert_null (record);
  g_assert_cmpint (store_policy_get_source (store), ==, STORE_KIND_KEYRING);
  g_clear_error (&error);

  /* The keyring comes back without the item: auth.json takes over. */
  fake.keyring = KEYRING_EMPTY;
  g_clear_pointer (&fake.item, auth_record_unref);
  store_policy_load_async (store, result_cb, &result);
  record = store_policy_load_finish (store, wait_for (&result), &error);
  g_clear_object (&result);
  g_assert_no_error (error);
  g_assert_cmpstr (key_of (record), ==, "file");
  g_assert_cmpstr (store_policy_describe (store), ==, "auth.json");
  g_clear_object (&store);
  fake_clear ();
}


static AuthRecord *
load (StorePolicy *store, GError **error)
{
  GAsyncResult *result = NULL;
  AuthRecord *record;

  store_policy_load_async (store, result_cb, &result);
  record = store_policy_load_finish (store, wait_for (&result), error);
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
  g_autoptr(StorePolicy) store = NULL;
  g_autoptr(StorePolicy) daemon_file = NULL;
  g_autoptr(StorePolicy) daemon_keyring = NULL;
  g_autoptr(GError) error = NULL;
  AuthRecord *record;

  store = situation_start (&s);
  g_assert_cmpstr (store_policy_get_reason (store), ==, "Codex default: file");
  record = load (store, &error);
  g_assert_cmpstr (key_of (record), ==, "keyring");
  g_clear_pointer (&record, auth_record_unref);
  g_assert_cmpstr (store_policy_get_reason (store), ==, "Codex config: auto");
  g_assert_null (store_policy_get_config_problem (store));
  g_assert_cmpstr (store_policy_describe_searched (store), ==, "the keyring item or auth.json");

  fake.cli = CLI_STORE_SETTING_FILE;
  record = load (store, &error);
  g_assert_cmpstr (key_of (record), ==, "file");
  g_clear_pointer (&record, auth_record_unref);
  g_assert_cmpstr (store_policy_get_reason (store), ==, "Codex config: file");
  g_assert_false (store_policy_uses_keyring (store));

  fake.cli = CLI_STORE_SETTING_KEYRING;
  record = load (store, &error);
  g_assert_cmpstr (key_of (record), ==, "keyring");
  g_clear_pointer (&record, auth_record_unref);
  g_assert_cmpstr (store_policy_get_reason (store), ==, "Codex config: keyring");

  fake.cli = CLI_STORE_SETTING_INVALID;
  g_test_expect_message ("codex-authd-store", G_LOG_LEVEL_WARNING, "*configuration cannot be used*not valid TOML*");
  record = load (store, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpstr (key_of (record), ==, "file");
  g_clear_pointer (&record, auth_record_unref);
  g_assert_cmpstr (store_policy_get_reason (store), ==, "Codex default: file (config.toml cannot be used)");
  g_assert_nonnull (strstr (store_policy_get_config_problem (store), "not valid TOML"));

  fake.cli = CLI_STORE_SETTING_DEFAULT;
  record = load (store, &error);
  g_clear_pointer (&record, auth_record_unref);
  g_assert_cmpstr (store_policy_get_reason (store), ==, "Codex default: file");
  g_assert_null (store_policy_get_config_problem (store));

  /* The daemon's own setting wins, and config.toml is not even read. */
  fake.cli = CLI_STORE_SETTING_KEYRING;
  g_string_truncate (fake.log, 0);
  daemon_file = policy_new (STORE_SETTING_FILE);
  record = load (daemon_file, &error);
  g_assert_cmpstr (key_of (record), ==, "file");
  g_clear_pointer (&record, auth_record_unref);
  g_assert_cmpstr (store_policy_get_reason (daemon_file), ==, "daemon setting: file");
  daemon_keyring = policy_new (STORE_SETTING_SECRET_SERVICE);
  g_assert_cmpstr (store_policy_get_reason (daemon_keyring), ==, "daemon setting: secret-service");
  g_assert_cmpstr (fake.log->str, ==, "fl");
  g_clear_object (&store);
  g_clear_object (&daemon_file);
  g_clear_object (&daemon_keyring);
  fake_clear ();
}

/* Runs a move of @record (NULL: none) to @target in @s; the line is
 * "OUTCOME | item=.. file=.. | setting | ops". */
static char *
run_move (const Situation *s, AuthRecord *record, StoreKind target, gboolean config_fails)
{
  g_autoptr(StorePolicy) store = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *result = NULL;
  g_autofree char *stores = NULL;
  char *line;

  store = situation_start (s);
  fake.cli_write_fails = config_fails;
  store_policy_move_async (store, record, target, result_cb, &result);
  (void) store_policy_write_finish (store, wait_for (&result), &error);
  g_clear_object (&result);
  stores = stores_of ();
  line = g_strdup_printf ("%s | %s | %s | %s", error != NULL && error->domain == CODEX_AUTH_ERROR &&
                          error->code == CODEX_AUTH_ERROR_NOT_SUPPORTED ? "not-supported" : outcome_of (error),
                          stores, fake.cli == CLI_STORE_SETTING_DEFAULT ? "-" : cli_store_setting_to_string (fake.cli),
                          fake.log->str);
  g_clear_object (&store);
  fake_clear ();
  return line;
}

static void
check_move (const Situation *s, AuthRecord *record, StoreKind target, gboolean config_fails,
            const char *expected)
{
  g_autofree char *got = run_move (s, record, target, config_fails);

  g_test_message ("move to %s from %s, keyring %s, auth.json %s: %s", store_kind_to_string (target),
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

  check_move (&file_login, fresh, STORE_KIND_KEYRING, FALSE,
              "ok | item=new file=- | keyring | cr ks cw fd");
  check_move (&keyring_login, fresh, STORE_KIND_FILE, FALSE, "ok | item=- file=new | file | cr fs cw kd");
  /* Nothing stored: only the setting changes. */
  check_move (&file_login, NULL, STORE_KIND_KEYRING, FALSE, "ok | item=- file=file | keyring | cr cw");
  /* config.toml cannot be written: the copy is removed, nothing changed. */
  check_move (&file_login, fresh, STORE_KIND_KEYRING, TRUE, "error | item=- file=file | - | cr ks cw kd");
  check_move (&keyring_login, fresh, STORE_KIND_FILE, TRUE, "error | item=keyring file=- | keyring | cr fs cw fd");
  /* A keyring that cannot take it: nothing changes. */
  check_move (&locked, fresh, STORE_KIND_KEYRING, FALSE, "locked | item=keyring file=file | - | cr ks");
  check_move (&absent, fresh, STORE_KIND_KEYRING, FALSE, "unavailable | item=- file=file | - | cr ks");
  /* The daemon's own setting decides: refused, nothing touched. */
  check_move (&daemon_file, fresh, STORE_KIND_KEYRING, FALSE, "not-supported | item=- file=file | - | ");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/store-policy/load", test_load);
  g_test_add_func ("/store-policy/save", test_save);
  g_test_add_func ("/store-policy/login", test_login);
  g_test_add_func ("/store-policy/logout", test_logout);
  g_test_add_func ("/store-policy/keyring-that-leaves", test_keyring_that_leaves);
  g_test_add_func ("/store-policy/reasons", test_reasons);
  g_test_add_func ("/store-policy/move", test_move);

  return g_test_run ();
}
