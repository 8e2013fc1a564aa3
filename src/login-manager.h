/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "auth-manager.h"
#include "login-protocol.h"
#include "token-client.h"

/* ChatGPT sign-in (browser and device code) and logout with revocation.
 * One sign-in is pending at a time: a new start, a cancel, a logout or
 * stop() ends the one before, which still reports "completed" with
 * "cancelled". The tokens a sign-in obtains are stored through the
 * AuthManager, like any login. */

#define LOGIN_DEFAULT_PORT 1455
#define LOGIN_FALLBACK_PORT 1457
#define LOGIN_MAX_PORTS 8
#define LOGIN_BROWSER_TIMEOUT_SECONDS 600
#define LOGIN_DEVICE_TIMEOUT_SECONDS 900
/* The user-code request answers the D-Bus call that asked for it. */
#define LOGIN_START_TIMEOUT_SECONDS 15
#define LOGIN_REVOKE_TIMEOUT_SECONDS 10
/* Asking a previous login server on the port to stop. */
#define LOGIN_CANCEL_TIMEOUT_SECONDS 2
#define LOGIN_BIND_ATTEMPTS 10
#define LOGIN_BIND_RETRY_MS 200

typedef struct {
  char *issuer;            /* LOGIN_DEFAULT_ISSUER unless configured */
  char *client_id;
  char *revoke_url;
  gboolean revoke;         /* FALSE: logout only removes */
  char **workspaces;       /* allowed workspace (account) ids; NULL: any */
  guint ports[LOGIN_MAX_PORTS]; /* callback ports, tried in order */
  guint n_ports;
  guint browser_timeout;   /* seconds */
  guint device_timeout;    /* seconds */
} LoginSettings;

void login_settings_clear (LoginSettings *settings);

#define LOGIN_TYPE_MANAGER (login_manager_get_type ())
G_DECLARE_FINAL_TYPE (LoginManager, login_manager, LOGIN, MANAGER, GObject)

/* Signals: "changed" when login_manager_get_pending() changes (not emitted
 * when it changes together with the credentials: the AuthManager's
 * "changed" covers both then); "completed" (login id, success, error code
 * or "", message) when a sign-in whose start was answered ends. */
LoginManager *login_manager_new (AuthManager *auth, TokenClient *http, const LoginSettings *settings);

/* "", "browser" or "device-code". */
const char *login_manager_get_pending (LoginManager *self);

/* TRUE while a sign-in, a revocation or a store change of a sign-in is in
 * progress: not a moment to exit. */
gboolean login_manager_is_busy (LoginManager *self);

/* Starts a browser sign-in: once the callback server listens, the login id
 * and the URL to open. Fails with CODEX_AUTH_ERROR_LOGIN_FAILED. */
void login_manager_start_browser_async (LoginManager *self, GAsyncReadyCallback callback, gpointer user_data);
gboolean login_manager_start_browser_finish (LoginManager *self, GAsyncResult *result, char **login_id,
                                             char **auth_url, GError **error);

/* Starts a device-code sign-in: once the issuer gave a code, the login id,
 * the URL to visit and the code to enter there. Fails with
 * CODEX_AUTH_ERROR_DEVICE_LOGIN_DISABLED or CODEX_AUTH_ERROR_LOGIN_FAILED. */
void login_manager_start_device_async (LoginManager *self, GAsyncReadyCallback callback, gpointer user_data);
gboolean login_manager_start_device_finish (LoginManager *self, GAsyncResult *result, char **login_id,
                                            char **verification_url, char **user_code, GError **error);

/* Cancels the pending sign-in @login_id; CODEX_AUTH_ERROR_NO_SUCH_LOGIN
 * when it is not the one pending. */
gboolean login_manager_cancel (LoginManager *self, const char *login_id, GError **error);

/* What a logout did about revocation. */
typedef struct {
  const char *revocation; /* "revoked", "failed", "disabled" or "none" (nothing to revoke) */
  const char *token_type; /* "refresh_token", "access_token" or "" */
  char *error;            /* why it failed, "" otherwise */
} LogoutOutcome;

void logout_outcome_clear (LogoutOutcome *outcome);

/* Ends the pending sign-in, revokes the ChatGPT refresh token (else the
 * access token) within LOGIN_REVOKE_TIMEOUT_SECONDS unless turned off, then
 * removes the credentials (auth_manager_logout_async()). A failed
 * revocation does not fail the logout; it is in @outcome. */
void login_manager_logout_async (LoginManager *self, GAsyncReadyCallback callback, gpointer user_data);
gboolean login_manager_logout_finish (LoginManager *self, GAsyncResult *result, LogoutOutcome *outcome,
                                      GError **error);

/* At shutdown: ends the pending sign-in (cancelled), closes the callback
 * servers and lets what is in flight finish (bounded). */
void login_manager_stop (LoginManager *self);
