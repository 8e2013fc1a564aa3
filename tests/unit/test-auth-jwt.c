/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JWT payload decoding: claims, their fallbacks, expiry bounds, and the
 * inputs that are refused. */
#include "config.h"

#include <glib.h>

#include "auth-jwt.h"
#include "printable.h"
#include "test-helpers.h"

static void
test_padding_and_alphabet (void)
{
  AuthJwtClaims claims;
  g_autoptr(GError) error = NULL;
  /* "-" and "_" of base64url, with '=' padding tolerated. */
  const char *jwt = "eyJhbGciOiJub25lIn0.eyJlbWFpbCI6Ij4_Pn5-QGV4YW1wbGUuY29tIn0=.sig";

  g_assert_true (auth_jwt_decode_claims (jwt, &claims, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (claims.email, ==, ">?>~~@example.com");
  auth_jwt_claims_clear (&claims);
}

static void
test_claims (void)
{
  AuthJwtClaims claims;
  g_autoptr(GError) error = NULL;
  g_autofree char *jwt = test_make_jwt ("{\"email\":\"a@example.com\",\"exp\":1767225600,"
                                        "\"https://api.openai.com/auth\":{\"chatgpt_plan_type\":\"plus\","
                                        "\"chatgpt_account_id\":\"acc\",\"chatgpt_user_id\":\"u\"}}");

  g_assert_true (auth_jwt_decode_claims (jwt, &claims, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (claims.email, ==, "a@example.com");
  g_assert_cmpstr (claims.plan_type, ==, "plus");
  g_assert_cmpstr (claims.account_id, ==, "acc");
  g_assert_cmpstr (claims.user_id, ==, "u");
  g_assert_cmpint (claims.exp, ==, 1767225600);
  auth_jwt_claims_clear (&claims);
  g_assert_null (claims.email);
  g_assert_cmpint (claims.exp, ==, 0);
}

/* Terminal escapes and bidi overrides in a claim: replaced where the claim
 * is taken in, so that nothing shows them (codex-authctl, the pages, the
 * window). */
static void
test_control_characters_are_replaced (void)
{
  AuthJwtClaims claims;
  g_autoptr(GError) error = NULL;
  /* ESC]52 (a clipboard write), CSI 2K (erase the line), BEL, DEL, a C1
   * CSI (U+009B), a right-to-left override (U+202E), a line separator. */
  g_autofree char *jwt = test_make_jwt ("{\"email\":\"a\\u001b]52;c;ZXZpbA==\\u0007@x\\u001b[2K\\u007f\\u009b\\u202eb\\u2028c\","
                                        "\"https://api.openai.com/auth\":{\"chatgpt_plan_type\":\"plus\\r\\nPlan: free\"}}");

  g_assert_true (auth_jwt_decode_claims (jwt, &claims, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (claims.email, ==, "a\xef\xbf\xbd]52;c;ZXZpbA==\xef\xbf\xbd@x\xef\xbf\xbd[2K\xef\xbf\xbd\xef\xbf\xbd"
                                     "\xef\xbf\xbd" "b\xef\xbf\xbd" "c");
  g_assert_cmpstr (claims.plan_type, ==, "plus\xef\xbf\xbd\xef\xbf\xbdPlan: free");
  for (const char *p = claims.email; *p != '\0'; p++)
    g_assert_cmpint ((guchar) *p, >=, 0x20);
  auth_jwt_claims_clear (&claims);
  /* Ordinary text, accents and all, is left alone; invalid UTF-8 is made
   * valid. */
  {
    g_autofree char *plain = printable_text ("Zoë Ångström <z@example.com>");
    g_autofree char *invalid = printable_text ("a\xff\x1b" "b");

    g_assert_cmpstr (plain, ==, "Zoë Ångström <z@example.com>");
    g_assert_cmpstr (invalid, ==, "a\xef\xbf\xbd\xef\xbf\xbd" "b");
  }
}

static void
test_fallbacks (void)
{
  AuthJwtClaims claims;
  g_autofree char *jwt = test_make_jwt ("{\"https://api.openai.com/profile\":{\"email\":\"p@example.com\"},"
                                        "\"https://api.openai.com/auth\":{\"user_id\":\"u-2\"},"
                                        "\"exp\":1767225600.75}");

  g_assert_true (auth_jwt_decode_claims (jwt, &claims, NULL));
  g_assert_cmpstr (claims.email, ==, "p@example.com");
  g_assert_cmpstr (claims.user_id, ==, "u-2");
  g_assert_null (claims.plan_type);
  g_assert_null (claims.account_id);
  g_assert_cmpint (claims.exp, ==, 1767225600);
  auth_jwt_claims_clear (&claims);
}

static void
test_exp_out_of_range (void)
{
  const char *payloads[] = {
    "{\"exp\":-5}",
    "{\"exp\":253402300800}",
    "{\"exp\":\"1767225600\"}",
    "{\"exp\":null}",
    "{\"exp\":{}}",
    "{\"exp\":1e300}",
    "{\"exp\":-1e300}",
    "{\"exp\":9.3e18}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (payloads); i++)
    {
      AuthJwtClaims claims;
      g_autofree char *jwt = test_make_jwt (payloads[i]);

      g_assert_true (auth_jwt_decode_claims (jwt, &claims, NULL));
      g_assert_cmpint (claims.exp, ==, 0);
      auth_jwt_claims_clear (&claims);
    }
}

static void
test_refused (void)
{
  g_autofree char *array = test_make_jwt ("[1,2]");
  g_autofree char *not_json = test_make_jwt ("{\"email\":");
  g_autofree char *latin1 = NULL;
  const char *inputs[] = {
    "",
    "abc",
    "a.b",
    "a.b.c.d",
    ".eyJ9.sig",
    "eyJ9..sig",
    "eyJ9.eyJ9.",
    "eyJ9.e$J9.sig",
    "eyJ9.eyJ9e.sig", /* 5 characters: not a whole number of bytes */
    array,
    not_json,
    NULL,
  };

  {
    /* "{"a":"\xe9"}" as Latin-1: not UTF-8. */
    g_autofree char *payload = g_base64_encode ((const guchar *) "{\"a\":\"\xe9\"}", 9);
    g_strdelimit (payload, "=", '\0');
    latin1 = g_strdup_printf ("eyJ9.%s.sig", payload);
  }
  inputs[G_N_ELEMENTS (inputs) - 1] = latin1;

  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      AuthJwtClaims claims;
      g_autoptr(GError) error = NULL;

      g_test_message ("input %u: %s", i, inputs[i]);
      g_assert_false (auth_jwt_decode_claims (inputs[i], &claims, &error));
      g_assert_error (error, AUTH_JWT_ERROR, AUTH_JWT_ERROR_INVALID);
      auth_jwt_claims_clear (&claims);
    }
}

static void
test_deep_nesting (void)
{
  g_autofree char *payload = test_nested_json ("{\"email\":\"a@b\",\"x\":", 100000, "}");
  g_autofree char *jwt = test_make_jwt (payload);
  g_autoptr(GError) error = NULL;
  AuthJwtClaims claims;

  g_assert_false (auth_jwt_decode_claims (jwt, &claims, &error));
  g_assert_error (error, AUTH_JWT_ERROR, AUTH_JWT_ERROR_INVALID);
  auth_jwt_claims_clear (&claims);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/jwt/padding-and-alphabet", test_padding_and_alphabet);
  g_test_add_func ("/jwt/claims", test_claims);
  g_test_add_func ("/jwt/fallbacks", test_fallbacks);
  g_test_add_func ("/jwt/control-characters-are-replaced", test_control_characters_are_replaced);
  g_test_add_func ("/jwt/exp-out-of-range", test_exp_out_of_range);
  g_test_add_func ("/jwt/refused", test_refused);
  g_test_add_func ("/jwt/deep-nesting", test_deep_nesting);

  return g_test_run ();
}
