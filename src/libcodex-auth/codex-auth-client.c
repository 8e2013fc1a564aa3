/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "CodexAuth"

#include "config.h"

#include "codex-auth.h"
#include "codex-auth-dbus.h"

/**
 * SECTION:codex-auth-client
 * @title: CodexAuthClient
 * @short_description: The Codex login, as codex-authd serves it
 *
 * A #CodexAuthClient follows org.codex.Auth1 on the session bus: its
 * properties mirror the service's, #CodexAuthClient:state sums them up in
 * one value to show, and notify signals tell when they change. It follows
 * the service going away (#CodexAuthClient:state becomes
 * %CODEX_AUTH_STATE_NOT_RUNNING) and coming back. Creating it starts the
 * service when it is not running.
 */

struct _CodexAuthClient {
  GObject parent;
  GDBusProxy *proxy;
  gulong props_id;
  gulong owner_id;
  gulong signal_id;
  CodexAuthState state;
  GDateTime *last_refresh;
  GDateTime *access_token_expires;
  GDateTime *next_refresh_attempt;
};

enum {
  PROP_0,
  PROP_STATE,
  PROP_RUNNING,
  PROP_AUTH_METHOD,
  PROP_ACCOUNT_ID,
  PROP_EMAIL,
  PROP_PLAN_TYPE,
  PROP_REFRESH_ERROR,
  PROP_REFRESH_ERROR_MESSAGE,
  PROP_CREDENTIAL_STORE,
  PROP_STORE_STATE,
  PROP_PENDING_LOGIN,
  PROP_VERSION,
  PROP_LAST_REFRESH,
  PROP_ACCESS_TOKEN_EXPIRES,
  PROP_NEXT_REFRESH_ATTEMPT,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

/* The string properties and the D-Bus property each mirrors. */
static const struct {
  guint prop;
  const char *dbus_name;
} string_props[] = {
  { PROP_AUTH_METHOD, "AuthMethod" },
  { PROP_ACCOUNT_ID, "AccountId" },
  { PROP_EMAIL, "Email" },
  { PROP_PLAN_TYPE, "PlanType" },
  { PROP_REFRESH_ERROR, "RefreshError" },
  { PROP_REFRESH_ERROR_MESSAGE, "RefreshErrorMessage" },
  { PROP_CREDENTIAL_STORE, "CredentialStore" },
  { PROP_STORE_STATE, "StoreState" },
  { PROP_PENDING_LOGIN, "PendingLogin" },
  { PROP_VERSION, "Version" },
};

enum { SIGNAL_LOGIN_COMPLETED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void codex_auth_client_async_initable_iface_init (GAsyncInitableIface *iface);
static void codex_auth_client_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CodexAuthClient, codex_auth_client, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_INITABLE,
                                                      codex_auth_client_async_initable_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, codex_auth_client_initable_iface_init))

/**
 * codex_auth_state_describe:
 * @state: a state
 *
 * The state in a few words, for a label.
 *
 * Returns: a constant string
 */
const char *
codex_auth_state_describe (CodexAuthState state)
{
  switch (state)
    {
    case CODEX_AUTH_STATE_NOT_RUNNING: return "Codex login service not running";
    case CODEX_AUTH_STATE_LOGGED_OUT: return "Not signed in";
    case CODEX_AUTH_STATE_READY: return "Ready";
    case CODEX_AUTH_STATE_REFRESHING: return "Refreshing the sign-in";
    case CODEX_AUTH_STATE_TEMPORARILY_FAILING: return "Temporarily failing, will retry";
    case CODEX_AUTH_STATE_LOG_IN_AGAIN: return "Sign in again";
    case CODEX_AUTH_STATE_STORE_LOCKED: return "Keyring locked";
    case CODEX_AUTH_STATE_STORE_ERROR: return "Credential store unavailable";
    default: return "Unknown";
    }
}

/* ---- the mirrored properties ------------------------------------------- */

static const char *
cached_string (CodexAuthClient *self, const char *name)
{
  g_autoptr(GVariant) value = NULL;

  if (self->proxy == NULL || g_dbus_proxy_get_name_owner (self->proxy) == NULL)
    return "";
  value = g_dbus_proxy_get_cached_property (self->proxy, name);
  if (value == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    return "";
  /* The cache holds its own reference: the string lives as long as it. */
  return g_variant_get_string (value, NULL);
}

/* Microseconds since the epoch into a UTC GDateTime; 0 (unknown) is NULL. */
static GDateTime *
cached_time (CodexAuthClient *self, const char *name)
{
  g_autoptr(GVariant) value = NULL;
  guint64 usec;

  if (self->proxy == NULL || g_dbus_proxy_get_name_owner (self->proxy) == NULL)
    return NULL;
  value = g_dbus_proxy_get_cached_property (self->proxy, name);
  if (value == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
    return NULL;
  usec = g_variant_get_uint64 (value);
  if (usec == 0 || usec > (guint64) G_MAXINT64)
    return NULL;
  {
    g_autoptr(GDateTime) seconds = g_date_time_new_from_unix_utc ((gint64) (usec / G_USEC_PER_SEC));

    return seconds != NULL ? g_date_time_add (seconds, (GTimeSpan) (usec % G_USEC_PER_SEC)) : NULL;
  }
}

static CodexAuthState
derive_state (CodexAuthClient *self)
{
  const char *method, *store, *refresh;

  if (self->proxy == NULL || g_dbus_proxy_get_name_owner (self->proxy) == NULL)
    return CODEX_AUTH_STATE_NOT_RUNNING;
  method = cached_string (self, "AuthMethod");
  store = cached_string (self, "StoreState");
  refresh = cached_string (self, "RefreshState");
  if (g_str_equal (refresh, "poisoned"))
    return CODEX_AUTH_STATE_LOG_IN_AGAIN;
  if (method[0] == '\0')
    {
      /* Nothing usable: why tells what the user can do. */
      if (g_str_equal (store, "locked"))
        return CODEX_AUTH_STATE_STORE_LOCKED;
      if (g_str_equal (store, "error") || g_str_equal (store, "unavailable"))
        return CODEX_AUTH_STATE_STORE_ERROR;
      return CODEX_AUTH_STATE_LOGGED_OUT;
    }
  if (g_str_equal (refresh, "refreshing"))
    return CODEX_AUTH_STATE_REFRESHING;
  if (g_str_equal (refresh, "backoff"))
    return CODEX_AUTH_STATE_TEMPORARILY_FAILING;
  return CODEX_AUTH_STATE_READY;
}

static gboolean
time_equal (GDateTime *a, GDateTime *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return g_date_time_equal (a, b);
}

static void
update_time (CodexAuthClient *self, GDateTime **field, const char *name, guint prop)
{
  g_autoptr(GDateTime) next = cached_time (self, name);

  if (time_equal (*field, next))
    return;
  g_clear_pointer (field, g_date_time_unref);
  *field = g_steal_pointer (&next);
  g_object_notify_by_pspec (G_OBJECT (self), props[prop]);
}

/* Re-reads everything and notifies what changed (@changed: the D-Bus
 * names that changed, NULL: any may have). */
static void
refresh_all (CodexAuthClient *self, GVariant *changed, const char *const *invalidated)
{
  CodexAuthState state;

  g_object_freeze_notify (G_OBJECT (self));
  for (guint i = 0; i < G_N_ELEMENTS (string_props); i++)
    {
      gboolean touched = changed == NULL;

      if (!touched)
        {
          g_autoptr(GVariant) v = g_variant_lookup_value (changed, string_props[i].dbus_name, NULL);
          touched = v != NULL || (invalidated != NULL &&
                                  g_strv_contains (invalidated, string_props[i].dbus_name));
        }
      if (touched)
        g_object_notify_by_pspec (G_OBJECT (self), props[string_props[i].prop]);
    }
  update_time (self, &self->last_refresh, "LastRefresh", PROP_LAST_REFRESH);
  update_time (self, &self->access_token_expires, "AccessTokenExpires", PROP_ACCESS_TOKEN_EXPIRES);
  update_time (self, &self->next_refresh_attempt, "NextRefreshAttempt", PROP_NEXT_REFRESH_ATTEMPT);
  state = derive_state (self);
  if (state != self->state)
    {
      self->state = state;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATE]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

static void
properties_changed_cb (GDBusProxy *proxy, GVariant *changed, const char *const *invalidated, gpointer user_data)
{
  refresh_all (user_data, changed, invalidated);
}

static void
name_owner_cb (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  CodexAuthClient *self = user_data;

  g_debug ("codex-authd %s", g_dbus_proxy_get_name_owner (self->proxy) != NULL ? "appeared" : "went away");
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_RUNNING]);
  refresh_all (self, NULL, NULL);
}

static void
signal_cb (GDBusProxy *proxy, const char *sender, const char *signal_name, GVariant *parameters,
           gpointer user_data)
{
  const char *id, *error, *message;
  gboolean success;

  if (!g_str_equal (signal_name, "LoginCompleted") || !g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sbss)")))
    return;
  g_variant_get (parameters, "(&sb&s&s)", &id, &success, &error, &message);
  g_signal_emit (user_data, signals[SIGNAL_LOGIN_COMPLETED], 0, id, success, error, message);
}

/* ---- construction ------------------------------------------------------ */

static void
attach_proxy (CodexAuthClient *self, GDBusProxy *proxy)
{
  self->proxy = proxy;
  self->props_id = g_signal_connect (proxy, "g-properties-changed", G_CALLBACK (properties_changed_cb), self);
  self->owner_id = g_signal_connect (proxy, "notify::g-name-owner", G_CALLBACK (name_owner_cb), self);
  self->signal_id = g_signal_connect (proxy, "g-signal", G_CALLBACK (signal_cb), self);
  refresh_all (self, NULL, NULL);
}

static void
proxy_ready_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  CodexAuthClient *self = g_task_get_source_object (task);
  GError *error = NULL;
  CodexAuthDBusAuth1 *proxy = codex_auth_dbus_auth1_proxy_new_for_bus_finish (result, &error);

  if (proxy == NULL)
    g_task_return_error (task, error);
  else
    {
      attach_proxy (self, G_DBUS_PROXY (proxy));
      g_task_return_boolean (task, TRUE);
    }
  g_object_unref (task);
}

static void
init_async (GAsyncInitable *initable, int io_priority, GCancellable *cancellable, GAsyncReadyCallback callback,
            gpointer user_data)
{
  GTask *task = g_task_new (initable, cancellable, callback, user_data);

  /* No DO_NOT_AUTO_START: the service is started if it is not running. */
  codex_auth_dbus_auth1_proxy_new_for_bus (G_BUS_TYPE_SESSION, G_DBUS_PROXY_FLAGS_NONE, "org.codex.Auth1",
                                           "/org/codex/Auth1", cancellable, proxy_ready_cb, task);
}

static gboolean
init_finish (GAsyncInitable *initable, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
codex_auth_client_async_initable_iface_init (GAsyncInitableIface *iface)
{
  iface->init_async = init_async;
  iface->init_finish = init_finish;
}

static gboolean
init_sync (GInitable *initable, GCancellable *cancellable, GError **error)
{
  CodexAuthDBusAuth1 *proxy = codex_auth_dbus_auth1_proxy_new_for_bus_sync (
    G_BUS_TYPE_SESSION, G_DBUS_PROXY_FLAGS_NONE, "org.codex.Auth1", "/org/codex/Auth1", cancellable, error);

  if (proxy == NULL)
    return FALSE;
  attach_proxy (CODEX_AUTH_CLIENT (initable), G_DBUS_PROXY (proxy));
  return TRUE;
}

static void
codex_auth_client_initable_iface_init (GInitableIface *iface)
{
  iface->init = init_sync;
}

/**
 * codex_auth_client_new:
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the client is ready
 * @user_data: data for @callback
 *
 * Connects to org.codex.Auth1 on the session bus (starting the service
 * when it is not running) and reads its properties.
 */
void
codex_auth_client_new (GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_async_initable_new_async (CODEX_AUTH_TYPE_CLIENT, G_PRIORITY_DEFAULT, cancellable, callback, user_data, NULL);
}

/**
 * codex_auth_client_new_finish:
 * @result: the result passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full): the client, or %NULL when the session bus
 *   cannot be reached
 */
CodexAuthClient *
codex_auth_client_new_finish (GAsyncResult *result, GError **error)
{
  g_autoptr(GObject) source = g_async_result_get_source_object (result);

  return CODEX_AUTH_CLIENT (g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, error));
}

/**
 * codex_auth_client_new_sync:
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * The blocking form of codex_auth_client_new(), for scripts and tests.
 *
 * Returns: (transfer full): the client, or %NULL when the session bus
 *   cannot be reached
 */
CodexAuthClient *
codex_auth_client_new_sync (GCancellable *cancellable, GError **error)
{
  return g_initable_new (CODEX_AUTH_TYPE_CLIENT, cancellable, error, NULL);
}

/* ---- getters ----------------------------------------------------------- */

/**
 * codex_auth_client_get_state:
 * @self: a client
 *
 * Returns: what to show about the login
 */
CodexAuthState
codex_auth_client_get_state (CodexAuthClient *self)
{
  g_return_val_if_fail (CODEX_AUTH_IS_CLIENT (self), CODEX_AUTH_STATE_NOT_RUNNING);
  return self->state;
}

/**
 * codex_auth_client_get_running:
 * @self: a client
 *
 * Returns: whether codex-authd is on the bus
 */
gboolean
codex_auth_client_get_running (CodexAuthClient *self)
{
  g_return_val_if_fail (CODEX_AUTH_IS_CLIENT (self), FALSE);
  return self->proxy != NULL && g_dbus_proxy_get_name_owner (self->proxy) != NULL;
}

#define STRING_GETTER(func, dbus_name)                                \
  const char *codex_auth_client_get_##func (CodexAuthClient *self)    \
  {                                                                   \
    g_return_val_if_fail (CODEX_AUTH_IS_CLIENT (self), "");           \
    return cached_string (self, dbus_name);                           \
  }

/**
 * codex_auth_client_get_auth_method:
 * @self: a client
 *
 * Returns: "" (no usable credentials), "apikey" or "chatgpt"
 */
STRING_GETTER (auth_method, "AuthMethod")
/**
 * codex_auth_client_get_account_id:
 * @self: a client
 *
 * Returns: the ChatGPT account (workspace) id, "" for an API key
 */
STRING_GETTER (account_id, "AccountId")
/**
 * codex_auth_client_get_email:
 * @self: a client
 *
 * Returns: the ChatGPT account's email address, "" when unknown
 */
STRING_GETTER (email, "Email")
/**
 * codex_auth_client_get_plan_type:
 * @self: a client
 *
 * Returns: the ChatGPT plan ("plus", "pro", ...), "" when unknown
 */
STRING_GETTER (plan_type, "PlanType")
/**
 * codex_auth_client_get_refresh_error:
 * @self: a client
 *
 * Returns: the code of the last refresh failure, "" when none
 */
STRING_GETTER (refresh_error, "RefreshError")
/**
 * codex_auth_client_get_refresh_error_message:
 * @self: a client
 *
 * Returns: the last refresh failure in words, "" when none
 */
STRING_GETTER (refresh_error_message, "RefreshErrorMessage")
/**
 * codex_auth_client_get_credential_store:
 * @self: a client
 *
 * Returns: "secret-service", "file" or "none"
 */
STRING_GETTER (credential_store, "CredentialStore")
/**
 * codex_auth_client_get_store_state:
 * @self: a client
 *
 * Returns: "ok", "locked", "unavailable" or "error" ("" when not running)
 */
STRING_GETTER (store_state, "StoreState")
/**
 * codex_auth_client_get_pending_login:
 * @self: a client
 *
 * Returns: "", "browser" or "device-code"
 */
STRING_GETTER (pending_login, "PendingLogin")
/**
 * codex_auth_client_get_version:
 * @self: a client
 *
 * Returns: the service's version, "" when not running
 */
STRING_GETTER (version, "Version")

/**
 * codex_auth_client_get_last_refresh:
 * @self: a client
 *
 * Returns: (transfer none) (nullable): when the ChatGPT tokens were last
 *   refreshed, %NULL when unknown
 */
GDateTime *
codex_auth_client_get_last_refresh (CodexAuthClient *self)
{
  g_return_val_if_fail (CODEX_AUTH_IS_CLIENT (self), NULL);
  return self->last_refresh;
}

/**
 * codex_auth_client_get_access_token_expires:
 * @self: a client
 *
 * Returns: (transfer none) (nullable): when the ChatGPT access token
 *   expires, %NULL when unknown
 */
GDateTime *
codex_auth_client_get_access_token_expires (CodexAuthClient *self)
{
  g_return_val_if_fail (CODEX_AUTH_IS_CLIENT (self), NULL);
  return self->access_token_expires;
}

/**
 * codex_auth_client_get_next_refresh_attempt:
 * @self: a client
 *
 * Returns: (transfer none) (nullable): while temporarily failing, the
 *   earliest time a refresh is tried again; %NULL otherwise
 */
GDateTime *
codex_auth_client_get_next_refresh_attempt (CodexAuthClient *self)
{
  g_return_val_if_fail (CODEX_AUTH_IS_CLIENT (self), NULL);
  return self->next_refresh_attempt;
}

/* ---- calls ------------------------------------------------------------- */

static gboolean
check_proxy (CodexAuthClient *self, GTask *task)
{
  if (self->proxy != NULL)
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
  g_dbus_proxy_call (self->proxy, method, parameters, G_DBUS_CALL_FLAGS_NONE, timeout_msec, cancellable,
                     call_done_cb, task);
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
    return g_strdup (token);
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

/* ---- GObject ----------------------------------------------------------- */

static void
codex_auth_client_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CodexAuthClient *self = CODEX_AUTH_CLIENT (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      return;
    case PROP_RUNNING:
      g_value_set_boolean (value, codex_auth_client_get_running (self));
      return;
    case PROP_LAST_REFRESH:
      g_value_set_boxed (value, self->last_refresh);
      return;
    case PROP_ACCESS_TOKEN_EXPIRES:
      g_value_set_boxed (value, self->access_token_expires);
      return;
    case PROP_NEXT_REFRESH_ATTEMPT:
      g_value_set_boxed (value, self->next_refresh_attempt);
      return;
    default:
      for (guint i = 0; i < G_N_ELEMENTS (string_props); i++)
        if (string_props[i].prop == prop_id)
          {
            g_value_set_string (value, cached_string (self, string_props[i].dbus_name));
            return;
          }
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
codex_auth_client_dispose (GObject *object)
{
  CodexAuthClient *self = CODEX_AUTH_CLIENT (object);

  if (self->proxy != NULL)
    {
      g_clear_signal_handler (&self->props_id, self->proxy);
      g_clear_signal_handler (&self->owner_id, self->proxy);
      g_clear_signal_handler (&self->signal_id, self->proxy);
      g_clear_object (&self->proxy);
    }
  g_clear_pointer (&self->last_refresh, g_date_time_unref);
  g_clear_pointer (&self->access_token_expires, g_date_time_unref);
  g_clear_pointer (&self->next_refresh_attempt, g_date_time_unref);
  G_OBJECT_CLASS (codex_auth_client_parent_class)->dispose (object);
}

static void
codex_auth_client_init (CodexAuthClient *self)
{
  self->state = CODEX_AUTH_STATE_NOT_RUNNING;
}

static GParamSpec *
string_pspec (const char *name, const char *blurb)
{
  return g_param_spec_string (name, NULL, blurb, "", G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
}

static GParamSpec *
time_pspec (const char *name, const char *blurb)
{
  return g_param_spec_boxed (name, NULL, blurb, G_TYPE_DATE_TIME,
                             G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
}

static void
codex_auth_client_class_init (CodexAuthClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = codex_auth_client_get_property;
  object_class->dispose = codex_auth_client_dispose;

  /**
   * CodexAuthClient:state:
   *
   * What to show about the login: one value derived from the service's
   * properties.
   */
  props[PROP_STATE] = g_param_spec_enum ("state", NULL, "What to show about the login", codex_auth_state_get_type (),
                                         CODEX_AUTH_STATE_NOT_RUNNING,
                                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * CodexAuthClient:running:
   *
   * Whether codex-authd is on the bus.
   */
  props[PROP_RUNNING] = g_param_spec_boolean ("running", NULL, "Whether codex-authd is on the bus", FALSE,
                                              G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * CodexAuthClient:auth-method:
   *
   * "" (no usable credentials), "apikey" or "chatgpt".
   */
  props[PROP_AUTH_METHOD] = string_pspec ("auth-method", "\"\", \"apikey\" or \"chatgpt\"");
  /**
   * CodexAuthClient:account-id:
   *
   * The ChatGPT account (workspace) id.
   */
  props[PROP_ACCOUNT_ID] = string_pspec ("account-id", "The ChatGPT account id");
  /**
   * CodexAuthClient:email:
   *
   * The ChatGPT account's email address.
   */
  props[PROP_EMAIL] = string_pspec ("email", "The ChatGPT account's email address");
  /**
   * CodexAuthClient:plan-type:
   *
   * The ChatGPT plan.
   */
  props[PROP_PLAN_TYPE] = string_pspec ("plan-type", "The ChatGPT plan");
  /**
   * CodexAuthClient:refresh-error:
   *
   * The code of the last refresh failure.
   */
  props[PROP_REFRESH_ERROR] = string_pspec ("refresh-error", "The code of the last refresh failure");
  /**
   * CodexAuthClient:refresh-error-message:
   *
   * The last refresh failure in words.
   */
  props[PROP_REFRESH_ERROR_MESSAGE] = string_pspec ("refresh-error-message", "The last refresh failure in words");
  /**
   * CodexAuthClient:credential-store:
   *
   * "secret-service", "file" or "none".
   */
  props[PROP_CREDENTIAL_STORE] = string_pspec ("credential-store", "Where the credentials are kept");
  /**
   * CodexAuthClient:store-state:
   *
   * "ok", "locked", "unavailable" or "error".
   */
  props[PROP_STORE_STATE] = string_pspec ("store-state", "The state of the credential store");
  /**
   * CodexAuthClient:pending-login:
   *
   * "", "browser" or "device-code".
   */
  props[PROP_PENDING_LOGIN] = string_pspec ("pending-login", "The sign-in under way");
  /**
   * CodexAuthClient:version:
   *
   * The service's version.
   */
  props[PROP_VERSION] = string_pspec ("version", "The service's version");
  /**
   * CodexAuthClient:last-refresh:
   *
   * When the ChatGPT tokens were last refreshed (UTC), %NULL when unknown.
   */
  props[PROP_LAST_REFRESH] = time_pspec ("last-refresh", "When the tokens were last refreshed");
  /**
   * CodexAuthClient:access-token-expires:
   *
   * When the ChatGPT access token expires (UTC), %NULL when unknown.
   */
  props[PROP_ACCESS_TOKEN_EXPIRES] = time_pspec ("access-token-expires", "When the access token expires");
  /**
   * CodexAuthClient:next-refresh-attempt:
   *
   * While temporarily failing, the earliest retry (UTC); %NULL otherwise.
   */
  props[PROP_NEXT_REFRESH_ATTEMPT] = time_pspec ("next-refresh-attempt", "The earliest retry");
  g_object_class_install_properties (object_class, N_PROPS, props);

  /**
   * CodexAuthClient::login-completed:
   * @self: the client
   * @login_id: the sign-in that ended
   * @success: whether the new credentials are in use
   * @error: "" on success, else a stable code ("cancelled", "timed-out",
   *   "access-denied", ...)
   * @message: one sentence to show
   *
   * A ChatGPT sign-in (started by any app) ended.
   */
  signals[SIGNAL_LOGIN_COMPLETED] = g_signal_new ("login-completed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                                  0, NULL, NULL, NULL, G_TYPE_NONE, 4, G_TYPE_STRING,
                                                  G_TYPE_BOOLEAN, G_TYPE_STRING, G_TYPE_STRING);
}
