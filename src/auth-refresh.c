/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The refresh of the ChatGPT tokens (DESIGN §5): when one is needed, the
 * single flight, the guarded reload under auth.lock, the request, and what
 * its answer does (a rotation, backoff, or poison once the failure is
 * verified, after waiting for another program that used the same token). */
#define G_LOG_DOMAIN "codex-authd-refresh"

#include "config.h"

#include "auth-manager-private.h"
#include "clock.h"
#include "daemon-log.h"

static void
answer (GPtrArray *waiters)
{
  for (guint i = 0; i < waiters->len; i++)
    g_task_return_boolean (g_ptr_array_index (waiters, i), TRUE);
}

void
auth_refresh_answer_waiters (AuthManager *self)
{
  g_autoptr(GPtrArray) waiting = g_steal_pointer (&self->refresh_waiters);

  self->refresh_waiters = g_ptr_array_new_with_free_func (g_object_unref);
  answer (waiting);
}

void
auth_refresh_finish (AuthManager *self)
{
  g_autoptr(GPtrArray) served = g_steal_pointer (&self->refresh_waiters);

  auth_lock_release (self->lock);
  self->refreshing = FALSE;
  g_clear_pointer (&self->attempted, auth_record_unref);
  self->refresh_waiters = g_ptr_array_new_with_free_func (g_object_unref);
  auth_manager_emit_changed (self);
  answer (served);
  auth_manager_op_end (self);
}

static void
note_transient (AuthManager *self, const RefreshResult *result)
{
  gint64 delay = backoff_note_failure (&self->backoff, result, auth_clock_now (), auth_clock_monotonic (),
                                       auth_clock_jitter ());

  AUTH_LOG_EVENT (G_LOG_LEVEL_MESSAGE, AUTH_LOG_BACKOFF, result->code,
                  "Refreshing the ChatGPT tokens failed (%s, HTTP %u); next attempt in %.1f s",
                  result->code, result->http_status, (double) delay / G_USEC_PER_SEC);
}

/* ---- a permanent failure: poison what was attempted, if still stored --- */

typedef struct {
  AuthManager *self;
  RefreshResult *result;
} VerifyData;

static void
verify_permanent_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  VerifyData *data = user_data;
  AuthManager *self = data->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(AuthSnapshot) snapshot = auth_manager_read_finish (self, res, &error);
  g_autoptr(RefreshResult) result = data->result;
  g_autoptr(PoisonRecord) poison = NULL;

  g_free (data);
  if (snapshot != NULL && g_strcmp0 (auth_manager_fingerprint_of (snapshot->record), self->stored_fp) != 0)
    {
      g_message ("The refresh failed (%s), but the credentials changed meanwhile: using the new ones",
                 result->code);
      auth_manager_adopt_snapshot (self, snapshot);
      auth_refresh_finish (self);
      return;
    }

  poison = poison_record_new (auth_record_get_fingerprint (self->attempted), result->code, result->message,
                              result->http_status, auth_clock_now ());
  AUTH_LOG_EVENT (G_LOG_LEVEL_WARNING, AUTH_LOG_POISONED, result->code,
                  "Refreshing the ChatGPT tokens failed for good (%s, HTTP %u): %s Not refreshing again "
                  "until the credentials change.", result->code, result->http_status, result->message);
  g_clear_pointer (&self->poison, poison_record_free);
  self->poison = poison_record_copy (poison);
  backoff_reset (&self->backoff);
  /* Recorded even when the store could not be read again: nothing says the
   * credentials changed. */
  if (snapshot == NULL)
    g_message ("Cannot re-read the store (%s); recording the failure all the same", error->message);
  auth_writes_persist_poison_then_finish_refresh (self, poison);
}

/* Poisons only if the store still holds the snapshot that was attempted
 * (nobody logged in or refreshed meanwhile): read it again, under auth.lock
 * when @take_lock. Takes @result. */
static void
verify_permanent (AuthManager *self, RefreshResult *result, gboolean take_lock)
{
  VerifyData *data = g_new0 (VerifyData, 1);

  data->self = self;
  data->result = result;
  auth_manager_read_async (self, take_lock, verify_permanent_cb, data);
}

/* ---- refresh_token_reused: who used it? ---------------------------------
 *
 * The issuer says the refresh token was used already. Usually another
 * program (the Codex CLI) sent the same token a moment earlier and is about
 * to save the new one: the CLI takes auth.lock only around its save. So the
 * lock is released, and the store is read again, fresh, every
 * AUTH_REUSE_POLL_USEC for at most AUTH_REUSE_WAIT_USEC (a store change
 * also triggers a read; the reads are counted, not timed, so that a clock
 * that jumps neither shortens nor stretches the wait). A different refresh
 * token there is adopted; if none comes, the failure is verified under the
 * lock and poisons as any other permanent failure. */

static gboolean
has_other_refresh_token (AuthRecord *stored, AuthRecord *attempted)
{
  if (stored == NULL || auth_record_get_mode (stored) != AUTH_MODE_CHATGPT)
    return TRUE;
  return g_strcmp0 (auth_record_get_refresh_token (stored), auth_record_get_refresh_token (attempted)) != 0;
}

static void reuse_read_cb (GObject *source, GAsyncResult *res, gpointer user_data);

static gboolean
reuse_check_cb (gpointer user_data)
{
  AuthManager *self = user_data;

  self->reuse_check_id = 0;
  auth_manager_read_async (self, FALSE, reuse_read_cb, self);
  return G_SOURCE_REMOVE;
}

static void
start_reuse_wait (AuthManager *self, RefreshResult *result)
{
  g_message ("The refresh token was already used (%s): waiting up to %d s for the program that used it "
             "to save the new one",
             result->code, (int) (AUTH_REUSE_WAIT_USEC / G_USEC_PER_SEC));
  self->reuse_result = result;
  self->reuse_reads_left = (guint) (self->reuse_wait_usec / AUTH_REUSE_POLL_USEC);
  /* The other program cannot save while this one holds auth.lock. */
  auth_lock_release (self->lock);
  self->reuse_check_id = g_timeout_add (AUTH_REUSE_POLL_USEC / 1000, reuse_check_cb, self);
}

static void
reuse_read_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  AuthManager *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(AuthSnapshot) snapshot = auth_manager_read_finish (self, res, &error);

  if (snapshot != NULL)
    self->last_read_mono = auth_clock_monotonic ();
  if (!auth_manager_is_record_in_use (self, self->attempted) ||
      (snapshot != NULL && has_other_refresh_token (snapshot->record, self->attempted)))
    {
      g_message ("Another program saved new credentials after using the refresh token: using them");
      if (snapshot != NULL)
        auth_manager_adopt_snapshot (self, snapshot);
      g_clear_pointer (&self->reuse_result, refresh_result_free);
      auth_refresh_finish (self);
      return;
    }
  if (!self->stopping && --self->reuse_reads_left > 0)
    {
      self->reuse_check_id = g_timeout_add (AUTH_REUSE_POLL_USEC / 1000, reuse_check_cb, self);
      return;
    }
  /* Nobody saved a newer token: verified under the lock, then poisoned. */
  verify_permanent (self, g_steal_pointer (&self->reuse_result), TRUE);
}

/* ---- the answer --------------------------------------------------------- */

/* A 2xx answer: the refreshed record, or NULL (the answer is then a
 * transient failure). */
static AuthRecord *
refreshed_record (AuthManager *self, const RefreshResult *result)
{
  g_autoptr(GError) error = NULL;
  AuthRecord *refreshed;

  if (result->message != NULL)
    g_warning ("%s", result->message);
  refreshed = auth_record_new_refreshed (self->record, result->id_token, result->access_token,
                                         result->refresh_token, auth_clock_now (), &error);
  if (refreshed == NULL && result->id_token != NULL)
    {
      /* A new id_token that does not parse must not cost the rotated
       * refresh token: keep the previous id_token and its claims. */
      g_warning ("The token server sent an id_token that cannot be used (%s); keeping the previous "
                 "one and the other new tokens", error->message);
      g_clear_error (&error);
      refreshed = auth_record_new_refreshed (self->record, NULL, result->access_token, result->refresh_token,
                                             auth_clock_now (), &error);
    }
  if (refreshed == NULL)
    g_debug ("Refreshed record rejected: %s", error->message);
  return refreshed;
}

static void
take_refreshed (AuthManager *self, AuthRecord *refreshed)
{
  AUTH_LOG_EVENT (G_LOG_LEVEL_MESSAGE, AUTH_LOG_REFRESHED, NULL, "Refreshed the ChatGPT tokens");
  rotations_note (&self->rotations, self->record, refreshed, auth_clock_monotonic ());
  g_clear_pointer (&self->record, auth_record_unref);
  self->record = refreshed;
  self->unsaved_refresh = TRUE;
  backoff_reset (&self->backoff);
  /* First a copy the store cannot lose (a failing store, a crash in the
   * middle of the save), then the store, under the refresh's lock; the
   * refresh ends when the save does. */
  auth_writes_queue_rescue (self, refreshed, self->stored_fp);
  auth_writes_queue_save (self, refreshed);
}

static void
refresh_answered_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  AuthManager *self = user_data;
  g_autoptr(RefreshResult) result = token_endpoint_refresh_finish (self->endpoint, res);
  AuthRecord *refreshed;

  /* Cancelled at shutdown, or the credentials changed while the request
   * was out: its answer is about a snapshot no longer in use. */
  if (g_cancellable_is_cancelled (self->cancellable) || !auth_manager_is_record_in_use (self, self->attempted))
    {
      auth_refresh_finish (self);
      return;
    }

  switch (result->kind)
    {
    case REFRESH_RESULT_SUCCESS:
      refreshed = refreshed_record (self, result);
      if (refreshed == NULL)
        {
          g_autoptr(RefreshResult) bad = refresh_result_new_transient (
              "bad_response", "The token server sent tokens that cannot be used; will retry.");

          bad->http_status = result->http_status;
          note_transient (self, bad);
          auth_refresh_finish (self);
          return;
        }
      take_refreshed (self, refreshed);
      return;

    case REFRESH_RESULT_PERMANENT:
      if (g_strcmp0 (result->code, "refresh_token_reused") == 0 && !self->stopping &&
          self->reuse_wait_usec >= AUTH_REUSE_POLL_USEC)
        start_reuse_wait (self, g_steal_pointer (&result));
      else
        verify_permanent (self, g_steal_pointer (&result), FALSE);
      return;

    case REFRESH_RESULT_TRANSIENT:
    default:
      note_transient (self, result);
      auth_refresh_finish (self);
      return;
    }
}

/* ---- the guarded reload, then the request ------------------------------ */

static void
read_under_lock_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  AuthManager *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(AuthSnapshot) snapshot = auth_manager_read_finish (self, res, &error);

  if (g_cancellable_is_cancelled (self->cancellable))
    {
      auth_refresh_finish (self);
      return;
    }
  if (snapshot != NULL)
    self->last_read_mono = auth_clock_monotonic ();
  if (snapshot == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BUSY))
    {
      /* Another program held auth.lock past the wait: a transient failure,
       * with backoff, so that calls do not each wait for the lock again. */
      g_autoptr(RefreshResult) busy = refresh_result_new_transient (
          "timeout", "Another program kept the Codex credentials locked (auth.lock); will retry.");

      g_message ("%s", error->message);
      note_transient (self, busy);
      auth_refresh_finish (self);
      return;
    }
  if (snapshot == NULL && !g_str_equal (auth_manager_store_state_for (error), "error"))
    {
      /* Locked or gone: nobody can change it now either. Refresh what is
       * held; the save waits until the store is back. */
      g_debug ("Refreshing without re-reading the store: %s", error->message);
    }
  else if (snapshot == NULL)
    {
      g_autofree char *message = g_strdup_printf ("Cannot read the stored credentials before "
                                                  "refreshing: %s", error->message);
      auth_manager_set_store_error (self, error, message);
      auth_refresh_finish (self);
      return;
    }
  /* Guarded reload: if another program refreshed or logged in, use that
   * and skip the network. */
  else if (auth_manager_adopt_snapshot (self, snapshot))
    {
      auth_refresh_finish (self);
      return;
    }
  if (!auth_manager_is_chatgpt (self) || self->poison != NULL)
    {
      auth_refresh_finish (self);
      return;
    }

  self->attempted = auth_record_ref (self->record);
  token_endpoint_refresh_async (self->endpoint, auth_record_get_refresh_token (self->record), self->cancellable,
                                refresh_answered_cb, self);
}

static void
start_refresh (AuthManager *self)
{
  self->refreshing = TRUE;
  auth_manager_op_begin (self);
  auth_manager_emit_changed (self);
  auth_manager_read_async (self, TRUE, read_under_lock_cb, self);
}

/* ---- when ---------------------------------------------------------------- */

static gboolean
refresh_due (AuthManager *self, gint64 now)
{
  gint64 expires = auth_record_get_access_token_expires (self->record);
  gint64 last = auth_record_get_last_refresh (self->record);

  if (expires > 0)
    return expires - now <= AUTH_REFRESH_LEEWAY_USEC;
  if (last > 0)
    return now - last >= AUTH_STALE_AGE_USEC;
  return TRUE;
}

static gboolean
refreshed_recently (AuthManager *self, gint64 now)
{
  gint64 last = auth_record_get_last_refresh (self->record);

  return last > 0 && ABS (now - last) < self->recent_refresh_usec;
}

gboolean
auth_manager_refresh_needed (AuthManager *self, gboolean force, gboolean want_token)
{
  gint64 now;

  if (!auth_manager_is_chatgpt (self) || self->poison != NULL || self->stopping)
    return FALSE;
  now = auth_clock_now ();
  if (self->refreshing)
    return force || (want_token && refresh_due (self, now));
  /* Where a refresh is retried after backoff: nowhere on a timer. Once the
   * deadline (NextRefreshAttempt) has passed, the next call that needs a
   * refresh gets TRUE here and starts it. */
  if (backoff_is_waiting (&self->backoff, auth_clock_monotonic ()))
    return FALSE; /* backing off: answer with what there is */
  /* A refresh under 30 s old satisfies a forced refresh, and also a due
   * one: an issuer handing out tokens that expire within the leeway must
   * not turn every call into a request. */
  if (refreshed_recently (self, now))
    return FALSE;
  return force || (want_token && refresh_due (self, now));
}

void
auth_manager_refresh_async (AuthManager *self, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);

  g_task_set_source_tag (task, auth_manager_refresh_async);
  if (self->stopping)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_ptr_array_add (self->refresh_waiters, g_object_ref (task));
  if (!self->refreshing)
    start_refresh (self);
}

void
auth_manager_refresh_finish (AuthManager *self, GAsyncResult *result)
{
  g_return_if_fail (g_task_is_valid (result, self));
  (void) g_task_propagate_boolean (G_TASK (result), NULL);
}
