/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CodexAuthClient, the public API of libcodex-auth-1 (see its section documentation). */
#pragma once

#if !defined(CODEX_AUTH_INSIDE) && !defined(CODEX_AUTH_COMPILATION)
#error "Only <codex-auth.h> can be included directly."
#endif

#include <gio/gio.h>

#include "codex-auth-export.h"

G_BEGIN_DECLS

/**
 * CodexAuthState:
 * @CODEX_AUTH_STATE_NOT_RUNNING: codex-authd is not on the bus (yet); the
 *   first call starts it
 * @CODEX_AUTH_STATE_LOGGED_OUT: no credentials: sign in
 * @CODEX_AUTH_STATE_READY: a token is there to use
 * @CODEX_AUTH_STATE_REFRESHING: the ChatGPT tokens are being refreshed
 * @CODEX_AUTH_STATE_TEMPORARILY_FAILING: the last refresh failed for a
 *   passing reason (network, server); the token held is still handed out
 *   and a refresh is tried again later
 * @CODEX_AUTH_STATE_LOG_IN_AGAIN: the credentials failed for good (the
 *   refresh token was revoked, reused or expired): sign in again
 * @CODEX_AUTH_STATE_STORE_LOCKED: the keyring holding the credentials is
 *   locked and nothing was read yet: unlock it
 * @CODEX_AUTH_STATE_STORE_ERROR: the credential store cannot be used and
 *   nothing was read from it
 *
 * The one thing an app shows about the Codex login, derived from the
 * service's properties (see the app developer's guide).
 */
typedef enum {
  CODEX_AUTH_STATE_NOT_RUNNING,
  CODEX_AUTH_STATE_LOGGED_OUT,
  CODEX_AUTH_STATE_READY,
  CODEX_AUTH_STATE_REFRESHING,
  CODEX_AUTH_STATE_TEMPORARILY_FAILING,
  CODEX_AUTH_STATE_LOG_IN_AGAIN,
  CODEX_AUTH_STATE_STORE_LOCKED,
  CODEX_AUTH_STATE_STORE_ERROR,
} CodexAuthState;

CODEX_AUTH_EXPORT
const char *codex_auth_state_describe (CodexAuthState state);

/**
 * CODEX_AUTH_CLIENT_TOKEN_TIMEOUT_MSEC:
 *
 * How long codex_auth_client_get_token_async() waits for the service: it
 * answers within 15 s even while a refresh goes on.
 */
#define CODEX_AUTH_CLIENT_TOKEN_TIMEOUT_MSEC 20000

#define CODEX_AUTH_TYPE_CLIENT (codex_auth_client_get_type ())
CODEX_AUTH_EXPORT
G_DECLARE_FINAL_TYPE (CodexAuthClient, codex_auth_client, CODEX_AUTH, CLIENT, GObject)

CODEX_AUTH_EXPORT
void codex_auth_client_new (GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
CODEX_AUTH_EXPORT
CodexAuthClient *codex_auth_client_new_finish (GAsyncResult *result, GError **error);
CODEX_AUTH_EXPORT
CodexAuthClient *codex_auth_client_new_sync (GCancellable *cancellable, GError **error);

CODEX_AUTH_EXPORT
CodexAuthState codex_auth_client_get_state (CodexAuthClient *self);
CODEX_AUTH_EXPORT
gboolean codex_auth_client_get_running (CodexAuthClient *self);
CODEX_AUTH_EXPORT
const char *codex_auth_client_get_auth_method (CodexAuthClient *self);
CODEX_AUTH_EXPORT
const char *codex_auth_client_get_account_id (CodexAuthClient *self);
CODEX_AUTH_EXPORT
const char *codex_auth_client_get_email (CodexAuthClient *self);
CODEX_AUTH_EXPORT
const char *codex_auth_client_get_plan_type (CodexAuthClient *self);
CODEX_AUTH_EXPORT
const char *codex_auth_client_get_refresh_state (CodexAuthClient *self);
CODEX_AUTH_EXPORT
const char *codex_auth_client_get_refresh_error (CodexAuthClient *self);
CODEX_AUTH_EXPORT
const char *codex_auth_client_get_refresh_error_message (CodexAuthClient *self);
CODEX_AUTH_EXPORT
gboolean codex_auth_client_get_requires_login (CodexAuthClient *self);
CODEX_AUTH_EXPORT
const char *codex_auth_client_get_credential_store (CodexAuthClient *self);
CODEX_AUTH_EXPORT
const char *codex_auth_client_get_credential_store_reason (CodexAuthClient *self);
CODEX_AUTH_EXPORT
const char *codex_auth_client_get_store_state (CodexAuthClient *self);
CODEX_AUTH_EXPORT
const char *codex_auth_client_get_pending_login (CodexAuthClient *self);
CODEX_AUTH_EXPORT
const char *codex_auth_client_get_local_token_endpoint (CodexAuthClient *self);
CODEX_AUTH_EXPORT
const char *codex_auth_client_get_version (CodexAuthClient *self);
CODEX_AUTH_EXPORT
GDateTime *codex_auth_client_get_last_refresh (CodexAuthClient *self);
CODEX_AUTH_EXPORT
GDateTime *codex_auth_client_get_access_token_expires (CodexAuthClient *self);
CODEX_AUTH_EXPORT
GDateTime *codex_auth_client_get_next_refresh_attempt (CodexAuthClient *self);

CODEX_AUTH_EXPORT
void codex_auth_client_get_token_async (CodexAuthClient *self, gboolean refresh, GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
CODEX_AUTH_EXPORT
char *codex_auth_client_get_token_finish (CodexAuthClient *self, GAsyncResult *result, GError **error);

CODEX_AUTH_EXPORT
void codex_auth_client_start_chatgpt_login_async (CodexAuthClient *self, GCancellable *cancellable,
                                                  GAsyncReadyCallback callback, gpointer user_data);
CODEX_AUTH_EXPORT
gboolean codex_auth_client_start_chatgpt_login_finish (CodexAuthClient *self, GAsyncResult *result,
                                                       char **login_id, char **auth_url, GError **error);
CODEX_AUTH_EXPORT
void codex_auth_client_start_device_code_login_async (CodexAuthClient *self, GCancellable *cancellable,
                                                      GAsyncReadyCallback callback, gpointer user_data);
CODEX_AUTH_EXPORT
gboolean codex_auth_client_start_device_code_login_finish (CodexAuthClient *self, GAsyncResult *result,
                                                           char **login_id, char **verification_url,
                                                           char **user_code, GError **error);
CODEX_AUTH_EXPORT
void codex_auth_client_cancel_login_async (CodexAuthClient *self, const char *login_id,
                                           GCancellable *cancellable, GAsyncReadyCallback callback,
                                           gpointer user_data);
CODEX_AUTH_EXPORT
gboolean codex_auth_client_cancel_login_finish (CodexAuthClient *self, GAsyncResult *result, GError **error);
CODEX_AUTH_EXPORT
void codex_auth_client_logout_async (CodexAuthClient *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data);
CODEX_AUTH_EXPORT
gboolean codex_auth_client_logout_finish (CodexAuthClient *self, GAsyncResult *result, GError **error);

G_END_DECLS
