using Lvs.Core;
using Lvs.Director.Configuration;
using Lvs.HealthChecks;

namespace Lvs.Director.Tests.Configuration;

/// <summary>keepalived's top-level track_file and the FILE_CHECK of a real server in keepalived.conf: options, errors, init_file, and the table.</summary>
public sealed class KeepalivedFileCheckTests : IDisposable
{
    private static readonly InetEndpoint Server = InetEndpoint.Parse("10.1.0.11:80");
    private static readonly VirtualServiceKey Key = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("192.0.2.80:80"));

    private readonly string _directory = Directory.CreateTempSubdirectory("lvs-trackfile-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathOf(string name = "state") => Path.Combine(_directory, name);

    /// <summary>A virtual server (lines 1-9, the checker from line 7) followed by <paramref name="trackFiles"/>.</summary>
    private static string Config(string check, string trackFiles, string realServer = "") => $$"""
        virtual_server 192.0.2.80 80 {
            lvs_sched wrr
            lvs_method NAT
            protocol TCP
            delay_loop 7
            real_server 10.1.0.11 80 {
                weight 50{{realServer}}
        {{check}}
            }
        }
        {{trackFiles}}
        """;

    private static KeepalivedConfiguration Parse(string text, bool reload = false) =>
        KeepalivedConfigParser.Parse(text, options: new KeepalivedParserOptions { Reload = reload });

    private static string[] Errors(string text) =>
        [.. Assert.Throws<ConfigurationException>(() => KeepalivedConfigParser.Parse(text)).Errors.Select(e => e.ToString())];

    [Fact]
    public void Parse_FileCheckNamingATrackFileDefinedLater_TakesTheTrackFilesWeightAndReverse()
    {
        var configuration = Parse(Config(
            "        FILE_CHECK {\n            track_file maintenance\n        }",
            $"track_file maintenance {{\n    file {PathOf()}\n    weight -10 reverse\n}}"));

        var check = Assert.Single(configuration.VirtualServers[0].RealServers[0].Checks);
        Assert.Equal(KeepalivedCheckKind.File, check.Kind);
        Assert.Equal(new FileCheckOptions { Path = PathOf(), Weight = -10, Reverse = true }, check.FileCheck);
        Assert.Equal(8, check.Line);
        Assert.DoesNotContain(configuration.Notices, n => n.Message.Contains("track_file", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("", 1, false)]
    [InlineData("\n            weight 0", 1, false)]
    [InlineData("\n            weight 0 reverse", 1, false)]
    [InlineData("\n            weight 5", 5, false)]
    [InlineData("\n            weight -65535 reverse", -65535, true)]
    [InlineData("\n            weight 3 noreverse", 3, false)]
    public void Parse_FileCheckWeight_OverridesTheTrackFilesUnlessAbsentOrZero(string weight, int expected, bool reverse)
    {
        // check_file.c file_end_handler: no weight (or 0) takes the track_file's, here the default 1.
        var configuration = Parse(Config(
            $"        FILE_CHECK {{\n            track_file t{weight}\n        }}",
            $"track_file t {{\n    file {PathOf()}\n}}"));

        var check = Assert.Single(configuration.VirtualServers[0].RealServers[0].Checks);
        Assert.Equal((expected, reverse), (check.FileCheck!.Weight, check.FileCheck.Reverse));
    }

    [Fact]
    public void Create_FileCheck_AFileCheckerWithTheDelayLoopOnlyAndNoAlpha()
    {
        File.WriteAllText(PathOf(), "1");
        var configuration = Parse(Config(
            "        FILE_CHECK {\n            track_file t\n        }",
            $"track_file t {{\n    file {PathOf()}\n    weight 0\n}}",
            "\n        alpha\n        retry 4\n        warmup 9"));
        var check = Assert.Single(configuration.VirtualServers[0].RealServers[0].Checks);

        RealServerCheck created = check.Create(Server);

        var checker = Assert.IsType<FileChecker>(created.Checker);
        Assert.Equal(PathOf(), checker.FullPath);
        // check_file.c clears alpha; FILE_CHECK has no retry or warmup; the file says 1 with weight 0: a fault.
        Assert.Equal(new CheckTiming { DelayLoop = TimeSpan.FromSeconds(7), Retry = 0, Warmup = TimeSpan.Zero }, created.Timing);
        Assert.False(check.Alpha);
        Assert.False(created.StartsUp);
        Assert.StartsWith("FILE_CHECK {", check.Definition, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_TrackFileOfAnotherFile_ChangesTheDefinition()
    {
        // A reload keeps a running check only when its definition is the same.
        string Definition(string file) => Assert.Single(Parse(Config(
            "        FILE_CHECK {\n            track_file t\n        }",
            $"track_file t {{\n    file {PathOf(file)}\n}}")).VirtualServers[0].RealServers[0].Checks).Definition;

        Assert.NotEqual(Definition("a"), Definition("b"));
        Assert.Equal(Definition("a"), Definition("a"));
    }

    [Fact]
    public void Parse_BadTrackFilesAndFileChecks_FileLineErrors()
    {
        string text = $$"""
            virtual_server 192.0.2.80 80 {
                protocol TCP
                real_server 10.1.0.11 80 {
                    FILE_CHECK {
                        track_file nothere
                    }
                    FILE_CHECK {
                        weight 2
                    }
                    FILE_CHECK {
                        track_file good
                        weight 70000
                        weight 2 backwards
                        delay_loop 3
                        retry 2
                    }
                    FILE_CHECK
                }
            }
            track_file good {
                file {{PathOf()}}
            }
            track_file nofile {
                weight 2
            }
            track_file bad {
                file {{PathOf("a")}}
                file {{PathOf("b")}}
                weight 255
                weight 2 inverse
                init_file 1 sometimes
                init_file abc
                frobnicate
            }
            track_file good {
                file {{PathOf("c")}}
            }
            track_file nowhere {
                file /nonexistent-lvs-directory/state
            }
            track_file
            """;

        Assert.Equal(
            [
                "keepalived.conf:4: track_file nothere not found",
                "keepalived.conf:7: FILE_CHECK has no track_file specified",
                "keepalived.conf:12: weight for track file '70000' is not a number from -65535 to 65535",
                "keepalived.conf:13: unknown track file weight option backwards",
                "keepalived.conf:14: unknown keyword 'delay_loop' in FILE_CHECK",
                "keepalived.conf:15: unknown keyword 'retry' in FILE_CHECK",
                "keepalived.conf:17: 'FILE_CHECK' needs a { } block",
                "keepalived.conf:23: No file set for track_file nofile",
                "keepalived.conf:28: File already set for track file bad",
                "keepalived.conf:29: Weight for track_file bad '255' is not a number from -254 to 254",
                "keepalived.conf:30: track_file bad unknown weight option inverse",
                "keepalived.conf:31: Unknown track file init option sometimes",
                "keepalived.conf:32: Unknown track file init option abc",
                "keepalived.conf:33: unknown keyword 'frobnicate' in track_file",
                "keepalived.conf:35: track_file good is defined twice (first at line 20)",
                "keepalived.conf:41: 'track_file' takes 1 value, not 0",
            ],
            Errors(text));
        // "nowhere" tracks a file in a missing directory, but nothing tracks it: keepalived drops it before looking.
        Assert.False(File.Exists(PathOf("a")), "a track_file with errors is not initialised");
    }

    [Fact]
    public void Parse_FileCheckWithTwoTrackFilesOrWeights_FileLineErrors()
    {
        string[] errors = Errors(Config(
            "        FILE_CHECK {\n            track_file t\n            track_file u\n            weight 2\n            weight 3 reverse\n        }",
            $"track_file t {{\n    file {PathOf()}\n}}\ntrack_file u {{\n    file {PathOf("u")}\n}}"));

        Assert.Equal(
            [
                "keepalived.conf:10: track_file already set for FILE_CHECK (t)",
                "keepalived.conf:12: weight already set for FILE_CHECK",
            ],
            errors);
    }

    [Fact]
    public void Parse_TrackFileInAMissingDirectory_IsAnErrorAtItsFileLine()
    {
        string[] errors = Errors(Config(
            "        FILE_CHECK {\n            track_file t\n        }",
            "track_file t {\n    file /nonexistent-lvs-directory/state\n}"));

        Assert.Equal(["keepalived.conf:14: Track file directory for t does not exist (/nonexistent-lvs-directory)"], errors);
    }

    [Fact]
    public void Parse_TrackFileThatNothingTracks_IsANotice()
    {
        var configuration = Parse(Config(string.Empty, $"track_file spare {{\n    file {PathOf()}\n}}"));

        Assert.Contains(
            "keepalived.conf:11: track_file spare is tracked by no FILE_CHECK (track_file in vrrp_instance is not done by this director)",
            configuration.Notices.Select(n => n.ToString()));
    }

    [Theory]
    [InlineData("init_file", "0\n")]
    [InlineData("init_file 5", "5\n")]
    [InlineData("init_file -3 overwrite", "-3\n")]
    [InlineData("init_file overwrite 7", "7\n")]
    public void Parse_InitFile_CreatesAMissingFileWithTheValue(string init, string expected)
    {
        _ = Parse(Config(string.Empty, $"track_file t {{\n    file {PathOf()}\n    {init}\n}}"));

        Assert.Equal(expected, File.ReadAllText(PathOf()));
    }

    [Theory]
    [InlineData("init_file 5", false, "9")]
    [InlineData("init_file 5 overwrite", false, "5\n")]
    [InlineData("init_file 5 overwrite", true, "9")]
    public void Parse_InitFile_AnExistingFileIsOverwrittenOnlyWithOverwriteAndNotOnAReload(string init, bool reload, string expected)
    {
        File.WriteAllText(PathOf(), "9");

        _ = Parse(Config(string.Empty, $"track_file t {{\n    file {PathOf()}\n    {init}\n}}"), reload);

        Assert.Equal(expected, File.ReadAllText(PathOf()));
    }

    [Fact]
    public void Parse_InitFileInARefusedConfiguration_WritesNothing()
    {
        string[] errors = Errors(Config(string.Empty, $"track_file t {{\n    file {PathOf()}\n    init_file 4\n}}", "\n        wieght 3"));

        Assert.Equal(["keepalived.conf:8: unknown keyword 'wieght' in real_server"], errors);
        Assert.False(File.Exists(PathOf()));
    }

    [Fact]
    public void Parse_InitFileOverwriteOfADirectory_IsAnError()
    {
        Directory.CreateDirectory(PathOf("dir"));

        string[] errors = Errors(Config(string.Empty, $"track_file t {{\n    file {PathOf("dir")}\n    init_file 1 overwrite\n}}"));

        Assert.Equal(["keepalived.conf:12: Cannot initialise track file t - it is not a regular file"], errors);
    }

    /// <summary>
    /// A FIFO at the track file's path: with overwrite, keepalived's stat sees no regular file and refuses; without it
    /// the file exists and is left alone. Either way the load returns (writing to a FIFO with no reader would wait for
    /// one).
    /// </summary>
    [Theory]
    [InlineData("init_file 1 overwrite", true)]
    [InlineData("init_file 1", false)]
    public async Task Parse_InitFileOverAFifo_RefusedWithOverwrite_LeftAloneWithout(string init, bool refused)
    {
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", PathOf("fifo")))
        {
            await mkfifo.WaitForExitAsync(TestContext.Current.CancellationToken);
            Assert.Equal(0, mkfifo.ExitCode);
        }

        string text = Config(string.Empty, $"track_file t {{\n    file {PathOf("fifo")}\n    {init}\n}}");
        var parse = Task.Run(() => refused ? Errors(text) : [.. Parse(text).Notices.Select(n => n.ToString())], TestContext.Current.CancellationToken);
        string[] messages = await parse.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        if (refused)
        {
            Assert.Equal(["keepalived.conf:12: Cannot initialise track file t - it is not a regular file"], messages);
        }
        else
        {
            Assert.DoesNotContain(messages, message => message.Contains("initialise", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// A symbolic link at the track file's path, to a regular file or to nothing: current keepalived's fopen_safe writes a
    /// new file and renames it over the path, so the link itself is replaced by a regular file holding the value and the
    /// director (root) never writes through it (CVE-2018-19044): the link's target is unchanged, or still missing.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Parse_InitFileOverASymbolicLink_ReplacesTheLinkNotItsTarget(bool targetExists)
    {
        string target = PathOf("target");
        if (targetExists)
        {
            File.WriteAllText(target, "9");
        }

        File.CreateSymbolicLink(PathOf("link"), target);

        var configuration = Parse(Config(string.Empty, $"track_file t {{\n    file {PathOf("link")}\n    init_file 1 overwrite\n}}"));

        Assert.DoesNotContain(configuration.Notices, notice => notice.ToString().Contains("initialise", StringComparison.Ordinal));
        Assert.Null(new FileInfo(PathOf("link")).LinkTarget);
        Assert.Equal("1\n", File.ReadAllText(PathOf("link")));
        Assert.Equal(targetExists ? "9" : null, File.Exists(target) ? File.ReadAllText(target) : null);
    }

    /// <summary>
    /// The file init_file writes is a new one (keepalived's mkostemp, then rename): mode 0600 (keepalived's default umask
    /// 0177), a reader that had the old file open still reads the old value through it, and no temporary file is left
    /// beside it.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Parse_InitFileOverwrite_WritesANewFileOfMode0600AndLeavesNoTemporary()
    {
        File.WriteAllText(PathOf(), "9\n");
        File.SetUnixFileMode(PathOf(), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        using var before = new FileStream(PathOf(), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

        _ = Parse(Config(string.Empty, $"track_file t {{\n    file {PathOf()}\n    init_file 5 overwrite\n}}"));

        Assert.Equal("5\n", File.ReadAllText(PathOf()));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(PathOf()));
        using (var reader = new StreamReader(before))
        {
            Assert.Equal("9\n", reader.ReadToEnd());
        }

        Assert.Equal([PathOf()], Directory.GetFileSystemEntries(_directory));
    }

    /// <summary>A write that cannot be renamed into place (a directory at the path) fails with the reason and removes its temporary file.</summary>
    [Fact]
    public void TryWrite_RenameRefused_FailsAndLeavesNoTemporary()
    {
        Directory.CreateDirectory(PathOf("dir"));
        File.WriteAllText(Path.Combine(PathOf("dir"), "inside"), "x");

        Assert.False(TrackFileInitialiser.TryWrite(PathOf("dir"), "1\n", out string? error));

        Assert.False(string.IsNullOrEmpty(error));
        Assert.Equal([PathOf("dir")], Directory.GetFileSystemEntries(_directory));
    }

    [Fact]
    public void Parse_InitFileOutsideTheSensibleRange_IsWrittenWithANotice()
    {
        var configuration = Parse(Config(string.Empty, $"track_file t {{\n    file {PathOf()}\n    init_file 1000\n}}"));

        Assert.Equal("1000\n", File.ReadAllText(PathOf()));
        Assert.Contains("keepalived.conf:13: Track file t init value 1000 is outside sensible range [-254, 254]", configuration.Notices.Select(n => n.ToString()));
    }

    [Fact]
    public async Task Watch_FileSaysFaultAtStart_ServerStaysOutOfTheTableUntilTheFileChanges()
    {
        File.WriteAllText(PathOf(), "1");
        var configuration = Parse(Config(
            "        FILE_CHECK {\n            track_file t\n        }",
            $"track_file t {{\n    file {PathOf()}\n    weight 0\n}}"));
        var table = new ServiceTable();
        configuration.ApplyTo(table);
        await using var health = new DirectorHealth(table);
        using var registration = configuration.Watch(health);
        health.Start();

        Assert.False(table.Snapshot.Find(Key)!.FindRealServer(Server)!.InPool);
        Assert.IsType<FileChecker>(Assert.Single(registration.CheckersOf(Key, Server)));

        File.WriteAllText(PathOf(), "0");
        await WaitFor(() => table.Snapshot.Find(Key)!.FindRealServer(Server)!.InPool);
        Assert.Equal(50, table.Snapshot.Find(Key)!.FindRealServer(Server)!.Server.Weight);
    }

    [Fact]
    public async Task Watch_FileWithAWeight_MovesTheTableWeightAndDrainsWithoutRemoving()
    {
        // A file with -1 and weight 100 on a server of weight 50: in the pool with weight 0 (real_weight), not removed.
        File.WriteAllText(PathOf(), "-1");
        var configuration = Parse(Config(
            "        FILE_CHECK {\n            track_file t\n            weight 100\n        }",
            $"track_file t {{\n    file {PathOf()}\n}}"));
        var table = new ServiceTable();
        configuration.ApplyTo(table);
        await using var health = new DirectorHealth(table);
        using var registration = configuration.Watch(health);
        health.Start();
        RealServer Live() => table.Snapshot.Find(Key)!.FindRealServer(Server)!.Server;

        await WaitFor(() => Live().Weight == 0);
        Assert.True(table.Snapshot.Find(Key)!.FindRealServer(Server)!.InPool);

        File.WriteAllText(PathOf(), "2");
        await WaitFor(() => Live().Weight == 250);

        File.Delete(PathOf());
        await WaitFor(() => Live().Weight == 50);
        Assert.True(table.Snapshot.Find(Key)!.FindRealServer(Server)!.InPool);
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for the file change to reach the table");
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }
}
