/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* Secrets (API keys, tokens, serialized auth records) live in plain
 * NUL-terminated strings that are wiped before they are freed. */
typedef char CodexSecret;

void codex_secret_free (CodexSecret *secret);
CodexSecret *codex_secret_dup (const char *str);
void codex_secret_wipe_bytes (gpointer data, gsize len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CodexSecret, codex_secret_free)

