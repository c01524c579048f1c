# syntax=docker/dockerfile:1
# Build: the SDK image restores and publishes (Scalar's page and bundle are in the Scalar.AspNetCore assembly).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY ChatSlices.csproj ./
RUN dotnet restore ChatSlices.csproj
COPY . .
RUN dotnet publish ChatSlices.csproj -c Release -o /app --no-restore

# Runtime: ASP.NET, poppler for PDF text, curl for the HEALTHCHECK below and nothing else; non-root.
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends poppler-utils curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
ENV ASPNETCORE_URLS=http://+:7001 \
    ASPNETCORE_ENVIRONMENT=Production \
    AI__Provider=local
EXPOSE 7001
USER app
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://localhost:7001/health/ready || exit 1
ENTRYPOINT ["dotnet", "ChatSlices.dll"]
