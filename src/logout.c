/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logout: revoke, then remove the credentials. */
#define G_LOG_DOMAIN "codex-authd-logout"

#include "config.h"

#include "daemon-log.h"
#include "logout.h"

/* Logouts in progress (their revocation may take REVOKE_TIMEOUT_SECONDS). */
static guint in_progress;

typedef struct {
  AuthManager *auth;
  Revoker *revoker;
  guint64 generation; /* the login this logout removes */
  LogoutOutcome outcome;
} LogoutData;

void
logout_outcome_clear (LogoutOutcome *outcome)
{
  g_clear_pointer (&outcome->error, g_free);
}

static void
logout_data_free (gpointer user_data)
{
  LogoutData *data = user_data;

  g_object_unref (data->auth);
  logout_outcome_clear (&data->outcome);
  g_free (data);
  in_progress--;
}

static void
removed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!auth_manager_logout_finish (AUTH_MANAGER (source), result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
remove_credentials (GTask *task)
{
  LogoutData *data = g_task_get_task_data (task);

  auth_manager_logout_async (data->auth, data->generation, removed_cb, task);
}

static void
revoked_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  LogoutData *data = g_task_get_task_data (task);
  LogoutOutcome *outcome = &data->outcome;
  g_autofree char *error = NULL;

  if (revoker_revoke_finish (data->revoker, result, &error))
    {
      outcome->revocation = "revoked";
      g_message ("Logout: revoked the %s", outcome->token_type);
    }
  else
    {
      /* Best-effort: the logout goes on. */
      outcome->revocation = "failed";
      outcome->error = g_steal_pointer (&error);
      AUTH_LOG_EVENT (G_LOG_LEVEL_WARNING, AUTH_LOG_REVOKE_FAILED, NULL,
                      "Logout: %s; removing the credentials anyway", outcome->error);
    }
  remove_credentials (task);
}

void
logout_async (AuthManager *auth, SigninManager *signins, Revoker *revoker, GAsyncReadyCallback callback,
              gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  LogoutData *data = g_new0 (LogoutData, 1);
  g_autoptr(Sensitive) token = NULL;
  const char *hint = NULL;

  in_progress++;
  data->auth = g_object_ref (auth);
  data->revoker = revoker;
  /* Decided now: a sign-in during the revocation is kept. */
  data->generation = auth_manager_get_login_generation (auth);
  g_task_set_source_tag (task, logout_async);
  g_task_set_task_data (task, data, logout_data_free);
  signin_manager_cancel_pending (signins, "The sign-in was cancelled by a logout.");

  token = auth_manager_dup_revocable_token (auth, &hint);
  data->outcome.token_type = hint != NULL ? hint : "";
  data->outcome.revocation = token == NULL ? "none" : revoker_is_enabled (revoker) ? "revoked" : "disabled";
  if (token == NULL || !revoker_is_enabled (revoker))
    {
      remove_credentials (task);
      return;
    }
  revoker_revoke_async (revoker, token, hint, NULL, revoked_cb, task);
}

gboolean
logout_finish (GAsyncResult *result, LogoutOutcome *outcome, GError **error)
{
  LogoutData *data = g_task_get_task_data (G_TASK (result));

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  outcome->revocation = data->outcome.revocation;
  outcome->token_type = data->outcome.token_type;
  outcome->error = g_strdup (data->outcome.error != NULL ? data->outcome.error : "");
  return TRUE;
}

gboolean
logout_in_progress (void)
{
  return in_progress > 0;
}

void
logout_wait (gint64 max_usec)
{
  gint64 deadline = g_get_monotonic_time () + max_usec;

  while (in_progress > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
}
