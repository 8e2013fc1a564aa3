/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* The errors of the org.codex.Auth1 interface: one table (auth-error.c)
 * gives each GError code of CODEX_AUTH_ERROR its D-Bus name, what it
 * means, and the codex-authctl exit status that goes with it. Inside the
 * daemon failures are GErrors; auth-bus.c turns them into D-Bus errors in
 * one place through this table, and codex-authctl reads D-Bus errors back
 * through it. Bad arguments are the standard
 * org.freedesktop.DBus.Error.InvalidArgs, raised at the D-Bus edge. */
/* The codes (CodexAuthError, CODEX_AUTH_ERROR) are the client library's
 * public ones: one list for the service and its clients. The quark is
 * registered as a D-Bus error domain with the names of the table. */
#ifndef CODEX_AUTH_COMPILATION
#define CODEX_AUTH_COMPILATION
#endif
#include "libcodex-auth/codex-auth-error.h"

/* codex-authctl's exit statuses (documented in its --help, its man page
 * and the README). */
typedef enum {
  CODEX_AUTHCTL_EXIT_OK = 0,
  CODEX_AUTHCTL_EXIT_ERROR = 1,         /* the daemon could not be reached, or failed */
  CODEX_AUTHCTL_EXIT_USAGE = 2,         /* bad command line or input */
  CODEX_AUTHCTL_EXIT_NOT_LOGGED_IN = 3, /* no credentials */
  CODEX_AUTHCTL_EXIT_RELOGIN = 4,       /* the credentials failed for good: log in again */
  CODEX_AUTHCTL_EXIT_UNAVAILABLE = 5,   /* temporarily unavailable (keyring locked or gone, ...) */
} CodexAuthctlExit;

typedef struct {
  CodexAuthError code;
  const char *name;    /* the full D-Bus error name */
  const char *meaning; /* one line, for documentation and the client */
  CodexAuthctlExit exit_status;
  /* Reported by codex-authctl only, never a D-Bus error of the service
   * (the interface XML documents the others). */
  gboolean client_only;
} CodexAuthErrorInfo;

/* The whole table, @n_out rows. */
const CodexAuthErrorInfo *codex_auth_error_table (guint *n_out);

/* The row for @code; the row of CODEX_AUTH_ERROR_FAILED for a code not in
 * the table. */
const CodexAuthErrorInfo *codex_auth_error_info (CodexAuthError code);
/* The row named @name, NULL when it is not one of the interface's. */
const CodexAuthErrorInfo *codex_auth_error_info_for_name (const char *name);
/* The D-Bus error name for any GError: its row for CODEX_AUTH_ERROR, else
 * org.codex.Auth1.Error.Failed. */
const char *codex_auth_error_name (const GError *error);
