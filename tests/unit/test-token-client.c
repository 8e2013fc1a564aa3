/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Classification of token endpoint answers, and the client against the
 * fake token server (tests/fakes/fake-token-server.py). */
#include "config.h"

#include <gio/gio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "test-helpers.h"
#include "token-client.h"

#define SEC G_GINT64_CONSTANT (1000000)
#define NOW (G_GINT64_CONSTANT (1800000000) * SEC)

/* ---- classification ---------------------------------------------------- */

typedef struct {
  guint status;
  const char *body;
  const char *retry_after;
  TokenResultKind kind;
  const char *code;
  gint64 retry_after_usec;
} ClassifyCase;

static void
test_classify (void)
{
  const ClassifyCase cases[] = {
    /* Permanent: any 401 ... */
    { 401, "", NULL, TOKEN_RESULT_PERMANENT, "unauthorized", 0 },
    { 401, "<html>", NULL, TOKEN_RESULT_PERMANENT, "unauthorized", 0 },
    { 401, "{\"error\":{\"code\":\"token_expired\"}}", NULL, TOKEN_RESULT_PERMANENT, "unauthorized", 0 },
    { 401, "{\"error\":\"invalid_grant\"}", NULL, TOKEN_RESULT_PERMANENT, "invalid_grant", 0 },
    /* ... a known code at any status, from error.code, error or code ... */
    { 401, "{\"error\":{\"message\":\"m\",\"type\":\"invalid_request_error\",\"param\":null,"
           "\"code\":\"refresh_token_reused\"}}", NULL, TOKEN_RESULT_PERMANENT, "refresh_token_reused", 0 },
    { 400, "{\"error\":{\"code\":\"refresh_token_expired\"}}", NULL, TOKEN_RESULT_PERMANENT,
      "refresh_token_expired", 0 },
    { 400, "{\"error\":\"Refresh_Token_Invalidated\"}", NULL, TOKEN_RESULT_PERMANENT,
      "refresh_token_invalidated", 0 },
    { 403, "{\"code\":\"refresh_token_reused\"}", NULL, TOKEN_RESULT_PERMANENT, "refresh_token_reused", 0 },
    { 500, "{\"code\":\"refresh_token_expired\"}", NULL, TOKEN_RESULT_PERMANENT, "refresh_token_expired", 0 },
    /* error.code wins over a top-level code. */
    { 400, "{\"error\":{\"code\":\"refresh_token_reused\"},\"code\":\"other\"}", NULL,
      TOKEN_RESULT_PERMANENT, "refresh_token_reused", 0 },
    /* ... and 400 invalid_grant. */
    { 400, "{\"error\":\"invalid_grant\"}", NULL, TOKEN_RESULT_PERMANENT, "invalid_grant", 0 },
    /* Transient. */
    { 403, "{\"error\":\"invalid_grant\"}", NULL, TOKEN_RESULT_TRANSIENT, "bad_response", 0 },
    { 400, "{\"error\":\"invalid_request\"}", NULL, TOKEN_RESULT_TRANSIENT, "bad_response", 0 },
    { 404, "", NULL, TOKEN_RESULT_TRANSIENT, "bad_response", 0 },
    { 408, "", NULL, TOKEN_RESULT_TRANSIENT, "timeout", 0 },
    { 429, "{}", "17", TOKEN_RESULT_TRANSIENT, "rate_limited", 17 * SEC },
    { 500, "", NULL, TOKEN_RESULT_TRANSIENT, "server_error", 0 },
    { 503, "", "999999", TOKEN_RESULT_TRANSIENT, "server_error", 3600 * SEC },
    { 503, "", "soon", TOKEN_RESULT_TRANSIENT, "server_error", 0 },
    { 302, "", NULL, TOKEN_RESULT_TRANSIENT, "bad_response", 0 },
    { 200, "not json", NULL, TOKEN_RESULT_TRANSIENT, "bad_response", 0 },
    { 200, "[1,2]", NULL, TOKEN_RESULT_TRANSIENT, "bad_response", 0 },
    { 200, "{}", NULL, TOKEN_RESULT_TRANSIENT, "bad_response", 0 },
    { 200, "{\"access_token\":5}", NULL, TOKEN_RESULT_TRANSIENT, "bad_response", 0 },
    { 200, "{\"access_token\":\"\"}", NULL, TOKEN_RESULT_TRANSIENT, "bad_response", 0 },
    /* Success. */
    { 200, "{\"access_token\":\"a\"}", NULL, TOKEN_RESULT_SUCCESS, NULL, 0 },
    { 201, "{\"refresh_token\":\"r\",\"id_token\":null}", NULL, TOKEN_RESULT_SUCCESS, NULL, 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const ClassifyCase *c = &cases[i];
      g_autoptr(TokenResult) r = token_result_from_response (c->status, c->body, strlen (c->body),
                                                             c->retry_after, NOW);

      g_test_message ("case %u: HTTP %u %s", i, c->status, c->body);
      g_assert_cmpint (r->kind, ==, c->kind);
      g_assert_cmpstr (r->code, ==, c->code);
      g_assert_cmpuint (r->http_status, ==, c->status);
      g_assert_cmpint (r->retry_after_usec, ==, c->retry_after_usec);
      if (c->kind != TOKEN_RESULT_SUCCESS)
        g_assert_nonnull (r->message);
      if (c->kind == TOKEN_RESULT_PERMANENT)
        g_assert_cmpstr (r->message, ==, token_permanent_message (c->code));
    }
}

static void
test_messages (void)
{
  g_assert_cmpstr (token_permanent_message ("refresh_token_expired"), ==,
                   "Your access token could not be refreshed because your refresh token has expired. "
                   "Please log out and sign in again.");
  g_assert_cmpstr (token_permanent_message ("refresh_token_reused"), ==,
                   "Your access token could not be refreshed because your refresh token was already used. "
                   "Please log out and sign in again.");
  g_assert_cmpstr (token_permanent_message ("refresh_token_invalidated"), ==,
                   "Your access token could not be refreshed because your refresh token was revoked. "
                   "Please log out and sign in again.");
  g_assert_cmpstr (token_permanent_message ("unauthorized"), ==,
                   "Your access token could not be refreshed. Please log out and sign in again.");
}

static void
test_success_fields (void)
{
  const char *body = "{\"id_token\":\"i\",\"access_token\":\"a\",\"refresh_token\":\"r\",\"other\":1}";
  g_autoptr(TokenResult) r = token_result_from_response (200, body, strlen (body), NULL, NOW);
  g_autoptr(TokenResult) partial = token_result_from_response (200, "{\"access_token\":\"a2\"}", 21, NULL, NOW);

  g_assert_cmpint (r->kind, ==, TOKEN_RESULT_SUCCESS);
  g_assert_cmpstr (r->id_token, ==, "i");
  g_assert_cmpstr (r->access_token, ==, "a");
  g_assert_cmpstr (r->refresh_token, ==, "r");
  g_assert_cmpstr (partial->access_token, ==, "a2");
  g_assert_null (partial->id_token);
  g_assert_null (partial->refresh_token);
}

static void
test_retry_after_date (void)
{
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc (NOW / SEC + 90);
  g_autofree char *date = g_date_time_format (when, "%a, %d %b %Y %H:%M:%S GMT");
  g_autoptr(GDateTime) past = g_date_time_new_from_unix_utc (NOW / SEC - 90);
  g_autofree char *past_date = g_date_time_format (past, "%a, %d %b %Y %H:%M:%S GMT");
  g_autoptr(TokenResult) r = token_result_from_response (503, "", 0, date, NOW);
  g_autoptr(TokenResult) r2 = token_result_from_response (503, "", 0, past_date, NOW);

  g_assert_cmpint (r->retry_after_usec, ==, 90 * SEC);
  g_assert_cmpint (r2->retry_after_usec, ==, 0);
}

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
      g_assert_true (token_url_validate (good[i], &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_test_message ("bad: %s", bad[i]);
      g_assert_false (token_url_validate (bad[i], &error));
      g_assert_nonnull (error);
      g_assert_null (strstr (error->message, "secret"));
    }
}

static void
test_request_body (void)
{
  g_autoptr(CodexSecret) body = token_request_body ("rt-\"quoted\"");

  g_assert_cmpstr (body, ==, "{\"client_id\":\"app_EMoamEEZ73f0CkXaXp7hrann\","
                             "\"grant_type\":\"refresh_token\",\"refresh_token\":\"rt-\\\"quoted\\\"\"}");
}

/* ---- against the fake server ------------------------------------------- */

typedef struct {
  GSubprocess *proc;
  char *base;
  SoupSession *control;
} FakeServer;

static void
fake_server_start (FakeServer *s)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *line = NULL;
  const char *python = g_getenv ("CODEX_AUTHD_TEST_PYTHON");
  const char *script = g_getenv ("CODEX_AUTHD_FAKE_TOKEN_SERVER");

  g_assert_nonnull (python);
  g_assert_nonnull (script);
  s->proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, python, script, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (s->proc));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (line, "PORT "));
  s->base = g_strdup_printf ("http://127.0.0.1:%s", line + 5);
  s->control = soup_session_new ();
}

static void
fake_server_stop (FakeServer *s)
{
  g_subprocess_send_signal (s->proc, SIGTERM);
  g_subprocess_wait (s->proc, NULL, NULL);
  g_clear_object (&s->proc);
  g_clear_object (&s->control);
  g_free (s->base);
}

static char *
fake_server_control (FakeServer *s, const char *method, const char *path, const char *json)
{
  g_autofree char *url = g_strconcat (s->base, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;

  if (json != NULL)
    {
      g_autoptr(GBytes) body = g_bytes_new (json, strlen (json));
      soup_message_set_request_body_from_bytes (msg, "application/json", body);
    }
  reply = soup_session_send_and_read (s->control, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  return g_strndup (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply));
}

static void
result_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  *(TokenResult **) data = token_client_refresh_finish (NULL, res);
}

static TokenResult *
refresh_once (const char *url, guint timeout, const char *refresh_token)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TokenClient) client = token_client_new (url, timeout, &error);
  TokenResult *result = NULL;

  g_assert_no_error (error);
  token_client_refresh_async (client, refresh_token, NULL, result_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return result;
}

static void
test_client (void)
{
  FakeServer s = { 0 };
  g_autofree char *url = NULL;
  g_autofree char *requests = NULL;
  g_autofree char *expected_ua = g_strdup_printf ("\"user_agent\": \"%s/%s\"", PACKAGE_NAME, PACKAGE_VERSION);
  struct {
    const char *spec;
    guint timeout;
    TokenResultKind kind;
    const char *code;
    guint status;
  } cases[] = {
    { "{\"status\":200,\"json\":{\"access_token\":\"a-new\",\"refresh_token\":\"r-new\"}}", 5,
      TOKEN_RESULT_SUCCESS, NULL, 200 },
    { "{\"status\":401,\"json\":{\"error\":{\"code\":\"refresh_token_reused\"}}}", 5,
      TOKEN_RESULT_PERMANENT, "refresh_token_reused", 401 },
    { "{\"status\":503,\"headers\":{\"Retry-After\":\"7\"}}", 5, TOKEN_RESULT_TRANSIENT, "server_error", 503 },
    { "{\"status\":200,\"body_size\":2000000}", 5, TOKEN_RESULT_TRANSIENT, "bad_response", 200 },
    { "{\"action\":\"hang\"}", 1, TOKEN_RESULT_TRANSIENT, "timeout", 0 },
    { "{\"action\":\"close\"}", 5, TOKEN_RESULT_TRANSIENT, "network", 0 },
    /* A redirect is not followed: it would carry the token elsewhere. */
    { "{\"status\":307,\"headers\":{\"Location\":\"/elsewhere\"}}", 5, TOKEN_RESULT_TRANSIENT, "bad_response", 307 },
  };

  fake_server_start (&s);
  url = g_strconcat (s.base, "/oauth/token", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *script = g_strdup_printf ("{\"responses\":[%s]}", cases[i].spec);
      g_autoptr(TokenResult) r = NULL;

      g_free (fake_server_control (&s, "POST", "/_control/script", script));
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

  requests = fake_server_control (&s, "GET", "/_control/requests", NULL);
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
  fake_server_stop (&s);
}

static void
test_client_connection_refused (void)
{
  g_autoptr(GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *url = NULL;
  g_autoptr(TokenResult) r = NULL;

  /* A port that was just free: nothing listens there. */
  g_assert_true (g_socket_bind (sock, addr, FALSE, NULL));
  bound = g_socket_get_local_address (sock, NULL);
  url = g_strdup_printf ("http://127.0.0.1:%u/oauth/token",
                         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_socket_close (sock, NULL);
  r = refresh_once (url, 5, "rt-SECRET-123");
  g_assert_cmpint (r->kind, ==, TOKEN_RESULT_TRANSIENT);
  g_assert_cmpstr (r->code, ==, "network");
  g_assert_null (strstr (r->message, "SECRET"));
}

/* A deeply nested answer is no answer: transient on 2xx, and a 401 stays
 * permanent (the status alone says so). */
static void
test_deep_nesting (void)
{
  g_autofree char *body = test_nested_json ("{\"refresh_token\":\"rt\",\"x\":", 100000, "}");
  g_autoptr(TokenResult) ok = token_result_from_response (200, body, strlen (body), NULL, 0);
  g_autoptr(TokenResult) denied = token_result_from_response (401, body, strlen (body), NULL, 0);

  g_assert_cmpint (ok->kind, ==, TOKEN_RESULT_TRANSIENT);
  g_assert_cmpstr (ok->code, ==, "bad_response");
  g_assert_cmpint (denied->kind, ==, TOKEN_RESULT_PERMANENT);
  g_assert_cmpstr (denied->code, ==, "unauthorized");
}

/* A 2xx answer with a broken field beside a usable refresh_token is a
 * success with what is usable: the rotated token must not be dropped. */
static void
test_partly_usable (void)
{
  const char *body = "{\"id_token\":5,\"access_token\":\"\",\"refresh_token\":\"rt-new\"}";
  g_autoptr(TokenResult) r = token_result_from_response (200, body, strlen (body), NULL, 0);

  g_assert_cmpint (r->kind, ==, TOKEN_RESULT_SUCCESS);
  g_assert_cmpstr (r->refresh_token, ==, "rt-new");
  g_assert_null (r->id_token);
  g_assert_null (r->access_token);
  g_assert_nonnull (strstr (r->message, "\"id_token\""));
  g_assert_nonnull (strstr (r->message, "\"access_token\""));
  g_assert_null (strstr (r->message, "rt-new"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/token/classify", test_classify);
  g_test_add_func ("/token/deep-nesting", test_deep_nesting);
  g_test_add_func ("/token/partly-usable", test_partly_usable);
  g_test_add_func ("/token/messages", test_messages);
  g_test_add_func ("/token/success-fields", test_success_fields);
  g_test_add_func ("/token/retry-after-date", test_retry_after_date);
  g_test_add_func ("/token/url-validation", test_url_validation);
  g_test_add_func ("/token/request-body", test_request_body);
  g_test_add_func ("/token/client", test_client);
  g_test_add_func ("/token/client-connection-refused", test_client_connection_refused);

  return g_test_run ();
}
