/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rules a sign-in obeys: the daemon's allowed-workspaces, and the
 * Codex CLI's forced_login_method and forced_chatgpt_workspace_id from its
 * config.toml (read again, in a worker thread, at every start), so that a
 * sign-in through the daemon is refused where `codex login` would be. */
#define G_LOG_DOMAIN "codex-authd-signin"

#include "config.h"

#include "signin-private.h"

static void
read_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  g_task_return_pointer (task, cli_config_read_login_rules (task_data), (GDestroyNotify) cli_login_rules_free);
}

void
signin_rules_read_async (SigninManager *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, signin_rules_read_async);
  if (self->codex_home == NULL)
    {
      g_task_return_pointer (task, g_new0 (CliLoginRules, 1), (GDestroyNotify) cli_login_rules_free);
      return;
    }
  g_task_set_task_data (task, g_strdup (self->codex_home), g_free);
  g_task_run_in_thread (task, read_thread);
}

CliLoginRules *
signin_rules_read_finish (SigninManager *self, GAsyncResult *result)
{
  CliLoginRules *rules = g_task_propagate_pointer (G_TASK (result), NULL);

  /* Cancelled: no rules were read; the caller has ended the sign-in. */
  return rules != NULL ? rules : g_new0 (CliLoginRules, 1);
}

static gboolean
is_set (char **list)
{
  return list != NULL && list[0] != NULL;
}

char **
signin_rules_workspaces (SigninManager *self, const CliLoginRules *rules)
{
  g_autoptr(GStrvBuilder) both = NULL;

  if (!is_set (rules->workspaces))
    return is_set (self->workspaces) ? g_strdupv (self->workspaces) : NULL;
  if (!is_set (self->workspaces))
    return g_strdupv (rules->workspaces);
  both = g_strv_builder_new ();
  for (guint i = 0; rules->workspaces[i] != NULL; i++)
    if (g_strv_contains ((const char *const *) self->workspaces, rules->workspaces[i]))
      g_strv_builder_add (both, rules->workspaces[i]);
  return g_strv_builder_end (both);
}

char *
signin_rules_refusal (SigninManager *self, const CliLoginRules *rules, gboolean chatgpt)
{
  g_auto(GStrv) workspaces = NULL;

  if (rules->problem != NULL)
    return g_strdup_printf ("The Codex CLI's settings cannot be used (%s): it would not sign in either. "
                            "Correct config.toml, then sign in again.", rules->problem);
  if (chatgpt && rules->method == CLI_LOGIN_METHOD_API)
    return g_strdup ("ChatGPT login is disabled (forced_login_method = \"api\" in the Codex CLI's config.toml). "
                     "Use API key login instead.");
  if (!chatgpt && rules->method == CLI_LOGIN_METHOD_CHATGPT)
    return g_strdup ("API key login is disabled (forced_login_method = \"chatgpt\" in the Codex CLI's "
                     "config.toml). Use ChatGPT login instead.");
  workspaces = signin_rules_workspaces (self, rules);
  if (chatgpt && workspaces != NULL && workspaces[0] == NULL)
    return g_strdup ("No workspace is allowed both by the daemon's allowed-workspaces and by the Codex CLI's "
                     "forced_chatgpt_workspace_id: no sign-in can succeed.");
  return NULL;
}

char *
signin_rules_check_account (SigninManager *self, const CliLoginRules *rules, const char *account)
{
  g_auto(GStrv) workspaces = signin_rules_workspaces (self, rules);
  g_autofree char *list = NULL;

  if (workspaces == NULL || (account != NULL && g_strv_contains ((const char *const *) workspaces, account)))
    return NULL;
  list = g_strjoinv (", ", workspaces);
  return g_strdup_printf ("Sign-in is restricted to workspace id(s) %s. Sign in with an account of one of them.",
                          list);
}
