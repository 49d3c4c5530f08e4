using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace GptBert.Server.Endpoints;

/// <summary>OpenAI's model object, plus what this server knows about it (vLLM also reports max_model_len).</summary>
public sealed record ModelObject(string Id, long Created, string OwnedBy, int MaxModelLen, string Architecture, IReadOnlyList<string> Tasks)
{
    public string Object => "model";
    public static ModelObject From(ServedModel m) => new(m.Name, m.Created.ToUnixTimeSeconds(), "gptbert", m.ContextLength, m.Architecture, m.Tasks);
}

public sealed record ModelList(IReadOnlyList<ModelObject> Data)
{
    public string Object => "list";
}

/// <summary>GET /v1/models and GET /v1/models/{model}: the configured models.</summary>
public static class ModelsEndpoints
{
    public static IEndpointRouteBuilder MapModels(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/models", (ServerState state) => TypedResults.Ok(new ModelList(state.Models.All.Select(ModelObject.From).ToList())));
        app.MapGet("/v1/models/{model}", (string model, ServerState state, HttpContext context) =>
        {
            var m = state.Models.Get(model);
            context.Features.Get<RequestInfo>()!.Model = m.Name;
            return TypedResults.Ok(ModelObject.From(m));
        });
        return app;
    }
}
