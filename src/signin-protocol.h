/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "issuer.h"
#include "sensitive.h"

/* The ChatGPT sign-in protocol as the Codex CLI speaks it (docs/login.md):
 * the requests it sends and how their answers are read. No I/O here. */

#define SIGNIN_SCOPE "openid profile email offline_access api.connectors.read api.connectors.invoke"
#define SIGNIN_CALLBACK_PATH "/auth/callback"
/* Bounds of one answer's fields that are shown or stored. */
#define SIGNIN_MAX_FIELD_SIZE (64 * 1024)

/* Why a sign-in ended without success: the stable codes of LoginCompleted's
 * "error" argument (signin_error_code()). */
typedef enum {
  SIGNIN_ERROR_CANCELLED,
  SIGNIN_ERROR_TIMED_OUT,
  SIGNIN_ERROR_ACCESS_DENIED,
  SIGNIN_ERROR_PROVIDER_ERROR,
  SIGNIN_ERROR_MISSING_CODE,
  SIGNIN_ERROR_EXCHANGE_FAILED,
  SIGNIN_ERROR_WORKSPACE_RESTRICTED,
  SIGNIN_ERROR_DEVICE_LOGIN_DISABLED,
  SIGNIN_ERROR_DEVICE_AUTH_FAILED,
  SIGNIN_ERROR_STORE_FAILED,
  SIGNIN_ERROR_PORT_BUSY,
  SIGNIN_ERROR_RESTRICTED, /* at the start only: the login method or workspaces rule it out */
  SIGNIN_ERROR_FAILED,
} SigninError;

#define SIGNIN_ERROR (signin_error_quark ())
GQuark signin_error_quark (void);
const char *signin_error_code (SigninError error);

/* @n_bytes of cryptographically secure randomness as base64url without
 * padding (the PKCE verifier: 64 bytes; the state: 32). */
char *signin_random_b64url (gsize n_bytes);
/* base64url (no padding) of SHA-256 over @verifier: the S256 challenge. */
char *signin_pkce_challenge (const char *verifier);

/* {issuer}/oauth/authorize?... with the parameters in the CLI's order;
 * @workspaces (NULL or empty: none) becomes allowed_workspace_id. */
char *signin_authorize_url (const char *issuer, const char *client_id, const char *redirect_uri,
                           const char *challenge, const char *state, const char *originator,
                           const char *const *workspaces);
/* The endpoints below the issuer. */
char *signin_issuer_endpoint (const char *issuer, const char *path);

/* TRUE when @state is @expected, or @expected followed by a "." suffix
 * (the issuer may add ".onboarding_entrypoint=..."). Constant time in the
 * common part. */
gboolean signin_state_matches (const char *state, const char *expected);

/* Form-encoded bodies for {issuer}/oauth/token. */
Sensitive *signin_code_exchange_body (const char *code, const char *redirect_uri, const char *client_id,
                                       const char *verifier);
Sensitive *signin_api_key_exchange_body (const char *client_id, const char *id_token);
/* JSON bodies of the device-code endpoints and of the revocation. */
char *signin_device_usercode_body (const char *client_id);
Sensitive *signin_device_token_body (const char *device_auth_id, const char *user_code);
/* @hint is "refresh_token" (client_id included) or "access_token" (not). */
Sensitive *signin_revoke_body (const char *token, const char *hint, const char *client_id);

/* The detail of an error answer: the first non-empty of
 * error_description, error.message, error (a string), error.code; else the
 * body itself (printable ASCII, at most 200 bytes); else "unknown error".
 * Every one of @secrets (NULL-terminated; NULL: none), the secrets the
 * request carried, is overwritten with '*' before anything is cut: an
 * endpoint that quotes the request must not put them in a message (the
 * journal, LoginCompleted, the page). */
char *signin_error_detail (const char *body, gsize len, const char *const *secrets);

typedef struct {
  Sensitive *id_token;
  Sensitive *access_token;
  Sensitive *refresh_token;
} SigninTokens;

void signin_tokens_clear (SigninTokens *tokens);

/* The answer to the authorization_code grant: a 2xx JSON object with
 * non-empty string id_token, access_token and refresh_token. Else
 * SIGNIN_ERROR_EXCHANGE_FAILED: "token endpoint returned status N: detail"
 * (or the missing field), the detail without @secrets (the code and the
 * verifier the request carried; signin_error_detail()). */
gboolean signin_parse_code_exchange (guint status, const char *body, gsize len, const char *const *secrets,
                                    SigninTokens *tokens, GError **error);
/* The token-exchange answer's access_token (the API key), NULL on any
 * failure. */
Sensitive *signin_parse_api_key (guint status, const char *body, gsize len);

typedef struct {
  char *device_auth_id;
  char *user_code;
  guint interval; /* seconds */
} SigninDeviceCode;

void signin_device_code_clear (SigninDeviceCode *code);

/* The user-code answer: device_auth_id, user_code (or usercode), interval
 * as a string or a number (absent: 0). 404: SIGNIN_ERROR_DEVICE_LOGIN_DISABLED;
 * other failures: SIGNIN_ERROR_DEVICE_AUTH_FAILED. */
gboolean signin_parse_usercode (guint status, const char *body, gsize len, SigninDeviceCode *code,
                               GError **error);

typedef enum {
  SIGNIN_POLL_PENDING,
  SIGNIN_POLL_DONE,
  SIGNIN_POLL_FAILED,
} SigninPoll;

typedef struct {
  Sensitive *authorization_code;
  char *code_challenge;
  Sensitive *code_verifier;
} SigninDeviceGrant;

void signin_device_grant_clear (SigninDeviceGrant *grant);

/* A device-token poll's answer: 403 and 404 are pending; a 2xx carries
 * authorization_code, code_challenge and code_verifier; anything else
 * fails (SIGNIN_ERROR_DEVICE_AUTH_FAILED). */
SigninPoll signin_parse_device_token (guint status, const char *body, gsize len, SigninDeviceGrant *grant,
                                    GError **error);

/* The message a person reads for a provider error on the callback. */
char *signin_provider_error_message (const char *error, const char *description, SigninError *code);

/* The pages the callback server shows. */
char *signin_success_page (const char *email);
char *signin_error_page (const char *message);
