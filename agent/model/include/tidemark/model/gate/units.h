// The CI gate's units: parsing the sizes, rates, durations and percentages a user writes in budget
// options or a budget file, and formatting bytes and rates for the verdict. Errors come back as
// values whose message names the bad text and shows a good example (the caller adds the option).
//
// Sizes: a number and a unit, case-insensitive, optional space: B, KB, MB, GB, TB (decimal, 1000ⁿ)
// and KiB, MiB, GiB, TiB (binary, 1024ⁿ); a bare number is bytes. Rates: SIZE/UNIT where UNIT is
// s, min or h. Durations: a number with ms, s, min or h; a bare number is seconds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tidemark/model/util/bytes.h"

namespace tidemark::model {

struct RateValue {
    double bytes_per_s = 0;
    double unit_s = 60;             // the time unit the user wrote it in (1, 60 or 3600 s)
    std::string unit_name = "min";  // "s", "min" or "h"
};

// Each returns true on success; on failure `error` says what is wrong with the text.
bool parse_size(std::string_view text, uint64_t& bytes, std::string& error);
bool parse_rate(std::string_view text, RateValue& rate, std::string& error);
bool parse_duration(std::string_view text, double& seconds, std::string& error);
// "10%" → 0.10. The % sign is required so "0.1" cannot be misread.
bool parse_percent(std::string_view text, double& fraction, std::string& error);

// Sizes are written with format_bytes(bytes, SizeUnits::Decimal) (util/bytes.h): budgets are
// usually written in MB, and the verdict echoes them in the same units.
// A rate in the given time unit: "5.2 MB/min".
std::string format_rate(double bytes_per_s, double unit_s = 60, std::string_view unit_name = "min");
// Seconds with one decimal: "12.4 s".
std::string format_seconds(double s);

}  // namespace tidemark::model
