// `tidemark report` and `tidemark dump` on input that is not a whole trace — random bytes, a real
// trace cut short, a missing file — exit 2 with a message saying what is wrong, never crash.
#include <catch2/catch.hpp>

#include <fstream>
#include <random>

#include "run_helpers.h"

using namespace tidemark::test;

namespace {

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes(static_cast<size_t>(std::filesystem::file_size(path)), '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return bytes;
}

}  // namespace

TEST_CASE("report and dump reject what is not a trace with exit 2", "[run][bad-input]") {
    TempDir dir;
    const std::string random_path = dir.file("random.tidemark");
    std::mt19937 rng(42);
    std::string noise(64 * 1024, '\0');
    for (auto& c : noise) c = static_cast<char>(rng());
    write_file(random_path, noise);
    const std::string missing = dir.file("missing.tidemark");

    for (const char* cmd : {"report", "dump"}) {
        INFO(cmd);
        const auto on_noise = run_cli({cmd, random_path});
        CHECK(on_noise.exit_code == 2);
        CHECK(on_noise.err.find(random_path) != std::string::npos);
        CHECK(on_noise.err.find("not a tidemark trace") != std::string::npos);

        const auto on_missing = run_cli({cmd, missing});
        CHECK(on_missing.exit_code == 2);
        CHECK(on_missing.err.find(missing) != std::string::npos);
    }
    const auto check_missing = run_cli({"check", missing});
    CHECK(check_missing.exit_code == 2);
}

TEST_CASE("report and dump on a truncated trace print what was readable, then exit 2", "[run][bad-input]") {
    TempDir dir;
    const std::string trace = dir.file("whole.tidemark");
    const auto run = run_cli({"run", "--out", trace, "--", "node", fixture("pipeline.js")});
    REQUIRE(run.exit_code == 0);
    const std::string bytes = read_file(trace);
    REQUIRE(bytes.size() > 1000);
    const std::string cut = dir.file("cut.tidemark");
    write_file(cut, bytes.substr(0, bytes.size() * 2 / 3));

    const auto report = run_cli({"report", cut});
    INFO("report stderr: " << report.err);
    CHECK(report.exit_code == 2);
    CHECK(report.err.find(cut) != std::string::npos);
    CHECK(report.out.find("TickSource") != std::string::npos);  // what was readable is shown

    const auto dump = run_cli({"dump", cut});
    INFO("dump stderr: " << dump.err);
    CHECK(dump.exit_code == 2);
    CHECK_FALSE(dump.out.empty());
    CHECK_FALSE(dump.err.empty());

    const auto check = run_cli({"check", cut});
    CHECK(check.exit_code == 2);
    CHECK(check.err.find(cut) != std::string::npos);

    // The intact trace reads cleanly.
    CHECK(run_cli({"report", trace}).exit_code == 0);
    CHECK(run_cli({"dump", trace}).exit_code == 0);
}
