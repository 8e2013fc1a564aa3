/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libsoup/soup.h>

/* An HTTP server on loopback that only the daemon's own user may talk
 * to. Every connection is checked before a byte of it is read: over the
 * cap of connections, or from a process of another user (the kernel says
 * which: peer-uid.h), it is closed at once. Every request is checked once
 * its headers are in and before its body is read: a known route (method
 * and path), a loopback Host naming the port it came in on, no Origin or
 * Sec-Fetch-Site from a web page (unless the route is for the browser),
 * and a body only where the route takes one, with a Content-Length under
 * the route's limit (a streamed body is refused). A refusal closes the
 * connection. Only then does the route's handler see the request, with
 * its whole body. */

typedef struct _LoopbackServer LoopbackServer;

/* The connections served at once; more are closed as they come. */
#define LOOPBACK_MAX_CONNECTIONS 32
/* A connection with nothing to read or write for this long is closed. */
#define LOOPBACK_IO_TIMEOUT_SECONDS 10

typedef struct {
  const char *method; /* "GET" (HEAD goes with it) or "POST" */
  const char *path;
  gsize max_body;     /* 0: no body; POST routes need one */
  gboolean browser;   /* a browser comes here (cross-site navigations allowed) */
  SoupServerCallback handler;
} LoopbackRoute;

/* @routes (static, @n_routes of them) are served with @user_data. */
LoopbackServer *loopback_server_new (const LoopbackRoute *routes, guint n_routes, gpointer user_data);
void loopback_server_free (LoopbackServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LoopbackServer, loopback_server_free)

/* Listens on @host ("localhost": 127.0.0.1 and ::1 on one port, both or
 * neither, unless this machine has no IPv6 loopback; or one loopback
 * address) and @port (0: any free one). Fails with G_IO_ERROR_ADDRESS_IN_USE
 * when the port is taken in either family. */
gboolean loopback_server_listen (LoopbackServer *server, const char *host, guint port, GError **error);
/* Serves listening sockets passed by the service manager (socket
 * activation); each must be a loopback TCP socket. */
gboolean loopback_server_adopt (LoopbackServer *server, const int *fds, guint n_fds, GError **error);
/* Starts accepting (connections made before wait in the backlog). */
void loopback_server_start (LoopbackServer *server);
/* The port listened on; 0 before. */
guint loopback_server_get_port (LoopbackServer *server);
/* Stops accepting and closes every connection. */
void loopback_server_stop (LoopbackServer *server);

/* Answers @msg with @status and a @body of @content_type (copied; NULL:
 * none), closing the connection after the answer when @close. */
void loopback_reply (SoupServerMessage *msg, guint status, const char *content_type, const char *body,
                     gsize body_len, gboolean close);
