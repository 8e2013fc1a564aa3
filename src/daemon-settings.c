/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's settings: reading every row of DAEMON_SETTINGS from the
 * command line, the configuration file, the environment and the
 * defaults. */
#define G_LOG_DOMAIN "codex-authd-settings"

#include "config.h"

#include <gio/gio.h>
#include <stddef.h>
#include <string.h>

#include "daemon-settings.h"
#include "http-client.h"
#include "signin-protocol.h"

typedef enum {
  SETTING_TYPE_STORE,
  SETTING_TYPE_PATH,
  SETTING_TYPE_URL,
  SETTING_TYPE_BOOL,
  SETTING_TYPE_SECONDS,
  SETTING_TYPE_IDS,
  SETTING_TYPE_PORTS,
  SETTING_TYPE_LISTEN,
} SettingType;

typedef struct {
  DaemonSettingInfo public;
  SettingType type;
  int min, max;
  const char *metavar;
  size_t offset;
} SettingRow;

#define SETTING_ROW(field, name, env, type, min, max, def, derived, metavar, doc) \
  { { name, env, def, derived, doc }, SETTING_TYPE_##type, min, max, metavar, offsetof (DaemonSettings, field) },
static const SettingRow rows[N_DAEMON_SETTINGS] = {
  DAEMON_SETTINGS (SETTING_ROW)
};
#undef SETTING_ROW

static const char *const source_names[] = {
  [SETTING_FROM_DEFAULT] = "default",
  [SETTING_FROM_ENVIRONMENT] = "environment",
  [SETTING_FROM_CONFIG_FILE] = "configuration file",
  [SETTING_FROM_COMMAND_LINE] = "command line",
};

#define FIELD(settings, row, ctype) ((ctype *) ((char *) (settings) + (row)->offset))

const DaemonSettingInfo *
daemon_setting_info (DaemonSettingId id)
{
  g_return_val_if_fail ((guint) id < N_DAEMON_SETTINGS, NULL);
  return &rows[id].public;
}

char *
daemon_settings_default_config_path (void)
{
  return g_build_filename (g_get_user_config_dir (), PACKAGE_NAME, PACKAGE_NAME ".conf", NULL);
}

static void
clear_value (DaemonSettings *settings, const SettingRow *row)
{
  switch (row->type)
    {
    case SETTING_TYPE_PATH:
    case SETTING_TYPE_URL:
      g_clear_pointer (FIELD (settings, row, char *), g_free);
      break;
    case SETTING_TYPE_IDS:
      g_clear_pointer (FIELD (settings, row, char **), g_strfreev);
      break;
    case SETTING_TYPE_STORE:
    case SETTING_TYPE_BOOL:
    case SETTING_TYPE_SECONDS:
    case SETTING_TYPE_PORTS:
    case SETTING_TYPE_LISTEN:
    default:
      break;
    }
}

void
daemon_settings_clear (DaemonSettings *settings)
{
  for (guint i = 0; i < N_DAEMON_SETTINGS; i++)
    clear_value (settings, &rows[i]);
  g_clear_pointer (&settings->config_path, g_free);
}

/* ---- reading one value --------------------------------------------------- */

static gboolean
invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, message);
  return FALSE;
}

/* "id1,id2": workspace (account) ids, printable ASCII without spaces. */
static char **
parse_ids (const SettingRow *row, const char *value, GError **error)
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
            invalid (error, "%s must be ids separated by commas", row->public.name);
            return NULL;
          }
      g_ptr_array_add (ids, g_strdup (parts[i]));
    }
  if (ids->len == 0)
    {
      invalid (error, "%s is empty", row->public.name);
      return NULL;
    }
  g_ptr_array_add (ids, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&ids), FALSE);
}

/* "off", or HOST:PORT with a loopback HOST (localhost, 127.0.0.1, [::1])
 * and a PORT in the row's range. */
static gboolean
parse_listen (const SettingRow *row, const char *value, ListenAddress *out, GError **error)
{
  static const char *const hosts[][2] = { { "localhost", "localhost" }, { "127.0.0.1", "127.0.0.1" },
                                          { "[::1]", "::1" } };
  const char *colon = strrchr (value, ':');
  guint64 port;

  if (g_str_equal (value, "off"))
    {
      memset (out, 0, sizeof *out);
      return TRUE;
    }
  if (colon != NULL &&
      g_ascii_string_to_unsigned (colon + 1, 10, (guint64) row->min, (guint64) row->max, &port, NULL))
    for (guint i = 0; i < G_N_ELEMENTS (hosts); i++)
      if (strlen (hosts[i][0]) == (gsize) (colon - value) && g_ascii_strncasecmp (value, hosts[i][0], colon - value) == 0)
        {
          out->enabled = TRUE;
          g_strlcpy (out->host, hosts[i][1], sizeof out->host);
          out->port = (guint) port;
          return TRUE;
        }
  return invalid (error, "%s must be off or HOST:PORT with HOST localhost, 127.0.0.1 or [::1] and PORT from %d to %d, "
                  "not \"%s\"", row->public.name, row->min, row->max, value);
}

/* "1455,1457": 1 to DAEMON_SETTINGS_MAX_PORTS ports in the row's range. */
static gboolean
parse_ports (const SettingRow *row, const char *value, PortList *out, GError **error)
{
  g_auto(GStrv) parts = g_strsplit_set (value, ",; ", -1);
  PortList list = { { 0 }, 0 };

  for (guint i = 0; parts[i] != NULL; i++)
    {
      guint64 port;

      if (parts[i][0] == '\0')
        continue;
      if (list.n == DAEMON_SETTINGS_MAX_PORTS ||
          !g_ascii_string_to_unsigned (parts[i], 10, (guint64) row->min, (guint64) row->max, &port, NULL))
        return invalid (error, "%s must be 1 to %d port numbers separated by commas, not \"%s\"",
                        row->public.name, DAEMON_SETTINGS_MAX_PORTS, value);
      list.ports[list.n++] = (guint) port;
    }
  if (list.n == 0)
    return invalid (error, "%s is empty", row->public.name);
  *out = list;
  return TRUE;
}

/* Parses @value into @settings' field for @row; @from says where it
 * came from (a path in the configuration file must be absolute, one from
 * elsewhere is taken relative to the working directory). */
static gboolean
parse_value (DaemonSettings *settings, const SettingRow *row, const char *value, SettingSource from, GError **error)
{
  const char *name = row->public.name;
  g_autoptr(GError) local_error = NULL;

  switch (row->type)
    {
    case SETTING_TYPE_STORE:
      if (!store_setting_from_string (value, FIELD (settings, row, StoreSetting)))
        return invalid (error, "%s must be auto, secret-service or file, not \"%s\"", name, value);
      break;
    case SETTING_TYPE_PATH:
      {
        g_autofree char *cwd = g_get_current_dir ();

        if (value[0] == '\0')
          return invalid (error, "%s is empty", name);
        if (from == SETTING_FROM_CONFIG_FILE && !g_path_is_absolute (value))
          return invalid (error, "%s must be an absolute path, not \"%s\"", name, value);
        clear_value (settings, row);
        *FIELD (settings, row, char *) = g_canonicalize_filename (value, cwd);
      }
      break;
    case SETTING_TYPE_URL:
      if (value[0] == '\0')
        return invalid (error, "%s is empty", name);
      if (!http_url_validate (value, &local_error))
        return invalid (error, "%s: %s", name, local_error->message);
      clear_value (settings, row);
      *FIELD (settings, row, char *) = g_strdup (value);
      break;
    case SETTING_TYPE_BOOL:
      if (g_str_equal (value, "true"))
        *FIELD (settings, row, gboolean) = TRUE;
      else if (g_str_equal (value, "false"))
        *FIELD (settings, row, gboolean) = FALSE;
      else
        return invalid (error, "%s must be true or false, not \"%s\"", name, value);
      break;
    case SETTING_TYPE_SECONDS:
      {
        guint64 n;

        if (!g_ascii_string_to_unsigned (value, 10, (guint64) row->min, (guint64) row->max, &n, NULL))
          return invalid (error, "%s must be a whole number of seconds from %d to %d, not \"%s\"", name, row->min,
                          row->max, value);
        *FIELD (settings, row, int) = (int) n;
      }
      break;
    case SETTING_TYPE_IDS:
      {
        char **ids = parse_ids (row, value, error);

        if (ids == NULL)
          return FALSE;
        clear_value (settings, row);
        *FIELD (settings, row, char **) = ids;
      }
      break;
    case SETTING_TYPE_PORTS:
      if (!parse_ports (row, value, FIELD (settings, row, PortList), error))
        return FALSE;
      break;
    case SETTING_TYPE_LISTEN:
      if (!parse_listen (row, value, FIELD (settings, row, ListenAddress), error))
        return FALSE;
      break;
    default:
      g_assert_not_reached ();
    }
  /* Says so when the environment is overridden. */
  if (settings->source[row - rows] == SETTING_FROM_ENVIRONMENT && from == SETTING_FROM_CONFIG_FILE)
    g_message ("%s is set, but %s from %s is used", row->public.env, name, settings->config_path);
  else if (settings->source[row - rows] == SETTING_FROM_ENVIRONMENT && from == SETTING_FROM_COMMAND_LINE)
    g_message ("%s is set, but the command line's %s is used", row->public.env, name);
  settings->source[row - rows] = from;
  return TRUE;
}

/* ---- the configuration file --------------------------------------------- */

static gboolean
fail_in_file (GError **error, const char *path, const GError *cause)
{
  g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s: %s", path, cause->message);
  return FALSE;
}

static const SettingRow *
row_named (const char *name)
{
  for (guint i = 0; i < N_DAEMON_SETTINGS; i++)
    if (g_str_equal (rows[i].public.name, name))
      return &rows[i];
  return NULL;
}

static char *
known_keys (void)
{
  g_autoptr(GString) list = g_string_new (NULL);

  for (guint i = 0; i < N_DAEMON_SETTINGS; i++)
    g_string_append_printf (list, "%s%s", i > 0 ? ", " : "", rows[i].public.name);
  return g_string_free (g_steal_pointer (&list), FALSE);
}

gboolean
daemon_settings_load_config (DaemonSettings *settings, const char *data, gsize len, const char *path,
                             GError **error)
{
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
    return fail_in_file (error, path, local_error);

  groups = g_key_file_get_groups (file, NULL);
  for (guint i = 0; groups[i] != NULL; i++)
    if (!g_str_equal (groups[i], DAEMON_CONFIG_GROUP))
      {
        g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
                     "%s: unknown group [%s] (the settings go in [%s])", path, groups[i], DAEMON_CONFIG_GROUP);
        return FALSE;
      }
  if (!g_key_file_has_group (file, DAEMON_CONFIG_GROUP))
    return TRUE;

  keys = g_key_file_get_keys (file, DAEMON_CONFIG_GROUP, NULL, NULL);
  for (guint i = 0; keys[i] != NULL; i++)
    {
      const SettingRow *row = row_named (keys[i]);
      g_autofree char *value = NULL;

      if (row == NULL)
        {
          g_autofree char *list = known_keys ();

          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
                       "%s: unknown key \"%s\" in [%s] (known keys: %s)", path, keys[i], DAEMON_CONFIG_GROUP, list);
          return FALSE;
        }
      value = g_key_file_get_string (file, DAEMON_CONFIG_GROUP, keys[i], &local_error);
      if (value == NULL)
        return fail_in_file (error, path, local_error);
      g_strstrip (value);
      if (!parse_value (settings, row, value, SETTING_FROM_CONFIG_FILE, &local_error))
        return fail_in_file (error, path, local_error);
    }
  return TRUE;
}

static gboolean
load_config_file (DaemonSettings *settings, const char *path, GError **error)
{
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      return fail_in_file (error, path, local_error);
    }
  return daemon_settings_load_config (settings, data, len, path, error);
}

/* ---- the command line ---------------------------------------------------- */

struct _DaemonOptions {
  char *values[N_DAEMON_SETTINGS]; /* NULL: not given */
  char *config_path;
  gboolean replace;
  gboolean verbose;
  gboolean version;
  gboolean no_idle_exit;
  gboolean print_settings;
  char *help[N_DAEMON_SETTINGS];
  GOptionEntry entries[N_DAEMON_SETTINGS + 7];
};

DaemonOptions *
daemon_options_new (void)
{
  DaemonOptions *o = g_new0 (DaemonOptions, 1);
  guint n = 0;

  o->entries[n++] = (GOptionEntry) { "replace", 'r', 0, G_OPTION_ARG_NONE, &o->replace,
                                     "Replace a running instance", NULL };
  o->entries[n++] = (GOptionEntry) { "verbose", 'v', 0, G_OPTION_ARG_NONE, &o->verbose, "Print debug messages",
                                     NULL };
  o->entries[n++] = (GOptionEntry) { "version", 0, 0, G_OPTION_ARG_NONE, &o->version,
                                     "Print the version and exit", NULL };
  o->entries[n++] = (GOptionEntry) { "config", 0, 0, G_OPTION_ARG_FILENAME, &o->config_path,
                                     "Configuration file (default: $XDG_CONFIG_HOME/codex-authd/codex-authd.conf)",
                                     "FILE" };
  o->entries[n++] = (GOptionEntry) { "no-idle-exit", 0, 0, G_OPTION_ARG_NONE, &o->no_idle_exit,
                                     "Never exit when idle, whatever idle-timeout says", NULL };
  o->entries[n++] = (GOptionEntry) { "print-settings", 0, 0, G_OPTION_ARG_NONE, &o->print_settings,
                                     "Print every setting, its value and where it came from, and exit", NULL };
  for (guint i = 0; i < N_DAEMON_SETTINGS; i++)
    {
      const SettingRow *row = &rows[i];

      o->help[i] = g_strdup_printf ("%s (default: %s; $%s)", row->public.doc,
                                    row->public.default_value != NULL ? row->public.default_value
                                                                      : row->public.derived_default,
                                    row->public.env);
      o->entries[n++] = (GOptionEntry) { row->public.name, 0, 0,
                                         row->type == SETTING_TYPE_PATH ? G_OPTION_ARG_FILENAME : G_OPTION_ARG_STRING,
                                         &o->values[i], o->help[i], row->metavar };
    }
  o->entries[n] = (GOptionEntry) { NULL };
  return o;
}

void
daemon_options_free (DaemonOptions *o)
{
  if (o == NULL)
    return;
  for (guint i = 0; i < N_DAEMON_SETTINGS; i++)
    {
      g_free (o->values[i]);
      g_free (o->help[i]);
    }
  g_free (o->config_path);
  g_free (o);
}

GOptionContext *
daemon_options_context (DaemonOptions *o)
{
  GOptionContext *context = g_option_context_new (NULL);

  g_option_context_set_summary (context, "Codex credential broker: serves " CODEX_AUTH_BUS_NAME
                                         " on the session bus.");
  g_option_context_set_description (context,
                                    "Each setting is also a key of the [daemon] group of the configuration file "
                                    "and an environment variable (in parentheses); the command line wins over "
                                    "the file, which wins over the environment. See codex-authd(8) and "
                                    "codex-authd.conf(5).");
  g_option_context_add_main_entries (context, o->entries, NULL);
  return context;
}

gboolean
daemon_options_get_replace (DaemonOptions *o)
{
  return o->replace;
}

gboolean
daemon_options_get_verbose (DaemonOptions *o)
{
  return o->verbose;
}

gboolean
daemon_options_get_version (DaemonOptions *o)
{
  return o->version;
}

gboolean
daemon_options_get_print_settings (DaemonOptions *o)
{
  return o->print_settings;
}

/* ---- deciding every value ---------------------------------------------- */

/* /oauth/revoke beside @token_url (as the Codex CLI derives it), or NULL. */
static char *
revoke_url_beside (const char *token_url)
{
  g_autoptr(GUri) token_uri = g_uri_parse (token_url, G_URI_FLAGS_NONE, NULL);
  g_autoptr(GUri) revoke_uri = NULL;

  if (token_uri == NULL)
    return NULL;
  revoke_uri = g_uri_build (G_URI_FLAGS_NONE, g_uri_get_scheme (token_uri), NULL, g_uri_get_host (token_uri),
                            g_uri_get_port (token_uri), ISSUER_REVOKE_PATH, NULL, NULL);
  return g_uri_to_string (revoke_uri);
}

static gboolean
resolve (DaemonSettings *s, DaemonOptions *o, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  s->config_path = o != NULL && o->config_path != NULL ? g_strdup (o->config_path)
                                                       : daemon_settings_default_config_path ();
  /* The defaults, through the same parser. */
  for (guint i = 0; i < N_DAEMON_SETTINGS; i++)
    if (rows[i].public.default_value != NULL &&
        !parse_value (s, &rows[i], rows[i].public.default_value, SETTING_FROM_DEFAULT, error))
      g_return_val_if_reached (FALSE);
  /* The environment. */
  for (guint i = 0; i < N_DAEMON_SETTINGS; i++)
    {
      const char *value = g_getenv (rows[i].public.env);

      if (value != NULL && value[0] != '\0' &&
          !parse_value (s, &rows[i], value, SETTING_FROM_ENVIRONMENT, &local_error))
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "$%s: %s", rows[i].public.env,
                       local_error->message);
          return FALSE;
        }
    }
  /* The file. */
  if (!load_config_file (s, s->config_path, error))
    return FALSE;
  /* The command line. */
  for (guint i = 0; o != NULL && i < N_DAEMON_SETTINGS; i++)
    if (o->values[i] != NULL && !parse_value (s, &rows[i], o->values[i], SETTING_FROM_COMMAND_LINE, &local_error))
      {
        g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "--%s", local_error->message);
        return FALSE;
      }
  if (o != NULL && o->no_idle_exit)
    {
      s->idle_timeout = 0;
      s->source[SETTING_idle_timeout] = SETTING_FROM_COMMAND_LINE;
    }
  /* What is derived. */
  if (s->codex_home == NULL)
    s->codex_home = g_build_filename (g_get_home_dir (), ".codex", NULL);
  if (s->revoke_url == NULL && s->source[SETTING_token_url] != SETTING_FROM_DEFAULT)
    s->revoke_url = revoke_url_beside (s->token_url);
  if (s->revoke_url == NULL)
    s->revoke_url = signin_issuer_endpoint (s->issuer, ISSUER_REVOKE_PATH);
  return TRUE;
}

gboolean
daemon_settings_resolve (DaemonSettings *settings, DaemonOptions *options, GError **error)
{
  memset (settings, 0, sizeof *settings);
  if (resolve (settings, options, error))
    return TRUE;
  daemon_settings_clear (settings);
  return FALSE;
}

static char *
format_value (const DaemonSettings *s, const SettingRow *row)
{
  switch (row->type)
    {
    case SETTING_TYPE_STORE:
      return g_strdup (store_setting_to_string (*FIELD (s, row, StoreSetting)));
    case SETTING_TYPE_PATH:
    case SETTING_TYPE_URL:
      return g_strdup (*FIELD (s, row, char *) != NULL ? *FIELD (s, row, char *) : "");
    case SETTING_TYPE_BOOL:
      return g_strdup (*FIELD (s, row, gboolean) ? "true" : "false");
    case SETTING_TYPE_SECONDS:
      return g_strdup_printf ("%d", *FIELD (s, row, int));
    case SETTING_TYPE_IDS:
      return *FIELD (s, row, char **) != NULL ? g_strjoinv (",", *FIELD (s, row, char **)) : g_strdup ("");
    case SETTING_TYPE_PORTS:
      {
        const PortList *list = FIELD (s, row, PortList);
        GString *out = g_string_new (NULL);

        for (guint i = 0; i < list->n; i++)
          g_string_append_printf (out, "%s%u", i > 0 ? "," : "", list->ports[i]);
        return g_string_free (out, FALSE);
      }
    case SETTING_TYPE_LISTEN:
      {
        const ListenAddress *a = FIELD (s, row, ListenAddress);

        if (!a->enabled)
          return g_strdup ("off");
        return g_strdup_printf (strchr (a->host, ':') != NULL ? "[%s]:%u" : "%s:%u", a->host, a->port);
      }
    default:
      g_assert_not_reached ();
    }
}

char *
daemon_settings_describe (const DaemonSettings *s)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < N_DAEMON_SETTINGS; i++)
    {
      g_autofree char *value = format_value (s, &rows[i]);

      g_string_append_printf (out, "%s=%s (%s)\n", rows[i].public.name, value, source_names[s->source[i]]);
    }
  return g_string_free (out, FALSE);
}
