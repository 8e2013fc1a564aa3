/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* codex-authctl login (an API key, an imported auth.json, a ChatGPT
 * sign-in in a browser or by device code) and logout. */
#include "config.h"

#include <errno.h>
#include <gio/gio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth-record.h"
#include "authctl.h"
#include "sensitive.h"

#define MAX_INPUT_SIZE (1024 * 1024)

/* Reads all of @stream (at most MAX_INPUT_SIZE). */
static Sensitive *
read_all (FILE *stream, gsize *len_out, const char *what)
{
  GByteArray *buf = g_byte_array_new ();
  guint8 chunk[4096];
  size_t n;

  while ((n = fread (chunk, 1, sizeof chunk, stream)) > 0)
    {
      g_byte_array_append (buf, chunk, (guint) n);
      sensitive_wipe (chunk, n);
      if (buf->len > MAX_INPUT_SIZE)
        {
          sensitive_wipe (buf->data, buf->len);
          g_byte_array_unref (buf);
          fprintf (stderr, "codex-authctl: %s is larger than %d bytes\n", what, MAX_INPUT_SIZE);
          return NULL;
        }
    }
  *len_out = buf->len;
  g_byte_array_append (buf, (const guint8 *) "", 1);
  return (Sensitive *) g_byte_array_free (buf, FALSE);
}

static Sensitive *
prompt_secret (const char *prompt)
{
  struct termios old, quiet;
  char line[8192];
  Sensitive *out = NULL;

  fprintf (stderr, "%s", prompt);
  fflush (stderr);
  if (tcgetattr (STDIN_FILENO, &old) < 0)
    return NULL;
  quiet = old;
  quiet.c_lflag &= ~(tcflag_t) ECHO;
  tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
  if (fgets (line, sizeof line, stdin) != NULL)
    out = sensitive_dup (line);
  tcsetattr (STDIN_FILENO, TCSAFLUSH, &old);
  fprintf (stderr, "\n");
  sensitive_wipe (line, sizeof line);
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
  g_autoptr(sd_bus) bus = authctl_open_bus ();
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
      status = authctl_report_error (method, &error, r);
      sd_bus_error_free (&error);
      return status;
    }
  return EXIT_OK;
}

static int
cmd_login_api_key (void)
{
  g_autoptr(Sensitive) key = NULL;
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
  g_autoptr(Sensitive) data = NULL;
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
    {
      /* The signal names no account (every subscriber receives it): who
       * is signed in is read, as only this user may. */
      g_autofree char *email = NULL;
      g_autofree char *shown = NULL;

      if (sd_bus_get_property_string (s->bus, CODEX_AUTH_BUS_NAME, CODEX_AUTH_OBJECT_PATH, CODEX_AUTH_INTERFACE,
                                      "Email", NULL, &email) < 0)
        g_clear_pointer (&email, free);
      shown = email != NULL && email[0] != '\0' ? printable_text (email) : NULL;
      if (shown != NULL)
        printf ("%sSigned in as %s.%s\n", ansi (ANSI_GREEN), shown, ansi (ANSI_RESET));
      else
        printf ("%sSigned in.%s\n", ansi (ANSI_GREEN), ansi (ANSI_RESET));
    }
  else
    {
      g_autofree char *shown_error = printable_text (error);
      g_autofree char *shown = printable_text (message);

      fprintf (stderr, "codex-authctl: the sign-in failed (%s): %s\n", shown_error, shown);
    }
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
      authctl_report_error ("CancelLogin", &error, r);
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
  g_autoptr(sd_bus) bus = authctl_open_bus ();
  g_autoptr(sd_bus_message) reply = NULL;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  const char *method = device_code ? "StartDeviceCodeLogin" : "StartChatGptLogin";
  const char *id = NULL, *url = NULL, *code = NULL;
  g_autofree char *login_id = NULL;
  g_autofree char *shown_url = NULL;
  sd_event *event = NULL;
  SignIn s = { .status = -1 };
  int r;

  if (bus == NULL)
    return EXIT_ERROR;
  s.bus = bus;
  r = authctl_attach_event_loop (bus, &event);
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
      int status = authctl_report_error (device_code ? "device code sign-in" : "sign-in", &error, r);

      sd_bus_error_free (&error);
      sd_bus_detach_event (bus);
      sd_event_unref (event);
      return status;
    }
  login_id = g_strdup (id);
  s.login_id = login_id;
  shown_url = printable_text (url);
  if (device_code)
    {
      g_autofree char *shown_code = printable_text (code);

      printf ("To sign in, open this page in a browser on any device:\n\n  %s%s%s\n\nand enter this code:\n\n"
              "  %s%s%s\n\n(It expires in 15 minutes. Never share it: whoever enters it signs in as you.)\n",
              ansi (ANSI_BOLD), shown_url, ansi (ANSI_RESET), ansi (ANSI_BOLD), shown_code, ansi (ANSI_RESET));
    }
  else
    {
      printf ("To sign in, open this URL in a browser on this computer:\n\n  %s\n\n", shown_url);
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

int
cmd_logout (void)
{
  g_autoptr(sd_bus) bus = authctl_open_bus ();
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
      status = authctl_report_error ("Logout", &error, r);
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
    {
      g_autofree char *shown = printable_text (revoke_error);

      printf ("%sThe token could not be revoked%s (%s); the credentials were removed anyway.\n",
              ansi (ANSI_YELLOW), ansi (ANSI_RESET), shown);
    }
  else if (g_str_equal (revocation, "disabled"))
    printf ("Revocation is turned off (revoke=false): the token was only removed from this computer.\n");
  return EXIT_OK;
}


int
cmd_login (void)
{
  const AuthctlArgs *a = &authctl_args;

  if ((a->api_key ? 1 : 0) + (a->import_path != NULL ? 1 : 0) + (a->device_code ? 1 : 0) > 1)
    {
      fprintf (stderr, "codex-authctl: login takes one of --api-key, --import FILE or --device-code\n");
      return EXIT_USAGE;
    }
  if (a->api_key)
    return cmd_login_api_key ();
  if (a->import_path != NULL)
    return cmd_login_import (a->import_path);
  return cmd_login_chatgpt (a->device_code, a->no_browser);
}
