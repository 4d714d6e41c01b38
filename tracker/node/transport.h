// Transport of the Node tracker: one AF_UNIX connection to the agent, a bounded queue of encoded
// batches and one sender thread. The JS thread hands over whole batches (a move under a short
// mutex); the sender thread does the blocking send() without holding the mutex. Memory follows
// the backlog: a preallocated ring would fault its pages in one by one as the write position
// advanced, which shows up in the target's RSS as slow growth. When the agent dies the
// transport goes dead for good: further bytes are refused (the caller counts them as dropped).
// Objects of this class are never destroyed: the sender thread is detached and may still be
// blocked in send() while the process exits.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace tidemark::node {

class Transport {
public:
    // Connects to the agent's socket (bounded wait). Returns nullptr and sets error on failure.
    static Transport* connect(const std::string& socket_path, size_t capacity_bytes, std::string& error);

    // Starts the sender thread. Call once, after the Hello record was queued. Also arranges that a
    // child made by fork() (which has no sender thread) never writes into the parent's connection.
    bool start();

    // Bytes that can be appended right now (0 once dead). Only the sender frees space, so with a
    // single producer the answer stays valid until the producer appends.
    size_t free_bytes();
    bool alive() const { return !dead_.load(std::memory_order_relaxed); }

    // Like free_bytes(), but first waits up to `bound` for at least n free bytes.
    size_t wait_for_space(size_t n, std::chrono::milliseconds bound);

    // Queues a batch; false (nothing queued) when it does not fit or the transport is dead.
    bool append(std::vector<uint8_t>&& batch);

    // Waits until everything queued was sent, the transport died, or the bound passed.
    bool drain(std::chrono::milliseconds bound);

    // Detach: drops what is queued; the sender thread closes the connection and ends. The object
    // itself must stay allocated (the thread may still be leaving); it is a few hundred bytes.
    void stop();

private:
    Transport(int fd, size_t capacity_bytes);
    void run();
    void mark_dead();
    static void after_fork_in_child();

    int fd_;
    std::mutex mu_;
    std::condition_variable has_data_;
    std::condition_variable became_empty_;  // also signalled whenever space was freed
    std::deque<std::vector<uint8_t>> queue_;
    const size_t capacity_;
    size_t size_ = 0;  // queued bytes, including the batch being sent
    std::atomic<bool> dead_{false};
};

}  // namespace tidemark::node
