/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* The persisted record of a permanent refresh failure ("poison"): which
 * credential snapshot failed, how and when. One file per user, shared by
 * every instance, so that a restart or a second instance never retries a
 * refresh token that the server refused for good. */
typedef struct {
  char *fingerprint; /* auth_record_get_fingerprint() of the attempted record */
  char *code;
  char *message;
  guint http_status;
  gint64 time_usec;  /* wall clock */
} RefreshFailure;

RefreshFailure *refresh_failure_new (const char *fingerprint, const char *code,
                                     const char *message, guint http_status, gint64 time_usec);
RefreshFailure *refresh_failure_copy (const RefreshFailure *failure);
void refresh_failure_free (RefreshFailure *failure);
gboolean refresh_failure_equal (const RefreshFailure *a, const RefreshFailure *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RefreshFailure, refresh_failure_free)

/* $XDG_STATE_HOME/codex-authd/refresh-failure.json */
char *refresh_failure_default_path (void);

/* NULL with no error when there is no file. A malformed file is an error. */
RefreshFailure *refresh_failure_load (const char *path, GError **error);
/* Atomic (temporary file, fsync, rename), 0600 in a 0700 directory. */
gboolean refresh_failure_save (const char *path, const RefreshFailure *failure, GError **error);
/* Removing a file that does not exist succeeds. */
gboolean refresh_failure_remove (const char *path, GError **error);
