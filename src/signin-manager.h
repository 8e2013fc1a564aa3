/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "auth-manager.h"
#include "http-client.h"
#include "revoke.h"
#include "signin-protocol.h"

/* ChatGPT sign-ins through the daemon (docs/login.md): the browser flow
 * (signin-browser.c, with its loopback callback server) and the
 * device-code flow (signin-device.c). One sign-in is pending at a time:
 * a new start, a cancel, a logout or stop() ends the one before, which
 * still reports "completed" with "cancelled". The tokens a sign-in obtains
 * are stored through the AuthManager, like any login, and the refresh
 * token they replace is revoked. Every login through it obeys the rules
 * of the daemon's settings and of the Codex CLI's config.toml
 * (forced_login_method, forced_chatgpt_workspace_id: signin-rules.c). */

#define SIGNIN_MAX_PORTS 8
/* The user-code request answers the D-Bus call that asked for it. */
#define SIGNIN_START_TIMEOUT_SECONDS 15
/* Asking a previous sign-in server on the port to stop. */
#define SIGNIN_CANCEL_TIMEOUT_SECONDS 2
#define SIGNIN_BIND_ATTEMPTS 10
#define SIGNIN_BIND_RETRY_MS 200

/* What the daemon's settings say about sign-ins (daemon-settings.h has
 * every default). */
typedef struct {
  const char *issuer;
  const char *codex_home;        /* whose config.toml's sign-in rules apply; NULL: none */
  const char *const *workspaces; /* allowed workspace (account) ids; NULL: any */
  const guint *ports;            /* callback ports, tried in order */
  guint n_ports;
  guint browser_timeout;         /* seconds */
  guint device_timeout;          /* seconds */
} SigninSettings;

#define SIGNIN_TYPE_MANAGER (signin_manager_get_type ())
G_DECLARE_FINAL_TYPE (SigninManager, signin_manager, SIGNIN, MANAGER, GObject)

/* Signals: "changed" when signin_manager_get_pending() changes (not
 * emitted when it changes together with the credentials: the
 * AuthManager's "changed" covers both then); "completed" (login id,
 * success, error code or "", message) when a sign-in whose start was
 * answered ends. @settings is copied; @revoker stays the caller's. */
SigninManager *signin_manager_new (AuthManager *auth, HttpClient *http, Revoker *revoker,
                                   const SigninSettings *settings);

/* "", "browser" or "device-code". */
const char *signin_manager_get_pending (SigninManager *self);

/* TRUE while a sign-in, a revocation or a store change of a sign-in is in
 * progress: not a moment to exit. */
gboolean signin_manager_is_busy (SigninManager *self);

/* Starts a browser sign-in: once the callback server listens, the login id
 * and the URL to open. Fails with CODEX_AUTH_ERROR_LOGIN_FAILED. */
void signin_manager_start_browser_async (SigninManager *self, GAsyncReadyCallback callback, gpointer user_data);
gboolean signin_manager_start_browser_finish (SigninManager *self, GAsyncResult *result, char **login_id,
                                              char **auth_url, GError **error);

/* Starts a device-code sign-in: once the issuer gave a code, the login id,
 * the URL to visit and the code to enter there. Fails with
 * CODEX_AUTH_ERROR_DEVICE_LOGIN_DISABLED or CODEX_AUTH_ERROR_LOGIN_FAILED. */
void signin_manager_start_device_async (SigninManager *self, GAsyncReadyCallback callback, gpointer user_data);
gboolean signin_manager_start_device_finish (SigninManager *self, GAsyncResult *result, char **login_id,
                                             char **verification_url, char **user_code, GError **error);

/* Stores @record (an API key, or ChatGPT tokens given) as the login,
 * unless the Codex CLI's sign-in rules refuse it
 * (CODEX_AUTH_ERROR_NOT_SUPPORTED, saying which); then as
 * auth_manager_login_async(). */
void signin_manager_login_async (SigninManager *self, AuthRecord *record, GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean signin_manager_login_finish (SigninManager *self, GAsyncResult *result, GError **error);

/* Cancels the pending sign-in @login_id; CODEX_AUTH_ERROR_NO_SUCH_LOGIN
 * when it is not the one pending. */
gboolean signin_manager_cancel (SigninManager *self, const char *login_id, GError **error);

/* Ends the pending sign-in, if any, as cancelled with @message. */
void signin_manager_cancel_pending (SigninManager *self, const char *message);

/* At shutdown: ends the pending sign-in (cancelled), closes the callback
 * servers and lets what is in flight finish (bounded). */
void signin_manager_stop (SigninManager *self);
