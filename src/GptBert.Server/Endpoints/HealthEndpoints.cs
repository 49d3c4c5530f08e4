using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace GptBert.Server.Endpoints;

public sealed record HealthResponse(string Status, IReadOnlyList<string>? Models = null);

/// <summary>/health (the process answers) and /ready (every model is loaded and the server is not stopping); no API key needed.</summary>
public static class HealthEndpoints
{
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health", () => TypedResults.Ok(new HealthResponse("ok")));
        app.MapGet("/ready", Results<Ok<HealthResponse>, JsonHttpResult<ErrorBody>> (ServerState state) =>
            state.Ready
                ? TypedResults.Ok(new HealthResponse("ready", state.Models.All.Select(m => m.Name).ToList()))
                : TypedResults.Json(ApiException.NotReady().Body, statusCode: StatusCodes.Status503ServiceUnavailable));
        return app;
    }
}
