namespace Lvs.HealthChecks;

/// <summary>
/// Options of keepalived's <c>FILE_CHECK</c>: the file a <c>track_file</c> block names and the weight the checker
/// applies to the number it holds (keepalived's track_file.c and check_file.c).
/// </summary>
public sealed record FileCheckOptions
{
    /// <summary>The file whose number decides the check (keepalived <c>track_file { file ... }</c>); a relative path is taken from the current directory.</summary>
    public required string Path
    {
        get;
        init
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(value, nameof(Path));
            field = value;
        }
    }

    /// <summary>
    /// keepalived's <c>weight</c>, -<see cref="Lvs.Core.RealServer.MaxWeight"/> to <see cref="Lvs.Core.RealServer.MaxWeight"/>.
    /// 0: a non-zero number in the file fails the check (0 passes it). Otherwise the check never fails (unless the
    /// product reaches <see cref="int.MinValue"/>) and adds the number times the weight to the server's weight. 1 by
    /// default, the default of a keepalived <c>track_file</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Out of range.</exception>
    public int Weight
    {
        get;
        init => field = OptionValidation.InRange(value, -Lvs.Core.RealServer.MaxWeight, Lvs.Core.RealServer.MaxWeight, nameof(Weight), "weight");
    } = 1;

    /// <summary>keepalived's <c>weight W reverse</c>: the sign of the weight is flipped; with weight 0, 0 in the file fails the check and any other number passes it.</summary>
    public bool Reverse { get; init; }
}
