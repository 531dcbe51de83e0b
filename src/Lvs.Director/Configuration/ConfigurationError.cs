namespace Lvs.Director.Configuration;

/// <summary>One error in a configuration file, reported as <c>file:line: message</c>.</summary>
/// <param name="File">The file name as given to the parser.</param>
/// <param name="Line">The 1-based line number.</param>
/// <param name="Message">What is wrong.</param>
public sealed record ConfigurationError(string File, int Line, string Message)
{
    /// <summary>Formats as <c>file:line: message</c>.</summary>
    /// <returns>The text form.</returns>
    public override string ToString() => $"{File}:{Line}: {Message}";
}

/// <summary>A configuration file could not be loaded: every error of the file, all at once.</summary>
public sealed class ConfigurationException : Exception
{
    /// <summary>Creates the exception from the errors of a file.</summary>
    /// <param name="errors">The errors, in file order; at least one.</param>
    public ConfigurationException(IReadOnlyList<ConfigurationError> errors)
        : base(Describe(errors))
    {
        Errors = errors;
    }

    /// <summary>Creates the exception with a message and no error list (for serializers and tools).</summary>
    public ConfigurationException()
        : this([])
    {
    }

    /// <summary>Creates the exception with a message and no error list.</summary>
    /// <param name="message">The message.</param>
    public ConfigurationException(string message)
        : base(message)
    {
        Errors = [];
    }

    /// <summary>Creates the exception with a message, an inner exception and no error list.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public ConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = [];
    }

    /// <summary>The errors, in file order, each <c>file:line: message</c>.</summary>
    public IReadOnlyList<ConfigurationError> Errors { get; }

    private static string Describe(IReadOnlyList<ConfigurationError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        return errors.Count == 0
            ? "The configuration has errors."
            : string.Join('\n', errors.Select(error => error.ToString()));
    }
}
