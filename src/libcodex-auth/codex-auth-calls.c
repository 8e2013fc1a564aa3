/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CodexAuthClient's calls to the service: the token, sign-ins, cancel,
 * logout. */
#define G_LOG_DOMAIN "CodexAuth"

#include "config.h"

#include <string.h>

#include "codex-auth.h"
#include "codex-auth-client-private.h"

/* ---- calls ------------------------------------------------------------- */

static gboolean
check_proxy (CodexAuthClient *self, GTask *task)
{
  if (codex_auth_client_get_proxy (self) != NULL)
    return TRUE;
  g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_FAILED, "The client is not initialized");
  g_object_unref (task);
  return FALSE;
}

/* A D-Bus error of org.codex.Auth1 arrives as CODEX_AUTH_ERROR (the domain
 * is registered); the remote name is stripped from the message. */
static GError *
tidy_error (GError *error)
{
  (void) codex_auth_error_quark ();
  if (g_dbus_error_is_remote_error (error))
    g_dbus_error_strip_remote_error (error);
  return error;
}

static void
call_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  GVariant *reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);

  if (reply == NULL)
    g_task_return_error (task, tidy_error (error));
  else
    g_task_return_pointer (task, reply, (GDestroyNotify) g_variant_unref);
  g_object_unref (task);
}

static void
call (CodexAuthClient *self, gpointer source_tag, const char *method, GVariant *parameters, int timeout_msec,
      GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  (void) codex_auth_error_quark (); /* registered before any reply */
  if (!check_proxy (self, task))
    {
      if (parameters != NULL)
        g_variant_unref (g_variant_ref_sink (parameters));
      return;
    }
  g_dbus_proxy_call (codex_auth_client_get_proxy (self), method, parameters, G_DBUS_CALL_FLAGS_NONE, timeout_msec, cancellable,
                     call_done_cb, task);
}

/* Overwrites the token inside a reply before the reply is freed: the
 * reply is this call's alone (nothing else holds it), and its bytes would
 * otherwise linger in freed memory. The caller's copy is theirs to wipe. */
static void
wipe_string (const char *text)
{
  explicit_bzero ((char *) text, strlen (text));
}

static GVariant *
call_finish (CodexAuthClient *self, GAsyncResult *result, gpointer source_tag, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * codex_auth_client_get_token_async:
 * @self: a client
 * @refresh: refresh the ChatGPT tokens first when they are due
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the token
 * @user_data: data for @callback
 *
 * Asks for the token to use: the API key, or the ChatGPT access token. The
 * service answers within 15 s, even while a refresh goes on; the call
 * gives up after %CODEX_AUTH_CLIENT_TOKEN_TIMEOUT_MSEC.
 */
void
codex_auth_client_get_token_async (CodexAuthClient *self, gboolean refresh, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (CODEX_AUTH_IS_CLIENT (self));
  call (self, codex_auth_client_get_token_async, "GetAuthStatusDetails",
        g_variant_new_parsed ("({'include-token': <true>, 'refresh-token': <%b>},)", refresh),
        CODEX_AUTH_CLIENT_TOKEN_TIMEOUT_MSEC, cancellable, callback, user_data);
}

/**
 * codex_auth_client_get_token_finish:
 * @self: a client
 * @result: the result passed to the callback
 * @error: return location for an error
 *
 * Fails with %CODEX_AUTH_ERROR_NOT_LOGGED_IN, %CODEX_AUTH_ERROR_LOGIN_REQUIRED
 * (sign in again), %CODEX_AUTH_ERROR_STORE_LOCKED or
 * %CODEX_AUTH_ERROR_STORE_ERROR when there is no token, with the reason
 * in the message; and with the call's error when the service cannot be
 * reached.
 *
 * Returns: (transfer full): the token; free it with g_free()
 */
char *
codex_auth_client_get_token_finish (CodexAuthClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr(GVariant) reply = call_finish (self, result, codex_auth_client_get_token_async, error);
  g_autoptr(GVariant) status = NULL;
  const char *token = "", *refresh_state = "", *store_state = "", *store_message = "", *message = "";

  if (reply == NULL)
    return NULL;
  status = g_variant_get_child_value (reply, 0);
  g_variant_lookup (status, "auth-token", "&s", &token);
  if (token[0] != '\0')
    {
      char *copy = g_strdup (token);

      wipe_string (token);
      return copy;
    }
  g_variant_lookup (status, "refresh-state", "&s", &refresh_state);
  g_variant_lookup (status, "store-state", "&s", &store_state);
  g_variant_lookup (status, "store-error-message", "&s", &store_message);
  g_variant_lookup (status, "refresh-error-message", "&s", &message);
  if (g_str_equal (refresh_state, "poisoned"))
    g_set_error (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_LOGIN_REQUIRED, "%s",
                 message[0] != '\0' ? message : "The sign-in failed for good: sign in again");
  else if (g_str_equal (store_state, "locked"))
    g_set_error (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_LOCKED, "%s",
                 store_message[0] != '\0' ? store_message : "The keyring is locked");
  else if (g_str_equal (store_state, "error") || g_str_equal (store_state, "unavailable"))
    g_set_error (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_ERROR, "%s",
                 store_message[0] != '\0' ? store_message : "The credential store cannot be used");
  else
    g_set_error_literal (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_NOT_LOGGED_IN, "Not signed in to Codex");
  return NULL;
}

/**
 * codex_auth_client_start_chatgpt_login_async:
 * @self: a client
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once the sign-in is under way
 * @user_data: data for @callback
 *
 * Starts a ChatGPT sign-in in the browser. Open the URL it gives; the end
 * comes as #CodexAuthClient::login-completed.
 */
void
codex_auth_client_start_chatgpt_login_async (CodexAuthClient *self, GCancellable *cancellable,
                                             GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (CODEX_AUTH_IS_CLIENT (self));
  call (self, codex_auth_client_start_chatgpt_login_async, "StartChatGptLogin", g_variant_new_parsed ("(@a{sv} {},)"),
        -1, cancellable, callback, user_data);
}

/**
 * codex_auth_client_start_chatgpt_login_finish:
 * @self: a client
 * @result: the result passed to the callback
 * @login_id: (out) (optional) (transfer full): the sign-in's id
 * @auth_url: (out) (optional) (transfer full): the URL to open
 * @error: return location for an error
 *
 * Returns: whether the sign-in started
 */
gboolean
codex_auth_client_start_chatgpt_login_finish (CodexAuthClient *self, GAsyncResult *result, char **login_id,
                                              char **auth_url, GError **error)
{
  g_autoptr(GVariant) reply = call_finish (self, result, codex_auth_client_start_chatgpt_login_async, error);

  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(ss)", login_id, auth_url);
  return TRUE;
}

/**
 * codex_auth_client_start_device_code_login_async:
 * @self: a client
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once the sign-in is under way
 * @user_data: data for @callback
 *
 * Starts a ChatGPT sign-in by device code: show the URL and the code it
 * gives; the end comes as #CodexAuthClient::login-completed.
 */
void
codex_auth_client_start_device_code_login_async (CodexAuthClient *self, GCancellable *cancellable,
                                                 GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (CODEX_AUTH_IS_CLIENT (self));
  call (self, codex_auth_client_start_device_code_login_async, "StartDeviceCodeLogin",
        g_variant_new_parsed ("(@a{sv} {},)"), -1, cancellable, callback, user_data);
}

/**
 * codex_auth_client_start_device_code_login_finish:
 * @self: a client
 * @result: the result passed to the callback
 * @login_id: (out) (optional) (transfer full): the sign-in's id
 * @verification_url: (out) (optional) (transfer full): the page to visit
 * @user_code: (out) (optional) (transfer full): the code to enter there
 * @error: return location for an error
 *
 * Returns: whether the sign-in started
 */
gboolean
codex_auth_client_start_device_code_login_finish (CodexAuthClient *self, GAsyncResult *result, char **login_id,
                                                  char **verification_url, char **user_code, GError **error)
{
  g_autoptr(GVariant) reply = call_finish (self, result, codex_auth_client_start_device_code_login_async, error);

  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(sss)", login_id, verification_url, user_code);
  return TRUE;
}

/**
 * codex_auth_client_cancel_login_async:
 * @self: a client
 * @login_id: the sign-in to cancel
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 */
void
codex_auth_client_cancel_login_async (CodexAuthClient *self, const char *login_id, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (CODEX_AUTH_IS_CLIENT (self));
  call (self, codex_auth_client_cancel_login_async, "CancelLogin", g_variant_new ("(s)", login_id), -1,
        cancellable, callback, user_data);
}

/**
 * codex_auth_client_cancel_login_finish:
 * @self: a client
 * @result: the result passed to the callback
 * @error: return location for an error
 *
 * Returns: whether it was cancelled
 */
gboolean
codex_auth_client_cancel_login_finish (CodexAuthClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr(GVariant) reply = call_finish (self, result, codex_auth_client_cancel_login_async, error);

  return reply != NULL;
}

/**
 * codex_auth_client_logout_async:
 * @self: a client
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Signs out: the service revokes the ChatGPT tokens (within 10 s) and
 * removes the credentials.
 */
void
codex_auth_client_logout_async (CodexAuthClient *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_return_if_fail (CODEX_AUTH_IS_CLIENT (self));
  call (self, codex_auth_client_logout_async, "Logout", NULL, -1, cancellable, callback, user_data);
}

/**
 * codex_auth_client_logout_finish:
 * @self: a client
 * @result: the result passed to the callback
 * @error: return location for an error
 *
 * Returns: whether the credentials were removed
 */
gboolean
codex_auth_client_logout_finish (CodexAuthClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr(GVariant) reply = call_finish (self, result, codex_auth_client_logout_async, error);

  return reply != NULL;
}

