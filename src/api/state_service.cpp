#include "api/state_service.hpp"

#include <spdlog/spdlog.h>

#include "api/active_network.hpp"
#include "api/analytics_service.hpp"
#include "api/context.hpp"
#include "api/live_hub.hpp"
#include "api/state_estimate.hpp"
#include "grid/network.hpp"
#include "obs/metrics.hpp"
#include "runs/simulation_runs.hpp"

namespace remhart::api {

namespace {
constexpr core::TimeUs kMaxAge = 900 * core::kUsPerSecond;  // as GET /api/grid/state by default
}

StateService::StateService(ApiContext& ctx, std::chrono::milliseconds interval,
                           obs::Registry* metrics)
    : ctx_(ctx), interval_(interval) {
  if (metrics) {
    done_ = &metrics->counter("remhart_state_estimates_total",
                              "State estimates of the active source made by the estimator");
    unobservable_ =
        &metrics->counter("remhart_state_estimates_unobservable_total",
                          "Rounds of the estimator whose measurements did not observe the network");
    failed_ = &metrics->counter("remhart_state_estimate_failures_total",
                                "Rounds of the estimator that failed otherwise (logged)");
  }
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

StateService::~StateService() {
  thread_.request_stop();
  wake_.notify_all();
}

std::optional<std::string> StateService::fresh(const std::string& origin,
                                               std::int64_t network_id) const {
  std::lock_guard lock(mu_);
  if (!kept_ || kept_->origin != origin || kept_->network_id != network_id ||
      std::chrono::steady_clock::now() - kept_->at > 2 * interval_) {
    return std::nullopt;
  }
  return *kept_->body;
}

void StateService::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    round();
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, stop, interval_, [] { return false; });
  }
}

void StateService::round() {
  const auto pinned = ctx_.simulator.pinned();
  const std::string origin = pinned ? "sim:" + pinned->id : "real";
  try {
    const auto e = estimate_active_network(ctx_, origin, kMaxAge, true);
    auto body = std::make_shared<const std::string>(dump_json(e.body));
    {
      std::lock_guard lock(mu_);
      kept_ = Kept{origin, e.network_id, std::chrono::steady_clock::now(), body};
    }
    ctx_.hub.broadcast("network_state", origin, *body);
    if (done_) done_->inc();
    // The network-level analytics of this state (their own failures are theirs: logged and
    // counted there, not an estimator failure).
    if (ctx_.analytics && e.result.converged) {
      ctx_.analytics->on_network_state(origin, e.network_id, e.network,
                                       {e.result.vm, e.result.va_deg, e.result.losses_sigma_mw},
                                       e.at);
    }
  } catch (const grid::NetworkError&) {
    std::lock_guard lock(mu_);
    kept_.reset();
    if (unobservable_) unobservable_->inc();
  } catch (const std::exception& e) {
    spdlog::error("state estimator: {}", e.what());
    if (failed_) failed_->inc();
  }
}

}  // namespace remhart::api
