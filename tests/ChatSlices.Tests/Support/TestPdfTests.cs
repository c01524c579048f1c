using System.Diagnostics;

namespace ChatSlices.Tests.Support;

/// <summary>Checks the <see cref="TestPdf"/> fixtures against the real poppler tools.</summary>
public class TestPdfTests
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public void Create_gives_pages_lines_title_and_author()
    {
        var pdf = TestPdf.Create(
            [
                ["Page one, first line", "Page one, second line"],
                ["Page two (with parens) and a back\\slash", "Page two, last line"],
                ["Page three only line"],
            ],
            title: "Fixture (title)",
            author: "Test Author");

        var info = RunTool("pdfinfo", pdf);
        info.ExitCode.Should().Be(0, info.Stderr);
        info.Stdout.Should().MatchRegex(@"(?m)^Pages:\s+3$");
        info.Stdout.Should().MatchRegex(@"(?m)^Title:\s+Fixture \(title\)$");
        info.Stdout.Should().MatchRegex(@"(?m)^Author:\s+Test Author$");

        var text = RunTool("pdftotext", pdf, "-");
        text.ExitCode.Should().Be(0, text.Stderr);
        var pages = text.Stdout.Split('\f');
        pages.Should().HaveCount(4, "each of the 3 pages ends with a form feed");
        pages[3].Should().BeEmpty();
        Lines(pages[0]).Should().Equal("Page one, first line", "Page one, second line");
        Lines(pages[1]).Should().Equal("Page two (with parens) and a back\\slash", "Page two, last line");
        Lines(pages[2]).Should().Equal("Page three only line");
    }

    [Fact]
    public void Encrypted_fails_without_password()
    {
        var pdf = TestPdf.Encrypted(TestPdf.Create([["Secret line"]]));

        pdf.AsSpan(0, 5).SequenceEqual("%PDF-"u8).Should().BeTrue();
        var info = RunTool("pdfinfo", pdf);
        info.ExitCode.Should().NotBe(0);
        info.Stderr.Should().Contain("Incorrect password");

        var withPassword = RunTool("pdfinfo", pdf, "-upw", TestPdf.UserPassword);
        withPassword.ExitCode.Should().Be(0, withPassword.Stderr);
        withPassword.Stdout.Should().MatchRegex(@"(?m)^Encrypted:\s+yes");
    }

    [Fact]
    public void Corrupt_fails()
    {
        var pdf = TestPdf.Corrupt();

        pdf.AsSpan(0, 8).SequenceEqual("%PDF-1.4"u8).Should().BeTrue();
        var info = RunTool("pdfinfo", pdf);
        info.ExitCode.Should().NotBe(0, info.Stdout);
        info.Stderr.Should().Contain("Syntax Error");

        var text = RunTool("pdftotext", pdf, "-");
        text.ExitCode.Should().NotBe(0, text.Stdout);
    }

    [Fact]
    public void Large_is_big_and_valid()
    {
        const int minBytes = 11 * 1024 * 1024;
        var pdf = TestPdf.Large(minBytes);

        pdf.Length.Should().BeGreaterThanOrEqualTo(minBytes);
        var info = RunTool("pdfinfo", pdf);
        info.ExitCode.Should().Be(0, info.Stderr);
        info.Stderr.Should().BeEmpty();
        info.Stdout.Should().MatchRegex(@"(?m)^Pages:\s+1$");

        var text = RunTool("pdftotext", pdf, "-");
        text.ExitCode.Should().Be(0, text.Stderr);
        text.Stdout.Should().Contain("Large test document");
    }

    [Fact]
    public void NotAPdf_has_no_pdf_header()
    {
        var bytes = TestPdf.NotAPdf();

        bytes.Should().NotBeEmpty();
        bytes.AsSpan().StartsWith("%PDF-"u8).Should().BeFalse();
    }

    private static string[] Lines(string page)
        => page.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Runs a poppler tool on <paramref name="pdf"/> (written to a temp file): tool [args] file [args after].</summary>
    private static (int ExitCode, string Stdout, string Stderr) RunTool(string tool, byte[] pdf, params string[] args)
    {
        var file = Path.Combine(Path.GetTempPath(), $"chatslices-testpdf-{Guid.NewGuid():N}.pdf");
        File.WriteAllBytes(file, pdf);
        try
        {
            var psi = new ProcessStartInfo(tool)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            // pdftotext: file then output ("-"); pdfinfo: options then file.
            if (tool == "pdftotext")
            {
                psi.ArgumentList.Add(file);
                foreach (var a in args) psi.ArgumentList.Add(a);
            }
            else
            {
                foreach (var a in args) psi.ArgumentList.Add(a);
                psi.ArgumentList.Add(file);
            }

            using var process = Process.Start(psi)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(ToolTimeout))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{tool} did not finish within {ToolTimeout.TotalSeconds:0} s");
            }
            process.WaitForExit();
            return (process.ExitCode, stdout.Result, stderr.Result);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
