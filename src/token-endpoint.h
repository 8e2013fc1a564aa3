/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "http-client.h"
#include "refresh-protocol.h"

/* The token endpoint the manager refreshes at: one refresh request with a
 * refresh token, answered with a RefreshResult, never an error (network
 * errors and timeouts are transient results).
 *
 * One of the manager's seams (docs/design.md): the daemon's is the
 * issuer's token URL through the HttpClient (token-endpoint.c); the unit
 * tests link a scripted one in its place (tests/unit/fakes/). */
typedef struct _TokenEndpoint TokenEndpoint;

/* Refreshes at @url (validated by the caller) through @http (a reference
 * is taken). */
TokenEndpoint *token_endpoint_new (HttpClient *http, const char *url);
void token_endpoint_free (TokenEndpoint *endpoint);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TokenEndpoint, token_endpoint_free)

void token_endpoint_refresh_async (TokenEndpoint *endpoint, const char *refresh_token, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);
RefreshResult *token_endpoint_refresh_finish (TokenEndpoint *endpoint, GAsyncResult *result);
