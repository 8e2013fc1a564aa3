/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Facts about the issuer, the OpenAI authorization server the Codex CLI
 * signs in and refreshes at, and about how the Codex CLI presents itself
 * to it (docs/login.md). The daemon speaks as the CLI: the issuer's
 * redirect allow-list expects the CLI's client id. */

#define ISSUER_DEFAULT_URL "https://auth.openai.com"
#define ISSUER_TOKEN_PATH "/oauth/token"
#define ISSUER_REVOKE_PATH "/oauth/revoke"
/* The refresh endpoint when nothing else is configured. */
#define ISSUER_DEFAULT_TOKEN_URL ISSUER_DEFAULT_URL ISSUER_TOKEN_PATH

/* The Codex CLI's OAuth client id and originator. */
#define CLI_CLIENT_ID "app_EMoamEEZ73f0CkXaXp7hrann"
#define CLI_ORIGINATOR "codex_cli_rs"
