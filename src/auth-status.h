/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <stdint.h>

/* The properties of org.codex.Auth1: the one list from which the daemon's
 * AuthStatus fields, its sd-bus vtable, its PropertiesChanged tracking
 * and the GetAuthStatusDetails keys are produced, and from which the
 * client library (its GObject properties) and codex-authctl (its status
 * output) take theirs. Adding a property is one row here, the line in
 * auth_manager_get_status() that fills it, its documentation in
 * dbus-interfaces/org.codex.Auth1.xml, and its getter in the library's
 * header.
 *
 * Columns: D-Bus name, GetAuthStatusDetails key (also the library's
 * property name), D-Bus type ("s", "b" or "t": microseconds since the
 * epoch, a GDateTime in the library), C field, how it changes (emits:
 * PropertiesChanged carries the new value; invalidates: PropertiesChanged
 * names it without its value, which a client reads with Get: who is
 * signed in is not broadcast to peers the bus filter refuses; const:
 * never changes while the service runs), the label codex-authctl prints,
 * and what it is. */
#define AUTH_PROPERTIES(X)                                                                                   \
  X (AuthMethod, "auth-method", s, auth_method, invalidates, "Auth method",                                      \
     "\"\" (no usable credentials), \"apikey\" or \"chatgpt\"")                                             \
  X (AccountId, "account-id", s, account_id, invalidates, "Account", "The ChatGPT account (workspace) id")         \
  X (Email, "email", s, email, invalidates, "Email", "The ChatGPT account's email address")                        \
  X (PlanType, "plan-type", s, plan_type, invalidates, "Plan", "The ChatGPT plan")                                 \
  X (RefreshState, "refresh-state", s, refresh_state, emits, "Refresh state",                              \
     "none, ok, refreshing, backoff or poisoned")                                                            \
  X (RefreshError, "refresh-error", s, refresh_error, emits, "Refresh error",                              \
     "The code of the last refresh failure, \"\" when none")                                                 \
  X (RefreshErrorMessage, "refresh-error-message", s, refresh_error_message, emits, "Error message",         \
     "The last refresh failure in words, \"\" when none")                                                    \
  X (RequiresLogin, "requires-login", b, requires_login, emits, "Requires login",                           \
     "No credentials, or they failed for good: sign in")                                                     \
  X (LastRefresh, "last-refresh", t, last_refresh, emits, "Last refresh",                                   \
     "When the ChatGPT tokens were last refreshed")                                                          \
  X (AccessTokenExpires, "access-token-expires", t, access_token_expires, emits, "Token expires",           \
     "When the ChatGPT access token expires")                                                                \
  X (NextRefreshAttempt, "next-refresh-attempt", t, next_refresh_attempt, emits, "Next attempt",            \
     "While backing off, the earliest time a refresh is tried again")                                        \
  X (CredentialStore, "credential-store", s, credential_store, emits, "Store",                              \
     "Where the credentials are kept: secret-service, file or none")                                         \
  X (StoreState, "store-state", s, store_state, emits, "Store state", "ok, locked, unavailable or error")    \
  X (CredentialStoreReason, "credential-store-reason", s, credential_store_reason, emits, "Chosen by",      \
     "Which setting chose the store")                                                                        \
  X (PendingLogin, "pending-login", s, pending_login, emits, "Sign-in", "\"\", browser or device-code")      \
  X (LocalTokenEndpoint, "local-token-endpoint", s, local_token_endpoint, const, "Local endpoint",            \
     "The refresh URL for Codex processes (CODEX_REFRESH_TOKEN_URL_OVERRIDE), \"\" when off")             \
  X (Version, "version", s, version, const, "Version", "The service's version")

/* The keys GetAuthStatusDetails returns besides the properties (and the
 * call's own auth-token and requires-openai-auth), strings, "" when
 * there is nothing to say. Columns: key, C field, label, what it is. */
#define AUTH_DETAILS(X)                                                                                      \
  X ("store-error-message", store_error_message, "Store error", "Why store-state is not ok")                 \
  X ("codex-config-error", cli_config_error, "Codex config",                                                 \
     "Why the Codex CLI's config.toml cannot be used (its default store applies)")

/* The C type of each D-Bus type; booleans are int, as sd-bus wants them. */
#define AUTH_STATUS_CTYPE_s char *
#define AUTH_STATUS_CTYPE_b int
#define AUTH_STATUS_CTYPE_t uint64_t

/* What clients see of the credentials: the values behind the properties
 * and the other details. Strings are never NULL once filled by
 * auth_manager_get_status(). */
typedef struct {
#define AUTH_STATUS_FIELD(name, key, type, field, change, label, doc) AUTH_STATUS_CTYPE_##type field;
  AUTH_PROPERTIES (AUTH_STATUS_FIELD)
#undef AUTH_STATUS_FIELD
#define AUTH_DETAILS_FIELD(key, field, label, doc) char *field;
  AUTH_DETAILS (AUTH_DETAILS_FIELD)
#undef AUTH_DETAILS_FIELD
} AuthStatus;

void auth_status_clear (AuthStatus *status);
