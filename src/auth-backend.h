/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "auth-record.h"
#include "poison-record.h"
#include "store-mode.h"
#include "token-client.h"

/* Everything the auth manager needs from the outside world: the credential
 * store (its policy: credential-store.c; this adapter runs the real stores,
 * the file in worker threads), the cross-process lock, the token endpoint,
 * the persisted poison
 * record, the clock and randomness. The daemon uses auth_backend_new_real();
 * unit tests use a fake with a fake clock. Asynchronous operations report
 * through a GTask (source object NULL). */

typedef struct {
  AuthRecord *record;       /* NULL: no credentials stored */
  PoisonRecord *poison;   /* the persisted poison record, NULL: none */
  /* The rescue copy of refreshed tokens not saved yet (rescue-record.h),
   * and the fingerprint of the stored record it came from; NULL: none. */
  AuthRecord *rescue;
  char *rescue_base_fingerprint;
} AuthSnapshot;

void auth_snapshot_free (AuthSnapshot *snapshot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AuthSnapshot, auth_snapshot_free)

typedef struct _AuthBackend AuthBackend;
typedef void (*AuthBackendChangedFunc) (gpointer user_data);

typedef struct {
  /* Starts watching the store; @changed is called after it changed. */
  gboolean (*watch) (AuthBackend *backend, AuthBackendChangedFunc changed, gpointer user_data,
                     GError **error);
  /* Reads the store and the poison record: AuthSnapshot* or an error. */
  void (*load) (AuthBackend *backend, GAsyncReadyCallback callback, gpointer user_data);
  /* The same, after taking the cross-process lock ($CODEX_HOME/auth.lock),
   * which is held until release_lock(): the load, refresh and save of one
   * refresh happen under it. */
  void (*load_under_lock) (AuthBackend *backend, GAsyncReadyCallback callback, gpointer user_data);
  void (*release_lock) (AuthBackend *backend);
  /* Saves @record where it came from: boolean or an error. Takes the lock
   * for the write unless load_under_lock() holds it. */
  void (*save) (AuthBackend *backend, AuthRecord *record, GAsyncReadyCallback callback, gpointer user_data);
  /* One refresh request: a TokenResult*, never an error. */
  void (*refresh) (AuthBackend *backend, const char *refresh_token, GCancellable *cancellable,
                   GAsyncReadyCallback callback, gpointer user_data);
  /* Persists @poison, or removes the record when NULL: boolean or an error. */
  void (*save_poison) (AuthBackend *backend, const PoisonRecord *poison,
                       GAsyncReadyCallback callback, gpointer user_data);
  /* Writes the rescue copy of @record, refreshed from the stored record
   * whose fingerprint is @base_fingerprint; removes it when @record is
   * NULL. Boolean or an error. */
  void (*save_rescue) (AuthBackend *backend, AuthRecord *record, const char *base_fingerprint,
                       GAsyncReadyCallback callback, gpointer user_data);
  /* Wall clock, microseconds since the epoch. */
  gint64 (*now) (AuthBackend *backend);
  /* Monotonic clock, microseconds: for deadlines. */
  gint64 (*monotonic) (AuthBackend *backend);
  /* Uniform in [0, 1). */
  double (*random) (AuthBackend *backend);
  /* Where the credentials are, for messages. */
  const char *(*describe) (AuthBackend *backend);
  /* The CredentialStore property: "secret-service", "file" or "none". */
  const char *(*store_name) (AuthBackend *backend);
  /* Where a load looks, for messages about finding nothing. */
  const char *(*describe_searched) (AuthBackend *backend);
  /* Which setting chose the store (credential_store_get_reason()), and
   * why the Codex CLI's config.toml cannot be used (NULL: it can). */
  const char *(*store_reason) (AuthBackend *backend);
  const char *(*config_problem) (AuthBackend *backend);
  /* Moves @record (NULL: none) to @target and sets the Codex CLI's
   * setting to match (credential_store_move_async()): boolean or an error. */
  void (*move) (AuthBackend *backend, AuthRecord *record, StoreMode target, GAsyncReadyCallback callback,
                gpointer user_data);
  /* Stores a new login where the store policy puts it (credential-store.h).
   * Boolean or an error. */
  void (*save_login) (AuthBackend *backend, AuthRecord *record, GAsyncReadyCallback callback,
                      gpointer user_data);
  /* Removes the credentials from every store that holds them. */
  void (*remove_all) (AuthBackend *backend, GAsyncReadyCallback callback, gpointer user_data);
  /* Asks the keyring to unlock (may show a prompt): boolean or an error. */
  void (*unlock_store) (AuthBackend *backend, GAsyncReadyCallback callback, gpointer user_data);
  void (*free) (AuthBackend *backend);
} AuthBackendOps;

struct _AuthBackend {
  const AuthBackendOps *ops;
};

void auth_backend_free (AuthBackend *backend);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AuthBackend, auth_backend_free)

/* The stores of @codex_home chosen by @mode, the token endpoint of
 * @client (a reference is taken), the poison record at @poison_path, the
 * rescue copy at @rescue_path. */
AuthBackend *auth_backend_new_real (const char *codex_home, StoreMode mode, TokenClient *client,
                                    const char *poison_path, const char *rescue_path);
