// The live relay client (see live_client.h).
#include "core/live_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tidemark/live_address.h"
#include "tidemark/model/trace/format.h"

namespace tidemark::viewer {

namespace fmt = tidemark::model::format;

struct LiveClient::Target {
    int family = AF_UNIX;
    sockaddr_storage addr{};
    socklen_t len = 0;
};

namespace {

// Fills the socket address for ADDR (tidemark/live_address.h, the syntax `tidemark run --live`
// takes). A viewer connects to a port, it does not pick one: port 0 is refused here.
bool to_sockaddr(const std::string& text, sockaddr_storage& ss, socklen_t& len, int& family, std::string& error) {
    LiveAddress addr;
    if (!parse_live_address(text, addr, error)) return false;
    ss = sockaddr_storage{};
    switch (addr.kind) {
        case LiveAddress::Kind::Unix: {
            auto* a = reinterpret_cast<sockaddr_un*>(&ss);
            a->sun_family = AF_UNIX;
            std::memcpy(a->sun_path, addr.path.c_str(), addr.path.size() + 1);
            len = sizeof *a;
            family = AF_UNIX;
            return true;
        }
        case LiveAddress::Kind::Inet6: {
            auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
            a->sin6_family = AF_INET6;
            a->sin6_addr = in6addr_loopback;
            a->sin6_port = htons(addr.port);
            len = sizeof *a;
            family = AF_INET6;
            break;
        }
        case LiveAddress::Kind::Inet4: {
            auto* a = reinterpret_cast<sockaddr_in*>(&ss);
            a->sin_family = AF_INET;
            std::memcpy(&a->sin_addr, addr.ip4, 4);
            a->sin_port = htons(addr.port);
            len = sizeof *a;
            family = AF_INET;
            break;
        }
    }
    if (addr.port == 0) {
        error = "`" + text + "`: port 0 is for `tidemark run --live` to pick a port; connect to the port it printed";
        return false;
    }
    return true;
}

std::string size_text(uint64_t n) {
    char buf[32];
    if (n < 1024) {
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
    } else if (n < (1u << 20)) {
        std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / 1024.0);
    } else if (n < (1ull << 30)) {
        std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1024.0 * 1024.0));
    } else {
        std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(n) / (1024.0 * 1024.0 * 1024.0));
    }
    return buf;
}

bool read_at(int fd, uint8_t* p, size_t n, uint64_t off) {
    while (n > 0) {
        const ssize_t k = ::pread(fd, p, n, static_cast<off_t>(off));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        p += k;
        n -= static_cast<size_t>(k);
        off += static_cast<uint64_t>(k);
    }
    return true;
}

// A closed trace (docs/FORMAT.md "Footer"): the file header's magic, then in the last 16 bytes the
// footer's magic and CRC, pointing at an Index chunk that ends exactly where the footer begins.
bool ends_with_footer(int fd, uint64_t size) {
    if (size < fmt::kFileHeaderBytes + fmt::kChunkHeaderBytes + fmt::kFooterBytes) return false;
    uint8_t head[sizeof fmt::kFileMagic];
    if (!read_at(fd, head, sizeof head, 0) || std::memcmp(head, fmt::kFileMagic, sizeof head) != 0) return false;
    uint8_t ft[fmt::kFooterBytes];
    const uint64_t footer_at = size - fmt::kFooterBytes;
    if (!read_at(fd, ft, sizeof ft, footer_at)) return false;
    if (fmt::get_u32(ft + 12) != fmt::kFooterMagic || fmt::crc32(ft, 8) != fmt::get_u32(ft + 8)) return false;
    const uint64_t index_at = fmt::get_u64(ft);
    if (index_at < fmt::kFileHeaderBytes || index_at + fmt::kChunkHeaderBytes > footer_at) return false;
    uint8_t ch[fmt::kChunkHeaderBytes];
    if (!read_at(fd, ch, sizeof ch, index_at)) return false;
    if (fmt::get_u32(ch) != fmt::kChunkMagic || ch[4] != static_cast<uint8_t>(fmt::ChunkType::Index)) return false;
    return index_at + fmt::kChunkHeaderBytes + fmt::get_u32(ch + 8) == footer_at;
}

int64_t mono_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

std::unique_ptr<LiveClient> LiveClient::connect(const std::string& addr, std::string& error) {
    try {
        std::unique_ptr<LiveClient> c(new LiveClient());
        c->addr_text_ = addr;
        c->target_ = std::make_unique<Target>();
        if (!to_sockaddr(addr, c->target_->addr, c->target_->len, c->target_->family, error)) return nullptr;

        std::string dir = "/tmp";
        if (const char* t = std::getenv("TMPDIR"); t && *t) dir = t;
        std::string templ = dir + "/tidemark-live-XXXXXX.tidemark";
        const int fd = ::mkstemps(templ.data(), 9);
        if (fd < 0) {
            error = "cannot create a temporary file in " + dir + ": " + std::strerror(errno) +
                    "; set TMPDIR to a writable directory";
            return nullptr;
        }
        ::fchmod(fd, 0600);
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        c->file_fd_ = fd;
        c->path_ = templ;

        int pipe_fds[2];
        if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
            error = std::string("cannot create a pipe: ") + std::strerror(errno);
            return nullptr;  // the destructor removes the file
        }
        c->wake_read_ = pipe_fds[0];
        c->wake_write_ = pipe_fds[1];
        LiveClient* self = c.get();
        c->thread_ = std::thread([self] { self->run(); });
        return c;
    } catch (const std::exception& e) {
        error = std::string("cannot start the live client: ") + e.what();
        return nullptr;
    }
}

LiveClient::~LiveClient() {
    if (wake_write_ >= 0) {
        const char b = 1;
        [[maybe_unused]] const ssize_t n = ::write(wake_write_, &b, 1);
    }
    if (thread_.joinable()) thread_.join();
    if (wake_read_ >= 0) ::close(wake_read_);
    if (wake_write_ >= 0) ::close(wake_write_);
    if (file_fd_ >= 0) ::close(file_fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
}

std::string LiveClient::status_text() const {
    const uint64_t n = bytes_received();
    switch (state()) {
        case State::Connecting: return "live: connecting to " + addr_text_ + "…";
        case State::Receiving: return "live: receiving from " + addr_text_ + " (" + size_text(n) + ")";
        case State::Ended: return "session ended: " + size_text(n) + " received from " + addr_text_;
        case State::Dropped: break;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    return "connection lost: " + why_;
}

void LiveClient::fail(std::string why) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        why_ = std::move(why);
    }
    state_.store(State::Dropped, std::memory_order_release);
}

bool LiveClient::wait_stop(int timeout_ms) const {
    pollfd p{wake_read_, POLLIN, 0};
    const int r = ::poll(&p, 1, timeout_ms);
    return r > 0;
}

int LiveClient::connect_socket(std::string& why) {
    const int64_t give_up = mono_ms() + kConnectRetryMs;
    for (;;) {
        const int s = ::socket(target_->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s < 0) {
            why = std::string("cannot create a socket: ") + std::strerror(errno);
            return -1;
        }
        int err = 0;
        if (::connect(s, reinterpret_cast<const sockaddr*>(&target_->addr), target_->len) != 0) {
            err = errno;
            if (err == EINPROGRESS || err == EINTR) {
                pollfd p[2] = {{s, POLLOUT, 0}, {wake_read_, POLLIN, 0}};
                int r;
                do r = ::poll(p, 2, static_cast<int>(std::max<int64_t>(0, give_up - mono_ms())));
                while (r < 0 && errno == EINTR);
                if (p[1].revents) {
                    ::close(s);
                    why.clear();
                    return -1;
                }
                socklen_t len = sizeof err;
                if (r == 0) {
                    err = ETIMEDOUT;
                } else if (::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
                    err = errno;
                }
            }
        }
        if (err == 0) return s;
        ::close(s);
        // Nothing listening yet (the agent may be starting) or its backlog is full: retry a while.
        const bool retry = err == ENOENT || err == ECONNREFUSED || err == EAGAIN;
        if (!retry || mono_ms() >= give_up) {
            why = "cannot connect to " + addr_text_ + ": " + std::strerror(err) +
                  (retry ? " (is `tidemark run --live " + addr_text_ + "` running?)" : "");
            return -1;
        }
        if (wait_stop(100)) {
            why.clear();
            return -1;
        }
    }
}

void LiveClient::run() {
    try {
        std::string why;
        const int s = connect_socket(why);
        if (s < 0) {
            fail(why.empty() ? "closed by the viewer" : why);
            return;
        }
        state_.store(State::Receiving, std::memory_order_release);
        std::vector<uint8_t> buf(64 * 1024);
        uint64_t size = 0;
        for (;;) {
            pollfd p[2] = {{s, POLLIN, 0}, {wake_read_, POLLIN, 0}};
            const int r = ::poll(p, 2, -1);
            if (r < 0) {
                if (errno == EINTR) continue;
                fail(std::string("poll failed: ") + std::strerror(errno));
                break;
            }
            if (p[1].revents) {
                fail("closed by the viewer");
                break;
            }
            const ssize_t n = ::recv(s, buf.data(), buf.size(), 0);
            if (n < 0) {
                if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
                fail("the connection to " + addr_text_ + " failed: " + std::strerror(errno));
                break;
            }
            if (n == 0) {
                if (ends_with_footer(file_fd_, size)) {
                    state_.store(State::Ended, std::memory_order_release);
                } else {
                    fail(addr_text_ + " closed the connection before the trace was complete (" +
                         size_text(size) + " received; the session was killed or could not finish its trace)");
                }
                break;
            }
            const uint8_t* q = buf.data();
            size_t left = static_cast<size_t>(n);
            bool written = true;
            while (left > 0) {
                const ssize_t w = ::pwrite(file_fd_, q, left, static_cast<off_t>(size));
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) {
                    fail("cannot write the temporary file " + path_ + ": " +
                         std::strerror(w < 0 ? errno : ENOSPC));
                    written = false;
                    break;
                }
                q += w;
                left -= static_cast<size_t>(w);
                size += static_cast<uint64_t>(w);
                bytes_.store(size, std::memory_order_relaxed);
            }
            if (!written) break;
        }
        ::close(s);
    } catch (const std::exception& e) {
        fail(std::string("internal error: ") + e.what());
    }
}

}  // namespace tidemark::viewer
