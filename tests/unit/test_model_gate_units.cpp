// Unit tests for the gate's size, rate, duration and percentage parsing (model/gate_units.h),
// including the messages a user sees for bad input.
#include <catch2/catch.hpp>

#include "tidemark/model/gate/units.h"

using namespace tidemark::model;

namespace {

uint64_t size_of(const char* text) {
    uint64_t bytes = 0;
    std::string error;
    REQUIRE(parse_size(text, bytes, error));
    return bytes;
}

std::string size_error(const char* text) {
    uint64_t bytes = 0;
    std::string error;
    REQUIRE_FALSE(parse_size(text, bytes, error));
    return error;
}

}  // namespace

TEST_CASE("sizes accept decimal and binary units any case optional space") {
    CHECK(size_of("256MB") == 256'000'000);
    CHECK(size_of("256 MB") == 256'000'000);
    CHECK(size_of("256mb") == 256'000'000);
    CHECK(size_of("1KB") == 1000);
    CHECK(size_of("1KiB") == 1024);
    CHECK(size_of("1.5GiB") == 1'610'612'736);
    CHECK(size_of("4GB") == 4'000'000'000ULL);
    CHECK(size_of("2MiB") == 2'097'152);
    CHECK(size_of("1TB") == 1'000'000'000'000ULL);
    CHECK(size_of("512") == 512);
    CHECK(size_of("512B") == 512);
    CHECK(size_of("0") == 0);
}

TEST_CASE("bad sizes say what is wrong and show an example") {
    const std::string unit = size_error("12XB");
    CHECK(unit.find("'12XB'") != std::string::npos);
    CHECK(unit.find("unknown size unit") != std::string::npos);
    CHECK(unit.find("256MB") != std::string::npos);
    CHECK(size_error("MB").find("not a size") != std::string::npos);
    CHECK(size_error("").find("not a size") != std::string::npos);
    CHECK(size_error("-5MB").find("negative") != std::string::npos);
    CHECK(size_error("1.2.3MB").find("not a size") != std::string::npos);
    CHECK(size_error("99999999999TB").find("too large") != std::string::npos);
}

TEST_CASE("rates are SIZE per s min or h") {
    RateValue r;
    std::string error;
    REQUIRE(parse_rate("2MB/min", r, error));
    CHECK(r.bytes_per_s == Approx(2e6 / 60));
    CHECK(r.unit_name == "min");
    REQUIRE(parse_rate("1 MiB / s", r, error));
    CHECK(r.bytes_per_s == Approx(1048576.0));
    CHECK(r.unit_name == "s");
    REQUIRE(parse_rate("36MB/h", r, error));
    CHECK(r.bytes_per_s == Approx(1e4));
    CHECK(r.unit_s == 3600);
}

TEST_CASE("bad rates name the problem") {
    RateValue r;
    std::string error;
    CHECK_FALSE(parse_rate("2MB", r, error));
    CHECK(error.find("not a rate") != std::string::npos);
    CHECK(error.find("2MB/min") != std::string::npos);
    CHECK_FALSE(parse_rate("2MB/day", r, error));
    CHECK(error.find("unknown time unit 'day'") != std::string::npos);
    CHECK_FALSE(parse_rate("fast/min", r, error));
    CHECK(error.find("does not start with a size") != std::string::npos);
}

TEST_CASE("durations take ms s min h — a bare number is seconds") {
    double s = 0;
    std::string error;
    REQUIRE(parse_duration("5s", s, error));
    CHECK(s == 5);
    REQUIRE(parse_duration("500ms", s, error));
    CHECK(s == Approx(0.5));
    REQUIRE(parse_duration("2min", s, error));
    CHECK(s == 120);
    REQUIRE(parse_duration("1h", s, error));
    CHECK(s == 3600);
    REQUIRE(parse_duration("3", s, error));
    CHECK(s == 3);
    CHECK_FALSE(parse_duration("5 fortnights", s, error));
    CHECK(error.find("unknown time unit 'fortnights'") != std::string::npos);
    CHECK(error.find("e.g. 5s") != std::string::npos);
    CHECK_FALSE(parse_duration("soon", s, error));
    CHECK(error.find("not a duration") != std::string::npos);
    CHECK_FALSE(parse_duration("-1s", s, error));
    CHECK(error.find("negative") != std::string::npos);
}

TEST_CASE("percentages need a % sign") {
    double f = 0;
    std::string error;
    REQUIRE(parse_percent("10%", f, error));
    CHECK(f == Approx(0.10));
    REQUIRE(parse_percent("2.5 %", f, error));
    CHECK(f == Approx(0.025));
    CHECK_FALSE(parse_percent("0.1", f, error));
    CHECK(error.find("e.g. 10%") != std::string::npos);
    CHECK_FALSE(parse_percent("ten%", f, error));
}

TEST_CASE("sizes and rates print in decimal units") {
    CHECK(format_bytes(412e6, SizeUnits::Decimal) == "412 MB");
    CHECK(format_bytes(980, SizeUnits::Decimal) == "980 B");
    CHECK(format_bytes(1.5e9, SizeUnits::Decimal) == "1.5 GB");
    CHECK(format_bytes(-3.2e6, SizeUnits::Decimal) == "-3.2 MB");
    CHECK(format_rate(2e6 / 60) == "2.0 MB/min");
    CHECK(format_rate(1e3, 1, "s") == "1.0 KB/s");
    CHECK(format_seconds(12.44) == "12.4 s");
}
