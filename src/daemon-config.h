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
 *   idle-timeout=120          (seconds, 0 to 86400; 0: never)
 *
 * Precedence: command line, then this file, then the environment
 * (CODEX_HOME, CODEX_REFRESH_TOKEN_URL_OVERRIDE), then the defaults. */

#define DAEMON_DEFAULT_REQUEST_TIMEOUT 30
#define DAEMON_DEFAULT_IDLE_TIMEOUT 120

typedef struct {
  gboolean has_store;
  StoreMode store;
  char *codex_home;    /* NULL: not set */
  char *token_url;     /* NULL: not set */
  int request_timeout; /* -1: not set */
  int idle_timeout;    /* -1: not set */
} DaemonConfig;

void daemon_config_init (DaemonConfig *config);
void daemon_config_clear (DaemonConfig *config);

char *daemon_config_default_path (void);

/* Reads @path into @config. A missing file is fine (nothing set). Unknown
 * groups or keys and bad values fail with a message naming the file and
 * the key. */
gboolean daemon_config_load (DaemonConfig *config, const char *path, GError **error);

/* Checks one value as the file would (for command-line options too). */
gboolean daemon_config_parse_store (const char *value, StoreMode *mode, GError **error);
gboolean daemon_config_parse_seconds (const char *key, const char *value, int min, int max,
                                      int *out, GError **error);
