using GptBert.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Tests.Checkpoints;

public class TensorBytesTests
{
    [Fact]
    public void ToArray_GivesRowMajorValues_OfAnyLayout()
    {
        // Values set one by one, so the expected order is known without the code under test.
        var t = zeros(3, 4);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++) t[i, j] = 10 * i + j;
        Assert.Equal([0f, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23], TensorBytes.ToArray<float>(t));
        Assert.Equal([0f, 10, 20, 1, 11, 21, 2, 12, 22, 3, 13, 23], TensorBytes.ToArray<float>(t.t()));       // transposed view
        Assert.Equal([1f, 11, 21], TensorBytes.ToArray<float>(t[.., 1]));                                    // strided column
        Assert.Equal([12f], TensorBytes.ToArray<float>(t[1, 2]));                                            // 0-dim
        Assert.Empty(TensorBytes.ToArray<float>(zeros(0, 4)));
        Assert.Equal([-3L, 1L << 40], TensorBytes.ToArray<long>(tensor(new[] { -3L, 1L << 40 })));
        Assert.Equal([(sbyte)-128, 127], TensorBytes.ToArray<sbyte>(tensor(new sbyte[] { -128, 127 })));
    }

    [Fact]
    public void ToArray_OfTheWrongDtype_Refuses()
    {
        var e = Assert.Throws<InvalidOperationException>(() => TensorBytes.ToArray<float>(zeros(2, dtype: ScalarType.Int32)));
        Assert.Contains("Int32", e.Message);
        Assert.Throws<InvalidOperationException>(() => TensorBytes.ToArray<long>(zeros(2)));
    }
}
