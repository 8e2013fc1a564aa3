/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* codex-authctl: talking to codex-authd on the bus. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "authctl.h"

AuthctlArgs authctl_args;

const char *
ansi (const char *code)
{
  return authctl_args.color ? code : "";
}

sd_bus *
authctl_open_bus (void)
{
  sd_bus *bus = NULL;
  int r;

  if (authctl_args.address != NULL)
    {
      r = sd_bus_new (&bus);
      if (r >= 0)
        r = sd_bus_set_address (bus, authctl_args.address);
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

int
authctl_report_error (const char *what, const sd_bus_error *error, int r)
{
  const char *name = error != NULL ? error->name : NULL;
  g_autofree char *message = printable_text (error != NULL && error->message != NULL ? error->message
                                                                                     : strerror (-r));
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

int
authctl_simple_call (const char *method, const char *arg, const char *done)
{
  g_autoptr(sd_bus) bus = authctl_open_bus ();
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
      status = authctl_report_error (method, &error, r);
      sd_bus_error_free (&error);
      return status;
    }
  if (done != NULL)
    printf ("%s\n", done);
  return EXIT_OK;
}

GHashTable *
authctl_get_details (sd_bus *bus, gboolean include_token, gboolean force_refresh, int *status)
{
  g_autoptr(GHashTable) table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                       (GDestroyNotify) g_variant_unref);
  g_autoptr(sd_bus_message) reply = NULL;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  int r;

  r = sd_bus_call_method (bus, CODEX_AUTH_BUS_NAME, CODEX_AUTH_OBJECT_PATH, CODEX_AUTH_INTERFACE,
                          "GetAuthStatusDetails", &error, &reply, "a{sv}", 2,
                          "include-token", "b", include_token, "refresh-token", "b", force_refresh);
  if (r < 0)
    {
      *status = authctl_report_error ("GetAuthStatusDetails", &error, r);
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

const char *
authctl_str (GHashTable *t, const char *key)
{
  GVariant *v = g_hash_table_lookup (t, key);

  return v != NULL && g_variant_is_of_type (v, G_VARIANT_TYPE_STRING) ? g_variant_get_string (v, NULL) : "";
}

gboolean
authctl_bool (GHashTable *t, const char *key)
{
  GVariant *v = g_hash_table_lookup (t, key);

  return v != NULL && g_variant_is_of_type (v, G_VARIANT_TYPE_BOOLEAN) && g_variant_get_boolean (v);
}

guint64
authctl_time (GHashTable *t, const char *key)
{
  GVariant *v = g_hash_table_lookup (t, key);

  return v != NULL && g_variant_is_of_type (v, G_VARIANT_TYPE_UINT64) ? g_variant_get_uint64 (v) : 0;
}

int
authctl_attach_event_loop (sd_bus *bus, sd_event **event)
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

