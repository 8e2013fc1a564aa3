/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one table of org.codex.Auth1 errors: GError codes, D-Bus names,
 * meanings and codex-authctl exit statuses. */
#include "config.h"

#include <gio/gio.h>

#include "auth-error.h"


#define NAME(suffix) CODEX_AUTH_INTERFACE ".Error." suffix

/* The XML's list of errors documents the rows the service raises
 * (test-auth-error compares them). */
static const CodexAuthErrorInfo error_table[] = {
  { CODEX_AUTH_ERROR_FAILED, NAME ("Failed"),
    "An unexpected failure inside the service", CODEX_AUTHCTL_EXIT_ERROR },
  { CODEX_AUTH_ERROR_NOT_LOGGED_IN, NAME ("NotLoggedIn"),
    "No credentials are stored: log in first (codex-authctl token)", CODEX_AUTHCTL_EXIT_NOT_LOGGED_IN,
    TRUE },
  { CODEX_AUTH_ERROR_STORE_UNAVAILABLE, NAME ("StoreUnavailable"),
    "The credential store is not there (no Secret Service, or it left the bus)", CODEX_AUTHCTL_EXIT_UNAVAILABLE },
  { CODEX_AUTH_ERROR_STORE_LOCKED, NAME ("StoreLocked"),
    "The keyring holding the credentials is locked", CODEX_AUTHCTL_EXIT_UNAVAILABLE },
  { CODEX_AUTH_ERROR_STORE_ERROR, NAME ("StoreError"),
    "The credential store cannot be read or written", CODEX_AUTHCTL_EXIT_ERROR },
  { CODEX_AUTH_ERROR_ACCESS_DENIED, NAME ("AccessDenied"),
    "The caller runs as another user", CODEX_AUTHCTL_EXIT_ERROR },
  { CODEX_AUTH_ERROR_NOT_SUPPORTED, NAME ("NotSupported"),
    "Not possible with this configuration (the daemon's store= setting chooses the store)",
    CODEX_AUTHCTL_EXIT_ERROR },
  { CODEX_AUTH_ERROR_LOGIN_FAILED, NAME ("LoginFailed"),
    "A sign-in could not be started (the callback ports are taken, or the issuer cannot be reached)",
    CODEX_AUTHCTL_EXIT_ERROR },
  { CODEX_AUTH_ERROR_DEVICE_LOGIN_DISABLED, NAME ("DeviceLoginDisabled"),
    "Device code sign-in is not enabled for this account or server: use the browser sign-in",
    CODEX_AUTHCTL_EXIT_ERROR },
  { CODEX_AUTH_ERROR_NO_SUCH_LOGIN, NAME ("NoSuchLogin"),
    "No sign-in with this id is pending (it ended, or another one replaced it)", CODEX_AUTHCTL_EXIT_ERROR },
  { CODEX_AUTH_ERROR_LOGIN_REQUIRED, NAME ("LoginRequired"),
    "The credentials failed for good: log in again", CODEX_AUTHCTL_EXIT_RELOGIN, TRUE },
  { CODEX_AUTH_ERROR_CREDENTIALS_CHANGED, NAME ("CredentialsChanged"),
    "The credentials changed while the call ran (a new sign-in): they were kept", CODEX_AUTHCTL_EXIT_ERROR },
};

/* Registered as a D-Bus error domain: GDBus clients (the client library)
 * get these codes for the names. */
GQuark
codex_auth_error_quark (void)
{
  static gsize quark = 0;

  if (g_once_init_enter (&quark))
    {
      static GDBusErrorEntry entries[G_N_ELEMENTS (error_table)];
      static gsize registered = 0;

      for (guint i = 0; i < G_N_ELEMENTS (error_table); i++)
        entries[i] = (GDBusErrorEntry) { error_table[i].code, error_table[i].name };
      g_dbus_error_register_error_domain ("codex-auth-error-quark", &registered, entries,
                                          G_N_ELEMENTS (entries));
      g_once_init_leave (&quark, registered);
    }
  return (GQuark) quark;
}

const CodexAuthErrorInfo *
codex_auth_error_table (guint *n_out)
{
  *n_out = G_N_ELEMENTS (error_table);
  return error_table;
}

const CodexAuthErrorInfo *
codex_auth_error_info (CodexAuthError code)
{
  for (guint i = 0; i < G_N_ELEMENTS (error_table); i++)
    if (error_table[i].code == code)
      return &error_table[i];
  return &error_table[0];
}

const CodexAuthErrorInfo *
codex_auth_error_info_for_name (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (error_table); i++)
    if (g_strcmp0 (error_table[i].name, name) == 0)
      return &error_table[i];
  return NULL;
}

const char *
codex_auth_error_name (const GError *error)
{
  if (error->domain != CODEX_AUTH_ERROR)
    return error_table[0].name;
  return codex_auth_error_info ((CodexAuthError) error->code)->name;
}
