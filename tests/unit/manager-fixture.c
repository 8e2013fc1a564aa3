/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the manager's tests share (manager-fixture.h): records, a manager
 * on the world of fakes, and a client's call. */
#include "config.h"

#include <glib.h>
#include <string.h>

#include "auth-manager.h"
#include "backoff.h"
#include "fakes.h"
#include "sensitive.h"
#include "manager-fixture.h"
#include "test-helpers.h"


/* ---- records ----------------------------------------------------------- */


static char *
access_token (gint64 exp_usec, const char *tag)
{
  g_autofree char *payload = g_strdup_printf ("{\"exp\":%" G_GINT64_FORMAT ",\"tag\":\"%s\"}",
                                              exp_usec / SEC, tag);
  return test_make_jwt (payload);
}

/* A ChatGPT record; @exp_usec 0 gives an opaque access token; @last_usec 0
 * no last_refresh. */
AuthRecord *
chatgpt_record (const char *refresh_token, gint64 exp_usec, gint64 last_usec, const char *tag)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = test_make_jwt ("{\"email\":\"u@example.com\"}");
  g_autofree char *access = exp_usec > 0 ? access_token (exp_usec, tag) : g_strdup_printf ("opaque-%s", tag);
  g_autofree char *last = NULL;
  g_autofree char *json = NULL;
  AuthRecord *r;

  if (last_usec > 0)
    {
      g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (last_usec / SEC);
      g_autofree char *iso = g_date_time_format_iso8601 (dt);
      last = g_strdup_printf (",\"last_refresh\":\"%s\"", iso);
    }
  json = g_strdup_printf ("{\"auth_mode\":\"chatgpt\",\"tokens\":{\"id_token\":\"%s\","
                          "\"access_token\":\"%s\",\"refresh_token\":\"%s\"}%s}",
                          id, access, refresh_token, last != NULL ? last : "");
  r = auth_record_parse (json, strlen (json), &error);
  g_assert_no_error (error);
  return r;
}

static void
on_changed (AuthManager *m, gpointer data)
{
  ((Fixture *) data)->changes++;
}

void
spin_until_idle (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Managers running on the world of fakes: it is reset when the first
 * starts and cleared when the last stops, so that two managers can share
 * it (a restart on the same stores). */
static int managers_running;

static void
fixture_start_manager (Fixture *fx, StoreSetting setting)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StoreFile) file = store_file_new ("/codex", NULL);
  g_autoptr(StoreSecret) keyring = setting != STORE_SETTING_FILE ? store_secret_new ("/codex") : NULL;
  StorePolicy *policy = store_policy_new (setting, file, keyring, cli_setting_new ("/codex"));

  managers_running++;
  fx->manager = auth_manager_new (policy, state_files_new (NULL, NULL, NULL), auth_lock_new ("/codex"),
                                  token_endpoint_new (NULL, NULL));
  /* refresh_token_reused poisons at once here, unless a test of the wait
   * for another program's save sets it. */
  auth_manager_set_reuse_wait (fx->manager, 0);
  g_signal_connect (fx->manager, "changed", G_CALLBACK (on_changed), fx);
  g_assert_true (auth_manager_start (fx->manager, &error));
  g_assert_no_error (error);
  spin_until_idle ();
  g_assert_true (auth_manager_is_loaded (fx->manager));
}

/* Starts a manager with the daemon's store @setting on a fresh world whose
 * store holds @stored (auth.json, or the keyring item for
 * STORE_SETTING_SECRET_SERVICE) and, when not NULL, the persisted poison
 * record @poison (both taken). */
void
fixture_start_in (Fixture *fx, StoreSetting setting, AuthRecord *stored, PoisonRecord *poison)
{
  g_assert_cmpint (managers_running, ==, 0);
  fake_reset (T0);
  if (setting == STORE_SETTING_SECRET_SERVICE)
    {
      fake.keyring = KEYRING_ITEM;
      fake.item = stored;
    }
  else
    fake.file = stored;
  fake.poison = poison;
  fixture_start_manager (fx, setting);
}

void
fixture_start_full (Fixture *fx, AuthRecord *stored, PoisonRecord *poison)
{
  fixture_start_in (fx, STORE_SETTING_FILE, stored, poison);
}

void
fixture_start (Fixture *fx, AuthRecord *stored)
{
  fixture_start_full (fx, stored, NULL);
}

/* A second manager on the same world, as a restart on the same stores. */
void
fixture_start_again (Fixture *fx)
{
  g_assert_cmpint (managers_running, >, 0);
  fixture_start_manager (fx, STORE_SETTING_FILE);
}

void
fixture_stop (Fixture *fx)
{
  auth_manager_stop (fx->manager);
  g_clear_object (&fx->manager);
  if (--managers_running == 0)
    fake_clear ();
}

void
script (Fixture *fx, RefreshResult *r)
{
  g_queue_push_tail (&fake.script, r);
}

RefreshResult *
success (const char *access, const char *refresh)
{
  RefreshResult *r = g_new0 (RefreshResult, 1);

  r->kind = REFRESH_RESULT_SUCCESS;
  r->http_status = 200;
  r->access_token = sensitive_dup (access);
  r->refresh_token = sensitive_dup (refresh);
  return r;
}

RefreshResult *
transient (const char *code, gint64 retry_after)
{
  RefreshResult *r = refresh_result_new_transient (code, "try later");

  r->http_status = 503;
  r->retry_after_usec = retry_after;
  return r;
}

RefreshResult *
permanent (const char *code)
{
  RefreshResult *r = g_new0 (RefreshResult, 1);

  r->kind = REFRESH_RESULT_PERMANENT;
  r->code = g_strdup (code);
  r->message = g_strdup (refresh_permanent_message (code));
  r->http_status = 401;
  return r;
}

void
login_done (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (auth_manager_login_finish (AUTH_MANAGER (source), res, &error));
  g_assert_no_error (error);
  *(gboolean *) data = TRUE;
}

void
logout_done (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (auth_manager_logout_finish (AUTH_MANAGER (source), res, &error));
  g_assert_no_error (error);
  *(gboolean *) data = TRUE;
}

void
refresh_done (GObject *source, GAsyncResult *res, gpointer data)
{
  auth_manager_refresh_finish (AUTH_MANAGER (source), res);
  (*(guint *) data)++;
}

/* What a client calling GetAuthStatus(include_token, refresh_token) gets:
 * the manager's decision, and a refresh when it says so. */
const char *
client_call (Fixture *fx, gboolean include_token, gboolean force_refresh)
{
  if (auth_manager_refresh_needed (fx->manager, force_refresh, include_token))
    {
      guint done = 0;

      auth_manager_refresh_async (fx->manager, refresh_done, &done);
      while (done == 0)
        g_main_context_iteration (NULL, TRUE);
    }
  spin_until_idle ();
  return include_token ? auth_manager_get_token (fx->manager) : NULL;
}

char *
status_field (Fixture *fx, const char *which)
{
  AuthStatus s = { 0 };
  char *out;

  auth_manager_get_status (fx->manager, &s);
  if (g_str_equal (which, "state"))
    out = g_strdup (s.refresh_state);
  else if (g_str_equal (which, "error"))
    out = g_strdup (s.refresh_error);
  else if (g_str_equal (which, "store"))
    out = g_strdup (s.store_state);
  else
    g_assert_not_reached ();
  auth_status_clear (&s);
  return out;
}


guint
requests (Fixture *fx)
{
  return fake.sent->len;
}

/* How many times the log of store operations shows @op. */
guint
count_ops (const char *op)
{
  g_auto(GStrv) ops = g_strsplit (fake.log->str, " ", -1);
  guint n = 0;

  for (guint i = 0; ops[i] != NULL; i++)
    n += g_str_equal (ops[i], op);
  return n;
}

