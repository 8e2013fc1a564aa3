/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The keyring store: the Codex CLI's Secret Service item through
 * libsecret's asynchronous API, and the Secret Service's signals. */
#define G_LOG_DOMAIN "codex-authd-store-secret"

#include "config.h"

#include <libsecret/secret.h>
#include <stdlib.h>
#include <string.h>

#include "auth-error.h"
#include "sensitive.h"
#include "store-secret.h"

#define SECRET_BUS_NAME "org.freedesktop.secrets"
#define CHANGE_COALESCE_MS 50

struct _StoreSecret {
  GObject parent_instance;

  char *username;
  char *label;
  GHashTable *attributes; /* the Codex item's attributes */

  GDBusConnection *connection;
  guint item_signals_id;       /* org.freedesktop.Secret.Collection: Item{Created,Changed,Deleted} */
  guint collection_signals_id; /* org.freedesktop.Secret.Service: Collection{Created,Changed,Deleted} */
  guint watch_id;
  guint coalesce_id;
  GCancellable *cancellable;
  char *description; /* "the Secret Service item cli|..." */
};

G_DEFINE_TYPE (StoreSecret, store_secret, G_TYPE_OBJECT)

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

char *
store_secret_username_for (const char *codex_home)
{
  g_autofree char *real = realpath (codex_home, NULL);
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
                                                           real != NULL ? real : codex_home, -1);

  return g_strdup_printf ("cli|%.16s", digest);
}

static void
store_secret_finalize (GObject *object)
{
  StoreSecret *self = STORE_SECRET (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->coalesce_id, g_source_remove);
  g_free (self->description);
  if (self->watch_id != 0)
    g_bus_unwatch_name (self->watch_id);
  if (self->connection != NULL)
    {
      g_dbus_connection_signal_unsubscribe (self->connection, self->item_signals_id);
      g_dbus_connection_signal_unsubscribe (self->connection, self->collection_signals_id);
    }
  g_clear_object (&self->connection);
  g_clear_object (&self->cancellable);
  g_hash_table_unref (self->attributes);
  g_free (self->username);
  g_free (self->label);
  G_OBJECT_CLASS (store_secret_parent_class)->finalize (object);
}

static void
store_secret_class_init (StoreSecretClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = store_secret_finalize;

  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass),
                                          G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                          G_TYPE_NONE, 0);
}

static void
store_secret_init (StoreSecret *self)
{
  self->cancellable = g_cancellable_new ();
}

StoreSecret *
store_secret_new (const char *codex_home)
{
  StoreSecret *self = g_object_new (STORE_TYPE_SECRET, NULL);

  self->username = store_secret_username_for (codex_home);
  self->label = g_strdup_printf ("Codex credentials (%s)", self->username);
  self->attributes = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (self->attributes, "service", "Codex Auth");
  g_hash_table_insert (self->attributes, "username", self->username);
  g_hash_table_insert (self->attributes, "target", "default");
  g_hash_table_insert (self->attributes, "application", "rust-keyring");
  self->description = g_strdup_printf ("the Secret Service item %s", self->username);
  return self;
}

const char *
store_secret_get_username (StoreSecret *self)
{
  return self->username;
}

const char *
store_secret_describe (StoreSecret *self)
{
  return self->description;
}

/* ---- watching ---------------------------------------------------------- */

static gboolean
emit_changed_cb (gpointer user_data)
{
  StoreSecret *self = user_data;

  self->coalesce_id = 0;
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  return G_SOURCE_REMOVE;
}

static void
schedule_changed (StoreSecret *self)
{
  if (self->coalesce_id == 0)
    self->coalesce_id = g_timeout_add (CHANGE_COALESCE_MS, emit_changed_cb, self);
}

static void
service_signal_cb (GDBusConnection *connection, const char *sender, const char *path,
                   const char *interface, const char *member, GVariant *params, gpointer user_data)
{
  /* An item created, changed or deleted; a collection created, removed,
   * locked or unlocked (CollectionChanged): read the item again. Only the
   * Codex item matters, but the signals do not carry attributes. */
  g_debug ("Secret Service signal %s.%s on %s", interface, member, path);
  schedule_changed (user_data);
}

static void
name_appeared_cb (GDBusConnection *connection, const char *name, const char *owner, gpointer user_data)
{
  g_debug ("The Secret Service is on the bus (%s)", owner);
  schedule_changed (user_data);
}

static void
name_vanished_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  g_debug ("The Secret Service left the bus");
  /* libsecret keeps a proxy of the service that went away: drop it so
   * that the next call finds the new one. */
  secret_service_disconnect ();
  schedule_changed (user_data);
}

static void
got_bus_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StoreSecret) self = user_data;
  g_autoptr(GError) error = NULL;

  self->connection = g_bus_get_finish (result, &error);
  if (self->connection == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("Cannot watch the Secret Service: %s, ignoring", error->message);
      return;
    }
  self->item_signals_id = g_dbus_connection_signal_subscribe (
      self->connection, SECRET_BUS_NAME, "org.freedesktop.Secret.Collection", NULL, NULL, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, service_signal_cb, self, NULL);
  self->collection_signals_id = g_dbus_connection_signal_subscribe (
      self->connection, SECRET_BUS_NAME, "org.freedesktop.Secret.Service", NULL, NULL, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, service_signal_cb, self, NULL);
  self->watch_id = g_bus_watch_name_on_connection (self->connection, SECRET_BUS_NAME,
                                                   G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                   name_appeared_cb, name_vanished_cb, self, NULL);
}

void
store_secret_watch (StoreSecret *self)
{
  g_bus_get (G_BUS_TYPE_SESSION, self->cancellable, got_bus_cb, g_object_ref (self));
}

/* ---- finding the item -------------------------------------------------- */

static gboolean
is_unavailable_error (const GError *error)
{
  return g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_TIMEOUT) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_FAILED) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_EXEC_FAILED) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_CHILD_EXITED) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
}

/* The newest unlocked item, or NULL. */
static SecretItem *
pick_unlocked (GList *items)
{
  SecretItem *best = NULL;

  for (GList *l = items; l != NULL; l = l->next)
    {
      SecretItem *item = l->data;

      if (secret_item_get_locked (item))
        continue;
      if (best == NULL || secret_item_get_modified (item) > secret_item_get_modified (best))
        best = item;
    }
  return best;
}

typedef struct {
  StoreReadStatus status;
  AuthRecord *record;
  SecretService *service;
  GList *items;
  SecretItem *item;
  SecretValue *value;
} OpData;

static void
op_data_free (OpData *d)
{
  g_clear_pointer (&d->record, auth_record_unref);
  g_clear_object (&d->service);
  g_list_free_full (d->items, g_object_unref);
  g_clear_object (&d->item);
  g_clear_pointer (&d->value, secret_value_unref);
  g_free (d);
}

static GTask *
op_task_new (StoreSecret *self, gpointer tag, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, self->cancellable, callback, user_data);

  OpData *d = g_new0 (OpData, 1);

  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, d, (GDestroyNotify) op_data_free);
  return task;
}

/* Gets the service, then searches the item without unlocking anything;
 * @then runs with OpData's service and items set, or with its status
 * STORE_READ_UNAVAILABLE when there is no Secret Service. @then owns the
 * task. */
typedef void (*SearchedFunc) (GTask *task);

static void
search_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  OpData *d = g_task_get_task_data (task);
  SearchedFunc then = g_object_get_data (G_OBJECT (task), "then");
  g_autoptr(GError) error = NULL;

  d->items = secret_service_search_finish (SECRET_SERVICE (source), result, &error);
  if (error != NULL && !is_unavailable_error (error))
    {
      g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_ERROR,
                               "Cannot search the Secret Service: %s", error->message);
      return;
    }
  if (error != NULL)
    {
      g_debug ("No Secret Service: %s", error->message);
      d->status = STORE_READ_UNAVAILABLE;
    }
  then (g_steal_pointer (&task));
}

static void
service_got_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  StoreSecret *self = g_task_get_source_object (task);
  OpData *d = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GCancellable *cancellable;

  d->service = secret_service_get_finish (result, &error);
  if (d->service == NULL)
    {
      SearchedFunc then = g_object_get_data (G_OBJECT (task), "then");

      g_debug ("No Secret Service: %s", error->message);
      d->status = STORE_READ_UNAVAILABLE;
      then (g_steal_pointer (&task));
      return;
    }
  /* SECRET_SEARCH_ALL without SECRET_SEARCH_UNLOCK: locked items are
   * listed as locked, and nothing prompts. */
  cancellable = g_task_get_cancellable (task);
  secret_service_search (d->service, NULL, self->attributes, SECRET_SEARCH_ALL,
                         cancellable, search_done_cb, g_steal_pointer (&task));
}

static void
find_items (GTask *task, SearchedFunc then)
{
  g_object_set_data (G_OBJECT (task), "then", then);
  secret_service_get (SECRET_SERVICE_NONE, g_task_get_cancellable (task), service_got_cb, task);
}

/* ---- load -------------------------------------------------------------- */

static void
secret_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  StoreSecret *self = g_task_get_source_object (task);
  OpData *d = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(SecretValue) value = NULL;
  const char *data;
  gsize len = 0;

  if (!secret_item_load_secret_finish (d->item, result, &error))
    {
      if (is_unavailable_error (error))
        {
          d->status = STORE_READ_UNAVAILABLE;
          g_task_return_boolean (task, TRUE);
        }
      else
        g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_ERROR,
                                 "Cannot read the Secret Service item %s: %s", self->username, error->message);
      return;
    }
  value = secret_item_get_secret (d->item);
  if (value == NULL)
    {
      /* Locked again between the search and the read. */
      d->status = STORE_READ_LOCKED;
      g_task_return_boolean (task, TRUE);
      return;
    }
  data = secret_value_get (value, &len);
  d->record = auth_record_parse (data, len, &error);
  if (d->record == NULL)
    {
      g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_ERROR,
                               "The Secret Service item %s: %s", self->username, error->message);
      return;
    }
  d->status = STORE_READ_FOUND;
  g_task_return_boolean (task, TRUE);
}

static void
load_searched (GTask *task)
{
  OpData *d = g_task_get_task_data (task);
  SecretItem *item;

  if (d->status == STORE_READ_UNAVAILABLE)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  if (d->items == NULL)
    {
      d->status = STORE_READ_NOT_FOUND;
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  item = pick_unlocked (d->items);
  if (item == NULL)
    {
      d->status = STORE_READ_LOCKED;
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  d->item = g_object_ref (item);
  secret_item_load_secret (d->item, g_task_get_cancellable (task), secret_loaded_cb, task);
}

void
store_secret_load_async (StoreSecret *self, GAsyncReadyCallback callback, gpointer user_data)
{
  find_items (op_task_new (self, store_secret_load_async, callback, user_data), load_searched);
}

StoreRead *
store_secret_load_finish (StoreSecret *self, GAsyncResult *result, GError **error)
{
  OpData *d = g_task_get_task_data (G_TASK (result));

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return store_read_new (d->status, d->record);
}

/* ---- save -------------------------------------------------------------- */

static void
duplicate_deleted_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  if (!secret_item_delete_finish (SECRET_ITEM (source), result, &error))
    g_debug ("Cannot remove a duplicate Codex item: %s, ignoring", error->message);
}

static void
save_done (GTask *task, gboolean ok, const GError *error)
{
  OpData *d = g_task_get_task_data (task);

  if (!ok)
    {
      if (error != NULL && is_unavailable_error (error))
        g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE,
                                 "The Secret Service went away: %s", error->message);
      else
        g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_ERROR,
                                 "Cannot write the Secret Service item: %s",
                                 error != NULL ? error->message : "unknown error");
      g_object_unref (task);
      return;
    }
  /* One item per Codex home: remove what other writers duplicated. */
  for (GList *l = d->items; l != NULL; l = l->next)
    if (!secret_item_get_locked (l->data) &&
        g_strcmp0 (g_dbus_proxy_get_object_path (G_DBUS_PROXY (l->data)),
                   g_dbus_proxy_get_object_path (G_DBUS_PROXY (d->item))) != 0)
      secret_item_delete (l->data, NULL, duplicate_deleted_cb, NULL);
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
item_created_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  OpData *d = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  d->item = secret_item_create_finish (result, &error);
  save_done (task, d->item != NULL, error);
}

static void
collection_got_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  StoreSecret *self = g_task_get_source_object (task);
  OpData *d = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(SecretCollection) collection = secret_collection_for_alias_finish (result, &error);
  g_autofree char *label = NULL;
  SecretItem *existing;

  if (collection == NULL)
    {
      if (error == NULL)
        g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE,
                                 "The Secret Service has no default keyring to store the credentials in");
      else
        g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_ERROR,
                                 "Cannot open the default keyring: %s", error->message);
      g_object_unref (task);
      return;
    }
  if (secret_collection_get_locked (collection))
    {
      /* Creating an item there would prompt for the password. */
      g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_LOCKED,
                               "The default keyring is locked");
      g_object_unref (task);
      return;
    }
  /* The item stays as its writer made it: an existing item keeps its
   * label (the Codex CLI's "cli|...@Codex Auth:default (keyring v...)"). */
  existing = pick_unlocked (d->items);
  label = existing != NULL ? secret_item_get_label (existing) : NULL;
  secret_item_create (collection, NULL, self->attributes, label != NULL && label[0] != '\0' ? label : self->label,
                      d->value, SECRET_ITEM_CREATE_REPLACE, g_task_get_cancellable (task), item_created_cb, task);
}

static void
save_searched (GTask *task)
{
  OpData *d = g_task_get_task_data (task);

  if (d->status == STORE_READ_UNAVAILABLE)
    {
      g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE,
                               "No Secret Service is running");
      g_object_unref (task);
      return;
    }
  if (d->items != NULL && pick_unlocked (d->items) == NULL)
    {
      g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_LOCKED,
                               "The keyring holding the Codex credentials is locked");
      g_object_unref (task);
      return;
    }
  /* CreateItem with "replace": the item with these attributes is updated
   * in place, and gnome-keyring tells every watcher. (The Codex CLI calls
   * SetSecret on an existing item, which goes unannounced: its lock file
   * shows it, store-file.c, and no token goes out from a read of the item
   * over a second old, auth-manager.c.) */
  secret_collection_for_alias (d->service, SECRET_COLLECTION_DEFAULT, SECRET_COLLECTION_NONE,
                               g_task_get_cancellable (task), collection_got_cb, task);
}

void
store_secret_save_async (StoreSecret *self, AuthRecord *record, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = op_task_new (self, store_secret_save_async, callback, user_data);
  OpData *d = g_task_get_task_data (task);
  g_autoptr(Sensitive) json = auth_record_serialize (record);

  /* libsecret copies the secret into its own (non-pageable) memory. */
  d->value = secret_value_new (json, -1, "text/plain");
  find_items (task, save_searched);
}


/* ---- delete ------------------------------------------------------------ */

static void
item_deleted_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  guint *pending = g_object_get_data (G_OBJECT (task), "pending");
  g_autoptr(GError) error = NULL;

  if (!secret_item_delete_finish (SECRET_ITEM (source), result, &error) &&
      g_object_get_data (G_OBJECT (task), "error") == NULL)
    g_object_set_data_full (G_OBJECT (task), "error", g_steal_pointer (&error), (GDestroyNotify) g_error_free);
  if (--(*pending) > 0)
    return;
  if (g_object_get_data (G_OBJECT (task), "error") != NULL)
    g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_ERROR,
                             "Cannot remove the Secret Service item: %s",
                             ((GError *) g_object_get_data (G_OBJECT (task), "error"))->message);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
delete_searched (GTask *task)
{
  OpData *d = g_task_get_task_data (task);
  guint *pending;

  /* No Secret Service, or no item: nothing stored there. */
  if (d->status == STORE_READ_UNAVAILABLE || d->items == NULL)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  for (GList *l = d->items; l != NULL; l = l->next)
    if (secret_item_get_locked (l->data))
      {
        g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_LOCKED,
                                 "The keyring holding the Codex credentials is locked; unlock it "
                                 "to log out");
        g_object_unref (task);
        return;
      }
  pending = g_new0 (guint, 1);
  *pending = g_list_length (d->items);
  g_object_set_data_full (G_OBJECT (task), "pending", pending, g_free);
  for (GList *l = d->items; l != NULL; l = l->next)
    secret_item_delete (l->data, g_task_get_cancellable (task), item_deleted_cb, task);
}

void
store_secret_delete_async (StoreSecret *self, GAsyncReadyCallback callback, gpointer user_data)
{
  find_items (op_task_new (self, store_secret_delete_async, callback, user_data), delete_searched);
}


/* ---- unlock ------------------------------------------------------------ */

static void
unlocked_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  GList *unlocked = NULL;
  gint n;

  n = secret_service_unlock_finish (SECRET_SERVICE (source), result, &unlocked, &error);
  g_list_free_full (unlocked, g_object_unref);
  if (error != NULL)
    g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_LOCKED,
                             "The keyring was not unlocked: %s", error->message);
  else if (n <= 0)
    g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_LOCKED,
                             "The keyring was not unlocked (the prompt was dismissed)");
  else
    g_task_return_boolean (task, TRUE);
}

static void
unlock_collection_got_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  OpData *d = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(SecretCollection) collection = secret_collection_for_alias_finish (result, &error);
  GList objects = { 0 };
  GCancellable *cancellable;

  if (collection == NULL)
    {
      g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_ERROR,
                               "The Secret Service has no default keyring");
      return;
    }
  if (!secret_collection_get_locked (collection))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  objects.data = collection;
  cancellable = g_task_get_cancellable (task);
  secret_service_unlock (d->service, &objects, cancellable, unlocked_cb, g_steal_pointer (&task));
}

static void
unlock_searched (GTask *task)
{
  OpData *d = g_task_get_task_data (task);
  g_autoptr(GList) locked = NULL;

  if (d->status == STORE_READ_UNAVAILABLE)
    {
      g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE,
                               "No Secret Service is running");
      g_object_unref (task);
      return;
    }
  for (GList *l = d->items; l != NULL; l = l->next)
    if (secret_item_get_locked (l->data))
      locked = g_list_prepend (locked, l->data);
  if (d->items != NULL && locked == NULL)
    {
      g_task_return_boolean (task, TRUE); /* nothing to unlock */
      g_object_unref (task);
      return;
    }
  if (locked != NULL)
    {
      secret_service_unlock (d->service, locked, g_task_get_cancellable (task), unlocked_cb, task);
      return;
    }
  /* No item yet: unlock the keyring a login would be stored in. */
  secret_collection_for_alias (d->service, SECRET_COLLECTION_DEFAULT, SECRET_COLLECTION_NONE,
                               g_task_get_cancellable (task), unlock_collection_got_cb, task);
}

void
store_secret_unlock_async (StoreSecret *self, GAsyncReadyCallback callback, gpointer user_data)
{
  find_items (op_task_new (self, store_secret_unlock_async, callback, user_data), unlock_searched);
}

gboolean
store_secret_write_finish (StoreSecret *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
store_secret_unlock_finish (StoreSecret *self, GAsyncResult *result, GError **error)
{
  return store_secret_write_finish (self, result, error);
}
