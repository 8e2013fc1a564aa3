/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "codex-authd-config"

#include "config.h"

#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-config.h"
#include "token-client.h"

#define GROUP "daemon"

void
daemon_config_init (DaemonConfig *config)
{
  config->has_store = FALSE;
  config->store = STORE_MODE_AUTO;
  config->codex_home = NULL;
  config->token_url = NULL;
  config->request_timeout = -1;
  config->idle_timeout = -1;
}

void
daemon_config_clear (DaemonConfig *config)
{
  g_clear_pointer (&config->codex_home, g_free);
  g_clear_pointer (&config->token_url, g_free);
  daemon_config_init (config);
}

char *
daemon_config_default_path (void)
{
  return g_build_filename (g_get_user_config_dir (), PACKAGE_NAME, PACKAGE_NAME ".conf", NULL);
}

gboolean
daemon_config_parse_store (const char *value, StoreMode *mode, GError **error)
{
  if (store_mode_from_string (value, mode))
    return TRUE;
  g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
               "store must be auto, secret-service or file, not \"%s\"", value);
  return FALSE;
}

gboolean
daemon_config_parse_seconds (const char *key, const char *value, int min, int max, int *out, GError **error)
{
  guint64 n;

  if (!g_ascii_string_to_unsigned (value, 10, (guint64) min, (guint64) max, &n, NULL))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "%s must be a whole number of seconds from %d to %d, not \"%s\"", key, min, max, value);
      return FALSE;
    }
  *out = (int) n;
  return TRUE;
}

static gboolean
fail (GError **error, const char *path, const GError *cause)
{
  g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s: %s", path, cause->message);
  return FALSE;
}

gboolean
daemon_config_load (DaemonConfig *config, const char *path, GError **error)
{
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      return fail (error, path, local_error);
    }
  return daemon_config_load_data (config, data, len, path, error);
}

gboolean
daemon_config_load_data (DaemonConfig *config, const char *data, gsize len, const char *path, GError **error)
{
  static const char *const known[] = { "store", "codex-home", "token-url", "request-timeout",
                                       "idle-timeout", NULL };
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) groups = NULL;
  g_auto(GStrv) keys = NULL;

  if (len > DAEMON_CONFIG_MAX_SIZE)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE, "%s: larger than %d bytes", path,
                   DAEMON_CONFIG_MAX_SIZE);
      return FALSE;
    }
  if (!g_key_file_load_from_data (file, data, len, G_KEY_FILE_NONE, &local_error))
    return fail (error, path, local_error);

  groups = g_key_file_get_groups (file, NULL);
  for (guint i = 0; groups[i] != NULL; i++)
    if (!g_str_equal (groups[i], GROUP))
      {
        g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
                     "%s: unknown group [%s] (the settings go in [%s])", path, groups[i], GROUP);
        return FALSE;
      }
  if (!g_key_file_has_group (file, GROUP))
    return TRUE;

  keys = g_key_file_get_keys (file, GROUP, NULL, NULL);
  for (guint i = 0; keys[i] != NULL; i++)
    {
      const char *key = keys[i];
      g_autofree char *value = NULL;

      if (!g_strv_contains (known, key))
        {
          g_autofree char *list = g_strjoinv (", ", (char **) known);
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
                       "%s: unknown key \"%s\" in [%s] (known keys: %s)", path, key, GROUP, list);
          return FALSE;
        }
      value = g_key_file_get_string (file, GROUP, key, &local_error);
      if (value == NULL)
        return fail (error, path, local_error);
      g_strstrip (value);

      if (g_str_equal (key, "store"))
        {
          if (!daemon_config_parse_store (value, &config->store, &local_error))
            return fail (error, path, local_error);
          config->has_store = TRUE;
        }
      else if (g_str_equal (key, "codex-home"))
        {
          if (!g_path_is_absolute (value))
            {
              g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                           "%s: codex-home must be an absolute path, not \"%s\"", path, value);
              return FALSE;
            }
          g_free (config->codex_home);
          config->codex_home = g_steal_pointer (&value);
        }
      else if (g_str_equal (key, "token-url"))
        {
          if (value[0] == '\0')
            {
              g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                           "%s: token-url is empty", path);
              return FALSE;
            }
          g_free (config->token_url);
          config->token_url = g_steal_pointer (&value);
        }
      else if (g_str_equal (key, "request-timeout"))
        {
          if (!daemon_config_parse_seconds (key, value, 1, 600, &config->request_timeout, &local_error))
            return fail (error, path, local_error);
        }
      else if (g_str_equal (key, "idle-timeout"))
        {
          if (!daemon_config_parse_seconds (key, value, 0, 86400, &config->idle_timeout, &local_error))
            return fail (error, path, local_error);
        }
    }
  return TRUE;
}

/* The first value set among the command line, the configuration file and
 * the environment; says so when the environment is overridden. */
static const char *
choose (const char *option, const char *config_value, const char *config_path, const char *env_name,
        const char *what)
{
  const char *env = g_getenv (env_name);

  if (env != NULL && env[0] == '\0')
    env = NULL;
  if (option != NULL && option[0] != '\0')
    {
      if (env != NULL)
        g_message ("%s is set, but the command line's %s is used", env_name, what);
      return option;
    }
  if (config_value != NULL)
    {
      if (env != NULL)
        g_message ("%s is set, but %s from %s is used", env_name, what, config_path);
      return config_value;
    }
  return env;
}

static char *
absolute_canonical (const char *path)
{
  g_autofree char *cwd = g_get_current_dir ();

  return g_canonicalize_filename (path, cwd);
}

void
daemon_settings_clear (DaemonSettings *settings)
{
  g_clear_pointer (&settings->config_path, g_free);
  g_clear_pointer (&settings->codex_home, g_free);
  g_clear_pointer (&settings->token_url, g_free);
}

static gboolean
resolve (DaemonSettings *out, const DaemonOptions *options, DaemonConfig *config, GError **error)
{
  const char *home, *url;

  out->config_path = options->config_path != NULL ? g_strdup (options->config_path) : daemon_config_default_path ();
  if (!daemon_config_load (config, out->config_path, error))
    return FALSE;

  out->store_mode = STORE_MODE_AUTO;
  if (options->store != NULL)
    {
      g_autoptr(GError) local_error = NULL;

      if (!daemon_config_parse_store (options->store, &out->store_mode, &local_error))
        {
          g_set_error (error, local_error->domain, local_error->code, "--store: %s", local_error->message);
          return FALSE;
        }
    }
  else if (config->has_store)
    out->store_mode = config->store;

  out->request_timeout = DAEMON_DEFAULT_REQUEST_TIMEOUT;
  if (options->request_timeout != NULL)
    {
      if (!daemon_config_parse_seconds ("--request-timeout", options->request_timeout, 1, 600,
                                        &out->request_timeout, error))
        return FALSE;
    }
  else if (config->request_timeout > 0)
    out->request_timeout = config->request_timeout;

  out->idle_timeout = DAEMON_DEFAULT_IDLE_TIMEOUT;
  if (options->idle_timeout != NULL)
    {
      if (!daemon_config_parse_seconds ("--idle-timeout", options->idle_timeout, 0, 86400, &out->idle_timeout,
                                        error))
        return FALSE;
    }
  else if (config->idle_timeout >= 0)
    out->idle_timeout = config->idle_timeout;
  if (options->no_idle_exit)
    out->idle_timeout = 0;

  home = choose (options->codex_home, config->codex_home, out->config_path, "CODEX_HOME", "codex-home");
  out->codex_home = home != NULL ? absolute_canonical (home)
                                 : g_build_filename (g_get_home_dir (), ".codex", NULL);
  url = choose (options->token_url, config->token_url, out->config_path, "CODEX_REFRESH_TOKEN_URL_OVERRIDE",
                "token-url");
  out->token_url = g_strdup (url != NULL ? url : TOKEN_DEFAULT_URL);
  return TRUE;
}

gboolean
daemon_settings_resolve (DaemonSettings *settings, const DaemonOptions *options, GError **error)
{
  DaemonConfig config;
  gboolean ok;

  memset (settings, 0, sizeof *settings);
  daemon_config_init (&config);
  ok = resolve (settings, options, &config, error);
  daemon_config_clear (&config);
  if (!ok)
    daemon_settings_clear (settings);
  return ok;
}
