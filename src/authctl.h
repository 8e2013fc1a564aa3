/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* codex-authctl's parts: talking to the daemon (authctl-bus.c), status
 * and token (authctl-status.c), logins, sign-ins and logout
 * (authctl-login.c), monitor (authctl-monitor.c); codex-authctl.c has the
 * commands and main(). */

#include <glib.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "auth-error.h"
#include "printable.h"
#include "sd-bus-cleanup.h"

/* Exit codes: CodexAuthctlExit in auth-error.h. */
#define EXIT_OK CODEX_AUTHCTL_EXIT_OK
#define EXIT_ERROR CODEX_AUTHCTL_EXIT_ERROR
#define EXIT_USAGE CODEX_AUTHCTL_EXIT_USAGE
#define EXIT_RELOGIN CODEX_AUTHCTL_EXIT_RELOGIN
#define EXIT_UNAVAILABLE CODEX_AUTHCTL_EXIT_UNAVAILABLE

#define ANSI_BOLD "\033[1m"
#define ANSI_RED "\033[31m"
#define ANSI_GREEN "\033[32m"
#define ANSI_YELLOW "\033[33m"
#define ANSI_RESET "\033[0m"

/* What the command line says. */
typedef struct {
  const char *address;   /* --address, NULL: the session bus */
  gboolean json;         /* --json */
  gboolean color;        /* standard output is a terminal, NO_COLOR unset */
  gboolean refresh;      /* --refresh */
  gboolean api_key;      /* --api-key */
  gboolean device_code;  /* --device-code */
  gboolean no_browser;   /* --no-browser */
  const char *import_path; /* --import */
} AuthctlArgs;

extern AuthctlArgs authctl_args;

/* @code when colours are on, else "". */
const char *ansi (const char *code);

/* authctl-bus.c */
sd_bus *authctl_open_bus (void);
/* One line for a failed call, and the exit code that goes with it. */
int authctl_report_error (const char *what, const sd_bus_error *error, int r);
/* Calls a method without results, with one string argument @arg (NULL:
 * none); prints @done on success. */
int authctl_simple_call (const char *method, const char *arg, const char *done);
/* GetAuthStatusDetails into a table of GVariants (NULL and *status set on
 * failure). */
GHashTable *authctl_get_details (sd_bus *bus, gboolean include_token, gboolean force_refresh, int *status);
const char *authctl_str (GHashTable *details, const char *key);
gboolean authctl_bool (GHashTable *details, const char *key);
guint64 authctl_time (GHashTable *details, const char *key);
/* The default event loop with the bus attached, SIGINT and SIGTERM
 * blocked so that the loop can take them as events. */
int authctl_attach_event_loop (sd_bus *bus, sd_event **event);

/* The commands. */
int cmd_status (void);
int cmd_token (void);
int cmd_login (void);
int cmd_logout (void);
int cmd_reload (void);
int cmd_unlock (void);
int cmd_move_to_keyring (void);
int cmd_move_to_file (void);
int cmd_monitor (void);
