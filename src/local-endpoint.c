/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local token endpoint: refreshes and revocations from Codex
 * processes, answered from the manager or forwarded to the issuer. */
#define G_LOG_DOMAIN "codex-authd-endpoint"

#include "config.h"

#include <unistd.h>

#include <json-glib/json-glib.h>
#include <systemd/sd-daemon.h>

#include "local-endpoint.h"
#include "loopback-server.h"
#include "safe-json.h"
#include "sensitive.h"

struct _LocalEndpoint {
  LoopbackServer *server;
  AuthManager *manager;
  HttpClient *http;
  char *token_url;
  char *revoke_url;
  /* Forwarded refreshes in flight: SHA-256 of the refresh token -> Flight. */
  GHashTable *flights;
  GPtrArray *forwarding; /* every Flight in flight (revocations too) */
};

/* A request waiting for its answer. The message is referenced and paused;
 * "finished" (the client went away, or the answer went out) ends it. */
typedef struct {
  LocalEndpoint *self;
  SoupServerMessage *msg;
  Sensitive *refresh_token;
  gboolean after_refresh;
  /* The request as it came, for forwarding. */
  Sensitive *body;
  char *content_type;
} Caller;

/* One forwarded request and the callers sharing its answer. */
typedef struct {
  LocalEndpoint *self;
  char *key;
  GPtrArray *callers; /* Caller* */
  gboolean revoke_is_ours;
  guint64 generation; /* the login whose token is being revoked */
} Flight;

static void serve_token (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                         gpointer user_data);
static void serve_revoke (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                          gpointer user_data);

static const LoopbackRoute routes[] = {
  { "POST", LOCAL_ENDPOINT_TOKEN_PATH, LOCAL_ENDPOINT_MAX_BODY, FALSE, serve_token },
  { "POST", LOCAL_ENDPOINT_REVOKE_PATH, LOCAL_ENDPOINT_MAX_BODY, FALSE, serve_revoke },
};

static Caller *
caller_new (LocalEndpoint *self, SoupServerMessage *msg, GBytes *body)
{
  Caller *caller = g_new0 (Caller, 1);
  gsize len = 0;
  const char *data = g_bytes_get_data (body, &len);

  caller->self = self;
  caller->msg = g_object_ref (msg);
  caller->body = g_strndup (data != NULL ? data : "", len);
  caller->content_type = g_strdup (
    soup_message_headers_get_content_type (soup_server_message_get_request_headers (msg), NULL));
  soup_server_message_pause (msg);
  return caller;
}

static void
caller_free (Caller *caller)
{
  g_object_unref (caller->msg);
  sensitive_free (caller->refresh_token);
  sensitive_free (caller->body);
  g_free (caller->content_type);
  g_free (caller);
}

/* Sends the answer prepared on the message and frees @caller. */
static void
caller_answer (Caller *caller)
{
  soup_server_message_unpause (caller->msg);
  caller_free (caller);
}

static void
reply_json (SoupServerMessage *msg, guint status, const char *json, gsize len)
{
  loopback_reply (msg, status, "application/json", json, len, FALSE);
}

/* An error body the Codex CLI reads as the issuer's: {"error": {...}}. */
static void
reply_error (SoupServerMessage *msg, guint status, const char *code, const char *message, gint64 retry_after_s)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *body = NULL;
  gsize len = 0;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "invalid_request_error");
  json_builder_set_member_name (b, "param");
  json_builder_add_null_value (b);
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, code);
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  body = json_generator_to_data (gen, &len);
  if (retry_after_s > 0)
    {
      g_autofree char *value = g_strdup_printf ("%" G_GINT64_FORMAT, retry_after_s);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After", value);
    }
  reply_json (msg, status, body, len);
}

/* The tokens of @record, as the issuer answers a refresh. */
static void
reply_tokens (SoupServerMessage *msg, AuthRecord *record)
{
  const char *id_token = auth_record_get_id_token (record);
  g_autoptr(Sensitive) body = NULL;

  if (id_token != NULL)
    body = safe_json_string_object ("id_token", id_token, "access_token", auth_record_get_access_token (record),
                                    "refresh_token", auth_record_get_refresh_token (record), NULL);
  else
    body = safe_json_string_object ("access_token", auth_record_get_access_token (record), "refresh_token",
                                    auth_record_get_refresh_token (record), NULL);
  reply_json (msg, SOUP_STATUS_OK, body, strlen (body));
}

static gint64
seconds_up (gint64 usec)
{
  return MAX (1, (usec + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
}

static void forward (LocalEndpoint *self, Caller *caller, const char *url, const char *key, gboolean revoke_is_ours);
static void answer_refresh (Caller *caller);

static void
refreshed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Caller *caller = user_data;

  auth_manager_refresh_finish (AUTH_MANAGER (source), result);
  caller->after_refresh = TRUE;
  answer_refresh (caller);
}

/* What the manager says about the caller's refresh token, and the answer. */
static void
answer_refresh (Caller *caller)
{
  LocalEndpoint *self = caller->self;
  g_autoptr(AuthRecord) record = NULL;
  g_autoptr(PoisonRecord) poison = NULL;
  g_autofree char *key = NULL;

  switch (auth_manager_relay_verdict (self->manager, caller->refresh_token, caller->after_refresh))
    {
    case AUTH_RELAY_CURRENT:
      record = auth_manager_dup_record (self->manager);
      reply_tokens (caller->msg, record);
      break;
    case AUTH_RELAY_REFRESH:
      auth_manager_refresh_async (self->manager, refreshed_cb, caller);
      return;
    case AUTH_RELAY_POISONED:
      poison = auth_manager_dup_poison (self->manager);
      reply_error (caller->msg, poison->http_status >= 400 ? poison->http_status : SOUP_STATUS_UNAUTHORIZED,
                   poison->code, poison->message, 0);
      break;
    case AUTH_RELAY_BACKOFF:
      reply_error (caller->msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "temporarily_unavailable",
                   "The token endpoint failed; codex-authd is backing off",
                   seconds_up (auth_manager_backoff_remaining (self->manager)));
      break;
    case AUTH_RELAY_UNAVAILABLE:
      reply_error (caller->msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "temporarily_unavailable",
                   "codex-authd cannot refresh these credentials now", LOCAL_ENDPOINT_RETRY_SECONDS);
      break;
    case AUTH_RELAY_FOREIGN:
      key = g_compute_checksum_for_string (G_CHECKSUM_SHA256, caller->refresh_token, -1);
      forward (self, caller, self->token_url, key, FALSE);
      return;
    }
  caller_answer (caller);
}

static void
prepared_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Caller *caller = user_data;

  auth_manager_prepare_finish (AUTH_MANAGER (source), result);
  answer_refresh (caller);
}

/* The keyring item is read again first when the last read is old: a
 * token another writer replaced is the one to compare with. */
static void
prepare (Caller *caller)
{
  LocalEndpoint *self = caller->self;

  if (auth_manager_prepare_needed (self->manager, FALSE, TRUE))
    auth_manager_prepare_async (self->manager, FALSE, TRUE, prepared_cb, caller);
  else
    answer_refresh (caller);
}

static void
first_load_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  /* A failed read shows in the verdict (no record, or the store's error). */
  (void) auth_manager_reload_finish (AUTH_MANAGER (source), result, NULL);
  prepare (user_data);
}

/* The request body: its parameters as a table of Sensitive strings, from
 * JSON (as the Codex CLI sends it) or a form. NULL when it is neither. */
static GHashTable *
read_params (SoupServerMessage *msg, GBytes *body)
{
  const char *type = soup_message_headers_get_content_type (soup_server_message_get_request_headers (msg), NULL);
  GHashTable *params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) sensitive_free);
  gsize len = 0;
  const char *data = g_bytes_get_data (body, &len);

  if (g_strcmp0 (type, "application/json") == 0)
    {
      g_autoptr(JsonParser) parser = safe_json_parse (data, len, NULL);
      JsonNode *root = parser != NULL ? json_parser_get_root (parser) : NULL;
      JsonObject *object = root != NULL && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;

      if (object == NULL)
        {
          if (root != NULL)
            safe_json_wipe_all_strings (root);
          g_hash_table_unref (params);
          return NULL;
        }
      for (GList *l = json_object_get_members (object), *first = l; l != NULL || (g_list_free (first), FALSE);
           l = l->next)
        {
          const char *value = safe_json_get_string (object, l->data);
          if (value != NULL)
            g_hash_table_replace (params, g_strdup (l->data), sensitive_dup (value));
        }
      safe_json_wipe_all_strings (root);
    }
  else if (g_strcmp0 (type, "application/x-www-form-urlencoded") == 0)
    {
      g_autofree char *text = g_strndup (data, len);
      GHashTable *form = g_uri_parse_params (text, -1, "&", G_URI_PARAMS_WWW_FORM, NULL);
      GHashTableIter iter;
      gpointer k, v;

      sensitive_wipe (text, len);
      if (form == NULL)
        {
          g_hash_table_unref (params);
          return NULL;
        }
      g_hash_table_iter_init (&iter, form);
      while (g_hash_table_iter_next (&iter, &k, &v))
        {
          g_hash_table_replace (params, g_strdup (k), sensitive_dup (v));
          sensitive_wipe (v, strlen (v));
        }
      g_hash_table_unref (form);
    }
  else
    {
      g_hash_table_unref (params);
      return NULL;
    }
  return params;
}

/* The body libsoup kept: wiped once read (it may hold a token). */
static GBytes *
take_body (SoupServerMessage *msg)
{
  return soup_message_body_flatten (soup_server_message_get_request_body (msg));
}

static void
wipe_body (GBytes *body)
{
  gsize len = 0;
  gconstpointer data = g_bytes_get_data (body, &len);

  if (data != NULL)
    sensitive_wipe ((gpointer) data, len);
  g_bytes_unref (body);
}

static void
serve_token (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer user_data)
{
  LocalEndpoint *self = user_data;
  GBytes *body = take_body (msg);
  g_autoptr(GHashTable) params = read_params (msg, body);
  const char *grant = params != NULL ? g_hash_table_lookup (params, "grant_type") : NULL;
  const char *token = params != NULL ? g_hash_table_lookup (params, "refresh_token") : NULL;
  Caller *caller;

  if (params == NULL)
    {
      wipe_body (body);
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, "invalid_request", "The body is not JSON or a form", 0);
      return;
    }
  if (g_strcmp0 (grant, "refresh_token") != 0 || token == NULL || *token == '\0')
    {
      wipe_body (body);
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, g_strcmp0 (grant, "refresh_token") != 0 ? "unsupported_grant_type"
                                                                                         : "invalid_request",
                   "Only refresh_token grants with a refresh_token are served here", 0);
      return;
    }
  caller = caller_new (self, msg, body);
  caller->refresh_token = sensitive_dup (token);
  wipe_body (body);
  if (!auth_manager_is_loaded (self->manager))
    {
      /* Socket activation: the first refresh started the daemon, and the
       * store is still being read. It waits for that read, not a 503. */
      auth_manager_reload_async (self->manager, NULL, first_load_cb, caller);
      return;
    }
  prepare (caller);
}

/* ---- forwarding ---- */

static void
flight_free (Flight *flight)
{
  g_free (flight->key);
  g_ptr_array_unref (flight->callers);
  g_free (flight);
}

static void
logged_out_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  if (!auth_manager_logout_finish (AUTH_MANAGER (source), result, &error))
    g_warning ("A Codex process revoked this login, but removing it failed: %s", error->message);
}

static void
forwarded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Flight *flight = user_data;
  LocalEndpoint *self = flight->self;
  g_autoptr(HttpReply) reply = NULL;
  const char *failure;

  if (self == NULL)
    {
      /* The endpoint is gone (shutdown): so are its connections. */
      g_ptr_array_set_free_func (flight->callers, (GDestroyNotify) caller_free);
      flight_free (flight);
      return;
    }
  reply = http_client_request_finish (self->http, result);
  failure = http_reply_failure (reply);
  g_ptr_array_remove_fast (self->forwarding, flight);
  if (flight->key != NULL)
    g_hash_table_steal (self->flights, flight->key);
  for (guint i = 0; i < flight->callers->len; i++)
    {
      Caller *caller = g_ptr_array_index (flight->callers, i);

      if (failure != NULL)
        reply_error (caller->msg, SOUP_STATUS_BAD_GATEWAY, "upstream_unavailable", failure, LOCAL_ENDPOINT_RETRY_SECONDS);
      else
        {
          if (reply->retry_after != NULL)
            soup_message_headers_replace (soup_server_message_get_response_headers (caller->msg), "Retry-After",
                                          reply->retry_after);
          reply_json (caller->msg, reply->status, reply->body != NULL ? reply->body : "", reply->body_len);
        }
      caller_answer (caller);
    }
  g_ptr_array_set_size (flight->callers, 0);
  if (flight->revoke_is_ours)
    {
      g_message ("A Codex process revoked this login's token: logging out");
      auth_manager_logout_async (self->manager, flight->generation, logged_out_cb, NULL);
    }
  flight_free (flight);
}

/* Sends @caller's request to @url, or joins the request in flight with the
 * same @key (NULL: never shared). */
static void
forward (LocalEndpoint *self, Caller *caller, const char *url, const char *key, gboolean revoke_is_ours)
{
  Flight *flight = key != NULL ? g_hash_table_lookup (self->flights, key) : NULL;

  if (flight != NULL)
    {
      g_ptr_array_add (flight->callers, caller);
      return;
    }
  flight = g_new0 (Flight, 1);
  flight->self = self;
  flight->key = g_strdup (key);
  flight->callers = g_ptr_array_new ();
  flight->revoke_is_ours = revoke_is_ours;
  flight->generation = auth_manager_get_login_generation (self->manager);
  g_ptr_array_add (flight->callers, caller);
  if (key != NULL)
    g_hash_table_insert (self->flights, flight->key, flight);
  g_ptr_array_add (self->forwarding, flight);
  http_client_request_async (self->http, "POST", url, caller->content_type, sensitive_dup (caller->body), 0, NULL,
                             forwarded_cb, flight);
}

static void
serve_revoke (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer user_data)
{
  LocalEndpoint *self = user_data;
  GBytes *body = take_body (msg);
  g_autoptr(GHashTable) params = read_params (msg, body);
  const char *token = params != NULL ? g_hash_table_lookup (params, "token") : NULL;
  Caller *caller;

  if (self->revoke_url == NULL)
    {
      wipe_body (body);
      reply_error (msg, SOUP_STATUS_NOT_IMPLEMENTED, "not_supported", "No revoke endpoint is configured", 0);
      return;
    }
  if (token == NULL || *token == '\0')
    {
      wipe_body (body);
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, "invalid_request", "A revocation needs a token", 0);
      return;
    }
  caller = caller_new (self, msg, body);
  wipe_body (body);
  forward (self, caller, self->revoke_url, NULL, auth_manager_owns_token (self->manager, token));
}

/* ---- the object ---- */

LocalEndpoint *
local_endpoint_new (void)
{
  LocalEndpoint *self = g_new0 (LocalEndpoint, 1);

  self->server = loopback_server_new (routes, G_N_ELEMENTS (routes), self);
  self->flights = g_hash_table_new (g_str_hash, g_str_equal);
  self->forwarding = g_ptr_array_new ();
  return self;
}

void
local_endpoint_free (LocalEndpoint *self)
{
  if (self == NULL)
    return;
  /* A forwarded request still in flight finds its endpoint gone
   * (forwarded_cb). Call after auth_manager_stop(), which answers the
   * callers waiting for a refresh. */
  for (guint i = 0; i < self->forwarding->len; i++)
    ((Flight *) g_ptr_array_index (self->forwarding, i))->self = NULL;
  g_ptr_array_unref (self->forwarding);
  g_clear_pointer (&self->server, loopback_server_free);
  g_clear_object (&self->manager);
  g_clear_pointer (&self->http, http_client_unref);
  g_hash_table_unref (self->flights);
  g_free (self->token_url);
  g_free (self->revoke_url);
  g_free (self);
}

gboolean
local_endpoint_listen (LocalEndpoint *self, const char *host, guint port, GError **error)
{
  return loopback_server_listen (self->server, host, port, error);
}

gboolean
local_endpoint_adopt (LocalEndpoint *self, const int *fds, guint n_fds, GError **error)
{
  return loopback_server_adopt (self->server, fds, n_fds, error);
}

guint
local_endpoint_get_port (LocalEndpoint *self)
{
  return loopback_server_get_port (self->server);
}

char *
local_endpoint_dup_url (LocalEndpoint *self)
{
  return g_strdup_printf ("http://127.0.0.1:%u" LOCAL_ENDPOINT_TOKEN_PATH, local_endpoint_get_port (self));
}

gboolean
local_endpoint_is_self (LocalEndpoint *self, const char *url)
{
  g_autoptr(GUri) uri = url != NULL ? g_uri_parse (url, G_URI_FLAGS_NONE, NULL) : NULL;

  if (uri == NULL || g_uri_get_host (uri) == NULL || !http_host_is_loopback (g_uri_get_host (uri)))
    return FALSE;
  return (guint) g_uri_get_port (uri) == local_endpoint_get_port (self);
}

void
local_endpoint_serve (LocalEndpoint *self, AuthManager *manager, HttpClient *http, const char *token_url,
                      const char *revoke_url)
{
  self->manager = g_object_ref (manager);
  self->http = http_client_ref (http);
  self->token_url = g_strdup (token_url);
  self->revoke_url = g_strdup (revoke_url);
  loopback_server_start (self->server);
}

/* The sockets systemd passed (LISTEN_FDS), closed when they are not for
 * the endpoint. */
static guint
activation_sockets (int *fds, guint max)
{
  char **names = NULL;
  int n = sd_listen_fds_with_names (TRUE, &names);
  guint taken = 0;

  for (int i = 0; i < n; i++)
    {
      int fd = SD_LISTEN_FDS_START + i;
      const char *name = names != NULL ? names[i] : NULL;

      if ((name == NULL || g_str_equal (name, "token-endpoint") || g_str_equal (name, "unknown")) && taken < max &&
          sd_is_socket_inet (fd, 0, SOCK_STREAM, 1, 0) > 0)
        fds[taken++] = fd;
      else
        {
          g_message ("Ignoring socket %d (%s) from the service manager", fd, name != NULL ? name : "unnamed");
          close (fd);
        }
    }
  g_strfreev (names);
  return taken;
}

LocalEndpoint *
local_endpoint_open (const ListenAddress *address)
{
  g_autoptr(LocalEndpoint) self = NULL;
  g_autoptr(GError) error = NULL;
  int fds[4];
  guint n = activation_sockets (fds, G_N_ELEMENTS (fds));

  if (!address->enabled)
    {
      if (n > 0)
        g_message ("local-token-endpoint=off, but the service manager passed its sockets: they are closed "
                   "(disable codex-authd.socket too)");
      for (guint i = 0; i < n; i++)
        close (fds[i]);
      return NULL;
    }
  self = local_endpoint_new ();
  if (n > 0 ? !local_endpoint_adopt (self, fds, n, &error)
            : !local_endpoint_listen (self, address->host, address->port, &error))
    {
      g_warning ("No local token endpoint for Codex processes: %s", error->message);
      return NULL;
    }
  g_message ("Local token endpoint for Codex processes on port %u%s", local_endpoint_get_port (self),
             n > 0 ? " (socket activation)" : "");
  return g_steal_pointer (&self);
}
