/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The refresh protocol: the classification of the issuer's answers (a
 * table), the messages, Retry-After dates, partly usable and deeply nested
 * answers, the request body. */
#include "config.h"

#include <glib.h>
#include <string.h>

#include "test-helpers.h"
#include "refresh-protocol.h"

#define SEC G_GINT64_CONSTANT (1000000)
#define NOW (G_GINT64_CONSTANT (1800000000) * SEC)

/* ---- classification ---------------------------------------------------- */

typedef struct {
  guint status;
  const char *body;
  const char *retry_after;
  RefreshResultKind kind;
  const char *code;
  gint64 retry_after_usec;
} ClassifyCase;

static void
test_classify (void)
{
  const ClassifyCase cases[] = {
    /* Permanent: any 401 ... */
    { 401, "", NULL, REFRESH_RESULT_PERMANENT, "unauthorized", 0 },
    { 401, "<html>", NULL, REFRESH_RESULT_PERMANENT, "unauthorized", 0 },
    { 401, "{\"error\":{\"code\":\"token_expired\"}}", NULL, REFRESH_RESULT_PERMANENT, "unauthorized", 0 },
    { 401, "{\"error\":\"invalid_grant\"}", NULL, REFRESH_RESULT_PERMANENT, "invalid_grant", 0 },
    /* ... a known code at any status, from error.code, error or code ... */
    { 401, "{\"error\":{\"message\":\"m\",\"type\":\"invalid_request_error\",\"param\":null,"
           "\"code\":\"refresh_token_reused\"}}", NULL, REFRESH_RESULT_PERMANENT, "refresh_token_reused", 0 },
    { 400, "{\"error\":{\"code\":\"refresh_token_expired\"}}", NULL, REFRESH_RESULT_PERMANENT,
      "refresh_token_expired", 0 },
    { 400, "{\"error\":\"Refresh_Token_Invalidated\"}", NULL, REFRESH_RESULT_PERMANENT,
      "refresh_token_invalidated", 0 },
    { 403, "{\"code\":\"refresh_token_reused\"}", NULL, REFRESH_RESULT_PERMANENT, "refresh_token_reused", 0 },
    { 500, "{\"code\":\"refresh_token_expired\"}", NULL, REFRESH_RESULT_PERMANENT, "refresh_token_expired", 0 },
    /* error.code wins over a top-level code. */
    { 400, "{\"error\":{\"code\":\"refresh_token_reused\"},\"code\":\"other\"}", NULL,
      REFRESH_RESULT_PERMANENT, "refresh_token_reused", 0 },
    /* ... and 400 invalid_grant. */
    { 400, "{\"error\":\"invalid_grant\"}", NULL, REFRESH_RESULT_PERMANENT, "invalid_grant", 0 },
    /* Transient. */
    { 403, "{\"error\":\"invalid_grant\"}", NULL, REFRESH_RESULT_TRANSIENT, "bad_response", 0 },
    { 400, "{\"error\":\"invalid_request\"}", NULL, REFRESH_RESULT_TRANSIENT, "bad_response", 0 },
    { 404, "", NULL, REFRESH_RESULT_TRANSIENT, "bad_response", 0 },
    { 408, "", NULL, REFRESH_RESULT_TRANSIENT, "timeout", 0 },
    { 429, "{}", "17", REFRESH_RESULT_TRANSIENT, "rate_limited", 17 * SEC },
    { 500, "", NULL, REFRESH_RESULT_TRANSIENT, "server_error", 0 },
    { 503, "", "999999", REFRESH_RESULT_TRANSIENT, "server_error", 3600 * SEC },
    { 503, "", "soon", REFRESH_RESULT_TRANSIENT, "server_error", 0 },
    { 302, "", NULL, REFRESH_RESULT_TRANSIENT, "bad_response", 0 },
    { 200, "not json", NULL, REFRESH_RESULT_TRANSIENT, "bad_response", 0 },
    { 200, "[1,2]", NULL, REFRESH_RESULT_TRANSIENT, "bad_response", 0 },
    { 200, "{}", NULL, REFRESH_RESULT_TRANSIENT, "bad_response", 0 },
    { 200, "{\"access_token\":5}", NULL, REFRESH_RESULT_TRANSIENT, "bad_response", 0 },
    { 200, "{\"access_token\":\"\"}", NULL, REFRESH_RESULT_TRANSIENT, "bad_response", 0 },
    /* Success. */
    { 200, "{\"access_token\":\"a\"}", NULL, REFRESH_RESULT_SUCCESS, NULL, 0 },
    { 201, "{\"refresh_token\":\"r\",\"id_token\":null}", NULL, REFRESH_RESULT_SUCCESS, NULL, 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const ClassifyCase *c = &cases[i];
      g_autoptr(RefreshResult) r = refresh_result_from_response (c->status, c->body, strlen (c->body),
                                                             c->retry_after, NOW);

      g_test_message ("case %u: HTTP %u %s", i, c->status, c->body);
      g_assert_cmpint (r->kind, ==, c->kind);
      g_assert_cmpstr (r->code, ==, c->code);
      g_assert_cmpuint (r->http_status, ==, c->status);
      g_assert_cmpint (r->retry_after_usec, ==, c->retry_after_usec);
      if (c->kind != REFRESH_RESULT_SUCCESS)
        g_assert_nonnull (r->message);
      if (c->kind == REFRESH_RESULT_PERMANENT)
        g_assert_cmpstr (r->message, ==, refresh_permanent_message (c->code));
    }
}

static void
test_messages (void)
{
  g_assert_cmpstr (refresh_permanent_message ("refresh_token_expired"), ==,
                   "Your access token could not be refreshed because your refresh token has expired. "
                   "Please log out and sign in again.");
  g_assert_cmpstr (refresh_permanent_message ("refresh_token_reused"), ==,
                   "Your access token could not be refreshed because your refresh token was already used. "
                   "Please log out and sign in again.");
  g_assert_cmpstr (refresh_permanent_message ("refresh_token_invalidated"), ==,
                   "Your access token could not be refreshed because your refresh token was revoked. "
                   "Please log out and sign in again.");
  g_assert_cmpstr (refresh_permanent_message ("unauthorized"), ==,
                   "Your access token could not be refreshed. Please log out and sign in again.");
}

static void
test_success_fields (void)
{
  const char *body = "{\"id_token\":\"i\",\"access_token\":\"a\",\"refresh_token\":\"r\",\"other\":1}";
  g_autoptr(RefreshResult) r = refresh_result_from_response (200, body, strlen (body), NULL, NOW);
  g_autoptr(RefreshResult) partial = refresh_result_from_response (200, "{\"access_token\":\"a2\"}", 21, NULL, NOW);

  g_assert_cmpint (r->kind, ==, REFRESH_RESULT_SUCCESS);
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
  g_autoptr(RefreshResult) r = refresh_result_from_response (503, "", 0, date, NOW);
  g_autoptr(RefreshResult) r2 = refresh_result_from_response (503, "", 0, past_date, NOW);

  g_assert_cmpint (r->retry_after_usec, ==, 90 * SEC);
  g_assert_cmpint (r2->retry_after_usec, ==, 0);
}

static void
test_request_body (void)
{
  g_autoptr(Sensitive) body = refresh_request_body ("rt-\"quoted\"");

  g_assert_cmpstr (body, ==, "{\"client_id\":\"app_EMoamEEZ73f0CkXaXp7hrann\","
                             "\"grant_type\":\"refresh_token\",\"refresh_token\":\"rt-\\\"quoted\\\"\"}");
}

/* A deeply nested answer is no answer: transient on 2xx, and a 401 stays
 * permanent (the status alone says so). */
static void
test_deep_nesting (void)
{
  g_autofree char *body = test_nested_json ("{\"refresh_token\":\"rt\",\"x\":", 100000, "}");
  g_autoptr(RefreshResult) ok = refresh_result_from_response (200, body, strlen (body), NULL, 0);
  g_autoptr(RefreshResult) denied = refresh_result_from_response (401, body, strlen (body), NULL, 0);

  g_assert_cmpint (ok->kind, ==, REFRESH_RESULT_TRANSIENT);
  g_assert_cmpstr (ok->code, ==, "bad_response");
  g_assert_cmpint (denied->kind, ==, REFRESH_RESULT_PERMANENT);
  g_assert_cmpstr (denied->code, ==, "unauthorized");
}

/* A 2xx answer with a broken field beside a usable refresh_token is a
 * success with what is usable: the rotated token must not be dropped. */
static void
test_partly_usable (void)
{
  const char *body = "{\"id_token\":5,\"access_token\":\"\",\"refresh_token\":\"rt-new\"}";
  g_autoptr(RefreshResult) r = refresh_result_from_response (200, body, strlen (body), NULL, 0);

  g_assert_cmpint (r->kind, ==, REFRESH_RESULT_SUCCESS);
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

  g_test_add_func ("/refresh-protocol/classify", test_classify);
  g_test_add_func ("/refresh-protocol/deep-nesting", test_deep_nesting);
  g_test_add_func ("/refresh-protocol/partly-usable", test_partly_usable);
  g_test_add_func ("/refresh-protocol/messages", test_messages);
  g_test_add_func ("/refresh-protocol/success-fields", test_success_fields);
  g_test_add_func ("/refresh-protocol/retry-after-date", test_retry_after_date);
  g_test_add_func ("/refresh-protocol/request-body", test_request_body);

  return g_test_run ();
}
