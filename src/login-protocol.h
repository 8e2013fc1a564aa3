/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "codex-secret.h"

/* The ChatGPT sign-in protocol as the Codex CLI speaks it (docs/login.md):
 * the requests it sends and how their answers are read. No I/O here. */

#define LOGIN_DEFAULT_ISSUER "https://auth.openai.com"
#define LOGIN_ORIGINATOR "codex_cli_rs"
#define LOGIN_SCOPE "openid profile email offline_access api.connectors.read api.connectors.invoke"
#define LOGIN_CALLBACK_PATH "/auth/callback"
/* Bounds of one answer's fields that are shown or stored. */
#define LOGIN_MAX_FIELD_SIZE (64 * 1024)

/* Why a sign-in ended without success: the stable codes of LoginCompleted's
 * "error" argument (login_error_code()). */
typedef enum {
  LOGIN_ERROR_CANCELLED,
  LOGIN_ERROR_TIMED_OUT,
  LOGIN_ERROR_ACCESS_DENIED,
  LOGIN_ERROR_PROVIDER_ERROR,
  LOGIN_ERROR_MISSING_CODE,
  LOGIN_ERROR_EXCHANGE_FAILED,
  LOGIN_ERROR_WORKSPACE_RESTRICTED,
  LOGIN_ERROR_DEVICE_LOGIN_DISABLED,
  LOGIN_ERROR_DEVICE_AUTH_FAILED,
  LOGIN_ERROR_STORE_FAILED,
  LOGIN_ERROR_PORT_BUSY,
  LOGIN_ERROR_FAILED,
} LoginError;

#define LOGIN_ERROR (login_error_quark ())
GQuark login_error_quark (void);
const char *login_error_code (LoginError error);

/* @n_bytes of cryptographically secure randomness as base64url without
 * padding (the PKCE verifier: 64 bytes; the state: 32). */
char *login_random_b64url (gsize n_bytes);
/* base64url (no padding) of SHA-256 over @verifier: the S256 challenge. */
char *login_pkce_challenge (const char *verifier);

/* {issuer}/oauth/authorize?... with the parameters in the CLI's order;
 * @workspaces (NULL or empty: none) becomes allowed_workspace_id. */
char *login_authorize_url (const char *issuer, const char *client_id, const char *redirect_uri,
                           const char *challenge, const char *state, const char *originator,
                           const char *const *workspaces);
/* The endpoints below the issuer. */
char *login_issuer_endpoint (const char *issuer, const char *path);

/* TRUE when @state is @expected, or @expected followed by a "." suffix
 * (the issuer may add ".onboarding_entrypoint=..."). Constant time in the
 * common part. */
gboolean login_state_matches (const char *state, const char *expected);

/* Form-encoded bodies for {issuer}/oauth/token. */
CodexSecret *login_code_exchange_body (const char *code, const char *redirect_uri, const char *client_id,
                                       const char *verifier);
CodexSecret *login_api_key_exchange_body (const char *client_id, const char *id_token);
/* JSON bodies of the device-code endpoints and of the revocation. */
char *login_device_usercode_body (const char *client_id);
CodexSecret *login_device_token_body (const char *device_auth_id, const char *user_code);
/* @hint is "refresh_token" (client_id included) or "access_token" (not). */
CodexSecret *login_revoke_body (const char *token, const char *hint, const char *client_id);

/* The detail of an error answer: the first non-empty of
 * error_description, error.message, error (a string), error.code; else the
 * body itself (printable ASCII, at most 200 bytes); else "unknown error". */
char *login_error_detail (const char *body, gsize len);

/* Overwrites every occurrence of @secret (NULL or empty: none) in @text
 * with '*'. */
void login_scrub (char *text, const char *secret);

typedef struct {
  CodexSecret *id_token;
  CodexSecret *access_token;
  CodexSecret *refresh_token;
} LoginTokens;

void login_tokens_clear (LoginTokens *tokens);

/* The answer to the authorization_code grant: a 2xx JSON object with
 * non-empty string id_token, access_token and refresh_token. Else
 * LOGIN_ERROR_EXCHANGE_FAILED: "token endpoint returned status N: detail"
 * (or the missing field). */
gboolean login_parse_code_exchange (guint status, const char *body, gsize len, LoginTokens *tokens,
                                    GError **error);
/* The token-exchange answer's access_token (the API key), NULL on any
 * failure. */
CodexSecret *login_parse_api_key (guint status, const char *body, gsize len);

typedef struct {
  char *device_auth_id;
  char *user_code;
  guint interval; /* seconds */
} LoginDeviceCode;

void login_device_code_clear (LoginDeviceCode *code);

/* The user-code answer: device_auth_id, user_code (or usercode), interval
 * as a string or a number (absent: 0). 404: LOGIN_ERROR_DEVICE_LOGIN_DISABLED;
 * other failures: LOGIN_ERROR_DEVICE_AUTH_FAILED. */
gboolean login_parse_usercode (guint status, const char *body, gsize len, LoginDeviceCode *code,
                               GError **error);

typedef enum {
  LOGIN_POLL_PENDING,
  LOGIN_POLL_DONE,
  LOGIN_POLL_FAILED,
} LoginPoll;

typedef struct {
  CodexSecret *authorization_code;
  char *code_challenge;
  CodexSecret *code_verifier;
} LoginDeviceGrant;

void login_device_grant_clear (LoginDeviceGrant *grant);

/* A device-token poll's answer: 403 and 404 are pending; a 2xx carries
 * authorization_code, code_challenge and code_verifier; anything else
 * fails (LOGIN_ERROR_DEVICE_AUTH_FAILED). */
LoginPoll login_parse_device_token (guint status, const char *body, gsize len, LoginDeviceGrant *grant,
                                    GError **error);

/* The message a person reads for a provider error on the callback. */
char *login_provider_error_message (const char *error, const char *description, LoginError *code);

/* The pages the callback server shows. */
char *login_success_page (const char *email);
char *login_error_page (const char *message);
