/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Revoking a token at the issuer. */
#define G_LOG_DOMAIN "codex-authd-revoke"

#include "config.h"

#include "revoke.h"
#include "signin-protocol.h"

struct _Revoker {
  HttpClient *http;
  char *url;
  char *client_id;
  gboolean enabled;
};

typedef struct {
  Revoker *revoker;
  const char *hint;  /* a static string */
  Sensitive *token;  /* to keep it out of the error message */
} RevokeData;

Revoker *
revoker_new (HttpClient *http, const char *url, const char *client_id, gboolean enabled)
{
  Revoker *revoker = g_new0 (Revoker, 1);

  revoker->http = http_client_ref (http);
  revoker->url = g_strdup (url);
  revoker->client_id = g_strdup (client_id);
  revoker->enabled = enabled;
  return revoker;
}

void
revoker_free (Revoker *revoker)
{
  if (revoker == NULL)
    return;
  http_client_unref (revoker->http);
  g_free (revoker->url);
  g_free (revoker->client_id);
  g_free (revoker);
}

gboolean
revoker_is_enabled (Revoker *revoker)
{
  return revoker->enabled;
}

static void
revoke_data_free (gpointer user_data)
{
  RevokeData *data = user_data;

  sensitive_free (data->token);
  g_free (data);
}

static void
request_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  RevokeData *data = g_task_get_task_data (task);
  g_autoptr(HttpReply) reply = http_client_request_finish (data->revoker->http, result);
  const char *failure = http_reply_failure (reply);

  if (failure == NULL && reply->status >= 200 && reply->status < 300)
    g_task_return_boolean (task, TRUE);
  else if (failure == NULL)
    {
      /* An endpoint that quotes the request would put the token in the
       * message, which is logged and returned. */
      const char *secrets[] = { data->token, NULL };
      g_autofree char *detail = signin_error_detail (reply->body, reply->body_len, secrets);

      g_task_return_new_error (task, SIGNIN_ERROR, SIGNIN_ERROR_FAILED, "failed to revoke %s: HTTP %u: %s",
                               data->hint, reply->status, detail);
    }
  else if (reply->timed_out)
    g_task_return_new_error (task, SIGNIN_ERROR, SIGNIN_ERROR_FAILED, "failed to revoke %s: no answer within %d seconds",
                             data->hint, REVOKE_TIMEOUT_SECONDS);
  else
    g_task_return_new_error (task, SIGNIN_ERROR, SIGNIN_ERROR_FAILED, "failed to revoke %s: %s", data->hint, failure);
}

void
revoker_revoke_async (Revoker *revoker, const char *token, const char *hint, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  RevokeData *data = g_new0 (RevokeData, 1);

  data->revoker = revoker;
  data->hint = hint;
  data->token = sensitive_dup (token);
  g_task_set_source_tag (task, revoker_revoke_async);
  g_task_set_task_data (task, data, revoke_data_free);
  http_client_request_async (revoker->http, "POST", revoker->url, "application/json",
                             signin_revoke_body (token, hint, revoker->client_id), REVOKE_TIMEOUT_SECONDS,
                             cancellable, request_done_cb, task);
}

gboolean
revoker_revoke_finish (Revoker *revoker, GAsyncResult *result, char **error_message)
{
  g_autoptr(GError) error = NULL;

  if (g_task_propagate_boolean (G_TASK (result), &error))
    return TRUE;
  *error_message = g_strdup (error->message);
  return FALSE;
}
