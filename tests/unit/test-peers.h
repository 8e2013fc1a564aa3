/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Real peers for the unit tests that need them: a dbus-daemon of the
 * test's own (the session bus of the process from then on), and a real
 * gnome-keyring-daemon on it. When a peer's program is not installed the
 * test is skipped with the reason, unless $CODEX_AUTHD_REQUIRE_PEERS is
 * set (the test command sets it), which makes it a failure. */

#include <gio/gio.h>

typedef struct {
  char *dir;
  GSubprocess *proc;
  char *address;
} TestBus;

/* A private bus; DBUS_SESSION_BUS_ADDRESS points at it. FALSE (and the
 * test skipped) when dbus-daemon is missing. */
gboolean test_bus_start (TestBus *bus);
void test_bus_stop (TestBus *bus);

typedef struct {
  char *home; /* HOME and XDG_* of the keyring */
  GSubprocess *proc;
} TestKeyring;

/* gnome-keyring-daemon --foreground --unlock --components=secrets on the
 * session bus, with an unlocked login collection. FALSE (and the test
 * skipped) when it is missing. */
gboolean test_keyring_start (TestKeyring *keyring);
/* Locks the login collection (org.freedesktop.Secret.Service.Lock). */
void test_keyring_lock (TestKeyring *keyring);
/* Kills it and waits until its name is gone from the bus. */
void test_keyring_kill (TestKeyring *keyring);
void test_keyring_stop (TestKeyring *keyring);

/* TRUE when @program is on PATH; else skips the test (or fails it when
 * peers are required) saying so. */
gboolean test_peer_available (const char *program);
