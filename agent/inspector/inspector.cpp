// See inspector.h. websocketpp's asio client driven by run_one_for() from the calling thread.
#include "inspector.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>

#include <nlohmann/json.hpp>
#include <websocketpp/client.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>

namespace tidemark::agent::inspector {

namespace {

using WsClient = websocketpp::client<websocketpp::config::asio_client>;
using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

// A whole HTTP/1.0 exchange on a blocking-with-poll socket: connect, send, read to EOF.
bool http_get(uint16_t port, const std::string& path, std::string& body, std::chrono::milliseconds timeout,
              std::string& error) {
    const auto deadline = Clock::now() + timeout;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        error = std::string("socket: ") + std::strerror(errno);
        return false;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto fail = [&](const std::string& what) {
        error = what;
        ::close(fd);
        return false;
    };
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS)
        return fail(std::string("connect: ") + std::strerror(errno));
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) != 1) return fail("connect: timed out");
    int so_error = 0;
    socklen_t len = sizeof so_error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) return fail(std::string("connect: ") + std::strerror(so_error));
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n\r\n";
    size_t off = 0;
    while (off < request.size()) {
        const ssize_t n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR) return fail(std::string("send: ") + std::strerror(errno));
        if (n > 0) off += static_cast<size_t>(n);
        else if (pollfd q{fd, POLLOUT, 0}; ::poll(&q, 1, remaining_ms(deadline)) != 1) return fail("send: timed out");
    }
    std::string response;
    char buf[4096];
    for (;;) {
        pollfd q{fd, POLLIN, 0};
        if (::poll(&q, 1, remaining_ms(deadline)) != 1) return fail("no answer in time");
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            return fail(std::string("recv: ") + std::strerror(errno));
        }
        response.append(buf, static_cast<size_t>(n));
        if (response.size() > (1u << 20)) return fail("answer too long");
        // node's inspector keeps the connection open after answering: stop at Content-Length.
        if (const size_t head = response.find("\r\n\r\n"); head != std::string::npos) {
            std::string lower = response.substr(0, head);
            for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (const size_t cl = lower.find("\r\ncontent-length:"); cl != std::string::npos) {
                const size_t want = std::strtoul(lower.c_str() + cl + 17, nullptr, 10);
                if (response.size() >= head + 4 + want) break;
            }
        }
    }
    ::close(fd);
    const size_t head_end = response.find("\r\n\r\n");
    if (response.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos) {
        error = "not an HTTP answer";
        return false;
    }
    if (response.compare(9, 3, "200") != 0) {
        error = "HTTP status " + response.substr(9, 3);
        return false;
    }
    body = response.substr(head_end + 4);
    return true;
}

}  // namespace

std::string debugger_url(uint16_t port, std::chrono::milliseconds timeout, std::string& error) {
    std::string body;
    if (!http_get(port, "/json/list", body, timeout, error)) return "";
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_array() || j.empty() || !j[0].is_object() || !j[0].contains("webSocketDebuggerUrl") ||
        !j[0]["webSocketDebuggerUrl"].is_string()) {
        error = "the port answered, but not with an inspector's target list";
        return "";
    }
    std::string url = j[0]["webSocketDebuggerUrl"].get<std::string>();
    const std::string want = "ws://127.0.0.1:" + std::to_string(port) + "/";
    if (url.rfind(want, 0) != 0) {
        error = "the inspector's URL is not on 127.0.0.1:" + std::to_string(port) + " (" + url + ")";
        return "";
    }
    return url;
}

struct Client::Impl {
    WsClient ws;
    websocketpp::connection_hdl hdl;
    bool open = false, failed = false, closed = false;
    std::string fail_reason;
    std::deque<std::string> inbox;
    std::deque<std::pair<std::string, std::string>> events;  // (method, params) seen during calls
    int64_t next_id = 1;

    // Keeps an event (a message without an id) for wait_event: the last 1,024.
    void keep_event(const nlohmann::json& m) {
        if (!m.contains("method") || !m["method"].is_string()) return;
        if (events.size() >= 1024) events.pop_front();
        events.emplace_back(m["method"].get<std::string>(), m.contains("params") ? m["params"].dump() : "{}");
    }

    Impl() {
        ws.clear_access_channels(websocketpp::log::alevel::all);
        ws.clear_error_channels(websocketpp::log::elevel::all);
        ws.init_asio();
        ws.set_open_handler([this](websocketpp::connection_hdl) { open = true; });
        ws.set_fail_handler([this](websocketpp::connection_hdl h) {
            failed = true;
            if (auto con = ws.get_con_from_hdl(h)) {
                fail_reason = con->get_ec().message();
                if (const int code = con->get_response_code(); code != 0 && code != 101)
                    fail_reason += " (HTTP " + std::to_string(code) + ")";
            }
        });
        ws.set_close_handler([this](websocketpp::connection_hdl) { closed = true; });
        ws.set_message_handler([this](websocketpp::connection_hdl, WsClient::message_ptr m) {
            if (inbox.size() < 4096) inbox.push_back(m->get_payload());
        });
    }

    // Runs handlers until done() or the deadline.
    template <class Done>
    void pump(Clock::time_point deadline, Done done) {
        auto& io = ws.get_io_service();
        while (!done() && Clock::now() < deadline) {
            io.restart();
            io.run_one_for(std::chrono::milliseconds(std::max(1, remaining_ms(deadline))));
        }
    }
};

Client::Client() : impl_(std::make_unique<Impl>()) {}
Client::~Client() {
    if (impl_ && impl_->open && !impl_->closed) close(std::chrono::milliseconds(200));
}

bool Client::connect(const std::string& ws_url, std::chrono::milliseconds timeout, std::string& error) {
    if (ws_url.rfind("ws://127.0.0.1:", 0) != 0) {
        error = "only ws://127.0.0.1 inspector URLs are used";
        return false;
    }
    websocketpp::lib::error_code ec;
    auto con = impl_->ws.get_connection(ws_url, ec);
    if (ec) {
        error = ec.message();
        return false;
    }
    impl_->hdl = con->get_handle();
    impl_->ws.connect(con);
    Impl& im = *impl_;
    im.pump(Clock::now() + timeout, [&] { return im.open || im.failed || im.closed; });
    if (im.open) return true;
    error = im.failed ? "the inspector refused the WebSocket: " + im.fail_reason
                      : im.closed ? "the inspector closed the WebSocket" : "the WebSocket did not open in time";
    return false;
}

bool Client::call(const std::string& method, const std::string& params_json, std::string& result_json,
                  std::chrono::milliseconds timeout, std::string& error) {
    Impl& im = *impl_;
    if (!im.open || im.closed) {
        error = "the inspector connection is closed";
        return false;
    }
    const int64_t id = im.next_id++;
    nlohmann::json msg = {{"id", id}, {"method", method}};
    msg["params"] = params_json.empty() ? nlohmann::json::object() : nlohmann::json::parse(params_json, nullptr, false);
    if (msg["params"].is_discarded()) {
        error = "bad parameters";
        return false;
    }
    websocketpp::lib::error_code ec;
    im.ws.send(im.hdl, msg.dump(), websocketpp::frame::opcode::text, ec);
    if (ec) {
        error = "send: " + ec.message();
        return false;
    }
    bool done = false;
    const auto deadline = Clock::now() + timeout;
    while (!done) {
        im.pump(deadline, [&] { return !im.inbox.empty() || im.closed; });
        while (!im.inbox.empty()) {
            const auto reply = nlohmann::json::parse(im.inbox.front(), nullptr, false);
            im.inbox.pop_front();
            if (!reply.is_object()) continue;
            if (!reply.contains("id")) {
                im.keep_event(reply);
                continue;
            }
            if (reply["id"] != id) continue;  // a late reply to an earlier call
            if (reply.contains("error")) {
                const auto& e = reply["error"];
                error = e.is_object() && e.contains("message") && e["message"].is_string()
                            ? e["message"].get<std::string>() : e.dump();
                return false;
            }
            result_json = reply.contains("result") ? reply["result"].dump() : "{}";
            return true;
        }
        if (im.closed) {
            error = "the inspector closed the connection";
            return false;
        }
        if (Clock::now() >= deadline) {
            error = method + " got no reply within " + std::to_string(timeout.count()) + " ms";
            return false;
        }
    }
    return false;
}

bool Client::wait_event(const EventMatch& match, std::string& method, std::string& params_json,
                        std::chrono::milliseconds timeout, std::string& error) {
    Impl& im = *impl_;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        while (!im.inbox.empty()) {
            const auto m = nlohmann::json::parse(im.inbox.front(), nullptr, false);
            im.inbox.pop_front();
            if (m.is_object() && !m.contains("id")) im.keep_event(m);
        }
        for (auto it = im.events.begin(); it != im.events.end(); ++it) {
            if (!match(it->first, it->second)) continue;
            method = it->first;
            params_json = it->second;
            im.events.erase(it);
            return true;
        }
        if (im.closed || !im.open) {
            error = "the inspector connection is closed";
            return false;
        }
        if (Clock::now() >= deadline) {
            error = "no such event within " + std::to_string(timeout.count()) + " ms";
            return false;
        }
        im.pump(deadline, [&] { return !im.inbox.empty() || im.closed; });
    }
}

void Client::close(std::chrono::milliseconds timeout) {
    Impl& im = *impl_;
    if (!im.open || im.closed) return;
    websocketpp::lib::error_code ec;
    im.ws.close(im.hdl, websocketpp::close::status::normal, "", ec);
    if (!ec) im.pump(Clock::now() + timeout, [&] { return im.closed; });
    im.closed = true;
}

}  // namespace tidemark::agent::inspector
