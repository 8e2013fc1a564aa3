/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* codex-authctl: the commands and options (one table each, from which
 * --help and the dispatch come), then the command. */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "authctl.h"

int
cmd_reload (void)
{
  return authctl_simple_call ("Reload", NULL, NULL);
}

int
cmd_unlock (void)
{
  return authctl_simple_call ("UnlockStore", NULL, "Unlocked.");
}

int
cmd_move_to_keyring (void)
{
  return authctl_simple_call ("MoveCredentials", "secret-service",
                              "Moved the credentials to the keyring; the Codex CLI's cli_auth_credentials_store "
                              "is \"keyring\" now.");
}

int
cmd_move_to_file (void)
{
  return authctl_simple_call ("MoveCredentials", "file",
                              "Moved the credentials to auth.json; the Codex CLI's cli_auth_credentials_store "
                              "is \"file\" now.");
}

static const struct {
  const char *name;
  const char *synopsis; /* for --help, with the options it takes */
  const char *help;
  int (*run) (void);
} commands[] = {
  { "status", "status [--json]", "Show who is logged in and the state of the credentials", cmd_status },
  { "token", "token [--refresh]", "Print the usable token (API key or access token)", cmd_token },
  { "login", "login --api-key", "Log in with an API key read from standard input or a prompt", cmd_login },
  { "login", "login --import FILE|-", "Log in with an auth.json document", NULL },
  { "login", "login [--no-browser]",
    "Sign in with ChatGPT in a browser: prints the URL (and opens\n"
    "                           it when there is a display), waits; Ctrl+C cancels", NULL },
  { "login", "login --device-code", "Sign in with ChatGPT on another device: prints a URL and a code", NULL },
  { "logout", "logout", "Revoke the ChatGPT tokens, remove the credentials everywhere", cmd_logout },
  { "reload", "reload", "Read the credential store again", cmd_reload },
  { "unlock", "unlock", "Ask the keyring to unlock (may show a prompt)", cmd_unlock },
  { "move-to-keyring", "move-to-keyring",
    "Keep the credentials in the keyring (the Secret Service), and\n"
    "                           set the Codex CLI's cli_auth_credentials_store to \"keyring\"", cmd_move_to_keyring },
  { "move-to-file", "move-to-file", "Keep them in $CODEX_HOME/auth.json, the CLI's setting \"file\"",
    cmd_move_to_file },
  { "monitor", "monitor", "Print every change as it happens, until interrupted", cmd_monitor },
};

/* The options: flags set a boolean, the others take a value. */
static struct {
  const char *name;
  const char *value_name; /* NULL: a flag */
  const char *help;
  gboolean *flag;
  const char **value;
} options[] = {
  { "--address", "ADDRESS", "Use this D-Bus address instead of the session bus", NULL, &authctl_args.address },
  { "--json", NULL, "Machine-readable output (status)", &authctl_args.json, NULL },
  { "--refresh", NULL, "Refresh the ChatGPT tokens first (token)", &authctl_args.refresh, NULL },
  { "--api-key", NULL, "Log in with an API key (login)", &authctl_args.api_key, NULL },
  { "--import", "FILE|-", "Log in with this auth.json (login)", NULL, &authctl_args.import_path },
  { "--device-code", NULL, "Sign in with a code on another device (login)", &authctl_args.device_code, NULL },
  { "--no-browser", NULL, "Do not open the sign-in URL (login)", &authctl_args.no_browser, NULL },
};

static void
usage (FILE *out)
{
  fprintf (out, "Usage: codex-authctl [OPTIONS] COMMAND\n\nManage the Codex credentials held by codex-authd.\n\n"
                "Commands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-24s %s\n", commands[i].synopsis, commands[i].help);
  fprintf (out, "\nOptions:\n");
  for (guint i = 0; i < G_N_ELEMENTS (options); i++)
    {
      g_autofree char *left = g_strdup_printf ("%s%s%s", options[i].name, options[i].value_name != NULL ? " " : "",
                                               options[i].value_name != NULL ? options[i].value_name : "");
      fprintf (out, "  %-24s %s\n", left, options[i].help);
    }
  fprintf (out, "  %-24s %s\n  %-24s %s\n", "-h, --help", "Show this help", "--version", "Show the version");
  fprintf (out,
           "\n"
           "Exit status: 0 success; 1 the daemon could not be reached or failed; 2 bad usage or\n"
           "input; 3 not logged in; 4 log in again (the credentials failed for good);\n"
           "5 temporarily unavailable (for example a locked keyring). status and token both\n"
           "end with 3, 4 or 5 when the credentials are in that state.\n");
}

/* Takes the option at argv[*i]; returns -1 to go on, else the exit status. */
static int
take_option (int argc, char **argv, int *i)
{
  const char *a = argv[*i];

  if (g_str_has_prefix (a, "--api-key="))
    {
      fprintf (stderr, "codex-authctl: the API key is never taken from the command line; "
                       "give it on standard input or at the prompt\n");
      return EXIT_USAGE;
    }
  for (guint k = 0; k < G_N_ELEMENTS (options); k++)
    {
      gsize len = strlen (options[k].name);

      if (strncmp (a, options[k].name, len) != 0 || (a[len] != '\0' && a[len] != '='))
        continue;
      if (options[k].flag != NULL && a[len] == '\0')
        {
          *options[k].flag = TRUE;
          return -1;
        }
      if (options[k].flag != NULL)
        break;
      if (a[len] == '=')
        *options[k].value = a + len + 1;
      else if (*i + 1 < argc)
        *options[k].value = argv[++*i];
      else
        {
          fprintf (stderr, "codex-authctl: %s needs a value\n", a);
          return EXIT_USAGE;
        }
      return -1;
    }
  fprintf (stderr, "codex-authctl: unknown option %s (see --help)\n", a);
  return EXIT_USAGE;
}

int
main (int argc, char **argv)
{
  const char *command = NULL;
  const char *no_color = g_getenv ("NO_COLOR");

  setlocale (LC_ALL, "");
  authctl_args.color = isatty (STDOUT_FILENO) && (no_color == NULL || no_color[0] == '\0');

  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];

      if (g_str_equal (a, "-h") || g_str_equal (a, "--help"))
        {
          usage (stdout);
          return EXIT_OK;
        }
      if (g_str_equal (a, "--version"))
        {
          printf ("codex-authctl %s\n", PACKAGE_VERSION);
          return EXIT_OK;
        }
      if (a[0] == '-' && a[1] != '\0')
        {
          int status = take_option (argc, argv, &i);

          if (status >= 0)
            return status;
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
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (command, commands[i].name) && commands[i].run != NULL)
      return commands[i].run ();
  fprintf (stderr, "codex-authctl: unknown command \"%s\" (see --help)\n", command);
  return EXIT_USAGE;
}
