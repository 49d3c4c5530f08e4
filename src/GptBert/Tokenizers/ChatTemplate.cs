namespace GptBert.Tokenizers;

public sealed record ChatTurn(string Role, string Content);

public sealed class ChatTemplate
{
    public static ChatTemplate ForModel(string directory) => new();
}
