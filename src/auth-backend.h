/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "auth-record.h"
#include "poison-record.h"
#include "token-client.h"

/* Everything the auth manager needs from the outside world: the credential
 * store, the cross-process lock, the token endpoint, the persisted failure
 * record, the clock and randomness. The daemon uses auth_backend_new_real();
 * unit tests use a fake with a fake clock. Asynchronous operations report
 * through a GTask (source object NULL). */

typedef struct {
  AuthRecord *record;       /* NULL: no credentials stored */
  PoisonRecord *poison;   /* the persisted poison record, NULL: none */
} AuthSnapshot;

void auth_snapshot_free (AuthSnapshot *snapshot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AuthSnapshot, auth_snapshot_free)

typedef struct _AuthBackend AuthBackend;
typedef void (*AuthBackendChangedFunc) (gpointer user_data);

typedef struct {
  /* Starts watching the store; @changed is called after it changed. */
  gboolean (*watch) (AuthBackend *backend, AuthBackendChangedFunc changed, gpointer user_data,
                     GError **error);
  /* Reads the store and the poison record: AuthSnapshot* or an error. With
   * @lock, first takes the cross-process lock and keeps it until unlock(). */
  void (*load) (AuthBackend *backend, gboolean lock, GAsyncReadyCallback callback, gpointer user_data);
  void (*unlock) (AuthBackend *backend);
  /* Saves @record where it came from: boolean or an error. Takes the lock
   * for the write unless load(lock=TRUE) holds it. */
  void (*save) (AuthBackend *backend, AuthRecord *record, GAsyncReadyCallback callback, gpointer user_data);
  /* One refresh request: a TokenResult*, never an error. */
  void (*refresh) (AuthBackend *backend, const char *refresh_token, GCancellable *cancellable,
                   GAsyncReadyCallback callback, gpointer user_data);
  /* Persists @poison, or removes the record when NULL: boolean or an error. */
  void (*save_poison) (AuthBackend *backend, const PoisonRecord *poison,
                         GAsyncReadyCallback callback, gpointer user_data);
  /* Wall clock, microseconds since the epoch. */
  gint64 (*now) (AuthBackend *backend);
  /* Uniform in [0, 1). */
  double (*random) (AuthBackend *backend);
  /* Where the credentials are, for messages. */
  const char *(*describe) (AuthBackend *backend);
  /* The CredentialStore property: "secret-service", "file" or "none". */
  const char *(*store_name) (AuthBackend *backend);
  /* Stores a new login: in the store the mode chooses (auto: the Secret
   * Service when one runs, else auth.json). Boolean or an error. */
  void (*save_login) (AuthBackend *backend, AuthRecord *record, GAsyncReadyCallback callback,
                      gpointer user_data);
  /* Removes the credentials from every store that holds them. */
  void (*remove_all) (AuthBackend *backend, GAsyncReadyCallback callback, gpointer user_data);
  /* Asks the store to unlock (may show a prompt): boolean or an error. */
  void (*unlock_store) (AuthBackend *backend, GAsyncReadyCallback callback, gpointer user_data);
  void (*free) (AuthBackend *backend);
} AuthBackendOps;

struct _AuthBackend {
  const AuthBackendOps *ops;
};

void auth_backend_free (AuthBackend *backend);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AuthBackend, auth_backend_free)

typedef enum {
  STORE_MODE_AUTO,           /* the keyring item if there is one, else auth.json */
  STORE_MODE_SECRET_SERVICE, /* the keyring item only */
  STORE_MODE_FILE,           /* auth.json only */
} StoreMode;

/* "auto", "secret-service", "file"; FALSE for anything else. */
gboolean store_mode_from_string (const char *name, StoreMode *mode);
const char *store_mode_to_string (StoreMode mode);

/* The stores of @codex_home chosen by @mode, the token endpoint @token_url
 * with @timeout_seconds, the poison record at @poison_path. */
AuthBackend *auth_backend_new_real (const char *codex_home, StoreMode mode, const char *token_url,
                                    guint timeout_seconds, const char *poison_path,
                                    GError **error);
