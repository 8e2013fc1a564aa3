/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "codex-authd-token"

#include "config.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "codex-json.h"
#include "token-client.h"

#define READ_CHUNK 16384

struct _TokenClient {
  gatomicrefcount ref_count;
  SoupSession *session;
  char *url;
  guint timeout_seconds;
};

/* ---- results ----------------------------------------------------------- */

void
token_result_free (TokenResult *r)
{
  if (r == NULL)
    return;
  g_free (r->code);
  g_free (r->message);
  codex_secret_free (r->id_token);
  codex_secret_free (r->access_token);
  codex_secret_free (r->refresh_token);
  g_free (r);
}

static TokenResult *
result_new (TokenResultKind kind, const char *code, char *message, guint status)
{
  TokenResult *r = g_new0 (TokenResult, 1);

  r->kind = kind;
  r->code = g_strdup (code);
  r->message = message;
  r->http_status = status;
  return r;
}

TokenResult *
token_result_new_transient (const char *code, const char *message)
{
  return result_new (TOKEN_RESULT_TRANSIENT, code, g_strdup (message), 0);
}

const char *
token_permanent_message (const char *code)
{
  if (g_strcmp0 (code, "refresh_token_expired") == 0)
    return "Your access token could not be refreshed because your refresh token has expired. "
           "Please log out and sign in again.";
  if (g_strcmp0 (code, "refresh_token_reused") == 0)
    return "Your access token could not be refreshed because your refresh token was already used. "
           "Please log out and sign in again.";
  if (g_strcmp0 (code, "refresh_token_invalidated") == 0)
    return "Your access token could not be refreshed because your refresh token was revoked. "
           "Please log out and sign in again.";
  return "Your access token could not be refreshed. Please log out and sign in again.";
}

static gboolean
is_known_permanent_code (const char *code)
{
  return g_strcmp0 (code, "refresh_token_expired") == 0 ||
         g_strcmp0 (code, "refresh_token_reused") == 0 ||
         g_strcmp0 (code, "refresh_token_invalidated") == 0;
}

/* The error code of a body: the first of error.code (object), error
 * (string), top-level code; lower-cased. NULL when there is none. */
static char *
extract_error_code (JsonObject *root)
{
  const char *code = NULL;

  if (root == NULL)
    return NULL;
  if (json_object_has_member (root, "error"))
    {
      JsonNode *error = json_object_get_member (root, "error");

      if (JSON_NODE_HOLDS_OBJECT (error))
        code = codex_json_get_string (json_node_get_object (error), "code");
      else
        code = codex_json_get_string (root, "error");
    }
  if (code == NULL)
    code = codex_json_get_string (root, "code");
  return code != NULL ? g_ascii_strdown (code, -1) : NULL;
}

static gint64
parse_retry_after (const char *value, gint64 now_usec)
{
  gint64 delay = 0;
  guint64 seconds;
  char *end = NULL;

  if (value == NULL)
    return 0;
  while (g_ascii_isspace (*value))
    value++;
  if (g_ascii_isdigit (*value))
    {
      seconds = g_ascii_strtoull (value, &end, 10);
      if (end != NULL && (*end == '\0' || g_ascii_isspace (*end)))
        delay = seconds > 3600 * 24 ? TOKEN_MAX_RETRY_AFTER_USEC : (gint64) seconds * G_USEC_PER_SEC;
    }
  else
    {
      g_autoptr(GDateTime) when = soup_date_time_new_from_http_string (value);

      if (when != NULL)
        delay = g_date_time_to_unix (when) * G_USEC_PER_SEC - now_usec;
    }
  return CLAMP (delay, 0, TOKEN_MAX_RETRY_AFTER_USEC);
}

/* A 2xx answer: every field that is a non-empty string is taken; a field
 * of another type, or empty, is left out and named in the result's message
 * (for the log), so that a usable new refresh_token is never thrown away
 * because a field beside it is broken. Nothing usable: bad_response. */
static TokenResult *
parse_success (guint status, JsonObject *root)
{
  static const char *const fields[] = { "id_token", "access_token", "refresh_token" };
  CodexSecret **targets[3];
  g_autoptr(GString) invalid = g_string_new (NULL);
  TokenResult *r;
  gboolean any = FALSE;

  if (root == NULL)
    return result_new (TOKEN_RESULT_TRANSIENT, "bad_response",
                       g_strdup_printf ("The token server's answer (HTTP %u) is not a JSON object; "
                                        "will retry.", status), status);

  r = result_new (TOKEN_RESULT_SUCCESS, NULL, NULL, status);
  targets[0] = &r->id_token;
  targets[1] = &r->access_token;
  targets[2] = &r->refresh_token;
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      JsonNode *node;

      if (!json_object_has_member (root, fields[i]))
        continue;
      node = json_object_get_member (root, fields[i]);
      if (JSON_NODE_HOLDS_NULL (node))
        continue;
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING ||
          json_node_get_string (node)[0] == '\0')
        {
          g_string_append_printf (invalid, "%s\"%s\"", invalid->len > 0 ? ", " : "", fields[i]);
          continue;
        }
      *targets[i] = codex_secret_dup (json_node_get_string (node));
      codex_json_wipe_string_member (root, fields[i]);
      any = TRUE;
    }
  if (!any)
    {
      token_result_free (r);
      if (invalid->len > 0)
        return result_new (TOKEN_RESULT_TRANSIENT, "bad_response",
                           g_strdup_printf ("The token server's answer has an invalid %s and no "
                                            "usable token; will retry.", invalid->str), status);
      return result_new (TOKEN_RESULT_TRANSIENT, "bad_response",
                         g_strdup ("The token server's answer carries no token; will retry."), status);
    }
  if (invalid->len > 0)
    r->message = g_strdup_printf ("The token server's answer has an invalid %s; the other fields "
                                  "are used.", invalid->str);
  return r;
}

TokenResult *
token_result_from_response (guint status, const char *body, gsize body_len,
                            const char *retry_after, gint64 now_usec)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *code = NULL;
  JsonObject *root = NULL;
  TokenResult *r;

  if (body != NULL && body_len > 0)
    parser = codex_json_parse (body, body_len, NULL);
  if (parser != NULL && json_parser_get_root (parser) != NULL &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    root = json_node_get_object (json_parser_get_root (parser));

  code = extract_error_code (root);

  /* Permanent: the refresh token will never work again. */
  if (is_known_permanent_code (code) || status == 401 ||
      (status == 400 && g_strcmp0 (code, "invalid_grant") == 0))
    {
      const char *permanent_code;

      if (is_known_permanent_code (code) || g_strcmp0 (code, "invalid_grant") == 0)
        permanent_code = code;
      else
        permanent_code = "unauthorized";
      return result_new (TOKEN_RESULT_PERMANENT, permanent_code,
                         g_strdup (token_permanent_message (permanent_code)), status);
    }

  if (status >= 200 && status < 300)
    return parse_success (status, root);

  if (status == 408)
    r = result_new (TOKEN_RESULT_TRANSIENT, "timeout",
                    g_strdup ("The token server timed out (HTTP 408); will retry."), status);
  else if (status == 429)
    r = result_new (TOKEN_RESULT_TRANSIENT, "rate_limited",
                    g_strdup ("The token server is limiting requests (HTTP 429); will retry."), status);
  else if (status >= 500 && status < 600)
    r = result_new (TOKEN_RESULT_TRANSIENT, "server_error",
                    g_strdup_printf ("The token server failed (HTTP %u); will retry.", status), status);
  else
    r = result_new (TOKEN_RESULT_TRANSIENT, "bad_response",
                    g_strdup_printf ("The token server sent an unexpected answer (HTTP %u); will retry.",
                                     status), status);
  r->retry_after_usec = parse_retry_after (retry_after, now_usec);
  return r;
}

/* ---- request ----------------------------------------------------------- */

static gboolean
is_loopback_host (const char *host)
{
  g_autoptr(GInetAddress) addr = NULL;
  g_autofree char *bare = NULL;

  if (host == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  /* GUri keeps the brackets off IPv6 literals. */
  bare = g_strdup (host);
  addr = g_inet_address_new_from_string (bare);
  return addr != NULL && g_inet_address_get_is_loopback (addr);
}

gboolean
token_url_validate (const char *url, GError **error)
{
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *scheme;

  uri = g_uri_parse (url, G_URI_FLAGS_NONE, &local_error);
  if (uri == NULL)
    {
      /* Neither the URL nor GLib's message (which quotes it) is shown:
       * what does not parse may still hold a password. */
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "Invalid token URL: not an absolute URL");
      return FALSE;
    }
  /* Checked first: the messages below quote the URL. */
  if (g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Invalid token URL: credentials in the URL are not accepted");
      return FALSE;
    }
  scheme = g_uri_get_scheme (uri);
  if (g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Invalid token URL \"%s\": no host", url);
      return FALSE;
    }
  if (g_ascii_strcasecmp (scheme, "https") == 0)
    return TRUE;
  if (g_ascii_strcasecmp (scheme, "http") == 0 && is_loopback_host (g_uri_get_host (uri)))
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "Invalid token URL \"%s\": only https://, or http:// to a loopback address, is accepted", url);
  return FALSE;
}

CodexSecret *
token_request_body (const char *refresh_token)
{
  return codex_json_string_object ("client_id", TOKEN_CLIENT_ID, "grant_type", "refresh_token",
                                   "refresh_token", refresh_token, NULL);
}

TokenClient *
token_client_new (const char *url, guint timeout_seconds, GError **error)
{
  TokenClient *client;

  if (!token_url_validate (url, error))
    return NULL;
  client = g_new0 (TokenClient, 1);
  g_atomic_ref_count_init (&client->ref_count);
  client->url = g_strdup (url);
  client->timeout_seconds = timeout_seconds > 0 ? timeout_seconds : TOKEN_DEFAULT_TIMEOUT_SECONDS;
  /* "timeout" bounds each socket operation, connecting included; the
   * whole request is bounded by the timer in token_client_request_async. */
  client->session = soup_session_new_with_options ("timeout", client->timeout_seconds,
                                                   "idle-timeout", 60,
                                                   "user-agent", PACKAGE_NAME "/" PACKAGE_VERSION,
                                                   NULL);
  return client;
}

TokenClient *
token_client_ref (TokenClient *client)
{
  g_atomic_ref_count_inc (&client->ref_count);
  return client;
}

void
token_client_unref (TokenClient *client)
{
  if (client == NULL || !g_atomic_ref_count_dec (&client->ref_count))
    return;
  soup_session_abort (client->session);
  g_object_unref (client->session);
  g_free (client->url);
  g_free (client);
}

void
http_reply_free (HttpReply *reply)
{
  if (reply == NULL)
    return;
  if (reply->body != NULL)
    {
      codex_secret_wipe_bytes (reply->body, reply->body_len);
      g_free (reply->body);
    }
  g_free (reply->retry_after);
  g_free (reply->error_message);
  g_free (reply);
}

const char *
http_reply_failure (const HttpReply *reply)
{
  if (reply->too_large)
    return "the answer is too large";
  if (reply->status != 0)
    return NULL;
  if (reply->timed_out)
    return "no answer in time";
  if (reply->cancelled)
    return "cancelled";
  return reply->error_message != NULL ? reply->error_message : "no answer";
}

typedef struct {
  SoupMessage *msg;
  GInputStream *stream;
  GByteArray *body;
  GCancellable *cancellable; /* ours: cancelled by the deadline or the caller */
  gulong caller_cancel_id;
  GCancellable *caller_cancellable;
  guint deadline_id;
  gboolean timed_out;
} RequestData;

static void
request_data_free (RequestData *d)
{
  g_clear_handle_id (&d->deadline_id, g_source_remove);
  if (d->caller_cancellable != NULL)
    g_cancellable_disconnect (d->caller_cancellable, d->caller_cancel_id);
  g_clear_object (&d->caller_cancellable);
  g_clear_object (&d->msg);
  g_clear_object (&d->stream);
  if (d->body != NULL)
    {
      codex_secret_wipe_bytes (d->body->data, d->body->len);
      g_byte_array_unref (d->body);
    }
  g_clear_object (&d->cancellable);
  g_free (d);
}

static gboolean
deadline_cb (gpointer user_data)
{
  RequestData *d = user_data;

  d->deadline_id = 0;
  d->timed_out = TRUE;
  g_cancellable_cancel (d->cancellable);
  return G_SOURCE_REMOVE;
}

static void
caller_cancelled_cb (GCancellable *caller, gpointer user_data)
{
  g_cancellable_cancel (user_data);
}

static void
return_reply (GTask *task, HttpReply *reply)
{
  g_task_return_pointer (task, reply, (GDestroyNotify) http_reply_free);
  g_object_unref (task);
}

static void
return_io_error (GTask *task, const GError *error)
{
  RequestData *d = g_task_get_task_data (task);
  HttpReply *reply = g_new0 (HttpReply, 1);

  reply->timed_out = d->timed_out || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  reply->cancelled = !reply->timed_out && d->caller_cancellable != NULL &&
                     g_cancellable_is_cancelled (d->caller_cancellable);
  /* GIO's messages name the host and the system error, nothing secret. */
  reply->error_message = g_strdup (error->message);
  return_reply (task, reply);
}

static void
return_too_large (GTask *task)
{
  RequestData *d = g_task_get_task_data (task);
  HttpReply *reply = g_new0 (HttpReply, 1);

  reply->status = soup_message_get_status (d->msg);
  reply->too_large = TRUE;
  g_cancellable_cancel (d->cancellable); /* drop the rest of the body */
  return_reply (task, reply);
}

static void read_next_chunk (GTask *task);

static void
finish_response (GTask *task)
{
  RequestData *d = g_task_get_task_data (task);
  SoupMessageHeaders *headers = soup_message_get_response_headers (d->msg);
  HttpReply *reply = g_new0 (HttpReply, 1);

  reply->status = soup_message_get_status (d->msg);
  reply->body_len = d->body->len;
  reply->body = g_malloc (d->body->len + 1);
  if (d->body->len > 0)
    memcpy (reply->body, d->body->data, d->body->len);
  reply->body[d->body->len] = '\0';
  reply->retry_after = g_strdup (soup_message_headers_get_one (headers, "Retry-After"));
  return_reply (task, reply);
}

static void
chunk_read_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  RequestData *d = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) chunk = NULL;
  gsize len;

  chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), res, &error);
  if (chunk == NULL)
    {
      return_io_error (task, error);
      return;
    }
  len = g_bytes_get_size (chunk);
  if (len == 0)
    {
      finish_response (task);
      return;
    }
  if (d->body->len + len > TOKEN_MAX_RESPONSE_SIZE)
    {
      return_too_large (task);
      return;
    }
  g_byte_array_append (d->body, g_bytes_get_data (chunk, NULL), (guint) len);
  codex_secret_wipe_bytes ((gpointer) g_bytes_get_data (chunk, NULL), len);
  read_next_chunk (task);
}

static void
read_next_chunk (GTask *task)
{
  RequestData *d = g_task_get_task_data (task);

  g_input_stream_read_bytes_async (d->stream, READ_CHUNK, G_PRIORITY_DEFAULT, d->cancellable,
                                   chunk_read_cb, task);
}

static void
send_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  RequestData *d = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  goffset length;

  d->stream = soup_session_send_finish (SOUP_SESSION (source), res, &error);
  if (d->stream == NULL)
    {
      return_io_error (task, error);
      return;
    }
  length = soup_message_headers_get_content_length (soup_message_get_response_headers (d->msg));
  if (length > TOKEN_MAX_RESPONSE_SIZE)
    {
      return_too_large (task);
      return;
    }
  read_next_chunk (task);
}

void
token_client_request_async (TokenClient *client, const char *method, const char *url,
                            const char *content_type, CodexSecret *body, guint timeout_seconds,
                            GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  RequestData *d = g_new0 (RequestData, 1);
  SoupMessageHeaders *headers;

  g_task_set_source_tag (task, token_client_request_async);
  g_task_set_task_data (task, d, (GDestroyNotify) request_data_free);
  /* The outcome is always a reply, even when cancelled. */
  g_task_set_check_cancellable (task, FALSE);

  d->body = g_byte_array_new ();
  d->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      d->caller_cancellable = g_object_ref (cancellable);
      d->caller_cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (caller_cancelled_cb),
                                                   g_object_ref (d->cancellable), g_object_unref);
    }
  /* Milliseconds: a seconds timer may fire up to a second late. */
  d->deadline_id = g_timeout_add ((timeout_seconds > 0 ? timeout_seconds : client->timeout_seconds) * 1000,
                                  deadline_cb, d);

  d->msg = soup_message_new (method, url);
  if (d->msg == NULL)
    {
      GError *error = g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "Invalid URL");
      codex_secret_free (body);
      return_io_error (task, error);
      g_error_free (error);
      return;
    }
  /* A redirect would carry the secrets of the request to another URL. */
  soup_message_add_flags (d->msg, SOUP_MESSAGE_NO_REDIRECT);
  headers = soup_message_get_request_headers (d->msg);
  soup_message_headers_replace (headers, "Accept", "application/json");
  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new_with_free_func (body, strlen (body),
                                                            (GDestroyNotify) codex_secret_free, body);
      soup_message_set_request_body_from_bytes (d->msg, content_type, bytes);
    }
  soup_session_send_async (client->session, d->msg, G_PRIORITY_DEFAULT, d->cancellable, send_cb, task);
}

HttpReply *
token_client_request_finish (TokenClient *client, GAsyncResult *result)
{
  return g_task_propagate_pointer (G_TASK (result), NULL);
}

/* ---- refresh ----------------------------------------------------------- */

TokenResult *
token_result_from_reply (const HttpReply *reply, gint64 now_usec)
{
  TokenResult *r;

  if (reply->too_large)
    {
      r = token_result_new_transient ("bad_response", NULL);
      r->message = g_strdup_printf ("The token server's answer (HTTP %u) is larger than %d bytes; will retry.",
                                    reply->status, TOKEN_MAX_RESPONSE_SIZE);
      r->http_status = reply->status;
      return r;
    }
  if (reply->status == 0)
    {
      if (reply->timed_out)
        return token_result_new_transient ("timeout", "The token server did not answer in time; will retry.");
      r = token_result_new_transient ("network", NULL);
      r->message = g_strdup_printf ("Could not reach the token server: %s; will retry.",
                                    reply->error_message != NULL ? reply->error_message : "no answer");
      return r;
    }
  return token_result_from_response (reply->status, reply->body, reply->body_len, reply->retry_after, now_usec);
}

static void
refresh_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  TokenClient *client = g_task_get_task_data (task);
  g_autoptr(HttpReply) reply = token_client_request_finish (client, result);
  TokenResult *r = token_result_from_reply (reply, g_get_real_time ());

  g_debug ("Token endpoint answered HTTP %u: %s%s", r->http_status,
           r->kind == TOKEN_RESULT_SUCCESS ? "success" :
           r->kind == TOKEN_RESULT_PERMANENT ? "permanent failure " : "transient failure ",
           r->code != NULL ? r->code : "");
  g_task_return_pointer (task, r, (GDestroyNotify) token_result_free);
}

void
token_client_refresh_async (TokenClient *client, const char *refresh_token,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, token_client_refresh_async);
  g_task_set_task_data (task, client, NULL);
  g_task_set_check_cancellable (task, FALSE);
  g_debug ("Refreshing the ChatGPT tokens at %s", client->url);
  token_client_request_async (client, "POST", client->url, "application/json",
                              token_request_body (refresh_token), 0, cancellable, refresh_done_cb, task);
}

TokenResult *
token_client_refresh_finish (TokenClient *client, GAsyncResult *result)
{
  return g_task_propagate_pointer (G_TASK (result), NULL);
}
