/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An HTTP server on loopback for the daemon's own user only: the checks
 * on each connection and each request, before anything is read. */
#define G_LOG_DOMAIN "codex-authd-loopback"

#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "http-client.h"
#include "loopback-server.h"
#include "peer-uid.h"

/* The connections open now, shared with the connections' weak references
 * (which may outlive the server). */
typedef struct {
  gint ref_count;
  guint open;
} ConnectionCount;

struct _LoopbackServer {
  const LoopbackRoute *routes;
  guint n_routes;
  gpointer user_data;
  GSocketService *service;
  SoupServer *soup;
  ConnectionCount *count;
  guint port;
  guint refused_logged;
};

static ConnectionCount *
count_ref (ConnectionCount *count)
{
  g_atomic_int_inc (&count->ref_count);
  return count;
}

static void
count_unref (ConnectionCount *count)
{
  if (g_atomic_int_dec_and_test (&count->ref_count))
    g_free (count);
}

static void
connection_gone (gpointer data, GObject *where_the_object_was)
{
  ConnectionCount *count = data;

  count->open--;
  count_unref (count);
}

/* Refusals are logged, but not without end: a flood must not fill the
 * journal. */
static void
log_refusal (LoopbackServer *self, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
log_refusal (LoopbackServer *self, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list ap;

  self->refused_logged++;
  if (self->refused_logged > 20 && self->refused_logged % 1000 != 0)
    return;
  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_message ("Local port %u: %s%s", self->port, text,
             self->refused_logged == 20 ? " (further refusals are logged once in 1000)" : "");
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source, gpointer user_data)
{
  LoopbackServer *self = user_data;
  GSocket *socket = g_socket_connection_get_socket (connection);
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocketAddress) remote = NULL;
  g_autoptr(GError) error = NULL;
  uid_t uid = (uid_t) -1;

  if (self->count->open >= LOOPBACK_MAX_CONNECTIONS)
    {
      log_refusal (self, "closed a connection over the limit of %d", LOOPBACK_MAX_CONNECTIONS);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  if (!peer_uid_of_connection (socket, &uid, &error) || uid != getuid ())
    {
      if (error != NULL)
        log_refusal (self, "closed a connection whose user is unknown: %s", error->message);
      else
        log_refusal (self, "refused a connection from UID %u (only UID %u is served)", (unsigned) uid,
                     (unsigned) getuid ());
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  g_socket_set_timeout (socket, LOOPBACK_IO_TIMEOUT_SECONDS);
  local = g_socket_connection_get_local_address (connection, NULL);
  remote = g_socket_connection_get_remote_address (connection, NULL);
  if (local == NULL || remote == NULL ||
      !soup_server_accept_iostream (self->soup, G_IO_STREAM (connection), local, remote, &error))
    {
      g_debug ("Local port %u: cannot serve a connection: %s", self->port, error ? error->message : "no address");
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  self->count->open++;
  g_object_weak_ref (G_OBJECT (connection), connection_gone, count_ref (self->count));
  return TRUE;
}

void
loopback_reply (SoupServerMessage *msg, guint status, const char *content_type, const char *body,
                gsize body_len, gboolean close)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  if (close)
    soup_message_headers_replace (headers, "Connection", "close");
  soup_server_message_set_status (msg, status, NULL);
  if (body != NULL)
    soup_server_message_set_response (msg, content_type, SOUP_MEMORY_COPY, body, body_len);
}

/* A refused request's connection, taken from libsoup: it would read the
 * whole body before answering. The answer is written, the sending side
 * shut, and the connection closed a moment later (so that the client
 * reads the answer before the reset that unread data causes). */
typedef struct {
  GIOStream *stream;
  char *answer;
} Refusal;

static gboolean
refusal_close_cb (gpointer user_data)
{
  Refusal *r = user_data;

  g_io_stream_close (r->stream, NULL, NULL);
  g_object_unref (r->stream);
  g_free (r->answer);
  g_free (r);
  return G_SOURCE_REMOVE;
}

static void
refusal_written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Refusal *r = user_data;

  (void) g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);
  if (G_IS_SOCKET_CONNECTION (r->stream))
    (void) g_socket_shutdown (g_socket_connection_get_socket (G_SOCKET_CONNECTION (r->stream)), FALSE, TRUE, NULL);
  g_timeout_add_seconds (1, refusal_close_cb, r);
}

static void
refuse (SoupServerMessage *msg, guint status, const char *why)
{
  Refusal *r = g_new0 (Refusal, 1);

  r->stream = soup_server_message_steal_connection (msg);
  r->answer = g_strdup_printf ("HTTP/1.1 %u %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                               "Content-Length: %zu\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n%s",
                               status, soup_status_get_phrase (status), strlen (why), why);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (r->stream), r->answer, strlen (r->answer),
                                   G_PRIORITY_DEFAULT, NULL, refusal_written_cb, r);
}

static const LoopbackRoute *
find_route (LoopbackServer *self, const char *method, const char *path, gboolean *path_known)
{
  *path_known = FALSE;
  for (guint i = 0; i < self->n_routes; i++)
    {
      const LoopbackRoute *route = &self->routes[i];

      if (strcmp (route->path, path) != 0)
        continue;
      *path_known = TRUE;
      if (strcmp (route->method, method) == 0 || (strcmp (route->method, "GET") == 0 && strcmp (method, "HEAD") == 0))
        return route;
    }
  return NULL;
}

static guint
local_port (SoupServerMessage *msg)
{
  GSocketAddress *local = soup_server_message_get_local_address (msg);

  return G_IS_INET_SOCKET_ADDRESS (local) ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)) : 0;
}

/* A Host header naming a loopback host and the port the request came in
 * on: a page of another site that resolves its name to 127.0.0.1 (DNS
 * rebinding) sends its own name. */
static gboolean
host_is_ours (SoupServerMessage *msg)
{
  const char *host = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Host");
  g_autofree char *expect_v4 = NULL, *expect_v6 = NULL, *expect_name = NULL;
  guint port = local_port (msg);

  if (host == NULL || port == 0)
    return FALSE;
  expect_v4 = g_strdup_printf ("127.0.0.1:%u", port);
  expect_v6 = g_strdup_printf ("[::1]:%u", port);
  expect_name = g_strdup_printf ("localhost:%u", port);
  return strcmp (host, expect_v4) == 0 || strcmp (host, expect_v6) == 0 || g_ascii_strcasecmp (host, expect_name) == 0;
}

/* A request from a web page carries Origin (fetch, forms) or
 * Sec-Fetch-Site (every request of a current browser). */
static gboolean
from_a_page (SoupServerMessage *msg, const LoopbackRoute *route)
{
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const char *site = soup_message_headers_get_one (h, "Sec-Fetch-Site");
  const char *mode = soup_message_headers_get_one (h, "Sec-Fetch-Mode");

  if (soup_message_headers_get_one (h, "Origin") != NULL)
    return TRUE;
  if (site == NULL)
    return FALSE;
  /* The browser's own navigation (the issuer's redirect, or the address
   * typed in) is what a browser route is for. */
  return !(route->browser && (mode == NULL || strcmp (mode, "navigate") == 0));
}

/* Everything decided from the headers, before any of the body is read. A
 * refusal takes the connection from libsoup (refuse()). */
static void
early_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer user_data)
{
  LoopbackServer *self = user_data;
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const LoopbackRoute *route;
  gboolean path_known;
  goffset length;

  route = find_route (self, soup_server_message_get_method (msg), path, &path_known);
  if (route == NULL)
    {
      refuse (msg, path_known ? SOUP_STATUS_METHOD_NOT_ALLOWED : SOUP_STATUS_NOT_FOUND,
              path_known ? "Method not allowed" : "Not found");
      return;
    }
  if (!host_is_ours (msg))
    {
      log_refusal (self, "refused a request with a foreign Host");
      refuse (msg, SOUP_STATUS_MISDIRECTED_REQUEST, "Not this host");
      return;
    }
  if (from_a_page (msg, route))
    {
      log_refusal (self, "refused a request from a web page");
      refuse (msg, SOUP_STATUS_FORBIDDEN, "Not for web pages");
      return;
    }
  switch (soup_message_headers_get_encoding (h))
    {
    case SOUP_ENCODING_NONE:
      length = 0;
      break;
    case SOUP_ENCODING_CONTENT_LENGTH:
      length = soup_message_headers_get_content_length (h);
      break;
    default:
      refuse (msg, SOUP_STATUS_LENGTH_REQUIRED, "A body needs a Content-Length");
      return;
    }
  if (route->max_body == 0 && length > 0)
    {
      refuse (msg, SOUP_STATUS_BAD_REQUEST, "No body expected");
      return;
    }
  if (route->max_body > 0 && length == 0)
    {
      refuse (msg, SOUP_STATUS_LENGTH_REQUIRED, "A body is expected");
      return;
    }
  if (length < 0 || (gsize) length > route->max_body)
    {
      refuse (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "The body is too large");
      return;
    }
}

static void
handler_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer user_data)
{
  LoopbackServer *self = user_data;
  const LoopbackRoute *route;
  gboolean path_known;

  route = find_route (self, soup_server_message_get_method (msg), path, &path_known);
  if (route == NULL)
    {
      loopback_reply (msg, SOUP_STATUS_NOT_FOUND, "text/plain; charset=utf-8", "Not found", 9, TRUE);
      return;
    }
  route->handler (server, msg, path, query, self->user_data);
}

LoopbackServer *
loopback_server_new (const LoopbackRoute *routes, guint n_routes, gpointer user_data)
{
  LoopbackServer *self = g_new0 (LoopbackServer, 1);

  self->routes = routes;
  self->n_routes = n_routes;
  self->user_data = user_data;
  self->count = g_new0 (ConnectionCount, 1);
  self->count->ref_count = 1;
  self->soup = soup_server_new ("server-header", NULL, NULL);
  soup_server_add_early_handler (self->soup, NULL, early_cb, self, NULL);
  soup_server_add_handler (self->soup, NULL, handler_cb, self, NULL);
  self->service = g_socket_service_new ();
  /* A new service is active; it accepts from loopback_server_start(). */
  g_socket_service_stop (self->service);
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  return self;
}

void
loopback_server_stop (LoopbackServer *self)
{
  if (self == NULL || self->service == NULL)
    return;
  g_socket_service_stop (self->service);
  g_socket_listener_close (G_SOCKET_LISTENER (self->service));
  soup_server_disconnect (self->soup);
}

void
loopback_server_free (LoopbackServer *self)
{
  if (self == NULL)
    return;
  loopback_server_stop (self);
  g_signal_handlers_disconnect_by_data (self->service, self);
  g_clear_object (&self->service);
  g_clear_object (&self->soup);
  count_unref (self->count);
  g_free (self);
}

guint
loopback_server_get_port (LoopbackServer *self)
{
  return self->port;
}

static GSocket *
bind_one (const char *address, guint port, GError **error)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (address);
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (inet, port);
  g_autoptr(GSocket) socket = g_socket_new (g_inet_address_get_family (inet), G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, error);

  if (socket == NULL)
    return NULL;
  /* SO_REUSEADDR: a port left in TIME_WAIT by the last run is free; it
   * never lets two listeners share a port. */
  if (!g_socket_bind (socket, sa, TRUE, error) || !g_socket_listen (socket, error))
    return NULL;
  return g_steal_pointer (&socket);
}

static guint
socket_port (GSocket *socket)
{
  g_autoptr(GSocketAddress) sa = g_socket_get_local_address (socket, NULL);

  return G_IS_INET_SOCKET_ADDRESS (sa) ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa)) : 0;
}

/* 127.0.0.1 and ::1 on one port: both or neither (a browser or a Codex
 * process resolving localhost to ::1 must not find another user's server
 * there). Any other failure on ::1 means this machine has no IPv6
 * loopback (EADDRNOTAVAIL, EAFNOSUPPORT): then 127.0.0.1 alone. */
static gboolean
bind_both (guint port, GSocket **v4, GSocket **v6, GError **error)
{
  g_autoptr(GError) v6_error = NULL;

  *v4 = bind_one ("127.0.0.1", port, error);
  if (*v4 == NULL)
    return FALSE;
  *v6 = bind_one ("::1", socket_port (*v4), &v6_error);
  if (*v6 == NULL && (g_error_matches (v6_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE) ||
                      g_error_matches (v6_error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED)))
    {
      g_clear_object (v4);
      g_propagate_prefixed_error (error, g_steal_pointer (&v6_error), "[::1]:%u: ", port);
      return FALSE;
    }
  if (*v6 == NULL)
    g_debug ("No IPv6 loopback here (%s): 127.0.0.1 only", v6_error->message);
  return TRUE;
}

gboolean
loopback_server_listen (LoopbackServer *self, const char *host, guint port, GError **error)
{
  g_autoptr(GSocket) v4 = NULL;
  g_autoptr(GSocket) v6 = NULL;
  GSocket *one;

  g_return_val_if_fail (self->port == 0, FALSE);
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    {
      /* Any free port: the one 127.0.0.1 got may be taken on ::1; try a few. */
      gboolean ok = FALSE;
      for (int attempt = 0; attempt < (port == 0 ? 8 : 1) && !ok; attempt++)
        {
          g_clear_error (error);
          ok = bind_both (port, &v4, &v6, error);
        }
      if (!ok)
        return FALSE;
    }
  else
    {
      one = bind_one (host, port, error);
      if (one == NULL)
        return FALSE;
      v4 = one;
    }
  if (!g_socket_listener_add_socket (G_SOCKET_LISTENER (self->service), v4, NULL, error) ||
      (v6 != NULL && !g_socket_listener_add_socket (G_SOCKET_LISTENER (self->service), v6, NULL, error)))
    return FALSE;
  self->port = socket_port (v4);
  return TRUE;
}

gboolean
loopback_server_adopt (LoopbackServer *self, const int *fds, guint n_fds, GError **error)
{
  for (guint i = 0; i < n_fds; i++)
    {
      g_autoptr(GSocket) socket = g_socket_new_from_fd (fds[i], error);
      g_autoptr(GSocketAddress) sa = NULL;

      if (socket == NULL)
        return FALSE;
      sa = g_socket_get_local_address (socket, error);
      if (sa == NULL)
        return FALSE;
      if (!G_IS_INET_SOCKET_ADDRESS (sa) || g_socket_get_socket_type (socket) != G_SOCKET_TYPE_STREAM ||
          !g_inet_address_get_is_loopback (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa))))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "Socket %d from the service manager is not a loopback TCP socket", fds[i]);
          return FALSE;
        }
      if (!g_socket_listener_add_socket (G_SOCKET_LISTENER (self->service), socket, NULL, error))
        return FALSE;
      self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa));
    }
  return TRUE;
}

void
loopback_server_start (LoopbackServer *self)
{
  g_socket_service_start (self->service);
}
