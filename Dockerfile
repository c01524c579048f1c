# syntax=docker/dockerfile:1
# Build: the SDK image restores and publishes; the Scalar bundle comes from npm, pinned as in run.sh.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY ChatSlices.csproj ./
RUN dotnet restore ChatSlices.csproj
COPY . .
RUN dotnet publish ChatSlices.csproj -c Release -o /app --no-restore

FROM node:20-bookworm-slim AS scalar
WORKDIR /scalar
RUN npm pack @scalar/api-reference@1.72.1 \
 && tar -xzf scalar-api-reference-1.72.1.tgz package/dist/browser/standalone.js \
 && mv package/dist/browser/standalone.js /scalar/standalone.js

# Runtime: ASP.NET, poppler for PDF text, curl for the HEALTHCHECK below and nothing else; non-root.
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends poppler-utils curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
COPY --from=scalar /scalar/standalone.js ./wwwroot/scalar/standalone.js
ENV ASPNETCORE_URLS=http://+:7001 \
    ASPNETCORE_ENVIRONMENT=Production \
    AI__Provider=local
EXPOSE 7001
USER app
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://localhost:7001/health/ready || exit 1
ENTRYPOINT ["dotnet", "ChatSlices.dll"]
