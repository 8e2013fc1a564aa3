/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Codex CLI's storage setting in config.toml, in worker threads. */
#define G_LOG_DOMAIN "codex-authd-config"

#include "config.h"

#include "cli-setting.h"

struct _CliSetting {
  char *codex_home;
};

/* What one worker thread does. */
typedef struct {
  char *codex_home;
  const char *value; /* a write's; NULL for a read */
} SettingJob;

void
cli_setting_read_free (CliSettingRead *read)
{
  if (read == NULL)
    return;
  g_free (read->problem);
  g_free (read);
}

CliSetting *
cli_setting_new (const char *codex_home)
{
  CliSetting *setting = g_new0 (CliSetting, 1);

  setting->codex_home = g_strdup (codex_home);
  return setting;
}

void
cli_setting_free (CliSetting *setting)
{
  if (setting == NULL)
    return;
  g_free (setting->codex_home);
  g_free (setting);
}

static void
setting_job_free (SettingJob *job)
{
  g_free (job->codex_home);
  g_free (job);
}

static void
job_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  SettingJob *job = task_data;
  GError *error = NULL;

  if (job->value == NULL)
    {
      CliSettingRead *read = g_new0 (CliSettingRead, 1);

      read->setting = cli_config_read_store_setting (job->codex_home, &read->problem);
      g_task_return_pointer (task, read, (GDestroyNotify) cli_setting_read_free);
    }
  else if (!cli_config_write_store_setting (job->codex_home, job->value, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
run_job (CliSetting *setting, const char *value, gpointer tag, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  SettingJob *job = g_new0 (SettingJob, 1);

  job->codex_home = g_strdup (setting->codex_home);
  job->value = value;
  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, job, (GDestroyNotify) setting_job_free);
  g_task_run_in_thread (task, job_thread);
}

void
cli_setting_read_async (CliSetting *setting, GAsyncReadyCallback callback, gpointer user_data)
{
  run_job (setting, NULL, cli_setting_read_async, callback, user_data);
}

CliSettingRead *
cli_setting_read_finish (CliSetting *setting, GAsyncResult *result)
{
  return g_task_propagate_pointer (G_TASK (result), NULL);
}

void
cli_setting_write_async (CliSetting *setting, const char *value, GAsyncReadyCallback callback, gpointer user_data)
{
  run_job (setting, value, cli_setting_write_async, callback, user_data);
}

gboolean
cli_setting_write_finish (CliSetting *setting, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
