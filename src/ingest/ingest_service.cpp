#include "ingest/ingest_service.hpp"

#include <algorithm>

#include "obs/metrics.hpp"

namespace remhart::ingest {

IngestService::IngestService(store::Store& store, IngestOptions options, obs::Registry* metrics)
    : store_(store), opt_(std::move(options)) {
  if (metrics) {
    accepted_ = &metrics->counter("remhart_ingest_samples_total", "Ingested samples by outcome",
                                  "outcome=\"accepted\"");
    duplicates_ = &metrics->counter("remhart_ingest_samples_total", "Ingested samples by outcome",
                                    "outcome=\"duplicate\"");
    rejected_ = &metrics->counter("remhart_ingest_samples_total", "Ingested samples by outcome",
                                  "outcome=\"rejected\"");
    refused_ = &metrics->counter("remhart_ingest_backpressure_total",
                                 "Batches refused with 503 because the write queue was full");
  }
}

void IngestService::ingest(ParsedBatch batch, std::string origin, bool atomic,
                           std::function<void(IngestOutcome)> done) {
  IngestOutcome outcome;
  auto devices = store_.devices();
  const core::TimeUs now = core::now_us();
  std::vector<core::Sample> valid;
  valid.reserve(batch.samples.size());
  for (std::size_t k = 0; k < batch.samples.size(); ++k) {
    core::Sample& s = batch.samples[k];
    auto reject = [&](ItemError e) {
      e.index = batch.positions[k];
      if (batch.lines[k]) e.line = batch.lines[k];
      batch.errors.push_back(std::move(e));
    };
    auto it = devices->find(s.device);
    if (it == devices->end() && opt_.auto_register) {
      core::Device d = opt_.new_device_defaults;
      d.id = s.device;
      d.name = s.device;
      try {
        store_.create_device(d);
      } catch (const core::Error& e) {
        if (e.kind() != core::ErrorKind::conflict) throw;  // registered meanwhile: fine
      }
      devices = store_.devices();
      it = devices->find(s.device);
    }
    if (it == devices->end()) {
      reject(ItemError{0, "device", "unknown device '" + s.device + "'", {}});
      continue;
    }
    if (auto err = validate(s, it->second, now, opt_.limits)) {
      reject(std::move(*err));
      continue;
    }
    valid.push_back(std::move(s));
  }
  std::sort(batch.errors.begin(), batch.errors.end(),
            [](const ItemError& a, const ItemError& b) { return a.index < b.index; });
  outcome.reply.rejected = std::move(batch.errors);
  if (rejected_) rejected_->inc(outcome.reply.rejected.size());
  if (atomic && !outcome.reply.rejected.empty()) {
    outcome.status = IngestStatus::unprocessable;
    done(std::move(outcome));
    return;
  }
  if (valid.empty()) {
    done(std::move(outcome));
    return;
  }
  // The callback may run on the storage thread; it owns the outcome from here on.
  auto shared_done = std::make_shared<std::function<void(IngestOutcome)>>(std::move(done));
  auto pending = std::make_shared<IngestOutcome>(std::move(outcome));
  const bool queued = store_.submit(std::move(origin), std::move(valid),
                                    [this, shared_done, pending](const store::WriteResult& r) {
                                      IngestOutcome out = std::move(*pending);
                                      if (!r.ok) {
                                        out.status = r.full ? IngestStatus::storage_full
                                                     : r.unavailable
                                                         ? IngestStatus::database_unreachable
                                                         : IngestStatus::failed;
                                        out.error = r.error;
                                      } else {
                                        out.reply.accepted = r.accepted;
                                        out.reply.duplicates = r.duplicates;
                                        if (accepted_) accepted_->inc(r.accepted);
                                        if (duplicates_) duplicates_->inc(r.duplicates);
                                      }
                                      (*shared_done)(std::move(out));
                                    });
  if (!queued) {
    if (refused_) refused_->inc();
    IngestOutcome out = std::move(*pending);
    out.status = IngestStatus::unavailable;
    (*shared_done)(std::move(out));
  }
}

core::Error storage_failure(const IngestOutcome& o) {
  using core::ErrorKind;
  switch (o.status) {
    case IngestStatus::unavailable:
      return core::Error(ErrorKind::unavailable, "the write queue is full; retry shortly", "", 1);
    case IngestStatus::storage_full:
      return core::Error(ErrorKind::unavailable,
                         "the server's disk is full; nothing of this batch was stored, send it "
                         "again later",
                         "", 30);
    case IngestStatus::database_unreachable:
      return core::Error(ErrorKind::unavailable,
                         "the database is unreachable; nothing of this batch was stored, send it "
                         "again shortly",
                         "", 5);
    default:
      return core::Error(ErrorKind::internal, "storage failed; the request id is in the log");
  }
}

}  // namespace remhart::ingest
