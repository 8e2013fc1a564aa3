/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pending sign-in: one at a time, its life from start to end, the
 * exchange of its authorization code and the store of its tokens. The
 * flows themselves are in signin-browser.c and signin-device.c. */
#define G_LOG_DOMAIN "codex-authd-signin"

#include "config.h"

#include <string.h>

#include "auth-error.h"
#include "daemon-log.h"
#include "signin-private.h"

enum { SIGNAL_CHANGED, SIGNAL_COMPLETED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (SigninManager, signin_manager, G_TYPE_OBJECT)

/* ---- sign-ins ---------------------------------------------------------- */

Signin *
signin_ref (Signin *signin)
{
  signin->ref_count++;
  return signin;
}

void
signin_unref (gpointer data)
{
  Signin *signin = data;

  if (signin == NULL || --signin->ref_count > 0)
    return;
  g_assert (signin->server == NULL && signin->callback_msg == NULL);
  g_free (signin->id);
  g_clear_object (&signin->cancellable);
  g_free (signin->redirect_uri);
  g_free (signin->state);
  sensitive_free (signin->verifier);
  sensitive_free (signin->exchange_code);
  sensitive_free (signin->exchange_verifier);
  g_free (signin->auth_url);
  signin_device_code_clear (&signin->device);
  g_free (signin->verification_url);
  signin_tokens_clear (&signin->tokens);
  g_clear_pointer (&signin->record, auth_record_unref);
  cli_login_rules_free (signin->rules);
  g_free (signin);
}

static const char *
signin_kind_name (SigninKind kind)
{
  return kind == SIGNIN_KIND_BROWSER ? "browser" : "device-code";
}

void
signin_op_begin (SigninManager *self)
{
  self->ops++;
}

void
signin_op_end (SigninManager *self)
{
  self->ops--;
}

void
signin_end (Signin *signin, gboolean success, SigninError code, const char *message, SoupServerMessage *last)
{
  SigninManager *self = signin->manager;
  gboolean was_current = self->current == signin;

  if (signin->ended)
    return;
  signin->ended = TRUE;
  g_cancellable_cancel (signin->cancellable);
  g_clear_handle_id (&signin->timeout_id, g_source_remove);
  g_clear_handle_id (&signin->retry_id, g_source_remove);

  if (signin->callback_msg != NULL)
    {
      if (!success)
        signin_browser_respond_page (signin->callback_msg, signin_error_page (message));
      soup_server_message_unpause (signin->callback_msg);
      last = signin->callback_msg;
    }
  if (signin->server != NULL)
    signin_browser_retire_server (signin, last);
  g_clear_object (&signin->callback_msg);

  if (was_current)
    self->current = NULL;

  if (signin->start_task != NULL)
    {
      /* Never answered: the caller gets the error, and no signal (it has
       * no signin id). */
      GTask *task = g_steal_pointer (&signin->start_task);
      CodexAuthError error = code == SIGNIN_ERROR_DEVICE_LOGIN_DISABLED ? CODEX_AUTH_ERROR_DEVICE_LOGIN_DISABLED
                             : code == SIGNIN_ERROR_RESTRICTED          ? CODEX_AUTH_ERROR_NOT_SUPPORTED
                                                                        : CODEX_AUTH_ERROR_LOGIN_FAILED;

      g_task_return_new_error (task, CODEX_AUTH_ERROR, error, "%s", message);
      g_object_unref (task);
    }
  else if (signin->started)
    {
      if (success)
        g_message ("Sign-in %s (%s) completed", signin->id, signin_kind_name (signin->kind));
      else
        AUTH_LOG_EVENT (G_LOG_LEVEL_MESSAGE, AUTH_LOG_SIGNIN_FAILED, signin_error_code (code),
                        "Sign-in %s (%s) ended: %s: %s", signin->id, signin_kind_name (signin->kind),
                        signin_error_code (code), message);
      /* PendingLogin changed, unless the new credentials' change published
       * it (store_record() took the sign-in out of the slot silently). */
      if (was_current || !success)
        g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
      g_signal_emit (self, signals[SIGNAL_COMPLETED], 0, signin->id, success,
                     success ? "" : signin_error_code (code), message);
    }
  signin_unref (signin); /* the slot's reference */
}

void
signin_fail (Signin *signin, SigninError code, const char *message)
{
  signin_end (signin, FALSE, code, message, NULL);
}

void
signin_manager_cancel_pending (SigninManager *self, const char *message)
{
  if (self->current != NULL)
    signin_fail (self->current, SIGNIN_ERROR_CANCELLED, message);
}

static gboolean
signin_timeout_cb (gpointer user_data)
{
  Signin *signin = user_data;
  g_autofree char *message = g_strdup_printf ("The sign-in was not completed within %u minutes. Start it again.",
                                              (signin->kind == SIGNIN_KIND_BROWSER ? signin->manager->browser_timeout
                                                                                 : signin->manager->device_timeout) / 60);

  signin->timeout_id = 0;
  signin_fail (signin, SIGNIN_ERROR_TIMED_OUT, message);
  return G_SOURCE_REMOVE;
}

void
signin_started (Signin *signin)
{
  SigninManager *self = signin->manager;
  guint timeout = signin->kind == SIGNIN_KIND_BROWSER ? self->browser_timeout
                                                    : self->device_timeout;
  GTask *task = g_steal_pointer (&signin->start_task);

  signin->started = TRUE;
  signin->timeout_id = g_timeout_add_seconds (timeout, signin_timeout_cb, signin);
  g_message ("Sign-in %s (%s) started", signin->id, signin_kind_name (signin->kind));
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

Signin *
signin_new (SigninManager *self, SigninKind kind, GTask *task)
{
  Signin *signin = g_new0 (Signin, 1);

  signin->ref_count = 1; /* the slot's */
  signin->manager = self;
  signin->kind = kind;
  signin->id = g_uuid_string_random ();
  signin->cancellable = g_cancellable_new ();
  signin->start_task = task;
  /* One at a time: the one before ends now. */
  signin_manager_cancel_pending (self, "Another sign-in was started.");
  self->current = signin;
  return signin;
}

/* ---- storing the tokens ------------------------------------------------ */

typedef struct {
  Signin *signin;
  Sensitive *old_refresh_token; /* revoked after the store when it changed */
} StoreData;

static void
background_revoke_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SigninManager *self = user_data;
  g_autofree char *error = NULL;

  if (!revoker_revoke_finish (self->revoker, result, &error))
    AUTH_LOG_EVENT (G_LOG_LEVEL_MESSAGE, AUTH_LOG_REVOKE_FAILED, NULL,
                    "The refresh token replaced by the new sign-in could not be revoked: %s", error);
  else
    g_message ("Revoked the refresh token the new sign-in replaced");
  signin_op_end (self);
  g_object_unref (self);
}

static void
stored_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  StoreData *data = user_data;
  Signin *signin = data->signin;
  SigninManager *self = signin->manager;
  g_autoptr(GError) error = NULL;

  if (!auth_manager_login_finish (AUTH_MANAGER (source), result, &error))
    {
      g_autofree char *message = g_strdup_printf ("Signed in, but the credentials could not be saved: %s",
                                                  error->message);
      signin_fail (signin, SIGNIN_ERROR_STORE_FAILED, message);
    }
  else
    {
      AuthStatus status = { 0 };
      const char *new_refresh = signin->tokens.refresh_token;

      auth_manager_get_status (self->auth, &status);
      /* The page goes to this user's browser alone (the callback server
       * serves no one else); the page may name the account. */
      if (signin->callback_msg != NULL)
        signin_browser_respond_page (signin->callback_msg, signin_success_page (status.email));
      auth_status_clear (&status);
      /* Like `codex login`: the refresh token this sign-in replaced is
       * revoked, best-effort, when it is another one. */
      if (revoker_is_enabled (self->revoker) && data->old_refresh_token != NULL &&
          g_strcmp0 (data->old_refresh_token, new_refresh) != 0)
        {
          signin_op_begin (self);
          revoker_revoke_async (self->revoker, data->old_refresh_token, "refresh_token", self->cancellable,
                                background_revoke_done_cb, g_object_ref (self));
        }
      signin_end (signin, TRUE, 0, "Signed in.", NULL);
    }
  sensitive_free (data->old_refresh_token);
  g_free (data);
  signin_unref (signin);
  signin_op_end (self);
}

static void
store_record (Signin *signin, AuthRecord *record)
{
  SigninManager *self = signin->manager;
  StoreData *data = g_new0 (StoreData, 1);
  const char *hint = NULL;

  data->signin = signin_ref (signin);
  data->old_refresh_token = auth_manager_dup_revocable_token (self->auth, &hint);
  if (g_strcmp0 (hint, "refresh_token") != 0)
    g_clear_pointer (&data->old_refresh_token, sensitive_free);
  /* From here the sign-in cannot be cancelled. It leaves the slot without
   * a signal of its own: the credentials' PropertiesChanged carries
   * PendingLogin too. */
  signin->committed = TRUE;
  if (self->current == signin)
    self->current = NULL;
  signin_op_begin (self);
  auth_manager_login_async (self->auth, record, stored_cb, data);
}

/* ---- the code exchange ------------------------------------------------- */

static AuthRecord *
record_from_tokens (Signin *signin, const char *api_key, GError **error)
{
  return auth_record_new_chatgpt (signin->tokens.id_token, signin->tokens.access_token,
                                  signin->tokens.refresh_token, api_key, g_get_real_time (), error);
}

static void
api_key_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Signin *signin = user_data;
  SigninManager *self = signin->manager;
  g_autoptr(HttpReply) reply = http_client_request_finish (self->http, result);
  g_autoptr(Sensitive) key = NULL;
  g_autoptr(AuthRecord) with_key = NULL;

  signin_op_end (self);
  if (!signin->ended)
    {
      key = signin_parse_api_key (reply->status, reply->body, reply->body_len);
      if (key == NULL)
        g_message ("Sign-in %s: no API key from the token exchange (HTTP %u); OPENAI_API_KEY stays null",
                   signin->id, reply->status);
      else
        with_key = record_from_tokens (signin, key, NULL);
      store_record (signin, with_key != NULL ? with_key : signin->record);
    }
  signin_unref (signin);
}

static void
exchange_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Signin *signin = user_data;
  SigninManager *self = signin->manager;
  g_autoptr(HttpReply) reply = http_client_request_finish (self->http, result);
  g_autoptr(AuthRecord) record = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  const char *what = signin->kind == SIGNIN_KIND_DEVICE ? "Device code exchange" : "Token exchange";

  signin_op_end (self);
  if (signin->ended)
    goto out;
  if (http_reply_failure (reply) == NULL)
    {
      /* What the request carried, which an answer quoting it must not
       * carry into the message. */
      const char *secrets[] = { signin->exchange_code, signin->exchange_verifier, NULL };

      signin_parse_code_exchange (reply->status, reply->body, reply->body_len, secrets, &signin->tokens, &error);
    }
  g_clear_pointer (&signin->exchange_code, sensitive_free);
  g_clear_pointer (&signin->exchange_verifier, sensitive_free);
  if (http_reply_failure (reply) != NULL || error != NULL)
    {
      message = g_strdup_printf ("%s failed: %s. Start the sign-in again.", what,
                                 error != NULL ? error->message : http_reply_failure (reply));
      signin_fail (signin, SIGNIN_ERROR_EXCHANGE_FAILED, message);
      goto out;
    }
  record = record_from_tokens (signin, NULL, &error);
  if (record == NULL)
    {
      message = g_strdup_printf ("%s failed: %s. Start the sign-in again.", what, error->message);
      signin_fail (signin, SIGNIN_ERROR_EXCHANGE_FAILED, message);
      goto out;
    }
  message = signin_rules_check_account (self, signin->rules, auth_record_get_account_id (record));
  if (message != NULL)
    {
      signin_fail (signin, SIGNIN_ERROR_WORKSPACE_RESTRICTED, message);
      goto out;
    }
  if (signin->kind == SIGNIN_KIND_BROWSER)
    {
      /* Best-effort, as `codex login` does: the id_token for an API key. */
      signin->record = g_steal_pointer (&record);
      g_autofree char *url = signin_issuer_endpoint (self->issuer, ISSUER_TOKEN_PATH);

      signin_op_begin (self);
      http_client_request_async (self->http, "POST", url, "application/x-www-form-urlencoded",
                                  signin_api_key_exchange_body (CLI_CLIENT_ID, signin->tokens.id_token),
                                  REVOKE_TIMEOUT_SECONDS, signin->cancellable, api_key_done_cb,
                                  signin_ref (signin));
      goto out;
    }
  store_record (signin, record);
out:
  signin_unref (signin);
}

void
signin_exchange_code (Signin *signin, const char *code, const char *redirect_uri, const char *verifier)
{
  SigninManager *self = signin->manager;
  g_autofree char *url = signin_issuer_endpoint (self->issuer, ISSUER_TOKEN_PATH);

  g_clear_pointer (&signin->exchange_code, sensitive_free);
  g_clear_pointer (&signin->exchange_verifier, sensitive_free);
  signin->exchange_code = sensitive_dup (code);
  signin->exchange_verifier = sensitive_dup (verifier);
  signin_op_begin (self);
  http_client_request_async (self->http, "POST", url, "application/x-www-form-urlencoded",
                              signin_code_exchange_body (code, redirect_uri, CLI_CLIENT_ID, verifier),
                              0, signin->cancellable, exchange_done_cb, signin_ref (signin));
}

/* ---- the starts -------------------------------------------------------- */

static void
start_rules_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Signin *signin = user_data;
  SigninManager *self = signin->manager;
  g_autofree char *refusal = NULL;

  signin_op_end (self);
  signin->rules = signin_rules_read_finish (self, result);
  if (!signin->ended)
    {
      refusal = signin_rules_refusal (self, signin->rules, TRUE);
      if (refusal != NULL)
        signin_fail (signin, SIGNIN_ERROR_RESTRICTED, refusal);
      else if (signin->kind == SIGNIN_KIND_BROWSER)
        signin_browser_begin (signin);
      else
        signin_device_begin (signin);
    }
  signin_unref (signin);
}

/* A sign-in of @kind: the rules first, then its flow. */
static void
start (SigninManager *self, SigninKind kind, GTask *task)
{
  Signin *signin = signin_new (self, kind, task);

  signin_op_begin (self);
  signin_rules_read_async (self, signin->cancellable, start_rules_cb, signin_ref (signin));
}

void
signin_manager_start_browser_async (SigninManager *self, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);

  g_task_set_source_tag (task, signin_manager_start_browser_async);
  start (self, SIGNIN_KIND_BROWSER, task);
}

gboolean
signin_manager_start_browser_finish (SigninManager *self, GAsyncResult *result, char **login_id, char **auth_url,
                                     GError **error)
{
  Signin *signin = g_task_get_task_data (G_TASK (result));

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  *login_id = g_strdup (signin->id);
  *auth_url = g_strdup (signin->auth_url);
  return TRUE;
}

void
signin_manager_start_device_async (SigninManager *self, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);

  g_task_set_source_tag (task, signin_manager_start_device_async);
  start (self, SIGNIN_KIND_DEVICE, task);
}

gboolean
signin_manager_start_device_finish (SigninManager *self, GAsyncResult *result, char **login_id,
                                    char **verification_url, char **user_code, GError **error)
{
  Signin *signin = g_task_get_task_data (G_TASK (result));

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  *login_id = g_strdup (signin->id);
  *verification_url = g_strdup (signin->verification_url);
  *user_code = g_strdup (signin->device.user_code);
  return TRUE;
}

/* ---- logins with credentials given ------------------------------------- */

static void
login_stored_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  signin_op_end (g_task_get_source_object (task));
  if (!auth_manager_login_finish (AUTH_MANAGER (source), result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
login_rules_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  SigninManager *self = SIGNIN_MANAGER (source);
  AuthRecord *record = g_task_get_task_data (task);
  g_autoptr(CliLoginRules) rules = signin_rules_read_finish (self, result);
  gboolean chatgpt = auth_record_get_mode (record) == AUTH_MODE_CHATGPT;
  g_autofree char *refusal = signin_rules_refusal (self, rules, chatgpt);

  signin_op_end (self);
  if (refusal == NULL && chatgpt)
    refusal = signin_rules_check_account (self, rules, auth_record_get_account_id (record));
  if (refusal != NULL)
    {
      g_task_return_new_error (task, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_NOT_SUPPORTED, "%s", refusal);
      return;
    }
  signin_op_begin (self);
  auth_manager_login_async (self->auth, record, login_stored_cb, g_steal_pointer (&task));
}

void
signin_manager_login_async (SigninManager *self, AuthRecord *record, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);

  g_task_set_source_tag (task, signin_manager_login_async);
  g_task_set_task_data (task, auth_record_ref (record), (GDestroyNotify) auth_record_unref);
  signin_op_begin (self);
  signin_rules_read_async (self, NULL, login_rules_cb, task);
}

gboolean
signin_manager_login_finish (SigninManager *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- cancel, state ----------------------------------------------------- */

gboolean
signin_manager_cancel (SigninManager *self, const char *login_id, GError **error)
{
  if (self->current == NULL || !self->current->started || g_strcmp0 (self->current->id, login_id) != 0)
    {
      g_set_error (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_NO_SUCH_LOGIN,
                   "No sign-in with this id is pending (it ended, or another one replaced it)");
      return FALSE;
    }
  signin_fail (self->current, SIGNIN_ERROR_CANCELLED, "The sign-in was cancelled.");
  return TRUE;
}

const char *
signin_manager_get_pending (SigninManager *self)
{
  if (self->current == NULL || !self->current->started)
    return "";
  return signin_kind_name (self->current->kind);
}

gboolean
signin_manager_is_busy (SigninManager *self)
{
  return self->current != NULL || self->ops > 0;
}

/* ---- lifetime ---------------------------------------------------------- */

void
signin_manager_stop (SigninManager *self)
{
  gint64 deadline = g_get_monotonic_time () + 12 * G_USEC_PER_SEC;

  signin_manager_cancel_pending (self, "The service is shutting down.");
  g_cancellable_cancel (self->cancellable);
  /* Requests are cancelled; a logout's revocation and a store of a
   * sign-in finish (both are bounded). */
  while (self->ops > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_ptr_array_set_size (self->retiring, 0);
}

SigninManager *
signin_manager_new (AuthManager *auth, HttpClient *http, Revoker *revoker, const SigninSettings *settings)
{
  SigninManager *self = g_object_new (SIGNIN_TYPE_MANAGER, NULL);

  g_return_val_if_fail (settings->n_ports >= 1 && settings->n_ports <= SIGNIN_MAX_PORTS, self);
  self->auth = g_object_ref (auth);
  self->http = http_client_ref (http);
  self->revoker = revoker;
  self->issuer = g_strdup (settings->issuer);
  self->workspaces = g_strdupv ((char **) settings->workspaces);
  self->codex_home = g_strdup (settings->codex_home);
  memcpy (self->ports, settings->ports, settings->n_ports * sizeof self->ports[0]);
  self->n_ports = settings->n_ports;
  self->browser_timeout = settings->browser_timeout;
  self->device_timeout = settings->device_timeout;
  return self;
}

static void
signin_manager_finalize (GObject *object)
{
  SigninManager *self = SIGNIN_MANAGER (object);

  signin_manager_cancel_pending (self, "The service is shutting down.");
  g_ptr_array_unref (self->retiring);
  g_clear_object (&self->cancellable);
  http_client_unref (self->http);
  g_clear_object (&self->auth);
  g_free (self->issuer);
  g_strfreev (self->workspaces);
  g_free (self->codex_home);
  G_OBJECT_CLASS (signin_manager_parent_class)->finalize (object);
}

static void
signin_manager_init (SigninManager *self)
{
  self->retiring = g_ptr_array_new_with_free_func (signin_browser_free_retiring);
  self->cancellable = g_cancellable_new ();
}

static void
signin_manager_class_init (SigninManagerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = signin_manager_finalize;
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                          NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_COMPLETED] = g_signal_new ("completed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                            NULL, NULL, G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_BOOLEAN,
                                            G_TYPE_STRING, G_TYPE_STRING);
}
