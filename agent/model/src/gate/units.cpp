// Parsing and formatting of the gate's sizes, rates, durations and percentages (see gate_units.h).
#include "tidemark/model/gate/units.h"

#include "tidemark/model/util/bytes.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace tidemark::model {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Splits "12.5 MB" into 12.5 and "mb" (lower-cased). False when no number leads the text.
bool split_number(std::string_view text, double& number, std::string& unit) {
    text = trim(text);
    size_t end = 0;
    while (end < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.' ||
            (end == 0 && (text[end] == '-' || text[end] == '+'))))
        ++end;
    if (end == 0) return false;
    const std::string_view num = text.substr(0, end);
    const char* first = num.data();
    if (*first == '+') ++first;
    const auto [ptr, ec] = std::from_chars(first, num.data() + num.size(), number);
    if (ec != std::errc() || ptr != num.data() + num.size() || !std::isfinite(number)) return false;
    unit = lower(trim(text.substr(end)));
    return true;
}

bool size_unit(const std::string& unit, double& factor) {
    struct U { const char* name; double factor; };
    static constexpr U units[] = {
        {"", 1}, {"b", 1},
        {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
        {"kib", 1024.0}, {"mib", 1048576.0}, {"gib", 1073741824.0}, {"tib", 1099511627776.0},
    };
    for (const auto& u : units)
        if (unit == u.name) { factor = u.factor; return true; }
    return false;
}

bool time_unit(const std::string& unit, double& seconds, std::string& name) {
    if (unit == "s" || unit == "sec" || unit == "second" || unit == "seconds") { seconds = 1; name = "s"; return true; }
    if (unit == "min" || unit == "m" || unit == "minute" || unit == "minutes") { seconds = 60; name = "min"; return true; }
    if (unit == "h" || unit == "hr" || unit == "hour" || unit == "hours") { seconds = 3600; name = "h"; return true; }
    return false;
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

bool parse_size(std::string_view text, uint64_t& bytes, std::string& error) {
    double number = 0;
    std::string unit;
    if (!split_number(text, number, unit)) {
        error = quoted(text) + " is not a size (a number and a unit, e.g. 256MB or 1.5GiB)";
        return false;
    }
    double factor = 1;
    if (!size_unit(unit, factor)) {
        error = quoted(text) + " has an unknown size unit '" + unit +
                "' (use B, KB, MB, GB, TB or KiB, MiB, GiB, TiB, e.g. 256MB)";
        return false;
    }
    if (number < 0) {
        error = quoted(text) + " is negative (a size must be 0 or more, e.g. 256MB)";
        return false;
    }
    const double value = number * factor;
    if (value >= 1.8e19) {
        error = quoted(text) + " is too large (e.g. 256MB)";
        return false;
    }
    bytes = static_cast<uint64_t>(std::llround(value));
    return true;
}

bool parse_rate(std::string_view text, RateValue& rate, std::string& error) {
    const std::string_view t = trim(text);
    const size_t slash = t.find('/');
    if (slash == std::string_view::npos) {
        error = quoted(text) + " is not a rate (SIZE/TIME, e.g. 2MB/min)";
        return false;
    }
    uint64_t bytes = 0;
    std::string size_error;
    if (!parse_size(t.substr(0, slash), bytes, size_error)) {
        error = quoted(text) + " does not start with a size: " + size_error + " (a rate is e.g. 2MB/min)";
        return false;
    }
    const std::string unit = lower(trim(t.substr(slash + 1)));
    RateValue r;
    if (!time_unit(unit, r.unit_s, r.unit_name)) {
        error = quoted(text) + " has an unknown time unit '" + unit + "' (use s, min or h, e.g. 2MB/min)";
        return false;
    }
    r.bytes_per_s = static_cast<double>(bytes) / r.unit_s;
    rate = r;
    return true;
}

bool parse_duration(std::string_view text, double& seconds, std::string& error) {
    double number = 0;
    std::string unit;
    if (!split_number(text, number, unit)) {
        error = quoted(text) + " is not a duration (a number and a unit, e.g. 5s or 500ms)";
        return false;
    }
    double factor = 1;
    std::string name;
    if (unit.empty()) factor = 1;
    else if (unit == "ms") factor = 1e-3;
    else if (!time_unit(unit, factor, name)) {
        error = quoted(text) + " has an unknown time unit '" + unit + "' (use ms, s, min or h, e.g. 5s)";
        return false;
    }
    if (number < 0) {
        error = quoted(text) + " is negative (a duration must be 0 or more, e.g. 5s)";
        return false;
    }
    seconds = number * factor;
    return true;
}

bool parse_percent(std::string_view text, double& fraction, std::string& error) {
    const std::string_view t = trim(text);
    if (t.empty() || t.back() != '%') {
        error = quoted(text) + " is not a percentage (a number followed by %, e.g. 10%)";
        return false;
    }
    double number = 0;
    std::string unit;
    if (!split_number(t.substr(0, t.size() - 1), number, unit) || !unit.empty()) {
        error = quoted(text) + " is not a percentage (a number followed by %, e.g. 10%)";
        return false;
    }
    if (number < 0) {
        error = quoted(text) + " is negative (a tolerance must be 0% or more, e.g. 10%)";
        return false;
    }
    fraction = number / 100.0;
    return true;
}


std::string format_rate(double bytes_per_s, double unit_s, std::string_view unit_name) {
    return format_bytes(bytes_per_s * unit_s, SizeUnits::Decimal) + "/" + std::string(unit_name);
}

std::string format_seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", s);
    return buf;
}

}  // namespace tidemark::model
