/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* codex-authctl: manage Codex credentials through codex-authd. */
#define G_LOG_DOMAIN "codex-authctl"

#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <termios.h>
#include <unistd.h>

#include "auth-record.h"
#include "auth-error.h"
#include "sd-bus-cleanup.h"
#include "codex-secret.h"

/* Exit codes: CodexAuthctlExit in auth-error.h. */
#define EXIT_OK CODEX_AUTHCTL_EXIT_OK
#define EXIT_ERROR CODEX_AUTHCTL_EXIT_ERROR
#define EXIT_USAGE CODEX_AUTHCTL_EXIT_USAGE
#define EXIT_RELOGIN CODEX_AUTHCTL_EXIT_RELOGIN
#define EXIT_UNAVAILABLE CODEX_AUTHCTL_EXIT_UNAVAILABLE

#define MAX_INPUT_SIZE (1024 * 1024)

static const char *arg_address = NULL;
static gboolean arg_json = FALSE;
static gboolean use_color = FALSE;

static const char *
ansi (const char *code)
{
  return use_color ? code : "";
}

#define ANSI_BOLD "\033[1m"
#define ANSI_RED "\033[31m"
#define ANSI_GREEN "\033[32m"
#define ANSI_YELLOW "\033[33m"
#define ANSI_RESET "\033[0m"

/* ---- talking to the daemon --------------------------------------------- */

static sd_bus *
open_bus (void)
{
  sd_bus *bus = NULL;
  int r;

  if (arg_address != NULL)
    {
      r = sd_bus_new (&bus);
      if (r >= 0)
        r = sd_bus_set_address (bus, arg_address);
      if (r >= 0)
        r = sd_bus_set_bus_client (bus, 1);
      if (r >= 0)
        r = sd_bus_start (bus);
    }
  else
    r = sd_bus_open_user (&bus);
  if (r < 0)
    {
      fprintf (stderr, "codex-authctl: cannot connect to the session bus: %s\n", strerror (-r));
      sd_bus_unref (bus);
      return NULL;
    }
  return bus;
}

/* One line for a failed call, and the exit code that goes with it. */
static int
report_error (const char *what, const sd_bus_error *error, int r)
{
  const char *name = error != NULL ? error->name : NULL;
  const char *message = error != NULL && error->message != NULL ? error->message : strerror (-r);
  const CodexAuthErrorInfo *info;

  if (name != NULL && (g_str_equal (name, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
                       g_str_equal (name, SD_BUS_ERROR_NAME_HAS_NO_OWNER)))
    {
      fprintf (stderr, "codex-authctl: codex-authd is not running and could not be started: %s\n", message);
      return EXIT_ERROR;
    }
  fprintf (stderr, "codex-authctl: %s: %s\n", what, message);
  if (name == NULL)
    return EXIT_ERROR;
  if (g_str_equal (name, SD_BUS_ERROR_INVALID_ARGS))
    return EXIT_USAGE;
  info = codex_auth_error_info_for_name (name);
  return info != NULL ? (int) info->exit_status : EXIT_ERROR;
}

/* Calls a method without results, with one string argument @arg (NULL:
 * none); prints @done on success. */
static int
simple_call (const char *method, const char *arg, const char *done)
{
  g_autoptr(sd_bus) bus = open_bus ();
  sd_bus_error error = SD_BUS_ERROR_NULL;
  int r, status;

  if (bus == NULL)
    return EXIT_ERROR;
  if (arg != NULL)
    r = sd_bus_call_method (bus, CODEX_AUTH_BUS_NAME, CODEX_AUTH_OBJECT_PATH, CODEX_AUTH_INTERFACE,
                            method, &error, NULL, "s", arg);
  else
    r = sd_bus_call_method (bus, CODEX_AUTH_BUS_NAME, CODEX_AUTH_OBJECT_PATH, CODEX_AUTH_INTERFACE,
                            method, &error, NULL, "");
  if (r < 0)
    {
      status = report_error (method, &error, r);
      sd_bus_error_free (&error);
      return status;
    }
  if (done != NULL)
    printf ("%s\n", done);
  return EXIT_OK;
}

/* GetAuthStatusDetails into a table of GVariants. */
static GHashTable *
get_details (sd_bus *bus, gboolean include_token, gboolean refresh_token, int *status)
{
  g_autoptr(GHashTable) table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                       (GDestroyNotify) g_variant_unref);
  g_autoptr(sd_bus_message) reply = NULL;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  int r;

  r = sd_bus_call_method (bus, CODEX_AUTH_BUS_NAME, CODEX_AUTH_OBJECT_PATH, CODEX_AUTH_INTERFACE,
                          "GetAuthStatusDetails", &error, &reply, "a{sv}", 2,
                          "include-token", "b", include_token, "refresh-token", "b", refresh_token);
  if (r < 0)
    {
      *status = report_error ("GetAuthStatusDetails", &error, r);
      sd_bus_error_free (&error);
      return NULL;
    }
  r = sd_bus_message_enter_container (reply, 'a', "{sv}");
  while (r > 0 && (r = sd_bus_message_enter_container (reply, 'e', "sv")) > 0)
    {
      const char *key = NULL, *contents = NULL;
      GVariant *value = NULL;

      if ((r = sd_bus_message_read (reply, "s", &key)) < 0 ||
          (r = sd_bus_message_peek_type (reply, NULL, &contents)) < 0)
        break;
      if (g_strcmp0 (contents, "s") == 0)
        {
          const char *s = NULL;
          r = sd_bus_message_read (reply, "v", "s", &s);
          value = g_variant_new_string (s);
        }
      else if (g_strcmp0 (contents, "b") == 0)
        {
          int b = 0;
          r = sd_bus_message_read (reply, "v", "b", &b);
          value = g_variant_new_boolean (b);
        }
      else if (g_strcmp0 (contents, "t") == 0)
        {
          uint64_t t = 0;
          r = sd_bus_message_read (reply, "v", "t", &t);
          value = g_variant_new_uint64 (t);
        }
      else
        r = sd_bus_message_skip (reply, "v");
      if (value != NULL)
        g_hash_table_insert (table, g_strdup (key), g_variant_ref_sink (value));
      if (r < 0 || (r = sd_bus_message_exit_container (reply)) < 0)
        break;
    }
  if (r < 0)
    {
      fprintf (stderr, "codex-authctl: unexpected answer from codex-authd: %s\n", strerror (-r));
      *status = EXIT_ERROR;
      return NULL;
    }
  return g_steal_pointer (&table);
}

static const char *
str_of (GHashTable *t, const char *key)
{
  GVariant *v = g_hash_table_lookup (t, key);

  return v != NULL && g_variant_is_of_type (v, G_VARIANT_TYPE_STRING) ? g_variant_get_string (v, NULL) : "";
}

static gboolean
bool_of (GHashTable *t, const char *key)
{
  GVariant *v = g_hash_table_lookup (t, key);

  return v != NULL && g_variant_is_of_type (v, G_VARIANT_TYPE_BOOLEAN) && g_variant_get_boolean (v);
}

static guint64
time_of (GHashTable *t, const char *key)
{
  GVariant *v = g_hash_table_lookup (t, key);

  return v != NULL && g_variant_is_of_type (v, G_VARIANT_TYPE_UINT64) ? g_variant_get_uint64 (v) : 0;
}

/* ---- status ------------------------------------------------------------ */

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

static void
print_field (const char *label, const char *color, const char *value)
{
  if (value == NULL || value[0] == '\0')
    return;
  printf ("%s%16s:%s %s%s%s\n", ansi (ANSI_BOLD), label, ansi (ANSI_RESET), ansi (color), value,
          ansi (ANSI_RESET));
}

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

static void
print_status_text (GHashTable *t)
{
  const char *method = str_of (t, "auth-method");
  const char *refresh_state = str_of (t, "refresh-state");
  const char *store_state = str_of (t, "store-state");
  g_autofree char *last = format_time (time_of (t, "last-refresh"));
  g_autofree char *expires = format_time (time_of (t, "access-token-expires"));
  g_autofree char *next = format_time (time_of (t, "next-refresh-attempt"));
  g_autofree char *store = g_strdup_printf ("%s (%s)", str_of (t, "credential-store"), store_state);

  print_field ("Auth method", "", method[0] != '\0' ? method : "none (not logged in)");
  print_field ("Account", "", str_of (t, "account-id"));
  print_field ("Email", "", str_of (t, "email"));
  print_field ("Plan", "", str_of (t, "plan-type"));
  if (!g_str_equal (refresh_state, "none"))
    print_field ("Refresh state", state_color (refresh_state), refresh_state);
  print_field ("Refresh error", ANSI_RED, str_of (t, "refresh-error"));
  print_field ("Error message", "", str_of (t, "refresh-error-message"));
  print_field ("Requires login", bool_of (t, "requires-login") ? ANSI_RED : "",
               bool_of (t, "requires-login") ? "yes" : "no");
  print_field ("Last refresh", "", last);
  print_field ("Token expires", "", expires);
  print_field ("Next attempt", "", next);
  print_field ("Store", state_color (store_state), store);
  print_field ("Chosen by", "", str_of (t, "credential-store-reason"));
  print_field ("Store error", ANSI_RED, str_of (t, "store-error-message"));
  print_field ("Codex config", ANSI_RED, str_of (t, "codex-config-error"));
  print_field ("Version", "", str_of (t, "version"));
}

static void
json_add_optional_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value == NULL || value[0] == '\0')
    json_builder_add_null_value (b);
  else
    json_builder_add_string_value (b, value);
}

/* The --json format; its keys and types are stable (see the README). */
static void
print_status_json (GHashTable *t)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *out = NULL;
  g_autofree char *last = iso_time (time_of (t, "last-refresh"));
  g_autofree char *expires = iso_time (time_of (t, "access-token-expires"));
  g_autofree char *next = iso_time (time_of (t, "next-refresh-attempt"));

  json_builder_begin_object (b);
  json_add_optional_string (b, "auth_method", str_of (t, "auth-method"));
  json_builder_set_member_name (b, "logged_in");
  json_builder_add_boolean_value (b, str_of (t, "auth-method")[0] != '\0');
  json_builder_set_member_name (b, "requires_login");
  json_builder_add_boolean_value (b, bool_of (t, "requires-login"));
  json_add_optional_string (b, "account_id", str_of (t, "account-id"));
  json_add_optional_string (b, "email", str_of (t, "email"));
  json_add_optional_string (b, "plan_type", str_of (t, "plan-type"));
  json_add_optional_string (b, "refresh_state", str_of (t, "refresh-state"));
  json_add_optional_string (b, "refresh_error", str_of (t, "refresh-error"));
  json_add_optional_string (b, "refresh_error_message", str_of (t, "refresh-error-message"));
  json_add_optional_string (b, "last_refresh", last);
  json_add_optional_string (b, "access_token_expires", expires);
  json_add_optional_string (b, "next_refresh_attempt", next);
  json_add_optional_string (b, "credential_store", str_of (t, "credential-store"));
  json_add_optional_string (b, "store_state", str_of (t, "store-state"));
  json_add_optional_string (b, "store_error_message", str_of (t, "store-error-message"));
  json_add_optional_string (b, "credential_store_reason", str_of (t, "credential-store-reason"));
  json_add_optional_string (b, "codex_config_error", str_of (t, "codex-config-error"));
  json_add_optional_string (b, "version", str_of (t, "version"));
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  out = json_generator_to_data (gen, NULL);
  printf ("%s\n", out);
}

/* The exit status that goes with the state in @t (status and token share
 * it): 0 usable; 3 not logged in; 4 log in again; 5 temporarily
 * unavailable. With @say, one line on stderr says which. @has_token: a
 * token came with @t. */
static int
state_exit_status (GHashTable *t, gboolean has_token, gboolean say)
{
  const char *method = str_of (t, "auth-method");
  const char *store_state = str_of (t, "store-state");
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
  if (bool_of (t, "requires-login") && method[0] != '\0')
    {
      if (say)
        fprintf (stderr, "codex-authctl: log in again: %s\n", str_of (t, "refresh-error-message"));
      return EXIT_RELOGIN;
    }
  if (method[0] == '\0' || say)
    {
      if (say)
        fprintf (stderr, "codex-authctl: no token available for now (store %s%s%s)\n", store_state,
                 str_of (t, "store-error-message")[0] != '\0' ? ": " : "", str_of (t, "store-error-message"));
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

static int
cmd_status (void)
{
  g_autoptr(sd_bus) bus = open_bus ();
  g_autoptr(GHashTable) details = NULL;
  int status = EXIT_OK;

  if (bus == NULL)
    return EXIT_ERROR;
  details = get_details (bus, FALSE, FALSE, &status);
  if (details == NULL)
    return status;
  if (arg_json)
    print_status_json (details);
  else
    {
      print_status_text (details);
      /* Credentials in a plain file while a keyring could hold them. */
      if (g_str_equal (str_of (details, "credential-store"), "file") && str_of (details, "auth-method")[0] != '\0' &&
          !g_str_has_prefix (str_of (details, "credential-store-reason"), "daemon setting") &&
          secret_service_runs (bus))
        printf ("\nThe credentials are in a plain file, and a Secret Service is running: "
                "\"codex-authctl move-to-keyring\"\nkeeps them in the keyring instead (and sets the Codex "
                "CLI's cli_auth_credentials_store to match).\n");
    }
  return state_exit_status (details, FALSE, FALSE);
}

static int
cmd_token (gboolean refresh)
{
  g_autoptr(sd_bus) bus = open_bus ();
  g_autoptr(GHashTable) details = NULL;
  int status = EXIT_OK;
  const char *token;

  if (bus == NULL)
    return EXIT_ERROR;
  details = get_details (bus, TRUE, refresh, &status);
  if (details == NULL)
    return status;
  token = str_of (details, "auth-token");
  if (token[0] != '\0')
    printf ("%s\n", token);
  return state_exit_status (details, token[0] != '\0', TRUE);
}

/* ---- login ------------------------------------------------------------- */

/* Reads all of @stream (at most MAX_INPUT_SIZE). */
static CodexSecret *
read_all (FILE *stream, gsize *len_out, const char *what)
{
  GByteArray *buf = g_byte_array_new ();
  guint8 chunk[4096];
  size_t n;

  while ((n = fread (chunk, 1, sizeof chunk, stream)) > 0)
    {
      g_byte_array_append (buf, chunk, (guint) n);
      codex_secret_wipe_bytes (chunk, n);
      if (buf->len > MAX_INPUT_SIZE)
        {
          codex_secret_wipe_bytes (buf->data, buf->len);
          g_byte_array_unref (buf);
          fprintf (stderr, "codex-authctl: %s is larger than %d bytes\n", what, MAX_INPUT_SIZE);
          return NULL;
        }
    }
  *len_out = buf->len;
  g_byte_array_append (buf, (const guint8 *) "", 1);
  return (CodexSecret *) g_byte_array_free (buf, FALSE);
}

static CodexSecret *
prompt_secret (const char *prompt)
{
  struct termios old, quiet;
  char line[8192];
  CodexSecret *out = NULL;

  fprintf (stderr, "%s", prompt);
  fflush (stderr);
  if (tcgetattr (STDIN_FILENO, &old) < 0)
    return NULL;
  quiet = old;
  quiet.c_lflag &= ~(tcflag_t) ECHO;
  tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
  if (fgets (line, sizeof line, stdin) != NULL)
    out = codex_secret_dup (line);
  tcsetattr (STDIN_FILENO, TCSAFLUSH, &old);
  fprintf (stderr, "\n");
  codex_secret_wipe_bytes (line, sizeof line);
  return out;
}

static void
strip_line_end (char *s)
{
  gsize len = strlen (s);

  while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
    s[--len] = '\0';
}

static int
call_login (const char *method, const char *types, ...)
{
  g_autoptr(sd_bus) bus = open_bus ();
  g_autoptr(sd_bus_message) m = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  va_list ap;
  int r, status;

  if (bus == NULL)
    return EXIT_ERROR;
  r = sd_bus_message_new_method_call (bus, &m, CODEX_AUTH_BUS_NAME, CODEX_AUTH_OBJECT_PATH,
                                      CODEX_AUTH_INTERFACE, method);
  if (r >= 0)
    {
      /* sd-bus wipes sensitive messages when it frees them. */
      r = sd_bus_message_sensitive (m);
    }
  if (r >= 0)
    {
      va_start (ap, types);
      r = sd_bus_message_appendv (m, types, ap);
      va_end (ap);
    }
  if (r >= 0)
    r = sd_bus_call (bus, m, 0, &error, &reply);
  if (r < 0)
    {
      status = report_error (method, &error, r);
      sd_bus_error_free (&error);
      return status;
    }
  return EXIT_OK;
}

static int
cmd_login_api_key (void)
{
  g_autoptr(CodexSecret) key = NULL;
  gsize len = 0;
  int status;

  /* Never from the command line, where other users could read it. */
  if (isatty (STDIN_FILENO))
    key = prompt_secret ("OpenAI API key: ");
  else
    key = read_all (stdin, &len, "standard input");
  if (key == NULL)
    return EXIT_USAGE;
  strip_line_end (key);
  if (key[0] == '\0')
    {
      fprintf (stderr, "codex-authctl: no API key given\n");
      return EXIT_USAGE;
    }
  status = call_login ("LoginWithApiKey", "s", key);
  if (status == EXIT_OK)
    printf ("Logged in with an API key.\n");
  return status;
}

static int
cmd_login_import (const char *path)
{
  g_autoptr(CodexSecret) data = NULL;
  g_autoptr(AuthRecord) record = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  int status;

  if (g_str_equal (path, "-"))
    data = read_all (stdin, &len, "standard input");
  else
    {
      FILE *f = fopen (path, "re");

      if (f == NULL)
        {
          fprintf (stderr, "codex-authctl: cannot open %s: %s\n", path, g_strerror (errno));
          return EXIT_USAGE;
        }
      data = read_all (f, &len, path);
      fclose (f);
    }
  if (data == NULL)
    return EXIT_USAGE;
  record = auth_record_parse (data, len, &error);
  if (record == NULL)
    {
      fprintf (stderr, "codex-authctl: %s: %s\n", g_str_equal (path, "-") ? "standard input" : path,
               error->message);
      return EXIT_USAGE;
    }
  if (!auth_record_is_usable (record))
    {
      fprintf (stderr, "codex-authctl: nothing to import: %s\n", auth_record_get_unusable_reason (record));
      return EXIT_USAGE;
    }
  if (auth_record_get_mode (record) == AUTH_MODE_API_KEY)
    status = call_login ("LoginWithApiKey", "s", auth_record_get_api_key (record));
  else
    status = call_login ("ImportChatGptTokens", "sss", auth_record_get_id_token (record),
                         auth_record_get_access_token (record), auth_record_get_refresh_token (record));
  if (status == EXIT_OK)
    printf ("Imported %s credentials.\n", auth_mode_to_string (auth_record_get_mode (record)));
  return status;
}


/* The default event loop with the bus attached, SIGINT and SIGTERM blocked
 * so that the loop can take them as events. */
static int
attach_event_loop (sd_bus *bus, sd_event **event)
{
  sigset_t mask;
  int r;

  sigemptyset (&mask);
  sigaddset (&mask, SIGINT);
  sigaddset (&mask, SIGTERM);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  r = sd_event_default (event);
  if (r >= 0)
    r = sd_bus_attach_event (bus, *event, 0);
  return r;
}

/* ---- ChatGPT sign-in --------------------------------------------------- */

typedef struct {
  sd_bus *bus;
  const char *login_id;
  int status;       /* -1 while waiting */
  gboolean cancelling;
} SignIn;

static int
on_login_completed (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  SignIn *s = userdata;
  const char *id = NULL, *error = NULL, *message = NULL;
  int success = 0;

  if (sd_bus_message_read (m, "sbss", &id, &success, &error, &message) < 0 || g_strcmp0 (id, s->login_id) != 0)
    return 0;
  if (success)
    printf ("%s%s%s\n", ansi (ANSI_GREEN), message, ansi (ANSI_RESET));
  else
    fprintf (stderr, "codex-authctl: the sign-in failed (%s): %s\n", error, message);
  s->status = success ? EXIT_OK : EXIT_ERROR;
  return sd_event_exit (sd_bus_get_event (s->bus), s->status);
}

static int
on_owner_changed (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  SignIn *s = userdata;
  const char *name = NULL, *old_owner = NULL, *new_owner = NULL;

  if (sd_bus_message_read (m, "sss", &name, &old_owner, &new_owner) < 0 ||
      g_strcmp0 (name, CODEX_AUTH_BUS_NAME) != 0 || new_owner == NULL || new_owner[0] != '\0')
    return 0;
  fprintf (stderr, "codex-authctl: codex-authd stopped before the sign-in finished\n");
  s->status = EXIT_ERROR;
  return sd_event_exit (sd_bus_get_event (s->bus), s->status);
}

static int
on_interrupt (sd_event_source *source, const struct signalfd_siginfo *si, void *userdata)
{
  SignIn *s = userdata;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  int r;

  if (s->cancelling)
    return sd_event_exit (sd_event_source_get_event (source), EXIT_ERROR);
  s->cancelling = TRUE;
  /* The LoginCompleted ("cancelled") that follows ends the wait. */
  r = sd_bus_call_method (s->bus, CODEX_AUTH_BUS_NAME, CODEX_AUTH_OBJECT_PATH, CODEX_AUTH_INTERFACE,
                          "CancelLogin", &error, NULL, "s", s->login_id);
  if (r < 0)
    {
      report_error ("CancelLogin", &error, r);
      sd_bus_error_free (&error);
      return sd_event_exit (sd_event_source_get_event (source), EXIT_ERROR);
    }
  return 0;
}

/* Opens @url with the desktop's handler when there is a display. */
static void
open_in_browser (const char *url)
{
  g_autoptr(GError) error = NULL;

  if ((g_getenv ("DISPLAY") == NULL || g_getenv ("DISPLAY")[0] == '\0') &&
      (g_getenv ("WAYLAND_DISPLAY") == NULL || g_getenv ("WAYLAND_DISPLAY")[0] == '\0'))
    return;
  if (g_app_info_launch_default_for_uri (url, NULL, &error))
    printf ("Opened it in your browser.\n");
  else
    printf ("Could not open a browser (%s): open the URL yourself.\n", error->message);
}

static int
cmd_login_chatgpt (gboolean device_code, gboolean no_browser)
{
  g_autoptr(sd_bus) bus = open_bus ();
  g_autoptr(sd_bus_message) reply = NULL;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  const char *method = device_code ? "StartDeviceCodeLogin" : "StartChatGptLogin";
  const char *id = NULL, *url = NULL, *code = NULL;
  g_autofree char *login_id = NULL;
  sd_event *event = NULL;
  SignIn s = { .status = -1 };
  int r;

  if (bus == NULL)
    return EXIT_ERROR;
  s.bus = bus;
  r = attach_event_loop (bus, &event);
  /* Subscribed before the start, so that no end can be missed. */
  if (r >= 0)
    r = sd_bus_match_signal (bus, NULL, NULL, CODEX_AUTH_OBJECT_PATH, CODEX_AUTH_INTERFACE, "LoginCompleted",
                             on_login_completed, &s);
  if (r >= 0)
    r = sd_bus_match_signal (bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                             "NameOwnerChanged", on_owner_changed, &s);
  if (r < 0)
    {
      fprintf (stderr, "codex-authctl: cannot wait for the sign-in: %s\n", strerror (-r));
      sd_event_unref (event);
      return EXIT_ERROR;
    }
  r = sd_bus_call_method (bus, CODEX_AUTH_BUS_NAME, CODEX_AUTH_OBJECT_PATH, CODEX_AUTH_INTERFACE, method, &error,
                          &reply, "a{sv}", 0);
  if (r >= 0)
    r = device_code ? sd_bus_message_read (reply, "sss", &id, &url, &code) : sd_bus_message_read (reply, "ss", &id, &url);
  if (r < 0)
    {
      int status = report_error (device_code ? "device code sign-in" : "sign-in", &error, r);

      sd_bus_error_free (&error);
      sd_bus_detach_event (bus);
      sd_event_unref (event);
      return status;
    }
  login_id = g_strdup (id);
  s.login_id = login_id;
  if (device_code)
    printf ("To sign in, open this page in a browser on any device:\n\n  %s%s%s\n\nand enter this code:\n\n"
            "  %s%s%s\n\n(It expires in 15 minutes. Never share it: whoever enters it signs in as you.)\n",
            ansi (ANSI_BOLD), url, ansi (ANSI_RESET), ansi (ANSI_BOLD), code, ansi (ANSI_RESET));
  else
    {
      printf ("To sign in, open this URL in a browser on this computer:\n\n  %s\n\n", url);
      if (!no_browser)
        open_in_browser (url);
    }
  printf ("Waiting for the sign-in to finish (Ctrl+C cancels)...\n");
  fflush (stdout);

  r = sd_event_add_signal (event, NULL, SIGINT, on_interrupt, &s);
  if (r >= 0)
    r = sd_event_add_signal (event, NULL, SIGTERM, on_interrupt, &s);
  if (r >= 0)
    r = sd_event_loop (event);
  sd_bus_detach_event (bus);
  sd_event_unref (event);
  if (r < 0)
    {
      fprintf (stderr, "codex-authctl: waiting for the sign-in failed: %s\n", strerror (-r));
      return EXIT_ERROR;
    }
  return s.status >= 0 ? s.status : EXIT_ERROR;
}

static int
cmd_logout (void)
{
  g_autoptr(sd_bus) bus = open_bus ();
  g_autoptr(sd_bus_message) reply = NULL;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  const char *revocation = "", *type = "", *revoke_error = "";
  int r, status;

  if (bus == NULL)
    return EXIT_ERROR;
  r = sd_bus_call_method (bus, CODEX_AUTH_BUS_NAME, CODEX_AUTH_OBJECT_PATH, CODEX_AUTH_INTERFACE, "Logout",
                          &error, &reply, "");
  if (r < 0)
    {
      status = report_error ("Logout", &error, r);
      sd_bus_error_free (&error);
      return status;
    }
  r = sd_bus_message_enter_container (reply, 'a', "{sv}");
  while (r > 0 && (r = sd_bus_message_enter_container (reply, 'e', "sv")) > 0)
    {
      const char *key = NULL, *value = NULL;

      if (sd_bus_message_read (reply, "s", &key) < 0 || sd_bus_message_read (reply, "v", "s", &value) < 0)
        break;
      if (g_str_equal (key, "revocation"))
        revocation = value;
      else if (g_str_equal (key, "revoked-token-type"))
        type = value;
      else if (g_str_equal (key, "revocation-error"))
        revoke_error = value;
      r = sd_bus_message_exit_container (reply);
    }
  printf ("Logged out.\n");
  if (g_str_equal (revocation, "revoked"))
    printf ("The %s was revoked at the issuer.\n", g_str_equal (type, "access_token") ? "access token" : "refresh token");
  else if (g_str_equal (revocation, "failed"))
    printf ("%sThe token could not be revoked%s (%s); the credentials were removed anyway.\n",
            ansi (ANSI_YELLOW), ansi (ANSI_RESET), revoke_error);
  else if (g_str_equal (revocation, "disabled"))
    printf ("Revocation is turned off (revoke=false): the token was only removed from this computer.\n");
  return EXIT_OK;
}

/* ---- monitor ----------------------------------------------------------- */

static char *
format_value (sd_bus_message *m, const char *contents)
{
  if (g_strcmp0 (contents, "s") == 0)
    {
      const char *s = NULL;
      if (sd_bus_message_read (m, "v", "s", &s) < 0)
        return NULL;
      return g_strdup_printf ("\"%s\"", s);
    }
  if (g_strcmp0 (contents, "b") == 0)
    {
      int b = 0;
      if (sd_bus_message_read (m, "v", "b", &b) < 0)
        return NULL;
      return g_strdup (b ? "true" : "false");
    }
  if (g_strcmp0 (contents, "t") == 0)
    {
      uint64_t t = 0;
      if (sd_bus_message_read (m, "v", "t", &t) < 0)
        return NULL;
      return g_strdup_printf ("%" G_GUINT64_FORMAT, (guint64) t);
    }
  if (sd_bus_message_skip (m, "v") < 0)
    return NULL;
  return g_strdup ("?");
}

static int
on_properties_changed (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  g_autoptr(GString) line = g_string_new (NULL);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y-%m-%d %H:%M:%S");
  const char *iface = NULL;
  int r;

  if (sd_bus_message_read (m, "s", &iface) < 0 || g_strcmp0 (iface, CODEX_AUTH_INTERFACE) != 0)
    return 0;
  g_string_append_printf (line, "%s.%03d", stamp, g_date_time_get_microsecond (now) / 1000);
  r = sd_bus_message_enter_container (m, 'a', "{sv}");
  while (r > 0 && (r = sd_bus_message_enter_container (m, 'e', "sv")) > 0)
    {
      const char *name = NULL, *contents = NULL;
      g_autofree char *value = NULL;

      if (sd_bus_message_read (m, "s", &name) < 0 || sd_bus_message_peek_type (m, NULL, &contents) < 0)
        break;
      value = format_value (m, contents);
      g_string_append_printf (line, " %s=%s", name, value != NULL ? value : "?");
      r = sd_bus_message_exit_container (m);
    }
  printf ("%s\n", line->str);
  fflush (stdout);
  return 0;
}

static int
on_exit_signal (sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
  return sd_event_exit (sd_event_source_get_event (s), EXIT_OK);
}

static int
cmd_monitor (void)
{
  g_autoptr(sd_bus) bus = open_bus ();
  sd_event *event = NULL;
  int r, status;

  if (bus == NULL)
    return EXIT_ERROR;
  r = attach_event_loop (bus, &event);
  if (r >= 0)
    r = sd_event_add_signal (event, NULL, SIGINT, on_exit_signal, NULL);
  if (r >= 0)
    r = sd_event_add_signal (event, NULL, SIGTERM, on_exit_signal, NULL);
  if (r >= 0)
    r = sd_bus_match_signal (bus, NULL, CODEX_AUTH_BUS_NAME, CODEX_AUTH_OBJECT_PATH,
                             "org.freedesktop.DBus.Properties", "PropertiesChanged",
                             on_properties_changed, NULL);
  if (r < 0)
    {
      fprintf (stderr, "codex-authctl: cannot monitor: %s\n", strerror (-r));
      sd_event_unref (event);
      return EXIT_ERROR;
    }
  fprintf (stderr, "Monitoring %s; press Ctrl+C to stop.\n", CODEX_AUTH_BUS_NAME);
  r = sd_event_loop (event);
  status = r < 0 ? EXIT_ERROR : EXIT_OK;
  sd_bus_detach_event (bus);
  sd_event_unref (event);
  return status;
}

/* ---- main -------------------------------------------------------------- */

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage: codex-authctl [OPTIONS] COMMAND\n"
           "\n"
           "Manage the Codex credentials held by codex-authd.\n"
           "\n"
           "Commands:\n"
           "  status [--json]          Show who is logged in and the state of the credentials\n"
           "  token [--refresh]        Print the usable token (API key or access token)\n"
           "  login --api-key          Log in with an API key read from standard input or a prompt\n"
           "  login --import FILE|-    Log in with an auth.json document\n"
           "  login [--no-browser]     Sign in with ChatGPT in a browser: prints the URL (and opens\n"
           "                           it when there is a display), waits; Ctrl+C cancels\n"
           "  login --device-code      Sign in with ChatGPT on another device: prints a URL and a code\n"
           "  logout                   Revoke the ChatGPT tokens, remove the credentials everywhere\n"
           "  reload                   Read the credential store again\n"
           "  unlock                   Ask the keyring to unlock (may show a prompt)\n"
           "  move-to-keyring          Keep the credentials in the keyring (the Secret Service), and\n"
           "                           set the Codex CLI's cli_auth_credentials_store to \"keyring\"\n"
           "  move-to-file             Keep them in $CODEX_HOME/auth.json, the CLI's setting \"file\"\n"
           "  monitor                  Print every change as it happens, until interrupted\n"
           "\n"
           "Options:\n"
           "  --address ADDRESS        Use this D-Bus address instead of the session bus\n"
           "  --json                   Machine-readable output (status)\n"
           "  -h, --help               Show this help\n"
           "  --version                Show the version\n"
           "\n"
           "Exit status: 0 success; 1 the daemon could not be reached or failed; 2 bad usage or\n"
           "input; 3 not logged in; 4 log in again (the credentials failed for good);\n"
           "5 temporarily unavailable (for example a locked keyring). status and token both\n"
           "end with 3, 4 or 5 when the credentials are in that state.\n");
}

int
main (int argc, char **argv)
{
  const char *command = NULL;
  const char *import_path = NULL;
  gboolean api_key = FALSE, refresh = FALSE, device_code = FALSE, no_browser = FALSE;
  const char *no_color = g_getenv ("NO_COLOR");

  setlocale (LC_ALL, "");
  use_color = isatty (STDOUT_FILENO) && (no_color == NULL || no_color[0] == '\0');

  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];

      if (g_str_equal (a, "-h") || g_str_equal (a, "--help"))
        {
          usage (stdout);
          return EXIT_OK;
        }
      else if (g_str_equal (a, "--version"))
        {
          printf ("codex-authctl %s\n", PACKAGE_VERSION);
          return EXIT_OK;
        }
      else if (g_str_equal (a, "--json"))
        arg_json = TRUE;
      else if (g_str_equal (a, "--refresh"))
        refresh = TRUE;
      else if (g_str_equal (a, "--api-key"))
        api_key = TRUE;
      else if (g_str_equal (a, "--device-code"))
        device_code = TRUE;
      else if (g_str_equal (a, "--no-browser"))
        no_browser = TRUE;
      else if (g_str_equal (a, "--address") || g_str_equal (a, "--import"))
        {
          if (i + 1 >= argc)
            {
              fprintf (stderr, "codex-authctl: %s needs a value\n", a);
              return EXIT_USAGE;
            }
          if (g_str_equal (a, "--address"))
            arg_address = argv[++i];
          else
            import_path = argv[++i];
        }
      else if (g_str_has_prefix (a, "--address="))
        arg_address = a + strlen ("--address=");
      else if (g_str_has_prefix (a, "--api-key="))
        {
          fprintf (stderr, "codex-authctl: the API key is never taken from the command line; "
                           "give it on standard input or at the prompt\n");
          return EXIT_USAGE;
        }
      else if (a[0] == '-' && a[1] != '\0')
        {
          fprintf (stderr, "codex-authctl: unknown option %s (see --help)\n", a);
          return EXIT_USAGE;
        }
      else if (command == NULL)
        command = a;
      else
        {
          fprintf (stderr, "codex-authctl: unexpected argument \"%s\" (see --help)\n", a);
          return EXIT_USAGE;
        }
    }

  if (command == NULL)
    command = "status";
  if (g_str_equal (command, "status"))
    return cmd_status ();
  if (g_str_equal (command, "token"))
    return cmd_token (refresh);
  if (g_str_equal (command, "login"))
    {
      if ((api_key ? 1 : 0) + (import_path != NULL ? 1 : 0) + (device_code ? 1 : 0) > 1)
        {
          fprintf (stderr, "codex-authctl: login takes one of --api-key, --import FILE or --device-code\n");
          return EXIT_USAGE;
        }
      if (api_key)
        return cmd_login_api_key ();
      if (import_path != NULL)
        return cmd_login_import (import_path);
      return cmd_login_chatgpt (device_code, no_browser);
    }
  if (g_str_equal (command, "logout"))
    return cmd_logout ();
  if (g_str_equal (command, "reload"))
    return simple_call ("Reload", NULL, NULL);
  if (g_str_equal (command, "unlock"))
    return simple_call ("UnlockStore", NULL, "Unlocked.");
  if (g_str_equal (command, "move-to-keyring"))
    return simple_call ("MoveCredentials", "secret-service",
                        "Moved the credentials to the keyring; the Codex CLI's cli_auth_credentials_store "
                        "is \"keyring\" now.");
  if (g_str_equal (command, "move-to-file"))
    return simple_call ("MoveCredentials", "file",
                        "Moved the credentials to auth.json; the Codex CLI's cli_auth_credentials_store "
                        "is \"file\" now.");
  if (g_str_equal (command, "monitor"))
    return cmd_monitor ();
  fprintf (stderr, "codex-authctl: unknown command \"%s\" (see --help)\n", command);
  return EXIT_USAGE;
}
