/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* The Codex auth record: the content of $CODEX_HOME/auth.json and of the
 * Codex Secret Service item. Parsing is strict about the fields this
 * service uses and keeps every other field verbatim for the round trip. */

#define AUTH_RECORD_MAX_SIZE (1024 * 1024)

#define AUTH_RECORD_ERROR (auth_record_error_quark ())

typedef enum {
  AUTH_RECORD_ERROR_TOO_LARGE,
  AUTH_RECORD_ERROR_INVALID_UTF8,
  AUTH_RECORD_ERROR_INVALID_JSON,
  AUTH_RECORD_ERROR_INVALID_SHAPE,
  AUTH_RECORD_ERROR_INVALID_JWT,
  AUTH_RECORD_ERROR_INVALID_DATE,
} AuthRecordError;

GQuark auth_record_error_quark (void);

typedef enum {
  AUTH_MODE_API_KEY,
  AUTH_MODE_CHATGPT,
  /* An auth_mode written by a newer Codex: kept, never rewritten, not used. */
  AUTH_MODE_UNSUPPORTED,
} AuthMode;

typedef struct _AuthRecord AuthRecord;

AuthRecord *auth_record_parse (const char *data, gsize len, GError **error);
/* Compact JSON; free with sensitive_free(). */
char *auth_record_serialize (const AuthRecord *record);
AuthRecord *auth_record_ref (AuthRecord *record);
void auth_record_unref (AuthRecord *record);

AuthMode auth_record_get_mode (const AuthRecord *record);
/* The auth_mode field as stored, NULL when absent. */
const char *auth_record_get_mode_field (const AuthRecord *record);
const char *auth_mode_to_string (AuthMode mode);

/* TRUE when the record carries credentials this service can hand out. */
gboolean auth_record_is_usable (const AuthRecord *record);
/* Why auth_record_is_usable() is FALSE, for a log line. NULL when usable. */
const char *auth_record_get_unusable_reason (const AuthRecord *record);

const char *auth_record_get_api_key (const AuthRecord *record);
gboolean auth_record_has_tokens (const AuthRecord *record);
const char *auth_record_get_id_token (const AuthRecord *record);
const char *auth_record_get_access_token (const AuthRecord *record);
const char *auth_record_get_refresh_token (const AuthRecord *record);
/* tokens.account_id, else the id_token's chatgpt_account_id claim. */
const char *auth_record_get_account_id (const AuthRecord *record);

const char *auth_record_get_email (const AuthRecord *record);
const char *auth_record_get_plan_type (const AuthRecord *record);
const char *auth_record_get_user_id (const AuthRecord *record);

/* Microseconds since the Unix epoch; 0 when unknown. */
gint64 auth_record_get_last_refresh (const AuthRecord *record);
gint64 auth_record_get_access_token_expires (const AuthRecord *record);

/* Lower-case hex SHA-256 over the material content (mode, key, tokens).
 * Equal credentials give equal fingerprints; last_refresh and unknown
 * fields do not count. */
const char *auth_record_get_fingerprint (const AuthRecord *record);

/* A copy of the ChatGPT record @base with the tokens a refresh returned
 * (NULL: keep the old one) and last_refresh set to @now_usec. Fails when the
 * new id_token is not a valid JWT. */
AuthRecord *auth_record_new_refreshed (const AuthRecord *base, const char *id_token,
                                       const char *access_token, const char *refresh_token,
                                       gint64 now_usec, GError **error);

/* A new API-key record, as `codex login --with-api-key` writes it. */
AuthRecord *auth_record_new_api_key (const char *api_key);

/* A new ChatGPT record from tokens, as `codex login` writes it; account_id
 * comes from the id_token's chatgpt_account_id claim, OPENAI_API_KEY is
 * @api_key (NULL: null), last_refresh is @now_usec. Fails when the
 * id_token is not a JWT whose claims parse. */
AuthRecord *auth_record_new_chatgpt (const char *id_token, const char *access_token,
                                     const char *refresh_token, const char *api_key, gint64 now_usec,
                                     GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AuthRecord, auth_record_unref)
