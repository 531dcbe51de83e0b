using Microsoft.Extensions.Options;

namespace Lvs.Hosting;

/// <summary>Validates <see cref="LvsDirectorOptions"/> at start-up (<c>ValidateOnStart</c>).</summary>
internal sealed class LvsDirectorOptionsValidator : IValidateOptions<LvsDirectorOptions>
{
    public ValidateOptionsResult Validate(string? name, LvsDirectorOptions options)
    {
        var errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
