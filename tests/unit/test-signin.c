/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sign-ins and the logout, driven directly (no bus) against the fake
 * issuer (tests/fakes/fake-token-server.py), with the manager on the
 * fakes: the browser flow through its callback server (the issuer's
 * redirect, a wrong state, /cancel, a body, a busy port), the device-code
 * flow (approved, disabled), and logout's revocation (done, failed, an
 * answer quoting the token). */
#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "auth-error.h"
#include "logout.h"
#include "manager-fixture.h"
#include "signin-manager.h"
#include "test-helpers.h"

typedef struct {
  Fixture manager;
  TestFakeServer issuer;
  HttpClient *http;
  Revoker *revoker;
  SigninManager *signins;
  guint ports[2];
  /* The last "completed". */
  guint completions;
  gboolean success;
  char *error;
  char *message;
} SigninFixture;

/* A port nothing listens on now. */
static guint
free_port (void)
{
  g_autoptr(GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (sock, addr, FALSE, NULL));
  bound = g_socket_get_local_address (sock, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
completed_cb (SigninManager *signins, const char *id, gboolean success, const char *error, const char *message,
              gpointer user_data)
{
  SigninFixture *fx = user_data;

  fx->completions++;
  fx->success = success;
  g_free (fx->error);
  fx->error = g_strdup (error);
  g_free (fx->message);
  fx->message = g_strdup (message);
}

static void
setup (SigninFixture *fx, gconstpointer data)
{
  g_autofree char *revoke_url = NULL;
  SigninSettings settings = { 0 };

  fixture_start (&fx->manager, NULL);
  test_fake_server_start (&fx->issuer);
  fx->http = http_client_new (5);
  revoke_url = g_strconcat (fx->issuer.base, "/oauth/revoke", NULL);
  fx->revoker = revoker_new (fx->http, revoke_url, CLI_CLIENT_ID, TRUE);
  fx->ports[0] = free_port ();
  fx->ports[1] = free_port ();
  settings.issuer = fx->issuer.base;
  settings.ports = fx->ports;
  settings.n_ports = 2;
  settings.browser_timeout = 60;
  settings.device_timeout = 60;
  fx->signins = signin_manager_new (fx->manager.manager, fx->http, fx->revoker, &settings);
  g_signal_connect (fx->signins, "completed", G_CALLBACK (completed_cb), fx);
}

static void
teardown (SigninFixture *fx, gconstpointer data)
{
  signin_manager_stop (fx->signins);
  g_clear_object (&fx->signins);
  g_clear_pointer (&fx->revoker, revoker_free);
  g_clear_pointer (&fx->http, http_client_unref);
  test_fake_server_stop (&fx->issuer);
  fixture_stop (&fx->manager);
  g_free (fx->error);
  g_free (fx->message);
}

static void
result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GAsyncResult *
wait_for (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

static void
wait_for_completions (SigninFixture *fx, guint n)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (fx->completions < n)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

static char *
start_browser (SigninFixture *fx, char **id)
{
  GAsyncResult *result = NULL;
  g_autoptr(GError) error = NULL;
  char *url = NULL;

  signin_manager_start_browser_async (fx->signins, result_cb, &result);
  g_assert_true (signin_manager_start_browser_finish (fx->signins, wait_for (&result), id, &url, &error));
  g_assert_no_error (error);
  g_object_unref (result);
  g_assert_cmpstr (signin_manager_get_pending (fx->signins), ==, "browser");
  return url;
}

/* A request as a browser makes it, answered while the main loop runs:
 * the status, and the body in *body. */
static guint
http (SigninFixture *fx, const char *method, const char *url, const char *body, gboolean follow, char **text)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *result = NULL;

  g_assert_nonnull (msg);
  if (!follow)
    soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (msg, "application/x-www-form-urlencoded", bytes);
    }
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, result_cb, &result);
  reply = soup_session_send_and_read_finish (session, wait_for (&result), &error);
  g_object_unref (result);
  g_assert_no_error (error);
  if (text != NULL)
    *text = g_strndup (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply));
  return soup_message_get_status (msg);
}

static char *
callback_url (SigninFixture *fx, guint port, const char *query)
{
  return g_strdup_printf ("http://127.0.0.1:%u/auth/callback?%s", port, query);
}

/* The issuer redirects the browser to the callback: the code is exchanged
 * with the verifier of the challenge sent, the tokens stored. */
static void
test_browser_completes (SigninFixture *fx, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autofree char *url = start_browser (fx, &id);
  g_autofree char *page = NULL;
  g_autofree char *log = NULL;

  g_assert_true (g_str_has_prefix (url, fx->issuer.base));
  g_assert_cmpuint (http (fx, "GET", url, NULL, TRUE, &page), ==, 200);
  wait_for_completions (fx, 1);
  g_assert_true (fx->success);
  g_assert_nonnull (strstr (page, "signed in"));
  g_assert_cmpstr (signin_manager_get_pending (fx->signins), ==, "");
  while (fake.file == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (auth_record_get_mode (fake.file), ==, AUTH_MODE_CHATGPT);
  g_assert_cmpstr (auth_record_get_account_id (fake.file), ==, "acc-login");
  log = test_fake_server_control (&fx->issuer, "GET", "/_control/login", NULL);
  g_assert_nonnull (strstr (log, "\"problems\": []"));
  g_assert_nonnull (strstr (log, "\"exchanges\": [{"));
}

/* A callback with another state is refused and the sign-in goes on; a
 * body is refused; /cancel ends it. */
static void
test_callback_server_answers (SigninFixture *fx, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autofree char *url = start_browser (fx, &id);
  g_autofree char *wrong = callback_url (fx, fx->ports[0], "code=c&state=not-the-state");
  g_autofree char *text = NULL;
  g_autofree char *cancel = g_strdup_printf ("http://127.0.0.1:%u/cancel", fx->ports[0]);
  g_autofree char *other = g_strdup_printf ("http://127.0.0.1:%u/elsewhere", fx->ports[0]);

  g_assert_nonnull (strstr (url, "state="));

  g_assert_cmpuint (http (fx, "GET", wrong, NULL, FALSE, &text), ==, 400);
  g_assert_cmpstr (text, ==, "State mismatch");
  g_clear_pointer (&text, g_free);
  g_assert_cmpuint (http (fx, "POST", wrong, "x=1", FALSE, NULL), ==, 405);
  g_assert_cmpuint (http (fx, "GET", other, NULL, FALSE, NULL), ==, 404);
  g_assert_cmpuint (fx->completions, ==, 0);
  g_assert_cmpstr (signin_manager_get_pending (fx->signins), ==, "browser");

  g_assert_cmpuint (http (fx, "GET", cancel, NULL, FALSE, &text), ==, 200);
  g_assert_cmpstr (text, ==, "Login cancelled");
  wait_for_completions (fx, 1);
  g_assert_false (fx->success);
  g_assert_cmpstr (fx->error, ==, "cancelled");
  g_assert_null (fake.file);
}

/* The first port is held by another program that does not answer: the
 * callback server takes the second. */
static void
test_busy_port_falls_back (SigninFixture *fx, gconstpointer data)
{
  g_autoptr(GSocketService) holder = g_socket_service_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *url = NULL;
  g_autofree char *expected = NULL;

  g_assert_true (g_socket_listener_add_inet_port (G_SOCKET_LISTENER (holder), fx->ports[0], NULL, &error));
  g_assert_no_error (error);
  url = start_browser (fx, &id);
  expected = g_strdup_printf ("localhost%%3A%u", fx->ports[1]);
  g_assert_nonnull (strstr (url, expected));
}

static void
test_device_code (SigninFixture *fx, gconstpointer data)
{
  GAsyncResult *result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL, *url = NULL, *code = NULL;

  g_free (test_fake_server_control (&fx->issuer, "POST", "/_control/login", "{\"interval\": \"1\"}"));
  signin_manager_start_device_async (fx->signins, result_cb, &result);
  g_assert_true (signin_manager_start_device_finish (fx->signins, wait_for (&result), &id, &url, &code, &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpstr (signin_manager_get_pending (fx->signins), ==, "device-code");
  g_assert_true (g_str_has_suffix (url, "/codex/device"));
  g_assert_cmpuint (strlen (code), >, 0);
  g_free (test_fake_server_control (&fx->issuer, "POST", "/_control/approve", "{}"));
  wait_for_completions (fx, 1);
  g_assert_true (fx->success);
  while (fake.file == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (auth_record_get_mode (fake.file), ==, AUTH_MODE_CHATGPT);
}

static void
test_device_code_disabled (SigninFixture *fx, gconstpointer data)
{
  GAsyncResult *result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL, *url = NULL, *code = NULL;

  g_free (test_fake_server_control (&fx->issuer, "POST", "/_control/login", "{\"usercode\": {\"status\": 404}}"));
  signin_manager_start_device_async (fx->signins, result_cb, &result);
  g_assert_false (signin_manager_start_device_finish (fx->signins, wait_for (&result), &id, &url, &code, &error));
  g_clear_object (&result);
  g_assert_error (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_DEVICE_LOGIN_DISABLED);
  g_assert_cmpstr (signin_manager_get_pending (fx->signins), ==, "");
  /* A start that failed has no id to report: no "completed". */
  g_assert_cmpuint (fx->completions, ==, 0);
}

static void
logout (SigninFixture *fx, LogoutOutcome *outcome)
{
  GAsyncResult *result = NULL;
  g_autoptr(GError) error = NULL;

  logout_async (fx->manager.manager, fx->signins, fx->revoker, result_cb, &result);
  g_assert_true (logout_finish (wait_for (&result), outcome, &error));
  g_assert_no_error (error);
  g_object_unref (result);
}

static void
sign_in (SigninFixture *fx)
{
  g_autofree char *id = NULL;
  g_autofree char *url = start_browser (fx, &id);
  guint before = fx->completions;

  g_assert_cmpuint (http (fx, "GET", url, NULL, TRUE, NULL), ==, 200);
  wait_for_completions (fx, before + 1);
  g_assert_true (fx->success);
  spin_until_idle ();
}

static void
test_logout_revokes (SigninFixture *fx, gconstpointer data)
{
  LogoutOutcome outcome = { 0 };
  g_autofree char *refresh = NULL;
  g_autofree char *log = NULL;

  sign_in (fx);
  refresh = g_strdup (auth_record_get_refresh_token (fake.file));
  logout (fx, &outcome);
  g_assert_cmpstr (outcome.revocation, ==, "revoked");
  g_assert_cmpstr (outcome.token_type, ==, "refresh_token");
  g_assert_cmpstr (outcome.error, ==, "");
  logout_outcome_clear (&outcome);
  g_assert_null (fake.file);
  log = test_fake_server_control (&fx->issuer, "GET", "/_control/login", NULL);
  g_assert_nonnull (strstr (log, refresh));
}

/* A revocation that fails does not keep the credentials; an answer that
 * quotes the token does not put it in the outcome. */
static void
test_logout_revocation_fails (SigninFixture *fx, gconstpointer data)
{
  LogoutOutcome outcome = { 0 };
  g_autofree char *refresh = NULL;
  g_autofree char *script = NULL;

  sign_in (fx);
  refresh = g_strdup (auth_record_get_refresh_token (fake.file));
  script = g_strdup_printf ("{\"revoke\": {\"status\": 400, \"json\": {\"error\": \"unknown token %s\"}}}", refresh);
  g_free (test_fake_server_control (&fx->issuer, "POST", "/_control/login", script));
  logout (fx, &outcome);
  g_assert_cmpstr (outcome.revocation, ==, "failed");
  g_assert_nonnull (strstr (outcome.error, "HTTP 400"));
  g_assert_null (strstr (outcome.error, refresh));
  logout_outcome_clear (&outcome);
  g_assert_null (fake.file);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL);

#define ADD(path, func) g_test_add (path, SigninFixture, NULL, setup, func, teardown)
  ADD ("/signin/browser-completes", test_browser_completes);
  ADD ("/signin/callback-server-answers", test_callback_server_answers);
  ADD ("/signin/busy-port-falls-back", test_busy_port_falls_back);
  ADD ("/signin/device-code", test_device_code);
  ADD ("/signin/device-code-disabled", test_device_code_disabled);
  ADD ("/signin/logout-revokes", test_logout_revokes);
  ADD ("/signin/logout-revocation-fails", test_logout_revocation_fails);
#undef ADD

  return g_test_run ();
}
