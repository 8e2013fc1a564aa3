/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <stdint.h>

/* The properties of org.codex.Auth1: the one list from which the AuthStatus
 * fields, the sd-bus vtable, the PropertiesChanged tracking and the
 * GetAuthStatusDetails keys are all produced. Adding a property is one row
 * here, the line in auth_manager_get_status() that fills it, and its
 * documentation in dbus-interfaces/org.codex.Auth1.xml.
 *
 * Columns: D-Bus name, GetAuthStatusDetails key, D-Bus type ("s", "b" or
 * "t"), AuthStatus field, and how it changes: emits (PropertiesChanged
 * names it) or const (never changes while the service runs). */
#define AUTH_PROPERTIES(X)                                                          \
  X (AuthMethod, "auth-method", s, auth_method, emits)                              \
  X (AccountId, "account-id", s, account_id, emits)                                 \
  X (Email, "email", s, email, emits)                                               \
  X (PlanType, "plan-type", s, plan_type, emits)                                    \
  X (RefreshState, "refresh-state", s, refresh_state, emits)                        \
  X (RefreshError, "refresh-error", s, refresh_error, emits)                        \
  X (RefreshErrorMessage, "refresh-error-message", s, refresh_error_message, emits) \
  X (RequiresLogin, "requires-login", b, requires_login, emits)                     \
  X (LastRefresh, "last-refresh", t, last_refresh, emits)                           \
  X (AccessTokenExpires, "access-token-expires", t, access_token_expires, emits)    \
  X (NextRefreshAttempt, "next-refresh-attempt", t, next_refresh_attempt, emits)    \
  X (CredentialStore, "credential-store", s, credential_store, emits)               \
  X (StoreState, "store-state", s, store_state, emits)                              \
  X (CredentialStoreReason, "credential-store-reason", s, credential_store_reason, emits) \
  X (PendingLogin, "pending-login", s, pending_login, emits)                        \
  X (Version, "version", s, version, const)

/* The C type of each D-Bus type; booleans are int, as sd-bus wants them. */
#define AUTH_STATUS_CTYPE_s char *
#define AUTH_STATUS_CTYPE_b int
#define AUTH_STATUS_CTYPE_t uint64_t

/* What clients see of the credentials: the values behind the properties.
 * Strings are never NULL once filled by auth_manager_get_status(). */
typedef struct {
#define AUTH_STATUS_FIELD(name, key, type, field, change) AUTH_STATUS_CTYPE_##type field;
  AUTH_PROPERTIES (AUTH_STATUS_FIELD)
#undef AUTH_STATUS_FIELD
  /* Not a property (a GetAuthStatusDetails key only): why StoreState is
   * not "ok", "" otherwise. */
  char *store_error_message;
  /* Not a property either: why the Codex CLI's config.toml cannot be used
   * (its default store then applies), "" otherwise. */
  char *codex_config_error;
} AuthStatus;

void auth_status_clear (AuthStatus *status);
