#pragma once
// The live stream's fan-out: who subscribed to what, and each client's bounded outbox.
// Transport-neutral: the WebSocket session implements LiveClient.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/store.hpp"

namespace remhart::obs {
class Registry;
class Counter;
}  // namespace remhart::obs

namespace remhart::api {

/// What one client wants. By default: every device, every message type, origin "real".
struct Subscription {
  bool all_devices = true;
  std::set<std::string> devices;   // explicit devices (when !all_devices)
  std::set<std::string> excluded;  // unsubscribed while all_devices
  std::set<std::string> sites;
  std::set<std::string> types{"measurement", "analytics", "alarm", "simulation", "network_state"};
  std::string origin{core::kOriginReal};
  double max_rate_hz = 0;  // 0: no cap

  bool wants_device(const std::string& device, const store::DeviceMap& devices) const;
};

/// Outcome of a client's control message.
struct ClientCommand {
  enum class Kind { subscribe, unsubscribe, auth, ping, error } kind = Kind::error;
  std::string error;
  std::string token;  ///< auth
};

/// Applies a client message (`subscribe`, `unsubscribe`, `auth`, `ping`) to `sub`.
ClientCommand apply_client_message(std::string_view text, Subscription& sub);

/// A live message for one device, serialised once and shared by every receiver.
struct LiveMessage {
  std::string device;
  std::shared_ptr<const std::string> text;
};

/// Sink for live messages; implementations are thread-safe.
class LiveClient {
 public:
  virtual ~LiveClient() = default;
  /// Queues messages (rate cap and queue bound apply per device).
  virtual void deliver(std::vector<LiveMessage> messages) = 0;
};

/// A client's queue, bounded in messages and in bytes (beyond either, the oldest are dropped),
/// with per-device coalescing under a rate cap. Not thread-safe: owned by one session and used
/// on its strand.
class Outbox {
 public:
  using Clock = std::chrono::steady_clock;
  /// A message larger than `byte_limit` on its own is still queued, alone.
  Outbox(std::size_t limit, std::size_t byte_limit) : limit_(limit), byte_limit_(byte_limit) {}

  void set_rate(double hz);
  /// Queues a message; with a rate cap, a device's messages closer than 1/hz apart are
  /// coalesced to the newest. Returns how many queued messages were dropped to stay bounded.
  std::size_t push(const std::string& key, std::shared_ptr<const std::string> msg,
                   Clock::time_point now);
  /// Queues a reply (snapshot, pong, error) ahead of no rate cap; returns drops.
  std::size_t push_reply(std::shared_ptr<const std::string> msg) { return enqueue(std::move(msg)); }
  /// Moves coalesced messages whose time has come into the queue; returns drops.
  std::size_t release_due(Clock::time_point now);
  /// Earliest time a coalesced message becomes due.
  std::optional<Clock::time_point> next_due() const;
  std::shared_ptr<const std::string> pop();
  std::size_t size() const { return queue_.size(); }
  std::size_t bytes() const { return bytes_; }

 private:
  std::size_t enqueue(std::shared_ptr<const std::string> msg);
  struct Pending {
    std::shared_ptr<const std::string> msg;
    Clock::time_point due;
  };
  std::size_t limit_, byte_limit_;
  std::size_t bytes_ = 0;
  Clock::duration min_gap_{0};
  std::deque<std::shared_ptr<const std::string>> queue_;
  std::unordered_map<std::string, Clock::time_point> last_sent_;
  std::unordered_map<std::string, Pending> pending_;
};

/// A token bucket for one connection's own requests: `burst` at once, refilled at `per_s`.
/// Not thread-safe (used on the session's strand).
class Budget {
 public:
  using Clock = std::chrono::steady_clock;
  Budget(double per_s, double burst) : per_s_(per_s), burst_(burst), tokens_(burst) {}
  /// Takes one; false when none is left.
  bool take(Clock::time_point now) {
    if (last_ != Clock::time_point{}) {
      tokens_ =
          std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * per_s_);
    }
    last_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  double per_s_, burst_, tokens_;
  Clock::time_point last_{};
};

class LiveHub {
 public:
  explicit LiveHub(store::Store& store, obs::Registry* metrics = nullptr);

  std::uint64_t add(std::weak_ptr<LiveClient> client);
  void remove(std::uint64_t id);
  /// Replaces a client's subscription.
  void update(std::uint64_t id, const Subscription& sub);
  /// `{"type":"snapshot","data":[…]}` with the latest sample of each device `sub` wants.
  std::string snapshot(const Subscription& sub) const;
  /// Sends `measurement` messages for newly stored samples to the clients that want them.
  void publish(const std::vector<store::StoredSample>& samples);
  /// Sends `{"type":type,"data":data}` to every client subscribed to `type` (not filtered by
  /// device or origin); `key` is what a client's rate cap coalesces by.
  void broadcast(const std::string& type, const std::string& key, const std::string& data);
  std::size_t clients() const;

  obs::Counter* dropped_counter() const { return dropped_; }

 private:
  struct Entry {
    std::weak_ptr<LiveClient> client;
    Subscription sub;
  };
  void index(std::uint64_t id, const Subscription& sub);
  void unindex(std::uint64_t id, const Subscription& sub);

  store::Store& store_;
  mutable std::mutex mu_;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, Entry> clients_;
  // Who may want a device: clients that named it, and clients that need a per-sample check
  // (every device, or by site). Keeps publishing proportional to receivers, not to clients.
  std::unordered_map<std::string, std::vector<std::uint64_t>> by_device_;
  std::vector<std::uint64_t> wildcard_;
  obs::Counter* dropped_ = nullptr;
  obs::Counter* sent_ = nullptr;
};

}  // namespace remhart::api
