/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one HTTP client of the daemon (libsoup): bounded answers, bounded
 * time, no redirects; and the URLs it accepts. */
#define G_LOG_DOMAIN "codex-authd-http"

#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "http-client.h"

#define READ_CHUNK 16384

struct _HttpClient {
  gatomicrefcount ref_count;
  SoupSession *session;
  guint timeout_seconds;
};

gboolean
http_host_is_loopback (const char *host)
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
http_url_validate (const char *url, GError **error)
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
                           "Invalid URL: not an absolute URL");
      return FALSE;
    }
  /* Checked first: the messages below quote the URL. */
  if (g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Invalid URL: credentials in the URL are not accepted");
      return FALSE;
    }
  scheme = g_uri_get_scheme (uri);
  if (g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Invalid URL \"%s\": no host", url);
      return FALSE;
    }
  if (g_ascii_strcasecmp (scheme, "https") == 0)
    return TRUE;
  if (g_ascii_strcasecmp (scheme, "http") == 0 && http_host_is_loopback (g_uri_get_host (uri)))
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "Invalid URL \"%s\": only https://, or http:// to a loopback address, is accepted", url);
  return FALSE;
}

HttpClient *
http_client_new (guint timeout_seconds)
{
  HttpClient *client = g_new0 (HttpClient, 1);

  g_atomic_ref_count_init (&client->ref_count);
  client->timeout_seconds = timeout_seconds > 0 ? timeout_seconds : HTTP_DEFAULT_TIMEOUT_SECONDS;
  return client;
}

/* The session is made on the first request: a daemon that never refreshes
 * never pays for libsoup's types and features. */
static SoupSession *
get_session (HttpClient *client)
{
  /* "timeout" bounds each socket operation, connecting included; the
   * whole request is bounded by the timer in http_client_request_async. */
  if (client->session == NULL)
    client->session = soup_session_new_with_options ("timeout", client->timeout_seconds,
                                                     "idle-timeout", 60,
                                                     "user-agent", PACKAGE_NAME "/" PACKAGE_VERSION,
                                                     NULL);
  return client->session;
}

HttpClient *
http_client_ref (HttpClient *client)
{
  g_atomic_ref_count_inc (&client->ref_count);
  return client;
}

void
http_client_unref (HttpClient *client)
{
  if (client == NULL || !g_atomic_ref_count_dec (&client->ref_count))
    return;
  if (client->session != NULL)
    {
      soup_session_abort (client->session);
      g_object_unref (client->session);
    }
  g_free (client);
}

void
http_reply_free (HttpReply *reply)
{
  if (reply == NULL)
    return;
  if (reply->body != NULL)
    {
      sensitive_wipe (reply->body, reply->body_len);
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
      sensitive_wipe (d->body->data, d->body->len);
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
  if (d->body->len + len > HTTP_MAX_RESPONSE_SIZE)
    {
      return_too_large (task);
      return;
    }
  g_byte_array_append (d->body, g_bytes_get_data (chunk, NULL), (guint) len);
  sensitive_wipe ((gpointer) g_bytes_get_data (chunk, NULL), len);
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
  if (length > HTTP_MAX_RESPONSE_SIZE)
    {
      return_too_large (task);
      return;
    }
  read_next_chunk (task);
}

void
http_client_request_async (HttpClient *client, const char *method, const char *url,
                            const char *content_type, Sensitive *body, guint timeout_seconds,
                            GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  RequestData *d = g_new0 (RequestData, 1);
  SoupMessageHeaders *headers;

  g_task_set_source_tag (task, http_client_request_async);
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
      sensitive_free (body);
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
                                                            (GDestroyNotify) sensitive_free, body);
      soup_message_set_request_body_from_bytes (d->msg, content_type, bytes);
    }
  soup_session_send_async (get_session (client), d->msg, G_PRIORITY_DEFAULT, d->cancellable, send_cb, task);
}

HttpReply *
http_client_request_finish (HttpClient *client, GAsyncResult *result)
{
  return g_task_propagate_pointer (G_TASK (result), NULL);
}

