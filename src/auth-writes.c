/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every change the manager makes to the stores, each a job of the write
 * queue (one at a time, in order): the poison record, the rescue copy, the
 * save of refreshed tokens and its retries, logins, logouts and moves. */
#define G_LOG_DOMAIN "codex-authd-writes"

#include "config.h"

#include "auth-error.h"
#include "auth-manager-private.h"
#include "daemon-log.h"

#define SAVE_RETRY_MAX_SECONDS 10

static void schedule_save_retry (AuthManager *self);

/* ---- the poison record -------------------------------------------------- */

static gboolean
poison_write_start (gpointer data, GAsyncReadyCallback callback, gpointer user_data)
{
  AuthManager *self = data;

  self->poison_write_queued = FALSE;
  state_files_save_poison_async (self->state_files, self->poison_to_write, callback, user_data);
  return TRUE;
}

static void
warn_poison_write (AuthManager *self, GAsyncResult *result)
{
  g_autoptr(GError) error = NULL;

  if (!state_files_write_finish (self->state_files, result, &error))
    g_warning ("Cannot update the poison record: %s, ignoring", error->message);
}

static void
poison_write_done (gpointer data, GAsyncResult *result)
{
  AuthManager *self = data;

  warn_poison_write (self, result);
  auth_manager_op_end (self);
}

void
auth_writes_persist_poison (AuthManager *self, const PoisonRecord *record)
{
  g_clear_pointer (&self->poison_to_write, poison_record_free);
  self->poison_to_write = record != NULL ? poison_record_copy (record) : NULL;
  if (self->poison_write_queued)
    return;
  self->poison_write_queued = TRUE;
  auth_manager_op_begin (self);
  write_queue_push (self->writes, "the poison record", poison_write_start, poison_write_done, self, NULL);
}

static void
poison_written_finish_refresh (gpointer data, GAsyncResult *result)
{
  AuthManager *self = data;

  warn_poison_write (self, result);
  auth_refresh_finish (self);
}

/* The refresh (holding auth.lock) ends once the record is written: another
 * instance waiting for the lock then reads it, and sends nothing. */
void
auth_writes_persist_poison_then_finish_refresh (AuthManager *self, const PoisonRecord *record)
{
  g_clear_pointer (&self->poison_to_write, poison_record_free);
  self->poison_to_write = poison_record_copy (record);
  write_queue_push (self->writes, "the poison record, before releasing the lock", poison_write_start,
                    poison_written_finish_refresh, self, NULL);
}

/* ---- the rescue copy ---------------------------------------------------- */

typedef struct {
  AuthManager *self;
  AuthRecord *record; /* NULL: remove */
  char *base_fingerprint;
} RescueJob;

static void
rescue_job_free (RescueJob *job)
{
  g_clear_pointer (&job->record, auth_record_unref);
  g_free (job->base_fingerprint);
  g_free (job);
}

static gboolean
rescue_job_start (gpointer data, GAsyncReadyCallback callback, gpointer user_data)
{
  RescueJob *job = data;

  /* Tokens bound for the keyring are never written to disk. */
  RescuePlace place = store_policy_get_source (job->self->policy) == STORE_KIND_KEYRING ? RESCUE_NOT_ON_DISK
                                                                                            : RESCUE_ON_DISK;

  state_files_save_rescue_async (job->self->state_files, job->record, job->base_fingerprint, place, callback,
                                 user_data);
  return TRUE;
}

static void
rescue_job_done (gpointer data, GAsyncResult *result)
{
  RescueJob *job = data;
  g_autoptr(GError) error = NULL;

  if (!state_files_write_finish (job->self->state_files, result, &error))
    g_warning ("Cannot %s the rescue copy of the refreshed tokens: %s, ignoring",
               job->record != NULL ? "write" : "remove", error->message);
  auth_manager_op_end (job->self);
}

void
auth_writes_queue_rescue (AuthManager *self, AuthRecord *record, const char *base_fingerprint)
{
  RescueJob *job;

  if (record == NULL && !self->rescue_present)
    return;
  job = g_new0 (RescueJob, 1);
  job->self = self;
  job->record = record != NULL ? auth_record_ref (record) : NULL;
  job->base_fingerprint = g_strdup (base_fingerprint);
  self->rescue_present = record != NULL;
  auth_manager_op_begin (self);
  write_queue_push (self->writes, record != NULL ? "the rescue copy of the refreshed tokens"
                                                 : "the removal of the rescue copy",
                    rescue_job_start, rescue_job_done, job, (GDestroyNotify) rescue_job_free);
}

/* ---- saving refreshed tokens -------------------------------------------- */

void
auth_writes_note_saved (AuthManager *self, AuthRecord *saved)
{
  /* A material change may have replaced the record meanwhile. */
  if (!auth_manager_is_record_in_use (self, saved))
    return;
  self->unsaved_refresh = FALSE;
  self->save_failures = 0;
  g_free (self->stored_fp);
  self->stored_fp = g_strdup (auth_record_get_fingerprint (saved));
  auth_manager_clear_store_error (self);
  /* The store has the tokens: the rescue copy has done its job. */
  auth_writes_queue_rescue (self, NULL, NULL);
}

static void
note_save_failed (AuthManager *self, const GError *error)
{
  g_autofree char *message = g_strdup_printf ("Cannot save the refreshed tokens: %s; keeping them in "
                                              "memory and retrying", error->message);

  auth_manager_set_store_error (self, error, message);
  self->save_failures++;
  schedule_save_retry (self);
}

/* The save of a refreshed record: right after the refresh (under its lock;
 * the refresh ends when the save does), or as a retry (which saves
 * whatever refreshed record is newest when it starts). */
typedef struct {
  AuthManager *self;
  AuthRecord *record; /* NULL for a retry until it starts */
  gboolean after_refresh;
} SaveJob;

static void
save_job_free (SaveJob *job)
{
  g_clear_pointer (&job->record, auth_record_unref);
  g_free (job);
}

static gboolean
save_job_start (gpointer data, GAsyncReadyCallback callback, gpointer user_data)
{
  SaveJob *job = data;
  AuthManager *self = job->self;

  if (job->record == NULL)
    {
      if (!self->unsaved_refresh)
        return FALSE;
      job->record = auth_record_ref (self->record);
    }
  else if (!auth_manager_is_record_in_use (self, job->record))
    return FALSE; /* a login, a logout or another program replaced it meanwhile */
  store_policy_save_async (self->policy, job->record, callback, user_data);
  return TRUE;
}

static void
save_job_done (gpointer data, GAsyncResult *result)
{
  SaveJob *job = data;
  AuthManager *self = job->self;
  g_autoptr(GError) error = NULL;

  if (result != NULL)
    {
      if (store_policy_write_finish (self->policy, result, &error))
        auth_writes_note_saved (self, job->record);
      else if (auth_manager_is_record_in_use (self, job->record) && !g_cancellable_is_cancelled (self->cancellable))
        note_save_failed (self, error);
    }
  if (job->after_refresh)
    {
      auth_refresh_finish (self);
      return;
    }
  if (result != NULL && !self->unsaved_refresh)
    g_message ("Saved the refreshed tokens to %s", store_policy_describe (self->policy));
  auth_manager_emit_changed (self);
  auth_manager_op_end (self);
}

void
auth_writes_queue_save (AuthManager *self, AuthRecord *record)
{
  SaveJob *job = g_new0 (SaveJob, 1);

  job->self = self;
  job->record = record != NULL ? auth_record_ref (record) : NULL;
  job->after_refresh = record != NULL;
  if (!job->after_refresh)
    auth_manager_op_begin (self);
  write_queue_push (self->writes, job->after_refresh ? "the refreshed tokens" : "the refreshed tokens, again",
                    save_job_start, save_job_done, job, (GDestroyNotify) save_job_free);
}

/* A save that failed is retried on this timer, with the newest refreshed
 * record. (A refresh after backoff is not: see
 * auth_manager_refresh_needed().) */
static gboolean
save_retry_cb (gpointer user_data)
{
  AuthManager *self = user_data;

  self->save_retry_id = 0;
  if (!self->unsaved_refresh)
    return G_SOURCE_REMOVE;
  if (self->refreshing)
    {
      /* The refresh in flight saves what it gets. */
      schedule_save_retry (self);
      return G_SOURCE_REMOVE;
    }
  auth_writes_queue_save (self, NULL);
  return G_SOURCE_REMOVE;
}

static void
schedule_save_retry (AuthManager *self)
{
  guint delay = 1u << MIN (self->save_failures, 6u);

  if (self->save_retry_id != 0 || g_cancellable_is_cancelled (self->cancellable))
    return;
  self->save_retry_id = g_timeout_add_seconds (MIN (delay, SAVE_RETRY_MAX_SECONDS), save_retry_cb, self);
}

void
auth_writes_forget_save (AuthManager *self)
{
  self->save_failures = 0;
  g_clear_handle_id (&self->save_retry_id, g_source_remove);
}

/* ---- logins and logouts ------------------------------------------------- */

/* Makes @record (NULL: none) the credentials in use after the user logged
 * in or out: a material change, which ends any poison and backoff. */
static void
use_new_credentials (AuthManager *self, AuthRecord *record)
{
  g_clear_pointer (&self->record, auth_record_unref);
  self->record = record != NULL ? auth_record_ref (record) : NULL;
  self->login_generation++;
  g_free (self->stored_fp);
  self->stored_fp = g_strdup (auth_manager_fingerprint_of (record));
  self->unsaved_refresh = FALSE;
  auth_writes_forget_save (self);
  backoff_reset (&self->backoff);
  g_clear_pointer (&self->poison, poison_record_free);
  auth_writes_persist_poison (self, NULL);
  auth_writes_queue_rescue (self, NULL, NULL);
  rotations_clear (&self->rotations);
  auth_manager_clear_store_error (self);
  auth_manager_emit_changed (self);
}

static GError *
as_store_error (GError *error)
{
  GError *out;

  if (error->domain == CODEX_AUTH_ERROR)
    return error;
  out = g_error_new (CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_ERROR, "%s", error->message);
  g_error_free (error);
  return out;
}

/* A login (@record: the new credentials) or a logout (@record NULL) of
 * the login @generation. */
typedef struct {
  AuthManager *self;
  GTask *task;
  AuthRecord *record;
  guint64 generation;
} CredentialsJob;

static void
credentials_job_free (CredentialsJob *job)
{
  g_clear_object (&job->task);
  g_clear_pointer (&job->record, auth_record_unref);
  g_free (job);
}

static gboolean
credentials_job_start (gpointer data, GAsyncReadyCallback callback, gpointer user_data)
{
  CredentialsJob *job = data;
  AuthManager *self = job->self;
  StorePolicy *policy = self->policy;

  if (job->record != NULL)
    store_policy_save_login_async (policy, job->record, callback, user_data);
  else if (job->generation != self->login_generation)
    {
      /* Signed in again (or another program changed the credentials)
       * while this logout revoked: those are not what it was asked to
       * remove. */
      g_message ("Logout: the credentials changed since it was asked for; keeping them");
      return FALSE;
    }
  else
    store_policy_remove_all_async (policy, callback, user_data);
  return TRUE;
}

static void
credentials_job_done (gpointer data, GAsyncResult *result)
{
  CredentialsJob *job = data;
  AuthManager *self = job->self;
  GError *error = NULL;

  if (result == NULL)
    {
      /* A logout skipped (credentials_job_start()). */
      g_task_return_new_error (job->task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_CREDENTIALS_CHANGED,
                               "The credentials changed while signing out (a new sign-in, or another program): "
                               "they were kept. Sign out again to remove them.");
      auth_manager_op_end (self);
      return;
    }
  if (!store_policy_write_finish (self->policy, result, &error))
    {
      /* Nothing changes: the credentials held before stay in use. */
      g_task_return_error (job->task, as_store_error (error));
      auth_manager_op_end (self);
      return;
    }
  if (job->record != NULL)
    AUTH_LOG_EVENT (G_LOG_LEVEL_MESSAGE, AUTH_LOG_LOGIN, NULL, "Logged in (%s), stored in %s",
                    auth_mode_to_string (auth_record_get_mode (job->record)), store_policy_describe (self->policy));
  else
    AUTH_LOG_EVENT (G_LOG_LEVEL_MESSAGE, AUTH_LOG_LOGOUT, NULL, "Logged out");
  use_new_credentials (self, job->record);
  g_task_return_boolean (job->task, TRUE);
  auth_manager_op_end (self);
}

static void
queue_credentials_job (AuthManager *self, GTask *task, AuthRecord *record, guint64 generation)
{
  CredentialsJob *job = g_new0 (CredentialsJob, 1);

  job->self = self;
  job->task = task;
  job->record = record != NULL ? auth_record_ref (record) : NULL;
  job->generation = generation;
  auth_manager_op_begin (self);
  write_queue_push (self->writes, record != NULL ? "a login" : "a logout", credentials_job_start,
                    credentials_job_done, job, (GDestroyNotify) credentials_job_free);
}

void
auth_manager_login_async (AuthManager *self, AuthRecord *record, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);

  g_task_set_source_tag (task, auth_manager_login_async);
  queue_credentials_job (self, task, record, 0);
}

gboolean
auth_manager_login_finish (AuthManager *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
auth_manager_logout_async (AuthManager *self, guint64 generation, GAsyncReadyCallback callback,
                           gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);

  g_task_set_source_tag (task, auth_manager_logout_async);
  queue_credentials_job (self, task, NULL, generation);
}

gboolean
auth_manager_logout_finish (AuthManager *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- moving to the other store ------------------------------------------ */

typedef struct {
  AuthManager *self;
  GTask *task;
  StoreKind target;
} MoveJob;

static void
move_job_free (MoveJob *job)
{
  g_clear_object (&job->task);
  g_free (job);
}

static gboolean
move_job_start (gpointer data, GAsyncReadyCallback callback, gpointer user_data)
{
  MoveJob *job = data;
  AuthManager *self = job->self;

  if (auth_manager_store_unreachable (self) || (self->store_error != NULL && !self->unsaved_refresh))
    {
      /* What the store holds is not known: moving nothing would lose it. */
      g_task_return_new_error (job->task, CODEX_AUTH_ERROR,
                               g_str_equal (self->store_state, "locked") ? CODEX_AUTH_ERROR_STORE_LOCKED
                               : g_str_equal (self->store_state, "unavailable") ? CODEX_AUTH_ERROR_STORE_UNAVAILABLE
                                                                                : CODEX_AUTH_ERROR_STORE_ERROR,
                               "The credentials cannot be read now, so they are not moved: %s",
                               self->store_error);
      return FALSE;
    }
  /* The record in use is the newest, refreshed tokens not saved yet included. */
  store_policy_move_async (self->policy, self->record, job->target, callback, user_data);
  return TRUE;
}

static void
move_job_done (gpointer data, GAsyncResult *result)
{
  MoveJob *job = data;
  AuthManager *self = job->self;
  GError *error = NULL;

  if (result == NULL)
    {
      auth_manager_op_end (self);
      return;
    }
  if (!store_policy_write_finish (self->policy, result, &error))
    g_task_return_error (job->task, as_store_error (error));
  else
    {
      g_message ("Moved the credentials to %s; the Codex CLI's setting says %s now",
                 store_policy_describe (self->policy), job->target == STORE_KIND_KEYRING ? "keyring" : "file");
      if (self->record != NULL)
        auth_writes_note_saved (self, self->record);
      g_task_return_boolean (job->task, TRUE);
    }
  auth_manager_request_load (self, NULL);
  auth_manager_op_end (self);
}

void
auth_manager_move_async (AuthManager *self, StoreKind target, GAsyncReadyCallback callback, gpointer user_data)
{
  MoveJob *job = g_new0 (MoveJob, 1);

  job->self = self;
  job->task = g_task_new (self, NULL, callback, user_data);
  job->target = target;
  g_task_set_source_tag (job->task, auth_manager_move_async);
  auth_manager_op_begin (self);
  write_queue_push (self->writes, "a move to another store", move_job_start, move_job_done, job,
                    (GDestroyNotify) move_job_free);
}

gboolean
auth_manager_move_finish (AuthManager *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
