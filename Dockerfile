# The image deploy/ runs. Not built by CI here (no container engine on the
# build machines); build it with `make image` where Docker runs.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /tmc ./cmd/tmc

FROM gcr.io/distroless/static:nonroot
COPY --from=build /tmc /tmc
USER 65532:65532
ENTRYPOINT ["/tmc"]
