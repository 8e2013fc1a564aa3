/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fakes of auth.lock (auth-lock.h), the daemon's state files
 * (state-files.h), the token endpoint (token-endpoint.h) and the clock
 * (clock.h), over the world of fakes.h. */
#include "config.h"

#include "auth-lock.h"
#include "clock.h"
#include "fakes.h"
#include "state-files.h"
#include "token-endpoint.h"

/* ---- auth.lock ----------------------------------------------------------- */

struct _AuthLock {
  int unused;
};

AuthLock *
auth_lock_new (const char *codex_home)
{
  return g_new0 (AuthLock, 1);
}

void
auth_lock_free (AuthLock *lock)
{
  g_free (lock);
}

void
auth_lock_acquire_async (AuthLock *lock, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);

  g_assert_false (fake.lock_held);
  if (fake.lock_busy)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_BUSY, "auth.lock: still locked by another process");
      return;
    }
  g_task_return_boolean (task, TRUE);
}

gboolean
auth_lock_acquire_finish (AuthLock *lock, GAsyncResult *result, GError **error)
{
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  fake.lock_held = TRUE;
  return TRUE;
}

void
auth_lock_release (AuthLock *lock)
{
  fake.lock_held = FALSE;
}

gboolean
auth_lock_is_held (AuthLock *lock)
{
  return fake.lock_held;
}

/* ---- the state files ------------------------------------------------------ */

struct _StateFiles {
  int unused;
};

void
saved_state_free (SavedState *state)
{
  if (state == NULL)
    return;
  g_clear_pointer (&state->poison, poison_record_free);
  g_clear_pointer (&state->rescue, auth_record_unref);
  g_free (state->rescue_base_fingerprint);
  g_free (state);
}

StateFiles *
state_files_new (const char *poison_path, const char *rescue_path, const char *volatile_rescue_path)
{
  return g_new0 (StateFiles, 1);
}

void
state_files_free (StateFiles *files)
{
  g_free (files);
}

void
state_files_load_async (StateFiles *files, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  SavedState *state = g_new0 (SavedState, 1);

  state->poison = fake.poison != NULL ? poison_record_copy (fake.poison) : NULL;
  state->rescue = fake.rescue != NULL ? auth_record_ref (fake.rescue) : NULL;
  state->rescue_base_fingerprint = g_strdup (fake.rescue_base);
  g_task_return_pointer (task, state, (GDestroyNotify) saved_state_free);
}

SavedState *
state_files_load_finish (StateFiles *files, GAsyncResult *result)
{
  return g_task_propagate_pointer (G_TASK (result), NULL);
}

void
state_files_save_poison_async (StateFiles *files, const PoisonRecord *poison, GAsyncReadyCallback callback,
                               gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);

  fake.poison_writes++;
  fake.poison_written_under_lock = fake.lock_held;
  g_clear_pointer (&fake.poison, poison_record_free);
  fake.poison = poison != NULL ? poison_record_copy (poison) : NULL;
  if (fake.hold_poison_writes)
    {
      g_assert_null (fake.held_poison_write);
      fake.held_poison_write = g_steal_pointer (&task);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

void
state_files_save_rescue_async (StateFiles *files, AuthRecord *record, const char *base_fingerprint,
                               RescuePlace place, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);

  fake.rescue_writes++;
  fake.rescue_place = place;
  g_clear_pointer (&fake.rescue, auth_record_unref);
  g_clear_pointer (&fake.rescue_base, g_free);
  fake.rescue = record != NULL ? auth_record_ref (record) : NULL;
  fake.rescue_base = g_strdup (base_fingerprint);
  g_task_return_boolean (task, TRUE);
}

gboolean
state_files_write_finish (StateFiles *files, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- the token endpoint --------------------------------------------------- */

struct _TokenEndpoint {
  int unused;
};

TokenEndpoint *
token_endpoint_new (HttpClient *http, const char *url)
{
  return g_new0 (TokenEndpoint, 1);
}

void
token_endpoint_free (TokenEndpoint *endpoint)
{
  g_free (endpoint);
}

void
token_endpoint_refresh_async (TokenEndpoint *endpoint, const char *refresh_token, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  g_assert_true (fake.lock_held); /* every request is made under auth.lock */
  g_ptr_array_add (fake.sent, g_strdup (refresh_token));
  if (fake.on_request != NULL)
    fake.on_request ();
  if (fake.hold)
    {
      g_assert_null (fake.held);
      fake.held = task;
      return;
    }
  g_assert_false (g_queue_is_empty (&fake.script));
  g_task_return_pointer (task, g_queue_pop_head (&fake.script), (GDestroyNotify) refresh_result_free);
  g_object_unref (task);
}

RefreshResult *
token_endpoint_refresh_finish (TokenEndpoint *endpoint, GAsyncResult *result)
{
  return g_task_propagate_pointer (G_TASK (result), NULL);
}

void
fake_answer_held (RefreshResult *result)
{
  g_autoptr(GTask) task = g_steal_pointer (&fake.held);

  g_assert_nonnull (task);
  g_task_return_pointer (task, result, (GDestroyNotify) refresh_result_free);
}

/* ---- the clock -------------------------------------------------------------- */

/* The wall clock is the test's clock plus a step a test can make; the
 * monotonic clock never steps. */
gint64
auth_clock_now (void)
{
  return fake.now + fake.wall_step;
}

gint64
auth_clock_monotonic (void)
{
  return fake.now;
}

double
auth_clock_jitter (void)
{
  return fake.jitter;
}
