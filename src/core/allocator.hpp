#pragma once
// Process-wide allocator tuning, called first thing by the programs (server, CLI, benchmarks).

namespace remhart {

/// Keeps large freed blocks in the heap instead of returning them to the kernel at once: glibc
/// serves blocks above 128 KiB with fresh mmap()s and trims the heap top above 128 KiB, so every
/// new power-flow model or query buffer of a few MiB is faulted in page by page again (on this
/// virtual machine, half the time of a cold case9241pegase solve). Raising the mmap threshold to
/// 32 MiB and the trim threshold to 128 MiB lets those blocks be reused; memory above that is still
/// given back. glibc only; a no-op elsewhere.
void tune_allocator();

}  // namespace remhart
