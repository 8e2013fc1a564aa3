/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sign-in protocol's pure parts: PKCE, the authorize URL, the request
 * bodies and how the issuer's answers are read. */
#include "config.h"

#include <string.h>

#include "signin-protocol.h"
#include "test-helpers.h"

#define BODY(literal) literal, strlen (literal)

static void
test_pkce (void)
{
  /* RFC 7636, appendix B. */
  g_autofree char *challenge = signin_pkce_challenge ("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
  g_autofree char *verifier = signin_random_b64url (64);
  g_autofree char *other = signin_random_b64url (64);
  g_autofree char *state = signin_random_b64url (32);

  g_assert_cmpstr (challenge, ==, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  g_assert_cmpuint (strlen (verifier), ==, 86);
  g_assert_cmpuint (strlen (state), ==, 43);
  g_assert_cmpuint (strspn (verifier, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), ==, 86);
  g_assert_cmpstr (verifier, !=, other);
}

static void
test_authorize_url (void)
{
  const char *const workspaces[] = { "ws-1", "ws 2", NULL };
  g_autofree char *url = signin_authorize_url ("https://auth.example.com/", "client", "http://localhost:1455/auth/callback",
                                              "CH", "ST", "codex_cli_rs", NULL);
  g_autofree char *restricted = signin_authorize_url ("https://auth.example.com", "client", "http://localhost:1457/auth/callback",
                                                     "CH", "ST", "codex_cli_rs", workspaces);

  g_assert_cmpstr (url, ==,
                   "https://auth.example.com/oauth/authorize?response_type=code&client_id=client"
                   "&redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback"
                   "&scope=openid%20profile%20email%20offline_access%20api.connectors.read%20api.connectors.invoke"
                   "&code_challenge=CH&code_challenge_method=S256&id_token_add_organizations=true"
                   "&codex_cli_simplified_flow=true&state=ST&originator=codex_cli_rs");
  g_assert_true (g_str_has_suffix (restricted, "&originator=codex_cli_rs&allowed_workspace_id=ws-1%2Cws%202"));
}

static void
test_state (void)
{
  g_assert_true (signin_state_matches ("abc", "abc"));
  g_assert_true (signin_state_matches ("abc.onboarding_entrypoint=life_sciences", "abc"));
  g_assert_false (signin_state_matches ("abd", "abc"));
  g_assert_false (signin_state_matches ("ab", "abc"));
  g_assert_false (signin_state_matches ("abcd", "abc"));
  g_assert_false (signin_state_matches (NULL, "abc"));
  g_assert_false (signin_state_matches ("", "abc"));
}

static void
test_bodies (void)
{
  g_autoptr(Sensitive) code = signin_code_exchange_body ("c&d", "http://localhost:1455/auth/callback", "client", "v+/");
  g_autoptr(Sensitive) key = signin_api_key_exchange_body ("client", "id.tok.en");
  g_autoptr(Sensitive) poll = signin_device_token_body ("dev", "AB-12");
  g_autoptr(Sensitive) revoke_rt = signin_revoke_body ("rt\"1", "refresh_token", "client");
  g_autoptr(Sensitive) revoke_at = signin_revoke_body ("at", "access_token", "client");
  g_autofree char *usercode = signin_device_usercode_body ("client");

  g_assert_cmpstr (code, ==, "grant_type=authorization_code&code=c%26d"
                             "&redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback"
                             "&client_id=client&code_verifier=v%2B%2F");
  g_assert_cmpstr (key, ==, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"
                            "&client_id=client&requested_token=openai-api-key&subject_token=id.tok.en"
                            "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token");
  g_assert_cmpstr (poll, ==, "{\"device_auth_id\":\"dev\",\"user_code\":\"AB-12\"}");
  g_assert_cmpstr (revoke_rt, ==, "{\"token\":\"rt\\\"1\",\"token_type_hint\":\"refresh_token\",\"client_id\":\"client\"}");
  g_assert_cmpstr (revoke_at, ==, "{\"token\":\"at\",\"token_type_hint\":\"access_token\"}");
  g_assert_cmpstr (usercode, ==, "{\"client_id\":\"client\"}");
}

static void
check_detail (const char *body, const char *expected)
{
  g_autofree char *detail = signin_error_detail (body, body != NULL ? strlen (body) : 0, NULL);

  g_assert_cmpstr (detail, ==, expected);
}

static void
test_error_detail (void)
{
  check_detail ("{\"error\":\"invalid_grant\",\"error_description\":\"expired\"}", "expired");
  check_detail ("{\"error\":{\"message\":\"msg\",\"code\":\"c\"}}", "msg");
  check_detail ("{\"error\":{\"code\":\"c\"}}", "c");
  check_detail ("{\"error\":\"plain\"}", "plain");
  check_detail ("{\"error_description\":\"\",\"error\":\"plain\"}", "plain");
  check_detail ("Service\nUnavailable", "Service Unavailable");
  check_detail ("", "unknown error");
  /* Found by fuzz-signin-response: a blank detail. */
  check_detail ("{\"error\":\" \"}", "{\"error\":\" \"}");
  check_detail ("{\"error_description\":\"\\u0001\"}", "{\"error_description\":\"\\u0001\"}");
  check_detail (NULL, "unknown error");
}

static void
check_scrubbed (const char *body, const char *const *secrets, const char *expected)
{
  g_autofree char *detail = signin_error_detail (body, strlen (body), secrets);

  g_assert_cmpstr (detail, ==, expected);
}

/* An endpoint that quotes the request: every secret it carried is
 * overwritten, before the 200-byte cut (which would leave a prefix). */
static void
test_scrub (void)
{
  const char *one[] = { "rt-123", NULL };
  const char *two[] = { "code-abc", "verifier-xyz", "", NULL };
  g_autofree char *xs = g_strnfill (195, 'x');
  g_autofree char *long_body = NULL;
  g_autofree char *expected_long = NULL;

  check_scrubbed ("{\"error_description\":\"bad token rt-123 (rt-123) rt-12\"}", one, "bad token ****** (******) rt-12");
  check_scrubbed ("{\"error\":{\"message\":\"code=code-abc&code_verifier=verifier-xyz\"}}", two,
                  "code=********&code_verifier=************");
  /* Not JSON: the body itself, scrubbed. */
  check_scrubbed ("grant_type=authorization_code&code=code-abc&code_verifier=verifier-xyz", two,
                  "grant_type=authorization_code&code=********&code_verifier=************");
  /* A secret across the 200-byte cut. */
  long_body = g_strdup_printf ("%s code-abc", xs);
  expected_long = g_strdup_printf ("%s ****", xs); /* cut at 200 bytes: no prefix of the code left */
  check_scrubbed (long_body, two, expected_long);
  check_scrubbed ("{\"error\":\"plain\"}", NULL, "plain");
}

static void
test_code_exchange (void)
{
  SigninTokens tokens;
  g_autoptr(GError) error = NULL;
  const char *ok = "{\"id_token\":\"i\",\"access_token\":\"a\",\"refresh_token\":\"r\",\"extra\":1}";

  g_assert_true (signin_parse_code_exchange (200, ok, strlen (ok), NULL, &tokens, &error));
  g_assert_cmpstr (tokens.id_token, ==, "i");
  g_assert_cmpstr (tokens.access_token, ==, "a");
  g_assert_cmpstr (tokens.refresh_token, ==, "r");
  signin_tokens_clear (&tokens);

  g_assert_false (signin_parse_code_exchange (200, BODY ("{\"id_token\":\"i\",\"access_token\":\"a\"}"), NULL, &tokens, &error));
  g_assert_error (error, SIGNIN_ERROR, SIGNIN_ERROR_EXCHANGE_FAILED);
  g_assert_nonnull (strstr (error->message, "refresh_token"));
  g_assert_null (tokens.id_token);
  g_clear_error (&error);

  g_assert_false (signin_parse_code_exchange (400, BODY ("{\"error\":\"invalid_grant\"}"), NULL, &tokens, &error));
  g_assert_cmpstr (error->message, ==, "token endpoint returned status 400: invalid_grant");
  g_clear_error (&error);

  g_assert_false (signin_parse_code_exchange (200, BODY ("[1]"), NULL, &tokens, &error));
  g_clear_error (&error);
  g_assert_false (signin_parse_code_exchange (200, "{\"id_token\":1,\"access_token\":\"a\",\"refresh_token\":\"r\"}", 52, NULL,
                                             &tokens, &error));
}

static void
test_api_key (void)
{
  g_autoptr(Sensitive) key = signin_parse_api_key (200, "{\"access_token\":\"sk-1\"}", 23);
  g_autoptr(Sensitive) spaced = signin_parse_api_key (200, "{\"access_token\":\"sk 1\"}", 23);
  g_autoptr(Sensitive) failed = signin_parse_api_key (400, "{\"access_token\":\"sk-1\"}", 23);

  g_assert_cmpstr (key, ==, "sk-1");
  g_assert_null (spaced);
  g_assert_null (failed);
}

static void
check_interval (const char *body, guint expected)
{
  SigninDeviceCode code;
  g_autoptr(GError) error = NULL;

  g_assert_true (signin_parse_usercode (200, body, strlen (body), &code, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (code.device_auth_id, ==, "d");
  g_assert_cmpstr (code.user_code, ==, "AB-12");
  g_assert_cmpuint (code.interval, ==, expected);
  signin_device_code_clear (&code);
}

static void
test_usercode (void)
{
  SigninDeviceCode code;
  g_autoptr(GError) error = NULL;

  check_interval ("{\"device_auth_id\":\"d\",\"user_code\":\"AB-12\",\"interval\":\"5\"}", 5);
  check_interval ("{\"device_auth_id\":\"d\",\"user_code\":\"AB-12\",\"interval\":\" 7 \"}", 7);
  check_interval ("{\"device_auth_id\":\"d\",\"user_code\":\"AB-12\",\"interval\":3}", 3);
  check_interval ("{\"device_auth_id\":\"d\",\"usercode\":\"AB-12\"}", 0);
  check_interval ("{\"device_auth_id\":\"d\",\"user_code\":\"AB-12\",\"interval\":\"x\"}", 0);
  check_interval ("{\"device_auth_id\":\"d\",\"user_code\":\"AB-12\",\"interval\":99999999}", 3600);
  check_interval ("{\"device_auth_id\":\"d\",\"user_code\":\"AB-12\",\"interval\":-4}", 0);

  g_assert_false (signin_parse_usercode (404, BODY (""), &code, &error));
  g_assert_error (error, SIGNIN_ERROR, SIGNIN_ERROR_DEVICE_LOGIN_DISABLED);
  g_clear_error (&error);
  g_assert_false (signin_parse_usercode (503, BODY (""), &code, &error));
  g_assert_error (error, SIGNIN_ERROR, SIGNIN_ERROR_DEVICE_AUTH_FAILED);
  g_clear_error (&error);
  g_assert_false (signin_parse_usercode (200, BODY ("{\"device_auth_id\":\"d\",\"user_code\":\"A B\"}"), &code, &error));
  g_assert_error (error, SIGNIN_ERROR, SIGNIN_ERROR_DEVICE_AUTH_FAILED);
}

static void
test_device_token (void)
{
  SigninDeviceGrant grant;
  g_autoptr(GError) error = NULL;
  const char *done = "{\"authorization_code\":\"c\",\"code_challenge\":\"ch\",\"code_verifier\":\"v\"}";

  g_assert_cmpint (signin_parse_device_token (403, BODY ("{}"), &grant, &error), ==, SIGNIN_POLL_PENDING);
  g_assert_cmpint (signin_parse_device_token (404, BODY (""), &grant, &error), ==, SIGNIN_POLL_PENDING);
  g_assert_no_error (error);
  g_assert_cmpint (signin_parse_device_token (200, done, strlen (done), &grant, &error), ==, SIGNIN_POLL_DONE);
  g_assert_cmpstr (grant.authorization_code, ==, "c");
  g_assert_cmpstr (grant.code_verifier, ==, "v");
  signin_device_grant_clear (&grant);
  g_assert_cmpint (signin_parse_device_token (200, BODY ("{\"authorization_code\":\"c\"}"), &grant, &error), ==,
                   SIGNIN_POLL_FAILED);
  g_clear_error (&error);
  g_assert_cmpint (signin_parse_device_token (500, BODY (""), &grant, &error), ==, SIGNIN_POLL_FAILED);
  g_assert_nonnull (strstr (error->message, "500"));
}

static void
test_provider_error (void)
{
  SigninError code;
  g_autofree char *entitlement = signin_provider_error_message ("access_denied", "missing_codex_entitlement", &code);
  g_autofree char *denied = NULL, *plain = NULL, *bare = NULL;

  g_assert_cmpint (code, ==, SIGNIN_ERROR_ACCESS_DENIED);
  g_assert_true (g_str_has_prefix (entitlement, "Codex is not enabled for your workspace."));
  denied = signin_provider_error_message ("access_denied", "User said no", &code);
  g_assert_cmpstr (denied, ==, "Sign-in failed: User said no");
  plain = signin_provider_error_message ("server_error", NULL, &code);
  g_assert_cmpint (code, ==, SIGNIN_ERROR_PROVIDER_ERROR);
  g_assert_cmpstr (plain, ==, "Sign-in failed: server_error");
  bare = signin_provider_error_message ("x", "\x01\x02", &code);
  g_assert_cmpstr (bare, ==, "Sign-in failed: x");
}

static void
test_pages_escape (void)
{
  g_autofree char *page = signin_error_page ("<script>alert(1)</script> & more");
  g_autofree char *ok = signin_success_page ("a<b@example.com");

  g_assert_null (strstr (page, "<script>"));
  g_assert_nonnull (strstr (page, "&lt;script&gt;"));
  g_assert_nonnull (strstr (ok, "a&lt;b@example.com"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/login/pkce", test_pkce);
  g_test_add_func ("/login/authorize-url", test_authorize_url);
  g_test_add_func ("/login/state", test_state);
  g_test_add_func ("/login/bodies", test_bodies);
  g_test_add_func ("/login/error-detail", test_error_detail);
  g_test_add_func ("/login/scrub", test_scrub);
  g_test_add_func ("/login/code-exchange", test_code_exchange);
  g_test_add_func ("/login/api-key", test_api_key);
  g_test_add_func ("/login/usercode", test_usercode);
  g_test_add_func ("/login/device-token", test_device_token);
  g_test_add_func ("/login/provider-error", test_provider_error);
  g_test_add_func ("/login/pages-escape", test_pages_escape);
  return g_test_run ();
}
