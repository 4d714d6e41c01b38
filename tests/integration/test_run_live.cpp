// `tidemark run --live ADDR` and the viewer's LiveClient: a viewer that connects early and one that
// joins late both receive the trace file byte for byte (the late one from offset 0, so with the
// whole history) and see the session end cleanly; TCP on a port the agent picks works; addresses
// that are not loopback are refused before anything runs; a viewer of an agent killed with
// SIGKILL ends Dropped instead of hanging.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <csignal>
#include <memory>
#include <thread>

#include "core/live_client.h"
#include "background_process.h"
#include "run_helpers.h"
#include "tidemark/model/trace/reader.h"

using namespace tidemark::test;
using tidemark::viewer::LiveClient;

namespace {

double now_s() { return BackgroundProcess::now_s(); }

// `tidemark ARGS…` in the background (its target shares its process group).
class Agent : public BackgroundProcess {
public:
    explicit Agent(const std::vector<std::string>& args) : BackgroundProcess(with_tidemark(args)) {}

private:
    static std::vector<std::string> with_tidemark(const std::vector<std::string>& args) {
        std::vector<std::string> argv{TIDEMARK_BIN};
        argv.insert(argv.end(), args.begin(), args.end());
        return argv;
    }
};

// Waits (bounded) until the client has left Connecting/Receiving.
LiveClient::State wait_settled(const LiveClient& c, double timeout_s) {
    const double until = now_s() + timeout_s;
    while (now_s() < until) {
        const auto s = c.state();
        if (s == LiveClient::State::Ended || s == LiveClient::State::Dropped) return s;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return c.state();
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

const char* state_name(LiveClient::State s) {
    switch (s) {
        case LiveClient::State::Connecting: return "Connecting";
        case LiveClient::State::Receiving: return "Receiving";
        case LiveClient::State::Ended: return "Ended";
        case LiveClient::State::Dropped: return "Dropped";
    }
    return "?";
}

}  // namespace

TEST_CASE("live: an early and a late viewer both receive the whole trace byte for byte", "[run][live]") {
    TempDir dir;
    const std::string sock = dir.file("live.sock");
    const std::string trace = dir.file("t.tidemark");
    Agent agent({"run", "--live", "unix:" + sock, "--out", trace, "--", "node", fixture("live_ticker.js"), "3"});
    REQUIRE(agent.wait_for_err("tidemark: live on unix:" + sock, 15));
    struct stat st {};
    REQUIRE(lstat(sock.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0600);

    std::string error;
    auto early = LiveClient::connect("unix:" + sock, error);
    INFO("connect error: " << error);
    REQUIRE(early);

    // A viewer follows the received file as it grows: records arrive before the session ends.
    agent.sleep_until(1.6);
    INFO("agent stderr: " << agent.err());
    auto late = LiveClient::connect("unix:" + sock, error);
    REQUIRE(late);
    CHECK(early->state() == LiveClient::State::Receiving);
    CHECK(early->bytes_received() > tidemark::model::format::kFileHeaderBytes);
    CHECK(early->status_text().rfind("live: receiving from unix:" + sock, 0) == 0);
    tidemark::model::TraceReader::Options follow;
    follow.follow = true;
    auto opened = tidemark::model::TraceReader::open(early->file_path(), follow);
    REQUIRE(opened.reader);
    tidemark::proto::Record rec;
    uint64_t records_live = 0;
    auto result = tidemark::model::ReadResult::Record;
    while ((result = opened.reader->next(rec)) == tidemark::model::ReadResult::Record) ++records_live;
    CHECK(result == tidemark::model::ReadResult::Pending);
    CHECK(records_live > 0);

    const int code = agent.wait_exit(40);
    REQUIRE(code == 0);
    const auto early_state = wait_settled(*early, 5);
    const auto late_state = wait_settled(*late, 5);
    INFO("early: " << early->status_text() << "; late: " << late->status_text());
    CHECK(state_name(early_state) == std::string("Ended"));
    CHECK(state_name(late_state) == std::string("Ended"));
    CHECK(early->status_text().rfind("session ended", 0) == 0);
    CHECK_FALSE(std::filesystem::exists(sock));  // removed at exit

    // The reader that followed along reaches the end now that the footer is in.
    uint64_t records_total = records_live;
    const double until = now_s() + 5;
    while (now_s() < until) {
        result = opened.reader->next(rec);
        if (result == tidemark::model::ReadResult::Record) { ++records_total; continue; }
        if (result != tidemark::model::ReadResult::Pending) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    INFO("reader error: " << opened.reader->error());
    CHECK(result == tidemark::model::ReadResult::End);
    CHECK(records_total > records_live);

    const std::string written = slurp(trace);
    REQUIRE(written.size() > 200);
    for (const LiveClient* c : {early.get(), late.get()}) {
        CHECK(c->bytes_received() == written.size());
        CHECK(slurp(c->file_path()) == written);
        const auto loaded = tidemark::model::load_timeline(c->file_path());
        CHECK(loaded.error.empty());
        CHECK(loaded.warning.empty());
        const auto& procs = loaded.timeline.processes();
        REQUIRE(procs.size() >= 1);
        REQUIRE_FALSE(procs[0].samples.empty());
        CHECK(procs[0].samples.front().t_s < 1.5);  // the history from the start, late joiner too
        CHECK(procs[0].sample_count >= 15);
    }
    // The temporary files go with their clients.
    const std::string early_file = early->file_path();
    early.reset();
    CHECK_FALSE(std::filesystem::exists(early_file));
}

TEST_CASE("live: TCP on 127.0.0.1:0 prints the port it chose and serves the trace", "[run][live]") {
    TempDir dir;
    const std::string trace = dir.file("t.tidemark");
    Agent agent({"run", "--live", "127.0.0.1:0", "--out", trace, "--", "node", fixture("live_ticker.js"), "1"});
    const std::string prefix = "tidemark: live on 127.0.0.1:";
    REQUIRE(agent.wait_for_err("\n", 15));
    REQUIRE(agent.wait_for_err(prefix, 15));
    const std::string& err = agent.err();
    const auto at = err.find(prefix) + prefix.size();
    const int port = std::stoi(err.substr(at, err.find('\n', at) - at));
    INFO("agent stderr: " << err);
    REQUIRE(port > 0);
    REQUIRE(port < 65536);

    std::string error;
    auto client = LiveClient::connect("localhost:" + std::to_string(port), error);
    INFO("connect error: " << error);
    REQUIRE(client);
    REQUIRE(agent.wait_exit(40) == 0);
    const auto state = wait_settled(*client, 5);
    INFO("client: " << client->status_text());
    CHECK(state_name(state) == std::string("Ended"));
    const std::string written = slurp(trace);
    CHECK(written.size() > 200);
    CHECK(slurp(client->file_path()) == written);
}

TEST_CASE("live: addresses that are not loopback are refused before the command runs", "[run][live][usage]") {
    TempDir dir;
    const std::string marker = dir.file("ran");
    const std::vector<std::string> not_loopback = {"0.0.0.0:9999", "10.1.2.3:80", "example.com:80", "[::]:80"};
    for (const auto& addr : not_loopback) {
        const auto r = run_cli({"run", "--live", addr, "--out", dir.file("t.tidemark"), "--", "/bin/sh", "-c",
                                "touch " + marker});
        INFO(addr << ": " << r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("--live") != std::string::npos);
        CHECK(r.err.find("not a loopback address") != std::string::npos);
        CHECK(r.err.find("unix:PATH") != std::string::npos);
    }
    for (const std::string addr : {"127.0.0.1:99999", "127.0.0.1", "unix:", "[::1]80"}) {
        const auto r = run_cli({"run", "--live", addr, "--", "/bin/sh", "-c", "touch " + marker});
        INFO(addr << ": " << r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("--live") != std::string::npos);
    }
    // An existing file that is not a socket is never replaced.
    const std::string file = dir.file("not-a-socket");
    { std::ofstream(file) << "keep me"; }
    const auto r = run_cli({"run", "--live", "unix:" + file, "--", "/bin/sh", "-c", "touch " + marker});
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("not a socket") != std::string::npos);
    CHECK(slurp(file) == "keep me");
    CHECK_FALSE(std::filesystem::exists(marker));

    std::string error;
    CHECK_FALSE(LiveClient::connect("0.0.0.0:9999", error));
    CHECK(error.find("not a loopback address") != std::string::npos);
}

TEST_CASE("live: a viewer of an agent killed with SIGKILL ends Dropped, not hung", "[run][live][sigkill]") {
    TempDir dir;
    const std::string sock = dir.file("live.sock");
    Agent agent({"run", "--live", "unix:" + sock, "--out", dir.file("t.tidemark"), "--", "node",
                 fixture("live_ticker.js"), "10"});
    REQUIRE(agent.wait_for_err("tidemark: live on", 15));
    std::string error;
    auto client = LiveClient::connect("unix:" + sock, error);
    REQUIRE(client);
    // Until records have reached the viewer (the trace is flushed every 250 ms).
    const double until = agent.seconds() + 10;
    while (client->bytes_received() <= 100 && agent.seconds() < until) agent.pump(50);
    INFO("agent stderr: " << agent.err() << "; client: " << client->status_text());
    REQUIRE(client->bytes_received() > 100);
    REQUIRE(kill(agent.pid(), SIGKILL) == 0);
    const double killed_at = now_s();
    const auto state = wait_settled(*client, 5);
    CHECK(state_name(state) == std::string("Dropped"));
    CHECK(now_s() - killed_at < 3);
    CHECK(client->status_text().rfind("connection lost: ", 0) == 0);
    CHECK(agent.wait_exit(5) == 128 + SIGKILL);
    // The target (same process group) goes with the Agent's destructor.
}

TEST_CASE("live: a client gives up on an address nobody listens at", "[run][live]") {
    TempDir dir;
    std::string error;
    auto client = LiveClient::connect("unix:" + dir.file("nobody.sock"), error);
    REQUIRE(client);
    CHECK(client->state() != LiveClient::State::Ended);
    const double start = now_s();
    client.reset();  // the destructor stops the retrying thread at once
    CHECK(now_s() - start < 0.5);
}
