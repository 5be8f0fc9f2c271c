// A minimal echo server on 127.0.0.1: the physical limit for bench/bench_serve.py (issue 16). Every
// byte a client sends comes straight back; nothing is parsed.
//
// Standalone: c++ -O2 -std=c++20 -pthread echo_server.cc -o echo_server
//
// Usage: echo_server [--port P] [--port_file F] [--threads T] [--model epoll|thread]
//   --port 0 (default) lets the system pick; the bound port is written to --port_file (and stdout).
//   epoll (default): T worker threads (default 2), each an edge-triggered epoll loop over its share of
//   the connections (handed out round robin by the accepting thread). thread: one blocking thread per
//   connection. Runs until SIGTERM/SIGINT.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true); }

struct Conn {
  int fd = -1;
  std::string pending;  // bytes read but not yet written back
  size_t off = 0;
};

// Writes back what it can; false if the connection failed.
bool drain(Conn& c) {
  while (c.off < c.pending.size()) {
    ssize_t k = ::send(c.fd, c.pending.data() + c.off, c.pending.size() - c.off, MSG_NOSIGNAL);
    if (k > 0) {
      c.off += size_t(k);
      continue;
    }
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
  c.pending.clear();
  c.off = 0;
  return true;
}

void epoll_worker(int ep) {
  std::vector<epoll_event> evs(256);
  std::vector<char> buf(1 << 16);
  while (!g_stop.load(std::memory_order_relaxed)) {
    int n = ::epoll_wait(ep, evs.data(), int(evs.size()), 100);
    for (int i = 0; i < n; ++i) {
      Conn* c = static_cast<Conn*>(evs[size_t(i)].data.ptr);
      bool dead = false;
      if (!drain(*c)) dead = true;
      // Read only while nothing waits to be written back (bounded per connection).
      while (!dead && c->pending.empty()) {
        ssize_t k = ::recv(c->fd, buf.data(), buf.size(), 0);
        if (k > 0) {
          ssize_t w = ::send(c->fd, buf.data(), size_t(k), MSG_NOSIGNAL);
          if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            dead = true;
            break;
          }
          if (w < 0) w = 0;
          if (w < k) c->pending.assign(buf.data() + w, size_t(k - w));
          continue;
        }
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        dead = true;
      }
      if (dead) {
        ::epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
        ::close(c->fd);
        delete c;
      }
    }
  }
}

void thread_conn(int fd) {
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t k = ::recv(fd, buf.data(), buf.size(), 0);
    if (k <= 0) break;
    ssize_t off = 0;
    while (off < k) {
      ssize_t w = ::send(fd, buf.data() + off, size_t(k - off), MSG_NOSIGNAL);
      if (w <= 0) {
        ::close(fd);
        return;
      }
      off += w;
    }
  }
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0, threads = 2;
  std::string port_file, model = "epoll";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "echo_server: missing value after %s\n", a.c_str());
      return 2;
    }
    std::string v = argv[++i];
    if (a == "--port") {
      port = std::atoi(v.c_str());
    } else if (a == "--port_file") {
      port_file = v;
    } else if (a == "--threads") {
      threads = std::max(1, std::atoi(v.c_str()));
    } else if (a == "--model") {
      model = v;
    } else {
      std::fprintf(stderr, "echo_server: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);

  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(lfd, 4096) != 0) {
    std::perror("echo_server: bind/listen");
    return 1;
  }
  socklen_t len = sizeof a;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (f == nullptr) return 1;
    std::fprintf(f, "%d\n", port);
    std::fclose(f);
    std::rename(tmp.c_str(), port_file.c_str());
  }
  std::printf("%d\n", port);
  std::fflush(stdout);

  std::vector<int> eps;
  std::vector<std::thread> workers;
  if (model == "epoll") {
    for (int i = 0; i < threads; ++i) {
      eps.push_back(::epoll_create1(0));
      workers.emplace_back(epoll_worker, eps.back());
    }
  }
  // The accept loop: poll the listener with a timeout so that a signal ends it.
  ::fcntl(lfd, F_SETFL, ::fcntl(lfd, F_GETFL) | O_NONBLOCK);
  int aep = ::epoll_create1(0);
  epoll_event lev{};
  lev.events = EPOLLIN;
  ::epoll_ctl(aep, EPOLL_CTL_ADD, lfd, &lev);
  size_t next = 0;
  while (!g_stop.load()) {
    epoll_event ev;
    if (::epoll_wait(aep, &ev, 1, 100) <= 0) continue;
    for (;;) {
      int fd = ::accept4(lfd, nullptr, nullptr, model == "epoll" ? SOCK_NONBLOCK : 0);
      if (fd < 0) break;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (model == "epoll") {
        Conn* c = new Conn;
        c->fd = fd;
        epoll_event cev{};
        cev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
        cev.data.ptr = c;
        ::epoll_ctl(eps[next++ % eps.size()], EPOLL_CTL_ADD, fd, &cev);
      } else {
        std::thread(thread_conn, fd).detach();
      }
    }
  }
  for (auto& t : workers) t.join();
  ::close(lfd);
  return 0;
}
