/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's state files (the poison record, the rescue copy), in
 * worker threads. */
#define G_LOG_DOMAIN "codex-authd-state"

#include "config.h"

#include "rescue-copy.h"
#include "state-files.h"

struct _StateFiles {
  char *poison_path;
  char *rescue_path;          /* on disk */
  char *volatile_rescue_path; /* in $XDG_RUNTIME_DIR; NULL: none */
};

/* What one worker thread writes. */
typedef struct {
  char *path;       /* NULL: nothing to write (removals only) */
  char *other_path; /* rescue copies: removed (NULL: none) */
  PoisonRecord *poison;
  AuthRecord *record;
  char *base_fingerprint;
} StateWrite;

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
  StateFiles *files = g_new0 (StateFiles, 1);

  files->poison_path = g_strdup (poison_path);
  files->rescue_path = g_strdup (rescue_path);
  files->volatile_rescue_path = g_strdup (volatile_rescue_path);
  return files;
}

void
state_files_free (StateFiles *files)
{
  if (files == NULL)
    return;
  g_free (files->poison_path);
  g_free (files->rescue_path);
  g_free (files->volatile_rescue_path);
  g_free (files);
}

static void
state_write_free (StateWrite *w)
{
  g_free (w->path);
  g_free (w->other_path);
  g_clear_pointer (&w->poison, poison_record_free);
  g_clear_pointer (&w->record, auth_record_unref);
  g_free (w->base_fingerprint);
  g_free (w);
}

static void
load_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  StateFiles *files = task_data;
  SavedState *state = g_new0 (SavedState, 1);
  g_autoptr(GError) error = NULL;

  state->poison = poison_record_load (files->poison_path, &error);
  if (error != NULL)
    g_warning ("Ignoring the poison record: %s", error->message);
  g_clear_error (&error);
  /* The one in the runtime directory first: only one is written at a
   * time, and a copy on disk beside it is older. */
  if (files->volatile_rescue_path != NULL)
    state->rescue = rescue_copy_load (files->volatile_rescue_path, &state->rescue_base_fingerprint, &error);
  if (error != NULL)
    g_warning ("Ignoring the rescue copy of refreshed tokens: %s", error->message);
  g_clear_error (&error);
  if (state->rescue == NULL)
    state->rescue = rescue_copy_load (files->rescue_path, &state->rescue_base_fingerprint, &error);
  if (error != NULL)
    g_warning ("Ignoring the rescue copy of refreshed tokens: %s", error->message);
  g_task_return_pointer (task, state, (GDestroyNotify) saved_state_free);
}

void
state_files_load_async (StateFiles *files, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_source_tag (task, state_files_load_async);
  g_task_set_task_data (task, state_files_new (files->poison_path, files->rescue_path, files->volatile_rescue_path),
                        (GDestroyNotify) state_files_free);
  g_task_run_in_thread (task, load_thread);
}

SavedState *
state_files_load_finish (StateFiles *files, GAsyncResult *result)
{
  return g_task_propagate_pointer (G_TASK (result), NULL);
}

static void
write_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  StateWrite *w = task_data;
  GError *error = NULL;
  gboolean ok;

  if (g_task_get_source_tag (task) == state_files_save_poison_async)
    ok = w->poison != NULL ? poison_record_save (w->path, w->poison, &error)
                           : poison_record_remove (w->path, &error);
  else
    {
      ok = w->path == NULL || (w->record != NULL ? rescue_copy_save (w->path, w->record, w->base_fingerprint, &error)
                                                 : rescue_copy_remove (w->path, &error));
      if (ok && w->other_path != NULL)
        ok = rescue_copy_remove (w->other_path, &error);
    }
  if (!ok)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
run_write (StateWrite *w, gpointer tag, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, w, (GDestroyNotify) state_write_free);
  g_task_run_in_thread (task, write_thread);
}

void
state_files_save_poison_async (StateFiles *files, const PoisonRecord *poison, GAsyncReadyCallback callback,
                               gpointer user_data)
{
  StateWrite *w = g_new0 (StateWrite, 1);

  w->path = g_strdup (files->poison_path);
  w->poison = poison != NULL ? poison_record_copy (poison) : NULL;
  run_write (w, state_files_save_poison_async, callback, user_data);
}

void
state_files_save_rescue_async (StateFiles *files, AuthRecord *record, const char *base_fingerprint,
                               RescuePlace place, GAsyncReadyCallback callback, gpointer user_data)
{
  StateWrite *w = g_new0 (StateWrite, 1);

  if (record == NULL || place == RESCUE_ON_DISK)
    {
      w->path = g_strdup (files->rescue_path);
      w->other_path = g_strdup (files->volatile_rescue_path);
    }
  else
    {
      /* Not on disk: the runtime directory, or (without one) nowhere; the
       * tokens then wait in memory alone, as the save is retried. */
      if (files->volatile_rescue_path == NULL)
        g_debug ("No $XDG_RUNTIME_DIR: the refreshed tokens bound for the keyring are kept in memory only");
      w->path = g_strdup (files->volatile_rescue_path);
      w->other_path = g_strdup (files->rescue_path);
    }
  w->record = record != NULL ? auth_record_ref (record) : NULL;
  w->base_fingerprint = g_strdup (base_fingerprint);
  run_write (w, state_files_save_rescue_async, callback, user_data);
}

gboolean
state_files_write_finish (StateFiles *files, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
