/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "auth-record.h"

/* The rescue copy of refreshed tokens the store has not taken yet. The
 * server hands out a rotated refresh token once; until the store holds it,
 * this file (0600 in the daemon's 0700 state directory) does, together with
 * the fingerprint of the stored record it was refreshed from. It is written
 * before each save of a refreshed record and removed once the store has it,
 * so that neither a failing store (full disk, read-only file system, a
 * locked or killed keyring) nor a crash in the middle of the save loses the
 * token. At start-up it is taken only if the store still holds the record
 * it came from.
 *
 * Where: for tokens that go to a file anyway (auth.json), in the state
 * directory, on disk. For tokens that go to the Secret Service, never on
 * disk (that would undo the user's choice of the keyring): in
 * $XDG_RUNTIME_DIR (a tmpfs of the user's session), or nowhere. */

/* $XDG_STATE_HOME/codex-authd/rescue-copy.json */
char *rescue_copy_default_path (void);
/* $XDG_RUNTIME_DIR/codex-authd/rescue-copy.json; NULL when the variable is
 * not set (GLib's fallback for it is a directory on disk). */
char *rescue_copy_runtime_path (void);

/* Atomic, 0600, in a 0700 directory. */
gboolean rescue_copy_save (const char *path, AuthRecord *record, const char *base_fingerprint,
                             GError **error);
/* NULL with no error when there is no file; a malformed file is an error. */
AuthRecord *rescue_copy_load (const char *path, char **base_fingerprint, GError **error);
/* Removing a file that does not exist succeeds. */
gboolean rescue_copy_remove (const char *path, GError **error);
