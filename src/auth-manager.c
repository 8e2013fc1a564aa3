/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "codex-authd-manager"

#include "config.h"

#include "auth-error.h"
#include "auth-manager.h"
#include "daemon-log.h"
#include "write-queue.h"

#define SAVE_RETRY_MAX_SECONDS 10
#define ROTATED_AWAY_MAX 32

struct _AuthManager {
  GObject parent_instance;

  AuthBackend *backend;
  GCancellable *cancellable;
  gboolean stopping; /* auth_manager_stop() runs: no new reads or refreshes */
  gint64 recent_refresh_usec; /* AUTH_RECENT_REFRESH_USEC, or a test's */
  int pending_ops; /* backend operations not finished yet */

  /* The record in use (NULL: none). */
  AuthRecord *record;
  /* Fingerprint of what the store held when last read ("" for nothing). */
  char *stored_fp;
  /* The record in use holds refreshed tokens the store does not have yet. */
  gboolean unsaved_refresh;
  /* A rescue copy of refreshed tokens may be on disk (rescue-record.h). */
  gboolean rescue_present;
  /* The record this daemon's last refresh produced, and the SHA-256 of the
   * refresh tokens its refreshes replaced (dead at the server): a store
   * that comes back with one of those lost a write, and is not believed. */
  AuthRecord *newest_refreshed;
  GQueue rotated_away; /* char*, newest first, at most ROTATED_AWAY_MAX */
  gboolean loaded;
  char *store_error; /* NULL: the store is fine */
  const char *store_state; /* "ok", "locked", "unavailable" or "error" */
  char *logged_unusable;

  /* Reads of the store; when the last one that succeeded ended (monotonic
   * clock), for the re-validation of a keyring item before a token goes out. */
  gint64 last_read_mono;
  gboolean loading;
  gboolean load_again;
  GPtrArray *waiters;      /* GTask: served by the read in flight */
  GPtrArray *next_waiters; /* GTask: served by the read after it */

  /* The permanent failure of the record in use, if any. */
  PoisonRecord *poison;
  /* The poison record as it should be on disk; a queued write (at most one
   * waiting to start) writes the state it finds when it starts. */
  PoisonRecord *poison_to_write;
  gboolean poison_write_queued;

  /* Every change to the stores, one at a time, in order (write-queue.h). */
  WriteQueue *writes;

  /* The refresh in flight (at most one) and the transient-failure backoff. */
  gboolean refreshing;
  GPtrArray *refresh_waiters; /* GTask */
  AuthRecord *attempted;
  guint backoff_attempts;
  /* The backoff deadline on the monotonic clock (a wall-clock step
   * neither extends nor ends it), 0: not backing off; and the same moment
   * on the wall clock, for NextRefreshAttempt only. */
  gint64 next_attempt_mono;
  gint64 next_attempt_usec;
  /* After refresh_token_reused: how long the store is watched for the
   * token another program rotated, the reads left, and the timer. */
  gint64 reuse_wait_usec; /* AUTH_REUSE_WAIT_USEC, or a test's */
  guint reuse_reads_left;
  guint reuse_check_id;
  TokenResult *reuse_result;
  char *error_code;
  char *error_message;

  /* Saving a refreshed record that could not be saved at once. */
  guint save_retry_id;
  guint save_failures;
};

G_DEFINE_TYPE (AuthManager, auth_manager, G_TYPE_OBJECT)

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void start_load (AuthManager *self);
static gboolean store_unreachable (AuthManager *self);
static void finish_refresh (AuthManager *self);
static void schedule_save_retry (AuthManager *self);

/* ---- helpers ----------------------------------------------------------- */

#define CLEAR_s(field) g_clear_pointer (&s->field, g_free)
#define CLEAR_b(field) s->field = 0
#define CLEAR_t(field) s->field = 0
#define CLEAR_FIELD(name, key, type, field, change) CLEAR_##type (field);

void
auth_status_clear (AuthStatus *s)
{
  AUTH_PROPERTIES (CLEAR_FIELD)
  g_clear_pointer (&s->store_error_message, g_free);
  g_clear_pointer (&s->codex_config_error, g_free);
}

#undef CLEAR_FIELD
#undef CLEAR_s
#undef CLEAR_b
#undef CLEAR_t

gint64
auth_backoff_delay (guint attempt, double random, gint64 retry_after_usec)
{
  double delay = (double) AUTH_BACKOFF_INITIAL_USEC;
  gint64 result;

  for (guint i = 1; i < attempt && delay < (double) AUTH_BACKOFF_MAX_USEC; i++)
    delay *= 2;
  delay = MIN (delay, (double) AUTH_BACKOFF_MAX_USEC);
  delay *= 1.0 - AUTH_BACKOFF_JITTER + 2.0 * AUTH_BACKOFF_JITTER * CLAMP (random, 0.0, 1.0);
  result = MIN ((gint64) delay, AUTH_BACKOFF_MAX_USEC);
  return MAX (result, retry_after_usec);
}

static gint64
now_usec (AuthManager *self)
{
  return self->backend->ops->now (self->backend);
}

static const char *
fingerprint_of (AuthRecord *record)
{
  return record != NULL ? auth_record_get_fingerprint (record) : "";
}

static gboolean
record_usable (AuthManager *self)
{
  return self->record != NULL && auth_record_is_usable (self->record);
}

static gboolean
is_chatgpt (AuthManager *self)
{
  return record_usable (self) && auth_record_get_mode (self->record) == AUTH_MODE_CHATGPT;
}

static void
emit_changed (AuthManager *self)
{
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static void
op_begin (AuthManager *self)
{
  self->pending_ops++;
  g_object_ref (self);
}

static void
op_end (AuthManager *self)
{
  self->pending_ops--;
  g_object_unref (self);
}

static const char *
store_state_for (const GError *error)
{
  if (g_error_matches (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_LOCKED))
    return "locked";
  if (g_error_matches (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_UNAVAILABLE))
    return "unavailable";
  return "error";
}

/* Records why the store cannot be used; @error says how (locked,
 * unavailable, or anything else: error). */
static void
set_store_error (AuthManager *self, const GError *error, const char *message)
{
  const char *state = store_state_for (error);

  if (g_strcmp0 (self->store_error, message) != 0)
    AUTH_LOG_EVENT (g_str_equal (state, "error") ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_MESSAGE, AUTH_LOG_STORE_PROBLEM,
                    codex_auth_error_name (error), "%s", message);
  g_free (self->store_error);
  self->store_error = g_strdup (message);
  self->store_state = state;
}

static void
clear_store_error (AuthManager *self)
{
  if (self->store_error != NULL)
    g_message ("%s is usable again", self->backend->ops->describe (self->backend));
  g_clear_pointer (&self->store_error, g_free);
  self->store_state = "ok";
}

static void
reset_backoff (AuthManager *self)
{
  self->backoff_attempts = 0;
  self->next_attempt_mono = 0;
  self->next_attempt_usec = 0;
  g_clear_pointer (&self->error_code, g_free);
  g_clear_pointer (&self->error_message, g_free);
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
             self->backend->ops->describe (self->backend), auth_record_get_unusable_reason (record));
}

static gboolean
poison_write_start (gpointer data, GAsyncReadyCallback callback, gpointer user_data)
{
  AuthManager *self = data;

  self->poison_write_queued = FALSE;
  self->backend->ops->save_poison (self->backend, self->poison_to_write, callback, user_data);
  return TRUE;
}

static void
poison_write_done (gpointer data, GAsyncResult *result)
{
  AuthManager *self = data;
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_warning ("Cannot update the poison record: %s, ignoring", error->message);
  op_end (self);
}

/* Makes the persisted poison record @record (NULL: none), through the
 * write queue: the last state asked for is the one on disk. */
static void
persist_poison (AuthManager *self, const PoisonRecord *record)
{
  g_clear_pointer (&self->poison_to_write, poison_record_free);
  self->poison_to_write = record != NULL ? poison_record_copy (record) : NULL;
  if (self->poison_write_queued)
    return;
  self->poison_write_queued = TRUE;
  op_begin (self);
  write_queue_push (self->writes, "the poison record", poison_write_start, poison_write_done, self, NULL);
}

static void
poison_written_finish_refresh (gpointer data, GAsyncResult *result)
{
  AuthManager *self = data;
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_warning ("Cannot update the poison record: %s, ignoring", error->message);
  finish_refresh (self);
}

/* Records a permanent failure found by the refresh in flight, and ends that
 * refresh (releasing auth.lock) only once the record is written: another
 * instance waiting for the lock then reads it, and sends nothing. */
static void
persist_poison_then_finish_refresh (AuthManager *self, const PoisonRecord *record)
{
  g_clear_pointer (&self->poison_to_write, poison_record_free);
  self->poison_to_write = poison_record_copy (record);
  write_queue_push (self->writes, "the poison record, before releasing the lock", poison_write_start,
                    poison_written_finish_refresh, self, NULL);
}

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
    persist_poison (self, self->poison);
}

static char *
refresh_token_hash (AuthRecord *record)
{
  const char *token = record != NULL ? auth_record_get_refresh_token (record) : NULL;

  return token != NULL ? g_compute_checksum_for_string (G_CHECKSUM_SHA256, token, -1) : NULL;
}

static gboolean
find_string (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (a, b);
}

/* TRUE when @record's refresh token is one this daemon's refreshes have
 * replaced: the server has rotated it, it will never work again. */
static gboolean
is_rotated_away (AuthManager *self, AuthRecord *record)
{
  g_autofree char *hash = refresh_token_hash (record);

  return hash != NULL && g_queue_find_custom (&self->rotated_away, hash, find_string) != NULL;
}

/* A refresh replaced @old's refresh token by @refreshed's. */
static void
note_rotation (AuthManager *self, AuthRecord *old, AuthRecord *refreshed)
{
  char *hash = refresh_token_hash (old);

  g_clear_pointer (&self->newest_refreshed, auth_record_unref);
  self->newest_refreshed = auth_record_ref (refreshed);
  if (hash == NULL || g_strcmp0 (auth_record_get_refresh_token (old), auth_record_get_refresh_token (refreshed)) == 0)
    {
      g_free (hash);
      return;
    }
  g_queue_push_head (&self->rotated_away, hash);
  while (g_queue_get_length (&self->rotated_away) > ROTATED_AWAY_MAX)
    g_free (g_queue_pop_tail (&self->rotated_away));
}

/* Forgets the rotations (a login or logout made here: a new start). */
static void
forget_rotations (AuthManager *self)
{
  g_clear_pointer (&self->newest_refreshed, auth_record_unref);
  g_queue_clear_full (&self->rotated_away, g_free);
}

static gboolean is_record_in_use (AuthManager *self, AuthRecord *record);
static void queue_save (AuthManager *self, AuthRecord *record);
static void queue_rescue (AuthManager *self, AuthRecord *record, const char *base_fingerprint);

/* A rescue copy found on disk (a save that failed, or a crash during one):
 * taken when the store still holds the record it was refreshed from, and
 * saved again; removed when the store has it already or has changed since.
 * Returns TRUE when it replaced the record in use. */
static gboolean
adopt_rescue (AuthManager *self, AuthSnapshot *snapshot)
{
  const char *fp = fingerprint_of (snapshot->record);

  self->rescue_present = TRUE;
  if (snapshot->record != NULL && g_strcmp0 (snapshot->rescue_base_fingerprint, fp) == 0)
    {
      g_message ("Recovered refreshed tokens that %s had not taken; saving them again",
                 self->backend->ops->describe (self->backend));
      g_clear_pointer (&self->record, auth_record_unref);
      self->record = auth_record_ref (snapshot->rescue);
      self->unsaved_refresh = TRUE;
      reset_backoff (self);
      queue_save (self, NULL);
      return TRUE;
    }
  if (g_strcmp0 (auth_record_get_fingerprint (snapshot->rescue), fp) != 0)
    g_message ("Discarding refreshed tokens kept from an earlier run: the credentials changed since");
  queue_rescue (self, NULL, NULL);
  return FALSE;
}

/* Takes what the store holds. Returns TRUE when the credentials changed
 * materially (another login, a logout, another program's refresh). */
static gboolean
adopt_snapshot (AuthManager *self, AuthSnapshot *snapshot)
{
  const char *fp = fingerprint_of (snapshot->record);
  gboolean material = FALSE;

  if (self->newest_refreshed != NULL && is_rotated_away (self, snapshot->record))
    {
      /* The store went back to tokens this daemon has rotated since (a
       * keyring that lost its last write, a restored backup): sending that
       * refresh token would only get refresh_token_reused. Keep the newest
       * tokens and write them again. */
      g_message ("%s holds a refresh token that has been rotated since; keeping the newer tokens "
                 "and saving them again", self->backend->ops->describe (self->backend));
      material = !is_record_in_use (self, self->newest_refreshed);
      g_clear_pointer (&self->record, auth_record_unref);
      self->record = auth_record_ref (self->newest_refreshed);
      self->unsaved_refresh = TRUE;
      g_free (self->stored_fp);
      self->stored_fp = g_strdup (fp);
      queue_rescue (self, self->record, fp);
      queue_save (self, NULL);
      adopt_poison (self, snapshot->poison);
      return material;
    }
  if (self->unsaved_refresh && g_strcmp0 (fp, self->stored_fp) == 0)
    {
      /* The store still holds the record the unsaved refresh started
       * from: the newer tokens in memory stay in use. */
    }
  else
    {
      material = g_strcmp0 (fingerprint_of (self->record), fp) != 0;
      if (material)
        {
          if (snapshot->record == NULL)
            g_message ("No credentials are stored any more (in %s)",
                       self->backend->ops->describe_searched (self->backend));
          else
            g_message ("Loaded %s credentials from %s",
                       auth_mode_to_string (auth_record_get_mode (snapshot->record)),
                       self->backend->ops->describe (self->backend));
          if (self->unsaved_refresh)
            {
              g_message ("Another program changed the credentials; the unsaved refreshed tokens "
                         "are dropped in favour of them");
              queue_rescue (self, NULL, NULL);
            }
          /* Other credentials now: this daemon's rotations no longer say
           * anything about them. (A store that shows nothing may be a
           * keyring coming back; the rotations are kept for it.) */
          if (snapshot->record != NULL)
            forget_rotations (self);
          self->unsaved_refresh = FALSE;
          self->save_failures = 0;
          g_clear_handle_id (&self->save_retry_id, g_source_remove);
          reset_backoff (self);
        }
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
    clear_store_error (self);
  adopt_poison (self, snapshot->poison);
  return material;
}

/* ---- reading the store ------------------------------------------------- */

static void
load_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  AuthManager *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(AuthSnapshot) snapshot = NULL;
  g_autoptr(GPtrArray) served = NULL;

  snapshot = g_task_propagate_pointer (G_TASK (result), &error);
  self->loading = FALSE;
  if (g_cancellable_is_cancelled (self->cancellable))
    {
      op_end (self);
      return;
    }

  if (snapshot != NULL)
    {
      self->last_read_mono = self->backend->ops->monotonic (self->backend);
      adopt_snapshot (self, snapshot);
    }
  else
    {
      g_autofree char *message = g_strdup_printf ("Cannot use the stored credentials: %s; %s",
                                                  error->message,
                                                  self->record != NULL ? "keeping the credentials read before"
                                                                       : "no credentials in use");
      set_store_error (self, error, message);
    }
  self->loaded = TRUE;

  served = g_steal_pointer (&self->waiters);
  self->waiters = g_steal_pointer (&self->next_waiters);
  self->next_waiters = g_ptr_array_new_with_free_func (g_object_unref);

  emit_changed (self);

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
  op_end (self);
}

static void
start_load (AuthManager *self)
{
  self->loading = TRUE;
  self->load_again = FALSE;
  op_begin (self);
  self->backend->ops->load (self->backend, load_done_cb, self);
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
store_changed_cb (gpointer user_data)
{
  AuthManager *self = user_data;

  if (!self->stopping)
    request_load (self, NULL);
}

/* ---- saving ------------------------------------------------------------ */

static gboolean
is_record_in_use (AuthManager *self, AuthRecord *record)
{
  return g_strcmp0 (fingerprint_of (record), fingerprint_of (self->record)) == 0;
}

static void
note_saved (AuthManager *self, AuthRecord *saved)
{
  /* A material change may have replaced the record meanwhile. */
  if (!is_record_in_use (self, saved))
    return;
  self->unsaved_refresh = FALSE;
  self->save_failures = 0;
  g_free (self->stored_fp);
  self->stored_fp = g_strdup (auth_record_get_fingerprint (saved));
  clear_store_error (self);
  /* The store has the tokens: the rescue copy has done its job. */
  queue_rescue (self, NULL, NULL);
}

static void
note_save_failed (AuthManager *self, const GError *error)
{
  g_autofree char *message = g_strdup_printf ("Cannot save the refreshed tokens: %s; keeping them in "
                                              "memory and retrying", error->message);

  set_store_error (self, error, message);
  self->save_failures++;
  schedule_save_retry (self);
}

/* A save finished: the store has the record now, or the save is retried. */
static void
apply_save_result (AuthManager *self, AuthRecord *record, GAsyncResult *result)
{
  g_autoptr(GError) error = NULL;

  if (g_task_propagate_boolean (G_TASK (result), &error))
    note_saved (self, record);
  else if (is_record_in_use (self, record) && !g_cancellable_is_cancelled (self->cancellable))
    note_save_failed (self, error);
}

/* Writing or removing the rescue copy, a write-queue job. */
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

  job->self->backend->ops->save_rescue (job->self->backend, job->record, job->base_fingerprint, callback,
                                        user_data);
  return TRUE;
}

static void
rescue_job_done (gpointer data, GAsyncResult *result)
{
  RescueJob *job = data;
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_warning ("Cannot %s the rescue copy of the refreshed tokens: %s, ignoring",
               job->record != NULL ? "write" : "remove", error->message);
  op_end (job->self);
}

/* Queues writing the rescue copy of @record (refreshed from the stored
 * record @base_fingerprint), or its removal when @record is NULL. */
static void
queue_rescue (AuthManager *self, AuthRecord *record, const char *base_fingerprint)
{
  RescueJob *job;

  if (record == NULL && !self->rescue_present)
    return;
  job = g_new0 (RescueJob, 1);
  job->self = self;
  job->record = record != NULL ? auth_record_ref (record) : NULL;
  job->base_fingerprint = g_strdup (base_fingerprint);
  self->rescue_present = record != NULL;
  op_begin (self);
  write_queue_push (self->writes, record != NULL ? "the rescue copy of the refreshed tokens"
                                                 : "the removal of the rescue copy",
                    rescue_job_start, rescue_job_done, job, (GDestroyNotify) rescue_job_free);
}

/* The save of a refreshed record, a write-queue job: right after the
 * refresh (under its lock; the refresh ends when the save does), or as a
 * retry (which saves whatever refreshed record is newest when it starts). */
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
  else if (!is_record_in_use (self, job->record))
    return FALSE; /* a login, a logout or another program replaced it meanwhile */
  self->backend->ops->save (self->backend, job->record, callback, user_data);
  return TRUE;
}

static void
save_job_done (gpointer data, GAsyncResult *result)
{
  SaveJob *job = data;
  AuthManager *self = job->self;

  if (result != NULL)
    apply_save_result (self, job->record, result);
  if (job->after_refresh)
    {
      finish_refresh (self);
      return;
    }
  if (result != NULL && !self->unsaved_refresh)
    g_message ("Saved the refreshed tokens to %s", self->backend->ops->describe (self->backend));
  emit_changed (self);
  op_end (self);
}

/* Queues the save of @record (NULL: a retry). */
static void
queue_save (AuthManager *self, AuthRecord *record)
{
  SaveJob *job = g_new0 (SaveJob, 1);

  job->self = self;
  job->record = record != NULL ? auth_record_ref (record) : NULL;
  job->after_refresh = record != NULL;
  if (!job->after_refresh)
    op_begin (self);
  write_queue_push (self->writes, job->after_refresh ? "the refreshed tokens" : "the refreshed tokens, again",
                    save_job_start, save_job_done, job, (GDestroyNotify) save_job_free);
}

/* Where a refresh is retried after backoff: nowhere on a timer. The next
 * call that needs a token after NextRefreshAttempt starts it (see
 * auth_manager_refresh_needed()). A save that failed, though, is retried
 * on this timer, with the newest refreshed record. */
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
  queue_save (self, NULL);
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

/* ---- refreshing -------------------------------------------------------- */

static void
finish_refresh (AuthManager *self)
{
  g_autoptr(GPtrArray) served = g_steal_pointer (&self->refresh_waiters);

  self->backend->ops->release_lock (self->backend);
  self->refreshing = FALSE;
  g_clear_pointer (&self->attempted, auth_record_unref);
  self->refresh_waiters = g_ptr_array_new_with_free_func (g_object_unref);
  emit_changed (self);
  for (guint i = 0; i < served->len; i++)
    g_task_return_boolean (g_ptr_array_index (served, i), TRUE);
  op_end (self);
}

static void
note_transient (AuthManager *self, const TokenResult *result)
{
  gint64 delay;

  self->backoff_attempts++;
  delay = auth_backoff_delay (self->backoff_attempts, self->backend->ops->random (self->backend),
                              result->retry_after_usec);
  self->next_attempt_mono = self->backend->ops->monotonic (self->backend) + delay;
  self->next_attempt_usec = now_usec (self) + delay;
  g_free (self->error_code);
  self->error_code = g_strdup (result->code);
  g_free (self->error_message);
  self->error_message = g_strdup (result->message);
  AUTH_LOG_EVENT (G_LOG_LEVEL_MESSAGE, AUTH_LOG_BACKOFF, result->code,
                  "Refreshing the ChatGPT tokens failed (%s, HTTP %u); next attempt in %.1f s",
             result->code, result->http_status, (double) delay / G_USEC_PER_SEC);
}

typedef struct {
  AuthManager *self;
  TokenResult *result;
} VerifyData;

/* After a permanent failure: poison only if the store still holds the
 * snapshot that was attempted (nobody logged in or refreshed meanwhile). */
static void
verify_permanent_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  VerifyData *data = user_data;
  AuthManager *self = data->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(AuthSnapshot) snapshot = g_task_propagate_pointer (G_TASK (res), &error);
  g_autoptr(TokenResult) result = data->result;
  g_autoptr(PoisonRecord) poison = NULL;

  g_free (data);
  if (snapshot != NULL && g_strcmp0 (fingerprint_of (snapshot->record), self->stored_fp) != 0)
    {
      g_message ("The refresh failed (%s), but the credentials changed meanwhile: using the new ones",
                 result->code);
      adopt_snapshot (self, snapshot);
      finish_refresh (self);
      return;
    }

  poison = poison_record_new (auth_record_get_fingerprint (self->attempted), result->code,
                                 result->message, result->http_status, now_usec (self));
  AUTH_LOG_EVENT (G_LOG_LEVEL_WARNING, AUTH_LOG_POISONED, result->code,
                  "Refreshing the ChatGPT tokens failed for good (%s, HTTP %u): %s Not refreshing again "
             "until the credentials change.", result->code, result->http_status, result->message);
  g_clear_pointer (&self->poison, poison_record_free);
  self->poison = poison_record_copy (poison);
  reset_backoff (self);
  /* Recorded even when the store could not be read again: nothing says the
   * credentials changed. */
  if (snapshot == NULL)
    g_message ("Cannot re-read the store (%s); recording the failure all the same", error->message);
  persist_poison_then_finish_refresh (self, poison);
}

/* ---- refresh_token_reused: who used it? ---------------------------------
 *
 * The token server says the refresh token was used already. Usually another
 * program (the Codex CLI) sent the same token a moment earlier and is about
 * to save the new one: the CLI takes auth.lock only around its save. So the
 * lock is released, and the store is read again, fresh, every
 * AUTH_REUSE_POLL_USEC for at most AUTH_REUSE_WAIT_USEC (a store change
 * also triggers a read; the reads are counted, not timed, so that a clock
 * that jumps neither shortens nor stretches the wait). A different refresh token there is adopted; if
 * none comes, the failure is verified under the lock and poisons as any
 * other permanent failure. */

static gboolean
has_other_refresh_token (AuthRecord *stored, AuthRecord *attempted)
{
  if (stored == NULL || auth_record_get_mode (stored) != AUTH_MODE_CHATGPT)
    return TRUE;
  return g_strcmp0 (auth_record_get_refresh_token (stored), auth_record_get_refresh_token (attempted)) != 0;
}

static void reuse_loaded_cb (GObject *source, GAsyncResult *res, gpointer user_data);

static gboolean
reuse_check_cb (gpointer user_data)
{
  AuthManager *self = user_data;

  self->reuse_check_id = 0;
  self->backend->ops->load (self->backend, reuse_loaded_cb, self);
  return G_SOURCE_REMOVE;
}

static void
start_reuse_wait (AuthManager *self, TokenResult *result)
{
  g_message ("The refresh token was already used (%s): waiting up to %d s for the program that used it "
             "to save the new one",
             result->code, (int) (AUTH_REUSE_WAIT_USEC / G_USEC_PER_SEC));
  self->reuse_result = result;
  self->reuse_reads_left = (guint) (self->reuse_wait_usec / AUTH_REUSE_POLL_USEC);
  /* The other program cannot save while this one holds auth.lock. */
  self->backend->ops->release_lock (self->backend);
  self->reuse_check_id = g_timeout_add (AUTH_REUSE_POLL_USEC / 1000, reuse_check_cb, self);
}

static void
reuse_loaded_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  AuthManager *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(AuthSnapshot) snapshot = g_task_propagate_pointer (G_TASK (res), &error);
  VerifyData *data;

  if (snapshot != NULL)
    self->last_read_mono = self->backend->ops->monotonic (self->backend);
  if (!is_record_in_use (self, self->attempted) ||
      (snapshot != NULL && has_other_refresh_token (snapshot->record, self->attempted)))
    {
      g_message ("Another program saved new credentials after using the refresh token: using them");
      if (snapshot != NULL)
        adopt_snapshot (self, snapshot);
      g_clear_pointer (&self->reuse_result, token_result_free);
      finish_refresh (self);
      return;
    }
  if (!self->stopping && --self->reuse_reads_left > 0)
    {
      self->reuse_check_id = g_timeout_add (AUTH_REUSE_POLL_USEC / 1000, reuse_check_cb, self);
      return;
    }
  /* Nobody saved a newer token: verified under the lock, then poisoned. */
  data = g_new0 (VerifyData, 1);
  data->self = self;
  data->result = g_steal_pointer (&self->reuse_result);
  self->backend->ops->load_under_lock (self->backend, verify_permanent_cb, data);
}

static void
refresh_done_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  AuthManager *self = user_data;
  g_autoptr(TokenResult) result = g_task_propagate_pointer (G_TASK (res), NULL);
  g_autoptr(GError) error = NULL;
  AuthRecord *refreshed;

  /* Cancelled at shutdown, or the credentials changed while the request
   * was out: its answer is about a snapshot no longer in use. */
  if (g_cancellable_is_cancelled (self->cancellable) || !is_record_in_use (self, self->attempted))
    {
      finish_refresh (self);
      return;
    }

  switch (result->kind)
    {
    case TOKEN_RESULT_SUCCESS:
      if (result->message != NULL)
        g_warning ("%s", result->message);
      refreshed = auth_record_new_refreshed (self->record, result->id_token, result->access_token,
                                             result->refresh_token, now_usec (self), &error);
      if (refreshed == NULL && result->id_token != NULL)
        {
          /* A new id_token that does not parse must not cost the rotated
           * refresh token: keep the previous id_token and its claims. */
          g_warning ("The token server sent an id_token that cannot be used (%s); keeping the previous "
                     "one and the other new tokens", error->message);
          g_clear_error (&error);
          refreshed = auth_record_new_refreshed (self->record, NULL, result->access_token,
                                                 result->refresh_token, now_usec (self), &error);
        }
      if (refreshed == NULL)
        {
          g_autoptr(TokenResult) bad = token_result_new_transient (
              "bad_response", "The token server sent tokens that cannot be used; will retry.");
          g_debug ("Refreshed record rejected: %s", error->message);
          bad->http_status = result->http_status;
          note_transient (self, bad);
          finish_refresh (self);
          return;
        }
      AUTH_LOG_EVENT (G_LOG_LEVEL_MESSAGE, AUTH_LOG_REFRESHED, NULL, "Refreshed the ChatGPT tokens");
      note_rotation (self, self->record, refreshed);
      g_clear_pointer (&self->record, auth_record_unref);
      self->record = refreshed;
      self->unsaved_refresh = TRUE;
      reset_backoff (self);
      /* First a copy the store cannot lose (a failing store, a crash in the
       * middle of the save), then the store, under the refresh's lock. */
      queue_rescue (self, refreshed, self->stored_fp);
      queue_save (self, refreshed);
      return;

    case TOKEN_RESULT_PERMANENT:
      if (g_strcmp0 (result->code, "refresh_token_reused") == 0 && !self->stopping &&
          self->reuse_wait_usec >= AUTH_REUSE_POLL_USEC)
        {
          start_reuse_wait (self, g_steal_pointer (&result));
          return;
        }
      {
        VerifyData *data = g_new0 (VerifyData, 1);

        data->self = self;
        data->result = g_steal_pointer (&result);
        self->backend->ops->load (self->backend, verify_permanent_cb, data);
      }
      return;

    case TOKEN_RESULT_TRANSIENT:
    default:
      note_transient (self, result);
      finish_refresh (self);
      return;
    }
}

static void
load_under_lock_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  AuthManager *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(AuthSnapshot) snapshot = g_task_propagate_pointer (G_TASK (res), &error);

  if (g_cancellable_is_cancelled (self->cancellable))
    {
      finish_refresh (self);
      return;
    }
  if (snapshot != NULL)
    self->last_read_mono = self->backend->ops->monotonic (self->backend);
  if (snapshot == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BUSY))
    {
      /* Another program held auth.lock past the wait: a transient failure,
       * with backoff, so that calls do not each wait for the lock again. */
      g_autoptr(TokenResult) busy = token_result_new_transient (
          "timeout", "Another program kept the Codex credentials locked (auth.lock); will retry.");

      g_message ("%s", error->message);
      note_transient (self, busy);
      finish_refresh (self);
      return;
    }
  if (snapshot == NULL && !g_str_equal (store_state_for (error), "error"))
    {
      /* Locked or gone: nobody can change it now either. Refresh what is
       * held; the save waits until the store is back. */
      g_debug ("Refreshing without re-reading the store: %s", error->message);
    }
  else if (snapshot == NULL)
    {
      g_autofree char *message = g_strdup_printf ("Cannot read the stored credentials before "
                                                  "refreshing: %s", error->message);
      set_store_error (self, error, message);
      finish_refresh (self);
      return;
    }
  /* Guarded reload: if another program refreshed or logged in, use that
   * and skip the network. */
  else if (adopt_snapshot (self, snapshot))
    {
      finish_refresh (self);
      return;
    }
  if (!is_chatgpt (self) || self->poison != NULL)
    {
      finish_refresh (self);
      return;
    }

  self->attempted = auth_record_ref (self->record);
  self->backend->ops->refresh (self->backend, auth_record_get_refresh_token (self->record),
                               self->cancellable, refresh_done_cb, self);
}

static void
start_refresh (AuthManager *self)
{
  self->refreshing = TRUE;
  op_begin (self);
  emit_changed (self);
  self->backend->ops->load_under_lock (self->backend, load_under_lock_cb, self);
}

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

  if (!is_chatgpt (self) || self->poison != NULL || self->stopping)
    return FALSE;
  now = now_usec (self);
  if (self->refreshing)
    return force || (want_token && refresh_due (self, now));
  if (self->next_attempt_mono > self->backend->ops->monotonic (self->backend))
    return FALSE; /* backing off: answer with what there is */
  /* A refresh under 30 s old satisfies a forced refresh, and also a due
   * one: a server handing out tokens that expire within the leeway must
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

/* ---- before a token goes out: re-validation, then refresh -------------- */

static gboolean
revalidation_due (AuthManager *self)
{
  /* A file store is watched (inotify); a keyring item replaced in place
   * is not announced, so it is read again if the last read is not fresh. */
  return self->loaded && !self->stopping && self->record != NULL && self->store_error == NULL &&
         g_str_equal (self->backend->ops->store_name (self->backend), "secret-service") &&
         self->backend->ops->monotonic (self->backend) - self->last_read_mono > AUTH_REVALIDATE_USEC;
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

/* ---- logins and logouts ----------------------------------------------- */

/* Makes @record (NULL: none) the credentials in use after the user logged
 * in or out: a material change, which ends any poison and backoff. */
static void
apply_user_change (AuthManager *self, AuthRecord *record)
{
  g_clear_pointer (&self->record, auth_record_unref);
  self->record = record != NULL ? auth_record_ref (record) : NULL;
  g_free (self->stored_fp);
  self->stored_fp = g_strdup (fingerprint_of (record));
  self->unsaved_refresh = FALSE;
  self->save_failures = 0;
  g_clear_handle_id (&self->save_retry_id, g_source_remove);
  reset_backoff (self);
  g_clear_pointer (&self->poison, poison_record_free);
  persist_poison (self, NULL);
  queue_rescue (self, NULL, NULL);
  forget_rotations (self);
  clear_store_error (self);
  emit_changed (self);
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

/* A login or a logout, a write-queue job. */
typedef struct {
  AuthManager *self;
  GTask *task;
  AuthRecord *record; /* the new login; NULL for a logout */
} UserChange;

static void
user_change_free (UserChange *change)
{
  g_clear_object (&change->task);
  g_clear_pointer (&change->record, auth_record_unref);
  g_free (change);
}

static gboolean
user_change_start (gpointer data, GAsyncReadyCallback callback, gpointer user_data)
{
  UserChange *change = data;
  AuthBackend *backend = change->self->backend;

  if (change->record != NULL)
    backend->ops->save_login (backend, change->record, callback, user_data);
  else
    backend->ops->remove_all (backend, callback, user_data);
  return TRUE;
}

static void
user_change_done (gpointer data, GAsyncResult *result)
{
  UserChange *change = data;
  AuthManager *self = change->self;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      /* Nothing changes: the credentials held before stay in use. */
      g_task_return_error (change->task, as_store_error (error));
      op_end (self);
      return;
    }
  if (change->record != NULL)
    AUTH_LOG_EVENT (G_LOG_LEVEL_MESSAGE, AUTH_LOG_LOGIN, NULL, "Logged in (%s), stored in %s", auth_mode_to_string (auth_record_get_mode (change->record)),
               self->backend->ops->describe (self->backend));
  else
    AUTH_LOG_EVENT (G_LOG_LEVEL_MESSAGE, AUTH_LOG_LOGOUT, NULL, "Logged out");
  apply_user_change (self, change->record);
  g_task_return_boolean (change->task, TRUE);
  op_end (self);
}

static void
queue_user_change (AuthManager *self, GTask *task, AuthRecord *record)
{
  UserChange *change = g_new0 (UserChange, 1);

  change->self = self;
  change->task = task;
  change->record = record != NULL ? auth_record_ref (record) : NULL;
  op_begin (self);
  write_queue_push (self->writes, record != NULL ? "a login" : "a logout", user_change_start,
                    user_change_done, change, (GDestroyNotify) user_change_free);
}

void
auth_manager_login_async (AuthManager *self, AuthRecord *record, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);

  g_task_set_source_tag (task, auth_manager_login_async);
  queue_user_change (self, task, record);
}

gboolean
auth_manager_login_finish (AuthManager *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Moving the credentials to the other store, a write-queue job. */
typedef struct {
  AuthManager *self;
  GTask *task;
  StoreMode target;
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

  if (store_unreachable (self) || (self->store_error != NULL && !self->unsaved_refresh))
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
  self->backend->ops->move (self->backend, self->record, job->target, callback, user_data);
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
      op_end (self);
      return;
    }
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_task_return_error (job->task, as_store_error (error));
  else
    {
      g_message ("Moved the credentials to %s; the Codex CLI's setting says %s now",
                 self->backend->ops->describe (self->backend),
                 job->target == STORE_MODE_SECRET_SERVICE ? "keyring" : "file");
      if (self->record != NULL)
        note_saved (self, self->record);
      g_task_return_boolean (job->task, TRUE);
    }
  request_load (self, NULL);
  op_end (self);
}

void
auth_manager_move_async (AuthManager *self, StoreMode target, GAsyncReadyCallback callback, gpointer user_data)
{
  MoveJob *job = g_new0 (MoveJob, 1);

  job->self = self;
  job->task = g_task_new (self, NULL, callback, user_data);
  job->target = target;
  g_task_set_source_tag (job->task, auth_manager_move_async);
  op_begin (self);
  write_queue_push (self->writes, "a move to another store", move_job_start, move_job_done, job,
                    (GDestroyNotify) move_job_free);
}

gboolean
auth_manager_move_finish (AuthManager *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
auth_manager_logout_async (AuthManager *self, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);

  g_task_set_source_tag (task, auth_manager_logout_async);
  queue_user_change (self, task, NULL);
}

gboolean
auth_manager_logout_finish (AuthManager *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

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

  if (!g_task_propagate_boolean (G_TASK (result), &error))
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
  self->backend->ops->unlock_store (self->backend, store_unlocked_cb, task);
}

gboolean
auth_manager_unlock_store_finish (AuthManager *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
auth_manager_is_busy (AuthManager *self)
{
  return self->refreshing || self->loading || self->unsaved_refresh || !write_queue_is_idle (self->writes) ||
         self->pending_ops > 0;
}

/* ---- object ------------------------------------------------------------ */

static void
auth_manager_finalize (GObject *object)
{
  AuthManager *self = AUTH_MANAGER (object);

  g_clear_handle_id (&self->save_retry_id, g_source_remove);
  g_clear_handle_id (&self->reuse_check_id, g_source_remove);
  g_clear_pointer (&self->reuse_result, token_result_free);
  g_clear_pointer (&self->writes, write_queue_free);
  g_clear_pointer (&self->backend, auth_backend_free);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->record, auth_record_unref);
  g_clear_pointer (&self->attempted, auth_record_unref);
  forget_rotations (self);
  g_clear_pointer (&self->poison, poison_record_free);
  g_clear_pointer (&self->poison_to_write, poison_record_free);
  g_free (self->stored_fp);
  g_free (self->store_error);
  g_free (self->logged_unusable);
  g_free (self->error_code);
  g_free (self->error_message);
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
auth_manager_new (AuthBackend *backend)
{
  AuthManager *self = g_object_new (AUTH_TYPE_MANAGER, NULL);

  self->backend = backend;
  return self;
}

gboolean
auth_manager_start (AuthManager *self, GError **error)
{
  if (!self->backend->ops->watch (self->backend, store_changed_cb, self, error))
    return FALSE;
  request_load (self, NULL);
  return TRUE;
}

void
auth_manager_stop (AuthManager *self)
{
  g_autoptr(GPtrArray) waiting = g_steal_pointer (&self->refresh_waiters);

  self->stopping = TRUE;
  g_clear_handle_id (&self->save_retry_id, g_source_remove);
  /* Callers waiting for a refresh are answered now, with what there is. */
  self->refresh_waiters = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < waiting->len; i++)
    g_task_return_boolean (g_ptr_array_index (waiting, i), TRUE);
  /* A token request in flight is not cancelled: the server may already
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
    g_warning ("Exiting with refreshed tokens that could not be saved to %s",
               self->backend->ops->describe (self->backend));
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
auth_manager_set_recent_refresh_window (AuthManager *self, gint64 usec)
{
  self->recent_refresh_usec = usec;
}

void
auth_manager_set_reuse_wait (AuthManager *self, gint64 usec)
{
  self->reuse_wait_usec = usec;
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
      /* Withheld while poisoned: the server refused this refresh token. */
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

static gboolean
store_unreachable (AuthManager *self)
{
  return self->store_error != NULL &&
         (g_str_equal (self->store_state, "locked") || g_str_equal (self->store_state, "unavailable"));
}

static const char *
refresh_state_name (AuthManager *self)
{
  if (!is_chatgpt (self))
    return "none";
  if (self->poison != NULL)
    return "poisoned";
  if (self->refreshing)
    return "refreshing";
  if (self->next_attempt_usec > 0)
    return "backoff";
  return "ok";
}

void
auth_manager_get_status (AuthManager *self, AuthStatus *s)
{
  gboolean usable = record_usable (self);
  gboolean chatgpt = is_chatgpt (self);
  gboolean backoff = chatgpt && self->poison == NULL && self->next_attempt_usec > 0;

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
      s->refresh_error = dup_or_empty (backoff ? self->error_code : NULL);
      s->refresh_error_message = dup_or_empty (backoff ? self->error_message : NULL);
    }
  /* A keyring that is locked or absent before anything was read is not a
   * reason to log in again: StoreState says what to do instead. */
  s->requires_login = (!usable && !store_unreachable (self)) || (chatgpt && self->poison != NULL);
  s->last_refresh = chatgpt ? (uint64_t) auth_record_get_last_refresh (self->record) : 0;
  s->access_token_expires = chatgpt ? (uint64_t) auth_record_get_access_token_expires (self->record) : 0;
  s->next_refresh_attempt = backoff ? (uint64_t) self->next_attempt_usec : 0;
  s->credential_store = g_strdup (self->backend->ops->store_name (self->backend));
  s->store_state = g_strdup (self->store_error == NULL ? "ok" : self->store_state);
  s->version = g_strdup (PACKAGE_VERSION);
  s->store_error_message = dup_or_empty (self->store_error);
  s->credential_store_reason = g_strdup (self->backend->ops->store_reason (self->backend));
  s->codex_config_error = dup_or_empty (self->backend->ops->config_problem (self->backend));
  /* Sign-ins are the LoginManager's: auth-bus.c fills it in. */
  s->pending_login = g_strdup ("");
}

CodexSecret *
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
      return codex_secret_dup (token);
    }
  token = auth_record_get_access_token (self->record);
  if (token != NULL && token[0] != '\0')
    {
      *hint = "access_token";
      return codex_secret_dup (token);
    }
  return NULL;
}
