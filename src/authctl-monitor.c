/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* codex-authctl monitor: every PropertiesChanged as it comes. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "auth-status.h"
#include "authctl.h"

/* The value at @m's read position as text: inside its variant (@type
 * given, as sd_bus_get_property() leaves it) or the variant itself. */
static char *
format_value (sd_bus_message *m, const char *contents, gboolean entered)
{
  if (!entered && sd_bus_message_enter_container (m, 'v', contents) < 0)
    return NULL;
  if (g_strcmp0 (contents, "s") == 0)
    {
      const char *s = NULL;
      g_autofree char *shown = NULL;

      if (sd_bus_message_read (m, "s", &s) < 0)
        return NULL;
      shown = printable_text (s);
      return g_strdup_printf ("\"%s\"", shown);
    }
  if (g_strcmp0 (contents, "b") == 0)
    {
      int b = 0;
      if (sd_bus_message_read (m, "b", &b) < 0)
        return NULL;
      return g_strdup (b ? "true" : "false");
    }
  if (g_strcmp0 (contents, "t") == 0)
    {
      uint64_t t = 0;
      if (sd_bus_message_read (m, "t", &t) < 0)
        return NULL;
      return g_strdup_printf ("%" G_GUINT64_FORMAT, (guint64) t);
    }
  if (sd_bus_message_skip (m, contents) < 0)
    return NULL;
  return g_strdup ("?");
}

/* The D-Bus type of property @name, from the list (auth-status.h). */
static const char *
property_type (const char *name)
{
#define PROPERTY_TYPE(dbus_name, key, type, field, change, label, doc) \
  if (g_str_equal (name, #dbus_name))                                 \
    return #type;
  AUTH_PROPERTIES (PROPERTY_TYPE)
#undef PROPERTY_TYPE
  return NULL;
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
      value = format_value (m, contents, FALSE);
      g_string_append_printf (line, " %s=%s", name, value != NULL ? value : "?");
      r = sd_bus_message_exit_container (m); /* the variant */
      if (r >= 0)
        r = sd_bus_message_exit_container (m); /* the entry */
    }
  if (r >= 0)
    r = sd_bus_message_exit_container (m);
  /* Who is signed in comes by name only: read here, as only this user may. */
  if (r >= 0 && sd_bus_message_enter_container (m, 'a', "s") > 0)
    {
      const char *name = NULL;

      while (sd_bus_message_read (m, "s", &name) > 0)
        {
          g_autoptr(sd_bus_message) reply = NULL;
          g_autofree char *value = NULL;
          const char *type = property_type (name);

          if (type != NULL &&
              sd_bus_get_property (sd_bus_message_get_bus (m), CODEX_AUTH_BUS_NAME, CODEX_AUTH_OBJECT_PATH,
                                   CODEX_AUTH_INTERFACE, name, NULL, &reply, type) >= 0)
            value = format_value (reply, type, TRUE);
          g_string_append_printf (line, " %s=%s", name, value != NULL ? value : "?");
        }
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

int
cmd_monitor (void)
{
  g_autoptr(sd_bus) bus = authctl_open_bus ();
  sd_event *event = NULL;
  int r, status;

  if (bus == NULL)
    return EXIT_ERROR;
  r = authctl_attach_event_loop (bus, &event);
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

