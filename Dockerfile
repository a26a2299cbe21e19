# The albrollouts controller image: a static binary on distroless, running as the
# non-root user 65532 (what config/manager/manager.yaml expects). The binary is
# cmd/albrollouts-controller: the controller alone, linking none of internal/sim
# (the emulator, local environment and demo that the albrollouts CLI carries).
# It takes the manifests' arguments as `albrollouts controller` does, the leading
# "controller" included.
#
#   docker build -t ghcr.io/albrollouts/albrollouts:dev --build-arg VERSION=$(git describe --tags --always) .
#
# Multi-platform: docker buildx build --platform linux/amd64,linux/arm64 ...
#
# Without a Docker engine, `make image` builds the equivalent image from scratch
# (hack/image: the same binary, user 65532, a CA bundle) as an OCI archive for
# linux/amd64 and linux/arm64; that is the build the tests check (docs/install.md,
# The image).

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY config/ config/
COPY internal/ internal/
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
      -ldflags "-s -w -X github.com/albrollouts/albrollouts/internal/version.Version=${VERSION} -X github.com/albrollouts/albrollouts/internal/version.Commit=${COMMIT}" \
      -o /out/albrollouts-controller ./cmd/albrollouts-controller

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/albrollouts-controller /albrollouts-controller
USER 65532:65532
ENTRYPOINT ["/albrollouts-controller"]
