/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Codex auth record (auth.json and the keyring item's secret):
 * parsing, the round trip with unknown fields, fingerprints, new records. */
#define G_LOG_DOMAIN "codex-authd-record"

#include "config.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include "auth-jwt.h"
#include "auth-record.h"
#include "safe-json.h"
#include "sensitive.h"

G_DEFINE_QUARK (auth-record-error-quark, auth_record_error)

struct _AuthRecord {
  gatomicrefcount ref;

  AuthMode mode;
  gboolean has_mode_field;
  char *mode_field; /* NULL when "auth_mode": null */

  gboolean has_api_key_field;
  Sensitive *api_key; /* NULL when null */

  gboolean has_tokens_field;
  gboolean has_tokens; /* tokens is an object (not null) */
  Sensitive *id_token;
  Sensitive *access_token;
  Sensitive *refresh_token;
  gboolean has_account_id_field;
  char *account_id_field;
  JsonObject *tokens_extra;

  gboolean has_last_refresh_field;
  char *last_refresh_str;
  gint64 last_refresh_usec;

  /* Members this service does not interpret, in file order. For an
   * unsupported auth_mode: every member but auth_mode. */
  JsonObject *extra;

  AuthJwtClaims id_claims;
  gint64 access_expires_usec;

  char *unusable_reason;
  char fingerprint[65];
};

/* ---- record ------------------------------------------------------------ */

static void
wipe_object_strings (JsonObject *object)
{
  g_autoptr(JsonNode) node = NULL;

  if (object == NULL)
    return;
  node = json_node_init_object (json_node_alloc (), object);
  safe_json_wipe_all_strings (node);
}

static void
wipe_secret_members (JsonObject *root)
{
  JsonObject *tokens = safe_json_get_object (root, "tokens");

  safe_json_wipe_string_member (root, "OPENAI_API_KEY");
  safe_json_wipe_string_member (tokens, "id_token");
  safe_json_wipe_string_member (tokens, "access_token");
  safe_json_wipe_string_member (tokens, "refresh_token");
}

static AuthRecord *
auth_record_new (void)
{
  AuthRecord *r = g_new0 (AuthRecord, 1);

  g_atomic_ref_count_init (&r->ref);
  r->extra = json_object_new ();
  return r;
}

AuthRecord *
auth_record_ref (AuthRecord *record)
{
  g_return_val_if_fail (record != NULL, NULL);
  g_atomic_ref_count_inc (&record->ref);
  return record;
}

void
auth_record_unref (AuthRecord *record)
{
  if (record == NULL || !g_atomic_ref_count_dec (&record->ref))
    return;

  g_free (record->mode_field);
  sensitive_free (record->api_key);
  sensitive_free (record->id_token);
  sensitive_free (record->access_token);
  sensitive_free (record->refresh_token);
  g_free (record->account_id_field);
  /* Members this service does not interpret may be secret too (an
   * unsupported mode keeps its whole record here). */
  wipe_object_strings (record->tokens_extra);
  g_clear_pointer (&record->tokens_extra, json_object_unref);
  g_free (record->last_refresh_str);
  wipe_object_strings (record->extra);
  g_clear_pointer (&record->extra, json_object_unref);
  auth_jwt_claims_clear (&record->id_claims);
  g_free (record->unusable_reason);
  g_free (record);
}

static gboolean
shape_error (GError **error, const char *field, const char *expected)
{
  g_set_error (error, AUTH_RECORD_ERROR, AUTH_RECORD_ERROR_INVALID_SHAPE,
               "field \"%s\" must be %s", field, expected);
  return FALSE;
}

/* Reads an optional string-or-null member. *present tells whether the member
 * exists; *out is NULL for null. */
static gboolean
read_optional_string (JsonObject *object, const char *name, const char *field_path,
                      gboolean *present, char **out, GError **error)
{
  JsonNode *node;

  *present = FALSE;
  *out = NULL;
  if (!json_object_has_member (object, name))
    return TRUE;
  *present = TRUE;
  node = json_object_get_member (object, name);
  if (JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return shape_error (error, field_path, "a string or null");
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
read_required_string (JsonObject *object, const char *name, const char *field_path,
                      char **out, GError **error)
{
  gboolean present;

  if (!read_optional_string (object, name, field_path, &present, out, error))
    return FALSE;
  if (*out == NULL)
    return shape_error (error, field_path, "a string");
  return TRUE;
}

static gboolean
is_known_member (const char *name, const char *const *known)
{
  return g_strv_contains (known, name);
}

static void
copy_unknown_members (JsonObject *from, JsonObject *to, const char *const *known)
{
  g_autoptr(GList) members = json_object_get_members (from);

  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;

      if (!is_known_member (name, known))
        json_object_set_member (to, name, json_node_copy (json_object_get_member (from, name)));
    }
}

static gboolean
parse_tokens (AuthRecord *r, JsonObject *root, GError **error)
{
  static const char *const known[] = { "id_token", "access_token", "refresh_token", "account_id", NULL };
  g_autoptr(GError) local_error = NULL;
  JsonNode *node;
  JsonObject *tokens;

  if (!json_object_has_member (root, "tokens"))
    return TRUE;
  r->has_tokens_field = TRUE;
  node = json_object_get_member (root, "tokens");
  if (JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return shape_error (error, "tokens", "an object or null");

  tokens = json_node_get_object (node);
  r->has_tokens = TRUE;
  if (!read_required_string (tokens, "id_token", "tokens.id_token", &r->id_token, error) ||
      !read_required_string (tokens, "access_token", "tokens.access_token", &r->access_token, error) ||
      !read_required_string (tokens, "refresh_token", "tokens.refresh_token", &r->refresh_token, error) ||
      !read_optional_string (tokens, "account_id", "tokens.account_id",
                             &r->has_account_id_field, &r->account_id_field, error))
    return FALSE;

  r->tokens_extra = json_object_new ();
  copy_unknown_members (tokens, r->tokens_extra, known);

  if (!auth_jwt_decode_claims (r->id_token, &r->id_claims, &local_error))
    {
      g_set_error (error, AUTH_RECORD_ERROR, AUTH_RECORD_ERROR_INVALID_JWT,
                   "field \"tokens.id_token\" is invalid: %s", local_error->message);
      return FALSE;
    }

  /* The access token is opaque to Codex; when it is a JWT its exp claim
   * tells when it expires, otherwise the expiry is simply unknown. */
  {
    AuthJwtClaims access_claims;

    if (auth_jwt_decode_claims (r->access_token, &access_claims, NULL) && access_claims.exp > 0)
      r->access_expires_usec = access_claims.exp * G_USEC_PER_SEC;
    auth_jwt_claims_clear (&access_claims);
  }
  return TRUE;
}

static gboolean
parse_last_refresh (AuthRecord *r, JsonObject *root, GError **error)
{
  g_autoptr(GDateTime) dt = NULL;

  if (!read_optional_string (root, "last_refresh", "last_refresh",
                             &r->has_last_refresh_field, &r->last_refresh_str, error))
    return FALSE;
  if (r->last_refresh_str == NULL)
    return TRUE;

  dt = g_date_time_new_from_iso8601 (r->last_refresh_str, NULL);
  if (dt == NULL)
    {
      g_set_error_literal (error, AUTH_RECORD_ERROR, AUTH_RECORD_ERROR_INVALID_DATE,
                           "field \"last_refresh\" is not an RFC 3339 date-time with a time zone");
      return FALSE;
    }
  r->last_refresh_usec = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
  if (r->last_refresh_usec < 0)
    r->last_refresh_usec = 0;
  return TRUE;
}

static void
fingerprint_add (GChecksum *sum, guint8 tag, const char *value)
{
  guint8 header[9];
  guint64 len = value != NULL ? strlen (value) : 0;

  header[0] = tag;
  for (int i = 0; i < 8; i++)
    header[1 + i] = (guint8) (len >> (8 * i));
  /* An absent value and an empty one differ: the tag's high bit marks NULL. */
  if (value == NULL)
    header[0] |= 0x80;
  g_checksum_update (sum, header, sizeof header);
  if (len > 0)
    g_checksum_update (sum, (const guchar *) value, (gssize) len);
}

static void
compute_fingerprint (AuthRecord *r)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  g_checksum_update (sum, (const guchar *) "codex-authd-record-v1", -1);
  fingerprint_add (sum, 1, auth_mode_to_string (r->mode));
  fingerprint_add (sum, 2, r->mode_field);
  if (r->mode == AUTH_MODE_UNSUPPORTED)
    {
      /* Nothing of it is interpreted, so all of it is material. */
      g_autoptr(Sensitive) json = auth_record_serialize (r);
      fingerprint_add (sum, 3, json);
    }
  else
    {
      fingerprint_add (sum, 4, r->api_key);
      fingerprint_add (sum, 5, r->has_tokens ? "tokens" : NULL);
      fingerprint_add (sum, 6, r->id_token);
      fingerprint_add (sum, 7, r->access_token);
      fingerprint_add (sum, 8, r->refresh_token);
      fingerprint_add (sum, 9, r->account_id_field);
    }
  g_strlcpy (r->fingerprint, g_checksum_get_string (sum), sizeof r->fingerprint);
}

static char *
printable_mode_name (const char *mode)
{
  g_autofree char *shortened = g_strndup (mode, 64);

  return g_strescape (shortened, NULL);
}

static void
compute_usability (AuthRecord *r)
{
  switch (r->mode)
    {
    case AUTH_MODE_API_KEY:
      if (r->api_key == NULL || r->api_key[0] == '\0')
        r->unusable_reason = g_strdup ("the record is in API-key mode but has no OPENAI_API_KEY");
      break;
    case AUTH_MODE_CHATGPT:
      if (!r->has_tokens)
        r->unusable_reason = g_strdup ("the record is in ChatGPT mode but has no tokens");
      break;
    case AUTH_MODE_UNSUPPORTED:
    default:
      {
        g_autofree char *name = printable_mode_name (r->mode_field);
        r->unusable_reason = g_strdup_printf ("auth_mode \"%s\" is not supported by this version of "
                                              PACKAGE_NAME "; the record is kept as it is", name);
      }
      break;
    }
}

static void
set_json_parse_error (GError **error, const GError *json_error)
{
  guint line = 0, column = 0;

  /* json-glib reports "<data>:LINE:COLUMN: Parse error: ...". Only the
   * position is passed on: the rest may quote bytes of the input. */
  if (json_error != NULL && g_str_has_prefix (json_error->message, "JSON nested"))
    g_set_error (error, AUTH_RECORD_ERROR, AUTH_RECORD_ERROR_INVALID_JSON, "not valid JSON: %s",
                 json_error->message + strlen ("JSON "));
  else if (json_error != NULL &&
           sscanf (json_error->message, "<data>:%u:%u", &line, &column) == 2)
    g_set_error (error, AUTH_RECORD_ERROR, AUTH_RECORD_ERROR_INVALID_JSON,
                 "not valid JSON (error at line %u, column %u)", line, column);
  else
    g_set_error_literal (error, AUTH_RECORD_ERROR, AUTH_RECORD_ERROR_INVALID_JSON,
                         "not valid JSON");
}

AuthRecord *
auth_record_parse (const char *data, gsize len, GError **error)
{
  static const char *const known[] = { "auth_mode", "OPENAI_API_KEY", "tokens", "last_refresh", NULL };
  static const char *const only_mode[] = { "auth_mode", NULL };
  g_autoptr(AuthRecord) r = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) json_error = NULL;
  const char *invalid_at = NULL;
  JsonNode *root_node;
  JsonObject *root;
  gboolean ok;

  if (len > AUTH_RECORD_MAX_SIZE)
    {
      g_set_error (error, AUTH_RECORD_ERROR, AUTH_RECORD_ERROR_TOO_LARGE,
                   "the record is %" G_GSIZE_FORMAT " bytes, more than the %d byte limit",
                   len, AUTH_RECORD_MAX_SIZE);
      return NULL;
    }
  if (!g_utf8_validate_len (data, len, &invalid_at))
    {
      g_set_error (error, AUTH_RECORD_ERROR, AUTH_RECORD_ERROR_INVALID_UTF8,
                   "not valid UTF-8 (bad byte at offset %" G_GSIZE_FORMAT ")",
                   (gsize) (invalid_at - data));
      return NULL;
    }

  if (len == 0)
    {
      set_json_parse_error (error, NULL);
      return NULL;
    }
  parser = safe_json_parse (data, len, &json_error);
  if (parser == NULL)
    {
      set_json_parse_error (error, json_error);
      return NULL;
    }
  root_node = json_parser_get_root (parser);
  if (root_node == NULL || !JSON_NODE_HOLDS_OBJECT (root_node))
    {
      g_set_error_literal (error, AUTH_RECORD_ERROR, AUTH_RECORD_ERROR_INVALID_SHAPE,
                           "the record must be a JSON object");
      return NULL;
    }
  root = json_node_get_object (root_node);

  r = auth_record_new ();
  ok = read_optional_string (root, "auth_mode", "auth_mode", &r->has_mode_field, &r->mode_field, error);
  if (ok && r->mode_field != NULL && g_strcmp0 (r->mode_field, "apikey") != 0 &&
      g_strcmp0 (r->mode_field, "chatgpt") != 0)
    {
      /* A mode from a newer Codex: keep every other member untouched. */
      r->mode = AUTH_MODE_UNSUPPORTED;
      copy_unknown_members (root, r->extra, only_mode);
    }
  else if (ok)
    {
      ok = read_optional_string (root, "OPENAI_API_KEY", "OPENAI_API_KEY",
                                 &r->has_api_key_field, &r->api_key, error) &&
           parse_tokens (r, root, error) &&
           parse_last_refresh (r, root, error);
      if (ok)
        {
          copy_unknown_members (root, r->extra, known);
          if (g_strcmp0 (r->mode_field, "apikey") == 0)
            r->mode = AUTH_MODE_API_KEY;
          else if (g_strcmp0 (r->mode_field, "chatgpt") == 0)
            r->mode = AUTH_MODE_CHATGPT;
          else
            r->mode = r->api_key != NULL ? AUTH_MODE_API_KEY : AUTH_MODE_CHATGPT;
        }
    }

  if (r->mode != AUTH_MODE_UNSUPPORTED)
    wipe_secret_members (root);
  if (!ok)
    return NULL;

  compute_usability (r);
  compute_fingerprint (r);
  return g_steal_pointer (&r);
}

static void
add_string_or_null (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_members (JsonBuilder *b, JsonObject *object)
{
  g_autoptr(GList) members = NULL;

  if (object == NULL)
    return;
  members = json_object_get_members (object);
  for (GList *l = members; l != NULL; l = l->next)
    {
      json_builder_set_member_name (b, l->data);
      json_builder_add_value (b, json_node_copy (json_object_get_member (object, l->data)));
    }
}

char *
auth_record_serialize (const AuthRecord *r)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = NULL;
  g_autoptr(JsonNode) root = NULL;
  char *out;

  g_return_val_if_fail (r != NULL, NULL);

  json_builder_begin_object (b);
  if (r->has_mode_field)
    add_string_or_null (b, "auth_mode", r->mode_field);
  if (r->mode != AUTH_MODE_UNSUPPORTED)
    {
      if (r->has_api_key_field)
        add_string_or_null (b, "OPENAI_API_KEY", r->api_key);
      if (r->has_tokens)
        {
          json_builder_set_member_name (b, "tokens");
          json_builder_begin_object (b);
          add_string_or_null (b, "id_token", r->id_token);
          add_string_or_null (b, "access_token", r->access_token);
          add_string_or_null (b, "refresh_token", r->refresh_token);
          if (r->has_account_id_field)
            add_string_or_null (b, "account_id", r->account_id_field);
          add_members (b, r->tokens_extra);
          json_builder_end_object (b);
        }
      else if (r->has_tokens_field)
        {
          json_builder_set_member_name (b, "tokens");
          json_builder_add_null_value (b);
        }
      if (r->has_last_refresh_field)
        add_string_or_null (b, "last_refresh", r->last_refresh_str);
    }
  add_members (b, r->extra);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  gen = json_generator_new ();
  json_generator_set_root (gen, root);
  out = json_generator_to_data (gen, NULL);
  if (r->mode != AUTH_MODE_UNSUPPORTED)
    wipe_secret_members (json_node_get_object (root));
  return out;
}

const char *
auth_mode_to_string (AuthMode mode)
{
  switch (mode)
    {
    case AUTH_MODE_API_KEY:
      return "apikey";
    case AUTH_MODE_CHATGPT:
      return "chatgpt";
    case AUTH_MODE_UNSUPPORTED:
    default:
      return "unsupported";
    }
}

AuthMode
auth_record_get_mode (const AuthRecord *r)
{
  return r->mode;
}

const char *
auth_record_get_mode_field (const AuthRecord *r)
{
  return r->mode_field;
}

gboolean
auth_record_is_usable (const AuthRecord *r)
{
  return r->unusable_reason == NULL;
}

const char *
auth_record_get_unusable_reason (const AuthRecord *r)
{
  return r->unusable_reason;
}

const char *
auth_record_get_api_key (const AuthRecord *r)
{
  return r->api_key;
}

gboolean
auth_record_has_tokens (const AuthRecord *r)
{
  return r->has_tokens;
}

const char *
auth_record_get_id_token (const AuthRecord *r)
{
  return r->id_token;
}

const char *
auth_record_get_access_token (const AuthRecord *r)
{
  return r->access_token;
}

const char *
auth_record_get_refresh_token (const AuthRecord *r)
{
  return r->refresh_token;
}

const char *
auth_record_get_account_id (const AuthRecord *r)
{
  return r->account_id_field != NULL ? r->account_id_field : r->id_claims.account_id;
}

const char *
auth_record_get_email (const AuthRecord *r)
{
  return r->id_claims.email;
}

const char *
auth_record_get_plan_type (const AuthRecord *r)
{
  return r->id_claims.plan_type;
}

const char *
auth_record_get_user_id (const AuthRecord *r)
{
  return r->id_claims.user_id;
}

gint64
auth_record_get_last_refresh (const AuthRecord *r)
{
  return r->last_refresh_usec;
}

gint64
auth_record_get_access_token_expires (const AuthRecord *r)
{
  return r->access_expires_usec;
}

const char *
auth_record_get_fingerprint (const AuthRecord *r)
{
  return r->fingerprint;
}

static char *format_rfc3339 (gint64 usec);

AuthRecord *
auth_record_new_refreshed (const AuthRecord *base, const char *id_token, const char *access_token,
                           const char *refresh_token, gint64 now_usec, GError **error)
{
  g_autoptr(Sensitive) json = NULL;
  g_autoptr(Sensitive) merged = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autofree char *now_str = NULL;
  JsonObject *root, *tokens;
  AuthRecord *result;

  g_return_val_if_fail (base->mode == AUTH_MODE_CHATGPT && base->has_tokens, NULL);

  /* Merge at the JSON level and parse the result again, so the new record
   * goes through exactly the validation of one read from storage. */
  json = auth_record_serialize (base);
  parser = safe_json_parse (json, strlen (json), error);
  if (parser == NULL)
    return NULL;
  root = json_node_get_object (json_parser_get_root (parser));
  tokens = json_object_get_object_member (root, "tokens");
  /* The tokens replaced are wiped before json-glib frees them. */
  if (id_token != NULL)
    {
      safe_json_wipe_string_member (tokens, "id_token");
      json_object_set_string_member (tokens, "id_token", id_token);
    }
  if (access_token != NULL)
    {
      safe_json_wipe_string_member (tokens, "access_token");
      json_object_set_string_member (tokens, "access_token", access_token);
    }
  if (refresh_token != NULL)
    {
      safe_json_wipe_string_member (tokens, "refresh_token");
      json_object_set_string_member (tokens, "refresh_token", refresh_token);
    }
  now_str = format_rfc3339 (now_usec);
  json_object_set_string_member (root, "last_refresh", now_str);

  json_generator_set_root (gen, json_parser_get_root (parser));
  merged = json_generator_to_data (gen, NULL);
  wipe_secret_members (root);

  result = auth_record_parse (merged, strlen (merged), error);
  return result;
}

static char *
format_rfc3339 (gint64 usec)
{
  g_autoptr(GDateTime) whole_seconds = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) dt = g_date_time_add (whole_seconds, usec % G_USEC_PER_SEC);

  return g_date_time_format_iso8601 (dt);
}

/* Builds the JSON with @build, parses it back (so the record is validated
 * exactly like one read from storage) and wipes the intermediate copies. */
static AuthRecord *
record_from_builder (JsonBuilder *b, GError **error)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  g_autoptr(Sensitive) json = NULL;

  json_generator_set_root (gen, root);
  json = json_generator_to_data (gen, NULL);
  wipe_secret_members (json_node_get_object (root));
  return auth_record_parse (json, strlen (json), error);
}

AuthRecord *
auth_record_new_api_key (const char *api_key)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "auth_mode");
  json_builder_add_string_value (b, "apikey");
  json_builder_set_member_name (b, "OPENAI_API_KEY");
  json_builder_add_string_value (b, api_key);
  json_builder_end_object (b);
  return record_from_builder (b, NULL);
}

AuthRecord *
auth_record_new_chatgpt (const char *id_token, const char *access_token, const char *refresh_token,
                         const char *api_key, gint64 now_usec, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *now = format_rfc3339 (now_usec);
  AuthJwtClaims claims;
  g_autoptr(GError) local_error = NULL;

  if (!auth_jwt_decode_claims (id_token, &claims, &local_error))
    {
      g_set_error (error, AUTH_RECORD_ERROR, AUTH_RECORD_ERROR_INVALID_JWT,
                   "the id_token is invalid: %s", local_error->message);
      return NULL;
    }

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "auth_mode");
  json_builder_add_string_value (b, "chatgpt");
  json_builder_set_member_name (b, "OPENAI_API_KEY");
  if (api_key != NULL)
    json_builder_add_string_value (b, api_key);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "tokens");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id_token");
  json_builder_add_string_value (b, id_token);
  json_builder_set_member_name (b, "access_token");
  json_builder_add_string_value (b, access_token);
  json_builder_set_member_name (b, "refresh_token");
  json_builder_add_string_value (b, refresh_token);
  json_builder_set_member_name (b, "account_id");
  if (claims.account_id != NULL)
    json_builder_add_string_value (b, claims.account_id);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "last_refresh");
  json_builder_add_string_value (b, now);
  json_builder_end_object (b);
  auth_jwt_claims_clear (&claims);
  return record_from_builder (b, error);
}
