/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Fakes of the manager's and the store policy's seams, linked in place of
 * the real ones (src/meson.build's io library): the two credential stores
 * (store-file.h, store-secret.h), the Codex CLI's setting (cli-setting.h),
 * auth.lock (auth-lock.h), the daemon's state files (state-files.h), the
 * token endpoint (token-endpoint.h) and the clock (clock.h). They
 * implement exactly those headers, over one world in memory that a test
 * sets up, changes and reads back through `fake`. The store-policy tests
 * and the manager tests use the same fakes. */

#include <gio/gio.h>

#include "auth-record.h"
#include "cli-config.h"
#include "poison-record.h"
#include "refresh-protocol.h"
#include "state-files.h"

typedef enum {
  KEYRING_ITEM,   /* running; holds the item (fake.item) */
  KEYRING_EMPTY,  /* running, no item */
  KEYRING_LOCKED, /* the item exists, locked */
  KEYRING_ABSENT, /* no Secret Service */
} FakeKeyringState;

typedef struct {
  /* ---- the stores ---- */
  FakeKeyringState keyring;
  AuthRecord *item;        /* the keyring item (also kept while locked) */
  AuthRecord *file;        /* auth.json */
  CliStoreSetting cli;     /* cli_auth_credentials_store in config.toml */
  gboolean cli_write_fails;
  /* The operations, in order: "cr cw kl ks kd fl fs fd" (config read and
   * write, keyring load, save, delete, file load, save, delete). */
  GString *log;
  gboolean save_fails;     /* writes to either store fail (a read-only store) */
  guint loads_fail;        /* loads that fail with a store error, counted down */
  guint loads;             /* loads of either store */
  guint saves;             /* successful saves of either store */
  guint removals;          /* successful removals */
  /* When set, a save waits in held_save until fake_complete_held_save(). */
  gboolean hold_saves;
  GTask *held_save;
  AuthRecord *held_record;

  /* ---- auth.lock ---- */
  gboolean lock_held;
  gboolean lock_busy;      /* another process holds it past the wait */

  /* ---- the state files ---- */
  PoisonRecord *poison;
  AuthRecord *rescue;
  char *rescue_base;
  guint poison_writes;
  guint rescue_writes;
  RescuePlace rescue_place; /* of the last rescue write */
  gboolean poison_written_under_lock; /* at the last poison write */
  /* When set, a poison write waits in held_poison_write. */
  gboolean hold_poison_writes;
  GTask *held_poison_write;

  /* ---- the token endpoint ---- */
  GQueue script;           /* RefreshResult*, answered in order */
  GPtrArray *sent;         /* the refresh tokens sent */
  gboolean hold;           /* the next request waits in held */
  GTask *held;
  /* Called when a request is sent, before its answer. */
  void (*on_request) (void);

  /* ---- the clock ---- */
  gint64 now;              /* the monotonic clock, and the wall clock... */
  gint64 wall_step;        /* ...plus this */
  double jitter;
} FakeWorld;

extern FakeWorld fake;

/* A fresh world: keyring running and empty, no auth.json, the CLI's
 * default setting, nothing scripted, the clock at @now. */
void fake_reset (gint64 now);
/* Frees what the world holds; every held request must be completed. */
void fake_clear (void);
/* Every fake store created emits "changed" (a store watch saw a change). */
void fake_emit_changed (void);
/* Completes the save held by hold_saves: it lands in the store. */
void fake_complete_held_save (void);
/* Answers the held token request with @result (taken). */
void fake_answer_held (RefreshResult *result);
