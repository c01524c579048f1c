using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace ChatSlices.Bench.Common;

/// <summary>A benchmark's own failure: reported as one line, without a stack trace.</summary>
public sealed class BenchFailed(string message) : Exception(message);

/// <summary>What every benchmark's <c>Main</c> does around its run.</summary>
public static class BenchCli
{
    /// <summary>
    /// Parses <paramref name="args"/> (a bad argument: the message and <paramref name="usage"/>, exit 2), stops on SIGTERM or
    /// SIGINT (exit 130), runs, and stops every child process still running at the end. A failure is exit 1.
    /// </summary>
    public static async Task<int> RunAsync<TOptions>(string tag, string usage, string[] args, Func<string[], TOptions> parse,
        Func<TOptions, CancellationToken, Task<int>> run)
    {
        TOptions options;
        try
        {
            options = parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine($"[{tag}] {e.Message}");
            Console.Error.WriteLine(usage);
            return 2;
        }

        using var stop = new CancellationTokenSource();
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        try
        {
            return await run(options, stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Console.Error.WriteLine($"[{tag}] stopped");
            return 130;
        }
        catch (BenchFailed e)
        {
            Console.Error.WriteLine($"[{tag}] FAILED: {e.Message}");
            return 1;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"[{tag}] FAILED: {e}");
            return 1;
        }
        finally
        {
            await ChildProcess.StopAllAsync();
        }
    }
}

/// <summary>Reads <c>--name value</c> arguments one after the other.</summary>
public sealed class ArgReader(string[] args)
{
    private int _i = -1;

    /// <summary>The next argument's name, or null at the end.</summary>
    public string? Next() => ++_i < args.Length ? args[_i] : null;

    /// <summary>The value after the current name.</summary>
    public string Value() => _i + 1 < args.Length ? args[++_i] : throw new ArgumentException($"{args[_i]} needs a value");

    public int Int() => int.Parse(Value(), CultureInfo.InvariantCulture);

    /// <summary>A comma-separated list of whole numbers.</summary>
    public int[] Ints() => [.. Value().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(v => int.Parse(v, CultureInfo.InvariantCulture))];

    public ArgumentException Unknown() => new($"unknown argument {args[_i]}");
}

/// <summary>Progress lines on STDERR: "[tag   12.3s] text", the seconds since the benchmark started.</summary>
public sealed class BenchLog(string tag)
{
    private readonly long _startedAt = Stopwatch.GetTimestamp();

    public double Elapsed => Stopwatch.GetElapsedTime(_startedAt).TotalSeconds;

    public void Write(string text) => Console.Error.WriteLine($"[{tag} {Elapsed,6:0.0}s] {text}");
}
