using System.Globalization;
using Lvs.HealthChecks;

namespace Lvs.Director.Configuration;

/// <content>
/// The part of <see cref="KeepalivedConfigParser"/> that reads the top-level <c>track_file</c> blocks and the
/// <c>FILE_CHECK</c> of a real server that tracks one (keepalived's track_file.c and check_file.c).
/// </content>
public static partial class KeepalivedConfigParser
{
    /// <summary>keepalived's limit of a <c>track_file</c> weight (track_file.c): -254 to 254.</summary>
    private const int TrackFileWeightLimit = 254;

    /// <summary>A <c>track_file</c> block: its file, weight and reverse, where it was written, and whether a FILE_CHECK uses it.</summary>
    private sealed class TrackFile(KeepalivedStatement statement, string name)
    {
        public KeepalivedStatement Statement { get; } = statement;

        public string Name { get; } = name;

        public KeepalivedStatement? FileStatement { get; set; }

        public string? Path { get; set; }

        public int Weight { get; set; } = 1;

        public bool Reverse { get; set; }

        public bool Used { get; set; }

        /// <summary><c>init_file</c>: the value to write (null: no init_file).</summary>
        public int? InitValue { get; set; }

        /// <summary><c>init_file ... overwrite</c>.</summary>
        public bool Overwrite { get; set; }
    }

    /// <content>The parse state's handlers for this part.</content>
    private sealed partial class Context
    {
        private readonly Dictionary<string, TrackFile> _trackFiles = new(StringComparer.Ordinal);

        /// <summary>track_file.c: a <c>track_file NAME { file, weight, init_file }</c> block, read before the virtual servers that name it.</summary>
        private void TrackFileBlock(KeepalivedStatement st)
        {
            if (!Values(st, 1, 1) || !Block(st))
            {
                return;
            }

            var trackFile = new TrackFile(st, st[1]);
            int? initValue = null;
            bool init = false;
            bool overwrite = false;
            bool weightSet = false;
            foreach (var child in st.Block!)
            {
                if (!NoBlock(child))
                {
                    continue;
                }

                switch (child.Keyword)
                {
                    case "file":
                        if (!Values(child, 1, 1))
                        {
                            break;
                        }

                        if (trackFile.Path is not null)
                        {
                            Error(child, $"File already set for track file {trackFile.Name}");
                            break;
                        }

                        trackFile.Path = child[1];
                        trackFile.FileStatement = child;
                        break;
                    case "weight":
                        if (!Values(child, 1, 2))
                        {
                            break;
                        }

                        if (weightSet)
                        {
                            Error(child, $"Weight already set for track file {trackFile.Name}");
                            break;
                        }

                        if (!Int(child, 1, -TrackFileWeightLimit, TrackFileWeightLimit, $"Weight for track_file {trackFile.Name}", out int weight))
                        {
                            break;
                        }

                        if (child.ValueCount == 2 && child[2] != "reverse")
                        {
                            Error(child, $"track_file {trackFile.Name} unknown weight option {child[2]}");
                            break;
                        }

                        weightSet = true;
                        trackFile.Weight = weight;
                        trackFile.Reverse = child.ValueCount == 2;
                        break;
                    case "init_file":
                        init = true;
                        for (int i = 1; i <= child.ValueCount; i++)
                        {
                            string word = child[i];
                            if (word.Length > 0 && (char.IsAsciiDigit(word[0]) || word[0] == '-'))
                            {
                                if (Int(child, i, int.MinValue, int.MaxValue, $"Track file {trackFile.Name} init value", out int value))
                                {
                                    initValue = value;
                                    if (value is < -TrackFileWeightLimit or > TrackFileWeightLimit)
                                    {
                                        Notice(child, $"Track file {trackFile.Name} init value {value} is outside sensible range [{-TrackFileWeightLimit}, {TrackFileWeightLimit}]");
                                    }
                                }
                            }
                            else if (word == "overwrite")
                            {
                                overwrite = true;
                            }
                            else
                            {
                                Error(child, $"Unknown track file init option {word}");
                            }
                        }

                        break;
                    default:
                        Error(child, $"unknown keyword '{child.Keyword}' in track_file");
                        break;
                }
            }

            if (trackFile.Path is null)
            {
                Error(st, $"No file set for track_file {trackFile.Name}");
                return;
            }

            if (!_trackFiles.TryAdd(trackFile.Name, trackFile))
            {
                Error(st, $"track_file {trackFile.Name} is defined twice (first at line {_trackFiles[trackFile.Name].Statement.Line})");
                return;
            }

            if (init)
            {
                trackFile.InitValue = initValue ?? 0;
                trackFile.Overwrite = overwrite;
            }
        }

        /// <summary>
        /// track_file.c track_file_end_handler: whether <c>init_file</c> writes the file: when nothing is at its path
        /// (as <c>stat</c> sees it, following links); with <c>overwrite</c>, over an existing regular file too, except on
        /// a reload. An existing directory, FIFO, device or socket is an error with <c>overwrite</c>.
        /// </summary>
        private bool ShouldInitialise(TrackFile trackFile)
        {
            if (trackFile.InitValue is null)
            {
                return false;
            }

            bool? regular = TrackFileInitialiser.IsRegularFile(trackFile.Path!);
            if (regular is null)
            {
                return true;
            }

            if (!trackFile.Overwrite)
            {
                return false;
            }

            if (regular is false)
            {
                Error(trackFile.FileStatement!, $"Cannot initialise track file {trackFile.Name} - it is not a regular file");
                return false;
            }

            // "Don't overwrite a file on reload".
            return !reload;
        }

        /// <summary>Writes an <c>init_file</c> value (keepalived writes <c>"%d\n"</c>), never through a symbolic link (<see cref="TrackFileInitialiser"/>).</summary>
        private void InitFile(TrackFile trackFile)
        {
            if (!TrackFileInitialiser.TryWrite(trackFile.Path!, trackFile.InitValue!.Value.ToString(CultureInfo.InvariantCulture) + "\n", out string? error))
            {
                Error(trackFile.FileStatement!, $"Unable to initialise track file {trackFile.Name}: {error}");
            }
        }

        /// <summary>
        /// check_file.c: <c>FILE_CHECK { track_file NAME  weight W [reverse|noreverse] }</c>; without a weight (or with 0)
        /// the track_file's weight and reverse apply.
        /// </summary>
        private void FileCheck(RealServerBuilder rs, KeepalivedStatement st)
        {
            var check = new CheckBuilder(st, KeepalivedCheckKind.File);
            int before = Errors.Count;
            string? name = null;
            int? weight = null;
            bool reverse = false;
            foreach (var child in st.Block!)
            {
                if (!NoBlock(child))
                {
                    continue;
                }

                switch (child.Keyword)
                {
                    case "track_file":
                        if (name is not null)
                        {
                            // keepalived keeps the last one; two files for one checker is a mistake.
                            Error(child, $"track_file already set for FILE_CHECK ({name})");
                        }
                        else if (Values(child, 1, 1))
                        {
                            name = child[1];
                        }

                        break;
                    case "weight":
                        if (weight is not null)
                        {
                            Error(child, "weight already set for FILE_CHECK");
                            break;
                        }

                        if (!Values(child, 1, 2) || !Int(child, 1, -Lvs.Core.RealServer.MaxWeight, Lvs.Core.RealServer.MaxWeight, "weight for track file", out int w))
                        {
                            break;
                        }

                        if (child.ValueCount == 2 && child[2] is not ("reverse" or "noreverse"))
                        {
                            Error(child, $"unknown track file weight option {child[2]}");
                            break;
                        }

                        weight = w;
                        reverse = child.ValueCount == 2 && child[2] == "reverse";
                        break;
                    default:
                        Error(child, $"unknown keyword '{child.Keyword}' in FILE_CHECK");
                        break;
                }
            }

            if (name is null)
            {
                Error(st, "FILE_CHECK has no track_file specified");
                return;
            }

            if (!_trackFiles.TryGetValue(name, out TrackFile? trackFile))
            {
                Error(st, $"track_file {name} not found");
                return;
            }

            if (Errors.Count != before)
            {
                return;
            }

            trackFile.Used = true;
            if (weight is null or 0)
            {
                weight = trackFile.Weight;
                reverse = trackFile.Reverse;
            }

            check.FileOptions = new FileCheckOptions { Path = trackFile.Path!, Weight = weight.Value, Reverse = reverse };
            check.Words.Add(string.Create(CultureInfo.InvariantCulture, $"track_file {name} file {trackFile.Path} weight {weight}{(reverse ? " reverse" : string.Empty)}"));
            rs.Checks.Add(check);
        }

        /// <summary>
        /// track_file.c init_track_files, for the files a FILE_CHECK tracks: the directory must exist (keepalived
        /// drops the track file otherwise); a track_file nothing tracks is dropped with a notice. Then the
        /// <c>init_file</c> values are written, only if the configuration has no error: a refused configuration
        /// changes no file.
        /// </summary>
        private void CheckTrackFiles()
        {
            var initialise = _trackFiles.Values.Where(ShouldInitialise).ToList();
            foreach (TrackFile trackFile in _trackFiles.Values)
            {
                if (!trackFile.Used)
                {
                    Notice(trackFile.Statement, $"track_file {trackFile.Name} is tracked by no FILE_CHECK (track_file in vrrp_instance is not done by this director)");
                    continue;
                }

                string? directory = Path.GetDirectoryName(Path.GetFullPath(trackFile.Path!));
                if (directory is null || !Directory.Exists(directory))
                {
                    Error(trackFile.FileStatement!, $"Track file directory for {trackFile.Name} does not exist ({directory})");
                }
            }

            if (Errors.Count == 0)
            {
                foreach (TrackFile trackFile in initialise)
                {
                    InitFile(trackFile);
                }
            }
        }

        /// <summary>A signed integer value from <paramref name="min"/> to <paramref name="max"/>.</summary>
        private bool Int(KeepalivedStatement st, int index, int min, int max, string what, out int value)
        {
            if (int.TryParse(st[index], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value) && value >= min && value <= max)
            {
                return true;
            }

            Error(st, $"{what} '{st[index]}' is not a number from {min} to {max}");
            return false;
        }
    }
}
