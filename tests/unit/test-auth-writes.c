/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manager's writes over the fakes (fakes/): a save that fails keeps
 * the rotated token and is retried; the rescue copy across a restart; the
 * write queue (a logout or a login asked for while a save is written
 * waits for it); a store that loses its last write. */
#include "config.h"

#include <glib.h>
#include <string.h>

#include "manager-fixture.h"
#include "sensitive.h"

static void
test_save_failure_keeps_rotated_token (void)
{
  Fixture fx = { 0 };

  fixture_start (&fx, chatgpt_record ("rt-1", T0 + 3600 * SEC, 0, "a"));
  fake.save_fails = TRUE;
  script (&fx, success ("access-2", "rt-2"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-2");
  assert_status (&fx, "store", "error");
  g_assert_cmpstr (auth_record_get_refresh_token (fake.file), ==, "rt-1");

  /* A reload that finds the old record keeps the new tokens. */
  fake_emit_changed ();
  spin_until_idle ();
  g_assert_cmpstr (auth_manager_get_token (fx.manager), ==, "access-2");

  /* The next refresh sends the rotated token, never rt-1 again. */
  fake.now += 31 * SEC;
  script (&fx, success ("access-3", "rt-3"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-3");
  g_assert_cmpuint (requests (&fx), ==, 2);
  g_assert_cmpstr (g_ptr_array_index (fake.sent, 1), ==, "rt-2");

  /* The store accepts writes again: the retry saves the newest record. */
  fake.save_fails = FALSE;
  while (g_strcmp0 (auth_record_get_refresh_token (fake.file), "rt-3") != 0)
    g_main_context_iteration (NULL, TRUE);
  spin_until_idle ();
  assert_status (&fx, "store", "ok");
  fixture_stop (&fx);
}

/* Past the 30 s window, a forced refresh sends @refresh_token (and gets
 * access-3 / rt-3). */
static void
assert_next_refresh_sends (Fixture *fx, const char *refresh_token)
{
  fake.now += 31 * SEC;
  script (fx, success ("access-3", "rt-3"));
  g_assert_cmpstr (client_call (fx, TRUE, TRUE), ==, "access-3");
  g_assert_cmpstr (g_ptr_array_index (fake.sent, fake.sent->len - 1), ==, refresh_token);
}

/* Completes the save the fake holds: it lands in the store. */
static void
complete_held_save (Fixture *fx)
{
  fake_complete_held_save ();
}

/* A logout asked for while a refresh's save is being written waits for
 * it, so the logout is the last word and is not undone by the save. */
static void
test_logout_waits_for_save (void)
{
  Fixture fx = { 0 };
  guint done = 0;
  gboolean logged_out = FALSE;

  fixture_start (&fx, chatgpt_record ("rt-1", T0 + 3600 * SEC, 0, "a"));
  fake.hold_saves = TRUE;
  script (&fx, success ("access-2", "rt-2"));
  auth_manager_refresh_async (fx.manager, refresh_done, &done);
  spin_until_idle ();
  g_assert_nonnull (fake.held_save);

  auth_manager_logout_async (fx.manager, auth_manager_get_login_generation (fx.manager), logout_done, &logged_out);
  spin_until_idle ();
  /* Queued behind the save, not beside it. */
  g_assert_cmpuint (fake.removals, ==, 0);
  g_assert_true (auth_manager_is_busy (fx.manager));

  complete_held_save (&fx);
  spin_until_idle ();
  g_assert_cmpuint (done, ==, 1);
  g_assert_true (logged_out);
  g_assert_cmpuint (fake.removals, ==, 1);
  g_assert_null (fake.file);
  g_assert_null (auth_manager_get_token (fx.manager));
  fixture_stop (&fx);
}

/* A login asked for while a save retry is being written waits for it, so
 * the retry (an older change) cannot land after the login. */
static void
test_save_retry_does_not_overtake_login (void)
{
  Fixture fx = { 0 };
  gboolean logged_in = FALSE;
  g_autoptr(AuthRecord) login = auth_record_new_api_key ("sk-login");
  guint saves_before;

  fixture_start (&fx, chatgpt_record ("rt-1", T0 + 3600 * SEC, 0, "a"));
  fake.save_fails = TRUE;
  script (&fx, success ("access-2", "rt-2"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-2");
  assert_status (&fx, "store", "error");

  /* The retry (on a real timer, about 2 s) starts writing. */
  fake.save_fails = FALSE;
  fake.hold_saves = TRUE;
  while (fake.held_save == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (auth_record_get_refresh_token (fake.held_record), ==, "rt-2");

  saves_before = count_ops ("fs");
  auth_manager_login_async (fx.manager, login, login_done, &logged_in);
  spin_until_idle ();
  /* Queued behind the retry: not written yet. */
  g_assert_cmpuint (count_ops ("fs"), ==, saves_before);
  g_assert_false (logged_in);

  fake.hold_saves = FALSE;
  complete_held_save (&fx);
  spin_until_idle ();
  g_assert_true (logged_in);
  g_assert_cmpuint (count_ops ("fs"), ==, saves_before + 1);
  g_assert_cmpstr (auth_record_get_api_key (fake.file), ==, "sk-login");
  g_assert_cmpstr (auth_manager_get_token (fx.manager), ==, "sk-login");
  assert_status (&fx, "store", "ok");
  fixture_stop (&fx);
}

/* A success whose id_token is not a JWT still rotates the refresh token:
 * the new refresh and access tokens are used and saved with the previous
 * id_token, and the next refresh sends the new refresh token. */
static void
test_bad_id_token_keeps_rotated_token (void)
{
  Fixture fx = { 0 };
  RefreshResult *r = success ("access-2", "rt-2");

  fixture_start (&fx, chatgpt_record ("rt-1", T0 + 3600 * SEC, 0, "a"));
  r->id_token = sensitive_dup ("not-a-jwt");
  script (&fx, r);
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-2");
  g_assert_cmpstr (auth_record_get_refresh_token (fake.file), ==, "rt-2");
  g_assert_cmpstr (auth_record_get_email (fake.file), ==, "u@example.com");
  assert_status (&fx, "state", "ok");

  assert_next_refresh_sends (&fx, "rt-2");
  fixture_stop (&fx);
}

/* A refreshed record the store refuses is kept in the rescue copy; a
 * restart takes it while the store still holds the record it came from,
 * saves it, and clears the copy; it never sends the old token again. */
static void
test_rescue_copy_survives_restart (void)
{
  Fixture fx = { 0 }, again = { 0 };
  g_autofree char *base = NULL;

  fixture_start (&fx, chatgpt_record ("rt-1", T0 + 3600 * SEC, 0, "a"));
  base = g_strdup (auth_record_get_fingerprint (fake.file));
  fake.save_fails = TRUE;
  script (&fx, success ("access-2", "rt-2"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-2");
  g_assert_nonnull (fake.rescue);
  g_assert_cmpstr (auth_record_get_refresh_token (fake.rescue), ==, "rt-2");
  g_assert_cmpstr (fake.rescue_base, ==, base);
  g_assert_cmpstr (auth_record_get_refresh_token (fake.file), ==, "rt-1");

  /* A new process on the same stores: the store still refuses writes. */
  fixture_start_again (&again);
  fixture_stop (&fx);
  fake_emit_changed ();
  spin_until_idle ();
  g_assert_cmpstr (auth_manager_get_token (again.manager), ==, "access-2");
  assert_status (&again, "store", "error");
  /* The next refresh sends the rotated token. */
  fake.now += 31 * SEC;
  script (&again, success ("access-3", "rt-3"));
  g_assert_cmpstr (client_call (&again, TRUE, TRUE), ==, "access-3");
  g_assert_cmpuint (requests (&again), ==, 2); /* the first process's, then this one's */
  g_assert_cmpstr (g_ptr_array_index (fake.sent, 1), ==, "rt-2");
  /* The store takes writes again: saved, and the copy is gone. */
  fake.save_fails = FALSE;
  while (fake.rescue != NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (auth_record_get_refresh_token (fake.file), ==, "rt-3");
  fixture_stop (&again);
}

/* A rescue copy whose store record changed since (another login) is
 * dropped, and a save that went through clears the copy it wrote. */
static void
test_rescue_copy_dropped_when_stale (void)
{
  Fixture fx = { 0 };

  fixture_start (&fx, chatgpt_record ("rt-1", T0 + 3600 * SEC, 0, "a"));
  script (&fx, success ("access-2", "rt-2"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-2");
  spin_until_idle ();
  g_assert_null (fake.rescue);
  g_assert_cmpuint (fake.rescue_writes, ==, 2); /* written, then removed */

  fake.rescue = chatgpt_record ("rt-from-before", T0 + 3600 * SEC, 0, "b");
  fake.rescue_base = g_strdup ("0000000000000000000000000000000000000000000000000000000000000000");
  fake_emit_changed ();
  spin_until_idle ();
  g_assert_null (fake.rescue);
  g_assert_cmpstr (auth_manager_get_token (fx.manager), ==, "access-2");
  fixture_stop (&fx);
}

/* Refreshed tokens bound for the keyring are never rescued on disk; those
 * bound for auth.json are. */
static void
test_rescue_copy_place_follows_the_store (void)
{
  Fixture fx = { 0 };

  fixture_start_in (&fx, STORE_SETTING_SECRET_SERVICE, chatgpt_record ("rt-1", T0 + 3600 * SEC, 0, "a"), NULL);
  script (&fx, success ("access-2", "rt-2"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-2");
  spin_until_idle ();
  g_assert_cmpuint (fake.rescue_writes, ==, 2); /* written, then removed */
  g_assert_cmpint (fake.rescue_place, ==, RESCUE_NOT_ON_DISK);
  fixture_stop (&fx);

  fixture_start (&fx, chatgpt_record ("rt-1", T0 + 3600 * SEC, 0, "a"));
  script (&fx, success ("access-2", "rt-2"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-2");
  spin_until_idle ();
  g_assert_cmpuint (fake.rescue_writes, ==, 2);
  g_assert_cmpint (fake.rescue_place, ==, RESCUE_ON_DISK);
  fixture_stop (&fx);
}

/* A logout discards a rescue copy that is still there. */
static void
test_logout_discards_rescue_copy (void)
{
  Fixture out = { 0 };
  gboolean logged_out = FALSE;

  fixture_start (&out, chatgpt_record ("rt-x", T0 + 3600 * SEC, 0, "x"));
  fake.save_fails = TRUE;
  script (&out, success ("access-y", "rt-y"));
  g_assert_cmpstr (client_call (&out, TRUE, TRUE), ==, "access-y");
  g_assert_nonnull (fake.rescue);
  fake.save_fails = FALSE;
  fake.hold_saves = TRUE; /* the retry stays out of the way */
  auth_manager_logout_async (out.manager, auth_manager_get_login_generation (out.manager), logout_done, &logged_out);
  spin_until_idle ();
  if (fake.held_save != NULL)
    {
      complete_held_save (&out);
      spin_until_idle ();
    }
  g_assert_true (logged_out);
  g_assert_null (fake.rescue);
  g_assert_null (fake.file);
  fixture_stop (&out);
}

/* A store that loses its last write (a keyring killed before it wrote its
 * file) first shows nothing, then the record from before the refresh: the
 * daemon keeps the newer tokens, saves them again, and never sends the
 * rotated refresh token. */
static void
test_store_rollback_keeps_newer_tokens (void)
{
  Fixture fx = { 0 };
  g_autoptr(AuthRecord) before = NULL;

  fixture_start (&fx, chatgpt_record ("rt-1", T0 + 3600 * SEC, 0, "a"));
  before = auth_record_ref (fake.file);
  fake.save_fails = TRUE;
  script (&fx, success ("access-2", "rt-2"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-2");

  /* The keyring comes back: first no item, then the old one. */
  g_clear_pointer (&fake.file, auth_record_unref);
  fake_emit_changed ();
  spin_until_idle ();
  fake.file = auth_record_ref (before);
  fake.save_fails = FALSE;
  fake_emit_changed ();
  spin_until_idle ();
  g_assert_cmpstr (auth_manager_get_token (fx.manager), ==, "access-2");
  while (g_strcmp0 (auth_record_get_refresh_token (fake.file), "rt-2") != 0)
    g_main_context_iteration (NULL, TRUE);

  assert_next_refresh_sends (&fx, "rt-2");
  fixture_stop (&fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* The manager logs state changes as messages and warnings; they are
   * expected here. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL);

  g_test_add_func ("/manager/writes/save-failure-keeps-rotated-token", test_save_failure_keeps_rotated_token);
  g_test_add_func ("/manager/writes/logout-waits-for-save", test_logout_waits_for_save);
  g_test_add_func ("/manager/writes/store-rollback-keeps-newer-tokens", test_store_rollback_keeps_newer_tokens);
  g_test_add_func ("/manager/writes/rescue-copy-survives-restart", test_rescue_copy_survives_restart);
  g_test_add_func ("/manager/writes/rescue-copy-dropped-when-stale", test_rescue_copy_dropped_when_stale);
  g_test_add_func ("/manager/writes/rescue-copy-place-follows-the-store", test_rescue_copy_place_follows_the_store);
  g_test_add_func ("/manager/writes/bad-id-token-keeps-rotated-token", test_bad_id_token_keeps_rotated_token);
  g_test_add_func ("/manager/writes/save-retry-does-not-overtake-login", test_save_retry_does_not_overtake_login);
  g_test_add_func ("/manager/writes/logout-discards-rescue-copy", test_logout_discards_rescue_copy);

  return g_test_run ();
}
