/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "auth-error.h"

G_DEFINE_QUARK (codex-auth-error-quark, codex_auth_error)
