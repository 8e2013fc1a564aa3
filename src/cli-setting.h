/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "cli-config.h"

/* The Codex CLI's storage setting, cli_auth_credentials_store in
 * $CODEX_HOME/config.toml (cli-config.h reads and edits the TOML), read
 * and written in worker threads for the store policy.
 *
 * One of the store policy's seams (docs/design.md): the daemon's is the
 * file (cli-setting.c); the unit tests link one in memory in its place
 * (tests/unit/fakes/). */

typedef struct {
  CliStoreSetting setting;
  char *problem; /* why config.toml cannot be used, or NULL */
} CliSettingRead;

void cli_setting_read_free (CliSettingRead *read);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliSettingRead, cli_setting_read_free)

typedef struct _CliSetting CliSetting;

CliSetting *cli_setting_new (const char *codex_home);
void cli_setting_free (CliSetting *setting);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliSetting, cli_setting_free)

/* Reads it; never fails (a problem is in the result). */
void cli_setting_read_async (CliSetting *setting, GAsyncReadyCallback callback, gpointer user_data);
CliSettingRead *cli_setting_read_finish (CliSetting *setting, GAsyncResult *result);

/* Sets it to @value ("file", "keyring" or "auto"; a static string). */
void cli_setting_write_async (CliSetting *setting, const char *value, GAsyncReadyCallback callback,
                              gpointer user_data);
gboolean cli_setting_write_finish (CliSetting *setting, GAsyncResult *result, GError **error);
