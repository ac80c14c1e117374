#pragma once
// Device affinity: which replica keeps a device's per-device state (the analytics' rolling
// features, latest results and scheduled models). Replicas register in Redis — a sorted set
// scored by Redis' own clock, refreshed every `heartbeat`; an entry older than `expiry` is a
// replica that died — and each computes a device's owner by rendezvous hashing over the live
// members: the member with the highest hash(member, device). Every replica computes the same
// owner from the same list, without talking to the others; a member leaving moves only its own
// devices (spread over the rest), a member joining takes about 1/n of each one's.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bus/redis_bus.hpp"

namespace remhart::bus {

/// The owner of `device` among `members` (rendezvous hashing); empty when there are none.
std::string_view rendezvous_owner(std::span<const std::string> members, std::string_view device);

class ReplicaRing {
 public:
  struct Options {
    RedisOptions redis;  ///< `redis.replica` is this member's name
    std::string key = "remhart:replicas";
    std::chrono::milliseconds heartbeat{1000};
    std::chrono::milliseconds expiry{3000};
  };
  /// Joins the ring at once when Redis answers, then keeps the membership fresh in a thread.
  explicit ReplicaRing(Options options, obs::Registry* metrics = nullptr);
  /// Leaves the ring: the other replicas take this one's devices at their next heartbeat.
  ~ReplicaRing();
  ReplicaRing(const ReplicaRing&) = delete;
  ReplicaRing& operator=(const ReplicaRing&) = delete;

  /// Whether this replica owns `device` now. While Redis is away every replica owns every device
  /// it receives samples of (as a replica alone would).
  bool owns(std::string_view device) const;
  /// The live members as of the last heartbeat (this one included); empty while Redis is away.
  std::vector<std::string> members() const;
  bool connected() const { return connected_; }

 private:
  void loop();
  /// One heartbeat: register, drop the expired, read the members; false when Redis failed.
  bool beat();

  Options opt_;
  obs::Counter* failures_ = nullptr;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const std::vector<std::string>> members_;  // under mu_; null: Redis away
  bool stopping_ = false;
  std::atomic<bool> connected_{false};
  struct Connection;
  std::unique_ptr<Connection> conn_;  // the loop's (and the destructor's after it ends)
  std::thread thread_;
};

}  // namespace remhart::bus
