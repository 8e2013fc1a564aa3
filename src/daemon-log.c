/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging to the journal with a MESSAGE_ID per kind of event when
 * stderr is the journal. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

#include "daemon-log.h"

static int
priority_of (GLogLevelFlags level)
{
  if (level & G_LOG_LEVEL_ERROR)
    return LOG_CRIT;
  if (level & G_LOG_LEVEL_CRITICAL)
    return LOG_ERR;
  if (level & G_LOG_LEVEL_WARNING)
    return LOG_WARNING;
  if (level & G_LOG_LEVEL_MESSAGE)
    return LOG_NOTICE;
  if (level & G_LOG_LEVEL_INFO)
    return LOG_INFO;
  return LOG_DEBUG;
}

/* Each GLib field as "KEY=value", through sd_journal_sendv(). Empty values
 * (an event without an error code) are left out. */
static GLogWriterOutput
journal_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autofree struct iovec *iov = NULL;
  const char *domain = NULL;

  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "GLIB_DOMAIN") && fields[i].length < 0)
      domain = fields[i].value;
  if (g_log_writer_default_would_drop (level, domain))
    return G_LOG_WRITER_HANDLED;

  g_ptr_array_add (lines, g_strdup_printf ("PRIORITY=%d", priority_of (level)));
  g_ptr_array_add (lines, g_strdup ("SYSLOG_IDENTIFIER=codex-authd"));
  for (gsize i = 0; i < n_fields; i++)
    {
      const char *key = fields[i].key;
      gsize len = fields[i].length < 0 ? strlen (fields[i].value) : (gsize) fields[i].length;

      /* GLib's own PRIORITY is replaced above; binary fields are skipped. */
      if (g_str_equal (key, "PRIORITY") || fields[i].length >= 0 || len == 0)
        continue;
      g_ptr_array_add (lines, g_strdup_printf ("%s=%.*s", key, (int) len, (const char *) fields[i].value));
    }
  iov = g_new0 (struct iovec, lines->len);
  for (guint i = 0; i < lines->len; i++)
    {
      iov[i].iov_base = g_ptr_array_index (lines, i);
      iov[i].iov_len = strlen (g_ptr_array_index (lines, i));
    }
  if (sd_journal_sendv (iov, (int) lines->len) < 0)
    return g_log_writer_standard_streams (level, fields, n_fields, user_data);
  return G_LOG_WRITER_HANDLED;
}

void
daemon_log_init (void)
{
  if (g_log_writer_is_journald (fileno (stderr)))
    g_log_set_writer_func (journal_writer, NULL, NULL);
}
