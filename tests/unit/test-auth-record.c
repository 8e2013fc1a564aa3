/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib.h>
#include <string.h>

#include "auth-record.h"
#include "sensitive.h"
#include "test-helpers.h"

/* ---- helpers ----------------------------------------------------------- */

#define make_jwt test_make_jwt
#define base64url test_base64url

static char *
default_id_token (void)
{
  return make_jwt ("{\"email\":\"user@example.com\","
                   "\"https://api.openai.com/auth\":{\"chatgpt_plan_type\":\"pro\","
                   "\"chatgpt_account_id\":\"acc-claim\",\"chatgpt_user_id\":\"user-1\"}}");
}

static char *
chatgpt_json (const char *id_token, const char *access_token, const char *refresh_token,
              const char *extra_top, const char *extra_tokens)
{
  return g_strdup_printf ("{\"auth_mode\":\"chatgpt\",\"OPENAI_API_KEY\":null,"
                          "\"tokens\":{\"id_token\":\"%s\",\"access_token\":\"%s\","
                          "\"refresh_token\":\"%s\",\"account_id\":\"acc-1\"%s},"
                          "\"last_refresh\":\"2026-01-01T00:00:00Z\"%s}",
                          id_token, access_token, refresh_token,
                          extra_tokens != NULL ? extra_tokens : "",
                          extra_top != NULL ? extra_top : "");
}

static AuthRecord *
parse_ok (const char *json)
{
  g_autoptr(GError) error = NULL;
  AuthRecord *r = auth_record_parse (json, strlen (json), &error);

  g_assert_no_error (error);
  g_assert_nonnull (r);
  return r;
}

/* ---- parsing and modes ------------------------------------------------- */

static void
test_apikey_record (void)
{
  g_autoptr(AuthRecord) r = parse_ok ("{\"auth_mode\":\"apikey\",\"OPENAI_API_KEY\":\"sk-abc\"}");

  g_assert_cmpint (auth_record_get_mode (r), ==, AUTH_MODE_API_KEY);
  g_assert_cmpstr (auth_record_get_api_key (r), ==, "sk-abc");
  g_assert_true (auth_record_is_usable (r));
  g_assert_false (auth_record_has_tokens (r));
  g_assert_cmpstr (auth_record_get_email (r), ==, NULL);
  g_assert_cmpint (auth_record_get_access_token_expires (r), ==, 0);
}

static void
test_mode_resolution (void)
{
  g_autofree char *id = default_id_token ();
  struct {
    const char *json;
    AuthMode mode;
    gboolean usable;
  } cases[] = {
    /* No auth_mode: an API key means apikey. */
    { "{\"OPENAI_API_KEY\":\"sk-1\"}", AUTH_MODE_API_KEY, TRUE },
    /* No auth_mode, no key: chatgpt (here without tokens, so unusable). */
    { "{\"OPENAI_API_KEY\":null}", AUTH_MODE_CHATGPT, FALSE },
    { "{}", AUTH_MODE_CHATGPT, FALSE },
    /* Explicit auth_mode wins over the presence of a key. */
    { "{\"auth_mode\":\"chatgpt\",\"OPENAI_API_KEY\":\"sk-1\"}", AUTH_MODE_CHATGPT, FALSE },
    { "{\"auth_mode\":null,\"OPENAI_API_KEY\":\"sk-1\"}", AUTH_MODE_API_KEY, TRUE },
    /* apikey mode without a key is not usable. */
    { "{\"auth_mode\":\"apikey\",\"OPENAI_API_KEY\":null}", AUTH_MODE_API_KEY, FALSE },
    { "{\"auth_mode\":\"apikey\",\"OPENAI_API_KEY\":\"\"}", AUTH_MODE_API_KEY, FALSE },
    /* A newer Codex's mode is kept and reported unusable. */
    { "{\"auth_mode\":\"chatgptAuthTokens\",\"tokens\":{\"weird\":1}}", AUTH_MODE_UNSUPPORTED, FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(AuthRecord) r = parse_ok (cases[i].json);

      g_test_message ("case %u: %s", i, cases[i].json);
      g_assert_cmpint (auth_record_get_mode (r), ==, cases[i].mode);
      g_assert_cmpint (auth_record_is_usable (r), ==, cases[i].usable);
      if (!cases[i].usable)
        g_assert_nonnull (auth_record_get_unusable_reason (r));
    }

  {
    g_autofree char *json = chatgpt_json (id, "at", "rt", NULL, NULL);
    g_autoptr(AuthRecord) r = parse_ok (json);
    g_assert_cmpint (auth_record_get_mode (r), ==, AUTH_MODE_CHATGPT);
    g_assert_true (auth_record_is_usable (r));
  }
}

static void
test_unsupported_mode_kept (void)
{
  const char *json = "{\"auth_mode\":\"future\",\"tokens\":{\"x\":[1,2]},\"OPENAI_API_KEY\":7}";
  g_autoptr(AuthRecord) r = parse_ok (json);
  g_autoptr(Sensitive) out = auth_record_serialize (r);

  g_assert_cmpint (auth_record_get_mode (r), ==, AUTH_MODE_UNSUPPORTED);
  g_assert_cmpstr (auth_record_get_mode_field (r), ==, "future");
  g_assert_nonnull (strstr (auth_record_get_unusable_reason (r), "future"));
  /* Written back exactly as it was, member for member. */
  g_assert_cmpstr (out, ==, json);
}

static void
test_claims (void)
{
  g_autofree char *id = default_id_token ();
  g_autofree char *access = make_jwt ("{\"exp\":1767225600,\"sub\":\"x\"}");
  g_autofree char *json = chatgpt_json (id, access, "rt-1", NULL, NULL);
  g_autoptr(AuthRecord) r = parse_ok (json);

  g_assert_cmpstr (auth_record_get_email (r), ==, "user@example.com");
  g_assert_cmpstr (auth_record_get_plan_type (r), ==, "pro");
  g_assert_cmpstr (auth_record_get_user_id (r), ==, "user-1");
  /* tokens.account_id wins over the claim. */
  g_assert_cmpstr (auth_record_get_account_id (r), ==, "acc-1");
  g_assert_cmpstr (auth_record_get_access_token (r), ==, access);
  g_assert_cmpstr (auth_record_get_refresh_token (r), ==, "rt-1");
  g_assert_cmpint (auth_record_get_access_token_expires (r), ==, G_GINT64_CONSTANT (1767225600) * G_USEC_PER_SEC);
  g_assert_cmpint (auth_record_get_last_refresh (r), ==, G_GINT64_CONSTANT (1767225600) * G_USEC_PER_SEC);
}

static void
test_claims_fallbacks (void)
{
  /* Email under the profile namespace, account id only as a claim,
   * user_id instead of chatgpt_user_id; an opaque access token. */
  g_autofree char *id = make_jwt ("{\"https://api.openai.com/profile\":{\"email\":\"p@example.com\"},"
                                  "\"https://api.openai.com/auth\":{\"chatgpt_account_id\":\"acc-claim\","
                                  "\"user_id\":\"u-2\"}}");
  g_autofree char *json = g_strdup_printf ("{\"tokens\":{\"id_token\":\"%s\",\"access_token\":\"opaque\","
                                           "\"refresh_token\":\"rt\"}}", id);
  g_autoptr(AuthRecord) r = parse_ok (json);

  g_assert_cmpint (auth_record_get_mode (r), ==, AUTH_MODE_CHATGPT);
  g_assert_cmpstr (auth_record_get_email (r), ==, "p@example.com");
  g_assert_cmpstr (auth_record_get_account_id (r), ==, "acc-claim");
  g_assert_cmpstr (auth_record_get_user_id (r), ==, "u-2");
  g_assert_cmpstr (auth_record_get_plan_type (r), ==, NULL);
  g_assert_cmpint (auth_record_get_access_token_expires (r), ==, 0);
  g_assert_cmpint (auth_record_get_last_refresh (r), ==, 0);
}

/* ---- round trip and fingerprint ---------------------------------------- */

static void
test_round_trip (void)
{
  g_autofree char *id = default_id_token ();
  g_autofree char *json = chatgpt_json (id, "at-1", "rt-1",
                                        ",\"future_field\":{\"a\":[1,true,null]},\"n\":1.5",
                                        ",\"token_extra\":\"keep me\"");
  g_autoptr(AuthRecord) r = parse_ok (json);
  g_autoptr(Sensitive) out = auth_record_serialize (r);
  g_autoptr(AuthRecord) r2 = parse_ok (out);
  g_autoptr(Sensitive) out2 = auth_record_serialize (r2);

  /* Compact output of compact input is byte-identical, unknown fields
   * included, and serializing again is stable. */
  g_assert_cmpstr (out, ==, json);
  g_assert_cmpstr (out2, ==, out);
  g_assert_cmpstr (auth_record_get_fingerprint (r), ==, auth_record_get_fingerprint (r2));
  g_assert_cmpstr (auth_record_get_refresh_token (r2), ==, "rt-1");
  g_assert_nonnull (strstr (out2, "\"token_extra\":\"keep me\""));
  g_assert_nonnull (strstr (out2, "\"future_field\":{\"a\":[1,true,null]}"));
}

static void
test_round_trip_pretty_input (void)
{
  const char *json = "{\n  \"OPENAI_API_KEY\": \"sk-x\",\n  \"tokens\": null,\n  \"last_refresh\": null\n}\n";
  g_autoptr(AuthRecord) r = parse_ok (json);
  g_autoptr(Sensitive) out = auth_record_serialize (r);

  g_assert_cmpstr (out, ==, "{\"OPENAI_API_KEY\":\"sk-x\",\"tokens\":null,\"last_refresh\":null}");
}

static void
test_fingerprint (void)
{
  g_autofree char *id = default_id_token ();
  g_autofree char *id2 = make_jwt ("{\"email\":\"other@example.com\"}");
  g_autofree char *base = chatgpt_json (id, "at", "rt", NULL, NULL);
  g_autofree char *pretty = NULL;
  g_autofree char *other_refresh_time = NULL;
  g_autofree char *unknown_added = chatgpt_json (id, "at", "rt", ",\"x\":1", NULL);
  g_autofree char *new_access = chatgpt_json (id, "at2", "rt", NULL, NULL);
  g_autofree char *new_refresh = chatgpt_json (id, "at", "rt2", NULL, NULL);
  g_autofree char *new_id = chatgpt_json (id2, "at", "rt", NULL, NULL);
  g_autoptr(AuthRecord) a = parse_ok (base);
  const char *fp = auth_record_get_fingerprint (a);

  g_assert_cmpuint (strlen (fp), ==, 64);

  /* Same credentials: same fingerprint, whatever the formatting, the
   * last_refresh time or fields this service does not interpret. */
  {
    g_autoptr(AuthRecord) b = parse_ok (base);
    g_assert_cmpstr (auth_record_get_fingerprint (b), ==, fp);
  }
  pretty = g_strdup_printf ("{ \"last_refresh\" : \"2026-01-01T00:00:00Z\", \"OPENAI_API_KEY\" : null, "
                            "\"tokens\" : { \"account_id\" : \"acc-1\", \"refresh_token\" : \"rt\", "
                            "\"access_token\" : \"at\", \"id_token\" : \"%s\" }, \"auth_mode\" : \"chatgpt\" }",
                            id);
  other_refresh_time = g_strdup (base);
  memcpy (strstr (other_refresh_time, "2026-01-01"), "2027-02-02", 10);
  {
    g_autoptr(AuthRecord) b = parse_ok (pretty);
    g_autoptr(AuthRecord) c = parse_ok (other_refresh_time);
    g_autoptr(AuthRecord) d = parse_ok (unknown_added);
    g_assert_cmpstr (auth_record_get_fingerprint (b), ==, fp);
    g_assert_cmpstr (auth_record_get_fingerprint (c), ==, fp);
    g_assert_cmpstr (auth_record_get_fingerprint (d), ==, fp);
  }

  /* Any material change: a different fingerprint. */
  {
    const char *variants[] = { new_access, new_refresh, new_id };
    for (guint i = 0; i < G_N_ELEMENTS (variants); i++)
      {
        g_autoptr(AuthRecord) v = parse_ok (variants[i]);
        g_assert_cmpstr (auth_record_get_fingerprint (v), !=, fp);
      }
  }
  {
    g_autoptr(AuthRecord) k1 = parse_ok ("{\"OPENAI_API_KEY\":\"sk-1\"}");
    g_autoptr(AuthRecord) k2 = parse_ok ("{\"OPENAI_API_KEY\":\"sk-2\"}");
    g_autoptr(AuthRecord) k1_explicit = parse_ok ("{\"auth_mode\":\"apikey\",\"OPENAI_API_KEY\":\"sk-1\"}");
    g_autoptr(AuthRecord) empty_key = parse_ok ("{\"auth_mode\":\"apikey\",\"OPENAI_API_KEY\":\"\"}");
    g_autoptr(AuthRecord) null_key = parse_ok ("{\"auth_mode\":\"apikey\",\"OPENAI_API_KEY\":null}");
    g_assert_cmpstr (auth_record_get_fingerprint (k1), !=, auth_record_get_fingerprint (k2));
    g_assert_cmpstr (auth_record_get_fingerprint (k1), !=, auth_record_get_fingerprint (k1_explicit));
    g_assert_cmpstr (auth_record_get_fingerprint (empty_key), !=, auth_record_get_fingerprint (null_key));
  }
}

/* ---- malformed input --------------------------------------------------- */

typedef struct {
  const char *name;
  char *data;
  gsize len;
  AuthRecordError code;
  const char *message_part;
} BadCase;

static void
add_case (GArray *cases, const char *name, const char *data, gssize len,
          AuthRecordError code, const char *message_part)
{
  BadCase c = { name, NULL, 0, code, message_part };

  c.len = len < 0 ? strlen (data) : (gsize) len;
  c.data = g_memdup2 (data, c.len + 1);
  g_array_append_val (cases, c);
}

static void
bad_case_clear (gpointer p)
{
  g_free (((BadCase *) p)->data);
}

static void
test_malformed (void)
{
  g_autoptr(GArray) cases = g_array_new (FALSE, FALSE, sizeof (BadCase));
  g_autofree char *id = default_id_token ();
  g_autofree char *good = chatgpt_json (id, "at", "rt", NULL, NULL);
  g_autofree char *bad_b64 = chatgpt_json ("eyJhbGciOiJub25lIn0.eyJ*bad*.sig", "at", "rt", NULL, NULL);
  g_autofree char *two_parts = chatgpt_json ("eyJhbGciOiJub25lIn0.eyJlbWFpbCI6IngifQ", "at", "rt", NULL, NULL);
  g_autofree char *not_jwt = chatgpt_json ("not-a-jwt", "at", "rt", NULL, NULL);
  g_autofree char *payload_not_json = NULL;
  g_autofree char *payload_array = NULL;
  g_autofree char *bad_date = NULL;
  g_autofree char *huge = NULL;
  g_autofree char *p1 = base64url ("not json");
  g_autofree char *p2 = base64url ("[1,2]");
  g_autofree char *jwt1 = g_strdup_printf ("eyJhbGciOiJub25lIn0.%s.sig", p1);
  g_autofree char *jwt2 = g_strdup_printf ("eyJhbGciOiJub25lIn0.%s.sig", p2);

  g_array_set_clear_func (cases, bad_case_clear);
  payload_not_json = chatgpt_json (jwt1, "at", "rt", NULL, NULL);
  payload_array = chatgpt_json (jwt2, "at", "rt", NULL, NULL);
  bad_date = g_strdup (good);
  memcpy (strstr (bad_date, "2026-01-01T"), "yesterday!!", 11);

  huge = g_malloc (AUTH_RECORD_MAX_SIZE + 2);
  memset (huge, ' ', AUTH_RECORD_MAX_SIZE + 1);
  huge[0] = '{';
  huge[AUTH_RECORD_MAX_SIZE] = '}';
  huge[AUTH_RECORD_MAX_SIZE + 1] = '\0';

  add_case (cases, "empty", "", 0, AUTH_RECORD_ERROR_INVALID_JSON, "not valid JSON");
  add_case (cases, "truncated", good, (gssize) strlen (good) / 2, AUTH_RECORD_ERROR_INVALID_JSON, "not valid JSON");
  add_case (cases, "garbage", "{bad", -1, AUTH_RECORD_ERROR_INVALID_JSON, "line 1");
  add_case (cases, "root array", "[1,2,3]", -1, AUTH_RECORD_ERROR_INVALID_SHAPE, "must be a JSON object");
  add_case (cases, "root string", "\"sk-abc\"", -1, AUTH_RECORD_ERROR_INVALID_SHAPE, "must be a JSON object");
  add_case (cases, "auth_mode number", "{\"auth_mode\":1}", -1, AUTH_RECORD_ERROR_INVALID_SHAPE, "\"auth_mode\"");
  add_case (cases, "api key number", "{\"OPENAI_API_KEY\":42}", -1, AUTH_RECORD_ERROR_INVALID_SHAPE, "\"OPENAI_API_KEY\"");
  add_case (cases, "api key object", "{\"OPENAI_API_KEY\":{}}", -1, AUTH_RECORD_ERROR_INVALID_SHAPE, "\"OPENAI_API_KEY\"");
  add_case (cases, "tokens string", "{\"tokens\":\"x\"}", -1, AUTH_RECORD_ERROR_INVALID_SHAPE, "\"tokens\"");
  add_case (cases, "tokens array", "{\"tokens\":[]}", -1, AUTH_RECORD_ERROR_INVALID_SHAPE, "\"tokens\"");
  add_case (cases, "id_token missing", "{\"tokens\":{\"access_token\":\"a\",\"refresh_token\":\"r\"}}", -1,
            AUTH_RECORD_ERROR_INVALID_SHAPE, "\"tokens.id_token\"");
  add_case (cases, "access_token number", "{\"tokens\":{\"id_token\":\"a.b.c\",\"access_token\":5,\"refresh_token\":\"r\"}}", -1,
            AUTH_RECORD_ERROR_INVALID_SHAPE, "\"tokens.access_token\"");
  add_case (cases, "refresh_token null", "{\"tokens\":{\"id_token\":\"a.b.c\",\"access_token\":\"a\",\"refresh_token\":null}}", -1,
            AUTH_RECORD_ERROR_INVALID_SHAPE, "\"tokens.refresh_token\"");
  add_case (cases, "account_id number", "{\"tokens\":{\"id_token\":\"a.b.c\",\"access_token\":\"a\",\"refresh_token\":\"r\",\"account_id\":3}}", -1,
            AUTH_RECORD_ERROR_INVALID_SHAPE, "\"tokens.account_id\"");
  add_case (cases, "last_refresh number", "{\"OPENAI_API_KEY\":\"k\",\"last_refresh\":5}", -1,
            AUTH_RECORD_ERROR_INVALID_SHAPE, "\"last_refresh\"");
  add_case (cases, "last_refresh not a date", bad_date, -1, AUTH_RECORD_ERROR_INVALID_DATE, "\"last_refresh\"");
  add_case (cases, "JWT bad base64", bad_b64, -1, AUTH_RECORD_ERROR_INVALID_JWT, "base64url");
  add_case (cases, "JWT two parts", two_parts, -1, AUTH_RECORD_ERROR_INVALID_JWT, "not a JWT");
  add_case (cases, "non-JWT id_token", not_jwt, -1, AUTH_RECORD_ERROR_INVALID_JWT, "not a JWT");
  add_case (cases, "JWT payload not JSON", payload_not_json, -1, AUTH_RECORD_ERROR_INVALID_JWT, "not a JSON object");
  add_case (cases, "JWT payload array", payload_array, -1, AUTH_RECORD_ERROR_INVALID_JWT, "not a JSON object");
  add_case (cases, "invalid UTF-8", "{\"OPENAI_API_KEY\":\"sk-\xff\xfe\"}", -1, AUTH_RECORD_ERROR_INVALID_UTF8, "offset 22");
  add_case (cases, "NUL byte", "{\"OPENAI_API_KEY\":\"sk\0x\"}", 24, AUTH_RECORD_ERROR_INVALID_UTF8, "UTF-8");
  add_case (cases, "huge", huge, AUTH_RECORD_MAX_SIZE + 1, AUTH_RECORD_ERROR_TOO_LARGE, "limit");

  for (guint i = 0; i < cases->len; i++)
    {
      BadCase *c = &g_array_index (cases, BadCase, i);
      g_autoptr(GError) error = NULL;
      g_autoptr(AuthRecord) r = NULL;

      g_test_message ("malformed case: %s", c->name);
      r = auth_record_parse (c->data, c->len, &error);
      g_assert_null (r);
      g_assert_error (error, AUTH_RECORD_ERROR, (gint) c->code);
      g_assert_nonnull (strstr (error->message, c->message_part));
      /* Error messages never quote the secret values. */
      g_assert_null (strstr (error->message, "sk-"));
      g_assert_null (strstr (error->message, "at\""));
    }
}

static void
test_exactly_max_size_accepted (void)
{
  g_autofree char *data = g_malloc (AUTH_RECORD_MAX_SIZE + 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(AuthRecord) r = NULL;
  const char *body = "{\"OPENAI_API_KEY\":\"sk-1\"";

  memset (data, ' ', AUTH_RECORD_MAX_SIZE);
  memcpy (data, body, strlen (body));
  data[AUTH_RECORD_MAX_SIZE - 1] = '}';
  data[AUTH_RECORD_MAX_SIZE] = '\0';
  r = auth_record_parse (data, AUTH_RECORD_MAX_SIZE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (auth_record_get_mode (r), ==, AUTH_MODE_API_KEY);
}

/* Untrusted JSON nested deeper than the bound is refused before it is
 * parsed (json-glib's recursive parser would overflow the stack); nesting
 * within the bound is kept on the round trip. */
static void
test_deep_nesting (void)
{
  g_autofree char *deep = test_nested_json ("{\"OPENAI_API_KEY\":\"sk\",\"x\":", 100000, "}");
  g_autofree char *fine = test_nested_json ("{\"OPENAI_API_KEY\":\"sk\",\"x\":", 60, "}");
  g_autoptr(GError) error = NULL;
  g_autoptr(AuthRecord) r = NULL;
  g_autofree char *out = NULL;

  g_assert_cmpuint (strlen (deep), <, AUTH_RECORD_MAX_SIZE);
  r = auth_record_parse (deep, strlen (deep), &error);
  g_assert_null (r);
  g_assert_error (error, AUTH_RECORD_ERROR, AUTH_RECORD_ERROR_INVALID_JSON);
  g_assert_nonnull (strstr (error->message, "nested"));
  g_clear_error (&error);

  r = auth_record_parse (fine, strlen (fine), &error);
  g_assert_no_error (error);
  out = auth_record_serialize (r);
  g_assert_nonnull (strstr (out, "[[[[[[[[[[]]]]]]]]]]"));
  sensitive_free (g_steal_pointer (&out));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/record/apikey", test_apikey_record);
  g_test_add_func ("/record/mode-resolution", test_mode_resolution);
  g_test_add_func ("/record/unsupported-mode-kept", test_unsupported_mode_kept);
  g_test_add_func ("/record/claims", test_claims);
  g_test_add_func ("/record/claims-fallbacks", test_claims_fallbacks);
  g_test_add_func ("/record/round-trip", test_round_trip);
  g_test_add_func ("/record/round-trip-pretty-input", test_round_trip_pretty_input);
  g_test_add_func ("/record/fingerprint", test_fingerprint);
  g_test_add_func ("/record/malformed", test_malformed);
  g_test_add_func ("/record/max-size-accepted", test_exactly_max_size_accepted);
  g_test_add_func ("/record/deep-nesting", test_deep_nesting);

  return g_test_run ();
}
