// The address syntax of `tidemark run --live ADDR` and `tidemark-viewer --connect ADDR`, parsed
// once for both ends: unix:PATH, 127.x.y.z:PORT, localhost:PORT or [::1]:PORT — loopback only,
// since the relay serves the whole trace without authentication. Header-only; std and the POSIX
// address-conversion headers only (no sockets are opened here).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace tidemark {

struct LiveAddress {
    enum class Kind { Unix, Inet4, Inet6 };
    Kind kind = Kind::Unix;
    std::string path;   // Unix
    uint8_t ip4[4] = {127, 0, 0, 1};  // Inet4
    uint16_t port = 0;  // Inet4/Inet6; 0 = any free port (the relay picks one)
};

namespace live_address_detail {

inline constexpr const char* kAccepted =
    "use unix:PATH, 127.0.0.1:PORT, localhost:PORT or [::1]:PORT (PORT 0 picks a free port)";

inline bool parse_port(const std::string& s, uint16_t& port) {
    if (s.empty() || s.size() > 5) return false;
    uint32_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<uint32_t>(c - '0');
    }
    if (v > 65535) return false;
    port = static_cast<uint16_t>(v);
    return true;
}

inline std::string not_loopback(const std::string& host) {
    return "`" + host + "` is not a loopback address: the relay serves the whole trace without "
           "authentication, so it never listens on the network; " + kAccepted;
}

}  // namespace live_address_detail

// Parses ADDR; false with a message naming what is accepted (non-loopback addresses included).
inline bool parse_live_address(const std::string& text, LiveAddress& out, std::string& error) {
    out = LiveAddress{};
    if (text.rfind("unix:", 0) == 0) {
        out.kind = LiveAddress::Kind::Unix;
        out.path = text.substr(5);
        if (out.path.empty()) {
            error = "`" + text + "` names no socket path; " + live_address_detail::kAccepted;
            return false;
        }
        if (out.path.size() >= sizeof(sockaddr_un{}.sun_path)) {
            error = "the socket path `" + out.path + "` is longer than a Unix socket address allows (" +
                    std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes); choose a shorter one";
            return false;
        }
        return true;
    }
    std::string host, port;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find("]:");
        if (close == std::string::npos) {
            error = "`" + text + "` is not an address; " + live_address_detail::kAccepted;
            return false;
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        in6_addr a{};
        if (inet_pton(AF_INET6, host.c_str(), &a) != 1) {
            error = "`" + host + "` is not an IPv6 address; " + live_address_detail::kAccepted;
            return false;
        }
        if (std::memcmp(&a, &in6addr_loopback, sizeof a) != 0) {
            error = live_address_detail::not_loopback(host);
            return false;
        }
        out.kind = LiveAddress::Kind::Inet6;
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string::npos) {
            error = "`" + text + "` is not an address; " + live_address_detail::kAccepted;
            return false;
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        out.kind = LiveAddress::Kind::Inet4;
        if (host != "localhost") {
            in_addr a{};
            if (inet_pton(AF_INET, host.c_str(), &a) != 1) {
                error = host.find(':') != std::string::npos
                            ? "`" + text + "`: write an IPv6 address in brackets, e.g. [::1]:PORT"
                            : live_address_detail::not_loopback(host);
                return false;
            }
            std::memcpy(out.ip4, &a, 4);
            if (out.ip4[0] != 127) {
                error = live_address_detail::not_loopback(host);
                return false;
            }
        }
    }
    if (!live_address_detail::parse_port(port, out.port)) {
        error = "`" + port + "` is not a port number (0-65535); " + live_address_detail::kAccepted;
        return false;
    }
    return true;
}

}  // namespace tidemark
