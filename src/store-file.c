/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The file store: $CODEX_HOME/auth.json written as the Codex CLI writes
 * it, in worker threads, and the watch of $CODEX_HOME. */
#define G_LOG_DOMAIN "codex-authd-store-file"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <glib-unix.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth-lock.h"
#include "cli-config.h"
#include "safe-file.h"
#include "sensitive.h"
#include "store-file.h"

#define AUTH_FILE_NAME "auth.json"
#define AUTH_DATA_LOCK_NAME "auth.json.lock"
/* How long to wait for another writer holding auth.json.lock. */
#define DATA_LOCK_TIMEOUT_MS AUTH_LOCK_TIMEOUT_MS
/* Events that arrive together (write + close, rename) become one reload. */
#define CHANGE_COALESCE_MS 50

struct _StoreFile {
  GObject parent_instance;

  char *codex_home;
  char *path;
  AuthLock *lock; /* the refresh's hold on auth.lock; not owned, may be NULL */
  GFile *dir;
  GFileMonitor *monitor;
  /* Only while $CODEX_HOME does not exist: tells when it is created. */
  GFileMonitor *parent_monitor;
  /* inotify on $CODEX_HOME for IN_CLOSE_WRITE: a writer closing
   * auth.json.lock (GFileMonitor reports no close without a change). */
  int lock_watch_fd;
  guint lock_watch_id;
  guint coalesce_id;
};

G_DEFINE_TYPE (StoreFile, store_file, G_TYPE_OBJECT)

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void
drop_monitor (StoreFile *self, GFileMonitor **monitor)
{
  if (*monitor == NULL)
    return;
  g_signal_handlers_disconnect_by_data (*monitor, self);
  g_file_monitor_cancel (*monitor);
  g_clear_object (monitor);
}

static void
drop_lock_watch (StoreFile *self)
{
  g_clear_handle_id (&self->lock_watch_id, g_source_remove);
  if (self->lock_watch_fd >= 0)
    close (self->lock_watch_fd);
  self->lock_watch_fd = -1;
}

static void
store_file_finalize (GObject *object)
{
  StoreFile *self = STORE_FILE (object);

  g_clear_handle_id (&self->coalesce_id, g_source_remove);
  drop_lock_watch (self);
  drop_monitor (self, &self->monitor);
  drop_monitor (self, &self->parent_monitor);
  g_clear_object (&self->dir);
  g_free (self->codex_home);
  g_free (self->path);
  G_OBJECT_CLASS (store_file_parent_class)->finalize (object);
}

static void
store_file_class_init (StoreFileClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = store_file_finalize;

  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass),
                                          G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                          G_TYPE_NONE, 0);
}

static void
store_file_init (StoreFile *self)
{
  self->lock_watch_fd = -1;
}

StoreFile *
store_file_new (const char *codex_home, AuthLock *lock)
{
  StoreFile *self;

  g_return_val_if_fail (codex_home != NULL && g_path_is_absolute (codex_home), NULL);

  self = g_object_new (STORE_TYPE_FILE, NULL);
  self->codex_home = g_strdup (codex_home);
  self->path = g_build_filename (codex_home, AUTH_FILE_NAME, NULL);
  self->dir = g_file_new_for_path (codex_home);
  self->lock = lock;
  return self;
}

const char *
store_file_describe (StoreFile *self)
{
  return self->path;
}

static gboolean
emit_changed_cb (gpointer user_data)
{
  StoreFile *self = user_data;

  self->coalesce_id = 0;
  g_debug ("%s changed on disk", self->path);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  return G_SOURCE_REMOVE;
}

/* auth.json, and the Codex CLI's config.toml (its store setting). */
static gboolean
is_watched_file (GFile *file)
{
  g_autofree char *name = NULL;

  if (file == NULL)
    return FALSE;
  name = g_file_get_basename (file);
  return g_strcmp0 (name, AUTH_FILE_NAME) == 0 || g_strcmp0 (name, CLI_CONFIG_NAME) == 0;
}

static void
schedule_changed (StoreFile *self)
{
  if (self->coalesce_id == 0)
    self->coalesce_id = g_timeout_add (CHANGE_COALESCE_MS, emit_changed_cb, self);
}

static gboolean arm_monitors (StoreFile *self, GError **error);

/* The Codex CLI opens auth.json.lock for writing around every save of its
 * credentials, to the keyring item too: the close is the one sign of an
 * item replaced in place, which gnome-keyring does not announce. */
static gboolean
lock_closed_cb (int fd, GIOCondition condition, gpointer user_data)
{
  StoreFile *self = user_data;
  gboolean closed = FALSE;
  union {
    struct inotify_event event;
    char bytes[4096];
  } buf;

  for (;;)
    {
      ssize_t n = read (fd, buf.bytes, sizeof buf.bytes);

      if (n <= 0)
        break;
      for (ssize_t at = 0; at + (ssize_t) sizeof (struct inotify_event) <= n;)
        {
          const struct inotify_event *event = (const struct inotify_event *) (buf.bytes + at);

          if (event->len > 0 && strcmp (event->name, AUTH_DATA_LOCK_NAME) == 0)
            closed = TRUE;
          at += (ssize_t) (sizeof (struct inotify_event) + event->len);
        }
    }
  if (closed)
    schedule_changed (self);
  return G_SOURCE_CONTINUE;
}

static void
arm_lock_watch (StoreFile *self)
{
  drop_lock_watch (self);
  self->lock_watch_fd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  if (self->lock_watch_fd < 0 || inotify_add_watch (self->lock_watch_fd, self->codex_home, IN_CLOSE_WRITE) < 0)
    {
      g_debug ("Cannot watch %s for closes: %s, ignoring", self->codex_home, g_strerror (errno));
      drop_lock_watch (self);
      return;
    }
  self->lock_watch_id = g_unix_fd_add (self->lock_watch_fd, G_IO_IN, lock_closed_cb, self);
}

static void
monitor_changed_cb (GFileMonitor *monitor, GFile *file, GFile *other_file,
                    GFileMonitorEvent event, gpointer user_data)
{
  StoreFile *self = user_data;
  gboolean about_dir = g_file_equal (file, self->dir);

  if (event == G_FILE_MONITOR_EVENT_ATTRIBUTE_CHANGED)
    return;
  if (!is_watched_file (file) && !is_watched_file (other_file) && !about_dir)
    return;
  if (about_dir && (event == G_FILE_MONITOR_EVENT_DELETED || event == G_FILE_MONITOR_EVENT_MOVED_OUT ||
                    event == G_FILE_MONITOR_EVENT_RENAMED))
    {
      /* $CODEX_HOME itself went away: watch for it to come back. */
      g_autoptr(GError) error = NULL;
      if (!arm_monitors (self, &error))
        g_warning ("Cannot watch %s: %s, ignoring", self->codex_home, error->message);
    }
  schedule_changed (self);
}

static void
parent_changed_cb (GFileMonitor *monitor, GFile *file, GFile *other_file,
                   GFileMonitorEvent event, gpointer user_data)
{
  StoreFile *self = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_file_equal (file, self->dir) && (other_file == NULL || !g_file_equal (other_file, self->dir)))
    return;
  if (!g_file_query_exists (self->dir, NULL))
    return;
  /* $CODEX_HOME appeared (a first Codex login): watch it directly now, and
   * read it, since auth.json may be in it already. */
  g_debug ("%s was created", self->codex_home);
  if (!arm_monitors (self, &error))
    g_warning ("Cannot watch %s: %s, ignoring", self->codex_home, error->message);
  schedule_changed (self);
}

static gboolean
arm_monitors (StoreFile *self, GError **error)
{
  drop_monitor (self, &self->monitor);
  drop_monitor (self, &self->parent_monitor);

  self->monitor = g_file_monitor_directory (self->dir, G_FILE_MONITOR_WATCH_MOVES, NULL, error);
  if (self->monitor == NULL)
    return FALSE;
  g_signal_connect (self->monitor, "changed", G_CALLBACK (monitor_changed_cb), self);
  arm_lock_watch (self);

  /* GLib watches a missing directory by polling every few seconds; the
   * parent's watch notices its creation at once. */
  if (!g_file_query_exists (self->dir, NULL))
    {
      g_autoptr(GFile) parent = g_file_get_parent (self->dir);
      g_autoptr(GError) local_error = NULL;

      if (parent != NULL)
        self->parent_monitor = g_file_monitor_directory (parent, G_FILE_MONITOR_WATCH_MOVES,
                                                         NULL, &local_error);
      if (self->parent_monitor != NULL)
        g_signal_connect (self->parent_monitor, "changed", G_CALLBACK (parent_changed_cb), self);
      else if (local_error != NULL)
        g_debug ("Cannot watch the parent of %s: %s, ignoring", self->codex_home, local_error->message);
    }
  return TRUE;
}

gboolean
store_file_watch (StoreFile *self, GError **error)
{
  g_return_val_if_fail (self->monitor == NULL, FALSE);

  return arm_monitors (self, error);
}

AuthRecord *
store_file_load_sync (StoreFile *self, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  AuthRecord *record;
  char *data = NULL;
  gsize len = 0;
  guint mode = 0;

  if (!safe_file_read_bounded_mode (self->path, AUTH_RECORD_MAX_SIZE, &data, &len, &mode, &local_error))
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return NULL; /* no credentials */
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE))
        g_set_error_literal (error, AUTH_RECORD_ERROR, AUTH_RECORD_ERROR_TOO_LARGE, local_error->message);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if ((mode & 0077) != 0)
    g_message ("%s is accessible by other users (mode %04o); it holds credentials, "
               "consider chmod 600", self->path, mode & 07777);

  record = auth_record_parse (data, len, &local_error);
  sensitive_wipe (data, len);
  g_free (data);
  if (record == NULL)
    {
      g_set_error (error, local_error->domain, local_error->code,
                   "%s: %s", self->path, local_error->message);
      return NULL;
    }
  return record;
}

/* The Codex CLI's protocol: auth.lock for the whole update (unless the
 * caller holds it already), auth.json.lock around the write itself. */
static gboolean
hold_write_locks (StoreFile *self, gboolean lock_held, int *auth_lock_fd, int *data_lock_fd, GError **error)
{
  g_autofree char *data_lock_path = g_build_filename (self->codex_home, AUTH_DATA_LOCK_NAME, NULL);

  *auth_lock_fd = -1;
  if (!lock_held && !auth_lock_take_sync (self->codex_home, auth_lock_fd, error))
    return FALSE;
  *data_lock_fd = safe_file_hold_lock (data_lock_path, DATA_LOCK_TIMEOUT_MS, error);
  if (*data_lock_fd < 0)
    {
      if (*auth_lock_fd >= 0)
        close (*auth_lock_fd);
      return FALSE;
    }
  return TRUE;
}

static void
release_write_locks (int auth_lock_fd, int data_lock_fd)
{
  close (data_lock_fd);
  if (auth_lock_fd >= 0)
    close (auth_lock_fd);
}

gboolean
store_file_save_sync (StoreFile *self, AuthRecord *record, gboolean lock_held, GError **error)
{
  g_autoptr(Sensitive) data = NULL;
  int auth_lock_fd, data_lock_fd;
  gboolean ok;

  if (g_mkdir_with_parents (self->codex_home, 0700) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "%s: cannot create: %s", self->codex_home, g_strerror (saved));
      return FALSE;
    }
  if (!hold_write_locks (self, lock_held, &auth_lock_fd, &data_lock_fd, error))
    return FALSE;
  data = auth_record_serialize (record);
  ok = safe_file_write_atomic (self->path, ".auth-", data, strlen (data), error);
  release_write_locks (auth_lock_fd, data_lock_fd);
  return ok;
}

gboolean
store_file_delete_sync (StoreFile *self, gboolean lock_held, GError **error)
{
  int auth_lock_fd, data_lock_fd, saved = 0;
  gboolean ok = TRUE;

  if (!g_file_test (self->path, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK))
    return TRUE;
  if (!hold_write_locks (self, lock_held, &auth_lock_fd, &data_lock_fd, error))
    return FALSE;
  if (unlink (self->path) < 0 && errno != ENOENT)
    {
      saved = errno;
      ok = FALSE;
    }
  release_write_locks (auth_lock_fd, data_lock_fd);
  if (!ok)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                 "%s: cannot remove: %s", self->path, g_strerror (saved));
  return ok;
}

/* ---- asynchronous: the blocking calls above in worker threads ---------- */

/* What one worker thread does. */
typedef struct {
  StoreFile *self;
  AuthRecord *record; /* a save's */
  gboolean lock_held; /* read on the main thread when the job starts */
} FileJob;

static void
file_job_free (FileJob *job)
{
  g_object_unref (job->self);
  g_clear_pointer (&job->record, auth_record_unref);
  g_free (job);
}

static void
run_job (StoreFile *self, AuthRecord *record, gpointer tag, GTaskThreadFunc func, GAsyncReadyCallback callback,
         gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);
  FileJob *job = g_new0 (FileJob, 1);

  job->self = g_object_ref (self);
  job->record = record != NULL ? auth_record_ref (record) : NULL;
  job->lock_held = self->lock != NULL && auth_lock_is_held (self->lock);
  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, job, (GDestroyNotify) file_job_free);
  g_task_run_in_thread (task, func);
}

static void
load_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  FileJob *job = task_data;
  GError *error = NULL;
  AuthRecord *record = store_file_load_sync (job->self, &error);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, store_read_new (record != NULL ? STORE_READ_FOUND : STORE_READ_NOT_FOUND, record),
                           (GDestroyNotify) store_read_free);
  g_clear_pointer (&record, auth_record_unref);
}

static void
write_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  FileJob *job = task_data;
  GError *error = NULL;
  gboolean ok;

  if (job->record != NULL)
    ok = store_file_save_sync (job->self, job->record, job->lock_held, &error);
  else
    ok = store_file_delete_sync (job->self, job->lock_held, &error);
  if (!ok)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
store_file_load_async (StoreFile *self, GAsyncReadyCallback callback, gpointer user_data)
{
  run_job (self, NULL, store_file_load_async, load_thread, callback, user_data);
}

StoreRead *
store_file_load_finish (StoreFile *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
store_file_save_async (StoreFile *self, AuthRecord *record, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (record != NULL);
  run_job (self, record, store_file_save_async, write_thread, callback, user_data);
}

void
store_file_delete_async (StoreFile *self, GAsyncReadyCallback callback, gpointer user_data)
{
  run_job (self, NULL, store_file_delete_async, write_thread, callback, user_data);
}

gboolean
store_file_write_finish (StoreFile *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
