/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Codex CLI's config.toml: its storage setting, read and edited. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The Codex CLI's own choice of credential store: the top-level key
 * cli_auth_credentials_store in $CODEX_HOME/config.toml, read with a real
 * TOML parser (toml++, behind this C header). */

typedef enum {
  CLI_STORE_SETTING_DEFAULT, /* no config.toml or no key: the CLI's default, the file */
  CLI_STORE_SETTING_FILE,    /* "file": auth.json only */
  CLI_STORE_SETTING_KEYRING, /* "keyring": the Secret Service item only */
  CLI_STORE_SETTING_AUTO,    /* "auto": the item when the Secret Service works, else the file */
  CLI_STORE_SETTING_EPHEMERAL, /* "ephemeral": the CLI keeps its login in memory only */
  CLI_STORE_SETTING_INVALID, /* config.toml cannot be used: the CLI's default applies */
} CliStoreSetting;

#define CLI_CONFIG_KEY "cli_auth_credentials_store"
#define CLI_CONFIG_NAME "config.toml"
/* config.toml is read only up to this size. */
#define CLI_CONFIG_MAX_SIZE (1024 * 1024)
/* Bounds checked before the TOML parser sees it (its recursion over the
 * parts of a dotted key is unbounded): parts of the keys on one line, and
 * bytes of one line outside strings and comments. */
#define CLI_CONFIG_MAX_KEY_PARTS 128
#define CLI_CONFIG_MAX_LINE 16384

/* "file", "keyring", "auto", "ephemeral"; "" for DEFAULT and INVALID. */
const char *cli_store_setting_to_string (CliStoreSetting setting);

/* Reads the setting from the TOML document @text (@len bytes, need not be
 * NUL-terminated). For INVALID, *problem (if not NULL) says why, with the
 * line and column of a syntax error; it is NULL otherwise. */
CliStoreSetting cli_config_parse_store_setting (const char *text, gsize len, char **problem);

/* The document @text with the key set to @value ("file", "keyring" or
 * "auto"), every other byte unchanged: the value is replaced where it
 * stands, or the key is added as the document's first line. The result
 * is parsed again and checked to differ from @text in that key only.
 * NULL with an error (G_IO_ERROR_INVALID_DATA) when @text does not parse. */
char *cli_config_with_store_setting (const char *text, gsize len, const char *value, GError **error);

/* Blocking (worker threads and codex-authctl only): the setting in
 * @codex_home/config.toml. A missing file is DEFAULT; an unreadable or
 * unparsable one INVALID with *problem naming the file. */
CliStoreSetting cli_config_read_store_setting (const char *codex_home, char **problem);

/* Blocking: sets the key in @codex_home/config.toml (created if missing),
 * atomically, keeping the rest of the file and its permissions; a
 * symbolic link is followed, not replaced. */
gboolean cli_config_write_store_setting (const char *codex_home, const char *value, GError **error);

/* The Codex CLI's sign-in rules, from the same config.toml: what its own
 * sign-ins obey, and so the daemon's. */
typedef enum {
  CLI_LOGIN_METHOD_ANY,     /* no forced_login_method */
  CLI_LOGIN_METHOD_CHATGPT, /* forced_login_method = "chatgpt": no API key logins */
  CLI_LOGIN_METHOD_API,     /* forced_login_method = "api": no ChatGPT sign-ins */
} CliLoginMethod;

#define CLI_CONFIG_LOGIN_METHOD_KEY "forced_login_method"
#define CLI_CONFIG_WORKSPACE_KEY "forced_chatgpt_workspace_id"

typedef struct {
  CliLoginMethod method;
  /* forced_chatgpt_workspace_id (a string, or a list of them): the only
   * workspace (account) ids a ChatGPT sign-in may end in; NULL: any. */
  char **workspaces;
  /* Why config.toml cannot be used, or NULL. The CLI refuses to start
   * then; a sign-in through the daemon is refused with this. */
  char *problem;
} CliLoginRules;

void cli_login_rules_free (CliLoginRules *rules);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliLoginRules, cli_login_rules_free)

/* Reads the rules from the TOML document @text (@len bytes); never NULL. */
CliLoginRules *cli_config_parse_login_rules (const char *text, gsize len);

/* Blocking (worker threads only): the rules in @codex_home/config.toml; a
 * missing file has none. */
CliLoginRules *cli_config_read_login_rules (const char *codex_home);

G_END_DECLS
