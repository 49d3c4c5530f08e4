# gptbert serve in a container: MiniLM built in, non-root, with a health check.
#   docker build -t gptbert .
#   docker run --rm -p 8080:8080 gptbert                                   # minilm
#   docker run --rm -p 8080:8080 -v $PWD/gpt2:/models/gpt2:ro gptbert --model minilm --model gpt=/models/gpt2
# Not built or run on the project's machines (they have no Docker engine); see README, "Serve".

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# The build patches TorchSharp's native wrapper where the system libstdc++ is older than GCC 13's (Debian 12);
# it needs patchelf and g++ there, and does nothing where the library is new enough.
RUN apt-get update && apt-get install -y --no-install-recommends patchelf g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN dotnet publish src/GptBert.Cli -c Release -o /app \
 && rm -rf /app/runtimes/win-* /app/runtimes/osx-*
# Convert the shipped MiniLM once here, so the container starts without writing it.
RUN GPTBERT_CACHE=/cache /app/gptbert info minilm > /dev/null

FROM mcr.microsoft.com/dotnet/aspnet:10.0
RUN apt-get update && apt-get install -y --no-install-recommends curl libgomp1 && rm -rf /var/lib/apt/lists/*
COPY --from=build /app /app
COPY --from=build --chown=app:app /cache /home/app/.cache/gptbert
ENV GPTBERT_CACHE=/home/app/.cache/gptbert \
    ASPNETCORE_HTTP_PORTS= \
    DOTNET_gcServer=0
# The image's non-root user (uid 1654).
USER app
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD curl -fsS http://127.0.0.1:8080/health || exit 1
# SIGTERM (docker stop) lets requests in flight finish, then exits 0; give docker stop a longer --time than --shutdown-timeout.
ENTRYPOINT ["/app/gptbert", "serve", "--host", "0.0.0.0", "--port", "8080"]
CMD ["--model", "minilm"]
