/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The refresh state machine with a fake backend: a fake clock, a store in
 * memory and a scripted token endpoint. */
#include "config.h"

#include <glib.h>
#include <string.h>

#include "auth-manager.h"
#include "codex-secret.h"
#include "test-helpers.h"

#define SEC G_GINT64_CONSTANT (1000000)
#define T0 (G_GINT64_CONSTANT (1800000000) * SEC)

/* ---- records ----------------------------------------------------------- */

#define jwt test_make_jwt

static char *
access_token (gint64 exp_usec, const char *tag)
{
  g_autofree char *payload = g_strdup_printf ("{\"exp\":%" G_GINT64_FORMAT ",\"tag\":\"%s\"}",
                                              exp_usec / SEC, tag);
  return jwt (payload);
}

/* A ChatGPT record; @exp_usec 0 gives an opaque access token; @last_usec 0
 * no last_refresh. */
static AuthRecord *
chatgpt_record (const char *refresh_token, gint64 exp_usec, gint64 last_usec, const char *tag)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = jwt ("{\"email\":\"u@example.com\"}");
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

/* ---- the fake backend -------------------------------------------------- */

typedef struct {
  AuthBackend parent;
  gint64 now;
  gint64 wall_step; /* added to the wall clock only */
  double random;
  AuthRecord *stored;
  PoisonRecord *poison;
  gboolean holds_lock;
  gboolean save_fails;
  guint saves;
  guint logins;
  guint removals;
  /* When set, a save waits in held_save until the test completes it with
   * complete_held_save(). */
  gboolean hold_saves;
  GTask *held_save;
  AuthRecord *held_record;
  /* When set, a poison-record write waits in held_poison_write. */
  gboolean hold_poison_writes;
  GTask *held_poison_write;
  /* The rescue copy (rescue-record.h) and the writes of it. */
  AuthRecord *rescue;
  char *rescue_base;
  guint rescue_writes;
  /* auth.lock stays held by another process. */
  gboolean lock_busy;
  /* Loads that fail with a store error, counted down (0: none fail). */
  guint loads_fail;
  guint poison_writes;
  /* Token endpoint: scripted results (TokenResult*), the refresh tokens
   * sent, and, when holding, the request not answered yet. */
  GQueue script;
  GPtrArray *sent;
  gboolean hold;
  GTask *held;
  /* Called when a request is sent, before its answer (to change the store
   * while the request is out). */
  void (*on_request) (gpointer fake);
  /* The CredentialStore the fake reports ("file" unless a test sets it),
   * the loads so far, and whether auth.lock was held at the last poison
   * write. */
  const char *store_name;
  guint loads;
  gboolean poison_written_under_lock;
  AuthBackendChangedFunc changed;
  gpointer changed_data;
} FakeBackend;

static gboolean
fake_watch (AuthBackend *b, AuthBackendChangedFunc changed, gpointer data, GError **error)
{
  FakeBackend *f = (FakeBackend *) b;

  f->changed = changed;
  f->changed_data = data;
  return TRUE;
}

static void
fake_load (AuthBackend *b, GAsyncReadyCallback cb, gpointer data)
{
  FakeBackend *f = (FakeBackend *) b;
  g_autoptr(GTask) task = g_task_new (NULL, NULL, cb, data);
  AuthSnapshot *snap;

  f->loads++;
  if (f->loads_fail > 0)
    {
      f->loads_fail--;
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, "the store cannot be read");
      return;
    }
  snap = g_new0 (AuthSnapshot, 1);
  snap->record = f->stored != NULL ? auth_record_ref (f->stored) : NULL;
  snap->poison = f->poison != NULL ? poison_record_copy (f->poison) : NULL;
  snap->rescue = f->rescue != NULL ? auth_record_ref (f->rescue) : NULL;
  snap->rescue_base_fingerprint = g_strdup (f->rescue_base);
  g_task_return_pointer (task, snap, (GDestroyNotify) auth_snapshot_free);
}

static void
fake_load_under_lock (AuthBackend *b, GAsyncReadyCallback cb, gpointer data)
{
  FakeBackend *f = (FakeBackend *) b;

  g_assert_false (f->holds_lock);
  if (f->lock_busy)
    {
      g_autoptr(GTask) task = g_task_new (NULL, NULL, cb, data);

      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_BUSY, "auth.lock: still locked by another process");
      return;
    }
  f->holds_lock = TRUE;
  fake_load (b, cb, data);
}

static void
fake_release_lock (AuthBackend *b)
{
  ((FakeBackend *) b)->holds_lock = FALSE;
}

static void
fake_save (AuthBackend *b, AuthRecord *record, GAsyncReadyCallback cb, gpointer data)
{
  FakeBackend *f = (FakeBackend *) b;
  g_autoptr(GTask) task = g_task_new (NULL, NULL, cb, data);

  if (f->hold_saves)
    {
      g_assert_null (f->held_save);
      f->held_save = g_steal_pointer (&task);
      f->held_record = auth_record_ref (record);
      return;
    }
  if (f->save_fails)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_READ_ONLY, "read-only store");
      return;
    }
  f->saves++;
  g_clear_pointer (&f->stored, auth_record_unref);
  f->stored = auth_record_ref (record);
  g_task_return_boolean (task, TRUE);
}

static void
fake_refresh (AuthBackend *b, const char *refresh_token, GCancellable *cancellable,
              GAsyncReadyCallback cb, gpointer data)
{
  FakeBackend *f = (FakeBackend *) b;
  GTask *task = g_task_new (NULL, NULL, cb, data);

  g_assert_true (f->holds_lock); /* every request is made under the lock */
  g_ptr_array_add (f->sent, g_strdup (refresh_token));
  if (f->on_request != NULL)
    f->on_request (f);
  if (f->hold)
    {
      g_assert_null (f->held);
      f->held = task;
      return;
    }
  g_assert_false (g_queue_is_empty (&f->script));
  g_task_return_pointer (task, g_queue_pop_head (&f->script), (GDestroyNotify) token_result_free);
  g_object_unref (task);
}

static void
fake_save_poison (AuthBackend *b, const PoisonRecord *poison, GAsyncReadyCallback cb, gpointer data)
{
  FakeBackend *f = (FakeBackend *) b;
  g_autoptr(GTask) task = g_task_new (NULL, NULL, cb, data);

  f->poison_writes++;
  f->poison_written_under_lock = f->holds_lock;
  g_clear_pointer (&f->poison, poison_record_free);
  f->poison = poison != NULL ? poison_record_copy (poison) : NULL;
  if (f->hold_poison_writes)
    {
      g_assert_null (f->held_poison_write);
      f->held_poison_write = g_steal_pointer (&task);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
fake_save_rescue (AuthBackend *b, AuthRecord *record, const char *base, GAsyncReadyCallback cb, gpointer data)
{
  FakeBackend *f = (FakeBackend *) b;
  g_autoptr(GTask) task = g_task_new (NULL, NULL, cb, data);

  f->rescue_writes++;
  g_clear_pointer (&f->rescue, auth_record_unref);
  g_clear_pointer (&f->rescue_base, g_free);
  f->rescue = record != NULL ? auth_record_ref (record) : NULL;
  f->rescue_base = g_strdup (base);
  g_task_return_boolean (task, TRUE);
}

/* The wall clock is the test's clock plus a step a test can make; the
 * monotonic clock never steps. */
static gint64
fake_now (AuthBackend *b)
{
  return ((FakeBackend *) b)->now + ((FakeBackend *) b)->wall_step;
}

static gint64
fake_monotonic (AuthBackend *b)
{
  return ((FakeBackend *) b)->now;
}

static double
fake_random (AuthBackend *b)
{
  return ((FakeBackend *) b)->random;
}

static const char *
fake_describe (AuthBackend *b)
{
  return "fake store";
}

static const char *
fake_store_name (AuthBackend *b)
{
  FakeBackend *f = (FakeBackend *) b;

  return f->store_name != NULL ? f->store_name : "file";
}

static const char *
fake_store_reason (AuthBackend *b)
{
  return "Codex default: file";
}

static const char *
fake_config_problem (AuthBackend *b)
{
  return NULL;
}

/* A login is stored like any save (the policy of where is
 * credential-store.c's, tested in test-credential-store.c). */
static void
fake_save_login (AuthBackend *b, AuthRecord *record, GAsyncReadyCallback cb, gpointer data)
{
  FakeBackend *f = (FakeBackend *) b;

  f->logins++;
  fake_save (b, record, cb, data);
}

static void
fake_remove_all (AuthBackend *b, GAsyncReadyCallback cb, gpointer data)
{
  FakeBackend *f = (FakeBackend *) b;
  g_autoptr(GTask) task = g_task_new (NULL, NULL, cb, data);

  if (f->save_fails)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_READ_ONLY, "read-only store");
      return;
    }
  f->removals++;
  g_clear_pointer (&f->stored, auth_record_unref);
  g_task_return_boolean (task, TRUE);
}

/* A move stores the record like a save (the order of its writes is
 * credential-store.c's). */
static void
fake_move (AuthBackend *b, AuthRecord *record, StoreMode target, GAsyncReadyCallback cb, gpointer data)
{
  if (record != NULL)
    fake_save (b, record, cb, data);
  else
    {
      g_autoptr(GTask) task = g_task_new (NULL, NULL, cb, data);
      g_task_return_boolean (task, TRUE);
    }
}

static void
fake_unlock_store (AuthBackend *b, GAsyncReadyCallback cb, gpointer data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, cb, data);

  g_task_return_boolean (task, TRUE);
}

static void
fake_free (AuthBackend *b)
{
  FakeBackend *f = (FakeBackend *) b;

  g_clear_pointer (&f->stored, auth_record_unref);
  g_clear_pointer (&f->poison, poison_record_free);
  g_clear_pointer (&f->rescue, auth_record_unref);
  g_free (f->rescue_base);
  g_queue_clear_full (&f->script, (GDestroyNotify) token_result_free);
  g_ptr_array_unref (f->sent);
  g_assert_null (f->held);
  g_assert_null (f->held_save);
  g_assert_null (f->held_poison_write);
  g_free (f);
}

static const AuthBackendOps fake_ops = {
  .watch = fake_watch,
  .load = fake_load,
  .load_under_lock = fake_load_under_lock,
  .release_lock = fake_release_lock,
  .save = fake_save,
  .refresh = fake_refresh,
  .save_poison = fake_save_poison,
  .save_rescue = fake_save_rescue,
  .now = fake_now,
  .monotonic = fake_monotonic,
  .random = fake_random,
  .describe = fake_describe,
  .store_name = fake_store_name,
  .describe_searched = fake_describe,
  .store_reason = fake_store_reason,
  .config_problem = fake_config_problem,
  .move = fake_move,
  .save_login = fake_save_login,
  .remove_all = fake_remove_all,
  .unlock_store = fake_unlock_store,
  .free = fake_free,
};

typedef struct {
  FakeBackend *fake; /* owned by manager */
  AuthManager *manager;
  guint changes;
} Fixture;

static void
on_changed (AuthManager *m, gpointer data)
{
  ((Fixture *) data)->changes++;
}

static void
spin_until_idle (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Starts a manager on a fake store holding @stored and, when not NULL, the
 * persisted poison record @poison (both taken). */
static void
fixture_start_full (Fixture *fx, AuthRecord *stored, PoisonRecord *poison)
{
  g_autoptr(GError) error = NULL;

  fx->fake = g_new0 (FakeBackend, 1);
  fx->fake->parent.ops = &fake_ops;
  fx->fake->now = T0;
  fx->fake->random = 0.5; /* jitter factor exactly 1 */
  fx->fake->stored = stored;
  fx->fake->poison = poison;
  fx->fake->sent = g_ptr_array_new_with_free_func (g_free);
  g_queue_init (&fx->fake->script);
  fx->manager = auth_manager_new (&fx->fake->parent);
  /* refresh_token_reused poisons at once here, unless a test of the wait
   * for another program's save sets it. */
  auth_manager_set_reuse_wait (fx->manager, 0);
  g_signal_connect (fx->manager, "changed", G_CALLBACK (on_changed), fx);
  g_assert_true (auth_manager_start (fx->manager, &error));
  g_assert_no_error (error);
  spin_until_idle ();
  g_assert_true (auth_manager_is_loaded (fx->manager));
}

static void
fixture_start (Fixture *fx, AuthRecord *stored)
{
  fixture_start_full (fx, stored, NULL);
}

static void
fixture_stop (Fixture *fx)
{
  auth_manager_stop (fx->manager);
  g_clear_object (&fx->manager);
}

static void
script (Fixture *fx, TokenResult *r)
{
  g_queue_push_tail (&fx->fake->script, r);
}

static TokenResult *
success (const char *access, const char *refresh)
{
  TokenResult *r = g_new0 (TokenResult, 1);

  r->kind = TOKEN_RESULT_SUCCESS;
  r->http_status = 200;
  r->access_token = codex_secret_dup (access);
  r->refresh_token = codex_secret_dup (refresh);
  return r;
}

static TokenResult *
transient (const char *code, gint64 retry_after)
{
  TokenResult *r = token_result_new_transient (code, "try later");

  r->http_status = 503;
  r->retry_after_usec = retry_after;
  return r;
}

static TokenResult *
permanent (const char *code)
{
  TokenResult *r = g_new0 (TokenResult, 1);

  r->kind = TOKEN_RESULT_PERMANENT;
  r->code = g_strdup (code);
  r->message = g_strdup (token_permanent_message (code));
  r->http_status = 401;
  return r;
}

static void
login_done (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (auth_manager_login_finish (AUTH_MANAGER (source), res, &error));
  g_assert_no_error (error);
  *(gboolean *) data = TRUE;
}

static void
logout_done (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (auth_manager_logout_finish (AUTH_MANAGER (source), res, &error));
  g_assert_no_error (error);
  *(gboolean *) data = TRUE;
}

static void
refresh_done (GObject *source, GAsyncResult *res, gpointer data)
{
  auth_manager_refresh_finish (AUTH_MANAGER (source), res);
  (*(guint *) data)++;
}

/* What a client calling GetAuthStatus(include_token, refresh_token) gets:
 * the manager's decision, and a refresh when it says so. */
static const char *
client_call (Fixture *fx, gboolean include_token, gboolean refresh_token)
{
  if (auth_manager_refresh_needed (fx->manager, refresh_token, include_token))
    {
      guint done = 0;

      auth_manager_refresh_async (fx->manager, refresh_done, &done);
      while (done == 0)
        g_main_context_iteration (NULL, TRUE);
    }
  spin_until_idle ();
  return include_token ? auth_manager_get_token (fx->manager) : NULL;
}

static char *
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

#define assert_status(fx, which, expected) \
  G_STMT_START { g_autofree char *_v = status_field (fx, which); g_assert_cmpstr (_v, ==, expected); } G_STMT_END

static guint
requests (Fixture *fx)
{
  return fx->fake->sent->len;
}

/* ---- tests ------------------------------------------------------------- */

static void
test_backoff_delay (void)
{
  /* First retry about 1 s, doubling, capped at 10 min; jitter ±20 %. */
  g_assert_cmpint (auth_backoff_delay (1, 0.5, 0), ==, 1 * SEC);
  g_assert_cmpint (auth_backoff_delay (2, 0.5, 0), ==, 2 * SEC);
  g_assert_cmpint (auth_backoff_delay (5, 0.5, 0), ==, 16 * SEC);
  g_assert_cmpint (auth_backoff_delay (1, 0.0, 0), ==, 800000);
  g_assert_cmpint (auth_backoff_delay (1, 0.999999, 0), <, 1200000);
  g_assert_cmpint (auth_backoff_delay (1, 0.999999, 0), >, 1199000);
  g_assert_cmpint (auth_backoff_delay (10, 0.5, 0), ==, 512 * SEC);
  g_assert_cmpint (auth_backoff_delay (11, 0.5, 0), ==, 600 * SEC);
  g_assert_cmpint (auth_backoff_delay (60, 0.999, 0), ==, 600 * SEC);
  g_assert_cmpint (auth_backoff_delay (1000, 0.0, 0), ==, 480 * SEC);
  /* Retry-After wins when longer. */
  g_assert_cmpint (auth_backoff_delay (1, 0.5, 30 * SEC), ==, 30 * SEC);
  g_assert_cmpint (auth_backoff_delay (5, 0.5, 3 * SEC), ==, 16 * SEC);
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
      gint64 started = fx.fake->now;

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
          fx.fake->now = started + t;
          g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
          client_call (&fx, TRUE, TRUE);
        }
      g_assert_cmpuint (requests (&fx), ==, i + 1);
      fx.fake->now = started + expected_delays[i] * SEC;
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
  fx.fake->now = T0 + 119 * SEC;
  g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  fx.fake->now = T0 + 120 * SEC;
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
  fx.fake->now = T0 + 29 * SEC;
  g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  fx.fake->now = T0 + 31 * SEC;
  g_assert_true (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  script (&fx, success ("access-3", "rt-3"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-3");
  /* The rotated token is the one sent. */
  g_assert_cmpstr (g_ptr_array_index (fx.fake->sent, 0), ==, "rt-1");
  g_assert_cmpstr (g_ptr_array_index (fx.fake->sent, 1), ==, "rt-2");
  g_assert_cmpuint (fx.fake->saves, ==, 2);
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
  fx.fake->hold = TRUE;
  for (int i = 0; i < 50; i++)
    {
      g_assert_true (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
      auth_manager_refresh_async (fx.manager, refresh_done, &done);
      spin_until_idle ();
    }
  assert_status (&fx, "state", "refreshing");
  g_assert_cmpuint (requests (&fx), ==, 1);
  g_assert_cmpuint (done, ==, 0);

  g_task_return_pointer (fx.fake->held, success ("access-2", "rt-2"), (GDestroyNotify) token_result_free);
  g_clear_object (&fx.fake->held);
  spin_until_idle ();
  g_assert_cmpuint (done, ==, 50);
  g_assert_cmpstr (auth_manager_get_token (fx.manager), ==, "access-2");
  g_assert_false (fx.fake->holds_lock);
  fixture_stop (&fx);
}

static void
test_permanent_poisons (void)
{
  Fixture fx = { 0 };
  g_autofree char *fp = NULL;
  AuthStatus s = { 0 };

  fixture_start (&fx, chatgpt_record ("rt-doomed", T0 + 3600 * SEC, 0, "a"));
  fp = g_strdup (auth_record_get_fingerprint (fx.fake->stored));
  script (&fx, permanent ("refresh_token_reused"));
  g_assert_null (client_call (&fx, TRUE, TRUE));
  for (int i = 0; i < 1000; i++)
    {
      fx.fake->now += 7 * 24 * 3600 * SEC / 1000; /* a week of polling */
      g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
      g_assert_null (client_call (&fx, TRUE, TRUE));
    }
  g_assert_cmpuint (requests (&fx), ==, 1);
  auth_manager_get_status (fx.manager, &s);
  g_assert_cmpstr (s.refresh_state, ==, "poisoned");
  g_assert_cmpstr (s.refresh_error, ==, "refresh_token_reused");
  g_assert_cmpstr (s.refresh_error_message, ==, token_permanent_message ("refresh_token_reused"));
  g_assert_cmpstr (s.auth_method, ==, "chatgpt");
  g_assert_true (s.requires_login);
  auth_status_clear (&s);
  /* Persisted for the snapshot that was attempted. */
  g_assert_nonnull (fx.fake->poison);
  g_assert_cmpstr (fx.fake->poison->fingerprint, ==, fp);
  g_assert_cmpstr (fx.fake->poison->code, ==, "refresh_token_reused");
  g_assert_cmpint (fx.fake->poison->time_usec, ==, T0);

  /* A reload of the same record keeps it; a different one clears it. */
  fx.fake->changed (fx.fake->changed_data);
  spin_until_idle ();
  assert_status (&fx, "state", "poisoned");

  /* A read that raced with the record being written (it saw no record, or
   * a stale one) does not lift the poison, and the record is put back. */
  g_clear_pointer (&fx.fake->poison, poison_record_free);
  fx.fake->changed (fx.fake->changed_data);
  spin_until_idle ();
  assert_status (&fx, "state", "poisoned");
  fx.fake->poison = poison_record_new ("1111111111111111111111111111111111111111111111111111111111111111",
                                          "refresh_token_expired", "stale", 401, T0 - SEC);
  fx.fake->changed (fx.fake->changed_data);
  spin_until_idle ();
  assert_status (&fx, "state", "poisoned");
  g_assert_nonnull (fx.fake->poison);
  g_assert_cmpstr (fx.fake->poison->fingerprint, ==, fp);
  g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  g_assert_cmpuint (requests (&fx), ==, 1);
  g_clear_pointer (&fx.fake->stored, auth_record_unref);
  fx.fake->stored = chatgpt_record ("rt-new", T0 + 3600 * SEC, 0, "b");
  fx.fake->changed (fx.fake->changed_data);
  spin_until_idle ();
  assert_status (&fx, "state", "ok");
  g_assert_null (fx.fake->poison);
  g_assert_nonnull (auth_manager_get_token (fx.manager));
  fixture_stop (&fx);
}

static void
replace_store_during_request (gpointer data)
{
  FakeBackend *f = data;

  g_clear_pointer (&f->stored, auth_record_unref);
  f->stored = chatgpt_record ("rt-other-login", T0 + 3600 * SEC, 0, "other");
}

static void
test_permanent_after_external_change (void)
{
  Fixture fx = { 0 };

  fixture_start (&fx, chatgpt_record ("rt-doomed", T0 + 3600 * SEC, 0, "a"));
  fx.fake->on_request = replace_store_during_request;
  script (&fx, permanent ("refresh_token_reused"));
  client_call (&fx, TRUE, TRUE);
  /* The failure was about a snapshot no longer stored: not poisoned. */
  assert_status (&fx, "state", "ok");
  g_assert_null (fx.fake->poison);
  g_assert_cmpuint (fx.fake->poison_writes, ==, 0);
  g_assert_cmpstr (auth_record_get_refresh_token (fx.fake->stored), ==, "rt-other-login");
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
                                           token_permanent_message ("refresh_token_expired"), 401, T0));
  assert_status (&fx, "state", "poisoned");
  assert_status (&fx, "error", "refresh_token_expired");
  g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  g_assert_null (client_call (&fx, TRUE, TRUE));
  g_assert_cmpuint (requests (&fx), ==, 0);
  g_assert_cmpuint (fx.fake->poison_writes, ==, 0);
  fixture_stop (&fx);

  /* One for another snapshot is stale and removed. */
  fixture_start_full (&other, stored,
                      poison_record_new ("0000000000000000000000000000000000000000000000000000000000000000",
                                           "refresh_token_expired", "x", 401, T0));
  assert_status (&other, "state", "ok");
  g_assert_null (other.fake->poison);
  g_assert_cmpuint (other.fake->poison_writes, ==, 1);
  fixture_stop (&other);
}

static void
test_guarded_reload (void)
{
  Fixture fx = { 0 };

  fixture_start (&fx, chatgpt_record ("rt-1", T0 + 3600 * SEC, 0, "a"));
  /* Another program refreshed; the watch has not told us yet. */
  g_clear_pointer (&fx.fake->stored, auth_record_unref);
  fx.fake->stored = chatgpt_record ("rt-external", T0 + 3600 * SEC, T0, "external");
  g_assert_true (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  client_call (&fx, TRUE, TRUE);
  g_assert_cmpuint (requests (&fx), ==, 0);
  g_assert_cmpstr (auth_record_get_refresh_token (fx.fake->stored), ==, "rt-external");
  /* And that record counts as just refreshed. */
  g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  fixture_stop (&fx);
}

static void
test_save_failure_keeps_rotated_token (void)
{
  Fixture fx = { 0 };

  fixture_start (&fx, chatgpt_record ("rt-1", T0 + 3600 * SEC, 0, "a"));
  fx.fake->save_fails = TRUE;
  script (&fx, success ("access-2", "rt-2"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-2");
  assert_status (&fx, "store", "error");
  g_assert_cmpstr (auth_record_get_refresh_token (fx.fake->stored), ==, "rt-1");

  /* A reload that finds the old record keeps the new tokens. */
  fx.fake->changed (fx.fake->changed_data);
  spin_until_idle ();
  g_assert_cmpstr (auth_manager_get_token (fx.manager), ==, "access-2");

  /* The next refresh sends the rotated token, never rt-1 again. */
  fx.fake->now += 31 * SEC;
  script (&fx, success ("access-3", "rt-3"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-3");
  g_assert_cmpuint (requests (&fx), ==, 2);
  g_assert_cmpstr (g_ptr_array_index (fx.fake->sent, 1), ==, "rt-2");

  /* The store accepts writes again: the retry saves the newest record. */
  fx.fake->save_fails = FALSE;
  while (g_strcmp0 (auth_record_get_refresh_token (fx.fake->stored), "rt-3") != 0)
    g_main_context_iteration (NULL, TRUE);
  spin_until_idle ();
  assert_status (&fx, "store", "ok");
  fixture_stop (&fx);
}

static void
fail_next_load (gpointer fake)
{
  ((FakeBackend *) fake)->loads_fail = 1;
}

/* Past the 30 s window, a forced refresh sends @refresh_token (and gets
 * access-3 / rt-3). */
static void
assert_next_refresh_sends (Fixture *fx, const char *refresh_token)
{
  fx->fake->now += 31 * SEC;
  script (fx, success ("access-3", "rt-3"));
  g_assert_cmpstr (client_call (fx, TRUE, TRUE), ==, "access-3");
  g_assert_cmpstr (g_ptr_array_index (fx->fake->sent, fx->fake->sent->len - 1), ==, refresh_token);
}

/* Completes the save the fake holds: it lands in the store. */
static void
complete_held_save (Fixture *fx)
{
  FakeBackend *f = fx->fake;
  g_autoptr(GTask) task = g_steal_pointer (&f->held_save);
  g_autoptr(AuthRecord) record = g_steal_pointer (&f->held_record);

  g_assert_nonnull (task);
  f->saves++;
  g_clear_pointer (&f->stored, auth_record_unref);
  f->stored = g_steal_pointer (&record);
  g_task_return_boolean (task, TRUE);
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
  fx.fake->hold_saves = TRUE;
  script (&fx, success ("access-2", "rt-2"));
  auth_manager_refresh_async (fx.manager, refresh_done, &done);
  spin_until_idle ();
  g_assert_nonnull (fx.fake->held_save);

  auth_manager_logout_async (fx.manager, logout_done, &logged_out);
  spin_until_idle ();
  /* Queued behind the save, not beside it. */
  g_assert_cmpuint (fx.fake->removals, ==, 0);
  g_assert_true (auth_manager_is_busy (fx.manager));

  complete_held_save (&fx);
  spin_until_idle ();
  g_assert_cmpuint (done, ==, 1);
  g_assert_true (logged_out);
  g_assert_cmpuint (fx.fake->removals, ==, 1);
  g_assert_null (fx.fake->stored);
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

  fixture_start (&fx, chatgpt_record ("rt-1", T0 + 3600 * SEC, 0, "a"));
  fx.fake->save_fails = TRUE;
  script (&fx, success ("access-2", "rt-2"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-2");
  assert_status (&fx, "store", "error");

  /* The retry (on a real timer, about 2 s) starts writing. */
  fx.fake->save_fails = FALSE;
  fx.fake->hold_saves = TRUE;
  while (fx.fake->held_save == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (auth_record_get_refresh_token (fx.fake->held_record), ==, "rt-2");

  auth_manager_login_async (fx.manager, login, login_done, &logged_in);
  spin_until_idle ();
  g_assert_cmpuint (fx.fake->logins, ==, 0);
  g_assert_false (logged_in);

  fx.fake->hold_saves = FALSE;
  complete_held_save (&fx);
  spin_until_idle ();
  g_assert_true (logged_in);
  g_assert_cmpuint (fx.fake->logins, ==, 1);
  g_assert_cmpstr (auth_record_get_api_key (fx.fake->stored), ==, "sk-login");
  g_assert_cmpstr (auth_manager_get_token (fx.manager), ==, "sk-login");
  assert_status (&fx, "store", "ok");
  fixture_stop (&fx);
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
  fx.fake->hold_poison_writes = TRUE;
  script (&fx, permanent ("refresh_token_reused"));
  auth_manager_refresh_async (fx.manager, refresh_done, &done);
  spin_until_idle ();
  g_assert_nonnull (fx.fake->held_poison_write);
  /* Written, not finished: the lock is still held. */
  g_assert_true (fx.fake->holds_lock);

  write = g_steal_pointer (&fx.fake->held_poison_write);
  g_task_return_boolean (write, TRUE);
  spin_until_idle ();
  g_assert_false (fx.fake->holds_lock);
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
  fx.fake->on_request = fail_next_load;
  g_assert_null (client_call (&fx, TRUE, TRUE));
  assert_status (&fx, "state", "poisoned");
  g_assert_nonnull (fx.fake->poison);
  g_assert_cmpstr (fx.fake->poison->code, ==, "refresh_token_expired");
  fixture_stop (&fx);
}

/* A success whose id_token is not a JWT still rotates the refresh token:
 * the new refresh and access tokens are used and saved with the previous
 * id_token, and the next refresh sends the new refresh token. */
static void
test_bad_id_token_keeps_rotated_token (void)
{
  Fixture fx = { 0 };
  TokenResult *r = success ("access-2", "rt-2");

  fixture_start (&fx, chatgpt_record ("rt-1", T0 + 3600 * SEC, 0, "a"));
  r->id_token = codex_secret_dup ("not-a-jwt");
  script (&fx, r);
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-2");
  g_assert_cmpstr (auth_record_get_refresh_token (fx.fake->stored), ==, "rt-2");
  g_assert_cmpstr (auth_record_get_email (fx.fake->stored), ==, "u@example.com");
  assert_status (&fx, "state", "ok");

  assert_next_refresh_sends (&fx, "rt-2");
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
  fx.fake->lock_busy = TRUE;
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, access);
  assert_status (&fx, "state", "backoff");
  assert_status (&fx, "store", "ok");
  g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  g_assert_cmpuint (requests (&fx), ==, 0);

  /* After the backoff, the lock is free again: the refresh goes through. */
  fx.fake->lock_busy = FALSE;
  fx.fake->now += 2 * SEC;
  script (&fx, success ("access-2", "rt-2"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-2");
  assert_status (&fx, "state", "ok");
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
  base = g_strdup (auth_record_get_fingerprint (fx.fake->stored));
  fx.fake->save_fails = TRUE;
  script (&fx, success ("access-2", "rt-2"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-2");
  g_assert_nonnull (fx.fake->rescue);
  g_assert_cmpstr (auth_record_get_refresh_token (fx.fake->rescue), ==, "rt-2");
  g_assert_cmpstr (fx.fake->rescue_base, ==, base);
  g_assert_cmpstr (auth_record_get_refresh_token (fx.fake->stored), ==, "rt-1");

  /* A new process on the same stores: the store still refuses writes. */
  fixture_start_full (&again, auth_record_ref (fx.fake->stored), NULL);
  again.fake->save_fails = TRUE;
  again.fake->rescue = auth_record_ref (fx.fake->rescue);
  again.fake->rescue_base = g_strdup (fx.fake->rescue_base);
  fixture_stop (&fx);
  again.fake->changed (again.fake->changed_data);
  spin_until_idle ();
  g_assert_cmpstr (auth_manager_get_token (again.manager), ==, "access-2");
  assert_status (&again, "store", "error");
  /* The next refresh sends the rotated token. */
  again.fake->now += 31 * SEC;
  script (&again, success ("access-3", "rt-3"));
  g_assert_cmpstr (client_call (&again, TRUE, TRUE), ==, "access-3");
  g_assert_cmpstr (g_ptr_array_index (again.fake->sent, 0), ==, "rt-2");
  /* The store takes writes again: saved, and the copy is gone. */
  again.fake->save_fails = FALSE;
  while (again.fake->rescue != NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (auth_record_get_refresh_token (again.fake->stored), ==, "rt-3");
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
  g_assert_null (fx.fake->rescue);
  g_assert_cmpuint (fx.fake->rescue_writes, ==, 2); /* written, then removed */

  /* A logout discards a copy that is still there. */
  {
    Fixture out = { 0 };
    gboolean logged_out = FALSE;

    fixture_start (&out, chatgpt_record ("rt-x", T0 + 3600 * SEC, 0, "x"));
    out.fake->save_fails = TRUE;
    script (&out, success ("access-y", "rt-y"));
    g_assert_cmpstr (client_call (&out, TRUE, TRUE), ==, "access-y");
    g_assert_nonnull (out.fake->rescue);
    out.fake->save_fails = FALSE;
    out.fake->hold_saves = TRUE; /* the retry stays out of the way */
    auth_manager_logout_async (out.manager, logout_done, &logged_out);
    spin_until_idle ();
    if (out.fake->held_save != NULL)
      {
        complete_held_save (&out);
        spin_until_idle ();
      }
    g_assert_true (logged_out);
    g_assert_null (out.fake->rescue);
    fixture_stop (&out);
  }

  fx.fake->rescue = chatgpt_record ("rt-from-before", T0 + 3600 * SEC, 0, "b");
  fx.fake->rescue_base = g_strdup ("0000000000000000000000000000000000000000000000000000000000000000");
  fx.fake->changed (fx.fake->changed_data);
  spin_until_idle ();
  g_assert_null (fx.fake->rescue);
  g_assert_cmpstr (auth_manager_get_token (fx.manager), ==, "access-2");
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
  fx.fake->wall_step = 3600 * SEC;
  g_assert_false (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  /* ... and a day back: the deadline passes all the same. */
  fx.fake->wall_step = -24 * 3600 * SEC;
  fx.fake->now += 2 * SEC;
  g_assert_true (auth_manager_refresh_needed (fx.manager, TRUE, TRUE));
  fixture_stop (&fx);
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
  before = auth_record_ref (fx.fake->stored);
  fx.fake->save_fails = TRUE;
  script (&fx, success ("access-2", "rt-2"));
  g_assert_cmpstr (client_call (&fx, TRUE, TRUE), ==, "access-2");

  /* The keyring comes back: first no item, then the old one. */
  g_clear_pointer (&fx.fake->stored, auth_record_unref);
  fx.fake->changed (fx.fake->changed_data);
  spin_until_idle ();
  fx.fake->stored = auth_record_ref (before);
  fx.fake->save_fails = FALSE;
  fx.fake->changed (fx.fake->changed_data);
  spin_until_idle ();
  g_assert_cmpstr (auth_manager_get_token (fx.manager), ==, "access-2");
  while (g_strcmp0 (auth_record_get_refresh_token (fx.fake->stored), "rt-2") != 0)
    g_main_context_iteration (NULL, TRUE);

  assert_next_refresh_sends (&fx, "rt-2");
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
  FakeBackend *f = data;

  /* It can save only because this daemon let go of auth.lock. */
  g_assert_false (f->holds_lock);
  g_clear_pointer (&f->stored, auth_record_unref);
  f->stored = chatgpt_record ("rt-from-cli", T0 + 3600 * SEC, T0, "cli");
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
  g_timeout_add (500, other_program_saves, fx.fake);
  client_call (&fx, TRUE, TRUE);
  assert_status (&fx, "state", "ok");
  g_assert_null (fx.fake->poison);
  g_assert_cmpuint (fx.fake->poison_writes, ==, 0);
  g_assert_cmpuint (requests (&fx), ==, 1);
  g_assert_nonnull (strstr (auth_manager_get_token (fx.manager), "eyJ"));
  g_assert_cmpstr (auth_record_get_refresh_token (fx.fake->stored), ==, "rt-from-cli");
  g_assert_false (fx.fake->holds_lock);
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
  loads_before = fx.fake->loads;
  client_call (&fx, TRUE, TRUE);
  assert_status (&fx, "state", "poisoned");
  assert_status (&fx, "error", "refresh_token_reused");
  /* The guarded load, three fresh reads, and the verification. */
  g_assert_cmpuint (fx.fake->loads - loads_before, ==, 1 + 3 + 1);
  g_assert_cmpuint (fx.fake->poison_writes, ==, 1);
  g_assert_true (fx.fake->poison_written_under_lock);
  g_assert_false (fx.fake->holds_lock);
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
  loads_before = fx.fake->loads;
  client_call (&fx, TRUE, TRUE);
  assert_status (&fx, "state", "poisoned");
  /* The guarded load and the verification only: no waiting. */
  g_assert_cmpuint (fx.fake->loads - loads_before, ==, 2);
  g_assert_true (fx.fake->poison_written_under_lock);
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

  fixture_start (&fx, auth_record_new_api_key ("sk-old"));
  fx.fake->store_name = "secret-service";
  /* Fresh: no re-read. */
  fx.fake->now += AUTH_REVALIDATE_USEC / 2;
  g_assert_false (auth_manager_prepare_needed (fx.manager, FALSE, TRUE));
  /* The item is replaced in place (no signal), and a second later a
   * token is asked for: it is read again first. */
  g_clear_pointer (&fx.fake->stored, auth_record_unref);
  fx.fake->stored = auth_record_new_api_key ("sk-replaced");
  fx.fake->now += AUTH_REVALIDATE_USEC;
  g_assert_false (auth_manager_prepare_needed (fx.manager, FALSE, FALSE)); /* no token wanted */
  g_assert_true (auth_manager_prepare_needed (fx.manager, FALSE, TRUE));
  loads_before = fx.fake->loads;
  auth_manager_prepare_async (fx.manager, FALSE, TRUE, prepare_done, &done);
  while (done == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (fx.fake->loads - loads_before, ==, 1);
  g_assert_cmpstr (auth_manager_get_token (fx.manager), ==, "sk-replaced");
  g_assert_false (auth_manager_prepare_needed (fx.manager, FALSE, TRUE));

  /* auth.json is watched instead: never re-read for a token. */
  fx.fake->store_name = "file";
  fx.fake->now += 10 * AUTH_REVALIDATE_USEC;
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
  g_test_add_func ("/manager/save-failure-keeps-rotated-token", test_save_failure_keeps_rotated_token);
  g_test_add_func ("/manager/apikey-never-refreshes", test_apikey_never_refreshes);
  g_test_add_func ("/manager/logout-waits-for-save", test_logout_waits_for_save);
  g_test_add_func ("/manager/store-rollback-keeps-newer-tokens", test_store_rollback_keeps_newer_tokens);
  g_test_add_func ("/manager/backoff-ignores-wall-clock-steps", test_backoff_ignores_wall_clock_steps);
  g_test_add_func ("/manager/rescue-copy-survives-restart", test_rescue_copy_survives_restart);
  g_test_add_func ("/manager/rescue-copy-dropped-when-stale", test_rescue_copy_dropped_when_stale);
  g_test_add_func ("/manager/busy-lock-backs-off", test_busy_lock_backs_off);
  g_test_add_func ("/manager/bad-id-token-keeps-rotated-token", test_bad_id_token_keeps_rotated_token);
  g_test_add_func ("/manager/poison-written-before-lock-release", test_poison_written_before_lock_release);
  g_test_add_func ("/manager/poison-recorded-when-reread-fails", test_poison_recorded_when_reread_fails);
  g_test_add_func ("/manager/save-retry-does-not-overtake-login", test_save_retry_does_not_overtake_login);
  g_test_add_func ("/manager/reused/adopts-other-programs-token", test_reused_adopts_other_programs_token);
  g_test_add_func ("/manager/reused/poisons-when-nobody-saves", test_reused_poisons_when_nobody_saves);
  g_test_add_func ("/manager/reused/other-failures-poison-at-once", test_other_permanent_failures_poison_at_once);
  g_test_add_func ("/manager/revalidates-keyring-item", test_revalidates_keyring_item);

  return g_test_run ();
}
