/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The refresh state machine over the fakes (fakes/): when a refresh is
 * needed, backoff and Retry-After, the 30 s window, single flight,
 * poisoning only an unchanged snapshot and the poison record, the guarded
 * reload, auth.lock, refresh_token_reused, and re-reading a keyring item.
 * The writes are in test-auth-writes.c. */
#include "config.h"

#include <glib.h>
#include <string.h>

#include "backoff.h"
#include "manager-fixture.h"
#include "sensitive.h"

/* ---- tests ------------------------------------------------------------- */

static void
test_backoff_delay (void)
{
  /* First retry about 1 s, doubling, capped at 10 min; jitter ±20 %. */
  g_assert_cmpint (backoff_delay (1, 0.5, 0), ==, 1 * SEC);
  g_assert_cmpint (backoff_delay (2, 0.5, 0), ==, 2 * SEC);
  g_assert_cmpint (backoff_delay (5, 0.5, 0), ==, 16 * SEC);
  g_assert_cmpint (backoff_delay (1, 0.0, 0), ==, 800000);
  g_assert_cmpint (backoff_delay (1, 0.999999, 0), <, 1200000);
  g_assert_cmpint (backoff_delay (1, 0.999999, 0), >, 1199000);
  g_assert_cmpint (backoff_delay (10, 0.5, 0), ==, 512 * SEC);
  g_assert_cmpint (backoff_delay (11, 0.5, 0), ==, 600 * SEC);
  g_assert_cmpint (backoff_delay (60, 0.999, 0), ==, 600 * SEC);
  g_assert_cmpint (backoff_delay (1000, 0.0, 0), ==, 480 * SEC);
  /* Retry-After wins when longer. */
  g_assert_cmpint (backoff_delay (1, 0.5, 30 * SEC), ==, 30 * SEC);
  g_assert_cmpint (backoff_delay (5, 0.5, 3 * SEC), ==, 16 * SEC);
}

static void
test_backoff_schedule (void)
{
  Fixture fx = { 0 };
  gint64 expected_delays[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600 };
  AuthStatus s = { 0 };

  fixture_start (&fx, chatgpt_record ("rt", T0 + 3600 * SEC, T0 - 3600 * SEC, "a"));
  for (guint i = 0; i < G_N_ELEMENTS (expected_delays); i++)
    {
      gint64 started = fake.now;

      script (&fx, transient ("server_error", 0));
      /* The cached token is served whatever happens. */
      g_assert_nonnull (client_call (&fx, TRUE, TRUE));
      g_assert_cmpuint (requests (&fx), ==, i + 1);
      assert_status (&fx, "state", "backoff");
      assert_status (&fx, "error", "server_error");
      auth_manager_get_status (fx.manager, &s);
      g_assert_cmpuint (s.next_refresh_attempt, ==, started + expected_delays[i] * SEC);
      auth_status_clear (&s);

      /* Polling before the deadline: no request. */
      for (gint64 t = 0; t < expected_delays[i] * SEC; t += expected_delays[i] * SEC / 10)
        {
          fake.now = started + t;
          g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
          client_call (&fx, TRUE, TRUE);
        }
      g_assert_cmpuint (requests (&fx), ==, i + 1);
      fake.now = started + expected_delays[i] * SEC;
      g_assert_true (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
    }

  /* Success resets it. */
  script (&fx, success ("fresh-access", "rt-2"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "fresh-access");
  assert_status (&fx, "state", "ok");
  assert_status (&fx, "error", "");
  auth_manager_get_status (fx.manager, &s);
  g_assert_cmpuint (s.next_refresh_attempt, ==, 0);
  auth_status_clear (&s);
  fixture_stop (&fx);
}

static void
test_retry_after (void)
{
  Fixture fx = { 0 };

  fixture_start (&fx, chatgpt_record ("rt", T0 + 3600 * SEC, 0, "a"));
  script (&fx, transient ("rate_limited", 120 * SEC));
  client_call (&fx, TRUE, TRUE);
  fake.now = T0 + 119 * SEC;
  g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  fake.now = T0 + 120 * SEC;
  g_assert_true (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  fixture_stop (&fx);
}

static void
test_recent_refresh_window (void)
{
  Fixture fx = { 0 };

  fixture_start (&fx, chatgpt_record ("rt-1", T0 + 3600 * SEC, T0 - 3600 * SEC, "a"));
  script (&fx, success ("access-2", "rt-2"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-2");
  fake.now = T0 + 29 * SEC;
  g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  fake.now = T0 + 31 * SEC;
  g_assert_true (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  script (&fx, success ("access-3", "rt-3"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-3");
  /* The rotated token is the one sent. */
  g_assert_cmpstr (g_ptr_array_index (fake.sent, 0), ==, "rt-1");
  g_assert_cmpstr (g_ptr_array_index (fake.sent, 1), ==, "rt-2");
  g_assert_cmpuint (fake.saves, ==, 2);
  fixture_stop (&fx);
}

static void
test_proactive (void)
{
  struct {
    gint64 exp;
    gint64 last;
    gboolean due;
  } cases[] = {
    { T0 + 4 * 60 * SEC, T0 - 3600 * SEC, TRUE },     /* expires within 5 min */
    { T0 + 6 * 60 * SEC, T0 - 3600 * SEC, FALSE },
    { T0 - 60 * SEC, T0 - 3600 * SEC, TRUE },         /* expired */
    { 0, T0 - 9 * 24 * 3600 * SEC, TRUE },            /* no exp: older than 8 days */
    { 0, T0 - 7 * 24 * 3600 * SEC, FALSE },
    { 0, 0, TRUE },                                   /* nothing known */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Fixture fx = { 0 };

      g_test_message ("case %u", i);
      fixture_start (&fx, chatgpt_record ("rt", cases[i].exp, cases[i].last, "a"));
      g_assert_cmpint (auth_manager_refresh_needed (fx.manager, FALSE, TRUE), ==, cases[i].due);
      /* Not handing a token out: never due. */
      g_assert_false (auth_manager_refresh_needed (fx.manager, FALSE, FALSE));
      fixture_stop (&fx);
    }
}

static void
test_single_flight (void)
{
  Fixture fx = { 0 };
  guint done = 0;

  fixture_start (&fx, chatgpt_record ("rt-1", T0 + 3600 * SEC, 0, "a"));
  fake.hold = TRUE;
  for (int i = 0; i < 50; i++)
    {
      g_assert_true (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
      auth_manager_refresh_async (fx.manager, refresh_done, &done);
      spin_until_idle ();
    }
  assert_status (&fx, "state", "refreshing");
  g_assert_cmpuint (requests (&fx), ==, 1);
  g_assert_cmpuint (done, ==, 0);

  fake_answer_held (success ("access-2", "rt-2"));
  spin_until_idle ();
  g_assert_cmpuint (done, ==, 50);
  g_assert_cmpstr (auth_manager_get_token (fx.manager), ==, "access-2");
  g_assert_false (fake.lock_held);
  fixture_stop (&fx);
}

static void
test_permanent_poisons (void)
{
  Fixture fx = { 0 };
  g_autofree char *fp = NULL;
  AuthStatus s = { 0 };

  fixture_start (&fx, chatgpt_record ("rt-doomed", T0 + 3600 * SEC, 0, "a"));
  fp = g_strdup (auth_record_get_fingerprint (fake.file));
  script (&fx, permanent ("refresh_token_reused"));
  g_assert_null (client_call (&fx, TRUE, TRUE));
  for (int i = 0; i < 1000; i++)
    {
      fake.now += 7 * 24 * 3600 * SEC / 1000; /* a week of polling */
      g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
      g_assert_null (client_call (&fx, TRUE, TRUE));
    }
  g_assert_cmpuint (requests (&fx), ==, 1);
  auth_manager_get_status (fx.manager, &s);
  g_assert_cmpstr (s.refresh_state, ==, "poisoned");
  g_assert_cmpstr (s.refresh_error, ==, "refresh_token_reused");
  g_assert_cmpstr (s.refresh_error_message, ==, refresh_permanent_message ("refresh_token_reused"));
  g_assert_cmpstr (s.auth_method, ==, "chatgpt");
  g_assert_true (s.requires_login);
  auth_status_clear (&s);
  /* Persisted for the snapshot that was attempted. */
  g_assert_nonnull (fake.poison);
  g_assert_cmpstr (fake.poison->fingerprint, ==, fp);
  g_assert_cmpstr (fake.poison->code, ==, "refresh_token_reused");
  g_assert_cmpint (fake.poison->time_usec, ==, T0);

  /* A reload of the same record keeps it; a different one clears it. */
  fake_emit_changed ();
  spin_until_idle ();
  assert_status (&fx, "state", "poisoned");

  /* A read that raced with the record being written (it saw no record, or
   * a stale one) does not lift the poison, and the record is put back. */
  g_clear_pointer (&fake.poison, poison_record_free);
  fake_emit_changed ();
  spin_until_idle ();
  assert_status (&fx, "state", "poisoned");
  fake.poison = poison_record_new ("1111111111111111111111111111111111111111111111111111111111111111",
                                          "refresh_token_expired", "stale", 401, T0 - SEC);
  fake_emit_changed ();
  spin_until_idle ();
  assert_status (&fx, "state", "poisoned");
  g_assert_nonnull (fake.poison);
  g_assert_cmpstr (fake.poison->fingerprint, ==, fp);
  g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  g_assert_cmpuint (requests (&fx), ==, 1);
  g_clear_pointer (&fake.file, auth_record_unref);
  fake.file = chatgpt_record ("rt-new", T0 + 3600 * SEC, 0, "b");
  fake_emit_changed ();
  spin_until_idle ();
  assert_status (&fx, "state", "ok");
  g_assert_null (fake.poison);
  g_assert_nonnull (auth_manager_get_token (fx.manager));
  fixture_stop (&fx);
}

static void
replace_store_during_request (void)
{
  g_clear_pointer (&fake.file, auth_record_unref);
  fake.file = chatgpt_record ("rt-other-login", T0 + 3600 * SEC, 0, "other");
}

static void
test_permanent_after_external_change (void)
{
  Fixture fx = { 0 };

  fixture_start (&fx, chatgpt_record ("rt-doomed", T0 + 3600 * SEC, 0, "a"));
  fake.on_request = replace_store_during_request;
  script (&fx, permanent ("refresh_token_reused"));
  client_call (&fx, TRUE, TRUE);
  /* The failure was about a snapshot no longer stored: not poisoned. */
  assert_status (&fx, "state", "ok");
  g_assert_null (fake.poison);
  g_assert_cmpuint (fake.poison_writes, ==, 0);
  g_assert_cmpstr (auth_record_get_refresh_token (fake.file), ==, "rt-other-login");
  g_assert_nonnull (strstr (auth_manager_get_token (fx.manager), "eyJ"));
  fixture_stop (&fx);
}

static void
test_poison_loaded_at_start (void)
{
  Fixture fx = { 0 };
  Fixture other = { 0 };
  AuthRecord *stored = chatgpt_record ("rt-doomed", T0 + 3600 * SEC, 0, "a");

  /* A failure record for the stored snapshot: poisoned with no request. */
  fixture_start_full (&fx, auth_record_ref (stored),
                      poison_record_new (auth_record_get_fingerprint (stored), "refresh_token_expired",
                                           refresh_permanent_message ("refresh_token_expired"), 401, T0));
  assert_status (&fx, "state", "poisoned");
  assert_status (&fx, "error", "refresh_token_expired");
  g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  g_assert_null (client_call (&fx, TRUE, TRUE));
  g_assert_cmpuint (requests (&fx), ==, 0);
  g_assert_cmpuint (fake.poison_writes, ==, 0);
  fixture_stop (&fx);

  /* One for another snapshot is stale and removed. */
  fixture_start_full (&other, stored,
                      poison_record_new ("0000000000000000000000000000000000000000000000000000000000000000",
                                           "refresh_token_expired", "x", 401, T0));
  assert_status (&other, "state", "ok");
  g_assert_null (fake.poison);
  g_assert_cmpuint (fake.poison_writes, ==, 1);
  fixture_stop (&other);
}

static void
test_guarded_reload (void)
{
  Fixture fx = { 0 };

  fixture_start (&fx, chatgpt_record ("rt-1", T0 + 3600 * SEC, 0, "a"));
  /* Another program refreshed; the watch has not told us yet. */
  g_clear_pointer (&fake.file, auth_record_unref);
  fake.file = chatgpt_record ("rt-external", T0 + 3600 * SEC, T0, "external");
  g_assert_true (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  client_call (&fx, TRUE, TRUE);
  g_assert_cmpuint (requests (&fx), ==, 0);
  g_assert_cmpstr (auth_record_get_refresh_token (fake.file), ==, "rt-external");
  /* And that record counts as just refreshed. */
  g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  fixture_stop (&fx);
}

static void
fail_next_load (void)
{
  fake.loads_fail = 1;
}

/* The poison record is on disk before auth.lock is released, so that
 * another instance that takes the lock next reads it and sends nothing. */
static void
test_poison_written_before_lock_release (void)
{
  Fixture fx = { 0 };
  guint done = 0;
  g_autoptr(GTask) write = NULL;

  fixture_start (&fx, chatgpt_record ("rt-doomed", T0 + 3600 * SEC, 0, "a"));
  fake.hold_poison_writes = TRUE;
  script (&fx, permanent ("refresh_token_reused"));
  auth_manager_refresh_async (fx.manager, refresh_done, &done);
  spin_until_idle ();
  g_assert_nonnull (fake.held_poison_write);
  /* Written, not finished: the lock is still held. */
  g_assert_true (fake.lock_held);

  write = g_steal_pointer (&fake.held_poison_write);
  g_task_return_boolean (write, TRUE);
  spin_until_idle ();
  g_assert_false (fake.lock_held);
  g_assert_cmpuint (done, ==, 1);
  assert_status (&fx, "state", "poisoned");
  fixture_stop (&fx);
}

/* A permanent failure whose check of the store fails is still recorded:
 * nothing says the credentials changed, and not recording it would let a
 * restart send the dead token again. */
static void
test_poison_recorded_when_reread_fails (void)
{
  Fixture fx = { 0 };

  fixture_start (&fx, chatgpt_record ("rt-doomed", T0 + 3600 * SEC, 0, "a"));
  script (&fx, permanent ("refresh_token_expired"));
  /* The load under the lock succeeds; the re-read after the answer fails. */
  fake.on_request = fail_next_load;
  g_assert_null (client_call (&fx, TRUE, TRUE));
  assert_status (&fx, "state", "poisoned");
  g_assert_nonnull (fake.poison);
  g_assert_cmpstr (fake.poison->code, ==, "refresh_token_expired");
  fixture_stop (&fx);
}

/* A lock held by another program past the wait is a transient failure
 * with backoff, not a store error: the calls after it do not wait again. */
static void
test_busy_lock_backs_off (void)
{
  Fixture fx = { 0 };
  g_autofree char *access = NULL;

  fixture_start (&fx, chatgpt_record ("rt-1", T0 + 3600 * SEC, 0, "a"));
  access = g_strdup (auth_manager_get_token (fx.manager));
  fake.lock_busy = TRUE;
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, access);
  assert_status (&fx, "state", "backoff");
  assert_status (&fx, "store", "ok");
  g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  g_assert_cmpuint (requests (&fx), ==, 0);

  /* After the backoff, the lock is free again: the refresh goes through. */
  fake.lock_busy = FALSE;
  fake.now += 2 * SEC;
  script (&fx, success ("access-2", "rt-2"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-2");
  assert_status (&fx, "state", "ok");
  fixture_stop (&fx);
}

/* A wall-clock step neither extends nor ends a backoff: the deadline is
 * kept on the monotonic clock. */
static void
test_backoff_ignores_wall_clock_steps (void)
{
  Fixture fx = { 0 };

  fixture_start (&fx, chatgpt_record ("rt-1", T0 + 3600 * SEC, 0, "a"));
  script (&fx, transient ("server_error", 0));
  client_call (&fx, TRUE, TRUE);
  assert_status (&fx, "state", "backoff");
  /* First retry after about 1 s. The wall clock jumps an hour ahead: */
  fake.wall_step = 3600 * SEC;
  g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  /* ... and a day back: the deadline passes all the same. */
  fake.wall_step = -24 * 3600 * SEC;
  fake.now += 2 * SEC;
  g_assert_true (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  fixture_stop (&fx);
}

static void
test_apikey_never_refreshes (void)
{
  Fixture fx = { 0 };
  g_autoptr(GError) error = NULL;
  const char *json = "{\"OPENAI_API_KEY\":\"sk-1\"}";

  fixture_start (&fx, auth_record_parse (json, strlen (json), &error));
  g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "sk-1");
  assert_status (&fx, "state", "none");
  fixture_stop (&fx);
}

/* ---- refresh_token_reused: wait for the program that used it ---------- */

static gboolean
other_program_saves (gpointer data)
{
  /* It can save only because this daemon let go of auth.lock. */
  g_assert_false (fake.lock_held);
  g_clear_pointer (&fake.file, auth_record_unref);
  fake.file = chatgpt_record ("rt-from-cli", T0 + 3600 * SEC, T0, "cli");
  return G_SOURCE_REMOVE;
}

static void
test_reused_adopts_other_programs_token (void)
{
  Fixture fx = { 0 };

  fixture_start (&fx, chatgpt_record ("rt-shared", T0 + 60 * SEC, 0, "a"));
  auth_manager_set_reuse_wait (fx.manager, AUTH_REUSE_WAIT_USEC);
  script (&fx, permanent ("refresh_token_reused"));
  /* The other program's save lands 0.5 s after the reused answer (no
   * store signal: only the fresh reads can see it). */
  g_timeout_add (500, other_program_saves, NULL);
  client_call (&fx, TRUE, TRUE);
  assert_status (&fx, "state", "ok");
  g_assert_null (fake.poison);
  g_assert_cmpuint (fake.poison_writes, ==, 0);
  g_assert_cmpuint (requests (&fx), ==, 1);
  g_assert_nonnull (strstr (auth_manager_get_token (fx.manager), "eyJ"));
  g_assert_cmpstr (auth_record_get_refresh_token (fake.file), ==, "rt-from-cli");
  g_assert_false (fake.lock_held);
  /* The adopted tokens are not sent again. */
  g_assert_false (auth_manager_refresh_needed (fx.manager, FALSE, TRUE));
  fixture_stop (&fx);
}

static void
test_reused_poisons_when_nobody_saves (void)
{
  Fixture fx = { 0 };
  guint loads_before;

  fixture_start (&fx, chatgpt_record ("rt-doomed", T0 + 60 * SEC, 0, "a"));
  auth_manager_set_reuse_wait (fx.manager, 3 * AUTH_REUSE_POLL_USEC);
  script (&fx, permanent ("refresh_token_reused"));
  loads_before = fake.loads;
  client_call (&fx, TRUE, TRUE);
  assert_status (&fx, "state", "poisoned");
  assert_status (&fx, "error", "refresh_token_reused");
  /* The guarded load, three fresh reads, and the verification. */
  g_assert_cmpuint (fake.loads - loads_before, ==, 1 + 3 + 1);
  g_assert_cmpuint (fake.poison_writes, ==, 1);
  g_assert_true (fake.poison_written_under_lock);
  g_assert_false (fake.lock_held);
  g_assert_cmpuint (requests (&fx), ==, 1);
  fixture_stop (&fx);
}

static void
test_other_permanent_failures_poison_at_once (void)
{
  Fixture fx = { 0 };
  guint loads_before;

  fixture_start (&fx, chatgpt_record ("rt-doomed", T0 + 60 * SEC, 0, "a"));
  auth_manager_set_reuse_wait (fx.manager, AUTH_REUSE_WAIT_USEC);
  script (&fx, permanent ("refresh_token_expired"));
  loads_before = fake.loads;
  client_call (&fx, TRUE, TRUE);
  assert_status (&fx, "state", "poisoned");
  /* The guarded load and the verification only: no waiting. */
  g_assert_cmpuint (fake.loads - loads_before, ==, 2);
  g_assert_true (fake.poison_written_under_lock);
  fixture_stop (&fx);
}

/* ---- re-validating a keyring item before a token goes out -------------- */

static void
prepare_done (GObject *source, GAsyncResult *result, gpointer data)
{
  auth_manager_prepare_finish (AUTH_MANAGER (source), result);
  (*(guint *) data)++;
}

static void
test_revalidates_keyring_item (void)
{
  Fixture fx = { 0 };
  guint done = 0;
  guint loads_before;

  fixture_start_in (&fx, STORE_SETTING_SECRET_SERVICE, auth_record_new_api_key ("sk-old"), NULL);
  /* Fresh: no re-read. */
  fake.now += AUTH_REVALIDATE_USEC / 2;
  g_assert_false (auth_manager_prepare_needed (fx.manager, FALSE, TRUE));
  /* The item is replaced in place (no signal), and a second later a
   * token is asked for: it is read again first. */
  g_clear_pointer (&fake.item, auth_record_unref);
  fake.item = auth_record_new_api_key ("sk-replaced");
  fake.now += AUTH_REVALIDATE_USEC;
  g_assert_false (auth_manager_prepare_needed (fx.manager, FALSE, FALSE)); /* no token wanted */
  g_assert_true (auth_manager_prepare_needed (fx.manager, FALSE, TRUE));
  loads_before = fake.loads;
  auth_manager_prepare_async (fx.manager, FALSE, TRUE, prepare_done, &done);
  while (done == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (fake.loads - loads_before, ==, 1);
  g_assert_cmpstr (auth_manager_get_token (fx.manager), ==, "sk-replaced");
  g_assert_false (auth_manager_prepare_needed (fx.manager, FALSE, TRUE));
  fixture_stop (&fx);
}

/* auth.json is watched instead: never re-read for a token. */
static void
test_file_is_not_revalidated (void)
{
  Fixture fx = { 0 };

  fixture_start (&fx, auth_record_new_api_key ("sk-file"));
  fake.now += 10 * AUTH_REVALIDATE_USEC;
  g_assert_false (auth_manager_prepare_needed (fx.manager, FALSE, TRUE));
  fixture_stop (&fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* The manager logs state changes as messages and warnings; they are
   * expected here. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL);

  g_test_add_func ("/manager/backoff-delay", test_backoff_delay);
  g_test_add_func ("/manager/backoff-schedule", test_backoff_schedule);
  g_test_add_func ("/manager/retry-after", test_retry_after);
  g_test_add_func ("/manager/recent-refresh-window", test_recent_refresh_window);
  g_test_add_func ("/manager/proactive", test_proactive);
  g_test_add_func ("/manager/single-flight", test_single_flight);
  g_test_add_func ("/manager/permanent-poisons", test_permanent_poisons);
  g_test_add_func ("/manager/permanent-after-external-change", test_permanent_after_external_change);
  g_test_add_func ("/manager/poison-loaded-at-start", test_poison_loaded_at_start);
  g_test_add_func ("/manager/guarded-reload", test_guarded_reload);
  g_test_add_func ("/manager/apikey-never-refreshes", test_apikey_never_refreshes);
  g_test_add_func ("/manager/backoff-ignores-wall-clock-steps", test_backoff_ignores_wall_clock_steps);
  g_test_add_func ("/manager/busy-lock-backs-off", test_busy_lock_backs_off);
  g_test_add_func ("/manager/poison-written-before-lock-release", test_poison_written_before_lock_release);
  g_test_add_func ("/manager/poison-recorded-when-reread-fails", test_poison_recorded_when_reread_fails);
  g_test_add_func ("/manager/reused/adopts-other-programs-token", test_reused_adopts_other_programs_token);
  g_test_add_func ("/manager/reused/poisons-when-nobody-saves", test_reused_poisons_when_nobody_saves);
  g_test_add_func ("/manager/reused/other-failures-poison-at-once", test_other_permanent_failures_poison_at_once);
  g_test_add_func ("/manager/revalidates-keyring-item", test_revalidates_keyring_item);
  g_test_add_func ("/manager/file-is-not-revalidated", test_file_is_not_revalidated);

  return g_test_run ();
}
