# Builds the webhookd binary (pure Go, no cgo) into a small image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/webhookd ./cmd/webhookd

FROM gcr.io/distroless/static-debian12
COPY --from=build /out/webhookd /usr/local/bin/webhookd
EXPOSE 8080
ENTRYPOINT []
CMD ["webhookd", "serve"]
