// Shared by the packages of the per-packet path (Lvs.Core, Lvs.Scheduling, Lvs.ConnectionTracking, Lvs.Forwarding,
// Lvs.Director), each of which links this file: locals and stackalloc buffers are not zeroed on entry. Every method
// assigns what it reads (the compiler's definite assignment for locals; each stackalloc buffer is written before it is
// read), and zeroing the large stack frames of the engine's per-frame methods on every call cost 2-5 ns of an
// established frame (docs/benchmarks.md, "locals not zeroed").
[module: System.Runtime.CompilerServices.SkipLocalsInit]
