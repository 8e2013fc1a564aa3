/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device-code sign-in: the user code from the issuer, then polling
 * until the user approved it on another device. */
#define G_LOG_DOMAIN "codex-authd-signin"

#include "config.h"

#include "signin-private.h"

static void schedule_poll (Signin *signin);

static void
poll_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Signin *signin = user_data;
  SigninManager *self = signin->manager;
  g_autoptr(HttpReply) reply = http_client_request_finish (self->http, result);
  g_autoptr(GError) error = NULL;
  SigninDeviceGrant grant = { 0 };
  g_autofree char *redirect_uri = NULL;

  signin_op_end (self);
  if (signin->ended)
    goto out;
  if (http_reply_failure (reply) != NULL)
    {
      /* The network, not the sign-in, failed: ask again at the next turn. */
      g_message ("Sign-in %s: polling failed (%s); trying again", signin->id, http_reply_failure (reply));
      schedule_poll (signin);
      goto out;
    }
  switch (signin_parse_device_token (reply->status, reply->body, reply->body_len, &grant, &error))
    {
    case SIGNIN_POLL_PENDING:
      schedule_poll (signin);
      break;
    case SIGNIN_POLL_FAILED:
      signin_fail (signin, SIGNIN_ERROR_DEVICE_AUTH_FAILED, error->message);
      break;
    case SIGNIN_POLL_DONE:
      redirect_uri = signin_issuer_endpoint (self->issuer, "/deviceauth/callback");
      signin_exchange_code (signin, grant.authorization_code, redirect_uri, grant.code_verifier);
      break;
    }
  signin_device_grant_clear (&grant);
out:
  signin_unref (signin);
}

static gboolean
poll_cb (gpointer user_data)
{
  Signin *signin = user_data;
  SigninManager *self = signin->manager;
  g_autofree char *url = signin_issuer_endpoint (self->issuer, "/api/accounts/deviceauth/token");

  signin->retry_id = 0;
  signin_op_begin (self);
  http_client_request_async (self->http, "POST", url, "application/json",
                              signin_device_token_body (signin->device.device_auth_id, signin->device.user_code),
                              SIGNIN_START_TIMEOUT_SECONDS, signin->cancellable, poll_done_cb, signin_ref (signin));
  return G_SOURCE_REMOVE;
}

static void
schedule_poll (Signin *signin)
{
  /* The server's interval; at least a second, so that an interval of 0
   * is no storm. */
  signin->retry_id = g_timeout_add (MAX (signin->device.interval, 1) * 1000, poll_cb, signin);
}

static void
usercode_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Signin *signin = user_data;
  SigninManager *self = signin->manager;
  g_autoptr(HttpReply) reply = http_client_request_finish (self->http, result);
  g_autoptr(GError) error = NULL;

  signin_op_end (self);
  if (signin->ended)
    goto out;
  if (http_reply_failure (reply) != NULL)
    {
      g_autofree char *message = g_strdup_printf ("Could not reach the sign-in server: %s. Try again later.",
                                                  http_reply_failure (reply));
      signin_fail (signin, SIGNIN_ERROR_FAILED, message);
      goto out;
    }
  if (!signin_parse_usercode (reply->status, reply->body, reply->body_len, &signin->device, &error))
    {
      signin_fail (signin, error->code, error->message);
      goto out;
    }
  signin->verification_url = signin_issuer_endpoint (self->issuer, "/codex/device");
  g_task_set_task_data (signin->start_task, signin_ref (signin), signin_unref);
  signin_started (signin);
  schedule_poll (signin);
out:
  signin_unref (signin);
}

void
signin_device_begin (Signin *signin)
{
  SigninManager *self = signin->manager;
  g_autofree char *url = signin_issuer_endpoint (self->issuer, "/api/accounts/deviceauth/usercode");

  signin_op_begin (self);
  http_client_request_async (self->http, "POST", url, "application/json",
                             signin_device_usercode_body (CLI_CLIENT_ID), SIGNIN_START_TIMEOUT_SECONDS,
                             signin->cancellable, usercode_done_cb, signin_ref (signin));
}
