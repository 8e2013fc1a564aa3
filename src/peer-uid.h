/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

/* The user that owns the other end of an accepted loopback TCP
 * connection, asked of the kernel through the sock_diag netlink interface
 * (the socket with the connection's addresses swapped is the peer's; its
 * owner is the UID that created it). Loopback only: the peer socket is on
 * this machine. One request and one answer from the kernel on a netlink
 * socket, which never waits on anything outside it.
 *
 * FALSE with @error when the kernel does not know the peer socket (it
 * closed already) or the connection is not loopback TCP. */
gboolean peer_uid_of_connection (GSocket *socket, uid_t *uid, GError **error);
