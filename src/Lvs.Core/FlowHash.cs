using System.Security.Cryptography;

namespace Lvs.Core;

/// <summary>
/// The process-wide seed for flow hashing. Hash tables keyed by packet fields must not let a remote
/// sender choose colliding keys, so the seed is random per process (like the kernel's
/// <c>ip_vs_conn_rnd</c>); tests and multi-director setups that need reproducible hashes set it.
/// </summary>
public static class FlowHash
{
    private static ulong s_seed = RandomSeed();

    /// <summary>The seed used by <see cref="FlowKey.GetHashCode"/> and <see cref="FlowKey.Hash()"/>.</summary>
    /// <remarks>
    /// Set it before any table is filled: changing it re-places every key. Reads and writes are atomic.
    /// </remarks>
    public static ulong Seed
    {
        get => Volatile.Read(ref s_seed);
        set => Volatile.Write(ref s_seed, value);
    }

    /// <summary>Draws a new cryptographically random seed.</summary>
    /// <returns>A random 64-bit seed.</returns>
    public static ulong RandomSeed()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        return BitConverter.ToUInt64(bytes);
    }
}
