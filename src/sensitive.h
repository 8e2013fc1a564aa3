/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* Secrets (API keys, tokens, serialized auth records) live in plain
 * NUL-terminated strings that are wiped before they are freed. */
typedef char Sensitive;

void sensitive_free (Sensitive *secret);
Sensitive *sensitive_dup (const char *str);
void sensitive_wipe (gpointer data, gsize len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Sensitive, sensitive_free)

