/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

/* Small blocking file helpers, for worker threads (never the main loop). */

/* Reads a regular file of at most @max_size bytes. A missing file is
 * G_IO_ERROR_NOT_FOUND, a larger one G_IO_ERROR_MESSAGE_TOO_LARGE (without
 * reading it). Messages name the file. *data is NUL-terminated; callers
 * holding secrets wipe it. @mode_out (may be NULL) receives st_mode. */
gboolean safe_file_read_bounded (const char *path, gsize max_size, char **data, gsize *len,
                                  GError **error);
gboolean safe_file_read_bounded_mode (const char *path, gsize max_size, char **data, gsize *len,
                                       guint *mode_out, GError **error);

/* Writes @path atomically: a temporary file "<prefix>XXXXXX" in the same
 * directory (mode 0600), fsync, rename over @path, fsync the directory. */
gboolean safe_file_write_atomic (const char *path, const char *tmp_prefix,
                                  const char *data, gsize len, GError **error);
/* The same, for a file that is not secret: the new file gets @mode. */
gboolean safe_file_write_atomic_mode (const char *path, const char *tmp_prefix, const char *data,
                                       gsize len, guint mode, GError **error);

/* Takes an exclusive flock on @path (created 0600 if missing), waiting at
 * most @timeout_ms. Returns the fd holding the lock (close it to release),
 * or -1 with @error set. */
int safe_file_hold_lock (const char *path, guint timeout_ms, GError **error);

/* Where the daemon keeps its own records (the poison record, refreshed
 * tokens not saved yet): $STATE_DIRECTORY/@name when systemd sets it
 * (StateDirectory= in the unit), else $XDG_STATE_HOME/codex-authd/@name. */
char *safe_file_state_path (const char *name);
