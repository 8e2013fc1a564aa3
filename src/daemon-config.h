/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "store-mode.h"

/* The configuration file, $XDG_CONFIG_HOME/codex-authd/codex-authd.conf:
 *
 *   [daemon]
 *   store=auto|secret-service|file
 *   codex-home=/path
 *   token-url=https://...
 *   request-timeout=30        (seconds, 1 to 600)
 *   idle-timeout=0            (seconds, 0 to 86400; 0, the default: never)
 *   issuer=https://...        (ChatGPT sign-in: authorize, token, device endpoints)
 *   revoke-url=https://...    (where logout revokes the tokens)
 *   revoke=true|false         (false: logout only removes the credentials)
 *   allowed-workspaces=ID,... (sign-ins of other workspaces are refused)
 *   login-ports=1455,1457     (the sign-in callback ports, tried in order)
 *   browser-login-timeout=600 (seconds, 10 to 3600)
 *   device-login-timeout=900  (seconds, 10 to 3600)
 *
 * Precedence: command line, then this file, then the environment
 * (CODEX_HOME, CODEX_REFRESH_TOKEN_URL_OVERRIDE, CODEX_AUTHD_ISSUER,
 * CODEX_REVOKE_TOKEN_URL_OVERRIDE), then the defaults. */

#define DAEMON_DEFAULT_REQUEST_TIMEOUT 30
/* The daemon stays for the session: a client that only listens for
 * PropertiesChanged must see every change after the first activation.
 * Idle exit is opt-in. */
#define DAEMON_DEFAULT_IDLE_TIMEOUT 0

typedef struct {
  gboolean has_store;
  StoreMode store;
  char *codex_home;    /* NULL: not set */
  char *token_url;     /* NULL: not set */
  int request_timeout; /* -1: not set */
  int idle_timeout;    /* -1: not set */
  char *issuer;        /* NULL: not set */
  char *revoke_url;    /* NULL: not set */
  int revoke;          /* -1: not set */
  char **workspaces;   /* NULL: not set */
  guint login_ports[8];
  guint n_login_ports; /* 0: not set */
  int browser_login_timeout; /* -1: not set */
  int device_login_timeout;  /* -1: not set */
} DaemonConfig;

void daemon_config_init (DaemonConfig *config);
void daemon_config_clear (DaemonConfig *config);

char *daemon_config_default_path (void);

/* Reads @path into @config. A missing file is fine (nothing set). Unknown
 * groups or keys and bad values fail with a message naming the file and
 * the key. */
gboolean daemon_config_load (DaemonConfig *config, const char *path, GError **error);
/* The same for the file's contents; @path is for messages. */
#define DAEMON_CONFIG_MAX_SIZE (64 * 1024)
gboolean daemon_config_load_data (DaemonConfig *config, const char *data, gsize len, const char *path,
                                  GError **error);

/* Checks one value as the file would (for command-line options too). */
gboolean daemon_config_parse_url (const char *key, const char *value, GError **error);
gboolean daemon_config_parse_store (const char *value, StoreMode *mode, GError **error);
gboolean daemon_config_parse_seconds (const char *key, const char *value, int min, int max,
                                      int *out, GError **error);

/* The command-line options as given (NULL: not given). */
typedef struct {
  const char *config_path;
  const char *store;
  const char *codex_home;
  const char *token_url;
  const char *request_timeout;
  const char *idle_timeout;
  gboolean no_idle_exit;
  const char *issuer;
  const char *revoke_url;
} DaemonOptions;

/* What the daemon runs with, every value decided. */
typedef struct {
  char *config_path;   /* the configuration file read (it may not exist) */
  StoreMode store_mode;
  char *codex_home;    /* absolute */
  char *token_url;
  int request_timeout; /* seconds */
  int idle_timeout;    /* seconds, 0: never */
  char *issuer;
  char *revoke_url;
  gboolean revoke;
  char **workspaces;   /* NULL: any */
  guint login_ports[8];
  guint n_login_ports;
  int browser_login_timeout; /* seconds */
  int device_login_timeout;  /* seconds */
} DaemonSettings;

/* Decides every setting, each from the first place that sets it: the
 * command line, then the configuration file (--config, else the default
 * path), then the environment (CODEX_HOME, CODEX_REFRESH_TOKEN_URL_OVERRIDE,
 * CODEX_AUTHD_ISSUER, CODEX_REVOKE_TOKEN_URL_OVERRIDE; empty counts as
 * unset), then the defaults. --no-idle-exit wins over any idle timeout.
 * The revoke URL defaults to /oauth/revoke beside a configured token URL,
 * else below the issuer. A bad option or file fails with a message that names it. */
gboolean daemon_settings_resolve (DaemonSettings *settings, const DaemonOptions *options, GError **error);
void daemon_settings_clear (DaemonSettings *settings);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DaemonSettings, daemon_settings_clear)
