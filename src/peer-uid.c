/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The UID of a loopback TCP peer, from the kernel's sock_diag. */
#include "config.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer-uid.h"

typedef struct {
  struct nlmsghdr header;
  struct inet_diag_req_v2 request;
} DiagRequest;

static gboolean
socket_addresses (GSocket *sock, struct sockaddr_storage *local, struct sockaddr_storage *remote,
                  GError **error)
{
  socklen_t len = sizeof *local;
  int fd = g_socket_get_fd (sock);

  if (getsockname (fd, (struct sockaddr *) local, &len) < 0 ||
      (len = sizeof *remote, getpeername (fd, (struct sockaddr *) remote, &len)) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "The connection's addresses: %s",
                   g_strerror (saved));
      return FALSE;
    }
  if (local->ss_family != remote->ss_family || (local->ss_family != AF_INET && local->ss_family != AF_INET6))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "Not a TCP/IP connection");
      return FALSE;
    }
  return TRUE;
}

/* The peer's socket: its source is our connection's remote end. */
static void
fill_request (DiagRequest *req, const struct sockaddr_storage *local, const struct sockaddr_storage *remote)
{
  memset (req, 0, sizeof *req);
  req->header.nlmsg_len = sizeof *req;
  req->header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req->header.nlmsg_flags = NLM_F_REQUEST;
  req->request.sdiag_family = local->ss_family;
  req->request.sdiag_protocol = IPPROTO_TCP;
  req->request.idiag_states = ~0u;
  req->request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  req->request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  if (local->ss_family == AF_INET)
    {
      const struct sockaddr_in *l = (const struct sockaddr_in *) local, *r = (const struct sockaddr_in *) remote;
      req->request.id.idiag_sport = r->sin_port;
      req->request.id.idiag_dport = l->sin_port;
      memcpy (req->request.id.idiag_src, &r->sin_addr, sizeof r->sin_addr);
      memcpy (req->request.id.idiag_dst, &l->sin_addr, sizeof l->sin_addr);
    }
  else
    {
      const struct sockaddr_in6 *l = (const struct sockaddr_in6 *) local, *r = (const struct sockaddr_in6 *) remote;
      req->request.id.idiag_sport = r->sin6_port;
      req->request.id.idiag_dport = l->sin6_port;
      memcpy (req->request.id.idiag_src, &r->sin6_addr, sizeof r->sin6_addr);
      memcpy (req->request.id.idiag_dst, &l->sin6_addr, sizeof l->sin6_addr);
    }
}

static gboolean
read_answer (int fd, uid_t *uid, GError **error)
{
  /* One answer: an inet_diag_msg (and attributes we did not ask for), or
   * an error. */
  union {
    struct nlmsghdr header;
    char bytes[8192];
  } buf;
  ssize_t n;

  do
    n = recv (fd, &buf, sizeof buf, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "sock_diag: %s", g_strerror (saved));
      return FALSE;
    }
  for (struct nlmsghdr *h = &buf.header; NLMSG_OK (h, (size_t) n); h = NLMSG_NEXT (h, n))
    {
      if (h->nlmsg_type == NLMSG_ERROR)
        {
          const struct nlmsgerr *err = NLMSG_DATA (h);
          int code = h->nlmsg_len >= NLMSG_LENGTH (sizeof *err) ? -err->error : EPROTO;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (code), "sock_diag: the peer socket: %s",
                       g_strerror (code));
          return FALSE;
        }
      if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY && h->nlmsg_len >= NLMSG_LENGTH (sizeof (struct inet_diag_msg)))
        {
          const struct inet_diag_msg *msg = NLMSG_DATA (h);
          *uid = msg->idiag_uid;
          return TRUE;
        }
    }
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "sock_diag: no answer about the peer socket");
  return FALSE;
}

gboolean
peer_uid_of_connection (GSocket *sock, uid_t *uid, GError **error)
{
  struct sockaddr_storage local, remote;
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  DiagRequest req;
  gboolean ok;
  int fd;

  g_return_val_if_fail (G_IS_SOCKET (sock), FALSE);
  if (!socket_addresses (sock, &local, &remote, error))
    return FALSE;
  fill_request (&req, &local, &remote);
  fd = socket (AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "sock_diag: %s", g_strerror (saved));
      return FALSE;
    }
  if (sendto (fd, &req, sizeof req, 0, (struct sockaddr *) &kernel, sizeof kernel) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "sock_diag: %s", g_strerror (saved));
      close (fd);
      return FALSE;
    }
  ok = read_answer (fd, uid, error);
  close (fd);
  return ok;
}
