/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What libcodex-auth-1 exports: everything else in the library (the
 * generated D-Bus proxy, the daemon's error table) stays private. */
#if defined(CODEX_AUTH_COMPILATION) && defined(__GNUC__)
#define CODEX_AUTH_EXPORT __attribute__ ((visibility ("default")))
#else
#define CODEX_AUTH_EXPORT
#endif
