/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <stdint.h>

#include "auth-record.h"
#include "store-file.h"

/* What clients see of the credentials: the values behind the D-Bus
 * properties. Strings are never NULL once filled by
 * auth_manager_get_status(). Booleans are int, as sd-bus wants them. */
typedef struct {
  char *auth_method;
  char *account_id;
  char *email;
  char *plan_type;
  char *refresh_state;
  char *refresh_error;
  char *refresh_error_message;
  int requires_login;
  uint64_t last_refresh;
  uint64_t access_token_expires;
  uint64_t next_refresh_attempt;
  char *credential_store;
  char *store_state;
  char *version;
  /* Not a property: why StoreState is not "ok", "" otherwise. */
  char *store_error_message;
} AuthStatus;

void auth_status_clear (AuthStatus *status);

/* The owner of the credential state. It has no I/O of its own: it drives
 * the store and tells listeners through "changed" (emitted once per state
 * change) that auth_manager_get_status() may answer differently. */
#define AUTH_TYPE_MANAGER (auth_manager_get_type ())
G_DECLARE_FINAL_TYPE (AuthManager, auth_manager, AUTH, MANAGER, GObject)

AuthManager *auth_manager_new (StoreFile *store);

/* Watches the store and performs the first load. */
gboolean auth_manager_start (AuthManager *self, GError **error);

/* Re-reads the store. Requests made while a read is running are served by
 * one more read started after it, so the answer always reflects the store
 * as it was after the request arrived. Fails with
 * CODEX_AUTH_ERROR_STORE_ERROR when the store could not be read; the
 * credentials held before are kept then. */
void auth_manager_reload_async (AuthManager *self, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
gboolean auth_manager_reload_finish (AuthManager *self, GAsyncResult *result, GError **error);

/* Stops watching, cancels and waits for a read in flight (at shutdown). */
void auth_manager_stop (AuthManager *self);

/* TRUE once the first load finished (successfully or not). */
gboolean auth_manager_is_loaded (AuthManager *self);

void auth_manager_get_status (AuthManager *self, AuthStatus *status);

/* The token a client may be given: the API key or the ChatGPT access
 * token; NULL when there is none usable. Owned by the manager. */
const char *auth_manager_get_token (AuthManager *self);
