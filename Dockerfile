# Builds the webhookd binary (pure Go, no cgo) and runs it as a non-root user.
#
#   docker build --build-arg COMMIT=$(git rev-parse --short HEAD) \
#     --build-arg DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) -t webhookd .
#
# (`make docker` does exactly that.) Base images are pinned by version tag.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Stamped into `webhookd version` and the metrics' webhookd_build_info; VERSION, when set,
# overrides the version written in buildinfo.BaseVersion.
ARG VERSION=
ARG COMMIT=unknown
ARG DATE=unknown
RUN BI=github.com/webhookd/webhookd/buildinfo && \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X $BI.commit=${COMMIT} -X $BI.date=${DATE} ${VERSION:+-X $BI.version=${VERSION}}" \
      -o /out/webhookd ./cmd/webhookd && \
    mkdir -p /out/data

FROM debian:12.12-slim
# The trusted roots for HTTPS webhook targets (the slim image has none).
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin webhookd
COPY --from=build /out/webhookd /usr/local/bin/webhookd
# /data holds the SQLite database and the development key when no DATABASE_URL / JWKS is set;
# a named volume mounted there starts with this owner.
COPY --from=build --chown=10001:10001 /out/data /data
ENV WEBHOOKD_ADDR=:8080 WEBHOOKD_DATA_DIR=/data
USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 8080
# `webhookd healthcheck` asks this container's /readyz (on WEBHOOKD_ADDR): exit 0 when ready.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["webhookd", "healthcheck"]
ENTRYPOINT ["webhookd"]
CMD ["serve"]
