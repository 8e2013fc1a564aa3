/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CodexAuthClient: the service's properties mirrored from the bus (the
 * list is auth-status.h's), the state derived from them, and the
 * client's construction. The method calls are in codex-auth-calls.c. */
#define G_LOG_DOMAIN "CodexAuth"

#include "config.h"

#include "auth-status.h"
#include "codex-auth.h"
#include "codex-auth-client-private.h"
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
 *
 * The strings and #GDateTime values the getters return belong to the
 * client and stay valid until the next notify of that property: copy what
 * you keep. Token replies are wiped from memory once handed over.
 */

enum {
  PROP_0,
  PROP_STATE,
  PROP_RUNNING,
#define PROP_ID(name, key, type, field, change, label, doc) PROP_##field,
  AUTH_PROPERTIES (PROP_ID)
#undef PROP_ID
  N_PROPS
};
static GParamSpec *props[N_PROPS];

/* One row per property of the service, from its one list. */
typedef struct {
  guint prop;
  const char *dbus_name;
  const char *name; /* the GObject property: the GetAuthStatusDetails key */
  char type;        /* 's', 'b' or 't' (a GDateTime here) */
  const char *doc;
} Mirrored;

#define MIRRORED(name, key, type, field, change, label, doc) { PROP_##field, #name, key, #type[0], doc },
static const Mirrored mirrored[] = {
  AUTH_PROPERTIES (MIRRORED)
};
#undef MIRRORED

struct _CodexAuthClient {
  GObject parent;
  GDBusProxy *proxy;
  /* The service's properties as last published: D-Bus name -> GVariant.
   * The getters read this, not the proxy's cache, so that a change whose
   * values must be read (the identity properties, announced by name
   * only) shows all at once, when read. */
  GHashTable *values;
  GCancellable *cancellable; /* the read of announced values */
  guint reads;               /* reads in flight; the last one's answer is applied */
  GHashTable *announced;     /* names announced while reading: notified once read */
  gulong props_id;
  gulong owner_id;
  gulong signal_id;
  CodexAuthState state;
  GDateTime *times[N_PROPS]; /* the 't' properties, by property id */
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

GDBusProxy *
codex_auth_client_get_proxy (CodexAuthClient *self)
{
  return self->proxy;
}

static GVariant *
cached (CodexAuthClient *self, const char *name, const GVariantType *type)
{
  GVariant *value;

  if (self->proxy == NULL || g_dbus_proxy_get_name_owner (self->proxy) == NULL)
    return NULL;
  value = g_hash_table_lookup (self->values, name);
  if (value == NULL || !g_variant_is_of_type (value, type))
    return NULL;
  return g_variant_ref (value);
}

/* The snapshot from the proxy's cache (the proxy reads every property
 * when the service appears). */
static void
load_from_proxy (CodexAuthClient *self)
{
  g_auto(GStrv) names = g_dbus_proxy_get_cached_property_names (self->proxy);

  g_hash_table_remove_all (self->values);
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    g_hash_table_insert (self->values, g_strdup (names[i]), g_dbus_proxy_get_cached_property (self->proxy, names[i]));
}

static void
store_values (CodexAuthClient *self, GVariant *dict)
{
  GVariantIter iter;
  const char *name;
  GVariant *value;

  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_next (&iter, "{&sv}", &name, &value))
    g_hash_table_insert (self->values, g_strdup (name), value);
}

static const char *
cached_string (CodexAuthClient *self, const char *name)
{
  g_autoptr(GVariant) value = cached (self, name, G_VARIANT_TYPE_STRING);

  /* The snapshot holds its own reference: the string lives until the
   * property changes. */
  return value != NULL ? g_variant_get_string (value, NULL) : "";
}

static gboolean
cached_boolean (CodexAuthClient *self, const char *name)
{
  g_autoptr(GVariant) value = cached (self, name, G_VARIANT_TYPE_BOOLEAN);

  return value != NULL && g_variant_get_boolean (value);
}

/* Microseconds since the epoch into a UTC GDateTime; 0 (unknown) is NULL. */
static GDateTime *
cached_time (CodexAuthClient *self, const char *name)
{
  g_autoptr(GVariant) value = cached (self, name, G_VARIANT_TYPE_UINT64);
  g_autoptr(GDateTime) seconds = NULL;
  guint64 usec;

  if (value == NULL)
    return NULL;
  usec = g_variant_get_uint64 (value);
  if (usec == 0 || usec > (guint64) G_MAXINT64)
    return NULL;
  seconds = g_date_time_new_from_unix_utc ((gint64) (usec / G_USEC_PER_SEC));
  return seconds != NULL ? g_date_time_add (seconds, (GTimeSpan) (usec % G_USEC_PER_SEC)) : NULL;
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

/* Whether @row changed, as the proxy reported it (@changed: the values
 * that changed, NULL: any may have). */
static gboolean
touched (const Mirrored *row, GVariant *changed, const char *const *invalidated)
{
  g_autoptr(GVariant) v = NULL;

  if (changed == NULL)
    return TRUE;
  v = g_variant_lookup_value (changed, row->dbus_name, NULL);
  return v != NULL || (invalidated != NULL && g_strv_contains (invalidated, row->dbus_name));
}

/* Re-reads everything and notifies what changed. */
static void
refresh_all (CodexAuthClient *self, GVariant *changed, const char *const *invalidated)
{
  CodexAuthState state;

  g_object_freeze_notify (G_OBJECT (self));
  for (guint i = 0; i < G_N_ELEMENTS (mirrored); i++)
    {
      const Mirrored *row = &mirrored[i];

      if (row->type == 't')
        {
          g_autoptr(GDateTime) next = cached_time (self, row->dbus_name);

          if (time_equal (self->times[row->prop], next))
            continue;
          g_clear_pointer (&self->times[row->prop], g_date_time_unref);
          self->times[row->prop] = g_steal_pointer (&next);
          g_object_notify_by_pspec (G_OBJECT (self), props[row->prop]);
        }
      else if (touched (row, changed, invalidated))
        g_object_notify_by_pspec (G_OBJECT (self), props[row->prop]);
    }
  state = derive_state (self);
  if (state != self->state)
    {
      self->state = state;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATE]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

static void
read_all_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CodexAuthClient) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (--self->reads > 0)
    return; /* a later change is being read: its answer is newer */
  if (reply == NULL)
    g_debug ("Cannot read codex-authd's properties: %s", error->message);
  else
    {
      g_autoptr(GVariant) dict = g_variant_get_child_value (reply, 0);

      store_values (self, dict);
    }
  {
    g_autofree const char **names = (const char **) g_hash_table_get_keys_as_array (self->announced, NULL);
    g_autoptr(GVariant) none = g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0));

    refresh_all (self, none, names);
    g_hash_table_remove_all (self->announced);
  }
}

static void
announce (CodexAuthClient *self, GVariant *changed, const char *const *invalidated)
{
  GVariantIter iter;
  const char *name;

  g_variant_iter_init (&iter, changed);
  while (g_variant_iter_next (&iter, "{&sv}", &name, NULL))
    g_hash_table_add (self->announced, g_strdup (name));
  for (guint i = 0; invalidated != NULL && invalidated[i] != NULL; i++)
    g_hash_table_add (self->announced, g_strdup (invalidated[i]));
}

static void
properties_changed_cb (GDBusProxy *proxy, GVariant *changed, const char *const *invalidated, gpointer user_data)
{
  CodexAuthClient *self = user_data;

  store_values (self, changed);
  if ((invalidated == NULL || invalidated[0] == NULL) && self->reads == 0)
    {
      refresh_all (self, changed, invalidated);
      return;
    }
  announce (self, changed, invalidated);
  if (invalidated == NULL || invalidated[0] == NULL)
    return; /* shown with the read in flight */
  /* Named without their values (who is signed in): read them, with the
   * rest, and show the change once they are in. */
  self->reads++;
  g_dbus_connection_call (g_dbus_proxy_get_connection (proxy), g_dbus_proxy_get_name_owner (proxy),
                          g_dbus_proxy_get_object_path (proxy), "org.freedesktop.DBus.Properties", "GetAll",
                          g_variant_new ("(s)", g_dbus_proxy_get_interface_name (proxy)), G_VARIANT_TYPE ("(a{sv})"),
                          G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, self->cancellable, read_all_cb, g_object_ref (self));
}

static void
name_owner_cb (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  CodexAuthClient *self = user_data;

  g_debug ("codex-authd %s", g_dbus_proxy_get_name_owner (self->proxy) != NULL ? "appeared" : "went away");
  load_from_proxy (self);
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
  load_from_proxy (self);
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

/* The getter of each property, from the list. */
#define GETTER_s(field, name)                                     \
  const char *codex_auth_client_get_##field (CodexAuthClient *self) \
  {                                                               \
    g_return_val_if_fail (CODEX_AUTH_IS_CLIENT (self), "");       \
    return cached_string (self, name);                            \
  }
#define GETTER_b(field, name)                                   \
  gboolean codex_auth_client_get_##field (CodexAuthClient *self) \
  {                                                             \
    g_return_val_if_fail (CODEX_AUTH_IS_CLIENT (self), FALSE);  \
    return cached_boolean (self, name);                         \
  }
#define GETTER_t(field, name)                                     \
  GDateTime *codex_auth_client_get_##field (CodexAuthClient *self) \
  {                                                               \
    g_return_val_if_fail (CODEX_AUTH_IS_CLIENT (self), NULL);     \
    return self->times[PROP_##field];                             \
  }
#define GETTER(name, key, type, field, change, label, doc) GETTER_##type (field, #name)
AUTH_PROPERTIES (GETTER)
#undef GETTER

/* The getters' documentation (the library's reference): */

/**
 * codex_auth_client_get_auth_method:
 * @self: a client
 *
 * Returns: "" (no usable credentials), "apikey" or "chatgpt"
 */
/**
 * codex_auth_client_get_account_id:
 * @self: a client
 *
 * Returns: the ChatGPT account (workspace) id, "" for an API key
 */
/**
 * codex_auth_client_get_email:
 * @self: a client
 *
 * Returns: the ChatGPT account's email address, "" when unknown. The
 *   string belongs to the client and lives until the property changes
 *   (the notify signal): copy it to keep it.
 */
/**
 * codex_auth_client_get_plan_type:
 * @self: a client
 *
 * Returns: the ChatGPT plan ("plus", "pro", ...), "" when unknown
 */
/**
 * codex_auth_client_get_refresh_state:
 * @self: a client
 *
 * Returns: "none" (no ChatGPT login), "ok", "refreshing", "backoff" or
 *   "poisoned" (failed for good: sign in again)
 */
/**
 * codex_auth_client_get_refresh_error:
 * @self: a client
 *
 * Returns: the code of the last refresh failure, "" when none
 */
/**
 * codex_auth_client_get_refresh_error_message:
 * @self: a client
 *
 * Returns: the last refresh failure in words, "" when none
 */
/**
 * codex_auth_client_get_requires_login:
 * @self: a client
 *
 * Returns: whether the user must sign in (no credentials, or they failed
 *   for good)
 */
/**
 * codex_auth_client_get_last_refresh:
 * @self: a client
 *
 * Returns: (transfer none) (nullable): when the ChatGPT tokens were last
 *   refreshed, %NULL when unknown
 */
/**
 * codex_auth_client_get_access_token_expires:
 * @self: a client
 *
 * Returns: (transfer none) (nullable): when the ChatGPT access token
 *   expires, %NULL when unknown
 */
/**
 * codex_auth_client_get_next_refresh_attempt:
 * @self: a client
 *
 * Returns: (transfer none) (nullable): while temporarily failing, the
 *   earliest time a refresh is tried again; %NULL otherwise
 */
/**
 * codex_auth_client_get_credential_store:
 * @self: a client
 *
 * Returns: "secret-service", "file" or "none"
 */
/**
 * codex_auth_client_get_store_state:
 * @self: a client
 *
 * Returns: "ok", "locked", "unavailable" or "error" ("" when not running)
 */
/**
 * codex_auth_client_get_credential_store_reason:
 * @self: a client
 *
 * Returns: which setting chose the store ("Codex config: keyring", ...)
 */
/**
 * codex_auth_client_get_pending_login:
 * @self: a client
 *
 * Returns: "", "browser" or "device-code"
 */
/**
 * codex_auth_client_get_version:
 * @self: a client
 *
 * Returns: the service's version, "" when not running
 */

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
    default:
      for (guint i = 0; i < G_N_ELEMENTS (mirrored); i++)
        if (mirrored[i].prop == prop_id)
          {
            if (mirrored[i].type == 's')
              g_value_set_string (value, cached_string (self, mirrored[i].dbus_name));
            else if (mirrored[i].type == 'b')
              g_value_set_boolean (value, cached_boolean (self, mirrored[i].dbus_name));
            else
              g_value_set_boxed (value, self->times[prop_id]);
            return;
          }
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
codex_auth_client_dispose (GObject *object)
{
  CodexAuthClient *self = CODEX_AUTH_CLIENT (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->values, g_hash_table_unref);
  g_clear_pointer (&self->announced, g_hash_table_unref);
  if (self->proxy != NULL)
    {
      g_clear_signal_handler (&self->props_id, self->proxy);
      g_clear_signal_handler (&self->owner_id, self->proxy);
      g_clear_signal_handler (&self->signal_id, self->proxy);
      g_clear_object (&self->proxy);
    }
  for (guint i = 0; i < N_PROPS; i++)
    g_clear_pointer (&self->times[i], g_date_time_unref);
  G_OBJECT_CLASS (codex_auth_client_parent_class)->dispose (object);
}

static void
codex_auth_client_init (CodexAuthClient *self)
{
  self->state = CODEX_AUTH_STATE_NOT_RUNNING;
  self->values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_variant_unref);
  self->cancellable = g_cancellable_new ();
  self->announced = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

static GParamSpec *
mirrored_pspec (const Mirrored *row)
{
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  switch (row->type)
    {
    case 's':
      return g_param_spec_string (row->name, NULL, row->doc, "", flags);
    case 'b':
      return g_param_spec_boolean (row->name, NULL, row->doc, FALSE, flags);
    case 't':
    default:
      return g_param_spec_boxed (row->name, NULL, row->doc, G_TYPE_DATE_TIME, flags);
    }
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
  /* The service's properties (auth-status.h), each under its
   * GetAuthStatusDetails key: strings, booleans, and times as GDateTime
   * (%NULL when unknown). */
  for (guint i = 0; i < G_N_ELEMENTS (mirrored); i++)
    props[mirrored[i].prop] = mirrored_pspec (&mirrored[i]);
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
