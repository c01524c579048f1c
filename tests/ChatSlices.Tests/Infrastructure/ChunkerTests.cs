using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Documents;

namespace ChatSlices.Tests.Infrastructure;

public class ChunkerTests
{
    private static readonly TokenCounter WordPieces = TokenCounter.Named(TokenCounter.MiniLmWordPiece);

    [Fact]
    public void Chunks_FitTheSentenceModelsWindow_InItsOwnTokens_WithOverlapAndRunOnSentences()
    {
        var rng = new Random(7);
        string[] words = ["authentication", "reconfiguration", "the", "quarterly", "microservices", "of", "intercontinental", "a", "pgvector", "throughput"];
        string Sentence(int length) => string.Join(' ', Enumerable.Range(0, length).Select(_ => words[rng.Next(words.Length)])) + ".";
        var pages = Enumerable.Range(0, 6).Select(p => string.Join(p % 2 == 0 ? " " : "\n\n",
            Enumerable.Range(0, 12).Select(i => Sentence(i == 5 ? 400 : i % 3 == 2 ? 100 + rng.Next(25) : 3 + rng.Next(10)).Replace("the", "The")))).ToList();

        var chunks = Chunker.Split(pages, MiniLmEmbeddingGenerator.Window - 2, 0.15, WordPieces);

        chunks.Should().HaveCountGreaterThan(10);
        chunks.Should().AllSatisfy(c => WordPieces.Count(c.Content).Should().BeLessThanOrEqualTo(MiniLmEmbeddingGenerator.Window - 2));
        chunks.Sum(c => WordPieces.Count(c.Content)).Should().BeGreaterThanOrEqualTo(pages.Sum(WordPieces.Count), "no text is lost");
    }
}
