/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Decoding the claims of a JWT (no signature check): the id_token's
 * identity and the access token's expiry. */
#define G_LOG_DOMAIN "codex-authd-jwt"

#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "auth-jwt.h"
#include "printable.h"
#include "safe-json.h"

#define AUTH_CLAIMS_NAMESPACE "https://api.openai.com/auth"
#define PROFILE_CLAIMS_NAMESPACE "https://api.openai.com/profile"

/* 9999-12-31T23:59:59Z: anything later is not a usable time. */
#define AUTH_JWT_MAX_EXP G_GINT64_CONSTANT (253402300799)

G_DEFINE_QUARK (auth-jwt-error-quark, auth_jwt_error)

static int
base64url_value (char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

/* Strict base64url (RFC 4648 §5) decoder; trailing '=' padding is tolerated.
 * Returns a NUL-terminated buffer, or NULL if @in holds anything else. */
static guint8 *
base64url_decode (const char *in, gsize len, gsize *out_len)
{
  g_autofree guint8 *out = NULL;
  gsize n = 0;
  guint32 acc = 0;
  guint bits = 0;

  while (len > 0 && in[len - 1] == '=')
    len--;
  if (len % 4 == 1)
    return NULL;

  out = g_malloc (len * 3 / 4 + 1);
  for (gsize i = 0; i < len; i++)
    {
      int v = base64url_value (in[i]);

      if (v < 0)
        return NULL;
      acc = (acc << 6) | (guint32) v;
      bits += 6;
      if (bits >= 8)
        {
          bits -= 8;
          out[n++] = (guint8) ((acc >> bits) & 0xff);
        }
    }
  out[n] = '\0';
  *out_len = n;
  return g_steal_pointer (&out);
}

/* A claim as it is shown (codex-authctl, the pages, the properties):
 * without control characters (printable.h). */
static char *
dup_string_member (JsonObject *object, const char *name)
{
  return printable_text (safe_json_get_string (object, name));
}

void
auth_jwt_claims_clear (AuthJwtClaims *claims)
{
  g_clear_pointer (&claims->email, g_free);
  g_clear_pointer (&claims->plan_type, g_free);
  g_clear_pointer (&claims->account_id, g_free);
  g_clear_pointer (&claims->user_id, g_free);
  claims->exp = 0;
}

gboolean
auth_jwt_decode_claims (const char *jwt, AuthJwtClaims *claims, GError **error)
{
  const char *dot1, *dot2;
  g_autofree guint8 *payload = NULL;
  gsize payload_len = 0;
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *root, *auth, *profile;
  JsonNode *exp;

  memset (claims, 0, sizeof *claims);

  dot1 = strchr (jwt, '.');
  dot2 = dot1 != NULL ? strchr (dot1 + 1, '.') : NULL;
  if (dot1 == NULL || dot2 == NULL || strchr (dot2 + 1, '.') != NULL ||
      dot1 == jwt || dot2 == dot1 + 1 || dot2[1] == '\0')
    {
      g_set_error_literal (error, AUTH_JWT_ERROR, AUTH_JWT_ERROR_INVALID,
                           "not a JWT (expected three non-empty dot-separated parts)");
      return FALSE;
    }

  payload = base64url_decode (dot1 + 1, (gsize) (dot2 - dot1 - 1), &payload_len);
  if (payload == NULL)
    {
      g_set_error_literal (error, AUTH_JWT_ERROR, AUTH_JWT_ERROR_INVALID,
                           "JWT payload is not valid base64url");
      return FALSE;
    }
  if (!g_utf8_validate_len ((const char *) payload, payload_len, NULL))
    {
      g_set_error_literal (error, AUTH_JWT_ERROR, AUTH_JWT_ERROR_INVALID,
                           "JWT payload is not valid UTF-8");
      return FALSE;
    }

  parser = safe_json_parse ((const char *) payload, payload_len, NULL);
  if (parser == NULL || json_parser_get_root (parser) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error_literal (error, AUTH_JWT_ERROR, AUTH_JWT_ERROR_INVALID,
                           "JWT payload is not a JSON object");
      return FALSE;
    }

  root = json_node_get_object (json_parser_get_root (parser));
  auth = safe_json_get_object (root, AUTH_CLAIMS_NAMESPACE);
  profile = safe_json_get_object (root, PROFILE_CLAIMS_NAMESPACE);

  claims->email = dup_string_member (root, "email");
  if (claims->email == NULL)
    claims->email = dup_string_member (profile, "email");
  claims->plan_type = dup_string_member (auth, "chatgpt_plan_type");
  claims->account_id = dup_string_member (auth, "chatgpt_account_id");
  claims->user_id = dup_string_member (auth, "chatgpt_user_id");
  if (claims->user_id == NULL)
    claims->user_id = dup_string_member (auth, "user_id");

  if (json_object_has_member (root, "exp"))
    {
      exp = json_object_get_member (root, "exp");
      if (JSON_NODE_HOLDS_VALUE (exp))
        {
          GType t = json_node_get_value_type (exp);
          if (t == G_TYPE_INT64)
            claims->exp = json_node_get_int (exp);
          else if (t == G_TYPE_DOUBLE)
            {
              double d = json_node_get_double (exp);

              /* Only a value in range is converted: casting 1e300 to an
               * integer is undefined behaviour. */
              claims->exp = d >= 0.0 && d <= (double) AUTH_JWT_MAX_EXP ? (gint64) d : -1;
            }
        }
      /* Anything beyond year 9999 or before the epoch is not a usable time. */
      if (claims->exp < 0 || claims->exp > AUTH_JWT_MAX_EXP)
        claims->exp = 0;
    }

  return TRUE;
}
