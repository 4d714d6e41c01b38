// A client for node's inspector (the Chrome DevTools Protocol over a WebSocket on loopback), for
// `tidemark attach`: find the debugger URL a port serves, open a session, make calls and wait for
// their replies. Built on websocketpp + asio (Debian's libwebsocketpp-dev, libasio-dev) in a
// library of its own compiled as C++17 (websocketpp 0.8 does not compile as C++20); this header
// shows none of it. Single-threaded: every call drives the connection until its reply or deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace tidemark::agent::inspector {

// GET http://127.0.0.1:PORT/json/list: the first target's webSocketDebuggerUrl. "" when the port
// does not answer as an inspector does (error says why).
std::string debugger_url(uint16_t port, std::chrono::milliseconds timeout, std::string& error);

class Client {
public:
    Client();
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Opens the WebSocket (ws://127.0.0.1:PORT/UUID only). false with error when it cannot: refused,
    // or the inspector already serves another client.
    bool connect(const std::string& ws_url, std::chrono::milliseconds timeout, std::string& error);

    // Sends {"id": N, "method": method, "params": params_json} and waits for the reply with that id.
    // Events that arrive meanwhile are kept (the last 1,024) for wait_event. true: result_json is
    // the reply's "result" object; false: error is the protocol's error message, or a timeout, or
    // the connection closing.
    bool call(const std::string& method, const std::string& params_json, std::string& result_json,
              std::chrono::milliseconds timeout, std::string& error);

    // The first event, kept or arriving within the timeout (0: kept ones only), for which
    // match(method, params_json) is true; it is removed from those kept. false on timeout or close.
    using EventMatch = std::function<bool(const std::string& method, const std::string& params_json)>;
    bool wait_event(const EventMatch& match, std::string& method, std::string& params_json,
                    std::chrono::milliseconds timeout, std::string& error);

    // Closes the WebSocket (waits up to the timeout for the close handshake).
    void close(std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tidemark::agent::inspector
