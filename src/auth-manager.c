/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The AuthManager object: its parts, reading the store and taking what it
 * holds, and what clients see (status, token, the checks before an
 * answer). The refresh is in auth-refresh.c, the writes in auth-writes.c. */
#define G_LOG_DOMAIN "codex-authd-manager"

#include "config.h"

#include "auth-error.h"
#include "auth-manager-private.h"
#include "clock.h"
#include "daemon-log.h"

G_DEFINE_TYPE (AuthManager, auth_manager, G_TYPE_OBJECT)

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void start_load (AuthManager *self);

/* ---- helpers shared by the manager's files ------------------------------ */

const char *
auth_manager_fingerprint_of (AuthRecord *record)
{
  return record != NULL ? auth_record_get_fingerprint (record) : "";
}

static gboolean
record_usable (AuthManager *self)
{
  return self->record != NULL && auth_record_is_usable (self->record);
}

gboolean
auth_manager_is_chatgpt (AuthManager *self)
{
  return record_usable (self) && auth_record_get_mode (self->record) == AUTH_MODE_CHATGPT;
}

guint64
auth_manager_get_login_generation (AuthManager *self)
{
  return self->login_generation;
}

gboolean
auth_manager_is_record_in_use (AuthManager *self, AuthRecord *record)
{
  return g_strcmp0 (auth_manager_fingerprint_of (record), auth_manager_fingerprint_of (self->record)) == 0;
}

void
auth_manager_emit_changed (AuthManager *self)
{
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

void
auth_manager_op_begin (AuthManager *self)
{
  self->pending_ops++;
  g_object_ref (self);
}

void
auth_manager_op_end (AuthManager *self)
{
  self->pending_ops--;
  g_object_unref (self);
}

const char *
auth_manager_store_state_for (const GError *error)
{
  if (g_error_matches (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_LOCKED))
    return "locked";
  if (g_error_matches (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE))
    return "unavailable";
  return "error";
}

/* Records why the store cannot be used; @error says how (locked,
 * unavailable, or anything else: error). */
void
auth_manager_set_store_error (AuthManager *self, const GError *error, const char *message)
{
  const char *state = auth_manager_store_state_for (error);

  if (g_strcmp0 (self->store_error, message) != 0)
    AUTH_LOG_EVENT (g_str_equal (state, "error") ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_MESSAGE, AUTH_LOG_STORE_PROBLEM,
                    codex_auth_error_name (error), "%s", message);
  g_free (self->store_error);
  self->store_error = g_strdup (message);
  self->store_state = state;
}

void
auth_manager_clear_store_error (AuthManager *self)
{
  if (self->store_error != NULL)
    g_message ("%s is usable again", store_policy_describe (self->policy));
  g_clear_pointer (&self->store_error, g_free);
  self->store_state = "ok";
}

gboolean
auth_manager_store_unreachable (AuthManager *self)
{
  return self->store_error != NULL &&
         (g_str_equal (self->store_state, "locked") || g_str_equal (self->store_state, "unavailable"));
}

static void
log_unusable_once (AuthManager *self, AuthRecord *record)
{
  const char *fp = auth_record_get_fingerprint (record);

  if (auth_record_is_usable (record) || g_strcmp0 (self->logged_unusable, fp) == 0)
    return;
  g_free (self->logged_unusable);
  self->logged_unusable = g_strdup (fp);
  g_message ("%s: %s; serving no credentials from it", store_policy_describe (self->policy),
             auth_record_get_unusable_reason (record));
}

/* ---- taking what the store holds ---------------------------------------- */

/* The persisted poison record applies while its fingerprint is that of the
 * record in use; any other is stale and removed. The poison held in memory
 * ends only when the record in use changes: a read that raced with the
 * poison record being written (and so did not see it) changes nothing. */
static void
adopt_poison (AuthManager *self, PoisonRecord *stored)
{
  const char *fp = self->record != NULL ? auth_record_get_fingerprint (self->record) : NULL;

  if (stored != NULL && fp != NULL && g_strcmp0 (stored->fingerprint, fp) == 0)
    {
      if (!poison_record_equal (self->poison, stored))
        {
          g_message ("The ChatGPT refresh token failed for good (%s); not refreshing until the "
                     "credentials change", stored->code);
          g_clear_pointer (&self->poison, poison_record_free);
          self->poison = poison_record_copy (stored);
        }
      return;
    }
  if (self->poison != NULL && g_strcmp0 (self->poison->fingerprint, fp) != 0)
    {
      g_message ("The credentials changed: refreshing is allowed again");
      g_clear_pointer (&self->poison, poison_record_free);
    }
  /* A record about other credentials is stale: replace it with ours, or
   * remove it. */
  if (stored != NULL)
    auth_writes_persist_poison (self, self->poison);
}

/* A rescue copy found on disk (a save that failed, or a crash during one):
 * taken when the store still holds the record it was refreshed from, and
 * saved again; removed when the store has it already or has changed since.
 * Returns TRUE when it replaced the record in use. */
static gboolean
adopt_rescue (AuthManager *self, AuthSnapshot *snapshot)
{
  const char *fp = auth_manager_fingerprint_of (snapshot->record);

  self->rescue_present = TRUE;
  if (snapshot->record != NULL && g_strcmp0 (snapshot->rescue_base_fingerprint, fp) == 0)
    {
      g_message ("Recovered refreshed tokens that %s had not taken; saving them again",
                 store_policy_describe (self->policy));
      g_clear_pointer (&self->record, auth_record_unref);
      self->record = auth_record_ref (snapshot->rescue);
      self->unsaved_refresh = TRUE;
      backoff_reset (&self->backoff);
      auth_writes_queue_save (self, NULL);
      return TRUE;
    }
  if (g_strcmp0 (auth_record_get_fingerprint (snapshot->rescue), fp) != 0)
    g_message ("Discarding refreshed tokens kept from an earlier run: the credentials changed since");
  auth_writes_queue_rescue (self, NULL, NULL);
  return FALSE;
}

/* The store went back to tokens this daemon has rotated since (a keyring
 * that lost its last write, a restored backup): sending that refresh token
 * would only get refresh_token_reused. The newest tokens stay in use and
 * are written again. */
static gboolean
keep_newest_tokens (AuthManager *self, const char *stored_fp)
{
  gboolean material = !auth_manager_is_record_in_use (self, self->rotations.newest);

  g_message ("%s holds a refresh token that has been rotated since; keeping the newer tokens "
             "and saving them again", store_policy_describe (self->policy));
  g_clear_pointer (&self->record, auth_record_unref);
  self->record = auth_record_ref (self->rotations.newest);
  self->unsaved_refresh = TRUE;
  g_free (self->stored_fp);
  self->stored_fp = g_strdup (stored_fp);
  auth_writes_queue_rescue (self, self->record, stored_fp);
  auth_writes_queue_save (self, NULL);
  return material;
}

/* Other credentials than those in use were read: another login, a logout,
 * another program's refresh. */
static void
note_material_change (AuthManager *self, AuthRecord *stored)
{
  if (stored == NULL)
    g_message ("No credentials are stored any more (in %s)", store_policy_describe_searched (self->policy));
  else
    g_message ("Loaded %s credentials from %s", auth_mode_to_string (auth_record_get_mode (stored)),
               store_policy_describe (self->policy));
  self->login_generation++;
  if (self->unsaved_refresh)
    {
      g_message ("Another program changed the credentials; the unsaved refreshed tokens "
                 "are dropped in favour of them");
      auth_writes_queue_rescue (self, NULL, NULL);
    }
  /* Other credentials now: this daemon's rotations no longer say anything
   * about them. (A store that shows nothing may be a keyring coming back;
   * the rotations are kept for it.) */
  if (stored != NULL)
    rotations_clear (&self->rotations);
  self->unsaved_refresh = FALSE;
  auth_writes_forget_save (self);
  backoff_reset (&self->backoff);
}

gboolean
auth_manager_adopt_snapshot (AuthManager *self, AuthSnapshot *snapshot)
{
  const char *fp = auth_manager_fingerprint_of (snapshot->record);
  gboolean material = FALSE;

  if (self->rotations.newest != NULL && rotations_replaced (&self->rotations, snapshot->record))
    {
      material = keep_newest_tokens (self, fp);
      adopt_poison (self, snapshot->poison);
      return material;
    }
  /* While an unsaved refresh started from what the store still holds, the
   * newer tokens in memory stay in use. */
  if (!self->unsaved_refresh || g_strcmp0 (fp, self->stored_fp) != 0)
    {
      material = g_strcmp0 (auth_manager_fingerprint_of (self->record), fp) != 0;
      if (material)
        note_material_change (self, snapshot->record);
      if (snapshot->record != NULL)
        log_unusable_once (self, snapshot->record);
      /* Even with an equal fingerprint, take the new record: last_refresh
       * and fields this service keeps but does not interpret may differ. */
      g_clear_pointer (&self->record, auth_record_unref);
      self->record = snapshot->record != NULL ? auth_record_ref (snapshot->record) : NULL;
    }
  g_free (self->stored_fp);
  self->stored_fp = g_strdup (fp);
  if (snapshot->rescue != NULL && !self->unsaved_refresh)
    material |= adopt_rescue (self, snapshot);
  if (!self->unsaved_refresh)
    auth_manager_clear_store_error (self);
  adopt_poison (self, snapshot->poison);
  return material;
}

/* ---- reading the store and the state files ------------------------------ */

void
auth_snapshot_free (AuthSnapshot *snapshot)
{
  if (snapshot == NULL)
    return;
  g_clear_pointer (&snapshot->record, auth_record_unref);
  g_clear_pointer (&snapshot->poison, poison_record_free);
  g_clear_pointer (&snapshot->rescue, auth_record_unref);
  g_free (snapshot->rescue_base_fingerprint);
  g_free (snapshot);
}

static void
state_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  AuthManager *self = g_task_get_source_object (task);
  AuthSnapshot *read = g_task_get_task_data (task);
  g_autoptr(SavedState) state = state_files_load_finish (self->state_files, result);
  AuthSnapshot *snapshot = g_new0 (AuthSnapshot, 1);

  snapshot->record = g_steal_pointer (&read->record);
  snapshot->poison = g_steal_pointer (&state->poison);
  snapshot->rescue = g_steal_pointer (&state->rescue);
  snapshot->rescue_base_fingerprint = g_steal_pointer (&state->rescue_base_fingerprint);
  g_task_return_pointer (task, snapshot, (GDestroyNotify) auth_snapshot_free);
}

static void
store_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  AuthManager *self = g_task_get_source_object (task);
  AuthSnapshot *snapshot = g_task_get_task_data (task);
  GError *error = NULL;

  snapshot->record = store_policy_load_finish (self->policy, result, &error);
  if (error != NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  state_files_load_async (self->state_files, state_read_cb, task);
}

static void
lock_taken_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  AuthManager *self = g_task_get_source_object (task);
  GError *error = NULL;

  if (!auth_lock_acquire_finish (self->lock, result, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  store_policy_load_async (self->policy, store_read_cb, task);
}

void
auth_manager_read_async (AuthManager *self, gboolean take_lock, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);

  g_task_set_source_tag (task, auth_manager_read_async);
  g_task_set_task_data (task, g_new0 (AuthSnapshot, 1), (GDestroyNotify) auth_snapshot_free);
  if (take_lock)
    auth_lock_acquire_async (self->lock, lock_taken_cb, task);
  else
    store_policy_load_async (self->policy, store_read_cb, task);
}

AuthSnapshot *
auth_manager_read_finish (AuthManager *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
load_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  AuthManager *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(AuthSnapshot) snapshot = NULL;
  g_autoptr(GPtrArray) served = NULL;

  snapshot = auth_manager_read_finish (self, result, &error);
  self->loading = FALSE;
  if (g_cancellable_is_cancelled (self->cancellable))
    {
      auth_manager_op_end (self);
      return;
    }

  if (snapshot != NULL)
    {
      self->last_read_mono = auth_clock_monotonic ();
      auth_manager_adopt_snapshot (self, snapshot);
    }
  else
    {
      g_autofree char *message = g_strdup_printf ("Cannot use the stored credentials: %s; %s",
                                                  error->message,
                                                  self->record != NULL ? "keeping the credentials read before"
                                                                       : "no credentials in use");
      auth_manager_set_store_error (self, error, message);
    }
  self->loaded = TRUE;

  served = g_steal_pointer (&self->waiters);
  self->waiters = g_steal_pointer (&self->next_waiters);
  self->next_waiters = g_ptr_array_new_with_free_func (g_object_unref);

  auth_manager_emit_changed (self);

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
  auth_manager_op_end (self);
}

static void
start_load (AuthManager *self)
{
  self->loading = TRUE;
  self->load_again = FALSE;
  auth_manager_op_begin (self);
  auth_manager_read_async (self, FALSE, load_done_cb, self);
}

void
auth_manager_request_load (AuthManager *self, GTask *waiter)
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
store_changed_cb (StorePolicy *policy, gpointer user_data)
{
  AuthManager *self = user_data;

  if (!self->stopping)
    auth_manager_request_load (self, NULL);
}

void
auth_manager_reload_async (AuthManager *self, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, auth_manager_reload_async);
  auth_manager_request_load (self, task);
}

gboolean
auth_manager_reload_finish (AuthManager *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- before a token goes out: re-validation, then refresh -------------- */

static gboolean
revalidation_due (AuthManager *self)
{
  /* A file store is watched (inotify); a keyring item replaced in place
   * is not announced, so it is read again if the last read is not fresh. */
  return self->loaded && !self->stopping && self->record != NULL && self->store_error == NULL &&
         store_policy_get_source (self->policy) == STORE_KIND_KEYRING &&
         auth_clock_monotonic () - self->last_read_mono > AUTH_REVALIDATE_USEC;
}

gboolean
auth_manager_prepare_needed (AuthManager *self, gboolean force, gboolean want_token)
{
  return (want_token && revalidation_due (self)) || auth_manager_refresh_needed (self, force, want_token);
}

typedef struct {
  gboolean force;
  gboolean want_token;
} PrepareData;

static void
prepare_refreshed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;

  auth_manager_refresh_finish (AUTH_MANAGER (source), result);
  g_task_return_boolean (task, TRUE);
}

static void
prepare_refresh_step (GTask *task)
{
  AuthManager *self = g_task_get_source_object (task);
  PrepareData *data = g_task_get_task_data (task);

  if (auth_manager_refresh_needed (self, data->force, data->want_token))
    auth_manager_refresh_async (self, prepare_refreshed_cb, task);
  else
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
}

static void
prepare_reloaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  /* A failed read shows in StoreState; the answer uses what there is. */
  (void) auth_manager_reload_finish (AUTH_MANAGER (source), result, NULL);
  prepare_refresh_step (user_data);
}

void
auth_manager_prepare_async (AuthManager *self, gboolean force, gboolean want_token, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  PrepareData *data = g_new0 (PrepareData, 1);

  data->force = force;
  data->want_token = want_token;
  g_task_set_source_tag (task, auth_manager_prepare_async);
  g_task_set_task_data (task, data, g_free);
  if (want_token && revalidation_due (self))
    auth_manager_reload_async (self, NULL, prepare_reloaded_cb, task);
  else
    prepare_refresh_step (task);
}

void
auth_manager_prepare_finish (AuthManager *self, GAsyncResult *result)
{
  g_return_if_fail (g_task_is_valid (result, self));
  (void) g_task_propagate_boolean (G_TASK (result), NULL);
}

/* ---- unlocking the keyring ---------------------------------------------- */

static void
unlock_reloaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  /* Unlocked: the reload's own outcome shows in StoreState. */
  (void) auth_manager_reload_finish (AUTH_MANAGER (source), result, &error);
  g_task_return_boolean (task, TRUE);
}

static void
store_unlocked_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  AuthManager *self = g_task_get_source_object (task);
  GError *error = NULL;

  if (!store_policy_write_finish (self->policy, result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  auth_manager_reload_async (self, NULL, unlock_reloaded_cb, g_steal_pointer (&task));
}

void
auth_manager_unlock_store_async (AuthManager *self, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);

  g_task_set_source_tag (task, auth_manager_unlock_store_async);
  store_policy_unlock_async (self->policy, store_unlocked_cb, task);
}

gboolean
auth_manager_unlock_store_finish (AuthManager *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- what clients see -------------------------------------------------- */

gboolean
auth_manager_is_loaded (AuthManager *self)
{
  return self->loaded;
}

gboolean
auth_manager_is_busy (AuthManager *self)
{
  return self->refreshing || self->loading || self->unsaved_refresh || !write_queue_is_idle (self->writes) ||
         self->pending_ops > 0;
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
      /* Withheld while poisoned: the issuer refused this refresh token. */
      return self->poison == NULL ? auth_record_get_access_token (self->record) : NULL;
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

static const char *
refresh_state_name (AuthManager *self)
{
  if (!auth_manager_is_chatgpt (self))
    return "none";
  if (self->poison != NULL)
    return "poisoned";
  if (self->refreshing)
    return "refreshing";
  if (backoff_is_set (&self->backoff))
    return "backoff";
  return "ok";
}

void
auth_manager_get_status (AuthManager *self, AuthStatus *s)
{
  gboolean usable = record_usable (self);
  gboolean chatgpt = auth_manager_is_chatgpt (self);
  gboolean backoff = chatgpt && self->poison == NULL && backoff_is_set (&self->backoff);

  auth_status_clear (s);
  s->auth_method = g_strdup (usable ? auth_mode_to_string (auth_record_get_mode (self->record)) : "");
  s->account_id = dup_or_empty (chatgpt ? auth_record_get_account_id (self->record) : NULL);
  s->email = dup_or_empty (chatgpt ? auth_record_get_email (self->record) : NULL);
  s->plan_type = dup_or_empty (chatgpt ? auth_record_get_plan_type (self->record) : NULL);
  s->refresh_state = g_strdup (refresh_state_name (self));
  if (chatgpt && self->poison != NULL)
    {
      s->refresh_error = g_strdup (self->poison->code);
      s->refresh_error_message = g_strdup (self->poison->message);
    }
  else
    {
      s->refresh_error = dup_or_empty (backoff ? self->backoff.code : NULL);
      s->refresh_error_message = dup_or_empty (backoff ? self->backoff.message : NULL);
    }
  /* A keyring that is locked or absent before anything was read is not a
   * reason to log in again: StoreState says what to do instead. */
  s->requires_login = (!usable && !auth_manager_store_unreachable (self)) || (chatgpt && self->poison != NULL);
  s->last_refresh = chatgpt ? (uint64_t) auth_record_get_last_refresh (self->record) : 0;
  s->access_token_expires = chatgpt ? (uint64_t) auth_record_get_access_token_expires (self->record) : 0;
  s->next_refresh_attempt = backoff ? (uint64_t) self->backoff.deadline_wall : 0;
  s->credential_store = g_strdup (store_kind_to_string (store_policy_get_source (self->policy)));
  s->store_state = g_strdup (self->store_error == NULL ? "ok" : self->store_state);
  s->version = g_strdup (PACKAGE_VERSION);
  s->local_token_endpoint = dup_or_empty (self->local_endpoint_url);
  s->store_error_message = dup_or_empty (self->store_error);
  s->credential_store_reason = g_strdup (store_policy_get_reason (self->policy));
  s->cli_config_error = dup_or_empty (store_policy_get_config_problem (self->policy));
  /* Sign-ins are the SigninManager's: auth-bus.c fills it in. */
  s->pending_login = g_strdup ("");
}

Sensitive *
auth_manager_dup_revocable_token (AuthManager *self, const char **hint)
{
  const char *token;

  *hint = NULL;
  if (self->record == NULL || auth_record_get_mode (self->record) != AUTH_MODE_CHATGPT)
    return NULL;
  token = auth_record_get_refresh_token (self->record);
  if (token != NULL && token[0] != '\0')
    {
      *hint = "refresh_token";
      return sensitive_dup (token);
    }
  token = auth_record_get_access_token (self->record);
  if (token != NULL && token[0] != '\0')
    {
      *hint = "access_token";
      return sensitive_dup (token);
    }
  return NULL;
}

void
auth_manager_set_recent_refresh_window (AuthManager *self, gint64 usec)
{
  self->recent_refresh_usec = usec;
}

void
auth_manager_set_reuse_wait (AuthManager *self, gint64 usec)
{
  self->reuse_wait_usec = usec;
}

/* ---- the object --------------------------------------------------------- */

static void
auth_manager_finalize (GObject *object)
{
  AuthManager *self = AUTH_MANAGER (object);

  g_clear_handle_id (&self->save_retry_id, g_source_remove);
  g_clear_handle_id (&self->reuse_check_id, g_source_remove);
  g_clear_pointer (&self->reuse_result, refresh_result_free);
  g_clear_pointer (&self->writes, write_queue_free);
  if (self->policy != NULL)
    g_signal_handlers_disconnect_by_data (self->policy, self);
  g_clear_object (&self->policy);
  g_clear_pointer (&self->state_files, state_files_free);
  g_clear_pointer (&self->lock, auth_lock_free);
  g_clear_pointer (&self->endpoint, token_endpoint_free);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->record, auth_record_unref);
  g_clear_pointer (&self->attempted, auth_record_unref);
  rotations_clear (&self->rotations);
  backoff_reset (&self->backoff);
  g_clear_pointer (&self->poison, poison_record_free);
  g_clear_pointer (&self->poison_to_write, poison_record_free);
  g_free (self->stored_fp);
  g_free (self->store_error);
  g_free (self->local_endpoint_url);
  g_free (self->logged_unusable);
  g_ptr_array_unref (self->waiters);
  g_ptr_array_unref (self->next_waiters);
  g_ptr_array_unref (self->refresh_waiters);
  G_OBJECT_CLASS (auth_manager_parent_class)->finalize (object);
}

static void
auth_manager_class_init (AuthManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = auth_manager_finalize;

  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass),
                                          G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                          G_TYPE_NONE, 0);
}

static void
auth_manager_init (AuthManager *self)
{
  self->cancellable = g_cancellable_new ();
  self->recent_refresh_usec = AUTH_RECENT_REFRESH_USEC;
  self->reuse_wait_usec = AUTH_REUSE_WAIT_USEC;
  self->store_state = "ok";
  self->waiters = g_ptr_array_new_with_free_func (g_object_unref);
  self->next_waiters = g_ptr_array_new_with_free_func (g_object_unref);
  self->refresh_waiters = g_ptr_array_new_with_free_func (g_object_unref);
  self->writes = write_queue_new ();
}

AuthManager *
auth_manager_new (StorePolicy *policy, StateFiles *state_files, AuthLock *lock, TokenEndpoint *endpoint)
{
  AuthManager *self = g_object_new (AUTH_TYPE_MANAGER, NULL);

  self->policy = policy;
  self->state_files = state_files;
  self->lock = lock;
  self->endpoint = endpoint;
  return self;
}

gboolean
auth_manager_start (AuthManager *self, GError **error)
{
  g_signal_connect (self->policy, "changed", G_CALLBACK (store_changed_cb), self);
  if (!store_policy_watch (self->policy, error))
    return FALSE;
  auth_manager_request_load (self, NULL);
  return TRUE;
}

void
auth_manager_stop (AuthManager *self)
{
  self->stopping = TRUE;
  g_clear_handle_id (&self->save_retry_id, g_source_remove);
  /* Callers waiting for a refresh are answered now, with what there is. */
  auth_refresh_answer_waiters (self);
  /* A token request in flight is not cancelled: the issuer may already
   * have rotated the refresh token, and its answer is the only copy of the
   * new one. It is bounded by the request timeout; its result is saved
   * (and auth.lock released) before exiting, so an instance that replaces
   * this one reads the new token instead of sending the old one. */
  if (self->refreshing)
    g_message ("Finishing the token request in flight before exiting");
  while (self->refreshing || !write_queue_is_idle (self->writes))
    g_main_context_iteration (NULL, TRUE);
  g_cancellable_cancel (self->cancellable);
  /* Reads still running in worker threads are short and bounded. */
  while (self->pending_ops > 0)
    g_main_context_iteration (NULL, TRUE);
  if (self->unsaved_refresh)
    g_warning ("Exiting with refreshed tokens that could not be saved to %s", store_policy_describe (self->policy));
}
