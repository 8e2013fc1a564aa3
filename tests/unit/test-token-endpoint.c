/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's token endpoint and HTTP client against the fake token
 * server (tests/fakes/fake-token-server.py): success, permanent,
 * transient, oversized, hanging, dropped, a redirect not followed, a
 * connection refused; and the URLs the client accepts. */
#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "http-client.h"
#include "test-helpers.h"
#include "token-endpoint.h"

#define SEC G_GINT64_CONSTANT (1000000)

static void
test_url_validation (void)
{
  const char *good[] = { "https://auth.openai.com/oauth/token", "http://127.0.0.1:8080/oauth/token",
                         "http://127.1.2.3/x", "http://localhost:1/x", "http://[::1]:9/x" };
  const char *bad[] = { "http://auth.openai.com/oauth/token", "http://10.0.0.1/x", "ftp://127.0.0.1/x",
                        "not a url", "https:///nohost", "https://user:secret@auth.openai.com/x",
                        "http://127.0.0.1.example.com/x" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_test_message ("good: %s", good[i]);
      g_assert_true (http_url_validate (good[i], &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_test_message ("bad: %s", bad[i]);
      g_assert_false (http_url_validate (bad[i], &error));
      g_assert_nonnull (error);
      g_assert_null (strstr (error->message, "secret"));
    }
}

static void
result_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  *(RefreshResult **) data = token_endpoint_refresh_finish (NULL, res);
}

static RefreshResult *
refresh_once (const char *url, guint timeout, const char *refresh_token)
{
  g_autoptr(HttpClient) http = http_client_new (timeout);
  g_autoptr(TokenEndpoint) endpoint = token_endpoint_new (http, url);
  RefreshResult *result = NULL;

  token_endpoint_refresh_async (endpoint, refresh_token, NULL, result_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return result;
}

static void
test_client (void)
{
  TestFakeServer s = { 0 };
  g_autofree char *url = NULL;
  g_autofree char *requests = NULL;
  g_autofree char *expected_ua = g_strdup_printf ("\"user_agent\": \"%s/%s\"", PACKAGE_NAME, PACKAGE_VERSION);
  struct {
    const char *spec;
    guint timeout;
    RefreshResultKind kind;
    const char *code;
    guint status;
  } cases[] = {
    { "{\"status\":200,\"json\":{\"access_token\":\"a-new\",\"refresh_token\":\"r-new\"}}", 5,
      REFRESH_RESULT_SUCCESS, NULL, 200 },
    { "{\"status\":401,\"json\":{\"error\":{\"code\":\"refresh_token_reused\"}}}", 5,
      REFRESH_RESULT_PERMANENT, "refresh_token_reused", 401 },
    { "{\"status\":503,\"headers\":{\"Retry-After\":\"7\"}}", 5, REFRESH_RESULT_TRANSIENT, "server_error", 503 },
    { "{\"status\":200,\"body_size\":2000000}", 5, REFRESH_RESULT_TRANSIENT, "bad_response", 200 },
    { "{\"action\":\"hang\"}", 1, REFRESH_RESULT_TRANSIENT, "timeout", 0 },
    { "{\"action\":\"close\"}", 5, REFRESH_RESULT_TRANSIENT, "network", 0 },
    /* A redirect is not followed: it would carry the token elsewhere. */
    { "{\"status\":307,\"headers\":{\"Location\":\"/elsewhere\"}}", 5, REFRESH_RESULT_TRANSIENT, "bad_response", 307 },
  };

  test_fake_server_start (&s);
  url = g_strconcat (s.base, "/oauth/token", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *script = g_strdup_printf ("{\"responses\":[%s]}", cases[i].spec);
      g_autoptr(RefreshResult) r = NULL;

      g_free (test_fake_server_control (&s, "POST", "/_control/script", script));
      g_test_message ("case %u: %s", i, cases[i].spec);
      r = refresh_once (url, cases[i].timeout, "rt-test");
      g_assert_cmpint (r->kind, ==, cases[i].kind);
      g_assert_cmpstr (r->code, ==, cases[i].code);
      g_assert_cmpuint (r->http_status, ==, cases[i].status);
      if (i == 0)
        {
          g_assert_cmpstr (r->access_token, ==, "a-new");
          g_assert_cmpstr (r->refresh_token, ==, "r-new");
        }
      if (i == 2)
        g_assert_cmpint (r->retry_after_usec, ==, 7 * SEC);
    }

  requests = test_fake_server_control (&s, "GET", "/_control/requests", NULL);
  /* One request per case (the redirect target was never asked), each with
   * the protocol's body and headers. */
  g_assert_nonnull (strstr (requests, "\"content_type\": \"application/json\""));
  g_assert_nonnull (strstr (requests, expected_ua));
  g_assert_nonnull (strstr (requests, "{\\\"client_id\\\":\\\"app_EMoamEEZ73f0CkXaXp7hrann\\\","
                                      "\\\"grant_type\\\":\\\"refresh_token\\\",\\\"refresh_token\\\":\\\"rt-test\\\"}"));
  {
    guint n = 0;
    for (const char *p = requests; (p = strstr (p, "\"body\"")) != NULL; p++)
      n++;
    g_assert_cmpuint (n, ==, G_N_ELEMENTS (cases));
  }
  test_fake_server_stop (&s);
}

static void
test_client_connection_refused (void)
{
  g_autoptr(GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *url = NULL;
  g_autoptr(RefreshResult) r = NULL;

  /* A port that was just free: nothing listens there. */
  g_assert_true (g_socket_bind (sock, addr, FALSE, NULL));
  bound = g_socket_get_local_address (sock, NULL);
  url = g_strdup_printf ("http://127.0.0.1:%u/oauth/token",
                         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_socket_close (sock, NULL);
  r = refresh_once (url, 5, "rt-SECRET-123");
  g_assert_cmpint (r->kind, ==, REFRESH_RESULT_TRANSIENT);
  g_assert_cmpstr (r->code, ==, "network");
  g_assert_null (strstr (r->message, "SECRET"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/token-endpoint/url-validation", test_url_validation);
  g_test_add_func ("/token-endpoint/client", test_client);
  g_test_add_func ("/token-endpoint/client-connection-refused", test_client_connection_refused);

  return g_test_run ();
}
