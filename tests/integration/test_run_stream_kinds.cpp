// `tidemark run` sees every common kind of stream — fs, net, zlib, crypto, http, PassThrough,
// Readable.from, user subclasses — each under its constructor's name.
#include <catch2/catch.hpp>

#include "run_helpers.h"

using namespace tidemark::test;

TEST_CASE("run sees every kind of stream with its type", "[run][streams]") {
    TempDir dir;
    const std::string trace = dir.file("zoo.tidemark");
    const auto run = run_cli({"run", "--out", trace, "--", "node", fixture("stream_zoo.js")});
    INFO("stderr: " << run.err);
    REQUIRE_FALSE(run.timed_out);
    REQUIRE(run.exit_code == 0);
    CHECK(run.out.find("zoo done") != std::string::npos);

    const auto report = report_json(trace);
    std::string seen;
    for (const auto& s : report.at("streams")) seen += s.value("type", "?") + " ";
    INFO("types seen: " << seen);
    for (const char* type : {"WriteStream", "ReadStream", "Gzip", "Hash", "Cipheriv", "Socket",
                             "IncomingMessage", "ServerResponse", "ClientRequest", "PassThrough",
                             "Readable", "ZooDuplex"}) {
        INFO("type " << type);
        CHECK_FALSE(streams_seen(report, type).empty());
    }
    // Both ends of the loopback TCP connection and the http connection's sockets.
    CHECK(streams_seen(report, "Socket").size() >= 2);
    // Streams the app creates itself carry a creation site in the app.
    for (const char* type : {"ZooDuplex", "Gzip", "WriteStream"}) {
        INFO("type " << type);
        const auto found = streams_seen(report, type);
        REQUIRE_FALSE(found.empty());
        CHECK(found[0].value("created_at", "").find("stream_zoo.js:") != std::string::npos);
    }
    // zlib.createGzip() is called on this line: a factory's site is the user's call.
    const std::string app = fixture("stream_zoo.js");
    CHECK(ends_with(streams_seen(report, "Gzip")[0].value("created_at", ""),
                    "stream_zoo.js:" + std::to_string(line_of(app, "zlib.createGzip()"))));
}
