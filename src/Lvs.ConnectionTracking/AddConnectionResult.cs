namespace Lvs.ConnectionTracking;

/// <summary>The outcome of adding a connection or template.</summary>
public enum AddConnectionResult : byte
{
    /// <summary>The connection was added.</summary>
    Added = 0,

    /// <summary>A live connection with the same inbound key exists (another thread added it first); its handle is returned.</summary>
    Exists = 1,

    /// <summary>The table is full and nothing could be shed: the connection was refused and counted.</summary>
    Full = 2,

    /// <summary>The request is not valid for the table (mixed address families, unknown real server, ended template).</summary>
    Invalid = 3,
}
