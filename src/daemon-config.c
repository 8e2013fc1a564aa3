/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "codex-authd-config"

#include "config.h"

#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-config.h"
#include "login-protocol.h"
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
  config->issuer = NULL;
  config->revoke_url = NULL;
  config->revoke = -1;
  config->workspaces = NULL;
  config->n_login_ports = 0;
  config->browser_login_timeout = -1;
  config->device_login_timeout = -1;
}

void
daemon_config_clear (DaemonConfig *config)
{
  g_clear_pointer (&config->codex_home, g_free);
  g_clear_pointer (&config->token_url, g_free);
  g_clear_pointer (&config->issuer, g_free);
  g_clear_pointer (&config->revoke_url, g_free);
  g_clear_pointer (&config->workspaces, g_strfreev);
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

gboolean
daemon_config_parse_url (const char *key, const char *value, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (value[0] == '\0')
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s is empty", key);
      return FALSE;
    }
  if (!token_url_validate (value, &local_error))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s: %s", key, local_error->message);
      return FALSE;
    }
  return TRUE;
}

/* "1455,1457": 1 to 8 ports from 1 to 65535. */
static gboolean
parse_ports (const char *value, guint *ports, guint *n_out, GError **error)
{
  g_auto(GStrv) parts = g_strsplit_set (value, ",; ", -1);
  guint n = 0;

  for (guint i = 0; parts[i] != NULL; i++)
    {
      guint64 port;

      if (parts[i][0] == '\0')
        continue;
      if (n == 8 || !g_ascii_string_to_unsigned (parts[i], 10, 1, 65535, &port, NULL))
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       "login-ports must be 1 to 8 port numbers separated by commas, not \"%s\"", value);
          return FALSE;
        }
      ports[n++] = (guint) port;
    }
  if (n == 0)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "login-ports is empty");
      return FALSE;
    }
  *n_out = n;
  return TRUE;
}

/* "id1,id2": workspace (account) ids, printable ASCII without spaces. */
static char **
parse_workspaces (const char *value, GError **error)
{
  g_auto(GStrv) parts = g_strsplit_set (value, ",; ", -1);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (parts[i][0] == '\0')
        continue;
      for (const char *p = parts[i]; *p != '\0'; p++)
        if (!g_ascii_isgraph (*p))
          {
            g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                         "allowed-workspaces must be workspace ids separated by commas");
            return NULL;
          }
      g_ptr_array_add (ids, g_strdup (parts[i]));
    }
  if (ids->len == 0)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "allowed-workspaces is empty");
      return NULL;
    }
  g_ptr_array_add (ids, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&ids), FALSE);
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
                                       "idle-timeout", "issuer", "revoke-url", "revoke",
                                       "allowed-workspaces", "login-ports", "browser-login-timeout",
                                       "device-login-timeout", NULL };
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
      else if (g_str_equal (key, "issuer") || g_str_equal (key, "revoke-url"))
        {
          char **target = g_str_equal (key, "issuer") ? &config->issuer : &config->revoke_url;

          if (!daemon_config_parse_url (key, value, &local_error))
            return fail (error, path, local_error);
          g_free (*target);
          *target = g_steal_pointer (&value);
        }
      else if (g_str_equal (key, "revoke"))
        {
          if (g_str_equal (value, "true"))
            config->revoke = 1;
          else if (g_str_equal (value, "false"))
            config->revoke = 0;
          else
            {
              g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                           "%s: revoke must be true or false, not \"%s\"", path, value);
              return FALSE;
            }
        }
      else if (g_str_equal (key, "allowed-workspaces"))
        {
          g_strfreev (config->workspaces);
          config->workspaces = parse_workspaces (value, &local_error);
          if (config->workspaces == NULL)
            return fail (error, path, local_error);
        }
      else if (g_str_equal (key, "login-ports"))
        {
          if (!parse_ports (value, config->login_ports, &config->n_login_ports, &local_error))
            return fail (error, path, local_error);
        }
      else if (g_str_equal (key, "browser-login-timeout") || g_str_equal (key, "device-login-timeout"))
        {
          int *target = g_str_equal (key, "browser-login-timeout") ? &config->browser_login_timeout
                                                                   : &config->device_login_timeout;

          if (!daemon_config_parse_seconds (key, value, 10, 3600, target, &local_error))
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
  g_clear_pointer (&settings->issuer, g_free);
  g_clear_pointer (&settings->revoke_url, g_free);
  g_clear_pointer (&settings->workspaces, g_strfreev);
}

static gboolean
resolve (DaemonSettings *out, const DaemonOptions *options, DaemonConfig *config, GError **error)
{
  const char *home, *url, *issuer, *revoke_url;

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

  issuer = choose (options->issuer, config->issuer, out->config_path, "CODEX_AUTHD_ISSUER", "issuer");
  if (issuer != NULL && !daemon_config_parse_url ("issuer", issuer, error))
    return FALSE;
  out->issuer = g_strdup (issuer != NULL ? issuer : LOGIN_DEFAULT_ISSUER);
  revoke_url = choose (options->revoke_url, config->revoke_url, out->config_path, "CODEX_REVOKE_TOKEN_URL_OVERRIDE",
                       "revoke-url");
  if (revoke_url != NULL)
    {
      if (!daemon_config_parse_url ("revoke-url", revoke_url, error))
        return FALSE;
      out->revoke_url = g_strdup (revoke_url);
    }
  else if (url != NULL)
    {
      /* Beside the configured token endpoint, as the Codex CLI does. */
      g_autoptr(GUri) token_uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

      if (token_uri != NULL)
        {
          g_autoptr(GUri) revoke_uri = g_uri_build (G_URI_FLAGS_NONE, g_uri_get_scheme (token_uri), NULL,
                                                    g_uri_get_host (token_uri), g_uri_get_port (token_uri),
                                                    "/oauth/revoke", NULL, NULL);
          out->revoke_url = g_uri_to_string (revoke_uri);
        }
    }
  if (out->revoke_url == NULL)
    out->revoke_url = login_issuer_endpoint (out->issuer, "/oauth/revoke");
  out->revoke = config->revoke != 0;
  out->workspaces = g_strdupv (config->workspaces);
  memcpy (out->login_ports, config->login_ports, sizeof out->login_ports);
  out->n_login_ports = config->n_login_ports;
  out->browser_login_timeout = config->browser_login_timeout > 0 ? config->browser_login_timeout : 600;
  out->device_login_timeout = config->device_login_timeout > 0 ? config->device_login_timeout : 900;
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
