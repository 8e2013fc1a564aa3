/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* codex-authctl status and token: the service's properties and details
 * (the list is auth-status.h's) as text or JSON, and the exit status that
 * goes with the state. */
#include "config.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include "auth-status.h"
#include "authctl.h"
#include "http-client.h"

static char *
format_relative (gint64 usec)
{
  gint64 delta = (usec - g_get_real_time ()) / G_USEC_PER_SEC;
  gint64 a = ABS (delta);
  g_autofree char *amount = NULL;

  if (a < 60)
    amount = g_strdup_printf ("%" G_GINT64_FORMAT " s", a);
  else if (a < 3600)
    amount = g_strdup_printf ("%" G_GINT64_FORMAT " min", a / 60);
  else if (a < 48 * 3600)
    amount = g_strdup_printf ("%" G_GINT64_FORMAT " h", a / 3600);
  else
    amount = g_strdup_printf ("%" G_GINT64_FORMAT " days", a / 86400);
  return delta >= 0 ? g_strdup_printf ("in %s", amount) : g_strdup_printf ("%s ago", amount);
}

static char *
format_time (guint64 usec)
{
  g_autoptr(GDateTime) dt = NULL;
  g_autofree char *when = NULL;
  g_autofree char *rel = NULL;

  if (usec == 0)
    return NULL;
  dt = g_date_time_new_from_unix_utc ((gint64) (usec / G_USEC_PER_SEC));
  when = g_date_time_format (dt, "%a %Y-%m-%d %H:%M:%S UTC");
  rel = format_relative ((gint64) usec);
  return g_strdup_printf ("%s (%s)", when, rel);
}

static char *
iso_time (guint64 usec)
{
  g_autoptr(GDateTime) dt = NULL;

  if (usec == 0)
    return NULL;
  dt = g_date_time_new_from_unix_utc ((gint64) (usec / G_USEC_PER_SEC));
  return g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
}

/* ---- text ---------------------------------------------------------------- */

static const char *
state_color (const char *state)
{
  if (g_str_equal (state, "ok"))
    return ANSI_GREEN;
  if (g_str_equal (state, "poisoned") || g_str_equal (state, "error"))
    return ANSI_RED;
  if (g_str_equal (state, "backoff") || g_str_equal (state, "locked") || g_str_equal (state, "unavailable"))
    return ANSI_YELLOW;
  return "";
}

/* How a value is shown: the words for the empty and the boolean ones, and
 * the colours of states and failures. @text is the value as text. */
static const char *
presentation (const char *key, const char *text, const char **color)
{
  *color = "";
  if (g_str_equal (key, "auth-method") && text[0] == '\0')
    return "none (not logged in)";
  if (g_str_equal (key, "refresh-state") && g_str_equal (text, "none"))
    return ""; /* nothing to refresh: not shown */
  if (g_str_equal (key, "refresh-state") || g_str_equal (key, "store-state"))
    *color = state_color (text);
  else if (g_str_equal (key, "refresh-error") || g_str_equal (key, "store-error-message") ||
           g_str_equal (key, "codex-config-error") || (g_str_equal (key, "requires-login") && g_str_equal (text, "yes")))
    *color = ANSI_RED;
  return text;
}

/* One line, "     Label: value", for a value that is not empty. */
static void
print_line (const char *label, const char *key, const char *text)
{
  const char *color;
  g_autofree char *shown = printable_text (presentation (key, text, &color));

  if (shown[0] == '\0')
    return;
  printf ("%s%16s:%s %s%s%s\n", ansi (ANSI_BOLD), label, ansi (ANSI_RESET), ansi (color), shown, ansi (ANSI_RESET));
}

static char *
value_text (GHashTable *t, const char *key, char type)
{
  switch (type)
    {
    case 'b':
      return g_strdup (authctl_bool (t, key) ? "yes" : "no");
    case 't':
      {
        char *when = format_time (authctl_time (t, key));
        return when != NULL ? when : g_strdup ("");
      }
    case 's':
    default:
      return g_strdup (authctl_str (t, key));
    }
}

/* Whether Codex processes started from this environment refresh through
 * the daemon: their CODEX_REFRESH_TOKEN_URL_OVERRIDE names its endpoint. */
static gboolean
routes_through_daemon (GHashTable *t, const char **why)
{
  const char *endpoint = authctl_str (t, "local-token-endpoint");
  const char *mine = g_getenv ("CODEX_REFRESH_TOKEN_URL_OVERRIDE");
  g_autoptr(GUri) a = NULL;
  g_autoptr(GUri) b = NULL;

  if (endpoint[0] == '\0')
    {
      *why = "directly (the daemon's local token endpoint is off)";
      return FALSE;
    }
  if (mine == NULL || mine[0] == '\0')
    {
      *why = "directly (CODEX_REFRESH_TOKEN_URL_OVERRIDE is not set here)";
      return FALSE;
    }
  a = g_uri_parse (endpoint, G_URI_FLAGS_NONE, NULL);
  b = g_uri_parse (mine, G_URI_FLAGS_NONE, NULL);
  if (a != NULL && b != NULL && g_uri_get_host (b) != NULL && http_host_is_loopback (g_uri_get_host (b)) &&
      g_uri_get_port (a) == g_uri_get_port (b) && g_strcmp0 (g_uri_get_path (a), g_uri_get_path (b)) == 0)
    {
      *why = "through codex-authd";
      return TRUE;
    }
  *why = "elsewhere (CODEX_REFRESH_TOKEN_URL_OVERRIDE names another endpoint)";
  return FALSE;
}

static void
print_status_text (GHashTable *t)
{
  const char *routing = NULL;

#define PRINT_PROPERTY(name, key, type, field, change, label, doc) \
  {                                                                \
    g_autofree char *text = value_text (t, key, #type[0]);        \
    print_line (label, key, text);                                 \
  }
  AUTH_PROPERTIES (PRINT_PROPERTY)
#undef PRINT_PROPERTY
#define PRINT_DETAIL(key, field, label, doc) print_line (label, key, authctl_str (t, key));
  AUTH_DETAILS (PRINT_DETAIL)
#undef PRINT_DETAIL
  (void) routes_through_daemon (t, &routing);
  print_line ("Codex refreshes", "codex-refreshes", routing);
}

/* ---- JSON ---------------------------------------------------------------- */

/* The member name of a GetAuthStatusDetails key: dashes become
 * underscores ("auth-method": "auth_method"). */
static char *
json_name (const char *key)
{
  char *name = g_strdup (key);

  g_strdelimit (name, "-", '_');
  return name;
}

/* Strings and times are null when empty or unknown. */
static void
add_member (JsonBuilder *b, GHashTable *t, const char *key, char type)
{
  g_autofree char *name = json_name (key);
  g_autofree char *iso = NULL;
  const char *text = NULL;

  json_builder_set_member_name (b, name);
  if (type == 'b')
    {
      json_builder_add_boolean_value (b, authctl_bool (t, key));
      return;
    }
  if (type == 't')
    text = iso = iso_time (authctl_time (t, key));
  else
    text = authctl_str (t, key);
  if (text == NULL || text[0] == '\0')
    json_builder_add_null_value (b);
  else
    json_builder_add_string_value (b, text);
}

/* The --json format: a member per property and detail, and logged_in. Its
 * names and types are stable (see the README). */
static void
print_status_json (GHashTable *t)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *out = NULL;
  const char *routing = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "logged_in");
  json_builder_add_boolean_value (b, authctl_str (t, "auth-method")[0] != '\0');
#define ADD_PROPERTY(name, key, type, field, change, label, doc) add_member (b, t, key, #type[0]);
  AUTH_PROPERTIES (ADD_PROPERTY)
#undef ADD_PROPERTY
#define ADD_DETAIL(key, field, label, doc) add_member (b, t, key, 's');
  AUTH_DETAILS (ADD_DETAIL)
#undef ADD_DETAIL
  json_builder_set_member_name (b, "codex_refreshes_through_daemon");
  json_builder_add_boolean_value (b, routes_through_daemon (t, &routing));
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  out = json_generator_to_data (gen, NULL);
  printf ("%s\n", out);
}

/* ---- the exit status ------------------------------------------------------ */

/* The exit status that goes with the state in @t (status and token share
 * it): 0 usable; 3 not logged in; 4 log in again; 5 temporarily
 * unavailable. With @say, one line on stderr says which. @has_token: a
 * token came with @t. */
static int
state_exit_status (GHashTable *t, gboolean has_token, gboolean say)
{
  const char *method = authctl_str (t, "auth-method");
  const char *store_state = authctl_str (t, "store-state");
  gboolean store_unreachable = g_str_equal (store_state, "locked") || g_str_equal (store_state, "unavailable");

  if (has_token)
    return EXIT_OK;
  if (method[0] == '\0' && !store_unreachable)
    {
      const CodexAuthErrorInfo *info = codex_auth_error_info (CODEX_AUTH_ERROR_NOT_LOGGED_IN);

      if (say)
        fprintf (stderr, "codex-authctl: not logged in (%s)\n", info->name);
      return (int) info->exit_status;
    }
  if (authctl_bool (t, "requires-login") && method[0] != '\0')
    {
      if (say)
        {
          g_autofree char *shown = printable_text (authctl_str (t, "refresh-error-message"));

          fprintf (stderr, "codex-authctl: log in again: %s\n", shown);
        }
      return EXIT_RELOGIN;
    }
  if (method[0] == '\0' || say)
    {
      if (say)
        {
          g_autofree char *shown = printable_text (authctl_str (t, "store-error-message"));

          fprintf (stderr, "codex-authctl: no token available for now (store %s%s%s)\n", store_state,
                   shown[0] != '\0' ? ": " : "", shown);
        }
      return EXIT_UNAVAILABLE;
    }
  return EXIT_OK;
}

/* TRUE when a Secret Service owns its name on @bus. */
static gboolean
secret_service_runs (sd_bus *bus)
{
  g_autoptr(sd_bus_message) reply = NULL;
  int has_owner = 0;

  if (sd_bus_call_method (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                          "NameHasOwner", NULL, &reply, "s", "org.freedesktop.secrets") < 0 ||
      sd_bus_message_read (reply, "b", &has_owner) < 0)
    return FALSE;
  return has_owner;
}

int
cmd_status (void)
{
  g_autoptr(sd_bus) bus = authctl_open_bus ();
  g_autoptr(GHashTable) details = NULL;
  int status = EXIT_OK;

  if (bus == NULL)
    return EXIT_ERROR;
  details = authctl_get_details (bus, FALSE, FALSE, &status);
  if (details == NULL)
    return status;
  if (authctl_args.json)
    print_status_json (details);
  else
    {
      print_status_text (details);
      /* Credentials in a plain file while a keyring could hold them. */
      if (g_str_equal (authctl_str (details, "credential-store"), "file") &&
          authctl_str (details, "auth-method")[0] != '\0' &&
          !g_str_has_prefix (authctl_str (details, "credential-store-reason"), "daemon setting") &&
          secret_service_runs (bus))
        printf ("\nThe credentials are in a plain file, and a Secret Service is running: "
                "\"codex-authctl move-to-keyring\"\nkeeps them in the keyring instead (and sets the Codex "
                "CLI's cli_auth_credentials_store to match).\n");
    }
  return state_exit_status (details, FALSE, FALSE);
}

int
cmd_token (void)
{
  g_autoptr(sd_bus) bus = authctl_open_bus ();
  g_autoptr(GHashTable) details = NULL;
  int status = EXIT_OK;
  const char *token;

  if (bus == NULL)
    return EXIT_ERROR;
  details = authctl_get_details (bus, TRUE, authctl_args.refresh, &status);
  if (details == NULL)
    return status;
  token = authctl_str (details, "auth-token");
  if (token[0] != '\0')
    printf ("%s\n", token);
  return state_exit_status (details, token[0] != '\0', TRUE);
}
