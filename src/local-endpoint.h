/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "auth-manager.h"
#include "daemon-settings.h"
#include "http-client.h"

/* The local token endpoint (docs/local-endpoint.md): the issuer's
 * refresh and revoke protocol on loopback, so that every Codex process
 * pointed here (CODEX_REFRESH_TOKEN_URL_OVERRIDE,
 * CODEX_REVOKE_TOKEN_URL_OVERRIDE) refreshes through the manager's single
 * flight, poison and backoff. Refresh tokens of this login are answered
 * from the manager (auth_manager_relay_verdict()); any other is
 * forwarded to the issuer unchanged, one request per token however many
 * callers, and never stored. A revocation is forwarded, and when it names
 * this login's token the daemon logs out. Who may connect and what a
 * request may look like: loopback-server.h. */

#define LOCAL_ENDPOINT_TOKEN_PATH "/oauth/token"
#define LOCAL_ENDPOINT_REVOKE_PATH "/oauth/revoke"
/* The largest request body taken (the CLI's are about 1 KiB). */
#define LOCAL_ENDPOINT_MAX_BODY (16 * 1024)
/* Seconds a caller is told to wait (Retry-After) when nothing can be
 * given now and no backoff says how long. */
#define LOCAL_ENDPOINT_RETRY_SECONDS 5

typedef struct _LocalEndpoint LocalEndpoint;

LocalEndpoint *local_endpoint_new (void);
void local_endpoint_free (LocalEndpoint *endpoint);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LocalEndpoint, local_endpoint_free)

/* The endpoint as the settings and the service manager say: the sockets
 * of socket activation when there are any (named "token-endpoint", or
 * unnamed), else @address bound here; NULL when it is off or cannot
 * listen (said in the log: the daemon serves D-Bus anyway). */
LocalEndpoint *local_endpoint_open (const ListenAddress *address);

/* Listens on @host and @port (loopback_server_listen()), or on the
 * sockets of socket activation; nothing is accepted until
 * local_endpoint_serve(). */
gboolean local_endpoint_listen (LocalEndpoint *endpoint, const char *host, guint port, GError **error);
gboolean local_endpoint_adopt (LocalEndpoint *endpoint, const int *fds, guint n_fds, GError **error);
/* The refresh URL Codex processes are pointed at ("http://127.0.0.1:PORT/oauth/token"). */
char *local_endpoint_dup_url (LocalEndpoint *endpoint);
guint local_endpoint_get_port (LocalEndpoint *endpoint);
/* TRUE when @url is this endpoint (a loopback host and its port): the
 * daemon must never send its own refreshes there. */
gboolean local_endpoint_is_self (LocalEndpoint *endpoint, const char *url);

/* Starts answering: refreshes of this login through @manager, the rest
 * forwarded through @http to @token_url and @revoke_url (NULL: revocations
 * are refused with 501). All are referenced or copied. */
void local_endpoint_serve (LocalEndpoint *endpoint, AuthManager *manager, HttpClient *http, const char *token_url,
                           const char *revoke_url);
