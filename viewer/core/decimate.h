// Plot decimation: a series of (time, low, high, value) points reduced to at most one column per
// pixel over a visible time range, each column keeping the extremes of everything inside it (so a
// spike is never decimated away) and the last value (the line). What the plot widget draws.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace tidemark::viewer {

// One series, time-ordered. For a raw sample lo == hi == v; a coarsened point carries the range
// of what it merged.
struct Series {
    std::vector<double> t;
    std::vector<double> lo, hi, v;
    void push(double t_s, double value) { push(t_s, value, value, value); }
    void push(double t_s, double low, double high, double value) {
        t.push_back(t_s);
        lo.push_back(low);
        hi.push_back(high);
        v.push_back(value);
    }
    size_t size() const { return t.size(); }
    bool empty() const { return t.empty(); }
    void clear() { t.clear(), lo.clear(), hi.clear(), v.clear(); }
};

struct Column {
    double t0 = 0, t1 = 0;   // the column's time span
    double lo = 0, hi = 0;   // extremes inside it
    double last = 0;         // last value inside it
    size_t count = 0;        // points inside it (0: none; such columns are not emitted)
};

// Columns over [t0, t1] (columns ≥ 1). A point holding before t0 is not included; the caller
// draws the line from the last point before the range (see value_at()).
std::vector<Column> decimate(const Series& s, double t0, double t1, size_t columns);

// Index of the last point at or before t, or nullopt.
std::optional<size_t> index_at(const Series& s, double t);
// The value holding at t (the last point at or before it), or nullopt before the first.
std::optional<double> value_at(const Series& s, double t);

// The largest `hi` of the points inside [t0, t1] and the one holding at t0 (for autoscaling).
double max_in(const Series& s, double t0, double t1);

// "Nice" axis ticks: about `target` values of the form {1, 2, 5} × 10^k covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target);

}  // namespace tidemark::viewer
