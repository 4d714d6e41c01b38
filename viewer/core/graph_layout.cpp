#include "core/graph_layout.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "core/stream_table.h"

namespace tidemark::viewer {

const char* pressure_name(Pressure p) {
    switch (p) {
        case Pressure::Idle: return "idle";
        case Pressure::Flowing: return "flowing";
        case Pressure::Full: return "full";
        case Pressure::Overfilled: return "overfilled";
    }
    return "?";
}

namespace {

double fill_of(const model::StreamInfo& s) {
    const proto::StreamSample* last = s.last();
    if (!last) return 0;
    double f = 0;
    if (s.readable_hwm) f = std::max(f, double(last->readable_length) / double(s.readable_hwm));
    if (s.writable_hwm) f = std::max(f, double(last->writable_length) / double(s.writable_hwm));
    return f;
}

bool ignores_backpressure(const model::Finding& f) {
    return f.kind == model::FindingKind::IgnoredBackpressure;
}

}  // namespace

Pressure pressure_of(const model::StreamInfo& dst) {
    const proto::StreamSample* last = dst.last();
    if (!last) return Pressure::Idle;
    uint64_t len = dst.writable() ? last->writable_length : last->readable_length;
    uint64_t hwm = dst.writable() ? dst.writable_hwm : dst.readable_hwm;
    if (len == 0) return Pressure::Idle;
    if (hwm && len > 2 * hwm) return Pressure::Overfilled;
    if (hwm && len >= hwm) return Pressure::Full;
    return Pressure::Flowing;
}

GraphLayout layout_chains(const model::Timeline& tl, const std::vector<model::Finding>& findings, uint64_t selected,
                          const GraphOptions& opt) {
    GraphLayout out;
    // Current edges: pipes not unpiped, and consecutive pipeline() stages that are streams.
    std::set<std::pair<uint64_t, uint64_t>> edges;
    for (const model::PipeEdge& e : tl.edges())
        if (!e.unpiped_s && tl.stream(e.src) && tl.stream(e.dst)) edges.insert({e.src, e.dst});
    for (const model::PipelineInfo& p : tl.pipelines())
        for (size_t i = 0; i + 1 < p.stages.size(); ++i)
            if (p.stages[i] && p.stages[i + 1] && p.stages[i] != p.stages[i + 1] && tl.stream(p.stages[i]) &&
                tl.stream(p.stages[i + 1]))
                edges.insert({p.stages[i], p.stages[i + 1]});

    // Findings per stream: the worst severity, and the words of the first one (worst first).
    struct Flag {
        int severity = -1;
        const model::Finding* finding = nullptr;
    };
    std::unordered_map<uint64_t, Flag> flags;
    for (const model::Finding& f : findings) {
        if (!f.stream || !tl.stream(f.stream->id)) continue;
        Flag& fl = flags[f.stream->id];
        if (static_cast<int>(f.severity) > fl.severity) {
            fl.severity = static_cast<int>(f.severity);
            fl.finding = &f;
        }
    }

    // Components over streams with an edge or a finding (union-find on ids).
    std::unordered_map<uint64_t, uint64_t> parent;
    auto root = [&](uint64_t x) {
        while (parent[x] != x) x = parent[x] = parent[parent[x]];
        return x;
    };
    auto add = [&](uint64_t x) { parent.emplace(x, x); };
    for (auto& [a, b] : edges) {
        add(a), add(b);
        uint64_t ra = root(a), rb = root(b);
        if (ra != rb) parent[std::max(ra, rb)] = std::min(ra, rb);
    }
    for (auto& [id, fl] : flags) add(id);
    if (selected && tl.stream(selected)) add(selected);
    std::map<uint64_t, std::vector<uint64_t>> comps;  // root → members (sorted ids)
    for (auto& [id, p] : parent) comps[root(id)].push_back(id);
    out.chains_total = comps.size();

    struct Comp {
        uint64_t root;
        int severity;
        bool selected;
    };
    std::vector<Comp> order;
    for (auto& [r, members] : comps) {
        Comp c{r, -1, false};
        for (uint64_t m : members) {
            if (auto it = flags.find(m); it != flags.end()) c.severity = std::max(c.severity, it->second.severity);
            if (m == selected) c.selected = true;
        }
        order.push_back(c);
    }
    std::stable_sort(order.begin(), order.end(), [](const Comp& a, const Comp& b) {
        if (a.selected != b.selected) return a.selected;
        if (a.severity != b.severity) return a.severity > b.severity;
        return a.root < b.root;
    });
    if (order.size() > opt.max_chains) order.resize(opt.max_chains);

    for (const Comp& c : order) {
        std::vector<uint64_t> members = comps[c.root];
        std::sort(members.begin(), members.end());
        if (members.size() > opt.max_nodes_per_chain) members.resize(opt.max_nodes_per_chain);
        Chain chain;
        chain.severity = c.severity;
        chain.selected = c.selected;
        std::unordered_map<uint64_t, size_t> index;
        for (uint64_t id : members) {
            const model::StreamInfo* s = tl.stream(id);
            GraphNode n;
            n.id = id;
            n.label = "#" + std::to_string(id) + " " + (s->type.empty() ? std::string("stream") : s->type);
            n.sublabel = display_site(s->site);
            n.fill = fill_of(*s);
            if (auto it = flags.find(id); it != flags.end()) n.severity = it->second.severity;
            n.selected = id == selected;
            index[id] = chain.nodes.size();
            chain.nodes.push_back(std::move(n));
        }
        std::vector<std::pair<size_t, size_t>> links;
        std::vector<int> indegree(chain.nodes.size(), 0);
        for (auto& [a, b] : edges) {
            auto ia = index.find(a), ib = index.find(b);
            if (ia == index.end() || ib == index.end()) continue;
            links.emplace_back(ia->second, ib->second);
            ++indegree[ib->second];
        }
        // A stream flagged for ignored backpressure with no pipe into it: its writer is user code.
        for (uint64_t id : members) {
            auto it = flags.find(id);
            if (it == flags.end() || !it->second.finding || !ignores_backpressure(*it->second.finding)) continue;
            size_t to = index[id];
            if (indegree[to] > 0) continue;
            GraphNode u;
            u.label = "user code";
            u.sublabel = it->second.finding->site.empty() ? std::string("(call site unknown)") : display_site(it->second.finding->site);
            u.severity = it->second.severity;
            chain.nodes.push_back(std::move(u));
            indegree.push_back(0);
            links.emplace_back(chain.nodes.size() - 1, to);
            ++indegree[to];
        }
        // Layers: longest path from a source (bounded relaxation, so a cycle cannot loop forever).
        size_t n = chain.nodes.size();
        std::vector<int> layer(n, 0);
        for (size_t round = 0; round < n; ++round) {
            bool changed = false;
            for (auto& [a, b] : links)
                if (layer[b] < layer[a] + 1 && layer[a] + 1 < static_cast<int>(n)) {
                    layer[b] = layer[a] + 1;
                    changed = true;
                }
            if (!changed) break;
        }
        // Rows: by layer, ordered by the mean row of their predecessors (one barycentre pass).
        int max_layer = 0;
        for (int l : layer) max_layer = std::max(max_layer, l);
        std::vector<double> row_of(n, 0);
        std::vector<int> rows_in(static_cast<size_t>(max_layer) + 1, 0);
        for (int l = 0; l <= max_layer; ++l) {
            std::vector<std::pair<double, size_t>> in_layer;
            for (size_t i = 0; i < n; ++i) {
                if (layer[i] != l) continue;
                double sum = 0;
                int cnt = 0;
                for (auto& [a, b] : links)
                    if (b == i && layer[a] < l) sum += row_of[a], ++cnt;
                in_layer.emplace_back(cnt ? sum / cnt : static_cast<double>(i) * 1e-6 + 1e6, i);
            }
            std::stable_sort(in_layer.begin(), in_layer.end());
            for (size_t r = 0; r < in_layer.size(); ++r) {
                size_t i = in_layer[r].second;
                row_of[i] = static_cast<double>(r);
                chain.nodes[i].layer = l;
                chain.nodes[i].row = static_cast<int>(r);
            }
            rows_in[static_cast<size_t>(l)] = static_cast<int>(in_layer.size());
        }
        int max_rows = 0;
        for (int r : rows_in) max_rows = std::max(max_rows, r);
        for (GraphNode& g : chain.nodes) {
            g.w = opt.node_w;
            g.h = opt.node_h;
            g.x = static_cast<float>(g.layer) * (opt.node_w + opt.layer_gap);
            g.y = static_cast<float>(g.row) * (opt.node_h + opt.row_gap);
        }
        chain.width = static_cast<float>(max_layer + 1) * (opt.node_w + opt.layer_gap) - opt.layer_gap;
        chain.height = static_cast<float>(std::max(1, max_rows)) * (opt.node_h + opt.row_gap) - opt.row_gap;
        for (auto& [a, b] : links) {
            GraphLink gl;
            gl.from = a;
            gl.to = b;
            const GraphNode& dst = chain.nodes[b];
            if (const model::StreamInfo* s = dst.id ? tl.stream(dst.id) : nullptr) gl.pressure = pressure_of(*s);
            if (auto it = flags.find(dst.id); dst.id && it != flags.end() && it->second.finding) {
                const model::Finding& f = *it->second.finding;
                // The broken link is the one into the flagged stream: from user code when it ignores
                // backpressure, from its upstream for the stream rules.
                bool from_user = chain.nodes[a].id == 0;
                if (from_user || !ignores_backpressure(f) || indegree[b] > 0) {
                    gl.broken = true;
                    gl.note = std::string(model::finding_kind_name(f.kind)) + ": " + f.message;
                    gl.pressure = std::max(gl.pressure, Pressure::Overfilled);
                }
            }
            chain.links.push_back(std::move(gl));
        }
        out.chains.push_back(std::move(chain));
    }
    return out;
}

}  // namespace tidemark::viewer
