#include "store/write_queue.hpp"

#include <future>

namespace remhart::store {

bool WriteQueue::submit(std::string origin, std::vector<core::Sample> samples, WriteCallback done) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    if (queued_samples_ > 0 && queued_samples_ + samples.size() > max_samples_) return false;
    queued_samples_ += samples.size();
    queue_.push_back(Job{std::move(origin), std::move(samples), std::move(done), {}});
  }
  cv_.notify_one();
  return true;
}

void WriteQueue::run_on_writer(std::function<void()> fn) {
  std::promise<void> done;
  auto fut = done.get_future();
  {
    std::lock_guard lock(mu_);
    Job job;
    job.control = [&] {
      try {
        fn();
        done.set_value();
      } catch (...) {
        done.set_exception(std::current_exception());
      }
    };
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  fut.get();
}

std::optional<std::deque<WriteQueue::Job>> WriteQueue::next_group(std::chrono::milliseconds wait) {
  std::deque<Job> group;
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, wait, [this] { return stopping_ || !queue_.empty(); });
  if (queue_.empty() && stopping_) return std::nullopt;
  std::size_t n = 0;
  while (!queue_.empty()) {
    Job& next = queue_.front();
    if (next.control) {
      if (!group.empty()) break;  // keep order: writes queued before it commit first
      group.push_back(std::move(next));
      queue_.pop_front();
      break;
    }
    if (!group.empty() && n + next.samples.size() > group_samples_) break;
    n += next.samples.size();
    group.push_back(std::move(next));
    queue_.pop_front();
  }
  if (!group.empty() && !group.front().control) inflight_since_ = group.front().queued_at;
  return group;
}

void WriteQueue::finished(const std::deque<Job>& group) {
  std::size_t n = 0;
  for (const Job& job : group) n += job.samples.size();
  std::lock_guard lock(mu_);
  queued_samples_ -= n;
  inflight_since_.reset();
}

void WriteQueue::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

std::size_t WriteQueue::queued_samples() const {
  std::lock_guard lock(mu_);
  return queued_samples_;
}

double WriteQueue::wait_s() const {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  double wait = 0;
  if (!queue_.empty()) wait = std::chrono::duration<double>(now - queue_.front().queued_at).count();
  if (inflight_since_) {
    wait = std::max(wait, std::chrono::duration<double>(now - *inflight_since_).count());
  }
  return wait;
}

}  // namespace remhart::store
