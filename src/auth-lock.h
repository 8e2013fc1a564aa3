/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

/* $CODEX_HOME/auth.lock: the Codex CLI's lock around an update of its
 * credentials (flock, exclusive). A refresh holds it from the guarded
 * reload to the save of its result, so that the CLI and the daemon never
 * refresh the same token at once through it; every write to auth.json
 * takes it unless the refresh in progress holds it already.
 *
 * One of the manager's seams (docs/design.md): the daemon's lock is the
 * file (auth-lock.c); the unit tests link one they control in its place
 * (tests/unit/fakes/). Not to be confused with a locked keyring. */

#define AUTH_LOCK_NAME "auth.lock"
/* How long to wait for another process (the Codex CLI) holding it. */
#define AUTH_LOCK_TIMEOUT_MS 10000

typedef struct _AuthLock AuthLock;

AuthLock *auth_lock_new (const char *codex_home);
void auth_lock_free (AuthLock *lock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AuthLock, auth_lock_free)

/* Takes the lock in a worker thread, waiting at most
 * AUTH_LOCK_TIMEOUT_MS; G_IO_ERROR_BUSY when another process held it that
 * long. A directory that admits no lock file cannot have its auth.json
 * replaced either: taking the lock then succeeds without a file. */
void auth_lock_acquire_async (AuthLock *lock, GAsyncReadyCallback callback, gpointer user_data);
gboolean auth_lock_acquire_finish (AuthLock *lock, GAsyncResult *result, GError **error);
/* Releases it (nothing when not held). */
void auth_lock_release (AuthLock *lock);
/* Between a successful acquire and the release. */
gboolean auth_lock_is_held (AuthLock *lock);

/* Blocking (worker threads): takes the lock of @codex_home for one write.
 * *fd_out holds it (close it to release); -1 when no lock file can exist. */
gboolean auth_lock_take_sync (const char *codex_home, int *fd_out, GError **error);
