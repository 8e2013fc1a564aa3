/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* Logging. When stderr is the journal ($JOURNAL_STREAM), every message goes
 * through sd-journal with its fields (PRIORITY, GLIB_DOMAIN, CODE_*, and
 * for the events below MESSAGE_ID and CODEX_AUTH_ERROR), so that
 * `journalctl --user -u codex-authd MESSAGE_ID=...` finds them; elsewhere
 * GLib's default writer prints to the terminal. No field ever holds a
 * token: messages name stores and error codes, never secrets. */

/* One MESSAGE_ID per kind of event (the README lists them). */
#define AUTH_LOG_REFRESHED      "81d3c78cb6eb4e7c92ee46033b88540f" /* a refresh succeeded */
#define AUTH_LOG_POISONED       "d9e3976c689944b6a764fb53d0d1883b" /* a refresh failed for good */
#define AUTH_LOG_BACKOFF        "fd98491b89c141bb8df3097886875d41" /* a refresh failed, will retry */
#define AUTH_LOG_STORE_PROBLEM  "93886c7e07784a37b14a5ae3a32a7c10" /* the store is locked, gone or failing */
#define AUTH_LOG_LOGIN          "14b49af0ad334179aa38d747d5b5a47e" /* a login stored */
#define AUTH_LOG_LOGOUT         "be5527e3078548ffaa7ad09bf788fc33" /* a logout */
#define AUTH_LOG_SIGNIN_FAILED  "6416bf70ad994c97a1a4b61b97f8c53b" /* a ChatGPT sign-in ended without success */
#define AUTH_LOG_REVOKE_FAILED  "1bdf4b5014ca4b15b8dd347f4ed2350e" /* a token could not be revoked */

/* Installs the journal writer when stderr is the journal. */
void daemon_log_init (void);

/* Logs an event at @level with its MESSAGE_ID @id and, when not NULL, the
 * error code @code as CODEX_AUTH_ERROR. */
#define AUTH_LOG_EVENT(level, id, code, ...)                                                          \
  g_log_structured (G_LOG_DOMAIN, level, "MESSAGE_ID", id, "CODEX_AUTH_ERROR",                       \
                    (code) != NULL ? (const char *) (code) : "", "MESSAGE", __VA_ARGS__)
