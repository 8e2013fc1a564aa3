/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "codex-authd-manager"

#include "config.h"

#include "auth-error.h"
#include "auth-manager.h"

typedef enum {
  STORE_STATE_OK,
  STORE_STATE_ERROR,
} StoreState;

struct _AuthManager {
  GObject parent_instance;

  StoreFile *store;
  gulong store_changed_id;
  GCancellable *cancellable;

  /* The record in use: the last one read successfully (NULL: none). */
  AuthRecord *record;
  gboolean loaded;
  StoreState store_state;
  char *store_error;
  /* Fingerprint whose unusable reason was last logged, to log it once. */
  char *logged_unusable;

  gboolean loading;
  gboolean load_again;
  GPtrArray *waiters;      /* GTask: served by the read in flight */
  GPtrArray *next_waiters; /* GTask: served by the read after it */
};

G_DEFINE_TYPE (AuthManager, auth_manager, G_TYPE_OBJECT)

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void start_load (AuthManager *self);

void
auth_status_clear (AuthStatus *s)
{
  g_clear_pointer (&s->auth_method, g_free);
  g_clear_pointer (&s->account_id, g_free);
  g_clear_pointer (&s->email, g_free);
  g_clear_pointer (&s->plan_type, g_free);
  g_clear_pointer (&s->refresh_state, g_free);
  g_clear_pointer (&s->refresh_error, g_free);
  g_clear_pointer (&s->refresh_error_message, g_free);
  g_clear_pointer (&s->credential_store, g_free);
  g_clear_pointer (&s->store_state, g_free);
  g_clear_pointer (&s->version, g_free);
  g_clear_pointer (&s->store_error_message, g_free);
  s->requires_login = 0;
  s->last_refresh = 0;
  s->access_token_expires = 0;
  s->next_refresh_attempt = 0;
}

static void
auth_manager_dispose (GObject *object)
{
  AuthManager *self = AUTH_MANAGER (object);

  g_cancellable_cancel (self->cancellable);
  if (self->store != NULL && self->store_changed_id != 0)
    g_clear_signal_handler (&self->store_changed_id, self->store);
  G_OBJECT_CLASS (auth_manager_parent_class)->dispose (object);
}

static void
auth_manager_finalize (GObject *object)
{
  AuthManager *self = AUTH_MANAGER (object);

  g_clear_object (&self->store);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->record, auth_record_unref);
  g_free (self->store_error);
  g_free (self->logged_unusable);
  g_ptr_array_unref (self->waiters);
  g_ptr_array_unref (self->next_waiters);
  G_OBJECT_CLASS (auth_manager_parent_class)->finalize (object);
}

static void
auth_manager_class_init (AuthManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = auth_manager_dispose;
  object_class->finalize = auth_manager_finalize;

  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass),
                                          G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                          G_TYPE_NONE, 0);
}

static void
auth_manager_init (AuthManager *self)
{
  self->cancellable = g_cancellable_new ();
  self->waiters = g_ptr_array_new_with_free_func (g_object_unref);
  self->next_waiters = g_ptr_array_new_with_free_func (g_object_unref);
}

AuthManager *
auth_manager_new (StoreFile *store)
{
  AuthManager *self = g_object_new (AUTH_TYPE_MANAGER, NULL);

  self->store = g_object_ref (store);
  return self;
}

static gboolean
record_usable (AuthManager *self)
{
  return self->record != NULL && auth_record_is_usable (self->record);
}

static void
log_unusable_once (AuthManager *self, AuthRecord *record)
{
  const char *fp = auth_record_get_fingerprint (record);

  if (auth_record_is_usable (record) || g_strcmp0 (self->logged_unusable, fp) == 0)
    return;
  g_free (self->logged_unusable);
  self->logged_unusable = g_strdup (fp);
  g_message ("%s: %s; serving no credentials from it",
             store_file_get_path (self->store), auth_record_get_unusable_reason (record));
}

static void
apply_load_result (AuthManager *self, AuthRecord *record, const GError *error)
{
  if (error != NULL)
    {
      if (self->store_state != STORE_STATE_ERROR || g_strcmp0 (self->store_error, error->message) != 0)
        g_warning ("Cannot use the stored credentials: %s; %s", error->message,
                   self->record != NULL ? "keeping the credentials read before" : "no credentials in use");
      self->store_state = STORE_STATE_ERROR;
      g_free (self->store_error);
      self->store_error = g_strdup (error->message);
      return;
    }

  if (self->store_state == STORE_STATE_ERROR)
    g_message ("%s is readable again", store_file_get_path (self->store));
  self->store_state = STORE_STATE_OK;
  g_clear_pointer (&self->store_error, g_free);

  if (record == NULL)
    {
      if (self->record != NULL)
        g_message ("%s was removed: no credentials", store_file_get_path (self->store));
      g_clear_pointer (&self->record, auth_record_unref);
      return;
    }

  if (self->record == NULL ||
      g_strcmp0 (auth_record_get_fingerprint (self->record), auth_record_get_fingerprint (record)) != 0)
    g_message ("Loaded %s credentials from %s", auth_mode_to_string (auth_record_get_mode (record)),
               store_file_get_path (self->store));
  log_unusable_once (self, record);
  /* Even with an equal fingerprint, take the new record: last_refresh and
   * fields this service keeps but does not interpret may have changed. */
  g_clear_pointer (&self->record, auth_record_unref);
  self->record = auth_record_ref (record);
}

static void
load_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  AuthManager *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(AuthRecord) record = NULL;
  g_autoptr(GPtrArray) served = NULL;

  record = store_file_load_finish (STORE_FILE (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      self->loading = FALSE;
      g_object_unref (self);
      return;
    }

  apply_load_result (self, record, error);
  self->loaded = TRUE;
  self->loading = FALSE;

  served = g_steal_pointer (&self->waiters);
  self->waiters = g_steal_pointer (&self->next_waiters);
  self->next_waiters = g_ptr_array_new_with_free_func (g_object_unref);

  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);

  for (guint i = 0; i < served->len; i++)
    {
      GTask *task = g_ptr_array_index (served, i);

      if (error != NULL)
        g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_ERROR,
                                 "%s", error->message);
      else
        g_task_return_boolean (task, TRUE);
    }

  if (self->load_again || self->waiters->len > 0)
    start_load (self);
  g_object_unref (self);
}

static void
start_load (AuthManager *self)
{
  self->loading = TRUE;
  self->load_again = FALSE;
  store_file_load_async (self->store, self->cancellable, load_done_cb, g_object_ref (self));
}

static void
request_load (AuthManager *self, GTask *waiter)
{
  if (self->loading)
    {
      /* The read in flight may have started before the change or the
       * request: one more read follows it. */
      self->load_again = TRUE;
      if (waiter != NULL)
        g_ptr_array_add (self->next_waiters, g_object_ref (waiter));
      return;
    }
  if (waiter != NULL)
    g_ptr_array_add (self->waiters, g_object_ref (waiter));
  start_load (self);
}

static void
store_changed_cb (StoreFile *store, gpointer user_data)
{
  request_load (AUTH_MANAGER (user_data), NULL);
}

gboolean
auth_manager_start (AuthManager *self, GError **error)
{
  g_return_val_if_fail (self->store_changed_id == 0, FALSE);

  self->store_changed_id = g_signal_connect (self->store, "changed",
                                             G_CALLBACK (store_changed_cb), self);
  if (!store_file_watch (self->store, error))
    return FALSE;
  request_load (self, NULL);
  return TRUE;
}

void
auth_manager_reload_async (AuthManager *self, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, auth_manager_reload_async);
  request_load (self, task);
}

gboolean
auth_manager_reload_finish (AuthManager *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
auth_manager_stop (AuthManager *self)
{
  g_cancellable_cancel (self->cancellable);
  if (self->store_changed_id != 0)
    g_clear_signal_handler (&self->store_changed_id, self->store);
  /* A read runs in a worker thread and cannot be interrupted; it is short
   * and bounded, so wait for it rather than leave it behind. */
  while (self->loading)
    g_main_context_iteration (NULL, TRUE);
}

gboolean
auth_manager_is_loaded (AuthManager *self)
{
  return self->loaded;
}

const char *
auth_manager_get_token (AuthManager *self)
{
  if (!record_usable (self))
    return NULL;
  switch (auth_record_get_mode (self->record))
    {
    case AUTH_MODE_API_KEY:
      return auth_record_get_api_key (self->record);
    case AUTH_MODE_CHATGPT:
      return auth_record_get_access_token (self->record);
    case AUTH_MODE_UNSUPPORTED:
    default:
      return NULL;
    }
}

static char *
dup_or_empty (const char *s)
{
  return g_strdup (s != NULL ? s : "");
}

void
auth_manager_get_status (AuthManager *self, AuthStatus *s)
{
  gboolean usable = record_usable (self);
  gboolean chatgpt = usable && auth_record_get_mode (self->record) == AUTH_MODE_CHATGPT;

  auth_status_clear (s);
  s->auth_method = g_strdup (usable ? auth_mode_to_string (auth_record_get_mode (self->record)) : "");
  s->account_id = dup_or_empty (chatgpt ? auth_record_get_account_id (self->record) : NULL);
  s->email = dup_or_empty (chatgpt ? auth_record_get_email (self->record) : NULL);
  s->plan_type = dup_or_empty (chatgpt ? auth_record_get_plan_type (self->record) : NULL);
  s->refresh_state = g_strdup (chatgpt ? "ok" : "none");
  s->refresh_error = g_strdup ("");
  s->refresh_error_message = g_strdup ("");
  s->requires_login = !usable;
  s->last_refresh = chatgpt ? (uint64_t) auth_record_get_last_refresh (self->record) : 0;
  s->access_token_expires = chatgpt ? (uint64_t) auth_record_get_access_token_expires (self->record) : 0;
  s->next_refresh_attempt = 0;
  s->credential_store = g_strdup ("file");
  s->store_state = g_strdup (self->store_state == STORE_STATE_OK ? "ok" : "error");
  s->version = g_strdup (PACKAGE_VERSION);
  s->store_error_message = dup_or_empty (self->store_error);
}
