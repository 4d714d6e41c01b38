// Integration tests of the Node tracker (tracker/node): each test opens its own AF_UNIX listener,
// runs real `node -r <libdir>/preload.js` on a fixture from tests/fixtures/tracker/, decodes what
// arrived on the wire with proto::Codec and asserts on it, as the agent would see it.
#include <catch2/catch.hpp>

#include <tidemark/protocol.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <memory>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace proto = tidemark::proto;

namespace {

const std::string kFixtures = std::string(TIDEMARK_FIXTURES) + "/tracker/";
const std::string kPreload = std::string(TIDEMARK_LIB_DIR) + "/preload.js";

enum class ListenerMode { ReadAll, CloseAfterFirstSample, PauseThenRead };

struct Options {
    ListenerMode mode = ListenerMode::ReadAll;
    std::vector<std::string> env;          // extra NAME=value entries
    bool bogus_socket = false;             // point TIDEMARK_SOCKET at a path nobody listens on
    std::chrono::milliseconds pause{0};    // PauseThenRead: how long to leave the socket unread
    bool via_node_options = false;         // load the preload through NODE_OPTIONS, not -r
    std::vector<std::string> node_flags;   // e.g. --expose-gc
};

struct Run {
    int exit_code = -1;
    std::string output;                    // the target's stdout + stderr
    std::vector<proto::Record> records;
    std::map<uint32_t, std::string> strings;
    std::string decode_error;
    std::vector<proto::Hello> hellos;      // first record of every connection, in accept order
    std::vector<std::shared_ptr<Run>> others;  // every later connection (children, workers), in full

    template <class T> std::vector<T> all() const {
        std::vector<T> out;
        for (const auto& r : records)
            if (const auto* x = std::get_if<T>(&r)) out.push_back(*x);
        return out;
    }
    std::string text(uint32_t id) const {
        auto it = strings.find(id);
        return it == strings.end() ? std::string() : it->second;
    }
    // The latest (cumulative) aggregate of short-lived streams of a type.
    const proto::StreamAggregate* aggregate(const std::string& type) const {
        const proto::StreamAggregate* last = nullptr;
        for (const auto& r : records)
            if (const auto* x = std::get_if<proto::StreamAggregate>(&r); x && text(x->type_str) == type) last = x;
        return last;
    }
    const proto::StreamCreated* created(const std::string& type) const {
        for (const auto& r : records)
            if (const auto* x = std::get_if<proto::StreamCreated>(&r); x && text(x->type_str) == type) return x;
        return nullptr;
    }
};

bool read_full(int fd, uint8_t* p, size_t n) {
    while (n > 0) {
        const ssize_t r = ::read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= static_cast<size_t>(r);
    }
    return true;
}

// Reads framed records until EOF (or until the first ProcessSample, for CloseAfterFirstSample).
void read_records(int fd, Run& run, bool stop_after_sample) {
    proto::Codec codec;
    std::vector<uint8_t> buf;
    for (;;) {
        uint8_t len_bytes[4];
        if (!read_full(fd, len_bytes, 4)) return;
        const uint32_t len = len_bytes[0] | len_bytes[1] << 8 | len_bytes[2] << 16 |
                             static_cast<uint32_t>(len_bytes[3]) << 24;
        if (len > proto::kMaxRecordBytes) { run.decode_error = "oversized frame"; return; }
        buf.resize(len);
        if (!read_full(fd, buf.data(), len)) return;
        proto::Record rec;
        if (!codec.decode(buf.data(), len, rec, run.decode_error)) return;
        if (const auto* s = std::get_if<proto::StringDef>(&rec)) run.strings[s->id] = s->text;
        run.records.push_back(std::move(rec));
        if (stop_after_sample && std::holds_alternative<proto::ProcessSample>(run.records.back())) return;
    }
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Runs `node -r preload.js <fixture> args…` against a listener of ours; bounded to 30 s.
Run run_node(const std::string& fixture, const std::vector<std::string>& args, const Options& opt = {}) {
    Run run;
    char dir_template[] = "/tmp/tidemark-tracker-test-XXXXXX";
    const char* dir = ::mkdtemp(dir_template);
    REQUIRE(dir != nullptr);
    const std::string sock_path = std::string(dir) + "/agent.sock";
    const std::string out_path = std::string(dir) + "/out.txt";

    const int ls = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(ls >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path.c_str());
    REQUIRE(::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(ls, 4) == 0);

    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
        const std::string kv = *e;
        if (kv.rfind("TIDEMARK_", 0) == 0 || kv.rfind("NODE_OPTIONS=", 0) == 0) continue;
        env_strings.push_back(kv);
    }
    env_strings.push_back("TIDEMARK_SOCKET=" + (opt.bogus_socket ? std::string(dir) + "/nobody.sock" : sock_path));
    for (const auto& e : opt.env) env_strings.push_back(e);
    if (opt.via_node_options) env_strings.push_back("NODE_OPTIONS=--require " + kPreload);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    std::vector<std::string> argv_strings = {"node"};
    argv_strings.insert(argv_strings.end(), opt.node_flags.begin(), opt.node_flags.end());
    if (!opt.via_node_options) argv_strings.insert(argv_strings.end(), {"-r", kPreload});
    argv_strings.push_back(kFixtures + fixture);
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, "node", &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);

    // The first connection is read into `run` as the options say; later ones (child processes)
    // are read fully into their own Run, of which only the Hello is kept.
    std::atomic<bool> stop{false};
    std::vector<std::shared_ptr<Run>> others;
    std::vector<std::thread> readers;
    std::thread acceptor([&] {
        bool first = true;
        while (!stop.load()) {
            pollfd p{ls, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const int fd = ::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            if (first) {
                first = false;
                readers.emplace_back([&run, &opt, fd] {
                    if (opt.mode == ListenerMode::PauseThenRead) std::this_thread::sleep_for(opt.pause);
                    read_records(fd, run, opt.mode == ListenerMode::CloseAfterFirstSample);
                    ::close(fd);
                });
            } else {
                others.push_back(std::make_shared<Run>());
                readers.emplace_back([other = others.back().get(), fd] {
                    read_records(fd, *other, false);
                    ::close(fd);
                });
            }
        }
    });

    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // Tracker connections close when their processes exit; give late children a moment.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop = true;
    acceptor.join();
    for (auto& t : readers) t.join();
    ::close(ls);
    if (!run.records.empty())
        if (const auto* h = std::get_if<proto::Hello>(&run.records.front())) run.hellos.push_back(*h);
    for (const auto& o : others)
        if (!o->records.empty())
            if (const auto* h = std::get_if<proto::Hello>(&o->records.front())) run.hellos.push_back(*h);
    run.others = others;
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    run.output = slurp(out_path);
    ::unlink(sock_path.c_str());
    ::unlink(out_path.c_str());
    ::rmdir(dir);
    return run;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

TEST_CASE("node tracker: Hello, stream creation, pipe edges and samples of a pipe() chain", "[tracker][node]") {
    const Run run = run_node("pipe_chain.js", {});
    REQUIRE(run.exit_code == 0);
    CHECK(run.output.find("done") != std::string::npos);
    CHECK(run.decode_error.empty());
    REQUIRE(!run.records.empty());

    const auto* hello = std::get_if<proto::Hello>(&run.records.front());
    REQUIRE(hello != nullptr);
    CHECK(hello->runtime == proto::Runtime::Node);
    CHECK(hello->runtime_version.rfind("v", 0) == 0);
    CHECK(hello->cmdline.find("pipe_chain.js") != std::string::npos);
    CHECK(hello->pid > 0);
    CHECK(hello->interval_ms == 100);

    const auto* source = run.created("Readable");
    const auto* upper = run.created("Transform");
    const auto* sink = run.created("Writable");
    REQUIRE(source);
    REQUIRE(upper);
    REQUIRE(sink);
    CHECK(source->kind == proto::kKindReadable);
    CHECK(upper->kind == (proto::kKindReadable | proto::kKindWritable));
    CHECK(sink->kind == proto::kKindWritable);
    CHECK(ends_with(run.text(source->site_str), "pipe_chain.js:4"));
    CHECK(ends_with(run.text(upper->site_str), "pipe_chain.js:5"));
    CHECK(ends_with(run.text(sink->site_str), "pipe_chain.js:6"));
    CHECK(source->readable_hwm == 16384);
    CHECK(sink->writable_hwm == 16384);

    bool source_to_upper = false, upper_to_sink = false;
    for (const auto& e : run.all<proto::StreamEvent>()) {
        if (e.kind != proto::StreamEventKind::Pipe) continue;
        source_to_upper |= e.id == source->id && e.other == upper->id;
        upper_to_sink |= e.id == upper->id && e.other == sink->id;
    }
    CHECK(source_to_upper);
    CHECK(upper_to_sink);

    // The last sample of the sink accounts for all 20 KiB written into it.
    uint64_t sink_bytes = 0, sink_writes = 0;
    for (const auto& s : run.all<proto::StreamSample>())
        if (s.id == sink->id) { sink_bytes = s.bytes_in; sink_writes = s.write_calls; }
    CHECK(sink_bytes == 20 * 1024);
    CHECK(sink_writes == 20);

    REQUIRE(std::holds_alternative<proto::Goodbye>(run.records.back()));
    CHECK(std::get<proto::Goodbye>(run.records.back()).exit_code == 0);
}

TEST_CASE("node tracker: process samples follow TIDEMARK_INTERVAL_MS", "[tracker][node]") {
    Options opt;
    opt.env = {"TIDEMARK_INTERVAL_MS=50"};
    const Run run = run_node("steady.js", {"1500"}, opt);
    REQUIRE(run.exit_code == 0);
    const auto samples = run.all<proto::ProcessSample>();
    REQUIRE(samples.size() >= 2);
    const double span_s = static_cast<double>(samples.back().t_us - samples.front().t_us) / 1e6;
    CHECK(span_s > 1.0);
    // 50 ms nominally gives 20 per second; at least 10 per second must arrive.
    CHECK(static_cast<double>(samples.size() - 1) / span_s >= 10.0);
    for (const auto& s : samples) {
        CHECK(s.rss_bytes > 10u << 20);
        CHECK(s.heap_used_bytes > 0);
        CHECK(s.heap_used_bytes <= s.heap_total_bytes);
    }
}

TEST_CASE("node tracker: a writer that ignores false is counted with its call site", "[tracker][node]") {
    const Run run = run_node("ignore_false.js", {});
    REQUIRE(run.exit_code == 0);
    CHECK(run.output.find("finished") != std::string::npos);
    const auto* sink = run.created("Writable");
    REQUIRE(sink);
    uint64_t writes_after_false = 0, write_calls = 0, peak_writable_length = 0;
    for (const auto& s : run.all<proto::StreamSample>()) {
        if (s.id != sink->id) continue;
        writes_after_false = s.writes_after_false;
        write_calls = s.write_calls;
        peak_writable_length = std::max(peak_writable_length, s.writable_length);
    }
    CHECK(write_calls == 200);
    // Each burst of 20 writes returns false at the first write: at least 19 per burst come after.
    CHECK(writes_after_false >= 10 * 19);
    CHECK(writes_after_false < 200);
    CHECK(peak_writable_length > 4 * sink->writable_hwm);

    const auto sites = run.all<proto::CallSite>();
    REQUIRE(!sites.empty());
    CHECK(sites.size() <= 4);
    for (const auto& c : sites) {
        CHECK(c.id == sink->id);
        CHECK(c.kind == proto::CallSiteKind::WriteAfterFalse);
        CHECK(ends_with(run.text(c.site_str), "ignore_false.js:7"));
    }
}

TEST_CASE("node tracker: pipeline() with a generator stage and an ES module entry", "[tracker][node]") {
    SECTION("CommonJS stream.pipeline with an async generator") {
        const Run run = run_node("pipeline_gen.js", {});
        REQUIRE(run.exit_code == 0);
        CHECK(run.output.find("piped") != std::string::npos);
        const auto* source = run.created("Readable");
        const auto* sink = run.created("Writable");
        REQUIRE(source);
        REQUIRE(sink);
        CHECK(source->kind == (proto::kKindReadable | proto::kKindReadableObjectMode));
        CHECK(sink->kind == (proto::kKindWritable | proto::kKindWritableObjectMode));
        const auto pipelines = run.all<proto::Pipeline>();
        REQUIRE(pipelines.size() == 1);
        const auto& p = pipelines.front();
        REQUIRE(p.stages.size() == 3);
        CHECK(p.stages[0] == source->id);
        CHECK(p.stages[1] == 0);
        CHECK(run.text(p.stage_strs[1]) == "async generator upper");
        CHECK(p.stages[2] == sink->id);
        CHECK(ends_with(run.text(p.site_str), "pipeline_gen.js:5"));
        CHECK(run.all<proto::CallSite>().empty());  // Readable.from respects backpressure
    }
    SECTION("ES module with stream/promises pipeline") {
        const Run run = run_node("esm_chain.mjs", {});
        REQUIRE(run.exit_code == 0);
        CHECK(run.output.find("esm done") != std::string::npos);
        const auto* source = run.created("Readable");
        const auto* pass = run.created("Transform");
        const auto* sink = run.created("Writable");
        REQUIRE(source);
        REQUIRE(pass);
        REQUIRE(sink);
        CHECK(ends_with(run.text(source->site_str), "esm_chain.mjs:5"));
        CHECK(ends_with(run.text(sink->site_str), "esm_chain.mjs:7"));
        const auto pipelines = run.all<proto::Pipeline>();
        REQUIRE(pipelines.size() == 1);
        CHECK(pipelines.front().stages == std::vector<uint64_t>{source->id, pass->id, sink->id});
        CHECK(ends_with(run.text(pipelines.front().site_str), "esm_chain.mjs:8"));
    }
}

TEST_CASE("node tracker: the target runs on when the agent is missing or goes away", "[tracker][node]") {
    SECTION("bogus socket path") {
        Options opt;
        opt.bogus_socket = true;
        const Run run = run_node("pipe_chain.js", {}, opt);
        CHECK(run.exit_code == 0);
        CHECK(run.output == "done\n");
        CHECK(run.records.empty());
    }
    SECTION("listener closes mid-run") {
        Options opt;
        opt.mode = ListenerMode::CloseAfterFirstSample;
        const Run run = run_node("steady.js", {"1000"}, opt);
        CHECK(run.exit_code == 0);
        CHECK(run.output == "steady done\n");
        REQUIRE(!run.records.empty());
        CHECK(std::holds_alternative<proto::Hello>(run.records.front()));
        CHECK(std::holds_alternative<proto::ProcessSample>(run.records.back()));
    }
}

TEST_CASE("node tracker: records shed while the agent does not read are counted", "[tracker][node]") {
    Options opt;
    opt.mode = ListenerMode::PauseThenRead;
    opt.pause = std::chrono::milliseconds(1200);
    opt.env = {"TIDEMARK_QUEUE_BYTES=65536"};
    const Run run = run_node("flood.js", {}, opt);
    REQUIRE(run.exit_code == 0);
    CHECK(run.output.find("flood done") != std::string::npos);
    CHECK(run.decode_error.empty());
    const auto dropped = run.all<proto::Dropped>();
    REQUIRE(!dropped.empty());
    CHECK(dropped.back().records > 0);
    for (size_t i = 1; i < dropped.size(); ++i) CHECK(dropped[i].records >= dropped[i - 1].records);
    REQUIRE(std::holds_alternative<proto::Goodbye>(run.records.back()));
}

TEST_CASE("node tracker: child processes follow the claim rule", "[tracker][node]") {
    SECTION("TIDEMARK_FOLLOW_CHILDREN=0: only the first node process is tracked") {
        Options opt;
        opt.via_node_options = true;
        opt.env = {"TIDEMARK_FOLLOW_CHILDREN=0"};
        const Run run = run_node("spawn_child.js", {}, opt);
        REQUIRE(run.exit_code == 0);
        CHECK(run.output.find("child done") != std::string::npos);
        REQUIRE(run.hellos.size() == 1);
        CHECK(run.hellos.front().cmdline.find("spawn_child.js") != std::string::npos);
        // Its own Readable ends at once: folded into an aggregate, not announced one by one.
        const auto* own = run.aggregate("Readable");
        REQUIRE(own);
        CHECK(own->created == 1);
        CHECK(own->retired == 1);
        CHECK(ends_with(run.text(own->site_str), "spawn_child.js:5"));
    }
    SECTION("TIDEMARK_FOLLOW_CHILDREN=1: every node process is tracked") {
        Options opt;
        opt.via_node_options = true;
        opt.env = {"TIDEMARK_FOLLOW_CHILDREN=1"};
        const Run run = run_node("spawn_child.js", {}, opt);
        REQUIRE(run.exit_code == 0);
        REQUIRE(run.hellos.size() == 2);
        const auto& parent = run.hellos[0].cmdline.find("steady.js") == std::string::npos ? run.hellos[0] : run.hellos[1];
        const auto& child = &parent == &run.hellos[0] ? run.hellos[1] : run.hellos[0];
        CHECK(parent.cmdline.find("spawn_child.js") != std::string::npos);
        CHECK(child.cmdline.find("steady.js") != std::string::npos);
        CHECK(child.ppid == parent.pid);
    }
}

TEST_CASE("node tracker: ServerResponse writes after false are counted", "[tracker][node]") {
    const Run run = run_node("http_ignore_false.js", {});
    REQUIRE(run.exit_code == 0);
    CHECK(run.output.find("received 2621440") != std::string::npos);
    const auto* res = run.created("ServerResponse");
    const auto* req = run.created("IncomingMessage");
    REQUIRE(res);
    REQUIRE(req);
    CHECK(res->kind == (proto::kKindWritable | proto::kKindHttpOutgoing));
    CHECK(req->kind == proto::kKindReadable);
    uint64_t writes_after_false = 0, write_calls = 0, bytes_in = 0;
    for (const auto& s : run.all<proto::StreamSample>())
        if (s.id == res->id) { writes_after_false = s.writes_after_false; write_calls = s.write_calls; bytes_in = s.bytes_in; }
    CHECK(write_calls == 40);
    CHECK(bytes_in == 40u * 65536);
    CHECK(writes_after_false > 0);
    bool site_seen = false;
    for (const auto& c : run.all<proto::CallSite>())
        if (c.id == res->id) {
            site_seen = true;
            CHECK(ends_with(run.text(c.site_str), "http_ignore_false.js:5"));
        }
    CHECK(site_seen);
}

TEST_CASE("node tracker: errors, destroy and garbage-collected streams", "[tracker][node]") {
    Options opt;
    opt.node_flags = {"--expose-gc"};
    const Run run = run_node("lifecycle.js", {}, opt);
    REQUIRE(run.exit_code == 0);
    CHECK(run.output == "write failed\nlifecycle done\n");  // the app's own error handling is untouched
    const auto* failing = run.created("Writable");
    REQUIRE(failing);
    bool error_seen = false, destroy_seen = false;
    std::vector<uint64_t> gone;
    for (const auto& e : run.all<proto::StreamEvent>()) {
        if (e.id == failing->id && e.kind == proto::StreamEventKind::Error) {
            error_seen = true;
            CHECK(run.text(e.str) == "disk full");
        }
        if (e.id == failing->id && e.kind == proto::StreamEventKind::Destroy) destroy_seen = true;
        if (e.kind == proto::StreamEventKind::Gone) gone.push_back(e.id);
    }
    CHECK(error_seen);
    CHECK(destroy_seen);
    // The 100 PassThroughs were never used: counted in their aggregate, never announced one by one.
    CHECK(run.created("PassThrough") == nullptr);
    const auto* unused = run.aggregate("PassThrough");
    REQUIRE(unused);
    CHECK(unused->created == 100);
    CHECK(unused->promoted == 0);
    CHECK(ends_with(run.text(unused->site_str), "lifecycle.js:8"));
    uint32_t last_flags = 0;
    for (const auto& s : run.all<proto::StreamSample>())
        if (s.id == failing->id) last_flags = s.flags;
    CHECK((last_flags & proto::kFlagErrored) != 0);
    CHECK((last_flags & proto::kFlagDestroyed) != 0);
}

TEST_CASE("node tracker: a worker thread is tracked on a connection of its own", "[tracker][node]") {
    Options opt;
    opt.via_node_options = true;  // so the worker inherits the preload too
    const Run run = run_node("worker.js", {}, opt);
    REQUIRE(run.exit_code == 0);
    CHECK(run.output == "worker ok\n");
    REQUIRE(run.hellos.size() == 2);
    CHECK(run.hellos[0].thread_id == 0);
    CHECK(run.hellos[1].thread_id >= 1);
    CHECK(run.hellos[1].pid == run.hellos[0].pid);
    REQUIRE(run.others.size() == 1);
    const Run& worker = *run.others[0];
    CHECK(worker.decode_error.empty());
    CHECK(worker.all<proto::ProcessSample>().empty());  // process counters come from the main thread
    const auto* slow = worker.created("Writable");
    REQUIRE(slow);
    uint64_t waf = 0;
    for (const auto& s : worker.all<proto::StreamSample>())
        if (s.id == slow->id) waf = s.writes_after_false;
    CHECK(waf == 63);  // the first write of 1 KiB filled it; the other 63 came after false
    bool site_seen = false;
    for (const auto& c : worker.all<proto::CallSite>())
        site_seen |= c.id == slow->id && worker.text(c.site_str).find("[worker eval]:5") != std::string::npos;
    CHECK(site_seen);
    const auto* pass = worker.aggregate("PassThrough");  // never written: counted, not announced
    REQUIRE(pass);
    CHECK(pass->created == 1);
    CHECK(ends_with(worker.text(pass->site_str), "[worker eval]:3"));
    CHECK(run.created("Writable") == nullptr);  // the main thread's connection carries none of it
}

TEST_CASE("node tracker: creation sites of user classes name the new expression", "[tracker][node]") {
    const Run run = run_node("subclass_sites.js", {});
    REQUIRE(run.exit_code == 0);
    const std::vector<std::pair<std::string, std::string>> expected = {
        {"Upper", "subclass_sites.js:10"}, {"Implicit", "subclass_sites.js:11"},
        {"PassThrough", "subclass_sites.js:6"}, {"Legacy", "subclass_sites.js:13"}};
    for (const auto& [type, site] : expected) {
        INFO(type);
        // Never used: each is counted in the aggregate of its type and site.
        const auto* folded = run.aggregate(type);
        REQUIRE(folded);
        CHECK(folded->created == 1);
        CHECK(folded->site_inferred == 0);
        CHECK(ends_with(run.text(folded->site_str), site));
    }
}

TEST_CASE("node tracker: streams the app released are collected", "[tracker][node]") {
    // Pending young streams are held strongly for a few loop turns, then by WeakRef only.
    Options opt;
    opt.node_flags = {"--expose-gc"};
    const Run run = run_node("released.js", {}, opt);
    REQUIRE(run.exit_code == 0);
    CHECK(run.output == "collected 4000 of 4000\n");
    CHECK(run.decode_error.empty());
    // The tracker did see them all.
    const auto* w = run.aggregate("Writable");
    const auto* r = run.aggregate("Readable");
    REQUIRE(w);
    REQUIRE(r);
    CHECK(w->created == 2000);
    CHECK(r->created == 2000);
}

// The tracker's JS is installed with its full-line comments blanked (strip_comments.cmake): V8
// keeps a loaded script's source in the target's heap, as a one-byte string only if every
// character is ASCII (one dash in a comment doubles it). The lines stay, so a stack trace's line
// numbers are the source's; code and strings must stay ASCII.
TEST_CASE("node tracker: net and http are not loaded before the app loads them, and a server made later still names its line", "[tracker][node]") {
    const Run run = run_node("no_sockets.js", {});
    REQUIRE(run.exit_code == 0);
    // ~360 KB of node's heap that an app without sockets never loads.
    CHECK(run.output.find("before: none rows 3") != std::string::npos);
    CHECK(run.output.find("answered") != std::string::npos);
    int line = 0;
    {
        std::ifstream in(std::string(TIDEMARK_FIXTURES) + "/tracker/no_sockets.js");
        std::string text;
        for (int n = 1; line == 0 && std::getline(in, text); ++n)
            if (text.find("@site server") != std::string::npos) line = n;
    }
    REQUIRE(line > 0);
    bool request_at_server = false, response_at_server = false;
    for (const auto& r : run.records) {
        const auto* a = std::get_if<proto::StreamAggregate>(&r);
        if (a == nullptr || !ends_with(run.text(a->site_str), "no_sockets.js:" + std::to_string(line))) continue;
        request_at_server = request_at_server || run.text(a->type_str) == "IncomingMessage";
        response_at_server = response_at_server || run.text(a->type_str) == "ServerResponse";
    }
    CHECK(request_at_server);
    CHECK(response_at_server);
}

TEST_CASE("node tracker: an https service that never loads http still has its request streams at the line that makes its server", "[tracker][node]") {
    const Run run = run_node("https_only.js", {});
    REQUIRE(run.exit_code == 0);
    CHECK(run.output.find("http loaded: false") != std::string::npos);
    CHECK(run.output.find("answered 20") != std::string::npos);
    int line = 0;
    {
        std::ifstream in(std::string(TIDEMARK_FIXTURES) + "/tracker/https_only.js");
        std::string text;
        for (int n = 1; line == 0 && std::getline(in, text); ++n)
            if (text.find("@site server") != std::string::npos) line = n;
    }
    REQUIRE(line > 0);
    uint64_t responses = 0, requests = 0;
    for (const auto& r : run.records) {
        const auto* a = std::get_if<proto::StreamAggregate>(&r);
        if (a == nullptr || !ends_with(run.text(a->site_str), "https_only.js:" + std::to_string(line))) continue;
        if (run.text(a->type_str) == "ServerResponse") responses = std::max<uint64_t>(responses, a->created);
        if (run.text(a->type_str) == "IncomingMessage") requests = std::max<uint64_t>(requests, a->created);
    }
    CHECK(responses == 20);
    CHECK(requests == 20);
}

TEST_CASE("tracker: the installed JS files are ASCII, keep the source's line numbers and have no comment lines",
          "[tracker]") {
    const std::string source_dir = std::string(TIDEMARK_FIXTURES) + "/../../tracker/node/";
    for (const char* name : {"preload.js", "tracker.js", "sites.js", "web.js", "attach.js"}) {
        INFO(name);
        auto read = [](const std::string& path) {
            std::ifstream in(path, std::ios::binary);
            std::ostringstream text;
            text << in.rdbuf();
            return text.str();
        };
        const std::string installed = read(std::string(TIDEMARK_LIB_DIR) + "/" + name);
        const std::string source = read(source_dir + name);
        REQUIRE_FALSE(installed.empty());
        REQUIRE_FALSE(source.empty());
        const auto non_ascii = std::find_if(installed.begin(), installed.end(),
                                            [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
        CHECK(non_ascii == installed.end());
        CHECK(std::count(installed.begin(), installed.end(), '\n') == std::count(source.begin(), source.end(), '\n'));
        std::istringstream lines(installed);
        size_t comment_lines = 0;
        for (std::string line; std::getline(lines, line);) {
            const size_t first = line.find_first_not_of(" \t");
            if (first != std::string::npos && line.compare(first, 2, "//") == 0) ++comment_lines;
        }
        CHECK(comment_lines == 0);
        CHECK(installed.size() < source.size());
    }
}
