/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The caller check: method calls to the object are served only to peers
 * of the daemon's UID, found asynchronously from the bus. */
#define G_LOG_DOMAIN "codex-authd-access"

#include "config.h"

#include <errno.h>
#include <string.h>

#include <gio/gio.h>

#include "bus-access.h"
#include "bus-glib.h"

/* Calls held per sender while its UID is looked up; more are refused. */
#define MAX_HELD_PER_SENDER 1024

typedef enum {
  PEER_PENDING,
  PEER_ALLOWED,
  PEER_DENIED,
} PeerVerdict;

typedef struct {
  BusAccess *access;
  char *sender;
  PeerVerdict verdict;
  uid_t uid;
  gboolean gone;           /* disconnected while the lookup ran */
  GPtrArray *held;         /* sd_bus_message* */
  sd_bus_slot *lookup_slot;
} Peer;

struct _BusAccess {
  sd_bus *bus;
  char *object_path;
  char *denied_error_name;
  uid_t allowed_uid;
  sd_bus_slot *filter_slot;
  sd_bus_slot *disconnect_slot;
  GHashTable *peers; /* unique name -> Peer */
};

static void
held_message_free (gpointer m)
{
  sd_bus_message_unref (m);
}

static void
peer_free (gpointer data)
{
  Peer *peer = data;

  sd_bus_slot_unref (peer->lookup_slot);
  g_ptr_array_unref (peer->held);
  g_free (peer->sender);
  g_free (peer);
}

static gboolean
is_guarded_call (BusAccess *access, sd_bus_message *m)
{
  const char *path, *iface;
  gsize len;

  if (!sd_bus_message_is_method_call (m, NULL, NULL))
    return FALSE;
  path = sd_bus_message_get_path (m);
  iface = sd_bus_message_get_interface (m);
  if (path == NULL)
    return FALSE;
  /* Peer.Ping and Peer.GetMachineId reveal nothing. */
  if (g_strcmp0 (iface, "org.freedesktop.DBus.Peer") == 0)
    return FALSE;
  len = strlen (access->object_path);
  return strncmp (path, access->object_path, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

static int
refuse (BusAccess *access, sd_bus_message *m, gboolean uid_known, uid_t uid)
{
  if (uid_known)
    return sd_bus_reply_method_errorf (m, access->denied_error_name,
                                       "Access denied: this service serves only its own user (UID %u); "
                                       "the caller runs as UID %u",
                                       (unsigned) access->allowed_uid, (unsigned) uid);
  return sd_bus_reply_method_errorf (m, access->denied_error_name,
                                     "Access denied: the caller's UID could not be determined");
}

static int
lookup_reply_cb (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Peer *peer = userdata;
  BusAccess *access = peer->access;
  g_autoptr(GPtrArray) held = NULL;
  uint32_t uid = 0;
  gboolean uid_known = FALSE;

  peer->lookup_slot = sd_bus_slot_unref (peer->lookup_slot);

  if (sd_bus_message_is_method_error (reply, NULL))
    g_message ("Cannot determine the UID of %s: %s; refusing the calls held, asking again on the next",
               peer->sender, sd_bus_message_get_error (reply)->message);
  else if (sd_bus_message_read (reply, "u", &uid) >= 0)
    uid_known = TRUE;

  peer->uid = uid;
  peer->verdict = (uid_known && uid == access->allowed_uid) ? PEER_ALLOWED : PEER_DENIED;
  if (peer->verdict == PEER_DENIED && uid_known)
    g_message ("Refusing calls from %s (UID %u)", peer->sender, (unsigned) uid);

  held = g_steal_pointer (&peer->held);
  peer->held = g_ptr_array_new_with_free_func (held_message_free);

  for (guint i = 0; i < held->len; i++)
    {
      sd_bus_message *m = g_ptr_array_index (held, i);
      int r;

      if (peer->verdict == PEER_ALLOWED)
        r = sd_bus_enqueue_for_read (access->bus, m);
      else
        r = refuse (access, m, uid_known, uid);
      if (r < 0)
        g_debug ("Cannot handle a held call from %s: %s, ignoring", peer->sender, g_strerror (-r));
    }

  /* A failed lookup is not a verdict: the next call asks again. */
  if (peer->gone || !uid_known)
    g_hash_table_remove (access->peers, peer->sender);
  return 0;
}

static int
filter_cb (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  BusAccess *access = userdata;
  const char *sender;
  Peer *peer;
  int r;

  if (!is_guarded_call (access, m))
    return 0;

  sender = sd_bus_message_get_sender (m);
  if (sender == NULL)
    {
      (void) refuse (access, m, FALSE, 0);
      return 1;
    }

  peer = g_hash_table_lookup (access->peers, sender);
  if (peer != NULL && peer->verdict == PEER_ALLOWED)
    return 0;
  if (peer != NULL && peer->verdict == PEER_DENIED)
    {
      (void) refuse (access, m, TRUE, peer->uid);
      return 1;
    }

  if (peer == NULL)
    {
      peer = g_new0 (Peer, 1);
      peer->access = access;
      peer->sender = g_strdup (sender);
      peer->verdict = PEER_PENDING;
      peer->held = g_ptr_array_new_with_free_func (held_message_free);
      g_hash_table_insert (access->peers, peer->sender, peer);

      r = sd_bus_call_method_async (access->bus, &peer->lookup_slot,
                                    "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                    "org.freedesktop.DBus", "GetConnectionUnixUser",
                                    lookup_reply_cb, peer, "s", sender);
      if (r < 0)
        {
          g_warning ("Cannot ask the bus for the UID of %s: %s; refusing the call",
                     sender, g_strerror (-r));
          g_hash_table_remove (access->peers, sender);
          (void) refuse (access, m, FALSE, 0);
          return 1;
        }
    }

  if (peer->held->len >= MAX_HELD_PER_SENDER)
    {
      (void) sd_bus_reply_method_errorf (m, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many calls while the caller is being identified");
      return 1;
    }
  g_ptr_array_add (peer->held, sd_bus_message_ref (m));
  return 1;
}

static int
name_lost_cb (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  BusAccess *access = userdata;
  const char *name = NULL, *old_owner = NULL, *new_owner = NULL;
  Peer *peer;

  if (sd_bus_message_read (m, "sss", &name, &old_owner, &new_owner) < 0 || new_owner[0] != '\0')
    return 0;
  peer = g_hash_table_lookup (access->peers, name);
  if (peer == NULL)
    return 0;
  if (peer->verdict == PEER_PENDING)
    peer->gone = TRUE; /* removed when its lookup answers */
  else
    g_hash_table_remove (access->peers, name);
  return 0;
}

BusAccess *
bus_access_new (sd_bus *bus, const char *object_path, uid_t allowed_uid,
                const char *denied_error_name, GError **error)
{
  g_autoptr(BusAccess) access = g_new0 (BusAccess, 1);
  int r;

  access->bus = sd_bus_ref (bus);
  access->object_path = g_strdup (object_path);
  access->denied_error_name = g_strdup (denied_error_name);
  access->allowed_uid = allowed_uid;
  access->peers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, peer_free);

  r = sd_bus_add_filter (bus, &access->filter_slot, filter_cb, access);
  if (r >= 0)
    r = sd_bus_add_match_async (bus, &access->disconnect_slot,
                                "type='signal',sender='org.freedesktop.DBus',"
                                "path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',"
                                "member='NameOwnerChanged',arg2=''",
                                name_lost_cb, NULL, access);
  if (r < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r),
                   "Cannot install the caller check: %s", g_strerror (-r));
      return NULL;
    }
  return g_steal_pointer (&access);
}

void
bus_access_free (BusAccess *access)
{
  if (access == NULL)
    return;
  sd_bus_slot_unref (access->filter_slot);
  sd_bus_slot_unref (access->disconnect_slot);
  g_clear_pointer (&access->peers, g_hash_table_unref);
  sd_bus_unref (access->bus);
  g_free (access->object_path);
  g_free (access->denied_error_name);
  g_free (access);
}
