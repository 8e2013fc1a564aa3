/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manager's token endpoint: the issuer's, over HTTP. */
#define G_LOG_DOMAIN "codex-authd-token"

#include "config.h"

#include "token-endpoint.h"

struct _TokenEndpoint {
  HttpClient *http;
  char *url;
};

TokenEndpoint *
token_endpoint_new (HttpClient *http, const char *url)
{
  TokenEndpoint *endpoint = g_new0 (TokenEndpoint, 1);

  endpoint->http = http_client_ref (http);
  endpoint->url = g_strdup (url);
  return endpoint;
}

void
token_endpoint_free (TokenEndpoint *endpoint)
{
  if (endpoint == NULL)
    return;
  http_client_unref (endpoint->http);
  g_free (endpoint->url);
  g_free (endpoint);
}

static void
reply_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  TokenEndpoint *endpoint = g_task_get_task_data (task);
  g_autoptr(HttpReply) reply = http_client_request_finish (endpoint->http, result);
  RefreshResult *r = refresh_result_from_reply (reply, g_get_real_time ());

  g_debug ("Token endpoint answered HTTP %u: %s%s", r->http_status,
           r->kind == REFRESH_RESULT_SUCCESS ? "success" :
           r->kind == REFRESH_RESULT_PERMANENT ? "permanent failure " : "transient failure ",
           r->code != NULL ? r->code : "");
  g_task_return_pointer (task, r, (GDestroyNotify) refresh_result_free);
}

void
token_endpoint_refresh_async (TokenEndpoint *endpoint, const char *refresh_token, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, token_endpoint_refresh_async);
  g_task_set_task_data (task, endpoint, NULL);
  g_task_set_check_cancellable (task, FALSE);
  g_debug ("Refreshing the ChatGPT tokens at %s", endpoint->url);
  http_client_request_async (endpoint->http, "POST", endpoint->url, "application/json",
                             refresh_request_body (refresh_token), 0, cancellable, reply_cb, task);
}

RefreshResult *
token_endpoint_refresh_finish (TokenEndpoint *endpoint, GAsyncResult *result)
{
  return g_task_propagate_pointer (G_TASK (result), NULL);
}
