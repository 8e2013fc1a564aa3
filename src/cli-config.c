/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Codex CLI's config.toml on disk: reading its storage setting and
 * rewriting it (the TOML itself: cli-config-toml.cc). */
#define G_LOG_DOMAIN "codex-authd-config"

#include "config.h"

#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli-config.h"
#include "safe-file.h"

CliStoreSetting
cli_config_read_store_setting (const char *codex_home, char **problem)
{
  g_autofree char *path = g_build_filename (codex_home, CLI_CONFIG_NAME, NULL);
  g_autofree char *data = NULL;
  g_autofree char *why = NULL;
  g_autoptr(GError) error = NULL;
  CliStoreSetting setting;
  gsize len = 0;

  if (problem != NULL)
    *problem = NULL;
  if (!safe_file_read_bounded (path, CLI_CONFIG_MAX_SIZE, &data, &len, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return CLI_STORE_SETTING_DEFAULT;
      if (problem != NULL)
        *problem = g_strdup (error->message);
      return CLI_STORE_SETTING_INVALID;
    }
  setting = cli_config_parse_store_setting (data, len, &why);
  if (setting == CLI_STORE_SETTING_INVALID && problem != NULL)
    *problem = g_strdup_printf ("%s: %s", path, why);
  return setting;
}

void
cli_login_rules_free (CliLoginRules *rules)
{
  if (rules == NULL)
    return;
  g_strfreev (rules->workspaces);
  g_free (rules->problem);
  g_free (rules);
}

CliLoginRules *
cli_config_read_login_rules (const char *codex_home)
{
  g_autofree char *path = g_build_filename (codex_home, CLI_CONFIG_NAME, NULL);
  g_autofree char *data = NULL;
  g_autoptr(GError) error = NULL;
  CliLoginRules *rules;
  gsize len = 0;

  if (!safe_file_read_bounded (path, CLI_CONFIG_MAX_SIZE, &data, &len, &error))
    {
      rules = g_new0 (CliLoginRules, 1);
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        rules->problem = g_strdup (error->message);
      return rules;
    }
  rules = cli_config_parse_login_rules (data, len);
  if (rules->problem != NULL)
    {
      char *named = g_strdup_printf ("%s: %s", path, rules->problem);

      g_free (rules->problem);
      rules->problem = named;
    }
  return rules;
}

gboolean
cli_config_write_store_setting (const char *codex_home, const char *value, GError **error)
{
  g_autofree char *link = g_build_filename (codex_home, CLI_CONFIG_NAME, NULL);
  g_autofree char *path = NULL;
  g_autofree char *data = NULL;
  g_autofree char *edited = NULL;
  g_autoptr(GError) local_error = NULL;
  guint mode = 0600;
  gsize len = 0;

  /* A config.toml that is a link (to a dotfiles repository, say) stays a
   * link: the file it points to is the one rewritten. */
  path = realpath (link, NULL);
  if (path == NULL)
    path = g_strdup (link);
  if (!safe_file_read_bounded_mode (path, CLI_CONFIG_MAX_SIZE, &data, &len, &mode, &local_error))
    {
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_clear_error (&local_error);
      data = g_strdup ("");
      len = 0;
      mode = 0600;
      if (g_mkdir_with_parents (codex_home, 0700) < 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: cannot create the directory", codex_home);
          return FALSE;
        }
    }
  edited = cli_config_with_store_setting (data, len, value, &local_error);
  if (edited == NULL)
    {
      g_set_error (error, G_IO_ERROR, local_error->code, "%s: %s; not changing it", path, local_error->message);
      return FALSE;
    }
  return safe_file_write_atomic_mode (path, ".config-", edited, strlen (edited), mode & 07777, error);
}
