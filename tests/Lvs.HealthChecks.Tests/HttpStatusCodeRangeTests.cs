namespace Lvs.HealthChecks.Tests;

public sealed class HttpStatusCodeRangeTests
{
    [Theory]
    [InlineData("200", 200, 200)]
    [InlineData("200-299", 200, 299)]
    [InlineData("301-302", 301, 302)]
    public void Parse_KeepalivedForms_RoundTrip(string text, int first, int last)
    {
        HttpStatusCodeRange range = HttpStatusCodeRange.Parse(text);

        Assert.Equal(new HttpStatusCodeRange(first, last), range);
        Assert.Equal(text, range.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("299-200")]
    [InlineData("99")]
    [InlineData("200-")]
    [InlineData("-200")]
    public void Parse_Invalid_Throws(string text) => Assert.Throws<FormatException>(() => HttpStatusCodeRange.Parse(text));

    [Fact]
    public void Contains_Bounds_AreInclusive()
    {
        Assert.True(HttpStatusCodeRange.Success.Contains(200));
        Assert.True(HttpStatusCodeRange.Success.Contains(299));
        Assert.False(HttpStatusCodeRange.Success.Contains(300));
        Assert.False(HttpStatusCodeRange.Success.Contains(199));
    }
}
