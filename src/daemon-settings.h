/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "issuer.h"
#include "store-setting.h"

/* Every setting of the daemon, written once. Each row gives the name (the
 * command-line option --NAME and the key NAME in the [daemon] group of the
 * configuration file), the environment variable, how the value is read,
 * its range (numbers), its default (a value read like any other; NULL when
 * it is derived), what the derived default is (for --help), the
 * placeholder --help shows, and what it means. The option
 * parser, the configuration file reader, the environment, --help,
 * --print-settings and the debug line at start-up are all made from this
 * table; a unit test checks that the man pages list every row.
 *
 * A value is taken from the first place that sets it: the command line,
 * then the configuration file ($XDG_CONFIG_HOME/codex-authd/codex-authd.conf
 * unless --config says otherwise), then the environment (an empty variable
 * counts as unset), then the default. */

#define DAEMON_SETTINGS(X)                                                                                    \
  X (store, "store", "CODEX_AUTHD_STORE", STORE, 0, 0, "auto", NULL, "STORE",                                 \
     "Where the credentials are kept: auto (follow the Codex CLI's cli_auth_credentials_store), "            \
     "secret-service or file")                                                                                \
  X (codex_home, "codex-home", "CODEX_HOME", PATH, 0, 0, NULL, "~/.codex", "DIR",                             \
     "The Codex home holding auth.json and config.toml")                                                      \
  X (token_url, "token-url", "CODEX_REFRESH_TOKEN_URL_OVERRIDE", URL, 0, 0, ISSUER_DEFAULT_TOKEN_URL, NULL,    \
     "URL", "The token endpoint refreshes go to")                                                             \
  X (issuer, "issuer", "CODEX_AUTHD_ISSUER", URL, 0, 0, ISSUER_DEFAULT_URL, NULL, "URL",                      \
     "The ChatGPT sign-in issuer (its authorize, token and device-code endpoints)")                           \
  X (revoke_url, "revoke-url", "CODEX_REVOKE_TOKEN_URL_OVERRIDE", URL, 0, 0, NULL,                            \
     "/oauth/revoke beside a configured token-url, else below the issuer", "URL",                              \
     "Where a logout revokes the tokens")                                                                     \
  X (revoke, "revoke", "CODEX_AUTHD_REVOKE", BOOL, 0, 0, "true", NULL, "BOOL",                                \
     "Whether a logout revokes the ChatGPT tokens before removing them")                                      \
  X (request_timeout, "request-timeout", "CODEX_AUTHD_REQUEST_TIMEOUT", SECONDS, 1, 600, "30", NULL,          \
     "SECONDS", "How long a request to the issuer may take, connecting included")                             \
  X (idle_timeout, "idle-timeout", "CODEX_AUTHD_IDLE_TIMEOUT", SECONDS, 0, 86400, "0", NULL, "SECONDS",       \
     "Exit after this long without calls (0: never; the service stays for the session)")                      \
  X (allowed_workspaces, "allowed-workspaces", "CODEX_AUTHD_ALLOWED_WORKSPACES", IDS, 0, 0, NULL, "any",      \
     "ID,...", "Refuse sign-ins to other workspace (account) ids than these (the Codex CLI's forced_chatgpt_workspace_id applies too)")                                 \
  X (login_ports, "login-ports", "CODEX_AUTHD_LOGIN_PORTS", PORTS, 1, 65535, "1455,1457", NULL, "PORT,...",   \
     "The ports the sign-in callback server tries, in order (the ones the issuer accepts)")                   \
  X (browser_login_timeout, "browser-login-timeout", "CODEX_AUTHD_BROWSER_LOGIN_TIMEOUT", SECONDS, 10, 3600,  \
     "600", NULL, "SECONDS", "How long a browser sign-in may take")                                           \
  X (device_login_timeout, "device-login-timeout", "CODEX_AUTHD_DEVICE_LOGIN_TIMEOUT", SECONDS, 10, 3600,     \
     "900", NULL, "SECONDS", "How long a device-code sign-in may take")                                       \
  X (local_token_endpoint, "local-token-endpoint", "CODEX_AUTHD_LOCAL_TOKEN_ENDPOINT", LISTEN, 0, 65535,       \
     "localhost:" G_STRINGIFY (DAEMON_LOCAL_ENDPOINT_PORT), NULL, "HOST:PORT|off",                             \
     "Where the local token endpoint for Codex processes listens (localhost: 127.0.0.1 and ::1), or off; "     \
     "sockets from socket activation are used instead when given")

/* The local token endpoint's port: none that Codex or its sign-in
 * (1455, 1457) uses. */
#define DAEMON_LOCAL_ENDPOINT_PORT 1458

/* Up to this many callback ports. */
#define DAEMON_SETTINGS_MAX_PORTS 8
/* The configuration file is read only up to this size. */
#define DAEMON_CONFIG_MAX_SIZE (64 * 1024)
#define DAEMON_CONFIG_GROUP "daemon"

typedef struct {
  guint ports[DAEMON_SETTINGS_MAX_PORTS];
  guint n;
} PortList;

/* A loopback listening address, or none. */
typedef struct {
  gboolean enabled;
  char host[16]; /* "localhost", "127.0.0.1" or "::1" */
  guint port;    /* 0: any free port */
} ListenAddress;

/* The C type of each kind of value. */
#define SETTING_CTYPE_STORE StoreSetting
#define SETTING_CTYPE_PATH char *
#define SETTING_CTYPE_URL char *
#define SETTING_CTYPE_BOOL gboolean
#define SETTING_CTYPE_SECONDS int
#define SETTING_CTYPE_IDS char **
#define SETTING_CTYPE_PORTS PortList
#define SETTING_CTYPE_LISTEN ListenAddress

typedef enum {
#define SETTING_ID(field, name, env, type, min, max, def, derived, metavar, doc) SETTING_##field,
  DAEMON_SETTINGS (SETTING_ID)
#undef SETTING_ID
  N_DAEMON_SETTINGS
} DaemonSettingId;

/* Where a value came from. */
typedef enum {
  SETTING_FROM_DEFAULT,
  SETTING_FROM_ENVIRONMENT,
  SETTING_FROM_CONFIG_FILE,
  SETTING_FROM_COMMAND_LINE,
} SettingSource;

/* What the daemon runs with, every value decided. */
typedef struct {
#define SETTING_FIELD(field, name, env, type, min, max, def, derived, metavar, doc) SETTING_CTYPE_##type field;
  DAEMON_SETTINGS (SETTING_FIELD)
#undef SETTING_FIELD
  SettingSource source[N_DAEMON_SETTINGS];
  char *config_path; /* the configuration file read (it may not exist) */
} DaemonSettings;

void daemon_settings_clear (DaemonSettings *settings);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DaemonSettings, daemon_settings_clear)

/* The command line: the daemon's own options (--replace, --verbose,
 * --version, --config, --no-idle-exit, --print-settings) and one option
 * per setting. */
typedef struct _DaemonOptions DaemonOptions;

DaemonOptions *daemon_options_new (void);
void daemon_options_free (DaemonOptions *options);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DaemonOptions, daemon_options_free)
/* A GOptionContext with every option; its --help text is the daemon's. */
GOptionContext *daemon_options_context (DaemonOptions *options);
gboolean daemon_options_get_replace (DaemonOptions *options);
gboolean daemon_options_get_verbose (DaemonOptions *options);
gboolean daemon_options_get_version (DaemonOptions *options);
gboolean daemon_options_get_print_settings (DaemonOptions *options);

/* Decides every setting from @options (parsed; NULL: none given), the
 * configuration file and the environment. --no-idle-exit wins over any
 * idle timeout. A bad option, file or variable fails with a message that
 * names it. */
gboolean daemon_settings_resolve (DaemonSettings *settings, DaemonOptions *options, GError **error);

/* Reads the configuration file @data (@path for messages) into @settings
 * (for the keys it sets; the others are left alone). Unknown groups or
 * keys and bad values fail with a message naming the file and the key. */
gboolean daemon_settings_load_config (DaemonSettings *settings, const char *data, gsize len, const char *path,
                                      GError **error);

char *daemon_settings_default_config_path (void);

/* The table's rows, for tests and --print-settings. */
typedef struct {
  const char *name;
  const char *env;
  const char *default_value;   /* NULL: derived */
  const char *derived_default; /* what it is then, in words */
  const char *doc;
} DaemonSettingInfo;
const DaemonSettingInfo *daemon_setting_info (DaemonSettingId id);

/* "name=value (source)" for every setting, one per line (no secret is a
 * setting). */
char *daemon_settings_describe (const DaemonSettings *settings);
