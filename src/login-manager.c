/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "codex-authd-login"

#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "auth-error.h"
#include "daemon-log.h"
#include "login-manager.h"

typedef enum {
  LOGIN_KIND_BROWSER,
  LOGIN_KIND_DEVICE,
} LoginKind;

/* One sign-in, from its start to its end. References: the manager's slot,
 * each request in flight, and the handler of its callback server. */
typedef struct {
  int ref_count;
  LoginManager *manager; /* not a reference: the manager outlives its sign-ins (stop()) */
  char *id;
  LoginKind kind;
  GCancellable *cancellable; /* its requests */
  GTask *start_task;         /* the start, until answered */
  gboolean started;          /* the start was answered: "completed" will be emitted */
  gboolean committed;        /* tokens obtained, being stored: no longer cancellable */
  gboolean ended;
  guint timeout_id;
  guint retry_id; /* browser: the next bind attempt; device: the next poll */

  /* Browser. */
  SoupServer *server;
  guint port_index;
  guint attempt;
  gboolean cancel_sent;
  guint port;
  char *redirect_uri;
  char *state;
  CodexSecret *verifier;
  char *auth_url;
  SoupServerMessage *callback_msg; /* the callback, paused while the code is exchanged */

  /* Device code. */
  LoginDeviceCode device;
  char *verification_url;

  /* Between the code exchange and the store. */
  LoginTokens tokens;
  AuthRecord *record; /* from the tokens, without an API key */
} Login;

struct _LoginManager {
  GObject parent;
  AuthManager *auth;
  TokenClient *http;
  LoginSettings settings;
  Login *current;           /* the pending sign-in (or the one starting) */
  GPtrArray *retiring;      /* RetiringServer*: callback servers finishing their last page */
  GCancellable *cancellable; /* background requests (revocations) */
  int ops;                  /* requests and store changes in flight */
};

enum { SIGNAL_CHANGED, SIGNAL_COMPLETED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (LoginManager, login_manager, G_TYPE_OBJECT)

void
login_settings_clear (LoginSettings *settings)
{
  g_clear_pointer (&settings->issuer, g_free);
  g_clear_pointer (&settings->client_id, g_free);
  g_clear_pointer (&settings->revoke_url, g_free);
  g_clear_pointer (&settings->workspaces, g_strfreev);
}

void
logout_outcome_clear (LogoutOutcome *outcome)
{
  g_clear_pointer (&outcome->error, g_free);
}

/* ---- sign-ins ---------------------------------------------------------- */

static Login *
login_ref (Login *login)
{
  login->ref_count++;
  return login;
}

static void
login_unref (gpointer data)
{
  Login *login = data;

  if (login == NULL || --login->ref_count > 0)
    return;
  g_assert (login->server == NULL && login->callback_msg == NULL);
  g_free (login->id);
  g_clear_object (&login->cancellable);
  g_free (login->redirect_uri);
  g_free (login->state);
  codex_secret_free (login->verifier);
  g_free (login->auth_url);
  login_device_code_clear (&login->device);
  g_free (login->verification_url);
  login_tokens_clear (&login->tokens);
  g_clear_pointer (&login->record, auth_record_unref);
  g_free (login);
}

static const char *
kind_name (LoginKind kind)
{
  return kind == LOGIN_KIND_BROWSER ? "browser" : "device-code";
}

static void
op_begin (LoginManager *self)
{
  self->ops++;
}

static void
op_end (LoginManager *self)
{
  self->ops--;
}

/* A callback server whose sign-in ended: it stays until the last page went
 * out (or 3 s), so that the browser shows it, and is closed at once when
 * a new sign-in needs the port. */
typedef struct {
  LoginManager *manager;
  SoupServer *server;
  SoupServerMessage *msg;
  gulong finished_id;
  guint timeout_id;
} RetiringServer;

static void
retiring_free (RetiringServer *r)
{
  g_clear_handle_id (&r->timeout_id, g_source_remove);
  if (r->msg != NULL)
    {
      g_clear_signal_handler (&r->finished_id, r->msg);
      g_clear_object (&r->msg);
    }
  soup_server_disconnect (r->server);
  g_object_unref (r->server);
  g_free (r);
}

static gboolean
retiring_done_cb (gpointer user_data)
{
  RetiringServer *r = user_data;

  r->timeout_id = 0;
  g_ptr_array_remove (r->manager->retiring, r); /* frees it */
  return G_SOURCE_REMOVE;
}

static void
retiring_msg_finished_cb (SoupServerMessage *msg, gpointer user_data)
{
  RetiringServer *r = user_data;

  /* Closed from the main loop, not from inside libsoup's signal. */
  g_clear_signal_handler (&r->finished_id, r->msg);
  g_clear_handle_id (&r->timeout_id, g_source_remove);
  r->timeout_id = g_idle_add (retiring_done_cb, r);
}

static void
retire_server (LoginManager *self, SoupServer *server, SoupServerMessage *last)
{
  RetiringServer *r = g_new0 (RetiringServer, 1);

  r->manager = self;
  r->server = server; /* taken */
  if (last != NULL)
    {
      r->msg = g_object_ref (last);
      r->finished_id = g_signal_connect (last, "finished", G_CALLBACK (retiring_msg_finished_cb), r);
      r->timeout_id = g_timeout_add_seconds (3, retiring_done_cb, r);
    }
  else
    r->timeout_id = g_idle_add (retiring_done_cb, r);
  g_ptr_array_add (self->retiring, r);
}

static void
respond (SoupServerMessage *msg, guint status, const char *content_type, char *body)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (headers, "Connection", "close");
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_message_headers_replace (headers, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_TAKE, body, strlen (body));
}

static void
respond_page (SoupServerMessage *msg, char *html)
{
  respond (msg, SOUP_STATUS_OK, "text/html; charset=utf-8", html);
}

/* Ends @login: success, or failure with @code and @message (a sentence a
 * person can act on). @last: the server message whose answer must go out
 * before the callback server closes (NULL: none). */
static void
login_end (Login *login, gboolean success, LoginError code, const char *message, SoupServerMessage *last)
{
  LoginManager *self = login->manager;
  gboolean was_current = self->current == login;

  if (login->ended)
    return;
  login->ended = TRUE;
  g_cancellable_cancel (login->cancellable);
  g_clear_handle_id (&login->timeout_id, g_source_remove);
  g_clear_handle_id (&login->retry_id, g_source_remove);

  if (login->callback_msg != NULL)
    {
      if (!success)
        respond_page (login->callback_msg, login_error_page (message));
      soup_server_message_unpause (login->callback_msg);
      last = login->callback_msg;
    }
  if (login->server != NULL)
    retire_server (self, g_steal_pointer (&login->server), last);
  g_clear_object (&login->callback_msg);

  if (was_current)
    self->current = NULL;

  if (login->start_task != NULL)
    {
      /* Never answered: the caller gets the error, and no signal (it has
       * no login id). */
      GTask *task = g_steal_pointer (&login->start_task);
      CodexAuthError error = code == LOGIN_ERROR_DEVICE_LOGIN_DISABLED ? CODEX_AUTH_ERROR_DEVICE_LOGIN_DISABLED
                                                                        : CODEX_AUTH_ERROR_LOGIN_FAILED;

      g_task_return_new_error (task, CODEX_AUTH_ERROR, error, "%s", message);
      g_object_unref (task);
    }
  else if (login->started)
    {
      if (success)
        g_message ("Sign-in %s (%s) completed", login->id, kind_name (login->kind));
      else
        AUTH_LOG_EVENT (G_LOG_LEVEL_MESSAGE, AUTH_LOG_SIGNIN_FAILED, login_error_code (code),
                        "Sign-in %s (%s) ended: %s: %s", login->id, kind_name (login->kind),
                        login_error_code (code), message);
      /* PendingLogin changed, unless the new credentials' change published
       * it (store_record() took the sign-in out of the slot silently). */
      if (was_current || !success)
        g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
      g_signal_emit (self, signals[SIGNAL_COMPLETED], 0, login->id, success,
                     success ? "" : login_error_code (code), message);
    }
  login_unref (login); /* the slot's reference */
}

static void
login_fail (Login *login, LoginError code, const char *message)
{
  login_end (login, FALSE, code, message, NULL);
}

/* Ends the pending sign-in, if any, as cancelled. */
static void
cancel_current (LoginManager *self, const char *message)
{
  if (self->current != NULL)
    login_fail (self->current, LOGIN_ERROR_CANCELLED, message);
}

static gboolean
login_timeout_cb (gpointer user_data)
{
  Login *login = user_data;
  g_autofree char *message = g_strdup_printf ("The sign-in was not completed within %u minutes. Start it again.",
                                              (login->kind == LOGIN_KIND_BROWSER ? login->manager->settings.browser_timeout
                                                                                 : login->manager->settings.device_timeout) / 60);

  login->timeout_id = 0;
  login_fail (login, LOGIN_ERROR_TIMED_OUT, message);
  return G_SOURCE_REMOVE;
}

/* The start is answered: the sign-in is pending from now on. */
static void
login_started (Login *login)
{
  LoginManager *self = login->manager;
  guint timeout = login->kind == LOGIN_KIND_BROWSER ? self->settings.browser_timeout
                                                    : self->settings.device_timeout;
  GTask *task = g_steal_pointer (&login->start_task);

  login->started = TRUE;
  login->timeout_id = g_timeout_add_seconds (timeout, login_timeout_cb, login);
  g_message ("Sign-in %s (%s) started", login->id, kind_name (login->kind));
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static Login *
login_new (LoginManager *self, LoginKind kind, GTask *task)
{
  Login *login = g_new0 (Login, 1);

  login->ref_count = 1; /* the slot's */
  login->manager = self;
  login->kind = kind;
  login->id = g_uuid_string_random ();
  login->cancellable = g_cancellable_new ();
  login->start_task = task;
  /* One at a time: the one before ends now. */
  cancel_current (self, "Another sign-in was started.");
  self->current = login;
  return login;
}

/* ---- storing the tokens ------------------------------------------------ */

typedef struct {
  Login *login;
  CodexSecret *old_refresh_token; /* revoked after the store when it changed */
} StoreData;

static void revoke_async (LoginManager *self, const char *token, const char *hint, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data);
static gboolean revoke_finish (GAsyncResult *result, char **error_message);

static void
background_revoke_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LoginManager *self = user_data;
  g_autofree char *error = NULL;

  if (!revoke_finish (result, &error))
    AUTH_LOG_EVENT (G_LOG_LEVEL_MESSAGE, AUTH_LOG_REVOKE_FAILED, NULL,
                    "The refresh token replaced by the new sign-in could not be revoked: %s", error);
  else
    g_message ("Revoked the refresh token the new sign-in replaced");
  op_end (self);
  g_object_unref (self);
}

static void
stored_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  StoreData *data = user_data;
  Login *login = data->login;
  LoginManager *self = login->manager;
  g_autoptr(GError) error = NULL;

  if (!auth_manager_login_finish (AUTH_MANAGER (source), result, &error))
    {
      g_autofree char *message = g_strdup_printf ("Signed in, but the credentials could not be saved: %s",
                                                  error->message);
      login_fail (login, LOGIN_ERROR_STORE_FAILED, message);
    }
  else
    {
      AuthStatus status = { 0 };
      g_autofree char *message = NULL;
      const char *new_refresh = login->tokens.refresh_token;

      auth_manager_get_status (self->auth, &status);
      message = status.email != NULL && status.email[0] != '\0'
                    ? g_strdup_printf ("Signed in as %s.", status.email)
                    : g_strdup ("Signed in.");
      if (login->callback_msg != NULL)
        respond_page (login->callback_msg, login_success_page (status.email));
      auth_status_clear (&status);
      /* Like `codex login`: the refresh token this sign-in replaced is
       * revoked, best-effort, when it is another one. */
      if (self->settings.revoke && data->old_refresh_token != NULL &&
          g_strcmp0 (data->old_refresh_token, new_refresh) != 0)
        {
          op_begin (self);
          revoke_async (self, data->old_refresh_token, "refresh_token", self->cancellable,
                        background_revoke_done_cb, g_object_ref (self));
        }
      login_end (login, TRUE, 0, message, NULL);
    }
  codex_secret_free (data->old_refresh_token);
  g_free (data);
  login_unref (login);
  op_end (self);
}

static void
store_record (Login *login, AuthRecord *record)
{
  LoginManager *self = login->manager;
  StoreData *data = g_new0 (StoreData, 1);
  const char *hint = NULL;

  data->login = login_ref (login);
  data->old_refresh_token = auth_manager_dup_revocable_token (self->auth, &hint);
  if (g_strcmp0 (hint, "refresh_token") != 0)
    g_clear_pointer (&data->old_refresh_token, codex_secret_free);
  /* From here the sign-in cannot be cancelled. It leaves the slot without
   * a signal of its own: the credentials' PropertiesChanged carries
   * PendingLogin too. */
  login->committed = TRUE;
  if (self->current == login)
    self->current = NULL;
  op_begin (self);
  auth_manager_login_async (self->auth, record, stored_cb, data);
}

/* ---- the code exchange ------------------------------------------------- */

static gboolean
workspace_allowed (LoginManager *self, AuthRecord *record, char **message)
{
  const char *account = auth_record_get_account_id (record);
  g_autofree char *list = NULL;

  if (self->settings.workspaces == NULL || self->settings.workspaces[0] == NULL)
    return TRUE;
  if (account != NULL && g_strv_contains ((const char *const *) self->settings.workspaces, account))
    return TRUE;
  list = g_strjoinv (", ", self->settings.workspaces);
  *message = g_strdup_printf ("Sign-in is restricted to workspace id(s) %s. Sign in with an account of "
                              "one of them.", list);
  return FALSE;
}

static AuthRecord *
record_from_tokens (Login *login, const char *api_key, GError **error)
{
  return auth_record_new_chatgpt (login->tokens.id_token, login->tokens.access_token,
                                  login->tokens.refresh_token, api_key, g_get_real_time (), error);
}

static void
api_key_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Login *login = user_data;
  LoginManager *self = login->manager;
  g_autoptr(HttpReply) reply = token_client_request_finish (self->http, result);
  g_autoptr(CodexSecret) key = NULL;
  g_autoptr(AuthRecord) with_key = NULL;

  op_end (self);
  if (!login->ended)
    {
      key = login_parse_api_key (reply->status, reply->body, reply->body_len);
      if (key == NULL)
        g_message ("Sign-in %s: no API key from the token exchange (HTTP %u); OPENAI_API_KEY stays null",
                   login->id, reply->status);
      else
        with_key = record_from_tokens (login, key, NULL);
      store_record (login, with_key != NULL ? with_key : login->record);
    }
  login_unref (login);
}

static void
exchange_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Login *login = user_data;
  LoginManager *self = login->manager;
  g_autoptr(HttpReply) reply = token_client_request_finish (self->http, result);
  g_autoptr(AuthRecord) record = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  const char *what = login->kind == LOGIN_KIND_DEVICE ? "Device code exchange" : "Token exchange";

  op_end (self);
  if (login->ended)
    goto out;
  if (http_reply_failure (reply) != NULL ||
      !login_parse_code_exchange (reply->status, reply->body, reply->body_len, &login->tokens, &error))
    {
      message = g_strdup_printf ("%s failed: %s. Start the sign-in again.", what,
                                 error != NULL ? error->message : http_reply_failure (reply));
      login_fail (login, LOGIN_ERROR_EXCHANGE_FAILED, message);
      goto out;
    }
  record = record_from_tokens (login, NULL, &error);
  if (record == NULL)
    {
      message = g_strdup_printf ("%s failed: %s. Start the sign-in again.", what, error->message);
      login_fail (login, LOGIN_ERROR_EXCHANGE_FAILED, message);
      goto out;
    }
  if (!workspace_allowed (self, record, &message))
    {
      login_fail (login, LOGIN_ERROR_WORKSPACE_RESTRICTED, message);
      goto out;
    }
  if (login->kind == LOGIN_KIND_BROWSER)
    {
      /* Best-effort, as `codex login` does: the id_token for an API key. */
      login->record = g_steal_pointer (&record);
      g_autofree char *url = login_issuer_endpoint (self->settings.issuer, "/oauth/token");

      op_begin (self);
      token_client_request_async (self->http, "POST", url, "application/x-www-form-urlencoded",
                                  login_api_key_exchange_body (self->settings.client_id, login->tokens.id_token),
                                  LOGIN_REVOKE_TIMEOUT_SECONDS, login->cancellable, api_key_done_cb,
                                  login_ref (login));
      goto out;
    }
  store_record (login, record);
out:
  login_unref (login);
}

static void
exchange_code (Login *login, const char *code, const char *redirect_uri, const char *verifier)
{
  LoginManager *self = login->manager;
  g_autofree char *url = login_issuer_endpoint (self->settings.issuer, "/oauth/token");

  op_begin (self);
  token_client_request_async (self->http, "POST", url, "application/x-www-form-urlencoded",
                              login_code_exchange_body (code, redirect_uri, self->settings.client_id, verifier),
                              0, login->cancellable, exchange_done_cb, login_ref (login));
}

/* ---- the browser flow -------------------------------------------------- */

static const char *
query_get (GHashTable *query, const char *name)
{
  return query != NULL ? g_hash_table_lookup (query, name) : NULL;
}

static void
handle_callback (Login *login, SoupServerMessage *msg, GHashTable *query)
{
  const char *error = query_get (query, "error");
  const char *code = query_get (query, "code");

  if (!login_state_matches (query_get (query, "state"), login->state))
    {
      /* Another sign-in's callback, or a forged one: this one goes on. */
      g_message ("Sign-in %s: a callback with a wrong state was refused", login->id);
      respond (msg, SOUP_STATUS_BAD_REQUEST, "text/plain; charset=utf-8", g_strdup ("State mismatch"));
      return;
    }
  if (login->callback_msg != NULL || login->committed)
    {
      respond (msg, SOUP_STATUS_CONFLICT, "text/plain; charset=utf-8",
               g_strdup ("This sign-in is already being completed."));
      return;
    }
  if (error != NULL && error[0] != '\0')
    {
      LoginError kind;
      g_autofree char *message = login_provider_error_message (error, query_get (query, "error_description"),
                                                               &kind);

      respond_page (msg, login_error_page (message));
      login_end (login, FALSE, kind, message, msg);
      return;
    }
  if (code == NULL || code[0] == '\0')
    {
      const char *message = "Missing authorization code. Sign-in could not be completed: start it again.";

      respond_page (msg, login_error_page (message));
      login_end (login, FALSE, LOGIN_ERROR_MISSING_CODE, message, msg);
      return;
    }
  if (strlen (code) > LOGIN_MAX_FIELD_SIZE)
    {
      const char *message = "The authorization code is too long. Sign-in could not be completed: start it again.";

      respond_page (msg, login_error_page (message));
      login_end (login, FALSE, LOGIN_ERROR_MISSING_CODE, message, msg);
      return;
    }
  /* Answered once the code is exchanged and the tokens stored. */
  login->callback_msg = g_object_ref (msg);
  soup_server_message_pause (msg);
  exchange_code (login, code, login->redirect_uri, login->verifier);
}

static void
server_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer user_data)
{
  Login *login = user_data;
  const char *method = soup_server_message_get_method (msg);

  if (g_strcmp0 (method, "GET") != 0 && g_strcmp0 (method, "HEAD") != 0)
    {
      respond (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", g_strdup ("Method not allowed"));
      return;
    }
  if (g_strcmp0 (path, "/cancel") == 0)
    {
      /* What `codex login` asks of the server on its port before it takes
       * the port over. */
      respond (msg, SOUP_STATUS_OK, "text/plain; charset=utf-8", g_strdup ("Login cancelled"));
      if (!login->ended && !login->committed)
        login_end (login, FALSE, LOGIN_ERROR_CANCELLED,
                   "The sign-in was cancelled by another program that needed its port.", msg);
      return;
    }
  if (g_strcmp0 (path, LOGIN_CALLBACK_PATH) == 0)
    {
      if (login->ended)
        respond_page (msg, login_error_page ("This sign-in has ended. Start it again from your application."));
      else
        handle_callback (login, msg, query);
      return;
    }
  respond (msg, SOUP_STATUS_NOT_FOUND, "text/plain; charset=utf-8", g_strdup ("Not found"));
}

static void try_bind (Login *login);

static gboolean
retry_bind_cb (gpointer user_data)
{
  Login *login = user_data;

  login->retry_id = 0;
  try_bind (login);
  return G_SOURCE_REMOVE;
}

static void
cancel_request_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Login *login = user_data;
  g_autoptr(HttpReply) reply = token_client_request_finish (login->manager->http, result);

  op_end (login->manager);
  g_debug ("Port %u: the /cancel request got HTTP %u", login->port, reply->status);
  if (!login->ended)
    try_bind (login);
  login_unref (login);
}

/* Listens on 127.0.0.1 (required) and ::1 (when the system has IPv6) on
 * the current port; retries and falls back like `codex login` does. */
static void
try_bind (Login *login)
{
  LoginManager *self = login->manager;
  g_autoptr(GSocketAddress) v4 = NULL;
  g_autoptr(GSocketAddress) v6 = NULL;
  g_autoptr(GError) error = NULL;
  guint port = self->settings.ports[login->port_index];

  login->port = port;
  /* A server of an earlier sign-in of ours still finishing its page. */
  g_ptr_array_set_size (self->retiring, 0);

  v4 = g_inet_socket_address_new_from_string ("127.0.0.1", port);
  if (soup_server_listen (login->server, v4, 0, &error))
    {
      g_autoptr(GError) v6_error = NULL;
      GTask *task = login->start_task;

      v6 = g_inet_socket_address_new_from_string ("::1", port);
      if (!soup_server_listen (login->server, v6, 0, &v6_error))
        g_debug ("Sign-in %s: not listening on [::1]:%u: %s", login->id, port, v6_error->message);
      login->redirect_uri = g_strdup_printf ("http://localhost:%u" LOGIN_CALLBACK_PATH, port);
      {
        g_autofree char *challenge = login_pkce_challenge (login->verifier);
        login->auth_url = login_authorize_url (self->settings.issuer, self->settings.client_id,
                                               login->redirect_uri, challenge, login->state, LOGIN_ORIGINATOR,
                                               (const char *const *) self->settings.workspaces);
      }
      g_debug ("Sign-in %s: callback server on localhost:%u", login->id, port);
      g_task_set_task_data (task, login_ref (login), login_unref);
      login_started (login);
      return;
    }
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
    {
      g_autofree char *message = g_strdup_printf ("Cannot listen on 127.0.0.1:%u for the sign-in: %s", port,
                                                  error->message);
      login_fail (login, LOGIN_ERROR_PORT_BUSY, message);
      return;
    }
  if (login->port_index == 0 && !login->cancel_sent)
    {
      /* Maybe another program's login server: ask it to stop, once. */
      g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/cancel", port);

      login->cancel_sent = TRUE;
      op_begin (self);
      token_client_request_async (self->http, "GET", url, NULL, NULL, LOGIN_CANCEL_TIMEOUT_SECONDS,
                                  login->cancellable, cancel_request_done_cb, login_ref (login));
      return;
    }
  if (++login->attempt < LOGIN_BIND_ATTEMPTS)
    {
      login->retry_id = g_timeout_add (LOGIN_BIND_RETRY_MS, retry_bind_cb, login);
      return;
    }
  if (login->port_index + 1 < self->settings.n_ports)
    {
      g_message ("Port %u is in use; trying %u", port, self->settings.ports[login->port_index + 1]);
      login->port_index++;
      login->attempt = 0;
      try_bind (login);
      return;
    }
  {
    g_autofree char *message = g_strdup_printf ("Port 127.0.0.1:%u is already in use: close the program "
                                                "that holds it (another sign-in?) and try again.", port);
    login_fail (login, LOGIN_ERROR_PORT_BUSY, message);
  }
}

void
login_manager_start_browser_async (LoginManager *self, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  Login *login;

  g_task_set_source_tag (task, login_manager_start_browser_async);
  login = login_new (self, LOGIN_KIND_BROWSER, task);
  login->verifier = login_random_b64url (64);
  login->state = login_random_b64url (32);
  login->server = soup_server_new ("server-header", NULL, NULL);
  soup_server_add_handler (login->server, NULL, server_cb, login_ref (login), login_unref);
  try_bind (login);
}

gboolean
login_manager_start_browser_finish (LoginManager *self, GAsyncResult *result, char **login_id, char **auth_url,
                                    GError **error)
{
  Login *login = g_task_get_task_data (G_TASK (result));

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  *login_id = g_strdup (login->id);
  *auth_url = g_strdup (login->auth_url);
  return TRUE;
}

/* ---- the device-code flow ---------------------------------------------- */

static void schedule_poll (Login *login);

static void
poll_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Login *login = user_data;
  LoginManager *self = login->manager;
  g_autoptr(HttpReply) reply = token_client_request_finish (self->http, result);
  g_autoptr(GError) error = NULL;
  LoginDeviceGrant grant = { 0 };
  g_autofree char *redirect_uri = NULL;

  op_end (self);
  if (login->ended)
    goto out;
  if (http_reply_failure (reply) != NULL)
    {
      /* The network, not the sign-in, failed: ask again at the next turn. */
      g_message ("Sign-in %s: polling failed (%s); trying again", login->id, http_reply_failure (reply));
      schedule_poll (login);
      goto out;
    }
  switch (login_parse_device_token (reply->status, reply->body, reply->body_len, &grant, &error))
    {
    case LOGIN_POLL_PENDING:
      schedule_poll (login);
      break;
    case LOGIN_POLL_FAILED:
      login_fail (login, LOGIN_ERROR_DEVICE_AUTH_FAILED, error->message);
      break;
    case LOGIN_POLL_DONE:
      redirect_uri = login_issuer_endpoint (self->settings.issuer, "/deviceauth/callback");
      exchange_code (login, grant.authorization_code, redirect_uri, grant.code_verifier);
      break;
    }
  login_device_grant_clear (&grant);
out:
  login_unref (login);
}

static gboolean
poll_cb (gpointer user_data)
{
  Login *login = user_data;
  LoginManager *self = login->manager;
  g_autofree char *url = login_issuer_endpoint (self->settings.issuer, "/api/accounts/deviceauth/token");

  login->retry_id = 0;
  op_begin (self);
  token_client_request_async (self->http, "POST", url, "application/json",
                              login_device_token_body (login->device.device_auth_id, login->device.user_code),
                              LOGIN_START_TIMEOUT_SECONDS, login->cancellable, poll_done_cb, login_ref (login));
  return G_SOURCE_REMOVE;
}

static void
schedule_poll (Login *login)
{
  /* The server's interval; at least a second, so that an interval of 0
   * is no storm. */
  login->retry_id = g_timeout_add (MAX (login->device.interval, 1) * 1000, poll_cb, login);
}

static void
usercode_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Login *login = user_data;
  LoginManager *self = login->manager;
  g_autoptr(HttpReply) reply = token_client_request_finish (self->http, result);
  g_autoptr(GError) error = NULL;

  op_end (self);
  if (login->ended)
    goto out;
  if (http_reply_failure (reply) != NULL)
    {
      g_autofree char *message = g_strdup_printf ("Could not reach the sign-in server: %s. Try again later.",
                                                  http_reply_failure (reply));
      login_fail (login, LOGIN_ERROR_FAILED, message);
      goto out;
    }
  if (!login_parse_usercode (reply->status, reply->body, reply->body_len, &login->device, &error))
    {
      login_fail (login, error->code, error->message);
      goto out;
    }
  login->verification_url = login_issuer_endpoint (self->settings.issuer, "/codex/device");
  g_task_set_task_data (login->start_task, login_ref (login), login_unref);
  login_started (login);
  schedule_poll (login);
out:
  login_unref (login);
}

void
login_manager_start_device_async (LoginManager *self, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  g_autofree char *url = login_issuer_endpoint (self->settings.issuer, "/api/accounts/deviceauth/usercode");
  Login *login;

  g_task_set_source_tag (task, login_manager_start_device_async);
  login = login_new (self, LOGIN_KIND_DEVICE, task);
  op_begin (self);
  token_client_request_async (self->http, "POST", url, "application/json",
                              login_device_usercode_body (self->settings.client_id), LOGIN_START_TIMEOUT_SECONDS,
                              login->cancellable, usercode_done_cb, login_ref (login));
}

gboolean
login_manager_start_device_finish (LoginManager *self, GAsyncResult *result, char **login_id,
                                   char **verification_url, char **user_code, GError **error)
{
  Login *login = g_task_get_task_data (G_TASK (result));

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  *login_id = g_strdup (login->id);
  *verification_url = g_strdup (login->verification_url);
  *user_code = g_strdup (login->device.user_code);
  return TRUE;
}

/* ---- cancel, state ----------------------------------------------------- */

gboolean
login_manager_cancel (LoginManager *self, const char *login_id, GError **error)
{
  if (self->current == NULL || !self->current->started || g_strcmp0 (self->current->id, login_id) != 0)
    {
      g_set_error (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_NO_SUCH_LOGIN,
                   "No sign-in with this id is pending (it ended, or another one replaced it)");
      return FALSE;
    }
  login_fail (self->current, LOGIN_ERROR_CANCELLED, "The sign-in was cancelled.");
  return TRUE;
}

const char *
login_manager_get_pending (LoginManager *self)
{
  if (self->current == NULL || !self->current->started)
    return "";
  return kind_name (self->current->kind);
}

gboolean
login_manager_is_busy (LoginManager *self)
{
  return self->current != NULL || self->ops > 0;
}

/* ---- revocation and logout --------------------------------------------- */

typedef struct {
  const char *hint;    /* a static string */
  CodexSecret *token;  /* to keep it out of the error message */
} RevokeData;

static void
revoke_data_free (gpointer user_data)
{
  RevokeData *data = user_data;

  codex_secret_free (data->token);
  g_free (data);
}

static void
revoke_request_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  LoginManager *self = g_task_get_source_object (task);
  g_autoptr(HttpReply) reply = token_client_request_finish (self->http, result);
  RevokeData *data = g_task_get_task_data (task);
  const char *failure = http_reply_failure (reply);

  if (failure == NULL && reply->status >= 200 && reply->status < 300)
    g_task_return_boolean (task, TRUE);
  else if (failure == NULL)
    {
      g_autofree char *detail = login_error_detail (reply->body, reply->body_len);

      /* An endpoint that quotes the request would put the token in the
       * message, which is logged and returned. */
      login_scrub (detail, data->token);
      g_task_return_new_error (task, LOGIN_ERROR, LOGIN_ERROR_FAILED, "failed to revoke %s: HTTP %u: %s",
                               data->hint, reply->status, detail);
    }
  else
    g_task_return_new_error (task, LOGIN_ERROR, LOGIN_ERROR_FAILED, "failed to revoke %s: %s", data->hint,
                             reply->timed_out ? "no answer within 10 seconds" : failure);
  g_object_unref (task);
}

/* Revokes @token at the revoke endpoint, bounded by
 * LOGIN_REVOKE_TIMEOUT_SECONDS. */
static void
revoke_async (LoginManager *self, const char *token, const char *hint, GCancellable *cancellable,
              GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  RevokeData *data = g_new0 (RevokeData, 1);

  data->hint = hint;
  data->token = codex_secret_dup (token);
  g_task_set_task_data (task, data, revoke_data_free);
  token_client_request_async (self->http, "POST", self->settings.revoke_url, "application/json",
                              login_revoke_body (token, hint, self->settings.client_id),
                              LOGIN_REVOKE_TIMEOUT_SECONDS, cancellable, revoke_request_done_cb, task);
}

static gboolean
revoke_finish (GAsyncResult *result, char **error_message)
{
  g_autoptr(GError) error = NULL;

  if (g_task_propagate_boolean (G_TASK (result), &error))
    return TRUE;
  *error_message = g_strdup (error->message);
  return FALSE;
}

static void
logout_removed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  LoginManager *self = g_task_get_source_object (task);
  GError *error = NULL;

  op_end (self);
  if (!auth_manager_logout_finish (AUTH_MANAGER (source), result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
logout_remove (GTask *task)
{
  LoginManager *self = g_task_get_source_object (task);

  auth_manager_logout_async (self->auth, logout_removed_cb, task);
}

static void
logout_revoked_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  LogoutOutcome *outcome = g_task_get_task_data (task);
  g_autofree char *error = NULL;

  if (revoke_finish (result, &error))
    {
      outcome->revocation = "revoked";
      g_message ("Logout: revoked the %s", outcome->token_type);
    }
  else
    {
      /* Best-effort: the logout goes on. */
      outcome->revocation = "failed";
      outcome->error = g_steal_pointer (&error);
      AUTH_LOG_EVENT (G_LOG_LEVEL_WARNING, AUTH_LOG_REVOKE_FAILED, NULL,
                      "Logout: %s; removing the credentials anyway", outcome->error);
    }
  logout_remove (task);
}

static void
outcome_free (gpointer data)
{
  LogoutOutcome *outcome = data;

  logout_outcome_clear (outcome);
  g_free (outcome);
}

void
login_manager_logout_async (LoginManager *self, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  LogoutOutcome *outcome = g_new0 (LogoutOutcome, 1);
  g_autoptr(CodexSecret) token = NULL;
  const char *hint = NULL;

  g_task_set_source_tag (task, login_manager_logout_async);
  g_task_set_task_data (task, outcome, outcome_free);
  cancel_current (self, "The sign-in was cancelled by a logout.");
  op_begin (self);

  token = auth_manager_dup_revocable_token (self->auth, &hint);
  outcome->token_type = hint != NULL ? hint : "";
  outcome->revocation = token == NULL ? "none" : self->settings.revoke ? "revoked" : "disabled";
  if (token == NULL || !self->settings.revoke)
    {
      logout_remove (task);
      return;
    }
  revoke_async (self, token, hint, NULL, logout_revoked_cb, task);
}

gboolean
login_manager_logout_finish (LoginManager *self, GAsyncResult *result, LogoutOutcome *outcome, GError **error)
{
  LogoutOutcome *data = g_task_get_task_data (G_TASK (result));

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  outcome->revocation = data->revocation;
  outcome->token_type = data->token_type;
  outcome->error = g_strdup (data->error != NULL ? data->error : "");
  return TRUE;
}

/* ---- lifetime ---------------------------------------------------------- */

void
login_manager_stop (LoginManager *self)
{
  gint64 deadline = g_get_monotonic_time () + 12 * G_USEC_PER_SEC;

  cancel_current (self, "The service is shutting down.");
  g_cancellable_cancel (self->cancellable);
  /* Requests are cancelled; a logout's revocation and a store of a
   * sign-in finish (both are bounded). */
  while (self->ops > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_ptr_array_set_size (self->retiring, 0);
}

LoginManager *
login_manager_new (AuthManager *auth, TokenClient *http, const LoginSettings *settings)
{
  LoginManager *self = g_object_new (LOGIN_TYPE_MANAGER, NULL);

  self->auth = g_object_ref (auth);
  self->http = token_client_ref (http);
  self->settings = *settings;
  self->settings.issuer = g_strdup (settings->issuer != NULL ? settings->issuer : LOGIN_DEFAULT_ISSUER);
  self->settings.client_id = g_strdup (settings->client_id != NULL ? settings->client_id : TOKEN_CLIENT_ID);
  self->settings.revoke_url = settings->revoke_url != NULL
                                  ? g_strdup (settings->revoke_url)
                                  : login_issuer_endpoint (self->settings.issuer, "/oauth/revoke");
  self->settings.workspaces = g_strdupv (settings->workspaces);
  if (self->settings.n_ports == 0)
    {
      self->settings.ports[0] = LOGIN_DEFAULT_PORT;
      self->settings.ports[1] = LOGIN_FALLBACK_PORT;
      self->settings.n_ports = 2;
    }
  if (self->settings.browser_timeout == 0)
    self->settings.browser_timeout = LOGIN_BROWSER_TIMEOUT_SECONDS;
  if (self->settings.device_timeout == 0)
    self->settings.device_timeout = LOGIN_DEVICE_TIMEOUT_SECONDS;
  return self;
}

static void
login_manager_finalize (GObject *object)
{
  LoginManager *self = LOGIN_MANAGER (object);

  cancel_current (self, "The service is shutting down.");
  g_ptr_array_unref (self->retiring);
  g_clear_object (&self->cancellable);
  token_client_unref (self->http);
  g_clear_object (&self->auth);
  login_settings_clear (&self->settings);
  G_OBJECT_CLASS (login_manager_parent_class)->finalize (object);
}

static void
login_manager_init (LoginManager *self)
{
  self->retiring = g_ptr_array_new_with_free_func ((GDestroyNotify) retiring_free);
  self->cancellable = g_cancellable_new ();
}

static void
login_manager_class_init (LoginManagerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = login_manager_finalize;
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                          NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_COMPLETED] = g_signal_new ("completed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                            NULL, NULL, G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_BOOLEAN,
                                            G_TYPE_STRING, G_TYPE_STRING);
}
