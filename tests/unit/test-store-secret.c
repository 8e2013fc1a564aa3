/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The keyring store against a real gnome-keyring-daemon on a private bus:
 * the item the Codex CLI writes (its attributes), reading, saving in
 * place, duplicates removed, removal, a malformed secret, a locked
 * keyring, no Secret Service, and the signals that announce another
 * writer's item. */
#include "config.h"

#include <libsecret/secret.h>
#include <string.h>

#include "auth-error.h"
#include "store-secret.h"
#include "test-helpers.h"
#include "test-peers.h"

static TestBus bus;
static gboolean have_bus;

typedef struct {
  TestKeyring keyring;
  char *codex_home;
  StoreSecret *store;
  gboolean up;
} Fixture;

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  if (!have_bus)
    {
      test_peer_available ("dbus-daemon"); /* says why */
      return;
    }
  if (!test_keyring_start (&fx->keyring))
    return;
  fx->up = TRUE;
  fx->codex_home = test_make_tmpdir ();
  fx->store = store_secret_new (fx->codex_home);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  g_clear_object (&fx->store);
  test_keyring_stop (&fx->keyring);
  if (fx->codex_home != NULL)
    test_remove_tree (fx->codex_home);
  g_free (fx->codex_home);
  /* The next test's keyring is a new service. */
  secret_service_disconnect ();
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

static StoreRead *
load (Fixture *fx, GError **error)
{
  GAsyncResult *result = NULL;
  StoreRead *read;

  store_secret_load_async (fx->store, result_cb, &result);
  read = store_secret_load_finish (fx->store, wait_for (&result), error);
  g_object_unref (result);
  return read;
}

static gboolean
save (Fixture *fx, AuthRecord *record, GError **error)
{
  GAsyncResult *result = NULL;
  gboolean ok;

  store_secret_save_async (fx->store, record, result_cb, &result);
  ok = store_secret_write_finish (fx->store, wait_for (&result), error);
  g_object_unref (result);
  return ok;
}

static gboolean
delete (Fixture *fx, GError **error)
{
  GAsyncResult *result = NULL;
  gboolean ok;

  store_secret_delete_async (fx->store, result_cb, &result);
  ok = store_secret_write_finish (fx->store, wait_for (&result), error);
  g_object_unref (result);
  return ok;
}

/* The Secret Service, as another client sees it. */
static SecretService *
service (void)
{
  g_autoptr(GError) error = NULL;
  SecretService *s = secret_service_get_sync (SECRET_SERVICE_OPEN_SESSION, NULL, &error);

  g_assert_no_error (error);
  return s;
}

/* The Codex CLI's attributes for @fx's home. */
static GHashTable *
cli_attributes (Fixture *fx)
{
  GHashTable *attributes = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);

  g_hash_table_insert (attributes, "service", g_strdup ("Codex Auth"));
  g_hash_table_insert (attributes, "username", store_secret_username_for (fx->codex_home));
  g_hash_table_insert (attributes, "target", g_strdup ("default"));
  g_hash_table_insert (attributes, "application", g_strdup ("rust-keyring"));
  return attributes;
}

/* The items with the CLI's attributes, as another client sees them. */
static GList *
cli_items (Fixture *fx)
{
  g_autoptr(GHashTable) attributes = cli_attributes (fx);
  g_autoptr(GError) error = NULL;
  g_autoptr(SecretService) s = service ();
  GList *items = secret_service_search_sync (s, NULL, attributes, SECRET_SEARCH_ALL | SECRET_SEARCH_LOAD_SECRETS,
                                             NULL, &error);

  g_assert_no_error (error);
  return items;
}

/* Another writer stores @secret in a new item with the CLI's attributes
 * (a duplicate when one exists already). */
static void
other_writer_creates (Fixture *fx, const char *secret)
{
  g_autoptr(GHashTable) attributes = cli_attributes (fx);
  g_autoptr(GError) error = NULL;
  g_autoptr(SecretCollection) collection = NULL;
  g_autoptr(SecretValue) value = secret_value_new (secret, -1, "text/plain");
  g_autoptr(SecretItem) item = NULL;

  g_autoptr(SecretService) s = service ();

  collection = secret_collection_for_alias_sync (s, SECRET_COLLECTION_DEFAULT, SECRET_COLLECTION_NONE, NULL, &error);
  g_assert_no_error (error);
  item = secret_item_create_sync (collection, NULL, attributes, "another writer", value, SECRET_ITEM_CREATE_NONE,
                                  NULL, &error);
  g_assert_no_error (error);
}

static void
test_round_trip (Fixture *fx, gconstpointer data)
{
  g_autoptr(AuthRecord) record = auth_record_new_api_key ("sk-keyring-1");
  g_autoptr(StoreRead) read = NULL;
  g_autoptr(GError) error = NULL;
  GList *items;

  if (!fx->up)
    return;
  read = load (fx, &error);
  g_assert_no_error (error);
  g_assert_cmpint (read->status, ==, STORE_READ_NOT_FOUND);
  g_clear_pointer (&read, store_read_free);

  g_assert_true (save (fx, record, &error));
  g_assert_no_error (error);
  read = load (fx, &error);
  g_assert_no_error (error);
  g_assert_cmpint (read->status, ==, STORE_READ_FOUND);
  g_assert_cmpstr (auth_record_get_fingerprint (read->record), ==, auth_record_get_fingerprint (record));

  /* Exactly the item the Codex CLI reads: its attributes, and the compact
   * record as the secret. */
  items = cli_items (fx);
  g_assert_cmpuint (g_list_length (items), ==, 1);
  {
    g_autoptr(SecretValue) value = secret_item_get_secret (items->data);
    g_autofree char *expected = auth_record_serialize (record);

    g_assert_cmpstr (secret_value_get_text (value), ==, expected);
  }
  g_list_free_full (items, g_object_unref);
  g_assert_nonnull (strstr (store_secret_describe (fx->store), store_secret_get_username (fx->store)));
}

static void
test_saves_in_place_and_removes_duplicates (Fixture *fx, gconstpointer data)
{
  g_autoptr(AuthRecord) first = auth_record_new_api_key ("sk-first");
  g_autoptr(AuthRecord) second = auth_record_new_api_key ("sk-second");
  g_autoptr(GError) error = NULL;
  GList *items;

  if (!fx->up)
    return;
  g_assert_true (save (fx, first, &error));
  other_writer_creates (fx, "{\"OPENAI_API_KEY\":\"sk-duplicate\"}");
  g_assert_cmpuint (g_list_length (items = cli_items (fx)), ==, 2);
  g_list_free_full (items, g_object_unref);

  g_assert_true (save (fx, second, &error));
  g_assert_no_error (error);
  /* The duplicate goes (asynchronously, after the save). */
  for (int i = 0; i < 100; i++)
    {
      guint n;

      items = cli_items (fx);
      n = g_list_length (items);
      g_list_free_full (items, g_object_unref);
      if (n == 1)
        break;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (20 * 1000);
    }
  items = cli_items (fx);
  g_assert_cmpuint (g_list_length (items), ==, 1);
  {
    g_autoptr(SecretValue) value = secret_item_get_secret (items->data);
    g_assert_nonnull (strstr (secret_value_get_text (value), "sk-second"));
  }
  g_list_free_full (items, g_object_unref);
}

static void
test_delete (Fixture *fx, gconstpointer data)
{
  g_autoptr(AuthRecord) record = auth_record_new_api_key ("sk-gone");
  g_autoptr(StoreRead) read = NULL;
  g_autoptr(GError) error = NULL;

  if (!fx->up)
    return;
  g_assert_true (save (fx, record, &error));
  other_writer_creates (fx, "{\"OPENAI_API_KEY\":\"sk-dup\"}");
  g_assert_true (delete (fx, &error));
  g_assert_no_error (error);
  g_assert_null (cli_items (fx));
  read = load (fx, &error);
  g_assert_cmpint (read->status, ==, STORE_READ_NOT_FOUND);
  /* Nothing stored: removing is still a success. */
  g_assert_true (delete (fx, &error));
  g_assert_no_error (error);
}

static void
test_malformed_secret (Fixture *fx, gconstpointer data)
{
  g_autoptr(StoreRead) read = NULL;
  g_autoptr(GError) error = NULL;

  if (!fx->up)
    return;
  other_writer_creates (fx, "{broken");
  read = load (fx, &error);
  g_assert_null (read);
  g_assert_error (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_ERROR);
  g_assert_nonnull (strstr (error->message, store_secret_get_username (fx->store)));
  g_assert_null (strstr (error->message, "broken"));
}

static void
test_locked (Fixture *fx, gconstpointer data)
{
  g_autoptr(AuthRecord) record = auth_record_new_api_key ("sk-locked");
  g_autoptr(StoreRead) read = NULL;
  g_autoptr(GError) error = NULL;

  if (!fx->up)
    return;
  g_assert_true (save (fx, record, &error));
  test_keyring_lock (&fx->keyring);
  read = load (fx, &error);
  g_assert_no_error (error);
  g_assert_cmpint (read->status, ==, STORE_READ_LOCKED);
  g_assert_null (read->record);
  /* Nothing is written or removed, and nothing prompts. */
  g_assert_false (save (fx, record, &error));
  g_assert_error (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_LOCKED);
  g_clear_error (&error);
  g_assert_false (delete (fx, &error));
  g_assert_error (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_LOCKED);
}

static void
test_no_secret_service (Fixture *fx, gconstpointer data)
{
  g_autoptr(AuthRecord) record = auth_record_new_api_key ("sk-nowhere");
  g_autoptr(StoreRead) read = NULL;
  g_autoptr(GError) error = NULL;

  if (!fx->up)
    return;
  test_keyring_kill (&fx->keyring);
  secret_service_disconnect ();
  read = load (fx, &error);
  g_assert_no_error (error);
  g_assert_cmpint (read->status, ==, STORE_READ_UNAVAILABLE);
  g_assert_false (save (fx, record, &error));
  g_assert_error (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE);
  g_clear_error (&error);
  g_assert_true (delete (fx, &error));
  g_assert_no_error (error);
}

static void
changed_cb (StoreSecret *store, gpointer data)
{
  (*(guint *) data)++;
}

static void
wait_for_changes (guint *changes, guint at_least)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (*changes < at_least)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

/* Another writer's item, and its removal, are announced by the Secret
 * Service's signals; without any, the store stays quiet (nothing polls). */
static void
test_signals (Fixture *fx, gconstpointer data)
{
  guint changes = 0;
  gint64 quiet_until;
  GList *items;

  if (!fx->up)
    return;
  g_signal_connect (fx->store, "changed", G_CALLBACK (changed_cb), &changes);
  store_secret_watch (fx->store);
  /* The watch is set up asynchronously: the service's appearance is the
   * first change. */
  wait_for_changes (&changes, 1);
  quiet_until = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < quiet_until)
    g_main_context_iteration (NULL, FALSE), g_usleep (10 * 1000);
  g_assert_cmpuint (changes, ==, 1);

  other_writer_creates (fx, "{\"OPENAI_API_KEY\":\"sk-other\"}");
  wait_for_changes (&changes, 2);

  items = cli_items (fx);
  {
    g_autoptr(GError) error = NULL;
    g_assert_true (secret_item_delete_sync (items->data, NULL, &error));
  }
  g_list_free_full (items, g_object_unref);
  wait_for_changes (&changes, 3);
}

int
main (int argc, char **argv)
{
  g_autofree char *dbus_daemon = g_find_program_in_path ("dbus-daemon");
  int status;

  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL);
  /* One bus for the whole program: GIO's session bus connection lives as
   * long as the process. */
  if (dbus_daemon != NULL)
    have_bus = test_bus_start (&bus);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/store-secret/round-trip", test_round_trip);
  ADD ("/store-secret/saves-in-place-and-removes-duplicates", test_saves_in_place_and_removes_duplicates);
  ADD ("/store-secret/delete", test_delete);
  ADD ("/store-secret/malformed-secret", test_malformed_secret);
  ADD ("/store-secret/locked", test_locked);
  ADD ("/store-secret/no-secret-service", test_no_secret_service);
  ADD ("/store-secret/signals", test_signals);
#undef ADD

  status = g_test_run ();
  if (have_bus)
    test_bus_stop (&bus);
  return status;
}
