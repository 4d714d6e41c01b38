// tidemark_inject.so: the entry `tidemark attach --route ptrace` loads into a running node process.
// The agent stops the main thread where it waits in epoll (outside any JS, holding no lock of ours
// or the app's), calls dlopen on this file and then tidemark_inject_start(args) on the stopped
// thread, and lets it go. tidemark_inject_start only arms a libuv async handle on the thread's
// event loop and wakes it; the JS runs from that handle's callback, as any I/O callback runs (the
// isolate and the main context are entered there by node's event loop), inside a
// node::CallbackScope so the ticks and microtasks it queues run after it. The expression it runs
// is the agent's (attach.js's attach(), reached with a require made by createRequire); its answer
// and any exception are written to a status file once the handle is closed, after which nothing of
// this library runs again and the agent unloads it (dlclose, on another stop in epoll).
//
// Built against this machine's node headers: the V8 and node C++ API have no stable ABI across
// node's major versions, so tidemark_inject_start refuses (returns 2) a process whose V8 is not
// the one the headers describe, before touching anything.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <node.h>
#include <uv.h>
#include <v8-version.h>


namespace {

uv_async_t g_async;
char* g_status_path = nullptr;  // where the answer goes
char* g_script = nullptr;       // the JS to run
char* g_answer = nullptr;       // what it returned (a string), or what went wrong
bool g_ok = false;
bool g_armed = false;

char* copy(const char* s, size_t n) {
    char* p = static_cast<char*>(std::malloc(n + 1));
    if (p == nullptr) return nullptr;
    std::memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void write_status() {
    if (g_status_path == nullptr) return;
    const size_t n = std::strlen(g_status_path);
    char* tmp = static_cast<char*>(std::malloc(n + 5));
    if (tmp == nullptr) return;
    std::memcpy(tmp, g_status_path, n);
    std::memcpy(tmp + n, ".tmp", 5);
    const int fd = ::open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        const char* head = g_ok ? "ok\n" : "error\n";
        bool good = ::write(fd, head, std::strlen(head)) >= 0;
        if (g_answer != nullptr) good = good && ::write(fd, g_answer, std::strlen(g_answer)) >= 0;
        ::close(fd);
        if (good) ::rename(tmp, g_status_path);
    }
    std::free(tmp);
}

void on_closed(uv_handle_t*) {
    write_status();
    std::free(g_status_path);
    std::free(g_script);
    std::free(g_answer);
    g_status_path = g_script = g_answer = nullptr;
    g_armed = false;
}

void fail(const char* what) {
    g_ok = false;
    std::free(g_answer);
    g_answer = copy(what, std::strlen(what));
}

void run_script() {
    v8::Isolate* isolate = v8::Isolate::TryGetCurrent();
    if (isolate == nullptr) return fail("no V8 isolate is entered on the thread that runs the event loop");
    v8::HandleScope handles(isolate);
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    if (context.IsEmpty()) return fail("no JS context is entered on the event loop's thread");
    node::CallbackScope scope(isolate, v8::Object::New(isolate), node::async_context{0, 0});
    v8::TryCatch try_catch(isolate);
    v8::Local<v8::String> source;
    if (!v8::String::NewFromUtf8(isolate, g_script).ToLocal(&source)) return fail("the script could not be made a string");
    v8::Local<v8::Script> script;
    v8::Local<v8::Value> result;
    if (!v8::Script::Compile(context, source).ToLocal(&script) || !script->Run(context).ToLocal(&result)) {
        if (try_catch.HasCaught() && !try_catch.Exception().IsEmpty()) {
            v8::String::Utf8Value message(isolate, try_catch.Exception());
            return fail(*message != nullptr ? *message : "the script threw");
        }
        return fail("the script did not run (the process may be terminating)");
    }
    v8::String::Utf8Value text(isolate, result);
    if (*text == nullptr) return fail("the script's answer is not a string");
    g_ok = true;
    std::free(g_answer);
    g_answer = copy(*text, static_cast<size_t>(text.length()));
}

void on_async(uv_async_t* handle) {
    run_script();
    uv_close(reinterpret_cast<uv_handle_t*>(handle), on_closed);
}

bool same_v8() {
    // "11.3.244.8-node.38": the major and minor versions fix the API's layout.
    const char* v = v8::V8::GetVersion();
    char want[32];
    std::snprintf(want, sizeof want, "%d.%d.", V8_MAJOR_VERSION, V8_MINOR_VERSION);
    return v != nullptr && std::strncmp(v, want, std::strlen(want)) == 0;
}

}  // namespace

extern "C" {

// args: the status file's path, a newline, the script. 0: armed; 1: busy (an earlier load has not
// finished); 2: another V8; 3: no event loop or out of memory; 4: bad arguments.
__attribute__((visibility("default"))) int tidemark_inject_start(const char* args) {
    if (g_armed) return 1;
    if (!same_v8()) return 2;
    if (args == nullptr) return 4;
    const char* nl = std::strchr(args, '\n');
    if (nl == nullptr) return 4;
    v8::Isolate* isolate = v8::Isolate::TryGetCurrent();
    if (isolate == nullptr) return 3;
    uv_loop_t* loop = node::GetCurrentEventLoop(isolate);
    if (loop == nullptr) return 3;
    g_status_path = copy(args, static_cast<size_t>(nl - args));
    g_script = copy(nl + 1, std::strlen(nl + 1));
    g_answer = nullptr;
    g_ok = false;
    if (g_status_path == nullptr || g_script == nullptr || uv_async_init(loop, &g_async, on_async) != 0) {
        std::free(g_status_path);
        std::free(g_script);
        g_status_path = g_script = nullptr;
        return 3;
    }
    g_armed = true;
    uv_async_send(&g_async);
    return 0;
}

// 1 while a load is under way (the handle is open): the library must stay loaded.
__attribute__((visibility("default"))) int tidemark_inject_busy() { return g_armed ? 1 : 0; }

}  // extern "C"
