// The live relay of `tidemark run --live` (see live_relay.h).
#include "live_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace tidemark::agent {

namespace {

int64_t mono_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

LiveRelay::~LiveRelay() { close(); }

bool LiveRelay::open(const LiveAddress& addr, std::string& error) {
    close();
    piece_.resize(kPieceBytes);
    if (addr.kind == LiveAddress::Kind::Unix) {
        const std::string& path = addr.path;
        struct stat st {};
        if (::lstat(path.c_str(), &st) == 0) {
            if (!S_ISSOCK(st.st_mode)) {
                error = "cannot listen on unix:" + path + ": the file exists and is not a socket; it is "
                        "not replaced — choose another path";
                return false;
            }
            // A socket file: in use by a live session, or left behind by one that was killed.
            const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_un a{};
            a.sun_family = AF_UNIX;
            std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
            const bool live = probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
            if (probe >= 0) ::close(probe);
            if (live) {
                error = "cannot listen on unix:" + path + ": another program (a running `tidemark run "
                        "--live`?) is listening there; choose another path";
                return false;
            }
            ::unlink(path.c_str());  // stale: its owner is gone
        }
        listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (listen_fd_ < 0) {
            error = std::string("cannot create a Unix socket: ") + std::strerror(errno);
            return false;
        }
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
        const mode_t old_mask = ::umask(0177);  // the socket file is created 0600
        const int bound = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        const int bind_errno = errno;
        ::umask(old_mask);
        if (bound != 0) {
            error = "cannot listen on unix:" + path + ": " + std::strerror(bind_errno);
            close();
            return false;
        }
        unix_path_ = path;
        if (::lstat(path.c_str(), &st) == 0) {
            unix_dev_ = st.st_dev;
            unix_ino_ = st.st_ino;
        }
        address_ = "unix:" + path;
    } else {
        const bool v6 = addr.kind == LiveAddress::Kind::Inet6;
        listen_fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (listen_fd_ < 0) {
            error = std::string("cannot create a TCP socket: ") + std::strerror(errno);
            return false;
        }
        const int one = 1;
        ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_storage ss{};
        socklen_t len = 0;
        if (v6) {
            ::setsockopt(listen_fd_, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
            auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
            a->sin6_family = AF_INET6;
            a->sin6_addr = in6addr_loopback;
            a->sin6_port = htons(addr.port);
            len = sizeof *a;
        } else {
            auto* a = reinterpret_cast<sockaddr_in*>(&ss);
            a->sin_family = AF_INET;
            std::memcpy(&a->sin_addr, addr.ip4, 4);
            a->sin_port = htons(addr.port);
            len = sizeof *a;
        }
        char host[INET6_ADDRSTRLEN] = "";
        if (v6) {
            std::strcpy(host, "::1");
        } else {
            inet_ntop(AF_INET, addr.ip4, host, sizeof host);
        }
        const std::string shown = v6 ? "[" + std::string(host) + "]" : std::string(host);
        if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
            error = "cannot listen on " + shown + ":" + std::to_string(addr.port) + ": " + std::strerror(errno);
            close();
            return false;
        }
        socklen_t got = sizeof ss;
        uint16_t port = addr.port;
        if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &got) == 0)
            port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                            : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
        address_ = shown + ":" + std::to_string(port);
    }
    if (::listen(listen_fd_, 16) != 0) {
        error = "cannot listen on " + address_ + ": " + std::strerror(errno);
        close();
        return false;
    }
    spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    return true;
}

bool LiveRelay::attach_file(const std::string& path, std::string& error) {
    if (file_fd_ >= 0) ::close(file_fd_);
    file_fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (file_fd_ < 0) {
        error = "cannot read the trace " + path + " back for the live relay: " + std::strerror(errno);
        return false;
    }
    struct stat st {};
    if (::fstat(file_fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(file_fd_);
        file_fd_ = -1;
        error = "the trace " + path + " is not a regular file, so the live relay has nothing to send";
        return false;
    }
    return true;
}

uint64_t LiveRelay::file_size() const {
    if (file_fd_ < 0) return 0;
    struct stat st {};
    if (::fstat(file_fd_, &st) != 0 || st.st_size < 0) return 0;
    return static_cast<uint64_t>(st.st_size);
}

void LiveRelay::accept_pending() {
    while (listen_fd_ >= 0) {
        const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if ((errno == EMFILE || errno == ENFILE) && spare_fd_ >= 0) {
                // Out of descriptors: shed the pending viewer, so poll() does not spin on it.
                ::close(spare_fd_);
                const int shed = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
                if (shed >= 0) ::close(shed);
                spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (shed >= 0) continue;
            }
            return;
        }
        if (viewers_.size() >= kMaxViewers) {
            ::close(c);
            continue;
        }
        Viewer v;
        v.fd = c;
        viewers_.push_back(v);
    }
}

void LiveRelay::send_some(Viewer& v, uint64_t size) {
    for (size_t piece = 0; piece < kPiecesPerTurn && v.offset < size; ++piece) {
        const size_t want = static_cast<size_t>(std::min<uint64_t>(kPieceBytes, size - v.offset));
        ssize_t got;
        do got = ::pread(file_fd_, piece_.data(), want, static_cast<off_t>(v.offset));
        while (got < 0 && errno == EINTR);
        if (got <= 0) return;
        ssize_t sent;
        do sent = ::send(v.fd, piece_.data(), static_cast<size_t>(got), MSG_NOSIGNAL | MSG_DONTWAIT);
        while (sent < 0 && errno == EINTR);
        if (sent < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) v.drop = true;
            return;
        }
        v.offset += static_cast<uint64_t>(sent);
        if (sent < got) return;  // its socket buffer is full: it lags
    }
}

// Viewers have nothing to say; what they send is discarded. End of file = the viewer left.
void LiveRelay::read_discard(Viewer& v) {
    ssize_t n;
    do n = ::recv(v.fd, piece_.data(), piece_.size(), MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) v.drop = true;
}

void LiveRelay::prune() {
    for (auto& v : viewers_)
        if (v.drop && v.fd >= 0) {
            ::close(v.fd);
            v.fd = -1;
        }
    viewers_.erase(std::remove_if(viewers_.begin(), viewers_.end(), [](const Viewer& v) { return v.fd < 0; }),
                   viewers_.end());
}

void LiveRelay::add_poll_fds(std::vector<pollfd>& fds) {
    poll_first_ = fds.size();
    poll_listener_ = listen_fd_ >= 0;
    if (poll_listener_) fds.push_back({listen_fd_, POLLIN, 0});
    const uint64_t size = file_size();
    for (const auto& v : viewers_)
        fds.push_back({v.fd, static_cast<short>(POLLIN | (v.offset < size ? POLLOUT : 0)), 0});
    poll_viewers_ = viewers_.size();
}

void LiveRelay::on_poll(const std::vector<pollfd>& fds) {
    size_t i = poll_first_;
    bool pending = false;
    if (poll_listener_ && i < fds.size()) pending = (fds[i++].revents & POLLIN) != 0;
    const uint64_t size = file_size();
    for (size_t k = 0; k < poll_viewers_ && k < viewers_.size() && i < fds.size(); ++k, ++i) {
        Viewer& v = viewers_[k];
        const short re = fds[i].revents;
        if (!re || fds[i].fd != v.fd) continue;
        if (re & POLLIN) read_discard(v);
        if (re & (POLLERR | POLLHUP | POLLNVAL)) v.drop = true;
        if (!v.drop && (re & POLLOUT)) send_some(v, size);
    }
    poll_viewers_ = 0;
    poll_listener_ = false;
    prune();
    if (pending) accept_pending();
}

void LiveRelay::finish(int timeout_ms) {
    accept_pending();
    close_listener();
    const int64_t deadline = mono_ms() + timeout_ms;
    std::vector<pollfd> fds;
    for (;;) {
        const uint64_t size = file_size();
        for (auto& v : viewers_)
            if (!v.shut && v.offset >= size) {
                // Everything sent: end our side; the viewer closes once it has read it all.
                ::shutdown(v.fd, SHUT_WR);
                v.shut = true;
            }
        prune();
        const int64_t left = deadline - mono_ms();
        if (viewers_.empty() || left <= 0) break;
        fds.clear();
        for (const auto& v : viewers_)
            fds.push_back({v.fd, static_cast<short>(POLLIN | (v.shut ? 0 : POLLOUT)), 0});
        const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left));
        if (ready < 0 && errno != EINTR) break;
        if (ready <= 0) continue;
        for (size_t k = 0; k < viewers_.size(); ++k) {
            Viewer& v = viewers_[k];
            const short re = fds[k].revents;
            if (re & POLLIN) read_discard(v);
            if (re & (POLLERR | POLLHUP | POLLNVAL)) v.drop = true;
            if (!v.drop && !v.shut && (re & POLLOUT)) send_some(v, size);
        }
    }
    close();
}

void LiveRelay::close_listener() {
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
    if (spare_fd_ >= 0) ::close(spare_fd_);
    spare_fd_ = -1;
    if (!unix_path_.empty()) {
        // Only the socket we created: someone may have replaced it since.
        struct stat st {};
        if (::lstat(unix_path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == unix_dev_ &&
            st.st_ino == unix_ino_)
            ::unlink(unix_path_.c_str());
        unix_path_.clear();
    }
}

void LiveRelay::close() {
    for (auto& v : viewers_)
        if (v.fd >= 0) ::close(v.fd);
    viewers_.clear();
    close_listener();
    if (file_fd_ >= 0) ::close(file_fd_);
    file_fd_ = -1;
    poll_viewers_ = 0;
    poll_listener_ = false;
}

}  // namespace tidemark::agent
